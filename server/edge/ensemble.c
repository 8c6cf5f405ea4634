/*
 * ensemble.c — an ensemble member's edge: wires the pure replication
 * protocol (zab/zab.h) to this process — the peer network (peer.h), the
 * transaction log's group commit (commit.h), the epoch files (epoch.h),
 * snapshots — and to the clients of server.c.
 *
 *   peer_net ──recv/channel_down──► zab ──ops──► peer_net_send, commit_submit,
 *                                                 epoch_write, snapshot install,
 *   clients ──ens_write/ens_sync/…─► zab          applied → srv_answer_write
 *
 * zab works on wall-clock milliseconds (txn times are ZooKeeper's mtime);
 * one libuv timer is re-armed after every call into zab to the time it
 * asks for (zab_next_timer_ms).
 *
 * Log completions arrive from the group commit one per txn; they are
 * coalesced and handed to zab once per loop iteration (ens_on_check), so a
 * batch of a thousand txns costs zab one pass.
 *
 * TRUNC (a leader says our log holds txns it never committed) is carried
 * out across a re-exec of the process: a marker file names the zxid, the
 * process replaces itself, and ens_pre_recover cuts the log before
 * recovery reads it.  Clients are not being served while a member syncs,
 * so nothing is lost but a few hundred milliseconds.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "epoch.h"
#include "peer.h"
#include "server_int.h"
#include "slog.h"
#include "snap.h"
#include "snapper.h"
#include "zab.h"

#define TRUNC_MARKER "zkfs.truncate"

static char **saved_argv;

void server_set_argv(char **argv)
{
	saved_argv = argv;
}

static void kick(struct server *srv);

/* ------------------------------------------------------------------ zab ops */

/* After shutdown closed the peer network, zab (being freed) may still
 * say goodbye: there is nobody to tell. */
static void op_send(void *arg, int64_t to, const struct zmsg *m)
{
	struct server *srv = arg;
	/* how a learner is brought up to date, as Apache's leader logs it */
	if (m->type == ZM_SNAP || m->type == ZM_DIFF || m->type == ZM_TRUNC)
		slog_info("quorum", "sending %s to server %" PRId64 " (zxid 0x%" PRIx64 ")",
			  m->type == ZM_SNAP ? "SNAP" : m->type == ZM_DIFF ? "DIFF" : "TRUNC", to,
			  (uint64_t)m->zxid);
	if (srv->peers)
		peer_net_send(srv->peers, to, m);
}

static void op_channel_close(void *arg, int64_t to)
{
	struct server *srv = arg;
	if (srv->peers)
		peer_net_close_channel(srv->peers, to);
}

static void on_logged(void *arg, int status)
{
	struct server *srv = arg;
	int64_t zxid = srv->ens_logq[srv->ens_logq_head];
	srv->ens_logq_head = (srv->ens_logq_head + 1) % srv->ens_logq_cap;
	srv->ens_logq_len--;
	if (status < 0) {
		srv_storage_failure(srv, status);
		if (srv->zab) {
			zab_log_failed(srv->zab, server_now_ms(), status);
			kick(srv);
		}
		return;
	}
	if (zxid > srv->ens_logged_upto)
		srv->ens_logged_upto = zxid;
	srv->ens_logged_pending = true;
}

static void op_log_append(void *arg, const struct core_txn *t)
{
	struct server *srv = arg;
	if (srv->ens_logq_len == srv->ens_logq_cap) {
		size_t cap = srv->ens_logq_cap ? srv->ens_logq_cap * 2 : 1024;
		int64_t *q = malloc(cap * sizeof(*q));
		if (!q)
			abort();
		for (size_t i = 0; i < srv->ens_logq_len; i++)
			q[i] = srv->ens_logq[(srv->ens_logq_head + i) % srv->ens_logq_cap];
		free(srv->ens_logq);
		srv->ens_logq = q;
		srv->ens_logq_cap = cap;
		srv->ens_logq_head = 0;
	}
	jute_out_reset(&srv->scratch);
	core_txn_encode(t, &srv->scratch);
	int rc = srv->scratch.err;
	if (rc == 0)
		rc = commit_submit(srv->commit, (uint64_t)core_txn_zxid(t), srv->scratch.buf,
				   srv->scratch.len, on_logged, srv);
	if (rc < 0) {
		srv_storage_failure(srv, rc);
		/* zab hears of it from the next tick (not from inside its call) */
		srv->ens_log_failed = rc;
		return;
	}
	srv->ens_last_proposal_size = srv->scratch.len;
	srv->ens_logq[(srv->ens_logq_head + srv->ens_logq_len) % srv->ens_logq_cap] =
		core_txn_zxid(t);
	srv->ens_logq_len++;
}

