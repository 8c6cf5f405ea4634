/*
 * zkc_sasl.c — the client side of ZooKeeper's SASL exchange (opcode 102) on
 * Cyrus SASL, and the credential file reader shared by zkfs-cli and zkfs.
 *
 * zkc.c drives the frames; this file owns the Cyrus state of a session:
 *
 *   handshake done ─► zkc__sasl_begin ─┬─ token ─► send, wait for the reply
 *                                      └─ nothing to send, complete ─► open
 *   reply (err 0) ─► zkc__sasl_next ───┬─ token ─► send, wait (also after the
 *                                      │          client completed: GSSAPI's
 *                                      │          last token gets a reply)
 *                                      └─ complete, nothing to send ─► open
 *   reply (err != 0), Cyrus error ─► AUTH_FAILED
 *
 * Cyrus is initialised once per process (sasl_client_init under a
 * uv_once); every connection gets its own sasl_conn_t, disposed when the
 * connection goes.  For GSSAPI the Kerberos credentials are acquired here
 * and handed to Cyrus (SASL_GSS_CREDS): its plugin never releases the ones
 * it acquires itself, which would leak once per connection.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <sasl/sasl.h>

#include "jaas.h"
#include "zkc_int.h"

#define DIGEST_SERVER_NAME "zk-sasl-md5" /* ZooKeeper's hard-coded DIGEST-MD5 host */

struct zkc_sasl_state {
	char *mech, *user, *password, *service, *host, *keytab;
	sasl_conn_t *conn;
	gss_cred_id_t gss_cred; /* GSSAPI: this connection's credentials, ours */
	bool complete; /* the client side returned SASL_OK */
	sasl_secret_t *secret;
	sasl_callback_t cbs[5];
};

/* ---------------------------------------------------------------- Cyrus */

static uv_once_t init_once = UV_ONCE_INIT;
static int init_rc;

static void init_cyrus(void)
{
	init_rc = sasl_client_init(NULL);
}

/* Cyrus stores every callback as int (*)(void); the detour through
 * void (*)(void) says the cast is meant. */
#define CB(fn) ((int (*)(void))(void (*)(void))(fn))

static int cb_user(void *ctx, int id, const char **result, unsigned *len)
{
	struct zkc_sasl_state *st = ctx;
	if (id != SASL_CB_USER && id != SASL_CB_AUTHNAME)
		return SASL_BADPARAM;
	/* ZooKeeper's clients authorize as themselves */
	*result = st->user ? st->user : "";
	if (len)
		*len = (unsigned)strlen(*result);
	return SASL_OK;
}

static int cb_pass(sasl_conn_t *conn, void *ctx, int id, sasl_secret_t **psecret)
{
	struct zkc_sasl_state *st = ctx;
	(void)conn;
	if (id != SASL_CB_PASS || !st->secret)
		return SASL_BADPARAM;
	*psecret = st->secret;
	return SASL_OK;
}

static int cb_realm(void *ctx, int id, const char **avail, const char **result)
{
	(void)ctx;
	if (id != SASL_CB_GETREALM)
		return SASL_BADPARAM;
	/* the realm the server offered (ZooKeeper: "zk-sasl-md5") */
	*result = avail && avail[0] ? avail[0] : DIGEST_SERVER_NAME;
	return SASL_OK;
}

static char *dup_or_null(const char *v, int *err)
{
	if (!v)
		return NULL;
	char *d = strdup(v);
	if (!d)
		*err = ZE_SYSTEMERROR;
	return d;
}

int zkc__sasl_new(const struct zkc_sasl *cfg, struct zkc_sasl_state **out)
{
	*out = NULL;
	if (!cfg->mech || (strcmp(cfg->mech, "DIGEST-MD5") && strcmp(cfg->mech, "GSSAPI")))
		return ZE_BADARGUMENTS;
	bool digest = !strcmp(cfg->mech, "DIGEST-MD5");
	if (digest && (!cfg->user || !cfg->password))
		return ZE_BADARGUMENTS;
	uv_once(&init_once, init_cyrus);
	if (init_rc != SASL_OK)
		return ZE_SYSTEMERROR;
	struct zkc_sasl_state *st = calloc(1, sizeof(*st));
	if (!st)
		return ZE_SYSTEMERROR;
	int err = ZE_OK;
	st->mech = dup_or_null(cfg->mech, &err);
	st->user = dup_or_null(cfg->user, &err);
	st->password = dup_or_null(cfg->password, &err);
	st->service = dup_or_null(cfg->service ? cfg->service : "zookeeper", &err);
	st->host = dup_or_null(cfg->host ? cfg->host : digest ? DIGEST_SERVER_NAME : NULL, &err);
	st->keytab = dup_or_null(cfg->keytab, &err);
	if (!err && st->password) {
		size_t pl = strlen(st->password);
		st->secret = malloc(sizeof(sasl_secret_t) + pl + 1);
		if (!st->secret) {
			err = ZE_SYSTEMERROR;
		} else {
			st->secret->len = pl;
			memcpy(st->secret->data, st->password, pl + 1);
		}
	}
	if (err) {
		zkc__sasl_free(st);
		return err;
	}
	if (st->keytab) {
		/* MIT Kerberos gets initial credentials from a client keytab
		 * when the ccache has none; a private in-memory ccache keeps
		 * the user's own ccache out of it */
		setenv("KRB5_CLIENT_KTNAME", st->keytab, 1);
		if (!getenv("KRB5CCNAME")) {
			char cc[64];
			snprintf(cc, sizeof(cc), "MEMORY:zkc-%d", (int)getpid());
			setenv("KRB5CCNAME", cc, 0);
		}
	}
	int i = 0;
	st->cbs[i++] = (sasl_callback_t){SASL_CB_USER, CB(cb_user), st};
	st->cbs[i++] = (sasl_callback_t){SASL_CB_AUTHNAME, CB(cb_user), st};
	st->cbs[i++] = (sasl_callback_t){SASL_CB_PASS, CB(cb_pass), st};
	st->cbs[i++] = (sasl_callback_t){SASL_CB_GETREALM, CB(cb_realm), st};
	st->cbs[i] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
	*out = st;
	return ZE_OK;
}

