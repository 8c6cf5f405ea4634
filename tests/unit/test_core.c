/*
 * test_core.c — the core's write and read semantics against ZooKeeper's:
 * stat fields after create/set/delete, version checks, sequential
 * suffixes, error precedence, ephemerals, reserved nodes, multi atomicity
 * and result shapes, multiRead, pipelined preps (outstanding changes),
 * containers and TTL reaping, snapshots of what the tree keeps outside a
 * node, the longest name.  Fake clock, no I/O.
 */
#include "core_fixture.h"

#include <errno.h>

#include "tree.h"

static void test_reserved_nodes(void **state)
{
	struct fx *f = fx_new();
	struct zk_stat st;
	assert_int_equal(fx_stat(f, "/", &st), 0);
	assert_int_equal(st.num_children, 1);
	assert_int_equal(st.cversion, -1); /* as Apache ZooKeeper shows it */
	assert_int_equal(fx_stat(f, "/zookeeper", &st), 0);
	assert_int_equal(st.num_children, 2);
	assert_int_equal(st.cversion, -2);
	assert_int_equal(fx_stat(f, "/zookeeper/quota", &st), 0);
	assert_int_equal(fx_stat(f, "/zookeeper/config", &st), 0);
	assert_int_equal(st.aversion, -1);
	/* the counts Apache ZooKeeper reports on a fresh server (mntr) */
	struct core_stats cs;
	core_get_stats(f->c, &cs);
	assert_int_equal(cs.nodes, 5);
	assert_int_equal(cs.data_size, 44);
	const char *res[] = {"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"};
	for (int i = 0; i < 4; i++)
		assert_int_equal(fx_delete(f, 0, res[i], -1), ZE_BADARGUMENTS);
	/* /zookeeper/config is world-readable only */
	int64_t sid = fx_session(f, 10000);
	assert_int_equal(fx_set(f, sid, "/zookeeper/config", "x", -1, NULL), ZE_NOAUTH);
	struct zk_response r;
	assert_int_equal(fx_read(f, sid, NULL, NULL, ZOP_GETACL, "/zookeeper/config", false, &r),
			 0);
	assert_int_equal(r.r.acl.n, 1);
	assert_int_equal(r.r.acl.v[0].perms, ZK_PERM_READ);
	zk_response_free(&r);
	fx_free(f);
}

static void test_stat_fields(void **state)
{
	struct fx *f = fx_new();
	int64_t sid = fx_session(f, 10000); /* zxid 1 */
	struct zk_stat st, pst;
	f->now = 5000000;
	assert_int_equal(fx_create_as(f, sid, NULL, ZOP_CREATE2, "/a", "hello", 0, NULL, &st), 0);
	assert_int_equal(st.czxid, 2);
	assert_int_equal(st.mzxid, 2);
	assert_int_equal(st.pzxid, 2);
	assert_int_equal(st.ctime, 5000000);
	assert_int_equal(st.mtime, 5000000);
	assert_int_equal(st.version, 0);
	assert_int_equal(st.cversion, 0);
	assert_int_equal(st.aversion, 0);
	assert_int_equal(st.data_length, 5);
	assert_int_equal(st.num_children, 0);
	assert_int_equal(st.ephemeral_owner, 0);

	f->now = 6000000;
	assert_int_equal(fx_set(f, sid, "/a", "hi", -1, &st), 0); /* zxid 3 */
	assert_int_equal(st.version, 1);
	assert_int_equal(st.mzxid, 3);
	assert_int_equal(st.czxid, 2);
	assert_int_equal(st.mtime, 6000000);
	assert_int_equal(st.ctime, 5000000);
	assert_int_equal(st.data_length, 2);

	/* children: cversion visible = creations + deletions */
	assert_int_equal(fx_create(f, sid, "/a/x", NULL, 0), 0); /* 4 */
	assert_int_equal(fx_create(f, sid, "/a/y", "", 0), 0);	 /* 5 */
	assert_int_equal(fx_create(f, sid, "/a/z", NULL, 0), 0); /* 6 */
	assert_int_equal(fx_delete(f, sid, "/a/y", -1), 0);	 /* 7 */
	assert_int_equal(fx_stat(f, "/a", &pst), 0);
	assert_int_equal(pst.num_children, 2);
	assert_int_equal(pst.cversion, 4);
	assert_int_equal(pst.pzxid, 7);
	assert_int_equal(pst.mzxid, 3); /* children don't touch mzxid */
	assert_int_equal(pst.version, 1);
	/* null and empty data both have length 0 */
	assert_int_equal(fx_stat(f, "/a/x", &st), 0);
	assert_int_equal(st.data_length, 0);
	struct zk_response r;
	assert_int_equal(fx_read(f, sid, NULL, NULL, ZOP_GETDATA, "/a/x", false, &r), 0);
	assert_int_equal(r.r.data_len, -1);
	zk_response_free(&r);
	assert_int_equal(fx_read(f, sid, NULL, NULL, ZOP_GETDATA, "/a", false, &r), 0);
	assert_int_equal(r.r.data_len, 2);
	assert_memory_equal(r.r.data, "hi", 2);
	assert_int_equal(r.zxid, 7); /* reads carry the last applied zxid */
	zk_response_free(&r);

	/* setACL bumps aversion only */
	struct zk_request req = {.type = ZOP_SETACL};
	struct zk_response resp = {0};
	req.op = fx_op_create("/a", NULL, 0);
	req.op.type = ZOP_SETACL;
	req.op.version = 0;
	assert_int_equal(fx_write(f, sid, &f->auth, &req, &resp), 0);
	assert_int_equal(resp.r.stat.aversion, 1);
	assert_int_equal(resp.r.stat.version, 1);
	assert_int_equal(resp.r.stat.mzxid, 3);
	zk_response_free(&resp);
	assert_int_equal(fx_write(f, sid, &f->auth, &req, &resp), ZE_BADVERSION);
	zk_response_free(&resp);
	fx_free(f);
}

static void test_versions(void **state)
{
	struct fx *f = fx_new();
	int64_t sid = fx_session(f, 10000);
	assert_int_equal(fx_create(f, sid, "/v", "a", 0), 0);
	assert_int_equal(fx_set(f, sid, "/v", "b", 1, NULL), ZE_BADVERSION);
	assert_int_equal(fx_set(f, sid, "/v", "b", 0, NULL), 0);
	assert_int_equal(fx_set(f, sid, "/v", "c", 1, NULL), 0);
	assert_int_equal(fx_delete(f, sid, "/v", 0), ZE_BADVERSION);
	assert_int_equal(fx_delete(f, sid, "/v", 2), 0);
	assert_int_equal(fx_set(f, sid, "/v", "c", -1, NULL), ZE_NONODE);
	/* every write consumed a zxid, failed ones too */
	assert_int_equal(core_last_zxid(f->c), 8);
	/* a new epoch: zxids jump, not backwards */
	assert_int_equal(core_set_next_zxid(f->c, 8), -EINVAL);
	assert_int_equal(core_set_next_zxid(f->c, (int64_t)1 << 32), 0);
	struct zk_stat st;
	assert_int_equal(fx_set(f, sid, "/v", "d", -1, NULL), ZE_NONODE);
	assert_int_equal(fx_create_as(f, sid, NULL, ZOP_CREATE2, "/v", "d", 0, NULL, &st), 0);
	assert_true(st.czxid == ((int64_t)1 << 32) + 1);
	fx_free(f);
}