static int op_write_epoch(void *arg, bool accepted, int64_t epoch)
{
	struct server *srv = arg;
	char dir[4096];
	epoch_dir(srv->cfg->data_dir, dir, sizeof(dir));
	int rc = epoch_write(dir, accepted ? "acceptedEpoch" : "currentEpoch", (uint64_t)epoch);
	if (rc < 0)
		slog_error("quorum", "cannot write %s %" PRId64 " in %s: %s",
			   accepted ? "acceptedEpoch" : "currentEpoch", epoch, dir, strerror(-rc));
	return rc;
}

static int snap_emit(void *arg, const void *rec, size_t len)
{
	return snap_writer_append(arg, rec, len);
}

/* The core every connection and the snapper point at changes. */
static void swap_core(struct server *srv, struct core *nc)
{
	for (struct conn *c = srv->conns; c;) {
		struct conn *next = c->next;
		core_watcher_init(&c->watcher); /* its watches die with the old tree */
		if (c->state < CONN_CLOSING && c->session_id)
			net_close_now(c, "the server took a new tree from the leader");
		c = next;
	}
	if (srv->snapper) {
		/* the snapshot's walker lives in the old core until its done
		 * callback (server.c frees the retired core then) */
		snapper_cancel(srv->snapper);
		core_free(srv->retired_core);
		srv->retired_core = srv->core;
	} else {
		core_free(srv->core);
	}
	srv->core = nc;
}

static int op_install_snapshot(void *arg, struct core *nc, int64_t zxid)
{
	struct server *srv = arg;
	struct snap_writer *w = NULL;
	uint64_t t0 = uv_hrtime();
	int rc = snap_writer_open(&w, srv->cfg->data_dir, (uint64_t)zxid);
	if (rc == 0)
		rc = core_snapshot_write(nc, snap_emit, w);
	if (rc == 0)
		rc = snap_writer_commit(w);
	else
		snap_writer_abort(w);
	if (rc < 0) {
		slog_error("quorum", "cannot write the leader's snapshot 0x%" PRIx64 ": %s", zxid,
			   strerror(-rc));
		return rc;
	}
	/* later txns start a new log file, named after their first zxid */
	commit_roll(srv->commit);
	swap_core(srv, nc);
	/* older log entries may be history the leader replaced */
	srv->ens_window_base = zxid;
	slog_info("quorum", "installed the leader's snapshot 0x%" PRIx64 " (%" PRIu64 " ms)", zxid,
		  (uv_hrtime() - t0) / 1000000);
	return 0;
}

static int op_truncate(void *arg, int64_t zxid, struct core **nc)
{
	struct server *srv = arg;
	char path[4096], tmp[4200];
	snprintf(path, sizeof(path), "%s/" TRUNC_MARKER, srv->cfg->data_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		slog_error("quorum", "cannot write %s: %s", tmp, strerror(errno));
		return -errno;
	}
	fprintf(f, "%" PRIx64 "\n", (uint64_t)zxid);
	int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) < 0) {
		slog_error("quorum", "cannot write %s", path);
		return -EIO;
	}
	slog_warn("quorum",
		  "the leader asks to drop logged txns after 0x%" PRIx64
		  " (never committed): restarting to cut the log",
		  zxid);
	if (!saved_argv) {
		*nc = NULL;
		return -ENOTSUP;
	}
	/* the log is drained (a learner syncs only after that) */
	execv("/proc/self/exe", saved_argv);
	slog_error("quorum", "cannot re-execute: %s", strerror(errno));
	*nc = NULL;
	return -errno;
}

