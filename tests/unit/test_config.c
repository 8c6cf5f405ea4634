/*
 * test_config.c — zoo.cfg parsing and validation (server/config.c): good
 * files, defaults, Java-only and unknown keys, bad values with their
 * messages, server.N lines, myid, the command line and `conf` output.
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

struct fx {
	char dir[64];
	char cfg_path[128];
	struct config cfg;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	strcpy(fx->dir, "/tmp/zkfs-test-config-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->cfg_path, sizeof(fx->cfg_path), "%s/zoo.cfg", fx->dir);
	config_init(&fx->cfg);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	config_free(&fx->cfg);
	nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* loads text as a file and finishes; returns the result */
static int load(struct fx *fx, const char *text)
{
	write_file(fx->cfg_path, text);
	int rc = config_load_file(&fx->cfg, fx->cfg_path);
	if (rc)
		return rc;
	return config_finish(&fx->cfg);
}

/* loads "dataDir=<dir>\n" + body */
static int load_body(struct fx *fx, const char *body)
{
	char text[4096];
	snprintf(text, sizeof(text), "dataDir=%s\n%s", fx->dir, body);
	return load(fx, text);
}

static bool has_warning(const struct config *cfg, const char *needle)
{
	for (size_t i = 0; i < cfg->n_warnings; i++)
		if (strstr(cfg->warnings[i], needle))
			return true;
	return false;
}

/* Whether the `conf` output of cfg holds needle. */
static bool conf_has(const struct config *cfg, const char *needle)
{
	char *s = config_format(cfg);
	assert_non_null(s);
	bool found = strstr(s, needle) != NULL;
	free(s);
	return found;
}

/* Every line of s up to end is key=value, and no key appears twice. */
static void assert_conf_lines(const char *s, const char *end)
{
	size_t sl = strlen(s);
	char *all = malloc(sl + 2);
	assert_non_null(all);
	all[0] = '\n';
	memcpy(all + 1, s, sl + 1);
	for (const char *l = s; l < end;) {
		const char *nl = strchr(l, '\n');
		assert_non_null(nl);
		const char *eq = memchr(l, '=', (size_t)(nl - l));
		assert_non_null(eq);
		assert_true(eq > l);
		char key[128];
		snprintf(key, sizeof(key), "\n%.*s=", (int)(eq - l), l);
		const char *first = strstr(all, key);
		assert_non_null(first);
		assert_null(strstr(first + 1, key));
		l = nl + 1;
	}
	free(all);
}

/* The last load failed with -EINVAL and a message holding fragment. */
static void expect_einval(struct fx *fx, int rc, const char *fragment)
{
	if (rc != -EINVAL || !strstr(fx->cfg.error, fragment)) {
		print_error("rc %d, error '%s' lacks '%s'\n", rc, fx->cfg.error, fragment);
		fail();
	}
}

/* ---------------------------------------------------------------- tests */

static void test_defaults(void **state)
{
	struct fx *fx = *state;
	char text[256];
	snprintf(text, sizeof(text), "dataDir=%s/data\n", fx->dir);
	assert_int_equal(load(fx, text), 0);
	struct config *c = &fx->cfg;
	assert_int_equal(c->tick_time, 2000);
	assert_int_equal(c->client_port, 2181);
	assert_null(c->client_port_address);
	assert_int_equal(c->max_client_cnxns, 60);
	assert_int_equal(c->min_session_timeout, 4000);
	assert_int_equal(c->max_session_timeout, 40000);
	assert_int_equal(c->snap_count, 100000);
	assert_int_equal(c->autopurge_snap_retain_count, 3);
	assert_int_equal(c->autopurge_purge_interval, 0);
	assert_int_equal(c->global_outstanding_limit, 1000);
	assert_int_equal(c->jute_maxbuffer, 0xfffff);
	assert_false(c->extended_types);
	assert_null(c->super_digest);
	assert_true(c->force_sync);
	assert_int_equal(c->prealloc_kb, 65536);
	assert_int_equal(c->election_alg, 3);
	assert_int_equal(c->my_id, -1);
	assert_int_equal(c->container_check_interval_ms, 60000);
	assert_string_equal(c->data_log_dir, c->data_dir); /* dataLogDir = dataDir */
	assert_true(config_4lw_allowed(c, "srvr"));
	assert_false(config_4lw_allowed(c, "ruok"));
	assert_int_equal(c->n_warnings, 0);
	assert_string_equal(c->config_path, fx->cfg_path);
}

