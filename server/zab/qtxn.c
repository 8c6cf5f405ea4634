/*
 * qtxn.c — the core's txns (txn.h: lists of state deltas) as ZooKeeper's
 * txn bytes (TxnHeader ‖ record ‖ optional TxnDigest, fact sheet §4.2),
 * both ways, so a zkfs leader's PROPOSALs apply on Apache followers and
 * an Apache leader's apply on zkfs.
 *
 * The two models agree on every value a txn fixes: the core's
 * parent_cversion is ZooKeeper's parentCVersion (the parent's stored
 * count of creates after this one), SETDATA/SETACL versions are the new
 * version/aversion in both, an ephemeral's owner is the header's clientId.
 * Where they differ in shape:
 *   - a failed multi: the core keeps no earlier ops (TX_ERROR 0), Apache
 *     sends them as real sub-txns that its applier turns into ErrorTxn(0):
 *     we send ErrorTxn(0) directly, which applies identically;
 *   - closeSession: the core lists a TX_DELETE per ephemeral, Apache a
 *     CloseSessionTxn of paths (or no body at all when
 *     zookeeper.closeSessionTxn.enabled=false);
 *   - node kinds: the core's kind picks CreateTxn / CreateContainerTxn /
 *     CreateTTLTxn (and the opcode that goes with it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qcodec.h"
#include "tree.h"
#include "txn.h"
#include "xmem.h"

/* ================================================================ encode */

/* Appends the record of op and returns ZooKeeper's type for it, or 0 when
 * the op has no ZooKeeper form. */
static int32_t put_op(struct jute_out *o, const struct core_txn *t, const struct txn_op *op)
{
	switch (op->kind) {
	case TX_CREATE: {
		int32_t type = op->rtype == ZOP_CREATE ? ZOP_CREATE : ZOP_CREATE2;
		if (op->node_kind == TN_CONTAINER)
			type = ZOP_CREATECONTAINER;
		else if (op->node_kind == TN_TTL)
			type = ZOP_CREATETTL;
		else if (op->node_kind == TN_EPHEMERAL && op->owner != t->session)
			return 0; /* ZooKeeper's owner is the txn's session */
		else if (op->node_kind == TN_EPHEMERAL && op->owner == 0)
			return 0; /* would read back as persistent */
		if (type == ZOP_CREATETTL && (op->owner <= 0 || op->owner > ZK_MAX_TTL))
			return 0;
		jute_put_string(o, op->path);
		jute_put_buffer(o, op->data, op->data_len);
		zk_acl_vec_put(o, &op->acl);
		if (type == ZOP_CREATE || type == ZOP_CREATE2)
			jute_put_bool(o, op->node_kind == TN_EPHEMERAL);
		jute_put_int(o, op->parent_cversion);
		if (type == ZOP_CREATETTL)
			jute_put_long(o, op->owner);
		return type;
	}
	case TX_DELETE:
		jute_put_string(o, op->path);
		return op->rtype == ZOP_DELETECONTAINER ? ZOP_DELETECONTAINER : ZOP_DELETE;
	case TX_SETDATA:
		jute_put_string(o, op->path);
		jute_put_buffer(o, op->data, op->data_len);
		jute_put_int(o, op->version);
		return op->rtype == ZOP_RECONFIG ? ZOP_RECONFIG : ZOP_SETDATA;
	case TX_SETACL:
		jute_put_string(o, op->path);
		zk_acl_vec_put(o, &op->acl);
		jute_put_int(o, op->version);
		return ZOP_SETACL;
	case TX_CHECK:
		jute_put_string(o, op->path);
		jute_put_int(o, op->version);
		return ZOP_CHECK;
	case TX_ERROR:
		jute_put_int(o, op->err);
		return ZOP_ERROR;
	}
	return 0;
}

/* The TxnHeader with its type patched in later (returns the type's offset). */
static size_t put_header(struct jute_out *o, const struct core_txn *t)
{
	jute_put_long(o, t->session);
	jute_put_int(o, t->cxid);
	jute_put_long(o, t->zxid);
	jute_put_long(o, t->time);
	size_t at = o->len;
	jute_put_int(o, 0);
	return at;
}

