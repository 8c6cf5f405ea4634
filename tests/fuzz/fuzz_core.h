/*
 * fuzz_core.h — the engine shared by the core's fuzz harness
 * (tests/fuzz/fuzz_core.c, libFuzzer) and its deterministic unit test
 * (tests/unit/test_core_fuzz.c).  It turns an arbitrary byte string into a
 * run of the server's request path against the pure core and checks that
 * the core's promises hold while it does:
 *
 *   - every byte string decodes with zk_request_get or is refused, without
 *     touching memory it must not (the sanitizers watch);
 *   - decoded writes go core_prep → core_txn_encode → decode → core_apply
 *     on core A, and the decoded bytes alone are applied on core B (a
 *     follower/log replay): both must answer the same reply bytes, fire the
 *     same notifications and end with the same state;
 *   - reads are served by both cores (with mirrored watchers) and must
 *     answer the same bytes;
 *   - a snapshot of A loaded into a fresh core C equals A, and so does C
 *     after replaying (again) txns the snapshot already contains, as after
 *     a fuzzy snapshot.
 *
 * Several sessions, connection identities (ip, digests, super, identities
 * added from the input), a fake clock with session expiry and container/
 * TTL reaping, several prepared-but-unapplied txns and prep resets are
 * driven from the input too.  Header-only (static functions): the includer
 * may define FZ_FAIL(msg) before including to report a broken promise its
 * own way (default: print and abort, which is what libFuzzer wants).
 */
#ifndef ZKFS_TESTS_FUZZ_CORE_H
#define ZKFS_TESTS_FUZZ_CORE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "jute.h"
#include "records.h"
#include "zk.h"

#ifndef FZ_FAIL
#define FZ_FAIL(msg)                                                                               \
	do {                                                                                       \
		fprintf(stderr, "fuzz_core: %s\n", (msg));                                         \
		abort();                                                                           \
	} while (0)
#endif

#define FZ_CHECK(cond, what)                                                                       \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			char fz_msg_[256];                                                         \
			snprintf(fz_msg_, sizeof(fz_msg_), "%s:%d: %s (%s)", __FILE__, __LINE__,   \
				 (what), #cond);                                                   \
			FZ_FAIL(fz_msg_);                                                          \
		}                                                                                  \
	} while (0)

enum {
	FZ_NWATCHER = 4,
	FZ_NAUTH = 4,
	FZ_NSESS = 6,
	FZ_NPEND = 8,
	FZ_NLOG = 48,
};

/* "super:pw", as the super digest the cores are configured with. */
#define FZ_SUPER_DIGEST "super:0bX78nEegDzJM3ju0iLBEJdWzjg="

/* One core and what the harness mirrors for it. */
struct fz_side {
	struct core *c;
	struct core_watcher w[FZ_NWATCHER];
	uint64_t ev_hash; /* fold of every notification, in order */
	uint64_t nev;
};

struct fz_pending {
	struct core_txn *t;
	int32_t req_type; /* reply body type (the request's opcode) */
};

struct fz_logent {
	uint8_t *buf;
	size_t len;
};

struct fz_recs {
	struct fz_logent *v;
	size_t n, cap;
};

struct fz {
	const uint8_t *p; /* input left */
	size_t n;
	int64_t now;
	struct fz_side a, b;
	struct core_auth auth[FZ_NAUTH];
	int64_t sids[FZ_NSESS];
	int nsids;
	struct fz_pending pend[FZ_NPEND];
	int npend;
	struct fz_logent log[FZ_NLOG]; /* ring of the last applied txns' bytes */
	int nlog, log_head;
	uint64_t log_total;    /* txns ever logged: the ring holds [total - nlog, total) */
	struct fz_recs *saved; /* an older snapshot of A, taken when log_total was saved_at */
	uint64_t saved_at;
	int64_t expired[16];
	int nexpired;
	char reap[8][64];
	int nreap;
	/* a fuzzy snapshot of A taken in steps while txns are applied */
	struct core_snap *fsnap;
	struct fz_recs *frecs;
	uint64_t fsnap_at; /* log_total when it began: the first txn after its tag */
	bool fsnap_done;
	struct fz_stats *st;
	int checks_left; /* snapshot/replay checks still allowed: each walks the
			    tree, and an input of nothing else must not take
			    seconds */
};

/* What a run did, summed over runs by the caller. */
struct fz_stats {
	uint64_t requests, txns, txns_ok, reads_ok, events, snapshots, replays, max_nodes;
	uint64_t fuzzy; /* stepped snapshots checked (loaded + replayed = A) */
	uint64_t errs[160][2]; /* txn replies by -err and request type != createSession */
};

/* ------------------------------------------------------------------ input */

static uint8_t fz_u8(struct fz *f)
{
	if (!f->n)
		return 0;
	f->n--;
	return *f->p++;
}

static uint32_t fz_u32(struct fz *f)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v = v << 8 | fz_u8(f);
	return v;
}

/* ------------------------------------------------------------------ hooks */

