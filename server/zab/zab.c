/*
 * zab.c — the replication protocol's life cycle and the parts every role
 * shares: the queue of txns on their way from the log to the tree, the
 * window of recently applied txns (what DIFF syncs are made of), going
 * back to LOOKING, and the client calls, which each role then handles
 * (leader.c, learner.c).  Election is election.c.  See zab.h for the
 * state diagram and the invariants.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "txn.h"
#include "xmem.h"
#include "zab_int.h"

const char *zab_role_name(enum zab_role r)
{
	switch (r) {
	case ZAB_LOOKING:
		return "looking";
	case ZAB_FOLLOWING:
		return "follower";
	case ZAB_LEADING:
		return "leader";
	case ZAB_OBSERVING:
		return "observer";
	}
	return "?";
}

int member_index(const struct zab *z, int64_t id)
{
	for (size_t i = 0; i < z->n_members; i++)
		if (z->members[i].id == id)
			return (int)i;
	return -1;
}

bool is_voter_idx(const struct zab *z, int idx)
{
	return idx >= 0 && (size_t)idx < z->n_members && !z->members[idx].observer;
}

bool quorum_of(const struct zab *z, uint64_t mask)
{
	size_t n = 0;
	for (size_t i = 0; i < z->n_members; i++)
		if ((mask >> i) & 1 && !z->members[i].observer)
			n++;
	return n > z->n_voters / 2;
}

void zab_send(struct zab *z, int64_t to, struct zmsg *m)
{
	z->ops.send(z->ops.arg, to, m);
	zmsg_free(m);
}

void set_role(struct zab *z, enum zab_role role, const char *why)
{
	z->role = role;
	z->ops.role(z->ops.arg, role, zab_serving(z), z->leader, z->epoch, why);
}

/* ------------------------------------------------------------------ window */

/* What a txn costs in memory, roughly (its ops, paths and data). */
static uint64_t txn_cost(const struct core_txn *t)
{
	uint64_t n = sizeof(*t);
	for (int32_t i = 0; i < t->nops; i++) {
		const struct txn_op *op = &t->ops[i];
		n += sizeof(*op) + 16 + (op->path ? strlen(op->path) + 1 : 0) +
		     (op->data_len > 0 ? (uint64_t)op->data_len : 0) +
		     (uint64_t)op->acl.n * 48;
	}
	return n;
}

static void window_drop_oldest(struct zab *z)
{
	struct core_txn *old = z->win[z->win_start];
	z->win_bytes -= txn_cost(old);
	core_txn_free(old);
	z->win_start = (z->win_start + 1) % z->win_cap;
	z->win_len--;
}

/* A learner with ops->reload_window keeps an eighth of the window (625
 * txns, 1 MiB by default: enough for the usual catch-up when it becomes
 * leader after a failover); a leader keeps commit_log_count /
 * commit_log_bytes. */

void window_add(struct zab *z, struct core_txn *t)
{
	uint64_t cost = txn_cost(t);
	uint32_t cap = z->win_cap;
	uint64_t bytes = z->cfg.commit_log_bytes;
	if (z->ops.reload_window && z->role != ZAB_LEADING) {
		cap = cap / 8 ? cap / 8 : 1;
		bytes /= 8;
	}
	while (z->win_len && (z->win_len >= cap || z->win_bytes + cost > bytes))
		window_drop_oldest(z);
	z->win[(z->win_start + z->win_len) % z->win_cap] = t;
	z->win_len++;
	z->win_bytes += cost;
}

void window_clear(struct zab *z)
{
	while (z->win_len)
		window_drop_oldest(z);
	z->win_start = 0;
	z->win_bytes = 0;
}

int64_t window_min(const struct zab *z)
{
	return z->win_len ? core_txn_zxid(z->win[z->win_start]) : core_last_zxid(z->core);
}

int64_t window_max(const struct zab *z)
{
	return z->win_len ? core_txn_zxid(z->win[(z->win_start + z->win_len - 1) % z->win_cap])
			  : core_last_zxid(z->core);
}

/* ------------------------------------------------------------------ txn queue */