static void test_full_file(void **state)
{
	struct fx *fx = *state;
	char text[2048];
	snprintf(text, sizeof(text),
		 "# a zoo.cfg as tools write it\n"
		 "! also a comment\n"
		 "\n"
		 "   tickTime = 500   \n"
		 "dataDir=%s/data\n"
		 "dataLogDir:%s/txlog\n"
		 "clientPort 12345\n"
		 "clientPortAddress=127.0.0.1\r\n"
		 "maxClientCnxns=0\n"
		 "minSessionTimeout=1000\n"
		 "maxSessionTimeout=90000\n"
		 "snapCount=5000\n"
		 "autopurge.snapRetainCount=5\n"
		 "autopurge.purgeInterval=1\n"
		 "4lw.commands.whitelist=ruok, stat ,mntr,conf\n"
		 "globalOutstandingLimit=2000\n"
		 "jute.maxbuffer=0x200000\n"
		 "zookeeper.extendedTypesEnabled=true\n"
		 "zookeeper.DigestAuthenticationProvider.superDigest=super:D/"
		 "InIHSb7yEEbrWz8b9l71RjZJU=\n"
		 "initLimit=10\n"
		 "syncLimit=5\n"
		 "electionAlg=3\n"
		 "forceSync=no\n"
		 "preAllocSize=1024\n"
		 "txnLogSizeLimitInKb=4096\n"
		 "fsync.warningthresholdms=50\n"
		 "znode.container.checkIntervalMs=500\n"
		 "admin.serverPort=8080\n"
		 "metricsProvider.className=org.example.Prometheus\n"
		 "long.key.with.continuation=a\\\n"
		 "    b\n",
		 fx->dir, fx->dir);
	assert_int_equal(load(fx, text), 0);
	struct config *c = &fx->cfg;
	assert_int_equal(c->tick_time, 500);
	assert_int_equal(c->client_port, 12345);
	assert_string_equal(c->client_port_address, "127.0.0.1");
	assert_int_equal(c->max_client_cnxns, 0);
	assert_int_equal(c->min_session_timeout, 1000);
	assert_int_equal(c->max_session_timeout, 90000);
	assert_int_equal(c->snap_count, 5000);
	assert_int_equal(c->autopurge_snap_retain_count, 5);
	assert_int_equal(c->autopurge_purge_interval, 1);
	assert_int_equal(c->n_four_lw, 4);
	assert_true(config_4lw_allowed(c, "stat"));
	assert_true(config_4lw_allowed(c, "conf"));
	assert_false(config_4lw_allowed(c, "srvr"));
	assert_int_equal(c->global_outstanding_limit, 2000);
	assert_int_equal(c->jute_maxbuffer, 0x200000);
	assert_true(c->extended_types);
	assert_string_equal(c->super_digest, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
	assert_int_equal(c->init_limit, 10);
	assert_int_equal(c->sync_limit, 5);
	assert_false(c->force_sync);
	assert_int_equal(c->prealloc_kb, 1024);
	assert_int_equal(c->txn_log_size_limit_kb, 4096);
	assert_int_equal(c->fsync_warning_ms, 50);
	assert_int_equal(c->container_check_interval_ms, 500);
	char want[128];
	snprintf(want, sizeof(want), "%s/txlog", fx->dir);
	assert_string_equal(c->data_log_dir, want);
	/* admin.* and metricsProvider.* are silent; the unknown key (joined
	 * over the continuation line) is named with its first line */
	assert_int_equal(c->n_warnings, 1);
	assert_true(has_warning(c, "zoo.cfg:30: unknown key 'long.key.with.continuation'"));
}

static void test_session_timeouts_follow_tick(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(load_body(fx, "tickTime=100\nmaxSessionTimeout=60000\n"), 0);
	assert_int_equal(fx->cfg.min_session_timeout, 200);
	assert_int_equal(fx->cfg.max_session_timeout, 60000);
	assert_int_equal(config_clamp_session_timeout(&fx->cfg, 10), 200);
	assert_int_equal(config_clamp_session_timeout(&fx->cfg, 5000), 5000);
	assert_int_equal(config_clamp_session_timeout(&fx->cfg, 100000), 60000);
}

static void test_java_only_and_unknown_keys(void **state)
{
	struct fx *fx = *state;
	/* line 1 is dataDir */
	assert_int_equal(load_body(fx, "sslQuorum=true\n"
				       "ssl.quorum.protocol=TLSv1.3\n"
				       "jvm.flags=-Xmx1g\n"
				       "snapshot.trust.empty=true\n"
				       "fooBar=1\n"),
			 0);
	assert_true(has_warning(&fx->cfg, ":2: 'sslQuorum' is not supported"));
	assert_true(has_warning(&fx->cfg, ":3: 'ssl.quorum.protocol' is not supported"));
	assert_true(has_warning(&fx->cfg, ":6: unknown key 'fooBar'"));
	assert_int_equal(fx->cfg.n_warnings, 3);
	FILE *f = tmpfile();
	config_print_warnings(&fx->cfg, f);
	rewind(f);
	char line[512];
	assert_non_null(fgets(line, sizeof(line), f));
	assert_non_null(strstr(line, "zkfs-server: warning: "));
	fclose(f);
}

/* TLS on the client port: ZooKeeper's keys, their zookeeper.-prefixed
 * (system property) names, and no password in `conf` */
static void test_tls_keys(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(
	    load_body(
		fx,
		"secureClientPort=2281\n"
		"zookeeper.ssl.keyStore.location=/k.pem\n"
		"ssl.keyStore.password=sekrit\n"
		"ssl.trustStore.location=/ca.pem\n"
		"ssl.clientAuth=WANT\n"
		"client.portUnification=true\n"
		"authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider\n"
		"serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n"
		"X509AuthenticationProvider.superUser=CN=admin\n"),
	    0);
	assert_int_equal(fx->cfg.n_warnings, 0);
	assert_int_equal(fx->cfg.secure_client_port, 2281);
	assert_string_equal(fx->cfg.ssl_key_store, "/k.pem");
	assert_string_equal(fx->cfg.ssl_key_password, "sekrit");
	assert_int_equal(fx->cfg.ssl_client_auth, 1);
	assert_true(fx->cfg.port_unification);
	assert_string_equal(fx->cfg.x509_super_user, "CN=admin");
	assert_true(conf_has(&fx->cfg, "secureClientPort=2281\n"));
	assert_false(conf_has(&fx->cfg, "sekrit"));
	config_free(&fx->cfg);
	assert_int_equal(load_body(fx, "secureClientPort=2281\n"), -EINVAL);
	assert_non_null(strstr(fx->cfg.error, "ssl.keyStore.location"));
	config_free(&fx->cfg);
	assert_int_equal(load_body(fx, "ssl.clientAuth=maybe\n"), -EINVAL);
	config_free(&fx->cfg);
	assert_int_equal(
	    load_body(fx, "ssl.keyStore.location=/k\nsecureClientPort=1\nssl.ocsp=true\n"),
	    -EINVAL);
	assert_non_null(strstr(fx->cfg.error, "ssl.ocsp"));
}

/* each bad file: expected message fragment */
static void expect_error(struct fx *fx, const char *text, const char *fragment)
{
	config_free(&fx->cfg);
	expect_einval(fx, load(fx, text), fragment);
}

static void test_bad_values(void **state)
{
	struct fx *fx = *state;
	expect_error(fx, "dataDir=/tmp/x\ntickTime=abc\n",
		     "zoo.cfg:2: tickTime: 'abc' is not a number");
	expect_error(fx, "dataDir=/tmp/x\ntickTime=0\n", "tickTime: 0 is out of range");
	expect_error(fx, "dataDir=/tmp/x\nclientPort=70000\n",
		     "clientPort: 70000 is out of range (0..65535)");
	expect_error(fx, "dataDir=/tmp/x\nclientPort=-1\n", "clientPort");
	expect_error(fx, "dataDir=/tmp/x\nmaxClientCnxns=12x\n", "'12x' is not a number");
	expect_error(fx, "dataDir=/tmp/x\nsnapCount=99999999999\n", "snapCount");
	expect_error(fx, "tickTime=2000\n", "dataDir is not set");
	expect_error(fx, "dataDir=\n", "dataDir: empty value");
	expect_error(
	    fx, "dataDir=/tmp/x\nminSessionTimeout=5000\nmaxSessionTimeout=4000\n",
	    "minSessionTimeout (5000 ms) must not be larger than maxSessionTimeout (4000 ms)");
	/* max defaults to 20 ticks = 40000: a larger min is an error too */
	expect_error(fx, "dataDir=/tmp/x\nminSessionTimeout=50000\n", "must not be larger");
	expect_error(fx, "dataDir=/tmp/x\nforceSync=maybe\n",
		     "forceSync: 'maybe' is not true/false");
	expect_error(fx, "dataDir=/tmp/x\nsuperDigest=nocolon\n", "superDigest: expected user:");
	expect_error(fx, "dataDir=/tmp/x\nelectionAlg=7\n",
		     "electionAlg: 7 is not supported: only 3");
	expect_error(fx, "dataDir=/tmp/x\nserver.1=host\n",
		     "server.1: 'host' is not host:port:port");
	expect_error(fx, "dataDir=/tmp/x\nserver.1=h:1:99999\n", "server.1");
	expect_error(fx, "dataDir=/tmp/x\nserver.x=h:1:2\n", "'x' is not a valid server id");
	expect_error(fx, "dataDir=/tmp/x\nserver.1=h:1:2:boss\n", "server.1");
	/* an ensemble without initLimit */
	expect_error(fx, "dataDir=/tmp/x\nserver.1=a:1:2\nserver.2=b:1:2\n",
		     "initLimit and syncLimit");
}

static void test_missing_file(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(config_load_file(&fx->cfg, "/nonexistent/zoo.cfg"), -ENOENT);
	assert_non_null(
	    strstr(fx->cfg.error, "cannot open configuration file /nonexistent/zoo.cfg"));
}

static void test_server_lines_and_myid(void **state)
{
	struct fx *fx = *state;
	char text[1024], p[128];
	snprintf(p, sizeof(p), "%s/myid", fx->dir);
	write_file(p, "2\n");
	snprintf(text, sizeof(text),
		 "dataDir=%s\n"
		 "initLimit=5\nsyncLimit=2\n"
		 "server.3=zk3.example:2888:3888:observer;2183\n"
		 "server.1=zk1.example:2888:3888\n"
		 "server.2=[::1]:2889:3889:participant;127.0.0.1:2182\n",
		 fx->dir);
	assert_int_equal(load(fx, text), 0);
	struct config *c = &fx->cfg;
	assert_int_equal(c->my_id, 2);
	assert_int_equal(c->n_peers, 3);
	assert_int_equal(c->peers[0].id, 1); /* sorted */
	assert_string_equal(c->peers[0].host, "zk1.example");
	assert_int_equal(c->peers[0].quorum_port, 2888);
	assert_int_equal(c->peers[0].election_port, 3888);
	assert_false(c->peers[0].observer);
	assert_null(c->peers[0].client_host);
	assert_int_equal(c->peers[1].id, 2);
	assert_string_equal(c->peers[1].host, "::1");
	assert_string_equal(c->peers[1].client_host, "127.0.0.1");
	assert_int_equal(c->peers[1].client_port, 2182);
	assert_true(c->peers[2].observer);
	assert_int_equal(c->peers[2].client_port, 2183);
	assert_null(c->peers[2].client_host);
	assert_false(has_warning(c, "runs standalone")); /* ensembles run as ensembles */
	assert_true(config_is_ensemble(c));
	assert_ptr_equal(config_self(c), &c->peers[1]);
	/* the own line's client address is the client address */
	assert_int_equal(c->client_port, 2182);
	assert_string_equal(c->client_port_address, "127.0.0.1");
	char *s = config_format(c);
	/* membership as ZooKeeper prints it: a port-only client address is 0.0.0.0 */
	assert_non_null(strstr(s, "server.2=[::1]:2889:3889:participant;127.0.0.1:2182\n"));
	assert_non_null(strstr(s, "server.3=zk3.example:2888:3888:observer;0.0.0.0:2183\n"));
	assert_non_null(strstr(s, "serverId=2\n"));
	free(s);

	/* myid that names no server line */
	write_file(p, "9");
	expect_error(fx, text, "myid 9 has no server.9 line");
	/* garbage in myid */
	write_file(p, "two");
	expect_error(fx, text, "'two' is not a server id");
}

static int args(struct config *cfg, FILE *out, ...)
{
	char *argv[32];
	int argc = 0;
	argv[argc++] = "zkfs-server";
	va_list ap;
	va_start(ap, out);
	char *a;
	while ((a = va_arg(ap, char *)) && argc < 31)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	return config_from_args(cfg, argc, argv, out);
}

static void test_command_line(void **state)
{
	struct fx *fx = *state;
	struct config *c = &fx->cfg;
	FILE *out = tmpfile();
	char data[128];
	snprintf(data, sizeof(data), "%s/d", fx->dir);

	assert_int_equal(
	    args(c, out, "--port", "0", "--data", data, "--address", "127.0.0.1", NULL), 0);
	assert_int_equal(c->client_port, 0);
	assert_string_equal(c->data_dir, data);
	assert_string_equal(c->data_log_dir, data);
	assert_string_equal(c->client_port_address, "127.0.0.1");
	assert_null(c->config_path);

	/* --opt=value and key=value arguments */
	assert_int_equal(args(c, out, "--port=2500", "--data=/tmp/q", "tickTime=100",
			      "4lw.commands.whitelist=*", NULL),
			 0);
	assert_int_equal(c->client_port, 2500);
	assert_int_equal(c->tick_time, 100);
	assert_true(config_4lw_allowed(c, "anything"));

	/* a config file, with an option overriding it */
	char text[256];
	snprintf(text, sizeof(text), "dataDir=%s\nclientPort=3000\ntickTime=300\n", data);
	write_file(fx->cfg_path, text);
	assert_int_equal(args(c, out, fx->cfg_path, NULL), 0);
	assert_int_equal(c->client_port, 3000);
	assert_int_equal(args(c, out, "--config", fx->cfg_path, "--port", "3001", NULL), 0);
	assert_int_equal(c->client_port, 3001);
	assert_int_equal(c->tick_time, 300);
	assert_int_equal(args(c, out, "--port", "3002", fx->cfg_path, NULL), 0);
	assert_int_equal(c->client_port, 3002);

	/* help */
	assert_int_equal(args(c, out, "--help", NULL), 1);
	rewind(out);
	char line[256];
	assert_non_null(fgets(line, sizeof(line), out));
	assert_non_null(strstr(line, "usage:"));
	fclose(out);
	out = tmpfile();

	/* errors */
	assert_int_equal(args(c, out, NULL), -EINVAL);
	assert_non_null(strstr(c->error, "no configuration"));
	assert_int_equal(args(c, out, "--bogus", NULL), -EINVAL);
	assert_non_null(strstr(c->error, "unknown option --bogus"));
	assert_int_equal(args(c, out, "--port", NULL), -EINVAL);
	assert_non_null(strstr(c->error, "--port needs a value"));
	assert_int_equal(args(c, out, "--port", "x", "--data", data, NULL), -EINVAL);
	assert_non_null(strstr(c->error, "command line: clientPort: 'x' is not a number"));
	assert_int_equal(args(c, out, "--port", "1", NULL), -EINVAL);
	assert_non_null(strstr(c->error, "dataDir is not set"));
	assert_int_equal(args(c, out, "/nonexistent.cfg", NULL), -ENOENT);
	assert_int_equal(args(c, out, "a.cfg", "b.cfg", NULL), -EINVAL);
	assert_non_null(strstr(c->error, "more than one configuration file"));
	fclose(out);
}

static void test_conf_output(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(
	    load_body(fx, "clientPort=2999\nsuperDigest=super:xyz=\n4lw.commands.whitelist=*\n"),
	    0);
	char *s = config_format(&fx->cfg);
	assert_non_null(s);
	/* Apache ZooKeeper's `conf` keys come first, in its order */
	assert_true(strncmp(s, "clientPort=2999\nsecureClientPort=-1\ndataDir=", 44) == 0);
	assert_non_null(strstr(s, "\ntickTime=2000\nmaxClientCnxns=60\nminSessionTimeout=4000\n"
				  "maxSessionTimeout=40000\n"));
	assert_non_null(strstr(s, "\nserverId=0\n"));
	assert_non_null(strstr(s, "\n4lw.commands.whitelist=*\n"));
	assert_non_null(strstr(s, "\nsnapCount=100000\n"));
	assert_null(strstr(s, "xyz")); /* the digest is not shown */
	assert_non_null(strstr(s, "\nsuperDigest=(set)\n"));
	assert_conf_lines(s, s + strlen(s));
	free(s);
}

static void test_snap_retain_minimum(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(load_body(fx, "autopurge.snapRetainCount=1\n"), 0);
	assert_int_equal(fx->cfg.autopurge_snap_retain_count, 3);
	assert_true(has_warning(&fx->cfg, "autopurge.snapRetainCount: 1 is below the minimum"));
}

static void test_load_string_and_set(void **state)
{
	struct fx *fx = *state;
	struct config *c = &fx->cfg;
	assert_int_equal(config_load_string(c, "dataDir=/a\nclientPort=7\n", "dyn"), 0);
	assert_int_equal(c->client_port, 7);
	assert_int_equal(config_set(c, "clientPort", "8", "x", 3), 0);
	assert_int_equal(c->client_port, 8);
	assert_int_equal(config_set(c, "clientPort", "z", "x", 3), -EINVAL);
	assert_string_equal(c->error, "x:3: clientPort: 'z' is not a number");
	/* the same server id twice in a file is an error ... */
	assert_int_equal(config_load_string(c, "server.1=a:1:2\nserver.1=b:1:2\n", "dyn"),
			 -EINVAL);
	assert_string_equal(c->error, "dyn:2: server.1 given twice (server ids must be unique)");
	assert_int_equal(c->n_peers, 1);
	assert_string_equal(c->peers[0].host, "a");
	/* ... while the command line (line 0) overrides a file's line */
	assert_int_equal(config_set(c, "server.1", "b:1:2", "command line", 0), 0);
	assert_int_equal(c->n_peers, 1);
	assert_string_equal(c->peers[0].host, "b");
	/* superDigest accepted under its own short name */
	assert_int_equal(config_set(c, "superDigest", "super:abc", "x", 1), 0);
	assert_string_equal(c->super_digest, "super:abc");
	assert_int_equal(config_set(c, "extendedTypesEnabled", "yes", "x", 1), 0);
	assert_true(c->extended_types);
}

/* zkfs.snapshotSliceNodes: 0 (by time) by default, a count >= 0, shown in
 * `conf` only when set (a testing switch, see docs/server.md). */
static void test_snapshot_slice_nodes(void **state)
{
	struct fx *fx = *state;
	struct config *c = &fx->cfg;
	assert_int_equal(load_body(fx, ""), 0);
	assert_int_equal(c->snapshot_slice_nodes, 0);
	assert_false(conf_has(c, "snapshotSliceNodes"));
	assert_int_equal(config_set(c, "zkfs.snapshotSliceNodes", "-1", "x", 2), -EINVAL);
	assert_int_equal(c->snapshot_slice_nodes, 0);
	assert_int_equal(config_set(c, "zkfs.snapshotSliceNodes", "3", "x", 3), 0);
	assert_int_equal(c->snapshot_slice_nodes, 3);
	assert_int_equal(c->n_warnings, 0);
	assert_true(conf_has(c, "\nzkfs.snapshotSliceNodes=3\n"));
}

/* zkfs.disableAddWatch: off by default, a boolean, shown in `conf` only
 * when on (a compatibility-testing switch, see docs/server.md). */
static void test_disable_add_watch(void **state)
{
	struct fx *fx = *state;
	struct config *c = &fx->cfg;
	assert_int_equal(load_body(fx, ""), 0);
	assert_false(c->disable_add_watch);
	assert_false(conf_has(c, "disableAddWatch"));
	assert_int_equal(config_set(c, "zkfs.disableAddWatch", "maybe", "x", 2), -EINVAL);
	assert_string_equal(c->error, "x:2: zkfs.disableAddWatch: 'maybe' is not true/false (or yes/no)");
	assert_false(c->disable_add_watch);
	assert_int_equal(config_set(c, "zkfs.disableAddWatch", "true", "x", 3), 0);
	assert_true(c->disable_add_watch);
	assert_int_equal(c->n_warnings, 0); /* a known key, not an unknown one */
	assert_true(conf_has(c, "\nzkfs.disableAddWatch=true\n"));
}

/* ------------------------------------------------------------------ */
/* Ensemble keys (QuorumPeerConfig's rules, see docs/server.md)        */

/* a fresh load_body with myid (if >= 0) written first */
static int load_ens(struct fx *fx, int myid, const char *body)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/myid", fx->dir);
	if (myid >= 0) {
		char id[16];
		snprintf(id, sizeof(id), "%d", myid);
		write_file(p, id);
	} else {
		unlink(p);
	}
	config_free(&fx->cfg);
	return load_body(fx, body);
}

