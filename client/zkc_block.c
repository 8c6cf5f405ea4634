/*
 * zkc_block.c — the blocking API: a zkc_client owns a libuv loop on its own
 * thread; any other thread hands work to it through a mutex-protected call
 * queue and a uv_async wake-up, then sleeps on a per-call waiter until the
 * completion (or its deadline).
 *
 * Requests are built (validated, chroot applied, encoded) on the calling
 * thread, so nothing the loop later touches points into the caller's
 * memory; a caller that gives up at its deadline simply drops its reference
 * to the waiter and the late completion is discarded.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "zkc_int.h"

struct call {
	struct call *next;
	void (*fn)(uv_loop_t *loop, void *arg);
	void *arg;
};

struct zkc_client {
	uv_loop_t loop;
	uv_thread_t thread;
	uv_sem_t started; /* loop_tid is set */
	uv_async_t async;
	uv_mutex_t mu; /* protects calls, stopping */
	struct call *calls, *calls_tail;
	bool stopping;
	pthread_t loop_tid;
	zkc_session *sessions; /* loop thread only */
};

/* A caller waiting for one answer.  refs: the caller and the loop side. */
struct bwait {
	uv_mutex_t mu;
	uv_cond_t cv;
	int refs;
	bool done;
	int err;
	struct zkc_result res;
	zkc_session *s;
};

static struct bwait *bwait_new(void)
{
	struct bwait *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	if (uv_mutex_init(&w->mu)) {
		free(w);
		return NULL;
	}
	if (uv_cond_init(&w->cv)) {
		uv_mutex_destroy(&w->mu);
		free(w);
		return NULL;
	}
	w->refs = 2;
	return w;
}

static void bwait_unref_locked(struct bwait *w)
{
	if (--w->refs > 0) {
		uv_mutex_unlock(&w->mu);
		return;
	}
	uv_mutex_unlock(&w->mu);
	zkc_result_free(&w->res);
	uv_cond_destroy(&w->cv);
	uv_mutex_destroy(&w->mu);
	free(w);
}

/* Loop side: delivers the answer (res may be NULL) and drops its reference. */
static void bwait_finish(struct bwait *w, int err, struct zkc_result *res)
{
	uv_mutex_lock(&w->mu);
	if (!w->done) {
		w->done = true;
		w->err = err;
		if (res && w->refs > 1)
			zkc_result_move(&w->res, res);
		uv_cond_signal(&w->cv);
	}
	bwait_unref_locked(w);
}

/* Caller side: waits until done or deadline (ms, 0 = none); takes the
 * result into *out (may be NULL) and drops the caller's reference. */
static int bwait_wait(struct bwait *w, int deadline_ms, struct zkc_result *out)
{
	uint64_t end = deadline_ms > 0 ? uv_hrtime() + (uint64_t)deadline_ms * 1000000u : 0;
	int err;
	uv_mutex_lock(&w->mu);
	while (!w->done) {
		if (!end) {
			uv_cond_wait(&w->cv, &w->mu);
			continue;
		}
		uint64_t now = uv_hrtime();
		if (now >= end)
			break;
		uv_cond_timedwait(&w->cv, &w->mu, end - now);
	}
	if (w->done) {
		err = w->err;
		if (out)
			zkc_result_move(out, &w->res);
	} else {
		err = ZE_OPERATIONTIMEOUT;
		w->done = true; /* a late answer is dropped by the loop side */
	}
	bwait_unref_locked(w);
	return err;
}

/* ------------------------------------------------------------------ client */

static void async_cb(uv_async_t *a)
{
	zkc_client *c = a->data;
	for (;;) {
		uv_mutex_lock(&c->mu);
		struct call *k = c->calls;
		c->calls = c->calls_tail = NULL;
		uv_mutex_unlock(&c->mu);
		if (!k)
			break;
		for (struct call *n; k; k = n) {
			n = k->next;
			k->fn(&c->loop, k->arg);
			free(k);
		}
	}
}

