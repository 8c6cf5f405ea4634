/*
 * cli.c — zkfs-cli, a command-line tool for ZooKeeper-compatible servers
 * (zkfs-server or Apache ZooKeeper), built on libzkc's blocking API.
 *
 * One invocation = one session: parse global options, open the session
 * (applying -a credentials), run one command, close.  Exit codes are part of
 * the interface (scripts branch on them); see usage() and docs/zkfs-cli.1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "zkc.h"

enum {
	EX_OK_ = 0,
	EX_ERROR = 1,   /* any other failure */
	EX_USAGE_ = 2,  /* bad command line */
	EX_NONODE = 3,
	EX_EXISTS = 4,
	EX_BADVER = 5,
	EX_NOTEMPTY = 6,
	EX_AUTH = 7,    /* NoAuth, AuthFailed */
	EX_CONN = 8,    /* cannot connect, connection lost, session expired, timeout */
};

static const char *progname = "zkfs-cli";
static int timeout_s_ms = 10000;

/* The session is opened lazily, once a command has checked its arguments,
 * so usage errors never wait for a server. */
static zkc_client *g_client;
static zkc_session *g_sess;
static const char *g_spec;
static struct zkc_options g_opt;
static int g_open_err;

static int connect_err(void);
#define SESSION(s)                                  \
	zkc_session *s = open_session();            \
	if (!s)                                     \
		return connect_err()
static zkc_session *open_session(void);

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-s SPEC] [-t SECONDS] [-a SCHEME:AUTH]... [TLS OPTIONS]\n"
		"       [--sasl MECH] [--sasl-file FILE] [-c client.properties] COMMAND [ARGS]\n"
		"\n"
		"  -s SPEC      servers \"host:port[,host:port...][/chroot]\"\n"
		"               (default $ZKFS_SERVER, else 127.0.0.1:2181)\n"
		"  -t SECONDS   session timeout and per-operation deadline (default 10)\n"
		"  -a SCHEME:AUTH  authenticate before the command, e.g. -a digest:user:pass\n"
		"  --sasl MECH  SASL authentication: DIGEST-MD5 or GSSAPI (default: from the file)\n"
		"  --sasl-file FILE  SASL credentials: a JAAS file (its Client section) or\n"
		"               'username=' / 'password=' / 'principal=' / 'keytab=' lines\n"
		"  -c FILE      ZooKeeper client properties (java.security.auth.login.config\n"
		"               unless --sasl-file is given, zookeeper.sasl.client,\n"
		"               zookeeper.sasl.clientconfig, zookeeper.sasl.client.username,\n"
		"               zookeeper.server.principal)\n"
		"\n"
		"TLS (to a secureClientPort):\n"
		"  --tls                 connect with TLS\n"
		"  --cafile FILE         CA certificates (PEM) the server's certificate must\n"
		"                        chain to (default: the system's)\n"
		"  --certfile FILE       client certificate (PEM, or a PKCS12 .p12 store)\n"
		"  --keyfile FILE        its private key (PEM; default: in --certfile)\n"
		"  --keypassfile FILE    the key's password, first line of FILE\n"
		"  --no-verify-host      don't check the server's name/IP in its certificate\n"
		"  -c FILE              ZooKeeper client properties (zookeeper.client.secure,\n"
		"                        zookeeper.ssl.keyStore.location, ...trustStore.location,\n"
		"                        ...hostnameVerification, ...) as the Java client reads them\n"
		"\n"
		"commands:\n"
		"  ls [-R] PATH                   children, one per line, sorted (-R: every\n"
		"                                 descendant as a full path, PATH first)\n"
		"  get PATH                       data to stdout, unchanged\n"
		"  set [-v VERSION] PATH [DATA]   DATA absent or '-': read stdin\n"
		"  create [-e] [-s] [-c] [-t TTL_MS] PATH [DATA]\n"
		"                                 prints the created path (-e ephemeral,\n"
		"                                 -s sequential, -c container, -t TTL)\n"
		"  delete [-r] [-v VERSION] PATH  -r: the whole subtree\n"
		"  exists PATH                    exit 0 if it exists, 3 if not\n"
		"  stat PATH                      the Stat, one 'name = value' per line\n"
		"  watch [-r] PATH                one line 'EVENT PATH' per change until\n"
		"                                 interrupted (-r: the whole subtree)\n"
		"  getacl PATH                    'scheme:id:perms' lines\n"
		"  setacl [-v VERSION] PATH ACL   ACL = scheme:id:perms[,...], perms from cdrwa\n"
		"  sync PATH\n"
		"  addauth SCHEME AUTH            authenticate (check credentials)\n"
		"  whoami                         'scheme user' lines\n"
		"  ephemerals [PREFIX]            this session's ephemerals (not very useful)\n"
		"  count PATH                     number of descendants\n"
		"  4lw CMD                        send a four-letter word, print the answer\n"
		"\n"
		"exit status: 0 ok, 1 other error, 2 usage, 3 no node, 4 node exists,\n"
		"  5 bad version, 6 not empty, 7 not authorised / auth failed,\n"
		"  8 connection failure (cannot connect, connection lost, expired, timeout)\n",
		progname);
}

