/*
 * locks.h — flock(2) and fcntl(2) locks on the mount as ZooKeeper locks.
 *
 * The kernel hands every lock call on a zkfs file to the daemon (FUSE
 * SETLK/SETLKW/GETLK); zkfs turns each into a contender of ZooKeeper's
 * read/write lock recipe: an ephemeral-sequential node of the mount's own
 * session, each contender waiting for the deletion of the one node that
 * stands before it (no herd effect).  So every mount and every ZooKeeper
 * client using the same recipe sees the same lock.
 *
 * The kernel passes only locks on regular files to a FUSE daemon (it
 * keeps locks on directories to itself), so a directory znode is locked
 * through its data entry, DIR/.zdata.  Where the contenders live:
 *   - locked through DIR/.zdata, or a node that has children anyway: its
 *     own children, named as Apache Curator's InterProcessMutex /
 *     InterProcessReadWriteLock name theirs (`_c_<uuid>-lock-NNNNNNNNNN`,
 *     `_c_<uuid>-__READ__...`), or as kazoo's (`lock_names=` option);
 *   - a file: a container node LOCKROOT/<path with '/' as %2F>, where
 *     LOCKROOT is `/.zkfs-locks` under the mount root (hidden from
 *     listings), so the file never gains children and stays a file for
 *     every host.
 * Every contender name of the known recipes is read (ordered by its
 * sequence suffix); the option only picks how this mount names its own.
 *
 * Lifetime: LOCK_UN / F_UNLCK; the last close of the open file
 * description (flock, OFD locks: release); any close by the owning process
 * (POSIX locks: flush with the lock owner); the process's death (the
 * kernel closes its files); the mount's session ending (ephemerals).
 *
 * Threads: the lock calls block a FUSE worker while waiting; watch
 * callbacks and FUSE interrupts only flag the waiter and wake it.
 */
#ifndef ZKFS_FS_LOCKS_H
#define ZKFS_FS_LOCKS_H

#define FUSE_USE_VERSION 314
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>

/* How this mount names its contenders (lock_names= option). */
enum locks_names { LOCKS_CURATOR, LOCKS_CURATOR_RW, LOCKS_KAZOO };

/* Reads the host name for contender data.  Call once before the loop. */
void locks_init(void);

/* The FUSE flock handler's body: op is LOCK_SH / LOCK_EX / LOCK_UN, with
 * LOCK_NB for a non-blocking request.  zpath is the locked znode.  Replies
 * to req (0, EWOULDBLOCK, EINTR when interrupted, or an errno). */
void locks_flock(fuse_req_t req, fuse_ino_t ino, const char *zpath, bool dirlock,
		 struct fuse_file_info *fi, int op);

/* setlk (POSIX and OFD locks; any byte range locks the whole file) and
 * getlk.  Reply to req. */
void locks_setlk(fuse_req_t req, fuse_ino_t ino, const char *zpath, bool dirlock,
		 struct fuse_file_info *fi, const struct flock *lk, int sleep);
void locks_getlk(fuse_req_t req, fuse_ino_t ino, const char *zpath, bool dirlock,
		 struct fuse_file_info *fi, const struct flock *lk);

/* A close by lock owner `owner` (flush): its POSIX locks on ino go. */
void locks_close_owner(fuse_ino_t ino, uint64_t owner);
/* The last close of open file `fh` (release/releasedir): what was locked
 * through it and is still held (flock, OFD locks) goes. */
void locks_release_fh(fuse_ino_t ino, uint64_t fh);

/* The mount's session expired (loop thread): every lock it held is lost;
 * holders are told with expire_signal. */
void locks_session_expired(void);

/* True for a name that listings of `dir` must not show (the lock root
 * in the mount root). */
bool locks_hidden(const char *dir, const char *name);
/* Whether a node path (mount-relative) is the lock root or inside it:
 * the mount's own bookkeeping, whose watch events need no replay. */
bool locks_internal(const char *path);

/* Number of locks held or waited for through this mount (tests, logs). */
int locks_count(void);

#endif
