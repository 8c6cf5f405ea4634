# tests/bats/fs_core_tests.bash — the core clauses of FS-SEMANTICS.md as
# functions, run against both servers by fs_core_apache.bats and
# fs_core_zkfs.bats.  Each runs in the per-test namespace set up by
# fs_test_setup (T, NS, SPEC); M=$T/m is mounted by the caller's setup.

# --- Names and types ---------------------------------------------------

t_mkdir_rmdir() {
	mkdir "$M/d"
	[ -d "$M/d" ]
	zkcli exists "$NS/d"
	[ "$(zkcli stat "$NS/d" dataLength)" = 0 ]
	mkdir "$M/d/e"
	run rmdir "$M/d"
	[ "$status" -ne 0 ]
	[[ "$output" == *"not empty"* ]]
	rmdir "$M/d/e" "$M/d"
	! zkcli exists "$NS/d"
}

t_write_read() {
	echo hello >"$M/f"
	[ "$(cat "$M/f")" = hello ]
	[ "$(zkcli get "$NS/f")" = "hello" ]
	[ "$(stat -c %s "$M/f")" = 6 ]
	[ -f "$M/f" ]
	echo world >"$M/f"
	[ "$(cat "$M/f")" = world ]
	# one setData per close: create (v0) + 2 writes
	[ "$(zkcli stat "$NS/f" version)" = 2 ]
	rm "$M/f"
	! zkcli exists "$NS/f"
}

t_type_rules() {
	# an empty file made here stays a file here
	touch "$M/empty"
	[ -f "$M/empty" ]
	# a persistent node without data made elsewhere is a directory
	zkcli create "$NS/plain"
	[ -d "$M/plain" ]
	# a node with data is a file; with data and children a dir with .zdata
	zkcli create "$NS/withdata" "abc"
	[ -f "$M/withdata" ]
	zkcli create "$NS/both" "xyz"
	zkcli create "$NS/both/kid" "1"
	# another client's change shows once the watch event is in: the
	# create of both may have been replayed as a file (inotify) before
	# the kid's event turns it into a directory
	wait_for 5 test -d "$M/both"
	[ "$(cat "$M/both/.zdata")" = xyz ]
	[ "$(ls -A "$M/both")" = kid ]
	echo -n new >"$M/both/.zdata"
	[ "$(zkcli get "$NS/both")" = new ]
	[ "$(getfattr --only-values -n user.zk.data "$M/both")" = new ]
	# an ephemeral made by another client is a file with the sticky bit
	# (checked in t_ephemeral_foreign)
}

t_inode_is_czxid() {
	echo x >"$M/f"
	local cz ino
	cz=$(getfattr --only-values -n user.zk.czxid "$M/f")
	ino=$(stat -c %i "$M/f")
	[ "$((cz))" = "$ino" ]
	rm "$M/f"
	echo y >"$M/f"
	[ "$(stat -c %i "$M/f")" != "$ino" ]
}

t_stat_times() {
	echo x >"$M/f"
	local mt now
	mt=$(stat -c %Y "$M/f")
	now=$(date +%s)
	[ $((now - mt)) -lt 30 ]
	[ $((mt - now)) -lt 30 ]
}

t_xattrs() {
	echo data >"$M/f"
	run getfattr -d -m - "$M/f"
	[ "$status" -eq 0 ]
	for a in name path version cversion aversion czxid mzxid pzxid ephemeralOwner acl data; do
		[[ "$output" == *"user.zk.$a="* ]]
	done
	[ "$(getfattr --only-values -n user.zk.name "$M/f")" = f ]
	[ "$(getfattr --only-values -n user.zk.path "$M/f")" = /f ]
	[ "$(getfattr --only-values -n user.zk.ephemeralOwner "$M/f")" = 0 ]
	[ "$(getfattr --only-values -n user.zk.acl "$M/f")" = "world:anyone:cdrwa" ]
	setfattr -n user.zk.data -v other "$M/f"
	[ "$(zkcli get "$NS/f")" = other ]
	setfattr -n user.zk.acl -v "world:anyone:r" "$M/f"
	[ "$(getfattr --only-values -n user.zk.acl "$M/f")" = "world:anyone:r" ]
	run setfattr -n user.zk.version -v 7 "$M/f"
	[ "$status" -ne 0 ]
}

