/*
 * admin.c — ZooKeeper 3.8's AdminServer and the Prometheus endpoint, on
 * libmicrohttpd (see admin.h).
 *
 * Threads.  libmicrohttpd (MHD) parses HTTP on its own thread (one per
 * daemon, MHD_USE_INTERNAL_POLLING_THREAD): garbage, slow or huge
 * requests are its problem and never reach the loop.  The server's state
 * (core, connections, counters) belongs to the libuv loop thread, so a
 * request that needs it becomes a `job`:
 *
 *   MHD thread                              loop thread
 *   ----------                              -----------
 *   job on the stack, state QUEUED
 *   lock; append to a->queue; unlock
 *   uv_async_send(&a->async)  ───────────►  on_async: lock; take the queue,
 *                                           mark each RUNNING; unlock
 *                                           run each: read the state, write
 *                                           job->body (JSON) or job->snap
 *   wait on a->cv ◄───────────────────────  lock; state DONE; broadcast; unlock
 *   answer from job->body
 *
 * The loop thread never touches a job after marking it DONE, and the MHD
 * thread never leaves while its job is RUNNING, so the job can live on the
 * MHD thread's stack.  A job still QUEUED after JOB_WAIT_MS (a stuck loop)
 * or when admin_stop begins is taken back out of the queue by its own
 * thread and answered 503.  The async handle is unref'd: it does not keep
 * the loop alive, so shutdown works as before; admin_stop runs after the
 * loop has ended, so a job can no longer be RUNNING then.
 *
 * JSON answers have the fields of Apache ZooKeeper 3.8.0's commands
 * (org.apache.zookeeper.server.admin.Commands), then "command" and
 * "error" (null, or a message).  Apache answers errors with status 200
 * and so does this.  docs/server.md lists where the values differ.
 */
#include "admin.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "metrics.h"
#include "server.h"
#include "slog.h"
#include "tls.h"
#include "zab.h"

#define JOB_WAIT_MS 10000  /* a request waits this long for the loop thread */
#define MAX_CONNECTIONS 64 /* per daemon */
#define MAX_PER_IP 16
#define CONNECTION_MEMORY (16 * 1024) /* request line + headers; more gets 431/414 */
#define DEFAULT_TRACE_MASK 306	      /* ZooTrace's default mask, as Apache reports it */
#define PROMETHEUS_CLASS "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"

struct command;

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct job {
	struct job *next;	   /* a->queue, under a->mu */
	enum job_state state;	   /* under a->mu */
	const struct command *cmd; /* NULL: a /metrics scrape */
	const char *trace_mask;	   /* set_trace_mask's argument (MHD's memory) */
	const char *error;	   /* set by a command that fails (static string) */
	/* results, written by the loop thread before DONE */
	char *body; /* malloc'd JSON (commands), NULL = out of memory */
	size_t len;
	struct metrics_snapshot snap; /* scrapes */
	int snap_rc;
};

struct admin {
	struct server *srv;
	uv_async_t async; /* wakes the loop thread for queued jobs */
	bool async_inited, closed;

	pthread_mutex_t mu;
	pthread_cond_t cv;	   /* a job became DONE, or stopping */
	struct job *queue, *qtail; /* under mu */
	bool stopping;		   /* under mu */

	struct MHD_Daemon *http;    /* admin server, or NULL */
	struct MHD_Daemon *metrics; /* Prometheus endpoint, or NULL */
	char *command_url;	    /* "/commands" (no trailing '/') */
	char *initial_config;	    /* the config file as read at start, secrets masked */
	int64_t trace_mask;	    /* loop thread */

	/* MHD's own error messages, rate-limited (under log_mu) */
	pthread_mutex_t log_mu;
	time_t log_second;
	unsigned log_count, log_dropped;
};

/* ---------------------------------------------------------------- JSON */

/* A pretty-printing JSON writer in Jackson's layout ("key" : value),
 * enough for the admin commands.  Nesting beyond MAX_DEPTH is a bug. */
#define MAX_DEPTH 8
struct json {
	struct tbuf *b;
	int depth;
	bool first[MAX_DEPTH];
};

static void j_indent(struct json *j, int level)
{
	tbuf_put(j->b, "\n", 1);
	for (int i = 0; i < level; i++)
		tbuf_put(j->b, "  ", 2);
}

/* UTF-8 passes through when valid; control characters are escaped; a
 * byte that is not part of valid UTF-8 (paths are byte strings) becomes
 * U+FFFD so the document stays valid JSON. */
static void j_string(struct tbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	tbuf_put(b, "\"", 1);
	while (*p) {
		unsigned c = *p;
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			tbuf_put(b, e, 2);
			p++;
		} else if (c == '\n' || c == '\t' || c == '\r') {
			char e[2] = {'\\', c == '\n' ? 'n' : c == '\t' ? 't' : 'r'};
			tbuf_put(b, e, 2);
			p++;
		} else if (c < 0x20 || c == 0x7f) {
			tbuf_printf(b, "\\u%04x", c);
			p++;
		} else if (c < 0x80) {
			tbuf_put(b, (const char *)p, 1);
			p++;
		} else {
			int n = (c & 0xe0) == 0xc0   ? 2
				: (c & 0xf0) == 0xe0 ? 3
				: (c & 0xf8) == 0xf0 ? 4
						     : 0;
			bool ok = n > 0 && !(n == 2 && c < 0xc2);
			for (int i = 1; ok && i < n; i++)
				ok = (p[i] & 0xc0) == 0x80;
			if (ok) {
				tbuf_put(b, (const char *)p, (size_t)n);
				p += n;
			} else {
				tbuf_put(b, "\\ufffd", 6);
				p++;
			}
		}
	}
	tbuf_put(b, "\"", 1);
}

/* Separator, indentation and key of the next member (key NULL in arrays). */
static void j_key(struct json *j, const char *key)
{
	if (!j->first[j->depth])
		tbuf_put(j->b, ",", 1);
	j->first[j->depth] = false;
	j_indent(j, j->depth + 1);
	if (key) {
		j_string(j->b, key);
		tbuf_put(j->b, " : ", 3);
	}
}

static void j_open(struct json *j, const char *key, char c)
{
	if (j->depth + 1 >= MAX_DEPTH) {
		j->b->oom = true; /* a bug: answered as a failure, never a crash */
		return;
	}
	if (j->depth >= 0)
		j_key(j, key);
	tbuf_put(j->b, &c, 1);
	j->depth++;
	j->first[j->depth] = true;
}

