/*
 * config.c — zoo.cfg parsing, validation, the command line and `conf`.
 *
 * One table lists every key zkfs knows, with where it goes in struct config
 * and its range; keys the Java server has but zkfs does not need are in a
 * second table, marked silent (harmless: JVM, metrics, admin server) or
 * warned (they change behaviour zkfs does not implement, such as quorum TLS).
 * Anything else is an unknown key: a warning naming it and its line, never
 * an error, so a zoo.cfg written for Apache ZooKeeper always starts zkfs.
 * Values, on the other hand, are checked strictly: a bad number stops the
 * server with the file, line and key in the message.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TICK 2000
#define DEFAULT_PORT 2181

/* ------------------------------------------------------------------ */
/* Messages                                                            */

static void warnf(struct config *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(struct config *cfg, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	char **nw = realloc(cfg->warnings, (cfg->n_warnings + 1) * sizeof(*nw));
	char *s = strdup(buf);
	if (!nw || !s) {
		/* out of memory: a lost warning is better than a lost config */
		free(s);
		if (nw)
			cfg->warnings = nw;
		return;
	}
	cfg->warnings = nw;
	cfg->warnings[cfg->n_warnings++] = s;
}

static int errorf(struct config *cfg, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int errorf(struct config *cfg, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cfg->error, sizeof(cfg->error), fmt, ap);
	va_end(ap);
	return err;
}

/* "zoo.cfg:12: " or "command line: " */
static void where(char *buf, size_t n, const char *name, int line)
{
	if (line > 0)
		snprintf(buf, n, "%s:%d: ", name ? name : "config", line);
	else
		snprintf(buf, n, "%s: ", name ? name : "command line");
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */

void config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->tick_time = DEFAULT_TICK;
	cfg->client_port = DEFAULT_PORT;
	cfg->client_port_listen_backlog = -1;
	cfg->max_client_cnxns = 60;
	cfg->max_cnxns = 0;
	cfg->min_session_timeout = -1;
	cfg->max_session_timeout = -1;
	cfg->global_outstanding_limit = 1000;
	cfg->jute_maxbuffer = 0xfffff;
	cfg->snap_count = 100000;
	cfg->snap_size_limit_kb = 4194304;
	cfg->txn_log_size_limit_kb = -1;
	cfg->prealloc_kb = 65536;
	cfg->force_sync = true;
	cfg->fsync_warning_ms = 1000;
	cfg->autopurge_snap_retain_count = 3;
	cfg->autopurge_purge_interval = 0;
	/* four_lw stays NULL until set: config_finish puts in the default, so
	 * that config_init/config_free never allocate */
	cfg->container_check_interval_ms = 60000;
	cfg->container_max_per_minute = 10000;
	cfg->my_id = -1;
	cfg->election_alg = 3;
	cfg->standalone_enabled = true;
	cfg->election_finalize_ms = 20;
	cfg->election_min_notify_ms = 50;
	cfg->election_max_notify_ms = 2000;
	cfg->commit_log_count = 5000;
	cfg->admin_port = 8080;
	cfg->admin_idle_timeout_ms = 30000;
	cfg->metrics_port = 7000;
	cfg->secure_client_port = -1;
	cfg->ssl_client_auth = 2; /* need, as ZooKeeper */
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void config_free(struct config *cfg)
{
	free(cfg->config_path);
	free(cfg->data_dir);
	free(cfg->data_log_dir);
	free(cfg->client_port_address);
	free(cfg->super_digest);
	free(cfg->dynamic_config_file);
	free(cfg->admin_address);
	free(cfg->admin_command_url);
	free(cfg->metrics_class);
	free(cfg->metrics_host);
	free(cfg->secure_client_port_address);
	if (cfg->ssl_quorum_key_password)
		memset(cfg->ssl_quorum_key_password, 0, strlen(cfg->ssl_quorum_key_password));
	free(cfg->ssl_quorum_key_password);
	free(cfg->ssl_quorum_key_store);
	free(cfg->ssl_quorum_key_password_path);
	free(cfg->ssl_quorum_key_store_type);
	char **ssl[] = {&cfg->ssl_key_store,	      &cfg->ssl_key_password,	    &cfg->ssl_key_password_path,
			&cfg->ssl_key_store_type,     &cfg->ssl_trust_store,	    &cfg->ssl_trust_password,
			&cfg->ssl_trust_password_path, &cfg->ssl_trust_store_type, &cfg->ssl_protocol,
			&cfg->ssl_enabled_protocols,  &cfg->ssl_ciphersuites,	    &cfg->x509_super_user};
	for (size_t i = 0; i < sizeof(ssl) / sizeof(ssl[0]); i++) {
		if (*ssl[i] && (ssl[i] == &cfg->ssl_key_password || ssl[i] == &cfg->ssl_trust_password))
			memset(*ssl[i], 0, strlen(*ssl[i])); /* don't leave passwords in freed memory */
		free(*ssl[i]);
	}
	free(cfg->jaas_file);
	free(cfg->sasl_section);
	free(cfg->sasl_super_user);
	free_list(cfg->enforce_schemes, cfg->n_enforce_schemes);
	free_list(cfg->sysprops, cfg->n_sysprops);
	free_list(cfg->four_lw, cfg->n_four_lw);
	free_list(cfg->warnings, cfg->n_warnings);
	for (size_t i = 0; i < cfg->n_peers; i++) {
		free(cfg->peers[i].host);
		free(cfg->peers[i].client_host);
	}
	free(cfg->peers);
	config_init(cfg);
}

/* ------------------------------------------------------------------ */
/* Values                                                              */

/* Decimal (or 0x-prefixed hex) 64-bit integer, the whole string. */
static bool parse_i64(const char *s, int64_t *out)
{
	if (!*s)
		return false;
	const char *p = s;
	bool neg = false;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	int base = 10;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (!isxdigit((unsigned char)*p))
		return false;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(p, &end, base);
	if (errno || *end || v > (unsigned long long)INT64_MAX)
		return false;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return true;
}

static bool parse_bool(const char *s, bool *out)
{
	if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1") ||
	    !strcasecmp(s, "on"))
		*out = true;
	else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcmp(s, "0") ||
		 !strcasecmp(s, "off"))
		*out = false;
	else
		return false;
	return true;
}

static int set_str(char **dst, const char *v)
{
	char *s = strdup(v);
	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Key tables                                                          */

enum kind { K_INT, K_I64, K_BOOL, K_STR, K_SPECIAL };

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	int64_t min, max;
};

#define F(field) offsetof(struct config, field)

/* One row per key, named as zoo.cfg spells it.  config_set (and
 * set_property for -D) also takes "zookeeper." + a name, the system
 * property ZooKeeper reads, so no row repeats a key with that prefix;
 * superDigest's property has a name of its own. */