t_acl_mode() {
	echo x >"$M/f"
	setfattr -n user.zk.acl -v "world:anyone:r" "$M/f"
	# attributes are cached; ask through a fresh mount
	fs_mount "$T/m2"
	[ "$(stat -c %A "$T/m2/f")" = "-r--r--r--" ]
	mkdir "$M/d"
	[ "$(stat -c %A "$T/m2/d")" = "drwxrwxrwx" ]
}

t_large_data() {
	head -c 1000000 /dev/urandom >"$T/big"
	cp "$T/big" "$M/big"
	cmp "$T/big" "$M/big"
	[ "$(stat -c %s "$M/big")" = 1000000 ]
	head -c 1100000 /dev/zero >"$T/huge"
	run cp "$T/huge" "$M/huge"
	[ "$status" -ne 0 ]
	[[ "$output" == *"too large"* ]]
	run dd if=/dev/zero of="$M/huge2" bs=64k count=20 status=none
	[ "$status" -ne 0 ]
	[[ "$output" == *"too large"* ]]
}

t_append_concurrent() {
	fs_mount "$T/m2"
	echo start >"$M/log"
	(for i in $(seq 40); do echo "a$i" >>"$M/log"; done) &
	local p1=$!
	(for i in $(seq 40); do echo "b$i" >>"$T/m2/log"; done) &
	local p2=$!
	wait $p1 $p2
	[ "$(zkcli get "$NS/log" | wc -l)" = 81 ]
	[ "$(zkcli get "$NS/log" | grep -c '^a')" = 40 ]
	[ "$(zkcli get "$NS/log" | grep -c '^b')" = 40 ]
}

t_offset_write_truncate() {
	printf 'abcdefgh' >"$M/f"
	printf 'XY' | dd of="$M/f" bs=1 seek=2 conv=notrunc status=none
	[ "$(cat "$M/f")" = abXYefgh ]
	truncate -s 4 "$M/f"
	[ "$(zkcli get "$NS/f")" = abXY ]
	truncate -s 6 "$M/f"
	[ "$(stat -c %s "$M/f")" = 6 ]
	: >"$M/f"
	[ "$(stat -c %s "$M/f")" = 0 ]
	[ -z "$(zkcli get "$NS/f")" ]
}

# Unchanged data is served from memory (no getData per open), yet every
# change is seen: this mount's own at once, other clients' once the watch
# fires.
t_read_cache() {
	echo v1 >"$M/f"
	[ "$(cat "$M/f")" = v1 ]
	[ "$(cat "$M/f")" = v1 ]
	local before after i
	before=$(zk_4lw mntr | sed -n 's/^zk_packets_received[[:space:]]*//p')
	for i in $(seq 20); do [ "$(cat "$M/f")" = v1 ]; done
	after=$(zk_4lw mntr | sed -n 's/^zk_packets_received[[:space:]]*//p')
	echo "requests for 20 reads: $((after - before))"
	[ $((after - before)) -lt 10 ]
	for i in $(seq 10); do
		echo "w$i" >"$M/f"
		[ "$(cat "$M/f")" = "w$i" ]
	done
	echo more >>"$M/f"
	[ "$(cat "$M/f")" = "$(printf 'w10\nmore')" ]
	truncate -s 2 "$M/f"
	[ "$(cat "$M/f")" = w1 ]
	setfattr -n user.zk.data -v viaxattr "$M/f"
	[ "$(cat "$M/f")" = viaxattr ]
	zkcli set "$NS/f" remote
	wait_for 10 eval '[ "$(cat "$M/f")" = remote ]'
	fs_mount "$T/m2"
	for i in 1 2 3; do
		echo "m2-$i" >"$T/m2/f"
		wait_for 10 eval "[ \"\$(cat '$M/f')\" = m2-$i ]"
		[ "$(cat "$T/m2/f")" = "m2-$i" ]
	done
	mv "$T/m2/f" "$T/m2/g"
	wait_for 10 eval "[ \"\$(cat '$M/g')\" = m2-3 ]"
	echo new >"$T/m2/g.tmp"
	mv "$T/m2/g.tmp" "$T/m2/g"
	wait_for 10 eval "[ \"\$(cat '$M/g')\" = new ]"
}

