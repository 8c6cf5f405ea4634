/*
 * map.c — the naming and typing rules of the mount (see map.h).  These are
 * the decisions every mount must take identically so that every host sees
 * the same tree, which is why they live apart from the FUSE handlers and
 * have no state.
 */
#include "map.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "zk.h"

bool map_is_dir(const struct zk_stat *st, int created)
{
	if (st->num_children > 0)
		return true;
	if (created == 1)
		return true;
	if (st->ephemeral_owner != 0)
		return false; /* ephemerals can never have children */
	if (st->data_length > 0)
		return false;
	return created != 0;
}

char *map_join(const char *parent, const char *name)
{
	size_t pl = strlen(parent), nl = strlen(name);
	bool root = pl == 1 && parent[0] == '/';
	char *p = malloc(pl + nl + 2);

	if (!p)
		return NULL;
	if (root) {
		p[0] = '/';
		memcpy(p + 1, name, nl + 1);
	} else {
		memcpy(p, parent, pl);
		p[pl] = '/';
		memcpy(p + pl + 1, name, nl + 1);
	}
	return p;
}

const char *map_basename(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

char *map_dirname(const char *path)
{
	const char *s = strrchr(path, '/');

	if (!s || (s == path && path[1] == '\0'))
		return NULL;
	if (s == path)
		return strdup("/");
	return strndup(path, (size_t)(s - path));
}

int map_name_check(const char *name)
{
	size_t n = strlen(name);
	char buf[512];

	if (n == 0 || strchr(name, '/'))
		return -EINVAL;
	if (n > 255)
		return -ENAMETOOLONG;
	/* Reuse the protocol's path rule on "/name": one place decides. */
	buf[0] = '/';
	memcpy(buf + 1, name, n + 1);
	return zk_path_valid(buf, n + 1) ? 0 : -EINVAL;
}

bool map_is_seq_name(const char *name, size_t *stem_len)
{
	size_t n = strlen(name);

	if (n < 2 || name[n - 1] != '%')
		return false;
	if (stem_len)
		*stem_len = n - 1;
	return true;
}

int map_zk_errno(int zkerr)
{
	switch (zkerr) {
	case ZE_OK:
		return 0;
	case ZE_NONODE:
		return -ENOENT;
	case ZE_NODEEXISTS:
		return -EEXIST;
	case ZE_NOTEMPTY:
		return -ENOTEMPTY;
	case ZE_NOAUTH:
	case ZE_AUTHFAILED:
		return -EACCES;
	case ZE_BADARGUMENTS:
	case ZE_INVALIDACL:
		return -EINVAL;
	case ZE_NOCHILDRENFOREPHEMERALS:
		return -ENOTDIR;
	case ZE_BADVERSION:
		return -EAGAIN;
	case ZE_CONNECTIONLOSS:
	case ZE_SESSIONEXPIRED:
	case ZE_SESSIONMOVED:
	case ZE_CLOSING:
		return -EIO;
	case ZE_OPERATIONTIMEOUT:
	case ZE_REQUESTTIMEOUT:
		return -ETIMEDOUT;
	case ZE_MARSHALLINGERROR:
		return -EFBIG; /* the only marshalling failure a mount can cause: data too large */
	case ZE_UNIMPLEMENTED:
		return -ENOTSUP;
	case ZE_NOTREADONLY:
		return -EROFS;
	case ZE_QUOTAEXCEEDED:
		return -EDQUOT;
	case ZE_THROTTLEDOP:
		return -EAGAIN;
	default:
		return -EIO;
	}
}

static bool id_is_own(const struct zk_id *id, const char *const *own, size_t n_own)
{
	if (!id->scheme)
		return false;
	if (!strcmp(id->scheme, "auth") || !strcmp(id->scheme, "ip"))
		return true;
	for (size_t i = 0; i < n_own; i++) {
		size_t sl = strlen(id->scheme);
		const char *o = own[i];
		if (!strncmp(o, id->scheme, sl) && o[sl] == ':') {
			const char *want = o + sl + 1;
			const char *have = id->id ? id->id : "";
			/* digest ids are "user:hash"; the mount knows the user */
			size_t wl = strlen(want);
			if (!strncmp(have, want, wl) && (have[wl] == '\0' || have[wl] == ':'))
				return true;
		}
	}
	return false;
}

static mode_t perm_bits(int32_t perms, bool is_dir)
{
	mode_t m = 0;

	if (perms & ZK_PERM_READ)
		m |= is_dir ? 05 : 04;
	if (perms & (is_dir ? (ZK_PERM_CREATE | ZK_PERM_DELETE) : ZK_PERM_WRITE))
		m |= 02;
	return m;
}

mode_t map_acl_mode(const struct zk_acl_vec *acl, const char *const *own_ids, size_t n_own,
		    bool is_dir)
{
	mode_t mode = 0;

	for (int32_t i = 0; acl && i < acl->n; i++) {
		const struct zk_acl *a = &acl->v[i];
		mode_t b = perm_bits(a->perms, is_dir);
		if (a->id.scheme && !strcmp(a->id.scheme, "world") && a->id.id &&
		    !strcmp(a->id.id, "anyone"))
			mode |= b << 6 | b << 3 | b;
		else if (id_is_own(&a->id, own_ids, n_own))
			mode |= b << 6;
	}
	return mode;
}

static const char perm_chars[] = "cdrwa";
static const int32_t perm_vals[] = {ZK_PERM_CREATE, ZK_PERM_DELETE, ZK_PERM_READ, ZK_PERM_WRITE,
				    ZK_PERM_ADMIN};

char *map_acl_format(const struct zk_acl_vec *acl)
{
	size_t cap = 1;
	char *out, *p;

	for (int32_t i = 0; i < acl->n; i++)
		cap += strlen(acl->v[i].id.scheme ? acl->v[i].id.scheme : "") +
		       strlen(acl->v[i].id.id ? acl->v[i].id.id : "") + 9;
	out = p = malloc(cap);
	if (!out)
		return NULL;
	*p = '\0';
	for (int32_t i = 0; i < acl->n; i++) {
		const struct zk_acl *a = &acl->v[i];
		p += sprintf(p, "%s%s:%s:", i ? "," : "", a->id.scheme ? a->id.scheme : "",
			     a->id.id ? a->id.id : "");
		for (int k = 0; k < 5; k++)
			if (a->perms & perm_vals[k])
				*p++ = perm_chars[k];
		*p = '\0';
	}
	return out;
}

/* Parses one "scheme:id:perms" entry of n bytes into *a. */
static int parse_entry(const char *s, size_t n, struct zk_acl *a)
{
	const char *c1 = memchr(s, ':', n), *c2 = NULL;

	for (size_t i = n; i > 0; i--)
		if (s[i - 1] == ':') {
			c2 = s + i - 1;
			break;
		}
	if (!c1 || c2 == c1 || c1 == s)
		return -EINVAL;
	a->perms = 0;
	for (const char *q = c2 + 1; q < s + n; q++) {
		const char *k = strchr(perm_chars, *q);
		if (!k || !*q)
			return -EINVAL;
		a->perms |= perm_vals[k - perm_chars];
	}
	a->id.scheme = strndup(s, (size_t)(c1 - s));
	a->id.id = strndup(c1 + 1, (size_t)(c2 - c1 - 1));
	if (!a->id.scheme || !a->id.id)
		return -ENOMEM;
	return 0;
}

int map_acl_parse(const char *text, size_t len, struct zk_acl_vec *out)
{
	size_t n = 1;
	int rc = 0;

	while (len && (text[len - 1] == '\n' || text[len - 1] == ' ' || text[len - 1] == '\0'))
		len--;
	while (len && (*text == ' ' || *text == '\n')) {
		text++;
		len--;
	}
	if (!len)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (text[i] == ',')
			n++;
	out->v = calloc(n, sizeof(*out->v));
	out->n = 0;
	if (!out->v)
		return -ENOMEM;
	while (len) {
		const char *comma = memchr(text, ',', len);
		size_t el = comma ? (size_t)(comma - text) : len;
		while (el && text[0] == ' ') {
			text++;
			len--;
			el--;
		}
		rc = parse_entry(text, el, &out->v[out->n]);
		out->n++;
		if (rc)
			break;
		text += el;
		len -= el;
		if (comma) {
			text++;
			len--;
			if (!len)
				rc = -EINVAL;
		}
	}
	if (rc)
		zk_acl_vec_free(out);
	return rc;
}

static const char xattr_list[] = "user.zk.name\0user.zk.path\0user.zk.version\0"
				 "user.zk.cversion\0user.zk.aversion\0user.zk.czxid\0"
				 "user.zk.mzxid\0user.zk.pzxid\0user.zk.ephemeralOwner\0"
				 "user.zk.acl\0user.zk.data\0";

const char *map_xattr_names(size_t *len)
{
	*len = sizeof(xattr_list) - 1;
	return xattr_list;
}

int map_xattr_get(const char *name, const char *path, const struct zk_stat *st, char *buf,
		  size_t size)
{
	int n;

	if (!strcmp(name, "user.zk.name"))
		n = snprintf(buf, size, "%s", path[1] ? map_basename(path) : "/");
	else if (!strcmp(name, "user.zk.path"))
		n = snprintf(buf, size, "%s", path);
	else if (!strcmp(name, "user.zk.version"))
		n = snprintf(buf, size, "%" PRId32, st->version);
	else if (!strcmp(name, "user.zk.cversion"))
		n = snprintf(buf, size, "%" PRId32, st->cversion);
	else if (!strcmp(name, "user.zk.aversion"))
		n = snprintf(buf, size, "%" PRId32, st->aversion);
	else if (!strcmp(name, "user.zk.czxid"))
		n = snprintf(buf, size, "0x%" PRIx64, (uint64_t)st->czxid);
	else if (!strcmp(name, "user.zk.mzxid"))
		n = snprintf(buf, size, "0x%" PRIx64, (uint64_t)st->mzxid);
	else if (!strcmp(name, "user.zk.pzxid"))
		n = snprintf(buf, size, "0x%" PRIx64, (uint64_t)st->pzxid);
	else if (!strcmp(name, "user.zk.ephemeralOwner"))
		n = st->ephemeral_owner ? snprintf(buf, size, "0x%" PRIx64, (uint64_t)st->ephemeral_owner)
					: snprintf(buf, size, "0");
	else
		return -ENODATA;
	if (n < 0)
		return -EIO;
	if ((size_t)n >= size)
		return -ERANGE;
	return n;
}
