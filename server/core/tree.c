/*
 * tree.c — the data tree: node allocation, the full-path hash index,
 * children arrays, path reconstruction and the client-visible stat.
 * See tree.h for the memory layout and why it is shaped this way.
 */
#include "tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmem.h"

/* A broken promise of a caller: no way to go on without corrupting the tree. */
static void tree_bug(const char *what)
{
	fprintf(stderr, "zkfs-server: tree: %s\n", what);
	abort();
}

uint32_t tree_hash(const char *path, size_t len)
{
	/* FNV-1a, 32 bits: cheap and good enough on path strings. */
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)path[i];
		h *= 16777619u;
	}
	return h;
}

static size_t node_size(size_t name_len, int32_t dlen)
{
	size_t sz = offsetof(struct tnode, name) + name_len + 1 + (dlen > 0 ? (size_t)dlen : 0);
	/* never less than the struct itself (its tail padding), which keeps
	 * compilers' object-size checks happy */
	return sz < sizeof(struct tnode) ? sizeof(struct tnode) : sz;
}

static struct tnode *node_alloc(const char *name, size_t name_len, const uint8_t *data,
				int32_t dlen)
{
	if (name_len > TNODE_NAME_MAX)
		tree_bug("path component too long for a node");
	struct tnode *n = xmalloc(node_size(name_len, dlen));
	memset(n, 0, offsetof(struct tnode, name));
	memcpy(n->name, name, name_len);
	n->name[name_len] = 0;
	n->name_len = (uint32_t)name_len & TNODE_NAME_MAX;
	n->data_len = dlen < 0 ? -1 : dlen;
	if (dlen > 0)
		memcpy(tnode_data(n), data, (size_t)dlen);
	return n;
}

int tree_init(struct tree *t)
{
	memset(t, 0, sizeof(*t));
	t->mask = 1023;
	t->tab = xcalloc(t->mask + 1, sizeof(*t->tab));
	t->root = node_alloc("", 0, NULL, 0); /* empty, not null: as ZooKeeper's root */
	t->root->hash = tree_hash("/", 1);
	t->tab[t->root->hash & t->mask] = t->root;
	t->count = 1;
	t->data_size = 1; /* the root's path, "/" */
	return 0;
}

static void free_rec(struct tnode *n)
{
	/* Iterative post-order through the kids arrays would need a stack;
	 * recursion depth is bounded by path depth, which jute.maxbuffer bounds
	 * to ~500k components in theory.  Use an explicit stack to be safe. */
	size_t cap = 64, top = 0;
	struct tnode **stack = xmalloc(cap * sizeof(*stack));
	stack[top++] = n;
	while (top) {
		struct tnode *x = stack[--top];
		struct tkids *kb = tnode_kb(x);
		for (uint32_t i = 0; kb && i < kb->n; i++) {
			if (top == cap) {
				cap *= 2;
				stack = xrealloc(stack, cap * sizeof(*stack));
			}
			stack[top++] = kb->v[i];
		}
		free(kb);
		free(x);
	}
	free(stack);
}

void tree_free(struct tree *t)
{
	if (t->root)
		free_rec(t->root);
	free(t->tab);
	memset(t, 0, sizeof(*t));
}

/* True when n's full path equals path[0..len). */
static bool node_is(const struct tnode *n, const char *path, size_t len)
{
	while (n->parent) {
		size_t nl = n->name_len;
		if (len < nl + 1)
			return false;
		if (memcmp(path + len - nl, n->name, nl) != 0)
			return false;
		len -= nl;
		if (path[len - 1] != '/')
			return false;
		len--;
		n = n->parent;
	}
	/* At the root: every component matched and nothing is left. */
	return len == 0;
}

bool tree_is(const struct tnode *n, const char *path, size_t len)
{
	if (!n->parent)
		return len == 1 && path[0] == '/';
	return node_is(n, path, len);
}

