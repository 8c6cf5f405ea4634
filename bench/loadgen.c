/*
 * loadgen.c — a load generator for any ZooKeeper-protocol server, built on
 * the Apache C client (libzookeeper_mt) so that zkfs-server and Apache
 * ZooKeeper are measured with the same client code.
 *
 * N sessions each keep K requests outstanding (K = 1 is a synchronous
 * client: one request, wait for its reply, next).  A completion issues the
 * next request of its session, so the offered load adapts to the server.
 * Operations: create, set (setData), get (getData), exists, children
 * (getChildren), on 100-byte values (-v).  "load" creates N nodes as fast as
 * pipelining allows (used to fill a server before measuring memory).
 *
 *   loadgen -h 127.0.0.1:2181 -o get -s 32 -k 16 -t 10 -P /bench -n 10000
 *
 * Output: one line of key=value pairs (op, sessions, depth, ops, secs,
 * ops_per_s, p50_us, p99_us, p999_us, max_us, errors), easy to parse from
 * bench/run.  Exit status 0 unless setup failed or every request failed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#define MAX_US 2000000 /* latencies above 2 s land in the last bucket */

enum op { OP_CREATE, OP_SET, OP_GET, OP_EXISTS, OP_CHILDREN, OP_LOAD };
static const char *const op_names[] = {"create", "set", "get", "exists", "children", "load"};

struct session;

/* One outstanding request slot. */
struct slot {
	struct session *s;
	uint64_t t0;
	/* load with -b > 1: one multi of batch creates (kept until its completion) */
	zoo_op_t *ops;
	zoo_op_result_t *res;
	char (*paths)[64];
	char (*outs)[64];
	int nops;
};

struct session {
	int idx;
	zhandle_t *zh;
	struct slot *slots;
	uint64_t seq;       /* per-session counter: node names, key choice */
	atomic_int inflight;
	atomic_int connected;
};

static struct {
	const char *hosts, *prefix;
	enum op op;
	int sessions, depth, value_size, batch;
	double seconds, warmup;
	long count;    /* stop after this many completions (0 = use seconds) */
	long nodes;    /* keyspace size for get/set/exists; number to create for load */
	int quiet;
} opt = {.hosts = "127.0.0.1:2181", .prefix = "/bench", .op = OP_GET, .sessions = 1, .depth = 1,
	 .value_size = 100, .batch = 1, .seconds = 5, .warmup = 1, .nodes = 1000};

static struct session *sessions;
static char *value;
static atomic_int stopping;
static atomic_long issued;       /* for load: next node index */
static atomic_long completed, errors, measured;
static uint64_t t_measure, t_end;
static _Atomic uint32_t *hist; /* microsecond histogram */
static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void issue(struct slot *sl);

/* A slot stops: the last one of a session wakes main. */
static void retire(struct session *s)
{
	if (atomic_fetch_sub(&s->inflight, 1) == 1) {
		pthread_mutex_lock(&done_mu);
		pthread_cond_broadcast(&done_cv);
		pthread_mutex_unlock(&done_mu);
	}
}

/* Called on every completion: account, then keep the pipeline full. */
static void complete(struct slot *sl, int rc)
{
	uint64_t t = now_us();
	struct session *s = sl->s;
	long done = atomic_fetch_add(&completed, 1) + 1;
	if (rc != ZOK)
		atomic_fetch_add(&errors, 1);
	if (t >= t_measure && (opt.op == OP_LOAD || t <= t_end || opt.count)) {
		uint64_t d = t - sl->t0;
		atomic_fetch_add(&hist[d < MAX_US ? d : MAX_US], 1);
		atomic_fetch_add(&measured, 1);
	}
	int stop = atomic_load(&stopping) || (opt.count && done + atomic_load(&s->inflight) > opt.count) ||
		   (!opt.count && opt.op != OP_LOAD && t >= t_end);
	if (opt.op == OP_LOAD && atomic_load(&issued) >= opt.nodes)
		stop = 1;
	if (!stop)
		issue(sl);
	else
		retire(s);
}

static void stat_cb(int rc, const struct Stat *st, const void *data)
{
	(void)st;
	complete((struct slot *)data, rc);
}

static void data_cb(int rc, const char *v, int len, const struct Stat *st, const void *data)
{
	(void)v;
	(void)len;
	(void)st;
	complete((struct slot *)data, rc);
}

static void string_cb(int rc, const char *v, const void *data)
{
	(void)v;
	complete((struct slot *)data, rc);
}

static void void_cb(int rc, const void *data)
{
	struct slot *sl = (struct slot *)data;
	atomic_fetch_add(&completed, sl->nops - 1); /* complete() counts one */
	complete(sl, rc);
}

static void strings_cb(int rc, const struct String_vector *v, const void *data)
{
	(void)v;
	complete((struct slot *)data, rc);
}

