/*
 * test_fsmap.c — unit tests of the mount's naming and typing rules
 * (fs/map.c): dir/file rule, path joins, '%' names, errno mapping, ACL to
 * mode bits, ACL text round trips, xattr formatting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../fs/map.c"

static void test_is_dir(void **state)
{
	struct zk_stat st = {0};

	assert_true(map_is_dir(&st, -1)); /* persistent, no data: container */
	assert_false(map_is_dir(&st, 0)); /* made here as a file: stays one */
	st.data_length = 3;
	assert_false(map_is_dir(&st, -1));
	st.num_children = 1;
	assert_true(map_is_dir(&st, -1)); /* data and children: dir (+ .zdata) */
	assert_true(map_is_dir(&st, 0));  /* a file that gained children */
	st.num_children = 0;
	st.data_length = 0;
	st.ephemeral_owner = 0x1234;
	assert_false(map_is_dir(&st, -1)); /* ephemerals are files */
	assert_true(map_is_dir(&st, 1));   /* ... except a mkdir lock, here */
}

static void test_paths(void **state)
{
	char *p = map_join("/", "a");
	assert_string_equal(p, "/a");
	free(p);
	p = map_join("/a/b", "c");
	assert_string_equal(p, "/a/b/c");
	free(p);
	assert_string_equal(map_basename("/a/b"), "b");
	assert_string_equal(map_basename("/"), "");
	p = map_dirname("/a/b");
	assert_string_equal(p, "/a");
	free(p);
	p = map_dirname("/a");
	assert_string_equal(p, "/");
	free(p);
	assert_null(map_dirname("/"));
}

static void test_names(void **state)
{
	size_t stem = 0;

	assert_int_equal(map_name_check("ok-name_1.txt"), 0);
	assert_int_equal(map_name_check("."), -EINVAL);
	assert_int_equal(map_name_check(".."), -EINVAL);
	assert_int_equal(map_name_check("a\001b"), -EINVAL);
	assert_int_equal(map_name_check(""), -EINVAL);
	assert_true(map_is_seq_name("job-%", &stem));
	assert_int_equal(stem, 4);
	assert_false(map_is_seq_name("%", NULL));
	assert_false(map_is_seq_name("job", NULL));
	assert_false(map_is_seq_name("50%off", NULL));
}

static void test_errno(void **state)
{
	assert_int_equal(map_zk_errno(ZE_OK), 0);
	assert_int_equal(map_zk_errno(ZE_NONODE), -ENOENT);
	assert_int_equal(map_zk_errno(ZE_NODEEXISTS), -EEXIST);
	assert_int_equal(map_zk_errno(ZE_NOTEMPTY), -ENOTEMPTY);
	assert_int_equal(map_zk_errno(ZE_NOAUTH), -EACCES);
	assert_int_equal(map_zk_errno(ZE_BADARGUMENTS), -EINVAL);
	assert_int_equal(map_zk_errno(ZE_NOCHILDRENFOREPHEMERALS), -ENOTDIR);
	assert_int_equal(map_zk_errno(ZE_BADVERSION), -EAGAIN);
	assert_int_equal(map_zk_errno(ZE_CONNECTIONLOSS), -EIO);
	assert_int_equal(map_zk_errno(ZE_OPERATIONTIMEOUT), -ETIMEDOUT);
	assert_int_equal(map_zk_errno(ZE_MARSHALLINGERROR), -EFBIG);
	assert_int_equal(map_zk_errno(ZE_UNIMPLEMENTED), -ENOTSUP);
	assert_int_equal(map_zk_errno(-9999), -EIO);
}

