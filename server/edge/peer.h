/*
 * peer.h — the ensemble's network on libuv: the election port and the
 * quorum port of Apache ZooKeeper 3.8 (../shared/reference/
 * zab-quorum-protocol.md §1, §2), carrying the pure protocol's messages
 * (zab/zmsg.h) encoded by the quorum codec (zab/qcodec.h).
 *
 * Election channel: one TCP connection per pair of voters/observers; as in
 * ZooKeeper only the connection dialled by the larger id survives (a
 * smaller id that needs to talk dials, sends its hello and is dialled
 * back).  Each side keeps the last notification for a peer while no
 * connection is up and sends it once one is (and again on every new
 * connection, as Apache does: expect duplicates); while it is unsent the
 * peer is redialled with a backoff of 50 ms doubling to 1 s.
 * Notifications are framed (i32 length) after the hello; frames over
 * 512 KiB close the connection, undecodable ones are dropped.  As in
 * Apache 3.8 (QuorumCnxManager.handleConnection checks no membership), a
 * hello from a larger id that is not in the configuration is served (its
 * notifications reach cb.recv, answers to it go back on its connection);
 * one from a smaller non-member id, or with our own id, is closed and
 * logged (Apache would dial a smaller non-member back at the address in
 * its hello; we dial members only).
 *
 * Quorum channel: a learner opens a new connection to the leader's quorum
 * port each time zab sends FOLLOWERINFO/OBSERVERINFO (closing its previous
 * one); the leader listens on its quorum port only while peer_net_lead(on)
 * and binds an accepted connection to the id in its first packet's
 * LearnerInfo (a connection whose first packet is anything else, or from
 * an id not in the configuration, is closed and logged once).  Packets
 * are QuorumPackets back to back; a SNAP's DataTree stream is parsed as it
 * arrives into a new core (built with snap_cfg).  When a quorum
 * connection fails, closes or cannot be made, cb.channel_down(peer) is
 * called once for it — never for a connection closed through
 * peer_net_close_channel or replaced by a newer one for the same peer.
 *
 * Threading: everything runs on the loop thread given to peer_net_open.
 */
#ifndef ZKFS_EDGE_PEER_H
#define ZKFS_EDGE_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core.h"
#include "zmsg.h"

struct peer_net;

struct peer_member {
	int64_t id;
	const char *host; /* quorum and election host (copied) */
	int quorum_port;
	int election_port;
	bool observer;
};

struct peer_net_cb {
	void *arg;
	/* A message from peer `from`: m and what it holds (a SNAP's core
	 * included) belong to the callee, which must zmsg_free it (and install
	 * or core_free m->snap). */
	void (*recv)(void *arg, int64_t from, struct zmsg *m);
	/* The quorum connection with `from` is gone (see above). */
	void (*channel_down)(void *arg, int64_t from);
};

struct peer_net_opts {
	int64_t my_id;
	const struct peer_member *members; /* copied; my own entry included */
	size_t n_members;
	bool listen_all;	     /* quorumListenOnAllIPs: bind 0.0.0.0 / :: */
	const char *config_text;     /* sent in notifications (copied), may be NULL */
	size_t max_buffer;	     /* jute.maxbuffer: a packet's buffers may be up
				      * to twice it (zookeeper.jute.maxbuffer.extrasize
				      * defaults to jute.maxbuffer, as Apache checks);
				      * 0 = 0xfffff */
	struct core_config snap_cfg; /* config of cores built from a SNAP */
	int connect_timeout_ms;	     /* dialling; accepted connections' hello or
				      * LearnerInfo must arrive within it too (default 5000) */
	size_t max_queued;	     /* a quorum connection whose output queue grows
				      * past this (plus the size of any SNAP on it) is
				      * closed with channel_down: the learner does not
				      * keep up and will resync (0 = 256 MiB) */
};

/*
 * Binds the election port (now) and prepares the quorum port (bound by
 * peer_net_lead).  Returns 0 and *out, or a negative errno (logged: which
 * address could not be bound and why; -EINVAL for a configuration
 * without my_id, duplicate ids or bad ports).  After a failure to bind,
 * the half-made struct is freed by the loop's close callbacks: run the
 * loop before uv_loop_close.  Hostnames of members are resolved when
 * binding (blocking) and at each dial (uv_getaddrinfo).
 */
int peer_net_open(struct peer_net **out, uv_loop_t *loop, const struct peer_net_opts *opts,
		  const struct peer_net_cb *cb);

/* Sends m to peer `to` (zab's ops->send): a notification on the election
 * channel, anything else on the quorum channel as described above.  m is
 * only read (a SNAP serializes m->snap now).  Never fails: what cannot be
 * sent is dropped (and reported through channel_down for quorum
 * packets). */
void peer_net_send(struct peer_net *p, int64_t to, const struct zmsg *m);

/* Closes the quorum connection with `to` without a channel_down. */
void peer_net_close_channel(struct peer_net *p, int64_t to);

/* Starts (on) or stops listening on the quorum port.  Stopping also
 * closes every accepted quorum connection (no channel_down).  Returns 0
 * or a negative errno (the port could not be bound: logged). */
int peer_net_lead(struct peer_net *p, bool on);

/* Closes everything; done(arg) runs on the loop once every handle is
 * closed (then the struct is freed). */
void peer_net_close(struct peer_net *p, void (*done)(void *arg), void *arg);

struct peer_net_stats {
	uint64_t packets_in, packets_out;
	uint64_t bytes_in, bytes_out;
	uint32_t quorum_conns;	 /* quorum connections up */
	uint32_t election_conns; /* election connections up */
	uint64_t refused;	 /* connections refused (bad hello, not a member) */
};
void peer_net_get_stats(const struct peer_net *p, struct peer_net_stats *out);

#endif
