/*
 * rawgen.c — a lean load generator: one thread, epoll, non-blocking
 * sockets, requests encoded with zkfs's own jute codec (proto/jute.h).
 *
 * Why it exists: on a small machine the Apache C client behind loadgen
 * spends several times more CPU per request than the server it measures
 * (a thread pair per session, a lock and an allocation per completion), so
 * pipelined runs measure the client.  rawgen costs a few hundred
 * nanoseconds per request, so the server becomes the bottleneck again.
 * It speaks the same protocol to both servers; it is a measuring tool, not
 * a client library (no reconnects, no watches, no pings — runs are shorter
 * than the session timeout).
 *
 *   rawgen -h 127.0.0.1:2181 -o get -s 32 -k 16 -t 5 -w 1 -P /bench -n 10000
 *
 * The keyspace PREFIX/n0 .. n(N-1) must exist (loadgen -o load creates it).
 * With -T CAFILE (and -C CERT.pem, a PEM key store with the client key) it
 * speaks TLS through the engine zkfs-server and libzkc use (proto/zktls.h):
 * the same requests, sealed, to a secureClientPort.
 * Output: the same key=value line as loadgen.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "jute.h"
#include "zktls.h"

#define MAX_US 2000000
#define OP_GETDATA 4
#define OP_SETDATA 5
#define OP_EXISTS 3
#define OP_CREATE 1
#define OP_CLOSE (-11)

struct sess {
	int fd, idx;
	struct jute_out out; /* frames not yet written */
	size_t out_sent;
	uint8_t *in;         /* bytes read, not yet parsed */
	size_t in_len, in_cap;
	uint64_t *t0;        /* send times, a ring of depth entries (replies come in order) */
	int head, outstanding;
	uint64_t seq;
	int32_t xid;         /* last sent */
	int32_t acked;       /* last answered: replies must come back in order */
	uint64_t rx_bytes;
	struct zktls *tls;    /* NULL: plain text */
	struct jute_out cout; /* TLS: sealed bytes not yet written */
	size_t cout_sent;
};

static SSL_CTX *tls_ctx;
static uint8_t rscratch[65536];

static struct {
	const char *host, *prefix, *op, *cafile, *certfile;
	int port, sessions, depth, value_size, opcode;
	double seconds, warmup;
	long nodes;
} opt = {.host = "127.0.0.1", .port = 2181, .prefix = "/bench", .op = "get", .sessions = 1, .depth = 1,
	 .value_size = 100, .seconds = 5, .warmup = 1, .nodes = 10000};

static uint32_t *hist;
static long measured, errors;
static char *value;

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int read_full(int fd, void *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)p + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* Writes the engine's sealed bytes (blocking socket). */
static int tls_push(struct sess *s)
{
	struct jute_out o;
	jute_out_init(&o);
	zktls_take(s->tls, &o);
	int rc = o.len && write(s->fd, o.buf, o.len) != (ssize_t)o.len ? -1 : 0;
	jute_out_free(&o);
	return rc;
}

/* TLS handshake and ZooKeeper ConnectRequest/Response on the blocking
 * socket; the response is decrypted into resp. */
static int tls_handshake(struct sess *s, const struct jute_out *req, uint8_t *resp, size_t cap)
{
	s->tls = calloc(1, sizeof(*s->tls));
	if (!s->tls || zktls_init(s->tls, tls_ctx, false, opt.host, false) < 0 ||
	    zktls_write(s->tls, req->buf, req->len) < 0 || tls_push(s) < 0)
		return -1;
	uint8_t buf[4 + 64];
	size_t have = 0;
	while (have < 4 || have < 4 + (size_t)jute_load32(buf)) {
		ssize_t r = read(s->fd, rscratch, sizeof rscratch);
		if (r <= 0 || zktls_feed(s->tls, rscratch, (size_t)r) < 0 || tls_push(s) < 0) {
			fprintf(stderr, "rawgen: TLS: %s\n", s->tls->err[0] ? s->tls->err : "closed");
			return -1;
		}
		long got = 0;
		while (have < sizeof buf && (got = zktls_read(s->tls, buf + have, sizeof buf - have)) > 0)
			have += (size_t)got;
		if (got < 0 || (have >= 4 && jute_load32(buf) > cap))
			return -1;
	}
	memcpy(resp, buf + 4, jute_load32(buf));
	jute_out_init(&s->cout);
	return 0;
}

