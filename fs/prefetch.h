/*
 * prefetch.h — stats of a whole directory's children in one go.
 *
 * A cold `ls -l` or `stat *` of a big directory would cost one ZooKeeper
 * round trip per entry, one after another, each behind a FUSE request.
 * prefetch_fetch instead sends every child's getACL (which answers Stat and
 * ACL together) pipelined on the mount's session and waits for them all:
 * 10,000 children cost about as much as a few dozen sequential requests.
 *
 * Two users: readdirplus (ops.c) hands the results to the kernel with the
 * names, and the lookup side keeps the last few directories' results in a
 * small cache, consulted before asking ZooKeeper about a single name.
 *
 * The cache is only as good as the watch behind it: an entry set is
 * stamped with inode_cache_gen() taken before fetching, and is served only
 * while that generation is unchanged (every watch event, every change of
 * the mount's own and every connection loss moves it).  Names missing from
 * a set are not answered from it (the caller asks ZooKeeper).
 */
#ifndef ZKFS_FS_PREFETCH_H
#define ZKFS_FS_PREFETCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "records.h"

/* One child's answer. */
struct pf_node {
	int err; /* 0, or the ZooKeeper code of this child's request */
	struct zk_stat st;
	struct zk_acl_vec acl;
};

/* Most requests kept in flight by one prefetch. */
#define PF_WINDOW 1024
/* Directories with more children than this are not prefetched. */
#define PF_MAX_NAMES 200000

/*
 * Sends getACL for dir/names[i] (a chroot-relative znode directory path and
 * child names) on the mount's session, at most PF_WINDOW at a time, and
 * waits until every one has been answered.  *out gets n nodes in names'
 * order (free with prefetch_free).  Returns 0 or a negative errno when
 * nothing could be sent; per-child failures are in out[i].err.
 */
int prefetch_fetch(const char *dir, char *const *names, int32_t n, struct pf_node **out);
void prefetch_free(struct pf_node *nodes, int32_t n);

/* ---- the lookup cache */

/* What a cached child says: its stat, whether it shows as a directory
 * and the permission bits computed from its ACL. */
struct pf_stat {
	struct zk_stat st;
	bool dir;
	mode_t perm;
};

/*
 * Stores the children of `dir` (names[i] with stats[i]; entries with
 * ok[i] false are left out) as listed and fetched under generation `gen`
 * (taken before the listing).  Replaces
 * an older set of the same directory; the least recently stored of
 * PF_CACHE_DIRS sets goes.  Copies everything.
 */
#define PF_CACHE_DIRS 4
void pf_cache_put(const char *dir, char *const *names, const struct pf_stat *stats,
		  const bool *ok, int32_t n, uint64_t gen);
/* Looks up dir/name in the set of `dir` if it is stamped with the current
 * generation `gen`: 1 with *out filled when the set has the name, 0 when
 * it does not (the name did not exist), -1 when there is no such set. */
int pf_cache_get(const char *dir, const char *name, uint64_t gen, struct pf_stat *out);

/*
 * Counts a lookup of a name in `dir` that went to ZooKeeper.  Returns true
 * once per PF_MISS_RUN consecutive such lookups in the same directory
 * (within one generation) that no set answers: the caller should prefetch
 * the directory.  A prefetch under way for the directory suppresses it.
 */
#define PF_MISS_RUN 16
bool pf_cache_miss(const char *dir, uint64_t gen);
/* The caller's prefetch of `dir`, started after pf_cache_miss said so,
 * has ended (stored or not). */
void pf_cache_done(const char *dir);

/* Drops every set (tests, unmount). */
void pf_cache_clear(void);

#endif
