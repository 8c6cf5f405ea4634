# tests/lib/servers.bash — server helpers for bats files: start zkfs-server or
# Apache ZooKeeper 3.8 on a free loopback port in a temp dir, and stop every
# server this file started.
#
#   load ../lib/servers          (from tests/bats/*.bats)
#   setup()    { zk_start zkfs; }           # sets ZK_PORT, ZK_DIR, ZK_HOSTS
#   teardown() { zk_stop_all; }
#
# zk_start KIND [key=value ...]  KIND = zkfs | apache; extra zoo.cfg keys
# zk_stop [DIR] / zk_kill [DIR] / zk_restart [DIR]  (default: the last started)
# zk_4lw CMD [DIR]               print a four-letter-word answer
# Servers started in setup_file survive between tests; stop them in
# teardown_file.  ZK_SERVER_DIRS lists every directory started.

ZK_LIB_DIR=${ZK_LIB_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
ZK_SERVER_DIRS=${ZK_SERVER_DIRS:-}

zk_start() {
	local kind=$1; shift
	local dir
	dir=$(mktemp -d "${BATS_TMPDIR:-/tmp}/zk-$kind-XXXXXX") || return 1
	ZK_SERVER_DIRS="$ZK_SERVER_DIRS $dir"
	export ZK_SERVER_DIRS
	ZK_PORT=$("$ZK_LIB_DIR/zkserver" start "$kind" "$dir" "$@") || {
		echo "zk_start $kind failed (dir $dir)" >&2
		return 1
	}
	ZK_DIR=$dir
	ZK_HOSTS=127.0.0.1:$ZK_PORT
	export ZK_PORT ZK_DIR ZK_HOSTS
}

zk_stop() { "$ZK_LIB_DIR/zkserver" stop "${1:-$ZK_DIR}"; }
zk_kill() { "$ZK_LIB_DIR/zkserver" kill "${1:-$ZK_DIR}"; }
zk_restart() { "$ZK_LIB_DIR/zkserver" restart "${1:-$ZK_DIR}" >/dev/null; }
zk_4lw() { "$ZK_LIB_DIR/zkserver" 4lw "${2:-$ZK_DIR}" "$1"; }

zk_stop_all() {
	local d
	for d in $ZK_SERVER_DIRS; do
		"$ZK_LIB_DIR/zkserver" stop "$d" || true
		[ -n "${ZK_KEEP:-}" ] || rm -rf "$d"
	done
	ZK_SERVER_DIRS=
	export ZK_SERVER_DIRS
}
