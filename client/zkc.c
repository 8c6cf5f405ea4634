/*
 * zkc.c — libzkc sessions: connection management, request pipeline and the
 * watch registry, all on one libuv loop.
 *
 * Session state machine (s->st; transitions in the named functions):
 *
 *   ST_CONNECTING ──handshake_done──► ST_CONNECTED ──conn_lost──► ST_DISCONNECTED
 *        ▲   │ attempt_failed (next host, backoff after a round)      │
 *        └───┘                         ST_CONNECTED ◄─handshake_done──┘
 *   handshake with timeout 0 / other id ──► ST_EXPIRED      (session_end)
 *   auth reply -115                     ──► ST_AUTH_FAILED  (session_end)
 *   with SASL, handshake_done starts the exchange (connection phase 3, the
 *   session still CONNECTING/DISCONNECTED and under the attempt timeout);
 *   sasl_reply makes it ST_CONNECTED (open_done) or ST_AUTH_FAILED.
 *   zkc_session_close ──► ST_CLOSING ──close_finish──► ST_CLOSED (freed after uv_close)
 *
 * Timing (ZooKeeper's client rules): pings after 1/3 of the negotiated
 * timeout without sending (at most 10 s), the connection is declared dead
 * after 2/3 of it without receiving; a connect attempt (TCP + handshake) gets
 * timeout/nhosts, at most timeout/3 and at least 1 s.  After a failure the next host is tried at
 * once; after a whole round of failures the client backs off (100 ms
 * doubling to 1 s, with jitter).  One uv_timer per session serves all of
 * this: rearm() computes the earliest deadline and tick() acts on it.
 *
 * Requests already sent when a connection breaks fail with ConnectionLoss;
 * requests queued while disconnected wait for the next connection for at
 * most the session timeout.  Nothing is ever re-sent.  Watches are kept in
 * a per-session table (full paths) and re-registered after each handshake
 * with setWatches2 (relativeZxid = last zxid seen), so the server reports
 * what changed while the client was away.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zkc_int.h"
#include "zktls.h"

#define MIN_RBUF 16384
#define SW_CHUNK (128 * 1024)
#define MAX_BATCH 512

struct wbatch {
	uv_write_t w;
	struct zkc_conn *c;
	int n;
	uv_buf_t bufs[];
};

static void rearm(zkc_session *s);
static void conn_lost(zkc_session *s);
static void flush_cb(uv_prepare_t *p);
static void close_finish(zkc_session *s);
static void drain_waitq(zkc_session *s);

/* ------------------------------------------------------------------ small helpers */

static void set_pub_state(zkc_session *s, int st)
{
	__atomic_store_n(&s->pub_state, st, __ATOMIC_RELEASE);
}

static void report_state(zkc_session *s, int st)
{
	set_pub_state(s, st);
	if (s->open_wait) {
		if (st == ZKC_STATE_CONNECTED || st == ZKC_STATE_CONNECTED_RO)
			zkc__open_wait_done(s, ZE_OK);
		else if (st == ZKC_STATE_EXPIRED)
			zkc__open_wait_done(s, ZE_SESSIONEXPIRED);
		else if (st == ZKC_STATE_AUTH_FAILED)
			zkc__open_wait_done(s, ZE_AUTHFAILED);
		else if (st == ZKC_STATE_CLOSED)
			zkc__open_wait_done(s, ZE_CLOSING);
	}
	if (s->state_cb)
		s->state_cb(s, st, s->state_arg);
}

static void set_outstanding(zkc_session *s, int d)
{
	s->outstanding += d;
	__atomic_store_n(&s->outstanding_pub, s->outstanding, __ATOMIC_RELAXED);
}

static int timeout_ms(const zkc_session *s)
{
	int t = __atomic_load_n(&s->timeout_neg, __ATOMIC_RELAXED);
	return t > 0 ? t : s->timeout_req;
}

static uint64_t ping_interval(const zkc_session *s)
{
	uint64_t p = (uint64_t)timeout_ms(s) / 3;
	if (p > 10000)
		p = 10000;
	return p ? p : 1;
}

static uint64_t read_timeout(const zkc_session *s)
{
	return (uint64_t)timeout_ms(s) * 2 / 3;
}

/* TCP connect + handshake: timeout/nhosts as ZooKeeper's clients do, but
 * at most 1/3 of the timeout: a server that accepted the connection and
 * never answers (one still starting, say) must not use up the session. */
static uint64_t connect_timeout(const zkc_session *s)
{
	uint64_t t = (uint64_t)timeout_ms(s) / (uint64_t)s->nhosts;
	uint64_t cap = (uint64_t)timeout_ms(s) / 3;
	if (t > cap)
		t = cap;
	return t < 1000 ? 1000 : t;
}

/* ------------------------------------------------------------------ watch table */