int ens_pre_recover(struct server *srv)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/" TRUNC_MARKER, srv->cfg->data_dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	uint64_t zxid = 0;
	int n = fscanf(f, "%" SCNx64, &zxid);
	fclose(f);
	if (n != 1) {
		slog_error("quorum", "%s is damaged; remove it and restart", path);
		return -EBADMSG;
	}
	int rc = zlog_truncate(srv->cfg->data_log_dir, srv->cfg->data_dir, zxid);
	if (rc == -ERANGE) {
		/* a snapshot holds txns after the cut: drop those snapshots (the
		 * leader resends everything) */
		uint64_t *z = NULL;
		size_t nz = 0;
		if (snap_list(srv->cfg->data_dir, &z, &nz) == 0) {
			for (size_t i = 0; i < nz; i++) {
				if (z[i] > zxid) {
					char sp[4200];
					snprintf(sp, sizeof(sp), "%s/snapshot.%" PRIx64,
						 srv->cfg->data_dir, z[i]);
					unlink(sp);
				}
			}
			free(z);
		}
		rc = zlog_truncate(srv->cfg->data_log_dir, srv->cfg->data_dir, zxid);
	}
	if (rc < 0) {
		slog_error("quorum", "cannot cut the log after 0x%" PRIx64 ": %s", zxid,
			   strerror(-rc));
		return rc;
	}
	unlink(path);
	slog_info("quorum", "log cut after 0x%" PRIx64 " as the leader asked", zxid);
	return 0;
}

static void op_applied(void *arg, const struct core_txn *t, void *cookie,
		       struct zk_response *resp)
{
	struct server *srv = arg;
	uint64_t mism = core_digest_mismatches(srv->core);
	if (mism > srv->ens_digest_mismatches) {
		/* counted as ZooKeeper counts it; logged at most once a second
		 * here: a diverging tree would repeat it for every txn */
		uint64_t now = uv_now(srv->loop);
		if (now - srv->ens_digest_log_ms >= 1000 || !srv->ens_digest_log_ms) {
			struct core_stats st;
			core_get_stats(srv->core, &st);
			slog_error("quorum",
				   "the tree digest after txn 0x%" PRIx64 " differs from the leader's "
				   "(%" PRIu64 " mismatches so far, the first at 0x%" PRIx64
				   "): this member's data may differ from the leader's",
				   core_txn_zxid(t), mism, st.digest_mismatch_zxid);
			srv->ens_digest_log_ms = now;
		}
	}
	srv->ens_digest_mismatches = mism; /* a new tree (SNAP) counts anew */
	if (core_txn_type(t) == ZOP_CLOSESESSION) {
		/* expired or closed elsewhere: a connection here holding the
		 * session learns it is gone */
		int64_t sid = core_txn_session(t);
		struct req *q = cookie;
		for (struct conn *c = srv->conns; c;) {
			struct conn *next = c->next;
			if (c->session_id == sid && c->state <= CONN_OPEN && (!q || q->conn != c))
				net_close_after_flush(c, "session closed or expired");
			c = next;
		}
	}
	if (cookie) {
		srv_outstanding_dec(srv);
		srv_answer_write(srv, cookie, resp);
	} else {
		srv->txns_since_snap++;
		srv_maybe_snapshot(srv);
	}
}

static void op_synced(void *arg, void *cookie)
{
	struct req *q = cookie;
	struct conn *c = q->conn;
	struct server *srv = arg;
	if (c && c->state < CONN_CLOSED) {
		srv_queue_remove(c, q);
		if (srv_do_read(c, &q->r, q->start_ms) < 0)
			net_close_after_flush(c, "request refused");
		else
			srv_drain_reads(c);
	} else if (c) {
		srv_queue_remove(c, q);
	}
	srv_outstanding_dec(srv);
	srv_req_free(q);
}

static void op_revalidated(void *arg, void *cookie, bool valid)
{
	struct server *srv = arg;
	struct req *q = cookie;
	struct conn *c = q->conn;
	if (c && c->state < CONN_CLOSED) {
		srv_queue_remove(c, q);
		if (valid) {
			c->state = CONN_OPEN;
			srv_close_other_owners(c);
			uint8_t pw[16];
			core_session_password(srv->core, c->session_id, pw);
			srv_send_connect_response(c, c->timeout, c->session_id, pw);
			slog_info("server", "%s: session 0x%llx reconnected", c->peer,
				  (unsigned long long)c->session_id);
			srv->resume_pending = true;
			net_kick(srv);
		} else {
			slog_info("server", "%s: reconnect of session 0x%llx refused (expired)",
				  c->peer, (unsigned long long)c->session_id);
			srv_send_connect_response(c, 0, 0, NULL);
			net_close_after_flush(c, "session expired");
		}
	} else if (c) {
		srv_queue_remove(c, q);
	}
	srv_req_free(q);
}