static void j_close(struct json *j, char c)
{
	bool empty = j->first[j->depth];
	j->depth--;
	if (empty) {
		tbuf_put(j->b, " ", 1);
	} else {
		j_indent(j, j->depth + 1);
	}
	tbuf_put(j->b, &c, 1);
}

static void j_str(struct json *j, const char *key, const char *s)
{
	j_key(j, key);
	j_string(j->b, s);
}

static void j_int(struct json *j, const char *key, int64_t v)
{
	j_key(j, key);
	tbuf_printf(j->b, "%" PRId64, v);
}

static void j_dbl(struct json *j, const char *key, double v)
{
	j_key(j, key);
	char s[64];
	snprintf(s, sizeof(s), "%.4f", v);
	/* Jackson prints doubles as Java does: 9.5556, 0.0 */
	size_t n = strlen(s);
	while (n > 0 && s[n - 1] == '0' && s[n - 2] != '.')
		s[--n] = '\0';
	tbuf_put(j->b, s, n);
}

static void j_bool(struct json *j, const char *key, bool v)
{
	j_key(j, key);
	tbuf_printf(j->b, "%s", v ? "true" : "false");
}

static void j_null(struct json *j, const char *key)
{
	j_key(j, key);
	tbuf_put(j->b, "null", 4);
}

/* ---------------------------------------------------------------- secrets */

/* Keys whose values must not be shown (passwords, digests, tokens). */
static bool secret_key(const char *k, size_t n)
{
	static const char *const words[] = {"password", "passwd", "secret",
					    "digest",	"token",  "credential"};
	char low[256];
	if (n >= sizeof(low))
		n = sizeof(low) - 1;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)k[i]);
	low[n] = '\0';
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(low, words[i]))
			return true;
	return false;
}

#define MASK "********"

/* The config file's text with the values of secret keys masked. */
static char *read_config_masked(const char *path)
{
	struct tbuf b = {0};
	FILE *f = path ? fopen(path, "r") : NULL;
	if (f) {
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		while ((n = getline(&line, &cap, f)) > 0) {
			const char *p = line;
			while (*p == ' ' || *p == '\t')
				p++;
			size_t klen = strcspn(p, "=:");
			if (*p != '#' && *p != '!' && p[klen] && secret_key(p, klen)) {
				tbuf_put(&b, line, (size_t)(p - line) + klen + 1);
				tbuf_printf(&b, MASK "\n");
			} else {
				tbuf_put(&b, line, (size_t)n);
			}
		}
		free(line);
		fclose(f);
	}
	return tbuf_take(&b, NULL);
}

/* ---------------------------------------------------------------- commands */

struct command {
	const char *name;
	const char *alias[3];
	bool needs_serving; /* an ensemble member without a leader answers with an error */
	void (*run)(struct admin *a, struct json *j, struct job *q);
};

static const char *server_state(struct server *srv)
{
	if (!srv->zab)
		return "standalone";
	struct zab_info zi;
	zab_get_info(srv->zab, &zi);
	return zab_role_name(zi.role);
}

static void cmd_configuration(struct admin *a, struct json *j, struct job *q)
{
	const struct config *cfg = a->srv->cfg;
	j_int(j, "client_port", a->srv->bound_port > 0 ? a->srv->bound_port : cfg->client_port);
	j_str(j, "data_dir", cfg->data_dir);
	j_str(j, "data_log_dir", cfg->data_log_dir);
	j_int(j, "tick_time", cfg->tick_time);
	j_int(j, "max_client_cnxns", cfg->max_client_cnxns);
	j_int(j, "min_session_timeout", cfg->min_session_timeout);
	j_int(j, "max_session_timeout", cfg->max_session_timeout);
	j_int(j, "server_id", cfg->my_id > 0 ? cfg->my_id : 0);
	j_int(j, "client_port_listen_backlog", cfg->client_port_listen_backlog);
}

static void cmd_connection_stat_reset(struct admin *a, struct json *j, struct job *q)
{
	for (struct conn *c = a->srv->conns; c; c = c->next) {
		c->recv = c->sent = 0;
		c->lat_min = c->lat_max = c->lat_sum = c->lat_n = 0;
	}
}

static void put_conn(struct server *srv, struct json *j, struct conn *c, bool full)
{
	j_open(j, NULL, '{');
	j_str(j, "remote_socket_address", c->peer);
	j_int(j, "interest_ops", c->reading ? 1 : 0);
	j_int(j, "outstanding_requests", c->nqueued);
	j_int(j, "packets_received", (int64_t)c->recv);
	j_int(j, "packets_sent", (int64_t)c->sent);
	if (full && c->session_id) {
		uint64_t now = uv_now(srv->loop);
		int64_t wall = server_now_ms();
		j_int(j, "session_id", c->session_id);
		j_str(j, "last_operation", fourlw_op_short(c->last_op));
		j_int(j, "established", wall - (int64_t)(now - c->established_ms));
		j_int(j, "session_timeout", c->timeout);
		j_int(j, "last_cxid", c->last_cxid);
		j_int(j, "last_zxid", c->last_zxid);
		j_int(j, "last_response_time", wall - (int64_t)(now - c->last_ms));
		j_int(j, "last_latency", 0);
		j_int(j, "min_latency", c->lat_n ? (int64_t)c->lat_min : 0);
		j_int(j, "avg_latency", c->lat_n ? (int64_t)(c->lat_sum / c->lat_n) : 0);
		j_int(j, "max_latency", (int64_t)c->lat_max);
	}
	j_close(j, '}');
}

/* "connections" and "secure_connections": as ZooKeeper, one list per
 * listening port (TLS on a unified clientPort counts as clientPort's). */
static void put_conn_lists(struct server *srv, struct json *j, bool full)
{
	for (int secure = 0; secure < 2; secure++) {
		j_open(j, secure ? "secure_connections" : "connections", '[');
		for (struct conn *c = srv->conns; c; c = c->next)
			if (c->secure_port == secure)
				put_conn(srv, j, c, full);
		j_close(j, ']');
	}
}

static void cmd_connections(struct admin *a, struct json *j, struct job *q)
{
	put_conn_lists(a->srv, j, true);
}

