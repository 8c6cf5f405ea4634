/*
 * admin.h — the HTTP side of zkfs-server: ZooKeeper 3.8's AdminServer
 * (admin.enableServer, admin.serverAddress, admin.serverPort,
 * admin.commandURL: GET /commands and /commands/<name> answering JSON)
 * and the Prometheus endpoint of ZooKeeper's PrometheusMetricsProvider
 * (metricsProvider.className, .httpHost, .httpPort: GET /metrics).
 *
 * Both run on libmicrohttpd's own thread; every number they show is read
 * on the server's loop thread (see admin.c for how), so neither blocks
 * the loop nor races with it.  A port that cannot be bound is a warning,
 * never a failed start, as in ZooKeeper.  Plain HTTP only: the TLS
 * variant of the admin server (admin.portUnification, admin.forceHttps)
 * is not implemented yet.
 *
 * Life cycle (main.c):
 *     server_init -> admin_start -> server_run -> admin_stop -> server_free
 */
#ifndef ZKFS_EDGE_ADMIN_H
#define ZKFS_EDGE_ADMIN_H

struct server;
struct admin;

/* Starts whatever srv->cfg enables (nothing: *out = NULL).  Call after
 * server_init, on the loop thread, before server_run.  Failures to listen
 * are logged as warnings and the rest still starts.  Returns 0, or
 * -ENOMEM (nothing started, *out = NULL). */
int admin_start(struct server *srv, struct admin **out);

/* Stops the HTTP threads (requests waiting for the loop get 503), closes
 * the loop handles and frees a.  Call after server_run returned, before
 * server_free.  a may be NULL. */
void admin_stop(struct admin *a);

#endif
