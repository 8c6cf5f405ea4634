/*
 * txn.c — construction, accessors and the log encoding of core txns (see
 * txn.h for the shapes and the byte layout).
 */
#include "txn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tree.h"
#include "xmem.h"

struct core_txn *txn_new(int64_t zxid, int64_t time, int64_t session, int32_t type)
{
	struct core_txn *t = xcalloc(1, sizeof(*t));
	t->zxid = zxid;
	t->time = time;
	t->session = session;
	t->type = type;
	return t;
}

struct txn_op *txn_push(struct core_txn *t, int32_t kind, int32_t rtype, const char *path)
{
	if (t->nops == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 2;
		t->ops = xrealloc(t->ops, (size_t)t->cap * sizeof(*t->ops));
	}
	struct txn_op *op = &t->ops[t->nops++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->rtype = rtype;
	op->data_len = -1;
	op->path = path ? xstrdup(path) : NULL;
	return op;
}

void core_txn_free(struct core_txn *t)
{
	if (!t)
		return;
	for (int32_t i = 0; i < t->nops; i++) {
		free(t->ops[i].path);
		free(t->ops[i].data);
		zk_acl_vec_free(&t->ops[i].acl);
	}
	free(t->ops);
	free(t);
}

int64_t core_txn_zxid(const struct core_txn *t)
{
	return t->zxid;
}

int32_t core_txn_type(const struct core_txn *t)
{
	return t->type;
}

int32_t core_txn_cxid(const struct core_txn *t)
{
	return t->cxid;
}

int64_t core_txn_session(const struct core_txn *t)
{
	return t->session;
}

int32_t core_txn_err(const struct core_txn *t)
{
	return t->err;
}

bool core_txn_digest(const struct core_txn *t, int64_t *digest)
{
	if (t->has_digest)
		*digest = t->digest;
	return t->has_digest;
}

void core_txn_encode(const struct core_txn *t, struct jute_out *o)
{
	jute_put_int(o, CORE_TXN_FORMAT);
	jute_put_long(o, t->zxid);
	jute_put_long(o, t->time);
	jute_put_long(o, t->session);
	jute_put_int(o, t->cxid);
	jute_put_int(o, t->type);
	jute_put_int(o, t->err);
	jute_put_int(o, t->nops);
	for (int32_t i = 0; i < t->nops; i++) {
		const struct txn_op *op = &t->ops[i];
		jute_put_int(o, op->kind);
		jute_put_int(o, op->rtype);
		jute_put_int(o, op->err);
		jute_put_string(o, op->path);
		switch (op->kind) {
		case TX_CREATE:
			jute_put_buffer(o, op->data, op->data_len);
			zk_acl_vec_put(o, &op->acl);
			jute_put_int(o, op->node_kind);
			jute_put_long(o, op->owner);
			jute_put_int(o, op->parent_cversion);
			break;
		case TX_SETDATA:
			jute_put_buffer(o, op->data, op->data_len);
			jute_put_int(o, op->version);
			break;
		case TX_SETACL:
			zk_acl_vec_put(o, &op->acl);
			jute_put_int(o, op->version);
			break;
		case TX_SESSION_OPEN:
			jute_put_long(o, op->owner);
			jute_put_int(o, op->version);
			break;
		case TX_SESSION_CLOSE:
			jute_put_long(o, op->owner);
			break;
		default:
			break;
		}
	}
}

int core_txn_decode(const void *buf, size_t len, struct core_txn **out)
{
	struct jute_in in;
	*out = NULL;
	jute_in_init(&in, buf, len);
	int32_t format = jute_get_int(&in);
	if (format != CORE_TXN_FORMAT && format != 1)
		return -EBADMSG;
	int64_t zxid = jute_get_long(&in);
	int64_t time = jute_get_long(&in);
	int64_t session = jute_get_long(&in);
	int32_t cxid = format >= 2 ? jute_get_int(&in) : 0;
	int32_t type = jute_get_int(&in);
	struct core_txn *t = txn_new(zxid, time, session, type);
	t->cxid = cxid;
	t->err = jute_get_int(&in);
	int32_t nops = jute_get_count(&in, 16);
	for (int32_t i = 0; i < nops && !in.err; i++) {
		int32_t kind = jute_get_int(&in);
		int32_t rtype = jute_get_int(&in);
		struct txn_op *op = txn_push(t, kind, rtype, NULL);
		op->err = jute_get_int(&in);
		op->path = jute_get_string_dup(&in);
		switch (kind) {
		case TX_CREATE:
			op->data = jute_get_buffer_dup(&in, &op->data_len);
			zk_acl_vec_get(&in, &op->acl);
			op->node_kind = jute_get_int(&in);
			op->owner = jute_get_long(&in);
			op->parent_cversion = jute_get_int(&in);
			if (op->node_kind < TN_PERSISTENT || op->node_kind > TN_TTL)
				in.err = -EBADMSG;
			break;
		case TX_SETDATA:
			op->data = jute_get_buffer_dup(&in, &op->data_len);
			op->version = jute_get_int(&in);
			break;
		case TX_SETACL:
			zk_acl_vec_get(&in, &op->acl);
			op->version = jute_get_int(&in);
			break;
		case TX_SESSION_OPEN:
			op->owner = jute_get_long(&in);
			op->version = jute_get_int(&in);
			break;
		case TX_SESSION_CLOSE:
			op->owner = jute_get_long(&in);
			break;
		case TX_DELETE:
		case TX_CHECK:
		case TX_ERROR:
			break;
		default:
			in.err = -EBADMSG;
			break;
		}
		if (!in.err && !op->path)
			op->path = xstrdup("");
		if (!in.err &&
		    (kind == TX_CREATE || kind == TX_DELETE || kind == TX_SETDATA ||
		     kind == TX_SETACL) &&
		    !zk_path_valid(op->path, strlen(op->path)))
			in.err = -EBADMSG;
	}
	if (!in.err && jute_in_left(&in) != 0)
		in.err = -EBADMSG;
	if (in.err) {
		int err = in.err;
		core_txn_free(t);
		return err;
	}
	*out = t;
	return 0;
}
