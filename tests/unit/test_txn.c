/*
 * test_txn.c — txns and snapshots: encode/decode round trip and malformed
 * input, idempotent re-application (every txn twice; a replay of a suffix
 * over a later state, as after a fuzzy snapshot), snapshot write → load
 * round trip equality, and snapshot + log replay giving the live state.
 */
#include "core_fixture.h"

/* ---- a workload whose txns are recorded as log bytes ---- */

struct txlog {
	uint8_t *rec[512];
	size_t len[512];
	int n;
};

static void log_free(struct txlog *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->rec[i]);
	l->n = 0;
}

static struct txlog *cur_log;

static void rec_commit(struct fx *f, struct core_txn *t, struct zk_response *resp)
{
	struct jute_out o;
	jute_out_init(&o);
	core_txn_encode(t, &o);
	assert_int_equal(o.err, 0);
	cur_log->rec[cur_log->n] = jute_out_steal(&o, &cur_log->len[cur_log->n]);
	cur_log->n++;
	core_apply(f->c, t, resp);
	core_txn_free(t);
}

static void w(struct fx *f, int64_t sid, struct zk_request *req)
{
	struct core_txn *t;
	struct zk_response resp = {0};
	assert_int_equal(core_prep(f->c, sid, &f->auth, req, f->now, &t), 0);
	rec_commit(f, t, &resp);
	zk_response_free(&resp);
	f->now += 7;
}

static void wcreate(struct fx *f, int64_t sid, int32_t type, const char *path, const char *data,
		    int32_t flags, int64_t ttl, struct zk_acl *acl)
{
	struct zk_request req = {.type = type};
	req.op = fx_op_create(path, data, flags);
	req.op.type = type;
	req.op.ttl = type == ZOP_CREATETTL ? ttl : 0;
	if (acl)
		req.op.acl.v = acl;
	w(f, sid, &req);
}

static void wsimple(struct fx *f, int64_t sid, int32_t type, const char *path, const char *data,
		    int32_t version)
{
	struct zk_request req = {.type = type};
	req.op.type = type;
	req.op.path = (char *)path;
	req.op.data = (uint8_t *)data;
	req.op.data_len = data ? (int32_t)strlen(data) : -1;
	req.op.version = version;
	w(f, sid, &req);
}

static int64_t wsession(struct fx *f)
{
	int64_t sid;
	int32_t to;
	struct core_txn *t;
	assert_int_equal(core_prep_create_session(f->c, 6000, f->now, &sid, &to, &t), 0);
	rec_commit(f, t, NULL);
	return sid;
}

static void workload(struct fx *f, struct txlog *l)
{
	cur_log = l;
	struct zk_acl dig = {ZK_PERM_ALL, {"digest", "u:aYXlLOpEooaV1cRAvUL1fp9Qt7E="}};
	int64_t s1 = wsession(f), s2 = wsession(f);
	wcreate(f, s1, ZOP_CREATE, "/app", "root", 0, 0, NULL);
	wcreate(f, s1, ZOP_CREATE2, "/app/cfg", "v1", 0, 0, &dig);
	for (int i = 0; i < 5; i++)
		wcreate(f, s1, ZOP_CREATE, "/app/q-", "job", ZK_PERSISTENT_SEQUENTIAL, 0, NULL);
	wcreate(f, s2, ZOP_CREATE, "/app/lock-", NULL, ZK_EPHEMERAL_SEQUENTIAL, 0, NULL);
	wcreate(f, s1, ZOP_CREATE, "/app/mine", "", ZK_EPHEMERAL, 0, NULL);
	wcreate(f, s1, ZOP_CREATECONTAINER, "/cont", NULL, ZK_CONTAINER, 0, NULL);
	wcreate(f, s1, ZOP_CREATE, "/cont/x", NULL, 0, 0, NULL);
	wsimple(f, s1, ZOP_DELETE, "/cont/x", NULL, -1);
	wcreate(f, s1, ZOP_CREATETTL, "/ttl", "t", ZK_PERSISTENT_WITH_TTL, 60000, NULL);
	wsimple(f, s1, ZOP_SETDATA, "/app", "root2", -1);
	wsimple(f, s1, ZOP_SETDATA, "/app", "root3", 1);
	wsimple(f, s1, ZOP_SETDATA, "/app", "bad", 0); /* fails: BadVersion */
	wsimple(f, s1, ZOP_DELETE, "/app/q-0000000001", NULL, -1);
	wsimple(f, s1, ZOP_DELETE, "/nope", NULL, -1); /* fails */
	struct zk_request sa = {.type = ZOP_SETACL};
	sa.op = fx_op_create("/app", NULL, 0);
	sa.op.type = ZOP_SETACL;
	sa.op.version = -1;
	w(f, s1, &sa);
	/* a multi that succeeds and one that fails */
	struct zk_op ops[3] = {fx_op_create("/m", "1", 0),
			       fx_op_create("/m/k", "2", 0),
			       {.type = ZOP_SETDATA, .path = "/m", .data_len = -1, .version = 0}};
	struct zk_request mr = {.type = ZOP_MULTI, .nops = 3, .ops = ops};
	w(f, s1, &mr);
	ops[0] = fx_op_create("/m2", NULL, 0);
	w(f, s1, &mr); /* /m/k exists → fails */
	/* s2 closes: its ephemeral goes */
	struct zk_request cl = {.type = ZOP_CLOSESESSION};
	w(f, s2, &cl);
	wsimple(f, s1, ZOP_SETDATA, "/app/cfg", "v2", -1); /* NoAuth with ip only */
	wcreate(f, s1, ZOP_CREATE, "/app/q-", "job", ZK_PERSISTENT_SEQUENTIAL, 0, NULL);
}

