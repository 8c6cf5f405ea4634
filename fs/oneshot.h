/*
 * oneshot.h — the watch fallback for servers without addWatch (ZooKeeper
 * 3.5 answers it Unimplemented): one-shot ZooKeeper watches on what the
 * mount has seen, turned into the events the persistent root watch would
 * have given (notify_push), so inotify keeps working.
 *
 * What is watched: what the kernel holds.  Every node the mount hands to
 * the kernel (lookup, stat, open, create, entries of a listing) gets a
 * data watch (exists), and every directory among them a child watch
 * (getChildren); so does every node that appears in a watched directory
 * (the kernel learns of it through the replayed creation).  A table
 * (path -> watches wanted and armed, the last data zxid seen, the sorted
 * child names) keeps each watch
 * registered once and is the baseline that every (re-)arming is compared
 * with: a child watch that fired is re-armed with a fresh getChildren and
 * the difference becomes CREATED/DELETED events; a data watch that fired
 * is re-armed with exists and a new mzxid becomes DATA_CHANGED.  Because
 * every arming compares, arms lost to a connection drop or a session
 * expiry report what changed meanwhile when they are sent again.
 *
 * Costs and limits (docs/fs.md): one request per watched node the first
 * time it is seen and one per event; changes between a watch firing and
 * its re-arming are seen only as their net effect (a child created and
 * deleted in between is never reported); the table holds at most
 * ONESHOT_MAX_PATHS paths (beyond that new nodes are not watched; a line
 * is logged once).  Data caching stays off (notify_cacheable is false).
 *
 * Threads: oneshot_note runs on FUSE workers, oneshot_start/_session on
 * the main and renewal threads, everything else (watch callbacks,
 * completions, oneshot_connected) on the libzkc loop thread, which uses
 * only the asynchronous API.  One mutex guards the table; it is taken
 * before the notify queue's and the inode table's locks, never after.
 */
#ifndef ZKFS_FS_ONESHOT_H
#define ZKFS_FS_ONESHOT_H

#include <stdbool.h>

#include "records.h"
#include "zkc.h"

/* Most paths the table holds (each: its path, ~100 bytes, and for a
 * directory its child names). */
#define ONESHOT_MAX_PATHS 65536

/* True once the mount runs on one-shot watches.  Any thread. */
bool oneshot_active(void);

/* Switches the mount to one-shot mode on session s (the mount's session;
 * the caller found that the server lacks addWatch).  Watches are armed as
 * the mount sees nodes.  Any thread but the loop's.  Returns 0. */
int oneshot_start(zkc_session *s);

/* The mount's session expired and s replaces it: every watch of the table
 * is armed again on s, compared with what was known (so changes made while
 * no session watched become events).  Renewal thread.  Returns 0. */
int oneshot_session(zkc_session *s);

/* The mount hands `path` to the kernel (dir: as a directory): make sure
 * its watches are armed.  st (may be NULL) is the stat the kernel gets; a
 * first arming is compared with it, so a change made since is reported.
 * With wait, when this call had to arm and the session is connected, it
 * waits (up to ONESHOT_ARM_WAIT_MS) for the server's answer: a change
 * after the caller's reply is then always reported (without, a change in
 * the short time before the first answer may go unreported when st was
 * NULL).  A no-op outside one-shot mode.  FUSE worker threads only (never
 * the loop thread). */
void oneshot_note(const char *path, bool dir, const struct zk_stat *st, bool wait);

/* The session s (re)connected: sends the arms that could not be sent
 * before (connection lost in flight, request cap reached).  Loop thread
 * (the session's state callback). */
void oneshot_connected(zkc_session *s);

/* True when a change of this mount of kind `type` (zk_event_type) at
 * `path` will come back as an event (the watch that reports it is armed),
 * so that notify_expect may wait for its echo. */
bool oneshot_echoes(const char *path, int type);

#endif
