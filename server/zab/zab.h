/*
 * zab.h — the replication protocol of an ensemble member, as a pure state
 * machine: fast leader election, Zab's discovery, synchronisation and
 * broadcast, followers and observers, leader-owned sessions.
 *
 * It makes no system calls.  Everything comes in as a call (a message
 * from a peer, a channel lost, the log made txns durable, time passed, a
 * client asked for something) and everything goes out through struct
 * zab_ops (send a message, append to the log, write an epoch file,
 * install a snapshot, answer a client).  The edge (server/edge/) wires
 * that to sockets and files; the simulator (tests/sim/) wires it to a
 * seeded, simulated network, disk and clock and runs whole ensembles in
 * one process.
 *
 * The data tree is the core's (core.h): zab holds the core pointer of its
 * server, prepares writes with core_prep on the leader and applies
 * committed txns with core_apply everywhere.
 *
 * Roles and phases (the function that makes each transition in brackets):
 *
 *      start ──► LOOKING ──(vote decided: me)──► LEADING
 *                  ▲  │                            DISCOVERY: quorum of *INFO ─► new epoch
 *                  │  │                            EPOCH: quorum of ACKEPOCH ─► currentEpoch
 *                  │  │                            NEWLEADER: quorum of acks ─► BROADCAST
 *                  │  └─(decided: other)──► FOLLOWING / OBSERVING
 *                  │                         CONNECT: *INFO sent, LEADERINFO ─► ACKEPOCH
 *                  │                         SYNC: DIFF|TRUNC|SNAP, txns, NEWLEADER ─► log, ACK
 *                  │                         UPTODATE wait ─► BROADCAST (serves clients)
 *                  └──────── any failure, timeout or lost channel [go_looking]
 *
 * Leaving a role drains the log (every txn handed to log_append becomes
 * durable) and applies every logged txn, so a LOOKING server's tree is
 * exactly its log: its election vote (currentEpoch, last logged zxid)
 * describes the tree it would lead with.
 *
 * Invariants kept (and asserted in test builds):
 *   - a server applies a txn only once it is durable in its own log, in
 *     zxid order; so the tree is always a prefix of the log;
 *   - the leader commits a proposal when a quorum of voters, itself
 *     included, has logged it, and commits in zxid order;
 *   - acceptedEpoch >= currentEpoch; both are written before they are
 *     acted on (write_epoch returns only once durable).
 *
 * Channels: see zmsg.h.  The election channel may lose, duplicate and
 * reorder; a quorum channel is FIFO until it is lost, and a loss must be
 * reported to both ends (zab_channel_down) before anything else is sent
 * on the new one.
 */
#ifndef ZKFS_ZAB_ZAB_H
#define ZKFS_ZAB_ZAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "zmsg.h"

struct zab;

enum zab_role {
	ZAB_LOOKING = 0,
	ZAB_FOLLOWING = 1,
	ZAB_LEADING = 2,
	ZAB_OBSERVING = 3,
};

struct zab_member {
	int64_t id;
	bool observer;
};

struct zab_config {
	int64_t my_id;
	const struct zab_member *members; /* copied */
	size_t n_members;
	int32_t tick_ms;	/* tickTime */
	int32_t init_limit;	/* ticks: discovery + sync must finish within */
	int32_t sync_limit;	/* ticks: a silent peer is gone after */
	int32_t finalize_ms;	/* election: wait this long for a better vote once
				 * a quorum agrees (ZooKeeper: 200) */
	int32_t notify_min_ms;	/* election: resend interval, doubling up to max */
	int32_t notify_max_ms;
	int32_t connect_retry_ms; /* learner: redial the leader this often */
	uint32_t commit_log_count; /* committed txns kept for DIFF syncs */
	uint64_t commit_log_bytes; /* ... and at most about this many bytes of them
				      (0 = 8 MiB): a follower's memory stays its tree's */
	uint32_t initial_counter;  /* testing: a new epoch's first counter (1) */
	int64_t config_version;	   /* sent in notifications (0 without reconfig) */
	const char *config_text;   /* NEWLEADER payload; copied; may be NULL */
	int64_t now_ms;		   /* wall clock at start: seeds session ids */
};