static int exit_code(int err)
{
	switch (err) {
	case ZE_OK: return EX_OK_;
	case ZE_NONODE: return EX_NONODE;
	case ZE_NODEEXISTS: return EX_EXISTS;
	case ZE_BADVERSION: return EX_BADVER;
	case ZE_NOTEMPTY: return EX_NOTEMPTY;
	case ZE_NOAUTH:
	case ZE_AUTHFAILED:
	case ZE_SESSIONCLOSEDREQUIRESASLAUTH: return EX_AUTH;
	case ZE_CONNECTIONLOSS:
	case ZE_SESSIONEXPIRED:
	case ZE_OPERATIONTIMEOUT:
	case ZE_CLOSING: return EX_CONN;
	case ZE_BADARGUMENTS: return EX_USAGE_;
	default: return EX_ERROR;
	}
}

static int fail(int err, const char *what, const char *path)
{
	fprintf(stderr, "%s: %s%s%s: %s\n", progname, what, path ? " " : "", path ? path : "", zkc_strerror(err));
	return exit_code(err);
}

static int usage_error(const char *msg)
{
	fprintf(stderr, "%s: %s (try --help)\n", progname, msg);
	return EX_USAGE_;
}

/* Data from argv[i] or stdin ("-" or absent).  Sets *len; malloc'd. */
static char *read_data(int argc, char **argv, int i, int32_t *len)
{
	if (i < argc && strcmp(argv[i], "-") != 0) {
		*len = (int32_t)strlen(argv[i]);
		return strdup(argv[i]);
	}
	if (i >= argc && isatty(0)) {
		*len = 0;
		return strdup("");
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (n == cap) {
			char *nb = cap > 16 * 1024 * 1024 ? NULL : realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(0, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = (int32_t)n;
	return buf;
}

static int parse_int(const char *s, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 0);
	if (errno || !*s || *end)
		return -1;
	*out = v;
	return 0;
}

static zkc_session *open_session(void)
{
	if (g_sess || g_open_err)
		return g_sess;
	if (zkc_client_new(&g_client)) {
		g_open_err = ZE_SYSTEMERROR;
		return NULL;
	}
	int session_ms = timeout_s_ms < 4000 ? 4000 : timeout_s_ms;
	int err = zkc_b_open(g_client, g_spec, session_ms, &g_opt, timeout_s_ms, &g_sess);
	if (err) {
		g_sess = NULL;
		g_open_err = err == ZE_OPERATIONTIMEOUT ? ZE_CONNECTIONLOSS : err;
	}
	return g_sess;
}

static char g_tls_err[256];

static int connect_err(void)
{
	/* a TLS failure says more than "connection loss" */
	if (g_tls_err[0])
		fprintf(stderr, "%s: %s: %s\n", progname, g_spec, g_tls_err);
	return fail(g_open_err, "connecting to", g_spec);
}

/* ------------------------------------------------------------------ commands */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name);
	return p;
}