struct tnode *tree_find(const struct tree *t, const char *path, size_t len)
{
	uint32_t h = tree_hash(path, len);
	for (struct tnode *n = t->tab[h & t->mask]; n; n = n->hnext) {
		if (n->hash != h)
			continue;
		if (!n->parent) {
			if (len == 1 && path[0] == '/')
				return n;
			continue;
		}
		if (node_is(n, path, len))
			return n;
	}
	return NULL;
}

/* Rehashes into nmask + 1 buckets. */
static void resize(struct tree *t, uint32_t nmask)
{
	struct tnode **ntab = xcalloc((size_t)nmask + 1, sizeof(*ntab));
	for (uint32_t i = 0; i <= t->mask; i++) {
		struct tnode *n = t->tab[i];
		while (n) {
			struct tnode *next = n->hnext;
			n->hnext = ntab[n->hash & nmask];
			ntab[n->hash & nmask] = n;
			n = next;
		}
	}
	free(t->tab);
	t->tab = ntab;
	t->mask = nmask;
}

/* Buckets (mask + 1) for `nodes` nodes, at most one per bucket on average
 * (see tree.h for why not more). */
static uint32_t mask_for(uint64_t nodes, uint32_t mask)
{
	while ((uint64_t)mask + 1 < nodes && mask < UINT32_MAX / 2)
		mask = mask * 2 + 1;
	return mask;
}

void tree_reserve(struct tree *t, uint64_t nodes)
{
	uint32_t nmask = mask_for(nodes, t->mask);
	if (nmask != t->mask)
		resize(t, nmask);
}

static size_t kids_size(uint32_t cap)
{
	return offsetof(struct tkids, v) + (size_t)cap * sizeof(struct tnode *);
}

/* n's children block, made (header only) if it has none; n not ephemeral. */
static struct tkids *kids_get(struct tnode *n)
{
	if (n->kind == TN_EPHEMERAL)
		tree_bug("an ephemeral node cannot have a children block");
	struct tkids *kb = n->u.kb;
	if (!kb) {
		kb = xmalloc(kids_size(0));
		kb->pzxid = n->czxid;
		kb->ttl = 0;
		kb->n = kb->cap = 0;
		n->u.kb = kb;
	}
	return kb;
}

/* Room for one more child in n's block. */
static struct tkids *kids_reserve(struct tnode *n)
{
	struct tkids *kb = kids_get(n);
	if (kb->n == kb->cap) {
		uint32_t c = kb->cap, ncap;
		if (c == 0)
			ncap = 2;
		else if (c <= 1024)
			ncap = c + c / 2 + 1;
		else
			ncap = c + c / 8;
		/* an even count fills glibc's 16-byte granules exactly (the
		 * header is 24 bytes, the chunk overhead 8) */
		ncap = (ncap + 1) & ~1u;
		if (ncap < c) /* 2^32 children: no node can hold that many */
			tree_bug("children array overflow");
		kb = xrealloc(kb, kids_size(ncap));
		kb->cap = ncap;
		n->u.kb = kb;
	}
	return kb;
}

bool tree_name_ok(const char *path, size_t len)
{
	size_t i = len;
	while (i > 0 && path[i - 1] != '/')
		i--;
	return len - i <= TNODE_NAME_MAX;
}

/* n is out of its parent p's children array (swap-remove done): keeps a
 * walk under way valid.  See tree.h. */
static void walker_removed(struct tree_walker *w, struct tnode *p, struct tnode *n)
{
	/* n can be inside the walk only as its innermost directory, emptied */
	if (w->depth && w->lv[w->depth - 1].dir == n)
		w->depth--;
	uint32_t nk = tnode_nkids(p);
	for (uint32_t i = w->depth; i-- > 0;) {
		if (w->lv[i].dir == p) {
			if (w->lv[i].left > nk)
				w->lv[i].left = nk;
			break;
		}
	}
}

