/*
 * metrics.c — one reading of the server's numbers under ZooKeeper 3.8's
 * metric names, and its Prometheus text form (see metrics.h).
 *
 * The table of ZooKeeper names and kinds below was taken from Apache
 * ZooKeeper 3.8.0's ServerMetrics (counters and summaries; DetailLevel
 * ADVANCED = with quantiles) and from the gauges ZooKeeperServer,
 * QuorumZooKeeperServer, LeaderZooKeeperServer and FollowerZooKeeperServer
 * register.  The Prometheus form follows ZooKeeper's
 * PrometheusMetricsProvider (simpleclient 0.9): help text = name, counters
 * without a _total suffix, summaries as NAME_count / NAME_sum and, for
 * ADVANCED ones, NAME{quantile="0.5"|"0.9"|"0.99"}.
 */
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server.h"
#include "zab.h"

/* ---------------------------------------------------------------- text buffer */

void tbuf_put(struct tbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void tbuf_printf(struct tbuf *b, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		tbuf_put(b, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		b->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	tbuf_put(b, big, (size_t)n);
	free(big);
}

char *tbuf_take(struct tbuf *b, size_t *len)
{
	if (b->oom) {
		tbuf_free(b);
		return NULL;
	}
	if (!b->p)
		tbuf_put(b, "", 0);
	char *p = b->oom ? NULL : b->p;
	if (len)
		*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void tbuf_free(struct tbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->oom = false;
}

/* ---------------------------------------------------------------- small readers */

unsigned metrics_open_fds(void)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n > 0 ? n - 1 : 0; /* the directory stream itself */
}

uint64_t metrics_dir_size(const char *dir)
{
	uint64_t sum = 0;
	DIR *d = dir ? opendir(dir) : NULL;
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_size;
	}
	closedir(d);
	return sum;
}

/* ---------------------------------------------------------------- ZooKeeper's names */

struct zk_name {
	const char *name;
	enum metric_type type;
};

/* ServerMetrics of ZooKeeper 3.8.0, in its order (sets left out). */
static const struct zk_name server_metrics[] = {
    {"fsynctime", MT_SUMMARY},
    {"snapshottime", MT_SUMMARY},
    {"dbinittime", MT_SUMMARY},
    {"readlatency", MT_SUMMARY_Q},
    {"updatelatency", MT_SUMMARY_Q},
    {"propagation_latency", MT_SUMMARY_Q},
    {"follower_sync_time", MT_SUMMARY},
    {"observer_sync_time", MT_SUMMARY},
    {"election_time", MT_SUMMARY},
    {"looking_count", MT_COUNTER},
    {"diff_count", MT_COUNTER},
    {"snap_count", MT_COUNTER},
    {"commit_count", MT_COUNTER},
    {"connection_request_count", MT_COUNTER},
    {"connection_token_deficit", MT_SUMMARY},
    {"connection_rejected", MT_COUNTER},
    {"inflight_snap_count", MT_SUMMARY},
    {"inflight_diff_count", MT_SUMMARY},
    {"bytes_received_count", MT_COUNTER},
    {"unrecoverable_error_count", MT_COUNTER},
    {"node_created_watch_count", MT_SUMMARY},
    {"node_deleted_watch_count", MT_SUMMARY},
    {"node_changed_watch_count", MT_SUMMARY},
    {"node_children_watch_count", MT_SUMMARY},
    {"add_dead_watcher_stall_time", MT_COUNTER},
    {"dead_watchers_queued", MT_COUNTER},
    {"dead_watchers_cleared", MT_COUNTER},
    {"dead_watchers_cleaner_latency", MT_SUMMARY_Q},
    {"response_packet_cache_hits", MT_COUNTER},
    {"response_packet_cache_misses", MT_COUNTER},
    {"response_packet_get_children_cache_hits", MT_COUNTER},
    {"response_packet_get_children_cache_misses", MT_COUNTER},
    {"ensemble_auth_success", MT_COUNTER},
    {"ensemble_auth_fail", MT_COUNTER},
    {"ensemble_auth_skip", MT_COUNTER},
    {"prep_processor_queue_time_ms", MT_SUMMARY_Q},
    {"prep_processor_queue_size", MT_SUMMARY},
    {"prep_processor_request_queued", MT_COUNTER},
    {"outstanding_changes_queued", MT_COUNTER},
    {"outstanding_changes_removed", MT_COUNTER},
    {"prep_process_time", MT_SUMMARY},
    {"proposal_process_time", MT_SUMMARY},
    {"close_session_prep_time", MT_SUMMARY_Q},
    {"revalidate_count", MT_COUNTER},
    {"connection_drop_count", MT_COUNTER},
    {"connection_revalidate_count", MT_COUNTER},
    {"sessionless_connections_expired", MT_COUNTER},
    {"stale_sessions_expired", MT_COUNTER},
    {"unavailable_time", MT_SUMMARY},
    {"leader_unavailable_time", MT_SUMMARY},
    {"requests_in_session_queue", MT_SUMMARY},
    {"pending_session_queue_size", MT_SUMMARY},
    {"reads_after_write_in_session_queue", MT_SUMMARY},
    {"reads_issued_from_session_queue", MT_SUMMARY},
    {"session_queues_drained", MT_SUMMARY},
    {"time_waiting_empty_pool_in_commit_processor_read_ms", MT_SUMMARY},
    {"write_batch_time_in_commit_processor", MT_SUMMARY},
    {"concurrent_request_processing_in_commit_processor", MT_SUMMARY},
    {"read_commit_proc_req_queued", MT_SUMMARY},
    {"write_commit_proc_req_queued", MT_SUMMARY},
    {"commit_commit_proc_req_queued", MT_SUMMARY},
    {"request_commit_queued", MT_COUNTER},
    {"read_commit_proc_issued", MT_SUMMARY},
    {"write_commit_proc_issued", MT_SUMMARY},
    {"throttled_ops", MT_COUNTER},
    {"read_commitproc_time_ms", MT_SUMMARY_Q},
    {"write_commitproc_time_ms", MT_SUMMARY_Q},
    {"local_write_committed_time_ms", MT_SUMMARY_Q},
    {"server_write_committed_time_ms", MT_SUMMARY_Q},
    {"commit_process_time", MT_SUMMARY},
    {"om_proposal_process_time_ms", MT_SUMMARY_Q},
    {"om_commit_process_time_ms", MT_SUMMARY_Q},
    {"read_final_proc_time_ms", MT_SUMMARY_Q},
    {"write_final_proc_time_ms", MT_SUMMARY_Q},
    {"proposal_latency", MT_SUMMARY_Q},
    {"proposal_ack_creation_latency", MT_SUMMARY_Q},
    {"commit_propagation_latency", MT_SUMMARY_Q},
    {"learner_proposal_received_count", MT_COUNTER},
    {"learner_commit_received_count", MT_COUNTER},
    {"startup_txns_loaded", MT_SUMMARY},
    {"startup_txns_load_time", MT_SUMMARY},
    {"startup_snap_load_time", MT_SUMMARY},
    {"sync_processor_queue_and_flush_time_ms", MT_SUMMARY_Q},
    {"sync_processor_queue_size", MT_SUMMARY},
    {"sync_processor_request_queued", MT_COUNTER},
    {"sync_processor_queue_time_ms", MT_SUMMARY_Q},
    {"sync_processor_queue_flush_time_ms", MT_SUMMARY_Q},
    {"sync_process_time", MT_SUMMARY},
    {"sync_processor_batch_size", MT_SUMMARY},
    {"quorum_ack_latency", MT_SUMMARY_Q},
    {"proposal_count", MT_COUNTER},
    {"quit_leading_due_to_disloyal_voter", MT_COUNTER},
    {"stale_requests", MT_COUNTER},
    {"stale_requests_dropped", MT_COUNTER},
    {"stale_replies", MT_COUNTER},
    {"request_throttle_queue_time_ms", MT_SUMMARY_Q},
    {"request_throttle_wait_count", MT_COUNTER},
    {"large_requests_rejected", MT_COUNTER},
    {"netty_queued_buffer_capacity", MT_SUMMARY},
    {"digest_mismatches_count", MT_COUNTER},
    {"learner_request_processor_queue_size", MT_SUMMARY},
    {"unsuccessful_handshake", MT_COUNTER},
    {"insecure_admin_count", MT_COUNTER},
    {"tls_handshake_exceeded", MT_COUNTER},
    {"cnxn_closed_without_zk_server_running", MT_COUNTER},
    {"skip_learner_request_to_next_processor_count", MT_COUNTER},
    {"socket_closing_time", MT_SUMMARY},
    {"requests_not_forwarded_to_commit_processor", MT_COUNTER},
    {"response_bytes", MT_COUNTER},
    {"watch_bytes", MT_COUNTER},
    {"jvm_pause_time_ms", MT_SUMMARY_Q},
};
#define N_SERVER_METRICS (sizeof(server_metrics) / sizeof(server_metrics[0]))

/* ---------------------------------------------------------------- collecting */

static struct metric *add(struct metrics_snapshot *s, const char *name, enum metric_type t)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct metric *nm = realloc(s->m, cap * sizeof(*nm));
		if (!nm)
			return NULL;
		s->m = nm;
		s->cap = cap;
	}
	struct metric *m = &s->m[s->n++];
	memset(m, 0, sizeof(*m));
	m->name = name;
	m->type = t;
	return m;
}