static const struct key keys[] = {
    {"tickTime", K_INT, F(tick_time), 1, INT_MAX},
    {"dataDir", K_STR, F(data_dir), 0, 0},
    {"dataLogDir", K_STR, F(data_log_dir), 0, 0},
    {"clientPort", K_INT, F(client_port), 0, 65535},
    {"clientPortAddress", K_STR, F(client_port_address), 0, 0},
    {"clientPortListenBacklog", K_INT, F(client_port_listen_backlog), -1, INT_MAX},
    {"maxClientCnxns", K_INT, F(max_client_cnxns), 0, INT_MAX},
    {"maxCnxns", K_INT, F(max_cnxns), 0, INT_MAX},
    {"minSessionTimeout", K_INT, F(min_session_timeout), -1, INT_MAX},
    {"maxSessionTimeout", K_INT, F(max_session_timeout), -1, INT_MAX},
    {"globalOutstandingLimit", K_INT, F(global_outstanding_limit), 1, INT_MAX},
    {"jute.maxbuffer", K_INT, F(jute_maxbuffer), 1, INT_MAX},
    {"snapCount", K_INT, F(snap_count), 2, INT_MAX},
    {"snapSizeLimitInKb", K_I64, F(snap_size_limit_kb), INT64_MIN, INT64_MAX},
    {"txnLogSizeLimitInKb", K_I64, F(txn_log_size_limit_kb), INT64_MIN, INT64_MAX},
    {"preAllocSize", K_I64, F(prealloc_kb), 1, INT64_MAX / 1024},
    {"forceSync", K_BOOL, F(force_sync), 0, 0},
    {"fsync.warningthresholdms", K_INT, F(fsync_warning_ms), 1, INT_MAX},
    {"autopurge.snapRetainCount", K_SPECIAL, 0, 0, 0},
    {"autopurge.purgeInterval", K_INT, F(autopurge_purge_interval), 0, INT_MAX},
    {"4lw.commands.whitelist", K_SPECIAL, 0, 0, 0},
    {"extendedTypesEnabled", K_BOOL, F(extended_types), 0, 0},
    {"superDigest", K_SPECIAL, 0, 0, 0},
    {"zookeeper.DigestAuthenticationProvider.superDigest", K_SPECIAL, 0, 0, 0},
    {"localSessionsEnabled", K_BOOL, F(local_sessions), 0, 0},
    {"znode.container.checkIntervalMs", K_INT, F(container_check_interval_ms), 1, INT_MAX},
    {"znode.container.maxPerMinute", K_INT, F(container_max_per_minute), 1, INT_MAX},
    {"zkfs.disableAddWatch", K_BOOL, F(disable_add_watch), 0, 0},
    {"zkfs.snapshotSliceNodes", K_INT, F(snapshot_slice_nodes), 0, INT_MAX},
    {"initLimit", K_INT, F(init_limit), 1, INT_MAX},
    {"syncLimit", K_INT, F(sync_limit), 1, INT_MAX},
    {"electionAlg", K_SPECIAL, 0, 0, 0},
    {"standaloneEnabled", K_BOOL, F(standalone_enabled), 0, 0},
    {"reconfigEnabled", K_BOOL, F(reconfig_enabled), 0, 0},
    {"quorumListenOnAllIPs", K_BOOL, F(quorum_listen_on_all_ips), 0, 0},
    {"peerType", K_SPECIAL, 0, 0, 0},
    {"dynamicConfigFile", K_STR, F(dynamic_config_file), 0, 0},
    {"version", K_SPECIAL, 0, 0, 0},
    {"zkfs.electionFinalizeMs", K_INT, F(election_finalize_ms), 0, INT_MAX},
    {"zkfs.electionMinNotifyMs", K_INT, F(election_min_notify_ms), 1, INT_MAX},
    {"zkfs.electionMaxNotifyMs", K_INT, F(election_max_notify_ms), 1, INT_MAX},
    {"zkfs.commitLogCount", K_INT, F(commit_log_count), 1, INT_MAX},
    /* the AdminServer reads these as system properties "zookeeper.admin.*";
     * zoo.cfg gives them without the prefix (config_set takes both) */
    {"admin.enableServer", K_BOOL, F(admin_enable), 0, 0},
    {"admin.serverAddress", K_STR, F(admin_address), 0, 0},
    {"admin.serverPort", K_INT, F(admin_port), 0, 65535},
    {"admin.commandURL", K_SPECIAL, 0, 0, 0},
    {"admin.idleTimeout", K_INT, F(admin_idle_timeout_ms), 1, INT_MAX},
    {"admin.forceHttps", K_BOOL, F(admin_force_https), 0, 0},
    {"ssl.quorum.keyStore.location", K_STR, F(ssl_quorum_key_store), 0, 0},
    {"ssl.quorum.keyStore.password", K_SPECIAL, 0, 0, 0},
    {"ssl.quorum.keyStore.passwordPath", K_STR, F(ssl_quorum_key_password_path), 0, 0},
    {"ssl.quorum.keyStore.type", K_STR, F(ssl_quorum_key_store_type), 0, 0},
    {"secureClientPort", K_INT, F(secure_client_port), -1, 65535},
    {"secureClientPortAddress", K_STR, F(secure_client_port_address), 0, 0},
    {"client.portUnification", K_BOOL, F(port_unification), 0, 0},
    {"client.certReload", K_BOOL, F(cert_reload), 0, 0},
    {"ssl.keyStore.location", K_STR, F(ssl_key_store), 0, 0},
    {"ssl.keyStore.password", K_SPECIAL, 0, 0, 0},
    {"ssl.keyStore.passwordPath", K_STR, F(ssl_key_password_path), 0, 0},
    {"ssl.keyStore.type", K_STR, F(ssl_key_store_type), 0, 0},
    {"ssl.trustStore.location", K_STR, F(ssl_trust_store), 0, 0},
    {"ssl.trustStore.password", K_SPECIAL, 0, 0, 0},
    {"ssl.trustStore.passwordPath", K_STR, F(ssl_trust_password_path), 0, 0},
    {"ssl.trustStore.type", K_STR, F(ssl_trust_store_type), 0, 0},
    {"ssl.clientAuth", K_SPECIAL, 0, 0, 0},
    {"ssl.protocol", K_STR, F(ssl_protocol), 0, 0},
    {"ssl.enabledProtocols", K_STR, F(ssl_enabled_protocols), 0, 0},
    {"ssl.ciphersuites", K_STR, F(ssl_ciphersuites), 0, 0},
    {"ssl.crl", K_BOOL, F(ssl_crl), 0, 0},
    {"ssl.ocsp", K_BOOL, F(ssl_ocsp), 0, 0},
    {"X509AuthenticationProvider.superUser", K_STR, F(x509_super_user), 0, 0},
    {"metricsProvider.className", K_STR, F(metrics_class), 0, 0},
    {"metricsProvider.httpHost", K_STR, F(metrics_host), 0, 0},
    {"metricsProvider.httpPort", K_INT, F(metrics_port), 0, 65535},
    /* SASL (sasl.c): the JVM property, and ZooKeeper's properties, which it
     * reads as "zookeeper." + these names (zoo.cfg keys become system
     * properties so; config_set strips the prefix) */
    {"java.security.auth.login.config", K_STR, F(jaas_file), 0, 0},
    {"sasl.serverconfig", K_STR, F(sasl_section), 0, 0},
    {"enforce.auth.enabled", K_BOOL, F(enforce_auth), 0, 0},
    {"enforce.auth.schemes", K_SPECIAL, 0, 0, 0},
    {"sessionRequireClientSASLAuth", K_BOOL, F(sasl_required), 0, 0},
    {"allowSaslFailedClients", K_BOOL, F(allow_sasl_failed), 0, 0},
    {"kerberos.removeHostFromPrincipal", K_BOOL, F(krb_remove_host), 0, 0},
    {"kerberos.removeRealmFromPrincipal", K_BOOL, F(krb_remove_realm), 0, 0},
    {"superUser", K_STR, F(sasl_super_user), 0, 0},
};

/* authProvider.N / zookeeper.authProvider.N: a provider class.  Digest,
 * ip and x509 are built in; ZooKeeper's SASLAuthenticationProvider enables the sasl
 * scheme; any other class is Java code zkfs cannot run (a warning). */
static bool is_auth_provider_key(const char *key)
{
	if (!strncmp(key, "zookeeper.", 10))
		key += 10;
	return !strncmp(key, "authProvider.", 13) && key[13];
}

/* Java-only keys.  warn = zkfs does not implement what they ask for. */
struct ignored {
	const char *name; /* exact, or a prefix when it ends with '.' or '*' */
	bool warn;
};

static const struct ignored ignored[] = {
    /* the admin server: HTTPS only (admin.forceHttps) is; HTTP and HTTPS on
     * one port and client certificates (3.9) are not */
    {"admin.portUnification", true},
    {"admin.needClientAuth", true},
    {"zookeeper.admin.portUnification", true},
    {"zookeeper.admin.needClientAuth", true},
    {"admin.", false},
    {"metricsProvider.", false},
    {"jvm.", false},
    {"audit.enable", false},
    {"serverCnxnFactory", false},
    {"clientCnxnSocket", false},
    {"zookeeper.serverCnxnFactory", false},
    {"zookeeper.admin.", false},
    {"zookeeper.jmx.", false},
    {"jmx.", false},
    {"syncEnabled", false},
    {"leaderServes", false},
    {"cnxTimeout", false},
    {"connectToLearnerMasterLimit", false},
    {"group.", true},  /* hierarchical quorums: zkfs counts a plain majority */
    {"weight.", true},
    {"maxResponseCacheSize", false},
    {"maxGetChildrenResponseCacheSize", false},
    {"zookeeper.snapshot.trust.empty", false},
    {"snapshot.trust.empty", false},
    {"zookeeper.snapshot.compression.method", false},
    {"digest.enabled", false},
    {"zookeeper.digest.enabled", false},
    {"zookeeper.skipACL", true},
    {"skipACL", true},
    /* the x509 provider is built in (authProvider.N: set_auth_provider) */
    {"ssl.authProvider", false},
    {"ssl.hostnameVerification", false}, /* a server does not check client names */
    {"ssl.handshakeDetectionTimeoutMillis", false},
    {"ssl.context.supplier.class", true},
    /* ZooKeeper 3.8's HTTPS admin server insists on a trust store it does
     * not use without client certificates; so does zkfs, silently */
    {"ssl.quorum.trustStore.", false},
    {"zookeeper.ssl.quorum.trustStore.", false},
    {"ssl.quorum.", true},
    {"zookeeper.ssl.quorum.", true},
    {"sslQuorum", true},
    {"quorum.auth.", true},
    {"kerberos.", true},
    {"sasl.", true},
    {"multiAddress.", true},
    {"clientSecurePort", true},
    {"enforce.auth.", true},
    {"zookeeper.enforce.auth.", true},
};

