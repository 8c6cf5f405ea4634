/*
 * test_zkc_common.h — fixtures shared by the libzkc test programs
 * (test_zkc.c, test_zkc_fault.c): starting a real server with
 * tests/lib/zkserver (Apache ZooKeeper or zkfs-server, one group of tests
 * per kind), recording watch and state events from the loop thread, and a
 * TCP proxy that can cut the client off from the server.
 *
 * A server that cannot be started makes the tests of its kind skip.
 */
#ifndef ZKFS_TEST_ZKC_COMMON_H
#define ZKFS_TEST_ZKC_COMMON_H

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "zkc.h"

/* Monotonic milliseconds: waits are bounded in time, not in iterations,
 * so a loaded machine cannot stretch them. */
static __attribute__((unused)) uint64_t ms_now(void)
{
	return uv_hrtime() / 1000000u;
}

/* ------------------------------------------------------------------ servers */

struct srv {
	char kind[16];
	char dir[256];
	int port;
	char spec[300];
};

static const char *zroot(void)
{
	const char *r = getenv("ZKFS_ROOT");
	return r && *r ? r : ".";
}

static __attribute__((unused)) int run_out(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	size_t n = fread(out, 1, len - 1, f);
	out[n] = 0;
	return pclose(f);
}

/* Starts a server of kind in a fresh temp dir; extra = "k=v k=v" or "". */
static __attribute__((unused)) int srv_start(struct srv *s, const char *kind, const char *extra)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->kind, sizeof(s->kind), "%s", kind);
	snprintf(s->dir, sizeof(s->dir), "/tmp/zkc-test-%s-XXXXXX", kind);
	if (!mkdtemp(s->dir))
		return -1;
	char cmd[1024], out[256];
	snprintf(cmd, sizeof(cmd), "ZK_OWNER_PID=%d %s/tests/lib/zkserver start %s %s maxClientCnxns=0 %s 2>/dev/null",
		 (int)getpid(), zroot(), kind, s->dir, extra ? extra : "");
	if (run_out(cmd, out, sizeof(out)) != 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
		if (system(cmd)) {
		}
		s->port = -1;
		return -1;
	}
	s->port = atoi(out);
	snprintf(s->spec, sizeof(s->spec), "127.0.0.1:%d", s->port);
	return s->port > 0 ? 0 : -1;
}

static __attribute__((unused)) void srv_cmd(struct srv *s, const char *what)
{
	char cmd[512], out[64];
	/* ZK_OWNER_PID: a restarted server too dies with this process. */
	snprintf(cmd, sizeof(cmd), "ZK_OWNER_PID=%d %s/tests/lib/zkserver %s %s >/dev/null 2>&1", (int)getpid(), zroot(),
		 what, s->dir);
	run_out(cmd, out, sizeof(out));
}

static __attribute__((unused)) void srv_stop(struct srv *s)
{
	if (s->port <= 0)
		return;
	srv_cmd(s, "stop");
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
	if (system(cmd)) {
	}
	s->port = -1;
}

/* ------------------------------------------------------------------ event log */

struct ev {
	int type, state;
	char path[256];
};

struct evlog {
	uv_mutex_t mu;
	struct ev v[4096];
	int n;
	int states[256];
	int nstates;
};

static __attribute__((unused)) void evlog_init(struct evlog *l)
{
	memset(l, 0, sizeof(*l));
	uv_mutex_init(&l->mu);
}

static __attribute__((unused)) void evlog_destroy(struct evlog *l)
{
	uv_mutex_destroy(&l->mu);
}

static __attribute__((unused)) void on_ev(zkc_session *s, const struct zkc_event *e, void *arg)
{
	struct evlog *l = arg;
	(void)s;
	uv_mutex_lock(&l->mu);
	if (l->n < 4096) {
		l->v[l->n].type = e->type;
		l->v[l->n].state = e->state;
		snprintf(l->v[l->n].path, sizeof(l->v[l->n].path), "%s", e->path ? e->path : "");
		l->n++;
	}
	uv_mutex_unlock(&l->mu);
}

static __attribute__((unused)) void on_state_log(zkc_session *s, int st, void *arg)
{
	struct evlog *l = arg;
	(void)s;
	uv_mutex_lock(&l->mu);
	if (l->nstates < 256)
		l->states[l->nstates++] = st;
	uv_mutex_unlock(&l->mu);
}