static uint64_t fz_hash_str(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

static void fz_notify(void *arg, struct core_watcher *w, int32_t type, const char *path,
		      int64_t zxid)
{
	struct fz_side *s = arg;
	long idx = w - s->w;
	FZ_CHECK(idx >= 0 && idx < FZ_NWATCHER, "notification for a watcher the harness has not");
	uint64_t h = s->ev_hash * 31 + (uint64_t)idx;
	h = h * 31 + (uint64_t)(uint32_t)type;
	h = h * 31 + (uint64_t)zxid;
	s->ev_hash = fz_hash_str(h, path);
	s->nev++;
}

static void fz_notify_none(void *arg, struct core_watcher *w, int32_t type, const char *path,
			   int64_t zxid)
{
	(void)arg, (void)w, (void)type, (void)path, (void)zxid;
	FZ_FAIL("a core without watchers fired a watch");
}

static struct core *fz_core_new(void (*notify)(void *, struct core_watcher *, int32_t, const char *,
					       int64_t),
				void *arg)
{
	struct core_config cfg = {0};
	cfg.tick_ms = 2000;
	cfg.ttl_enabled = true;
	cfg.super_digest = FZ_SUPER_DIGEST;
	cfg.now_ms = 1000000;
	cfg.hooks.notify = notify;
	cfg.hooks.arg = arg;
	struct core *c = core_new(&cfg);
	FZ_CHECK(c != NULL, "core_new");
	return c;
}

/* ------------------------------------------------------------------ state comparison */

static int fz_rec_emit(void *arg, const void *rec, size_t len)
{
	struct fz_recs *r = arg;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->v = realloc(r->v, r->cap * sizeof(*r->v));
		FZ_CHECK(r->v != NULL, "out of memory");
	}
	r->v[r->n].buf = malloc(len ? len : 1);
	FZ_CHECK(r->v[r->n].buf != NULL, "out of memory");
	memcpy(r->v[r->n].buf, rec, len);
	r->v[r->n].len = len;
	r->n++;
	return 0;
}

static void fz_recs_free(struct fz_recs *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].buf);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static int fz_rec_cmp(const void *x, const void *y)
{
	const struct fz_logent *a = x, *b = y;
	size_t m = a->len < b->len ? a->len : b->len;
	int d = memcmp(a->buf, b->buf, m);
	if (d)
		return d;
	return a->len < b->len ? -1 : a->len > b->len;
}

static uint32_t fz_load32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Record kinds of the core's snapshot format (server/core.c): 2 = ACL
 * (idx, refs, acl vector), 4 = node (path, data, acl idx, ...). */
enum { FZ_SNAP_ACL = 2, FZ_SNAP_NODE = 4 };

/* Replaces ACL slot numbers by the ACLs themselves: which slot an ACL gets
 * depends on history (a recovered core interns in another order), the
 * state does not. */
static void fz_canon_acls(struct fz_recs *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct fz_logent *a = &r->v[i];
		if (a->len < 16 || fz_load32(a->buf) != FZ_SNAP_ACL)
			continue;
		uint32_t idx = fz_load32(a->buf + 4);
		for (size_t j = 0; j < r->n; j++) {
			struct fz_logent *n = &r->v[j];
			if (n->len < 12 || fz_load32(n->buf) != FZ_SNAP_NODE)
				continue;
			size_t off = 4 + 4 + fz_load32(n->buf + 4); /* path */
			FZ_CHECK(off + 8 <= n->len, "snapshot node record");
			int32_t dlen = (int32_t)fz_load32(n->buf + off);
			off += 4 + (dlen > 0 ? (size_t)dlen : 0);
			FZ_CHECK(off + 4 <= n->len, "snapshot node record");
			if (fz_load32(n->buf + off) != idx || n->buf[off] == 0xff)
				continue;
			/* splice the vector (after kind, idx, refs) in place of idx,
			 * marked with a 0xff byte so it is not matched again */
			size_t vlen = a->len - 16;
			uint8_t *b = malloc(n->len - 4 + 1 + vlen);
			FZ_CHECK(b != NULL, "out of memory");
			memcpy(b, n->buf, off);
			b[off] = 0xff;
			memcpy(b + off + 1, a->buf + 16, vlen);
			memcpy(b + off + 1 + vlen, n->buf + off + 4, n->len - off - 4);
			free(n->buf);
			n->buf = b;
			n->len = n->len - 4 + 1 + vlen;
		}
		memset(a->buf + 4, 0, 4); /* the ACL record itself: slot dropped */
	}
}

/* The snapshot of c as a sorted list of records: the state independent of
 * hash-table iteration order and ACL slot numbers. */
static void fz_canon(const struct core *c, struct fz_recs *r)
{
	memset(r, 0, sizeof(*r));
	FZ_CHECK(core_snapshot_write(c, fz_rec_emit, r) == 0, "core_snapshot_write");
	fz_canon_acls(r);
	qsort(r->v, r->n, sizeof(*r->v), fz_rec_cmp);
}

static void fz_same_state(const struct core *x, const struct core *y, bool same_watches,
			  const char *what)
{
	struct core_stats sx, sy;
	core_get_stats(x, &sx);
	core_get_stats(y, &sy);
	FZ_CHECK(sx.nodes == sy.nodes, what);
	FZ_CHECK(sx.ephemerals == sy.ephemerals, what);
	FZ_CHECK(sx.data_size == sy.data_size, what);
	FZ_CHECK(sx.sessions == sy.sessions, what);
	FZ_CHECK(sx.last_zxid == sy.last_zxid, what);
	if (same_watches) {
		FZ_CHECK(sx.watches == sy.watches, what);
		FZ_CHECK(sx.watch_paths == sy.watch_paths, what);
		FZ_CHECK(sx.watchers == sy.watchers, what);
	}
	struct fz_recs rx, ry;
	fz_canon(x, &rx);
	fz_canon(y, &ry);
	for (size_t i = 0; i < rx.n || i < ry.n; i++) {
		if (i < rx.n && i < ry.n && !fz_rec_cmp(&rx.v[i], &ry.v[i]))
			continue;
		/* show the first difference: a failing seed then explains itself */
		for (int k = 0; k < 2; k++) {
			const struct fz_recs *r = k ? &ry : &rx;
			fprintf(stderr, "fuzz_core: %s record %zu:", k ? "second" : "first", i);
			for (size_t j = 0; i < r->n && j < r->v[i].len; j++)
				fprintf(stderr, "%s%02x", j % 4 ? "" : " ", r->v[i].buf[j]);
			fprintf(stderr, "\n");
		}
		FZ_CHECK(rx.n == ry.n && !fz_rec_cmp(&rx.v[i], &ry.v[i]), what);
	}
	fz_recs_free(&rx);
	fz_recs_free(&ry);
}

