/*
 * acl.c — the ACL store, permission checks, ACL fix-up for create/setACL,
 * digest ids and ip/CIDR matching (ZooKeeper's world, auth, digest, ip,
 * sasl and super schemes).  The sasl scheme's ids are the names the edge's
 * SASL exchange authenticated (sasl.c); they match as ZooKeeper's
 * SASLAuthenticationProvider does: equal names, and the name "super"
 * matches every sasl id.
 */
#include "acl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "xmem.h"

#define NO_SLOT UINT32_MAX

/* ---------------------------------------------------------------- identities */

void acl_auth_push(struct core_auth *a, const char *scheme, const char *id)
{
	for (int i = 0; i < a->n; i++)
		if (!strcmp(a->ids[i].scheme, scheme) && !strcmp(a->ids[i].id, id))
			return;
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 2;
		a->ids = xrealloc(a->ids, (size_t)a->cap * sizeof(*a->ids));
	}
	a->ids[a->n].scheme = xstrdup(scheme);
	a->ids[a->n].id = xstrdup(id);
	a->n++;
}

void core_auth_init(struct core_auth *a, const char *ip_addr)
{
	memset(a, 0, sizeof(*a));
	if (ip_addr)
		acl_auth_push(a, "ip", ip_addr);
}

void core_auth_free(struct core_auth *a)
{
	for (int i = 0; i < a->n; i++) {
		free(a->ids[i].scheme);
		free(a->ids[i].id);
	}
	free(a->ids);
	memset(a, 0, sizeof(*a));
}

void core_auth_add_x509(struct core_auth *a, const char *dn, bool super)
{
	if (super)
		acl_auth_push(a, "super", dn);
	acl_auth_push(a, "x509", dn);
}

bool acl_is_super(const struct core_auth *auth)
{
	if (!auth)
		return false;
	for (int i = 0; i < auth->n; i++)
		if (!strcmp(auth->ids[i].scheme, "super"))
			return true;
	return false;
}

/* ---------------------------------------------------------------- store */

static uint32_t acl_hash(const struct zk_acl_vec *v)
{
	uint32_t h = 2166136261u;
	for (int32_t i = 0; i < v->n; i++) {
		h = (h ^ (uint32_t)v->v[i].perms) * 16777619u;
		for (const char *p = v->v[i].id.scheme; *p; p++)
			h = (h ^ (uint8_t)*p) * 16777619u;
		h = (h ^ 0xff) * 16777619u;
		for (const char *p = v->v[i].id.id; *p; p++)
			h = (h ^ (uint8_t)*p) * 16777619u;
		h = (h ^ 0xfe) * 16777619u;
	}
	return h;
}

static bool acl_equal(const struct zk_acl_vec *a, const struct zk_acl_vec *b)
{
	if (a->n != b->n)
		return false;
	for (int32_t i = 0; i < a->n; i++)
		if (a->v[i].perms != b->v[i].perms ||
		    strcmp(a->v[i].id.scheme, b->v[i].id.scheme) ||
		    strcmp(a->v[i].id.id, b->v[i].id.id))
			return false;
	return true;
}

static void vec_copy(struct zk_acl_vec *dst, const struct zk_acl_vec *src)
{
	if (zk_acl_vec_copy(dst, src))
		xmem_oom(sizeof(struct zk_acl) * (size_t)src->n);
}

static void index_add(struct acl_store *s, uint32_t i);

static void index_grow(struct acl_store *s)
{
	uint32_t nmask = s->hmask ? s->hmask * 2 + 1 : 63;
	free(s->heads);
	s->heads = xmalloc(((size_t)nmask + 1) * sizeof(*s->heads));
	for (uint32_t b = 0; b <= nmask; b++)
		s->heads[b] = NO_SLOT;
	s->hmask = nmask;
	for (uint32_t i = 0; i < s->n; i++)
		if (s->v[i].refs)
			index_add(s, i);
}

static void index_add(struct acl_store *s, uint32_t i)
{
	uint32_t b = s->v[i].hash & s->hmask;
	s->v[i].next_hash = s->heads[b];
	s->heads[b] = i;
}

