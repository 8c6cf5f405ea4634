#!/usr/bin/env bats
# tests/bats/fs_examples.bats — every recipe in examples/ run for real on
# two mounts of one server (two "hosts").

load fs_lib

EX=$FS_ROOT/examples

setup_file() { fs_server_start apache; }
teardown_file() { fs_server_stop; }
setup() {
	fs_test_setup
	zkcli create "$NS/locks"
	zkcli create "$NS/election"
	zkcli create "$NS/members"
	zkcli create "$NS/barrier"
	fs_mount "$T/h1" "ephemeral=locks:election:members:barrier"
	fs_mount "$T/h2" "ephemeral=locks:election:members:barrier"
}
teardown() { fs_test_teardown; }

bg() { # bg CMD... — in its own Unix session; remembers the pid
	setsid "$@" </dev/null >>"$T/out" 2>&1 &
	fs_track "$!"
	LASTPID=$!
}

@test "mkdir-lock: one holder at a time across hosts; kill -9 frees it" {
	bg "$EX/mkdir-lock.sh" "$T/h1/locks/job" sleep 300
	local holder=$LASTPID
	wait_for 10 test -d "$T/h1/locks/job"
	bg "$EX/mkdir-lock.sh" "$T/h2/locks/job" bash -c "echo second >'$T/second'"
	sleep 1
	[ ! -e "$T/second" ]
	kill -9 "$holder"
	wait_for 15 test -e "$T/second"
	wait_for 10 eval "! zkcli exists $NS/locks/job"
}

@test "fair-lock: contenders run one after another in arrival order" {
	for i in 1 2 3 4; do
		h=h$(( (i % 2) + 1 ))
		bg "$EX/fair-lock.sh" "$T/$h/locks" bash -c "echo start $i >>'$T/order'; sleep 0.3; echo end $i >>'$T/order'"
		sleep 0.3
	done
	wait_for 30 eval "[ \$(grep -c end '$T/order' 2>/dev/null) = 4 ]"
	# never two inside at once: starts and ends alternate
	[ "$(awk '{print $1}' "$T/order" | tr '\n' ' ')" = "start end start end start end start end " ]
	[ "$(grep start "$T/order" | awk '{print $2}' | tr '\n' ' ')" = "1 2 3 4 " ]
}

@test "leader-election: the first candidate leads; the next takes over when it dies" {
	bg "$EX/leader-election.sh" "$T/h1/election" alpha bash -c "echo alpha >'$T/leader'; sleep 300"
	local a=$LASTPID
	wait_for 10 test -e "$T/leader"
	bg "$EX/leader-election.sh" "$T/h2/election" beta bash -c "echo beta >'$T/leader2'; sleep 300"
	sleep 1
	[ ! -e "$T/leader2" ]
	[ "$(cat "$(ls -d "$T/h2/election"/n-* | sort | head -1)")" = alpha ]
	kill -9 "$a"
	wait_for 15 test -e "$T/leader2"
}

@test "config publish + watcher reloads on every host" {
	echo v1 | "$EX/config-publish.sh" "$T/h1/app.conf"
	bg "$EX/config-watch.sh" "$T/h2/app.conf" bash -c "cat >>'$T/reloads'"
	wait_for 10 grep -q v1 "$T/reloads"
	sleep 0.5
	echo v2 | "$EX/config-publish.sh" "$T/h1/app.conf"
	wait_for 10 grep -q v2 "$T/reloads"
	echo v3 | "$EX/config-publish.sh" "$T/h2/app.conf"
	wait_for 10 grep -q v3 "$T/reloads"
	[ "$(zkcli get "$NS/app.conf")" = v3 ]
}

@test "membership: register, list from the other host, leave on death" {
	bg "$EX/membership.sh" register "$T/h1/members" web1 10.0.0.1 sleep 300
	local m1=$LASTPID
	bg "$EX/membership.sh" register "$T/h2/members" web2 10.0.0.2 sleep 300
	wait_for 10 eval "[ \"\$('$EX/membership.sh' list '$T/h1/members' | wc -l)\" = 2 ]"
	"$EX/membership.sh" list "$T/h2/members" | grep -q '^web1 10.0.0.1$'
	kill -9 "$m1"
	wait_for 10 eval "[ \"\$('$EX/membership.sh' list '$T/h2/members')\" = 'web2 10.0.0.2' ]"
}

@test "work-queue: FIFO order, each job taken exactly once by racing workers" {
	mkdir "$T/h1/queue" "$T/h1/claimed"
	for i in $(seq 20); do echo "job $i" | "$EX/work-queue.sh" put "$T/h1/queue" >/dev/null; done
	[ "$("$EX/work-queue.sh" take "$T/h2/queue" "$T/h2/claimed")" = "job 1" ]
	(while "$EX/work-queue.sh" take "$T/h1/queue" "$T/h1/claimed" >>"$T/w1"; do :; done) &
	(while "$EX/work-queue.sh" take "$T/h2/queue" "$T/h2/claimed" >>"$T/w2"; do :; done) &
	wait
	[ "$(cat "$T/w1" "$T/w2" | sort -u | wc -l)" = 19 ]
	[ "$(cat "$T/w1" "$T/w2" | wc -l)" = 19 ]
	[ -z "$(ls "$T/h1/queue")" ]
}

@test "barrier: nobody passes until all N arrived" {
	bg bash -c "'$EX/barrier.sh' '$T/h1/barrier' 3 a && echo a >>'$T/passed'; sleep 300"
	bg bash -c "'$EX/barrier.sh' '$T/h2/barrier' 3 b && echo b >>'$T/passed'; sleep 300"
	sleep 1.5
	[ ! -e "$T/passed" ]
	bg bash -c "'$EX/barrier.sh' '$T/h1/barrier' 3 c && echo c >>'$T/passed'; sleep 300"
	wait_for 15 eval "[ \$(wc -l <'$T/passed') = 3 ]"
}
