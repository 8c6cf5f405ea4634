/*
 * server.c — the request pipeline of zkfs-server (see server.h for the
 * ordering rules) and the server's life cycle: recovery at start, timers
 * (session expiry per tick, container/TTL reaper, autopurge), fuzzy
 * snapshots taken in steps between requests (snapper.h), throttling, and
 * clean shutdown.
 *
 * A request's path:
 *
 *   frame ─► decode ─► touch session ─┬─ write: core_prep ─► commit_submit ─► (durable)
 *                                     │        ─► on_committed: core_apply ─► reply
 *                                     └─ read:  core_read ─► reply  (or queued behind
 *                                               this connection's earlier writes)
 *
 * Every connection has a FIFO of struct req: writes waiting for the log,
 * and reads that arrived behind them.  When the oldest write of a
 * connection is applied, the reads behind it are answered at once, up to
 * the next write.  Txns without a connection (session expiry, reaping)
 * use the same path with conn == NULL.
 */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acl.h"
#include "sasl.h"
#include "server_int.h"
#include "slog.h"
#include "tls.h"
#include "snap.h"
#include "snapper.h"

#define REAP_INTERVAL_MS_DEFAULT 60000

static struct server *the_server; /* for the storage message sink only */

/* Reading the wall clock costs ~4% of the loop's time under pipelined reads
 * (every request touches its session), so it is read once per loop
 * iteration: while uv_now() has not moved, the last reading is returned.
 * That is the same granularity as libuv's own timers. */
static const uv_loop_t *now_loop;
static uint64_t now_loop_ms = UINT64_MAX;
static int64_t now_wall_ms;

int64_t server_now_ms(void)
{
	const uv_loop_t *loop = the_server ? the_server->loop : NULL;
	if (loop && loop == now_loop && uv_now(loop) == now_loop_ms)
		return now_wall_ms;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t wall = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (loop) {
		now_loop = loop;
		now_loop_ms = uv_now(loop);
		now_wall_ms = wall;
	}
	return wall;
}

/* ---------------------------------------------------------------- output helpers */

void srv_count_latency(struct server *srv, struct conn *c, uint64_t start_ms)
{
	uint64_t lat = uv_now(srv->loop) - start_ms;
	if (srv->lat_n == 0 || lat < srv->lat_min)
		srv->lat_min = lat;
	if (lat > srv->lat_max)
		srv->lat_max = lat;
	srv->lat_sum += lat;
	srv->lat_n++;
	if (c) {
		if (c->lat_n == 0 || lat < c->lat_min)
			c->lat_min = lat;
		if (lat > c->lat_max)
			c->lat_max = lat;
		c->lat_sum += lat;
		c->lat_n++;
	}
}

void srv_send_response(struct conn *c, int32_t type, struct zk_response *resp)
{
	struct server *srv = c->srv;
	if (c->state == CONN_CLOSED)
		return;
	zk_response_put(&c->out, type, resp);
	c->sent++;
	srv->packets_sent++;
	c->last_zxid = resp->zxid;
	c->last_ms = uv_now(srv->loop);
	net_schedule_flush(c);
}

/* Header-only reply. */
static void send_header(struct conn *c, int32_t xid, int64_t zxid, int32_t err)
{
	struct zk_response resp;
	memset(&resp, 0, sizeof(resp));
	resp.xid = xid;
	resp.zxid = zxid;
	resp.err = err;
	srv_send_response(c, ZOP_PING, &resp);
}

static void notify(void *arg, struct core_watcher *w, int32_t type, const char *path, int64_t zxid)
{
	struct server *srv = arg;
	struct conn *c = (struct conn *)((char *)w - offsetof(struct conn, watcher));
	(void)zxid;
	if (c->state == CONN_CLOSED)
		return;
	/* zxid -1 as ZooKeeper 3.5-3.8 send it; clients do not use it */
	zk_event_put(&c->out, -1, type, ZK_STATE_SYNC_CONNECTED, path);
	c->sent++;
	srv->packets_sent++;
	net_schedule_flush(c);
}

/* ---------------------------------------------------------------- throttle */

void srv_outstanding_inc(struct server *srv)
{
	srv->outstanding++;
	if (!srv->throttled && srv->outstanding >= srv->outstanding_limit) {
		srv->throttled = true;
		slog_debug("server", "throttling: %u requests outstanding", srv->outstanding);
	}
}

void srv_outstanding_dec(struct server *srv)
{
	srv->outstanding--;
	if (srv->throttled && srv->outstanding <= srv->outstanding_limit / 2) {
		srv->throttled = false;
		srv->resume_pending = true;
		net_kick(srv);
	}
}

/* ---------------------------------------------------------------- requests */

void srv_req_free(struct req *q)
{
	zk_request_free(&q->r);
	if (q->txn)
		core_txn_free(q->txn);
	if (q->conn)
		net_conn_unref(q->conn);
	free(q);
}

void srv_queue_push(struct conn *c, struct req *q)
{
	q->next = NULL;
	if (c->qtail)
		c->qtail->next = q;
	else
		c->qhead = q;
	c->qtail = q;
	c->nqueued++;
}

struct req *srv_queue_pop(struct conn *c)
{
	struct req *q = c->qhead;
	if (!q)
		return NULL;
	c->qhead = q->next;
	if (!c->qhead)
		c->qtail = NULL;
	c->nqueued--;
	q->next = NULL;
	return q;
}

/* Takes q out of c's FIFO wherever it is (normally the head). */
void srv_queue_remove(struct conn *c, struct req *q)
{
	if (c->qhead == q) {
		srv_queue_pop(c);
		return;
	}
	for (struct req *p = c->qhead; p; p = p->next) {
		if (p->next == q) {
			p->next = q->next;
			if (c->qtail == q)
				c->qtail = p;
			c->nqueued--;
			q->next = NULL;
			return;
		}
	}
}

/* One SASL token (ZooKeeperServer.processSasl): the reply carries the
 * server's token with zxid 0.  On failure: AuthFailed, or
 * SessionClosedRequireSaslAuth (-124) when SASL is required, then close;
 * with allowSaslFailedClients (and SASL not required) the client gets an
 * empty token and stays, unauthenticated.  Returns 0 or -1 (close). */
