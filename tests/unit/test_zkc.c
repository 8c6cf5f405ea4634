/*
 * test_zkc.c — libzkc against real servers: every operation of the API
 * (blocking and asynchronous), watches of every kind, chroot, large
 * replies and the outstanding-request cap.  The same tests run once per
 * server kind (Apache ZooKeeper 3.8, zkfs-server) and assert the same
 * results; a kind whose server cannot start is skipped.
 */
#include <errno.h>

#include "test_zkc_common.h"

struct fx {
	struct srv srv;
	zkc_client *c;
};

static int group_setup(void **state, const char *kind)
{
	struct fx *f = calloc(1, sizeof(*f));
	srv_start(&f->srv, kind, NULL);
	if (f->srv.port > 0 && zkc_client_new(&f->c) != ZE_OK)
		f->c = NULL;
	*state = f;
	return 0;
}
static int setup_apache(void **state) { return group_setup(state, "apache"); }
static int setup_zkfs(void **state) { return group_setup(state, "zkfs"); }

static int group_teardown(void **state)
{
	struct fx *f = *state;
	if (f->c)
		zkc_client_free(f->c);
	srv_stop(&f->srv);
	free(f);
	return 0;
}

static struct fx *need(void **state)
{
	struct fx *f = *state;
	if (f->srv.port <= 0 || !f->c) {
		print_message("# no %s server; skipping\n", f->srv.kind);
		skip();
	}
	return f;
}

static zkc_session *open_s(struct fx *f, const char *suffix, const struct zkc_options *opt)
{
	char spec[400];
	snprintf(spec, sizeof(spec), "%s%s", f->srv.spec, suffix ? suffix : "");
	zkc_session *s = NULL;
	int err = zkc_b_open(f->c, spec, 10000, opt, 15000, &s);
	assert_int_equal(err, ZE_OK);
	zkc_b_set_deadline(s, 20000);
	return s;
}

