# tests/bats/fs_flock_tests.bash — flock(2) and fcntl(2) locks on the mount
# are ZooKeeper locks (docs/fs.md, "Locks"), checked with two mounts of one
# namespace as two hosts, A and B.  Loaded by fs_flock_zkfs.bats and
# fs_flock_apache.bats, which pick the server.

# lk_setup [A_OPTS [B_OPTS]] — two mounts of SPEC, $A and $B, with their
# own -o options if given.
lk_setup() {
	A=$T/a
	B=$T/b
	fs_mount "$A" "${1:-}" || return 1
	fs_mount "$B" "${2:-}" || return 1
}

# lk_file NAME [DATA] — a file NAME made on $A (holding DATA, default x)
# once $B shows it; lk_dir NAME — the same for a directory.
lk_file() {
	echo "${2:-x}" >"$A/$1"
	wait_for 10 test -s "$B/$1"
}
lk_dir() {
	mkdir "$A/$1"
	wait_for 10 test -d "$B/$1"
}

# lk_hold MOUNTPATH MODE FLAGFILE [SECS] — background holder (MODE -x or
# -s) that creates FLAGFILE once it holds, then sleeps; its pid is in
# $HOLDER.  One process: the lock is on its fd 9, so ending it ends the
# lock, and it keeps nothing of bats' fd 3 (a sleep left behind with it
# would hold the end of the whole file until it had slept out).
lk_hold() {
	local path=$1 mode=$2 flag=$3 secs=${4:-60}
	(exec 3>&- 9<"$path" && flock "$mode" 9 && touch "$flag" && exec sleep "$secs") &
	HOLDER=$!
	wait_for 20 test -e "$flag"
}

# Contender nodes in a znode's children or in its lock-root container.
lk_contenders() {
	zkcli children "$1" 2>/dev/null | grep -E '(lock-|__READ__|__WRIT__|__lock__|__rlock__)[0-9]{10}$' || true
}

# lk_count_is ZPATH N — ZPATH has N contender nodes now.
lk_count_is() { [ "$(lk_contenders "$1" | wc -l)" -eq "$2" ]; }

# lk_fdir PATH — where the contenders of the plain file PATH (relative to
# the mount root, the chroot $NS) live: the lock root's container.
lk_fdir() { local p=${1#/}; echo "$NS/.zkfs-locks/${p//\//%2F}"; }

# lk_nb_busy PATH — flock(LOCK_EX|LOCK_NB) of PATH fails with EWOULDBLOCK
# (status 0).  Any other error is status 1 (a mount still reconnecting
# answers EIO); getting the lock is status 2 and leaves $T/nbgot behind.
lk_nb_busy() {
	"$PY" -c '
import fcntl, errno, sys
f = open(sys.argv[1])
try:
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError as e:
    sys.exit(0 if e.errno == errno.EWOULDBLOCK else 1)
open(sys.argv[2], "w").close()
sys.exit(2)' "$1" "$T/nbgot"
}

# lk_py_holder PATH — background Python holder of flock(LOCK_EX) on PATH
# ($HOLDER): makes $T/held once it holds and adds a line to $T/sig each
# time it is sent SIGUSR1 (the mounts' expire_signal); lets go when
# $T/release appears, then makes $T/released and sleeps.
lk_py_holder() {
	"$PY" -c '
import fcntl, os, signal, sys, time
T = sys.argv[2]
signal.signal(signal.SIGUSR1, lambda s, f: open(T + "/sig", "a").write("USR1\n"))
f = open(sys.argv[1])
fcntl.flock(f, fcntl.LOCK_EX)
open(T + "/held", "w").close()
while not os.path.exists(T + "/release"):
    time.sleep(0.05)
fcntl.flock(f, fcntl.LOCK_UN)
open(T + "/released", "w").close()
time.sleep(60)' "$1" "$T" 3>&- &
	HOLDER=$!
	wait_for 20 test -e "$T/held"
}

ms_now() { date +%s%3N; }

# kz_try ZPATH [PATTERN...] — kazoo's Lock on ZPATH (told of contenders
# named PATTERN too, its extra_lock_patterns) tried without waiting:
# prints got or busy.
kz_try() {
	timeout 60 "$PY" -c '
import sys, logging
logging.basicConfig(level=logging.CRITICAL)
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1]); zk.start(timeout=15)
l = zk.Lock(sys.argv[2], extra_lock_patterns=sys.argv[3:])
print("got" if l.acquire(blocking=False) else "busy")
zk.stop()' "$ZK_HOSTS" "$@"
}

