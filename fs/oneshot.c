/*
 * oneshot.c — one-shot watches where the server has no addWatch (see
 * oneshot.h for what is watched and what it costs).
 *
 * Each path of the table has up to two watches, K_DATA (exists) and
 * K_CHILD (getChildren).  One kind of one path moves through:
 *
 *   IDLE --arm sent: oneshot_note, a fire, oneshot_session--> PENDING
 *   PENDING --answer (exists: also NONODE), compared with the baseline--> ARMED
 *   PENDING --connection lost in flight, request cap--> PENDING, deferred
 *             (sent again by oneshot_connected or a later completion)
 *   PENDING --other error--> IDLE
 *   ARMED --fired, still of interest--> PENDING (re-armed, compared)
 *   ARMED --fired, of no interest--> not wanted (entry freed when nothing is)
 *   ARMED --NodeDeleted--> entry freed
 *   any --session ends (final watcher call)--> IDLE
 *
 * Comparing at every arming is what makes the scheme whole: the answer of
 * a re-arm is both the new registration and the state it starts from, so
 * nothing between the fire and the re-arm goes unreported (only collapsed
 * into its net effect).  The first arming of a path has no baseline and
 * reports nothing; oneshot_note waits for it, so the kernel never holds an
 * entry the watch does not yet cover.
 *
 * Exactly one place reports each change, so that an event is replayed
 * once: creations and deletions of a child come from its parent's child
 * diff when the parent's child watch covers it (parent_reports), else from
 * the node's own data watch; data changes from the data watch.
 */
#include "oneshot.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inode.h"
#include "map.h"
#include "notify.h"
#include "zkfs.h"

/* How long oneshot_note waits for the first arming of a path. */
#define ONESHOT_ARM_WAIT_MS 2000
#define NBUCKETS 16384
/* Deferred arms sent again per completion (the rest at reconnection). */
#define DRAIN_PER_COMPLETION 64
/* K_DATA baseline of a node that appeared in a child diff: any data
 * change since its creation (mzxid != czxid) is reported. */
#define MZXID_CREATED INT64_MIN

enum { K_DATA, K_CHILD, K_N };
enum { A_IDLE, A_PENDING, A_ARMED };

struct entry {
	char *path;
	struct entry *next; /* hash chain */
	bool want[K_N];
	uint8_t st[K_N];	/* A_* */
	bool known[K_N];	/* the baseline below is valid */
	bool present;		/* K_DATA: the node existed */
	int64_t mzxid;		/* K_DATA: its mzxid (or MZXID_CREATED) */
	struct zk_str_vec kids; /* K_CHILD: child names, sorted */
};