static void rmr(zkc_session *s, const char *path)
{
	struct zk_str_vec kids = {0};
	if (zkc_b_get_children(s, path, NULL, NULL, &kids, NULL) == ZE_OK) {
		for (int i = 0; i < kids.n; i++) {
			char p[512];
			snprintf(p, sizeof(p), "%s/%s", strcmp(path, "/") ? path : "", kids.v[i]);
			rmr(s, p);
		}
		zk_str_vec_free(&kids);
	}
	zkc_b_delete(s, path, -1);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ------------------------------------------------------------------ CRUD */

static void test_crud(void **state)
{
	struct fx *f = need(state);
	zkc_session *s = open_s(f, NULL, NULL);
	rmr(s, "/crud");
	char *created = NULL;
	struct zk_stat st;
	assert_int_equal(zkc_b_create(s, "/crud", "v1", 2, NULL, ZK_PERSISTENT, 0, &created, &st), ZE_OK);
	assert_string_equal(created, "/crud");
	free(created);
	assert_int_equal(st.version, 0);
	assert_int_equal(zkc_b_create(s, "/crud", "v1", 2, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_NODEEXISTS);
	assert_int_equal(zkc_b_create(s, "/nope/x", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_NONODE);

	uint8_t *data = NULL;
	int32_t len = 0;
	assert_int_equal(zkc_b_get(s, "/crud", NULL, NULL, &data, &len, &st), ZE_OK);
	assert_int_equal(len, 2);
	assert_memory_equal(data, "v1", 2);
	free(data);
	assert_int_equal(zkc_b_set(s, "/crud", "v2", 2, 0, &st), ZE_OK);
	assert_int_equal(st.version, 1);
	assert_int_equal(zkc_b_set(s, "/crud", "v3", 2, 0, NULL), ZE_BADVERSION);
	assert_int_equal(zkc_b_set(s, "/nope", "v3", 2, -1, NULL), ZE_NONODE);
	assert_int_equal(zkc_b_exists(s, "/crud", NULL, NULL, &st), ZE_OK);
	assert_int_equal(st.data_length, 2);
	assert_int_equal(zkc_b_exists(s, "/nope", NULL, NULL, NULL), ZE_NONODE);

	assert_int_equal(zkc_b_create(s, "/crud/c2", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_create(s, "/crud/c1", NULL, -1, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_get(s, "/crud/c1", NULL, NULL, &data, &len, &st), ZE_OK);
	assert_true(len <= 0);
	assert_int_equal(st.data_length, 0);
	free(data);
	struct zk_str_vec kids = {0};
	assert_int_equal(zkc_b_get_children(s, "/crud", NULL, NULL, &kids, &st), ZE_OK);
	assert_int_equal(kids.n, 2);
	qsort(kids.v, (size_t)kids.n, sizeof(char *), cmp_str);
	assert_string_equal(kids.v[0], "c1");
	assert_string_equal(kids.v[1], "c2");
	assert_int_equal(st.num_children, 2);
	zk_str_vec_free(&kids);
	assert_int_equal(zkc_b_delete(s, "/crud", -1), ZE_NOTEMPTY);
	assert_int_equal(zkc_b_delete(s, "/crud/c1", 5), ZE_BADVERSION);
	assert_int_equal(zkc_b_delete(s, "/crud/c1", 0), ZE_OK);
	assert_int_equal(zkc_b_delete(s, "/crud/c1", -1), ZE_NONODE);

	/* sequential, ephemeral, container, TTL */
	assert_int_equal(zkc_b_create(s, "/crud/s-", "x", 1, NULL, ZK_PERSISTENT_SEQUENTIAL, 0, &created, NULL), ZE_OK);
	assert_int_equal(strncmp(created, "/crud/s-", 8), 0);
	assert_int_equal(strlen(created), 18);
	free(created);
	assert_int_equal(zkc_b_create(s, "/crud/e", "e", 1, NULL, ZK_EPHEMERAL, 0, NULL, &st), ZE_OK);
	assert_true(st.ephemeral_owner == zkc_session_id(s, NULL));
	assert_int_equal(zkc_b_create(s, "/crud/e/x", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL),
			 ZE_NOCHILDRENFOREPHEMERALS);
	struct zk_str_vec eph = {0};
	assert_int_equal(zkc_b_get_ephemerals(s, "/crud", &eph), ZE_OK);
	assert_int_equal(eph.n, 1);
	assert_string_equal(eph.v[0], "/crud/e");
	zk_str_vec_free(&eph);
	assert_int_equal(zkc_b_create(s, "/crud/cont", "", 0, NULL, ZK_CONTAINER, 0, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_create(s, "/crud/ttl", "", 0, NULL, ZK_PERSISTENT_WITH_TTL, 100000, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_create(s, "/crud/ttl2", "", 0, NULL, ZK_PERSISTENT_WITH_TTL, 0, NULL, NULL),
			 ZE_BADARGUMENTS);
	assert_int_equal(zkc_b_create(s, "noslash", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_BADARGUMENTS);
	assert_int_equal(zkc_b_create(s, "/a/", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_BADARGUMENTS);
	int32_t n = 0;
	assert_int_equal(zkc_b_get_all_children_number(s, "/crud", &n), ZE_OK);
	assert_int_equal(n, 5); /* c2, s-…, e, cont, ttl */
	assert_int_equal(zkc_b_sync(s, "/crud"), ZE_OK);
	rmr(s, "/crud");
	zkc_b_close(s);
}

/* ------------------------------------------------------------------ ACL and auth */

static void test_acl_auth(void **state)
{
	struct fx *f = need(state);
	zkc_session *s = open_s(f, NULL, NULL);
	rmr(s, "/acl");
	assert_int_equal(zkc_b_create(s, "/acl", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	struct zk_acl_vec acl = {0};
	struct zk_stat st;
	assert_int_equal(zkc_b_get_acl(s, "/acl", &acl, &st), ZE_OK);
	assert_int_equal(acl.n, 1);
	assert_string_equal(acl.v[0].id.scheme, "world");
	assert_string_equal(acl.v[0].id.id, "anyone");
	assert_int_equal(acl.v[0].perms, ZK_PERM_ALL);
	zk_acl_vec_free(&acl);
	assert_int_equal(zkc_b_set_acl(s, "/acl", &zkc_acl_read, 3, NULL), ZE_BADVERSION);
	assert_int_equal(zkc_b_set_acl(s, "/acl", &zkc_acl_read, 0, &st), ZE_OK);
	assert_int_equal(st.aversion, 1);
	assert_int_equal(zkc_b_set(s, "/acl", "x", 1, -1, NULL), ZE_NOAUTH);
	/* creator ACL without credentials is invalid */
	assert_int_equal(zkc_b_create(s, "/acl2", "", 0, &zkc_acl_creator, ZK_PERSISTENT, 0, NULL, NULL), ZE_INVALIDACL);

	/* digest auth through the option and through addAuth */
	struct zkc_auth au = {"digest", "alice:secret", 12};
	struct zkc_options opt = {.auth = &au, .nauth = 1};
	zkc_session *a = open_s(f, NULL, &opt);
	rmr(a, "/sec");
	assert_int_equal(zkc_b_create(a, "/sec", "s", 1, &zkc_acl_creator, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_get_acl(a, "/sec", &acl, NULL), ZE_OK);
	char *id = zkc_digest_id("alice:secret");
	assert_int_equal(acl.n, 1);
	assert_string_equal(acl.v[0].id.scheme, "digest");
	assert_string_equal(acl.v[0].id.id, id);
	free(id);
	zk_acl_vec_free(&acl);
	assert_int_equal(zkc_b_get(s, "/sec", NULL, NULL, NULL, NULL, NULL), ZE_NOAUTH);
	assert_int_equal(zkc_b_add_auth(s, "digest", "alice:secret", 12), ZE_OK);
	assert_int_equal(zkc_b_get(s, "/sec", NULL, NULL, NULL, NULL, NULL), ZE_OK);
	/* ACL text helpers */
	assert_int_equal(zkc_acl_parse("world:anyone:cdrwa,digest:bob:abc=:r", &acl), ZE_OK);
	assert_int_equal(acl.n, 2);
	assert_string_equal(acl.v[1].id.id, "bob:abc=");
	assert_int_equal(acl.v[1].perms, ZK_PERM_READ);
	zk_acl_vec_free(&acl);
	assert_int_equal(zkc_acl_parse("world:anyone:xyz", &acl), ZE_BADARGUMENTS);
	char p[8];
	zkc_perms_format(ZK_PERM_ALL, p);
	assert_string_equal(p, "cdrwa");
	rmr(a, "/sec");
	zkc_b_set_acl(s, "/acl", &zkc_acl_open, -1, NULL);
	rmr(s, "/acl");
	zkc_b_close(a);
	zkc_b_close(s);
}

/* whoAmI names the digest user by its name, as Apache ZooKeeper does. */
static void test_whoami(void **state)
{
	struct fx *f = need(state);
	struct zkc_auth au = {"digest", "alice:secret", 12};
	struct zkc_options opt = {.auth = &au, .nauth = 1};
	zkc_session *s = open_s(f, NULL, &opt);
	struct zkc_result who = {0};
	assert_int_equal(zkc_b_whoami(s, &who), ZE_OK);
	bool found = false, ip = false;
	for (int i = 0; i < who.r.ninfo; i++) {
		found = found ||
			(strcmp(who.r.info[i].auth_scheme, "digest") == 0 && strcmp(who.r.info[i].user, "alice") == 0);
		ip = ip || strcmp(who.r.info[i].auth_scheme, "ip") == 0;
	}
	zkc_result_free(&who);
	zkc_b_close(s);
	assert_true(ip);
	assert_true(found);
}

/* ------------------------------------------------------------------ multi */

static void test_multi(void **state)
{
	struct fx *f = need(state);
	zkc_session *s = open_s(f, NULL, NULL);
	rmr(s, "/mu");
	assert_int_equal(zkc_b_create(s, "/mu", "0", 1, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	struct zk_op ops[3] = {
		{.type = ZOP_CREATE2, .path = "/mu/a", .data = (uint8_t *)"A", .data_len = 1, .flags = ZK_PERSISTENT},
		{.type = ZOP_SETDATA, .path = "/mu", .data = (uint8_t *)"1", .data_len = 1, .version = 0},
		{.type = ZOP_CHECK, .path = "/mu", .version = 1},
	};
	struct zkc_result res = {0};
	assert_int_equal(zkc_b_multi(s, ops, 3, &res), ZE_OK);
	assert_int_equal(res.nres, 3);
	assert_string_equal(res.res[0].path, "/mu/a");
	assert_int_equal(res.res[1].stat.version, 1);
	zkc_result_free(&res);
	/* atomic failure */
	struct zk_op bad[2] = {
		{.type = ZOP_CREATE, .path = "/mu/b", .data_len = -1, .flags = ZK_PERSISTENT},
		{.type = ZOP_DELETE, .path = "/mu/none", .version = -1},
	};
	assert_int_equal(zkc_b_multi(s, bad, 2, &res), ZE_NONODE);
	assert_int_equal(res.nres, 2);
	assert_int_equal(res.res[1].err, ZE_NONODE);
	zkc_result_free(&res);
	assert_int_equal(zkc_b_exists(s, "/mu/b", NULL, NULL, NULL), ZE_NONODE);
	/* multiRead */
	struct zk_op rd[3] = {
		{.type = ZOP_GETDATA, .path = "/mu"},
		{.type = ZOP_GETCHILDREN, .path = "/mu"},
		{.type = ZOP_GETDATA, .path = "/mu/none"},
	};
	assert_int_equal(zkc_b_multi_read(s, rd, 3, &res), ZE_OK);
	assert_int_equal(res.nres, 3);
	assert_int_equal(res.res[0].data_len, 1);
	assert_memory_equal(res.res[0].data, "1", 1);
	assert_int_equal(res.res[1].children.n, 1);
	assert_string_equal(res.res[1].children.v[0], "a");
	assert_int_equal(res.res[2].type, ZOP_ERROR);
	assert_int_equal(res.res[2].err, ZE_NONODE);
	zkc_result_free(&res);
	/* mixing kinds is refused locally */
	struct zk_op mix[1] = {{.type = ZOP_GETDATA, .path = "/mu"}};
	assert_int_equal(zkc_b_multi(s, mix, 1, NULL), ZE_BADARGUMENTS);
	rmr(s, "/mu");
	zkc_b_close(s);
}

/* ------------------------------------------------------------------ watches */

static void test_watches(void **state)
{
	struct fx *f = need(state);
	struct evlog *l = malloc(sizeof(*l));
	evlog_init(l);
	zkc_session *a = open_s(f, NULL, NULL);
	zkc_session *b = open_s(f, NULL, NULL);
	rmr(b, "/w");
	rmr(b, "/w2");
	rmr(b, "/p");
	rmr(b, "/r");
	assert_int_equal(zkc_b_create(b, "/w", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);

	/* one-shot data watch */
	assert_int_equal(zkc_b_get(a, "/w", on_ev, l, NULL, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_check_watches(a, "/w", ZK_WATCHER_DATA), ZE_OK);
	assert_int_equal(zkc_b_set(b, "/w", "1", 1, -1, NULL), ZE_OK);
	assert_int_equal(wait_ev(l, ZK_EVENT_DATA_CHANGED, "/w", 1, 5000), 1);
	assert_int_equal(zkc_b_set(b, "/w", "2", 1, -1, NULL), ZE_OK);
	assert_int_equal(zkc_b_sync(a, "/w"), ZE_OK);
	usleep(100000);
	assert_int_equal(evlog_count(l, ZK_EVENT_DATA_CHANGED, "/w"), 1);
	assert_int_equal(zkc_b_check_watches(a, "/w", ZK_WATCHER_DATA), ZE_NOWATCHER);

	/* exists watch on a missing node */
	assert_int_equal(zkc_b_exists(a, "/w2", on_ev, l, NULL), ZE_NONODE);
	assert_int_equal(zkc_b_create(b, "/w2", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	assert_int_equal(wait_ev(l, ZK_EVENT_CREATED, "/w2", 1, 5000), 1);

	/* child watch; delete fires NodeDeleted on a data watch */
	assert_int_equal(zkc_b_get_children(a, "/w", on_ev, l, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_create(b, "/w/c", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	assert_int_equal(wait_ev(l, ZK_EVENT_CHILD_CHANGED, "/w", 1, 5000), 1);
	assert_int_equal(zkc_b_exists(a, "/w2", on_ev, l, NULL), ZE_OK);
	assert_int_equal(zkc_b_delete(b, "/w2", -1), ZE_OK);
	assert_int_equal(wait_ev(l, ZK_EVENT_DELETED, "/w2", 1, 5000), 1);

	/* persistent */
	assert_int_equal(zkc_b_add_watch(a, "/p", ZK_ADDWATCH_PERSISTENT, on_ev, l), ZE_OK);
	assert_int_equal(zkc_b_create(b, "/p", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_set(b, "/p", "1", 1, -1, NULL), ZE_OK);
	assert_int_equal(zkc_b_set(b, "/p", "2", 1, -1, NULL), ZE_OK);
	assert_int_equal(zkc_b_create(b, "/p/k", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	assert_int_equal(wait_ev(l, ZK_EVENT_CREATED, "/p", 1, 5000), 1);
	assert_int_equal(wait_ev(l, ZK_EVENT_DATA_CHANGED, "/p", 2, 5000), 2);
	assert_int_equal(wait_ev(l, ZK_EVENT_CHILD_CHANGED, "/p", 1, 5000), 1);
	assert_int_equal(zkc_b_check_watches(a, "/p", ZK_WATCHER_PERSISTENT), ZE_OK);
	assert_int_equal(zkc_b_remove_watches(a, "/p", ZK_WATCHER_PERSISTENT, NULL, NULL, false), ZE_OK);
	assert_int_equal(wait_ev(l, ZK_EVENT_PERSISTENT_WATCH_REMOVED, "/p", 1, 1000), 1);
	assert_int_equal(zkc_b_check_watches(a, "/p", ZK_WATCHER_PERSISTENT), ZE_NOWATCHER);
	assert_int_equal(zkc_b_set(b, "/p", "3", 1, -1, NULL), ZE_OK);
	assert_int_equal(zkc_b_sync(a, "/p"), ZE_OK);
	usleep(100000);
	assert_int_equal(evlog_count(l, ZK_EVENT_DATA_CHANGED, "/p"), 2);

	/* recursive */
	assert_int_equal(zkc_b_add_watch(a, "/r", ZK_ADDWATCH_PERSISTENT_RECURSIVE, on_ev, l), ZE_OK);
	assert_int_equal(zkc_b_create(b, "/r", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_create(b, "/r/a", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_create(b, "/r/a/b", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_set(b, "/r/a/b", "x", 1, -1, NULL), ZE_OK);
	assert_int_equal(zkc_b_delete(b, "/r/a/b", -1), ZE_OK);
	assert_int_equal(wait_ev(l, ZK_EVENT_CREATED, "/r", 1, 5000), 1);
	assert_int_equal(wait_ev(l, ZK_EVENT_CREATED, "/r/a", 1, 5000), 1);
	assert_int_equal(wait_ev(l, ZK_EVENT_CREATED, "/r/a/b", 1, 5000), 1);
	assert_int_equal(wait_ev(l, ZK_EVENT_DATA_CHANGED, "/r/a/b", 1, 5000), 1);
	assert_int_equal(wait_ev(l, ZK_EVENT_DELETED, "/r/a/b", 1, 5000), 1);
	assert_int_equal(evlog_count(l, ZK_EVENT_CHILD_CHANGED, "/r"), 0);

	/* removing one data watcher among two keeps the server watch */
	struct evlog *l2 = malloc(sizeof(*l2));
	evlog_init(l2);
	assert_int_equal(zkc_b_get(a, "/w", on_ev, l, NULL, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_get(a, "/w", on_ev, l2, NULL, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_remove_watches(a, "/w", ZK_WATCHER_DATA, on_ev, l, false), ZE_OK);
	assert_int_equal(wait_ev(l, ZK_EVENT_DATA_WATCH_REMOVED, "/w", 1, 1000), 1);
	assert_int_equal(zkc_b_set(b, "/w", "3", 1, -1, NULL), ZE_OK);
	assert_int_equal(wait_ev(l2, ZK_EVENT_DATA_CHANGED, "/w", 1, 5000), 1);
	assert_int_equal(evlog_count(l, ZK_EVENT_DATA_CHANGED, "/w"), 1);
	assert_int_equal(zkc_b_remove_watches(a, "/w", ZK_WATCHER_CHILDREN, NULL, NULL, false), ZE_NOWATCHER);

	/* the session-wide watcher */
	struct evlog *l3 = malloc(sizeof(*l3));
	evlog_init(l3);
	struct zkc_options wopt = {.watch_cb = on_ev, .watch_arg = l3};
	zkc_session *c = open_s(f, NULL, &wopt);
	assert_int_equal(zkc_b_get(c, "/w", zkc_session_watcher, NULL, NULL, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_set(b, "/w", "4", 1, -1, NULL), ZE_OK);
	assert_int_equal(wait_ev(l3, ZK_EVENT_DATA_CHANGED, "/w", 1, 5000), 1);
	assert_int_equal(zkc_b_get(a, "/w", zkc_session_watcher, NULL, NULL, NULL, NULL), ZE_BADARGUMENTS);
	zkc_b_close(c);
	evlog_destroy(l3);
	free(l3);

	/* closing ends the remaining watches with a final NONE event */
	assert_int_equal(zkc_b_get(a, "/w", on_ev, l2, NULL, NULL, NULL), ZE_OK);
	zkc_b_close(a);
	assert_int_equal(evlog_count(l2, ZK_EVENT_NONE, "/w"), 1);
	assert_int_equal(evlog_count(l, ZK_EVENT_NONE, "/r"), 1);
	rmr(b, "/w");
	rmr(b, "/p");
	rmr(b, "/r");
	zkc_b_close(b);
	evlog_destroy(l);
	evlog_destroy(l2);
	free(l);
	free(l2);
}

/* ------------------------------------------------------------------ chroot */

static void test_chroot(void **state)
{
	struct fx *f = need(state);
	struct evlog *l = malloc(sizeof(*l));
	evlog_init(l);
	zkc_session *b = open_s(f, NULL, NULL);
	rmr(b, "/ch");
	assert_int_equal(zkc_b_create(b, "/ch", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_create(b, "/ch/app", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	zkc_session *a = open_s(f, "/ch/app", NULL);
	char *created = NULL;
	assert_int_equal(zkc_b_create(a, "/x", "1", 1, NULL, ZK_PERSISTENT, 0, &created, NULL), ZE_OK);
	assert_string_equal(created, "/x");
	free(created);
	assert_int_equal(zkc_b_exists(b, "/ch/app/x", NULL, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_create(a, "/s-", "", 0, NULL, ZK_EPHEMERAL_SEQUENTIAL, 0, &created, NULL), ZE_OK);
	assert_int_equal(strncmp(created, "/s-", 3), 0);
	struct zk_str_vec v = {0};
	assert_int_equal(zkc_b_get_ephemerals(a, "/", &v), ZE_OK);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.v[0], created);
	zk_str_vec_free(&v);
	free(created);
	assert_int_equal(zkc_b_get_children(a, "/", NULL, NULL, &v, NULL), ZE_OK);
	assert_int_equal(v.n, 2);
	zk_str_vec_free(&v);
	assert_int_equal(zkc_b_get(a, "/x", on_ev, l, NULL, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_add_watch(a, "/", ZK_ADDWATCH_PERSISTENT_RECURSIVE, on_ev, l), ZE_OK);
	assert_int_equal(zkc_b_set(b, "/ch/app/x", "2", 1, -1, NULL), ZE_OK);
	assert_int_equal(zkc_b_create(b, "/ch/app/y", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	assert_int_equal(wait_ev(l, ZK_EVENT_DATA_CHANGED, "/x", 2, 5000), 2); /* one-shot + recursive */
	assert_int_equal(wait_ev(l, ZK_EVENT_CREATED, "/y", 1, 5000), 1);
	struct zk_op ops[1] = {{.type = ZOP_CREATE, .path = "/z", .data_len = -1, .flags = ZK_PERSISTENT}};
	struct zkc_result res = {0};
	assert_int_equal(zkc_b_multi(a, ops, 1, &res), ZE_OK);
	assert_string_equal(res.res[0].path, "/z");
	zkc_result_free(&res);
	assert_int_equal(zkc_b_sync(a, "/"), ZE_OK);
	zkc_b_close(a);
	rmr(b, "/ch");
	zkc_b_close(b);
	evlog_destroy(l);
	free(l);
}

/* ------------------------------------------------------------------ large */

struct counter {
	int done, fail, first_err;
};

static void count_done(zkc_session *s, int err, struct zkc_result *res, void *arg)
{
	struct counter *c = arg;
	(void)s;
	(void)res;
	c->done++;
	if (err) {
		if (!c->fail)
			c->first_err = err;
		c->fail++;
	}
}

/* Runs batches of multi ops of 500 creates/deletes of /big/cNNNNN on a
 * private loop (async API). */
static void big_batch(zkc_session *s, uv_loop_t *loop, int total, bool create)
{
	struct counter c = {0};
	int sent = 0, batches = 0;
	struct zk_op ops[500];
	char names[500][24];
	while (sent < total) {
		int n = total - sent > 500 ? 500 : total - sent;
		for (int i = 0; i < n; i++) {
			snprintf(names[i], sizeof(names[i]), "/big/c%05d", sent + i);
			memset(&ops[i], 0, sizeof(ops[i]));
			ops[i].type = create ? ZOP_CREATE : ZOP_DELETE;
			ops[i].path = names[i];
			ops[i].data_len = -1;
			ops[i].version = -1;
		}
		assert_int_equal(zkc_multi(s, ops, n, count_done, &c), ZE_OK);
		sent += n;
		batches++;
		while (batches - c.done >= 8)
			uv_run(loop, UV_RUN_ONCE);
	}
	while (c.done < batches)
		uv_run(loop, UV_RUN_ONCE);
	assert_int_equal(c.fail, 0);
}

struct kids_res {
	int done, err, n;
};

static void kids_done(zkc_session *s, int err, struct zkc_result *res, void *arg)
{
	struct kids_res *k = arg;
	(void)s;
	k->done = 1;
	k->err = err;
	k->n = res->r.children.n;
}

static void closed_flag(void *arg)
{
	*(int *)arg = 1;
}

static void test_large(void **state)
{
	struct fx *f = need(state);
	zkc_session *s = open_s(f, NULL, NULL);
	rmr(s, "/large");
	size_t big = 1024 * 1024 - 1024;
	uint8_t *buf = malloc(big);
	for (size_t i = 0; i < big; i++)
		buf[i] = (uint8_t)(i * 7);
	assert_int_equal(zkc_b_create(s, "/large", buf, (int32_t)big, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	uint8_t *back = NULL;
	int32_t len = 0;
	assert_int_equal(zkc_b_get(s, "/large", NULL, NULL, &back, &len, NULL), ZE_OK);
	assert_int_equal(len, (int32_t)big);
	assert_memory_equal(back, buf, big);
	free(back);
	/* a request over the limit is refused locally */
	uint8_t *huge = calloc(1, 2 * 1024 * 1024);
	assert_int_equal(zkc_b_set(s, "/large", huge, 2 * 1024 * 1024, -1, NULL), ZE_BADARGUMENTS);
	free(huge);
	/* a reply over max_frame fails that request only */
	struct zkc_options small = {.max_frame = 4096};
	zkc_session *t = open_s(f, NULL, &small);
	assert_int_equal(zkc_b_get(t, "/large", NULL, NULL, NULL, NULL, NULL), ZE_MARSHALLINGERROR);
	assert_int_equal(zkc_b_exists(t, "/large", NULL, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_session_state(t), ZKC_STATE_CONNECTED);
	zkc_b_close(t);
	free(buf);
	assert_int_equal(zkc_b_delete(s, "/large", -1), ZE_OK);

	/* 100k children, on a private loop with the async API */
	int total = getenv("ZKC_BIG_CHILDREN") ? atoi(getenv("ZKC_BIG_CHILDREN")) : 100000;
	rmr(s, "/big");
	assert_int_equal(zkc_b_create(s, "/big", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	zkc_b_close(s);
	uv_loop_t loop;
	uv_loop_init(&loop);
	zkc_session *as;
	assert_int_equal(zkc_session_open(&loop, f->srv.spec, 20000, NULL, &as), ZE_OK);
	big_batch(as, &loop, total, true);
	struct kids_res k = {0};
	assert_int_equal(zkc_get_children(as, "/big", NULL, NULL, kids_done, &k), ZE_OK);
	while (!k.done)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(k.err, ZE_OK);
	assert_int_equal(k.n, total);
	big_batch(as, &loop, total, false);
	struct counter c = {0};
	assert_int_equal(zkc_delete(as, "/big", -1, count_done, &c), ZE_OK);
	while (!c.done)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(c.fail, 0);
	int closed = 0;
	zkc_session_close(as, closed_flag, &closed);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(closed, 1);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* ------------------------------------------------------------------ async API */

struct chain {
	int step;
	int errs[16];
	bool in_submit;
	bool reentered;
	struct evlog *l;
};

static void chain_cb(zkc_session *s, int err, struct zkc_result *res, void *arg)
{
	struct chain *c = arg;
	if (c->in_submit)
		c->reentered = true;
	c->errs[c->step++] = err;
	c->in_submit = true;
	switch (c->step) {
	case 1: /* created */
		assert_string_equal(res->r.path, "/as");
		zkc_get(s, "/as", on_ev, c->l, chain_cb, c);
		break;
	case 2:
		assert_int_equal(res->r.data_len, 3);
		zkc_set(s, "/as", "def", 3, 0, chain_cb, c);
		break;
	case 3:
		assert_int_equal(res->r.stat.version, 1);
		zkc_exists(s, "/as", NULL, NULL, chain_cb, c);
		break;
	case 4:
		zkc_get_acl(s, "/as", chain_cb, c);
		break;
	case 5:
		assert_int_equal(res->r.acl.n, 1);
		zkc_set_acl(s, "/as", &zkc_acl_open, 0, chain_cb, c);
		break;
	case 6:
		zkc_get_children(s, "/as", NULL, NULL, chain_cb, c);
		break;
	case 7:
		zkc_sync(s, "/as", chain_cb, c);
		break;
	case 8:
		zkc_get_all_children_number(s, "/as", chain_cb, c);
		break;
	case 9:
		zkc_whoami(s, chain_cb, c);
		break;
	case 10:
		zkc_check_watches(s, "/as", ZK_WATCHER_CHILDREN, chain_cb, c);
		break;
	case 11: /* NOWATCHER */
		zkc_delete(s, "/as", -1, chain_cb, c);
		break;
	case 12:
		zkc_get_ephemerals(s, "/", chain_cb, c);
		break;
	}
	c->in_submit = false;
}

static void test_async(void **state)
{
	struct fx *f = need(state);
	struct evlog *l = malloc(sizeof(*l));
	evlog_init(l);
	uv_loop_t loop;
	uv_loop_init(&loop);
	zkc_session *s;
	struct zkc_options opt = {.state_cb = on_state_log, .state_arg = l};
	assert_int_equal(zkc_session_open(&loop, f->srv.spec, 10000, &opt, &s), ZE_OK);
	struct counter pre = {0};
	assert_int_equal(zkc_delete(s, "/as", -1, count_done, &pre), ZE_OK); /* queued before connect */
	while (!pre.done)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(zkc_session_state(s), ZKC_STATE_CONNECTED);
	struct chain c = {.l = l};
	c.in_submit = true;
	assert_int_equal(zkc_create(s, "/as", "abc", 3, NULL, ZK_PERSISTENT, 0, chain_cb, &c), ZE_OK);
	c.in_submit = false;
	for (int i = 0; i < 2000 && c.step < 13; i++)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(c.step, 13);
	assert_false(c.reentered);
	for (int i = 0; i < 13; i++)
		if (i != 10)
			assert_int_equal(c.errs[i], ZE_OK);
	assert_int_equal(c.errs[10], ZE_NOWATCHER);
	assert_int_equal(wait_ev(l, ZK_EVENT_DATA_CHANGED, "/as", 1, 0), 1);
	/* throttling */
	zkc_session *t;
	struct zkc_options small = {.max_outstanding = 10};
	assert_int_equal(zkc_session_open(&loop, f->srv.spec, 10000, &small, &t), ZE_OK);
	struct counter tc = {0};
	int accepted = 0, throttled = 0;
	for (int i = 0; i < 20; i++) {
		int e = zkc_exists(t, "/", NULL, NULL, count_done, &tc);
		accepted += e == ZE_OK;
		throttled += e == ZE_THROTTLEDOP;
	}
	assert_int_equal(accepted, 10);
	assert_int_equal(throttled, 10);
	assert_int_equal(zkc_session_outstanding(t), 10);
	while (tc.done < 10)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(tc.fail, 0);
	/* requests outstanding at close fail with ZE_CLOSING */
	struct counter cc = {0};
	assert_int_equal(zkc_exists(t, "/", NULL, NULL, count_done, &cc), ZE_OK);
	int closed = 0;
	zkc_session_close(t, closed_flag, &closed);
	assert_int_equal(cc.first_err, ZE_CLOSING);
	zkc_session_close(s, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(closed, 1);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_true(state_count(l, ZKC_STATE_CONNECTED) >= 1);
	assert_int_equal(state_count(l, ZKC_STATE_CLOSED), 1);
	evlog_destroy(l);
	free(l);
}

/* ------------------------------------------------------------------ threads */

struct thr {
	uv_thread_t t;
	zkc_session *s;
	int id, errors;
};

static void thr_main(void *arg)
{
	struct thr *t = arg;
	char p[64], data[32];
	snprintf(p, sizeof(p), "/thr/t%d", t->id);
	if (zkc_b_create(t->s, p, "0", 1, NULL, ZK_PERSISTENT, 0, NULL, NULL) != ZE_OK)
		t->errors++;
	for (int i = 1; i <= 100; i++) {
		snprintf(data, sizeof(data), "%d", i);
		struct zk_stat st;
		if (zkc_b_set(t->s, p, data, (int32_t)strlen(data), i - 1, &st) != ZE_OK || st.version != i)
			t->errors++;
		uint8_t *back = NULL;
		int32_t len = 0;
		if (zkc_b_get(t->s, p, NULL, NULL, &back, &len, NULL) != ZE_OK || len != (int32_t)strlen(data) ||
		    memcmp(back, data, (size_t)len) != 0)
			t->errors++;
		free(back);
	}
	if (zkc_b_delete(t->s, p, 100) != ZE_OK)
		t->errors++;
}

/* Blocking calls from 16 threads on 4 sessions of one client. */
static void test_threads(void **state)
{
	struct fx *f = need(state);
	zkc_session *ss[4];
	for (int i = 0; i < 4; i++)
		ss[i] = open_s(f, NULL, NULL);
	rmr(ss[0], "/thr");
	assert_int_equal(zkc_b_create(ss[0], "/thr", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	struct thr t[16];
	for (int i = 0; i < 16; i++) {
		t[i] = (struct thr){.s = ss[i % 4], .id = i};
		uv_thread_create(&t[i].t, thr_main, &t[i]);
	}
	int errors = 0;
	for (int i = 0; i < 16; i++) {
		uv_thread_join(&t[i].t);
		errors += t[i].errors;
	}
	assert_int_equal(errors, 0);
	int32_t n = -1;
	assert_int_equal(zkc_b_get_all_children_number(ss[0], "/thr", &n), ZE_OK);
	assert_int_equal(n, 0);
	rmr(ss[0], "/thr");
	for (int i = 0; i < 4; i++)
		zkc_b_close(ss[i]);
}

/* ------------------------------------------------------------------ misc */

static void test_misc(void **state)
{
	(void)state;
	zkc_session *s;
	uv_loop_t loop;
	uv_loop_init(&loop);
	assert_int_equal(zkc_session_open(&loop, "", 1000, NULL, &s), ZE_BADARGUMENTS);
	assert_int_equal(zkc_session_open(&loop, "127.0.0.1:1/bad/", 1000, NULL, &s), ZE_BADARGUMENTS);
	assert_int_equal(zkc_session_open(&loop, "127.0.0.1:1", 0, NULL, &s), ZE_BADARGUMENTS);
	uv_loop_close(&loop);
	assert_int_equal(zkc_errno(ZE_NONODE), ENOENT);
	assert_int_equal(zkc_errno(ZE_NODEEXISTS), EEXIST);
	assert_int_equal(zkc_errno(ZE_OK), 0);
	assert_string_equal(zkc_strerror(ZE_NONODE), "no node");
	assert_string_equal(zkc_state_name(ZKC_STATE_EXPIRED), "expired");
	char *d = zkc_digest_id("super:test");
	assert_string_equal(d, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
	free(d);
}

#define KIND_TESTS                                 \
	cmocka_unit_test(test_crud),               \
	cmocka_unit_test(test_acl_auth),           \
	cmocka_unit_test(test_whoami),             \
	cmocka_unit_test(test_multi),              \
	cmocka_unit_test(test_watches),            \
	cmocka_unit_test(test_chroot),             \
	cmocka_unit_test(test_async),              \
	cmocka_unit_test(test_threads),            \
	cmocka_unit_test(test_large)

int main(void)
{
	const struct CMUnitTest local[] = {cmocka_unit_test(test_misc)};
	const struct CMUnitTest kind[] = {KIND_TESTS};
	int rc = cmocka_run_group_tests_name("zkc_local", local, NULL, NULL);
	rc += cmocka_run_group_tests_name("zkc_apache", kind, setup_apache, group_teardown);
	rc += cmocka_run_group_tests_name("zkc_zkfs", kind, setup_zkfs, group_teardown);
	return rc ? 1 : 0;
}