static const struct ignored *find_ignored(const char *key)
{
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
		const char *n = ignored[i].name;
		size_t l = strlen(n);
		if (n[l - 1] == '.' ? strncmp(key, n, l) == 0 : strcmp(key, n) == 0)
			return &ignored[i];
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* server.N=host:port:port[:role][;[clientaddr:]port]                  */

/* Splits "host:port" where host may be "[v6]"; *rest points after the
 * port.  Returns false on syntax errors. */
static bool take_host(char **s, char **host)
{
	char *p = *s;
	if (*p == '[') {
		char *e = strchr(p, ']');
		if (!e || e[1] != ':')
			return false;
		*e = '\0';
		*host = p + 1;
		*s = e + 2;
		return true;
	}
	char *c = strchr(p, ':');
	if (!c || c == p)
		return false;
	*c = '\0';
	*host = p;
	*s = c + 1;
	return true;
}

static bool take_port(char **s, int *port)
{
	char *p = *s, *end = p;
	while (*end && *end != ':' && *end != ';')
		end++;
	char save = *end;
	*end = '\0';
	int64_t v;
	bool ok = parse_i64(p, &v) && v >= 1 && v <= 65535;
	*end = save;
	if (!ok)
		return false;
	*port = (int)v;
	*s = end;
	return true;
}

static int parse_peer(struct config *cfg, const char *key, const char *value, const char *at,
		      int line)
{
	int64_t id;
	if (!parse_i64(key + 7, &id) || id < 0)
		return errorf(cfg, -EINVAL, "%s%s: '%s' is not a valid server id", at, key,
			      key + 7);
	char *copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	struct config_peer p = {.id = id};
	char *s = copy, *host, *chost = NULL;
	bool ok = take_host(&s, &host) && take_port(&s, &p.quorum_port) && *s == ':';
	if (ok) {
		s++;
		ok = take_port(&s, &p.election_port);
	}
	if (ok && *s == ':') {
		char *role = ++s;
		while (*s && *s != ';')
			s++;
		char save = *s;
		*s = '\0';
		if (!strcasecmp(role, "observer"))
			p.observer = true;
		else if (strcasecmp(role, "participant") != 0)
			ok = false;
		*s = save;
	}
	if (ok && *s == ';') {
		s++;
		/* "[addr:]port" */
		char *lastc = strrchr(s, ':');
		if (lastc && (s[0] != '[' || lastc > strchr(s, ']'))) {
			ok = take_host(&s, &chost);
		} else if (s[0] == '[') {
			ok = false;
		}
		if (ok)
			ok = take_port(&s, &p.client_port);
	}
	if (ok && *s != '\0')
		ok = false;
	if (ok && p.quorum_port == p.election_port) {
		free(copy);
		/* ZooKeeper: "Client and election port must be different!" (sic) */
		return errorf(cfg, -EINVAL,
			      "%s%s: the quorum port and the election port must be different", at,
			      key);
	}
	if (!ok) {
		free(copy);
		return errorf(
		    cfg, -EINVAL,
		    "%s%s: '%s' is not host:port:port[:participant|observer][;[address:]port]", at,
		    key, value);
	}
	p.host = strdup(host);
	p.client_host = chost ? strdup(chost) : NULL;
	free(copy);
	if (!p.host || (chost && !p.client_host)) {
		free(p.host);
		free(p.client_host);
		return -ENOMEM;
	}
	/* The same id twice in files is a mistake (Java's Properties would
	 * silently keep the last one, hiding it): an error.  The command
	 * line (line 0) overrides a file's line on purpose. */
	for (size_t i = 0; i < cfg->n_peers; i++) {
		if (cfg->peers[i].id == id) {
			if (line > 0) {
				free(p.host);
				free(p.client_host);
				return errorf(cfg, -EINVAL,
					      "%s%s given twice (server ids must be unique)", at,
					      key);
			}
			free(cfg->peers[i].host);
			free(cfg->peers[i].client_host);
			cfg->peers[i] = p;
			return 0;
		}
	}
	struct config_peer *np = realloc(cfg->peers, (cfg->n_peers + 1) * sizeof(*np));
	if (!np) {
		free(p.host);
		free(p.client_host);
		return -ENOMEM;
	}
	cfg->peers = np;
	size_t i = cfg->n_peers++;
	while (i > 0 && cfg->peers[i - 1].id > id) {
		cfg->peers[i] = cfg->peers[i - 1];
		i--;
	}
	cfg->peers[i] = p;
	return 0;
}

/* Splits a comma (or blank) separated list into *out (replacing what is
 * there); an empty list is an allocated empty vector. */
static int split_list(const char *value, char ***out, size_t *nout)
{
	char **v = NULL;
	size_t n = 0;
	const char *p = value;
	while (*p) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		const char *s = p;
		while (*p && *p != ',' && !isspace((unsigned char)*p))
			p++;
		if (p == s)
			continue;
		char **nv = realloc(v, (n + 1) * sizeof(*nv));
		char *w = strndup(s, (size_t)(p - s));
		if (!nv || !w) {
			free(w);
			free_list(nv ? nv : v, n);
			return -ENOMEM;
		}
		v = nv;
		v[n++] = w;
	}
	if (!v && !(v = malloc(sizeof(*v)))) /* empty list: nothing allowed */
		return -ENOMEM;
	free_list(*out, *nout);
	*out = v;
	*nout = n;
	return 0;
}

static int set_whitelist(struct config *cfg, const char *value)
{
	return split_list(value, &cfg->four_lw, &cfg->n_four_lw);
}

/* ------------------------------------------------------------------ */
/* Setting one key                                                     */

static int set_auth_provider(struct config *cfg, const char *key, const char *value, const char *at)
{
	static const char sasl_cls[] = "SASLAuthenticationProvider";
	size_t vl = strlen(value), cl = sizeof(sasl_cls) - 1;
	if (vl >= cl && !strcmp(value + vl - cl, sasl_cls))
		cfg->sasl_provider = true;
	else if (!strstr(value, "DigestAuthenticationProvider") &&
		 !strstr(value, "IPAuthenticationProvider") &&
		 !strstr(value, "X509AuthenticationProvider"))
		warnf(cfg, "%s%s: provider '%s' is Java code zkfs does not run; ignored", at, key,
		      value);
	return 0;
}