static int put_multi(struct jute_out *o, const struct core_txn *t)
{
	bool failed = false;
	for (int32_t i = 0; i < t->nops; i++)
		if (t->ops[i].kind == TX_ERROR)
			failed = true;
	jute_put_int(o, t->nops);
	for (int32_t i = 0; i < t->nops; i++) {
		const struct txn_op *op = &t->ops[i];
		if (failed && op->kind != TX_ERROR)
			return -EINVAL; /* the core never mixes them */
		if (op->kind != TX_CREATE && op->kind != TX_DELETE && op->kind != TX_SETDATA &&
		    op->kind != TX_CHECK && op->kind != TX_ERROR)
			return -EINVAL; /* ZooKeeper applies nothing else in a multi */
		size_t tat = o->len;
		jute_put_int(o, 0);
		size_t at = jute_frame_begin(o);
		int32_t type = put_op(o, t, op);
		if (!type)
			return -EINVAL;
		jute_frame_end(o, at);
		if (!o->err)
			jute_store32(o->buf + tat, (uint32_t)type);
	}
	return 0;
}

int qc_txn_put(struct jute_out *o, const struct core_txn *t, const int64_t *digest)
{
	size_t start = o->len;
	size_t tat = put_header(o, t);
	int32_t type = 0;
	int rc = 0;
	if (t->err) {
		/* a failed single write */
		type = ZOP_ERROR;
		jute_put_int(o, t->err);
	} else if (t->type == ZOP_MULTI) {
		type = ZOP_MULTI;
		rc = put_multi(o, t);
	} else if (t->type == ZOP_CREATESESSION) {
		if (t->nops != 1 || t->ops[0].kind != TX_SESSION_OPEN ||
		    t->ops[0].owner != t->session) {
			rc = -EINVAL;
		} else {
			type = ZOP_CREATESESSION;
			jute_put_int(o, t->ops[0].version);
		}
	} else if (t->type == ZOP_CLOSESESSION) {
		int32_t n = t->nops - 1;
		if (n < 0 || t->ops[n].kind != TX_SESSION_CLOSE || t->ops[n].owner != t->session)
			rc = -EINVAL;
		for (int32_t i = 0; i < n && !rc; i++)
			if (t->ops[i].kind != TX_DELETE)
				rc = -EINVAL;
		if (!rc) {
			type = ZOP_CLOSESESSION;
			jute_put_int(o, n);
			for (int32_t i = 0; i < n; i++)
				jute_put_string(o, t->ops[i].path);
		}
	} else if (t->nops == 1 && t->ops[0].kind != TX_ERROR && t->ops[0].kind != TX_CHECK) {
		type = put_op(o, t, &t->ops[0]);
		if (!type)
			rc = -EINVAL;
	} else {
		rc = -EINVAL;
	}
	if (!digest && t->has_digest)
		digest = &t->digest; /* the stamp of the core that prepared it */
	if (!rc && digest) {
		jute_put_int(o, 2); /* TxnDigest version */
		jute_put_long(o, *digest);
	}
	if (o->err)
		return o->err;
	if (rc) {
		o->len = start;
		return rc;
	}
	jute_store32(o->buf + tat, (uint32_t)type);
	return 0;
}

/* ================================================================ decode */

static char *get_path(struct jute_in *in)
{
	char *p = jute_get_string_dup(in);
	if (!in->err && (!p || !zk_path_valid(p, strlen(p)))) {
		free(p);
		in->err = -EBADMSG;
		return NULL;
	}
	return p;
}

/* Parses the record of a txn of ZooKeeper type `type` into ops of t.
 * in_multi: the element of a MultiTxn (reply types as the core's multi).
 * clientId: the header's (owner of ephemerals, of sessions). */
