/*
 * test_zkc_fault.c — libzkc under faults, against real servers (Apache
 * ZooKeeper 3.8 and zkfs-server, one group each; skipped when a server
 * cannot start): first host down, server restart within the session
 * timeout, changes made while disconnected, expiry (through a proxy that
 * cuts the client off, and by closing a cloned session), ConnectionLoss of
 * requests on the wire and the "did it apply?" helpers, read timeouts,
 * 500 sessions on one client, and connect/disconnect/expire cycles (run
 * this program under valgrind to check them for leaks).
 */
#include <errno.h>

#include "test_zkc_common.h"

struct fx {
	struct srv srv;
	zkc_client *c;
	struct proxy px;
	bool px_on;
	char px_spec[64];
};

static int group_setup(void **state, const char *kind)
{
	struct fx *f = calloc(1, sizeof(*f));
	srv_start(&f->srv, kind, NULL);
	if (f->srv.port > 0 && zkc_client_new(&f->c) != ZE_OK)
		f->c = NULL;
	if (f->srv.port > 0 && proxy_start(&f->px, f->srv.port) == 0) {
		f->px_on = true;
		snprintf(f->px_spec, sizeof(f->px_spec), "127.0.0.1:%d", f->px.port);
	}
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
	if (f->px_on)
		proxy_stop(&f->px);
	srv_stop(&f->srv);
	free(f);
	return 0;
}

static struct fx *need(void **state)
{
	struct fx *f = *state;
	if (f->srv.port <= 0 || !f->c || !f->px_on) {
		print_message("# no %s server; skipping\n", f->srv.kind);
		skip();
	}
	proxy_cut(&f->px, 0);
	proxy_hold(&f->px, 0, 0);
	return f;
}

static zkc_session *open_spec(struct fx *f, const char *spec, int timeout, struct zkc_options *opt)
{
	zkc_session *s = NULL;
	assert_int_equal(zkc_b_open(f->c, spec, timeout, opt, 20000, &s), ZE_OK);
	zkc_b_set_deadline(s, 15000);
	return s;
}

struct counter {
	uv_mutex_t mu;
	int done, fail, ok, loss;
};

static void count_done(zkc_session *s, int err, struct zkc_result *res, void *arg)
{
	struct counter *c = arg;
	(void)s;
	(void)res;
	uv_mutex_lock(&c->mu);
	c->done++;
	c->ok += err == ZE_OK;
	c->loss += err == ZE_CONNECTIONLOSS;
	c->fail += err != ZE_OK;
	uv_mutex_unlock(&c->mu);
}

static int counter_done(struct counter *c)
{
	uv_mutex_lock(&c->mu);
	int d = c->done;
	uv_mutex_unlock(&c->mu);
	return d;
}

static bool wait_done(struct counter *c, int n, int ms)
{
	for (uint64_t end = ms_now() + (uint64_t)ms; ms_now() < end;) {
		if (counter_done(c) >= n)
			return true;
		usleep(10000);
	}
	return counter_done(c) >= n;
}

/* Loop-thread jobs handed over with zkc_client_run. */
struct job {
	zkc_session *s;
	struct counter *c;
	const char *prefix;
	int n;
	int what; /* 0 create ephemeral, 1 exists, 2 drop connection, 3 set v0, 4 create eph-seq */
};

static void job_cb(uv_loop_t *loop, void *arg)
{
	struct job *j = arg;
	(void)loop;
	for (int i = 0; i < j->n; i++) {
		char p[128];
		snprintf(p, sizeof(p), j->n > 1 ? "%s%d" : "%s", j->prefix, i);
		switch (j->what) {
		case 0: zkc_create(j->s, p, "me", 2, NULL, ZK_EPHEMERAL, 0, count_done, j->c); break;
		case 1: zkc_exists(j->s, p, NULL, NULL, count_done, j->c); break;
		case 2: zkc_session_drop_connection(j->s); break;
		case 3: zkc_set(j->s, p, "new", 3, 0, count_done, j->c); break;
		case 4: zkc_create(j->s, p, "seq", 3, NULL, ZK_EPHEMERAL_SEQUENTIAL, 0, count_done, j->c); break;
		}
	}
	free(j);
}

