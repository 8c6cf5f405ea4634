/*
 * test_peer.c — the ensemble's network (server/edge/peer.c) over real
 * loopback TCP: two or three peer_nets on one uv loop, each on its own
 * ports, plus raw sockets playing misbehaving peers.  Checks the election
 * channel's larger-sid rule and last-message-kept behaviour, the quorum
 * channel's binding, order, SNAP transfer, channel_down rules and
 * backpressure.  Every wait is bounded by a deadline so a bug fails the
 * test instead of hanging it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "core_fixture.h"
#include "jute.h"
#include "peer.h"
#include "qcodec.h"

#define MAXN 4

static uv_loop_t loop;
static int ports[2 * MAXN];
static struct peer_member members[MAXN];

struct got {
	int64_t from;
	struct zmsg m;
};

struct node {
	int64_t id;
	struct peer_net *net;
	struct got *got;
	int ngot, cap;
	int64_t downs[256];
	int down_at[256]; /* ngot when it came */
	int ndown;
	bool closed;
};

static struct node nodes[MAXN + 1]; /* by id */

static void on_recv(void *arg, int64_t from, struct zmsg *m)
{
	struct node *nd = arg;
	if (nd->ngot == nd->cap) {
		nd->cap = nd->cap ? 2 * nd->cap : 64;
		nd->got = realloc(nd->got, (size_t)nd->cap * sizeof(*nd->got));
	}
	nd->got[nd->ngot].from = from;
	nd->got[nd->ngot].m = *m;
	nd->ngot++;
	memset(m, 0, sizeof(*m));
}

static void on_down(void *arg, int64_t from)
{
	struct node *nd = arg;
	assert_true(nd->ndown < 256);
	nd->down_at[nd->ndown] = nd->ngot;
	nd->downs[nd->ndown++] = from;
}

static void clear_got(struct node *nd)
{
	for (int i = 0; i < nd->ngot; i++) {
		if (nd->got[i].m.snap)
			core_free(nd->got[i].m.snap);
		nd->got[i].m.snap = NULL;
		zmsg_free(&nd->got[i].m);
	}
	nd->ngot = 0;
}

/* Distinct free loopback ports: bound together, then released. */
static void pick_ports(int *out, int n)
{
	int fds[2 * MAXN];
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

/* Members 1..n on 127.0.0.1 with fresh ports. */
static void setup_members(int n)
{
	pick_ports(ports, 2 * n);
	for (int i = 0; i < n; i++) {
		members[i] = (struct peer_member){.id = i + 1,
						  .host = "127.0.0.1",
						  .quorum_port = ports[2 * i],
						  .election_port = ports[2 * i + 1]};
	}
}

static struct peer_net_opts base_opts(int64_t id, int n)
{
	struct peer_net_opts o = {0};
	o.my_id = id;
	o.members = members;
	o.n_members = (size_t)n;
	o.config_text = "server.1=127.0.0.1:1:2:participant\nversion=0";
	o.snap_cfg.tick_ms = 2000;
	o.snap_cfg.ttl_enabled = true;
	o.connect_timeout_ms = 1000;
	return o;
}

static void start_node_opts(int64_t id, const struct peer_net_opts *o)
{
	struct node *nd = &nodes[id];
	nd->id = id;
	nd->closed = false;
	struct peer_net_cb cb = {.arg = nd, .recv = on_recv, .channel_down = on_down};
	assert_int_equal(peer_net_open(&nd->net, &loop, o, &cb), 0);
}

static void start_node(int64_t id, int n)
{
	struct peer_net_opts o = base_opts(id, n);
	start_node_opts(id, &o);
}

static void on_closed(void *arg)
{
	struct node *nd = arg;
	nd->closed = true;
}

/* Runs the loop until cond() or ms pass; returns cond(). */
static void on_tick(uv_timer_t *t)
{
	(void)t;
}

static bool run_until(bool (*cond)(void), int ms)
{
	uv_timer_t tick;
	uv_timer_init(&loop, &tick);
	uv_timer_start(&tick, on_tick, 5, 5);
	uint64_t end = uv_now(&loop) + (uint64_t)ms;
	bool ok = false;
	for (;;) {
		if (cond && cond()) {
			ok = true;
			break;
		}
		if (uv_now(&loop) >= end)
			break;
		uv_run(&loop, UV_RUN_ONCE);
	}
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	return ok;
}

static void settle(int ms)
{
	run_until(NULL, ms);
}

static void stop_node(int64_t id)
{
	struct node *nd = &nodes[id];
	if (!nd->net)
		return;
	peer_net_close(nd->net, on_closed, nd);
	nd->net = NULL;
	for (int i = 0; i < 200 && !nd->closed; i++)
		uv_run(&loop, UV_RUN_ONCE);
	assert_true(nd->closed);
}

static int setup(void **state)
{
	(void)state;
	memset(nodes, 0, sizeof(nodes));
	assert_int_equal(uv_loop_init(&loop), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i <= MAXN; i++) {
		stop_node(i);
		clear_got(&nodes[i]);
		free(nodes[i].got);
	}
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_close(&loop), 0);
	return 0;
}

