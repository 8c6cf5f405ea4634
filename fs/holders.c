/*
 * holders.c — one ZooKeeper session per Unix session leader (see holders.h).
 *
 * Life of a holder:
 *   (none) --first ephemeral by a process of session SID--> OPEN
 *          (zkc_b_open + pidfd_open(SID), added to the poll set; where
 *          pidfd_open is missing (kernels before 5.3, valgrind) the leader
 *          is looked at in /proc every POLL_MS instead)
 *   OPEN --pidfd readable, or the leader gone from /proc (leader
 *          exited)--> CLOSING (removed from table)
 *        --last reference dropped--> zkc_b_close --> (none)
 * References keep a session alive while a FUSE handler is using it.
 */
#include "holders.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "procs.h"
#include "zkfs.h"

#define POLL_MS 100

struct holder {
	pid_t sid;
	int pidfd;	     /* -1: no pidfd_open here, leader polled */
	uint64_t started;    /* polled leader's start time (procs_start_time) */
	zkc_session *s;
	int refs;   /* guarded by mu: table reference + users */
	bool dead;  /* leader gone; removed from the table */
	struct holder *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER; /* serialises opens */
static struct holder *holders; /* guarded by mu */
static int wake_fd = -1;
static pthread_t thr;
static volatile bool stopping;
static bool started;

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Drops one reference; closes the session at zero.  Called without mu. */
static void unref(struct holder *h)
{
	bool last;

	pthread_mutex_lock(&mu);
	last = --h->refs == 0;
	pthread_mutex_unlock(&mu);
	if (last) {
		zkfs_log("holder session 0x%llx of Unix session %d closed",
			 (unsigned long long)zkc_session_id(h->s, NULL), (int)h->sid);
		zkc_b_close(h->s);
		if (h->pidfd >= 0)
			close(h->pidfd);
		free(h);
	}
}

static void *watch_main(void *arg)
{
	while (!stopping) {
		struct pollfd fds[1024];
		struct holder *hs[1024];
		int n = 0;
		bool polled = false;

		fds[n].fd = wake_fd;
		fds[n].events = POLLIN;
		hs[n++] = NULL;
		pthread_mutex_lock(&mu);
		for (struct holder *h = holders; h && n < 1024; h = h->next) {
			/* a negative fd is skipped by poll(2): polled leaders */
			fds[n].fd = h->pidfd;
			fds[n].events = POLLIN;
			fds[n].revents = 0;
			polled |= h->pidfd < 0;
			hs[n++] = h;
		}
		pthread_mutex_unlock(&mu);
		if (poll(fds, (nfds_t)n, polled ? POLL_MS : 1000) < 0 && errno != EINTR)
			break;
		if (fds[0].revents) {
			uint64_t v;
			(void)!read(wake_fd, &v, sizeof(v));
		}
		for (int i = 1; i < n; i++) {
			struct holder *h = hs[i];
			bool gone = h->pidfd >= 0 ? fds[i].revents != 0
						  : procs_start_time(h->sid) != h->started;
			if (!gone)
				continue;
			/* Leader exited: take it out of the table, drop the table's ref. */
			pthread_mutex_lock(&mu);
			for (struct holder **pp = &holders; *pp; pp = &(*pp)->next)
				if (*pp == h) {
					*pp = h->next;
					h->dead = true;
					break;
				}
			pthread_mutex_unlock(&mu);
			unref(h);
		}
	}
	return NULL;
}

int holders_start(void)
{
	int rc;

	wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wake_fd < 0)
		return -errno;
	rc = pthread_create(&thr, NULL, watch_main, NULL);
	if (rc)
		return -rc;
	started = true;
	return 0;
}

void holders_stop(void)
{
	struct holder *list;
	uint64_t one = 1;

	if (!started)
		return;
	stopping = true;
	(void)!write(wake_fd, &one, sizeof(one));
	pthread_join(thr, NULL);
	pthread_mutex_lock(&mu);
	list = holders;
	holders = NULL;
	pthread_mutex_unlock(&mu);
	while (list) {
		struct holder *n = list->next;
		unref(list);
		list = n;
	}
	started = false;
}

/* The live holder of sid.  A holder whose ZooKeeper session has ended
 * (expired after a long disconnection) is dropped from the table here, so
 * the next ephemeral of that Unix session gets a fresh session.  Called
 * with mu held; *stale gets the dropped holder (its table reference is
 * the caller's to release, outside mu). */
static struct holder *find(pid_t sid, struct holder **stale)
{
	for (struct holder **pp = &holders; *pp; pp = &(*pp)->next) {
		struct holder *h = *pp;
		if (h->sid != sid || h->dead)
			continue;
		int st = zkc_session_state(h->s);
		if (st == ZKC_STATE_EXPIRED || st == ZKC_STATE_AUTH_FAILED || st == ZKC_STATE_CLOSED) {
			*pp = h->next;
			h->dead = true;
			*stale = h;
			return NULL;
		}
		return h;
	}
	return NULL;
}