int config_set(struct config *cfg, const char *key, const char *value, const char *name, int line)
{
	char at[300];
	where(at, sizeof(at), name, line);

	if (!strncmp(key, "server.", 7))
		return parse_peer(cfg, key, value, at, line);
	if (is_auth_provider_key(key))
		return set_auth_provider(cfg, key, value, at);

	const struct key *k = NULL;
	for (int pass = 0; pass < 2 && !k; pass++) {
		/* a system property's name ("zookeeper.ssl.keyStore.location")
		 * works in zoo.cfg as well */
		if (pass == 1 && strncmp(key, "zookeeper.", 10) != 0)
			break;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strcmp(keys[i].name, pass ? key + 10 : key))
				k = &keys[i];
	}
	if (k)
		key = k->name;
	if (!k) {
		const struct ignored *ig = find_ignored(key);
		if (ig) {
			if (ig->warn)
				warnf(cfg, "%s'%s' is not supported by zkfs and is ignored", at,
				      key);
			return 0;
		}
		warnf(cfg, "%sunknown key '%s' ignored", at, key);
		return 0;
	}

	char *field = (char *)cfg + k->off;
	switch (k->kind) {
	case K_INT:
	case K_I64: {
		int64_t v;
		if (!parse_i64(value, &v))
			return errorf(cfg, -EINVAL, "%s%s: '%s' is not a number", at, key, value);
		if (v < k->min || v > k->max) {
			if (k->max == INT_MAX || k->max == INT64_MAX / 1024)
				return errorf(cfg, -EINVAL,
					      "%s%s: %s is out of range (at least %" PRId64 ")", at,
					      key, value, k->min);
			return errorf(cfg, -EINVAL,
				      "%s%s: %s is out of range (%" PRId64 "..%" PRId64 ")", at,
				      key, value, k->min, k->max);
		}
		if (k->kind == K_INT)
			*(int *)field = (int)v;
		else
			*(int64_t *)field = v;
		if (k->off == F(client_port))
			cfg->client_port_given = true;
		return 0;
	}
	case K_BOOL:
		if (!parse_bool(value, (bool *)field))
			return errorf(cfg, -EINVAL, "%s%s: '%s' is not true/false (or yes/no)", at,
				      key, value);
		return 0;
	case K_STR:
		if (!*value)
			return errorf(cfg, -EINVAL, "%s%s: empty value", at, key);
		return set_str((char **)field, value);
	case K_SPECIAL:
		break;
	}

	if (!strcmp(key, "autopurge.snapRetainCount")) {
		int64_t v;
		if (!parse_i64(value, &v) || v > INT_MAX)
			return errorf(cfg, -EINVAL, "%s%s: '%s' is not a number", at, key, value);
		if (v < 3) {
			warnf(cfg, "%s%s: %s is below the minimum, using 3", at, key, value);
			v = 3;
		}
		cfg->autopurge_snap_retain_count = (int)v;
		return 0;
	}
	if (!strcmp(key, "4lw.commands.whitelist"))
		return set_whitelist(cfg, value);
	if (!strcmp(key, "enforce.auth.schemes"))
		return split_list(value, &cfg->enforce_schemes, &cfg->n_enforce_schemes);
	if (!strcmp(key, "electionAlg")) {
		/* ZooKeeper 3.6+ removed the other algorithms */
		int64_t v;
		if (!parse_i64(value, &v))
			return errorf(cfg, -EINVAL, "%s%s: '%s' is not a number", at, key, value);
		if (v != 3)
			return errorf(cfg, -EINVAL,
				      "%s%s: %s is not supported: only 3 (fast leader election) "
				      "exists",
				      at, key, value);
		cfg->election_alg = 3;
		return 0;
	}
	if (!strcmp(key, "peerType")) {
		if (!strcasecmp(value, "observer"))
			cfg->peer_observer = true;
		else if (!strcasecmp(value, "participant"))
			cfg->peer_observer = false;
		else
			return errorf(cfg, -EINVAL, "%s%s: '%s' is not observer or participant",
				      at, key, value);
		cfg->peer_type_given = true;
		return 0;
	}
	if (!strcmp(key, "version")) {
		/* the membership's version, hex as ZooKeeper writes it */
		char *end;
		errno = 0;
		unsigned long long v = strtoull(value, &end, 16);
		if (!*value || *end || errno || !isxdigit((unsigned char)*value))
			return errorf(cfg, -EINVAL, "%s%s: '%s' is not a hexadecimal number", at,
				      key, value);
		cfg->config_version = v;
		return 0;
	}
	if (!strcmp(key, "ssl.keyStore.password"))
		return set_str(&cfg->ssl_key_password, value);
	if (!strcmp(key, "ssl.trustStore.password"))
		return set_str(&cfg->ssl_trust_password, value);
	if (!strcmp(key, "ssl.quorum.keyStore.password"))
		return set_str(&cfg->ssl_quorum_key_password, value);
	if (!strcmp(key, "ssl.clientAuth")) {
		/* ZooKeeper's ClientAuth: none, want, need (any case) */
		if (!strcasecmp(value, "none"))
			cfg->ssl_client_auth = 0;
		else if (!strcasecmp(value, "want"))
			cfg->ssl_client_auth = 1;
		else if (!strcasecmp(value, "need"))
			cfg->ssl_client_auth = 2;
		else
			return errorf(cfg, -EINVAL, "%s%s: '%s' is not none, want or need", at, key,
				      value);
		return 0;
	}
	if (!strcmp(key, "admin.commandURL")) {
		if (value[0] != '/' || strpbrk(value, "?# \t"))
			return errorf(cfg, -EINVAL, "%s%s: '%s' is not a URL path such as /commands",
				      at, key, value);
		return set_str(&cfg->admin_command_url, value);
	}
	/* superDigest */
	const char *colon = strchr(value, ':');
	if (!colon || colon == value || !colon[1])
		return errorf(cfg, -EINVAL, "%s%s: expected user:base64(sha1(user:password))", at,
			      key);
	return set_str(&cfg->super_digest, value);
}

/* ------------------------------------------------------------------ */
/* Files                                                               */

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Java properties escapes: \t \n \r \f, \uXXXX (ASCII only), \x = x. */
static void unescape(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (*p != '\\' || !p[1]) {
			*o++ = *p;
			continue;
		}
		p++;
		switch (*p) {
		case 't':
			*o++ = '\t';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'u': {
			unsigned v = 0;
			int i;
			for (i = 1; i <= 4 && isxdigit((unsigned char)p[i]); i++)
				v = v * 16 +
				    (unsigned)(isdigit((unsigned char)p[i])
						   ? p[i] - '0'
						   : (tolower((unsigned char)p[i]) - 'a' + 10));
			*o++ = v < 128 && v ? (char)v : '?';
			p += i - 1;
			break;
		}
		default:
			*o++ = *p;
		}
	}
	*o = '\0';
}

/* One line of a dynamic configuration file: ZooKeeper accepts only
 * server.N there (version comes from the file's name). */
static int set_dynamic(struct config *cfg, const char *key, const char *value, const char *name,
		       int line)
{
	char at[300];
	where(at, sizeof(at), name, line);
	if (!strncmp(key, "server.", 7))
		return parse_peer(cfg, key, value, at, line);
	if (!strcmp(key, "version"))
		return errorf(cfg, -EINVAL,
			      "%sa dynamic configuration file must not hold 'version' (it is "
			      "taken from the file name, e.g. zoo.cfg.dynamic.100000000)",
			      at);
	if (!strncmp(key, "group", 5) || !strncmp(key, "weight", 6))
		return errorf(cfg, -EINVAL,
			      "%s'%s': hierarchical quorums (group/weight) are not supported by "
			      "zkfs",
			      at, key);
	return errorf(cfg, -EINVAL,
		      "%sunrecognised parameter '%s' (a dynamic configuration file holds only "
		      "server.N lines)",
		      at, key);
}

/* Parses properties text, each key=value going to config_set, or to
 * set_dynamic for a dynamic configuration file. */
static int load_text(struct config *cfg, const char *text, const char *name, bool dynamic)
{
	char *buf = strdup(text);
	if (!buf)
		return -ENOMEM;
	int rc = 0, lineno = 0;
	char *p = buf;
	while (*p && !rc) {
		/* one logical line: physical lines joined while they end in an
		 * odd number of backslashes */
		char *start = p;
		int first = ++lineno;
		char *o = p;
		for (;;) {
			char *nl = strchr(p, '\n');
			char *end = nl ? nl : p + strlen(p);
			if (end > p && end[-1] == '\r')
				end--;
			size_t bs = 0;
			for (char *q = end; q > p && q[-1] == '\\'; q--)
				bs++;
			bool cont = bs % 2 == 1 && nl;
			size_t n = (size_t)(end - p) - (cont ? 1 : 0);
			memmove(o, p, n);
			o += n;
			p = nl ? nl + 1 : end;
			if (!cont)
				break;
			lineno++;
			while (*p == ' ' || *p == '\t')
				p++;
		}
		*o = '\0';
		char *line = trim(start);
		if (!*line || *line == '#' || *line == '!')
			continue;
		/* key ends at the first unescaped '=', ':' or whitespace */
		char *k = line, *s = line;
		while (*s && *s != '=' && *s != ':' && !isspace((unsigned char)*s)) {
			if (*s == '\\' && s[1])
				s++;
			s++;
		}
		char *v = s;
		while (isspace((unsigned char)*v))
			v++;
		if (*v == '=' || *v == ':')
			v++;
		*s = '\0';
		v = trim(v);
		unescape(k);
		unescape(v);
		rc = dynamic ? set_dynamic(cfg, k, v, name, first) : config_set(cfg, k, v, name, first);
	}
	free(buf);
	return rc;
}

