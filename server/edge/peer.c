/*
 * peer.c — the ensemble's network on libuv (see peer.h for the contract):
 * the election port with ZooKeeper 3.8's connection rules and the quorum
 * port's learner/leader connections, moving bytes between TCP and the
 * quorum codec (zab/qcodec.h).
 *
 * Connections.  Every TCP connection is a struct pconn on the net's list,
 * whatever its kind (election or quorum) and direction.  A peer (one per
 * member, plus one per connected non-member, see below) points at its
 * live connections: `econn` (the one election connection that survives
 * the larger-sid rule), `knock` (a smaller id's dial: hello, then close)
 * and `qconn` (the quorum connection, dialled by a learner or accepted and
 * bound by a leader).  A pconn is freed when its handles are closed; its
 * peer forgets it at once when it is closed (conn_close), so whatever
 * happens later can only see live connections.
 *
 *     dial:   RESOLVING ─(getaddrinfo)─► CONNECTING ─(connect)─► UP ─► CLOSED
 *     accept: UP (election: until the hello; quorum: until bound) ─► CLOSED
 *
 * Election channel [QuorumCnxManager].  The dialler sends its hello (and
 * then our last notification) and reads nothing back.  A smaller id's
 * dial is only a knock: its hello tells the larger id to dial back, then
 * it closes.  The receiver of a smaller id's hello closes it and dials
 * back (dropping an established connection to that id first, as Apache
 * does: the other side thinks it is gone).  The last notification for a
 * peer is kept (`last`) and sent on every new connection, as Apache's
 * SendWorker does; while it is unsent we redial with a backoff (50 ms
 * doubling to 1 s).  Apache 3.8's handleConnection checks no membership:
 * a larger non-member id's connection is served (its notifications go to
 * cb.recv, answers go back on it); a smaller one is closed, and where
 * Apache would dial back to the address in its hello, we only log it
 * (we dial members only).  A hello with our own id is closed.
 *
 * Quorum channel.  Packets are encoded straight into the connection's
 * output buffer (a SNAP's whole stream too: qc_packet_put reserves it in
 * one allocation) and that buffer is handed to the kernel as it is: what
 * uv_try_write does not take goes to one uv_write from an offset, never
 * copied again.  cb.channel_down is delivered from an idle callback, never
 * inside a peer_net_* call (zab forbids re-entry from its ops), and is
 * cancelled when the channel is replaced before it is delivered.
 *
 * Output of all connections is written once per loop iteration, before
 * the loop polls (uv_prepare) and after the poll callbacks (uv_check), so
 * a burst of sends costs one write per connection.
 */
#include "peer.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jute.h"
#include "qcodec.h"
#include "slog.h"
#include "xmem.h"

#define READ_CHUNK (256 * 1024)
#define ELECTION_OUT_MAX ((size_t)1 << 20) /* a peer that reads no votes */
#define QUEUE_MAX_DEFAULT ((size_t)256 << 20)
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000
#define CONNECT_TIMEOUT_DEFAULT 5000

enum ckind { CK_ELECTION, CK_QUORUM };
enum cstate { CS_RESOLVING, CS_CONNECTING, CS_UP, CS_CLOSED };

struct peer;

struct pconn {
	struct peer_net *net;
	struct peer *peer; /* NULL until known (accepted, before hello / LearnerInfo) */
	uv_tcp_t tcp;
	uv_timer_t timer; /* connect or handshake deadline */
	uv_connect_t creq;
	uv_getaddrinfo_t gai;
	uv_write_t wreq;
	int refs; /* open handles + a getaddrinfo under way */
	enum ckind kind;
	enum cstate state;
	bool outbound;
	bool knock; /* election dial of a smaller id: hello, then close */
	bool gai_pending;
	bool writing;
	bool close_after_flush;
	bool counted;	     /* counted in stats (election/quorum conns up) */
	bool logged_bad;     /* a dropped notification was logged */
	int port;	     /* dialled port */
	char addr[80];	     /* remote "ip:port" (or "host:port" dialled) */
	struct jute_out out; /* not yet handed to the kernel */
	/* A SNAP sent by a forked child (snap_fork): SS_PRE while `out`
	 * still holds what went before it, SS_CHILD once the child owns the
	 * socket; packets sent meanwhile wait in `held`. */
	enum { SS_NONE, SS_PRE, SS_CHILD } snap_state;
	pid_t snap_pid;
	int snap_go; /* write end of the child's start pipe, -1 once used */
	uint64_t snap_t0;
	uint64_t *snap_sent; /* shared with the child: bytes it wrote */
	struct jute_out held;
	uint8_t *wbuf;	     /* the write in flight: wbuf[woff..wlen) */
	size_t wlen, woff;
	size_t allow;	     /* queued bytes past which the peer is too slow */
	struct qc_reader rd; /* quorum */
	uint8_t *ebuf;	     /* election input not parsed yet */
	size_t elen, ecap;
	struct pconn *next, *prev;
};

struct peer {
	int64_t id;
	char *host; /* without brackets */
	int qport, eport;
	bool observer;
	bool member; /* else a non-member connected to us (freed with econn) */
	struct peer_net *net;
	struct pconn *econn, *knock, *qconn;
	uv_timer_t retry; /* members only */
	int backoff_ms;
	bool has_last; /* `last` holds our last notification for it */
	bool unsent;   /* ... not written on any connection yet */
	bool down_pending;
	bool warned; /* a failed dial was logged at WARN (until one works) */
	struct zmsg last;
};

struct peer_net {
	uv_loop_t *loop;
	int64_t my_id;
	struct peer **peers;
	size_t npeers, cap;
	struct peer *me;
	char *config_text;
	char hello_addr[QC_ADDR_MAX + 1];
	bool listen_all;
	size_t max_buffer, max_queued;
	struct core_config snap_cfg;
	char *snap_super;
	int connect_timeout_ms;
	uv_tcp_t *elisten, *qlisten;
	uv_prepare_t prep;
	uv_check_t check;
	uv_idle_t down_idle;
	uv_timer_t snap_timer; /* reaps SNAP children while any runs */
	struct pconn **snaps;  /* connections with a SNAP child (a ref each) */
	size_t nsnaps, capsnaps;
	struct pconn *conns;
	int refs; /* handles, connections, and 1 until peer_net_close */
	bool closing;
	bool dirty; /* some connection has output to write */
	void (*done)(void *arg);
	void *done_arg;
	uint8_t *rbuf;
	struct peer_net_cb cb;
	struct peer_net_stats st;
	int64_t observer_counter;
};

