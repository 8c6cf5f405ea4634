/*
 * zkc_tls.c — TLS for libzkc connections: the session's OpenSSL context
 * (built once, at open, from struct zkc_tls) and the glue between zkc.c's
 * libuv stream and the zktls engine (proto/zktls.h) that the server uses
 * too.  zkc.c calls in at four points: after the TCP connect
 * (zkc__tls_start), when writing (zkc__tls_writev), when reading
 * (zkc__tls_rbuf, zkc__tls_input), and when the handle is closed.  A plain
 * connection never reaches this file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkc_int.h"
#include "zktls.h"

#define TLS_RBUF 65536
#define DECRYPT_CHUNK 16384

struct zkc_tls_conn {
	struct zktls z;
	uint8_t in[TLS_RBUF]; /* ciphertext as read */
};

static SSL_CTX *build(const struct zkc_tls *t, char *err, size_t errlen)
{
	struct zktls_opts o = {
	    .server = false,
	    .key_store = t->cert_file,
	    .key_file = t->key_file,
	    .key_password = t->key_password,
	    .trust_store = t->ca_file,
	    .trust_password = t->ca_password,
	    .protocol = t->protocols ? t->protocols : "TLS",
	    .ciphersuites = t->ciphersuites,
	    .key_store_type = t->cert_type,
	    .trust_store_type = t->ca_type,
	    .verify_peer = !t->no_verify,
	};
	return zktls_ctx_new(&o, err, errlen);
}

int zkc_tls_check(const struct zkc_tls *tls, char *err, size_t errlen)
{
	SSL_CTX *ctx = build(tls, err, errlen);
	if (!ctx)
		return ZE_BADARGUMENTS;
	zktls_ctx_free(ctx);
	return ZE_OK;
}

int zkc__tls_setup(zkc_session *s, const struct zkc_tls *opt)
{
	char err[256];
	s->tls_ctx = build(opt, err, sizeof(err));
	if (!s->tls_ctx)
		return ZE_BADARGUMENTS;
	s->tls_verify_host = !opt->no_verify && !opt->no_verify_host;
	return ZE_OK;
}

void zkc__tls_conn_free(struct zkc_conn *c)
{
	if (!c->tls)
		return;
	zktls_free(&c->tls->z);
	free(c->tls);
	c->tls = NULL;
}

static void set_error(zkc_session *s, const char *msg)
{
	uv_mutex_lock(&s->info_mu);
	snprintf(s->tls_err, sizeof(s->tls_err), "%s", msg);
	uv_mutex_unlock(&s->info_mu);
}

/* Sends whatever ciphertext the engine has.  false: the connection was lost. */
static bool flush(zkc_session *s, struct zkc_conn *c)
{
	if (!zktls_pending(&c->tls->z))
		return true;
	struct jute_out o;
	jute_out_init(&o);
	zktls_take(&c->tls->z, &o);
	if (o.err) {
		jute_out_free(&o);
		zkc__conn_lost(s);
		return false;
	}
	size_t len;
	uint8_t *p = jute_out_steal(&o, &len);
	return zkc__conn_write_raw(s, p, len);
}

static bool failed(zkc_session *s, struct zkc_conn *c)
{
	set_error(s, c->tls->z.err[0] ? c->tls->z.err : "TLS failure");
	flush(s, c); /* the alert, if any, tells the server why */
	if (s->conn == c)
		zkc__conn_lost(s);
	return false;
}

bool zkc__tls_start(zkc_session *s, struct zkc_conn *c, const char *host)
{
	c->tls = malloc(sizeof(*c->tls));
	if (!c->tls) {
		zkc__conn_lost(s);
		return false;
	}
	if (zktls_init(&c->tls->z, s->tls_ctx, false, host, s->tls_verify_host) < 0)
		return failed(s, c);
	return flush(s, c);
}

bool zkc__tls_writev(zkc_session *s, struct zkc_conn *c, uv_buf_t *bufs, int n)
{
	int rc = 0;
	for (int i = 0; i < n; i++) {
		if (!rc)
			rc = zktls_write(&c->tls->z, bufs[i].base, bufs[i].len);
		free(bufs[i].base);
	}
	if (rc < 0)
		return failed(s, c);
	return flush(s, c);
}

uv_buf_t zkc__tls_rbuf(struct zkc_conn *c)
{
	return uv_buf_init((char *)c->tls->in, sizeof(c->tls->in));
}

bool zkc__tls_input(zkc_session *s, struct zkc_conn *c, const uint8_t *p, size_t n)
{
	bool was_open = zktls_open(&c->tls->z);
	if (zktls_feed(&c->tls->z, p, n) < 0)
		return failed(s, c);
	for (;;) {
		if (c->rcap - c->rlen < DECRYPT_CHUNK) {
			size_t ncap = c->rlen + 4 * DECRYPT_CHUNK;
			uint8_t *nb = realloc(c->rbuf, ncap);
			if (!nb) {
				zkc__conn_lost(s);
				return false;
			}
			c->rbuf = nb;
			c->rcap = ncap;
		}
		long got = zktls_read(&c->tls->z, c->rbuf + c->rlen, c->rcap - c->rlen);
		if (got == 0)
			break;
		if (got == -EPIPE && c->rlen) {
			/* the server's last words (an AuthFailed, a close) came
			 * with its close_notify: they are parsed first, and the
			 * TCP end that follows loses the connection */
			return true;
		}
		if (got < 0)
			return failed(s, c);
		c->rlen += (size_t)got;
	}
	if (!was_open && zktls_open(&c->tls->z))
		set_error(s, "");
	return flush(s, c);
}

/* ---------------------------------------------------------------- settings */

int zkc_read_secret_file(const char *path, char **out)
{
	return zktls_read_secret(path, out);
}

void zkc_tls_free_strings(struct zkc_tls *t)
{
	zkc__wipe_free(t->key_password);
	zkc__wipe_free(t->ca_password);
	free((char *)t->ca_file);
	free((char *)t->cert_file);
	free((char *)t->key_file);
	free((char *)t->protocols);
	free((char *)t->ciphersuites);
	free((char *)t->cert_type);
	free((char *)t->ca_type);
	memset(t, 0, sizeof(*t));
}