static void issue(struct slot *sl)
{
	struct session *s = sl->s;
	char path[256];
	int rc;
	uint64_t k = s->seq++;
	sl->t0 = now_us();
	switch (opt.op) {
	case OP_LOAD: {
		long i = atomic_fetch_add(&issued, 1);
		if (i >= opt.nodes) {
			retire(s); /* nothing left to create */
			return;
		}
		if (opt.batch <= 1) {
			snprintf(path, sizeof path, "%s/n%ld", opt.prefix, i);
			rc = zoo_acreate(s->zh, path, value, opt.value_size, &ZOO_OPEN_ACL_UNSAFE, 0, string_cb, sl);
			break;
		}
		/* a multi of up to batch creates: indices i, then more taken from the counter */
		sl->nops = 0;
		for (long j = i; sl->nops < opt.batch && j < opt.nodes;) {
			snprintf(sl->paths[sl->nops], 64, "%s/n%ld", opt.prefix, j);
			zoo_create_op_init(&sl->ops[sl->nops], sl->paths[sl->nops], value, opt.value_size,
					   &ZOO_OPEN_ACL_UNSAFE, 0, sl->outs[sl->nops], 64);
			sl->nops++;
			if (sl->nops < opt.batch)
				j = atomic_fetch_add(&issued, 1);
		}
		if (atomic_load(&issued) > opt.nodes)
			atomic_store(&issued, opt.nodes);
		rc = zoo_amulti(s->zh, sl->nops, sl->ops, sl->res, void_cb, sl);
		break;
	}
	case OP_CREATE:
		snprintf(path, sizeof path, "%s/c%d-%" PRIu64, opt.prefix, s->idx, k);
		rc = zoo_acreate(s->zh, path, value, opt.value_size, &ZOO_OPEN_ACL_UNSAFE, 0, string_cb, sl);
		break;
	case OP_SET:
		snprintf(path, sizeof path, "%s/n%" PRIu64, opt.prefix,
			 (k * 7919u + (uint64_t)s->idx * 104729u) % (uint64_t)opt.nodes);
		rc = zoo_aset(s->zh, path, value, opt.value_size, -1, stat_cb, sl);
		break;
	case OP_GET:
		snprintf(path, sizeof path, "%s/n%" PRIu64, opt.prefix,
			 (k * 7919u + (uint64_t)s->idx * 104729u) % (uint64_t)opt.nodes);
		rc = zoo_aget(s->zh, path, 0, data_cb, sl);
		break;
	case OP_EXISTS:
		snprintf(path, sizeof path, "%s/n%" PRIu64, opt.prefix,
			 (k * 7919u + (uint64_t)s->idx * 104729u) % (uint64_t)opt.nodes);
		rc = zoo_aexists(s->zh, path, 0, stat_cb, sl);
		break;
	case OP_CHILDREN:
	default:
		snprintf(path, sizeof path, "%s-children", opt.prefix);
		rc = zoo_aget_children(s->zh, path, 0, strings_cb, sl);
		break;
	}
	if (rc != ZOK) {
		/* The client refused to queue it (closing, bad state): count and retire. */
		atomic_fetch_add(&errors, 1);
		atomic_store(&stopping, 1);
		retire(s);
	}
}

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	(void)zh;
	(void)path;
	struct session *s = ctx;
	if (type == ZOO_SESSION_EVENT)
		atomic_store(&s->connected, state == ZOO_CONNECTED_STATE);
}

static int connect_all(void)
{
	sessions = calloc((size_t)opt.sessions, sizeof *sessions);
	for (int i = 0; i < opt.sessions; i++) {
		struct session *s = &sessions[i];
		s->idx = i;
		s->slots = calloc((size_t)opt.depth, sizeof *s->slots);
		for (int j = 0; opt.op == OP_LOAD && opt.batch > 1 && j < opt.depth; j++) {
			struct slot *sl = &s->slots[j];
			sl->ops = calloc((size_t)opt.batch, sizeof *sl->ops);
			sl->res = calloc((size_t)opt.batch, sizeof *sl->res);
			sl->paths = calloc((size_t)opt.batch, sizeof *sl->paths);
			sl->outs = calloc((size_t)opt.batch, sizeof *sl->outs);
		}
		s->zh = zookeeper_init(opt.hosts, watcher, 30000, NULL, s, 0);
		if (!s->zh) {
			fprintf(stderr, "loadgen: zookeeper_init(%s): %s\n", opt.hosts, strerror(errno));
			return -1;
		}
	}
	uint64_t deadline = now_us() + 15000000u;
	for (int i = 0; i < opt.sessions; i++)
		while (!atomic_load(&sessions[i].connected)) {
			if (now_us() > deadline) {
				fprintf(stderr, "loadgen: session %d did not connect within 15 s\n", i);
				return -1;
			}
			usleep(2000);
		}
	return 0;
}