# kz_hold ZPATH FLAGFILE — background holder of kazoo's Lock on ZPATH
# ($KZ_HOLDER): makes FLAGFILE once it holds, lets go 3 s later.
kz_hold() {
	timeout 60 "$PY" -c '
import sys, time, logging
logging.basicConfig(level=logging.CRITICAL)
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1]); zk.start(timeout=15)
l = zk.Lock(sys.argv[2]); l.acquire()
open(sys.argv[3], "w").close(); time.sleep(3); l.release(); zk.stop()' "$ZK_HOSTS" "$1" "$2" &
	KZ_HOLDER=$!
	wait_for 30 test -e "$2"
}

# kz_both_ways ZPATH FILE [PATTERN...] — while the shell holds FILE's flock
# ($HOLDER, ended here), kazoo's Lock on ZPATH (kz_try) is busy; once kazoo
# holds it (kz_hold: $KZ_HOLDER, 3 s), flock -n of FILE fails.
kz_both_ways() {
	local zpath=$1 file=$2
	shift 2
	run kz_try "$zpath" "$@"
	[ "$output" = busy ]
	kill "$HOLDER"
	wait "$HOLDER" 2>/dev/null || true
	kz_hold "$zpath" "$T/kheld"
	run flock -n "$file" -c true
	[ "$status" -ne 0 ]
}

t_flock_nb_other_host() {
	lk_setup
	lk_file f data
	lk_hold "$A/f" -x "$T/held"
	local t0 t1
	t0=$(ms_now)
	run flock -n "$B/f" -c true
	t1=$(ms_now)
	[ "$status" -ne 0 ]
	[ $((t1 - t0)) -lt 2000 ]
	# the same host's other open file description is refused too
	run flock -n "$A/f" -c true
	[ "$status" -ne 0 ]
	# LOCK_NB gives EWOULDBLOCK
	lk_nb_busy "$B/f"
	kill "$HOLDER"
	wait "$HOLDER" 2>/dev/null || true
	wait_for 10 flock -n "$B/f" -c true
	# the file was never shown as a directory, and its data is intact
	[ "$(stat -c %F "$B/f")" = "regular file" ]
	[ "$(cat "$B/f")" = data ]
}

t_flock_counter() {
	lk_setup
	lk_dir lk
	echo 0 >"$T/counter"
	local pids=() i m
	for i in $(seq 20); do
		if [ $((i % 2)) -eq 0 ]; then m=$A; else m=$B; fi
		(
			for _ in 1 2 3; do
				flock -x "$m/lk/.zdata" -c "n=\$(cat '$T/counter'); sleep 0.01; echo \$((n + 1)) > '$T/counter'" || exit 1
			done
		) &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	[ "$(cat "$T/counter")" = 60 ]
	# nothing left behind
	wait_for 10 lk_count_is "$NS/lk" 0
}

