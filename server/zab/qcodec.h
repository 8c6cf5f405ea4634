/*
 * qcodec.h — Apache ZooKeeper 3.8's server-to-server bytes, translated to
 * and from the structured messages of zmsg.h.  Pure: no system calls; the
 * edge owns the sockets and hands bytes in and out.  The facts (field
 * orders, limits, Java classes to check them against) are in
 * ../shared/reference/zab-quorum-protocol.md, cited below as "§n".
 *
 * Four layers, one per file:
 *   qcodec.c   election channel (connection header, notification frames,
 *              config text) and quorum packets (QuorumPacket, the
 *              incremental reader);
 *   qtxn.c     core txns <-> TxnHeader ‖ txn record ‖ TxnDigest (§4.2);
 *   qseal.c    Adler32 (file seals); the tree digest is the core's
 *              (core/digest.h);
 *   qsnap.c    the DataTree serialization a SNAP carries (§5.1) and the
 *              snapshot file around it (§5.2).
 *
 * Conventions: encoders append to a struct jute_out (its sticky err says
 * -ENOMEM) and return 0 or a negative errno for input they cannot express;
 * decoders return 0 or -EBADMSG for malformed bytes (never crash, never
 * read past the given length), -EMSGSIZE for a length past the limit,
 * -ENOMEM.  Incremental parsers return 1 (done), 0 (need more bytes) or a
 * negative errno.  Out of memory while building a core or a txn aborts,
 * as everywhere in the core (xmem.h).
 */
#ifndef ZKFS_ZAB_QCODEC_H
#define ZKFS_ZAB_QCODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"

#include "core.h"
#include "jute.h"
#include "zmsg.h"

/* ================================================================ election port (§1) */

#define QC_ELECTION_V1 (-65536LL)	 /* protocolVersion we send */
#define QC_ELECTION_V2 (-65535LL)	 /* multi-address form, accepted */
#define QC_ADDR_MAX 2048		 /* largest address string accepted */
#define QC_NOTIFY_MAX 524288		 /* largest election frame accepted */

/* The connection header a dialler sends: protocolVersion -65536, sid,
 * i32 length, addr ("host:port" of its election address).  One write. */
void qc_hello_put(struct jute_out *o, int64_t sid, const char *addr);

struct qc_hello {
	int64_t sid;
	bool old_format;	   /* bare sid (first long >= 0): no address */
	char addr[QC_ADDR_MAX + 1]; /* NUL-terminated; "" in the old format */
};

/*
 * Parses the connection header from the first len bytes received on an
 * accepted election connection (call again with more bytes on 0).
 * Returns 1 with *h filled and *used = header bytes (what follows is
 * framed notifications), 0 when more bytes are needed, or -EBADMSG (an
 * unknown negative protocol version, address length outside
 * 1..QC_ADDR_MAX): close the connection.
 */
int qc_hello_parse(const uint8_t *p, size_t len, struct qc_hello *h, size_t *used);

/*
 * Finds one election frame (i32 N ‖ N bytes) at p.  Returns 1 with
 * *body, *blen the N bytes and *used = 4 + N, 0 when incomplete, -EBADMSG
 * when N <= 0 or N > QC_NOTIFY_MAX (drop the connection).
 */
int qc_frame_parse(const uint8_t *p, size_t len, const uint8_t **body, size_t *blen,
		   size_t *used);

/* A whole notification frame (length prefix included) of m->vote with
 * version 2 and `config` (the sender's config text, may be NULL = empty). */
void qc_notification_put(struct jute_out *o, const struct zmsg *m, const char *config);

/*
 * Decodes a notification body (one frame's N bytes) into *m (zeroed
 * first): type ZM_NOTIFICATION, vote.*, and for version > 1 the config
 * text in m->config (malloc'd, NUL-terminated; zmsg_free releases it) and
 * its version= line in vote.config_version.  The old 28-byte (no
 * peerEpoch: zxid >> 32) and 40-byte (no version) forms are accepted.
 * Returns 0, -EBADMSG (shorter than 28, config length out of range,
 * unknown state — Apache drops those too) or -ENOMEM.
 */
int qc_notification_get(const uint8_t *body, size_t len, struct zmsg *m);

/* One member of the ensemble for the config text. */
struct qc_server {
	int64_t id;
	const char *host; /* quorum and election host ("127.0.0.1", "[::1]" is added for v6) */
	int32_t qport, eport;
	bool observer;
	const char *client_host; /* NULL: no client part (port from the static
				    clientPort, as Apache prints it) */
	int32_t client_port;
};

/*
 * ZooKeeper's config text (QuorumMaj.toString): "server.<id>=<host>:<q>:
 * <e>:participant|observer[;<chost>:<cport>]" lines in increasing id
 * order, each ending in '\n', then "version=<hex>" without a newline.
 * IPv6 literals (a ':' in host) are bracketed.  Returns a malloc'd string
 * or NULL (out of memory).
 */
