/*
 * zkc_ops.c — turns API calls into encoded requests (struct zkc_req) and
 * holds the public asynchronous operation entry points.
 *
 * Building is separated from submitting so that the blocking API can do
 * all the work that needs the caller's memory (validation, chroot, jute
 * encoding) on the caller's thread; the loop thread then only patches the
 * xid into the frame and queues it.  Only immutable session fields are read
 * here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "zkc_int.h"

static char *cat(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	char *p = malloc(alen + blen + 1);
	if (!p)
		return NULL;
	memcpy(p, a, alen);
	memcpy(p + alen, b, blen + 1);
	return p;
}

char *zkc__full_path(const zkc_session *s, const char *path)
{
	if (!s->chroot)
		return strdup(path);
	if (strcmp(path, "/") == 0)
		return strdup(s->chroot);
	return cat(s->chroot, s->chroot_len, path);
}

const char *zkc__strip(const zkc_session *s, const char *full)
{
	if (!s->chroot || !full)
		return full;
	if (strncmp(full, s->chroot, s->chroot_len) != 0)
		return full;
	if (full[s->chroot_len] == 0)
		return "/";
	if (full[s->chroot_len] == '/')
		return full + s->chroot_len;
	return full;
}

void zkc__strip_inplace(const zkc_session *s, char **p)
{
	if (!*p || !s->chroot)
		return;
	const char *v = zkc__strip(s, *p);
	if (v == *p)
		return;
	memmove(*p, v, strlen(v) + 1);
}

static bool path_ok(const char *path, bool sequential)
{
	if (!path)
		return false;
	size_t n = strlen(path);
	if (sequential && n > 1 && path[n - 1] == '/') {
		/* "/q/" + suffix is a valid sequential name; check as if suffixed. */
		char *tmp = cat(path, n, "0");
		bool ok = tmp && zk_path_valid(tmp, n + 1);
		free(tmp);
		return ok;
	}
	return zk_path_valid(path, n);
}

void zkc__req_free(struct zkc_req *q)
{
	if (!q)
		return;
	free(q->frame);
	free(q->wpath);
	free(q->auth_scheme);
	free(q->auth_data);
	free(q);
}

static struct zkc_req *req_new(zkc_session *s, int type, int *err)
{
	struct zkc_req *q = calloc(1, sizeof(*q));
	if (!q) {
		*err = ZE_SYSTEMERROR;
		return NULL;
	}
	q->s = s;
	q->type = type;
	q->wkind = W_NONE;
	return q;
}

/* Encodes r (whose paths are already full) into q->frame. */
static int encode(zkc_session *s, struct zkc_req *q, const struct zk_request *r)
{
	struct jute_out o;
	jute_out_init(&o);
	zk_request_put(&o, r);
	if (o.err) {
		jute_out_free(&o);
		return ZE_SYSTEMERROR;
	}
	if (o.len - 4 > s->max_request) {
		jute_out_free(&o);
		return ZE_BADARGUMENTS;
	}
	q->frame = jute_out_steal(&o, &q->flen);
	return ZE_OK;
}

/* Common path: one op with a single path. */
static struct zkc_req *build_op(zkc_session *s, struct zk_op *op, bool seq, int *err)
{
	if (!path_ok(op->path, seq)) {
		*err = ZE_BADARGUMENTS;
		return NULL;
	}
	struct zkc_req *q = req_new(s, op->type, err);
	if (!q)
		return NULL;
	char *full = zkc__full_path(s, op->path);
	if (!full) {
		zkc__req_free(q);
		*err = ZE_SYSTEMERROR;
		return NULL;
	}
	struct zk_request r = {.type = op->type, .op = *op};
	r.op.path = full;
	*err = encode(s, q, &r);
	free(full);
	if (*err) {
		zkc__req_free(q);
		return NULL;
	}
	return q;
}

struct zkc_req *zkc__req_build(zkc_session *s, const struct zk_request *r, int *err)
{
	struct zk_op op = r->op;
	op.type = r->type;
	return build_op(s, &op, false, err);
}

