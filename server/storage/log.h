/*
 * log.h — the transaction log of zkfs-server (dataLogDir).
 *
 * The log is the durability point of the server: a write is acknowledged
 * only after its txn is in the log and fdatasync'ed.  Txns are opaque byte
 * strings here, each tagged with a 64-bit zxid that strictly increases.
 *
 * On disk the log is a sequence of append-only files "log.<zxid hex>",
 * named after the zxid of the first txn they hold (lower-case hex, no
 * padding, as Apache ZooKeeper names them).  Each file starts with a
 * 16-byte header (magic "zkfsTXL\n", version, flags) and then holds
 * records, all big-endian:
 *
 *     u32 len      length of the txn bytes (>= 1)
 *     u32 crc      CRC32C over len, zxid, durable and the txn bytes
 *     u64 zxid
 *     u64 durable  the largest zxid already durable (synced) when this
 *                  record was written
 *     u8  txn[len]
 *
 * Files are preallocated in large chunks so an fdatasync after an append
 * rarely has to update file metadata; the unused tail of a file is zeros,
 * and an all-zero record header marks the end of the data.
 *
 * Recovery (zlog_open) reads every file in zxid order.  A damaged tail of
 * the LAST file — a partial or CRC-bad last record, a partial file header,
 * preallocated zeros — is the trace of a crash during an unacknowledged
 * write: it is truncated with a warning.  A bad record FOLLOWED BY valid
 * records (or a bad record in any file but the last) means acknowledged
 * data was damaged: zlog_open fails with -EBADMSG and a message naming the
 * file and the offset, and the server must not start.  The one exception
 * is what the "durable" field proves harmless: the pages of one batch may
 * reach the disk in any order before its fdatasync returns, so valid
 * records after a hole whose durable zxid is below the hole belong to the
 * same never-synced batch; they were never acknowledged and are truncated
 * with the hole.
 *
 * Errors from the disk (ENOSPC, EIO, ...) are returned and are sticky: once
 * a write or sync failed, the page cache state of the file is unknown, so
 * every later append/sync on the same handle fails with the same error.
 *
 * Threading: a struct zlog is used by one thread at a time (the commit
 * worker, see commit.h).  zlog_iterate (read-only; a half-written tail is
 * simply where it stops) and zlog_purge (never removes the current file)
 * may run on any thread while another thread appends.
 *
 * This header also holds what the storage modules (log, snap, commit)
 * share: the message sink, built-in fault injection, CRC32C and a few
 * directory helpers.
 */
#ifndef ZKFS_SERVER_LOG_H
#define ZKFS_SERVER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* Shared by the storage modules: messages and fault injection.        */

enum storage_level { STORAGE_INFO, STORAGE_WARN, STORAGE_ERROR };

/* Where storage modules send human-readable messages (warnings about a
 * truncated tail, a skipped snapshot, a slow fsync...).  msg has no
 * trailing newline.  The default sink prints "zkfs-server: <level>: msg"
 * to stderr.  fn NULL restores the default.  May be called from the commit
 * worker thread: the sink must be thread-safe.  Set it once at startup. */
typedef void (*storage_msg_fn)(enum storage_level level, const char *msg);
void storage_set_msg_fn(storage_msg_fn fn);

/* printf-style helper used by the storage modules themselves. */
void storage_msg(enum storage_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Fault injection (STYLE item 12), process-wide, thread-safe.
 * storage_fault_set(kind, countdown, err): the countdown-th next operation
 * of that kind fails with err (a negative errno such as -ENOSPC or -EIO);
 * countdown 1 = the very next one, 0 disarms.  A WRITE fault writes half
 * of the requested bytes first (a short write, as a full disk does) and
 * then fails.  Counts operations in log.c and snap.c alike. */
enum storage_fault_kind {
	STORAGE_FAULT_WRITE, /* pwrite/write of log records, snapshot data */
	STORAGE_FAULT_SYNC,  /* fdatasync/fsync of a file or directory */
	STORAGE_FAULT_OPEN,  /* creating a new log or snapshot file */
	STORAGE_FAULT__N
};
void storage_fault_set(enum storage_fault_kind kind, int countdown, int err);
/* Disarms every fault. */
void storage_fault_clear(void);
/* Used by the storage modules: 0, or the injected error if this operation
 * is the one chosen to fail. */
int storage_fault_hit(enum storage_fault_kind kind);

/* Names "<prefix><hex>" in dir (e.g. "log.", "snapshot."), exactly that
 * (so "snapshot.1a.tmp" is not one), sorted by the number ascending.
 * *zxids is malloc'd (free it); a missing dir gives 0.  Returns 0 or -errno. */
int storage_list_hex(const char *dir, const char *prefix, uint64_t **zxids, size_t *n);

/* Creates dir and its missing parents (mkdir -p).  Returns 0 or -errno. */
int storage_make_dirs(const char *dir);

/* fsync of a directory, so that a created/renamed/removed entry is durable. */
int storage_fsync_dir(const char *dir);

/* CRC32C (Castagnoli), hardware-accelerated where the CPU has SSE4.2.
 * crc32c(0, p, n) is the CRC of p[0..n); pass a previous result as crc to
 * continue over more bytes. */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);

