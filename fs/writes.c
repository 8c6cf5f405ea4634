/*
 * writes.c — per-open buffers and atomic write-back (see writes.h).
 */
#include "writes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "zkfs.h"

enum { WOP_TRUNC, WOP_WRITE, WOP_APPEND };

struct wop {
	int type;
	off_t off; /* WRITE: offset; TRUNC: new size */
	uint8_t *data;
	size_t len;
};

/* Conflicting read-modify-writes are retried this often before EAGAIN. */
#define MAX_RETRIES 50

size_t writes_limit(const char *zpath)
{
	/* A setData frame is: length, xid, type, path, data, version. */
	return JUTE_MAX_BUFFER - 64 - strlen(zpath);
}

int zfile_open(zkc_session *s, const char *zpath, uint64_t ino, bool writable, bool append,
	       bool fresh, struct zfile **out)
{
	struct zfile *f = calloc(1, sizeof(*f));
	struct zk_stat st;
	int rc;

	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->mu, NULL);
	f->zpath = strdup(zpath);
	f->ino = ino;
	f->writable = writable;
	f->append = append;
	f->limit = writes_limit(zpath);
	if (!f->zpath) {
		zfile_free(f);
		return -ENOMEM;
	}
	if (!fresh) {
		uint8_t *data = NULL;
		int32_t len = 0;
		rc = zkc_b_get(s, zpath, NULL, NULL, &data, &len, &st);
		if (rc) {
			zfile_free(f);
			return zkfs_errno(rc);
		}
		f->view = data;
		f->len = len > 0 ? (size_t)len : 0;
		f->version = st.version;
	}
	*out = f;
	return 0;
}

int zfile_from_cache(const char *zpath, uint64_t ino, uint8_t *data, size_t len,
		     struct zfile **out)
{
	struct zfile *f;
	int rc = zfile_open(NULL, zpath, ino, false, false, true, &f);

	if (rc)
		return rc;
	f->view = data; /* taken over */
	f->len = len;
	*out = f;
	return 0;
}

ssize_t zfile_read(struct zfile *f, off_t off, size_t size, char **buf)
{
	size_t n = 0;

	pthread_mutex_lock(&f->mu);
	if (off >= 0 && (size_t)off < f->len) {
		n = f->len - (size_t)off;
		if (n > size)
			n = size;
	}
	*buf = malloc(n ? n : 1);
	if (*buf && n)
		memcpy(*buf, f->view + off, n);
	pthread_mutex_unlock(&f->mu);
	return *buf ? (ssize_t)n : -ENOMEM;
}

/* Applies one op to a buffer; 0 or -EFBIG / -ENOMEM. */
static int apply(uint8_t **buf, size_t *len, const struct wop *op, size_t limit)
{
	size_t end;
	uint8_t *nb;

	switch (op->type) {
	case WOP_TRUNC:
		end = (size_t)op->off;
		break;
	case WOP_WRITE:
		end = (size_t)op->off + op->len;
		if (end < *len)
			end = *len;
		break;
	default:
		end = *len + op->len;
		break;
	}
	if (end > limit)
		return -EFBIG;
	if (end > *len || !*buf) {
		nb = realloc(*buf, end + 1);
		if (!nb)
			return -ENOMEM;
		memset(nb + *len, 0, end + 1 - *len);
		*buf = nb;
	}
	if (op->type == WOP_WRITE)
		memcpy(*buf + op->off, op->data, op->len);
	else if (op->type == WOP_APPEND)
		memcpy(*buf + *len, op->data, op->len);
	*len = end;
	return 0;
}

static int log_op(struct zfile *f, int type, off_t off, const char *data, size_t len)
{
	struct wop *last = f->nops ? &f->ops[f->nops - 1] : NULL;
	struct wop op = {.type = type, .off = off, .len = len};
	int rc;

	/* Apply to the view first: it checks the size limit. */
	op.data = (uint8_t *)data;
	rc = apply(&f->view, &f->len, &op, f->limit);
	if (rc)
		return rc;
	f->dirty = true;
	/* Sequential writes (cat > f) coalesce into one op. */
	if (last && type != WOP_TRUNC && last->type == type &&
	    (type == WOP_APPEND || last->off + (off_t)last->len == off)) {
		uint8_t *nd = realloc(last->data, last->len + len);
		if (!nd)
			return -ENOMEM;
		memcpy(nd + last->len, data, len);
		last->data = nd;
		last->len += len;
		return 0;
	}
	if (type == WOP_TRUNC && off == 0) {
		/* Everything before a truncation to zero no longer matters. */
		for (size_t i = 0; i < f->nops; i++)
			free(f->ops[i].data);
		f->nops = 0;
	}
	if (f->nops == f->capops) {
		size_t nc = f->capops ? f->capops * 2 : 4;
		struct wop *no = realloc(f->ops, nc * sizeof(*no));
		if (!no)
			return -ENOMEM;
		f->ops = no;
		f->capops = nc;
	}
	op.data = NULL;
	if (len) {
		op.data = malloc(len);
		if (!op.data)
			return -ENOMEM;
		memcpy(op.data, data, len);
	}
	f->ops[f->nops++] = op;
	return 0;
}

ssize_t zfile_write(struct zfile *f, off_t off, const char *data, size_t size)
{
	int rc;

	pthread_mutex_lock(&f->mu);
	rc = log_op(f, f->append ? WOP_APPEND : WOP_WRITE, off, data, size);
	pthread_mutex_unlock(&f->mu);
	return rc ? rc : (ssize_t)size;
}

