/*
 * locks.c — flock/fcntl locks as ZooKeeper read/write locks (see locks.h).
 *
 * Life of one lock request (struct zlock, in the table from the start):
 *
 *   (new) --contend(): where() picks the place (the node's children, or
 *         the lock root's container for a file); create the
 *         ephemeral-sequential contender; watch it; check the other
 *         place once--> WAITING
 *   WAITING --no blocker before us (and the other place clear)--> HELD
 *           --blocker, LOCK_NB / F_SETLK--> (deleted, EWOULDBLOCK)
 *           --blocker--> exists-watch on that one node; sleep until the
 *             watch fires, a FUSE interrupt, or 2 s pass; look again
 *           --the watched node deleted, and it was our only blocker
 *             (acquire(), no second look)--> HELD
 *           --interrupt--> (deleted, EINTR)
 *           --own node gone (session expired)--> contend() again
 *   HELD --unlock / close / release--> (removed from the table, deleted)
 *        --own node deleted by someone else, or the session expired-->
 *          lost: logged, expire_signal sent to the holder (tell_holder)
 *
 * Blockers (contenders ordered by their 10-digit sequence suffix, the
 * caller's own other locks on the node left out): an exclusive contender
 * waits for the one just before it; a shared one for the last writer
 * before it.  That is the read/write lock of ZooKeeper's recipes and of
 * Curator's InterProcessReadWriteLock, and for writers Curator's
 * InterProcessMutex.
 *
 * The hand-over: a waiter whose watched node was its only blocker holds
 * as soon as the watch reports that node deleted, without listing the
 * contenders again.  Safe because a later contender always gets a larger
 * sequence number, so nothing can come to stand before us; and because
 * our own node is watched too, and ZooKeeper delivers a session's events
 * in order, its deletion (or the session's expiry) before the blocker's
 * is seen first (self_gone) and the shortcut is not taken.  It saves a
 * getChildren round trip and its thread hops on every hand-over.
 *
 * The two places (see locks.h) must never both grant: a file-scheme
 * contender that finds the node with children moves to the children; a
 * children-scheme contender that finds contenders in the file's container
 * holds only once that container has none.  Each checks once, right after
 * making its own node, so of two racing contenders the later one sees the
 * earlier (ZooKeeper orders the creates and each session reads its own
 * writes), and a file-scheme contender made later than a children one
 * moves over instead of waiting, so the container drains.
 *
 * mu guards the table and every zlock's flags; ZooKeeper calls are made
 * without it.
 */
#include "locks.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "map.h"
#include "procs.h"
#include "zkfs.h"

#define LOCK_ROOT_NAME ".zkfs-locks"
#define LOCK_ROOT "/" LOCK_ROOT_NAME
#define RECHECK_MS 2000

enum { LK_WAITING, LK_HELD };

