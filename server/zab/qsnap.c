/*
 * qsnap.c — a core's tree as ZooKeeper's DataTree serialization (fact
 * sheet §5.1: what follows a SNAP packet, and the body of a snapshot
 * file, §5.2), both ways, and ZooKeeper's tree digest of a core.
 *
 * Both directions go through the core's own snapshot records
 * (core_snapshot_write / core_snapshot_load): they carry every stored
 * value a ZooKeeper node has (stored cversion, pzxid, ACL slot, kind and
 * owner or ttl), cost one record per node, and keep this file out of the
 * core's private structs.  The record layout below mirrors core.c's
 * "snapshots" section; the round-trip tests catch any drift.
 *
 * Mapping:
 *   - ACL slots: the core's slot 0 (OPEN_ACL_UNSAFE) is ZooKeeper's -1
 *     (which it reads as OPEN_ACL_UNSAFE and keeps no entry for); every
 *     other slot keeps its number as the ACL map's index (slot 1,
 *     READ_ACL_UNSAFE, is /zookeeper/config's, index 1 as in Apache).
 *     Reading, lists equal to those two land in slots 0 and 1, other
 *     indices keep their number when it is small and free.
 *   - kinds: ephemeralOwner = session, 0x8000000000000000 (container),
 *     0xff00000000000000 | ttl (TTL, only with extended types: as
 *     EphemeralType.get reads it).
 *   - the root is "" in ZooKeeper, "/" in the core; ZooKeeper's empty data
 *     ([]) and the core's null are the same to the digest and to clients.
 * The ZooKeeper stream has no node count, so a core built from it grows
 * its index as nodes come (a few rehashes at a million nodes).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qcodec.h"
#include "tree.h"
#include "xmem.h"

/* core.c's snapshot record kinds and format (see the file comment) */
enum { CR_HEADER = 1, CR_ACL = 2, CR_SESSION = 3, CR_NODE = 4, CR_END = 5 };
#define CR_FORMAT 2

/* One node record of core_snapshot_write, pointing into the record. */
struct cnode {
	const char *path;
	size_t plen;
	const uint8_t *data;
	int32_t dlen;
	uint32_t acl;
	int32_t kind;
	int64_t owner; /* session, or ttl */
	struct dg_stat st;
};

static int parse_cnode(const uint8_t *r, size_t len, struct cnode *n)
{
	size_t at = 4;
	if (len < at + 4)
		return -EBADMSG;
	int32_t pl = (int32_t)jute_load32(r + at);
	at += 4;
	if (pl < 0 || len - at < (size_t)pl + 4)
		return -EBADMSG;
	n->path = (const char *)r + at;
	n->plen = (size_t)pl;
	at += (size_t)pl;
	n->dlen = (int32_t)jute_load32(r + at);
	at += 4;
	if (n->dlen < -1 || (n->dlen > 0 && len - at < (size_t)n->dlen))
		return -EBADMSG;
	n->data = r + at;
	if (n->dlen > 0)
		at += (size_t)n->dlen;
	if (len - at != 68)
		return -EBADMSG;
	const uint8_t *q = r + at;
	n->acl = jute_load32(q);
	n->st.czxid = (int64_t)jute_load64(q + 4);
	n->st.mzxid = (int64_t)jute_load64(q + 12);
	n->st.pzxid = (int64_t)jute_load64(q + 20);
	n->st.ctime = (int64_t)jute_load64(q + 28);
	n->st.mtime = (int64_t)jute_load64(q + 36);
	n->st.version = (int32_t)jute_load32(q + 44);
	n->st.cversion = (int32_t)jute_load32(q + 48);
	n->st.aversion = (int32_t)jute_load32(q + 52);
	n->kind = (int32_t)jute_load32(q + 56);
	n->owner = (int64_t)jute_load64(q + 60);
	n->st.ephemeral_owner = dg_zk_owner(n->kind, n->owner);
	return 0;
}

/* ================================================================ digest */

struct dig {
	uint64_t sum;
	int err;
};

static int dig_emit(void *arg, const void *rec, size_t len)
{
	struct dig *d = arg;
	if (len < 4 || jute_load32(rec) != CR_NODE)
		return 0;
	struct cnode n;
	if (parse_cnode(rec, len, &n))
		return d->err = -EBADMSG;
	d->sum += dg_node(n.path, n.plen, n.data, n.dlen, &n.st);
	return 0;
}

