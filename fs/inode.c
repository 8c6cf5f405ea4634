/*
 * inode.c — node id <-> path table (see inode.h).  Two chained hash
 * tables over the same entries: by id (all entries) and by path (live
 * entries only).  One mutex guards everything; operations are short and
 * never block on the network, so FUSE workers and the notify thread can
 * share it freely.
 */
#include "inode.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ROOT_ID 1 /* FUSE_ROOT_ID, without pulling the FUSE header in here */

struct ent {
	uint64_t id;
	char *path;
	uint64_t nlookup;
	bool dir;
	bool live;
	bool have_stat;
	struct zk_stat st;
	int64_t pending;
	int perm;
	uint8_t *data; /* last data read, for disconnected reads (or NULL) */
	size_t dlen;
	bool cache_ok;     /* data is current: may be served while connected */
	int32_t cache_ver; /* znode version of data when cache_ok */
	struct ent *next_id;   /* chain in by-id buckets */
	struct ent *next_path; /* chain in by-path buckets (live only) */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
/* All below guarded by mu. */
static struct ent **by_id, **by_path;
static size_t nbuckets, nents;
static uint64_t next_id = ROOT_ID + 1;
static int64_t *as_file; /* open-addressing set of czxids, 0 = empty */
static size_t as_file_cap, as_file_n;
/* Bumped by every cache invalidation, so a read that raced with one does
 * not store what it fetched as current. */
static uint64_t cache_gen;

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static void link_id(struct ent *e)
{
	size_t b = hash_u64(e->id) & (nbuckets - 1);
	e->next_id = by_id[b];
	by_id[b] = e;
}

static void link_path(struct ent *e)
{
	size_t b = hash_str(e->path) & (nbuckets - 1);
	e->next_path = by_path[b];
	by_path[b] = e;
	e->live = true;
}

/* Takes e off its path.  `changed`: because the znode behind the path
 * changed, which moves the cache generation; an entry merely forgotten by
 * the kernel does not (it would make every prefetched stat set stale). */
static void unlink_path(struct ent *e, bool changed)
{
	struct ent **pp = &by_path[hash_str(e->path) & (nbuckets - 1)];
	for (; *pp; pp = &(*pp)->next_path)
		if (*pp == e) {
			*pp = e->next_path;
			break;
		}
	e->live = false;
	e->cache_ok = false;
	if (changed)
		cache_gen++;
}

static void unlink_id(struct ent *e)
{
	struct ent **pp = &by_id[hash_u64(e->id) & (nbuckets - 1)];
	for (; *pp; pp = &(*pp)->next_id)
		if (*pp == e) {
			*pp = e->next_id;
			break;
		}
}

static struct ent *find_id(uint64_t id)
{
	struct ent *e = by_id[hash_u64(id) & (nbuckets - 1)];
	while (e && e->id != id)
		e = e->next_id;
	return e;
}

static struct ent *find_path(const char *path)
{
	struct ent *e = by_path[hash_str(path) & (nbuckets - 1)];
	while (e && strcmp(e->path, path))
		e = e->next_path;
	return e;
}

/* Doubles the bucket arrays when the load passes 1; failure to grow only
 * costs speed. */
static void maybe_grow(void)
{
	size_t nb = nbuckets * 2;
	struct ent **ni, **np, *all = NULL;

	if (nents < nbuckets)
		return;
	ni = calloc(nb, sizeof(*ni));
	np = calloc(nb, sizeof(*np));
	if (!ni || !np) {
		free(ni);
		free(np);
		return;
	}
	for (size_t i = 0; i < nbuckets; i++)
		for (struct ent *e = by_id[i], *n; e; e = n) {
			n = e->next_id;
			e->next_id = all;
			all = e;
		}
	free(by_id);
	free(by_path);
	by_id = ni;
	by_path = np;
	nbuckets = nb;
	for (struct ent *e = all, *n; e; e = n) {
		n = e->next_id;
		link_id(e);
		if (e->live)
			link_path(e);
	}
}

static struct ent *new_ent(uint64_t id, const char *path)
{
	struct ent *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->path = strdup(path);
	if (!e->path) {
		free(e);
		return NULL;
	}
	e->id = id;
	e->pending = -1;
	e->perm = -1;
	link_id(e);
	link_path(e);
	nents++;
	return e;
}

int inode_table_init(void)
{
	nbuckets = 1024;
	by_id = calloc(nbuckets, sizeof(*by_id));
	by_path = calloc(nbuckets, sizeof(*by_path));
	if (!by_id || !by_path || !new_ent(ROOT_ID, "/"))
		return -ENOMEM;
	find_id(ROOT_ID)->dir = true;
	return 0;
}

void inode_table_free(void)
{
	pthread_mutex_lock(&mu);
	for (size_t i = 0; by_id && i < nbuckets; i++)
		for (struct ent *e = by_id[i], *n; e; e = n) {
			n = e->next_id;
			free(e->path);
			free(e->data);
			free(e);
		}
	free(by_id);
	free(by_path);
	by_id = by_path = NULL;
	free(as_file);
	as_file = NULL;
	as_file_cap = as_file_n = nents = nbuckets = 0;
	next_id = ROOT_ID + 1;
	pthread_mutex_unlock(&mu);
}

uint64_t inode_ref(const char *path, const struct zk_stat *st, bool dir)
{
	struct ent *e;
	uint64_t id = 0;

	pthread_mutex_lock(&mu);
	e = find_path(path);
	if (e && e->id != ROOT_ID && st &&
	    ((e->have_stat && e->st.czxid != st->czxid) || e->dir != dir)) {
		unlink_path(e, true); /* a different znode, or a type change: new inode */
		e = NULL;
	}
	if (!e) {
		maybe_grow();
		e = new_ent(next_id++, path);
	}
	if (e) {
		if (e->id != ROOT_ID)
			e->dir = dir;
		if (st) {
			e->st = *st;
			e->have_stat = true;
		}
		e->nlookup++;
		id = e->id;
	}
	pthread_mutex_unlock(&mu);
	return id;
}

void inode_forget(uint64_t id, uint64_t n)
{
	struct ent *e;

	pthread_mutex_lock(&mu);
	e = find_id(id);
	if (e) {
		e->nlookup = e->nlookup > n ? e->nlookup - n : 0;
		if (e->nlookup == 0 && e->id != ROOT_ID) {
			if (e->live)
				unlink_path(e, false);
			unlink_id(e);
			free(e->path);
			free(e->data);
			free(e);
			nents--;
		}
	}
	pthread_mutex_unlock(&mu);
}

static int copy_out(const struct ent *e, struct inode_info *out)
{
	out->id = e->id;
	out->path = strdup(e->path);
	out->dir = e->dir;
	out->live = e->live;
	out->have_stat = e->have_stat;
	out->st = e->st;
	out->pending_size = e->pending;
	out->perm = e->perm;
	return out->path ? 0 : -ENOMEM;
}

int inode_get(uint64_t id, struct inode_info *out)
{
	struct ent *e;
	int rc = -ENOENT;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&mu);
	e = find_id(id);
	if (e)
		rc = copy_out(e, out);
	pthread_mutex_unlock(&mu);
	return rc;
}