/* ------------------------------------------------------------------ */
/* The transaction log.                                                */

#define ZLOG_HDR_SIZE 16u     /* file header */
#define ZLOG_REC_HDR_SIZE 24u /* per-record header: len, crc, zxid, durable */
/* Largest txn accepted (a txn carries at most one jute.maxbuffer payload
 * plus some overhead; multi-op txns may be larger). */
#define ZLOG_MAX_TXN (64u << 20)

struct zlog;

struct zlog_opts {
	/* Size of preallocation chunks in bytes (Apache ZooKeeper's
	 * preAllocSize, default 64 MiB).  0 = default. */
	uint64_t prealloc_bytes;
	/* Roll to a new file once the current one holds this many bytes
	 * (txnLogSizeLimitInKb * 1024).  0 = only roll on zlog_roll. */
	uint64_t max_file_bytes;
	/* true = never fdatasync (the operator's forceSync=no).  Durability
	 * is then lost on power failure; only for tests and benchmarks. */
	bool no_sync;
};

/* Called by recovery/iteration for each txn, in zxid order.  data is valid
 * only during the call.  Returning non-zero stops the iteration and that
 * value is returned by zlog_open/zlog_iterate. */
typedef int (*zlog_txn_cb)(void *arg, uint64_t zxid, const void *data, size_t len);

/* Opens (creating if needed, with its parents) the log directory dir and
 * recovers it: checks every file, truncates a torn tail of the last file
 * (with a warning), and calls cb (may be NULL) for every txn with
 * zxid > after_zxid in order.  *last_zxid (may be NULL) receives the
 * largest zxid in the log, or after_zxid if the log holds none larger.
 * opts may be NULL for defaults; it is copied.
 * New appends always go to a NEW file (named by their first zxid), so
 * recovered files are never written again.
 * Returns 0 and *out, or a negative errno: -EBADMSG for corruption that is
 * not a torn tail (message already emitted with file name and offset),
 * the callback's non-zero value, or the error of a system call. */
int zlog_open(struct zlog **out, const char *dir, const struct zlog_opts *opts, uint64_t after_zxid,
	      zlog_txn_cb cb, void *arg, uint64_t *last_zxid);

/* Read-only iteration over the log directory (no truncation, no locking):
 * cb for every txn with zxid > after_zxid.  A damaged tail of the last file
 * ends the iteration silently; other damage returns -EBADMSG.  Returns 0,
 * cb's value or -errno.
 *
 * This is also the reader a leader uses for a DIFF older than its
 * in-memory committed window (zab-quorum-protocol.md §3.2 step 5): files
 * wholly before after_zxid are skipped without being read, cb sees the
 * txns from after_zxid + 1 on in zxid order, and returning non-zero from
 * cb stops early (e.g. at the window's start, or past a size budget).  It
 * is safe while the commit worker appends (it stops at what is written),
 * but it does not know what is committed: the caller bounds it by its
 * last committed zxid.  Whether the log reaches back far enough is for the
 * caller to check: the first zxid cb sees must be after_zxid + 1, or the
 * first of a new epoch (counter 1) when after_zxid ended the previous one;
 * anything else means purged files, and the learner needs a SNAP. */
int zlog_iterate(const char *dir, uint64_t after_zxid, zlog_txn_cb cb, void *arg);

