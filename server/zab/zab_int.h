/*
 * zab_int.h — the inside of struct zab, shared by the files of the
 * replication protocol: zab.c (life cycle, the txn pipeline, clients),
 * election.c (fast leader election), leader.c and learner.c.
 * Nothing outside server/zab/ includes this.
 */
#ifndef ZKFS_ZAB_INT_H
#define ZKFS_ZAB_INT_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "zab.h"

#define ZAB_MAX_MEMBERS 64 /* ack sets are 64-bit masks */

#define EPOCH_OF(z) ((int64_t)((uint64_t)(z) >> 32))
#define COUNTER_OF(z) ((uint32_t)((uint64_t)(z) & 0xffffffffu))
#define MAKE_ZXID(e, c) ((int64_t)(((uint64_t)(e) << 32) | (uint32_t)(c)))

/* ------------------------------------------------------------------ election */

struct fle_vote {
	int32_t state; /* enum zmsg_state of the sender */
	int64_t leader;
	int64_t zxid;
	int64_t round;
	int64_t epoch; /* peer epoch of the proposed leader */
};

struct fle_slot {
	bool set;
	struct fle_vote v;
};

struct fle {
	int64_t round;		   /* logical clock */
	struct fle_vote proposal;  /* my current proposal */
	struct fle_vote initial;   /* my own vote (leader = me) */
	struct fle_slot *recv;	   /* per member: votes of this round */
	struct fle_slot *out;	   /* per member: votes of settled members */
	int64_t finalize_at;	   /* decide then unless a better vote comes; 0 = not armed */
	int64_t resend_at;	   /* next resend of my proposal */
	int32_t interval;	   /* current resend interval */
	int64_t started_at;	   /* for the election's duration */
};

/* ------------------------------------------------------------------ txn queue */

/* A txn on its way: proposed (leader) or received (learner), not applied. */
struct zentry {
	struct core_txn *txn;
	int64_t zxid;
	size_t size;	   /* encoded size, for stats */
	uint64_t acks;	   /* leader: members (by index) that logged it */
	bool logged;	   /* durable in our log */
	bool committed;	   /* known committed */
	bool acked;	   /* follower: ACK sent */
	void *cookie;	   /* leader: local client call */
	int64_t proposed_at;
	struct zsyncw *syncs; /* leader: syncs answered once this commits */
	struct zentry *next;
};

/* A sync waiting for a commit (leader) or for local apply (learner). */
struct zsyncw {
	int64_t origin;	   /* leader: learner sid, or -1 for a local client */
	void *cookie;	   /* local client */
	int64_t target;	   /* learner: apply up to this zxid first */
	struct zsyncw *next;
};

/* A client call forwarded to the leader, waiting for its commit here. */
struct zfwd {
	int64_t session;
	int32_t cxid;
	int32_t type;
	void *cookie;
	struct zfwd *next;
};

/* ------------------------------------------------------------------ leader side */

enum lh_phase {
	LH_NONE = 0,	  /* no channel */
	LH_INFO,	  /* FOLLOWERINFO/OBSERVERINFO received */
	LH_EPOCH_SENT,	  /* LEADERINFO sent */
	LH_EPOCH_ACKED,	  /* ACKEPOCH received */
	LH_NEWLEADER_SENT,/* sync stream + NEWLEADER queued */
	LH_NEWLEADER_ACKED,
	LH_BROADCAST,	  /* UPTODATE sent */
};

struct zlearner {
	enum lh_phase phase;
	bool observer;		/* joined as observer */
	int64_t accepted_epoch; /* from *INFO */
	int64_t last_zxid;	/* from ACKEPOCH */
	int32_t current_epoch;	/* from ACKEPOCH (-1: already in this epoch) */
	int64_t acked;		/* highest zxid ACKed */
	int64_t last_heard;
	bool forwarding;	/* gets live PROPOSAL/COMMIT/INFORM */
	/* COMMITs held between NEWLEADER and UPTODATE (see try_commit): the
	 * zxids defer_from..defer_to, 0 when none */
	int64_t defer_from, defer_to;
};

enum leader_phase {
	LP_DISCOVERY = 1,
	LP_EPOCH,
	LP_NEWLEADER,
	LP_BROADCAST,
};

/* ------------------------------------------------------------------ learner side */

enum learner_phase {
	FP_CONNECT = 1,	  /* *INFO sent, waiting for LEADERINFO */
	FP_SYNC_WAIT,	  /* ACKEPOCH sent, waiting for DIFF/TRUNC/SNAP */
	FP_SYNCING,	  /* collecting txns until NEWLEADER */
	FP_NEWLEADER_LOG, /* NEWLEADER seen, waiting for the collected txns to be durable */
	FP_UPTODATE_WAIT, /* NEWLEADER acked */
	FP_BROADCAST,
};

/* ------------------------------------------------------------------ zab */

struct zab {
	int64_t my_id;
	int my_idx;
	bool voter;
	struct zab_member *members;
	size_t n_members;
	size_t n_voters;
	struct zab_config cfg; /* members/config_text point at our copies */
	char *config_text;
	struct zab_ops ops;
	struct core *core;