int64_t qc_tree_digest(const struct core *c)
{
	struct dig d = {0, 0};
	core_snapshot_write(c, dig_emit, &d);
	return (int64_t)d.sum;
}

/* ================================================================ serialize */

/*
 * The stream is produced in one walk of core_snapshot_write's records,
 * in order, flushed to the caller every `chunk` bytes: sessions come
 * first in those records and are gathered; at the first record after
 * them the session list and the whole ACL map (core_snapshot_acls, by
 * slot; the walk's own ACL records are then skipped) go out, then every
 * node as it comes.  The map always holds the core's fixed slot 1
 * (READ_ACL_UNSAFE, which /zookeeper/config uses): ZooKeeper drops
 * entries no node references when it loads a tree.
 */
struct sput {
	struct jute_out o; /* not yet handed to out() */
	int (*out)(void *arg, const void *buf, size_t len);
	void *arg;
	size_t chunk;
	struct jute_out sess; /* sessions until the prefix is out */
	int32_t nsess;
	bool prefix_done;
	int err;
};

static void put_node(struct jute_out *o, const struct cnode *n)
{
	size_t plen = n->plen == 1 && n->path[0] == '/' ? 0 : n->plen;
	size_t dl = n->dlen > 0 ? (size_t)n->dlen : 0;
	size_t need = 4 + plen + 4 + dl + 8 + 60;
	if (jute_out_reserve(o, need))
		return;
	uint8_t *b = o->buf + o->len;
	jute_store32(b, (uint32_t)plen);
	memcpy(b + 4, n->path, plen);
	b += 4 + plen;
	jute_store32(b, (uint32_t)n->dlen);
	if (dl)
		memcpy(b + 4, n->data, dl);
	b += 4 + dl;
	jute_store64(b, n->acl == 0 ? (uint64_t)-1 : n->acl);
	jute_store64(b + 8, (uint64_t)n->st.czxid);
	jute_store64(b + 16, (uint64_t)n->st.mzxid);
	jute_store64(b + 24, (uint64_t)n->st.ctime);
	jute_store64(b + 32, (uint64_t)n->st.mtime);
	jute_store32(b + 40, (uint32_t)n->st.version);
	jute_store32(b + 44, (uint32_t)n->st.cversion);
	jute_store32(b + 48, (uint32_t)n->st.aversion);
	jute_store64(b + 52, (uint64_t)n->st.ephemeral_owner);
	jute_store64(b + 60, (uint64_t)n->st.pzxid);
	o->len += need;
}

static int sput_flush(struct sput *s, size_t min)
{
	if (s->o.err)
		return s->o.err;
	if (s->o.len < min || !s->o.len)
		return 0;
	int rc = s->out(s->arg, s->o.buf, s->o.len);
	jute_out_reset(&s->o);
	return rc;
}

/* One ACL map entry from a core ACL record (int idx, long refs,
 * vector<ACL>): ZooKeeper's is long index, vector<ACL>. */
static int acl_emit(void *arg, const void *rec, size_t len)
{
	struct sput *s = arg;
	const uint8_t *r = rec;
	if (len < 16 || jute_load32(r) != CR_ACL)
		return -EBADMSG;
	jute_put_long(&s->o, (int64_t)jute_load32(r + 4));
	jute_put_raw(&s->o, r + 16, len - 16);
	s->nsess++; /* counted here while the map is built: see put_prefix */
	return s->o.err;
}

/* Sessions, then the ACL map. */
static int put_prefix(struct sput *s, const struct core *c)
{
	jute_put_int(&s->o, s->nsess);
	jute_put_raw(&s->o, s->sess.buf, s->sess.len);
	jute_out_free(&s->sess);
	size_t count_at = s->o.len;
	jute_put_int(&s->o, 0); /* ACL count, patched */
	s->nsess = 0;
	int rc = core_snapshot_acls(c, acl_emit, s);
	if (rc)
		return rc;
	int32_t nacl = s->nsess + 1;
	/* the core's fixed slot 1: READ_ACL_UNSAFE */
	jute_put_long(&s->o, 1);
	jute_put_int(&s->o, 1);
	jute_put_int(&s->o, ZK_PERM_READ);
	jute_put_string(&s->o, "world");
	jute_put_string(&s->o, "anyone");
	if (s->o.err)
		return s->o.err;
	jute_store32(s->o.buf + count_at, (uint32_t)nacl);
	s->prefix_done = true;
	return 0;
}