void inode_info_free(struct inode_info *in)
{
	free(in->path);
	in->path = NULL;
}

char *inode_path(uint64_t id)
{
	struct ent *e;
	char *p = NULL;

	pthread_mutex_lock(&mu);
	e = find_id(id);
	if (e)
		p = strdup(e->path);
	pthread_mutex_unlock(&mu);
	return p;
}

uint64_t inode_find(const char *path, struct inode_info *out)
{
	struct ent *e;
	uint64_t id = 0;

	if (out)
		memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&mu);
	e = find_path(path);
	if (e) {
		id = e->id;
		if (out && copy_out(e, out))
			id = 0;
	}
	pthread_mutex_unlock(&mu);
	return id;
}

void inode_set_stat(const char *path, const struct zk_stat *st)
{
	struct ent *e;

	pthread_mutex_lock(&mu);
	e = find_path(path);
	if (e && (!e->have_stat || e->st.czxid == st->czxid || e->id == ROOT_ID)) {
		e->st = *st;
		e->have_stat = true;
	}
	pthread_mutex_unlock(&mu);
}

static void store_data(uint64_t id, const uint8_t *data, size_t len, bool cache,
		       int32_t version, uint64_t gen)
{
	struct ent *e;
	uint8_t *copy = malloc(len + 1);

	if (!copy)
		return;
	if (len)
		memcpy(copy, data, len);
	pthread_mutex_lock(&mu);
	e = find_id(id);
	if (e) {
		free(e->data);
		e->data = copy;
		e->dlen = len;
		copy = NULL;
		e->cache_ok = cache && e->live && gen == cache_gen;
		e->cache_ver = version;
	}
	pthread_mutex_unlock(&mu);
	free(copy);
}

