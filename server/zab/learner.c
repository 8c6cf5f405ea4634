/*
 * learner.c — followers and observers (ZooKeeper's Learner, Follower,
 * Observer): register with the elected leader, accept its epoch, take its
 * sync stream (DIFF, TRUNC or SNAP, then txns) up to NEWLEADER, make
 * those txns durable, ack, and serve from UPTODATE on.  In broadcast a
 * follower logs each PROPOSAL and ACKs it once durable, applies on
 * COMMIT; an observer logs and applies each INFORM.  Client writes, syncs
 * and session revalidations are forwarded to the leader; session touches
 * ride on ping replies.
 *
 * Phases (enum learner_phase):
 *   CONNECT       *INFO sent (redialled every connect_retry_ms, at most 20
 *                 times), LEADERINFO -> ACKEPOCH, acceptedEpoch written
 *   SYNC_WAIT     DIFF | TRUNC (log cut, tree rebuilt) | SNAP (installed)
 *   SYNCING       PROPOSAL / COMMIT / INFORM collected
 *   NEWLEADER_LOG NEWLEADER: collected txns logged; once durable,
 *                 currentEpoch written and NEWLEADER acked
 *   UPTODATE_WAIT txns as in broadcast, not serving yet
 *   BROADCAST     serving
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xmem.h"
#include "zab_int.h"

#define CONNECT_TRIES 20

static void send_leader(struct zab *z, struct zmsg *m)
{
	zab_send(z, z->leader, m);
}

static void send_info(struct zab *z)
{
	struct zmsg m;
	memset(&m, 0, sizeof(m));
	m.type = z->voter ? ZM_FOLLOWERINFO : ZM_OBSERVERINFO;
	m.zxid = MAKE_ZXID(z->accepted_epoch, 0);
	m.sid = z->my_id;
	m.protocol = ZAB_PROTOCOL_VERSION;
	m.config_version = z->cfg.config_version;
	send_leader(z, &m);
	z->connect_at = 0;
}

static void send_ack(struct zab *z, int64_t zxid)
{
	struct zmsg m;
	memset(&m, 0, sizeof(m));
	m.type = ZM_ACK;
	m.zxid = zxid;
	send_leader(z, &m);
}

void learner_start(struct zab *z)
{
	z->fphase = FP_CONNECT;
	z->phase_deadline = z->now + (int64_t)z->cfg.init_limit * z->cfg.tick_ms;
	z->leader_heard = z->now;
	z->snap_needed = false;
	z->sync_kind = "DIFF";
	z->connect_tries = 0;
	set_role(z, z->voter ? ZAB_FOLLOWING : ZAB_OBSERVING, "elected another leader: syncing");
	send_info(z);
}

/* Waiters that will never be answered: their cookies are dropped.  A
 * pending revalidation is dropped too, never answered "invalid": the
 * session may well live (a member that lost its leader cannot tell), and
 * a client told "expired" would abandon it. */
static void free_waiters(struct zab *z, struct zsyncw *s)
{
	while (s) {
		struct zsyncw *n = s->next;
		drop_cookie(z, s->cookie);
		free(s);
		s = n;
	}
}

void learner_stop(struct zab *z)
{
	if (z->leader >= 0)
		z->ops.channel_close(z->ops.arg, z->leader);
	while (z->fwd_head) {
		struct zfwd *f = z->fwd_head;
		z->fwd_head = f->next;
		drop_cookie(z, f->cookie);
		free(f);
	}
	z->fwd_tail = NULL;
	free_waiters(z, z->fsync_head);
	free_waiters(z, z->fsync_done);
	free_waiters(z, z->reval_head);
	z->fsync_head = z->fsync_tail = z->fsync_done = NULL;
	z->reval_head = z->reval_tail = NULL;
	z->ntouches = 0;
	z->connect_at = 0;
	z->fphase = 0;
}

void learner_channel_down(struct zab *z)
{
	if (z->fphase == FP_CONNECT && ++z->connect_tries < CONNECT_TRIES) {
		z->connect_at = z->now + z->cfg.connect_retry_ms;
		return;
	}
	go_looking(z, "lost the connection to the leader");
}

