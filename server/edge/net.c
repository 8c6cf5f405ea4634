/*
 * net.c — listening socket, connections, framing and output buffering of
 * zkfs-server (see net.h for the connection state machine).
 *
 * Input: libuv reads straight into the connection's buffer; frames are
 * split in place and handed to server_conn_frame() one by one, as many as
 * the buffer holds, unless the connection must stop (handshake pending,
 * global throttle, output back-pressure, closing).  Unparsed bytes stay
 * put and are parsed when the connection may go on.
 *
 * Output: replies and events are appended to c->out; connections with
 * output are put on a list that a uv_check hook writes out once per loop
 * iteration: first uv_try_write (usually the whole thing, no allocation),
 * and only the rest as one uv_write.  At most one write is in flight per
 * connection; bytes produced meanwhile wait in `out`.
 */
#include "net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fourlw.h"
#include "server.h"
#include "slog.h"
#include "tls.h"

#define READ_CHUNK 65536

static void conn_free(struct conn *c)
{
	tls_conn_free(c);
	free(c->rbuf);
	free(c->wbuf);
	jute_out_free(&c->out);
	free(c);
}

void net_conn_ref(struct conn *c)
{
	c->refs++;
}

void net_conn_unref(struct conn *c)
{
	if (--c->refs == 0)
		conn_free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	net_conn_unref(c);
}

size_t net_pending_out(const struct conn *c)
{
	return c->out.len + (c->writing ? c->wlen : 0) + (c->tls ? c->tls->cout.len : 0);
}

static void on_flush_idle(uv_idle_t *h)
{
	uv_idle_stop(h); /* the uv_check hook does the writing */
}

void net_kick(struct server *srv)
{
	if (!srv->hooks_closed)
		uv_idle_start(&srv->flush_idle, on_flush_idle);
}

void net_schedule_flush(struct conn *c)
{
	if (c->in_flush_list || c->state == CONN_CLOSED)
		return;
	c->in_flush_list = true;
	net_conn_ref(c); /* the flush list's reference */
	/* output produced outside the poll phase (timers, idle) must not wait
	 * for the next event: an active idle handle makes the poll not block */
	if (!c->srv->flush_list)
		net_kick(c->srv);
	c->flush_next = c->srv->flush_list;
	c->srv->flush_list = c;
}

void net_send(struct conn *c, const void *p, size_t n)
{
	if (c->state == CONN_CLOSED)
		return;
	jute_put_raw(&c->out, p, n);
	net_schedule_flush(c);
}

void net_close_now(struct conn *c, const char *why)
{
	if (c->state == CONN_CLOSED)
		return;
	struct server *srv = c->srv;
	slog_debug("net", "closing connection %llu from %s: %s", (unsigned long long)c->id, c->peer,
		   why);
	c->state = CONN_CLOSED;
	/* unlink from the server's list; the flush list skips closed ones */
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	srv->nconns--;
	server_conn_closed(c);
	if (c->reading)
		uv_read_stop((uv_stream_t *)&c->tcp);
	c->reading = false;
	/* a write in flight completes with ECANCELED before the close callback */
	uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

void net_close_after_flush(struct conn *c, const char *why)
{
	if (c->state >= CONN_CLOSING)
		return;
	slog_debug("net", "connection %llu from %s closes after flush: %s",
		   (unsigned long long)c->id, c->peer, why);
	c->state = CONN_CLOSING;
	c->closing_ms = uv_now(c->srv->loop);
	if (c->reading)
		uv_read_stop((uv_stream_t *)&c->tcp);
	c->reading = false;
	net_schedule_flush(c);
}

/* ---------------------------------------------------------------- output */

static void flush_conn(struct conn *c);

static void on_write(uv_write_t *w, int status)
{
	struct conn *c = w->data;
	c->writing = false;
	free(c->wbuf);
	c->wbuf = NULL;
	c->wlen = 0;
	if (c->state == CONN_CLOSED) {
		net_conn_unref(c);
		return;
	}
	net_conn_unref(c);
	if (status < 0) {
		net_close_now(c, uv_strerror(status));
		return;
	}
	if (c->out.len || c->state == CONN_CLOSING || (c->tls && c->tls->cout.len))
		flush_conn(c);
	else
		net_conn_update(c); /* back-pressure may be over */
}

static void flush_conn(struct conn *c)
{
	if (c->state == CONN_CLOSED || c->writing)
		return;
	/* TLS: what leaves is the sealed copy of `out` */
	struct jute_out *out = &c->out;
	if (c->tls) {
		if (tls_conn_seal(c) < 0) {
			net_close_now(c, "TLS output failed");
			return;
		}
		out = &c->tls->cout;
	}
	if (out->len == 0) {
		if (c->state == CONN_CLOSING)
			net_close_now(c, "flushed");
		return;
	}
	uv_buf_t b = uv_buf_init((char *)out->buf, (unsigned)out->len);
	int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
	if (n == UV_EAGAIN || n == UV_ENOSYS)
		n = 0;
	if (n < 0) {
		net_close_now(c, uv_strerror(n));
		return;
	}
	if ((size_t)n == out->len) {
		jute_out_reset(out);
		if (c->state == CONN_CLOSING)
			net_close_now(c, "flushed");
		else if (!c->reading)
			net_conn_update(c); /* back-pressure may be over */
		return;
	}
	/* the rest goes out asynchronously; `out` starts afresh */
	size_t total;
	uint8_t *buf = jute_out_steal(out, &total);
	if ((size_t)n > 0)
		memmove(buf, buf + n, total - (size_t)n);
	c->wbuf = buf;
	c->wlen = total - (size_t)n;
	c->wreq.data = c;
	b = uv_buf_init((char *)c->wbuf, (unsigned)c->wlen);
	int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write);
	if (rc < 0) {
		net_close_now(c, uv_strerror(rc));
		return;
	}
	c->writing = true;
	net_conn_ref(c);
	/* a client that does not read its replies must not make us buffer
	 * without bound */
	if (net_pending_out(c) > c->srv->out_close_bytes)
		net_close_now(c, "output buffer limit exceeded (client does not read)");
	else
		net_conn_update(c);
}