int config_load_string(struct config *cfg, const char *text, const char *name)
{
	return load_text(cfg, text, name, false);
}

/* Reads a whole text file; *out is malloc'd.  what names it in messages. */
static int read_text(struct config *cfg, const char *path, const char *what, char **out)
{
	*out = NULL;
	FILE *f = fopen(path, "r");
	if (!f)
		return errorf(cfg, -errno, "cannot open %s %s: %s", what, path, strerror(errno));
	size_t cap = 4096, len = 0;
	char *text = malloc(cap);
	int rc = 0;
	while (text) {
		size_t n = fread(text + len, 1, cap - len - 1, f);
		len += n;
		if (len < cap - 1)
			break;
		cap *= 2;
		char *nt = realloc(text, cap);
		if (!nt)
			free(text);
		text = nt;
	}
	if (ferror(f))
		rc = errorf(cfg, -EIO, "cannot read %s %s", what, path);
	fclose(f);
	if (!text)
		return -ENOMEM;
	text[len] = '\0';
	if (!rc && memchr(text, '\0', len))
		rc = errorf(cfg, -EINVAL, "%s: not a text file", path);
	if (rc)
		free(text);
	else
		*out = text;
	return rc;
}

int config_load_file(struct config *cfg, const char *path)
{
	char *text;
	int rc = read_text(cfg, path, "configuration file", &text);
	if (rc)
		return rc;
	if (set_str(&cfg->config_path, path))
		rc = -ENOMEM;
	else
		rc = config_load_string(cfg, text, path);
	free(text);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Validation                                                          */

static int read_myid(struct config *cfg)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/myid", cfg->data_dir);
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		return errorf(cfg, -errno, "cannot read %s: %s", path, strerror(errno));
	}
	char buf[64] = "";
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	int64_t id;
	if (!parse_i64(trim(buf), &id) || id < 0)
		return errorf(cfg, -EINVAL, "%s: '%s' is not a server id", path, trim(buf));
	cfg->my_id = id;
	return 0;
}

/* dynamicConfigFile (ZooKeeper 3.5+, QuorumPeerConfig.parse): the
 * membership lives in that file, the static one must not have any; the
 * version is the hex suffix of the file's name ("zoo.cfg.dynamic.100000000"),
 * 0 without one, and "version=" inside the file is refused. */
static int load_dynamic(struct config *cfg)
{
	const char *path = cfg->dynamic_config_file;
	if (cfg->n_peers)
		return errorf(cfg, -EINVAL,
			      "server.%" PRId64 " must be in the dynamic configuration file %s "
			      "(dynamicConfigFile is set), not in the static configuration",
			      cfg->peers[0].id, path);
	char *text;
	int rc = read_text(cfg, path, "dynamic configuration file", &text);
	if (rc)
		return rc;
	rc = load_text(cfg, text, path, true);
	free(text);
	if (rc)
		return rc;
	cfg->config_version = 0;
	const char *dot = strrchr(path, '.');
	if (dot && dot[1]) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(dot + 1, &end, 16);
		if (!*end && !errno && isxdigit((unsigned char)dot[1]))
			cfg->config_version = v;
	}
	return 0;
}

bool config_is_ensemble(const struct config *cfg)
{
	size_t voters = 0;
	for (size_t i = 0; i < cfg->n_peers; i++)
		voters += !cfg->peers[i].observer;
	return cfg->n_peers > 0 && (!cfg->standalone_enabled || voters > 1);
}

const struct config_peer *config_self(const struct config *cfg)
{
	if (cfg->my_id < 0)
		return NULL;
	for (size_t i = 0; i < cfg->n_peers; i++)
		if (cfg->peers[i].id == cfg->my_id)
			return &cfg->peers[i];
	return NULL;
}

static bool is_wildcard(const char *host)
{
	return !host || !*host || !strcmp(host, "0.0.0.0") || !strcmp(host, "::") ||
	       !strcmp(host, "0:0:0:0:0:0:0:0");
}