# Readers and writers on two hosts: a writer is alone, readers only meet
# readers.  Each holder marks itself in local files while it holds and
# checks the others' marks (a hand-over that held too early shows here).
t_flock_rw_mix() {
	lk_setup
	lk_dir mix
	mkdir "$T/r"
	cat >"$T/writer" <<EOF
mkdir '$T/w' || touch '$T/bad'
[ -z "\$(ls '$T/r')" ] || touch '$T/bad'
sleep 0.02
rmdir '$T/w'
EOF
	cat >"$T/reader" <<EOF
[ ! -e '$T/w' ] || touch '$T/bad'
d=\$(mktemp -d '$T/r/XXXXXX')
sleep 0.02
[ ! -e '$T/w' ] || touch '$T/bad'
rmdir "\$d"
EOF
	local pids=() i m mode role
	for i in $(seq 12); do
		if [ $((i % 2)) -eq 0 ]; then m=$A; else m=$B; fi
		if [ $((i % 4)) -lt 2 ]; then mode=-x role=writer; else mode=-s role=reader; fi
		(
			for _ in 1 2; do
				flock "$mode" "$m/mix/.zdata" bash "$T/$role" || exit 1
			done
		) &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	[ ! -e "$T/bad" ]
	wait_for 10 lk_count_is "$NS/mix" 0
}

t_flock_shared() {
	lk_setup
	lk_dir rw
	lk_hold "$A/rw/.zdata" -s "$T/r1"
	local r1=$HOLDER
	lk_hold "$B/rw/.zdata" -s "$T/r2"
	local r2=$HOLDER
	# a writer waits for both readers
	flock -x "$B/rw/.zdata" -c "touch '$T/w'" &
	local w=$!
	sleep 1
	[ ! -e "$T/w" ]
	kill "$r1"
	sleep 1
	[ ! -e "$T/w" ]
	kill "$r2"
	wait_for 10 test -e "$T/w"
	wait "$w"
}

t_flock_kill9() {
	lk_setup
	lk_file job
	lk_hold "$A/job" -x "$T/held"
	run flock -n "$B/job" -c true
	[ "$status" -ne 0 ]
	local t0
	t0=$(ms_now)
	kill -9 "$HOLDER"
	pkill -9 -P "$HOLDER" 2>/dev/null || true
	wait_for 10 flock -n "$B/job" -c true
	echo "# freed on the other host after $(($(ms_now) - t0)) ms" >&3
}

t_flock_interrupt() {
	lk_setup
	lk_dir q
	lk_hold "$A/q/.zdata" -x "$T/held"
	# a background job ignores SIGINT; Ctrl-C at a terminal would not be
	env --default-signal=INT flock -x "$B/q/.zdata" -c "touch '$T/got'" &
	local w=$!
	wait_for 10 lk_count_is "$NS/q" 2
	kill -INT "$w"
	wait "$w" 2>/dev/null || true
	[ ! -e "$T/got" ]
	# the waiter's contender node is gone; only the holder's is left
	wait_for 10 lk_count_is "$NS/q" 1
	kill "$HOLDER"
	wait_for 10 lk_count_is "$NS/q" 0
}

# A waiter in the middle of the queue gives up (it is killed): the waiter
# behind it, which watched it, must look again and go on waiting for the
# holder, not take the lock.
t_flock_waiter_leaves_queue() {
	lk_setup
	lk_file q
	local fdir
	fdir=$(lk_fdir q)
	lk_hold "$A/q" -x "$T/held"
	flock -x "$B/q" -c "touch '$T/got1'" &
	local w1=$!
	wait_for 10 lk_count_is "$fdir" 2
	flock -x "$A/q" -c "touch '$T/got2'" &
	local w2=$!
	wait_for 10 lk_count_is "$fdir" 3
	kill -9 "$w1"
	wait "$w1" 2>/dev/null || true
	wait_for 10 lk_count_is "$fdir" 2 # the holder's and the second waiter's
	sleep 0.5
	[ ! -e "$T/got1" ]
	[ ! -e "$T/got2" ]
	kill "$HOLDER"
	wait_for 10 test -e "$T/got2"
	wait "$w2"
	[ ! -e "$T/got1" ]
}