struct sput_walk {
	struct sput *s;
	const struct core *c;
};

static int sput_emit(void *arg, const void *rec, size_t len)
{
	struct sput_walk *w = arg;
	struct sput *s = w->s;
	const uint8_t *r = rec;
	if (len < 4)
		return -EBADMSG;
	int32_t kind = (int32_t)jute_load32(r);
	if (kind == CR_SESSION) {
		if (len != 16 || s->prefix_done)
			return -EBADMSG;
		jute_put_raw(&s->sess, r + 4, 12); /* long id, int timeout */
		s->nsess++;
		return s->sess.err;
	}
	if (kind != CR_ACL && kind != CR_NODE)
		return 0;
	if (!s->prefix_done) {
		int rc = put_prefix(s, w->c);
		if (rc)
			return rc;
	}
	if (kind == CR_ACL)
		return 0; /* the map went out whole */
	struct cnode n;
	if (parse_cnode(r, len, &n))
		return -EBADMSG;
	put_node(&s->o, &n);
	return sput_flush(s, s->chunk);
}

int qc_snap_stream(const struct core *c, bool signature, size_t chunk,
		   int (*out)(void *arg, const void *buf, size_t len), void *arg)
{
	struct sput s;
	memset(&s, 0, sizeof(s));
	jute_out_init(&s.o);
	jute_out_init(&s.sess);
	s.out = out;
	s.arg = arg;
	s.chunk = chunk ? chunk : 1u << 20;
	struct sput_walk w = {&s, c};
	int rc = core_snapshot_write(c, sput_emit, &w);
	if (!rc && !s.prefix_done)
		rc = put_prefix(&s, c); /* cannot happen: there is always a root */
	if (!rc) {
		jute_put_string(&s.o, "/");
		if (signature)
			jute_put_string(&s.o, "BenWasHere");
		rc = sput_flush(&s, 0);
	}
	jute_out_free(&s.o);
	jute_out_free(&s.sess);
	return rc;
}

static int to_jute(void *arg, const void *buf, size_t len)
{
	struct jute_out *o = arg;
	jute_put_raw(o, buf, len);
	return o->err;
}

int qc_snap_put(struct jute_out *o, const struct core *c, bool signature)
{
	size_t start = o->len;
	/* one allocation for the whole stream: growing a 100 MB buffer by
	 * doubling copies it over and over */
	struct core_stats st;
	core_get_stats(c, &st);
	jute_out_reserve(o, st.data_size + st.nodes * 80 + 64);
	int rc = qc_snap_stream(c, signature, 1u << 20, to_jute, o);
	if (!rc)
		rc = o->err;
	if (rc && !o->err)
		o->len = start;
	return rc;
}

/* ================================================================ parse */

enum { P_SESS_COUNT, P_SESS, P_ACL_COUNT, P_ACL, P_NODE, P_SIG, P_DONE };

struct aclent {
	int64_t zk;
	uint32_t slot;
	struct zk_acl_vec acl;
};

struct qc_snap_parser {
	struct core *c;
	int64_t zxid;
	bool signature, ttl;
	size_t maxbuf;
	int phase;
	int32_t left;
	int err;
	uint8_t *carry;
	size_t clen, ccap;
	struct jute_out rec; /* a core record being built */
	struct aclent *acls;
	size_t nacls, acap;
	size_t last; /* index in acls of the last lookup */
};

struct qc_snap_parser *qc_snap_parser_new(const struct core_config *cfg, int64_t zxid,
					  bool signature, size_t maxbuf)
{
	struct core_config dflt = {0};
	struct qc_snap_parser *sp = calloc(1, sizeof(*sp));
	if (!sp)
		return NULL;
	sp->c = core_new(cfg ? cfg : &dflt);
	if (!sp->c) {
		free(sp);
		return NULL;
	}
	sp->zxid = zxid;
	sp->signature = signature;
	sp->ttl = cfg && cfg->ttl_enabled;
	sp->maxbuf = maxbuf ? maxbuf : QC_MAXBUF_DEFAULT;
	jute_out_init(&sp->rec);
	return sp;
}

