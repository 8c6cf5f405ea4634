/*
 * test_commit.c — group commit (server/commit.c): order of callbacks,
 * batching (fewer fdatasyncs than txns), sticky errors after an injected
 * ENOSPC/EIO, roll, drain on close — and a short throughput measurement
 * with N concurrent closed-loop submitters (printed, not asserted, except
 * that batching must happen).
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
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "commit.h"
#include "log.h"

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static void quiet(enum storage_level level, const char *msg)
{
	(void)level;
	(void)msg;
}

struct fx {
	char dir[64];
	uv_loop_t loop;
	struct zlog *log;
	struct commit *c;
	bool closed;
	/* callbacks seen */
	uint64_t n_cb;
	uint64_t next_expected; /* zxid whose callback must come next */
	bool out_of_order;
	uint64_t n_ok, n_err;
	int first_err;
	uint64_t ok_after_err; /* successes after an error: must stay 0 */
};

static struct fx *the_fx;

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	strcpy(fx->dir, "/tmp/zkfs-test-commit-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	storage_set_msg_fn(quiet);
	storage_fault_clear();
	uv_loop_init(&fx->loop);
	if (zlog_open(&fx->log, fx->dir, NULL, 0, NULL, NULL, NULL))
		return -1;
	if (commit_open(&fx->c, &fx->loop, fx->log, NULL))
		return -1;
	fx->next_expected = 1;
	the_fx = fx;
	*state = fx;
	return 0;
}

static void on_closed(void *arg)
{
	struct fx *fx = arg;
	fx->closed = true;
}

static void close_commit(struct fx *fx)
{
	if (!fx->c)
		return;
	commit_close(fx->c, on_closed, fx);
	while (!fx->closed)
		uv_run(&fx->loop, UV_RUN_ONCE);
	fx->c = NULL;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	close_commit(fx);
	zlog_close(fx->log);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	storage_fault_clear();
	storage_set_msg_fn(NULL);
	nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* arg = zxid, to check order */
static void on_done(void *arg, int status)
{
	struct fx *fx = the_fx;
	uint64_t z = (uint64_t)(uintptr_t)arg;
	if (z != fx->next_expected)
		fx->out_of_order = true;
	fx->next_expected = z + 1;
	fx->n_cb++;
	if (status == 0) {
		fx->n_ok++;
		if (fx->n_err)
			fx->ok_after_err++;
	} else {
		if (!fx->n_err)
			fx->first_err = status;
		fx->n_err++;
	}
}

static int submit(struct fx *fx, uint64_t z)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "txn %" PRIu64 " payload", z);
	return commit_submit(fx->c, z, buf, (size_t)n, on_done, (void *)(uintptr_t)z);
}

static void run_until(struct fx *fx, uint64_t n_cb)
{
	while (fx->n_cb < n_cb)
		uv_run(&fx->loop, UV_RUN_ONCE);
}

struct got {
	uint64_t n, last;
	bool gap;
};

static int count_txn(void *arg, uint64_t zxid, const void *data, size_t len)
{
	struct got *g = arg;
	char want[128];
	int n = snprintf(want, sizeof(want), "txn %" PRIu64 " payload", zxid);
	if (zxid != g->last + 1 || len != (size_t)n || memcmp(want, data, len))
		g->gap = true;
	g->last = zxid;
	g->n++;
	return 0;
}

/* ---------------------------------------------------------------- tests */

static void test_many_in_order_batched(void **state)
{
	struct fx *fx = *state;
	const uint64_t N = 20000;
	for (uint64_t z = 1; z <= N; z++)
		assert_int_equal(submit(fx, z), 0);
	struct commit_stats st;
	commit_get_stats(fx->c, &st);
	assert_int_equal(st.pending, N);
	run_until(fx, N);
	assert_false(fx->out_of_order);
	assert_int_equal(fx->n_ok, N);
	commit_get_stats(fx->c, &st);
	assert_int_equal(st.txns, N);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.failed, 0);
	assert_true(st.fsyncs < N / 10); /* batching happened */
	assert_true(st.batches >= 1);
	assert_true(st.max_batch > 1);
	close_commit(fx);
	struct got g = {0};
	assert_int_equal(zlog_iterate(fx->dir, 0, count_txn, &g), 0);
	assert_int_equal(g.n, N);
	assert_false(g.gap);
}

