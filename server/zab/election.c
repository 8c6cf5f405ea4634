/*
 * election.c — fast leader election (ZooKeeper's FastLeaderElection,
 * electionAlg=3), as the fact sheet's §1 describes it, on simulated or
 * real time.
 *
 * A LOOKING member proposes itself with (currentEpoch, last logged zxid,
 * id) and adopts any better proposal it hears (higher epoch, then zxid,
 * then id); it decides once a quorum of voters has sent it the same vote
 * in the same round and no better vote arrived for finalize_ms (the only
 * timing that differs from ZooKeeper's: 200 ms there).  Members already
 * settled (FOLLOWING, LEADING) answer LOOKING members with their settled
 * vote, so a member that restarts joins the running leader as soon as a
 * quorum of settled votes, the leader's own LEADING among them, agrees
 * (ZooKeeper's "out of election" path).  Observers never count: they ask,
 * and follow what a quorum of voters settled on.
 *
 * Votes from non-members are ignored; votes naming a non-voter as leader
 * are not counted.
 */
#include <stdlib.h>
#include <string.h>

#include "xmem.h"
#include "zab_int.h"

void fle_init(struct zab *z)
{
	z->fle.recv = xcalloc(z->n_members, sizeof(struct fle_slot));
	z->fle.out = xcalloc(z->n_members, sizeof(struct fle_slot));
}

void fle_free(struct zab *z)
{
	free(z->fle.recv);
	free(z->fle.out);
}

/* ZooKeeper's totalOrderPredicate: is (id, zxid, epoch) better than cur? */
static bool better(const struct zab *z, int64_t id, int64_t zxid, int64_t epoch,
		   const struct fle_vote *cur)
{
	int idx = member_index(z, id);
	if (idx < 0 || !is_voter_idx(z, idx))
		return false;
	if (epoch != cur->epoch)
		return epoch > cur->epoch;
	if (zxid != cur->zxid)
		return zxid > cur->zxid;
	return id > cur->leader;
}

static int32_t my_state(const struct zab *z)
{
	switch (z->role) {
	case ZAB_FOLLOWING:
		return ZS_FOLLOWING;
	case ZAB_LEADING:
		return ZS_LEADING;
	case ZAB_OBSERVING:
		return ZS_OBSERVING;
	default:
		return ZS_LOOKING;
	}
}

static void send_vote(struct zab *z, int64_t to, const struct fle_vote *v, int64_t round)
{
	struct zmsg m;
	memset(&m, 0, sizeof(m));
	m.type = ZM_NOTIFICATION;
	m.vote.state = my_state(z);
	m.vote.leader = v->leader;
	m.vote.zxid = v->zxid;
	m.vote.round = round;
	m.vote.peer_epoch = v->epoch;
	m.vote.config_version = z->cfg.config_version;
	zab_send(z, to, &m);
}

/* My proposal to every voter but me (my own vote is in recv directly). */
static void broadcast(struct zab *z)
{
	for (size_t i = 0; i < z->n_members; i++) {
		if (!z->members[i].observer && z->members[i].id != z->my_id)
			send_vote(z, z->members[i].id, &z->fle.proposal, z->fle.round);
	}
	z->fle.resend_at = z->now + z->fle.interval;
}

static bool same_vote(const struct fle_vote *a, const struct fle_vote *b)
{
	return a->leader == b->leader && a->zxid == b->zxid && a->round == b->round &&
	       a->epoch == b->epoch;
}

/* Voters in slots whose vote agrees with v: fully (recv of LOOKING
 * rounds) or on (leader, epoch) only (settled votes). */
static uint64_t agreeing(const struct zab *z, const struct fle_slot *slots,
			 const struct fle_vote *v, bool full)
{
	uint64_t mask = 0;
	for (size_t i = 0; i < z->n_members; i++) {
		if (!slots[i].set || !is_voter_idx(z, (int)i))
			continue;
		const struct fle_vote *s = &slots[i].v;
		bool eq = full ? same_vote(s, v) : (s->leader == v->leader && s->epoch == v->epoch);
		if (eq)
			mask |= 1ull << i;
	}
	return mask;
}

/* ZooKeeper's checkLeader: a leader other than me must have told us it
 * leads; if it is me, the vote must be of my round. */
static bool check_leader(const struct zab *z, const struct fle_slot *slots, int64_t leader,
			 int64_t round)
{
	if (leader == z->my_id)
		return round == z->fle.round;
	int idx = member_index(z, leader);
	return idx >= 0 && slots[idx].set && slots[idx].v.state == ZS_LEADING;
}

static void decide(struct zab *z, const struct fle_vote *v)
{
	z->fle.finalize_at = 0;
	z->fle.proposal = *v;
	z->fle.proposal.round = z->fle.round;
	z->election_ms = z->now - z->fle.started_at;
	z->leader = v->leader;
	if (v->leader == z->my_id)
		leader_start(z);
	else
		learner_start(z);
}

void fle_start(struct zab *z)
{
	struct fle *f = &z->fle;
	f->round++;
	f->started_at = z->now;
	z->elections++;
	if (z->voter) {
		f->initial.leader = z->my_id;
		f->initial.zxid = z->last_logged;
		f->initial.epoch = z->current_epoch;
	} else {
		f->initial.leader = INT64_MIN;
		f->initial.zxid = INT64_MIN;
		f->initial.epoch = INT64_MIN;
	}
	f->initial.state = ZS_LOOKING;
	f->initial.round = f->round;
	f->proposal = f->initial;
	memset(f->recv, 0, z->n_members * sizeof(*f->recv));
	memset(f->out, 0, z->n_members * sizeof(*f->out));
	if (z->voter) {
		f->recv[z->my_idx].set = true;
		f->recv[z->my_idx].v = f->proposal;
	}
	f->finalize_at = 0;
	f->interval = z->cfg.notify_min_ms;
	broadcast(z);
	/* a single voter is its own quorum */
	if (z->voter && quorum_of(z, 1ull << z->my_idx))
		f->finalize_at = z->now;
}

