/*
 * test_tls.c — the TLS engine (proto/zktls.c) in isolation: a server and a
 * client engine pumping bytes to each other in memory, with a CA and
 * certificates made here by OpenSSL calls in a temporary directory.
 * Covers the handshake with plaintext queued before it ends, data both
 * ways, the client's RFC 2253 subject, clientAuth need without a
 * certificate, a client that does not trust the server, host name checks,
 * store types (JKS refused with the keytool hint) and bad protocol names.
 */
#include <errno.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "zktls.h"

static char dir[] = "/tmp/zktls-unit-XXXXXX";
static char path_buf[8][512];

static const char *path(int slot, const char *name)
{
	snprintf(path_buf[slot], sizeof(path_buf[slot]), "%s/%s", dir, name);
	return path_buf[slot];
}

/* A certificate for key signed by ca (NULL: self-signed), written with its
 * key (PEM key store) to name.pem, and alone to name.crt. */
static X509 *make_cert(const char *name, EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, const char *o,
		       const char *cn, const char *san)
{
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), rand());
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)o, -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : n);
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, ca ? ca : x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
						  ca ? "CA:FALSE" : "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (san) {
		ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	X509_sign(x, ca_key ? ca_key : key, EVP_sha256());
	char file[64];
	snprintf(file, sizeof(file), "%s.pem", name);
	FILE *f = fopen(path(7, file), "w");
	PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	PEM_write_X509(f, x);
	fclose(f);
	snprintf(file, sizeof(file), "%s.crt", name);
	f = fopen(path(7, file), "w");
	PEM_write_X509(f, x);
	fclose(f);
	return x;
}

static int setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	EVP_PKEY *cak = EVP_EC_gen("P-256"), *sk = EVP_EC_gen("P-256"), *ck = EVP_EC_gen("P-256");
	EVP_PKEY *rk = EVP_EC_gen("P-256");
	X509 *ca = make_cert("ca", cak, NULL, NULL, "zkfs", "unit CA", NULL);
	X509 *rogue = make_cert("rogueca", rk, NULL, NULL, "zkfs", "rogue CA", NULL);
	X509_free(
	    make_cert("server", sk, ca, cak, "zkfs", "localhost", "DNS:localhost,IP:127.0.0.1"));
	X509_free(make_cert("client", ck, ca, cak, "zkfs", "client", NULL));
	X509_free(ca);
	X509_free(rogue);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(sk);
	EVP_PKEY_free(ck);
	EVP_PKEY_free(rk);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	const char *names[] = {"ca.pem",      "ca.crt",	    "rogueca.pem",
			       "rogueca.crt", "server.pem", "server.crt",
			       "client.pem",  "client.crt", "x.jks"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(path(0, names[i]));
	rmdir(dir);
	return 0;
}

/* Moves ciphertext between the engines until neither has any; returns the
 * first error of either side (0 if none). */
static int pump(struct zktls *a, struct zktls *b)
{
	for (int round = 0; round < 20; round++) {
		struct jute_out o;
		jute_out_init(&o);
		size_t ab = zktls_take(a, &o);
		int rc = ab ? zktls_feed(b, o.buf, o.len) : 0;
		jute_out_reset(&o);
		size_t ba = zktls_take(b, &o);
		int rc2 = ba ? zktls_feed(a, o.buf, o.len) : 0;
		jute_out_free(&o);
		if (rc < 0 || rc2 < 0)
			return rc < 0 ? rc : rc2;
		if (!ab && !ba)
			return 0;
	}
	return 0;
}

static SSL_CTX *server_ctx(enum zktls_client_auth auth)
{
	char err[256] = "";
	struct zktls_opts o = {.server = true,
			       .key_store = path(0, "server.pem"),
			       .trust_store = path(1, "ca.crt"),
			       .client_auth = auth,
			       .protocol = "TLS"};
	SSL_CTX *c = zktls_ctx_new(&o, err, sizeof(err));
	if (!c)
		print_error("%s\n", err);
	assert_non_null(c);
	return c;
}

static SSL_CTX *client_ctx(const char *cert, const char *ca)
{
	char err[256] = "";
	struct zktls_opts o = {.key_store = cert ? path(2, cert) : NULL,
			       .trust_store = path(3, ca),
			       .protocol = "TLS",
			       .verify_peer = true};
	SSL_CTX *c = zktls_ctx_new(&o, err, sizeof(err));
	if (!c)
		print_error("%s\n", err);
	assert_non_null(c);
	return c;
}