static uint32_t hash_mem(const char *p, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

/* The entry of path[0..len) (not necessarily NUL-terminated there). */
static struct zkc_wentry *wt_find(struct zkc_wtable *t, const char *path, size_t len)
{
	if (!t->nb)
		return NULL;
	uint32_t h = hash_mem(path, len);
	for (struct zkc_wentry *e = t->b[h & (t->nb - 1)]; e; e = e->next)
		if (e->hash == h && strncmp(e->path, path, len) == 0 && e->path[len] == 0)
			return e;
	return NULL;
}

static int wt_grow(struct zkc_wtable *t)
{
	size_t nb = t->nb ? t->nb * 2 : 16;
	struct zkc_wentry **b = calloc(nb, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < t->nb; i++) {
		struct zkc_wentry *e = t->b[i], *n;
		for (; e; e = n) {
			n = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
	return 0;
}

/* Adds (fn, arg) to path's list of kind unless already there.  0 or -ENOMEM. */
static int wt_add(struct zkc_wtable *t, const char *path, int kind, zkc_watch_fn fn, void *arg)
{
	struct zkc_wentry *e = wt_find(t, path, strlen(path));
	if (!e) {
		if (t->n >= t->nb && wt_grow(t))
			return -ENOMEM;
		size_t len = strlen(path);
		e = calloc(1, sizeof(*e) + len + 1);
		if (!e)
			return -ENOMEM;
		memcpy(e->path, path, len + 1);
		e->hash = hash_mem(path, len);
		e->next = t->b[e->hash & (t->nb - 1)];
		t->b[e->hash & (t->nb - 1)] = e;
		t->n++;
	}
	for (struct zkc_watcher *w = e->w[kind]; w; w = w->next)
		if (w->fn == fn && w->arg == arg)
			return 0;
	struct zkc_watcher *w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fn = fn;
	w->arg = arg;
	w->next = e->w[kind];
	e->w[kind] = w;
	return 0;
}

static void wt_drop_if_empty(struct zkc_wtable *t, struct zkc_wentry *e)
{
	for (int k = 0; k < W_NKINDS; k++)
		if (e->w[k])
			return;
	struct zkc_wentry **pp = &t->b[e->hash & (t->nb - 1)];
	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	t->n--;
	free(e);
}

/* A collected call, made after the table is consistent again. */
struct wcall {
	zkc_watch_fn fn;
	void *arg;
	int type;
	bool once; /* a final call (one-shot, removed, session end) */
};

struct wcalls {
	struct wcall *v;
	size_t n, cap;
};

static void wc_push_once(struct wcalls *c, zkc_watch_fn fn, void *arg, int type, bool once)
{
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 8;
		struct wcall *v = realloc(c->v, ncap * sizeof(*v));
		if (!v)
			return; /* out of memory: the watcher is lost, nothing else */
		c->v = v;
		c->cap = ncap;
	}
	c->v[c->n++] = (struct wcall){fn, arg, type, once};
}

/* A final call: the registration is gone from the table. */
static void wc_push(struct wcalls *c, zkc_watch_fn fn, void *arg, int type)
{
	wc_push_once(c, fn, arg, type, true);
}

/* Moves a one-shot list into calls and frees it. */
static void take_list(struct zkc_wentry *e, int kind, struct wcalls *c, int type)
{
	struct zkc_watcher *w = e->w[kind], *n;
	e->w[kind] = NULL;
	for (; w; w = n) {
		n = w->next;
		wc_push(c, w->fn, w->arg, type);
		free(w);
	}
}

static void copy_list(struct zkc_wentry *e, int kind, struct wcalls *c, int type)
{
	for (struct zkc_watcher *w = e->w[kind]; w; w = w->next)
		wc_push_once(c, w->fn, w->arg, type, false);
}

static void run_calls(zkc_session *s, struct wcalls *c, const char *path, int state)
{
	struct zkc_event ev = {.state = state, .path = path};
	for (size_t i = 0; i < c->n; i++) {
		/* A callback may end the session; persistent watchers have then
		 * had their final call and must hear nothing more. */
		if (!c->v[i].once && (s->st == ST_CLOSED || s->st == ST_EXPIRED || s->st == ST_AUTH_FAILED))
			continue;
		ev.type = c->v[i].type;
		c->v[i].fn(s, &ev, c->v[i].arg);
	}
	free(c->v);
	c->v = NULL;
	c->n = c->cap = 0;
}

/* A server notification for full path `full`. */
static void dispatch_event(zkc_session *s, int type, const char *full)
{
	struct wcalls c = {0};
	struct zkc_wtable *t = &s->wt;
	size_t len = strlen(full);
	struct zkc_wentry *e = wt_find(t, full, len);
	if (e) {
		switch (type) {
		case ZK_EVENT_CREATED:
		case ZK_EVENT_DATA_CHANGED:
			take_list(e, W_DATA, &c, type);
			take_list(e, W_EXIST, &c, type);
			break;
		case ZK_EVENT_DELETED:
			take_list(e, W_DATA, &c, type);
			take_list(e, W_EXIST, &c, type);
			take_list(e, W_CHILD, &c, type);
			break;
		case ZK_EVENT_CHILD_CHANGED:
			take_list(e, W_CHILD, &c, type);
			break;
		}
		copy_list(e, W_PERSIST, &c, type);
	}
	if (type != ZK_EVENT_CHILD_CHANGED) {
		/* Recursive watches on the path and each ancestor. */
		size_t l = len;
		for (;;) {
			struct zkc_wentry *a = wt_find(t, full, l);
			if (a)
				copy_list(a, W_RECURSIVE, &c, type);
			if (l <= 1)
				break;
			l = zk_path_parent_len(full, l);
			if (l == 0)
				break;
		}
	}
	if (e)
		wt_drop_if_empty(t, e);
	const char *rel = zkc__strip(s, full);
	if (c.n) {
		char *p = strdup(rel);
		run_calls(s, &c, p ? p : rel, ZKC_STATE_CONNECTED);
		free(p);
	}
}

/* Ends every watch with a NONE event of `state` and empties the table. */
static void wt_end_all(zkc_session *s, int state)
{
	struct zkc_wtable *t = &s->wt;
	struct zkc_wentry **b = t->b;
	size_t nb = t->nb;
	t->b = NULL;
	t->nb = t->n = 0;
	for (size_t i = 0; i < nb; i++) {
		struct zkc_wentry *e = b[i], *n;
		for (; e; e = n) {
			n = e->next;
			struct wcalls c = {0};
			for (int k = 0; k < W_NKINDS; k++)
				take_list(e, k, &c, ZK_EVENT_NONE);
			run_calls(s, &c, zkc__strip(s, e->path), state);
			free(e);
		}
	}
	free(b);
}

/* ------------------------------------------------------------------ completion */

static void complete(struct zkc_req *q, int err, struct zkc_result *res)
{
	zkc_session *s = q->s;
	struct zkc_result empty = {0};
	if (!res)
		res = &empty;
	set_outstanding(s, -1);
	if (q->done)
		q->done(s, err, res, q->arg);
	zkc_result_free(res);
	zkc__req_free(q);
}

/* Fails every request of a detached list. */
static void fail_list(struct zkc_req *q, int err)
{
	struct zkc_req *n;
	for (; q; q = n) {
		n = q->next;
		complete(q, err, NULL);
	}
}

static void fail_waitq(zkc_session *s, int err)
{
	struct zkc_req *q = s->waitq, *n;
	s->waitq = s->waitq_tail = NULL;
	for (; q; q = n) {
		n = q->next;
		set_outstanding(s, 1); /* complete() counts it down */
		complete(q, err, NULL);
	}
}

static void fail_authq(zkc_session *s, int err)
{
	struct zkc_authwait *a = s->authq, *n;
	s->authq = s->authq_tail = NULL;
	for (; a; a = n) {
		n = a->next;
		if (a->req)
			complete(a->req, err, NULL);
		free(a);
	}
}

static void fail_pending(zkc_session *s, int err)
{
	struct zkc_req *q = s->pending;
	s->pending = s->pending_tail = NULL;
	fail_list(q, err);
}

static void fail_all(zkc_session *s, int err)
{
	fail_pending(s, err);
	struct zkc_req *q = s->unsent;
	s->unsent = s->unsent_tail = NULL;
	fail_list(q, err);
	fail_waitq(s, err);
	fail_authq(s, err);
	q = s->doneq;
	s->doneq = s->doneq_tail = NULL;
	for (struct zkc_req *n; q; q = n) {
		n = q->next;
		complete(q, q->local_err, NULL);
	}
	for (struct zkc_authent *a = s->auths; a; a = a->next)
		if (a->waiter) {
			struct zkc_req *w = a->waiter;
			a->waiter = NULL;
			complete(w, err, NULL);
		}
}

/* ------------------------------------------------------------------ connection I/O */

static void conn_close_cb(uv_handle_t *h)
{
	struct zkc_conn *c = h->data;
	zkc__tls_conn_free(c);
	free(c->rbuf);
	free(c);
}

/* Detaches the current connection from its session and closes it. */
static void conn_detach(zkc_session *s)
{
	struct zkc_conn *c = s->conn;
	if (!c)
		return;
	s->conn = NULL;
	c->s = NULL;
	uv_mutex_lock(&s->info_mu);
	s->server[0] = 0;
	uv_mutex_unlock(&s->info_mu);
	uv_prepare_stop(&s->flush);
	zkc__sasl_reset(s->sasl);
	/* A pending connect request keeps the handle; uv_close cancels it. */
	uv_close((uv_handle_t *)&c->tcp, conn_close_cb);
}

static void write_cb(uv_write_t *w, int status)
{
	struct wbatch *b = (struct wbatch *)w;
	for (int i = 0; i < b->n; i++)
		free(b->bufs[i].base);
	struct zkc_conn *c = b->c;
	free(b);
	if (status < 0 && c->s && c->s->conn == c)
		conn_lost(c->s);
}

/* Writes n malloc'd buffers (ownership passes here).  false if the write
 * could not start (the connection is then lost). */
static bool stream_writev(zkc_session *s, uv_buf_t *bufs, int n)
{
	struct zkc_conn *c = s->conn;
	struct wbatch *b = malloc(sizeof(*b) + (size_t)n * sizeof(uv_buf_t));
	if (!b) {
		for (int i = 0; i < n; i++)
			free(bufs[i].base);
		conn_lost(s);
		return false;
	}
	b->c = c;
	b->n = n;
	memcpy(b->bufs, bufs, (size_t)n * sizeof(uv_buf_t));
	if (uv_write(&b->w, (uv_stream_t *)&c->tcp, b->bufs, (unsigned)n, write_cb) < 0) {
		for (int i = 0; i < n; i++)
			free(b->bufs[i].base);
		free(b);
		conn_lost(s);
		return false;
	}
	s->last_send = zkc__now(s);
	return true;
}

/* Plaintext out: through TLS when the connection has it. */
static bool conn_writev(zkc_session *s, uv_buf_t *bufs, int n)
{
	if (s->conn->tls)
		return zkc__tls_writev(s, s->conn, bufs, n);
	return stream_writev(s, bufs, n);
}

static bool conn_write(zkc_session *s, uint8_t *buf, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
	return conn_writev(s, &b, 1);
}

bool zkc__conn_write_raw(zkc_session *s, uint8_t *buf, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
	return stream_writev(s, &b, 1);
}

void zkc__conn_lost(zkc_session *s)
{
	conn_lost(s);
}

static bool write_request(zkc_session *s, const struct zk_request *r)
{
	struct jute_out o;
	jute_out_init(&o);
	zk_request_put(&o, r);
	if (o.err) {
		jute_out_free(&o);
		conn_lost(s);
		return false;
	}
	size_t len;
	uint8_t *p = jute_out_steal(&o, &len);
	return conn_write(s, p, len);
}

static void send_ping(zkc_session *s)
{
	struct zk_request r = {.xid = ZXID_PING, .type = ZOP_PING};
	write_request(s, &r);
}

static bool send_auth(zkc_session *s, struct zkc_authent *a, struct zkc_req *waiter)
{
	struct zkc_authwait *w = calloc(1, sizeof(*w));
	if (!w) {
		conn_lost(s);
		return false;
	}
	struct zk_request r = {.xid = ZXID_AUTH, .type = ZOP_AUTH, .auth_scheme = a->scheme, .auth_data = a->data,
			       .auth_len = (int32_t)a->len};
	w->req = waiter;
	if (s->authq_tail)
		s->authq_tail->next = w;
	else
		s->authq = w;
	s->authq_tail = w;
	return write_request(s, &r);
}

/* setWatches2 (or setWatches) in chunks of about SW_CHUNK path bytes. */
static bool send_set_watches(zkc_session *s)
{
	struct zkc_wtable *t = &s->wt;
	if (!t->n)
		return true;
	int nk = s->no_sw2 ? 3 : W_NKINDS;
	struct zk_request r = {.xid = ZXID_SETWATCHES, .type = s->no_sw2 ? ZOP_SETWATCHES : ZOP_SETWATCHES2,
			       .rel_zxid = s->last_zxid};
	int32_t cap[W_NKINDS] = {0};
	size_t bytes = 0;
	bool ok = true;
	for (size_t i = 0; i <= t->nb && ok; i++) {
		struct zkc_wentry *e = i < t->nb ? t->b[i] : NULL;
		for (; e; e = e->next) {
			for (int k = 0; k < nk; k++) {
				if (!e->w[k])
					continue;
				struct zk_str_vec *v = &r.watches[k];
				if (v->n == cap[k]) {
					int32_t nc = cap[k] ? cap[k] * 2 : 16;
					char **nv = realloc(v->v, (size_t)nc * sizeof(char *));
					if (!nv) {
						ok = false;
						break;
					}
					v->v = nv;
					cap[k] = nc;
				}
				v->v[v->n++] = e->path;
				bytes += strlen(e->path) + 4;
			}
		}
		bool last = i == t->nb;
		if (ok && (bytes >= SW_CHUNK || last) && bytes > 0) {
			ok = write_request(s, &r);
			for (int k = 0; k < W_NKINDS; k++)
				r.watches[k].n = 0;
			bytes = 0;
		}
	}
	for (int k = 0; k < W_NKINDS; k++)
		free(r.watches[k].v);
	s->sent_sw2 = !s->no_sw2;
	if (!ok && s->conn)
		conn_lost(s);
	return ok;
}

/* ------------------------------------------------------------------ reconnect machinery */

static void tcp_connect_cb(uv_connect_t *req, int status);
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void start_attempt(zkc_session *s)
{
	s->next_attempt = 0;
	s->attempt_start = zkc__now(s);
	s->host_idx = (s->host_idx + 1) % s->nhosts;
	struct zkc_host *h = &s->hosts[s->host_idx];
	struct zkc_conn *c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	if (uv_tcp_init(s->loop, &c->tcp) < 0) {
		free(c);
		goto fail;
	}
	c->tcp.data = c;
	c->s = s;
	s->conn = c;
	uv_tcp_nodelay(&c->tcp, 1);
	if (uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&h->sa, tcp_connect_cb) < 0) {
		conn_detach(s);
		goto fail;
	}
	c->connecting = true;
	rearm(s);
	return;
fail:
	/* Count it as a failed attempt; retry from the timer (no recursion). */
	s->fails++;
	s->next_attempt = zkc__now(s) + 100;
	rearm(s);
}

/* Schedules the next attempt after a failure or a lost connection. */
static void schedule_retry(zkc_session *s)
{
	uint64_t now = zkc__now(s);
	s->fails++;
	uint64_t delay = 0;
	if (s->fails >= s->nhosts) {
		int round = s->fails / s->nhosts;
		delay = 100u << (round > 4 ? 4 : round - 1);
		if (delay > 1000)
			delay = 1000;
		delay += (uint64_t)(rand() % 50);
	}
	s->next_attempt = now + delay;
	rearm(s);
}

/* The current attempt or connection failed (loop thread). */
static void conn_lost(zkc_session *s)
{
	if (!s->conn)
		return;
	bool was_open = s->conn->phase == 2;
	conn_detach(s);
	if (s->st == ST_CLOSING) {
		close_finish(s);
		return;
	}
	fail_authq(s, ZE_CONNECTIONLOSS);
	fail_pending(s, ZE_CONNECTIONLOSS);
	if (s->st == ST_EXPIRED || s->st == ST_AUTH_FAILED || s->st == ST_CLOSED)
		return;
	if (was_open) {
		s->fails = 0;
		s->st = ST_DISCONNECTED;
		report_state(s, ZKC_STATE_DISCONNECTED);
		if (s->st != ST_DISCONNECTED)
			return; /* the callback closed the session */
	}
	schedule_retry(s);
}

/* Expired or auth failed: the session is over for good. */
static void session_end(zkc_session *s, int st, int pub, int err)
{
	conn_detach(s);
	s->st = st;
	uv_timer_stop(&s->timer);
	fail_all(s, err);
	wt_end_all(s, pub);
	report_state(s, pub);
}

static void tcp_connect_cb(uv_connect_t *req, int status)
{
	struct zkc_conn *c = (struct zkc_conn *)req->handle->data;
	c->connecting = false;
	zkc_session *s = c->s;
	if (!s)
		return;
	if (status < 0) {
		conn_lost(s);
		return;
	}
	struct zk_connect_req cr = {.protocol_version = 0,
				    .last_zxid_seen = s->last_zxid,
				    .timeout = s->timeout_req,
				    .read_only = s->read_only,
				    .has_read_only = true};
	uv_mutex_lock(&s->info_mu);
	cr.session_id = s->session_id;
	memcpy(cr.passwd, s->passwd, 16);
	uv_mutex_unlock(&s->info_mu);
	struct jute_out o;
	jute_out_init(&o);
	zk_connect_req_put(&o, &cr);
	if (o.err) {
		jute_out_free(&o);
		conn_lost(s);
		return;
	}
	c->phase = 1;
	if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) < 0) {
		jute_out_free(&o);
		conn_lost(s);
		return;
	}
	if (s->tls_ctx && !zkc__tls_start(s, c, s->hosts[s->host_idx].host)) {
		jute_out_free(&o);
		return;
	}
	size_t len;
	uint8_t *p = jute_out_steal(&o, &len);
	conn_write(s, p, len);
}