static void cmd_dirs(struct admin *a, struct json *j, struct job *q)
{
	j_int(j, "datadir_size", (int64_t)metrics_dir_size(a->srv->cfg->data_dir));
	j_int(j, "logdir_size", (int64_t)metrics_dir_size(a->srv->cfg->data_log_dir));
}

/* dump: sessions grouped by when they would expire if idle from now
 * (rounded up to a tick, as ZooKeeper's expiry buckets), and the
 * ephemerals of each session. */
struct dump_walk {
	struct admin *a;
	struct json *j;
	int64_t *exp, *sid; /* parallel arrays */
	size_t n, cap;
	bool oom;
};

static void dump_collect(void *arg, int64_t sid, int32_t timeout_ms, uint32_t neph)
{
	struct dump_walk *w = arg;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		int64_t *e = realloc(w->exp, cap * sizeof(*e));
		if (e)
			w->exp = e;
		int64_t *s = realloc(w->sid, cap * sizeof(*s));
		if (s)
			w->sid = s;
		if (!e || !s) {
			w->oom = true;
			return;
		}
		w->cap = cap;
	}
	int64_t tick = w->a->srv->cfg->tick_time;
	int64_t t = (int64_t)uv_now(w->a->srv->loop) + timeout_ms;
	w->exp[w->n] = (t / tick + 1) * tick;
	w->sid[w->n] = sid;
	w->n++;
}

static void path_item(void *arg, const char *path)
{
	j_str(arg, NULL, path);
}

static void dump_ephemerals(void *arg, int64_t sid, int32_t timeout_ms, uint32_t neph)
{
	struct dump_walk *w = arg;
	if (!neph)
		return;
	char key[32];
	snprintf(key, sizeof(key), "%" PRId64, sid);
	j_open(w->j, key, '[');
	core_session_ephemerals(w->a->srv->core, sid, path_item, w->j);
	j_close(w->j, ']');
}

static void cmd_dump(struct admin *a, struct json *j, struct job *q)
{
	struct dump_walk w = {.a = a, .j = j};
	core_sessions_each(a->srv->core, dump_collect, &w);
	j_open(j, "expiry_time_to_session_ids", '{');
	bool *done = calloc(w.n ? w.n : 1, sizeof(*done));
	for (size_t i = 0; done && i < w.n; i++) {
		if (done[i])
			continue;
		char key[32];
		snprintf(key, sizeof(key), "%" PRId64, w.exp[i]);
		j_open(j, key, '[');
		for (size_t k = i; k < w.n; k++) {
			if (!done[k] && w.exp[k] == w.exp[i]) {
				done[k] = true;
				j_int(j, NULL, w.sid[k]);
			}
		}
		j_close(j, ']');
	}
	if (!done || w.oom)
		j->b->oom = true;
	free(done);
	free(w.exp);
	free(w.sid);
	j_close(j, '}');
	j_open(j, "session_id_to_ephemeral_paths", '{');
	core_sessions_each(a->srv->core, dump_ephemerals, &w);
	j_close(j, '}');
}

static void put_basic_env(struct json *j, bool system_properties)
{
	struct utsname u;
	char host[256] = "";
	char cwd[1024] = "";
	gethostname(host, sizeof(host) - 1);
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = 0;
	struct passwd pw, *pwp = NULL;
	char pwbuf[1024];
	getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &pwp);
	const char *user = pwp ? pwp->pw_name : getenv("USER");
	const char *home = getenv("HOME");
	bool un = uname(&u) == 0;
	if (!system_properties) {
		char v[256];
		snprintf(v, sizeof(v), "%s, built on %s %s UTC", ZKFS_VERSION, __DATE__, __TIME__);
		j_str(j, "zookeeper.version", v);
		j_str(j, "host.name", host);
	} else {
		j_str(j, "file.separator", "/");
		j_str(j, "line.separator", "\n");
		j_str(j, "path.separator", ":");
	}
	if (un) {
		j_str(j, "os.name", u.sysname);
		j_str(j, "os.arch", u.machine);
		j_str(j, "os.version", u.release);
	}
	j_str(j, "user.name", user ? user : "");
	j_str(j, "user.home", home ? home : "");
	j_str(j, "user.dir", cwd);
}

static void cmd_environment(struct admin *a, struct json *j, struct job *q)
{
	put_basic_env(j, false);
	/* Java's figures are of its heap; these are of the machine and the
	 * process: free and total memory of the machine, resident size */
	struct sysinfo si;
	char v[64];
	if (sysinfo(&si) == 0) {
		snprintf(v, sizeof(v), "%lluMB",
			 (unsigned long long)si.freeram * si.mem_unit / (1024 * 1024));
		j_str(j, "os.memory.free", v);
		snprintf(v, sizeof(v), "%lluMB",
			 (unsigned long long)si.totalram * si.mem_unit / (1024 * 1024));
		j_str(j, "os.memory.max", v);
	}
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long vsz, rss;
	if (f && fscanf(f, "%llu %llu", &vsz, &rss) == 2) {
		snprintf(v, sizeof(v), "%lluMB",
			 rss * (unsigned long long)sysconf(_SC_PAGESIZE) / (1024 * 1024));
		j_str(j, "os.memory.total", v);
	}
	if (f)
		fclose(f);
}

static void cmd_get_trace_mask(struct admin *a, struct json *j, struct job *q)
{
	j_int(j, "tracemask", a->trace_mask);
}

static void cmd_hash(struct admin *a, struct json *j, struct job *q)
{
	/* zkfs keeps no tree digest history (ZooKeeper's digest.enabled) */
	j_open(j, "digests", '[');
	j_close(j, ']');
}

static void cmd_initial_configuration(struct admin *a, struct json *j, struct job *q)
{
	j_str(j, "initial_configuration", a->initial_config ? a->initial_config : "");
}

static void cmd_is_read_only(struct admin *a, struct json *j, struct job *q)
{
	j_bool(j, "read_only", false);
}

static void cmd_last_snapshot(struct admin *a, struct json *j, struct job *q)
{
	/* the newest "snapshot.<zxid hex>" in dataDir */
	unsigned long long best = 0;
	time_t when = 0;
	DIR *d = opendir(a->srv->cfg->data_dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, "snapshot.", 9) != 0)
			continue;
		char *end;
		errno = 0;
		unsigned long long z = strtoull(e->d_name + 9, &end, 16);
		struct stat st;
		if (errno || *end || end == e->d_name + 9 ||
		    fstatat(dirfd(d), e->d_name, &st, 0) != 0)
			continue;
		if (z >= best) {
			best = z;
			when = st.st_mtime;
		}
	}
	if (d)
		closedir(d);
	char v[32];
	snprintf(v, sizeof(v), "%llx", best);
	j_str(j, "zxid", v);
	j_int(j, "timestamp", (int64_t)when);
}