static void test_handshake_and_data(void **state)
{
	(void)state;
	SSL_CTX *sc = server_ctx(ZKTLS_AUTH_NEED), *cc = client_ctx("client.pem", "ca.crt");
	struct zktls s, c;
	assert_int_equal(zktls_init(&s, sc, true, NULL, false), 0);
	assert_int_equal(zktls_init(&c, cc, false, "127.0.0.1", true), 0);
	assert_true(zktls_pending(&c) > 0); /* the ClientHello */
	/* written before the handshake ended: sent once it has */
	assert_int_equal(zktls_write(&c, "hello", 5), 0);
	assert_int_equal(pump(&c, &s), 0);
	assert_true(zktls_open(&c));
	char buf[64];
	long n = zktls_read(&s, buf, sizeof(buf));
	assert_true(zktls_open(&s));
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(zktls_read(&s, buf, sizeof(buf)), 0);
	char dn[256];
	assert_int_equal(zktls_peer_dn(&s, dn, sizeof(dn)), 0);
	assert_string_equal(dn, "CN=client,O=zkfs");
	assert_int_equal(zktls_write(&s, "world!", 6), 0);
	assert_int_equal(pump(&s, &c), 0);
	assert_int_equal(zktls_read(&c, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "world!", 6);
	/* close_notify ends the peer's reads */
	zktls_close(&c);
	assert_int_equal(pump(&c, &s), 0);
	assert_int_equal(zktls_read(&s, buf, sizeof(buf)), -EPIPE);
	zktls_free(&s);
	zktls_free(&c);
	zktls_ctx_free(sc);
	zktls_ctx_free(cc);
}

/* Runs a handshake; returns the server's result of a read. */
static long handshake(SSL_CTX *sc, SSL_CTX *cc, const char *host, struct zktls *s, struct zktls *c)
{
	assert_int_equal(zktls_init(s, sc, true, NULL, false), 0);
	assert_int_equal(zktls_init(c, cc, false, host, true), 0);
	int rc = pump(c, s);
	char buf[8];
	long n = zktls_read(s, buf, sizeof(buf));
	return rc < 0 ? rc : n;
}

static void test_refusals(void **state)
{
	(void)state;
	struct zktls s, c;
	SSL_CTX *need = server_ctx(ZKTLS_AUTH_NEED), *want = server_ctx(ZKTLS_AUTH_WANT);
	SSL_CTX *nocert = client_ctx(NULL, "ca.crt"),
		*rogue = client_ctx("client.pem", "rogueca.crt");
	/* no client certificate under need: the server fails the handshake */
	handshake(need, nocert, "localhost", &s, &c);
	assert_false(zktls_open(&s));
	assert_int_equal(zktls_read(&s, (char[8]){0}, 8), -EPROTO);
	assert_non_null(strstr(s.err, "TLS"));
	zktls_free(&s);
	zktls_free(&c);
	/* under want it is fine, and there is no subject */
	handshake(want, nocert, "localhost", &s, &c);
	assert_true(zktls_open(&s));
	char dn[64];
	assert_int_equal(zktls_peer_dn(&s, dn, sizeof(dn)), -ENOENT);
	zktls_free(&s);
	zktls_free(&c);
	/* a client that does not trust the server's CA */
	handshake(want, rogue, "localhost", &s, &c);
	assert_false(zktls_open(&c));
	assert_non_null(strstr(c.err, "certificate verify failed"));
	zktls_free(&s);
	zktls_free(&c);
	/* the certificate names localhost and 127.0.0.1, not this host */
	handshake(want, nocert, "zk9.example", &s, &c);
	assert_false(zktls_open(&c));
	assert_non_null(strstr(c.err, "certificate verify failed"));
	zktls_free(&s);
	zktls_free(&c);
	zktls_ctx_free(need);
	zktls_ctx_free(want);
	zktls_ctx_free(nocert);
	zktls_ctx_free(rogue);
}

static void test_settings(void **state)
{
	(void)state;
	char err[512];
	FILE *f = fopen(path(0, "x.jks"), "w");
	fputs("not really", f);
	fclose(f);
	struct zktls_opts o = {.server = true, .key_store = path(0, "x.jks")};
	assert_null(zktls_ctx_new(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "keytool -importkeystore"));
	o.key_store = path(0, "server.pem");
	o.protocol = "SSLv3";
	assert_null(zktls_ctx_new(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "SSLv3"));
	o.protocol = NULL;
	o.ciphersuites = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,NO_SUCH_SUITE";
	SSL_CTX *c = zktls_ctx_new(&o, err, sizeof(err));
	assert_non_null(c); /* Java names map to OpenSSL's; unknown ones are skipped */
	zktls_ctx_free(c);
	o.ciphersuites = "NO_SUCH_SUITE";
	assert_null(zktls_ctx_new(&o, err, sizeof(err)));
	o.ciphersuites = NULL;
	o.key_store = NULL;
	assert_null(zktls_ctx_new(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "ssl.keyStore.location"));
	assert_true(zktls_is_hello(0x16));
	assert_false(zktls_is_hello(0x00));
	assert_false(zktls_is_hello('r'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake_and_data),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_settings),
	};
	return cmocka_run_group_tests_name("tls", tests, setup, teardown);
}
