/*
 * watch.h — the watch manager: which watcher (connection) watches which
 * path in which modes, and who hears about a change.
 *
 * One entry per (path, watcher) pair carries a bit set of modes; it is on
 * two lists at once: the path's (found through a hash table of watched
 * paths) and the watcher's (rooted in struct core_watcher), so both
 * "who watches P" and "drop everything of connection C" are direct.
 * Persistent-recursive watches are counted so a trigger only walks the
 * ancestors of a path when at least one exists.
 */
#ifndef ZKFS_SERVER_WATCH_H
#define ZKFS_SERVER_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

/*
 * Mode bits of one (path, watcher) entry.  As in ZooKeeper, a watch lives
 * on a data side and/or a child side: checkWatches/removeWatches of type
 * Data or Children see (and remove) only that side, so a persistent watch
 * that lost its data side still reports child changes.
 */
enum {
	W_DATA = 1,    /* one-shot data watch (getData, exists incl. missing node) */
	W_CHILD = 2,   /* one-shot child watch (getChildren) */
	W_PDATA = 4,   /* persistent (addWatch mode 0), data side */
	W_PCHILD = 8,  /* persistent, child side */
	W_RDATA = 16,  /* persistent recursive (addWatch mode 1), data side */
	W_RCHILD = 32, /* persistent recursive, child side: never fires */
	W_DATA_SIDE = W_DATA | W_PDATA | W_RDATA,
	W_CHILD_SIDE = W_CHILD | W_PCHILD | W_RCHILD,
	W_PERSIST = W_PDATA | W_PCHILD,
	W_RECURSIVE = W_RDATA | W_RCHILD,
};

struct wentry;
struct wpath;

struct watch_mgr {
	struct wpath **tab;
	uint32_t mask;
	uint64_t npaths;
	uint64_t nentries;   /* (path, watcher) pairs */
	uint64_t nsides;     /* data-side plus child-side registrations (zk_watch_count) */
	uint64_t nwatchers;  /* watchers with at least one entry */
	uint64_t nrecursive; /* entries with W_RDATA */
	uint64_t stamp;	     /* dedup stamp of the current trigger */
};

void watch_init(struct watch_mgr *m);
/* Frees every entry without touching the watchers. */
void watch_free(struct watch_mgr *m);

/* Adds mode bits for (path, w). */
void watch_add(struct watch_mgr *m, const char *path, size_t len, struct core_watcher *w,
	       uint8_t bits);

/*
 * Fires event `type` (ZK_EVENT_*) for `path`: standard watches on the path
 * whose kind the event matches fire and are removed (data watches for
 * created/deleted/dataChanged, child watches for childrenChanged and
 * deleted), persistent ones fire and stay, persistent-recursive ones on the
 * path or any ancestor fire for all but childrenChanged.  Each watcher hears
 * at most one event per call, and only when acl (the event node's; NULL =
 * no check) grants READ to the watcher's identities (w->auth); watches fire
 * (and one-shot ones go) either way.  notify runs after the manager is
 * updated.
 */
void watch_fire(struct watch_mgr *m, const char *path, size_t len, int32_t type, int64_t zxid,
		const struct zk_acl_vec *acl, const struct core_hooks *hooks);

/* Watch types of checkWatches/removeWatches (ZK_WATCHER_*) to mode bits;
 * 0 for an unknown type. */
uint8_t watch_type_bits(int32_t type);
/* True when (path, w) has any of bits. */
bool watch_has(const struct watch_mgr *m, const char *path, size_t len,
	       const struct core_watcher *w, uint8_t bits);
/* Clears bits of (path, w); returns true when some were set. */
bool watch_remove(struct watch_mgr *m, const char *path, size_t len, struct core_watcher *w,
		  uint8_t bits);
/* Drops every entry of w. */
void watch_gone(struct watch_mgr *m, struct core_watcher *w);

/* ZooKeeper's wchs numbers, which count the data side only: watchers with
 * a data-side watch, paths with one, and such (path, watcher) pairs.
 * Walks every entry (uses the trigger stamp, hence not const). */
void watch_data_summary(struct watch_mgr *m, uint64_t *watchers, uint64_t *paths,
			uint64_t *watches);

/* Data-side entries (what ZooKeeper's wchp/wchc list), by path / of w. */
void watch_each_by_path(const struct watch_mgr *m,
			void (*cb)(void *arg, const char *path, struct core_watcher *w), void *arg);
void watch_each_of(const struct core_watcher *w, void (*cb)(void *arg, const char *path),
		   void *arg);

#endif
