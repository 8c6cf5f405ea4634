/*
 * test_snap.c — snapshot files (server/snap.c): round trip, fallback to an
 * older snapshot when the newest is truncated or corrupt, abort and stale
 * temp files, injected ENOSPC/EIO, purge of snapshots and the logs they no
 * longer need, and the load time of a million 100-byte records.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "snap.h"

#include "storage_fixture.h"

static int setup(void **state)
{
	return fx_setup(state, "/tmp/zkfs-test-snap-XXXXXX");
}

/* record i of a snapshot tagged `tag` */
static size_t rec_len(uint64_t i)
{
	return (size_t)(i * 7919 % 200);
}

static void rec_fill(uint64_t tag, uint64_t i, uint8_t *buf)
{
	for (size_t k = 0; k < rec_len(i); k++)
		buf[k] = (uint8_t)(tag + i * 31 + k);
}

static void write_snap(const char *dir, uint64_t zxid, uint64_t n)
{
	struct snap_writer *w;
	assert_int_equal(snap_writer_open(&w, dir, zxid), 0);
	uint8_t buf[256];
	for (uint64_t i = 0; i < n; i++) {
		rec_fill(zxid, i, buf);
		assert_int_equal(snap_writer_append(w, buf, rec_len(i)), 0);
	}
	assert_int_equal(snap_writer_count(w), n);
	assert_int_equal(snap_writer_commit(w), 0);
}

struct seen {
	uint64_t tag; /* expected zxid, for contents */
	uint64_t n;
	bool bad;
};

static int check_rec(void *arg, const void *rec, size_t len)
{
	struct seen *s = arg;
	uint8_t buf[256];
	rec_fill(s->tag, s->n, buf);
	if (len != rec_len(s->n) || memcmp(buf, rec, len) != 0)
		s->bad = true;
	s->n++;
	return 0;
}

static void snap_path(char *out, size_t n, const char *dir, uint64_t zxid)
{
	snprintf(out, n, "%s/snapshot.%" PRIx64, dir, zxid);
}

static off_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) < 0 ? -1 : st.st_size;
}

