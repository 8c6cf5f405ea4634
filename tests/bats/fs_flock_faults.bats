#!/usr/bin/env bats
# tests/bats/fs_flock_faults.bats — flock on the mount across trouble (a
# session expiry, a stalled and restarted server), on a server without
# addWatch (the mount's one-shot mode), and kazoo's Lock with
# lock_names=kazoo.  One server per test (some restart it): zkfs-server,
# and Apache ZooKeeper 3.8 for the connection-loss tests.

load fs_lib
load fs_flock_tests

setup_file() { :; }
teardown_file() { fs_server_stop; }
# start KIND [key=value...] — this test's server, then fs_test_setup.
start() {
	fs_have_fuse || skip "no /dev/fuse or fusermount3"
	export ZKFS_BUILD=$FS_BUILD ZK_OWNER_PID=$$
	zk_start "$@"
	echo "$ZK_HOSTS" >"$BATS_FILE_TMPDIR/hosts"
	fs_test_setup
}
teardown() {
	fs_test_teardown
	zk_stop_all
}

@test "session expiry: the lock is lost, another host takes it, the holder gets expire_signal" { start zkfs; t_flock_session_expiry; }
@test "session expiry (apache): the lock is lost, another host takes it, the holder gets expire_signal" { start apache; t_flock_session_expiry; }
@test "a held lock stays held across a stall and a lost connection, then is released (zkfs)" { start zkfs; t_flock_held_across_connection_loss; }
@test "a held lock stays held across a stall and a lost connection, then is released (apache)" { start apache; t_flock_held_across_connection_loss; }
@test "a blocked waiter survives a server restart (zkfs)" { start zkfs; t_flock_waiter_survives_restart; }
@test "a blocked waiter survives a server restart (apache)" { start apache; t_flock_waiter_survives_restart; }
@test "server without addWatch (one-shot mode): flock -n across hosts" { start zkfs zkfs.disableAddWatch=true; t_flock_nb_other_host; }
@test "server without addWatch (one-shot mode): 20 contenders keep a counter exact" { start zkfs zkfs.disableAddWatch=true; t_flock_counter; }
@test "server without addWatch (one-shot mode): a held lock stays held across a lost connection" { start zkfs zkfs.disableAddWatch=true; t_flock_held_across_connection_loss; }
@test "server without addWatch (one-shot mode): a blocked waiter survives a server restart" { start zkfs zkfs.disableAddWatch=true; t_flock_waiter_survives_restart; }
@test "lock_names=kazoo: kazoo's Lock and flock exclude each other both ways" { start zkfs; t_kazoo_lock; }
@test "default names: kazoo with extra_lock_patterns=[\"lock-\"] and flock exclude each other both ways" { start zkfs; t_kazoo_extra_patterns; }