/* Loads snapshot records into a fresh core. */
static struct core *fz_load(const struct fz_recs *rs)
{
	const struct fz_recs r = *rs;
	struct core *n = fz_core_new(fz_notify_none, NULL);
	int rc = 0;
	for (size_t i = 0; i < r.n; i++) {
		FZ_CHECK(rc == 0, "snapshot record after the end record");
		rc = core_snapshot_load(n, r.v[i].buf, r.v[i].len);
		FZ_CHECK(rc >= 0, "core_snapshot_load refused its own snapshot");
	}
	FZ_CHECK(rc == 1, "snapshot without end record");
	return n;
}

/* Loads c's snapshot into a fresh core. */
static struct core *fz_reload(const struct core *c)
{
	struct fz_recs r = {0};
	FZ_CHECK(core_snapshot_write(c, fz_rec_emit, &r) == 0, "core_snapshot_write");
	struct core *n = fz_load(&r);
	fz_recs_free(&r);
	return n;
}

/* ------------------------------------------------------------------ replies */

static void fz_same_reply(int32_t type, struct zk_response *x, struct zk_response *y,
			  const char *what)
{
	struct jute_out ox, oy;
	jute_out_init(&ox);
	jute_out_init(&oy);
	x->xid = y->xid = 1;
	zk_response_put(&ox, type, x);
	zk_response_put(&oy, type, y);
	FZ_CHECK(ox.err == 0 && oy.err == 0, "zk_response_put");
	FZ_CHECK(ox.len == oy.len && !memcmp(ox.buf, oy.buf, ox.len), what);
	jute_out_free(&ox);
	jute_out_free(&oy);
}

/* ------------------------------------------------------------------ writes */

static void fz_log_add(struct fz *f, const uint8_t *buf, size_t len)
{
	int i = (f->log_head + f->nlog) % FZ_NLOG;
	if (f->nlog == FZ_NLOG) {
		free(f->log[f->log_head].buf);
		f->log_head = (f->log_head + 1) % FZ_NLOG;
		i = (f->log_head + f->nlog - 1) % FZ_NLOG;
	} else {
		f->nlog++;
	}
	f->log[i].buf = malloc(len);
	FZ_CHECK(f->log[i].buf != NULL, "out of memory");
	memcpy(f->log[i].buf, buf, len);
	f->log[i].len = len;
	f->log_total++;
}

/* Commits the oldest prepared txn on both cores. */
static void fz_apply_oldest(struct fz *f)
{
	if (!f->npend)
		return;
	struct fz_pending pd = f->pend[0];
	memmove(f->pend, f->pend + 1, (size_t)(f->npend - 1) * sizeof(*f->pend));
	f->npend--;

	struct jute_out o, o2;
	jute_out_init(&o);
	jute_out_init(&o2);
	core_txn_encode(pd.t, &o);
	FZ_CHECK(o.err == 0, "core_txn_encode");
	struct core_txn *d = NULL;
	FZ_CHECK(core_txn_decode(o.buf, o.len, &d) == 0, "core_txn_decode of an encoded txn");
	FZ_CHECK(core_txn_zxid(d) == core_txn_zxid(pd.t), "txn zxid round trip");
	FZ_CHECK(core_txn_type(d) == core_txn_type(pd.t), "txn type round trip");
	FZ_CHECK(core_txn_session(d) == core_txn_session(pd.t), "txn session round trip");
	FZ_CHECK(core_txn_err(d) == core_txn_err(pd.t), "txn err round trip");
	core_txn_encode(d, &o2);
	FZ_CHECK(o2.len == o.len && !memcmp(o.buf, o2.buf, o.len), "txn re-encoding differs");

	/* a truncated record must be refused, never half-read */
	if (o.len > 1) {
		struct core_txn *bad = NULL;
		int rc = core_txn_decode(o.buf, o.len - 1 - (o.len > 8 ? o.buf[o.len / 2] % 8 : 0),
					 &bad);
		if (rc == 0)
			core_txn_free(bad);
	}

	struct zk_response ra = {0}, rb = {0};
	core_apply(f->a.c, pd.t, &ra);
	core_apply(f->b.c, d, &rb);
	fz_same_reply(pd.req_type, &ra, &rb, "leader and follower answer a txn differently");
	FZ_CHECK(f->a.ev_hash == f->b.ev_hash && f->a.nev == f->b.nev,
		 "leader and follower fired different watches");
	f->st->txns++;
	f->st->txns_ok += ra.err == 0;
	if (ra.err <= 0 && ra.err > -160)
		f->st->errs[-ra.err][pd.req_type != ZOP_CREATESESSION]++;
	if (pd.req_type == ZOP_CREATESESSION && ra.err == 0) {
		/* keep up to FZ_NSESS sessions, replacing dead ones */
		int slot = f->nsids < FZ_NSESS ? f->nsids++ : -1;
		for (int i = 0; slot < 0 && i < f->nsids; i++)
			if (!core_session_live(f->a.c, f->sids[i]))
				slot = i;
		if (slot >= 0)
			f->sids[slot] = core_txn_session(pd.t);
	}
	zk_response_free(&ra);
	zk_response_free(&rb);
	fz_log_add(f, o.buf, o.len);
	if (f->fsnap && !f->fsnap_done) {
		int rc = core_snapshot_step(f->fsnap, fz_u8(f) % 4);
		FZ_CHECK(rc >= 0, "core_snapshot_step");
		f->fsnap_done = rc == 1;
	}
	core_txn_free(d);
	core_txn_free(pd.t);
	jute_out_free(&o);
	jute_out_free(&o2);
}

