/*
 * fuzz_core.c — libFuzzer entry point for the server's request path: each
 * input is a script of frames, sessions, identities, clock steps and
 * snapshot checks run by the engine in fuzz_core.h against two cores (a
 * leader and a follower fed only the txn bytes) and snapshot reloads.
 * Build and run with tests/fuzz/run (clang -fsanitize=fuzzer,address,undefined);
 * the deterministic slice of it runs in `make test` as unit/test_core_fuzz.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0; /* long inputs only slow the search down */
	static struct fz_stats st;
	fz_run(data, size, &st);
	return 0;
}
