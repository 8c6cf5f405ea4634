#!/bin/bash
# bench/client.sh — libzkc against the Apache C client (libzookeeper_mt):
# the same workload from the same process shape against the same server
# (zkfs-server and Apache ZooKeeper 3.8, each started here), printing
# throughput and the client's own CPU per operation, with ratios.
#
# Environment: B (build dir), CLIENT_SECS (seconds per run, default 3),
# CLIENT_KINDS (servers, default "zkfs apache").
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
B=${B:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
export ZKFS_BUILD=$B
LOAD=$B/perf/zkc_load
ZKSERVER=$ROOT/tests/lib/zkserver
SECS=${CLIENT_SECS:-3}
KINDS=${CLIENT_KINDS:-zkfs apache}
[ -x "$LOAD" ] || { echo "bench/client.sh: $LOAD missing (make bench builds it)" >&2; exit 1; }

DIRS=()
cleanup() { for d in "${DIRS[@]}"; do "$ZKSERVER" stop "$d" >/dev/null 2>&1; rm -rf "$d"; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

echo
echo "libzkc vs the Apache C client — same server, same workload (4 sessions x 16 outstanding, 100-byte values, ${SECS}s)"
printf '%-10s %-8s %12s %12s %8s %14s %14s %8s\n' server op "libzkc/s" "apache/s" ratio "libzkc cpu/op" "apache cpu/op" ratio
for kind in $KINDS; do
	dir=$(mktemp -d /var/tmp/zkclient-$kind-XXXXXX)
	DIRS+=("$dir")
	port=$("$ZKSERVER" start "$kind" "$dir" 2>"$dir/start.err") || { echo "$kind: did not start" >&2; continue; }
	for op in create set get; do
		# unmeasured warm-up, so neither client pays for the server's JIT or cold caches
		timeout 60 "$LOAD" -s "127.0.0.1:$port" -c zkc -o $op -S 4 -w 16 -t 1 >/dev/null 2>&1
		timeout 60 "$LOAD" -s "127.0.0.1:$port" -c apache -o $op -S 4 -w 16 -t 1 >/dev/null 2>&1
		z=$(timeout 60 "$LOAD" -s "127.0.0.1:$port" -c zkc -o $op -S 4 -w 16 -t "$SECS" 2>/dev/null)
		a=$(timeout 60 "$LOAD" -s "127.0.0.1:$port" -c apache -o $op -S 4 -w 16 -t "$SECS" 2>/dev/null)
		zo=$(echo "$z" | field ops_per_s) ao=$(echo "$a" | field ops_per_s)
		zc=$(echo "$z" | field cpu_us_per_op) ac=$(echo "$a" | field cpu_us_per_op)
		r1=$(awk -v z="${zo:-0}" -v a="${ao:-0}" 'BEGIN{ if (a > 0) printf "%.2fx", z/a; else print "-" }')
		r2=$(awk -v z="${zc:-0}" -v a="${ac:-0}" 'BEGIN{ if (a > 0) printf "%.2fx", z/a; else print "-" }')
		printf '%-10s %-8s %12s %12s %8s %12s us %12s us %8s\n' "$kind" "$op" "${zo:-n/a}" "${ao:-n/a}" "$r1" "${zc:-n/a}" "${ac:-n/a}" "$r2"
	done
	"$ZKSERVER" stop "$dir" >/dev/null 2>&1
done
echo "(target: libzkc throughput >= 1x the Apache client's, at lower CPU per operation)"
