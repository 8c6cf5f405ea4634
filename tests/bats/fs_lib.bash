# tests/bats/fs_lib.bash — helpers for the zkfs mount tests (fs_*.bats).
#
# One server per .bats file (setup_file: fs_server_start KIND), one private
# namespace per test: every test mounts SPEC/<chroot> where the chroot node
# is made fresh for it, so tests never see each other's nodes.  Every mount
# is recorded and undone in teardown (fusermount3 -u, then -z, then the
# daemon is killed by pid), so a failing test leaves nothing behind.
#
#   fs_server_start KIND     setup_file: start zkfs|apache (skips without /dev/fuse)
#   fs_server_stop           teardown_file
#   fs_test_setup            setup: T (temp dir), NS (the chroot), SPEC
#   fs_mount DIR [OPTS]      mount SPEC on DIR (made if needed) with -o OPTS
#   fs_umount DIR
#   fs_test_teardown         teardown: unmount everything, kill strays
#   zkcli CMD ARGS...        kazoo one-liners against the server (see below)

load ../lib/servers

FS_ROOT=${ZKFS_ROOT:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
FS_BUILD=${ZKFS_BUILD:-$FS_ROOT/build}
ZKFS=$FS_BUILD/zkfs
PY=/usr/bin/python3

fs_have_fuse() {
	[ -c /dev/fuse ] && command -v fusermount3 >/dev/null
}

fs_server_start() {
	fs_have_fuse || return 0
	export ZKFS_BUILD=$FS_BUILD
	export ZK_OWNER_PID=$$
	zk_start "$1"
	echo "$ZK_HOSTS" >"$BATS_FILE_TMPDIR/hosts"
}

fs_server_stop() {
	fs_have_fuse || return 0
	zk_stop_all
}

fs_test_setup() {
	fs_have_fuse || skip "no /dev/fuse or fusermount3"
	ZK_HOSTS=$(cat "$BATS_FILE_TMPDIR/hosts")
	T=$(mktemp -d "${BATS_TMPDIR:-/tmp}/fs-XXXXXX")
	NS=/t$BATS_TEST_NUMBER-$RANDOM$RANDOM
	zkcli create "$NS" || return 1
	SPEC=$ZK_HOSTS$NS
	FS_MOUNTS=()
	export T NS SPEC ZK_HOSTS
}

# fs_mount DIR [OPTS] — mounts SPEC (or $FS_SPEC) on DIR.
fs_mount() {
	local dir=$1 opts=${2:-}
	mkdir -p "$dir"
	local o="log=$T/log-$(basename "$dir")"
	[ -n "$opts" ] && o="$o,$opts"
	ZKFS_DEBUG_EVENTS=${FS_DEBUG:-} timeout 30 "$ZKFS" "${FS_SPEC:-$SPEC}" "$dir" -o "$o" || return 1
	FS_MOUNTS+=("$dir")
}

fs_daemon_pid() {
	sed -n 's/.*zkfs\[\([0-9]*\)\]: mounted.*/\1/p' "$T/log-$(basename "$1")" | tail -1
}

# fs_alive PID — the process runs and is not a zombie.  The daemon is
# re-parented to pid 1 once it forks away; an init that reaps late (over a
# second on the test machines) would otherwise make every unmount wait.
fs_alive() {
	kill -0 "$1" 2>/dev/null || return 1
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

fs_umount() {
	local dir=$1 pid
	pid=$(fs_daemon_pid "$dir")
	fusermount3 -u "$dir" 2>/dev/null || fusermount3 -uz "$dir" 2>/dev/null || true
	# the daemon exits once unmounted; make sure
	if [ -n "$pid" ]; then
		for _ in $(seq 100); do fs_alive "$pid" || break; sleep 0.05; done
		kill -9 "$pid" 2>/dev/null || true
	fi
}

# fs_pid_start PID — the process's start time (clock ticks since boot), which
# tells it apart from a later process given the same pid
fs_pid_start() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }

# fs_track PID — a helper (setsid'd: leader of its own process group) that
# fs_test_teardown ends with its whole group
fs_track() { FS_PIDS="${FS_PIDS:-} $1:$(fs_pid_start "$1")"; }

fs_test_teardown() {
	fs_have_fuse || return 0
	local d
	# background jobs of the test first (waiters, holders)
	for p in $(jobs -p 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
	# setsid'd helpers lead their own process group: end the whole group,
	# unless its pid now names a newer process (the test killed the helper
	# and the pid was reused: pid_max is small and the lanes churn)
	local entry
	for entry in ${FS_PIDS:-}; do
		p=${entry%%:*}
		[ -e "/proc/$p" ] && [ "$(fs_pid_start "$p")" != "${entry#*:}" ] && continue
		kill -9 -- "-$p" 2>/dev/null || kill -9 "$p" 2>/dev/null || true
	done
	for d in "${FS_MOUNTS[@]}"; do fs_umount "$d"; done
	# anything else still running on this test's files (inotifywait in a
	# pipeline, a timeout's child): found by the unique temp dir, killed by pid
	if [ -n "${T:-}" ]; then
		for p in $(pgrep -f -- "$T/" 2>/dev/null); do
			[ "$p" != $$ ] && kill -9 "$p" 2>/dev/null || true
		done
	fi

	# a failed test shows what the mounts logged and any event file it
	# kept: intermittent failures are otherwise gone with the temp dir
	if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -n "${T:-}" ] && [ -d "$T" ]; then
		local f
		for f in "$T"/log-* "$T"/ev "$T"/ev.err; do
			[ -f "$f" ] || continue
			echo "# --- last lines of ${f#"$T"/}:" >&3
			tail -n 25 "$f" | sed 's/^/#   /' >&3
		done
	fi
	if [ -n "${T:-}" ] && [ -d "$T" ]; then
		if [ -n "${FS_KEEP:-}" ]; then echo "kept $T" >&3; else rm -rf "$T"; fi
	fi
}

# zkcli: a small kazoo front end for checks that must not go through a mount.
#   zkcli create PATH [DATA] [ephemeral]   zkcli get PATH   zkcli set PATH DATA
#   zkcli delete PATH   zkcli exists PATH   zkcli stat PATH FIELD   zkcli children PATH
#   zkcli mkmany PATH N   (N children PATH/c0..c<N-1>, fast, async)
# The one-shot commands go through the C client (build/zkfs-cli, a few ms)
# and fall back to kazoo (half a second to start) for the rest: mkmany,
# a create whose parents are missing (kazoo's makepath), a stat field the
# table below does not name.
zkcli() {
	local cli=$FS_BUILD/zkfs-cli
	if [ -x "$cli" ]; then
		local c=("$cli" -s "$ZK_HOSTS")
		case "$1:$#" in
		create:[234])
			[ "${3:-}" = - ] || {
				local e=()
				[ "${4:-}" = ephemeral ] && e=(-e)
				"${c[@]}" create "${e[@]}" "$2" "${3:-}" >/dev/null 2>&1 && return 0
				# missing parents: kazoo makes them; any other failure is the answer
				"${c[@]}" exists "$2" >/dev/null 2>&1 && { echo "zkcli: $2 exists" >&2; return 1; }
			} ;;
		get:2) timeout 60 "${c[@]}" get "$2"; return ;;
		set:3) [ "$3" = - ] || { timeout 60 "${c[@]}" set "$2" "$3"; return; } ;;
		delete:2) timeout 60 "${c[@]}" delete "$2"; return ;;
		delete:3) timeout 60 "${c[@]}" delete -r "$2"; return ;;
		exists:2) timeout 60 "${c[@]}" exists "$2" >/dev/null 2>&1; return ;;
		children:2)
			local out
			out=$(timeout 60 "${c[@]}" ls "$2") || return 1
			printf '%s\n' "$out"
			return ;;
		stat:3)
			local key
			case "$3" in
			czxid) key=cZxid ;; mzxid) key=mZxid ;; pzxid) key=pZxid ;;
			version) key=dataVersion ;; cversion) key=cversion ;; aversion) key=aclVersion ;;
			ephemeralOwner | dataLength | numChildren) key=$3 ;;
			esac
			if [ -n "${key:-}" ]; then
				local v
				v=$(timeout 60 "${c[@]}" stat "$2" | sed -n "s/^$key = //p") || return 1
				[ -n "$v" ] || return 1
				[[ "$v" == 0x* ]] && v=$((v)) # kazoo prints numbers in decimal
				echo "$v"
				return
			fi ;;
		esac
	fi
	timeout 120 "$PY" - "$ZK_HOSTS" "$@" <<'PYEOF'