static void acls_free(struct qc_snap_parser *sp)
{
	for (size_t i = 0; i < sp->nacls; i++)
		zk_acl_vec_free(&sp->acls[i].acl);
	free(sp->acls);
	sp->acls = NULL;
	sp->nacls = sp->acap = 0;
}

void qc_snap_parser_free(struct qc_snap_parser *sp)
{
	if (!sp)
		return;
	core_free(sp->c);
	acls_free(sp);
	free(sp->carry);
	jute_out_free(&sp->rec);
	free(sp);
}

struct core *qc_snap_parser_take(struct qc_snap_parser *sp)
{
	if (sp->phase != P_DONE)
		return NULL;
	struct core *c = sp->c;
	sp->c = NULL;
	return c;
}

/* Hands the record built in sp->rec to the core. */
static int load_rec(struct qc_snap_parser *sp)
{
	if (sp->rec.err)
		return sp->rec.err;
	int rc = core_snapshot_load(sp->c, sp->rec.buf, sp->rec.len);
	jute_out_reset(&sp->rec);
	return rc < 0 ? -EBADMSG : 0;
}

static bool acl_is(const struct zk_acl_vec *v, int32_t perms)
{
	return v->n == 1 && v->v[0].perms == perms && !strcmp(v->v[0].id.scheme, "world") &&
	       !strcmp(v->v[0].id.id, "anyone");
}

static int aclent_cmp(const void *a, const void *b)
{
	const struct aclent *x = a, *y = b;
	return x->zk < y->zk ? -1 : x->zk > y->zk;
}

/* The ACL map is complete: picks a core slot for each index and loads the
 * lists into the core. */
static int acls_resolve(struct qc_snap_parser *sp)
{
	size_t n = sp->nacls;
	qsort(sp->acls, n, sizeof(*sp->acls), aclent_cmp);
	for (size_t i = 1; i < n; i++)
		if (sp->acls[i].zk == sp->acls[i - 1].zk)
			return -EBADMSG;
	size_t bound = 4 * n + 65536; /* keeps the numbers of any core's slots */
	uint8_t *taken = xcalloc(bound, 1);
	taken[0] = taken[1] = 1;
	for (size_t i = 0; i < n; i++) {
		struct aclent *e = &sp->acls[i];
		e->slot = UINT32_MAX;
		if (acl_is(&e->acl, ZK_PERM_ALL))
			e->slot = 0;
		else if (acl_is(&e->acl, ZK_PERM_READ))
			e->slot = 1;
		else if (e->zk >= 2 && (uint64_t)e->zk < bound && !taken[e->zk])
			taken[e->slot = (uint32_t)e->zk] = 1;
	}
	size_t next = 2;
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		struct aclent *e = &sp->acls[i];
		if (e->slot == UINT32_MAX) {
			while (taken[next])
				next++;
			taken[next] = 1;
			e->slot = (uint32_t)next;
		}
		if (e->slot < 2)
			continue;
		jute_put_int(&sp->rec, CR_ACL);
		jute_put_int(&sp->rec, (int32_t)e->slot);
		jute_put_long(&sp->rec, 0);
		zk_acl_vec_put(&sp->rec, &e->acl);
		rc = load_rec(sp);
	}
	free(taken);
	return rc;
}

static int acl_slot(struct qc_snap_parser *sp, int64_t zk, uint32_t *slot)
{
	if (zk == -1) {
		*slot = 0;
		return 0;
	}
	if (sp->last < sp->nacls && sp->acls[sp->last].zk == zk) {
		*slot = sp->acls[sp->last].slot;
		return 0;
	}
	size_t lo = 0, hi = sp->nacls;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sp->acls[mid].zk < zk)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == sp->nacls || sp->acls[lo].zk != zk)
		return -EBADMSG; /* ReferenceCountedACLCache.convertLong fails too */
	sp->last = lo;
	*slot = sp->acls[lo].slot;
	return 0;
}