static void run_job(struct fx *f, zkc_session *s, struct counter *c, const char *prefix, int n, int what)
{
	struct job *j = calloc(1, sizeof(*j));
	*j = (struct job){s, c, prefix, n, what};
	assert_int_equal(zkc_client_run(f->c, job_cb, j), ZE_OK);
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || getsockname(fd, (struct sockaddr *)&a, &len)) {
		close(fd);
		return -1;
	}
	close(fd);
	return ntohs(a.sin_port);
}

/* ------------------------------------------------------------------ tests */

static void test_first_host_down(void **state)
{
	struct fx *f = need(state);
	char spec[400];
	snprintf(spec, sizeof(spec), "127.0.0.1:%d,%s", free_port(), f->srv.spec);
	struct zkc_options opt = {.no_shuffle = true};
	uint64_t t0 = uv_hrtime();
	zkc_session *s = open_spec(f, spec, 10000, &opt);
	assert_true(uv_hrtime() - t0 < 5000000000ull);
	char server[80];
	zkc_session_server(s, server, sizeof(server));
	assert_string_equal(server, f->srv.spec);
	assert_int_equal(zkc_b_exists(s, "/", NULL, NULL, NULL), ZE_OK);
	zkc_b_close(s);
	/* all hosts down: the blocking open gives up at its deadline */
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", free_port());
	zkc_session *t = NULL;
	assert_int_equal(zkc_b_open(f->c, spec, 4000, NULL, 500, &t), ZE_OPERATIONTIMEOUT);
}

