/*
 * fourlw.c — the four-letter words of zkfs-server (see fourlw.h).
 *
 * Output formats follow Apache ZooKeeper 3.8 closely enough for the
 * usual monitoring scripts (srvr/stat/mntr parsers, `echo ruok | nc`),
 * with zkfs-specific extras only where ZooKeeper has none.
 */
#include "fourlw.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "metrics.h"
#include "server.h"
#include "zab.h"
#include "slog.h"

static const char *const words[] = {"ruok", "srvr", "stat", "mntr", "conf", "cons", "wchs",
				    "wchc", "wchp", "dump", "envi", "isro", "crst", "srst", "dirs"};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static int word_index(const char *p)
{
	for (unsigned i = 0; i < NWORDS; i++)
		if (memcmp(p, words[i], 4) == 0)
			return (int)i;
	return -1;
}

bool fourlw_is_command(const uint8_t *p)
{
	return word_index((const char *)p) >= 0;
}

fourlw_set fourlw_parse_whitelist(const char *s)
{
	fourlw_set set = 0;
	if (!s)
		return 0;
	const char *p = s;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *b = p;
		while (*p && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		size_t n = (size_t)(p - b);
		if (n == 0)
			continue;
		if (n == 1 && *b == '*')
			return (fourlw_set)((1u << NWORDS) - 1);
		int i = n == 4 ? word_index(b) : -1;
		if (i >= 0)
			set |= 1u << i;
		else
			slog_warn("4lw", "unknown four-letter word '%.*s' in 4lw.commands.whitelist",
				  (int)n, b);
	}
	return set;
}

bool fourlw_allowed(fourlw_set set, const char *cmd)
{
	int i = word_index(cmd);
	return i >= 0 && (set & (1u << i));
}

/* ---------------------------------------------------------------- output helpers */

static void outf(struct jute_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct jute_out *o, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		jute_put_raw(o, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big)
		return;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	jute_put_raw(o, big, (size_t)n);
	free(big);
}

static double avg(uint64_t sum, uint64_t n)
{
	return n ? (double)sum / (double)n : 0.0;
}


/* Bytes of the regular files directly in dir (snapshots, logs). */
static uint64_t dir_size(const char *dir)
{
	uint64_t sum = 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_size;
	}
	closedir(d);
	return sum;
}

static const char *op_short(int32_t op)
{
	switch (op) {
	case 0:
		return "NA";
	case ZOP_PING:
		return "PING";
	case ZOP_GETDATA:
		return "GETD";
	case ZOP_SETDATA:
		return "SETD";
	case ZOP_CREATE:
	case ZOP_CREATE2:
	case ZOP_CREATECONTAINER:
	case ZOP_CREATETTL:
		return "CREA";
	case ZOP_DELETE:
		return "DELE";
	case ZOP_EXISTS:
		return "EXIS";
	case ZOP_GETCHILDREN:
	case ZOP_GETCHILDREN2:
		return "GETC";
	case ZOP_CLOSESESSION:
		return "CLOS";
	case ZOP_MULTI:
		return "MULT";
	case ZOP_SETWATCHES:
	case ZOP_SETWATCHES2:
		return "SETW";
	case ZOP_SYNC:
		return "SYNC";
	case ZOP_CREATESESSION:
		return "SESS";
	default:
		return zk_op_name(op);
	}
}

const char *fourlw_op_short(int32_t op)
{
	return op_short(op);
}

/* ---------------------------------------------------------------- the words */

/* "standalone", or an ensemble member's role as ZooKeeper names it. */
static const char *server_mode(const struct server *srv)
{
	if (!srv->zab)
		return "standalone";
	struct zab_info zi;
	zab_get_info(srv->zab, &zi);
	return zab_role_name(zi.role);
}

static void put_srvr_stats(struct server *srv, struct jute_out *o)
{
	struct core_stats st;
	core_get_stats(srv->core, &st);
	outf(o, "Latency min/avg/max: %" PRIu64 "/%.4f/%" PRIu64 "\n", srv->lat_n ? srv->lat_min : 0,
	     avg(srv->lat_sum, srv->lat_n), srv->lat_max);
	outf(o, "Received: %" PRIu64 "\n", srv->packets_received);
	outf(o, "Sent: %" PRIu64 "\n", srv->packets_sent);
	outf(o, "Connections: %u\n", srv->nconns);
	outf(o, "Outstanding: %u\n", srv->outstanding);
	outf(o, "Zxid: 0x%" PRIx64 "\n", (uint64_t)st.last_zxid);
	outf(o, "Mode: %s\n", server_mode(srv));
	outf(o, "Node count: %" PRIu64 "\n", st.nodes);
}

static void put_version(struct jute_out *o)
{
	outf(o, "Zookeeper version: %s, built on %s %s UTC\n", ZKFS_VERSION, __DATE__, __TIME__);
}

