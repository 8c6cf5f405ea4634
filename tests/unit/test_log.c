/*
 * test_log.c — the transaction log (server/log.c): round trips, recovery
 * of every kind of torn tail, refusal on corruption in the middle, roll,
 * purge, and disk errors injected with the storage fault countdown.
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "snap.h"

/* ---------------------------------------------------------------- helpers */

#include "storage_fixture.h"

static int setup(void **state)
{
	return fx_setup(state, "/tmp/zkfs-test-log-XXXXXX");
}

/* txn content derived from its zxid, of varying length */
static size_t txn_len(uint64_t z)
{
	return 1 + (size_t)(z * 37 % 300);
}

static void txn_fill(uint64_t z, uint8_t *buf)
{
	size_t n = txn_len(z);
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(z * 131 + i);
}

struct got {
	uint64_t n;
	uint64_t zxids[4096];
	bool bad_content;
};

static int collect(void *arg, uint64_t zxid, const void *data, size_t len)
{
	struct got *g = arg;
	uint8_t buf[512];
	txn_fill(zxid, buf);
	if (len != txn_len(zxid) || memcmp(buf, data, len) != 0)
		g->bad_content = true;
	if (g->n < 4096)
		g->zxids[g->n] = zxid;
	g->n++;
	return 0;
}

static struct zlog *open_log(const char *dir, uint64_t after, struct got *g, uint64_t *last,
			     int expect_rc)
{
	struct zlog *log = NULL;
	if (g)
		memset(g, 0, sizeof(*g));
	int rc = zlog_open(&log, dir, NULL, after, g ? collect : NULL, g, last);
	assert_int_equal(rc, expect_rc);
	return log;
}

/* appends zxids from..to (inclusive) and syncs */
static void append_range(struct zlog *log, uint64_t from, uint64_t to)
{
	uint8_t buf[512];
	for (uint64_t z = from; z <= to; z++) {
		txn_fill(z, buf);
		assert_int_equal(zlog_append(log, z, buf, txn_len(z)), 0);
	}
	assert_int_equal(zlog_sync(log), 0);
}

static void path_of(char *out, size_t n, const char *dir, uint64_t zxid)
{
	snprintf(out, n, "%s/log.%" PRIx64, dir, zxid);
}

static off_t file_size(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	return st.st_size;
}

/* offset of the record of zxid k in a file whose first zxid is `first`,
 * all records written by append_range */
static off_t rec_off(uint64_t first, uint64_t k)
{
	off_t off = ZLOG_HDR_SIZE;
	for (uint64_t z = first; z < k; z++)
		off += (off_t)zlog_rec_size(txn_len(z));
	return off;
}

static void poke(const char *path, off_t off, const void *bytes, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, n, off), (ssize_t)n);
	close(fd);
}

