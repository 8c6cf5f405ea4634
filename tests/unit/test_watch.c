/*
 * test_watch.c — watches through the core: one-shot data/exist/child
 * watches, persistent and persistent-recursive watches, at most one event
 * per watcher per trigger, setWatches replay with relativeZxid,
 * check/removeWatches, and dropping a watcher.
 */
#include "core_fixture.h"

static void test_one_shot(void **state)
{
	struct fx *f = fx_new();
	int64_t sid = fx_session(f, 10000);
	/* exists on a missing node watches its creation */
	assert_int_equal(fx_exists_w(f, &f->w1, "/a"), ZE_NONODE);
	/* getData on a missing node sets nothing */
	assert_int_equal(fx_getdata_w(f, &f->w2, "/a"), ZE_NONODE);
	assert_int_equal(fx_children_w(f, &f->w3, "/"), 0);
	assert_int_equal(fx_create(f, sid, "/a", NULL, 0), 0);
	assert_int_equal(f->nev, 2);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_CREATED, "/a"), 1);
	assert_int_equal(fx_count(f, &f->w3, ZK_EVENT_CHILD_CHANGED, "/"), 1);
	assert_true(f->ev[0].zxid == core_last_zxid(f->c));
	/* fired once: gone */
	assert_int_equal(fx_set(f, sid, "/a", "x", -1, NULL), 0);
	assert_int_equal(f->nev, 2);

	/* data watch: changed, then deleted */
	f->nev = 0;
	assert_int_equal(fx_getdata_w(f, &f->w1, "/a"), 0);
	assert_int_equal(fx_exists_w(f, &f->w2, "/a"), 0);
	assert_int_equal(fx_set(f, sid, "/a", "y", -1, NULL), 0);
	assert_int_equal(fx_count(f, NULL, ZK_EVENT_DATA_CHANGED, "/a"), 2);
	/* child watch fires on child create and on delete of the node itself */
	f->nev = 0;
	assert_int_equal(fx_children_w(f, &f->w1, "/a"), 0);
	assert_int_equal(fx_create(f, sid, "/a/k", NULL, 0), 0);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_CHILD_CHANGED, "/a"), 1);
	assert_int_equal(fx_delete(f, sid, "/a/k", -1), 0);
	assert_int_equal(f->nev, 1);
	/* delete: data + child watch of the same watcher → one NodeDeleted */
	f->nev = 0;
	assert_int_equal(fx_getdata_w(f, &f->w1, "/a"), 0);
	assert_int_equal(fx_children_w(f, &f->w1, "/a"), 0);
	assert_int_equal(fx_children_w(f, &f->w2, "/"), 0);
	assert_int_equal(fx_delete(f, sid, "/a", -1), 0);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_DELETED, "/a"), 1);
	assert_int_equal(fx_count(f, &f->w2, ZK_EVENT_CHILD_CHANGED, "/"), 1);
	assert_int_equal(f->nev, 2);
	/* order: the node's event before the parent's */
	assert_int_equal(f->ev[0].type, ZK_EVENT_DELETED);
	struct core_stats st;
	core_get_stats(f->c, &st);
	assert_int_equal(st.watches, 0);
	/* setACL fires nothing */
	f->nev = 0;
	assert_int_equal(fx_getdata_w(f, &f->w1, "/zookeeper"), 0);
	struct zk_request req = {.type = ZOP_SETACL};
	req.op = fx_op_create("/zookeeper", NULL, 0);
	req.op.type = ZOP_SETACL;
	req.op.version = -1;
	assert_int_equal(fx_write(f, sid, &f->auth, &req, NULL), 0);
	assert_int_equal(f->nev, 0);
	fx_free(f);
}

