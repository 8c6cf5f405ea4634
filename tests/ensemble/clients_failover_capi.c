/*
 * clients_failover_capi.c — one Apache C client session (libzookeeper_mt,
 * THREADED), driven line by line by tests/ensemble/clients_failover.py, which
 * compiles it into its temp dir:
 *
 *     cc -std=gnu11 -DTHREADED -o capi_client clients_failover_capi.c -lzookeeper_mt -lpthread
 *     capi_client HOSTS TIMEOUT_MS [ordered]
 *
 * "ordered" tries the hosts in the order given (zoo_deterministic_conn_order)
 * so the test can put a chosen member first.  The line protocol is the same
 * as clients_failover_zkc.c's (libzkc):
 *
 *   start-up         "hello 0xSESSION" once connected (15 s), or "fatal TEXT"
 *   eph PATH DATA    create an ephemeral node          -> "ok PATH" | "err RC"
 *   mk PATH DATA     create a persistent node          -> "ok PATH" | "err RC"
 *   watch PATH       getData with a one-shot data watch -> "ok DATA" | "err RC"
 *   get PATH         getData                           -> "ok DATA" | "err RC"
 *   set PATH DATA    setData (any version)             -> "ok VERSION" | "err RC"
 *   probe PATH DATA MS   setData every 20 ms until it succeeds, at most MS:
 *                    "ok T_NS TRIES ERRS" (T_NS: CLOCK_MONOTONIC of the
 *                    success, ERRS: the codes of failed tries, "-" if none)
 *                    | "err RC TRIES ERRS" (at once when the session expired)
 *   sid              "ok 0xSESSION STATE"
 *   quit             close the session, "ok", exit 0
 *   asynchronously   "event TYPE PATH" (a watch fired: created, deleted,
 *                    changed, child) and "state NAME" (session events:
 *                    connected, connecting, expired, auth_failed, ...)
 *
 * DATA has no spaces; "-" means empty.  The library's log goes to stderr.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int connected;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&mu);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&mu);
}

static const char *state_name(int state)
{
	if (state == ZOO_CONNECTED_STATE)
		return "connected";
	if (state == ZOO_CONNECTING_STATE)
		return "connecting";
	if (state == ZOO_ASSOCIATING_STATE)
		return "associating";
	if (state == ZOO_EXPIRED_SESSION_STATE)
		return "expired";
	if (state == ZOO_AUTH_FAILED_STATE)
		return "auth_failed";
	if (state == ZOO_READONLY_STATE)
		return "readonly";
	if (state == ZOO_NOTCONNECTED_STATE)
		return "notconnected";
	if (state == 0)
		return "closed";
	return "other";
}

static const char *type_name(int type)
{
	if (type == ZOO_CREATED_EVENT)
		return "created";
	if (type == ZOO_DELETED_EVENT)
		return "deleted";
	if (type == ZOO_CHANGED_EVENT)
		return "changed";
	if (type == ZOO_CHILD_EVENT)
		return "child";
	if (type == ZOO_SESSION_EVENT)
		return "session";
	if (type == ZOO_NOTWATCHING_EVENT)
		return "notwatching";
	return "other";
}

/* The session watcher: state changes. */
static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	(void)zh;
	(void)ctx;
	if (type == ZOO_SESSION_EVENT) {
		pthread_mutex_lock(&mu);
		connected = state == ZOO_CONNECTED_STATE;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
		say("state %s", state_name(state));
	} else {
		say("event %s %s", type_name(type), path ? path : "");
	}
}

/* The one-shot data watchers set by "watch". */
static void data_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	(void)zh;
	(void)ctx;
	if (type == ZOO_SESSION_EVENT)
		return; /* state changes are the session watcher's to report */
	say("event %s %s", type_name(type), path ? path : "");
	(void)state;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *data_arg(const char *d)
{
	return strcmp(d, "-") ? d : "";
}