struct zkc_req *zkc__build_create(zkc_session *s, const char *path, const void *data, int32_t len,
				  const struct zk_acl_vec *acl, int mode, int64_t ttl, int *err)
{
	struct zk_op op = {0};
	switch (mode) {
	case ZK_PERSISTENT:
	case ZK_EPHEMERAL:
	case ZK_PERSISTENT_SEQUENTIAL:
	case ZK_EPHEMERAL_SEQUENTIAL:
		op.type = ZOP_CREATE2;
		break;
	case ZK_CONTAINER:
		op.type = ZOP_CREATECONTAINER;
		break;
	case ZK_PERSISTENT_WITH_TTL:
	case ZK_PERSISTENT_SEQUENTIAL_WITH_TTL:
		if (ttl <= 0 || ttl > ZK_MAX_TTL) {
			*err = ZE_BADARGUMENTS;
			return NULL;
		}
		op.type = ZOP_CREATETTL;
		op.ttl = ttl;
		break;
	default:
		*err = ZE_BADARGUMENTS;
		return NULL;
	}
	bool seq = mode == ZK_PERSISTENT_SEQUENTIAL || mode == ZK_EPHEMERAL_SEQUENTIAL ||
		   mode == ZK_PERSISTENT_SEQUENTIAL_WITH_TTL;
	op.path = (char *)path;
	op.data = (uint8_t *)data;
	op.data_len = data ? len : -1;
	if (op.data_len < -1)
		op.data_len = -1;
	op.acl = acl && acl->n > 0 ? *acl : zkc_acl_open;
	if (acl && acl->n == 0 && acl->v) {
		*err = ZE_INVALIDACL;
		return NULL;
	}
	op.flags = mode;
	return build_op(s, &op, seq, err);
}

struct zkc_req *zkc__build_path(zkc_session *s, int type, const char *path, int32_t version, int *err)
{
	struct zk_op op = {.type = type, .path = (char *)path, .version = version};
	return build_op(s, &op, false, err);
}

/* Resolves the zkc_session_watcher marker. */
static bool resolve_watcher(const zkc_session *s, zkc_watch_fn *wfn, void **warg)
{
	if (*wfn != zkc_session_watcher)
		return true;
	if (!s->watch_cb)
		return false;
	*wfn = s->watch_cb;
	*warg = s->watch_arg;
	return true;
}

struct zkc_req *zkc__build_watch(zkc_session *s, int type, const char *path, zkc_watch_fn wfn, void *warg,
				 int *err)
{
	if (!resolve_watcher(s, &wfn, &warg)) {
		*err = ZE_BADARGUMENTS;
		return NULL;
	}
	struct zk_op op = {.type = type, .path = (char *)path, .watch = wfn != NULL};
	struct zkc_req *q = build_op(s, &op, false, err);
	if (!q || !wfn)
		return q;
	q->wkind = type == ZOP_GETCHILDREN2 || type == ZOP_GETCHILDREN ? W_CHILD : W_DATA;
	q->wfn = wfn;
	q->warg = warg;
	q->wpath = zkc__full_path(s, path);
	if (!q->wpath) {
		zkc__req_free(q);
		*err = ZE_SYSTEMERROR;
		return NULL;
	}
	return q;
}

struct zkc_req *zkc__build_set(zkc_session *s, const char *path, const void *data, int32_t len, int32_t version,
			       int *err)
{
	struct zk_op op = {.type = ZOP_SETDATA, .path = (char *)path, .data = (uint8_t *)data,
			   .data_len = data ? len : -1, .version = version};
	if (op.data_len < -1)
		op.data_len = -1;
	return build_op(s, &op, false, err);
}

struct zkc_req *zkc__build_set_acl(zkc_session *s, const char *path, const struct zk_acl_vec *acl,
				   int32_t version, int *err)
{
	if (!acl || acl->n <= 0) {
		*err = ZE_INVALIDACL;
		return NULL;
	}
	struct zk_op op = {.type = ZOP_SETACL, .path = (char *)path, .acl = *acl, .version = version};
	return build_op(s, &op, false, err);
}

