/*
 * config.h — configuration of zkfs-server: zoo.cfg, myid and the command line.
 *
 * zkfs-server reads the same zoo.cfg as Apache ZooKeeper (Java properties
 * style: key=value or key: value, '#' and '!' comment lines, surrounding
 * whitespace trimmed) so existing deployment tooling and test harnesses
 * work unchanged, plus "myid" from dataDir when present.  Defaults are
 * Apache ZooKeeper's.  Keys that only mean something to the Java server
 * (admin.*, metricsProvider.*, ...) are accepted, some silently,
 * some with a warning; unknown keys produce a warning naming the key and
 * the line.  Bad values are errors with a message naming key and line.
 *
 * Command line forms (config_from_args):
 *     zkfs-server [-Dkey=value ...] CONFIGFILE
 *     zkfs-server --port N --data DIR [--address A] [--log-dir DIR]
 *     zkfs-server --config FILE [--port N] [--data DIR] [--address A]
 *     zkfs-server --help
 * (options given with a file override the file's values.)
 * Java system properties, as zkServer.sh users pass them, are accepted as
 * -Dkey=value arguments and from the SERVER_JVMFLAGS environment variable
 * (its -D words; -X and other JVM flags are ignored): a property naming a
 * zoo.cfg key, with or without ZooKeeper's "zookeeper." prefix, sets that
 * key.  They are applied before the file, whose lines override them, as
 * in ZooKeeper (which turns zoo.cfg keys into system properties after the
 * JVM started); SERVER_JVMFLAGS comes before the arguments.
 *
 * Ownership: struct config owns every string in it; config_free releases
 * them.  Nothing here is thread-sensitive.
 */
#ifndef ZKFS_SERVER_CONFIG_H
#define ZKFS_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One server.N line, kept for the ensemble. */
struct config_peer {
	int64_t id;	   /* N of server.N */
	char *host;	   /* quorum address host (brackets of IPv6 removed) */
	int quorum_port;   /* followers connect to the leader here */
	int election_port; /* leader election */
	bool observer;	   /* role "observer" (default "participant") */
	char *client_host; /* after ';' — NULL if absent */
	int client_port;   /* after ';' — 0 if absent */
};

struct config {
	char *config_path; /* file read, or NULL (command-line only) */

	/* basic */
	int tick_time;			/* tickTime, ms (2000) */
	char *data_dir;			/* dataDir (required) */
	char *data_log_dir;		/* dataLogDir (default = dataDir) */
	int client_port;		/* clientPort (2181; 0 = ephemeral, for tests) */
	char *client_port_address;	/* clientPortAddress (NULL = all addresses "0.0.0.0") */
	int client_port_listen_backlog; /* clientPortListenBacklog (-1 = system default) */

	/* limits */
	int max_client_cnxns;	      /* maxClientCnxns, per client IP (60; 0 = unlimited) */
	int max_cnxns;		      /* maxCnxns, total (0 = unlimited) */
	int min_session_timeout;      /* minSessionTimeout, ms (effective: 2 * tickTime) */
	int max_session_timeout;      /* maxSessionTimeout, ms (effective: 20 * tickTime) */
	int global_outstanding_limit; /* globalOutstandingLimit (1000) */
	int jute_maxbuffer;	      /* jute.maxbuffer (0xfffff) */

	/* storage */
	int snap_count;			 /* snapCount (100000): txns between snapshots */
	int64_t snap_size_limit_kb;	 /* snapSizeLimitInKb (4194304; <= 0 = off) */
	int64_t txn_log_size_limit_kb;	 /* txnLogSizeLimitInKb (-1 = off): log roll size */
	int64_t prealloc_kb;		 /* preAllocSize, KiB (65536) */
	bool force_sync;		 /* forceSync (yes); no = no fdatasync (unsafe) */
	int fsync_warning_ms;		 /* fsync.warningthresholdms (1000) */
	int autopurge_snap_retain_count; /* autopurge.snapRetainCount (3, min 3) */
	int autopurge_purge_interval;	 /* autopurge.purgeInterval, hours (0 = off) */

