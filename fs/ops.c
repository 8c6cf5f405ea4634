/*
 * ops.c — the FUSE low-level handlers of zkfs (zkfs_<op>), one ops table at
 * the bottom.  Each handler replies exactly once.  Lookup counts rise with
 * every entry reply (inode_ref) and fall in forget/forget_multi.
 *
 * Handlers first check whether the request comes from the replay thread
 * (notify.c); such requests are answered from the replay context without
 * touching ZooKeeper.  Handlers never send kernel notifications (that is
 * the replay thread's job: doing it here can deadlock the kernel).
 */
#define FUSE_USE_VERSION 314
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "holders.h"
#include "inode.h"
#include "locks.h"
#include "map.h"
#include "notify.h"
#include "oneshot.h"
#include "prefetch.h"
#include "ops.h"
#include "writes.h"
#include "zkfs.h"

/* Bit that tells the data entry's inode number from its directory's. */
#define ZDATA_INO_BIT (1ULL << 62)

/* An open directory: its children as of opendir and, once readdirplus
 * has fetched them, their stats. */
struct dirh {
	char *zpath;
	struct zk_str_vec names;
	struct pf_stat *stats; /* names.n of them, or NULL */
	bool *ok;              /* stats[i] is meaningful */
	bool fetched;          /* the stats were asked for (once per open) */
	uint64_t gen;          /* inode_cache_gen() before the names were listed */
};

/* ---------------------------------------------------------------- helpers */

static bool is_replay(fuse_req_t req)
{
	return notify_is_replay(fuse_req_ctx(req)->pid);
}

static bool is_zdata_name(const char *name)
{
	return zkfs_cfg.zdata && !strcmp(name, zkfs_cfg.zdata);
}

/* Table path of a node id -> znode path (the data entry maps to its
 * directory).  *zdata tells which.  Returns 0 or -ENOENT/-ENOMEM. */
static int node_zpath(fuse_ino_t ino, char **zpath, bool *zdata)
{
	char *p = inode_path(ino);

	*zdata = false;
	if (!p)
		return -ENOENT;
	if (strcmp(p, "/") && is_zdata_name(map_basename(p))) {
		char *d = map_dirname(p);
		free(p);
		if (!d)
			return -ENOMEM;
		p = d;
		*zdata = true;
	}
	*zpath = p;
	return 0;
}

/* Path of `name` inside directory `parent`, checked. */
static int child_path(fuse_ino_t parent, const char *name, char **out)
{
	char *pp;
	int rc = map_name_check(name);

	if (rc)
		return rc;
	pp = inode_path(parent);
	if (!pp)
		return -ENOENT;
	if (strcmp(pp, "/") && is_zdata_name(map_basename(pp))) {
		free(pp);
		return -ENOTDIR;
	}
	*out = map_join(pp, name);
	free(pp);
	return *out ? 0 : -ENOMEM;
}

/* True while the mount's session is connected.  When it is not, reads
 * and stats are answered from what the mount already knows instead of
 * waiting for the connection. */
static bool connected(void)
{
	zkc_session *s = zkfs_session_get();
	int st = zkc_session_state(s);

	zkfs_session_put();
	return st == ZKC_STATE_CONNECTED || st == ZKC_STATE_CONNECTED_RO;
}

static bool is_eph_dir(const char *dirpath)
{
	for (int i = 0; i < zkfs_cfg.n_eph; i++)
		if (!strcmp(zkfs_cfg.eph_dirs[i], dirpath))
			return true;
	return false;
}

int zkfs_errno(int zkerr)
{
	return map_zk_errno(zkerr);
}

/* Permission bits shown for a znode with ACL `acl` and stat `st`; *dir
 * (when not NULL) gets whether it shows as a directory. */
static mode_t acl_perm(const struct zk_acl_vec *acl, const struct zk_stat *st, bool *dir)
{
	bool d = map_is_dir(st, inode_created_type(st->czxid));
	mode_t perm = map_acl_mode(acl, (const char *const *)zkfs_cfg.own_ids, (size_t)zkfs_cfg.n_own, d);

	if (dir)
		*dir = d;
	return d ? perm : perm & ~(mode_t)0111;
}

/* Stat and permission bits of a znode in one round trip (getACL returns
 * the Stat too).  0 or negative errno. */
static int stat_node(const char *zpath, struct zk_stat *st, mode_t *perm)
{
	struct zk_acl_vec acl = {0};
	zkc_session *s = zkfs_session_get();
	int rc = zkc_b_get_acl(s, zpath, &acl, st);

	zkfs_session_put();
	if (rc)
		return zkfs_errno(rc);
	if (perm)
		*perm = acl_perm(&acl, st, NULL);
	zk_acl_vec_free(&acl);
	return 0;
}

static void ts_from_ms(struct timespec *ts, int64_t ms)
{
	ts->tv_sec = ms / 1000;
	ts->tv_nsec = (long)(ms % 1000) * 1000000L;
}

static void fill_attr(struct stat *a, fuse_ino_t id, const struct zk_stat *st, bool dir,
		      mode_t perm, bool zdata, int64_t pending)
{
	memset(a, 0, sizeof(*a));
	if (id == FUSE_ROOT_ID)
		a->st_ino = FUSE_ROOT_ID;
	else
		a->st_ino = st->czxid ? (ino_t)st->czxid : (ino_t)id;
	if (zdata) {
		a->st_ino |= ZDATA_INO_BIT;
		dir = false;
		perm &= ~(mode_t)0111;
	}
	a->st_mode = (dir ? S_IFDIR : S_IFREG) | perm;
	if (st->ephemeral_owner && !zdata)
		a->st_mode |= S_ISVTX;
	a->st_nlink = dir ? 2 : 1;
	a->st_uid = zkfs_cfg.uid;
	a->st_gid = zkfs_cfg.gid;
	a->st_size = pending >= 0 ? pending : st->data_length > 0 ? st->data_length : 0;
	a->st_blksize = 4096;
	a->st_blocks = (a->st_size + 511) / 512;
	ts_from_ms(&a->st_mtim, st->mtime);
	ts_from_ms(&a->st_atim, st->mtime);
	ts_from_ms(&a->st_ctim, st->ctime);
}

static void fill_entry(struct fuse_entry_param *e, fuse_ino_t id, const struct zk_stat *st,
		       bool dir, mode_t perm, bool zdata, bool volatile_name)
{
	memset(e, 0, sizeof(*e));
	e->ino = id;
	e->generation = 1;
	e->attr_timeout = zkfs_cfg.attr_timeout;
	e->entry_timeout = volatile_name ? 0 : zkfs_cfg.entry_timeout;
	fill_attr(&e->attr, id, st, dir, perm, zdata, -1);
}

