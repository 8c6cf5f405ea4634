# bench/lib.sh — sourced first by the benchmark scripts that drive servers
# with the lean clients (tls.sh, metrics.sh, ensemble.sh): where the tree,
# the build and the tools are, and the helpers they all need.
#
# Sets ROOT (the tree; the working directory from here on), B (the build
# dir, absolute; exported as ZKFS_BUILD), RAWGEN, LOADGEN, ZKSERVER, SECS
# (BENCH_SECS, 5) and TMPBASE (BENCH_TMP, /var/tmp).
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
B=${B:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
export ZKFS_BUILD=$B
RAWGEN=$B/bench/rawgen
LOADGEN=$B/bench/loadgen
ZKSERVER=$ROOT/tests/lib/zkserver
SECS=${BENCH_SECS:-5}
TMPBASE=${BENCH_TMP:-/var/tmp}

# field LINE KEY — the value of KEY=value in a rawgen/loadgen result line
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }

# free_port — a loopback port nobody listens on now
free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