static void test_acl_mode(void **state)
{
	struct zk_acl open_acl = {ZK_PERM_ALL, {"world", "anyone"}};
	struct zk_acl read_acl = {ZK_PERM_READ, {"world", "anyone"}};
	struct zk_acl mine[2] = {{ZK_PERM_ALL, {"digest", "alice:HASH="}},
				 {ZK_PERM_READ, {"world", "anyone"}}};
	struct zk_acl_vec v = {1, &open_acl};
	const char *own[] = {"digest:alice"};

	assert_int_equal(map_acl_mode(&v, NULL, 0, false), 0666);
	assert_int_equal(map_acl_mode(&v, NULL, 0, true), 0777);
	v.v = &read_acl;
	assert_int_equal(map_acl_mode(&v, NULL, 0, false), 0444);
	assert_int_equal(map_acl_mode(&v, NULL, 0, true), 0555);
	v.n = 2;
	v.v = mine;
	assert_int_equal(map_acl_mode(&v, own, 1, false), 0644);
	assert_int_equal(map_acl_mode(&v, NULL, 0, false), 0444);
}

static void test_acl_text(void **state)
{
	struct zk_acl_vec v = {0};
	char *t;

	assert_int_equal(map_acl_parse("world:anyone:cdrwa", 18, &v), 0);
	assert_int_equal(v.n, 1);
	assert_int_equal(v.v[0].perms, ZK_PERM_ALL);
	t = map_acl_format(&v);
	assert_string_equal(t, "world:anyone:cdrwa");
	free(t);
	zk_acl_vec_free(&v);

	const char *two = "digest:bob:X1y2Z3=:rw, world:anyone:r\n";
	assert_int_equal(map_acl_parse(two, strlen(two), &v), 0);
	assert_int_equal(v.n, 2);
	assert_string_equal(v.v[0].id.scheme, "digest");
	assert_string_equal(v.v[0].id.id, "bob:X1y2Z3=");
	assert_int_equal(v.v[0].perms, ZK_PERM_READ | ZK_PERM_WRITE);
	t = map_acl_format(&v);
	assert_string_equal(t, "digest:bob:X1y2Z3=:rw,world:anyone:r");
	free(t);
	zk_acl_vec_free(&v);

	assert_int_equal(map_acl_parse("world:anyone:xyz", 16, &v), -EINVAL);
	assert_int_equal(map_acl_parse("nocolon", 7, &v), -EINVAL);
	assert_int_equal(map_acl_parse("", 0, &v), -EINVAL);
	assert_int_equal(map_acl_parse("a:b:r,", 6, &v), -EINVAL);
}

static void test_xattr(void **state)
{
	struct zk_stat st = {.czxid = 0x10, .mzxid = 0x20, .pzxid = 0x30, .version = 4,
			     .cversion = 5, .aversion = 6, .ephemeral_owner = 0xabc};
	char buf[64];
	size_t len;
	const char *names = map_xattr_names(&len);

	assert_int_equal(map_xattr_get("user.zk.name", "/a/b", &st, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "b");
	map_xattr_get("user.zk.path", "/a/b", &st, buf, sizeof(buf));
	assert_string_equal(buf, "/a/b");
	map_xattr_get("user.zk.version", "/a/b", &st, buf, sizeof(buf));
	assert_string_equal(buf, "4");
	map_xattr_get("user.zk.czxid", "/a/b", &st, buf, sizeof(buf));
	assert_string_equal(buf, "0x10");
	map_xattr_get("user.zk.ephemeralOwner", "/a/b", &st, buf, sizeof(buf));
	assert_string_equal(buf, "0xabc");
	st.ephemeral_owner = 0;
	map_xattr_get("user.zk.ephemeralOwner", "/a/b", &st, buf, sizeof(buf));
	assert_string_equal(buf, "0");
	assert_int_equal(map_xattr_get("user.other", "/a", &st, buf, sizeof(buf)), -ENODATA);
	assert_int_equal(map_xattr_get("user.zk.path", "/a/b", &st, buf, 2), -ERANGE);
	assert_true(len > 0 && names[len - 1] == '\0');
	assert_non_null(memmem(names, len, "user.zk.acl", 12));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_dir),	  cmocka_unit_test(test_paths),
		cmocka_unit_test(test_names),	  cmocka_unit_test(test_errno),
		cmocka_unit_test(test_acl_mode), cmocka_unit_test(test_acl_text),
		cmocka_unit_test(test_xattr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
