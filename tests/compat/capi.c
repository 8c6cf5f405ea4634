/*
 * capi.c — drives one server through the Apache C client library
 * (libzookeeper_mt, synchronous API) and prints TAP.  The C client is the
 * strictest decoder of the protocol (it reads the handshake as exactly 41
 * bytes and fails on null strings), so this checks that zkfs-server's
 * replies decode where real C programs will decode them.  Built and run by
 * tests/compat/cclient.sh: capi HOST:PORT LABEL.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

static int n_test, n_fail;
static const char *label = "";

static void check(int ok, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#include <stdarg.h>
static void check(int ok, const char *name, const char *fmt, ...)
{
	n_test++;
	printf("%s %d - %s: %s\n", ok ? "ok" : "not ok", n_test, label, name);
	if (!ok) {
		va_list ap;
		n_fail++;
		printf("# ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int connected, n_events, last_type;
static char last_path[256];

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	(void)zh;
	(void)ctx;
	pthread_mutex_lock(&mu);
	if (type == ZOO_SESSION_EVENT) {
		connected = state == ZOO_CONNECTED_STATE;
	} else {
		n_events++;
		last_type = type;
		snprintf(last_path, sizeof last_path, "%s", path ? path : "");
	}
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

/* Waits until cond holds (checked under mu) or 5 s pass. */
static int wait_until(int *var, int want)
{
	struct timespec ts;
	int ok;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	pthread_mutex_lock(&mu);
	while (*var < want)
		if (pthread_cond_timedwait(&cv, &mu, &ts) == ETIMEDOUT)
			break;
	ok = *var >= want;
	pthread_mutex_unlock(&mu);
	return ok;
}