static void send_sasl(zkc_session *s, const char *tok, unsigned toklen);
static void sasl_go_on(zkc_session *s, int rc, const char *tok, unsigned toklen);
static void open_done(zkc_session *s);

static void handshake_done(zkc_session *s, const uint8_t *body, size_t len)
{
	struct zk_connect_resp r;
	if (zk_connect_resp_get(body, len, &r)) {
		conn_lost(s);
		return;
	}
	int64_t old_id;
	uv_mutex_lock(&s->info_mu);
	old_id = s->session_id;
	uv_mutex_unlock(&s->info_mu);
	if (r.timeout <= 0 || (old_id != 0 && r.session_id != old_id)) {
		session_end(s, ST_EXPIRED, ZKC_STATE_EXPIRED, ZE_SESSIONEXPIRED);
		return;
	}
	struct zkc_conn *c = s->conn;
	uv_mutex_lock(&s->info_mu);
	s->session_id = r.session_id;
	memcpy(s->passwd, r.passwd, 16);
	snprintf(s->server, sizeof(s->server), "%s", s->hosts[s->host_idx].name);
	uv_mutex_unlock(&s->info_mu);
	__atomic_store_n(&s->timeout_neg, r.timeout, __ATOMIC_RELAXED);
	s->ro_conn = r.read_only;
	s->last_recv = zkc__now(s);
	if (s->sasl) {
		const char *tok;
		unsigned toklen;
		c->phase = 3;
		int rc = zkc__sasl_begin(s->sasl, (const struct sockaddr *)&s->hosts[s->host_idx].sa,
					 &tok, &toklen);
		sasl_go_on(s, rc, tok, toklen); /* tok is set only once begin returned */
		return;
	}
	open_done(s);
}