/* One arming to send (loop thread), owned by whoever holds it. */
struct arm {
	char *path;
	int kind;
	struct arm *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t arm_cv = PTHREAD_COND_INITIALIZER; /* an arming was answered */
/* Guarded by mu: */
static struct entry *buckets[NBUCKETS];
static size_t n_entries;
static bool full_logged;
static zkc_session *os_sess; /* the session watches are armed on */

static volatile bool active;
/* Loop thread only: arms waiting for a connection or a free request slot. */
static struct arm *deferred;

static void on_data_watch(zkc_session *s, const struct zkc_event *ev, void *arg);
static void on_child_watch(zkc_session *s, const struct zkc_event *ev, void *arg);

bool oneshot_active(void)
{
	return active;
}

/* ---------------------------------------------------------------- the table (mu held) */

static size_t hash(const char *p)
{
	uint32_t h = 2166136261u;

	for (; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h % NBUCKETS;
}

static struct entry *find(const char *path)
{
	for (struct entry *e = buckets[hash(path)]; e; e = e->next)
		if (!strcmp(e->path, path))
			return e;
	return NULL;
}

/* The entry of path, made if needed; NULL when the table is full or on
 * ENOMEM (the path then goes unwatched). */
static struct entry *get(const char *path)
{
	struct entry *e = find(path);
	size_t h;

	if (e)
		return e;
	if (n_entries >= ONESHOT_MAX_PATHS) {
		if (!full_logged)
			zkfs_log("one-shot watch table full (%d paths): nodes seen from now on are "
				 "not watched",
				 ONESHOT_MAX_PATHS);
		full_logged = true;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->path = strdup(path))) {
		free(e);
		return NULL;
	}
	h = hash(path);
	e->next = buckets[h];
	buckets[h] = e;
	n_entries++;
	return e;
}

static void del(struct entry *e)
{
	for (struct entry **pp = &buckets[hash(e->path)]; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	n_entries--;
	zk_str_vec_free(&e->kids);
	free(e->path);
	free(e);
}

/* True when the watch of kind k of e will report a change made now: armed,
 * or being (re-)armed against a baseline it will be compared with. */
static bool reports(const struct entry *e, int k)
{
	return e && e->want[k] && (e->st[k] == A_ARMED || (e->st[k] == A_PENDING && e->known[k]));
}

/* True when the parent of path has its children watched and compared:
 * creations and deletions of path are reported by the parent's diff. */
static bool parent_reports(const char *path)
{
	char *parent = map_dirname(path);
	bool r = parent && reports(find(parent), K_CHILD);

	free(parent);
	return r;
}

static bool parent_wants_kids(const char *path)
{
	char *parent = map_dirname(path);
	struct entry *p = parent ? find(parent) : NULL;

	free(parent);
	return p && p->want[K_CHILD];
}

/* A watch of kind k of e fired: is it worth arming again?  While the
 * kernel knows the node, or (data) its parent's children are watched. */
static bool interested(const struct entry *e, int k)
{
	return inode_find(e->path, NULL) != 0 || (k == K_DATA && parent_wants_kids(e->path));
}

/* Marks kind k of e PENDING and queues an arm for it on *list. */
static void want_arm(struct entry *e, int k, struct arm **list)
{
	struct arm *a;

	e->want[k] = true;
	a = calloc(1, sizeof(*a));
	if (!a || !(a->path = strdup(e->path))) {
		free(a);
		e->st[k] = A_IDLE;
		return;
	}
	e->st[k] = A_PENDING;
	a->kind = k;
	a->next = *list;
	*list = a;
}

/* Drops kind k of e; frees e when it wants nothing any more. */
static void unwant(struct entry *e, int k)
{
	e->want[k] = false;
	e->st[k] = A_IDLE;
	e->known[k] = false;
	if (k == K_CHILD)
		zk_str_vec_free(&e->kids);
	if (!e->want[K_DATA] && !e->want[K_CHILD])
		del(e);
}

/* An event, as the persistent watch's callback gives it (notify.c). */
static void emit(int type, const char *path)
{
	inode_cache_drop(path);
	notify_push(type, path);
}

/* ---------------------------------------------------------------- sending arms (loop thread) */

static void arm_free(struct arm *a)
{
	free(a->path);
	free(a);
}

/* The arm was not (or could not be) sent and gets no answer. */
static void arm_failed(struct arm *a)
{
	struct entry *e;

	pthread_mutex_lock(&mu);
	e = find(a->path);
	if (e && e->st[a->kind] == A_PENDING)
		e->st[a->kind] = A_IDLE;
	pthread_cond_broadcast(&arm_cv);
	pthread_mutex_unlock(&mu);
	arm_free(a);
}

static void defer(struct arm *a)
{
	a->next = deferred;
	deferred = a;
}

static void data_done(zkc_session *s, int err, struct zkc_result *res, void *arg);
static void kids_done(zkc_session *s, int err, struct zkc_result *res, void *arg);

static void submit(struct arm *a)
{
	zkc_session *s;
	int rc;

	pthread_mutex_lock(&mu);
	s = os_sess;
	pthread_mutex_unlock(&mu);
	if (!s) {
		arm_failed(a);
		return;
	}
	if (a->kind == K_DATA)
		rc = zkc_exists(s, a->path, on_data_watch, NULL, data_done, a);
	else
		rc = zkc_get_children(s, a->path, on_child_watch, NULL, kids_done, a);
	if (rc == ZE_THROTTLEDOP || rc == ZE_CONNECTIONLOSS)
		defer(a);
	else if (rc)
		arm_failed(a);
}

static void submit_list(struct arm *list)
{
	while (list) {
		struct arm *next = list->next;
		list->next = NULL;
		submit(list);
		list = next;
	}
}

/* Sends up to max deferred arms (those that fail again are deferred again). */
static void drain(int max)
{
	struct arm *list = deferred, *rest;
	int n = 0;

	if (!list)
		return;
	for (rest = list; rest->next && ++n < max; rest = rest->next)
		;
	deferred = rest->next;
	rest->next = NULL;
	submit_list(list);
}

static void run_arms(uv_loop_t *loop, void *arg)
{
	submit_list(arg);
}

/* From a thread other than the loop's. */
static void schedule(struct arm *list)
{
	if (!list)
		return;
	if (zkc_client_run(zkfs_client, run_arms, list) != ZE_OK) {
		while (list) {
			struct arm *next = list->next;
			arm_failed(list);
			list = next;
		}
	}
}

/* After an answer: what to do with the arm.  The connection broke with
 * the request in flight (or the session was still disconnected): keep it
 * PENDING and send it again once connected. */
static bool retry_later(zkc_session *s, int err)
{
	return (err == ZE_CONNECTIONLOSS || err == ZE_OPERATIONTIMEOUT || err == ZE_THROTTLEDOP) &&
	       zkc_session_state(s) != ZKC_STATE_EXPIRED &&
	       zkc_session_state(s) != ZKC_STATE_CLOSED;
}

static bool is_connected(zkc_session *s)
{
	int st = zkc_session_state(s);

	return st == ZKC_STATE_CONNECTED || st == ZKC_STATE_CONNECTED_RO;
}

/* The end of an answer: the arm is sent again (keep: now if connected,
 * else at reconnection) or freed; arms it led to are sent; a few deferred
 * ones follow while connected. */
static void finish(zkc_session *s, struct arm *a, bool keep, struct arm *more)
{
	if (keep && is_connected(s))
		submit(a);
	else if (keep)
		defer(a);
	else
		arm_free(a);
	submit_list(more);
	if (is_connected(s))
		drain(DRAIN_PER_COMPLETION);
}

/* ---------------------------------------------------------------- answers (loop thread) */

static void data_done(zkc_session *s, int err, struct zkc_result *res, void *arg)
{
	struct arm *a = arg, *more = NULL;
	struct entry *e;
	bool keep = false;

	pthread_mutex_lock(&mu);
	e = s == os_sess ? find(a->path) : NULL;
	if (!e || !e->want[K_DATA])
		goto out;
	if (err == ZE_OK) {
		const struct zk_stat *st = &res->r.stat;
		bool fresh = e->known[K_DATA] && e->present && e->mzxid == MZXID_CREATED;
		if (e->known[K_DATA] && !e->present) {
			if (!parent_reports(a->path))
				emit(ZK_EVENT_CREATED, a->path);
		} else if (e->known[K_DATA]) {
			int64_t base = fresh ? st->czxid : e->mzxid;
			if (st->mzxid != base)
				emit(ZK_EVENT_DATA_CHANGED, a->path);
		}
		/* A directory that appeared: what is in it is new too. */
		if (fresh && !e->want[K_CHILD] && map_is_dir(st, inode_created_type(st->czxid))) {
			zk_str_vec_free(&e->kids);
			e->known[K_CHILD] = true;
			want_arm(e, K_CHILD, &more);
		}
		e->present = true;
		e->mzxid = st->mzxid;
		e->known[K_DATA] = true;
		e->st[K_DATA] = A_ARMED;
	} else if (err == ZE_NONODE) {
		/* Gone: an exists watch now waits for its creation. */
		if (e->known[K_DATA] && e->present && !parent_reports(a->path))
			emit(ZK_EVENT_DELETED, a->path);
		e->present = false;
		e->known[K_DATA] = true;
		e->st[K_DATA] = A_ARMED;
	} else if (retry_later(s, err)) {
		keep = true;
	} else {
		e->st[K_DATA] = A_IDLE;
	}
out:
	pthread_cond_broadcast(&arm_cv);
	pthread_mutex_unlock(&mu);
	finish(s, a, keep, more);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A child appeared in e's listing: report it and watch it from its
 * creation on (its data, and its children if it is a directory). */
static void kid_added(struct entry *e, const char *name, struct arm **more)
{
	char *p = map_join(e->path, name);
	struct entry *k;

	if (!p)
		return;
	emit(ZK_EVENT_CREATED, p);
	k = get(p);
	if (k) {
		k->known[K_DATA] = true;
		k->present = true;
		k->mzxid = MZXID_CREATED;
		if (k->st[K_DATA] != A_PENDING)
			want_arm(k, K_DATA, more);
	}
	free(p);
}

static void kid_removed(struct entry *e, const char *name)
{
	char *p = map_join(e->path, name);
	struct entry *k;

	if (!p)
		return;
	emit(ZK_EVENT_DELETED, p);
	k = find(p);
	if (k)
		del(k); /* its own NodeDeleted, if any, finds nothing */
	free(p);
}

static void kids_done(zkc_session *s, int err, struct zkc_result *res, void *arg)
{
	struct arm *a = arg, *more = NULL;
	struct entry *e;
	bool keep = false;

	pthread_mutex_lock(&mu);
	e = s == os_sess ? find(a->path) : NULL;
	if (!e || !e->want[K_CHILD])
		goto out;
	if (err == ZE_OK) {
		struct zkc_result mine;
		struct zk_str_vec now;
		zkc_result_move(&mine, res);
		now = mine.r.children;
		memset(&mine.r.children, 0, sizeof(mine.r.children));
		zkc_result_free(&mine);
		if (now.n > 1)
			qsort(now.v, (size_t)now.n, sizeof(*now.v), name_cmp);
		if (e->known[K_CHILD]) {
			/* Both sorted: one merge walk gives the difference. */
			struct zk_str_vec old = e->kids;
			int32_t i = 0, j = 0;
			while (i < old.n || j < now.n) {
				int c;
				if (i >= old.n || j >= now.n)
					c = i >= old.n ? 1 : -1;
				else
					c = strcmp(old.v[i], now.v[j]);
				if (c == 0) {
					i++;
					j++;
				} else if (c < 0) {
					kid_removed(e, old.v[i++]);
				} else {
					kid_added(e, now.v[j++], &more);
				}
			}
		}
		/* kid_removed may not free e: e is never its own child */
		zk_str_vec_free(&e->kids);
		e->kids = now;
		e->known[K_CHILD] = true;
		e->st[K_CHILD] = A_ARMED;
	} else if (err == ZE_NONODE) {
		/* Gone (no watch was set): its data watch reports it. */
		unwant(e, K_CHILD);
	} else if (retry_later(s, err)) {
		keep = true;
	} else {
		e->st[K_CHILD] = A_IDLE;
	}
out:
	pthread_cond_broadcast(&arm_cv);
	pthread_mutex_unlock(&mu);
	finish(s, a, keep, more);
}

/* ---------------------------------------------------------------- watch events (loop thread) */

/* NodeDeleted of a watched node (from either of its watches; the second
 * finds no entry). */
static void node_deleted(struct entry *e)
{
	if (!parent_reports(e->path))
		emit(ZK_EVENT_DELETED, e->path);
	del(e);
}

static void on_watch(zkc_session *s, const struct zkc_event *ev, int k)
{
	struct arm *more = NULL;
	struct entry *e;

	if (!ev->path)
		return;
	pthread_mutex_lock(&mu);
	e = s == os_sess ? find(ev->path) : NULL;
	if (!e) {
		pthread_mutex_unlock(&mu);
		return;
	}
	if (ev->type == ZK_EVENT_NONE || ev->type == ZK_EVENT_DATA_WATCH_REMOVED ||
	    ev->type == ZK_EVENT_CHILD_WATCH_REMOVED) {
		/* The registration ended without an event (session end). */
		if (e->st[k] == A_ARMED)
			e->st[k] = A_IDLE;
		pthread_mutex_unlock(&mu);
		return;
	}
	/* At once, as notify.c's watch does: no read may be served from
	 * memory after the event. */
	inode_cache_drop(ev->path);
	e->st[k] = A_IDLE;
	if (ev->type == ZK_EVENT_DELETED) {
		node_deleted(e);
	} else if (interested(e, k)) {
		/* Re-armed; the answer is compared and reports the change. */
		want_arm(e, k, &more);
	} else {
		if (ev->type == ZK_EVENT_DATA_CHANGED)
			emit(ZK_EVENT_DATA_CHANGED, ev->path);
		else if (ev->type == ZK_EVENT_CREATED && !parent_reports(ev->path))
			emit(ZK_EVENT_CREATED, ev->path);
		unwant(e, k);
	}
	pthread_mutex_unlock(&mu);
	submit_list(more);
}

static void on_data_watch(zkc_session *s, const struct zkc_event *ev, void *arg)
{
	on_watch(s, ev, K_DATA);
}

static void on_child_watch(zkc_session *s, const struct zkc_event *ev, void *arg)
{
	on_watch(s, ev, K_CHILD);
}

void oneshot_connected(zkc_session *s)
{
	bool ours;

	pthread_mutex_lock(&mu);
	ours = active && s == os_sess;
	pthread_mutex_unlock(&mu);
	if (ours)
		drain(ONESHOT_MAX_PATHS * K_N);
}

/* ---------------------------------------------------------------- other threads */

int oneshot_start(zkc_session *s)
{
	pthread_mutex_lock(&mu);
	os_sess = s;
	active = true;
	pthread_mutex_unlock(&mu);
	return 0;
}

int oneshot_session(zkc_session *s)
{
	struct arm *list = NULL;

	pthread_mutex_lock(&mu);
	os_sess = s;
	for (size_t b = 0; b < NBUCKETS; b++)
		for (struct entry *e = buckets[b]; e; e = e->next)
			for (int k = 0; k < K_N; k++)
				if (e->want[k])
					want_arm(e, k, &list);
	pthread_cond_broadcast(&arm_cv);
	pthread_mutex_unlock(&mu);
	schedule(list);
	return 0;
}

void oneshot_note(const char *path, bool dir, const struct zk_stat *st, bool wait)
{
	struct arm *list = NULL;
	bool issued[K_N] = {false, false}, pending;
	struct timespec dl;
	struct entry *e;
	int state;

	if (!active)
		return;
	pthread_mutex_lock(&mu);
	e = get(path);
	if (!e) {
		pthread_mutex_unlock(&mu);
		return;
	}
	if (st && !e->known[K_DATA]) {
		/* What the caller hands to the kernel: the arm's answer is
		 * compared with it, leaving no gap at all. */
		e->known[K_DATA] = true;
		e->present = true;
		e->mzxid = st->mzxid;
	}
	for (int k = 0; k < K_N; k++) {
		if (k == K_CHILD && !dir)
			break;
		if (!e->want[k] || e->st[k] == A_IDLE) {
			want_arm(e, k, &list);
			issued[k] = e->st[k] == A_PENDING;
		}
	}
	state = os_sess ? zkc_session_state(os_sess) : ZKC_STATE_CLOSED;
	pthread_mutex_unlock(&mu);
	if (!list)
		return;
	schedule(list);
	if (!wait || (state != ZKC_STATE_CONNECTED && state != ZKC_STATE_CONNECTED_RO))
		return; /* (would only wait for the reconnection) */
	zkfs_deadline(&dl, ONESHOT_ARM_WAIT_MS);
	pthread_mutex_lock(&mu);
	for (;;) {
		e = find(path);
		pending = e && ((issued[K_DATA] && e->st[K_DATA] == A_PENDING) ||
				(issued[K_CHILD] && e->st[K_CHILD] == A_PENDING));
		if (!pending || pthread_cond_timedwait(&arm_cv, &mu, &dl) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&mu);
}

bool oneshot_echoes(const char *path, int type)
{
	bool r = false;

	pthread_mutex_lock(&mu);
	switch (type) {
	case ZK_EVENT_CREATED:
		r = parent_reports(path);
		break;
	case ZK_EVENT_DELETED:
		r = parent_reports(path) || reports(find(path), K_DATA);
		break;
	case ZK_EVENT_DATA_CHANGED:
		r = reports(find(path), K_DATA);
		break;
	}
	pthread_mutex_unlock(&mu);
	return r;
}
