/*
 * core.h — the pure core of zkfs-server: data tree, session table, watch
 * manager, ACL checks and txn prep/apply, as one state machine that makes
 * no system calls.  Time comes in as arguments (milliseconds), output goes
 * out through the reply structs and the hooks given at core_new; the edge
 * (server/server.c on libuv) owns sockets, files and clocks.
 *
 * The request pipeline as the core sees it:
 *
 *   write:  core_prep(request) ─► struct core_txn (a state delta, zxid fixed)
 *             ─► [edge: core_txn_encode, log + fsync / replicate]
 *             ─► core_apply(txn, reply) ─► tree + sessions change, watches fire
 *   read:   core_read(request, reply)  (served from the applied tree)
 *
 * Several writes may be prepared before the first is applied: prep validates
 * against the applied tree plus every prepared-but-not-applied change (like
 * ZooKeeper's outstanding change records).  Txns must be applied in the order
 * they were prepared.  A txn is self-contained: it carries the resulting
 * versions, zxids, times and data, so applying it twice (fuzzy snapshot +
 * log replay) gives the same state, and a follower can apply the leader's
 * bytes without prep.
 *
 * Conventions: functions return 0 or a negative errno; ZooKeeper error codes
 * (enum zk_err) appear only in replies (zk_response.err / zk_result.err).
 * Out of memory inside the core aborts the process (a half-applied txn is
 * worse than a crash; the log replays it).  Nothing here is thread-safe: one
 * thread drives a core, snapshots included (they are taken in steps on
 * that thread, between txns).
 */
#ifndef ZKFS_SERVER_CORE_H
#define ZKFS_SERVER_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jute.h"
#include "records.h"
#include "zk.h"

struct core;
struct core_txn;
struct core_auth;

/* ------------------------------------------------------------------ watchers */

/*
 * A watcher is what a watch belongs to: in the server, one per connection.
 * The edge embeds a struct core_watcher in its connection object, zeroes it
 * (or calls core_watcher_init) before first use and calls core_watcher_gone
 * when the connection goes away.  The fields are the core's; the edge may
 * only read `nwatches` (its number of watches, for cons/wchc).
 */
struct core_watcher {
	void *head;	   /* core-private: list of this watcher's watches */
	uint64_t mark;	   /* core-private: dedup stamp of the last trigger */
	uint32_t nwatches; /* read-only for the edge */
	/* core-private: the identities of the watcher's connection, as last
	 * given to core_read (a notification needs READ on its node) */
	const struct core_auth *auth;
};

static inline void core_watcher_init(struct core_watcher *w)
{
	w->head = NULL;
	w->mark = 0;
	w->nwatches = 0;
	w->auth = NULL;
}

/*
 * Hooks from the core to the edge.
 *
 * notify: a watch of `w` fired.  Called synchronously from core_apply (once
 * per (trigger, watcher), after the txn's change is visible in the tree) and
 * from core_read of setWatches/setWatches2 (replayed events), always before
 * the call returns, so the edge can queue the event ahead of the reply that
 * caused it.  `path` is only valid during the call.  `zxid` is the zxid of
 * the triggering txn (for setWatches replay: the last applied zxid).
 * The hook must not call back into the core.
 * As in ZooKeeper, a watcher whose connection lacks READ permission on the
 * node an event is about (for NodeChildrenChanged: the parent) at trigger
 * time does not hear it; its watch is consumed all the same.  setWatches
 * replay is not filtered (ZooKeeper does not filter it either).
 */
struct core_hooks {
	void (*notify)(void *arg, struct core_watcher *w, int32_t event_type, const char *path,
		       int64_t zxid);
	void *arg;
};

/* ------------------------------------------------------------------ config */

