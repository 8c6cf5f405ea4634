/*
 * snapper.c — one fuzzy snapshot, serialized in steps on the loop and
 * written from the thread pool.  See snapper.h.
 *
 * Chunk flow:
 *
 *   core_snapshot_step ──emit──► cur (filling) ──1 MiB──► queue ──► job ──► file
 *        (idle handle, loop)                                 (thread pool, one at a time)
 *
 * The job that finds the serialization complete and the queue empty also
 * commits (trailer, fsync, rename).  The idle handle is stopped while the
 * queue holds QUEUE_HIGH bytes and started again when a job brings it
 * under QUEUE_LOW.
 */
#include "snapper.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "jute.h"
#include "slog.h"
#include "snap.h"
#include "xmem.h"

#define CHUNK_SIZE (1u << 20)
#define QUEUE_HIGH (32u << 20)
#define QUEUE_LOW (8u << 20)
/* loop time per step: what one loop iteration may add to a request's
 * latency while a snapshot is serialized */
#define STEP_NS 200000u
#define STEP_NODES 256u /* nodes between clock reads */

struct chunk {
	struct chunk *next;
	uint8_t *buf;
	size_t len, cap;
	uint64_t nrec;
};

struct snapper {
	uv_loop_t *loop;
	char *dir;
	struct core_snap *cs; /* NULL once serialized or cancelled */
	int slice_nodes;      /* 0 = by time (STEP_NS) */
	uv_idle_t idle;
	bool stepping;	 /* idle handle started */
	bool serialized; /* the end record is in a chunk */
	bool cancelled;
	struct chunk *cur;
	struct chunk *head, *tail;
	size_t queued;
	/* the one job in the thread pool */
	uv_work_t work;
	bool job_running;
	struct chunk *job_chunk;
	bool job_commit; /* write the trailer, fsync, rename after the chunk */
	bool job_abort;	 /* remove the partial file instead */
	int fail;	 /* loop side: first error, ends the snapshot */
	/* job side: touched by the pool thread while a job runs, by the loop
	 * only between jobs */
	struct snap_writer *w;
	int jerr;
	bool committed;
	uint64_t job_ns; /* time the jobs took */
	uint64_t step_ns; /* time the loop spent serializing */
	/* done */
	snapper_done_cb done;
	void *arg;
	struct snapper_stats st;
	uint64_t t0;
};

static void chunk_free(struct chunk *c)
{
	if (c) {
		free(c->buf);
		free(c);
	}
}

static void enqueue(struct snapper *s, struct chunk *c)
{
	c->next = NULL;
	if (s->tail)
		s->tail->next = c;
	else
		s->head = c;
	s->tail = c;
	s->queued += c->len;
}

static int emit(void *arg, const void *rec, size_t len)
{
	struct snapper *s = arg;
	if (len > SNAP_MAX_RECORD)
		return -EINVAL;
	struct chunk *c = s->cur;
	if (!c) {
		c = s->cur = xcalloc(1, sizeof(*c));
		c->cap = CHUNK_SIZE;
		c->buf = xmalloc(c->cap);
	}
	if (c->len + 4 + len > c->cap) {
		while (c->len + 4 + len > c->cap)
			c->cap *= 2;
		c->buf = xrealloc(c->buf, c->cap);
	}
	jute_store32(c->buf + c->len, (uint32_t)len);
	memcpy(c->buf + c->len + 4, rec, len);
	c->len += 4 + len;
	c->nrec++;
	s->st.bytes += 4 + len;
	if (c->len >= CHUNK_SIZE) {
		enqueue(s, c);
		s->cur = NULL;
	}
	return 0;
}

static void kick(struct snapper *s);
static void finish(struct snapper *s, int rc);

static void stop_stepping(struct snapper *s)
{
	if (s->stepping) {
		uv_idle_stop(&s->idle);
		s->stepping = false;
	}
}

static void end_serializing(struct snapper *s)
{
	stop_stepping(s);
	core_snapshot_end(s->cs);
	s->cs = NULL;
}

static void on_step(uv_idle_t *h)
{
	struct snapper *s = h->data;
	if (s->fail) { /* core_snapshot_begin failed */
		stop_stepping(s);
		kick(s);
		return;
	}
	/* stepping runs only while the queue is under QUEUE_HIGH: one step
	 * always fits; by time, more follow until the slice is used up */
	uint64_t t0 = uv_hrtime(), now;
	int rc;
	do {
		rc = core_snapshot_step(s->cs, s->slice_nodes ? (size_t)s->slice_nodes : STEP_NODES);
		now = uv_hrtime();
	} while (!s->slice_nodes && rc == 0 && now - t0 < STEP_NS && s->queued < QUEUE_HIGH);
	s->step_ns += now - t0;
	if ((now - t0) / 1000 > s->st.step_us_max)
		s->st.step_us_max = (now - t0) / 1000;
	if (rc < 0) {
		/* emit does not fail; an encoding error would land here */
		s->fail = rc;
		end_serializing(s);
		kick(s);
		return;
	}
	if (rc == 1) {
		s->st.nodes = core_snapshot_nodes(s->cs);
		end_serializing(s);
		if (s->cur) {
			enqueue(s, s->cur);
			s->cur = NULL;
		}
		s->serialized = true;
	} else if (s->queued >= QUEUE_HIGH) {
		stop_stepping(s); /* the disk is behind: on_job_done starts us again */
	}
	kick(s);
}