static void test_persistent(void **state)
{
	struct fx *f = fx_new();
	int64_t sid = fx_session(f, 10000);
	assert_int_equal(fx_watch_op(f, &f->w1, ZOP_ADDWATCH, "/p", ZK_ADDWATCH_PERSISTENT), 0);
	assert_int_equal(fx_create(f, sid, "/p", NULL, 0), 0);
	assert_int_equal(fx_create(f, sid, "/p/c", NULL, 0), 0);
	assert_int_equal(fx_create(f, sid, "/p/c/d", NULL, 0), 0); /* not a child of /p */
	assert_int_equal(fx_set(f, sid, "/p", "1", -1, NULL), 0);
	assert_int_equal(fx_set(f, sid, "/p", "2", -1, NULL), 0);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_CREATED, "/p"), 1);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_CHILD_CHANGED, "/p"), 1);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_DATA_CHANGED, "/p"), 2);
	assert_int_equal(f->nev, 4);
	/* a persistent watch is still there after firing; remove it */
	assert_int_equal(fx_watch_op(f, &f->w1, ZOP_CHECKWATCHES, "/p", ZK_WATCHER_PERSISTENT), 0);
	/* its data side answers a Data check, as in ZooKeeper */
	assert_int_equal(fx_watch_op(f, &f->w1, ZOP_CHECKWATCHES, "/p", ZK_WATCHER_DATA), 0);
	assert_int_equal(fx_watch_op(f, &f->w1, ZOP_CHECKWATCHES, "/zz", ZK_WATCHER_DATA),
			 ZE_NOWATCHER);
	assert_int_equal(fx_watch_op(f, &f->w1, ZOP_REMOVEWATCHES, "/p", ZK_WATCHER_ANY), 0);
	assert_int_equal(fx_watch_op(f, &f->w1, ZOP_REMOVEWATCHES, "/p", ZK_WATCHER_ANY),
			 ZE_NOWATCHER);
	assert_int_equal(fx_watch_op(f, &f->w1, ZOP_ADDWATCH, "/p", 7), ZE_MARSHALLINGERROR);
	assert_int_equal(fx_watch_op(f, &f->w1, ZOP_CHECKWATCHES, "/p", 9), ZE_MARSHALLINGERROR);
	f->nev = 0;
	assert_int_equal(fx_set(f, sid, "/p", "3", -1, NULL), 0);
	assert_int_equal(f->nev, 0);

	/* a persistent watch has a data side and a child side; removing the data
	 * side leaves child events (checked against Apache ZooKeeper 3.8) */
	assert_int_equal(fx_watch_op(f, &f->w1, ZOP_ADDWATCH, "/p", ZK_ADDWATCH_PERSISTENT), 0);
	assert_int_equal(fx_watch_op(f, &f->w1, ZOP_CHECKWATCHES, "/p", ZK_WATCHER_DATA), 0);
	assert_int_equal(fx_watch_op(f, &f->w1, ZOP_CHECKWATCHES, "/p", ZK_WATCHER_CHILDREN), 0);
	assert_int_equal(fx_watch_op(f, &f->w1, ZOP_REMOVEWATCHES, "/p", ZK_WATCHER_DATA), 0);
	assert_int_equal(fx_set(f, sid, "/p", "4", -1, NULL), 0);
	assert_int_equal(fx_create(f, sid, "/p/k2", NULL, 0), 0);
	assert_int_equal(f->nev, 1);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_CHILD_CHANGED, "/p"), 1);
	assert_int_equal(fx_watch_op(f, &f->w1, ZOP_REMOVEWATCHES, "/p", ZK_WATCHER_ANY), 0);
	assert_int_equal(fx_watch_op(f, &f->w1, ZOP_REMOVEWATCHES, "/p", ZK_WATCHER_ANY),
			 ZE_NOWATCHER);
	/* a recursive watch answers checks of both types too */
	assert_int_equal(
	    fx_watch_op(f, &f->w1, ZOP_ADDWATCH, "/q", ZK_ADDWATCH_PERSISTENT_RECURSIVE), 0);
	assert_int_equal(fx_watch_op(f, &f->w1, ZOP_CHECKWATCHES, "/q", ZK_WATCHER_CHILDREN), 0);
	assert_int_equal(fx_watch_op(f, &f->w1, ZOP_CHECKWATCHES, "/q", ZK_WATCHER_DATA), 0);
	fx_free(f);
}