struct core_config {
	int32_t tick_ms;		/* default 2000 when 0 */
	int32_t min_session_timeout_ms; /* default 2 * tick when 0 */
	int32_t max_session_timeout_ms; /* default 20 * tick when 0 */
	bool ttl_enabled;		/* zookeeper.extendedTypesEnabled: createTTL allowed */
	const char *super_digest;	/* "super:BASE64(SHA1(super:password))" or NULL; copied */
	bool sasl_acl;			/* the sasl ACL scheme is valid (ZooKeeper's
					   SASLAuthenticationProvider is configured); sasl
					   ids themselves come from the edge (sasl.c) */
	int64_t server_id;		/* myid (0 standalone); top byte of session ids */
	int64_t now_ms;			/* wall clock at start: seeds session ids */
	uint8_t session_secret[16];	/* mixes into session passwords; all zero = fixed default.
					   Must be the same across restarts (sessions survive). */
	bool zk_passwords;		/* passwords as Apache ZooKeeper makes them (a pure
					   function of the id, the same on every server):
					   sessions move between ensemble members, Apache
					   servers included; session_secret is then unused */
	bool digest;			/* keep ZooKeeper's tree digest (digest.h): stamp
					   every prepared txn with it, check the stamp of
					   every applied txn that has one */
	struct core_hooks hooks;
};

/*
 * Creates a core holding only the reserved nodes (/, /zookeeper,
 * /zookeeper/quota, /zookeeper/config) and no sessions, last zxid 0.
 * Returns NULL on bad config (tick <= 0, min > max) or out of memory.
 */
struct core *core_new(const struct core_config *cfg);
/* Frees everything.  Watchers are not touched (their connections may be
 * gone already): a watcher that still had watches must be re-initialised
 * (core_watcher_init) before use with another core. */
void core_free(struct core *c);

/* ------------------------------------------------------------------ caller identity */

/* One authenticated identity of a connection (whoAmI shows these). */
struct core_auth_id {
	char *scheme; /* "ip", "digest", "super", ... */
	char *id;     /* "127.0.0.1", "user:BASE64", "" ... */
};

/*
 * The identities of one connection; the edge owns one per connection.
 * core_auth_init adds the implicit ip:<addr> identity (addr is the remote
 * address as text, e.g. "127.0.0.1" or "::1"; NULL for none).
 */
struct core_auth {
	int n;
	int cap;
	struct core_auth_id *ids;
};

void core_auth_init(struct core_auth *a, const char *ip_addr);
void core_auth_free(struct core_auth *a);

/*
 * Handles an AuthPacket (scheme, auth bytes).  "digest" with "user:password"
 * adds digest:user:BASE64(SHA1("user:password")) and, when that matches the
 * configured super digest, also super:"" (which passes every ACL check).
 * "ip" is accepted as a no-op (ip identity is implicit).  Returns 0, or
 * -EACCES for an unknown scheme or malformed auth data (the edge replies
 * AuthFailed -115 and closes).  Adding an id twice is harmless.
 */
int core_auth_add(struct core *c, struct core_auth *a, const char *scheme, const uint8_t *auth,
		  int32_t len);

/*
 * Adds the identity of a verified TLS client certificate: x509:<dn>, the
 * subject's RFC 2253 name, preceded by super:<dn> when super is true (the
 * edge compares dn with X509AuthenticationProvider.superUser), in the order
 * ZooKeeper's X509AuthenticationProvider adds them.
 */
void core_auth_add_x509(struct core_auth *a, const char *dn, bool super);

/* ------------------------------------------------------------------ writes */

/* True for opcodes that go through core_prep/core_apply: create (1, 15, 19,
 * 21), delete (2), setData (5), setACL (7), multi (14), deleteContainer (20),
 * createSession (-10), closeSession (-11).  Everything else is core_read's
 * (or the edge's: ping, auth, sasl, reconfig). */
bool core_is_write(int32_t type);

