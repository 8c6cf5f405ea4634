/*
 * snap.c — writing, checking, loading and purging snapshot files.
 *
 * Format in snap.h.  The writer collects records in a 4 MiB buffer and
 * writes it in one system call, folding the buffer into the running CRC
 * just before; every 32 MiB it asks the kernel to start writeback
 * (sync_file_range) so the final fsync does not have to push the whole
 * file at once and stall the transaction log's fdatasyncs behind it.
 *
 * The loader maps a candidate file, checks header, trailer, CRC and record
 * structure in full, and only then hands the records to the callback as
 * pointers into the mapping: a million 100-byte records load in tens of
 * milliseconds, and the core never sees half of a damaged snapshot.
 */
#include "snap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jute.h"
#include "log.h"

static const char SNAP_MAGIC[8] = {'z', 'k', 'f', 's', 'S', 'N', 'P', '\n'};
static const char END_MAGIC[8] = {'z', 'k', 'f', 's', 'E', 'N', 'D', '\n'};
#define SNAP_VERSION 1u
#define HDR_SIZE 24u
#define TRAILER_SIZE 32u
#define BUF_SIZE (4u << 20)
#define WRITEBACK_STEP (32u << 20)

struct snap_writer {
	char *dir;
	char tmp_path[4096];
	char final_path[4096];
	int fd;
	uint64_t zxid;
	uint8_t *buf;
	size_t len;
	uint32_t crc;
	uint64_t count;
	uint64_t written;   /* bytes written to the file */
	uint64_t wb_issued; /* writeback started up to here */
	size_t paced;	    /* 0, or: write back every this many bytes and wait */
	int err;
};

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	int f = storage_fault_hit(STORAGE_FAULT_WRITE);
	if (f) {
		if (n / 2)
			(void)!write(fd, b, n / 2);
		return f;
	}
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Folds bytes into the CRC and writes them. */
static int emit(struct snap_writer *w, const void *p, size_t n)
{
	w->crc = crc32c(w->crc, p, n);
	int rc = write_all(w->fd, p, n);
	if (rc)
		return rc;
	w->written += n;
	if (w->paced && w->written - w->wb_issued >= w->paced) {
		/* at most `paced` bytes of ours in the device queue at a time */
		(void)sync_file_range(w->fd, (off_t)w->wb_issued,
				      (off_t)(w->written - w->wb_issued),
				      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
					  SYNC_FILE_RANGE_WAIT_AFTER);
		w->wb_issued = w->written;
	} else if (!w->paced && w->written - w->wb_issued >= WRITEBACK_STEP) {
		/* advisory: errors surface at the fsync */
		(void)sync_file_range(w->fd, (off_t)w->wb_issued,
				      (off_t)(w->written - w->wb_issued), SYNC_FILE_RANGE_WRITE);
		w->wb_issued = w->written;
	}
	return 0;
}

static int flush(struct snap_writer *w)
{
	if (!w->len)
		return 0;
	int rc = emit(w, w->buf, w->len);
	w->len = 0;
	return rc;
}

int snap_writer_open(struct snap_writer **out, const char *dir, uint64_t zxid)
{
	*out = NULL;
	int rc = storage_make_dirs(dir);
	if (rc) {
		storage_msg(STORAGE_ERROR, "cannot create snapshot directory %s: %s", dir,
			    strerror(-rc));
		return rc;
	}
	struct snap_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->buf = malloc(BUF_SIZE);
	w->dir = strdup(dir);
	if (!w->buf || !w->dir) {
		rc = -ENOMEM;
		goto err_free;
	}
	w->zxid = zxid;
	snprintf(w->final_path, sizeof(w->final_path), "%s/snapshot.%" PRIx64, dir, zxid);
	snprintf(w->tmp_path, sizeof(w->tmp_path), "%s/snapshot.%" PRIx64 ".tmp", dir, zxid);
	rc = storage_fault_hit(STORAGE_FAULT_OPEN);
	if (rc)
		goto err_free;
	w->fd = open(w->tmp_path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		rc = -errno;
		storage_msg(STORAGE_ERROR, "cannot create snapshot %s: %s", w->tmp_path,
			    strerror(-rc));
		goto err_free;
	}
	memcpy(w->buf, SNAP_MAGIC, 8);
	jute_store32(w->buf + 8, SNAP_VERSION);
	jute_store32(w->buf + 12, 0);
	jute_store64(w->buf + 16, zxid);
	w->len = HDR_SIZE;
	*out = w;
	return 0;

err_free:
	free(w->buf);
	free(w->dir);
	free(w);
	return rc;
}