static void job_write(struct snapper *s);

static void job_work(uv_work_t *req)
{
	struct snapper *s = req->data;
	uint64_t t0 = uv_hrtime();
	job_write(s);
	s->job_ns += uv_hrtime() - t0;
}

static void job_write(struct snapper *s)
{
	if (s->job_abort) {
		snap_writer_abort(s->w); /* removes the partial file */
		s->w = NULL;
		return;
	}
	if (!s->w && !s->jerr) {
		s->jerr = snap_writer_open(&s->w, s->dir, (uint64_t)s->st.zxid);
		if (!s->jerr)
			snap_writer_pace(s->w, CHUNK_SIZE);
	}
	if (s->job_chunk && !s->jerr)
		s->jerr = snap_writer_append_framed(s->w, s->job_chunk->buf, s->job_chunk->len,
						    s->job_chunk->nrec);
	if (s->job_commit && !s->jerr) {
		s->jerr = snap_writer_commit(s->w); /* frees the writer either way */
		s->w = NULL;
		s->committed = !s->jerr;
	}
	if (s->jerr && s->w) {
		snap_writer_abort(s->w); /* removes the partial file */
		s->w = NULL;
	}
}

static void job_done(uv_work_t *req, int status)
{
	struct snapper *s = req->data;
	(void)status;
	s->job_running = false;
	if (s->job_chunk) {
		s->queued -= s->job_chunk->len;
		chunk_free(s->job_chunk);
		s->job_chunk = NULL;
	}
	if (s->committed) {
		finish(s, 0);
		return;
	}
	if (s->jerr && !s->fail)
		s->fail = s->jerr;
	if (s->fail || s->cancelled) {
		kick(s); /* removes the file if one is open, then finishes */
		return;
	}
	if (s->cs && !s->stepping && s->queued < QUEUE_LOW) {
		uv_idle_start(&s->idle, on_step);
		s->stepping = true;
	}
	kick(s);
}

/* Starts the next job when none runs: the oldest chunk, and the commit
 * with it once nothing else is left to write. */
static void kick(struct snapper *s)
{
	if (s->job_running)
		return;
	s->job_chunk = NULL;
	s->job_commit = s->job_abort = false;
	if (s->fail || s->cancelled) {
		if (!s->w) {
			finish(s, s->fail ? s->fail : -ECANCELED);
			return;
		}
		s->job_abort = true; /* a job opened the file: one more removes it */
	} else if (s->head) {
		s->job_chunk = s->head;
		s->head = s->head->next;
		if (!s->head)
			s->tail = NULL;
		s->job_commit = s->serialized && !s->head;
	} else if (s->serialized) {
		s->job_commit = true;
	} else {
		return; /* wait for the next chunk */
	}
	s->job_running = true;
	s->work.data = s;
	int rc = uv_queue_work(s->loop, &s->work, job_work, job_done);
	if (rc < 0) {
		s->job_running = false;
		slog_error("snapshot", "cannot queue snapshot write: %s", uv_strerror(rc));
		if (s->job_chunk) {
			s->queued -= s->job_chunk->len;
			chunk_free(s->job_chunk);
			s->job_chunk = NULL;
		}
		if (s->w) {
			snap_writer_abort(s->w);
			s->w = NULL;
		}
		finish(s, rc);
	}
}

static void on_idle_closed(uv_handle_t *h)
{
	struct snapper *s = h->data;
	free(s->dir);
	free(s);
}

static void finish(struct snapper *s, int rc)
{
	end_serializing(s);
	chunk_free(s->cur);
	s->cur = NULL;
	while (s->head) {
		struct chunk *c = s->head;
		s->head = c->next;
		chunk_free(c);
	}
	s->tail = NULL;
	s->queued = 0;
	s->st.ms = (uv_hrtime() - s->t0) / 1000000;
	s->st.busy_ms = (s->step_ns + s->job_ns) / 1000000;
	snapper_done_cb done = s->done;
	void *arg = s->arg;
	struct snapper_stats st = s->st;
	uv_close((uv_handle_t *)&s->idle, on_idle_closed);
	done(arg, rc, &st);
}

struct snapper *snapper_start(uv_loop_t *loop, struct core *core, const char *dir,
			      int slice_nodes, snapper_done_cb done, void *arg)
{
	struct snapper *s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->slice_nodes = slice_nodes;
	s->dir = xmalloc(strlen(dir) + 1);
	strcpy(s->dir, dir);
	s->done = done;
	s->arg = arg;
	s->t0 = uv_hrtime();
	uv_idle_init(loop, &s->idle);
	s->idle.data = s;
	/* header and session table now, at the tag; the tree in steps */
	int rc = core_snapshot_begin(core, emit, s, &s->cs);
	s->st.zxid = core_snapshot_zxid(s->cs);
	if (rc < 0) {
		s->fail = rc; /* reported from the first step */
		core_snapshot_end(s->cs);
		s->cs = NULL;
	}
	uv_idle_start(&s->idle, on_step);
	s->stepping = true;
	return s;
}

void snapper_cancel(struct snapper *s)
{
	if (!s || s->cancelled)
		return;
	s->cancelled = true;
	end_serializing(s);
	kick(s);
}
