/*
 * leader.c — the leader's side of Zab (ZooKeeper's Leader and
 * LearnerHandler): discovery of a new epoch, synchronisation of each
 * learner by DIFF, TRUNC or SNAP, then broadcast — proposals committed in
 * zxid order once a quorum of voters (the leader among them) has logged
 * them, COMMIT to followers, INFORM to observers — and the sessions of
 * the whole ensemble (touches forwarded in ping replies, expiry).
 *
 * Phases (enum leader_phase), each bounded by initLimit ticks in total:
 *   DISCOVERY  FOLLOWERINFO from a quorum (me included): epoch = max
 *              acceptedEpoch + 1, written as acceptedEpoch, LEADERINFO out
 *   EPOCH      ACKEPOCH from a quorum: currentEpoch written; each acked
 *              learner gets its sync stream and NEWLEADER
 *   NEWLEADER  NEWLEADER acked by a quorum: serve (UPTODATE to each)
 *   BROADCAST  learners joining later go through the same steps at once
 * A learner's own progress is enum lh_phase.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xmem.h"
#include "zab_int.h"

static void send_simple(struct zab *z, int64_t to, int32_t type, int64_t zxid)
{
	struct zmsg m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.zxid = zxid;
	zab_send(z, to, &m);
}

/* Sends a txn-carrying packet; the txn stays ours. */
static void send_txn(struct zab *z, int64_t to, int32_t type, struct core_txn *t)
{
	struct zmsg m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.zxid = core_txn_zxid(t);
	m.txn = t;
	z->ops.send(z->ops.arg, to, &m);
	m.txn = NULL;
	zmsg_free(&m);
}

static void drop_learner(struct zab *z, int idx, bool close)
{
	if (close && z->lrn[idx].phase != LH_NONE)
		z->ops.channel_close(z->ops.arg, z->members[idx].id);
	memset(&z->lrn[idx], 0, sizeof(z->lrn[idx]));
}

static uint64_t learners_at(const struct zab *z, enum lh_phase at_least)
{
	uint64_t mask = 1ull << z->my_idx;
	for (size_t i = 0; i < z->n_members; i++)
		if ((int)i != z->my_idx && z->lrn[i].phase >= at_least)
			mask |= 1ull << i;
	return mask;
}

static void send_leaderinfo(struct zab *z, int idx)
{
	struct zmsg m;
	memset(&m, 0, sizeof(m));
	m.type = ZM_LEADERINFO;
	m.zxid = MAKE_ZXID(z->epoch, 0);
	m.protocol = ZAB_PROTOCOL_VERSION;
	zab_send(z, z->members[idx].id, &m);
	z->lrn[idx].phase = LH_EPOCH_SENT;
}

