/*
 * acl.h — ACLs of the core: the deduplicated ACL store that nodes refer to
 * by a small integer, permission checks against a connection's identities,
 * the create/setACL fix-up ("auth" expansion, validation, de-duplication),
 * digest computation and ip/CIDR matching.  No system calls (inet_pton
 * and SHA-1 are pure computations).
 */
#ifndef ZKFS_SERVER_ACL_H
#define ZKFS_SERVER_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "records.h"

/* Fixed store slots, always present. */
enum {
	ACL_OPEN = 0, /* world:anyone:ALL (OPEN_ACL_UNSAFE) */
	ACL_READ = 1, /* world:anyone:READ (READ_ACL_UNSAFE, /zookeeper/config) */
};

struct acl_ent {
	struct zk_acl_vec acl;
	uint64_t refs; /* 0 = free slot */
	uint32_t gen;  /* times the slot was freed: a snapshot notices reuse */
	uint32_t hash;
	uint32_t next_free; /* free slot list */
	uint32_t next_hash; /* index chain */
};

struct acl_store {
	struct acl_ent *v;
	uint32_t n; /* slots in use or freed */
	uint32_t cap;
	uint32_t free;	 /* head of the free slot list, UINT32_MAX = none */
	uint32_t used;	 /* distinct ACLs live */
	uint32_t *heads; /* hash index: chains of live slots by hash */
	uint32_t hmask;
};

void acl_store_init(struct acl_store *s);
void acl_store_free(struct acl_store *s);
/* Index of an ACL equal to v (same entries, same order), adding a copy when
 * new; takes one reference. */
uint32_t acl_intern(struct acl_store *s, const struct zk_acl_vec *v);
void acl_ref(struct acl_store *s, uint32_t idx);
/* Drops one reference; the slot is recycled at zero (fixed slots never). */
void acl_unref(struct acl_store *s, uint32_t idx);
/* The ACL of a slot (NULL for a free or out-of-range slot). */
const struct zk_acl_vec *acl_get(const struct acl_store *s, uint32_t idx);
/* Puts ACL `v` into slot idx with `refs` references (snapshot load);
 * returns 0 or -EINVAL when the slot is taken or not a valid index. */
int acl_store_set(struct acl_store *s, uint32_t idx, const struct zk_acl_vec *v, uint64_t refs);
/* Replaces the ACL of the live slot idx, keeping its references (a fuzzy
 * snapshot that saw the slot recycled).  Returns 0 or -EINVAL. */
int acl_store_replace(struct acl_store *s, uint32_t idx, const struct zk_acl_vec *v);

/* True when some entry of acl grants any bit of perm to one of auth's ids
 * (world:anyone grants to all; a super id passes; an empty ACL passes). */
bool acl_check(const struct zk_acl_vec *acl, const struct core_auth *auth, int32_t perm);
/* True when auth holds a super id. */
bool acl_is_super(const struct core_auth *auth);

/*
 * The ACL to store for a create/setACL: "auth" entries become one entry per
 * authenticated id of the caller (digest, and sasl when sasl_scheme), world
 * must be anyone, digest ids need "user:hash", ip ids must parse, sasl ids
 * (only with sasl_scheme: ZooKeeper's SASLAuthenticationProvider is
 * configured) must be Kerberos-shaped names; duplicates are dropped.
 * Returns 0 with *out filled (caller frees), or ZE_INVALIDACL (empty list,
 * unknown scheme, bad id, "auth" with no authenticated id).
 */
int acl_fixup(const struct zk_acl_vec *in, const struct core_auth *auth, bool sasl_scheme,
	      struct zk_acl_vec *out);

/* digest id of "user:password": "user:BASE64(SHA1(user:password))" into
 * out (cap >= len + 32); returns 0 or -EINVAL (no ':' in it). */
int acl_digest(const char *user_pass, size_t len, char *out, size_t cap);

/* ip ACL matching: acl_id is "addr" or "addr/bits" (IPv4 or IPv6), addr is
 * the caller's address.  ip_valid says whether an ACL id parses. */
bool acl_ip_match(const char *acl_id, const char *addr);
bool acl_ip_valid(const char *acl_id);

/* Adds (scheme, id) to auth unless present. */
void acl_auth_push(struct core_auth *a, const char *scheme, const char *id);

#endif
