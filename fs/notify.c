/*
 * notify.c — watch events -> kernel invalidation + inotify replay (see
 * notify.h for the why).
 *
 * Replay state machine of one event (all on the replay thread):
 *
 *   IDLE --event popped--> decide (expectation? parent known? stat now)
 *        --set ctx--> VFS call on the mount (handlers read ctx)
 *        --clear ctx--> invalidate kernel entries/attrs --> IDLE
 *
 * The context is written under ctx_mu before the VFS call and read under it
 * by handlers; this thread never holds a lock across the VFS call.
 */
#include "notify.h"

#define FUSE_USE_VERSION 314
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "inode.h"
#include "locks.h"
#include "map.h"
#include "oneshot.h"
#include "zkfs.h"

/* How long a remote create of an empty node waits for its data. */
#define CREATE_SETTLE_US 30000

/* Queued pseudo-event: resynchronise after a reconnect. */
#define EV_RESYNC 1000

struct event {
	int type;
	int64_t since; /* EV_RESYNC: zxid seen before the disconnection */
	char *path;
	struct event *next;
};

struct expect {
	char *path;
	int type;
	int count;
	int64_t at_ms; /* monotonic time of the last notify_expect */
	struct expect *next;
};

static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cv = PTHREAD_COND_INITIALIZER;
/* Guarded by q_mu: */
static struct event *q_head, *q_tail;
static bool q_stop;
static struct expect *expects;

static pthread_t thr;
static bool started;
/* The root watch is installed on the current session. */
static volatile bool watching;
static volatile pid_t replay_tid;

static pthread_mutex_t ctx_mu = PTHREAD_MUTEX_INITIALIZER;
static struct replay_info ctx; /* guarded by ctx_mu */

static void push(int type, const char *path, int64_t since)
{
	struct event *e = calloc(1, sizeof(*e));

	if (!e)
		return;
	e->type = type;
	e->since = since;
	e->path = strdup(path);
	if (!e->path) {
		free(e);
		return;
	}
	pthread_mutex_lock(&q_mu);
	if (q_tail)
		q_tail->next = e;
	else
		q_head = e;
	q_tail = e;
	pthread_cond_signal(&q_cv);
	pthread_mutex_unlock(&q_mu);
}

void notify_push(int type, const char *path)
{
	push(type, path, 0);
}

void notify_resync(int64_t since)
{
	/* One-shot watches need no comparison of our own: libzkc re-registers
	 * them after a reconnect and the server fires those that missed a
	 * change; after an expiry oneshot_session re-arms them against what
	 * was known.  A resync as well would report every change twice. */
	if (oneshot_active())
		return;
	push(EV_RESYNC, "/", since);
}

static void on_watch(zkc_session *s, const struct zkc_event *ev, void *arg)
{
	if (ev->type == ZK_EVENT_NONE || !ev->path)
		return;
	if (ev->type == ZK_EVENT_CREATED || ev->type == ZK_EVENT_DELETED ||
	    ev->type == ZK_EVENT_DATA_CHANGED) {
		/* At once, not on the replay thread: a read after the event
		 * must not be served from the cache however long the queue. */
		inode_cache_drop(ev->path);
		notify_push(ev->type, ev->path);
	}
}

int notify_watch_session(zkc_session *s)
{
	int rc;

	/* The server said no once: asking again would only cost another
	 * connection (a 3.5 server closes it after answering). */
	if (oneshot_active())
		return oneshot_session(s);
	rc = zkc_b_add_watch(s, "/", ZK_ADDWATCH_PERSISTENT_RECURSIVE, on_watch, NULL);
	watching = rc == 0;
	if (rc == ZE_UNIMPLEMENTED) {
		oneshot_start(s);
		return -ENOTSUP;
	}
	return rc ? zkfs_errno(rc) : 0;
}

