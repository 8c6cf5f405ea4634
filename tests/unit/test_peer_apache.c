/*
 * test_peer_apache.c — the election channel of server/edge/peer.c against
 * a real Apache ZooKeeper 3.8 (Debian's zookeeper package), the only way
 * to know the bytes and the larger-sid rule match what Apache's
 * QuorumCnxManager and FastLeaderElection expect.
 *
 * A 2-server ensemble where one server is Apache and the other is this
 * program's peer_net, once with our id smaller (Apache dials us, our own
 * dials are knocks) and once larger (we dial, Apache's are knocks).  We
 * must receive Apache's LOOKING notification decoded as sent (its own
 * vote), and Apache must decode ours: we vote for it, which gives it a
 * quorum, and it then answers our LOOKING notifications as LEADING.  One
 * election connection survives.  Skipped (not failed) without Java or
 * the jar; the JVM is killed and its directory removed whatever happens.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "peer.h"
#include "qcodec.h"

#define JAR "/usr/share/java/zookeeper.jar"
#define CP "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar:/usr/share/java/*"

static uv_loop_t loop;
static pid_t jvm = -1;
static char dir[256];
static int64_t apache_id, my_id;
static int n_looking, n_leading, n_other;
static struct zmsg first;
static bool have_first;
static struct peer_net *net;

static void kill_jvm(void)
{
	if (jvm > 0) {
		kill(-jvm, SIGKILL);
		waitpid(jvm, NULL, 0);
		jvm = -1;
	}
	if (dir[0]) {
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
		dir[0] = 0;
	}
}

static void on_signal(int sig)
{
	if (jvm > 0)
		kill(-jvm, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void pick_ports(int *out, int n)
{
	int fds[8];
	for (int i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		assert_int_equal(bind(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
		socklen_t l = sizeof(a);
		getsockname(fds[i], (struct sockaddr *)&a, &l);
		out[i] = ntohs(a.sin_port);
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

static void on_recv(void *arg, int64_t from, struct zmsg *m)
{
	(void)arg;
	if (from == apache_id && m->type == ZM_NOTIFICATION) {
		if (m->vote.state == ZS_LOOKING)
			n_looking++;
		else if (m->vote.state == ZS_LEADING && m->vote.leader == apache_id)
			n_leading++;
		else
			n_other++;
		if (!have_first) {
			first = *m;
			have_first = true;
			memset(m, 0, sizeof(*m));
		}
	}
	zmsg_free(m);
}

static void on_down(void *arg, int64_t from)
{
	(void)arg;
	(void)from;
}

static int64_t round_seen = 1;

static void on_vote_timer(uv_timer_t *t)
{
	(void)t;
	/* our vote: Apache itself, with its (empty) history */
	struct zmsg m = {.type = ZM_NOTIFICATION};
	m.vote.state = ZS_LOOKING;
	m.vote.leader = apache_id;
	m.vote.zxid = 0;
	m.vote.round = have_first ? first.vote.round : round_seen;
	m.vote.peer_epoch = 0;
	peer_net_send(net, apache_id, &m);
}

static void on_deadline(uv_timer_t *t)
{
	(void)t;
	uv_stop(&loop);
}

static void on_check_done(uv_idle_t *h)
{
	if (n_leading > 0)
		uv_stop(&loop);
	(void)h;
}

static void on_closed(void *arg)
{
	*(bool *)arg = true;
}