int snap_writer_append(struct snap_writer *w, const void *rec, size_t len)
{
	if (w->err)
		return w->err;
	if (len > SNAP_MAX_RECORD)
		return -EINVAL;
	int rc = 0;
	if (w->len + 4 + len > BUF_SIZE)
		rc = flush(w);
	if (!rc && 4 + len > BUF_SIZE) {
		/* a record larger than the buffer goes straight out */
		uint8_t h[4];
		jute_store32(h, (uint32_t)len);
		rc = emit(w, h, 4);
		if (!rc)
			rc = emit(w, rec, len);
	} else if (!rc) {
		jute_store32(w->buf + w->len, (uint32_t)len);
		memcpy(w->buf + w->len + 4, rec, len);
		w->len += 4 + len;
	}
	if (rc) {
		w->err = rc;
		return rc;
	}
	w->count++;
	return 0;
}

int snap_writer_append_framed(struct snap_writer *w, const void *buf, size_t len, uint64_t nrec)
{
	if (w->err)
		return w->err;
	int rc = 0;
	if (!w->paced && w->len + len <= BUF_SIZE) {
		memcpy(w->buf + w->len, buf, len);
		w->len += len;
	} else {
		rc = flush(w);
		if (!rc)
			rc = emit(w, buf, len);
	}
	if (rc) {
		w->err = rc;
		return rc;
	}
	w->count += nrec;
	return 0;
}

void snap_writer_pace(struct snap_writer *w, size_t step)
{
	w->paced = step;
}

uint64_t snap_writer_count(const struct snap_writer *w)
{
	return w->count;
}

uint64_t snap_writer_bytes(const struct snap_writer *w)
{
	return w->written + w->len;
}

static void writer_free(struct snap_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	free(w->buf);
	free(w->dir);
	free(w);
}

void snap_writer_abort(struct snap_writer *w)
{
	if (!w)
		return;
	unlink(w->tmp_path);
	writer_free(w);
}

int snap_writer_commit(struct snap_writer *w)
{
	int rc = w->err;
	if (rc)
		goto fail;
	/* the trailer is covered by the CRC up to the crc field itself */
	if (w->len + TRAILER_SIZE > BUF_SIZE && (rc = flush(w)))
		goto fail;
	uint8_t *t = w->buf + w->len;
	memcpy(t, END_MAGIC, 8);
	jute_store64(t + 8, w->count);
	jute_store64(t + 16, w->zxid);
	w->crc = crc32c(w->crc, w->buf, w->len + 24);
	jute_store32(t + 24, w->crc);
	jute_store32(t + 28, 0);
	rc = write_all(w->fd, w->buf, w->len + TRAILER_SIZE);
	w->len = 0;
	if (rc)
		goto fail;
	rc = storage_fault_hit(STORAGE_FAULT_SYNC);
	if (!rc && fsync(w->fd) < 0)
		rc = -errno;
	if (rc)
		goto fail;
	if (close(w->fd) < 0) {
		w->fd = -1;
		rc = -errno;
		goto fail;
	}
	w->fd = -1;
	if (rename(w->tmp_path, w->final_path) < 0) {
		rc = -errno;
		goto fail;
	}
	rc = storage_fsync_dir(w->dir);
	if (rc) {
		/* the rename may or may not survive a crash: do not leave a
		 * snapshot we could not make durable */
		unlink(w->final_path);
		goto fail_nounlink;
	}
	writer_free(w);
	return 0;

fail:
	unlink(w->tmp_path);
fail_nounlink:
	storage_msg(STORAGE_ERROR, "writing snapshot %s failed: %s", w->final_path, strerror(-rc));
	writer_free(w);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */

struct mapped {
	const uint8_t *p;
	size_t size;
	uint64_t zxid, count;
};

static void unmap(struct mapped *m)
{
	if (m->p)
		munmap((void *)m->p, m->size);
	m->p = NULL;
}

/* Maps and fully checks path; why = reason on -EBADMSG. */
static int map_check(const char *path, struct mapped *m, const char **why)
{
	memset(m, 0, sizeof(*m));
	*why = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	if ((size_t)st.st_size < HDR_SIZE + TRAILER_SIZE) {
		close(fd);
		*why = "file too short (truncated)";
		return -EBADMSG;
	}
	m->size = (size_t)st.st_size;
	void *p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	m->p = p;
	madvise(p, m->size, MADV_SEQUENTIAL);

	const uint8_t *t = m->p + m->size - TRAILER_SIZE;
	if (memcmp(m->p, SNAP_MAGIC, 8) != 0) {
		*why = "bad header";
		goto bad;
	}
	if (jute_load32(m->p + 8) != SNAP_VERSION) {
		*why = "unsupported version";
		goto bad;
	}
	m->zxid = jute_load64(m->p + 16);
	if (memcmp(t, END_MAGIC, 8) != 0) {
		*why = "no trailer (truncated or unfinished)";
		goto bad;
	}
	m->count = jute_load64(t + 8);
	if (jute_load64(t + 16) != m->zxid) {
		*why = "trailer zxid differs from header";
		goto bad;
	}
	if (crc32c(0, m->p, m->size - 8) != jute_load32(t + 24)) {
		*why = "CRC mismatch (damaged)";
		goto bad;
	}
	/* structure: records must end exactly at the trailer */
	size_t off = HDR_SIZE, end = m->size - TRAILER_SIZE;
	uint64_t n = 0;
	while (off < end) {
		if (end - off < 4) {
			*why = "bad record structure";
			goto bad;
		}
		uint32_t l = jute_load32(m->p + off);
		if (l > end - off - 4) {
			*why = "bad record structure";
			goto bad;
		}
		off += 4 + (size_t)l;
		n++;
	}
	if (n != m->count) {
		*why = "record count differs from trailer";
		goto bad;
	}
	return 0;
bad:
	unmap(m);
	return -EBADMSG;
}

int snap_verify(const char *path, uint64_t *zxid, uint64_t *count)
{
	struct mapped m;
	const char *why;
	int rc = map_check(path, &m, &why);
	if (rc)
		return rc;
	if (zxid)
		*zxid = m.zxid;
	if (count)
		*count = m.count;
	unmap(&m);
	return 0;
}

int snap_list(const char *dir, uint64_t **zxids, size_t *n)
{
	int rc = storage_list_hex(dir, "snapshot.", zxids, n);
	if (rc)
		return rc;
	/* newest first */
	for (size_t i = 0, j = *n ? *n - 1 : 0; i < j; i++, j--) {
		uint64_t t = (*zxids)[i];
		(*zxids)[i] = (*zxids)[j];
		(*zxids)[j] = t;
	}
	return 0;
}

/* Removes "snapshot.<hex>.tmp" files left by interrupted writers. */
static void remove_stale_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l > 13 && strncmp(e->d_name, "snapshot.", 9) == 0 &&
		    strcmp(e->d_name + l - 4, ".tmp") == 0) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			if (unlink(path) == 0)
				storage_msg(STORAGE_INFO, "removed unfinished snapshot %s", path);
		}
	}
	closedir(d);
}