/* A SASL token to the server, with the next xid as ZooKeeper's clients do. */
static void send_sasl(zkc_session *s, const char *tok, unsigned toklen)
{
	struct zk_request r = {.xid = s->next_xid++, .type = ZOP_SASL,
			       .auth_data = (uint8_t *)(uintptr_t)tok, .auth_len = (int32_t)toklen};
	if (s->next_xid <= 0)
		s->next_xid = 1;
	s->sasl_xid = r.xid;
	write_request(s, &r);
}

static void sasl_failed(zkc_session *s, int err)
{
	session_end(s, ST_AUTH_FAILED, ZKC_STATE_AUTH_FAILED, err);
}

/* After a client step (rc of zkc__sasl_begin/next): fail, send the next
 * token, or open the connection. */
static void sasl_go_on(zkc_session *s, int rc, const char *tok, unsigned toklen)
{
	if (rc < 0)
		sasl_failed(s, ZE_AUTHFAILED);
	else if (rc > 0)
		send_sasl(s, tok, toklen);
	else
		open_done(s);
}

/* The server's answer to a SASL token (connection phase 3). */
static void sasl_reply(zkc_session *s, const uint8_t *body, size_t len)
{
	if (len < 16) {
		conn_lost(s);
		return;
	}
	int32_t xid = (int32_t)jute_load32(body);
	int32_t herr = (int32_t)jute_load32(body + 12);
	if (xid == ZXID_NOTIFICATION || xid == ZXID_PING)
		return;
	if (xid != s->sasl_xid) {
		conn_lost(s);
		return;
	}
	if (herr) {
		/* AuthFailed, or -124 from a server that requires SASL */
		sasl_failed(s, herr == ZE_SESSIONCLOSEDREQUIRESASLAUTH ? herr : ZE_AUTHFAILED);
		return;
	}
	struct zk_response r;
	if (zk_response_get(body, len, ZOP_SASL, &r)) {
		sasl_failed(s, ZE_AUTHFAILED);
		return;
	}
	const char *tok;
	unsigned toklen;
	int rc = zkc__sasl_next(s->sasl, r.r.data, r.r.data_len, &tok, &toklen);
	zk_response_free(&r);
	sasl_go_on(s, rc, tok, toklen);
}

/* The connection is ready for requests (after the handshake and SASL). */
static void open_done(zkc_session *s)
{
	struct zkc_conn *c = s->conn;
	c->phase = 2;
	s->fails = 0;
	s->st = ST_CONNECTED;
	/* Credentials first, then watches, then whatever was queued. */
	for (struct zkc_authent *a = s->auths; a && s->conn == c; a = a->next) {
		struct zkc_req *w = a->waiter;
		a->waiter = NULL;
		send_auth(s, a, w);
	}
	if (s->conn == c)
		send_set_watches(s);
	if (s->conn != c)
		return;
	if (s->unsent)
		uv_prepare_start(&s->flush, flush_cb);
	rearm(s);
	report_state(s, s->ro_conn ? ZKC_STATE_CONNECTED_RO : ZKC_STATE_CONNECTED);
}

/* ------------------------------------------------------------------ replies */

static void register_watch(zkc_session *s, struct zkc_req *q, int err)
{
	if (q->wkind == W_NONE || !q->wfn)
		return;
	int kind = q->wkind;
	if (q->type == ZOP_EXISTS) {
		if (err == ZE_NONODE)
			kind = W_EXIST;
		else if (err != ZE_OK)
			return;
	} else if (err != ZE_OK) {
		return;
	}
	wt_add(&s->wt, q->wpath, kind, q->wfn, q->warg);
}

static void strip_result(zkc_session *s, int type, struct zk_result *r)
{
	switch (type) {
	case ZOP_CREATE:
	case ZOP_CREATE2:
	case ZOP_CREATECONTAINER:
	case ZOP_CREATETTL:
	case ZOP_SYNC:
		zkc__strip_inplace(s, &r->path);
		break;
	case ZOP_GETEPHEMERALS:
		for (int32_t i = 0; i < r->children.n; i++)
			zkc__strip_inplace(s, &r->children.v[i]);
		break;
	}
}