static void test_recursive(void **state)
{
	struct fx *f = fx_new();
	int64_t sid = fx_session(f, 10000);
	assert_int_equal(
	    fx_watch_op(f, &f->w1, ZOP_ADDWATCH, "/r", ZK_ADDWATCH_PERSISTENT_RECURSIVE), 0);
	/* the same watcher also has a one-shot watch: still one event */
	assert_int_equal(fx_exists_w(f, &f->w1, "/r/a"), ZE_NONODE);
	assert_int_equal(fx_create(f, sid, "/r", NULL, 0), 0);
	assert_int_equal(fx_create(f, sid, "/r/a", NULL, 0), 0);
	assert_int_equal(fx_create(f, sid, "/r/a/b", NULL, 0), 0);
	assert_int_equal(fx_set(f, sid, "/r/a/b", "x", -1, NULL), 0);
	assert_int_equal(fx_delete(f, sid, "/r/a/b", -1), 0);
	assert_int_equal(fx_create(f, sid, "/rx", NULL, 0), 0); /* not below /r */
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_CREATED, "/r"), 1);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_CREATED, "/r/a"), 1);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_CREATED, "/r/a/b"), 1);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_DATA_CHANGED, "/r/a/b"), 1);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_DELETED, "/r/a/b"), 1);
	assert_int_equal(f->nev, 5); /* never NodeChildrenChanged */
	/* recursive from the root */
	f->nev = 0;
	assert_int_equal(
	    fx_watch_op(f, &f->w2, ZOP_ADDWATCH, "/", ZK_ADDWATCH_PERSISTENT_RECURSIVE), 0);
	assert_int_equal(fx_set(f, sid, "/rx", "1", -1, NULL), 0);
	assert_int_equal(fx_count(f, &f->w2, ZK_EVENT_DATA_CHANGED, "/rx"), 1);
	assert_int_equal(
	    fx_watch_op(f, &f->w2, ZOP_REMOVEWATCHES, "/", ZK_WATCHER_PERSISTENT_RECURSIVE), 0);
	fx_free(f);
}

static void test_set_watches(void **state)
{
	struct fx *f = fx_new();
	int64_t sid = fx_session(f, 10000);
	assert_int_equal(fx_create(f, sid, "/old", NULL, 0), 0);
	assert_int_equal(fx_create(f, sid, "/kids", NULL, 0), 0);
	int64_t rel = core_last_zxid(f->c);
	assert_int_equal(fx_create(f, sid, "/new", NULL, 0), 0);
	assert_int_equal(fx_set(f, sid, "/old", "x", -1, NULL), 0);
	assert_int_equal(fx_create(f, sid, "/kids/k", NULL, 0), 0);
	assert_int_equal(fx_create(f, sid, "/same", NULL, 0), 0);
	int64_t rel2 = core_last_zxid(f->c);
	(void)rel2;

	char *data[] = {"/old", "/gone", "/same"};
	char *exist[] = {"/new", "/notyet"};
	char *child[] = {"/kids", "/gone2", "/same"};
	char *pers[] = {"/p"};
	char *rec[] = {"/r"};
	struct zk_request req = {.type = ZOP_SETWATCHES2, .rel_zxid = rel};
	req.watches[ZK_SW_DATA] = (struct zk_str_vec){3, data};
	req.watches[ZK_SW_EXIST] = (struct zk_str_vec){2, exist};
	req.watches[ZK_SW_CHILD] = (struct zk_str_vec){3, child};
	req.watches[ZK_SW_PERSISTENT] = (struct zk_str_vec){1, pers};
	req.watches[ZK_SW_PERSISTENT_RECURSIVE] = (struct zk_str_vec){1, rec};
	/* /same was created after rel: a data watch on it has mzxid > rel, so
	 * it fires too; use a relative zxid after it for the re-arm case */
	struct zk_response resp = {0};
	assert_int_equal(core_read(f->c, sid, &f->auth, &f->w1, &req, &resp), 0);
	assert_int_equal(resp.err, 0);
	zk_response_free(&resp);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_DATA_CHANGED, "/old"), 1);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_DELETED, "/gone"), 1);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_DATA_CHANGED, "/same"), 1);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_CREATED, "/new"), 1);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_CHILD_CHANGED, "/kids"), 1);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_DELETED, "/gone2"), 1);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_CHILD_CHANGED, "/same"), 1);
	assert_int_equal(f->nev, 7);
	/* re-armed: /notyet (exist), /p and /r (two sides each) */
	struct core_stats st;
	core_get_stats(f->c, &st);
	assert_int_equal(st.watches, 5);
	assert_int_equal(st.watch_paths, 3);

	/* with an up-to-date relative zxid everything re-arms */
	core_watcher_gone(f->c, &f->w1);
	f->nev = 0;
	req.rel_zxid = core_last_zxid(f->c);
	req.type = ZOP_SETWATCHES;
	char *d2[] = {"/old", "/same"};
	char *c2[] = {"/kids"};
	req.watches[ZK_SW_DATA] = (struct zk_str_vec){2, d2};
	req.watches[ZK_SW_EXIST] = (struct zk_str_vec){0, NULL};
	req.watches[ZK_SW_CHILD] = (struct zk_str_vec){1, c2};
	assert_int_equal(core_read(f->c, sid, &f->auth, &f->w1, &req, &resp), 0);
	zk_response_free(&resp);
	assert_int_equal(f->nev, 0);
	core_get_stats(f->c, &st);
	assert_int_equal(st.watches, 3); /* setWatches (v1) ignores vectors 3 and 4 */
	assert_int_equal(fx_set(f, sid, "/old", "z", -1, NULL), 0);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_DATA_CHANGED, "/old"), 1);
	fx_free(f);
}