/* Removes every txn with zxid > `zxid` from the CLOSED log directory dir
 * (no struct zlog may be open on it): whole later files are deleted, the
 * file holding the cut is truncated at the record boundary, and both are
 * made durable (files deleted newest first, then the directory fsynced,
 * then the cut file truncated and fsynced, so a crash at any point leaves
 * a prefix of the old history from which the call can simply be
 * repeated).  Used by a learner for the leader's TRUNC, and after a SNAP
 * is installed (zxid = the snapshot's zxid) to drop the learner's own
 * later txns, which the new history replaces.
 * snap_dir (may be NULL: no check) is where the snapshots are (dataDir):
 * if its newest snapshot is newer than zxid, recovery would load state
 * that includes cut txns, so nothing is changed and -ERANGE is returned
 * (the caller must get a full SNAP instead).  A zxid at or past the end
 * of the log changes nothing; one before the first txn empties the log.
 * Returns 0; -ERANGE; -EBADMSG if a record at or before the cut is
 * damaged (message emitted; the log is left as it was except for files
 * already deleted past the cut); or -errno. */
int zlog_truncate(const char *dir, const char *snap_dir, uint64_t zxid);

/* Buffers one txn for the next zlog_sync (nothing reaches the disk yet).
 * zxid must be greater than every zxid already appended (-EINVAL), len in
 * 1..ZLOG_MAX_TXN (-EINVAL).  data is copied.  Returns 0, -ENOMEM, or the
 * sticky error of an earlier failure. */
int zlog_append(struct zlog *log, uint64_t zxid, const void *data, size_t len);

/* Writes every buffered txn and makes it durable (fdatasync; plus fsync of
 * the directory when a new file was created).  On success everything
 * appended so far is durable.  On failure nothing appended since the last
 * successful sync may be considered durable, and the error is sticky.
 * Returns 0 or a negative errno (-ENOSPC, -EIO, ...). */
int zlog_sync(struct zlog *log);

/* Encoding helpers for callers that build records themselves (commit.c
 * lays records out on the submitting thread to save a copy): the record
 * size of a txn of len bytes, and the record laid out at dst (rec_size
 * bytes; crc and durable are filled in by zlog_append_encoded). */
static inline size_t zlog_rec_size(size_t len)
{
	return ZLOG_REC_HDR_SIZE + len;
}
void zlog_rec_encode(uint8_t *dst, uint64_t zxid, const void *data, size_t len);

/* Writes already laid-out records (n bytes made by zlog_rec_encode, zxids
 * increasing from first_zxid to last_zxid, first_zxid greater than any
 * earlier one) without copying them; their crc and durable fields are
 * filled in place, so recs must be writable.  Anything zlog_append buffered
 * is written first.  Nothing is durable until zlog_sync.  Returns 0,
 * -EINVAL (malformed records, zxid order), or a negative errno (sticky on
 * I/O error). */
int zlog_append_encoded(struct zlog *log, void *recs, size_t n, uint64_t first_zxid,
			uint64_t last_zxid);

/* Ends the current file: it is synced, its preallocated tail trimmed, and
 * the next append starts a new file named after its zxid.  Called after a
 * snapshot is started so that old files can be purged.  No-op when no
 * file is open.  Returns 0 or a negative errno (sticky). */
int zlog_roll(struct zlog *log);

/* Largest zxid appended (or recovered); 0 for an empty log. */
uint64_t zlog_last_zxid(const struct zlog *log);
/* The sticky error: 0 while healthy. */
int zlog_error(const struct zlog *log);

/* Counters, for `mntr`/stats and tests. */
struct zlog_stats {
	uint64_t appends;   /* txns appended */
	uint64_t writes;    /* write system calls */
	uint64_t syncs;	    /* fdatasync calls */
	uint64_t bytes;	    /* record bytes written */
	uint64_t files;	    /* files created */
	uint64_t preallocs; /* preallocation steps */
};
void zlog_get_stats(const struct zlog *log, struct zlog_stats *st);

/* Syncs what is buffered (errors ignored: call zlog_sync first if they
 * matter), trims the preallocated tail and closes.  NULL is a no-op. */
void zlog_close(struct zlog *log);

/* Log files of dir, sorted by first zxid ascending.  *zxids is malloc'd
 * (free it); *n may be 0.  Returns 0 or -errno (-ENOENT if dir is missing
 * is reported as 0 files). */
int zlog_list(const char *dir, uint64_t **zxids, size_t *n);

/* Deletes the log files not needed to recover from a snapshot taken at
 * snap_zxid: every file older than the newest file whose first zxid is
 * <= snap_zxid.  Safe while another thread appends (the current file is
 * always kept).  Returns the number of files removed or -errno. */
int zlog_purge(const char *dir, uint64_t snap_zxid);

#endif