void inode_set_data(uint64_t id, const uint8_t *data, size_t len)
{
	store_data(id, data, len, false, 0, 0);
}

uint64_t inode_cache_gen(void)
{
	uint64_t g;

	pthread_mutex_lock(&mu);
	g = cache_gen;
	pthread_mutex_unlock(&mu);
	return g;
}

void inode_set_data_cached(uint64_t id, const uint8_t *data, size_t len, int32_t version,
			   uint64_t gen)
{
	store_data(id, data, len, len <= INODE_CACHE_MAX, version, gen);
}

int inode_get_cached(uint64_t id, uint8_t **data, size_t *len, int32_t *version)
{
	struct ent *e;
	int rc = -ENOENT;

	pthread_mutex_lock(&mu);
	e = find_id(id);
	if (e && e->cache_ok && e->data) {
		*data = malloc(e->dlen + 1);
		if (*data) {
			memcpy(*data, e->data, e->dlen);
			*len = e->dlen;
			*version = e->cache_ver;
			rc = 0;
		} else {
			rc = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&mu);
	return rc;
}

void inode_cache_drop(const char *path)
{
	struct ent *e;

	pthread_mutex_lock(&mu);
	cache_gen++;
	if (path) {
		e = find_path(path);
		if (e)
			e->cache_ok = false;
	} else {
		for (size_t i = 0; by_id && i < nbuckets; i++)
			for (e = by_id[i]; e; e = e->next_id)
				e->cache_ok = false;
	}
	pthread_mutex_unlock(&mu);
}

void inode_cache_drop_id(uint64_t id)
{
	struct ent *e;

	pthread_mutex_lock(&mu);
	cache_gen++;
	e = find_id(id);
	if (e)
		e->cache_ok = false;
	pthread_mutex_unlock(&mu);
}

void inode_cache_check(uint64_t id, int32_t version)
{
	struct ent *e;

	pthread_mutex_lock(&mu);
	e = find_id(id);
	if (e && e->cache_ok && e->cache_ver != version) {
		e->cache_ok = false;
		cache_gen++;
	}
	pthread_mutex_unlock(&mu);
}

int inode_get_data(uint64_t id, uint8_t **data, size_t *len)
{
	struct ent *e;
	int rc = -ENOENT;

	pthread_mutex_lock(&mu);
	e = find_id(id);
	if (e && e->data) {
		*data = malloc(e->dlen + 1);
		if (*data) {
			memcpy(*data, e->data, e->dlen);
			*len = e->dlen;
			rc = 0;
		} else {
			rc = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&mu);
	return rc;
}

void inode_set_perm(uint64_t id, int perm)
{
	struct ent *e;

	pthread_mutex_lock(&mu);
	e = find_id(id);
	if (e)
		e->perm = perm;
	pthread_mutex_unlock(&mu);
}

void inode_set_pending(uint64_t id, int64_t size)
{
	struct ent *e;

	pthread_mutex_lock(&mu);
	e = find_id(id);
	if (e)
		e->pending = size;
	pthread_mutex_unlock(&mu);
}

uint64_t inode_detach(const char *path)
{
	struct ent *e;
	uint64_t id = 0;

	pthread_mutex_lock(&mu);
	e = find_path(path);
	if (e && e->id != ROOT_ID) {
		unlink_path(e, true);
		id = e->id;
	}
	pthread_mutex_unlock(&mu);
	return id;
}

int inode_move(uint64_t id, const char *newpath, const struct zk_stat *st)
{
	struct ent *e, *old;
	char *p = strdup(newpath);
	int rc = -ENOENT;

	if (!p)
		return -ENOMEM;
	pthread_mutex_lock(&mu);
	e = find_id(id);
	if (e) {
		old = find_path(newpath);
		if (old && old != e)
			unlink_path(old, true);
		if (e->live)
			unlink_path(e, true);
		free(e->path);
		e->path = p;
		p = NULL;
		link_path(e);
		if (st) {
			e->st = *st;
			e->have_stat = true;
		}
		rc = 0;
	}
	pthread_mutex_unlock(&mu);
	free(p);
	return rc;
}

static void as_file_put(int64_t *tab, size_t cap, int64_t z)
{
	size_t i = hash_u64((uint64_t)z) & (cap - 1);
	while (tab[i] && tab[i] != z)
		i = (i + 1) & (cap - 1);
	tab[i] = z;
}

/* The set stores czxid * 2 + dir, so both kinds share one table. */
void inode_mark_created(int64_t czxid, bool dir)
{
	if (!czxid)
		return;
	czxid = czxid * 2 + (dir ? 1 : 0);
	pthread_mutex_lock(&mu);
	if ((as_file_n + 1) * 2 > as_file_cap) {
		size_t nc = as_file_cap ? as_file_cap * 2 : 256;
		int64_t *nt = calloc(nc, sizeof(*nt));
		if (!nt)
			goto out;
		for (size_t i = 0; i < as_file_cap; i++)
			if (as_file[i])
				as_file_put(nt, nc, as_file[i]);
		free(as_file);
		as_file = nt;
		as_file_cap = nc;
	}
	as_file_put(as_file, as_file_cap, czxid);
	as_file_n++;
out:
	pthread_mutex_unlock(&mu);
}

static bool as_file_has(int64_t key)
{
	size_t i = hash_u64((uint64_t)key) & (as_file_cap - 1);
	while (as_file[i] && as_file[i] != key)
		i = (i + 1) & (as_file_cap - 1);
	return as_file[i] == key;
}

int inode_created_type(int64_t czxid)
{
	int t = -1;

	pthread_mutex_lock(&mu);
	if (as_file_cap && czxid) {
		if (as_file_has(czxid * 2 + 1))
			t = 1;
		else if (as_file_has(czxid * 2))
			t = 0;
	}
	pthread_mutex_unlock(&mu);
	return t;
}

int inode_snapshot(struct inode_info **out, size_t *n)
{
	struct inode_info *v;
	size_t k = 0;
	int rc = 0;

	pthread_mutex_lock(&mu);
	v = calloc(nents ? nents : 1, sizeof(*v));
	if (!v)
		rc = -ENOMEM;
	for (size_t i = 0; v && i < nbuckets; i++)
		for (struct ent *e = by_id[i]; e; e = e->next_id)
			if (e->live && copy_out(e, &v[k]) == 0)
				k++;
	pthread_mutex_unlock(&mu);
	*out = v;
	*n = k;
	return rc;
}

size_t inode_count(void)
{
	size_t n;

	pthread_mutex_lock(&mu);
	n = nents;
	pthread_mutex_unlock(&mu);
	return n;
}