static int ls_rec(zkc_session *s, const char *path, bool rec)
{
	struct zk_str_vec kids = {0};
	int err = zkc_b_get_children(s, path, NULL, NULL, &kids, NULL);
	if (err)
		return err;
	if (kids.n > 1)
		qsort(kids.v, (size_t)kids.n, sizeof(char *), cmp_str);
	for (int32_t i = 0; i < kids.n && !err; i++) {
		if (!rec) {
			printf("%s\n", kids.v[i]);
			continue;
		}
		char *child = join(path, kids.v[i]);
		if (!child) {
			err = ZE_SYSTEMERROR;
			break;
		}
		printf("%s\n", child);
		err = ls_rec(s, child, true);
		if (err == ZE_NONODE)
			err = ZE_OK; /* deleted meanwhile */
		free(child);
	}
	zk_str_vec_free(&kids);
	return err;
}

static int cmd_ls(int argc, char **argv)
{
	bool rec = false;
	int c;
	optind = 1;
	while ((c = getopt(argc, argv, "+R")) != -1) {
		if (c == 'R')
			rec = true;
		else
			return usage_error("ls: bad option");
	}
	if (optind != argc - 1)
		return usage_error("ls: PATH expected");
	const char *path = argv[optind];
	SESSION(s);
	if (rec)
		printf("%s\n", path);
	int err = ls_rec(s, path, rec);
	return err ? fail(err, "ls", path) : 0;
}

static int cmd_get(int argc, char **argv)
{
	if (argc != 2)
		return usage_error("get: PATH expected");
	uint8_t *data = NULL;
	int32_t len = -1;
	SESSION(s);
	int err = zkc_b_get(s, argv[1], NULL, NULL, &data, &len, NULL);
	if (err)
		return fail(err, "get", argv[1]);
	if (len > 0)
		fwrite(data, 1, (size_t)len, stdout);
	free(data);
	return 0;
}

/* The only option of set and setacl, -v VERSION (*version -1 without it):
 * returns 0 with optind at the first operand, or a usage exit code. */
static int version_opt(int argc, char **argv, const char *cmd, long long *version)
{
	char msg[64];
	int c;
	*version = -1;
	optind = 1;
	while ((c = getopt(argc, argv, "+v:")) != -1) {
		if (c == 'v' && parse_int(optarg, version) == 0)
			continue;
		snprintf(msg, sizeof(msg), "%s: bad option", cmd);
		return usage_error(msg);
	}
	return 0;
}

static int cmd_set(int argc, char **argv)
{
	long long version;
	int rc = version_opt(argc, argv, "set", &version);
	if (rc)
		return rc;
	if (optind >= argc || argc - optind > 2)
		return usage_error("set: PATH [DATA] expected");
	SESSION(s);
	int32_t len;
	char *data = read_data(argc, argv, optind + 1, &len);
	if (!data)
		return fail(ZE_SYSTEMERROR, "set: reading data", NULL);
	int err = zkc_b_set(s, argv[optind], data, len, (int32_t)version, NULL);
	free(data);
	return err ? fail(err, "set", argv[optind]) : 0;
}

