/*
 * zkc_int.h — libzkc internals shared by zkc.c (sessions, connections,
 * watches), zkc_ops.c (building requests), zkc_block.c (the blocking client),
 * zkc_sasl.c, zkc_tls.c, zkc_props.c and zkc_util.c.  Not installed;
 * callers use zkc.h.
 *
 * A request lives in exactly one place at a time:
 *   built (any thread) ─► waitq (over the outstanding cap, blocking callers)
 *        ─► unsent (queued, xid assigned) ─► pending (on the wire)
 *        ─► completed (done called once, then freed).
 * Everything that touches a session's queues runs on its loop thread.
 */
#ifndef ZKFS_CLIENT_ZKC_INT_H
#define ZKFS_CLIENT_ZKC_INT_H

#include <sys/socket.h>

#include "zkc.h"

/* Watch kinds, in the order of setWatches2's vectors (ZK_SW_*). */
enum { W_DATA = ZK_SW_DATA, W_EXIST = ZK_SW_EXIST, W_CHILD = ZK_SW_CHILD, W_PERSIST = ZK_SW_PERSISTENT,
       W_RECURSIVE = ZK_SW_PERSISTENT_RECURSIVE, W_NKINDS = ZK_SW_COUNT, W_NONE = -1 };

struct zkc_watcher {
	struct zkc_watcher *next;
	zkc_watch_fn fn;
	void *arg;
};

/* One watched path (full server path, chroot included). */
struct zkc_wentry {
	struct zkc_wentry *next; /* hash chain */
	uint32_t hash;
	struct zkc_watcher *w[W_NKINDS];
	char path[];
};

struct zkc_wtable {
	struct zkc_wentry **b;
	size_t nb; /* power of two or 0 */
	size_t n;
};

struct zkc_req {
	struct zkc_req *next;
	zkc_session *s;
	int32_t xid;
	int32_t type;
	uint8_t *frame; /* length-prefixed; xid patched at enqueue */
	size_t flen;
	zkc_done_fn done;
	void *arg;
	uint64_t queued_at;
	bool can_wait; /* blocking caller: wait for a slot instead of THROTTLEDOP */
	/* watch to register when the reply arrives (W_NONE: none) */
	int wkind;
	char *wpath; /* full path */
	zkc_watch_fn wfn;
	void *warg;
	/* removeWatches / checkWatches */
	int wtype;
	bool wlocal;
	int local_err; /* answer of a locally completed request */
	/* addAuth */
	char *auth_scheme;
	uint8_t *auth_data;
	size_t auth_len;
};

struct zkc_host {
	struct sockaddr_storage sa;
	char name[80];
	char host[256]; /* as given in the connect string (TLS host name check) */
};

struct zkc_tls_conn;

/* One TCP connection of a session (zkc.c). */
struct zkc_conn {
	uv_tcp_t tcp;
	uv_connect_t creq;
	zkc_session *s; /* NULL once detached */
	int phase;      /* 0 tcp connect, 1 handshake, 2 open, 3 SASL exchange */
	uint8_t *rbuf;  /* plaintext received, not yet parsed */
	size_t rlen, rcap;
	size_t skip;         /* bytes of an oversize frame still to discard */
	size_t skip_hdr_need; /* header bytes of it still to read */
	uint8_t skip_hdr[16];
	size_t skip_hdr_len;
	bool connecting; /* creq outstanding */
	struct zkc_tls_conn *tls; /* NULL: plain text */
};

/* Credentials kept for every reconnect. */
struct zkc_authent {
	struct zkc_authent *next;
	char *scheme;
	uint8_t *data;
	size_t len;
	struct zkc_req *waiter; /* an addAuth waiting for its first answer */
};

/* One expected auth reply (they come back in order among themselves). */
struct zkc_authwait {
	struct zkc_authwait *next;
	struct zkc_req *req; /* NULL for a re-sent credential */
};

struct bwait;

enum sess_st {
	ST_CONNECTING, /* no usable connection yet, attempting or backing off */
	ST_CONNECTED,
	ST_DISCONNECTED, /* was connected; reconnecting */
	ST_EXPIRED,
	ST_AUTH_FAILED,
	ST_CLOSING,
	ST_CLOSED,
};

