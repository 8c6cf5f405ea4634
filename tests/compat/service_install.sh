#!/bin/bash
# service_install.sh — `make install` puts the zkfs-server systemd unit, its
# sysusers.d user and a default zoo.cfg in place (into a DESTDIR), the unit
# passes systemd-analyze verify and its offline security review, the
# installed zoo.cfg starts the installed server as an unprivileged user with
# no_new_privs (what the unit asks of systemd) logging to stderr, and
# uninstall leaves the operator's configuration alone.   (TAP on stdout)
# It installs what `make` built in $B (-o all: a test never rebuilds).
set -u
ROOT=${ZKFS_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${B:-build}
T=$(mktemp -d /tmp/zkfs-install-XXXXXX)
D=$T/dest
PID=
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && echo "$2" | sed 's/^/# /'; }
check() { local name=$1; shift; if "$@" >/dev/null 2>&1; then ok "$name"; else notok "$name"; fi; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

out=$(make -s --no-print-directory -C "$ROOT" -o all B="$B" install DESTDIR="$D" 2>&1)
if [ $? -eq 0 ]; then ok "make install DESTDIR=..."; else notok "make install DESTDIR=..." "$out"; fi
UNIT=$D/usr/local/lib/systemd/system/zkfs-server.service
check "unit installed" test -f "$UNIT"
check "sysusers.d: its own user zkfs" grep -q '^u zkfs ' "$D/usr/local/lib/sysusers.d/zkfs.conf"
check "default zoo.cfg installed" test -f "$D/etc/zkfs/zoo.cfg"
check "unit runs the installed binary on /etc/zkfs/zoo.cfg" \
	grep -qx 'ExecStart=/usr/local/bin/zkfs-server /etc/zkfs/zoo.cfg' "$UNIT"
for d in User=zkfs ProtectSystem=strict NoNewPrivileges=yes StateDirectory=zkfs ProtectHome=yes \
	PrivateTmp=yes CapabilityBoundingSet= StandardError=journal; do
	check "unit: $d" grep -qx "$d" "$UNIT"
done

if command -v systemd-analyze >/dev/null; then
	# the paths as they will be once installed for real, inside DESTDIR here
	sed "s|/usr/local/bin/|$D/usr/local/bin/|" "$UNIT" >"$T/zkfs-server.service"
	v=$(MANPATH=$D/usr/local/share/man systemd-analyze verify "$T/zkfs-server.service" 2>&1 |
		grep -v "Command 'man zkfs-server(1)' failed" | grep -v '^$')
	if [ -z "$v" ]; then ok "systemd-analyze verify"; else notok "systemd-analyze verify" "$v"; fi
	s=$(systemd-analyze security --offline=yes "$T/zkfs-server.service" 2>&1 | grep 'Overall exposure')
	lvl=$(echo "$s" | sed -n 's/.*: \([0-9.]*\) .*/\1/p')
	if [ -n "$lvl" ] && awk "BEGIN{exit !($lvl <= 2.0)}"; then
		ok "systemd-analyze security: exposure $lvl (at most 2.0)"
	else
		notok "systemd-analyze security: exposure at most 2.0" "$s"
	fi
else
	skip "systemd-analyze verify" "no systemd-analyze"
	skip "systemd-analyze security" "no systemd-analyze"
fi

# The installed zoo.cfg and binary, as the unit runs them: an unprivileged
# user, no_new_privs, only the data directory writable, logs on stderr.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$T/var/lib/zkfs"
chown 65534:65534 "$T/var/lib/zkfs"
chmod 755 "$T"
sed -e "s|^dataDir=.*|dataDir=$T/var/lib/zkfs|" -e "s|^clientPort=.*|clientPort=$port|" \
	-e "s|^clientPortAddress=.*|clientPortAddress=127.0.0.1|" "$D/etc/zkfs/zoo.cfg" >"$T/zoo.cfg"
chmod 644 "$T/zoo.cfg"
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs \
		"$D/usr/local/bin/zkfs-server" "$T/zoo.cfg" >"$T/stdout" 2>"$T/stderr" </dev/null &
	PID=$!
	up=
	for _ in $(seq 1 100); do
		r=$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; printf ruok >&3; cat <&3" 2>/dev/null)
		[ "$r" = imok ] && { up=1; break; }
		sleep 0.1
	done
	if [ -n "$up" ]; then ok "installed zoo.cfg: the server runs as nobody with no_new_privs"; else
		notok "installed zoo.cfg: the server runs as nobody with no_new_privs" "$(cat "$T/stderr")"; fi
	kill -TERM "$PID"
	wait "$PID"
	rc=$?
	PID=
	if [ "$rc" = 0 ]; then ok "SIGTERM (systemctl stop): exit status 0"; else notok "SIGTERM: exit status 0" "rc $rc"; fi
	if [ ! -s "$T/stdout" ] && grep -q 'INFO  server: zkfs-server .* serving 127.0.0.1:' "$T/stderr"; then
		ok "logs go to stderr (the journal), nothing to stdout"
	else
		notok "logs go to stderr (the journal), nothing to stdout" "$(head -5 "$T/stdout" "$T/stderr")"
	fi
	files=$(find "$T/var/lib/zkfs" -user 65534 -type f)
	check "the data directory holds the server user's files" test -n "$files"
else
	skip "installed zoo.cfg: the server runs as nobody" "needs root and setpriv"
	skip "SIGTERM: exit status 0" "needs root and setpriv"
	skip "logs go to stderr" "needs root and setpriv"
	skip "the data directory was written" "needs root and setpriv"
fi

# a second install keeps an edited zoo.cfg; uninstall keeps it too
echo "# edited" >>"$D/etc/zkfs/zoo.cfg"
make -s --no-print-directory -C "$ROOT" -o all B="$B" install DESTDIR="$D" >/dev/null 2>&1
check "reinstall keeps the operator's zoo.cfg" grep -q '^# edited' "$D/etc/zkfs/zoo.cfg"
make -s --no-print-directory -C "$ROOT" -o all B="$B" uninstall DESTDIR="$D" >/dev/null 2>&1
check "uninstall removes the unit" test ! -e "$UNIT"
check "uninstall removes the sysusers.d file" test ! -e "$D/usr/local/lib/sysusers.d/zkfs.conf"
check "uninstall keeps zoo.cfg" test -f "$D/etc/zkfs/zoo.cfg"

echo "1..$n"
[ "$failed" = 0 ]
