/*
 * zabsim.c — deterministic simulation of whole ensembles: the real
 * replication protocol (server/zab/) and the real data tree (server/core/)
 * of 3–5 voters and 0–2 observers in one process, on a simulated clock,
 * network and disk driven by one seeded PRNG.
 *
 * Faults injected: crashes (kill -9 or power loss: unsynced log writes are
 * lost or partly kept) and restarts from the simulated disk; partitions,
 * symmetric and one-way, that heal; message delay, loss, duplication and
 * reordering on the election channel; delay on quorum channels (FIFO, as
 * TCP) and their silent loss under partitions; slow disks.
 *
 * Checked after every event:
 *   - at most one leader per epoch;
 *   - a server that starts serving as leader holds every acknowledged
 *     write (its last zxid is >= every acked zxid);
 *   - replicas that applied the same zxid applied the same txn and hold
 *     identical trees and session tables (ZooKeeper's tree digest plus a
 *     session-table hash, per zxid, compared across servers);
 *   - each server applies txns in increasing zxid order;
 * and at the end, after every fault is healed and every server restarted:
 *   - the ensemble makes progress (a leader serves, a new write commits
 *     within a bounded simulated time);
 *   - every server reaches the same last zxid and digest;
 *   - every acknowledged create is present on every server.
 *
 * A failure prints the seed and the event; `zabsim --seed S -v` replays it
 * with a trace.  Usage:
 *   zabsim [--seeds N | --seed S] [--from S] [--tap] [-v] [--wire]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "qcodec.h"
#include "zab.h"
#include "zmsg.h"

#define MAXS 7
#define NCLIENTS 6

/* ------------------------------------------------------------------ prng */

static uint64_t rng_state;
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
static int64_t rrange(int64_t lo, int64_t hi) /* inclusive */
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}
static bool chance(double p)
{
	return (double)(rnd() >> 11) / (double)(1ull << 53) < p;
}

/* A second stream for the shapes of writes (setACL, multi, sequential):
 * drawing them from rnd() would change every seed's fault schedule. */
static uint64_t shape_state;
static uint32_t shape_rnd(uint32_t n)
{
	uint64_t z = (shape_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)((z ^ (z >> 31)) % n);
}

/* ------------------------------------------------------------------ state */

struct dlog {
	int64_t zxid;
	uint8_t *buf;
	size_t len;
	bool durable;
	int64_t done_at; /* when its batch's fdatasync completes */
};

struct srv {
	int64_t id;
	bool observer;
	bool up;
	struct core *core;
	struct zab *z;
	struct dlog *log;
	size_t nlog, caplog;
	uint8_t *snap;
	size_t snaplen;
	int64_t snap_zxid;
	int64_t hist_base; /* the log after this is the tree's history (boot or SNAP) */
	int64_t accepted, current;
	int64_t disk_busy_until;
	uint64_t gen; /* incarnation: events of a dead incarnation are dropped */
	int64_t prev_applied;
	uint64_t applies; /* a full digest walk checks every 8th */
	int64_t applied_since_snap;
	bool serving;
	bool slow_disk;
};

enum ev_kind { EV_MSG = 1, EV_LOGDONE, EV_CHDOWN, EV_TICK, EV_CLIENT, EV_FAULT };

struct event {
	int64_t t;
	uint64_t seq;
	int kind;
	int a, b;	/* server indices */
	uint64_t gen;	/* server or channel incarnation */
	int64_t zxid;
	struct zmsg msg;
};

struct cop {
	int kind; /* 1 create, 2 set, 3 session, 4 sync, 5 ephemeral, 6 close, 7 revalidate */
	int client;
	uint64_t seq;
	int srv;
	char path[64];
};

struct client {
	int srv;	 /* server it talks to, -1 none */
	int64_t session; /* 0 none */
	int out;	     /* requests outstanding (pipelined, up to max_out) */
	int max_out;
	uint64_t seq_next;   /* sequence number of the next request */
	uint64_t seq_expect; /* the next answer must be for this one */
	bool broken;	     /* a request was dropped: the rest come unordered */
	int64_t progress_at; /* last submit on an idle client, or last answer */
	int64_t last_zxid;   /* newest zxid it has seen (a server behind it refuses it) */
};

struct sim {
	uint64_t seed;
	int n;
	struct srv s[MAXS];
	int64_t now;
	uint64_t seq;
	struct event *heap;
	size_t nheap, capheap;
	uint64_t chan_gen[MAXS][MAXS]; /* per unordered pair */
	bool chan_broken[MAXS][MAXS];  /* per unordered pair: nothing gets through
					* until the learner dials again */
	int64_t chan_last[MAXS][MAXS]; /* FIFO: last delivery time per direction */
	bool blocked[MAXS][MAXS];      /* from -> to */
	struct client c[NCLIENTS];
	int64_t fault_end;
	int64_t end;
	bool verbose;
	bool wire;
	const char *fail;
	char failbuf[512];
	/* checks */
	int64_t leader_of_epoch[1024];
	int64_t max_acked;
	struct acked {
		char path[64];
		int64_t zxid;
	} *acked;
	size_t nacked, capacked;
	struct zd {
		int64_t zxid;
		int64_t digest;
		uint64_t sess;
	} *digests;
	size_t ndig, capdig;
	uint64_t next_name;
	uint64_t commits, elections_seen;
	struct core_config ccfg;
};

static struct sim *S;

static void failf(const char *fmt, ...)
{
	if (S->fail)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(S->failbuf, sizeof(S->failbuf), fmt, ap);
	va_end(ap);
	S->fail = S->failbuf;
}