/* Puts live slot i into the index (growing it when crowded). */
static void index_put(struct acl_store *s, uint32_t i)
{
	if (s->used > s->hmask)
		index_grow(s); /* rebuilds from the live slots, i included */
	else
		index_add(s, i);
}

static void index_del(struct acl_store *s, uint32_t i)
{
	uint32_t *pp = &s->heads[s->v[i].hash & s->hmask];
	while (*pp != i)
		pp = &s->v[*pp].next_hash;
	*pp = s->v[i].next_hash;
}

static uint32_t slot_new(struct acl_store *s)
{
	if (s->free != NO_SLOT) {
		uint32_t i = s->free;
		s->free = s->v[i].next_free;
		return i;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->v = xrealloc(s->v, (size_t)s->cap * sizeof(*s->v));
	}
	memset(&s->v[s->n], 0, sizeof(s->v[0]));
	return s->n++;
}

static void fixed(struct acl_store *s, int32_t perms)
{
	struct zk_acl a = {perms, {"world", "anyone"}};
	struct zk_acl_vec v = {1, &a};
	uint32_t i = slot_new(s);
	vec_copy(&s->v[i].acl, &v);
	s->v[i].hash = acl_hash(&v);
	s->v[i].refs = UINT64_MAX / 2; /* pinned */
	s->used++;
	index_put(s, i);
}

void acl_store_init(struct acl_store *s)
{
	memset(s, 0, sizeof(*s));
	s->free = NO_SLOT;
	index_grow(s);
	fixed(s, ZK_PERM_ALL);	/* ACL_OPEN */
	fixed(s, ZK_PERM_READ); /* ACL_READ */
}

void acl_store_free(struct acl_store *s)
{
	for (uint32_t i = 0; i < s->n; i++)
		if (s->v[i].refs)
			zk_acl_vec_free(&s->v[i].acl);
	free(s->v);
	free(s->heads);
	memset(s, 0, sizeof(*s));
}

uint32_t acl_intern(struct acl_store *s, const struct zk_acl_vec *v)
{
	uint32_t h = acl_hash(v);
	for (uint32_t i = s->heads[h & s->hmask]; i != NO_SLOT; i = s->v[i].next_hash)
		if (s->v[i].hash == h && acl_equal(&s->v[i].acl, v)) {
			s->v[i].refs++;
			return i;
		}
	uint32_t i = slot_new(s);
	vec_copy(&s->v[i].acl, v);
	s->v[i].hash = h;
	s->v[i].refs = 1;
	s->used++;
	index_put(s, i);
	return i;
}

void acl_ref(struct acl_store *s, uint32_t idx)
{
	if (idx < s->n && s->v[idx].refs)
		s->v[idx].refs++;
}

void acl_unref(struct acl_store *s, uint32_t idx)
{
	if (idx >= s->n || !s->v[idx].refs || idx <= ACL_READ)
		return;
	if (--s->v[idx].refs == 0) {
		index_del(s, idx);
		zk_acl_vec_free(&s->v[idx].acl);
		s->v[idx].next_free = s->free;
		s->v[idx].gen++;
		s->free = idx;
		s->used--;
	}
}

const struct zk_acl_vec *acl_get(const struct acl_store *s, uint32_t idx)
{
	if (idx >= s->n || !s->v[idx].refs)
		return NULL;
	return &s->v[idx].acl;
}