void queue_push(struct zab *z, struct zentry *e)
{
	assert(!z->qtail || z->qtail->zxid < e->zxid);
	e->next = NULL;
	if (z->qtail)
		z->qtail->next = e;
	else
		z->qhead = e;
	z->qtail = e;
	z->qlen++;
}

void log_txn(struct zab *z, struct zentry *e)
{
	assert(e->zxid > z->last_submitted);
	z->last_submitted = e->zxid;
	z->ops.log_append(z->ops.arg, e->txn);
}

void drop_cookie(struct zab *z, void *cookie)
{
	if (cookie)
		z->ops.dropped(z->ops.arg, cookie);
}

static void answer_syncs(struct zab *z, struct zsyncw *s)
{
	while (s) {
		struct zsyncw *next = s->next;
		if (s->origin >= 0) {
			struct zmsg m;
			memset(&m, 0, sizeof(m));
			m.type = ZM_SYNC;
			zab_send(z, s->origin, &m);
		} else {
			z->ops.synced(z->ops.arg, s->cookie);
		}
		free(s);
		s = next;
	}
}

/* Applies one txn (the queue's head, logged and committed). */
static void apply_entry(struct zab *z, struct zentry *e)
{
	void *cookie = e->cookie;
	bool learner = z->role == ZAB_FOLLOWING || z->role == ZAB_OBSERVING;
	struct zk_response resp;
	memset(&resp, 0, sizeof(resp));
	bool answered = false;
	if (learner && !cookie) {
		learner_applied(z, e->txn, &resp, &answered);
	} else {
		core_apply(z->core, e->txn, cookie ? &resp : NULL);
		z->ops.applied(z->ops.arg, e->txn, cookie, cookie ? &resp : NULL);
		answered = true;
	}
	(void)answered;
	zk_response_free(&resp);
	if (e->zxid > z->last_committed)
		z->last_committed = e->zxid;
	window_add(z, e->txn);
	answer_syncs(z, e->syncs);
	free(e);
	if (learner)
		learner_check_syncs(z);
}

void apply_ready(struct zab *z)
{
	while (z->qhead && z->qhead->logged && z->qhead->committed) {
		struct zentry *e = z->qhead;
		z->qhead = e->next;
		if (!z->qhead)
			z->qtail = NULL;
		z->qlen--;
		apply_entry(z, e);
	}
}

/* Once every submitted txn is durable, the tree takes the whole log and
 * the election starts. */
static void finish_drain(struct zab *z)
{
	if (!z->draining || z->last_logged < z->last_submitted || z->failed)
		return;
	for (struct zentry *e = z->qhead; e; e = e->next)
		e->committed = true; /* ours to lead with, or to be told otherwise */
	apply_ready(z);
	assert(!z->qhead);
	z->draining = false;
	fle_start(z);
}

void go_looking(struct zab *z, const char *why)
{
	if (z->role == ZAB_LEADING)
		leader_stop(z);
	else if (z->role == ZAB_FOLLOWING || z->role == ZAB_OBSERVING)
		learner_stop(z);
	for (struct zentry *e = z->qhead; e; e = e->next) {
		drop_cookie(z, e->cookie);
		e->cookie = NULL;
		struct zsyncw *s = e->syncs;
		while (s) {
			struct zsyncw *n = s->next;
			if (s->origin < 0)
				drop_cookie(z, s->cookie);
			free(s);
			s = n;
		}
		e->syncs = NULL;
	}
	/* received but never logged txns (a learner's, before NEWLEADER) are
	 * not ours: only what reached the log counts */
	struct zentry **pp = &z->qhead;
	z->qtail = NULL;
	while (*pp) {
		struct zentry *e = *pp;
		if (e->zxid > z->last_submitted) {
			*pp = e->next;
			core_txn_free(e->txn);
			free(e);
			z->qlen--;
		} else {
			z->qtail = e;
			pp = &e->next;
		}
	}
	z->leader = -1;
	z->lphase = 0;
	z->fphase = 0;
	z->draining = true;
	set_role(z, ZAB_LOOKING, why);
	finish_drain(z);
}

/* ------------------------------------------------------------------ life cycle */

