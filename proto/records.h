/*
 * records.h — ZooKeeper's records (zookeeper.jute) as C structs, with
 * encoders and decoders used by both ends of the connection.
 *
 * One generic shape covers every request and every reply, so the server
 * decodes with the same code the client encodes with, and the codec is
 * tested by round trips:
 *   - struct zk_op     one operation (a plain request body, or one element
 *                      of a multi / multiRead);
 *   - struct zk_request  RequestHeader + body (ops[] for multi);
 *   - struct zk_result one reply body (or one element of a multi reply);
 *   - struct zk_response ReplyHeader + body.
 * Only the fields that the opcode uses are meaningful.
 *
 * Ownership: decoders fill structs with malloc'd members (strings are
 * NUL-terminated copies); the matching *_free releases them and zeroes the
 * struct.  Encoders never take ownership.  Decoders return 0, -EBADMSG on
 * a malformed record (anything left over after the record also counts) or
 * -ENOMEM; on error the struct is already freed.
 */
#ifndef ZKFS_PROTO_RECORDS_H
#define ZKFS_PROTO_RECORDS_H

#include "jute.h"
#include "zk.h"

struct zk_stat {
	int64_t czxid;
	int64_t mzxid;
	int64_t ctime;
	int64_t mtime;
	int32_t version;
	int32_t cversion;
	int32_t aversion;
	int64_t ephemeral_owner;
	int32_t data_length;
	int32_t num_children;
	int64_t pzxid;
};
#define ZK_STAT_SIZE 68

struct zk_id {
	char *scheme;
	char *id;
};

struct zk_acl {
	int32_t perms;
	struct zk_id id;
};

struct zk_acl_vec {
	int32_t n;
	struct zk_acl *v;
};

struct zk_str_vec {
	int32_t n;
	char **v;
};

/* ClientInfo of whoAmI. */
struct zk_client_info {
	char *auth_scheme;
	char *user;
};

struct zk_connect_req {
	int32_t protocol_version;
	int64_t last_zxid_seen;
	int32_t timeout;
	int64_t session_id;
	uint8_t passwd[16];
	int32_t passwd_len; /* as received; 16 from every real client */
	bool read_only;
	bool has_read_only; /* false for pre-3.4 clients (44-byte body) */
};

struct zk_connect_resp {
	int32_t protocol_version;
	int32_t timeout;
	int64_t session_id;
	uint8_t passwd[16];
	bool read_only;
	bool has_read_only;
};

/* One operation.  Which fields matter depends on type:
 *   create/create2/createContainer/createTTL: path, data, acl, flags (, ttl)
 *   delete, check: path, version
 *   exists/getData/getChildren/getChildren2: path, watch
 *   setData: path, data, version;  getACL: path;  setACL: path, acl, version
 *   sync, deleteContainer, getAllChildrenNumber, getEphemerals: path
 *   addWatch: path, mode;  checkWatches/removeWatches: path, mode (watcher type)
 */
struct zk_op {
	int32_t type;
	char *path;
	uint8_t *data;
	int32_t data_len; /* -1 = null */
	struct zk_acl_vec acl;
	int32_t flags;
	int32_t version;
	int64_t ttl;
	bool watch;
	int32_t mode;
};

/* Indices of zk_request.watches for setWatches / setWatches2. */
enum {
	ZK_SW_DATA,
	ZK_SW_EXIST,
	ZK_SW_CHILD,
	ZK_SW_PERSISTENT,
	ZK_SW_PERSISTENT_RECURSIVE,
	ZK_SW_COUNT
};

struct zk_request {
	int32_t xid;
	int32_t type;
	struct zk_op op; /* single-op requests */
	int32_t nops;    /* multi / multiRead */
	struct zk_op *ops;
	/* setWatches (3 vectors) / setWatches2 (5) */
	int64_t rel_zxid;
	struct zk_str_vec watches[ZK_SW_COUNT];
	/* auth; for sasl (102) auth_data/auth_len carry the SASL token */
	int32_t auth_type;
	char *auth_scheme;
	uint8_t *auth_data;
	int32_t auth_len;
	/* reconfig is decoded only enough to be refused */
};

/* One reply body.  type is the opcode that produced it (for multi
 * elements: 1, 15, 2, 13, 5, 4, 8 or -1 for an error result). */