static void expect_ens_error(struct fx *fx, int myid, const char *body, const char *fragment)
{
	expect_einval(fx, load_ens(fx, myid, body), fragment);
}

#define LIMITS "initLimit=10\nsyncLimit=5\n"
#define THREE                                                                                  \
	"server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n"                         \
	"server.3=127.0.0.1:2890:3890\n"

static void test_ensemble_keys(void **state)
{
	struct fx *fx = *state;
	struct config *c = &fx->cfg;
	/* defaults */
	assert_int_equal(load_ens(fx, 1, LIMITS THREE), 0);
	assert_int_equal(c->election_finalize_ms, 20);
	assert_int_equal(c->election_min_notify_ms, 50);
	assert_int_equal(c->election_max_notify_ms, 2000);
	assert_int_equal(c->commit_log_count, 5000);
	assert_false(c->quorum_listen_on_all_ips);
	assert_false(c->peer_observer);
	assert_int_equal(c->election_alg, 3);
	assert_int_equal(c->config_version, 0);
	assert_false(has_warning(c, "unknown key"));
	/* every key set */
	assert_int_equal(load_ens(fx, 1,
				  LIMITS THREE "quorumListenOnAllIPs=true\npeerType=participant\n"
					       "electionAlg=3\nzkfs.electionFinalizeMs=0\n"
					       "zkfs.electionMinNotifyMs=10\n"
					       "zkfs.electionMaxNotifyMs=300\n"
					       "zkfs.commitLogCount=77\nversion=1a\n"),
			 0);
	assert_true(c->quorum_listen_on_all_ips);
	assert_int_equal(c->election_finalize_ms, 0);
	assert_int_equal(c->election_min_notify_ms, 10);
	assert_int_equal(c->election_max_notify_ms, 300);
	assert_int_equal(c->commit_log_count, 77);
	assert_int_equal(c->config_version, 0x1a);
	assert_false(has_warning(c, "not supported"));
	assert_false(has_warning(c, "unknown key"));
	/* bad values */
	expect_ens_error(fx, 1, LIMITS THREE "electionAlg=1\n",
			 "electionAlg: 1 is not supported: only 3");
	expect_ens_error(fx, 1, LIMITS THREE "electionAlg=x\n", "electionAlg: 'x' is not a number");
	expect_ens_error(fx, 1, LIMITS THREE "peerType=boss\n",
			 "peerType: 'boss' is not observer or participant");
	expect_ens_error(fx, 1, LIMITS THREE "quorumListenOnAllIPs=perhaps\n",
			 "quorumListenOnAllIPs: 'perhaps' is not true/false");
	expect_ens_error(fx, 1, LIMITS THREE "zkfs.commitLogCount=0\n",
			 "zkfs.commitLogCount: 0 is out of range");
	expect_ens_error(fx, 1, LIMITS THREE "zkfs.electionMinNotifyMs=0\n",
			 "zkfs.electionMinNotifyMs: 0 is out of range");
	expect_ens_error(fx, 1, LIMITS THREE "zkfs.electionFinalizeMs=-1\n",
			 "zkfs.electionFinalizeMs: -1 is out of range");
	expect_ens_error(fx, 1,
			 LIMITS THREE "zkfs.electionMinNotifyMs=500\nzkfs.electionMaxNotifyMs=400\n",
			 "zkfs.electionMinNotifyMs (500) must not be larger than "
			 "zkfs.electionMaxNotifyMs (400)");
	expect_ens_error(fx, 1, LIMITS THREE "version=xyz\n",
			 "version: 'xyz' is not a hexadecimal number");
}