static void put_conn_brief(struct conn *c, struct jute_out *o)
{
	outf(o, " /%s[%d](queued=%u,recved=%" PRIu64 ",sent=%" PRIu64, c->peer, c->reading ? 1 : 0,
	     c->nqueued, c->recv, c->sent);
}

static void put_cons(struct server *srv, struct jute_out *o)
{
	uint64_t now = uv_now(srv->loop);
	for (struct conn *c = srv->conns; c; c = c->next) {
		put_conn_brief(c, o);
		if (c->session_id) {
			outf(o,
			     ",sid=0x%" PRIx64 ",lop=%s,est=%" PRIu64 ",to=%d,lcxid=0x%x,lzxid=0x%" PRIx64
			     ",lresp=%" PRIu64 ",llat=%" PRIu64 ",minlat=%" PRIu64 ",avglat=%.0f"
			     ",maxlat=%" PRIu64,
			     (uint64_t)c->session_id, op_short(c->last_op),
			     (uint64_t)(server_now_ms() - (int64_t)(now - c->established_ms)),
			     c->timeout, (unsigned)c->last_cxid, (uint64_t)c->last_zxid,
			     (uint64_t)(server_now_ms() - (int64_t)(now - c->last_ms)), (uint64_t)0,
			     c->lat_n ? c->lat_min : 0, avg(c->lat_sum, c->lat_n), c->lat_max);
		}
		outf(o, ")\n");
	}
	outf(o, "\n");
}

static void put_mntr(struct server *srv, struct jute_out *o)
{
	struct core_stats st;
	core_get_stats(srv->core, &st);
	struct rlimit rl;
	uint64_t maxfd = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (uint64_t)rl.rlim_cur : 0;
	struct commit_stats cs;
	memset(&cs, 0, sizeof(cs));
	if (srv->commit)
		commit_get_stats(srv->commit, &cs);
	outf(o, "zk_version\t%s, built on %s %s UTC\n", ZKFS_VERSION, __DATE__, __TIME__);
	outf(o, "zk_server_state\t%s\n", server_mode(srv));
	outf(o, "zk_avg_latency\t%.4f\n", avg(srv->lat_sum, srv->lat_n));
	outf(o, "zk_max_latency\t%" PRIu64 "\n", srv->lat_max);
	outf(o, "zk_min_latency\t%" PRIu64 "\n", srv->lat_n ? srv->lat_min : 0);
	outf(o, "zk_packets_received\t%" PRIu64 "\n", srv->packets_received);
	outf(o, "zk_packets_sent\t%" PRIu64 "\n", srv->packets_sent);
	outf(o, "zk_num_alive_connections\t%u\n", srv->nconns);
	outf(o, "zk_outstanding_requests\t%u\n", srv->outstanding);
	outf(o, "zk_znode_count\t%" PRIu64 "\n", st.nodes);
	outf(o, "zk_watch_count\t%" PRIu64 "\n", st.watches);
	outf(o, "zk_ephemerals_count\t%" PRIu64 "\n", st.ephemerals);
	outf(o, "zk_approximate_data_size\t%" PRIu64 "\n", st.data_size);
	outf(o, "zk_open_file_descriptor_count\t%u\n", metrics_open_fds());
	outf(o, "zk_max_file_descriptor_count\t%" PRIu64 "\n", maxfd);
	outf(o, "zk_global_sessions\t%" PRIu64 "\n", st.sessions);
	outf(o, "zk_local_sessions\t0\n");
	outf(o, "zk_uptime\t%" PRIu64 "\n", uv_now(srv->loop) - srv->start_ms);
	if (srv->zab) {
		struct zab_info zi;
		zab_get_info(srv->zab, &zi);
		outf(o, "zk_peer_state\t%s - %s\n",
		     zi.role == ZAB_LEADING	? "leading"
		     : zi.role == ZAB_FOLLOWING ? "following"
		     : zi.role == ZAB_OBSERVING ? "observing"
						: "looking",
		     zi.serving ? "broadcast" : zi.role == ZAB_LOOKING ? "election" : "synchronization");
		outf(o, "zk_quorum_size\t%u\n", zi.quorum_size);
		if (zi.role == ZAB_LEADING) {
			outf(o, "zk_learners\t%u\n", zi.followers + zi.synced_observers);
			outf(o, "zk_followers\t%u\n", zi.followers);
			outf(o, "zk_synced_followers\t%u\n", zi.synced_followers);
			outf(o, "zk_synced_non_voting_followers\t0\n");
			outf(o, "zk_synced_observers\t%u\n", zi.synced_observers);
			outf(o, "zk_pending_syncs\t%u\n", zi.pending_syncs);
			outf(o, "zk_outstanding_proposals\t%u\n", zi.outstanding);
		}
		outf(o, "zk_last_proposal_size\t%" PRIu64 "\n", srv->ens_last_proposal_size);
		outf(o, "zk_election_time_ms_last\t%" PRId64 "\n", zi.election_ms);
		outf(o, "zk_elections\t%" PRId64 "\n", zi.elections);
		outf(o, "zk_current_epoch\t%" PRId64 "\n", zi.current_epoch);
		outf(o, "zk_accepted_epoch\t%" PRId64 "\n", zi.accepted_epoch);
		outf(o, "zk_leader_id\t%" PRId64 "\n", zi.leader);
		/* txns whose TxnDigest differed from our tree after them */
		outf(o, "zk_digest_mismatches_count\t%" PRIu64 "\n", st.digest_mismatches);
	} else {
		outf(o, "zk_last_proposal_size\t-1\n");
	}
	outf(o, "zk_fsync_count\t%" PRIu64 "\n", cs.fsyncs);
	outf(o, "zk_txn_count\t%" PRIu64 "\n", cs.txns);
	outf(o, "zk_commit_batches\t%" PRIu64 "\n", cs.batches);
	outf(o, "zk_commit_max_batch\t%" PRIu64 "\n", cs.max_batch);
	outf(o, "zk_commit_sync_ms_total\t%" PRIu64 "\n", cs.sync_ns_total / 1000000);
	outf(o, "zk_commit_sync_us_max\t%" PRIu64 "\n", cs.sync_ns_max / 1000);
	outf(o, "zk_commit_sync_over_5ms\t%" PRIu64 "\n", cs.slow_5ms);
	outf(o, "zk_commit_sync_over_20ms\t%" PRIu64 "\n", cs.slow_20ms);
	outf(o, "zk_throttled\t%d\n", srv->throttled ? 1 : 0);
	outf(o, "zk_snapshots_started\t%" PRIu64 "\n", srv->snap_count);
	outf(o, "zk_snapshot_ms_last\t%" PRIu64 "\n", srv->snap_ms_last);
	outf(o, "zk_snapshot_step_us_max\t%" PRIu64 "\n", srv->snap_step_us_max);
}

