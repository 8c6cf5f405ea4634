/*
 * test_core_fuzz.c — the deterministic slice of the core fuzzer
 * (tests/fuzz/): inputs drawn from fixed seeds are run through the engine
 * of tests/fuzz/fuzz_core.h, which drives the request path of a leader core
 * and a follower fed only txn bytes, and checks replies, notifications,
 * snapshots and fuzzy-snapshot replay against each other.  Bounded to a
 * few seconds; a failing seed is printed so it can be replayed alone with
 * ZKFS_FUZZ_SEED=<seed> (ZKFS_FUZZ_ITERS widens a run).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

static uint64_t cur_seed;

#define FZ_FAIL(msg) fail_msg("seed %llu: %s", (unsigned long long)cur_seed, (msg))
#include "../fuzz/fuzz_core.h"

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: a fixed seed gives the same stream on every machine */
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* One input of `len` bytes from `seed`; skewed towards small byte values
 * now and then, which the engine reads as the common choices. */
static void run_seed(uint64_t seed, size_t len, struct fz_stats *st)
{
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	uint64_t s = seed;
	int skew = (int)(rng_next(&s) % 3);
	for (size_t i = 0; i < len; i++) {
		uint64_t r = rng_next(&s);
		buf[i] = skew && (r >> 60) < (uint64_t)(skew * 4) ? (uint8_t)(r % 8) : (uint8_t)r;
	}
	cur_seed = seed;
	fz_run(buf, len, st);
	free(buf);
}

static void test_fuzz_seeds(void **state)
{
	(void)state;
	const char *one = getenv("ZKFS_FUZZ_SEED");
	if (one) {
		struct fz_stats st1 = {0};
		run_seed(strtoull(one, NULL, 0), 6000, &st1);
		return;
	}
	const char *it = getenv("ZKFS_FUZZ_ITERS");
	int iters = it ? atoi(it) : 2000;
	struct fz_stats st = {0};
	clock_t start = clock();
	int i;
	for (i = 0; i < iters; i++) {
		run_seed(1000 + (uint64_t)i, 500 + (size_t)(i % 12) * 500, &st);
		/* keep `make test` quick on slow (sanitizer, valgrind) builds */
		if (!it && clock() - start > 3 * CLOCKS_PER_SEC)
			break;
	}
	printf("# %d inputs: %llu requests, %llu txns (%llu ok), %llu reads ok, %llu events,"
	       " %llu snapshot, %llu replay and %llu fuzzy-snapshot checks, up to %llu nodes\n",
	       i, (unsigned long long)st.requests, (unsigned long long)st.txns,
	       (unsigned long long)st.txns_ok, (unsigned long long)st.reads_ok,
	       (unsigned long long)st.events, (unsigned long long)st.snapshots,
	       (unsigned long long)st.replays, (unsigned long long)st.fuzzy,
	       (unsigned long long)st.max_nodes);
	if (getenv("ZKFS_FUZZ_VERBOSE"))
		for (int e = 0; e < 160; e++)
			if (st.errs[e][0] || st.errs[e][1])
				printf("# err %d: %llu session creates, %llu others\n", -e,
				       (unsigned long long)st.errs[e][0],
				       (unsigned long long)st.errs[e][1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fuzz_seeds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
