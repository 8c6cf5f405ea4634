/*
 * main.c — the zkfs daemon's entry point: options, the connection to
 * ZooKeeper, the mount, daemonising once the mount is usable, and the
 * multi-threaded FUSE loop it ends in (see the end of main()).
 *
 *   zkfs SPEC DIR [-o OPTIONS] [-f] [-d]
 *
 * Start-up order matters: the process forks before any thread exists (the
 * client library starts a loop thread), the child connects and mounts, and
 * only then tells the waiting parent to exit 0; on any failure the parent
 * prints the child's message and exits non-zero.  So `zkfs` and
 * `mount -t zkfs` return once the mount works, or fail clearly.
 */
#define FUSE_USE_VERSION 314
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "holders.h"
#include "inode.h"
#include "locks.h"
#include "map.h"
#include "notify.h"
#include "oneshot.h"
#include "ops.h"
#include "zkfs.h"

struct zkfs_config zkfs_cfg;
zkc_client *zkfs_client;
struct fuse_session *zkfs_fuse;

static pthread_rwlock_t sess_lock = PTHREAD_RWLOCK_INITIALIZER;
static zkc_session *main_sess; /* guarded by sess_lock (written under wrlock) */
static struct zkc_auth auth_rec;
/* TLS (-o tls,cafile=,certfile=,keyfile=,keypassfile=,noverifyhost,zkconfig=) */
static struct zkc_tls tls_rec;
static bool use_tls;
static char tls_err[256];
static struct zkc_sasl sasl_rec; /* loaded from saslfile= (mech set = SASL on) */
static struct zkc_sasl_props sasl_props; /* zkconfig='s SASL keys */
static int status_fd = -1; /* pipe to the waiting parent */
static FILE *log_fp;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static pthread_mutex_t renew_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t renew_cv = PTHREAD_COND_INITIALIZER;
static bool renew_needed, renew_stop; /* guarded by renew_mu */
static pthread_cond_t renewed_cv = PTHREAD_COND_INITIALIZER;
static uint64_t sess_epoch; /* guarded by renew_mu: bumped when main_sess is replaced */

void zkfs_log(const char *fmt, ...)
{
	va_list ap;
	time_t now = time(NULL);
	struct tm tm;
	char ts[32];
	FILE *out = log_fp ? log_fp : stderr;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	pthread_mutex_lock(&log_mu);
	fprintf(out, "%s zkfs[%d]: ", ts, (int)getpid());
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
	pthread_mutex_unlock(&log_mu);
}

/* Called with sess_lock read-held and main_sess expired: lets go of the
 * lock until the renewal thread has put a new session in place (or the
 * operation wait bound passes), so that an operation arriving between the
 * expiry and the renewal runs on the new session instead of failing. */
static void wait_renewed(void)
{
	struct timespec dl;
	uint64_t epoch;

	zkfs_deadline(&dl, zkfs_cfg.op_wait_ms > 0 ? zkfs_cfg.op_wait_ms : zkfs_cfg.timeout_ms);
	pthread_mutex_lock(&renew_mu);
	epoch = sess_epoch;
	pthread_mutex_unlock(&renew_mu);
	pthread_rwlock_unlock(&sess_lock);
	pthread_mutex_lock(&renew_mu);
	while (sess_epoch == epoch && !renew_stop)
		if (pthread_cond_timedwait(&renewed_cv, &renew_mu, &dl))
			break;
	pthread_mutex_unlock(&renew_mu);
	pthread_rwlock_rdlock(&sess_lock);
}

void zkfs_deadline(struct timespec *dl, int ms)
{
	clock_gettime(CLOCK_REALTIME, dl);
	dl->tv_sec += ms / 1000;
	dl->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (dl->tv_nsec >= 1000000000L) {
		dl->tv_sec++;
		dl->tv_nsec -= 1000000000L;
	}
}

