/*
 * snapper.h — takes one fuzzy snapshot while the server keeps serving.
 *
 * The loop thread serializes the tree in small steps (core_snapshot_step,
 * a time budget per loop iteration, driven by an idle handle) into 1 MiB
 * chunks of framed records; the thread pool writes the chunks in order
 * (snap.h's writer: one job at a time), then fsyncs and renames the file.
 * Nothing is forked and nothing is locked: the core is only ever touched
 * by the loop thread, and the loop never waits for the disk.  Serializing
 * pauses while too many chunks wait for the disk, so memory stays bounded.
 */
#ifndef ZKFS_SERVER_SNAPPER_H
#define ZKFS_SERVER_SNAPPER_H

#include <stdint.h>
#include <uv.h>

#include "core.h"

struct snapper;

struct snapper_stats {
	int64_t zxid;	    /* the snapshot's tag */
	uint64_t nodes;	    /* node records written */
	uint64_t bytes;	    /* records' bytes (framing included) */
	uint64_t ms;	    /* from start to durable (or failure) */
	uint64_t busy_ms;   /* of that: serializing on the loop + writing in the pool */
	uint64_t step_us_max; /* the longest single step on the loop */
};

/* Called once on the loop when the snapshot is durable (rc 0), failed
 * (-errno, already logged by the storage layer when it came from there) or
 * was cancelled (-ECANCELED).  The snapper frees itself after the call. */
typedef void (*snapper_done_cb)(void *arg, int rc, const struct snapper_stats *st);

/* Starts a snapshot of core (tagged with its last applied zxid) into dir.
 * slice_nodes: 0 = serialize ~0.2 ms per loop iteration; N = exactly N
 * nodes per iteration (zkfs.snapshotSliceNodes, for tests).  Returns the
 * snapper (never fails: out of memory aborts). */
struct snapper *snapper_start(uv_loop_t *loop, struct core *core, const char *dir,
			      int slice_nodes, snapper_done_cb done, void *arg);

/* Stops serializing at once (the core may be freed after the loop has run
 * the done callback); the partial file is removed.  done still comes, with
 * -ECANCELED, from the loop.  Idempotent. */
void snapper_cancel(struct snapper *s);

#endif
