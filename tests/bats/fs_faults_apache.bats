#!/usr/bin/env bats
# tests/bats/fs_faults_apache.bats — the mount across server trouble: a server
# restart (reads of known data served while it is down, other operations
# fail in bounded time, everything works again after, changes made while
# disconnected arrive as inotify events).

load fs_lib
load fs_faults_tests

setup_file() { :; }
teardown_file() { fs_server_stop; }
setup() {
	fs_have_fuse || skip "no /dev/fuse or fusermount3"
	# one server per test: these tests stop and restart it
	export ZKFS_BUILD=$FS_BUILD ZK_OWNER_PID=$$
	zk_start apache
	echo "$ZK_HOSTS" >"$BATS_FILE_TMPDIR/hosts"
	fs_test_setup
}
teardown() {
	fs_test_teardown
	zk_stop_all
}

@test "server down: known data still readable, writes fail in bounded time, all well after restart (apache)" { t_server_down; }
@test "changes made while a mount was disconnected arrive as inotify events (apache)" { t_missed_events; }
@test "session expiry: a new session, logged; the mount goes on (apache)" { t_session_expiry; }
@test "expire_signal tells a Unix session that lost its ephemerals (apache)" { t_expire_signal; }
