/*
 * zktls.c — OpenSSL contexts from ZooKeeper's TLS settings, and the
 * memory-BIO engine of one connection (see zktls.h for the state machine).
 *
 * Settings follow Apache ZooKeeper 3.8's X509Util: ssl.protocol defaults to
 * TLSv1.2 and ssl.enabledProtocols to ssl.protocol; a PEM key store is one
 * file with the private key and the certificate chain (ZooKeeper's
 * PEMFileLoader), a PKCS12 one is read with its password; ciphersuites may
 * be given by their IANA names as Java takes them
 * (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) or by OpenSSL's.
 */
#include "zktls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- context */

static void msg(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void msg(char *err, size_t len, const char *fmt, ...)
{
	char ossl[160] = "";
	unsigned long e = ERR_peek_last_error();
	if (e)
		ERR_error_string_n(e, ossl, sizeof(ossl));
	ERR_clear_error();
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err, len, fmt, ap);
	va_end(ap);
	if (ossl[0] && n >= 0 && (size_t)n < len)
		snprintf(err + n, len - (size_t)n, " (%s)", ossl);
}

/* PEM pass phrase: the configured one, never a terminal prompt. */
static int pass_cb(char *buf, int size, int rwflag, void *u)
{
	(void)rwflag;
	const char *pw = u;
	if (!pw)
		return 0;
	int n = (int)strlen(pw);
	if (n > size)
		n = size;
	memcpy(buf, pw, (size_t)n);
	return n;
}

enum store_type { ST_PEM, ST_PKCS12, ST_JKS, ST_BAD };

static enum store_type store_type(const char *type, const char *path)
{
	if (type && *type) {
		if (!strcasecmp(type, "PEM"))
			return ST_PEM;
		if (!strcasecmp(type, "PKCS12") || !strcasecmp(type, "P12"))
			return ST_PKCS12;
		if (!strcasecmp(type, "JKS"))
			return ST_JKS;
		return ST_BAD;
	}
	const char *dot = strrchr(path, '.');
	if (dot &&
	    (!strcasecmp(dot, ".p12") || !strcasecmp(dot, ".pfx") || !strcasecmp(dot, ".pkcs12")))
		return ST_PKCS12;
	if (dot && !strcasecmp(dot, ".jks"))
		return ST_JKS;
	return ST_PEM;
}

static int refuse_store(const char *what, const char *type, const char *path, enum store_type st,
			char *err, size_t errlen)
{
	if (st == ST_JKS)
		msg(err, errlen,
		    "%s %s: JKS stores are not supported; convert it with: keytool -importkeystore "
		    "-srckeystore %s -destkeystore store.p12 -deststoretype PKCS12 (then type "
		    "PKCS12)",
		    what, path, path);
	else
		msg(err, errlen, "%s %s: unknown store type '%s' (PEM or PKCS12)", what, path,
		    type);
	return -EINVAL;
}

int zktls_read_secret(const char *path, char **out)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	char buf[1024];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	*out = strdup(buf);
	OPENSSL_cleanse(buf, sizeof(buf));
	return *out ? 0 : -ENOMEM;
}

/* The parts of a PKCS12 file (each may come back NULL); 0 or -EINVAL with
 * the message in err. */
static int read_p12(const char *what, const char *path, const char *password, EVP_PKEY **pkey,
		    X509 **cert, STACK_OF(X509) * *ca, char *err, size_t errlen)
{
	*pkey = NULL;
	*cert = NULL;
	*ca = NULL;
	FILE *f = fopen(path, "rb");
	PKCS12 *p12 = f ? d2i_PKCS12_fp(f, NULL) : NULL;
	if (f)
		fclose(f);
	int ok = p12 && PKCS12_parse(p12, password ? password : "", pkey, cert, ca);
	PKCS12_free(p12);
	if (!ok) {
		msg(err, errlen, "cannot read PKCS12 %s %s (wrong password?)", what, path);
		return -EINVAL;
	}
	return 0;
}