static const struct config_peer *peer_by_id(const struct config *cfg, int64_t id)
{
	for (size_t i = 0; i < cfg->n_peers; i++)
		if (cfg->peers[i].id == id)
			return &cfg->peers[i];
	return NULL;
}

static void cmd_leader(struct admin *a, struct json *j, struct job *q);
static void cmd_monitor(struct admin *a, struct json *j, struct job *q);

static void cmd_nothing(struct admin *a, struct json *j, struct job *q)
{
}

static void cmd_observers(struct admin *a, struct json *j, struct job *q)
{
	unsigned synced = 0;
	if (a->srv->zab) {
		struct zab_info zi;
		zab_get_info(a->srv->zab, &zi);
		if (zi.role == ZAB_LEADING)
			synced = zi.synced_observers;
	}
	j_int(j, "synced_observers", synced);
	/* the per-observer details (ObserverBean) are not kept by zkfs */
	j_open(j, "observers", '[');
	j_close(j, ']');
}

static void put_response_stats(struct json *j, const char *key)
{
	j_open(j, key, '{');
	j_int(j, "last_buffer_size", -1);
	j_int(j, "min_buffer_size", -1);
	j_int(j, "max_buffer_size", -1);
	j_close(j, '}');
}

static void cmd_server_stats(struct admin *a, struct json *j, struct job *q)
{
	struct server *srv = a->srv;
	struct core_stats st;
	core_get_stats(srv->core, &st);
	char v[256];
	snprintf(v, sizeof(v), "%s, built on %s %s UTC", ZKFS_VERSION, __DATE__, __TIME__);
	j_str(j, "version", v);
	j_bool(j, "read_only", false);
	j_open(j, "server_stats", '{');
	j_int(j, "packets_sent", (int64_t)srv->packets_sent);
	j_int(j, "packets_received", (int64_t)srv->packets_received);
	j_int(j, "fsync_threshold_exceed_count", 0);
	put_response_stats(j, "client_response_stats");
	j_int(j, "uptime", (int64_t)(uv_now(srv->loop) - srv->start_ms));
	j_int(j, "data_dir_size", (int64_t)metrics_dir_size(srv->cfg->data_dir));
	j_int(j, "log_dir_size", (int64_t)metrics_dir_size(srv->cfg->data_log_dir));
	j_bool(j, "provider_null", false);
	j_str(j, "server_state", server_state(srv));
	j_int(j, "last_processed_zxid", st.last_zxid);
	j_int(j, "outstanding_requests", srv->outstanding);
	j_dbl(j, "avg_latency", srv->lat_n ? (double)srv->lat_sum / (double)srv->lat_n : 0.0);
	j_int(j, "max_latency", (int64_t)srv->lat_max);
	j_int(j, "min_latency", srv->lat_n ? (int64_t)srv->lat_min : 0);
	j_int(j, "num_alive_client_connections", srv->nconns);
	j_int(j, "auth_failed_count", 0);
	j_int(j, "non_mtlsremote_conn_count", 0);
	j_int(j, "non_mtlslocal_conn_count", 0);
	j_close(j, '}');
	put_response_stats(j, "client_response");
	if (srv->zab) {
		struct zab_info zi;
		zab_get_info(srv->zab, &zi);
		if (zi.role == ZAB_LEADING)
			put_response_stats(j, "proposal_stats"); /* sizes not kept by zkfs */
	}
	j_int(j, "node_count", (int64_t)st.nodes);
}

static void cmd_stats(struct admin *a, struct json *j, struct job *q)
{
	cmd_server_stats(a, j, q);
	put_conn_lists(a->srv, j, false);
}

static void cmd_stat_reset(struct admin *a, struct json *j, struct job *q)
{
	struct server *srv = a->srv;
	srv->packets_received = srv->packets_sent = 0;
	srv->lat_min = srv->lat_max = srv->lat_sum = srv->lat_n = 0;
}

static void cmd_system_properties(struct admin *a, struct json *j, struct job *q)
{
	put_basic_env(j, true);
	/* what was given as -Dkey=value or in SERVER_JVMFLAGS, secrets masked */
	const struct config *cfg = a->srv->cfg;
	for (size_t i = 0; i < cfg->n_sysprops; i++) {
		const char *kv = cfg->sysprops[i];
		size_t kl = strcspn(kv, "=");
		char key[256];
		snprintf(key, sizeof(key), "%.*s", (int)(kl < 255 ? kl : 255), kv);
		j_str(j, key, secret_key(kv, kl) ? MASK : kv[kl] ? kv + kl + 1 : "");
	}
}