static void trace(const char *fmt, ...)
{
	if (!S->verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "[%8" PRId64 "] ", S->now);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ------------------------------------------------------------------ events */

static void push(struct event *e)
{
	e->seq = S->seq++;
	if (S->nheap == S->capheap) {
		S->capheap = S->capheap ? S->capheap * 2 : 256;
		S->heap = realloc(S->heap, S->capheap * sizeof(*S->heap));
	}
	size_t i = S->nheap++;
	while (i) {
		size_t p = (i - 1) / 2;
		struct event *pe = &S->heap[p];
		if (pe->t < e->t || (pe->t == e->t && pe->seq < e->seq))
			break;
		S->heap[i] = *pe;
		i = p;
	}
	S->heap[i] = *e;
}

static bool pop(struct event *out)
{
	if (!S->nheap)
		return false;
	*out = S->heap[0];
	struct event last = S->heap[--S->nheap];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct event *best = &last;
		if (l < S->nheap && (S->heap[l].t < best->t ||
				     (S->heap[l].t == best->t && S->heap[l].seq < best->seq))) {
			m = l;
			best = &S->heap[l];
		}
		if (r < S->nheap && (S->heap[r].t < best->t ||
				     (S->heap[r].t == best->t && S->heap[r].seq < best->seq)))
			m = r;
		if (m == i)
			break;
		S->heap[i] = S->heap[m];
		i = m;
	}
	if (S->nheap)
		S->heap[i] = last;
	return true;
}

static int idx_of(int64_t id)
{
	for (int i = 0; i < S->n; i++)
		if (S->s[i].id == id)
			return i;
	return -1;
}

static uint64_t *pair_gen(int a, int b)
{
	return a < b ? &S->chan_gen[a][b] : &S->chan_gen[b][a];
}

static bool *pair_broken(int a, int b)
{
	return a < b ? &S->chan_broken[a][b] : &S->chan_broken[b][a];
}

/* The connection between a and b is gone: nothing more gets through. */
static void chan_break(int a, int b)
{
	(*pair_gen(a, b))++;
	*pair_broken(a, b) = true;
}

/* ------------------------------------------------------------------ network */

static void schedule_chdown(int to, int other, int64_t delay)
{
	struct event e;
	memset(&e, 0, sizeof(e));
	e.kind = EV_CHDOWN;
	e.a = other;
	e.b = to;
	e.gen = *pair_gen(to, other);
	e.t = S->now + delay;
	push(&e);
}

/* Serializes a SNAP's core as the wire would (a deep copy). */
static struct core *copy_core(const struct core *src);

static void net_send(void *arg, int64_t to_id, const struct zmsg *m)
{
	struct srv *from = arg;
	int a = (int)(from - S->s), b = idx_of(to_id);
	if (b < 0 || b == a)
		return;
	struct event e;
	memset(&e, 0, sizeof(e));
	e.kind = EV_MSG;
	e.a = a;
	e.b = b;
	if (m->type == ZM_NOTIFICATION) {
		if (S->blocked[a][b] || (S->now < S->fault_end && chance(0.03)))
			return;
		if (zmsg_clone(&e.msg, m) < 0)
			failf("a notification does not copy");
		e.t = S->now + rrange(0, S->now < S->fault_end ? 4 : 1);
		e.gen = 0;
		if (S->now < S->fault_end && chance(0.03)) {
			struct event d = e;
			zmsg_clone(&d.msg, m);
			d.t += rrange(0, 20);
			push(&d);
		}
		push(&e);
		return;
	}
	uint64_t *g = pair_gen(a, b);
	if (m->type == ZM_FOLLOWERINFO || m->type == ZM_OBSERVERINFO) {
		(*g)++; /* a new connection */
		*pair_broken(a, b) = false;
		if (S->blocked[a][b] || S->blocked[b][a] || !S->s[b].up) {
			chan_break(a, b);
			schedule_chdown(a, b, S->s[b].up ? 50 : 1);
			return;
		}
	}
	if (*pair_broken(a, b))
		return;
	if (S->blocked[a][b]) {
		chan_break(a, b); /* the connection dies silently */
		return;
	}
	if (m->type == ZM_SNAP) {
		e.msg.type = ZM_SNAP;
		e.msg.zxid = m->zxid;
		e.msg.snap = copy_core(m->snap);
	} else if (zmsg_clone(&e.msg, m) < 0) {
		failf("%s from %" PRId64 " does not copy", zmsg_type_name(m->type), from->id);
	}
	e.gen = *g;
	int64_t t = S->now + rrange(0, S->now < S->fault_end ? 3 : 1);
	if (t < S->chan_last[a][b])
		t = S->chan_last[a][b];
	S->chan_last[a][b] = t;
	e.t = t;
	push(&e);
}

static void net_close(void *arg, int64_t to_id)
{
	struct srv *from = arg;
	int a = (int)(from - S->s), b = idx_of(to_id);
	if (b < 0)
		return;
	chan_break(a, b);
	if (!S->blocked[a][b] && S->s[b].up)
		schedule_chdown(b, a, 1);
}

/* ------------------------------------------------------------------ disk */

static void disk_append(void *arg, const struct core_txn *t)
{
	struct srv *s = arg;
	struct jute_out o;
	jute_out_init(&o);
	core_txn_encode(t, &o);
	if (s->nlog == s->caplog) {
		s->caplog = s->caplog ? s->caplog * 2 : 64;
		s->log = realloc(s->log, s->caplog * sizeof(*s->log));
	}
	struct dlog *d = &s->log[s->nlog++];
	d->zxid = core_txn_zxid(t);
	d->buf = malloc(o.len);
	memcpy(d->buf, o.buf, o.len);
	d->len = o.len;
	d->durable = false;
	jute_out_free(&o);
	/* group commit: a txn often joins the batch being synced (one
	 * completion for all of them, as the real group commit reports) */
	int64_t lat = s->slow_disk ? rrange(5, 60) : rrange(0, 2);
	int64_t at = S->now + lat;
	if (at < s->disk_busy_until || (s->disk_busy_until > S->now && chance(0.5)))
		at = s->disk_busy_until;
	s->disk_busy_until = at;
	d->done_at = at;
	struct event e;
	memset(&e, 0, sizeof(e));
	e.kind = EV_LOGDONE;
	e.a = (int)(s - S->s);
	e.gen = s->gen;
	e.zxid = d->zxid;
	e.t = at;
	push(&e);
}

