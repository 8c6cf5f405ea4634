/*
 * tmpdir_fixture.h — one temporary directory for a whole cmocka group of
 * tests that read files (test_sasl.c, test_zkc_props.c): made by the group
 * setup, removed with everything in it by the group teardown, and
 * tmpdir_file to write a file there.  Header-only, like core_fixture.h;
 * include it after cmocka.h.
 */
#ifndef ZKFS_TESTS_TMPDIR_FIXTURE_H
#define ZKFS_TESTS_TMPDIR_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tmpdir[64];

/* Group setup: makes tmpdir from tmpl, a mkdtemp template. */
static int tmpdir_make(const char *tmpl)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int tmpdir_rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

/* Group teardown: removes tmpdir and what the tests left in it. */
static int tmpdir_remove(void **state)
{
	(void)state;
	return nftw(tmpdir, tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes text to tmpdir/name; returns its path, valid until the fourth
 * call after this one (a test may hold a few at once). */
static const char *tmpdir_file(const char *name, const char *text)
{
	static char path[4][160];
	static int next;
	char *p = path[next++ % 4];
	snprintf(p, sizeof(path[0]), "%s/%s", tmpdir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

#endif
