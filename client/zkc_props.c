/*
 * zkc_props.c — ZooKeeper's client.properties, the file a Java client is
 * given with -Dzookeeper.client.config (ZKClientConfig), read once for
 * everything libzkc's programs take from it: the TLS keys into a struct
 * zkc_tls, the SASL keys into a struct zkc_sasl_props.  zkfs-cli's -c and
 * the mount's zkconfig= both come here, so one file means the same to both
 * and to the Java client.
 *
 * The syntax is the part of Java's Properties.load that such files use:
 * "key=value", "key: value" or "key value", blanks around key and value
 * trimmed, '#' and '!' comment lines.  Escapes and continued lines are not
 * read (no client.properties key needs them).  Unknown keys are ignored,
 * as the Java client does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zkc_int.h"

#define PREFIX "zookeeper."
#define PREFIX_LEN (sizeof(PREFIX) - 1)

/* Replaces a string field (wiping the old value: it may be a password). */
static int replace(const char **field, const char *v)
{
	char *c = strdup(v);
	if (!c)
		return -ENOMEM;
	zkc__wipe_free(*field);
	*field = c;
	return 0;
}

/* A *.passwordPath key: the password from that file. */
static int replace_from_file(const char **field, const char *path)
{
	char *pw = NULL;
	int rc = zkc_read_secret_file(path, &pw);
	if (!rc) {
		zkc__wipe_free(*field);
		*field = pw;
	}
	return rc;
}

/*
 * One TLS key, k without its optional "zookeeper." (X509Util's names;
 * zkfs also takes them bare, as zoo.cfg does).  Returns 0 (applied or not
 * a TLS key) or a negative errno.
 */
static int apply_tls(struct zkc_tls *t, bool *secure, const char *k, const char *v)
{
	if (!strcmp(k, "client.secure")) {
		if (secure)
			*secure = !strcasecmp(v, "true");
		return 0;
	}
	if (!strcmp(k, "ssl.keyStore.location"))
		return replace(&t->cert_file, v);
	if (!strcmp(k, "ssl.keyStore.password"))
		return replace(&t->key_password, v);
	if (!strcmp(k, "ssl.keyStore.passwordPath"))
		return replace_from_file(&t->key_password, v);
	if (!strcmp(k, "ssl.keyStore.type"))
		return replace(&t->cert_type, v);
	if (!strcmp(k, "ssl.trustStore.location"))
		return replace(&t->ca_file, v);
	if (!strcmp(k, "ssl.trustStore.password"))
		return replace(&t->ca_password, v);
	if (!strcmp(k, "ssl.trustStore.passwordPath"))
		return replace_from_file(&t->ca_password, v);
	if (!strcmp(k, "ssl.trustStore.type"))
		return replace(&t->ca_type, v);
	if (!strcmp(k, "ssl.hostnameVerification")) {
		t->no_verify_host = !strcasecmp(v, "false");
		return 0;
	}
	/* enabledProtocols is the list; protocol only stands in for it */
	if (!strcmp(k, "ssl.enabledProtocols") || (!strcmp(k, "ssl.protocol") && !t->protocols))
		return replace(&t->protocols, v);
	if (!strcmp(k, "ssl.ciphersuites"))
		return replace(&t->ciphersuites, v);
	return 0;
}

static int set_str(char **field, const char *v)
{
	char *c = strdup(v);
	if (!c)
		return -ENOMEM;
	free(*field);
	*field = c;
	return 0;
}

/*
 * One SASL key, by its full name (ZKClientConfig and the JVM's JAAS
 * property have no short forms).  v may be changed.  Returns 0 (applied
 * or not a SASL key) or a negative errno.
 */
