/*
 * server_int.h — what the request pipeline (server.c) shares with the
 * ensemble glue (ensemble.c): the request record and the helpers that
 * answer clients.  Nothing outside server/edge/ includes this.
 */
#ifndef ZKFS_EDGE_SERVER_INT_H
#define ZKFS_EDGE_SERVER_INT_H

#include "server.h"

/* One request in a connection's FIFO, in the group commit, or (ensemble)
 * in the replication protocol's hands as a cookie. */
struct req {
	struct req *next;
	struct conn *conn; /* NULL for server-made txns; holds a reference */
	struct zk_request r;
	struct core_txn *txn; /* standalone writes: until applied */
	bool is_write;	      /* waits for the pipeline (writes, ensemble syncs) */
	uint64_t start_ms;
	/* a refusal decided at the edge: header-only reply with this error */
	int32_t fixed_err;
	bool fixed_close; /* ... and close after it */
	/* handshake (createSession, or a reconnect being revalidated) */
	bool is_handshake;
	bool is_revalidate;
	int32_t timeout;
};

void srv_count_latency(struct server *srv, struct conn *c, uint64_t start_ms);
void srv_send_response(struct conn *c, int32_t type, struct zk_response *resp);
void srv_outstanding_inc(struct server *srv);
void srv_outstanding_dec(struct server *srv);
void srv_req_free(struct req *q);
void srv_queue_push(struct conn *c, struct req *q);
struct req *srv_queue_pop(struct conn *c);
void srv_queue_remove(struct conn *c, struct req *q);
int srv_do_read(struct conn *c, struct zk_request *r, uint64_t start_ms);
void srv_drain_reads(struct conn *c);
void srv_storage_failure(struct server *srv, int err);
void srv_maybe_snapshot(struct server *srv);
void srv_send_connect_response(struct conn *c, int32_t timeout, int64_t sid,
			       const uint8_t passwd[16]);
void srv_close_other_owners(struct conn *c);
void srv_finish_handshake(struct conn *c, struct req *q, int64_t zxid);
/* A write has been applied (resp: its reply; NULL when nobody waits):
 * answer, pop it from its connection's FIFO, answer the reads behind it,
 * free q. */
void srv_answer_write(struct server *srv, struct req *q, struct zk_response *resp);

/* ---- ensemble.c: the replication protocol on this server ---- */

/* Sets up zab and the peer network for an ensemble member, after
 * recovery.  Returns 0 or a negative errno (logged). */
int ens_init(struct server *srv);
/* Stops the peer network (shutdown); done(srv) runs once closed. */
void ens_close(struct server *srv, void (*done)(struct server *srv));
void ens_free(struct server *srv);
/* Before recovery: a pending log truncation (TRUNC from a leader, made
 * across a restart of the process) is carried out.  Returns 0 or a
 * negative errno (logged). */
int ens_pre_recover(struct server *srv);

bool ens_serving(const struct server *srv);
/* Client calls while serving; each returns 0 (q is zab's until answered)
 * or a negative errno (-EAGAIN: not serving; q is still the caller's). */
int ens_write(struct server *srv, struct req *q);
int ens_create_session(struct server *srv, struct req *q, int32_t timeout, int64_t *sid);
int ens_revalidate(struct server *srv, struct req *q, int64_t sid, int32_t timeout);
int ens_sync(struct server *srv, struct req *q);
void ens_touch(struct server *srv, int64_t sid, int32_t timeout);
/* Server-made writes (reaping): on the serving leader only. */
bool ens_is_leader(const struct server *srv);
int ens_server_write(struct server *srv, struct zk_request *r);
/* Loop hook: delivers coalesced log completions. */
void ens_on_check(struct server *srv);

#endif