struct zab *zab_new(const struct zab_config *cfg, const struct zab_ops *ops, struct core *core,
		    int64_t accepted_epoch, int64_t current_epoch)
{
	if (!cfg->n_members || cfg->n_members > ZAB_MAX_MEMBERS || cfg->tick_ms <= 0)
		return NULL;
	struct zab *z = xcalloc(1, sizeof(*z));
	z->cfg = *cfg;
	z->ops = *ops;
	z->core = core;
	z->my_id = cfg->my_id;
	z->n_members = cfg->n_members;
	z->members = xcalloc(cfg->n_members, sizeof(*z->members));
	memcpy(z->members, cfg->members, cfg->n_members * sizeof(*z->members));
	z->cfg.members = z->members;
	z->config_text = cfg->config_text ? xstrdup(cfg->config_text) : NULL;
	z->cfg.config_text = z->config_text;
	z->my_idx = member_index(z, z->my_id);
	for (size_t i = 0; i < z->n_members; i++)
		if (!z->members[i].observer)
			z->n_voters++;
	if (z->my_idx < 0 || !z->n_voters) {
		free(z->members);
		free(z->config_text);
		free(z);
		return NULL;
	}
	z->voter = !z->members[z->my_idx].observer;
	if (z->cfg.finalize_ms < 0)
		z->cfg.finalize_ms = 0;
	if (z->cfg.notify_min_ms <= 0)
		z->cfg.notify_min_ms = 50;
	if (z->cfg.notify_max_ms < z->cfg.notify_min_ms)
		z->cfg.notify_max_ms = z->cfg.notify_min_ms;
	if (z->cfg.connect_retry_ms <= 0)
		z->cfg.connect_retry_ms = 25;
	if (z->cfg.init_limit <= 0)
		z->cfg.init_limit = 10;
	if (z->cfg.sync_limit <= 0)
		z->cfg.sync_limit = 5;
	if (!z->cfg.initial_counter)
		z->cfg.initial_counter = 1;
	z->win_cap = cfg->commit_log_count ? cfg->commit_log_count : 500;
	if (!z->cfg.commit_log_bytes)
		z->cfg.commit_log_bytes = 8u << 20;
	z->win = xcalloc(z->win_cap, sizeof(*z->win));
	z->lrn = xcalloc(z->n_members, sizeof(*z->lrn));
	fle_init(z);
	z->accepted_epoch = accepted_epoch;
	z->current_epoch = current_epoch;
	z->last_logged = core_last_zxid(core);
	z->last_submitted = z->last_logged;
	z->last_committed = 0;
	z->leader = -1;
	z->role = ZAB_LOOKING;
	uint64_t base = (((uint64_t)cfg->now_ms << 24) >> 8) | ((uint64_t)z->my_id << 56);
	z->next_sid = (int64_t)base;
	return z;
}

void zab_recovered_txn(struct zab *z, const struct core_txn *t)
{
	struct jute_out o;
	jute_out_init(&o);
	core_txn_encode(t, &o);
	struct core_txn *copy = NULL;
	if (!o.err && core_txn_decode(o.buf, o.len, &copy) == 0)
		window_add(z, copy);
	jute_out_free(&o);
}

void zab_window_take(struct zab *z, struct core_txn *t)
{
	if (z->reloading == 1) {
		window_clear(z);
		z->reloading = 2;
	}
	window_add(z, t);
}

void zab_start(struct zab *z, int64_t now_ms)
{
	z->now = now_ms;
	z->draining = false;
	z->role = ZAB_LOOKING;
	set_role(z, ZAB_LOOKING, "start");
	fle_start(z);
}

static void free_syncs(struct zab *z, struct zsyncw *s)
{
	while (s) {
		struct zsyncw *n = s->next;
		if (s->origin < 0)
			drop_cookie(z, s->cookie);
		free(s);
		s = n;
	}
}

void zab_free(struct zab *z)
{
	if (!z)
		return;
	if (z->role == ZAB_LEADING)
		leader_stop(z);
	else if (z->role == ZAB_FOLLOWING || z->role == ZAB_OBSERVING)
		learner_stop(z);
	while (z->qhead) {
		struct zentry *e = z->qhead;
		z->qhead = e->next;
		drop_cookie(z, e->cookie);
		free_syncs(z, e->syncs);
		core_txn_free(e->txn);
		free(e);
	}
	window_clear(z);
	free(z->win);
	free(z->lrn);
	free(z->touches);
	fle_free(z);
	free(z->members);
	free(z->config_text);
	free(z);
}