/* host:port for messages, IPv6 in brackets */
static void fmt_addr(char *buf, size_t n, const char *host, int port)
{
	if (!host)
		host = "0.0.0.0";
	bool v6 = strchr(host, ':') != NULL;
	snprintf(buf, n, "%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

struct endpoint {
	const char *host;
	int port;
	int64_t id;
	const char *what;
};

/* No two endpoints of the membership (quorum, election, explicit client
 * addresses) may be the same host:port: two servers could not both bind
 * it.  Hosts are compared as written (no name resolution).  ZooKeeper
 * checks this only on reconfig (QuorumServer.checkAddressDuplicate); at
 * start it would fail later, at bind time, on one machine only. */
static int check_duplicate_addresses(struct config *cfg)
{
	size_t n = 0;
	struct endpoint *e = calloc(cfg->n_peers * 3 + 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_peers; i++) {
		const struct config_peer *p = &cfg->peers[i];
		e[n++] = (struct endpoint){p->host, p->quorum_port, p->id, "quorum"};
		e[n++] = (struct endpoint){p->host, p->election_port, p->id, "election"};
		if (p->client_port && !is_wildcard(p->client_host))
			e[n++] = (struct endpoint){p->client_host, p->client_port, p->id, "client"};
	}
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		for (size_t j = 0; j < i; j++) {
			if (e[i].port != e[j].port || strcasecmp(e[i].host, e[j].host) != 0)
				continue;
			char a[300];
			fmt_addr(a, sizeof(a), e[i].host, e[i].port);
			rc = errorf(cfg, -EINVAL,
				    "address %s is used twice: as the %s address of server.%" PRId64
				    " and as the %s address of server.%" PRId64,
				    a, e[j].what, e[j].id, e[i].what, e[i].id);
			break;
		}
	}
	free(e);
	return rc;
}

/* The own server.N line's client address becomes the client address
 * (QuorumPeerConfig.setupClientPort): a static clientPort[Address] that
 * says otherwise is an error, except that a wildcard static address only
 * has to agree on the port. */
static int setup_client_address(struct config *cfg, const struct config_peer *me)
{
	if (!me || !me->client_port)
		return 0;
	if (cfg->client_port_given && cfg->client_port != 0) {
		const char *sh = cfg->client_port_address;
		bool differ = is_wildcard(sh) ? cfg->client_port != me->client_port
					      : (cfg->client_port != me->client_port ||
						 is_wildcard(me->client_host) ||
						 strcasecmp(sh, me->client_host) != 0);
		if (differ) {
			char a[300], b[300];
			fmt_addr(a, sizeof(a), sh, cfg->client_port);
			fmt_addr(b, sizeof(b), me->client_host, me->client_port);
			return errorf(cfg, -EINVAL,
				      "the client address of this server (id %" PRId64
				      ") is %s by clientPort/clientPortAddress but %s by its server.%" PRId64
				      " line: remove one or make them agree",
				      cfg->my_id, a, b, cfg->my_id);
		}
	}
	cfg->client_port = me->client_port;
	if (is_wildcard(me->client_host)) {
		free(cfg->client_port_address);
		cfg->client_port_address = NULL;
	} else if (set_str(&cfg->client_port_address, me->client_host)) {
		return -ENOMEM;
	}
	return 0;
}

/* Membership rules of QuorumPeerConfig.parseDynamicConfig, setupPeerType
 * and checkValidity, plus zkfs's own (duplicate addresses). */
static int check_membership(struct config *cfg)
{
	size_t voters = 0, observers = 0;
	for (size_t i = 0; i < cfg->n_peers; i++) {
		if (cfg->peers[i].observer)
			observers++;
		else
			voters++;
	}
	if (voters == 0) {
		if (!cfg->standalone_enabled)
			return errorf(cfg, -EINVAL,
				      "standaloneEnabled=false needs at least one participant "
				      "server.N line");
		if (observers)
			return errorf(cfg, -EINVAL,
				      "observers without participants: at least one server.N line "
				      "must be a participant");
	} else if (voters == 1 && cfg->standalone_enabled) {
		if (observers)
			return errorf(cfg, -EINVAL,
				      "observers without a quorum: one participant with observers "
				      "needs standaloneEnabled=false (or more participants)");
		if (cfg->n_peers)
			warnf(cfg, "only one server.N line: running standalone (set "
				   "standaloneEnabled=false for a one-member ensemble)");
	} else if (voters <= 2) {
		warnf(cfg, "%zu participants: no server failure will be tolerated; an ensemble "
			   "needs at least 3",
		      voters);
	} else if (voters % 2 == 0) {
		warnf(cfg, "%zu participants: an even number tolerates no more failures than "
			   "%zu; consider an odd number",
		      voters, voters - 1);
	}
	int rc = check_duplicate_addresses(cfg);
	if (rc)
		return rc;

	const struct config_peer *me = config_self(cfg);
	if (cfg->my_id >= 0 && cfg->n_peers && !me)
		return errorf(cfg, -EINVAL, "myid %" PRId64 " has no server.%" PRId64 " line",
			      cfg->my_id, cfg->my_id);
	rc = setup_client_address(cfg, me);
	if (rc)
		return rc;
	bool role_observer = me && me->observer;
	if (cfg->peer_type_given && cfg->peer_observer != role_observer)
		warnf(cfg,
		      "peerType=%s does not match the role of server.%" PRId64
		      " (%s); using the server.N line",
		      cfg->peer_observer ? "observer" : "participant", cfg->my_id,
		      role_observer ? "observer" : "participant");
	cfg->peer_observer = role_observer;

	if (config_is_ensemble(cfg)) {
		if (!cfg->init_limit || !cfg->sync_limit)
			return errorf(cfg, -EINVAL,
				      "an ensemble (%zu server.N lines) needs initLimit and syncLimit",
				      cfg->n_peers);
		if (cfg->my_id < 0)
			return errorf(cfg, -EINVAL,
				      "an ensemble needs %s/myid holding this server's id",
				      cfg->data_dir);
	}
	return 0;
}

/* enforce.auth.*: as ZooKeeper's AuthenticationHelper, which stops the
 * server on a scheme no provider serves.  sessionRequireClientSASLAuth
 * replaces both keys with "enabled, sasl". */
static int check_enforce_auth(struct config *cfg)
{
	if (cfg->sasl_required) {
		free_list(cfg->enforce_schemes, cfg->n_enforce_schemes);
		cfg->enforce_schemes = NULL;
		cfg->n_enforce_schemes = 0;
		if (split_list("sasl", &cfg->enforce_schemes, &cfg->n_enforce_schemes))
			return -ENOMEM;
		cfg->enforce_auth = true;
	}
	if (!cfg->enforce_auth)
		return 0;
	if (cfg->n_enforce_schemes == 0)
		return errorf(cfg, -EINVAL,
			      "enforce.auth.enabled is true: enforce.auth.schemes must be configured");
	for (size_t i = 0; i < cfg->n_enforce_schemes; i++) {
		const char *sc = cfg->enforce_schemes[i];
		if (strcmp(sc, "ip") && strcmp(sc, "digest") &&
		    !(cfg->sasl_provider && !strcmp(sc, "sasl")))
			return errorf(cfg, -EINVAL,
				      "enforce.auth.schemes: authentication scheme '%s' is not "
				      "available%s",
				      sc,
				      !strcmp(sc, "sasl") ? " (add authProvider.1=org.apache.zookeeper."
							    "server.auth.SASLAuthenticationProvider)"
							  : "");
	}
	return 0;
}

int config_finish(struct config *cfg)
{
	if (!cfg->data_dir)
		return errorf(cfg, -EINVAL,
			      "dataDir is not set: add dataDir=/path/to/data to the configuration "
			      "file, or give --data DIR");
	if (!cfg->data_log_dir && set_str(&cfg->data_log_dir, cfg->data_dir))
		return -ENOMEM;
	if (cfg->min_session_timeout == -1)
		cfg->min_session_timeout = 2 * cfg->tick_time;
	if (cfg->max_session_timeout == -1)
		cfg->max_session_timeout = 20 * cfg->tick_time;
	if (cfg->min_session_timeout > cfg->max_session_timeout)
		return errorf(cfg, -EINVAL,
			      "minSessionTimeout (%d ms) must not be larger than maxSessionTimeout "
			      "(%d ms)",
			      cfg->min_session_timeout, cfg->max_session_timeout);
	if (cfg->election_min_notify_ms > cfg->election_max_notify_ms)
		return errorf(cfg, -EINVAL,
			      "zkfs.electionMinNotifyMs (%d) must not be larger than "
			      "zkfs.electionMaxNotifyMs (%d)",
			      cfg->election_min_notify_ms, cfg->election_max_notify_ms);
	if (!cfg->four_lw && set_whitelist(cfg, "srvr"))
		return -ENOMEM;
	if ((cfg->secure_client_port >= 0 || cfg->port_unification) && !cfg->ssl_key_store)
		return errorf(cfg, -EINVAL,
			      "%s needs a key store: set ssl.keyStore.location (and "
			      "ssl.trustStore.location for client certificates)",
			      cfg->secure_client_port >= 0 ? "secureClientPort" : "client.portUnification");
	if (cfg->ssl_ocsp)
		return errorf(cfg, -EINVAL,
			      "ssl.ocsp=true is not supported by zkfs-server; use ssl.crl=true with the "
			      "CRLs in the trust store file");
	int rc = check_enforce_auth(cfg);
	if (rc)
		return rc;
	if (cfg->dynamic_config_file && (rc = load_dynamic(cfg)))
		return rc;
	if ((rc = read_myid(cfg)))
		return rc;
	return check_membership(cfg);
}

/* ------------------------------------------------------------------ */
/* Command line                                                        */

void config_usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s CONFIGFILE\n"
		"       %s --port N --data DIR [--address ADDR] [--log-dir DIR] [KEY=VALUE...]\n"
		"       %s --config FILE [--port N] [--data DIR] [--address ADDR] [KEY=VALUE...]\n"
		"\n"
		"zkfs-server, a ZooKeeper-compatible coordination server.\n"
		"\n"
		"  CONFIGFILE, --config FILE  a zoo.cfg (key=value lines, as Apache ZooKeeper's)\n"
		"  --port N          client port (clientPort; 0 = any free port)\n"
		"  --data DIR        snapshots and myid (dataDir)\n"
		"  --log-dir DIR     transaction log (dataLogDir, default: the --data DIR)\n"
		"  --address ADDR    listen address (clientPortAddress, default all)\n"
		"  KEY=VALUE         any zoo.cfg key, e.g. tickTime=500 4lw.commands.whitelist=*\n"
		"  -DKEY=VALUE       a Java system property as ZooKeeper takes it (also read\n"
		"                    from SERVER_JVMFLAGS); zoo.cfg lines override these\n"
		"  --help            this text\n"
		"  --version         version\n"
		"\n"
		"Options override the file.  See docs/server.md for every key.\n",
		prog, prog, prog);
}

/* ------------------------------------------------------------------ */
/* Java system properties: -Dkey=value and SERVER_JVMFLAGS             */

static bool known_key(const char *key)
{
	if (is_auth_provider_key(key))
		return true;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(keys[i].name, key))
			return true;
	return false;
}

/* Keeps "key=value" in cfg->sysprops (a later one with the same key
 * replaces it, as a JVM does). */
static int remember_property(struct config *cfg, const char *kv, size_t klen)
{
	char *s = strdup(kv);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_sysprops; i++) {
		if (!strncmp(cfg->sysprops[i], kv, klen) &&
		    (cfg->sysprops[i][klen] == '=' || !cfg->sysprops[i][klen])) {
			free(cfg->sysprops[i]);
			cfg->sysprops[i] = s;
			return 0;
		}
	}
	char **nv = realloc(cfg->sysprops, (cfg->n_sysprops + 1) * sizeof(*nv));
	if (!nv) {
		free(s);
		return -ENOMEM;
	}
	cfg->sysprops = nv;
	cfg->sysprops[cfg->n_sysprops++] = s;
	return 0;
}

/* One property, "key=value" ("key" alone: empty value, as java -Dkey).
 * A zoo.cfg key, or "zookeeper." + a zoo.cfg key, is applied as that key;
 * anything else (JVM and logging properties) is only remembered. */