/* Length of a jute string/buffer at p[at..len): 1 with *n (-1 null) and
 * at advanced past it, 0 when incomplete, or an error. */
static int scan_buf(const uint8_t *p, size_t len, size_t *at, size_t maxbuf, int32_t *n)
{
	if (len - *at < 4)
		return 0;
	*n = (int32_t)jute_load32(p + *at);
	if (*n < -1)
		return -EBADMSG;
	if (*n > 0 && (size_t)*n > maxbuf)
		return -EMSGSIZE;
	size_t need = 4 + (*n > 0 ? (size_t)*n : 0);
	if (len - *at < need)
		return 0;
	*at += need;
	return 1;
}

/* kind and owner/ttl of ZooKeeper's ephemeralOwner (EphemeralType.get). */
static int zk_kind(const struct qc_snap_parser *sp, int64_t eo, int32_t *kind, int64_t *owner)
{
	*owner = 0;
	if (sp->ttl && ((uint64_t)eo & 0xff00000000000000ull) == 0xff00000000000000ull) {
		if ((uint64_t)eo & 0x00ffff0000000000ull)
			return -EBADMSG; /* an extended type that does not exist */
		*kind = TN_TTL;
		*owner = eo & 0xffffffffffLL;
		return 0;
	}
	if (eo == INT64_MIN)
		*kind = TN_CONTAINER;
	else if (eo == 0)
		*kind = TN_PERSISTENT;
	else {
		*kind = TN_EPHEMERAL;
		*owner = eo;
	}
	return 0;
}

static int parse_node(struct qc_snap_parser *sp, const uint8_t *p, size_t len, size_t *used)
{
	size_t at = 0;
	int32_t pl, dl;
	int rc = scan_buf(p, len, &at, sp->maxbuf, &pl);
	if (rc <= 0)
		return rc;
	if (pl < 0)
		return -EBADMSG;
	const char *path = (const char *)p + 4;
	if (pl == 1 && path[0] == '/') {
		/* end of the nodes */
		jute_put_int(&sp->rec, CR_END);
		jute_put_long(&sp->rec, sp->zxid);
		if (sp->rec.err)
			return sp->rec.err;
		rc = core_snapshot_load(sp->c, sp->rec.buf, sp->rec.len);
		jute_out_reset(&sp->rec);
		if (rc != 1)
			return -EBADMSG;
		acls_free(sp);
		sp->phase = sp->signature ? P_SIG : P_DONE;
		*used = at;
		return 1;
	}
	size_t dat = at;
	rc = scan_buf(p, len, &at, sp->maxbuf, &dl);
	if (rc <= 0)
		return rc;
	if (len - at < 68)
		return 0;
	const uint8_t *q = p + at;
	at += 68;
	int64_t zacl = (int64_t)jute_load64(q);
	uint32_t slot;
	int32_t kind;
	int64_t owner;
	if (acl_slot(sp, zacl, &slot) || zk_kind(sp, (int64_t)jute_load64(q + 52), &kind, &owner))
		return -EBADMSG;
	struct jute_out *o = &sp->rec;
	jute_put_int(o, CR_NODE);
	if (pl == 0)
		jute_put_stringn(o, "/", 1);
	else
		jute_put_stringn(o, path, (size_t)pl);
	jute_put_raw(o, p + dat, at - 68 - dat); /* the data buffer as is */
	jute_put_int(o, (int32_t)slot);
	jute_put_raw(o, q + 8, 16);  /* czxid, mzxid */
	jute_put_raw(o, q + 68 - 8, 8); /* pzxid */
	jute_put_raw(o, q + 24, 16); /* ctime, mtime */
	jute_put_raw(o, q + 40, 12); /* version, cversion, aversion */
	jute_put_int(o, kind);
	jute_put_long(o, owner);
	rc = load_rec(sp);
	if (rc)
		return rc;
	*used = at;
	return 1;
}