static void flip(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t b;
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x40;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

/* ---------------------------------------------------------------- tests */

static void test_round_trip(void **state)
{
	struct fx *fx = *state;
	write_snap(fx->dir, 0x100000005ULL, 5000);
	char p[128];
	snap_path(p, sizeof(p), fx->dir, 0x100000005ULL);
	assert_true(file_size(p) > 0);
	uint64_t z, count;
	assert_int_equal(snap_verify(p, &z, &count), 0);
	assert_int_equal(z, 0x100000005ULL);
	assert_int_equal(count, 5000);
	struct seen s = {.tag = 0x100000005ULL};
	assert_int_equal(snap_load(fx->dir, check_rec, &s, &z), 0);
	assert_int_equal(z, 0x100000005ULL);
	assert_int_equal(s.n, 5000);
	assert_false(s.bad);
	assert_non_null(strstr(msgs, "loaded snapshot"));
}

static void test_empty_and_large_records(void **state)
{
	struct fx *fx = *state;
	struct snap_writer *w;
	assert_int_equal(snap_writer_open(&w, fx->dir, 7), 0);
	size_t big = (6u << 20) + 3; /* larger than the writer's buffer */
	uint8_t *b = malloc(big);
	for (size_t i = 0; i < big; i++)
		b[i] = (uint8_t)(i * 13);
	assert_int_equal(snap_writer_append(w, "", 0), 0);
	assert_int_equal(snap_writer_append(w, b, big), 0);
	assert_int_equal(snap_writer_append(w, "tail", 4), 0);
	assert_int_equal(snap_writer_commit(w), 0);
	uint64_t z;
	char p[128];
	snap_path(p, sizeof(p), fx->dir, 7);
	uint64_t count;
	assert_int_equal(snap_verify(p, &z, &count), 0);
	assert_int_equal(count, 3);
	free(b);
}

static void test_no_snapshot(void **state)
{
	struct fx *fx = *state;
	uint64_t z = 99;
	assert_int_equal(snap_load(fx->dir, NULL, NULL, &z), -ENOENT);
	assert_int_equal(z, 0);
	char missing[128];
	snprintf(missing, sizeof(missing), "%s/nope", fx->dir);
	assert_int_equal(snap_load(missing, NULL, NULL, &z), -ENOENT);
}

/* The newest snapshot is truncated: the previous one is loaded. */
static void test_truncated_newest_falls_back(void **state)
{
	struct fx *fx = *state;
	write_snap(fx->dir, 100, 300);
	write_snap(fx->dir, 200, 300);
	char p[128];
	snap_path(p, sizeof(p), fx->dir, 200);
	assert_int_equal(truncate(p, file_size(p) - 10), 0);
	struct seen s = {.tag = 100};
	uint64_t z;
	assert_int_equal(snap_load(fx->dir, check_rec, &s, &z), 0);
	assert_int_equal(z, 100);
	assert_int_equal(s.n, 300);
	assert_false(s.bad);
	assert_non_null(strstr(msgs, "skipping snapshot"));
	assert_non_null(strstr(msgs, p));
}

/* The newest snapshot has a flipped bit in the middle. */
static void test_corrupt_newest_falls_back(void **state)
{
	struct fx *fx = *state;
	write_snap(fx->dir, 100, 300);
	write_snap(fx->dir, 200, 300);
	write_snap(fx->dir, 300, 300);
	char p[128];
	snap_path(p, sizeof(p), fx->dir, 300);
	flip(p, file_size(p) / 2);
	snap_path(p, sizeof(p), fx->dir, 200);
	flip(p, 30);
	struct seen s = {.tag = 100};
	uint64_t z;
	assert_int_equal(snap_load(fx->dir, check_rec, &s, &z), 0);
	assert_int_equal(z, 100);
	assert_int_equal(s.n, 300); /* the callback saw only the good one */
	assert_false(s.bad);
	assert_non_null(strstr(msgs, "CRC mismatch"));
}

static void test_none_valid_is_error(void **state)
{
	struct fx *fx = *state;
	write_snap(fx->dir, 100, 10);
	char p[128];
	snap_path(p, sizeof(p), fx->dir, 100);
	assert_int_equal(truncate(p, 20), 0);
	uint64_t z;
	assert_int_equal(snap_load(fx->dir, NULL, NULL, &z), -EBADMSG);
	assert_non_null(strstr(msgs, "refusing to start"));
}

/* A file renamed to another zxid's name is not trusted. */
static void test_name_mismatch(void **state)
{
	struct fx *fx = *state;
	write_snap(fx->dir, 100, 10);
	write_snap(fx->dir, 200, 10);
	char a[128], b[128];
	snap_path(a, sizeof(a), fx->dir, 200);
	snap_path(b, sizeof(b), fx->dir, 300);
	assert_int_equal(rename(a, b), 0);
	uint64_t z;
	struct seen s = {.tag = 100};
	assert_int_equal(snap_load(fx->dir, check_rec, &s, &z), 0);
	assert_int_equal(z, 100);
}

static void test_abort_and_stale_tmp(void **state)
{
	struct fx *fx = *state;
	struct snap_writer *w;
	assert_int_equal(snap_writer_open(&w, fx->dir, 50), 0);
	assert_int_equal(snap_writer_append(w, "abc", 3), 0);
	snap_writer_abort(w);
	uint64_t *z;
	size_t n;
	assert_int_equal(snap_list(fx->dir, &z, &n), 0);
	assert_int_equal(n, 0);
	free(z);
	char tmp[128];
	snprintf(tmp, sizeof(tmp), "%s/snapshot.%x.tmp", fx->dir, 50);
	assert_int_equal(file_size(tmp), -1);

	/* an interrupted writer's temp file (a crash): ignored, then removed */
	assert_int_equal(snap_writer_open(&w, fx->dir, 60), 0);
	assert_int_equal(snap_writer_append(w, "abc", 3), 0);
	snprintf(tmp, sizeof(tmp), "%s/snapshot.%x.tmp", fx->dir, 60);
	assert_true(file_size(tmp) >= 0);
	write_snap(fx->dir, 40, 5);
	uint64_t zx;
	struct seen s = {.tag = 40};
	assert_int_equal(snap_load(fx->dir, check_rec, &s, &zx), 0);
	assert_int_equal(zx, 40);
	assert_int_equal(file_size(tmp), -1);
	snap_writer_abort(w);
}

static void test_enospc_while_writing(void **state)
{
	struct fx *fx = *state;
	write_snap(fx->dir, 100, 10);
	struct snap_writer *w;
	assert_int_equal(snap_writer_open(&w, fx->dir, 200), 0);
	storage_fault_set(STORAGE_FAULT_WRITE, 1, -ENOSPC);
	uint8_t buf[4096] = {0};
	int rc = 0;
	for (int i = 0; i < 5000 && !rc; i++)
		rc = snap_writer_append(w, buf, sizeof(buf));
	assert_int_equal(rc, -ENOSPC);
	assert_int_equal(snap_writer_append(w, buf, 1), -ENOSPC); /* sticky */
	assert_int_equal(snap_writer_commit(w), -ENOSPC);
	char p[128];
	snap_path(p, sizeof(p), fx->dir, 200);
	assert_int_equal(file_size(p), -1); /* no snapshot under the final name */
	uint64_t z;
	assert_int_equal(snap_load(fx->dir, NULL, NULL, &z), 0);
	assert_int_equal(z, 100);
}

static void test_eio_on_fsync(void **state)
{
	struct fx *fx = *state;
	struct snap_writer *w;
	assert_int_equal(snap_writer_open(&w, fx->dir, 200), 0);
	assert_int_equal(snap_writer_append(w, "abc", 3), 0);
	storage_fault_set(STORAGE_FAULT_SYNC, 1, -EIO);
	assert_int_equal(snap_writer_commit(w), -EIO);
	uint64_t z;
	assert_int_equal(snap_load(fx->dir, NULL, NULL, &z), -ENOENT);
	/* and a failing directory fsync (the one after the rename) */
	assert_int_equal(snap_writer_open(&w, fx->dir, 300), 0);
	storage_fault_set(STORAGE_FAULT_SYNC, 2, -EIO);
	assert_int_equal(snap_writer_commit(w), -EIO);
	assert_int_equal(snap_load(fx->dir, NULL, NULL, &z), -ENOENT);
}

static void test_list_and_purge(void **state)
{
	struct fx *fx = *state;
	char logdir[128];
	snprintf(logdir, sizeof(logdir), "%s/logs", fx->dir);
	/* log files 1, 101, 201, ... and snapshots at 150, 250, 350, 450, 550 */
	struct zlog *log;
	assert_int_equal(zlog_open(&log, logdir, NULL, 0, NULL, NULL, NULL), 0);
	for (uint64_t z = 1; z <= 600; z++) {
		assert_int_equal(zlog_append(log, z, "t", 1), 0);
		if (z % 100 == 0) {
			assert_int_equal(zlog_sync(log), 0);
			assert_int_equal(zlog_roll(log), 0);
		}
	}
	zlog_close(log);
	for (uint64_t s = 150; s <= 550; s += 100)
		write_snap(fx->dir, s, 3);
	uint64_t *z;
	size_t n;
	assert_int_equal(snap_list(fx->dir, &z, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(z[0], 550); /* newest first */
	assert_int_equal(z[4], 150);
	free(z);

	/* retain 3: snapshots 350..550 stay; logs from 301 (holds 350) on */
	int removed = snap_purge(fx->dir, logdir, 3);
	assert_int_equal(removed, 2 + 3); /* 150, 250; log.1, log.65, log.c9 */
	assert_int_equal(snap_list(fx->dir, &z, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(z[2], 350);
	free(z);
	assert_int_equal(zlog_list(logdir, &z, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(z[0], 301);
	free(z);
	/* recovery from the oldest kept snapshot still finds its next txn */
	assert_int_equal(zlog_iterate(logdir, 350, NULL, NULL), 0);

	/* retain below 3 counts as 3 */
	assert_int_equal(snap_purge(fx->dir, logdir, 1), 0);
	/* no snapshot at all: logs are never purged */
	char empty[128];
	snprintf(empty, sizeof(empty), "%s/none", fx->dir);
	assert_int_equal(snap_purge(empty, logdir, 3), 0);
	assert_int_equal(zlog_list(logdir, &z, &n), 0);
	assert_int_equal(n, 3);
	free(z);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int count_only(void *arg, const void *rec, size_t len)
{
	(void)rec;
	*(uint64_t *)arg += len;
	return 0;
}

/* A million 100-byte records: written and loaded, with times printed. */
static void test_million_records(void **state)
{
	struct fx *fx = *state;
	const uint64_t N = 1000000;
	uint8_t rec[100];
	memset(rec, 'n', sizeof(rec));
	double t0 = now_s();
	struct snap_writer *w;
	assert_int_equal(snap_writer_open(&w, fx->dir, 0xabc), 0);
	for (uint64_t i = 0; i < N; i++) {
		memcpy(rec, &i, sizeof(i));
		assert_int_equal(snap_writer_append(w, rec, sizeof(rec)), 0);
	}
	uint64_t bytes = snap_writer_bytes(w);
	assert_int_equal(snap_writer_commit(w), 0);
	double t1 = now_s();
	uint64_t total = 0, z;
	assert_int_equal(snap_load(fx->dir, count_only, &total, &z), 0);
	double t2 = now_s();
	assert_int_equal(total, N * 100);
	assert_int_equal(z, 0xabc);
	printf("# snapshot: 1M x 100-byte records (%.0f MB): write+fsync %.3f s, load %.3f s\n",
	       (double)bytes / 1e6, t1 - t0, t2 - t1);
#if defined(__SANITIZE_ADDRESS__)
	assert_true(t2 - t1 < 5.0);
#else
	/* under valgrind (which preloads its vgpreload_* libraries) every
	 * instruction is emulated: only correctness counts there */
	const char *pre = getenv("LD_PRELOAD");
	if (!pre || !strstr(pre, "vgpreload"))
		assert_true(t2 - t1 < 1.0);
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_and_large_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_snapshot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncated_newest_falls_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_newest_falls_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_none_valid_is_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_name_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_abort_and_stale_tmp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enospc_while_writing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eio_on_fsync, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_and_purge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_million_records, setup, teardown),
	};
	return cmocka_run_group_tests_name("snap", tests, NULL, NULL);
}
