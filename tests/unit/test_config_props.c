/*
 * test_config_props.c — the admin server and metrics keys of zoo.cfg, and
 * Java system properties as zkfs-server takes them (-Dkey=value arguments
 * and SERVER_JVMFLAGS; server/edge/config.c), with and without the
 * "zookeeper." of ZooKeeper's system property names.
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

#include "config.h"

struct fx {
	char dir[64];
	char cfg_path[128];
	char data[128];
	struct config cfg;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	strcpy(fx->dir, "/tmp/zkfs-test-props-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->cfg_path, sizeof(fx->cfg_path), "%s/zoo.cfg", fx->dir);
	snprintf(fx->data, sizeof(fx->data), "%s/d", fx->dir);
	config_init(&fx->cfg);
	unsetenv("SERVER_JVMFLAGS");
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	config_free(&fx->cfg);
	unlink(fx->cfg_path);
	rmdir(fx->dir);
	unsetenv("SERVER_JVMFLAGS");
	free(fx);
	return 0;
}

static void write_cfg(struct fx *fx, const char *extra)
{
	FILE *f = fopen(fx->cfg_path, "w");
	assert_non_null(f);
	fprintf(f, "dataDir=%s\nclientPort=2181\n%s", fx->data, extra);
	fclose(f);
}

static int args(struct config *cfg, ...)
{
	char *argv[32];
	int argc = 0;
	argv[argc++] = "zkfs-server";
	va_list ap;
	va_start(ap, cfg);
	char *a;
	while ((a = va_arg(ap, char *)) && argc < 31)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	FILE *out = tmpfile();
	int rc = config_from_args(cfg, argc, argv, out);
	fclose(out);
	return rc;
}

static bool has_warning(const struct config *c, const char *needle)
{
	for (size_t i = 0; i < c->n_warnings; i++)
		if (strstr(c->warnings[i], needle))
			return true;
	return false;
}

static const char *prop(const struct config *c, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < c->n_sysprops; i++)
		if (!strncmp(c->sysprops[i], key, kl) &&
		    (c->sysprops[i][kl] == '=' || !c->sysprops[i][kl]))
			return c->sysprops[i][kl] ? c->sysprops[i] + kl + 1 : "";
	return NULL;
}

static void test_admin_defaults(void **state)
{
	struct fx *fx = *state;
	struct config *c = &fx->cfg;
	write_cfg(fx, "");
	assert_int_equal(args(c, fx->cfg_path, NULL), 0);
	assert_false(c->admin_enable); /* zkfs opens no HTTP port unasked */
	assert_int_equal(c->admin_port, 8080);
	assert_int_equal(c->admin_idle_timeout_ms, 30000);
	assert_null(c->admin_address);
	assert_null(c->admin_command_url);
	assert_null(c->metrics_class);
	assert_int_equal(c->metrics_port, 7000);
	assert_int_equal(c->n_sysprops, 0);
}

static void test_admin_keys(void **state)
{
	struct fx *fx = *state;
	struct config *c = &fx->cfg;
	write_cfg(fx, "admin.enableServer=true\nadmin.serverAddress=127.0.0.1\n"
		      "admin.serverPort=9090\nadmin.commandURL=/cmds\nadmin.idleTimeout=5000\n"
		      "metricsProvider.className=org.apache.zookeeper.metrics.prometheus."
		      "PrometheusMetricsProvider\nmetricsProvider.httpHost=127.0.0.2\n"
		      "metricsProvider.httpPort=0\nmetricsProvider.exportJvmInfo=false\n");
	assert_int_equal(args(c, fx->cfg_path, NULL), 0);
	assert_true(c->admin_enable);
	assert_string_equal(c->admin_address, "127.0.0.1");
	assert_int_equal(c->admin_port, 9090);
	assert_string_equal(c->admin_command_url, "/cmds");
	assert_int_equal(c->admin_idle_timeout_ms, 5000);
	assert_non_null(strstr(c->metrics_class, "PrometheusMetricsProvider"));
	assert_string_equal(c->metrics_host, "127.0.0.2");
	assert_int_equal(c->metrics_port, 0);
	assert_int_equal(c->n_warnings, 0); /* exportJvmInfo: silently accepted */
}