/* "host:port", IPv6 hosts in brackets, as Java's InetSocketAddress prints */
static void hostport(char *out, size_t n, const char *host, int port)
{
	bool v6 = strchr(host, ':') != NULL;
	snprintf(out, n, "%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

/* The client address of member p as ZooKeeper shows it: its own line's
 * client part, this server's listening address, or "". */
static void client_address(struct server *srv, const struct config_peer *p, char *out, size_t n)
{
	out[0] = '\0';
	if (p->client_port)
		hostport(out, n, p->client_host ? p->client_host : "0.0.0.0", p->client_port);
	else if (p->id == srv->cfg->my_id)
		hostport(out, n,
			 srv->cfg->client_port_address ? srv->cfg->client_port_address : "0.0.0.0",
			 srv->bound_port > 0 ? srv->bound_port : srv->cfg->client_port);
}

static void cmd_voting_view(struct admin *a, struct json *j, struct job *q)
{
	const struct config *cfg = a->srv->cfg;
	j_open(j, "current_config", '{');
	for (size_t i = 0; a->srv->zab && i < cfg->n_peers; i++) {
		/* QuorumServer as the admin API serializes it */
		const struct config_peer *p = &cfg->peers[i];
		if (p->observer)
			continue;
		char key[32], v[300];
		snprintf(key, sizeof(key), "%" PRId64, p->id);
		j_open(j, key, '{');
		hostport(v, sizeof(v), p->host, p->quorum_port);
		j_open(j, "server_addresses", '[');
		j_str(j, NULL, v);
		j_close(j, ']');
		hostport(v, sizeof(v), p->host, p->election_port);
		j_open(j, "election_addresses", '[');
		j_str(j, NULL, v);
		j_close(j, ']');
		client_address(a->srv, p, v, sizeof(v));
		j_str(j, "client_address", v);
		j_str(j, "learner_type", "participant");
		j_close(j, '}');
	}
	j_close(j, '}');
}

static void cmd_watch_summary(struct admin *a, struct json *j, struct job *q)
{
	uint64_t watchers, paths, watches;
	core_wchs(a->srv->core, &watchers, &paths, &watches);
	j_int(j, "num_connections", (int64_t)watchers);
	j_int(j, "num_paths", (int64_t)paths);
	j_int(j, "num_total_watches", (int64_t)watches);
}

static void cmd_watches(struct admin *a, struct json *j, struct job *q)
{
	j_open(j, "session_id_to_watched_paths", '{');
	for (struct conn *c = a->srv->conns; c; c = c->next) {
		if (c->watcher.nwatches == 0)
			continue;
		char key[32];
		snprintf(key, sizeof(key), "%" PRId64, c->session_id);
		j_open(j, key, '[');
		core_watches_of(a->srv->core, &c->watcher, path_item, j);
		j_close(j, ']');
	}
	j_close(j, '}');
}

struct wchp_walk {
	struct json *j;
	char *last; /* path of the open array, NULL = none */
};

static void wchp_item(void *arg, const char *path, struct core_watcher *w)
{
	struct wchp_walk *x = arg;
	if (!x->last || strcmp(x->last, path) != 0) {
		if (x->last)
			j_close(x->j, ']');
		free(x->last);
		x->last = strdup(path);
		if (!x->last)
			x->j->b->oom = true;
		j_open(x->j, path, '[');
	}
	const struct conn *c =
	    (const struct conn *)((const char *)w - offsetof(struct conn, watcher));
	j_int(x->j, NULL, c->session_id);
}

static void cmd_watches_by_path(struct admin *a, struct json *j, struct job *q)
{
	struct wchp_walk x = {j, NULL};
	j_open(j, "path_to_session_ids", '{');
	core_watches_by_path(a->srv->core, wchp_item, &x);
	if (x.last)
		j_close(j, ']');
	free(x.last);
	j_close(j, '}');
}

/* A MultipleAddresses bean (QuorumPeer's quorum or election address) as
 * Jackson serializes it, for one host:port. */
static void put_addresses(struct json *j, const char *key, const char *host, int port)
{
	char hp[300], wild[64];
	hostport(hp, sizeof(hp), host, port);
	snprintf(wild, sizeof(wild), "0.0.0.0:%d", port);
	j_open(j, key, '{');
	j_bool(j, "empty", false);
	static const char *const lists[] = {"all_addresses", "all_reachable_addresses"};
	for (int k = 0; k < 2; k++) {
		j_open(j, lists[k], '[');
		j_str(j, NULL, hp);
		j_close(j, ']');
	}
	j_str(j, "one", hp);
	j_str(j, "reachable_address", hp);
	j_open(j, "wildcard_addresses", '[');
	j_str(j, NULL, wild);
	j_close(j, ']');
	j_open(j, "all_ports", '[');
	j_int(j, NULL, port);
	j_close(j, ']');
	j_open(j, "all_host_strings", '[');
	j_str(j, NULL, host);
	j_close(j, ']');
	j_open(j, "all_reachable_addresses_or_all", '[');
	j_str(j, NULL, hp);
	j_close(j, ']');
	j_str(j, "reachable_or_one", hp);
	j_close(j, '}');
}

static void cmd_zabstate(struct admin *a, struct json *j, struct job *q)
{
	struct server *srv = a->srv;
	if (!srv->zab) {
		j_bool(j, "voting", false);
		j_str(j, "zabstate", "");
		return;
	}
	struct zab_info zi;
	zab_get_info(srv->zab, &zi);
	const struct config_peer *me = config_self(srv->cfg);
	j_int(j, "myid", srv->cfg->my_id);
	j_bool(j, "is_leader", zi.role == ZAB_LEADING);
	if (me) {
		char v[300];
		put_addresses(j, "quorum_address", me->host, me->quorum_port);
		put_addresses(j, "election_address", me->host, me->election_port);
		client_address(srv, me, v, sizeof(v));
		j_str(j, "client_address", v);
	}
	j_bool(j, "voting", !srv->cfg->peer_observer);
	char z[32];
	snprintf(z, sizeof(z), "0x%" PRIx64, (uint64_t)zi.last_logged);
	j_str(j, "last_zxid", z);
	j_int(j, "zab_epoch", (int64_t)((uint64_t)zi.last_logged >> 32));
	j_int(j, "zab_counter", (int64_t)((uint64_t)zi.last_logged & 0xffffffffu));
	/* QuorumPeer.ZabState, lower case as Apache's admin API shows it */
	j_str(j, "zabstate",
	      zi.role == ZAB_LOOKING ? "election"
	      : zi.serving	     ? "broadcast"
				     : "synchronization");
}

static void cmd_set_trace_mask(struct admin *a, struct json *j, struct job *q);

/* Apache ZooKeeper 3.8.0's commands, in its order, with its aliases. */
static const struct command commands[] = {
    {"configuration", {"conf", "config"}, true, cmd_configuration},
    {"connection_stat_reset", {"crst"}, true, cmd_connection_stat_reset},
    {"connections", {"cons"}, true, cmd_connections},
    {"dirs", {"dirs"}, false, cmd_dirs},
    {"dump", {"dump"}, true, cmd_dump},
    {"environment", {"env", "envi"}, false, cmd_environment},
    {"get_trace_mask", {"gtmk"}, false, cmd_get_trace_mask},
    {"hash", {"hash"}, true, cmd_hash},
    {"initial_configuration", {"icfg"}, false, cmd_initial_configuration},
    {"is_read_only", {"isro"}, true, cmd_is_read_only},
    {"last_snapshot", {"lsnp"}, true, cmd_last_snapshot},
    {"leader", {"lead"}, false, cmd_leader},
    {"monitor", {"mntr"}, false, cmd_monitor},
    {"observer_connection_stat_reset", {"orst"}, true, cmd_nothing},
    {"observers", {"obsr"}, true, cmd_observers},
    {"ruok", {"ruok"}, true, cmd_nothing},
    {"server_stats", {"srvr"}, true, cmd_server_stats},
    {"set_trace_mask", {"stmk"}, false, cmd_set_trace_mask},
    {"stat_reset", {"srst"}, true, cmd_stat_reset},
    {"stats", {"stat"}, true, cmd_stats},
    {"system_properties", {"sysp"}, false, cmd_system_properties},
    {"voting_view", {"voting_view"}, false, cmd_voting_view},
    {"watch_summary", {"wchs"}, true, cmd_watch_summary},
    {"watches", {"wchc"}, true, cmd_watches},
    {"watches_by_path", {"wchp"}, true, cmd_watches_by_path},
    {"zabstate", {"zabstate"}, false, cmd_zabstate},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (!strcmp(commands[i].name, name))
			return &commands[i];
		for (int k = 0; k < 3 && commands[i].alias[k]; k++)
			if (!strcmp(commands[i].alias[k], name))
				return &commands[i];
	}
	return NULL;
}

static void cmd_leader(struct admin *a, struct json *j, struct job *q)
{
	struct server *srv = a->srv;
	if (!srv->zab) {
		q->error = "server is not initialized";
		return;
	}
	struct zab_info zi;
	zab_get_info(srv->zab, &zi);
	j_bool(j, "is_leader", zi.role == ZAB_LEADING);
	j_int(j, "leader_id", zi.leader);
	const struct config_peer *p = zi.leader >= 0 ? peer_by_id(srv->cfg, zi.leader) : NULL;
	j_str(j, "leader_ip", p ? p->host : "");
}

static void cmd_set_trace_mask(struct admin *a, struct json *j, struct job *q)
{
	char *end;
	errno = 0;
	long long v = q->trace_mask ? strtoll(q->trace_mask, &end, 10) : 0;
	if (!q->trace_mask || errno || !*q->trace_mask || *end) {
		q->error = "setTraceMask requires long traceMask argument";
		return;
	}
	a->trace_mask = v;
	j_int(j, "tracemask", v);
}

static void cmd_monitor(struct admin *a, struct json *j, struct job *q)
{
	struct metrics_snapshot s;
	if (metrics_collect(a->srv, &s) != 0)
		j->b->oom = true;
	j_str(j, "version", s.version);
	j_str(j, "server_state", s.server_state);
	if (a->srv->zab) {
		/* QuorumPeer.getDetailedPeerState, as in mntr */
		struct zab_info zi;
		zab_get_info(a->srv->zab, &zi);
		char ps[64];
		snprintf(ps, sizeof(ps), "%s - %s",
			 zi.role == ZAB_LEADING	    ? "leading"
			 : zi.role == ZAB_FOLLOWING ? "following"
			 : zi.role == ZAB_OBSERVING ? "observing"
						    : "looking",
			 zi.serving		  ? "broadcast"
			 : zi.role == ZAB_LOOKING ? "election"
						  : "synchronization");
		j_str(j, "peer_state", ps);
	}
	char key[128];
	for (size_t i = 0; i < s.n; i++) {
		const struct metric *m = &s.m[i];
		switch (m->type) {
		case MT_COUNTER:
		case MT_GAUGE:
			if (m->is_float)
				j_dbl(j, m->name, m->value);
			else
				j_int(j, m->name, (int64_t)m->value);
			break;
		case MT_SUMMARY:
		case MT_SUMMARY_Q: {
			/* AvgMinMaxCounter / AvgMinMaxPercentileCounter.values() */
			static const char *const pre[] = {"avg", "min", "max", "cnt", "sum"};
			double v[5] = {m->cnt ? m->sum / (double)m->cnt : 0.0, m->min, m->max,
				       (double)m->cnt, m->sum};
			for (int k = 0; k < 5; k++) {
				snprintf(key, sizeof(key), "%s_%s", pre[k], m->name);
				if (k == 0)
					j_dbl(j, key, v[k]);
				else
					j_int(j, key, (int64_t)v[k]);
			}
			if (m->type == MT_SUMMARY_Q) {
				static const char *const qs[] = {"p50", "p95", "p99", "p999"};
				for (int k = 0; k < 4; k++) {
					snprintf(key, sizeof(key), "%s_%s", qs[k], m->name);
					j_int(j, key, 0);
				}
			}
			break;
		}
		}
	}
	metrics_snapshot_free(&s);
}

/* Runs job q's command on the loop thread: q->body = the JSON answer. */
static void run_command(struct admin *a, struct job *q)
{
	struct tbuf b = {0};
	struct json j = {.b = &b, .depth = -1};
	j_open(&j, NULL, '{');
	struct server *srv = a->srv;
	if (q->cmd->needs_serving && srv->zab && !srv->ens_serving)
		q->error = "This ZooKeeper instance is not currently serving requests";
	else
		q->cmd->run(a, &j, q);
	if (q->error) {
		/* ZooKeeper's CommandResponse keeps nothing else once it has an
		 * error, and puts the error first */
		tbuf_free(&b);
		j = (struct json){.b = &b, .depth = -1};
		j_open(&j, NULL, '{');
		j_str(&j, "error", q->error);
		j_str(&j, "command", q->cmd->name);
	} else {
		j_str(&j, "command", q->cmd->name);
		j_null(&j, "error");
	}
	j_close(&j, '}');
	tbuf_put(&b, "\n", 1);
	q->body = tbuf_take(&b, &q->len);
}

/* ---------------------------------------------------------------- loop thread side */

static void on_async(uv_async_t *h)
{
	struct admin *a = h->data;
	pthread_mutex_lock(&a->mu);
	struct job *list = a->queue;
	a->queue = a->qtail = NULL;
	for (struct job *q = list; q; q = q->next)
		q->state = JOB_RUNNING;
	pthread_mutex_unlock(&a->mu);

	while (list) {
		struct job *q = list;
		list = q->next; /* q is not ours once DONE */
		if (q->cmd)
			run_command(a, q);
		else
			q->snap_rc = metrics_collect(a->srv, &q->snap);
		pthread_mutex_lock(&a->mu);
		q->state = JOB_DONE;
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->mu);
	}
}

