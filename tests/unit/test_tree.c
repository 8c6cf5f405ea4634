/*
 * test_tree.c — the data tree on its own: index lookups, children arrays
 * with swap-remove, path reconstruction, data accounting, walks, and the
 * memory budget per znode measured through the whole core (a znode with
 * 100 bytes of data and a 12-byte name: one 224-byte chunk), the children
 * block and the name length limit.
 */
#include <malloc.h>

#include "core_fixture.h"

#include "tree.h"

static struct tnode *add(struct tree *t, const char *path)
{
	size_t len = strlen(path);
	struct tnode *p = tree_find(t, path, zk_path_parent_len(path, len));
	assert_non_null(p);
	assert_null(tree_find(t, path, len));
	return tree_add(t, p, path, len, NULL, -1);
}

static void test_find_add_remove(void **state)
{
	struct tree t;
	tree_init(&t);
	assert_int_equal(t.count, 1);
	assert_true(tree_find(&t, "/", 1) == t.root);
	assert_null(tree_find(&t, "/a", 2));
	struct tnode *a = add(&t, "/a");
	struct tnode *ab = add(&t, "/a/b");
	struct tnode *abc = add(&t, "/a/b/c");
	assert_true(tree_find(&t, "/a/b/c", 6) == abc);
	/* lengths, not NULs, delimit paths */
	assert_true(tree_find(&t, "/a/b/cdef", 4) == ab);
	assert_null(tree_find(&t, "/a/bc", 5));
	assert_null(tree_find(&t, "a/b", 3));
	assert_string_equal(ab->name, "b");
	char buf[64];
	assert_int_equal(tree_path(abc, buf, sizeof(buf)), 6);
	assert_string_equal(buf, "/a/b/c");
	assert_int_equal(tree_path(abc, buf, 3), 6); /* too small: length only */
	char *p = tree_path_dup(t.root);
	assert_string_equal(p, "/");
	free(p);
	ab = tree_set_data(&t, ab, (const uint8_t *)"12345", 5);
	abc = tree_find(&t, "/a/b/c", 6);
	assert_true(abc->parent == ab);
	assert_true(tnode_kid(a, ab->pidx) == ab);
	assert_true(tree_find(&t, "/a/b", 4) == ab);
	assert_int_equal(ab->data_len, 5);
	assert_memory_equal(tnode_data(ab), "12345", 5);
	uint64_t ds = t.data_size;
	ab = tree_set_data(&t, ab, NULL, -1);
	assert_int_equal(ab->data_len, -1);
	assert_true(tree_find(&t, "/a/b", 4) == ab);
	/* the root moves too */
	struct tnode *r = tree_set_data(&t, t.root, (const uint8_t *)"root data", 9);
	assert_true(t.root == r);
	assert_true(tree_find(&t, "/", 1) == r);
	assert_true(a->parent == r);
	assert_true(tnode_kid(r, a->pidx) == a);
	assert_int_equal(t.data_size, ds - 5 + 9);
	assert_int_equal(tree_count_descendants(t.root), 3);
	tree_remove(&t, abc);
	assert_null(tree_find(&t, "/a/b/c", 6));
	assert_int_equal(tnode_nkids(ab), 0);
	assert_int_equal(t.count, 3);
	assert_true(tnode_kid(a, 0) == ab);
	tree_free(&t);
}

static int collect_order(void *arg, const struct tnode *n)
{
	char *out = arg;
	strncat(out, n->name[0] ? n->name : "/", 2);
	return 0;
}

