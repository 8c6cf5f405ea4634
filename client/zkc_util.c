/*
 * zkc_util.c — libzkc helpers without I/O: result-code text and errno
 * mapping, the well-known ACLs, ACL text parsing/formatting, digest ids
 * (SHA-1 + base64 from libcrypto, as ZooKeeper's digest scheme defines) and
 * the wiping free that every holder of a secret uses.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "zkc_int.h"

static struct zk_acl open_acl[] = {{ZK_PERM_ALL, {(char *)"world", (char *)"anyone"}}};
static struct zk_acl read_acl[] = {{ZK_PERM_READ, {(char *)"world", (char *)"anyone"}}};
static struct zk_acl creator_acl[] = {{ZK_PERM_ALL, {(char *)"auth", (char *)""}}};

const struct zk_acl_vec zkc_acl_open = {1, open_acl};
const struct zk_acl_vec zkc_acl_read = {1, read_acl};
const struct zk_acl_vec zkc_acl_creator = {1, creator_acl};

const char *zkc_strerror(int err)
{
	return zk_err_text(err);
}

int zkc_errno(int err)
{
	switch (err) {
	case ZE_OK: return 0;
	case ZE_NONODE: return ENOENT;
	case ZE_NODEEXISTS: return EEXIST;
	case ZE_NOTEMPTY: return ENOTEMPTY;
	case ZE_NOAUTH:
	case ZE_AUTHFAILED: return EACCES;
	case ZE_BADVERSION: return EAGAIN;
	case ZE_BADARGUMENTS:
	case ZE_INVALIDACL: return EINVAL;
	case ZE_NOCHILDRENFOREPHEMERALS: return ENOTDIR; /* an ephemeral is a file: it holds no entries */
	case ZE_OPERATIONTIMEOUT: return ETIMEDOUT;
	case ZE_SESSIONEXPIRED: return ENOTCONN;
	case ZE_CLOSING: return ESHUTDOWN;
	case ZE_THROTTLEDOP: return EBUSY;
	case ZE_MARSHALLINGERROR: return EFBIG;
	case ZE_UNIMPLEMENTED: return ENOSYS;
	case ZE_NOWATCHER: return ENOENT;
	case ZE_QUOTAEXCEEDED: return EDQUOT;
	case ZE_NOTREADONLY: return EROFS;
	case ZE_SYSTEMERROR: return ENOMEM;
	default: return EIO;
	}
}

void zkc_perms_format(int32_t perms, char *buf)
{
	char *p = buf;
	if (perms & ZK_PERM_CREATE)
		*p++ = 'c';
	if (perms & ZK_PERM_DELETE)
		*p++ = 'd';
	if (perms & ZK_PERM_READ)
		*p++ = 'r';
	if (perms & ZK_PERM_WRITE)
		*p++ = 'w';
	if (perms & ZK_PERM_ADMIN)
		*p++ = 'a';
	*p = 0;
}

static int parse_perms(const char *s, int32_t *out)
{
	int32_t p = 0;
	for (; *s; s++) {
		switch (*s) {
		case 'c': p |= ZK_PERM_CREATE; break;
		case 'd': p |= ZK_PERM_DELETE; break;
		case 'r': p |= ZK_PERM_READ; break;
		case 'w': p |= ZK_PERM_WRITE; break;
		case 'a': p |= ZK_PERM_ADMIN; break;
		default: return -1;
		}
	}
	*out = p;
	return 0;
}

int zkc_acl_parse(const char *text, struct zk_acl_vec *acl)
{
	memset(acl, 0, sizeof(*acl));
	if (!text || !*text)
		return ZE_BADARGUMENTS;
	char *copy = strdup(text), *save = NULL, *tok;
	if (!copy)
		return ZE_SYSTEMERROR;
	int err = ZE_OK;
	int32_t cap = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *c1 = strchr(tok, ':');
		char *c2 = strrchr(tok, ':');
		if (!c1 || c1 == c2) {
			err = ZE_BADARGUMENTS;
			break;
		}
		*c1 = 0;
		*c2 = 0;
		int32_t perms;
		if (parse_perms(c2 + 1, &perms) || !*tok) {
			err = ZE_BADARGUMENTS;
			break;
		}
		if (acl->n == cap) {
			int32_t nc = cap ? cap * 2 : 4;
			struct zk_acl *v = realloc(acl->v, (size_t)nc * sizeof(*v));
			if (!v) {
				err = ZE_SYSTEMERROR;
				break;
			}
			acl->v = v;
			cap = nc;
		}
		struct zk_acl *a = &acl->v[acl->n];
		a->perms = perms;
		a->id.scheme = strdup(tok);
		a->id.id = strdup(c1 + 1);
		acl->n++;
		if (!a->id.scheme || !a->id.id) {
			err = ZE_SYSTEMERROR;
			break;
		}
	}
	free(copy);
	if (!err && acl->n == 0)
		err = ZE_BADARGUMENTS;
	if (err)
		zk_acl_vec_free(acl);
	return err;
}

char *zkc_digest_id(const char *user_password)
{
	const char *colon = user_password ? strchr(user_password, ':') : NULL;
	if (!colon)
		return NULL;
	unsigned char md[SHA_DIGEST_LENGTH];
	SHA1((const unsigned char *)user_password, strlen(user_password), md);
	size_t ulen = (size_t)(colon - user_password);
	char *out = malloc(ulen + 1 + 4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1);
	if (!out)
		return NULL;
	memcpy(out, user_password, ulen);
	out[ulen] = ':';
	EVP_EncodeBlock((unsigned char *)out + ulen + 1, md, SHA_DIGEST_LENGTH);
	return out;
}

void zkc__wipe_free(const char *p)
{
	if (p) {
		/* the cast: secrets sit in const fields of the public structs
		 * (struct zkc_tls, struct zkc_sasl), but are always malloc'd */
		memset((char *)p, 0, strlen(p));
		free((char *)p);
	}
}