/* Syncs answered by the leader, waiting until we applied its commits.
 * Called after every apply, so a sync is answered before the txn after
 * its target: a client's later write must not overtake its sync. */
void learner_check_syncs(struct zab *z)
{
	int64_t applied = core_last_zxid(z->core);
	while (z->fsync_done && z->fsync_done->target <= applied) {
		struct zsyncw *s = z->fsync_done;
		z->fsync_done = s->next;
		z->ops.synced(z->ops.arg, s->cookie);
		free(s);
	}
}

static void ack_logged(struct zab *z)
{
	if (!z->voter)
		return;
	for (struct zentry *e = z->qhead; e && e->logged; e = e->next) {
		if (!e->acked) {
			e->acked = true;
			send_ack(z, e->zxid);
		}
	}
}

static void newleader_logged(struct zab *z)
{
	if (z->last_logged < z->newleader_upto)
		return;
	if (z->ops.write_epoch(z->ops.arg, false, z->epoch) < 0) {
		go_looking(z, "cannot write currentEpoch");
		return;
	}
	z->current_epoch = z->epoch;
	send_ack(z, MAKE_ZXID(z->epoch, 0));
	z->fphase = FP_UPTODATE_WAIT;
	ack_logged(z);
	apply_ready(z);
}

void learner_logged(struct zab *z)
{
	if (z->fphase == FP_NEWLEADER_LOG) {
		newleader_logged(z);
		return;
	}
	if (z->fphase >= FP_UPTODATE_WAIT) {
		ack_logged(z);
		apply_ready(z);
		learner_check_syncs(z);
	}
}

static void mark_committed(struct zab *z, int64_t zxid)
{
	if (zxid > z->last_committed)
		z->last_committed = zxid;
	for (struct zentry *e = z->qhead; e && e->zxid <= zxid; e = e->next)
		e->committed = true;
}

/* A txn from the leader: queued, and logged unless still collecting. */
static void take_txn(struct zab *z, struct zmsg *m, bool committed)
{
	if (!m->txn)
		return;
	int64_t zxid = core_txn_zxid(m->txn);
	int64_t last = z->qtail ? z->qtail->zxid : z->last_submitted;
	if (zxid <= last)
		return; /* already have it */
	if (EPOCH_OF(zxid) == EPOCH_OF(last) && COUNTER_OF(zxid) != COUNTER_OF(last) + 1) {
		/* a gap: the stream is not what Zab promises */
		go_looking(z, "a gap in the leader's txn stream");
		return;
	}
	struct zentry *e = xcalloc(1, sizeof(*e));
	e->txn = m->txn;
	m->txn = NULL;
	e->zxid = zxid;
	e->committed = committed;
	if (committed && zxid > z->last_committed)
		z->last_committed = zxid;
	queue_push(z, e);
	if (z->fphase >= FP_NEWLEADER_LOG)
		log_txn(z, e);
}