/*
 * What zab asks of its environment.  Every callback runs synchronously
 * inside the zab call that caused it and must not call back into zab.
 * Messages passed to send are only borrowed: copy or encode them before
 * returning.
 */
struct zab_ops {
	void *arg;
	/* Sends m to server `to` (election or quorum channel by m->type).
	 * Best effort: a message that cannot be sent is dropped (a quorum
	 * channel that breaks is reported with zab_channel_down). */
	void (*send)(void *arg, int64_t to, const struct zmsg *m);
	/* Closes the quorum channel with `to` (no further messages either way
	 * until the learner opens a new one); no zab_channel_down follows. */
	void (*channel_close)(void *arg, int64_t to);
	/* Appends a txn to the log.  zab_logged reports durability, in order.
	 * t is borrowed. */
	void (*log_append)(void *arg, const struct core_txn *t);
	/* Durably writes acceptedEpoch (accepted = true) or currentEpoch.
	 * Returns 0 or a negative errno (zab then gives up its role). */
	int (*write_epoch)(void *arg, bool accepted, int64_t epoch);
	/* The leader's SNAP arrived: make core nc, at zxid, the durable state
	 * (snapshot written and synced, log entries after zxid dropped) and
	 * the server's core (freeing the old one).  Takes nc on success.
	 * Returns 0 or a negative errno (nc is then zab's to free). */
	int (*install_snapshot)(void *arg, struct core *nc, int64_t zxid);
	/* TRUNC: drop every logged txn after zxid and rebuild the tree from
	 * what remains; *nc gets the new core (the server's from now on; the
	 * old one is freed by the callee).  Returns 0 or a negative errno. */
	int (*truncate)(void *arg, int64_t zxid, struct core **nc);
	/* A txn was applied to the core.  cookie is what the client call that
	 * caused it gave (NULL when it came from elsewhere); resp (its reply,
	 * xid left for the caller) is non-NULL only when cookie is set; zab
	 * frees its members after the call. */
	void (*applied)(void *arg, const struct core_txn *t, void *cookie,
			struct zk_response *resp);
	/* A zab_sync finished (the server has applied every commit the leader
	 * had when it received the sync). */
	void (*synced)(void *arg, void *cookie);
	/* A zab_revalidate was answered. */
	void (*revalidated)(void *arg, void *cookie, bool valid);
	/* A client call will never complete (the server left its role):
	 * release what the cookie holds. */
	void (*dropped)(void *arg, void *cookie);
	/* The role changed (or the leader/epoch within it).  serving: clients
	 * may be served now.  why: a short reason for the log. */
	void (*role)(void *arg, enum zab_role role, bool serving, int64_t leader, int64_t epoch,
		     const char *why);
	/* Optional.  With it, only a leader keeps the whole window of
	 * committed txns that DIFF-syncs learners (commit_log_count /
	 * commit_log_bytes); a learner keeps an eighth of that, enough for
	 * the learners of a failover.  When a leader must sync a
	 * learner whose last zxid `from` is older than its window, this is
	 * called (once per term) to refill the window from the log, which
	 * holds every applied txn: zab_window_take for each logged txn from
	 * `from` (included) up to the last applied, oldest first (zab keeps
	 * what its bounds allow), or nothing when the log cannot serve
	 * `from` (then the learner gets a SNAP).  Without it every member
	 * keeps the whole window. */
	void (*reload_window)(void *arg, int64_t from);
};

/*
 * Creates a member for a core that recovery has filled (snapshot + every
 * logged txn applied: the core's last zxid is the last logged zxid).
 * accepted/current: the epoch files.  Does not start anything: call
 * zab_start.  Returns NULL on a bad config (my_id not a member, no voter)
 * or out of memory.
 */
struct zab *zab_new(const struct zab_config *cfg, const struct zab_ops *ops, struct core *core,
		    int64_t accepted_epoch, int64_t current_epoch);
/* Frees everything zab owns (not the core).  Cookies still held are
 * reported through ops->dropped first. */
void zab_free(struct zab *z);