char *qc_config_text(const struct qc_server *v, size_t n, int64_t version);

/* The value of the "version=<hex>" line of a config text (0 when absent).
 * Returns 0 or -EBADMSG (a version line that is not hex). */
int qc_config_version(const char *text, size_t len, int64_t *version);

/* ================================================================ quorum port (§2) */

/* Default limit of one buffer/string inside a packet: jute.maxbuffer plus
 * zookeeper.jute.maxbuffer.extrasize, both 0xfffff by default. */
#define QC_MAXBUF_DEFAULT (2 * (size_t)JUTE_MAX_BUFFER)

/*
 * Appends m as one QuorumPacket {int type; long zxid; buffer data;
 * vector<Id> authinfo} (no length prefix).  from_leader says which way it
 * goes: PING and REVALIDATE carry different payloads each way (a leader's
 * PING has no data, a learner's reply always has some, maybe empty).
 * digest (may be NULL) is the TxnDigest of PROPOSAL/INFORM (the tree
 * digest after the txn).  A SNAP appends the packet and then the whole
 * stream of m->snap (§5.1) with its "BenWasHere" signature.
 * Returns 0, -EINVAL (a type not in zmsg.h, or missing payload: REQUEST
 * without req, PROPOSAL without txn, SNAP without snap, a txn qc_txn_put
 * refuses) or the writer's -ENOMEM.
 */
int qc_packet_put(struct jute_out *o, const struct zmsg *m, bool from_leader,
		  const int64_t *digest);

/*
 * Decodes one whole QuorumPacket occupying exactly p[0..len) into *m
 * (zeroed first; the caller zmsg_frees it).  *has_digest, *digest (may be
 * NULL) get a PROPOSAL/INFORM's TxnDigest.  A SNAP decodes with
 * m->snap NULL (the stream follows the packet: qc_reader does both).
 * maxbuf limits each buffer and string (-EMSGSIZE past it).
 * Returns 0, -EBADMSG, -EMSGSIZE or -ENOMEM.
 */
int qc_packet_get(const uint8_t *p, size_t len, bool from_leader, size_t maxbuf, struct zmsg *m,
		  bool *has_digest, int64_t *digest);

/*
 * The length of the QuorumPacket that starts at p, when it is all there:
 * returns 1 with *plen set, 0 when more bytes are needed, -EMSGSIZE (a
 * buffer or string longer than maxbuf) or -EBADMSG (a negative length
 * other than -1, a vector count that cannot be).
 */
int qc_packet_scan(const uint8_t *p, size_t len, size_t maxbuf, size_t *plen);

/*
 * Incremental reader of one quorum connection: feed it the bytes TCP
 * hands in, in any chunks; take whole messages out.  A SNAP comes out
 * once its whole stream has arrived, with m->snap a new core built from
 * it (with snap_cfg) and m->zxid the SNAP's zxid as its last zxid.
 * Errors are sticky; `why` says what went wrong in words for the log.
 */
struct qc_snap_parser;
struct qc_reader {
	uint8_t *buf;
	size_t len, pos, cap;
	size_t maxbuf;
	bool from_leader; /* the packets read come from the leader */
	struct core_config snap_cfg;
	struct qc_snap_parser *snap; /* a SNAP stream under way */
	struct zmsg snap_msg;	     /* its packet, until the stream is in */
	int err;
	const char *why;
	/* the TxnDigest of the last PROPOSAL/INFORM returned */
	bool has_digest;
	int64_t digest;
};

/* maxbuf 0 = QC_MAXBUF_DEFAULT.  snap_cfg (copied; its strings must
 * outlive the reader) configures cores built from SNAPs (NULL = defaults). */
void qc_reader_init(struct qc_reader *r, bool from_leader, size_t maxbuf,
		    const struct core_config *snap_cfg);
void qc_reader_free(struct qc_reader *r);
/* Appends bytes (copied).  Returns 0, the sticky error, or -ENOMEM. */
int qc_reader_feed(struct qc_reader *r, const void *p, size_t n);
/* The next whole message: 1 with *m filled (caller zmsg_frees), 0 when
 * more bytes are needed, or a negative errno (sticky; see why). */
int qc_reader_next(struct qc_reader *r, struct zmsg *m);

/* ================================================================ txns (§4.2) */

/*
 * Appends TxnHeader {clientId, cxid, zxid, time, type} ‖ record ‖
 * [TxnDigest {2, digest}] for a core txn.  Shapes (txn.h) map to
 * ZooKeeper's types: TX_CREATE by node kind to CreateTxn (ephemeral
 * flag; the owner is the header's clientId) / CreateContainerTxn /
 * CreateTTLTxn; TX_DELETE DeleteTxn; TX_SETDATA SetDataTxn; TX_SETACL
 * SetACLTxn; multi MultiTxn (a failed one: ErrorTxn per op, 0 for the ops
 * before the failing one, as ZooKeeper applies them); createSession
 * CreateSessionTxn; closeSession CloseSessionTxn listing the TX_DELETEs;
 * a failed write ErrorTxn.  Returns 0, -EINVAL for a txn of no such shape
 * (e.g. an ephemeral owned by another session than the txn's), or the
 * writer's -ENOMEM.
 */