static void test_restart_within_timeout(void **state)
{
	struct fx *f = need(state);
	struct evlog *l = malloc(sizeof(*l));
	evlog_init(l);
	struct zkc_options opt = {.state_cb = on_state_log, .state_arg = l};
	zkc_session *a = open_spec(f, f->srv.spec, 30000, &opt);
	int64_t id = zkc_session_id(a, NULL);
	zkc_b_delete(a, "/rs", -1);
	assert_int_equal(zkc_b_create(a, "/rs", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_create(a, "/rs-e", "", 0, NULL, ZK_EPHEMERAL, 0, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_get(a, "/rs", on_ev, l, NULL, NULL, NULL), ZE_OK);
	srv_cmd(&f->srv, "stop");
	assert_int_equal(wait_state(l, ZKC_STATE_DISCONNECTED, 1, 10000), 1);
	/* a request made while down waits for the reconnect (the counter is
	 * on the heap: a failed assertion must not leave the loop thread a
	 * dangling pointer into this frame) */
	struct counter *c = calloc(1, sizeof(*c));
	uv_mutex_init(&c->mu);
	run_job(f, a, c, "/rs", 1, 1);
	usleep(300000);
	srv_cmd(&f->srv, "restart");
	assert_int_equal(wait_state(l, ZKC_STATE_CONNECTED, 2, 30000), 2);
	assert_true(wait_done(c, 1, 10000));
	assert_int_equal(c->ok, 1);
	assert_true(zkc_session_id(a, NULL) == id);
	assert_int_equal(state_count(l, ZKC_STATE_EXPIRED), 0);
	zkc_session *b = open_spec(f, f->srv.spec, 10000, NULL);
	struct zk_stat st;
	assert_int_equal(zkc_b_exists(b, "/rs-e", NULL, NULL, &st), ZE_OK);
	assert_true(st.ephemeral_owner == id);
	assert_int_equal(zkc_b_set(b, "/rs", "x", 1, -1, NULL), ZE_OK);
	assert_int_equal(wait_ev(l, ZK_EVENT_DATA_CHANGED, "/rs", 1, 5000), 1);
	zkc_b_close(a);
	assert_int_equal(zkc_b_exists(b, "/rs-e", NULL, NULL, NULL), ZE_NONODE);
	zkc_b_delete(b, "/rs", -1);
	zkc_b_close(b);
	uv_mutex_destroy(&c->mu);
	free(c);
	evlog_destroy(l);
	free(l);
}

static void test_events_while_disconnected(void **state)
{
	struct fx *f = need(state);
	struct evlog *l = malloc(sizeof(*l));
	evlog_init(l);
	zkc_session *b = open_spec(f, f->srv.spec, 10000, NULL);
	zkc_b_delete(b, "/ev/c", -1);
	zkc_b_delete(b, "/ev", -1);
	zkc_b_delete(b, "/ev-new", -1);
	zkc_b_delete(b, "/ev-p", -1);
	assert_int_equal(zkc_b_create(b, "/ev", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_create(b, "/ev-p", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	struct zkc_options opt = {.state_cb = on_state_log, .state_arg = l};
	zkc_session *a = open_spec(f, f->px_spec, 10000, &opt);
	int64_t id = zkc_session_id(a, NULL);
	assert_int_equal(zkc_b_get(a, "/ev", on_ev, l, NULL, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_get_children(a, "/ev", on_ev, l, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_exists(a, "/ev-new", on_ev, l, NULL), ZE_NONODE);
	assert_int_equal(zkc_b_add_watch(a, "/ev-p", ZK_ADDWATCH_PERSISTENT, on_ev, l), ZE_OK);
	proxy_cut(&f->px, 1);
	assert_int_equal(wait_state(l, ZKC_STATE_DISCONNECTED, 1, 5000), 1);
	assert_int_equal(zkc_b_set(b, "/ev", "1", 1, -1, NULL), ZE_OK);
	assert_int_equal(zkc_b_create(b, "/ev/c", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_create(b, "/ev-new", "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL), ZE_OK);
	proxy_cut(&f->px, 0);
	assert_int_equal(wait_state(l, ZKC_STATE_CONNECTED, 1, 10000), 1);
	assert_int_equal(wait_ev(l, ZK_EVENT_DATA_CHANGED, "/ev", 1, 5000), 1);
	assert_int_equal(wait_ev(l, ZK_EVENT_CHILD_CHANGED, "/ev", 1, 5000), 1);
	assert_int_equal(wait_ev(l, ZK_EVENT_CREATED, "/ev-new", 1, 5000), 1);
	assert_true(zkc_session_id(a, NULL) == id);
	/* the persistent watch was re-added */
	assert_int_equal(zkc_b_set(b, "/ev-p", "1", 1, -1, NULL), ZE_OK);
	assert_int_equal(wait_ev(l, ZK_EVENT_DATA_CHANGED, "/ev-p", 1, 5000), 1);
	zkc_b_close(a);
	zkc_b_delete(b, "/ev/c", -1);
	zkc_b_delete(b, "/ev", -1);
	zkc_b_delete(b, "/ev-new", -1);
	zkc_b_delete(b, "/ev-p", -1);
	zkc_b_close(b);
	evlog_destroy(l);
	free(l);
}

static void test_expire_after_restart(void **state)
{
	struct fx *f = need(state);
	struct evlog *l = malloc(sizeof(*l));
	evlog_init(l);
	struct zkc_options opt = {.state_cb = on_state_log, .state_arg = l};
	zkc_session *a = open_spec(f, f->px_spec, 4000, &opt);
	assert_int_equal(zkc_b_create(a, "/ex-e", "", 0, NULL, ZK_EPHEMERAL, 0, NULL, NULL), ZE_OK);
	assert_int_equal(zkc_b_exists(a, "/ex-e", on_ev, l, NULL), ZE_OK);
	/* cut off, and the server restarted meanwhile: once it has been up
	 * longer than the session timeout without hearing from us, the session
	 * is gone. */
	proxy_cut(&f->px, 1);
	assert_int_equal(wait_state(l, ZKC_STATE_DISCONNECTED, 1, 5000), 1);
	srv_cmd(&f->srv, "restart");
	zkc_session *b = open_spec(f, f->srv.spec, 10000, NULL);
	zkc_b_set_deadline(b, 2000);
	bool gone = false;
	for (uint64_t end = ms_now() + 30000; !gone && ms_now() < end;) {
		gone = zkc_b_exists(b, "/ex-e", NULL, NULL, NULL) == ZE_NONODE;
		if (!gone)
			usleep(100000);
	}
	assert_true(gone);
	proxy_cut(&f->px, 0);
	assert_int_equal(wait_state(l, ZKC_STATE_EXPIRED, 1, 10000), 1);
	assert_int_equal(evlog_count(l, ZK_EVENT_NONE, "/ex-e"), 1); /* the watch ended */
	assert_int_equal(zkc_session_state(a), ZKC_STATE_EXPIRED);
	assert_int_equal(zkc_b_exists(a, "/", NULL, NULL, NULL), ZE_SESSIONEXPIRED);
	zkc_b_close(a);
	zkc_b_close(b);
	evlog_destroy(l);
	free(l);
}

static void test_expire_by_clone(void **state)
{
	struct fx *f = need(state);
	struct evlog *l = malloc(sizeof(*l));
	evlog_init(l);
	struct zkc_options opt = {.state_cb = on_state_log, .state_arg = l};
	zkc_session *a = open_spec(f, f->srv.spec, 6000, &opt);
	struct zkc_options clone = {0};
	clone.session_id = zkc_session_id(a, clone.passwd);
	clone.last_zxid = zkc_session_last_zxid(a);
	zkc_session *b = open_spec(f, f->srv.spec, 6000, &clone);
	assert_true(zkc_session_id(b, NULL) == clone.session_id);
	zkc_b_close(b); /* closes the shared session on the server */
	assert_int_equal(wait_state(l, ZKC_STATE_EXPIRED, 1, 15000), 1);
	/* resuming a dead session reports expiry at once */
	zkc_session *c = NULL;
	assert_int_equal(zkc_b_open(f->c, f->srv.spec, 6000, &clone, 10000, &c), ZE_SESSIONEXPIRED);
	zkc_b_close(a);
	evlog_destroy(l);
	free(l);
}

static void test_connection_loss(void **state)
{
	struct fx *f = need(state);
	struct evlog *l = malloc(sizeof(*l));
	evlog_init(l);
	struct zkc_options opt = {.state_cb = on_state_log, .state_arg = l};
	zkc_session *a = open_spec(f, f->px_spec, 6000, &opt);
	zkc_session *b = open_spec(f, f->srv.spec, 10000, NULL);

	/* requests swallowed on the way up fail with ConnectionLoss and are not re-sent */
	struct counter *c = calloc(1, sizeof(*c)); /* heap: see test_restart_within_timeout */
	uv_mutex_init(&c->mu);
	proxy_hold(&f->px, 1, 0);
	long d0 = __atomic_load_n(&f->px.dropped_up, __ATOMIC_RELAXED);
	run_job(f, a, c, "/cl-", 50, 0);
	/* every create is on the wire (each frame is over 30 bytes) */
	assert_true(proxy_wait_dropped(&f->px, d0, 50 * 30, 10000));
	run_job(f, a, NULL, "", 1, 2);
	assert_true(wait_done(c, 50, 5000));
	assert_int_equal(c->loss, 50);
	proxy_hold(&f->px, 0, 0);
	assert_int_equal(wait_state(l, ZKC_STATE_CONNECTED, 2, 10000), 2);
	assert_int_equal(zkc_b_sync(a, "/"), ZE_OK);
	for (int i = 0; i < 50; i++) {
		char p[32];
		snprintf(p, sizeof(p), "/cl-%d", i);
		assert_int_equal(zkc_b_exists(b, p, NULL, NULL, NULL), ZE_NONODE);
	}
	assert_int_equal(zkc_b_create_applied(a, "/cl-0", "me", 2, ZK_EPHEMERAL, NULL), ZKC_NOT_APPLIED);

	/* applied, but the answer was lost */
	struct counter *d = calloc(1, sizeof(*d)); /* heap: see test_restart_within_timeout */
	uv_mutex_init(&d->mu);
	proxy_hold(&f->px, 0, 1);
	run_job(f, a, d, "/cl-applied", 1, 0);
	run_job(f, a, d, "/cl-seq-", 1, 4);
	bool applied = false;
	for (uint64_t end = ms_now() + 10000; !applied && ms_now() < end;) { /* both applied on the server */
		struct zk_stat st;
		struct zk_str_vec kids = {0};
		bool one = zkc_b_exists(b, "/cl-applied", NULL, NULL, &st) == ZE_OK;
		bool two = false;
		if (zkc_b_get_children(b, "/", NULL, NULL, &kids, NULL) == ZE_OK)
			for (int i = 0; i < kids.n; i++)
				two = two || strncmp(kids.v[i], "cl-seq-", 7) == 0;
		zk_str_vec_free(&kids);
		applied = one && two;
		if (!applied)
			usleep(10000);
	}
	assert_true(applied);
	run_job(f, a, NULL, "", 1, 2);
	assert_true(wait_done(d, 2, 5000));
	assert_int_equal(d->loss, 2);
	proxy_hold(&f->px, 0, 0);
	assert_int_equal(wait_state(l, ZKC_STATE_CONNECTED, 3, 10000), 3);
	char *created = NULL;
	assert_int_equal(zkc_b_create_applied(a, "/cl-applied", "me", 2, ZK_EPHEMERAL, &created), ZKC_APPLIED);
	assert_string_equal(created, "/cl-applied");
	free(created);
	assert_int_equal(zkc_b_create_applied(a, "/cl-seq-", "seq", 3, ZK_EPHEMERAL_SEQUENTIAL, &created),
			 ZKC_APPLIED);
	assert_int_equal(strncmp(created, "/cl-seq-", 8), 0);
	free(created);
	assert_int_equal(zkc_b_create_applied(b, "/cl-applied", "me", 2, ZK_EPHEMERAL, NULL), ZKC_UNKNOWN);

	/* setData: applied with the answer lost, then swallowed */
	struct counter *e = calloc(1, sizeof(*e)); /* heap: see test_restart_within_timeout */
	uv_mutex_init(&e->mu);
	proxy_hold(&f->px, 0, 1);
	run_job(f, a, e, "/cl-applied", 1, 3);
	applied = false;
	for (uint64_t end = ms_now() + 10000; !applied && ms_now() < end;) { /* applied on the server */
		struct zk_stat st;
		applied = zkc_b_exists(b, "/cl-applied", NULL, NULL, &st) == ZE_OK && st.version == 1;
		if (!applied)
			usleep(10000);
	}
	assert_true(applied);
	run_job(f, a, NULL, "", 1, 2);
	assert_true(wait_done(e, 1, 5000));
	assert_int_equal(e->loss, 1);
	proxy_hold(&f->px, 0, 0);
	assert_int_equal(wait_state(l, ZKC_STATE_CONNECTED, 4, 10000), 4);
	assert_int_equal(zkc_b_set_applied(a, "/cl-applied", "new", 3, 0), ZKC_APPLIED);
	assert_int_equal(zkc_b_set_applied(a, "/cl-applied", "other", 5, 1), ZKC_NOT_APPLIED);
	assert_int_equal(zkc_b_set_applied(a, "/cl-applied", "other", 5, 5), ZKC_UNKNOWN);

	/* blocking deadline */
	proxy_hold(&f->px, 1, 0);
	zkc_b_set_deadline(a, 300);
	assert_int_equal(zkc_b_exists(a, "/", NULL, NULL, NULL), ZE_OPERATIONTIMEOUT);
	zkc_b_set_deadline(a, 15000);
	/* read timeout: no answers (not even to pings) for 2/3 of the timeout */
	proxy_hold(&f->px, 1, 1);
	int before = state_count(l, ZKC_STATE_DISCONNECTED);
	assert_int_equal(wait_state(l, ZKC_STATE_DISCONNECTED, before + 1, 8000), before + 1);
	proxy_hold(&f->px, 0, 0);
	assert_int_equal(wait_state(l, ZKC_STATE_CONNECTED, 5, 10000), 5);
	assert_int_equal(zkc_b_exists(a, "/cl-applied", NULL, NULL, NULL), ZE_OK);
	assert_int_equal(state_count(l, ZKC_STATE_EXPIRED), 0);
	zkc_b_close(a);
	zkc_b_close(b);
	uv_mutex_destroy(&c->mu);
	free(c);
	uv_mutex_destroy(&d->mu);
	free(d);
	uv_mutex_destroy(&e->mu);
	free(e);
	evlog_destroy(l);
	free(l);
}

static void test_many_sessions(void **state)
{
	struct fx *f = need(state);
	enum { N = 500 };
	zkc_session **v = calloc(N, sizeof(*v));
	uint64_t t0 = uv_hrtime();
	for (int i = 0; i < N; i++)
		assert_int_equal(zkc_b_open(f->c, f->srv.spec, 20000, NULL, 0, &v[i]), ZE_OK);
	int connected = 0;
	for (uint64_t end = ms_now() + 60000; connected < N && ms_now() < end;) {
		connected = 0;
		for (int i = 0; i < N; i++)
			connected += zkc_session_state(v[i]) == ZKC_STATE_CONNECTED;
		if (connected < N)
			usleep(50000);
	}
	assert_int_equal(connected, N);
	uint64_t t1 = uv_hrtime();
	for (int i = 0; i < N; i++) {
		zkc_b_set_deadline(v[i], 20000);
		assert_int_equal(zkc_b_exists(v[i], "/", NULL, NULL, NULL), ZE_OK);
	}
	uint64_t t2 = uv_hrtime();
	for (int i = 0; i < N; i++)
		zkc_b_close(v[i]);
	print_message("# %d sessions: connected in %.2f s, %d exists in %.2f s\n", N, (double)(t1 - t0) / 1e9, N,
		      (double)(t2 - t1) / 1e9);
	free(v);
	assert_true(t2 - t0 < 60000000000ull);
}

static void test_cycles(void **state)
{
	struct fx *f = need(state);
	int cycles = getenv("ZKC_CYCLES") ? atoi(getenv("ZKC_CYCLES")) : 10;
	for (int i = 0; i < cycles; i++) {
		struct evlog *l = malloc(sizeof(*l));
		evlog_init(l);
		struct zkc_options opt = {.state_cb = on_state_log, .state_arg = l};
		zkc_session *a = open_spec(f, f->px_spec, 6000, &opt);
		char p[32];
		snprintf(p, sizeof(p), "/cy-%d", i);
		assert_int_equal(zkc_b_create(a, p, "x", 1, NULL, ZK_EPHEMERAL, 0, NULL, NULL), ZE_OK);
		assert_int_equal(zkc_b_get(a, p, on_ev, l, NULL, NULL, NULL), ZE_OK);
		assert_int_equal(zkc_b_add_watch(a, p, ZK_ADDWATCH_PERSISTENT_RECURSIVE, on_ev, l), ZE_OK);
		run_job(f, a, NULL, "", 1, 2);
		assert_int_equal(wait_state(l, ZKC_STATE_CONNECTED, 2, 10000), 2);
		assert_int_equal(zkc_b_exists(a, p, NULL, NULL, NULL), ZE_OK);
		if (i % 3 == 2) {
			/* expire it through a clone */
			struct zkc_options clone = {0};
			clone.session_id = zkc_session_id(a, clone.passwd);
			zkc_session *b = open_spec(f, f->srv.spec, 6000, &clone);
			zkc_b_close(b);
			assert_int_equal(wait_state(l, ZKC_STATE_EXPIRED, 1, 15000), 1);
		}
		zkc_b_close(a);
		/* both registrations ended: by the close (NONE) or by the
		 * ephemeral's deletion at closeSession (one-shot NodeDeleted) */
		assert_int_equal(evlog_count(l, ZK_EVENT_NONE, p) + evlog_count(l, ZK_EVENT_DELETED, p) -
					 (evlog_count(l, ZK_EVENT_DELETED, p) > 1 ? 1 : 0),
				 2);
		evlog_destroy(l);
		free(l);
	}
}

#define KIND_TESTS                                         \
	cmocka_unit_test(test_first_host_down),            \
	cmocka_unit_test(test_restart_within_timeout),     \
	cmocka_unit_test(test_events_while_disconnected),  \
	cmocka_unit_test(test_expire_after_restart),       \
	cmocka_unit_test(test_expire_by_clone),            \
	cmocka_unit_test(test_connection_loss),            \
	cmocka_unit_test(test_many_sessions),              \
	cmocka_unit_test(test_cycles)

int main(void)
{
	const struct CMUnitTest kind[] = {KIND_TESTS};
	int rc = cmocka_run_group_tests_name("zkc_fault_apache", kind, setup_apache, group_teardown);
	rc += cmocka_run_group_tests_name("zkc_fault_zkfs", kind, setup_zkfs, group_teardown);
	return rc ? 1 : 0;
}
