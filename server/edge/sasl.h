/*
 * sasl.h — SASL authentication of client connections (opcode 102) through
 * Cyrus SASL, the way Apache ZooKeeper 3.8 does it with Java's SASL:
 *
 *   - The JAAS file (java.security.auth.login.config) and its section
 *     (zookeeper.sasl.serverconfig, default "Server") decide the one
 *     mechanism a server offers, as ZooKeeper's SecurityUtils does: a
 *     Krb5LoginModule with a principal "service/host@REALM" means GSSAPI
 *     as that principal (keys from its keyTab); otherwise DIGEST-MD5 as
 *     service "zookeeper", server name "zk-sasl-md5", with the section's
 *     user_NAME="password" options as the users.  Cyrus's DIGEST-MD5 needs
 *     the plaintext secret: an auxprop plugin registered in-process serves
 *     it from the JAAS users (nothing is written to a sasldb).
 *   - A client sends SASL requests (any xid) holding tokens; each is
 *     answered with the server's token (SetSASLResponse) until the
 *     exchange completes, and the connection then holds the identity
 *     sasl:<name> (Kerberos names shortened per kerberos.remove*FromPrincipal).
 *
 * Cyrus keeps process-wide state, so there is one SASL set-up per process
 * (sasl_edge_init); per-connection state hangs off struct conn and is
 * freed with it (sasl_edge_conn_free).
 */
#ifndef ZKFS_EDGE_SASL_H
#define ZKFS_EDGE_SASL_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct conn;
struct zsasl; /* one connection's exchange */

/* Reads the JAAS file named by cfg (if any) and sets Cyrus up for its
 * mechanism.  No JAAS file: SASL stays off (requests get AuthFailed).
 * Returns 0, or a negative errno with a message in err (file unreadable,
 * section missing, no users and no Kerberos principal, Cyrus without the
 * mechanism's plugin); the server must not start then, as ZooKeeper. */
int sasl_edge_init(const struct config *cfg, char *err, size_t errlen);
/* Forgets the JAAS users (wiped) and turns SASL off; safe when never
 * initialised.  Cyrus itself stays loaded (see sasl.c): a later
 * sasl_edge_init in the same process (tests) reuses it. */
void sasl_edge_done(void);
/* True once sasl_edge_init found a usable JAAS section. */
bool sasl_edge_enabled(void);
/* "DIGEST-MD5", "GSSAPI", or "" when SASL is off. */
const char *sasl_edge_mech(void);

/* Outcome of one SASL request. */
enum sasl_step {
	SASL_STEP_CONTINUE, /* *out is the challenge to send, more to come */
	SASL_STEP_DONE,	    /* authenticated: *out (maybe empty) is the last token,
			       *user the identity for the sasl scheme */
	SASL_STEP_FAILED,   /* wrong credentials, garbage, SASL off (logged,
			       rate-limited) */
};

/* Failure logging of one server: one line per 10 s at most. */
struct sasl_ratelog {
	uint64_t last_ms;  /* when a failure was last logged (loop ms), 0 = never */
	uint64_t unlogged; /* failures since then, not logged */
};

/*
 * Feeds one client token of a connection (peer for messages) into its
 * exchange *st, creating the exchange on the first call.  *out and *outlen
 * are valid until the next call for *st or sasl_edge_conn_free (NULL/-1 = a
 * null token); *user is valid as long.  Failures are logged through rl at
 * now_ms.
 */
enum sasl_step sasl_edge_step(struct zsasl **st, const char *peer, const uint8_t *in,
			      int32_t inlen, struct sasl_ratelog *rl, uint64_t now_ms,
			      const uint8_t **out, int32_t *outlen, const char **user);
/* Frees an exchange (NULL is fine); *st becomes NULL. */
void sasl_edge_conn_free(struct zsasl **st);

/*
 * The sasl identity ZooKeeper's SaslServerCallbackHandler makes of an
 * authentication id: a Kerberos name "primary[/host][@REALM]" keeps its
 * host and realm unless remove_host / remove_realm.  Writes into out
 * (cap bytes); returns 0 or -ENAMETOOLONG.
 */
int sasl_identity(const char *authid, bool remove_host, bool remove_realm, char *out,
		  size_t cap);

#endif
