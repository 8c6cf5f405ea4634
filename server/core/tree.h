/*
 * tree.h — the data tree of zkfs-server: znodes, their index and children.
 *
 * Memory is the point of this layout (the target is well under 250 bytes
 * of RSS for a znode with 100 bytes of data, index included):
 *   - one allocation per node holds the header (92 bytes), the node's own
 *     name (the last path component, NUL-terminated) and its data; setData
 *     reallocs it, so a node can move: tree_set_data returns the new
 *     address and fixes the index, the parent's slot and the children's
 *     parent links (the caller fixes what the tree does not know: a
 *     session's slot).  glibc hands out chunks of (request + 8) rounded up
 *     to 16, so "/mem/n123456" with 100 bytes of data takes 208 bytes;
 *   - what only parents need lives in a separate "children block" (struct
 *     tkids): the children array, its size and capacity, and pzxid, which
 *     only moves when children come and go.  Most znodes are leaves that
 *     never had children: they have no block, and their pzxid reads as
 *     their czxid (which is what it is at creation).  A node gets its block
 *     with its first child (or a pzxid that differs from its czxid, from a
 *     snapshot) and keeps it, header only, once its last child is gone, so
 *     pzxid survives.  TTL nodes also keep their ttl in the block (they may
 *     have children), so every TTL node has one from creation on;
 *   - ephemeral nodes never have children (and so have pzxid == czxid):
 *     their owner session id shares the block pointer's storage (the union
 *     `u`, chosen by `kind`), and `aux` is their slot in the session's
 *     ephemeral array (session.h);
 *   - `kind` and `name_len` share one 32-bit word, so a path component is
 *     at most TNODE_NAME_MAX bytes (16 MiB - 1): creates of longer names
 *     are refused (only possible with jute.maxbuffer raised past 16 MiB);
 *   - nodes are indexed by a chained hash table of full paths whose chain
 *     link lives in the node; a lookup hashes the path once and compares it
 *     against the candidate by walking up its parents, so full paths are
 *     never stored.  A chain walk reads only hnext and hash, the node's
 *     first 16 bytes (one cache line).  The table keeps at most one node
 *     per bucket (8 to 16 bytes per node): at two per bucket it would save
 *     4 bytes per node at a million nodes, but every extra link is a cache
 *     miss: lookups in a million-node tree got 25% (hits) to 65% (misses)
 *     slower.  Loading a snapshot sizes the table once from the node count
 *     in its header (tree_reserve), sparing the rehashes of growing;
 *   - children are an array of node pointers with swap-remove (children
 *     order is unspecified in ZooKeeper), each node remembering its slot;
 *     arrays grow by 1.5x, past 1024 entries by 1.125x (big reallocs are
 *     mremap in glibc, cheap, and a million-child parent wastes less);
 *   - ACLs are an index into the deduplicated acl_store (acl.h);
 *   - the stat is stored raw: `cversion` is the stored count of child
 *     creations; clients see cversion*2 - numChildren (tree_stat).
 * Read a node's children, pzxid, owner and ttl through the tnode_*
 * accessors below; change pzxid and kind through tree_set_pzxid and
 * tree_set_kind.
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

/* Longest path component a node can have (name_len is 24 bits). */
#define TNODE_NAME_MAX ((1u << 24) - 1)

/* The children block of a node that has or had children, or has a ttl. */
struct tkids {
	int64_t pzxid;
	int64_t ttl; /* TN_TTL: ttl in ms; else 0 */
	uint32_t n, cap;
	struct tnode *v[];
};