struct zkc_session {
	uv_loop_t *loop;
	zkc_client *client;            /* NULL for async-only sessions */
	zkc_session *cnext, *cprev;    /* client's list (loop thread) */
	void *user;

	/* configuration, immutable after open (read by building threads) */
	struct zkc_host *hosts;
	int nhosts;
	char *chroot; /* NULL or "/a/b" */
	size_t chroot_len;
	int timeout_req;
	bool read_only;
	int max_outstanding;
	size_t max_frame;
	size_t max_request;
	zkc_state_fn state_cb;
	void *state_arg;
	zkc_watch_fn watch_cb;
	void *watch_arg;
	struct ssl_ctx_st *tls_ctx; /* NULL: plain text (zkc_tls.c) */
	bool tls_verify_host;

	/* read from any thread (atomics / info_mu) */
	int pub_state;
	int timeout_neg;
	int64_t last_zxid;
	int outstanding_pub;
	int b_deadline_ms;
	uv_mutex_t info_mu; /* session_id, passwd, server */
	int64_t session_id;
	uint8_t passwd[16];
	char server[80];
	char tls_err[256]; /* last TLS failure, "" if none */

	/* loop thread only */
	int st;
	bool ro_conn;
	bool started;
	struct zkc_conn *conn;
	int host_idx;
	int fails;         /* failed attempts since the last success */
	uint64_t attempt_start;
	uint64_t next_attempt; /* 0: attempt in progress */
	uint64_t last_send, last_recv;
	uint64_t close_deadline;
	int32_t close_xid;
	bool no_sw2;
	bool sent_sw2;
	uv_timer_t timer;
	uv_prepare_t flush;
	uv_timer_t done_timer; /* runs doneq */
	struct zkc_req *doneq, *doneq_tail;
	int handles_open;
	zkc_close_fn close_cb;
	void *close_arg;

	int32_t next_xid;
	int outstanding; /* unsent + pending */
	struct zkc_req *unsent, *unsent_tail;
	struct zkc_req *pending, *pending_tail;
	struct zkc_req *waitq, *waitq_tail;
	struct zkc_authent *auths;
	struct zkc_authwait *authq, *authq_tail;
	struct zkc_sasl_state *sasl; /* NULL = no SASL (zkc_sasl.c) */
	int32_t sasl_xid;	     /* of the SASL token awaiting its answer */
	struct zkc_wtable wt;

	struct bwait *open_wait; /* zkc_b_open waiting for the first connection */
};

/* ---- zkc.c ---- */
/* Parses and resolves the connect string, allocates the session (no libuv
 * calls: any thread).  Returns ZE_OK or an error. */
int zkc__session_alloc(const char *connect, int timeout_ms, const struct zkc_options *opt, zkc_session **out);
/* Frees a session that was never started. */
void zkc__session_free_unstarted(zkc_session *s);
/* Binds to loop and starts connecting (loop thread). */
int zkc__session_start(zkc_session *s, uv_loop_t *loop);
/* Submits a built request (loop thread).  On error the request is freed,
 * done is not called, and the error returned. */
int zkc__req_submit(struct zkc_req *q);
void zkc__req_free(struct zkc_req *q);

/* ---- zkc_util.c ---- */
/* Zeroes a malloc'd string before freeing it, so that a password does not
 * outlive its use in freed memory.  NULL is fine. */
void zkc__wipe_free(const char *p);

/* ---- zkc_sasl.c: one session's SASL exchange on Cyrus ---- */
struct zkc_sasl_state;
/* Copies cfg.  Returns ZE_OK, ZE_BADARGUMENTS (unknown mechanism, DIGEST-MD5
 * without user/password) or ZE_SYSTEMERROR (Cyrus did not initialise). */
int zkc__sasl_new(const struct zkc_sasl *cfg, struct zkc_sasl_state **out);
void zkc__sasl_free(struct zkc_sasl_state *st);
/* Drops the exchange of the connection that went away. */
void zkc__sasl_reset(struct zkc_sasl_state *st);
/* Starts an exchange on a new connection to sa (GSSAPI names the server
 * after it).  Returns 1 with a token to send (*tok may be empty), 0 when
 * authenticated with nothing to send, or a negative errno.  *tok is valid
 * until the next call. */
int zkc__sasl_begin(struct zkc_sasl_state *st, const struct sockaddr *sa, const char **tok,
		    unsigned *toklen);