static void test_bad_submissions(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(submit(fx, 5), 0);
	assert_int_equal(commit_submit(fx->c, 5, "x", 1, on_done, NULL), -EINVAL);
	assert_int_equal(commit_submit(fx->c, 6, "x", 0, on_done, NULL), -EINVAL);
	assert_int_equal(commit_submit(fx->c, 6, "x", 1, NULL, NULL), -EINVAL);
	fx->next_expected = 5;
	run_until(fx, 1);
	assert_int_equal(fx->n_ok, 1);
	close_commit(fx);
}

/* A sync error: that batch and every later one fail, nothing after it is
 * reported durable, and submit refuses from then on. */
static void test_sync_error_is_sticky(void **state)
{
	struct fx *fx = *state;
	/* a first batch that succeeds */
	for (uint64_t z = 1; z <= 10; z++)
		assert_int_equal(submit(fx, z), 0);
	run_until(fx, 10);
	assert_int_equal(fx->n_ok, 10);
	storage_fault_set(STORAGE_FAULT_SYNC, 1, -EIO);
	/* the worker may fail the first batch while we still submit: from
	 * then on submit refuses synchronously */
	uint64_t z = 11;
	int rc = 0;
	for (; z <= 5000; z++) {
		rc = submit(fx, z);
		if (rc) {
			assert_int_equal(rc, -EIO);
			break;
		}
	}
	uint64_t submitted = z - 1;
	run_until(fx, submitted);
	assert_false(fx->out_of_order);
	assert_int_equal(fx->n_ok, 10);
	assert_int_equal(fx->n_err, submitted - 10);
	assert_int_equal(fx->first_err, -EIO);
	assert_int_equal(fx->ok_after_err, 0);
	assert_int_equal(commit_error(fx->c), -EIO);
	/* synchronous refusal: the callback is never called */
	assert_int_equal(submit(fx, 6000), -EIO);
	assert_int_equal(commit_roll(fx->c), -EIO);
	struct commit_stats st;
	commit_get_stats(fx->c, &st);
	assert_int_equal(st.failed, submitted - 10);
	close_commit(fx);
	assert_int_equal(fx->n_cb, submitted);
}

static void test_enospc_is_sticky(void **state)
{
	struct fx *fx = *state;
	for (uint64_t z = 1; z <= 100; z++)
		assert_int_equal(submit(fx, z), 0);
	run_until(fx, 100);
	storage_fault_set(STORAGE_FAULT_WRITE, 1, -ENOSPC);
	uint64_t z = 101;
	for (; z <= 300; z++) {
		int rc = submit(fx, z);
		if (rc) {
			assert_int_equal(rc, -ENOSPC);
			break;
		}
	}
	run_until(fx, z - 1);
	assert_int_equal(fx->n_ok, 100);
	assert_int_equal(fx->first_err, -ENOSPC);
	assert_int_equal(fx->ok_after_err, 0);
	assert_int_equal(submit(fx, 400), -ENOSPC);
	close_commit(fx);
	zlog_close(fx->log);
	fx->log = NULL;
	/* recovery: every acknowledged txn is there, the log is consistent */
	struct got g = {0};
	struct zlog *log;
	assert_int_equal(zlog_open(&log, fx->dir, NULL, 0, count_txn, &g, NULL), 0);
	assert_true(g.n >= 100);
	assert_false(g.gap);
	zlog_close(log);
}