static void test_sequential(void **state)
{
	struct fx *f = fx_new();
	int64_t sid = fx_session(f, 10000);
	char *p;
	assert_int_equal(fx_create(f, sid, "/q", NULL, 0), 0);
	assert_int_equal(fx_create_as(f, sid, NULL, ZOP_CREATE, "/q/n-", NULL, 2, &p, NULL), 0);
	assert_string_equal(p, "/q/n-0000000000");
	free(p);
	assert_int_equal(fx_create_as(f, sid, NULL, ZOP_CREATE, "/q/n-", NULL, 3, &p, NULL), 0);
	assert_string_equal(p, "/q/n-0000000001");
	free(p);
	assert_int_equal(fx_delete(f, sid, "/q/n-0000000000", -1), 0);
	/* deletions don't advance the counter: it is the stored cversion */
	assert_int_equal(fx_create_as(f, sid, NULL, ZOP_CREATE, "/q/n-", NULL, 2, &p, NULL), 0);
	assert_string_equal(p, "/q/n-0000000002");
	free(p);
	/* a trailing slash becomes a bare number (as ZooKeeper does) */
	assert_int_equal(fx_create_as(f, sid, NULL, ZOP_CREATE, "/q/", NULL, 2, &p, NULL), 0);
	assert_string_equal(p, "/q/0000000003");
	free(p);
	/* but not without the sequential flag */
	assert_int_equal(fx_create(f, sid, "/q/", NULL, 0), ZE_BADARGUMENTS);
	fx_free(f);
}

static void test_create_precedence(void **state)
{
	struct fx *f = fx_new();
	int64_t sid = fx_session(f, 10000);
	struct zk_acl_vec empty = {0};
	struct zk_request req = {.type = ZOP_CREATE};

	/* flags first */
	assert_int_equal(fx_create(f, sid, "bad path", NULL, 7), ZE_BADARGUMENTS);
	/* TTL mode without createTTL's ttl */
	assert_int_equal(fx_create(f, sid, "/t", NULL, 5), ZE_BADARGUMENTS);
	/* path before ACL */
	req.op = fx_op_create("nope", NULL, 0);
	req.op.acl = empty;
	assert_int_equal(fx_write(f, sid, &f->auth, &req, NULL), ZE_BADARGUMENTS);
	/* ACL before parent */
	req.op = fx_op_create("/missing/x", NULL, 0);
	req.op.acl = empty;
	assert_int_equal(fx_write(f, sid, &f->auth, &req, NULL), ZE_INVALIDACL);
	assert_int_equal(fx_create(f, sid, "/missing/x", NULL, 0), ZE_NONODE);
	/* parent perms before existence of the node */
	struct zk_acl ro = {ZK_PERM_READ, {"world", "anyone"}};
	req.op = fx_op_create("/ro", NULL, 0);
	req.op.acl.n = 1;
	req.op.acl.v = &ro;
	assert_int_equal(fx_write(f, sid, &f->auth, &req, NULL), 0);
	assert_int_equal(fx_create(f, sid, "/ro/x", NULL, 0), ZE_NOAUTH);
	/* invalid after suffix */
	assert_int_equal(fx_create(f, sid, "/a/./b", NULL, 0), ZE_NONODE);
	assert_int_equal(fx_create(f, sid, "/.", NULL, 0), ZE_BADARGUMENTS);
	/* exists */
	assert_int_equal(fx_create(f, sid, "/e", NULL, 1), 0);
	assert_int_equal(fx_create(f, sid, "/e", NULL, 0), ZE_NODEEXISTS);
	assert_int_equal(fx_create(f, sid, "/", NULL, 0), ZE_NODEEXISTS);
	/* no children for ephemerals, after exists */
	assert_int_equal(fx_create(f, sid, "/e/c", NULL, 0), ZE_NOCHILDRENFOREPHEMERALS);
	/* TTL disabled → Unimplemented; createTTL with non-TTL mode → BadArguments */
	struct core_config cfg = {.tick_ms = 2000};
	struct fx *g = fx_new_cfg(&cfg);
	int64_t s2 = fx_session(g, 10000);
	req.type = ZOP_CREATETTL;
	req.op = fx_op_create("/ttl", NULL, 5);
	req.op.type = ZOP_CREATETTL;
	req.op.ttl = 100;
	assert_int_equal(fx_write(g, s2, &g->auth, &req, NULL), ZE_UNIMPLEMENTED);
	req.op.flags = 0;
	assert_int_equal(fx_write(f, sid, &f->auth, &req, NULL), ZE_BADARGUMENTS);
	req.op.flags = 5;
	req.op.ttl = 0;
	assert_int_equal(fx_write(f, sid, &f->auth, &req, NULL), ZE_BADARGUMENTS);
	req.op.ttl = ZK_MAX_TTL + 1;
	assert_int_equal(fx_write(f, sid, &f->auth, &req, NULL), ZE_BADARGUMENTS);
	req.op.ttl = 100;
	assert_int_equal(fx_write(f, sid, &f->auth, &req, NULL), 0);
	fx_free(g);
	fx_free(f);
}

static void test_delete_precedence(void **state)
{
	struct fx *f = fx_new();
	int64_t sid = fx_session(f, 10000);
	assert_int_equal(fx_delete(f, sid, "/nope/x", -1), ZE_NONODE);
	struct zk_acl ro = {ZK_PERM_READ, {"world", "anyone"}};
	struct zk_request req = {.type = ZOP_CREATE};
	req.op = fx_op_create("/ro", NULL, 0);
	req.op.acl.n = 1;
	req.op.acl.v = &ro;
	assert_int_equal(fx_write(f, sid, &f->auth, &req, NULL), 0);
	/* DELETE perm of the parent is checked before the node exists */
	assert_int_equal(fx_delete(f, sid, "/ro/missing", -1), ZE_NOAUTH);
	assert_int_equal(fx_delete(f, sid, "/missing", -1), ZE_NONODE);
	assert_int_equal(fx_create(f, sid, "/p", NULL, 0), 0);
	assert_int_equal(fx_create(f, sid, "/p/c", NULL, 0), 0);
	/* version before children */
	assert_int_equal(fx_delete(f, sid, "/p", 5), ZE_BADVERSION);
	assert_int_equal(fx_delete(f, sid, "/p", 0), ZE_NOTEMPTY);
	/* setData: node before perms before version */
	assert_int_equal(fx_set(f, sid, "/missing", "x", 9, NULL), ZE_NONODE);
	assert_int_equal(fx_set(f, sid, "/ro", "x", 9, NULL), ZE_NOAUTH);
	assert_int_equal(fx_set(f, sid, "bad", "x", 9, NULL), ZE_BADARGUMENTS);
	fx_free(f);
}