# A directory listed from a fresh mount shows each entry's type, size and
# mode from the listing itself (readdirplus, stats fetched pipelined), and a
# run of by-name lookups on a mount that never listed it is answered from
# prefetched stats: both stay right after remote and local changes, and
# after the kernel drops its caches (forget).
t_listing_attrs() {
	zkcli mkmany "$NS/big" 300 # empty persistent nodes: directories
	local i
	for i in 1 2 3 4 5; do printf 'data%d' $i >"$M/big/f$i"; done
	fs_mount "$T/m2"
	ls -l "$T/m2/big" >"$T/ls"
	[ "$(grep -c '^drwxrwxrwx' "$T/ls")" = 300 ]
	[ "$(grep -c '^-rw-rw-rw-' "$T/ls")" = 5 ]
	grep -Eq ' 5 .* f3$' "$T/ls"
	[ "$(stat -c '%F %s' "$T/m2/big/f3")" = "regular file 5" ]
	echo longer-data >"$M/big/f1"
	wait_for 10 eval "[ \"\$(stat -c %s '$T/m2/big/f1')\" = 12 ]"
	rm "$M/big/f2"
	wait_for 10 eval "! [ -e '$T/m2/big/f2' ]"
	zkcli create "$NS/big/late" "abc"
	wait_for 10 eval "[ \"\$(stat -c %s '$T/m2/big/late' 2>/dev/null)\" = 3 ]"
	[ "$(ls "$T/m2/big" | wc -l)" = 305 ]
	# by name, on a mount that never listed the directory
	fs_mount "$T/m3"
	for i in $(seq 0 99); do [ -d "$T/m3/big/c$i" ]; done
	[ "$(stat -c '%F %s' "$T/m3/big/f3")" = "regular file 5" ]
	[ "$(stat -c %s "$T/m3/big/late")" = 3 ]
	! [ -e "$T/m3/big/nothere" ]
	zkcli create "$NS/big/later" "abcd"
	wait_for 10 eval "[ \"\$(stat -c %s '$T/m3/big/later' 2>/dev/null)\" = 4 ]"
	zkcli delete "$NS/big/f4"
	wait_for 10 eval "! [ -e '$T/m3/big/f4' ]"
	zkcli set "$NS/big/f5" "0123456789"
	wait_for 10 eval "[ \"\$(stat -c %s '$T/m3/big/f5')\" = 10 ]"
	mkdir "$M/big/newdir"
	wait_for 10 eval "[ -d '$T/m3/big/newdir' ]"
	echo 2 >/proc/sys/vm/drop_caches
	[ "$(ls -l "$T/m2/big" | grep -c '^d')" = 301 ]
	[ "$(ls -l "$T/m3/big" | grep -c '^-')" = 5 ]
	[ "$(cat "$T/m3/big/f1")" = longer-data ]
}