int acl_store_set(struct acl_store *s, uint32_t idx, const struct zk_acl_vec *v, uint64_t refs)
{
	if (idx > 1u << 30)
		return -EINVAL;
	if (idx <= ACL_READ)
		return 0; /* fixed slots are already there */
	while (s->n <= idx) {
		uint32_t i = s->n;
		if (s->n == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 8;
			while (s->cap <= idx)
				s->cap *= 2;
			s->v = xrealloc(s->v, (size_t)s->cap * sizeof(*s->v));
		}
		memset(&s->v[i], 0, sizeof(s->v[0]));
		s->n++;
		s->v[i].next_free = s->free;
		s->free = i;
	}
	if (s->v[idx].refs)
		return -EINVAL;
	/* take idx off the free list */
	uint32_t *pp = &s->free;
	while (*pp != NO_SLOT && *pp != idx)
		pp = &s->v[*pp].next_free;
	if (*pp == idx)
		*pp = s->v[idx].next_free;
	vec_copy(&s->v[idx].acl, v);
	s->v[idx].hash = acl_hash(v);
	s->v[idx].refs = refs ? refs : 1;
	s->used++;
	index_put(s, idx);
	return 0;
}

int acl_store_replace(struct acl_store *s, uint32_t idx, const struct zk_acl_vec *v)
{
	if (idx <= ACL_READ || idx >= s->n || !s->v[idx].refs)
		return -EINVAL;
	index_del(s, idx);
	zk_acl_vec_free(&s->v[idx].acl);
	vec_copy(&s->v[idx].acl, v);
	s->v[idx].hash = acl_hash(v);
	index_put(s, idx);
	return 0;
}

/* ---------------------------------------------------------------- ip */

struct ipnet {
	int family;
	uint8_t addr[16];
	int bits;
};

static bool ip_parse(const char *s, struct ipnet *out, bool allow_bits)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(buf) || (slash && !allow_bits))
		return false;
	memcpy(buf, s, alen);
	buf[alen] = 0;
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		out->bits = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		out->bits = 128;
		/* An IPv4-mapped address is the IPv4 address for matching. */
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (!memcmp(out->addr, mapped, 12) && !slash) {
			memmove(out->addr, out->addr + 12, 4);
			memset(out->addr + 4, 0, 12);
			out->family = AF_INET;
			out->bits = 32;
		}
	} else {
		return false;
	}
	if (slash) {
		char *end;
		long b = strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || b < 0 || b > out->bits)
			return false;
		out->bits = (int)b;
	}
	return true;
}

bool acl_ip_valid(const char *acl_id)
{
	struct ipnet n;
	return ip_parse(acl_id, &n, true);
}