static void op_dropped(void *arg, void *cookie)
{
	struct server *srv = arg;
	struct req *q = cookie;
	struct conn *c = q->conn;
	if (c) {
		srv_queue_remove(c, q);
		if (c->state < CONN_CLOSING)
			net_close_now(c, "the server left the quorum");
	}
	if (!q->is_revalidate)
		srv_outstanding_dec(srv);
	srv_req_free(q);
}

static void op_role(void *arg, enum zab_role role, bool serving, int64_t leader, int64_t epoch,
		    const char *why)
{
	struct server *srv = arg;
	bool was = srv->ens_serving;
	srv->ens_serving = serving;
	srv->ens_role = role;
	if (role == ZAB_LOOKING) {
		slog_info("quorum", "LOOKING: %s", why);
		srv->ens_looking_since = uv_now(srv->loop);
	} else if (serving) {
		struct zab_info zi;
		zab_get_info(srv->zab, &zi);
		slog_info("quorum",
			  "%s in epoch %" PRId64 ", leader %" PRId64 ", serving %llu ms after the "
			  "election started (election %" PRId64 " ms): %s",
			  zab_role_name(role), epoch, leader,
			  (unsigned long long)(uv_now(srv->loop) - srv->ens_looking_since),
			  zi.election_ms, why);
	} else {
		slog_info("quorum", "%s: leader %" PRId64 ": %s", zab_role_name(role), leader, why);
	}
	if (srv->peers && !srv->shutting_down)
		peer_net_lead(srv->peers, role == ZAB_LEADING);
	/* Between leaders, client connections stay open but are not read
	 * (net.c may_parse): a client without requests in flight goes on
	 * with its session once a leader serves again, without reconnecting.
	 * Requests in flight are dropped (op_dropped closes their
	 * connections: their outcome is unknown to the client), and a SNAP
	 * or TRUNC, which replaces the tree and its watches, closes all. */
	if (!was && serving) {
		srv->resume_pending = true;
		net_kick(srv);
	}
}

struct reload_ctx {
	struct server *srv;
	int64_t last;
	uint64_t n;
	int err;
};

static int reload_one(void *arg, uint64_t zxid, const void *data, size_t len)
{
	struct reload_ctx *x = arg;
	if ((int64_t)zxid > x->last)
		return 1;
	struct core_txn *t;
	int rc = core_txn_decode(data, len, &t);
	if (rc < 0) {
		x->err = rc;
		return 1;
	}
	zab_window_take(x->srv->zab, t);
	x->n++;
	return 0;
}

/* A learner at `from` is behind this leader's window: the window comes
 * back from the log, from `from` on.  Only the log after the snapshot this
 * tree grew from can serve (older entries may be history a SNAP replaced),
 * and within one epoch zxids are consecutive, so a learner more than
 * commitLogCount txns behind would not fit the window anyway: for those
 * nothing is read (reading costs time in proportion to the log file in
 * front of `from`) and the learner gets a SNAP. */
static void op_reload_window(void *arg, int64_t from)
{
	struct server *srv = arg;
	uint64_t t0 = uv_hrtime();
	int64_t last = core_last_zxid(srv->core);
	int64_t count = srv->cfg->commit_log_count > 0 ? srv->cfg->commit_log_count : 5000;
	if (from <= srv->ens_window_base ||
	    ((from >> 32) == (last >> 32) && last - from > count))
		return;
	int64_t after = from - 1;
	struct reload_ctx x = {srv, last, 0, 0};
	int rc = after < last ? zlog_iterate(srv->cfg->data_log_dir, (uint64_t)after, reload_one, &x)
			      : 0;
	if (rc < 0 || x.err < 0)
		slog_warn("quorum",
			  "cannot read the log for the DIFF window (%s): learners behind "
			  "will get a SNAP",
			  strerror(rc < 0 ? -rc : -x.err));
	slog_info("quorum", "DIFF window: %" PRIu64 " txns after 0x%" PRIx64 " read from the log in %" PRIu64
			    " ms",
		  x.n, (uint64_t)after, (uv_hrtime() - t0) / 1000000);
}