static int do_sasl(struct conn *c, const struct zk_request *r, struct zk_response *resp)
{
	struct server *srv = c->srv;
	const uint8_t *out;
	int32_t outlen;
	const char *user;
	resp->zxid = 0;
	enum sasl_step st = sasl_edge_step(&c->sasl, c->peer, r->auth_data, r->auth_len,
					   &srv->sasl_log, uv_now(srv->loop), &out, &outlen, &user);
	if (st == SASL_STEP_FAILED) {
		if (srv->cfg->allow_sasl_failed && !srv->cfg->sasl_required) {
			resp->r.data_len = -1;
			return 0;
		}
		resp->err = srv->cfg->sasl_required ? ZE_SESSIONCLOSEDREQUIRESASLAUTH
						    : ZE_AUTHFAILED;
		return -1;
	}
	if (st == SASL_STEP_DONE) {
		acl_auth_push(&c->auth, "sasl", user);
		bool super = srv->cfg->sasl_super_user && !strcmp(user, srv->cfg->sasl_super_user);
		if (super)
			acl_auth_push(&c->auth, "super", "");
		slog_info("sasl", "%s: session 0x%llx authenticated as sasl:%s%s", c->peer,
			  (unsigned long long)c->session_id, user, super ? " (super user)" : "");
	}
	/* the token is Cyrus's until the next step: copy it into the reply */
	if (outlen >= 0) {
		resp->r.data = malloc((size_t)outlen + 1);
		if (!resp->r.data)
			return -1;
		if (outlen)
			memcpy(resp->r.data, out, (size_t)outlen);
	}
	resp->r.data_len = outlen;
	return 0;
}

/* enforce.auth.enabled / sessionRequireClientSASLAuth
 * (AuthenticationHelper.enforceAuthentication): a connection must hold an
 * identity of one of enforce.auth.schemes before any request but auth and
 * sasl; ip counts, since every connection has one. */
static bool auth_enforced_ok(const struct conn *c)
{
	const struct config *cfg = c->srv->cfg;
	if (!cfg->enforce_auth)
		return true;
	for (int i = 0; i < c->auth.n; i++)
		for (size_t k = 0; k < cfg->n_enforce_schemes; k++)
			if (!strcmp(c->auth.ids[i].scheme, cfg->enforce_schemes[k]))
				return true;
	return false;
}

/* Answers a read-side request now.  Returns 0, or -1 when the connection
 * must close after this reply. */
int srv_do_read(struct conn *c, struct zk_request *r, uint64_t start_ms)
{
	struct server *srv = c->srv;
	struct zk_response resp;
	memset(&resp, 0, sizeof(resp));
	c->last_op = r->type;
	c->last_cxid = r->xid;
	int rc = 0;
	switch (r->type) {
	case ZOP_PING:
		resp.zxid = core_last_zxid(srv->core);
		break;
	case ZOP_AUTH:
		resp.zxid = 0;
		if (core_auth_add(srv->core, &c->auth, r->auth_scheme, r->auth_data, r->auth_len) < 0) {
			slog_info("server", "%s: authentication failed (scheme '%s'), closing",
				  c->peer, r->auth_scheme ? r->auth_scheme : "");
			resp.err = ZE_AUTHFAILED;
			rc = -1;
		}
		break;
	case ZOP_SASL:
		rc = do_sasl(c, r, &resp);
		break;
	case ZOP_RECONFIG:
		resp.zxid = core_last_zxid(srv->core);
		resp.err = ZE_RECONFIGDISABLED;
		break;
	default:
		if (core_read(srv->core, c->session_id, &c->auth, &c->watcher, r, &resp) < 0) {
			resp.zxid = core_last_zxid(srv->core);
			resp.err = ZE_UNIMPLEMENTED;
			rc = -1;
		}
		break;
	}
	resp.xid = r->xid;
	srv_send_response(c, r->type, &resp);
	zk_response_free(&resp);
	srv_count_latency(srv, c, start_ms);
	return rc;
}

/* Answers the reads at the head of c's FIFO, up to the first write. */
void srv_drain_reads(struct conn *c)
{
	struct server *srv = c->srv;
	while (c->qhead && !c->qhead->is_write && c->state < CONN_CLOSING) {
		struct req *q = srv_queue_pop(c);
		int rc;
		if (q->fixed_err) {
			send_header(c, q->r.xid, core_last_zxid(srv->core), q->fixed_err);
			rc = q->fixed_close ? -1 : 0;
		} else {
			rc = srv_do_read(c, &q->r, q->start_ms);
		}
		srv_outstanding_dec(srv);
		srv_req_free(q);
		if (rc < 0)
			net_close_after_flush(c, "request refused");
	}
}

/* Answers xid with a header-only error in request order (now, or after
 * the connection's earlier writes), optionally closing afterwards. */
static int refuse_in_order(struct conn *c, int32_t xid, int32_t err, bool close_after,
			   uint64_t start_ms)
{
	struct server *srv = c->srv;
	if (!c->qhead) {
		send_header(c, xid, core_last_zxid(srv->core), err);
		if (close_after)
			net_close_after_flush(c, zk_err_name(err));
		return 0;
	}
	struct req *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->r.xid = xid;
	e->fixed_err = err;
	e->fixed_close = close_after;
	e->start_ms = start_ms;
	e->conn = c;
	net_conn_ref(c);
	srv_queue_push(c, e);
	srv_outstanding_inc(srv);
	return 0;
}

/* multi takes only writes and check; multiRead only getData and
 * getChildren.  A mix is refused as ZooKeeper does (MarshallingError). */
static bool multi_ops_fit(const struct zk_request *r)
{
	for (int32_t i = 0; i < r->nops; i++) {
		int32_t t = r->ops[i].type;
		bool w = t == ZOP_CREATE || t == ZOP_CREATE2 || t == ZOP_CREATECONTAINER ||
			 t == ZOP_CREATETTL || t == ZOP_DELETE || t == ZOP_SETDATA || t == ZOP_CHECK;
		bool rd = t == ZOP_GETDATA || t == ZOP_GETCHILDREN;
		if (r->type == ZOP_MULTI ? !w : !rd)
			return false;
	}
	return true;
}

static void on_committed(void *arg, int status);

/* Storage failed: refuse writes from now on (the data on disk is whatever
 * was synced; nothing unsynced was acknowledged). */
void srv_storage_failure(struct server *srv, int err)
{
	if (srv->storage_failed)
		return;
	srv->storage_failed = true;
	slog_error("server",
		   "transaction log failed (%s): no more writes are accepted; "
		   "fix the disk and restart the server",
		   strerror(-err));
	core_prep_reset(srv->core);
}

/* Hands a prepared txn to the group commit.  q->txn is set.  Returns 0,
 * or a negative errno (q is then freed, the caller closes the connection). */
static int submit_txn(struct server *srv, struct req *q)
{
	jute_out_reset(&srv->scratch);
	core_txn_encode(q->txn, &srv->scratch);
	int rc = srv->scratch.err;
	if (rc == 0)
		rc = commit_submit(srv->commit, (uint64_t)core_txn_zxid(q->txn), srv->scratch.buf,
				   srv->scratch.len, on_committed, q);
	if (rc < 0) {
		srv_storage_failure(srv, rc);
		return rc;
	}
	srv_outstanding_inc(srv);
	return 0;
}

