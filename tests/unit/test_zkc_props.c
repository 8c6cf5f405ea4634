/*
 * test_zkc_props.c — ZooKeeper's client.properties as libzkc reads it
 * (client/zkc_props.c), the one reader behind zkfs-cli -c and the mount's
 * zkconfig=: the three separators, blanks and comments, the optional
 * "zookeeper." of the TLS keys, TLS and SASL keys from one file, a server
 * principal taken apart, files applied over each other, an unreadable file,
 * and the credentials the SASL keys lead to (zkc_sasl_props_load).
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

#include "tmpdir_fixture.h"
#include "zkc.h"

static char err[512];

/* Reads text as a properties file into fresh structs; returns the result. */
static int read_props(const char *text, struct zkc_tls *tls, bool *secure,
		      struct zkc_sasl_props *sasl)
{
	if (tls)
		memset(tls, 0, sizeof(*tls));
	if (sasl)
		memset(sasl, 0, sizeof(*sasl));
	if (secure)
		*secure = false;
	err[0] = '\0';
	return zkc_client_properties(tmpdir_file("client.properties", text), tls, secure, sasl, err,
				     sizeof(err));
}

static void test_separators_and_blanks(void **state)
{
	(void)state;
	struct zkc_tls t;
	bool secure;
	assert_int_equal(read_props("zookeeper.ssl.keyStore.location=/k.pem\n"
				    "zookeeper.ssl.trustStore.location: /ca.pem\n"
				    "zookeeper.ssl.keyStore.type PKCS12\n"
				    "  \tzookeeper.ssl.trustStore.type =\t PEM  \r\n"
				    "zookeeper.ssl.ciphersuites   TLS_AES_128_GCM_SHA256\t\n"
				    "zookeeper.ssl.keyStore.password=pw=with:seps\n"
				    "zookeeper.client.secure:true",
				    &t, &secure, NULL),
			 0);
	assert_string_equal(t.cert_file, "/k.pem");
	assert_string_equal(t.ca_file, "/ca.pem");
	assert_string_equal(t.cert_type, "PKCS12");
	assert_string_equal(t.ca_type, "PEM");
	assert_string_equal(t.ciphersuites, "TLS_AES_128_GCM_SHA256");
	/* only the first separator splits */
	assert_string_equal(t.key_password, "pw=with:seps");
	assert_true(secure); /* a last line without a newline counts */
	zkc_tls_free_strings(&t);
	assert_null(t.cert_file);
}

static void test_comments(void **state)
{
	(void)state;
	struct zkc_tls t;
	struct zkc_sasl_props p;
	bool secure;
	assert_int_equal(read_props("# zookeeper.ssl.keyStore.location=/hash\n"
				    "! zookeeper.ssl.trustStore.location=/bang\n"
				    "   # java.security.auth.login.config=/indented\n"
				    "\n"
				    "\t\n"
				    "#zookeeper.client.secure=true\n"
				    "zookeeper.ssl.keyStore.location=/real # not a comment\n",
				    &t, &secure, &p),
			 0);
	assert_null(t.ca_file);
	assert_null(p.login_config);
	assert_false(secure);
	/* '#' starts a comment only at the start of a line, as in Java */
	assert_string_equal(t.cert_file, "/real # not a comment");
	zkc_tls_free_strings(&t);
	zkc_sasl_props_free(&p);
}

static void test_prefix_optional_for_tls(void **state)
{
	(void)state;
	struct zkc_tls t;
	struct zkc_sasl_props p;
	bool secure;
	assert_int_equal(read_props("client.secure=true\n"
				    "ssl.keyStore.location=/short.pem\n"
				    "zookeeper.ssl.trustStore.location=/long.pem\n"
				    "ssl.hostnameVerification=false\n"
				    /* the SASL keys have no short forms */
				    "sasl.client=false\n"
				    "sasl.clientconfig=Short\n"
				    "server.principal=svc/host@R\n",
				    &t, &secure, &p),
			 0);
	assert_true(secure);
	assert_string_equal(t.cert_file, "/short.pem");
	assert_string_equal(t.ca_file, "/long.pem");
	assert_true(t.no_verify_host);
	assert_false(p.disabled);
	assert_null(p.section);
	assert_null(p.service);
	assert_null(p.host);
	zkc_tls_free_strings(&t);
	zkc_sasl_props_free(&p);
}