zkc_session *zkfs_session_get(void)
{
	pthread_rwlock_rdlock(&sess_lock);
	/* Never on the client's loop thread: the renewal needs it. */
	if (zkc_session_state(main_sess) == ZKC_STATE_EXPIRED && !zkc_client_on_loop(zkfs_client))
		wait_renewed();
	return main_sess;
}

void zkfs_session_put(void)
{
	pthread_rwlock_unlock(&sess_lock);
}

/* zxid seen when the connection was lost (loop thread only). */
static int64_t zxid_at_loss = -1;

static void on_main_state(zkc_session *s, int state, void *arg)
{
	if (state != ZKC_STATE_CONNECTED && state != ZKC_STATE_CONNECTED_RO)
		inode_cache_drop(NULL); /* changes made meanwhile fire no watch */
	if (state == ZKC_STATE_DISCONNECTED)
		zxid_at_loss = zkc_session_last_zxid(s);
	if (state == ZKC_STATE_CONNECTED || state == ZKC_STATE_CONNECTED_RO)
		oneshot_connected(s);
	if (state == ZKC_STATE_CONNECTED && zxid_at_loss >= 0) {
		notify_resync(zxid_at_loss);
		zxid_at_loss = -1;
	}
	zkfs_log("ZooKeeper session 0x%llx: %s", (unsigned long long)zkc_session_id(s, NULL),
		 zkc_state_name(state));
	if (state == ZKC_STATE_EXPIRED || state == ZKC_STATE_AUTH_FAILED) {
		locks_session_expired();
		zkfs_session_expired();
	}
	if (state == ZKC_STATE_CONNECTED || state == ZKC_STATE_CONNECTED_RO || state == ZKC_STATE_EXPIRED)
		holders_mount_settled();
}

static int open_session(int wait_ms, zkc_state_fn state_cb, void *state_arg, zkc_session **out)
{
	struct zkc_options opt;
	int rc;

	memset(&opt, 0, sizeof(opt));
	opt.state_cb = state_cb;
	opt.state_arg = state_arg;
	if (zkfs_cfg.auth) {
		opt.auth = &auth_rec;
		opt.nauth = 1;
	}
	if (use_tls) {
		opt.tls = &tls_rec;
		opt.tls_err_buf = tls_err;
		opt.tls_err_len = sizeof(tls_err);
	}
	if (sasl_rec.mech)
		opt.sasl = &sasl_rec;
	rc = zkc_b_open(zkfs_client, zkfs_cfg.spec, zkfs_cfg.timeout_ms, &opt, wait_ms, out);
	if (rc == ZE_OK && zkfs_cfg.op_wait_ms > 0)
		zkc_b_set_deadline(*out, zkfs_cfg.op_wait_ms);
	return rc;
}

int zkfs_open_session(int wait_ms, zkc_state_fn state_cb, void *state_arg, zkc_session **out)
{
	return open_session(wait_ms, state_cb, state_arg, out);
}

void zkfs_session_expired(void)
{
	pthread_mutex_lock(&renew_mu);
	renew_needed = true;
	pthread_cond_signal(&renew_cv);
	pthread_mutex_unlock(&renew_mu);
}

/* Replaces an expired mount session with a new one (the old session's
 * ephemerals are gone, as in ZooKeeper). */
