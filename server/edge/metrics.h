/*
 * metrics.h — the server's numbers under Apache ZooKeeper 3.8's metric
 * names, for the admin API's `monitor` command and for Prometheus'
 * `/metrics` (admin.c serves both over HTTP).
 *
 * ZooKeeper names every metric once (ServerMetrics, and the gauges its
 * servers register) and shows it three ways: `mntr` (zk_NAME), the admin
 * API's `monitor` (NAME, with avg_/min_/max_/cnt_/sum_ and p50_..p999_
 * for summaries) and the Prometheus provider (NAME, NAME_count,
 * NAME_sum, NAME{quantile="0.5"}).  A metrics_snapshot is one reading of
 * every metric zkfs exports, taken on the loop thread; formatting it
 * needs nothing else, so the HTTP threads format snapshots they were
 * handed.
 *
 * Metrics that zkfs does not measure (Java request-processor queues,
 * response caches, ...) are present with ZooKeeper's value for "nothing
 * happened": 0, or -1 where ZooKeeper reports -1.  Latency summaries whose
 * samples zkfs does not collect separately (readlatency, updatelatency)
 * are present with no samples: count 0, quantiles NaN in Prometheus.
 * The per-namespace and per-learner metric sets are not exported.
 */
#ifndef ZKFS_EDGE_METRICS_H
#define ZKFS_EDGE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct server;

enum metric_type {
	MT_COUNTER,
	MT_GAUGE,
	MT_SUMMARY,   /* ZooKeeper's DetailLevel.BASIC: count, sum, min, max, avg */
	MT_SUMMARY_Q, /* DetailLevel.ADVANCED: ... and quantiles */
};

struct metric {
	const char *name; /* static string, ZooKeeper's name without zk_ */
	enum metric_type type;
	bool is_float;	      /* counters/gauges: printed as a float (avg_latency) */
	bool zkfs_only;	      /* not one of ZooKeeper's names (zkfs additions) */
	double value;	      /* counter, gauge */
	uint64_t cnt;	      /* summaries */
	double sum, min, max; /* summaries (ms or the unit ZooKeeper uses) */
};

struct metrics_snapshot {
	char version[128];     /* "3.8.0-zkfs-0.1, built on ..." */
	char server_state[32]; /* standalone, leader, follower, observer, looking */
	struct metric *m;
	size_t n, cap;
};

/* A growable text buffer (what the formatters append to).  oom is set
 * once an allocation failed; the text is then incomplete and callers
 * answer 500. */
struct tbuf {
	char *p;
	size_t len, cap;
	bool oom;
};
void tbuf_printf(struct tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tbuf_put(struct tbuf *b, const char *s, size_t n);
/* Hands the text over (NUL-terminated, malloc'd; NULL after oom) and
 * leaves b empty. */
char *tbuf_take(struct tbuf *b, size_t *len);
void tbuf_free(struct tbuf *b);

/* Reads every metric from srv.  Loop thread only (it reads the core and
 * the server's counters).  Returns 0 or -ENOMEM (snap then holds what fit;
 * metrics_snapshot_free it either way). */
int metrics_collect(struct server *srv, struct metrics_snapshot *snap);
void metrics_snapshot_free(struct metrics_snapshot *snap);

/* The snapshot as Prometheus' text exposition format 0.0.4 (# HELP,
 * # TYPE, samples), plus the process_* metrics every Prometheus client
 * exports (CPU seconds, resident memory, open fds, start time).  Any
 * thread. */
void metrics_format_prometheus(const struct metrics_snapshot *snap, struct tbuf *out);

/* Bytes of the regular files directly in dir (snapshots, logs): the
 * `dirs` numbers. */
uint64_t metrics_dir_size(const char *dir);

/* Open file descriptors of this process. */
unsigned metrics_open_fds(void);

#endif