void learner_recv(struct zab *z, struct zmsg *m)
{
	z->leader_heard = z->now;
	switch (m->type) {
	case ZM_LEADERINFO: {
		if (z->fphase != FP_CONNECT)
			return;
		int64_t e = EPOCH_OF(m->zxid);
		struct zmsg a;
		memset(&a, 0, sizeof(a));
		a.type = ZM_ACKEPOCH;
		a.zxid = z->last_logged;
		if (e > z->accepted_epoch) {
			if (z->ops.write_epoch(z->ops.arg, true, e) < 0) {
				go_looking(z, "cannot write acceptedEpoch");
				return;
			}
			z->accepted_epoch = e;
			a.epoch = (int32_t)z->current_epoch;
		} else if (e == z->accepted_epoch) {
			a.epoch = -1;
		} else {
			go_looking(z, "the leader's epoch is older than one I accepted");
			return;
		}
		z->epoch = e;
		z->fphase = FP_SYNC_WAIT;
		send_leader(z, &a);
		return;
	}
	case ZM_DIFF:
		if (z->fphase == FP_SYNC_WAIT) {
			z->fphase = FP_SYNCING;
			z->sync_kind = "DIFF";
		}
		return;
	case ZM_TRUNC: {
		if (z->fphase != FP_SYNC_WAIT)
			return;
		struct core *nc = NULL;
		if (z->ops.truncate(z->ops.arg, m->zxid, &nc) < 0 || !nc) {
			go_looking(z, "cannot truncate the log as the leader asks");
			return;
		}
		z->core = nc;
		z->last_logged = z->last_submitted = core_last_zxid(nc);
		/* txns after the cut were never committed (syncs wait for
		 * last_committed) */
		z->last_committed = core_last_zxid(nc);
		window_clear(z);
		z->snap_needed = true;
		z->sync_kind = "TRUNC";
		z->fphase = FP_SYNCING;
		return;
	}
	case ZM_SNAP: {
		if (z->fphase != FP_SYNC_WAIT || !m->snap)
			return;
		struct core *nc = m->snap;
		m->snap = NULL;
		if (z->ops.install_snapshot(z->ops.arg, nc, m->zxid) < 0) {
			core_free(nc);
			go_looking(z, "cannot install the leader's snapshot");
			return;
		}
		z->core = nc;
		z->last_logged = z->last_submitted = core_last_zxid(nc);
		z->last_committed = core_last_zxid(nc);
		window_clear(z);
		z->snap_needed = true;
		z->sync_kind = "SNAP";
		z->fphase = FP_SYNCING;
		return;
	}
	case ZM_PROPOSAL:
		if (z->fphase >= FP_SYNCING)
			take_txn(z, m, false);
		return;
	case ZM_INFORM:
		if (z->fphase >= FP_SYNCING)
			take_txn(z, m, true);
		if (z->fphase >= FP_UPTODATE_WAIT)
			apply_ready(z);
		return;
	case ZM_COMMIT:
		if (z->fphase < FP_SYNCING)
			return;
		mark_committed(z, m->zxid);
		if (z->fphase >= FP_UPTODATE_WAIT)
			apply_ready(z);
		return;
	case ZM_NEWLEADER:
		if (z->fphase != FP_SYNCING)
			return;
		z->fphase = FP_NEWLEADER_LOG;
		for (struct zentry *e = z->qhead; e; e = e->next)
			if (e->zxid > z->last_submitted)
				log_txn(z, e);
		z->newleader_upto = z->last_submitted;
		newleader_logged(z);
		return;
	case ZM_UPTODATE:
		if (z->fphase != FP_UPTODATE_WAIT)
			return;
		z->fphase = FP_BROADCAST;
		send_ack(z, MAKE_ZXID(z->epoch, 0));
		set_role(z, z->role,
			 !strcmp(z->sync_kind, "SNAP")	  ? "synced with the leader by SNAP: serving"
			 : !strcmp(z->sync_kind, "TRUNC") ? "synced with the leader by TRUNC: serving"
							  : "synced with the leader by DIFF: serving");
		return;
	case ZM_PING: {
		if (z->fphase != FP_BROADCAST)
			return;
		struct zmsg r;
		memset(&r, 0, sizeof(r));
		r.type = ZM_PING;
		r.zxid = m->zxid;
		r.touches = z->touches;
		r.ntouches = z->ntouches;
		z->ops.send(z->ops.arg, z->leader, &r);
		z->ntouches = 0;
		return;
	}
	case ZM_SYNC: {
		struct zsyncw *s = z->fsync_head;
		if (!s)
			return;
		z->fsync_head = s->next;
		if (!z->fsync_head)
			z->fsync_tail = NULL;
		s->target = z->last_committed;
		s->next = NULL;
		struct zsyncw **pp = &z->fsync_done;
		while (*pp)
			pp = &(*pp)->next;
		*pp = s;
		learner_check_syncs(z);
		return;
	}
	case ZM_REVALIDATE: {
		struct zsyncw **pp = &z->reval_head, *prev = NULL;
		while (*pp && (*pp)->target != m->session) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		struct zsyncw *s = *pp;
		if (!s)
			return;
		*pp = s->next;
		if (z->reval_tail == s)
			z->reval_tail = prev;
		z->ops.revalidated(z->ops.arg, s->cookie, m->valid);
		free(s);
		return;
	}
	default:
		return;
	}
}

void learner_tick(struct zab *z)
{
	if (z->connect_at && z->now >= z->connect_at) {
		send_info(z);
		return;
	}
	int64_t limit = z->fphase >= FP_UPTODATE_WAIT
				? (int64_t)z->cfg.sync_limit * z->cfg.tick_ms
				: (int64_t)z->cfg.init_limit * z->cfg.tick_ms;
	if (z->now - z->leader_heard > limit)
		go_looking(z, "the leader went silent");
}

