/*
 * test_proto.c — round trips and malformed inputs for the shared codec
 * (proto/): primitives, path rules, every request and reply shape, multi,
 * setWatches, the connect handshake and notifications.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jute.h"
#include "records.h"
#include "zk.h"

static void test_primitives(void **state)
{
	struct jute_out o;
	jute_out_init(&o);
	jute_put_int(&o, -5);
	jute_put_long(&o, 0x0102030405060708LL);
	jute_put_bool(&o, true);
	jute_put_string(&o, "hello");
	jute_put_buffer(&o, NULL, -1);
	jute_put_string(&o, NULL);
	assert_int_equal(o.err, 0);
	assert_int_equal(o.len, 4 + 8 + 1 + 4 + 5 + 4 + 4);
	/* big-endian on the wire */
	assert_int_equal(o.buf[4], 1);
	assert_int_equal(o.buf[11], 8);

	struct jute_in in;
	jute_in_init(&in, o.buf, o.len);
	assert_int_equal(jute_get_int(&in), -5);
	assert_true(jute_get_long(&in) == 0x0102030405060708LL);
	assert_true(jute_get_bool(&in));
	char *s = jute_get_string_dup(&in);
	assert_string_equal(s, "hello");
	free(s);
	const uint8_t *p;
	int32_t len;
	jute_get_buffer(&in, &p, &len);
	assert_int_equal(len, -1);
	assert_null(p);
	s = jute_get_string_dup(&in);
	assert_string_equal(s, ""); /* NULL is sent as "" */
	free(s);
	assert_int_equal(in.err, 0);
	assert_int_equal(jute_in_left(&in), 0);
	/* reading past the end is a sticky error and yields zeros */
	assert_int_equal(jute_get_int(&in), 0);
	assert_int_equal(in.err, -EBADMSG);
	assert_int_equal(jute_get_long(&in), 0);
	jute_out_free(&o);
}

static void test_bad_lengths(void **state)
{
	uint8_t buf[16];
	struct jute_in in;
	const uint8_t *p;
	int32_t len;

	/* -2 is not a valid length */
	jute_store32(buf, (uint32_t)-2);
	jute_in_init(&in, buf, 4);
	jute_get_buffer(&in, &p, &len);
	assert_int_equal(in.err, -EBADMSG);

	/* larger than jute.maxbuffer */
	jute_store32(buf, JUTE_MAX_BUFFER + 1);
	jute_in_init(&in, buf, sizeof(buf));
	jute_get_buffer(&in, &p, &len);
	assert_int_equal(in.err, -EBADMSG);

	/* longer than what is left */
	jute_store32(buf, 13);
	jute_in_init(&in, buf, sizeof(buf));
	jute_get_buffer(&in, &p, &len);
	assert_int_equal(in.err, -EBADMSG);

	/* a string with an embedded NUL */
	jute_store32(buf, 3);
	memcpy(buf + 4, "a\0b", 3);
	jute_in_init(&in, buf, 7);
	assert_null(jute_get_string_dup(&in));
	assert_int_equal(in.err, -EBADMSG);

	/* a vector count that cannot fit in what is left */
	jute_store32(buf, 1000);
	jute_in_init(&in, buf, sizeof(buf));
	jute_get_count(&in, 4);
	assert_int_equal(in.err, -EBADMSG);

	/* null vector reads as empty */
	jute_store32(buf, (uint32_t)-1);
	jute_in_init(&in, buf, 4);
	assert_int_equal(jute_get_count(&in, 4), 0);
	assert_int_equal(in.err, 0);
}