static void *renew_main(void *arg)
{
	for (;;) {
		zkc_session *ns = NULL, *old;
		pthread_mutex_lock(&renew_mu);
		while (!renew_needed && !renew_stop)
			pthread_cond_wait(&renew_cv, &renew_mu);
		if (renew_stop) {
			pthread_mutex_unlock(&renew_mu);
			return NULL;
		}
		renew_needed = false;
		pthread_mutex_unlock(&renew_mu);
		while (open_session(zkfs_cfg.timeout_ms, on_main_state, NULL, &ns) != ZE_OK) {
			pthread_mutex_lock(&renew_mu);
			bool stop = renew_stop;
			pthread_mutex_unlock(&renew_mu);
			if (stop)
				return NULL;
			sleep(1);
		}
		if (notify_watch_session(ns))
			zkfs_log("could not install the root watch on the new session");
		pthread_rwlock_wrlock(&sess_lock);
		old = main_sess;
		main_sess = ns;
		pthread_rwlock_unlock(&sess_lock);
		pthread_mutex_lock(&renew_mu);
		sess_epoch++;
		pthread_cond_broadcast(&renewed_cv);
		pthread_mutex_unlock(&renew_mu);
		zkfs_log("session expired; new session 0x%llx",
			 (unsigned long long)zkc_session_id(ns, NULL));
		/* What changed while no session watched is found by comparison. */
		notify_resync(zkc_session_last_zxid(old));
		zkc_b_close(old);
	}
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: zkfs SPEC MOUNTPOINT [-o OPTION[,OPTION...]] [-f] [-d]\n"
		"\n"
		"Mounts a ZooKeeper namespace as files and directories.\n"
		"SPEC is a connect string: host:port[,host:port...][/chroot]\n"
		"\n"
		"  -f                      stay in the foreground\n"
		"  -d                      foreground, FUSE debug output\n"
		"  -h, --help              this help\n"
		"  -V, --version           version\n"
		"\n"
		"zkfs options (-o):\n"
		"  timeout=SEC             ZooKeeper session timeout (default 10)\n"
		"  op_timeout=SEC          how long an operation waits for a lost\n"
		"                          connection before failing with EIO/ETIMEDOUT\n"
		"                          (default: the session timeout)\n"
		"  connect_timeout=SEC     how long mounting waits for the ensemble (default 15)\n"
		"  ephemeral=DIR[:DIR...]  nodes created directly in these directories\n"
		"                          (relative to the mount root) are ephemeral\n"
		"  ephemeral_owner=session|mount  who owns ephemerals: the creator's Unix\n"
		"                          session (default) or the mount's own session\n"
		"  zdata=NAME              name of the hidden data entry of directories\n"
		"                          (default .zdata)\n"
		"  auth=digest:USER:PASS   ZooKeeper digest credentials\n"
		"  authfile=PATH           read 'digest:USER:PASS' from PATH instead\n"
		"  tls                     connect with TLS (the server's secureClientPort)\n"
		"  cafile=PATH             CA certificates (PEM) for the server's certificate\n"
		"  certfile=PATH           client certificate (PEM, or PKCS12 .p12)\n"
		"  keyfile=PATH            its private key (PEM; default: in certfile)\n"
		"  keypassfile=PATH        the key's password, first line of PATH\n"
		"  noverifyhost            don't check the server's name/IP in its certificate\n"
		"  zkconfig=PATH           ZooKeeper client properties as Java reads them:\n"
		"                          TLS (zookeeper.client.secure,\n"
		"                          zookeeper.ssl.keyStore.location, ...) and SASL\n"
		"                          (java.security.auth.login.config, read as saslfile=\n"
		"                          unless that is given, zookeeper.sasl.client,\n"
		"                          zookeeper.sasl.clientconfig, zookeeper.server.principal)\n"
		"  sasl=MECH               SASL authentication, DIGEST-MD5 or GSSAPI\n"
		"                          (default: DIGEST-MD5, GSSAPI if saslfile names a keytab)\n"
		"  saslfile=PATH           SASL credentials: a JAAS file with a Client section,\n"
		"                          or 'username=' and 'password=' lines (GSSAPI:\n"
		"                          'principal=' and 'keytab=')\n"
		"  entry_timeout=SEC, attr_timeout=SEC, negative_timeout=SEC\n"
		"                          kernel cache timeouts (default 60; kept coherent\n"
		"                          by ZooKeeper watches while connected)\n"
		"  lock_names=curator|curator-rw|kazoo  how flock/fcntl lock contenders\n"
		"                          are named (Curator InterProcessMutex, Curator\n"
		"                          InterProcessReadWriteLock, kazoo); default curator\n"
		"  log=FILE                write the daemon's log to FILE\n"
		"  expire_signal=SIG       signal sent to the processes of a Unix session whose\n"
		"                          ephemerals were lost to a session expiry, and to the\n"
		"                          holder of a lost flock/fcntl lock (USR1, TERM, ...)\n"
		"\n"
		"Standard FUSE options (allow_other, default_permissions, ro, ...) are\n"
		"passed on; _netdev, auto, noauto, user, users, nofail, defaults, rw and\n"
		"the like from mount(8) are ignored.\n");
}