/* Unix sessions told of nothing yet: their holder expired while the
 * mount's own session was not connected (loop thread only). */
static pid_t unsignalled[64];
static int n_unsignalled;

static void tell(pid_t sid)
{
	int n = procs_signal_session(sid, zkfs_cfg.expire_signal);
	zkfs_log("sent SIG%s to the %d process(es) of Unix session %d",
		 sigabbrev_np(zkfs_cfg.expire_signal), n, (int)sid);
}

/* State changes of a holder session (loop thread).  Expiry means the
 * server has deleted the Unix session's ephemerals: its processes may
 * be holding a lock or a membership they no longer have.  They are told
 * once the mount can serve them again (a handler that takes its lock
 * anew must not meet a mount still renewing its own session). */
static void on_holder_state(zkc_session *s, int state, void *arg)
{
	pid_t sid = (pid_t)(intptr_t)arg;

	if (state != ZKC_STATE_EXPIRED)
		return;
	zkfs_log("holder session 0x%llx of Unix session %d expired: its ephemerals are gone",
		 (unsigned long long)zkc_session_id(s, NULL), (int)sid);
	if (!zkfs_cfg.expire_signal)
		return;
	/* Not while the mount's own session is cut off with its fate
	 * unknown: an expired one is being renewed, and operations wait for
	 * the renewal (zkfs_session_get). */
	zkc_session *m = zkfs_session_get();
	int st = zkc_session_state(m);
	bool ready = st == ZKC_STATE_CONNECTED || st == ZKC_STATE_CONNECTED_RO || st == ZKC_STATE_EXPIRED;
	zkfs_session_put();
	if (ready)
		tell(sid);
	else if (n_unsignalled < (int)(sizeof(unsignalled) / sizeof(*unsignalled)))
		unsignalled[n_unsignalled++] = sid;
	else
		tell(sid);
}

void holders_mount_settled(void)
{
	for (int i = 0; i < n_unsignalled; i++)
		tell(unsignalled[i]);
	n_unsignalled = 0;
}

int holders_get(pid_t pid, zkc_session **out, void **ref)
{
	pid_t sid = getsid(pid);
	struct holder *h, *stale = NULL;
	int pfd, rc;
	uint64_t started_at = 0;
	uint64_t one = 1;

	if (zkfs_cfg.eph_owner_mount || sid < 0 || sid == getsid(0) || !started) {
		*out = NULL; /* the mount's session */
		*ref = NULL;
		return 0;
	}
	pthread_mutex_lock(&mu);
	h = find(sid, &stale);
	if (h)
		h->refs++;
	pthread_mutex_unlock(&mu);
	if (stale) {
		zkfs_log("holder session of Unix session %d ended; opening a new one", (int)sid);
		unref(stale);
		stale = NULL;
	}
	if (h) {
		*out = h->s;
		*ref = h;
		return 0;
	}
	pthread_mutex_lock(&open_mu);
	pthread_mutex_lock(&mu);
	h = find(sid, &stale); /* someone may have opened it meanwhile */
	if (h)
		h->refs++;
	pthread_mutex_unlock(&mu);
	if (stale)
		unref(stale);
	if (h) {
		pthread_mutex_unlock(&open_mu);
		*out = h->s;
		*ref = h;
		return 0;
	}
	pfd = pidfd_open_(sid);
	if (pfd < 0 && errno != ESRCH) {
		static bool told; /* under open_mu */
		if (!told)
			zkfs_log("pidfd_open: %s: watching session leaders through /proc every %d ms",
				 strerror(errno), POLL_MS);
		told = true;
		started_at = procs_start_time(sid);
	}
	if (pfd < 0 && !started_at) {
		/* Leader already gone: the mount's own session owns it. */
		pthread_mutex_unlock(&open_mu);
		*out = NULL;
		*ref = NULL;
		return 0;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		close(pfd);
		pthread_mutex_unlock(&open_mu);
		return -ENOMEM;
	}
	rc = zkfs_open_session(zkfs_cfg.op_wait_ms, on_holder_state, (void *)(intptr_t)sid, &h->s);
	if (rc) {
		close(pfd);
		free(h);
		pthread_mutex_unlock(&open_mu);
		return zkfs_errno(rc);
	}
	h->sid = sid;
	h->pidfd = pfd;
	h->started = started_at;
	h->refs = 2; /* table + caller */
	pthread_mutex_lock(&mu);
	h->next = holders;
	holders = h;
	pthread_mutex_unlock(&mu);
	pthread_mutex_unlock(&open_mu);
	(void)!write(wake_fd, &one, sizeof(one));
	zkfs_log("holder session 0x%llx opened for Unix session %d",
		 (unsigned long long)zkc_session_id(h->s, NULL), (int)sid);
	*out = h->s;
	*ref = h;
	return 0;
}

void holders_put(void *ref)
{
	if (ref)
		unref(ref);
}

int holders_count(void)
{
	int n = 0;

	pthread_mutex_lock(&mu);
	for (struct holder *h = holders; h; h = h->next)
		n++;
	pthread_mutex_unlock(&mu);
	return n;
}
