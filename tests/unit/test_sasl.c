/*
 * test_sasl.c — SASL pieces in isolation: the JAAS reader (proto/jaas.c),
 * the SASL keys of zoo.cfg / -D / SERVER_JVMFLAGS (server/edge/config.c),
 * sasl ACLs (server/core/acl.c), Kerberos identities and a whole
 * DIGEST-MD5 exchange between libzkc's client side and the server's edge
 * (client/zkc_sasl.c, server/edge/sasl.c) through Cyrus, in one process.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "acl.h"
#include "config.h"
#include "jaas.h"
#include "sasl.h"
#include "tmpdir_fixture.h"
#include "zkc_int.h"

static const char jaas_text[] =
    "/* a comment */\n"
    "Server {\n"
    "  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
    "  user_bob=\"bob secret\" // trailing comment\n"
    "  user_alice=plain;\n"
    "};\n"
    "# hash comment\n"
    "Client {\n"
    "  com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true\n"
    "  keyTab=\"/k \\\"q\\\".keytab\" principal=\"zkcli@R\";\n"
    "};\n";

static void test_jaas_parse(void **state)
{
	(void)state;
	struct jaas j;
	char err[200];
	assert_int_equal(jaas_parse(jaas_text, "t", &j, err, sizeof(err)), 0);
	assert_int_equal(j.nsections, 2);
	const struct jaas_section *s = jaas_section(&j, "Server");
	assert_non_null(s);
	assert_int_equal(s->nentries, 1);
	assert_true(jaas_module_is(&s->entries[0], "DigestLoginModule"));
	assert_string_equal(s->entries[0].flag, "required");
	assert_string_equal(jaas_option(&s->entries[0], "user_bob"), "bob secret");
	assert_string_equal(jaas_option(&s->entries[0], "user_alice"), "plain");
	s = jaas_section(&j, "Client");
	assert_non_null(s);
	assert_true(jaas_module_is(&s->entries[0], "Krb5LoginModule"));
	assert_string_equal(jaas_option(&s->entries[0], "keyTab"), "/k \"q\".keytab");
	assert_string_equal(jaas_option(&s->entries[0], "useKeyTab"), "true");
	assert_null(jaas_section(&j, "Other"));
	jaas_free(&j);
}