static void test_swap_remove_and_walk(void **state)
{
	struct tree t;
	tree_init(&t);
	char path[32];
	/* enough nodes to grow the index several times */
	add(&t, "/d");
	for (int i = 0; i < 5000; i++) {
		snprintf(path, sizeof(path), "/d/n%d", i);
		add(&t, path);
	}
	struct tnode *d = tree_find(&t, "/d", 2);
	assert_int_equal(tnode_nkids(d), 5000);
	for (int i = 0; i < 5000; i += 3) {
		snprintf(path, sizeof(path), "/d/n%d", i);
		tree_remove(&t, tree_find(&t, path, strlen(path)));
	}
	/* every remaining kid knows its slot, every one is findable */
	for (uint32_t i = 0; i < tnode_nkids(d); i++) {
		assert_int_equal(tnode_kid(d, i)->pidx, i);
		size_t len = tree_path(tnode_kid(d, i), path, sizeof(path));
		assert_true(tree_find(&t, path, len) == tnode_kid(d, i));
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(path, sizeof(path), "/d/n%d", i);
		assert_true((tree_find(&t, path, strlen(path)) == NULL) == (i % 3 == 0));
	}
	tree_free(&t);

	/* parents come before children in a walk */
	tree_init(&t);
	add(&t, "/x");
	add(&t, "/x/y");
	add(&t, "/z");
	char order[16] = "";
	tree_walk(t.root, collect_order, order);
	assert_string_equal(order, "/xyz");
	tree_free(&t);
}

/* The incremental walker under random creates, deletes and data changes
 * between its steps: every node that exists from start to end is visited
 * (a parent before its children), and no visit touches a freed node (the
 * sanitizers watch). */
enum { WN = 64 };

static int walk_pick(unsigned *seed, int n)
{
	return (int)(rand_r(seed) % (unsigned)n);
}

static void test_walker_under_changes(void **state)
{
	unsigned seed = 7;
	for (int round = 0; round < 300; round++) {
		struct tree t;
		tree_init(&t);
		/* a two-level tree: /dD and /dD/nN */
		bool live[WN][WN + 1] = {{false}}; /* [d][0] = the directory itself */
		char path[32];
		for (int d = 0; d < 6; d++) {
			snprintf(path, sizeof(path), "/d%d", d);
			add(&t, path);
			live[d][0] = true;
			for (int k = 1; k <= walk_pick(&seed, 20); k++) {
				snprintf(path, sizeof(path), "/d%d/n%d", d, k);
				add(&t, path);
				live[d][k] = true;
			}
		}
		bool throughout[WN][WN + 1], seen[WN][WN + 1] = {{false}};
		memcpy(throughout, live, sizeof(live));
		struct tree_walker w;
		tree_walker_start(&t, &w);
		const struct tnode *n;
		while ((n = tree_walker_next(&t, &w))) {
			char p[64];
			tree_path(n, p, sizeof(p));
			int d, k = 0;
			if (n != t.root) {
				assert_true(sscanf(p, "/d%d/n%d", &d, &k) >= 1);
				if (k)
					assert_true(seen[d][0]); /* parent first */
				seen[d][k] = true;
			}
			/* change the tree between steps */
			for (int c = walk_pick(&seed, 4); c > 0; c--) {
				int dd = walk_pick(&seed, 8), kk = walk_pick(&seed, WN);
				snprintf(path, sizeof(path), kk ? "/d%d/n%d" : "/d%d", dd, kk);
				struct tnode *x = tree_find(&t, path, strlen(path));
				if (x && !tnode_nkids(x)) {
					tree_remove(&t, x);
					live[dd][kk] = false;
					throughout[dd][kk] = false;
				} else if (x) {
					uint8_t data[40] = {0};
					tree_set_data(&t, x, data, walk_pick(&seed, 40));
				} else if (!kk || live[dd][0]) {
					struct tnode *parent =
					    tree_find(&t, path, zk_path_parent_len(path, strlen(path)));
					assert_non_null(parent);
					tree_add(&t, parent, path, strlen(path), NULL, -1);
					live[dd][kk] = true;
				}
			}
		}
		tree_walker_stop(&t, &w);
		assert_null(t.walker);
		for (int d = 0; d < WN; d++)
			for (int k = 0; k <= WN; k++)
				if (throughout[d][k])
					assert_true(seen[d][k]);
		tree_free(&t);
	}
}

/* The children block: only parents (and TTL nodes, and nodes whose pzxid
 * moved) have one; kinds share storage with it. */
