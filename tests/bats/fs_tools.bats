#!/usr/bin/env bats
# tests/bats/fs_tools.bats — standard tools on a mount: ls -lR, find,
# grep -r, cp -r, tar, rsync, diff -r, stat, getfattr, save-by-rename, and
# a directory of 100,000 children.

load fs_lib

setup_file() { fs_server_start apache; }
teardown_file() { fs_server_stop; }
setup() {
	fs_test_setup
	M=$T/m
	fs_mount "$M"
	# a small tree: files, dirs, a dir with data (.zdata), an empty file
	mkdir -p "$T/src/app/conf" "$T/src/app/members"
	echo "port=80" >"$T/src/app/conf/web"
	printf 'a\nb\nneedle here\n' >"$T/src/app/conf/db"
	echo "10.0.0.1" >"$T/src/app/members/h1"
	: >"$T/src/app/empty"
}
teardown() { fs_test_teardown; }

@test "cp -r in and diff -r out agree" {
	cp -r "$T/src/app" "$M/"
	diff -r "$T/src/app" "$M/app"
	[ "$(zkcli get "$NS/app/conf/web")" = "port=80" ]
}

@test "ls -lR, find, grep -r, stat" {
	cp -r "$T/src/app" "$M/"
	run ls -lR "$M/app"
	[ "$status" -eq 0 ]
	[[ "$output" == *"web"* ]]
	[ "$(cd "$M" && find app -type f | sort | tr '\n' ' ')" = "app/conf/db app/conf/web app/empty app/members/h1 " ]
	[ "$(cd "$M" && find app -type d | sort | tr '\n' ' ')" = "app app/conf app/members " ]
	[ "$(grep -rl needle "$M/app")" = "$M/app/conf/db" ]
	[ "$(stat -c '%F %s' "$M/app/conf/web")" = "regular file 8" ]
	[ "$(stat -c '%F' "$M/app/conf")" = "directory" ]
}

@test "tar out and in" {
	cp -r "$T/src/app" "$M/"
	tar -C "$M" -cf "$T/a.tar" app
	mkdir "$T/x"
	tar -C "$T/x" -xf "$T/a.tar"
	diff -r "$T/src/app" "$T/x/app"
	mkdir "$M/fromtar"
	tar -C "$M/fromtar" -xf "$T/a.tar"
	diff -r "$T/src/app" "$M/fromtar/app"
}

@test "rsync -r in both directions" {
	command -v rsync >/dev/null || skip "rsync not installed"
	rsync -r "$T/src/app/" "$M/app/"
	diff -r "$T/src/app" "$M/app"
	rsync -r "$M/app/" "$T/back/"
	diff -r "$T/src/app" "$T/back"
	# rsync saves by temp file + rename
	echo "port=81" >"$T/src/app/conf/web"
	rsync -rc "$T/src/app/" "$M/app/"   # -c: same size, same second
	[ "$(zkcli get "$NS/app/conf/web")" = "port=81" ]
}

@test "editor-style save by rename keeps the node's identity" {
	echo v1 >"$M/conf"
	local cz
	cz=$(getfattr --only-values -n user.zk.czxid "$M/conf")
	echo v2 >"$M/.conf.swp"
	mv "$M/.conf.swp" "$M/conf"
	[ "$(cat "$M/conf")" = v2 ]
	[ "$(getfattr --only-values -n user.zk.czxid "$M/conf")" = "$cz" ]
}

@test "getfattr dumps every user.zk attribute" {
	echo x >"$M/f"
	[ "$(getfattr -d -m - "$M/f" | grep -c '^user.zk.')" = 11 ]
}

@test "ls of a directory with 100,000 children completes" {
	zkcli mkmany "$NS/big" 100000
	[ "$(timeout 300 ls "$M/big" | wc -l)" = 100000 ]
	[ "$(timeout 300 ls -f "$M/big" | wc -l)" = 100002 ]
}