static int cmd_create(int argc, char **argv)
{
	bool eph = false, seq = false, cont = false;
	long long ttl = 0;
	int c;
	optind = 1;
	while ((c = getopt(argc, argv, "+esct:")) != -1) {
		switch (c) {
		case 'e': eph = true; break;
		case 's': seq = true; break;
		case 'c': cont = true; break;
		case 't':
			if (parse_int(optarg, &ttl) || ttl <= 0)
				return usage_error("create: bad TTL");
			break;
		default: return usage_error("create: bad option");
		}
	}
	if (optind >= argc || argc - optind > 2)
		return usage_error("create: PATH [DATA] expected");
	int mode;
	if (cont) {
		if (eph || seq || ttl)
			return usage_error("create: -c excludes -e, -s and -t");
		mode = ZK_CONTAINER;
	} else if (ttl) {
		if (eph)
			return usage_error("create: -t excludes -e");
		mode = seq ? ZK_PERSISTENT_SEQUENTIAL_WITH_TTL : ZK_PERSISTENT_WITH_TTL;
	} else {
		mode = eph ? (seq ? ZK_EPHEMERAL_SEQUENTIAL : ZK_EPHEMERAL)
			   : (seq ? ZK_PERSISTENT_SEQUENTIAL : ZK_PERSISTENT);
	}
	SESSION(s);
	int32_t len;
	char *data = read_data(argc, argv, optind + 1, &len);
	if (!data)
		return fail(ZE_SYSTEMERROR, "create: reading data", NULL);
	char *created = NULL;
	int err = zkc_b_create(s, argv[optind], data, len, NULL, mode, ttl, &created, NULL);
	free(data);
	if (err)
		return fail(err, "create", argv[optind]);
	printf("%s\n", created);
	free(created);
	return 0;
}

static int delete_rec(zkc_session *s, const char *path)
{
	struct zk_str_vec kids = {0};
	int err = zkc_b_get_children(s, path, NULL, NULL, &kids, NULL);
	if (err)
		return err;
	for (int32_t i = 0; i < kids.n && !err; i++) {
		char *child = join(path, kids.v[i]);
		if (!child) {
			err = ZE_SYSTEMERROR;
			break;
		}
		err = delete_rec(s, child);
		if (err == ZE_NONODE)
			err = ZE_OK;
		free(child);
	}
	zk_str_vec_free(&kids);
	if (!err)
		err = zkc_b_delete(s, path, -1);
	return err;
}

static int cmd_delete(int argc, char **argv)
{
	bool rec = false;
	long long version = -1;
	int c;
	optind = 1;
	while ((c = getopt(argc, argv, "+rv:")) != -1) {
		if (c == 'r')
			rec = true;
		else if (c == 'v' && parse_int(optarg, &version) == 0)
			continue;
		else
			return usage_error("delete: bad option");
	}
	if (optind != argc - 1)
		return usage_error("delete: PATH expected");
	if (rec && version != -1)
		return usage_error("delete: -r excludes -v");
	const char *path = argv[optind];
	SESSION(s);
	int err = rec ? delete_rec(s, path) : zkc_b_delete(s, path, (int32_t)version);
	return err ? fail(err, "delete", path) : 0;
}

static int cmd_exists(int argc, char **argv)
{
	if (argc != 2)
		return usage_error("exists: PATH expected");
	SESSION(s);
	int err = zkc_b_exists(s, argv[1], NULL, NULL, NULL);
	if (err == ZE_NONODE)
		return EX_NONODE;
	return err ? fail(err, "exists", argv[1]) : 0;
}

static void print_time(const char *name, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[64];
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	printf("%s = %s.%03dZ\n", name, buf, (int)(ms % 1000));
}

static int cmd_stat(int argc, char **argv)
{
	if (argc != 2)
		return usage_error("stat: PATH expected");
	struct zk_stat st;
	SESSION(s);
	int err = zkc_b_exists(s, argv[1], NULL, NULL, &st);
	if (err)
		return fail(err, "stat", argv[1]);
	printf("cZxid = 0x%llx\n", (unsigned long long)st.czxid);
	print_time("ctime", st.ctime);
	printf("mZxid = 0x%llx\n", (unsigned long long)st.mzxid);
	print_time("mtime", st.mtime);
	printf("pZxid = 0x%llx\n", (unsigned long long)st.pzxid);
	printf("cversion = %d\n", st.cversion);
	printf("dataVersion = %d\n", st.version);
	printf("aclVersion = %d\n", st.aversion);
	printf("ephemeralOwner = 0x%llx\n", (unsigned long long)st.ephemeral_owner);
	printf("dataLength = %d\n", st.data_length);
	printf("numChildren = %d\n", st.num_children);
	return 0;
}