int main(int argc, char **argv)
{
	char buf[1024], path[256];
	int len, rc;
	struct Stat st;
	struct String_vector kids;
	zhandle_t *zh;

	if (argc < 3) {
		fprintf(stderr, "usage: capi HOST:PORT LABEL\n");
		return 2;
	}
	label = argv[2];
	zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
	zh = zookeeper_init(argv[1], watcher, 10000, NULL, NULL, 0);
	check(zh != NULL, "init", "zookeeper_init failed");
	if (!zh)
		return 1;
	check(wait_until(&connected, 1), "connect", "no session within 5 s");
	check(zoo_recv_timeout(zh) == 10000, "negotiated timeout", "got %d", zoo_recv_timeout(zh));

	rc = zoo_create(zh, "/capi", "hello", 5, &ZOO_OPEN_ACL_UNSAFE, 0, path, sizeof path);
	check(rc == ZOK && !strcmp(path, "/capi"), "create", "rc %d path %s", rc, path);
	rc = zoo_create(zh, "/capi", "x", 1, &ZOO_OPEN_ACL_UNSAFE, 0, path, sizeof path);
	check(rc == ZNODEEXISTS, "create existing", "rc %d", rc);
	rc = zoo_create2(zh, "/capi/s-", "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_SEQUENTIAL, path,
			 sizeof path, &st);
	check(rc == ZOK && !strcmp(path, "/capi/s-0000000000") && st.version == 0 && st.czxid == st.pzxid,
	      "create2 sequential", "rc %d path %s", rc, path);
	rc = zoo_create(zh, "/capi/e", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, path, sizeof path);
	check(rc == ZOK, "create ephemeral with null data", "rc %d", rc);
	len = sizeof buf;
	rc = zoo_get(zh, "/capi/e", 0, buf, &len, &st);
	check(rc == ZOK && len == -1 && st.dataLength == 0 && st.ephemeralOwner == zoo_client_id(zh)->client_id,
	      "get null data", "rc %d len %d dataLength %d", rc, len, st.dataLength);
	rc = zoo_create2_ttl(zh, "/capi/ttl", "t", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_WITH_TTL, 60000,
			     path, sizeof path, &st);
	check(rc == ZOK, "create TTL", "rc %d", rc);
	rc = zoo_create(zh, "/capi/cont", "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_CONTAINER, path, sizeof path);
	check(rc == ZOK, "create container", "rc %d", rc);

	len = sizeof buf;
	rc = zoo_wget(zh, "/capi", watcher, NULL, buf, &len, &st);
	check(rc == ZOK && len == 5 && !memcmp(buf, "hello", 5) && st.numChildren == 4, "get with watch",
	      "rc %d len %d children %d", rc, len, st.numChildren);
	rc = zoo_set2(zh, "/capi", "world", 5, 0, &st);
	check(rc == ZOK && st.version == 1, "set", "rc %d version %d", rc, st.version);
	check(wait_until(&n_events, 1) && last_type == ZOO_CHANGED_EVENT && !strcmp(last_path, "/capi"),
	      "data watch fired", "events %d type %d path %s", n_events, last_type, last_path);
	rc = zoo_set(zh, "/capi", "x", 1, 0);
	check(rc == ZBADVERSION, "set bad version", "rc %d", rc);

	rc = zoo_wget_children2(zh, "/capi", watcher, NULL, &kids, &st);
	check(rc == ZOK && kids.count == 4 && st.cversion == 4, "get_children2", "rc %d count %d cversion %d", rc,
	      kids.count, st.cversion);
	if (rc == ZOK)
		deallocate_String_vector(&kids);
	rc = zoo_delete(zh, "/capi/cont", -1);
	check(rc == ZOK, "delete", "rc %d", rc);
	check(wait_until(&n_events, 2) && last_type == ZOO_CHILD_EVENT, "child watch fired", "events %d type %d",
	      n_events, last_type);
	rc = zoo_exists(zh, "/capi/nope", 1, &st);
	check(rc == ZNONODE, "exists missing (sets a watch)", "rc %d", rc);
	rc = zoo_create(zh, "/capi/nope", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, path, sizeof path);
	check(rc == ZOK && wait_until(&n_events, 3) && last_type == ZOO_CREATED_EVENT, "created event",
	      "rc %d events %d type %d", rc, n_events, last_type);
	rc = zoo_delete(zh, "/capi", -1);
	check(rc == ZNOTEMPTY, "delete not empty", "rc %d", rc);

	/* multi: one success, one failure shape */
	{
		zoo_op_t ops[3];
		zoo_op_result_t res[3];
		char p1[64], p2[64];
		zoo_create_op_init(&ops[0], "/capi/m1", "a", 1, &ZOO_OPEN_ACL_UNSAFE, 0, p1, sizeof p1);
		zoo_set_op_init(&ops[1], "/capi/m1", "b", 1, 0, NULL);
		zoo_check_op_init(&ops[2], "/capi/m1", 1);
		rc = zoo_multi(zh, 3, ops, res);
		check(rc == ZOK && res[0].err == 0 && res[1].err == 0 && res[2].err == 0 && !strcmp(p1, "/capi/m1"),
		      "multi", "rc %d errs %d %d %d", rc, res[0].err, res[1].err, res[2].err);
		zoo_create_op_init(&ops[0], "/capi/m2", "a", 1, &ZOO_OPEN_ACL_UNSAFE, 0, p2, sizeof p2);
		zoo_check_op_init(&ops[1], "/capi/m1", 7);
		zoo_delete_op_init(&ops[2], "/capi/m1", -1);
		rc = zoo_multi(zh, 3, ops, res);
		check(rc == ZBADVERSION && res[0].err == ZOK && res[1].err == ZBADVERSION &&
			      res[2].err == ZRUNTIMEINCONSISTENCY,
		      "multi failure", "rc %d errs %d %d %d", rc, res[0].err, res[1].err, res[2].err);
		rc = zoo_exists(zh, "/capi/m2", 0, &st);
		check(rc == ZNONODE, "failed multi applied nothing", "rc %d", rc);
	}

	/* ACLs and digest auth */
	{
		struct ACL acl_one[] = {{ZOO_PERM_ALL, {"digest", "carol:RffyCdXXV1Js0ywLAoP5/l25yKs="}}};
		struct ACL_vector acl = {1, acl_one}, got;
		/* the id above is base64(sha1("carol:pw")) */
		rc = zoo_create(zh, "/capi/acl", "s", 1, &acl, 0, path, sizeof path);
		check(rc == ZOK, "create with digest ACL", "rc %d", rc);
		len = sizeof buf;
		rc = zoo_get(zh, "/capi/acl", 0, buf, &len, &st);
		check(rc == ZNOAUTH, "read without auth", "rc %d", rc);
		rc = zoo_add_auth(zh, "digest", "carol:pw", 8, NULL, NULL);
		check(rc == ZOK, "add_auth", "rc %d", rc);
		usleep(200000);
		len = sizeof buf;
		rc = zoo_get(zh, "/capi/acl", 0, buf, &len, &st);
		check(rc == ZOK, "read with auth", "rc %d", rc);
		rc = zoo_get_acl(zh, "/capi/acl", &got, &st);
		check(rc == ZOK && got.count == 1 && got.data[0].perms == ZOO_PERM_ALL &&
			      !strcmp(got.data[0].id.scheme, "digest"),
		      "get_acl", "rc %d", rc);
		if (rc == ZOK)
			deallocate_ACL_vector(&got);
		rc = zoo_set_acl(zh, "/capi/acl", 0, &ZOO_OPEN_ACL_UNSAFE);
		check(rc == ZOK, "set_acl", "rc %d", rc);
	}
	{
		int n = 0;
		rc = zoo_get_children(zh, "/", 0, &kids);
		if (rc == ZOK) {
			for (int i = 0; i < kids.count; i++)
				n += !strcmp(kids.data[i], "zookeeper") || !strcmp(kids.data[i], "capi");
			deallocate_String_vector(&kids);
		}
		check(rc == ZOK && n == 2, "ls /", "rc %d", rc);
	}
	/* big value near the frame limit */
	{
		size_t big = 1000 * 1000;
		char *v = malloc(big), *r = malloc(big);
		memset(v, 'z', big);
		rc = zoo_set(zh, "/capi", v, (int)big, -1);
		len = (int)big;
		int rc2 = zoo_get(zh, "/capi", 0, r, &len, &st);
		check(rc == ZOK && rc2 == ZOK && len == (int)big && !memcmp(v, r, big), "1 MB value", "rc %d %d len %d",
		      rc, rc2, len);
		free(v);
		free(r);
	}
	rc = zookeeper_close(zh);
	check(rc == ZOK, "close", "rc %d", rc);
	printf("1..%d\n", n_test);
	return n_fail ? 1 : 0;
}
