/*
 * inode.h — the table between FUSE node ids and znode paths.
 *
 * The kernel names everything by a 64-bit node id that zkfs hands out in
 * entry replies; ZooKeeper names everything by path.  Each entry carries
 * the kernel's lookup count (raised by every entry reply, lowered by
 * forget) and is freed when it reaches zero.  An entry is also keyed by
 * its path while it is "live"; when the znode behind a path is deleted,
 * re-created (new czxid) or changes between directory and file, the old
 * entry is detached from the path and a new one is made, so the kernel
 * never sees an inode change type or identity.
 *
 * The table also remembers which znodes (by czxid) this mount created as
 * files, for the "stays a file while empty" rule.
 *
 * Every function takes the table's own mutex; callers get copies, never
 * pointers into the table.  Node id 1 (FUSE_ROOT_ID) is the mount root and
 * is never freed.
 */
#ifndef ZKFS_FS_INODE_H
#define ZKFS_FS_INODE_H

#include <stdbool.h>
#include <stdint.h>

#include "records.h"

/* A copy of one entry's state. */
struct inode_info {
	uint64_t id;
	char *path; /* malloc'd; caller frees */
	bool dir;
	bool live;      /* still the entry of its path */
	bool have_stat; /* st below is meaningful */
	struct zk_stat st;
	int64_t pending_size; /* size of unflushed writes through an open fd, or -1 */
	int perm;             /* last permission bits sent to the kernel, or -1 */
};

/* Initialises the table with the root entry for `root_path` (a znode path,
 * "/" for no chroot: paths in the table are relative to the mount root).
 * Returns 0 or -ENOMEM. */
int inode_table_init(void);
void inode_table_free(void);

/* Finds or makes the live entry for `path` describing a znode of identity
 * `czxid` shown as a dir or file, stores `st`, raises its lookup count by
 * one and returns its node id (0 on -ENOMEM).  The root path always maps
 * to FUSE_ROOT_ID. */
uint64_t inode_ref(const char *path, const struct zk_stat *st, bool dir);

/* Lowers the lookup count of `id` by n; frees the entry at zero. */
void inode_forget(uint64_t id, uint64_t n);

/* Fills *out with a copy of entry `id`.  Returns 0 or -ENOENT (unknown
 * id; the kernel never sends one, so it signals a bug) or -ENOMEM. */
int inode_get(uint64_t id, struct inode_info *out);
void inode_info_free(struct inode_info *in);

/* Malloc'd path of entry `id`, or NULL. */
char *inode_path(uint64_t id);

/* Node id of the live entry of `path`, or 0.  With `out`, also a copy. */
uint64_t inode_find(const char *path, struct inode_info *out);

/* Updates the stored stat of the live entry of `path` (if any). */
void inode_set_stat(const char *path, const struct zk_stat *st);

/* Keeps a copy of the data last read through entry `id` (served when the
 * connection is lost), replacing any older copy. */
void inode_set_data(uint64_t id, const uint8_t *data, size_t len);
/* Malloc'd copy of that data in *data and *len; -ENOENT when there is none. */
int inode_get_data(uint64_t id, uint8_t **data, size_t *len);

/*
 * Cache of current data, for reads while connected.  The data above is
 * marked current when a read-only open fetched it and nothing invalidated
 * the node (or anything else) meanwhile: the caller takes
 * inode_cache_gen() before fetching and passes it to
 * inode_set_data_cached, which marks the data current only if the
 * generation is unchanged.  Watch events, this mount's own changes,
 * writable opens, detaching and connection losses call inode_cache_drop*.
 * Memory: one copy per entry (freed with it at forget), at most
 * INODE_CACHE_MAX bytes marked current.
 */
#define INODE_CACHE_MAX (1024 * 1024)
uint64_t inode_cache_gen(void);
/* Like inode_set_data; also marks the data current (see above). */
void inode_set_data_cached(uint64_t id, const uint8_t *data, size_t len, int32_t version,
			   uint64_t gen);
/* Malloc'd copy of current data and its znode version; -ENOENT when the
 * entry has none marked current. */
int inode_get_cached(uint64_t id, uint8_t **data, size_t *len, int32_t *version);
/* Unmarks the live entry of `path` (NULL: every entry) and bumps the
 * generation. */
void inode_cache_drop(const char *path);
void inode_cache_drop_id(uint64_t id);
/* An open file of entry `id` based on data `version` is read: if that is
 * not the version marked current, unmark it (the read fills the kernel's
 * page cache with other data). */
void inode_cache_check(uint64_t id, int32_t version);

/* Remembers the permission bits last sent to the kernel for entry `id`. */
void inode_set_perm(uint64_t id, int perm);

/* Sets the size of unflushed writes of entry `id` (-1 = none). */
void inode_set_pending(uint64_t id, int64_t size);

/* The znode at `path` is gone: detach its entry from the path (the kernel
 * may still hold the id until forget).  Returns the detached id or 0. */
uint64_t inode_detach(const char *path);

/* After a rename: entry `id` now lives at `newpath` (detaching whatever
 * lived there) with stat `st`.  Returns 0 or -ENOMEM. */
int inode_move(uint64_t id, const char *newpath, const struct zk_stat *st);

/* The "created by this mount as a file / as a directory" memory, keyed by
 * czxid: inode_created_type answers 0 (file), 1 (dir) or -1 (unknown). */
void inode_mark_created(int64_t czxid, bool dir);
int inode_created_type(int64_t czxid);

/* Copies of every live entry (for the resync after a reconnect); free
 * each with inode_info_free and the array with free().  0 or -ENOMEM. */
int inode_snapshot(struct inode_info **out, size_t *n);

/* Number of entries (for tests). */
size_t inode_count(void);

#endif
