/*
 * zktls.h — TLS for ZooKeeper connections, shared by zkfs-server, libzkc
 * and the load generators: building an OpenSSL context from ZooKeeper's
 * settings (keystore, truststore, clientAuth, protocols, ciphersuites) and
 * a non-blocking engine for one connection that does no I/O itself.
 *
 * The engine sits between a socket and the framing code: the caller feeds
 * the ciphertext it read (zktls_feed), takes plaintext out (zktls_read),
 * hands plaintext in (zktls_write) and sends whatever ciphertext the engine
 * produced (zktls_take).  Both directions go through
 * memory BIOs, so the same code runs on the server's libuv loop and on the
 * client's.  Plaintext written before the handshake ends is kept and sent
 * once it has ended (the ConnectRequest leaves with the client's Finished).
 *
 *   NEW ──feed/write──► HANDSHAKE ──peer Finished──► OPEN ──error/close_notify──► DONE
 *                            └────────────── alert / bad record ──────────────────┘
 *
 * Errors are 0 or a negative errno (-EPROTO for a TLS failure, whose text
 * zktls_error gives; -ENOMEM).  Nothing here is thread-safe: one engine per
 * connection, used by one thread; a context may be shared (OpenSSL's
 * SSL_CTX is reference counted and thread-safe after set-up).
 */
#ifndef ZKFS_PROTO_ZKTLS_H
#define ZKFS_PROTO_ZKTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jute.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;

enum zktls_client_auth { ZKTLS_AUTH_NONE, ZKTLS_AUTH_WANT, ZKTLS_AUTH_NEED };

/* Settings, as ZooKeeper names them (ssl.keyStore.* and so on).  Strings
 * are borrowed for the call only.  Store types: "PEM", "PKCS12", "JKS" (refused
 * with the keytool command that converts it), or NULL to go by the file
 * name (.p12/.pfx = PKCS12, .jks = JKS, anything else PEM). */
struct zktls_opts {
	bool server;
	const char *key_store;	  /* our certificate chain (+ key for PEM/PKCS12) */
	const char *key_file;	  /* separate PEM private key, or NULL (in key_store) */
	const char *key_password; /* of the key / PKCS12 file, or NULL */
	const char *key_store_type;
	const char *trust_store;    /* CA certificates (PEM or PKCS12); NULL = system's */
	const char *trust_password; /* PKCS12 trust store password, or NULL */
	const char *trust_store_type;
	enum zktls_client_auth client_auth; /* server: whether to ask for a client cert */
	const char *protocol;	       /* ssl.protocol: "TLSv1.2" (default), "TLSv1.3", "TLS" */
	const char *enabled_protocols; /* ssl.enabledProtocols: comma list, or NULL = protocol */
	const char *ciphersuites; /* ssl.ciphersuites: comma list of IANA (Java) or OpenSSL names */
	bool crl;		  /* ssl.crl: check CRLs found in the trust store file */
	bool verify_peer;	  /* client: verify the server's chain (default in callers: true) */
};

/* Reads the first line of a file holding a secret (a key store password),
 * so that secrets stay off command lines and out of config files.  *out is
 * malloc'd: wipe and free it.  0 or a negative errno. */
int zktls_read_secret(const char *path, char **out);

/* Builds a context.  Returns it (caller frees with zktls_ctx_free), or NULL
 * with a message naming the file or setting at fault in err. */
SSL_CTX *zktls_ctx_new(const struct zktls_opts *o, char *err, size_t errlen);
void zktls_ctx_free(SSL_CTX *ctx);

/* The private key (unencrypted) and the certificate chain (leaf first) of a
 * context, as PEM text, for a TLS library other than OpenSSL (the admin
 * server's libmicrohttpd).  Both malloc'd: wipe the key before freeing.
 * 0, or -EINVAL (no key or certificate) / -ENOMEM. */
int zktls_ctx_pem(SSL_CTX *ctx, char **key_pem, char **cert_pem);

enum zktls_state { ZKTLS_HANDSHAKE, ZKTLS_OPEN, ZKTLS_DONE };

struct zktls {
	SSL *ssl;
	BIO *in, *out;	/* ciphertext: in = from the peer, out = to the peer */
	int state;	/* enum zktls_state */
	uint8_t *early; /* plaintext written before the handshake ended */
	size_t early_len, early_cap;
	char err[256]; /* why the connection failed (after -EPROTO) */
};

/* Starts an engine on ctx (a reference is taken).  host (client only, may
 * be NULL): the server name for SNI and, when verify_host, the name or IP
 * address the server's certificate must carry.  A client queues its
 * ClientHello at once (zktls_out has it).  0 or -ENOMEM. */
int zktls_init(struct zktls *t, SSL_CTX *ctx, bool server, const char *host, bool verify_host);
void zktls_free(struct zktls *t);

/* Ciphertext read from the socket goes in (copied).  Drives the handshake
 * as far as the bytes allow.  0, -EPROTO (t->err says why) or -ENOMEM. */
int zktls_feed(struct zktls *t, const void *p, size_t n);

/* Up to cap bytes of plaintext into buf.  Returns the count (> 0), 0 when
 * nothing more can be read now, -EPIPE once the peer closed (close_notify),
 * -EPROTO on a TLS failure. */
long zktls_read(struct zktls *t, void *buf, size_t cap);

/* Plaintext to send (copied; encrypted at once, or when the handshake has
 * ended).  0, -EPROTO or -ENOMEM. */
int zktls_write(struct zktls *t, const void *p, size_t n);

/* Queues close_notify (once the handshake is over; otherwise nothing). */
void zktls_close(struct zktls *t);

/* Moves the ciphertext waiting to be sent to the end of o (one copy; the
 * caller sends o).  Returns the bytes moved; o->err is set on -ENOMEM. */
size_t zktls_take(struct zktls *t, struct jute_out *o);

/* Ciphertext waiting to be taken. */
size_t zktls_pending(const struct zktls *t);

/* Whether the handshake has ended successfully. */
static inline bool zktls_open(const struct zktls *t)
{
	return t->state == ZKTLS_OPEN;
}

/* The subject of the peer's verified certificate as an RFC 2253 name
 * ("CN=client,OU=dev,O=example"), as Java's X500Principal.getName() shows
 * it and ZooKeeper's x509 scheme uses it.  0, -ENOENT (no certificate, or
 * not verified) or -ENOSPC. */
int zktls_peer_dn(const struct zktls *t, char *out, size_t cap);

/* Whether a first byte starts a TLS record carrying a handshake (a
 * ClientHello): a plain ZooKeeper frame starts with a length < 2^24, i.e.
 * 0x00, and a four-letter word with a lower-case letter. */
static inline bool zktls_is_hello(uint8_t first)
{
	return first == 0x16;
}

#endif