static void on_committed(void *arg, int status)
{
	struct req *q = arg;
	struct server *srv = the_server;
	struct conn *c = q->conn;
	srv_outstanding_dec(srv);
	if (status < 0) {
		srv_storage_failure(srv, status);
		if (c) {
			if (c->qhead == q)
				srv_queue_pop(c);
			net_close_now(c, "transaction log failed");
		}
		srv_req_free(q);
		return;
	}
	bool live = c && c->state < CONN_CLOSED;
	struct zk_response resp;
	memset(&resp, 0, sizeof(resp));
	core_apply(srv->core, q->txn, live ? &resp : NULL);
	srv_answer_write(srv, q, live ? &resp : NULL);
	zk_response_free(&resp);
}

void srv_answer_write(struct server *srv, struct req *q, struct zk_response *resp)
{
	struct conn *c = q->conn;
	bool live = c && c->state < CONN_CLOSED && resp;
	if (live) {
		if (q->is_handshake) {
			srv_finish_handshake(c, q, resp->zxid);
		} else {
			resp->xid = q->r.xid;
			c->last_op = q->r.type;
			c->last_cxid = q->r.xid;
			srv_send_response(c, q->r.type, resp);
			srv_count_latency(srv, c, q->start_ms);
		}
	}
	srv->txns_since_snap++;
	if (c) {
		/* commits arrive in submission order, so q is c's oldest write */
		srv_queue_remove(c, q);
		if (live && q->r.type == ZOP_CLOSESESSION) {
			net_close_after_flush(c, "session closed");
		} else if (live) {
			srv_drain_reads(c);
		}
	}
	srv_req_free(q);
	srv_maybe_snapshot(srv);
}

/* A write request of an open connection.  Takes ownership of *r. */
static int do_write(struct conn *c, struct zk_request *r, uint64_t start_ms)
{
	struct server *srv = c->srv;
	if (srv->storage_failed) {
		zk_request_free(r);
		net_close_now(c, "storage failed, writes refused");
		return 0;
	}
	struct req *q = calloc(1, sizeof(*q));
	if (!q) {
		zk_request_free(r);
		return -ENOMEM;
	}
	q->r = *r;
	memset(r, 0, sizeof(*r));
	q->is_write = true;
	q->start_ms = start_ms;
	if (srv->zab) {
		q->conn = c;
		net_conn_ref(c);
		srv_queue_push(c, q);
		srv_outstanding_inc(srv);
		int rc = ens_write(srv, q);
		if (rc == 0)
			return 0;
		srv_queue_remove(c, q);
		srv_outstanding_dec(srv);
		int32_t xid = q->r.xid;
		srv_req_free(q);
		if (rc == -EINVAL)
			return refuse_in_order(c, xid, ZE_UNIMPLEMENTED, true, start_ms);
		net_close_now(c, "the server is not serving (no leader)");
		return 0;
	}
	if (core_prep(srv->core, c->session_id, &c->auth, &q->r, server_now_ms(), &q->txn) < 0) {
		/* not a writable op: Unimplemented, then close (in order) */
		int32_t xid = q->r.xid;
		zk_request_free(&q->r);
		free(q);
		return refuse_in_order(c, xid, ZE_UNIMPLEMENTED, true, start_ms);
	}
	q->conn = c;
	net_conn_ref(c);
	if (submit_txn(srv, q) < 0) {
		srv_req_free(q);
		net_close_now(c, "transaction log failed");
		return 0;
	}
	srv_queue_push(c, q);
	return 0;
}

static bool known_opcode(int32_t type)
{
	switch (type) {
	case ZOP_CREATE:
	case ZOP_DELETE:
	case ZOP_EXISTS:
	case ZOP_GETDATA:
	case ZOP_SETDATA:
	case ZOP_GETACL:
	case ZOP_SETACL:
	case ZOP_GETCHILDREN:
	case ZOP_SYNC:
	case ZOP_PING:
	case ZOP_GETCHILDREN2:
	case ZOP_MULTI:
	case ZOP_CREATE2:
	case ZOP_RECONFIG:
	case ZOP_CHECKWATCHES:
	case ZOP_REMOVEWATCHES:
	case ZOP_CREATECONTAINER:
	case ZOP_DELETECONTAINER:
	case ZOP_CREATETTL:
	case ZOP_MULTIREAD:
	case ZOP_AUTH:
	case ZOP_SETWATCHES:
	case ZOP_SASL:
	case ZOP_GETEPHEMERALS:
	case ZOP_GETALLCHILDRENNUMBER:
	case ZOP_SETWATCHES2:
	case ZOP_ADDWATCH:
	case ZOP_WHOAMI:
	case ZOP_CLOSESESSION:
		return true;
	}
	return false;
}