t_flock_file_stays_file() {
	lk_setup
	lk_file cfg payload
	lk_hold "$A/cfg" -x "$T/held"
	# the lock's nodes are not the file's children
	[ "$(zkcli stat "$NS/cfg" numChildren)" = 0 ]
	[ "$(stat -c %F "$B/cfg")" = "regular file" ]
	ls -l "$B" | grep -q '^-.* cfg$'
	# the lock root is hidden from listings
	! ls -a "$B" | grep -q zkfs-locks
	# but it can be named, and what it shows follows the lock, though its
	# events are not replayed: the holder's contender, then a waiter's
	# too, then only the waiter's once the holder lets go
	[ "$(ls "$B/.zkfs-locks/cfg" | grep -c -- '-lock-')" = 1 ]
	flock -x "$B/cfg" -c "touch '$T/got'; sleep 1" &
	local w=$!
	wait_for 10 eval "[ \$(ls '$B/.zkfs-locks/cfg' | grep -c -- -lock-) = 2 ]"
	local first
	first=$(ls "$B/.zkfs-locks/cfg" | sort -t- -k7 | head -1)
	kill "$HOLDER"
	wait_for 10 test -e "$T/got"
	wait_for 10 eval "! ls '$B/.zkfs-locks/cfg' | grep -q -- '$first'"
	wait "$w"
}

t_flock_curator_names() {
	lk_setup
	mkdir "$A/cur"
	lk_hold "$A/cur/.zdata" -x "$T/held"
	lk_contenders "$NS/cur" | grep -Eq '^_c_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-lock-[0-9]{10}$'
	kill "$HOLDER"
	wait_for 10 lk_count_is "$NS/cur" 0
	lk_hold "$B/cur/.zdata" -s "$T/held2"
	lk_contenders "$NS/cur" | grep -Eq '^_c_.*-__READ__[0-9]{10}$'
	kill "$HOLDER"
}

t_fcntl_lockf() {
	lk_setup
	lk_file pf
	"$PY" -c '
import fcntl, os, sys, time
f = open(sys.argv[1], "r+")
fcntl.lockf(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(60)' "$A/pf" "$T/held" &
	HOLDER=$!
	wait_for 20 test -e "$T/held"
	run "$PY" -c '
import fcntl, errno, struct, sys, os
f = open(sys.argv[1], "r+")
try:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    sys.exit(1)
except OSError as e:
    if e.errno not in (errno.EAGAIN, errno.EACCES): sys.exit(2)
# F_GETLK: a write lock held elsewhere; another host has no local pid (0)
arg = struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0)
r = struct.unpack("hhqqi", fcntl.fcntl(f, fcntl.F_GETLK, arg))
print(r[0] == fcntl.F_WRLCK, r[4])' "$B/pf"
	[ "$status" -eq 0 ]
	[ "$output" = "True 0" ]
	# on the holder's own host F_GETLK names the holder's pid
	run "$PY" -c '
import fcntl, struct, sys
f = open(sys.argv[1], "r+")
arg = struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0)
r = struct.unpack("hhqqi", fcntl.fcntl(f, fcntl.F_GETLK, arg))
print(r[0] == fcntl.F_WRLCK, r[4])' "$A/pf"
	[ "$output" = "True $HOLDER" ]
	# a blocking lockf on B waits for the holder, and gets it when it dies
	"$PY" -c '
import fcntl, sys
f = open(sys.argv[1], "r+")
fcntl.lockf(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()' "$B/pf" "$T/got" &
	local w=$!
	sleep 1
	[ ! -e "$T/got" ]
	kill -9 "$HOLDER"
	wait_for 10 test -e "$T/got"
	wait "$w"
}

# ---- Apache Curator interop (fs_flock_curator_*.bats)