void net_flush_all(struct server *srv)
{
	while (srv->flush_list) {
		struct conn *c = srv->flush_list;
		srv->flush_list = c->flush_next;
		c->flush_next = NULL;
		c->in_flush_list = false;
		if (c->state != CONN_CLOSED && net_pending_out(c) > srv->out_close_bytes)
			net_close_now(c, "output buffer limit exceeded (client does not read)");
		else
			flush_conn(c);
		net_conn_unref(c);
	}
}

/* ---------------------------------------------------------------- input */

static bool may_parse(const struct conn *c)
{
	if (c->state == CONN_HANDSHAKE || c->state >= CONN_CLOSING)
		return false;
	if (c->srv->throttled || c->srv->shutting_down)
		return false;
	/* an ensemble member between leaders holds its sessions' requests
	 * (new connections still get their handshake refused and 4lw
	 * answered) */
	if (c->srv->zab && !c->srv->ens_serving && c->state == CONN_OPEN)
		return false;
	if (net_pending_out(c) > c->srv->out_stop_bytes)
		return false;
	return true;
}

/* Hands the whole frames of base[0..len) to the pipeline, as long as the
 * connection may go on.  Returns the bytes consumed; *need is the size of
 * the incomplete frame at the end (0 if none is known).  The caller holds
 * a reference; the connection may be CLOSED on return. */
static size_t split(struct conn *c, const uint8_t *base, size_t len, size_t *need)
{
	struct server *srv = c->srv;
	size_t pos = 0;
	*need = 0;
	while (may_parse(c)) {
		size_t avail = len - pos;
		if (avail < 4)
			break;
		const uint8_t *p = base + pos;
		if (c->state == CONN_NEW && fourlw_is_command(p)) {
			pos += 4;
			fourlw_run(srv, c, (const char *)p);
			net_close_after_flush(c, "four-letter word");
			break;
		}
		int32_t flen = (int32_t)jute_load32(p);
		if (flen < 0 || (int64_t)flen > (int64_t)srv->max_buffer) {
			if (c->state == CONN_NEW && !c->tls && zktls_is_hello(p[0])) {
				tls_log_reject(srv, c->peer,
					       "TLS handshake on the plain-text client port (use "
					       "secureClientPort, or set client.portUnification=true)");
				net_close_now(c, "TLS on the plain port");
				break;
			}
			slog_warn("net", "%s: frame length %d out of range (jute.maxbuffer %zu), closing",
				  c->peer, flen, srv->max_buffer);
			net_close_now(c, "bad frame length");
			break;
		}
		if (avail - 4 < (size_t)flen) {
			*need = (size_t)flen + 4;
			break;
		}
		pos += 4 + (size_t)flen;
		c->recv++;
		srv->packets_received++;
		int rc = server_conn_frame(c, p + 4, (size_t)flen);
		if (rc < 0) {
			if (c->state != CONN_CLOSED)
				net_close_now(c, "bad request");
			break;
		}
	}
	return pos;
}

/* Makes the connection's own buffer hold at least n bytes.  0 or -ENOMEM. */
static int reserve_rbuf(struct conn *c, size_t n)
{
	if (n <= c->rcap)
		return 0;
	uint8_t *nb = realloc(c->rbuf, n);
	if (!nb)
		return -ENOMEM;
	c->rbuf = nb;
	c->rcap = n;
	return 0;
}

/* Parses the connection's own buffer.  Returns false when the connection
 * was closed. */