struct zlock {
	uint64_t id; /* watch and interrupt token */
	fuse_ino_t ino;
	uint64_t owner; /* kernel lock owner */
	uint64_t fh;	/* open file it was taken through */
	bool posix;	/* fcntl lock, else flock */
	bool shared;
	pid_t pid;
	pid_t pgid;	/* pid's process group when it asked */
	int state;	/* guarded by mu */
	bool woken;	/* guarded by mu: a watch fired */
	bool cancelled; /* guarded by mu: interrupted */
	bool lost;	/* guarded by mu */
	char *watched;	/* guarded by mu: the blocker we sleep on, or NULL */
	bool pred_gone; /* guarded by mu: watched's deletion was reported */
	bool self_gone; /* guarded by mu: node's deletion or the expiry was */
	char *zpath;	/* the locked znode */
	char *dir;	/* lock directory (contenders' parent) */
	bool dirlock;	/* taken through a directory's data entry */
	bool children;	/* the file has children: contend there */
	bool xblock;	/* the other scheme had contenders when ours was made */
	bool filescheme;
	char *node;  /* our contender's full path, or NULL; guarded by mu */
	int64_t sid; /* session that made it */
	struct zlock *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct zlock *table;  /* guarded by mu */
static uint64_t next_id = 1; /* guarded by mu */
static char host[256] = "localhost";

void locks_init(void)
{
	if (gethostname(host, sizeof(host) - 1))
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_destroy(&cv);
	pthread_cond_init(&cv, &a);
	pthread_condattr_destroy(&a);
}

bool locks_hidden(const char *dir, const char *name)
{
	return !strcmp(dir, "/") && !strcmp(name, LOCK_ROOT_NAME);
}

bool locks_internal(const char *path)
{
	size_t n = strlen(LOCK_ROOT);
	return !strncmp(path, LOCK_ROOT, n) && (path[n] == '\0' || path[n] == '/');
}

int locks_count(void)
{
	int n = 0;

	pthread_mutex_lock(&mu);
	for (struct zlock *l = table; l; l = l->next)
		n++;
	pthread_mutex_unlock(&mu);
	return n;
}

/* ---------------------------------------------------------------- names */

/* A contender of a known recipe: "...<token><10 digits>". */
struct cont {
	const char *name;
	int64_t seq;
	bool reader;
};

static bool parse_cont(const char *name, struct cont *c)
{
	static const struct {
		const char *tok;
		bool reader;
	} toks[] = {{"__READ__", true},
		    {"__rlock__", true},
		    {"__WRIT__", false},
		    {"__lock__", false},
		    {"lock-", false}};
	size_t n = strlen(name);
	int64_t seq = 0;

	if (n < 10)
		return false;
	for (size_t i = n - 10; i < n; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		seq = seq * 10 + (name[i] - '0');
	}
	for (size_t t = 0; t < sizeof(toks) / sizeof(*toks); t++) {
		size_t tl = strlen(toks[t].tok);
		if (n - 10 >= tl && !memcmp(name + n - 10 - tl, toks[t].tok, tl)) {
			c->name = name;
			c->seq = seq;
			c->reader = toks[t].reader;
			return true;
		}
	}
	return false;
}

static int cont_cmp(const void *a, const void *b)
{
	const struct cont *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The prefix (parent + name stem) of a new contender; malloc'd. */
static char *contender_prefix(const char *dir, bool shared)
{
	uint8_t r[16];
	char uuid[40], *out = NULL;
	const char *stem;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (uint8_t)rand();
	r[6] = (uint8_t)((r[6] & 0x0f) | 0x40); /* version 4, as java.util.UUID */
	r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
	if (zkfs_cfg.lock_names == LOCKS_KAZOO) {
		for (int i = 0; i < 16; i++)
			sprintf(uuid + 2 * i, "%02x", r[i]);
		stem = shared ? "__rlock__" : "__lock__";
		if (asprintf(&out, "%s%s%s%s", dir, strcmp(dir, "/") ? "/" : "", uuid, stem) < 0)
			return NULL;
		return out;
	}
	snprintf(uuid, sizeof(uuid),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
		 r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
		 r[15]);
	stem = shared ? "__READ__" : zkfs_cfg.lock_names == LOCKS_CURATOR_RW ? "__WRIT__" : "lock-";
	if (asprintf(&out, "%s%s_c_%s-%s", dir, strcmp(dir, "/") ? "/" : "", uuid, stem) < 0)
		return NULL;
	return out;
}

/* The file scheme's container for zpath: LOCK_ROOT/<zpath without its
 * leading '/', '%' as %25 and '/' as %2F>; malloc'd. */
static char *file_lockdir(const char *zpath)
{
	size_t n = strlen(zpath);
	char *out = malloc(sizeof(LOCK_ROOT) + 1 + 3 * n + 1), *q;

	if (!out)
		return NULL;
	q = out + sprintf(out, "%s/", LOCK_ROOT);
	for (const char *c = zpath + 1; *c; c++) {
		if (*c == '/')
			q += sprintf(q, "%%2F");
		else if (*c == '%')
			q += sprintf(q, "%%25");
		else
			*q++ = *c;
	}
	if (q[-1] == '/')
		q += sprintf(q, "%%2F"); /* the mount root itself */
	*q = '\0';
	return out;
}

static char *join(const char *dir, const char *name)
{
	return map_join(dir, name);
}

/* ---------------------------------------------------------------- ZooKeeper */

static bool retryable(int zrc)
{
	return zrc == ZE_CONNECTIONLOSS || zrc == ZE_OPERATIONTIMEOUT || zrc == ZE_SESSIONEXPIRED ||
	       zrc == ZE_SESSIONMOVED;
}

/* Stat of zpath.  A ZooKeeper code. */
static int zstat(const char *zpath, struct zk_stat *st)
{
	zkc_session *s = zkfs_session_get();
	int rc = zkc_b_exists(s, zpath, NULL, NULL, st);

	zkfs_session_put();
	return rc;
}

/* Sorted contenders of dir; names point into *kids.  ZE_NONODE gives an
 * empty list.  A ZooKeeper code. */
static int contenders(const char *dir, struct zk_str_vec *kids, struct cont **out, int *n)
{
	zkc_session *s = zkfs_session_get();
	int rc = zkc_b_get_children(s, dir, NULL, NULL, kids, NULL);
	struct cont *c;
	int k = 0;

	zkfs_session_put();
	*out = NULL;
	*n = 0;
	if (rc == ZE_NONODE) {
		kids->n = 0;
		kids->v = NULL;
		return ZE_OK;
	}
	if (rc)
		return rc;
	c = calloc((size_t)kids->n + 1, sizeof(*c));
	if (!c) {
		zk_str_vec_free(kids);
		return ZE_SYSTEMERROR;
	}
	for (int32_t i = 0; i < kids->n; i++)
		if (parse_cont(kids->v[i], &c[k]))
			k++;
	qsort(c, (size_t)k, sizeof(*c), cont_cmp);
	*out = c;
	*n = k;
	return ZE_OK;
}

/* Makes the file scheme's container (and the lock root).  A ZooKeeper code. */
static int make_lockdir(const char *dir)
{
	zkc_session *s = zkfs_session_get();
	int rc = zkc_b_create(s, LOCK_ROOT, "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL);

	if (rc == ZE_OK || rc == ZE_NODEEXISTS) {
		rc = zkc_b_create(s, dir, "", 0, NULL, ZK_CONTAINER, 0, NULL, NULL);
		if (rc == ZE_UNIMPLEMENTED || rc == ZE_BADARGUMENTS)
			rc = zkc_b_create(s, dir, "", 0, NULL, ZK_PERSISTENT, 0, NULL, NULL);
	}
	zkfs_session_put();
	return rc == ZE_NODEEXISTS ? ZE_OK : rc;
}

/* Deletes path, riding out a lost connection within the op bound. */
static void zdelete(const char *path)
{
	struct timespec t0, t;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		zkc_session *s = zkfs_session_get();
		rc = zkc_b_delete(s, path, -1);
		zkfs_session_put();
		if (!retryable(rc))
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >
		    zkfs_cfg.op_wait_ms)
			break;
		usleep(50000);
	}
	if (rc && rc != ZE_NONODE && rc != ZE_NOTEMPTY)
		zkfs_log("lock: could not delete %s: %s", path, zkc_strerror(rc));
}

static struct zlock *find_id(uint64_t id)
{
	for (struct zlock *l = table; l; l = l->next)
		if (l->id == id)
			return l;
	return NULL;
}

/* Sends expire_signal to whoever holds l now that it is lost: the
 * process that took it while it lives (a program calling flock itself);
 * when that is flock(1) running a command, the command and everything it
 * started instead (they do the work under the lock; flock(1) then exits
 * with the command's status, as it always does); once the taker is gone,
 * its process group, for the shell pattern `exec 9<f; flock 9; job` whose
 * flock(1) exits at once and leaves the lock to the script and its job.
 * Never the daemon's own group.  Called with mu. */
static void tell_holder(const struct zlock *l)
{
	int sig = zkfs_cfg.expire_signal, n;

	if (!sig || l->pid <= 0)
		return;
	if (procs_comm_is(l->pid, "flock") && (n = procs_signal_descendants(l->pid, sig)) > 0) {
		zkfs_log("lock on %s: told the %d process(es) of the command flock(1) pid %d runs",
			 l->zpath, n, (int)l->pid);
		return;
	}
	if (kill(l->pid, sig) == 0)
		return;
	if (l->pgid > 1 && l->pgid != getpgrp() && kill(-l->pgid, sig) == 0)
		zkfs_log("lock on %s: pid %d is gone, told its process group %d", l->zpath,
			 (int)l->pid, (int)l->pgid);
}

/* Watch on a blocker (waiters) or on our own node (holders); loop thread. */
static void on_watch(zkc_session *s, const struct zkc_event *ev, void *arg)
{
	pthread_mutex_lock(&mu);
	struct zlock *l = find_id((uint64_t)(uintptr_t)arg);
	if (l && l->state == LK_WAITING) {
		if (ev->type == ZK_EVENT_DELETED && ev->path && l->node &&
		    !strcmp(ev->path, l->node))
			l->self_gone = true;
		else if (ev->type == ZK_EVENT_NONE && ev->state == ZKC_STATE_EXPIRED)
			l->self_gone = true;
		else if (ev->type == ZK_EVENT_DELETED && ev->path && l->watched &&
			 !strcmp(ev->path, l->watched))
			l->pred_gone = true;
		l->woken = true;
		pthread_cond_broadcast(&cv);
	} else if (l && l->state == LK_HELD && !l->lost && l->node &&
		   (ev->type == ZK_EVENT_DELETED ||
		    (ev->type == ZK_EVENT_NONE && ev->state == ZKC_STATE_EXPIRED))) {
		l->lost = true;
		zkfs_log("lock on %s held by pid %d lost: its node %s is gone", l->zpath,
			 (int)l->pid, l->node);
		tell_holder(l);
	}
	pthread_mutex_unlock(&mu);
}

/* Creates our contender in l->dir.  A ZooKeeper code. */
static int create_node(struct zlock *l)
{
	char data[320], *prefix = contender_prefix(l->dir, l->shared), *created = NULL;
	int len, rc;

	if (!prefix)
		return ZE_SYSTEMERROR;
	len = snprintf(data, sizeof(data), "zkfs %s pid %d %s", host, (int)l->pid,
		       prefix + strlen(l->dir));
	for (int tries = 0;; tries++) {
		zkc_session *s = zkfs_session_get();
		rc = zkc_b_create(s, prefix, data, len, NULL, ZK_EPHEMERAL_SEQUENTIAL, 0, &created,
				  NULL);
		if (rc == ZE_CONNECTIONLOSS) {
			/* Did it apply?  The data names our uuid, so a match is ours. */
			int a = zkc_b_create_applied(s, prefix, data, len, ZK_EPHEMERAL_SEQUENTIAL,
						     &created);
			if (a == ZKC_APPLIED)
				rc = ZE_OK;
		}
		int64_t sid = zkc_session_id(s, NULL);
		zkfs_session_put();
		if (rc == ZE_NONODE && l->filescheme && tries < 20) {
			rc = make_lockdir(l->dir); /* someone removed the empty container */
			if (rc == ZE_OK)
				continue;
		}
		if (retryable(rc) && tries < 20) {
			usleep(100000);
			continue;
		}
		if (rc == ZE_OK) {
			pthread_mutex_lock(&mu);
			l->node = created;
			l->sid = sid;
			pthread_mutex_unlock(&mu);
		}
		break;
	}
	free(prefix);
	return rc;
}

/* True when the contenders of a node with stat st, locked through a file
 * of the mount (not a directory's data entry), live in the lock root: it
 * has no children, so it must not gain any. */
static bool file_scheme(const struct zk_stat *st, bool dirlock)
{
	return !dirlock && st->num_children == 0;
}

/* Chooses the lock directory of l->zpath: the node's children for a lock
 * through a directory's data entry (or once the node was found with
 * children), else the file's container in the lock root, which
 * create_node makes when missing.  A ZooKeeper code. */
static int where(struct zlock *l)
{
	free(l->dir);
	l->filescheme = !l->dirlock && !l->children;
	l->dir = l->filescheme ? file_lockdir(l->zpath) : strdup(l->zpath);
	return l->dir ? ZE_OK : ZE_SYSTEMERROR;
}

/* True when contender `name` in l->dir is another lock of the same
 * caller that must not block l: the same owner's other lock on the node
 * (a conversion), or the same process's lock of the other kind (flock and
 * fcntl locks of one process never conflict on Linux).  Called with mu. */
static bool own(const struct zlock *l, const char *name)
{
	for (struct zlock *o = table; o; o = o->next) {
		if (o == l || o->ino != l->ino || !o->node || strcmp(map_basename(o->node), name))
			continue;
		return o->owner == l->owner || (o->posix != l->posix && o->pid == l->pid);
	}
	return false;
}

/* Where l stands among the contenders: 1 when it may hold, 0 when it
 * waits for *pred (malloc'd name; *sole: the only contender blocking it),
 * -1 when its node is gone, -2 on a ZooKeeper failure (*zrc). */
static int standing(struct zlock *l, char **pred, bool *sole, int *zrc)
{
	struct zk_str_vec kids = {0};
	struct cont *c;
	int n, rc = contenders(l->dir, &kids, &c, &n);
	const char *me;
	const char *last = NULL, *lastw = NULL;
	bool found = false;
	int nblock = 0;

	*pred = NULL;
	*sole = false;
	*zrc = rc;
	if (rc)
		return -2;
	pthread_mutex_lock(&mu);
	me = l->node ? map_basename(l->node) : "";
	for (int i = 0; i < n; i++) {
		if (!strcmp(c[i].name, me)) {
			found = true;
			break;
		}
		if (own(l, c[i].name))
			continue;
		last = c[i].name;
		if (!c[i].reader)
			lastw = c[i].name;
		if (!l->shared || !c[i].reader)
			nblock++;
	}
	pthread_mutex_unlock(&mu);
	if (found) {
		const char *p = l->shared ? lastw : last;
		if (p)
			*pred = strdup(p);
		*sole = nblock == 1;
		rc = p ? 0 : 1;
	} else {
		rc = -1;
	}
	free(c);
	zk_str_vec_free(&kids);
	return rc;
}

/* The other scheme must be empty before l holds.  1: clear; 0: wait for
 * *blocker (full path, malloc'd); 2: l must move to the children (file
 * scheme, the node has children now); -2 on a ZooKeeper failure (*zrc). */
static int other_scheme(struct zlock *l, char **blocker, int *zrc)
{
	*blocker = NULL;
	*zrc = ZE_OK;
	if (l->filescheme) {
		struct zk_stat st;
		int rc = zstat(l->zpath, &st);
		if (rc == ZE_NONODE)
			return 1;
		*zrc = rc;
		if (rc)
			return -2;
		return st.num_children > 0 ? 2 : 1;
	}
	char *fdir = file_lockdir(l->zpath);
	struct zk_str_vec kids = {0};
	struct cont *c;
	int n, rc;

	if (!fdir) {
		*zrc = ZE_SYSTEMERROR;
		return -2;
	}
	rc = contenders(fdir, &kids, &c, &n);
	if (!rc && n > 0)
		*blocker = join(fdir, c[0].name);
	if (!rc)
		free(c);
	zk_str_vec_free(&kids);
	free(fdir);
	*zrc = rc;
	if (rc)
		return -2;
	return n > 0 ? 0 : 1;
}

/* Sets an exists-watch on path for l.  True when it still exists. */
static bool watch(struct zlock *l, const char *path)
{
	zkc_session *s = zkfs_session_get();
	int rc = zkc_b_exists(s, path, on_watch, (void *)(uintptr_t)l->id, NULL);

	zkfs_session_put();
	return rc != ZE_NONODE;
}

static void on_interrupt(fuse_req_t req, void *arg)
{
	pthread_mutex_lock(&mu);
	struct zlock *l = find_id((uint64_t)(uintptr_t)arg);
	if (l) {
		l->cancelled = true;
		pthread_cond_broadcast(&cv);
	}
	pthread_mutex_unlock(&mu);
}

/* Sleeps until a watch fires for l, it is interrupted or RECHECK_MS
 * pass.  False when interrupted. */
static bool sleep_on(struct zlock *l, int ms)
{
	struct timespec dl;
	bool ok;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&mu);
	while (!l->woken && !l->cancelled)
		if (pthread_cond_timedwait(&cv, &mu, &dl))
			break;
	l->woken = false;
	ok = !l->cancelled;
	pthread_mutex_unlock(&mu);
	return ok;
}