static void conn_close(struct pconn *c, bool report, const char *why);
static void peer_dial_election(struct peer *p);

/* ================================================================ lifetime */

static void net_free(struct peer_net *n)
{
	for (size_t i = 0; i < n->npeers; i++) {
		free(n->peers[i]->host);
		free(n->peers[i]);
	}
	free(n->peers);
	free(n->config_text);
	free(n->snap_super);
	free(n->snaps);
	free(n->rbuf);
	free(n);
}

static void net_unref(struct peer_net *n)
{
	if (--n->refs > 0)
		return;
	void (*done)(void *) = n->done;
	void *arg = n->done_arg;
	net_free(n);
	if (done)
		done(arg);
}

static void on_net_handle_closed(uv_handle_t *h)
{
	net_unref(h->data);
}

static void on_retry_closed(uv_handle_t *h)
{
	struct peer *p = h->data;
	net_unref(p->net);
}

static void on_listener_closed(uv_handle_t *h)
{
	struct peer_net *n = h->data;
	free(h);
	net_unref(n);
}

static void conn_unref(struct pconn *c)
{
	if (--c->refs > 0)
		return;
	struct peer_net *n = c->net;
	jute_out_free(&c->out);
	jute_out_free(&c->held);
	free(c->wbuf);
	if (c->kind == CK_QUORUM)
		qc_reader_free(&c->rd);
	free(c->ebuf);
	free(c);
	net_unref(n);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
	conn_unref(h->data);
}

static struct pconn *conn_new(struct peer_net *n, enum ckind kind, bool outbound)
{
	struct pconn *c = xcalloc(1, sizeof(*c));
	c->net = n;
	c->kind = kind;
	c->outbound = outbound;
	c->allow = kind == CK_QUORUM ? n->max_queued : ELECTION_OUT_MAX;
	jute_out_init(&c->out);
	jute_out_init(&c->held);
	c->snap_go = -1;
	if (kind == CK_QUORUM)
		qc_reader_init(&c->rd, outbound, n->max_buffer, &n->snap_cfg);
	uv_tcp_init(n->loop, &c->tcp);
	uv_timer_init(n->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->refs = 2;
	n->refs++;
	c->next = n->conns;
	if (n->conns)
		n->conns->prev = c;
	n->conns = c;
	return c;
}

/* ================================================================ peers */

static struct peer *peer_find(const struct peer_net *n, int64_t id)
{
	for (size_t i = 0; i < n->npeers; i++)
		if (n->peers[i]->id == id)
			return n->peers[i];
	return NULL;
}

static int peers_push(struct peer_net *n, struct peer *p)
{
	if (n->npeers == n->cap) {
		size_t cap = n->cap ? 2 * n->cap : 8;
		struct peer **v = realloc(n->peers, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		n->peers = v;
		n->cap = cap;
	}
	n->peers[n->npeers++] = p;
	return 0;
}

/* A non-member that dialled us (larger id): lives as long as its econn. */
static struct peer *peer_add_guest(struct peer_net *n, int64_t id)
{
	struct peer *p = xcalloc(1, sizeof(*p));
	p->id = id;
	p->net = n;
	if (peers_push(n, p)) {
		free(p);
		return NULL;
	}
	return p;
}

static void peer_remove_guest(struct peer_net *n, struct peer *p)
{
	for (size_t i = 0; i < n->npeers; i++) {
		if (n->peers[i] == p) {
			n->peers[i] = n->peers[--n->npeers];
			free(p->host);
			free(p);
			return;
		}
	}
}

static void on_down_idle(uv_idle_t *h);

/* cb.channel_down(p) from the loop, never inside a peer_net_* call. */
static void schedule_down(struct peer *p, struct peer_net *n)
{
	if (n->closing)
		return;
	p->down_pending = true;
	uv_idle_start(&n->down_idle, on_down_idle);
}

/* ================================================================ output */

static size_t conn_queued(const struct pconn *c)
{
	return c->out.len + c->held.len + (c->writing ? c->wlen - c->woff : 0);
}

static void conn_flush(struct pconn *c);

static void on_write(uv_write_t *w, int status)
{
	struct pconn *c = w->data;
	c->writing = false;
	free(c->wbuf);
	c->wbuf = NULL;
	c->wlen = c->woff = 0;
	if (c->state == CS_CLOSED)
		return;
	if (status < 0) {
		slog_warn("peer", "%s connection with server %" PRId64 " (%s): write: %s",
			  c->kind == CK_QUORUM ? "quorum" : "election", c->peer ? c->peer->id : -1,
			  c->addr, uv_strerror(status));
		conn_close(c, true, uv_strerror(status));
		return;
	}
	conn_flush(c);
}

static void snap_start_child(struct pconn *c);

static void conn_flush(struct pconn *c)
{
	if (c->state != CS_UP || c->writing || c->snap_state == SS_CHILD)
		return;
	if (c->out.len == 0 && c->snap_state == SS_PRE) {
		snap_start_child(c);
		return;
	}
	if (c->out.len == 0) {
		if (c->close_after_flush)
			conn_close(c, false, "hello sent");
		return;
	}
	uv_buf_t b = {.base = (char *)c->out.buf, .len = c->out.len};
	int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
	if (n == UV_EAGAIN || n == UV_ENOSYS)
		n = 0;
	if (n < 0) {
		slog_warn("peer", "%s connection with server %" PRId64 " (%s): write: %s",
			  c->kind == CK_QUORUM ? "quorum" : "election", c->peer ? c->peer->id : -1,
			  c->addr, uv_strerror(n));
		conn_close(c, true, uv_strerror(n));
		return;
	}
	if ((size_t)n == c->out.len) {
		jute_out_reset(&c->out);
		if (c->snap_state == SS_PRE) {
			snap_start_child(c);
			return;
		}
		if (c->out.cap > READ_CHUNK) {
			/* a SNAP went out: don't keep its buffer */
			jute_out_free(&c->out);
			jute_out_init(&c->out);
		}
		if (c->close_after_flush)
			conn_close(c, false, "hello sent");
		return;
	}
	/* the rest goes out from where the kernel stopped: no copy */
	c->wbuf = jute_out_steal(&c->out, &c->wlen);
	c->woff = (size_t)n;
	b.base = (char *)c->wbuf + c->woff;
	b.len = c->wlen - c->woff;
	c->wreq.data = c;
	int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write);
	if (rc < 0) {
		free(c->wbuf);
		c->wbuf = NULL;
		c->wlen = c->woff = 0;
		conn_close(c, true, uv_strerror(rc));
		return;
	}
	c->writing = true;
}

static void flush_all(struct peer_net *n)
{
	if (!n->dirty)
		return;
	n->dirty = false;
	for (struct pconn *c = n->conns, *next; c; c = next) {
		next = c->next;
		if ((c->out.len || c->snap_state == SS_PRE) && c->state == CS_UP && !c->writing)
			conn_flush(c);
	}
}

static void on_prepare(uv_prepare_t *h)
{
	flush_all(h->data);
}

static void on_check(uv_check_t *h)
{
	flush_all(h->data);
}

static void mark_dirty(struct pconn *c)
{
	c->net->dirty = true;
}

/* ================================================================ dialling */

static void conn_up(struct pconn *c);

static const char *kind_name(const struct pconn *c)
{
	return c->kind == CK_QUORUM ? "quorum" : "election";
}

/* A dial failed: logged at WARN once per peer until a dial works. */
static void dial_failed(struct pconn *c, const char *why)
{
	struct peer *p = c->peer;
	if (p && !p->warned) {
		p->warned = true;
		slog_warn("peer", "cannot connect to the %s port of server %" PRId64 " (%s): %s",
			  kind_name(c), p->id, c->addr, why);
	} else {
		slog_debug("peer", "cannot connect to the %s port of server %" PRId64 " (%s): %s",
			   kind_name(c), p ? p->id : -1, c->addr, why);
	}
	conn_close(c, true, why);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct pconn *c = req->data;
	if (c->state == CS_CLOSED)
		return;
	if (status < 0) {
		dial_failed(c, uv_strerror(status));
		return;
	}
	uv_timer_stop(&c->timer);
	uv_tcp_nodelay(&c->tcp, 1);
	c->state = CS_UP;
	if (c->peer)
		c->peer->warned = false;
	conn_up(c);
}

static void connect_to(struct pconn *c, const struct sockaddr *sa)
{
	c->state = CS_CONNECTING;
	c->creq.data = c;
	int rc = uv_tcp_connect(&c->creq, &c->tcp, sa, on_connect);
	if (rc < 0)
		dial_failed(c, uv_strerror(rc));
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct pconn *c = req->data;
	c->gai_pending = false;
	if (c->state != CS_CLOSED) {
		if (status < 0 || !res)
			dial_failed(c, status < 0 ? uv_strerror(status) : "no address");
		else
			connect_to(c, res->ai_addr);
	}
	uv_freeaddrinfo(res);
	conn_unref(c);
}

static void on_connect_timeout(uv_timer_t *t)
{
	struct pconn *c = t->data;
	if (c->state == CS_CLOSED)
		return;
	if (c->outbound) {
		dial_failed(c, "connect timed out");
		return;
	}
	slog_warn("peer", "%s connection from %s: nothing valid within %d ms, closing",
		  kind_name(c), c->addr, c->net->connect_timeout_ms);
	c->net->st.refused++;
	conn_close(c, false, "handshake timeout");
}

/* Dials host:port (a literal address at once, a name through
 * getaddrinfo), bounded by the connect timeout. */
static void conn_dial(struct pconn *c, const char *host, int port)
{
	struct peer_net *n = c->net;
	c->port = port;
	snprintf(c->addr, sizeof(c->addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
	uv_timer_start(&c->timer, on_connect_timeout, (uint64_t)n->connect_timeout_ms, 0);
	struct sockaddr_storage ss;
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) == 0 ||
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) == 0) {
		connect_to(c, (struct sockaddr *)&ss);
		return;
	}
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	c->state = CS_RESOLVING;
	c->gai.data = c;
	int rc = uv_getaddrinfo(n->loop, &c->gai, on_resolved, host, ps, &hints);
	if (rc < 0) {
		dial_failed(c, uv_strerror(rc));
		return;
	}
	c->gai_pending = true;
	c->refs++;
}

