/*
 * core.c — the state machine of zkfs-server (see core.h): prep of writes
 * into txns against the applied tree plus outstanding changes, apply of
 * txns with watch triggers and replies, reads, sessions, reaping,
 * snapshots and stats.  No system calls: time arrives as arguments, events
 * leave through core_config.hooks.
 *
 * Outstanding changes ("change records", as ZooKeeper's
 * PrepRequestProcessor keeps them): while txns are prepared but not yet
 * applied, the state prep must validate against is the applied tree with
 * those txns' effects on top.  Each prepared txn leaves one record per path
 * it touched (the node's resulting existence, versions, child count, ACL,
 * owner); a later prep reads the newest record of a path before falling
 * back to the tree.  Records live in a hash table (the newest of a path
 * first in its chain) and in a FIFO by zxid; applying txn Z drops the
 * records whose zxid <= Z.  A prep adds its records as it goes (a multi's
 * later ops see its earlier ones) and, when the request fails, takes back
 * everything added since it began, so a failed multi leaves nothing behind.
 */
#include "core.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "digest.h"
#include "session.h"
#include "tree.h"
#include "txn.h"
#include "watch.h"
#include "xmem.h"

/* A node as prep sees it: from a change record or from the tree. */
struct nview {
	bool exists;
	uint8_t kind;
	int64_t owner;
	int32_t version, cversion, aversion;
	uint32_t nkids;
	int64_t mtime;
	const struct zk_acl_vec *acl;
	/* the rest of the stat and the node's digest, kept only with
	 * cfg.digest: crc_pd is the CRC of path and data (dg_path_data), zh
	 * the node's hash (0 when it does not exist) */
	int64_t czxid, mzxid, pzxid, ctime;
	uint32_t crc_pd, zh;
};

struct chrec {
	/* Hash chain, newest first.  hpp points at whatever points here, so
	 * that retiring the oldest record of a busy path (a parent with
	 * thousands of pending creates under it, all in one chain) does not
	 * walk the chain. */
	struct chrec *hnext, **hpp;
	struct chrec *lnext, *lprev; /* FIFO by zxid */
	int64_t zxid;
	uint32_t hash;
	struct nview v;
	uint64_t ddelta;       /* what this record added to the prep digest */
	struct zk_acl_vec acl; /* owned; v.acl points here */
	size_t len;
	char path[];
};

struct core {
	struct core_config cfg;
	char *super_digest;
	struct tree tree;
	struct acl_store acls;
	struct watch_mgr watches;
	struct session_table sessions;
	int64_t last_zxid; /* last applied */
	int64_t next_zxid; /* next to assign in prep */
	int64_t next_sid;
	uint32_t outstanding;
	/* ZooKeeper's tree digest (cfg.digest): of the applied tree, and of
	 * the tree with every prepared txn on top; applied txns whose stamp
	 * differed */
	uint64_t digest, prep_digest;
	uint64_t dg_mismatches;
	int64_t dg_mismatch_zxid;
	uint64_t nreapable; /* containers + TTL nodes: core_reap walks only if any */
	/* outstanding change records */
	struct chrec **chtab;
	uint32_t chmask;
	uint32_t nch;
	struct chrec *lhead, *ltail;
	/* the prep in progress: its zxid and the FIFO tail before it began */
	int64_t prep_zxid;
	struct chrec *prep_mark;
	/* snapshot load: its format, the ACL slots pinned until its end,
	 * ephemerals whose session is not (yet) in the table */
	int32_t load_format;
	uint32_t *load_pins;
	uint32_t npins, pins_cap;
	uint64_t eph_orphans;
	/* snapshot loading: the last node loaded and its parent.  Records
	 * come parents first (a preorder walk), so the next node's parent is
	 * usually one of these, which spares a lookup in the index.  Kept
	 * valid when they move (set_data) or go (delete_node). */
	struct tnode *load_last, *load_parent;
};

static const uint8_t default_secret[16] = {0xb3, 0x41, 0x5c, 0x00, 0x7a, 0x6b, 0x66, 0x73,
					   0x2d, 0x7a, 0x6b, 0x66, 0x73, 0x2d, 0x73, 0x31};

/* ================================================================ setup */

static struct tnode *reserved_add(struct core *c, const char *path, uint32_t acl)
{
	size_t len = strlen(path);
	size_t plen = zk_path_parent_len(path, len);
	struct tnode *parent = tree_find(&c->tree, path, plen);
	struct tnode *n = tree_add(&c->tree, parent, path, len, NULL, -1);
	n->acl = acl;
	return n;
}

/* ================================================================ digest */

static void tnode_dgstat(const struct tnode *n, struct dg_stat *st)
{
	st->czxid = n->czxid;
	st->mzxid = n->mzxid;
	st->pzxid = tnode_pzxid(n);
	st->ctime = n->ctime;
	st->mtime = n->mtime;
	st->version = n->version;
	st->cversion = n->cversion;
	st->aversion = n->aversion;
	st->ephemeral_owner = dg_zk_owner(n->kind, n->kind == TN_TTL ? tnode_ttl(n) : tnode_owner(n));
}

/* n's hash; path/len name it (path NULL: found from the tree). */
static uint32_t tnode_zh(const struct tnode *n, const char *path, size_t len)
{
	char buf[256];
	char *dup = NULL;
	if (!path) {
		len = tree_path(n, buf, sizeof(buf));
		path = len < sizeof(buf) ? buf : (dup = tree_path_dup(n));
	}
	uint32_t zh = 0;
	if (!dg_excluded(path, len)) {
		struct dg_stat st;
		tnode_dgstat(n, &st);
		zh = dg_finish(dg_path_data(path, len, n->data_len > 0 ? tnode_data(n) : NULL,
					    n->data_len),
			       &st);
	}
	free(dup);
	return zh;
}

/* Takes n out of (dg_out) or puts it into (dg_in) the applied digest,
 * around a change of n; no-ops without cfg.digest or for NULL. */
static void dg_out(struct core *c, const struct tnode *n)
{
	if (c->cfg.digest && n)
		c->digest -= tnode_zh(n, NULL, 0);
}

static void dg_in(struct core *c, const struct tnode *n)
{
	if (c->cfg.digest && n)
		c->digest += tnode_zh(n, NULL, 0);
}

/* Takes the nodes an applied op may change (its node and, for a create,
 * the parent) out of the digest (in = false) or back in after the change. */
static void dg_op(struct core *c, const struct txn_op *op, bool in)
{
	if (!c->cfg.digest)
		return;
	size_t len = strlen(op->path);
	struct tnode *n = tree_find(&c->tree, op->path, len);
	uint64_t sum = n ? tnode_zh(n, op->path, len) : 0;
	if (op->kind == TX_CREATE) {
		size_t plen = zk_path_parent_len(op->path, len);
		struct tnode *p = tree_find(&c->tree, op->path, plen);
		if (p)
			sum += tnode_zh(p, op->path, plen);
	}
	if (in)
		c->digest += sum;
	else
		c->digest -= sum;
}

static int dg_sum_one(void *arg, const struct tnode *n)
{
	*(uint64_t *)arg += tnode_zh(n, NULL, 0);
	return 0;
}

uint64_t core_digest_mismatches(const struct core *c)
{
	return c->dg_mismatches;
}

int64_t core_digest_full(const struct core *c)
{
	uint64_t sum = 0;
	tree_walk(c->tree.root, dg_sum_one, &sum);
	return (int64_t)sum;
}

struct core *core_new(const struct core_config *cfg)
{
	struct core_config k = *cfg;
	if (k.tick_ms == 0)
		k.tick_ms = 2000;
	if (k.min_session_timeout_ms == 0)
		k.min_session_timeout_ms = 2 * k.tick_ms;
	if (k.max_session_timeout_ms == 0)
		k.max_session_timeout_ms = 20 * k.tick_ms;
	if (k.tick_ms < 0 || k.min_session_timeout_ms > k.max_session_timeout_ms ||
	    k.min_session_timeout_ms < 0)
		return NULL;
	struct core *c = xcalloc(1, sizeof(*c));
	c->cfg = k;
	if (cfg->super_digest) {
		c->super_digest = xstrdup(cfg->super_digest);
		c->cfg.super_digest = c->super_digest;
	}
	static const uint8_t zero[16];
	if (!memcmp(c->cfg.session_secret, zero, 16))
		memcpy(c->cfg.session_secret, default_secret, 16);
	tree_init(&c->tree);
	acl_store_init(&c->acls);
	watch_init(&c->watches);
	session_table_init(&c->sessions, k.tick_ms, k.max_session_timeout_ms);
	c->tree.root->acl = ACL_OPEN;
	reserved_add(c, "/zookeeper", ACL_OPEN);
	reserved_add(c, "/zookeeper/quota", ACL_OPEN);
	struct tnode *conf = reserved_add(c, "/zookeeper/config", ACL_READ);
	conf->aversion = -1; /* as ZooKeeper shows it */
	c->next_zxid = 1;
	uint64_t sid = ((uint64_t)k.now_ms << 24) >> 8;
	sid |= (uint64_t)k.server_id << 56;
	c->next_sid = (int64_t)sid;
	c->chmask = 63;
	c->chtab = xcalloc(c->chmask + 1, sizeof(*c->chtab));
	if (c->cfg.digest)
		c->digest = c->prep_digest = (uint64_t)core_digest_full(c);
	return c;
}

static void chrec_free(struct chrec *r)
{
	zk_acl_vec_free(&r->acl);
	free(r);
}

static void records_clear(struct core *c)
{
	struct chrec *r = c->lhead;
	while (r) {
		struct chrec *n = r->lnext;
		chrec_free(r);
		r = n;
	}
	c->lhead = c->ltail = NULL;
	memset(c->chtab, 0, (c->chmask + 1) * sizeof(*c->chtab));
	c->nch = 0;
	c->prep_mark = NULL;
}

void core_free(struct core *c)
{
	if (!c)
		return;
	records_clear(c);
	free(c->chtab);
	watch_free(&c->watches);
	session_table_free(&c->sessions);
	tree_free(&c->tree);
	acl_store_free(&c->acls);
	free(c->load_pins);
	free(c->super_digest);
	free(c);
}

/* ================================================================ auth */