/* Creates the prefix node and, for children, a parent with 10 children. */
static int setup(void)
{
	zhandle_t *zh = sessions[0].zh;
	int rc = zoo_create(zh, opt.prefix, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
	if (rc != ZOK && rc != ZNODEEXISTS) {
		fprintf(stderr, "loadgen: create %s: %s\n", opt.prefix, zerror(rc));
		return -1;
	}
	if (opt.op == OP_CHILDREN) {
		char p[256];
		snprintf(p, sizeof p, "%s-children", opt.prefix);
		rc = zoo_create(zh, p, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
		for (int i = 0; i < 10 && (rc == ZOK || rc == ZNODEEXISTS); i++) {
			char c[300];
			snprintf(c, sizeof c, "%s/child-%d", p, i);
			rc = zoo_create(zh, c, value, opt.value_size, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
		}
		if (rc != ZOK && rc != ZNODEEXISTS) {
			fprintf(stderr, "loadgen: setup children: %s\n", zerror(rc));
			return -1;
		}
	}
	return 0;
}

static uint64_t percentile(long total, double q)
{
	long want = (long)(q * (double)total);
	long seen = 0;
	if (want >= total)
		want = total - 1;
	for (uint64_t us = 0; us <= MAX_US; us++) {
		seen += atomic_load(&hist[us]);
		if (seen > want)
			return us;
	}
	return MAX_US;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: loadgen [-h HOST:PORT] [-o create|set|get|exists|children|load] [-s SESSIONS]\n"
		"               [-k OUTSTANDING] [-t SECONDS] [-c COUNT] [-w WARMUP] [-v VALUE_BYTES]\n"
		"               [-P PREFIX] [-n NODES] [-b BATCH] [-q]\n"
		"  -k 1 = synchronous client; -n = keyspace (get/set/exists) or nodes to create (load);\n"
		"  -b = creates per multi request when loading (ops then counts nodes created)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int c;
	while ((c = getopt(argc, argv, "h:o:s:k:t:c:w:v:P:n:b:q")) != -1) {
		switch (c) {
		case 'h': opt.hosts = optarg; break;
		case 'o': {
			int found = 0;
			for (int i = 0; i <= OP_LOAD; i++)
				if (!strcmp(optarg, op_names[i])) {
					opt.op = (enum op)i;
					found = 1;
				}
			if (!found)
				usage();
			break;
		}
		case 's': opt.sessions = atoi(optarg); break;
		case 'k': opt.depth = atoi(optarg); break;
		case 't': opt.seconds = atof(optarg); break;
		case 'c': opt.count = atol(optarg); break;
		case 'w': opt.warmup = atof(optarg); break;
		case 'v': opt.value_size = atoi(optarg); break;
		case 'P': opt.prefix = optarg; break;
		case 'n': opt.nodes = atol(optarg); break;
		case 'b': opt.batch = atoi(optarg); break;
		case 'q': opt.quiet = 1; break;
		default: usage();
		}
	}
	if (opt.sessions < 1 || opt.depth < 1 || opt.value_size < 0 || opt.nodes < 1)
		usage();
	zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
	value = malloc((size_t)opt.value_size + 1);
	for (int i = 0; i < opt.value_size; i++)
		value[i] = (char)('a' + i % 26);
	hist = calloc(MAX_US + 1, sizeof *hist);
	if (!value || !hist || connect_all() < 0 || setup() < 0)
		return 1;

	uint64_t t0 = now_us();
	t_measure = (opt.op == OP_LOAD || opt.count) ? t0 : t0 + (uint64_t)(opt.warmup * 1e6);
	t_end = t_measure + (uint64_t)(opt.seconds * 1e6);
	for (int i = 0; i < opt.sessions; i++) {
		struct session *s = &sessions[i];
		atomic_store(&s->inflight, opt.depth);
		for (int j = 0; j < opt.depth; j++) {
			s->slots[j].s = s;
			issue(&s->slots[j]);
		}
	}
	/* Wait for every pipeline to drain (bounded: the run plus 30 s). */
	uint64_t limit = (opt.op == OP_LOAD || opt.count) ? t0 + 3600u * 1000000u : t_end + 30000000u;
	pthread_mutex_lock(&done_mu);
	for (;;) {
		int busy = 0;
		for (int i = 0; i < opt.sessions; i++)
			busy += atomic_load(&sessions[i].inflight) > 0;
		if (!busy || now_us() > limit)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&done_cv, &done_mu, &ts);
	}
	pthread_mutex_unlock(&done_mu);
	uint64_t t1 = now_us();
	double secs = (opt.op == OP_LOAD || opt.count) ? (double)(t1 - t0) / 1e6 : opt.seconds;
	long n = atomic_load(&measured);
	long nops = opt.op == OP_LOAD ? atomic_load(&completed) : n;
	printf("op=%s sessions=%d depth=%d ops=%ld secs=%.3f ops_per_s=%.0f p50_us=%" PRIu64 " p99_us=%" PRIu64
	       " p999_us=%" PRIu64 " max_us=%" PRIu64 " errors=%ld\n",
	       op_names[opt.op], opt.sessions, opt.depth, nops, secs, nops / secs, n ? percentile(n, 0.50) : 0,
	       n ? percentile(n, 0.99) : 0, n ? percentile(n, 0.999) : 0, n ? percentile(n, 1.0) : 0,
	       atomic_load(&errors));
	fflush(stdout);
	for (int i = 0; i < opt.sessions; i++)
		zookeeper_close(sessions[i].zh);
	return (n == 0 || atomic_load(&errors) == n) ? 1 : 0;
}
