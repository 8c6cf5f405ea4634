/*
 * xmem.h — allocation wrappers of the pure core (tree, sessions, watches,
 * txns).  Policy: out of memory aborts the process.  A txn that is half
 * applied to the tree would leave the replicated state machine in a state
 * no log replay reproduces; crashing and recovering from snapshot + log is
 * the safe answer.  Everything else in the server returns -ENOMEM.
 */
#ifndef ZKFS_SERVER_XMEM_H
#define ZKFS_SERVER_XMEM_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void xmem_oom(size_t n)
{
	fprintf(stderr, "zkfs-server: out of memory allocating %zu bytes\n", n);
	abort();
}

static inline void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		xmem_oom(n);
	return p;
}

static inline void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);
	if (!p)
		xmem_oom(n * sz);
	return p;
}

static inline void *xrealloc(void *old, size_t n)
{
	void *p = realloc(old, n ? n : 1);
	if (!p)
		xmem_oom(n);
	return p;
}

static inline char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

static inline char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

static inline void *xmemdup(const void *s, size_t n)
{
	void *p = xmalloc(n);
	if (n)
		memcpy(p, s, n);
	return p;
}

#endif