/* Entry reply for a node at `path` with stat st; takes a lookup ref. */
static void reply_node(fuse_req_t req, const char *path, const struct zk_stat *st, bool dir,
		       mode_t perm, bool volatile_name)
{
	struct fuse_entry_param e;
	fuse_ino_t id;

	/* One-shot watches (no addWatch): armed before the kernel holds it. */
	if (!is_replay(req))
		oneshot_note(path, dir, st, true);
	id = inode_ref(path, st, dir);
	if (!id) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fill_entry(&e, id, st, dir, perm, false, volatile_name);
	inode_set_perm(id, (int)perm);
	if (fuse_reply_entry(req, &e))
		inode_forget(id, 1);
}

/* Perms when no ACL was read: what the mount's own creates get, since it
 * creates every node with the open ACL (world:anyone:cdrwa). */
static mode_t default_perm(bool dir)
{
	return dir ? 0777 : 0666;
}

/* ---------------------------------------------------------------- open writers */

/* Writable handles by (node id, opener).  Without atomic_o_trunc the kernel
 * sends open(O_TRUNC)'s truncation as a setattr without a file handle,
 * from the opening thread, right after the open: this list lets setattr
 * find the handle and truncate its buffer instead of the znode, so
 * `echo x > f` is one setData, not an empty one and then the data. */
struct writer {
	fuse_ino_t ino;
	pid_t pid;
	struct zfile *f;
	struct writer *next;
};
static pthread_mutex_t wr_mu = PTHREAD_MUTEX_INITIALIZER;
static struct writer *writers; /* guarded by wr_mu */

static void writer_add(fuse_ino_t ino, pid_t pid, struct zfile *f)
{
	struct writer *w = calloc(1, sizeof(*w));

	if (!w)
		return;
	w->ino = ino;
	w->pid = pid;
	w->f = f;
	pthread_mutex_lock(&wr_mu);
	w->next = writers;
	writers = w;
	pthread_mutex_unlock(&wr_mu);
}

static void writer_del(struct zfile *f)
{
	pthread_mutex_lock(&wr_mu);
	for (struct writer **pp = &writers; *pp; pp = &(*pp)->next)
		if ((*pp)->f == f) {
			struct writer *w = *pp;
			*pp = w->next;
			free(w);
			break;
		}
	pthread_mutex_unlock(&wr_mu);
}

/* True when some writable handle on ino is open. */
static bool writer_any(fuse_ino_t ino)
{
	bool any = false;

	pthread_mutex_lock(&wr_mu);
	for (struct writer *w = writers; w && !any; w = w->next)
		any = w->ino == ino;
	pthread_mutex_unlock(&wr_mu);
	return any;
}

/* Truncates the buffer of the caller's own writable handle on ino, if
 * there is one.  Returns 1 when done, 0 when there is none, or -errno. */
static int writer_truncate(fuse_ino_t ino, pid_t pid, off_t size)
{
	int rc = 0;

	pthread_mutex_lock(&wr_mu);
	for (struct writer *w = writers; w; w = w->next)
		if (w->ino == ino && w->pid == pid) {
			rc = zfile_truncate(w->f, size);
			if (!rc) {
				inode_set_pending(ino, (int64_t)w->f->len);
				rc = 1;
			}
			break;
		}
	pthread_mutex_unlock(&wr_mu);
	return rc;
}

/* ---------------------------------------------------------------- sequential names */

/* Last sequential name made by each Unix session in each directory, so a
 * shell can learn what `mkdir dir/job-%` created (xattr user.zk.last on
 * the directory).  A small list is enough: entries are per live session. */
struct seqmem {
	pid_t sid;
	char *dir;
	char *name;
	struct seqmem *next;
};
static pthread_mutex_t seq_mu = PTHREAD_MUTEX_INITIALIZER;
static struct seqmem *seqs; /* guarded by seq_mu */
static int nseqs;           /* guarded by seq_mu */

static void seq_remember(pid_t pid, const char *dir, const char *name)
{
	pid_t sid = getsid(pid);
	struct seqmem *m;

	pthread_mutex_lock(&seq_mu);
	for (m = seqs; m; m = m->next)
		if (m->sid == sid && !strcmp(m->dir, dir))
			break;
	if (!m) {
		m = calloc(1, sizeof(*m));
		if (m) {
			m->dir = strdup(dir);
			m->sid = sid;
			m->next = seqs;
			seqs = m;
			nseqs++;
		}
	}
	if (m) {
		free(m->name);
		m->name = strdup(name);
	}
	/* Bound the memory: drop the oldest half when it grows large. */
	if (nseqs > 4096) {
		struct seqmem *x = seqs;
		for (int i = 0; i < 2048 && x; i++)
			x = x->next;
		while (x && x->next) {
			struct seqmem *d = x->next;
			x->next = d->next;
			free(d->dir);
			free(d->name);
			free(d);
			nseqs--;
		}
	}
	pthread_mutex_unlock(&seq_mu);
}

static char *seq_recall(pid_t pid, const char *dir)
{
	pid_t sid = getsid(pid);
	char *r = NULL;

	pthread_mutex_lock(&seq_mu);
	for (struct seqmem *m = seqs; m; m = m->next)
		if (m->sid == sid && !strcmp(m->dir, dir)) {
			r = m->name ? strdup(m->name) : NULL;
			break;
		}
	pthread_mutex_unlock(&seq_mu);
	return r;
}

/* Entry reply for the node at path, stat'ed on the server now.  0 when
 * it replied; otherwise a negative errno and no reply (-ENOENT: no node). */
static int reply_from_server(fuse_req_t req, const char *path)
{
	struct zk_stat st;
	mode_t perm;
	int rc = stat_node(path, &st, &perm);

	if (!rc)
		reply_node(req, path, &st, map_is_dir(&st, inode_created_type(st.czxid)), perm, false);
	return rc;
}

/* ---------------------------------------------------------------- replay answers */

/* Answers a lookup/mknod/mkdir by the replay thread. */
static void replay_entry(fuse_req_t req, const char *path, bool lookup)
{
	struct replay_info ri;
	struct zk_stat st = {0};
	bool dir;

	notify_replay_info(&ri);
	if (ri.kind != REPLAY_NONE && !strcmp(ri.path, path)) {
		if (lookup && ri.kind == REPLAY_CREATE) {
			struct fuse_entry_param e = {0};
			replay_info_free(&ri);
			fuse_reply_entry(req, &e); /* not there yet; not cached */
			return;
		}
		if (ri.have_stat)
			st = ri.st;
		dir = ri.dir;
		replay_info_free(&ri);
		reply_node(req, path, &st, dir, ri.perm, ri.kind == REPLAY_DELETE);
		return;
	}
	replay_info_free(&ri);
	/* An intermediate directory: answer from the table if it knows it. */
	{
		struct inode_info ni;
		if (inode_find(path, &ni)) {
			reply_node(req, path, &ni.st, ni.dir,
				   ni.perm >= 0 ? (mode_t)ni.perm : default_perm(ni.dir), false);
			inode_info_free(&ni);
			return;
		}
	}
	/* One the kernel has forgotten since the event was queued (a big
	 * listing pushes dentries out): ask the server.  Never ENOENT on a
	 * guess: the VFS joins lookups of one name made at the same time,
	 * so a process stat'ing that directory now gets this very answer. */
	if (lookup) {
		int rc = reply_from_server(req, path);
		if (rc != -ENOENT) {
			if (rc)
				fuse_reply_err(req, -rc);
			return;
		}
	}
	fuse_reply_err(req, ENOENT);
}