static void test_roll(void **state)
{
	struct fx *fx = *state;
	for (uint64_t z = 1; z <= 10; z++)
		assert_int_equal(submit(fx, z), 0);
	assert_int_equal(commit_roll(fx->c), 0);
	for (uint64_t z = 11; z <= 20; z++)
		assert_int_equal(submit(fx, z), 0);
	run_until(fx, 20);
	assert_int_equal(commit_roll(fx->c), 0); /* nothing after it: no new file */
	close_commit(fx);
	uint64_t *z;
	size_t n;
	assert_int_equal(zlog_list(fx->dir, &z, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(z[0], 1);
	assert_int_equal(z[1], 11);
	free(z);
}

/* commit_close writes and acknowledges everything queued first. */
static void test_close_drains(void **state)
{
	struct fx *fx = *state;
	for (uint64_t z = 1; z <= 3000; z++)
		assert_int_equal(submit(fx, z), 0);
	commit_close(fx->c, on_closed, fx);
	assert_int_equal(submit(fx, 3001), -ESHUTDOWN);
	while (!fx->closed)
		uv_run(&fx->loop, UV_RUN_ONCE);
	fx->c = NULL;
	assert_int_equal(fx->n_ok, 3000);
	assert_false(fx->out_of_order);
	struct got g = {0};
	assert_int_equal(zlog_iterate(fx->dir, 0, count_txn, &g), 0);
	assert_int_equal(g.n, 3000);
}

/* Closed-loop load: `clients` submitters, each with one txn outstanding,
 * submitting its next txn from the callback of the previous one — what many
 * clients doing synchronous setData look like to the commit. */
struct bench {
	struct fx *fx;
	uint64_t next_zxid;
	uint64_t deadline; /* uv_hrtime: stop submitting after it */
	uint64_t target;   /* ... or after this zxid */
	size_t payload;
	uint8_t buf[1024];
	int err;
};

static struct bench *the_bench;
static uint64_t bench_last_zxid; /* over all runs of the test */

static void bench_cb(void *arg, int status)
{
	struct bench *b = the_bench;
	(void)arg;
	if (status)
		b->err = status;
	if (b->next_zxid <= b->target && uv_hrtime() < b->deadline) {
		uint64_t z = b->next_zxid++;
		if (commit_submit(b->fx->c, z, b->buf, b->payload, bench_cb, NULL))
			b->err = -1;
	}
}

/* Runs for at most max_total txns or about one second, whichever first. */
static void run_bench(struct fx *fx, int clients, uint64_t max_total, size_t payload)
{
	struct bench b = {.fx = fx, .payload = payload};
	memset(b.buf, 'v', sizeof(b.buf));
	the_bench = &b;
	b.next_zxid = bench_last_zxid + 1;
	b.target = b.next_zxid + max_total - 1;
	struct commit_stats st0, st;
	commit_get_stats(fx->c, &st0);
	uint64_t t0 = uv_hrtime();
	b.deadline = t0 + 1000000000ull;
	for (int i = 0; i < clients; i++) {
		uint64_t z = b.next_zxid++;
		assert_int_equal(commit_submit(fx->c, z, b.buf, payload, bench_cb, NULL), 0);
	}
	do {
		uv_run(&fx->loop, UV_RUN_ONCE);
		commit_get_stats(fx->c, &st);
	} while (st.pending);
	double secs = (double)(uv_hrtime() - t0) / 1e9;
	assert_int_equal(b.err, 0);
	bench_last_zxid = b.next_zxid - 1;
	uint64_t total = st.txns - st0.txns;
	uint64_t fs = st.fsyncs - st0.fsyncs;
	printf("# commit bench: %4d submitters, %4zu-byte txns: %8.0f txns/s, %6.0f fdatasyncs/s, "
	       "%5.1f txns/fsync (%" PRIu64 " txns)\n",
	       clients, payload, (double)total / secs, (double)fs / secs,
	       (double)total / (double)(fs ? fs : 1), total);
	if (clients > 1)
		assert_true(fs < total);
}

static void test_throughput(void **state)
{
	struct fx *fx = *state;
	/* keep it short: the machine is shared */
	run_bench(fx, 1, 2000, 100);
	run_bench(fx, 10, 10000, 100);
	run_bench(fx, 100, 40000, 100);
	run_bench(fx, 1000, 80000, 100);
	run_bench(fx, 100, 20000, 1000);
}

/* A process that acknowledges txns (reporting each through a pipe) is
 * killed at a random moment: every acknowledged txn must be recovered. */
static int ack_fd = -1;
static uint64_t kid_next;
static struct commit *kid_c;

static void kid_cb(void *arg, int status)
{
	uint64_t z = (uint64_t)(uintptr_t)arg;
	if (status)
		_exit(3);
	if (write(ack_fd, &z, sizeof(z)) != sizeof(z))
		_exit(4);
	uint64_t n = kid_next++;
	char buf[64];
	int len = snprintf(buf, sizeof(buf), "txn %" PRIu64 " payload", n);
	if (commit_submit(kid_c, n, buf, (size_t)len, kid_cb, (void *)(uintptr_t)n))
		_exit(5);
}

static void test_kill_after_ack(void **state)
{
	struct fx *fx = *state;
	close_commit(fx);
	zlog_close(fx->log);
	fx->log = NULL;
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		ack_fd = pfd[1];
		uv_loop_t loop;
		uv_loop_init(&loop);
		struct zlog *log;
		if (zlog_open(&log, fx->dir, NULL, 0, NULL, NULL, NULL) ||
		    commit_open(&kid_c, &loop, log, NULL))
			_exit(2);
		for (kid_next = 1; kid_next <= 50; kid_next++) {
			char buf[64];
			int len = snprintf(buf, sizeof(buf), "txn %" PRIu64 " payload", kid_next);
			if (commit_submit(kid_c, kid_next, buf, (size_t)len, kid_cb,
					  (void *)(uintptr_t)kid_next))
				_exit(5);
		}
		uv_run(&loop, UV_RUN_DEFAULT);
		_exit(0);
	}
	close(pfd[1]);
	/* read acks while the child runs, then kill it at a random moment */
	uint64_t z, acked = 0, max_acked = 0;
	uint64_t deadline = uv_hrtime() + 150000000ull + uv_hrtime() % 100000000ull;
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	while (uv_hrtime() < deadline) {
		ssize_t r = read(pfd[0], &z, sizeof(z));
		if (r == sizeof(z)) {
			acked++;
			max_acked = z > max_acked ? z : max_acked;
		} else {
			usleep(200);
		}
	}
	kill(pid, SIGKILL);
	int st;
	waitpid(pid, &st, 0);
	assert_true(WIFSIGNALED(st));
	fcntl(pfd[0], F_SETFL, 0);
	while (read(pfd[0], &z, sizeof(z)) == sizeof(z)) {
		acked++;
		max_acked = z > max_acked ? z : max_acked;
	}
	close(pfd[0]);
	assert_true(acked > 0);
	struct got g = {0};
	struct zlog *log;
	assert_int_equal(zlog_open(&log, fx->dir, NULL, 0, count_txn, &g, NULL), 0);
	assert_false(g.gap);
	assert_true(g.last >= max_acked);
	printf("# kill -9 after %" PRIu64 " acks: recovered %" PRIu64 " txns (max acked %" PRIu64
	       ")\n",
	       acked, g.n, max_acked);
	zlog_close(log);
}

/* The new file of a roll cannot be created: the txns after the roll fail. */
static void test_roll_failure(void **state)
{
	struct fx *fx = *state;
	for (uint64_t z = 1; z <= 10; z++)
		assert_int_equal(submit(fx, z), 0);
	run_until(fx, 10);
	assert_int_equal(commit_roll(fx->c), 0);
	storage_fault_set(STORAGE_FAULT_OPEN, 1, -EMFILE);
	for (uint64_t z = 11; z <= 20; z++)
		assert_int_equal(submit(fx, z), 0);
	run_until(fx, 20);
	assert_int_equal(fx->n_ok, 10);
	assert_int_equal(fx->n_err, 10);
	assert_int_equal(fx->first_err, -EMFILE);
	assert_int_equal(commit_error(fx->c), -EMFILE);
	close_commit(fx);
	struct got g = {0};
	assert_int_equal(zlog_iterate(fx->dir, 0, count_txn, &g), 0);
	assert_int_equal(g.n, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_many_in_order_batched, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_submissions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sync_error_is_sticky, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enospc_is_sticky, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roll, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roll_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_drains, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kill_after_ack, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_throughput, setup, teardown),
	};
	return cmocka_run_group_tests_name("commit", tests, NULL, NULL);
}
