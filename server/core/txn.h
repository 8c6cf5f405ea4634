/*
 * txn.h — txns of the core: what a prepared write turns into, what the log
 * stores and what replication ships.  A txn is a list of state deltas with
 * every resulting value fixed at prep time (versions, the parent's stored
 * cversion, data, ACL, owner), plus the zxid and time they are stamped
 * with, so applying it is deterministic and applying it twice is harmless.
 *
 * Shapes:
 *   create/create2/createContainer/createTTL  one TX_CREATE
 *   delete/deleteContainer                    one TX_DELETE
 *   setData / setACL                          one TX_SETDATA / TX_SETACL
 *   multi (success)                           one delta per op (TX_CHECK for check)
 *   multi (failure)                           one TX_ERROR per op (0 / code / -2)
 *   createSession                             one TX_SESSION_OPEN
 *   closeSession                              TX_DELETE per ephemeral, then TX_SESSION_CLOSE
 *   failed single write                       no deltas, core_txn.err != 0, type -1
 *
 * Encoding (jute, big-endian), format CORE_TXN_FORMAT (2):
 *   int format, long zxid, long time, long session, int cxid, int type, int err,
 *   int nops, then per op: int kind, int rtype, int err, ustring path and
 *   by kind: CREATE buffer data, acl vector, int node_kind, long owner,
 *   int parent_cversion; SETDATA buffer data, int version; SETACL acl
 *   vector, int aversion; SESSION_OPEN long sid, int timeout;
 *   SESSION_CLOSE long sid.
 * Format 1 (logs written before ensembles) is the same without cxid and
 * still decodes (cxid 0).
 */
#ifndef ZKFS_SERVER_TXN_H
#define ZKFS_SERVER_TXN_H

#include <stdint.h>

#include "core.h"
#include "records.h"

enum txn_kind {
	TX_CREATE = 1,
	TX_DELETE = 2,
	TX_SETDATA = 3,
	TX_SETACL = 4,
	TX_CHECK = 5,
	TX_ERROR = 6,
	TX_SESSION_OPEN = 7,
	TX_SESSION_CLOSE = 8,
};

struct txn_op {
	int32_t kind;  /* enum txn_kind */
	int32_t rtype; /* opcode of the reply element (1, 15, 2, 5, 7, 13, -1, ...) */
	int32_t err;   /* TX_ERROR: the element's code */
	char *path;    /* actual path (sequential suffix included) */
	uint8_t *data;
	int32_t data_len;
	struct zk_acl_vec acl;
	int32_t node_kind; /* TX_CREATE: enum tnode_kind */
	int64_t owner;	   /* TX_CREATE: session (ephemeral) or ttl; SESSION_*: sid */
	int32_t version;   /* SETDATA: new version; SETACL: new aversion; SESSION_OPEN: timeout;
			    * CHECK: current + 1 (for CheckVersionTxn; not in the log) */
	int32_t parent_cversion; /* TX_CREATE: parent's stored cversion after the create */
};

struct core_txn {
	int64_t zxid;
	int64_t time;
	int64_t session;
	int32_t cxid; /* the client's xid (TxnHeader.cxid); 0 for server-made txns */
	int32_t type; /* request opcode, -1 for a failed single write */
	int32_t err;  /* 0, or the code a failed single write answers with */
	int32_t nops;
	int32_t cap;
	struct txn_op *ops;
	/* ZooKeeper's tree digest after this txn (digest.h), when the core
	 * that prepared it keeps one; travels in PROPOSALs (TxnDigest), not
	 * in the log */
	bool has_digest;
	int64_t digest;
};

struct core_txn *txn_new(int64_t zxid, int64_t time, int64_t session, int32_t type);
/* Appends a zeroed op of `kind` and returns it (valid until the next push). */
struct txn_op *txn_push(struct core_txn *t, int32_t kind, int32_t rtype, const char *path);

#endif
