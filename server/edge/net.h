/*
 * net.h — the network edge of zkfs-server: the listening socket, client
 * connections, frame splitting, four-letter-word detection and buffered
 * output, all on the server's single libuv loop.
 *
 * A connection reads into its own buffer and splits it into frames in
 * place (many frames per read, no copy); each whole frame is handed to the
 * request pipeline (server.c) through server_conn_frame().  Output is
 * appended to `out` and written once per loop iteration (uv_check), so
 * every reply produced by one batch of reads or one group commit leaves in
 * a single write.
 *
 * Connection states (transitions in net.c unless noted):
 *
 *   NEW ──ConnectRequest──► HANDSHAKE ──session ready (server.c)──► OPEN
 *    │  └─4lw──► CLOSING        │                                    │
 *    └──────────────────────────┴──── error / closeSession / EOF ───┴──► CLOSING ──► CLOSED
 *
 * In HANDSHAKE frames that arrive behind the ConnectRequest stay in the
 * read buffer (reading is paused) until the session exists.  CLOSING
 * flushes what is queued and then closes; CLOSED waits for libuv's close
 * callback and for the last reference (requests still in the group
 * commit hold one) before the struct is freed.
 */
#ifndef ZKFS_SERVER_NET_H
#define ZKFS_SERVER_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core.h"
#include "jute.h"

struct server;
struct req;
struct tls_conn;

enum conn_state { CONN_NEW, CONN_HANDSHAKE, CONN_OPEN, CONN_CLOSING, CONN_CLOSED };

struct conn {
	uv_tcp_t tcp;
	struct server *srv;
	struct conn *prev, *next; /* server's list of connections */
	struct conn *flush_next;  /* server's list of connections with output to write */
	bool in_flush_list;
	enum conn_state state;
	unsigned refs; /* 1 for the handle + 1 per request in the commit pipeline */
	uint64_t id;   /* connection number, for logs */
	char ip[48];   /* peer address without port, for maxClientCnxns and ip ACLs */
	char peer[64]; /* "ip:port" for logs and 4lw */

	/* input: rbuf[0..rlen) holds unparsed bytes */
	uint8_t *rbuf;
	size_t rlen, rcap;
	bool reading;   /* uv_read_start is in effect */
	bool in_shared; /* the read in progress uses the server's shared buffer */

	/* TLS (tls.c): NULL for plain text; sniff = a unified port's connection
	 * whose first byte decides */
	struct tls_conn *tls;
	bool sniff;
	bool secure_port; /* accepted on secureClientPort (admin's secure_connections) */

	/* output: out is appended to (plaintext); wbuf is the write in flight (if any) */
	struct jute_out out;
	uint8_t *wbuf;
	size_t wlen;
	uv_write_t wreq;
	bool writing;

	/* session (server.c) */
	int64_t session_id;
	int32_t timeout;
	struct core_auth auth;       /* identities (ip + added by auth packets and SASL) */
	struct zsasl *sasl;          /* the SASL exchange (sasl.c), NULL before one */
	struct core_watcher watcher; /* the core's watches of this connection */
	bool auth_inited;
	bool has_read_only; /* reply to the handshake in the client's shape */
	bool read_only;
	int64_t last_zxid;  /* zxid of the last reply */

	/* the connection's requests in order (server.c) */
	struct req *qhead, *qtail;
	unsigned nqueued;

	/* statistics for stat/cons */
	uint64_t recv, sent;
	uint64_t established_ms;
	uint64_t closing_ms; /* when CLOSING began (a stuck flush is cut off) */
	uint64_t last_ms;
	int32_t last_op, last_cxid;
	uint64_t lat_min, lat_max, lat_sum, lat_n; /* ms */
};

/* Starts listening on host:port with the given backlog (<= 0: 1024).
 * Returns 0 or a negative errno (for example -EADDRINUSE). */
int net_listen(struct server *srv, const char *host, int port, int backlog);

/* Starts listening for TLS connections (secureClientPort) on host:port;
 * srv->tls must be set up.  Returns 0 or a negative errno. */
int net_listen_secure(struct server *srv, const char *host, int port, int backlog);

/* Stops accepting new connections, plain and TLS (shutdown). */
void net_stop_listening(struct server *srv);

/* Appends bytes to the connection's output and schedules a write at the
 * end of this loop iteration.  Closing connections drop the bytes. */
void net_send(struct conn *c, const void *p, size_t n);

/* Output bytes queued and not yet written to the socket. */
size_t net_pending_out(const struct conn *c);

/* Marks the connection for output at the end of this loop iteration (call
 * after appending to c->out directly). */
void net_schedule_flush(struct conn *c);

/* Closes the connection after everything queued so far is written; no
 * more input is parsed.  Idempotent. */
void net_close_after_flush(struct conn *c, const char *why);

/* Closes at once, dropping unsent output.  Idempotent. */
void net_close_now(struct conn *c, const char *why);

/* Takes/drops a reference: the struct stays valid (state may become
 * CLOSED) until the last reference goes. */
void net_conn_ref(struct conn *c);
void net_conn_unref(struct conn *c);

/* Recomputes whether the connection should read (throttle, output
 * back-pressure, handshake) and parses frames buffered while it did not.
 * Called by the server after anything that may change the answer. */
void net_conn_update(struct conn *c);

/* Makes the current loop iteration reach the uv_check hook without
 * blocking in the poll (for work scheduled from timers or idle hooks). */
void net_kick(struct server *srv);

/* Writes every scheduled connection's output now (the uv_check hook calls
 * it; shutdown calls it too). */
void net_flush_all(struct server *srv);

#endif
