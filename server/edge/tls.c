/*
 * tls.c — TLS on the client port: the server's context (built from zoo.cfg's
 * ssl.* keys, reloaded when its files change) and the per-connection glue
 * between net.c and the zktls engine.  See tls.h.
 */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "net.h"
#include "server.h"
#include "slog.h"

#define SCRATCH 65536
#define DECRYPT_CHUNK 16384
#define REJECT_LOG_MS 10000

struct file_stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	bool present;
};

struct tls_server {
	SSL_CTX *ctx;
	struct file_stamp key, trust;
	uint64_t reject_log_ms; /* loop time of the last reject line */
	unsigned reject_quiet;	/* rejects not logged since */
	bool logged_once;
};

static void stamp(const char *path, struct file_stamp *s)
{
	struct stat st;
	memset(s, 0, sizeof(*s));
	if (path && stat(path, &st) == 0) {
		s->dev = st.st_dev;
		s->ino = st.st_ino;
		s->size = st.st_size;
		s->mtime = st.st_mtim;
		s->present = true;
	}
}

static bool stamp_differs(const struct file_stamp *a, const struct file_stamp *b)
{
	return a->present != b->present || a->dev != b->dev || a->ino != b->ino ||
	       a->size != b->size || a->mtime.tv_sec != b->mtime.tv_sec ||
	       a->mtime.tv_nsec != b->mtime.tv_nsec;
}

/* A password given directly, or the first line of its passwordPath file
 * (malloc'd; the caller wipes and frees it). */
static char *password(const char *direct, const char *path, int *err)
{
	*err = 0;
	if (direct || !path)
		return direct ? strdup(direct) : NULL;
	char *p = NULL;
	*err = zktls_read_secret(path, &p);
	return p;
}