static int handle_request(struct conn *c, const uint8_t *body, size_t len)
{
	struct server *srv = c->srv;
	struct zk_request r;
	uint64_t start_ms = uv_now(srv->loop);
	/* Peek at the header first: an unknown opcode is answered -6 even when
	 * its body would not decode. */
	if (len < 8) {
		slog_warn("server", "%s: request shorter than its header, closing", c->peer);
		return -EBADMSG;
	}
	int32_t xid = (int32_t)jute_load32(body);
	int32_t type = (int32_t)jute_load32(body + 4);
	if (!known_opcode(type)) {
		slog_info("server", "%s: unknown opcode %d (xid %d): Unimplemented, closing", c->peer,
			  type, xid);
		return refuse_in_order(c, xid, ZE_UNIMPLEMENTED, true, start_ms);
	}
	if (type == ZOP_ADDWATCH && srv->cfg->disable_add_watch) {
		/* zkfs.disableAddWatch: a 3.5 server does not know the opcode
		 * and answers as for any unknown one (clients' fallbacks are
		 * tested against this). */
		slog_info("server", "%s: addWatch disabled (zkfs.disableAddWatch): Unimplemented, closing",
			  c->peer);
		return refuse_in_order(c, xid, ZE_UNIMPLEMENTED, true, start_ms);
	}
	if (type != ZOP_AUTH && type != ZOP_SASL && !auth_enforced_ok(c)) {
		/* ZooKeeper answers -124 with zxid 0 and closes the connection
		 * (the session lives on until it expires) */
		slog_info("server", "%s: %s request without authentication by %s: closing", c->peer,
			  zk_op_name(type), srv->cfg->sasl_required ? "sasl" : "enforce.auth.schemes");
		if (!c->qhead) {
			send_header(c, xid, 0, ZE_SESSIONCLOSEDREQUIRESASLAUTH);
			net_close_after_flush(c, "authentication required");
			return 0;
		}
		return refuse_in_order(c, xid, ZE_SESSIONCLOSEDREQUIRESASLAUTH, true, start_ms);
	}
	int rc = zk_request_get_limit(body, len, srv->max_buffer, &r);
	if (rc < 0) {
		slog_warn("server", "%s: malformed %s request (xid %d), closing", c->peer,
			  zk_op_name(type), xid);
		return rc;
	}
	if (srv->zab) {
		/* the leader owns session liveness */
		ens_touch(srv, c->session_id, c->timeout);
	} else if (core_session_touch(srv->core, c->session_id, server_now_ms()) < 0) {
		zk_request_free(&r);
		net_close_now(c, "session expired");
		return 0;
	}
	if ((r.type == ZOP_MULTI || r.type == ZOP_MULTIREAD) && !multi_ops_fit(&r)) {
		zk_request_free(&r);
		return refuse_in_order(c, xid, ZE_MARSHALLINGERROR, false, start_ms);
	}
	if (core_is_write(r.type)) {
		if (r.type == ZOP_CLOSESESSION)
			slog_info("server", "%s: session 0x%llx closed by the client", c->peer,
				   (unsigned long long)c->session_id);
		return do_write(c, &r, start_ms);
	}
	if (srv->zab && r.type == ZOP_SYNC) {
		/* answered once this server has every commit the leader had */
		struct req *q = calloc(1, sizeof(*q));
		if (!q) {
			zk_request_free(&r);
			return -ENOMEM;
		}
		q->r = r;
		q->is_write = true; /* later reads wait for it */
		q->start_ms = start_ms;
		q->conn = c;
		net_conn_ref(c);
		srv_queue_push(c, q);
		srv_outstanding_inc(srv);
		if (ens_sync(srv, q) < 0) {
			srv_queue_remove(c, q);
			srv_outstanding_dec(srv);
			srv_req_free(q);
			net_close_now(c, "the server is not serving (no leader)");
		}
		return 0;
	}
	if (c->qhead) {
		struct req *q = calloc(1, sizeof(*q));
		if (!q) {
			zk_request_free(&r);
			return -ENOMEM;
		}
		q->r = r;
		q->start_ms = start_ms;
		q->conn = c;
		net_conn_ref(c);
		srv_queue_push(c, q);
		srv_outstanding_inc(srv);
		return 0;
	}
	rc = srv_do_read(c, &r, start_ms);
	zk_request_free(&r);
	if (rc < 0)
		net_close_after_flush(c, "request refused");
	return 0;
}

/* ---------------------------------------------------------------- handshake */

void srv_send_connect_response(struct conn *c, int32_t timeout, int64_t sid,
				  const uint8_t passwd[16])
{
	struct zk_connect_resp cr;
	memset(&cr, 0, sizeof(cr));
	cr.protocol_version = 0;
	cr.timeout = timeout;
	cr.session_id = sid;
	if (passwd)
		memcpy(cr.passwd, passwd, 16);
	cr.read_only = false;
	cr.has_read_only = c->has_read_only;
	zk_connect_resp_put(&c->out, &cr);
	c->sent++;
	c->srv->packets_sent++;
	net_schedule_flush(c);
}

/* Another connection of the same session loses it (the client moved). */
void srv_close_other_owners(struct conn *c)
{
	struct conn *o = c->srv->conns;
	while (o) {
		struct conn *next = o->next;
		if (o != c && o->session_id == c->session_id && o->state == CONN_OPEN)
			net_close_now(o, "session moved to another connection");
		o = next;
	}
}

void srv_finish_handshake(struct conn *c, struct req *q, int64_t zxid)
{
	struct server *srv = c->srv;
	(void)zxid;
	uint8_t pw[16];
	core_session_password(srv->core, c->session_id, pw);
	srv_send_connect_response(c, q->timeout, c->session_id, pw);
	c->state = CONN_OPEN;
	slog_info("server", "%s: new session 0x%llx, timeout %d ms", c->peer,
		   (unsigned long long)c->session_id, q->timeout);
	srv->resume_pending = true; /* parse what was pipelined behind the connect */
	net_kick(srv);
}

static int ens_connect(struct conn *c, const struct zk_connect_req *cr);

static int handle_connect(struct conn *c, const uint8_t *body, size_t len)
{
	struct server *srv = c->srv;
	struct zk_connect_req cr;
	if (zk_connect_req_get(body, len, &cr) < 0) {
		slog_warn("server", "%s: malformed ConnectRequest, closing", c->peer);
		return -EBADMSG;
	}
	c->has_read_only = cr.has_read_only;
	if (!c->auth_inited) {
		core_auth_init(&c->auth, c->ip);
		if (c->tls && c->tls->dn) {
			const char *su = srv->cfg->x509_super_user;
			core_auth_add_x509(&c->auth, c->tls->dn, su && !strcmp(su, c->tls->dn));
		}
		c->auth_inited = true;
	}
	int64_t last = core_last_zxid(srv->core);
	if (cr.last_zxid_seen > last) {
		slog_info("server",
			  "%s: client has seen zxid 0x%llx, newer than ours 0x%llx: dropping it "
			  "so it tries another server",
			  c->peer, (unsigned long long)cr.last_zxid_seen, (unsigned long long)last);
		net_close_now(c, "client ahead of server");
		return 0;
	}
	if (srv->zab)
		return ens_connect(c, &cr);
	if (cr.session_id != 0) {
		int32_t timeout = 0;
		int rc = core_session_validate(srv->core, cr.session_id, cr.passwd, &timeout);
		if (rc == 0)
			rc = core_session_touch(srv->core, cr.session_id, server_now_ms());
		if (rc < 0) {
			slog_info("server", "%s: reconnect of session 0x%llx refused (%s)", c->peer,
				  (unsigned long long)cr.session_id,
				  rc == -EACCES ? "bad password" : "expired");
			srv_send_connect_response(c, 0, 0, NULL);
			net_close_after_flush(c, "session expired");
			return 0;
		}
		c->session_id = cr.session_id;
		c->timeout = timeout;
		srv_close_other_owners(c);
		uint8_t pw[16];
		core_session_password(srv->core, c->session_id, pw);
		srv_send_connect_response(c, timeout, c->session_id, pw);
		c->state = CONN_OPEN;
		slog_info("server", "%s: session 0x%llx reconnected", c->peer,
			   (unsigned long long)c->session_id);
		return 0;
	}
	if (srv->storage_failed) {
		net_close_now(c, "storage failed, no new sessions");
		return 0;
	}
	struct req *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	int64_t sid;
	int32_t timeout;
	core_prep_create_session(srv->core, cr.timeout, server_now_ms(), &sid, &timeout, &q->txn);
	q->is_write = true;
	q->is_handshake = true;
	q->timeout = timeout;
	q->r.type = ZOP_CREATESESSION;
	q->start_ms = uv_now(srv->loop);
	q->conn = c;
	net_conn_ref(c);
	c->session_id = sid;
	c->timeout = timeout;
	c->state = CONN_HANDSHAKE;
	if (submit_txn(srv, q) < 0) {
		srv_req_free(q);
		net_close_now(c, "transaction log failed");
		return 0;
	}
	srv_queue_push(c, q);
	return 0;
}