static struct zmsg vote(int64_t leader, int64_t round)
{
	struct zmsg m = {0};
	m.type = ZM_NOTIFICATION;
	m.vote.state = ZS_LOOKING;
	m.vote.leader = leader;
	m.vote.zxid = 0x100000005LL;
	m.vote.round = round;
	m.vote.peer_epoch = 1;
	return m;
}

/* Notifications at node `to` from `from` with round r (or any round: -1). */
static int count_votes(int64_t to, int64_t from, int64_t round)
{
	int k = 0;
	struct node *nd = &nodes[to];
	for (int i = 0; i < nd->ngot; i++)
		if (nd->got[i].m.type == ZM_NOTIFICATION && nd->got[i].from == from &&
		    (round < 0 || nd->got[i].m.vote.round == round))
			k++;
	return k;
}

static struct peer_net_stats stats(int64_t id)
{
	struct peer_net_stats s;
	peer_net_get_stats(nodes[id].net, &s);
	return s;
}

/* ================================================================ election */

static bool all_votes_in(void)
{
	for (int a = 1; a <= 3; a++)
		for (int b = 1; b <= 3; b++)
			if (a != b && count_votes(a, b, 10 + b) < 1)
				return false;
	return true;
}

static bool pairs_settled(void)
{
	for (int a = 1; a <= 3; a++)
		if (stats(a).election_conns != 2)
			return false;
	return true;
}

static void test_election_mesh(void **state)
{
	(void)state;
	setup_members(3);
	for (int i = 1; i <= 3; i++)
		start_node(i, 3);
	for (int a = 1; a <= 3; a++)
		for (int b = 1; b <= 3; b++)
			if (a != b) {
				struct zmsg m = vote(a, 10 + a);
				peer_net_send(nodes[a].net, b, &m);
			}
	assert_true(run_until(all_votes_in, 3000));
	/* decoded as sent, config text included */
	struct zmsg *m = &nodes[1].got[0].m;
	assert_int_equal(m->vote.state, ZS_LOOKING);
	assert_int_equal(m->vote.zxid, 0x100000005LL);
	assert_int_equal(m->vote.peer_epoch, 1);
	assert_non_null(m->config);
	assert_string_equal(m->config, "server.1=127.0.0.1:1:2:participant\nversion=0");
	assert_int_equal(m->vote.leader, nodes[1].got[0].from);
	/* one connection per pair: each server has exactly two */
	assert_true(run_until(pairs_settled, 2000));
	settle(300);
	assert_true(pairs_settled());
	/* and it carries both ways: more votes arrive, none lost */
	for (int k = 0; k < 50; k++)
		for (int a = 1; a <= 3; a++)
			for (int b = 1; b <= 3; b++)
				if (a != b) {
					struct zmsg v = vote(a, 100 + k);
					peer_net_send(nodes[a].net, b, &v);
				}
	settle(300);
	for (int a = 1; a <= 3; a++)
		for (int b = 1; b <= 3; b++)
			if (a != b)
				for (int k = 0; k < 50; k++)
					assert_int_equal(count_votes(a, b, 100 + k), 1);
	assert_true(pairs_settled());
	for (int a = 1; a <= 3; a++)
		assert_int_equal(stats(a).refused, 0);
}