t_rename() {
	echo one >"$M/a"
	mv "$M/a" "$M/b"
	[ "$(cat "$M/b")" = one ]
	! zkcli exists "$NS/a"
	# over an existing file: dst keeps its identity (czxid), one data change
	echo conf1 >"$M/conf"
	local cz v
	cz=$(zkcli stat "$NS/conf" czxid)
	v=$(zkcli stat "$NS/conf" version)
	echo conf2 >"$M/conf.tmp"
	mv "$M/conf.tmp" "$M/conf"
	[ "$(zkcli get "$NS/conf")" = conf2 ]
	[ "$(zkcli stat "$NS/conf" czxid)" = "$cz" ]
	[ "$(zkcli stat "$NS/conf" version)" = $((v + 1)) ]
	! zkcli exists "$NS/conf.tmp"
	# a directory with children cannot move atomically: EXDEV
	mkdir -p "$M/dir/sub"
	run "$PY" -c 'import os,sys; os.rename(sys.argv[1], sys.argv[2])' "$M/dir" "$M/dir2"
	[[ "$output" == *"Invalid cross-device link"* ]]
	# ... so mv copies and deletes
	mv "$M/dir" "$M/dir2"
	[ -d "$M/dir2/sub" ]
	[ ! -e "$M/dir" ]
	# an empty directory moves
	mkdir "$M/e"
	mv "$M/e" "$M/e2"
	[ -d "$M/e2" ]
}

t_unsupported() {
	run ln -s x "$M/sl"
	[ "$status" -ne 0 ]
	[[ "$output" == *"not permitted"* ]]
	echo x >"$M/f"
	run ln "$M/f" "$M/hl"
	[[ "$output" == *"not permitted"* ]]
	run mkfifo "$M/fifo"
	[[ "$output" == *"not permitted"* ]]
}

t_invalid_name() {
	run mkdir "$M/$(printf 'bad\001name')"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Invalid argument"* ]]
}

t_touch_existing() {
	echo x >"$M/f"
	local v
	v=$(zkcli stat "$NS/f" version)
	touch "$M/f"
	[ "$(zkcli stat "$NS/f" version)" = "$v" ]
}

t_excl_across_mounts() {
	fs_mount "$T/m2"
	"$PY" -c 'import os,sys; os.close(os.open(sys.argv[1], os.O_CREAT|os.O_EXCL|os.O_WRONLY))' "$M/x"
	run "$PY" -c 'import os,sys; os.open(sys.argv[1], os.O_CREAT|os.O_EXCL|os.O_WRONLY)' "$T/m2/x"
	[[ "$output" == *"File exists"* ]]
	mkdir "$M/lock"
	run mkdir "$T/m2/lock"
	[[ "$output" == *"File exists"* ]]
}

t_sequential() {
	fs_mount "$T/m2"
	mkdir "$M/q"
	local i names
	for i in 1 2 3; do
		exec 9>"$M/q/job-%"
		echo "job$i" >&9
		names="$names $(getfattr --only-values -n user.zk.name /proc/self/fd/9)"
		exec 9>&-
		exec 9>"$T/m2/q/job-%"
		names="$names $(getfattr --only-values -n user.zk.name /proc/self/fd/9)"
		exec 9>&-
	done
	[ "$(echo $names | tr ' ' '\n' | sort -u | wc -l)" = 6 ]
	[ "$(echo $names | tr ' ' '\n')" = "$(echo $names | tr ' ' '\n' | sort)" ]
	[ "$(ls "$M/q" | wc -l)" = 6 ]
	[ "$(cat "$M/q/job-0000000000")" = job1 ]
	# mkdir of a '%' name, and the name through user.zk.last
	mkdir "$M/q/dir-%"
	local last
	last=$(getfattr --only-values -n user.zk.last "$M/q")
	[[ "$last" == dir-00000000* ]]
	[ -d "$M/q/$last" ]
	# a '%' create is always exclusive: a second one makes a new node
	mkdir "$M/q/dir-%"
	[ "$(ls "$M/q" | grep -c '^dir-')" = 2 ]
}

# --- Ephemerals ----------------------------------------------------------

# holder CMD — runs CMD in its own Unix session in the background; sets HPID.
holder() {
	setsid bash -c "$1" </dev/null >/dev/null 2>&1 &
	HPID=$!
	fs_track "$HPID"
}