static int cmd_getacl(int argc, char **argv)
{
	if (argc != 2)
		return usage_error("getacl: PATH expected");
	struct zk_acl_vec acl = {0};
	SESSION(s);
	int err = zkc_b_get_acl(s, argv[1], &acl, NULL);
	if (err)
		return fail(err, "getacl", argv[1]);
	for (int32_t i = 0; i < acl.n; i++) {
		char perms[8];
		zkc_perms_format(acl.v[i].perms, perms);
		printf("%s:%s:%s\n", acl.v[i].id.scheme, acl.v[i].id.id, perms);
	}
	zk_acl_vec_free(&acl);
	return 0;
}

static int cmd_setacl(int argc, char **argv)
{
	long long version;
	int rc = version_opt(argc, argv, "setacl", &version);
	if (rc)
		return rc;
	if (argc - optind != 2)
		return usage_error("setacl: PATH ACL expected");
	struct zk_acl_vec acl;
	if (zkc_acl_parse(argv[optind + 1], &acl))
		return usage_error("setacl: bad ACL (scheme:id:perms[,...])");
	SESSION(s);
	int err = zkc_b_set_acl(s, argv[optind], &acl, (int32_t)version, NULL);
	zk_acl_vec_free(&acl);
	return err ? fail(err, "setacl", argv[optind]) : 0;
}

static int cmd_sync(int argc, char **argv)
{
	if (argc != 2)
		return usage_error("sync: PATH expected");
	SESSION(s);
	int err = zkc_b_sync(s, argv[1]);
	return err ? fail(err, "sync", argv[1]) : 0;
}

static int cmd_addauth(int argc, char **argv)
{
	if (argc != 3)
		return usage_error("addauth: SCHEME AUTH expected");
	SESSION(s);
	int err = zkc_b_add_auth(s, argv[1], argv[2], strlen(argv[2]));
	return err ? fail(err, "addauth", argv[1]) : 0;
}

static int cmd_whoami(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return usage_error("whoami: no arguments");
	struct zkc_result res = {0};
	SESSION(s);
	int err = zkc_b_whoami(s, &res);
	if (err)
		return fail(err, "whoami", NULL);
	for (int32_t i = 0; i < res.r.ninfo; i++)
		printf("%s %s\n", res.r.info[i].auth_scheme ? res.r.info[i].auth_scheme : "",
		       res.r.info[i].user ? res.r.info[i].user : "");
	zkc_result_free(&res);
	return 0;
}

static int cmd_ephemerals(int argc, char **argv)
{
	if (argc > 2)
		return usage_error("ephemerals: [PREFIX] expected");
	struct zk_str_vec v = {0};
	SESSION(s);
	int err = zkc_b_get_ephemerals(s, argc == 2 ? argv[1] : "/", &v);
	if (err)
		return fail(err, "ephemerals", NULL);
	if (v.n > 1)
		qsort(v.v, (size_t)v.n, sizeof(char *), cmp_str);
	for (int32_t i = 0; i < v.n; i++)
		printf("%s\n", v.v[i]);
	zk_str_vec_free(&v);
	return 0;
}

static int cmd_count(int argc, char **argv)
{
	if (argc != 2)
		return usage_error("count: PATH expected");
	int32_t n = 0;
	SESSION(s);
	int err = zkc_b_get_all_children_number(s, argv[1], &n);
	if (err)
		return fail(err, "count", argv[1]);
	printf("%d\n", n);
	return 0;
}

/* ------------------------------------------------------------------ watch */

static pthread_t main_thread;
static volatile int watch_exit = -1;

static const char *event_name(int type)
{
	switch (type) {
	case ZK_EVENT_CREATED: return "NodeCreated";
	case ZK_EVENT_DELETED: return "NodeDeleted";
	case ZK_EVENT_DATA_CHANGED: return "NodeDataChanged";
	case ZK_EVENT_CHILD_CHANGED: return "NodeChildrenChanged";
	case ZK_EVENT_DATA_WATCH_REMOVED: return "DataWatchRemoved";
	case ZK_EVENT_CHILD_WATCH_REMOVED: return "ChildWatchRemoved";
	case ZK_EVENT_PERSISTENT_WATCH_REMOVED: return "PersistentWatchRemoved";
	}
	return "None";
}