static void test_ephemerals(void **state)
{
	struct fx *f = fx_new();
	int64_t s1 = fx_session(f, 10000), s2 = fx_session(f, 10000);
	struct zk_stat st;
	assert_int_equal(fx_create(f, s1, "/dir", NULL, 0), 0);
	assert_int_equal(fx_create(f, s1, "/dir/e1", NULL, ZK_EPHEMERAL), 0);
	assert_int_equal(fx_create(f, s1, "/dir/e2-", NULL, ZK_EPHEMERAL_SEQUENTIAL), 0);
	assert_int_equal(fx_create(f, s2, "/dir/other", NULL, ZK_EPHEMERAL), 0);
	assert_int_equal(fx_stat(f, "/dir/e1", &st), 0);
	assert_true(st.ephemeral_owner == s1);

	/* getEphemerals: own ones, prefix match */
	struct zk_response r;
	assert_int_equal(fx_read(f, s1, NULL, NULL, ZOP_GETEPHEMERALS, "/", false, &r), 0);
	assert_int_equal(r.r.children.n, 2);
	zk_response_free(&r);
	assert_int_equal(fx_read(f, s1, NULL, NULL, ZOP_GETEPHEMERALS, "/dir/e2", false, &r), 0);
	assert_int_equal(r.r.children.n, 1);
	assert_string_equal(r.r.children.v[0], "/dir/e2-0000000001");
	zk_response_free(&r);

	/* setData reallocates nodes: the session must follow its ephemerals */
	char big[2000];
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(fx_set(f, s1, "/dir/e1", i % 2 ? "s" : big, -1, NULL), 0);
		assert_int_equal(fx_set(f, s1, "/dir/e2-0000000001", i % 2 ? big : "", -1, NULL),
				 0);
	}
	assert_int_equal(fx_read(f, s1, NULL, NULL, ZOP_GETEPHEMERALS, "/dir/e1", false, &r), 0);
	assert_int_equal(r.r.children.n, 1);
	assert_string_equal(r.r.children.v[0], "/dir/e1");
	zk_response_free(&r);

	struct core_stats cs;
	core_get_stats(f->c, &cs);
	assert_int_equal(cs.ephemerals, 3);
	assert_int_equal(cs.sessions, 2);

	/* watches fire when the session closes */
	assert_int_equal(fx_exists_w(f, &f->w1, "/dir/e1"), 0);
	assert_int_equal(fx_children_w(f, &f->w2, "/dir"), 0);
	assert_int_equal(fx_close(f, s1), 0);
	assert_int_equal(fx_stat(f, "/dir/e1", NULL), ZE_NONODE);
	assert_int_equal(fx_stat(f, "/dir/e2-0000000001", NULL), ZE_NONODE);
	assert_int_equal(fx_stat(f, "/dir/other", NULL), 0);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_DELETED, "/dir/e1"), 1);
	assert_int_equal(fx_count(f, &f->w2, ZK_EVENT_CHILD_CHANGED, "/dir"), 1);
	core_get_stats(f->c, &cs);
	assert_int_equal(cs.ephemerals, 1);
	assert_int_equal(cs.sessions, 1);
	/* the closed session can't write */
	assert_int_equal(fx_create(f, s1, "/late", NULL, 0), ZE_SESSIONEXPIRED);
	fx_free(f);
}