static int64_t g_to, g_from;
static bool got_vote(void)
{
	return count_votes(g_to, g_from, -1) > 0;
}

/* While a peer is down only the last notification is kept, and it is
 * delivered once the peer starts; both when the sender has the smaller
 * id (it knocks) and the larger (it dials). */
static void last_kept(int64_t sender, int64_t receiver)
{
	setup_members(2);
	start_node(sender, 2);
	for (int r = 1; r <= 5; r++) {
		struct zmsg m = vote(sender, r);
		peer_net_send(nodes[sender].net, receiver, &m);
		settle(40);
	}
	settle(300); /* a few failed dials with backoff */
	start_node(receiver, 2);
	g_to = receiver;
	g_from = sender;
	assert_true(run_until(got_vote, 3000));
	settle(200);
	assert_int_equal(count_votes(receiver, sender, 5), count_votes(receiver, sender, -1));
	assert_true(count_votes(receiver, sender, 5) >= 1);
	assert_int_equal(stats(sender).election_conns, 1);
	assert_int_equal(stats(receiver).election_conns, 1);
	/* and the answer comes back on the same connection */
	struct zmsg m = vote(receiver, 7);
	peer_net_send(nodes[receiver].net, sender, &m);
	g_to = sender;
	g_from = receiver;
	assert_true(run_until(got_vote, 2000));
	assert_int_equal(stats(sender).election_conns, 1);
}

static void test_last_kept_smaller_sends(void **state)
{
	(void)state;
	last_kept(1, 2);
}

static void test_last_kept_larger_sends(void **state)
{
	(void)state;
	last_kept(2, 1);
}

/* A peer restarts: its new connection replaces the old one. */
static void test_election_restart(void **state)
{
	(void)state;
	setup_members(2);
	start_node(1, 2);
	start_node(2, 2);
	struct zmsg m = vote(1, 1);
	peer_net_send(nodes[1].net, 2, &m);
	g_to = 2;
	g_from = 1;
	assert_true(run_until(got_vote, 2000));
	for (int round = 0; round < 2; round++) {
		int64_t victim = round ? 1 : 2, other = round ? 2 : 1;
		stop_node(victim);
		clear_got(&nodes[victim]);
		start_node(victim, 2);
		struct zmsg v = vote(victim, 20 + round);
		peer_net_send(nodes[victim].net, other, &v);
		g_to = other;
		g_from = victim;
		clear_got(&nodes[other]);
		assert_true(run_until(got_vote, 3000));
		v = vote(other, 30 + round);
		peer_net_send(nodes[other].net, victim, &v);
		g_to = victim;
		g_from = other;
		assert_true(run_until(got_vote, 3000));
		settle(100);
		assert_int_equal(stats(1).election_conns, 1);
		assert_int_equal(stats(2).election_conns, 1);
	}
}

/* ================================================================ raw peers */