static int load_key_store(SSL_CTX *ctx, const struct zktls_opts *o, char *err, size_t errlen)
{
	const char *path = o->key_store;
	enum store_type st = store_type(o->key_store_type, path);
	if (st == ST_JKS || st == ST_BAD)
		return refuse_store("key store", o->key_store_type, path, st, err, errlen);
	if (st == ST_PEM) {
		if (SSL_CTX_use_certificate_chain_file(ctx, path) != 1) {
			msg(err, errlen, "cannot load the certificate chain of %s", path);
			return -EINVAL;
		}
		const char *kf = o->key_file ? o->key_file : path;
		SSL_CTX_set_default_passwd_cb(ctx, pass_cb);
		SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)o->key_password);
		int ok = SSL_CTX_use_PrivateKey_file(ctx, kf, SSL_FILETYPE_PEM);
		SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL); /* borrowed: forget it */
		if (ok != 1) {
			msg(err, errlen, "cannot load the private key of %s%s", kf,
			    o->key_password ? "" : " (encrypted? give its password)");
			return -EINVAL;
		}
	} else {
		EVP_PKEY *pkey;
		X509 *cert;
		STACK_OF(X509) * ca;
		if (read_p12("key store", path, o->key_password, &pkey, &cert, &ca, err, errlen) <
		    0)
			return -EINVAL;
		int ok = pkey && cert && SSL_CTX_use_certificate(ctx, cert) == 1 &&
			 SSL_CTX_use_PrivateKey(ctx, pkey) == 1;
		for (int i = 0; ok && ca && i < sk_X509_num(ca); i++)
			ok = SSL_CTX_add1_chain_cert(ctx, sk_X509_value(ca, i)) == 1;
		EVP_PKEY_free(pkey);
		X509_free(cert);
		sk_X509_pop_free(ca, X509_free);
		if (!ok) {
			msg(err, errlen, "cannot use a key and certificate of %s", path);
			return -EINVAL;
		}
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		msg(err, errlen, "the private key of %s does not match its certificate", path);
		return -EINVAL;
	}
	return 0;
}

static int load_trust_store(SSL_CTX *ctx, const struct zktls_opts *o, char *err, size_t errlen)
{
	const char *path = o->trust_store;
	if (!path) {
		SSL_CTX_set_default_verify_paths(ctx);
		return 0;
	}
	enum store_type st = store_type(o->trust_store_type, path);
	if (st == ST_JKS || st == ST_BAD)
		return refuse_store("trust store", o->trust_store_type, path, st, err, errlen);
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	if (o->crl)
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	if (st == ST_PEM) {
		/* certificates and CRLs alike */
		if (SSL_CTX_load_verify_locations(ctx, path, NULL) != 1) {
			msg(err, errlen, "cannot load trust store %s", path);
			return -EINVAL;
		}
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(path);
		if (names)
			SSL_CTX_set_client_CA_list(ctx, names);
		return 0;
	}
	EVP_PKEY *pkey;
	X509 *cert;
	STACK_OF(X509) * ca;
	if (read_p12("trust store", path, o->trust_password, &pkey, &cert, &ca, err, errlen) < 0)
		return -EINVAL;
	int n = 0;
	if (cert && X509_STORE_add_cert(store, cert) == 1)
		n++;
	for (int i = 0; ca && i < sk_X509_num(ca); i++)
		if (X509_STORE_add_cert(store, sk_X509_value(ca, i)) == 1)
			n++;
	EVP_PKEY_free(pkey);
	X509_free(cert);
	sk_X509_pop_free(ca, X509_free);
	if (!n) {
		msg(err, errlen, "trust store %s holds no certificate", path);
		return -EINVAL;
	}
	return 0;
}