static bool parse(struct conn *c)
{
	net_conn_ref(c);
	size_t need;
	size_t pos = split(c, c->rbuf, c->rlen, &need);
	bool alive = c->state != CONN_CLOSED;
	if (alive && pos > 0) {
		memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
		c->rlen -= pos;
	}
	if (alive && reserve_rbuf(c, need) < 0) {
		net_close_now(c, "out of memory");
		alive = false;
	}
	if (alive && c->rlen == 0 && c->rcap > 4 * READ_CHUNK) {
		/* a big frame is done: don't keep a megabyte per connection */
		free(c->rbuf);
		c->rbuf = NULL;
		c->rcap = 0;
	}
	net_conn_unref(c);
	return alive;
}

/*
 * Reads land in one buffer shared by all connections whenever the
 * connection has nothing pending (the common case: whole requests), so an
 * idle connection owns no read buffer at all.  Only a partial frame, or
 * frames the connection may not process yet, are copied to its own buffer.
 * libuv calls on_read right after on_alloc, one stream at a time, so one
 * shared buffer is enough.
 */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;
	struct server *srv = c->srv;
	(void)suggested;
	if (c->tls) {
		/* ciphertext: decrypted into the connection's buffer by on_read */
		if (!srv->rshared_busy && (srv->rshared || (srv->rshared = malloc(READ_CHUNK)))) {
			srv->rshared_busy = true;
			c->in_shared = true;
			*buf = uv_buf_init((char *)srv->rshared, READ_CHUNK);
		} else {
			size_t len = 0;
			uint8_t *p = tls_conn_scratch(c, &len);
			*buf = uv_buf_init((char *)p, p ? (unsigned)len : 0);
		}
		return;
	}
	if (c->rlen == 0 && !srv->rshared_busy) {
		if (!srv->rshared && !(srv->rshared = malloc(READ_CHUNK))) {
			*buf = uv_buf_init(NULL, 0);
			return;
		}
		srv->rshared_busy = true;
		c->in_shared = true;
		*buf = uv_buf_init((char *)srv->rshared, READ_CHUNK);
		return;
	}
	if (c->rcap - c->rlen < READ_CHUNK / 4) {
		size_t ncap = c->rcap < READ_CHUNK ? READ_CHUNK : c->rcap * 2;
		while (ncap - c->rlen < READ_CHUNK / 4)
			ncap *= 2;
		if (reserve_rbuf(c, ncap) < 0) {
			*buf = uv_buf_init(NULL, 0);
			return;
		}
	}
	*buf = uv_buf_init((char *)c->rbuf + c->rlen, (unsigned)(c->rcap - c->rlen));
}

/* A read of a TLS connection, or the first of a unified port's connection.
 * Returns true when it was handled (false: plain text, go on as usual). */
static bool tls_read(struct conn *c, const uint8_t *p, size_t n)
{
	if (c->sniff) {
		c->sniff = false;
		if (!zktls_is_hello(p[0]))
			return false;
		if (tls_conn_start(c) < 0) {
			net_close_now(c, "out of memory");
			return true;
		}
	}
	int rc = tls_conn_input(c, p, n);
	if (rc == -EPIPE) {
		/* what came with the close_notify (a Java client's closeSession)
		 * is still read, as plain text before its end of stream */
		if (parse(c))
			net_close_now(c, "TLS close_notify");
		return true;
	}
	if (rc < 0) {
		/* the alert (if any) goes out before the close */
		net_close_after_flush(c, "TLS failure");
		return true;
	}
	if (parse(c))
		net_conn_update(c);
	return true;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	struct server *srv = c->srv;
	bool shared = c->in_shared;
	if (shared) {
		c->in_shared = false;
		srv->rshared_busy = false;
	}
	if (n < 0) {
		net_close_now(c, n == UV_EOF ? "end of stream" : uv_strerror((int)n));
		return;
	}
	if (n == 0)
		return;
	if (__builtin_expect(c->tls != NULL || c->sniff, 0)) {
		if (tls_read(c, shared ? srv->rshared : (const uint8_t *)buf->base, (size_t)n))
			return;
	}
	if (!shared) {
		c->rlen += (size_t)n;
		if (parse(c))
			net_conn_update(c);
		return;
	}
	/* frames straight from the shared buffer; keep only the rest */
	net_conn_ref(c);
	srv->rshared_busy = true; /* nobody may reuse it while we parse it */
	size_t need;
	size_t pos = split(c, srv->rshared, (size_t)n, &need);
	size_t left = (size_t)n - pos;
	bool alive = c->state != CONN_CLOSED;
	if (alive && left > 0) {
		if (reserve_rbuf(c, left > need ? left : need) < 0) {
			net_close_now(c, "out of memory");
			alive = false;
		} else {
			memcpy(c->rbuf, srv->rshared + pos, left);
			c->rlen = left;
		}
	}
	srv->rshared_busy = false;
	if (alive)
		net_conn_update(c);
	net_conn_unref(c);
}

