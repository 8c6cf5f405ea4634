/*
 * commit.c — group commit: many txns, one fdatasync.
 *
 * The loop thread lays each submitted txn out as a log record directly in
 * the "gathering" batch (one copy, under a mutex held for a memcpy).  A
 * dedicated worker thread — not the libuv threadpool, which snapshot and
 * file jobs may keep busy — pops the oldest batch, writes it with one
 * pwrite, fdatasyncs once, and hands it back through a uv_async to the
 * loop thread, which runs the callbacks in order.  While the worker syncs,
 * new submissions gather in the next batch, so the batch size adapts to
 * the load by itself: no timers, no tuning.
 *
 * Batch life cycle (the lock `mu` protects queue, done and free lists):
 *
 *   free ──commit_submit──► queue (tail gathers) ──worker pops──► writing
 *     ▲                                                             │
 *     └──── on_async: callbacks in order ◄──── done ◄───────────────┘
 *
 * A batch is sealed (no longer gathers) when it is popped, when it reaches
 * max_batch_bytes, or by commit_roll, whose mark makes the worker roll the
 * log before writing the next batch.
 *
 * Errors: the first write/sync error is stored in `err`; the worker then
 * completes every later batch with it without touching the disk, and
 * commit_submit returns it.  Nothing is ever reported durable after a
 * failure, because fsync failures leave the page cache in an unknown state.
 */
#include "commit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_BATCH (16u << 20)
#define DEFAULT_WARN_MS 1000u
#define FREE_KEEP 4 /* batches kept for reuse */

struct entry {
	commit_cb cb;
	void *arg;
};

struct batch {
	struct batch *next;
	uint8_t *buf; /* laid-out records */
	size_t len, cap;
	struct entry *ents;
	size_t n, ents_cap;
	uint64_t first, last;
	bool sealed;	  /* no more appends (commit_roll / size limit) */
	bool roll_before; /* worker rolls the log before writing it */
	int status;	  /* set by the worker */
	uint64_t fsyncs;  /* fdatasyncs the worker made for it */
	uint64_t ns;	  /* time the worker spent writing + syncing it */
};

struct commit {
	uv_loop_t *loop;
	uv_async_t async;
	uv_thread_t thread;
	struct zlog *log; /* worker thread's, until close completes */
	struct commit_opts opts;

	uv_mutex_t mu;
	uv_cond_t cv;
	/* protected by mu */
	struct batch *q_head, *q_tail;
	struct batch *done_head, *done_tail;
	/* the batch the worker is writing: reachable from here, not only from
	 * the worker's stack, so a fork()ed snapshot child (which has no worker
	 * thread) does not see it as leaked */
	struct batch *writing;
	struct batch *free_list;
	size_t n_free;
	bool roll_pending; /* next new batch gets roll_before */
	bool stop;	   /* worker exits once the queue is empty */
	bool exited;	   /* worker has exited */
	bool worker_idle;  /* worker waits on cv */

	int err; /* sticky; written by the worker, read anywhere (atomic) */

	/* loop thread only */
	uint64_t last_zxid; /* last submitted */
	bool closing;
	bool handle_closed;
	void (*close_cb)(void *arg);
	void *close_arg;
	struct commit_stats st;
};

static void batch_free(struct batch *b)
{
	if (!b)
		return;
	free(b->buf);
	free(b->ents);
	free(b);
}

/* Takes a batch from the free list or allocates one (mu held). */
static struct batch *batch_get(struct commit *c)
{
	struct batch *b = c->free_list;
	if (b) {
		c->free_list = b->next;
		c->n_free--;
	} else {
		b = calloc(1, sizeof(*b));
		if (!b)
			return NULL;
	}
	b->next = NULL;
	b->len = b->n = 0;
	b->first = b->last = 0;
	b->sealed = b->roll_before = false;
	b->status = 0;
	b->fsyncs = b->ns = 0;
	return b;
}

/* Returns a batch for reuse (mu held); oversized buffers are not kept. */
static void batch_put(struct commit *c, struct batch *b)
{
	if (c->n_free >= FREE_KEEP || b->cap > c->opts.max_batch_bytes * 2) {
		batch_free(b);
		return;
	}
	b->next = c->free_list;
	c->free_list = b;
	c->n_free++;
}

static uint64_t now_ns(void)
{
	return uv_hrtime();
}