t_ephemeral_session() {
	fs_umount "$M"
	mkdir -p "$M"
	zkcli create "$NS/locks"
	fs_mount "$M" "ephemeral=/locks"
	holder "mkdir '$M/locks/held' && echo me > '$M/locks/member' && exec sleep 300"
	wait_for 10 test -e "$M/locks/member"
	[ -d "$M/locks/held" ]
	[ "$(zkcli stat "$NS/locks/held" ephemeralOwner)" != 0 ]
	[ "$(zkcli stat "$NS/locks/member" ephemeralOwner)" != 0 ]
	[[ "$(stat -c %A "$M/locks/member")" == *T ]]
	# a node outside the ephemeral dirs is persistent
	mkdir "$M/keep"
	[ "$(zkcli stat "$NS/keep" ephemeralOwner)" = 0 ]
	kill -9 "$HPID"
	wait_for 10 eval "! zkcli exists $NS/locks/held"
	! zkcli exists "$NS/locks/member"
	wait_for 5 test ! -e "$M/locks/held"
}

t_ephemeral_owner_mount() {
	fs_umount "$M"
	mkdir -p "$M"
	zkcli create "$NS/m"
	fs_mount "$M" "ephemeral=m,ephemeral_owner=mount"
	holder "mkdir '$M/m/x'; exec sleep 300"
	wait_for 10 test -e "$M/m/x"
	kill -9 "$HPID"
	sleep 1
	zkcli exists "$NS/m/x"
	fs_umount "$M"
	wait_for 10 eval "! zkcli exists $NS/m/x"
}

t_ephemeral_foreign() {
	zkcli create "$NS/foreign" "" >/dev/null
	# an ephemeral of another client: a file with the sticky bit
	"$PY" - "$ZK_HOSTS" "$NS/foreign/e" "$T/ready" <<'PYEOF' &
import sys, time, logging
logging.basicConfig(level=logging.CRITICAL)
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1]); zk.start()
zk.create(sys.argv[2], b"", ephemeral=True)
open(sys.argv[3], "w").close()
time.sleep(20)
PYEOF
	fs_track "$!"
	wait_for 15 test -e "$T/ready"
	[ -f "$M/foreign/e" ]
	[[ "$(stat -c %A "$M/foreign/e")" == -rw-rw-rwT ]]
	[ "$(getfattr --only-values -n user.zk.ephemeralOwner "$M/foreign/e")" != 0 ]
}

# --- inotify for remote changes -----------------------------------------

t_inotify_remote() {
	fs_mount "$T/m2"
	mkdir "$M/w"
	ls "$T/m2/w" >/dev/null
	timeout 20 inotifywait -m -e create,delete,modify,close_write --format '%e %f' "$T/m2/w" >"$T/ev" 2>"$T/ev.err" &
	local ip=$!
	wait_for 5 grep -q 'Watches established' "$T/ev.err"
	# each step waits for its event, as a watcher on another host would
	echo one >"$M/w/f"
	wait_for 10 grep -q '^CLOSE_WRITE,CLOSE f$' "$T/ev"
	mkdir "$M/w/d"
	wait_for 10 grep -q '^CREATE,ISDIR d$' "$T/ev"
	echo two >"$M/w/f"
	wait_for 10 eval "[ \$(grep -c '^CLOSE_WRITE,CLOSE f$' '$T/ev') = 2 ]"
	rm "$M/w/f"
	wait_for 10 grep -q '^DELETE f$' "$T/ev"
	rmdir "$M/w/d"
	wait_for 10 grep -q '^DELETE,ISDIR d$' "$T/ev"
	zkcli create "$NS/w/viakazoo" "k"
	wait_for 10 grep -q '^CREATE viakazoo$' "$T/ev"
	zkcli set "$NS/w/viakazoo" "k2"
	wait_for 10 grep -q '^MODIFY viakazoo$' "$T/ev"
	zkcli delete "$NS/w/viakazoo"
	wait_for 10 grep -q 'DELETE viakazoo' "$T/ev"
	kill "$ip"
	cat "$T/ev"
	grep -q '^CREATE f$' "$T/ev"
	grep -q '^MODIFY f$' "$T/ev"
	grep -q '^CLOSE_WRITE,CLOSE viakazoo$' "$T/ev"
	# the other mount reads the new data at once
	echo fresh >"$M/w/g"
	wait_for 5 grep -q fresh "$T/m2/w/g"
	# no dir/file flicker: an empty create followed by data shows as a file
	! grep -q 'ISDIR f' "$T/ev"
}

