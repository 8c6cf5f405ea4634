#!/usr/bin/env bats
# cli.bats — zkfs-cli against real servers.  Every test runs its checks once
# per server kind that could be started (Apache ZooKeeper 3.8 always,
# zkfs-server when it is built and starts) and asserts the same results, so
# the two servers are held to the same behaviour as seen by the CLI.

ZKSERVER="$BATS_TEST_DIRNAME/../lib/zkserver"

setup_file() {
	export ZKFS_BUILD=${ZKFS_BUILD:-$BATS_TEST_DIRNAME/../../build}
	export CLI="$ZKFS_BUILD/zkfs-cli"
	[ -x "$CLI" ] || skip "no $CLI"
	local kinds="" k port
	for k in apache zkfs; do
		mkdir -p "$BATS_FILE_TMPDIR/$k"
		if port=$(ZK_OWNER_PID=$$ "$ZKSERVER" start "$k" "$BATS_FILE_TMPDIR/$k" 2>/dev/null); then
			kinds="$kinds $k"
			echo "$port" >"$BATS_FILE_TMPDIR/$k.port"
		fi
	done
	export KINDS=$kinds
}

teardown_file() {
	local k
	for k in apache zkfs; do
		[ -d "$BATS_FILE_TMPDIR/$k" ] && "$ZKSERVER" stop "$BATS_FILE_TMPDIR/$k" || true
	done
}

setup() {
	[ -n "${KINDS// /}" ] || skip "no server could be started"
	P=/t$BATS_TEST_NUMBER
}

# spec KIND — the server spec of that kind
spec() { echo "127.0.0.1:$(cat "$BATS_FILE_TMPDIR/$1.port")"; }

# zc KIND ARGS... — run the CLI against KIND with a bounded time
zc() {
	local k=$1; shift
	timeout 30 "$CLI" -s "$(spec "$k")" -t 10 "$@"
}

# each FUNCTION — runs FUNCTION KIND for every server kind
each() {
	local k
	for k in $KINDS; do
		echo "# kind $k" >&3
		"$1" "$k" || { echo "failed against $k"; return 1; }
	done
}

t_basic() {
	local k=$1
	run zc "$k" create "$P" hello
	[ "$status" -eq 0 ] && [ "$output" = "$P" ] || return 1
	run zc "$k" get "$P"
	[ "$status" -eq 0 ] && [ "$output" = "hello" ] || return 1
	run zc "$k" create "$P" again
	[ "$status" -eq 4 ] || return 1
	run zc "$k" set -v 7 "$P" x
	[ "$status" -eq 5 ] || return 1
	run zc "$k" set -v 0 "$P" world
	[ "$status" -eq 0 ] || return 1
	run zc "$k" get "$P"
	[ "$output" = "world" ] || return 1
	run zc "$k" get "$P/none"
	[ "$status" -eq 3 ] || return 1
	run zc "$k" exists "$P"
	[ "$status" -eq 0 ] || return 1
	zc "$k" create "$P/c" >/dev/null || return 1
	run zc "$k" delete "$P"
	[ "$status" -eq 6 ] || return 1
	run zc "$k" delete -v 3 "$P/c"
	[ "$status" -eq 5 ] || return 1
	run zc "$k" delete "$P/c"
	[ "$status" -eq 0 ] || return 1
	run zc "$k" delete "$P/c"
	[ "$status" -eq 3 ] || return 1
	zc "$k" delete "$P" || return 1
	run zc "$k" exists "$P"
	[ "$status" -eq 3 ]
}
@test "create, get, set, delete, exists with their exit codes" { each t_basic; }

t_modes() {
	local k=$1
	zc "$k" create "$P" >/dev/null || return 1
	run zc "$k" create -s "$P/q-" a
	[ "$status" -eq 0 ] && [ "$output" = "$P/q-0000000000" ] || return 1
	run zc "$k" create -s "$P/q-" b
	[ "$output" = "$P/q-0000000001" ] || return 1
	run zc "$k" create -e "$P/eph" x
	[ "$status" -eq 0 ] || return 1
	run zc "$k" exists "$P/eph" # the creating session has ended
	[ "$status" -eq 3 ] || return 1
	run zc "$k" create -c "$P/cont"
	[ "$status" -eq 0 ] || return 1
	run zc "$k" create -t 60000 "$P/ttl" x
	[ "$status" -eq 0 ] && [ "$output" = "$P/ttl" ] || return 1
	run zc "$k" create -c -e "$P/bad"
	[ "$status" -eq 2 ] || return 1
	zc "$k" delete -r "$P"
}
@test "create modes: sequential, ephemeral, container, TTL" { each t_modes; }