/* Fails start-up: message to the parent (or stderr), exit status 1. */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (status_fd >= 0) {
		(void)!write(status_fd, "E", 1);
		(void)!write(status_fd, msg, strlen(msg));
		close(status_fd);
	} else {
		fprintf(stderr, "zkfs: %s\n", msg);
	}
	_exit(1);
}

static bool is_mount_noise(const char *o)
{
	static const char *const noise[] = {"_netdev", "auto", "noauto", "user", "users",
					    "nouser", "nofail", "defaults", "rw", "exec",
					    "noexec", "suid", "nosuid", "dev", "nodev",
					    "atime", "noatime", "relatime", "norelatime",
					    "strictatime", "async", "sync", "dirsync", "owner",
					    "group", "loud", "silent", "nosymfollow", NULL};
	for (int i = 0; noise[i]; i++)
		if (!strcmp(o, noise[i]))
			return true;
	return o[0] == '_' || !strncmp(o, "x-", 2) || !strncmp(o, "comment=", 8);
}

static double parse_sec(const char *key, const char *v)
{
	char *end;
	double d = strtod(v, &end);

	if (*end || d < 0)
		die("bad value for %s: '%s'", key, v);
	return d;
}

/* "TERM", "SIGTERM", "sigterm" or "15" -> 15; 0 for "none". */
static int parse_signal(const char *v)
{
	const char *name = strncasecmp(v, "SIG", 3) ? v : v + 3;
	char *end;
	long n = strtol(v, &end, 10);

	if (!strcasecmp(v, "none") || !strcmp(v, "0"))
		return 0;
	if (*v && !*end && n > 0 && n < NSIG)
		return (int)n;
	for (int s = 1; s < NSIG; s++) {
		const char *abbrev = sigabbrev_np(s);
		if (abbrev && !strcasecmp(abbrev, name))
			return s;
	}
	die("bad value for expire_signal: '%s' (a signal name such as USR1 or TERM, or a number)", v);
	return 0;
}

/* Normalises a directory option value to a znode path relative to the
 * mount root: "locks" and "/locks/" -> "/locks". */
static char *norm_dir(const char *d)
{
	size_t n = strlen(d);
	char *p = malloc(n + 2), *q = p;

	if (!p)
		die("out of memory");
	if (d[0] != '/')
		*q++ = '/';
	memcpy(q, d, n + 1);
	n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	if (!zk_path_valid(p, n))
		die("bad directory in ephemeral=: '%s'", d);
	return p;
}

static void set_auth(const char *v)
{
	const char *up = v;

	if (!strncmp(v, "digest:", 7))
		up = v + 7;
	else if (strchr(v, ':') && strchr(strchr(v, ':') + 1, ':'))
		die("only digest auth is supported (auth=digest:USER:PASS)");
	if (!strchr(up, ':'))
		die("auth wants digest:USER:PASS");
	free(zkfs_cfg.auth);
	zkfs_cfg.auth = strdup(up);
}