void net_conn_update(struct conn *c)
{
	if (c->state == CONN_CLOSED)
		return;
	bool want = may_parse(c);
	if (want && c->rlen >= 4) {
		if (!parse(c))
			return;
		want = may_parse(c);
	}
	if (want && !c->reading) {
		if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
			c->reading = true;
	} else if (!want && c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
}

/* ---------------------------------------------------------------- accept */

static unsigned count_from_ip(struct server *srv, const char *ip)
{
	unsigned n = 0;
	for (struct conn *c = srv->conns; c; c = c->next)
		if (strcmp(c->ip, ip) == 0)
			n++;
	return n;
}

static void on_connection(uv_stream_t *ls, int status)
{
	struct server *srv = ls->data;
	if (status < 0) {
		slog_warn("net", "accept: %s", uv_strerror(status));
		return;
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		slog_error("net", "accept: out of memory");
		return;
	}
	c->srv = srv;
	c->refs = 1;
	jute_out_init(&c->out);
	uv_tcp_init(srv->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(ls, (uv_stream_t *)&c->tcp) < 0) {
		uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	int port = 0;
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			uv_ip6_name(a, c->ip, sizeof(c->ip));
			port = ntohs(a->sin6_port);
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			uv_ip4_name(a, c->ip, sizeof(c->ip));
			port = ntohs(a->sin_port);
		}
	}
	snprintf(c->peer, sizeof(c->peer), "%s:%d", c->ip, port);
	c->id = ++srv->next_conn_id;
	c->established_ms = uv_now(srv->loop);
	c->last_ms = c->established_ms;
	c->state = CONN_NEW;
	if (srv->max_client_cnxns > 0 && count_from_ip(srv, c->ip) >= srv->max_client_cnxns) {
		slog_warn("net", "too many connections from %s (maxClientCnxns %u), refusing %s", c->ip,
			  srv->max_client_cnxns, c->peer);
		uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
		return;
	}
	if (srv->max_cnxns > 0 && srv->nconns >= srv->max_cnxns) {
		slog_warn("net", "too many connections (maxCnxns %u), refusing %s", srv->max_cnxns,
			  c->peer);
		uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
		return;
	}
	if (srv->shutting_down) {
		uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
		return;
	}
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	if ((uv_tcp_t *)ls == &srv->secure_listener) {
		c->secure_port = true;
		if (tls_conn_start(c) < 0) {
			net_close_now(c, "out of memory");
			return;
		}
	} else if (srv->tls && srv->cfg->port_unification) {
		c->sniff = true; /* the first byte says TLS or plain text */
	}
	slog_debug("net", "connection %llu from %s%s", (unsigned long long)c->id, c->peer,
		   c->tls ? " (TLS)" : "");
	net_conn_update(c);
}

static int listen_on(struct server *srv, uv_tcp_t *l, bool *listening, const char *host, int port,
		     int backlog, int *bound_port)
{
	struct sockaddr_storage ss;
	int rc;
	if (strchr(host, ':'))
		rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
	else
		rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
	if (rc < 0)
		return rc;
	rc = uv_tcp_init(srv->loop, l);
	if (rc < 0)
		return rc;
	l->data = srv;
	*listening = true;
	rc = uv_tcp_bind(l, (struct sockaddr *)&ss, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)l, backlog > 0 ? backlog : 1024, on_connection);
	if (rc < 0) {
		*listening = false;
		uv_close((uv_handle_t *)l, NULL);
		return rc;
	}
	/* with port 0 the kernel chose one: the operator needs to know it */
	struct sockaddr_storage bound;
	int bl = sizeof(bound);
	*bound_port = port;
	if (uv_tcp_getsockname(l, (struct sockaddr *)&bound, &bl) == 0)
		*bound_port = ntohs(bound.ss_family == AF_INET6
					   ? ((struct sockaddr_in6 *)&bound)->sin6_port
					   : ((struct sockaddr_in *)&bound)->sin_port);
	return 0;
}

int net_listen(struct server *srv, const char *host, int port, int backlog)
{
	return listen_on(srv, &srv->listener, &srv->listening, host, port, backlog, &srv->bound_port);
}

int net_listen_secure(struct server *srv, const char *host, int port, int backlog)
{
	return listen_on(srv, &srv->secure_listener, &srv->secure_listening, host, port, backlog,
			 &srv->secure_bound_port);
}

void net_stop_listening(struct server *srv)
{
	if (srv->secure_listening) {
		srv->secure_listening = false;
		uv_close((uv_handle_t *)&srv->secure_listener, NULL);
	}
	if (!srv->listening)
		return;
	srv->listening = false;
	uv_close((uv_handle_t *)&srv->listener, NULL);
}
