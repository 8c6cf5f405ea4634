/*
 * digest.h — ZooKeeper's data tree digest (DigestCalculator, NodeHashMap):
 * every node hashes to CRC32(path ‖ data ‖ 60 stat bytes), the tree to the
 * sum of its nodes' hashes mod 2^64, leaving out the nodes under
 * /zookeeper/ (the root and /zookeeper itself count; the root's path
 * hashes as "").  Every txn of an ensemble carries the digest of the tree
 * after it (TxnDigest), so a replica that applied it can tell whether it
 * holds the same tree as the leader that prepared it.
 *
 * The node hash is computed in two steps so that prep can keep the first
 * half of a node whose data it does not hold: dg_path_data runs the CRC
 * over path and data, dg_finish continues it over the stat.
 */
#ifndef ZKFS_SERVER_DIGEST_H
#define ZKFS_SERVER_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CRC32 (IEEE 802.3, as java.util.zip.CRC32): a running sum, start at 0. */
uint32_t dg_crc32(uint32_t crc, const void *p, size_t n);

/* The stat a node's hash covers (ZooKeeper's StatPersisted). */
struct dg_stat {
	int64_t czxid, mzxid, pzxid, ctime, mtime;
	int32_t version, cversion, aversion; /* cversion: the stored count */
	int64_t ephemeral_owner;	     /* ZooKeeper's: see dg_zk_owner */
};

/* ZooKeeper's ephemeralOwner of a node of tnode kind `kind` whose core
 * owner (session, or ttl for TTL nodes) is owner: 0, the session,
 * 0x8000000000000000 (container), 0xff00000000000000 | ttl (TTL). */
int64_t dg_zk_owner(int32_t kind, int64_t owner);

/* True for the paths the tree digest leaves out (under /zookeeper/). */
bool dg_excluded(const char *path, size_t plen);

/* CRC32 over the node's path ("/" as "") and data (none when dlen <= 0). */
uint32_t dg_path_data(const char *path, size_t plen, const uint8_t *data, int32_t dlen);

/* The node's hash from dg_path_data's value and its stat. */
uint32_t dg_finish(uint32_t crc_path_data, const struct dg_stat *st);

/* Both steps; 0 for the paths dg_excluded leaves out. */
uint32_t dg_node(const char *path, size_t plen, const uint8_t *data, int32_t dlen,
		 const struct dg_stat *st);

#endif
