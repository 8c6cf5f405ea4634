/*
 * prefetch.c — pipelined stats of a directory's children, and the small
 * per-directory cache of them used by lookups.  See prefetch.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "prefetch.h"
#include "zkfs.h"

/* ---------------------------------------------------------------- fetching */

struct batch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	zkc_session *s;
	const char *dir;
	char *const *names;
	struct pf_node *nodes;
	int32_t n;
	int32_t next;     /* next child to send; loop thread only */
	int32_t inflight; /* sent, not answered; loop thread only */
	int32_t done; /* answered; guarded by mu */
};

static void send_more(struct batch *b);

static void finish_one(struct batch *b)
{
	pthread_mutex_lock(&b->mu);
	if (++b->done == b->n)
		pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* Where one child's answer is stored: the batch and the child's index. */
struct slot {
	struct batch *b;
	int32_t i;
};

static void acl_done(zkc_session *s, int err, struct zkc_result *res, void *arg)
{
	struct slot *sl = arg;
	struct batch *b = sl->b;
	struct pf_node *nd = &b->nodes[sl->i];

	(void)s;
	free(sl);
	b->inflight--;
	nd->err = err;
	if (!err) {
		nd->st = res->r.stat;
		nd->acl = res->r.acl;
		memset(&res->r.acl, 0, sizeof(res->r.acl));
	}
	/* Send the next one before counting this one: once the count
	 * reaches n the waiting thread frees the batch. */
	send_more(b);
	finish_one(b);
}

/* On the loop thread: sends children until PF_WINDOW are in flight or
 * none is left.  A child whose request cannot be sent is answered at once
 * with the error. */
static void send_more(struct batch *b)
{
	while (b->next < b->n && b->inflight < PF_WINDOW) {
		int32_t i = b->next++;
		struct slot *sl = malloc(sizeof(*sl));
		char *path = map_join(b->dir, b->names[i]);
		int err = ZE_SYSTEMERROR;

		if (sl && path) {
			sl->b = b;
			sl->i = i;
			err = zkc_get_acl(b->s, path, acl_done, sl);
		}
		if (!err)
			b->inflight++;
		free(path);
		if (err) {
			bool last = i + 1 == b->n;
			free(sl);
			b->nodes[i].err = err;
			finish_one(b);
			if (last)
				return; /* the waiter may have freed b */
		}
	}
}

static void start(uv_loop_t *loop, void *arg)
{
	(void)loop;
	send_more(arg);
}

int prefetch_fetch(const char *dir, char *const *names, int32_t n, struct pf_node **out)
{
	struct batch b = {.dir = dir, .names = names, .n = n};
	int rc = 0;

	*out = NULL;
	if (n <= 0)
		return 0;
	b.nodes = calloc((size_t)n, sizeof(*b.nodes));
	if (!b.nodes)
		return -ENOMEM;
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.cv, NULL);
	/* The session stays ours (not replaced by an expiry) until every
	 * answer is in: libzkc answers every request it accepted, with an
	 * error if the connection or the session is lost. */
	b.s = zkfs_session_get();
	if (zkc_client_run(zkfs_client, start, &b)) {
		rc = -ENOMEM;
	} else {
		pthread_mutex_lock(&b.mu);
		while (b.done < b.n)
			pthread_cond_wait(&b.cv, &b.mu);
		pthread_mutex_unlock(&b.mu);
	}
	zkfs_session_put();
	pthread_cond_destroy(&b.cv);
	pthread_mutex_destroy(&b.mu);
	if (rc) {
		free(b.nodes);
		return rc;
	}
	*out = b.nodes;
	return 0;
}

void prefetch_free(struct pf_node *nodes, int32_t n)
{
	if (!nodes)
		return;
	for (int32_t i = 0; i < n; i++)
		zk_acl_vec_free(&nodes[i].acl);
	free(nodes);
}

/* ---------------------------------------------------------------- the cache */

struct pf_ent {
	char *name;
	struct pf_stat s;
};

struct pf_set {
	char *dir; /* NULL: slot unused */
	uint64_t gen;
	uint64_t stamp; /* for replacing the oldest */
	struct pf_ent *ents; /* sorted by name */
	int32_t n;
};