/* The worker: pop, write, sync, hand back — until stopped and drained. */
static void worker(void *arg)
{
	struct commit *c = arg;
	for (;;) {
		uv_mutex_lock(&c->mu);
		while (!c->q_head && !c->stop) {
			c->worker_idle = true;
			uv_cond_wait(&c->cv, &c->mu);
			c->worker_idle = false;
		}
		struct batch *b = c->q_head;
		if (!b) {
			c->exited = true;
			uv_mutex_unlock(&c->mu);
			uv_async_send(&c->async);
			return;
		}
		c->q_head = b->next;
		if (!c->q_head)
			c->q_tail = NULL;
		b->next = NULL;
		b->sealed = true;
		c->writing = b;
		uv_mutex_unlock(&c->mu);

		int err = __atomic_load_n(&c->err, __ATOMIC_ACQUIRE);
		if (!err) {
			struct zlog_stats before, after;
			zlog_get_stats(c->log, &before);
			uint64_t t0 = now_ns();
			if (b->roll_before)
				err = zlog_roll(c->log);
			if (!err && b->len)
				err =
				    zlog_append_encoded(c->log, b->buf, b->len, b->first, b->last);
			if (!err)
				err = zlog_sync(c->log);
			b->ns = now_ns() - t0;
			zlog_get_stats(c->log, &after);
			b->fsyncs = after.syncs - before.syncs;
			if (b->ns / 1000000 > c->opts.fsync_warn_ms)
				storage_msg(
				    STORAGE_WARN,
				    "fdatasync of the transaction log took %llu ms (%zu txns); "
				    "a slow disk delays every write",
				    (unsigned long long)(b->ns / 1000000), b->n);
			if (err) {
				storage_msg(
				    STORAGE_ERROR,
				    "writing the transaction log failed: %s; no further writes "
				    "will be acknowledged",
				    strerror(-err));
				__atomic_store_n(&c->err, err, __ATOMIC_RELEASE);
			}
		}
		b->status = err;

		uv_mutex_lock(&c->mu);
		c->writing = NULL;
		if (c->done_tail)
			c->done_tail->next = b;
		else
			c->done_head = b;
		c->done_tail = b;
		uv_mutex_unlock(&c->mu);
		uv_async_send(&c->async);
	}
}

static void on_handle_closed(uv_handle_t *h)
{
	struct commit *c = h->data;
	void (*cb)(void *) = c->close_cb;
	void *arg = c->close_arg;
	struct batch *b;
	while ((b = c->free_list)) {
		c->free_list = b->next;
		batch_free(b);
	}
	uv_cond_destroy(&c->cv);
	uv_mutex_destroy(&c->mu);
	free(c);
	if (cb)
		cb(arg);
}

/* Loop thread: completed batches → callbacks, in order. */
static void on_async(uv_async_t *a)
{
	struct commit *c = a->data;
	uv_mutex_lock(&c->mu);
	struct batch *b = c->done_head;
	c->done_head = c->done_tail = NULL;
	uv_mutex_unlock(&c->mu);

	while (b) {
		struct batch *next = b->next;
		c->st.batches++;
		c->st.fsyncs += b->fsyncs;
		c->st.bytes += b->len;
		c->st.sync_ns_total += b->ns;
		if (b->ns > c->st.sync_ns_max)
			c->st.sync_ns_max = b->ns;
		if (b->ns > 5000000u)
			c->st.slow_5ms++;
		if (b->ns > 20000000u)
			c->st.slow_20ms++;
		if (b->n > c->st.max_batch)
			c->st.max_batch = b->n;
		for (size_t i = 0; i < b->n; i++) {
			c->st.txns++;
			c->st.pending--;
			if (b->status)
				c->st.failed++;
			b->ents[i].cb(b->ents[i].arg, b->status);
		}
		uv_mutex_lock(&c->mu);
		batch_put(c, b);
		uv_mutex_unlock(&c->mu);
		b = next;
	}

	if (c->closing && !c->handle_closed) {
		uv_mutex_lock(&c->mu);
		bool exited = c->exited && !c->done_head;
		uv_mutex_unlock(&c->mu);
		if (exited) {
			c->handle_closed = true;
			uv_thread_join(&c->thread);
			uv_close((uv_handle_t *)&c->async, on_handle_closed);
		}
	}
}

