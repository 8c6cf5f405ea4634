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
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
