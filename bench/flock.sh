#!/bin/bash
# bench/flock.sh — what a cluster-wide flock on the zkfs mount costs.
#
# Starts one server (tests/lib/zkserver, loopback, free port; zkfs-server,
# or Apache ZooKeeper 3.8 with FLOCKBENCH_KIND=apache) and two mounts of the
# same chroot, A and B (two "hosts"), then measures:
#   1. flock acquire+release cycles per second through mount A on one file
#      (flock(LOCK_EX) + flock(LOCK_UN) on an open fd, C loop, no fork),
#      next to the mkdir lock (mkdir + rmdir) on the same mount and to a
#      libzkc lock recipe cycle on the same server (build/bench/zkclock:
#      create ephemeral-sequential + getChildren + delete)
#   2. hand-over: a holder on A releases while a waiter on B is blocked in
#      flock; the time from the release call to the waiter's return, p50
#      and p99 over FLOCKBENCH_ROUNDS hand-overs (both directions alternate)
# and prints a Markdown table: metric, zkfs, reference, ratio, target, met.
#
# Environment: B or ZKFS_BUILD (build dir; needs zkfs, zkfs-server and
# bench/zkclock), FLOCKBENCH_SECS (seconds per throughput loop, default 3),
# FLOCKBENCH_ROUNDS (hand-overs, default 200), FLOCKBENCH_KIND (zkfs),
# FLOCKBENCH_SERVER (extra zoo.cfg key=value words, e.g. forceSync=no: a
# hand-over waits for the holder's delete to be committed, so on a busy
# disk the server's fsync is most of it; without it the figure is the
# mounts' and the network's part).
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
B=${B:-${ZKFS_BUILD:-build}}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
export ZKFS_BUILD=$B
ZKFS=$B/zkfs
ZKCLOCK=$B/bench/zkclock
ZKSERVER=$ROOT/tests/lib/zkserver
PY=/usr/bin/python3
SECS=${FLOCKBENCH_SECS:-3}
ROUNDS=${FLOCKBENCH_ROUNDS:-200}
KIND=${FLOCKBENCH_KIND:-zkfs}
NS=/flockbench
export ZK_OWNER_PID=$$

T_START=$SECONDS
die() { echo "bench/flock: $*" >&2; exit 1; }
say() { echo "bench/flock: [$((SECONDS - T_START))s] $*" >&2; }
for f in "$ZKFS" "$B/zkfs-server" "$ZKCLOCK"; do
	[ -x "$f" ] || die "$f missing (make B=... all B/bench/zkclock)"
done
[ -c /dev/fuse ] && command -v fusermount3 >/dev/null || die "needs /dev/fuse and fusermount3"

W=$(mktemp -d /tmp/zkfs-flockbench-XXXXXX) || die "mktemp"
MOUNTS=()
SERVER=
cleanup() {
	local d pid
	for d in "${MOUNTS[@]}"; do
		pid=$(sed -n 's/.*zkfs\[\([0-9]*\)\]: mounted.*/\1/p' "$W/log-$(basename "$d")" 2>/dev/null | tail -1)
		fusermount3 -u "$d" 2>/dev/null || fusermount3 -uz "$d" 2>/dev/null
		[ -n "$pid" ] && kill "$pid" 2>/dev/null
	done
	[ -n "$SERVER" ] && "$ZKSERVER" stop "$SERVER" >/dev/null 2>&1
	[ -n "${FLOCKBENCH_KEEP:-}" ] && echo "bench/flock: kept $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The timing helper: loops with no fork in the measured part.
cat >"$W/flb.c" <<'CEOF'
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(const char *what, const char *p) { perror(what); fprintf(stderr, "  %s\n", p); exit(1); }

struct shared {
	volatile int waiting[2], done[2];
	volatile double t0;
	volatile int n;
	double lat[100000];
};

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* One side of the hand-over ping-pong: takes the lock, waits until the
 * other side is blocked in flock, releases it, and blocks again itself. */
static void side(struct shared *sh, int me, const char *path, int rounds)
{
	int other = !me, fd = open(path, O_RDONLY);
	if (fd < 0)
		fail("open", path);
	for (int i = 0; i < rounds; i++) {
		sh->waiting[me] = 1;
		if (flock(fd, LOCK_EX))
			fail("flock", path);
		double t1 = now();
		sh->waiting[me] = 0;
		if (sh->t0 > 0 && sh->n < 100000)
			sh->lat[sh->n++] = t1 - sh->t0;
		sh->t0 = 0;
		while (!sh->waiting[other] && !sh->done[other])
			usleep(100);
		if (!sh->done[other])
			usleep(20000); /* the waiter is inside flock(), watching */
		sh->t0 = now();
		flock(fd, LOCK_UN);
	}
	sh->done[me] = 1;
	close(fd);
}

int main(int argc, char **argv)
{
	const char *mode = argv[1];
	if (!strcmp(mode, "flock")) { /* flock FILE SECS */
		double secs = atof(argv[3]), t0 = now(), t;
		long n = 0;
		int fd = open(argv[2], O_RDONLY);
		if (fd < 0)
			fail("open", argv[2]);
		do {
			if (flock(fd, LOCK_EX) || flock(fd, LOCK_UN))
				fail("flock", argv[2]);
			n++;
		} while ((t = now()) - t0 < secs);
		printf("%.0f\n", n / (t - t0));
	} else if (!strcmp(mode, "mkdir")) { /* mkdir DIR SECS */
		char p[4096];
		double secs = atof(argv[3]), t0 = now(), t;
		long n = 0;
		snprintf(p, sizeof(p), "%s/lock", argv[2]);
		do {
			if (mkdir(p, 0755) || rmdir(p))
				fail("mkdir/rmdir", p);
			n++;
		} while ((t = now()) - t0 < secs);
		printf("%.0f\n", n / (t - t0));
	} else if (!strcmp(mode, "handover")) { /* handover FILE_A FILE_B ROUNDS */
		int rounds = atoi(argv[4]);
		struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (sh == MAP_FAILED)
			fail("mmap", "");
		memset((void *)sh, 0, sizeof(*sh));
		pid_t a = fork();
		if (a == 0) {
			side(sh, 0, argv[2], rounds);
			_exit(0);
		}
		usleep(200000); /* A holds first */
		pid_t b = fork();
		if (b == 0) {
			side(sh, 1, argv[3], rounds);
			_exit(0);
		}
		waitpid(a, NULL, 0);
		waitpid(b, NULL, 0);
		int n = sh->n;
		qsort(sh->lat, n, sizeof(double), cmpd);
		if (!n)
			return 1;
		printf("%d %.0f %.0f\n", n, sh->lat[n / 2] * 1e6, sh->lat[(int)(n * 0.99)] * 1e6);
	}
	return 0;
}
CEOF
cc -O2 -Wall -o "$W/flb" "$W/flb.c" || die "cannot build the timing helper"
FLB=$W/flb
run() { local t=$1; shift; timeout --foreground -k 5 "$t" "$@"; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a/b; else print "-"}'; }
met() { awk "BEGIN {print ($1) ? \"yes\" : \"no\"}"; }
ROWS=()
row() { ROWS+=("| $1 | $2 | $3 | $4 | $5 | $6 |"); echo "  $1: $2 (ref $3, ratio $4)" >&2; }

say "server ($KIND), two mounts (build $B)"
SERVER=$W/srv
# shellcheck disable=SC2086
PORT=$("$ZKSERVER" start "$KIND" "$SERVER" ${FLOCKBENCH_SERVER:-}) || { SERVER=; die "server did not start"; }
run 60 "$PY" - "127.0.0.1:$PORT" "$NS" <<'PYEOF' || die "setup failed"
import sys, logging
logging.basicConfig(level=logging.CRITICAL)
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1], timeout=10)
zk.start(timeout=15)
ns = sys.argv[2]
for d in ("", "/plain", "/zl"):
    zk.create(ns + d, b"")
