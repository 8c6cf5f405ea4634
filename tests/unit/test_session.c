/*
 * test_session.c — sessions: id derivation, timeout negotiation, password
 * check, expiry in tick buckets on a fake clock, touch, closing state,
 * expiry deleting ephemerals with their watches, tracking after recovery.
 */
#include "core_fixture.h"

struct expired {
	int64_t sids[16];
	int n;
};

static void on_expired(void *arg, int64_t sid)
{
	struct expired *e = arg;
	e->sids[e->n++] = sid;
}

static void test_ids_and_passwords(void **state)
{
	struct core_config cfg = {.tick_ms = 2000, .server_id = 3, .now_ms = 1700000000000LL};
	struct fx *f = fx_new_cfg(&cfg);
	int64_t s1 = fx_session(f, 10000), s2 = fx_session(f, 10000);
	uint64_t expect = ((uint64_t)1700000000000LL << 24) >> 8 | (uint64_t)3 << 56;
	assert_true((uint64_t)s1 == expect);
	assert_true(s2 == s1 + 1);
	uint8_t pw[16], pw2[16];
	core_session_password(f->c, s1, pw);
	core_session_password(f->c, s2, pw2);
	assert_memory_not_equal(pw, pw2, 16);
	int32_t to = 0;
	assert_int_equal(core_session_validate(f->c, s1, pw, &to), 0);
	assert_int_equal(to, 10000);
	assert_int_equal(core_session_validate(f->c, s2, pw, NULL), -EACCES);
	assert_int_equal(core_session_validate(f->c, 12345, pw, NULL), -ENOENT);
	/* negotiation: [2, 20] ticks */
	assert_int_equal(core_session_clamp(f->c, 1), 4000);
	assert_int_equal(core_session_clamp(f->c, 100000), 40000);
	assert_int_equal(core_session_clamp(f->c, 30000), 30000);
	int64_t sid;
	struct core_txn *t;
	assert_int_equal(core_prep_create_session(f->c, 1, f->now, &sid, &to, &t), 0);
	assert_int_equal(to, 4000);
	/* usable before its txn is applied (pipelined requests) */
	assert_true(core_session_live(f->c, sid));
	fx_commit(f, t, NULL);
	/* the password is a pure function of id and secret: same in another core */
	struct core_config cfg2 = {.tick_ms = 1000};
	struct fx *g = fx_new_cfg(&cfg2);
	core_session_password(g->c, s1, pw2);
	assert_memory_equal(pw, pw2, 16);
	fx_free(g);
	fx_free(f);
}

/* Ensemble members make passwords as Apache ZooKeeper does, so a session
 * moves between zkfs and Apache servers; values from java.util.Random. */
static void test_zookeeper_passwords(void **state)
{
	struct core_config cfg = {.tick_ms = 2000, .zk_passwords = true};
	struct fx *f = fx_new_cfg(&cfg);
	static const uint8_t want1[16] = {0xa6, 0xc1, 0x07, 0x62, 0x3b, 0xc9, 0xe5, 0xfa,
					  0xf4, 0x7b, 0x06, 0x9b, 0x7c, 0x47, 0xb2, 0x47};
	static const uint8_t want2[16] = {0x20, 0xf6, 0x2c, 0xb5, 0x64, 0x8d, 0xc2, 0xd7,
					  0x71, 0x47, 0x1c, 0x8a, 0x24, 0x86, 0xa9, 0xee};
	uint8_t pw[16];
	core_session_password(f->c, 0x0100000b531c0000LL, pw);
	assert_memory_equal(pw, want1, 16);
	core_session_password(f->c, 0x7fffffffffffffffLL, pw);
	assert_memory_equal(pw, want2, 16);
	fx_free(f);
}

static void test_expiry_buckets(void **state)
{
	struct fx *f = fx_new(); /* tick 2000 */
	f->now = 1000000;
	int64_t a = fx_session(f, 4000);  /* expires in bucket (1004000/2000+1)*2000 = 1006000 */
	int64_t b = fx_session(f, 10000); /* 1012000 */
	struct expired e = {0};
	assert_int_equal(core_session_expired(f->c, 1005999, on_expired, &e), 0);
	assert_int_equal(core_session_expired(f->c, 1006000, on_expired, &e), 1);
	assert_true(e.sids[0] == a);
	/* reported once; now closing */
	assert_false(core_session_live(f->c, a));
	assert_int_equal(core_session_touch(f->c, a, 1006000), -ENOENT);
	assert_int_equal(core_session_expired(f->c, 1007000, on_expired, &e), 0);
	/* touching b keeps it alive */
	assert_int_equal(core_session_touch(f->c, b, 1008000), 0); /* → 1020000 */
	assert_int_equal(core_session_expired(f->c, 1019999, on_expired, &e), 0);
	assert_int_equal(core_session_expired(f->c, 1020000, on_expired, &e), 1);
	assert_true(e.sids[1] == b);
	/* a long pause expires everything due at once */
	f->now = 2000000;
	int64_t c1 = fx_session(f, 4000), c2 = fx_session(f, 40000);
	(void)c1;
	(void)c2;
	e.n = 0;
	assert_int_equal(core_session_expired(f->c, 9000000, on_expired, &e), 2);
	assert_int_equal(core_session_touch(f->c, 777, 1), -ENOENT);
	fx_free(f);
}