int core_auth_add(struct core *c, struct core_auth *a, const char *scheme, const uint8_t *auth,
		  int32_t len)
{
	if (!scheme)
		return -EACCES;
	if (!strcmp(scheme, "digest")) {
		if (!auth || len <= 0 || memchr(auth, 0, (size_t)len))
			return -EACCES;
		size_t cap = (size_t)len + 64;
		char *out = xmalloc(cap);
		if (acl_digest((const char *)auth, (size_t)len, out, cap)) {
			free(out);
			return -EACCES;
		}
		acl_auth_push(a, "digest", out);
		if (c->super_digest && !strcmp(out, c->super_digest))
			acl_auth_push(a, "super", "");
		free(out);
		return 0;
	}
	if (!strcmp(scheme, "ip"))
		return 0; /* the ip identity is implicit */
	return -EACCES;
}

/* ================================================================ change records */

static struct chrec *rec_find(const struct core *c, const char *path, size_t len, uint32_t h)
{
	for (struct chrec *r = c->chtab[h & c->chmask]; r; r = r->hnext)
		if (r->hash == h && r->len == len && !memcmp(r->path, path, len))
			return r;
	return NULL;
}

/* The hash of a node in state v (0 if it does not exist). */
static uint32_t view_zh(const char *path, size_t len, const struct nview *v)
{
	if (!v->exists || dg_excluded(path, len))
		return 0;
	struct dg_stat st = {
	    .czxid = v->czxid,
	    .mzxid = v->mzxid,
	    .pzxid = v->pzxid,
	    .ctime = v->ctime,
	    .mtime = v->mtime,
	    .version = v->version,
	    .cversion = v->cversion,
	    .aversion = v->aversion,
	    .ephemeral_owner = dg_zk_owner(v->kind, v->owner),
	};
	return dg_finish(v->crc_pd, &st);
}

/* The node at path as prep sees it. */
static void view(const struct core *c, const char *path, size_t len, struct nview *v)
{
	uint32_t h = tree_hash(path, len);
	struct chrec *r = rec_find(c, path, len, h);
	if (r) {
		*v = r->v;
		return;
	}
	struct tnode *n = tree_find(&c->tree, path, len);
	memset(v, 0, sizeof(*v));
	if (!n)
		return;
	v->exists = true;
	v->kind = n->kind;
	v->owner = n->kind == TN_TTL ? tnode_ttl(n) : tnode_owner(n);
	v->version = n->version;
	v->cversion = n->cversion;
	v->aversion = n->aversion;
	v->nkids = tnode_nkids(n);
	v->mtime = n->mtime;
	v->acl = acl_get(&c->acls, n->acl);
	if (c->cfg.digest) {
		v->czxid = n->czxid;
		v->mzxid = n->mzxid;
		v->pzxid = tnode_pzxid(n);
		v->ctime = n->ctime;
		v->crc_pd = dg_path_data(path, len, n->data_len > 0 ? tnode_data(n) : NULL,
					 n->data_len);
		v->zh = view_zh(path, len, v);
	}
}

/* Puts r at the head of the chain *head. */
static void rec_push(struct chrec **head, struct chrec *r)
{
	r->hnext = *head;
	if (r->hnext)
		r->hnext->hpp = &r->hnext;
	r->hpp = head;
	*head = r;
}

static void rec_grow(struct core *c)
{
	uint32_t nmask = c->chmask * 2 + 1;
	free(c->chtab);
	c->chtab = xcalloc((size_t)nmask + 1, sizeof(*c->chtab));
	c->chmask = nmask;
	/* oldest first, each at its chain's head: the newest of a path ends
	 * up first, as lookups need */
	for (struct chrec *r = c->lhead; r; r = r->lnext)
		rec_push(&c->chtab[r->hash & nmask], r);
}

/* Records the new state v of path for the prep in progress (copying the
 * ACL), and moves the prep digest by the node's change of hash: old_zh is
 * its hash before (the zh of its view; 0 if it did not exist). */
static void stage(struct core *c, const char *path, size_t len, const struct nview *v,
		  uint32_t old_zh)
{
	uint64_t delta = 0;
	uint32_t zh = 0;
	if (c->cfg.digest) {
		zh = view_zh(path, len, v);
		delta = (uint64_t)zh - (uint64_t)old_zh;
		c->prep_digest += delta;
	}
	struct chrec *r = xmalloc(sizeof(*r) + len + 1);
	memset(r, 0, sizeof(*r));
	memcpy(r->path, path, len);
	r->path[len] = 0;
	r->len = len;
	r->hash = tree_hash(path, len);
	r->zxid = c->prep_zxid;
	r->v = *v;
	r->v.zh = zh;
	r->ddelta = delta;
	if (v->acl && zk_acl_vec_copy(&r->acl, v->acl))
		xmem_oom(0);
	r->v.acl = &r->acl;
	if (c->nch > 2 * (c->chmask + 1))
		rec_grow(c);
	rec_push(&c->chtab[r->hash & c->chmask], r);
	r->lprev = c->ltail;
	if (c->ltail)
		c->ltail->lnext = r;
	else
		c->lhead = r;
	c->ltail = r;
	c->nch++;
}

static void rec_unlink(struct core *c, struct chrec *r)
{
	*r->hpp = r->hnext;
	if (r->hnext)
		r->hnext->hpp = r->hpp;
	if (r->lprev)
		r->lprev->lnext = r->lnext;
	else
		c->lhead = r->lnext;
	if (r->lnext)
		r->lnext->lprev = r->lprev;
	else
		c->ltail = r->lprev;
	c->nch--;
}

/* Takes back every record of the prep in progress (newest first, so each
 * is at the head of its chain). */
static void stage_discard(struct core *c)
{
	while (c->ltail != c->prep_mark) {
		struct chrec *r = c->ltail;
		c->prep_digest -= r->ddelta;
		rec_unlink(c, r);
		chrec_free(r);
	}
}

/* ================================================================ prep */

bool core_is_write(int32_t type)
{
	switch (type) {
	case ZOP_CREATE:
	case ZOP_CREATE2:
	case ZOP_CREATECONTAINER:
	case ZOP_CREATETTL:
	case ZOP_DELETE:
	case ZOP_SETDATA:
	case ZOP_SETACL:
	case ZOP_MULTI:
	case ZOP_DELETECONTAINER:
	case ZOP_CREATESESSION:
	case ZOP_CLOSESESSION:
		return true;
	}
	return false;
}

/* Parent of a create path as ZooKeeper takes it: everything before the
 * last '/', the root for "/x" (and for "/" itself). */
static size_t create_parent_len(const char *path, size_t len)
{
	size_t i = len;
	while (i > 0 && path[i - 1] != '/')
		i--;
	/* i-1 is the last slash */
	return i <= 1 ? 1 : i - 1;
}

static bool allowed(const struct core_auth *auth, int64_t sid, const struct zk_acl_vec *acl,
		    int32_t perm)
{
	if (sid == 0 && !auth)
		return true; /* the server itself */
	return acl_check(acl, auth, perm);
}

static bool reserved_path(const char *path, size_t len)
{
	return (len == 1 && path[0] == '/') || (len == 10 && !memcmp(path, "/zookeeper", 10)) ||
	       (len == 16 && !memcmp(path, "/zookeeper/quota", 16)) ||
	       (len == 17 && !memcmp(path, "/zookeeper/config", 17));
}

static int prep_create(struct core *c, int64_t sid, const struct core_auth *auth,
		       const struct zk_op *op, struct core_txn *t, int32_t rtype, int64_t now)
{
	int32_t flags = op->flags;
	if (flags < ZK_PERSISTENT || flags > ZK_PERSISTENT_SEQUENTIAL_WITH_TTL)
		return ZE_BADARGUMENTS;
	bool ttl_mode =
	    flags == ZK_PERSISTENT_WITH_TTL || flags == ZK_PERSISTENT_SEQUENTIAL_WITH_TTL;
	int64_t ttl = op->type == ZOP_CREATETTL ? op->ttl : -1;
	if (ttl_mode && !c->cfg.ttl_enabled)
		return ZE_UNIMPLEMENTED;
	if (ttl_mode ? (ttl <= 0 || ttl > ZK_MAX_TTL) : ttl >= 0)
		return ZE_BADARGUMENTS;
	const char *path = op->path ? op->path : "";
	size_t len = strlen(path);
	if (len == 0 || path[0] != '/')
		return ZE_BADARGUMENTS;
	struct zk_acl_vec acl;
	int rc = acl_fixup(&op->acl, auth, c->cfg.sasl_acl, &acl);
	if (rc)
		return rc;
	size_t plen = create_parent_len(path, len);
	struct nview pv;
	view(c, path, plen, &pv);
	if (!pv.exists) {
		zk_acl_vec_free(&acl);
		return ZE_NONODE;
	}
	if (!allowed(auth, sid, pv.acl, ZK_PERM_CREATE)) {
		zk_acl_vec_free(&acl);
		return ZE_NOAUTH;
	}
	bool seq = flags == ZK_PERSISTENT_SEQUENTIAL || flags == ZK_EPHEMERAL_SEQUENTIAL ||
		   flags == ZK_PERSISTENT_SEQUENTIAL_WITH_TTL;
	char *full = xmalloc(len + 16);
	memcpy(full, path, len);
	full[len] = 0;
	if (seq) {
		snprintf(full + len, 16, "%010d", pv.cversion);
		len = strlen(full);
	}
	/* a name longer than a node can hold (TNODE_NAME_MAX, 16 MiB - 1)
	 * needs jute.maxbuffer raised past that */
	if (!zk_path_valid(full, len) || !tree_name_ok(full, len)) {
		rc = ZE_BADARGUMENTS;
		goto fail;
	}
	struct nview nv;
	view(c, full, len, &nv);
	if (nv.exists) {
		rc = ZE_NODEEXISTS;
		goto fail;
	}
	if (pv.kind == TN_EPHEMERAL) {
		rc = ZE_NOCHILDRENFOREPHEMERALS;
		goto fail;
	}
	uint8_t kind = TN_PERSISTENT;
	int64_t owner = 0;
	if (flags == ZK_EPHEMERAL || flags == ZK_EPHEMERAL_SEQUENTIAL) {
		kind = TN_EPHEMERAL;
		owner = sid;
	} else if (flags == ZK_CONTAINER) {
		kind = TN_CONTAINER;
	} else if (ttl_mode) {
		kind = TN_TTL;
		owner = ttl;
	}
	/* parent: one more child, one more creation */
	pv.cversion++;
	pv.nkids++;
	pv.pzxid = c->prep_zxid;
	stage(c, path, plen, &pv, pv.zh);
	memset(&nv, 0, sizeof(nv));
	nv.exists = true;
	nv.kind = kind;
	nv.owner = owner;
	nv.mtime = nv.ctime = now;
	nv.czxid = nv.mzxid = nv.pzxid = c->prep_zxid;
	nv.acl = &acl;
	if (c->cfg.digest)
		nv.crc_pd = dg_path_data(full, len, op->data, op->data_len);
	stage(c, full, len, &nv, 0);

	struct txn_op *x = txn_push(t, TX_CREATE, rtype, full);
	if (op->data_len > 0)
		x->data = xmemdup(op->data, (size_t)op->data_len);
	x->data_len = op->data_len < 0 ? -1 : op->data_len;
	x->acl = acl; /* moved */
	x->node_kind = kind;
	x->owner = owner;
	x->parent_cversion = pv.cversion;
	free(full);
	return 0;
fail:
	free(full);
	zk_acl_vec_free(&acl);
	return rc;
}