/* ------------------------------------------------------------------ events */

void zab_recv(struct zab *z, int64_t now_ms, int64_t from, struct zmsg *m)
{
	z->now = now_ms;
	if (m->type == ZM_NOTIFICATION) {
		fle_recv(z, from, m);
	} else if (member_index(z, from) < 0) {
		/* not in the configuration: refused */
		if (m->type == ZM_FOLLOWERINFO || m->type == ZM_OBSERVERINFO)
			z->ops.channel_close(z->ops.arg, from);
	} else if (z->role == ZAB_LEADING) {
		leader_recv(z, from, m);
	} else if ((z->role == ZAB_FOLLOWING || z->role == ZAB_OBSERVING) && from == z->leader) {
		learner_recv(z, m);
	} else if (m->type == ZM_FOLLOWERINFO || m->type == ZM_OBSERVERINFO) {
		/* I do not lead: no such port is open */
		z->ops.channel_close(z->ops.arg, from);
	}
	if (m->snap) /* a SNAP nobody took */
		core_free(m->snap);
	m->snap = NULL;
	zmsg_free(m);
}

void zab_channel_down(struct zab *z, int64_t now_ms, int64_t from)
{
	z->now = now_ms;
	if (z->role == ZAB_LEADING)
		leader_channel_down(z, from);
	else if ((z->role == ZAB_FOLLOWING || z->role == ZAB_OBSERVING) && from == z->leader)
		learner_channel_down(z);
}

void zab_logged(struct zab *z, int64_t now_ms, int64_t zxid)
{
	z->now = now_ms;
	if (zxid > z->last_logged)
		z->last_logged = zxid;
	for (struct zentry *e = z->qhead; e && e->zxid <= zxid; e = e->next)
		e->logged = true;
	if (z->draining) {
		finish_drain(z);
		return;
	}
	if (z->role == ZAB_LEADING)
		leader_logged(z);
	else if (z->role == ZAB_FOLLOWING || z->role == ZAB_OBSERVING)
		learner_logged(z);
}

void zab_log_failed(struct zab *z, int64_t now_ms, int err)
{
	z->now = now_ms;
	(void)err;
	z->failed = true;
	if (z->role != ZAB_LOOKING)
		go_looking(z, "the transaction log failed");
}

/* The process did not run for longer than a tick (swapped out, a long
 * synchronous step, a loaded machine): what peers sent meanwhile waits in
 * our sockets, so silence measured across the gap proves nothing.  The
 * clocks of "last heard" restart. */
static void forgive_stall(struct zab *z)
{
	int64_t gap = z->last_tick_at ? z->now - z->last_tick_at : 0;
	z->last_tick_at = z->now;
	if (gap <= z->cfg.tick_ms)
		return;
	z->leader_heard = z->now;
	for (size_t i = 0; i < z->n_members; i++)
		if (z->lrn[i].phase != LH_NONE)
			z->lrn[i].last_heard = z->now;
	for (struct zentry *e = z->qhead; e; e = e->next)
		e->proposed_at = z->now;
}

void zab_tick(struct zab *z, int64_t now_ms)
{
	z->now = now_ms;
	if (z->failed)
		return;
	forgive_stall(z);
	if (z->role == ZAB_LOOKING)
		fle_tick(z);
	else if (z->role == ZAB_LEADING)
		leader_tick(z);
	else
		learner_tick(z);
}

int64_t zab_next_timer_ms(const struct zab *z)
{
	int64_t step = z->cfg.tick_ms / 4 > 0 ? z->cfg.tick_ms / 4 : 1;
	int64_t t = z->now + step;
	if (z->role == ZAB_LOOKING) {
		int64_t f = fle_next_timer(z);
		if (f < t)
			t = f;
	} else if ((z->role == ZAB_FOLLOWING || z->role == ZAB_OBSERVING) && z->connect_at &&
		   z->connect_at < t) {
		t = z->connect_at;
	}
	return t < z->now ? z->now : t;
}