static void loop_main(void *arg)
{
	zkc_client *c = arg;
	/* A write to a connection the server reset raises SIGPIPE in the
	 * writing thread; blocked here, the write just fails with EPIPE and the
	 * host program's signal handling is left alone. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	c->loop_tid = pthread_self();
	uv_sem_post(&c->started);
	uv_run(&c->loop, UV_RUN_DEFAULT);
}

int zkc_client_new(zkc_client **out)
{
	zkc_client *c = calloc(1, sizeof(*c));
	if (!c)
		return ZE_SYSTEMERROR;
	if (uv_loop_init(&c->loop))
		goto err_free;
	if (uv_mutex_init(&c->mu))
		goto err_loop;
	if (uv_async_init(&c->loop, &c->async, async_cb))
		goto err_mu;
	c->async.data = c;
	if (uv_sem_init(&c->started, 0))
		goto err_async;
	if (uv_thread_create(&c->thread, loop_main, c))
		goto err_sem;
	uv_sem_wait(&c->started);
	uv_sem_destroy(&c->started);
	*out = c;
	return ZE_OK;
err_sem:
	uv_sem_destroy(&c->started);
err_async:
	uv_close((uv_handle_t *)&c->async, NULL);
	uv_run(&c->loop, UV_RUN_DEFAULT);
err_mu:
	uv_mutex_destroy(&c->mu);
err_loop:
	uv_loop_close(&c->loop);
err_free:
	free(c);
	return ZE_SYSTEMERROR;
}

int zkc_client_run(zkc_client *c, void (*fn)(uv_loop_t *loop, void *arg), void *arg)
{
	struct call *k = malloc(sizeof(*k));
	if (!k)
		return ZE_SYSTEMERROR;
	k->fn = fn;
	k->arg = arg;
	k->next = NULL;
	uv_mutex_lock(&c->mu);
	if (c->stopping) {
		uv_mutex_unlock(&c->mu);
		free(k);
		return ZE_CLOSING;
	}
	if (c->calls_tail)
		c->calls_tail->next = k;
	else
		c->calls = k;
	c->calls_tail = k;
	uv_mutex_unlock(&c->mu);
	uv_async_send(&c->async);
	return ZE_OK;
}

bool zkc_client_on_loop(const zkc_client *c)
{
	return c->loop_tid && pthread_equal(c->loop_tid, pthread_self());
}

static void shutdown_cb(uv_loop_t *loop, void *arg)
{
	zkc_client *c = arg;
	(void)loop;
	zkc_session *s = c->sessions, *n;
	for (; s; s = n) {
		n = s->cnext;
		zkc_session_close(s, NULL, NULL);
	}
	uv_close((uv_handle_t *)&c->async, NULL);
}

void zkc_client_free(zkc_client *c)
{
	if (!c)
		return;
	zkc_client_run(c, shutdown_cb, c);
	uv_mutex_lock(&c->mu);
	c->stopping = true;
	uv_mutex_unlock(&c->mu);
	uv_thread_join(&c->thread);
	/* Calls queued after shutdown_cb ran are dropped (API misuse). */
	struct call *k = c->calls, *n;
	for (; k; k = n) {
		n = k->next;
		free(k);
	}
	uv_loop_close(&c->loop);
	uv_mutex_destroy(&c->mu);
	free(c);
}

void zkc__client_unlink(zkc_session *s)
{
	zkc_client *c = s->client;
	if (!c)
		return;
	if (s->cprev)
		s->cprev->cnext = s->cnext;
	else if (c->sessions == s)
		c->sessions = s->cnext;
	if (s->cnext)
		s->cnext->cprev = s->cprev;
	s->cnext = s->cprev = NULL;
}

/* ------------------------------------------------------------------ open / close */

void zkc__open_wait_done(zkc_session *s, int err)
{
	struct bwait *w = s->open_wait;
	s->open_wait = NULL;
	bwait_finish(w, err, NULL);
}

static void open_cb(uv_loop_t *loop, void *arg)
{
	zkc_session *s = arg;
	zkc_client *c = s->client;
	s->cnext = c->sessions;
	if (c->sessions)
		c->sessions->cprev = s;
	c->sessions = s;
	zkc__session_start(s, loop);
}

static void close_done(void *arg)
{
	if (arg)
		bwait_finish(arg, ZE_OK, NULL);
}

