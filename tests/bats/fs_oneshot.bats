#!/usr/bin/env bats
# tests/bats/fs_oneshot.bats — the mount on a server without addWatch
# (zkfs-server with zkfs.disableAddWatch=true answers it Unimplemented, as
# ZooKeeper 3.5 does): the daemon falls back to one-shot watches, and remote
# changes still arrive as inotify events, again and again (every watch is
# re-armed), across a server restart and a session expiry.  Two mounts of
# one server (A makes changes, B watches) and kazoo.

load fs_lib

setup_file() { :; }
teardown_file() { fs_server_stop; }
setup() {
	fs_have_fuse || skip "no /dev/fuse or fusermount3"
	# one server per test: some stop and restart it
	export ZKFS_BUILD=$FS_BUILD ZK_OWNER_PID=$$
	zk_start zkfs zkfs.disableAddWatch=true
	echo "$ZK_HOSTS" >"$BATS_FILE_TMPDIR/hosts"
	fs_test_setup
	A=$T/a B=$T/b
}
teardown() {
	fs_test_teardown
	zk_stop_all
}

# count PATTERN — lines of the event log matching PATTERN exactly
count() { grep -c "^$1\$" "$T/ev" || true; }
# wait_count N PATTERN — until the event log has N such lines
wait_count() { wait_for 10 eval "[ \"\$(count '$2')\" -ge $1 ]"; }

# watch DIR — inotifywait -m on DIR into $T/ev, once it is established
watch() {
	timeout 120 inotifywait -m -e create,delete,modify,close_write --format '%e %f' "$1" \
		>"$T/ev" 2>"$T/ev.err" &
	wait_for 5 grep -q 'Watches established' "$T/ev.err"
}

@test "the daemon says it falls back to one-shot watches; the mount works" {
	fs_mount "$A"
	grep -q 'lacks addWatch: falling back to one-shot watches (one-shot mode)' "$T/log-a"
	grep -q 'addWatch disabled' "$ZK_DIR/server.log"
	mkdir "$A/d"
	echo hello >"$A/d/f"
	[ "$(cat "$A/d/f")" = hello ]
	[ "$(zkcli get "$NS/d/f")" = hello ]
	rm "$A/d/f"
	rmdir "$A/d"
	! zkcli exists "$NS/d"
}

@test "one-shot: creates, deletes and data changes through A and kazoo reach B's inotify, repeatedly" {
	fs_mount "$A"
	fs_mount "$B"
	mkdir "$A/w"
	ls "$B/w" >/dev/null
	watch "$B/w"
	local i
	for i in 1 2 3; do
		echo "a$i" >"$A/w/f$i"
		wait_count 1 "CREATE f$i"
		wait_count 1 "CLOSE_WRITE,CLOSE f$i"
		mkdir "$A/w/d$i"
		wait_count 1 "CREATE,ISDIR d$i"
		zkcli create "$NS/w/k$i" "k$i"
		wait_count 1 "CREATE k$i"
		zkcli create "$NS/w/kd$i"
		wait_count 1 "CREATE,ISDIR kd$i"
	done
	# data changes of one file, alternately through A and kazoo: each one
	# an event (the data watch is re-armed every time), cat sees it at once
	echo a0 >"$A/w/cfg"
	wait_count 1 "CLOSE_WRITE,CLOSE cfg"
	[ "$(cat "$B/w/cfg")" = a0 ]
	local n=1
	for i in 1 2 3; do
		echo "viaA$i" >"$A/w/cfg"
		n=$((n + 1))
		wait_count $n "CLOSE_WRITE,CLOSE cfg"
		[ "$(cat "$B/w/cfg")" = "viaA$i" ]
		zkcli set "$NS/w/cfg" "viaK$i"
		n=$((n + 1))
		wait_count $n "CLOSE_WRITE,CLOSE cfg"
		wait_count $((n - 1)) "MODIFY cfg"
		[ "$(cat "$B/w/cfg")" = "viaK$i" ]
	done
	# the atomic publish of the recipes: write a temporary file, rename it
	echo published >"$A/w/cfg.tmp"
	mv "$A/w/cfg.tmp" "$A/w/cfg"
	wait_count 8 "CLOSE_WRITE,CLOSE cfg"
	[ "$(cat "$B/w/cfg")" = published ]
	for i in 1 2 3; do
		rm "$A/w/f$i"
		wait_count 1 "DELETE f$i"
		rmdir "$A/w/d$i"
		wait_count 1 "DELETE,ISDIR d$i"
		zkcli delete "$NS/w/k$i"
		wait_count 1 "DELETE k$i"
		zkcli delete "$NS/w/kd$i"
		wait_count 1 "DELETE,ISDIR kd$i"
	done
	# the last event has arrived: nothing was reported twice
	zkcli create "$NS/w/end"
	wait_count 1 "CREATE,ISDIR end"
	cat "$T/ev"
	for i in 1 2 3; do
		[ "$(count "CREATE f$i")" = 1 ]
		[ "$(count "DELETE f$i")" = 1 ]
		[ "$(count "CREATE,ISDIR d$i")" = 1 ]
		[ "$(count "DELETE,ISDIR d$i")" = 1 ]
		[ "$(count "CREATE k$i")" = 1 ]
		[ "$(count "DELETE k$i")" = 1 ]
	done
	[ "$(count "CLOSE_WRITE,CLOSE cfg")" = 8 ]
	# A's own changes were not replayed to A's watchers: listed the same
	[ "$(ls "$A/w")" = "$(ls "$B/w")" ]
	grep -q 'one-shot mode' "$T/log-b"
}

