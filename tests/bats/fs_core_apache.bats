#!/usr/bin/env bats
# tests/bats/fs_core_apache.bats — the core clauses of FS-SEMANTICS.md
# (fs_core_tests.bash) against Apache ZooKeeper 3.8.

load fs_lib
load fs_core_tests

setup_file() { fs_server_start apache; }
teardown_file() { fs_server_stop; }
setup() {
	fs_test_setup
	M=$T/m
	fs_mount "$M"
}
teardown() { fs_test_teardown; }

@test "mkdir rmdir (apache)" { t_mkdir_rmdir; }
@test "write read (apache)" { t_write_read; }
@test "type rules (apache)" { t_type_rules; }
@test "inode is czxid (apache)" { t_inode_is_czxid; }
@test "stat times (apache)" { t_stat_times; }
@test "xattrs (apache)" { t_xattrs; }
@test "acl mode (apache)" { t_acl_mode; }
@test "large data (apache)" { t_large_data; }
@test "append concurrent (apache)" { t_append_concurrent; }
@test "offset write truncate (apache)" { t_offset_write_truncate; }
@test "read cache (apache)" { t_read_cache; }
@test "listing attrs (apache)" { t_listing_attrs; }
@test "rename (apache)" { t_rename; }
@test "unsupported (apache)" { t_unsupported; }
@test "invalid name (apache)" { t_invalid_name; }
@test "touch existing (apache)" { t_touch_existing; }
@test "excl across mounts (apache)" { t_excl_across_mounts; }
@test "sequential (apache)" { t_sequential; }
@test "ephemeral session (apache)" { t_ephemeral_session; }
@test "ephemeral owner mount (apache)" { t_ephemeral_owner_mount; }
@test "ephemeral foreign (apache)" { t_ephemeral_foreign; }
@test "inotify remote (apache)" { t_inotify_remote; }
@test "inotify unseen file (apache)" { t_inotify_unseen_file; }
@test "lock waiter wakes (apache)" { t_lock_waiter_wakes; }
@test "mkdir lock contention (apache)" { t_mkdir_lock_contention; }
@test "membership (apache)" { t_membership; }