/* ---------------------------------------------------------------- MHD thread side */

/* Hands q to the loop thread and waits for it.  Returns 0 (q DONE) or
 * -EAGAIN (stopping, or the loop did not take it in time: q is out of the
 * queue again). */
static int run_on_loop(struct admin *a, struct job *q)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += JOB_WAIT_MS / 1000;
	pthread_mutex_lock(&a->mu);
	if (a->stopping) {
		pthread_mutex_unlock(&a->mu);
		return -EAGAIN;
	}
	q->state = JOB_QUEUED;
	q->next = NULL;
	if (a->qtail)
		a->qtail->next = q;
	else
		a->queue = q;
	a->qtail = q;
	uv_async_send(&a->async); /* under mu: admin_stop closes it only after stopping */
	int rc = 0;
	bool timed_out = false;
	while (q->state != JOB_DONE) {
		if ((a->stopping || timed_out) && q->state == JOB_QUEUED) {
			/* take it back out; the loop thread has not seen it */
			struct job **pp = &a->queue, *prev = NULL;
			while (*pp != q) {
				prev = *pp;
				pp = &(*pp)->next;
			}
			*pp = q->next;
			if (a->qtail == q)
				a->qtail = prev;
			rc = -EAGAIN;
			break;
		}
		if (q->state == JOB_RUNNING || a->stopping)
			pthread_cond_wait(&a->cv, &a->mu); /* the loop thread is at it: it ends */
		else
			timed_out = pthread_cond_timedwait(&a->cv, &a->mu, &deadline) == ETIMEDOUT;
	}
	pthread_mutex_unlock(&a->mu);
	return rc;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
			     char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result ok = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	char *s = strdup(msg);
	return s ? reply(conn, status, "text/plain; charset=utf-8", s, strlen(s)) : MHD_NO;
}