# lk_curator_build: compiles FlockCurator.java (setup_file) into the build
# directory, once per change of the source or of the class path: javac
# takes seconds, and both Curator files use the same classes.
lk_curator_build() {
	local jars=/usr/share/java out=$FS_BUILD/java/flockcurator src=$BATS_TEST_DIRNAME/FlockCurator.java tmp
	[ -f $jars/curator-recipes.jar ] && command -v javac >/dev/null || return 0
	LK_CP=$(ls $jars/{curator-recipes,curator-framework,curator-client,zookeeper,zookeeper-jute,guava,slf4j-api,slf4j-nop,netty-handler,netty-common,commons-lang3}.jar 2>/dev/null | tr '\n' ':')
	if ! [ "$out/FlockCurator.class" -nt "$src" ] || [ "$(cat "$out/cp" 2>/dev/null)" != "$LK_CP" ]; then
		mkdir -p "$FS_BUILD/java" || return 1
		tmp=$(mktemp -d "$FS_BUILD/java/.flockcurator-XXXXXX") || return 1
		timeout 120 javac -cp "$LK_CP" -d "$tmp" "$src" && echo "$LK_CP" >"$tmp/cp" || { rm -rf "$tmp"; return 1; }
		rm -rf "$out"
		mv "$tmp" "$out" || return 1
	fi
	echo "$LK_CP$out" >"$BATS_FILE_TMPDIR/cp"
}

# curator ARGS... — FlockCurator against the server (ZooKeeper path args).
curator() {
	timeout 60 java -cp "$(cat "$BATS_FILE_TMPDIR/cp")" FlockCurator "$ZK_HOSTS" "$@"
}

lk_curator_setup() {
	[ -f "$BATS_FILE_TMPDIR/cp" ] || skip "no javac or libcurator-recipes-java (make deps)"
	lk_setup
}

t_curator_mutex_both_ways() {
	lk_curator_setup
	lk_dir svc
	# Curator holds: flock -n on either host fails; a blocking flock waits for it
	curator "$NS/svc" hold mutex "$T/jheld" "$T/jrelease" &
	local j=$!
	wait_for 30 test -e "$T/jheld"
	run flock -n "$A/svc/.zdata" -c true
	[ "$status" -ne 0 ]
	run flock -n "$B/svc/.zdata" -c true
	[ "$status" -ne 0 ]
	flock -x "$B/svc/.zdata" -c "touch '$T/fgot'" &
	local f=$!
	wait_for 10 lk_count_is "$NS/svc" 2 # Curator's and the waiter's
	sleep 0.5
	[ ! -e "$T/fgot" ]
	touch "$T/jrelease"
	wait "$j"
	wait "$f"
	[ -e "$T/fgot" ]
	# a shell holds: Curator's InterProcessMutex cannot take it
	lk_hold "$A/svc/.zdata" -x "$T/held"
	run curator "$NS/svc" try mutex
	[ "$output" = busy ]
	kill "$HOLDER"
	wait "$HOLDER" 2>/dev/null || true
	run curator "$NS/svc" try mutex
	[ "$output" = got ]
}

t_curator_rwlock() {
	lk_curator_setup
	fs_umount "$A"
	fs_mount "$A" lock_names=curator-rw
	lk_dir rw
	# shell readers and a Curator reader share; Curator's writer cannot enter
	lk_hold "$A/rw/.zdata" -s "$T/r1"
	local r1=$HOLDER
	run curator "$NS/rw" try read
	[ "$output" = got ]
	run curator "$NS/rw" try write
	[ "$output" = busy ]
	kill "$r1"
	wait "$r1" 2>/dev/null || true
	# a shell writer (named __WRIT__ on this mount) excludes Curator's readers
	lk_hold "$A/rw/.zdata" -x "$T/w1"
	run curator "$NS/rw" try read
	[ "$output" = busy ]
	kill "$HOLDER"
	wait "$HOLDER" 2>/dev/null || true
	# Curator's writer holds: a shell reader on the other host waits for it
	curator "$NS/rw" hold write "$T/jw" "$T/jrelease" &
	local j=$!
	wait_for 30 test -e "$T/jw"
	run flock -n -s "$B/rw/.zdata" -c true
	[ "$status" -ne 0 ]
	flock -s "$B/rw/.zdata" -c "touch '$T/rgot'" &
	local f=$!
	wait_for 10 lk_count_is "$NS/rw" 2 # Curator's writer and the reader
	sleep 0.5
	[ ! -e "$T/rgot" ]
	touch "$T/jrelease"
	wait "$j"
	wait "$f"
	[ -e "$T/rgot" ]
}