/* QuorumPeerConfig.isDistributed and parseDynamicConfig's counts. */
static void test_ensemble_or_standalone(void **state)
{
	struct fx *fx = *state;
	struct config *c = &fx->cfg;
	/* no server lines: standalone */
	assert_int_equal(load_ens(fx, -1, ""), 0);
	assert_false(config_is_ensemble(c));
	assert_null(config_self(c));
	/* one participant, standaloneEnabled=true (default): standalone */
	assert_int_equal(load_ens(fx, 1, "server.1=127.0.0.1:2888:3888\n"), 0);
	assert_false(config_is_ensemble(c));
	assert_true(has_warning(c, "only one server.N line: running standalone"));
	assert_false(has_warning(c, "runs standalone for now"));
	assert_ptr_equal(config_self(c), &c->peers[0]);
	/* ... and standaloneEnabled=false: a one-member ensemble */
	assert_int_equal(
	    load_ens(fx, 1, LIMITS "standaloneEnabled=false\nserver.1=127.0.0.1:2888:3888\n"), 0);
	assert_true(config_is_ensemble(c));
	/* a one-member ensemble still needs the limits and myid */
	expect_ens_error(fx, 1, "standaloneEnabled=false\nserver.1=127.0.0.1:2888:3888\n",
			 "needs initLimit and syncLimit");
	expect_ens_error(fx, -1, LIMITS "standaloneEnabled=false\nserver.1=127.0.0.1:2888:3888\n",
			 "/myid holding this server's id");
	/* two participants: ensemble */
	assert_int_equal(
	    load_ens(fx, 2, LIMITS "server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n"),
	    0);
	assert_true(config_is_ensemble(c));
	assert_int_equal(config_self(c)->id, 2);
	assert_true(has_warning(c, "no server failure will be tolerated"));
	/* four: an even-number warning */
	assert_int_equal(load_ens(fx, 2, LIMITS THREE "server.4=127.0.0.1:2891:3891\n"), 0);
	assert_true(has_warning(c, "consider an odd number"));
	/* one participant + an observer: needs standaloneEnabled=false */
	expect_ens_error(fx, 1,
			 LIMITS "server.1=127.0.0.1:2888:3888\n"
				"server.2=127.0.0.1:2889:3889:observer\n",
			 "observers without a quorum");
	assert_int_equal(load_ens(fx, 2,
				  LIMITS "standaloneEnabled=false\nserver.1=127.0.0.1:2888:3888\n"
					 "server.2=127.0.0.1:2889:3889:observer\n"),
			 0);
	assert_true(config_is_ensemble(c));
	assert_true(c->peer_observer); /* from the own line */
	/* observers only */
	expect_ens_error(fx, 1, LIMITS "server.1=127.0.0.1:2888:3888:observer\n",
			 "observers without participants");
	expect_ens_error(fx, 1,
			 LIMITS "standaloneEnabled=false\nserver.1=127.0.0.1:2888:3888:observer\n",
			 "needs at least one participant");
	/* standaloneEnabled=false without any server line (as ZooKeeper) */
	expect_ens_error(fx, -1, "standaloneEnabled=false\n", "needs at least one participant");
}