static void fz_apply_all(struct fz *f)
{
	while (f->npend)
		fz_apply_oldest(f);
}

static void fz_push(struct fz *f, struct core_txn *t, int32_t req_type)
{
	if (f->npend == FZ_NPEND)
		fz_apply_oldest(f);
	f->pend[f->npend].t = t;
	f->pend[f->npend].req_type = req_type;
	f->npend++;
	FZ_CHECK(core_outstanding(f->a.c) == (uint32_t)f->npend, "outstanding count");
	/* mostly commit at once, sometimes let a few pile up */
	if (fz_u8(f) < 160)
		while (f->npend)
			fz_apply_oldest(f);
}

static void fz_create_session(struct fz *f)
{
	int32_t to = (int32_t)(fz_u8(f) * 200);
	int64_t sid;
	int32_t nto;
	struct core_txn *t;
	FZ_CHECK(core_prep_create_session(f->a.c, to, f->now, &sid, &nto, &t) == 0,
		 "core_prep_create_session");
	FZ_CHECK(nto == core_session_clamp(f->a.c, to), "negotiated timeout");
	uint8_t pw[16];
	int32_t vto;
	core_session_password(f->a.c, sid, pw);
	FZ_CHECK(core_session_validate(f->a.c, sid, pw, &vto) == 0 && vto == nto,
		 "a pending session does not validate");
	pw[0] ^= 1;
	FZ_CHECK(core_session_validate(f->a.c, sid, pw, &vto) == -EACCES, "bad password accepted");
	fz_push(f, t, ZOP_CREATESESSION);
}

/* ------------------------------------------------------------------ requests */

static const char *const fz_paths[] = {
    "/",
    "",
    "/a",
    "/a/b",
    "/a/b/c",
    "/b",
    "/b/x",
    "/c",
    "/e",
    "/e/1",
    "/a/s-",
    "/zookeeper",
    "/zookeeper/config",
    "/zookeeper/quota",
    "/a/",
    "//a",
    "/a/./b",
    "/t",
    "/t/ttl",
    "a",
    "/c/k",
    "/b/x/y",
};
#define FZ_NPATHS (sizeof(fz_paths) / sizeof(fz_paths[0]))

static char *fz_path(struct fz *f, char *buf, size_t cap)
{
	uint8_t k = fz_u8(f);
	if (k < 176 || cap < 16)
		return (char *)fz_paths[k % FZ_NPATHS];
	if (k < 240) {
		/* /d, /d/xN, /d/xN/xM, ...: a wider tree, so tables grow */
		int depth = k % 4, at = snprintf(buf, cap, "/d");
		for (int i = 0; i < depth; i++)
			at += snprintf(buf + at, cap - (size_t)at, "/x%d", fz_u8(f) % 6);
		return buf;
	}
	/* a few raw bytes, NULs and non-UTF-8 included */
	size_t len = fz_u8(f) % (cap - 1);
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)fz_u8(f);
	buf[len] = 0;
	return buf;
}

static struct zk_acl fz_acl_pool[] = {
    {ZK_PERM_ALL, {(char *)"world", (char *)"anyone"}},
    {ZK_PERM_READ, {(char *)"world", (char *)"anyone"}},
    {ZK_PERM_ALL, {(char *)"digest", (char *)"alice:6Pq7fdd3xjDgTUeEiJKeB2eROIM="}},
    {ZK_PERM_ALL, {(char *)"auth", (char *)""}},
    {ZK_PERM_ALL, {(char *)"ip", (char *)"127.0.0.1"}},
    {ZK_PERM_ALL, {(char *)"ip", (char *)"10.0.0.0/8"}},
    {ZK_PERM_CREATE | ZK_PERM_DELETE, {(char *)"world", (char *)"anyone"}},
    {64, {(char *)"world", (char *)"anyone"}},
    {ZK_PERM_ALL, {(char *)"nosuch", (char *)"x"}},
    {ZK_PERM_ALL, {(char *)"super", (char *)""}},
};
#define FZ_NACLS (sizeof(fz_acl_pool) / sizeof(fz_acl_pool[0]))

/* Fills op (pointing into f's buffers: not to be freed). */
static void fz_op(struct fz *f, int32_t type, struct zk_op *op, char *pbuf, uint8_t *dbuf,
		  struct zk_acl *acl)
{
	memset(op, 0, sizeof(*op));
	op->type = type;
	op->path = fz_path(f, pbuf, 64);
	uint8_t k = fz_u8(f);
	if (k < 16) {
		op->data = NULL;
		op->data_len = -1;
	} else {
		op->data_len = k % 24;
		for (int i = 0; i < op->data_len; i++)
			dbuf[i] = fz_u8(f);
		op->data = dbuf;
	}
	/* mostly open ACLs and plain nodes, so trees grow */
	k = fz_u8(f);
	op->acl.n = k < 200 ? 1 : k % 3;
	for (int i = 0; i < op->acl.n; i++) {
		k = fz_u8(f);
		acl[i] = fz_acl_pool[k < 160 ? 0 : k % FZ_NACLS];
	}
	op->acl.v = acl;
	k = fz_u8(f);
	op->flags = k < 100 ? 0 : k < 250 ? k % 8 : (int32_t)fz_u32(f);
	k = fz_u8(f);
	op->version = k < 128 ? -1 : k < 250 ? k % 4 : (int32_t)fz_u32(f);
	k = fz_u8(f);
	op->ttl = k < 200 ? (int64_t)k * 50 : k < 250 ? 0 : (int64_t)fz_u32(f) << (k % 16);
	op->watch = fz_u8(f) & 1;
	op->mode = fz_u8(f) % 5 - (fz_u8(f) == 255);
}

