#!/bin/bash
# bench/metrics.sh — does Prometheus scraping cost the clients anything?
# One zkfs-server with the Prometheus endpoint on (metricsProvider.*), the
# lean client (rawgen) doing getData (8 sessions x 64 outstanding) and
# durable setData (16 x 16); each run once with nobody scraping and once
# with curl fetching /metrics every BENCH_SCRAPE_EVERY seconds (1, as a
# Prometheus with scrape_interval: 1s), interleaved, BENCH_METRICS_ROUNDS
# (3) times.  The medians of the rounds are compared.
#
# Target: scraping every second does not move p99 — the median p99 with
# scraping at most 1.15x the median without (the rounds' own spread on a
# shared 2-core machine is of that order; the spread is printed too).
# Apache ZooKeeper is not measured: Debian's package lacks the jars of its
# Prometheus provider.
#
# Environment: B (build dir), BENCH_SECS (5), BENCH_WARMUP (1), BENCH_TMP
# (/var/tmp), BENCH_METRICS_ROUNDS (3), BENCH_SCRAPE_EVERY (1).
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
WARM=${BENCH_WARMUP:-1}
ROUNDS=${BENCH_METRICS_ROUNDS:-3}
EVERY=${BENCH_SCRAPE_EVERY:-1}
KEYSPACE=10000
export ZK_OWNER_PID=$$

for g in "$RAWGEN" "$LOADGEN"; do
	[ -x "$g" ] || { echo "bench/metrics: $g missing (make bench builds it)" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "bench/metrics: curl missing" >&2; exit 1; }
DIR=$(mktemp -d "$TMPBASE/zkbench-metrics-XXXXXX")
SCRAPER=""
cleanup() {
	[ -n "$SCRAPER" ] && kill "$SCRAPER" 2>/dev/null
	"$ZKSERVER" stop "$DIR" >/dev/null 2>&1
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench/metrics: $*" >&2; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
spread() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {if (lo > 0) printf "%.2fx", hi / lo; else print "-"}'; }

MPORT=$(free_port)
PORT=$("$ZKSERVER" start zkfs "$DIR" \
	metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider \
	metricsProvider.httpHost=127.0.0.1 metricsProvider.httpPort="$MPORT" 2>"$DIR.err") ||
	{ log "zkfs-server did not start: $(tail -5 "$DIR.err")"; rm -f "$DIR.err"; exit 1; }
rm -f "$DIR.err"
URL=http://127.0.0.1:$MPORT/metrics
curl -sf "$URL" >/dev/null || { log "$URL does not answer"; exit 1; }
"$LOADGEN" -h "127.0.0.1:$PORT" -o load -s 4 -k 8 -b 100 -n $KEYSPACE -P /bench >/dev/null 2>&1

# scrape_loop — fetches /metrics every EVERY seconds, as a Prometheus does:
# one long-lived client on one kept-alive connection (one curl process
# pacing itself with --rate, not a process started per scrape, whose own
# start-up would be what the clients feel on a 2-core machine); each
# fetch's time and size to $DIR/scrapes
scrape_loop() {
	local n=$(((SECS + WARM) / EVERY + 10)) urls=() i rate
	for ((i = 0; i < n; i++)); do urls+=(-o /dev/null "$URL"); done
	rate=$([ "$EVERY" = 1 ] && echo 1/s || echo "$((60 / EVERY))/m")
	exec stdbuf -oL curl -s -w '%{time_total} %{size_download}\n' --rate "$rate" "${urls[@]}" >>"$DIR/scrapes" 2>/dev/null
}

declare -A P99 OPS
for round in $(seq "$ROUNDS"); do
	for w in "get -s 8 -k 64" "set -s 16 -k 16"; do
		op=${w%% *}
		for mode in quiet scraped; do
			sync
			sleep 1
			if [ $mode = scraped ]; then
				scrape_loop &
				SCRAPER=$!
			fi
			# shellcheck disable=SC2086
			line=$("$RAWGEN" -h "127.0.0.1:$PORT" -o $w -t "$SECS" -w "$WARM" -n $KEYSPACE -P /bench 2>&1 | tail -1)
			if [ -n "$SCRAPER" ]; then
				kill "$SCRAPER" 2>/dev/null
				wait "$SCRAPER" 2>/dev/null
				SCRAPER=""
			fi
			log "$op $mode (round $round): $line"
			P99[$op.$mode]="${P99[$op.$mode]:-} $(field "$line" p99_us)"
			OPS[$op.$mode]="${OPS[$op.$mode]:-} $(field "$line" ops_per_s)"
		done
	done
done

FAILS=0
echo
echo "Prometheus /metrics scraped every ${EVERY}s vs not at all — zkfs-server, rawgen, median of $ROUNDS ${SECS}s rounds, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-30s %12s %12s %8s %9s  %s\n' "" "not scraped" "scraped" "ratio" "target" ""
for op in get set; do
	name=$([ $op = get ] && echo "getData 8 x 64" || echo "setData 16 x 16")
	# shellcheck disable=SC2086
	q=$(median ${P99[$op.quiet]}) s=$(median ${P99[$op.scraped]})
	r=$(awk -v a="$s" -v b="$q" 'BEGIN{ if (b > 0) printf "%.2fx", a/b; else print "-" }')
	v=$(awk -v r="${r%x}" 'BEGIN{ print (r != "-" && r <= 1.15) ? "PASS" : "FAIL" }')
	[ "$v" = FAIL ] && FAILS=$((FAILS + 1))
	printf '%-30s %12s %12s %8s %9s  %s\n' "$name p99 (us)" "$q" "$s" "$r" "<= 1.15x" "$v"
	# shellcheck disable=SC2086
	printf '%-30s %12s %12s %8s\n' "$name ops/s" "$(median ${OPS[$op.quiet]})" "$(median ${OPS[$op.scraped]})" \
		"$(awk -v a="$(median ${OPS[$op.scraped]})" -v b="$(median ${OPS[$op.quiet]})" 'BEGIN{ if (b > 0) printf "%.2fx", a/b }')"
	# shellcheck disable=SC2086
	printf '%-30s %12s %12s\n' "  spread of p99 over rounds" "$(spread ${P99[$op.quiet]})" "$(spread ${P99[$op.scraped]})"
done
if [ -s "$DIR/scrapes" ]; then
	awk '{t += $1; b += $2; n++; if ($1 > m) m = $1} END {printf "%d scrapes: %.1f ms each on average, %.1f ms at most, %.0f bytes\n", n, 1000 * t / n, 1000 * m, b / n}' "$DIR/scrapes"
fi
echo "$FAILS metrics target(s) missed"
exit 0