static const struct zab_ops zops = {
	.send = op_send,
	.channel_close = op_channel_close,
	.log_append = op_log_append,
	.write_epoch = op_write_epoch,
	.install_snapshot = op_install_snapshot,
	.truncate = op_truncate,
	.applied = op_applied,
	.synced = op_synced,
	.revalidated = op_revalidated,
	.dropped = op_dropped,
	.role = op_role,
	.reload_window = op_reload_window,
};

/* ------------------------------------------------------------------ timer */

static void after_zab(struct server *srv)
{
	if (srv->zab)
		srv->core = zab_core(srv->zab);
	kick(srv);
}

static void on_zab_timer(uv_timer_t *t)
{
	struct server *srv = t->data;
	if (!srv->zab)
		return;
	if (srv->ens_log_failed) {
		zab_log_failed(srv->zab, server_now_ms(), srv->ens_log_failed);
		srv->ens_log_failed = 0;
	}
	zab_tick(srv->zab, server_now_ms());
	after_zab(srv);
}

static void kick(struct server *srv)
{
	if (!srv->zab || srv->shutting_down)
		return;
	int64_t now = server_now_ms();
	int64_t next = zab_next_timer_ms(srv->zab);
	uint64_t delay = next > now ? (uint64_t)(next - now) : 0;
	if (srv->ens_log_failed)
		delay = 0;
	uv_timer_start(&srv->zab_timer, on_zab_timer, delay, 0);
}

void ens_on_check(struct server *srv)
{
	if (!srv->zab || !srv->ens_logged_pending)
		return;
	srv->ens_logged_pending = false;
	zab_logged(srv->zab, server_now_ms(), srv->ens_logged_upto);
	after_zab(srv);
}

/* ------------------------------------------------------------------ peers */

static void on_peer_msg(void *arg, int64_t from, struct zmsg *m)
{
	struct server *srv = arg;
	if (!srv->zab || srv->shutting_down) {
		if (m->snap)
			core_free(m->snap);
		m->snap = NULL;
		zmsg_free(m);
		return;
	}
	zab_recv(srv->zab, server_now_ms(), from, m);
	after_zab(srv);
}

static void on_peer_down(void *arg, int64_t from)
{
	struct server *srv = arg;
	if (!srv->zab || srv->shutting_down)
		return;
	zab_channel_down(srv->zab, server_now_ms(), from);
	after_zab(srv);
}

/* ------------------------------------------------------------------ life cycle */

int ens_init(struct server *srv)
{
	struct config *cfg = srv->cfg;
	char dir[4096];
	epoch_dir(cfg->data_dir, dir, sizeof(dir));
	struct epoch_state es;
	/* recovery may have taken a while: election timings start now */
	uv_update_time(srv->loop);
	int rc = epoch_load(dir, (uint64_t)core_last_zxid(srv->core), &es);
	if (rc < 0) {
		slog_error("quorum", "cannot load the epoch files in %s: %s", dir, strerror(-rc));
		return rc;
	}
	struct zab_member *zm = calloc(cfg->n_peers, sizeof(*zm));
	struct peer_member *pm = calloc(cfg->n_peers, sizeof(*pm));
	if (!zm || !pm) {
		free(zm);
		free(pm);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cfg->n_peers; i++) {
		zm[i].id = cfg->peers[i].id;
		zm[i].observer = cfg->peers[i].observer;
		pm[i].id = cfg->peers[i].id;
		pm[i].host = cfg->peers[i].host;
		pm[i].quorum_port = cfg->peers[i].quorum_port;
		pm[i].election_port = cfg->peers[i].election_port;
		pm[i].observer = cfg->peers[i].observer;
	}
	char *text = config_membership_text(cfg);
	struct zab_config zc = {
		.my_id = cfg->my_id,
		.members = zm,
		.n_members = cfg->n_peers,
		.tick_ms = cfg->tick_time,
		.init_limit = cfg->init_limit,
		.sync_limit = cfg->sync_limit,
		.finalize_ms = cfg->election_finalize_ms,
		.notify_min_ms = cfg->election_min_notify_ms,
		.notify_max_ms = cfg->election_max_notify_ms,
		.connect_retry_ms = 10,
		.commit_log_count = cfg->commit_log_count > 0 ? (uint32_t)cfg->commit_log_count : 5000,
		.config_version = (int64_t)cfg->config_version,
		.config_text = text,
		.now_ms = server_now_ms(),
	};
	struct zab_ops ops = zops;
	ops.arg = srv;
	srv->zab = zab_new(&zc, &ops, srv->core, (int64_t)es.accepted, (int64_t)es.current);
	if (!srv->zab) {
		slog_error("quorum", "cannot start the replication protocol (myid %" PRId64
				     " not in the configuration?)",
			   cfg->my_id);
		rc = -EINVAL;
		goto out;
	}
	struct peer_net_opts po = {
		.my_id = cfg->my_id,
		.members = pm,
		.n_members = cfg->n_peers,
		.listen_all = cfg->quorum_listen_on_all_ips,
		.config_text = text,
		.max_buffer = srv->max_buffer,
		.snap_cfg = srv->core_cfg,
	};
	struct peer_net_cb pcb = {.arg = srv, .recv = on_peer_msg, .channel_down = on_peer_down};
	rc = peer_net_open(&srv->peers, srv->loop, &po, &pcb);
	if (rc < 0) {
		zab_free(srv->zab);
		srv->zab = NULL;
		goto out;
	}
	/* the txns recovery replayed seed the leader's DIFF window */
	for (size_t i = 0; i < srv->recent_len; i++) {
		struct core_txn *t = srv->recent[(srv->recent_start + i) % srv->recent_cap];
		zab_recovered_txn(srv->zab, t);
		core_txn_free(t);
	}
	free(srv->recent);
	srv->recent = NULL;
	srv->recent_len = srv->recent_cap = srv->recent_start = 0;
	uv_timer_init(srv->loop, &srv->zab_timer);
	srv->zab_timer.data = srv;
	srv->ens_looking_since = uv_now(srv->loop);
	slog_info("quorum",
		  "ensemble member %" PRId64 " of %zu (%s), acceptedEpoch %" PRIu64
		  ", currentEpoch %" PRIu64 ", last zxid 0x%" PRIx64,
		  cfg->my_id, cfg->n_peers, config_self(cfg)->observer ? "observer" : "participant",
		  es.accepted, es.current, (uint64_t)core_last_zxid(srv->core));
	zab_start(srv->zab, server_now_ms());
	after_zab(srv);
out:
	free(text);
	free(zm);
	free(pm);
	return rc;
}