/* ------------------------------------------------------------------ clients */

bool zab_serving(const struct zab *z)
{
	if (z->failed)
		return false;
	if (z->role == ZAB_LEADING)
		return z->lphase == LP_BROADCAST;
	if (z->role == ZAB_FOLLOWING || z->role == ZAB_OBSERVING)
		return z->fphase == FP_BROADCAST;
	return false;
}

int zab_submit(struct zab *z, int64_t now_ms, int64_t session, const struct core_auth *auth,
	       const struct zk_request *req, void *cookie)
{
	z->now = now_ms;
	if (!zab_serving(z))
		return -EAGAIN;
	if (z->role == ZAB_LEADING)
		return leader_submit(z, session, auth, req, cookie, -1);
	return learner_submit(z, session, auth, req, cookie, 0);
}

int zab_create_session(struct zab *z, int64_t now_ms, int32_t timeout_ms, void *cookie,
		       int64_t *sid)
{
	z->now = now_ms;
	if (!zab_serving(z))
		return -EAGAIN;
	int64_t id;
	do {
		id = z->next_sid++;
	} while (id == 0 || id == INT64_MIN);
	*sid = id;
	if (z->role == ZAB_LEADING)
		return leader_create_session(z, id, timeout_ms, cookie);
	return learner_submit(z, id, NULL, NULL, cookie, timeout_ms);
}

int zab_sync(struct zab *z, int64_t now_ms, void *cookie)
{
	z->now = now_ms;
	if (!zab_serving(z))
		return -EAGAIN;
	if (z->role == ZAB_LEADING)
		leader_sync(z, -1, cookie);
	else
		learner_sync(z, cookie);
	return 0;
}

void zab_touch(struct zab *z, int64_t now_ms, int64_t sid, int32_t timeout_ms)
{
	z->now = now_ms;
	if (z->role == ZAB_LEADING)
		leader_touch(z, sid, timeout_ms);
	else if (z->role == ZAB_FOLLOWING || z->role == ZAB_OBSERVING)
		learner_touch(z, sid, timeout_ms);
}

int zab_revalidate(struct zab *z, int64_t now_ms, int64_t sid, int32_t timeout_ms, void *cookie)
{
	z->now = now_ms;
	if (!zab_serving(z))
		return -EAGAIN;
	if (z->role == ZAB_LEADING) {
		bool ok = leader_revalidate(z, sid, timeout_ms);
		z->ops.revalidated(z->ops.arg, cookie, ok);
		return 0;
	}
	return learner_revalidate(z, sid, timeout_ms, cookie);
}

/* ------------------------------------------------------------------ state */

struct core *zab_core(const struct zab *z)
{
	return z->core;
}

void zab_get_info(const struct zab *z, struct zab_info *out)
{
	memset(out, 0, sizeof(*out));
	out->role = z->role;
	out->serving = zab_serving(z);
	out->leader = z->leader;
	out->accepted_epoch = z->accepted_epoch;
	out->current_epoch = z->current_epoch;
	out->last_logged = z->last_logged;
	out->last_committed = z->last_committed;
	out->quorum_size = (uint32_t)(z->n_voters / 2 + 1);
	out->last_proposal_size = z->last_proposal_size;
	out->election_ms = z->election_ms;
	out->elections = z->elections;
	out->round = z->fle.round;
	if (z->role == ZAB_LEADING) {
		for (size_t i = 0; i < z->n_members; i++) {
			const struct zlearner *l = &z->lrn[i];
			if (l->phase == LH_NONE || (int)i == z->my_idx)
				continue;
			if (!l->observer)
				out->followers++;
			if (l->phase == LH_BROADCAST) {
				if (l->observer)
					out->synced_observers++;
				else
					out->synced_followers++;
			}
		}
		for (const struct zentry *e = z->qhead; e; e = e->next) {
			out->outstanding++;
			for (const struct zsyncw *s = e->syncs; s; s = s->next)
				out->pending_syncs++;
		}
	} else {
		for (const struct zsyncw *s = z->fsync_head; s; s = s->next)
			out->pending_syncs++;
		for (const struct zsyncw *s = z->fsync_done; s; s = s->next)
			out->pending_syncs++;
	}
}
