#!/usr/bin/env bats
# tests/bats/fs_flock_curator_zkfs.bats — a shell flock on the mount and Apache
# Curator's lock recipes (Debian's libcurator-recipes-java, a small Java
# program compiled here) exclude each other both ways, against zkfs-server.

load fs_lib
load fs_flock_tests

setup_file() {
	fs_server_start zkfs
	fs_have_fuse && lk_curator_build
}
teardown_file() { fs_server_stop; }
setup() { fs_test_setup; }
teardown() { fs_test_teardown; }

@test "Curator InterProcessMutex and flock exclude each other both ways (zkfs)" { t_curator_mutex_both_ways; }
@test "Curator InterProcessReadWriteLock and flock -s/-x with lock_names=curator-rw (zkfs)" { t_curator_rwlock; }
