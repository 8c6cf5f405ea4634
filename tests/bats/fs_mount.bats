#!/usr/bin/env bats
# tests/bats/fs_mount.bats — starting and stopping zkfs: --help, options,
# clear failures (bad SPEC, unreachable ensemble, missing chroot), the
# mount(8) helper, the chroot, ro, and the daemon being killed (ENOTCONN,
# then umount and a fresh mount recover).

load fs_lib

setup_file() { fs_server_start apache; }
teardown_file() { fs_server_stop; }
setup() { fs_test_setup; }
teardown() { fs_test_teardown; }

@test "zkfs --help lists the zkfs options" {
	run "$ZKFS" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"ephemeral=DIR"* ]]
	[[ "$output" == *"authfile=PATH"* ]]
	[[ "$output" == *"zdata=NAME"* ]]
	run "$ZKFS"
	[ "$status" -ne 0 ]
}

@test "unreachable ensemble: clear message, non-zero exit, nothing mounted" {
	local port
	port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkdir -p "$T/m"
	run timeout 60 "$ZKFS" "127.0.0.1:$port" "$T/m" -o connect_timeout=2
	[ "$status" -ne 0 ]
	[[ "$output" == *"cannot connect"* ]]
	! mountpoint -q "$T/m"
}

@test "bad SPEC and bad options fail clearly" {
	mkdir -p "$T/m"
	run timeout 30 "$ZKFS" "/nohost" "$T/m"
	[ "$status" -ne 0 ]
	[[ "$output" == *"bad SPEC"* ]]
	run timeout 30 "$ZKFS" "$SPEC" "$T/m" -o ephemeral_owner=nobody
	[ "$status" -ne 0 ]
	run timeout 30 "$ZKFS" "$SPEC" "$T/nonexistent"
	[ "$status" -ne 0 ]
	! mountpoint -q "$T/m"
}

@test "missing chroot fails with a message" {
	mkdir -p "$T/m"
	run timeout 30 "$ZKFS" "$ZK_HOSTS/no/such/chroot" "$T/m" -o connect_timeout=5
	[ "$status" -ne 0 ]
	[[ "$output" == *"not readable"* ]]
}

@test "mount(8) options are accepted silently; the mount is usable at once" {
	fs_mount "$T/m" "_netdev,auto,noauto,user,nofail,defaults"
	mountpoint -q "$T/m"
	echo x >"$T/m/f"
	[ "$(zkcli get "$NS/f")" = x ]
	grep -q " $T/m fuse.zkfs " /proc/mounts
}

@test "the mount root is the chroot" {
	zkcli create "$NS/inside" "1"
	fs_mount "$T/m"
	[ "$(cat "$T/m/inside")" = 1 ]
	[ ! -e "$T/m/zookeeper" ]
}

@test "mount.zkfs helper execs zkfs with the options" {
	mkdir -p "$T/m"
	ZKFS_BIN=$ZKFS run timeout 30 "$FS_ROOT/mount.zkfs" "$SPEC" "$T/m" -o "log=$T/log-m,_netdev,nofail"
	[ "$status" -eq 0 ]
	FS_MOUNTS+=("$T/m")
	mountpoint -q "$T/m"
	mkdir "$T/m/viahelper"
	zkcli exists "$NS/viahelper"
}

# mount(8) finds its helpers in /sbin: in a private mount namespace, an
# overlay adds this tree's mount.zkfs to /usr/sbin without installing
# anything on the machine.
@test "mount -t zkfs and umount work through mount(8)" {
	[ "$(id -u)" = 0 ] || skip "needs root (mount namespaces, overlay)"
	command -v unshare >/dev/null || skip "no unshare"
	mkdir -p "$T/sbin" "$T/m"
	cp "$FS_ROOT/mount.zkfs" "$T/sbin/mount.zkfs"
	run timeout 60 unshare -m --propagation private bash -ec "
		mount -t overlay overlay -o lowerdir=$T/sbin:/usr/sbin /usr/sbin
		export ZKFS_BIN='$ZKFS'
		mount -t zkfs '$SPEC' '$T/m' -o 'log=$T/log-m,_netdev'
		mountpoint -q '$T/m'
		grep ' $T/m ' /proc/self/mounts
		mkdir '$T/m/viamount'
		echo data >'$T/m/viamount/f'
		umount '$T/m'
		! mountpoint -q '$T/m'
		echo unmounted
	"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *unmounted* ]]
	[ "$(zkcli get "$NS/viamount/f")" = data ]
	wait_for 10 grep -q "unmounting $T/m" "$T/log-m"
}