/*
 * Prepares a write request of session `session_id` (0 = the server itself:
 * no session or ACL checks) whose connection has identities `auth` (NULL =
 * none).  Validates in ZooKeeper's error precedence, checks ACLs, computes
 * the resulting delta against the applied tree plus all outstanding
 * (prepared, not applied) txns, assigns the next zxid and returns the txn in
 * *out (owned by the caller: core_txn_free after core_apply).
 *
 * A request that fails validation still yields a txn (an error txn that
 * consumes its zxid and, applied, changes nothing but last zxid and answers
 * with the error).  A session that is unknown or closing gets a
 * SessionExpired error txn.  Multi is all-or-nothing under one zxid.
 * A multi holding anything but create, delete, setData or check is refused
 * whole with MarshallingError (-5); failed multis answer per op: 0 for the
 * ops before the failing one, its code, -2 after (reply header err 0).
 * closeSession (-11) deletes the session's ephemerals (applied and pending)
 * and marks the session closing at once (later preps of it fail).
 * deleteContainer (20) with session_id 0 is core_prep_delete_container;
 * sent by a client it answers BadArguments (as ZooKeeper).  createSession
 * goes through core_prep_create_session.
 * Ops that can't be written: -EINVAL (the edge answers Unimplemented/-6).
 * Returns 0 or -EINVAL.
 */
int core_prep(struct core *c, int64_t session_id, const struct core_auth *auth,
	      const struct zk_request *req, int64_t now_ms, struct core_txn **out);

/*
 * Prepares createSession: picks a new session id, clamps the requested
 * timeout to [min, max], registers the session with the expiry tracker as
 * live (touch at now_ms) so its first requests can be prepared before the
 * txn is applied.  *sid_out / *timeout_out get the id and negotiated timeout.
 * Returns 0.
 */
int core_prep_create_session(struct core *c, int32_t timeout_ms, int64_t now_ms, int64_t *sid_out,
			     int32_t *timeout_out, struct core_txn **out);

/*
 * The same with the session id chosen by the caller: in an ensemble each
 * server numbers the sessions of its own clients (its id in the top byte)
 * and the leader prepares them.  Returns 0, or -EEXIST when sid is already
 * known (the txn is then not made).
 */
int core_prep_create_session_id(struct core *c, int64_t sid, int32_t timeout_ms, int64_t now_ms,
				int32_t *timeout_out, struct core_txn **out);

/* Prepares closeSession for an expired (or otherwise ended) session; same as
 * core_prep of opcode -11 by the session itself.  Returns 0. */
int core_prep_close_session(struct core *c, int64_t session_id, int64_t now_ms,
			    struct core_txn **out);

/* Prepares the internal deleteContainer (opcode 20) of a path reported by
 * core_reap: deletes it if it is still a childless container or an expired
 * childless TTL node, else an error txn (NotEmpty/NoNode/BadArguments).
 * Returns 0. */
int core_prep_delete_container(struct core *c, const char *path, int64_t now_ms,
			       struct core_txn **out);

/*
 * Applies a committed txn: changes tree and session table, fires watches
 * through hooks.notify (before returning), advances the last applied zxid,
 * drops the txn's outstanding change records.  When `reply` is not NULL it
 * is filled (zxid, err, body r or res[] for multi — malloc'd members the
 * caller frees with zk_response_free; xid is left for the caller).
 * When the txn was prepared by this core, it must be the oldest outstanding
 * one.  Txns from elsewhere (log replay, a leader) are accepted as long as
 * no txn is outstanding; deltas already present in the tree are re-applied
 * harmlessly (idempotent).  A txn whose zxid <= the last applied zxid is
 * still applied (replay after a fuzzy snapshot), except on nodes that hold
 * a later state: a create under, or a delete/setACL of, a node created
 * after the txn (a later incarnation of the path), and a setData older
 * than the node's last change, leave the node alone.  Never fails.
 */
void core_apply(struct core *c, const struct core_txn *t, struct zk_response *reply);

/* Throws away every outstanding prepared txn (their change records and
 * pending sessions), e.g. when a log write failed and the edge stops
 * accepting writes, or leadership was lost.  The next zxid goes back to
 * last applied + 1.  Txn objects stay owned by the caller (free them, never
 * apply them).  Sessions marked closing stay closing: whoever prepared their
 * close must submit it again. */