static void test_multi(void **state)
{
	struct fx *f = fx_new();
	int64_t sid = fx_session(f, 10000);
	assert_int_equal(fx_create(f, sid, "/m", "0", 0), 0);
	int64_t before = core_last_zxid(f->c);

	struct zk_op ops[4];
	ops[0] = fx_op_create("/m/a", "x", 0);
	ops[1] = fx_op_create("/m/b", "y", 0);
	ops[1].type = ZOP_CREATE2;
	ops[2] = (struct zk_op){
	    .type = ZOP_SETDATA, .path = "/m", .data = (uint8_t *)"1", .data_len = 1, .version = 0};
	ops[3] = (struct zk_op){.type = ZOP_CHECK, .path = "/m", .version = 1};
	struct zk_request req = {.type = ZOP_MULTI, .nops = 4, .ops = ops};
	struct zk_response resp = {0};
	assert_int_equal(fx_write(f, sid, &f->auth, &req, &resp), 0);
	assert_int_equal(resp.nres, 4);
	assert_int_equal(resp.res[0].type, ZOP_CREATE);
	assert_string_equal(resp.res[0].path, "/m/a");
	assert_int_equal(resp.res[1].type, ZOP_CREATE2);
	assert_int_equal(resp.res[1].stat.czxid, before + 1);
	assert_int_equal(resp.res[2].type, ZOP_SETDATA);
	assert_int_equal(resp.res[2].stat.version, 1);
	assert_int_equal(resp.res[3].type, ZOP_CHECK);
	assert_int_equal(resp.zxid, before + 1); /* one zxid for the whole multi */
	zk_response_free(&resp);

	/* failure: ops before → 0, failing → its code, after → -2; nothing applied */
	ops[0] = fx_op_create("/m/c", NULL, 0);
	ops[1] = (struct zk_op){.type = ZOP_SETDATA, .path = "/m", .data_len = -1, .version = -1};
	ops[2] = fx_op_create("/m/a", NULL, 0); /* exists */
	ops[3] = (struct zk_op){.type = ZOP_DELETE, .path = "/m/b", .version = -1};
	assert_int_equal(fx_write(f, sid, &f->auth, &req, &resp), 0);
	assert_int_equal(resp.nres, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(resp.res[i].type, ZOP_ERROR);
	assert_int_equal(resp.res[0].err, 0);
	assert_int_equal(resp.res[1].err, 0);
	assert_int_equal(resp.res[2].err, ZE_NODEEXISTS);
	assert_int_equal(resp.res[3].err, ZE_RUNTIMEINCONSISTENCY);
	zk_response_free(&resp);
	assert_int_equal(fx_stat(f, "/m/c", NULL), ZE_NONODE);
	struct zk_stat st;
	assert_int_equal(fx_stat(f, "/m", &st), 0);
	assert_int_equal(st.version, 1);
	assert_int_equal(core_last_zxid(f->c), before + 2);

	/* ops see the earlier ops of the same multi */
	ops[0] = fx_op_create("/m/n", NULL, 0);
	ops[1] = fx_op_create("/m/n/k", NULL, 0);
	ops[2] = (struct zk_op){.type = ZOP_DELETE, .path = "/m/n/k", .version = 0};
	ops[3] = (struct zk_op){.type = ZOP_DELETE, .path = "/m/n", .version = 0};
	assert_int_equal(fx_write(f, sid, &f->auth, &req, &resp), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(resp.res[i].err, 0);
	assert_int_equal(resp.res[2].type, ZOP_DELETE);
	zk_response_free(&resp);
	assert_int_equal(fx_stat(f, "/m/n", NULL), ZE_NONODE);

	/* a read inside a multi refuses the whole request (one zxid spent) */
	struct zk_op mixed[2] = {fx_op_create("/m/z", NULL, 0),
				 {.type = ZOP_GETDATA, .path = "/m"}};
	struct zk_request mreq = {.type = ZOP_MULTI, .nops = 2, .ops = mixed};
	int64_t z0 = core_last_zxid(f->c);
	assert_int_equal(fx_write(f, sid, &f->auth, &mreq, &resp), ZE_MARSHALLINGERROR);
	assert_int_equal(resp.nres, 0);
	zk_response_free(&resp);
	assert_int_equal(core_last_zxid(f->c), z0 + 1);
	assert_int_equal(fx_stat(f, "/m/z", NULL), ZE_NONODE);

	/* an empty multi is fine */
	req.nops = 0;
	assert_int_equal(fx_write(f, sid, &f->auth, &req, &resp), 0);
	assert_int_equal(resp.nres, 0);
	zk_response_free(&resp);
	fx_free(f);
}

static void test_multiread(void **state)
{
	struct fx *f = fx_new();
	int64_t sid = fx_session(f, 10000);
	assert_int_equal(fx_create(f, sid, "/r", "data", 0), 0);
	assert_int_equal(fx_create(f, sid, "/r/k", NULL, 0), 0);
	struct zk_op ops[3] = {
	    {.type = ZOP_GETDATA, .path = "/r"},
	    {.type = ZOP_GETCHILDREN, .path = "/missing"},
	    {.type = ZOP_GETCHILDREN, .path = "/r"},
	};
	struct zk_request req = {.type = ZOP_MULTIREAD, .nops = 3, .ops = ops};
	struct zk_response resp = {0};
	assert_int_equal(core_read(f->c, sid, &f->auth, NULL, &req, &resp), 0);
	assert_int_equal(resp.err, 0);
	assert_int_equal(resp.nres, 3);
	assert_int_equal(resp.res[0].type, ZOP_GETDATA);
	assert_int_equal(resp.res[0].data_len, 4);
	assert_int_equal(resp.res[1].type, ZOP_ERROR);
	assert_int_equal(resp.res[1].err, ZE_NONODE);
	assert_int_equal(resp.res[2].type, ZOP_GETCHILDREN);
	assert_int_equal(resp.res[2].children.n, 1);
	assert_string_equal(resp.res[2].children.v[0], "k");
	zk_response_free(&resp);
	/* a write inside a multiRead: MarshallingError for the whole request */
	ops[1].type = ZOP_SETDATA;
	assert_int_equal(core_read(f->c, sid, &f->auth, NULL, &req, &resp), 0);
	assert_int_equal(resp.err, ZE_MARSHALLINGERROR);
	assert_int_equal(resp.nres, 0);
	zk_response_free(&resp);
	fx_free(f);
}

static void test_pipelined_preps(void **state)
{
	struct fx *f = fx_new();
	f->no_roundtrip = true;
	int64_t sid = fx_session(f, 10000);
	struct zk_request r1 = {.type = ZOP_CREATE}, r2 = r1, r3 = r1, r4 = {.type = ZOP_DELETE};
	r1.op = fx_op_create("/p", NULL, 0);
	r2.op = fx_op_create("/p/s-", NULL, ZK_PERSISTENT_SEQUENTIAL);
	r3.op = fx_op_create("/p/s-", NULL, ZK_PERSISTENT_SEQUENTIAL);
	r4.op = (struct zk_op){.type = ZOP_DELETE, .path = "/p", .version = -1};
	struct core_txn *t1, *t2, *t3, *t4;
	/* four preps before any apply: each sees the ones before */
	assert_int_equal(core_prep(f->c, sid, &f->auth, &r1, f->now, &t1), 0);
	assert_int_equal(core_prep(f->c, sid, &f->auth, &r2, f->now, &t2), 0);
	assert_int_equal(core_prep(f->c, sid, &f->auth, &r3, f->now, &t3), 0);
	assert_int_equal(core_prep(f->c, sid, &f->auth, &r4, f->now, &t4), 0);
	assert_int_equal(core_outstanding(f->c), 4);
	assert_int_equal(core_txn_err(t2), 0);
	assert_int_equal(core_txn_err(t3), 0);
	assert_int_equal(core_txn_err(t4), ZE_NOTEMPTY);
	assert_int_equal(core_txn_zxid(t4), core_txn_zxid(t1) + 3);
	struct zk_response resp = {0};
	core_apply(f->c, t1, NULL);
	core_apply(f->c, t2, &resp);
	assert_string_equal(resp.r.path, "/p/s-0000000000");
	zk_response_free(&resp);
	core_apply(f->c, t3, &resp);
	assert_string_equal(resp.r.path, "/p/s-0000000001");
	zk_response_free(&resp);
	core_apply(f->c, t4, &resp);
	assert_int_equal(resp.err, ZE_NOTEMPTY);
	zk_response_free(&resp);
	assert_int_equal(core_outstanding(f->c), 0);
	core_txn_free(t1);
	core_txn_free(t2);
	core_txn_free(t3);
	core_txn_free(t4);

	/* a pending delete hides the node from the next prep */
	r4.op.path = "/p/s-0000000000";
	assert_int_equal(core_prep(f->c, sid, &f->auth, &r4, f->now, &t1), 0);
	assert_int_equal(core_prep(f->c, sid, &f->auth, &r4, f->now, &t2), 0);
	assert_int_equal(core_txn_err(t1), 0);
	assert_int_equal(core_txn_err(t2), ZE_NONODE);
	/* reset throws them away */
	core_prep_reset(f->c);
	assert_int_equal(core_outstanding(f->c), 0);
	core_txn_free(t1);
	core_txn_free(t2);
	assert_int_equal(core_prep(f->c, sid, &f->auth, &r4, f->now, &t1), 0);
	assert_int_equal(core_txn_err(t1), 0);
	assert_true(core_txn_zxid(t1) == core_last_zxid(f->c) + 1);
	core_apply(f->c, t1, NULL);
	core_txn_free(t1);

	/* closeSession prepared behind a pending ephemeral create deletes it too */
	struct zk_request re = {.type = ZOP_CREATE};
	re.op = fx_op_create("/eph", NULL, ZK_EPHEMERAL);
	struct zk_request rc = {.type = ZOP_CLOSESESSION};
	assert_int_equal(core_prep(f->c, sid, &f->auth, &re, f->now, &t1), 0);
	assert_int_equal(core_prep(f->c, sid, &f->auth, &rc, f->now, &t2), 0);
	assert_int_equal(core_prep(f->c, sid, &f->auth, &re, f->now, &t3), 0);
	assert_int_equal(core_txn_err(t3), ZE_SESSIONEXPIRED);
	core_apply(f->c, t1, NULL);
	assert_int_equal(fx_stat(f, "/eph", NULL), 0);
	core_apply(f->c, t2, NULL);
	core_apply(f->c, t3, NULL);
	assert_int_equal(fx_stat(f, "/eph", NULL), ZE_NONODE);
	assert_false(core_session_live(f->c, sid));
	core_txn_free(t1);
	core_txn_free(t2);
	core_txn_free(t3);
	fx_free(f);
}

static void test_deep_pipeline_and_big_multi(void **state)
{
	struct fx *f = fx_new();
	f->no_roundtrip = true;
	int64_t sid = fx_session(f, 10000);
	enum { N = 3000 };
	struct core_txn **ts = calloc(N, sizeof(*ts));
	struct zk_request r = {.type = ZOP_CREATE};
	r.op = fx_op_create("/d", NULL, 0);
	assert_int_equal(core_prep(f->c, sid, &f->auth, &r, f->now, &ts[0]), 0);
	r.op = fx_op_create("/d/s-", "x", ZK_PERSISTENT_SEQUENTIAL);
	for (int i = 1; i < N; i++) {
		assert_int_equal(core_prep(f->c, sid, &f->auth, &r, f->now, &ts[i]), 0);
		assert_int_equal(core_txn_err(ts[i]), 0);
	}
	assert_int_equal(core_outstanding(f->c), N);
	for (int i = 0; i < N; i++) {
		struct zk_response resp = {0};
		core_apply(f->c, ts[i], &resp);
		assert_int_equal(resp.err, 0);
		if (i == N - 1) {
			char want[32];
			snprintf(want, sizeof(want), "/d/s-%010d", N - 2);
			assert_string_equal(resp.r.path, want);
		}
		zk_response_free(&resp);
		core_txn_free(ts[i]);
	}
	free(ts);
	assert_int_equal(core_outstanding(f->c), 0);

	/* a multi of thousands of ops, failing at the very end: nothing stays */
	enum { M = 5000 };
	struct zk_op *ops = calloc(M, sizeof(*ops));
	char(*paths)[32] = calloc(M, 32);
	for (int i = 0; i < M; i++) {
		snprintf(paths[i], 32, "/big-%d", i % (M - 1)); /* last one repeats the first */
		ops[i] = fx_op_create(paths[i], NULL, 0);
	}
	struct zk_request mr = {.type = ZOP_MULTI, .nops = M, .ops = ops};
	struct zk_response resp = {0};
	assert_int_equal(fx_write(f, sid, &f->auth, &mr, &resp), 0);
	assert_int_equal(resp.res[M - 1].err, ZE_NODEEXISTS);
	assert_int_equal(resp.res[0].err, 0);
	zk_response_free(&resp);
	assert_int_equal(fx_stat(f, "/big-0", NULL), ZE_NONODE);
	ops[M - 1].path = "/big-last";
	assert_int_equal(fx_write(f, sid, &f->auth, &mr, &resp), 0);
	assert_int_equal(resp.nres, M);
	assert_int_equal(resp.res[M - 1].err, 0);
	zk_response_free(&resp);
	assert_int_equal(fx_stat(f, "/big-4998", NULL), 0);
	free(paths);
	free(ops);
	fx_free(f);
}

/* Hundreds of multis pending at once, each creating 50 children of one
 * parent (so the parent's pending records pile up in one hash chain, tens
 * of thousands deep), with failing multis rolled back in between: the
 * pending state stays exact through growth of the record table, rollback
 * and retirement of the oldest records. */
static void test_pending_multis_one_parent(void **state)
{
	struct fx *f = fx_new();
	f->no_roundtrip = true;
	int64_t sid = fx_session(f, 10000);
	enum { T = 400, K = 50 };
	struct core_txn **ts = calloc(T, sizeof(*ts));
	struct zk_op ops[K];
	char paths[K][32];
	struct zk_request r = {.type = ZOP_CREATE};
	int ok = 0;

	r.op = fx_op_create("/p", NULL, 0);
	struct core_txn *t0;
	assert_int_equal(core_prep(f->c, sid, &f->auth, &r, f->now, &t0), 0);
	for (int t = 0; t < T; t++) {
		struct zk_request mr = {.type = ZOP_MULTI, .nops = K, .ops = ops};
		for (int k = 0; k < K; k++) {
			/* every 7th multi repeats its first path last: it fails */
			int id = (t % 7 == 3 && k == K - 1) ? t * K : t * K + k;
			snprintf(paths[k], sizeof(paths[k]), "/p/c%d", id);
			ops[k] = fx_op_create(paths[k], "v", 0);
		}
		assert_int_equal(core_prep(f->c, sid, &f->auth, &mr, f->now, &ts[t]), 0);
		if (t % 7 != 3)
			ok++;
	}
	struct zk_response resp = {0};
	core_apply(f->c, t0, &resp);
	zk_response_free(&resp);
	core_txn_free(t0);
	for (int t = 0; t < T; t++) {
		core_apply(f->c, ts[t], &resp);
		assert_int_equal(resp.res[K - 1].err, t % 7 == 3 ? ZE_NODEEXISTS : 0);
		zk_response_free(&resp);
		core_txn_free(ts[t]);
	}
	free(ts);
	assert_int_equal(core_outstanding(f->c), 0);
	struct zk_stat st;
	assert_int_equal(fx_stat(f, "/p", &st), 0);
	assert_int_equal(st.num_children, ok * K);
	assert_int_equal(st.cversion, ok * K);
	assert_int_equal(fx_stat(f, "/p/c0", NULL), 0);
	assert_int_equal(fx_stat(f, "/p/c150", NULL), ZE_NONODE); /* t = 3 failed */
	assert_int_equal(fx_stat(f, "/p/c19999", NULL), 0);
	fx_free(f);
}

/* ---- pipelined prep ≡ one-at-a-time prep (seeded random workload) ---- */

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rng_state >> 33) % n;
}