/* ---- state comparison through snapshots (order-insensitive) ---- */

struct recs {
	char **v;
	size_t *len;
	int n, cap;
};

static int collect(void *arg, const void *rec, size_t len)
{
	struct recs *r = arg;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->v = realloc(r->v, (size_t)r->cap * sizeof(*r->v));
		r->len = realloc(r->len, (size_t)r->cap * sizeof(*r->len));
	}
	r->v[r->n] = malloc(len ? len : 1);
	memcpy(r->v[r->n], rec, len);
	r->len[r->n] = len;
	r->n++;
	return 0;
}

static void recs_free(struct recs *r)
{
	for (int i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r->v);
	free(r->len);
	memset(r, 0, sizeof(*r));
}

static bool rec_in(const struct recs *r, const char *rec, size_t len)
{
	for (int i = 0; i < r->n; i++)
		if (r->len[i] == len && !memcmp(r->v[i], rec, len))
			return true;
	return false;
}

static void assert_same_state(struct core *a, struct core *b)
{
	struct recs ra = {0}, rb = {0};
	assert_int_equal(core_snapshot_write(a, collect, &ra), 0);
	assert_int_equal(core_snapshot_write(b, collect, &rb), 0);
	assert_int_equal(ra.n, rb.n);
	for (int i = 0; i < ra.n; i++)
		assert_true(rec_in(&rb, ra.v[i], ra.len[i]));
	recs_free(&ra);
	recs_free(&rb);
	struct core_stats sa, sb;
	core_get_stats(a, &sa);
	core_get_stats(b, &sb);
	assert_int_equal(sa.nodes, sb.nodes);
	assert_int_equal(sa.ephemerals, sb.ephemerals);
	assert_int_equal(sa.data_size, sb.data_size);
	assert_int_equal(sa.sessions, sb.sessions);
	assert_true(sa.last_zxid == sb.last_zxid);
}

static void replay(struct core *c, const struct txlog *l, int from, int to)
{
	for (int i = from; i < to; i++) {
		struct core_txn *t;
		assert_int_equal(core_txn_decode(l->rec[i], l->len[i], &t), 0);
		core_apply(c, t, NULL);
		core_txn_free(t);
	}
}

static void test_roundtrip_and_malformed(void **state)
{
	struct fx *f = fx_new();
	struct txlog l = {0};
	workload(f, &l);
	for (int i = 0; i < l.n; i++) {
		struct core_txn *t;
		assert_int_equal(core_txn_decode(l.rec[i], l.len[i], &t), 0);
		struct jute_out o;
		jute_out_init(&o);
		core_txn_encode(t, &o);
		assert_int_equal(o.len, l.len[i]);
		assert_memory_equal(o.buf, l.rec[i], o.len);
		jute_out_free(&o);
		core_txn_free(t);
		/* every truncation is rejected */
		for (size_t k = 0; k < l.len[i]; k += 3) {
			assert_int_equal(core_txn_decode(l.rec[i], k, &t), -EBADMSG);
			assert_null(t);
		}
	}
	/* wrong format version */
	uint8_t *bad = malloc(l.len[0]);
	memcpy(bad, l.rec[0], l.len[0]);
	bad[3] = 99;
	struct core_txn *t;
	assert_int_equal(core_txn_decode(bad, l.len[0], &t), -EBADMSG);
	free(bad);
	log_free(&l);
	fx_free(f);
}

static void test_idempotent_apply(void **state)
{
	struct fx *f = fx_new();
	struct txlog l = {0};
	workload(f, &l);

	/* every txn applied twice in a row */
	struct fx *g = fx_new();
	for (int i = 0; i < l.n; i++) {
		replay(g->c, &l, i, i + 1);
		replay(g->c, &l, i, i + 1);
	}
	assert_same_state(f->c, g->c);

	/* a suffix replayed over the final state (fuzzy snapshot + log) */
	struct fx *h = fx_new();
	replay(h->c, &l, 0, l.n);
	assert_same_state(f->c, h->c);
	for (int k = 0; k < l.n; k += 5) {
		replay(h->c, &l, k, l.n);
		assert_same_state(f->c, h->c);
	}
	fx_free(h);
	fx_free(g);
	log_free(&l);
	fx_free(f);
}

