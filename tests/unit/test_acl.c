/*
 * test_acl.c — ACLs: world, auth, digest, ip with CIDR, super, NoAuth,
 * InvalidACL, getACL masking, AuthPacket handling and ACL deduplication
 * surviving create/delete.
 */
#include "core_fixture.h"

#include "acl.h"

#define ALICE "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="
#define BOB "bob:ikIaKsbtGweaHnb/jKn7OHqbunM="

static int create_acl(struct fx *f, int64_t sid, const struct core_auth *a, const char *path,
		      struct zk_acl *acl, int n)
{
	struct zk_request req = {.type = ZOP_CREATE};
	req.op = fx_op_create(path, "d", 0);
	req.op.acl.n = n;
	req.op.acl.v = acl;
	return fx_write(f, sid, a, &req, NULL);
}

static void test_digest_and_auth(void **state)
{
	struct fx *f = fx_new();
	int64_t sid = fx_session(f, 10000);
	char out[128];
	assert_int_equal(acl_digest("alice:secret", 12, out, sizeof(out)), 0);
	assert_string_equal(out, ALICE);
	assert_int_equal(acl_digest("nocolon", 7, out, sizeof(out)), -EINVAL);

	struct core_auth alice, bob, anon;
	core_auth_init(&alice, "10.1.2.3");
	core_auth_init(&bob, "10.1.2.4");
	core_auth_init(&anon, "192.168.0.1");
	assert_int_equal(core_auth_add(f->c, &alice, "digest", (const uint8_t *)"alice:secret", 12),
			 0);
	assert_int_equal(core_auth_add(f->c, &bob, "digest", (const uint8_t *)"bob:pw", 6), 0);
	assert_int_equal(core_auth_add(f->c, &bob, "digest", (const uint8_t *)"bob:pw", 6), 0);
	assert_int_equal(bob.n, 2); /* ip + digest, no duplicate */
	assert_int_equal(core_auth_add(f->c, &anon, "kerberos", (const uint8_t *)"x", 1), -EACCES);
	assert_int_equal(core_auth_add(f->c, &anon, "digest", (const uint8_t *)"nocolon", 7),
			 -EACCES);
	assert_int_equal(core_auth_add(f->c, &anon, "ip", NULL, 0), 0);

	/* "auth" expands to the creator's digest ids */
	struct zk_acl a_auth = {ZK_PERM_ALL, {"auth", ""}};
	assert_int_equal(create_acl(f, sid, &anon, "/x", &a_auth, 1), ZE_INVALIDACL);
	assert_int_equal(create_acl(f, sid, &alice, "/a", &a_auth, 1), 0);
	struct zk_response r;
	assert_int_equal(fx_read(f, sid, &alice, NULL, ZOP_GETACL, "/a", false, &r), 0);
	assert_int_equal(r.r.acl.n, 1);
	assert_string_equal(r.r.acl.v[0].id.scheme, "digest");
	assert_string_equal(r.r.acl.v[0].id.id, ALICE);
	zk_response_free(&r);
	assert_int_equal(fx_read(f, sid, &alice, NULL, ZOP_GETDATA, "/a", false, &r), 0);
	zk_response_free(&r);
	assert_int_equal(fx_read(f, sid, &bob, NULL, ZOP_GETDATA, "/a", false, &r), ZE_NOAUTH);
	zk_response_free(&r);
	assert_int_equal(fx_read(f, sid, &bob, NULL, ZOP_GETACL, "/a", false, &r), ZE_NOAUTH);
	zk_response_free(&r);
	assert_int_equal(fx_read(f, sid, &bob, NULL, ZOP_GETCHILDREN, "/a", false, &r), ZE_NOAUTH);
	zk_response_free(&r);
	/* exists needs no permission */
	assert_int_equal(fx_read(f, sid, &bob, NULL, ZOP_EXISTS, "/a", false, &r), 0);
	zk_response_free(&r);

	/* getACL with READ but not ADMIN masks digest hashes */
	struct zk_acl mixed[2] = {
	    {ZK_PERM_READ, {"world", "anyone"}},
	    {ZK_PERM_ALL, {"digest", BOB}},
	};
	assert_int_equal(create_acl(f, sid, &anon, "/m", mixed, 2), 0);
	assert_int_equal(fx_read(f, sid, &alice, NULL, ZOP_GETACL, "/m", false, &r), 0);
	assert_int_equal(r.r.acl.n, 2);
	assert_string_equal(r.r.acl.v[1].id.id, "bob:x");
	zk_response_free(&r);
	assert_int_equal(fx_read(f, sid, &bob, NULL, ZOP_GETACL, "/m", false, &r), 0);
	assert_string_equal(r.r.acl.v[1].id.id, BOB);
	zk_response_free(&r);
	/* writes need their bits */
	struct zk_request req = {.type = ZOP_SETDATA};
	req.op = (struct zk_op){.type = ZOP_SETDATA, .path = "/m", .data_len = -1, .version = -1};
	assert_int_equal(fx_write(f, sid, &alice, &req, NULL), ZE_NOAUTH);
	assert_int_equal(fx_write(f, sid, &bob, &req, NULL), 0);
	req.type = ZOP_SETACL;
	req.op = (struct zk_op){.type = ZOP_SETACL, .path = "/m", .version = -1};
	req.op.acl.n = 1;
	req.op.acl.v = mixed;
	assert_int_equal(fx_write(f, sid, &alice, &req, NULL), ZE_NOAUTH);
	assert_int_equal(fx_write(f, sid, &bob, &req, NULL), 0);

	/* super passes everything */
	struct core_config cfg = {.tick_ms = 2000,
				  .super_digest = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="};
	struct fx *g = fx_new_cfg(&cfg);
	int64_t s2 = fx_session(g, 10000);
	struct core_auth su;
	core_auth_init(&su, "127.0.0.1");
	assert_int_equal(core_auth_add(g->c, &su, "digest", (const uint8_t *)"super:test", 10), 0);
	assert_int_equal(su.n, 3);
	struct zk_acl only_bob = {ZK_PERM_ALL, {"digest", BOB}};
	assert_int_equal(create_acl(g, s2, &su, "/b", &only_bob, 1), 0);
	assert_int_equal(fx_read(g, s2, &su, NULL, ZOP_GETDATA, "/b", false, &r), 0);
	zk_response_free(&r);
	assert_int_equal(fx_read(g, s2, &anon, NULL, ZOP_GETDATA, "/b", false, &r), ZE_NOAUTH);
	zk_response_free(&r);
	/* a wrong super password is just another digest user */
	struct core_auth notsu;
	core_auth_init(&notsu, NULL);
	assert_int_equal(core_auth_add(g->c, &notsu, "digest", (const uint8_t *)"super:nope", 10),
			 0);
	assert_int_equal(fx_read(g, s2, &notsu, NULL, ZOP_GETDATA, "/b", false, &r), ZE_NOAUTH);
	zk_response_free(&r);
	core_auth_free(&notsu);
	core_auth_free(&su);
	fx_free(g);

	core_auth_free(&alice);
	core_auth_free(&bob);
	core_auth_free(&anon);
	fx_free(f);
}

static void test_ip(void **state)
{
	assert_true(acl_ip_match("10.0.0.0/8", "10.200.3.4"));
	assert_false(acl_ip_match("10.0.0.0/8", "11.0.0.1"));
	assert_true(acl_ip_match("192.168.1.7", "192.168.1.7"));
	assert_false(acl_ip_match("192.168.1.7", "192.168.1.8"));
	assert_true(acl_ip_match("192.168.1.0/25", "192.168.1.127"));
	assert_false(acl_ip_match("192.168.1.0/25", "192.168.1.128"));
	assert_true(acl_ip_match("0.0.0.0/0", "1.2.3.4"));
	assert_true(acl_ip_match("::1", "::1"));
	assert_true(acl_ip_match("fe80::/16", "fe80::1:2"));
	assert_false(acl_ip_match("10.0.0.0/8", "::1"));
	assert_true(acl_ip_match("127.0.0.1", "::ffff:127.0.0.1"));
	assert_false(acl_ip_valid("10.0.0.0/33"));
	assert_false(acl_ip_valid("hello"));
	assert_false(acl_ip_valid("10.0.0.0/"));
	assert_true(acl_ip_valid("10.0.0.0/0"));

	struct fx *f = fx_new();
	int64_t sid = fx_session(f, 10000);
	struct zk_acl net = {ZK_PERM_ALL, {"ip", "127.0.0.0/8"}};
	assert_int_equal(create_acl(f, sid, &f->auth, "/ip", &net, 1), 0);
	struct core_auth far, near;
	core_auth_init(&far, "10.0.0.1");
	core_auth_init(&near, "127.1.2.3");
	struct zk_response r;
	assert_int_equal(fx_read(f, sid, &far, NULL, ZOP_GETDATA, "/ip", false, &r), ZE_NOAUTH);
	zk_response_free(&r);
	assert_int_equal(fx_read(f, sid, &near, NULL, ZOP_GETDATA, "/ip", false, &r), 0);
	zk_response_free(&r);
	/* ip ids don't count for "auth" */
	struct zk_acl a_auth = {ZK_PERM_ALL, {"auth", ""}};
	assert_int_equal(create_acl(f, sid, &near, "/ip2", &a_auth, 1), ZE_INVALIDACL);
	core_auth_free(&far);
	core_auth_free(&near);
	fx_free(f);
}

static void test_invalid_acls(void **state)
{
	struct fx *f = fx_new();
	int64_t sid = fx_session(f, 10000);
	struct zk_acl bad[] = {
	    {ZK_PERM_ALL, {"world", "someone"}}, {ZK_PERM_ALL, {"digest", "nocolon"}},
	    {ZK_PERM_ALL, {"ip", "999.1.1.1"}},	 {ZK_PERM_ALL, {"unknown", "x"}},
	    {ZK_PERM_ALL, {"super", ""}},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(create_acl(f, sid, &f->auth, "/bad", &bad[i], 1), ZE_INVALIDACL);
	assert_int_equal(create_acl(f, sid, &f->auth, "/bad", NULL, 0), ZE_INVALIDACL);
	/* duplicates are dropped */
	struct zk_acl dup[2] = {{ZK_PERM_ALL, {"world", "anyone"}},
				{ZK_PERM_ALL, {"world", "anyone"}}};
	assert_int_equal(create_acl(f, sid, &f->auth, "/dup", dup, 2), 0);
	struct zk_response r;
	assert_int_equal(fx_read(f, sid, NULL, NULL, ZOP_GETACL, "/dup", false, &r), 0);
	assert_int_equal(r.r.acl.n, 1);
	zk_response_free(&r);
	fx_free(f);
}

static void test_store(void **state)
{
	struct acl_store s;
	acl_store_init(&s);
	struct zk_acl a = {ZK_PERM_READ, {"digest", ALICE}};
	struct zk_acl_vec v = {1, &a};
	uint32_t i1 = acl_intern(&s, &v);
	uint32_t i2 = acl_intern(&s, &v);
	assert_int_equal(i1, i2);
	assert_true(i1 > ACL_READ);
	struct zk_acl open = {ZK_PERM_ALL, {"world", "anyone"}};
	struct zk_acl_vec ov = {1, &open};
	uint32_t o = acl_intern(&s, &ov);
	assert_int_equal(o, ACL_OPEN);
	acl_unref(&s, o);
	assert_non_null(acl_get(&s, ACL_OPEN)); /* fixed slots stay */
	acl_unref(&s, i1);
	assert_non_null(acl_get(&s, i1));
	acl_unref(&s, i1);
	assert_null(acl_get(&s, i1));
	/* the slot is recycled */
	a.perms = ZK_PERM_ALL;
	assert_int_equal(acl_intern(&s, &v), i1);
	/* many distinct ACLs (per-user ACLs): the index keeps them apart */
	char id[64];
	uint32_t idx[3000];
	for (int k = 0; k < 3000; k++) {
		snprintf(id, sizeof(id), "user%d:hash", k);
		struct zk_acl e = {ZK_PERM_ALL, {"digest", id}};
		struct zk_acl_vec ev = {1, &e};
		idx[k] = acl_intern(&s, &ev);
		assert_int_equal(acl_intern(&s, &ev), idx[k]);
	}
	for (int k = 0; k < 3000; k += 2) {
		acl_unref(&s, idx[k]);
		acl_unref(&s, idx[k]);
		assert_null(acl_get(&s, idx[k]));
	}
	for (int k = 1; k < 3000; k += 2) {
		snprintf(id, sizeof(id), "user%d:hash", k);
		struct zk_acl e = {ZK_PERM_ALL, {"digest", id}};
		struct zk_acl_vec ev = {1, &e};
		assert_int_equal(acl_intern(&s, &ev), idx[k]);
		assert_string_equal(acl_get(&s, idx[k])->v[0].id.id, id);
	}
	acl_store_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_digest_and_auth),
	    cmocka_unit_test(test_ip),
	    cmocka_unit_test(test_invalid_acls),
	    cmocka_unit_test(test_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