static const int32_t fz_ops[] = {
    ZOP_CREATE,
    ZOP_DELETE,
    ZOP_EXISTS,
    ZOP_GETDATA,
    ZOP_SETDATA,
    ZOP_GETACL,
    ZOP_SETACL,
    ZOP_GETCHILDREN,
    ZOP_SYNC,
    ZOP_PING,
    ZOP_GETCHILDREN2,
    ZOP_CHECK,
    ZOP_MULTI,
    ZOP_CREATE2,
    ZOP_CHECKWATCHES,
    ZOP_REMOVEWATCHES,
    ZOP_CREATECONTAINER,
    ZOP_DELETECONTAINER,
    ZOP_CREATETTL,
    ZOP_MULTIREAD,
    ZOP_SETWATCHES,
    ZOP_GETEPHEMERALS,
    ZOP_GETALLCHILDRENNUMBER,
    ZOP_SETWATCHES2,
    ZOP_ADDWATCH,
    ZOP_WHOAMI,
    ZOP_CLOSESESSION,
    ZOP_CREATE,
    ZOP_SETDATA,
    ZOP_DELETE,
    ZOP_MULTI,
    ZOP_RECONFIG,
    ZOP_CREATE,
    ZOP_CREATE,
    ZOP_CREATE2,
    ZOP_CREATE,
};
#define FZ_NOPS (sizeof(fz_ops) / sizeof(fz_ops[0]))

/* Builds one request frame body (no length prefix) in o: well-formed
 * through zk_request_put, then perhaps damaged. */
static void fz_frame(struct fz *f, struct jute_out *o)
{
	struct zk_request r;
	memset(&r, 0, sizeof(r));
	char pbuf[5][64];
	uint8_t dbuf[5][24];
	struct zk_acl acl[5][2];
	struct zk_op ops[4];
	char *sw[ZK_SW_COUNT][2];

	r.xid = (int32_t)fz_u8(f);
	r.type = fz_ops[fz_u8(f) % FZ_NOPS];
	fz_op(f, r.type, &r.op, pbuf[4], dbuf[4], acl[4]);
	if (r.type == ZOP_MULTI || r.type == ZOP_MULTIREAD) {
		static const int32_t mt[] = {ZOP_CREATE,  ZOP_DELETE,	 ZOP_SETDATA,
					     ZOP_CHECK,	  ZOP_GETDATA,	 ZOP_GETCHILDREN,
					     ZOP_CREATE2, ZOP_CREATETTL, ZOP_CREATECONTAINER};
		r.nops = fz_u8(f) % 5;
		for (int i = 0; i < r.nops; i++)
			fz_op(f, mt[fz_u8(f) % (sizeof(mt) / sizeof(mt[0]))], &ops[i], pbuf[i],
			      dbuf[i], acl[i]);
		r.ops = ops;
	}
	if (r.type == ZOP_SETWATCHES || r.type == ZOP_SETWATCHES2) {
		r.rel_zxid = fz_u8(f);
		for (int k = 0; k < ZK_SW_COUNT; k++) {
			r.watches[k].n = fz_u8(f) % 3;
			for (int i = 0; i < r.watches[k].n; i++)
				sw[k][i] = (char *)fz_paths[fz_u8(f) % FZ_NPATHS];
			r.watches[k].v = sw[k];
		}
	}
	jute_out_reset(o);
	zk_request_put(o, &r);
	FZ_CHECK(o->err == 0 && o->len >= 4, "zk_request_put");
	memmove(o->buf, o->buf + 4, o->len - 4);
	o->len -= 4;
	/* damage: flip a byte, or cut the frame short */
	uint8_t k = fz_u8(f);
	if (k >= 240 && o->len) {
		o->buf[fz_u8(f) % o->len] ^= (uint8_t)(1u << (fz_u8(f) % 8));
	} else if (k >= 232 && o->len) {
		o->len = fz_u8(f) % o->len;
	}
}

/* A frame body copied straight from the input. */
static void fz_raw_frame(struct fz *f, struct jute_out *o)
{
	size_t len = fz_u8(f);
	if (len > f->n)
		len = f->n;
	jute_out_reset(o);
	jute_put_raw(o, f->p, len);
	f->p += len;
	f->n -= len;
}

static int64_t fz_pick_session(struct fz *f)
{
	uint8_t k = fz_u8(f);
	if (k >= 250 || !f->nsids)
		return k == 255 ? 0 : (int64_t)0x7e00000000001234LL; /* the server / unknown */
	return f->sids[k % f->nsids];
}

/* Decodes a frame and runs it the way the edge would. */
static void fz_request(struct fz *f, const struct jute_out *frame)
{
	struct zk_request r;
	memset(&r, 0, sizeof(r));
	int rc = zk_request_get(frame->buf, frame->len, &r);
	if (rc) {
		zk_request_free(&r);
		return;
	}
	f->st->requests++;
	int64_t sid = fz_pick_session(f);
	const struct core_auth *auth = &f->auth[fz_u8(f) % FZ_NAUTH];
	int wi = fz_u8(f) % FZ_NWATCHER;
	if (sid)
		(void)core_session_touch(f->a.c, sid, f->now);
	if (r.type == ZOP_CREATESESSION) {
		fz_create_session(f);
	} else if (core_is_write(r.type)) {
		struct core_txn *t = NULL;
		rc = core_prep(f->a.c, sid, auth, &r, f->now, &t);
		FZ_CHECK(rc == 0 || rc == -EINVAL, "core_prep result");
		if (rc == 0)
			fz_push(f, t, r.type);
	} else {
		struct zk_response ra = {0}, rb = {0};
		rc = core_read(f->a.c, sid, auth, &f->a.w[wi], &r, &ra);
		int rc2 = core_read(f->b.c, sid, auth, &f->b.w[wi], &r, &rb);
		FZ_CHECK(rc == 0 || rc == -EINVAL, "core_read result");
		FZ_CHECK(rc == rc2, "leader and follower disagree on a read");
		if (rc == 0)
			fz_same_reply(r.type, &ra, &rb, "leader and follower read differently");
		f->st->reads_ok += rc == 0 && ra.err == 0;
		FZ_CHECK(f->a.ev_hash == f->b.ev_hash && f->a.nev == f->b.nev,
			 "setWatches replayed different events");
		zk_response_free(&ra);
		zk_response_free(&rb);
	}
	zk_request_free(&r);
}