/* Stages the deletion of an existing node (parent loses a child); zh is
 * the node's hash (its view's). */
static void stage_delete(struct core *c, const char *path, size_t len, uint32_t zh,
			 struct core_txn *t, int32_t rtype)
{
	size_t plen = zk_path_parent_len(path, len);
	struct nview pv, nv;
	view(c, path, plen, &pv);
	if (pv.nkids)
		pv.nkids--;
	pv.pzxid = c->prep_zxid;
	stage(c, path, plen, &pv, pv.zh);
	memset(&nv, 0, sizeof(nv));
	stage(c, path, len, &nv, zh);
	struct txn_op *x = txn_push(t, TX_DELETE, rtype, NULL);
	x->path = xstrndup(path, len);
}

static int prep_delete(struct core *c, int64_t sid, const struct core_auth *auth,
		       const struct zk_op *op, struct core_txn *t, int32_t rtype)
{
	const char *path = op->path ? op->path : "";
	size_t len = strlen(path);
	if (len == 0 || path[0] != '/' || reserved_path(path, len))
		return ZE_BADARGUMENTS;
	size_t plen = create_parent_len(path, len);
	struct nview pv, nv;
	view(c, path, plen, &pv);
	if (!pv.exists)
		return ZE_NONODE;
	if (!allowed(auth, sid, pv.acl, ZK_PERM_DELETE))
		return ZE_NOAUTH;
	if (!zk_path_valid(path, len))
		return ZE_NONODE; /* no node can have this name */
	view(c, path, len, &nv);
	if (!nv.exists)
		return ZE_NONODE;
	if (op->version != -1 && op->version != nv.version)
		return ZE_BADVERSION;
	if (nv.nkids > 0)
		return ZE_NOTEMPTY;
	stage_delete(c, path, len, nv.zh, t, rtype);
	return 0;
}

/* The checks setData and check share, in ZooKeeper's precedence: path,
 * node, permission `perm`, data version.  Fills *nv on success. */
static int view_versioned(struct core *c, int64_t sid, const struct core_auth *auth,
			  const struct zk_op *op, int32_t perm, const char *path, size_t len,
			  struct nview *nv)
{
	if (!zk_path_valid(path, len))
		return ZE_BADARGUMENTS;
	view(c, path, len, nv);
	if (!nv->exists)
		return ZE_NONODE;
	if (!allowed(auth, sid, nv->acl, perm))
		return ZE_NOAUTH;
	if (op->version != -1 && op->version != nv->version)
		return ZE_BADVERSION;
	return 0;
}

static int prep_setdata(struct core *c, int64_t sid, const struct core_auth *auth,
			const struct zk_op *op, struct core_txn *t, int64_t now)
{
	const char *path = op->path ? op->path : "";
	size_t len = strlen(path);
	struct nview nv;
	int rc = view_versioned(c, sid, auth, op, ZK_PERM_WRITE, path, len, &nv);
	if (rc)
		return rc;
	nv.version++;
	nv.mtime = now;
	nv.mzxid = c->prep_zxid;
	if (c->cfg.digest)
		nv.crc_pd = dg_path_data(path, len, op->data, op->data_len);
	stage(c, path, len, &nv, nv.zh);
	struct txn_op *x = txn_push(t, TX_SETDATA, ZOP_SETDATA, path);
	if (op->data_len > 0)
		x->data = xmemdup(op->data, (size_t)op->data_len);
	x->data_len = op->data_len < 0 ? -1 : op->data_len;
	x->version = nv.version;
	return 0;
}

static int prep_setacl(struct core *c, int64_t sid, const struct core_auth *auth,
		       const struct zk_op *op, struct core_txn *t)
{
	const char *path = op->path ? op->path : "";
	size_t len = strlen(path);
	if (!zk_path_valid(path, len))
		return ZE_BADARGUMENTS;
	struct zk_acl_vec acl;
	int rc = acl_fixup(&op->acl, auth, c->cfg.sasl_acl, &acl);
	if (rc)
		return rc;
	struct nview nv;
	view(c, path, len, &nv);
	if (!nv.exists)
		rc = ZE_NONODE;
	else if (!allowed(auth, sid, nv.acl, ZK_PERM_ADMIN))
		rc = ZE_NOAUTH;
	else if (op->version != -1 && op->version != nv.aversion)
		rc = ZE_BADVERSION;
	if (rc) {
		zk_acl_vec_free(&acl);
		return rc;
	}
	nv.aversion++;
	nv.acl = &acl;
	stage(c, path, len, &nv, nv.zh);
	struct txn_op *x = txn_push(t, TX_SETACL, ZOP_SETACL, path);
	x->acl = acl; /* moved */
	x->version = nv.aversion;
	return 0;
}

static int prep_check(struct core *c, int64_t sid, const struct core_auth *auth,
		      const struct zk_op *op, struct core_txn *t)
{
	const char *path = op->path ? op->path : "";
	size_t len = strlen(path);
	struct nview nv;
	int rc = view_versioned(c, sid, auth, op, ZK_PERM_READ, path, len, &nv);
	if (rc)
		return rc;
	/* CheckVersionTxn carries current + 1 (nothing applies it) */
	txn_push(t, TX_CHECK, ZOP_CHECK, path)->version = nv.version + 1;
	return 0;
}

/* One op of a write request; rtype is the reply element's type. */
static int prep_op(struct core *c, int64_t sid, const struct core_auth *auth,
		   const struct zk_op *op, struct core_txn *t, int64_t now, bool in_multi)
{
	switch (op->type) {
	case ZOP_CREATE:
		return prep_create(c, sid, auth, op, t, ZOP_CREATE, now);
	case ZOP_CREATE2:
	case ZOP_CREATECONTAINER:
	case ZOP_CREATETTL:
		return prep_create(c, sid, auth, op, t, in_multi ? ZOP_CREATE2 : op->type, now);
	case ZOP_DELETE:
		return prep_delete(c, sid, auth, op, t, ZOP_DELETE);
	case ZOP_SETDATA:
		return prep_setdata(c, sid, auth, op, t, now);
	case ZOP_SETACL:
		if (in_multi)
			return ZE_MARSHALLINGERROR;
		return prep_setacl(c, sid, auth, op, t);
	case ZOP_CHECK:
		if (!in_multi)
			return ZE_UNIMPLEMENTED;
		return prep_check(c, sid, auth, op, t);
	}
	return ZE_MARSHALLINGERROR;
}

static void txn_ops_clear(struct core_txn *t)
{
	for (int32_t i = 0; i < t->nops; i++) {
		free(t->ops[i].path);
		free(t->ops[i].data);
		zk_acl_vec_free(&t->ops[i].acl);
	}
	t->nops = 0;
}

static struct core_txn *begin(struct core *c, int64_t sid, int32_t type, int64_t now)
{
	c->prep_zxid = c->next_zxid;
	c->prep_mark = c->ltail;
	if (!c->outstanding)
		c->prep_digest = c->digest;
	return txn_new(c->next_zxid++, now, sid, type);
}

static void finish(struct core *c, struct core_txn *t)
{
	/* its records stay, under its zxid */
	c->prep_mark = c->ltail;
	c->outstanding++;
	if (c->cfg.digest && !t->err) {
		/* a failed single write changes nothing: like ZooKeeper, no stamp */
		t->has_digest = true;
		t->digest = (int64_t)c->prep_digest;
	}
}

static void fail_single(struct core *c, struct core_txn *t, int err)
{
	stage_discard(c);
	txn_ops_clear(t);
	t->type = ZOP_ERROR;
	t->err = err;
}

/* Ephemerals of sid as prep sees them, staged for deletion into t. */
static void prep_close_ephemerals(struct core *c, int64_t sid, struct core_txn *t)
{
	struct session *s = session_find(&c->sessions, sid);
	char buf[512];
	if (s) {
		for (uint32_t i = 0; i < s->neph; i++) {
			struct tnode *n = s->eph[i];
			size_t len = tree_path(n, buf, sizeof(buf));
			char *p = len < sizeof(buf) ? buf : tree_path_dup(n);
			struct nview v;
			view(c, p, len, &v);
			if (v.exists && v.kind == TN_EPHEMERAL && v.owner == sid)
				stage_delete(c, p, len, v.zh, t, ZOP_DELETE);
			if (p != buf)
				free(p);
		}
	}
	/* ephemerals created by txns not yet applied */
	for (struct chrec *r = c->lhead; r; r = r->lnext) {
		if (!(r->v.exists && r->v.kind == TN_EPHEMERAL && r->v.owner == sid))
			continue;
		struct tnode *n = tree_find(&c->tree, r->path, r->len);
		if (n && n->kind == TN_EPHEMERAL && tnode_owner(n) == sid)
			continue; /* handled above */
		struct nview v;
		view(c, r->path, r->len, &v); /* newest (a staged delete wins) */
		if (v.exists && v.kind == TN_EPHEMERAL && v.owner == sid)
			stage_delete(c, r->path, r->len, v.zh, t, ZOP_DELETE);
	}
}

int core_prep_close_session(struct core *c, int64_t session_id, int64_t now_ms,
			    struct core_txn **out)
{
	struct core_txn *t = begin(c, session_id, ZOP_CLOSESESSION, now_ms);
	struct session *s = session_find(&c->sessions, session_id);
	if (s) {
		s->closing = true;
		session_untrack(&c->sessions, s);
	}
	prep_close_ephemerals(c, session_id, t);
	struct txn_op *x = txn_push(t, TX_SESSION_CLOSE, ZOP_CLOSESESSION, "");
	x->owner = session_id;
	finish(c, t);
	*out = t;
	return 0;
}

