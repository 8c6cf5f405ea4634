/*
 * records.c — encoders and decoders of ZooKeeper's records (zookeeper.jute):
 * connect handshake, request and reply headers, every request body and
 * reply body, multi, setWatches and notifications.
 */
#include "records.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- stat, acl, vectors */

void zk_stat_put(struct jute_out *o, const struct zk_stat *s)
{
	if (jute_out_reserve(o, ZK_STAT_SIZE))
		return;
	jute_put_long(o, s->czxid);
	jute_put_long(o, s->mzxid);
	jute_put_long(o, s->ctime);
	jute_put_long(o, s->mtime);
	jute_put_int(o, s->version);
	jute_put_int(o, s->cversion);
	jute_put_int(o, s->aversion);
	jute_put_long(o, s->ephemeral_owner);
	jute_put_int(o, s->data_length);
	jute_put_int(o, s->num_children);
	jute_put_long(o, s->pzxid);
}

void zk_stat_get(struct jute_in *in, struct zk_stat *s)
{
	s->czxid = jute_get_long(in);
	s->mzxid = jute_get_long(in);
	s->ctime = jute_get_long(in);
	s->mtime = jute_get_long(in);
	s->version = jute_get_int(in);
	s->cversion = jute_get_int(in);
	s->aversion = jute_get_int(in);
	s->ephemeral_owner = jute_get_long(in);
	s->data_length = jute_get_int(in);
	s->num_children = jute_get_int(in);
	s->pzxid = jute_get_long(in);
}

void zk_acl_vec_put(struct jute_out *o, const struct zk_acl_vec *v)
{
	jute_put_int(o, v->n);
	for (int32_t i = 0; i < v->n; i++) {
		jute_put_int(o, v->v[i].perms);
		jute_put_string(o, v->v[i].id.scheme);
		jute_put_string(o, v->v[i].id.id);
	}
}

void zk_acl_vec_free(struct zk_acl_vec *v)
{
	for (int32_t i = 0; i < v->n; i++) {
		free(v->v[i].id.scheme);
		free(v->v[i].id.id);
	}
	free(v->v);
	v->v = NULL;
	v->n = 0;
}

int zk_acl_vec_get(struct jute_in *in, struct zk_acl_vec *v)
{
	memset(v, 0, sizeof(*v));
	int32_t n = jute_get_count(in, 12);
	if (in->err)
		return in->err;
	if (n == 0)
		return 0;
	v->v = calloc((size_t)n, sizeof(*v->v));
	if (!v->v)
		return in->err = -ENOMEM;
	for (int32_t i = 0; i < n && !in->err; i++) {
		v->n = i + 1;
		v->v[i].perms = jute_get_int(in);
		v->v[i].id.scheme = jute_get_string_dup(in);
		v->v[i].id.id = jute_get_string_dup(in);
		/* a null string decodes as "" (Java accepts null; kazoo sends a null
		 * id with the "auth" scheme); the ACL checks then judge it */
		if (!in->err && !v->v[i].id.scheme && !(v->v[i].id.scheme = strdup("")))
			in->err = -ENOMEM;
		if (!in->err && !v->v[i].id.id && !(v->v[i].id.id = strdup("")))
			in->err = -ENOMEM;
	}
	if (in->err)
		zk_acl_vec_free(v);
	return in->err;
}