struct feed {
	struct core *c;
	int rc;
};

static int feed(void *arg, const void *rec, size_t len)
{
	struct feed *fd = arg;
	fd->rc = core_snapshot_load(fd->c, rec, len);
	return fd->rc < 0 ? fd->rc : 0;
}

static void count_reap(void *arg, const char *path)
{
	(void)arg;
	(void)path;
}

static void count_eph(void *arg, int64_t sid, int32_t to, uint32_t neph)
{
	(void)sid;
	(void)to;
	*(uint32_t *)arg += neph;
}

static void test_snapshot_roundtrip(void **state)
{
	struct fx *f = fx_new();
	struct txlog l = {0};
	workload(f, &l);
	int mid = l.n / 2;
	/* snapshot taken after `mid` txns, from a core that applied only those */
	struct fx *a = fx_new();
	replay(a->c, &l, 0, mid);
	struct fx *b = fx_new();
	struct feed fd = {b->c, 0};
	assert_int_equal(core_snapshot_write(a->c, feed, &fd), 0);
	assert_int_equal(fd.rc, 1); /* the end record completes the load */
	assert_same_state(a->c, b->c);
	/* ephemerals were re-linked to their sessions */
	struct core_stats st;
	core_get_stats(b->c, &st);
	assert_true(st.ephemerals > 0);
	uint32_t linked = 0;
	core_sessions_each(b->c, count_eph, &linked);
	assert_int_equal(linked, st.ephemerals);
	/* snapshot + the rest of the log = the live state */
	replay(b->c, &l, mid, l.n);
	assert_same_state(f->c, b->c);
	/* reapable nodes survive the trip: the used container and the TTL node */
	assert_int_equal(core_reap(f->c, f->now + 1000000, count_reap, NULL), 2);
	assert_int_equal(core_reap(b->c, f->now + 1000000, count_reap, NULL), 2);
	/* and the restored core goes on: next prep gets the next zxid */
	int64_t sid;
	int32_t to;
	struct core_txn *t;
	assert_int_equal(core_prep_create_session(b->c, 6000, b->now, &sid, &to, &t), 0);
	assert_true(core_txn_zxid(t) == core_last_zxid(f->c) + 1);
	core_apply(b->c, t, NULL);
	core_txn_free(t);
	/* bad records */
	uint8_t junk[8] = {0, 0, 0, 42, 1, 2, 3, 4};
	assert_int_equal(core_snapshot_load(b->c, junk, sizeof(junk)), -EBADMSG);
	fx_free(b);
	fx_free(a);
	log_free(&l);
	fx_free(f);
}

/* A replay over a snapshot that holds a later incarnation of a path: the
 * txns of the older incarnation (found by the fuzzer) must not touch it,
 * even where the delete between them cannot be replayed because the
 * snapshot gave the new incarnation children. */
static void test_replay_over_later_incarnation(void **state)
{
	struct fx *f = fx_new();
	struct txlog l = {0};
	cur_log = &l;
	int64_t sid = fx_session(f, 10000);
	wcreate(f, sid, ZOP_CREATE, "/a", "1", 0, 0, NULL);
	wsimple(f, sid, ZOP_SETDATA, "/a", "2", -1);
	wcreate(f, sid, ZOP_CREATE, "/a/x", "", 0, 0, NULL);
	wsimple(f, sid, ZOP_DELETE, "/a/x", NULL, -1);
	wsimple(f, sid, ZOP_DELETE, "/a", NULL, -1);
	wcreate(f, sid, ZOP_CREATE, "/a", "3", 0, 0, NULL);
	wcreate(f, sid, ZOP_CREATE, "/a/y", "", 0, 0, NULL);
	struct fx *b = fx_new();
	struct feed fd = {b->c, 0};
	assert_int_equal(core_snapshot_write(f->c, feed, &fd), 0);
	assert_int_equal(fd.rc, 1);
	for (int k = 0; k < l.n; k++) {
		replay(b->c, &l, k, l.n);
		assert_same_state(f->c, b->c);
	}
	struct zk_stat st;
	assert_int_equal(fx_stat(b, "/a", &st), 0);
	assert_int_equal(st.version, 0);
	assert_int_equal(st.cversion, 1);
	assert_int_equal(st.num_children, 1);
	fx_free(b);
	log_free(&l);
	fx_free(f);
}

/* A snapshot taken in steps while txns go on (recovery = it + the txns
 * after its tag): an ACL slot written early, freed and reused for another
 * ACL before a node using it is reached, must reach that node with the
 * new ACL; ephemerals of a session opened after the tag join it. */