int32_t core_session_clamp(const struct core *c, int32_t timeout_ms)
{
	if (timeout_ms < c->cfg.min_session_timeout_ms)
		return c->cfg.min_session_timeout_ms;
	if (timeout_ms > c->cfg.max_session_timeout_ms)
		return c->cfg.max_session_timeout_ms;
	return timeout_ms;
}

int core_prep_create_session(struct core *c, int32_t timeout_ms, int64_t now_ms, int64_t *sid_out,
			     int32_t *timeout_out, struct core_txn **out)
{
	int64_t sid;
	do {
		sid = c->next_sid++;
	} while (sid == 0 || sid == INT64_MIN || session_find(&c->sessions, sid));
	*sid_out = sid;
	return core_prep_create_session_id(c, sid, timeout_ms, now_ms, timeout_out, out);
}

int core_prep_create_session_id(struct core *c, int64_t sid, int32_t timeout_ms, int64_t now_ms,
				int32_t *timeout_out, struct core_txn **out)
{
	*out = NULL;
	if (sid == 0 || session_find(&c->sessions, sid))
		return -EEXIST;
	int32_t to = core_session_clamp(c, timeout_ms);
	struct session *s = session_get(&c->sessions, sid);
	s->timeout = to;
	session_track(&c->sessions, s, now_ms);
	struct core_txn *t = begin(c, sid, ZOP_CREATESESSION, now_ms);
	struct txn_op *x = txn_push(t, TX_SESSION_OPEN, ZOP_CREATESESSION, "");
	x->owner = sid;
	x->version = to;
	finish(c, t);
	*timeout_out = to;
	*out = t;
	return 0;
}

/* A used container (stored cversion > 0) or an expired TTL node; the caller
 * has checked it is childless. */
static bool reapable(const struct nview *v, int64_t now_ms)
{
	if (v->kind == TN_CONTAINER)
		return v->cversion > 0;
	if (v->kind == TN_TTL)
		return now_ms - v->mtime > v->owner;
	return false;
}

int core_prep_delete_container(struct core *c, const char *path, int64_t now_ms,
			       struct core_txn **out)
{
	struct core_txn *t = begin(c, 0, ZOP_DELETECONTAINER, now_ms);
	size_t len = path ? strlen(path) : 0;
	int rc = 0;
	struct nview nv;
	if (!path || !zk_path_valid(path, len) || reserved_path(path, len)) {
		rc = ZE_BADARGUMENTS;
	} else {
		view(c, path, len, &nv);
		if (!nv.exists)
			rc = ZE_NONODE;
		else if (nv.nkids > 0)
			rc = ZE_NOTEMPTY;
		else if (!reapable(&nv, now_ms))
			rc = ZE_BADVERSION; /* not (or no longer) reapable */
	}
	if (rc)
		fail_single(c, t, rc);
	else
		stage_delete(c, path, len, nv.zh, t, ZOP_DELETECONTAINER);
	finish(c, t);
	*out = t;
	return 0;
}

/* A multi holds only writes (create*, delete, setData, check), a multiRead
 * only getData/getChildren; ZooKeeper refuses a mix with MarshallingError
 * for the whole request. */
static bool multi_ops_ok(const struct zk_request *req, bool reads)
{
	for (int32_t i = 0; i < req->nops; i++) {
		switch (req->ops[i].type) {
		case ZOP_CREATE:
		case ZOP_CREATE2:
		case ZOP_CREATECONTAINER:
		case ZOP_CREATETTL:
		case ZOP_DELETE:
		case ZOP_SETDATA:
		case ZOP_CHECK:
			if (reads)
				return false;
			break;
		case ZOP_GETDATA:
		case ZOP_GETCHILDREN:
			if (!reads)
				return false;
			break;
		default:
			return false;
		}
	}
	return true;
}

static int session_check(const struct core *c, int64_t sid)
{
	if (sid == 0)
		return 0;
	const struct session *s = session_find(&c->sessions, sid);
	if (!s || s->closing)
		return ZE_SESSIONEXPIRED;
	return 0;
}

int core_prep(struct core *c, int64_t session_id, const struct core_auth *auth,
	      const struct zk_request *req, int64_t now_ms, struct core_txn **out)
{
	*out = NULL;
	if (!core_is_write(req->type))
		return -EINVAL;
	if (req->type == ZOP_CREATESESSION)
		return -EINVAL; /* core_prep_create_session */
	if (req->type == ZOP_CLOSESESSION) {
		core_prep_close_session(c, session_id, now_ms, out);
		(*out)->cxid = req->xid;
		return 0;
	}
	if (req->type == ZOP_DELETECONTAINER && session_id == 0)
		return core_prep_delete_container(c, req->op.path, now_ms, out);
	struct core_txn *t = begin(c, session_id, req->type, now_ms);
	t->cxid = req->xid;
	int rc = session_check(c, session_id);
	if (rc) {
		fail_single(c, t, rc);
	} else if (req->type == ZOP_DELETECONTAINER) {
		/* internal op sent by a client: ZooKeeper answers BadArguments */
		fail_single(c, t, ZE_BADARGUMENTS);
	} else if (req->type == ZOP_MULTI && !multi_ops_ok(req, false)) {
		fail_single(c, t, ZE_MARSHALLINGERROR);
	} else if (req->type == ZOP_MULTI) {
		int32_t failed_at = -1;
		for (int32_t i = 0; i < req->nops; i++) {
			rc = prep_op(c, session_id, auth, &req->ops[i], t, now_ms, true);
			if (rc) {
				failed_at = i;
				break;
			}
		}
		if (failed_at >= 0) {
			stage_discard(c);
			txn_ops_clear(t);
			for (int32_t i = 0; i < req->nops; i++) {
				struct txn_op *x = txn_push(t, TX_ERROR, ZOP_ERROR, "");
				x->err = i < failed_at	  ? 0
					 : i == failed_at ? rc
							  : ZE_RUNTIMEINCONSISTENCY;
			}
		}
	} else {
		rc = prep_op(c, session_id, auth, &req->op, t, now_ms, false);
		if (rc)
			fail_single(c, t, rc);
	}
	finish(c, t);
	*out = t;
	return 0;
}

void core_prep_reset(struct core *c)
{
	records_clear(c);
	c->outstanding = 0;
	c->prep_digest = c->digest;
	c->next_zxid = c->last_zxid + 1;
	/* sessions created by discarded preps never existed */
	struct session *drop[64];
	for (;;) {
		int n = 0;
		for (uint32_t i = 0; i <= c->sessions.mask && n < 64; i++)
			for (struct session *s = c->sessions.tab[i]; s && n < 64; s = s->hnext)
				if (!s->applied)
					drop[n++] = s;
		if (n == 0)
			break;
		for (int i = 0; i < n; i++)
			session_drop(&c->sessions, drop[i]);
	}
}

int64_t core_last_zxid(const struct core *c)
{
	return c->last_zxid;
}

int core_set_next_zxid(struct core *c, int64_t zxid)
{
	if (c->outstanding || zxid <= c->last_zxid)
		return -EINVAL;
	c->next_zxid = zxid;
	return 0;
}

uint32_t core_outstanding(const struct core *c)
{
	return c->outstanding;
}

/* ================================================================ apply */

/* Fires the watches of an event about the node with ACL slot `acl`: only
 * watchers allowed to READ that node hear it (ZooKeeper checks the same). */
static void fire(struct core *c, const char *path, size_t len, int32_t type, int64_t zxid,
		 uint32_t acl)
{
	watch_fire(&c->watches, path, len, type, zxid, acl_get(&c->acls, acl), &c->cfg.hooks);
}

static void delete_node(struct core *c, struct tnode *n, int64_t zxid);

/* Deletes n and fires its NodeDeleted and its parent's NodeChildrenChanged.
 * path/len name n (the caller may have them already). */
static void delete_and_fire(struct core *c, struct tnode *n, const char *path, size_t len,
			    int64_t zxid)
{
	struct tnode *parent = n->parent;
	uint32_t acl = n->acl;
	acl_ref(&c->acls, acl); /* outlives the node until its event is out */
	delete_node(c, n, zxid);
	fire(c, path, len, ZK_EVENT_DELETED, zxid, acl);
	fire(c, path, zk_path_parent_len(path, len), ZK_EVENT_CHILD_CHANGED, zxid, parent->acl);
	acl_unref(&c->acls, acl);
}

static void result_stat(struct zk_result *r, const struct tnode *n)
{
	if (n)
		tree_stat(n, &r->stat);
}

/* tree_set_data, plus the one link the tree does not know: an ephemeral's
 * slot in its session. */
static struct tnode *set_data(struct core *c, struct tnode *n, const uint8_t *data, int32_t len)
{
	struct tnode *m = tree_set_data(&c->tree, n, data, len);
	if (m != n) {
		if (c->load_last == n)
			c->load_last = m;
		if (c->load_parent == n)
			c->load_parent = m;
	}
	if (m != n && m->kind == TN_EPHEMERAL) {
		struct session *s = session_find(&c->sessions, tnode_owner(m));
		if (s && m->aux < s->neph && s->eph[m->aux] == n)
			s->eph[m->aux] = m;
	}
	return m;
}

static void apply_create(struct core *c, const struct core_txn *t, const struct txn_op *op,
			 struct zk_result *r)
{
	size_t len = strlen(op->path);
	size_t plen = zk_path_parent_len(op->path, len);
	struct tnode *parent = tree_find(&c->tree, op->path, plen);
	struct tnode *n = tree_find(&c->tree, op->path, len);
	/* ZooKeeper's parentCVersion -1 (txns of old logs, CreateTxnV0): the
	 * parent's current stored cversion + 1 */
	int32_t pcv = op->parent_cversion;
	if (pcv == -1 && parent)
		pcv = parent->cversion + 1;
	if (!parent || n || t->zxid < parent->czxid || parent->kind == TN_EPHEMERAL ||
	    !tree_name_ok(op->path, len)) {
		/* replay over a state that already has it (or lost the parent to
		 * a later txn, or has a later incarnation of the parent): the
		 * later state wins.  Prep refuses children of ephemerals and
		 * names too long for a node: a log with those is not ours.  A
		 * fuzzy snapshot may hold the node but a parent written before
		 * the create: its child count and pzxid still move forward
		 * (never back). */
		if (parent && n && t->zxid >= parent->czxid && parent->kind != TN_EPHEMERAL &&
		    pcv > parent->cversion) {
			parent->cversion = pcv;
			if (t->zxid > tnode_pzxid(parent))
				tree_set_pzxid(parent, t->zxid);
		}
		if (r && n) {
			r->path = xstrdup(op->path);
			result_stat(r, n);
		}
		return;
	}
	n = tree_add(&c->tree, parent, op->path, len, op->data, op->data_len);
	n->czxid = n->mzxid = t->zxid; /* pzxid reads as czxid */
	n->ctime = n->mtime = t->time;
	n->acl = acl_intern(&c->acls, &op->acl);
	tree_set_kind(n, (enum tnode_kind)op->node_kind, op->owner); /* a new node: cannot fail */
	if (n->kind == TN_CONTAINER || n->kind == TN_TTL)
		c->nreapable++;
	if (n->kind == TN_EPHEMERAL) {
		struct session *s = session_find(&c->sessions, op->owner);
		if (s)
			session_eph_add(&c->sessions, s, n);
		else
			n->aux = UINT32_MAX;
	}
	if (pcv > parent->cversion) {
		parent->cversion = pcv;
		tree_set_pzxid(parent, t->zxid); /* a parent: cannot fail */
	}
	if (r) {
		r->path = xstrdup(op->path);
		result_stat(r, n);
	}
	fire(c, op->path, len, ZK_EVENT_CREATED, t->zxid, n->acl);
	fire(c, op->path, plen, ZK_EVENT_CHILD_CHANGED, t->zxid, parent->acl);
}