static bool multi_type_ok(int multi, int t)
{
	if (multi == ZOP_MULTIREAD)
		return t == ZOP_GETDATA || t == ZOP_GETCHILDREN;
	switch (t) {
	case ZOP_CREATE:
	case ZOP_CREATE2:
	case ZOP_CREATECONTAINER:
	case ZOP_CREATETTL:
	case ZOP_DELETE:
	case ZOP_SETDATA:
	case ZOP_CHECK:
		return true;
	}
	return false;
}

struct zkc_req *zkc__build_multi(zkc_session *s, int type, const struct zk_op *ops, int nops, int *err)
{
	if (nops < 0 || (nops > 0 && !ops)) {
		*err = ZE_BADARGUMENTS;
		return NULL;
	}
	struct zk_op *v = calloc((size_t)(nops ? nops : 1), sizeof(*v));
	if (!v) {
		*err = ZE_SYSTEMERROR;
		return NULL;
	}
	struct zkc_req *q = NULL;
	int i;
	*err = ZE_OK;
	for (i = 0; i < nops; i++) {
		v[i] = ops[i];
		v[i].path = NULL;
		bool seq = (ops[i].flags & 2) != 0 && ops[i].type != ZOP_SETDATA && ops[i].type != ZOP_DELETE &&
			   ops[i].type != ZOP_CHECK && ops[i].flags != ZK_CONTAINER;
		if (!multi_type_ok(type, ops[i].type) || !path_ok(ops[i].path, seq)) {
			*err = ZE_BADARGUMENTS;
			break;
		}
		if ((ops[i].type == ZOP_CREATE || ops[i].type == ZOP_CREATE2 || ops[i].type == ZOP_CREATECONTAINER ||
		     ops[i].type == ZOP_CREATETTL) &&
		    ops[i].acl.n == 0)
			v[i].acl = zkc_acl_open;
		v[i].path = zkc__full_path(s, ops[i].path);
		if (!v[i].path) {
			*err = ZE_SYSTEMERROR;
			break;
		}
	}
	if (!*err) {
		q = req_new(s, type, err);
		if (q) {
			struct zk_request r = {.type = type, .nops = nops, .ops = v};
			*err = encode(s, q, &r);
			if (*err) {
				zkc__req_free(q);
				q = NULL;
			}
		}
	}
	for (int j = 0; j < nops && j <= i; j++)
		free(v[j].path);
	free(v);
	return q;
}

struct zkc_req *zkc__build_add_watch(zkc_session *s, const char *path, int mode, zkc_watch_fn wfn, void *warg,
				     int *err)
{
	if (!wfn || !resolve_watcher(s, &wfn, &warg) ||
	    (mode != ZK_ADDWATCH_PERSISTENT && mode != ZK_ADDWATCH_PERSISTENT_RECURSIVE)) {
		*err = ZE_BADARGUMENTS;
		return NULL;
	}
	struct zk_op op = {.type = ZOP_ADDWATCH, .path = (char *)path, .mode = mode};
	struct zkc_req *q = build_op(s, &op, false, err);
	if (!q)
		return NULL;
	q->wkind = mode == ZK_ADDWATCH_PERSISTENT ? W_PERSIST : W_RECURSIVE;
	q->wfn = wfn;
	q->warg = warg;
	q->wpath = zkc__full_path(s, path);
	if (!q->wpath) {
		zkc__req_free(q);
		*err = ZE_SYSTEMERROR;
		return NULL;
	}
	return q;
}