/* The sync stream for one learner that acked the epoch, then NEWLEADER. */
static void sync_learner(struct zab *z, int idx)
{
	struct zlearner *l = &z->lrn[idx];
	int64_t to = z->members[idx].id;
	int64_t P = l->last_zxid;
	int64_t L = core_last_zxid(z->core);
	if (z->ops.reload_window && !z->window_reloaded && P < L &&
	    (!z->win_len || P < window_min(z))) {
		/* a learner behind what the window holds (a learner's window
		 * is short): read the txns from P on back from the log, once
		 * per term (when the log can serve P); the log holds every
		 * applied txn */
		z->reloading = 1; /* the first zab_window_take clears the window */
		z->ops.reload_window(z->ops.arg, P);
		z->window_reloaded = z->reloading == 2;
		z->reloading = 0;
	}
	int64_t min = window_min(z), max = window_max(z);
	uint32_t from = z->win_len; /* window entries to send from this index */
	bool snap = false;
	if (P == L) {
		send_simple(z, to, ZM_DIFF, L);
	} else if (P > max) {
		if (COUNTER_OF(P) != 0) {
			send_simple(z, to, ZM_TRUNC, max);
		} else {
			snap = true;
		}
	} else if (P >= min && z->win_len) {
		uint32_t i = 0;
		while (i < z->win_len &&
		       core_txn_zxid(z->win[(z->win_start + i) % z->win_cap]) < P)
			i++;
		int64_t at = core_txn_zxid(z->win[(z->win_start + i) % z->win_cap]);
		if (at == P) {
			send_simple(z, to, ZM_DIFF, max);
			from = i + 1;
		} else if (COUNTER_OF(P) == 0) {
			send_simple(z, to, ZM_DIFF, max);
			from = i;
		} else if (i > 0 &&
			   EPOCH_OF(core_txn_zxid(z->win[(z->win_start + i - 1) % z->win_cap])) ==
				   EPOCH_OF(P)) {
			/* the learner has txns of an epoch we share that we
			 * never committed: cut them */
			send_simple(z, to, ZM_TRUNC,
				    core_txn_zxid(z->win[(z->win_start + i - 1) % z->win_cap]));
			from = i;
		} else {
			snap = true;
		}
	} else {
		snap = true;
	}
	if (snap) {
		struct zmsg m;
		memset(&m, 0, sizeof(m));
		m.type = ZM_SNAP;
		m.zxid = L;
		m.snap = z->core;
		z->ops.send(z->ops.arg, to, &m);
		m.snap = NULL;
		zmsg_free(&m);
	} else {
		for (uint32_t i = from; i < z->win_len; i++) {
			struct core_txn *t = z->win[(z->win_start + i) % z->win_cap];
			send_txn(z, to, ZM_PROPOSAL, t);
			send_simple(z, to, ZM_COMMIT, core_txn_zxid(t));
		}
	}
	/* outstanding proposals: followers vote on them too */
	if (!l->observer)
		for (struct zentry *e = z->qhead; e; e = e->next)
			send_txn(z, to, ZM_PROPOSAL, e->txn);
	l->forwarding = true;
	l->defer_from = l->defer_to = 0;
	struct zmsg nl;
	memset(&nl, 0, sizeof(nl));
	nl.type = ZM_NEWLEADER;
	nl.zxid = MAKE_ZXID(z->epoch, 0);
	nl.config = z->config_text ? xstrdup(z->config_text) : NULL;
	zab_send(z, to, &nl);
	l->phase = LH_NEWLEADER_SENT;
}

/* UPTODATE to learner idx, then the COMMITs held back for it. */
static void send_uptodate(struct zab *z, size_t idx)
{
	struct zlearner *l = &z->lrn[idx];
	send_simple(z, z->members[idx].id, ZM_UPTODATE, -1);
	l->phase = LH_BROADCAST;
	if (l->defer_from)
		for (int64_t zx = l->defer_from; zx <= l->defer_to; zx++)
			send_simple(z, z->members[idx].id, ZM_COMMIT, zx);
	l->defer_from = l->defer_to = 0;
}

static void establish(struct zab *z)
{
	z->lphase = LP_BROADCAST;
	int64_t first = MAKE_ZXID(z->epoch, z->cfg.initial_counter);
	if (first <= core_last_zxid(z->core))
		first = core_last_zxid(z->core) + 1; /* cannot happen: epoch is new */
	core_set_next_zxid(z->core, first);
	z->last_proposed = first - 1;
	z->last_committed = core_last_zxid(z->core);
	core_session_restart_tracking(z->core, z->now);
	for (size_t i = 0; i < z->n_members; i++) {
		if (z->lrn[i].phase == LH_NEWLEADER_ACKED) {
			send_uptodate(z, i);
			z->lrn[i].last_heard = z->now;
		}
	}
	z->next_ping = z->now;
	set_role(z, ZAB_LEADING, "leading: a quorum synced");
}