static void delete_node(struct core *c, struct tnode *n, int64_t zxid)
{
	struct tnode *parent = n->parent;
	if (n->kind == TN_EPHEMERAL) {
		struct session *s = session_find(&c->sessions, tnode_owner(n));
		if (s)
			session_eph_del(&c->sessions, s, n);
	}
	if (n->kind == TN_CONTAINER || n->kind == TN_TTL)
		c->nreapable--;
	acl_unref(&c->acls, n->acl);
	if (c->load_last == n)
		c->load_last = NULL;
	if (c->load_parent == n)
		c->load_parent = NULL;
	dg_out(c, n);
	dg_out(c, parent);
	tree_remove(&c->tree, n);
	if (zxid > tnode_pzxid(parent))
		tree_set_pzxid(parent, zxid); /* a parent: cannot fail */
	dg_in(c, parent);
}

static void apply_delete(struct core *c, const struct core_txn *t, const struct txn_op *op)
{
	size_t len = strlen(op->path);
	struct tnode *n = tree_find(&c->tree, op->path, len);
	if (!n || !n->parent || tnode_nkids(n) || t->zxid < n->czxid) {
		/* replay: already gone, a later incarnation of the path, or
		 * given children by a later state: the later state wins.  A fuzzy
		 * snapshot may hold the parent as it was before the delete: its
		 * pzxid still moves forward. */
		struct tnode *p = n ? n->parent
				    : tree_find(&c->tree, op->path, zk_path_parent_len(op->path, len));
		if (p && len > 1 && p->kind != TN_EPHEMERAL && t->zxid >= p->czxid &&
		    t->zxid > tnode_pzxid(p)) {
			dg_out(c, p);
			tree_set_pzxid(p, t->zxid);
			dg_in(c, p);
		}
		return;
	}
	delete_and_fire(c, n, op->path, len, t->zxid);
}

static void apply_setdata(struct core *c, const struct core_txn *t, const struct txn_op *op,
			  struct zk_result *r)
{
	size_t len = strlen(op->path);
	struct tnode *n = tree_find(&c->tree, op->path, len);
	if (!n)
		return;
	if (t->zxid < n->czxid || t->zxid < n->mzxid) {
		/* replay over a snapshot that holds a later state of the node
		 * (or a later incarnation of the path, which a delete that can't
		 * be replayed — the snapshot gave it children — would leave with
		 * this txn's older version): the later state wins */
		if (r)
			result_stat(r, n);
		return;
	}
	n = set_data(c, n, op->data, op->data_len);
	n->version = op->version;
	n->mzxid = t->zxid;
	n->mtime = t->time;
	if (r)
		result_stat(r, n);
	fire(c, op->path, len, ZK_EVENT_DATA_CHANGED, t->zxid, n->acl);
}

static void apply_setacl(struct core *c, const struct core_txn *t, const struct txn_op *op,
			 struct zk_result *r)
{
	struct tnode *n = tree_find(&c->tree, op->path, strlen(op->path));
	if (!n)
		return;
	if (t->zxid < n->czxid) {
		if (r)
			result_stat(r, n);
		return; /* replay: a later incarnation of the path */
	}
	uint32_t old = n->acl;
	n->acl = acl_intern(&c->acls, &op->acl);
	acl_unref(&c->acls, old);
	n->aversion = op->version;
	if (r)
		result_stat(r, n);
}

static void apply_session_close(struct core *c, const struct core_txn *t, int64_t sid)
{
	struct session *s = session_find(&c->sessions, sid);
	if (!s)
		return;
	/* Ephemerals the txn did not list (only possible with odd logs): the
	 * session owns nothing after its close, whatever happened. */
	while (s->neph) {
		struct tnode *n = s->eph[s->neph - 1];
		char *p = tree_path_dup(n);
		size_t len = strlen(p);
		delete_and_fire(c, n, p, len, t->zxid);
		free(p);
	}
	session_drop(&c->sessions, s);
}

static void apply_op(struct core *c, const struct core_txn *t, const struct txn_op *op,
		     struct zk_result *r)
{
	if (r)
		r->type = op->rtype;
	switch (op->kind) {
	case TX_CREATE:
		dg_op(c, op, false);
		apply_create(c, t, op, r);
		dg_op(c, op, true);
		break;
	case TX_DELETE:
		apply_delete(c, t, op); /* delete_node keeps the digest */
		break;
	case TX_SETDATA:
		dg_op(c, op, false);
		apply_setdata(c, t, op, r);
		dg_op(c, op, true);
		break;
	case TX_SETACL:
		dg_op(c, op, false);
		apply_setacl(c, t, op, r);
		dg_op(c, op, true);
		break;
	case TX_CHECK:
		break;
	case TX_ERROR:
		if (r)
			r->err = op->err;
		break;
	case TX_SESSION_OPEN: {
		struct session *s = session_get(&c->sessions, op->owner);
		if (!s->applied) {
			s->applied = true;
			c->sessions.applied++;
		}
		s->timeout = op->version;
		break;
	}
	case TX_SESSION_CLOSE:
		apply_session_close(c, t, op->owner);
		break;
	}
}

void core_apply(struct core *c, const struct core_txn *t, struct zk_response *reply)
{
	if (reply) {
		reply->zxid = t->zxid;
		reply->err = 0;
		reply->r.type = t->type;
		reply->r.data_len = -1;
	}
	if (t->err) {
		if (reply)
			reply->err = t->err;
	} else if (t->type == ZOP_MULTI) {
		struct zk_result *res = NULL;
		if (reply && t->nops) {
			res = xcalloc((size_t)t->nops, sizeof(*res));
			for (int32_t i = 0; i < t->nops; i++)
				res[i].data_len = -1;
			reply->res = res;
			reply->nres = t->nops;
		}
		for (int32_t i = 0; i < t->nops; i++)
			apply_op(c, t, &t->ops[i], res ? &res[i] : NULL);
	} else {
		for (int32_t i = 0; i < t->nops; i++)
			apply_op(c, t, &t->ops[i], reply && i == 0 ? &reply->r : NULL);
		if (reply)
			reply->r.type = t->type;
	}
	if (t->zxid > c->last_zxid)
		c->last_zxid = t->zxid;
	if (c->cfg.digest && t->has_digest && (uint64_t)t->digest != c->digest) {
		/* the leader's tree after this txn differs from ours */
		if (!c->dg_mismatches++)
			c->dg_mismatch_zxid = t->zxid;
	}
	if (c->outstanding) {
		c->outstanding--;
		while (c->lhead && c->lhead->zxid <= t->zxid) {
			struct chrec *r = c->lhead;
			rec_unlink(c, r);
			chrec_free(r);
		}
	} else if (c->next_zxid <= c->last_zxid) {
		c->next_zxid = c->last_zxid + 1;
	}
}

/* ================================================================ reads */

static struct tnode *find_str(const struct core *c, const char *path)
{
	if (!path)
		return NULL;
	size_t len = strlen(path);
	if (len == 0)
		return c->tree.root; /* ZooKeeper reads "" as the root */
	if (!zk_path_valid(path, len))
		return NULL;
	return tree_find(&c->tree, path, len);
}

static const struct zk_acl_vec *node_acl(const struct core *c, const struct tnode *n)
{
	return acl_get(&c->acls, n->acl);
}

static int read_getdata(struct core *c, const struct core_auth *auth, struct core_watcher *w,
			const struct zk_op *op, struct zk_result *r)
{
	struct tnode *n = find_str(c, op->path);
	if (!n)
		return ZE_NONODE;
	if (!acl_check(node_acl(c, n), auth, ZK_PERM_READ))
		return ZE_NOAUTH;
	if (op->watch && w)
		watch_add(&c->watches, op->path, strlen(op->path), w, W_DATA);
	r->data_len = n->data_len;
	if (n->data_len > 0)
		r->data = xmemdup(tnode_data(n), (size_t)n->data_len);
	tree_stat(n, &r->stat);
	return 0;
}

static int read_children(struct core *c, const struct core_auth *auth, struct core_watcher *w,
			 const struct zk_op *op, struct zk_result *r, bool with_stat)
{
	struct tnode *n = find_str(c, op->path);
	if (!n)
		return ZE_NONODE;
	if (!acl_check(node_acl(c, n), auth, ZK_PERM_READ))
		return ZE_NOAUTH;
	if (op->watch && w)
		watch_add(&c->watches, op->path, strlen(op->path), w, W_CHILD);
	uint32_t nk = tnode_nkids(n);
	r->children.n = (int32_t)nk;
	if (nk) {
		r->children.v = xmalloc(nk * sizeof(char *));
		for (uint32_t i = 0; i < nk; i++) {
			const struct tnode *k = tnode_kid(n, i);
			r->children.v[i] = xstrndup(k->name, k->name_len);
		}
	}
	if (with_stat)
		tree_stat(n, &r->stat);
	return 0;
}