/* Local part of removeWatches once the server agreed (or local-only). */
static int remove_local(zkc_session *s, struct zkc_req *q, bool dry)
{
	struct zkc_wentry *e = wt_find(&s->wt, q->wpath, strlen(q->wpath));
	if (!e)
		return 0;
	int kinds[W_NKINDS], nk = 0;
	switch (q->wtype) {
	case ZK_WATCHER_CHILDREN:
		kinds[nk++] = W_CHILD;
		break;
	case ZK_WATCHER_DATA:
		kinds[nk++] = W_DATA;
		kinds[nk++] = W_EXIST;
		break;
	case ZK_WATCHER_ANY:
		for (int k = 0; k < W_NKINDS; k++)
			kinds[nk++] = k;
		break;
	case ZK_WATCHER_PERSISTENT:
		kinds[nk++] = W_PERSIST;
		break;
	case ZK_WATCHER_PERSISTENT_RECURSIVE:
		kinds[nk++] = W_RECURSIVE;
		break;
	}
	int found = 0;
	struct wcalls c = {0};
	for (int i = 0; i < nk; i++) {
		int k = kinds[i];
		int ev = k == W_CHILD ? ZK_EVENT_CHILD_WATCH_REMOVED
				      : (k == W_PERSIST || k == W_RECURSIVE ? ZK_EVENT_PERSISTENT_WATCH_REMOVED
									    : ZK_EVENT_DATA_WATCH_REMOVED);
		struct zkc_watcher **pp = &e->w[k];
		while (*pp) {
			struct zkc_watcher *w = *pp;
			if (!q->wfn || (w->fn == q->wfn && w->arg == q->warg)) {
				found++;
				if (dry) {
					pp = &w->next;
					continue;
				}
				*pp = w->next;
				wc_push(&c, w->fn, w->arg, ev);
				free(w);
			} else {
				pp = &w->next;
			}
		}
	}
	if (!dry) {
		char *p = strdup(zkc__strip(s, e->path));
		wt_drop_if_empty(&s->wt, e);
		run_calls(s, &c, p ? p : "", ZKC_STATE_CONNECTED);
		free(p);
	}
	return found;
}

/* True when, after removing q's matches, watchers of q's type remain on the path. */
static bool others_remain(zkc_session *s, struct zkc_req *q)
{
	if (!q->wfn)
		return false;
	struct zkc_wentry *e = wt_find(&s->wt, q->wpath, strlen(q->wpath));
	if (!e)
		return false;
	int k1 = -1, k2 = -1;
	switch (q->wtype) {
	case ZK_WATCHER_CHILDREN: k1 = W_CHILD; break;
	case ZK_WATCHER_DATA: k1 = W_DATA; k2 = W_EXIST; break;
	case ZK_WATCHER_PERSISTENT: k1 = W_PERSIST; break;
	case ZK_WATCHER_PERSISTENT_RECURSIVE: k1 = W_RECURSIVE; break;
	default: return false; /* ANY: always ask the server */
	}
	int kk[2] = {k1, k2};
	for (int i = 0; i < 2; i++) {
		if (kk[i] < 0)
			continue;
		for (struct zkc_watcher *w = e->w[kk[i]]; w; w = w->next)
			if (!(w->fn == q->wfn && w->arg == q->warg))
				return true;
	}
	return false;
}

/* True when path has watchers of a kind other than q's persistent kind, or
 * of q's kind but not matched by q. */
static bool other_kinds(zkc_session *s, struct zkc_req *q)
{
	struct zkc_wentry *e = wt_find(&s->wt, q->wpath, strlen(q->wpath));
	if (!e)
		return false;
	int mine = q->wtype == ZK_WATCHER_PERSISTENT ? W_PERSIST : W_RECURSIVE;
	for (int k = 0; k < W_NKINDS; k++)
		for (struct zkc_watcher *w = e->w[k]; w; w = w->next)
			if (k != mine || (q->wfn && !(w->fn == q->wfn && w->arg == q->warg)))
				return true;
	return false;
}

static void process_reply(zkc_session *s, const uint8_t *body, size_t len)
{
	struct zkc_conn *c = s->conn;
	int32_t xid = (int32_t)jute_load32(body);
	int64_t zxid = (int64_t)jute_load64(body + 4);
	int32_t herr = (int32_t)jute_load32(body + 12);
	struct zk_response r;

	if (xid == ZXID_NOTIFICATION) {
		if (zk_response_get(body, len, 0, &r) == 0) {
			if (r.ev.path && r.ev.type != ZK_EVENT_NONE)
				dispatch_event(s, r.ev.type, r.ev.path);
			zk_response_free(&r);
		}
		return;
	}
	if (xid == ZXID_PING)
		return;
	if (xid == ZXID_AUTH) {
		struct zkc_authwait *a = s->authq;
		if (a) {
			s->authq = a->next;
			if (!s->authq)
				s->authq_tail = NULL;
			struct zkc_req *q = a->req;
			free(a);
			if (q)
				complete(q, herr ? ZE_AUTHFAILED : ZE_OK, NULL);
		}
		if (herr && s->conn == c)
			session_end(s, ST_AUTH_FAILED, ZKC_STATE_AUTH_FAILED, ZE_AUTHFAILED);
		return;
	}
	if (xid == ZXID_SETWATCHES) {
		if (herr == ZE_UNIMPLEMENTED && s->sent_sw2) {
			/* An old server: use setWatches from now on. */
			s->no_sw2 = true;
			conn_lost(s);
		}
		return;
	}
	if (s->close_xid && xid == s->close_xid) {
		close_finish(s);
		return;
	}
	if (s->st == ST_CLOSING)
		return; /* answers to requests already failed with ZE_CLOSING */
	struct zkc_req *q = s->pending;
	if (!q || q->xid != xid) {
		conn_lost(s); /* out of order: the stream cannot be trusted */
		return;
	}
	s->pending = q->next;
	if (!s->pending)
		s->pending_tail = NULL;
	q->next = NULL;
	if (zxid > 0 && zxid > s->last_zxid)
		__atomic_store_n(&s->last_zxid, zxid, __ATOMIC_RELAXED);

	struct zkc_result res = {.zxid = zxid};
	int err = herr;
	int rc = zk_response_get(body, len, q->type, &r);
	if (rc == -ENOMEM) {
		err = ZE_SYSTEMERROR;
	} else if (rc) {
		err = ZE_MARSHALLINGERROR;
	} else {
		err = r.err;
		res.r = r.r;
		res.nres = r.nres;
		res.res = r.res;
		strip_result(s, q->type, &res.r);
		for (int32_t i = 0; i < res.nres; i++)
			strip_result(s, res.res[i].type, &res.res[i]);
	}
	if (q->type == ZOP_ADDWATCH && err == ZE_OK && res.r.err)
		err = res.r.err;
	register_watch(s, q, err);
	if (q->type == ZOP_REMOVEWATCHES && (err == ZE_OK || q->wlocal)) {
		int found = remove_local(s, q, false);
		if (err != ZE_OK && found)
			err = ZE_OK;
	}
	complete(q, err, &res);
	drain_waitq(s);
}

