#!/usr/bin/env bats
# tests/bats/fs_flock_faults.bats — flock on the mount across trouble (a
# session expiry, a server restart), on a server without addWatch (the
# mount's one-shot mode), and kazoo's Lock with lock_names=kazoo.  One
# zkfs-server per test (some restart it).

load fs_lib
load fs_flock_tests

setup_file() { :; }
teardown_file() { fs_server_stop; }
start() {
	fs_have_fuse || skip "no /dev/fuse or fusermount3"
	export ZKFS_BUILD=$FS_BUILD ZK_OWNER_PID=$$
	zk_start zkfs "$@"
	echo "$ZK_HOSTS" >"$BATS_FILE_TMPDIR/hosts"
	fs_test_setup
}
teardown() {
	fs_test_teardown
	zk_stop_all
}

@test "session expiry: the lock is lost, another host takes it, the holder gets expire_signal" { start; t_flock_session_expiry; }
@test "a blocked waiter survives a server restart" { start; t_flock_waiter_survives_restart; }
@test "server without addWatch (one-shot mode): flock -n across hosts" { start zkfs.disableAddWatch=true; t_flock_nb_other_host; }
@test "server without addWatch (one-shot mode): 20 contenders keep a counter exact" { start zkfs.disableAddWatch=true; t_flock_counter; }
@test "lock_names=kazoo: kazoo's Lock and flock exclude each other both ways" { start; t_kazoo_lock; }
@test "default names: kazoo with extra_lock_patterns=[\"lock-\"] and flock exclude each other both ways" { start; t_kazoo_extra_patterns; }