/* ---------------------------------------------------------------- prefetched stats */

/* Stats of dir's children `names` in one pipelined round (prefetch.h),
 * turned into what entries need and stored in the lookup cache.  `gen` is
 * inode_cache_gen() from before the names were listed: the set claims
 * that other names are absent, so it must go stale with any change since
 * then.  *stats and *ok (malloc'd, n each) are the caller's.  Returns 0
 * or a negative errno. */
static int fetch_children(const char *dir, char *const *names, int32_t n, uint64_t gen,
			  struct pf_stat **stats, bool **ok)
{
	struct pf_node *nodes;
	bool complete = true;
	int rc;

	*stats = calloc(n > 0 ? (size_t)n : 1, sizeof(**stats));
	*ok = calloc(n > 0 ? (size_t)n : 1, sizeof(**ok));
	rc = *stats && *ok ? prefetch_fetch(dir, names, n, &nodes) : -ENOMEM;
	if (rc) {
		free(*stats);
		free(*ok);
		*stats = NULL;
		*ok = NULL;
		return rc;
	}
	for (int32_t i = 0; i < n; i++) {
		(*ok)[i] = nodes[i].err == 0 && !is_zdata_name(names[i]);
		/* A child gone since the listing is absent indeed (and its
		 * event moves the generation); any other failure leaves its
		 * existence unknown, and the set must not claim it absent. */
		if (nodes[i].err && nodes[i].err != ZE_NONODE)
			complete = false;
		if (!(*ok)[i])
			continue;
		(*stats)[i].st = nodes[i].st;
		(*stats)[i].perm = acl_perm(&nodes[i].acl, &nodes[i].st, &(*stats)[i].dir);
	}
	prefetch_free(nodes, n);
	if (complete)
		pf_cache_put(dir, names, *stats, *ok, n, gen);
	return 0;
}

/* Fetches the stats of every child of dir into the lookup cache. */
static void prefetch_dir(const char *dir)
{
	struct zk_str_vec names = {0};
	struct pf_stat *stats;
	zkc_session *s = zkfs_session_get();
	uint64_t gen = inode_cache_gen();
	bool *ok;
	int rc = zkc_b_get_children(s, dir, NULL, NULL, &names, NULL);

	zkfs_session_put();
	if (!rc && names.n <= PF_MAX_NAMES &&
	    !fetch_children(dir, names.v, names.n, gen, &stats, &ok)) {
		free(stats);
		free(ok);
	}
	zk_str_vec_free(&names);
}

/* Answers the lookup of `name` (at `path`) in directory `parent` from the
 * prefetched stats of the directory while the watch vouches for them; a
 * run of lookups there that had to ask ZooKeeper starts a prefetch.
 * Returns true when it replied. */
static bool lookup_prefetched(fuse_req_t req, fuse_ino_t parent, const char *path,
			      const char *name)
{
	struct pf_stat ps;
	uint64_t gen;
	char *dir;
	int found; /* as pf_cache_get */

	if (!connected() || !notify_cacheable(path))
		return false;
	dir = inode_path(parent);
	if (!dir)
		return false;
	gen = inode_cache_gen();
	found = pf_cache_get(dir, name, gen, &ps);
	if (found < 0 && pf_cache_miss(dir, gen)) {
		prefetch_dir(dir);
		pf_cache_done(dir);
		found = pf_cache_get(dir, name, inode_cache_gen(), &ps);
	}
	free(dir);
	if (found < 0)
		return false;
	if (found == 0) {
		struct fuse_entry_param e = {0};
		e.entry_timeout = zkfs_cfg.neg_timeout;
		fuse_reply_entry(req, &e);
		return true;
	}
	reply_node(req, path, &ps.st, ps.dir, ps.perm, false);
	return true;
}

/* ---------------------------------------------------------------- handlers */

static void zkfs_init(void *userdata, struct fuse_conn_info *conn)
{
	/* O_TRUNC must arrive as a setattr so the replayed truncation can be
	 * answered with the real size (see notify.c). */
	conn->want &= ~(unsigned)FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	/* Every listing carries the entries' attributes (zkfs_readdirplus):
	 * "auto" would switch to plain readdir after the first buffer while
	 * `ls -l` is still reading names, and then look each one up. */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
}

static void zkfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	char *path = NULL;
	struct zk_stat st;
	mode_t perm;
	int rc;

	if (is_zdata_name(name)) {
		char *pp = inode_path(parent);
		bool dir;
		if (!pp) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		rc = stat_node(pp, &st, &perm);
		dir = !rc && map_is_dir(&st, inode_created_type(st.czxid));
		if (!rc && dir) {
			struct fuse_entry_param e;
			char *zp = map_join(pp, name);
			fuse_ino_t id = zp ? inode_ref(zp, &st, false) : 0;
			free(zp);
			if (!id) {
				fuse_reply_err(req, ENOMEM);
			} else {
				fill_entry(&e, id, &st, false, perm, true, false);
				if (fuse_reply_entry(req, &e))
					inode_forget(id, 1);
			}
		} else {
			fuse_reply_err(req, rc ? -rc : ENOENT);
		}
		free(pp);
		return;
	}
	rc = child_path(parent, name, &path);
	if (rc) {
		fuse_reply_err(req, rc == -EINVAL ? ENOENT : -rc);
		return;
	}
	if (is_replay(req)) {
		replay_entry(req, path, true);
		free(path);
		return;
	}
	if (map_is_seq_name(name, NULL)) {
		/* A '%' name never names an existing node: it always creates. */
		struct fuse_entry_param e = {0};
		fuse_reply_entry(req, &e);
		free(path);
		return;
	}
	if (lookup_prefetched(req, parent, path, name)) {
		free(path);
		return;
	}
	rc = reply_from_server(req, path);
	if (rc == -ENOENT) {
		struct fuse_entry_param e = {0};
		e.entry_timeout = zkfs_cfg.neg_timeout;
		fuse_reply_entry(req, &e);
	} else if (rc) {
		fuse_reply_err(req, -rc);
	}
	free(path);
}

static void zkfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	inode_forget(ino, nlookup);
	fuse_reply_none(req);
}