static void test_children_block(void **state)
{
	struct tree t;
	tree_init(&t);
	struct tnode *a = add(&t, "/a");
	a->czxid = 5;
	/* a leaf: no block, pzxid reads as czxid, and setting it so keeps it so */
	assert_null(tnode_kb(a));
	assert_int_equal(tnode_pzxid(a), 5);
	assert_int_equal(tree_set_pzxid(a, 5), 0);
	assert_null(tnode_kb(a));
	struct tnode *ab = add(&t, "/a/b");
	ab->czxid = 6;
	assert_non_null(tnode_kb(a));
	assert_int_equal(tnode_pzxid(a), 5); /* the block starts from czxid */
	assert_int_equal(tree_set_pzxid(a, 6), 0);
	/* setData moves a parent: its block goes with it, children follow */
	a = tree_set_data(&t, a, (const uint8_t *)"some data that is longer", 24);
	assert_true(ab->parent == a);
	assert_true(tnode_kid(a, 0) == ab);
	assert_int_equal(tnode_pzxid(a), 6);
	/* the last child goes, the block (pzxid) stays */
	tree_remove(&t, ab);
	assert_int_equal(tnode_nkids(a), 0);
	assert_non_null(tnode_kb(a));
	assert_int_equal(tnode_pzxid(a), 6);
	ab = add(&t, "/a/b");
	assert_int_equal(tnode_nkids(a), 1);

	/* a leaf whose pzxid differs from its czxid gets a block */
	struct tnode *c = add(&t, "/c");
	c->czxid = 7;
	assert_int_equal(tree_set_pzxid(c, 9), 0);
	assert_non_null(tnode_kb(c));
	assert_int_equal(tnode_pzxid(c), 9);
	assert_int_equal(tnode_nkids(c), 0);

	/* TTL: the ttl lives in the block; other kinds read 0 */
	struct tnode *x = add(&t, "/x");
	x->czxid = 8;
	assert_int_equal(tree_set_kind(x, TN_TTL, 12345), 0);
	assert_int_equal(tnode_ttl(x), 12345);
	assert_int_equal(tnode_owner(x), 0);
	assert_int_equal(tnode_pzxid(x), 8);
	add(&t, "/x/y");
	assert_int_equal(tnode_ttl(x), 12345);
	assert_int_equal(tnode_nkids(x), 1);
	assert_int_equal(tree_set_kind(x, TN_PERSISTENT, 0), 0);
	assert_int_equal(tnode_ttl(x), 0);
	assert_int_equal(tnode_nkids(x), 1);

	/* ephemeral: the owner takes the block's place */
	assert_int_equal(tree_set_kind(x, TN_EPHEMERAL, 77), -1); /* has a child */
	assert_int_equal(x->kind, TN_PERSISTENT);
	struct tnode *e = add(&t, "/e");
	e->czxid = 10;
	assert_int_equal(tree_set_kind(e, TN_EPHEMERAL, 0x123456789abcdefLL), 0);
	assert_int_equal(tnode_owner(e), 0x123456789abcdefLL);
	assert_int_equal(tnode_nkids(e), 0);
	assert_null(tnode_kb(e));
	assert_int_equal(tnode_pzxid(e), 10);
	assert_int_equal(tree_set_pzxid(e, 10), 0);
	assert_int_equal(tree_set_pzxid(e, 11), -1);
	assert_int_equal(tnode_pzxid(e), 10);
	struct zk_stat st;
	tree_stat(e, &st);
	assert_int_equal(st.ephemeral_owner, 0x123456789abcdefLL);
	assert_int_equal(st.num_children, 0);
	assert_int_equal(st.pzxid, 10);
	/* ... and goes when it stops being ephemeral */
	assert_int_equal(tree_set_kind(e, TN_TTL, 50), 0);
	assert_int_equal(tnode_owner(e), 0);
	assert_int_equal(tnode_ttl(e), 50);
	assert_int_equal(tnode_pzxid(e), 10);
	/* a childless node with a block drops it on becoming ephemeral */
	assert_int_equal(tree_set_kind(c, TN_EPHEMERAL, 1), 0);
	assert_int_equal(tnode_pzxid(c), 7);
	assert_int_equal(tree_set_kind(c, TN_CONTAINER, 0), 0);
	assert_null(tnode_kb(c));
	tree_stat(c, &st);
	assert_int_equal(st.ephemeral_owner, 0);
	tree_free(&t);
}

