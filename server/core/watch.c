/*
 * watch.c — the watch manager (see watch.h): per-path and per-watcher
 * lists of (path, watcher, modes) entries, triggering with ZooKeeper's
 * one-shot / persistent / persistent-recursive rules, removal and the
 * iterations used by the four-letter words.
 */
#include "watch.h"

#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "tree.h"
#include "xmem.h"

struct wentry {
	struct wentry *pnext, *pprev; /* on the path's list */
	struct wentry *wnext, *wprev; /* on the watcher's list */
	struct wpath *wp;
	struct core_watcher *w;
	uint8_t bits;
};

struct wpath {
	struct wpath *hnext;
	struct wentry *head;
	uint32_t hash;
	uint32_t len;
	char path[];
};

void watch_init(struct watch_mgr *m)
{
	memset(m, 0, sizeof(*m));
	m->mask = 255;
	m->tab = xcalloc(m->mask + 1, sizeof(*m->tab));
}

void watch_free(struct watch_mgr *m)
{
	for (uint32_t i = 0; i <= m->mask; i++) {
		struct wpath *p = m->tab[i];
		while (p) {
			struct wpath *next = p->hnext;
			struct wentry *e = p->head;
			while (e) {
				/* watchers are not touched: at shutdown their
				 * connections may be gone already */
				struct wentry *en = e->pnext;
				free(e);
				e = en;
			}
			free(p);
			p = next;
		}
	}
	free(m->tab);
	memset(m, 0, sizeof(*m));
}

static struct wpath *path_find(const struct watch_mgr *m, const char *path, size_t len)
{
	uint32_t h = tree_hash(path, len);
	for (struct wpath *p = m->tab[h & m->mask]; p; p = p->hnext)
		if (p->hash == h && p->len == len && !memcmp(p->path, path, len))
			return p;
	return NULL;
}

static void grow(struct watch_mgr *m)
{
	uint32_t nmask = m->mask * 2 + 1;
	struct wpath **ntab = xcalloc((size_t)nmask + 1, sizeof(*ntab));
	for (uint32_t i = 0; i <= m->mask; i++) {
		struct wpath *p = m->tab[i];
		while (p) {
			struct wpath *next = p->hnext;
			p->hnext = ntab[p->hash & nmask];
			ntab[p->hash & nmask] = p;
			p = next;
		}
	}
	free(m->tab);
	m->tab = ntab;
	m->mask = nmask;
}

static struct wpath *path_get(struct watch_mgr *m, const char *path, size_t len)
{
	struct wpath *p = path_find(m, path, len);
	if (p)
		return p;
	if (m->npaths > m->mask)
		grow(m);
	p = xmalloc(sizeof(*p) + len + 1);
	p->head = NULL;
	p->hash = tree_hash(path, len);
	p->len = (uint32_t)len;
	memcpy(p->path, path, len);
	p->path[len] = 0;
	p->hnext = m->tab[p->hash & m->mask];
	m->tab[p->hash & m->mask] = p;
	m->npaths++;
	return p;
}

static void path_drop(struct watch_mgr *m, struct wpath *p)
{
	struct wpath **pp = &m->tab[p->hash & m->mask];
	while (*pp != p)
		pp = &(*pp)->hnext;
	*pp = p->hnext;
	m->npaths--;
	free(p);
}

static void entry_drop(struct watch_mgr *m, struct wentry *e)
{
	if (e->pprev)
		e->pprev->pnext = e->pnext;
	else
		e->wp->head = e->pnext;
	if (e->pnext)
		e->pnext->pprev = e->pprev;
	if (e->wprev)
		e->wprev->wnext = e->wnext;
	else
		e->w->head = e->wnext;
	if (e->wnext)
		e->wnext->wprev = e->wprev;
	if (e->bits & W_RDATA)
		m->nrecursive--;
	m->nsides -= !!(e->bits & W_DATA_SIDE) + !!(e->bits & W_CHILD_SIDE);
	m->nentries--;
	if (--e->w->nwatches == 0)
		m->nwatchers--;
	if (!e->wp->head)
		path_drop(m, e->wp);
	free(e);
}