static void test_admin_bad_values(void **state)
{
	struct fx *fx = *state;
	struct config *c = &fx->cfg;
	write_cfg(fx, "admin.serverPort=70000\n");
	assert_int_equal(args(c, fx->cfg_path, NULL), -EINVAL);
	assert_non_null(strstr(c->error, "admin.serverPort"));
	write_cfg(fx, "admin.commandURL=commands\n");
	assert_int_equal(args(c, fx->cfg_path, NULL), -EINVAL);
	assert_non_null(strstr(c->error, "not a URL path"));
	write_cfg(fx, "admin.enableServer=maybe\n");
	assert_int_equal(args(c, fx->cfg_path, NULL), -EINVAL);
	/* what zkfs lacks is a warning, not an error */
	/* HTTPS only, with the key store ZooKeeper 3.8's AdminServer reads */
	write_cfg(fx, "admin.forceHttps=true\nssl.quorum.keyStore.location=/k.pem\n"
		      "ssl.quorum.keyStore.password=sekrit\nssl.quorum.trustStore.location=/ca.pem\n");
	assert_int_equal(args(c, fx->cfg_path, NULL), 0);
	assert_true(c->admin_force_https);
	assert_string_equal(c->ssl_quorum_key_store, "/k.pem");
	assert_string_equal(c->ssl_quorum_key_password, "sekrit");
	assert_int_equal(c->n_warnings, 0);
	char *conf = config_format(c);
	assert_non_null(conf);
	assert_null(strstr(conf, "sekrit"));
	free(conf);
	write_cfg(fx, "admin.portUnification=true\nmetricsProvider.className=com.example.Mine\n");
	assert_int_equal(args(c, fx->cfg_path, NULL), 0);
	assert_true(has_warning(c, "admin.portUnification"));
	assert_false(has_warning(c, "com.example.Mine")); /* admin.c logs it at start */
	assert_string_equal(c->metrics_class, "com.example.Mine");
}

static void test_dash_d_arguments(void **state)
{
	struct fx *fx = *state;
	struct config *c = &fx->cfg;
	assert_int_equal(
	    args(c, "--port", "0", "--data", fx->data, "-Dzookeeper.admin.enableServer=true",
		 "-Dzookeeper.4lw.commands.whitelist=*", "-Djute.maxbuffer=5000",
		 "-Dzookeeper.admin.serverPort=9191", "-Dsome.jvm.prop=x=y", "-Dflag", NULL),
	    0);
	assert_true(c->admin_enable);
	assert_int_equal(c->admin_port, 9191);
	assert_true(config_4lw_allowed(c, "mntr"));
	assert_int_equal(c->jute_maxbuffer, 5000);
	/* everything is remembered as given, applied or not */
	assert_string_equal(prop(c, "some.jvm.prop"), "x=y");
	assert_string_equal(prop(c, "zookeeper.admin.serverPort"), "9191");
	assert_string_equal(prop(c, "flag"), "");
	assert_int_equal(c->n_sysprops, 6);

	/* -D alone is a configuration too; errors name the key */
	assert_int_equal(args(c, "-DdataDir=/tmp/x", NULL), 0);
	assert_string_equal(c->data_dir, "/tmp/x");
	assert_int_equal(args(c, "--data", fx->data, "-Dzookeeper.admin.serverPort=x", NULL),
			 -EINVAL);
	assert_non_null(strstr(c->error, "admin.serverPort"));
	assert_int_equal(args(c, "--data", fx->data, "-D=1", NULL), -EINVAL);
}