	enum zab_role role;
	bool draining;		/* LOOKING: waiting for the log before voting */
	int64_t accepted_epoch;
	int64_t current_epoch;
	int64_t last_logged;	/* durable in the log */
	int64_t last_submitted; /* handed to log_append */
	int64_t last_committed; /* highest zxid known committed */
	int64_t leader;		/* -1 while looking */
	int64_t epoch;		/* the epoch being established / served */
	int64_t phase_deadline; /* discovery/sync must be done by then */
	int64_t now;
	bool failed;		/* the log failed: never serve again */

	/* txns proposed or received and not applied, in zxid order */
	struct zentry *qhead, *qtail;
	uint32_t qlen;

	/* committed window (applied txns), for DIFF */
	struct core_txn **win;
	uint32_t win_cap, win_start, win_len;
	bool window_reloaded; /* by reload_window in this term as leader */
	int reloading;	      /* in reload_window: 1 before its first txn, 2 after */
	uint64_t win_bytes;	/* estimated memory of the window's txns */
	int64_t last_tick_at;	/* to notice the process did not run for a while */

	/* election */
	struct fle fle;
	int64_t election_ms;
	int64_t elections;

	/* leader */
	enum leader_phase lphase;
	struct zlearner *lrn; /* per member index */
	int64_t next_ping;
	struct zsyncw *local_syncs; /* leader: syncs with nothing outstanding? no: answered at once */
	int64_t last_proposed;
	uint64_t last_proposal_size;

	/* learner */
	enum learner_phase fphase;
	int64_t leader_heard;	/* last packet from the leader */
	int64_t connect_at;	/* next dial (0 = connected/none) */
	int connect_tries;
	bool snap_needed;	/* SNAP/TRUNC happened in this sync */
	int64_t newleader_upto;	/* txns collected before NEWLEADER end here */
	const char *sync_kind;	/* DIFF, TRUNC or SNAP: how this sync went */
	struct zfwd *fwd_head, *fwd_tail;
	struct zsyncw *fsync_head, *fsync_tail; /* syncs sent to the leader */
	struct zsyncw *fsync_done;		 /* answered, waiting for apply */
	struct zsyncw *reval_head, *reval_tail;	 /* revalidations in flight (cookie) */
	struct zmsg_touch *touches;
	int32_t ntouches, cap_touches;
	int64_t next_sid;
};

/* zab.c */
int member_index(const struct zab *z, int64_t id);
bool is_voter_idx(const struct zab *z, int idx);
bool quorum_of(const struct zab *z, uint64_t mask);
void zab_send(struct zab *z, int64_t to, struct zmsg *m); /* frees m's contents */
void go_looking(struct zab *z, const char *why);
void set_role(struct zab *z, enum zab_role role, const char *why);
void queue_push(struct zab *z, struct zentry *e);
void apply_ready(struct zab *z);
void window_add(struct zab *z, struct core_txn *t);
void window_clear(struct zab *z);
int64_t window_min(const struct zab *z);
int64_t window_max(const struct zab *z);
void drop_cookie(struct zab *z, void *cookie);
void log_txn(struct zab *z, struct zentry *e);

/* election.c */
void fle_init(struct zab *z);
void fle_free(struct zab *z);
void fle_start(struct zab *z);
void fle_recv(struct zab *z, int64_t from, const struct zmsg *m);
void fle_tick(struct zab *z);
int64_t fle_next_timer(const struct zab *z);
/* current vote (for replies when not looking) */
void fle_settled_vote(struct zab *z, struct fle_vote *v);

/* leader.c */
void leader_start(struct zab *z);
void leader_stop(struct zab *z);
void leader_recv(struct zab *z, int64_t from, struct zmsg *m);
void leader_channel_down(struct zab *z, int64_t from);
void leader_logged(struct zab *z);
void leader_tick(struct zab *z);
int leader_submit(struct zab *z, int64_t session, const struct core_auth *auth,
		  const struct zk_request *req, void *cookie, int64_t origin);
int leader_create_session(struct zab *z, int64_t sid, int32_t timeout, void *cookie);
void leader_sync(struct zab *z, int64_t origin, void *cookie);
void leader_touch(struct zab *z, int64_t sid, int32_t timeout);
bool leader_revalidate(struct zab *z, int64_t sid, int32_t timeout);

/* learner.c */
void learner_start(struct zab *z);
void learner_stop(struct zab *z);
void learner_recv(struct zab *z, struct zmsg *m);
void learner_channel_down(struct zab *z);
void learner_logged(struct zab *z);
void learner_tick(struct zab *z);
int learner_submit(struct zab *z, int64_t session, const struct core_auth *auth,
		   const struct zk_request *req, void *cookie, int32_t timeout);
void learner_sync(struct zab *z, void *cookie);
void learner_touch(struct zab *z, int64_t sid, int32_t timeout);
int learner_revalidate(struct zab *z, int64_t sid, int32_t timeout, void *cookie);
void learner_check_syncs(struct zab *z);
void learner_applied(struct zab *z, const struct core_txn *t, struct zk_response *resp,
		     bool *answered);

#endif