void core_prep_reset(struct core *c);

void core_txn_free(struct core_txn *t);

/* Accessors of a txn. */
int64_t core_txn_zxid(const struct core_txn *t);
/* Opcode of the txn: the request's type, or -1 (ZOP_ERROR) for an error txn. */
int32_t core_txn_type(const struct core_txn *t);
/* Session that issued it (createSession: the new session). */
int64_t core_txn_session(const struct core_txn *t);
/* The xid of the client request it came from (0 for txns the server made:
 * createSession, expiry, reaping); replicas match commits to the requests
 * they forwarded by (session, cxid). */
int32_t core_txn_cxid(const struct core_txn *t);
/* 0, or the ZooKeeper error code an error txn will answer with. */
int32_t core_txn_err(const struct core_txn *t);
/* True when t carries a tree digest stamp (cfg.digest), then in *digest. */
bool core_txn_digest(const struct core_txn *t, int64_t *digest);

/*
 * Txn serialisation for the log and replication: appends a self-describing
 * record (format version first) to o.  The storage layer writes the bytes
 * opaquely.  core_txn_decode parses them into a new txn (*out, caller frees);
 * returns 0, -EBADMSG (malformed or unknown version) or -ENOMEM.
 */
void core_txn_encode(const struct core_txn *t, struct jute_out *o);
int core_txn_decode(const void *buf, size_t len, struct core_txn **out);
#define CORE_TXN_FORMAT 2

/* Zxids.  last applied = the "Zxid" of srvr and the zxid of read replies and
 * pings.  core_set_next_zxid lets replication start a new epoch (epoch<<32)
 * or the storage set the position after recovery (must be > last applied;
 * only while nothing is outstanding; returns 0 or -EINVAL). */
int64_t core_last_zxid(const struct core *c);
int core_set_next_zxid(struct core *c, int64_t zxid);
/* Number of prepared, not yet applied txns. */
uint32_t core_outstanding(const struct core *c);

/* ------------------------------------------------------------------ reads */

/*
 * Serves a read-side request of session `session_id` on a connection with
 * identities `auth` and watcher `w` (may be NULL: no watches registered).
 * w remembers auth (the watcher's permissions when its watches fire), so
 * auth must stay valid until core_watcher_gone(w) — the edge keeps both in
 * the connection; identities added to *auth later count, as in ZooKeeper.
 * Requests served:
 * exists, getData, getChildren, getChildren2, getACL, getAllChildrenNumber,
 * getEphemerals, multiRead, whoAmI, checkWatches, removeWatches, addWatch,
 * setWatches, setWatches2, sync (standalone: echoes the path).
 * Fills out->zxid (last applied), out->err and the body (out->r, or
 * out->res[] for multiRead; malloc'd members, zk_response_free).  xid is
 * the caller's.  Watches are registered as ZooKeeper does (exists on a
 * missing node sets a data watch; getData/getChildren on a missing node
 * don't).  setWatches delivers replayed events through hooks.notify before
 * returning.  "" reads as "/" (as ZooKeeper).  multiRead answers per op
 * (errors as -1 results) and never aborts; one holding a write answers
 * MarshallingError in the header.  Returns 0, or -EINVAL for an opcode that
 * is not a read (the edge answers Unimplemented).
 */
int core_read(struct core *c, int64_t session_id, const struct core_auth *auth,
	      struct core_watcher *w, const struct zk_request *req, struct zk_response *out);

/* Drops every watch of `w` (connection closed).  w may be reused after.
 * Watch semantics, as checked against Apache ZooKeeper 3.8: a persistent
 * watch has a data side and a child side (checkWatches/removeWatches of type
 * Data or Children see only that side), a persistent-recursive one answers
 * both types but never fires NodeChildrenChanged; an unknown watcher type
 * or addWatch mode answers MarshallingError (-5); paths of check/remove/
 * addWatch are not validated (a bad path simply has no watch). */