static void check_progress(struct zab *z)
{
	if (z->lphase == LP_DISCOVERY && quorum_of(z, learners_at(z, LH_INFO))) {
		int64_t e = z->accepted_epoch;
		for (size_t i = 0; i < z->n_members; i++)
			if ((int)i != z->my_idx && z->lrn[i].phase >= LH_INFO &&
			    z->lrn[i].accepted_epoch > e)
				e = z->lrn[i].accepted_epoch;
		e++;
		if (z->ops.write_epoch(z->ops.arg, true, e) < 0) {
			go_looking(z, "cannot write acceptedEpoch");
			return;
		}
		z->accepted_epoch = e;
		z->epoch = e;
		z->lphase = LP_EPOCH;
		for (size_t i = 0; i < z->n_members; i++)
			if ((int)i != z->my_idx && z->lrn[i].phase == LH_INFO)
				send_leaderinfo(z, (int)i);
	}
	if (z->lphase == LP_EPOCH) {
		uint64_t m = 1ull << z->my_idx;
		for (size_t i = 0; i < z->n_members; i++)
			if ((int)i != z->my_idx && z->lrn[i].phase >= LH_EPOCH_ACKED &&
			    z->lrn[i].current_epoch != -1)
				m |= 1ull << i;
		if (!quorum_of(z, m))
			return;
		if (z->ops.write_epoch(z->ops.arg, false, z->epoch) < 0) {
			go_looking(z, "cannot write currentEpoch");
			return;
		}
		z->current_epoch = z->epoch;
		z->lphase = LP_NEWLEADER;
		for (size_t i = 0; i < z->n_members; i++)
			if ((int)i != z->my_idx && z->lrn[i].phase == LH_EPOCH_ACKED)
				sync_learner(z, (int)i);
	}
	if (z->lphase == LP_NEWLEADER && quorum_of(z, learners_at(z, LH_NEWLEADER_ACKED)))
		establish(z);
}

void leader_start(struct zab *z)
{
	z->window_reloaded = false;
	memset(z->lrn, 0, z->n_members * sizeof(*z->lrn));
	z->lphase = LP_DISCOVERY;
	z->epoch = 0;
	z->phase_deadline = z->now + (int64_t)z->cfg.init_limit * z->cfg.tick_ms;
	set_role(z, ZAB_LEADING, "elected: establishing an epoch");
	check_progress(z);
}

void leader_stop(struct zab *z)
{
	for (size_t i = 0; i < z->n_members; i++)
		if ((int)i != z->my_idx)
			drop_learner(z, (int)i, true);
	/* what was prepared stays in the core until applied by go_looking's
	 * drain; nothing more will be prepared */
	z->lphase = 0;
}

/* Commits the head proposals that a quorum (me included) has logged. */
static void try_commit(struct zab *z)
{
	uint64_t me = 1ull << z->my_idx;
	while (z->qhead && !z->qhead->committed && (z->qhead->acks & me) &&
	       quorum_of(z, z->qhead->acks)) {
		struct zentry *e = z->qhead;
		e->committed = true;
		for (size_t i = 0; i < z->n_members; i++) {
			struct zlearner *l = &z->lrn[i];
			if ((int)i == z->my_idx || !l->forwarding)
				continue;
			if (l->observer) {
				send_txn(z, z->members[i].id, ZM_INFORM, e->txn);
			} else if (l->phase != LH_BROADCAST) {
				/* between NEWLEADER and UPTODATE: Apache 3.8.0's
				 * learner fails its sync on a COMMIT for a proposal
				 * it got before NEWLEADER (ZOOKEEPER-4394), so the
				 * COMMITs follow the UPTODATE; any learner may apply
				 * them then */
				if (!l->defer_from)
					l->defer_from = e->zxid;
				l->defer_to = e->zxid;
			} else {
				send_simple(z, z->members[i].id, ZM_COMMIT, e->zxid);
			}
		}
		apply_ready(z); /* applies e, answers its syncs */
	}
}

static void propose(struct zab *z, struct core_txn *t, void *cookie)
{
	struct zentry *e = xcalloc(1, sizeof(*e));
	e->txn = t;
	e->zxid = core_txn_zxid(t);
	e->cookie = cookie;
	e->proposed_at = z->now;
	z->last_proposed = e->zxid;
	queue_push(z, e);
	log_txn(z, e);
	for (size_t i = 0; i < z->n_members; i++) {
		struct zlearner *l = &z->lrn[i];
		if ((int)i != z->my_idx && l->forwarding && !l->observer)
			send_txn(z, z->members[i].id, ZM_PROPOSAL, t);
	}
}

/* The counter must never reach 0xffffffff: a new epoch instead. */
static bool counter_exhausted(struct zab *z)
{
	if (COUNTER_OF(z->last_proposed + 1) != 0xffffffffu)
		return false;
	go_looking(z, "zxid counter exhausted: a new epoch is needed");
	return true;
}