static int gauge(struct metrics_snapshot *s, const char *name, double v, bool is_float)
{
	struct metric *m = add(s, name, MT_GAUGE);
	if (!m)
		return -ENOMEM;
	m->value = v;
	m->is_float = is_float;
	return 0;
}

static int extra(struct metrics_snapshot *s, const char *name, enum metric_type t, double v)
{
	struct metric *m = add(s, name, t);
	if (!m)
		return -ENOMEM;
	m->value = v;
	m->zkfs_only = true;
	return 0;
}

static struct metric *find(struct metrics_snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->m[i].name, name))
			return &s->m[i];
	return NULL;
}

int metrics_collect(struct server *srv, struct metrics_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	struct core_stats st;
	core_get_stats(srv->core, &st);
	struct commit_stats cs;
	memset(&cs, 0, sizeof(cs));
	if (srv->commit)
		commit_get_stats(srv->commit, &cs);
	struct zab_info zi;
	memset(&zi, 0, sizeof(zi));
	if (srv->zab)
		zab_get_info(srv->zab, &zi);
	struct rlimit rl;
	double maxfd = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (double)rl.rlim_cur : 0;
	uint64_t uptime = uv_now(srv->loop) - srv->start_ms;

	snprintf(s->version, sizeof(s->version), "%s, built on %s %s UTC", ZKFS_VERSION, __DATE__,
		 __TIME__);
	snprintf(s->server_state, sizeof(s->server_state), "%s",
		 srv->zab ? zab_role_name(zi.role) : "standalone");

	int rc = 0;
	/* the gauges of ZooKeeperServer.registerMetrics, in its order */
	double lat_avg = srv->lat_n ? (double)srv->lat_sum / (double)srv->lat_n : 0.0;
	rc |= gauge(s, "avg_latency", lat_avg, true);
	rc |= gauge(s, "max_latency", (double)srv->lat_max, false);
	rc |= gauge(s, "min_latency", srv->lat_n ? (double)srv->lat_min : 0, false);
	rc |= gauge(s, "packets_received", (double)srv->packets_received, false);
	rc |= gauge(s, "packets_sent", (double)srv->packets_sent, false);
	rc |= gauge(s, "num_alive_connections", srv->nconns, false);
	rc |= gauge(s, "outstanding_requests", srv->outstanding, false);
	rc |= gauge(s, "uptime", (double)uptime, false);
	rc |= gauge(s, "znode_count", (double)st.nodes, false);
	rc |= gauge(s, "watch_count", (double)st.watches, false);
	rc |= gauge(s, "ephemerals_count", (double)st.ephemerals, false);
	rc |= gauge(s, "approximate_data_size", (double)st.data_size, false);
	rc |= gauge(s, "global_sessions", (double)st.sessions, false);
	rc |= gauge(s, "local_sessions", 0, false);
	rc |= gauge(s, "open_file_descriptor_count", metrics_open_fds(), false);
	rc |= gauge(s, "max_file_descriptor_count", maxfd, false);
	rc |= gauge(s, "connection_drop_probability", 0, true);
	/* zkfs does not keep response sizes: ZooKeeper's "no data" value */
	rc |= gauge(s, "last_client_response_size", -1, false);
	rc |= gauge(s, "max_client_response_size", -1, false);
	rc |= gauge(s, "min_client_response_size", -1, false);
	rc |= gauge(s, "auth_failed_count", 0, false);
	rc |= gauge(s, "non_mtls_remote_conn_count", 0, false);
	rc |= gauge(s, "non_mtls_local_conn_count", 0, false);
	rc |= gauge(s, "outstanding_tls_handshake", 0, false);
	if (srv->zab) {
		/* QuorumZooKeeperServer, LeaderZooKeeperServer, FollowerZooKeeperServer */
		rc |= gauge(s, "quorum_size", zi.quorum_size, false);
		if (zi.role == ZAB_LEADING) {
			rc |= gauge(s, "learners", zi.followers + zi.synced_observers, false);
			rc |= gauge(s, "synced_followers", zi.synced_followers, false);
			rc |= gauge(s, "synced_non_voting_followers", 0, false);
			rc |= gauge(s, "synced_observers", zi.synced_observers, false);
			rc |= gauge(s, "pending_syncs", zi.pending_syncs, false);
			rc |= gauge(s, "leader_uptime", (double)uptime, false);
			rc |= gauge(s, "last_proposal_size", (double)srv->ens_last_proposal_size,
				    false);
			rc |= gauge(s, "max_proposal_size", -1, false);
			rc |= gauge(s, "min_proposal_size", -1, false);
		} else if (zi.role == ZAB_FOLLOWING) {
			rc |= gauge(s, "synced_observers", 0, false);
		}
	}
	for (size_t i = 0; i < N_SERVER_METRICS; i++)
		if (!add(s, server_metrics[i].name, server_metrics[i].type))
			rc = -ENOMEM;
	if (rc)
		return -ENOMEM;

	/* the ones zkfs measures */
	struct metric *m = find(s, "fsynctime");
	m->cnt = cs.fsyncs;
	m->sum = (double)(cs.sync_ns_total / 1000000);
	m->max = (double)(cs.sync_ns_max / 1000000);
	find(s, "digest_mismatches_count")->value = (double)st.digest_mismatches;
	if (srv->zab) {
		m = find(s, "looking_count");
		m->value = (double)zi.elections;
		if (zi.elections > 0) {
			/* only the last election's duration is kept */
			m = find(s, "election_time");
			m->cnt = 1;
			m->sum = m->min = m->max = (double)zi.election_ms;
		}
	}

	/* zkfs's own additions (the same as in mntr, without zk_) */
	rc |= extra(s, "fsync_count", MT_COUNTER, (double)cs.fsyncs);
	rc |= extra(s, "txn_count", MT_COUNTER, (double)cs.txns);
	rc |= extra(s, "commit_batches", MT_COUNTER, (double)cs.batches);
	rc |= extra(s, "commit_max_batch", MT_GAUGE, (double)cs.max_batch);
	rc |= extra(s, "commit_sync_ms_total", MT_COUNTER, (double)(cs.sync_ns_total / 1000000));
	rc |= extra(s, "commit_sync_us_max", MT_GAUGE, (double)(cs.sync_ns_max / 1000));
	rc |= extra(s, "commit_sync_over_5ms", MT_COUNTER, (double)cs.slow_5ms);
	rc |= extra(s, "commit_sync_over_20ms", MT_COUNTER, (double)cs.slow_20ms);
	rc |= extra(s, "throttled", MT_GAUGE, srv->throttled ? 1 : 0);
	rc |= extra(s, "snapshots_started", MT_COUNTER, (double)srv->snap_count);
	rc |= extra(s, "snapshot_ms_last", MT_GAUGE, (double)srv->snap_ms_last);
	rc |= extra(s, "snapshot_step_us_max", MT_GAUGE, (double)srv->snap_step_us_max);
	if (srv->zab) {
		rc |= extra(s, "election_time_ms_last", MT_GAUGE, (double)zi.election_ms);
		rc |= extra(s, "elections", MT_COUNTER, (double)zi.elections);
		rc |= extra(s, "current_epoch", MT_GAUGE, (double)zi.current_epoch);
		rc |= extra(s, "accepted_epoch", MT_GAUGE, (double)zi.accepted_epoch);
		rc |= extra(s, "leader_id", MT_GAUGE, (double)zi.leader);
		if (zi.role == ZAB_LEADING) {
			rc |= extra(s, "followers", MT_GAUGE, zi.followers);
			rc |= extra(s, "outstanding_proposals", MT_GAUGE, zi.outstanding);
		}
	}
	return rc ? -ENOMEM : 0;
}