static void read_authfile(const char *path)
{
	char buf[1024];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		die("cannot read authfile %s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	set_auth(buf);
}

/* sasl=, saslfile= and zkconfig='s SASL keys: credentials from a file
 * (never the command line); the mount then also counts as its sasl
 * identity for mode bits. */
static void load_sasl(void)
{
	char err[512];
	bool on;
	if (zkfs_cfg.sasl_mech && !zkfs_cfg.sasl_file && !sasl_props.login_config &&
	    !sasl_props.disabled)
		die("sasl=%s needs saslfile=PATH, or zkconfig= naming "
		    "java.security.auth.login.config (credentials are read from a file)",
		    zkfs_cfg.sasl_mech);
	int rc = zkc_sasl_props_load(&sasl_props, zkfs_cfg.sasl_file, zkfs_cfg.sasl_mech, &sasl_rec,
				     &on, err, sizeof(err));
	zkc_sasl_props_free(&sasl_props);
	if (rc != ZE_OK)
		die("%s", err);
	if (!on)
		return;
	const char *who = sasl_rec.user ? sasl_rec.user : sasl_rec.principal;
	if (who) {
		char **ids = realloc(zkfs_cfg.own_ids, sizeof(char *) * (size_t)(zkfs_cfg.n_own + 1));
		if (!ids || asprintf(&ids[zkfs_cfg.n_own], "sasl:%s", who) < 0)
			die("out of memory");
		zkfs_cfg.own_ids = ids;
		zkfs_cfg.n_own++;
	}
}

/* Handles one -o item: zkfs's own, mount(8) noise, or passed to FUSE. */
static void one_option(char *o, struct fuse_args *fargs)
{
	char *eq = strchr(o, '=');
	const char *v = eq ? eq + 1 : "";
	size_t kl = eq ? (size_t)(eq - o) : strlen(o);

#define KEY(k) (kl == strlen(k) && !strncmp(o, k, kl))
	if (KEY("timeout")) {
		zkfs_cfg.timeout_ms = (int)(parse_sec("timeout", v) * 1000);
	} else if (KEY("op_timeout")) {
		zkfs_cfg.op_wait_ms = (int)(parse_sec("op_timeout", v) * 1000);
	} else if (KEY("connect_timeout")) {
		/* stored in op_wait's sibling below */
		setenv("ZKFS_CONNECT_TIMEOUT_MS", v, 1);
	} else if (KEY("ephemeral")) {
		char *copy = strdup(v), *save = NULL;
		for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
			zkfs_cfg.eph_dirs = realloc(zkfs_cfg.eph_dirs,
						    sizeof(char *) * (size_t)(zkfs_cfg.n_eph + 1));
			zkfs_cfg.eph_dirs[zkfs_cfg.n_eph++] = norm_dir(d);
		}
		free(copy);
	} else if (KEY("ephemeral_owner")) {
		if (!strcmp(v, "mount"))
			zkfs_cfg.eph_owner_mount = true;
		else if (!strcmp(v, "session"))
			zkfs_cfg.eph_owner_mount = false;
		else
			die("ephemeral_owner must be 'session' or 'mount'");
	} else if (KEY("zdata")) {
		if (map_name_check(v) || strchr(v, '%'))
			die("bad zdata name '%s'", v);
		free(zkfs_cfg.zdata);
		zkfs_cfg.zdata = strdup(v);
	} else if (KEY("auth")) {
		set_auth(v);
	} else if (KEY("authfile")) {
		read_authfile(v);
	} else if (KEY("tls")) {
		use_tls = true;
	} else if (KEY("cafile") || KEY("certfile") || KEY("keyfile")) {
		const char **f = KEY("cafile") ? &tls_rec.ca_file : KEY("certfile") ? &tls_rec.cert_file : &tls_rec.key_file;
		free((char *)*f);
		*f = strdup(v);
		use_tls = true;
	} else if (KEY("keypassfile")) {
		char *pw = NULL;
		int e = zkc_read_secret_file(v, &pw);
		if (e)
			die("cannot read keypassfile %s: %s", v, strerror(-e));
		free((char *)tls_rec.key_password);
		tls_rec.key_password = pw;
	} else if (KEY("noverifyhost")) {
		tls_rec.no_verify_host = true;
	} else if (KEY("zkconfig")) {
		char err[512];
		if (zkc_client_properties(v, &tls_rec, &use_tls, &sasl_props, err, sizeof(err)) < 0)
			die("%s", err);
	} else if (KEY("sasl")) {
		if (strcmp(v, "DIGEST-MD5") && strcmp(v, "GSSAPI"))
			die("sasl must be DIGEST-MD5 or GSSAPI");
		free(zkfs_cfg.sasl_mech);
		zkfs_cfg.sasl_mech = strdup(v);
	} else if (KEY("saslfile")) {
		free(zkfs_cfg.sasl_file);
		zkfs_cfg.sasl_file = strdup(v);
	} else if (KEY("entry_timeout")) {
		zkfs_cfg.entry_timeout = parse_sec("entry_timeout", v);
	} else if (KEY("attr_timeout")) {
		zkfs_cfg.attr_timeout = parse_sec("attr_timeout", v);
	} else if (KEY("negative_timeout")) {
		zkfs_cfg.neg_timeout = parse_sec("negative_timeout", v);
	} else if (KEY("lock_names")) {
		if (!strcmp(v, "curator"))
			zkfs_cfg.lock_names = LOCKS_CURATOR;
		else if (!strcmp(v, "curator-rw"))
			zkfs_cfg.lock_names = LOCKS_CURATOR_RW;
		else if (!strcmp(v, "kazoo"))
			zkfs_cfg.lock_names = LOCKS_KAZOO;
		else
			die("lock_names must be 'curator', 'curator-rw' or 'kazoo'");
	} else if (KEY("log")) {
		free(zkfs_cfg.logfile);
		zkfs_cfg.logfile = strdup(v);
	} else if (KEY("expire_signal")) {
		zkfs_cfg.expire_signal = parse_signal(v);
	} else if (is_mount_noise(o)) {
		/* mount(8) passes these; they mean nothing here */
	} else {
		if (!strcmp(o, "ro"))
			zkfs_cfg.ro = true;
		fuse_opt_add_arg(fargs, "-o");
		fuse_opt_add_arg(fargs, o);
		/* Other users reach the mount: the kernel checks the mode bits
		 * (mapped from the ACLs) first, so a user the bits refuse never
		 * acts with the mount's own ZooKeeper identity. */
		if (!strcmp(o, "allow_other")) {
			fuse_opt_add_arg(fargs, "-o");
			fuse_opt_add_arg(fargs, "default_permissions");
		}
	}
#undef KEY
}