/* Optional, before zab_start: one txn recovery replayed (in order), so
 * a new leader can DIFF-sync followers that are only a little behind. */
void zab_recovered_txn(struct zab *z, const struct core_txn *t);
/* From ops->reload_window: one logged txn, oldest first; zab takes t. */
void zab_window_take(struct zab *z, struct core_txn *t);

/* Starts looking for a leader. */
void zab_start(struct zab *z, int64_t now_ms);

/* ------------------------------------------------------------------ events */

/* A message from server `from`.  m is zab's afterwards (a SNAP's core
 * included); the struct itself stays the caller's (zeroed). */
void zab_recv(struct zab *z, int64_t now_ms, int64_t from, struct zmsg *m);
/* The quorum channel with `from` broke (connection lost). */
void zab_channel_down(struct zab *z, int64_t now_ms, int64_t from);
/* Every txn given to log_append up to zxid is durable. */
void zab_logged(struct zab *z, int64_t now_ms, int64_t zxid);
/* The log failed for good: leave the ensemble's active members. */
void zab_log_failed(struct zab *z, int64_t now_ms, int err);
/* Time passed; call at least every tick/4 and whenever zab_next_timer_ms
 * says. */
void zab_tick(struct zab *z, int64_t now_ms);
/* The earliest time zab wants zab_tick (an absolute ms). */
int64_t zab_next_timer_ms(const struct zab *z);

/* ------------------------------------------------------------------ clients */

/* True when this member may serve clients (broadcast phase). */
bool zab_serving(const struct zab *z);

/*
 * A client write (any core_is_write opcode but createSession) of session
 * `session` with identities auth (may be NULL).  req is borrowed.  The
 * answer comes through ops->applied with cookie once the txn is applied
 * here.  Returns 0, or -EAGAIN when not serving (nothing is kept).
 */
int zab_submit(struct zab *z, int64_t now_ms, int64_t session, const struct core_auth *auth,
	       const struct zk_request *req, void *cookie);
/*
 * A new session with the requested timeout: picks its id (this server's
 * id in the top byte) into *sid and submits createSession; ops->applied
 * with cookie follows (the txn gives the negotiated timeout).  Returns 0
 * or -EAGAIN.
 */
int zab_create_session(struct zab *z, int64_t now_ms, int32_t timeout_ms, void *cookie,
		       int64_t *sid);
/* sync: ops->synced(cookie) once this server has applied every commit the
 * leader had when it got the request.  Returns 0 or -EAGAIN. */
int zab_sync(struct zab *z, int64_t now_ms, void *cookie);
/* A packet of session sid arrived (its liveness goes to the leader). */
void zab_touch(struct zab *z, int64_t now_ms, int64_t sid, int32_t timeout_ms);
/* A client reconnects here with session sid: asks the leader whether it
 * lives (and moves it here).  ops->revalidated follows (maybe at once).
 * Returns 0 or -EAGAIN. */
int zab_revalidate(struct zab *z, int64_t now_ms, int64_t sid, int32_t timeout_ms, void *cookie);

/* ------------------------------------------------------------------ state */

struct core *zab_core(const struct zab *z);

struct zab_info {
	enum zab_role role;
	bool serving;
	int64_t leader;		  /* -1 while looking */
	int64_t accepted_epoch, current_epoch;
	int64_t last_logged;	  /* zxid */
	int64_t last_committed;	  /* highest zxid known committed */
	uint32_t followers;	  /* leader: learners (followers) connected */
	uint32_t synced_followers; /* leader: followers in broadcast */
	uint32_t synced_observers; /* leader: observers in broadcast */
	uint32_t pending_syncs;	  /* syncs waiting */
	uint32_t quorum_size;	  /* voters needed */
	uint32_t outstanding;	  /* leader: proposals not committed */
	uint64_t last_proposal_size; /* bytes of the last txn proposed (core format) */
	int64_t election_ms;	  /* duration of the last election */
	int64_t elections;	  /* elections run */
	int64_t round;		  /* election logical clock */
};
void zab_get_info(const struct zab *z, struct zab_info *out);

const char *zab_role_name(enum zab_role r);

#endif