/* Fails the head request because its reply was too large to accept. */
static void oversize_reply(zkc_session *s, int32_t xid)
{
	struct zkc_req *q = s->pending;
	if (!q || q->xid != xid)
		return; /* a huge notification or similar: ignored */
	s->pending = q->next;
	if (!s->pending)
		s->pending_tail = NULL;
	complete(q, ZE_MARSHALLINGERROR, NULL);
	drain_waitq(s);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct zkc_conn *c = h->data;
	(void)suggested;
	if (c->tls) {
		*buf = zkc__tls_rbuf(c);
		return;
	}
	size_t need = MIN_RBUF;
	if (c->rlen >= 4 && !c->skip && !c->skip_hdr_need) {
		size_t flen = (size_t)jute_load32(c->rbuf) + 4;
		if (flen > c->rlen && flen - c->rlen > need)
			need = flen - c->rlen;
	}
	if (c->rcap - c->rlen < need) {
		size_t ncap = c->rlen + need;
		uint8_t *p = realloc(c->rbuf, ncap);
		if (!p) {
			*buf = uv_buf_init(NULL, 0);
			return;
		}
		c->rbuf = p;
		c->rcap = ncap;
	}
	*buf = uv_buf_init((char *)c->rbuf + c->rlen, (unsigned)(c->rcap - c->rlen));
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct zkc_conn *c = st->data;
	zkc_session *s = c->s;
	if (!s)
		return;
	if (nread < 0) {
		conn_lost(s);
		return;
	}
	if (nread == 0)
		return;
	if (c->tls) {
		if (!zkc__tls_input(s, c, (const uint8_t *)buf->base, (size_t)nread))
			return;
	} else {
		c->rlen += (size_t)nread;
	}
	s->last_recv = zkc__now(s);
	size_t pos = 0;
	while (c->s == s && s->conn == c) {
		size_t avail = c->rlen - pos;
		if (c->skip_hdr_need) {
			size_t n = avail < c->skip_hdr_need ? avail : c->skip_hdr_need;
			memcpy(c->skip_hdr + c->skip_hdr_len, c->rbuf + pos, n);
			c->skip_hdr_len += n;
			c->skip_hdr_need -= n;
			pos += n;
			if (c->skip_hdr_need)
				break;
			oversize_reply(s, (int32_t)jute_load32(c->skip_hdr));
			continue;
		}
		if (c->skip) {
			size_t n = avail < c->skip ? avail : c->skip;
			c->skip -= n;
			pos += n;
			if (c->skip)
				break;
			continue;
		}
		if (avail < 4)
			break;
		uint32_t flen = jute_load32(c->rbuf + pos);
		if (flen > INT32_MAX || (c->phase >= 2 && flen < 16)) {
			conn_lost(s);
			return;
		}
		if (flen > s->max_frame) {
			if (c->phase != 2) { /* also a huge SASL token */
				conn_lost(s);
				return;
			}
			pos += 4;
			c->skip_hdr_need = 16;
			c->skip_hdr_len = 0;
			c->skip = flen - 16;
			continue;
		}
		if (avail < 4 + (size_t)flen)
			break;
		const uint8_t *body = c->rbuf + pos + 4;
		pos += 4 + (size_t)flen;
		if (c->phase == 1)
			handshake_done(s, body, flen);
		else if (c->phase == 3)
			sasl_reply(s, body, flen);
		else
			process_reply(s, body, flen);
	}
	if (c->s != s)
		return; /* detached meanwhile; the buffer goes with the handle */
	if (pos) {
		memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
		c->rlen -= pos;
	}
	if (c->rlen == 0 && c->rcap > 4 * MIN_RBUF) {
		free(c->rbuf); /* give a large reply's buffer back */
		c->rbuf = NULL;
		c->rcap = 0;
	}
}

/* ------------------------------------------------------------------ sending */

static void flush_cb(uv_prepare_t *p)
{
	zkc_session *s = p->data;
	if (!s->conn || s->conn->phase != 2 || !s->unsent) {
		uv_prepare_stop(p);
		return;
	}
	while (s->unsent && s->conn) {
		uv_buf_t bufs[MAX_BATCH];
		int n = 0;
		while (s->unsent && n < MAX_BATCH) {
			struct zkc_req *q = s->unsent;
			s->unsent = q->next;
			if (!s->unsent)
				s->unsent_tail = NULL;
			q->next = NULL;
			bufs[n++] = uv_buf_init((char *)q->frame, (unsigned)q->flen);
			q->frame = NULL;
			if (s->pending_tail)
				s->pending_tail->next = q;
			else
				s->pending = q;
			s->pending_tail = q;
		}
		if (!conn_writev(s, bufs, n))
			break;
	}
	uv_prepare_stop(p);
}

static void enqueue(zkc_session *s, struct zkc_req *q)
{
	q->xid = s->next_xid++;
	if (s->next_xid <= 0)
		s->next_xid = 1;
	jute_store32(q->frame + 4, (uint32_t)q->xid);
	q->queued_at = zkc__now(s);
	q->next = NULL;
	if (s->unsent_tail)
		s->unsent_tail->next = q;
	else
		s->unsent = q;
	s->unsent_tail = q;
	set_outstanding(s, 1);
	if (s->st == ST_CONNECTED)
		uv_prepare_start(&s->flush, flush_cb);
	else if (q == s->unsent)
		rearm(s); /* its queue deadline may be the next timer event */
}

static void drain_waitq(zkc_session *s)
{
	while (s->waitq && s->outstanding < s->max_outstanding) {
		struct zkc_req *q = s->waitq;
		s->waitq = q->next;
		if (!s->waitq)
			s->waitq_tail = NULL;
		enqueue(s, q);
	}
}

/* Deferred completion for requests answered locally: the API promises that
 * callbacks never run inside the submitting call. */
static void done_timer_cb(uv_timer_t *t)
{
	zkc_session *s = t->data;
	struct zkc_req *q = s->doneq, *n;
	s->doneq = s->doneq_tail = NULL;
	for (; q; q = n) {
		n = q->next;
		complete(q, q->local_err, NULL);
	}
}

static int complete_later(zkc_session *s, struct zkc_req *q, int err)
{
	q->local_err = err;
	q->next = NULL;
	if (s->doneq_tail)
		s->doneq_tail->next = q;
	else
		s->doneq = q;
	s->doneq_tail = q;
	set_outstanding(s, 1);
	uv_timer_start(&s->done_timer, done_timer_cb, 0, 0);
	return ZE_OK;
}

static int submit_auth(zkc_session *s, struct zkc_req *q)
{
	struct zkc_authent *a = calloc(1, sizeof(*a));
	if (!a) {
		zkc__req_free(q);
		return ZE_SYSTEMERROR;
	}
	a->scheme = q->auth_scheme;
	a->data = q->auth_data;
	a->len = q->auth_len;
	q->auth_scheme = NULL;
	q->auth_data = NULL;
	struct zkc_authent **pp = &s->auths;
	while (*pp)
		pp = &(*pp)->next;
	*pp = a;
	set_outstanding(s, 1);
	if (s->st == ST_CONNECTED && s->conn)
		send_auth(s, a, q);
	else
		a->waiter = q;
	return ZE_OK;
}

int zkc__req_submit(struct zkc_req *q)
{
	zkc_session *s = q->s;
	int err = ZE_OK;
	switch (s->st) {
	case ST_EXPIRED: err = ZE_SESSIONEXPIRED; break;
	case ST_AUTH_FAILED: err = ZE_AUTHFAILED; break;
	case ST_CLOSING:
	case ST_CLOSED: err = ZE_CLOSING; break;
	}
	if (err) {
		zkc__req_free(q);
		return err;
	}
	if (q->type == ZOP_AUTH)
		return submit_auth(s, q);
	if (q->type == ZOP_CHECKWATCHES || q->type == ZOP_REMOVEWATCHES) {
		int found = remove_local(s, q, true);
		if (!found)
			return complete_later(s, q, ZE_NOWATCHER);
		if (q->wtype >= ZK_WATCHER_PERSISTENT) {
			/* The server's answer would be ANY's (see the builder):
			 * a check is answered locally, and a removal stays local
			 * while other kinds of watch on the path need the server's. */
			if (q->type == ZOP_CHECKWATCHES)
				return complete_later(s, q, ZE_OK);
			if (other_kinds(s, q)) {
				remove_local(s, q, false);
				return complete_later(s, q, ZE_OK);
			}
		}
		if (q->type == ZOP_REMOVEWATCHES && others_remain(s, q)) {
			remove_local(s, q, false);
			return complete_later(s, q, ZE_OK);
		}
		if (q->type == ZOP_REMOVEWATCHES && q->wlocal && s->st != ST_CONNECTED) {
			remove_local(s, q, false);
			return complete_later(s, q, ZE_OK);
		}
	}
	if (s->outstanding >= s->max_outstanding) {
		if (!q->can_wait) {
			zkc__req_free(q);
			return ZE_THROTTLEDOP;
		}
		q->next = NULL;
		if (s->waitq_tail)
			s->waitq_tail->next = q;
		else
			s->waitq = q;
		s->waitq_tail = q;
		return ZE_OK;
	}
	enqueue(s, q);
	return ZE_OK;
}