static void zkfs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		inode_forget(forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* Attributes of a known node id, fresh from ZooKeeper (or from the replay
 * context for replay requests). */
static int node_attr(fuse_req_t req, fuse_ino_t ino, struct stat *a)
{
	struct inode_info ni;
	struct zk_stat st;
	char *zpath;
	bool zdata;
	mode_t perm;
	int rc = inode_get(ino, &ni);

	if (rc)
		return rc;
	if (is_replay(req)) {
		struct replay_info ri;
		mode_t rperm = ni.perm >= 0 ? (mode_t)ni.perm : default_perm(ni.dir);
		notify_replay_info(&ri);
		if (ri.kind != REPLAY_NONE && !strcmp(ri.path, ni.path) && ri.have_stat) {
			ni.st = ri.st;
			rperm = ri.perm;
		}
		replay_info_free(&ri);
		zdata = ino != FUSE_ROOT_ID && is_zdata_name(map_basename(ni.path));
		fill_attr(a, ino, &ni.st, ni.dir, rperm, zdata, ni.pending_size);
		inode_info_free(&ni);
		return 0;
	}
	rc = node_zpath(ino, &zpath, &zdata);
	if (rc) {
		inode_info_free(&ni);
		return rc;
	}
	rc = ni.have_stat && !connected() ? -EIO : stat_node(zpath, &st, &perm);
	if ((rc == -EIO || rc == -ETIMEDOUT) && ni.have_stat) {
		/* Disconnected: serve what we know. */
		st = ni.st;
		perm = ni.perm >= 0 ? (mode_t)ni.perm : default_perm(ni.dir);
		rc = 0;
	}
	if (!rc) {
		if (!ni.dir && !zdata)
			perm &= ~(mode_t)0111;
		if (!zdata) {
			inode_set_stat(ni.path, &st);
			oneshot_note(ni.path, ino == FUSE_ROOT_ID || ni.dir, &st, true);
		}
		inode_set_perm(ino, (int)perm);
		fill_attr(a, ino, &st, ino == FUSE_ROOT_ID ? true : ni.dir, perm, zdata,
			  ni.pending_size);
	}
	free(zpath);
	inode_info_free(&ni);
	return rc;
}

static void zkfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat a;
	int rc = node_attr(req, ino, &a);

	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &a, zkfs_cfg.attr_timeout);
}

static void zkfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			 struct fuse_file_info *fi)
{
	struct stat a;
	int rc = 0;

	if (is_replay(req)) {
		rc = node_attr(req, ino, &a);
		if (rc)
			fuse_reply_err(req, -rc);
		else
			fuse_reply_attr(req, &a, zkfs_cfg.attr_timeout);
		return;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		struct zfile *f = fi ? (struct zfile *)(uintptr_t)fi->fh : NULL;
		if (f && f->writable) {
			rc = zfile_truncate(f, attr->st_size);
			if (!rc)
				inode_set_pending(ino, (int64_t)f->len);
		} else if ((rc = writer_truncate(ino, fuse_req_ctx(req)->pid, attr->st_size)) != 0) {
			rc = rc > 0 ? 0 : rc;
		} else {
			char *zpath;
			bool zdata;
			rc = node_zpath(ino, &zpath, &zdata);
			if (!rc) {
				zkc_session *s = zkfs_session_get();
				notify_expect(zpath, ZK_EVENT_DATA_CHANGED);
				rc = writes_truncate(s, zpath, attr->st_size, NULL);
				zkfs_session_put();
				if (rc)
					notify_unexpect(zpath, ZK_EVENT_DATA_CHANGED);
				free(zpath);
			}
		}
	}
	/* mode, owner and times are not stored in ZooKeeper: accepted and
	 * ignored (touch of an existing node does not bump its version). */
	if (!rc)
		rc = node_attr(req, ino, &a);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &a, zkfs_cfg.attr_timeout);
}

static void zkfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	fuse_reply_err(req, EINVAL);
}

/* Creates the znode for `path` (name may end in '%').  On success *real
 * is the created path and *st its Stat. */
static int do_create(fuse_req_t req, fuse_ino_t parent, const char *name, bool dir,
		     char **real, struct zk_stat *st, bool *eph_out)
{
	char *path = NULL, *ppath = NULL, *created = NULL;
	size_t stem;
	bool seq = map_is_seq_name(name, &stem);
	bool eph;
	zkc_session *hs = NULL, *s;
	void *href = NULL;
	int mode, rc;

	if (zkfs_cfg.ro)
		return -EROFS;
	if (is_zdata_name(name))
		return -EEXIST;
	if (seq) {
		char *stemname = strndup(name, stem);
		if (!stemname)
			return -ENOMEM;
		rc = child_path(parent, stemname, &path);
		free(stemname);
	} else {
		rc = child_path(parent, name, &path);
	}
	if (rc)
		return rc;
	ppath = inode_path(parent);
	if (!ppath) {
		free(path);
		return -ENOENT;
	}
	eph = is_eph_dir(ppath);
	if (eph) {
		rc = holders_get(fuse_req_ctx(req)->pid, &hs, &href);
		if (rc)
			goto out;
	}
	mode = (eph ? ZK_EPHEMERAL : ZK_PERSISTENT) | (seq ? ZK_PERSISTENT_SEQUENTIAL : 0);
	if (!seq)
		notify_expect(path, ZK_EVENT_CREATED);
	s = hs ? hs : zkfs_session_get();
	rc = zkc_b_create(s, path, "", 0, NULL, mode, 0, &created, st);
	if (rc == ZE_CONNECTIONLOSS) {
		int r = zkc_b_create_applied(s, path, "", 0, mode, seq ? &created : NULL);
		if (r == ZKC_APPLIED) {
			if (!created)
				created = strdup(path);
			rc = zkc_b_exists(s, created, NULL, NULL, st);
		}
	}
	if (!hs)
		zkfs_session_put();
	if (rc) {
		if (!seq)
			notify_unexpect(path, ZK_EVENT_CREATED);
		rc = zkfs_errno(rc);
		goto out;
	}
	if (seq) {
		/* The echo of our own sequential create: expect the real name
		 * now; if the echo already went by, the replay finds the kernel
		 * entry in place and is harmless. */
		notify_expect(created, ZK_EVENT_CREATED);
		seq_remember(fuse_req_ctx(req)->pid, ppath, map_basename(created));
	}
	if (eph || !dir)
		inode_mark_created(st->czxid, dir);
	*real = created;
	created = NULL;
	if (eph_out)
		*eph_out = eph;
out:
	holders_put(href);
	free(created);
	free(path);
	free(ppath);
	return rc;
}