int learner_submit(struct zab *z, int64_t session, const struct core_auth *auth,
		   const struct zk_request *req, void *cookie, int32_t timeout)
{
	struct zmsg m, borrowed;
	memset(&borrowed, 0, sizeof(borrowed));
	borrowed.type = ZM_REQUEST;
	borrowed.zxid = -1;
	borrowed.session = session;
	borrowed.req = (struct zk_request *)req;
	borrowed.auth = auth && auth->n ? (struct core_auth *)auth : NULL;
	if (zmsg_clone(&m, &borrowed) < 0)
		return -EINVAL;
	if (!req) {
		m.req = xcalloc(1, sizeof(*m.req));
		m.req->type = m.req->op.type = ZOP_CREATESESSION;
		m.session_timeout = timeout;
	}
	struct zfwd *f = xcalloc(1, sizeof(*f));
	f->session = session;
	f->cxid = m.req->xid;
	f->type = m.req->type;
	f->cookie = cookie;
	send_leader(z, &m);
	if (z->fwd_tail)
		z->fwd_tail->next = f;
	else
		z->fwd_head = f;
	z->fwd_tail = f;
	return 0;
}

void learner_sync(struct zab *z, void *cookie)
{
	struct zmsg m;
	memset(&m, 0, sizeof(m));
	m.type = ZM_REQUEST;
	m.zxid = -1;
	m.req = xcalloc(1, sizeof(*m.req));
	m.req->type = m.req->op.type = ZOP_SYNC;
	m.req->op.path = xstrdup("/");
	send_leader(z, &m);
	struct zsyncw *s = xcalloc(1, sizeof(*s));
	s->origin = -1;
	s->cookie = cookie;
	if (z->fsync_tail)
		z->fsync_tail->next = s;
	else
		z->fsync_head = s;
	z->fsync_tail = s;
}

void learner_touch(struct zab *z, int64_t sid, int32_t timeout)
{
	for (int32_t i = z->ntouches - 1; i >= 0 && i >= z->ntouches - 8; i--)
		if (z->touches[i].sid == sid)
			return;
	if (z->ntouches == z->cap_touches) {
		z->cap_touches = z->cap_touches ? z->cap_touches * 2 : 16;
		z->touches = xrealloc(z->touches, (size_t)z->cap_touches * sizeof(*z->touches));
	}
	z->touches[z->ntouches].sid = sid;
	z->touches[z->ntouches].timeout = timeout;
	z->ntouches++;
}

int learner_revalidate(struct zab *z, int64_t sid, int32_t timeout, void *cookie)
{
	struct zmsg m;
	memset(&m, 0, sizeof(m));
	m.type = ZM_REVALIDATE;
	m.zxid = -1;
	m.session = sid;
	m.session_timeout = timeout;
	send_leader(z, &m);
	struct zsyncw *s = xcalloc(1, sizeof(*s));
	s->cookie = cookie;
	s->target = sid;
	if (z->reval_tail)
		z->reval_tail->next = s;
	else
		z->reval_head = s;
	z->reval_tail = s;
	return 0;
}

void learner_applied(struct zab *z, const struct core_txn *t, struct zk_response *resp,
		     bool *answered)
{
	int64_t sid = core_txn_session(t);
	struct zfwd **pp = &z->fwd_head, *prev = NULL;
	while (*pp && (*pp)->session != sid) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	struct zfwd *f = *pp;
	bool match = f && f->cxid == core_txn_cxid(t) &&
		     (f->type == ZOP_CREATESESSION) == (core_txn_type(t) == ZOP_CREATESESSION);
	if (!match) {
		core_apply(z->core, t, NULL);
		z->ops.applied(z->ops.arg, t, NULL, NULL);
		*answered = false;
		return;
	}
	*pp = f->next;
	if (z->fwd_tail == f)
		z->fwd_tail = prev;
	core_apply(z->core, t, resp);
	z->ops.applied(z->ops.arg, t, f->cookie, resp);
	*answered = true;
	free(f);
}