int commit_open(struct commit **out, uv_loop_t *loop, struct zlog *log,
		const struct commit_opts *opts)
{
	*out = NULL;
	struct commit *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (opts)
		c->opts = *opts;
	if (!c->opts.fsync_warn_ms)
		c->opts.fsync_warn_ms = DEFAULT_WARN_MS;
	if (!c->opts.max_batch_bytes)
		c->opts.max_batch_bytes = DEFAULT_MAX_BATCH;
	c->loop = loop;
	c->log = log;
	c->last_zxid = zlog_last_zxid(log);
	c->err = zlog_error(log);
	int rc = uv_mutex_init(&c->mu);
	if (rc)
		goto err_free;
	rc = uv_cond_init(&c->cv);
	if (rc)
		goto err_mutex;
	rc = uv_async_init(loop, &c->async, on_async);
	if (rc)
		goto err_cond;
	c->async.data = c;
	rc = uv_thread_create(&c->thread, worker, c);
	if (rc)
		goto err_async;
	*out = c;
	return 0;

err_async:
	/* the handle must be closed through the loop; free in its callback */
	c->close_cb = NULL;
	uv_close((uv_handle_t *)&c->async, on_handle_closed);
	return rc;
err_cond:
	uv_cond_destroy(&c->cv);
err_mutex:
	uv_mutex_destroy(&c->mu);
err_free:
	free(c);
	return rc;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem, size_t first)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : first;
	while (n < need)
		n *= 2;
	void *np = realloc(*p, n * elem);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = n;
	return 0;
}

int commit_submit(struct commit *c, uint64_t zxid, const void *bytes, size_t len, commit_cb cb,
		  void *arg)
{
	if (c->closing)
		return -ESHUTDOWN;
	int err = __atomic_load_n(&c->err, __ATOMIC_ACQUIRE);
	if (err)
		return err;
	if (!cb || len == 0 || len > ZLOG_MAX_TXN || zxid <= c->last_zxid)
		return -EINVAL;
	size_t rec = zlog_rec_size(len);

	uv_mutex_lock(&c->mu);
	struct batch *b = c->q_tail;
	if (!b || b->sealed || (b->len && b->len + rec > c->opts.max_batch_bytes)) {
		if (b)
			b->sealed = true;
		b = batch_get(c);
		if (!b) {
			uv_mutex_unlock(&c->mu);
			return -ENOMEM;
		}
		b->roll_before = c->roll_pending;
		c->roll_pending = false;
		if (c->q_tail)
			c->q_tail->next = b;
		else
			c->q_head = b;
		c->q_tail = b;
	}
	if (grow((void **)&b->buf, &b->cap, b->len + rec, 1, 64 << 10) ||
	    grow((void **)&b->ents, &b->ents_cap, b->n + 1, sizeof(*b->ents), 256)) {
		/* leave an empty new batch in the queue: the worker just syncs */
		uv_mutex_unlock(&c->mu);
		return -ENOMEM;
	}
	zlog_rec_encode(b->buf + b->len, zxid, bytes, len);
	b->len += rec;
	if (!b->n)
		b->first = zxid;
	b->last = zxid;
	b->ents[b->n].cb = cb;
	b->ents[b->n].arg = arg;
	b->n++;
	bool wake = c->worker_idle;
	uv_mutex_unlock(&c->mu);
	if (wake)
		uv_cond_signal(&c->cv);
	c->last_zxid = zxid;
	c->st.pending++;
	return 0;
}

int commit_roll(struct commit *c)
{
	if (c->closing)
		return -ESHUTDOWN;
	int err = __atomic_load_n(&c->err, __ATOMIC_ACQUIRE);
	if (err)
		return err;
	uv_mutex_lock(&c->mu);
	if (c->q_tail)
		c->q_tail->sealed = true;
	c->roll_pending = true;
	uv_mutex_unlock(&c->mu);
	return 0;
}

int commit_error(const struct commit *c)
{
	return __atomic_load_n(&c->err, __ATOMIC_ACQUIRE);
}

void commit_get_stats(const struct commit *c, struct commit_stats *st)
{
	*st = c->st;
}

void commit_close(struct commit *c, void (*close_cb)(void *arg), void *arg)
{
	if (c->closing)
		return;
	c->closing = true;
	c->close_cb = close_cb;
	c->close_arg = arg;
	uv_mutex_lock(&c->mu);
	c->stop = true;
	uv_mutex_unlock(&c->mu);
	uv_cond_signal(&c->cv);
	/* the worker's last uv_async_send finishes the close in on_async */
}