/* An ensemble member: sessions are created and revalidated through the
 * leader. */
static int ens_connect(struct conn *c, const struct zk_connect_req *cr)
{
	struct server *srv = c->srv;
	if (!ens_serving(srv)) {
		net_close_now(c, "the server is not serving (no leader)");
		return 0;
	}
	struct req *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->start_ms = uv_now(srv->loop);
	q->conn = c;
	q->is_write = true;
	net_conn_ref(c);
	c->state = CONN_HANDSHAKE;
	int rc;
	if (cr->session_id != 0) {
		uint8_t pw[16];
		core_session_password(srv->core, cr->session_id, pw);
		if (memcmp(pw, cr->passwd, 16) != 0) {
			slog_info("server", "%s: reconnect of session 0x%llx refused (bad password)",
				  c->peer, (unsigned long long)cr->session_id);
			srv_req_free(q);
			srv_send_connect_response(c, 0, 0, NULL);
			net_close_after_flush(c, "session expired");
			return 0;
		}
		c->session_id = cr->session_id;
		c->timeout = core_session_clamp(srv->core, cr->timeout);
		q->is_revalidate = true;
		srv_queue_push(c, q);
		rc = ens_revalidate(srv, q, cr->session_id, c->timeout);
	} else {
		int64_t sid = 0;
		q->is_handshake = true;
		q->timeout = core_session_clamp(srv->core, cr->timeout);
		q->r.type = ZOP_CREATESESSION;
		srv_queue_push(c, q);
		srv_outstanding_inc(srv);
		rc = ens_create_session(srv, q, q->timeout, &sid);
		if (rc == 0) {
			c->session_id = sid;
			c->timeout = q->timeout;
		} else {
			srv_outstanding_dec(srv);
		}
	}
	if (rc < 0) {
		srv_queue_remove(c, q);
		srv_req_free(q);
		net_close_now(c, "the server is not serving (no leader)");
	}
	return 0;
}

int server_conn_frame(struct conn *c, const uint8_t *body, size_t len)
{
	if (c->state == CONN_NEW)
		return handle_connect(c, body, len);
	return handle_request(c, body, len);
}

void server_conn_closed(struct conn *c)
{
	struct server *srv = c->srv;
	core_watcher_gone(srv->core, &c->watcher);
	sasl_edge_conn_free(&c->sasl);
	if (c->auth_inited) {
		core_auth_free(&c->auth);
		c->auth_inited = false;
	}
	/* queued reads are dropped; writes stay with the group commit and are
	 * applied without a reply */
	struct req *q = c->qhead, *keep = NULL, *keep_tail = NULL;
	unsigned n = 0;
	while (q) {
		struct req *next = q->next;
		q->next = NULL;
		if (q->is_write) {
			if (keep_tail)
				keep_tail->next = q;
			else
				keep = q;
			keep_tail = q;
			n++;
		} else {
			srv_outstanding_dec(srv);
			srv_req_free(q);
		}
		q = next;
	}
	c->qhead = keep;
	c->qtail = keep_tail;
	c->nqueued = n;
}

/* ---------------------------------------------------------------- timers */

struct expire_ctx {
	struct server *srv;
	int64_t now;
	uint64_t budget; /* reaper: deletions left in this run */
};

static void on_session_expired(void *arg, int64_t sid)
{
	struct expire_ctx *x = arg;
	struct server *srv = x->srv;
	slog_info("server", "session 0x%llx expired", (unsigned long long)sid);
	/* the connection still holding it (if any) is closed; its client will
	 * learn of the expiry when it reconnects */
	struct conn *c = srv->conns;
	while (c) {
		struct conn *next = c->next;
		if (c->session_id == sid && c->state <= CONN_OPEN)
			net_close_after_flush(c, "session expired");
		c = next;
	}
	if (srv->storage_failed)
		return;
	struct req *q = calloc(1, sizeof(*q));
	if (!q)
		return;
	core_prep_close_session(srv->core, sid, x->now, &q->txn);
	q->is_write = true;
	q->r.type = ZOP_CLOSESESSION;
	q->start_ms = uv_now(srv->loop);
	if (submit_txn(srv, q) < 0)
		srv_req_free(q);
}

/* Connections that hold resources without making progress: a socket that
 * never completes its handshake, and one whose last output (before a
 * close) the peer never reads. */
static void close_idle_connections(struct server *srv)
{
	uint64_t now = uv_now(srv->loop);
	uint64_t handshake_limit = (uint64_t)(srv->cfg->max_session_timeout > 0
						      ? srv->cfg->max_session_timeout
						      : 40000);
	for (struct conn *c = srv->conns; c;) {
		struct conn *next = c->next;
		if (c->state == CONN_NEW && now - c->established_ms > handshake_limit)
			net_close_now(c, "no handshake");
		else if (c->state == CONN_CLOSING && now - c->closing_ms > 5000)
			net_close_now(c, "peer does not read its last output");
		c = next;
	}
}

static void on_tick(uv_timer_t *t)
{
	struct server *srv = t->data;
	struct expire_ctx x = {srv, server_now_ms(), 0};
	if (!srv->zab) /* in an ensemble the leader expires sessions (zab) */
		core_session_expired(srv->core, x.now, on_session_expired, &x);
	close_idle_connections(srv);
}

static void on_reap_path(void *arg, const char *path)
{
	struct expire_ctx *x = arg;
	struct server *srv = x->srv;
	if (srv->storage_failed || x->budget == 0)
		return;
	x->budget--;
	if (srv->zab) {
		struct zk_request r;
		memset(&r, 0, sizeof(r));
		r.type = r.op.type = ZOP_DELETECONTAINER;
		r.op.path = (char *)path;
		slog_debug("server", "reaping %s", path);
		ens_server_write(srv, &r);
		return;
	}
	struct req *q = calloc(1, sizeof(*q));
	if (!q)
		return;
	slog_debug("server", "reaping %s", path);
	core_prep_delete_container(srv->core, path, x->now, &q->txn);
	q->is_write = true;
	q->r.type = ZOP_DELETECONTAINER;
	q->start_ms = uv_now(srv->loop);
	if (submit_txn(srv, q) < 0)
		srv_req_free(q);
}