static int parse_acl(struct qc_snap_parser *sp, const uint8_t *p, size_t len, size_t *used)
{
	size_t at = 8;
	if (len < 12)
		return 0;
	int32_t n = (int32_t)jute_load32(p + at);
	at += 4;
	if (n < -1 || (n > 0 && (size_t)n > sp->maxbuf / 12))
		return -EBADMSG;
	for (int32_t i = 0; i < n; i++) {
		int32_t sl;
		if (len - at < 4)
			return 0;
		at += 4; /* perms */
		for (int k = 0; k < 2; k++) {
			int rc = scan_buf(p, len, &at, sp->maxbuf, &sl);
			if (rc <= 0)
				return rc;
		}
	}
	if (sp->nacls == sp->acap) {
		sp->acap = sp->acap ? sp->acap * 2 : 16;
		sp->acls = xrealloc(sp->acls, sp->acap * sizeof(*sp->acls));
	}
	struct aclent *e = &sp->acls[sp->nacls];
	struct jute_in in;
	jute_in_init(&in, p, at);
	in.maxbuf = sp->maxbuf;
	e->zk = jute_get_long(&in);
	if (zk_acl_vec_get(&in, &e->acl))
		return -EBADMSG;
	if (e->zk == -1) {
		zk_acl_vec_free(&e->acl);
		return -EBADMSG; /* -1 is reserved for OPEN_ACL_UNSAFE */
	}
	sp->nacls++;
	*used = at;
	return 1;
}

/* One item at p: 1 consumed (*used), 0 incomplete, or an error. */
static int item(struct qc_snap_parser *sp, const uint8_t *p, size_t len, size_t *used)
{
	int rc;
	switch (sp->phase) {
	case P_SESS_COUNT:
		if (len < 4)
			return 0;
		sp->left = (int32_t)jute_load32(p);
		if (sp->left < 0)
			return -EBADMSG;
		jute_put_int(&sp->rec, CR_HEADER);
		jute_put_int(&sp->rec, CR_FORMAT);
		jute_put_long(&sp->rec, sp->zxid);
		jute_put_long(&sp->rec, 0); /* nodes: not known */
		jute_put_long(&sp->rec, sp->left);
		if ((rc = load_rec(sp)))
			return rc;
		sp->phase = sp->left ? P_SESS : P_ACL_COUNT;
		*used = 4;
		return 1;
	case P_SESS:
		if (len < 12)
			return 0;
		jute_put_int(&sp->rec, CR_SESSION);
		jute_put_raw(&sp->rec, p, 12);
		if ((rc = load_rec(sp)))
			return rc;
		if (--sp->left == 0)
			sp->phase = P_ACL_COUNT;
		*used = 12;
		return 1;
	case P_ACL_COUNT:
		if (len < 4)
			return 0;
		sp->left = (int32_t)jute_load32(p);
		if (sp->left < 0)
			return -EBADMSG;
		*used = 4;
		if (sp->left)
			sp->phase = P_ACL;
		else if ((rc = acls_resolve(sp)))
			return rc;
		else
			sp->phase = P_NODE;
		return 1;
	case P_ACL:
		rc = parse_acl(sp, p, len, used);
		if (rc == 1 && --sp->left == 0) {
			if ((rc = acls_resolve(sp)))
				return rc;
			sp->phase = P_NODE;
			return 1;
		}
		return rc;
	case P_NODE:
		return parse_node(sp, p, len, used);
	case P_SIG: {
		size_t at = 0;
		int32_t n;
		rc = scan_buf(p, len, &at, sp->maxbuf, &n);
		if (rc <= 0)
			return rc;
		if (n != 10 || memcmp(p + 4, "BenWasHere", 10))
			return -EBADMSG;
		sp->phase = P_DONE;
		*used = at;
		return 1;
	}
	}
	return -EBADMSG;
}

/* Parses items from p[0..len) until done or incomplete: *off = bytes
 * consumed.  Returns 1 (done), 0, or an error. */
static int run(struct qc_snap_parser *sp, const uint8_t *p, size_t len, size_t *off)
{
	*off = 0;
	while (sp->phase != P_DONE) {
		size_t u = 0;
		int rc = item(sp, p + *off, len - *off, &u);
		if (rc <= 0)
			return rc;
		*off += u;
	}
	return 1;
}

static void carry_put(struct qc_snap_parser *sp, const uint8_t *p, size_t n)
{
	if (sp->ccap - sp->clen < n) {
		size_t cap = sp->ccap ? sp->ccap : 4096;
		while (cap - sp->clen < n)
			cap *= 2;
		sp->carry = xrealloc(sp->carry, cap);
		sp->ccap = cap;
	}
	if (n)
		memcpy(sp->carry + sp->clen, p, n);
	sp->clen += n;
}

