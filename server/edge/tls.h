/*
 * tls.h — TLS on zkfs-server's client port (secureClientPort, and
 * client.portUnification on clientPort), kept at the edge: net.c hands a
 * TLS connection's ciphertext here and gets plaintext back in the
 * connection's read buffer, so framing, 4lw and the request pipeline see
 * plain bytes; its output is sealed here just before it is written.
 *
 * A TLS connection goes through the zktls engine (proto/zktls.h):
 *
 *   accept on secureClientPort ─┐
 *   first byte 0x16 on a unified clientPort ─┴─► tls_conn_start ─► handshake
 *      ─► OPEN (x509 identity taken from the verified client certificate)
 *      ─► net.c's states as for plain text;  a TLS failure: logged (at most
 *         one line per 10 s for all connections), alert flushed, closed.
 *
 * The context is built once at start (a bad key store stops the server
 * with the file in the message) and, with client.certReload, rebuilt when a
 * new connection finds the key or trust store file changed on disk (a
 * broken new file is logged and the previous context kept).
 */
#ifndef ZKFS_SERVER_TLS_H
#define ZKFS_SERVER_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jute.h"
#include "zktls.h"

struct server;
struct conn;
struct config;

/* TLS state of one connection (net.c's conn->tls). */
struct tls_conn {
	struct zktls z;
	struct jute_out cout; /* sealed output not yet handed to the socket */
	char *dn;	      /* subject of the verified client certificate, or NULL */
	uint8_t *scratch;     /* ciphertext read while the shared buffer was busy */
};

/* Builds the server's TLS context when the configuration asks for TLS
 * (secureClientPort or client.portUnification).  0, or -EINVAL (logged). */
int tls_server_init(struct server *srv);
void tls_server_free(struct server *srv);

/* The admin server's HTTPS key and certificate chain as PEM (its HTTP
 * library is not OpenSSL): from the ssl.quorum.keyStore.* settings, as
 * ZooKeeper 3.8's AdminServer takes them.  0, or -EINVAL with the reason
 * in err.  Wipe *key_pem before freeing it. */
int tls_admin_pem(const struct config *cfg, char **key_pem, char **cert_pem, char *err,
		  size_t errlen);

/* Makes c a TLS connection (accepted on the secure port, or a ClientHello
 * seen on a unified port).  0 or -ENOMEM. */
int tls_conn_start(struct conn *c);
void tls_conn_free(struct conn *c);

/* Ciphertext p[0..n) read from c's socket: decrypts what it can, appending
 * the plaintext to c->rbuf (c->rlen grows), and schedules the flush of any
 * TLS output (handshake, alerts).  0, or -EPROTO/-ENOMEM after which the
 * caller closes c (the failure was logged; the alert is in c's output). */
int tls_conn_input(struct conn *c, const uint8_t *p, size_t n);

/* Encrypts c->out (emptied) into c->tls->cout, with close_notify when c is
 * closing.  0 or a negative errno. */
int tls_conn_seal(struct conn *c);

/* A buffer for one read of a TLS connection when the shared one is busy. */
uint8_t *tls_conn_scratch(struct conn *c, size_t *len);

/* Logs a rejected connection: at most one line per 10 s for the whole
 * server, with the count of those not logged since (a flood of bad
 * handshakes must not flood the log). */
void tls_log_reject(struct server *srv, const char *peer, const char *why);

#endif