zk.create(ns + "/job", b"lock file\n")
zk.stop()
PYEOF
for m in a b; do
	mkdir -p "$W/$m"
	run 30 "$ZKFS" "127.0.0.1:$PORT$NS" "$W/$m" -o "log=$W/log-$m" || die "mounting $m failed"
	MOUNTS+=("$W/$m")
done
A=$W/a
MB=$W/b

say "1. lock cycles per second"
fl=() mk=() zl=()
for _ in 1 2 3; do
	fl+=("$(run 60 "$FLB" flock "$A/job" "$(awk -v s="$SECS" 'BEGIN {print s/3}')")") || die "flock loop failed"
	mk+=("$(run 60 "$FLB" mkdir "$A/plain" "$(awk -v s="$SECS" 'BEGIN {print s/3}')")") || die "mkdir loop failed"
	zl+=("$(run 60 "$ZKCLOCK" "127.0.0.1:$PORT" "$NS/zl" "$(awk -v s="$SECS" 'BEGIN {print s/3}')" | sed -n 's/^cycles_per_s=\([0-9]*\).*/\1/p')") || die "zkclock failed"
done
f=$(printf '%s\n' "${fl[@]}" | median)
m=$(printf '%s\n' "${mk[@]}" | median)
z=$(printf '%s\n' "${zl[@]}" | median)
row "flock acquire+release cycles/s (one file, one mount)" "$f" "$m (mkdir+rmdir lock)" "$(ratio "$f" "$m")" "-" "-"
row "flock cycles/s vs a libzkc lock recipe cycle" "$f" "$z (libzkc: create+getChildren+delete)" "$(ratio "$f" "$z")" "-" "-"

say "2. hand-over from a holder on A to a waiter on B ($ROUNDS rounds)"
read -r n p50 p99 < <(run $((ROUNDS / 5 + 120)) "$FLB" handover "$A/job" "$MB/job" "$ROUNDS") || die "hand-over run failed"
row "flock hand-over to another host, p50 (µs, $n hand-overs)" "$p50" "-" "-" "-" "-"
row "flock hand-over to another host, p99 (µs)" "$p99" "-" "-" "< 5000" "$(met "$p99 < 5000")"

# A hand-over waits for one durable delete: the disk's own write +
# fdatasync, measured right after on the server's disk, says how much of
# the figures above is the disk (it varies by 2x on shared machines).
if [ -x "$B/bench/diskfloor" ] && line=$("$B/bench/diskfloor" "$SERVER" 1 1 400 2>&1); then
	dp50=$(sed -n 's/.* p50_us=\([0-9]*\).*/\1/p' <<<"$line")
	dp99=$(sed -n 's/.* p99_us=\([0-9]*\).*/\1/p' <<<"$line")
	row "this disk: one write + fdatasync alone, p50 / p99 (µs, same run)" "$dp50 / $dp99" "-" "-" "-" "-"
fi

echo
echo "### flock on the mount ($KIND server${FLOCKBENCH_SERVER:+ with $FLOCKBENCH_SERVER}, loopback)"
echo
echo "| metric | zkfs | reference | ratio | target | met |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
