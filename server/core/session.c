/*
 * session.c — the session table and the tick-bucket expiry tracker (see
 * session.h for the lifecycle).
 */
#include "session.h"

#include <stdlib.h>
#include <string.h>

#include "xmem.h"

static uint32_t sid_hash(int64_t sid)
{
	uint64_t x = (uint64_t)sid;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (uint32_t)x;
}

void session_table_init(struct session_table *st, int64_t tick_ms, int64_t max_timeout_ms)
{
	memset(st, 0, sizeof(*st));
	st->mask = 63;
	st->tab = xcalloc(st->mask + 1, sizeof(*st->tab));
	st->tick = tick_ms > 0 ? tick_ms : 2000;
	st->nslots = (uint32_t)(max_timeout_ms / st->tick + 3);
	st->ring = xcalloc(st->nslots, sizeof(*st->ring));
}

void session_table_free(struct session_table *st)
{
	for (uint32_t i = 0; i <= st->mask; i++) {
		struct session *s = st->tab[i];
		while (s) {
			struct session *n = s->hnext;
			free(s->eph);
			free(s);
			s = n;
		}
	}
	free(st->tab);
	free(st->ring);
	memset(st, 0, sizeof(*st));
}

struct session *session_find(const struct session_table *st, int64_t sid)
{
	for (struct session *s = st->tab[sid_hash(sid) & st->mask]; s; s = s->hnext)
		if (s->sid == sid)
			return s;
	return NULL;
}

static void grow(struct session_table *st)
{
	uint32_t nmask = st->mask * 2 + 1;
	struct session **ntab = xcalloc((size_t)nmask + 1, sizeof(*ntab));
	for (uint32_t i = 0; i <= st->mask; i++) {
		struct session *s = st->tab[i];
		while (s) {
			struct session *n = s->hnext;
			uint32_t b = sid_hash(s->sid) & nmask;
			s->hnext = ntab[b];
			ntab[b] = s;
			s = n;
		}
	}
	free(st->tab);
	st->tab = ntab;
	st->mask = nmask;
}

struct session *session_get(struct session_table *st, int64_t sid)
{
	struct session *s = session_find(st, sid);
	if (s)
		return s;
	if (st->count > st->mask)
		grow(st);
	s = xcalloc(1, sizeof(*s));
	s->sid = sid;
	uint32_t b = sid_hash(sid) & st->mask;
	s->hnext = st->tab[b];
	st->tab[b] = s;
	st->count++;
	return s;
}

void session_drop(struct session_table *st, struct session *s)
{
	session_untrack(st, s);
	struct session **pp = &st->tab[sid_hash(s->sid) & st->mask];
	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
	st->count--;
	if (s->applied)
		st->applied--;
	st->neph -= s->neph;
	free(s->eph);
	free(s);
}

void session_eph_add(struct session_table *st, struct session *s, struct tnode *n)
{
	if (s->neph == s->ecap) {
		s->ecap = s->ecap ? s->ecap * 2 : 4;
		s->eph = xrealloc(s->eph, (size_t)s->ecap * sizeof(*s->eph));
	}
	n->aux = s->neph;
	s->eph[s->neph++] = n;
	st->neph++;
}

void session_eph_del(struct session_table *st, struct session *s, struct tnode *n)
{
	uint32_t i = n->aux;
	if (i >= s->neph || s->eph[i] != n)
		return; /* not linked (defensive: replay of odd logs) */
	uint32_t last = s->neph - 1;
	if (i != last) {
		s->eph[i] = s->eph[last];
		s->eph[i]->aux = i;
	}
	s->neph = last;
	st->neph--;
}

/* ---------------------------------------------------------------- tracker */

static uint32_t slot_of(const struct session_table *st, int64_t t)
{
	return (uint32_t)((uint64_t)(t / st->tick) % st->nslots);
}

void session_untrack(struct session_table *st, struct session *s)
{
	if (!s->expire_at)
		return;
	if (s->bprev)
		s->bprev->bnext = s->bnext;
	else
		st->ring[slot_of(st, s->expire_at)] = s->bnext;
	if (s->bnext)
		s->bnext->bprev = s->bprev;
	s->bnext = s->bprev = NULL;
	s->expire_at = 0;
}

void session_track(struct session_table *st, struct session *s, int64_t now_ms)
{
	int64_t timeout = s->timeout;
	int64_t span = (int64_t)(st->nslots - 2) * st->tick;
	if (timeout > span)
		timeout = span; /* longer than the ring covers (config shrank) */
	if (timeout < 0)
		timeout = 0;
	int64_t at = ((now_ms + timeout) / st->tick + 1) * st->tick;
	if (st->next_exp == 0)
		st->next_exp = (now_ms / st->tick + 1) * st->tick;
	if (s->expire_at == at)
		return;
	session_untrack(st, s);
	s->expire_at = at;
	uint32_t b = slot_of(st, at);
	s->bnext = st->ring[b];
	s->bprev = NULL;
	if (s->bnext)
		s->bnext->bprev = s;
	st->ring[b] = s;
}

int session_expire(struct session_table *st, int64_t now_ms, void (*cb)(void *arg, int64_t sid),
		   void *arg)
{
	int count = 0;
	if (st->next_exp == 0 || now_ms < st->next_exp)
		return 0;
	int64_t steps = (now_ms - st->next_exp) / st->tick + 1;
	if (steps > st->nslots)
		steps = st->nslots; /* a long pause: every slot once */
	int64_t t = st->next_exp;
	for (int64_t k = 0; k < steps; k++, t += st->tick) {
		uint32_t b = slot_of(st, t);
		struct session *s = st->ring[b];
		while (s) {
			struct session *next = s->bnext;
			if (s->expire_at <= now_ms) {
				session_untrack(st, s);
				s->closing = true;
				count++;
				if (cb)
					cb(arg, s->sid);
			}
			s = next;
		}
	}
	st->next_exp = (now_ms / st->tick + 1) * st->tick;
	return count;
}

void session_each(const struct session_table *st, void (*cb)(void *arg, struct session *s),
		  void *arg)
{
	for (uint32_t i = 0; i <= st->mask; i++)
		for (struct session *s = st->tab[i]; s; s = s->hnext)
			cb(arg, s);
}