/* ------------------------------------------------------------------ timer */

static void tick(uv_timer_t *t)
{
	zkc_session *s = t->data;
	uint64_t now = zkc__now(s);
	switch (s->st) {
	case ST_CONNECTED:
		if (now - s->last_recv >= read_timeout(s)) {
			conn_lost(s);
			return;
		}
		if (now - s->last_send >= ping_interval(s))
			send_ping(s);
		break;
	case ST_CONNECTING:
	case ST_DISCONNECTED: {
		/* Queued requests wait one session timeout at most. */
		uint64_t to = (uint64_t)timeout_ms(s);
		while (s->unsent && now - s->unsent->queued_at >= to) {
			struct zkc_req *q = s->unsent;
			s->unsent = q->next;
			if (!s->unsent)
				s->unsent_tail = NULL;
			complete(q, ZE_CONNECTIONLOSS, NULL);
			drain_waitq(s);
			if (s->st != ST_CONNECTING && s->st != ST_DISCONNECTED)
				return;
		}
		if (s->conn) {
			if (now - s->attempt_start >= connect_timeout(s)) {
				conn_lost(s);
				return;
			}
		} else if (s->next_attempt && now >= s->next_attempt) {
			start_attempt(s);
			return;
		}
		break;
	}
	case ST_CLOSING:
		if (now >= s->close_deadline) {
			close_finish(s);
			return;
		}
		break;
	default:
		return;
	}
	rearm(s);
}

static void rearm(zkc_session *s)
{
	uint64_t now = zkc__now(s), at = UINT64_MAX;
#define AT(x) do { uint64_t v_ = (x); if (v_ < at) at = v_; } while (0)
	switch (s->st) {
	case ST_CONNECTED:
		AT(s->last_send + ping_interval(s));
		AT(s->last_recv + read_timeout(s));
		break;
	case ST_CONNECTING:
	case ST_DISCONNECTED:
		if (s->unsent)
			AT(s->unsent->queued_at + (uint64_t)timeout_ms(s));
		if (s->conn)
			AT(s->attempt_start + connect_timeout(s));
		else if (s->next_attempt)
			AT(s->next_attempt);
		break;
	case ST_CLOSING:
		AT(s->close_deadline);
		break;
	default:
		uv_timer_stop(&s->timer);
		return;
	}
#undef AT
	if (at == UINT64_MAX) {
		uv_timer_stop(&s->timer);
		return;
	}
	uv_timer_start(&s->timer, tick, at > now ? at - now : 0, 0);
}

/* ------------------------------------------------------------------ open / close */

static void shuffle(struct zkc_host *h, int n)
{
	for (int i = n - 1; i > 0; i--) {
		int j = rand() % (i + 1);
		struct zkc_host t = h[i];
		h[i] = h[j];
		h[j] = t;
	}
}

static int add_host(zkc_session *s, const char *host, const char *port, int *cap)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return ZE_BADARGUMENTS;
	for (ai = res; ai; ai = ai->ai_next) {
		if (s->nhosts == *cap) {
			int nc = *cap ? *cap * 2 : 4;
			struct zkc_host *v = realloc(s->hosts, (size_t)nc * sizeof(*v));
			if (!v) {
				freeaddrinfo(res);
				return ZE_SYSTEMERROR;
			}
			s->hosts = v;
			*cap = nc;
		}
		struct zkc_host *h = &s->hosts[s->nhosts++];
		memset(h, 0, sizeof(*h));
		memcpy(&h->sa, ai->ai_addr, ai->ai_addrlen);
		char ip[64] = "?";
		if (ai->ai_family == AF_INET)
			uv_ip4_name((struct sockaddr_in *)ai->ai_addr, ip, sizeof(ip));
		else if (ai->ai_family == AF_INET6)
			uv_ip6_name((struct sockaddr_in6 *)ai->ai_addr, ip, sizeof(ip));
		snprintf(h->name, sizeof(h->name), ai->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", ip, port);
		snprintf(h->host, sizeof(h->host), "%s", host);
	}
	freeaddrinfo(res);
	return ZE_OK;
}

static int parse_connect(zkc_session *s, const char *connect)
{
	char *copy = strdup(connect), *save = NULL, *tok;
	int cap = 0, err = ZE_OK;
	if (!copy)
		return ZE_SYSTEMERROR;
	char *slash = strchr(copy, '/');
	if (slash) {
		if (strcmp(slash, "/") != 0) {
			if (!zk_path_valid(slash, strlen(slash))) {
				free(copy);
				return ZE_BADARGUMENTS;
			}
			s->chroot = strdup(slash);
			if (!s->chroot) {
				free(copy);
				return ZE_SYSTEMERROR;
			}
			s->chroot_len = strlen(slash);
		}
		*slash = 0;
	}
	for (tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (!*tok)
			continue;
		const char *host = tok, *port = "2181";
		if (*tok == '[') {
			char *end = strchr(tok, ']');
			if (!end) {
				err = ZE_BADARGUMENTS;
				break;
			}
			*end = 0;
			host = tok + 1;
			if (end[1] == ':')
				port = end + 2;
		} else {
			char *colon = strrchr(tok, ':');
			if (colon) {
				*colon = 0;
				port = colon + 1;
			}
		}
		err = add_host(s, host, port, &cap);
	}
	free(copy);
	if (!err && s->nhosts == 0)
		err = ZE_BADARGUMENTS;
	return err;
}

int zkc__session_alloc(const char *connect, int timeout_ms, const struct zkc_options *opt, zkc_session **out)
{
	static const struct zkc_options none;
	if (!connect || !out || timeout_ms <= 0)
		return ZE_BADARGUMENTS;
	if (!opt)
		opt = &none;
	zkc_session *s = calloc(1, sizeof(*s));
	if (!s)
		return ZE_SYSTEMERROR;
	uv_mutex_init(&s->info_mu);
	s->timeout_req = timeout_ms;
	s->read_only = opt->read_only;
	s->max_outstanding = opt->max_outstanding > 0 ? opt->max_outstanding : ZKC_DEFAULT_MAX_OUTSTANDING;
	s->max_frame = opt->max_frame ? opt->max_frame : ZKC_DEFAULT_MAX_FRAME;
	s->max_request = opt->max_request ? opt->max_request : JUTE_MAX_BUFFER;
	s->state_cb = opt->state_cb;
	s->state_arg = opt->state_arg;
	s->watch_cb = opt->watch_cb;
	s->watch_arg = opt->watch_arg;
	s->session_id = opt->session_id;
	memcpy(s->passwd, opt->passwd, 16);
	s->last_zxid = opt->last_zxid;
	s->b_deadline_ms = opt->op_deadline_ms;
	s->next_xid = 1;
	if (opt->tls && zkc__tls_setup(s, opt->tls) != ZE_OK) {
		uv_mutex_destroy(&s->info_mu);
		free(s);
		return ZE_BADARGUMENTS;
	}
	s->pub_state = ZKC_STATE_CONNECTING;
	int err = parse_connect(s, connect);
	if (!err && opt->sasl)
		err = zkc__sasl_new(opt->sasl, &s->sasl);
	for (int i = 0; !err && i < opt->nauth; i++) {
		struct zkc_authent *a = calloc(1, sizeof(*a)), **pp = &s->auths;
		if (!a || !opt->auth[i].scheme) {
			free(a);
			err = a ? ZE_BADARGUMENTS : ZE_SYSTEMERROR;
			break;
		}
		a->scheme = strdup(opt->auth[i].scheme);
		a->data = malloc(opt->auth[i].len + 1);
		a->len = opt->auth[i].len;
		while (*pp)
			pp = &(*pp)->next;
		*pp = a;
		if (!a->scheme || !a->data) {
			err = ZE_SYSTEMERROR;
			break;
		}
		if (a->len)
			memcpy(a->data, opt->auth[i].data, a->len);
	}
	if (err) {
		zkc__session_free_unstarted(s);
		return err;
	}
	if (!opt->no_shuffle) {
		static bool seeded;
		if (!__atomic_exchange_n(&seeded, true, __ATOMIC_RELAXED))
			srand((unsigned)(uv_hrtime() ^ (uint64_t)getpid()));
		shuffle(s->hosts, s->nhosts);
	}
	s->host_idx = s->nhosts - 1; /* start_attempt moves to the next: 0 */
	*out = s;
	return ZE_OK;
}

