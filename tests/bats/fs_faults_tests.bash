# tests/bats/fs_faults_tests.bash — the mount across server trouble, as functions run
# against both servers by fs_faults_apache.bats and fs_faults_zkfs.bats.

# server down: known data still readable, writes fail in bounded time, all well after restart
t_server_down() {
	fs_mount "$T/m" "timeout=30,op_timeout=3"
	echo cached >"$T/m/f"
	[ "$(cat "$T/m/f")" = cached ]
	zk_stop
	[ "$(timeout 10 cat "$T/m/f")" = cached ]
	local t0=$SECONDS
	run timeout 20 mkdir "$T/m/newdir"
	[ "$status" -ne 0 ]
	[ $((SECONDS - t0)) -lt 15 ]
	zk_restart
	wait_for 30 mkdir "$T/m/afterwards"
	[ "$(zkcli get "$NS/f")" = cached ]
	echo again >"$T/m/f"
	[ "$(zkcli get "$NS/f")" = again ]
}

# changes made while a mount was disconnected arrive as inotify events
t_missed_events() {
	fs_mount "$T/m" "timeout=30"
	fs_mount "$T/m2" "timeout=30"
	mkdir "$T/m/w"
	echo old >"$T/m/w/f"
	ls "$T/m2/w" >/dev/null
	cat "$T/m2/w/f" >/dev/null
	timeout 60 inotifywait -m -e create,delete,close_write --format '%e %f' "$T/m2/w" >"$T/ev" 2>"$T/ev.err" &
	wait_for 5 grep -q 'Watches established' "$T/ev.err"
	# cut m2's daemon off by restarting the server; change things via kazoo
	zk_stop
	sleep 1
	zk_restart
	zkcli create "$NS/w/new" "n"
	zkcli delete "$NS/w/f"
	wait_for 30 grep -q '^CREATE new$' "$T/ev"
	wait_for 30 grep -q '^DELETE f$' "$T/ev"
}

# session expiry: a new session, logged; the mount goes on, watches included
t_session_expiry() {
	fs_mount "$T/m" "timeout=4"
	fs_mount "$T/m2"
	echo a >"$T/m/f"
	mkdir "$T/m/w"
	ls "$T/m/w" >/dev/null
	local pid
	pid=$(fs_daemon_pid "$T/m")
	kill -STOP "$pid"
	sleep 10        # the server expires the frozen daemon's session
	kill -CONT "$pid"
	wait_for 20 grep -q 'session expired; new session' "$T/log-m"
	[ "$(cat "$T/m/f")" = a ]
	echo b >"$T/m/g"
	[ "$(zkcli get "$NS/g")" = b ]
	# the new session watches too: a remote create shows up as an event
	timeout 30 inotifywait -m -e create --format '%e %f' "$T/m/w" >"$T/ev" 2>"$T/ev.err" &
	wait_for 5 grep -q 'Watches established' "$T/ev.err"
	mkdir "$T/m2/w/fromother"
	wait_for 10 grep -q 'CREATE,ISDIR fromother' "$T/ev"
}

# expire_signal=SIG: a Unix session whose holder session expired (while the
# daemon was cut off longer than the session timeout) is told with SIG;
# its ephemeral is gone, and its next ephemeral gets a fresh session.
t_expire_signal() {
	fs_mount "$T/m" "timeout=4,ephemeral=/locks,expire_signal=USR1"
	mkdir "$T/m/locks"
	setsid bash -c "trap 'echo got >\"$T/sig\"; mkdir \"$T/m/locks/again\" 2>\"$T/again.err\"' USR1
		mkdir '$T/m/locks/l' && echo held >'$T/held'
		while :; do sleep 0.1; done" </dev/null >/dev/null 2>&1 &
	local hpid=$! pid
	fs_track "$hpid"
	wait_for 10 [ -f "$T/held" ]
	zkcli exists "$NS/locks/l"
	pid=$(fs_daemon_pid "$T/m")
	kill -STOP "$pid"
	sleep 10 # the server expires the frozen daemon's sessions
	kill -CONT "$pid"
	wait_for 20 [ -f "$T/sig" ]
	grep -q 'holder session .* of Unix session [0-9]* expired: its ephemerals are gone' "$T/log-m"
	grep -q 'sent SIGUSR1 to the [1-9][0-9]* process(es) of Unix session' "$T/log-m"
	! zkcli exists "$NS/locks/l"
	# the handler's new lock lives in a new holder session, held while
	# the Unix session lives
	wait_for 10 zkcli exists "$NS/locks/again"
	[ "$(zkcli stat "$NS/locks/again" ephemeralOwner)" != 0 ]
	kill -9 -- "-$hpid"
	wait_for 10 eval "! zkcli exists '$NS/locks/again'"
}