struct tnode *tree_add(struct tree *t, struct tnode *parent, const char *path, size_t len,
		       const uint8_t *data, int32_t dlen)
{
	size_t plen = zk_path_parent_len(path, len);
	size_t off = plen == 1 ? 1 : plen + 1;
	struct tkids *kb = kids_reserve(parent);
	struct tnode *n = node_alloc(path + off, len - off, data, dlen);
	n->hash = tree_hash(path, len);
	n->parent = parent;
	n->pidx = kb->n;
	kb->v[kb->n++] = n;
	if (t->count > t->mask && t->mask < UINT32_MAX / 2)
		resize(t, t->mask * 2 + 1);
	n->hnext = t->tab[n->hash & t->mask];
	t->tab[n->hash & t->mask] = n;
	t->count++;
	t->data_size += len + (dlen > 0 ? (size_t)dlen : 0);
	return n;
}

void tree_remove(struct tree *t, struct tnode *n)
{
	struct tnode *p = n->parent;
	struct tkids *kb = p->u.kb;
	/* swap-remove from the parent's children */
	uint32_t last = kb->n - 1;
	if (n->pidx != last) {
		kb->v[n->pidx] = kb->v[last];
		kb->v[n->pidx]->pidx = n->pidx;
	}
	kb->n = last;
	/* the block stays (pzxid and ttl live there), its array shrinks */
	if (kb->n == 0 || (kb->cap > 16 && kb->n < kb->cap / 4)) {
		kb->cap = kb->n == 0 ? 0 : kb->cap / 2;
		p->u.kb = xrealloc(kb, kids_size(kb->cap));
	}
	if (t->walker)
		walker_removed(t->walker, p, n);
	struct tnode **pp = &t->tab[n->hash & t->mask];
	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
	t->count--;
	t->data_size -= tree_path(n, NULL, 0) + (n->data_len > 0 ? (size_t)n->data_len : 0);
	free(tnode_kb(n));
	free(n);
}

struct tnode *tree_set_data(struct tree *t, struct tnode *n, const uint8_t *data, int32_t len)
{
	if (n->data_len > 0)
		t->data_size -= (size_t)n->data_len;
	if (len > 0)
		t->data_size += (size_t)len;
	size_t oldsz = node_size(n->name_len, n->data_len);
	size_t newsz = node_size(n->name_len, len);
	if (newsz != oldsz) {
		/* unlink from the hash chain while the address may change */
		struct tnode **pp = &t->tab[n->hash & t->mask];
		while (*pp != n)
			pp = &(*pp)->hnext;
		*pp = n->hnext;
		struct tnode *m = xrealloc(n, newsz);
		m->hnext = t->tab[m->hash & t->mask];
		t->tab[m->hash & t->mask] = m;
		if (m != n) {
			if (m->parent)
				m->parent->u.kb->v[m->pidx] = m;
			else
				t->root = m;
			struct tkids *kb = tnode_kb(m);
			for (uint32_t i = 0; kb && i < kb->n; i++)
				kb->v[i]->parent = m;
			for (uint32_t i = 0; t->walker && i < t->walker->depth; i++)
				if (t->walker->lv[i].dir == n)
					t->walker->lv[i].dir = m;
		}
		n = m;
	}
	n->data_len = len < 0 ? -1 : len;
	if (len > 0)
		memcpy(tnode_data(n), data, (size_t)len);
	return n;
}

size_t tree_path(const struct tnode *n, char *buf, size_t cap)
{
	if (!n->parent) {
		if (cap >= 2) {
			buf[0] = '/';
			buf[1] = 0;
		}
		return 1;
	}
	size_t len = 0;
	for (const struct tnode *x = n; x->parent; x = x->parent)
		len += x->name_len + 1;
	if (cap > len) {
		size_t at = len;
		buf[at] = 0;
		for (const struct tnode *x = n; x->parent; x = x->parent) {
			at -= x->name_len;
			memcpy(buf + at, x->name, x->name_len);
			buf[--at] = '/';
		}
	}
	return len;
}

char *tree_path_dup(const struct tnode *n)
{
	size_t len = tree_path(n, NULL, 0);
	char *p = xmalloc(len + 1);
	tree_path(n, p, len + 1);
	return p;
}

