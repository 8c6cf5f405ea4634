/*
 * storage_fixture.h — the fixture shared by the storage unit tests
 * (test_log.c, test_snap.c): a fresh temp directory per test, the storage
 * layer's messages captured into `msgs` for assertions, and fault
 * injection cleared before and after.  Header-only, like core_fixture.h;
 * include it after cmocka.h and server/log.h.
 */
#ifndef ZKFS_TESTS_STORAGE_FIXTURE_H
#define ZKFS_TESTS_STORAGE_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char msgs[8192]; /* storage messages of the current test */

static void capture(enum storage_level level, const char *msg)
{
	size_t l = strlen(msgs);
	snprintf(msgs + l, sizeof(msgs) - l, "%d:%s\n", (int)level, msg);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

struct fx {
	char dir[64];
};

/* Creates the test's directory from `tmpl` (a mkdtemp template). */
static int fx_setup(void **state, const char *tmpl)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s", tmpl);
	if (!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	msgs[0] = '\0';
	storage_set_msg_fn(capture);
	storage_fault_clear();
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	storage_fault_clear();
	storage_set_msg_fn(NULL);
	nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

#endif