int qc_txn_put(struct jute_out *o, const struct core_txn *t, const int64_t *digest);

/*
 * Parses ZooKeeper txn bytes (as in PROPOSAL/INFORM data or a log record)
 * into a new core txn (*out, caller core_txn_frees).  ParentCVersion -1
 * ("current + 1") stays -1 in the txn: core_apply reads it so.  A
 * closeSession without body becomes a bare TX_SESSION_CLOSE (the core
 * deletes the session's ephemerals itself).  *has_digest, *digest (may be
 * NULL) get the TxnDigest when one follows.  Returns 0, -EBADMSG
 * (malformed, unknown type, trailing bytes), -EMSGSIZE or -ENOMEM.
 */
int qc_txn_get(const uint8_t *p, size_t len, size_t maxbuf, struct core_txn **out,
	       bool *has_digest, int64_t *digest);

/* ================================================================ digest (§4.2) */

/* Adler32 running sum (start with 1).  CRC32 and the node digest are the
 * core's (digest.h: dg_crc32, dg_node), which keeps the tree digest. */
uint32_t qc_adler32(uint32_t adler, const void *p, size_t n);

/* ZooKeeper's tree digest of a whole core (the sum of qc_node_digest mod
 * 2^64), by a full walk.  For tests and verification: O(nodes). */
int64_t qc_tree_digest(const struct core *c);

/* ================================================================ SNAP stream (§5) */

/*
 * Appends the DataTree serialization of c: sessions, ACL map (core slot 0
 * = OPEN_ACL_UNSAFE goes out as index -1 with no entry; other slots keep
 * their number), nodes in preorder with StatPersisted, "/" — and with
 * `signature` the leader's "BenWasHere" after it.  Returns 0 or -ENOMEM.
 */
int qc_snap_put(struct jute_out *o, const struct core *c, bool signature);
/* The same bytes handed to out() in pieces of about `chunk` bytes (0:
 * 1 MiB) as the tree is walked, for a sender that streams: returns 0, the
 * first non-zero out() result, or -ENOMEM. */
int qc_snap_stream(const struct core *c, bool signature, size_t chunk,
		   int (*out)(void *arg, const void *buf, size_t len), void *arg);
/* A whole SNAP QuorumPacket (m->type ZM_SNAP, m->snap the tree) as
 * qc_packet_put encodes it, streamed the same way. */
int qc_snap_packet_stream(const struct zmsg *m, size_t chunk,
			  int (*out)(void *arg, const void *buf, size_t len), void *arg);

/*
 * Parser of that stream building a fresh core (core_new(cfg)) whose last
 * zxid is `zxid`.  Feed bytes in any chunks: returns 1 when the stream
 * (with "BenWasHere" when `signature`) is complete, *used = bytes of this
 * chunk it took (the rest belongs to whatever follows); 0 when it took
 * them all and wants more; or -EBADMSG/-EMSGSIZE (sticky).  The ACL map's
 * OPEN_ACL_UNSAFE and READ_ACL_UNSAFE lists land in the core's fixed slots
 * 0 and 1, other indices keep their number when they can.
 */
struct qc_snap_parser *qc_snap_parser_new(const struct core_config *cfg, int64_t zxid,
					  bool signature, size_t maxbuf);
int qc_snap_parser_feed(struct qc_snap_parser *sp, const uint8_t *p, size_t len, size_t *used);
/* The built core once feed returned 1 (the parser keeps nothing), else NULL. */
struct core *qc_snap_parser_take(struct qc_snap_parser *sp);
/* Frees the parser and a core not taken. */
void qc_snap_parser_free(struct qc_snap_parser *sp);

/*
 * Snapshot file (§5.2): header {ZKSN, 2, dbid -1} ‖ stream ‖ Adler32 seal
 * ‖ ZxidDigest {zxid, 2, digest} ‖ seal, as `snapshot.<hex zxid>` holds.
 * qc_snapfile_put writes one of c with its tree digest, tagged zxid;
 * qc_snapfile_get checks header and seals and builds a core whose last
 * zxid is `zxid` (the file name's); *digest gets the stored digest (0 when
 * the file has none).  Returns 0, -EBADMSG (bad magic, checksum,
 * structure) or -ENOMEM.
 */
int qc_snapfile_put(struct jute_out *o, const struct core *c, int64_t zxid);
int qc_snapfile_get(const uint8_t *p, size_t len, const struct core_config *cfg, int64_t zxid,
		    struct core **out, int64_t *digest);

#endif