struct close_call {
	zkc_session *s;
	struct bwait *w;
};

static void close_cb(uv_loop_t *loop, void *arg)
{
	struct close_call *k = arg;
	(void)loop;
	if (k->s->open_wait)
		zkc__open_wait_done(k->s, ZE_CLOSING);
	zkc_session_close(k->s, close_done, k->w);
	free(k);
}

void zkc_b_close(zkc_session *s)
{
	if (!s)
		return;
	zkc_client *c = s->client;
	if (!c || zkc_client_on_loop(c)) {
		zkc_session_close(s, NULL, NULL);
		return;
	}
	struct close_call *k = malloc(sizeof(*k));
	struct bwait *w = bwait_new();
	if (!k || !w) {
		free(k);
		free(w); /* cannot wait: close without waiting */
		return;
	}
	k->s = s;
	k->w = w;
	if (zkc_client_run(c, close_cb, k)) {
		free(k);
		uv_mutex_lock(&w->mu);
		w->refs = 1;
		bwait_unref_locked(w);
		return;
	}
	bwait_wait(w, 0, NULL);
}

int zkc_b_open(zkc_client *c, const char *connect, int timeout_ms, const struct zkc_options *opt, int wait_ms,
	       zkc_session **out)
{
	if (!c || !out || zkc_client_on_loop(c))
		return ZE_APIERROR;
	zkc_session *s;
	int err = zkc__session_alloc(connect, timeout_ms, opt, &s);
	if (err)
		return err;
	s->client = c;
	struct bwait *w = NULL;
	if (wait_ms > 0) {
		w = bwait_new();
		if (!w) {
			zkc__session_free_unstarted(s);
			return ZE_SYSTEMERROR;
		}
		s->open_wait = w;
	}
	if (zkc_client_run(c, open_cb, s)) {
		if (w) {
			uv_mutex_lock(&w->mu);
			w->refs = 1;
			bwait_unref_locked(w);
		}
		zkc__session_free_unstarted(s);
		return ZE_CLOSING;
	}
	if (!w) {
		*out = s;
		return ZE_OK;
	}
	err = bwait_wait(w, wait_ms, NULL);
	if (err) {
		if (opt && opt->tls_err_buf && opt->tls_err_len)
			zkc_session_tls_error(s, opt->tls_err_buf, opt->tls_err_len);
		zkc_b_close(s);
		return err;
	}
	*out = s;
	return ZE_OK;
}