struct seen {
	int n;
	char last[64];
};

static void on_path(void *arg, const char *path)
{
	struct seen *s = arg;
	s->n++;
	snprintf(s->last, sizeof(s->last), "%s", path);
}

static void on_path_w(void *arg, const char *path, struct core_watcher *w)
{
	(void)w;
	on_path(arg, path);
}

static void test_gone_and_stats(void **state)
{
	struct fx *f = fx_new();
	int64_t sid = fx_session(f, 10000);
	assert_int_equal(fx_create(f, sid, "/s", NULL, 0), 0);
	assert_int_equal(fx_getdata_w(f, &f->w1, "/s"), 0);
	assert_int_equal(fx_children_w(f, &f->w1, "/s"), 0);
	assert_int_equal(fx_exists_w(f, &f->w1, "/t"), ZE_NONODE);
	assert_int_equal(fx_getdata_w(f, &f->w2, "/s"), 0);
	struct core_stats st;
	core_get_stats(f->c, &st);
	assert_int_equal(st.watches, 4); /* data and child sides count apart */
	assert_int_equal(st.watch_paths, 2);
	assert_int_equal(st.watchers, 2);
	assert_int_equal(f->w1.nwatches, 2);
	/* wchs counts data-side watches only, as ZooKeeper: w1 /s, w1 /t, w2 /s */
	uint64_t nw, np, nn;
	core_wchs(f->c, &nw, &np, &nn);
	assert_int_equal(nw, 2);
	assert_int_equal(np, 2);
	assert_int_equal(nn, 3);
	struct seen s = {0};
	core_watches_of(f->c, &f->w2, on_path, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.last, "/s");
	memset(&s, 0, sizeof(s));
	core_watches_by_path(f->c, on_path_w, &s);
	assert_int_equal(s.n, 3);
	core_watcher_gone(f->c, &f->w1);
	core_get_stats(f->c, &st);
	assert_int_equal(st.watches, 1);
	assert_int_equal(st.watchers, 1);
	assert_int_equal(fx_set(f, sid, "/s", "x", -1, NULL), 0);
	assert_int_equal(f->nev, 1);
	assert_true(f->ev[0].w == &f->w2);
	fx_free(f);
}

/* As in ZooKeeper: a watcher whose connection may not READ the node an
 * event is about does not hear it, and its one-shot watch is used up. */