# A data change of a file this mount never looked up still reaches a
# watcher of its directory (inotifywait -e close_write DIR on a fresh mount).
t_inotify_unseen_file() {
	zkcli create "$NS/cfg/conf" "v1"
	fs_mount "$T/m2"
	timeout 20 inotifywait -m -e modify,close_write --format '%e %f' "$T/m2/cfg" >"$T/ev" 2>"$T/ev.err" &
	local ip=$!
	wait_for 5 grep -q 'Watches established' "$T/ev.err"
	zkcli set "$NS/cfg/conf" "v2"
	wait_for 10 grep -q '^CLOSE_WRITE,CLOSE conf$' "$T/ev"
	kill "$ip"
	cat "$T/ev"
	grep -q '^MODIFY conf$' "$T/ev"
	[ "$(cat "$T/m2/cfg/conf")" = v2 ]
}

t_lock_waiter_wakes() {
	fs_umount "$M"
	mkdir -p "$M"
	zkcli create "$NS/locks"
	fs_mount "$M" "ephemeral=locks"
	fs_mount "$T/m2" "ephemeral=locks"
	holder "mkdir '$M/locks/L' && exec sleep 300"
	wait_for 10 test -d "$M/locks/L"
	ls "$T/m2/locks" >/dev/null
	# the waiter: try, else sleep on inotify until a delete, then retry
	(
		until mkdir "$T/m2/locks/L" 2>/dev/null; do
			timeout 20 inotifywait -qq -e delete "$T/m2/locks"
		done
		date +%s.%N >"$T/got"
	) &
	local w=$!
	sleep 1
	[ ! -e "$T/got" ]
	kill -9 "$HPID"
	local t0=$(date +%s.%N)
	wait_for 10 test -e "$T/got"
	wait "$w"
	awk -v a="$(cat "$T/got")" -v b="$t0" 'BEGIN { printf "woke after %.3f s\n", a - b }'
}

t_mkdir_lock_contention() {
	fs_mount "$T/m2"
	mkdir "$M/l"
	ls "$T/m2/l" >/dev/null
	local i pids=()
	for i in $(seq 20); do
		if [ $((i % 2)) = 0 ]; then m=$M; else m=$T/m2; fi
		(
			for round in $(seq 5); do
				until mkdir "$m/l/lock" 2>/dev/null; do sleep 0.01; done
				echo "in $i" >>"$T/trace"
				mkdir "$T/crit" 2>/dev/null || echo "VIOLATION $i" >>"$T/trace"
				sleep 0.01
				rmdir "$T/crit"
				rmdir "$m/l/lock"
			done
		) &
		pids+=($!)
	done
	wait "${pids[@]}"
	[ "$(grep -c '^in ' "$T/trace")" = 100 ]
	! grep -q VIOLATION "$T/trace"
}

t_membership() {
	fs_umount "$M"
	mkdir -p "$M"
	zkcli create "$NS/members"
	fs_mount "$M" "ephemeral=members"
	fs_mount "$T/m2" "ephemeral=members"
	holder "echo 10.0.0.1:80 > '$M/members/host1' && exec sleep 300"
	local h1=$HPID
	holder "echo 10.0.0.2:80 > '$T/m2/members/host2' && exec sleep 300"
	wait_for 10 test -e "$M/members/host2"
	[ "$(ls "$M/members" | tr '\n' ' ')" = "host1 host2 " ]
	[ "$(cat "$M/members/host2")" = 10.0.0.2:80 ]
	kill -9 "$h1"
	wait_for 10 eval "[ \"\$(ls $T/m2/members)\" = host2 ]"
}