static void test_expiry_deletes_ephemerals(void **state)
{
	struct fx *f = fx_new();
	int64_t s = fx_session(f, 4000), other = fx_session(f, 40000);
	assert_int_equal(fx_create(f, s, "/lock", NULL, ZK_EPHEMERAL), 0);
	assert_int_equal(fx_create(f, other, "/keep", NULL, ZK_EPHEMERAL), 0);
	assert_int_equal(fx_exists_w(f, &f->w1, "/lock"), 0);
	struct expired e = {0};
	assert_int_equal(core_session_expired(f->c, f->now + 6000, on_expired, &e), 1);
	assert_true(e.sids[0] == s);
	/* its requests fail from now on, before the close is applied */
	assert_int_equal(fx_create(f, s, "/x", NULL, 0), ZE_SESSIONEXPIRED);
	struct core_txn *t;
	assert_int_equal(core_prep_close_session(f->c, s, f->now + 6000, &t), 0);
	fx_commit(f, t, NULL);
	assert_int_equal(fx_stat(f, "/lock", NULL), ZE_NONODE);
	assert_int_equal(fx_stat(f, "/keep", NULL), 0);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_DELETED, "/lock"), 1);
	uint8_t pw[16];
	core_session_password(f->c, s, pw);
	assert_int_equal(core_session_validate(f->c, s, pw, NULL), -ENOENT);
	struct core_stats st;
	core_get_stats(f->c, &st);
	assert_int_equal(st.sessions, 1);
	fx_free(f);
}

struct sess_list {
	int n;
	uint32_t neph;
	int npaths;
};

static void on_session(void *arg, int64_t sid, int32_t to, uint32_t neph)
{
	struct sess_list *l = arg;
	(void)sid;
	(void)to;
	l->n++;
	l->neph += neph;
}

static void on_eph(void *arg, const char *path)
{
	struct sess_list *l = arg;
	(void)path;
	l->npaths++;
}

static void test_restart_tracking(void **state)
{
	struct fx *f = fx_new();
	int64_t s = fx_session(f, 4000);
	assert_int_equal(fx_create(f, s, "/e1", NULL, ZK_EPHEMERAL), 0);
	assert_int_equal(fx_create(f, s, "/e2", NULL, ZK_EPHEMERAL), 0);
	struct sess_list l = {0};
	core_sessions_each(f->c, on_session, &l);
	core_session_ephemerals(f->c, s, on_eph, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.neph, 2);
	assert_int_equal(l.npaths, 2);

	/* a second core replaying the same txn bytes knows the session but does
	 * not track it until told */
	struct fx *g = fx_new();
	struct core_txn *t;
	int64_t sid;
	int32_t to;
	assert_int_equal(core_prep_create_session(f->c, 4000, f->now, &sid, &to, &t), 0);
	struct jute_out o;
	jute_out_init(&o);
	core_txn_encode(t, &o);
	core_apply(f->c, t, NULL);
	core_txn_free(t);
	assert_int_equal(core_txn_decode(o.buf, o.len, &t), 0);
	core_apply(g->c, t, NULL);
	core_txn_free(t);
	jute_out_free(&o);
	struct expired e = {0};
	assert_int_equal(core_session_expired(g->c, g->now + 100000, on_expired, &e), 0);
	core_session_restart_tracking(g->c, g->now + 100000);
	assert_int_equal(core_session_expired(g->c, g->now + 100000 + 3999, on_expired, &e), 0);
	assert_int_equal(core_session_expired(g->c, g->now + 100000 + 6000, on_expired, &e), 1);
	assert_true(e.sids[0] == sid);
	fx_free(g);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ids_and_passwords),
	    cmocka_unit_test(test_zookeeper_passwords),
	    cmocka_unit_test(test_expiry_buckets),
	    cmocka_unit_test(test_expiry_deletes_ephemerals),
	    cmocka_unit_test(test_restart_tracking),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