struct zkc_req *zkc__build_watches(zkc_session *s, int type, const char *path, int wtype, zkc_watch_fn wfn,
				   void *warg, bool local, int *err)
{
	if (wfn && !resolve_watcher(s, &wfn, &warg)) {
		*err = ZE_BADARGUMENTS;
		return NULL;
	}
	if (wtype < ZK_WATCHER_CHILDREN || wtype > ZK_WATCHER_PERSISTENT_RECURSIVE) {
		*err = ZE_BADARGUMENTS;
		return NULL;
	}
	/* Servers before 3.9 know only types 1-3; persistent watches are
	 * removed on the wire with ANY (see zkc__req_submit). */
	struct zk_op op = {.type = type, .path = (char *)path,
			   .mode = wtype >= ZK_WATCHER_PERSISTENT ? ZK_WATCHER_ANY : wtype};
	struct zkc_req *q = build_op(s, &op, false, err);
	if (!q)
		return NULL;
	q->wtype = wtype;
	q->wfn = wfn;
	q->warg = warg;
	q->wlocal = local;
	q->wpath = zkc__full_path(s, path);
	if (!q->wpath) {
		zkc__req_free(q);
		*err = ZE_SYSTEMERROR;
		return NULL;
	}
	return q;
}

struct zkc_req *zkc__build_auth(zkc_session *s, const char *scheme, const void *data, size_t len, int *err)
{
	if (!scheme || !*scheme || (len && !data) || len > JUTE_MAX_BUFFER) {
		*err = ZE_BADARGUMENTS;
		return NULL;
	}
	struct zkc_req *q = req_new(s, ZOP_AUTH, err);
	if (!q)
		return NULL;
	q->auth_scheme = strdup(scheme);
	q->auth_data = malloc(len + 1);
	if (!q->auth_scheme || !q->auth_data) {
		zkc__req_free(q);
		*err = ZE_SYSTEMERROR;
		return NULL;
	}
	if (len)
		memcpy(q->auth_data, data, len);
	q->auth_len = len;
	return q;
}

struct zkc_req *zkc__build_whoami(zkc_session *s, int *err)
{
	struct zkc_req *q = req_new(s, ZOP_WHOAMI, err);
	if (!q)
		return NULL;
	struct zk_request r = {.type = ZOP_WHOAMI};
	*err = encode(s, q, &r);
	if (*err) {
		zkc__req_free(q);
		return NULL;
	}
	return q;
}

/* ------------------------------------------------------------------ async entry points */

static int submit(struct zkc_req *q, int err, zkc_done_fn done, void *arg)
{
	if (!q)
		return err;
	if (!done) {
		zkc__req_free(q);
		return ZE_BADARGUMENTS;
	}
	q->done = done;
	q->arg = arg;
	return zkc__req_submit(q);
}

int zkc_create(zkc_session *s, const char *path, const void *data, int32_t len, const struct zk_acl_vec *acl,
	       int mode, int64_t ttl, zkc_done_fn done, void *arg)
{
	int err = 0;
	struct zkc_req *q = zkc__build_create(s, path, data, len, acl, mode, ttl, &err);
	return submit(q, err, done, arg);
}

int zkc_delete(zkc_session *s, const char *path, int32_t version, zkc_done_fn done, void *arg)
{
	int err = 0;
	struct zkc_req *q = zkc__build_path(s, ZOP_DELETE, path, version, &err);
	return submit(q, err, done, arg);
}

int zkc_exists(zkc_session *s, const char *path, zkc_watch_fn wfn, void *warg, zkc_done_fn done, void *arg)
{
	int err = 0;
	struct zkc_req *q = zkc__build_watch(s, ZOP_EXISTS, path, wfn, warg, &err);
	return submit(q, err, done, arg);
}

int zkc_get(zkc_session *s, const char *path, zkc_watch_fn wfn, void *warg, zkc_done_fn done, void *arg)
{
	int err = 0;
	struct zkc_req *q = zkc__build_watch(s, ZOP_GETDATA, path, wfn, warg, &err);
	return submit(q, err, done, arg);
}

int zkc_set(zkc_session *s, const char *path, const void *data, int32_t len, int32_t version, zkc_done_fn done,
	    void *arg)
{
	int err = 0;
	struct zkc_req *q = zkc__build_set(s, path, data, len, version, &err);
	return submit(q, err, done, arg);
}

int zkc_get_acl(zkc_session *s, const char *path, zkc_done_fn done, void *arg)
{
	int err = 0;
	struct zkc_req *q = zkc__build_path(s, ZOP_GETACL, path, 0, &err);
	return submit(q, err, done, arg);
}