static const char *rnd_path(void)
{
	static const char *paths[] = {"/a", "/a/b", "/a/b/c", "/a/d", "/e", "/e/f", "/a/s-", "/e/"};
	return paths[rnd(8)];
}

/* One random request into req (ops points to storage for multi). */
static void rnd_request(struct zk_request *req, struct zk_op *ops, int64_t *sid_slot)
{
	static struct zk_acl acls[2] = {{ZK_PERM_ALL, {"world", "anyone"}},
					{ZK_PERM_READ | ZK_PERM_CREATE, {"world", "anyone"}}};
	memset(req, 0, sizeof(*req));
	int kind = (int)rnd(10);
	struct zk_op *op = &req->op;
	if (kind == 9) {
		req->type = ZOP_MULTI;
		req->nops = 1 + (int32_t)rnd(4);
		req->ops = ops;
		for (int i = 0; i < req->nops; i++) {
			int k = (int)rnd(4);
			struct zk_op *o = &ops[i];
			memset(o, 0, sizeof(*o));
			o->path = (char *)rnd_path();
			o->version = rnd(3) ? -1 : (int32_t)rnd(3);
			o->data_len = -1;
			if (k == 0) {
				*o = fx_op_create(o->path, "m", (int32_t)rnd(4));
			} else if (k == 1) {
				o->type = ZOP_DELETE;
			} else if (k == 2) {
				o->type = ZOP_SETDATA;
				o->data = (uint8_t *)"zz";
				o->data_len = 2;
			} else {
				o->type = ZOP_CHECK;
			}
		}
		return;
	}
	op->path = (char *)rnd_path();
	op->version = rnd(3) ? -1 : (int32_t)rnd(3);
	op->data_len = -1;
	switch (kind) {
	case 0:
	case 1:
	case 2:
		req->type = rnd(2) ? ZOP_CREATE : ZOP_CREATE2;
		*op = fx_op_create(op->path, "d", (int32_t)rnd(5));
		op->type = req->type;
		if (rnd(5) == 0)
			op->acl.v = &acls[1];
		break;
	case 3:
	case 4:
		req->type = ZOP_DELETE;
		op->type = ZOP_DELETE;
		break;
	case 5:
	case 6:
		req->type = ZOP_SETDATA;
		op->type = ZOP_SETDATA;
		op->data = (uint8_t *)"datadata";
		op->data_len = (int32_t)rnd(9);
		break;
	case 7:
		req->type = ZOP_SETACL;
		*op = fx_op_create(op->path, NULL, 0);
		op->type = ZOP_SETACL;
		op->acl.v = &acls[rnd(2)];
		op->version = -1;
		break;
	default:
		req->type = ZOP_CLOSESESSION;
		*sid_slot = 0; /* the caller opens a new session in its place */
		break;
	}
}

struct trace {
	int32_t errs[4096];
	int n;
};

