#!/bin/bash
# cclient.sh — the Apache C client against Apache ZooKeeper 3.8 and
# zkfs-server: (1) tests/compat/capi.c, compiled here against
# libzookeeper_mt, runs the synchronous API end to end (create modes incl.
# TTL/container, null data, watches, multi, digest ACLs, a 1 MB value);
# (2) the stock cli_mt shell driven through stdin (create/get/set/ls/delete).
# TAP on stdout.  Usage: cclient.sh [apache|zkfs|both]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
B=${B:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
KINDS=${1:-${ZK_KINDS:-both}}
[ "$KINDS" = both ] && KINDS="apache zkfs"
KINDS=${KINDS//,/ }
export ZK_OWNER_PID=$$
CLI=/usr/lib/zookeeper/bin/cli_mt
N=0 FAILED=0
DIRS=()
cleanup() {
	local d
	for d in "${DIRS[@]}"; do "$ROOT/tests/lib/zkserver" stop "$d" >/dev/null 2>&1; rm -rf "$d"; done
}
trap cleanup EXIT

ok() { N=$((N + 1)); echo "ok $N - $1"; }
notok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $1"; [ -n "${2:-}" ] && echo "$2" | sed 's/^/# /'; }

# capi TAP output is renumbered into ours.
CAPI=$B/tests/capi
mkdir -p "$B/tests"
if ! cc -std=gnu11 -O1 -Wall -Wextra -Werror -DTHREADED -o "$CAPI" "$HERE/capi.c" -lzookeeper_mt -lpthread 2>"$B/tests/capi.build.log"; then
	notok "build capi.c" "$(cat "$B/tests/capi.build.log")"
	echo "1..$N"
	exit 1
fi
ok "build capi.c"

# cli_steps PORT — feeds cli_mt one command at a time (it is asynchronous).
cli_steps() {
	{
		sleep 0.7
		for c in "create /cli" "create +e /cli/eph" "create +s /cli/s" "set /cli world" "get /cli" \
			"ls /cli" "delete /cli" "delete /cli/s0000000001" "get /nope" "exists /cli" "quit"; do
			echo "$c"
			sleep 0.25
		done
	} | timeout 20 "$CLI" -h "127.0.0.1:$1" 2>&1
}

for kind in $KINDS; do
	dir=$(mktemp -d "/tmp/zk-cclient-$kind-XXXXXX")
	DIRS+=("$dir")
	if ! port=$("$ROOT/tests/lib/zkserver" start "$kind" "$dir" 2>"$dir/start.err"); then
		notok "$kind: server start" "$(cat "$dir/start.err")"
		continue
	fi
	ok "$kind: server start"
	out=$(timeout 60 "$CAPI" "127.0.0.1:$port" "$kind" 2>"$dir/capi.err")
	rc=$?
	while IFS= read -r line; do
		case "$line" in
		"ok "*) ok "capi ${line#ok [0-9]* - }" ;;
		"not ok "*) notok "capi ${line#not ok [0-9]* - }" ;;
		"#"*) echo "$line" ;;
		esac
	done <<<"$out"
	if [ $rc -ne 0 ] && ! grep -q '^not ok' <<<"$out"; then
		notok "$kind: capi exited with $rc" "$(tail -5 "$dir/capi.err")"
	fi
	out=$(cli_steps "$port")
	expect() {
		if grep -qE -- "$2" <<<"$out"; then ok "$kind: cli_mt $1"; else notok "$kind: cli_mt $1" "no /$2/ in output:
$(tail -40 <<<"$out")"; fi
	}
	expect "session" "Got a new session id: 0x[0-9a-f]+"
	expect "create" "^\[/cli\]: rc = 0"
	expect "create ephemeral" "^\[/cli/eph\]: rc = 0"
	expect "create sequential" "name = /cli/s0000000001"
	expect "set" "^/cli: rc = 0 Stat:"
	expect "get value" "^world$"
	expect "get version" "version=1"
	expect "ls" "^	s0000000001$"
	expect "delete not empty" "^/cli: rc = -111"
	expect "delete" "^/cli/s0000000001: rc = 0"
	expect "get missing" "^/nope: rc = -101"
	"$ROOT/tests/lib/zkserver" stop "$dir" >/dev/null
done
echo "1..$N"
[ $FAILED -eq 0 ]