static unsigned sides(uint8_t bits)
{
	return !!(bits & W_DATA_SIDE) + !!(bits & W_CHILD_SIDE);
}

static void set_bits(struct watch_mgr *m, struct wentry *e, uint8_t bits)
{
	if ((e->bits & W_RDATA) && !(bits & W_RDATA))
		m->nrecursive--;
	if (!(e->bits & W_RDATA) && (bits & W_RDATA))
		m->nrecursive++;
	m->nsides = m->nsides - sides(e->bits) + sides(bits);
	e->bits = bits;
}

void watch_add(struct watch_mgr *m, const char *path, size_t len, struct core_watcher *w,
	       uint8_t bits)
{
	struct wpath *p = path_get(m, path, len);
	for (struct wentry *e = p->head; e; e = e->pnext)
		if (e->w == w) {
			set_bits(m, e, e->bits | bits);
			return;
		}
	struct wentry *e = xcalloc(1, sizeof(*e));
	e->wp = p;
	e->w = w;
	e->pnext = p->head;
	if (p->head)
		p->head->pprev = e;
	p->head = e;
	e->wnext = w->head;
	if (w->head)
		((struct wentry *)w->head)->wprev = e;
	w->head = e;
	if (w->nwatches++ == 0)
		m->nwatchers++;
	m->nentries++;
	set_bits(m, e, bits);
}

struct hits {
	struct core_watcher **v;
	size_t n, cap;
	struct core_watcher *small[8];
};

static void hit(struct watch_mgr *m, struct hits *h, struct core_watcher *w)
{
	if (w->mark == m->stamp)
		return;
	w->mark = m->stamp;
	if (h->n == h->cap) {
		size_t ncap = h->cap * 2;
		if (h->v == h->small) {
			h->v = xmalloc(ncap * sizeof(*h->v));
			memcpy(h->v, h->small, sizeof(h->small));
		} else {
			h->v = xrealloc(h->v, ncap * sizeof(*h->v));
		}
		h->cap = ncap;
	}
	h->v[h->n++] = w;
}

void watch_fire(struct watch_mgr *m, const char *path, size_t len, int32_t type, int64_t zxid,
		const struct zk_acl_vec *acl, const struct core_hooks *hooks)
{
	struct hits h;
	h.v = h.small;
	h.n = 0;
	h.cap = sizeof(h.small) / sizeof(h.small[0]);
	m->stamp++;
	bool data_ev =
	    type == ZK_EVENT_CREATED || type == ZK_EVENT_DELETED || type == ZK_EVENT_DATA_CHANGED;
	bool child_ev = type == ZK_EVENT_CHILD_CHANGED || type == ZK_EVENT_DELETED;

	struct wpath *p = path_find(m, path, len);
	if (p) {
		struct wentry *e = p->head;
		while (e) {
			struct wentry *next = e->pnext;
			uint8_t bits = e->bits;
			bool match = false;
			if (data_ev && (bits & W_DATA)) {
				match = true;
				bits &= (uint8_t)~W_DATA;
			}
			if (child_ev && (bits & W_CHILD)) {
				match = true;
				bits &= (uint8_t)~W_CHILD;
			}
			if (data_ev && (bits & (W_PDATA | W_RDATA)))
				match = true;
			if (child_ev && (bits & W_PCHILD))
				match = true;
			if (match)
				hit(m, &h, e->w);
			if (bits == 0) {
				entry_drop(m, e); /* may free p when it was the last */
			} else {
				set_bits(m, e, bits);
			}
			e = next;
		}
	}
	if (m->nrecursive && type != ZK_EVENT_CHILD_CHANGED && len > 1) {
		/* every proper ancestor, "/" included */
		size_t plen = len;
		for (;;) {
			plen = zk_path_parent_len(path, plen);
			if (plen == 0)
				break;
			struct wpath *a = path_find(m, path, plen);
			if (a)
				for (struct wentry *e = a->head; e; e = e->pnext)
					if (e->bits & W_RDATA)
						hit(m, &h, e->w);
			if (plen == 1)
				break;
		}
	}
	if (h.n && hooks && hooks->notify) {
		/* The hook gets a NUL-terminated path. */
		char stackbuf[256];
		char *pz = len < sizeof(stackbuf) ? stackbuf : xmalloc(len + 1);
		memcpy(pz, path, len);
		pz[len] = 0;
		for (size_t i = 0; i < h.n; i++)
			if (!acl || acl_check(acl, h.v[i]->auth, ZK_PERM_READ))
				hooks->notify(hooks->arg, h.v[i], type, pz, zxid);
		if (pz != stackbuf)
			free(pz);
	}
	if (h.v != h.small)
		free(h.v);
}