static void test_membership_errors(void **state)
{
	struct fx *fx = *state;
	/* the own line must exist */
	expect_ens_error(fx, 4, LIMITS THREE, "myid 4 has no server.4 line");
	/* duplicate ids */
	expect_ens_error(fx, 1, LIMITS THREE "server.2=127.0.0.1:2999:3999\n",
			 "zoo.cfg:7: server.2 given twice (server ids must be unique)");
	/* the same host:port twice, in every combination of roles */
	expect_ens_error(fx, 1,
			 LIMITS "server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2888:3889\n",
			 "address 127.0.0.1:2888 is used twice: as the quorum address of "
			 "server.1 and as the quorum address of server.2");
	expect_ens_error(fx, 1,
			 LIMITS "server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:3888:3889\n",
			 "as the election address of server.1 and as the quorum address of "
			 "server.2");
	expect_ens_error(fx, 1,
			 LIMITS "server.1=127.0.0.1:2888:3888;127.0.0.1:2889\n"
				"server.2=127.0.0.1:2889:3889\n",
			 "address 127.0.0.1:2889 is used twice: as the client address of "
			 "server.1 and as the quorum address of server.2");
	expect_ens_error(fx, 1,
			 LIMITS "server.1=[::1]:2888:3888\nserver.2=[::1]:2889:2888\n",
			 "address [::1]:2888 is used twice");
	/* the same port on different hosts is fine, and so are port-only
	 * (wildcard) client addresses */
	assert_int_equal(load_ens(fx, 1,
				  LIMITS "server.1=zk1:2888:3888;2181\nserver.2=zk2:2888:3888;2181\n"
					 "server.3=zk3:2888:3888;2181\n"),
			 0);
	/* quorum port = election port on one line */
	expect_ens_error(fx, 1, LIMITS "server.1=zk1:2888:2888\n",
			 "server.1: the quorum port and the election port must be different");
}