/* Many creates (and then deletes) prepared before any is applied: grows
 * the tree's and the change records' hash tables and the snapshot. */
static void fz_burst(struct fz *f)
{
	if (fz_u8(f) >= 64)
		return;
	int n = 8 + fz_u8(f) % 120;
	bool del = fz_u8(f) & 1;
	int64_t sid = fz_pick_session(f);
	static struct zk_acl open_acl = {ZK_PERM_ALL, {(char *)"world", (char *)"anyone"}};
	char path[32];
	for (int pass = 0; pass < (del ? 2 : 1); pass++) {
		for (int i = 0; i < n; i++) {
			struct zk_request r;
			memset(&r, 0, sizeof(r));
			snprintf(path, sizeof(path), i % 7 ? "/w%d" : "/w%d-", i);
			r.type = pass ? ZOP_DELETE : ZOP_CREATE;
			r.op.type = r.type;
			r.op.path = path;
			r.op.data_len = -1;
			r.op.acl.n = 1;
			r.op.acl.v = &open_acl;
			r.op.flags = pass ? 0 : (i % 7 ? (i % 3 == 0) : ZK_PERSISTENT_SEQUENTIAL);
			r.op.version = -1;
			struct core_txn *t;
			FZ_CHECK(core_prep(f->a.c, sid, &f->auth[0], &r, f->now, &t) == 0,
				 "burst prep");
			if (f->npend == FZ_NPEND)
				fz_apply_oldest(f);
			f->pend[f->npend].t = t;
			f->pend[f->npend].req_type = r.type;
			f->npend++;
		}
		fz_apply_all(f);
	}
}

/* ------------------------------------------------------------------ time */

static void fz_on_expired(void *arg, int64_t sid)
{
	struct fz *f = arg;
	if (f->nexpired < 16)
		f->expired[f->nexpired++] = sid;
}

static void fz_on_reap(void *arg, const char *path)
{
	struct fz *f = arg;
	if (f->nreap < 8 && strlen(path) < sizeof(f->reap[0]))
		snprintf(f->reap[f->nreap++], sizeof(f->reap[0]), "%s", path);
}

static void fz_tick(struct fz *f)
{
	uint8_t k = fz_u8(f);
	f->now += k < 224 ? k * 4 : (k - 223) * 1000; /* mostly short steps */
	f->nexpired = 0;
	int n = core_session_expired(f->a.c, f->now, fz_on_expired, f);
	FZ_CHECK(n >= f->nexpired, "expired count");
	for (int i = 0; i < f->nexpired; i++) {
		FZ_CHECK(!core_session_live(f->a.c, f->expired[i]), "expired session still live");
		struct core_txn *t;
		FZ_CHECK(core_prep_close_session(f->a.c, f->expired[i], f->now, &t) == 0,
			 "core_prep_close_session");
		fz_push(f, t, ZOP_CLOSESESSION);
	}
	f->nreap = 0;
	(void)core_reap(f->a.c, f->now, fz_on_reap, f);
	for (int i = 0; i < f->nreap; i++) {
		struct core_txn *t;
		FZ_CHECK(core_prep_delete_container(f->a.c, f->reap[i], f->now, &t) == 0,
			 "core_prep_delete_container");
		fz_push(f, t, ZOP_DELETECONTAINER);
	}
}

/* ------------------------------------------------------------------ checks */

/* Throws the prepared txns away, as after a failed log write. */
static void fz_reset(struct fz *f)
{
	/* sessions whose close was thrown away stay closing: like the edge,
	 * submit their close again */
	int64_t closing[FZ_NPEND];
	int nclosing = 0;
	for (int i = 0; i < f->npend; i++) {
		if (core_txn_type(f->pend[i].t) == ZOP_CLOSESESSION)
			closing[nclosing++] = core_txn_session(f->pend[i].t);
		core_txn_free(f->pend[i].t);
	}
	f->npend = 0;
	core_prep_reset(f->a.c);
	FZ_CHECK(core_outstanding(f->a.c) == 0, "outstanding after reset");
	for (int i = 0; i < nclosing; i++) {
		struct core_txn *t;
		FZ_CHECK(core_prep_close_session(f->a.c, closing[i], f->now, &t) == 0,
			 "core_prep_close_session");
		fz_push(f, t, ZOP_CLOSESESSION);
	}
}

static void fz_check_snapshot(struct fz *f)
{
	f->st->snapshots++;
	fz_same_state(f->a.c, f->b.c, true, "leader and follower states differ");
	struct core *c = fz_reload(f->a.c);
	fz_same_state(f->a.c, c, false, "snapshot load differs from the snapshotted core");
	core_free(c);
}

/* Loads A's snapshot and replays the last k logged txns on top (already
 * contained in it), as recovery from a fuzzy snapshot does. */
