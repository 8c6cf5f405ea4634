/*
 * zkclock.c — the cost of one uncontended ZooKeeper lock recipe cycle
 * through libzkc, the reference for the flock row of bench/flock.sh:
 * create an ephemeral-sequential contender, list the lock's children (the
 * holder is the lowest), delete the contender — what every lock recipe
 * (Curator's InterProcessMutex, kazoo's Lock) does at the least.
 *
 *   zkclock HOST:PORT LOCKPATH SECS
 *
 * LOCKPATH must exist.  Prints "cycles_per_s=N cycles=N secs=S".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zkc.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	zkc_client *c;
	zkc_session *s;
	char prefix[512];
	double secs, t0, t = 0;
	long n = 0;
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: zkclock HOST:PORT LOCKPATH SECS\n");
		return 2;
	}
	secs = atof(argv[3]);
	snprintf(prefix, sizeof(prefix), "%s/lock-", argv[2]);
	if (zkc_client_new(&c) != ZE_OK)
		return 1;
	rc = zkc_b_open(c, argv[1], 10000, NULL, 15000, &s);
	if (rc != ZE_OK) {
		fprintf(stderr, "zkclock: connect: %s\n", zkc_strerror(rc));
		zkc_client_free(c);
		return 1;
	}
	t0 = now();
	do {
		char *created = NULL;
		struct zk_str_vec kids = {0};
		rc = zkc_b_create(s, prefix, "", 0, NULL, ZK_EPHEMERAL_SEQUENTIAL, 0, &created,
				  NULL);
		if (!rc)
			rc = zkc_b_get_children(s, argv[2], NULL, NULL, &kids, NULL);
		if (!rc)
			rc = zkc_b_delete(s, created, -1);
		zk_str_vec_free(&kids);
		free(created);
		if (rc) {
			fprintf(stderr, "zkclock: %s\n", zkc_strerror(rc));
			break;
		}
		n++;
		t = now();
	} while (t - t0 < secs);
	printf("cycles_per_s=%.0f cycles=%ld secs=%.2f\n", (double)n / (t - t0), n, t - t0);
	zkc_b_close(s);
	zkc_client_free(c);
	return rc ? 1 : 0;
}
