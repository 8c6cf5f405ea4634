/*
 * commit.h — group commit of txns to the transaction log, on libuv.
 *
 * The loop thread submits txns; one dedicated worker thread writes them to
 * the log (log.h) and makes them durable with ONE fdatasync per batch: every
 * txn submitted while the previous batch was being synced forms the next
 * batch.  Callbacks then run on the loop thread, in submission order, with
 * status 0 (durable) or a negative errno.  This is what lets many
 * concurrent writers share the cost of an fdatasync.
 *
 *   loop thread                         worker thread
 *   commit_submit ──► gathering batch ──► (swap) write all, fdatasync once
 *   done callbacks ◄── uv_async ◄──────── batch done, status
 *
 * Errors are final: after a write or sync error, that batch and EVERY later
 * one complete with the error (nothing is ever reported durable that was
 * not synced), and commit_submit returns the error synchronously from then
 * on.  The server is expected to stop accepting writes and tell the
 * operator (commit_error says why).
 *
 * Threading: every function here must be called on the loop thread that
 * was given to commit_open.  The zlog handed to commit_open belongs to the
 * worker thread until commit_close's callback has run: do not touch it
 * meanwhile (zlog_iterate/zlog_purge on the directory are fine).
 */
#ifndef ZKFS_SERVER_COMMIT_H
#define ZKFS_SERVER_COMMIT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "log.h"

struct commit;

/* Completion of one submitted txn, on the loop thread, exactly once:
 * status 0 = durable in the log; < 0 = not durable (-ENOSPC, -EIO, ...,
 * or -ECANCELED if the commit was closed with the txn unwritten — never
 * happens with commit_close, which drains). */
typedef void (*commit_cb)(void *arg, int status);

struct commit_opts {
	/* Warn (storage_msg) when one fdatasync takes longer than this many
	 * milliseconds (fsync.warningthresholdms, default 1000). 0 = default. */
	unsigned fsync_warn_ms;
	/* A batch stops gathering at this many bytes of records (the rest goes
	 * to the next batch), to bound memory and latency. 0 = 16 MiB. */
	size_t max_batch_bytes;
};

/* Starts the worker thread for log on loop.  opts may be NULL (defaults).
 * log must be open and healthy; its ownership stays with the caller but
 * it must not be used until commit_close completes.
 * Returns 0 and *out, or -ENOMEM / a libuv error. */
int commit_open(struct commit **out, uv_loop_t *loop, struct zlog *log,
		const struct commit_opts *opts);

/* Queues one txn.  zxid must be greater than every zxid submitted before
 * (and than zlog_last_zxid of the log); len in 1..ZLOG_MAX_TXN.  bytes are
 * copied: the caller may free them when commit_submit returns.
 * Returns 0: cb(arg, status) will be called exactly once, later, on the
 * loop thread, after the callbacks of every earlier submission.
 * Returns < 0: cb is never called — -EINVAL (bad zxid/len), -ENOMEM,
 * -ESHUTDOWN (commit_close was called), or the sticky I/O error of an
 * earlier failure (-ENOSPC, -EIO...). */
int commit_submit(struct commit *c, uint64_t zxid, const void *bytes, size_t len, commit_cb cb,
		  void *arg);

/* Asks for a log roll: txns submitted before this call stay in the current
 * log file, those submitted after start a new file (named after their first
 * zxid).  Call it when a snapshot is taken so that purge can later delete
 * the old files.  Returns 0, -ESHUTDOWN, or the sticky error. */
int commit_roll(struct commit *c);

/* The sticky error (0 while healthy). */
int commit_error(const struct commit *c);

/* Counters.  fsyncs < txns when batching works. */
struct commit_stats {
	uint64_t txns;		/* txns completed (any status) */
	uint64_t batches;	/* batches written */
	uint64_t fsyncs;	/* fdatasync calls by the worker */
	uint64_t bytes;		/* record bytes written */
	uint64_t max_batch;	/* largest batch, in txns */
	uint64_t failed;	/* txns completed with an error */
	uint64_t sync_ns_total; /* time spent in write+fdatasync */
	uint64_t sync_ns_max;	/* slowest batch */
	uint64_t slow_5ms;	/* batches whose write+sync took over 5 ms */
	uint64_t slow_20ms;	/* ... over 20 ms */
	uint64_t pending;	/* submitted, callback not yet run */
};
void commit_get_stats(const struct commit *c, struct commit_stats *st);

/* Drains and stops: every txn already submitted is written and synced (or
 * fails) and its callback runs; then the worker exits, libuv handles are
 * closed, c is freed, and close_cb(arg) runs on the loop thread (close_cb
 * may be NULL).  The log is NOT closed: the caller zlog_close()s it in (or
 * after) close_cb.  commit_submit after this returns -ESHUTDOWN. */
void commit_close(struct commit *c, void (*close_cb)(void *arg), void *arg);

#endif