void zkc__sasl_reset(struct zkc_sasl_state *st)
{
	if (!st)
		return;
	if (st->conn)
		sasl_dispose(&st->conn);
	if (st->gss_cred != GSS_C_NO_CREDENTIAL) {
		OM_uint32 minor;
		gss_release_cred(&minor, &st->gss_cred);
		st->gss_cred = GSS_C_NO_CREDENTIAL;
	}
	st->complete = false;
}

void zkc__sasl_free(struct zkc_sasl_state *st)
{
	if (!st)
		return;
	zkc__sasl_reset(st);
	free(st->mech);
	free(st->user);
	zkc__wipe_free(st->password);
	free(st->service);
	free(st->host);
	free(st->keytab);
	if (st->secret) {
		memset(st->secret->data, 0, st->secret->len);
		free(st->secret);
	}
	free(st);
}

/* The server's canonical host name, as Java's client finds it
 * (zookeeper.sasl.client.canonicalize.hostname): a reverse lookup. */
static void canonical_host(const struct sockaddr *sa, char *out, size_t cap)
{
	socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						  : sizeof(struct sockaddr_in);
	if (getnameinfo(sa, len, out, (socklen_t)cap, NULL, 0, NI_NAMEREQD) != 0 &&
	    getnameinfo(sa, len, out, (socklen_t)cap, NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(out, cap, "localhost");
}

static int outcome(struct zkc_sasl_state *st, int sr, const char *out, unsigned outlen,
		   const char **tok, unsigned *toklen)
{
	if (sr != SASL_OK && sr != SASL_CONTINUE)
		return -EACCES;
	if (sr == SASL_OK)
		st->complete = true;
	*tok = out;
	*toklen = out ? outlen : 0;
	/* something to send: always while continuing (DIGEST-MD5's first
	 * token is empty), and the last token of a completed client */
	return sr == SASL_CONTINUE || outlen > 0 ? 1 : 0;
}

int zkc__sasl_begin(struct zkc_sasl_state *st, const struct sockaddr *sa, const char **tok,
		    unsigned *toklen)
{
	zkc__sasl_reset(st);
	char host[256];
	if (st->host)
		snprintf(host, sizeof(host), "%s", st->host);
	else
		canonical_host(sa, host, sizeof(host));
	int sr = sasl_client_new(st->service, host, NULL, NULL, st->cbs, SASL_SUCCESS_DATA, &st->conn);
	if (sr != SASL_OK)
		return -EIO;
	if (!strcmp(st->mech, "GSSAPI")) {
		/* the default initiator (ticket cache, or client keytab), Kerberos
		 * only: a credential for every mechanism would let the library
		 * start with another (Java's server accepts raw krb5 tokens) */
		OM_uint32 minor;
		gss_OID_set_desc krb5 = {1, (gss_OID)gss_mech_krb5};
		if (gss_acquire_cred(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, &krb5, GSS_C_INITIATE,
				     &st->gss_cred, NULL, NULL) != GSS_S_COMPLETE)
			return -EACCES; /* no credentials: Cyrus could not do better */
		sasl_setprop(st->conn, SASL_GSS_CREDS, st->gss_cred);
	}
	const char *out = NULL, *chosen = NULL;
	unsigned outlen = 0;
	sr = sasl_client_start(st->conn, st->mech, NULL, &out, &outlen, &chosen);
	return outcome(st, sr, out, outlen, tok, toklen);
}

int zkc__sasl_next(struct zkc_sasl_state *st, const uint8_t *in, int32_t inlen, const char **tok,
		   unsigned *toklen)
{
	*tok = NULL;
	*toklen = 0;
	if (!st->conn)
		return -EINVAL;
	if (st->complete)
		return 0; /* the server's answer to our last token */
	const char *out = NULL;
	unsigned outlen = 0;
	int sr = sasl_client_step(st->conn, inlen > 0 ? (const char *)in : NULL,
				  inlen > 0 ? (unsigned)inlen : 0, NULL, &out, &outlen);
	return outcome(st, sr, out, outlen, tok, toklen);
}

const char *zkc__sasl_error(const struct zkc_sasl_state *st)
{
	return st && st->conn ? sasl_errdetail(st->conn) : "SASL not started";
}

/* ---------------------------------------------------------------- credential files */

static int load_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, a, b);
	return ZE_BADARGUMENTS;
}