uint8_t watch_type_bits(int32_t type)
{
	switch (type) {
	case ZK_WATCHER_CHILDREN:
		return W_CHILD_SIDE;
	case ZK_WATCHER_DATA:
		return W_DATA_SIDE;
	case ZK_WATCHER_ANY:
		return W_DATA_SIDE | W_CHILD_SIDE;
	case ZK_WATCHER_PERSISTENT:
		return W_PERSIST;
	case ZK_WATCHER_PERSISTENT_RECURSIVE:
		return W_RECURSIVE;
	}
	return 0;
}

bool watch_has(const struct watch_mgr *m, const char *path, size_t len,
	       const struct core_watcher *w, uint8_t bits)
{
	struct wpath *p = path_find(m, path, len);
	if (!p)
		return false;
	for (struct wentry *e = p->head; e; e = e->pnext)
		if (e->w == w)
			return (e->bits & bits) != 0;
	return false;
}

bool watch_remove(struct watch_mgr *m, const char *path, size_t len, struct core_watcher *w,
		  uint8_t bits)
{
	struct wpath *p = path_find(m, path, len);
	if (!p)
		return false;
	for (struct wentry *e = p->head; e; e = e->pnext) {
		if (e->w != w)
			continue;
		if (!(e->bits & bits))
			return false;
		uint8_t nb = e->bits & (uint8_t)~bits;
		if (nb == 0)
			entry_drop(m, e);
		else
			set_bits(m, e, nb);
		return true;
	}
	return false;
}

void watch_gone(struct watch_mgr *m, struct core_watcher *w)
{
	while (w->head)
		entry_drop(m, w->head);
}

void watch_data_summary(struct watch_mgr *m, uint64_t *watchers, uint64_t *paths, uint64_t *watches)
{
	uint64_t nw = 0, np = 0, n = 0;
	m->stamp++;
	for (uint32_t i = 0; i <= m->mask; i++)
		for (struct wpath *p = m->tab[i]; p; p = p->hnext) {
			bool any = false;
			for (struct wentry *e = p->head; e; e = e->pnext) {
				if (!(e->bits & W_DATA_SIDE))
					continue;
				any = true;
				n++;
				if (e->w->mark != m->stamp) {
					e->w->mark = m->stamp;
					nw++;
				}
			}
			np += any;
		}
	*watchers = nw;
	*paths = np;
	*watches = n;
}

void watch_each_by_path(const struct watch_mgr *m,
			void (*cb)(void *arg, const char *path, struct core_watcher *w), void *arg)
{
	for (uint32_t i = 0; i <= m->mask; i++)
		for (struct wpath *p = m->tab[i]; p; p = p->hnext)
			for (struct wentry *e = p->head; e; e = e->pnext)
				if (e->bits & W_DATA_SIDE)
					cb(arg, p->path, e->w);
}

void watch_each_of(const struct core_watcher *w, void (*cb)(void *arg, const char *path), void *arg)
{
	for (struct wentry *e = w->head; e; e = e->wnext)
		if (e->bits & W_DATA_SIDE)
			cb(arg, e->wp->path);
}
