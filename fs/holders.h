/*
 * holders.h — ZooKeeper sessions that hold ephemerals on behalf of Unix
 * sessions.
 *
 * An ephemeral made through the mount must vanish when the Unix session
 * (setsid(2)) of its creator ends.  zkfs opens one ZooKeeper session per
 * live session leader, on the first ephemeral that session creates, and
 * watches the leader with a pidfd; when the leader exits (however it
 * exits) the ZooKeeper session is closed, and the server deletes its
 * ephemerals at once.
 */
#ifndef ZKFS_FS_HOLDERS_H
#define ZKFS_FS_HOLDERS_H

#include <sys/types.h>

#include "zkc.h"

/* Starts the thread that watches leaders.  0 or negative errno. */
int holders_start(void);
/* Closes every holder session and stops the thread. */
void holders_stop(void);

/* The session that must own an ephemeral created by process `pid` (the
 * FUSE request's caller): its session leader's holder session, opened now
 * if needed; or the mount's session when ephemeral_owner=mount, when the
 * leader is already gone, or for the daemon itself.  Returns 0 and *out,
 * with a reference *ref that the caller drops with holders_put(*ref) (NULL
 * and *out NULL for the mount's session); or a negative errno. */
int holders_get(pid_t pid, zkc_session **out, void **ref);
void holders_put(void *ref);

/* The mount's own session is connected again, or known to be expired and
 * being renewed (loop thread): Unix sessions whose holder expired while
 * it was cut off get expire_signal now. */
void holders_mount_settled(void);

/* Number of live holder sessions (tests, logging). */
int holders_count(void);

#endif
