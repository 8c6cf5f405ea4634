/*
 * procs.h — finding and signalling the processes behind a FUSE request,
 * through /proc: the processes of a Unix session (expire_signal for
 * ephemerals, holders.c) and the command a flock(1) runs (expire_signal
 * for locks, locks.c).
 */
#ifndef ZKFS_FS_PROCS_H
#define ZKFS_FS_PROCS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Sends sig to every process of Unix session sid but the daemon;
 * returns how many were sent it. */
int procs_signal_session(pid_t sid, int sig);

/* Sends sig to every descendant of pid (its children, theirs, ...; not
 * pid itself), all of them found before any is signalled, so that one
 * exiting cannot hide its children; returns how many were sent it. */
int procs_signal_descendants(pid_t pid, int sig);

/* pid's start time (clock ticks after boot, /proc/PID/stat), which tells
 * it apart from a later process given the same pid; 0 when there is no
 * such process or it has exited (a zombie). */
uint64_t procs_start_time(pid_t pid);

/* Whether pid's command name (/proc/PID/comm) is `name`. */
bool procs_comm_is(pid_t pid, const char *name);

#endif