/* Blocking connect + handshake; then the socket turns non-blocking. */
static int open_session(struct sess *s)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
	struct jute_out o;
	uint8_t len[4], resp[64];
	int one = 1;
	if (inet_pton(AF_INET, opt.host, &sa.sin_addr) != 1)
		return -1;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return -1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	jute_out_init(&o);
	size_t at = jute_frame_begin(&o);
	jute_put_int(&o, 0);       /* protocolVersion */
	jute_put_long(&o, 0);      /* lastZxidSeen */
	jute_put_int(&o, 30000);   /* timeOut */
	jute_put_long(&o, 0);      /* sessionId */
	uint8_t pw[16] = {0};
	jute_put_buffer(&o, pw, 16);
	jute_put_bool(&o, false);
	jute_frame_end(&o, at);
	int rc;
	if (tls_ctx) {
		rc = o.err ? -1 : tls_handshake(s, &o, resp, sizeof resp);
		jute_out_free(&o);
		if (rc < 0)
			return -1;
	} else {
		rc = o.err ? -1 : (int)write(s->fd, o.buf, o.len);
		jute_out_free(&o);
		if (rc < 0 || read_full(s->fd, len, 4) < 0)
			return -1;
		uint32_t n = jute_load32(len);
		if (n < 36 || n > sizeof resp || read_full(s->fd, resp, n) < 0)
			return -1;
	}
	fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
	jute_out_init(&s->out);
	s->t0 = calloc((size_t)opt.depth, sizeof *s->t0);
	s->in_cap = 1 << 16;
	s->in = malloc(s->in_cap);
	return s->t0 && s->in ? 0 : -1;
}

static void queue_request(struct sess *s)
{
	char path[256];
	uint64_t k = s->seq++;
	size_t at = jute_frame_begin(&s->out);
	jute_put_int(&s->out, ++s->xid);
	jute_put_int(&s->out, opt.opcode);
	if (opt.opcode == OP_CREATE) {
		snprintf(path, sizeof path, "%s/r%d-%" PRIu64, opt.prefix, s->idx, k);
		jute_put_string(&s->out, path);
		jute_put_buffer(&s->out, value, opt.value_size);
		jute_put_int(&s->out, 1); /* one ACL: world:anyone, all perms */
		jute_put_int(&s->out, 31);
		jute_put_string(&s->out, "world");
		jute_put_string(&s->out, "anyone");
		jute_put_int(&s->out, 0);
	} else {
		snprintf(path, sizeof path, "%s/n%" PRIu64, opt.prefix,
			 (k * 7919u + (uint64_t)s->idx * 104729u) % (uint64_t)opt.nodes);
		jute_put_string(&s->out, path);
		if (opt.opcode == OP_SETDATA) {
			jute_put_buffer(&s->out, value, opt.value_size);
			jute_put_int(&s->out, -1);
		} else {
			jute_put_bool(&s->out, false);
		}
	}
	jute_frame_end(&s->out, at);
	s->t0[(s->head + s->outstanding) % opt.depth] = now_us();
	s->outstanding++;
}

static int flush_out(struct sess *s)
{
	if (s->tls) {
		if (s->out.len && zktls_write(s->tls, s->out.buf, s->out.len) < 0)
			return -1;
		jute_out_reset(&s->out);
		zktls_take(s->tls, &s->cout);
		while (s->cout_sent < s->cout.len) {
			ssize_t w = write(s->fd, s->cout.buf + s->cout_sent, s->cout.len - s->cout_sent);
			if (w < 0)
				return errno == EAGAIN ? 0 : -1;
			s->cout_sent += (size_t)w;
		}
		jute_out_reset(&s->cout);
		s->cout_sent = 0;
		return 0;
	}
	while (s->out_sent < s->out.len) {
		ssize_t w = write(s->fd, s->out.buf + s->out_sent, s->out.len - s->out_sent);
		if (w < 0)
			return errno == EAGAIN ? 0 : -1;
		s->out_sent += (size_t)w;
	}
	jute_out_reset(&s->out);
	s->out_sent = 0;
	return 0;
}

