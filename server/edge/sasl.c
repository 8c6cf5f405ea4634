/*
 * sasl.c — SASL (opcode 102) for zkfs-server on Cyrus SASL; see sasl.h
 * for what ZooKeeper behaviour this follows.
 *
 * The exchange of one connection:
 *
 *   (none) ─first token─► sasl_server_new + sasl_server_start ─┬─ CONTINUE ─► STARTED
 *   STARTED ─token─► sasl_server_step ──────────────────────────┤
 *                                                              ├─ OK ─► DONE (identity set)
 *                                                              └─ error ─► FAILED
 *   DONE/FAILED ─token─► FAILED (ZooKeeper's SaslServer refuses to go on)
 *
 * DIGEST-MD5 secrets come from the JAAS section through an auxprop plugin
 * ("zkfs-jaas") registered in-process with sasl_auxprop_add_plugin; the
 * getopt callback makes it the only auxprop Cyrus consults and limits
 * mech_list to the one mechanism the JAAS section chose.  GSSAPI reads
 * its acceptor keys from the keyTab of the Krb5LoginModule entry
 * (KRB5_KTNAME, set before Cyrus initialises).
 *
 * Nothing here logs a password or a token: failures say which connection
 * and Cyrus's reason, once per LOG_EVERY_MS per server (struct
 * sasl_ratelog) with a count of the ones not shown.
 */
#include "sasl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include "jaas.h"
#include "slog.h"

#define LOG_EVERY_MS 10000
#define DIGEST_SERVICE "zookeeper"
#define DIGEST_SERVER_NAME "zk-sasl-md5" /* ZooKeeper's hard-coded DIGEST-MD5 host */

enum xstate { X_STARTED, X_DONE, X_FAILED };

struct zsasl {
	sasl_conn_t *conn;
	enum xstate state;
	char user[256];
};

/* Cyrus is initialised once per process and never shut down: on
 * sasl_server_done it unloads its plugins, and memory one of them allocates
 * at load time (Debian's 2.1.28) is then lost; kept loaded, it stays
 * reachable. */
static bool cyrus_ready;

/* Process-wide: Cyrus itself is. */
static struct {
	bool enabled; /* a usable JAAS section was found */
	char mech[16];
	char service[128];
	char host[256];
	char realm[256]; /* GSSAPI: the realm of the server's principal */
	bool remove_host, remove_realm;
	char **users, **passwords; /* DIGEST-MD5 users of the JAAS section */
	size_t nusers;
} g;

static char plugin_name[] = "zkfs-jaas";

/* ---------------------------------------------------------------- auxprop: JAAS users */

static const char *password_of(const char *user, unsigned ulen)
{
	for (size_t i = 0; i < g.nusers; i++)
		if (strlen(g.users[i]) == ulen && !memcmp(g.users[i], user, ulen))
			return g.passwords[i];
	return NULL;
}

/* Cyrus asks for the properties of an authentication id ("*userPassword")
 * or of an authorization id (no '*'): only the former are served. */
static int jaas_lookup(void *glob, sasl_server_params_t *sp, unsigned flags, const char *user,
		       unsigned ulen)
{
	(void)glob;
	if (!sp || !user || (flags & SASL_AUXPROP_AUTHZID))
		return SASL_OK;
	const char *pw = password_of(user, ulen);
	if (!pw) {
		/* canonicalisation may have added "@realm" */
		const char *at = memchr(user, '@', ulen);
		if (at)
			pw = password_of(user, (unsigned)(at - user));
	}
	if (!pw)
		return SASL_NOUSER;
	const struct propval *want = sp->utils->prop_get(sp->propctx);
	if (!want)
		return SASL_NOMEM;
	for (const struct propval *p = want; p->name; p++) {
		if (p->name[0] != '*' || strcmp(p->name + 1, SASL_AUX_PASSWORD_PROP))
			continue;
		if (p->values && !(flags & SASL_AUXPROP_OVERRIDE))
			continue;
		if (p->values)
			sp->utils->prop_erase(sp->propctx, p->name);
		sp->utils->prop_set(sp->propctx, p->name, pw, (unsigned)strlen(pw));
	}
	return SASL_OK;
}

