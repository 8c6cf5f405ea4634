/*
 * session.h — sessions of the core: the replicated session table (id,
 * negotiated timeout, ephemeral nodes) and the leader-local expiry tracker.
 *
 * Lifecycle of a session (who moves it):
 *
 *   (none) --core_prep_create_session--> PENDING (tracked, not applied)
 *   PENDING --core_apply(createSession)--> LIVE (applied, tracked)
 *   LIVE --core_session_expired / core_prep(closeSession)--> CLOSING
 *   CLOSING --core_apply(closeSession)--> (none)
 *
 * A follower (or log replay) sees only applied sessions: applied, not
 * tracked, until core_session_restart_tracking.
 *
 * The tracker puts each tracked session in the bucket of its expiry time
 * rounded up to a tick (ZooKeeper's ExpiryQueue): a ring of buckets one
 * tick apart that covers the longest timeout, so touching and expiring are
 * O(1) per session.
 */
#ifndef ZKFS_SERVER_SESSION_H
#define ZKFS_SERVER_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "tree.h"

struct session {
	struct session *hnext;
	struct session *bnext, *bprev; /* tracker bucket */
	struct tnode **eph;	       /* ephemeral nodes; node->aux is the slot */
	uint32_t neph, ecap;
	int64_t sid;
	int64_t expire_at; /* bucket time; 0 = not tracked */
	int32_t timeout;
	bool applied; /* in the replicated table */
	bool closing; /* leader-local: close prepared or expired */
};

struct session_table {
	struct session **tab;
	uint32_t mask;
	uint64_t count;	  /* entries (applied or pending) */
	uint64_t applied; /* applied entries */
	uint64_t neph;	  /* ephemerals of all sessions */
	/* tracker */
	struct session **ring;
	uint32_t nslots;
	int64_t tick;
	int64_t next_exp; /* next bucket time to expire; 0 = not started */
};

void session_table_init(struct session_table *st, int64_t tick_ms, int64_t max_timeout_ms);
void session_table_free(struct session_table *st);

struct session *session_find(const struct session_table *st, int64_t sid);
/* The session of sid, added (not applied, not tracked) when absent. */
struct session *session_get(struct session_table *st, int64_t sid);
/* Removes s from table and tracker and frees it; its ephemerals must have
 * been deleted (their nodes are not touched). */
void session_drop(struct session_table *st, struct session *s);

void session_eph_add(struct session_table *st, struct session *s, struct tnode *n);
void session_eph_del(struct session_table *st, struct session *s, struct tnode *n);

/* Moves s to the bucket of now + timeout. */
void session_track(struct session_table *st, struct session *s, int64_t now_ms);
void session_untrack(struct session_table *st, struct session *s);
/* Untracks and reports (cb) every tracked session whose bucket <= now_ms,
 * marking it closing.  Returns the count. */
int session_expire(struct session_table *st, int64_t now_ms, void (*cb)(void *arg, int64_t sid),
		   void *arg);

/* Iterates every session. */
void session_each(const struct session_table *st, void (*cb)(void *arg, struct session *s),
		  void *arg);

#endif