static void zkfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		       dev_t rdev)
{
	char *real = NULL;
	struct zk_stat st;
	int rc;

	if (is_replay(req)) {
		char *path = NULL;
		if (child_path(parent, name, &path)) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		replay_entry(req, path, false);
		free(path);
		return;
	}
	if (!S_ISREG(mode)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	rc = do_create(req, parent, name, false, &real, &st, NULL);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	reply_node(req, real, &st, false, default_perm(false), map_is_seq_name(name, NULL));
	free(real);
}

static void zkfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	char *real = NULL;
	struct zk_stat st;
	int rc;

	if (is_replay(req)) {
		char *path = NULL;
		if (child_path(parent, name, &path)) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		replay_entry(req, path, false);
		free(path);
		return;
	}
	rc = do_create(req, parent, name, true, &real, &st, NULL);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	reply_node(req, real, &st, true, default_perm(true), map_is_seq_name(name, NULL));
	free(real);
}

static int do_delete(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	char *path = NULL;
	zkc_session *s;
	int rc;

	if (is_zdata_name(name))
		return -EPERM;
	rc = child_path(parent, name, &path);
	if (rc)
		return rc;
	if (is_replay(req)) {
		inode_detach(path);
		free(path);
		return 0;
	}
	if (zkfs_cfg.ro) {
		free(path);
		return -EROFS;
	}
	notify_expect(path, ZK_EVENT_DELETED);
	s = zkfs_session_get();
	rc = zkc_b_delete(s, path, -1);
	if (rc == ZE_CONNECTIONLOSS) {
		/* Unknown outcome: the node being gone now means it worked. */
		if (zkc_b_exists(s, path, NULL, NULL, NULL) == ZE_NONODE)
			rc = ZE_OK;
	}
	zkfs_session_put();
	if (rc) {
		notify_unexpect(path, ZK_EVENT_DELETED);
		rc = zkfs_errno(rc);
	} else {
		inode_detach(path);
	}
	free(path);
	return rc;
}

static void zkfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -do_delete(req, parent, name));
}

static void zkfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -do_delete(req, parent, name));
}

static void zkfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EPERM);
}

static void zkfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	fuse_reply_err(req, EPERM);
}

/* rename of a file (or an empty directory) as one multi; see FS-SEMANTICS. */
static int do_rename(fuse_req_t req, const char *src, const char *dst, unsigned flags)
{
	char *dparent = map_dirname(dst);
	bool eph = dparent && is_eph_dir(dparent);
	zkc_session *hs = NULL, *s;
	void *href = NULL;
	uint64_t src_id;
	int rc = 0;

	free(dparent);
	if (flags & RENAME_EXCHANGE)
		return -EINVAL;
	if (zkfs_cfg.ro)
		return -EROFS;
	if (eph) {
		rc = holders_get(fuse_req_ctx(req)->pid, &hs, &href);
		if (rc)
			return rc;
	}
	src_id = inode_find(src, NULL);
	for (int attempt = 0; attempt < 20; attempt++) {
		uint8_t *data = NULL;
		int32_t len = 0;
		struct zk_stat sst, dst_st, nst;
		struct zk_op ops[3];
		struct zkc_result res = {0};
		int nops = 0, zr, dr;
		bool src_dir, dst_exists, dst_dir = false, replace_data = false;
		struct inode_info si;

		memset(ops, 0, sizeof(ops));
		s = hs ? hs : zkfs_session_get();
		zr = zkc_b_get(s, src, NULL, NULL, &data, &len, &sst);
		if (zr) {
			if (!hs)
				zkfs_session_put();
			rc = zkfs_errno(zr);
			break;
		}
		src_dir = map_is_dir(&sst, inode_created_type(sst.czxid));
		if (inode_find(src, &si)) {
			src_dir = si.dir;
			inode_info_free(&si);
		}
		if (sst.num_children > 0) {
			free(data);
			if (!hs)
				zkfs_session_put();
			rc = -EXDEV;
			break;
		}
		dr = zkc_b_exists(s, dst, NULL, NULL, &dst_st);
		dst_exists = dr == ZE_OK;
		if (dst_exists) {
			dst_dir = map_is_dir(&dst_st, inode_created_type(dst_st.czxid));
			if (flags & RENAME_NOREPLACE)
				rc = -EEXIST;
			else if (dst_dir && !src_dir)
				rc = -EISDIR;
			else if (!dst_dir && src_dir)
				rc = -ENOTDIR;
			else if (dst_st.num_children > 0)
				rc = -ENOTEMPTY;
		}
		if (rc) {
			free(data);
			if (!hs)
				zkfs_session_put();
			break;
		}
		if (dst_exists && !dst_dir) {
			/* Over a file: dst keeps its identity, gets src's data. */
			ops[nops].type = ZOP_SETDATA;
			ops[nops].path = (char *)dst;
			ops[nops].data = data;
			ops[nops].data_len = len < 0 ? 0 : len;
			ops[nops].version = dst_st.version;
			nops++;
			replace_data = true;
		} else {
			if (dst_exists) {
				ops[nops].type = ZOP_DELETE;
				ops[nops].path = (char *)dst;
				ops[nops].version = dst_st.version;
				nops++;
			}
			ops[nops].type = ZOP_CREATE2;
			ops[nops].path = (char *)dst;
			ops[nops].data = data;
			ops[nops].data_len = len < 0 ? 0 : len;
			ops[nops].flags = eph ? ZK_EPHEMERAL : ZK_PERSISTENT;
			nops++;
		}
		ops[nops].type = ZOP_DELETE;
		ops[nops].path = (char *)src;
		ops[nops].version = sst.version;
		nops++;
		notify_expect(src, ZK_EVENT_DELETED);
		notify_expect(dst, replace_data ? ZK_EVENT_DATA_CHANGED : ZK_EVENT_CREATED);
		if (dst_exists && !replace_data)
			notify_expect(dst, ZK_EVENT_DELETED);
		zr = zkc_b_multi(s, ops, nops, &res);
		zkc_result_free(&res);
		if (zr == ZE_CONNECTIONLOSS) {
			/* Resolved: the multi applied iff src is gone and dst exists. */
			if (zkc_b_exists(s, src, NULL, NULL, NULL) == ZE_NONODE &&
			    zkc_b_exists(s, dst, NULL, NULL, NULL) == ZE_OK)
				zr = ZE_OK;
		}
		free(data);
		if (zr) {
			notify_unexpect(src, ZK_EVENT_DELETED);
			notify_unexpect(dst, replace_data ? ZK_EVENT_DATA_CHANGED : ZK_EVENT_CREATED);
			if (dst_exists && !replace_data)
				notify_unexpect(dst, ZK_EVENT_DELETED);
		}
		if (zr == ZE_BADVERSION || zr == ZE_NODEEXISTS ||
		    (zr == ZE_NONODE && dst_exists)) {
			if (!hs)
				zkfs_session_put();
			continue; /* raced with another writer: look again */
		}
		if (zr) {
			if (!hs)
				zkfs_session_put();
			rc = zkfs_errno(zr);
			break;
		}
		if (zkc_b_exists(s, dst, NULL, NULL, &nst) == ZE_OK) {
			if (!replace_data)
				inode_mark_created(nst.czxid, src_dir);
			if (src_id)
				inode_move(src_id, dst, &nst);
			else
				inode_detach(dst);
		}
		if (!hs)
			zkfs_session_put();
		rc = 0;
		goto done;
	}
	if (!rc)
		rc = -EAGAIN;
done:
	holders_put(href);
	return rc;
}