static sasl_auxprop_plug_t jaas_plug = {
    .auxprop_lookup = jaas_lookup,
    .name = plugin_name,
};

static int jaas_auxprop_init(const sasl_utils_t *utils, int max_version, int *out_version,
			     sasl_auxprop_plug_t **plug, const char *name)
{
	(void)utils;
	(void)name;
	if (max_version < SASL_AUXPROP_PLUG_VERSION)
		return SASL_BADVERS;
	*out_version = SASL_AUXPROP_PLUG_VERSION;
	*plug = &jaas_plug;
	return SASL_OK;
}

/* ---------------------------------------------------------------- Cyrus callbacks */

static int cb_getopt(void *ctx, const char *plugin, const char *option, const char **result,
		     unsigned *len)
{
	(void)ctx;
	(void)plugin;
	const char *v = NULL;
	if (!strcmp(option, "auxprop_plugin"))
		v = plugin_name;
	else if (!strcmp(option, "mech_list"))
		v = g.mech;
	else if (!strcmp(option, "pwcheck_method"))
		v = "auxprop";
	if (!v)
		return SASL_FAIL;
	*result = v;
	if (len)
		*len = (unsigned)strlen(v);
	return SASL_OK;
}

static int cb_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	/* Cyrus's own lines (no secrets: it never logs passwords) at debug */
	if (level <= SASL_LOG_WARN)
		slog_debug("sasl", "cyrus: %s", msg ? msg : "");
	return SASL_OK;
}

/* ZooKeeper authorizes every authenticated client as its own
 * authentication id, whatever authorization id it asked for. */
static int cb_proxy(sasl_conn_t *conn, void *ctx, const char *requested_user, unsigned rlen,
		    const char *auth_identity, unsigned alen, const char *def_realm, unsigned urlen,
		    struct propctx *propctx)
{
	(void)conn, (void)ctx, (void)requested_user, (void)rlen, (void)auth_identity;
	(void)alen, (void)def_realm, (void)urlen, (void)propctx;
	return SASL_OK;
}

/* Cyrus stores every callback as int (*)(void); the detour through
 * void (*)(void) says the cast is meant. */
#define CB(fn) ((int (*)(void))(void (*)(void))(fn))

