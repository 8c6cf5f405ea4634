#!/usr/bin/env bats
# tests/bats/fs_flock_curator_apache.bats — a shell flock on the mount and Apache
# Curator's lock recipes (Debian's libcurator-recipes-java, a small Java
# program compiled here) exclude each other both ways, against Apache ZooKeeper 3.8.

load fs_lib
load fs_flock_tests

setup_file() {
	fs_server_start apache
	fs_have_fuse && lk_curator_build
}
teardown_file() { fs_server_stop; }
setup() { fs_test_setup; }
teardown() { fs_test_teardown; }

@test "Curator InterProcessMutex and flock exclude each other both ways (apache)" { t_curator_mutex_both_ways; }
@test "Curator InterProcessReadWriteLock and flock -s/-x with lock_names=curator-rw (apache)" { t_curator_rwlock; }
