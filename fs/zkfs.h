/*
 * zkfs.h — what the parts of the zkfs daemon share: the mount's
 * configuration (parsed once in main.c, read-only afterwards), the
 * ZooKeeper client and the mount's own session, and the FUSE session.
 *
 * Threads: FUSE workers (ops.c), the libzkc loop thread (watch callbacks),
 * the notify/replay thread (notify.c), the holders thread (holders.c) and
 * the session-renewal logic.  The mount's session pointer changes only on
 * expiry; it is read through zkfs_session_get/put, which hold a read lock
 * so that the old session is not freed under a running call.
 */
#ifndef ZKFS_FS_ZKFS_H
#define ZKFS_FS_ZKFS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "zkc.h"

struct fuse_session;

struct zkfs_config {
	char *spec;       /* connect string, chroot included */
	char *mountpoint; /* absolute */
	int timeout_ms;   /* session timeout asked for */
	int op_wait_ms;   /* bound on waiting for a reconnect before EIO */
	char **eph_dirs;  /* paths (znode paths, "/locks") whose direct children are ephemeral */
	int n_eph;
	bool eph_owner_mount; /* ephemeral_owner=mount */
	int expire_signal;    /* expire_signal=SIG: sent to a Unix session whose holder session expired; 0 = none */
	char *zdata;          /* name of the hidden data entry, ".zdata" */
	int lock_names;       /* enum locks_names: how this mount names lock contenders */
	double entry_timeout, attr_timeout, neg_timeout;
	char *auth;     /* "user:password" for digest auth, or NULL */
	char **own_ids; /* "digest:user" / "sasl:user" ids the mount authenticates as */
	char *sasl_mech; /* sasl=MECH (DIGEST-MD5, GSSAPI), NULL = from saslfile */
	char *sasl_file; /* saslfile=PATH: SASL credentials, NULL = no SASL */
	int n_own;
	bool ro;
	bool foreground;
	bool debug;
	bool debug_events; /* log every watch event (ZKFS_DEBUG_EVENTS=1) */
	char *logfile;
	uid_t uid;
	gid_t gid;
};

extern struct zkfs_config zkfs_cfg;
extern zkc_client *zkfs_client;
extern struct fuse_session *zkfs_fuse;

/* The mount's own session for one call: get, use, put.  Never NULL. */
zkc_session *zkfs_session_get(void);
void zkfs_session_put(void);

/* Opens a session of the mount's kind (spec, timeout, auth); wait_ms as
 * zkc_b_open; state_cb (may be NULL) gets its state changes on the loop
 * thread.  Returns a ZooKeeper code. */
int zkfs_open_session(int wait_ms, zkc_state_fn state_cb, void *state_arg, zkc_session **out);

/* *dl = now + ms on CLOCK_REALTIME, for pthread_cond_timedwait. */
struct timespec;
void zkfs_deadline(struct timespec *dl, int ms);

/* Logs a line (stderr, or the log file) with a timestamp. */
void zkfs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The mount's timeout / renewal logic in main.c: called by the state
 * callback of the mount session when it expires. */
void zkfs_session_expired(void);

/* ZooKeeper result -> negative errno, per FS-SEMANTICS.md. */
int zkfs_errno(int zkerr);

#endif