struct zk_result {
	int32_t type;
	int32_t err;
	char *path;                 /* create/create2, sync */
	struct zk_stat stat;        /* exists, setData, setACL, create2, getData, getChildren2, getACL */
	uint8_t *data;              /* getData */
	int32_t data_len;
	struct zk_str_vec children; /* getChildren/2, getEphemerals */
	struct zk_acl_vec acl;      /* getACL */
	int32_t number;             /* getAllChildrenNumber */
	int32_t ninfo;              /* whoAmI */
	struct zk_client_info *info;
};

struct zk_event {
	int32_t type;
	int32_t state;
	char *path;
};

struct zk_response {
	int32_t xid;
	int64_t zxid;
	int32_t err;
	struct zk_result r; /* body when err == 0 */
	int32_t nres;       /* multi / multiRead */
	struct zk_result *res;
	struct zk_event ev; /* xid -1 */
};

/* ---- primitives of records ---- */
void zk_stat_put(struct jute_out *o, const struct zk_stat *s);
void zk_stat_get(struct jute_in *in, struct zk_stat *s);
void zk_acl_vec_put(struct jute_out *o, const struct zk_acl_vec *v);
int zk_acl_vec_get(struct jute_in *in, struct zk_acl_vec *v);
void zk_acl_vec_free(struct zk_acl_vec *v);
/* Deep copy; returns 0 or -ENOMEM. */
int zk_acl_vec_copy(struct zk_acl_vec *dst, const struct zk_acl_vec *src);
void zk_str_vec_put(struct jute_out *o, const struct zk_str_vec *v);
int zk_str_vec_get(struct jute_in *in, struct zk_str_vec *v);
void zk_str_vec_free(struct zk_str_vec *v);

/* ---- connect ---- */
/* Encodes the whole frame (length prefix included). */
void zk_connect_req_put(struct jute_out *o, const struct zk_connect_req *r);
/* Decodes a frame body (no length prefix); accepts 44- and 45-byte bodies. */
int zk_connect_req_get(const uint8_t *body, size_t len, struct zk_connect_req *r);
void zk_connect_resp_put(struct jute_out *o, const struct zk_connect_resp *r);
int zk_connect_resp_get(const uint8_t *body, size_t len, struct zk_connect_resp *r);

/* ---- requests ---- */
/* Encodes header + body as one frame (length prefix included). */
void zk_request_put(struct jute_out *o, const struct zk_request *r);
/* Decodes one frame body.  Unknown opcodes decode with the header only and
 * return 0 (the caller answers Unimplemented); ops inside multi that don't
 * belong there make the request type-checked by zk_multi_check, not here. */
int zk_request_get(const uint8_t *body, size_t len, struct zk_request *r);
/* The same with a configured jute.maxbuffer as the largest string/buffer. */
int zk_request_get_limit(const uint8_t *body, size_t len, size_t maxbuf, struct zk_request *r);
void zk_request_free(struct zk_request *r);
void zk_op_free(struct zk_op *op);
/* Body encoders/decoders of a single op (used by request codec and by the
 * server's txn log). */
void zk_op_put(struct jute_out *o, const struct zk_op *op);
int zk_op_get(struct jute_in *in, int32_t type, struct zk_op *op);

/* ---- responses ---- */
/* Encodes header + body as one frame.  `req_type` is the opcode of the
 * request answered (selects the body); with err != 0 only the header. */
void zk_response_put(struct jute_out *o, int32_t req_type, const struct zk_response *r);
/* Decodes one frame body; `req_type` as above (ignored for xid -1/-2/-4). */
int zk_response_get(const uint8_t *body, size_t len, int32_t req_type, struct zk_response *r);
void zk_response_free(struct zk_response *r);
void zk_result_free(struct zk_result *r);
/* Body of one result without header, and its decoder. */
void zk_result_put(struct jute_out *o, int32_t type, const struct zk_result *r);
int zk_result_get(struct jute_in *in, int32_t type, struct zk_result *r);

/* Writes a notification frame: ReplyHeader{-1, zxid, 0} + WatcherEvent. */
void zk_event_put(struct jute_out *o, int64_t zxid, int32_t type, int32_t state, const char *path);

#endif