@test "ro mounts refuse writes" {
	fs_mount "$T/m" ro
	run mkdir "$T/m/x"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Read-only"* ]]
}

@test "zdata= renames the hidden data entry" {
	zkcli create "$NS/d" "dirdata"
	zkcli create "$NS/d/kid" ""
	fs_mount "$T/m" "zdata=_data"
	[ "$(cat "$T/m/d/_data")" = dirdata ]
	[ ! -e "$T/m/d/.zdata" ]
}

@test "digest auth: nodes with a digest ACL readable with auth=, EACCES without" {
	zkcli create "$NS/sec" ""
	"$PY" - "$ZK_HOSTS" "$NS/sec/secret" <<'PYEOF'
import sys, logging
logging.basicConfig(level=logging.CRITICAL)
from kazoo.client import KazooClient
from kazoo.security import make_digest_acl
zk = KazooClient(hosts=sys.argv[1], auth_data=[("digest", "alice:pw")]); zk.start()
zk.create(sys.argv[2], b"s3cret", acl=[make_digest_acl("alice", "pw", all=True)])
zk.stop()
PYEOF
	fs_mount "$T/a" "auth=digest:alice:pw"
	[ "$(cat "$T/a/sec/secret")" = s3cret ]
	[ "$(stat -c %A "$T/a/sec/secret")" = "-rw-------" ]
	echo "digest:alice:pw" >"$T/cred"
	fs_mount "$T/b" "authfile=$T/cred"
	[ "$(cat "$T/b/sec/secret")" = s3cret ]
	fs_mount "$T/c"
	run cat "$T/c/sec/secret"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
}

@test "daemon killed: ENOTCONN until unmounted; a fresh mount recovers" {
	fs_mount "$T/m"
	echo keep >"$T/m/f"
	local pid
	pid=$(fs_daemon_pid "$T/m")
	[ -n "$pid" ]
	kill -9 "$pid"
	sleep 0.5
	run cat "$T/m/f"
	[ "$status" -ne 0 ]
	[[ "$output" == *"not connected"* ]]
	fusermount3 -u "$T/m" || fusermount3 -uz "$T/m"
	fs_mount "$T/m"
	[ "$(cat "$T/m/f")" = keep ]
}

# allow_other lets other users in, and brings default_permissions: the kernel
# checks the mode bits mapped from the ACL before zkfs acts with the mount's
# own ZooKeeper identity (which here could write what the bits refuse).
@test "allow_other: other users get in, and the kernel checks the ACL's mode bits first" {
	[ "$(id -u)" = 0 ] || skip "needs root (to act as another user)"
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	chmod 755 "$T"
	"$PY" - "$ZK_HOSTS" "$NS" <<'PYEOF'
import sys, logging
logging.basicConfig(level=logging.CRITICAL)
from kazoo.client import KazooClient
from kazoo.security import make_digest_acl, make_acl
zk = KazooClient(hosts=sys.argv[1], auth_data=[("digest", "alice:pw")]); zk.start()
zk.create(sys.argv[2] + "/mine", b"a",
          acl=[make_digest_acl("alice", "pw", all=True), make_acl("world", "anyone", read=True)])
zk.create(sys.argv[2] + "/open", b"o")
zk.stop()
PYEOF
	fs_mount "$T/m" "allow_other,auth=digest:alice:pw"
	grep " $T/m " /proc/self/mounts | grep -q default_permissions
	[ "$(stat -c %A "$T/m/mine")" = "-rw-r--r--" ]
	as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }
	[ "$(as_nobody cat "$T/m/mine")" = a ]
	run as_nobody sh -c "echo x >'$T/m/mine'"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	[ "$(zkcli get "$NS/mine")" = a ]
	as_nobody sh -c "echo y >'$T/m/open'"
	[ "$(zkcli get "$NS/open")" = y ]
	# without allow_other, other users cannot even look
	fs_mount "$T/p"
	run as_nobody ls "$T/p"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
}
