/*
 * log.c — the transaction log: append, sync, roll, recovery, purge.
 *
 * Format and recovery rules are described in log.h.  The writer keeps one
 * open file; appends are laid out in memory and written with one pwrite per
 * batch, then one fdatasync covers the batch.  Space is reserved with
 * fallocate in large chunks (so ENOSPC shows up early) and the area right
 * after the data is zero-filled a megabyte at a time: writing into blocks
 * that already hold written zeros lets fdatasync skip the extent-state
 * metadata update that writing into fallocated (unwritten) blocks needs,
 * which measurably raises the fsync rate on ext4.
 *
 * Recovery maps each file read-only and walks its records.  At the first
 * record that does not check out, it decides between a torn tail (truncate)
 * and corruption (refuse to start) by looking for valid records further on
 * and reading their "durable" field, see log.h.
 *
 * This file also holds what the storage modules share: the message sink,
 * fault injection and CRC32C.
 */
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jute.h"

/* ------------------------------------------------------------------ */
/* Messages                                                            */

static void default_msg(enum storage_level level, const char *msg)
{
	static const char *names[] = {"info", "warning", "error"};
	fprintf(stderr, "zkfs-server: %s: %s\n", names[level], msg);
}

static storage_msg_fn msg_fn = default_msg;

void storage_set_msg_fn(storage_msg_fn fn)
{
	msg_fn = fn ? fn : default_msg;
}

void storage_msg(enum storage_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	msg_fn(level, buf);
}

/* ------------------------------------------------------------------ */
/* Fault injection: one countdown per kind, decremented atomically so the
 * commit worker and a test thread may both touch it. */

static int fault_countdown[STORAGE_FAULT__N];
static int fault_err[STORAGE_FAULT__N];

void storage_fault_set(enum storage_fault_kind kind, int countdown, int err)
{
	__atomic_store_n(&fault_err[kind], err, __ATOMIC_SEQ_CST);
	__atomic_store_n(&fault_countdown[kind], countdown, __ATOMIC_SEQ_CST);
}

void storage_fault_clear(void)
{
	for (int k = 0; k < STORAGE_FAULT__N; k++)
		storage_fault_set(k, 0, 0);
}