static void flip(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t b;
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x5a;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

/* ---------------------------------------------------------------- tests */

static void test_crc32c_known_values(void **state)
{
	(void)state;
	/* RFC 3720 test vectors */
	assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283u);
	uint8_t zeros[32] = {0};
	assert_int_equal(crc32c(0, zeros, 32), 0x8a9136aau);
	/* continuation equals one pass */
	assert_int_equal(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
}

static void test_round_trip(void **state)
{
	struct fx *fx = *state;
	uint64_t last;
	struct got g;
	struct zlog *log = open_log(fx->dir, 0, &g, &last, 0);
	assert_int_equal(g.n, 0);
	assert_int_equal(last, 0);
	append_range(log, 1, 1000);
	assert_int_equal(zlog_last_zxid(log), 1000);
	struct zlog_stats st;
	zlog_get_stats(log, &st);
	assert_int_equal(st.appends, 1000);
	assert_int_equal(st.syncs, 1);
	assert_int_equal(st.files, 1);
	zlog_close(log);

	log = open_log(fx->dir, 0, &g, &last, 0);
	assert_int_equal(g.n, 1000);
	assert_false(g.bad_content);
	for (uint64_t i = 0; i < 1000; i++)
		assert_int_equal(g.zxids[i], i + 1);
	assert_int_equal(last, 1000);
	/* appending after recovery goes to a new file */
	append_range(log, 1001, 1010);
	zlog_close(log);
	char p[128];
	path_of(p, sizeof(p), fx->dir, 1001);
	assert_true(file_size(p) > 0);

	/* only txns after a snapshot's zxid are replayed */
	log = open_log(fx->dir, 500, &g, &last, 0);
	assert_int_equal(g.n, 510);
	assert_int_equal(g.zxids[0], 501);
	assert_int_equal(last, 1010);
	zlog_close(log);

	/* read-only iteration sees the same */
	memset(&g, 0, sizeof(g));
	assert_int_equal(zlog_iterate(fx->dir, 1000, collect, &g), 0);
	assert_int_equal(g.n, 10);
	assert_string_equal(msgs, "");
}

static void test_bad_arguments(void **state)
{
	struct fx *fx = *state;
	struct zlog *log = open_log(fx->dir, 0, NULL, NULL, 0);
	assert_int_equal(zlog_append(log, 5, "x", 1), 0);
	assert_int_equal(zlog_append(log, 5, "x", 1), -EINVAL); /* not increasing */
	assert_int_equal(zlog_append(log, 4, "x", 1), -EINVAL);
	assert_int_equal(zlog_append(log, 6, "x", 0), -EINVAL); /* empty txn */
	assert_int_equal(zlog_sync(log), 0);
	assert_int_equal(zlog_error(log), 0); /* caller mistakes are not sticky */
	zlog_close(log);
}

/* A crash in the middle of writing the last record. */
static void test_torn_last_record(void **state)
{
	struct fx *fx = *state;
	struct zlog *log = open_log(fx->dir, 0, NULL, NULL, 0);
	append_range(log, 1, 20);
	zlog_close(log);
	char p[128];
	path_of(p, sizeof(p), fx->dir, 1);
	off_t full = file_size(p);
	assert_int_equal(full, rec_off(1, 21));
	assert_int_equal(truncate(p, full - 3), 0);

	struct got g;
	uint64_t last;
	log = open_log(fx->dir, 0, &g, &last, 0);
	assert_int_equal(g.n, 19);
	assert_int_equal(last, 19);
	assert_false(g.bad_content);
	assert_non_null(strstr(msgs, "torn tail"));
	assert_int_equal(file_size(p), rec_off(1, 20)); /* cut at the record */
	/* the next append reuses zxid 20, in a new file */
	append_range(log, 20, 25);
	zlog_close(log);
	log = open_log(fx->dir, 0, &g, &last, 0);
	assert_int_equal(g.n, 25);
	assert_false(g.bad_content);
	zlog_close(log);
}

/* The last record is complete but its CRC does not match. */
static void test_crc_bad_last_record(void **state)
{
	struct fx *fx = *state;
	struct zlog *log = open_log(fx->dir, 0, NULL, NULL, 0);
	append_range(log, 1, 20);
	zlog_close(log);
	char p[128];
	path_of(p, sizeof(p), fx->dir, 1);
	flip(p, rec_off(1, 20) + ZLOG_REC_HDR_SIZE + 0);

	struct got g;
	log = open_log(fx->dir, 0, &g, NULL, 0);
	assert_int_equal(g.n, 19);
	assert_non_null(strstr(msgs, "torn tail"));
	zlog_close(log);
}

/* A crash while a new file's header was being written. */
static void test_truncated_header(void **state)
{
	struct fx *fx = *state;
	struct zlog *log = open_log(fx->dir, 0, NULL, NULL, 0);
	append_range(log, 1, 10);
	zlog_close(log);
	char p[128];
	path_of(p, sizeof(p), fx->dir, 11);
	poke(p, 0, "zkfsT", 5); /* creates a 5-byte file */

	struct got g;
	uint64_t last;
	log = open_log(fx->dir, 0, &g, &last, 0);
	assert_int_equal(g.n, 10);
	assert_int_equal(last, 10);
	assert_int_equal(file_size(p), -1); /* removed */
	append_range(log, 11, 12);	    /* and its name is free again */
	zlog_close(log);
	log = open_log(fx->dir, 0, &g, NULL, 0);
	assert_int_equal(g.n, 12);
	zlog_close(log);

	/* an all-zero header (file created, nothing written) likewise */
	path_of(p, sizeof(p), fx->dir, 13);
	uint8_t z[ZLOG_HDR_SIZE + 100] = {0};
	poke(p, 0, z, sizeof(z));
	log = open_log(fx->dir, 0, &g, NULL, 0);
	assert_int_equal(g.n, 12);
	assert_int_equal(file_size(p), -1);
	zlog_close(log);
}

/* Preallocated zeros after the data: what a crash leaves without close. */
static void test_trailing_prealloc_zeros(void **state)
{
	struct fx *fx = *state;
	/* a child that appends, syncs and dies without closing, like a crash */
	pid_t pid = fork();
	if (pid == 0) {
		struct zlog *log;
		if (zlog_open(&log, fx->dir, NULL, 0, NULL, NULL, NULL))
			_exit(1);
		append_range(log, 1, 50);
		append_range(log, 51, 60);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	char p[128];
	path_of(p, sizeof(p), fx->dir, 1);
	assert_true(file_size(p) >= (off_t)(1 << 20)); /* preallocated */

	struct got g;
	uint64_t last;
	struct zlog *log = open_log(fx->dir, 0, &g, &last, 0);
	assert_int_equal(g.n, 60);
	assert_int_equal(last, 60);
	assert_false(g.bad_content);
	assert_null(strstr(msgs, "torn")); /* zeros are no damage: no warning */
	assert_int_equal(file_size(p), rec_off(1, 61));
	zlog_close(log);
}

/* Damage in the middle with valid records after it: refuse. */
static void test_corrupt_middle_is_error(void **state)
{
	struct fx *fx = *state;
	struct zlog *log = open_log(fx->dir, 0, NULL, NULL, 0);
	append_range(log, 1, 10);
	append_range(log, 11, 20); /* a later batch: proves 1..10 were durable */
	zlog_close(log);
	char p[128];
	path_of(p, sizeof(p), fx->dir, 1);
	off_t off = rec_off(1, 5) + ZLOG_REC_HDR_SIZE;
	flip(p, off);
	struct got g;
	open_log(fx->dir, 0, &g, NULL, -EBADMSG);
	assert_non_null(strstr(msgs, p));
	char want[64];
	snprintf(want, sizeof(want), "offset %lld", (long long)rec_off(1, 5));
	assert_non_null(strstr(msgs, want));
	assert_non_null(strstr(msgs, "refusing to start"));
	/* nothing was truncated */
	assert_int_equal(file_size(p), rec_off(1, 21));
	/* zlog_iterate refuses too */
	assert_int_equal(zlog_iterate(fx->dir, 0, NULL, NULL), -EBADMSG);
}

/* Damage of the length field (so record boundaries are lost) in the middle. */
static void test_corrupt_length_is_error(void **state)
{
	struct fx *fx = *state;
	struct zlog *log = open_log(fx->dir, 0, NULL, NULL, 0);
	append_range(log, 1, 10);
	append_range(log, 11, 20);
	zlog_close(log);
	char p[128];
	path_of(p, sizeof(p), fx->dir, 1);
	uint8_t big[4] = {0x7f, 0, 0, 0};
	poke(p, rec_off(1, 3), big, 4);
	open_log(fx->dir, 0, NULL, NULL, -EBADMSG);
}

/* A bad record at the end of a file that is not the last one. */
static void test_corrupt_in_older_file_is_error(void **state)
{
	struct fx *fx = *state;
	struct zlog *log = open_log(fx->dir, 0, NULL, NULL, 0);
	append_range(log, 1, 10);
	assert_int_equal(zlog_roll(log), 0);
	append_range(log, 11, 20);
	zlog_close(log);
	char p[128];
	path_of(p, sizeof(p), fx->dir, 1);
	flip(p, rec_off(1, 10) + ZLOG_REC_HDR_SIZE + 1);
	open_log(fx->dir, 0, NULL, NULL, -EBADMSG);
	assert_non_null(strstr(msgs, "later log files exist"));
}

/* Recovery after a snapshot reads only the files it replays from: an
 * older file is not even opened (a damaged one does not stop the start),
 * and the replay begins right after the snapshot across file borders. */
static void test_files_before_snapshot_not_read(void **state)
{
	struct fx *fx = *state;
	struct zlog *log = open_log(fx->dir, 0, NULL, NULL, 0);
	append_range(log, 1, 10);
	assert_int_equal(zlog_roll(log), 0);
	append_range(log, 11, 20);
	assert_int_equal(zlog_roll(log), 0);
	append_range(log, 21, 30);
	zlog_close(log);
	char p[128];
	path_of(p, sizeof(p), fx->dir, 1);
	flip(p, rec_off(1, 5) + ZLOG_REC_HDR_SIZE + 1);
	struct got g;
	uint64_t last = 0;
	/* snapshot at 10: log.1 holds nothing newer */
	log = open_log(fx->dir, 10, &g, &last, 0);
	assert_int_equal(g.n, 20);
	assert_int_equal(g.zxids[0], 11);
	assert_false(g.bad_content);
	assert_int_equal(last, 30);
	zlog_close(log);
	/* snapshot at 9: log.1 is needed, and its damage is reported */
	open_log(fx->dir, 9, NULL, NULL, -EBADMSG);
	/* snapshot at 15, inside log.b: log.1 skipped, log.b read from 16 */
	path_of(p, sizeof(p), fx->dir, 1);
	unlink(p);
	log = open_log(fx->dir, 15, &g, &last, 0);
	assert_int_equal(g.n, 15);
	assert_int_equal(g.zxids[0], 16);
	assert_int_equal(last, 30);
	zlog_close(log);
}

/* The pages of one unsynced batch reached the disk out of order: a hole
 * followed by records of the same batch is a torn tail, not corruption. */
static void test_hole_in_unsynced_batch_is_torn(void **state)
{
	struct fx *fx = *state;
	struct zlog *log = open_log(fx->dir, 0, NULL, NULL, 0);
	append_range(log, 1, 10);
	append_range(log, 11, 30); /* one batch, never "acknowledged" below */
	zlog_close(log);
	char p[128];
	path_of(p, sizeof(p), fx->dir, 1);
	off_t a = rec_off(1, 15), b = rec_off(1, 16);
	uint8_t z[1024] = {0};
	poke(p, a, z, (size_t)(b - a)); /* record 15 never reached the disk */

	struct got g;
	uint64_t last;
	log = open_log(fx->dir, 0, &g, &last, 0);
	assert_int_equal(g.n, 14);
	assert_int_equal(last, 14);
	assert_non_null(strstr(msgs, "torn tail"));
	assert_int_equal(file_size(p), a);
	zlog_close(log);
}

static void test_roll_and_purge(void **state)
{
	struct fx *fx = *state;
	struct zlog *log = open_log(fx->dir, 0, NULL, NULL, 0);
	append_range(log, 1, 30);
	assert_int_equal(zlog_roll(log), 0);
	append_range(log, 31, 60);
	assert_int_equal(zlog_roll(log), 0);
	assert_int_equal(zlog_roll(log), 0); /* no file open: no-op */
	append_range(log, 61, 90);
	assert_int_equal(zlog_roll(log), 0);
	append_range(log, 91, 100);
	uint64_t *z;
	size_t n;
	assert_int_equal(zlog_list(fx->dir, &z, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(z[0], 1);
	assert_int_equal(z[1], 31);
	assert_int_equal(z[2], 61);
	assert_int_equal(z[3], 91);
	free(z);
	/* rolled files are trimmed to their data */
	char p[128];
	path_of(p, sizeof(p), fx->dir, 1);
	assert_int_equal(file_size(p), rec_off(1, 31));

	/* a snapshot at 65 needs log.3d (61..90) and later; 1 and 31 go */
	assert_int_equal(zlog_purge(fx->dir, 65), 2);
	assert_int_equal(zlog_list(fx->dir, &z, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(z[0], 61);
	free(z);
	/* a snapshot exactly at a file's first zxid keeps that file */
	assert_int_equal(zlog_purge(fx->dir, 91), 1);
	assert_int_equal(zlog_purge(fx->dir, 5), 0);
	zlog_close(log);
	struct got g;
	log = open_log(fx->dir, 90, &g, NULL, 0);
	assert_int_equal(g.n, 10);
	zlog_close(log);
}

static void test_size_limit_rolls(void **state)
{
	struct fx *fx = *state;
	struct zlog *log;
	struct zlog_opts o = {.max_file_bytes = 4096, .prealloc_bytes = 1 << 20};
	assert_int_equal(zlog_open(&log, fx->dir, &o, 0, NULL, NULL, NULL), 0);
	for (uint64_t z = 1; z <= 200; z += 10)
		append_range(log, z, z + 9);
	zlog_close(log);
	uint64_t *zx;
	size_t n;
	assert_int_equal(zlog_list(fx->dir, &zx, &n), 0);
	assert_true(n > 3);
	free(zx);
	struct got g;
	log = open_log(fx->dir, 0, &g, NULL, 0);
	assert_int_equal(g.n, 200);
	assert_false(g.bad_content);
	zlog_close(log);
}

/* A full disk during a write: the error comes back, stays, and recovery
 * finds every record synced before it. */
static void test_enospc_on_write(void **state)
{
	struct fx *fx = *state;
	struct zlog *log = open_log(fx->dir, 0, NULL, NULL, 0);
	append_range(log, 1, 100);
	uint8_t buf[512];
	for (uint64_t z = 101; z <= 200; z++) {
		txn_fill(z, buf);
		assert_int_equal(zlog_append(log, z, buf, txn_len(z)), 0);
	}
	storage_fault_set(STORAGE_FAULT_WRITE, 1, -ENOSPC);
	assert_int_equal(zlog_sync(log), -ENOSPC);
	assert_int_equal(zlog_error(log), -ENOSPC);
	/* sticky: nothing more is accepted, nothing reported durable */
	txn_fill(201, buf);
	assert_int_equal(zlog_append(log, 201, buf, txn_len(201)), -ENOSPC);
	assert_int_equal(zlog_sync(log), -ENOSPC);
	assert_int_equal(zlog_roll(log), -ENOSPC);
	zlog_close(log);

	struct got g;
	uint64_t last;
	log = open_log(fx->dir, 0, &g, &last, 0);
	assert_true(g.n >= 100); /* every acknowledged txn */
	assert_true(g.n < 200);	 /* the half-written batch was cut */
	assert_false(g.bad_content);
	for (uint64_t i = 0; i < g.n; i++)
		assert_int_equal(g.zxids[i], i + 1);
	zlog_close(log);
}

static void test_eio_on_sync(void **state)
{
	struct fx *fx = *state;
	struct zlog *log = open_log(fx->dir, 0, NULL, NULL, 0);
	append_range(log, 1, 10);
	uint8_t buf[512];
	txn_fill(11, buf);
	assert_int_equal(zlog_append(log, 11, buf, txn_len(11)), 0);
	storage_fault_set(STORAGE_FAULT_SYNC, 1, -EIO);
	assert_int_equal(zlog_sync(log), -EIO);
	assert_int_equal(zlog_sync(log), -EIO);
	txn_fill(12, buf);
	assert_int_equal(zlog_append(log, 12, buf, txn_len(12)), -EIO);
	zlog_close(log);
}

static void test_cannot_create_file(void **state)
{
	struct fx *fx = *state;
	struct zlog *log = open_log(fx->dir, 0, NULL, NULL, 0);
	storage_fault_set(STORAGE_FAULT_OPEN, 1, -EACCES);
	uint8_t buf[512];
	txn_fill(1, buf);
	assert_int_equal(zlog_append(log, 1, buf, txn_len(1)), 0);
	assert_int_equal(zlog_sync(log), -EACCES);
	assert_int_equal(zlog_error(log), -EACCES);
	zlog_close(log);
}

/* The encoded-record path used by the group commit. */
static void test_append_encoded(void **state)
{
	struct fx *fx = *state;
	struct zlog *log = open_log(fx->dir, 0, NULL, NULL, 0);
	size_t total = 0;
	for (uint64_t z = 1; z <= 50; z++)
		total += zlog_rec_size(txn_len(z));
	uint8_t *recs = malloc(total);
	size_t off = 0;
	uint8_t buf[512];
	for (uint64_t z = 1; z <= 50; z++) {
		txn_fill(z, buf);
		zlog_rec_encode(recs + off, z, buf, txn_len(z));
		off += zlog_rec_size(txn_len(z));
	}
	assert_int_equal(zlog_append_encoded(log, recs, total, 2, 50), -EINVAL); /* first wrong */
	assert_int_equal(zlog_append_encoded(log, recs, total - 1, 1, 50), -EINVAL); /* cut */
	assert_int_equal(zlog_append_encoded(log, recs, total, 1, 50), 0);
	assert_int_equal(zlog_sync(log), 0);
	free(recs);
	zlog_close(log);
	struct got g;
	log = open_log(fx->dir, 0, &g, NULL, 0);
	assert_int_equal(g.n, 50);
	assert_false(g.bad_content);
	zlog_close(log);
}

static int stop_at_5(void *arg, uint64_t zxid, const void *data, size_t len)
{
	(void)data;
	(void)len;
	(*(int *)arg)++;
	return zxid == 5 ? -ECANCELED : 0;
}

static void test_callback_stops_recovery(void **state)
{
	struct fx *fx = *state;
	struct zlog *log = open_log(fx->dir, 0, NULL, NULL, 0);
	append_range(log, 1, 10);
	zlog_close(log);
	int n = 0;
	assert_int_equal(zlog_open(&log, fx->dir, NULL, 0, stop_at_5, &n, NULL), -ECANCELED);
	assert_int_equal(n, 5);
}

static void test_foreign_file_is_error(void **state)
{
	struct fx *fx = *state;
	char p[128];
	path_of(p, sizeof(p), fx->dir, 1);
	poke(p, 0, "this is not a zkfs log file at all", 34);
	open_log(fx->dir, 0, NULL, NULL, -EBADMSG);
	assert_non_null(strstr(msgs, "bad file header"));
}

/* A log file removed from the middle: recovery warns about the gap. */
static void test_missing_file_warns(void **state)
{
	struct fx *fx = *state;
	struct zlog *log = open_log(fx->dir, 0, NULL, NULL, 0);
	append_range(log, 1, 10);
	assert_int_equal(zlog_roll(log), 0);
	append_range(log, 11, 20);
	assert_int_equal(zlog_roll(log), 0);
	append_range(log, 21, 30);
	zlog_close(log);
	struct got g;
	log = open_log(fx->dir, 0, &g, NULL, 0);
	zlog_close(log);
	assert_null(strstr(msgs, "missing"));
	char p[128];
	path_of(p, sizeof(p), fx->dir, 11);
	assert_int_equal(unlink(p), 0);
	log = open_log(fx->dir, 0, &g, NULL, 0);
	assert_int_equal(g.n, 20);
	assert_non_null(strstr(msgs, "txns 0xb..0x14 are missing"));
	zlog_close(log);
	/* from a snapshot at 20 nothing is missing */
	msgs[0] = '\0';
	log = open_log(fx->dir, 20, &g, NULL, 0);
	assert_int_equal(g.n, 10);
	assert_null(strstr(msgs, "missing"));
	zlog_close(log);
}

/* ---------------------------------------------------------------- truncate */

/* log.1 (1..10), log.b (11..20), log.15 (21..30), closed */
static void three_files(const char *dir)
{
	struct zlog *log = open_log(dir, 0, NULL, NULL, 0);
	append_range(log, 1, 10);
	assert_int_equal(zlog_roll(log), 0);
	append_range(log, 11, 20);
	assert_int_equal(zlog_roll(log), 0);
	append_range(log, 21, 30);
	zlog_close(log);
}

/* reopens dir and checks it holds exactly 1..last with the right content */
static void expect_log_upto(const char *dir, uint64_t last)
{
	struct got g;
	uint64_t l;
	struct zlog *log = open_log(dir, 0, &g, &l, 0);
	assert_int_equal(g.n, last);
	for (uint64_t i = 0; i < g.n; i++)
		assert_int_equal(g.zxids[i], i + 1);
	assert_false(g.bad_content);
	assert_int_equal(zlog_last_zxid(log), last);
	zlog_close(log);
}

static void test_truncate_middle_of_file(void **state)
{
	struct fx *fx = *state;
	char p1[256], pb[256], p15[256];
	three_files(fx->dir);
	path_of(p1, sizeof(p1), fx->dir, 1);
	path_of(pb, sizeof(pb), fx->dir, 0xb);
	path_of(p15, sizeof(p15), fx->dir, 0x15);
	off_t size1 = file_size(p1);
	assert_int_equal(zlog_truncate(fx->dir, fx->dir, 15), 0);
	assert_int_equal(file_size(p1), size1);		   /* untouched */
	assert_int_equal(file_size(pb), rec_off(11, 16)); /* cut at a record boundary */
	assert_int_equal(file_size(p15), -1);		   /* deleted */
	expect_log_upto(fx->dir, 15);
	/* the log goes on from the cut, and a different 16.. is accepted */
	struct zlog *log = open_log(fx->dir, 0, NULL, NULL, 0);
	append_range(log, 16, 25);
	zlog_close(log);
	expect_log_upto(fx->dir, 25);
	/* repeating a truncation is harmless */
	assert_int_equal(zlog_truncate(fx->dir, NULL, 12), 0);
	assert_int_equal(zlog_truncate(fx->dir, NULL, 12), 0);
	expect_log_upto(fx->dir, 12);
}

static void test_truncate_at_file_boundary(void **state)
{
	struct fx *fx = *state;
	char pb[256], p15[256];
	three_files(fx->dir);
	path_of(pb, sizeof(pb), fx->dir, 0xb);
	path_of(p15, sizeof(p15), fx->dir, 0x15);
	off_t sizeb = file_size(pb);
	assert_int_equal(zlog_truncate(fx->dir, NULL, 20), 0);
	assert_int_equal(file_size(pb), sizeb);
	assert_int_equal(file_size(p15), -1);
	expect_log_upto(fx->dir, 20);
	/* the first txn of a file: that file keeps one record */
	assert_int_equal(zlog_truncate(fx->dir, NULL, 11), 0);
	assert_int_equal(file_size(pb), rec_off(11, 12));
	expect_log_upto(fx->dir, 11);
	/* just before a file's first txn: the file goes */
	assert_int_equal(zlog_truncate(fx->dir, NULL, 10), 0);
	assert_int_equal(file_size(pb), -1);
	expect_log_upto(fx->dir, 10);
	/* past the end: nothing changes */
	assert_int_equal(zlog_truncate(fx->dir, NULL, 1000), 0);
	expect_log_upto(fx->dir, 10);
}

static void test_truncate_before_first_txn(void **state)
{
	struct fx *fx = *state;
	three_files(fx->dir);
	assert_int_equal(zlog_truncate(fx->dir, fx->dir, 0), 0);
	uint64_t *z;
	size_t n;
	assert_int_equal(zlog_list(fx->dir, &z, &n), 0);
	free(z);
	assert_int_equal(n, 0);
	expect_log_upto(fx->dir, 0);
	/* an empty or missing directory is fine too */
	assert_int_equal(zlog_truncate(fx->dir, NULL, 5), 0);
}

static void test_truncate_below_snapshot_refused(void **state)
{
	struct fx *fx = *state;
	three_files(fx->dir);
	struct snap_writer *w;
	assert_int_equal(snap_writer_open(&w, fx->dir, 0x14), 0);
	assert_int_equal(snap_writer_append(w, "x", 1), 0);
	assert_int_equal(snap_writer_commit(w), 0);
	assert_int_equal(zlog_truncate(fx->dir, fx->dir, 0x13), -ERANGE);
	assert_non_null(strstr(msgs, "snapshot 0x14"));
	expect_log_upto(fx->dir, 30); /* nothing changed */
	/* at the snapshot itself: allowed */
	assert_int_equal(zlog_truncate(fx->dir, fx->dir, 0x14), 0);
	expect_log_upto(fx->dir, 0x14);
}

static void test_truncate_refuses_damage_before_cut(void **state)
{
	struct fx *fx = *state;
	char pb[256];
	three_files(fx->dir);
	path_of(pb, sizeof(pb), fx->dir, 0xb);
	/* damage txn 13's bytes; 14 and 15 are intact and below the cut */
	int fd = open(pb, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\xff\xff", 2, rec_off(11, 13) + ZLOG_REC_HDR_SIZE), 2);
	close(fd);
	assert_int_equal(zlog_truncate(fx->dir, NULL, 15), -EBADMSG);
	assert_non_null(strstr(msgs, "corrupt at offset"));
	/* damage after the cut is simply cut away */
	assert_int_equal(zlog_truncate(fx->dir, NULL, 12), 0);
	expect_log_upto(fx->dir, 12);
}

/* zlog_iterate as the DIFF reader: a window from the middle, across
 * files, stopped early by the callback. */
struct window {
	uint64_t first, last, stop;
	uint64_t n;
};

static int window_cb(void *arg, uint64_t zxid, const void *data, size_t len)
{
	struct window *w = arg;
	if (zxid > w->stop)
		return 1;
	if (!w->n)
		w->first = zxid;
	w->last = zxid;
	w->n++;
	return 0;
}

static void test_iterate_window_for_diff(void **state)
{
	struct fx *fx = *state;
	three_files(fx->dir);
	struct window w = {.stop = 25};
	assert_int_equal(zlog_iterate(fx->dir, 7, window_cb, &w), 1);
	assert_int_equal(w.first, 8);
	assert_int_equal(w.last, 25);
	assert_int_equal(w.n, 18);
	/* after purging log.1, a reader from 7 sees a gap (first is 11) */
	assert_int_equal(zlog_purge(fx->dir, 0xb), 1);
	memset(&w, 0, sizeof(w));
	w.stop = 100;
	assert_int_equal(zlog_iterate(fx->dir, 7, window_cb, &w), 0);
	assert_int_equal(w.first, 11);
}

/* A learner installing a SNAP: the leader's state at zxid 40 is written
 * as a snapshot, then the learner's own txns after 40 (a divergent
 * history) are truncated.  Recovery, done the way server.c recover() does
 * it (newest valid snapshot, then the log after its zxid), must give
 * exactly the snapshot's state.  The state here is a toy: 7 slots, txn z
 * sets slot z % 7 to z. */
struct toy {
	uint64_t slot[7];
	uint64_t replayed;
};

static int toy_snap_rec(void *arg, const void *rec, size_t len)
{
	struct toy *t = arg;
	uint8_t k;
	uint64_t v;
	assert_int_equal(len, 9);
	memcpy(&k, rec, 1);
	memcpy(&v, (const uint8_t *)rec + 1, 8);
	assert_true(k < 7);
	t->slot[k] = v;
	return 0;
}

static int toy_txn(void *arg, uint64_t zxid, const void *data, size_t len)
{
	struct toy *t = arg;
	t->slot[zxid % 7] = zxid;
	t->replayed++;
	return 0;
}

static void toy_recover(const char *dir, struct toy *t)
{
	memset(t, 0, sizeof(*t));
	uint64_t snap_zxid = 0;
	int rc = snap_load(dir, toy_snap_rec, t, &snap_zxid);
	assert_true(rc == 0 || rc == -ENOENT);
	struct zlog *log = NULL;
	assert_int_equal(zlog_open(&log, dir, NULL, snap_zxid, toy_txn, t, NULL), 0);
	zlog_close(log);
}

static void test_recovery_after_snap_install(void **state)
{
	struct fx *fx = *state;
	/* the learner's own history: 1..60 over three files */
	struct zlog *log = open_log(fx->dir, 0, NULL, NULL, 0);
	append_range(log, 1, 30);
	assert_int_equal(zlog_roll(log), 0);
	append_range(log, 31, 45);
	assert_int_equal(zlog_roll(log), 0);
	append_range(log, 46, 60);
	zlog_close(log);
	/* the leader's state at 40, different from the learner's replay */
	struct toy leader = {{0}};
	for (int k = 0; k < 7; k++)
		leader.slot[k] = 1000 + (uint64_t)k;
	struct snap_writer *w;
	assert_int_equal(snap_writer_open(&w, fx->dir, 40), 0);
	for (uint8_t k = 0; k < 7; k++) {
		uint8_t rec[9];
		rec[0] = k;
		memcpy(rec + 1, &leader.slot[k], 8);
		assert_int_equal(snap_writer_append(w, rec, sizeof(rec)), 0);
	}
	assert_int_equal(snap_writer_commit(w), 0);
	/* without the truncation recovery would replay 41..60 over it */
	struct toy t;
	toy_recover(fx->dir, &t);
	assert_int_equal(t.replayed, 20);
	assert_memory_not_equal(t.slot, leader.slot, sizeof(t.slot));
	/* with it: exactly the snapshot's state */
	assert_int_equal(zlog_truncate(fx->dir, fx->dir, 40), 0);
	toy_recover(fx->dir, &t);
	assert_int_equal(t.replayed, 0);
	assert_memory_equal(t.slot, leader.slot, sizeof(t.slot));
	/* and the leader's txns after 40 then apply on top */
	log = open_log(fx->dir, 40, NULL, NULL, 0);
	append_range(log, 41, 43);
	zlog_close(log);
	toy_recover(fx->dir, &t);
	assert_int_equal(t.replayed, 3);
	leader.slot[41 % 7] = 41;
	leader.slot[42 % 7] = 42;
	leader.slot[43 % 7] = 43;
	assert_memory_equal(t.slot, leader.slot, sizeof(t.slot));
}

/* ---------------------------------------------------------------- main */

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crc32c_known_values),
	    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_torn_last_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crc_bad_last_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncated_header, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_trailing_prealloc_zeros, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_middle_is_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_length_is_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_in_older_file_is_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_files_before_snapshot_not_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hole_in_unsynced_batch_is_torn, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roll_and_purge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_size_limit_rolls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enospc_on_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eio_on_sync, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cannot_create_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_append_encoded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_callback_stops_recovery, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreign_file_is_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_file_warns, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncate_middle_of_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncate_at_file_boundary, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncate_before_first_txn, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncate_below_snapshot_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncate_refuses_damage_before_cut, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_iterate_window_for_diff, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_recovery_after_snap_install, setup, teardown),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
