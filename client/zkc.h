/*
 * zkc.h — libzkc, the zkfs ZooKeeper client library.
 *
 * Two layers share one implementation:
 *
 *  1. The asynchronous API (zkc_session_open, zkc_create, zkc_get, ...) runs
 *     on a libuv loop supplied by the caller.  Every function of this layer
 *     must be called on the thread that runs that loop, and every callback
 *     (completion, watcher, session state) runs on that thread.
 *
 *  2. The blocking API (zkc_client_new, zkc_b_open, zkc_b_create, ...) owns
 *     a private loop thread and may be called from any number of other
 *     threads at once.  Requests are handed to the loop thread (uv_async),
 *     and the calling thread sleeps until the answer or a deadline.  Many
 *     sessions (hundreds) share one client and therefore one loop thread.
 *     Watcher and state callbacks of such sessions run on the loop thread;
 *     they may call the asynchronous API but never a zkc_b_* function (that
 *     would deadlock; it is refused with ZE_APIERROR), and they must not
 *     wait for a lock that a thread inside a zkc_b_* call may hold: every
 *     session of the client stalls while a callback runs.  The loop thread
 *     blocks SIGPIPE; programs using layer 1 on their own loop should ignore
 *     SIGPIPE, as any libuv program does.
 *
 * Result codes.  Every int result in this header is a ZooKeeper error code
 * (enum zk_err of proto/zk.h): ZE_OK (0) on success, the server's code
 * (ZE_NONODE, ZE_NODEEXISTS, ZE_BADVERSION, ...) as received, and local
 * conditions mapped onto the same table so that one switch handles all:
 *   ZE_CONNECTIONLOSS   the request may or may not have been applied (it was
 *                       on the wire when the connection broke, or it could
 *                       not be sent before the session timeout elapsed while
 *                       disconnected).  Requests are never re-sent silently;
 *                       see zkc_b_create_applied / zkc_b_set_applied.
 *   ZE_SESSIONEXPIRED   the session is dead; close it and open a new one.
 *   ZE_AUTHFAILED       the server refused the credentials; session is dead.
 *   ZE_CLOSING          the session is being closed by its owner.
 *   ZE_OPERATIONTIMEOUT a blocking call passed its deadline (the request may
 *                       still complete on the server).
 *   ZE_THROTTLEDOP      the outstanding-request cap was reached (async only;
 *                       blocking calls wait for a free slot instead).
 *   ZE_BADARGUMENTS     invalid path, mode, ttl, NULL where not allowed.
 *   ZE_MARSHALLINGERROR a reply larger than the frame limit or malformed;
 *                       only that request fails, the connection stays up.
 *   ZE_SYSTEMERROR      out of memory or an unexpected local failure.
 *   ZE_APIERROR         API misuse (blocking call on the loop thread, ...).
 * zkc_errno() maps a code to a positive errno for callers such as the FUSE
 * daemon; zkc_strerror() gives text.  (This is the protocol boundary that
 * STYLE.md allows to speak ZooKeeper codes.)
 *
 * Asynchronous functions return ZE_OK when the request was accepted — the
 * completion callback is then called exactly once, later, never from inside
 * the submitting call — or an error code, and then the callback is never
 * called.
 *
 * Paths are absolute paths inside the chroot of the session (the part of the
 * connect string after the first '/'); the chroot is prepended on the way out
 * and stripped from every path coming back (created paths, watch events,
 * multi results, getEphemerals).
 *
 * Watches.  exists/get/get_children take an optional watcher (fn, arg):
 *   - fn == NULL: no watch is set;
 *   - fn == zkc_session_watcher: the session-wide watcher of the options
 *     (zkc_options.watch_cb / watch_arg) is used (ZE_BADARGUMENTS if none);
 *   - otherwise a one-shot watch of that kind is registered when the call
 *     succeeds (exists: also when it answers ZE_NONODE — it then waits for
 *     the node's creation).
 * A watcher registration ends with exactly one final call of fn: the event
 * (NodeCreated, NodeDeleted, NodeDataChanged, NodeChildrenChanged), or
 * ZK_EVENT_*_WATCH_REMOVED after zkc_remove_watches, or type ZK_EVENT_NONE
 * with state ZKC_STATE_EXPIRED / ZKC_STATE_AUTH_FAILED / ZKC_STATE_CLOSED when
 * the session ends.  So `arg` may be freed in that final call.  The same
 * (fn, arg) registered several times for the same path and kind counts once;
 * registered for two kinds (say data and children of one path) it is two
 * registrations and gets two final calls.
 * Persistent watches (zkc_add_watch) are called for each event and finally
 * once with a ZK_EVENT_NONE/ZK_EVENT_PERSISTENT_WATCH_REMOVED event.
 * Disconnections do not end watches: after a reconnect every watch is
 * re-registered (setWatches2 with the last zxid seen) and the server
 * delivers the changes made meanwhile.  Session state changes are reported
 * only to the session's state callback.
 */