static void fz_check_replay(struct fz *f)
{
	if (f->npend)
		return; /* A's snapshot must hold everything logged */
	f->st->replays++;
	struct core *c = fz_reload(f->a.c);
	int k = f->nlog ? fz_u8(f) % (f->nlog + 1) : 0;
	for (int i = f->nlog - k; i < f->nlog; i++) {
		const struct fz_logent *e = &f->log[(f->log_head + i) % FZ_NLOG];
		struct core_txn *t;
		FZ_CHECK(core_txn_decode(e->buf, e->len, &t) == 0, "decode of a logged txn");
		core_apply(c, t, NULL);
		core_txn_free(t);
	}
	fz_same_state(f->a.c, c, false, "replay over a snapshot that holds it differs");
	core_free(c);
}

/* Applies to c the logged txns from number `from` (still in the ring) on. */
static void fz_replay_from(struct fz *f, struct core *c, uint64_t from)
{
	uint64_t oldest = f->log_total - (uint64_t)f->nlog;
	for (uint64_t i = from; i < f->log_total; i++) {
		const struct fz_logent *e = &f->log[(f->log_head + (int)(i - oldest)) % FZ_NLOG];
		struct core_txn *t;
		FZ_CHECK(core_txn_decode(e->buf, e->len, &t) == 0, "decode of a logged txn");
		core_apply(c, t, NULL);
		core_txn_free(t);
	}
}

/* Recovery proper: the snapshot saved earlier plus the log from (a little
 * before) the point it was taken must give A's state; then saves a new one. */
static void fz_check_recovery(struct fz *f)
{
	if (f->npend)
		return;
	uint64_t oldest = f->log_total - (uint64_t)f->nlog;
	if (f->saved && f->saved_at >= oldest) {
		f->st->replays++;
		struct core *c = fz_load(f->saved);
		/* start up to 3 txns early: the snapshot may already hold them */
		uint64_t from = f->saved_at - (fz_u8(f) % 4);
		if (from < oldest)
			from = oldest;
		fz_replay_from(f, c, from);
		fz_same_state(f->a.c, c, false, "snapshot + log recovery differs");
		core_free(c);
	}
	if (f->saved)
		fz_recs_free(f->saved);
	else
		f->saved = calloc(1, sizeof(*f->saved));
	FZ_CHECK(f->saved != NULL, "out of memory");
	FZ_CHECK(core_snapshot_write(f->a.c, fz_rec_emit, f->saved) == 0, "core_snapshot_write");
	f->saved_at = f->log_total;
}

/* Starts a stepped (fuzzy) snapshot of A; it advances a few nodes after
 * every applied txn. */
static void fz_fuzzy_begin(struct fz *f)
{
	if (f->fsnap)
		return;
	f->frecs = calloc(1, sizeof(*f->frecs));
	FZ_CHECK(f->frecs != NULL, "out of memory");
	FZ_CHECK(core_snapshot_begin(f->a.c, fz_rec_emit, f->frecs, &f->fsnap) == 0,
		 "core_snapshot_begin");
	FZ_CHECK(core_snapshot_zxid(f->fsnap) == core_last_zxid(f->a.c), "fuzzy snapshot tag");
	f->fsnap_at = f->log_total;
	f->fsnap_done = false;
}

/* Once the fuzzy snapshot is complete and nothing is pending: loading it
 * and replaying every txn after its tag must give A's state, as recovery
 * does.  finish: complete it first (end of a run). */
static void fz_fuzzy_check(struct fz *f, bool finish)
{
	if (!f->fsnap)
		return;
	while (finish && !f->fsnap_done) {
		int rc = core_snapshot_step(f->fsnap, 1);
		FZ_CHECK(rc >= 0, "core_snapshot_step");
		f->fsnap_done = rc == 1;
	}
	if (!f->fsnap_done || f->npend)
		return;
	core_snapshot_end(f->fsnap);
	f->fsnap = NULL;
	uint64_t oldest = f->log_total - (uint64_t)f->nlog;
	if (f->fsnap_at >= oldest) { /* the ring still holds every txn after the tag */
		f->st->fuzzy++;
		struct core *c = fz_load(f->frecs);
		fz_replay_from(f, c, f->fsnap_at);
		core_session_restart_tracking(c, f->now);
		fz_same_state(f->a.c, c, false, "fuzzy snapshot + log recovery differs");
		struct core_stats sa, sc;
		core_get_stats(f->a.c, &sa);
		core_get_stats(c, &sc);
		FZ_CHECK(sa.ephemerals == sc.ephemerals, "fuzzy recovery lost session links");
		core_free(c);
	}
	fz_recs_free(f->frecs);
	free(f->frecs);
	f->frecs = NULL;
}

static void fz_add_auth(struct fz *f)
{
	static const char *const schemes[] = {"digest", "ip", "world", "sasl", "x509", "super"};
	static const char *const creds[] = {
	    "alice:pw", "bob:pw", "super:pw", "alice:", ":", "nocolon", "super:wrong", ""};
	struct core_auth *a = &f->auth[fz_u8(f) % FZ_NAUTH];
	const char *scheme = schemes[fz_u8(f) % 6];
	uint8_t k = fz_u8(f);
	uint8_t raw[16];
	const uint8_t *data;
	int32_t len;
	if (k < 200) {
		data = (const uint8_t *)creds[k % 8];
		len = (int32_t)strlen(creds[k % 8]);
	} else {
		len = fz_u8(f) % 17;
		for (int i = 0; i < len; i++)
			raw[i] = fz_u8(f);
		data = raw;
	}
	int rc = core_auth_add(f->a.c, a, scheme, data, len);
	FZ_CHECK(rc == 0 || rc == -EACCES, "core_auth_add result");
}

/* ------------------------------------------------------------------ monitoring */

static void fz_cb_path_w(void *arg, const char *path, struct core_watcher *w)
{
	(void)w;
	*(uint64_t *)arg += strlen(path) + 1;
}

static void fz_cb_path(void *arg, const char *path)
{
	*(uint64_t *)arg += strlen(path) + 1;
}

struct fz_sess_walk {
	const struct core *c;
	uint64_t neph, bytes;
};