void core_watcher_gone(struct core *c, struct core_watcher *w);

/* ------------------------------------------------------------------ sessions */

/* Negotiated timeout for a requested one: clamp to [min, max]. */
int32_t core_session_clamp(const struct core *c, int32_t timeout_ms);

/* The 16-byte password of a session id (a pure function of id and secret,
 * or with zk_passwords of the id alone, as ZooKeeper's
 * new Random(id ^ 0xB3415C00).nextBytes). */
void core_session_password(const struct core *c, int64_t sid, uint8_t out[16]);

/*
 * Reconnect check: returns 0 when `sid` is a live (applied or pending
 * create, not closing) session and passwd matches, with its timeout in
 * *timeout_out; -ENOENT when unknown/expired/closing; -EACCES on a bad
 * password.  Touches nothing.
 */
int core_session_validate(const struct core *c, int64_t sid, const uint8_t passwd[16],
			  int32_t *timeout_out);

/* True when sid is live (known and not closing). */
bool core_session_live(const struct core *c, int64_t sid);

/*
 * Leader-local liveness: any packet of the session (pings included) calls
 * touch; it moves the session to the expiry bucket of now + timeout
 * (rounded up to a tick).  Returns 0, or -ENOENT when the session is
 * unknown or closing (the edge then treats the connection as expired).
 */
int core_session_touch(struct core *c, int64_t sid, int64_t now_ms);

/*
 * Reports every session whose bucket time <= now_ms through cb (once per
 * session) and marks it closing, so it won't be reported again and its
 * requests fail; the edge then submits core_prep_close_session for it.
 * Call it every tick.  Returns the number reported.
 */
int core_session_expired(struct core *c, int64_t now_ms, void (*cb)(void *arg, int64_t sid),
			 void *arg);

/* Rebuilds the expiry tracker after recovery (snapshot + log): every
 * session of the table gets a fresh full timeout from now_ms.  Also links
 * ephemerals a fuzzy snapshot held before their session existed. */
void core_session_restart_tracking(struct core *c, int64_t now_ms);

/* ------------------------------------------------------------------ reaping */

/*
 * Lists nodes to reap: containers that are childless with stored cversion
 * > 0, and TTL nodes that are childless with now_ms - mtime > ttl.  Paths
 * are valid only during the callback; the edge submits
 * core_prep_delete_container for each.  Returns the number listed.
 */
int core_reap(struct core *c, int64_t now_ms, void (*cb)(void *arg, const char *path), void *arg);

/* ------------------------------------------------------------------ snapshots */

/*
 * Fuzzy snapshots.  core_snapshot_begin tags a snapshot with the last
 * applied zxid and emits the header and the session table at once; each
 * core_snapshot_step then emits up to max_nodes more nodes (parents before
 * children, each with its ACL record first), so the edge spreads the work
 * over loop iterations while txns keep being applied between steps.  The
 * result mixes states from the tag on; recovery replays every txn after
 * the tag, and replay is idempotent over later states (core_apply), which
 * makes it exact (see tree.h, struct tree_walker, for what the walk
 * guarantees).  emit gets every record in order and returns 0 or a
 * negative errno, which stops the snapshot and is returned.
 * core_snapshot_begin returns 0 or emit's error with *out set either way;
 * core_snapshot_step returns 0 while nodes remain, 1 once the end record is
 * out, or emit's error; core_snapshot_end (always, once) frees it.  At most
 * one snapshot per core at a time; it must end before core_free.
 */
struct core_snap;
int core_snapshot_begin(struct core *c, int (*emit)(void *arg, const void *rec, size_t len),
			void *arg, struct core_snap **out);