#ifndef ZKFS_CLIENT_ZKC_H
#define ZKFS_CLIENT_ZKC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "records.h"
#include "zk.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zkc_session zkc_session;
typedef struct zkc_client zkc_client;

/* ------------------------------------------------------------------ states */

/* Session states, as reported by zkc_session_state() and the state callback.
 *
 *   CONNECTING ──► CONNECTED (or CONNECTED_RO) ──► DISCONNECTED ──► CONNECTED ...
 *        │                                 │              │
 *        └──────────────► EXPIRED / AUTH_FAILED ◄─────────┘
 *   any state ──zkc_session_close──► CLOSED
 * EXPIRED and AUTH_FAILED are final: requests fail with that code until the
 * owner closes the session.  The callback is called on each transition
 * (CONNECTING is the initial state and never reported). */
enum zkc_state {
	ZKC_STATE_CONNECTING = 1,
	ZKC_STATE_CONNECTED = 2,
	ZKC_STATE_CONNECTED_RO = 3,
	ZKC_STATE_DISCONNECTED = 4,
	ZKC_STATE_EXPIRED = 5,
	ZKC_STATE_AUTH_FAILED = 6,
	ZKC_STATE_CLOSED = 7,
};

/* "connected", "expired", ... */
const char *zkc_state_name(int state);

/* ------------------------------------------------------------------ results */

/*
 * The answer of one request.  Which members are filled depends on the call:
 *   create:            r.path (actual path, sequence suffix, chroot stripped), r.stat
 *   exists, set, set_acl: r.stat
 *   get:               r.data / r.data_len (-1 = null data; data is NUL-terminated
 *                      for convenience, not counted in data_len), r.stat
 *   get_acl:           r.acl, r.stat
 *   get_children:      r.children (names, unsorted), r.stat
 *   get_ephemerals:    r.children (paths, chroot stripped)
 *   get_all_children_number: r.number
 *   sync:              r.path
 *   whoami:            r.ninfo, r.info
 *   multi, multi_read: nres / res[i] (res[i].type is the op's opcode or -1
 *                      (ZOP_ERROR) for a failed op; res[i].err its code)
 *   zxid is the zxid of the reply header (the write's own zxid for writes).
 * Owned by the library during a completion callback; zkc_result_move()
 * takes it over, and then zkc_result_free() releases it.
 */
struct zkc_result {
	int64_t zxid;
	struct zk_result r;
	int32_t nres;
	struct zk_result *res;
};

/* Moves *src into *dst (dst is overwritten, src left empty). */
void zkc_result_move(struct zkc_result *dst, struct zkc_result *src);
/* Frees what the result owns and zeroes it; the struct itself is the caller's. */
void zkc_result_free(struct zkc_result *res);

/* Completion of an asynchronous request: err as described above; res is
 * never NULL (empty when err != 0). */
typedef void (*zkc_done_fn)(zkc_session *s, int err, struct zkc_result *res, void *arg);

/* A watch event or a session-end notice (see "Watches" above).  path is
 * chroot-relative, valid during the call only. */
struct zkc_event {
	int type;  /* enum zk_event_type */
	int state; /* enum zkc_state (ZKC_STATE_CONNECTED for server events) */
	const char *path;
};
typedef void (*zkc_watch_fn)(zkc_session *s, const struct zkc_event *ev, void *arg);

/* Session state callback (see enum zkc_state). */
typedef void (*zkc_state_fn)(zkc_session *s, int state, void *arg);

/* Called once when a closed session's memory is gone. */
typedef void (*zkc_close_fn)(void *arg);

/* ------------------------------------------------------------------ options */

/* Credentials sent with addAuth after every (re)connect, e.g.
 * {"digest", "user:password", 13}. */
struct zkc_auth {
	const char *scheme;
	const void *data;
	size_t len;
};