static __attribute__((unused)) int evlog_count(struct evlog *l, int type, const char *path)
{
	int c = 0;
	uv_mutex_lock(&l->mu);
	for (int i = 0; i < l->n; i++)
		if (l->v[i].type == type && (!path || strcmp(l->v[i].path, path) == 0))
			c++;
	uv_mutex_unlock(&l->mu);
	return c;
}

static __attribute__((unused)) int state_count(struct evlog *l, int st)
{
	int c = 0;
	uv_mutex_lock(&l->mu);
	for (int i = 0; i < l->nstates; i++)
		c += l->states[i] == st;
	uv_mutex_unlock(&l->mu);
	return c;
}

/* Waits up to ms for at least n events of type at path; returns the count. */
static __attribute__((unused)) int wait_ev(struct evlog *l, int type, const char *path, int n, int ms)
{
	for (uint64_t end = ms_now() + (uint64_t)ms; ms_now() < end;) {
		int c = evlog_count(l, type, path);
		if (c >= n)
			return c;
		usleep(10000);
	}
	return evlog_count(l, type, path);
}

static __attribute__((unused)) int wait_state(struct evlog *l, int st, int n, int ms)
{
	for (uint64_t end = ms_now() + (uint64_t)ms; ms_now() < end;) {
		if (state_count(l, st) >= n)
			return state_count(l, st);
		usleep(10000);
	}
	return state_count(l, st);
}

/* ------------------------------------------------------------------ proxy */

/* A TCP forwarder on its own loop thread; `cut` drops every connection and
 * refuses new ones (connections are accepted and closed at once). */
struct proxy;

struct ppair {
	uv_tcp_t a, b; /* a: client side, b: server side */
	uv_connect_t creq;
	struct proxy *p;
	struct ppair *next;
	int closing;
	int open;
};

struct proxy {
	uv_loop_t loop;
	uv_thread_t thr;
	uv_tcp_t lis;
	uv_async_t async;
	uv_mutex_t mu;
	int want_cut; /* guarded by mu */
	int want_hold_up, want_hold_down;
	int stop;
	int cut;      /* loop thread */
	int hold_up, hold_down; /* drop client->server / server->client bytes */
	long dropped_up;        /* bytes dropped client->server (atomic) */
	struct sockaddr_in up;
	int port;
	struct ppair *pairs;
};

static __attribute__((unused)) void pp_closed(uv_handle_t *h)
{
	struct ppair *pp = h->data;
	if (--pp->open == 0) {
		struct proxy *p = pp->p;
		struct ppair **q = &p->pairs;
		while (*q && *q != pp)
			q = &(*q)->next;
		if (*q)
			*q = pp->next;
		free(pp);
	}
}

static __attribute__((unused)) void pp_close(struct ppair *pp)
{
	if (pp->closing)
		return;
	pp->closing = 1;
	uv_close((uv_handle_t *)&pp->a, pp_closed);
	uv_close((uv_handle_t *)&pp->b, pp_closed);
}

static __attribute__((unused)) void pp_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
	(void)h;
	b->base = malloc(sz);
	b->len = b->base ? sz : 0;
}

static __attribute__((unused)) void pp_wdone(uv_write_t *w, int st)
{
	(void)st;
	free(w->data);
	free(w);
}

static __attribute__((unused)) void pp_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct ppair *pp = st->data;
	if (n < 0 || pp->closing) {
		free(buf->base);
		pp_close(pp);
		return;
	}
	if (n == 0) {
		free(buf->base);
		return;
	}
	bool up = st == (uv_stream_t *)&pp->a;
	uv_stream_t *to = up ? (uv_stream_t *)&pp->b : (uv_stream_t *)&pp->a;
	if ((up && pp->p->hold_up) || (!up && pp->p->hold_down)) {
		if (up)
			__atomic_add_fetch(&pp->p->dropped_up, (long)n, __ATOMIC_RELAXED);
		free(buf->base);
		return;
	}
	uv_write_t *w = malloc(sizeof(*w));
	w->data = buf->base;
	uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
	if (uv_write(w, to, &b, 1, pp_wdone) < 0) {
		free(buf->base);
		free(w);
		pp_close(pp);
	}
}