int snap_load(const char *dir, snap_record_cb cb, void *arg, uint64_t *zxid)
{
	*zxid = 0;
	remove_stale_tmp(dir);
	uint64_t *z;
	size_t n;
	int rc = snap_list(dir, &z, &n);
	if (rc)
		return rc;
	if (n == 0) {
		free(z);
		return -ENOENT;
	}
	rc = -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/snapshot.%" PRIx64, dir, z[i]);
		struct mapped m;
		const char *why;
		int r = map_check(path, &m, &why);
		if (r == 0 && m.zxid != z[i]) {
			unmap(&m);
			why = "zxid inside differs from the file name";
			r = -EBADMSG;
		}
		if (r) {
			storage_msg(STORAGE_WARN, "skipping snapshot %s: %s", path,
				    why ? why : strerror(-r));
			continue;
		}
		rc = 0;
		if (cb) {
			size_t off = HDR_SIZE, end = m.size - TRAILER_SIZE;
			while (off < end) {
				uint32_t l = jute_load32(m.p + off);
				rc = cb(arg, m.p + off + 4, l);
				if (rc)
					break;
				off += 4 + (size_t)l;
			}
		}
		unmap(&m);
		if (!rc) {
			*zxid = z[i];
			storage_msg(
			    STORAGE_INFO,
			    "loaded snapshot %s (zxid 0x%" PRIx64 ", %" PRIu64 " records)%s", path,
			    z[i], m.count, i ? " — newer snapshots were damaged" : "");
		}
		break;
	}
	if (rc == -EBADMSG)
		storage_msg(
		    STORAGE_ERROR,
		    "none of the %zu snapshots in %s is valid; refusing to start (move them "
		    "away to start from the transaction log alone, if it is complete)",
		    n, dir);
	free(z);
	return rc;
}

int snap_purge(const char *data_dir, const char *log_dir, int retain)
{
	if (retain < 3)
		retain = 3;
	uint64_t *z;
	size_t n;
	int rc = storage_list_hex(data_dir, "snapshot.", &z, &n); /* ascending */
	if (rc)
		return rc;
	if (n == 0) {
		/* no snapshot: every log file is needed */
		free(z);
		return 0;
	}
	int removed = 0;
	size_t first_kept = n > (size_t)retain ? n - (size_t)retain : 0;
	for (size_t i = 0; i < first_kept; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/snapshot.%" PRIx64, data_dir, z[i]);
		if (unlink(path) < 0 && errno != ENOENT) {
			rc = -errno;
			break;
		}
		removed++;
	}
	uint64_t oldest = z[first_kept];
	free(z);
	if (rc)
		return rc;
	int r = zlog_purge(log_dir, oldest);
	if (r < 0)
		return r;
	return removed + r;
}