/*
 * SASL (opcode 102) after every handshake, through Cyrus SASL, as ZooKeeper's
 * Java and C clients do it: nothing else is sent on a connection until the
 * exchange is over; a failure ends the session with ZKC_STATE_AUTH_FAILED
 * (ZE_AUTHFAILED, or ZE_SESSIONCLOSEDREQUIRESASLAUTH when the server demands
 * SASL).  The server's sasl identity is the authentication id.
 *   DIGEST-MD5: user + password; the server name is "zk-sasl-md5" (hard-coded
 *     by ZooKeeper).
 *   GSSAPI: Kerberos credentials from the default ccache (KRB5CCNAME) or, with
 *     keytab, from that client keytab (the library then sets the process-wide
 *     KRB5_CLIENT_KTNAME, and KRB5CCNAME to a private in-memory cache if unset);
 *     the server principal is service/host, host = the server's canonical
 *     name (reverse lookup, "localhost" for 127.0.0.1) unless host is given.
 */
struct zkc_sasl {
	const char *mech;      /* "DIGEST-MD5" or "GSSAPI" (required) */
	const char *user;      /* authentication id (DIGEST-MD5: required) */
	const char *password;  /* DIGEST-MD5 */
	const char *service;   /* NULL = "zookeeper" (zookeeper.sasl.client.username) */
	const char *host;      /* NULL = see above (zookeeper.server.principal's host) */
	const char *principal; /* GSSAPI: the client principal (informational; the
				  keytab's entry for it is used) */
	const char *keytab;    /* GSSAPI: client keytab file, NULL = ccache only */
};

/*
 * Reads SASL credentials for mech (NULL: GSSAPI when the file names a
 * principal or keytab, else DIGEST-MD5) from a file, never from a command line:
 * either a JAAS file as Java clients use (its `section`, NULL = "Client":
 * DigestLoginModule username/password, Krb5LoginModule principal/keyTab) or
 * plain lines "username=NAME", "password=SECRET" (and "principal=",
 * "keytab=", "service=", "host="), '#' comments.  Strings in *out are
 * malloc'd: zkc_sasl_clear frees them.  Returns ZE_OK, or ZE_BADARGUMENTS
 * with a message in err (no secret in it).
 */
int zkc_sasl_load(const char *path, const char *section, const char *mech, struct zkc_sasl *out,
		  char *err, size_t errlen);
/* Frees (and wipes) what zkc_sasl_load put into *s and zeroes it. */
void zkc_sasl_clear(struct zkc_sasl *s);

/* Defaults when a member is 0 / NULL / false. */
#define ZKC_DEFAULT_MAX_OUTSTANDING 4096
#define ZKC_DEFAULT_MAX_FRAME (JUTE_MAX_BUFFER + 1024)

/* TLS to a server's secureClientPort (or a port with portUnification).
 * Files are read when the session is opened; strings are borrowed for that
 * call only.  The server's certificate is checked against ca_file and, unless
 * no_verify_host, against the host named in the connect string (DNS name or
 * IP address in its subjectAltName), as ZooKeeper's Java client does with
 * zookeeper.ssl.hostnameVerification=true (its default). */
struct zkc_tls {
	const char *ca_file;	  /* trust store: PEM CA certificates (or PKCS12); NULL = system's */
	const char *ca_password;  /* PKCS12 trust store password, or NULL */
	const char *cert_file;	  /* client certificate chain, PEM (or PEM/PKCS12 key store with
				     the key); NULL = no client certificate */
	const char *key_file;	  /* its private key (PEM), NULL = inside cert_file */
	const char *key_password; /* of an encrypted key or PKCS12 file, or NULL */
	const char *protocols;	  /* "TLSv1.2", "TLSv1.3", "TLS" or a comma list; NULL = TLS
				     (1.2 and 1.3) */
	const char *ciphersuites; /* comma list (IANA or OpenSSL names), NULL = OpenSSL's */
	const char *cert_type;	  /* "PEM" or "PKCS12"; NULL = by the file name (.p12 = PKCS12) */
	const char *ca_type;	  /* the same for ca_file */
	bool no_verify_host;	  /* skip the host name check (the chain is still verified) */
	bool no_verify;		  /* accept any server certificate (tests only) */
};

/* Checks TLS settings by loading every file they name.  Returns ZE_OK, or
 * ZE_BADARGUMENTS with a message naming the file at fault in err. */
int zkc_tls_check(const struct zkc_tls *tls, char *err, size_t errlen);