struct watch_walk {
	struct jute_out *o;
	const char *last;
	char *lastbuf;
};

static struct conn *conn_of_watcher(struct core_watcher *w)
{
	return (struct conn *)((char *)w - offsetof(struct conn, watcher));
}

static void wchp_cb(void *arg, const char *path, struct core_watcher *w)
{
	struct watch_walk *x = arg;
	if (!x->lastbuf || strcmp(x->lastbuf, path) != 0) {
		outf(x->o, "%s\n", path);
		free(x->lastbuf);
		x->lastbuf = strdup(path);
	}
	outf(x->o, "\t0x%" PRIx64 "\n", (uint64_t)conn_of_watcher(w)->session_id);
}

static void path_line_cb(void *arg, const char *path)
{
	outf(arg, "\t%s\n", path);
}

struct dump_ctx {
	struct server *srv;
	struct jute_out *o;
	bool ephemerals;
};

static void dump_session_cb(void *arg, int64_t sid, int32_t timeout_ms, uint32_t neph)
{
	struct dump_ctx *x = arg;
	if (!x->ephemerals) {
		outf(x->o, "\t0x%" PRIx64 "\t%dms\n", (uint64_t)sid, timeout_ms);
		return;
	}
	if (neph == 0)
		return;
	outf(x->o, "0x%" PRIx64 ":\n", (uint64_t)sid);
	core_session_ephemerals(x->srv->core, sid, path_line_cb, x->o);
}

static void count_session_cb(void *arg, int64_t sid, int32_t timeout_ms, uint32_t neph)
{
	unsigned *n = arg;
	(void)sid;
	(void)timeout_ms;
	if (neph)
		n[1]++;
	n[0]++;
}

static void put_envi(struct jute_out *o)
{
	struct utsname u;
	char host[256] = "";
	char cwd[1024] = "";
	gethostname(host, sizeof(host) - 1);
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = 0;
	outf(o, "Environment:\n");
	outf(o, "zookeeper.version=%s, built on %s %s UTC\n", ZKFS_VERSION, __DATE__, __TIME__);
	outf(o, "host.name=%s\n", host);
	if (uname(&u) == 0) {
		outf(o, "os.name=%s\n", u.sysname);
		outf(o, "os.arch=%s\n", u.machine);
		outf(o, "os.version=%s\n", u.release);
	}
	const char *user = getenv("USER");
	outf(o, "user.name=%s\n", user ? user : "");
	const char *home = getenv("HOME");
	outf(o, "user.home=%s\n", home ? home : "");
	outf(o, "user.dir=%s\n", cwd);
	outf(o, "process.id=%d\n", (int)getpid());
}

