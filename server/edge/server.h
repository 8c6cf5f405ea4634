/*
 * server.h — the request pipeline of zkfs-server: the glue between the
 * network edge (net.c), the pure core (core.h) and storage (commit.h,
 * log.h, snap.h), plus everything that runs on timers: session expiry,
 * the container/TTL reaper, snapshots, autopurge, and shutdown.
 *
 * Ordering rules implemented here (see the wire-protocol fact sheet):
 *   - a write is prepared (core_prep) when it arrives, its txn goes to the
 *     group commit, and it is applied and answered once durable;
 *   - commit callbacks arrive in submission order, so txns are applied in
 *     prep order, as the core requires;
 *   - each connection keeps its requests in a FIFO: a read is answered at
 *     once when nothing is ahead of it, otherwise it waits behind the
 *     connection's earlier writes, so replies leave in request order;
 *   - watch events are appended to the watcher's output from inside
 *     core_apply, i.e. before the reply of the write that fired them.
 */
#ifndef ZKFS_SERVER_SERVER_H
#define ZKFS_SERVER_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "commit.h"
#include "config.h"
#include "core.h"
#include "fourlw.h"
#include "log.h"
#include "net.h"
#include "sasl.h"

#define ZKFS_VERSION "3.8.0-zkfs-0.1"

struct zab;
struct peer_net;
struct tls_server;

struct server {
	uv_loop_t *loop;
	struct config *cfg;
	struct core *core;
	struct core_config core_cfg; /* what the core was made with (SNAPs build new ones) */
	struct zlog *log;
	struct commit *commit;

	/* network */
	uv_tcp_t listener;
	bool listening;
	int bound_port;             /* the port actually bound (clientPort 0 = any) */
	uv_tcp_t secure_listener;   /* secureClientPort (TLS) */
	bool secure_listening;
	int secure_bound_port;
	struct tls_server *tls;     /* TLS context (tls.c), NULL when TLS is off */
	struct conn *conns;
	unsigned nconns;
	uint64_t next_conn_id;
	struct conn *flush_list;
	uint8_t *rshared;           /* read buffer shared by connections with nothing pending */
	bool rshared_busy;
	size_t max_buffer;          /* jute.maxbuffer */
	unsigned max_client_cnxns;  /* per IP, 0 = unlimited */
	unsigned max_cnxns;         /* in total, 0 = unlimited */
	size_t out_stop_bytes;      /* stop reading a connection with this much output queued */
	size_t out_close_bytes;     /* close a connection with this much output queued */
	fourlw_set fourlw_allowed;

	/* throttle */
	unsigned outstanding;       /* requests read and not yet answered */
	unsigned outstanding_limit; /* globalOutstandingLimit */
	bool throttled;
	bool resume_pending;        /* re-check every connection at the end of the iteration */

	/* loop hooks */
	uv_check_t check;
	uv_idle_t flush_idle; /* keeps the poll from blocking while output waits */
	bool hooks_closed;    /* check/idle handles closed (end of shutdown) */
	uv_timer_t tick_timer;
	uv_timer_t reap_timer;
	uv_timer_t purge_timer;
	uv_signal_t sigterm, sigint;

	/* snapshots */
	uint64_t txns_since_snap;
	uint64_t snap_every;        /* this round's threshold (snapCount/2 + random) */
	struct snapper *snapper;    /* the snapshot under way, NULL = none */
	uint64_t snap_count;        /* snapshots started */
	uint64_t snap_ms_last;      /* start to durable, the last one that ended */
	uint64_t snap_not_before;   /* loop time (ms) the next one may start at */
	uint64_t snap_step_us_max;  /* longest serialization step on the loop */
	bool purge_running;
	uv_work_t purge_work;

	/* storage state */
	bool storage_failed;        /* the log failed: no more writes */
	struct jute_out scratch;    /* txn encoding */

	/* shutdown */
	bool shutting_down;
	int exit_code;

	/* ensemble member (ensemble.c); zab == NULL when standalone */
	struct zab *zab;
	struct peer_net *peers;
	struct core *retired_core; /* replaced by a SNAP while a snapshot of it ran */
	struct core_txn **recent;  /* the last txns recovery replayed (ring), until
				      ens_init hands them to zab */
	size_t recent_start, recent_len, recent_cap;
	uv_timer_t zab_timer;
	int64_t *ens_logq; /* zxids handed to the group commit, in order */
	size_t ens_logq_head, ens_logq_len, ens_logq_cap;
	int64_t ens_logged_upto;
	bool ens_logged_pending;
	int ens_log_failed;
	bool ens_serving;
	int ens_role; /* enum zab_role */
	uint64_t ens_looking_since; /* loop ms */
	uint64_t ens_last_proposal_size;
	uint64_t ens_digest_mismatches; /* as last logged */
	uint64_t ens_digest_log_ms;	/* when a mismatch was last logged */
	int64_t ens_window_base; /* the log after this zxid is this tree's history:
				    the recovered or installed snapshot's */
	void (*ens_close_done)(struct server *srv);

	struct sasl_ratelog sasl_log; /* failed SASL exchanges: rate-limited log */

	/* statistics (4lw) */
	uint64_t packets_received, packets_sent;
	uint64_t lat_min, lat_max, lat_sum, lat_n; /* ms */
	uint64_t start_ms;
};

/* Fills srv from cfg (owned by the caller, must outlive srv), recovers
 * the data (newest snapshot + log replay), opens the log and the group
 * commit and starts listening.  Returns 0 or a negative errno (already
 * logged). */
int server_init(struct server *srv, uv_loop_t *loop, struct config *cfg);

/* The program's argv, kept so an ensemble member can re-execute itself
 * (to cut its log when a leader asks, see ensemble.c). */
void server_set_argv(char **argv);

/* Runs the loop until shutdown completes; returns the exit status. */
int server_run(struct server *srv);

/* Starts a clean shutdown: stop accepting and reading, drain the group
 * commit, flush replies, close connections and the log.  Idempotent. */
void server_shutdown(struct server *srv, const char *why);

/* Frees what server_init allocated (after server_run returned). */
void server_free(struct server *srv);

/* ---- called by net.c ---- */

/* One whole frame of connection c (the ConnectRequest in state NEW, a
 * request otherwise).  body is valid only during the call.  Returns 0, or
 * a negative errno to have net.c close the connection at once. */
int server_conn_frame(struct conn *c, const uint8_t *body, size_t len);

/* Connection c is going away (state CLOSED): drop its watches and its
 * queued reads; writes in the commit pipeline keep a reference. */
void server_conn_closed(struct conn *c);

/* Milliseconds of the wall clock (the core's time base). */
int64_t server_now_ms(void);

#endif