/*
 * Reads the first line of a file holding a secret (a key password): callers
 * keep secrets out of command lines.  *out is malloc'd (wipe and free it).
 * Returns 0 or a negative errno.
 */
int zkc_read_secret_file(const char *path, char **out);

/*
 * The SASL keys of a ZooKeeper client.properties file, as
 * zkc_client_properties finds them.  Strings are malloc'd, NULL when the
 * file does not give the key; zkc_sasl_props_free frees them.  None is a
 * secret: the credentials stay in the file login_config names.
 */
struct zkc_sasl_props {
	char *login_config; /* java.security.auth.login.config: a JAAS file (or
			       zkc_sasl_load's key=value lines) */
	char *section;	    /* zookeeper.sasl.clientconfig: its section, NULL = "Client" */
	char *service;	    /* zookeeper.sasl.client.username, or the service of
			       zookeeper.server.principal ("service/host@REALM") */
	char *host;	    /* the host of zookeeper.server.principal */
	bool disabled;	    /* zookeeper.sasl.client=false: no SASL at all */
};

/*
 * Reads a ZooKeeper Java client properties file (client.properties, the
 * names of the Java client's ZKClientConfig; "key=value", "key: value" or
 * "key value" lines, '#' and '!' comments) once, for both of:
 *   tls (may be NULL: TLS keys skipped): zookeeper.client.secure (sets
 *     *secure, which may then be NULL), zookeeper.ssl.keyStore.location/
 *     .password/.passwordPath/.type, zookeeper.ssl.trustStore.*,
 *     zookeeper.ssl.hostnameVerification, zookeeper.ssl.protocol,
 *     .enabledProtocols, .ciphersuites; the "zookeeper." prefix may be left
 *     out.  Strings are replaced with malloc'd copies (zkc_tls_free_strings
 *     frees them, and wipes the passwords).
 *   sasl (may be NULL: SASL keys skipped): java.security.auth.login.config,
 *     zookeeper.sasl.clientconfig, zookeeper.sasl.client,
 *     zookeeper.sasl.client.username and zookeeper.server.principal (or
 *     zookeeper.sasl.client.principal), full names only.
 * Fields the file names replace what the structs held; the rest stay, so a
 * caller zeroes them first and may apply several files or its own options
 * around them.  Unknown keys are ignored, as the Java client does.
 * Returns 0, or a negative errno with a message in err (no secret in it).
 */
int zkc_client_properties(const char *path, struct zkc_tls *tls, bool *secure,
			  struct zkc_sasl_props *sasl, char *err, size_t errlen);
/* zkc_client_properties for the TLS keys only. */
int zkc_tls_properties(const char *path, struct zkc_tls *tls, bool *secure, char *err, size_t errlen);
/* Frees the strings of a zkc_sasl_props and zeroes it. */
void zkc_sasl_props_free(struct zkc_sasl_props *p);
/*
 * Loads SASL credentials as a program's options and the properties p (may
 * be NULL) name them together: from file, a program's own option, or else
 * from p->login_config; with p->section and mech (NULL: by the file, see
 * zkc_sasl_load); p's service and host then replace the file's.  *on is
 * false and *out zeroed when p->disabled or there is no file to read (mech
 * without a file is a usage error for the caller to name in its own
 * options' terms).  Returns ZE_OK, or zkc_sasl_load's error with its
 * message in err (ZE_SYSTEMERROR: out of memory).  *out as zkc_sasl_load's.
 */
int zkc_sasl_props_load(const struct zkc_sasl_props *p, const char *file, const char *mech,
			struct zkc_sasl *out, bool *on, char *err, size_t errlen);
/* Frees the strings of a zkc_tls filled by zkc_client_properties (or by a
 * caller that strdup'ed every field) and wipes the passwords. */
void zkc_tls_free_strings(struct zkc_tls *tls);