static void get_op(struct jute_in *in, struct core_txn *t, int32_t type, bool in_multi,
		   int64_t client)
{
	struct txn_op *op;
	switch (type) {
	case ZOP_CREATE:
	case ZOP_CREATE2:
	case ZOP_CREATECONTAINER:
	case ZOP_CREATETTL: {
		int32_t rtype = type == ZOP_CREATE ? ZOP_CREATE : in_multi ? ZOP_CREATE2 : type;
		op = txn_push(t, TX_CREATE, rtype, NULL);
		op->path = get_path(in);
		op->data = jute_get_buffer_dup(in, &op->data_len);
		zk_acl_vec_get(in, &op->acl);
		op->node_kind = TN_PERSISTENT;
		if (type == ZOP_CREATE || type == ZOP_CREATE2) {
			bool eph = jute_get_bool(in);
			if (eph && client != 0) {
				/* ephemeralOwner 0 would be a plain node in ZooKeeper */
				op->node_kind = TN_EPHEMERAL;
				op->owner = client;
			}
			if (type == ZOP_CREATE && !in->err && jute_in_left(in) == 0 && !in_multi) {
				/* CreateTxnV0: no parentCVersion, -1 = current + 1 */
				op->parent_cversion = -1;
				break;
			}
		} else if (type == ZOP_CREATECONTAINER) {
			op->node_kind = TN_CONTAINER;
		}
		op->parent_cversion = jute_get_int(in);
		if (type == ZOP_CREATETTL) {
			op->node_kind = TN_TTL;
			op->owner = jute_get_long(in);
			if (op->owner <= 0 || op->owner > ZK_MAX_TTL)
				in->err = -EBADMSG;
		}
		break;
	}
	case ZOP_DELETE:
	case ZOP_DELETECONTAINER:
		op = txn_push(t, TX_DELETE, type, NULL);
		op->path = get_path(in);
		break;
	case ZOP_SETDATA:
	case ZOP_RECONFIG:
		op = txn_push(t, TX_SETDATA, type, NULL);
		op->path = get_path(in);
		op->data = jute_get_buffer_dup(in, &op->data_len);
		op->version = jute_get_int(in);
		break;
	case ZOP_SETACL:
		op = txn_push(t, TX_SETACL, type, NULL);
		op->path = get_path(in);
		zk_acl_vec_get(in, &op->acl);
		op->version = jute_get_int(in);
		break;
	case ZOP_CHECK:
		op = txn_push(t, TX_CHECK, type, NULL);
		op->path = get_path(in);
		op->version = jute_get_int(in);
		break;
	case ZOP_ERROR:
		op = txn_push(t, TX_ERROR, ZOP_ERROR, "");
		op->err = jute_get_int(in);
		break;
	default:
		in->err = -EBADMSG;
		break;
	}
}

static bool multi_sub_ok(int32_t type)
{
	switch (type) {
	case ZOP_CREATE:
	case ZOP_CREATE2:
	case ZOP_CREATECONTAINER:
	case ZOP_CREATETTL:
	case ZOP_DELETE:
	case ZOP_DELETECONTAINER:
	case ZOP_SETDATA:
	case ZOP_CHECK:
	case ZOP_ERROR:
		return true;
	}
	return false;
}

static void get_multi(struct jute_in *in, struct core_txn *t, int64_t client)
{
	int32_t n = jute_get_count(in, 8);
	bool failed = false;
	int32_t *types = n > 0 ? xmalloc((size_t)n * sizeof(*types)) : NULL;
	for (int32_t i = 0; i < n && !in->err; i++) {
		int32_t type = jute_get_int(in);
		const uint8_t *d;
		int32_t dlen;
		jute_get_buffer(in, &d, &dlen);
		if (in->err)
			break;
		if (!multi_sub_ok(type) || dlen < 0) {
			in->err = -EBADMSG;
			break;
		}
		types[i] = type;
		struct jute_in sub;
		jute_in_init(&sub, d, (size_t)dlen);
		sub.maxbuf = in->maxbuf;
		get_op(&sub, t, type, true, client);
		if (!sub.err && jute_in_left(&sub))
			sub.err = -EBADMSG;
		if (sub.err)
			in->err = sub.err;
		if (type == ZOP_ERROR)
			failed = true;
	}
	if (!in->err && failed) {
		/* DataTree.processTxn: if any element is an error, none applies;
		 * those before the first error answer 0, those after -2 */
		bool post = false;
		for (int32_t i = 0; i < t->nops; i++) {
			struct txn_op *op = &t->ops[i];
			if (types[i] == ZOP_ERROR) {
				post = true;
				continue;
			}
			free(op->path);
			free(op->data);
			zk_acl_vec_free(&op->acl);
			memset(op, 0, sizeof(*op));
			op->kind = TX_ERROR;
			op->rtype = ZOP_ERROR;
			op->data_len = -1;
			op->path = xstrdup("");
			op->err = post ? ZE_RUNTIMEINCONSISTENCY : 0;
		}
	}
	free(types);
}

