/*
 * zkc_load.c — load generator comparing libzkc with the Apache C client
 * (libzookeeper_mt) on the same workload against the same server.
 *
 * Each of S sessions keeps W asynchronous requests in flight (a completion
 * submits the next request) for T seconds.  libzkc runs every session on
 * one libuv loop in the main thread; the Apache multi-threaded client runs
 * its own I/O and completion threads per handle.  The process's CPU time
 * (user + system, getrusage) divided by completed operations gives the
 * client's cost per operation; the server runs elsewhere and is not counted.
 *
 *   zkc_load -s HOST:PORT [-c zkc|zkcb|apache] [-o get|set|create] [-S sessions]
 *            [-w window] [-t seconds] [-d bytes]
 * (zkcb: libzkc's blocking API, S sessions on one client, S*W threads each
 * with one call at a time — the FUSE daemon's pattern.)
 * prints one line:
 *   client=zkc op=get sessions=4 window=64 secs=5.00 ops=123456 ops_per_s=24691 cpu_us_per_op=12.3 errors=0
 *
 * Build (not part of the default build; the lead wires it into make bench):
 *   cc -O2 -DTHREADED -Iproto -Iclient tests/perf/zkc_load.c B/libzkc.a B/libproto.a \
 *      -lzookeeper_mt -luv -lssl -lcrypto -lsasl2 -lgssapi_krb5 -lpthread -lm -o B/bench/zkc_load
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <zookeeper/zookeeper.h>

#include "zkc.h"

enum { OP_GET, OP_SET, OP_CREATE };

static const char *spec = "127.0.0.1:2181";
static int op = OP_GET, nsess = 4, window = 64, dsize = 100;
static double secs = 5;
static char *payload;
static const char *base = "/zkc-load";

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

static void report(const char *client, double wall, double cpu, long ops, long errors)
{
	static const char *names[] = {"get", "set", "create"};
	printf("client=%s op=%s sessions=%d window=%d secs=%.2f ops=%ld ops_per_s=%.0f cpu_us_per_op=%.2f "
	       "errors=%ld\n",
	       client, names[op], nsess, window, wall, ops, (double)ops / wall, ops ? cpu * 1e6 / (double)ops : 0.0,
	       errors);
	fflush(stdout);
}

/* ------------------------------------------------------------------ libzkc */

struct zsess {
	zkc_session *s;
	char path[64];
	long ops, errors;
	int inflight;
};

static volatile int z_stop;
static uv_loop_t z_loop;

static void z_issue(struct zsess *zs);

static void z_done(zkc_session *s, int err, struct zkc_result *res, void *arg)
{
	struct zsess *zs = arg;
	(void)s;
	(void)res;
	zs->inflight--;
	if (err)
		zs->errors++;
	else
		zs->ops++;
	if (!z_stop)
		z_issue(zs);
}

static void z_issue(struct zsess *zs)
{
	int err;
	switch (op) {
	case OP_GET: err = zkc_get(zs->s, zs->path, NULL, NULL, z_done, zs); break;
	case OP_SET: err = zkc_set(zs->s, zs->path, payload, dsize, -1, z_done, zs); break;
	default: {
		char p[96];
		snprintf(p, sizeof(p), "%s/e-", zs->path);
		err = zkc_create(zs->s, p, payload, dsize, NULL, ZK_EPHEMERAL_SEQUENTIAL, 0, z_done, zs);
	}
	}
	if (!err)
		zs->inflight++;
	else
		zs->errors++;
}

static void z_timer(uv_timer_t *t)
{
	(void)t;
	z_stop = 1;
}

struct zb {
	int done, err;
};

static void z_setup_done(zkc_session *s, int err, struct zkc_result *res, void *arg)
{
	struct zb *b = arg;
	(void)s;
	(void)res;
	b->done++;
	if (err && err != ZE_NODEEXISTS)
		b->err = err;
}