int zk_acl_vec_copy(struct zk_acl_vec *dst, const struct zk_acl_vec *src)
{
	memset(dst, 0, sizeof(*dst));
	if (src->n == 0)
		return 0;
	dst->v = calloc((size_t)src->n, sizeof(*dst->v));
	if (!dst->v)
		return -ENOMEM;
	for (int32_t i = 0; i < src->n; i++) {
		dst->n = i + 1;
		dst->v[i].perms = src->v[i].perms;
		dst->v[i].id.scheme = strdup(src->v[i].id.scheme ? src->v[i].id.scheme : "");
		dst->v[i].id.id = strdup(src->v[i].id.id ? src->v[i].id.id : "");
		if (!dst->v[i].id.scheme || !dst->v[i].id.id) {
			zk_acl_vec_free(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

void zk_str_vec_put(struct jute_out *o, const struct zk_str_vec *v)
{
	jute_put_int(o, v->n);
	for (int32_t i = 0; i < v->n; i++)
		jute_put_string(o, v->v[i]);
}

void zk_str_vec_free(struct zk_str_vec *v)
{
	for (int32_t i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
	v->v = NULL;
	v->n = 0;
}

int zk_str_vec_get(struct jute_in *in, struct zk_str_vec *v)
{
	memset(v, 0, sizeof(*v));
	int32_t n = jute_get_count(in, 4);
	if (in->err)
		return in->err;
	if (n == 0)
		return 0;
	v->v = calloc((size_t)n, sizeof(*v->v));
	if (!v->v)
		return in->err = -ENOMEM;
	for (int32_t i = 0; i < n && !in->err; i++) {
		v->n = i + 1;
		v->v[i] = jute_get_string_dup(in);
		if (!in->err && !v->v[i])
			v->v[i] = strdup("");
		if (!v->v[i] && !in->err)
			in->err = -ENOMEM;
	}
	if (in->err)
		zk_str_vec_free(v);
	return in->err;
}

/* ---------------------------------------------------------------- connect */

void zk_connect_req_put(struct jute_out *o, const struct zk_connect_req *r)
{
	size_t at = jute_frame_begin(o);
	jute_put_int(o, r->protocol_version);
	jute_put_long(o, r->last_zxid_seen);
	jute_put_int(o, r->timeout);
	jute_put_long(o, r->session_id);
	jute_put_buffer(o, r->passwd, 16);
	if (r->has_read_only)
		jute_put_bool(o, r->read_only);
	jute_frame_end(o, at);
}

int zk_connect_req_get(const uint8_t *body, size_t len, struct zk_connect_req *r)
{
	struct jute_in in;
	const uint8_t *pw;
	int32_t pwlen;
	memset(r, 0, sizeof(*r));
	jute_in_init(&in, body, len);
	r->protocol_version = jute_get_int(&in);
	r->last_zxid_seen = jute_get_long(&in);
	r->timeout = jute_get_int(&in);
	r->session_id = jute_get_long(&in);
	jute_get_buffer(&in, &pw, &pwlen);
	if (in.err)
		return in.err;
	if (pwlen > 16)
		return -EBADMSG;
	r->passwd_len = pwlen < 0 ? 0 : pwlen;
	if (pwlen > 0)
		memcpy(r->passwd, pw, (size_t)pwlen);
	if (jute_in_left(&in) >= 1) {
		r->read_only = jute_get_bool(&in);
		r->has_read_only = true;
	}
	/* Some clients append bytes we do not know about; ignore them. */
	return in.err;
}

void zk_connect_resp_put(struct jute_out *o, const struct zk_connect_resp *r)
{
	size_t at = jute_frame_begin(o);
	jute_put_int(o, r->protocol_version);
	jute_put_int(o, r->timeout);
	jute_put_long(o, r->session_id);
	jute_put_buffer(o, r->passwd, 16);
	if (r->has_read_only)
		jute_put_bool(o, r->read_only);
	jute_frame_end(o, at);
}

int zk_connect_resp_get(const uint8_t *body, size_t len, struct zk_connect_resp *r)
{
	struct jute_in in;
	const uint8_t *pw;
	int32_t pwlen;
	memset(r, 0, sizeof(*r));
	jute_in_init(&in, body, len);
	r->protocol_version = jute_get_int(&in);
	r->timeout = jute_get_int(&in);
	r->session_id = jute_get_long(&in);
	jute_get_buffer(&in, &pw, &pwlen);
	if (in.err)
		return in.err;
	if (pwlen > 16)
		return -EBADMSG;
	if (pwlen > 0)
		memcpy(r->passwd, pw, (size_t)pwlen);
	if (jute_in_left(&in) >= 1) {
		r->read_only = jute_get_bool(&in);
		r->has_read_only = true;
	}
	return in.err;
}

/* ---------------------------------------------------------------- requests */

void zk_op_free(struct zk_op *op)
{
	free(op->path);
	free(op->data);
	zk_acl_vec_free(&op->acl);
	memset(op, 0, sizeof(*op));
}

void zk_op_put(struct jute_out *o, const struct zk_op *op)
{
	switch (op->type) {
	case ZOP_CREATE:
	case ZOP_CREATE2:
	case ZOP_CREATECONTAINER:
	case ZOP_CREATETTL:
		jute_put_string(o, op->path);
		jute_put_buffer(o, op->data, op->data_len);
		zk_acl_vec_put(o, &op->acl);
		jute_put_int(o, op->flags);
		if (op->type == ZOP_CREATETTL)
			jute_put_long(o, op->ttl);
		break;
	case ZOP_DELETE:
	case ZOP_CHECK:
		jute_put_string(o, op->path);
		jute_put_int(o, op->version);
		break;
	case ZOP_EXISTS:
	case ZOP_GETDATA:
	case ZOP_GETCHILDREN:
	case ZOP_GETCHILDREN2:
		jute_put_string(o, op->path);
		jute_put_bool(o, op->watch);
		break;
	case ZOP_SETDATA:
		jute_put_string(o, op->path);
		jute_put_buffer(o, op->data, op->data_len);
		jute_put_int(o, op->version);
		break;
	case ZOP_SETACL:
		jute_put_string(o, op->path);
		zk_acl_vec_put(o, &op->acl);
		jute_put_int(o, op->version);
		break;
	case ZOP_GETACL:
	case ZOP_SYNC:
	case ZOP_DELETECONTAINER:
	case ZOP_GETALLCHILDRENNUMBER:
	case ZOP_GETEPHEMERALS:
		jute_put_string(o, op->path);
		break;
	case ZOP_ADDWATCH:
	case ZOP_CHECKWATCHES:
	case ZOP_REMOVEWATCHES:
		jute_put_string(o, op->path);
		jute_put_int(o, op->mode);
		break;
	default:
		break; /* no body */
	}
}

/* A request path.  An embedded NUL is legal on the wire (Java decodes it)
 * and must be answered BadArguments, not treated as a malformed record: it
 * becomes U+0001, which the path rules refuse just the same. */
static char *get_path_dup(struct jute_in *in)
{
	const uint8_t *p;
	int32_t n;
	size_t pos = in->pos;
	if (in->err)
		return NULL;
	jute_get_buffer(in, &p, &n);
	if (in->err || n <= 0 || !memchr(p, 0, (size_t)n)) {
		in->pos = pos;
		in->err = 0;
		return jute_get_string_dup(in);
	}
	char *s = malloc((size_t)n + 1);
	if (!s) {
		in->err = -ENOMEM;
		return NULL;
	}
	for (int32_t i = 0; i < n; i++)
		s[i] = p[i] ? (char)p[i] : 1;
	s[n] = 0;
	return s;
}

int zk_op_get(struct jute_in *in, int32_t type, struct zk_op *op)
{
	memset(op, 0, sizeof(*op));
	op->type = type;
	op->data_len = -1;
	switch (type) {
	case ZOP_CREATE:
	case ZOP_CREATE2:
	case ZOP_CREATECONTAINER:
	case ZOP_CREATETTL:
		op->path = get_path_dup(in);
		op->data = jute_get_buffer_dup(in, &op->data_len);
		zk_acl_vec_get(in, &op->acl);
		op->flags = jute_get_int(in);
		if (type == ZOP_CREATETTL)
			op->ttl = jute_get_long(in);
		break;
	case ZOP_DELETE:
	case ZOP_CHECK:
		op->path = get_path_dup(in);
		op->version = jute_get_int(in);
		break;
	case ZOP_EXISTS:
	case ZOP_GETDATA:
	case ZOP_GETCHILDREN:
	case ZOP_GETCHILDREN2:
		op->path = get_path_dup(in);
		op->watch = jute_get_bool(in);
		break;
	case ZOP_SETDATA:
		op->path = get_path_dup(in);
		op->data = jute_get_buffer_dup(in, &op->data_len);
		op->version = jute_get_int(in);
		break;
	case ZOP_SETACL:
		op->path = get_path_dup(in);
		zk_acl_vec_get(in, &op->acl);
		op->version = jute_get_int(in);
		break;
	case ZOP_GETACL:
	case ZOP_SYNC:
	case ZOP_DELETECONTAINER:
	case ZOP_GETALLCHILDRENNUMBER:
	case ZOP_GETEPHEMERALS:
		op->path = get_path_dup(in);
		break;
	case ZOP_ADDWATCH:
	case ZOP_CHECKWATCHES:
	case ZOP_REMOVEWATCHES:
		op->path = get_path_dup(in);
		op->mode = jute_get_int(in);
		break;
	default:
		break;
	}
	if (in->err) {
		zk_op_free(op);
		return in->err;
	}
	/* A null path is as malformed as a missing one. */
	switch (type) {
	case ZOP_PING:
	case ZOP_CLOSESESSION:
	case ZOP_WHOAMI:
		break;
	default:
		if (!op->path && type > 0 && type < 100 && type != ZOP_MULTI && type != ZOP_MULTIREAD &&
		    type != ZOP_RECONFIG) {
			zk_op_free(op);
			return in->err = -EBADMSG;
		}
		if (!op->path && (type == ZOP_GETEPHEMERALS || type == ZOP_GETALLCHILDRENNUMBER ||
				  type == ZOP_ADDWATCH)) {
			zk_op_free(op);
			return in->err = -EBADMSG;
		}
	}
	return 0;
}

static bool multi_elem_type_known(int32_t t)
{
	switch (t) {
	case ZOP_CREATE:
	case ZOP_CREATE2:
	case ZOP_CREATECONTAINER:
	case ZOP_CREATETTL:
	case ZOP_DELETE:
	case ZOP_SETDATA:
	case ZOP_CHECK:
	case ZOP_GETDATA:
	case ZOP_GETCHILDREN:
		return true;
	}
	return false;
}

void zk_request_put(struct jute_out *o, const struct zk_request *r)
{
	size_t at = jute_frame_begin(o);
	jute_put_int(o, r->xid);
	jute_put_int(o, r->type);
	switch (r->type) {
	case ZOP_MULTI:
	case ZOP_MULTIREAD:
		for (int32_t i = 0; i < r->nops; i++) {
			jute_put_int(o, r->ops[i].type);
			jute_put_bool(o, false);
			jute_put_int(o, -1);
			zk_op_put(o, &r->ops[i]);
		}
		jute_put_int(o, -1);
		jute_put_bool(o, true);
		jute_put_int(o, -1);
		break;
	case ZOP_SETWATCHES:
	case ZOP_SETWATCHES2: {
		int n = r->type == ZOP_SETWATCHES ? 3 : 5;
		jute_put_long(o, r->rel_zxid);
		for (int i = 0; i < n; i++)
			zk_str_vec_put(o, &r->watches[i]);
		break;
	}
	case ZOP_AUTH:
		jute_put_int(o, r->auth_type);
		jute_put_string(o, r->auth_scheme);
		jute_put_buffer(o, r->auth_data, r->auth_len);
		break;
	case ZOP_SASL:
		/* GetSASLRequest: the client's token */
		jute_put_buffer(o, r->auth_data, r->auth_len);
		break;
	default:
		zk_op_put(o, &r->op);
		break;
	}
	jute_frame_end(o, at);
}

void zk_request_free(struct zk_request *r)
{
	zk_op_free(&r->op);
	for (int32_t i = 0; i < r->nops; i++)
		zk_op_free(&r->ops[i]);
	free(r->ops);
	for (int i = 0; i < ZK_SW_COUNT; i++)
		zk_str_vec_free(&r->watches[i]);
	free(r->auth_scheme);
	free(r->auth_data);
	memset(r, 0, sizeof(*r));
}

static int multi_get(struct jute_in *in, struct zk_request *r)
{
	int32_t cap = 0;
	for (;;) {
		int32_t type = jute_get_int(in);
		bool done = jute_get_bool(in);
		(void)jute_get_int(in); /* err, unused in requests */
		if (in->err)
			return in->err;
		if (done)
			return 0;
		if (!multi_elem_type_known(type))
			return in->err = -EBADMSG;
		if (r->nops == cap) {
			int32_t ncap = cap ? cap * 2 : 4;
			struct zk_op *v = realloc(r->ops, (size_t)ncap * sizeof(*v));
			if (!v)
				return in->err = -ENOMEM;
			r->ops = v;
			cap = ncap;
		}
		if (zk_op_get(in, type, &r->ops[r->nops]))
			return in->err;
		r->nops++;
	}
}

int zk_request_get(const uint8_t *body, size_t len, struct zk_request *r)
{
	return zk_request_get_limit(body, len, JUTE_MAX_BUFFER, r);
}

int zk_request_get_limit(const uint8_t *body, size_t len, size_t maxbuf, struct zk_request *r)
{
	struct jute_in in;
	memset(r, 0, sizeof(*r));
	jute_in_init(&in, body, len);
	in.maxbuf = maxbuf;
	r->xid = jute_get_int(&in);
	r->type = jute_get_int(&in);
	if (in.err)
		return in.err;
	switch (r->type) {
	case ZOP_MULTI:
	case ZOP_MULTIREAD:
		multi_get(&in, r);
		break;
	case ZOP_SETWATCHES:
	case ZOP_SETWATCHES2: {
		int n = r->type == ZOP_SETWATCHES ? 3 : 5;
		r->rel_zxid = jute_get_long(&in);
		for (int i = 0; i < n && !in.err; i++)
			zk_str_vec_get(&in, &r->watches[i]);
		break;
	}
	case ZOP_AUTH:
		r->auth_type = jute_get_int(&in);
		r->auth_scheme = jute_get_string_dup(&in);
		r->auth_data = jute_get_buffer_dup(&in, &r->auth_len);
		if (!in.err && !r->auth_scheme)
			in.err = -EBADMSG;
		break;
	case ZOP_SASL:
		/* GetSASLRequest {buffer token}: the token goes to auth_data
		 * (NULL and length 0 for an empty or null token) */
		r->auth_data = jute_get_buffer_dup(&in, &r->auth_len);
		if (r->auth_len < 0)
			r->auth_len = 0;
		break;
	case ZOP_RECONFIG:
		/* Refused by the server; the body is not needed. */
		in.pos = in.len;
		break;
	case ZOP_CREATE:
	case ZOP_CREATE2:
	case ZOP_CREATECONTAINER:
	case ZOP_CREATETTL:
	case ZOP_DELETE:
	case ZOP_CHECK:
	case ZOP_EXISTS:
	case ZOP_GETDATA:
	case ZOP_GETCHILDREN:
	case ZOP_GETCHILDREN2:
	case ZOP_SETDATA:
	case ZOP_SETACL:
	case ZOP_GETACL:
	case ZOP_SYNC:
	case ZOP_DELETECONTAINER:
	case ZOP_GETALLCHILDRENNUMBER:
	case ZOP_GETEPHEMERALS:
	case ZOP_ADDWATCH:
	case ZOP_CHECKWATCHES:
	case ZOP_REMOVEWATCHES:
		zk_op_get(&in, r->type, &r->op);
		break;
	default:
		/* ping, closeSession, whoAmI, unknown: no body we read. */
		in.pos = in.len;
		break;
	}
	if (!in.err && jute_in_left(&in) != 0)
		in.err = -EBADMSG;
	if (in.err) {
		int err = in.err;
		zk_request_free(r);
		return err;
	}
	return 0;
}

/* ---------------------------------------------------------------- results */

void zk_result_free(struct zk_result *r)
{
	free(r->path);
	free(r->data);
	zk_str_vec_free(&r->children);
	zk_acl_vec_free(&r->acl);
	for (int32_t i = 0; i < r->ninfo; i++) {
		free(r->info[i].auth_scheme);
		free(r->info[i].user);
	}
	free(r->info);
	memset(r, 0, sizeof(*r));
}

void zk_result_put(struct jute_out *o, int32_t type, const struct zk_result *r)
{
	switch (type) {
	case ZOP_CREATE:
	case ZOP_SYNC:
		jute_put_string(o, r->path);
		break;
	case ZOP_CREATE2:
	case ZOP_CREATECONTAINER:
	case ZOP_CREATETTL:
		jute_put_string(o, r->path);
		zk_stat_put(o, &r->stat);
		break;
	case ZOP_EXISTS:
	case ZOP_SETDATA:
	case ZOP_SETACL:
		zk_stat_put(o, &r->stat);
		break;
	case ZOP_GETDATA:
	case ZOP_RECONFIG:
		jute_put_buffer(o, r->data, r->data_len);
		zk_stat_put(o, &r->stat);
		break;
	case ZOP_SASL:
		jute_put_buffer(o, r->data, r->data_len);
		break;
	case ZOP_GETACL:
		zk_acl_vec_put(o, &r->acl);
		zk_stat_put(o, &r->stat);
		break;
	case ZOP_GETCHILDREN:
	case ZOP_GETEPHEMERALS:
		zk_str_vec_put(o, &r->children);
		break;
	case ZOP_GETCHILDREN2:
		zk_str_vec_put(o, &r->children);
		zk_stat_put(o, &r->stat);
		break;
	case ZOP_GETALLCHILDRENNUMBER:
		jute_put_int(o, r->number);
		break;
	case ZOP_ADDWATCH:
	case ZOP_ERROR:
		jute_put_int(o, r->err);
		break;
	case ZOP_WHOAMI:
		jute_put_int(o, r->ninfo);
		for (int32_t i = 0; i < r->ninfo; i++) {
			jute_put_string(o, r->info[i].auth_scheme);
			jute_put_string(o, r->info[i].user);
		}
		break;
	default:
		break; /* delete, check, setWatches, auth, ... : no body */
	}
}

int zk_result_get(struct jute_in *in, int32_t type, struct zk_result *r)
{
	memset(r, 0, sizeof(*r));
	r->type = type;
	r->data_len = -1;
	switch (type) {
	case ZOP_CREATE:
	case ZOP_SYNC:
		r->path = jute_get_string_dup(in);
		break;
	case ZOP_CREATE2:
	case ZOP_CREATECONTAINER:
	case ZOP_CREATETTL:
		r->path = jute_get_string_dup(in);
		zk_stat_get(in, &r->stat);
		break;
	case ZOP_EXISTS:
	case ZOP_SETDATA:
	case ZOP_SETACL:
		zk_stat_get(in, &r->stat);
		break;
	case ZOP_GETDATA:
	case ZOP_RECONFIG:
		r->data = jute_get_buffer_dup(in, &r->data_len);
		zk_stat_get(in, &r->stat);
		break;
	case ZOP_SASL:
		r->data = jute_get_buffer_dup(in, &r->data_len);
		break;
	case ZOP_GETACL:
		zk_acl_vec_get(in, &r->acl);
		zk_stat_get(in, &r->stat);
		break;
	case ZOP_GETCHILDREN:
	case ZOP_GETEPHEMERALS:
		zk_str_vec_get(in, &r->children);
		break;
	case ZOP_GETCHILDREN2:
		zk_str_vec_get(in, &r->children);
		zk_stat_get(in, &r->stat);
		break;
	case ZOP_GETALLCHILDRENNUMBER:
		r->number = jute_get_int(in);
		break;
	case ZOP_ADDWATCH:
	case ZOP_ERROR:
		r->err = jute_get_int(in);
		break;
	case ZOP_WHOAMI: {
		int32_t n = jute_get_count(in, 8);
		if (in->err || n == 0)
			break;
		r->info = calloc((size_t)n, sizeof(*r->info));
		if (!r->info) {
			in->err = -ENOMEM;
			break;
		}
		for (int32_t i = 0; i < n && !in->err; i++) {
			r->ninfo = i + 1;
			r->info[i].auth_scheme = jute_get_string_dup(in);
			r->info[i].user = jute_get_string_dup(in);
		}
		break;
	}
	default:
		break;
	}
	if (in->err) {
		zk_result_free(r);
		return in->err;
	}
	return 0;
}

/* ---------------------------------------------------------------- responses */

void zk_response_free(struct zk_response *r)
{
	zk_result_free(&r->r);
	for (int32_t i = 0; i < r->nres; i++)
		zk_result_free(&r->res[i]);
	free(r->res);
	free(r->ev.path);
	memset(r, 0, sizeof(*r));
}

void zk_response_put(struct jute_out *o, int32_t req_type, const struct zk_response *r)
{
	size_t at = jute_frame_begin(o);
	jute_put_int(o, r->xid);
	jute_put_long(o, r->zxid);
	jute_put_int(o, r->err);
	if (r->xid == ZXID_NOTIFICATION) {
		jute_put_int(o, r->ev.type);
		jute_put_int(o, r->ev.state);
		jute_put_string(o, r->ev.path);
	} else if (r->err != 0 && req_type == ZOP_SASL) {
		/* ZooKeeper answers a failed SASL step with the header and an
		 * empty SetSASLResponse (null token) before it closes */
		jute_put_buffer(o, NULL, -1);
	} else if (r->err == 0) {
		if (req_type == ZOP_MULTI || req_type == ZOP_MULTIREAD) {
			for (int32_t i = 0; i < r->nres; i++) {
				const struct zk_result *e = &r->res[i];
				int32_t t = e->type;
				jute_put_int(o, t);
				jute_put_bool(o, false);
				jute_put_int(o, t == ZOP_ERROR ? e->err : 0);
				zk_result_put(o, t, e);
			}
			jute_put_int(o, -1);
			jute_put_bool(o, true);
			jute_put_int(o, -1);
		} else {
			zk_result_put(o, req_type, &r->r);
		}
	}
	jute_frame_end(o, at);
}

static int multi_result_get(struct jute_in *in, struct zk_response *r)
{
	int32_t cap = 0;
	for (;;) {
		int32_t type = jute_get_int(in);
		bool done = jute_get_bool(in);
		int32_t err = jute_get_int(in);
		if (in->err)
			return in->err;
		if (done)
			return 0;
		if (r->nres == cap) {
			int32_t ncap = cap ? cap * 2 : 4;
			struct zk_result *v = realloc(r->res, (size_t)ncap * sizeof(*v));
			if (!v)
				return in->err = -ENOMEM;
			r->res = v;
			cap = ncap;
		}
		if (zk_result_get(in, type, &r->res[r->nres]))
			return in->err;
		if (type != ZOP_ERROR)
			r->res[r->nres].err = err;
		r->nres++;
	}
}

int zk_response_get(const uint8_t *body, size_t len, int32_t req_type, struct zk_response *r)
{
	struct jute_in in;
	memset(r, 0, sizeof(*r));
	jute_in_init(&in, body, len);
	r->xid = jute_get_int(&in);
	r->zxid = jute_get_long(&in);
	r->err = jute_get_int(&in);
	if (in.err)
		return in.err;
	if (r->xid == ZXID_NOTIFICATION) {
		r->ev.type = jute_get_int(&in);
		r->ev.state = jute_get_int(&in);
		r->ev.path = jute_get_string_dup(&in);
	} else if (r->xid == ZXID_PING || r->xid == ZXID_AUTH || r->err != 0) {
		/* header only */
	} else if (req_type == ZOP_MULTI || req_type == ZOP_MULTIREAD) {
		multi_result_get(&in, r);
	} else {
		zk_result_get(&in, req_type, &r->r);
	}
	if (!in.err && jute_in_left(&in) != 0 && r->xid != ZXID_NOTIFICATION)
		in.err = -EBADMSG;
	if (in.err) {
		int err = in.err;
		zk_response_free(r);
		return err;
	}
	return 0;
}

void zk_event_put(struct jute_out *o, int64_t zxid, int32_t type, int32_t state, const char *path)
{
	size_t at = jute_frame_begin(o);
	jute_put_int(o, ZXID_NOTIFICATION);
	jute_put_long(o, zxid);
	jute_put_int(o, 0);
	jute_put_int(o, type);
	jute_put_int(o, state);
	jute_put_string(o, path);
	jute_frame_end(o, at);
}