static void wake_main(int code)
{
	if (watch_exit < 0)
		watch_exit = code;
	pthread_kill(main_thread, SIGUSR1);
}

static void on_watch(zkc_session *s, const struct zkc_event *ev, void *arg)
{
	(void)s;
	(void)arg;
	if (ev->type == ZK_EVENT_NONE)
		return; /* the session ended; the state callback reports it */
	if (printf("%s %s\n", event_name(ev->type), ev->path) < 0 || fflush(stdout) != 0)
		wake_main(0); /* reader went away (pipeline closed): done */
}

static void on_state(zkc_session *s, int state, void *arg)
{
	(void)s;
	(void)arg;
	if (state == ZKC_STATE_EXPIRED || state == ZKC_STATE_AUTH_FAILED) {
		fprintf(stderr, "%s: session %s\n", progname, zkc_state_name(state));
		wake_main(state == ZKC_STATE_EXPIRED ? EX_CONN : EX_AUTH);
	}
}

static int cmd_watch(int argc, char **argv, sigset_t *set)
{
	bool rec = false;
	int c;
	optind = 1;
	while ((c = getopt(argc, argv, "+r")) != -1) {
		if (c == 'r')
			rec = true;
		else
			return usage_error("watch: bad option");
	}
	if (optind != argc - 1)
		return usage_error("watch: PATH expected");
	SESSION(s);
	int err = zkc_b_add_watch(s, argv[optind],
				  rec ? ZK_ADDWATCH_PERSISTENT_RECURSIVE : ZK_ADDWATCH_PERSISTENT, on_watch, NULL);
	if (err)
		return fail(err, "watch", argv[optind]);
	for (;;) {
		int sig;
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig != SIGUSR1)
			return 0; /* interrupted: a normal end */
		if (watch_exit >= 0)
			return watch_exit;
	}
}

/* ------------------------------------------------------------------ 4lw */