struct zkc_options {
	zkc_state_fn state_cb; /* may be NULL */
	void *state_arg;
	const struct zkc_auth *auth; /* copied; may be NULL */
	int nauth;
	const struct zkc_sasl *sasl; /* copied; NULL = no SASL */
	bool read_only;    /* accept read-only servers (state CONNECTED_RO) */
	int64_t session_id; /* non-zero: resume this session ... */
	uint8_t passwd[16]; /* ... with this password */
	int64_t last_zxid;  /* resume: highest zxid the previous owner saw */
	int max_outstanding; /* requests submitted but not answered, per session */
	size_t max_frame;    /* largest reply frame accepted (bytes after length) */
	size_t max_request;  /* largest request frame sent (default JUTE_MAX_BUFFER);
				larger requests fail with ZE_BADARGUMENTS */
	bool no_shuffle;     /* try hosts in the order given (tests) */
	int op_deadline_ms;  /* blocking calls: default deadline, 0 = none */
	zkc_watch_fn watch_cb; /* session-wide watcher (see zkc_session_watcher) */
	void *watch_arg;
	const struct zkc_tls *tls; /* NULL: plain text.  Bad files make the open fail
				      with ZE_BADARGUMENTS (zkc_tls_check says why) */
	char *tls_err_buf;	   /* zkc_b_open: where a failed open leaves the last TLS
				      failure ("" if none), tls_err_len bytes; may be NULL */
	size_t tls_err_len;
};

/* Marker: pass it as a watcher to use the session-wide one.  Never call it. */
void zkc_session_watcher(zkc_session *s, const struct zkc_event *ev, void *arg);

/* ------------------------------------------------------------------ sessions (async) */

/*
 * Creates a session on `loop` and starts connecting.  `connect` is
 * "host:port[,host:port...][/chroot]" (host names are resolved now, by the
 * calling thread; IPv6 literals in brackets).  timeout_ms is the requested
 * session timeout (the server clamps it; see zkc_session_timeout()).
 * opt may be NULL.  On success *out is the session (owned by the library
 * until zkc_session_close's callback) and ZE_OK is returned.  Requests may
 * be submitted at once; they are sent when the session is connected.
 */
int zkc_session_open(uv_loop_t *loop, const char *connect, int timeout_ms, const struct zkc_options *opt,
		     zkc_session **out);

/*
 * Closes the session: if connected, sends closeSession and waits briefly
 * (at most 1/3 of the timeout) for the answer so the server drops
 * ephemerals at once; fails every outstanding request with ZE_CLOSING,
 * ends every watch (final ZK_EVENT_NONE / ZKC_STATE_CLOSED call), reports
 * ZKC_STATE_CLOSED to the state callback, frees the session and then calls
 * cb(arg) (cb may be NULL).  The handle must not be used after this call.
 */
void zkc_session_close(zkc_session *s, zkc_close_fn cb, void *arg);

/* Current state (enum zkc_state).  Safe from any thread. */
int zkc_session_state(const zkc_session *s);
/* Session id and password (for zkc_options resume); id 0 before the first
 * connection.  passwd may be NULL.  Safe from any thread. */
int64_t zkc_session_id(const zkc_session *s, uint8_t passwd[16]);
/* Negotiated timeout in ms (the requested one before the first connection). */
int zkc_session_timeout(const zkc_session *s);
/* Highest zxid seen in a reply. */
int64_t zkc_session_last_zxid(const zkc_session *s);
/* "host:port" of the current server, or "" when not connected.  Copies into buf. */
void zkc_session_server(const zkc_session *s, char *buf, size_t len);
/* Why the last connection attempt failed at the TLS level ("TLS handshake:
 * certificate verify failed: ..."), "" if it did not.  Copies into buf.
 * Safe from any thread. */
void zkc_session_tls_error(const zkc_session *s, char *buf, size_t len);
/* Number of requests submitted and not yet completed. */
int zkc_session_outstanding(const zkc_session *s);
/* Drops the current connection as if the network had failed (tests, and a
 * way to move to another server).  The session reconnects. */
void zkc_session_drop_connection(zkc_session *s);
/* The loop the session runs on. */
uv_loop_t *zkc_session_loop(const zkc_session *s);
/* Opaque user pointer kept with the session. */
void zkc_session_set_data(zkc_session *s, void *data);
void *zkc_session_get_data(const zkc_session *s);

/* ------------------------------------------------------------------ ACLs */

/* world:anyone with all permissions (ZooKeeper's OPEN_ACL_UNSAFE). */
extern const struct zk_acl_vec zkc_acl_open;
/* world:anyone read only. */
extern const struct zk_acl_vec zkc_acl_read;
/* auth: all permissions for the creator's authenticated ids. */
extern const struct zk_acl_vec zkc_acl_creator;

/*
 * Parses "scheme:id:perms[,scheme:id:perms...]" where perms is a subset of
 * "crwda" (e.g. "world:anyone:cdrwa,digest:bob:HASH:r" — the last ':' before
 * perms separates them).  Fills *acl (free with zk_acl_vec_free).
 * Returns ZE_OK or ZE_BADARGUMENTS.
 */
