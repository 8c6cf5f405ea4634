/*
 * zk.h — ZooKeeper protocol constants shared by server, client and mount:
 * opcodes, error codes, create modes, permissions, watch event types and
 * path rules.  Names and numbers follow the client wire protocol of
 * ZooKeeper 3.5 – 3.9 (see shared/reference/zookeeper-wire-protocol.md).
 */
#ifndef ZKFS_PROTO_ZK_H
#define ZKFS_PROTO_ZK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* X(name, code, text): every error code of the protocol. */
#define ZK_ERRORS(X)                                                    \
	X(OK, 0, "ok")                                                  \
	X(SYSTEMERROR, -1, "system error")                              \
	X(RUNTIMEINCONSISTENCY, -2, "runtime inconsistency")            \
	X(DATAINCONSISTENCY, -3, "data inconsistency")                  \
	X(CONNECTIONLOSS, -4, "connection loss")                        \
	X(MARSHALLINGERROR, -5, "marshalling error")                    \
	X(UNIMPLEMENTED, -6, "unimplemented")                           \
	X(OPERATIONTIMEOUT, -7, "operation timeout")                    \
	X(BADARGUMENTS, -8, "bad arguments")                            \
	X(INVALIDSTATE, -9, "invalid state")                            \
	X(UNKNOWNSESSION, -12, "unknown session")                       \
	X(NEWCONFIGNOQUORUM, -13, "new config has no quorum")           \
	X(RECONFIGINPROGRESS, -14, "reconfig in progress")              \
	X(APIERROR, -100, "api error")                                  \
	X(NONODE, -101, "no node")                                      \
	X(NOAUTH, -102, "not authenticated")                            \
	X(BADVERSION, -103, "bad version")                              \
	X(NOCHILDRENFOREPHEMERALS, -108, "no children for ephemerals")  \
	X(NODEEXISTS, -110, "node exists")                              \
	X(NOTEMPTY, -111, "not empty")                                  \
	X(SESSIONEXPIRED, -112, "session expired")                      \
	X(INVALIDCALLBACK, -113, "invalid callback")                    \
	X(INVALIDACL, -114, "invalid acl")                              \
	X(AUTHFAILED, -115, "authentication failed")                    \
	X(CLOSING, -116, "closing")                                     \
	X(NOTHING, -117, "nothing")                                     \
	X(SESSIONMOVED, -118, "session moved")                          \
	X(NOTREADONLY, -119, "not read-only")                           \
	X(EPHEMERALONLOCALSESSION, -120, "ephemeral on local session")  \
	X(NOWATCHER, -121, "no watcher")                                \
	X(REQUESTTIMEOUT, -122, "request timeout")                      \
	X(RECONFIGDISABLED, -123, "reconfig disabled")                  \
	X(SESSIONCLOSEDREQUIRESASLAUTH, -124, "session closed, sasl required") \
	X(QUOTAEXCEEDED, -125, "quota exceeded")                        \
	X(THROTTLEDOP, -127, "throttled")

enum zk_err {
#define ZK_ERR_ENUM(name, code, text) ZE_##name = code,
	ZK_ERRORS(ZK_ERR_ENUM)
#undef ZK_ERR_ENUM
};

/* "NONODE" for -101; "UNKNOWN" for codes not in the table. */
const char *zk_err_name(int code);
/* "no node" for -101. */
const char *zk_err_text(int code);

/* X(name, code): request opcodes. */
#define ZK_OPS(X)                       \
	X(NOTIFICATION, 0)              \
	X(CREATE, 1)                    \
	X(DELETE, 2)                    \
	X(EXISTS, 3)                    \
	X(GETDATA, 4)                   \
	X(SETDATA, 5)                   \
	X(GETACL, 6)                    \
	X(SETACL, 7)                    \
	X(GETCHILDREN, 8)               \
	X(SYNC, 9)                      \
	X(PING, 11)                     \
	X(GETCHILDREN2, 12)             \
	X(CHECK, 13)                    \
	X(MULTI, 14)                    \
	X(CREATE2, 15)                  \
	X(RECONFIG, 16)                 \
	X(CHECKWATCHES, 17)             \
	X(REMOVEWATCHES, 18)            \
	X(CREATECONTAINER, 19)          \
	X(DELETECONTAINER, 20)          \
	X(CREATETTL, 21)                \
	X(MULTIREAD, 22)                \
	X(AUTH, 100)                    \
	X(SETWATCHES, 101)              \
	X(SASL, 102)                    \
	X(GETEPHEMERALS, 103)           \
	X(GETALLCHILDRENNUMBER, 104)    \
	X(SETWATCHES2, 105)             \
	X(ADDWATCH, 106)                \
	X(WHOAMI, 107)                  \
	X(CREATESESSION, -10)           \
	X(CLOSESESSION, -11)            \
	X(ERROR, -1)