int leader_submit(struct zab *z, int64_t session, const struct core_auth *auth,
		  const struct zk_request *req, void *cookie, int64_t origin)
{
	if (z->lphase != LP_BROADCAST)
		return -EAGAIN;
	if (counter_exhausted(z))
		return -EAGAIN;
	struct core_txn *t = NULL;
	int rc = core_prep(z->core, session, auth, req, z->now, &t);
	if (rc < 0)
		return rc;
	propose(z, t, cookie);
	return 0;
}

int leader_create_session(struct zab *z, int64_t sid, int32_t timeout, void *cookie)
{
	if (z->lphase != LP_BROADCAST || counter_exhausted(z))
		return -EAGAIN;
	struct core_txn *t = NULL;
	int32_t to;
	if (core_prep_create_session_id(z->core, sid, timeout, z->now, &to, &t) < 0)
		return -EEXIST;
	propose(z, t, cookie);
	return 0;
}

void leader_sync(struct zab *z, int64_t origin, void *cookie)
{
	struct zsyncw *s = xcalloc(1, sizeof(*s));
	s->origin = origin;
	s->cookie = cookie;
	if (!z->qtail) {
		if (origin >= 0) {
			send_simple(z, origin, ZM_SYNC, 0);
		} else {
			z->ops.synced(z->ops.arg, cookie);
		}
		free(s);
		return;
	}
	/* in arrival order: a client that pipelines two syncs gets them
	 * answered in the order it sent them */
	struct zsyncw **pp = &z->qtail->syncs;
	while (*pp)
		pp = &(*pp)->next;
	*pp = s;
}

void leader_touch(struct zab *z, int64_t sid, int32_t timeout)
{
	(void)timeout;
	core_session_touch(z->core, sid, z->now);
}

bool leader_revalidate(struct zab *z, int64_t sid, int32_t timeout)
{
	(void)timeout;
	if (!core_session_live(z->core, sid))
		return false;
	core_session_touch(z->core, sid, z->now);
	return true;
}

static void on_ack(struct zab *z, int idx, int64_t zxid)
{
	struct zlearner *l = &z->lrn[idx];
	if (l->phase == LH_NEWLEADER_SENT && zxid == MAKE_ZXID(z->epoch, 0)) {
		l->phase = LH_NEWLEADER_ACKED;
		if (z->lphase == LP_BROADCAST) {
			send_uptodate(z, (size_t)idx);
		} else {
			check_progress(z);
		}
		return;
	}
	if (COUNTER_OF(zxid) == 0 || l->observer)
		return;
	if (zxid > l->acked)
		l->acked = zxid;
	/* logs are written in order: an ACK covers every earlier proposal */
	for (struct zentry *e = z->qhead; e && e->zxid <= zxid; e = e->next)
		e->acks |= 1ull << idx;
	try_commit(z);
}