bool notify_cacheable(const char *path)
{
	bool ok = started && watching;

	pthread_mutex_lock(&q_mu);
	for (struct expect *x = expects; ok && x; x = x->next)
		if (!strcmp(x->path, path))
			ok = false;
	pthread_mutex_unlock(&q_mu);
	return ok;
}

bool notify_is_replay(pid_t pid)
{
	return started && pid == replay_tid;
}

void notify_replay_info(struct replay_info *out)
{
	pthread_mutex_lock(&ctx_mu);
	*out = ctx;
	out->path = ctx.path ? strdup(ctx.path) : NULL;
	if (!out->path)
		out->kind = REPLAY_NONE;
	pthread_mutex_unlock(&ctx_mu);
}

void replay_info_free(struct replay_info *ri)
{
	free(ri->path);
	ri->path = NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* In one-shot mode an echo can fail to come although the watch was armed:
 * a create and a delete of one name between a child watch firing and its
 * re-arming cancel out in the diff (`write tmp; mv tmp conf`).  Such an
 * expectation is dropped after a session timeout (echoes are not delayed
 * longer while the session lives) instead of swallowing, for ever, the
 * next change of that name made elsewhere.  Called with q_mu. */
static bool expect_stale(const struct expect *x)
{
	return oneshot_active() && now_ms() - x->at_ms > zkfs_cfg.timeout_ms;
}

void notify_expect(const char *path, int type)
{
	struct expect *x;

	inode_cache_drop(path);
	/* A one-shot watch that does not cover the change sends no echo,
	 * and an expectation left waiting would swallow a later event. */
	if (oneshot_active() && !oneshot_echoes(path, type))
		return;
	pthread_mutex_lock(&q_mu);
	for (x = expects; x; x = x->next)
		if (x->type == type && !strcmp(x->path, path))
			break;
	if (!x) {
		x = calloc(1, sizeof(*x));
		if (x)
			x->path = strdup(path);
		if (x && !x->path) {
			free(x);
			x = NULL;
		}
		if (x) {
			x->type = type;
			x->next = expects;
			expects = x;
		}
	}
	if (x) {
		if (expect_stale(x))
			x->count = 0;
		x->count++;
		x->at_ms = now_ms();
	}
	pthread_mutex_unlock(&q_mu);
}

/* Consumes one expectation; true when there was one.  Called with q_mu. */
static bool take_expect(const char *path, int type)
{
	for (struct expect **pp = &expects; *pp; pp = &(*pp)->next) {
		struct expect *x = *pp;
		if (x->type == type && !strcmp(x->path, path)) {
			bool stale = expect_stale(x);
			if (stale || --x->count == 0) {
				*pp = x->next;
				free(x->path);
				free(x);
			}
			return !stale;
		}
	}
	return false;
}

void notify_unexpect(const char *path, int type)
{
	pthread_mutex_lock(&q_mu);
	take_expect(path, type);
	pthread_mutex_unlock(&q_mu);
}

/* Permission bits of the node last looked at by node_stat (this thread
 * only). */
static mode_t cur_perm;

/* Stat and ACL of a node (one getACL round trip); ZooKeeper code. */
static int node_stat(const char *path, struct zk_stat *st)
{
	struct zk_acl_vec acl = {0};
	zkc_session *s = zkfs_session_get();
	int rc = zkc_b_get_acl(s, path, &acl, st);

	zkfs_session_put();
	if (rc == 0) {
		bool dir = map_is_dir(st, inode_created_type(st->czxid));
		cur_perm = map_acl_mode(&acl, (const char *const *)zkfs_cfg.own_ids,
					(size_t)zkfs_cfg.n_own, dir);
		zk_acl_vec_free(&acl);
	}
	return rc;
}

static void set_ctx(int kind, const char *path, bool dir, const struct zk_stat *st)
{
	pthread_mutex_lock(&ctx_mu);
	ctx.perm = st ? cur_perm : (dir ? 0755 : 0644);
	if (st && !dir)
		ctx.perm &= ~(mode_t)0111;
	free(ctx.path);
	ctx.kind = kind;
	ctx.path = path ? strdup(path) : NULL;
	ctx.dir = dir;
	ctx.have_stat = st != NULL;
	if (st)
		ctx.st = *st;
	else
		memset(&ctx.st, 0, sizeof(ctx.st));
	pthread_mutex_unlock(&ctx_mu);
}

/* Full path of a znode path on the mount, malloc'd. */
static char *mnt_path(const char *zpath)
{
	size_t ml = strlen(zkfs_cfg.mountpoint), zl = strlen(zpath);
	char *p = malloc(ml + zl + 1);

	if (p) {
		memcpy(p, zkfs_cfg.mountpoint, ml);
		memcpy(p + ml, zpath, zl + 1);
	}
	return p;
}

static void inval_entry_of(const char *path)
{
	char *parent = map_dirname(path);
	uint64_t pid = parent ? inode_find(parent, NULL) : 0;
	const char *name = map_basename(path);

	if (pid)
		fuse_lowlevel_notify_inval_entry(zkfs_fuse, pid, name, strlen(name));
	free(parent);
}

static void inval_inode_of(const char *path)
{
	uint64_t id = inode_find(path, NULL);

	if (id)
		fuse_lowlevel_notify_inval_inode(zkfs_fuse, id, 0, 0);
}

static void replay_create(const char *path, bool dir, const struct zk_stat *st)
{
	char *mp = mnt_path(path);

	if (!mp)
		return;
	set_ctx(REPLAY_CREATE, path, dir, st);
	if (dir)
		(void)mkdir(mp, 0755);
	else
		(void)mknod(mp, S_IFREG | 0644, 0);
	set_ctx(REPLAY_NONE, NULL, false, NULL);
	free(mp);
}

static void replay_delete(const char *path, bool dir, const struct zk_stat *st)
{
	char *mp = mnt_path(path);

	if (!mp)
		return;
	set_ctx(REPLAY_DELETE, path, dir, st);
	if (dir ? rmdir(mp) : unlink(mp)) {
		/* The kernel knew the other type better. */
		if (errno == EISDIR || errno == ENOTDIR || errno == EPERM) {
			set_ctx(REPLAY_DELETE, path, !dir, st);
			(void)(dir ? unlink(mp) : rmdir(mp));
		}
	}
	set_ctx(REPLAY_NONE, NULL, false, NULL);
	inode_detach(path);
	free(mp);
}

static void replay_data(const char *path, const char *file_path, const struct zk_stat *st)
{
	char *mp = mnt_path(file_path);
	int fd;

	if (!mp)
		return;
	set_ctx(REPLAY_DATA, file_path, false, st);
	fd = open(mp, O_WRONLY | O_TRUNC | O_NOFOLLOW);
	if (fd >= 0)
		close(fd);
	set_ctx(REPLAY_NONE, NULL, false, NULL);
	free(mp);
}

/* The kernel must drop a node whose type changed: replay its deletion in
 * the old type and its creation in the new one. */
static void type_change(const char *path, bool old_dir, const struct zk_stat *st, bool new_dir)
{
	replay_delete(path, old_dir, st);
	inval_entry_of(path);
	replay_create(path, new_dir, st);
}

/* A node's child count changed: if the kernel knows the node as a file
 * that is now a dir (or the reverse), replace it. */
static void check_parent_type(const char *parent)
{
	struct inode_info pi;
	struct zk_stat st;
	int rc;

	if (!strcmp(parent, "/") || !inode_find(parent, &pi))
		return;
	rc = node_stat(parent, &st);
	if (!rc) {
		bool now_dir = map_is_dir(&st, inode_created_type(st.czxid));
		inode_set_stat(parent, &st);
		if (now_dir != pi.dir)
			type_change(parent, pi.dir, &st, now_dir);
	}
	inode_info_free(&pi);
}

/* True when a data change of `path` is among the next queued events,
 * waiting up to CREATE_SETTLE_US for it when the queue is short (a burst
 * of events is never slowed down). */
static bool data_follows(const char *path)
{
	struct timespec dl;
	bool found = false;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_nsec += CREATE_SETTLE_US * 1000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&q_mu);
	for (;;) {
		int n = 0;
		for (struct event *x = q_head; x && n < 64; x = x->next, n++)
			if (x->type == ZK_EVENT_DATA_CHANGED && !strcmp(x->path, path)) {
				found = true;
				break;
			}
		if (found || n >= 64 || q_stop)
			break;
		if (pthread_cond_timedwait(&q_cv, &q_mu, &dl) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&q_mu);
	return found;
}

/* Finds what changed after `since` among the nodes the kernel knows and
 * queues it as events (handled next, in order, by this thread). */
static void resync(int64_t since)
{
	struct inode_info *v = NULL;
	size_t n = 0;
	zkc_session *s;

	if (inode_snapshot(&v, &n))
		return;
	s = zkfs_session_get();
	for (size_t i = 0; i < n; i++) {
		struct zk_stat st;
		int rc = zkc_b_exists(s, v[i].path, NULL, NULL, &st);
		if (rc == ZE_NONODE && strcmp(v[i].path, "/")) {
			notify_push(ZK_EVENT_DELETED, v[i].path);
			continue;
		}
		if (rc)
			continue;
		if (st.mzxid > since && v[i].have_stat && st.mzxid != v[i].st.mzxid)
			notify_push(ZK_EVENT_DATA_CHANGED, v[i].path);
		if (v[i].dir && st.pzxid > since) {
			struct zk_str_vec kids = {0};
			if (zkc_b_get_children(s, v[i].path, NULL, NULL, &kids, NULL) == 0) {
				for (int32_t k = 0; k < kids.n; k++) {
					char *cp = map_join(v[i].path, kids.v[k]);
					struct zk_stat cst;
					if (cp && !inode_find(cp, NULL) &&
					    zkc_b_exists(s, cp, NULL, NULL, &cst) == 0 &&
					    cst.czxid > since)
						notify_push(ZK_EVENT_CREATED, cp);
					free(cp);
				}
				zk_str_vec_free(&kids);
			}
		}
	}
	zkfs_session_put();
	for (size_t i = 0; i < n; i++)
		inode_info_free(&v[i]);
	free(v);
}

static void handle(struct event *e)
{
	char *parent;
	bool self, parent_known;
	struct inode_info ni;
	uint64_t nid;
	struct zk_stat st;
	int rc;

	if (e->type == EV_RESYNC) {
		resync(e->since);
		return;
	}
	parent = map_dirname(e->path);
	if (!parent)
		return; /* the root itself */
	pthread_mutex_lock(&q_mu);
	self = take_expect(e->path, e->type);
	pthread_mutex_unlock(&q_mu);
	parent_known = inode_find(parent, NULL) != 0;
	nid = inode_find(e->path, &ni);
	if (zkfs_cfg.debug_events)
		zkfs_log("event %d %s self=%d parent_known=%d node=%llu dir=%d", e->type, e->path,
			 self, parent_known, (unsigned long long)nid, nid ? ni.dir : -1);

	/* The lock root is the mount's own bookkeeping and never listed:
	 * only keep the kernel's caches right for whoever looked inside by
	 * name.  Stats and replays there would cost every mount a round
	 * trip and a VFS call for each contender made or removed, on the
	 * path of every lock hand-over. */
	if (locks_internal(e->path)) {
		if (e->type == ZK_EVENT_DELETED && nid) {
			inode_detach(e->path);
			inval_entry_of(e->path);
		}
		if (e->type == ZK_EVENT_CREATED || e->type == ZK_EVENT_DELETED)
			inval_inode_of(parent);
		else if (nid)
			inval_inode_of(e->path);
		if (nid)
			inode_info_free(&ni);
		free(parent);
		return;
	}

	switch (e->type) {
	case ZK_EVENT_CREATED:
		if (!parent_known)
			break;
		if (!self) {
			rc = node_stat(e->path, &st);
			if (rc == 0) {
				bool dir = map_is_dir(&st, inode_created_type(st.czxid));
				/* Empty and persistent: a dir, or a file whose data is
				 * on its way (open(O_CREAT) here, setData at close).
				 * Looking a little ahead avoids showing a dir that
				 * turns into a file a moment later. */
				if (dir && st.num_children == 0 && data_follows(e->path))
					dir = false;
				replay_create(e->path, dir, &st);
			} else if (rc == ZE_NONODE) {
				/* Already gone again: still announce it; the deletion
				 * that follows in the queue removes it. */
				replay_create(e->path, false, NULL);
			}
			check_parent_type(parent);
		}
		inval_inode_of(parent);
		break;
	case ZK_EVENT_DELETED:
		if (!self && (parent_known || nid)) {
			replay_delete(e->path, nid ? ni.dir : false, nid && ni.have_stat ? &ni.st : NULL);
			check_parent_type(parent);
			inode_detach(e->path);
			inval_entry_of(e->path);
		}
		inval_inode_of(parent);
		break;
	case ZK_EVENT_DATA_CHANGED:
		if (!nid) {
			/* Never looked up here, so nothing to invalidate; but a
			 * watcher of the parent wants IN_MODIFY/IN_CLOSE_WRITE.
			 * The replayed open looks the file up by itself. */
			if (parent_known && !self && node_stat(e->path, &st) == 0 &&
			    !map_is_dir(&st, inode_created_type(st.czxid)))
				replay_data(e->path, e->path, &st);
			break;
		}
		rc = node_stat(e->path, &st);
		if (rc == 0) {
			bool now_dir = map_is_dir(&st, inode_created_type(st.czxid));
			if (now_dir != ni.dir) {
				type_change(e->path, ni.dir, &st, now_dir);
			} else if (!self) {
				if (!now_dir) {
					replay_data(e->path, e->path, &st);
				} else if (zkfs_cfg.zdata) {
					char *zd = map_join(e->path, zkfs_cfg.zdata);
					if (zd && inode_find(zd, NULL))
						replay_data(e->path, zd, &st);
					if (zd)
						inval_inode_of(zd);
					free(zd);
				}
			}
			inode_set_stat(e->path, &st);
		}
		fuse_lowlevel_notify_inval_inode(zkfs_fuse, nid, 0, 0);
		break;
	}
	if (nid)
		inode_info_free(&ni);
	free(parent);
}

static void *replay_main(void *arg)
{
	replay_tid = gettid();
	for (;;) {
		struct event *e;
		pthread_mutex_lock(&q_mu);
		while (!q_head && !q_stop)
			pthread_cond_wait(&q_cv, &q_mu);
		if (q_stop) {
			pthread_mutex_unlock(&q_mu);
			break;
		}
		e = q_head;
		q_head = e->next;
		if (!q_head)
			q_tail = NULL;
		pthread_mutex_unlock(&q_mu);
		handle(e);
		free(e->path);
		free(e);
	}
	return NULL;
}

int notify_start(void)
{
	int rc = pthread_create(&thr, NULL, replay_main, NULL);

	if (rc)
		return -rc;
	while (!replay_tid)
		usleep(1000);
	started = true;
	return 0;
}

void notify_stop(void)
{
	if (!started)
		return;
	pthread_mutex_lock(&q_mu);
	q_stop = true;
	pthread_cond_signal(&q_cv);
	pthread_mutex_unlock(&q_mu);
	/* Not joined: the thread may be inside a VFS call on the mount that
	 * has just gone away; it ends with the process. */
	started = false;
}