@test "one-shot: a data change of a file B never looked up reaches a watcher of its directory" {
	zkcli create "$NS/cfg/conf" v1
	fs_mount "$B"
	ls "$B/cfg" >/dev/null
	watch "$B/cfg"
	zkcli set "$NS/cfg/conf" v2
	wait_count 1 "CLOSE_WRITE,CLOSE conf"
	[ "$(cat "$B/cfg/conf")" = v2 ]
	zkcli set "$NS/cfg/conf" v3
	wait_count 2 "CLOSE_WRITE,CLOSE conf"
	[ "$(cat "$B/cfg/conf")" = v3 ]
}

@test "one-shot: a waiter on a mkdir lock wakes when the lock is removed elsewhere" {
	fs_mount "$A"
	fs_mount "$B"
	mkdir "$A/locks"
	ls "$B/locks" >/dev/null
	local round
	for round in 1 2 3; do
		mkdir "$A/locks/L"
		rm -f "$T/got"
		# the waiter: try, else sleep on inotify until a delete, then retry
		(
			until mkdir "$B/locks/L" 2>/dev/null; do
				timeout 20 inotifywait -qq -e delete "$B/locks"
			done
			date +%s.%N >"$T/got"
		) &
		local w=$!
		sleep 0.5
		[ ! -e "$T/got" ]
		if [ "$round" = 2 ]; then zkcli delete "$NS/locks/L"; else rmdir "$A/locks/L"; fi
		wait_for 10 test -e "$T/got"
		wait "$w"
		rmdir "$B/locks/L"
		wait_for 10 eval "! zkcli exists '$NS/locks/L'"
	done
}

@test "one-shot: after a server restart changes still produce events" {
	fs_mount "$A" "timeout=30"
	fs_mount "$B" "timeout=30"
	mkdir "$A/w"
	echo old >"$A/w/f"
	ls "$B/w" >/dev/null
	[ "$(cat "$B/w/f")" = old ]
	watch "$B/w"
	zk_stop
	sleep 1
	zk_restart
	# changes right after the restart: reported when B has reconnected
	zkcli create "$NS/w/new" n
	zkcli set "$NS/w/f" changed
	wait_count 1 "CREATE new"
	wait_count 1 "CLOSE_WRITE,CLOSE f"
	[ "$(cat "$B/w/f")" = changed ]
	# and the watches are still armed afterwards, through A and kazoo
	wait_for 30 mkdir "$A/w/fromA"
	wait_count 1 "CREATE,ISDIR fromA"
	local i
	for i in 1 2 3; do
		echo "x$i" >"$A/w/f"
		wait_count $((i + 1)) "CLOSE_WRITE,CLOSE f"
		[ "$(cat "$B/w/f")" = "x$i" ]
		zkcli create "$NS/w/k$i"
		wait_count 1 "CREATE,ISDIR k$i"
	done
	zkcli delete "$NS/w/new"
	wait_count 1 "DELETE new"
}

@test "one-shot: after a session expiry the new session watches what the old one did" {
	fs_mount "$A"
	fs_mount "$B" "timeout=4"
	mkdir "$A/w"
	echo a >"$A/w/f"
	ls "$B/w" >/dev/null
	[ "$(cat "$B/w/f")" = a ]
	local pid
	pid=$(fs_daemon_pid "$B")
	kill -STOP "$pid"
	sleep 10 # the server expires the frozen daemon's session
	kill -CONT "$pid"
	wait_for 20 grep -q 'session expired; new session' "$T/log-b"
	watch "$B/w"
	# re-armed from the table: B's watchers see remote changes again
	mkdir "$A/w/fromA"
	wait_count 1 "CREATE,ISDIR fromA"
	zkcli set "$NS/w/f" b
	wait_count 1 "CLOSE_WRITE,CLOSE f"
	[ "$(cat "$B/w/f")" = b ]
	zkcli set "$NS/w/f" c
	wait_count 2 "CLOSE_WRITE,CLOSE f"
	[ "$(cat "$B/w/f")" = c ]
}