static void interop(int64_t apache, int64_t mine)
{
	if (access("/usr/bin/java", X_OK) != 0 || access(JAR, R_OK) != 0) {
		skip();
		return;
	}
	kill_jvm();
	apache_id = apache;
	my_id = mine;
	n_looking = n_leading = n_other = 0;
	have_first = false;
	int p[5];
	pick_ports(p, 5);
	int client = p[0];
	int qa = p[1], ea = p[2], qm = p[3], em = p[4];
	snprintf(dir, sizeof(dir), "/tmp/zkfs-peer-apache-XXXXXX");
	assert_non_null(mkdtemp(dir));
	char path[512];
	snprintf(path, sizeof(path), "%s/zoo.cfg", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
		"tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir=%s/data\nclientPort=%d\n"
		"clientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
		"server.%" PRId64 "=127.0.0.1:%d:%d\nserver.%" PRId64 "=127.0.0.1:%d:%d\n",
		dir, client, apache, qa, ea, mine, qm, em);
	fclose(f);
	snprintf(path, sizeof(path), "%s/data", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/data/myid", dir);
	f = fopen(path, "w");
	fprintf(f, "%" PRId64 "\n", apache);
	fclose(f);
	fflush(NULL);
	jvm = fork();
	assert_true(jvm >= 0);
	if (jvm == 0) {
		setsid();
		char cfg[300], log[300];
		snprintf(cfg, sizeof(cfg), "%s/zoo.cfg", dir);
		snprintf(log, sizeof(log), "%s/server.log", dir);
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execl("/usr/bin/java", "java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		      "-Dzookeeper.admin.enableServer=false", "-cp", CP,
		      "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg, (char *)NULL);
		_exit(127);
	}

	struct peer_member mem[2] = {
	    {.id = apache, .host = "127.0.0.1", .quorum_port = qa, .election_port = ea},
	    {.id = mine, .host = "127.0.0.1", .quorum_port = qm, .election_port = em},
	};
	struct qc_server qs[2] = {
	    {.id = apache, .host = "127.0.0.1", .qport = qa, .eport = ea},
	    {.id = mine, .host = "127.0.0.1", .qport = qm, .eport = em},
	};
	char *config = qc_config_text(qs, 2, 0);
	struct peer_net_opts o = {.my_id = mine,
				  .members = mem,
				  .n_members = 2,
				  .config_text = config,
				  .connect_timeout_ms = 2000};
	o.snap_cfg.tick_ms = 500;
	struct peer_net_cb cb = {.recv = on_recv, .channel_down = on_down};
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(peer_net_open(&net, &loop, &o, &cb), 0);
	uv_timer_t vt, dl;
	uv_idle_t chk;
	uv_timer_init(&loop, &vt);
	uv_timer_init(&loop, &dl);
	uv_idle_init(&loop, &chk);
	uv_timer_start(&vt, on_vote_timer, 100, 300);
	uv_timer_start(&dl, on_deadline, 30000, 0);
	uv_idle_start(&chk, on_check_done);
	uv_run(&loop, UV_RUN_DEFAULT);
	struct peer_net_stats st;
	peer_net_get_stats(net, &st);
	fprintf(stderr,
		"# apache %" PRId64 ", zkfs %" PRId64 ": %d LOOKING, %d LEADING, %d other; "
		"first: state %d leader %" PRId64 " zxid %" PRId64 " round %" PRId64
		" epoch %" PRId64 "; election conns %u, refused %" PRIu64 "\n",
		apache, mine, n_looking, n_leading, n_other, first.vote.state, first.vote.leader,
		first.vote.zxid, first.vote.round, first.vote.peer_epoch, st.election_conns,
		st.refused);
	uv_timer_stop(&vt);
	uv_idle_stop(&chk);
	uv_close((uv_handle_t *)&vt, NULL);
	uv_close((uv_handle_t *)&dl, NULL);
	uv_close((uv_handle_t *)&chk, NULL);
	bool closed = false;
	peer_net_close(net, on_closed, &closed);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(closed);
	assert_int_equal(uv_loop_close(&loop), 0);
	free(config);
	bool ok_first = have_first;
	struct zmsg fm = first;
	if (have_first)
		zmsg_free(&first);
	/* Apache's complaints, if any, end up in the test log */
	char cmd[400];
	if (!ok_first || n_leading == 0)
		snprintf(cmd, sizeof(cmd), "tail -30 '%s/server.log' >&2", dir);
	else
		snprintf(cmd, sizeof(cmd),
			 "grep -E ' (WARN|ERROR) ' '%s/server.log' | grep -v 'Cannot open channel' "
			 "| head -20 | sed 's/^/# apache: /' >&2",
			 dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# (no apache log)\n");
	kill_jvm();
	/* Apache's first notification: LOOKING for itself, nothing logged */
	assert_true(ok_first);
	assert_int_equal(fm.vote.state, ZS_LOOKING);
	assert_int_equal(fm.vote.leader, apache);
	assert_int_equal(fm.vote.zxid, 0);
	assert_int_equal(fm.vote.peer_epoch, 0);
	assert_true(fm.vote.round >= 1);
	/* it decoded ours: it leads with our vote */
	assert_true(n_leading > 0);
	assert_int_equal(st.election_conns, 1);
	assert_int_equal(st.refused, 0);
}

static void test_apache_larger(void **state)
{
	(void)state;
	interop(2, 1);
}

static void test_apache_smaller(void **state)
{
	(void)state;
	interop(1, 2);
}

int main(void)
{
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGALRM, on_signal);
	atexit(kill_jvm);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_apache_larger),
	    cmocka_unit_test(test_apache_smaller),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