static void test_peer_type_mismatch(void **state)
{
	struct fx *fx = *state;
	struct config *c = &fx->cfg;
	/* ZooKeeper warns and follows the server.N line (setupPeerType) */
	assert_int_equal(load_ens(fx, 3, LIMITS THREE "peerType=observer\n"), 0);
	assert_false(c->peer_observer);
	assert_true(has_warning(c, "peerType=observer does not match the role of server.3 "
				   "(participant); using the server.N line"));
	assert_int_equal(load_ens(fx, 4,
				  LIMITS THREE "peerType=participant\n"
					       "server.4=127.0.0.1:2891:3891:observer\n"),
			 0);
	assert_true(c->peer_observer);
	assert_true(has_warning(c, "peerType=participant does not match"));
	/* agreeing: no warning */
	assert_int_equal(
	    load_ens(fx, 4, LIMITS THREE "peerType=observer\nserver.4=127.0.0.1:2891:3891:observer\n"),
	    0);
	assert_true(c->peer_observer);
	assert_false(has_warning(c, "does not match"));
}

/* QuorumPeerConfig.setupClientPort */
static void test_client_address_from_server_line(void **state)
{
	struct fx *fx = *state;
	struct config *c = &fx->cfg;
#define TWO_C "server.1=127.0.0.1:2888:3888;127.0.0.1:3181\nserver.2=127.0.0.1:2889:3889;3182\n"
	/* no static client address: the line's */
	assert_int_equal(load_ens(fx, 1, LIMITS TWO_C), 0);
	assert_int_equal(c->client_port, 3181);
	assert_string_equal(c->client_port_address, "127.0.0.1");
	/* a port-only line: all addresses */
	assert_int_equal(load_ens(fx, 2, LIMITS "clientPortAddress=127.0.0.9\n" TWO_C), 0);
	assert_int_equal(c->client_port, 3182);
	assert_null(c->client_port_address);
	/* static wildcard with the same port: agrees */
	assert_int_equal(load_ens(fx, 1, LIMITS "clientPort=3181\n" TWO_C), 0);
	assert_int_equal(c->client_port, 3181);
	assert_string_equal(c->client_port_address, "127.0.0.1");
	/* the same address spelled statically: agrees */
	assert_int_equal(
	    load_ens(fx, 1, LIMITS "clientPort=3181\nclientPortAddress=127.0.0.1\n" TWO_C), 0);
	/* a different port */
	expect_ens_error(fx, 1, LIMITS "clientPort=2181\n" TWO_C,
			 "the client address of this server (id 1) is 0.0.0.0:2181 by "
			 "clientPort/clientPortAddress but 127.0.0.1:3181 by its server.1 line");
	/* a different host */
	expect_ens_error(fx, 1, LIMITS "clientPort=3181\nclientPortAddress=127.0.0.2\n" TWO_C,
			 "is 127.0.0.2:3181 by clientPort/clientPortAddress");
	/* a specific static host against a port-only line */
	expect_ens_error(fx, 2, LIMITS "clientPort=3182\nclientPortAddress=127.0.0.1\n" TWO_C,
			 "but 0.0.0.0:3182 by its server.2 line");
	/* no client part on the own line: clientPort stays */
	assert_int_equal(load_ens(fx, 3, LIMITS "clientPort=4000\n" TWO_C
					       "server.3=127.0.0.1:2890:3890\n"),
			 0);
	assert_int_equal(c->client_port, 4000);
	/* applies to a standalone server with a matching line too, as in ZooKeeper */
	assert_int_equal(load_ens(fx, 1, "server.1=127.0.0.1:2888:3888;5181\n"), 0);
	assert_false(config_is_ensemble(c));
	assert_int_equal(c->client_port, 5181);
#undef TWO_C
}

