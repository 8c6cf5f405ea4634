/*
 * clients_failover_zkc.c — one libzkc session (the blocking API), driven
 * line by line by tests/ensemble/clients_failover.py; make test builds it
 * (B/ensemble/clients_failover_zkc):
 *
 *     clients_failover_zkc HOSTS TIMEOUT_MS [ordered]
 *
 * "ordered" tries the hosts in the order given (zkc_options.no_shuffle).
 * The line protocol is clients_failover_capi.c's (see there); result codes
 * are ZooKeeper's (ZE_*), states libzkc's names (connected, disconnected,
 * expired, ...).  Every blocking call has a 3 s deadline.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zkc.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

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

static const char *type_name(int type)
{
	switch (type) {
	case ZK_EVENT_CREATED:
		return "created";
	case ZK_EVENT_DELETED:
		return "deleted";
	case ZK_EVENT_DATA_CHANGED:
		return "changed";
	case ZK_EVENT_CHILD_CHANGED:
		return "child";
	case ZK_EVENT_NONE:
		return "none";
	default:
		return "other";
	}
}

static void on_state(zkc_session *s, int state, void *arg)
{
	(void)s;
	(void)arg;
	say("state %s", zkc_state_name(state));
}

static void on_watch(zkc_session *s, const struct zkc_event *ev, void *arg)
{
	(void)s;
	(void)arg;
	if (ev->type == ZK_EVENT_NONE)
		say("event none-%s %s", zkc_state_name(ev->state), ev->path ? ev->path : "");
	else
		say("event %s %s", type_name(ev->type), ev->path ? ev->path : "");
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
	char line[4096];
	zkc_client *c;
	zkc_session *s;
	struct zkc_options opt;
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: zkc_client HOSTS TIMEOUT_MS [ordered]\n");
		return 2;
	}
	memset(&opt, 0, sizeof opt);
	opt.state_cb = on_state;
	opt.no_shuffle = argc > 3 && !strcmp(argv[3], "ordered");
	if (zkc_client_new(&c)) {
		say("fatal zkc_client_new");
		return 1;
	}
	rc = zkc_b_open(c, argv[1], atoi(argv[2]), &opt, 15000, &s);
	if (rc) {
		say("fatal zkc_b_open: %s", zkc_strerror(rc));
		return 1;
	}
	zkc_b_set_deadline(s, 3000);
	say("hello 0x%" PRIx64, (uint64_t)zkc_session_id(s, NULL));

	while (fgets(line, sizeof line, stdin)) {
		char cmd[32] = "", path[1024] = "", data[2048] = "";
		long ms = 0;
		int n;
		line[strcspn(line, "\n")] = 0;
		n = sscanf(line, "%31s %1023s %2047s %ld", cmd, path, data, &ms);
		if (n < 1)
			continue;
		if (!strcmp(cmd, "eph") || !strcmp(cmd, "mk")) {
			const char *d = data_arg(data);
			char *created = NULL;
			rc = zkc_b_create(s, path, d, (int32_t)strlen(d), NULL,
					  !strcmp(cmd, "eph") ? ZK_EPHEMERAL : ZK_PERSISTENT, 0, &created, NULL);
			if (rc == ZE_OK)
				say("ok %s", created);
			else
				say("err %d", rc);
			free(created);
		} else if (!strcmp(cmd, "watch") || !strcmp(cmd, "get")) {
			uint8_t *d = NULL;
			int32_t len = 0;
			rc = zkc_b_get(s, path, !strcmp(cmd, "watch") ? on_watch : NULL, NULL, &d, &len, NULL);
			if (rc == ZE_OK)
				say("ok %s", d && len > 0 ? (char *)d : "-");
			else
				say("err %d", rc);
			free(d);
		} else if (!strcmp(cmd, "set")) {
			const char *d = data_arg(data);
			struct zk_stat st;
			rc = zkc_b_set(s, path, d, (int32_t)strlen(d), -1, &st);
			if (rc == ZE_OK)
				say("ok %d", (int)st.version);
			else
				say("err %d", rc);
		} else if (!strcmp(cmd, "probe")) {
			const char *d = data_arg(data);
			int64_t end = now_ns() + (int64_t)ms * 1000000;
			int tries = 0;
			char errs[512] = "";
			for (;;) {
				tries++;
				rc = zkc_b_set(s, path, d, (int32_t)strlen(d), -1, NULL);
				if (rc == ZE_OK || now_ns() > end)
					break;
				if (rc == ZE_SESSIONEXPIRED || rc == ZE_AUTHFAILED)
					break; /* final */
				if (strlen(errs) < sizeof errs - 16)
					snprintf(errs + strlen(errs), sizeof errs - strlen(errs), "%s%d", *errs ? "," : "",
						 rc);
				usleep(20000);
			}
			if (rc == ZE_OK)
				say("ok %lld %d %s", (long long)now_ns(), tries, *errs ? errs : "-");
			else
				say("err %d %d %s", rc, tries, *errs ? errs : "-");
		} else if (!strcmp(cmd, "sid")) {
			say("ok 0x%" PRIx64 " %s", (uint64_t)zkc_session_id(s, NULL), zkc_state_name(zkc_session_state(s)));
		} else if (!strcmp(cmd, "quit")) {
			zkc_b_close(s);
			zkc_client_free(c);
			say("ok 0");
			return 0;
		} else {
			say("err unknown-command");
		}
	}
	zkc_b_close(s);
	zkc_client_free(c);
	return 0;
}