static int emit_buf(void *arg, const void *rec, size_t len)
{
	struct jute_out *o = arg;
	jute_put_int(o, (int32_t)len);
	jute_put_raw(o, rec, len);
	return 0;
}

static struct core *load_core(const uint8_t *buf, size_t len)
{
	struct core *c = core_new(&S->ccfg);
	size_t off = 0;
	int rc = 0;
	while (off + 4 <= len && rc == 0) {
		uint32_t n = ((uint32_t)buf[off] << 24) | ((uint32_t)buf[off + 1] << 16) |
			     ((uint32_t)buf[off + 2] << 8) | buf[off + 3];
		off += 4;
		rc = core_snapshot_load(c, buf + off, n);
		off += n;
	}
	if (rc != 1)
		failf("snapshot load failed (%d)", rc);
	return c;
}

static struct core *copy_core(const struct core *src)
{
	if (S->wire) {
		struct jute_out o;
		jute_out_init(&o);
		qc_snap_put(&o, src, true);
		struct qc_snap_parser *sp = qc_snap_parser_new(&S->ccfg, core_last_zxid(src), true, (size_t)1 << 30);
		size_t used = 0;
		int rc = qc_snap_parser_feed(sp, o.buf, o.len, &used);
		struct core *c = rc == 1 ? qc_snap_parser_take(sp) : NULL;
		qc_snap_parser_free(sp);
		jute_out_free(&o);
		if (!c) {
			failf("SNAP stream did not parse (%d)", rc);
			return core_new(&S->ccfg);
		}
		return c;
	}
	struct jute_out o;
	jute_out_init(&o);
	core_snapshot_write(src, emit_buf, &o);
	struct core *c = load_core(o.buf, o.len);
	jute_out_free(&o);
	return c;
}

static void take_snapshot(struct srv *s)
{
	struct jute_out o;
	jute_out_init(&o);
	core_snapshot_write(s->core, emit_buf, &o);
	free(s->snap);
	s->snap = malloc(o.len ? o.len : 1);
	memcpy(s->snap, o.buf, o.len);
	s->snaplen = o.len;
	s->snap_zxid = core_last_zxid(s->core);
	jute_out_free(&o);
}

static int disk_epoch(void *arg, bool accepted, int64_t epoch)
{
	struct srv *s = arg;
	if (accepted)
		s->accepted = epoch;
	else
		s->current = epoch;
	return 0;
}

static void log_drop_after(struct srv *s, int64_t zxid)
{
	while (s->nlog && s->log[s->nlog - 1].zxid > zxid) {
		free(s->log[s->nlog - 1].buf);
		s->nlog--;
	}
}

static int disk_install(void *arg, struct core *nc, int64_t zxid)
{
	struct srv *s = arg;
	core_free(s->core);
	s->core = nc;
	take_snapshot(s);
	log_drop_after(s, -1);
	s->hist_base = zxid;
	s->prev_applied = zxid;
	return 0;
}

/* Applies the log after `base` to the core, or with z, feeds it to zab's
 * DIFF window instead. */
static void replay(struct srv *s, struct zab *z, int64_t base)
{
	for (size_t i = 0; i < s->nlog; i++) {
		if (s->log[i].zxid <= base)
			continue;
		struct core_txn *t = NULL;
		if (core_txn_decode(s->log[i].buf, s->log[i].len, &t) < 0) {
			failf("log record of %" PRId64 " does not decode", s->id);
			return;
		}
		if (z)
			zab_recovered_txn(z, t);
		else
			core_apply(s->core, t, NULL);
		core_txn_free(t);
	}
}

static int disk_truncate(void *arg, int64_t zxid, struct core **nc)
{
	struct srv *s = arg;
	if (s->snap && s->snap_zxid > zxid)
		return -ERANGE;
	log_drop_after(s, zxid);
	core_free(s->core);
	s->core = s->snap ? load_core(s->snap, s->snaplen) : core_new(&S->ccfg);
	replay(s, NULL, core_last_zxid(s->core));
	*nc = s->core;
	s->prev_applied = core_last_zxid(s->core);
	return 0;
}

/* ------------------------------------------------------------------ checks */

static uint64_t sess_hash_acc;
static void sess_cb(void *arg, int64_t sid, int32_t timeout, uint32_t neph)
{
	(void)arg;
	uint64_t h = (uint64_t)sid * 0x9e3779b97f4a7c15ull ^ ((uint64_t)timeout << 17) ^
		     ((uint64_t)neph << 40);
	h ^= h >> 29;
	sess_hash_acc += h * 0xbf58476d1ce4e5b9ull;
}

/* The tree digest the core keeps as it applies (checked against full
 * walks in on_applied) and a hash of the session table. */
static void digest_of(const struct core *c, int64_t *d, uint64_t *sh)
{
	struct core_stats st;
	core_get_stats(c, &st);
	*d = st.digest;
	sess_hash_acc = 0;
	core_sessions_each(c, sess_cb, NULL);
	*sh = sess_hash_acc;
}