static __attribute__((unused)) void pp_connected(uv_connect_t *c, int st)
{
	struct ppair *pp = c->data;
	if (st < 0 || pp->closing) {
		pp_close(pp);
		return;
	}
	uv_read_start((uv_stream_t *)&pp->a, pp_alloc, pp_read);
	uv_read_start((uv_stream_t *)&pp->b, pp_alloc, pp_read);
}

static __attribute__((unused)) void px_accept(uv_stream_t *lis, int st)
{
	struct proxy *p = lis->data;
	if (st < 0)
		return;
	struct ppair *pp = calloc(1, sizeof(*pp));
	pp->p = p;
	uv_tcp_init(&p->loop, &pp->a);
	uv_tcp_init(&p->loop, &pp->b);
	pp->a.data = pp->b.data = pp;
	pp->open = 2;
	pp->next = p->pairs;
	p->pairs = pp;
	if (uv_accept(lis, (uv_stream_t *)&pp->a) < 0 || p->cut) {
		pp_close(pp);
		return;
	}
	pp->creq.data = pp;
	if (uv_tcp_connect(&pp->creq, &pp->b, (struct sockaddr *)&p->up, pp_connected) < 0)
		pp_close(pp);
}

static __attribute__((unused)) void px_async(uv_async_t *a)
{
	struct proxy *p = a->data;
	uv_mutex_lock(&p->mu);
	p->cut = p->want_cut;
	p->hold_up = p->want_hold_up;
	p->hold_down = p->want_hold_down;
	int stop = p->stop;
	uv_mutex_unlock(&p->mu);
	if (p->cut || stop)
		for (struct ppair *pp = p->pairs; pp; pp = pp->next)
			pp_close(pp);
	if (stop) {
		uv_close((uv_handle_t *)&p->lis, NULL);
		uv_close((uv_handle_t *)&p->async, NULL);
	}
}

static __attribute__((unused)) void px_main(void *arg)
{
	struct proxy *p = arg;
	uv_run(&p->loop, UV_RUN_DEFAULT);
}

static __attribute__((unused)) int proxy_start(struct proxy *p, int upstream_port)
{
	memset(p, 0, sizeof(*p));
	uv_loop_init(&p->loop);
	uv_mutex_init(&p->mu);
	uv_ip4_addr("127.0.0.1", upstream_port, &p->up);
	uv_tcp_init(&p->loop, &p->lis);
	p->lis.data = p;
	struct sockaddr_in a;
	uv_ip4_addr("127.0.0.1", 0, &a);
	if (uv_tcp_bind(&p->lis, (struct sockaddr *)&a, 0) || uv_listen((uv_stream_t *)&p->lis, 128, px_accept))
		return -1;
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	uv_tcp_getsockname(&p->lis, (struct sockaddr *)&ss, &len);
	p->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	uv_async_init(&p->loop, &p->async, px_async);
	p->async.data = p;
	return uv_thread_create(&p->thr, px_main, p);
}

static __attribute__((unused)) void proxy_cut(struct proxy *p, int cut)
{
	uv_mutex_lock(&p->mu);
	p->want_cut = cut;
	uv_mutex_unlock(&p->mu);
	uv_async_send(&p->async);
	usleep(20000); /* let the proxy thread take it */
}

/* Drops (does not forward) bytes in one or both directions from now on. */
static __attribute__((unused)) void proxy_hold(struct proxy *p, int up, int down)
{
	uv_mutex_lock(&p->mu);
	p->want_hold_up = up;
	p->want_hold_down = down;
	uv_mutex_unlock(&p->mu);
	uv_async_send(&p->async);
	usleep(20000); /* let the proxy thread take it */
}

/* Waits until at least n more bytes than `since` were dropped upstream. */
static __attribute__((unused)) bool proxy_wait_dropped(struct proxy *p, long since, long n, int ms)
{
	for (uint64_t end = ms_now() + (uint64_t)ms; ms_now() < end;) {
		if (__atomic_load_n(&p->dropped_up, __ATOMIC_RELAXED) - since >= n)
			return true;
		usleep(10000);
	}
	return false;
}

static __attribute__((unused)) void proxy_stop(struct proxy *p)
{
	uv_mutex_lock(&p->mu);
	p->stop = 1;
	uv_mutex_unlock(&p->mu);
	uv_async_send(&p->async);
	uv_thread_join(&p->thr);
	uv_loop_close(&p->loop);
	uv_mutex_destroy(&p->mu);
}

#endif
