/*
 * core_fixture.h — shared fixture of the core's unit tests (test_core.c,
 * test_watch.c, test_acl.c, test_session.c, test_txn.c): a core on a fake
 * clock, a recorder of watch notifications, and one-line helpers that build
 * a request, run it through prep → encode → decode → apply (so every write
 * in the tests also exercises the txn codec) or through core_read, and
 * return the ZooKeeper error code.  Header-only (static functions) so it
 * is not linked into unrelated test programs.
 */
#ifndef ZKFS_TESTS_CORE_FIXTURE_H
#define ZKFS_TESTS_CORE_FIXTURE_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core.h"

struct fx_event {
	struct core_watcher *w;
	int32_t type;
	char path[256];
	int64_t zxid;
};

struct fx {
	struct core *c;
	int64_t now;
	struct fx_event ev[256];
	int nev;
	struct core_watcher w1, w2, w3;
	struct core_auth auth; /* ip:127.0.0.1 */
	bool no_roundtrip;     /* apply the prepared txn itself */
};

static __attribute__((unused)) void fx_notify(void *arg, struct core_watcher *w, int32_t type,
					      const char *path, int64_t zxid)
{
	struct fx *f = arg;
	assert_true(f->nev < 256);
	struct fx_event *e = &f->ev[f->nev++];
	e->w = w;
	e->type = type;
	snprintf(e->path, sizeof(e->path), "%s", path);
	e->zxid = zxid;
}

static struct fx *fx_new_cfg(struct core_config *cfg)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->now = 1000000;
	cfg->hooks.notify = fx_notify;
	cfg->hooks.arg = f;
	if (!cfg->now_ms)
		cfg->now_ms = f->now;
	f->c = core_new(cfg);
	assert_non_null(f->c);
	core_watcher_init(&f->w1);
	core_watcher_init(&f->w2);
	core_watcher_init(&f->w3);
	core_auth_init(&f->auth, "127.0.0.1");
	return f;
}

static struct fx *fx_new(void)
{
	struct core_config cfg = {0};
	cfg.tick_ms = 2000;
	cfg.ttl_enabled = true;
	return fx_new_cfg(&cfg);
}

static __attribute__((unused)) void fx_free(struct fx *f)
{
	core_watcher_gone(f->c, &f->w1);
	core_watcher_gone(f->c, &f->w2);
	core_watcher_gone(f->c, &f->w3);
	core_auth_free(&f->auth);
	core_free(f->c);
	free(f);
}

/* Count of recorded events of (w, type, path); clears nothing. */
static __attribute__((unused)) int fx_count(const struct fx *f, struct core_watcher *w,
					    int32_t type, const char *path)
{
	int n = 0;
	for (int i = 0; i < f->nev; i++)
		if ((!w || f->ev[i].w == w) && f->ev[i].type == type &&
		    !strcmp(f->ev[i].path, path))
			n++;
	return n;
}

/* Applies t the way the server would (through the log codec unless
 * no_roundtrip) and frees it. */
static __attribute__((unused)) void fx_commit(struct fx *f, struct core_txn *t,
					      struct zk_response *resp)
{
	if (f->no_roundtrip) {
		core_apply(f->c, t, resp);
		core_txn_free(t);
		return;
	}
	struct jute_out o;
	struct core_txn *d;
	jute_out_init(&o);
	core_txn_encode(t, &o);
	assert_int_equal(o.err, 0);
	assert_int_equal(core_txn_decode(o.buf, o.len, &d), 0);
	assert_true(core_txn_zxid(d) == core_txn_zxid(t));
	core_apply(f->c, d, resp);
	core_txn_free(d);
	core_txn_free(t);
	jute_out_free(&o);
}

static __attribute__((unused)) int64_t fx_session(struct fx *f, int32_t timeout)
{
	int64_t sid;
	int32_t to;
	struct core_txn *t;
	assert_int_equal(core_prep_create_session(f->c, timeout, f->now, &sid, &to, &t), 0);
	fx_commit(f, t, NULL);
	return sid;
}

static __attribute__((unused)) int fx_close(struct fx *f, int64_t sid)
{
	struct zk_request req = {.type = ZOP_CLOSESESSION};
	struct zk_response resp = {0};
	struct core_txn *t;
	assert_int_equal(core_prep(f->c, sid, NULL, &req, f->now, &t), 0);
	fx_commit(f, t, &resp);
	int err = resp.err;
	zk_response_free(&resp);
	return err;
}

/* Runs a write request; returns the reply's err.  resp may be NULL. */
static __attribute__((unused)) int fx_write(struct fx *f, int64_t sid, const struct core_auth *auth,
					    const struct zk_request *req, struct zk_response *resp)
{
	struct zk_response local = {0};
	struct core_txn *t;
	assert_int_equal(core_prep(f->c, sid, auth, req, f->now, &t), 0);
	fx_commit(f, t, resp ? resp : &local);
	int err = resp ? resp->err : local.err;
	zk_response_free(&local);
	return err;
}