static void test_dynamic_config_file(void **state)
{
	struct fx *fx = *state;
	struct config *c = &fx->cfg;
	char dyn[256], body[1024];
	snprintf(dyn, sizeof(dyn), "%s/zoo.cfg.dynamic.100000000", fx->dir);
	write_file(dyn, "# members\nserver.2=127.0.0.1:2889:3889:participant;3182\n"
			"server.1=127.0.0.1:2888:3888;127.0.0.1:3181\n"
			"server.3=127.0.0.1:2890:3890:observer\n");
	snprintf(body, sizeof(body), LIMITS "dynamicConfigFile=%s\n", dyn);
	assert_int_equal(load_ens(fx, 1, body), 0);
	assert_int_equal(c->n_peers, 3);
	assert_int_equal(c->peers[0].id, 1);
	assert_true(c->peers[2].observer);
	assert_int_equal(c->config_version, 0x100000000ull);
	assert_string_equal(c->dynamic_config_file, dyn);
	assert_true(config_is_ensemble(c));
	assert_int_equal(c->client_port, 3181);
	char *m = config_membership_text(c);
	assert_string_equal(m, "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:3181\n"
			       "server.2=127.0.0.1:2889:3889:participant;0.0.0.0:3182\n"
			       "server.3=127.0.0.1:2890:3890:observer\n"
			       "version=100000000");
	free(m);
	/* the static file must then hold no server.N line (ZooKeeper refuses) */
	snprintf(body, sizeof(body), LIMITS "server.1=127.0.0.1:2888:3888\ndynamicConfigFile=%s\n",
		 dyn);
	expect_ens_error(fx, 1, body,
			 "server.1 must be in the dynamic configuration file");
	/* a name without a hex suffix: version 0 */
	snprintf(dyn, sizeof(dyn), "%s/members.dyn", fx->dir);
	write_file(dyn, THREE);
	snprintf(body, sizeof(body), LIMITS "version=55\ndynamicConfigFile=%s\n", dyn);
	assert_int_equal(load_ens(fx, 1, body), 0);
	assert_int_equal(c->config_version, 0);
	/* version inside the dynamic file */
	write_file(dyn, THREE "version=100000000\n");
	snprintf(body, sizeof(body), LIMITS "dynamicConfigFile=%s\n", dyn);
	expect_ens_error(fx, 1, body, "members.dyn:4: a dynamic configuration file must not hold "
				      "'version'");
	/* any other key */
	write_file(dyn, THREE "clientPort=2181\n");
	expect_ens_error(fx, 1, body, "members.dyn:4: unrecognised parameter 'clientPort'");
	write_file(dyn, THREE "group.1=1:2:3\n");
	expect_ens_error(fx, 1, body, "hierarchical quorums (group/weight) are not supported");
	/* its errors name the dynamic file's line */
	write_file(dyn, "server.1=127.0.0.1:2888:3888\nserver.2=nonsense\n");
	expect_ens_error(fx, 1, body, "members.dyn:2: server.2: 'nonsense' is not host:port:port");
	/* a missing file */
	snprintf(body, sizeof(body), LIMITS "dynamicConfigFile=%s/none\n", fx->dir);
	int rc = load_ens(fx, 1, body);
	assert_int_equal(rc, -ENOENT);
	assert_non_null(strstr(c->error, "cannot open dynamic configuration file"));
}