import sys, logging
logging.basicConfig(level=logging.CRITICAL)
from kazoo.client import KazooClient
hosts, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
zk = KazooClient(hosts=hosts, timeout=10)
zk.start(timeout=15)
try:
    if cmd == "create":
        zk.create(args[0], (args[1] if len(args) > 1 else "").encode(), makepath=True,
                  ephemeral=len(args) > 2 and args[2] == "ephemeral")
    elif cmd == "get":
        sys.stdout.write(zk.get(args[0])[0].decode())
    elif cmd == "set":
        zk.set(args[0], args[1].encode())
    elif cmd == "delete":
        zk.delete(args[0], recursive=len(args) > 1)
    elif cmd == "exists":
        sys.exit(0 if zk.exists(args[0]) else 1)
    elif cmd == "stat":
        st = zk.exists(args[0])
        print(getattr(st, args[1]))
    elif cmd == "children":
        print("\n".join(sorted(zk.get_children(args[0]))))
    elif cmd == "mkmany":
        n = int(args[1])
        zk.ensure_path(args[0])
        pend = []
        for i in range(n):
            pend.append(zk.create_async("%s/c%d" % (args[0], i), b""))
            if len(pend) >= 2000:
                for p in pend: p.get()
                pend = []
        for p in pend: p.get()
finally:
    zk.stop()
PYEOF
}

# wait_for TIMEOUT CMD... — polls CMD every 0.1 s until it succeeds.
wait_for() {
	local t=$1; shift
	local end=$((SECONDS + t))
	while ! "$@" 2>/dev/null; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.1
	done
}