static void zkfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	char *src = NULL, *dst = NULL;
	int rc;

	if (is_zdata_name(name) || is_zdata_name(newname)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	rc = child_path(parent, name, &src);
	if (!rc)
		rc = child_path(newparent, newname, &dst);
	if (!rc)
		rc = do_rename(req, src, dst, flags);
	fuse_reply_err(req, -rc);
	free(src);
	free(dst);
}

static void commit_deferred(fuse_ino_t ino);

static int open_file(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, bool fresh)
{
	char *zpath;
	bool zdata, writable = (fi->flags & O_ACCMODE) != O_RDONLY;
	struct zfile *f = NULL;
	zkc_session *s;
	uint64_t gen;
	bool cache;
	int rc;

	if (writable && zkfs_cfg.ro)
		return -EROFS;
	/* A read-only handle has nothing to send at close: no FLUSH round
	 * trip for it (this halves the cost of a cached `cat`). */
	fi->noflush = !writable;
	rc = node_zpath(ino, &zpath, &zdata);
	if (rc)
		return rc;
	oneshot_note(zpath, false, NULL, true); /* armed before the data is read */
	commit_deferred(ino);
	/* Serve unchanged data from memory, and let the kernel keep its page
	 * cache: only while the watch would have told of a change, with no
	 * change of ours in flight and no writer filling the page cache. */
	cache = !writable && !fresh && !zdata && connected() && notify_cacheable(zpath) &&
		!writer_any(ino);
	if (cache) {
		uint8_t *data;
		size_t len;
		int32_t ver;
		if (inode_get_cached(ino, &data, &len, &ver) == 0) {
			rc = zfile_from_cache(zpath, ino, data, len, &f);
			free(zpath);
			if (rc) {
				free(data);
				return rc;
			}
			f->version = ver;
			fi->fh = (uintptr_t)f;
			fi->keep_cache = 1;
			return 0;
		}
	}
	if (!writable && !fresh && !connected()) {
		/* Disconnected: serve the data last read through this node. */
		uint8_t *data;
		size_t len;
		if (inode_get_data(ino, &data, &len) == 0) {
			rc = zfile_from_cache(zpath, ino, data, len, &f);
			free(zpath);
			if (rc) {
				free(data);
				return rc;
			}
			fi->fh = (uintptr_t)f;
			fi->keep_cache = 1;
			return 0;
		}
	}
	if (writable)
		inode_cache_drop_id(ino);
	gen = inode_cache_gen();
	s = zkfs_session_get();
	rc = zfile_open(s, zpath, ino, writable, (fi->flags & O_APPEND) != 0, fresh, &f);
	zkfs_session_put();
	if (rc) {
		free(zpath);
		return rc;
	}
	if (cache && notify_cacheable(zpath) && !writer_any(ino))
		inode_set_data_cached(ino, f->view, f->len, f->version, gen);
	else if (!fresh)
		inode_set_data(ino, f->view, f->len);
	free(zpath);
	fi->fh = (uintptr_t)f;
	fi->keep_cache = 0;
	if (writable) {
		writer_add(ino, fuse_req_ctx(req)->pid, f);
		inode_cache_drop_id(ino);
	}
	return 0;
}

static void zkfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int rc;

	if (is_replay(req)) {
		fi->fh = 0;
		fi->keep_cache = 0;
		fuse_reply_open(req, fi);
		return;
	}
	rc = open_file(req, ino, fi, false);
	if (rc)
		fuse_reply_err(req, -rc);
	else if (fuse_reply_open(req, fi)) {
		writer_del((struct zfile *)(uintptr_t)fi->fh);
		zfile_free((struct zfile *)(uintptr_t)fi->fh);
	}
}

static void zkfs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			struct fuse_file_info *fi)
{
	char *real = NULL;
	struct zk_stat st;
	struct fuse_entry_param e;
	fuse_ino_t id;
	bool seq = map_is_seq_name(name, NULL);
	int rc;

	if (is_replay(req)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	rc = do_create(req, parent, name, false, &real, &st, NULL);
	if (rc == -EEXIST && !(fi->flags & O_EXCL) && !seq && !is_zdata_name(name)) {
		/* Someone else made it since the kernel looked: open theirs. */
		char *path = NULL;
		mode_t perm;
		rc = child_path(parent, name, &path);
		if (!rc)
			rc = stat_node(path, &st, &perm);
		if (!rc && map_is_dir(&st, inode_created_type(st.czxid)))
			rc = -EISDIR;
		if (!rc) {
			id = inode_ref(path, &st, false);
			rc = open_file(req, id, fi, false);
			if (!rc) {
				fill_entry(&e, id, &st, false, perm & ~(mode_t)0111, false, false);
				if (fuse_reply_create(req, &e, fi)) {
					writer_del((struct zfile *)(uintptr_t)fi->fh);
					zfile_free((struct zfile *)(uintptr_t)fi->fh);
					inode_forget(id, 1);
				}
			} else {
				inode_forget(id, 1);
			}
		}
		free(path);
		if (rc)
			fuse_reply_err(req, -rc);
		return;
	}
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	id = inode_ref(real, &st, false);
	rc = id ? open_file(req, id, fi, true) : -ENOMEM;
	if (rc) {
		if (id)
			inode_forget(id, 1);
		fuse_reply_err(req, -rc);
	} else {
		fill_entry(&e, id, &st, false, default_perm(false), false, seq);
		if (fuse_reply_create(req, &e, fi)) {
			writer_del((struct zfile *)(uintptr_t)fi->fh);
			zfile_free((struct zfile *)(uintptr_t)fi->fh);
			inode_forget(id, 1);
		}
	}
	free(real);
}

static void zkfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct zfile *f = (struct zfile *)(uintptr_t)fi->fh;
	char *buf = NULL;
	ssize_t n;

	if (!f) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (!f->writable)
		inode_cache_check(ino, f->version);
	n = zfile_read(f, off, size, &buf);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void zkfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct zfile *f = (struct zfile *)(uintptr_t)fi->fh;
	ssize_t n;

	if (!f) {
		fuse_reply_write(req, size);
		return;
	}
	if (!f->writable) {
		fuse_reply_err(req, EBADF);
		return;
	}
	n = zfile_write(f, off, buf, size);
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	inode_set_pending(ino, (int64_t)f->len);
	fuse_reply_write(req, (size_t)n);
}