t_stdin() {
	local k=$1
	run bash -c "printf 'line1\nline2' | timeout 30 '$CLI' -s $(spec "$k") create $P"
	[ "$status" -eq 0 ] || return 1
	run zc "$k" get "$P"
	[ "$output" = $'line1\nline2' ] || return 1
	run bash -c "printf 'via-dash' | timeout 30 '$CLI' -s $(spec "$k") set $P -"
	[ "$status" -eq 0 ] || return 1
	[ "$(zc "$k" get "$P")" = "via-dash" ] || return 1
	# binary data survives
	head -c 3000 /dev/urandom >"$BATS_TEST_TMPDIR/bin"
	zc "$k" set "$P" - <"$BATS_TEST_TMPDIR/bin" || return 1
	zc "$k" get "$P" >"$BATS_TEST_TMPDIR/back" || return 1
	cmp "$BATS_TEST_TMPDIR/bin" "$BATS_TEST_TMPDIR/back" || return 1
	zc "$k" delete "$P"
}
@test "data from stdin and binary data" { each t_stdin; }

t_ls() {
	local k=$1
	zc "$k" create "$P" >/dev/null && zc "$k" create "$P/b" >/dev/null && zc "$k" create "$P/a" >/dev/null &&
		zc "$k" create "$P/a/x" >/dev/null || return 1
	run zc "$k" ls "$P"
	[ "$status" -eq 0 ] && [ "$output" = $'a\nb' ] || return 1
	run zc "$k" ls -R "$P"
	[ "$output" = "$P"$'\n'"$P/a"$'\n'"$P/a/x"$'\n'"$P/b" ] || return 1
	run zc "$k" count "$P"
	[ "$output" = 3 ] || return 1
	run zc "$k" ls "$P/none"
	[ "$status" -eq 3 ] || return 1
	run zc "$k" delete -r "$P"
	[ "$status" -eq 0 ] || return 1
	run zc "$k" exists "$P"
	[ "$status" -eq 3 ]
}
@test "ls, ls -R (sorted), count, delete -r" { each t_ls; }

t_stat() {
	local k=$1
	zc "$k" create "$P" abc >/dev/null && zc "$k" set "$P" abcd >/dev/null || return 1
	run zc "$k" stat "$P"
	[ "$status" -eq 0 ] || return 1
	echo "$output" | grep -qx 'dataVersion = 1' || return 1
	echo "$output" | grep -qx 'dataLength = 4' || return 1
	echo "$output" | grep -qx 'numChildren = 0' || return 1
	echo "$output" | grep -qx 'ephemeralOwner = 0x0' || return 1
	echo "$output" | grep -q '^ctime = 20' || return 1
	run zc "$k" stat "$P/none"
	[ "$status" -eq 3 ] || return 1
	run zc "$k" sync "$P"
	[ "$status" -eq 0 ] || return 1
	zc "$k" delete "$P"
}
@test "stat and sync" { each t_stat; }

t_acl() {
	local k=$1 id
	zc "$k" create "$P" x >/dev/null || return 1
	run zc "$k" getacl "$P"
	[ "$output" = "world:anyone:cdrwa" ] || return 1
	# digest: only the authenticated user may read
	id="bob:$(printf 'bob:pw' | openssl sha1 -binary | base64)"
	zc "$k" create "$P/sec" s >/dev/null || return 1
	zc "$k" setacl "$P/sec" "digest:$id:cdrwa" || return 1
	run zc "$k" get "$P/sec"
	[ "$status" -eq 7 ] || return 1
	run zc "$k" -a digest:bob:pw get "$P/sec"
	[ "$status" -eq 0 ] && [ "$output" = s ] || return 1
	run zc "$k" -a digest:bob:pw getacl "$P/sec"
	[ "$output" = "digest:$id:cdrwa" ] || return 1
	run zc "$k" addauth digest bob:pw
	[ "$status" -eq 0 ] || return 1
	zc "$k" delete "$P/sec" || return 1 # DELETE is checked on the parent
	# read-only ACL and versions
	run zc "$k" setacl -v 4 "$P" world:anyone:r
	[ "$status" -eq 5 ] || return 1
	zc "$k" setacl "$P" world:anyone:r || return 1
	run zc "$k" set "$P" y
	[ "$status" -eq 7 ] || return 1
	run zc "$k" setacl "$P" nonsense
	[ "$status" -eq 2 ] || return 1
	# an unknown scheme fails authentication
	run zc "$k" -a nosuchscheme:x get "$P"
	[ "$status" -eq 7 ] || return 1
	zc "$k" delete "$P"
}
@test "getacl, setacl, NoAuth exit code, -a digest" { each t_acl; }