	/* features */
	char **four_lw; /* 4lw.commands.whitelist split on ',', "*" = all; NULL
			 * until config_finish sets the default {"srvr"} */
	size_t n_four_lw;
	bool extended_types;		 /* zookeeper.extendedTypesEnabled (false): TTL nodes */
	char *super_digest;		 /* superDigest "super:<base64 sha1>" or NULL */
	bool local_sessions;		 /* localSessionsEnabled (false) */
	int container_check_interval_ms; /* znode.container.checkIntervalMs (60000): how often
					  * empty containers and expired TTL nodes are reaped */
	int container_max_per_minute;	 /* znode.container.maxPerMinute (10000) */
	bool disable_add_watch;		 /* zkfs.disableAddWatch (false): answer addWatch with
					  * Unimplemented and close, as a 3.5 server does
					  * (compatibility tests of clients) */
	int snapshot_slice_nodes;	 /* zkfs.snapshotSliceNodes (0 = by time): nodes a
					  * snapshot serializes per loop iteration (tests
					  * stretch snapshots over many txns with it) */

	/* ensemble (config_is_ensemble says whether they apply) */
	int64_t my_id;		      /* from dataDir/myid, -1 if absent */
	int init_limit;		      /* initLimit, ticks (0 = unset) */
	int sync_limit;		      /* syncLimit, ticks (0 = unset) */
	int election_alg;	      /* electionAlg (3, the only value accepted) */
	bool standalone_enabled;      /* standaloneEnabled (true) */
	bool reconfig_enabled;	      /* reconfigEnabled (false) */
	bool quorum_listen_on_all_ips; /* quorumListenOnAllIPs (false): bind the quorum and
					* election ports on 0.0.0.0 instead of the host of
					* the own server.N line */
	bool peer_observer;	      /* peerType: as given until config_finish, then the
				       * role of the own server.N line (which wins, with a
				       * warning if they differ, as in ZooKeeper) */
	bool peer_type_given;	      /* peerType appeared */
	char *dynamic_config_file;    /* dynamicConfigFile or NULL; read by config_finish */
	uint64_t config_version;      /* membership version (hex "version=" of the static
				       * file, or the hex suffix of the dynamic file's
				       * name; 0 by default) */
	struct config_peer *peers;    /* server.N lines, sorted by id */
	size_t n_peers;
	bool client_port_given;	      /* clientPort was set (file or --port): needed to
				       * compare it with the own server.N client address */

	/* ensemble timing, zkfs-only keys (Apache ZooKeeper has no equivalent
	 * in zoo.cfg; its Java system properties are named in docs/server.md) */
	int election_finalize_ms;   /* zkfs.electionFinalizeMs (20): a LOOKING server that
				     * sees a quorum agree waits this long for a better
				     * vote before it decides */
	int election_min_notify_ms; /* zkfs.electionMinNotifyMs (50): first resend
				     * interval of notifications while LOOKING */
	int election_max_notify_ms; /* zkfs.electionMaxNotifyMs (2000): the interval
				     * doubles up to this */
	int commit_log_count;	    /* zkfs.commitLogCount (5000): committed txns kept in
				     * memory for DIFF syncs of learners */

	/* TLS on the client port (server/edge/tls.c); ZooKeeper's names, which
	 * also work as -Dzookeeper.<name> system properties */
	int secure_client_port;		   /* secureClientPort (-1 = none; 0 = any free port) */
	char *secure_client_port_address;  /* secureClientPortAddress (NULL = clientPortAddress) */
	bool port_unification;		   /* client.portUnification: TLS and plain text on
					    * clientPort, told apart by the first byte */
	bool cert_reload;		   /* client.certReload: new connections use the key and
					    * trust stores as they are now on disk */
	char *ssl_key_store;		   /* ssl.keyStore.location */
	char *ssl_key_password;		   /* ssl.keyStore.password (secret: never shown) */
	char *ssl_key_password_path;	   /* ssl.keyStore.passwordPath: file holding it */
	char *ssl_key_store_type;	   /* ssl.keyStore.type: PEM, PKCS12 (JKS refused) */
	char *ssl_trust_store;		   /* ssl.trustStore.location */
	char *ssl_trust_password;	   /* ssl.trustStore.password (secret) */
	char *ssl_trust_password_path;	   /* ssl.trustStore.passwordPath */
	char *ssl_trust_store_type;	   /* ssl.trustStore.type */
	int ssl_client_auth;		   /* ssl.clientAuth: enum zktls_client_auth (need) */
	char *ssl_protocol;		   /* ssl.protocol (TLSv1.2) */
	char *ssl_enabled_protocols;	   /* ssl.enabledProtocols (= ssl.protocol) */
	char *ssl_ciphersuites;		   /* ssl.ciphersuites (OpenSSL's defaults) */
	bool ssl_crl;			   /* ssl.crl: check CRLs in the trust store file */
	bool ssl_ocsp;			   /* ssl.ocsp: not implemented, refused with a message */
	char *x509_super_user;		   /* X509AuthenticationProvider.superUser: the subject
					    * DN that authenticates as super */