static void on_reap(uv_timer_t *t)
{
	struct server *srv = t->data;
	/* znode.container.maxPerMinute bounds the deletions (and the log
	 * traffic) one run may cause */
	uint64_t per_min = srv->cfg->container_max_per_minute > 0
				   ? (uint64_t)srv->cfg->container_max_per_minute
				   : 10000;
	uint64_t budget = per_min * uv_timer_get_repeat(t) / 60000;
	struct expire_ctx x = {srv, server_now_ms(), budget ? budget : 1};
	if (srv->zab && !ens_is_leader(srv))
		return; /* the leader reaps for the ensemble */
	core_reap(srv->core, x.now, on_reap_path, &x);
}

/* ---------------------------------------------------------------- snapshots and purge */

static void pick_snap_threshold(struct server *srv)
{
	/* like ZooKeeper: snapCount/2 + random part, so servers of an ensemble
	 * don't all snapshot at once */
	uint64_t half = (uint64_t)(srv->cfg->snap_count > 1 ? srv->cfg->snap_count : 2) / 2;
	srv->snap_every = half + (uint64_t)random() % (half + 1);
	srv->txns_since_snap = 0;
}

/* Snapshots keep the loop and the disk busy at most about
 * 1/(1 + SNAP_GAP_FACTOR) of the time (busy = serializing on the loop plus
 * the pool's writing, not the wall time, which a loaded loop stretches): at
 * write rates where snapCount txns go by faster than that, serializing and
 * writing the tree over and over would take the loop's CPU and the disk's
 * bandwidth from the requests.  Recovery then replays more txns, bounded
 * by the rate times that gap. */
#define SNAP_GAP_FACTOR 3

static void on_snapshot_done(void *arg, int rc, const struct snapper_stats *st)
{
	struct server *srv = arg;
	srv->snapper = NULL;
	if (srv->retired_core) {
		core_free(srv->retired_core);
		srv->retired_core = NULL;
	}
	srv->snap_ms_last = st->ms;
	/* the next one waits SNAP_GAP_FACTOR times what this one cost */
	srv->snap_not_before = uv_now(srv->loop) + SNAP_GAP_FACTOR * st->busy_ms;
	if (st->step_us_max > srv->snap_step_us_max)
		srv->snap_step_us_max = st->step_us_max;
	if (rc == 0)
		slog_info("snapshot", "snapshot 0x%llx written: %llu nodes, %llu KB in %llu ms (%llu ms busy)",
			  (unsigned long long)st->zxid, (unsigned long long)st->nodes,
			  (unsigned long long)(st->bytes >> 10), (unsigned long long)st->ms,
			  (unsigned long long)st->busy_ms);
	else if (rc == -ECANCELED)
		slog_info("snapshot", "snapshot 0x%llx abandoned at shutdown",
			  (unsigned long long)st->zxid);
	else
		slog_warn("snapshot", "snapshot 0x%llx failed: %s", (unsigned long long)st->zxid,
			  strerror(-rc));
}

void srv_maybe_snapshot(struct server *srv)
{
	if (srv->txns_since_snap < srv->snap_every || srv->snapper || srv->shutting_down ||
	    uv_now(srv->loop) < srv->snap_not_before)
		return;
	/* an ensemble member snapshots only committed state: while it serves
	 * (a LOOKING member's tree may hold txns a new leader cuts) */
	if (srv->zab && !ens_serving(srv))
		return;
	/* the log rolls first, so the files before the new one are the ones
	 * an older snapshot needs */
	int rc = commit_roll(srv->commit);
	if (rc < 0)
		slog_warn("server", "log roll before snapshot failed: %s", strerror(-rc));
	srv->snap_count++;
	srv->snapper = snapper_start(srv->loop, srv->core, srv->cfg->data_dir,
				     srv->cfg->snapshot_slice_nodes, on_snapshot_done, srv);
	pick_snap_threshold(srv);
}

static void purge_work(uv_work_t *w)
{
	struct server *srv = w->data;
	int n = snap_purge(srv->cfg->data_dir, srv->cfg->data_log_dir,
			   srv->cfg->autopurge_snap_retain_count);
	if (n < 0)
		slog_warn("purge", "autopurge failed: %s", strerror(-n));
	else if (n > 0)
		slog_info("purge", "autopurge removed %d files", n);
}

static void purge_done(uv_work_t *w, int status)
{
	struct server *srv = w->data;
	(void)status;
	srv->purge_running = false;
}

static void on_purge(uv_timer_t *t)
{
	struct server *srv = t->data;
	if (srv->purge_running)
		return;
	srv->purge_running = true;
	srv->purge_work.data = srv;
	uv_queue_work(srv->loop, &srv->purge_work, purge_work, purge_done);
}

/* ---------------------------------------------------------------- loop hooks */

static void on_check(uv_check_t *h)
{
	struct server *srv = h->data;
	ens_on_check(srv);
	if (srv->resume_pending && !srv->throttled) {
		srv->resume_pending = false;
		for (struct conn *c = srv->conns; c;) {
			struct conn *next = c->next;
			net_conn_ref(c);
			net_conn_update(c);
			net_conn_unref(c);
			c = next;
		}
	}
	net_flush_all(srv);
}

static void storage_sink(enum storage_level level, const char *msg)
{
	switch (level) {
	case STORAGE_INFO:
		slog_info("storage", "%s", msg);
		break;
	case STORAGE_WARN:
		slog_warn("storage", "%s", msg);
		break;
	default:
		slog_error("storage", "%s", msg);
		break;
	}
}

/* ---------------------------------------------------------------- recovery */

static int recover_snap_record(void *arg, const void *rec, size_t len)
{
	int rc = core_snapshot_load(arg, rec, len);
	return rc < 0 ? rc : 0;
}

struct replay_ctx {
	struct core *core;
	uint64_t n;
	struct server *srv; /* an ensemble member keeps the last txns (recent[]) */
};

/* An ensemble member keeps the last replayed txns so that, if it leads,
 * followers a little behind get a DIFF instead of a whole snapshot. */
static void keep_recent(struct server *srv, struct core_txn *t)
{
	size_t cap = srv->cfg->commit_log_count > 0 ? (size_t)srv->cfg->commit_log_count : 5000;
	if (!srv->recent) {
		srv->recent = calloc(cap, sizeof(*srv->recent));
		if (!srv->recent) {
			core_txn_free(t);
			return;
		}
		srv->recent_cap = cap;
	}
	if (srv->recent_len == srv->recent_cap) {
		core_txn_free(srv->recent[srv->recent_start]);
		srv->recent_start = (srv->recent_start + 1) % srv->recent_cap;
		srv->recent_len--;
	}
	srv->recent[(srv->recent_start + srv->recent_len) % srv->recent_cap] = t;
	srv->recent_len++;
}