static void wipe(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

/* A context from the configuration as the files are now.  NULL on error,
 * with the reason logged. */
static SSL_CTX *build(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	int e1, e2;
	char *kp = password(cfg->ssl_key_password, cfg->ssl_key_password_path, &e1);
	char *tp = password(cfg->ssl_trust_password, cfg->ssl_trust_password_path, &e2);
	if (e1 || e2) {
		slog_error("tls", "cannot read %s: %s",
			   e1 ? cfg->ssl_key_password_path : cfg->ssl_trust_password_path,
			   strerror(-(e1 ? e1 : e2)));
		wipe(kp);
		wipe(tp);
		return NULL;
	}
	struct zktls_opts o = {
	    .server = true,
	    .key_store = cfg->ssl_key_store,
	    .key_password = kp,
	    .key_store_type = cfg->ssl_key_store_type,
	    .trust_store = cfg->ssl_trust_store,
	    .trust_password = tp,
	    .trust_store_type = cfg->ssl_trust_store_type,
	    .client_auth = (enum zktls_client_auth)cfg->ssl_client_auth,
	    .protocol = cfg->ssl_protocol,
	    .enabled_protocols = cfg->ssl_enabled_protocols,
	    .ciphersuites = cfg->ssl_ciphersuites,
	    .crl = cfg->ssl_crl,
	};
	char err[512];
	SSL_CTX *ctx = zktls_ctx_new(&o, err, sizeof(err));
	wipe(kp);
	wipe(tp);
	if (!ctx)
		slog_error("tls", "%s", err);
	return ctx;
}

int tls_admin_pem(const struct config *cfg, char **key_pem, char **cert_pem, char *err,
		  size_t errlen)
{
	*key_pem = *cert_pem = NULL;
	if (!cfg->ssl_quorum_key_store) {
		snprintf(err, errlen, "admin.forceHttps needs ssl.quorum.keyStore.location");
		return -EINVAL;
	}
	int e;
	char *kp = password(cfg->ssl_quorum_key_password, cfg->ssl_quorum_key_password_path, &e);
	if (e) {
		snprintf(err, errlen, "cannot read %s: %s", cfg->ssl_quorum_key_password_path,
			 strerror(-e));
		return -EINVAL;
	}
	struct zktls_opts o = {
	    .server = true,
	    .key_store = cfg->ssl_quorum_key_store,
	    .key_password = kp,
	    .key_store_type = cfg->ssl_quorum_key_store_type,
	    .client_auth = ZKTLS_AUTH_NONE,
	};
	SSL_CTX *ctx = zktls_ctx_new(&o, err, errlen);
	wipe(kp);
	if (!ctx)
		return -EINVAL;
	int rc = zktls_ctx_pem(ctx, key_pem, cert_pem);
	zktls_ctx_free(ctx);
	if (rc)
		snprintf(err, errlen, "%s: no usable key and certificate", cfg->ssl_quorum_key_store);
	return rc;
}

int tls_server_init(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	if (cfg->secure_client_port < 0 && !cfg->port_unification)
		return 0;
	struct tls_server *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	stamp(cfg->ssl_key_store, &t->key);
	stamp(cfg->ssl_trust_store, &t->trust);
	t->ctx = build(srv);
	if (!t->ctx) {
		free(t);
		return -EINVAL;
	}
	srv->tls = t;
	return 0;
}

void tls_server_free(struct server *srv)
{
	if (!srv->tls)
		return;
	zktls_ctx_free(srv->tls->ctx);
	free(srv->tls);
	srv->tls = NULL;
}

/* client.certReload: a new connection gets a context built from the files
 * as they are; two stat(2) calls per TLS accept, next to a handshake's
 * public-key operations, cost nothing worth measuring. */
static void maybe_reload(struct server *srv)
{
	struct tls_server *t = srv->tls;
	struct file_stamp k, tr;
	stamp(srv->cfg->ssl_key_store, &k);
	stamp(srv->cfg->ssl_trust_store, &tr);
	if (!stamp_differs(&k, &t->key) && !stamp_differs(&tr, &t->trust))
		return;
	t->key = k;
	t->trust = tr;
	SSL_CTX *ctx = build(srv);
	if (!ctx) {
		slog_warn(
		    "tls",
		    "key or trust store changed but cannot be used: keeping the previous ones");
		return;
	}
	zktls_ctx_free(t->ctx); /* connections using it keep their reference */
	t->ctx = ctx;
	slog_info("tls", "reloaded the key and trust stores (%s)", srv->cfg->ssl_key_store);
}

void tls_log_reject(struct server *srv, const char *peer, const char *why)
{
	struct tls_server *t = srv->tls;
	uint64_t now = uv_now(srv->loop);
	if (t && t->logged_once && now - t->reject_log_ms < REJECT_LOG_MS) {
		t->reject_quiet++;
		return;
	}
	if (t && t->reject_quiet)
		slog_warn("tls", "%s: %s, closing (%u more rejected connections not logged)", peer,
			  why, t->reject_quiet);
	else
		slog_warn("tls", "%s: %s, closing", peer, why);
	if (t) {
		t->logged_once = true;
		t->reject_log_ms = now;
		t->reject_quiet = 0;
	}
}

int tls_conn_start(struct conn *c)
{
	struct server *srv = c->srv;
	if (srv->cfg->cert_reload)
		maybe_reload(srv);
	struct tls_conn *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (zktls_init(&t->z, srv->tls->ctx, true, NULL, false) < 0) {
		free(t);
		return -ENOMEM;
	}
	jute_out_init(&t->cout);
	c->tls = t;
	return 0;
}

void tls_conn_free(struct conn *c)
{
	struct tls_conn *t = c->tls;
	if (!t)
		return;
	zktls_free(&t->z);
	jute_out_free(&t->cout);
	free(t->dn);
	free(t->scratch);
	free(t);
	c->tls = NULL;
}

uint8_t *tls_conn_scratch(struct conn *c, size_t *len)
{
	struct tls_conn *t = c->tls;
	if (!t->scratch && !(t->scratch = malloc(SCRATCH)))
		return NULL;
	*len = SCRATCH;
	return t->scratch;
}

/* The handshake just ended: take the client's identity as ZooKeeper's
 * NettyServerCnxnFactory does, only when a certificate was asked for. */
static void opened(struct conn *c)
{
	struct tls_conn *t = c->tls;
	if (c->srv->cfg->ssl_client_auth == ZKTLS_AUTH_NONE)
		return;
	char dn[1024];
	if (zktls_peer_dn(&t->z, dn, sizeof(dn)) == 0)
		t->dn = strdup(dn);
	slog_debug("tls", "%s: TLS established%s%s", c->peer, t->dn ? ", client " : "",
		   t->dn ? t->dn : "");
}

int tls_conn_input(struct conn *c, const uint8_t *p, size_t n)
{
	struct tls_conn *t = c->tls;
	bool was_open = zktls_open(&t->z);
	int rc = zktls_feed(&t->z, p, n);
	for (long got = 1; rc == 0 && got > 0;) {
		if (c->rcap - c->rlen < DECRYPT_CHUNK) {
			size_t ncap = c->rcap ? c->rcap * 2 : 4 * DECRYPT_CHUNK;
			uint8_t *nb = realloc(c->rbuf, ncap);
			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			c->rbuf = nb;
			c->rcap = ncap;
		}
		got = zktls_read(&t->z, c->rbuf + c->rlen, c->rcap - c->rlen);
		if (got > 0)
			c->rlen += (size_t)got;
		else if (got < 0)
			rc = (int)got;
	}
	if (!was_open && zktls_open(&t->z))
		opened(c);
	if (zktls_pending(&t->z))
		net_schedule_flush(c);
	if (rc == -EPIPE) /* close_notify: the client is done, as at end of stream */
		return rc;
	if (rc < 0)
		tls_log_reject(c->srv, c->peer, rc == -ENOMEM ? "out of memory" : t->z.err);
	return rc;
}

int tls_conn_seal(struct conn *c)
{
	struct tls_conn *t = c->tls;
	if (c->out.len) {
		int rc = zktls_write(&t->z, c->out.buf, c->out.len);
		jute_out_reset(&c->out);
		if (rc < 0)
			return rc;
	}
	if (c->state == CONN_CLOSING)
		zktls_close(&t->z);
	zktls_take(&t->z, &t->cout);
	return t->cout.err;
}