static void record(struct trace *tr, const struct zk_response *r)
{
	if (tr->n < 4096)
		tr->errs[tr->n++] = r->err;
	for (int32_t i = 0; i < r->nres && tr->n < 4096; i++)
		tr->errs[tr->n++] = r->res[i].err;
	if (r->err == 0 && r->r.path && tr->n < 4096)
		tr->errs[tr->n++] = (int32_t)strlen(r->r.path) * 1000 + r->r.stat.version;
}

/* Same subtree at path in both cores: data, stat, ACL and children. */
static void assert_same_tree(struct fx *a, struct fx *b, const char *path)
{
	struct zk_response ra, rb;
	assert_int_equal(fx_read(a, 0, NULL, NULL, ZOP_GETDATA, path, false, &ra), 0);
	assert_int_equal(fx_read(b, 0, NULL, NULL, ZOP_GETDATA, path, false, &rb), 0);
	assert_int_equal(ra.r.data_len, rb.r.data_len);
	if (ra.r.data_len > 0)
		assert_memory_equal(ra.r.data, rb.r.data, (size_t)ra.r.data_len);
	assert_memory_equal(&ra.r.stat, &rb.r.stat, sizeof(ra.r.stat));
	zk_response_free(&ra);
	zk_response_free(&rb);
	assert_int_equal(fx_read(a, 0, NULL, NULL, ZOP_GETACL, path, false, &ra), 0);
	assert_int_equal(fx_read(b, 0, NULL, NULL, ZOP_GETACL, path, false, &rb), 0);
	assert_int_equal(ra.r.acl.n, rb.r.acl.n);
	assert_int_equal(ra.r.acl.v[0].perms, rb.r.acl.v[0].perms);
	zk_response_free(&ra);
	zk_response_free(&rb);
	assert_int_equal(fx_read(a, 0, NULL, NULL, ZOP_GETCHILDREN, path, false, &ra), 0);
	assert_int_equal(fx_read(b, 0, NULL, NULL, ZOP_GETCHILDREN, path, false, &rb), 0);
	assert_int_equal(ra.r.children.n, rb.r.children.n);
	for (int32_t i = 0; i < ra.r.children.n; i++) {
		char sub[256];
		snprintf(sub, sizeof(sub), "%s/%s", strcmp(path, "/") ? path : "",
			 ra.r.children.v[i]);
		assert_int_equal(fx_stat(b, sub, NULL), 0);
		assert_same_tree(a, b, sub);
	}
	zk_response_free(&ra);
	zk_response_free(&rb);
}

static void test_pipeline_equivalence(void **state)
{
	for (uint64_t seed = 1; seed <= 40; seed++) {
		struct fx *a = fx_new(), *b = fx_new();
		a->no_roundtrip = true;
		struct trace *ta = calloc(1, sizeof(*ta)), *tb = calloc(1, sizeof(*tb));
		int64_t sids[3];
		for (int i = 0; i < 3; i++) {
			sids[i] = fx_session(a, 10000);
			assert_true(fx_session(b, 10000) == sids[i]);
		}
		rng_state = seed;
		struct core_txn *pending[16];
		struct zk_op ops[8][4];
		for (int round = 0; round < 60; round++) {
			int k = 1 + (int)rnd(8), np = 0;
			for (int i = 0; i < k; i++) {
				struct zk_request req;
				int which = (int)rnd(3);
				int64_t slot = sids[which];
				rnd_request(&req, ops[i], &slot);
				/* A: prepare now, apply later */
				assert_int_equal(core_prep(a->c, sids[which], &a->auth, &req,
							   a->now, &pending[np++]),
						 0);
				/* B: prepare and apply at once */
				struct zk_response rb = {0};
				fx_write(b, sids[which], &b->auth, &req, &rb);
				record(tb, &rb);
				zk_response_free(&rb);
				if (slot == 0) {
					/* replace the closed session, in step in both cores */
					int64_t ns, ns2;
					int32_t to;
					struct core_txn *t;
					assert_int_equal(core_prep_create_session(
							     b->c, 10000, b->now, &ns, &to, &t),
							 0);
					fx_commit(b, t, NULL);
					assert_int_equal(core_prep_create_session(a->c, 10000,
										  a->now, &ns2, &to,
										  &pending[np++]),
							 0);
					assert_true(ns == ns2);
					sids[which] = ns;
				}
			}
			assert_int_equal(core_outstanding(a->c), np);
			for (int i = 0; i < np; i++) {
				struct zk_response ra = {0};
				core_apply(a->c, pending[i], &ra);
				if (core_txn_type(pending[i]) != ZOP_CREATESESSION)
					record(ta, &ra);
				zk_response_free(&ra);
				core_txn_free(pending[i]);
			}
		}
		if (seed == 1) {
			int ok = 0;
			for (int i = 0; i < ta->n; i++)
				ok += ta->errs[i] == 0;
			print_message("seed 1: %d results, %d ok, last zxid %d\n", ta->n, ok,
				      (int)core_last_zxid(a->c));
		}
		assert_int_equal(ta->n, tb->n);
		for (int i = 0; i < ta->n; i++)
			if (ta->errs[i] != tb->errs[i])
				fail_msg("seed %llu: result %d differs: %d vs %d",
					 (unsigned long long)seed, i, ta->errs[i], tb->errs[i]);
		assert_true(core_last_zxid(a->c) == core_last_zxid(b->c));
		struct core_stats sa, sb;
		core_get_stats(a->c, &sa);
		core_get_stats(b->c, &sb);
		assert_int_equal(sa.nodes, sb.nodes);
		assert_int_equal(sa.ephemerals, sb.ephemerals);
		assert_int_equal(sa.data_size, sb.data_size);
		assert_int_equal(sa.sessions, sb.sessions);
		assert_same_tree(a, b, "/");
		free(ta);
		free(tb);
		fx_free(a);
		fx_free(b);
	}
}

struct reaped {
	char paths[8][64];
	int n;
};

static void on_reap(void *arg, const char *path)
{
	struct reaped *r = arg;
	snprintf(r->paths[r->n++], 64, "%s", path);
}