static void test_no_read_no_event(void **state)
{
	struct fx *f = fx_new();
	int64_t sid = fx_session(f, 10000);
	struct core_auth alice;
	core_auth_init(&alice, "127.0.0.1");
	assert_int_equal(core_auth_add(f->c, &alice, "digest", (const uint8_t *)"alice:pw", 8), 0);
	/* world may do everything but read; alice may read */
	struct zk_acl acl[2] = {
	    {ZK_PERM_ALL & ~ZK_PERM_READ, {(char *)"world", (char *)"anyone"}},
	    {ZK_PERM_READ, {(char *)"digest", (char *)"alice:V55/p2T0OpjQ+low3NVAH4aLvm0="}},
	};
	struct zk_request req = {.type = ZOP_CREATE};
	req.op = fx_op_create("/n", "0", 0);
	req.op.acl.n = 2;
	req.op.acl.v = acl;
	assert_int_equal(fx_write(f, sid, &f->auth, &req, NULL), 0);
	req.op = fx_op_create("/p", "0", 0); /* world-readable parent of a hidden child */
	assert_int_equal(fx_write(f, sid, &f->auth, &req, NULL), 0);

	struct zk_response resp;
	/* exists needs no permission, so both may watch */
	assert_int_equal(fx_exists_w(f, &f->w1, "/n"), 0);
	assert_int_equal(fx_read(f, 0, &alice, &f->w2, ZOP_EXISTS, "/n", true, &resp), 0);
	zk_response_free(&resp);
	assert_int_equal(
	    fx_watch_op(f, &f->w1, ZOP_ADDWATCH, "/", ZK_ADDWATCH_PERSISTENT_RECURSIVE), 0);
	assert_int_equal(fx_children_w(f, &f->w3, "/p"), 0);
	f->nev = 0;
	assert_int_equal(fx_set(f, sid, "/n", "1", -1, NULL), 0);
	assert_int_equal(f->nev, 1);
	assert_true(f->ev[0].w == &f->w2);
	/* w1's one-shot watch fired unheard: gone */
	assert_int_equal(fx_watch_op(f, &f->w1, ZOP_CHECKWATCHES, "/n", ZK_WATCHER_DATA),
			 ZE_NOWATCHER);
	/* a hidden child of a readable parent: NodeChildrenChanged is about the
	 * parent and is heard; the recursive NodeCreated of the child is not */
	f->nev = 0;
	req.op = fx_op_create("/p/h", "0", 0);
	req.op.acl.n = 2;
	req.op.acl.v = acl;
	assert_int_equal(fx_write(f, sid, &f->auth, &req, NULL), 0);
	assert_int_equal(fx_count(f, &f->w3, ZK_EVENT_CHILD_CHANGED, "/p"), 1);
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_CREATED, "/p/h"), 0);
	assert_int_equal(f->nev, 1);
	/* delete of the hidden node: its NodeDeleted is checked against the
	 * ACL it had (the node is gone by then) */
	f->nev = 0;
	assert_int_equal(fx_read(f, 0, &alice, &f->w2, ZOP_EXISTS, "/n", true, &resp), 0);
	zk_response_free(&resp);
	assert_int_equal(fx_exists_w(f, &f->w3, "/n"), 0);
	assert_int_equal(fx_delete(f, sid, "/n", -1), 0);
	assert_int_equal(fx_count(f, &f->w2, ZK_EVENT_DELETED, "/n"), 1);
	assert_int_equal(fx_count(f, &f->w3, ZK_EVENT_DELETED, "/n"), 0);
	/* the recursive watch on / hears NodeDeleted? no: /n was not readable */
	assert_int_equal(fx_count(f, &f->w1, ZK_EVENT_DELETED, "/n"), 0);
	core_watcher_gone(f->c, &f->w2); /* before alice's identities go */
	core_auth_free(&alice);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_shot),	   cmocka_unit_test(test_persistent),
	    cmocka_unit_test(test_recursive),	   cmocka_unit_test(test_set_watches),
	    cmocka_unit_test(test_gone_and_stats), cmocka_unit_test(test_no_read_no_event),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