static int read_getacl(struct core *c, const struct core_auth *auth, const struct zk_op *op,
		       struct zk_result *r)
{
	struct tnode *n = find_str(c, op->path);
	if (!n)
		return ZE_NONODE;
	const struct zk_acl_vec *acl = node_acl(c, n);
	if (!acl_check(acl, auth, ZK_PERM_READ | ZK_PERM_ADMIN))
		return ZE_NOAUTH;
	if (zk_acl_vec_copy(&r->acl, acl))
		xmem_oom(0);
	if (!acl_check(acl, auth, ZK_PERM_ADMIN)) {
		/* readers without ADMIN don't get password hashes */
		for (int32_t i = 0; i < r->acl.n; i++) {
			struct zk_id *id = &r->acl.v[i].id;
			if (strcmp(id->scheme, "digest"))
				continue;
			char *colon = strchr(id->id, ':');
			if (colon) {
				size_t ul = (size_t)(colon - id->id);
				char *m = xmalloc(ul + 3);
				memcpy(m, id->id, ul);
				memcpy(m + ul, ":x", 3);
				free(id->id);
				id->id = m;
			}
		}
	}
	tree_stat(n, &r->stat);
	return 0;
}

struct eph_collect {
	struct zk_str_vec *v;
	const char *prefix;
	size_t plen;
	int32_t cap;
};

static int read_ephemerals(struct core *c, int64_t sid, const struct zk_op *op, struct zk_result *r)
{
	const char *prefix = op->path ? op->path : "/";
	size_t plen = strlen(prefix);
	if (plen == 1 && prefix[0] == '/')
		plen = 0;
	struct session *s = session_find(&c->sessions, sid);
	if (!s || !s->neph)
		return 0;
	r->children.v = xmalloc(s->neph * sizeof(char *));
	for (uint32_t i = 0; i < s->neph; i++) {
		char *p = tree_path_dup(s->eph[i]);
		if (plen && strncmp(p, prefix, plen) != 0) {
			free(p);
			continue;
		}
		r->children.v[r->children.n++] = p;
	}
	return 0;
}

static void add_whoami(const struct core_auth *auth, struct zk_result *r)
{
	if (!auth || auth->n == 0)
		return;
	r->info = xcalloc((size_t)auth->n, sizeof(*r->info));
	for (int i = 0; i < auth->n; i++) {
		const struct core_auth_id *id = &auth->ids[i];
		r->info[i].auth_scheme = xstrdup(id->scheme);
		/* ZooKeeper shows the provider's user name, not the ACL id: for
		 * digest that is the part before ':' (the id keeps the hash) */
		const char *colon = strcmp(id->scheme, "digest") ? NULL : strchr(id->id, ':');
		/* super has no provider there: its user shows empty, whoever it is */
		r->info[i].user = colon			       ? xstrndup(id->id, (size_t)(colon - id->id))
				  : !strcmp(id->scheme, "super") ? xstrdup("")
								 : xstrdup(id->id);
	}
	r->ninfo = auth->n;
}

static void set_watches(struct core *c, struct core_watcher *w, const struct zk_request *req)
{
	const int64_t rel = req->rel_zxid;
	const struct core_hooks *h = &c->cfg.hooks;
	int nvec = req->type == ZOP_SETWATCHES ? 3 : 5;
	for (int k = 0; k < nvec; k++) {
		const struct zk_str_vec *v = &req->watches[k];
		for (int32_t i = 0; i < v->n; i++) {
			const char *p = v->v[i];
			size_t len = strlen(p);
			if (!zk_path_valid(p, len))
				continue;
			struct tnode *n = tree_find(&c->tree, p, len);
			int32_t ev = 0;
			uint8_t bits = 0;
			switch (k) {
			case ZK_SW_DATA:
				if (!n)
					ev = ZK_EVENT_DELETED;
				else if (n->mzxid > rel)
					ev = ZK_EVENT_DATA_CHANGED;
				else
					bits = W_DATA;
				break;
			case ZK_SW_EXIST:
				if (n)
					ev = ZK_EVENT_CREATED;
				else
					bits = W_DATA;
				break;
			case ZK_SW_CHILD:
				if (!n)
					ev = ZK_EVENT_DELETED;
				else if (tnode_pzxid(n) > rel)
					ev = ZK_EVENT_CHILD_CHANGED;
				else
					bits = W_CHILD;
				break;
			case ZK_SW_PERSISTENT:
				bits = W_PERSIST;
				break;
			case ZK_SW_PERSISTENT_RECURSIVE:
				bits = W_RECURSIVE;
				break;
			}
			if (bits && w)
				watch_add(&c->watches, p, len, w, bits);
			if (ev && w && h->notify)
				h->notify(h->arg, w, ev, p, c->last_zxid);
		}
	}
}

static int read_one(struct core *c, int64_t sid, const struct core_auth *auth,
		    struct core_watcher *w, const struct zk_request *req, struct zk_result *r)
{
	const struct zk_op *op = &req->op;
	switch (req->type) {
	case ZOP_EXISTS: {
		struct tnode *n = find_str(c, op->path);
		size_t len = op->path ? strlen(op->path) : 0;
		if (op->watch && w && op->path && zk_path_valid(op->path, len))
			watch_add(&c->watches, op->path, len, w, W_DATA);
		if (!n)
			return ZE_NONODE;
		tree_stat(n, &r->stat);
		return 0;
	}
	case ZOP_GETDATA:
		return read_getdata(c, auth, w, op, r);
	case ZOP_GETCHILDREN:
		return read_children(c, auth, w, op, r, false);
	case ZOP_GETCHILDREN2:
		return read_children(c, auth, w, op, r, true);
	case ZOP_GETACL:
		return read_getacl(c, auth, op, r);
	case ZOP_GETALLCHILDRENNUMBER: {
		struct tnode *n = find_str(c, op->path);
		if (!n)
			return ZE_NONODE;
		if (!acl_check(node_acl(c, n), auth, ZK_PERM_READ))
			return ZE_NOAUTH;
		r->number = (int32_t)tree_count_descendants(n);
		return 0;
	}
	case ZOP_GETEPHEMERALS:
		return read_ephemerals(c, sid, op, r);
	case ZOP_WHOAMI:
		add_whoami(auth, r);
		return 0;
	case ZOP_SYNC:
		r->path = xstrdup(op->path ? op->path : "/");
		return 0;
	case ZOP_CHECKWATCHES:
	case ZOP_REMOVEWATCHES: {
		/* no path validation: a bad path simply has no watch */
		size_t len = op->path ? strlen(op->path) : 0;
		uint8_t bits = watch_type_bits(op->mode);
		if (!bits)
			return ZE_MARSHALLINGERROR; /* as ZooKeeper answers an unknown type */
		if (!op->path)
			return ZE_BADARGUMENTS;
		bool had = req->type == ZOP_CHECKWATCHES
			       ? watch_has(&c->watches, op->path, len, w, bits)
			       : watch_remove(&c->watches, op->path, len, w, bits);
		return had ? 0 : ZE_NOWATCHER;
	}
	case ZOP_ADDWATCH: {
		size_t len = op->path ? strlen(op->path) : 0;
		uint8_t bits = 0;
		if (op->mode == ZK_ADDWATCH_PERSISTENT)
			bits = W_PERSIST;
		else if (op->mode == ZK_ADDWATCH_PERSISTENT_RECURSIVE)
			bits = W_RECURSIVE;
		if (!bits)
			return ZE_MARSHALLINGERROR; /* as ZooKeeper answers an unknown mode */
		if (!op->path || !len)
			return ZE_BADARGUMENTS;
		if (w)
			watch_add(&c->watches, op->path, len, w, bits);
		r->err = 0;
		return 0;
	}
	case ZOP_SETWATCHES:
	case ZOP_SETWATCHES2:
		set_watches(c, w, req);
		return 0;
	}
	return -EINVAL;
}

int core_read(struct core *c, int64_t session_id, const struct core_auth *auth,
	      struct core_watcher *w, const struct zk_request *req, struct zk_response *out)
{
	if (w)
		w->auth = auth; /* its watches fire only where these may READ */
	out->zxid = c->last_zxid;
	out->err = 0;
	out->r.type = req->type;
	out->r.data_len = -1;
	if (req->type == ZOP_MULTIREAD) {
		if (!multi_ops_ok(req, true)) {
			out->err = ZE_MARSHALLINGERROR;
			return 0;
		}
		if (req->nops) {
			out->res = xcalloc((size_t)req->nops, sizeof(*out->res));
			out->nres = req->nops;
		}
		for (int32_t i = 0; i < req->nops; i++) {
			const struct zk_op *op = &req->ops[i];
			struct zk_result *r = &out->res[i];
			r->data_len = -1;
			int rc;
			if (op->type == ZOP_GETDATA)
				rc = read_getdata(c, auth, w, op, r);
			else if (op->type == ZOP_GETCHILDREN)
				rc = read_children(c, auth, w, op, r, false);
			else
				rc = ZE_MARSHALLINGERROR;
			if (rc) {
				zk_result_free(r);
				r->type = ZOP_ERROR;
				r->err = rc;
			} else {
				r->type = op->type;
			}
		}
		return 0;
	}
	int rc = read_one(c, session_id, auth, w, req, &out->r);
	if (rc == -EINVAL)
		return -EINVAL;
	if (rc) {
		zk_result_free(&out->r);
		out->r.type = req->type;
		out->r.data_len = -1;
		out->err = rc;
	}
	return 0;
}

void core_watcher_gone(struct core *c, struct core_watcher *w)
{
	watch_gone(&c->watches, w);
	w->auth = NULL;
}

/* ================================================================ sessions */

/* java.util.Random(seed).nextBytes(16): ZooKeeper's generatePasswd. */
static void zk_password(int64_t sid, uint8_t out[16])
{
	const uint64_t mask = (1ull << 48) - 1;
	uint64_t seed = (((uint64_t)sid ^ 0xB3415C00ull) ^ 0x5DEECE66Dull) & mask;
	for (int i = 0; i < 16;) {
		seed = (seed * 0x5DEECE66Dull + 0xBull) & mask;
		uint32_t rnd = (uint32_t)(seed >> 16);
		for (int n = 0; n < 4 && i < 16; n++, rnd >>= 8)
			out[i++] = (uint8_t)rnd;
	}
}

void core_session_password(const struct core *c, int64_t sid, uint8_t out[16])
{
	if (c->cfg.zk_passwords) {
		zk_password(sid, out);
		return;
	}
	uint8_t buf[24], md[SHA_DIGEST_LENGTH];
	memcpy(buf, c->cfg.session_secret, 16);
	for (int i = 0; i < 8; i++)
		buf[16 + i] = (uint8_t)((uint64_t)sid >> (56 - 8 * i));
	SHA1(buf, sizeof(buf), md);
	memcpy(out, md, 16);
}