static void fz_cb_session(void *arg, int64_t sid, int32_t to, uint32_t neph)
{
	struct fz_sess_walk *sw = arg;
	(void)to;
	sw->neph += neph;
	core_session_ephemerals(sw->c, sid, fz_cb_path, &sw->bytes);
}

/* What the four-letter words walk (wchs, wchp, wchc, dump, cons, mntr):
 * the walks must agree with the counters. */
static void fz_monitor(struct fz *f)
{
	struct core_stats st;
	core_get_stats(f->a.c, &st);
	uint64_t watchers, paths, watches, bytes = 0;
	core_wchs(f->a.c, &watchers, &paths, &watches);
	FZ_CHECK(watchers <= st.watchers && paths <= st.watch_paths && watches <= st.watches,
		 "wchs exceeds the watch counters");
	core_watches_by_path(f->a.c, fz_cb_path_w, &bytes);
	for (int i = 0; i < FZ_NWATCHER; i++)
		core_watches_of(f->a.c, &f->a.w[i], fz_cb_path, &bytes);
	struct fz_sess_walk sw = {f->a.c, 0, 0};
	core_sessions_each(f->a.c, fz_cb_session, &sw);
	FZ_CHECK(sw.neph == st.ephemerals, "sessions' ephemerals differ from the count");
}

/* ------------------------------------------------------------------ driver */

static void fz_init(struct fz *f, const uint8_t *data, size_t len, struct fz_stats *st)
{
	memset(f, 0, sizeof(*f));
	f->st = st;
	f->checks_left = 48;
	f->p = data;
	f->n = len;
	f->now = 1000000;
	f->a.c = fz_core_new(fz_notify, &f->a);
	f->b.c = fz_core_new(fz_notify, &f->b);
	for (int i = 0; i < FZ_NWATCHER; i++) {
		core_watcher_init(&f->a.w[i]);
		core_watcher_init(&f->b.w[i]);
	}
	core_auth_init(&f->auth[0], "127.0.0.1");
	core_auth_init(&f->auth[1], "127.0.0.1");
	core_auth_init(&f->auth[2], "10.1.2.3");
	core_auth_init(&f->auth[3], NULL);
	FZ_CHECK(core_auth_add(f->a.c, &f->auth[1], "digest", (const uint8_t *)"alice:pw", 8) == 0,
		 "digest auth");
	FZ_CHECK(core_auth_add(f->a.c, &f->auth[3], "digest", (const uint8_t *)"super:pw", 8) == 0,
		 "super auth");
	for (int i = 0; i < 3; i++) {
		f->now += 1;
		fz_create_session(f);
	}
	fz_apply_all(f);
}

static void fz_fini(struct fz *f)
{
	fz_apply_all(f);
	struct core_stats cs;
	core_get_stats(f->a.c, &cs);
	if (cs.nodes > f->st->max_nodes)
		f->st->max_nodes = cs.nodes;
	f->st->events += f->a.nev;
	fz_check_snapshot(f);
	fz_check_replay(f);
	fz_fuzzy_check(f, true);
	for (int i = 0; i < FZ_NWATCHER; i++) {
		core_watcher_gone(f->a.c, &f->a.w[i]);
		core_watcher_gone(f->b.c, &f->b.w[i]);
	}
	struct core_stats st;
	core_get_stats(f->a.c, &st);
	FZ_CHECK(st.watches == 0 && st.watchers == 0, "watches left after every watcher went");
	for (int i = 0; i < FZ_NAUTH; i++)
		core_auth_free(&f->auth[i]);
	fz_check_recovery(f);
	for (int i = 0; i < f->nlog; i++)
		free(f->log[(f->log_head + i) % FZ_NLOG].buf);
	if (f->saved) {
		fz_recs_free(f->saved);
		free(f->saved);
	}
	core_free(f->a.c);
	core_free(f->b.c);
}

/* Runs one input to the end, adding to *st; every broken promise ends in
 * FZ_FAIL. */
static __attribute__((unused)) void fz_run(const uint8_t *data, size_t len, struct fz_stats *st)
{
	struct fz f;
	struct jute_out o;
	jute_out_init(&o);
	fz_init(&f, data, len, st);
	while (f.n) {
		fz_fuzzy_check(&f, false);
		uint8_t cmd = fz_u8(&f) % 21;
		switch (cmd) {
		case 0 ... 9:
			fz_frame(&f, &o);
			fz_request(&f, &o);
			break;
		case 10:
			fz_raw_frame(&f, &o);
			fz_request(&f, &o);
			break;
		case 11:
		case 12:
			fz_tick(&f);
			break;
		case 13:
			fz_apply_all(&f);
			fz_monitor(&f);
			break;
		case 14:
			fz_create_session(&f);
			break;
		case 15: {
			int wi = fz_u8(&f) % FZ_NWATCHER;
			core_watcher_gone(f.a.c, &f.a.w[wi]);
			core_watcher_gone(f.b.c, &f.b.w[wi]);
			break;
		}
		case 16:
			fz_add_auth(&f);
			break;
		case 17:
			if (fz_u8(&f) < 64)
				fz_reset(&f);
			break;
		case 18:
			if (f.checks_left-- <= 0)
				break;
			fz_apply_all(&f);
			fz_check_snapshot(&f);
			break;
		case 20:
			fz_burst(&f);
			break;
		case 19:
			if (f.checks_left-- <= 0)
				break;
			switch (fz_u8(&f) % 3) {
			case 0:
				fz_check_replay(&f);
				break;
			case 1:
				fz_check_recovery(&f);
				break;
			default:
				fz_fuzzy_begin(&f);
				break;
			}
			break;
		}
	}
	fz_fini(&f);
	jute_out_free(&o);
}

#endif