static void peer_name(struct MHD_Connection *conn, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(out, n, "?");
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	char ip[INET6_ADDRSTRLEN] = "?";
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
	snprintf(out, n, "%s", ip);
}

/* Common to both daemons: only GET and HEAD, answered on the first call
 * (no request body is ever read). */
static bool method_ok(const char *method)
{
	return !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
}

static enum MHD_Result refuse_method(struct MHD_Connection *conn, const char *method,
				     const char *what)
{
	char who[64];
	peer_name(conn, who, sizeof(who));
	slog_info(what, "%s: method %.16s refused (GET only)", who, method);
	return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "Method not allowed: use GET\n");
}

static char *command_list_html(void)
{
	struct tbuf b = {0};
	for (size_t i = 0; i < NCOMMANDS; i++)
		tbuf_printf(&b, "<a href=\"/commands/%s\">%s</a>\n<br/>\n", commands[i].name,
			    commands[i].name);
	return tbuf_take(&b, NULL);
}

static enum MHD_Result on_admin_request(void *cls, struct MHD_Connection *conn, const char *url,
					const char *method, const char *version,
					const char *upload_data, size_t *upload_data_size,
					void **con_cls)
{
	struct admin *a = cls;
	if (!method_ok(method))
		return refuse_method(conn, method, "admin");
	size_t ul = strlen(a->command_url);
	if (strncmp(url, a->command_url, ul) != 0 || (url[ul] && url[ul] != '/')) {
		char who[64];
		peer_name(conn, who, sizeof(who));
		slog_info("admin", "%s: no such page %.80s", who, url);
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "Not found\n");
	}
	const char *name = url + ul;
	while (*name == '/')
		name++;
	if (!*name) {
		char *html = command_list_html();
		if (!html)
			return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "Out of memory\n");
		return reply(conn, MHD_HTTP_OK, "text/html; charset=utf-8", html, strlen(html));
	}
	struct job q;
	memset(&q, 0, sizeof(q));
	q.cmd = find_command(name);
	if (!q.cmd) {
		/* as ZooKeeper: 200 and an error in the JSON */
		char who[64];
		peer_name(conn, who, sizeof(who));
		slog_info("admin", "%s: unknown command '%.64s'", who, name);
		struct tbuf b = {0};
		struct json j = {.b = &b, .depth = -1};
		j_open(&j, NULL, '{');
		j_str(&j, "command", name);
		char msg[128];
		snprintf(msg, sizeof(msg), "Unknown command: %.64s", name);
		j_str(&j, "error", msg);
		j_close(&j, '}');
		tbuf_put(&b, "\n", 1);
		size_t len;
		char *body = tbuf_take(&b, &len);
		if (!body)
			return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "Out of memory\n");
		return reply(conn, MHD_HTTP_OK, "application/json", body, len);
	}
	q.trace_mask = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "traceMask");
	if (run_on_loop(a, &q) != 0)
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				  "The server is busy or shutting down\n");
	if (!q.body)
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "Out of memory\n");
	return reply(conn, MHD_HTTP_OK, "application/json", q.body, q.len);
}

static enum MHD_Result on_metrics_request(void *cls, struct MHD_Connection *conn, const char *url,
					  const char *method, const char *version,
					  const char *upload_data, size_t *upload_data_size,
					  void **con_cls)
{
	struct admin *a = cls;
	if (!method_ok(method))
		return refuse_method(conn, method, "metrics");
	/* Prometheus' simpleclient HTTPServer answers on / and /metrics */
	if (strcmp(url, "/metrics") != 0 && strcmp(url, "/") != 0) {
		char who[64];
		peer_name(conn, who, sizeof(who));
		slog_info("metrics", "%s: no such page %.80s", who, url);
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "Not found: metrics are at /metrics\n");
	}
	struct job q;
	memset(&q, 0, sizeof(q));
	if (run_on_loop(a, &q) != 0)
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				  "The server is busy or shutting down\n");
	/* formatting needs only the snapshot: done here, off the loop */
	struct tbuf b = {0};
	if (q.snap_rc == 0)
		metrics_format_prometheus(&q.snap, &b);
	else
		b.oom = true;
	metrics_snapshot_free(&q.snap);
	size_t len;
	char *body = tbuf_take(&b, &len);
	if (!body)
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "Out of memory\n");
	return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
}