static void test_file_overrides_properties(void **state)
{
	struct fx *fx = *state;
	struct config *c = &fx->cfg;
	write_cfg(fx, "tickTime=300\n");
	assert_int_equal(args(c, "-DtickTime=100", "-DmaxClientCnxns=7", fx->cfg_path, NULL), 0);
	assert_int_equal(c->tick_time, 300); /* the file wins, as in ZooKeeper */
	assert_int_equal(c->max_client_cnxns, 7);
	/* options after a file still override it */
	assert_int_equal(args(c, "-DtickTime=100", fx->cfg_path, "tickTime=400", NULL), 0);
	assert_int_equal(c->tick_time, 400);
}

static void test_server_jvmflags(void **state)
{
	struct fx *fx = *state;
	struct config *c = &fx->cfg;
	setenv("SERVER_JVMFLAGS",
	       "-Xmx1g  -XX:+UseG1GC -DtickTime=150 '-Dquoted.prop=a b' -Dother=\"c d\" "
	       "-Dzookeeper.admin.enableServer=true",
	       1);
	assert_int_equal(args(c, "--port", "0", "--data", fx->data, NULL), 0);
	assert_int_equal(c->tick_time, 150);
	assert_true(c->admin_enable);
	assert_string_equal(prop(c, "quoted.prop"), "a b");
	assert_string_equal(prop(c, "other"), "c d");
	assert_null(prop(c, "-Xmx1g"));
	/* arguments come after the environment */
	assert_int_equal(args(c, "--port", "0", "--data", fx->data, "-DtickTime=160", NULL), 0);
	assert_int_equal(c->tick_time, 160);
	assert_int_equal(c->n_sysprops, 4); /* tickTime replaced, not added */
	/* a bad value in the environment says where it came from */
	setenv("SERVER_JVMFLAGS", "-DtickTime=abc", 1);
	assert_int_equal(args(c, "--port", "0", "--data", fx->data, NULL), -EINVAL);
	assert_non_null(strstr(c->error, "SERVER_JVMFLAGS"));
}

/*
 * Keys that ZooKeeper reads as system properties "zookeeper.KEY" while
 * zoo.cfg gives them as "KEY" (QuorumPeerConfig passes a key it does not
 * know on as "zookeeper." + KEY): every spelling reaches the same setting,
 * in a file, as -D arguments with and without the prefix, in
 * SERVER_JVMFLAGS, and as a KEY=VALUE argument; and a bad value names the
 * key in each.
 */
#define SASL_PROVIDER "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n"

static const struct spelled {
	const char *key, *value;
	const char *needs; /* zoo.cfg lines the value needs to pass, or NULL */
	size_t off;
	char kind; /* 'b' true, 'i' the number, 's' the string, 'l' the one-item list of schemes */
} spelled[] = {
    {"sasl.serverconfig", "ZkServer", NULL, offsetof(struct config, sasl_section), 's'},
    {"enforce.auth.enabled", "true", "enforce.auth.schemes=digest\n",
     offsetof(struct config, enforce_auth), 'b'},
    {"enforce.auth.schemes", "digest", NULL, 0, 'l'},
    {"sessionRequireClientSASLAuth", "true", SASL_PROVIDER, offsetof(struct config, sasl_required),
     'b'},
    {"allowSaslFailedClients", "true", NULL, offsetof(struct config, allow_sasl_failed), 'b'},
    {"kerberos.removeHostFromPrincipal", "true", NULL, offsetof(struct config, krb_remove_host),
     'b'},
    {"kerberos.removeRealmFromPrincipal", "true", NULL, offsetof(struct config, krb_remove_realm),
     'b'},
    {"superUser", "root", NULL, offsetof(struct config, sasl_super_user), 's'},
    {"extendedTypesEnabled", "true", NULL, offsetof(struct config, extended_types), 'b'},
    {"znode.container.checkIntervalMs", "500", NULL,
     offsetof(struct config, container_check_interval_ms), 'i'},
    {"znode.container.maxPerMinute", "7", NULL, offsetof(struct config, container_max_per_minute),
     'i'},
    {"admin.enableServer", "true", NULL, offsetof(struct config, admin_enable), 'b'},
    {"admin.serverAddress", "127.0.0.2", NULL, offsetof(struct config, admin_address), 's'},
    {"admin.serverPort", "9191", NULL, offsetof(struct config, admin_port), 'i'},
    {"admin.commandURL", "/cmds", NULL, offsetof(struct config, admin_command_url), 's'},
    {"admin.idleTimeout", "5000", NULL, offsetof(struct config, admin_idle_timeout_ms), 'i'},
};