void tree_stat(const struct tnode *n, struct zk_stat *st)
{
	st->czxid = n->czxid;
	st->mzxid = n->mzxid;
	st->ctime = n->ctime;
	st->mtime = n->mtime;
	st->version = n->version;
	uint32_t nkids = tnode_nkids(n);
	st->cversion = (int32_t)((uint32_t)n->cversion * 2u - nkids);
	st->aversion = n->aversion;
	st->ephemeral_owner = tnode_owner(n);
	st->data_length = n->data_len > 0 ? n->data_len : 0;
	st->num_children = (int32_t)nkids;
	st->pzxid = tnode_pzxid(n);
}

int tree_set_pzxid(struct tnode *n, int64_t pzxid)
{
	if (n->kind == TN_EPHEMERAL)
		return pzxid == n->czxid ? 0 : -1;
	if (n->u.kb)
		n->u.kb->pzxid = pzxid;
	else if (pzxid != n->czxid)
		kids_get(n)->pzxid = pzxid;
	return 0;
}

int tree_set_kind(struct tnode *n, enum tnode_kind kind, int64_t arg)
{
	if (kind == TN_EPHEMERAL) {
		struct tkids *kb = tnode_kb(n);
		if (kb && kb->n)
			return -1;
		free(kb);
		n->u.owner = arg;
		n->kind = kind;
		return 0;
	}
	if (n->kind == TN_EPHEMERAL)
		n->u.kb = NULL;
	n->kind = kind;
	if (kind == TN_TTL)
		kids_get(n)->ttl = arg;
	else if (n->u.kb)
		n->u.kb->ttl = 0;
	return 0;
}

int tree_walk(const struct tnode *n, int (*cb)(void *arg, const struct tnode *n), void *arg)
{
	size_t cap = 64, top = 0;
	const struct tnode **stack = xmalloc(cap * sizeof(*stack));
	int rc = 0;
	stack[top++] = n;
	while (top) {
		const struct tnode *x = stack[--top];
		rc = cb(arg, x);
		if (rc)
			break;
		/* push in reverse so kids come out in array order */
		for (uint32_t i = tnode_nkids(x); i-- > 0;) {
			if (top == cap) {
				cap *= 2;
				stack = xrealloc(stack, cap * sizeof(*stack));
			}
			stack[top++] = tnode_kid(x, i);
		}
	}
	free(stack);
	return rc;
}

void tree_walker_start(struct tree *t, struct tree_walker *w)
{
	memset(w, 0, sizeof(*w));
	t->walker = w;
}

static void walker_push(struct tree_walker *w, struct tnode *dir)
{
	if (w->depth == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		w->lv = xrealloc(w->lv, w->cap * sizeof(*w->lv));
	}
	w->lv[w->depth++] = (struct tw_level){dir, tnode_nkids(dir)};
}

const struct tnode *tree_walker_next(struct tree *t, struct tree_walker *w)
{
	if (!w->started) {
		w->started = true;
		walker_push(w, t->root);
		return t->root;
	}
	while (w->depth) {
		struct tw_level *l = &w->lv[w->depth - 1];
		if (l->left) {
			struct tnode *k = tnode_kid(l->dir, --l->left);
			/* a leaf that gets children later gets them after the walk
			 * started: the walk may miss those */
			if (tnode_nkids(k))
				walker_push(w, k);
			return k;
		}
		w->depth--;
	}
	return NULL;
}

void tree_walker_stop(struct tree *t, struct tree_walker *w)
{
	if (t->walker == w)
		t->walker = NULL;
	free(w->lv);
	w->lv = NULL;
	w->depth = w->cap = 0;
}

uint64_t tree_count_descendants(const struct tnode *n)
{
	uint64_t total = 0;
	size_t cap = 64, top = 0;
	const struct tnode **stack = xmalloc(cap * sizeof(*stack));
	stack[top++] = n;
	while (top) {
		const struct tnode *x = stack[--top];
		uint32_t nk = tnode_nkids(x);
		total += nk;
		for (uint32_t i = 0; i < nk; i++) {
			const struct tnode *k = tnode_kid(x, i);
			if (tnode_nkids(k) == 0)
				continue;
			if (top == cap) {
				cap *= 2;
				stack = xrealloc(stack, cap * sizeof(*stack));
			}
			stack[top++] = k;
		}
	}
	free(stack);
	return total;
}