/* ================================================================ closing */

static void on_retry(uv_timer_t *t);

static void conn_close(struct pconn *c, bool report, const char *why)
{
	if (c->state == CS_CLOSED)
		return;
	struct peer_net *n = c->net;
	c->state = CS_CLOSED;
	if (c->prev)
		c->prev->next = c->next;
	else
		n->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	if (c->kind == CK_QUORUM && c->counted)
		n->st.quorum_conns--;
	if (c->kind == CK_ELECTION && c->counted)
		n->st.election_conns--;
	c->counted = false;
	if (c->snap_pid > 0) {
		/* its reaper sees it gone (snap_reap) */
		kill(c->snap_pid, SIGKILL);
	}
	if (c->snap_go >= 0) {
		close(c->snap_go);
		c->snap_go = -1;
	}
	slog_debug("peer", "%s connection with server %" PRId64 " (%s) closed: %s", kind_name(c),
		   c->peer ? c->peer->id : -1, c->addr, why);
	if (c->gai_pending)
		uv_cancel((uv_req_t *)&c->gai);
	uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
	struct peer *p = c->peer;
	c->peer = NULL;
	if (!p)
		return;
	if (c->kind == CK_QUORUM) {
		if (p->qconn == c) {
			p->qconn = NULL;
			if (report)
				schedule_down(p, n);
		}
		return;
	}
	if (p->econn == c)
		p->econn = NULL;
	if (p->knock == c)
		p->knock = NULL;
	if (!p->member) {
		if (!p->econn)
			peer_remove_guest(n, p);
		return;
	}
	/* something still to say and no way to say it: try again later */
	if (!n->closing && p->unsent && !p->econn && !p->knock &&
	    !uv_is_active((uv_handle_t *)&p->retry)) {
		uv_timer_start(&p->retry, on_retry, (uint64_t)p->backoff_ms, 0);
		p->backoff_ms =
		    p->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : p->backoff_ms * 2;
	}
}

static void on_down_idle(uv_idle_t *h)
{
	struct peer_net *n = h->data;
	uv_idle_stop(h);
	for (;;) {
		if (n->closing)
			return;
		struct peer *p = NULL;
		for (size_t i = 0; i < n->npeers && !p; i++)
			if (n->peers[i]->down_pending)
				p = n->peers[i];
		if (!p)
			return;
		p->down_pending = false;
		if (n->cb.channel_down)
			n->cb.channel_down(n->cb.arg, p->id);
	}
}