static void test_stepped_snapshot_acl_reuse(void **state)
{
	struct fx *f = fx_new();
	struct txlog l = {0};
	cur_log = &l;
	struct zk_acl a1 = {ZK_PERM_ALL, {"digest", "u1:aYXlLOpEooaV1cRAvUL1fp9Qt7E="}};
	struct zk_acl a2 = {ZK_PERM_READ, {"digest", "u2:aYXlLOpEooaV1cRAvUL1fp9Qt7E="}};
	int64_t sid = fx_session(f, 10000);
	wcreate(f, sid, ZOP_CREATE, "/d", NULL, 0, 0, NULL);
	wcreate(f, sid, ZOP_CREATE, "/d/old", "o", 0, 0, NULL);
	wcreate(f, sid, ZOP_CREATE, "/x", "x", 0, 0, &a1);
	struct fx *b = fx_new();
	struct feed fd = {b->c, 0};
	struct core_snap *sn;
	assert_int_equal(core_snapshot_begin(f->c, feed, &fd, &sn), 0);
	int tag = l.n;
	/* children are walked from the end of the array: the root, then /x
	 * (with a1's record), then /d and below */
	assert_int_equal(core_snapshot_step(sn, 2), 0);
	wsimple(f, sid, ZOP_DELETE, "/x", NULL, -1);	       /* a1's slot is freed */
	wcreate(f, sid, ZOP_CREATE, "/d/new", "n", 0, 0, &a2); /* and reused for a2 */
	int64_t late = wsession(f);
	wcreate(f, late, ZOP_CREATE, "/d/eph", "e", ZK_EPHEMERAL, 0, NULL);
	wsimple(f, sid, ZOP_DELETE, "/d/old", NULL, -1);
	int rc;
	while ((rc = core_snapshot_step(sn, 1)) == 0)
		;
	assert_int_equal(rc, 1);
	core_snapshot_end(sn);
	assert_int_equal(fd.rc, 1);
	replay(b->c, &l, tag, l.n);
	core_session_restart_tracking(b->c, f->now);
	assert_same_state(f->c, b->c);
	struct core_stats st;
	core_get_stats(b->c, &st);
	assert_int_equal(st.ephemerals, 1);
	fx_free(b);
	log_free(&l);
	fx_free(f);
}

/* A stepped snapshot that meets a path twice: /p with a child, then /p
 * deleted and created again as an ephemeral, which a later swap-remove
 * moves back under the walker.  The load drops the first incarnation's
 * children before taking the second record. */
static void test_stepped_snapshot_reincarnation(void **state)
{
	struct fx *f = fx_new();
	struct txlog l = {0};
	cur_log = &l;
	int64_t sid = fx_session(f, 10000);
	wcreate(f, sid, ZOP_CREATE, "/a", "a", 0, 0, NULL);
	wcreate(f, sid, ZOP_CREATE, "/p", "old", 0, 0, NULL);
	wcreate(f, sid, ZOP_CREATE, "/p/c", "c", 0, 0, NULL);
	struct fx *b = fx_new();
	struct feed fd = {b->c, 0};
	struct core_snap *sn;
	assert_int_equal(core_snapshot_begin(f->c, feed, &fd, &sn), 0);
	int tag = l.n;
	/* the root, /p (last child: first visited), /p/c */
	assert_int_equal(core_snapshot_step(sn, 3), 0);
	assert_int_equal(core_snapshot_nodes(sn), 3);
	wsimple(f, sid, ZOP_DELETE, "/p/c", NULL, -1);
	wsimple(f, sid, ZOP_DELETE, "/p", NULL, -1);
	wcreate(f, sid, ZOP_CREATE, "/p", "new", ZK_EPHEMERAL, 0, NULL);
	wsimple(f, sid, ZOP_DELETE, "/a", NULL, -1); /* the new /p takes its slot */
	int rc;
	while ((rc = core_snapshot_step(sn, 1)) == 0)
		;
	assert_int_equal(rc, 1);
	/* root, /p, /p/c, /p again, /zookeeper and its two children */
	assert_int_equal(core_snapshot_nodes(sn), 7);
	core_snapshot_end(sn);
	assert_int_equal(fd.rc, 1);
	replay(b->c, &l, tag, l.n);
	core_session_restart_tracking(b->c, f->now);
	assert_same_state(f->c, b->c);
	fx_free(b);
	log_free(&l);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_and_malformed),
	    cmocka_unit_test(test_idempotent_apply),
	    cmocka_unit_test(test_snapshot_roundtrip),
	    cmocka_unit_test(test_replay_over_later_incarnation),
	    cmocka_unit_test(test_stepped_snapshot_acl_reuse),
	    cmocka_unit_test(test_stepped_snapshot_reincarnation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