static int cmd_4lw(const char *spec, int argc, char **argv)
{
	if (argc != 2 || strlen(argv[1]) != 4)
		return usage_error("4lw: a four-letter command expected");
	/* First host of the spec. */
	char host[256];
	snprintf(host, sizeof(host), "%s", spec);
	host[strcspn(host, ",/")] = 0;
	const char *port = "2181";
	char *h = host;
	if (*h == '[') {
		char *e = strchr(h, ']');
		if (!e)
			return usage_error("bad server spec");
		*e = 0;
		if (e[1] == ':')
			port = e + 2;
		h++;
	} else {
		char *colon = strrchr(h, ':');
		if (colon) {
			*colon = 0;
			port = colon + 1;
		}
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
	if (getaddrinfo(h, port, &hints, &res) != 0)
		return fail(ZE_CONNECTIONLOSS, "4lw: resolving", h);
	int fd = -1;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return fail(ZE_CONNECTIONLOSS, "4lw: connecting to", spec);
	if (write(fd, argv[1], 4) != 4) {
		close(fd);
		return fail(ZE_CONNECTIONLOSS, "4lw", argv[1]);
	}
	char buf[65536];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	for (;;) {
		int r = poll(&p, 1, timeout_s_ms);
		if (r <= 0) {
			close(fd);
			return fail(ZE_OPERATIONTIMEOUT, "4lw", argv[1]);
		}
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		fwrite(buf, 1, (size_t)n, stdout);
	}
	close(fd);
	return 0;
}

/* ------------------------------------------------------------------ SASL options */

static void set_opt(char **dst, const char *v)
{
	free(*dst);
	*dst = strdup(v);
}

/*
 * Fills *out from --sasl MECH, --sasl-file FILE and the SASL keys of -c
 * files (--sasl-file, when given, wins over their login config); returns 0
 * (SASL or not) or a usage exit code.
 */
static int sasl_setup(const struct zkc_sasl_props *props, const char *mech, const char *file,
		      struct zkc_sasl *out, bool *on)
{
	char err[512];
	*on = false;
	if (mech && !file && !props->login_config && !props->disabled)
		return usage_error("--sasl needs --sasl-file (credentials are never read from the command line)");
	if (zkc_sasl_props_load(props, file, mech, out, on, err, sizeof(err)) != ZE_OK) {
		fprintf(stderr, "%s: %s\n", progname, err);
		return EX_USAGE_;
	}
	return 0;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
	const char *spec = getenv("ZKFS_SERVER");
	if (!spec || !*spec)
		spec = "127.0.0.1:2181";
	struct zkc_auth auth[16];
	char *auth_copies[16];
	int nauth = 0;
	enum { O_TLS = 256, O_CA, O_CERT, O_KEY, O_KEYPASS, O_NOVERIFY, O_SASL, O_SASLFILE };
	static const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
						 {"tls", no_argument, NULL, O_TLS},
						 {"cafile", required_argument, NULL, O_CA},
						 {"certfile", required_argument, NULL, O_CERT},
						 {"keyfile", required_argument, NULL, O_KEY},
						 {"keypassfile", required_argument, NULL, O_KEYPASS},
						 {"no-verify-host", no_argument, NULL, O_NOVERIFY},
						 {"sasl", required_argument, NULL, O_SASL},
						 {"sasl-file", required_argument, NULL, O_SASLFILE},
						 {NULL, 0, NULL, 0}};
	struct zkc_tls tls = {0};
	bool use_tls = false;
	char tls_err[512];
	/* --sasl, --sasl-file and -c's SASL keys */
	char *sasl_mech = NULL, *sasl_file = NULL;
	struct zkc_sasl_props props = {0};
	struct zkc_sasl sasl = {0};
	bool sasl_on = false;
	int rc = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+s:t:a:c:h", longopts, NULL)) != -1) {
		const char **field = NULL;
		switch (c) {
		case O_TLS:
			use_tls = true;
			break;
		case O_CA:
			field = &tls.ca_file;
			break;
		case O_CERT:
			field = &tls.cert_file;
			break;
		case O_KEY:
			field = &tls.key_file;
			break;
		case O_KEYPASS: {
			char *pw = NULL;
			int e = zkc_read_secret_file(optarg, &pw);
			if (e) {
				fprintf(stderr, "%s: cannot read %s: %s\n", progname, optarg, strerror(-e));
				return EX_USAGE_;
			}
			free((char *)tls.key_password);
			tls.key_password = pw;
			break;
		}
		case O_NOVERIFY:
			tls.no_verify_host = true;
			break;
		case O_SASL:
			set_opt(&sasl_mech, optarg);
			break;
		case O_SASLFILE:
			set_opt(&sasl_file, optarg);
			break;
		case 'c':
			/* one properties file, ZooKeeper's names for both */
			if (zkc_client_properties(optarg, &tls, &use_tls, &props, tls_err,
						  sizeof(tls_err)) < 0) {
				fprintf(stderr, "%s: %s\n", progname, tls_err);
				rc = EX_USAGE_;
				goto out_opts;
			}
			break;
		case 's':
			spec = optarg;
			break;
		case 't': {
			char *end;
			double t = strtod(optarg, &end);
			if (*end || t <= 0 || t > 86400)
				return usage_error("bad -t SECONDS");
			timeout_s_ms = (int)(t * 1000);
			break;
		}
		case 'a': {
			char *colon = strchr(optarg, ':');
			if (!colon || nauth == 16)
				return usage_error("bad -a SCHEME:AUTH");
			auth_copies[nauth] = strndup(optarg, (size_t)(colon - optarg));
			auth[nauth].scheme = auth_copies[nauth];
			auth[nauth].data = colon + 1;
			auth[nauth].len = strlen(colon + 1);
			nauth++;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE_;
		}
		if (field) {
			free((char *)*field);
			*field = strdup(optarg);
			use_tls = true;
		}
	}
	if (use_tls && zkc_tls_check(&tls, tls_err, sizeof(tls_err)) != ZE_OK) {
		fprintf(stderr, "%s: TLS: %s\n", progname, tls_err);
		rc = EX_USAGE_;
	} else if (optind >= argc) {
		usage(stderr);
		rc = EX_USAGE_;
	} else {
		rc = sasl_setup(&props, sasl_mech, sasl_file, &sasl, &sasl_on);
	}
out_opts:
	free(sasl_mech);
	free(sasl_file);
	zkc_sasl_props_free(&props);
	if (rc)
		goto out_auth;
	char **cargv = argv + optind;
	int cargc = argc - optind;
	const char *cmd = cargv[0];
	if (strcmp(cmd, "4lw") == 0) {
		rc = cmd_4lw(spec, cargc, cargv);
		goto out_auth;
	}
	static const char *known[] = {"ls", "get", "set", "create", "delete", "rm", "exists", "stat", "watch",
				      "getacl", "setacl", "sync", "addauth", "whoami", "ephemerals", "count", NULL};
	bool ok = false;
	for (int i = 0; known[i]; i++)
		ok = ok || strcmp(cmd, known[i]) == 0;
	if (!ok) {
		fprintf(stderr, "%s: unknown command '%s' (try --help)\n", progname, cmd);
		rc = EX_USAGE_;
		goto out_auth;
	}

	/* Signals go to sigwait in the main thread only (watch); the loop thread
	 * inherits the blocked mask.  SIGPIPE becomes EPIPE on write. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	bool watching = strcmp(cmd, "watch") == 0;
	if (watching)
		pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	main_thread = pthread_self();

	g_spec = spec;
	g_opt = (struct zkc_options){.auth = auth, .nauth = nauth, .op_deadline_ms = timeout_s_ms,
				     .tls = use_tls ? &tls : NULL, .tls_err_buf = g_tls_err,
				     .tls_err_len = sizeof(g_tls_err), .sasl = sasl_on ? &sasl : NULL};
	if (watching)
		g_opt.state_cb = on_state;
	if (strcmp(cmd, "ls") == 0)
		rc = cmd_ls(cargc, cargv);
	else if (strcmp(cmd, "get") == 0)
		rc = cmd_get(cargc, cargv);
	else if (strcmp(cmd, "set") == 0)
		rc = cmd_set(cargc, cargv);
	else if (strcmp(cmd, "create") == 0)
		rc = cmd_create(cargc, cargv);
	else if (strcmp(cmd, "delete") == 0 || strcmp(cmd, "rm") == 0)
		rc = cmd_delete(cargc, cargv);
	else if (strcmp(cmd, "exists") == 0)
		rc = cmd_exists(cargc, cargv);
	else if (strcmp(cmd, "stat") == 0)
		rc = cmd_stat(cargc, cargv);
	else if (watching)
		rc = cmd_watch(cargc, cargv, &set);
	else if (strcmp(cmd, "getacl") == 0)
		rc = cmd_getacl(cargc, cargv);
	else if (strcmp(cmd, "setacl") == 0)
		rc = cmd_setacl(cargc, cargv);
	else if (strcmp(cmd, "sync") == 0)
		rc = cmd_sync(cargc, cargv);
	else if (strcmp(cmd, "addauth") == 0)
		rc = cmd_addauth(cargc, cargv);
	else if (strcmp(cmd, "whoami") == 0)
		rc = cmd_whoami(cargc, cargv);
	else if (strcmp(cmd, "ephemerals") == 0)
		rc = cmd_ephemerals(cargc, cargv);
	else
		rc = cmd_count(cargc, cargv);
	if (fflush(stdout) != 0 && rc == 0 && !watching)
		rc = EX_ERROR;
	if (g_sess)
		zkc_b_close(g_sess);
	if (g_client)
		zkc_client_free(g_client);
out_auth:
	for (int i = 0; i < nauth; i++)
		free(auth_copies[i]);
	zkc_tls_free_strings(&tls);
	zkc_sasl_clear(&sasl);
	return rc;
}
