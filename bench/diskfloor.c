/*
 * diskfloor.c — the least time a replicated write can take on this disk.
 *
 * A write to a 3-server ensemble is acknowledged once two of the three
 * servers have made it durable: two fdatasyncs, each in its own process,
 * each on its own log.  When every member keeps its log on the same disk
 * (as in bench/ensemble.sh), those flushes meet in one device queue, and
 * the second cannot finish before the device has flushed twice.  This
 * program measures that floor, so the ensemble's synchronous latency can be
 * read against what the disk allows rather than only against another server.
 *
 *   diskfloor DIR [WRITERS] [QUORUM] [ROUNDS]
 *
 * WRITERS threads (default 3) each own a file in DIR, zero-filled ahead of
 * time as the transaction log is (so fdatasync has no metadata to write).
 * Every round all of them start together (a barrier), append 200 bytes and
 * fdatasync; the round's time is when the QUORUM-th (default 2) of them
 * returns.  Prints
 *   writers=W quorum=Q rounds=R p50_us=.. p90_us=.. p99_us=.. single_p50_us=..
 * where single_p50_us is one writer alone, measured first.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FILE_BYTES (4u << 20)
#define REC_BYTES 200

struct writer {
	int fd;
	off_t off;
	double done_us; /* when this round's fdatasync returned */
};

static struct writer *writers;
static int nwriters, nrounds;
static pthread_barrier_t start_bar, end_bar;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int open_log(const char *dir, int i)
{
	char path[4096], zero[65536];
	int fd;

	snprintf(path, sizeof(path), "%s/diskfloor.%d.%d", dir, (int)getpid(), i);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		fprintf(stderr, "diskfloor: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	unlink(path);
	memset(zero, 0, sizeof(zero));
	for (unsigned off = 0; off < FILE_BYTES; off += sizeof(zero))
		if (pwrite(fd, zero, sizeof(zero), off) != (ssize_t)sizeof(zero)) {
			fprintf(stderr, "diskfloor: writing %s: %s\n", path, strerror(errno));
			exit(1);
		}
	if (fsync(fd) < 0) {
		fprintf(stderr, "diskfloor: fsync %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

/* One durable append; wraps inside the zero-filled area. */
static void append_sync(struct writer *w)
{
	char rec[REC_BYTES];

	memset(rec, 'r', sizeof(rec));
	if (w->off + REC_BYTES > FILE_BYTES)
		w->off = 0;
	if (pwrite(w->fd, rec, sizeof(rec), w->off) != (ssize_t)sizeof(rec) || fdatasync(w->fd) < 0) {
		fprintf(stderr, "diskfloor: write: %s\n", strerror(errno));
		exit(1);
	}
	w->off += REC_BYTES;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	for (int r = 0; r < nrounds; r++) {
		pthread_barrier_wait(&start_bar);
		append_sync(w);
		w->done_us = now_us();
		pthread_barrier_wait(&end_bar);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int quorum;
	double *lat, *done, single[200];
	pthread_t *tids;

	if (argc < 2) {
		fprintf(stderr, "usage: diskfloor DIR [WRITERS] [QUORUM] [ROUNDS]\n");
		return 2;
	}
	nwriters = argc > 2 ? atoi(argv[2]) : 3;
	quorum = argc > 3 ? atoi(argv[3]) : 2;
	nrounds = argc > 4 ? atoi(argv[4]) : 1000;
	if (nwriters < 1 || quorum < 1 || quorum > nwriters || nrounds < 1) {
		fprintf(stderr, "diskfloor: need 1 <= QUORUM <= WRITERS and ROUNDS >= 1\n");
		return 2;
	}
	writers = calloc((size_t)nwriters, sizeof(*writers));
	tids = calloc((size_t)nwriters, sizeof(*tids));
	lat = calloc((size_t)nrounds, sizeof(*lat));
	done = calloc((size_t)nwriters, sizeof(*done));
	if (!writers || !tids || !lat || !done)
		return 1;
	for (int i = 0; i < nwriters; i++)
		writers[i].fd = open_log(argv[1], i);

	/* one writer alone */
	for (int r = 0; r < 200; r++) {
		double t = now_us();

		append_sync(&writers[0]);
		single[r] = now_us() - t;
	}
	qsort(single, 200, sizeof(double), cmp_double);

	pthread_barrier_init(&start_bar, NULL, (unsigned)nwriters + 1);
	pthread_barrier_init(&end_bar, NULL, (unsigned)nwriters + 1);
	for (int i = 0; i < nwriters; i++)
		pthread_create(&tids[i], NULL, writer_main, &writers[i]);
	for (int r = 0; r < nrounds; r++) {
		double t0 = now_us();

		pthread_barrier_wait(&start_bar);
		pthread_barrier_wait(&end_bar);
		for (int i = 0; i < nwriters; i++)
			done[i] = writers[i].done_us;
		qsort(done, (size_t)nwriters, sizeof(double), cmp_double);
		lat[r] = done[quorum - 1] - t0;
	}
	for (int i = 0; i < nwriters; i++)
		pthread_join(tids[i], NULL);
	qsort(lat, (size_t)nrounds, sizeof(double), cmp_double);
	printf("writers=%d quorum=%d rounds=%d p50_us=%.0f p90_us=%.0f p99_us=%.0f single_p50_us=%.0f\n",
	       nwriters, quorum, nrounds, lat[nrounds / 2], lat[nrounds * 9 / 10],
	       lat[nrounds * 99 / 100], single[100]);
	return 0;
}