static const sasl_callback_t callbacks[] = {
    {SASL_CB_GETOPT, CB(cb_getopt), NULL},
    {SASL_CB_LOG, CB(cb_log), NULL},
    {SASL_CB_PROXY_POLICY, CB(cb_proxy), NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

/* ---------------------------------------------------------------- set-up */

static int errf(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static void forget_users(void)
{
	for (size_t i = 0; i < g.nusers; i++) {
		memset(g.passwords[i], 0, strlen(g.passwords[i]));
		free(g.passwords[i]);
		free(g.users[i]);
	}
	free(g.users);
	free(g.passwords);
	g.users = g.passwords = NULL;
	g.nusers = 0;
}

static int add_user(const char *name, const char *pw)
{
	char **nu = realloc(g.users, (g.nusers + 1) * sizeof(*nu));
	if (!nu)
		return -ENOMEM;
	g.users = nu;
	char **np = realloc(g.passwords, (g.nusers + 1) * sizeof(*np));
	if (!np)
		return -ENOMEM;
	g.passwords = np;
	g.users[g.nusers] = strdup(name);
	g.passwords[g.nusers] = strdup(pw);
	if (!g.users[g.nusers] || !g.passwords[g.nusers]) {
		free(g.users[g.nusers]);
		free(g.passwords[g.nusers]);
		return -ENOMEM;
	}
	g.nusers++;
	return 0;
}

/* Reads the section: a Krb5LoginModule principal (GSSAPI) or the
 * user_NAME options (DIGEST-MD5), as ZooKeeper's SecurityUtils and
 * SaslServerCallbackHandler read them. */
static int read_section(const struct jaas_section *sec, const char *file, char *err, size_t errlen)
{
	const char *principal = NULL, *keytab = NULL;
	for (size_t i = 0; i < sec->nentries; i++) {
		const struct jaas_entry *e = &sec->entries[i];
		if (jaas_module_is(e, "Krb5LoginModule") && jaas_option(e, "principal")) {
			principal = jaas_option(e, "principal");
			keytab = jaas_option(e, "keyTab");
		}
		for (size_t k = 0; k < e->nopts; k++)
			if (!strncmp(e->opts[k].key, "user_", 5) && e->opts[k].key[5] &&
			    add_user(e->opts[k].key + 5, e->opts[k].value) < 0)
				return -ENOMEM;
	}
	if (principal) {
		/* "service/host@REALM" */
		const char *slash = strchr(principal, '/');
		const char *at = strchr(principal, '@');
		if (!slash || (at && at < slash))
			return errf(err, errlen, -EINVAL,
				    "%s: section '%s': principal '%s' is not service/host@REALM",
				    file, sec->name, principal);
		size_t sl = (size_t)(slash - principal);
		size_t hl = at ? (size_t)(at - slash - 1) : strlen(slash + 1);
		if (sl == 0 || hl == 0 || sl >= sizeof(g.service) || hl >= sizeof(g.host))
			return errf(err, errlen, -EINVAL,
				    "%s: section '%s': principal '%s' is not service/host@REALM",
				    file, sec->name, principal);
		memcpy(g.service, principal, sl);
		g.service[sl] = 0;
		memcpy(g.host, slash + 1, hl);
		g.host[hl] = 0;
		snprintf(g.realm, sizeof(g.realm), "%s", at ? at + 1 : "");
		snprintf(g.mech, sizeof(g.mech), "GSSAPI");
		if (keytab && setenv("KRB5_KTNAME", keytab, 1) < 0)
			return -errno;
		return 0;
	}
	if (g.nusers == 0)
		return errf(err, errlen, -EINVAL,
			    "%s: section '%s' has neither user_NAME=\"password\" options "
			    "(DIGEST-MD5) nor a Krb5LoginModule principal (GSSAPI)",
			    file, sec->name);
	snprintf(g.mech, sizeof(g.mech), "DIGEST-MD5");
	snprintf(g.service, sizeof(g.service), DIGEST_SERVICE);
	snprintf(g.host, sizeof(g.host), DIGEST_SERVER_NAME);
	return 0;
}

int sasl_edge_init(const struct config *cfg, char *err, size_t errlen)
{
	err[0] = 0;
	if (!cfg->jaas_file) {
		if (cfg->sasl_section)
			return errf(err, errlen, -EINVAL,
				    "zookeeper.sasl.serverconfig is set but no JAAS file is "
				    "(java.security.auth.login.config)");
		return 0;
	}
	if (g.enabled)
		return errf(err, errlen, -EALREADY, "SASL is already set up in this process");
	const char *section = cfg->sasl_section ? cfg->sasl_section : "Server";
	struct jaas j;
	int rc = jaas_load(cfg->jaas_file, &j, err, errlen);
	if (rc < 0)
		return rc;
	const struct jaas_section *sec = jaas_section(&j, section);
	if (!sec) {
		jaas_free(&j);
		return errf(err, errlen, -ENOENT, "No JAAS configuration section named '%s' was found in '%s'",
			    section, cfg->jaas_file);
	}
	rc = read_section(sec, cfg->jaas_file, err, errlen);
	jaas_free(&j);
	if (rc < 0)
		goto fail;
	g.remove_host = cfg->krb_remove_host;
	g.remove_realm = cfg->krb_remove_realm;
	if (!cyrus_ready) {
		int sr = sasl_server_init(callbacks, "zkfs-server");
		if (sr == SASL_OK)
			sr = sasl_auxprop_add_plugin(plugin_name, jaas_auxprop_init);
		if (sr != SASL_OK) {
			rc = errf(err, errlen, -EIO, "Cyrus SASL failed to start: %s",
				  sasl_errstring(sr, NULL, NULL));
			goto fail;
		}
		cyrus_ready = true;
	}
	/* the mechanism's plugin must be there (libsasl2-modules for
	 * DIGEST-MD5, libsasl2-modules-gssapi-mit for GSSAPI) */
	const char **mechs = sasl_global_listmech();
	bool have = false;
	for (size_t i = 0; mechs && mechs[i]; i++)
		if (!strcmp(mechs[i], g.mech))
			have = true;
	if (!have) {
		rc = errf(err, errlen, -ENOENT,
			  "Cyrus SASL has no %s plugin (install %s)", g.mech,
			  strcmp(g.mech, "GSSAPI") ? "libsasl2-modules"
						   : "libsasl2-modules-gssapi-mit");
		goto fail;
	}
	g.enabled = true;
	slog_info("sasl", "SASL %s enabled from section '%s' of %s%s%s", g.mech, section,
		  cfg->jaas_file, strcmp(g.mech, "GSSAPI") ? "" : " as ",
		  strcmp(g.mech, "GSSAPI") ? "" : g.service);
	return 0;
fail:
	sasl_edge_done();
	return rc;
}

void sasl_edge_done(void)
{
	forget_users();
	memset(&g, 0, sizeof(g));
}

bool sasl_edge_enabled(void)
{
	return g.enabled;
}

const char *sasl_edge_mech(void)
{
	return g.enabled ? g.mech : "";
}

/* ---------------------------------------------------------------- identities */

int sasl_identity(const char *authid, bool remove_host, bool remove_realm, char *out, size_t cap)
{
	/* KerberosName: "primary[/host]@REALM", or a simple name without '@' */
	const char *at = strchr(authid, '@');
	const char *slash = strchr(authid, '/');
	if (slash && at && slash > at)
		slash = NULL;
	if (!at)
		slash = NULL; /* ZooKeeper: a name without a realm is simple as a whole */
	size_t pl = slash ? (size_t)(slash - authid) : at ? (size_t)(at - authid) : strlen(authid);
	int n = snprintf(out, cap, "%.*s", (int)pl, authid);
	if (slash && !remove_host)
		n += snprintf(out + n, cap > (size_t)n ? cap - (size_t)n : 0, "/%.*s",
			      (int)(at - slash - 1), slash + 1);
	if (at && !remove_realm)
		n += snprintf(out + n, cap > (size_t)n ? cap - (size_t)n : 0, "%s", at);
	return (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

/* ---------------------------------------------------------------- one exchange */

/* Where the rate limit and the time of one step live. */
struct logctx {
	struct sasl_ratelog *rl;
	uint64_t now_ms;
	const char *peer;
};

static void log_failure(const struct logctx *lc, const char *why)
{
	struct sasl_ratelog *rl = lc->rl;
	if (rl->last_ms && lc->now_ms - rl->last_ms < LOG_EVERY_MS) {
		rl->unlogged++;
		return;
	}
	if (rl->unlogged)
		slog_warn("sasl", "%s: SASL authentication failed (%s), closing (%llu more "
			  "failures not logged)", lc->peer, why, (unsigned long long)rl->unlogged);
	else
		slog_warn("sasl", "%s: SASL authentication failed (%s), closing", lc->peer, why);
	rl->last_ms = lc->now_ms ? lc->now_ms : 1;
	rl->unlogged = 0;
}

static enum sasl_step failed(struct zsasl *x, const struct logctx *lc, const char *why)
{
	x->state = X_FAILED;
	log_failure(lc, why);
	return SASL_STEP_FAILED;
}

enum sasl_step sasl_edge_step(struct zsasl **st, const char *peer, const uint8_t *in,
			      int32_t inlen, struct sasl_ratelog *rl, uint64_t now_ms,
			      const uint8_t **out, int32_t *outlen, const char **user)
{
	const struct logctx lc = {rl, now_ms, peer};
	*out = NULL;
	*outlen = -1;
	*user = NULL;
	if (!g.enabled) {
		log_failure(&lc, "no JAAS configuration: SASL is not enabled on this server");
		return SASL_STEP_FAILED;
	}
	struct zsasl *x = *st;
	const char *sout = NULL;
	unsigned soutlen = 0;
	int sr;
	if (inlen < 0)
		inlen = 0;
	if (!x) {
		x = calloc(1, sizeof(*x));
		if (!x) {
			log_failure(&lc, "out of memory");
			return SASL_STEP_FAILED;
		}
		*st = x;
		/* SUCCESS_DATA: ZooKeeper sends the last token (DIGEST-MD5 rspauth)
		 * with the success, no extra round trip */
		sr = sasl_server_new(g.service, g.host, NULL, NULL, NULL, NULL, SASL_SUCCESS_DATA,
				     &x->conn);
		if (sr != SASL_OK)
			return failed(x, &lc, sasl_errstring(sr, NULL, NULL));
		x->state = X_STARTED;
		sr = sasl_server_start(x->conn, g.mech, inlen ? (const char *)in : NULL,
				       (unsigned)inlen, &sout, &soutlen);
	} else if (x->state == X_STARTED) {
		sr = sasl_server_step(x->conn, (const char *)in, (unsigned)inlen, &sout, &soutlen);
	} else {
		return failed(x, &lc,
			      x->state == X_DONE ? "a token after the exchange completed"
						 : "a token after a failed exchange");
	}
	if (sr == SASL_CONTINUE) {
		*out = (const uint8_t *)sout;
		*outlen = sout ? (int32_t)soutlen : -1;
		return SASL_STEP_CONTINUE;
	}
	if (sr != SASL_OK) {
		/* errdetail names the reason ("no secret in database", "client
		 * response doesn't match what we generated"), never a secret */
		const char *why = sasl_errdetail(x->conn);
		return failed(x, &lc, why && *why ? why : sasl_errstring(sr, NULL, NULL));
	}
	const char *authid = NULL;
	if (sasl_getprop(x->conn, SASL_AUTHUSER, (const void **)&authid) != SASL_OK || !authid ||
	    !*authid)
		return failed(x, &lc, "no authentication id");
	char id[sizeof(x->user)];
	snprintf(id, sizeof(id), "%s", authid);
	if (strcmp(g.mech, "GSSAPI")) {
		/* DIGEST-MD5: the user name as the client gave it (ZooKeeper's
		 * KerberosName of it is the same simple name) */
		char *at = strchr(id, '@');
		if (at && !strcmp(at + 1, g.host))
			*at = 0;
	} else if (!strchr(id, '@') && g.realm[0]) {
		/* Cyrus drops the realm of principals of the default realm;
		 * Java's GSSAPI keeps it: put back the realm (the server
		 * principal's, which is the default realm of a sane set-up) */
		size_t l = strlen(id), realm_len = strlen(g.realm);
		if (l + 1 + realm_len >= sizeof(id))
			return failed(x, &lc, "identity too long");
		id[l] = '@';
		memcpy(id + l + 1, g.realm, realm_len + 1);
	}
	if (sasl_identity(id, g.remove_host, g.remove_realm, x->user, sizeof(x->user)) < 0)
		return failed(x, &lc, "identity too long");
	x->state = X_DONE;
	*out = (const uint8_t *)sout;
	*outlen = sout ? (int32_t)soutlen : -1;
	*user = x->user;
	return SASL_STEP_DONE;
}

void sasl_edge_conn_free(struct zsasl **st)
{
	struct zsasl *x = *st;
	if (!x)
		return;
	if (x->conn)
		sasl_dispose(&x->conn);
	free(x);
	*st = NULL;
}
