/*
 * test_server.c — zkfs-server's edge (net.c + server.c) driven in-process:
 * the server runs its libuv loop in a thread on 127.0.0.1 with a kernel-
 * chosen port and a temp data directory, and the test speaks raw frames
 * to it with blocking sockets.  Covers framing (many frames per write,
 * byte-by-byte delivery, bad lengths), the handshake (requests pipelined
 * behind ConnectRequest, expired sessions, lastZxidSeen ahead), ordering
 * (reads behind the same connection's writes, watch events before the
 * reply of the write that fired them), refusals (unknown opcode, auth
 * failure), four-letter words, and clean shutdown.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "config.h"
#include "server.h"
#include "records.h"

struct fixture {
	char dir[64];
	struct config cfg;
	uv_loop_t loop;
	struct server srv;
	uv_async_t stop;
	uv_thread_t thread;
	int port;
};

static void on_stop(uv_async_t *a)
{
	struct fixture *f = a->data;
	server_shutdown(&f->srv, "test done");
	uv_close((uv_handle_t *)a, NULL);
}

static void loop_thread(void *arg)
{
	struct fixture *f = arg;
	server_run(&f->srv);
}

/* Extra zoo.cfg keys for the next setup (NULL-terminated key, value pairs). */
static const char *const *extra_keys;

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/zkfs-test-server-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	config_init(&f->cfg);
	char data[128];
	snprintf(data, sizeof(data), "%s/data", f->dir);
	if (config_set(&f->cfg, "dataDir", data, "test", 0) ||
	    config_set(&f->cfg, "clientPort", "0", "test", 0) ||
	    config_set(&f->cfg, "clientPortAddress", "127.0.0.1", "test", 0) ||
	    config_set(&f->cfg, "4lw.commands.whitelist", "ruok,srvr,dirs", "test", 0) ||
	    config_set(&f->cfg, "tickTime", "200", "test", 0)) {
		fprintf(stderr, "config: %s\n", f->cfg.error);
		return -1;
	}
	for (const char *const *k = extra_keys; k && k[0]; k += 2)
		if (config_set(&f->cfg, k[0], k[1], "test", 0))
			return -1;
	if (config_finish(&f->cfg)) {
		fprintf(stderr, "config: %s\n", f->cfg.error);
		return -1;
	}
	uv_loop_init(&f->loop);
	if (server_init(&f->srv, &f->loop, &f->cfg) < 0)
		return -1;
	f->port = f->srv.bound_port;
	uv_async_init(&f->loop, &f->stop, on_stop);
	f->stop.data = f;
	uv_thread_create(&f->thread, loop_thread, f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	uv_async_send(&f->stop);
	uv_thread_join(&f->thread);
	server_free(&f->srv);
	uv_loop_close(&f->loop);
	config_free(&f->cfg);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* ---------------------------------------------------------------- raw client */

static int dial(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int one = 1;
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return s;
}

static void send_all(int s, const void *p, size_t n)
{
	assert_int_equal(send(s, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static bool read_full(int s, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = recv(s, p, n, 0);
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

/* Reads one frame into a malloc'd buffer; NULL when the server closed. */
static uint8_t *read_frame(int s, size_t *len)
{
	uint8_t h[4];
	if (!read_full(s, h, 4))
		return NULL;
	size_t n = jute_load32(h);
	uint8_t *b = malloc(n ? n : 1);
	if (!read_full(s, b, n)) {
		free(b);
		return NULL;
	}
	*len = n;
	return b;
}

static bool closed_by_server(int s)
{
	uint8_t c;
	return recv(s, &c, 1, 0) == 0;
}

static void put_connect(struct jute_out *o, int64_t sid, uint8_t fill, int64_t last_zxid)
{
	struct zk_connect_req r = {.timeout = 4000, .session_id = sid, .last_zxid_seen = last_zxid,
				   .passwd_len = 16, .has_read_only = true};
	memset(r.passwd, fill, 16);
	zk_connect_req_put(o, &r);
}

static void put_request(struct jute_out *o, int32_t xid, int32_t type, const char *path,
			const char *data, bool watch)
{
	struct zk_request r;
	memset(&r, 0, sizeof(r));
	r.xid = xid;
	r.type = type;
	r.op.type = type;
	r.op.path = (char *)path;
	r.op.watch = watch;
	r.op.version = -1;
	struct zk_acl acl = {.perms = ZK_PERM_ALL, .id = {"world", "anyone"}};
	if (type == ZOP_CREATE) {
		r.op.acl.n = 1;
		r.op.acl.v = &acl;
	}
	if (data) {
		r.op.data = (uint8_t *)data;
		r.op.data_len = (int32_t)strlen(data);
	} else {
		r.op.data_len = -1;
	}
	zk_request_put(o, &r);
}

/* Opens a session; returns the socket, fills sid/passwd. */
static int open_session(struct fixture *f, int64_t *sid, uint8_t passwd[16])
{
	int s = dial(f->port);
	struct jute_out o;
	jute_out_init(&o);
	put_connect(&o, 0, 0, 0);
	send_all(s, o.buf, o.len);
	jute_out_free(&o);
	size_t n;
	uint8_t *b = read_frame(s, &n);
	assert_non_null(b);
	struct zk_connect_resp cr;
	assert_int_equal(zk_connect_resp_get(b, n, &cr), 0);
	assert_true(cr.session_id != 0);
	assert_true(cr.timeout > 0);
	*sid = cr.session_id;
	memcpy(passwd, cr.passwd, 16);
	free(b);
	return s;
}

/* Reads one reply and checks its xid and error. */
static void expect_reply(int s, int32_t xid, int32_t err)
{
	size_t n;
	uint8_t *b = read_frame(s, &n);
	assert_non_null(b);
	assert_true(n >= 16);
	assert_int_equal((int32_t)jute_load32(b), xid);
	assert_int_equal((int32_t)jute_load32(b + 12), err);
	free(b);
}

static char *four(struct fixture *f, const char *word)
{
	static char buf[4096];
	int s = dial(f->port);
	send_all(s, word, 4);
	size_t n = 0;
	ssize_t r;
	while ((r = recv(s, buf + n, sizeof(buf) - 1 - n, 0)) > 0)
		n += (size_t)r;
	buf[n] = 0;
	close(s);
	return buf;
}

/* ---------------------------------------------------------------- tests */

static void test_four_letter_words(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(four(f, "ruok"), "imok");
	assert_non_null(strstr(four(f, "srvr"), "Mode: standalone\n"));
	assert_non_null(strstr(four(f, "dirs"), "datadir_size: "));
	assert_string_equal(four(f, "stat"),
			    "stat is not executed because it is not in the whitelist.\n");
}

static void test_pipelined_behind_connect(void **state)
{
	struct fixture *f = *state;
	int s = dial(f->port);
	struct jute_out o;
	jute_out_init(&o);
	put_connect(&o, 0, 0, 0);
	put_request(&o, 1, ZOP_CREATE, "/pipe", "v", false);
	put_request(&o, 2, ZOP_GETDATA, "/pipe", NULL, false);
	put_request(&o, 3, ZOP_EXISTS, "/nothere", NULL, false);
	/* byte by byte: framing must not depend on how reads split */
	for (size_t i = 0; i < o.len; i++)
		send_all(s, o.buf + i, 1);
	jute_out_free(&o);
	size_t n;
	uint8_t *b = read_frame(s, &n);
	assert_non_null(b);
	assert_int_equal(n, 37); /* ConnectResponse with readOnly */
	free(b);
	expect_reply(s, 1, 0);
	expect_reply(s, 2, 0); /* the read waited behind the create */
	expect_reply(s, 3, ZE_NONODE);
	close(s);
}

static void test_reads_wait_for_own_writes(void **state)
{
	struct fixture *f = *state;
	int64_t sid;
	uint8_t pw[16];
	int s = open_session(f, &sid, pw);
	struct jute_out o;
	jute_out_init(&o);
	put_request(&o, 1, ZOP_CREATE, "/order", "0", false);
	for (int i = 0; i < 50; i++) {
		put_request(&o, 2 + 2 * i, ZOP_SETDATA, "/order", "x", false);
		put_request(&o, 3 + 2 * i, ZOP_GETDATA, "/order", NULL, false);
	}
	send_all(s, o.buf, o.len);
	jute_out_free(&o);
	int64_t last_zxid = 0;
	for (int32_t xid = 1; xid <= 101; xid++) {
		size_t n;
		uint8_t *b = read_frame(s, &n);
		assert_non_null(b);
		assert_int_equal((int32_t)jute_load32(b), xid);
		assert_int_equal((int32_t)jute_load32(b + 12), 0);
		int64_t zxid = (int64_t)jute_load64(b + 4);
		assert_true(zxid >= last_zxid); /* never goes back in time */
		last_zxid = zxid;
		if (xid > 1 && xid % 2 == 1) {
			/* getData sees the setData just before it: version = (xid-1)/2 */
			struct zk_response r;
			assert_int_equal(zk_response_get(b, n, ZOP_GETDATA, &r), 0);
			assert_int_equal(r.r.stat.version, (xid - 1) / 2);
			zk_response_free(&r);
		}
		free(b);
	}
	close(s);
}

static void test_watch_event_before_reply(void **state)
{
	struct fixture *f = *state;
	int64_t sid;
	uint8_t pw[16];
	int s = open_session(f, &sid, pw);
	struct jute_out o;
	jute_out_init(&o);
	put_request(&o, 1, ZOP_CREATE, "/w", "0", false);
	put_request(&o, 2, ZOP_GETDATA, "/w", NULL, true);
	put_request(&o, 3, ZOP_SETDATA, "/w", "1", false);
	send_all(s, o.buf, o.len);
	jute_out_free(&o);
	expect_reply(s, 1, 0);
	expect_reply(s, 2, 0);
	size_t n;
	uint8_t *b = read_frame(s, &n);
	assert_non_null(b);
	struct zk_response ev;
	assert_int_equal(zk_response_get(b, n, 0, &ev), 0);
	assert_int_equal(ev.xid, -1);
	assert_int_equal(ev.ev.type, ZK_EVENT_DATA_CHANGED);
	assert_int_equal(ev.ev.state, ZK_STATE_SYNC_CONNECTED);
	assert_string_equal(ev.ev.path, "/w");
	zk_response_free(&ev);
	free(b);
	expect_reply(s, 3, 0);
	close(s);
}

static void test_bad_frames_close(void **state)
{
	struct fixture *f = *state;
	uint8_t neg[4] = {0xff, 0xff, 0xff, 0xfb};
	int s = dial(f->port);
	send_all(s, neg, 4);
	assert_true(closed_by_server(s));
	close(s);

	uint8_t big[4];
	jute_store32(big, 0xfffff + 1);
	s = dial(f->port);
	send_all(s, big, 4);
	assert_true(closed_by_server(s));
	close(s);

	/* malformed record after the handshake */
	int64_t sid;
	uint8_t pw[16];
	s = open_session(f, &sid, pw);
	uint8_t bad[16];
	jute_store32(bad, 12);
	jute_store32(bad + 4, 7);
	jute_store32(bad + 8, ZOP_GETDATA);
	jute_store32(bad + 12, 500); /* string longer than the frame */
	send_all(s, bad, sizeof(bad));
	assert_true(closed_by_server(s));
	close(s);

	/* the server carries on */
	assert_string_equal(four(f, "ruok"), "imok");
}

static void test_unknown_opcode(void **state)
{
	struct fixture *f = *state;
	int64_t sid;
	uint8_t pw[16];
	int s = open_session(f, &sid, pw);
	uint8_t req[12];
	jute_store32(req, 8);
	jute_store32(req + 4, 9);
	jute_store32(req + 8, 999);
	send_all(s, req, sizeof(req));
	expect_reply(s, 9, ZE_UNIMPLEMENTED);
	assert_true(closed_by_server(s));
	close(s);
}

static void test_auth_failure(void **state)
{
	struct fixture *f = *state;
	int64_t sid;
	uint8_t pw[16];
	int s = open_session(f, &sid, pw);
	struct zk_request r;
	memset(&r, 0, sizeof(r));
	r.xid = ZXID_AUTH;
	r.type = ZOP_AUTH;
	r.auth_scheme = "nosuchscheme";
	r.auth_data = (uint8_t *)"x";
	r.auth_len = 1;
	struct jute_out o;
	jute_out_init(&o);
	zk_request_put(&o, &r);
	send_all(s, o.buf, o.len);
	jute_out_free(&o);
	expect_reply(s, ZXID_AUTH, ZE_AUTHFAILED);
	assert_true(closed_by_server(s));
	close(s);
}

static void test_sessions(void **state)
{
	struct fixture *f = *state;
	int64_t sid;
	uint8_t pw[16];
	int s = open_session(f, &sid, pw);

	/* reconnect with id + password on a second socket: same session */
	int s2 = dial(f->port);
	struct jute_out o;
	jute_out_init(&o);
	struct zk_connect_req cr = {.timeout = 4000, .session_id = sid, .passwd_len = 16,
				    .has_read_only = true};
	memcpy(cr.passwd, pw, 16);
	zk_connect_req_put(&o, &cr);
	send_all(s2, o.buf, o.len);
	size_t n;
	uint8_t *b = read_frame(s2, &n);
	assert_non_null(b);
	struct zk_connect_resp resp;
	assert_int_equal(zk_connect_resp_get(b, n, &resp), 0);
	assert_true(resp.session_id == sid);
	assert_memory_equal(resp.passwd, pw, 16);
	free(b);
	/* the old connection lost the session */
	assert_true(closed_by_server(s));
	close(s);

	/* a wrong password: the expired answer, then close */
	jute_out_reset(&o);
	int s3 = dial(f->port);
	put_connect(&o, sid, 0x5a, 0);
	send_all(s3, o.buf, o.len);
	b = read_frame(s3, &n);
	assert_non_null(b);
	assert_int_equal(zk_connect_resp_get(b, n, &resp), 0);
	assert_int_equal(resp.timeout, 0);
	assert_true(resp.session_id == 0);
	free(b);
	assert_true(closed_by_server(s3));
	close(s3);

	/* a client that has seen the future: dropped without a word */
	jute_out_reset(&o);
	int s4 = dial(f->port);
	put_connect(&o, 0, 0, (int64_t)1 << 40);
	send_all(s4, o.buf, o.len);
	assert_true(closed_by_server(s4));
	close(s4);

	/* closeSession: reply, then close */
	jute_out_reset(&o);
	struct zk_request cl;
	memset(&cl, 0, sizeof(cl));
	cl.xid = 5;
	cl.type = ZOP_CLOSESESSION;
	zk_request_put(&o, &cl);
	send_all(s2, o.buf, o.len);
	expect_reply(s2, 5, 0);
	assert_true(closed_by_server(s2));
	close(s2);
	jute_out_free(&o);
}

static int setup_limits(void **state)
{
	static const char *const keys[] = {"globalOutstandingLimit", "4", "maxClientCnxns", "3", NULL};
	extra_keys = keys;
	int rc = setup(state);
	extra_keys = NULL;
	return rc;
}

/* With a tiny globalOutstandingLimit the server stops reading while writes
 * are in the group commit, and still answers every request, in order. */
static void test_throttle_keeps_order(void **state)
{
	struct fixture *f = *state;
	int64_t sid;
	uint8_t pw[16];
	int s = open_session(f, &sid, pw);
	struct jute_out o;
	jute_out_init(&o);
	put_request(&o, 1, ZOP_CREATE, "/t", "0", false);
	for (int i = 2; i <= 400; i++)
		put_request(&o, i, i % 3 ? ZOP_SETDATA : ZOP_GETDATA, "/t", i % 3 ? "x" : NULL,
			    false);
	send_all(s, o.buf, o.len);
	jute_out_free(&o);
	for (int32_t xid = 1; xid <= 400; xid++)
		expect_reply(s, xid, 0);
	close(s);
}

/* maxClientCnxns: the fourth connection from 127.0.0.1 is closed at once;
 * the others keep working. */
static void test_max_client_cnxns(void **state)
{
	struct fixture *f = *state;
	int64_t sid;
	uint8_t pw[16];
	int a = open_session(f, &sid, pw);
	int b = open_session(f, &sid, pw);
	int c = open_session(f, &sid, pw);
	int d = dial(f->port);
	assert_true(closed_by_server(d));
	close(d);
	struct jute_out o;
	jute_out_init(&o);
	put_request(&o, 1, ZOP_EXISTS, "/", NULL, false);
	send_all(a, o.buf, o.len);
	expect_reply(a, 1, 0);
	jute_out_free(&o);
	close(a);
	close(b);
	close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_four_letter_words, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_behind_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reads_wait_for_own_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_event_before_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_frames_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_opcode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_throttle_keeps_order, setup_limits, teardown),
		cmocka_unit_test_setup_teardown(test_max_client_cnxns, setup_limits, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
