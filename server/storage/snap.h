/*
 * snap.h — snapshot files of zkfs-server (dataDir).
 *
 * A snapshot is the serialized data tree (and session table) tagged with
 * the zxid of the last txn applied when it was started.  Snapshots are
 * fuzzy: the tree may change while one is written, which is harmless
 * because txns are idempotent state deltas and recovery replays every txn
 * after the tag (see shared seed 003).  The records are opaque byte strings
 * here; the server core defines what they contain.
 *
 * File "snapshot.<zxid hex>" (lower-case hex, no padding), big-endian:
 *
 *     header   8 bytes magic "zkfsSNP\n", u32 version, u32 flags, u64 zxid
 *     records  u32 len, u8 data[len]            (any number, len >= 0)
 *     trailer  8 bytes magic "zkfsEND\n", u64 record count, u64 zxid,
 *              u32 crc, u32 zero               (crc = CRC32C of every byte
 *                                               before the crc field)
 *
 * A snapshot is written to "snapshot.<zxid hex>.tmp" and only renamed to
 * its final name after the trailer is fsync'ed, then the directory is
 * fsync'ed: a final name always means a complete file, barring later damage.
 * Damage (truncation, bit rot) is caught by the trailer and CRC, and the
 * loader falls back to the previous snapshot.
 *
 * Threading: a writer is used by one thread at a time (typically a
 * uv_queue_work job); loading and listing touch no shared state.
 */
#ifndef ZKFS_SERVER_SNAP_H
#define ZKFS_SERVER_SNAP_H

#include <stddef.h>
#include <stdint.h>

#define SNAP_MAX_RECORD (256u << 20)

struct snap_writer;

/* Starts snapshot zxid in dir (created with parents if missing): creates
 * the temp file (replacing a stale one).  Returns 0 and *out, or -errno. */
int snap_writer_open(struct snap_writer **out, const char *dir, uint64_t zxid);

/* Appends one record (copied into a large buffer; written in big chunks).
 * len <= SNAP_MAX_RECORD.  Returns 0 or -errno; after an error the writer
 * only accepts snap_writer_abort (commit returns the error). */
int snap_writer_append(struct snap_writer *w, const void *rec, size_t len);

/* Appends `nrec` records already framed as above (u32 len, data) in
 * buf[0..len), e.g. serialized on another thread.  Returns 0 or -errno,
 * with the same error rule as snap_writer_append. */
int snap_writer_append_framed(struct snap_writer *w, const void *buf, size_t len, uint64_t nrec);

/* Paced writing, for a server that serves while it writes: framed chunks
 * go straight to the file and every `step` bytes the writer waits until
 * they reach the disk (sync_file_range), so the transaction log's
 * fdatasyncs never queue behind more than about `step` bytes of snapshot.
 * 0 (the default) = write in 4 MiB pieces with asynchronous writeback. */
void snap_writer_pace(struct snap_writer *w, size_t step);

/* Finishes: trailer, fsync, rename to the final name, fsync of the
 * directory.  Frees w in every case; on failure the temp file is removed.
 * Returns 0 (the snapshot is durable) or -errno. */
int snap_writer_commit(struct snap_writer *w);

/* Drops an unfinished snapshot: removes the temp file, frees w.  NULL ok. */
void snap_writer_abort(struct snap_writer *w);

/* Records appended so far, and bytes of the file so far. */
uint64_t snap_writer_count(const struct snap_writer *w);
uint64_t snap_writer_bytes(const struct snap_writer *w);

/* Called for every record of the snapshot being loaded, in file order.
 * rec is valid only during the call.  Non-zero return stops the load and
 * is returned by snap_load. */
typedef int (*snap_record_cb)(void *arg, const void *rec, size_t len);

/* Loads the newest VALID snapshot of dir: each candidate, newest first, is
 * checked completely (trailer, count, CRC) BEFORE cb sees any record of it,
 * so cb only ever sees one whole, valid snapshot.  Invalid candidates are
 * skipped with a warning naming the file and why; the loaded one is
 * announced (STORAGE_INFO) with its zxid.  Leftover "*.tmp" files of
 * interrupted writes are removed.
 * Returns 0 with *zxid = the loaded snapshot's zxid;
 *   -ENOENT when dir holds no snapshot at all (fresh start, *zxid = 0);
 *   -EBADMSG when snapshots exist but none is valid (message emitted);
 *   cb's non-zero value; or another -errno. */
int snap_load(const char *dir, snap_record_cb cb, void *arg, uint64_t *zxid);

/* Checks one snapshot file fully without delivering records.  Returns 0 and
 * (if not NULL) *zxid / *count, or -EBADMSG / -errno. */
int snap_verify(const char *path, uint64_t *zxid, uint64_t *count);

/* Snapshot zxids found in dir (final names only), sorted NEWEST first;
 * *zxids is malloc'd (free it).  A missing dir gives 0 entries.
 * Returns 0 or -errno. */
int snap_list(const char *dir, uint64_t **zxids, size_t *n);

/* autopurge: keeps the newest `retain` snapshots of data_dir (retain < 3 is
 * raised to 3, as Apache ZooKeeper does), deletes older ones, and deletes
 * the log files of log_dir not needed to recover from the oldest kept
 * snapshot (zlog_purge).  Safe while the commit worker appends.  Returns
 * the number of files removed, or -errno.  Blocking (unlinks): run it from
 * a uv_queue_work job or a timer on an idle loop. */
int snap_purge(const char *data_dir, const char *log_dir, int retain);

#endif