int zkc_acl_parse(const char *text, struct zk_acl_vec *acl);
/* Formats perms as "cdrwa" letters into buf (at least 6 bytes). */
void zkc_perms_format(int32_t perms, char *buf);
/* Digest id "user:BASE64(SHA1(user:password))" of "user:password", malloc'd.
 * Returns NULL on bad input (no ':') or out of memory. */
char *zkc_digest_id(const char *user_password);

/* ------------------------------------------------------------------ operations (async) */

/*
 * create: mode is an enum zk_create_mode (ZK_PERSISTENT ... with TTL);
 * ttl (ms) only for the TTL modes (0 < ttl <= ZK_MAX_TTL); acl NULL means
 * zkc_acl_open; data may be NULL (len < 0: null data).  Always asks for the
 * Stat (create2 / createContainer / createTTL opcodes).
 */
int zkc_create(zkc_session *s, const char *path, const void *data, int32_t len, const struct zk_acl_vec *acl,
	       int mode, int64_t ttl, zkc_done_fn done, void *arg);
/* delete: version -1 matches any. */
int zkc_delete(zkc_session *s, const char *path, int32_t version, zkc_done_fn done, void *arg);
/* exists: ZE_NONODE when missing (a watcher is still registered then). */
int zkc_exists(zkc_session *s, const char *path, zkc_watch_fn wfn, void *warg, zkc_done_fn done, void *arg);
int zkc_get(zkc_session *s, const char *path, zkc_watch_fn wfn, void *warg, zkc_done_fn done, void *arg);
int zkc_set(zkc_session *s, const char *path, const void *data, int32_t len, int32_t version, zkc_done_fn done,
	    void *arg);
int zkc_get_acl(zkc_session *s, const char *path, zkc_done_fn done, void *arg);
/* set_acl: version is the expected aversion (-1 any). */
int zkc_set_acl(zkc_session *s, const char *path, const struct zk_acl_vec *acl, int32_t version, zkc_done_fn done,
		void *arg);
/* get_children: uses getChildren2, so r.stat is the parent's Stat. */
int zkc_get_children(zkc_session *s, const char *path, zkc_watch_fn wfn, void *warg, zkc_done_fn done, void *arg);
int zkc_sync(zkc_session *s, const char *path, zkc_done_fn done, void *arg);

/*
 * multi (atomic writes: ZOP_CREATE/CREATE2/CREATECONTAINER/CREATETTL, DELETE,
 * SETDATA, CHECK) and multi_read (ZOP_GETDATA, ZOP_GETCHILDREN).  The caller
 * fills ops[i].type, path and the members the type uses (see struct zk_op in
 * records.h; acl with n == 0 means zkc_acl_open); they are copied.
 * err is ZE_OK when the reply arrived; for multi the outcome is in
 * res[i].err (the failing op has its code, the others 0 or
 * ZE_RUNTIMEINCONSISTENCY).  Watches are not set by multi_read.
 */
int zkc_multi(zkc_session *s, const struct zk_op *ops, int nops, zkc_done_fn done, void *arg);
int zkc_multi_read(zkc_session *s, const struct zk_op *ops, int nops, zkc_done_fn done, void *arg);
/* First failing op's code of a multi result, or ZE_OK. */
int zkc_multi_err(const struct zkc_result *res);

/*
 * Persistent watches (ZooKeeper 3.6+): mode ZK_ADDWATCH_PERSISTENT (events
 * of the node and NodeChildrenChanged) or ZK_ADDWATCH_PERSISTENT_RECURSIVE
 * (created/deleted/changed of the node and every descendant).  wfn is
 * called for every event until removed or the session ends.
 */
int zkc_add_watch(zkc_session *s, const char *path, int mode, zkc_watch_fn wfn, void *warg, zkc_done_fn done,
		  void *arg);
/*
 * Removes watches of `type` (ZK_WATCHER_CHILDREN, DATA, ANY, PERSISTENT,
 * PERSISTENT_RECURSIVE) on path.  wfn == NULL removes every watcher of that
 * type, else only (wfn, warg).  The server is asked only when no local
 * watcher of that type remains.  local == true removes locally even when
 * the server cannot be reached.  Removed watchers get their final
 * ZK_EVENT_*_WATCH_REMOVED call.  ZE_NOWATCHER when nothing matched.
 * Servers before 3.9 know only types 1-3: a persistent type is removed on
 * the wire with ANY, and only when the path has no other local watch (else
 * the removal is local; the server's leftover events are then ignored).
 */