	/* HTTP: ZooKeeper's AdminServer and Prometheus endpoint (admin.c) */
	bool admin_enable;	   /* admin.enableServer (false: unlike ZooKeeper, whose
				    * default is true, zkfs opens no HTTP port unasked) */
	char *admin_address;	   /* admin.serverAddress (NULL = "0.0.0.0") */
	int admin_port;		   /* admin.serverPort (8080; 0 = any free port) */
	char *admin_command_url;   /* admin.commandURL (NULL = "/commands") */
	int admin_idle_timeout_ms; /* admin.idleTimeout (30000) */
	bool admin_force_https;	   /* admin.forceHttps: HTTPS only, with the ssl.quorum
				    * key store (as ZooKeeper 3.8's AdminServer) */
	char *ssl_quorum_key_store;	    /* ssl.quorum.keyStore.location */
	char *ssl_quorum_key_password;	    /* ssl.quorum.keyStore.password (secret) */
	char *ssl_quorum_key_password_path; /* ssl.quorum.keyStore.passwordPath */
	char *ssl_quorum_key_store_type;    /* ssl.quorum.keyStore.type */
	char *metrics_class;	   /* metricsProvider.className, NULL = none; only
				    * ZooKeeper's PrometheusMetricsProvider starts an
				    * endpoint */
	char *metrics_host;	   /* metricsProvider.httpHost (NULL = "0.0.0.0") */
	int metrics_port;	   /* metricsProvider.httpPort (7000; 0 = any free port) */

	/* SASL and enforced authentication (sasl.c).  Java reads these as
	 * system properties; zoo.cfg gives them without the "zookeeper."
	 * prefix (QuorumPeerConfig turns unknown keys into properties) */
	char *jaas_file;	   /* java.security.auth.login.config: the JAAS file
				    * whose server section enables SASL (NULL = none) */
	char *sasl_section;	   /* zookeeper.sasl.serverconfig (NULL = "Server") */
	bool sasl_provider;	   /* some authProvider.N names ZooKeeper's
				    * SASLAuthenticationProvider: the sasl ACL scheme */
	bool enforce_auth;	   /* enforce.auth.enabled (false) */
	char **enforce_schemes;	   /* enforce.auth.schemes split on ',' */
	size_t n_enforce_schemes;
	bool sasl_required;	   /* sessionRequireClientSASLAuth (false): the same as
				    * enforce.auth.enabled=true with schemes=sasl */
	bool allow_sasl_failed;	   /* allowSaslFailedClients (false) */
	bool krb_remove_host;	   /* kerberos.removeHostFromPrincipal (false) */
	bool krb_remove_realm;	   /* kerberos.removeRealmFromPrincipal (false) */
	char *sasl_super_user;	   /* superUser: this SASL identity is super (NULL) */

	/* Java system properties as given (-Dkey=value arguments and
	 * SERVER_JVMFLAGS), "key=value" strings in order, for the admin
	 * API's system_properties; the ones naming a zoo.cfg key (with or
	 * without the "zookeeper." prefix) were also applied as that key */
	char **sysprops;
	size_t n_sysprops;

	/* warnings met while loading ("zoo.cfg:12: unknown key 'foo' ignored"),
	 * in order.  The caller prints them (config_print_warnings). */
	char **warnings;
	size_t n_warnings;
	/* message of the last error, "" if none */
	char error[512];
};

/* Fills cfg with Apache ZooKeeper's defaults (data_dir NULL).  Must be
 * called before config_load_file / config_set; config_from_args calls it. */
