/*
 * test_fsprefetch.c — unit tests of the mount's cache of prefetched
 * directory stats (fs/prefetch.c): answers only under the generation the
 * set was stamped with, absence answered from a current set, replacement
 * of the oldest set, and the miss-run rule that starts a prefetch.  The
 * pipelined fetch itself runs against real servers in the bats suites.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "../../fs/map.c"
#include "../../fs/prefetch.c"

/* The fetch half needs the mount's session; these tests never call it. */
zkc_client *zkfs_client;
zkc_session *zkfs_session_get(void)
{
	return NULL;
}
void zkfs_session_put(void)
{
}

static int teardown(void **state)
{
	pf_cache_clear();
	return 0;
}

static void put3(const char *dir, uint64_t gen, int64_t base)
{
	char *names[] = {"b", "a", "c"};
	struct pf_stat st[3] = {0};
	bool ok[3] = {true, true, false};

	for (int i = 0; i < 3; i++) {
		st[i].st.czxid = base + i;
		st[i].dir = i == 1;
		st[i].perm = 0640;
	}
	pf_cache_put(dir, names, st, ok, 3, gen);
}

static void test_hit_absent_unknown(void **state)
{
	struct pf_stat ps;

	put3("/d", 7, 100);
	assert_int_equal(pf_cache_get("/d", "a", 7, &ps), 1);
	assert_int_equal(ps.st.czxid, 101);
	assert_true(ps.dir);
	assert_int_equal(ps.perm, 0640);
	assert_int_equal(pf_cache_get("/d", "b", 7, &ps), 1);
	assert_int_equal(ps.st.czxid, 100);
	assert_false(ps.dir);
	/* left out of the set (ok false), or never listed: absent */
	assert_int_equal(pf_cache_get("/d", "c", 7, &ps), 0);
	assert_int_equal(pf_cache_get("/d", "zz", 7, &ps), 0);
	/* another directory: no set */
	assert_int_equal(pf_cache_get("/e", "a", 7, &ps), -1);
	assert_int_equal(pf_cache_get("/", "a", 7, &ps), -1);
}

static void test_generation_moves_on(void **state)
{
	struct pf_stat ps;

	put3("/d", 7, 100);
	/* Any change since the set was listed makes it worthless, for
	 * good: the set is dropped, not kept for an older generation. */
	assert_int_equal(pf_cache_get("/d", "a", 8, &ps), -1);
	assert_int_equal(pf_cache_get("/d", "a", 7, &ps), -1);
	put3("/d", 9, 200);
	assert_int_equal(pf_cache_get("/d", "a", 9, &ps), 1);
	assert_int_equal(ps.st.czxid, 201);
}

static void test_replace_and_evict(void **state)
{
	struct pf_stat ps;
	char dir[16];

	put3("/d", 1, 100);
	put3("/d", 1, 300); /* same directory: replaced in place */
	assert_int_equal(pf_cache_get("/d", "a", 1, &ps), 1);
	assert_int_equal(ps.st.czxid, 301);
	for (int i = 0; i < PF_CACHE_DIRS; i++) {
		snprintf(dir, sizeof(dir), "/x%d", i);
		put3(dir, 1, 1000 * (i + 1));
	}
	/* /d was the oldest of PF_CACHE_DIRS + 1 sets */
	assert_int_equal(pf_cache_get("/d", "a", 1, &ps), -1);
	for (int i = 0; i < PF_CACHE_DIRS; i++) {
		snprintf(dir, sizeof(dir), "/x%d", i);
		assert_int_equal(pf_cache_get(dir, "a", 1, &ps), 1);
		assert_int_equal(ps.st.czxid, 1000 * (i + 1) + 1);
	}
}

static void test_empty_set(void **state)
{
	struct pf_stat ps;

	pf_cache_put("/empty", NULL, NULL, NULL, 0, 3);
	assert_int_equal(pf_cache_get("/empty", "a", 3, &ps), 0);
}

static void test_miss_run(void **state)
{
	for (int i = 1; i < PF_MISS_RUN; i++)
		assert_false(pf_cache_miss("/d", 1));
	assert_true(pf_cache_miss("/d", 1));
	/* a prefetch of /d is under way: no second one */
	for (int i = 0; i < 3 * PF_MISS_RUN; i++)
		assert_false(pf_cache_miss("/d", 1));
	pf_cache_done("/d");
	/* the run restarts; misses elsewhere or in another generation
	 * break it */
	for (int i = 1; i < PF_MISS_RUN; i++)
		assert_false(pf_cache_miss("/d", 1));
	assert_false(pf_cache_miss("/e", 1));
	for (int i = 1; i < PF_MISS_RUN; i++)
		assert_false(pf_cache_miss("/d", 1));
	assert_false(pf_cache_miss("/d", 2));
	for (int i = 2; i < PF_MISS_RUN; i++)
		assert_false(pf_cache_miss("/d", 2));
	assert_true(pf_cache_miss("/d", 2));
	/* one prefetch at a time, whatever the directory */
	for (int i = 0; i < 2 * PF_MISS_RUN; i++)
		assert_false(pf_cache_miss("/e", 2));
	pf_cache_done("/e"); /* not the busy one: changes nothing */
	for (int i = 0; i < 2 * PF_MISS_RUN; i++)
		assert_false(pf_cache_miss("/e", 2));
	/* /e's run went on meanwhile: its next miss starts the prefetch */
	pf_cache_done("/d");
	assert_true(pf_cache_miss("/e", 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_hit_absent_unknown, teardown),
		cmocka_unit_test_teardown(test_generation_moves_on, teardown),
		cmocka_unit_test_teardown(test_replace_and_evict, teardown),
		cmocka_unit_test_teardown(test_empty_set, teardown),
		cmocka_unit_test_teardown(test_miss_run, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