static void parse_args(int argc, char **argv, struct fuse_args *fargs)
{
	const char *pos[2] = {NULL, NULL};
	int npos = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf("zkfs 0.1 (FUSE %s)\n", fuse_pkgversion());
			exit(0);
		} else if (!strcmp(a, "-f")) {
			zkfs_cfg.foreground = true;
		} else if (!strcmp(a, "-d")) {
			zkfs_cfg.foreground = true;
			zkfs_cfg.debug = true;
			fuse_opt_add_arg(fargs, "-d");
		} else if (!strcmp(a, "-s")) {
			/* single-threaded requested: zkfs needs worker threads; ignored */
		} else if (!strncmp(a, "-o", 2)) {
			char *opts = strdup(a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : ""));
			char *save = NULL;
			for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save))
				one_option(o, fargs);
			free(opts);
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "zkfs: unknown option %s\n", a);
			usage(stderr);
			exit(2);
		} else if (npos < 2) {
			pos[npos++] = a;
		} else {
			fprintf(stderr, "zkfs: too many arguments\n");
			usage(stderr);
			exit(2);
		}
	}
	if (npos < 2) {
		usage(stderr);
		exit(2);
	}
	zkfs_cfg.spec = strdup(pos[0]);
	zkfs_cfg.mountpoint = realpath(pos[1], NULL);
	if (!zkfs_cfg.mountpoint) {
		fprintf(stderr, "zkfs: mount point %s: %s\n", pos[1], strerror(errno));
		exit(1);
	}
}