int zfile_truncate(struct zfile *f, off_t size)
{
	int rc;

	pthread_mutex_lock(&f->mu);
	rc = log_op(f, WOP_TRUNC, size, NULL, 0);
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static void clear_ops(struct zfile *f)
{
	for (size_t i = 0; i < f->nops; i++)
		free(f->ops[i].data);
	f->nops = 0;
	f->dirty = false;
}

int zfile_commit(zkc_session *s, struct zfile *f, struct zk_stat *st, bool *sent)
{
	int rc = 0;

	if (sent)
		*sent = false;
	pthread_mutex_lock(&f->mu);
	if (!f->dirty || !f->writable)
		goto out;
	if (f->nops && f->ops[0].type == WOP_TRUNC && f->ops[0].off == 0) {
		/* Whole replacement: independent of what the znode held. */
		rc = zkc_b_set(s, f->zpath, f->view, (int32_t)f->len, -1, st);
		if (rc == ZE_CONNECTIONLOSS) {
			int r = zkc_b_set_applied(s, f->zpath, f->view, (int32_t)f->len, -1);
			rc = r == ZKC_APPLIED ? ZE_OK : ZE_CONNECTIONLOSS;
			if (rc == ZE_OK && st)
				zkc_b_exists(s, f->zpath, NULL, NULL, st);
		}
		rc = zkfs_errno(rc);
	} else {
		for (int attempt = 0;; attempt++) {
			uint8_t *data = NULL;
			int32_t dlen = 0;
			size_t len;
			struct zk_stat cur;
			int zr = zkc_b_get(s, f->zpath, NULL, NULL, &data, &dlen, &cur);
			if (zr) {
				rc = zkfs_errno(zr);
				break;
			}
			len = dlen > 0 ? (size_t)dlen : 0;
			for (size_t i = 0; i < f->nops && !rc; i++)
				rc = apply(&data, &len, &f->ops[i], f->limit);
			if (rc) {
				free(data);
				break;
			}
			zr = zkc_b_set(s, f->zpath, data, (int32_t)len, cur.version, st);
			if (zr == ZE_CONNECTIONLOSS) {
				int r = zkc_b_set_applied(s, f->zpath, data, (int32_t)len, cur.version);
				if (r == ZKC_APPLIED) {
					zr = ZE_OK;
					if (st)
						zkc_b_exists(s, f->zpath, NULL, NULL, st);
				} else if (r == ZKC_NOT_APPLIED) {
					zr = ZE_BADVERSION; /* safe to try again */
				}
			}
			if (zr == ZE_OK) {
				free(f->view);
				f->view = data;
				f->len = len;
				break;
			}
			free(data);
			if (zr != ZE_BADVERSION || attempt >= MAX_RETRIES) {
				rc = zkfs_errno(zr);
				break;
			}
		}
	}
	if (!rc) {
		if (st)
			f->version = st->version;
		clear_ops(f);
		if (sent)
			*sent = true;
	}
out:
	pthread_mutex_unlock(&f->mu);
	return rc;
}

void zfile_free(struct zfile *f)
{
	if (!f)
		return;
	clear_ops(f);
	free(f->ops);
	free(f->view);
	free(f->zpath);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

int writes_truncate(zkc_session *s, const char *zpath, off_t size, struct zk_stat *st)
{
	size_t limit = writes_limit(zpath);

	if (size < 0)
		return -EINVAL;
	if ((size_t)size > limit)
		return -EFBIG;
	for (int attempt = 0;; attempt++) {
		uint8_t *data = NULL, *nd;
		int32_t dlen = 0;
		struct zk_stat cur;
		int zr = zkc_b_get(s, zpath, NULL, NULL, &data, &dlen, &cur);
		if (zr)
			return zkfs_errno(zr);
		if (dlen < 0)
			dlen = 0;
		if ((size_t)dlen == (size_t)size) {
			free(data);
			if (st)
				*st = cur;
			return 0;
		}
		nd = realloc(data, (size_t)size + 1);
		if (!nd) {
			free(data);
			return -ENOMEM;
		}
		if (size > dlen)
			memset(nd + dlen, 0, (size_t)(size - dlen));
		zr = zkc_b_set(s, zpath, nd, (int32_t)size, cur.version, st);
		if (zr == ZE_CONNECTIONLOSS) {
			int r = zkc_b_set_applied(s, zpath, nd, (int32_t)size, cur.version);
			zr = r == ZKC_APPLIED ? ZE_OK : r == ZKC_NOT_APPLIED ? ZE_BADVERSION : zr;
			if (zr == ZE_OK && st)
				zkc_b_exists(s, zpath, NULL, NULL, st);
		}
		free(nd);
		if (zr == ZE_OK)
			return 0;
		if (zr != ZE_BADVERSION || attempt >= MAX_RETRIES)
			return zkfs_errno(zr);
	}
}

bool zfile_only_truncated(struct zfile *f)
{
	bool only;

	pthread_mutex_lock(&f->mu);
	only = f->dirty;
	for (size_t i = 0; i < f->nops; i++)
		if (f->ops[i].type != WOP_TRUNC)
			only = false;
	pthread_mutex_unlock(&f->mu);
	return only;
}
