/*
 * test_fsinode.c — unit tests of the mount's node id <-> path table
 * (fs/inode.c): lookup counts and forget, identity changes (re-created
 * node, type change), rename, the created-as-file memory, growth.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "../../fs/inode.c"

static int setup(void **state)
{
	return inode_table_init();
}

static int teardown(void **state)
{
	inode_table_free();
	return 0;
}

static void test_ref_forget(void **state)
{
	struct zk_stat st = {.czxid = 7};
	uint64_t a = inode_ref("/a", &st, true);
	struct inode_info in;

	assert_true(a > 1);
	assert_int_equal(inode_ref("/a", &st, true), a); /* same node, same id */
	assert_int_equal(inode_find("/a", NULL), a);
	assert_int_equal(inode_get(a, &in), 0);
	assert_string_equal(in.path, "/a");
	assert_true(in.dir && in.live && in.have_stat);
	assert_int_equal(in.st.czxid, 7);
	assert_int_equal(in.perm, -1);
	inode_info_free(&in);
	inode_forget(a, 1);
	assert_int_equal(inode_find("/a", NULL), a); /* one lookup left */
	inode_forget(a, 1);
	assert_int_equal(inode_find("/a", NULL), 0);
	assert_int_equal(inode_get(a, &in), -ENOENT);
	/* the root is never freed */
	inode_forget(1, 100);
	assert_int_equal(inode_find("/", NULL), 1);
}

static void test_identity_change(void **state)
{
	struct zk_stat st = {.czxid = 7};
	uint64_t a = inode_ref("/a", &st, false), b, c;

	st.czxid = 9; /* deleted and re-created elsewhere */
	b = inode_ref("/a", &st, false);
	assert_true(b != a);
	assert_int_equal(inode_find("/a", NULL), b);
	c = inode_ref("/a", &st, true); /* became a directory */
	assert_true(c != b);
	/* old ids still resolve (the kernel may hold them) but are not live */
	{
		struct inode_info in;
		assert_int_equal(inode_get(a, &in), 0);
		assert_false(in.live);
		inode_info_free(&in);
	}
	assert_int_equal(inode_detach("/a"), c);
	assert_int_equal(inode_find("/a", NULL), 0);
}

static void test_move(void **state)
{
	struct zk_stat st = {.czxid = 3}, st2 = {.czxid = 4};
	uint64_t a = inode_ref("/x", &st, false), b = inode_ref("/y", &st2, false);
	char *p;

	assert_int_equal(inode_move(a, "/y", &st2), 0);
	assert_int_equal(inode_find("/y", NULL), a);
	assert_int_equal(inode_find("/x", NULL), 0);
	p = inode_path(b);
	assert_string_equal(p, "/y"); /* detached, path kept for the kernel's sake */
	free(p);
}

static void test_created_memory(void **state)
{
	assert_int_equal(inode_created_type(42), -1);
	inode_mark_created(42, false);
	inode_mark_created(43, true);
	assert_int_equal(inode_created_type(42), 0);
	assert_int_equal(inode_created_type(43), 1);
	for (int64_t z = 1000; z < 3000; z++)
		inode_mark_created(z, false);
	assert_int_equal(inode_created_type(42), 0);
	assert_int_equal(inode_created_type(2999), 0);
	assert_int_equal(inode_created_type(5000), -1);
}

static void test_many(void **state)
{
	char path[32];
	struct zk_stat st = {0};

	for (int i = 0; i < 20000; i++) {
		st.czxid = i + 1;
		snprintf(path, sizeof(path), "/n%d", i);
		assert_true(inode_ref(path, &st, false) > 1);
	}
	assert_int_equal(inode_count(), 20001);
	for (int i = 0; i < 20000; i += 7) {
		snprintf(path, sizeof(path), "/n%d", i);
		assert_true(inode_find(path, NULL) > 1);
	}
	inode_set_pending(inode_find("/n5", NULL), 99);
	{
		struct inode_info in;
		inode_find("/n5", &in);
		assert_int_equal(in.pending_size, 99);
		inode_info_free(&in);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ref_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_created_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