/* Sends a file's buffered writes. */
static int commit(fuse_ino_t ino, struct zfile *f)
{
	struct zk_stat st;
	zkc_session *s;
	bool sent = false;
	int rc;

	if (!f || !f->writable || !f->dirty)
		return 0;
	notify_expect(f->zpath, ZK_EVENT_DATA_CHANGED);
	s = zkfs_session_get();
	rc = zfile_commit(s, f, &st, &sent);
	zkfs_session_put();
	if (!sent)
		notify_unexpect(f->zpath, ZK_EVENT_DATA_CHANGED);
	if (!rc) {
		inode_set_stat(f->zpath, &st);
		inode_set_pending(ino, -1);
	}
	return rc;
}

/* flush runs at every close(2) of every duplicate of the fd.  A shell's
 * `echo x > f` opens (truncating), dups the fd and closes the original
 * before writing: committing then would publish an empty file first.  So a
 * flush with nothing but a truncation pending defers it to release (or to
 * the next open of the node through this mount, see commit_deferred). */
static void zkfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct zfile *f = (struct zfile *)(uintptr_t)fi->fh;

	locks_close_owner(ino, fi->lock_owner); /* any close ends the closer's fcntl locks */
	if (f && f->writable && zfile_only_truncated(f)) {
		f->deferred = true;
		fuse_reply_err(req, 0);
		return;
	}
	fuse_reply_err(req, -commit(ino, f));
}

/* Sends truncations deferred by flush on ino before someone opens it, so
 * `: > f; cat f` reads the empty file. */
static void commit_deferred(fuse_ino_t ino)
{
	pthread_mutex_lock(&wr_mu);
	for (struct writer *w = writers; w; w = w->next)
		if (w->ino == ino && w->f->deferred)
			commit(ino, w->f); /* wr_mu keeps release from freeing it */
	pthread_mutex_unlock(&wr_mu);
}

static void zkfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fuse_reply_err(req, -commit(ino, (struct zfile *)(uintptr_t)fi->fh));
}

static void zkfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct zfile *f = (struct zfile *)(uintptr_t)fi->fh;

	locks_release_fh(ino, fi->fh); /* flock and OFD locks end with the open file */
	if (f) {
		int rc = commit(ino, f);
		if (rc)
			zkfs_log("write-back of %s failed at close: %s", f->zpath, strerror(-rc));
		inode_set_pending(ino, -1);
		writer_del(f);
		zfile_free(f);
	}
	fuse_reply_err(req, 0);
}

static void dirh_free(struct dirh *d)
{
	if (!d)
		return;
	zk_str_vec_free(&d->names);
	free(d->zpath);
	free(d->stats);
	free(d->ok);
	free(d);
}

static void zkfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirh *d;
	char *zpath;
	bool zdata;
	zkc_session *s;
	int rc;

	if (is_replay(req)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	rc = node_zpath(ino, &zpath, &zdata);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		free(zpath);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	d->gen = inode_cache_gen();
	oneshot_note(zpath, true, NULL, true); /* its child watch predates the listing */
	s = zkfs_session_get();
	rc = zkc_b_get_children(s, zpath, NULL, NULL, &d->names, NULL);
	zkfs_session_put();
	d->zpath = zpath;
	if (rc) {
		dirh_free(d);
		fuse_reply_err(req, -zkfs_errno(rc));
		return;
	}
	fi->fh = (uintptr_t)d;
	fi->cache_readdir = 0;
	if (fuse_reply_open(req, fi))
		dirh_free(d);
}