/* Parses complete reply frames; returns the number of replies or -1. */
static int parse_in(struct sess *s, uint64_t t, uint64_t t_measure, uint64_t t_end)
{
	size_t pos = 0;
	int n = 0;
	while (s->in_len - pos >= 4) {
		uint32_t len = jute_load32(s->in + pos);
		if (len < 16 || len > 64u << 20)
			return -1;
		if (s->in_len - pos - 4 < len)
			break;
		const uint8_t *f = s->in + pos + 4;
		int32_t xid = (int32_t)jute_load32(f), err = (int32_t)jute_load32(f + 12);
		pos += 4 + len;
		if (xid < 0)
			continue; /* notification or ping: none expected */
		if (s->outstanding == 0 || xid != s->acked + 1)
			return -1;
		s->acked = xid;
		s->rx_bytes += 4 + len;
		uint64_t d = t - s->t0[s->head];
		s->head = (s->head + 1) % opt.depth;
		s->outstanding--;
		if (t >= t_measure && t <= t_end) {
			hist[d < MAX_US ? d : MAX_US]++;
			measured++;
			if (err)
				errors++;
		}
		n++;
	}
	memmove(s->in, s->in + pos, s->in_len - pos);
	s->in_len -= pos;
	return n;
}

static uint64_t percentile(long total, double q)
{
	long want = (long)(q * (double)total), seen = 0;
	if (want >= total)
		want = total - 1;
	for (uint64_t us = 0; us <= MAX_US; us++) {
		seen += hist[us];
		if (seen > want)
			return us;
	}
	return MAX_US;
}