t_example_flock_cron() {
	lk_setup
	local ex=$FS_ROOT/examples/flock-cron.sh
	lk_dir cron
	# the same job started on both hosts at once: one runs, one skips.  The
	# job runs until the other host has skipped (20 s at most), so the two
	# overlap whatever the start-up times.
	local job="echo \$H \$(date +%s.%N) >>'$T/ran'; for i in \$(seq 200); do grep -q 'held elsewhere' '$T/skip' && break; sleep 0.1; done; echo \$H end \$(date +%s.%N) >>'$T/ran'"
	H=A "$ex" "$A/cron/report" bash -c "$job" 2>>"$T/skip" &
	local a=$!
	H=B "$ex" "$B/cron/report" bash -c "$job" 2>>"$T/skip" &
	local b=$!
	wait "$a"
	wait "$b"
	grep -q "held elsewhere" "$T/skip" && [ "$(wc -l <"$T/ran")" = 2 ] || { cat "$T/skip" "$T/ran" >&3; false; }
	# -w: both run, one after the other
	rm -f "$T/ran"
	"$ex" -w "$A/cron/report" bash -c "echo start >>'$T/ran'; sleep 0.5; echo end >>'$T/ran'" &
	a=$!
	"$ex" -w "$B/cron/report" bash -c "echo start >>'$T/ran'; sleep 0.5; echo end >>'$T/ran'" &
	b=$!
	wait "$a"
	wait "$b"
	[ "$(tr '\n' ' ' <"$T/ran")" = "start end start end " ]
	# the lock file is a file on both hosts
	[ "$(stat -c %F "$B/cron/report")" = "regular file" ]
	[ "$(stat -c %F "$A/cron/report")" = "regular file" ]
}

# lk_target PATH — what to lock for PATH on this host: a directory is
# locked through its .zdata entry.
lk_target() { if [ -d "$1" ]; then echo "$1/.zdata"; else echo "$1"; fi; }
# lk_try PATH — flock -n of PATH's lock target, as seen now.
lk_try() { flock -n "$(lk_target "$1")" -c true; }

t_flock_empty_file_both_views() {
	lk_setup
	: >"$A/e" # empty: a file on A (its creator), a directory on B
	wait_for 10 test -d "$B/e"
	lk_hold "$A/e" -x "$T/held"
	run flock -n "$(lk_target "$B/e")" -c true
	[ "$status" -ne 0 ]
	kill "$HOLDER"
	wait "$HOLDER" 2>/dev/null || true
	wait_for 10 lk_try "$B/e"
	lk_hold "$(lk_target "$B/e")" -x "$T/held2"
	run flock -n "$(lk_target "$A/e")" -c true
	[ "$status" -ne 0 ]
	kill "$HOLDER"
	wait "$HOLDER" 2>/dev/null || true
	wait_for 10 lk_try "$A/e"
}

# ---- failures (fs_flock_faults.bats: one server per test)