void leader_recv(struct zab *z, int64_t from, struct zmsg *m)
{
	int idx = member_index(z, from);
	struct zlearner *l = &z->lrn[idx];
	if (idx == z->my_idx)
		return;
	if (m->type == ZM_FOLLOWERINFO || m->type == ZM_OBSERVERINFO) {
		bool obs = m->type == ZM_OBSERVERINFO;
		if (obs != z->members[idx].observer) {
			z->ops.channel_close(z->ops.arg, from); /* role differs from the config */
			return;
		}
		memset(l, 0, sizeof(*l));
		l->phase = LH_INFO;
		l->observer = obs;
		l->accepted_epoch = EPOCH_OF(m->zxid);
		l->last_heard = z->now;
		if (z->lphase == LP_DISCOVERY)
			check_progress(z);
		else
			send_leaderinfo(z, idx);
		return;
	}
	if (l->phase == LH_NONE)
		return; /* no channel: stale */
	l->last_heard = z->now;
	switch (m->type) {
	case ZM_ACKEPOCH:
		if (l->phase != LH_EPOCH_SENT)
			return;
		if (z->lphase == LP_EPOCH &&
		    (m->epoch > z->current_epoch ||
		     (m->epoch == z->current_epoch && m->zxid > z->last_logged))) {
			go_looking(z, "a follower has a more recent history");
			return;
		}
		l->phase = LH_EPOCH_ACKED;
		l->last_zxid = m->zxid;
		l->current_epoch = m->epoch;
		if (z->lphase == LP_EPOCH)
			check_progress(z);
		else if (z->lphase >= LP_NEWLEADER)
			sync_learner(z, idx);
		return;
	case ZM_ACK:
		on_ack(z, idx, m->zxid);
		return;
	case ZM_PING:
		for (int32_t i = 0; i < m->ntouches; i++)
			core_session_touch(z->core, m->touches[i].sid, z->now);
		return;
	case ZM_REVALIDATE: {
		struct zmsg r;
		memset(&r, 0, sizeof(r));
		r.type = ZM_REVALIDATE;
		r.zxid = -1;
		r.session = m->session;
		r.valid = z->lphase == LP_BROADCAST &&
			  leader_revalidate(z, m->session, m->session_timeout);
		zab_send(z, from, &r);
		return;
	}
	case ZM_REQUEST: {
		if (z->lphase != LP_BROADCAST || !m->req)
			return;
		int32_t type = m->req->type;
		if (type == ZOP_SYNC)
			leader_sync(z, from, NULL);
		else if (type == ZOP_CREATESESSION)
			leader_create_session(z, m->session, m->session_timeout, NULL);
		else
			leader_submit(z, m->session, m->auth, m->req, NULL, from);
		return;
	}
	default:
		return;
	}
}

void leader_channel_down(struct zab *z, int64_t from)
{
	int idx = member_index(z, from);
	if (idx >= 0 && idx != z->my_idx)
		drop_learner(z, idx, false);
}

void leader_logged(struct zab *z)
{
	uint64_t me = 1ull << z->my_idx;
	for (struct zentry *e = z->qhead; e && e->logged; e = e->next)
		e->acks |= me;
	try_commit(z);
}

struct expired {
	int64_t *sids;
	size_t n, cap;
};

static void on_expired(void *arg, int64_t sid)
{
	struct expired *x = arg;
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 8;
		x->sids = xrealloc(x->sids, x->cap * sizeof(*x->sids));
	}
	x->sids[x->n++] = sid;
}

void leader_tick(struct zab *z)
{
	if (z->lphase != LP_BROADCAST) {
		if (z->now > z->phase_deadline)
			go_looking(z, "no quorum of followers synced within initLimit");
		return;
	}
	int64_t limit = (int64_t)z->cfg.sync_limit * z->cfg.tick_ms;
	/* a follower that does not ack is dropped (LearnerHandler's sync
	 * limit check) */
	for (size_t i = 0; i < z->n_members; i++) {
		struct zlearner *l = &z->lrn[i];
		if ((int)i == z->my_idx || l->phase != LH_BROADCAST)
			continue;
		bool stale = z->now - l->last_heard > limit;
		if (!l->observer)
			for (struct zentry *e = z->qhead; e && !stale; e = e->next)
				if (!(e->acks & (1ull << i)) && z->now - e->proposed_at > limit)
					stale = true;
		if (stale)
			drop_learner(z, (int)i, true);
	}
	if (!quorum_of(z, learners_at(z, LH_BROADCAST))) {
		go_looking(z, "lost the quorum of synced followers");
		return;
	}
	if (z->now >= z->next_ping) {
		z->next_ping = z->now + (z->cfg.tick_ms / 2 > 0 ? z->cfg.tick_ms / 2 : 1);
		for (size_t i = 0; i < z->n_members; i++)
			if ((int)i != z->my_idx && z->lrn[i].phase == LH_BROADCAST)
				send_simple(z, z->members[i].id, ZM_PING, z->last_proposed);
	}
	struct expired x = {0};
	core_session_expired(z->core, z->now, on_expired, &x);
	for (size_t i = 0; i < x.n && z->lphase == LP_BROADCAST; i++) {
		if (counter_exhausted(z))
			break;
		struct core_txn *t = NULL;
		core_prep_close_session(z->core, x.sids[i], z->now, &t);
		propose(z, t, NULL);
	}
	free(x.sids);
}