int core_session_validate(const struct core *c, int64_t sid, const uint8_t passwd[16],
			  int32_t *timeout_out)
{
	const struct session *s = session_find(&c->sessions, sid);
	if (!s || s->closing)
		return -ENOENT;
	uint8_t pw[16];
	core_session_password(c, sid, pw);
	if (memcmp(pw, passwd, 16) != 0)
		return -EACCES;
	if (timeout_out)
		*timeout_out = s->timeout;
	return 0;
}

bool core_session_live(const struct core *c, int64_t sid)
{
	const struct session *s = session_find(&c->sessions, sid);
	return s && !s->closing;
}

int core_session_touch(struct core *c, int64_t sid, int64_t now_ms)
{
	struct session *s = session_find(&c->sessions, sid);
	if (!s || s->closing)
		return -ENOENT;
	session_track(&c->sessions, s, now_ms);
	return 0;
}

int core_session_expired(struct core *c, int64_t now_ms, void (*cb)(void *arg, int64_t sid),
			 void *arg)
{
	return session_expire(&c->sessions, now_ms, cb, arg);
}

struct restart_arg {
	struct core *c;
	int64_t now;
};

static void restart_one(void *arg, struct session *s)
{
	struct restart_arg *ra = arg;
	if (!s->closing)
		session_track(&ra->c->sessions, s, ra->now);
}

static int relink_one(void *arg, const struct tnode *cn)
{
	struct core *c = arg;
	struct tnode *n = (struct tnode *)cn;
	if (n->kind == TN_EPHEMERAL && n->aux == UINT32_MAX) {
		struct session *s = session_find(&c->sessions, tnode_owner(n));
		if (s)
			session_eph_add(&c->sessions, s, n);
	}
	return 0;
}

void core_session_restart_tracking(struct core *c, int64_t now_ms)
{
	/* ephemerals a fuzzy snapshot held before their session's open txn
	 * (replayed since) join their session now */
	if (c->eph_orphans) {
		tree_walk(c->tree.root, relink_one, c);
		c->eph_orphans = 0;
	}
	struct restart_arg ra = {c, now_ms};
	session_each(&c->sessions, restart_one, &ra);
}

/* ================================================================ reaping */

struct reap_arg {
	int64_t now;
	void (*cb)(void *arg, const char *path);
	void *arg;
	int count;
	char *buf;
	size_t cap;
};

static int reap_one(void *arg, const struct tnode *n)
{
	struct reap_arg *ra = arg;
	if (tnode_nkids(n))
		return 0;
	bool reap = (n->kind == TN_CONTAINER && n->cversion > 0) ||
		    (n->kind == TN_TTL && ra->now - n->mtime > tnode_ttl(n));
	if (!reap)
		return 0;
	size_t len = tree_path(n, NULL, 0);
	if (len + 1 > ra->cap) {
		ra->cap = len + 64;
		ra->buf = xrealloc(ra->buf, ra->cap);
	}
	tree_path(n, ra->buf, ra->cap);
	ra->cb(ra->arg, ra->buf);
	ra->count++;
	return 0;
}

int core_reap(struct core *c, int64_t now_ms, void (*cb)(void *arg, const char *path), void *arg)
{
	struct reap_arg ra = {now_ms, cb, arg, 0, NULL, 0};
	if (c->nreapable == 0)
		return 0;
	tree_walk(c->tree.root, reap_one, &ra);
	free(ra.buf);
	return ra.count;
}

/* ================================================================ snapshots */

enum {
	SNAP_HEADER = 1,
	SNAP_ACL = 2,
	SNAP_SESSION = 3,
	SNAP_NODE = 4,
	SNAP_END = 5,
};
/* Format 1: point-in-time images (ACL records carry their reference
 * counts).  Format 2: fuzzy (ACL records come just before the first node
 * using them, may come again for a slot recycled during the walk, and the
 * loader counts references from the nodes). */
#define SNAP_FORMAT 2

struct core_snap {
	struct core *c;
	int (*emit)(void *arg, const void *rec, size_t len);
	void *arg;
	int64_t zxid;
	struct tree_walker walk;
	struct jute_out o;
	char *pbuf;
	size_t pcap;
	uint64_t *acl_mark; /* per ACL slot: its gen + 1 when written, 0 = not yet */
	uint32_t nmark;
	uint64_t nodes;
	bool done;
};

static int snap_flush(struct core_snap *sa)
{
	if (sa->o.err)
		return sa->o.err;
	int rc = sa->emit(sa->arg, sa->o.buf, sa->o.len);
	jute_out_reset(&sa->o);
	return rc;
}

/* The ACL record of slot idx unless this snapshot already holds the
 * slot's current incarnation. */
static int snap_acl(struct core_snap *sa, uint32_t idx)
{
	const struct acl_store *st = &sa->c->acls;
	if (idx <= ACL_READ || idx >= st->n || !st->v[idx].refs)
		return 0;
	if (idx >= sa->nmark) {
		uint32_t n = sa->nmark ? sa->nmark : 64;
		while (n <= idx)
			n *= 2;
		sa->acl_mark = xrealloc(sa->acl_mark, n * sizeof(*sa->acl_mark));
		memset(sa->acl_mark + sa->nmark, 0, (n - sa->nmark) * sizeof(*sa->acl_mark));
		sa->nmark = n;
	}
	uint64_t mark = (uint64_t)st->v[idx].gen + 1;
	if (sa->acl_mark[idx] == mark)
		return 0;
	sa->acl_mark[idx] = mark;
	jute_put_int(&sa->o, SNAP_ACL);
	jute_put_int(&sa->o, (int32_t)idx);
	jute_put_long(&sa->o, 0);
	zk_acl_vec_put(&sa->o, &st->v[idx].acl);
	return snap_flush(sa);
}

static int snap_node(struct core_snap *sa, const struct tnode *n)
{
	int rc = snap_acl(sa, n->acl);
	if (rc)
		return rc;
	size_t len = tree_path(n, NULL, 0);
	if (len + 1 > sa->pcap) {
		sa->pcap = len + 64;
		sa->pbuf = xrealloc(sa->pbuf, sa->pcap);
	}
	tree_path(n, sa->pbuf, sa->pcap);
	jute_put_int(&sa->o, SNAP_NODE);
	jute_put_stringn(&sa->o, sa->pbuf, len);
	jute_put_buffer(&sa->o, n->data_len > 0 ? tnode_data(n) : NULL, n->data_len);
	jute_put_int(&sa->o, (int32_t)n->acl);
	jute_put_long(&sa->o, n->czxid);
	jute_put_long(&sa->o, n->mzxid);
	jute_put_long(&sa->o, tnode_pzxid(n));
	jute_put_long(&sa->o, n->ctime);
	jute_put_long(&sa->o, n->mtime);
	jute_put_int(&sa->o, n->version);
	jute_put_int(&sa->o, n->cversion);
	jute_put_int(&sa->o, n->aversion);
	jute_put_int(&sa->o, n->kind);
	/* the session of an ephemeral, the ttl of a TTL node, else 0 */
	jute_put_long(&sa->o, n->kind == TN_TTL ? tnode_ttl(n) : tnode_owner(n));
	sa->nodes++;
	return snap_flush(sa);
}

struct snap_sess {
	struct core_snap *sa;
	int rc;
};

static void snap_session(void *arg, struct session *s)
{
	struct snap_sess *ss = arg;
	if (ss->rc || !s->applied)
		return;
	jute_put_int(&ss->sa->o, SNAP_SESSION);
	jute_put_long(&ss->sa->o, s->sid);
	jute_put_int(&ss->sa->o, s->timeout);
	ss->rc = snap_flush(ss->sa);
}

/* live: the tree may change between steps, so the walker is registered
 * with it (one at a time); a snapshot taken in one call needs no hooks. */
static int snap_begin(struct core *c, int (*emit)(void *arg, const void *rec, size_t len),
		      void *arg, struct core_snap **out, bool live)
{
	struct core_snap *sa = xcalloc(1, sizeof(*sa));
	sa->c = c;
	sa->emit = emit;
	sa->arg = arg;
	sa->zxid = c->last_zxid;
	jute_out_init(&sa->o);
	if (live)
		tree_walker_start(&c->tree, &sa->walk);
	*out = sa;
	jute_put_int(&sa->o, SNAP_HEADER);
	jute_put_int(&sa->o, SNAP_FORMAT);
	jute_put_long(&sa->o, sa->zxid);
	jute_put_long(&sa->o, (int64_t)c->tree.count);
	jute_put_long(&sa->o, (int64_t)c->sessions.applied);
	int rc = snap_flush(sa);
	if (rc)
		return rc;
	/* the session table as of the tag: sessions opened or closed later
	 * are in the txns after it */
	struct snap_sess ss = {sa, 0};
	session_each(&c->sessions, snap_session, &ss);
	return ss.rc;
}

int core_snapshot_begin(struct core *c, int (*emit)(void *arg, const void *rec, size_t len),
			void *arg, struct core_snap **out)
{
	return snap_begin(c, emit, arg, out, true);
}

int core_snapshot_step(struct core_snap *sa, size_t max_nodes)
{
	if (sa->done)
		return 1;
	for (size_t i = 0; i < max_nodes; i++) {
		const struct tnode *n = tree_walker_next(&sa->c->tree, &sa->walk);
		if (!n) {
			jute_put_int(&sa->o, SNAP_END);
			jute_put_long(&sa->o, sa->zxid);
			int rc = snap_flush(sa);
			if (rc)
				return rc;
			sa->done = true;
			return 1;
		}
		int rc = snap_node(sa, n);
		if (rc)
			return rc;
	}
	return 0;
}

int64_t core_snapshot_zxid(const struct core_snap *sa)
{
	return sa->zxid;
}

uint64_t core_snapshot_nodes(const struct core_snap *sa)
{
	return sa->nodes;
}

void core_snapshot_end(struct core_snap *sa)
{
	if (!sa)
		return;
	tree_walker_stop(&sa->c->tree, &sa->walk);
	jute_out_free(&sa->o);
	free(sa->pbuf);
	free(sa->acl_mark);
	free(sa);
}

int core_snapshot_write(const struct core *c,
			int (*emit)(void *arg, const void *rec, size_t len), void *arg)
{
	struct core_snap *sa;
	int rc = snap_begin((struct core *)c, emit, arg, &sa, false);
	while (rc == 0)
		rc = core_snapshot_step(sa, SIZE_MAX);
	core_snapshot_end(sa);
	return rc < 0 ? rc : 0;
}