int storage_fault_hit(enum storage_fault_kind kind)
{
	int c = __atomic_load_n(&fault_countdown[kind], __ATOMIC_SEQ_CST);
	while (c > 0) {
		if (__atomic_compare_exchange_n(&fault_countdown[kind], &c, c - 1, false,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return c == 1 ? __atomic_load_n(&fault_err[kind], __ATOMIC_SEQ_CST) : 0;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* CRC32C: a byte table for portability, the SSE4.2 instruction when the
 * CPU has it (about 20x faster, which matters for snapshot loading). */

static uint32_t crc_table[256];
static int crc_mode; /* 0 = not initialised, 1 = table, 2 = sse4.2 */

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
	int mode = 1;
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse4.2"))
		mode = 2;
#endif
	__atomic_store_n(&crc_mode, mode, __ATOMIC_RELEASE);
}

static uint32_t crc_sw(uint32_t crc, const uint8_t *p, size_t n)
{
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t n)
{
	uint64_t c = crc;
	while (n && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		n--;
	}
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		n -= 8;
	}
	while (n--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}
#endif

uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
	int mode = __atomic_load_n(&crc_mode, __ATOMIC_ACQUIRE);
	if (!mode) {
		crc_init();
		mode = crc_mode;
	}
	crc = ~crc;
#if defined(__x86_64__)
	if (mode == 2)
		return ~crc_hw(crc, p, n);
#endif
	return ~crc_sw(crc, p, n);
}

/* ------------------------------------------------------------------ */
/* Format                                                              */

static const char LOG_MAGIC[8] = {'z', 'k', 'f', 's', 'T', 'X', 'L', '\n'};
#define LOG_VERSION 1u
#define DEFAULT_PREALLOC (64u << 20)
#define ZERO_STEP (1u << 20)	/* zero-fill this far ahead of the data */
#define APPEND_FLUSH (4u << 20) /* zlog_append writes out past this much */

static uint32_t rec_crc(const uint8_t *rec, size_t len)
{
	uint32_t c = crc32c(0, rec, 4);
	return crc32c(c, rec + 8, ZLOG_REC_HDR_SIZE - 8 + len);
}

void zlog_rec_encode(uint8_t *dst, uint64_t zxid, const void *data, size_t len)
{
	jute_store32(dst, (uint32_t)len);
	jute_store32(dst + 4, 0);
	jute_store64(dst + 8, zxid);
	jute_store64(dst + 16, 0);
	memcpy(dst + ZLOG_REC_HDR_SIZE, data, len);
}

static void log_name(char *buf, size_t n, uint64_t zxid)
{
	snprintf(buf, n, "log.%" PRIx64, zxid);
}

/* Parses "<prefix><hex>" exactly; returns true and *zxid on a match. */
static bool parse_hex_name(const char *name, const char *prefix, uint64_t *zxid)
{
	size_t pl = strlen(prefix);
	if (strncmp(name, prefix, pl) != 0)
		return false;
	const char *h = name + pl;
	size_t hl = strlen(h);
	/* only the canonical spelling (lower case, no leading zeros), the one
	 * the name is rebuilt from when the file is opened */
	if (hl == 0 || hl > 16 || (hl > 1 && h[0] == '0'))
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < hl; i++) {
		int c = h[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*zxid = v;
	return true;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int storage_list_hex(const char *dir, const char *prefix, uint64_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	uint64_t *v = NULL;
	size_t len = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		uint64_t z;
		if (!parse_hex_name(e->d_name, prefix, &z))
			continue;
		if (len == cap) {
			cap = cap ? cap * 2 : 16;
			uint64_t *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[len++] = z;
	}
	closedir(d);
	if (len)
		qsort(v, len, sizeof(*v), cmp_u64);
	*out = v;
	*n = len;
	return 0;
}

int zlog_list(const char *dir, uint64_t **zxids, size_t *n)
{
	return storage_list_hex(dir, "log.", zxids, n);
}

/* mkdir -p; each directory created is made durable in its parent */
int storage_make_dirs(const char *path)
{
	char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	int rc = 0;
	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, 0755) == 0) {
				/* make the new entry durable in its parent */
				char *slash = strrchr(p, '/');
				if (slash && slash != p) {
					*slash = '\0';
					(void)storage_fsync_dir(p);
					*slash = '/';
				} else if (slash == p) {
					(void)storage_fsync_dir("/");
				} else {
					(void)storage_fsync_dir(".");
				}
			} else if (errno != EEXIST) {
				rc = -errno;
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	free(p);
	if (rc == 0) {
		struct stat st;
		if (stat(path, &st) < 0)
			rc = -errno;
		else if (!S_ISDIR(st.st_mode))
			rc = -ENOTDIR;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* Recovery scan                                                       */

struct scan {
	const char *dir;
	uint64_t after;
	zlog_txn_cb cb;
	void *arg;
	uint64_t prev_zxid; /* last valid zxid seen, over all files */
	bool repair;	    /* zlog_open: truncate / delete torn tails */
	uint64_t n_recs;
	bool gap_reported;
};

/* Whether a valid record with zxid > prev starts at off. */
static bool rec_valid_at(const uint8_t *p, size_t size, size_t off, uint64_t prev, uint64_t *zxid,
			 uint32_t *len, uint64_t *durable)
{
	if (size - off < ZLOG_REC_HDR_SIZE)
		return false;
	const uint8_t *r = p + off;
	uint32_t l = jute_load32(r);
	if (l == 0 || l > ZLOG_MAX_TXN || l > size - off - ZLOG_REC_HDR_SIZE)
		return false;
	uint64_t z = jute_load64(r + 8);
	if (z <= prev)
		return false;
	if (jute_load32(r + 4) != rec_crc(r, l))
		return false;
	*zxid = z;
	*len = l;
	*durable = jute_load64(r + 16);
	return true;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* After a bad spot at off (last good zxid prev): looks for the first valid
 * record further on that proves acknowledged data was lost, i.e. one whose
 * durable zxid reaches beyond prev.  in_last: records from the same torn
 * batch (durable <= prev) are tolerated in the last file only.  Returns the
 * offending offset or SIZE_MAX. */
static size_t find_later_valid(const uint8_t *p, size_t size, size_t off, uint64_t prev,
			       bool in_last)
{
	/* Every record has a non-zero byte within its first 4 bytes (len >= 1),
	 * so only offsets up to 3 bytes before a non-zero byte can start one. */
	size_t i = off + 1;
	while (i + ZLOG_REC_HDR_SIZE <= size) {
		if (!p[i] && !p[i + 1] && !p[i + 2] && !p[i + 3]) {
			i += 1;
			/* skip zero runs quickly, 8 bytes at a time */
			while (i + 12 <= size) {
				uint64_t v;
				memcpy(&v, p + i + 4, 8);
				if (v)
					break;
				i += 8;
			}
			continue;
		}
		uint64_t z, d;
		uint32_t l;
		if (rec_valid_at(p, size, i, prev, &z, &l, &d)) {
			if (!in_last || d > prev)
				return i;
			/* same unsynced batch: hop over it and keep looking */
			i += ZLOG_REC_HDR_SIZE + l;
			continue;
		}
		i++;
	}
	return SIZE_MAX;
}

/* Opens path with `flags` and maps it read-only: *fd, *p (NULL for an
 * empty file) and *size.  Returns 0 or -errno (nothing left open). */
static int map_file(const char *path, int flags, int *fd, const uint8_t **p, size_t *size)
{
	*fd = open(path, flags | O_CLOEXEC);
	if (*fd < 0)
		return -errno;
	struct stat st;
	if (fstat(*fd, &st) < 0) {
		int e = -errno;
		close(*fd);
		return e;
	}
	*size = (size_t)st.st_size;
	*p = NULL;
	if (*size > 0) {
		*p = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, *fd, 0);
		if (*p == MAP_FAILED) {
			int e = -errno;
			close(*fd);
			return e;
		}
	}
	return 0;
}

/* Scans one file.  *keep receives the length of its valid part (0: the
 * file has no valid header and should go).  Returns 0, -EBADMSG, cb's
 * value or -errno. */
static int scan_file(struct scan *s, const char *name, uint64_t name_zxid, bool is_last,
		     uint64_t *keep, uint64_t *n_in_file)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	*keep = 0;
	*n_in_file = 0;
	int fd;
	const uint8_t *p;
	size_t size;
	int mrc = map_file(path, O_RDONLY, &fd, &p, &size);
	if (mrc < 0)
		return mrc;
	if (size > 0) {
		madvise((void *)p, size, MADV_SEQUENTIAL);
	}
	close(fd);

	int rc = 0;
	if (size < ZLOG_HDR_SIZE || memcmp(p, LOG_MAGIC, 8) != 0) {
		if (is_last && (size < ZLOG_HDR_SIZE || all_zero(p, ZLOG_HDR_SIZE))) {
			/* a crash while the file was being created */
			*keep = 0;
			rc = 0;
		} else {
			storage_msg(STORAGE_ERROR,
				    "transaction log %s: bad file header (not a zkfs log file?)",
				    path);
			rc = -EBADMSG;
		}
		goto out;
	}
	if (jute_load32(p + 8) != LOG_VERSION) {
		storage_msg(STORAGE_ERROR, "transaction log %s: unsupported version %u", path,
			    jute_load32(p + 8));
		rc = -EBADMSG;
		goto out;
	}

	size_t off = ZLOG_HDR_SIZE;
	for (;;) {
		uint64_t z, d;
		uint32_t l;
		if (off == size)
			break;
		if (rec_valid_at(p, size, off, s->prev_zxid, &z, &l, &d)) {
			if (*n_in_file == 0 && z < name_zxid) {
				storage_msg(STORAGE_ERROR,
					    "transaction log %s: first zxid 0x%" PRIx64
					    " is below the file's name",
					    path, z);
				rc = -EBADMSG;
				goto out;
			}
			/* Within an epoch (high 32 bits) zxids count up by one, so
			 * a jump in what recovery needs means txns are missing
			 * (a deleted file, an over-eager purge).  Warn: whether
			 * that is fatal depends on what the missing txns were. */
			uint64_t from = s->prev_zxid > s->after ? s->prev_zxid : s->after;
			if (s->repair && !s->gap_reported && z > s->after && z != from + 1 &&
			    z >> 32 == from >> 32 && (from || z >> 32 == 0)) {
				storage_msg(STORAGE_WARN,
					    "transaction log %s: txns 0x%" PRIx64 "..0x%" PRIx64
					    " are missing from the log (was a log file removed?)",
					    path, from + 1, z - 1);
				s->gap_reported = true;
			}
			s->prev_zxid = z;
			(*n_in_file)++;
			s->n_recs++;
			if (z > s->after && s->cb) {
				rc = s->cb(s->arg, z, p + off + ZLOG_REC_HDR_SIZE, l);
				if (rc)
					goto out;
			}
			off += ZLOG_REC_HDR_SIZE + l;
			continue;
		}
		/* Not a valid record: end of data, torn tail or corruption. */
		size_t bad = find_later_valid(p, size, off, s->prev_zxid, is_last);
		if (bad != SIZE_MAX) {
			storage_msg(
			    STORAGE_ERROR,
			    "transaction log %s is corrupt at offset %zu (after zxid 0x%" PRIx64
			    "): valid records follow at offset %zu, so acknowledged txns are "
			    "damaged; refusing to start (restore the file, or move it and "
			    "every later log file away to lose those txns)",
			    path, off, s->prev_zxid, bad);
			rc = -EBADMSG;
			goto out;
		}
		bool zeros = all_zero(p + off, size - off);
		if (!zeros) {
			if (!is_last) {
				storage_msg(STORAGE_ERROR,
					    "transaction log %s is corrupt at offset %zu (after "
					    "zxid 0x%" PRIx64
					    ") and later log files exist; refusing to start",
					    path, off, s->prev_zxid);
				rc = -EBADMSG;
				goto out;
			}
			if (s->repair)
				storage_msg(STORAGE_WARN,
					    "transaction log %s: torn tail at offset %zu (%zu "
					    "bytes after zxid 0x%" PRIx64
					    ", a write that was never acknowledged): truncating",
					    path, off, size - off, s->prev_zxid);
		}
		break;
	}
	*keep = off;
out:
	if (p)
		munmap((void *)p, size);
	return rc;
}

int storage_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = storage_fault_hit(STORAGE_FAULT_SYNC);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Walks every file.  In repair mode, the torn tail of the last file is cut
 * and a last file left without records is removed (so its name can be
 * reused by the next append). */
static int scan_all(struct scan *s)
{
	uint64_t *z;
	size_t n;
	int rc = zlog_list(s->dir, &z, &n);
	if (rc)
		return rc;
	bool changed = false;
	for (size_t i = 0; i < n; i++) {
		char name[64], path[4096];
		log_name(name, sizeof(name), z[i]);
		snprintf(path, sizeof(path), "%s/%s", s->dir, name);
		bool is_last = i + 1 == n;
		uint64_t keep, recs;
		/* A file whose successor starts at or before the first txn
		 * recovery needs holds nothing to replay: not read at all, so
		 * restart time follows the log since the snapshot, not the
		 * whole history kept on disk (as in ZooKeeper). */
		if (!is_last && s->after > 0 && z[i + 1] <= s->after + 1) {
			if (s->prev_zxid < z[i + 1] - 1)
				s->prev_zxid = z[i + 1] - 1;
			continue;
		}
		rc = scan_file(s, name, z[i], is_last, &keep, &recs);
		if (rc)
			break;
		if (!s->repair || !is_last)
			continue;
		struct stat st;
		if (stat(path, &st) < 0) {
			rc = -errno;
			break;
		}
		if (recs == 0) {
			if (st.st_size > 0 &&
			    !(keep == ZLOG_HDR_SIZE && st.st_size == ZLOG_HDR_SIZE))
				storage_msg(
				    STORAGE_WARN,
				    "transaction log %s holds no complete record: removing it",
				    path);
			if (unlink(path) < 0) {
				rc = -errno;
				break;
			}
			/* the previous file becomes the last one; its tail was
			 * checked as a non-last file's, which is stricter */
			changed = true;
		} else if ((uint64_t)st.st_size != keep) {
			int fd = open(path, O_WRONLY | O_CLOEXEC);
			if (fd < 0) {
				rc = -errno;
				break;
			}
			if (ftruncate(fd, (off_t)keep) < 0 || fsync(fd) < 0)
				rc = -errno;
			close(fd);
			if (rc)
				break;
		}
	}
	free(z);
	if (!rc && changed)
		rc = storage_fsync_dir(s->dir);
	return rc;
}

int zlog_iterate(const char *dir, uint64_t after_zxid, zlog_txn_cb cb, void *arg)
{
	struct scan s = {.dir = dir, .after = after_zxid, .cb = cb, .arg = arg};
	return scan_all(&s);
}

/* ------------------------------------------------------------------ */
/* Truncation (TRUNC, SNAP install)                                    */

/* Cuts the file at path after the last record with zxid <= zxid.  Sets
 * *empty when no record remains (the caller removes the file). */
static int cut_file(const char *path, uint64_t zxid, bool *empty)
{
	*empty = false;
	int fd;
	const uint8_t *p;
	size_t size;
	int mrc = map_file(path, O_RDWR, &fd, &p, &size);
	if (mrc < 0)
		return mrc;
	if (size > 0) {
	}
	int rc = 0;
	size_t off = ZLOG_HDR_SIZE;
	uint64_t prev = 0;
	if (size < ZLOG_HDR_SIZE || memcmp(p, LOG_MAGIC, 8) != 0) {
		if (size >= ZLOG_HDR_SIZE && !all_zero(p, ZLOG_HDR_SIZE)) {
			storage_msg(STORAGE_ERROR,
				    "transaction log %s: bad file header (not a zkfs log file?)",
				    path);
			rc = -EBADMSG;
			goto out;
		}
		*empty = true; /* a file whose creation was interrupted */
		goto out;
	}
	for (;;) {
		uint64_t z, d;
		uint32_t l;
		if (!rec_valid_at(p, size, off, prev, &z, &l, &d) || z > zxid)
			break;
		prev = z;
		off += ZLOG_REC_HDR_SIZE + l;
	}
	/* Not a record to keep at off: a later one (the cut), zeros, or a
	 * bad spot.  A bad spot followed by records we would keep is damage
	 * to data below the cut: refuse rather than silently drop them. */
	if (off < size && !all_zero(p + off, size - off)) {
		uint64_t z, d;
		uint32_t l;
		bool cut_here = rec_valid_at(p, size, off, prev, &z, &l, &d);
		for (size_t i = off + 1; !cut_here && i + ZLOG_REC_HDR_SIZE <= size; i++) {
			if (rec_valid_at(p, size, i, prev, &z, &l, &d) && z <= zxid) {
				storage_msg(STORAGE_ERROR,
					    "transaction log %s is corrupt at offset %zu (after zxid "
					    "0x%" PRIx64 "), before the truncation point 0x%" PRIx64
					    "; not truncating",
					    path, off, prev, zxid);
				rc = -EBADMSG;
				goto out;
			}
		}
	}
	if (off == ZLOG_HDR_SIZE) {
		*empty = true;
		goto out;
	}
	if ((size_t)off != size) {
		if (ftruncate(fd, (off_t)off) < 0) {
			rc = -errno;
			goto out;
		}
		rc = storage_fault_hit(STORAGE_FAULT_SYNC);
		if (!rc && fsync(fd) < 0)
			rc = -errno;
	}
out:
	if (p)
		munmap((void *)p, size);
	close(fd);
	return rc;
}

int zlog_truncate(const char *dir, const char *snap_dir, uint64_t zxid)
{
	uint64_t *z;
	size_t n;
	int rc;
	if (snap_dir) {
		rc = storage_list_hex(snap_dir, "snapshot.", &z, &n);
		if (rc)
			return rc;
		uint64_t newest = n ? z[n - 1] : 0;
		free(z);
		if (n && newest > zxid) {
			storage_msg(STORAGE_WARN,
				    "cannot truncate the log in %s to 0x%" PRIx64
				    ": snapshot 0x%" PRIx64 " in %s is newer (a full SNAP is needed)",
				    dir, zxid, newest, snap_dir);
			return -ERANGE;
		}
	}
	rc = zlog_list(dir, &z, &n);
	if (rc)
		return rc;
	char name[64], path[4096];
	bool removed = false;
	/* whole files after the cut, newest first: a crash leaves a prefix */
	while (n > 0 && z[n - 1] > zxid) {
		log_name(name, sizeof(name), z[n - 1]);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (unlink(path) < 0 && errno != ENOENT) {
			rc = -errno;
			goto out;
		}
		removed = true;
		n--;
	}
	if (removed && (rc = storage_fsync_dir(dir)))
		goto out;
	if (n > 0) {
		bool empty;
		log_name(name, sizeof(name), z[n - 1]);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		rc = cut_file(path, zxid, &empty);
		if (!rc && empty) {
			if (unlink(path) < 0 && errno != ENOENT)
				rc = -errno;
			else
				rc = storage_fsync_dir(dir);
		}
	}
	if (!rc)
		storage_msg(STORAGE_INFO, "transaction log %s truncated after zxid 0x%" PRIx64, dir,
			    zxid);
out:
	free(z);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Writer                                                              */

struct zlog {
	char *dir;
	struct zlog_opts opts;
	int err; /* sticky */

	int fd;		    /* current file, -1 = none (next write creates one) */
	uint64_t file_off;  /* end of the records in the current file */
	uint64_t alloc_end; /* fallocate'd up to here */
	uint64_t zero_end;  /* zero-filled (written) up to here */
	bool dirty;	    /* written since the last fdatasync */
	bool dir_dirty;	    /* a file was created since the last dir fsync */

	uint64_t last_zxid;    /* largest zxid appended */
	uint64_t durable_zxid; /* largest zxid made durable */

	uint8_t *buf; /* zlog_append's laid-out records */
	size_t buf_len, buf_cap;
	uint64_t buf_first; /* first zxid in buf */
	uint64_t buf_last;

	struct zlog_stats st;
};

static int fail(struct zlog *log, int err)
{
	if (!log->err)
		log->err = err;
	return err;
}

static int do_pwrite(struct zlog *log, const void *p, size_t n, uint64_t off)
{
	const uint8_t *b = p;
	int f = storage_fault_hit(STORAGE_FAULT_WRITE);
	if (f) {
		/* a full disk accepts part of a write, then refuses */
		if (n / 2 && pwrite(log->fd, b, n / 2, (off_t)off) > 0)
			log->st.writes++;
		return f;
	}
	while (n) {
		ssize_t w = pwrite(log->fd, b, n, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		log->st.writes++;
		b += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

static const uint8_t zero_block[ZERO_STEP];

/* Keeps space reserved and zeros written ahead of end (see file comment). */
static int prealloc(struct zlog *log, uint64_t end)
{
	uint64_t chunk = log->opts.prealloc_bytes;
	if (log->alloc_end < end + ZERO_STEP) {
		uint64_t want = (end + ZERO_STEP + chunk - 1) / chunk * chunk;
		if (fallocate(log->fd, 0, (off_t)log->alloc_end, (off_t)(want - log->alloc_end)) ==
		    0) {
			log->st.preallocs++;
		} else if (errno != EOPNOTSUPP && errno != ENOSYS && errno != ENOSPC) {
			return -errno;
		}
		/* without reservation (unsupported, or not room for a whole
		 * chunk) the data writes themselves will report a full disk */
		log->alloc_end = want;
	}
	if (log->zero_end < end + ZERO_STEP / 2) {
		uint64_t from = log->zero_end > end ? log->zero_end : end;
		uint64_t to = (end + ZERO_STEP) / ZERO_STEP * ZERO_STEP + ZERO_STEP;
		for (uint64_t at = from; at < to;) {
			size_t n = to - at > ZERO_STEP ? ZERO_STEP : (size_t)(to - at);
			int rc = do_pwrite(log, zero_block, n, at);
			if (rc)
				return rc;
			at += n;
		}
		log->zero_end = to;
	}
	return 0;
}

static int create_file(struct zlog *log, uint64_t first_zxid)
{
	char name[64], path[4096];
	log_name(name, sizeof(name), first_zxid);
	snprintf(path, sizeof(path), "%s/%s", log->dir, name);
	int rc = storage_fault_hit(STORAGE_FAULT_OPEN);
	if (rc)
		return rc;
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		storage_msg(STORAGE_ERROR, "cannot create transaction log %s: %s", path,
			    strerror(-rc));
		return rc;
	}
	log->fd = fd;
	log->file_off = 0;
	log->alloc_end = 0;
	log->zero_end = 0;
	log->dir_dirty = true;
	log->dirty = true;
	log->st.files++;
	uint8_t hdr[ZLOG_HDR_SIZE];
	memcpy(hdr, LOG_MAGIC, 8);
	jute_store32(hdr + 8, LOG_VERSION);
	jute_store32(hdr + 12, 0);
	rc = prealloc(log, ZLOG_HDR_SIZE);
	if (!rc)
		rc = do_pwrite(log, hdr, sizeof(hdr), 0);
	if (rc)
		return rc;
	log->file_off = ZLOG_HDR_SIZE;
	return 0;
}

static int sync_now(struct zlog *log)
{
	if (log->fd < 0 || (!log->dirty && !log->dir_dirty))
		return 0;
	if (log->dirty && !log->opts.no_sync) {
		int rc = storage_fault_hit(STORAGE_FAULT_SYNC);
		if (!rc && fdatasync(log->fd) < 0)
			rc = -errno;
		if (rc)
			return rc;
		log->st.syncs++;
	}
	log->dirty = false;
	if (log->dir_dirty && !log->opts.no_sync) {
		int rc = storage_fsync_dir(log->dir);
		if (rc)
			return rc;
	}
	log->dir_dirty = false;
	return 0;
}

/* Syncs, trims the preallocated tail and closes the current file. */
static int finish_file(struct zlog *log)
{
	if (log->fd < 0)
		return 0;
	int rc = sync_now(log);
	if (!rc) {
		log->durable_zxid = log->last_zxid;
		if (ftruncate(log->fd, (off_t)log->file_off) < 0)
			rc = -errno;
		else if (!log->opts.no_sync && fsync(log->fd) < 0)
			rc = -errno;
	}
	close(log->fd);
	log->fd = -1;
	return rc;
}

/* Stamps crc/durable into laid-out records and checks their shape. */
static int stamp(struct zlog *log, uint8_t *p, size_t n, uint64_t first, uint64_t last)
{
	uint64_t prev = log->last_zxid;
	size_t off = 0;
	while (off < n) {
		if (n - off < ZLOG_REC_HDR_SIZE)
			return -EINVAL;
		uint8_t *r = p + off;
		uint32_t l = jute_load32(r);
		uint64_t z = jute_load64(r + 8);
		if (l == 0 || l > ZLOG_MAX_TXN || l > n - off - ZLOG_REC_HDR_SIZE || z <= prev)
			return -EINVAL;
		if (off == 0 && z != first)
			return -EINVAL;
		jute_store64(r + 16, log->durable_zxid);
		jute_store32(r + 4, rec_crc(r, l));
		prev = z;
		off += ZLOG_REC_HDR_SIZE + l;
	}
	if (n && prev != last)
		return -EINVAL;
	return 0;
}

static int write_recs(struct zlog *log, uint8_t *p, size_t n, uint64_t first, uint64_t last,
		      uint64_t count)
{
	if (!n)
		return 0;
	if (log->fd >= 0 && log->opts.max_file_bytes && log->file_off >= log->opts.max_file_bytes) {
		int rc = finish_file(log);
		if (rc)
			return fail(log, rc);
	}
	int rc = stamp(log, p, n, first, last);
	if (rc)
		return rc; /* caller's mistake: not sticky */
	if (log->fd < 0) {
		rc = create_file(log, first);
		if (rc)
			return fail(log, rc);
	}
	rc = prealloc(log, log->file_off + n);
	if (!rc)
		rc = do_pwrite(log, p, n, log->file_off);
	if (rc)
		return fail(log, rc);
	log->file_off += n;
	log->dirty = true;
	log->last_zxid = last;
	log->st.appends += count;
	log->st.bytes += n;
	return 0;
}

static int flush_buf(struct zlog *log)
{
	if (!log->buf_len)
		return 0;
	/* count records for the stats */
	uint64_t count = 0;
	for (size_t off = 0; off < log->buf_len; count++)
		off += ZLOG_REC_HDR_SIZE + jute_load32(log->buf + off);
	int rc = write_recs(log, log->buf, log->buf_len, log->buf_first, log->buf_last, count);
	log->buf_len = 0;
	return rc;
}

int zlog_open(struct zlog **out, const char *dir, const struct zlog_opts *opts, uint64_t after_zxid,
	      zlog_txn_cb cb, void *arg, uint64_t *last_zxid)
{
	*out = NULL;
	int rc = storage_make_dirs(dir);
	if (rc) {
		storage_msg(STORAGE_ERROR, "cannot create log directory %s: %s", dir,
			    strerror(-rc));
		return rc;
	}
	struct scan s = {.dir = dir, .after = after_zxid, .cb = cb, .arg = arg, .repair = true};
	rc = scan_all(&s);
	if (rc)
		return rc;
	struct zlog *log = calloc(1, sizeof(*log));
	if (!log || !(log->dir = strdup(dir))) {
		free(log);
		return -ENOMEM;
	}
	if (opts)
		log->opts = *opts;
	if (!log->opts.prealloc_bytes)
		log->opts.prealloc_bytes = DEFAULT_PREALLOC;
	log->fd = -1;
	log->last_zxid = log->durable_zxid = s.prev_zxid;
	if (last_zxid)
		*last_zxid = s.prev_zxid > after_zxid ? s.prev_zxid : after_zxid;
	*out = log;
	return 0;
}

int zlog_append(struct zlog *log, uint64_t zxid, const void *data, size_t len)
{
	if (log->err)
		return log->err;
	uint64_t prev = log->buf_len ? log->buf_last : log->last_zxid;
	if (len == 0 || len > ZLOG_MAX_TXN || zxid <= prev)
		return -EINVAL;
	size_t need = zlog_rec_size(len);
	if (log->buf_len + need > log->buf_cap) {
		size_t cap = log->buf_cap ? log->buf_cap : 64 << 10;
		while (cap < log->buf_len + need)
			cap *= 2;
		uint8_t *nb = realloc(log->buf, cap);
		if (!nb)
			return -ENOMEM;
		log->buf = nb;
		log->buf_cap = cap;
	}
	zlog_rec_encode(log->buf + log->buf_len, zxid, data, len);
	if (!log->buf_len)
		log->buf_first = zxid;
	log->buf_last = zxid;
	log->buf_len += need;
	if (log->buf_len >= APPEND_FLUSH)
		return flush_buf(log);
	return 0;
}

int zlog_append_encoded(struct zlog *log, void *recs, size_t n, uint64_t first_zxid,
			uint64_t last_zxid)
{
	if (log->err)
		return log->err;
	int rc = flush_buf(log);
	if (rc)
		return rc;
	uint64_t count = 0;
	for (size_t off = 0; off + ZLOG_REC_HDR_SIZE <= n; count++)
		off += ZLOG_REC_HDR_SIZE + jute_load32((uint8_t *)recs + off);
	return write_recs(log, recs, n, first_zxid, last_zxid, count);
}

int zlog_sync(struct zlog *log)
{
	if (log->err)
		return log->err;
	int rc = flush_buf(log);
	if (rc)
		return rc;
	rc = sync_now(log);
	if (rc)
		return fail(log, rc);
	log->durable_zxid = log->last_zxid;
	return 0;
}

int zlog_roll(struct zlog *log)
{
	if (log->err)
		return log->err;
	int rc = flush_buf(log);
	if (!rc)
		rc = finish_file(log);
	return rc ? fail(log, rc) : 0;
}

uint64_t zlog_last_zxid(const struct zlog *log)
{
	return log->buf_len ? log->buf_last : log->last_zxid;
}

int zlog_error(const struct zlog *log)
{
	return log->err;
}

void zlog_get_stats(const struct zlog *log, struct zlog_stats *st)
{
	*st = log->st;
}

void zlog_close(struct zlog *log)
{
	if (!log)
		return;
	if (!log->err) {
		(void)flush_buf(log);
		if (!log->err)
			(void)finish_file(log);
	}
	if (log->fd >= 0)
		close(log->fd);
	free(log->buf);
	free(log->dir);
	free(log);
}

int zlog_purge(const char *dir, uint64_t snap_zxid)
{
	uint64_t *z;
	size_t n;
	int rc = zlog_list(dir, &z, &n);
	if (rc)
		return rc;
	/* keep the newest file starting at or before the snapshot (it holds
	 * the txns right after it) and everything newer */
	size_t keep_from = 0;
	for (size_t i = 0; i < n; i++)
		if (z[i] <= snap_zxid)
			keep_from = i;
	int removed = 0;
	for (size_t i = 0; i < keep_from; i++) {
		char name[64], path[4096];
		log_name(name, sizeof(name), z[i]);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (unlink(path) < 0 && errno != ENOENT) {
			rc = -errno;
			break;
		}
		removed++;
	}
	free(z);
	return rc ? rc : removed;
}