static const char both[] = "zookeeper.client.secure=true\n"
			   "zookeeper.ssl.keyStore.location=/client.pem\n"
			   "zookeeper.ssl.trustStore.location=/ca.pem\n"
			   "zookeeper.ssl.protocol=TLSv1.2\n"
			   "zookeeper.ssl.enabledProtocols=TLSv1.3\n"
			   "java.security.auth.login.config=/etc/zk/jaas.conf\n"
			   "zookeeper.sasl.clientconfig=ZkClient\n"
			   "zookeeper.sasl.client=true\n";

static void test_tls_and_sasl_in_one_file(void **state)
{
	(void)state;
	struct zkc_tls t;
	struct zkc_sasl_props p;
	bool secure;
	assert_int_equal(read_props(both, &t, &secure, &p), 0);
	assert_true(secure);
	assert_string_equal(t.cert_file, "/client.pem");
	assert_string_equal(t.ca_file, "/ca.pem");
	/* enabledProtocols is the list ssl.protocol only stands in for */
	assert_string_equal(t.protocols, "TLSv1.3");
	assert_string_equal(p.login_config, "/etc/zk/jaas.conf");
	assert_string_equal(p.section, "ZkClient");
	assert_false(p.disabled);
	assert_null(p.service);
	zkc_tls_free_strings(&t);
	zkc_sasl_props_free(&p);
	assert_null(p.login_config);

	/* either half may be left out */
	assert_int_equal(read_props(both, NULL, NULL, &p), 0);
	assert_string_equal(p.section, "ZkClient");
	zkc_sasl_props_free(&p);
	assert_int_equal(
	    zkc_tls_properties(tmpdir_file("tls-only", both), &t, &secure, err, sizeof(err)), 0);
	assert_string_equal(t.cert_file, "/client.pem");
	zkc_tls_free_strings(&t);
}