/* Debugging a divergence: the tree of c, one node per line. */
static void dump_tree(const struct core *c, const char *path, FILE *f)
{
	struct zk_request rq;
	memset(&rq, 0, sizeof(rq));
	rq.type = ZOP_GETDATA;
	rq.op.type = ZOP_GETDATA;
	rq.op.path = (char *)path;
	struct zk_response rs;
	memset(&rs, 0, sizeof(rs));
	core_read((struct core *)c, 0, NULL, NULL, &rq, &rs);
	fprintf(f, "  %s v%d cv%d czxid %" PRIx64 " mzxid %" PRIx64 " pzxid %" PRIx64
		   " owner %" PRIx64 " len %d\n",
		path, rs.r.stat.version, rs.r.stat.cversion, rs.r.stat.czxid, rs.r.stat.mzxid,
		rs.r.stat.pzxid, rs.r.stat.ephemeral_owner, rs.r.stat.data_length);
	zk_response_free(&rs);
	rq.type = rq.op.type = ZOP_GETCHILDREN;
	memset(&rs, 0, sizeof(rs));
	core_read((struct core *)c, 0, NULL, NULL, &rq, &rs);
	for (int32_t i = 0; i < rs.r.children.n; i++) {
		char child[512];
		snprintf(child, sizeof(child), "%s/%s", strcmp(path, "/") ? path : "",
			 rs.r.children.v[i]);
		dump_tree(c, child, f);
	}
	zk_response_free(&rs);
}

