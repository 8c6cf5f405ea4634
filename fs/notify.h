/*
 * notify.h — turning ZooKeeper watch events into kernel cache
 * invalidations and inotify events.
 *
 * Watch callbacks (libzkc loop thread) only queue events.  A dedicated
 * thread takes them one at a time and, when the kernel knows the parent
 * directory (so an inotify watch could be on it), replays the change
 * through the VFS on the mount: mknod/mkdir for a creation, unlink/rmdir
 * for a deletion, open(O_WRONLY|O_TRUNC)+close for a data change.  The
 * FUSE handlers recognise these requests by the caller's pid (== this
 * thread's tid) and answer them from the replay context below, without
 * touching ZooKeeper.  Kernel invalidations are sent from this thread too,
 * never from a handler.
 *
 * Changes this mount made itself are announced with notify_expect before
 * the request goes out, so their echo only invalidates and is not replayed
 * (the kernel already produced the events for the local call).
 */
#ifndef ZKFS_FS_NOTIFY_H
#define ZKFS_FS_NOTIFY_H

#include <stdbool.h>
#include <sys/types.h>

#include "records.h"
#include "zkc.h"

enum replay_kind { REPLAY_NONE, REPLAY_CREATE, REPLAY_DELETE, REPLAY_DATA };

struct replay_info {
	int kind;
	char *path; /* malloc'd znode path of the replayed node */
	bool dir;
	bool have_stat;
	struct zk_stat st;
	mode_t perm; /* permission bits from the ACL (defaults when unknown) */
};

/* Starts the replay thread.  0 or negative errno. */
int notify_start(void);
/* Stops it (at unmount). */
void notify_stop(void);

/* Installs the mount's watch on session s: a persistent recursive watch
 * on the root.  Returns 0, or -ENOTSUP when the server lacks addWatch: the
 * mount has then switched to one-shot watches (oneshot.h), and later calls
 * (a new session after an expiry) re-arm those and return 0. */
int notify_watch_session(zkc_session *s);

/* True when data of `path` may be served from the mount's cache: the root
 * watch is installed (so changes elsewhere invalidate it) and no change of
 * this mount to `path` is still waiting for its watch echo.  Never in
 * one-shot mode: a one-shot watch leaves a gap between firing and
 * re-arming. */
bool notify_cacheable(const char *path);

/* True when a FUSE request with this caller pid is a replay. */
bool notify_is_replay(pid_t pid);
/* Copy of the current replay context (kind REPLAY_NONE when idle). */
void notify_replay_info(struct replay_info *out);
void replay_info_free(struct replay_info *ri);

/* The mount is about to make this change itself: its watch echo must not
 * be replayed.  type is a zk_event_type.  notify_unexpect undoes it when
 * the request failed. */
void notify_expect(const char *path, int type);
void notify_unexpect(const char *path, int type);

/* After a reconnect: compares what the kernel knows with ZooKeeper and
 * queues the creates, deletes and data changes that happened after zxid
 * `since` (a persistent watch does not replay missed events).  Nothing in
 * one-shot mode, whose watches report missed changes themselves. */
void notify_resync(int64_t since);

/* Queues an event as if a watch had fired (used after reconnects and by
 * the one-shot fallback). */
void notify_push(int type, const char *path);

#endif