int zkc_remove_watches(zkc_session *s, const char *path, int type, zkc_watch_fn wfn, void *warg, bool local,
		       zkc_done_fn done, void *arg);
/* checkWatches: ZE_OK if a watch of that type exists (locally and, for
 * types 1-3, on the server), ZE_NOWATCHER otherwise. */
int zkc_check_watches(zkc_session *s, const char *path, int type, zkc_done_fn done, void *arg);
int zkc_get_ephemerals(zkc_session *s, const char *prefix, zkc_done_fn done, void *arg);
int zkc_get_all_children_number(zkc_session *s, const char *path, zkc_done_fn done, void *arg);
int zkc_whoami(zkc_session *s, zkc_done_fn done, void *arg);
/*
 * addAuth: sent now (if connected) and after every reconnect.  done is
 * called with ZE_OK when the server accepted it, ZE_AUTHFAILED when it
 * refused (the session is then AUTH_FAILED).
 */
int zkc_add_auth(zkc_session *s, const char *scheme, const void *data, size_t len, zkc_done_fn done, void *arg);

/* ------------------------------------------------------------------ blocking client */

/*
 * Starts a client: a loop thread on which its sessions live.  Returns ZE_OK
 * and *out, or ZE_SYSTEMERROR.
 */
int zkc_client_new(zkc_client **out);
/*
 * Closes every session still open on the client (as zkc_b_close), stops the
 * loop thread and frees the client.  No other call on it may be running or
 * follow.
 */
void zkc_client_free(zkc_client *c);
/*
 * Runs fn(c's loop, arg) on the loop thread, soon (asynchronously; the call
 * returns at once).  This is how a threaded program uses the async API on a
 * client's loop.  Returns ZE_OK or ZE_SYSTEMERROR.
 */
int zkc_client_run(zkc_client *c, void (*fn)(uv_loop_t *loop, void *arg), void *arg);
/* True when called on c's loop thread. */
bool zkc_client_on_loop(const zkc_client *c);

/*
 * Opens a session on the client.  wait_ms > 0: waits until it is connected
 * (ZE_OK), expired / refused (error, session freed), or wait_ms elapsed
 * (ZE_OPERATIONTIMEOUT, session freed).  wait_ms == 0: returns at once with
 * the session connecting in the background (ZE_OK).  opt as for
 * zkc_session_open; its state_cb runs on the loop thread.
 */
int zkc_b_open(zkc_client *c, const char *connect, int timeout_ms, const struct zkc_options *opt, int wait_ms,
	       zkc_session **out);
/* Closes the session (see zkc_session_close) and waits until it is gone. */
void zkc_b_close(zkc_session *s);
/* Default deadline of this session's blocking calls, ms (0 = none).
 * Without a deadline a call still ends: a request on the wire fails with
 * ZE_CONNECTIONLOSS when the connection is lost (detected within 2/3 of the
 * session timeout) and a queued one after a session timeout disconnected. */
void zkc_b_set_deadline(zkc_session *s, int ms);

/*
 * Blocking operations: the same semantics as the async calls, returning the
 * result code.  Output pointers may be NULL when not wanted; what they get
 * is owned by the caller (free(), zk_str_vec_free, zk_acl_vec_free,
 * zkc_result_free).  Outputs are written only on ZE_OK.  Watchers run on
 * the client's loop thread.  Session must belong to a zkc_client.
 */
int zkc_b_create(zkc_session *s, const char *path, const void *data, int32_t len, const struct zk_acl_vec *acl,
		 int mode, int64_t ttl, char **created, struct zk_stat *stat);
int zkc_b_delete(zkc_session *s, const char *path, int32_t version);
int zkc_b_exists(zkc_session *s, const char *path, zkc_watch_fn wfn, void *warg, struct zk_stat *stat);
/* *data is malloc'd and NUL-terminated (NULL when the node has null data,
 * with *len = -1). */
int zkc_b_get(zkc_session *s, const char *path, zkc_watch_fn wfn, void *warg, uint8_t **data, int32_t *len,
	      struct zk_stat *stat);
int zkc_b_set(zkc_session *s, const char *path, const void *data, int32_t len, int32_t version,
	      struct zk_stat *stat);