# The mount's session expires while processes hold locks through it: the
# locks are lost (another host takes them), the holders get expire_signal
# (a program that took its lock itself; a script whose flock(1) took it on
# the script's fd and exited: its process group; the command `flock FILE
# cmd` runs, while flock(1) itself waits for it), and the mount's new
# session contends like any other.
t_flock_session_expiry() {
	lk_setup "timeout=4,expire_signal=USR1"
	lk_file f
	lk_file g y
	lk_file h z
	lk_py_holder "$A/f"
	lk_nb_busy "$B/f"
	setsid bash -c "trap 'echo USR1 >>\"$T/gsig\"' USR1; exec 9<'$A/g'; flock -x 9; touch '$T/gheld'; while :; do sleep 0.1; done" 3>&- &
	fs_track "$!"
	wait_for 20 test -e "$T/gheld"
	lk_nb_busy "$B/g"
	# the command run by flock(1) traps the signal and exits 7: flock(1)
	# passes that status on
	(
		rc=0
		flock -x "$A/h" bash -c "trap 'echo USR1 >>\"$T/hsig\"; exit 7' USR1; touch '$T/hheld'; for i in \$(seq 600); do sleep 0.1; done" || rc=$?
		echo "$rc" >"$T/hstatus"
	) 3>&- &
	fs_track "$!"
	wait_for 20 test -e "$T/hheld"
	lk_nb_busy "$B/h"
	local pid
	pid=$(fs_daemon_pid "$A")
	kill -STOP "$pid"
	# the server expires the frozen mount's session: its lock node goes
	wait_for 20 flock -n "$B/f" -c true
	kill -CONT "$pid"
	wait_for 20 test -e "$T/sig"
	wait_for 20 test -e "$T/gsig"
	wait_for 20 test -e "$T/hstatus"
	grep -q "lost" "$T/log-a"
	grep -q "the command flock(1) pid" "$T/log-a"
	flock -n "$B/g" -c true
	flock -n "$B/h" -c true
	sleep 0.5
	[ "$(cat "$T/sig")" = USR1 ] # told once
	[ "$(cat "$T/gsig")" = USR1 ]
	[ "$(cat "$T/hsig")" = USR1 ]
	[ "$(cat "$T/hstatus")" = 7 ]
	# the other host holds now: the thawed mount is refused, then served
	lk_hold "$B/f" -x "$T/bheld"
	wait_for 20 lk_nb_busy "$A/f"
	[ ! -e "$T/nbgot" ]
	kill "$HOLDER"
	wait_for 10 flock -n "$A/f" -c true
}

# A waiter blocked across a server restart (within the session timeout)
# is still queued after the reconnection, and gets the lock when the
# holder lets go.
t_flock_waiter_survives_restart() {
	lk_setup "timeout=30" "timeout=30"
	lk_file f
	lk_hold "$A/f" -x "$T/held"
	flock -x "$B/f" -c "touch '$T/got'" &
	local w=$! fdir
	fdir=$(lk_fdir f)
	wait_for 10 lk_count_is "$fdir" 2 # holder and waiter
	zk_restart
	# both mounts are back (B answers EWOULDBLOCK, not EIO); the waiter waits
	wait_for 60 lk_nb_busy "$B/f"
	[ ! -e "$T/nbgot" ]
	[ ! -e "$T/got" ]
	lk_count_is "$fdir" 2
	local t0
	t0=$(ms_now)
	kill "$HOLDER"
	wait_for 30 test -e "$T/got"
	echo "# the waiter held $(($(ms_now) - t0)) ms after the release" >&3
	wait "$w"
	wait_for 10 lk_count_is "$fdir" 0
}