struct tnode {
	/* hnext and hash first: a chain walk reads only these, and in the
	 * first 16 bytes of a 16-aligned chunk they share one cache line */
	struct tnode *hnext;  /* hash chain */
	uint32_t hash;	      /* of the full path */
	uint32_t pidx;	      /* slot in the parent's children */
	struct tnode *parent; /* NULL for the root */
	union {
		struct tkids *kb; /* not TN_EPHEMERAL: children block or NULL */
		int64_t owner;	  /* TN_EPHEMERAL: session id */
	} u;
	int64_t czxid, mzxid, ctime, mtime;
	int32_t version, cversion, aversion;
	int32_t data_len; /* -1 = null data */
	uint32_t acl;	  /* acl_store index */
	uint32_t aux;	  /* TN_EPHEMERAL: slot in the session's ephemeral array */
	uint32_t name_len : 24;
	uint32_t kind : 8; /* enum tnode_kind; set through tree_set_kind */
	char name[];	   /* last component; "" for the root; data follows its NUL */
};

/* The layout above counts on this (on LP64; less elsewhere). */
_Static_assert(offsetof(struct tnode, name) <= 92, "struct tnode grew: see tree.h's notes");

/* The data of n (data_len bytes when data_len > 0). */
static inline uint8_t *tnode_data(const struct tnode *n)
{
	return (uint8_t *)(n->name + n->name_len + 1);
}

/* n's children block, NULL if it has none (always NULL for ephemerals). */
static inline struct tkids *tnode_kb(const struct tnode *n)
{
	return n->kind == TN_EPHEMERAL ? NULL : n->u.kb;
}

static inline uint32_t tnode_nkids(const struct tnode *n)
{
	const struct tkids *kb = tnode_kb(n);
	return kb ? kb->n : 0;
}

/* Child i of n (i < tnode_nkids(n)). */
static inline struct tnode *tnode_kid(const struct tnode *n, uint32_t i)
{
	return n->u.kb->v[i];
}

static inline int64_t tnode_pzxid(const struct tnode *n)
{
	const struct tkids *kb = tnode_kb(n);
	return kb ? kb->pzxid : n->czxid;
}

/* The session owning an ephemeral, 0 for other nodes. */
static inline int64_t tnode_owner(const struct tnode *n)
{
	return n->kind == TN_EPHEMERAL ? n->u.owner : 0;
}

/* A TTL node's ttl in ms, 0 for other nodes. */
static inline int64_t tnode_ttl(const struct tnode *n)
{
	return n->kind == TN_TTL ? n->u.kb->ttl : 0;
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

/* True when n's full path is path[0..len): a check without the index, for
 * callers that can guess the node. */
bool tree_is(const struct tnode *n, const char *path, size_t len);

/*
 * Adds a child named by the last component of `path` under `parent` (which
 * must be the node of path's parent, and the path must not exist), holding
 * a copy of data (dlen -1 = null).  The parent must not be ephemeral and
 * the last component at most TNODE_NAME_MAX bytes (tree_name_ok); both
 * abort otherwise.  The new node has zero stat, acl 0, kind persistent; the
 * parent's stat is not touched (callers set cversion/pzxid).
 * Returns the node.
 */
struct tnode *tree_add(struct tree *t, struct tnode *parent, const char *path, size_t len,
		       const uint8_t *data, int32_t dlen);

/* True when the last component of path[0..len) fits a node's name. */
bool tree_name_ok(const char *path, size_t len);

/* Sets n's pzxid.  Returns 0, or -1 (nothing changed) when n is ephemeral
 * and pzxid differs from its czxid: an ephemeral has no place for one (it
 * never has children, so its pzxid stays its czxid). */
int tree_set_pzxid(struct tnode *n, int64_t pzxid);

/* Makes n of kind `kind`; arg is the owner session of an ephemeral, the ttl
 * of a TTL node, ignored otherwise.  Returns 0, or -1 (nothing changed)
 * when n has children and cannot become ephemeral.  Becoming ephemeral
 * drops the children block, pzxid with it (it reads as czxid again); the
 * other changes keep pzxid. */
int tree_set_kind(struct tnode *n, enum tnode_kind kind, int64_t arg);

/* Sizes the index for `nodes` nodes at once (loading a snapshot of known
 * size spares the rehashes of growing step by step). */
void tree_reserve(struct tree *t, uint64_t nodes);

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