enum zk_op_code {
#define ZK_OP_ENUM(name, code) ZOP_##name = code,
	ZK_OPS(ZK_OP_ENUM)
#undef ZK_OP_ENUM
};

/* "create" style lower-case name, or "unknown". */
const char *zk_op_name(int op);

/* Special xids. */
enum {
	ZXID_NOTIFICATION = -1,
	ZXID_PING = -2,
	ZXID_AUTH = -4,
	ZXID_SETWATCHES = -8,
};

/* Create flags (modes). */
enum zk_create_mode {
	ZK_PERSISTENT = 0,
	ZK_EPHEMERAL = 1,
	ZK_PERSISTENT_SEQUENTIAL = 2,
	ZK_EPHEMERAL_SEQUENTIAL = 3,
	ZK_CONTAINER = 4,
	ZK_PERSISTENT_WITH_TTL = 5,
	ZK_PERSISTENT_SEQUENTIAL_WITH_TTL = 6,
};
#define ZK_MAX_TTL 0xFFFFFFFFFFLL

/* Permissions. */
enum {
	ZK_PERM_READ = 1,
	ZK_PERM_WRITE = 2,
	ZK_PERM_CREATE = 4,
	ZK_PERM_DELETE = 8,
	ZK_PERM_ADMIN = 16,
	ZK_PERM_ALL = 31,
};

/* Watch events and session states. */
enum zk_event_type {
	ZK_EVENT_NONE = -1,
	ZK_EVENT_CREATED = 1,
	ZK_EVENT_DELETED = 2,
	ZK_EVENT_DATA_CHANGED = 3,
	ZK_EVENT_CHILD_CHANGED = 4,
	ZK_EVENT_DATA_WATCH_REMOVED = 5,
	ZK_EVENT_CHILD_WATCH_REMOVED = 6,
	ZK_EVENT_PERSISTENT_WATCH_REMOVED = 7,
};
enum zk_state {
	ZK_STATE_DISCONNECTED = 0,
	ZK_STATE_SYNC_CONNECTED = 3,
	ZK_STATE_AUTH_FAILED = 4,
	ZK_STATE_CONNECTED_READONLY = 5,
	ZK_STATE_SASL_AUTHENTICATED = 6,
	ZK_STATE_EXPIRED = -112,
};

/* addWatch modes. */
enum { ZK_ADDWATCH_PERSISTENT = 0, ZK_ADDWATCH_PERSISTENT_RECURSIVE = 1 };
/* checkWatches/removeWatches watcher types. */
enum {
	ZK_WATCHER_CHILDREN = 1,
	ZK_WATCHER_DATA = 2,
	ZK_WATCHER_ANY = 3,
	ZK_WATCHER_PERSISTENT = 4,
	ZK_WATCHER_PERSISTENT_RECURSIVE = 5,
};

/*
 * Path rules: non-empty, starts with '/', no trailing '/' except the root,
 * no empty, "." or ".." components, no NUL, no U+0001–U+001F,
 * U+007F–U+009F, U+D800–U+F8FF, U+FFF0–U+FFFF.  `len` is the byte length.
 * Returns true when valid.
 */
bool zk_path_valid(const char *path, size_t len);

/* Byte length of the parent of a valid path ("/a/b" -> 2, "/a" -> 1, "/" -> 0). */
size_t zk_path_parent_len(const char *path, size_t len);

/* zxid helpers. */
static inline uint32_t zk_zxid_epoch(int64_t zxid)
{
	return (uint32_t)((uint64_t)zxid >> 32);
}
static inline uint32_t zk_zxid_counter(int64_t zxid)
{
	return (uint32_t)zxid;
}

#endif
