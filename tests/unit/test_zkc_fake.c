/*
 * test_zkc_fake.c — libzkc against a scripted fake server (a thread with
 * blocking sockets), for behaviour real servers cannot be made to show on
 * demand: the handshake carries the last zxid seen; watches are re-armed
 * with setWatches2 and relativeZxid = that zxid; a server answering
 * setWatches2 with Unimplemented gets setWatches (101) on the next
 * connection; a notification after re-arming reaches the watcher; a
 * handshake answered with another session id means the session expired;
 * out-of-order replies drop the connection; an oversized reply fails only
 * its request.  Needs no real server.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>

#include "test_zkc_common.h"

struct fake {
	int lfd, port;
	pthread_t thr;
	/* observations, read after join */
	int64_t conn2_sid, conn2_zxid;
	int conn2_type, conn3_type;
	int64_t conn2_rel;
	char conn3_path[64];
	int conn3_nexist;
	int failures;
};

static int read_full(int fd, void *p, size_t n)
{
	uint8_t *b = p;
	while (n) {
		ssize_t r = read(fd, b, n);
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Reads one frame body into buf (malloc'd); skips pings. */
static int read_frame(int fd, uint8_t **buf, size_t *len)
{
	for (;;) {
		uint8_t h[4];
		if (read_full(fd, h, 4))
			return -1;
		*len = jute_load32(h);
		*buf = malloc(*len ? *len : 1);
		if (read_full(fd, *buf, *len)) {
			free(*buf);
			return -1;
		}
		if (*len >= 8 && (int32_t)jute_load32(*buf) == ZXID_PING) {
			free(*buf);
			continue;
		}
		return 0;
	}
}

static void write_out(int fd, struct jute_out *o)
{
	if (write(fd, o->buf, o->len) != (ssize_t)o->len) {
	}
	jute_out_free(o);
}

static int accept_handshake(struct fake *f, int64_t reply_sid, struct zk_connect_req *cr)
{
	int fd = accept(f->lfd, NULL, NULL);
	if (fd < 0)
		return -1;
	uint8_t *b;
	size_t len;
	if (read_frame(fd, &b, &len) || zk_connect_req_get(b, len, cr)) {
		close(fd);
		return -1;
	}
	free(b);
	struct zk_connect_resp r = {.timeout = 6000, .session_id = reply_sid, .has_read_only = true};
	memset(r.passwd, 7, 16);
	struct jute_out o;
	jute_out_init(&o);
	zk_connect_resp_put(&o, &r);
	write_out(fd, &o);
	return fd;
}

static void reply_hdr(int fd, int32_t xid, int64_t zxid, int32_t err)
{
	struct zk_response r = {.xid = xid, .zxid = zxid, .err = err};
	struct jute_out o;
	jute_out_init(&o);
	zk_response_put(&o, 0, &r);
	write_out(fd, &o);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	struct zk_connect_req cr;
	uint8_t *b;
	size_t len;
	struct zk_request req;

	/* 1: new session; exists /fw -> NoNode at zxid 0x55; then hang up */
	int fd = accept_handshake(f, 0x1234, &cr);
	if (fd < 0 || read_frame(fd, &b, &len) || zk_request_get(b, len, &req)) {
		f->failures++;
		return NULL;
	}
	free(b);
	reply_hdr(fd, req.xid, 0x55, ZE_NONODE);
	zk_request_free(&req);
	usleep(100000);
	close(fd);

	/* 2: resumed with last zxid; setWatches2 refused as Unimplemented */
	fd = accept_handshake(f, 0x1234, &cr);
	f->conn2_sid = cr.session_id;
	f->conn2_zxid = cr.last_zxid_seen;
	if (fd < 0 || read_frame(fd, &b, &len) || zk_request_get(b, len, &req)) {
		f->failures++;
		return NULL;
	}
	free(b);
	f->conn2_type = req.type;
	f->conn2_rel = req.rel_zxid;
	zk_request_free(&req);
	reply_hdr(fd, ZXID_SETWATCHES, 0x55, ZE_UNIMPLEMENTED);
	usleep(100000);
	close(fd);

	/* 3: setWatches (101) expected; then the node appears */
	fd = accept_handshake(f, 0x1234, &cr);
	if (fd < 0 || read_frame(fd, &b, &len) || zk_request_get(b, len, &req)) {
		f->failures++;
		return NULL;
	}
	free(b);
	f->conn3_type = req.type;
	f->conn3_nexist = req.watches[ZK_SW_EXIST].n;
	if (req.watches[ZK_SW_EXIST].n)
		snprintf(f->conn3_path, sizeof(f->conn3_path), "%s", req.watches[ZK_SW_EXIST].v[0]);
	zk_request_free(&req);
	reply_hdr(fd, ZXID_SETWATCHES, 0x55, 0);
	struct jute_out o;
	jute_out_init(&o);
	zk_event_put(&o, -1, ZK_EVENT_CREATED, ZK_STATE_SYNC_CONNECTED, "/fw");
	write_out(fd, &o);
	/* a reply out of order: the client must drop the connection */
	if (read_frame(fd, &b, &len) || zk_request_get(b, len, &req)) {
		f->failures++;
		return NULL;
	}
	free(b);
	reply_hdr(fd, req.xid + 100, 0x56, 0);
	zk_request_free(&req);
	/* the client hangs up on us */
	uint8_t junk;
	while (read(fd, &junk, 1) > 0) {
	}
	close(fd);

	/* 4: another session id: expired */
	fd = accept_handshake(f, 0x9999, &cr);
	if (fd < 0) {
		f->failures++;
		return NULL;
	}
	usleep(200000);
	close(fd);
	return NULL;
}

static void test_fake_server(void **state)
{
	(void)state;
	struct fake *f = calloc(1, sizeof(*f));
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof(a);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->lfd, 8), 0);
	getsockname(f->lfd, (struct sockaddr *)&a, &alen);
	f->port = ntohs(a.sin_port);
	pthread_create(&f->thr, NULL, fake_main, f);

	struct evlog *l = malloc(sizeof(*l));
	evlog_init(l);
	zkc_client *c;
	assert_int_equal(zkc_client_new(&c), ZE_OK);
	char spec[64];
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", f->port);
	struct zkc_options opt = {.state_cb = on_state_log, .state_arg = l};
	zkc_session *s;
	assert_int_equal(zkc_b_open(c, spec, 6000, &opt, 5000, &s), ZE_OK);
	zkc_b_set_deadline(s, 10000);
	assert_int_equal(zkc_b_exists(s, "/fw", on_ev, l, NULL), ZE_NONODE);
	assert_true(zkc_session_last_zxid(s) == 0x55);
	assert_int_equal(wait_ev(l, ZK_EVENT_CREATED, "/fw", 1, 10000), 1);
	/* out-of-order reply: the request fails with ConnectionLoss */
	assert_int_equal(zkc_b_exists(s, "/other", NULL, NULL, NULL), ZE_CONNECTIONLOSS);
	assert_int_equal(wait_state(l, ZKC_STATE_EXPIRED, 1, 10000), 1);
	assert_int_equal(zkc_b_exists(s, "/", NULL, NULL, NULL), ZE_SESSIONEXPIRED);
	zkc_b_close(s);
	zkc_client_free(c);
	pthread_join(f->thr, NULL);
	close(f->lfd);
	assert_int_equal(f->failures, 0);
	assert_true(f->conn2_sid == 0x1234);
	assert_true(f->conn2_zxid == 0x55);
	assert_int_equal(f->conn2_type, ZOP_SETWATCHES2);
	assert_true(f->conn2_rel == 0x55);
	assert_int_equal(f->conn3_type, ZOP_SETWATCHES);
	assert_int_equal(f->conn3_nexist, 1);
	assert_string_equal(f->conn3_path, "/fw");
	assert_true(state_count(l, ZKC_STATE_DISCONNECTED) >= 3);
	evlog_destroy(l);
	free(l);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_fake_server)};
	return cmocka_run_group_tests_name("zkc_fake", tests, NULL, NULL);
}