int main(int argc, char **argv)
{
	char line[4096], buf[4096], created[1024];
	zhandle_t *zh;

	if (argc < 3) {
		fprintf(stderr, "usage: capi_client HOSTS TIMEOUT_MS [ordered]\n");
		return 2;
	}
	zoo_set_debug_level(ZOO_LOG_LEVEL_INFO);
	if (argc > 3 && !strcmp(argv[3], "ordered"))
		zoo_deterministic_conn_order(1);
	zh = zookeeper_init(argv[1], session_watcher, atoi(argv[2]), NULL, NULL, 0);
	if (!zh) {
		say("fatal zookeeper_init: %s", strerror(errno));
		return 1;
	}
	{
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 15;
		pthread_mutex_lock(&mu);
		while (!connected)
			if (pthread_cond_timedwait(&cv, &mu, &ts) == ETIMEDOUT)
				break;
		pthread_mutex_unlock(&mu);
	}
	if (!connected) {
		say("fatal no session within 15 s");
		return 1;
	}
	say("hello 0x%llx", (unsigned long long)zoo_client_id(zh)->client_id);

	while (fgets(line, sizeof line, stdin)) {
		char cmd[32] = "", path[1024] = "", data[2048] = "";
		long ms = 0;
		int rc, n;
		line[strcspn(line, "\n")] = 0;
		n = sscanf(line, "%31s %1023s %2047s %ld", cmd, path, data, &ms);
		if (n < 1)
			continue;
		if (!strcmp(cmd, "eph") || !strcmp(cmd, "mk")) {
			const char *d = data_arg(data);
			rc = zoo_create(zh, path, d, (int)strlen(d), &ZOO_OPEN_ACL_UNSAFE,
					!strcmp(cmd, "eph") ? ZOO_EPHEMERAL : 0, created, sizeof created);
			if (rc == ZOK)
				say("ok %s", created);
			else
				say("err %d", rc);
		} else if (!strcmp(cmd, "watch") || !strcmp(cmd, "get")) {
			int len = sizeof buf - 1;
			struct Stat st;
			if (!strcmp(cmd, "watch"))
				rc = zoo_wget(zh, path, data_watcher, NULL, buf, &len, &st);
			else
				rc = zoo_get(zh, path, 0, buf, &len, &st);
			if (rc == ZOK) {
				buf[len > 0 ? len : 0] = 0;
				say("ok %s", len > 0 ? buf : "-");
			} else {
				say("err %d", rc);
			}
		} else if (!strcmp(cmd, "set")) {
			const char *d = data_arg(data);
			struct Stat st;
			rc = zoo_set2(zh, path, d, (int)strlen(d), -1, &st);
			if (rc == ZOK)
				say("ok %d", st.version);
			else
				say("err %d", rc);
		} else if (!strcmp(cmd, "probe")) {
			const char *d = data_arg(data);
			int64_t end = now_ns() + (int64_t)ms * 1000000;
			int tries = 0;
			char errs[512] = "";
			for (;;) {
				tries++;
				rc = zoo_set(zh, path, d, (int)strlen(d), -1);
				if (rc == ZOK || now_ns() > end)
					break;
				/* an expired session never comes back: no point in trying on */
				if (rc == ZSESSIONEXPIRED || zoo_state(zh) == ZOO_EXPIRED_SESSION_STATE ||
				    zoo_state(zh) == ZOO_AUTH_FAILED_STATE)
					break;
				if (strlen(errs) < sizeof errs - 16)
					snprintf(errs + strlen(errs), sizeof errs - strlen(errs), "%s%d", *errs ? "," : "",
						 rc);
				usleep(20000);
			}
			if (rc == ZOK)
				say("ok %lld %d %s", (long long)now_ns(), tries, *errs ? errs : "-");
			else
				say("err %d %d %s", rc, tries, *errs ? errs : "-");
		} else if (!strcmp(cmd, "sid")) {
			say("ok 0x%llx %s", (unsigned long long)zoo_client_id(zh)->client_id, state_name(zoo_state(zh)));
		} else if (!strcmp(cmd, "quit")) {
			rc = zookeeper_close(zh);
			say("ok %d", rc);
			return 0;
		} else {
			say("err unknown-command");
		}
	}
	zookeeper_close(zh);
	return 0;
}