static pthread_mutex_t c_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pf_set sets[PF_CACHE_DIRS]; /* guarded by c_mu */
static uint64_t stamps;
/* The run of misses being counted, and the prefetch under way. */
static char *miss_dir;
static uint64_t miss_gen;
static int miss_count;
static char *busy_dir;

static void set_clear(struct pf_set *t)
{
	for (int32_t i = 0; i < t->n; i++)
		free(t->ents[i].name);
	free(t->ents);
	free(t->dir);
	memset(t, 0, sizeof(*t));
}

static int ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pf_ent *)a)->name, ((const struct pf_ent *)b)->name);
}

void pf_cache_put(const char *dir, char *const *names, const struct pf_stat *stats,
		  const bool *ok, int32_t n, uint64_t gen)
{
	struct pf_set t = {0}, *slot = NULL;

	t.ents = calloc(n > 0 ? (size_t)n : 1, sizeof(*t.ents));
	t.dir = strdup(dir);
	if (!t.ents || !t.dir)
		goto fail;
	for (int32_t i = 0; i < n; i++) {
		if (!ok[i])
			continue;
		t.ents[t.n].name = strdup(names[i]);
		if (!t.ents[t.n].name)
			goto fail;
		t.ents[t.n++].s = stats[i];
	}
	qsort(t.ents, (size_t)t.n, sizeof(*t.ents), ent_cmp);
	t.gen = gen;
	pthread_mutex_lock(&c_mu);
	t.stamp = ++stamps;
	for (int i = 0; i < PF_CACHE_DIRS && !slot; i++)
		if (sets[i].dir && !strcmp(sets[i].dir, dir))
			slot = &sets[i];
	for (int i = 0; i < PF_CACHE_DIRS && !slot; i++)
		if (!sets[i].dir)
			slot = &sets[i];
	if (!slot) {
		slot = &sets[0];
		for (int i = 1; i < PF_CACHE_DIRS; i++)
			if (sets[i].stamp < slot->stamp)
				slot = &sets[i];
	}
	set_clear(slot);
	*slot = t;
	pthread_mutex_unlock(&c_mu);
	return;
fail:
	set_clear(&t);
}

int pf_cache_get(const char *dir, const char *name, uint64_t gen, struct pf_stat *out)
{
	int found = -1;

	pthread_mutex_lock(&c_mu);
	for (int i = 0; i < PF_CACHE_DIRS; i++) {
		struct pf_set *t = &sets[i];
		struct pf_ent key = {.name = (char *)name}, *e;
		if (!t->dir || strcmp(t->dir, dir))
			continue;
		if (t->gen != gen) {
			set_clear(t); /* stale for good: the generation only grows */
			break;
		}
		e = bsearch(&key, t->ents, (size_t)t->n, sizeof(*t->ents), ent_cmp);
		found = e != NULL;
		if (e)
			*out = e->s;
		break;
	}
	pthread_mutex_unlock(&c_mu);
	return found;
}

bool pf_cache_miss(const char *dir, uint64_t gen)
{
	bool go = false;

	pthread_mutex_lock(&c_mu);
	if (busy_dir && !strcmp(busy_dir, dir))
		goto out;
	if (!miss_dir || strcmp(miss_dir, dir) || miss_gen != gen) {
		free(miss_dir);
		miss_dir = strdup(dir);
		miss_gen = gen;
		miss_count = 0;
	}
	if (miss_dir && ++miss_count >= PF_MISS_RUN && !busy_dir) {
		busy_dir = miss_dir;
		miss_dir = NULL;
		miss_count = 0;
		go = true;
	}
out:
	pthread_mutex_unlock(&c_mu);
	return go;
}

void pf_cache_done(const char *dir)
{
	pthread_mutex_lock(&c_mu);
	if (busy_dir && !strcmp(busy_dir, dir)) {
		free(busy_dir);
		busy_dir = NULL;
	}
	pthread_mutex_unlock(&c_mu);
}

void pf_cache_clear(void)
{
	pthread_mutex_lock(&c_mu);
	for (int i = 0; i < PF_CACHE_DIRS; i++)
		set_clear(&sets[i]);
	free(miss_dir);
	free(busy_dir);
	miss_dir = busy_dir = NULL;
	miss_count = 0;
	pthread_mutex_unlock(&c_mu);
}