static int set_field(const char **dst, const char *v)
{
	free((char *)*dst);
	*dst = strdup(v);
	return *dst ? ZE_OK : ZE_SYSTEMERROR;
}

/* "key=value" lines */
static int load_plain(FILE *f, struct zkc_sasl *out)
{
	char line[1024];
	int rc = ZE_OK;
	while (rc == ZE_OK && fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");
		p[strcspn(p, "\r\n")] = 0;
		if (!*p || *p == '#')
			continue;
		char *eq = strchr(p, '=');
		if (!eq)
			continue;
		*eq = 0;
		char *k = p, *v = eq + 1;
		k[strcspn(k, " \t")] = 0;
		if (!strcmp(k, "username") || !strcmp(k, "user"))
			rc = set_field(&out->user, v);
		else if (!strcmp(k, "password"))
			rc = set_field(&out->password, v);
		else if (!strcmp(k, "principal"))
			rc = set_field(&out->principal, v);
		else if (!strcmp(k, "keytab") || !strcmp(k, "keyTab"))
			rc = set_field(&out->keytab, v);
		else if (!strcmp(k, "service"))
			rc = set_field(&out->service, v);
		else if (!strcmp(k, "host"))
			rc = set_field(&out->host, v);
	}
	memset(line, 0, sizeof(line));
	return rc;
}

static int load_jaas(const char *path, const char *section, struct zkc_sasl *out, char *err,
		     size_t errlen)
{
	struct jaas j;
	if (jaas_load(path, &j, err, errlen) < 0)
		return ZE_BADARGUMENTS;
	const struct jaas_section *sec = jaas_section(&j, section);
	int rc = ZE_OK;
	if (!sec) {
		jaas_free(&j);
		return load_err(err, errlen, "%s: no JAAS section '%s'", path, section);
	}
	for (size_t i = 0; rc == ZE_OK && i < sec->nentries; i++) {
		const struct jaas_entry *e = &sec->entries[i];
		const char *v;
		if (jaas_module_is(e, "Krb5LoginModule")) {
			if ((v = jaas_option(e, "principal")))
				rc = set_field(&out->principal, v);
			if (rc == ZE_OK && (v = jaas_option(e, "keyTab")))
				rc = set_field(&out->keytab, v);
		} else {
			if ((v = jaas_option(e, "username")))
				rc = set_field(&out->user, v);
			if (rc == ZE_OK && (v = jaas_option(e, "password")))
				rc = set_field(&out->password, v);
		}
	}
	jaas_free(&j);
	return rc;
}

int zkc_sasl_load(const char *path, const char *section, const char *mech, struct zkc_sasl *out,
		  char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = 0;
	if (mech && strcmp(mech, "DIGEST-MD5") && strcmp(mech, "GSSAPI"))
		return load_err(err, errlen, "SASL mechanism '%s'%s: use DIGEST-MD5 or GSSAPI", mech,
				"");
	FILE *f = fopen(path, "r");
	if (!f)
		return load_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
	/* a JAAS file has a '{'; anything else is key=value lines */
	int ch, jaas = 0;
	while ((ch = fgetc(f)) != EOF)
		if (ch == '{') {
			jaas = 1;
			break;
		}
	rewind(f);
	int rc;
	if (jaas) {
		fclose(f);
		rc = load_jaas(path, section ? section : "Client", out, err, errlen);
	} else {
		rc = load_plain(f, out);
		fclose(f);
	}
	/* no mechanism given: as Java's client, GSSAPI for Kerberos credentials */
	if (!mech)
		mech = out->principal || out->keytab ? "GSSAPI" : "DIGEST-MD5";
	if (rc == ZE_OK)
		rc = set_field(&out->mech, mech);
	if (rc == ZE_OK && !strcmp(mech, "DIGEST-MD5") && (!out->user || !out->password))
		rc = load_err(err, errlen, "%s: DIGEST-MD5 needs a username and a password%s", path,
			      jaas ? " (DigestLoginModule username=... password=...)" : "");
	if (rc == ZE_OK && !strcmp(mech, "GSSAPI") && !out->user && out->principal)
		rc = set_field(&out->user, out->principal);
	if (rc != ZE_OK)
		zkc_sasl_clear(out);
	return rc;
}

void zkc_sasl_clear(struct zkc_sasl *s)
{
	free((char *)s->mech);
	free((char *)s->user);
	zkc__wipe_free(s->password);
	free((char *)s->service);
	free((char *)s->host);
	free((char *)s->principal);
	free((char *)s->keytab);
	memset(s, 0, sizeof(*s));
}