/* ================================================================ election */

static void put_notification(struct pconn *c, const struct zmsg *m)
{
	struct peer_net *n = c->net;
	size_t before = c->out.len;
	qc_notification_put(&c->out, m, n->config_text);
	if (c->out.err) {
		slog_error("peer", "election: out of memory encoding a notification");
		conn_close(c, false, "out of memory");
		return;
	}
	n->st.packets_out++;
	n->st.bytes_out += c->out.len - before;
	mark_dirty(c);
	if (conn_queued(c) > c->allow) {
		slog_warn("peer",
			  "election connection with server %" PRId64
			  " (%s): %zu bytes unread, closing",
			  c->peer ? c->peer->id : -1, c->addr, conn_queued(c));
		conn_close(c, false, "output limit");
	}
}

/* A connection that survives the larger-sid rule is up: it is this peer's
 * election channel; our last notification goes first. */
static void election_bind(struct peer *p, struct pconn *c)
{
	struct peer_net *n = c->net;
	p->econn = c;
	c->peer = p;
	c->counted = true;
	n->st.election_conns++;
	p->backoff_ms = BACKOFF_MIN_MS;
	if (p->member)
		uv_timer_stop(&p->retry);
	if (p->has_last) {
		p->unsent = false;
		put_notification(c, &p->last);
	}
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

static void conn_up(struct pconn *c)
{
	struct peer_net *n = c->net;
	struct peer *p = c->peer;
	if (c->kind == CK_QUORUM) {
		c->counted = true;
		n->st.quorum_conns++;
		slog_info("peer", "quorum connection to server %" PRId64 " (%s) up", p->id,
			  c->addr);
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
		mark_dirty(c);
		return;
	}
	qc_hello_put(&c->out, n->my_id, n->hello_addr);
	mark_dirty(c);
	if (c->knock) {
		/* Apache's startConnection: the smaller id drops its own dial
		 * after the hello; the larger one dials back */
		slog_debug("peer",
			   "election: hello to server %" PRId64 " (%s), waiting for its dial",
			   p->id, c->addr);
		c->close_after_flush = true;
		return;
	}
	slog_debug("peer", "election connection to server %" PRId64 " (%s) up", p->id, c->addr);
	/* the peer's notifications come back on this one (no hello that way) */
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	election_bind(p, c);
}

/* Dials p's election port unless a connection or a dial is there: as the
 * larger id the connection becomes p's channel, as the smaller a knock. */
static void peer_dial_election(struct peer *p)
{
	struct peer_net *n = p->net;
	if (n->closing || !p->member || p == n->me || p->econn || p->knock)
		return;
	struct pconn *c = conn_new(n, CK_ELECTION, true);
	c->peer = p;
	if (n->my_id < p->id) {
		c->knock = true;
		p->knock = c;
	} else {
		p->econn = c;
	}
	conn_dial(c, p->host, p->eport);
}

static void on_retry(uv_timer_t *t)
{
	struct peer *p = t->data;
	if (p->unsent && !p->econn && !p->knock)
		peer_dial_election(p);
}

static void election_send(struct peer_net *n, int64_t to, const struct zmsg *m)
{
	struct peer *p = peer_find(n, to);
	if (!p || p == n->me) {
		slog_debug("peer", "election: no server %" PRId64 ", notification dropped", to);
		return;
	}
	memset(&p->last, 0, sizeof(p->last));
	p->last.type = ZM_NOTIFICATION;
	p->last.vote = m->vote;
	p->has_last = true;
	if (p->econn && p->econn->state == CS_UP) {
		p->unsent = false;
		put_notification(p->econn, &p->last);
		return;
	}
	if (!p->member)
		return; /* a guest that has gone: we cannot dial it */
	p->unsent = true;
	if (!uv_is_active((uv_handle_t *)&p->retry))
		peer_dial_election(p);
}

/* The hello of an accepted election connection.  Returns true when the
 * connection is now p's channel (notifications follow), false when it was
 * closed. */
static bool hello_accept(struct pconn *c, const struct qc_hello *h)
{
	struct peer_net *n = c->net;
	int64_t sid = h->sid;
	if (sid == INT64_MAX) /* QuorumPeer.OBSERVER_ID: a temporary id, as Apache */
		sid = n->observer_counter--;
	if (sid == n->my_id) {
		slog_warn("peer",
			  "election connection from %s says it is server %" PRId64
			  ", my own id (a configuration error?): closing",
			  c->addr, sid);
		n->st.refused++;
		conn_close(c, false, "own id");
		return false;
	}
	struct peer *p = peer_find(n, sid);
	if (sid < n->my_id) {
		if (!p || !p->member) {
			slog_warn(
			    "peer",
			    "election connection from %s (server %" PRId64
			    ", address '%s'): not in the configuration and a smaller id: closing",
			    c->addr, sid, h->addr);
			n->st.refused++;
			conn_close(c, false, "non-member, smaller id");
			return false;
		}
		/* the larger id dials: drop this one and ours if established (the
		 * other side thinks it is gone), keep a dial under way */
		slog_debug("peer",
			   "election: hello from server %" PRId64
			   " (%s), a smaller id: dialling back",
			   sid, c->addr);
		conn_close(c, false, "smaller id: dialling back");
		if (p->econn && p->econn->state == CS_UP)
			conn_close(p->econn, false, "the peer dialled again");
		peer_dial_election(p);
		return false;
	}
	if (!p) {
		slog_info("peer",
			  "election connection from server %" PRId64
			  " (%s), not in the configuration: served, as ZooKeeper 3.8 does",
			  sid, c->addr);
		p = peer_add_guest(n, sid);
		if (!p) {
			conn_close(c, false, "out of memory");
			return false;
		}
	}
	uv_timer_stop(&c->timer);
	struct pconn *old = p->econn;
	election_bind(p, c);
	if (old)
		conn_close(old, false, "replaced by a newer connection");
	slog_debug("peer", "election connection from server %" PRId64 " (%s) up", sid, c->addr);
	return c->state != CS_CLOSED;
}

static void election_input(struct pconn *c, const uint8_t *b, size_t len)
{
	struct peer_net *n = c->net;
	if (c->ecap - c->elen < len) {
		size_t cap = c->ecap ? c->ecap : 4096;
		while (cap - c->elen < len)
			cap *= 2;
		c->ebuf = xrealloc(c->ebuf, cap);
		c->ecap = cap;
	}
	memcpy(c->ebuf + c->elen, b, len);
	c->elen += len;
	size_t pos = 0;
	if (!c->peer) {
		struct qc_hello h;
		size_t used;
		int rc = qc_hello_parse(c->ebuf, c->elen, &h, &used);
		if (rc == 0)
			return;
		if (rc < 0) {
			slog_warn("peer", "election connection from %s: malformed hello: closing",
				  c->addr);
			n->st.refused++;
			conn_close(c, false, "bad hello");
			return;
		}
		pos = used;
		if (!hello_accept(c, &h))
			return;
	}
	while (c->state != CS_CLOSED && !n->closing) {
		const uint8_t *body;
		size_t blen, used;
		int rc = qc_frame_parse(c->ebuf + pos, c->elen - pos, &body, &blen, &used);
		if (rc == 0)
			break;
		if (rc < 0) {
			slog_warn("peer",
				  "election connection with server %" PRId64
				  " (%s): frame length %d out of range: closing",
				  c->peer->id, c->addr, (int32_t)jute_load32(c->ebuf + pos));
			conn_close(c, false, "bad frame");
			return;
		}
		pos += used;
		n->st.packets_in++;
		struct zmsg m;
		int64_t from = c->peer->id;
		if (qc_notification_get(body, blen, &m)) {
			/* Apache's WorkerReceiver drops these and keeps the connection */
			if (!c->logged_bad)
				slog_warn("peer",
					  "election: undecodable notification (%zu bytes) from "
					  "server %" PRId64 " (%s) dropped",
					  blen, from, c->addr);
			c->logged_bad = true;
			zmsg_free(&m);
			continue;
		}
		if (n->cb.recv)
			n->cb.recv(n->cb.arg, from, &m);
		else
			zmsg_free(&m);
	}
	if (c->state == CS_CLOSED)
		return;
	memmove(c->ebuf, c->ebuf + pos, c->elen - pos);
	c->elen -= pos;
	if (c->elen == 0 && c->ecap > 65536) {
		free(c->ebuf);
		c->ebuf = NULL;
		c->ecap = 0;
	}
}

/* ================================================================ SNAP child */

/*
 * A SNAP is the leader's whole tree (a million znodes: ~180 MB).  Encoded
 * in the loop, it would stall every client of the leader for as long as
 * encoding takes, and the learner could start parsing only after it.  So
 * the leader forks: the child holds the tree exactly as it was when the
 * SNAP was sent (copy-on-write) and streams its encoding straight into the
 * socket, a MiB at a time, while the learner parses as bytes come and the
 * parent goes on serving.  The parent first writes what it had queued
 * before the SNAP, then tells the child to start (a byte on a pipe), and
 * holds every later packet for this learner until the child exits: its
 * status says whether the stream went out whole.  If fork fails, the SNAP
 * is encoded in the loop as before.  The child only encodes and writes:
 * no logging, no libuv, _exit at the end, and it dies with the parent.
 */

struct child_out {
	int fd, go;
	bool started;
	uint64_t *sent;
};

static int child_write(void *arg, const void *buf, size_t len)
{
	struct child_out *co = arg;
	if (!co->started) {
		char b;
		if (read(co->go, &b, 1) != 1)
			return -EPIPE; /* the parent gave up on it */
		close(co->go);
		co->started = true;
	}
	const uint8_t *p = buf;
	while (len) {
		ssize_t k = send(co->fd, p, len, MSG_NOSIGNAL);
		if (k > 0) {
			p += k;
			len -= (size_t)k;
			*co->sent += (uint64_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* the socket is non-blocking (shared with the parent): a
			 * learner that reads nothing for a minute is gone */
			struct pollfd pf = {.fd = co->fd, .events = POLLOUT};
			int r = poll(&pf, 1, 60000);
			if (r > 0 || (r < 0 && errno == EINTR))
				continue;
			return -ETIMEDOUT;
		}
		return -EPIPE;
	}
	return 0;
}

static void on_snap_timer(uv_timer_t *t);

static int snap_fork(struct pconn *c, const struct zmsg *m)
{
	struct peer_net *n = c->net;
	uv_os_fd_t fd;
	int go[2];
	if (uv_fileno((uv_handle_t *)&c->tcp, &fd) < 0)
		return -1;
	uint64_t *sent = mmap(NULL, sizeof(*sent), PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sent == MAP_FAILED)
		return -1;
	*sent = 0;
	if (pipe2(go, O_CLOEXEC) < 0) {
		munmap(sent, sizeof(*sent));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		slog_warn("peer", "cannot fork a SNAP sender (%s): encoding it in the loop",
			  strerror(errno));
		close(go[0]);
		close(go[1]);
		munmap(sent, sizeof(*sent));
		return -1;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(3);
		close(go[1]);
		struct child_out co = {.fd = fd, .go = go[0], .sent = sent};
		int rc = qc_snap_packet_stream(m, 1u << 20, child_write, &co);
		_exit(rc ? 1 : 0);
	}
	close(go[0]);
	c->snap_pid = pid;
	c->snap_go = go[1];
	c->snap_state = SS_PRE;
	c->snap_t0 = uv_hrtime();
	c->snap_sent = sent;
	c->refs++; /* until reaped */
	n->st.packets_out++;
	if (n->nsnaps == n->capsnaps) {
		n->capsnaps = n->capsnaps ? 2 * n->capsnaps : 4;
		n->snaps = xrealloc(n->snaps, n->capsnaps * sizeof(*n->snaps));
	}
	n->snaps[n->nsnaps++] = c;
	if (n->nsnaps == 1)
		uv_timer_start(&n->snap_timer, on_snap_timer, 2, 2);
	slog_info("peer", "SNAP 0x%" PRIx64 " for server %" PRId64 ": streamed by child %d",
		  m->zxid, c->peer ? c->peer->id : -1, (int)pid);
	mark_dirty(c);
	return 0;
}

/* What went before the SNAP is written: the child may start. */
static void snap_start_child(struct pconn *c)
{
	char b = 1;
	if (write(c->snap_go, &b, 1) != 1) {
		conn_close(c, true, "cannot start the SNAP sender");
		return;
	}
	close(c->snap_go);
	c->snap_go = -1;
	c->snap_state = SS_CHILD;
}

/* The child of c exited with wait status st. */
static void snap_reaped(struct pconn *c, int st)
{
	c->snap_pid = 0;
	bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	uint64_t sent = *c->snap_sent;
	munmap(c->snap_sent, sizeof(*c->snap_sent));
	c->snap_sent = NULL;
	c->net->st.bytes_out += sent;
	if (c->state == CS_CLOSED) {
		c->snap_state = SS_NONE;
		return;
	}
	if (!ok || c->snap_state != SS_CHILD) {
		slog_warn("peer", "the SNAP sender for server %" PRId64 " failed (%s %d): closing",
			  c->peer ? c->peer->id : -1, WIFEXITED(st) ? "exit" : "signal",
			  WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		c->snap_state = SS_NONE;
		conn_close(c, true, "SNAP sender failed");
		return;
	}
	slog_info("peer", "SNAP for server %" PRId64 ": %" PRIu64 " KB streamed in %" PRIu64 " ms",
		  c->peer ? c->peer->id : -1, sent >> 10, (uv_hrtime() - c->snap_t0) / 1000000);
	/* the packets held meanwhile go out now, in order */
	c->snap_state = SS_NONE;
	struct jute_out t = c->out;
	c->out = c->held;
	c->held = t;
	mark_dirty(c);
	conn_flush(c);
}

static void on_snap_timer(uv_timer_t *t)
{
	struct peer_net *n = t->data;
	for (size_t i = 0; i < n->nsnaps;) {
		struct pconn *c = n->snaps[i];
		int st;
		pid_t pid = waitpid(c->snap_pid, &st, WNOHANG);
		if (pid == 0 || (pid < 0 && errno == EINTR)) {
			i++;
			continue;
		}
		if (pid < 0)
			st = 0x7f00; /* not ours to wait for any more: a failure */
		n->snaps[i] = n->snaps[--n->nsnaps];
		snap_reaped(c, st);
		conn_unref(c);
	}
	if (n->nsnaps == 0)
		uv_timer_stop(&n->snap_timer);
}

/* ================================================================ quorum */

static void discard(struct zmsg *m)
{
	if (m->snap)
		core_free(m->snap);
	m->snap = NULL;
	zmsg_free(m);
}

/* Encodes m onto c.  Returns 0, or a negative errno with c closed (and
 * channel_down reported). */
static int snap_fork(struct pconn *c, const struct zmsg *m);

static int quorum_put(struct pconn *c, const struct zmsg *m)
{
	struct peer_net *n = c->net;
	if (m->type == ZM_SNAP && c->snap_state == SS_NONE && !c->outbound && snap_fork(c, m) == 0)
		return 0;
	/* while a child sends a SNAP, later packets wait for it */
	struct jute_out *o = c->snap_state != SS_NONE ? &c->held : &c->out;
	size_t before = o->len;
	uint64_t t0 = m->type == ZM_SNAP ? uv_hrtime() : 0;
	int rc = qc_packet_put(o, m, !c->outbound, NULL);
	if (rc) {
		slog_error("peer",
			   "quorum: cannot encode %s for server %" PRId64
			   ": %s; closing the channel",
			   zmsg_type_name(m->type), c->peer->id, strerror(-rc));
		conn_close(c, true, "encoding failed");
		return rc;
	}
	size_t size = o->len - before;
	if (m->type == ZM_SNAP) {
		c->allow += size; /* a SNAP is the resync itself: never too big */
		slog_info("peer", "SNAP for server %" PRId64 ": %zu KB encoded in %" PRIu64 " ms",
			  c->peer->id, size >> 10, (uv_hrtime() - t0) / 1000000);
	}
	n->st.packets_out++;
	n->st.bytes_out += size;
	mark_dirty(c);
	if (conn_queued(c) > c->allow) {
		slog_warn("peer",
			  "quorum connection with server %" PRId64 " (%s): %zu bytes queued, "
			  "more than %zu (it does not keep up): closing, it will resync",
			  c->peer->id, c->addr, conn_queued(c), c->allow);
		conn_close(c, true, "output limit");
		return -ENOBUFS;
	}
	return 0;
}

/* The first packet of an accepted quorum connection binds it to the
 * learner it names.  Returns true when bound, false when refused (closed). */
static bool quorum_bind(struct pconn *c, const struct zmsg *m)
{
	struct peer_net *n = c->net;
	if (m->type != ZM_FOLLOWERINFO && m->type != ZM_OBSERVERINFO) {
		slog_warn("peer",
			  "quorum connection from %s: first packet is %s, not "
			  "FOLLOWERINFO/OBSERVERINFO: closing",
			  c->addr, zmsg_type_name(m->type));
		n->st.refused++;
		conn_close(c, false, "bad first packet");
		return false;
	}
	struct peer *p = peer_find(n, m->sid);
	if (!p || !p->member || p == n->me) {
		slog_warn("peer",
			  "quorum connection from %s: %s of server %" PRId64
			  ", not a member: closing",
			  c->addr, zmsg_type_name(m->type), m->sid);
		n->st.refused++;
		conn_close(c, false, "not a member");
		return false;
	}
	uv_timer_stop(&c->timer);
	struct pconn *old = p->qconn;
	p->qconn = c;
	c->peer = p;
	c->counted = true;
	n->st.quorum_conns++;
	p->down_pending = false; /* a newer channel: the old one's loss is moot */
	if (old)		 /* replaced: no channel_down */
		conn_close(old, false, "replaced by a newer connection from the same server");
	slog_info("peer", "quorum connection from server %" PRId64 " (%s) up", p->id, c->addr);
	return true;
}

static void quorum_input(struct pconn *c, const uint8_t *b, size_t len)
{
	struct peer_net *n = c->net;
	int rc = qc_reader_feed(&c->rd, b, len);
	while (rc == 0 && c->state != CS_CLOSED && !n->closing) {
		struct zmsg m;
		rc = qc_reader_next(&c->rd, &m);
		if (rc == 0)
			return;
		if (rc < 0)
			break;
		n->st.packets_in++;
		if (!c->peer && !quorum_bind(c, &m)) {
			discard(&m);
			return;
		}
		rc = 0;
		if (n->cb.recv)
			n->cb.recv(n->cb.arg, c->peer ? c->peer->id : m.sid, &m);
		else
			discard(&m);
	}
	if (rc >= 0 || c->state == CS_CLOSED)
		return;
	const char *why = c->rd.why ? c->rd.why : strerror(-rc);
	if (c->peer) {
		slog_warn("peer", "quorum connection with server %" PRId64 " (%s): %s: closing",
			  c->peer->id, c->addr, why);
	} else {
		slog_warn("peer", "quorum connection from %s: %s: closing", c->addr, why);
		n->st.refused++;
	}
	conn_close(c, true, why);
}

/* ================================================================ input */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct pconn *c = h->data;
	struct peer_net *n = c->net;
	(void)suggested;
	/* libuv reads one stream at a time, right after this: one buffer */
	if (!n->rbuf)
		n->rbuf = xmalloc(READ_CHUNK);
	buf->base = (char *)n->rbuf;
	buf->len = READ_CHUNK;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct pconn *c = s->data;
	struct peer_net *n = c->net;
	(void)buf;
	if (nread == 0 || c->state == CS_CLOSED)
		return;
	if (nread < 0) {
		const char *why = nread == UV_EOF ? "closed by the peer" : uv_strerror((int)nread);
		if (c->kind == CK_QUORUM && c->peer) {
			if (nread == UV_EOF)
				slog_info("peer",
					  "quorum connection with server %" PRId64 " (%s) %s",
					  c->peer->id, c->addr, why);
			else
				slog_warn("peer",
					  "quorum connection with server %" PRId64 " (%s): %s",
					  c->peer->id, c->addr, why);
		}
		conn_close(c, true, why);
		return;
	}
	n->st.bytes_in += (uint64_t)nread;
	if (c->kind == CK_ELECTION)
		election_input(c, n->rbuf, (size_t)nread);
	else
		quorum_input(c, n->rbuf, (size_t)nread);
}

/* ================================================================ listening */

static void accept_one(uv_stream_t *ls, int status, enum ckind kind)
{
	struct peer_net *n = ls->data;
	if (status < 0) {
		slog_warn("peer", "%s port: accept: %s", kind == CK_QUORUM ? "quorum" : "election",
			  uv_strerror(status));
		return;
	}
	struct pconn *c = conn_new(n, kind, false);
	if (uv_accept(ls, (uv_stream_t *)&c->tcp) < 0) {
		conn_close(c, false, "accept failed");
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	char ip[64] = "?";
	int port = 0;
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET6) {
			uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		} else {
			uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		}
	}
	snprintf(c->addr, sizeof(c->addr), strchr(ip, ':') ? "[%s]:%d" : "%s:%d", ip, port);
	c->state = CS_UP;
	slog_debug("peer", "%s connection from %s", kind_name(c), c->addr);
	uv_timer_start(&c->timer, on_connect_timeout, (uint64_t)n->connect_timeout_ms, 0);
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_election_conn(uv_stream_t *ls, int status)
{
	accept_one(ls, status, CK_ELECTION);
}

static void on_quorum_conn(uv_stream_t *ls, int status)
{
	accept_one(ls, status, CK_QUORUM);
}

/* Resolves host (a literal, or a name: blocking, only at start or when
 * starting to lead) for binding. */
static int resolve_bind(struct peer_net *n, const char *host, int port, struct sockaddr_storage *ss)
{
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0 ||
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
		return 0;
	uv_getaddrinfo_t req;
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	int rc = uv_getaddrinfo(n->loop, &req, NULL, host, ps, &hints);
	if (rc < 0)
		return rc;
	memcpy(ss, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
	uv_freeaddrinfo(req.addrinfo);
	return 0;
}

static int bind_listen(struct peer_net *n, const char *host, int port, uv_connection_cb cb,
		       uv_tcp_t **out)
{
	struct sockaddr_storage ss;
	int rc = resolve_bind(n, host, port, &ss);
	if (rc < 0)
		return rc;
	uv_tcp_t *h = xmalloc(sizeof(*h));
	uv_tcp_init(n->loop, h);
	h->data = n;
	n->refs++;
	/* libuv sets SO_REUSEADDR on every TCP bind (unix) */
	rc = uv_tcp_bind(h, (struct sockaddr *)&ss, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)h, 64, cb);
	if (rc < 0) {
		uv_close((uv_handle_t *)h, on_listener_closed);
		return rc;
	}
	*out = h;
	return 0;
}

/* Listens on my port: my host's address, or every address (dual-stack
 * "::", else 0.0.0.0) with listen_all.  Logs a failure. */
static int listen_port(struct peer_net *n, int port, uv_connection_cb cb, uv_tcp_t **out,
		       const char *what)
{
	const char *host = n->listen_all ? "::" : n->me->host;
	int rc = bind_listen(n, host, port, cb, out);
	if (rc < 0 && n->listen_all) {
		host = "0.0.0.0";
		rc = bind_listen(n, host, port, cb, out);
	}
	if (rc < 0)
		slog_error("peer", "cannot listen on the %s port %s:%d: %s", what, host, port,
			   uv_strerror(rc));
	else
		slog_info("peer", "listening on the %s port %s:%d", what, host, port);
	return rc;
}

/* ================================================================ API */

static char *strip_brackets(const char *h)
{
	size_t len = strlen(h);
	if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
		char *s = xmalloc(len - 1);
		memcpy(s, h + 1, len - 2);
		s[len - 2] = 0;
		return s;
	}
	return xstrdup(h);
}

int peer_net_open(struct peer_net **out, uv_loop_t *loop, const struct peer_net_opts *opts,
		  const struct peer_net_cb *cb)
{
	*out = NULL;
	if (!opts->members || !opts->n_members)
		return -EINVAL;
	struct peer_net *n = xcalloc(1, sizeof(*n));
	n->loop = loop;
	n->my_id = opts->my_id;
	n->cb = *cb;
	n->listen_all = opts->listen_all;
	/* jute.maxbuffer + extrasize (= jute.maxbuffer unless set, at least
	 * 1024): BinaryInputArchive.checkLength */
	n->max_buffer = opts->max_buffer
			    ? opts->max_buffer + (opts->max_buffer < 1024 ? 1024 : opts->max_buffer)
			    : QC_MAXBUF_DEFAULT;
	n->max_queued = opts->max_queued ? opts->max_queued : QUEUE_MAX_DEFAULT;
	n->connect_timeout_ms =
	    opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : CONNECT_TIMEOUT_DEFAULT;
	n->snap_cfg = opts->snap_cfg;
	if (opts->snap_cfg.super_digest)
		n->snap_cfg.super_digest = n->snap_super = xstrdup(opts->snap_cfg.super_digest);
	if (opts->config_text)
		n->config_text = xstrdup(opts->config_text);
	n->observer_counter = -1;
	n->refs = 1;
	int rc = 0;
	for (size_t i = 0; i < opts->n_members; i++) {
		const struct peer_member *pm = &opts->members[i];
		if (peer_find(n, pm->id) || !pm->host || pm->election_port <= 0 ||
		    pm->election_port > 65535 || pm->quorum_port <= 0 || pm->quorum_port > 65535) {
			rc = -EINVAL;
			goto err_free;
		}
		struct peer *p = xcalloc(1, sizeof(*p));
		p->id = pm->id;
		p->host = strip_brackets(pm->host);
		p->qport = pm->quorum_port;
		p->eport = pm->election_port;
		p->observer = pm->observer;
		p->member = true;
		p->net = n;
		p->backoff_ms = BACKOFF_MIN_MS;
		if (peers_push(n, p)) {
			free(p->host);
			free(p);
			rc = -ENOMEM;
			goto err_free;
		}
		if (p->id == n->my_id)
			n->me = p;
	}
	if (!n->me) {
		slog_error("peer", "server %" PRId64 " is not in its own configuration", n->my_id);
		rc = -EINVAL;
		goto err_free;
	}
	snprintf(n->hello_addr, sizeof(n->hello_addr),
		 strchr(n->me->host, ':') ? "[%s]:%d" : "%s:%d", n->me->host, n->me->eport);
	rc = listen_port(n, n->me->eport, on_election_conn, &n->elisten, "election");
	if (rc < 0)
		goto err_close;
	uv_prepare_init(loop, &n->prep);
	uv_check_init(loop, &n->check);
	uv_idle_init(loop, &n->down_idle);
	uv_timer_init(loop, &n->snap_timer);
	n->prep.data = n->check.data = n->down_idle.data = n->snap_timer.data = n;
	n->refs += 4;
	uv_prepare_start(&n->prep, on_prepare);
	uv_check_start(&n->check, on_check);
	uv_unref((uv_handle_t *)&n->prep);
	uv_unref((uv_handle_t *)&n->check);
	for (size_t i = 0; i < n->npeers; i++) {
		struct peer *p = n->peers[i];
		if (p == n->me)
			continue;
		uv_timer_init(loop, &p->retry);
		p->retry.data = p;
		n->refs++;
	}
	*out = n;
	return 0;

err_close:
	/* a listener handle may be closing: the struct goes with it */
	n->closing = true;
	net_unref(n);
	return rc;
err_free:
	net_free(n);
	return rc;
}

void peer_net_send(struct peer_net *n, int64_t to, const struct zmsg *m)
{
	if (n->closing)
		return;
	if (m->type == ZM_NOTIFICATION) {
		election_send(n, to, m);
		return;
	}
	struct peer *p = peer_find(n, to);
	if (!p || !p->member || p == n->me) {
		slog_debug("peer", "quorum: no server %" PRId64 ", %s dropped", to,
			   zmsg_type_name(m->type));
		return;
	}
	if (m->type == ZM_FOLLOWERINFO || m->type == ZM_OBSERVERINFO) {
		/* a learner's new channel to its leader */
		if (p->qconn)
			conn_close(p->qconn, false, "a new channel to the leader");
		p->down_pending = false;
		struct pconn *c = conn_new(n, CK_QUORUM, true);
		c->peer = p;
		p->qconn = c;
		snprintf(c->addr, sizeof(c->addr), "%s:%d", p->host, p->qport);
		if (quorum_put(c, m) == 0)
			conn_dial(c, p->host, p->qport);
		return;
	}
	if (!p->qconn) {
		slog_debug("peer", "quorum: no connection with server %" PRId64 ", %s dropped", to,
			   zmsg_type_name(m->type));
		return;
	}
	quorum_put(p->qconn, m);
}

void peer_net_close_channel(struct peer_net *n, int64_t to)
{
	struct peer *p = peer_find(n, to);
	if (!p)
		return;
	p->down_pending = false;
	if (p->qconn)
		conn_close(p->qconn, false, "closed by the protocol");
}

int peer_net_lead(struct peer_net *n, bool on)
{
	if (n->closing)
		return on ? -ECANCELED : 0;
	if (on)
		return n->qlisten
			   ? 0
			   : listen_port(n, n->me->qport, on_quorum_conn, &n->qlisten, "quorum");
	if (n->qlisten) {
		uv_close((uv_handle_t *)n->qlisten, on_listener_closed);
		n->qlisten = NULL;
		slog_info("peer", "stopped listening on the quorum port");
	}
	for (struct pconn *c = n->conns, *next; c; c = next) {
		next = c->next;
		if (c->kind == CK_QUORUM && !c->outbound)
			conn_close(c, false, "no longer leading");
	}
	return 0;
}

void peer_net_close(struct peer_net *n, void (*done)(void *arg), void *arg)
{
	if (n->closing)
		return;
	n->closing = true;
	n->done = done;
	n->done_arg = arg;
	while (n->conns)
		conn_close(n->conns, false, "shutting down");
	if (n->elisten)
		uv_close((uv_handle_t *)n->elisten, on_listener_closed);
	if (n->qlisten)
		uv_close((uv_handle_t *)n->qlisten, on_listener_closed);
	n->elisten = n->qlisten = NULL;
	uv_close((uv_handle_t *)&n->prep, on_net_handle_closed);
	uv_close((uv_handle_t *)&n->check, on_net_handle_closed);
	uv_close((uv_handle_t *)&n->down_idle, on_net_handle_closed);
	/* SNAP children still running die with their connections (killed in
	 * conn_close); reap them now so that none is left a zombie */
	for (size_t i = 0; i < n->nsnaps; i++) {
		struct pconn *c = n->snaps[i];
		if (c->snap_pid > 0) {
			kill(c->snap_pid, SIGKILL);
			waitpid(c->snap_pid, NULL, 0);
			c->snap_pid = 0;
			munmap(c->snap_sent, sizeof(*c->snap_sent));
			c->snap_sent = NULL;
		}
		conn_unref(c);
	}
	n->nsnaps = 0;
	uv_close((uv_handle_t *)&n->snap_timer, on_net_handle_closed);
	for (size_t i = 0; i < n->npeers; i++)
		if (n->peers[i]->member && n->peers[i] != n->me)
			uv_close((uv_handle_t *)&n->peers[i]->retry, on_retry_closed);
	net_unref(n);
}

void peer_net_get_stats(const struct peer_net *n, struct peer_net_stats *out)
{
	*out = n->st;
}