static int set_property(struct config *cfg, const char *kv, const char *name)
{
	size_t kl = strcspn(kv, "=");
	if (kl == 0)
		return errorf(cfg, -EINVAL, "%s: -D%s: no property name", name, kv);
	char *key = strndup(kv, kl);
	if (!key)
		return -ENOMEM;
	int rc = remember_property(cfg, kv, kl);
	const char *k = key;
	if (!known_key(k) && !strncmp(k, "zookeeper.", 10) && known_key(k + 10))
		k += 10;
	if (!rc && known_key(k))
		rc = config_set(cfg, k, kv[kl] ? kv + kl + 1 : "", name, 0);
	free(key);
	return rc;
}

/* The -D words of a JVM command line as zkServer.sh users write
 * SERVER_JVMFLAGS: words split on blanks, '...' and "..." quote. */
static int apply_jvm_flags(struct config *cfg, const char *flags, const char *name)
{
	char *word = malloc(strlen(flags) + 1);
	if (!word)
		return -ENOMEM;
	const char *p = flags;
	int rc = 0;
	while (!rc) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		char *o = word, quote = 0;
		for (; *p && (quote || !isspace((unsigned char)*p)); p++) {
			if (quote && *p == quote)
				quote = 0;
			else if (!quote && (*p == '\'' || *p == '"'))
				quote = *p;
			else
				*o++ = *p;
		}
		*o = '\0';
		if (!strncmp(word, "-D", 2))
			rc = set_property(cfg, word + 2, name);
	}
	free(word);
	return rc;
}

/* "--opt=value" or "--opt value" */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t l = strlen(name);
	const char *a = argv[*i];
	if (strncmp(a, name, l) != 0)
		return NULL;
	if (a[l] == '=')
		return a + l + 1;
	if (a[l] != '\0')
		return NULL;
	if (*i + 1 >= argc)
		return "";
	return argv[++*i];
}

static int from_args(struct config *cfg, int argc, char **argv, FILE *out)
{
	const char *prog = argc > 0 ? argv[0] : "zkfs-server";
	config_free(cfg); /* also (re)initialises */
	const char *file = NULL;
	bool any = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			config_usage(out, prog);
			return 1;
		}
		if (!strcmp(a, "--version")) {
			fprintf(out, "zkfs-server %s\n",
#ifdef ZKFS_VERSION
				ZKFS_VERSION
#else
				"0.1"
#endif
			);
			return 1;
		}
		const char *v;
		int j = i;
		if ((v = opt_value(argc, argv, &j, "--config"))) {
			file = v;
			i = j;
		} else if (opt_value(argc, argv, &j, "--port") ||
			   opt_value(argc, argv, &j, "--data") ||
			   opt_value(argc, argv, &j, "--log-dir") ||
			   opt_value(argc, argv, &j, "--address")) {
			i = j; /* skip the option's value */
		} else if (a[0] != '-' && !strchr(a, '=')) {
			if (file)
				return errorf(cfg, -EINVAL,
					      "more than one configuration file given (%s, %s)",
					      file, a);
			file = a;
		}
	}
	/* system properties first: the file's lines override them */
	const char *jvm = getenv("SERVER_JVMFLAGS");
	if (jvm && *jvm) {
		int rc = apply_jvm_flags(cfg, jvm, "SERVER_JVMFLAGS");
		if (rc)
			return rc;
	}
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "-D", 2) != 0)
			continue;
		int rc = set_property(cfg, argv[i] + 2, "command line");
		if (rc)
			return rc;
		any = true;
	}
	if (file && *file) {
		int rc = config_load_file(cfg, file);
		if (rc)
			return rc;
		any = true;
	} else if (file) {
		return errorf(cfg, -EINVAL, "--config needs a file name");
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		const char *key = NULL;
		if ((v = opt_value(argc, argv, &i, "--config")))
			continue;
		if ((v = opt_value(argc, argv, &i, "--port")))
			key = "clientPort";
		else if ((v = opt_value(argc, argv, &i, "--data")))
			key = "dataDir";
		else if ((v = opt_value(argc, argv, &i, "--log-dir")))
			key = "dataLogDir";
		else if ((v = opt_value(argc, argv, &i, "--address")))
			key = "clientPortAddress";
		if (key) {
			if (!*v)
				return errorf(cfg, -EINVAL, "%s needs a value", a);
			int rc = config_set(cfg, key, v, "command line", 0);
			if (rc)
				return rc;
			any = true;
			continue;
		}
		if (!strncmp(a, "-D", 2))
			continue; /* applied above */
		if (a[0] == '-')
			return errorf(cfg, -EINVAL, "unknown option %s (try --help)", a);
		const char *eq = strchr(a, '=');
		if (eq) {
			char *k = strndup(a, (size_t)(eq - a));
			if (!k)
				return -ENOMEM;
			int rc = config_set(cfg, trim(k), eq + 1, "command line", 0);
			free(k);
			if (rc)
				return rc;
			any = true;
		}
	}
	if (!any)
		return errorf(
		    cfg, -EINVAL,
		    "no configuration: give a zoo.cfg, or --port N --data DIR (try --help)");
	return config_finish(cfg);
}

int config_from_args(struct config *cfg, int argc, char **argv, FILE *out)
{
	int rc = from_args(cfg, argc, argv, out);
	if (rc < 0 && !cfg->error[0])
		errorf(cfg, rc, "%s", strerror(-rc)); /* e.g. out of memory */
	return rc;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */

void config_print_warnings(const struct config *cfg, FILE *out)
{
	for (size_t i = 0; i < cfg->n_warnings; i++)
		fprintf(out, "zkfs-server: warning: %s\n", cfg->warnings[i]);
}

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	if (b->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap * 2 + (size_t)n;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
}

/* One member as ZooKeeper prints it (QuorumServer.toString):
 * host:qport:eport:role[;chost:cport], IPv6 hosts in brackets, a port-only
 * client address as 0.0.0.0. */
static void sb_member(struct sbuf *b, const struct config_peer *p)
{
	bool v6 = strchr(p->host, ':') != NULL;
	sb_printf(b, "server.%" PRId64 "=%s%s%s:%d:%d:%s", p->id, v6 ? "[" : "", p->host,
		  v6 ? "]" : "", p->quorum_port, p->election_port,
		  p->observer ? "observer" : "participant");
	if (p->client_port) {
		const char *h = p->client_host ? p->client_host : "0.0.0.0";
		bool cv6 = strchr(h, ':') != NULL;
		sb_printf(b, ";%s%s%s:%d", cv6 ? "[" : "", h, cv6 ? "]" : "", p->client_port);
	}
}

/* QuorumMaj.toString: members joined by '\n', then "version=<hex>". */
static void sb_membership(struct sbuf *b, const struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_peers; i++) {
		sb_member(b, &cfg->peers[i]);
		sb_printf(b, "\n");
	}
	sb_printf(b, "version=%" PRIx64, cfg->config_version);
}