int qc_txn_get(const uint8_t *p, size_t len, size_t maxbuf, struct core_txn **out,
	       bool *has_digest, int64_t *digest)
{
	*out = NULL;
	if (has_digest)
		*has_digest = false;
	struct jute_in in;
	jute_in_init(&in, p, len);
	in.maxbuf = maxbuf ? maxbuf : QC_MAXBUF_DEFAULT;
	int64_t client = jute_get_long(&in);
	int32_t cxid = jute_get_int(&in);
	int64_t zxid = jute_get_long(&in);
	int64_t time = jute_get_long(&in);
	int32_t type = jute_get_int(&in);
	if (in.err)
		return -EBADMSG;
	struct core_txn *t = txn_new(zxid, time, client, type);
	t->cxid = cxid;
	switch (type) {
	case ZOP_ERROR:
		t->err = jute_get_int(&in);
		if (!in.err && t->err == 0)
			in.err = -EBADMSG; /* the core reads err 0 as success */
		break;
	case ZOP_MULTI:
		get_multi(&in, t, client);
		break;
	case ZOP_CREATESESSION: {
		struct txn_op *op = txn_push(t, TX_SESSION_OPEN, ZOP_CREATESESSION, "");
		op->owner = client;
		op->version = jute_get_int(&in);
		if (client == 0)
			in.err = -EBADMSG;
		break;
	}
	case ZOP_CLOSESESSION: {
		/* CloseSessionTxn, or nothing (closeSessionTxn disabled, or
		 * written before it existed), maybe followed by a TxnDigest */
		size_t left = jute_in_left(&in);
		bool body = left != 0;
		if (left == 12 && jute_load32(p + in.pos) == 2) {
			/* TxnDigest {version 2, digest} alone: a body of 2 paths
			 * would need at least 4 + 2 * 5 = 14 bytes */
			body = false;
		}
		if (body) {
			int32_t n = jute_get_count(&in, 4);
			for (int32_t i = 0; i < n && !in.err; i++) {
				struct txn_op *op = txn_push(t, TX_DELETE, ZOP_DELETE, NULL);
				op->path = get_path(&in);
			}
		}
		struct txn_op *op = txn_push(t, TX_SESSION_CLOSE, ZOP_CLOSESESSION, "");
		op->owner = client;
		break;
	}
	case ZOP_CREATE:
	case ZOP_CREATE2:
	case ZOP_CREATECONTAINER:
	case ZOP_CREATETTL:
	case ZOP_DELETE:
	case ZOP_DELETECONTAINER:
	case ZOP_SETDATA:
	case ZOP_RECONFIG:
	case ZOP_SETACL:
		get_op(&in, t, type, false, client);
		break;
	default:
		in.err = -EBADMSG; /* SerializeUtils.deserializeTxn refuses it too */
		break;
	}
	if (!in.err && jute_in_left(&in)) {
		/* TxnDigest {int version; long digest} */
		int32_t version = jute_get_int(&in);
		int64_t d = jute_get_long(&in);
		if (!in.err && (jute_in_left(&in) || version < 1))
			in.err = -EBADMSG;
		if (!in.err) {
			t->has_digest = true;
			t->digest = d;
		}
		if (!in.err && has_digest) {
			*has_digest = true;
			*digest = d;
		}
	}
	if (in.err) {
		int err = in.err;
		core_txn_free(t);
		if (has_digest)
			*has_digest = false;
		/* a length past maxbuf is a size problem, not garbage */
		return err == -ENOMEM ? err : -EBADMSG;
	}
	*out = t;
	return 0;
}