# A holder's mount loses its connection (the server stalls, then restarts)
# within the session timeout: the lock stays held all along (the other
# host is refused with EWOULDBLOCK once it is back, the holder is told
# nothing), and it is released normally afterwards.
t_flock_held_across_connection_loss() {
	lk_setup "timeout=30,expire_signal=USR1" "timeout=30"
	lk_file f
	lk_py_holder "$A/f"
	lk_nb_busy "$B/f"
	local fdir spid
	fdir=$(lk_fdir f)
	lk_count_is "$fdir" 1
	spid=$(cat "$ZK_DIR/pid")
	kill -STOP "$spid" # a stall: requests go unanswered for 2 s
	sleep 2
	kill -CONT "$spid"
	zk_restart # a lost connection: every client reconnects
	wait_for 60 lk_nb_busy "$B/f"
	[ ! -e "$T/nbgot" ]
	# the same host's other open file is refused too
	lk_nb_busy "$A/f"
	lk_count_is "$fdir" 1
	[ ! -e "$T/sig" ]
	! grep -q "lost" "$T/log-a"
	[ "$(grep -c 'session 0x[0-9a-f]*: connected' "$T/log-a")" -ge 2 ] # it did reconnect
	touch "$T/release"
	wait_for 10 test -e "$T/released"
	wait_for 10 flock -n "$B/f" -c true
	wait_for 10 lk_count_is "$fdir" 0
	[ ! -e "$T/sig" ]
}

# lock_names=kazoo: kazoo's Lock and a shell flock exclude each other.
t_kazoo_lock() {
	A=$T/a
	fs_mount "$A" lock_names=kazoo
	mkdir "$A/kz"
	lk_hold "$A/kz/.zdata" -x "$T/held"
	lk_contenders "$NS/kz" | grep -Eq '^[0-9a-f]{32}__lock__[0-9]{10}$'
	kz_both_ways "$NS/kz" "$A/kz/.zdata"
	# kazoo holds: a blocking flock waits for it
	flock -x "$A/kz/.zdata" -c "touch '$T/fgot'"
	[ -e "$T/fgot" ]
	wait "$KZ_HOLDER"
}

# OFD locks (F_OFD_SETLK) belong to the open file: held across a fork and
# another fd's close, released by F_UNLCK and by the last close; flock's
# explicit LOCK_UN releases too.  The holder goes step by step: it makes
# step.N once in state N and waits for go.N, made once the other host has
# looked.
t_ofd_and_unlock() {
	lk_setup
	lk_file o
	"$PY" -c '
import fcntl, os, struct, sys, time
wr = struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0)
un = struct.pack("hhqqi", fcntl.F_UNLCK, 0, 0, 0, 0)
def step(n):
    open("%s.%d" % (sys.argv[2], n), "w").close()
    for _ in range(300):
        if os.path.exists("%s/go.%d" % (sys.argv[3], n)): return
        time.sleep(0.05)
    sys.exit(3)
f = open(sys.argv[1], "r+")
fcntl.fcntl(f, fcntl.F_OFD_SETLKW, wr)
os.close(os.open(sys.argv[1], os.O_RDONLY))      # another fd closed: still held
step(1)
fcntl.fcntl(f, fcntl.F_OFD_SETLK, un)            # released by F_UNLCK
step(2)
fcntl.fcntl(f, fcntl.F_OFD_SETLKW, wr)
step(3)
f.close()                                        # released by the last close
step(4)
g = open(sys.argv[1])
fcntl.flock(g, fcntl.LOCK_EX)
step(5)
fcntl.flock(g, fcntl.LOCK_UN)                    # released by LOCK_UN, fd still open
step(6)' "$A/o" "$T/step" "$T" &
	local p=$! n
	for n in 1 2 3 4 5 6; do
		wait_for 20 test -e "$T/step.$n"
		# odd steps hold the lock, even ones have just let go
		if [ $((n % 2)) -eq 1 ]; then
			run flock -n "$B/o" -c true
			[ "$status" -ne 0 ]
		else
			flock -n "$B/o" -c true
		fi
		touch "$T/go.$n"
	done
	wait "$p"
}

# Default names: kazoo told of Curator's ("lock-") and a shell flock exclude
# each other.
t_kazoo_extra_patterns() {
	A=$T/a
	fs_mount "$A"
	mkdir "$A/kz"
	lk_hold "$A/kz/.zdata" -x "$T/held"
	kz_both_ways "$NS/kz" "$A/kz/.zdata" lock-
	wait "$KZ_HOLDER"
}