static int recover_txn(void *arg, uint64_t zxid, const void *data, size_t len)
{
	struct replay_ctx *x = arg;
	struct core_txn *t;
	int rc = core_txn_decode(data, len, &t);
	if (rc < 0) {
		slog_error("recovery", "txn 0x%llx in the log does not decode: %s",
			   (unsigned long long)zxid, strerror(-rc));
		return rc;
	}
	core_apply(x->core, t, NULL);
	if (x->srv)
		keep_recent(x->srv, t);
	else
		core_txn_free(t);
	x->n++;
	return 0;
}

static int recover(struct server *srv)
{
	struct config *cfg = srv->cfg;
	uint64_t snap_zxid = 0;
	int rc = snap_load(cfg->data_dir, recover_snap_record, srv->core, &snap_zxid);
	if (rc == -ENOENT) {
		snap_zxid = 0;
	} else if (rc < 0) {
		slog_error("recovery", "cannot load a snapshot from %s: %s", cfg->data_dir,
			   strerror(-rc));
		return rc;
	} else {
		slog_info("recovery", "loaded snapshot 0x%llx", (unsigned long long)snap_zxid);
	}
	srv->ens_window_base = (int64_t)snap_zxid;
	struct zlog_opts lo;
	memset(&lo, 0, sizeof(lo));
	lo.prealloc_bytes = cfg->prealloc_kb > 0 ? (uint64_t)cfg->prealloc_kb * 1024 : 0;
	lo.max_file_bytes =
		cfg->txn_log_size_limit_kb > 0 ? (uint64_t)cfg->txn_log_size_limit_kb * 1024 : 0;
	lo.no_sync = !cfg->force_sync;
	struct replay_ctx x = {srv->core, 0, config_is_ensemble(cfg) ? srv : NULL};
	uint64_t last = 0;
	rc = zlog_open(&srv->log, cfg->data_log_dir, &lo, snap_zxid, recover_txn, &x, &last);
	if (rc < 0) {
		slog_error("recovery", "cannot recover the transaction log in %s: %s",
			   cfg->data_log_dir, strerror(-rc));
		return rc;
	}
	int64_t cl = core_last_zxid(srv->core);
	if ((int64_t)last > cl)
		cl = (int64_t)last;
	if (cl > 0)
		core_set_next_zxid(srv->core, cl + 1);
	core_session_restart_tracking(srv->core, server_now_ms());
	slog_info("recovery", "replayed %llu txns from the log; last zxid 0x%llx",
		  (unsigned long long)x.n, (unsigned long long)core_last_zxid(srv->core));
	if (!cfg->force_sync)
		slog_warn("server", "forceSync=no: writes are NOT durable across power failures");
	return 0;
}

/* ---------------------------------------------------------------- life cycle */

/* Session passwords are derived from the session id and a secret that
 * must survive restarts (sessions do) and must not be guessable: 16
 * random bytes kept in dataDir/session.secret, created on first start. */