void zkc_b_set_deadline(zkc_session *s, int ms)
{
	__atomic_store_n(&s->b_deadline_ms, ms, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ calls */

static void b_done(zkc_session *s, int err, struct zkc_result *res, void *arg)
{
	(void)s;
	bwait_finish(arg, err, res);
}

static void submit_cb(uv_loop_t *loop, void *arg)
{
	struct zkc_req *q = arg;
	struct bwait *w = q->arg;
	(void)loop;
	int err = zkc__req_submit(q);
	if (err)
		bwait_finish(w, err, NULL);
}

/* Runs a built request (q NULL: build failed with err) and waits. */
static int b_run(zkc_session *s, struct zkc_req *q, int err, struct zkc_result *out)
{
	if (!q)
		return err;
	zkc_client *c = s->client;
	if (!c || zkc_client_on_loop(c)) {
		zkc__req_free(q);
		return ZE_APIERROR;
	}
	struct bwait *w = bwait_new();
	if (!w) {
		zkc__req_free(q);
		return ZE_SYSTEMERROR;
	}
	q->done = b_done;
	q->arg = w;
	q->can_wait = true;
	if (zkc_client_run(c, submit_cb, q)) {
		zkc__req_free(q);
		uv_mutex_lock(&w->mu);
		w->refs = 1;
		bwait_unref_locked(w);
		return ZE_CLOSING;
	}
	return bwait_wait(w, __atomic_load_n(&s->b_deadline_ms, __ATOMIC_RELAXED), out);
}

int zkc_b_create(zkc_session *s, const char *path, const void *data, int32_t len, const struct zk_acl_vec *acl,
		 int mode, int64_t ttl, char **created, struct zk_stat *stat)
{
	int err = 0;
	struct zkc_result res = {0};
	struct zkc_req *q = zkc__build_create(s, path, data, len, acl, mode, ttl, &err);
	err = b_run(s, q, err, &res);
	if (!err) {
		if (created) {
			*created = res.r.path;
			res.r.path = NULL;
		}
		if (stat)
			*stat = res.r.stat;
	}
	zkc_result_free(&res);
	return err;
}

int zkc_b_delete(zkc_session *s, const char *path, int32_t version)
{
	int err = 0;
	struct zkc_req *q = zkc__build_path(s, ZOP_DELETE, path, version, &err);
	return b_run(s, q, err, NULL);
}

int zkc_b_exists(zkc_session *s, const char *path, zkc_watch_fn wfn, void *warg, struct zk_stat *stat)
{
	int err = 0;
	struct zkc_result res = {0};
	struct zkc_req *q = zkc__build_watch(s, ZOP_EXISTS, path, wfn, warg, &err);
	err = b_run(s, q, err, &res);
	if (!err && stat)
		*stat = res.r.stat;
	zkc_result_free(&res);
	return err;
}

int zkc_b_get(zkc_session *s, const char *path, zkc_watch_fn wfn, void *warg, uint8_t **data, int32_t *len,
	      struct zk_stat *stat)
{
	int err = 0;
	struct zkc_result res = {0};
	struct zkc_req *q = zkc__build_watch(s, ZOP_GETDATA, path, wfn, warg, &err);
	err = b_run(s, q, err, &res);
	if (!err) {
		if (data) {
			*data = res.r.data;
			res.r.data = NULL;
		}
		if (len)
			*len = res.r.data_len;
		if (stat)
			*stat = res.r.stat;
	}
	zkc_result_free(&res);
	return err;
}

int zkc_b_set(zkc_session *s, const char *path, const void *data, int32_t len, int32_t version,
	      struct zk_stat *stat)
{
	int err = 0;
	struct zkc_result res = {0};
	struct zkc_req *q = zkc__build_set(s, path, data, len, version, &err);
	err = b_run(s, q, err, &res);
	if (!err && stat)
		*stat = res.r.stat;
	zkc_result_free(&res);
	return err;
}

int zkc_b_get_acl(zkc_session *s, const char *path, struct zk_acl_vec *acl, struct zk_stat *stat)
{
	int err = 0;
	struct zkc_result res = {0};
	struct zkc_req *q = zkc__build_path(s, ZOP_GETACL, path, 0, &err);
	err = b_run(s, q, err, &res);
	if (!err) {
		if (acl) {
			*acl = res.r.acl;
			memset(&res.r.acl, 0, sizeof(res.r.acl));
		}
		if (stat)
			*stat = res.r.stat;
	}
	zkc_result_free(&res);
	return err;
}

int zkc_b_set_acl(zkc_session *s, const char *path, const struct zk_acl_vec *acl, int32_t version,
		  struct zk_stat *stat)
{
	int err = 0;
	struct zkc_result res = {0};
	struct zkc_req *q = zkc__build_set_acl(s, path, acl, version, &err);
	err = b_run(s, q, err, &res);
	if (!err && stat)
		*stat = res.r.stat;
	zkc_result_free(&res);
	return err;
}

int zkc_b_get_children(zkc_session *s, const char *path, zkc_watch_fn wfn, void *warg, struct zk_str_vec *children,
		       struct zk_stat *stat)
{
	int err = 0;
	struct zkc_result res = {0};
	struct zkc_req *q = zkc__build_watch(s, ZOP_GETCHILDREN2, path, wfn, warg, &err);
	err = b_run(s, q, err, &res);
	if (!err) {
		if (children) {
			*children = res.r.children;
			memset(&res.r.children, 0, sizeof(res.r.children));
		}
		if (stat)
			*stat = res.r.stat;
	}
	zkc_result_free(&res);
	return err;
}

int zkc_b_sync(zkc_session *s, const char *path)
{
	int err = 0;
	struct zkc_req *q = zkc__build_path(s, ZOP_SYNC, path, 0, &err);
	return b_run(s, q, err, NULL);
}

static int b_multi(zkc_session *s, int type, const struct zk_op *ops, int nops, struct zkc_result *out)
{
	int err = 0;
	struct zkc_result res = {0};
	struct zkc_req *q = zkc__build_multi(s, type, ops, nops, &err);
	err = b_run(s, q, err, &res);
	if (!err && type == ZOP_MULTI)
		err = zkc_multi_err(&res);
	if (out)
		zkc_result_move(out, &res);
	zkc_result_free(&res);
	return err;
}

int zkc_b_multi(zkc_session *s, const struct zk_op *ops, int nops, struct zkc_result *res)
{
	return b_multi(s, ZOP_MULTI, ops, nops, res);
}

int zkc_b_multi_read(zkc_session *s, const struct zk_op *ops, int nops, struct zkc_result *res)
{
	return b_multi(s, ZOP_MULTIREAD, ops, nops, res);
}

int zkc_b_add_watch(zkc_session *s, const char *path, int mode, zkc_watch_fn wfn, void *warg)
{
	int err = 0;
	struct zkc_req *q = zkc__build_add_watch(s, path, mode, wfn, warg, &err);
	return b_run(s, q, err, NULL);
}

int zkc_b_remove_watches(zkc_session *s, const char *path, int type, zkc_watch_fn wfn, void *warg, bool local)
{
	int err = 0;
	struct zkc_req *q = zkc__build_watches(s, ZOP_REMOVEWATCHES, path, type, wfn, warg, local, &err);
	return b_run(s, q, err, NULL);
}

int zkc_b_check_watches(zkc_session *s, const char *path, int type)
{
	int err = 0;
	struct zkc_req *q = zkc__build_watches(s, ZOP_CHECKWATCHES, path, type, NULL, NULL, false, &err);
	return b_run(s, q, err, NULL);
}

int zkc_b_get_ephemerals(zkc_session *s, const char *prefix, struct zk_str_vec *paths)
{
	int err = 0;
	struct zkc_result res = {0};
	struct zkc_req *q = zkc__build_path(s, ZOP_GETEPHEMERALS, prefix ? prefix : "/", 0, &err);
	err = b_run(s, q, err, &res);
	if (!err && paths) {
		*paths = res.r.children;
		memset(&res.r.children, 0, sizeof(res.r.children));
	}
	zkc_result_free(&res);
	return err;
}

int zkc_b_get_all_children_number(zkc_session *s, const char *path, int32_t *number)
{
	int err = 0;
	struct zkc_result res = {0};
	struct zkc_req *q = zkc__build_path(s, ZOP_GETALLCHILDRENNUMBER, path, 0, &err);
	err = b_run(s, q, err, &res);
	if (!err && number)
		*number = res.r.number;
	zkc_result_free(&res);
	return err;
}

int zkc_b_whoami(zkc_session *s, struct zkc_result *out)
{
	int err = 0;
	struct zkc_req *q = zkc__build_whoami(s, &err);
	return b_run(s, q, err, out);
}

int zkc_b_add_auth(zkc_session *s, const char *scheme, const void *data, size_t len)
{
	int err = 0;
	struct zkc_req *q = zkc__build_auth(s, scheme, data, len, &err);
	return b_run(s, q, err, NULL);
}

/* ------------------------------------------------------------------ did it apply? */

static bool same_data(const uint8_t *a, int32_t alen, const void *b, int32_t blen)
{
	if (!b || blen < 0)
		return alen <= 0; /* null and empty are indistinguishable in Stat */
	if (alen != blen)
		return false;
	return blen == 0 || memcmp(a, b, (size_t)blen) == 0;
}

static bool is_ephemeral_mode(int mode)
{
	return mode == ZK_EPHEMERAL || mode == ZK_EPHEMERAL_SEQUENTIAL;
}

static bool is_seq_mode(int mode)
{
	return mode == ZK_PERSISTENT_SEQUENTIAL || mode == ZK_EPHEMERAL_SEQUENTIAL ||
	       mode == ZK_PERSISTENT_SEQUENTIAL_WITH_TTL;
}

int zkc_b_create_applied(zkc_session *s, const char *path, const void *data, int32_t len, int mode, char **created)
{
	int64_t me = zkc_session_id(s, NULL);
	if (!path || !*path)
		return ZE_BADARGUMENTS;
	if (!is_seq_mode(mode)) {
		int err = zkc_b_sync(s, path);
		if (err && err != ZE_NONODE)
			return err;
		uint8_t *d = NULL;
		int32_t dl = -1;
		struct zk_stat st;
		err = zkc_b_get(s, path, NULL, NULL, &d, &dl, &st);
		if (err == ZE_NONODE)
			return ZKC_NOT_APPLIED;
		if (err)
			return err;
		bool ok = same_data(d, dl, data, len) && (!is_ephemeral_mode(mode) || st.ephemeral_owner == me);
		free(d);
		if (ok && created)
			*created = strdup(path);
		return ok ? ZKC_APPLIED : ZKC_UNKNOWN;
	}
	/* Sequential: look at the parent's children named prefix + 10 digits. */
	size_t plen = strlen(path);
	size_t parent_len = 0;
	for (size_t i = plen; i > 0; i--)
		if (path[i - 1] == '/') {
			parent_len = i - 1;
			break;
		}
	char *parent = strndup(path, parent_len ? parent_len : 1);
	const char *prefix = path + parent_len + 1;
	if (!parent)
		return ZE_SYSTEMERROR;
	int err = zkc_b_sync(s, parent);
	struct zk_str_vec kids = {0};
	if (!err || err == ZE_NONODE)
		err = zkc_b_get_children(s, parent, NULL, NULL, &kids, NULL);
	if (err == ZE_NONODE) {
		free(parent);
		return ZKC_NOT_APPLIED;
	}
	if (err) {
		free(parent);
		return err;
	}
	int result = ZKC_NOT_APPLIED;
	size_t pfx = strlen(prefix);
	for (int32_t i = 0; i < kids.n && result == ZKC_NOT_APPLIED; i++) {
		const char *k = kids.v[i];
		if (strncmp(k, prefix, pfx) != 0 || strlen(k) != pfx + 10)
			continue;
		bool digits = true;
		for (size_t j = pfx; j < pfx + 10; j++)
			digits = digits && k[j] >= '0' && k[j] <= '9';
		if (!digits)
			continue;
		size_t fl = parent_len + 1 + strlen(k) + 1;
		char *full = malloc(fl);
		if (!full) {
			result = ZE_SYSTEMERROR;
			break;
		}
		snprintf(full, fl, "%s/%s", parent_len ? parent : "", k);
		uint8_t *d = NULL;
		int32_t dl = -1;
		struct zk_stat st;
		int e = zkc_b_get(s, full, NULL, NULL, &d, &dl, &st);
		if (e == ZE_OK && same_data(d, dl, data, len) &&
		    (!is_ephemeral_mode(mode) || st.ephemeral_owner == me)) {
			result = ZKC_APPLIED;
			if (created) {
				*created = full;
				full = NULL;
			}
		} else if (e && e != ZE_NONODE) {
			result = e;
		}
		free(d);
		free(full);
	}
	zk_str_vec_free(&kids);
	free(parent);
	return result;
}

int zkc_b_set_applied(zkc_session *s, const char *path, const void *data, int32_t len, int32_t version)
{
	int err = zkc_b_sync(s, path);
	if (err && err != ZE_NONODE)
		return err;
	uint8_t *d = NULL;
	int32_t dl = -1;
	struct zk_stat st;
	err = zkc_b_get(s, path, NULL, NULL, &d, &dl, &st);
	if (err == ZE_NONODE)
		return ZKC_UNKNOWN; /* deleted since: nobody can tell */
	if (err)
		return err;
	bool same = same_data(d, dl, data, len);
	free(d);
	if (version >= 0) {
		if (st.version == version)
			return ZKC_NOT_APPLIED;
		if (st.version == version + 1 && same)
			return ZKC_APPLIED;
		return ZKC_UNKNOWN;
	}
	return same ? ZKC_APPLIED : ZKC_UNKNOWN;
}