/* After my proposal or recv changed in a LOOKING round. */
static void recheck(struct zab *z)
{
	struct fle *f = &z->fle;
	if (z->voter) {
		f->recv[z->my_idx].set = true;
		f->recv[z->my_idx].v = f->proposal;
		f->recv[z->my_idx].v.round = f->round;
	}
	struct fle_vote p = f->proposal;
	p.round = f->round;
	if (p.leader != INT64_MIN && quorum_of(z, agreeing(z, f->recv, &p, true))) {
		if (!f->finalize_at)
			f->finalize_at = z->now + z->cfg.finalize_ms;
	} else {
		f->finalize_at = 0;
	}
}

void fle_settled_vote(struct zab *z, struct fle_vote *v)
{
	*v = z->fle.proposal;
	v->state = my_state(z);
	if (z->role != ZAB_LOOKING && z->epoch > v->epoch && z->leader == v->leader &&
	    (z->role == ZAB_LEADING ? z->lphase == LP_BROADCAST : z->fphase == FP_BROADCAST))
		v->epoch = z->epoch;
}

void fle_recv(struct zab *z, int64_t from, const struct zmsg *m)
{
	struct fle *f = &z->fle;
	int idx = member_index(z, from);
	if (idx < 0 || idx == z->my_idx)
		return;
	struct fle_vote n = {
		.state = m->vote.state,
		.leader = m->vote.leader,
		.zxid = m->vote.zxid,
		.round = m->vote.round,
		.epoch = m->vote.peer_epoch,
	};
	bool looking = z->role == ZAB_LOOKING && !z->draining;
	if (!is_voter_idx(z, idx)) {
		/* (a) an observer or a non-voter asks: tell it what I think */
		if (n.state == ZS_LOOKING) {
			struct fle_vote v;
			if (looking) {
				v = f->proposal;
				send_vote(z, from, &v, f->round);
			} else if (z->role != ZAB_LOOKING) {
				fle_settled_vote(z, &v);
				send_vote(z, from, &v, v.round);
			}
		}
		return;
	}
	if (!looking) {
		/* (c) a LOOKING voter asks a settled member */
		if (n.state == ZS_LOOKING && z->role != ZAB_LOOKING) {
			struct fle_vote v;
			fle_settled_vote(z, &v);
			send_vote(z, from, &v, v.round);
		}
		return;
	}
	f->resend_at = z->now + f->interval;
	switch (n.state) {
	case ZS_LOOKING:
		if (n.zxid == -1)
			return;
		if (n.round > f->round) {
			f->round = n.round;
			memset(f->recv, 0, z->n_members * sizeof(*f->recv));
			if (better(z, n.leader, n.zxid, n.epoch, &f->initial))
				f->proposal = n;
			else
				f->proposal = f->initial;
			f->proposal.round = f->round;
			f->interval = z->cfg.notify_min_ms;
			broadcast(z);
		} else if (n.round < f->round) {
			/* (b) it is behind: tell it my proposal */
			send_vote(z, from, &f->proposal, f->round);
			return;
		} else if (better(z, n.leader, n.zxid, n.epoch, &f->proposal)) {
			f->proposal = n;
			f->proposal.round = f->round;
			broadcast(z);
		}
		if (member_index(z, n.leader) >= 0 && is_voter_idx(z, member_index(z, n.leader))) {
			f->recv[idx].set = true;
			f->recv[idx].v = n;
		}
		recheck(z);
		return;
	case ZS_FOLLOWING:
	case ZS_LEADING:
		if (member_index(z, n.leader) < 0 || !is_voter_idx(z, member_index(z, n.leader)))
			return;
		if (n.round == f->round) {
			f->recv[idx].set = true;
			f->recv[idx].v = n;
			if (quorum_of(z, agreeing(z, f->recv, &n, false)) &&
			    check_leader(z, f->recv, n.leader, n.round)) {
				decide(z, &n);
				return;
			}
		}
		f->out[idx].set = true;
		f->out[idx].v = n;
		if (quorum_of(z, agreeing(z, f->out, &n, false)) &&
		    check_leader(z, f->out, n.leader, n.round)) {
			f->round = n.round;
			decide(z, &n);
		}
		return;
	default:
		return; /* OBSERVING and unknown states */
	}
}

void fle_tick(struct zab *z)
{
	struct fle *f = &z->fle;
	if (z->role != ZAB_LOOKING || z->draining)
		return;
	if (f->finalize_at && z->now >= f->finalize_at) {
		struct fle_vote p = f->proposal;
		p.round = f->round;
		if (quorum_of(z, agreeing(z, f->recv, &p, true))) {
			decide(z, &p);
			return;
		}
		f->finalize_at = 0;
	}
	if (z->now >= f->resend_at) {
		f->interval = f->interval * 2 > z->cfg.notify_max_ms ? z->cfg.notify_max_ms
								     : f->interval * 2;
		broadcast(z);
	}
}

int64_t fle_next_timer(const struct zab *z)
{
	if (z->role != ZAB_LOOKING || z->draining)
		return INT64_MAX;
	int64_t t = z->fle.resend_at;
	if (z->fle.finalize_at && z->fle.finalize_at < t)
		t = z->fle.finalize_at;
	return t;
}