static int raw_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				.sin_port = htons((uint16_t)port)};
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void raw_send(int fd, const void *p, size_t n)
{
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* True when the other side closed fd (EOF or reset). */
static int g_fd;
static bool raw_closed(void)
{
	char b[4096];
	ssize_t r = recv(g_fd, b, sizeof(b), MSG_DONTWAIT);
	return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static uint64_t g_refused_before;
static int64_t g_node;
static bool refused_more(void)
{
	return stats(g_node).refused > g_refused_before;
}

static void test_refused(void **state)
{
	(void)state;
	setup_members(3);
	start_node(2, 3);
	start_node(3, 3);
	peer_net_lead(nodes[2].net, true);
	struct zmsg m = vote(3, 1);
	peer_net_send(nodes[3].net, 2, &m);
	g_to = 2;
	g_from = 3;
	assert_true(run_until(got_vote, 2000));
	g_node = 2;
	struct jute_out o;
	jute_out_init(&o);

	/* a non-member with a smaller id: closed and counted */
	g_refused_before = stats(2).refused;
	qc_hello_put(&o, 0, "127.0.0.1:1");
	int fd = raw_connect(members[1].election_port);
	raw_send(fd, o.buf, o.len);
	assert_true(run_until(refused_more, 2000));
	g_fd = fd;
	assert_true(run_until(raw_closed, 2000));
	close(fd);

	/* my own id */
	jute_out_reset(&o);
	g_refused_before = stats(2).refused;
	qc_hello_put(&o, 2, "127.0.0.1:1");
	fd = raw_connect(members[1].election_port);
	raw_send(fd, o.buf, o.len);
	assert_true(run_until(refused_more, 2000));
	close(fd);

	/* a bad protocol version */
	jute_out_reset(&o);
	g_refused_before = stats(2).refused;
	jute_put_long(&o, -5);
	jute_put_long(&o, 9);
	fd = raw_connect(members[1].election_port);
	raw_send(fd, o.buf, o.len);
	assert_true(run_until(refused_more, 2000));
	close(fd);

	/* garbage first packet on the quorum port */
	g_refused_before = stats(2).refused;
	fd = raw_connect(members[1].quorum_port);
	uint8_t junk[64];
	memset(junk, 0xee, sizeof(junk));
	raw_send(fd, junk, sizeof(junk));
	assert_true(run_until(refused_more, 2000));
	g_fd = fd;
	assert_true(run_until(raw_closed, 2000));
	close(fd);

	/* a well-formed first packet that is not LearnerInfo */
	jute_out_reset(&o);
	g_refused_before = stats(2).refused;
	struct zmsg ping = {.type = ZM_PING, .zxid = 5};
	assert_int_equal(qc_packet_put(&o, &ping, false, NULL), 0);
	fd = raw_connect(members[1].quorum_port);
	raw_send(fd, o.buf, o.len);
	assert_true(run_until(refused_more, 2000));
	close(fd);

	/* FOLLOWERINFO of a non-member */
	jute_out_reset(&o);
	g_refused_before = stats(2).refused;
	struct zmsg fi = {
	    .type = ZM_FOLLOWERINFO, .zxid = 0, .sid = 77, .protocol = ZAB_PROTOCOL_VERSION};
	assert_int_equal(qc_packet_put(&o, &fi, false, NULL), 0);
	fd = raw_connect(members[1].quorum_port);
	raw_send(fd, o.buf, o.len);
	assert_true(run_until(refused_more, 2000));
	close(fd);

	/* a non-member with a larger id is served, as ZooKeeper 3.8 does:
	 * its notification arrives, the answer goes back on its connection */
	jute_out_reset(&o);
	qc_hello_put(&o, 99, "127.0.0.1:1");
	struct zmsg v99 = vote(99, 4);
	qc_notification_put(&o, &v99, NULL);
	fd = raw_connect(members[1].election_port);
	raw_send(fd, o.buf, o.len);
	g_to = 2;
	g_from = 99;
	assert_true(run_until(got_vote, 2000));
	struct zmsg ans = vote(2, 4);
	peer_net_send(nodes[2].net, 99, &ans);
	settle(50);
	uint8_t buf[1024];
	ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	assert_true(r >= 4);
	const uint8_t *body;
	size_t blen, used;
	assert_int_equal(qc_frame_parse(buf, (size_t)r, &body, &blen, &used), 1);
	struct zmsg back;
	assert_int_equal(qc_notification_get(body, blen, &back), 0);
	assert_int_equal(back.vote.leader, 2);
	zmsg_free(&back);
	close(fd);
	settle(50);
	/* a malformed frame closes that connection only */
	jute_out_reset(&o);
	qc_hello_put(&o, 98, "127.0.0.1:1");
	jute_put_int(&o, QC_NOTIFY_MAX + 1);
	fd = raw_connect(members[1].election_port);
	raw_send(fd, o.buf, o.len);
	g_fd = fd;
	assert_true(run_until(raw_closed, 2000));
	close(fd);

	/* nobody else was disturbed */
	clear_got(&nodes[2]);
	m = vote(3, 2);
	peer_net_send(nodes[3].net, 2, &m);
	g_to = 2;
	g_from = 3;
	assert_true(run_until(got_vote, 2000));
	assert_int_equal(stats(2).election_conns, 1);
	assert_int_equal(stats(3).election_conns, 1);
	jute_out_free(&o);
}

/* ================================================================ quorum */

static int64_t g_type;
static bool got_type(void)
{
	struct node *nd = &nodes[g_to];
	for (int i = 0; i < nd->ngot; i++)
		if (nd->got[i].m.type == g_type)
			return true;
	return false;
}

static int g_want;
static bool got_n(void)
{
	return nodes[g_to].ngot >= g_want;
}

static bool got_down(void)
{
	return nodes[g_to].ndown > 0;
}

/* Learner `l` opens a channel to leader `ldr` and the leader sees it. */
static void follow(int64_t l, int64_t ldr)
{
	struct zmsg fi = {
	    .type = ZM_FOLLOWERINFO, .zxid = 1LL << 32, .sid = l, .protocol = ZAB_PROTOCOL_VERSION};
	int before = nodes[ldr].ngot;
	peer_net_send(nodes[l].net, ldr, &fi);
	g_to = ldr;
	g_want = before + 1;
	assert_true(run_until(got_n, 2000));
	struct got *g = &nodes[ldr].got[before];
	assert_int_equal(g->m.type, ZM_FOLLOWERINFO);
	assert_int_equal(g->from, l);
	assert_int_equal(g->m.sid, l);
	assert_int_equal(g->m.protocol, ZAB_PROTOCOL_VERSION);
}

static void test_quorum_stream(void **state)
{
	(void)state;
	setup_members(2);
	start_node(1, 2);
	start_node(2, 2);
	assert_int_equal(peer_net_lead(nodes[2].net, true), 0);
	follow(1, 2);
	assert_int_equal(stats(1).quorum_conns, 1);
	assert_int_equal(stats(2).quorum_conns, 1);

	/* hundreds of PROPOSAL/COMMIT with real txns; ACKs back */
	struct fx *ldr = fx_new();
	struct fx *fol = fx_new();
	ldr->no_roundtrip = fol->no_roundtrip = true;
	const int N = 400;
	int64_t zx[400];
	for (int i = 0; i < N; i++) {
		char path[32], data[32];
		snprintf(path, sizeof(path), "/n%d", i);
		snprintf(data, sizeof(data), "value-%d", i);
		struct zk_request req = {.type = ZOP_CREATE};
		req.op = fx_op_create(path, data, 0);
		struct core_txn *t;
		assert_int_equal(core_prep(ldr->c, 0, &ldr->auth, &req, ldr->now, &t), 0);
		zx[i] = core_txn_zxid(t);
		struct zmsg p = {.type = ZM_PROPOSAL, .zxid = zx[i], .txn = t};
		peer_net_send(nodes[2].net, 1, &p);
		struct zmsg c = {.type = ZM_COMMIT, .zxid = zx[i]};
		peer_net_send(nodes[2].net, 1, &c);
		core_apply(ldr->c, t, NULL);
		core_txn_free(t);
		if (i % 50 == 0)
			uv_run(&loop, UV_RUN_NOWAIT);
	}
	g_to = 1;
	g_want = 2 * N;
	assert_true(run_until(got_n, 5000));
	assert_int_equal(nodes[1].ngot, 2 * N);
	for (int i = 0; i < N; i++) {
		struct got *p = &nodes[1].got[2 * i], *c = &nodes[1].got[2 * i + 1];
		assert_int_equal(p->from, 2);
		assert_int_equal(p->m.type, ZM_PROPOSAL);
		assert_int_equal(p->m.zxid, zx[i]);
		assert_non_null(p->m.txn);
		assert_int_equal(core_txn_zxid(p->m.txn), zx[i]);
		assert_int_equal(c->m.type, ZM_COMMIT);
		assert_int_equal(c->m.zxid, zx[i]);
		core_apply(fol->c, p->m.txn, NULL);
		struct zmsg ack = {.type = ZM_ACK, .zxid = zx[i]};
		peer_net_send(nodes[1].net, 2, &ack);
	}
	assert_int_equal(qc_tree_digest(fol->c), qc_tree_digest(ldr->c));
	g_to = 2;
	g_want = 1 + N;
	assert_true(run_until(got_n, 5000));
	for (int i = 0; i < N; i++) {
		assert_int_equal(nodes[2].got[1 + i].m.type, ZM_ACK);
		assert_int_equal(nodes[2].got[1 + i].m.zxid, zx[i]);
	}
	/* a learner's PING reply and a leader's PING (payloads differ by way) */
	struct zmsg_touch touch = {.sid = 0x100, .timeout = 4000};
	struct zmsg pr = {.type = ZM_PING, .zxid = 9, .touches = &touch, .ntouches = 1};
	peer_net_send(nodes[1].net, 2, &pr);
	struct zmsg pl = {.type = ZM_PING, .zxid = 9};
	peer_net_send(nodes[2].net, 1, &pl);
	g_to = 2;
	g_want = 2 + N;
	assert_true(run_until(got_n, 2000));
	assert_int_equal(nodes[2].got[1 + N].m.ntouches, 1);
	assert_int_equal(nodes[2].got[1 + N].m.touches[0].sid, 0x100);
	g_to = 1;
	g_want = 2 * N + 1;
	assert_true(run_until(got_n, 2000));
	assert_int_equal(nodes[1].got[2 * N].m.type, ZM_PING);
	fx_free(ldr);
	fx_free(fol);
	assert_int_equal(nodes[1].ndown, 0);
	assert_int_equal(nodes[2].ndown, 0);
}

/* A SNAP of ~100k znodes arrives as an equal core, and packets after it
 * keep their order. */
static void test_quorum_snap(void **state)
{
	(void)state;
	setup_members(2);
	start_node(1, 2);
	start_node(2, 2);
	assert_int_equal(peer_net_lead(nodes[1].net, true), 0);
	follow(2, 1);
	const char *env = getenv("ZKFS_PEER_SNAP_NODES");
	int nn = env ? atoi(env) : 100000;
	struct fx *f = fx_new();
	f->no_roundtrip = true;
	char path[64];
	for (int i = 0; i < 100; i++) {
		snprintf(path, sizeof(path), "/d%d", i);
		assert_int_equal(fx_create(f, 0, path, NULL, 0), 0);
	}
	for (int i = 0; i < nn; i++) {
		snprintf(path, sizeof(path), "/d%d/node%08d", i % 100, i);
		assert_int_equal(fx_create(f, 0, path, "0123456789abcdef", 0), 0);
	}
	fx_session(f, 6000);
	struct zmsg li = {
	    .type = ZM_LEADERINFO, .zxid = 2LL << 32, .protocol = ZAB_PROTOCOL_VERSION};
	peer_net_send(nodes[1].net, 2, &li);
	uint64_t out0 = stats(1).bytes_out, t0 = uv_hrtime();
	struct zmsg snap = {.type = ZM_SNAP, .zxid = core_last_zxid(f->c), .snap = f->c};
	peer_net_send(nodes[1].net, 2, &snap);
	struct zmsg nl = {.type = ZM_NEWLEADER, .zxid = 2LL << 32, .config = (char *)"version=0"};
	peer_net_send(nodes[1].net, 2, &nl);
	g_to = 2;
	g_want = 3;
	assert_true(run_until(got_n, 60000));
	fprintf(stderr, "# SNAP of %d znodes: %.1f MB, serialized, sent and parsed in %.2f s\n", nn,
		(double)(stats(1).bytes_out - out0) / 1e6, (double)(uv_hrtime() - t0) / 1e9);
	assert_int_equal(nodes[2].got[0].m.type, ZM_LEADERINFO);
	assert_int_equal(nodes[2].got[1].m.type, ZM_SNAP);
	assert_int_equal(nodes[2].got[2].m.type, ZM_NEWLEADER);
	struct core *c = nodes[2].got[1].m.snap;
	assert_non_null(c);
	assert_int_equal(core_last_zxid(c), core_last_zxid(f->c));
	assert_int_equal(qc_tree_digest(c), qc_tree_digest(f->c));
	struct core_stats a, b;
	core_get_stats(f->c, &a);
	core_get_stats(c, &b);
	assert_int_equal(a.nodes, b.nodes);
	assert_int_equal(a.sessions, b.sessions);
	struct peer_net_stats s = stats(1);
	assert_true(s.bytes_out > (uint64_t)nn * 40);
	fx_free(f);
}

static bool got_down_both(void)
{
	return nodes[1].ndown > 0 && nodes[2].ndown > 0;
}

static void test_channel_down(void **state)
{
	(void)state;
	setup_members(2);
	start_node(1, 2);
	start_node(2, 2);
	/* a learner dialling a leader that does not listen: channel_down */
	struct zmsg fi = {.type = ZM_FOLLOWERINFO, .sid = 1, .protocol = ZAB_PROTOCOL_VERSION};
	peer_net_send(nodes[1].net, 2, &fi);
	g_to = 1;
	assert_true(run_until(got_down, 2000));
	assert_int_equal(nodes[1].ndown, 1);
	assert_int_equal(nodes[1].downs[0], 2);
	nodes[1].ndown = 0;

	assert_int_equal(peer_net_lead(nodes[2].net, true), 0);
	assert_int_equal(peer_net_lead(nodes[2].net, true), 0); /* idempotent */
	/* (a) the learner closes its channel: only the leader hears of it */
	follow(1, 2);
	peer_net_close_channel(nodes[1].net, 2);
	g_to = 2;
	assert_true(run_until(got_down, 2000));
	settle(100);
	assert_int_equal(nodes[2].ndown, 1);
	assert_int_equal(nodes[2].downs[0], 1);
	assert_int_equal(nodes[1].ndown, 0);
	nodes[2].ndown = 0;
	/* (b) the leader closes it: only the learner hears of it */
	follow(1, 2);
	peer_net_close_channel(nodes[2].net, 1);
	g_to = 1;
	assert_true(run_until(got_down, 2000));
	settle(100);
	assert_int_equal(nodes[1].ndown, 1);
	assert_int_equal(nodes[2].ndown, 0);
	nodes[1].ndown = 0;
	/* (c) a second FOLLOWERINFO replaces the channel: no channel_down for
	 * the learner; the leader may see the old connection end first (a
	 * loss, reported) but never after the new one is bound */
	follow(1, 2);
	follow(1, 2);
	int second = nodes[2].ngot - 1;
	settle(200);
	assert_int_equal(nodes[1].ndown, 0);
	assert_true(nodes[2].ndown <= 1);
	if (nodes[2].ndown)
		assert_true(nodes[2].down_at[0] <= second);
	nodes[2].ndown = 0;
	assert_int_equal(stats(1).quorum_conns, 1);
	assert_int_equal(stats(2).quorum_conns, 1);
	/* and the new channel works */
	struct zmsg ack = {.type = ZM_ACK, .zxid = 77};
	peer_net_send(nodes[1].net, 2, &ack);
	g_type = ZM_ACK;
	g_to = 2;
	assert_true(run_until(got_type, 2000));
	/* (d) the leader stops leading: accepted connections close, the
	 * learner hears of it, the leader does not */
	assert_int_equal(peer_net_lead(nodes[2].net, false), 0);
	g_to = 1;
	assert_true(run_until(got_down, 2000));
	settle(100);
	assert_int_equal(nodes[2].ndown, 0);
	assert_int_equal(stats(2).quorum_conns, 0);
	nodes[1].ndown = 0;
	/* (e) one side dies: the other hears of it */
	assert_int_equal(peer_net_lead(nodes[2].net, true), 0);
	follow(1, 2);
	stop_node(1);
	g_to = 2;
	assert_true(run_until(got_down, 2000));
	assert_int_equal(nodes[2].downs[0], 1);
	nodes[2].ndown = 0;
	start_node(1, 2);
	follow(1, 2);
	stop_node(2);
	g_to = 1;
	assert_true(run_until(got_down, 2000));
	assert_int_equal(nodes[1].downs[0], 2);
	(void)got_down_both;
}

/* A learner that does not read: the leader's queue passes the bound and
 * the channel closes with channel_down. */
static void test_backpressure(void **state)
{
	(void)state;
	setup_members(2);
	struct peer_net_opts o = base_opts(1, 2);
	o.max_queued = 1 << 20;
	start_node_opts(1, &o);
	assert_int_equal(peer_net_lead(nodes[1].net, true), 0);
	struct jute_out out;
	jute_out_init(&out);
	struct zmsg fi = {.type = ZM_FOLLOWERINFO, .sid = 2, .protocol = ZAB_PROTOCOL_VERSION};
	assert_int_equal(qc_packet_put(&out, &fi, false, NULL), 0);
	int fd = raw_connect(members[0].quorum_port);
	int small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	raw_send(fd, out.buf, out.len);
	g_to = 1;
	g_type = ZM_FOLLOWERINFO;
	assert_true(run_until(got_type, 2000));
	struct fx *f = fx_new();
	f->no_roundtrip = true;
	char big[8192];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	int sent = 0;
	for (; sent < 20000 && nodes[1].ndown == 0; sent++) {
		char path[32];
		snprintf(path, sizeof(path), "/b%d", sent);
		struct zk_request req = {.type = ZOP_CREATE};
		req.op = fx_op_create(path, big, 0);
		struct core_txn *t;
		assert_int_equal(core_prep(f->c, 0, &f->auth, &req, f->now, &t), 0);
		struct zmsg p = {.type = ZM_PROPOSAL, .zxid = core_txn_zxid(t), .txn = t};
		peer_net_send(nodes[1].net, 2, &p);
		core_apply(f->c, t, NULL);
		core_txn_free(t);
		if (sent % 16 == 0)
			uv_run(&loop, UV_RUN_NOWAIT);
	}
	assert_true(run_until(got_down, 2000));
	assert_int_equal(nodes[1].downs[0], 2);
	assert_true(sent < 20000);
	assert_int_equal(stats(1).quorum_conns, 0);
	/* sending more is harmless */
	struct zmsg c = {.type = ZM_COMMIT, .zxid = 1};
	peer_net_send(nodes[1].net, 2, &c);
	close(fd);
	fx_free(f);
	jute_out_free(&out);
}

/* Hostnames resolve (asynchronously when dialling); IPv6 when present. */
static void test_hostnames(void **state)
{
	(void)state;
	setup_members(2);
	members[0].host = "localhost";
	members[1].host = "localhost";
	/* localhost may resolve to ::1 first: bind what it resolves to */
	start_node(1, 2);
	start_node(2, 2);
	struct zmsg m = vote(1, 3);
	peer_net_send(nodes[1].net, 2, &m);
	g_to = 2;
	g_from = 1;
	assert_true(run_until(got_vote, 3000));
	stop_node(1);
	stop_node(2);
	/* IPv6 loopback, if this machine has it */
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	bool v6 = fd >= 0 && bind(fd, (struct sockaddr *)&a6, sizeof(a6)) == 0;
	if (fd >= 0)
		close(fd);
	if (!v6)
		return;
	setup_members(2);
	members[0].host = "::1";
	members[1].host = "[::1]";
	clear_got(&nodes[2]);
	start_node(1, 2);
	start_node(2, 2);
	peer_net_send(nodes[2].net, 1, &m);
	g_to = 1;
	g_from = 2;
	assert_true(run_until(got_vote, 3000));
	assert_int_equal(peer_net_lead(nodes[1].net, true), 0);
	follow(2, 1);
}

/* quorumListenOnAllIPs: both ports bound to every address. */
static void test_listen_all(void **state)
{
	(void)state;
	setup_members(2);
	struct peer_net_opts o = base_opts(2, 2);
	o.listen_all = true;
	start_node_opts(2, &o);
	start_node(1, 2);
	struct zmsg m = vote(1, 3);
	peer_net_send(nodes[1].net, 2, &m);
	g_to = 2;
	g_from = 1;
	assert_true(run_until(got_vote, 3000));
	assert_int_equal(peer_net_lead(nodes[2].net, true), 0);
	follow(1, 2);
	/* and the port is not taken by someone else meanwhile */
	struct peer_net_opts o3 = base_opts(2, 2);
	struct peer_net *dup;
	struct peer_net_cb cb = {0};
	assert_true(peer_net_open(&dup, &loop, &o3, &cb) < 0);
	settle(20); /* its listener's close callback frees it */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_election_mesh, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_last_kept_smaller_sends, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_last_kept_larger_sends, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_election_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_quorum_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_quorum_snap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_channel_down, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostnames, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_listen_all, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