/* `conf` of an ensemble member: QuorumZooKeeperServer.dumpConf's lines */
static void test_conf_output_ensemble(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(load_ens(fx, 2,
				  LIMITS "standaloneEnabled=false\nserver.1=127.0.0.1:2888:3888\n"
					 "server.2=[::1]:2889:3889:observer;[::1]:3182\n"),
			 0);
	char *s = config_format(&fx->cfg);
	assert_non_null(s);
	assert_true(strncmp(s, "clientPort=3182\nsecureClientPort=-1\ndataDir=", 44) == 0);
	assert_non_null(strstr(s, "\nserverId=2\ninitLimit=10\nsyncLimit=5\nelectionAlg=3\n"
				  "electionPort=3889\nquorumPort=2889\npeerType=1\n"));
	assert_non_null(strstr(s, "\nclientPortAddress=::1\n"));
	assert_non_null(strstr(s, "\nzkfs.electionFinalizeMs=20\n"));
	assert_non_null(strstr(s, "\nzkfs.commitLogCount=5000\n"));
	assert_non_null(strstr(s, "\nquorumListenOnAllIPs=false\n"));
	/* the membership block ends the output */
	const char *tail = "membership: \n"
			   "server.1=127.0.0.1:2888:3888:participant\n"
			   "server.2=[::1]:2889:3889:observer;[::1]:3182\n"
			   "version=0\n";
	size_t tl = strlen(tail), sl = strlen(s);
	assert_true(sl > tl);
	assert_string_equal(s + sl - tl, tail);
	/* each line before it is key=value, and no key appears twice */
	assert_conf_lines(s, s + sl - tl);
	free(s);

	/* a standalone `conf` keeps its old shape */
	assert_int_equal(load_ens(fx, -1, ""), 0);
	assert_false(conf_has(&fx->cfg, "membership"));
	assert_false(conf_has(&fx->cfg, "peerType"));
	assert_true(conf_has(&fx->cfg, "\ninitLimit=0\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_timeouts_follow_tick, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_java_only_and_unknown_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tls_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_lines_and_myid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_command_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conf_output, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_snap_retain_minimum, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_string_and_set, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disable_add_watch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_snapshot_slice_nodes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ensemble_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ensemble_or_standalone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_membership_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_peer_type_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_client_address_from_server_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dynamic_config_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conf_output_ensemble, setup, teardown),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