static int version_of(const char *name, int *lo, int *hi)
{
	static const struct {
		const char *name;
		int lo, hi;
	} v[] = {
	    {"TLSv1", TLS1_VERSION, TLS1_VERSION},
	    {"TLSv1.1", TLS1_1_VERSION, TLS1_1_VERSION},
	    {"TLSv1.2", TLS1_2_VERSION, TLS1_2_VERSION},
	    {"TLSv1.3", TLS1_3_VERSION, TLS1_3_VERSION},
	    {"TLS", TLS1_2_VERSION, TLS1_3_VERSION},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (!strcasecmp(name, v[i].name)) {
			*lo = v[i].lo;
			*hi = v[i].hi;
			return 0;
		}
	return -EINVAL;
}

static int set_protocols(SSL_CTX *ctx, const struct zktls_opts *o, char *err, size_t errlen)
{
	const char *list = o->enabled_protocols && *o->enabled_protocols ? o->enabled_protocols
			   : o->protocol && *o->protocol		 ? o->protocol
									 : "TLSv1.2";
	int lo = 0, hi = 0;
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		return -ENOMEM;
	for (char *w = strtok_r(copy, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
		int l, h;
		if (version_of(w, &l, &h) < 0) {
			msg(err, errlen, "unknown TLS protocol '%s' (TLSv1.2, TLSv1.3, TLS)", w);
			free(copy);
			return -EINVAL;
		}
		if (!lo || l < lo)
			lo = l;
		if (h > hi)
			hi = h;
	}
	free(copy);
	if (!lo) {
		msg(err, errlen, "no TLS protocol enabled");
		return -EINVAL;
	}
	SSL_CTX_set_min_proto_version(ctx, lo);
	SSL_CTX_set_max_proto_version(ctx, hi);
	return 0;
}

/* Appends s to a ':'-separated list in buf. */
static void list_add(char *buf, size_t cap, const char *s)
{
	size_t l = strlen(buf);
	snprintf(buf + l, cap - l, "%s%s", l ? ":" : "", s);
}

static int set_ciphers(SSL_CTX *ctx, const char *list, char *err, size_t errlen)
{
	if (!list || !*list)
		return 0;
	char tls12[4096] = "", tls13[1024] = "";
	SSL_CTX_set_cipher_list(ctx, "ALL:COMPLEMENTOFALL");
	STACK_OF(SSL_CIPHER) *all = SSL_CTX_get_ciphers(ctx);
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		return -ENOMEM;
	for (char *w = strtok_r(copy, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
		if (!strncmp(w, "TLS_AES_", 8) || !strncmp(w, "TLS_CHACHA20_", 13)) {
			list_add(tls13, sizeof(tls13), w);
			continue;
		}
		bool found = false;
		for (int i = 0; all && i < sk_SSL_CIPHER_num(all) && !found; i++) {
			const SSL_CIPHER *c = sk_SSL_CIPHER_value(all, i);
			const char *std = SSL_CIPHER_standard_name(c);
			if ((std && !strcmp(std, w)) || !strcmp(SSL_CIPHER_get_name(c), w)) {
				list_add(tls12, sizeof(tls12), SSL_CIPHER_get_name(c));
				found = true;
			}
		}
		/* like Java, a suite this library lacks is skipped */
	}
	free(copy);
	if (!tls12[0] && !tls13[0]) {
		msg(err, errlen, "none of the ciphersuites '%s' is supported", list);
		return -EINVAL;
	}
	/* a list naming only one kind leaves the other version's suites out */
	if (SSL_CTX_set_cipher_list(ctx, tls12[0] ? tls12 : "-ALL") != 1 && tls12[0]) {
		msg(err, errlen, "bad ciphersuites '%s'", list);
		return -EINVAL;
	}
	ERR_clear_error();
	if (SSL_CTX_set_ciphersuites(ctx, tls13) != 1) {
		msg(err, errlen, "bad TLSv1.3 ciphersuites '%s'", tls13);
		return -EINVAL;
	}
	return 0;
}

SSL_CTX *zktls_ctx_new(const struct zktls_opts *o, char *err, size_t errlen)
{
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(o->server ? TLS_server_method() : TLS_client_method());
	if (!ctx) {
		msg(err, errlen, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (set_protocols(ctx, o, err, errlen) < 0 ||
	    set_ciphers(ctx, o->ciphersuites, err, errlen) < 0)
		goto fail;
	if (o->key_store && load_key_store(ctx, o, err, errlen) < 0)
		goto fail;
	if (o->server && !o->key_store) {
		msg(err, errlen, "a TLS server needs a key store (ssl.keyStore.location)");
		goto fail;
	}
	if (load_trust_store(ctx, o, err, errlen) < 0)
		goto fail;
	if (o->server) {
		/* as ZooKeeper (jdk.tls.rejectClientInitiatedRenegotiation):
		 * a client must not make the server redo handshakes at will */
		SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
		static const unsigned char sid[] = "zkfs";
		SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
		int mode = o->client_auth == ZKTLS_AUTH_NEED
			       ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
			   : o->client_auth == ZKTLS_AUTH_WANT ? SSL_VERIFY_PEER
							       : SSL_VERIFY_NONE;
		SSL_CTX_set_verify(ctx, mode, NULL);
	} else {
		SSL_CTX_set_verify(ctx, o->verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

void zktls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

/* The contents of a memory BIO as a malloc'd string. */
static char *bio_string(BIO *b)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	char *out = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (out) {
		memcpy(out, data, (size_t)n);
		out[n] = '\0';
	}
	return out;
}

int zktls_ctx_pem(SSL_CTX *ctx, char **key_pem, char **cert_pem)
{
	*key_pem = *cert_pem = NULL;
	EVP_PKEY *key = SSL_CTX_get0_privatekey(ctx);
	X509 *leaf = SSL_CTX_get0_certificate(ctx);
	STACK_OF(X509) *chain = NULL;
	if (!key || !leaf)
		return -EINVAL;
	SSL_CTX_get0_chain_certs(ctx, &chain);
	BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
	int rc = -ENOMEM;
	if (!kb || !cb || !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_bio_X509(cb, leaf))
		goto out;
	for (int i = 0; chain && i < sk_X509_num(chain); i++)
		if (!PEM_write_bio_X509(cb, sk_X509_value(chain, i)))
			goto out;
	*key_pem = bio_string(kb);
	*cert_pem = bio_string(cb);
	if (*key_pem && *cert_pem) {
		rc = 0;
	} else {
		if (*key_pem)
			OPENSSL_cleanse(*key_pem, strlen(*key_pem));
		free(*key_pem);
		free(*cert_pem);
		*key_pem = *cert_pem = NULL;
	}
out:
	if (kb) {
		char *d;
		long n = BIO_get_mem_data(kb, &d);
		if (n > 0)
			OPENSSL_cleanse(d, (size_t)n);
		BIO_free(kb);
	}
	BIO_free(cb);
	return rc;
}

/* ---------------------------------------------------------------- engine */

static int fail(struct zktls *t, const char *what)
{
	long vr = SSL_get_verify_result(t->ssl);
	unsigned long e = ERR_peek_last_error();
	if (vr != X509_V_OK && t->state == ZKTLS_HANDSHAKE)
		snprintf(t->err, sizeof(t->err), "%s: certificate verify failed: %s", what,
			 X509_verify_cert_error_string(vr));
	else if (e)
		snprintf(t->err, sizeof(t->err), "%s: %s", what,
			 ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "TLS error");
	else
		snprintf(t->err, sizeof(t->err), "%s: TLS error", what);
	ERR_clear_error();
	t->state = ZKTLS_DONE;
	return -EPROTO;
}

int zktls_init(struct zktls *t, SSL_CTX *ctx, bool server, const char *host, bool verify_host)
{
	memset(t, 0, sizeof(*t));
	t->ssl = SSL_new(ctx);
	t->in = BIO_new(BIO_s_mem());
	t->out = BIO_new(BIO_s_mem());
	if (!t->ssl || !t->in || !t->out) {
		SSL_free(t->ssl);
		BIO_free(t->in);
		BIO_free(t->out);
		memset(t, 0, sizeof(*t));
		return -ENOMEM;
	}
	BIO_set_mem_eof_return(t->in, -1); /* empty = "want more", not EOF */
	SSL_set_bio(t->ssl, t->in, t->out);
	t->state = ZKTLS_HANDSHAKE;
	if (server) {
		SSL_set_accept_state(t->ssl);
		return 0;
	}
	SSL_set_connect_state(t->ssl);
	if (host && *host) {
		unsigned char a[16];
		bool ip = inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
		if (!ip)
			SSL_set_tlsext_host_name(t->ssl, host);
		if (verify_host) {
			X509_VERIFY_PARAM *p = SSL_get0_param(t->ssl);
			if (ip)
				X509_VERIFY_PARAM_set1_ip_asc(p, host);
			else
				X509_VERIFY_PARAM_set1_host(p, host, 0);
		}
	}
	ERR_clear_error();
	int rc = SSL_do_handshake(t->ssl); /* queues the ClientHello */
	if (rc != 1 && SSL_get_error(t->ssl, rc) != SSL_ERROR_WANT_READ)
		return fail(t, "TLS handshake");
	return 0;
}

void zktls_free(struct zktls *t)
{
	if (t->ssl)
		SSL_free(t->ssl); /* frees the BIOs too */
	free(t->early);
	memset(t, 0, sizeof(*t));
}

static int write_all(struct zktls *t, const void *p, size_t n)
{
	while (n > 0) {
		int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
		ERR_clear_error();
		int rc = SSL_write(t->ssl, p, chunk);
		if (rc <= 0)
			return fail(t, "TLS write");
		p = (const uint8_t *)p + rc;
		n -= (size_t)rc;
	}
	return 0;
}

/* Drives the handshake; 0 (ended or wants more) or -EPROTO. */
static int handshake(struct zktls *t)
{
	if (t->state != ZKTLS_HANDSHAKE)
		return 0;
	ERR_clear_error();
	int rc = SSL_do_handshake(t->ssl);
	if (rc != 1) {
		int e = SSL_get_error(t->ssl, rc);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return 0;
		return fail(t, "TLS handshake");
	}
	t->state = ZKTLS_OPEN;
	if (t->early_len) {
		int r = write_all(t, t->early, t->early_len);
		free(t->early);
		t->early = NULL;
		t->early_len = t->early_cap = 0;
		return r;
	}
	return 0;
}

int zktls_feed(struct zktls *t, const void *p, size_t n)
{
	if (t->state == ZKTLS_DONE)
		return -EPROTO;
	if (n && BIO_write(t->in, p, (int)n) != (int)n)
		return -ENOMEM;
	return handshake(t);
}

long zktls_read(struct zktls *t, void *buf, size_t cap)
{
	if (t->state == ZKTLS_DONE)
		return -EPROTO;
	if (t->state == ZKTLS_HANDSHAKE && (handshake(t) < 0 || t->state != ZKTLS_OPEN))
		return t->state == ZKTLS_DONE ? -EPROTO : 0;
	ERR_clear_error();
	int rc = SSL_read(t->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
	if (rc > 0)
		return rc;
	int e = SSL_get_error(t->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	if (e == SSL_ERROR_ZERO_RETURN) {
		t->state = ZKTLS_DONE;
		snprintf(t->err, sizeof(t->err), "peer closed the TLS session");
		return -EPIPE;
	}
	return fail(t, "TLS read");
}

int zktls_write(struct zktls *t, const void *p, size_t n)
{
	if (t->state == ZKTLS_OPEN)
		return write_all(t, p, n);
	if (t->state == ZKTLS_DONE)
		return -EPROTO;
	if (t->early_len + n > t->early_cap) {
		size_t nc = t->early_cap ? t->early_cap * 2 : 4096;
		while (nc < t->early_len + n)
			nc *= 2;
		uint8_t *nb = realloc(t->early, nc);
		if (!nb)
			return -ENOMEM;
		t->early = nb;
		t->early_cap = nc;
	}
	memcpy(t->early + t->early_len, p, n);
	t->early_len += n;
	return 0;
}

void zktls_close(struct zktls *t)
{
	if (t->state != ZKTLS_OPEN)
		return;
	ERR_clear_error();
	SSL_shutdown(t->ssl);
	ERR_clear_error();
	t->state = ZKTLS_DONE;
}

size_t zktls_pending(const struct zktls *t)
{
	return t->out ? BIO_ctrl_pending(t->out) : 0;
}

size_t zktls_take(struct zktls *t, struct jute_out *o)
{
	size_t n = zktls_pending(t);
	if (!n || jute_out_reserve(o, n) < 0)
		return 0;
	int got = BIO_read(t->out, o->buf + o->len, (int)n);
	if (got <= 0)
		return 0;
	o->len += (size_t)got;
	return (size_t)got;
}

int zktls_peer_dn(const struct zktls *t, char *out, size_t cap)
{
	X509 *cert = SSL_get0_peer_certificate(t->ssl);
	if (!cert || SSL_get_verify_result(t->ssl) != X509_V_OK)
		return -ENOENT;
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return -ENOMEM;
	/* RFC 2253 as Java prints it: most specific first, UTF-8 kept */
	X509_NAME_print_ex(b, X509_get_subject_name(cert), 0,
			   XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	char *p;
	long n = BIO_get_mem_data(b, &p);
	int rc = 0;
	if (n < 0 || (size_t)n >= cap) {
		rc = -ENOSPC;
	} else {
		memcpy(out, p, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(b);
	return rc;
}