static int run_zkc(void)
{
	uv_loop_init(&z_loop);
	struct zsess *v = calloc((size_t)nsess, sizeof(*v));
	struct zkc_options opt = {.max_outstanding = window * 2};
	for (int i = 0; i < nsess; i++) {
		if (zkc_session_open(&z_loop, spec, 30000, &opt, &v[i].s)) {
			fprintf(stderr, "zkc_load: cannot open a session to %s\n", spec);
			return 1;
		}
		snprintf(v[i].path, sizeof(v[i].path), "%s/n%d", base, i);
	}
	/* Setup: the base node and one node per session. */
	struct zb b = {0};
	zkc_create(v[0].s, base, "", 0, NULL, ZK_PERSISTENT, 0, z_setup_done, &b);
	while (b.done < 1)
		uv_run(&z_loop, UV_RUN_ONCE);
	for (int i = 0; i < nsess; i++)
		zkc_create(v[i].s, v[i].path, payload, dsize, NULL, ZK_PERSISTENT, 0, z_setup_done, &b);
	while (b.done < 1 + nsess)
		uv_run(&z_loop, UV_RUN_ONCE);
	if (b.err) {
		fprintf(stderr, "zkc_load: setup failed: %s\n", zkc_strerror(b.err));
		return 1;
	}
	uv_timer_t t;
	uv_timer_init(&z_loop, &t);
	double w0 = now_s(), c0 = cpu_s();
	uv_timer_start(&t, z_timer, (uint64_t)(secs * 1000), 0);
	for (int i = 0; i < nsess; i++)
		for (int j = 0; j < window; j++)
			z_issue(&v[i]);
	for (;;) {
		uv_run(&z_loop, UV_RUN_ONCE);
		if (!z_stop)
			continue;
		int inflight = 0;
		for (int i = 0; i < nsess; i++)
			inflight += v[i].inflight;
		if (!inflight)
			break;
	}
	double wall = now_s() - w0, cpu = cpu_s() - c0;
	long ops = 0, errors = 0;
	for (int i = 0; i < nsess; i++) {
		ops += v[i].ops;
		errors += v[i].errors;
	}
	report("zkc", wall, cpu, ops, errors);
	uv_close((uv_handle_t *)&t, NULL);
	for (int i = 0; i < nsess; i++)
		zkc_session_close(v[i].s, NULL, NULL);
	uv_run(&z_loop, UV_RUN_DEFAULT);
	uv_loop_close(&z_loop);
	free(v);
	return 0;
}

/* ------------------------------------------------------------------ libzkc, blocking API */

/* S sessions on one zkc_client; S*W threads, each doing blocking calls in a
 * loop — the shape of the FUSE daemon's use. */
struct bthr {
	pthread_t t;
	zkc_session *s;
	char path[64];
	long ops, errors;
};

static volatile int b_stop;

static void *b_main(void *arg)
{
	struct bthr *b = arg;
	while (!b_stop) {
		int err;
		switch (op) {
		case OP_GET: err = zkc_b_get(b->s, b->path, NULL, NULL, NULL, NULL, NULL); break;
		case OP_SET: err = zkc_b_set(b->s, b->path, payload, dsize, -1, NULL); break;
		default: {
			char p[96];
			snprintf(p, sizeof(p), "%s/e-", b->path);
			err = zkc_b_create(b->s, p, payload, dsize, NULL, ZK_EPHEMERAL_SEQUENTIAL, 0, NULL, NULL);
		}
		}
		if (err)
			b->errors++;
		else
			b->ops++;
	}
	return NULL;
}

static int run_zkcb(void)
{
	zkc_client *c;
	if (zkc_client_new(&c))
		return 1;
	zkc_session **ss = calloc((size_t)nsess, sizeof(*ss));
	for (int i = 0; i < nsess; i++) {
		if (zkc_b_open(c, spec, 30000, NULL, 30000, &ss[i])) {
			fprintf(stderr, "zkc_load: cannot open a session to %s\n", spec);
			return 1;
		}
		char p[64];
		snprintf(p, sizeof(p), "%s/n%d", base, i);
		zkc_b_create(ss[i], base, "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL);
		zkc_b_create(ss[i], p, payload, dsize, NULL, ZK_PERSISTENT, 0, NULL, NULL);
	}
	int nt = nsess * window;
	struct bthr *v = calloc((size_t)nt, sizeof(*v));
	double w0 = now_s(), c0 = cpu_s();
	for (int i = 0; i < nt; i++) {
		v[i].s = ss[i % nsess];
		snprintf(v[i].path, sizeof(v[i].path), "%s/n%d", base, i % nsess);
		pthread_create(&v[i].t, NULL, b_main, &v[i]);
	}
	usleep((useconds_t)(secs * 1e6));
	b_stop = 1;
	long ops = 0, errors = 0;
	for (int i = 0; i < nt; i++) {
		pthread_join(v[i].t, NULL);
		ops += v[i].ops;
		errors += v[i].errors;
	}
	double wall = now_s() - w0, cpu = cpu_s() - c0;
	report("zkc-blocking", wall, cpu, ops, errors);
	for (int i = 0; i < nsess; i++)
		zkc_b_close(ss[i]);
	zkc_client_free(c);
	free(ss);
	free(v);
	return 0;
}

/* ------------------------------------------------------------------ Apache C client */

struct asess {
	zhandle_t *zh;
	char path[64];
	long ops, errors;
	int inflight;
	pthread_mutex_t mu;
};

static volatile int a_stop;

static void a_issue(struct asess *as);

static void a_done_common(struct asess *as, int rc)
{
	pthread_mutex_lock(&as->mu);
	as->inflight--;
	if (rc)
		as->errors++;
	else
		as->ops++;
	pthread_mutex_unlock(&as->mu);
	if (!a_stop)
		a_issue(as);
}

static void a_data_done(int rc, const char *value, int len, const struct Stat *st, const void *data)
{
	(void)value;
	(void)len;
	(void)st;
	a_done_common((struct asess *)data, rc);
}

static void a_stat_done(int rc, const struct Stat *st, const void *data)
{
	(void)st;
	a_done_common((struct asess *)data, rc);
}

static void a_str_done(int rc, const char *value, const void *data)
{
	(void)value;
	a_done_common((struct asess *)data, rc);
}

static void a_issue(struct asess *as)
{
	pthread_mutex_lock(&as->mu);
	as->inflight++;
	pthread_mutex_unlock(&as->mu);
	int rc;
	switch (op) {
	case OP_GET: rc = zoo_aget(as->zh, as->path, 0, a_data_done, as); break;
	case OP_SET: rc = zoo_aset(as->zh, as->path, payload, dsize, -1, a_stat_done, as); break;
	default: {
		char p[96];
		snprintf(p, sizeof(p), "%s/e-", as->path);
		rc = zoo_acreate(as->zh, p, payload, dsize, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL_SEQUENTIAL, a_str_done,
				 as);
	}
	}
	if (rc != ZOK) {
		pthread_mutex_lock(&as->mu);
		as->inflight--;
		as->errors++;
		pthread_mutex_unlock(&as->mu);
	}
}

static void a_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	(void)zh;
	(void)type;
	(void)state;
	(void)path;
	(void)ctx;
}