static int apply_sasl(struct zkc_sasl_props *p, const char *k, char *v)
{
	if (!strcmp(k, "java.security.auth.login.config"))
		return set_str(&p->login_config, v);
	if (!strcmp(k, "zookeeper.sasl.clientconfig"))
		return set_str(&p->section, v);
	if (!strcmp(k, "zookeeper.sasl.client")) {
		p->disabled = !strcasecmp(v, "false");
		return 0;
	}
	if (!strcmp(k, "zookeeper.sasl.client.username"))
		return set_str(&p->service, v);
	if (!strcmp(k, "zookeeper.server.principal") ||
	    !strcmp(k, "zookeeper.sasl.client.principal")) {
		/* service/host@REALM names the server: its service and host
		 * (the realm is the KDC's business); without a '/' there is
		 * no host to take, and the principal is ignored */
		char *slash = strchr(v, '/');
		if (!slash)
			return 0;
		*slash = '\0';
		slash[strcspn(slash + 1, "@") + 1] = '\0';
		int rc = set_str(&p->service, v);
		return rc ? rc : set_str(&p->host, slash + 1);
	}
	return 0;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\f' || c == '\r' || c == '\n';
}

/* Splits a line into key and value in place; false for blank and comment
 * lines. */
static bool split_line(char *line, char **key, char **val)
{
	char *k = line;
	while (blank(*k))
		k++;
	if (!*k || *k == '#' || *k == '!')
		return false;
	/* the key ends at the first '=', ':' or blank; one '=' or ':' may
	 * follow blanks */
	char *e = k + strcspn(k, "=: \t\f\r\n");
	char *v = e;
	while (blank(*v))
		v++;
	if (*v == '=' || *v == ':')
		v++;
	while (blank(*v))
		v++;
	*e = '\0';
	size_t n = strlen(v);
	while (n && blank(v[n - 1]))
		v[--n] = '\0';
	*key = k;
	*val = v;
	return true;
}

int zkc_client_properties(const char *path, struct zkc_tls *tls, bool *secure,
			  struct zkc_sasl_props *sasl, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
		return -e;
	}
	char line[4096];
	int rc = 0, lineno = 0;
	while (!rc && fgets(line, sizeof(line), f)) {
		char *k, *v;
		lineno++;
		if (!split_line(line, &k, &v))
			continue;
		if (sasl)
			rc = apply_sasl(sasl, k, v);
		if (!rc && tls)
			rc = apply_tls(tls, secure,
				       strncmp(k, PREFIX, PREFIX_LEN) ? k : k + PREFIX_LEN, v);
		if (rc)
			snprintf(err, errlen, "%s:%d: %s: %s", path, lineno, k, strerror(-rc));
	}
	if (!rc && ferror(f)) {
		/* a directory opens, then fails to read: not an empty file */
		rc = errno ? -errno : -EIO;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-rc));
	}
	/* the last line read may have held a password */
	memset(line, 0, sizeof(line));
	fclose(f);
	return rc;
}

int zkc_tls_properties(const char *path, struct zkc_tls *tls, bool *secure, char *err,
		       size_t errlen)
{
	return zkc_client_properties(path, tls, secure, NULL, err, errlen);
}

void zkc_sasl_props_free(struct zkc_sasl_props *p)
{
	free(p->login_config);
	free(p->section);
	free(p->service);
	free(p->host);
	memset(p, 0, sizeof(*p));
}

int zkc_sasl_props_load(const struct zkc_sasl_props *p, const char *file, const char *mech,
			struct zkc_sasl *out, bool *on, char *err, size_t errlen)
{
	static const struct zkc_sasl_props none;
	if (!p)
		p = &none;
	memset(out, 0, sizeof(*out));
	*on = false;
	if (!file)
		file = p->login_config;
	if (p->disabled || !file)
		return ZE_OK;
	int rc = zkc_sasl_load(file, p->section, mech, out, err, errlen);
	if (rc != ZE_OK)
		return rc;
	/* the properties name the server, over what the credentials say */
	if ((p->service && replace(&out->service, p->service)) ||
	    (p->host && replace(&out->host, p->host))) {
		zkc_sasl_clear(out);
		snprintf(err, errlen, "out of memory");
		return ZE_SYSTEMERROR;
	}
	*on = true;
	return ZE_OK;
}
