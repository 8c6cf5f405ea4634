#!/bin/bash
# bench/tls.sh — what TLS on the client port costs: zkfs-server and Apache
# ZooKeeper 3.8 (NettyServerCnxnFactory, the only one with TLS) each with a
# plain clientPort and a secureClientPort (PEM stores, clientAuth=need, a
# throwaway CA from tests/lib/zktlscerts.py), measured with the lean client
# (rawgen, which seals with the same engine as libzkc: proto/zktls.c) over
# both ports, getData and durable setData, 32 sessions x 16 outstanding.
#
# Targets: TLS costs zkfs at most 1.5x plain (plain/TLS throughput <= 1.5),
# and zkfs over TLS does >= 3x Apache's TLS throughput.  Ratios come from
# the same run; the machine is shared, so read them, not the absolute rates.
#
# Each figure is the best of BENCH_TLS_ROUNDS (2) runs, plain and TLS and
# both servers interleaved, so that a burst of background load on a shared
# machine does not decide a ratio.
#
# Environment: B (build dir), BENCH_SECS (5), BENCH_WARMUP (2), BENCH_TMP
# (/var/tmp), BENCH_KINDS ("apache zkfs"), BENCH_JVMFLAGS (none),
# BENCH_TLS_ROUNDS (2).
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
WARM=${BENCH_WARMUP:-2}
KINDS=${BENCH_KINDS:-apache zkfs}
KEYSPACE=10000
ROUNDS=${BENCH_TLS_ROUNDS:-2}
export ZK_OWNER_PID=$$
export ZK_JVMFLAGS=${BENCH_JVMFLAGS:-}

for g in "$RAWGEN" "$LOADGEN"; do
	[ -x "$g" ] || { echo "bench/tls: $g missing (make bench builds it)" >&2; exit 1; }
done
PKI=$(/usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import zktlscerts; print(zktlscerts.Pki().dir)' "$ROOT/tests/lib") ||
	{ echo "bench/tls: cannot make test certificates" >&2; exit 1; }
DIRS=()
cleanup() {
	local d
	for d in "${DIRS[@]}"; do "$ZKSERVER" stop "$d" >/dev/null 2>&1; rm -rf "$d"; done
	rm -rf "$PKI"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A R PORT SPORT
log() { echo "bench/tls: $*" >&2; }

UP=()
for kind in $KINDS; do
	dir=$(mktemp -d "$TMPBASE/zkbench-tls-$kind-XXXXXX")
	DIRS+=("$dir")
	sp=$(free_port)
	if ! port=$("$ZKSERVER" start "$kind" "$dir" secureClientPort="$sp" \
		serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory \
		authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider \
		ssl.keyStore.location="$PKI/server.pem" ssl.keyStore.type=PEM \
		ssl.trustStore.location="$PKI/ca.pem" ssl.trustStore.type=PEM ssl.clientAuth=need 2>"$dir/start.err"); then
		log "$kind: server did not start: $(tail -5 "$dir/start.err")"
		continue
	fi
	PORT[$kind]=$port
	SPORT[$kind]=$sp
	UP+=("$kind")
	"$LOADGEN" -h "127.0.0.1:$port" -o load -s 4 -k 8 -b 100 -n $KEYSPACE -P /bench >/dev/null 2>&1
	# warm-up, both ports (the JVM compiles its TLS paths too)
	"$RAWGEN" -h "127.0.0.1:$port" -o get -s 32 -k 16 -t 2 -w 0 -n $KEYSPACE -P /bench >/dev/null 2>&1
	"$RAWGEN" -h "127.0.0.1:$sp" -T "$PKI/ca.pem" -C "$PKI/client.pem" -o get -s 32 -k 16 -t 2 -w 0 \
		-n $KEYSPACE -P /bench >/dev/null 2>&1
done

for op in get set; do
	for round in $(seq "$ROUNDS"); do
		for mode in plain tls; do
			for kind in "${UP[@]}"; do
				sync
				sleep 1
				if [ $mode = tls ]; then
					args=(-h "127.0.0.1:${SPORT[$kind]}" -T "$PKI/ca.pem" -C "$PKI/client.pem")
				else
					args=(-h "127.0.0.1:${PORT[$kind]}")
				fi
				line=$("$RAWGEN" "${args[@]}" -o $op -s 32 -k 16 -t "$SECS" -w "$WARM" -n $KEYSPACE -P /bench 2>&1 | tail -1)
				log "$kind $op $mode (round $round): $line"
				ops=$(field "$line" ops_per_s)
				# best of the rounds: its throughput and its p99
				if [ -n "$ops" ] && awk -v a="$ops" -v b="${R[$kind.$op.$mode.ops]:-0}" 'BEGIN{exit !(a > b)}'; then
					R[$kind.$op.$mode.ops]=$ops
					R[$kind.$op.$mode.p99]=$(field "$line" p99_us)
				fi
			done
		done
	done
done

ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN{ if (a > 0 && b > 0) printf "%.2fx", a/b; else print "-" }'; }
verdict() { # RATIO OP TARGET
	local r=${1%x}
	[ "$1" = - ] && { echo "-"; return; }
	awk -v r="$r" -v t="$3" -v op="$2" 'BEGIN{ print ((op == "le" ? r <= t : r >= t) ? "PASS" : "FAIL") }'
}
FAILS=0
echo
echo "TLS on the client port — rawgen, 32 sessions x 16 outstanding, 100-byte values, best of $ROUNDS ${SECS}s runs, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-34s %11s %11s %11s %11s\n' "" "zkfs plain" "zkfs TLS" "ZK plain" "ZK TLS"
for op in get set; do
	name=$([ $op = get ] && echo getData || echo "setData (durable)")
	printf '%-34s %11s %11s %11s %11s\n' "$name ops/s" "${R[zkfs.$op.plain.ops]:-n/a}" "${R[zkfs.$op.tls.ops]:-n/a}" \
		"${R[apache.$op.plain.ops]:-n/a}" "${R[apache.$op.tls.ops]:-n/a}"
	printf '%-34s %11s %11s %11s %11s\n' "$name p99 us" "${R[zkfs.$op.plain.p99]:-n/a}" "${R[zkfs.$op.tls.p99]:-n/a}" \
		"${R[apache.$op.plain.p99]:-n/a}" "${R[apache.$op.tls.p99]:-n/a}"
done
echo
printf '%-46s %8s %10s  %s\n' "" "ratio" "target" ""
for op in get set; do
	name=$([ $op = get ] && echo getData || echo setData)
	r=$(ratio "${R[zkfs.$op.plain.ops]:-}" "${R[zkfs.$op.tls.ops]:-}")
	v=$(verdict "$r" le 1.5)
	[ "$v" = FAIL ] && FAILS=$((FAILS + 1))
	printf '%-46s %8s %10s  %s\n' "$name: zkfs plain / zkfs TLS throughput" "$r" "<= 1.5x" "$v"
	r=$(ratio "${R[zkfs.$op.tls.ops]:-}" "${R[apache.$op.tls.ops]:-}")
	v=$(verdict "$r" ge 3)
	[ "$v" = FAIL ] && FAILS=$((FAILS + 1))
	printf '%-46s %8s %10s  %s\n' "$name: zkfs TLS / ZooKeeper TLS throughput" "$r" ">= 3x" "$v"
	r=$(ratio "${R[apache.$op.plain.ops]:-}" "${R[apache.$op.tls.ops]:-}")
	printf '%-46s %8s\n' "$name: ZooKeeper plain / ZooKeeper TLS" "$r"
done
echo "$FAILS TLS target(s) missed"
exit 0
