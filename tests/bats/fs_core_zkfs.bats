#!/usr/bin/env bats
# tests/bats/fs_core_zkfs.bats — the core clauses of FS-SEMANTICS.md
# (fs_core_tests.bash) against zkfs-server.

load fs_lib
load fs_core_tests

setup_file() { fs_server_start zkfs; }
teardown_file() { fs_server_stop; }
setup() {
	fs_test_setup
	M=$T/m
	fs_mount "$M"
}
teardown() { fs_test_teardown; }

@test "mkdir rmdir (zkfs)" { t_mkdir_rmdir; }
@test "write read (zkfs)" { t_write_read; }
@test "type rules (zkfs)" { t_type_rules; }
@test "inode is czxid (zkfs)" { t_inode_is_czxid; }
@test "stat times (zkfs)" { t_stat_times; }
@test "xattrs (zkfs)" { t_xattrs; }
@test "acl mode (zkfs)" { t_acl_mode; }
@test "large data (zkfs)" { t_large_data; }
@test "append concurrent (zkfs)" { t_append_concurrent; }
@test "offset write truncate (zkfs)" { t_offset_write_truncate; }
@test "read cache (zkfs)" { t_read_cache; }
@test "listing attrs (zkfs)" { t_listing_attrs; }
@test "rename (zkfs)" { t_rename; }
@test "unsupported (zkfs)" { t_unsupported; }
@test "invalid name (zkfs)" { t_invalid_name; }
@test "touch existing (zkfs)" { t_touch_existing; }
@test "excl across mounts (zkfs)" { t_excl_across_mounts; }
@test "sequential (zkfs)" { t_sequential; }
@test "ephemeral session (zkfs)" { t_ephemeral_session; }
@test "ephemeral owner mount (zkfs)" { t_ephemeral_owner_mount; }
@test "ephemeral foreign (zkfs)" { t_ephemeral_foreign; }
@test "inotify remote (zkfs)" { t_inotify_remote; }
@test "inotify unseen file (zkfs)" { t_inotify_unseen_file; }
@test "lock waiter wakes (zkfs)" { t_lock_waiter_wakes; }
@test "mkdir lock contention (zkfs)" { t_mkdir_lock_contention; }
@test "membership (zkfs)" { t_membership; }