static void test_containers_ttl(void **state)
{
	struct fx *f = fx_new();
	int64_t sid = fx_session(f, 10000);
	struct zk_stat st;
	assert_int_equal(
	    fx_create_as(f, sid, NULL, ZOP_CREATECONTAINER, "/c", NULL, ZK_CONTAINER, NULL, &st),
	    0);
	assert_int_equal(st.ephemeral_owner, 0);
	struct reaped r = {0};
	/* a container never used is not reaped */
	assert_int_equal(core_reap(f->c, f->now, on_reap, &r), 0);
	assert_int_equal(fx_create(f, sid, "/c/k", NULL, 0), 0);
	assert_int_equal(core_reap(f->c, f->now, on_reap, &r), 0);
	assert_int_equal(fx_delete(f, sid, "/c/k", -1), 0);
	assert_int_equal(core_reap(f->c, f->now, on_reap, &r), 1);
	assert_string_equal(r.paths[0], "/c");

	struct zk_request req = {.type = ZOP_CREATETTL};
	req.op = fx_op_create("/t", NULL, ZK_PERSISTENT_WITH_TTL);
	req.op.type = ZOP_CREATETTL;
	req.op.ttl = 5000;
	struct zk_response resp = {0};
	assert_int_equal(fx_write(f, sid, &f->auth, &req, &resp), 0);
	assert_int_equal(resp.r.stat.ephemeral_owner, 0);
	zk_response_free(&resp);
	memset(&r, 0, sizeof(r));
	assert_int_equal(core_reap(f->c, f->now + 5000, on_reap, &r), 1); /* only /c */
	memset(&r, 0, sizeof(r));
	assert_int_equal(core_reap(f->c, f->now + 5001, on_reap, &r), 2);

	/* the edge turns them into deleteContainer txns */
	struct core_txn *t;
	assert_int_equal(core_prep_delete_container(f->c, "/t", f->now + 100, &t), 0);
	assert_int_equal(core_txn_err(t), ZE_BADVERSION); /* not expired yet */
	fx_commit(f, t, NULL);
	assert_int_equal(core_prep_delete_container(f->c, "/t", f->now + 5001, &t), 0);
	assert_int_equal(core_txn_err(t), 0);
	fx_commit(f, t, NULL);
	assert_int_equal(fx_exists_w(f, &f->w1, "/c"), 0);
	assert_int_equal(core_prep_delete_container(f->c, "/c", f->now, &t), 0);
	fx_commit(f, t, NULL);
	assert_int_equal(fx_stat(f, "/c", NULL), ZE_NONODE);
	assert_int_equal(fx_stat(f, "/t", NULL), ZE_NONODE);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_DELETED, "/c"), 1);
	/* a plain node is never deleted that way */
	assert_int_equal(fx_create(f, sid, "/plain", NULL, 0), 0);
	assert_int_equal(core_prep_delete_container(f->c, "/plain", f->now, &t), 0);
	assert_int_equal(core_txn_err(t), ZE_BADVERSION);
	fx_commit(f, t, NULL);
	assert_int_equal(fx_stat(f, "/plain", NULL), 0);
	fx_free(f);
}

static void test_reads(void **state)
{
	struct fx *f = fx_new();
	int64_t sid = fx_session(f, 10000);
	assert_int_equal(fx_create(f, sid, "/g", NULL, 0), 0);
	for (int i = 0; i < 5; i++) {
		char p[32];
		snprintf(p, sizeof(p), "/g/%d", i);
		assert_int_equal(fx_create(f, sid, p, NULL, 0), 0);
		snprintf(p, sizeof(p), "/g/%d/x", i);
		assert_int_equal(fx_create(f, sid, p, NULL, 0), 0);
	}
	struct zk_response r;
	assert_int_equal(fx_read(f, sid, NULL, NULL, ZOP_GETALLCHILDRENNUMBER, "/g", false, &r), 0);
	assert_int_equal(r.r.number, 10);
	zk_response_free(&r);
	assert_int_equal(fx_read(f, sid, NULL, NULL, ZOP_GETCHILDREN2, "/g", false, &r), 0);
	assert_int_equal(r.r.children.n, 5);
	assert_int_equal(r.r.stat.num_children, 5);
	zk_response_free(&r);
	assert_int_equal(fx_read(f, sid, NULL, NULL, ZOP_GETCHILDREN, "/nope", true, &r),
			 ZE_NONODE);
	zk_response_free(&r);
	/* "" reads as the root, as in ZooKeeper */
	assert_int_equal(fx_read(f, sid, NULL, NULL, ZOP_GETCHILDREN, "", false, &r), 0);
	assert_int_equal(r.r.children.n, 2);
	zk_response_free(&r);
	assert_int_equal(fx_set(f, sid, "", "x", -1, NULL), ZE_BADARGUMENTS);
	/* deleteContainer from a client: BadArguments, as ZooKeeper */
	struct zk_request dc = {.type = ZOP_DELETECONTAINER};
	dc.op.type = ZOP_DELETECONTAINER;
	dc.op.path = "/g";
	assert_int_equal(fx_write(f, sid, &f->auth, &dc, NULL), ZE_BADARGUMENTS);
	assert_int_equal(fx_read(f, sid, NULL, NULL, ZOP_SYNC, "/g", false, &r), 0);
	assert_string_equal(r.r.path, "/g");
	zk_response_free(&r);
	assert_int_equal(fx_read(f, sid, NULL, NULL, ZOP_WHOAMI, NULL, false, &r), 0);
	assert_int_equal(r.r.ninfo, 1);
	assert_string_equal(r.r.info[0].auth_scheme, "ip");
	assert_string_equal(r.r.info[0].user, "127.0.0.1");
	zk_response_free(&r);
	/* not a read */
	struct zk_request req = {.type = ZOP_CREATE};
	assert_int_equal(core_read(f->c, sid, &f->auth, NULL, &req, &r), -EINVAL);
	zk_response_free(&r);
	struct core_txn *t;
	req.type = ZOP_GETDATA;
	assert_int_equal(core_prep(f->c, sid, &f->auth, &req, f->now, &t), -EINVAL);
	fx_free(f);
}

static void test_many_children(void **state)
{
	struct fx *f = fx_new();
	f->no_roundtrip = true;
	int64_t sid = fx_session(f, 10000);
	assert_int_equal(fx_create(f, sid, "/big", NULL, 0), 0);
	char p[64];
	for (int i = 0; i < 100000; i++) {
		snprintf(p, sizeof(p), "/big/child-%d", i);
		assert_int_equal(fx_create(f, sid, p, "0123456789", 0), 0);
	}
	struct zk_response r;
	assert_int_equal(fx_read(f, sid, NULL, NULL, ZOP_GETCHILDREN, "/big", false, &r), 0);
	assert_int_equal(r.r.children.n, 100000);
	zk_response_free(&r);
	for (int i = 0; i < 100000; i += 2) {
		snprintf(p, sizeof(p), "/big/child-%d", i);
		assert_int_equal(fx_delete(f, sid, p, -1), 0);
	}
	struct zk_stat st;
	assert_int_equal(fx_stat(f, "/big", &st), 0);
	assert_int_equal(st.num_children, 50000);
	assert_int_equal(st.cversion, 150000);
	assert_int_equal(fx_stat(f, "/big/child-99999", NULL), 0);
	assert_int_equal(fx_stat(f, "/big/child-99998", NULL), ZE_NONODE);
	fx_free(f);
}

struct recs {
	int n;
	uint8_t *v[64];
	size_t len[64];
};

static int rec_emit(void *arg, const void *rec, size_t len)
{
	struct recs *r = arg;
	assert_true(r->n < 64);
	r->v[r->n] = malloc(len);
	memcpy(r->v[r->n], rec, len);
	r->len[r->n++] = len;
	return 0;
}

static void recs_free(struct recs *r)
{
	for (int i = 0; i < r->n; i++)
		free(r->v[i]);
}

static int load_recs(struct fx *g, const struct recs *r)
{
	int rc = 0;
	for (int i = 0; i < r->n && rc == 0; i++)
		rc = core_snapshot_load(g->c, r->v[i], r->len[i]);
	return rc;
}

/* Index of the node record of path in r, -1 if none. */
static int node_rec(const struct recs *r, const char *path)
{
	size_t pl = strlen(path);
	for (int i = 0; i < r->n; i++) {
		const uint8_t *b = r->v[i];
		if (r->len[i] > 8 + pl && jute_load32(b) == 4 && jute_load32(b + 4) == pl &&
		    !memcmp(b + 8, path, pl))
			return i;
	}
	return -1;
}