int zkc_b_get_acl(zkc_session *s, const char *path, struct zk_acl_vec *acl, struct zk_stat *stat);
int zkc_b_set_acl(zkc_session *s, const char *path, const struct zk_acl_vec *acl, int32_t version,
		  struct zk_stat *stat);
int zkc_b_get_children(zkc_session *s, const char *path, zkc_watch_fn wfn, void *warg, struct zk_str_vec *children,
		       struct zk_stat *stat);
int zkc_b_sync(zkc_session *s, const char *path);
/* res receives the per-op results (also when the multi failed: then the
 * return value is the first failing op's code). */
int zkc_b_multi(zkc_session *s, const struct zk_op *ops, int nops, struct zkc_result *res);
int zkc_b_multi_read(zkc_session *s, const struct zk_op *ops, int nops, struct zkc_result *res);
int zkc_b_add_watch(zkc_session *s, const char *path, int mode, zkc_watch_fn wfn, void *warg);
int zkc_b_remove_watches(zkc_session *s, const char *path, int type, zkc_watch_fn wfn, void *warg, bool local);
int zkc_b_check_watches(zkc_session *s, const char *path, int type);
int zkc_b_get_ephemerals(zkc_session *s, const char *prefix, struct zk_str_vec *paths);
int zkc_b_get_all_children_number(zkc_session *s, const char *path, int32_t *number);
int zkc_b_whoami(zkc_session *s, struct zkc_result *res);
int zkc_b_add_auth(zkc_session *s, const char *scheme, const void *data, size_t len);

/*
 * "Did my write apply?" after ZE_CONNECTIONLOSS.  They look at the server's
 * state now (after a sync), so they answer for the write and nothing else
 * only under the stated assumptions.  Return ZKC_APPLIED, ZKC_NOT_APPLIED,
 * ZKC_UNKNOWN or a (negative) ZooKeeper error code of the check itself.
 *
 * create_applied: for a non-sequential path: APPLIED when the node exists
 * with our data (and, for ephemeral modes, ephemeralOwner == this session);
 * NOT_APPLIED when it does not exist; UNKNOWN when it exists with other
 * data or another owner (someone else created it, or changed it since).
 * For sequential modes `path` is the prefix passed to create: the parent's
 * children whose name is the prefix's last component + 10 digits are
 * examined; APPLIED when one has our data and (ephemeral modes) is owned by
 * this session — for persistent sequential nodes the payload must be unique
 * to this writer for the answer to mean anything; its path goes to
 * *created (malloc'd, may be NULL).  NOT_APPLIED when none matches.
 *
 * set_applied: the set was conditional on `version` (not -1): APPLIED when
 * the node has version + 1 and our data; NOT_APPLIED when it still has
 * `version`; UNKNOWN otherwise (another writer changed it afterwards or
 * instead) or for version -1 with different data.
 */
enum { ZKC_NOT_APPLIED = 0, ZKC_APPLIED = 1, ZKC_UNKNOWN = 2 };
int zkc_b_create_applied(zkc_session *s, const char *path, const void *data, int32_t len, int mode, char **created);
int zkc_b_set_applied(zkc_session *s, const char *path, const void *data, int32_t len, int32_t version);

/* ------------------------------------------------------------------ errors */

/* Text for a result code ("no node", ...). */
const char *zkc_strerror(int err);
/* A positive errno for a result code: NONODE→ENOENT, NODEEXISTS→EEXIST,
 * NOTEMPTY→ENOTEMPTY, NOAUTH→EACCES, AUTHFAILED→EACCES,
 * BADVERSION→EAGAIN (retry with a fresh version), BADARGUMENTS and
 * INVALIDACL→EINVAL, NOCHILDRENFOREPHEMERALS→EPERM, OPERATIONTIMEOUT→ETIMEDOUT,
 * SESSIONEXPIRED→ENOTCONN, CLOSING→ESHUTDOWN, THROTTLEDOP→EBUSY,
 * MARSHALLINGERROR→EFBIG, UNIMPLEMENTED→ENOSYS, NOWATCHER→ENOENT,
 * QUOTAEXCEEDED→EDQUOT, NOTREADONLY→EROFS, SYSTEMERROR→ENOMEM, others
 * (CONNECTIONLOSS included)→EIO.  0 for ZE_OK. */
int zkc_errno(int err);

#ifdef __cplusplus
}
#endif
#endif