/* Names are limited to what name_len holds; kind sits next to it. */
static void test_name_limit(void **state)
{
	size_t max = TNODE_NAME_MAX;
	char *p = malloc(max + 8);
	assert_non_null(p);
	memcpy(p, "/a/", 3);
	memset(p + 3, 'n', max + 1);
	assert_true(tree_name_ok(p, 3 + max));
	assert_false(tree_name_ok(p, 3 + max + 1));
	assert_true(tree_name_ok("/", 1));
	struct tree t;
	tree_init(&t);
	struct tnode *a = add(&t, "/a");
	struct tnode *n = tree_add(&t, a, p, 3 + max, (const uint8_t *)"d", 1);
	assert_int_equal(n->name_len, max);
	assert_int_equal(tree_set_kind(n, TN_CONTAINER, 0), 0);
	assert_int_equal(n->kind, TN_CONTAINER);
	assert_int_equal(n->name_len, max);
	assert_memory_equal(tnode_data(n), "d", 1);
	assert_true(tree_find(&t, p, 3 + max) == n);
	tree_free(&t);
	free(p);
}

/* Sizing the index up front (snapshot load) leaves it as adding grows it. */
static void test_reserve(void **state)
{
	struct tree t;
	tree_init(&t);
	add(&t, "/d");
	tree_reserve(&t, 10000);
	assert_true(t.mask + 1 >= 10000);
	uint32_t mask = t.mask;
	tree_reserve(&t, 10); /* never shrinks */
	assert_int_equal(t.mask, mask);
	char path[32];
	for (int i = 0; i < 9000; i++) {
		snprintf(path, sizeof(path), "/d/n%d", i);
		add(&t, path);
	}
	assert_int_equal(t.mask, mask); /* no growth needed */
	assert_non_null(tree_find(&t, "/d/n8999", 8));
	assert_non_null(tree_find(&t, "/d", 2));
	tree_free(&t);
}

static void test_memory_per_znode(void **state)
{
	struct fx *f = fx_new();
	f->no_roundtrip = true;
	int64_t sid = fx_session(f, 10000);
	assert_int_equal(fx_create(f, sid, "/bench", NULL, 0), 0);
	char data[101];
	memset(data, 'v', 100);
	data[100] = 0;
	enum { N = 100000 };
	char path[64];
	struct mallinfo2 before = mallinfo2();
	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "/bench/node-%07d", i);
		assert_int_equal(fx_create(f, sid, path, data, 0), 0);
	}
	struct mallinfo2 after = mallinfo2();
	double per = (double)(after.uordblks - before.uordblks) / N;
	print_message("memory per 100-byte znode (path /bench/node-NNNNNNN): %.0f bytes\n", per);
	/* ASan's allocator doesn't report through mallinfo2.  A 92-byte header,
	 * a 13-byte name and 100 bytes of data make a 224-byte chunk; the
	 * index and the children array are mmapped, outside uordblks. */
	if (after.uordblks > before.uordblks)
		assert_true(per <= 232);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_find_add_remove),
	    cmocka_unit_test(test_swap_remove_and_walk),
	    cmocka_unit_test(test_walker_under_changes),
	    /* before test_name_limit: freeing its 16 MiB blocks raises glibc's
	     * mmap threshold, and big blocks then count in mallinfo2 */
	    cmocka_unit_test(test_memory_per_znode),
	    cmocka_unit_test(test_children_block),
	    cmocka_unit_test(test_name_limit),
	    cmocka_unit_test(test_reserve),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