int core_snapshot_acls(const struct core *c,
		       int (*emit)(void *arg, const void *rec, size_t len), void *arg)
{
	const struct acl_store *st = &c->acls;
	struct jute_out o;
	jute_out_init(&o);
	int rc = 0;
	for (uint32_t i = ACL_READ + 1; i < st->n && !rc; i++) {
		if (!st->v[i].refs)
			continue;
		jute_put_int(&o, SNAP_ACL);
		jute_put_int(&o, (int32_t)i);
		jute_put_long(&o, 0);
		zk_acl_vec_put(&o, &st->v[i].acl);
		rc = o.err ? o.err : emit(arg, o.buf, o.len);
		jute_out_reset(&o);
	}
	jute_out_free(&o);
	return rc;
}

/* Deletes every descendant of n (a fuzzy snapshot's earlier incarnation of
 * a path: its children were deleted before it was, so none is current;
 * the txns that deleted them are replayed after the load, harmlessly). */
static void drop_subtree(struct core *c, struct tnode *n)
{
	while (tnode_nkids(n)) {
		struct tnode *x = n;
		while (tnode_nkids(x))
			x = tnode_kid(x, tnode_nkids(x) - 1);
		delete_node(c, x, 0);
	}
}

static int load_node(struct core *c, struct jute_in *in)
{
	char *path = jute_get_string_dup(in);
	int32_t dlen;
	const uint8_t *data;
	jute_get_buffer(in, &data, &dlen);
	uint32_t acl = (uint32_t)jute_get_int(in);
	int64_t czxid = jute_get_long(in), mzxid = jute_get_long(in), pzxid = jute_get_long(in);
	int64_t ctime = jute_get_long(in), mtime = jute_get_long(in);
	int32_t version = jute_get_int(in), cversion = jute_get_int(in),
		aversion = jute_get_int(in);
	int32_t kind = jute_get_int(in);
	int64_t owner = jute_get_long(in);
	int rc = -EBADMSG;
	if (in->err || !path || jute_in_left(in) || kind < 0 || kind > TN_TTL)
		goto out;
	size_t len = strlen(path);
	if (!zk_path_valid(path, len) || !tree_name_ok(path, len) || !acl_get(&c->acls, acl))
		goto out;
	/* An ephemeral has no children and its pzxid is its czxid: the tree
	 * has no room for anything else (tree.h). */
	if (kind == TN_EPHEMERAL && pzxid != czxid)
		goto out;
	struct tnode *n = tree_find(&c->tree, path, len);
	if (!n) {
		size_t plen = zk_path_parent_len(path, len);
		struct tnode *parent;
		if (c->load_last && tree_is(c->load_last, path, plen))
			parent = c->load_last; /* its first child */
		else if (c->load_parent && tree_is(c->load_parent, path, plen))
			parent = c->load_parent; /* its next sibling */
		else
			parent = tree_find(&c->tree, path, plen);
		if (!parent || parent->kind == TN_EPHEMERAL)
			goto out;
		n = tree_add(&c->tree, parent, path, len, data, dlen);
	} else {
		/* the path again (fuzzy: deleted and created anew during the
		 * walk): the later record wins */
		if (c->load_format >= 2 && n->czxid != czxid)
			drop_subtree(c, n);
		if (kind == TN_EPHEMERAL && tnode_nkids(n))
			goto out;
		dg_out(c, n);
		n = set_data(c, n, data, dlen);
		if (n->kind == TN_EPHEMERAL) {
			struct session *s = session_find(&c->sessions, tnode_owner(n));
			if (s)
				session_eph_del(&c->sessions, s, n);
		}
		if (c->load_format >= 2)
			acl_unref(&c->acls, n->acl);
		if (n->kind == TN_CONTAINER || n->kind == TN_TTL)
			c->nreapable--; /* an existing node being overwritten */
	}
	/* format 1 counted node references into the ACL records' refs */
	if (c->load_format >= 2)
		acl_ref(&c->acls, acl);
	n->acl = acl;
	/* kind first (it may drop the children block), then czxid, then
	 * pzxid (a block is made when it differs from czxid) */
	tree_set_kind(n, (enum tnode_kind)kind, owner); /* checked above: cannot fail */
	n->czxid = czxid;
	tree_set_pzxid(n, pzxid); /* checked above: cannot fail */
	n->mzxid = mzxid;
	n->ctime = ctime;
	n->mtime = mtime;
	n->version = version;
	n->cversion = cversion;
	n->aversion = aversion;
	if (kind == TN_CONTAINER || kind == TN_TTL)
		c->nreapable++;
	if (c->cfg.digest)
		c->digest += tnode_zh(n, path, len);
	c->load_last = n;
	c->load_parent = n->parent;
	if (kind == TN_EPHEMERAL) {
		struct session *s = session_find(&c->sessions, owner);
		if (s) {
			session_eph_add(&c->sessions, s, n);
		} else {
			n->aux = UINT32_MAX; /* its session opens in a later txn */
			c->eph_orphans++;
		}
	}
	rc = 0;
out:
	free(path);
	return rc;
}

int core_snapshot_load(struct core *c, const void *rec, size_t len)
{
	struct jute_in in;
	jute_in_init(&in, rec, len);
	int32_t kind = jute_get_int(&in);
	switch (kind) {
	case SNAP_HEADER: {
		int32_t format = jute_get_int(&in);
		if (format != 1 && format != SNAP_FORMAT)
			return -EBADMSG;
		c->load_format = format;
		int64_t zxid = jute_get_long(&in);
		int64_t nodes = jute_get_long(&in);
		(void)jute_get_long(&in);
		if (in.err)
			return -EBADMSG;
		c->last_zxid = zxid;
		/* the file's checksums are verified before its records come
		 * (snap.c): the count is what the writer's tree held */
		if (nodes > 0)
			tree_reserve(&c->tree, (uint64_t)nodes);
		return 0;
	}
	case SNAP_ACL: {
		uint32_t idx = (uint32_t)jute_get_int(&in);
		int64_t refs = jute_get_long(&in);
		struct zk_acl_vec v;
		if (zk_acl_vec_get(&in, &v) || jute_in_left(&in) || refs < 0 ||
		    (c->load_format == 1 && refs == 0))
			return -EBADMSG;
		int rc;
		if (c->load_format == 1) {
			rc = acl_store_set(&c->acls, idx, &v, (uint64_t)refs);
		} else if (acl_get(&c->acls, idx) && idx > ACL_READ) {
			rc = acl_store_replace(&c->acls, idx, &v); /* recycled meanwhile */
		} else {
			/* pinned (one reference) until the end record: nodes add
			 * theirs, and one overwritten by a later record must not free
			 * the slot under the nodes still to come */
			rc = acl_store_set(&c->acls, idx, &v, 1);
			if (!rc && idx > ACL_READ) {
				if (c->npins == c->pins_cap) {
					c->pins_cap = c->pins_cap ? c->pins_cap * 2 : 16;
					c->load_pins = xrealloc(c->load_pins,
								c->pins_cap * sizeof(*c->load_pins));
				}
				c->load_pins[c->npins++] = idx;
			}
		}
		zk_acl_vec_free(&v);
		return rc ? -EBADMSG : 0;
	}
	case SNAP_SESSION: {
		int64_t sid = jute_get_long(&in);
		int32_t to = jute_get_int(&in);
		if (in.err || jute_in_left(&in))
			return -EBADMSG;
		struct session *s = session_get(&c->sessions, sid);
		if (!s->applied) {
			s->applied = true;
			c->sessions.applied++;
		}
		s->timeout = to;
		return 0;
	}
	case SNAP_NODE:
		return load_node(c, &in);
	case SNAP_END: {
		int64_t zxid = jute_get_long(&in);
		if (in.err)
			return -EBADMSG;
		c->last_zxid = zxid;
		if (c->next_zxid <= zxid)
			c->next_zxid = zxid + 1;
		for (uint32_t i = 0; i < c->npins; i++)
			acl_unref(&c->acls, c->load_pins[i]);
		free(c->load_pins);
		c->load_pins = NULL;
		c->npins = c->pins_cap = 0;
		return 1;
	}
	}
	return -EBADMSG;
}

/* ================================================================ stats */

void core_get_stats(const struct core *c, struct core_stats *st)
{
	memset(st, 0, sizeof(*st));
	/* ZooKeeper's node map holds the root twice (as "" and "/") and every
	 * count it reports includes both; monitoring compares against it */
	st->nodes = c->tree.count + 1;
	st->watches = c->watches.nsides;
	st->watch_paths = c->watches.npaths;
	st->watchers = c->watches.nwatchers;
	st->ephemerals = c->sessions.neph;
	st->data_size = c->tree.data_size;
	st->sessions = c->sessions.applied;
	st->last_zxid = c->last_zxid;
	st->digest = (int64_t)c->digest;
	st->digest_mismatches = c->dg_mismatches;
	st->digest_mismatch_zxid = c->dg_mismatch_zxid;
}

void core_wchs(struct core *c, uint64_t *watchers, uint64_t *paths, uint64_t *watches)
{
	watch_data_summary(&c->watches, watchers, paths, watches);
}

void core_watches_by_path(const struct core *c,
			  void (*cb)(void *arg, const char *path, struct core_watcher *w),
			  void *arg)
{
	watch_each_by_path(&c->watches, cb, arg);
}

void core_watches_of(const struct core *c, const struct core_watcher *w,
		     void (*cb)(void *arg, const char *path), void *arg)
{
	(void)c;
	watch_each_of(w, cb, arg);
}

struct sess_arg {
	void (*cb)(void *arg, int64_t sid, int32_t timeout_ms, uint32_t nephemerals);
	void *arg;
};

static void sess_one(void *arg, struct session *s)
{
	struct sess_arg *sa = arg;
	if (s->applied)
		sa->cb(sa->arg, s->sid, s->timeout, s->neph);
}

void core_sessions_each(const struct core *c,
			void (*cb)(void *arg, int64_t sid, int32_t timeout_ms,
				   uint32_t nephemerals),
			void *arg)
{
	struct sess_arg sa = {cb, arg};
	session_each(&c->sessions, sess_one, &sa);
}

void core_session_ephemerals(const struct core *c, int64_t sid,
			     void (*cb)(void *arg, const char *path), void *arg)
{
	const struct session *s = session_find(&c->sessions, sid);
	if (!s)
		return;
	for (uint32_t i = 0; i < s->neph; i++) {
		char *p = tree_path_dup(s->eph[i]);
		cb(arg, p);
		free(p);
	}
}
