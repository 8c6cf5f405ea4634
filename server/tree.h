/*
 * tree.h — the data tree of zkfs-server: znodes, their index and children.
 *
 * Memory is the point of this layout (the target is well under 300 bytes
 * for a znode with 100 bytes of data, index included):
 *   - one allocation per node holds the header, the node's own name (the
 *     last path component, NUL-terminated) and its data; setData reallocs
 *     it, so a node can move: tree_set_data returns the new address and
 *     fixes the index, the parent's slot and the children's parent links
 *     (the caller fixes what the tree does not know: a session's slot);
 *   - nodes are indexed by a chained hash table of full paths whose chain
 *     link lives in the node; a lookup hashes the path once and compares it
 *     against the candidate by walking up its parents, so full paths are
 *     never stored;
 *   - children are an array of node pointers with swap-remove (children
 *     order is unspecified in ZooKeeper), each node remembering its slot;
 *   - ACLs are an index into the deduplicated acl_store (acl.h);
 *   - the stat is stored raw: `cversion` is the stored count of child
 *     creations; clients see cversion*2 - numChildren (tree_stat).
 * For ephemeral nodes (which never have children) the `aux` field is the
 * node's slot in its session's ephemeral array (session.h).
 */
#ifndef ZKFS_SERVER_TREE_H
#define ZKFS_SERVER_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records.h"

enum tnode_kind {
	TN_PERSISTENT = 0,
	TN_EPHEMERAL = 1,
	TN_CONTAINER = 2,
	TN_TTL = 3,
};

struct tnode {
	struct tnode *parent; /* NULL for the root */
	struct tnode *hnext;  /* hash chain */
	struct tnode **kids;
	uint32_t nkids;
	uint32_t kcap;
	uint32_t pidx; /* slot in parent->kids */
	uint32_t hash; /* of the full path */
	int64_t czxid, mzxid, pzxid, ctime, mtime;
	int64_t owner; /* TN_EPHEMERAL: session id; TN_TTL: ttl in ms; else 0 */
	int32_t version, cversion, aversion;
	int32_t data_len; /* -1 = null data */
	uint32_t acl;	  /* acl_store index */
	uint32_t aux;	  /* TN_EPHEMERAL: slot in the session's ephemeral array */
	uint32_t name_len;
	uint8_t kind; /* enum tnode_kind */
	char name[];  /* last component; "" for the root; data follows its NUL */
};

/* The data of n (data_len bytes when data_len > 0). */
static inline uint8_t *tnode_data(const struct tnode *n)
{
	return (uint8_t *)(n->name + n->name_len + 1);
}

struct tree_walker;

struct tree {
	struct tnode **tab;
	uint32_t mask;
	uint64_t count;	    /* nodes, root included */
	uint64_t data_size; /* sum of data lengths and path lengths (approximate) */
	struct tnode *root;
	struct tree_walker *walker; /* the one incremental walk under way, or NULL */
};

/* Builds a tree with only the root ("/", all-zero stat, acl 0).
 * Returns 0 (aborts on out of memory). */
int tree_init(struct tree *t);
/* Frees every node (data included). */
void tree_free(struct tree *t);

/* Hash of a full path, as stored in tnode.hash. */
uint32_t tree_hash(const char *path, size_t len);

/* The node at `path` (byte length len, need not be NUL-terminated), or NULL. */
struct tnode *tree_find(const struct tree *t, const char *path, size_t len);

/*
 * Adds a child named by the last component of `path` under `parent` (which
 * must be the node of path's parent, and the path must not exist), holding
 * a copy of data (dlen -1 = null).  The new node has zero stat, acl 0, kind
 * persistent; the parent's stat is not touched (callers set cversion/pzxid).
 * Returns the node.
 */
struct tnode *tree_add(struct tree *t, struct tnode *parent, const char *path, size_t len,
		       const uint8_t *data, int32_t dlen);

/* Unlinks a childless non-root node from its parent and the index and frees
 * it.  The caller has released its ACL and session links. */
void tree_remove(struct tree *t, struct tnode *n);

/* Replaces the data (len -1 = null; copies) and returns the node's new
 * address (n is invalid afterwards when it differs).  Index, parent slot and
 * children are fixed; an ephemeral's session slot is the caller's. */
struct tnode *tree_set_data(struct tree *t, struct tnode *n, const uint8_t *data, int32_t len);

/* Writes the full path of n into buf (NUL-terminated when it fits) and
 * returns its length (without NUL) whether or not it fit. */
size_t tree_path(const struct tnode *n, char *buf, size_t cap);
/* Malloc'd full path of n. */
char *tree_path_dup(const struct tnode *n);

/* The client-visible stat of n. */
void tree_stat(const struct tnode *n, struct zk_stat *st);

/* Visits n and all descendants, parents before children.  cb returns 0 to
 * go on, nonzero to stop (returned).  Uses an explicit stack (malloc'd). */
int tree_walk(const struct tnode *n, int (*cb)(void *arg, const struct tnode *n), void *arg);

/*
 * An incremental walk of the whole tree, parents before children, that
 * survives changes between its steps (the fuzzy snapshot's cursor).  The
 * walker keeps the chain of directories it is inside, each with the number
 * of children not visited yet, taken from the end of the array: the
 * unvisited ones are always kids[0 .. left).  That survives the array's
 * changes without reordering anything:
 *   - a create appends, after the unvisited part: not visited;
 *   - removing an unvisited child moves the last child into its slot: when
 *     that one was visited it is visited again (a repeat, harmless);
 *   - removing a visited child moves a visited child: nothing to do;
 * the tree only trims `left` when the array gets shorter than it, leaves a
 * directory the walker is inside when it is removed (only possible once
 * empty), and follows a directory moved by tree_set_data.
 * So every node that exists from the start of the walk to its end is
 * visited at least once; nodes created or deleted meanwhile may or may not
 * be; a visit shows the node's state at that moment.  At most one
 * registered walker per tree.
 */
struct tree_walker {
	struct tw_level {
		struct tnode *dir;
		uint32_t left; /* children kids[0 .. left) not visited yet */
	} *lv;
	uint32_t depth, cap;
	bool started;
};

/* Registers w (zeroed by the call) as t's walker; t must have none. */
void tree_walker_start(struct tree *t, struct tree_walker *w);
/* The next node of the walk, or NULL when it is complete (w stays
 * registered until tree_walker_stop). */
const struct tnode *tree_walker_next(struct tree *t, struct tree_walker *w);
/* Unregisters w and frees its memory (complete or not). */
void tree_walker_stop(struct tree *t, struct tree_walker *w);

/* Number of descendants of n (not counting n). */
uint64_t tree_count_descendants(const struct tnode *n);

#endif