static int load_session_secret(const char *dir, uint8_t out[16])
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/session.secret", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, out, 16);
		close(fd);
		if (n == 16)
			return 0;
		slog_warn("server", "%s is damaged; making a new one (old sessions become invalid)",
			  path);
	}
	char part[4096];
	snprintf(part, sizeof(part), "%s", dir);
	for (char *p = part + 1;; p++) {
		if (*p == '/' || *p == 0) {
			char ch = *p;
			*p = 0;
			if (mkdir(part, 0755) < 0 && errno != EEXIST) {
				slog_error("server", "cannot create %s: %s", part, strerror(errno));
				return -errno;
			}
			*p = ch;
			if (!ch)
				break;
		}
	}
	if (getrandom(out, 16, 0) != 16)
		return -EIO;
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		slog_error("server", "cannot create %s: %s", tmp, strerror(errno));
		return -errno;
	}
	int rc = 0;
	if (write(fd, out, 16) != 16 || fsync(fd) < 0)
		rc = -EIO;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		slog_error("server", "cannot write %s: %s", path, strerror(-rc));
	return rc;
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct server *srv = s->data;
	server_shutdown(srv, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

int server_init(struct server *srv, uv_loop_t *loop, struct config *cfg)
{
	memset(srv, 0, sizeof(*srv));
	the_server = srv;
	srv->loop = loop;
	srv->cfg = cfg;
	srv->start_ms = uv_now(loop);
	srv->max_buffer = cfg->jute_maxbuffer > 0 ? (size_t)cfg->jute_maxbuffer : JUTE_MAX_BUFFER;
	srv->max_client_cnxns = cfg->max_client_cnxns > 0 ? (unsigned)cfg->max_client_cnxns : 0;
	srv->max_cnxns = cfg->max_cnxns > 0 ? (unsigned)cfg->max_cnxns : 0;
	srv->outstanding_limit =
		cfg->global_outstanding_limit > 0 ? (unsigned)cfg->global_outstanding_limit : 1000;
	srv->out_stop_bytes = 1024 * 1024 + srv->max_buffer;
	srv->out_close_bytes = 32 * 1024 * 1024 + 2 * srv->max_buffer;
	srv->fourlw_allowed = 0;
	for (size_t i = 0; i < cfg->n_four_lw; i++)
		srv->fourlw_allowed |= fourlw_parse_whitelist(cfg->four_lw[i]);
	jute_out_init(&srv->scratch);
	storage_set_msg_fn(storage_sink);
	srandom((unsigned)server_now_ms());

	char serr[512];
	int rc = sasl_edge_init(cfg, serr, sizeof(serr));
	if (rc < 0) {
		slog_error("sasl", "%s: server cannot start", serr);
		return rc;
	}

	struct core_config cc;
	memset(&cc, 0, sizeof(cc));
	cc.tick_ms = cfg->tick_time;
	cc.min_session_timeout_ms = cfg->min_session_timeout;
	cc.max_session_timeout_ms = cfg->max_session_timeout;
	cc.ttl_enabled = cfg->extended_types;
	cc.super_digest = cfg->super_digest;
	cc.sasl_acl = cfg->sasl_provider;
	cc.server_id = cfg->my_id > 0 ? cfg->my_id : 0;
	cc.now_ms = server_now_ms();
	rc = load_session_secret(cfg->data_dir, cc.session_secret);
	if (rc < 0)
		return rc;
	cc.hooks.notify = notify;
	cc.hooks.arg = srv;
	bool ensemble = config_is_ensemble(cfg);
	cc.zk_passwords = ensemble;
	/* ZooKeeper's tree digest (on by default there too): every txn we
	 * propose carries it, and every txn we apply is checked against it */
	cc.digest = ensemble;
	srv->core_cfg = cc; /* super_digest points into cfg, which outlives srv */
	if (ensemble) {
		rc = ens_pre_recover(srv);
		if (rc < 0)
			return rc;
	}
	srv->core = core_new(&cc);
	if (!srv->core) {
		slog_error("server", "cannot create the core (bad tickTime or session timeouts?)");
		return -EINVAL;
	}
	rc = recover(srv);
	if (rc < 0)
		goto err_core;
	struct commit_opts co;
	memset(&co, 0, sizeof(co));
	co.fsync_warn_ms = cfg->fsync_warning_ms > 0 ? (unsigned)cfg->fsync_warning_ms : 0;
	rc = commit_open(&srv->commit, loop, srv->log, &co);
	if (rc < 0) {
		slog_error("server", "cannot start the group commit: %s", strerror(-rc));
		goto err_log;
	}
	pick_snap_threshold(srv);
	if (ensemble) {
		rc = ens_init(srv);
		if (rc < 0)
			return rc; /* the process exits; nothing to hand back cleanly */
	}

	uv_check_init(loop, &srv->check);
	srv->check.data = srv;
	uv_check_start(&srv->check, on_check);
	uv_idle_init(loop, &srv->flush_idle);
	uv_timer_init(loop, &srv->tick_timer);
	srv->tick_timer.data = srv;
	uv_timer_start(&srv->tick_timer, on_tick, (uint64_t)cfg->tick_time,
		       (uint64_t)cfg->tick_time);
	uv_timer_init(loop, &srv->reap_timer);
	srv->reap_timer.data = srv;
	uint64_t reap_ms = cfg->container_check_interval_ms > 0
				   ? (uint64_t)cfg->container_check_interval_ms
				   : REAP_INTERVAL_MS_DEFAULT;
	const char *e = getenv("ZKFS_REAP_INTERVAL_MS");
	if (e && atoll(e) > 0)
		reap_ms = (uint64_t)atoll(e);
	uv_timer_start(&srv->reap_timer, on_reap, reap_ms, reap_ms);
	uv_timer_init(loop, &srv->purge_timer);
	srv->purge_timer.data = srv;
	if (cfg->autopurge_purge_interval > 0) {
		uint64_t ms = (uint64_t)cfg->autopurge_purge_interval * 3600 * 1000;
		/* like ZooKeeper, the first purge runs at start */
		uv_timer_start(&srv->purge_timer, on_purge, 1000, ms);
	}
	uv_signal_init(loop, &srv->sigterm);
	uv_signal_init(loop, &srv->sigint);
	srv->sigterm.data = srv->sigint.data = srv;
	uv_signal_start(&srv->sigterm, on_signal, SIGTERM);
	uv_signal_start(&srv->sigint, on_signal, SIGINT);
	signal(SIGPIPE, SIG_IGN);

	if (tls_server_init(srv) < 0) {
		srv->exit_code = 1;
		server_shutdown(srv, "TLS set-up failed");
		return 0;
	}
	const char *host = cfg->client_port_address ? cfg->client_port_address : "0.0.0.0";
	if (cfg->secure_client_port >= 0) {
		const char *sh = cfg->secure_client_port_address ? cfg->secure_client_port_address : host;
		rc = net_listen_secure(srv, sh, cfg->secure_client_port, cfg->client_port_listen_backlog);
		if (rc < 0) {
			slog_error("server", "cannot listen on %s:%d (secureClientPort): %s", sh,
				   cfg->secure_client_port, uv_strerror(rc));
			srv->exit_code = 1;
			server_shutdown(srv, "listen failed");
			return 0;
		}
		slog_info("server", "TLS clients on %s:%d (clientAuth %s)", sh, srv->secure_bound_port,
			  cfg->ssl_client_auth == 2 ? "need" : cfg->ssl_client_auth == 1 ? "want" : "none");
	}
	rc = net_listen(srv, host, cfg->client_port, cfg->client_port_listen_backlog);
	if (rc < 0) {
		slog_error("server", "cannot listen on %s:%d: %s", host, cfg->client_port,
			   uv_strerror(rc));
		srv->exit_code = 1;
		server_shutdown(srv, "listen failed");
		return 0; /* server_run drains and returns the exit code */
	}
	slog_info("server", "zkfs-server %s serving %s:%d, data %s, last zxid 0x%llx",
		  ZKFS_VERSION, host, srv->bound_port, cfg->data_dir,
		  (unsigned long long)core_last_zxid(srv->core));
	return 0;

err_log:
	zlog_close(srv->log);
	srv->log = NULL;
err_core:
	core_free(srv->core);
	srv->core = NULL;
	return rc;
}

static void on_commit_closed(void *arg)
{
	struct server *srv = arg;
	srv->commit = NULL;
	ens_free(srv); /* requests it still held are dropped: connections close */
	zlog_close(srv->log);
	srv->log = NULL;
	/* everything committed has been answered: send it, then close */
	for (struct conn *c = srv->conns; c;) {
		struct conn *next = c->next;
		net_close_after_flush(c, "server shutting down");
		c = next;
	}
	net_flush_all(srv);
	srv->hooks_closed = true;
	uv_close((uv_handle_t *)&srv->check, NULL);
	uv_close((uv_handle_t *)&srv->flush_idle, NULL);
	uv_close((uv_handle_t *)&srv->tick_timer, NULL);
	uv_close((uv_handle_t *)&srv->reap_timer, NULL);
	uv_close((uv_handle_t *)&srv->purge_timer, NULL);
	uv_close((uv_handle_t *)&srv->sigterm, NULL);
	uv_close((uv_handle_t *)&srv->sigint, NULL);
	slog_info("server", "shut down at zxid 0x%llx", (unsigned long long)core_last_zxid(srv->core));
}

void server_shutdown(struct server *srv, const char *why)
{
	if (srv->shutting_down)
		return;
	srv->shutting_down = true;
	slog_info("server", "shutting down (%s)", why);
	net_stop_listening(srv);
	/* stop taking requests; what is in the commit still gets answered */
	srv->throttled = true;
	for (struct conn *c = srv->conns; c; c = c->next)
		net_conn_update(c);
	uv_timer_stop(&srv->tick_timer);
	uv_timer_stop(&srv->reap_timer);
	uv_timer_stop(&srv->purge_timer);
	/* the snapshot under way is abandoned (the log holds everything) */
	snapper_cancel(srv->snapper);
	if (srv->zab)
		ens_close(srv, NULL);
	if (srv->commit)
		commit_close(srv->commit, on_commit_closed, srv);
	else
		on_commit_closed(srv);
}

int server_run(struct server *srv)
{
	uv_run(srv->loop, UV_RUN_DEFAULT);
	return srv->exit_code;
}

void server_free(struct server *srv)
{
	sasl_edge_done();
	if (srv->core)
		core_free(srv->core);
	srv->core = NULL;
	jute_out_free(&srv->scratch);
	tls_server_free(srv);
	free(srv->rshared);
	srv->rshared = NULL;
}