static void put64(uint8_t *p, int64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* What the tree keeps outside a node (children block: pzxid, ttl) and in
 * place of it (an ephemeral's owner) goes through a snapshot unchanged,
 * and a snapshot asking for what the tree cannot hold is refused. */
static void test_snapshot_node_layout(void **state)
{
	struct fx *f = fx_new();
	int64_t sid = fx_session(f, 10000);
	assert_int_equal(fx_create(f, sid, "/p", "x", 0), 0);
	assert_int_equal(fx_create(f, sid, "/p/c", NULL, 0), 0);
	assert_int_equal(fx_delete(f, sid, "/p/c", -1), 0); /* /p: pzxid moved, no children */
	struct zk_request req = {.type = ZOP_CREATETTL};
	req.op = fx_op_create("/t", NULL, ZK_PERSISTENT_WITH_TTL);
	req.op.type = ZOP_CREATETTL;
	req.op.ttl = 5000;
	assert_int_equal(fx_write(f, sid, &f->auth, &req, NULL), 0);
	assert_int_equal(fx_create(f, sid, "/t/k", NULL, 0), 0);
	assert_int_equal(fx_create(f, sid, "/e", "eph", ZK_EPHEMERAL), 0);
	assert_int_equal(fx_create(f, sid, "/leaf", NULL, 0), 0);
	struct zk_stat st;
	assert_int_equal(fx_stat(f, "/p", &st), 0);
	assert_true(st.pzxid > st.czxid);
	assert_int_equal(st.num_children, 0);

	struct recs r = {0};
	assert_int_equal(core_snapshot_write(f->c, rec_emit, &r), 0);
	struct fx *g = fx_new();
	assert_int_equal(load_recs(g, &r), 1);
	const char *paths[] = {"/", "/p", "/t", "/t/k", "/e", "/leaf", "/zookeeper"};
	for (int i = 0; i < 7; i++) {
		struct zk_stat a, b;
		assert_int_equal(fx_stat(f, paths[i], &a), 0);
		assert_int_equal(fx_stat(g, paths[i], &b), 0);
		assert_memory_equal(&a, &b, sizeof(a));
	}
	assert_int_equal(fx_stat(g, "/e", &st), 0);
	assert_int_equal(st.ephemeral_owner, sid);
	/* the ttl came along: /t is reapable once its child goes */
	assert_int_equal(fx_delete(g, sid, "/t/k", -1), 0);
	struct core_txn *t;
	assert_int_equal(core_prep_delete_container(g->c, "/t", g->now + 4000, &t), 0);
	assert_int_equal(core_txn_err(t), ZE_BADVERSION);
	fx_commit(g, t, NULL);
	assert_int_equal(core_prep_delete_container(g->c, "/t", g->now + 5001, &t), 0);
	assert_int_equal(core_txn_err(t), 0);
	fx_commit(g, t, NULL);
	assert_int_equal(fx_stat(g, "/t", NULL), ZE_NONODE);
	/* the ephemeral is its session's */
	assert_int_equal(fx_close(g, sid), 0);
	assert_int_equal(fx_stat(g, "/e", NULL), ZE_NONODE);
	fx_free(g);

	/* an ephemeral whose pzxid is not its czxid */
	int i = node_rec(&r, "/e");
	assert_true(i >= 0);
	uint8_t *b = r.v[i];
	size_t pz = 4 + 4 + 2 + 4 + 3 + 4 + 8 + 8; /* kind, "/e", "eph", acl, czxid, mzxid */
	uint8_t saved[8];
	memcpy(saved, b + pz, 8);
	put64(b + pz, 1000);
	g = fx_new();
	assert_int_equal(load_recs(g, &r), -EBADMSG);
	fx_free(g);
	memcpy(b + pz, saved, 8);

	/* a node with children turned ephemeral by a later record */
	i = node_rec(&r, "/t");
	assert_true(i >= 0);
	g = fx_new();
	assert_int_equal(load_recs(g, &r), 1);
	b = r.v[i];
	size_t len = r.len[i];
	uint8_t *dup = malloc(len);
	memcpy(dup, b, len);
	dup[len - 12 + 3] = TN_EPHEMERAL;   /* kind (int), then owner (long) */
	size_t cz = 4 + 4 + 2 + 4 + 4;	    /* kind, "/t", null data, acl */
	memcpy(dup + cz + 16, dup + cz, 8); /* pzxid = czxid */
	assert_int_equal(core_snapshot_load(g->c, dup, len), -EBADMSG);
	assert_int_equal(fx_stat(g, "/t", &st), 0);
	assert_int_equal(st.ephemeral_owner, 0);
	assert_int_equal(st.num_children, 1);
	fx_free(g);
	/* the same record is fine for a /t without children (its block goes) */
	int k = node_rec(&r, "/t/k");
	assert_true(k > i);
	g = fx_new();
	for (int j = 0; j < r.n; j++)
		if (j != k)
			assert_true(core_snapshot_load(g->c, r.v[j], r.len[j]) >= 0);
	assert_int_equal(core_snapshot_load(g->c, dup, len), 0);
	assert_int_equal(fx_stat(g, "/t", &st), 0);
	assert_int_equal(st.ephemeral_owner, 5000); /* the ttl, read as a session */
	assert_int_equal(st.pzxid, st.czxid);
	free(dup);
	fx_free(g);
	recs_free(&r);
	fx_free(f);
}

/* A path component longer than a node can name is refused at create. */
static void test_name_too_long(void **state)
{
	struct fx *f = fx_new();
	f->no_roundtrip = true;
	int64_t sid = fx_session(f, 10000);
	size_t max = TNODE_NAME_MAX;
	char *p = malloc(max + 8);
	memcpy(p, "/", 1);
	memset(p + 1, 'n', max + 1);
	p[max + 2] = 0;
	assert_int_equal(fx_create(f, sid, p, NULL, 0), ZE_BADARGUMENTS);
	/* the sequential suffix counts too */
	p[max - 5] = 0;
	assert_int_equal(fx_create(f, sid, p, NULL, ZK_PERSISTENT_SEQUENTIAL), ZE_BADARGUMENTS);
	p[max - 5] = 'n';
	p[max + 1] = 0;
	assert_int_equal(fx_create(f, sid, p, NULL, 0), 0);
	struct zk_response r;
	assert_int_equal(fx_read(f, sid, NULL, NULL, ZOP_GETCHILDREN, "/", false, &r), 0);
	int found = 0;
	for (int i = 0; i < r.r.children.n; i++)
		found += strlen(r.r.children.v[i]) == max;
	assert_int_equal(found, 1);
	zk_response_free(&r);
	free(p);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reserved_nodes),
	    cmocka_unit_test(test_stat_fields),
	    cmocka_unit_test(test_versions),
	    cmocka_unit_test(test_sequential),
	    cmocka_unit_test(test_create_precedence),
	    cmocka_unit_test(test_delete_precedence),
	    cmocka_unit_test(test_ephemerals),
	    cmocka_unit_test(test_multi),
	    cmocka_unit_test(test_multiread),
	    cmocka_unit_test(test_pipelined_preps),
	    cmocka_unit_test(test_deep_pipeline_and_big_multi),
	    cmocka_unit_test(test_pending_multis_one_parent),
	    cmocka_unit_test(test_pipeline_equivalence),
	    cmocka_unit_test(test_containers_ttl),
	    cmocka_unit_test(test_reads),
	    cmocka_unit_test(test_many_children),
	    cmocka_unit_test(test_snapshot_node_layout),
	    cmocka_unit_test(test_name_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