static void test_server_principal(void **state)
{
	(void)state;
	static const struct {
		const char *text, *service, *host;
	} cases[] = {
	    {"zookeeper.server.principal=zookeeper/zk1.example.com@EXAMPLE.COM\n", "zookeeper",
	     "zk1.example.com"},
	    /* no realm; and the later of username and principal names the service */
	    {"zookeeper.sasl.client.username=first\nzookeeper.sasl.client.principal=zk/host-only\n",
	     "zk", "host-only"},
	    {"zookeeper.server.principal=zk/h@R\nzookeeper.sasl.client.username=later\n", "later",
	     "h"},
	    /* without a '/' there is no host: ignored */
	    {"zookeeper.server.principal=zookeeper@R\n", NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct zkc_sasl_props p;
		assert_int_equal(read_props(cases[i].text, NULL, NULL, &p), 0);
		if (cases[i].service) {
			assert_string_equal(p.service, cases[i].service);
			assert_string_equal(p.host, cases[i].host);
		} else {
			assert_null(p.service);
			assert_null(p.host);
		}
		zkc_sasl_props_free(&p);
	}
}

/* A second file changes what it names and keeps the rest, as options do. */
static void test_files_apply_over_each_other(void **state)
{
	(void)state;
	struct zkc_tls t;
	struct zkc_sasl_props p;
	bool secure;
	assert_int_equal(read_props(both, &t, &secure, &p), 0);
	assert_int_equal(zkc_client_properties(
			     tmpdir_file("second", "zookeeper.ssl.trustStore.location=/other.pem\n"
						   "zookeeper.client.secure=false\n"
						   "zookeeper.sasl.client=FALSE\n"),
			     &t, &secure, &p, err, sizeof(err)),
			 0);
	assert_false(secure);
	assert_string_equal(t.ca_file, "/other.pem");
	assert_string_equal(t.cert_file, "/client.pem");
	assert_true(p.disabled);
	assert_string_equal(p.login_config, "/etc/zk/jaas.conf");
	zkc_tls_free_strings(&t);
	zkc_sasl_props_free(&p);
}

static void test_unreadable_files(void **state)
{
	(void)state;
	struct zkc_tls t = {0};
	struct zkc_sasl_props p = {0};
	bool secure = false;
	char path[128];
	snprintf(path, sizeof(path), "%s/missing.properties", tmpdir);
	assert_int_equal(zkc_client_properties(path, &t, &secure, &p, err, sizeof(err)), -ENOENT);
	char want[256];
	snprintf(want, sizeof(want), "cannot read %s: %s", path, strerror(ENOENT));
	assert_string_equal(err, want);
	/* one that opens but does not read */
	assert_int_equal(zkc_client_properties(tmpdir, &t, &secure, &p, err, sizeof(err)), -EISDIR);
	snprintf(want, sizeof(want), "cannot read %s: %s", tmpdir, strerror(EISDIR));
	assert_string_equal(err, want);
	/* a password file that is not there: the line and key are named */
	assert_int_equal(read_props("# one\nzookeeper.ssl.keyStore.passwordPath=/nonexistent/pw\n",
				    &t, &secure, &p),
			 -ENOENT);
	assert_non_null(strstr(err, "client.properties:2: zookeeper.ssl.keyStore.passwordPath: "));
	zkc_tls_free_strings(&t);
	zkc_sasl_props_free(&p);
}

static void test_password_path(void **state)
{
	(void)state;
	struct zkc_tls t;
	char text[256];
	snprintf(text, sizeof(text), "zookeeper.ssl.trustStore.passwordPath=%s\n",
		 tmpdir_file("trust.pass", "s3cret\n"));
	assert_int_equal(read_props(text, &t, NULL, NULL), 0);
	assert_string_equal(t.ca_password, "s3cret");
	zkc_tls_free_strings(&t);
}

static const char jaas[] = "ZkClient {\n"
			   "  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
			   "  username=\"bob\" password=\"bobsecret\";\n"
			   "};\n";

static void test_sasl_props_load(void **state)
{
	(void)state;
	struct zkc_sasl_props p = {0};
	struct zkc_sasl s;
	bool on = true;
	char text[256];
	/* nothing asks for SASL */
	assert_int_equal(zkc_sasl_props_load(&p, NULL, NULL, &s, &on, err, sizeof(err)), ZE_OK);
	assert_false(on);
	assert_int_equal(zkc_sasl_props_load(NULL, NULL, NULL, &s, &on, err, sizeof(err)), ZE_OK);
	assert_false(on);
	/* the login config with its section, and the server's name */
	snprintf(text, sizeof(text),
		 "java.security.auth.login.config=%s\nzookeeper.sasl.clientconfig=ZkClient\n"
		 "zookeeper.server.principal=zk/zk1@R\n",
		 tmpdir_file("jaas.conf", jaas));
	assert_int_equal(read_props(text, NULL, NULL, &p), 0);
	assert_int_equal(zkc_sasl_props_load(&p, NULL, NULL, &s, &on, err, sizeof(err)), ZE_OK);
	assert_true(on);
	assert_string_equal(s.mech, "DIGEST-MD5");
	assert_string_equal(s.user, "bob");
	assert_string_equal(s.password, "bobsecret");
	assert_string_equal(s.service, "zk");
	assert_string_equal(s.host, "zk1");
	zkc_sasl_clear(&s);
	/* a program's own file wins over the login config */
	const char *own = tmpdir_file("own.creds", "username=alice\npassword=alicesecret\n");
	assert_int_equal(zkc_sasl_props_load(&p, own, "DIGEST-MD5", &s, &on, err, sizeof(err)),
			 ZE_OK);
	assert_true(on);
	assert_string_equal(s.user, "alice");
	assert_string_equal(s.service, "zk");
	zkc_sasl_clear(&s);
	/* zookeeper.sasl.client=false: off, whatever else is said */
	p.disabled = true;
	assert_int_equal(zkc_sasl_props_load(&p, own, "DIGEST-MD5", &s, &on, err, sizeof(err)),
			 ZE_OK);
	assert_false(on);
	assert_null(s.mech);
	p.disabled = false;
	/* a section the JAAS file lacks: the loader's error, nothing kept */
	free(p.section);
	p.section = strdup("Missing");
	assert_int_equal(zkc_sasl_props_load(&p, NULL, NULL, &s, &on, err, sizeof(err)),
			 ZE_BADARGUMENTS);
	assert_false(on);
	assert_non_null(strstr(err, "Missing"));
	assert_null(strstr(err, "bobsecret"));
	assert_null(s.user);
	zkc_sasl_props_free(&p);
}

static int group_setup(void **state)
{
	(void)state;
	return tmpdir_make("/tmp/zkfs-test-zkcprops-XXXXXX");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_separators_and_blanks),
	    cmocka_unit_test(test_comments),
	    cmocka_unit_test(test_prefix_optional_for_tls),
	    cmocka_unit_test(test_tls_and_sasl_in_one_file),
	    cmocka_unit_test(test_server_principal),
	    cmocka_unit_test(test_files_apply_over_each_other),
	    cmocka_unit_test(test_unreadable_files),
	    cmocka_unit_test(test_password_path),
	    cmocka_unit_test(test_sasl_props_load),
	};
	return cmocka_run_group_tests_name("zkc_props", tests, group_setup, tmpdir_remove);
}