static void check_spec(const char *spec)
{
	const char *slash = strchr(spec, '/');

	if (!*spec || spec[0] == '/' || spec[0] == ',' )
		die("bad SPEC '%s' (want host:port[,host:port...][/chroot])", spec);
	if (slash && strlen(slash) > 1 && !zk_path_valid(slash, strlen(slash)))
		die("bad chroot in SPEC '%s'", spec);
}

/* Parent side of start-up: waits for the child's verdict. */
static int wait_child(int rfd, pid_t child)
{
	char buf[1100];
	ssize_t n, got = 0;

	while ((n = read(rfd, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	buf[got > 0 ? got : 0] = '\0';
	if (got > 0 && buf[0] == 'O')
		return 0;
	if (got > 1 && buf[0] == 'E')
		fprintf(stderr, "zkfs: %s\n", buf + 1);
	else {
		int st = 0;
		waitpid(child, &st, 0);
		fprintf(stderr, "zkfs: the daemon failed to start\n");
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct fuse_args fargs = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *lcfg;
	pthread_t renew_thr;
	const char *ct;
	int connect_ms, rc;

	zkfs_cfg.timeout_ms = 10000;
	zkfs_cfg.zdata = strdup(".zdata");
	zkfs_cfg.entry_timeout = zkfs_cfg.attr_timeout = zkfs_cfg.neg_timeout = 60;
	zkfs_cfg.uid = getuid();
	zkfs_cfg.gid = getgid();
	fuse_opt_add_arg(&fargs, argv[0]);
	parse_args(argc, argv, &fargs);
	zkfs_cfg.debug_events = getenv("ZKFS_DEBUG_EVENTS") && *getenv("ZKFS_DEBUG_EVENTS");
	if (zkfs_cfg.op_wait_ms == 0)
		zkfs_cfg.op_wait_ms = zkfs_cfg.timeout_ms;
	ct = getenv("ZKFS_CONNECT_TIMEOUT_MS");
	connect_ms = ct ? (int)(atof(ct) * 1000) : 15000;
	unsetenv("ZKFS_CONNECT_TIMEOUT_MS");
	check_spec(zkfs_cfg.spec);
	if (access("/dev/fuse", R_OK | W_OK))
		die("/dev/fuse: %s (is the fuse module loaded?)", strerror(errno));
	if (use_tls) {
		char err[512];
		if (zkc_tls_check(&tls_rec, err, sizeof(err)) != ZE_OK)
			die("TLS: %s", err);
	}
	if (zkfs_cfg.auth) {
		char *colon = strchr(zkfs_cfg.auth, ':');
		auth_rec.scheme = "digest";
		auth_rec.data = zkfs_cfg.auth;
		auth_rec.len = strlen(zkfs_cfg.auth);
		zkfs_cfg.own_ids = calloc(1, sizeof(char *));
		if (asprintf(&zkfs_cfg.own_ids[0], "digest:%.*s", (int)(colon - zkfs_cfg.auth),
			     zkfs_cfg.auth) < 0)
			die("out of memory");
		zkfs_cfg.n_own = 1;
	}
	load_sasl();
	if (zkfs_cfg.logfile) {
		log_fp = fopen(zkfs_cfg.logfile, "a");
		if (!log_fp)
			die("cannot open log %s: %s", zkfs_cfg.logfile, strerror(errno));
	}

	if (!zkfs_cfg.foreground) {
		int p[2];
		pid_t pid;
		if (pipe(p))
			die("pipe: %s", strerror(errno));
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid > 0) {
			/* The launcher only reports the daemon's outcome; free what it
			 * parsed so leak checkers see a clean exit. */
			close(p[1]);
			rc = wait_child(p[0], pid);
			fuse_opt_free_args(&fargs);
			return rc;
		}
		close(p[0]);
		status_fd = p[1];
		setsid();
	}

	if (zkc_client_new(&zkfs_client) != ZE_OK)
		die("cannot start the ZooKeeper client");
	rc = open_session(connect_ms, on_main_state, NULL, &main_sess);
	if (rc != ZE_OK)
		die("cannot connect to ZooKeeper at %s: %s%s%s", zkfs_cfg.spec, zkc_strerror(rc),
		    tls_err[0] ? ": " : "", tls_err);
	rc = zkc_b_exists(main_sess, "/", NULL, NULL, NULL);
	if (rc != ZE_OK)
		die("%s: the root of the mount is not readable: %s", zkfs_cfg.spec,
		    zkc_strerror(rc));
	if (inode_table_init())
		die("out of memory");

	{
		/* fsname shows the SPEC in mount(8) and /proc/mounts; commas in
		 * it must be escaped for FUSE's option parser. */
		char *o = malloc(strlen(zkfs_cfg.spec) * 2 + 32), *q;
		if (!o)
			die("out of memory");
		q = o + sprintf(o, "subtype=zkfs,fsname=");
		for (const char *c = zkfs_cfg.spec; *c; c++) {
			if (*c == ',' || *c == '\\')
				*q++ = '\\';
			*q++ = *c;
		}
		*q = '\0';
		fuse_opt_add_arg(&fargs, "-o");
		fuse_opt_add_arg(&fargs, o);
		free(o);
	}
	zkfs_fuse = fuse_session_new(&fargs, &zkfs_ops, sizeof(zkfs_ops), NULL);
	fuse_opt_free_args(&fargs); /* parsed into the session */
	if (!zkfs_fuse)
		die("bad FUSE options");
	if (fuse_set_signal_handlers(zkfs_fuse))
		die("cannot set signal handlers");
	if (fuse_session_mount(zkfs_fuse, zkfs_cfg.mountpoint))
		die("cannot mount on %s", zkfs_cfg.mountpoint);

	if (notify_start())
		die("cannot start the notify thread");
	rc = notify_watch_session(main_sess);
	if (rc == -ENOTSUP)
		zkfs_log("server lacks addWatch: falling back to one-shot watches (one-shot mode)");
	else if (rc)
		zkfs_log("could not install the root watch: %s", strerror(-rc));
	locks_init();
	if (holders_start())
		die("cannot start the holders thread");
	if (pthread_create(&renew_thr, NULL, renew_main, NULL))
		die("cannot start the session renewal thread");

	zkfs_log("mounted %s on %s (session 0x%llx)", zkfs_cfg.spec, zkfs_cfg.mountpoint,
		 (unsigned long long)zkc_session_id(main_sess, NULL));
	if (status_fd >= 0) {
		int null = open("/dev/null", O_RDWR);
		(void)!write(status_fd, "O", 1);
		close(status_fd);
		status_fd = -1;
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2); /* the log goes to log=FILE, if any */
			close(null);
		}
		if (chdir("/"))
			zkfs_log("chdir /: %s", strerror(errno));
	}

	lcfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(lcfg, 64);
	fuse_loop_cfg_set_idle_threads(lcfg, 8);
	rc = fuse_session_loop_mt(zkfs_fuse, lcfg);
	fuse_loop_cfg_destroy(lcfg);

	zkfs_log("unmounting %s", zkfs_cfg.mountpoint);
	fuse_session_unmount(zkfs_fuse);
	fuse_remove_signal_handlers(zkfs_fuse);
	pthread_mutex_lock(&renew_mu);
	renew_stop = true;
	pthread_cond_signal(&renew_cv);
	pthread_cond_broadcast(&renewed_cv);
	pthread_mutex_unlock(&renew_mu);
	pthread_join(renew_thr, NULL);
	holders_stop();
	notify_stop();
	pthread_rwlock_wrlock(&sess_lock);
	zkc_b_close(main_sess);
	main_sess = NULL;
	pthread_rwlock_unlock(&sess_lock);
	/* The replay thread may still be inside a call on the mount that is
	 * gone, and may then send a notification: the FUSE session is left
	 * for the process exit to reclaim rather than freed under it. */
	return rc ? 1 : 0;
}