/* The server answered with token in (inlen < 0: null).  Same returns. */
int zkc__sasl_next(struct zkc_sasl_state *st, const uint8_t *in, int32_t inlen, const char **tok,
		   unsigned *toklen);
/* Cyrus's reason for the last failure (no secrets). */
const char *zkc__sasl_error(const struct zkc_sasl_state *st);

/* ---- zkc_ops.c ---- */
/* Builds a request for r (paths chroot-relative; the chroot is added here).
 * Any thread.  *err receives the code on NULL. */
struct zkc_req *zkc__req_build(zkc_session *s, const struct zk_request *r, int *err);
/* The full (chroot-prefixed) form of path, malloc'd; NULL on ENOMEM. */
char *zkc__full_path(const zkc_session *s, const char *path);
/* Chroot-relative view of a full path (points into it, or is it). */
const char *zkc__strip(const zkc_session *s, const char *full);
/* Replaces *p by its chroot-stripped copy. */
void zkc__strip_inplace(const zkc_session *s, char **p);

/* Builders used by both APIs. */
struct zkc_req *zkc__build_create(zkc_session *s, const char *path, const void *data, int32_t len,
				  const struct zk_acl_vec *acl, int mode, int64_t ttl, int *err);
struct zkc_req *zkc__build_path(zkc_session *s, int type, const char *path, int32_t version, int *err);
struct zkc_req *zkc__build_watch(zkc_session *s, int type, const char *path, zkc_watch_fn wfn, void *warg,
				 int *err);
struct zkc_req *zkc__build_set(zkc_session *s, const char *path, const void *data, int32_t len, int32_t version,
			       int *err);
struct zkc_req *zkc__build_set_acl(zkc_session *s, const char *path, const struct zk_acl_vec *acl,
				   int32_t version, int *err);
struct zkc_req *zkc__build_multi(zkc_session *s, int type, const struct zk_op *ops, int nops, int *err);
struct zkc_req *zkc__build_add_watch(zkc_session *s, const char *path, int mode, zkc_watch_fn wfn, void *warg,
				     int *err);
struct zkc_req *zkc__build_watches(zkc_session *s, int type, const char *path, int wtype, zkc_watch_fn wfn,
				   void *warg, bool local, int *err);
struct zkc_req *zkc__build_auth(zkc_session *s, const char *scheme, const void *data, size_t len, int *err);
struct zkc_req *zkc__build_whoami(zkc_session *s, int *err);

/* ---- zkc_tls.c ---- */
/* Builds s->tls_ctx from opt (ZE_OK or ZE_BADARGUMENTS). */
int zkc__tls_setup(zkc_session *s, const struct zkc_tls *opt);
/* Starts TLS on a connected socket (sends the ClientHello).  false: failed,
 * the connection is lost. */
bool zkc__tls_start(zkc_session *s, struct zkc_conn *c, const char *host);
/* Encrypts n malloc'd plaintext buffers (freed here) and writes the result.
 * false: the connection was lost. */
bool zkc__tls_writev(zkc_session *s, struct zkc_conn *c, uv_buf_t *bufs, int n);
/* Ciphertext p[0..n) read: plaintext appended to c's read buffer.  false:
 * the connection was lost (the reason is in s->tls_err). */
bool zkc__tls_input(zkc_session *s, struct zkc_conn *c, const uint8_t *p, size_t n);
/* The read buffer for ciphertext. */
uv_buf_t zkc__tls_rbuf(struct zkc_conn *c);
void zkc__tls_conn_free(struct zkc_conn *c);

/* ---- zkc.c, for zkc_tls.c ---- */
/* Writes one malloc'd buffer as it is (ownership passes); false: lost. */
bool zkc__conn_write_raw(zkc_session *s, uint8_t *buf, size_t len);
void zkc__conn_lost(zkc_session *s);

/* ---- zkc_block.c ---- */
/* Called (loop thread) when a session with an open waiter reaches a state. */
void zkc__open_wait_done(zkc_session *s, int err);
/* Unlinks a session from its client's list (loop thread). */
void zkc__client_unlink(zkc_session *s);

static inline uint64_t zkc__now(const zkc_session *s)
{
	return uv_now(s->loop);
}

#endif