static int run_apache(void)
{
	zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
	struct asess *v = calloc((size_t)nsess, sizeof(*v));
	for (int i = 0; i < nsess; i++) {
		pthread_mutex_init(&v[i].mu, NULL);
		v[i].zh = zookeeper_init(spec, a_watcher, 30000, NULL, NULL, 0);
		if (!v[i].zh) {
			fprintf(stderr, "zkc_load: zookeeper_init failed\n");
			return 1;
		}
		snprintf(v[i].path, sizeof(v[i].path), "%s/n%d", base, i);
	}
	for (int t = 0; t < 300; t++) {
		int ok = 0;
		for (int i = 0; i < nsess; i++)
			ok += zoo_state(v[i].zh) == ZOO_CONNECTED_STATE;
		if (ok == nsess)
			break;
		usleep(100000);
	}
	zoo_create(v[0].zh, base, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
	for (int i = 0; i < nsess; i++)
		zoo_create(v[i].zh, v[i].path, payload, dsize, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
	double w0 = now_s(), c0 = cpu_s();
	for (int i = 0; i < nsess; i++)
		for (int j = 0; j < window; j++)
			a_issue(&v[i]);
	usleep((useconds_t)(secs * 1e6));
	a_stop = 1;
	for (;;) {
		int inflight = 0;
		for (int i = 0; i < nsess; i++) {
			pthread_mutex_lock(&v[i].mu);
			inflight += v[i].inflight;
			pthread_mutex_unlock(&v[i].mu);
		}
		if (!inflight)
			break;
		usleep(1000);
	}
	double wall = now_s() - w0, cpu = cpu_s() - c0;
	long ops = 0, errors = 0;
	for (int i = 0; i < nsess; i++) {
		ops += v[i].ops;
		errors += v[i].errors;
	}
	report("apache", wall, cpu, ops, errors);
	for (int i = 0; i < nsess; i++) {
		zookeeper_close(v[i].zh);
		pthread_mutex_destroy(&v[i].mu);
	}
	free(v);
	return 0;
}

int main(int argc, char **argv)
{
	const char *client = "zkc";
	int c;
	while ((c = getopt(argc, argv, "s:c:o:S:w:t:d:")) != -1) {
		switch (c) {
		case 's': spec = optarg; break;
		case 'c': client = optarg; break;
		case 'o':
			op = strcmp(optarg, "set") == 0 ? OP_SET : strcmp(optarg, "create") == 0 ? OP_CREATE : OP_GET;
			break;
		case 'S': nsess = atoi(optarg); break;
		case 'w': window = atoi(optarg); break;
		case 't': secs = atof(optarg); break;
		case 'd': dsize = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: zkc_load -s SPEC [-c zkc|zkcb|apache] [-o get|set|create] [-S sessions] "
					"[-w window] [-t seconds] [-d bytes]\n");
			return 2;
		}
	}
	if (nsess < 1 || window < 1 || dsize < 0 || secs <= 0)
		return 2;
	payload = malloc((size_t)dsize + 1);
	memset(payload, 'x', (size_t)dsize);
	int rc = strcmp(client, "apache") == 0 ? run_apache() : strcmp(client, "zkcb") == 0 ? run_zkcb() : run_zkc();
	free(payload);
	return rc;
}