void fourlw_answer(struct server *srv, fourlw_set set, const char *cmd, struct jute_out *o)
{
	if (!fourlw_allowed(set, cmd)) {
		outf(o, "%.4s is not executed because it is not in the whitelist.\n", cmd);
		return;
	}
	if (memcmp(cmd, "ruok", 4) == 0) {
		outf(o, "imok");
		return;
	}
	if (memcmp(cmd, "isro", 4) == 0) {
		outf(o, "rw");
		return;
	}
	/* an ensemble member without a leader serves nothing, as ZooKeeper;
	 * mntr and conf still answer (mntr's zk_peer_state says why) */
	if (!srv || (srv->zab && !srv->ens_serving && memcmp(cmd, "mntr", 4) != 0 &&
		     memcmp(cmd, "conf", 4) != 0 && memcmp(cmd, "envi", 4) != 0)) {
		outf(o, "This ZooKeeper instance is not currently serving requests\n");
		return;
	}
	if (memcmp(cmd, "srvr", 4) == 0) {
		put_version(o);
		put_srvr_stats(srv, o);
	} else if (memcmp(cmd, "stat", 4) == 0) {
		put_version(o);
		outf(o, "Clients:\n");
		for (struct conn *c = srv->conns; c; c = c->next) {
			put_conn_brief(c, o);
			outf(o, ")\n");
		}
		outf(o, "\n");
		put_srvr_stats(srv, o);
	} else if (memcmp(cmd, "mntr", 4) == 0) {
		put_mntr(srv, o);
	} else if (memcmp(cmd, "conf", 4) == 0) {
		char *s = config_format(srv->cfg);
		if (s) {
			jute_put_raw(o, s, strlen(s));
			free(s);
		}
	} else if (memcmp(cmd, "cons", 4) == 0) {
		put_cons(srv, o);
	} else if (memcmp(cmd, "wchs", 4) == 0) {
		struct core_stats st;
		core_get_stats(srv->core, &st);
		outf(o, "%" PRIu64 " connections watching %" PRIu64 " paths\nTotal watches:%" PRIu64 "\n",
		     st.watchers, st.watch_paths, st.watches);
	} else if (memcmp(cmd, "wchc", 4) == 0) {
		for (struct conn *c = srv->conns; c; c = c->next) {
			if (c->watcher.nwatches == 0)
				continue;
			outf(o, "0x%" PRIx64 "\n", (uint64_t)c->session_id);
			core_watches_of(srv->core, &c->watcher, path_line_cb, o);
		}
	} else if (memcmp(cmd, "wchp", 4) == 0) {
		struct watch_walk x = {o, NULL, NULL};
		core_watches_by_path(srv->core, wchp_cb, &x);
		free(x.lastbuf);
	} else if (memcmp(cmd, "dump", 4) == 0) {
		unsigned n[2] = {0, 0};
		core_sessions_each(srv->core, count_session_cb, n);
		struct dump_ctx x = {srv, o, false};
		outf(o, "SessionTracker dump:\nSession Sets (%u)/(%u):\n", n[0] ? 1u : 0u, n[0]);
		core_sessions_each(srv->core, dump_session_cb, &x);
		outf(o, "ephemeral nodes dump:\nSessions with Ephemerals (%u):\n", n[1]);
		x.ephemerals = true;
		core_sessions_each(srv->core, dump_session_cb, &x);
		outf(o, "Connections dump:\nConnections Sets (1)/(%u)\n", srv->nconns);
		for (struct conn *c = srv->conns; c; c = c->next)
			if (c->session_id)
				outf(o, "\t0x%" PRIx64 "\n", (uint64_t)c->session_id);
	} else if (memcmp(cmd, "dirs", 4) == 0) {
		outf(o, "datadir_size: %" PRIu64 "\n", dir_size(srv->cfg->data_dir));
		outf(o, "logdir_size: %" PRIu64 "\n", dir_size(srv->cfg->data_log_dir));
	} else if (memcmp(cmd, "envi", 4) == 0) {
		put_envi(o);
	} else if (memcmp(cmd, "crst", 4) == 0) {
		for (struct conn *c = srv->conns; c; c = c->next) {
			c->recv = c->sent = 0;
			c->lat_min = c->lat_max = c->lat_sum = c->lat_n = 0;
		}
		outf(o, "Connection stats reset.\n");
	} else if (memcmp(cmd, "srst", 4) == 0) {
		srv->packets_received = srv->packets_sent = 0;
		srv->lat_min = srv->lat_max = srv->lat_sum = srv->lat_n = 0;
		outf(o, "Server stats reset.\n");
	}
}

void fourlw_run(struct server *srv, struct conn *c, const char *cmd)
{
	slog_debug("4lw", "%s: %.4s", c->peer, cmd);
	fourlw_answer(srv, srv->fourlw_allowed, cmd, &c->out);
	net_schedule_flush(c);
}