static struct zd *find_digest(int64_t zxid)
{
	size_t lo = 0, hi = S->ndig;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (S->digests[mid].zxid < zxid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < S->ndig && S->digests[lo].zxid == zxid ? &S->digests[lo] : NULL;
}

static void record_digest(struct srv *s, int64_t zxid)
{
	int64_t d;
	uint64_t sh;
	digest_of(s->core, &d, &sh);
	struct zd *x = find_digest(zxid);
	if (x) {
		if ((x->digest != d || x->sess != sh) && S->verbose) {
			for (int k = 0; k < S->n; k++) {
				if (!S->s[k].up || core_last_zxid(S->s[k].core) != zxid)
					continue;
				fprintf(stderr, "tree of server %" PRId64 ":\n", S->s[k].id);
				dump_tree(S->s[k].core, "/", stderr);
			}
		}
		if (x->digest != d || x->sess != sh)
			failf("server %" PRId64 " diverged at zxid 0x%" PRIx64
			      " (digest %" PRIx64 " vs %" PRIx64 ")",
			      s->id, zxid, d, x->digest);
		return;
	}
	if (S->ndig == S->capdig) {
		S->capdig = S->capdig ? S->capdig * 2 : 256;
		S->digests = realloc(S->digests, S->capdig * sizeof(*S->digests));
	}
	size_t i = S->ndig;
	while (i && S->digests[i - 1].zxid > zxid) {
		S->digests[i] = S->digests[i - 1];
		i--;
	}
	S->digests[i].zxid = zxid;
	S->digests[i].digest = d;
	S->digests[i].sess = sh;
	S->ndig++;
}

/* A client's requests are answered in the order it sent them (one
 * connection: ZooKeeper's FIFO client order), unless one was dropped. */
static void answered(struct client *c, struct cop *op)
{
	if (!c->broken && op->seq != c->seq_expect)
		failf("client %d: answer to request %" PRIu64 " came before %" PRIu64,
		      op->client, op->seq, c->seq_expect);
	c->seq_expect = op->seq + 1;
	c->out--;
	c->progress_at = S->now;
	if (!c->out) {
		c->broken = false;
		c->seq_expect = c->seq_next;
	}
}

static void on_applied(void *arg, const struct core_txn *t, void *cookie,
		       struct zk_response *resp)
{
	struct srv *s = arg;
	int64_t zxid = core_txn_zxid(t);
	if (zxid <= s->prev_applied)
		failf("server %" PRId64 " applied 0x%" PRIx64 " after 0x%" PRIx64, s->id, zxid,
		      s->prev_applied);
	s->prev_applied = zxid;
	if (S->verbose)
		trace("server %" PRId64 " applies 0x%" PRIx64 " type %d session %" PRIx64 " err %d",
		      s->id, zxid, core_txn_type(t), core_txn_session(t), core_txn_err(t));
	record_digest(s, zxid);
	/* the stamp prep put on the txn is the tree after it (the digest the
	 * core keeps, which replicas compare above); every 8th apply, and
	 * every one in the first 64, a full walk by the snapshot codec checks
	 * the kept digest itself */
	struct core_stats st;
	core_get_stats(s->core, &st);
	int64_t full = st.digest;
	if (s->applies++ % 8 == 0 || s->applies < 64) {
		full = qc_tree_digest(s->core);
		if (st.digest != full)
			failf("server %" PRId64 " after 0x%" PRIx64 ": kept digest %" PRIx64
			      " but the tree's is %" PRIx64,
			      s->id, zxid, st.digest, full);
	}
	int64_t stamp;
	if (core_txn_digest(t, &stamp) && stamp != full)
		failf("server %" PRId64 ": txn 0x%" PRIx64 " stamped %" PRIx64 " but the tree after"
		      " it is %" PRIx64,
		      s->id, zxid, stamp, full);
	if (st.digest_mismatches)
		failf("server %" PRId64 ": %" PRIu64 " digest mismatches, first 0x%" PRIx64, s->id,
		      st.digest_mismatches, st.digest_mismatch_zxid);
	s->applied_since_snap++;
	if (s->serving && s->applied_since_snap > 40 && chance(0.05)) {
		take_snapshot(s);
		s->applied_since_snap = 0;
	}
	if (!cookie)
		return;
	struct cop *op = cookie;
	struct client *c = &S->c[op->client];
	answered(c, op);
	if (zxid > c->last_zxid)
		c->last_zxid = zxid;
	trace("server %" PRId64 " answers client %d op %d %s: err %d zxid 0x%" PRIx64, s->id,
	      op->client, op->kind, op->path, resp ? resp->err : 999, zxid);
	if (resp && resp->err == 0) {
		if (zxid > S->max_acked)
			S->max_acked = zxid;
		S->commits++;
		if (op->kind == 1) {
			if (S->nacked == S->capacked) {
				S->capacked = S->capacked ? S->capacked * 2 : 64;
				S->acked = realloc(S->acked, S->capacked * sizeof(*S->acked));
			}
			snprintf(S->acked[S->nacked].path, sizeof(S->acked[0].path), "%s",
				 op->path);
			S->acked[S->nacked].zxid = zxid;
			S->nacked++;
		} else if (op->kind == 3) {
			c->session = core_txn_session(t);
		} else if (op->kind == 6) {
			c->session = 0;
		}
	} else if (op->kind == 3 || op->kind == 5) {
		if (resp && resp->err == ZE_SESSIONEXPIRED)
			c->session = 0;
	}
	free(op);
}

static void on_synced(void *arg, void *cookie)
{
	struct cop *op = cookie;
	answered(&S->c[op->client], op);
	free(op);
}

static void on_revalidated(void *arg, void *cookie, bool valid)
{
	struct srv *s = arg;
	struct cop *op = cookie;
	struct client *c = &S->c[op->client];
	answered(c, op);
	if (!valid) {
		/* only the leader may say a session is gone, and only when its
		 * tree says so (a learner that lost its leader cannot know) */
		struct zab_info mine;
		zab_get_info(s->z, &mine);
		for (int k = 0; k < S->n; k++) {
			struct srv *l = &S->s[k];
			struct zab_info zi;
			if (!l->up || !l->serving)
				continue;
			zab_get_info(l->z, &zi);
			/* a leader of an older epoch that has not noticed yet may
			 * believe an expiry it could never commit, as ZooKeeper's */
			if (zi.role == ZAB_LEADING && zi.current_epoch <= mine.current_epoch &&
			    core_session_live(l->core, c->session))
				failf("server %" PRId64 " refused session %" PRIx64
				      " that leader %" PRId64 " holds live",
				      s->id, c->session, l->id);
		}
		c->session = 0; /* as a real client: the session is gone */
	}
	free(op);
}

static void on_dropped(void *arg, void *cookie)
{
	struct cop *op = cookie;
	struct client *c = &S->c[op->client];
	c->broken = true; /* the connection is gone */
	c->srv = -1;
	c->out++;	  /* answered() counts it down */
	c->out--;
	answered(c, op);
	free(op);
}

static void on_role(void *arg, enum zab_role role, bool serving, int64_t leader, int64_t epoch,
		    const char *why)
{
	struct srv *s = arg;
	s->serving = serving;
	trace("server %" PRId64 ": %s%s leader=%" PRId64 " epoch=%" PRId64 " (%s)", s->id,
	      zab_role_name(role), serving ? " serving" : "", leader, epoch, why);
	if (role == ZAB_LEADING && serving) {
		if (epoch < 0 || epoch >= 1024) {
			failf("epoch out of range");
			return;
		}
		if (S->leader_of_epoch[epoch] && S->leader_of_epoch[epoch] != s->id)
			failf("two leaders in epoch %" PRId64 ": %" PRId64 " and %" PRId64, epoch,
			      S->leader_of_epoch[epoch], s->id);
		S->leader_of_epoch[epoch] = s->id;
		if (core_last_zxid(s->core) < S->max_acked)
			failf("leader %" PRId64 " of epoch %" PRId64 " lacks acked zxid 0x%" PRIx64
			      " (has 0x%" PRIx64 ")",
			      s->id, epoch, S->max_acked, core_last_zxid(s->core));
	}
	if (!serving)
		for (int i = 0; i < NCLIENTS; i++)
			if (S->c[i].srv == (int)(s - S->s))
				S->c[i].srv = -1;
}

/* The log from `from` on, into the DIFF window of a leader (see
 * reload_window in zab_ops); nothing when the log after the snapshot this
 * tree grew from cannot serve `from`. */
static void disk_reload_window(void *arg, int64_t from)
{
	struct srv *s = arg;
	int64_t base = s->hist_base;
	int64_t last = core_last_zxid(s->core);
	if (from <= base)
		return; /* the log cannot serve it */
	for (size_t i = 0; i < s->nlog; i++) {
		if (s->log[i].zxid < from)
			continue;
		if (s->log[i].zxid > last)
			break;
		struct core_txn *t = NULL;
		if (core_txn_decode(s->log[i].buf, s->log[i].len, &t) < 0) {
			failf("log record of %" PRId64 " does not decode", s->id);
			return;
		}
		zab_window_take(s->z, t);
	}
}

static const struct zab_ops ops_tmpl = {
	.send = net_send,
	.channel_close = net_close,
	.log_append = disk_append,
	.write_epoch = disk_epoch,
	.install_snapshot = disk_install,
	.truncate = disk_truncate,
	.applied = on_applied,
	.synced = on_synced,
	.revalidated = on_revalidated,
	.dropped = on_dropped,
	.role = on_role,
	.reload_window = disk_reload_window,
};

/* ------------------------------------------------------------------ servers */

static void schedule_tick(struct srv *s)
{
	struct event e;
	memset(&e, 0, sizeof(e));
	e.kind = EV_TICK;
	e.a = (int)(s - S->s);
	e.gen = s->gen;
	int64_t t = zab_next_timer_ms(s->z);
	e.t = t <= S->now ? S->now + 1 : t;
	push(&e);
}

static struct zab_member members[MAXS];

static void boot(struct srv *s)
{
	s->gen++;
	s->up = true;
	s->serving = false;
	s->core = s->snap ? load_core(s->snap, s->snaplen) : core_new(&S->ccfg);
	int64_t snap_zxid = core_last_zxid(s->core);
	s->hist_base = snap_zxid;
	replay(s, NULL, snap_zxid);
	struct zab_config zc = {
		.my_id = s->id,
		.members = members,
		.n_members = (size_t)S->n,
		.tick_ms = 100,
		.init_limit = 10,
		.sync_limit = 5,
		.finalize_ms = (int32_t)rrange(0, 30),
		.notify_min_ms = 20,
		.notify_max_ms = 400,
		.connect_retry_ms = 20,
		.commit_log_count = (uint32_t)rrange(5, 60),
		.commit_log_bytes = (uint64_t)rrange(1000, 50000),
		.initial_counter = chance(0.1) ? 0xfffffff0u : 1,
		.now_ms = S->now + 1000000 * (s->gen + 1),
	};
	struct zab_ops ops = ops_tmpl;
	ops.arg = s;
	s->z = zab_new(&zc, &ops, s->core, s->accepted, s->current);
	/* the recovered txns also seed the DIFF window */
	replay(s, s->z, snap_zxid);
	s->prev_applied = core_last_zxid(s->core);
	if (s->accepted == 0 && s->current == 0) {
		s->accepted = s->current = (int64_t)((uint64_t)core_last_zxid(s->core) >> 32);
	}
	zab_start(s->z, S->now);
	schedule_tick(s);
	trace("server %" PRId64 " up (last zxid 0x%" PRIx64 ")", s->id, core_last_zxid(s->core));
}

static void crash(struct srv *s)
{
	trace("server %" PRId64 " crashes", s->id);
	int i = (int)(s - S->s);
	zab_free(s->z);
	s->z = NULL;
	core_free(s->core);
	s->core = NULL;
	s->up = false;
	s->serving = false;
	s->gen++;
	/* unsynced writes: a prefix may have reached the disk */
	bool power = chance(0.5);
	size_t keep = s->nlog;
	for (size_t k = 0; k < s->nlog; k++) {
		if (!s->log[k].durable) {
			keep = power ? k + (size_t)rrange(0, (int64_t)(s->nlog - k)) : s->nlog;
			break;
		}
	}
	while (s->nlog > keep)
		free(s->log[--s->nlog].buf);
	for (size_t k = 0; k < s->nlog; k++)
		s->log[k].durable = true;
	s->disk_busy_until = 0;
	for (int j = 0; j < S->n; j++) {
		if (j == i)
			continue;
		chan_break(i, j);
		if (S->s[j].up && !power && !S->blocked[i][j])
			schedule_chdown(j, i, 1);
	}
	for (int c = 0; c < NCLIENTS; c++)
		if (S->c[c].srv == i)
			S->c[c].srv = -1;
}

/* ------------------------------------------------------------------ clients */

static void client_op(int ci)
{
	struct client *c = &S->c[ci];
	if (c->out >= c->max_out)
		return;
	if (c->out && (c->srv < 0 || !S->s[c->srv].serving))
		return; /* wait for the answers (or drops) first */
	if (c->srv < 0 || !S->s[c->srv].up || !S->s[c->srv].serving) {
		c->srv = (int)rrange(0, S->n - 1);
		/* a server that has not seen what the client saw refuses it
		 * (the edge checks lastZxidSeen at connect) */
		if (!S->s[c->srv].up || !S->s[c->srv].serving ||
		    core_last_zxid(S->s[c->srv].core) < c->last_zxid) {
			c->srv = -1;
			return;
		}
		if (c->session) {
			struct cop *op = calloc(1, sizeof(*op));
			op->kind = 7;
			op->client = ci;
			op->seq = c->seq_next++;
			c->out++;
			c->progress_at = S->now;
			if (zab_revalidate(S->s[c->srv].z, S->now, c->session, 4000, op) < 0) {
				c->out--;
				c->seq_next--;
				free(op);
			}
			return;
		}
	}
	struct srv *s = &S->s[c->srv];
	if (c->session)
		zab_touch(s->z, S->now, c->session, 4000);
	struct cop *op = calloc(1, sizeof(*op));
	op->client = ci;
	op->srv = c->srv;
	int r = (int)rrange(0, 99);
	int rc;
	struct zk_request req;
	memset(&req, 0, sizeof(req));
	struct zk_acl acl = {.perms = ZK_PERM_ALL, .id = {.scheme = "world", .id = "anyone"}};
	req.op.acl.n = 1;
	req.op.acl.v = &acl;
	req.xid = (int32_t)rrange(1, 1 << 30);
	char data[16];
	snprintf(data, sizeof(data), "%" PRIu64, rnd() % 1000);
	req.op.data = (uint8_t *)data;
	req.op.data_len = (int32_t)strlen(data);
	if (!c->out)
		c->progress_at = S->now;
	op->seq = c->seq_next++;
	c->out++;
	req.op.type = 0;
	bool idle = c->out == 1;
	if (!c->session && r < 15 && idle) {
		op->kind = 3;
		int64_t sid;
		rc = zab_create_session(s->z, S->now, 4000, op, &sid);
	} else if (r < 50) {
		op->kind = 1;
		snprintf(op->path, sizeof(op->path), "/n%" PRIu64, S->next_name++);
		req.type = ZOP_CREATE;
		req.op.path = op->path;
		req.op.type = req.type;
		rc = zab_submit(s->z, S->now, c->session, NULL, &req, op);
	} else if (r < 75) {
		op->kind = 2;
		snprintf(op->path, sizeof(op->path), "/k%d", (int)rrange(0, 3));
		req.type = chance(0.3) ? ZOP_DELETE : ZOP_CREATE;
		if (chance(0.5))
			req.type = ZOP_SETDATA;
		req.op.version = -1;
		req.op.path = op->path;
		req.op.type = req.type;
		/* now and then the other writes the tree digest must follow */
		struct zk_op mops[3];
		char seqp[80];
		uint32_t shape = shape_rnd(20);
		if (shape == 0) {
			req.type = req.op.type = ZOP_SETACL;
			acl.perms = shape_rnd(2) ? ZK_PERM_ALL : ZK_PERM_ALL & ~ZK_PERM_ADMIN;
		} else if (shape == 1) {
			snprintf(seqp, sizeof(seqp), "%s-", op->path);
			req.type = req.op.type = ZOP_CREATE;
			req.op.flags = ZK_PERSISTENT_SEQUENTIAL;
			req.op.path = seqp;
		} else if (shape == 2 || shape == 3) {
			/* create (may fail: the whole multi then fails), setData, check */
			memset(mops, 0, sizeof(mops));
			for (int i = 0; i < 3; i++) {
				mops[i] = req.op;
				mops[i].version = -1;
			}
			mops[0].type = ZOP_CREATE;
			mops[1].type = ZOP_SETDATA;
			mops[2].type = ZOP_CHECK;
			req.type = ZOP_MULTI;
			req.nops = 3;
			req.ops = mops;
		}
		rc = zab_submit(s->z, S->now, c->session, NULL, &req, op);
	} else if (r < 85 && c->session) {
		op->kind = 5;
		snprintf(op->path, sizeof(op->path), "/e%d", (int)rrange(0, 5));
		req.type = ZOP_CREATE;
		req.op.flags = ZK_EPHEMERAL;
		req.op.path = op->path;
		req.op.type = req.type;
		rc = zab_submit(s->z, S->now, c->session, NULL, &req, op);
	} else if (r < 90 && c->session && idle) {
		op->kind = 6;
		req.type = ZOP_CLOSESESSION;
		req.op.type = req.type;
		rc = zab_submit(s->z, S->now, c->session, NULL, &req, op);
	} else {
		op->kind = 4;
		rc = zab_sync(s->z, S->now, op);
	}
	/* op may be answered (and freed) already */
	trace("client %d on server %" PRId64 ": rc %d", ci, s->id, rc);
	if (rc < 0) {
		c->out--;
		c->seq_next--;
		free(op);
	}
}


/* ------------------------------------------------------------------ faults */

static void random_fault(void)
{
	int i = (int)rrange(0, S->n - 1);
	int j = (int)rrange(0, S->n - 1);
	int up = 0;
	for (int k = 0; k < S->n; k++)
		up += S->s[k].up;
	switch (rrange(0, 9)) {
	case 0:
	case 1:
	case 2:
		if (S->s[i].up && up > 1) {
			crash(&S->s[i]);
		}
		break;
	case 3:
	case 4:
		for (int k = 0; k < S->n; k++)
			if (!S->s[k].up && chance(0.7))
				boot(&S->s[k]);
		break;
	case 5:
		if (i != j) {
			trace("partition %d <-> %d", i, j);
			S->blocked[i][j] = S->blocked[j][i] = true;
		}
		break;
	case 6:
		if (i != j) {
			trace("one-way partition %d -> %d", i, j);
			S->blocked[i][j] = true;
		}
		break;
	case 7:
		trace("heal partitions");
		memset(S->blocked, 0, sizeof(S->blocked));
		break;
	case 8:
		S->s[i].slow_disk = !S->s[i].slow_disk;
		break;
	default: {
		/* isolate one server from all */
		trace("isolate %d", i);
		for (int k = 0; k < S->n; k++)
			if (k != i)
				S->blocked[i][k] = S->blocked[k][i] = true;
		break;
	}
	}
}

/* ------------------------------------------------------------------ run */

static void deliver(struct event *e)
{
	struct srv *to = &S->s[e->b];
	if (!to->up) {
		if (e->msg.snap)
			core_free(e->msg.snap);
		zmsg_free(&e->msg);
		return;
	}
	if (e->msg.type != ZM_NOTIFICATION && e->gen != *pair_gen(e->a, e->b)) {
		if (e->msg.snap)
			core_free(e->msg.snap);
		zmsg_free(&e->msg);
		return;
	}
	if (e->msg.type == ZM_NOTIFICATION && S->blocked[e->a][e->b]) {
		zmsg_free(&e->msg);
		return;
	}
	if (S->verbose && e->msg.type != ZM_NOTIFICATION && e->msg.type != ZM_PING)
		trace("%" PRId64 " -> %" PRId64 " %s 0x%" PRIx64, S->s[e->a].id, to->id,
		      zmsg_type_name(e->msg.type), e->msg.zxid);
	zab_recv(to->z, S->now, S->s[e->a].id, &e->msg);
	to->core = zab_core(to->z);
}

static int run_seed(uint64_t seed, bool verbose, bool wire)
{
	struct sim sim;
	memset(&sim, 0, sizeof(sim));
	S = &sim;
	S->seed = seed;
	S->verbose = verbose;
	S->wire = wire;
	rng_state = seed * 0x2545f4914f6cdd1dull + 1;
	shape_state = seed * 0x9e3779b97f4a7c15ull + 7;
	int voters = chance(0.6) ? 3 : 5;
	int observers = (int)rrange(0, 2);
	S->n = voters + observers;
	S->ccfg.tick_ms = 100;
	S->ccfg.digest = true;
	S->ccfg.min_session_timeout_ms = 200;
	S->ccfg.max_session_timeout_ms = 4000;
	for (int i = 0; i < S->n; i++) {
		S->s[i].id = i + 1;
		S->s[i].observer = i >= voters;
		members[i].id = i + 1;
		members[i].observer = i >= voters;
	}
	S->fault_end = rrange(3000, 8000);
	S->end = S->fault_end + 8000;
	for (int i = 0; i < NCLIENTS; i++) {
		S->c[i].srv = -1;
		S->c[i].max_out = (int)rrange(1, 4);
	}
	for (int i = 0; i < S->n; i++)
		boot(&S->s[i]);
	int64_t next_client = 0, next_fault = rrange(200, 800);
	int64_t heal_done = 0, progress_mark = -1;
	struct event e;
	while (!S->fail && pop(&e)) {
		if (e.t > S->end)
			break;
		S->now = e.t;
		while (next_client <= S->now && S->now < S->end - 2000) {
			client_op((int)rrange(0, NCLIENTS - 1));
			next_client += rrange(1, 8);
		}
		if (S->now < S->fault_end && S->now >= next_fault) {
			random_fault();
			next_fault = S->now + rrange(100, 900);
		}
		if (S->now >= S->fault_end && !heal_done) {
			trace("--- faults end: heal and restart everything");
			memset(S->blocked, 0, sizeof(S->blocked));
			for (int k = 0; k < S->n; k++) {
				S->s[k].slow_disk = false;
				if (!S->s[k].up)
					boot(&S->s[k]);
			}
			heal_done = S->now;
			progress_mark = (int64_t)S->commits;
		}
		switch (e.kind) {
		case EV_MSG:
			deliver(&e);
			break;
		case EV_LOGDONE: {
			struct srv *s = &S->s[e.a];
			if (!s->up || e.gen != s->gen) {
				break;
			}
			int64_t upto = -1;
			for (size_t k = 0; k < s->nlog && s->log[k].done_at <= S->now; k++) {
				if (!s->log[k].durable)
					upto = s->log[k].zxid;
				s->log[k].durable = true;
			}
			if (upto < 0)
				break; /* its batch was reported already */
			zab_logged(s->z, S->now, upto);
			s->core = zab_core(s->z);
			break;
		}
		case EV_CHDOWN: {
			struct srv *s = &S->s[e.b];
			if (s->up && e.gen == *pair_gen(e.a, e.b))
				zab_channel_down(s->z, S->now, S->s[e.a].id);
			if (s->up)
				s->core = zab_core(s->z);
			break;
		}
		case EV_TICK: {
			struct srv *s = &S->s[e.a];
			if (!s->up || e.gen != s->gen)
				break;
			zab_tick(s->z, S->now);
			s->core = zab_core(s->z);
			schedule_tick(s);
			break;
		}
		}
	}
	/* final checks */
	if (!S->fail) {
		if ((int64_t)S->commits <= progress_mark)
			failf("no progress after the faults healed (commits %" PRIu64 ")",
			      S->commits);
		for (int k = 0; k < NCLIENTS; k++)
			if (S->c[k].out && S->now - S->c[k].progress_at > 3000)
				failf("client %d: %d requests unanswered since t=%" PRId64, k,
				      S->c[k].out, S->c[k].progress_at);
		int64_t last = -1;
		int64_t d0 = 0;
		for (int k = 0; k < S->n && !S->fail; k++) {
			struct srv *s = &S->s[k];
			if (!s->serving) {
				failf("server %" PRId64 " is not serving at the end", s->id);
				break;
			}
			int64_t z = core_last_zxid(s->core);
			int64_t d;
			uint64_t sh;
			digest_of(s->core, &d, &sh);
			if (d != qc_tree_digest(s->core))
				failf("server %" PRId64 " ends with a kept digest that is not its tree's",
				      s->id);
			if (last == -1) {
				last = z;
				d0 = d;
			} else if (z != last || d != d0) {
				failf("server %" PRId64 " ends at 0x%" PRIx64 " (others 0x%" PRIx64 ")",
				      s->id, z, last);
			}
			for (size_t a = 0; a < S->nacked && !S->fail; a++) {
				struct zk_request rq;
				memset(&rq, 0, sizeof(rq));
				rq.type = ZOP_EXISTS;
				rq.op.path = S->acked[a].path;
				struct zk_response rs;
				memset(&rs, 0, sizeof(rs));
				core_read(s->core, 0, NULL, NULL, &rq, &rs);
				if (rs.err != 0)
					failf("server %" PRId64 " lost acked %s (zxid 0x%" PRIx64 ")",
					      s->id, S->acked[a].path, S->acked[a].zxid);
				zk_response_free(&rs);
			}
		}
	}
	int failed = S->fail != NULL;
	if (failed && verbose)
		for (int k = 0; k < NCLIENTS; k++)
			fprintf(stderr, "client %d: server %d session %" PRIx64 " outstanding %d\n", k,
				S->c[k].srv, S->c[k].session, S->c[k].out);
	if (failed)
		printf("# seed %" PRIu64 " FAILED at t=%" PRId64 ": %s\n# replay: zabsim --seed %" PRIu64
		       " -v\n",
		       seed, S->now, S->fail, seed);
	/* teardown */
	while (pop(&e)) {
		if (e.msg.snap)
			core_free(e.msg.snap);
		zmsg_free(&e.msg);
	}
	for (int k = 0; k < S->n; k++) {
		struct srv *s = &S->s[k];
		if (s->up) {
			zab_free(s->z);
			core_free(s->core);
		}
		for (size_t a = 0; a < s->nlog; a++)
			free(s->log[a].buf);
		free(s->log);
		free(s->snap);
	}
	free(S->heap);
	free(S->acked);
	free(S->digests);
	if (verbose)
		fprintf(stderr, "seed %" PRIu64 ": %d voters %d observers, %" PRIu64
				" commits, %zu acked creates\n",
			seed, voters, observers, sim.commits, sim.nacked);
	return failed;
}

int main(int argc, char **argv)
{
	uint64_t from = 1, n = 100;
	bool one = false, verbose = false, tap = false, wire = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seeds") && i + 1 < argc)
			n = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--from") && i + 1 < argc)
			from = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			from = strtoull(argv[++i], NULL, 10), one = true;
		else if (!strcmp(argv[i], "-v"))
			verbose = true;
		else if (!strcmp(argv[i], "--tap"))
			tap = true;
		else if (!strcmp(argv[i], "--wire"))
			wire = true;
		else {
			fprintf(stderr, "usage: zabsim [--seeds N] [--from S] [--seed S] [-v] [--tap] [--wire]\n");
			return 2;
		}
	}
	if (one)
		n = 1;
	if (tap)
		printf("1..%" PRIu64 "\n", n);
	uint64_t bad = 0;
	for (uint64_t k = 0; k < n; k++) {
		int f = run_seed(from + k, verbose, wire);
		bad += (uint64_t)f;
		if (tap)
			printf("%sok %" PRIu64 " - seed %" PRIu64 "%s\n", f ? "not " : "", k + 1,
			       from + k, wire ? " (wire codec)" : "");
	}
	printf("# %" PRIu64 " seeds, %" PRIu64 " failed\n", n, bad);
	return bad ? 1 : 0;
}