static __attribute__((unused)) struct zk_op fx_op_create(const char *path, const char *data,
							 int32_t flags)
{
	static struct zk_acl open_acl = {ZK_PERM_ALL, {(char *)"world", (char *)"anyone"}};
	struct zk_op op = {0};
	op.type = ZOP_CREATE;
	op.path = (char *)path;
	op.data = (uint8_t *)data;
	op.data_len = data ? (int32_t)strlen(data) : -1;
	op.acl.n = 1;
	op.acl.v = &open_acl;
	op.flags = flags;
	return op;
}

/* create; *out_path (malloc'd) gets the actual path when non-NULL. */
static __attribute__((unused)) int fx_create_as(struct fx *f, int64_t sid,
						const struct core_auth *auth, int32_t type,
						const char *path, const char *data, int32_t flags,
						char **out_path, struct zk_stat *st)
{
	struct zk_request req = {0};
	struct zk_response resp = {0};
	req.type = type;
	req.op = fx_op_create(path, data, flags);
	req.op.type = type;
	int err = fx_write(f, sid, auth ? auth : &f->auth, &req, &resp);
	if (!err && out_path)
		*out_path = strdup(resp.r.path);
	if (!err && st)
		*st = resp.r.stat;
	zk_response_free(&resp);
	return err;
}

static __attribute__((unused)) int fx_create(struct fx *f, int64_t sid, const char *path,
					     const char *data, int32_t flags)
{
	return fx_create_as(f, sid, NULL, ZOP_CREATE, path, data, flags, NULL, NULL);
}

static __attribute__((unused)) int fx_delete(struct fx *f, int64_t sid, const char *path,
					     int32_t version)
{
	struct zk_request req = {.type = ZOP_DELETE};
	req.op.type = ZOP_DELETE;
	req.op.path = (char *)path;
	req.op.version = version;
	return fx_write(f, sid, &f->auth, &req, NULL);
}

static __attribute__((unused)) int fx_set(struct fx *f, int64_t sid, const char *path,
					  const char *data, int32_t version, struct zk_stat *st)
{
	struct zk_request req = {.type = ZOP_SETDATA};
	struct zk_response resp = {0};
	req.op.type = ZOP_SETDATA;
	req.op.path = (char *)path;
	req.op.data = (uint8_t *)data;
	req.op.data_len = data ? (int32_t)strlen(data) : -1;
	req.op.version = version;
	int err = fx_write(f, sid, &f->auth, &req, &resp);
	if (!err && st)
		*st = resp.r.stat;
	zk_response_free(&resp);
	return err;
}

/* Runs a single-op read; resp must be freed by the caller. */
static __attribute__((unused)) int fx_read(struct fx *f, int64_t sid, const struct core_auth *auth,
					   struct core_watcher *w, int32_t type, const char *path,
					   bool watch, struct zk_response *resp)
{
	struct zk_request req = {0};
	req.type = type;
	req.op.type = type;
	req.op.path = (char *)path;
	req.op.watch = watch;
	memset(resp, 0, sizeof(*resp));
	assert_int_equal(core_read(f->c, sid, auth ? auth : &f->auth, w, &req, resp), 0);
	return resp->err;
}

static __attribute__((unused)) int fx_stat(struct fx *f, const char *path, struct zk_stat *st)
{
	struct zk_response resp;
	int err = fx_read(f, 0, NULL, NULL, ZOP_EXISTS, path, false, &resp);
	if (!err && st)
		*st = resp.r.stat;
	zk_response_free(&resp);
	return err;
}

static __attribute__((unused)) int fx_exists_w(struct fx *f, struct core_watcher *w,
					       const char *path)
{
	struct zk_response resp;
	int err = fx_read(f, 0, NULL, w, ZOP_EXISTS, path, true, &resp);
	zk_response_free(&resp);
	return err;
}

static __attribute__((unused)) int fx_getdata_w(struct fx *f, struct core_watcher *w,
						const char *path)
{
	struct zk_response resp;
	int err = fx_read(f, 0, NULL, w, ZOP_GETDATA, path, true, &resp);
	zk_response_free(&resp);
	return err;
}

static __attribute__((unused)) int fx_children_w(struct fx *f, struct core_watcher *w,
						 const char *path)
{
	struct zk_response resp;
	int err = fx_read(f, 0, NULL, w, ZOP_GETCHILDREN, path, true, &resp);
	zk_response_free(&resp);
	return err;
}

static __attribute__((unused)) int fx_watch_op(struct fx *f, struct core_watcher *w, int32_t type,
					       const char *path, int32_t mode)
{
	struct zk_request req = {0};
	struct zk_response resp = {0};
	req.type = type;
	req.op.type = type;
	req.op.path = (char *)path;
	req.op.mode = mode;
	assert_int_equal(core_read(f->c, 0, &f->auth, w, &req, &resp), 0);
	int err = resp.err;
	zk_response_free(&resp);
	return err;
}

#endif