static void peers_closed(void *arg)
{
	struct server *srv = arg;
	srv->peers = NULL;
	if (srv->ens_close_done)
		srv->ens_close_done(srv);
}

void ens_close(struct server *srv, void (*done)(struct server *srv))
{
	srv->ens_close_done = done;
	if (srv->zab)
		uv_close((uv_handle_t *)&srv->zab_timer, NULL);
	if (srv->peers)
		peer_net_close(srv->peers, peers_closed, srv);
	else if (done)
		done(srv);
}

void ens_free(struct server *srv)
{
	if (srv->zab) {
		zab_free(srv->zab);
		srv->zab = NULL;
	}
	free(srv->ens_logq);
	srv->ens_logq = NULL;
}

/* ------------------------------------------------------------------ clients */

bool ens_serving(const struct server *srv)
{
	return srv->zab && zab_serving(srv->zab);
}

bool ens_is_leader(const struct server *srv)
{
	return ens_serving(srv) && srv->ens_role == ZAB_LEADING;
}

int ens_write(struct server *srv, struct req *q)
{
	struct conn *c = q->conn;
	int rc = zab_submit(srv->zab, server_now_ms(), c->session_id, &c->auth, &q->r, q);
	after_zab(srv);
	return rc;
}

int ens_create_session(struct server *srv, struct req *q, int32_t timeout, int64_t *sid)
{
	int rc = zab_create_session(srv->zab, server_now_ms(), timeout, q, sid);
	after_zab(srv);
	return rc;
}

int ens_revalidate(struct server *srv, struct req *q, int64_t sid, int32_t timeout)
{
	int rc = zab_revalidate(srv->zab, server_now_ms(), sid, timeout, q);
	after_zab(srv);
	return rc;
}

int ens_sync(struct server *srv, struct req *q)
{
	int rc = zab_sync(srv->zab, server_now_ms(), q);
	after_zab(srv);
	return rc;
}

void ens_touch(struct server *srv, int64_t sid, int32_t timeout)
{
	zab_touch(srv->zab, server_now_ms(), sid, timeout);
}

int ens_server_write(struct server *srv, struct zk_request *r)
{
	int rc = zab_submit(srv->zab, server_now_ms(), 0, NULL, r, NULL);
	after_zab(srv);
	return rc;
}