void zkc__session_free_unstarted(zkc_session *s)
{
	struct zkc_authent *a = s->auths, *n;
	for (; a; a = n) {
		n = a->next;
		free(a->scheme);
		free(a->data);
		free(a);
	}
	zkc__sasl_free(s->sasl);
	free(s->hosts);
	free(s->chroot);
	free(s->wt.b);
	zktls_ctx_free(s->tls_ctx);
	uv_mutex_destroy(&s->info_mu);
	free(s);
}

int zkc__session_start(zkc_session *s, uv_loop_t *loop)
{
	s->loop = loop;
	uv_timer_init(loop, &s->timer);
	uv_prepare_init(loop, &s->flush);
	uv_timer_init(loop, &s->done_timer);
	s->timer.data = s;
	s->flush.data = s;
	s->done_timer.data = s;
	s->handles_open = 3;
	s->st = ST_CONNECTING;
	s->started = true;
	start_attempt(s);
	return ZE_OK;
}

int zkc_session_open(uv_loop_t *loop, const char *connect, int timeout_ms, const struct zkc_options *opt,
		     zkc_session **out)
{
	if (!loop)
		return ZE_BADARGUMENTS;
	int err = zkc__session_alloc(connect, timeout_ms, opt, out);
	if (err)
		return err;
	return zkc__session_start(*out, loop);
}

static void handle_closed(uv_handle_t *h)
{
	zkc_session *s = h->data;
	if (--s->handles_open > 0)
		return;
	zkc_close_fn cb = s->close_cb;
	void *arg = s->close_arg;
	zkc__client_unlink(s);
	zkc__session_free_unstarted(s);
	if (cb)
		cb(arg);
}

static void close_finish(zkc_session *s)
{
	if (s->st == ST_CLOSED)
		return;
	s->st = ST_CLOSED;
	conn_detach(s);
	uv_timer_stop(&s->timer);
	fail_all(s, ZE_CLOSING);
	wt_end_all(s, ZKC_STATE_CLOSED);
	report_state(s, ZKC_STATE_CLOSED);
	uv_close((uv_handle_t *)&s->timer, handle_closed);
	uv_close((uv_handle_t *)&s->flush, handle_closed);
	uv_close((uv_handle_t *)&s->done_timer, handle_closed);
}

void zkc_session_close(zkc_session *s, zkc_close_fn cb, void *arg)
{
	if (!s || s->st == ST_CLOSING || s->st == ST_CLOSED)
		return;
	s->close_cb = cb;
	s->close_arg = arg;
	bool send = s->st == ST_CONNECTED && s->conn && s->conn->phase == 2;
	s->st = ST_CLOSING;
	fail_all(s, ZE_CLOSING);
	if (send && s->conn) {
		/* closeSession so the server drops our ephemerals now, not at expiry. */
		s->close_xid = s->next_xid++;
		struct zk_request r = {.xid = s->close_xid, .type = ZOP_CLOSESESSION};
		uint64_t wait = ping_interval(s);
		if (wait > 2000)
			wait = 2000;
		s->close_deadline = zkc__now(s) + wait;
		if (write_request(s, &r) && s->st == ST_CLOSING) {
			rearm(s);
			return;
		}
	}
	close_finish(s);
}

/* ------------------------------------------------------------------ accessors */

int zkc_session_state(const zkc_session *s)
{
	return __atomic_load_n(&s->pub_state, __ATOMIC_ACQUIRE);
}

int64_t zkc_session_id(const zkc_session *s, uint8_t passwd[16])
{
	zkc_session *m = (zkc_session *)s;
	uv_mutex_lock(&m->info_mu);
	int64_t id = s->session_id;
	if (passwd)
		memcpy(passwd, s->passwd, 16);
	uv_mutex_unlock(&m->info_mu);
	return id;
}

int zkc_session_timeout(const zkc_session *s)
{
	return timeout_ms(s);
}

int64_t zkc_session_last_zxid(const zkc_session *s)
{
	return __atomic_load_n(&s->last_zxid, __ATOMIC_RELAXED);
}

void zkc_session_tls_error(const zkc_session *s, char *buf, size_t len)
{
	zkc_session *m = (zkc_session *)s;
	uv_mutex_lock(&m->info_mu);
	snprintf(buf, len, "%s", s->tls_err);
	uv_mutex_unlock(&m->info_mu);
}

void zkc_session_server(const zkc_session *s, char *buf, size_t len)
{
	zkc_session *m = (zkc_session *)s;
	uv_mutex_lock(&m->info_mu);
	snprintf(buf, len, "%s", s->server);
	uv_mutex_unlock(&m->info_mu);
}

int zkc_session_outstanding(const zkc_session *s)
{
	return __atomic_load_n(&s->outstanding_pub, __ATOMIC_RELAXED);
}

void zkc_session_drop_connection(zkc_session *s)
{
	if (s->conn && s->st != ST_CLOSING)
		conn_lost(s);
}

uv_loop_t *zkc_session_loop(const zkc_session *s)
{
	return s->loop;
}

void zkc_session_set_data(zkc_session *s, void *data)
{
	s->user = data;
}

void *zkc_session_get_data(const zkc_session *s)
{
	return s->user;
}

const char *zkc_state_name(int state)
{
	switch (state) {
	case ZKC_STATE_CONNECTING: return "connecting";
	case ZKC_STATE_CONNECTED: return "connected";
	case ZKC_STATE_CONNECTED_RO: return "connected-read-only";
	case ZKC_STATE_DISCONNECTED: return "disconnected";
	case ZKC_STATE_EXPIRED: return "expired";
	case ZKC_STATE_AUTH_FAILED: return "auth-failed";
	case ZKC_STATE_CLOSED: return "closed";
	}
	return "unknown";
}

void zkc_session_watcher(zkc_session *s, const struct zkc_event *ev, void *arg)
{
	/* Only a marker (replaced when a request is built); forward anyway. */
	if (s->watch_cb)
		s->watch_cb(s, ev, arg);
}

void zkc_result_move(struct zkc_result *dst, struct zkc_result *src)
{
	*dst = *src;
	memset(src, 0, sizeof(*src));
}

void zkc_result_free(struct zkc_result *res)
{
	zk_result_free(&res->r);
	for (int32_t i = 0; i < res->nres; i++)
		zk_result_free(&res->res[i]);
	free(res->res);
	memset(res, 0, sizeof(*res));
}
