/*
 * map.h — the pure naming and typing rules of the zkfs mount: how a znode
 * becomes a directory or a file, how names map to paths (the hidden data
 * entry, '%' sequential names), how ZooKeeper errors become errno values
 * and how an ACL becomes mode bits.  Nothing here talks to ZooKeeper or the
 * kernel, so every rule is unit-tested on its own (tests/unit/test_fsmap.c).
 */
#ifndef ZKFS_FS_MAP_H
#define ZKFS_FS_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "records.h"

/* The largest znode data zkfs writes or reads (ZooKeeper's frame limit). */
#define ZKFS_MAX_DATA (1024 * 1024)

/* True when a znode with this stat is shown as a directory: it has
 * children, or it is persistent with no data.  `created` is this mount's
 * memory of how it created the node: 0 = as a file (touch), which keeps an
 * empty childless node a file; 1 = as a directory (mkdir, also of an
 * ephemeral, which keeps a mkdir lock a directory for the mount that took
 * it); -1 = not created here. */
bool map_is_dir(const struct zk_stat *st, int created);

/* Joins a parent path and a component name into a malloc'd path
 * ("/" + "a" -> "/a", "/a" + "b" -> "/a/b").  NULL on -ENOMEM. */
char *map_join(const char *parent, const char *name);

/* Last component of a path (points into `path`); "" for the root. */
const char *map_basename(const char *path);

/* Malloc'd parent of a path ("/a/b" -> "/a", "/a" -> "/"); NULL for "/"
 * or on -ENOMEM. */
char *map_dirname(const char *path);

/* Checks a component name given by the kernel: 0, or -EINVAL when the
 * resulting path would be invalid in ZooKeeper, -ENAMETOOLONG for names
 * the kernel should never pass. */
int map_name_check(const char *name);

/* True when `name` asks for a sequential node (ends in '%', and has
 * something before it).  *stem_len gets the length without the '%'. */
bool map_is_seq_name(const char *name, size_t *stem_len);

/* ZooKeeper error code -> negative errno (0 for ZOK).  The table is in
 * FS-SEMANTICS.md; BADVERSION after retries maps to -EAGAIN. */
int map_zk_errno(int zkerr);

/* Mode bits (permissions only, no type) from an ACL: world:anyone grants
 * to owner, group and other; an id among `own_ids` (each "scheme:id",
 * e.g. "digest:alice") grants to the owner; auth:/ip: ids are treated as
 * the mount's own.  Directories get x wherever they get r. */
mode_t map_acl_mode(const struct zk_acl_vec *acl, const char *const *own_ids, size_t n_own,
		    bool is_dir);

/* Text form of an ACL, "scheme:id:perms" joined by ',' with perms from
 * "cdrwa" (e.g. "world:anyone:cdrwa").  Malloc'd; NULL on -ENOMEM. */
char *map_acl_format(const struct zk_acl_vec *acl);

/* Parses the text form above (whitespace and a trailing newline are
 * ignored; ids may contain ':', the perms are after the last ':').
 * Returns 0 with *out filled (free with zk_acl_vec_free) or -EINVAL. */
int map_acl_parse(const char *text, size_t len, struct zk_acl_vec *out);

/* Names of the read-only and writable xattrs, for listxattr: a sequence
 * of NUL-terminated names; *len gets the total length. */
const char *map_xattr_names(size_t *len);

/* Formats a read-only numeric/text xattr of a node into buf (NUL-free
 * text, no newline) and returns its length, or -ENODATA for a name that
 * is not a zkfs attribute.  `path` is the znode path. */
int map_xattr_get(const char *name, const char *path, const struct zk_stat *st, char *buf,
		  size_t size);

#endif