/* MHD's own messages (bad requests, full connection table, ...) go to the
 * log, at most 10 a second so a flood of garbage cannot flood the log. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct admin *a = cls;
	char msg[400];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	time_t now = time(NULL);
	unsigned dropped = 0;
	bool print;
	pthread_mutex_lock(&a->log_mu);
	if (now != a->log_second) {
		dropped = a->log_dropped;
		a->log_second = now;
		a->log_count = a->log_dropped = 0;
	}
	print = a->log_count++ < 10;
	if (!print)
		a->log_dropped++;
	pthread_mutex_unlock(&a->log_mu);
	if (dropped)
		slog_warn("http", "%u more messages of the HTTP server not shown", dropped);
	if (print)
		slog_warn("http", "%s", msg);
}

/* ---------------------------------------------------------------- start / stop */

/* key_pem/cert_pem: HTTPS with them (libmicrohttpd's TLS), NULL: HTTP. */
static struct MHD_Daemon *start_daemon(struct admin *a, const char *what, const char *host,
				       int port, int idle_ms, MHD_AccessHandlerCallback cb,
				       const char *path, const char *key_pem, const char *cert_pem)
{
	struct addrinfo hints, *ai = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	char ports[16];
	snprintf(ports, sizeof(ports), "%d", port);
	int gai = getaddrinfo(host, ports, &hints, &ai);
	if (gai != 0 || !ai) {
		slog_warn(what, "cannot listen on %s:%d: %s; continuing without it", host, port,
			  gai_strerror(gai));
		return NULL;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_EPOLL;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (key_pem)
		flags |= MHD_USE_TLS;
	unsigned timeout_s = idle_ms > 0 ? (unsigned)((idle_ms + 999) / 1000) : 30;
	struct MHD_OptionItem tls_opts[] = {
	    {key_pem ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, (void *)(uintptr_t)key_pem},
	    {MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)(uintptr_t)cert_pem},
	    {MHD_OPTION_END, 0, NULL},
	};
	struct MHD_Daemon *d = MHD_start_daemon(
	    flags, (uint16_t)port, NULL, NULL, cb, a, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, a,
	    MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)MAX_PER_IP,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY, MHD_OPTION_ARRAY,
	    tls_opts, MHD_OPTION_END);
	int err = errno;
	freeaddrinfo(ai);
	if (!d) {
		/* ZooKeeper: "Problem starting AdminServer", and it goes on */
		slog_warn(what, "cannot listen on %s:%d: %s; continuing without it", host, port,
			  err ? strerror(err) : "libmicrohttpd failed to start");
		return NULL;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	int bound = di && di->port ? di->port : port;
	bool v6 = strchr(host, ':') != NULL;
	slog_info(what, "listening on %s://%s%s%s:%d%s", key_pem ? "https" : "http", v6 ? "[" : "",
		  host, v6 ? "]" : "", bound, path);
	return d;
}

/* The admin server, over HTTPS when admin.forceHttps (a key store that does
 * not load is a warning and no admin server, as ZooKeeper goes on without). */
static struct MHD_Daemon *start_admin(struct admin *a, const struct config *cfg)
{
	const char *host = cfg->admin_address ? cfg->admin_address : "0.0.0.0";
	char *key = NULL, *cert = NULL;
	if (cfg->admin_force_https) {
		char err[512];
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
			slog_warn("admin", "admin.forceHttps: this libmicrohttpd has no TLS; "
					   "continuing without the admin server");
			return NULL;
		}
		if (tls_admin_pem(cfg, &key, &cert, err, sizeof(err)) < 0) {
			slog_warn("admin", "admin.forceHttps: %s; continuing without the admin server",
				  err);
			return NULL;
		}
	}
	struct MHD_Daemon *d = start_daemon(a, "admin", host, cfg->admin_port,
					    cfg->admin_idle_timeout_ms, on_admin_request,
					    a->command_url, key, cert);
	if (key) {
		/* libmicrohttpd loaded them into GnuTLS when it started */
		memset(key, 0, strlen(key));
		free(key);
	}
	free(cert);
	return d;
}

int admin_start(struct server *srv, struct admin **out)
{
	*out = NULL;
	const struct config *cfg = srv->cfg;
	bool want_metrics = cfg->metrics_class && !strcmp(cfg->metrics_class, PROMETHEUS_CLASS);
	if (cfg->metrics_class && !want_metrics &&
	    strcmp(cfg->metrics_class,
		   "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider") &&
	    strcmp(cfg->metrics_class, "org.apache.zookeeper.metrics.impl.NullMetricsProvider"))
		slog_warn("metrics",
			  "metricsProvider.className %s is not available in zkfs (only ZooKeeper's "
			  "PrometheusMetricsProvider is); metrics stay in mntr and the admin API",
			  cfg->metrics_class);
	if (!cfg->admin_enable && !want_metrics)
		return 0;
	struct admin *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->srv = srv;
	a->trace_mask = DEFAULT_TRACE_MASK;
	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_init(&a->log_mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	const char *url = cfg->admin_command_url ? cfg->admin_command_url : "/commands";
	size_t ul = strlen(url);
	while (ul > 1 && url[ul - 1] == '/')
		ul--;
	a->command_url = strndup(url, ul);
	a->initial_config = read_config_masked(cfg->config_path);
	if (!a->command_url || !a->initial_config ||
	    uv_async_init(srv->loop, &a->async, on_async)) {
		free(a->command_url);
		free(a->initial_config);
		free(a);
		return -ENOMEM;
	}
	a->async.data = a;
	a->async_inited = true;
	/* the admin server must not keep the loop alive at shutdown */
	uv_unref((uv_handle_t *)&a->async);

	if (cfg->admin_enable)
		a->http = start_admin(a, cfg);
	if (want_metrics)
		a->metrics =
		    start_daemon(a, "metrics", cfg->metrics_host ? cfg->metrics_host : "0.0.0.0",
				 cfg->metrics_port, 30000, on_metrics_request, "/metrics", NULL, NULL);
	*out = a;
	return 0;
}

static void on_closed(uv_handle_t *h)
{
	struct admin *a = h->data;
	a->closed = true;
}

void admin_stop(struct admin *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->stopping = true;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	/* joins the HTTP threads: every handler has returned after this */
	if (a->http)
		MHD_stop_daemon(a->http);
	if (a->metrics)
		MHD_stop_daemon(a->metrics);
	if (a->async_inited) {
		uv_close((uv_handle_t *)&a->async, on_closed);
		for (int i = 0; i < 10 && !a->closed; i++)
			uv_run(a->srv->loop, UV_RUN_NOWAIT);
	}
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	pthread_mutex_destroy(&a->log_mu);
	free(a->command_url);
	free(a->initial_config);
	free(a);
}