static void usage(void)
{
	fprintf(stderr, "usage: rawgen [-h HOST:PORT] [-o get|set|exists|create] [-s SESSIONS] [-k OUTSTANDING]\n"
			"              [-t SECONDS] [-w WARMUP] [-v VALUE_BYTES] [-P PREFIX] [-n KEYSPACE]\n"
			"              [-T CAFILE [-C CLIENT.pem]]   (TLS)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int c;
	while ((c = getopt(argc, argv, "h:o:s:k:t:w:v:P:n:T:C:")) != -1) {
		switch (c) {
		case 'h': {
			static char host[256];
			char *colon = strrchr(optarg, ':');
			if (!colon || colon - optarg >= (long)sizeof host)
				usage();
			memcpy(host, optarg, (size_t)(colon - optarg));
			host[colon - optarg] = 0;
			opt.host = host;
			opt.port = atoi(colon + 1);
			break;
		}
		case 'o': opt.op = optarg; break;
		case 's': opt.sessions = atoi(optarg); break;
		case 'k': opt.depth = atoi(optarg); break;
		case 't': opt.seconds = atof(optarg); break;
		case 'w': opt.warmup = atof(optarg); break;
		case 'v': opt.value_size = atoi(optarg); break;
		case 'P': opt.prefix = optarg; break;
		case 'n': opt.nodes = atol(optarg); break;
		case 'T': opt.cafile = optarg; break;
		case 'C': opt.certfile = optarg; break;
		default: usage();
		}
	}
	if (!strcmp(opt.op, "get"))
		opt.opcode = OP_GETDATA;
	else if (!strcmp(opt.op, "set"))
		opt.opcode = OP_SETDATA;
	else if (!strcmp(opt.op, "exists"))
		opt.opcode = OP_EXISTS;
	else if (!strcmp(opt.op, "create"))
		opt.opcode = OP_CREATE;
	else
		usage();
	if (opt.sessions < 1 || opt.depth < 1 || opt.nodes < 1 || opt.value_size < 0)
		usage();
	if (opt.cafile) {
		char err[256];
		struct zktls_opts to = {.key_store = opt.certfile, .trust_store = opt.cafile, .protocol = "TLS",
					.verify_peer = true};
		if (!(tls_ctx = zktls_ctx_new(&to, err, sizeof err))) {
			fprintf(stderr, "rawgen: %s\n", err);
			return 1;
		}
	}
	value = calloc(1, (size_t)opt.value_size + 1);
	hist = calloc(MAX_US + 1, sizeof *hist);
	struct sess *ss = calloc((size_t)opt.sessions, sizeof *ss);
	int ep = epoll_create1(0);
	if (!value || !hist || !ss || ep < 0)
		return 1;
	memset(value, 'v', (size_t)opt.value_size);
	for (int i = 0; i < opt.sessions; i++) {
		ss[i].idx = i;
		if (open_session(&ss[i]) < 0) {
			fprintf(stderr, "rawgen: session %d: cannot connect to %s:%d: %s\n", i, opt.host, opt.port,
				strerror(errno));
			return 1;
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &ss[i]};
		epoll_ctl(ep, EPOLL_CTL_ADD, ss[i].fd, &ev);
	}
	uint64_t t0 = now_us();
	uint64_t t_measure = t0 + (uint64_t)(opt.warmup * 1e6);
	uint64_t t_end = t_measure + (uint64_t)(opt.seconds * 1e6);
	uint64_t t_drain = t_end + 10000000u;
	for (int i = 0; i < opt.sessions; i++) {
		for (int j = 0; j < opt.depth; j++)
			queue_request(&ss[i]);
		if (flush_out(&ss[i]) < 0)
			return 1;
	}
	struct epoll_event evs[64];
	int busy = opt.sessions;
	while (busy > 0) {
		uint64_t t = now_us();
		if (t > t_drain)
			break;
		int n = epoll_wait(ep, evs, 64, 100);
		t = now_us();
		for (int e = 0; e < n; e++) {
			struct sess *s = evs[e].data.ptr;
			if (evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
				if (s->in_cap - s->in_len < 65536) {
					s->in_cap *= 2;
					s->in = realloc(s->in, s->in_cap);
				}
				ssize_t r;
				if (s->tls) {
					r = read(s->fd, rscratch, sizeof rscratch);
					if (r > 0) {
						if (zktls_feed(s->tls, rscratch, (size_t)r) < 0)
							r = -1;
						long got = 0;
						r = r < 0 ? -1 : 0;
						/* plaintext lands after in_len; counted below */
						for (;;) {
							size_t at = s->in_len + (size_t)(r > 0 ? r : 0);
							if (s->in_cap - at < 16384) {
								s->in_cap *= 2;
								s->in = realloc(s->in, s->in_cap);
							}
							got = zktls_read(s->tls, s->in + at, s->in_cap - at);
							if (got <= 0)
								break;
							r += got;
						}
						if (got < 0)
							r = -1, errno = EPROTO;
						else if (r == 0)
							r = -1, errno = EAGAIN; /* a partial record */
					}
				} else {
					r = read(s->fd, s->in + s->in_len, s->in_cap - s->in_len);
				}
				if (r == 0 || (r < 0 && errno != EAGAIN)) {
					fprintf(stderr, "rawgen: session %d: connection closed by the server\n", s->idx);
					return 1;
				}
				if (r > 0) {
					s->in_len += (size_t)r;
					int got = parse_in(s, t, t_measure, t_end);
					if (got < 0) {
						fprintf(stderr, "rawgen: session %d: bad reply stream\n", s->idx);
						return 1;
					}
					if (t < t_end)
						for (int k = 0; k < got; k++)
							queue_request(s);
					else if (s->outstanding == 0 && s->out.len == 0)
						busy--;
				}
			}
			if (flush_out(s) < 0)
				return 1;
			bool more = s->out.len || s->cout.len;
			struct epoll_event ev = {.events = EPOLLIN | (more ? EPOLLOUT : 0u), .data.ptr = s};
			epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
		}
	}
	for (int i = 0; i < opt.sessions; i++) {
		uint8_t bye[12];
		jute_store32(bye, 8);
		jute_store32(bye + 4, (uint32_t)++ss[i].xid);
		jute_store32(bye + 8, (uint32_t)OP_CLOSE);
		fcntl(ss[i].fd, F_SETFL, fcntl(ss[i].fd, F_GETFL) & ~O_NONBLOCK);
		if (ss[i].tls) {
			zktls_write(ss[i].tls, bye, sizeof bye);
			tls_push(&ss[i]);
		} else if (write(ss[i].fd, bye, sizeof bye) < 0) {
			/* the session will expire on its own */
		}
		close(ss[i].fd);
	}
	long nm = measured;
	uint64_t rx = 0, answered = 0;
	for (int i = 0; i < opt.sessions; i++) {
		rx += ss[i].rx_bytes;
		answered += (uint64_t)ss[i].acked;
	}
	if (getenv("RAWGEN_DEBUG"))
		fprintf(stderr, "rawgen: %" PRIu64 " replies, %.1f bytes each on average\n", answered,
			answered ? (double)rx / (double)answered : 0.0);
	printf("op=%s sessions=%d depth=%d ops=%ld secs=%.3f ops_per_s=%.0f p50_us=%" PRIu64 " p99_us=%" PRIu64
	       " p999_us=%" PRIu64 " max_us=%" PRIu64 " errors=%ld\n",
	       opt.op, opt.sessions, opt.depth, nm, opt.seconds, nm / opt.seconds, nm ? percentile(nm, 0.5) : 0,
	       nm ? percentile(nm, 0.99) : 0, nm ? percentile(nm, 0.999) : 0, nm ? percentile(nm, 1.0) : 0, errors);
	return nm == 0 || errors == nm;
}
