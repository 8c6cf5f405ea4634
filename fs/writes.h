/*
 * writes.h — open files of the mount: the snapshot a reader sees, the
 * buffer a writer fills, and how that buffer reaches ZooKeeper as one
 * setData (on flush, fsync or release).
 *
 * A writer's changes are kept as an ordered log of operations (truncate to
 * n, write bytes at an offset, append bytes).  When the log starts with a
 * truncation to zero (O_TRUNC, `>`), the result does not depend on what the
 * znode held, so it is sent as an unconditional setData.  Otherwise (O_APPEND,
 * writes into existing data) the log is replayed onto the znode's current
 * data and sent with a version check, and a conflict re-reads and replays
 * again, so concurrent appenders never lose each other's bytes.
 */
#ifndef ZKFS_FS_WRITES_H
#define ZKFS_FS_WRITES_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "zkc.h"

struct wop; /* one logged change */

struct zfile {
	pthread_mutex_t mu; /* guards everything below */
	char *zpath;        /* znode path whose data this file is */
	uint64_t ino;       /* FUSE node id */
	uint8_t *view;      /* current content as this fd sees it */
	size_t len;
	int32_t version; /* znode version the view is based on */
	bool writable;
	bool append;
	bool dirty;
	bool deferred; /* a flush skipped a pure truncation (see ops.c zkfs_flush) */
	struct wop *ops;
	size_t nops, capops;
	size_t limit; /* largest data accepted for this path */
};

/* Largest data that fits one request for `zpath` (frame limit minus the
 * request's own bytes). */
size_t writes_limit(const char *zpath);

/* Opens a file on `zpath`: fetches the data (unless `fresh`: a node just
 * created empty).  Returns 0 and *out, or a negative errno. */
int zfile_open(zkc_session *s, const char *zpath, uint64_t ino, bool writable, bool append,
	       bool fresh, struct zfile **out);
/* A read-only file over data already known (served while disconnected). */
int zfile_from_cache(const char *zpath, uint64_t ino, uint8_t *data, size_t len,
		     struct zfile **out);
/* Copies up to size bytes at off into a malloc'd *buf; returns the count. */
ssize_t zfile_read(struct zfile *f, off_t off, size_t size, char **buf);
/* Logs a write; returns size or -EFBIG. */
ssize_t zfile_write(struct zfile *f, off_t off, const char *data, size_t size);
/* Logs a truncation; 0 or -EFBIG. */
int zfile_truncate(struct zfile *f, off_t size);
/* Sends the logged changes (if any) as one setData; on success the log is
 * empty and *st (if given) is the new Stat.  0, or a negative errno (-EAGAIN
 * after repeated version conflicts). */
int zfile_commit(zkc_session *s, struct zfile *f, struct zk_stat *st, bool *sent);
void zfile_free(struct zfile *f);
/* True when the only pending change is truncation (nothing written). */
bool zfile_only_truncated(struct zfile *f);

/* truncate(2) without an open file: read, cut or extend, conditional set. */
int writes_truncate(zkc_session *s, const char *zpath, off_t size, struct zk_stat *st);

#endif