void config_init(struct config *cfg);

/* Releases everything cfg owns; cfg is left as after config_init (which
 * allocates nothing, so a config_free'd cfg needs no further call). */
void config_free(struct config *cfg);

/* Reads zoo.cfg at path into cfg (on top of what is there).  Does not
 * validate cross-field rules: call config_finish afterwards.
 * Returns 0, or -errno with cfg->error set ("zoo.cfg:7: clientPort: 'x' is
 * not a number", "cannot open ...: No such file or directory"). */
int config_load_file(struct config *cfg, const char *path);

/* Parses text (the content of a zoo.cfg) — the same as config_load_file,
 * for tests and for dynamic config.  name is used in messages. */
int config_load_string(struct config *cfg, const char *text, const char *name);

/* Sets one key as if read from a file line (name/line used in messages;
 * line 0 = command line).  Returns 0 or -EINVAL with cfg->error set. */
int config_set(struct config *cfg, const char *key, const char *value, const char *name, int line);

/* Cross-field validation and effective values: dataDir present,
 * dataLogDir defaulted, session timeouts defaulted and min <= max, ports
 * in range, myid read from dataDir/myid if present, and the membership:
 * dynamicConfigFile read (its server.N lines define the membership; the
 * static file must then have none, as in ZooKeeper 3.5+), participant and
 * observer counts checked, no id or host:port used twice, the own line
 * present, initLimit/syncLimit/myid present for an ensemble, peerType
 * reconciled with the own line, and the own line's client address (after
 * ';') made the client address (clientPort/clientPortAddress must then
 * agree with it or be absent).
 * Returns 0 or -EINVAL / -errno (cfg->error set). */
int config_finish(struct config *cfg);

/* The whole command line (argv[0] is the program).  Fills and finishes cfg.
 * Returns 0 (ready to run), 1 (--help or --version printed to out: exit
 * with status 0), or -EINVAL / -errno with cfg->error set (print it and the
 * usage hint, exit with status 2). */
int config_from_args(struct config *cfg, int argc, char **argv, FILE *out);

/* Usage text for --help. */
void config_usage(FILE *out, const char *prog);

/* Prints each warning to out as "zkfs-server: warning: <text>\n". */
void config_print_warnings(const struct config *cfg, FILE *out);

/* The effective configuration as "key=value\n" lines, zoo.cfg key names,
 * for the `conf` four-letter word and for the startup log.  An ensemble
 * member adds ZooKeeper's quorum lines (initLimit, syncLimit, electionAlg,
 * electionPort, quorumPort, peerType 0|1) after serverId and ends with
 * "membership: " followed by config_membership_text and a newline.  Returns a
 * malloc'd NUL-terminated string (free it) or NULL on -ENOMEM. */
char *config_format(const struct config *cfg);

/* Whether this configuration makes an ensemble member, by ZooKeeper's
 * rule (QuorumPeerConfig.isDistributed): there are server.N lines and
 * either standaloneEnabled=false or two or more of them are participants.
 * One participant (plus nothing else) with standaloneEnabled=true runs
 * standalone.  Meaningful after config_finish. */
bool config_is_ensemble(const struct config *cfg);

/* The server.N line of this server (N = myid), or NULL when there is no
 * myid or no such line (only possible for a standalone configuration).
 * The pointer is into cfg->peers, valid until config_free. */
const struct config_peer *config_self(const struct config *cfg);

/* The membership as ZooKeeper writes it in election notifications,
 * NEWLEADER and /zookeeper/config (QuorumMaj.toString): one
 * "server.N=host:qport:eport:participant|observer[;chost:cport]" line per
 * member in id order, then "version=<hex>", no final newline.  malloc'd
 * (free it), NULL on -ENOMEM. */
char *config_membership_text(const struct config *cfg);

/* Whether four-letter word cmd (e.g. "ruok") is allowed by
 * 4lw.commands.whitelist ("*" allows every command). */
bool config_4lw_allowed(const struct config *cfg, const char *cmd);

/* The effective session timeout for a requested one: clamped to
 * [min_session_timeout, max_session_timeout] (after config_finish). */
int config_clamp_session_timeout(const struct config *cfg, int requested_ms);

#endif