t_whoami() {
	local k=$1
	run zc "$k" -a digest:bob:pw whoami
	[ "$status" -eq 0 ] || return 1
	echo "$output" | grep -qx 'ip 127.0.0.1' || return 1
	echo "$output" | grep -qx 'digest bob'
}
@test "whoami names the digest user" { each t_whoami; }

t_watch() {
	local k=$1 out="$BATS_TEST_TMPDIR/watch-$k" pid i
	zc "$k" create "$P" >/dev/null || return 1
	"$CLI" -s "$(spec "$k")" watch "$P" >"$out" 2>/dev/null &
	pid=$!
	for i in $(seq 1 100); do
		zc "$k" set "$P" "v$i" >/dev/null
		grep -q "^NodeDataChanged $P\$" "$out" && break
		sleep 0.1
	done
	zc "$k" create "$P/c" >/dev/null
	zc "$k" delete "$P/c"
	for i in $(seq 1 50); do
		[ "$(grep -c "^NodeChildrenChanged $P\$" "$out")" -ge 2 ] && break
		sleep 0.1
	done
	kill -INT $pid
	wait $pid
	local rc=$?
	[ "$rc" -eq 0 ] || return 1
	grep -q "^NodeDataChanged $P\$" "$out" || return 1
	[ "$(grep -c "^NodeChildrenChanged $P\$" "$out")" -eq 2 ] || return 1
	# recursive, in a pipeline that ends after the first event: the whole
	# pipeline (watcher included) must end once head has its line
	( "$CLI" -s "$(spec "$k")" watch -r "$P" | head -n 1 >"$out.r" ) &
	pid=$!
	for i in $(seq 1 100); do
		zc "$k" create "$P/n$i" >/dev/null
		[ -s "$out.r" ] && break
		sleep 0.1
	done
	for i in $(seq 1 100); do # the next event makes the writer notice the closed pipe
		kill -0 $pid 2>/dev/null || break
		zc "$k" set "$P/n1" "x$i" >/dev/null
		sleep 0.1
	done
	wait $pid
	grep -qE "^NodeCreated $P/n[0-9]+\$" "$out.r" || return 1
	zc "$k" delete -r "$P"
}
@test "watch and watch -r print one line per event, end on SIGINT or a closed pipe" { each t_watch; }

t_misc() {
	local k=$1
	run zc "$k" 4lw ruok
	[ "$status" -eq 0 ] && [ "$output" = imok ] || return 1
	# chroot in the spec and $ZKFS_SERVER as the default
	zc "$k" create "$P" >/dev/null || return 1
	run env ZKFS_SERVER="$(spec "$k")$P" timeout 30 "$CLI" create /inside v
	[ "$status" -eq 0 ] && [ "$output" = /inside ] || return 1
	run zc "$k" get "$P/inside"
	[ "$output" = v ] || return 1
	run env ZKFS_SERVER="$(spec "$k")$P" timeout 30 "$CLI" ls /
	[ "$output" = inside ] || return 1
	zc "$k" delete -r "$P"
}
@test "4lw, chroot in the spec, ZKFS_SERVER" { each t_misc; }

@test "usage errors exit 2; --help documents the exit codes" {
	run "$CLI"
	[ "$status" -eq 2 ]
	run "$CLI" frobnicate /
	[ "$status" -eq 2 ]
	run "$CLI" -s 127.0.0.1:1 get
	[ "$status" -eq 2 ]
	run "$CLI" -x ls /
	[ "$status" -eq 2 ]
	run "$CLI" --help
	[ "$status" -eq 0 ]
	echo "$output" | grep -q "8 connection failure"
	echo "$output" | grep -q "3 no node"
}

@test "an unreachable server exits 8 within the timeout" {
	local port
	port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	SECONDS=0
	run timeout 20 "$CLI" -s "127.0.0.1:$port" -t 2 get /
	[ "$status" -eq 8 ]
	[ "$SECONDS" -lt 10 ]
}