static bool spelled_applied(const struct config *c, const struct spelled *s)
{
	const char *field = (const char *)c + s->off;
	switch (s->kind) {
	case 'b':
		return *(const bool *)field;
	case 'i':
		return *(const int *)field == atoi(s->value);
	case 's':
		return *(char *const *)field && !strcmp(*(char *const *)field, s->value);
	default:
		return c->n_enforce_schemes == 1 && !strcmp(c->enforce_schemes[0], s->value);
	}
}

enum {
	IN_FILE,
	IN_FILE_PREFIXED,
	DASH_D,
	DASH_D_PREFIXED,
	JVMFLAGS_PREFIXED,
	ARG_PREFIXED,
	N_FORMS
};

/* Runs the server's configuration with s->key = value in one spelling. */
static int spell(struct fx *fx, const struct spelled *s, int form, const char *value)
{
	char kv[256], dash_d[260], extra[512];
	bool prefixed = form != IN_FILE && form != DASH_D;
	snprintf(kv, sizeof(kv), "%s%s=%s", prefixed ? "zookeeper." : "", s->key, value);
	snprintf(dash_d, sizeof(dash_d), "-D%s", kv);
	snprintf(extra, sizeof(extra), "%s%s\n", s->needs ? s->needs : "",
		 form == IN_FILE || form == IN_FILE_PREFIXED ? kv : "");
	write_cfg(fx, extra);
	if (form == JVMFLAGS_PREFIXED)
		setenv("SERVER_JVMFLAGS", dash_d, 1);
	const char *arg = form == DASH_D || form == DASH_D_PREFIXED ? dash_d
			  : form == ARG_PREFIXED		    ? kv
								    : NULL;
	int rc = args(&fx->cfg, fx->cfg_path, arg, NULL);
	unsetenv("SERVER_JVMFLAGS");
	return rc;
}

static void test_zookeeper_prefix_spellings(void **state)
{
	struct fx *fx = *state;
	struct config *c = &fx->cfg;
	char sysprop[128];
	for (size_t i = 0; i < sizeof(spelled) / sizeof(spelled[0]); i++) {
		const struct spelled *s = &spelled[i];
		for (int form = 0; form < N_FORMS; form++) {
			int rc = spell(fx, s, form, s->value);
			if (rc || !spelled_applied(c, s) || has_warning(c, s->key)) {
				print_error("%s, spelling %d: rc %d (%s), applied %d\n", s->key,
					    form, rc, c->error, spelled_applied(c, s));
				fail();
			}
			/* -D properties are remembered as given (envi) */
			snprintf(sysprop, sizeof(sysprop), "zookeeper.%s", s->key);
			if (form == DASH_D_PREFIXED)
				assert_string_equal(prop(c, sysprop), s->value);
			if (s->kind != 'b' && s->kind != 'i')
				continue;
			rc = spell(fx, s, form, "x");
			if (rc != -EINVAL || !strstr(c->error, s->key)) {
				print_error("%s=x, spelling %d: rc %d, error '%s'\n", s->key, form,
					    rc, c->error);
				fail();
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_admin_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_admin_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_admin_bad_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dash_d_arguments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_file_overrides_properties, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_jvmflags, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zookeeper_prefix_spellings, setup, teardown),
	};
	return cmocka_run_group_tests_name("config_props", tests, NULL, NULL);
}