char *config_membership_text(const struct config *cfg)
{
	struct sbuf b = {.cap = 256};
	b.p = malloc(b.cap);
	if (!b.p)
		return NULL;
	b.p[0] = '\0';
	sb_membership(&b, cfg);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

char *config_format(const struct config *cfg)
{
	bool ensemble = config_is_ensemble(cfg);
	const struct config_peer *me = config_self(cfg);
	struct sbuf b = {.cap = 1024};
	b.p = malloc(b.cap);
	if (!b.p)
		return NULL;
	b.p[0] = '\0';
	/* first the keys Apache ZooKeeper's `conf` prints, in its order */
	sb_printf(&b, "clientPort=%d\n", cfg->client_port);
	sb_printf(&b, "secureClientPort=%d\n", cfg->secure_client_port);
	sb_printf(&b, "dataDir=%s\n", cfg->data_dir ? cfg->data_dir : "");
	sb_printf(&b, "dataLogDir=%s\n", cfg->data_log_dir ? cfg->data_log_dir : "");
	sb_printf(&b, "tickTime=%d\n", cfg->tick_time);
	sb_printf(&b, "maxClientCnxns=%d\n", cfg->max_client_cnxns);
	sb_printf(&b, "minSessionTimeout=%d\n", cfg->min_session_timeout);
	sb_printf(&b, "maxSessionTimeout=%d\n", cfg->max_session_timeout);
	sb_printf(&b, "clientPortListenBacklog=%d\n", cfg->client_port_listen_backlog);
	sb_printf(&b, "serverId=%" PRId64 "\n", cfg->my_id > 0 ? cfg->my_id : 0);
	if (ensemble) {
		/* QuorumZooKeeperServer.dumpConf, up to its membership block,
		 * which comes last (below) so that every other line stays
		 * key=value; peerType is LearnerType's ordinal */
		sb_printf(&b, "initLimit=%d\n", cfg->init_limit);
		sb_printf(&b, "syncLimit=%d\n", cfg->sync_limit);
		sb_printf(&b, "electionAlg=%d\n", cfg->election_alg);
		sb_printf(&b, "electionPort=%d\n", me ? me->election_port : 0);
		sb_printf(&b, "quorumPort=%d\n", me ? me->quorum_port : 0);
		sb_printf(&b, "peerType=%d\n", cfg->peer_observer ? 1 : 0);
	}
	/* then the rest of zkfs's effective configuration */
	sb_printf(&b, "clientPortAddress=%s\n",
		  cfg->client_port_address ? cfg->client_port_address : "0.0.0.0");
	sb_printf(&b, "maxCnxns=%d\n", cfg->max_cnxns);
	sb_printf(&b, "globalOutstandingLimit=%d\n", cfg->global_outstanding_limit);
	sb_printf(&b, "jute.maxbuffer=%d\n", cfg->jute_maxbuffer);
	sb_printf(&b, "snapCount=%d\n", cfg->snap_count);
	sb_printf(&b, "snapSizeLimitInKb=%" PRId64 "\n", cfg->snap_size_limit_kb);
	sb_printf(&b, "txnLogSizeLimitInKb=%" PRId64 "\n", cfg->txn_log_size_limit_kb);
	sb_printf(&b, "preAllocSize=%" PRId64 "\n", cfg->prealloc_kb);
	sb_printf(&b, "forceSync=%s\n", cfg->force_sync ? "yes" : "no");
	sb_printf(&b, "fsync.warningthresholdms=%d\n", cfg->fsync_warning_ms);
	sb_printf(&b, "autopurge.snapRetainCount=%d\n", cfg->autopurge_snap_retain_count);
	sb_printf(&b, "autopurge.purgeInterval=%d\n", cfg->autopurge_purge_interval);
	sb_printf(&b, "4lw.commands.whitelist=%s", cfg->four_lw ? "" : "srvr");
	for (size_t i = 0; i < cfg->n_four_lw; i++)
		sb_printf(&b, "%s%s", i ? "," : "", cfg->four_lw[i]);
	sb_printf(&b, "\n");
	sb_printf(&b, "zookeeper.extendedTypesEnabled=%s\n",
		  cfg->extended_types ? "true" : "false");
	/* the digest is a password hash: say whether it is set, not what it is */
	sb_printf(&b, "superDigest=%s\n", cfg->super_digest ? "(set)" : "");
	sb_printf(&b, "localSessionsEnabled=%s\n", cfg->local_sessions ? "true" : "false");
	/* SASL: where the JAAS file is, never what it holds */
	if (cfg->jaas_file)
		sb_printf(&b, "java.security.auth.login.config=%s\n", cfg->jaas_file);
	if (cfg->sasl_section)
		sb_printf(&b, "zookeeper.sasl.serverconfig=%s\n", cfg->sasl_section);
	if (cfg->sasl_provider)
		sb_printf(&b, "authProvider.sasl=org.apache.zookeeper.server.auth."
			      "SASLAuthenticationProvider\n");
	if (cfg->enforce_auth) {
		sb_printf(&b, "enforce.auth.enabled=true\nenforce.auth.schemes=");
		for (size_t i = 0; i < cfg->n_enforce_schemes; i++)
			sb_printf(&b, "%s%s", i ? "," : "", cfg->enforce_schemes[i]);
		sb_printf(&b, "\n");
	}
	if (cfg->sasl_super_user)
		sb_printf(&b, "superUser=%s\n", cfg->sasl_super_user);
	sb_printf(&b, "znode.container.checkIntervalMs=%d\n", cfg->container_check_interval_ms);
	sb_printf(&b, "znode.container.maxPerMinute=%d\n", cfg->container_max_per_minute);
	if (cfg->secure_client_port >= 0 || cfg->port_unification) {
		/* where the keys are, never their passwords */
		static const char *const auth[] = {"none", "want", "need"};
		if (cfg->secure_client_port_address)
			sb_printf(&b, "secureClientPortAddress=%s\n", cfg->secure_client_port_address);
		sb_printf(&b, "client.portUnification=%s\n", cfg->port_unification ? "true" : "false");
		sb_printf(&b, "client.certReload=%s\n", cfg->cert_reload ? "true" : "false");
		sb_printf(&b, "ssl.keyStore.location=%s\n", cfg->ssl_key_store ? cfg->ssl_key_store : "");
		sb_printf(&b, "ssl.trustStore.location=%s\n",
			  cfg->ssl_trust_store ? cfg->ssl_trust_store : "");
		sb_printf(&b, "ssl.clientAuth=%s\n", auth[cfg->ssl_client_auth]);
	}
	if (cfg->disable_add_watch) /* a test switch: shown only when on */
		sb_printf(&b, "zkfs.disableAddWatch=true\n");
	if (cfg->snapshot_slice_nodes) /* a test switch: shown only when set */
		sb_printf(&b, "zkfs.snapshotSliceNodes=%d\n", cfg->snapshot_slice_nodes);
	if (ensemble) {
		sb_printf(&b, "standaloneEnabled=%s\n",
			  cfg->standalone_enabled ? "true" : "false");
		sb_printf(&b, "reconfigEnabled=%s\n", cfg->reconfig_enabled ? "true" : "false");
		sb_printf(&b, "quorumListenOnAllIPs=%s\n",
			  cfg->quorum_listen_on_all_ips ? "true" : "false");
		if (cfg->dynamic_config_file)
			sb_printf(&b, "dynamicConfigFile=%s\n", cfg->dynamic_config_file);
		sb_printf(&b, "zkfs.electionFinalizeMs=%d\n", cfg->election_finalize_ms);
		sb_printf(&b, "zkfs.electionMinNotifyMs=%d\n", cfg->election_min_notify_ms);
		sb_printf(&b, "zkfs.electionMaxNotifyMs=%d\n", cfg->election_max_notify_ms);
		sb_printf(&b, "zkfs.commitLogCount=%d\n", cfg->commit_log_count);
		/* Apache ends `conf` with "membership: " and QuorumMaj.toString
		 * without a final newline; zkfs adds one (lines end in '\n') */
		sb_printf(&b, "membership: \n");
		sb_membership(&b, cfg);
		sb_printf(&b, "\n");
		goto out;
	}
	/* standalone: as before the ensemble work */
	sb_printf(&b, "initLimit=%d\n", cfg->init_limit);
	sb_printf(&b, "syncLimit=%d\n", cfg->sync_limit);
	sb_printf(&b, "electionAlg=%d\n", cfg->election_alg);
	sb_printf(&b, "standaloneEnabled=%s\n", cfg->standalone_enabled ? "true" : "false");
	sb_printf(&b, "reconfigEnabled=%s\n", cfg->reconfig_enabled ? "true" : "false");
	for (size_t i = 0; i < cfg->n_peers; i++) {
		const struct config_peer *p = &cfg->peers[i];
		bool v6 = strchr(p->host, ':') != NULL;
		sb_printf(&b, "server.%" PRId64 "=%s%s%s:%d:%d:%s", p->id, v6 ? "[" : "", p->host,
			  v6 ? "]" : "", p->quorum_port, p->election_port,
			  p->observer ? "observer" : "participant");
		if (p->client_port) {
			if (p->client_host)
				sb_printf(&b, ";%s:%d\n", p->client_host, p->client_port);
			else
				sb_printf(&b, ";%d\n", p->client_port);
		} else {
			sb_printf(&b, "\n");
		}
	}
out:
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

bool config_4lw_allowed(const struct config *cfg, const char *cmd)
{
	if (!cfg->four_lw)
		return !strcmp(cmd, "srvr");
	for (size_t i = 0; i < cfg->n_four_lw; i++)
		if (!strcmp(cfg->four_lw[i], "*") || !strcmp(cfg->four_lw[i], cmd))
			return true;
	return false;
}

int config_clamp_session_timeout(const struct config *cfg, int requested_ms)
{
	if (requested_ms < cfg->min_session_timeout)
		return cfg->min_session_timeout;
	if (requested_ms > cfg->max_session_timeout)
		return cfg->max_session_timeout;
	return requested_ms;
}
