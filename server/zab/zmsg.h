/*
 * zmsg.h — the messages servers of an ensemble exchange, as the pure
 * replication protocol (zab.h) sees them.
 *
 * These are Apache ZooKeeper 3.8's server-to-server messages
 * (../shared/reference/zab-quorum-protocol.md): the election port's
 * notifications and the quorum port's QuorumPackets, with payloads kept
 * structured instead of as bytes.  Txns travel as the core's own
 * struct core_txn and a SNAP carries a whole core; qcodec.h translates
 * both ways to ZooKeeper's bytes at the edge (TxnHeader + txn records +
 * TxnDigest, DataTree serialization), and the simulator passes the
 * structs as they are (or through the codec, to test it).
 *
 * Channels.  Notifications travel on the election channel, which may
 * lose, duplicate, delay and reorder them (they are idempotent).  All
 * other messages travel on one quorum channel per (learner, leader) pair,
 * which is FIFO and reliable while it lasts (TCP): losing it is reported
 * to both ends (zab_channel_down), and a learner opens a new one by
 * sending FOLLOWERINFO/OBSERVERINFO.
 *
 * Ownership: a struct zmsg owns everything its pointers reach except a
 * SNAP's core.  zmsg_free releases it (the struct itself is the
 * caller's); zmsg_clone deep-copies, sharing the SNAP's core.  That core
 * is, on the sending side, the leader's live core (only read, at send
 * time); on the receiving side a new core that whoever holds the message
 * must install or core_free (zab_recv does).
 */
#ifndef ZKFS_ZAB_ZMSG_H
#define ZKFS_ZAB_ZMSG_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"
#include "records.h"

/* Packet types: ZooKeeper's numbers (Leader.java), plus the notification. */
enum zmsg_type {
	ZM_REQUEST = 1,		/* learner -> leader: a client write (or sync) */
	ZM_PROPOSAL = 2,	/* leader -> follower: txn */
	ZM_ACK = 3,		/* follower -> leader: zxid logged (or NEWLEADER/UPTODATE) */
	ZM_COMMIT = 4,		/* leader -> follower: zxid committed */
	ZM_PING = 5,		/* both ways: liveness; reply carries session touches */
	ZM_REVALIDATE = 6,	/* learner <-> leader: may a moved session live here? */
	ZM_SYNC = 7,		/* leader -> learner: the forwarded sync is answered */
	ZM_INFORM = 8,		/* leader -> observer: committed txn */
	ZM_NEWLEADER = 10,	/* leader -> learner: end of the sync stream */
	ZM_FOLLOWERINFO = 11,	/* learner -> leader: first packet of a follower */
	ZM_UPTODATE = 12,	/* leader -> learner: serve clients now */
	ZM_DIFF = 13,		/* leader -> learner: txns follow (PROPOSAL+COMMIT pairs) */
	ZM_TRUNC = 14,		/* leader -> learner: drop txns after zxid */
	ZM_SNAP = 15,		/* leader -> learner: whole tree follows */
	ZM_OBSERVERINFO = 16,	/* learner -> leader: first packet of an observer */
	ZM_LEADERINFO = 17,	/* leader -> learner: the new epoch */
	ZM_ACKEPOCH = 18,	/* learner -> leader: epoch accepted, my history */
	ZM_NOTIFICATION = 100,	/* election channel (not a QuorumPacket) */
};

/* Peer states of a notification (FastLeaderElection ServerState). */
enum zmsg_state {
	ZS_LOOKING = 0,
	ZS_FOLLOWING = 1,
	ZS_LEADING = 2,
	ZS_OBSERVING = 3,
};

#define ZAB_PROTOCOL_VERSION 0x10000 /* LearnerInfo / LEADERINFO */

/* One (session, timeout) of a PING reply, REVALIDATE question. */
struct zmsg_touch {
	int64_t sid;
	int32_t timeout;
};

struct zmsg {
	int32_t type; /* enum zmsg_type */
	int64_t zxid; /* the QuorumPacket's zxid (see the fact sheet's table) */

	/* ZM_NOTIFICATION: a vote */
	struct {
		int32_t state;	     /* enum zmsg_state */
		int64_t leader;	     /* proposed leader's id */
		int64_t zxid;	     /* proposed leader's last zxid */
		int64_t round;	     /* electionEpoch: the sender's logical clock */
		int64_t peer_epoch;  /* proposed leader's epoch */
		int64_t config_version;
	} vote;

	/* ZM_FOLLOWERINFO / ZM_OBSERVERINFO: LearnerInfo */
	int64_t sid;		/* learner's id */
	int32_t protocol;	/* ZAB_PROTOCOL_VERSION (LEADERINFO too) */
	int64_t config_version;

	/* ZM_ACKEPOCH: learner's currentEpoch (-1: "already at this epoch") */
	int32_t epoch;

	/* ZM_PROPOSAL / ZM_INFORM: the txn (owned) */
	struct core_txn *txn;

	/* ZM_REQUEST: a client request forwarded to the leader */
	int64_t session;	   /* also REVALIDATE's session (both ways) */
	struct zk_request *req;	   /* owned; req->xid = cxid, req->type = opcode.
				    * createSession: type -10, req->timeout in
				    * session_timeout below; closeSession: no body */
	int32_t session_timeout;   /* REQUEST createSession, REVALIDATE question */
	struct core_auth *auth;	   /* owned, may be NULL: the client's identities */

	/* ZM_PING reply (learner -> leader): sessions touched since the last */
	struct zmsg_touch *touches;
	int32_t ntouches;

	/* ZM_REVALIDATE reply */
	bool valid;

	/* ZM_NEWLEADER: config text (may be NULL) */
	char *config;

	/* ZM_SNAP, sender side: the core to serialize (not owned; read at
	 * send time).  Receiver side: a new core holding the leader's tree
	 * (owned until zab takes it). */
	struct core *snap;
};

/* Releases what m owns and zeroes it. */
void zmsg_free(struct zmsg *m);

/* Deep copy of src into *dst (SNAP's core: see above).  Returns 0 or
 * -ENOMEM. */
int zmsg_clone(struct zmsg *dst, const struct zmsg *src);

/* Name of a type for logs ("PROPOSAL"), "?" if unknown. */
const char *zmsg_type_name(int32_t type);

#endif