int core_snapshot_step(struct core_snap *s, size_t max_nodes);
void core_snapshot_end(struct core_snap *s);
/* The zxid the snapshot is tagged with; nodes emitted so far. */
int64_t core_snapshot_zxid(const struct core_snap *s);
uint64_t core_snapshot_nodes(const struct core_snap *s);

/* A whole snapshot in one call, of a core nothing changes meanwhile (it
 * may run while a stepped snapshot is under way).  Returns 0 or emit's
 * error. */
int core_snapshot_write(const struct core *c,
			int (*emit)(void *arg, const void *rec, size_t len), void *arg);

/*
 * Feeds one record written by core_snapshot_write, in order, into a core
 * fresh from core_new.  Returns 0, 1 after the end record (the load is
 * complete: last zxid is set), or -EBADMSG.
 */
int core_snapshot_load(struct core *c, const void *rec, size_t len);
/* Emits, as the ACL records of core_snapshot_write, every ACL slot in use
 * (the fixed slots 0 and 1 excepted), by slot: for a writer that needs
 * the whole ACL map before the nodes.  Returns 0 or emit's error. */
int core_snapshot_acls(const struct core *c,
		       int (*emit)(void *arg, const void *rec, size_t len), void *arg);

/* ------------------------------------------------------------------ stats */

struct core_stats {
	uint64_t nodes;	      /* zk_znode_count: nodes + 1, as ZooKeeper (its node
				 map holds the root twice); 5 on a fresh server */
	uint64_t watches;     /* zk_watch_count: data-side + child-side registrations
				 (a getData and a getChildren watch on one path by one
				 connection count 2, as in ZooKeeper) */
	uint64_t watch_paths; /* distinct watched paths */
	uint64_t watchers;    /* watchers with at least one watch */
	uint64_t ephemerals;  /* zk_ephemerals_count */
	uint64_t data_size;   /* zk_approximate_data_size: sum of path + data lengths */
	uint64_t sessions;    /* sessions in the table */
	int64_t last_zxid;
	int64_t digest;			/* the tree digest (0 unless cfg.digest) */
	uint64_t digest_mismatches;	/* zk_digest_mismatches_count: applied txns
					   whose stamp differed from the tree after them */
	int64_t digest_mismatch_zxid;	/* the first of them, 0 if none */
};

void core_get_stats(const struct core *c, struct core_stats *st);

/* ZooKeeper's tree digest of c by a full walk (digest.h), whether or not
 * cfg.digest keeps it incrementally: for checks.  O(nodes). */
int64_t core_digest_full(const struct core *c);
/* Applied txns whose digest stamp differed from the tree after them. */
uint64_t core_digest_mismatches(const struct core *c);

/* The three numbers of wchs as ZooKeeper prints them ("<watchers>
 * connections watching <paths> paths / Total watches:<watches>"): ZooKeeper
 * counts only data-side watches there (getData/exists, persistent and
 * recursive ones), unlike zk_watch_count.  Walks all watches. */
void core_wchs(struct core *c, uint64_t *watchers, uint64_t *paths, uint64_t *watches);

/* Every watch, grouped by path (wchp): cb(path, watcher) per registration.
 * Like ZooKeeper's wchp/wchc, this and core_watches_of list data-side
 * watches only (a getChildren-only watch does not show). */
void core_watches_by_path(const struct core *c,
			  void (*cb)(void *arg, const char *path, struct core_watcher *w),
			  void *arg);
/* The paths watched by one watcher (wchc). */
void core_watches_of(const struct core *c, const struct core_watcher *w,
		     void (*cb)(void *arg, const char *path), void *arg);
/* Every session (dump, cons): id, negotiated timeout, number of ephemerals. */
void core_sessions_each(const struct core *c,
			void (*cb)(void *arg, int64_t sid, int32_t timeout_ms,
				   uint32_t nephemerals),
			void *arg);
/* The ephemeral paths of one session (dump). */
void core_session_ephemerals(const struct core *c, int64_t sid,
			     void (*cb)(void *arg, const char *path), void *arg);

#endif