static void zkfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t used = 0;
	int32_t total = d->names.n + 2;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (off_t i = off; i < total; i++) {
		const char *name = i == 0 ? "." : i == 1 ? ".." : d->names.v[i - 2];
		struct stat st = {0};
		size_t n;
		if (i >= 2 && (is_zdata_name(name) || locks_hidden(d->zpath, name)))
			continue;
		/* Types are unknown without a round trip per child; ls and
		 * find stat what they need.  The inode number is a stand-in. */
		st.st_ino = i < 2 ? ino : (ino_t)(0x1000 + i);
		n = fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

/* readdir with each entry's attributes, so that `ls -l`, `find` and `stat *`
 * need no lookup per entry: the stats are fetched pipelined on the first
 * call (prefetch.h).  Every entry handed out with a node id counts as a
 * lookup for the kernel; entries without (stats unavailable) are plain. */
static void zkfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			     struct fuse_file_info *fi)
{
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;
	int32_t total = d->names.n + 2;
	fuse_ino_t *refs = NULL;
	size_t used = 0, nrefs = 0;
	bool fresh;
	char *buf;

	if (!d->fetched && d->names.n > 0 && d->names.n <= PF_MAX_NAMES && connected()) {
		d->fetched = true;
		fetch_children(d->zpath, d->names.v, d->names.n, d->gen, &d->stats, &d->ok);
	}
	buf = malloc(size);
	refs = calloc(size / 24 + 1, sizeof(*refs)); /* an entry takes at least 24 bytes */
	if (!buf || !refs) {
		free(buf);
		free(refs);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* A watch event since the fetch: hand the entries out uncached. */
	fresh = d->stats && d->gen == inode_cache_gen();
	for (off_t i = off; i < total; i++) {
		const char *name = i == 0 ? "." : i == 1 ? ".." : d->names.v[i - 2];
		struct fuse_entry_param e = {0};
		fuse_ino_t id = 0;
		size_t n;
		if (i >= 2 && (is_zdata_name(name) || locks_hidden(d->zpath, name)))
			continue;
		/* Stop before taking a reference for an entry that won't fit. */
		if (fuse_add_direntry_plus(req, NULL, 0, name, NULL, 0) > size - used)
			break;
		if (i >= 2 && d->stats && d->ok[i - 2]) {
			const struct pf_stat *ps = &d->stats[i - 2];
			char *path = map_join(d->zpath, name);
			if (path) /* one-shot watches: not waited for, compared with ps->st */
				oneshot_note(path, ps->dir, &ps->st, false);
			id = path ? inode_ref(path, &ps->st, ps->dir) : 0;
			free(path);
			if (id) {
				inode_set_perm(id, (int)ps->perm);
				fill_entry(&e, id, &ps->st, ps->dir, ps->perm, false, false);
				if (!fresh)
					e.entry_timeout = e.attr_timeout = 0;
			}
		}
		if (!id) {
			/* No node id: the kernel looks the name up itself. */
			e.attr.st_ino = i < 2 ? ino : (ino_t)(0x1000 + i);
			e.attr.st_mode = i < 2 ? S_IFDIR : 0;
		}
		n = fuse_add_direntry_plus(req, buf + used, size - used, name, &e, i + 1);
		used += n;
		if (id)
			refs[nrefs++] = id;
	}
	if (fuse_reply_buf(req, buf, used))
		for (size_t k = 0; k < nrefs; k++)
			inode_forget(refs[k], 1);
	free(refs);
	free(buf);
}

static void zkfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	locks_release_fh(ino, fi->fh);
	dirh_free((struct dirh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void zkfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void zkfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = {0};

	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_blocks = 1 << 20;
	sv.f_bfree = 1 << 20;
	sv.f_bavail = 1 << 20;
	sv.f_files = 1 << 24;
	sv.f_ffree = 1 << 24;
	sv.f_favail = 1 << 24;
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

static void reply_xattr_value(fuse_req_t req, const void *val, size_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, val, len);
}

static void zkfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char *zpath = NULL, *tpath = NULL;
	bool zdata;
	zkc_session *s;
	int rc;

	if (strncmp(name, "user.zk.", 8)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	rc = node_zpath(ino, &zpath, &zdata);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	tpath = inode_path(ino);
	s = zkfs_session_get();
	if (!strcmp(name, "user.zk.data") || !strcmp(name, "user.zk.syncdata")) {
		uint8_t *data = NULL;
		int32_t len = 0;
		/* syncdata: a linearizable read (sync, then read), for readers
		 * that must see every write acknowledged anywhere before. */
		rc = name[8] == 's' ? zkc_b_sync(s, zpath) : 0;
		if (!rc)
			rc = zkc_b_get(s, zpath, NULL, NULL, &data, &len, NULL);
		if (rc)
			fuse_reply_err(req, -zkfs_errno(rc));
		else
			reply_xattr_value(req, data ? (char *)data : "", len > 0 ? (size_t)len : 0,
					  size);
		free(data);
	} else if (!strcmp(name, "user.zk.acl")) {
		struct zk_acl_vec acl = {0};
		rc = zkc_b_get_acl(s, zpath, &acl, NULL);
		if (rc) {
			fuse_reply_err(req, -zkfs_errno(rc));
		} else {
			char *t = map_acl_format(&acl);
			if (t)
				reply_xattr_value(req, t, strlen(t), size);
			else
				fuse_reply_err(req, ENOMEM);
			free(t);
			zk_acl_vec_free(&acl);
		}
	} else if (!strcmp(name, "user.zk.last")) {
		char *n = seq_recall(fuse_req_ctx(req)->pid, zpath);
		if (n)
			reply_xattr_value(req, n, strlen(n), size);
		else
			fuse_reply_err(req, ENODATA);
		free(n);
	} else {
		struct zk_stat st;
		char buf[256];
		rc = zkc_b_exists(s, zpath, NULL, NULL, &st);
		if (rc) {
			/* The node is gone but the fd is open: the name is still known. */
			struct inode_info ni;
			if (rc == ZE_NONODE && !inode_get(ino, &ni) && ni.have_stat) {
				st = ni.st;
				rc = 0;
			}
			if (rc == 0)
				inode_info_free(&ni);
		}
		if (rc) {
			fuse_reply_err(req, -zkfs_errno(rc));
		} else {
			int n = map_xattr_get(name, zpath, &st, buf, sizeof(buf));
			if (n < 0)
				fuse_reply_err(req, -n);
			else
				reply_xattr_value(req, buf, (size_t)n, size);
		}
	}
	zkfs_session_put();
	free(zpath);
	free(tpath);
}

static void zkfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	size_t len;
	const char *names = map_xattr_names(&len);

	reply_xattr_value(req, names, len, size);
}

static void zkfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			  size_t size, int flags)
{
	char *zpath = NULL;
	bool zdata;
	zkc_session *s;
	int rc;

	if (zkfs_cfg.ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (strcmp(name, "user.zk.acl") && strcmp(name, "user.zk.data")) {
		fuse_reply_err(req, strncmp(name, "user.zk.", 8) ? ENOTSUP : EPERM);
		return;
	}
	rc = node_zpath(ino, &zpath, &zdata);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	s = zkfs_session_get();
	if (!strcmp(name, "user.zk.acl")) {
		struct zk_acl_vec acl = {0};
		rc = map_acl_parse(value, size, &acl);
		if (!rc) {
			rc = zkfs_errno(zkc_b_set_acl(s, zpath, &acl, -1, NULL));
			zk_acl_vec_free(&acl);
		}
	} else if (size > writes_limit(zpath)) {
		rc = -EFBIG;
	} else {
		notify_expect(zpath, ZK_EVENT_DATA_CHANGED);
		rc = zkfs_errno(zkc_b_set(s, zpath, value, (int32_t)size, -1, NULL));
		if (rc)
			notify_unexpect(zpath, ZK_EVENT_DATA_CHANGED);
	}
	zkfs_session_put();
	free(zpath);
	fuse_reply_err(req, -rc);
}

static void zkfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, strncmp(name, "user.zk.", 8) ? ENODATA : EPERM);
}

/* ---------------------------------------------------------------- locks */

/* flock(2), and fcntl(2) POSIX and OFD locks: ZooKeeper locks (locks.h).
 * A lock through the hidden data entry is its directory's lock. */
static void zkfs_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
{
	char *zpath;
	bool zdata;
	int rc = node_zpath(ino, &zpath, &zdata);

	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	locks_flock(req, ino, zpath, zdata, fi, op);
	free(zpath);
}

static void zkfs_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock,
		       int sleep)
{
	char *zpath;
	bool zdata;
	int rc = node_zpath(ino, &zpath, &zdata);

	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	locks_setlk(req, ino, zpath, zdata, fi, lock, sleep);
	free(zpath);
}

static void zkfs_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock)
{
	char *zpath;
	bool zdata;
	int rc = node_zpath(ino, &zpath, &zdata);

	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	locks_getlk(req, ino, zpath, zdata, fi, lock);
	free(zpath);
}

const struct fuse_lowlevel_ops zkfs_ops = {
	.init = zkfs_init,
	.lookup = zkfs_lookup,
	.forget = zkfs_forget,
	.forget_multi = zkfs_forget_multi,
	.getattr = zkfs_getattr,
	.setattr = zkfs_setattr,
	.readlink = zkfs_readlink,
	.mknod = zkfs_mknod,
	.mkdir = zkfs_mkdir,
	.unlink = zkfs_unlink,
	.rmdir = zkfs_rmdir,
	.symlink = zkfs_symlink,
	.rename = zkfs_rename,
	.link = zkfs_link,
	.open = zkfs_open,
	.read = zkfs_read,
	.write = zkfs_write,
	.flush = zkfs_flush,
	.release = zkfs_release,
	.fsync = zkfs_fsync,
	.opendir = zkfs_opendir,
	.readdir = zkfs_readdir,
	.readdirplus = zkfs_readdirplus,
	.releasedir = zkfs_releasedir,
	.fsyncdir = zkfs_fsyncdir,
	.statfs = zkfs_statfs,
	.setxattr = zkfs_setxattr,
	.getxattr = zkfs_getxattr,
	.listxattr = zkfs_listxattr,
	.removexattr = zkfs_removexattr,
	.create = zkfs_create,
	.getlk = zkfs_getlk,
	.setlk = zkfs_setlk,
	.flock = zkfs_flock,
};