static void test_paths(void **state)
{
	const char *good[] = {"/", "/a", "/a/b", "/zookeeper", "/a b/c", "/é", "/..a", "/a.", "/job-0000000001"};
	const char *bad[] = {"", "a", "//", "/a/", "/a//b", "/.", "/..", "/a/./b", "/a/../b", "/a\x01", "/\x7f",
			     "/\xc2\x80" /* U+0080 */, "/\xef\xbf\xb0" /* U+FFF0 */, "/\xee\x80\x80" /* U+E000 */,
			     "/\xff", "/\xc3"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(zk_path_valid(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(zk_path_valid(bad[i], strlen(bad[i])));
	assert_false(zk_path_valid("/a\0b", 4));
	assert_int_equal(zk_path_parent_len("/a/b", 4), 2);
	assert_int_equal(zk_path_parent_len("/a", 2), 1);
	assert_int_equal(zk_path_parent_len("/", 1), 0);
}

static void test_names(void **state)
{
	assert_string_equal(zk_err_name(ZE_NONODE), "NONODE");
	assert_string_equal(zk_err_text(-110), "node exists");
	assert_string_equal(zk_err_name(12345), "UNKNOWN");
	assert_string_equal(zk_op_name(ZOP_MULTIREAD), "multiRead");
	assert_string_equal(zk_op_name(999), "unknown");
}

/* Encodes a request, decodes it back (skipping the length prefix). */
static void roundtrip_request(const struct zk_request *in, struct zk_request *out)
{
	struct jute_out o;
	jute_out_init(&o);
	zk_request_put(&o, in);
	assert_int_equal(o.err, 0);
	assert_int_equal(jute_load32(o.buf), o.len - 4);
	assert_int_equal(zk_request_get(o.buf + 4, o.len - 4, out), 0);
	/* every truncation of the body is rejected, never crashes */
	for (size_t cut = 4; cut < o.len - 4; cut++) {
		struct zk_request tmp;
		assert_int_equal(zk_request_get(o.buf + 4, cut, &tmp), -EBADMSG);
	}
	jute_out_free(&o);
}

static void test_request_create(void **state)
{
	struct zk_acl acl = {.perms = ZK_PERM_ALL, .id = {.scheme = "world", .id = "anyone"}};
	struct zk_request r = {.xid = 7, .type = ZOP_CREATETTL};
	r.op.type = ZOP_CREATETTL;
	r.op.path = "/x";
	r.op.data = (uint8_t *)"abc";
	r.op.data_len = 3;
	r.op.acl.n = 1;
	r.op.acl.v = &acl;
	r.op.flags = ZK_PERSISTENT_WITH_TTL;
	r.op.ttl = 5000;
	struct zk_request d;
	roundtrip_request(&r, &d);
	assert_int_equal(d.xid, 7);
	assert_int_equal(d.type, ZOP_CREATETTL);
	assert_string_equal(d.op.path, "/x");
	assert_int_equal(d.op.data_len, 3);
	assert_memory_equal(d.op.data, "abc", 3);
	assert_int_equal(d.op.acl.n, 1);
	assert_string_equal(d.op.acl.v[0].id.scheme, "world");
	assert_int_equal(d.op.flags, 5);
	assert_true(d.op.ttl == 5000);
	zk_request_free(&d);
}

static void test_request_simple_ops(void **state)
{
	int types[] = {ZOP_DELETE, ZOP_EXISTS, ZOP_GETDATA, ZOP_SETDATA, ZOP_GETACL, ZOP_GETCHILDREN,
		       ZOP_GETCHILDREN2, ZOP_SYNC, ZOP_CHECKWATCHES, ZOP_REMOVEWATCHES, ZOP_DELETECONTAINER,
		       ZOP_GETEPHEMERALS, ZOP_GETALLCHILDRENNUMBER, ZOP_ADDWATCH};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct zk_request r = {.xid = (int32_t)i + 1, .type = types[i]};
		r.op.type = types[i];
		r.op.path = "/some/path";
		r.op.watch = true;
		r.op.version = 3;
		r.op.mode = 1;
		r.op.data = (uint8_t *)"d";
		r.op.data_len = 1;
		struct zk_request d;
		roundtrip_request(&r, &d);
		assert_int_equal(d.type, types[i]);
		assert_string_equal(d.op.path, "/some/path");
		zk_request_free(&d);
	}
}

static void test_request_headers_only(void **state)
{
	int types[] = {ZOP_PING, ZOP_CLOSESESSION, ZOP_WHOAMI};
	for (size_t i = 0; i < 3; i++) {
		struct zk_request r = {.xid = 9, .type = types[i]};
		struct jute_out o;
		jute_out_init(&o);
		zk_request_put(&o, &r);
		assert_int_equal(o.len, 12);
		struct zk_request d;
		assert_int_equal(zk_request_get(o.buf + 4, o.len - 4, &d), 0);
		assert_int_equal(d.type, types[i]);
		zk_request_free(&d);
		jute_out_free(&o);
	}
}

static void test_request_multi(void **state)
{
	struct zk_op ops[3] = {
	    {.type = ZOP_CREATE, .path = "/m1", .data_len = -1, .flags = 0},
	    {.type = ZOP_CHECK, .path = "/m1", .version = 0},
	    {.type = ZOP_DELETE, .path = "/m2", .version = -1},
	};
	struct zk_request r = {.xid = 3, .type = ZOP_MULTI, .nops = 3, .ops = ops};
	struct zk_request d;
	roundtrip_request(&r, &d);
	assert_int_equal(d.nops, 3);
	assert_int_equal(d.ops[1].type, ZOP_CHECK);
	assert_string_equal(d.ops[2].path, "/m2");
	assert_int_equal(d.ops[2].version, -1);
	assert_int_equal(d.ops[0].data_len, -1);
	zk_request_free(&d);

	/* an op type that cannot appear in a multi is malformed */
	struct jute_out o;
	jute_out_init(&o);
	jute_put_int(&o, 1);
	jute_put_int(&o, ZOP_MULTI);
	jute_put_int(&o, ZOP_SETWATCHES);
	jute_put_bool(&o, false);
	jute_put_int(&o, -1);
	assert_int_equal(zk_request_get(o.buf, o.len, &d), -EBADMSG);
	jute_out_free(&o);
}

static void test_request_setwatches(void **state)
{
	char *data[] = {"/a", "/b"};
	char *child[] = {"/c"};
	struct zk_request r = {.xid = ZXID_SETWATCHES, .type = ZOP_SETWATCHES2, .rel_zxid = 42};
	r.watches[ZK_SW_DATA] = (struct zk_str_vec){2, data};
	r.watches[ZK_SW_CHILD] = (struct zk_str_vec){1, child};
	r.watches[ZK_SW_PERSISTENT_RECURSIVE] = (struct zk_str_vec){1, child};
	struct zk_request d;
	roundtrip_request(&r, &d);
	assert_true(d.rel_zxid == 42);
	assert_int_equal(d.watches[ZK_SW_DATA].n, 2);
	assert_string_equal(d.watches[ZK_SW_DATA].v[1], "/b");
	assert_int_equal(d.watches[ZK_SW_EXIST].n, 0);
	assert_int_equal(d.watches[ZK_SW_PERSISTENT_RECURSIVE].n, 1);
	zk_request_free(&d);
}

static void test_request_auth(void **state)
{
	struct zk_request r = {.xid = ZXID_AUTH, .type = ZOP_AUTH, .auth_scheme = "digest",
			       .auth_data = (uint8_t *)"u:p", .auth_len = 3};
	struct zk_request d;
	roundtrip_request(&r, &d);
	assert_string_equal(d.auth_scheme, "digest");
	assert_int_equal(d.auth_len, 3);
	zk_request_free(&d);
}

static void test_trailing_bytes_rejected(void **state)
{
	struct zk_request r = {.xid = 1, .type = ZOP_GETDATA};
	r.op.type = ZOP_GETDATA;
	r.op.path = "/x";
	struct jute_out o;
	jute_out_init(&o);
	zk_request_put(&o, &r);
	jute_put_int(&o, 0);
	struct zk_request d;
	assert_int_equal(zk_request_get(o.buf + 4, o.len - 4, &d), -EBADMSG);
	jute_out_free(&o);
}

static void test_connect(void **state)
{
	struct zk_connect_req c = {.last_zxid_seen = 77, .timeout = 30000, .session_id = 0x1234,
				   .has_read_only = true};
	memset(c.passwd, 0xab, 16);
	struct jute_out o;
	jute_out_init(&o);
	zk_connect_req_put(&o, &c);
	assert_int_equal(o.len, 4 + 45); /* frame length 0x2d */
	struct zk_connect_req d;
	assert_int_equal(zk_connect_req_get(o.buf + 4, o.len - 4, &d), 0);
	assert_true(d.last_zxid_seen == 77 && d.session_id == 0x1234 && d.timeout == 30000);
	assert_true(d.has_read_only);
	/* pre-3.4 clients: 44-byte body without readOnly */
	assert_int_equal(zk_connect_req_get(o.buf + 4, 44, &d), 0);
	assert_false(d.has_read_only);
	assert_int_not_equal(zk_connect_req_get(o.buf + 4, 30, &d), 0);
	jute_out_free(&o);

	struct zk_connect_resp resp = {.timeout = 4000, .session_id = 99, .has_read_only = true};
	jute_out_init(&o);
	zk_connect_resp_put(&o, &resp);
	assert_int_equal(o.len, 41); /* the C client reads exactly 41 bytes */
	struct zk_connect_resp dr;
	assert_int_equal(zk_connect_resp_get(o.buf + 4, o.len - 4, &dr), 0);
	assert_int_equal(dr.timeout, 4000);
	assert_true(dr.session_id == 99);
	jute_out_free(&o);
}

static void roundtrip_response(int32_t type, const struct zk_response *in, struct zk_response *out)
{
	struct jute_out o;
	jute_out_init(&o);
	zk_response_put(&o, type, in);
	assert_int_equal(o.err, 0);
	assert_int_equal(zk_response_get(o.buf + 4, o.len - 4, type, out), 0);
	for (size_t cut = 16; cut < o.len - 4; cut++) {
		struct zk_response tmp;
		assert_int_not_equal(zk_response_get(o.buf + 4, cut, type, &tmp), 0);
	}
	jute_out_free(&o);
}

static void test_responses(void **state)
{
	struct zk_stat st = (struct zk_stat){.czxid = 1, .mzxid = 2, .ctime = 3, .mtime = 4, .version = 5, .cversion = 6,
			      .aversion = 7, .ephemeral_owner = 8, .data_length = 9, .num_children = 10, .pzxid = 11};
	struct zk_response r = {.xid = 5, .zxid = 100};
	r.r.data = (uint8_t *)"payload";
	r.r.data_len = 7;
	r.r.stat = st;
	struct zk_response d;
	roundtrip_response(ZOP_GETDATA, &r, &d);
	assert_int_equal(d.r.data_len, 7);
	assert_true(d.r.stat.czxid == 1 && d.r.stat.mzxid == 2 && d.r.stat.ctime == 3 && d.r.stat.mtime == 4);
	assert_true(d.r.stat.version == 5 && d.r.stat.cversion == 6 && d.r.stat.aversion == 7);
	assert_true(d.r.stat.ephemeral_owner == 8 && d.r.stat.data_length == 9);
	assert_true(d.r.stat.num_children == 10 && d.r.stat.pzxid == 11);
	zk_response_free(&d);

	char *kids[] = {"a", "b", "c"};
	struct zk_response c = {.xid = 6, .zxid = 100};
	c.r.children = (struct zk_str_vec){3, kids};
	c.r.stat = st;
	roundtrip_response(ZOP_GETCHILDREN2, &c, &d);
	assert_int_equal(d.r.children.n, 3);
	assert_string_equal(d.r.children.v[2], "c");
	assert_int_equal(d.r.stat.pzxid, 11);
	zk_response_free(&d);

	struct zk_response e = {.xid = 7, .zxid = 100, .err = ZE_NONODE};
	struct jute_out o;
	jute_out_init(&o);
	zk_response_put(&o, ZOP_EXISTS, &e);
	assert_int_equal(o.len, 4 + 16); /* header only */
	jute_out_free(&o);

	struct zk_client_info info = {"ip", "127.0.0.1"};
	struct zk_response w = {.xid = 8, .zxid = 1};
	w.r.ninfo = 1;
	w.r.info = &info;
	roundtrip_response(ZOP_WHOAMI, &w, &d);
	assert_int_equal(d.r.ninfo, 1);
	assert_string_equal(d.r.info[0].user, "127.0.0.1");
	zk_response_free(&d);
}

static void test_multi_response(void **state)
{
	struct zk_result res[3] = {
	    {.type = ZOP_ERROR, .err = 0},
	    {.type = ZOP_ERROR, .err = ZE_NODEEXISTS},
	    {.type = ZOP_ERROR, .err = ZE_RUNTIMEINCONSISTENCY},
	};
	struct zk_response r = {.xid = 9, .zxid = 12, .nres = 3, .res = res};
	struct zk_response d;
	roundtrip_response(ZOP_MULTI, &r, &d);
	assert_int_equal(d.nres, 3);
	assert_int_equal(d.res[1].type, ZOP_ERROR);
	assert_int_equal(d.res[1].err, ZE_NODEEXISTS);
	assert_int_equal(d.res[2].err, -2);
	zk_response_free(&d);

	struct zk_result ok[2] = {{.type = ZOP_CREATE2, .path = "/n"}, {.type = ZOP_SETDATA}};
	ok[1].stat.version = 4;
	struct zk_response r2 = {.xid = 10, .zxid = 13, .nres = 2, .res = ok};
	roundtrip_response(ZOP_MULTI, &r2, &d);
	assert_string_equal(d.res[0].path, "/n");
	assert_int_equal(d.res[1].stat.version, 4);
	zk_response_free(&d);
}

static void test_event(void **state)
{
	struct jute_out o;
	jute_out_init(&o);
	zk_event_put(&o, -1, ZK_EVENT_CHILD_CHANGED, ZK_STATE_SYNC_CONNECTED, "/p");
	struct zk_response d;
	assert_int_equal(zk_response_get(o.buf + 4, o.len - 4, 0, &d), 0);
	assert_int_equal(d.xid, -1);
	assert_int_equal(d.ev.type, ZK_EVENT_CHILD_CHANGED);
	assert_int_equal(d.ev.state, 3);
	assert_string_equal(d.ev.path, "/p");
	zk_response_free(&d);
	jute_out_free(&o);
}

/* Random bytes must never crash the decoders (run under ASan in `make asan`). */
static void test_fuzz_decoders(void **state)
{
	uint8_t buf[64];
	unsigned seed = 12345;
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = (size_t)(rand_r(&seed) % sizeof(buf));
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)rand_r(&seed);
		if (n >= 8) /* make the opcode plausible half of the time */
			if (iter & 1)
				jute_store32(buf + 4, (uint32_t)(rand_r(&seed) % 24));
		struct zk_request r;
		if (zk_request_get(buf, n, &r) == 0)
			zk_request_free(&r);
		struct zk_response p;
		if (zk_response_get(buf, n, (int32_t)(iter % 24), &p) == 0)
			zk_response_free(&p);
		struct zk_connect_req c;
		zk_connect_req_get(buf, n, &c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_primitives),
	    cmocka_unit_test(test_bad_lengths),
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_request_create),
	    cmocka_unit_test(test_request_simple_ops),
	    cmocka_unit_test(test_request_headers_only),
	    cmocka_unit_test(test_request_multi),
	    cmocka_unit_test(test_request_setwatches),
	    cmocka_unit_test(test_request_auth),
	    cmocka_unit_test(test_trailing_bytes_rejected),
	    cmocka_unit_test(test_connect),
	    cmocka_unit_test(test_responses),
	    cmocka_unit_test(test_multi_response),
	    cmocka_unit_test(test_event),
	    cmocka_unit_test(test_fuzz_decoders),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
