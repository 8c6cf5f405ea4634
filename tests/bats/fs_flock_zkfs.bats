#!/usr/bin/env bats
# tests/bats/fs_flock_zkfs.bats — flock/fcntl locks on the mount as
# ZooKeeper locks (fs_flock_tests.bash), two mounts against zkfs-server.

load fs_lib
load fs_flock_tests

setup_file() { fs_server_start zkfs; }
teardown_file() { fs_server_stop; }
setup() { fs_test_setup; }
teardown() { fs_test_teardown; }

@test "flock -n fails at once while another host holds; EWOULDBLOCK (zkfs)" { t_flock_nb_other_host; }
@test "20 flock -x contenders on two hosts keep a counter exact (zkfs)" { t_flock_counter; }
@test "flock -s holders share; a writer waits for all of them (zkfs)" { t_flock_shared; }
@test "readers and writers on two hosts: a writer is alone, readers meet only readers (zkfs)" { t_flock_rw_mix; }
@test "kill -9 of a holder frees the lock on the other host (zkfs)" { t_flock_kill9; }
@test "an interrupted waiter leaves no contender node (zkfs)" { t_flock_interrupt; }
@test "a waiter leaving the middle of the queue: the one behind it waits on (zkfs)" { t_flock_waiter_leaves_queue; }
@test "a locked file stays a file on the other host (zkfs)" { t_flock_file_stays_file; }
@test "directory locks name contenders as Curator does (zkfs)" { t_flock_curator_names; }
@test "fcntl lockf and F_GETLK across hosts (zkfs)" { t_fcntl_lockf; }
@test "examples/flock-cron.sh runs a job on one host of many (zkfs)" { t_example_flock_cron; }
@test "an empty file (a directory on the other host) is one lock for both (zkfs)" { t_flock_empty_file_both_views; }
@test "OFD locks end with F_UNLCK and the last close; LOCK_UN releases (zkfs)" { t_ofd_and_unlock; }