bool acl_ip_match(const char *acl_id, const char *addr)
{
	struct ipnet net, a;
	if (!ip_parse(acl_id, &net, true) || !ip_parse(addr, &a, false))
		return false;
	if (net.family != a.family)
		return false;
	int full = net.bits / 8, rest = net.bits % 8;
	if (memcmp(net.addr, a.addr, (size_t)full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		if ((net.addr[full] & mask) != (a.addr[full] & mask))
			return false;
	}
	return true;
}

/* ---------------------------------------------------------------- checks */

static bool id_matches(const struct zk_id *acl_id, const struct core_auth_id *who)
{
	if (strcmp(acl_id->scheme, who->scheme) != 0)
		return false;
	if (!strcmp(acl_id->scheme, "ip"))
		return acl_ip_match(acl_id->id, who->id);
	if (!strcmp(acl_id->scheme, "sasl") && !strcmp(who->id, "super"))
		return true;
	return !strcmp(acl_id->id, who->id);
}

bool acl_check(const struct zk_acl_vec *acl, const struct core_auth *auth, int32_t perm)
{
	if (acl_is_super(auth))
		return true;
	if (!acl || acl->n == 0)
		return true;
	for (int32_t i = 0; i < acl->n; i++) {
		const struct zk_acl *e = &acl->v[i];
		if (!(e->perms & perm))
			continue;
		if (!strcmp(e->id.scheme, "world") && !strcmp(e->id.id, "anyone"))
			return true;
		if (!auth)
			continue;
		for (int k = 0; k < auth->n; k++)
			if (id_matches(&e->id, &auth->ids[k]))
				return true;
	}
	return false;
}

static void vec_push(struct zk_acl_vec *v, int32_t perms, const char *scheme, const char *id)
{
	for (int32_t i = 0; i < v->n; i++)
		if (v->v[i].perms == perms && !strcmp(v->v[i].id.scheme, scheme) &&
		    !strcmp(v->v[i].id.id, id))
			return; /* duplicate */
	v->v = xrealloc(v->v, (size_t)(v->n + 1) * sizeof(*v->v));
	v->v[v->n].perms = perms;
	v->v[v->n].id.scheme = xstrdup(scheme);
	v->v[v->n].id.id = xstrdup(id);
	v->n++;
}

/* A sasl id must be a valid Kerberos name, as ZooKeeper checks it: a
 * simple name without '@', or "primary[/instance]@REALM" with no further
 * '/' or '@'. */
static bool sasl_id_valid(const char *id)
{
	const char *at = strchr(id, '@');
	if (!at)
		return true;
	if (strchr(at + 1, '@') || strchr(at + 1, '/'))
		return false;
	const char *slash = memchr(id, '/', (size_t)(at - id));
	return !slash || !memchr(slash + 1, '/', (size_t)(at - slash - 1));
}

static bool digest_id_valid(const char *id)
{
	const char *colon = strchr(id, ':');
	return colon && colon != id && !strchr(colon + 1, ':');
}

int acl_fixup(const struct zk_acl_vec *in, const struct core_auth *auth, bool sasl_scheme,
	      struct zk_acl_vec *out)
{
	memset(out, 0, sizeof(*out));
	if (!in || in->n == 0)
		return ZE_INVALIDACL;
	for (int32_t i = 0; i < in->n; i++) {
		const struct zk_acl *e = &in->v[i];
		const char *scheme = e->id.scheme ? e->id.scheme : "";
		const char *id = e->id.id ? e->id.id : "";
		if (!strcmp(scheme, "world")) {
			if (strcmp(id, "anyone"))
				goto invalid;
			vec_push(out, e->perms, scheme, id);
		} else if (!strcmp(scheme, "auth")) {
			/* Only ids of authenticated schemes count: ip is not (nor
			 * super, which has no provider in ZooKeeper); sasl is when
			 * its provider is configured. */
			bool any = false;
			for (int k = 0; auth && k < auth->n; k++) {
				const char *sc = auth->ids[k].scheme;
				if (!strcmp(sc, "digest") || !strcmp(sc, "x509") ||
				    (sasl_scheme && !strcmp(sc, "sasl"))) {
					vec_push(out, e->perms, sc, auth->ids[k].id);
					any = true;
				}
			}
			if (!any)
				goto invalid;
		} else if (!strcmp(scheme, "digest")) {
			if (!digest_id_valid(id))
				goto invalid;
			vec_push(out, e->perms, scheme, id);
		} else if (!strcmp(scheme, "ip")) {
			if (!acl_ip_valid(id))
				goto invalid;
			vec_push(out, e->perms, scheme, id);
		} else if (!strcmp(scheme, "x509")) {
			/* ZooKeeper: whatever X500Principal parses, i.e. type=value */
			if (!strchr(id, '=') || id[0] == '=')
				goto invalid;
			vec_push(out, e->perms, scheme, id);
		} else if (!strcmp(scheme, "sasl") && sasl_scheme) {
			if (!sasl_id_valid(id))
				goto invalid;
			vec_push(out, e->perms, scheme, id);
		} else {
			goto invalid;
		}
	}
	return 0;
invalid:
	zk_acl_vec_free(out);
	return ZE_INVALIDACL;
}

int acl_digest(const char *user_pass, size_t len, char *out, size_t cap)
{
	const char *colon = memchr(user_pass, ':', len);
	unsigned char md[SHA_DIGEST_LENGTH];
	char b64[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
	if (!colon)
		return -EINVAL;
	size_t ulen = (size_t)(colon - user_pass);
	SHA1((const unsigned char *)user_pass, len, md);
	EVP_EncodeBlock((unsigned char *)b64, md, SHA_DIGEST_LENGTH);
	size_t blen = strlen(b64);
	if (cap < ulen + 1 + blen + 1)
		return -EINVAL;
	memcpy(out, user_pass, ulen);
	out[ulen] = ':';
	memcpy(out + ulen + 1, b64, blen + 1);
	return 0;
}
