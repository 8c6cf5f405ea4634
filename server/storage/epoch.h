/*
 * epoch.h — the epoch files of an ensemble member: acceptedEpoch and
 * currentEpoch, as Apache ZooKeeper keeps them.
 *
 * Zab (see zab-quorum-protocol.md §3.1, §6) needs two numbers to survive
 * restarts: acceptedEpoch, the newest epoch this server has promised to a
 * prospective leader (LEADERINFO/ACKEPOCH), and currentEpoch, the epoch
 * of the newest leader whose history this server has accepted
 * (NEWLEADER).  ZooKeeper keeps each in its own file in the snapshot
 * directory, <dataDir>/version-2/: the decimal number, no newline
 * (QuorumPeer.writeLongToFile), replaced atomically through "<name>.tmp"
 * (AtomicFileWritingIdiom).  zkfs writes them in the same place and form
 * so that ZooKeeper's tooling, and a data directory moved between zkfs
 * and Apache ZooKeeper, read them; the zkfs snapshots and logs themselves
 * stay directly in dataDir / dataLogDir (their own format).
 *
 * Durability: a write is "<name>.tmp" + fsync + rename + fsync of the
 * directory, so after a crash the file holds either the old or the new
 * value, never a mix; a leftover .tmp is ignored by epoch_read (but see
 * epoch_load for the one case ZooKeeper uses it).
 *
 * Errors are 0 or a negative errno; messages naming the file go to the
 * storage message sink (storage_msg).  Nothing here keeps state.
 */
#ifndef ZKFS_SERVER_EPOCH_H
#define ZKFS_SERVER_EPOCH_H

#include <stddef.h>
#include <stdint.h>

#define EPOCH_SUBDIR "version-2"
#define EPOCH_ACCEPTED "acceptedEpoch"
#define EPOCH_CURRENT "currentEpoch"

/* "<data_dir>/version-2" into buf (n bytes).  Returns 0, or -ENAMETOOLONG. */
int epoch_dir(const char *data_dir, char *buf, size_t n);

/* Reads dir/name into *out.  A missing file is created holding dflt (dir
 * too, with its parents) and *out = dflt, as ZooKeeper does on its first
 * start with an existing database.  Only the first line counts, as in
 * ZooKeeper (so a hand-written file may end in a newline).
 * Returns 0; -EBADMSG if the file does not hold a number 0..2^63-1 (error
 * message naming the file and what it holds); or -errno. */
int epoch_read(const char *dir, const char *name, uint64_t dflt, uint64_t *out);

/* Writes value to dir/name durably (see the file comment); creates dir if
 * missing.  Returns 0 or -errno; on failure the old file is intact and a
 * .tmp may be left behind (harmless). */
int epoch_write(const char *dir, const char *name, uint64_t value);

/* The two epochs as loaded at start. */
struct epoch_state {
	uint64_t accepted;
	uint64_t current;
};

/* What QuorumPeer.loadDataBase does after the database is loaded, given
 * last_zxid (the newest zxid recovered from snapshot + log):
 *   - currentEpoch read (missing: created as last_zxid's epoch);
 *   - if last_zxid's epoch > currentEpoch: a "currentEpoch.tmp" left by a
 *     crash between writing and renaming it holds the epoch that was being
 *     written: it becomes currentEpoch (and the file is rewritten);
 *     without one the start fails ("The current epoch, E, is older than
 *     the last zxid, Z");
 *   - acceptedEpoch read (missing: created as last_zxid's epoch);
 *   - acceptedEpoch < currentEpoch fails ("The accepted epoch, A is less
 *     than the current epoch, C").
 * (Epochs printed in hex and the zxid in decimal, as ZooKeeper does.)
 * dir is the epoch directory (epoch_dir).  Returns 0 and *st; -EINVAL for
 * a broken rule (message emitted at STORAGE_ERROR: the server must not
 * start), -EBADMSG for a garbled file, or -errno. */
int epoch_load(const char *dir, uint64_t last_zxid, struct epoch_state *st);

#endif