void metrics_snapshot_free(struct metrics_snapshot *s)
{
	free(s->m);
	memset(s, 0, sizeof(*s));
}

/* ---------------------------------------------------------------- Prometheus */

static void num(struct tbuf *b, double v)
{
	if (isnan(v))
		tbuf_printf(b, "NaN");
	else if (v == floor(v) && fabs(v) < 1e15)
		tbuf_printf(b, "%" PRId64 ".0", (int64_t)v);
	else
		tbuf_printf(b, "%.10g", v);
}

static void head(struct tbuf *b, const char *name, const char *type, const char *help)
{
	tbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help ? help : name, name, type);
}

static void sample(struct tbuf *b, const char *name, const char *suffix, double v)
{
	tbuf_printf(b, "%s%s ", name, suffix);
	num(b, v);
	tbuf_put(b, "\n", 1);
}

/* process_* as Prometheus clients export them (from /proc). */
static void process_metrics(struct tbuf *b, double start_time)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
			     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
		head(b, "process_cpu_seconds_total", "counter",
		     "Total user and system CPU time spent in seconds.");
		sample(b, "process_cpu_seconds_total", "", cpu);
	}
	head(b, "process_start_time_seconds", "gauge",
	     "Start time of the process since unix epoch in seconds.");
	sample(b, "process_start_time_seconds", "", start_time);
	head(b, "process_open_fds", "gauge", "Number of open file descriptors.");
	sample(b, "process_open_fds", "", metrics_open_fds());
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		head(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
		sample(b, "process_max_fds", "", (double)rl.rlim_cur);
	}
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long vsz, rss;
	if (f && fscanf(f, "%llu %llu", &vsz, &rss) == 2) {
		double page = (double)sysconf(_SC_PAGESIZE);
		head(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
		sample(b, "process_virtual_memory_bytes", "", (double)vsz * page);
		head(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
		sample(b, "process_resident_memory_bytes", "", (double)rss * page);
	}
	if (f)
		fclose(f);
}

void metrics_format_prometheus(const struct metrics_snapshot *s, struct tbuf *b)
{
	double uptime_s = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct metric *m = &s->m[i];
		if (!strcmp(m->name, "uptime"))
			uptime_s = m->value / 1000.0;
		switch (m->type) {
		case MT_COUNTER:
			head(b, m->name, "counter", NULL);
			sample(b, m->name, "", m->value);
			break;
		case MT_GAUGE:
			head(b, m->name, "gauge", NULL);
			sample(b, m->name, "", m->value);
			break;
		case MT_SUMMARY:
		case MT_SUMMARY_Q:
			head(b, m->name, "summary", NULL);
			if (m->type == MT_SUMMARY_Q) {
				/* zkfs keeps no samples of these: no quantile is known */
				static const char *const q[] = {"0.5", "0.9", "0.99"};
				for (int k = 0; k < 3; k++)
					tbuf_printf(b, "%s{quantile=\"%s\"} NaN\n", m->name, q[k]);
			}
			sample(b, m->name, "_count", (double)m->cnt);
			sample(b, m->name, "_sum", m->sum);
			break;
		}
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	process_metrics(b, floor((double)ts.tv_sec - uptime_s));
}