static void unlink_entry(struct zlock *l)
{
	pthread_mutex_lock(&mu);
	for (struct zlock **pp = &table; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	pthread_mutex_unlock(&mu);
}

/* Removes l from the table, deletes its node (and an empty container of
 * the file scheme) and frees it. */
static void drop(struct zlock *l)
{
	char *node;

	unlink_entry(l);
	pthread_mutex_lock(&mu);
	node = l->node;
	l->node = NULL;
	pthread_mutex_unlock(&mu);
	/* A file's emptied container is left to the server, which removes
	 * empty containers itself: deleting it here would cost the next
	 * lock of the file two more round trips. */
	if (node)
		zdelete(node);
	free(node);
	free(l->watched);
	free(l->zpath);
	free(l->dir);
	free(l);
}

static bool interrupted(fuse_req_t req, struct zlock *l)
{
	bool c;

	pthread_mutex_lock(&mu);
	c = l->cancelled;
	pthread_mutex_unlock(&mu);
	return c || (req && fuse_req_interrupted(req));
}

/* Makes l's contender: in the place where() picks, watched (so a holder
 * learns of its loss and a waiter of its node's end), and checked once
 * against the other place (see the file comment): a file whose node has
 * children moves there; a directory contender notes in l->xblock that
 * contenders of the file scheme were there first.  A ZooKeeper code. */
static int contend(struct zlock *l)
{
	for (int moves = 0;; moves++) {
		char *blocker = NULL, *node;
		int o, zrc, rc = where(l);

		if (!rc)
			rc = create_node(l);
		if (rc == ZE_NOCHILDRENFOREPHEMERALS && !l->filescheme) {
			/* an ephemeral shown as a directory by its creator */
			free(l->dir);
			l->filescheme = true;
			l->dir = file_lockdir(l->zpath);
			rc = l->dir ? create_node(l) : ZE_SYSTEMERROR;
		}
		if (rc)
			return rc;
		(void)watch(l, l->node);
		o = other_scheme(l, &blocker, &zrc);
		free(blocker);
		l->xblock = o != 1;
		if (o != 2 || moves > 3)
			return ZE_OK;
		/* the file has children: contend among them instead */
		pthread_mutex_lock(&mu);
		node = l->node;
		l->node = NULL;
		pthread_mutex_unlock(&mu);
		zdelete(node);
		free(node);
		l->children = true;
	}
}

/* Takes l (already in the table).  0, -EWOULDBLOCK, -EINTR or another
 * negative errno; on failure l's node is deleted (l stays for the caller
 * to drop). */
static int acquire(fuse_req_t req, struct zlock *l, bool wait)
{
	int rc = contend(l);

	if (rc)
		return zkfs_errno(rc);
	for (;;) {
		char *pred = NULL;
		int st, zrc;
		bool sole = false;

		if (interrupted(req, l))
			return -EINTR;
		st = standing(l, &pred, &sole, &zrc);
		if (st == -2) {
			/* ZooKeeper trouble: ride it out while waiting is allowed */
			if (!wait)
				return zkfs_errno(zrc);
			if (!sleep_on(l, 200))
				return -EINTR;
			continue;
		}
		if (st == -1) {
			/* our node is gone (the session expired): make it again */
			pthread_mutex_lock(&mu);
			free(l->node);
			l->node = NULL;
			l->self_gone = false;
			pthread_mutex_unlock(&mu);
			rc = contend(l);
			if (rc)
				return zkfs_errno(rc);
			continue;
		}
		if (st == 1 && l->xblock) {
			/* first here, but the file scheme had contenders before us */
			char *blocker = NULL;
			int o = other_scheme(l, &blocker, &zrc);
			if (o == -2) {
				if (!wait)
					return zkfs_errno(zrc);
				if (!sleep_on(l, 200))
					return -EINTR;
				continue;
			}
			if (o == 1)
				l->xblock = false;
			else
				pred = blocker; /* full path */
			sole = false;
		}
		if (st == 1 && !l->xblock) {
			pthread_mutex_lock(&mu);
			l->state = LK_HELD;
			pthread_mutex_unlock(&mu);
			return 0;
		}
		if (!wait) {
			free(pred);
			return -EWOULDBLOCK;
		}
		{
			char *p = pred[0] == '/' ? pred : join(l->dir, pred);
			bool there = false, go = false;

			if (p != pred)
				free(pred);
			if (!p)
				continue;
			/* named before the watch is set, so no report is missed */
			pthread_mutex_lock(&mu);
			free(l->watched);
			l->watched = p;
			l->pred_gone = false;
			pthread_mutex_unlock(&mu);
			there = watch(l, p);
			if (there && !sleep_on(l, RECHECK_MS))
				return -EINTR;
			pthread_mutex_lock(&mu);
			go = there && sole && !l->xblock && l->pred_gone && !l->self_gone;
			if (go)
				l->state = LK_HELD;
			free(l->watched);
			l->watched = NULL;
			pthread_mutex_unlock(&mu);
			if (go)
				return 0;
		}
	}
}

static struct zlock *find_lock(fuse_ino_t ino, uint64_t owner, bool posix)
{
	for (struct zlock *l = table; l; l = l->next)
		if (l->ino == ino && l->owner == owner && l->posix == posix && l->state == LK_HELD)
			return l;
	return NULL;
}

/* Takes (or converts, or drops with type F_UNLCK) the lock of (ino,
 * owner, kind).  0 or a negative errno. */
static int set_lock(fuse_req_t req, fuse_ino_t ino, const char *zpath, bool dirlock, uint64_t owner,
		    uint64_t fh, bool posix, int type, bool wait)
{
	struct zlock *old, *l;
	int rc;

	pthread_mutex_lock(&mu);
	old = find_lock(ino, owner, posix);
	if (old && type != F_UNLCK && !old->lost && old->shared == (type == F_RDLCK)) {
		pthread_mutex_unlock(&mu);
		return 0; /* already held so */
	}
	if (old && (type == F_UNLCK || wait || old->lost)) {
		/* Blocking conversions let go first, as Linux's flock does:
		 * two readers upgrading at once must not deadlock. */
		old->state = LK_WAITING;
		pthread_mutex_unlock(&mu);
		drop(old);
		old = NULL;
		pthread_mutex_lock(&mu);
	}
	if (type == F_UNLCK) {
		pthread_mutex_unlock(&mu);
		return 0;
	}
	l = calloc(1, sizeof(*l));
	if (!l || !(l->zpath = strdup(zpath))) {
		pthread_mutex_unlock(&mu);
		free(l);
		return -ENOMEM;
	}
	l->id = next_id++;
	l->ino = ino;
	l->dirlock = dirlock;
	l->owner = owner;
	l->fh = fh;
	l->posix = posix;
	l->shared = type == F_RDLCK;
	l->pid = req ? fuse_req_ctx(req)->pid : 0;
	l->pgid = l->pid > 0 ? getpgid(l->pid) : -1;
	l->state = LK_WAITING;
	l->next = table;
	table = l;
	pthread_mutex_unlock(&mu);
	if (req && wait)
		fuse_req_interrupt_func(req, on_interrupt, (void *)(uintptr_t)l->id);
	rc = acquire(req, l, wait);
	if (req && wait)
		fuse_req_interrupt_func(req, NULL, NULL);
	if (rc) {
		drop(l);
		return rc;
	}
	if (old) {
		/* a non-blocking conversion: the old lock goes once the new one holds */
		pthread_mutex_lock(&mu);
		bool still = false;
		for (struct zlock *o = table; o; o = o->next)
			still |= o == old && o->state == LK_HELD; /* not being dropped by a close */
		if (still)
			old->state = LK_WAITING; /* not found as held any more */
		pthread_mutex_unlock(&mu);
		if (still)
			drop(old);
	}
	return 0;
}

void locks_flock(fuse_req_t req, fuse_ino_t ino, const char *zpath, bool dirlock,
		 struct fuse_file_info *fi, int op)
{
	int type = (op & LOCK_EX) ? F_WRLCK : (op & LOCK_SH) ? F_RDLCK : F_UNLCK;
	int rc = set_lock(req, ino, zpath, dirlock, fi->lock_owner, fi->fh, false, type,
			  !(op & LOCK_NB));

	fuse_reply_err(req, -rc);
}

void locks_setlk(fuse_req_t req, fuse_ino_t ino, const char *zpath, bool dirlock,
		 struct fuse_file_info *fi, const struct flock *lk, int sleep)
{
	int rc = set_lock(req, ino, zpath, dirlock, fi->lock_owner, fi->fh, true, lk->l_type,
			  sleep != 0);

	/* fcntl's non-blocking conflict is EAGAIN (== EWOULDBLOCK here) */
	fuse_reply_err(req, -rc);
}

void locks_getlk(fuse_req_t req, fuse_ino_t ino, const char *zpath, bool dirlock,
		 struct fuse_file_info *fi, const struct flock *lk)
{
	struct zlock probe = {0};
	struct zk_str_vec kids = {0};
	struct flock out = *lk;
	struct cont *c = NULL;
	int n = 0, rc;

	probe.ino = ino;
	probe.owner = fi->lock_owner;
	probe.posix = true;
	probe.pid = fuse_req_ctx(req)->pid;
	probe.zpath = (char *)zpath;
	{
		struct zk_stat st;
		rc = zstat(zpath, &st);
		if (rc) {
			fuse_reply_err(req, -zkfs_errno(rc));
			return;
		}
		probe.dir = file_scheme(&st, dirlock) ? file_lockdir(zpath) : strdup(zpath);
	}
	if (!probe.dir) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = contenders(probe.dir, &kids, &c, &n);
	if (rc) {
		free(probe.dir);
		fuse_reply_err(req, -zkfs_errno(rc));
		return;
	}
	out.l_type = F_UNLCK;
	pthread_mutex_lock(&mu);
	/* Holders: the first contender if it writes, else the readers before
	 * the first writer.  Report the first that conflicts. */
	for (int i = 0; i < n; i++) {
		if (i > 0 && (!c[i].reader || !c[0].reader))
			break;
		if (own(&probe, c[i].name))
			continue;
		if (c[i].reader && lk->l_type == F_RDLCK)
			continue;
		out.l_type = c[i].reader ? F_RDLCK : F_WRLCK;
		out.l_whence = SEEK_SET;
		out.l_start = 0;
		out.l_len = 0;
		out.l_pid = 0; /* another host's, or another client's */
		for (struct zlock *o = table; o; o = o->next)
			if (o->node && !strcmp(map_basename(o->node), c[i].name))
				out.l_pid = o->pid;
		break;
	}
	pthread_mutex_unlock(&mu);
	free(c);
	zk_str_vec_free(&kids);
	free(probe.dir);
	fuse_reply_lock(req, &out);
}

/* Drops every held lock that matches. */
static void drop_matching(fuse_ino_t ino, bool by_owner, uint64_t key)
{
	for (;;) {
		struct zlock *hit = NULL;
		pthread_mutex_lock(&mu);
		for (struct zlock *l = table; l && !hit; l = l->next)
			if (l->ino == ino && l->state == LK_HELD &&
			    (by_owner ? l->posix && l->owner == key : l->fh == key))
				hit = l;
		if (hit)
			hit->state = LK_WAITING;
		pthread_mutex_unlock(&mu);
		if (!hit)
			return;
		drop(hit);
	}
}

void locks_close_owner(fuse_ino_t ino, uint64_t owner)
{
	drop_matching(ino, true, owner);
}

void locks_release_fh(fuse_ino_t ino, uint64_t fh)
{
	drop_matching(ino, false, fh);
}

void locks_session_expired(void)
{
	pthread_mutex_lock(&mu);
	for (struct zlock *l = table; l; l = l->next) {
		if (l->state != LK_HELD || l->lost)
			continue;
		l->lost = true;
		zkfs_log("lock on %s held by pid %d lost: the mount's session expired", l->zpath,
			 (int)l->pid);
		tell_holder(l);
	}
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}