static void test_jaas_errors(void **state)
{
	(void)state;
	static const char *bad[] = {
	    "Server { M required a=\"x\"; }",	     /* no ';' after '}' */
	    "Server M required;",		     /* no '{' */
	    "Server { M required a=; };",	     /* no value */
	    "Server { M required a=\"open; };",     /* unterminated */
	    "Server { M };",			     /* no flag before ';' */
	    "{ };",				     /* no name */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct jaas j;
		char err[200] = "";
		assert_int_equal(jaas_parse(bad[i], "bad.conf", &j, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "bad.conf:1:"));
		assert_int_equal(j.nsections, 0);
	}
	struct jaas j;
	char err[200];
	assert_true(jaas_load("/nonexistent/jaas.conf", &j, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/nonexistent/jaas.conf"));
}

static void test_identity(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(sasl_identity("bob", false, false, out, sizeof(out)), 0);
	assert_string_equal(out, "bob");
	assert_int_equal(sasl_identity("zkcli@R.COM", false, false, out, sizeof(out)), 0);
	assert_string_equal(out, "zkcli@R.COM");
	assert_int_equal(sasl_identity("zkcli@R.COM", false, true, out, sizeof(out)), 0);
	assert_string_equal(out, "zkcli");
	assert_int_equal(sasl_identity("svc/host@R", false, false, out, sizeof(out)), 0);
	assert_string_equal(out, "svc/host@R");
	assert_int_equal(sasl_identity("svc/host@R", true, false, out, sizeof(out)), 0);
	assert_string_equal(out, "svc@R");
	assert_int_equal(sasl_identity("svc/host@R", true, true, out, sizeof(out)), 0);
	assert_string_equal(out, "svc");
	/* no realm: a simple name as a whole, '/' included (KerberosName) */
	assert_int_equal(sasl_identity("a/b", true, true, out, sizeof(out)), 0);
	assert_string_equal(out, "a/b");
	assert_int_equal(sasl_identity("0123456789", false, false, out, 5), -ENAMETOOLONG);
}

static void test_sasl_acls(void **state)
{
	(void)state;
	struct core_auth bob, super_name;
	core_auth_init(&bob, "127.0.0.1");
	acl_auth_push(&bob, "sasl", "bob");
	core_auth_init(&super_name, "127.0.0.1");
	acl_auth_push(&super_name, "sasl", "super");
	struct zk_acl e = {ZK_PERM_READ, {"sasl", "bob"}};
	struct zk_acl_vec v = {1, &e};
	assert_true(acl_check(&v, &bob, ZK_PERM_READ));
	assert_false(acl_check(&v, &bob, ZK_PERM_WRITE));
	/* SASLAuthenticationProvider.matches: the name "super" matches any */
	assert_true(acl_check(&v, &super_name, ZK_PERM_READ));
	struct zk_acl_vec out;
	/* without the provider the scheme is unknown: InvalidACL */
	assert_int_equal(acl_fixup(&v, &bob, false, &out), ZE_INVALIDACL);
	assert_int_equal(acl_fixup(&v, &bob, true, &out), 0);
	zk_acl_vec_free(&out);
	/* "auth" expands to the sasl id only with the provider */
	struct zk_acl a = {ZK_PERM_ALL, {"auth", ""}};
	struct zk_acl_vec av = {1, &a};
	assert_int_equal(acl_fixup(&av, &bob, false, &out), ZE_INVALIDACL);
	assert_int_equal(acl_fixup(&av, &bob, true, &out), 0);
	assert_int_equal(out.n, 1);
	assert_string_equal(out.v[0].id.scheme, "sasl");
	assert_string_equal(out.v[0].id.id, "bob");
	zk_acl_vec_free(&out);
	/* Kerberos-shaped ids only */
	static const char *bad[] = {"a@b@c", "a/b/c@R", "a@R/x"};
	for (size_t i = 0; i < 3; i++) {
		struct zk_acl b = {ZK_PERM_ALL, {"sasl", (char *)bad[i]}};
		struct zk_acl_vec bv = {1, &b};
		assert_int_equal(acl_fixup(&bv, &bob, true, &out), ZE_INVALIDACL);
	}
	core_auth_free(&bob);
	core_auth_free(&super_name);
}

/* ---------------------------------------------------------------- config */

static int from_args(struct config *c, const char *a1, const char *a2, const char *a3)
{
	char *argv[] = {"zkfs-server", (char *)a1, (char *)a2, (char *)a3, NULL};
	int argc = 1 + (a1 != NULL) + (a2 != NULL) + (a3 != NULL);
	FILE *out = tmpfile();
	int rc = config_from_args(c, argc, argv, out);
	fclose(out);
	return rc;
}

static void test_config_keys(void **state)
{
	(void)state;
	struct config c;
	config_init(&c);
	unsetenv("SERVER_JVMFLAGS");
	/* the way zkServer.sh users write it */
	setenv("SERVER_JVMFLAGS",
	       "-Djava.security.auth.login.config=/etc/zk/jaas.conf "
	       "-Dzookeeper.authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider "
	       "-Dzookeeper.sessionRequireClientSASLAuth=true -Dzookeeper.kerberos.removeRealmFromPrincipal=true",
	       1);
	assert_int_equal(from_args(&c, "--data", "/tmp/zkfs-test-sasl-d", NULL), 0);
	assert_string_equal(c.jaas_file, "/etc/zk/jaas.conf");
	assert_true(c.sasl_provider);
	assert_true(c.sasl_required);
	assert_true(c.enforce_auth);
	assert_int_equal(c.n_enforce_schemes, 1);
	assert_string_equal(c.enforce_schemes[0], "sasl");
	assert_true(c.krb_remove_realm);
	assert_false(c.krb_remove_host);
	unsetenv("SERVER_JVMFLAGS");
	config_free(&c);

	/* zoo.cfg keys as QuorumPeerConfig passes them on (without "zookeeper.") */
	config_init(&c);
	assert_int_equal(config_load_string(&c,
					    "dataDir=/tmp/x\nauthProvider.sasl=org.apache.zookeeper.server."
					    "auth.SASLAuthenticationProvider\nenforce.auth.enabled=true\n"
					    "enforce.auth.schemes=sasl, digest\nsuperUser=root\n"
					    "sasl.serverconfig=ZkServer\n",
					    "zoo.cfg"),
			 0);
	assert_int_equal(config_finish(&c), 0);
	assert_int_equal(c.n_enforce_schemes, 2);
	assert_string_equal(c.enforce_schemes[1], "digest");
	assert_string_equal(c.sasl_super_user, "root");
	assert_string_equal(c.sasl_section, "ZkServer");
	config_free(&c);

	/* like AuthenticationHelper: a scheme nobody serves stops the server */
	config_init(&c);
	assert_int_equal(config_load_string(&c, "dataDir=/tmp/x\nenforce.auth.enabled=true\n"
						"enforce.auth.schemes=sasl\n", "zoo.cfg"),
			 0);
	assert_int_equal(config_finish(&c), -EINVAL);
	assert_non_null(strstr(c.error, "sasl"));
	config_free(&c);
	config_init(&c);
	assert_int_equal(config_load_string(&c, "dataDir=/tmp/x\nenforce.auth.enabled=true\n", "zoo.cfg"), 0);
	assert_int_equal(config_finish(&c), -EINVAL);
	config_free(&c);
}

/* ---------------------------------------------------------------- edge init */

static void test_edge_init_errors(void **state)
{
	(void)state;
	struct config c;
	char err[512];
	config_init(&c);
	assert_int_equal(sasl_edge_init(&c, err, sizeof(err)), 0); /* no JAAS: off */
	assert_false(sasl_edge_enabled());
	c.jaas_file = strdup(tmpdir_file("nosec.conf", "Other { M required user_a=\"b\"; };\n"));
	assert_int_equal(sasl_edge_init(&c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "'Server'"));
	free(c.jaas_file);
	c.jaas_file = strdup(tmpdir_file("nousers.conf", "Server { M required debug=true; };\n"));
	assert_int_equal(sasl_edge_init(&c, err, sizeof(err)), -EINVAL);
	assert_false(sasl_edge_enabled());
	config_free(&c);
}

/* ---------------------------------------------------------------- a whole exchange */

/* Runs libzkc's client against the server edge until one side stops.
 * Returns the server's last step; *user gets the identity. */
static struct sasl_ratelog rl;

static enum sasl_step exchange(const char *user, const char *pw, const char **who, struct zsasl **srv)
{
	struct zkc_sasl cfg = {.mech = "DIGEST-MD5", .user = user, .password = pw};
	struct zkc_sasl_state *cl;
	assert_int_equal(zkc__sasl_new(&cfg, &cl), ZE_OK);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	const char *tok;
	unsigned toklen;
	int rc = zkc__sasl_begin(cl, (const struct sockaddr *)&sa, &tok, &toklen);
	enum sasl_step st = SASL_STEP_FAILED;
	for (int round = 0; rc > 0 && round < 5; round++) {
		const uint8_t *out;
		int32_t outlen;
		st = sasl_edge_step(srv, "test", (const uint8_t *)tok, (int32_t)toklen, &rl,
				    1000 * (uint64_t)round, &out, &outlen, who);
		if (st == SASL_STEP_FAILED)
			break;
		rc = zkc__sasl_next(cl, out, outlen, &tok, &toklen);
	}
	zkc__sasl_free(cl);
	return rc < 0 ? SASL_STEP_FAILED : st;
}

static void test_digest_exchange(void **state)
{
	(void)state;
	struct config c;
	char err[512];
	config_init(&c);
	c.jaas_file = strdup(tmpdir_file("jaas.conf", jaas_text));
	assert_int_equal(sasl_edge_init(&c, err, sizeof(err)), 0);
	assert_true(sasl_edge_enabled());
	assert_string_equal(sasl_edge_mech(), "DIGEST-MD5");

	struct zsasl *srv = NULL;
	const char *who = NULL;
	assert_int_equal(exchange("bob", "bob secret", &who, &srv), SASL_STEP_DONE);
	assert_string_equal(who, "bob");
	sasl_edge_conn_free(&srv);
	assert_null(srv);
	assert_int_equal(exchange("alice", "plain", &who, &srv), SASL_STEP_DONE);
	assert_string_equal(who, "alice");
	/* a token after the end is refused */
	const uint8_t *out;
	int32_t outlen;
	assert_int_equal(sasl_edge_step(&srv, "test", (const uint8_t *)"x", 1, &rl, 0, &out, &outlen, &who),
			 SASL_STEP_FAILED);
	sasl_edge_conn_free(&srv);
	assert_int_equal(exchange("bob", "wrong", &who, &srv), SASL_STEP_FAILED);
	sasl_edge_conn_free(&srv);
	assert_int_equal(exchange("mallory", "x", &who, &srv), SASL_STEP_FAILED);
	sasl_edge_conn_free(&srv);
	/* garbage as the response to the challenge */
	assert_int_equal(sasl_edge_step(&srv, "test", NULL, 0, &rl, 0, &out, &outlen, &who), SASL_STEP_CONTINUE);
	assert_true(outlen > 0);
	assert_int_equal(sasl_edge_step(&srv, "test", (const uint8_t *)"\x01\xff garbage", 10, &rl, 0, &out, &outlen,
					&who),
			 SASL_STEP_FAILED);
	sasl_edge_conn_free(&srv);
	/* abandoned half-way: freed with its Cyrus state */
	assert_int_equal(sasl_edge_step(&srv, "test", NULL, 0, &rl, 0, &out, &outlen, &who), SASL_STEP_CONTINUE);
	sasl_edge_conn_free(&srv);
	sasl_edge_done();
	assert_false(sasl_edge_enabled());
	config_free(&c);
}

static void test_client_credentials(void **state)
{
	(void)state;
	struct zkc_sasl s;
	char err[256];
	const char *plain = tmpdir_file("creds", "# comment\nusername=bob\npassword=pw=with=eq\n");
	assert_int_equal(zkc_sasl_load(plain, NULL, NULL, &s, err, sizeof(err)), ZE_OK);
	assert_string_equal(s.mech, "DIGEST-MD5");
	assert_string_equal(s.user, "bob");
	assert_string_equal(s.password, "pw=with=eq");
	zkc_sasl_clear(&s);
	assert_null(s.user);
	const char *jaas = tmpdir_file("client.conf", jaas_text);
	assert_int_equal(zkc_sasl_load(jaas, "Client", NULL, &s, err, sizeof(err)), ZE_OK);
	assert_string_equal(s.mech, "GSSAPI");
	assert_string_equal(s.keytab, "/k \"q\".keytab");
	assert_string_equal(s.user, "zkcli@R");
	zkc_sasl_clear(&s);
	/* DIGEST-MD5 without a password: refused, and the message has no secret */
	const char *half = tmpdir_file("half", "username=bob\n");
	assert_int_equal(zkc_sasl_load(half, NULL, "DIGEST-MD5", &s, err, sizeof(err)), ZE_BADARGUMENTS);
	assert_int_equal(zkc_sasl_load(plain, NULL, "PLAIN", &s, err, sizeof(err)), ZE_BADARGUMENTS);
	assert_null(strstr(err, "pw=with"));
}

static int group_setup(void **state)
{
	(void)state;
	return tmpdir_make("/tmp/zkfs-test-sasl-XXXXXX");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_jaas_parse),
	    cmocka_unit_test(test_jaas_errors),
	    cmocka_unit_test(test_identity),
	    cmocka_unit_test(test_sasl_acls),
	    cmocka_unit_test(test_config_keys),
	    cmocka_unit_test(test_edge_init_errors),
	    cmocka_unit_test(test_digest_exchange),
	    cmocka_unit_test(test_client_credentials),
	};
	return cmocka_run_group_tests(tests, group_setup, tmpdir_remove);
}