int zkc_set_acl(zkc_session *s, const char *path, const struct zk_acl_vec *acl, int32_t version, zkc_done_fn done,
		void *arg)
{
	int err = 0;
	struct zkc_req *q = zkc__build_set_acl(s, path, acl, version, &err);
	return submit(q, err, done, arg);
}

int zkc_get_children(zkc_session *s, const char *path, zkc_watch_fn wfn, void *warg, zkc_done_fn done, void *arg)
{
	int err = 0;
	struct zkc_req *q = zkc__build_watch(s, ZOP_GETCHILDREN2, path, wfn, warg, &err);
	return submit(q, err, done, arg);
}

int zkc_sync(zkc_session *s, const char *path, zkc_done_fn done, void *arg)
{
	int err = 0;
	struct zkc_req *q = zkc__build_path(s, ZOP_SYNC, path, 0, &err);
	return submit(q, err, done, arg);
}

int zkc_multi(zkc_session *s, const struct zk_op *ops, int nops, zkc_done_fn done, void *arg)
{
	int err = 0;
	struct zkc_req *q = zkc__build_multi(s, ZOP_MULTI, ops, nops, &err);
	return submit(q, err, done, arg);
}

int zkc_multi_read(zkc_session *s, const struct zk_op *ops, int nops, zkc_done_fn done, void *arg)
{
	int err = 0;
	struct zkc_req *q = zkc__build_multi(s, ZOP_MULTIREAD, ops, nops, &err);
	return submit(q, err, done, arg);
}

int zkc_add_watch(zkc_session *s, const char *path, int mode, zkc_watch_fn wfn, void *warg, zkc_done_fn done,
		  void *arg)
{
	int err = 0;
	struct zkc_req *q = zkc__build_add_watch(s, path, mode, wfn, warg, &err);
	return submit(q, err, done, arg);
}

int zkc_remove_watches(zkc_session *s, const char *path, int type, zkc_watch_fn wfn, void *warg, bool local,
		       zkc_done_fn done, void *arg)
{
	int err = 0;
	struct zkc_req *q = zkc__build_watches(s, ZOP_REMOVEWATCHES, path, type, wfn, warg, local, &err);
	return submit(q, err, done, arg);
}

int zkc_check_watches(zkc_session *s, const char *path, int type, zkc_done_fn done, void *arg)
{
	int err = 0;
	struct zkc_req *q = zkc__build_watches(s, ZOP_CHECKWATCHES, path, type, NULL, NULL, false, &err);
	return submit(q, err, done, arg);
}

int zkc_get_ephemerals(zkc_session *s, const char *prefix, zkc_done_fn done, void *arg)
{
	int err = 0;
	struct zkc_req *q = zkc__build_path(s, ZOP_GETEPHEMERALS, prefix ? prefix : "/", 0, &err);
	return submit(q, err, done, arg);
}

int zkc_get_all_children_number(zkc_session *s, const char *path, zkc_done_fn done, void *arg)
{
	int err = 0;
	struct zkc_req *q = zkc__build_path(s, ZOP_GETALLCHILDRENNUMBER, path, 0, &err);
	return submit(q, err, done, arg);
}

int zkc_whoami(zkc_session *s, zkc_done_fn done, void *arg)
{
	int err = 0;
	struct zkc_req *q = zkc__build_whoami(s, &err);
	return submit(q, err, done, arg);
}

int zkc_add_auth(zkc_session *s, const char *scheme, const void *data, size_t len, zkc_done_fn done, void *arg)
{
	int err = 0;
	struct zkc_req *q = zkc__build_auth(s, scheme, data, len, &err);
	return submit(q, err, done, arg);
}

int zkc_multi_err(const struct zkc_result *res)
{
	for (int32_t i = 0; i < res->nres; i++) {
		int e = res->res[i].type == ZOP_ERROR ? res->res[i].err : 0;
		if (e && e != ZE_RUNTIMEINCONSISTENCY)
			return e;
	}
	for (int32_t i = 0; i < res->nres; i++)
		if (res->res[i].type == ZOP_ERROR && res->res[i].err)
			return res->res[i].err;
	return ZE_OK;
}