int qc_snap_parser_feed(struct qc_snap_parser *sp, const uint8_t *p, size_t len, size_t *used)
{
	*used = 0;
	if (sp->err)
		return sp->err;
	if (sp->phase == P_DONE)
		return 1;
	size_t off;
	int rc;
	if (sp->clen == 0) {
		/* nothing held back: parse straight from the caller's bytes */
		rc = run(sp, p, len, &off);
		if (rc == 1) {
			*used = off;
			return 1;
		}
		if (rc == 0) {
			carry_put(sp, p + off, len - off);
			*used = len;
			return 0;
		}
	} else {
		/* an item spans chunks: continue it in the carry buffer */
		size_t held = sp->clen;
		carry_put(sp, p, len);
		rc = run(sp, sp->carry, sp->clen, &off);
		if (rc == 1) {
			*used = off - held;
			sp->clen = 0;
			return 1;
		}
		if (rc == 0) {
			memmove(sp->carry, sp->carry + off, sp->clen - off);
			sp->clen -= off;
			*used = len;
			return 0;
		}
	}
	sp->err = rc;
	return rc;
}

/* ================================================================ snapshot file */

#define SNAP_MAGIC 0x5A4B534E /* "ZKSN" */

static void seal(struct jute_out *o, size_t from)
{
	if (o->err)
		return;
	jute_put_long(o, qc_adler32(1, o->buf + from, o->len - from));
	jute_put_string(o, "/");
}

int qc_snapfile_put(struct jute_out *o, const struct core *c, int64_t zxid)
{
	size_t start = o->len;
	jute_put_int(o, SNAP_MAGIC);
	jute_put_int(o, 2);
	jute_put_long(o, -1); /* dbid */
	int rc = qc_snap_put(o, c, false);
	if (rc)
		return rc;
	seal(o, start);
	jute_put_long(o, zxid);
	jute_put_int(o, 2); /* digest version */
	jute_put_long(o, qc_tree_digest(c));
	seal(o, start);
	return o->err;
}

static int check_seal(const uint8_t *p, size_t len, size_t *at)
{
	if (len - *at < 13)
		return -EBADMSG;
	uint64_t sum = jute_load64(p + *at);
	if (sum != qc_adler32(1, p, *at))
		return -EBADMSG;
	if (jute_load32(p + *at + 8) != 1 || p[*at + 12] != '/')
		return -EBADMSG;
	*at += 13;
	return 0;
}

int qc_snapfile_get(const uint8_t *p, size_t len, const struct core_config *cfg, int64_t zxid,
		    struct core **out, int64_t *digest)
{
	*out = NULL;
	*digest = 0;
	if (len < 16 + 13 || jute_load32(p) != SNAP_MAGIC || jute_load32(p + 4) != 2)
		return -EBADMSG;
	/* the last seal covers everything before it: check it before parsing
	 * (SnapStream.isValidCheckedStream looks at the tail too) */
	size_t tail = len - 13;
	if (check_seal(p, len, &tail))
		return -EBADMSG;
	struct qc_snap_parser *sp = qc_snap_parser_new(cfg, zxid, false, (size_t)1 << 30);
	if (!sp)
		return -ENOMEM;
	size_t used;
	int rc = qc_snap_parser_feed(sp, p + 16, len - 16, &used);
	if (rc == 0)
		rc = -EBADMSG;
	size_t at = 16 + used;
	if (rc == 1)
		rc = check_seal(p, len, &at);
	if (!rc && at < len) {
		/* ZxidDigest {long zxid; int version; long digest} + seal */
		if (len - at < 20 || jute_load32(p + at + 8) != 2)
			rc = -EBADMSG;
		else {
			*digest = (int64_t)jute_load64(p + at + 12);
			at += 20;
			rc = check_seal(p, len, &at);
		}
	}
	if (!rc && at != len)
		rc = -EBADMSG;
	if (rc && rc != -ENOMEM)
		rc = -EBADMSG;
	if (!rc)
		*out = qc_snap_parser_take(sp);
	qc_snap_parser_free(sp);
	return rc;
}
