#!/bin/bash
# flock-cron.sh — run a cron job on one host of many: the host that takes
# the cluster-wide flock on a zkfs file runs the job; every other host
# skips this round (or, with -w, waits its turn).
#
#   flock-cron.sh [-w] LOCKFILE COMMAND [ARGS...]
#
#   # the same crontab line on every host
#   */5 * * * *  flock-cron.sh /zk/cron/report /usr/local/bin/report
#
# The lock is a ZooKeeper lock (docs/fs.md, "Locks"): it is held while the
# job runs and freed when it ends however it ends (kill -9 included), and
# if the host dies, when its ZooKeeper session expires.  LOCKFILE is made
# with a line of data if missing: an empty node is a directory on the
# other hosts, and a directory is locked through its .zdata entry (the
# kernel keeps locks on directories to itself), which this script also
# handles.
set -u
wait=
if [ "${1:-}" = -w ]; then
	wait=1
	shift
fi
lock=${1:?usage: flock-cron.sh [-w] LOCKFILE COMMAND [ARGS...]}
shift
[ $# -gt 0 ] || { echo "usage: flock-cron.sh [-w] LOCKFILE COMMAND [ARGS...]" >&2; exit 2; }

# Make it once, exclusively; losing that race to another host is fine.
# Just after another host made it, it may show here for a moment as an
# empty directory, or not yet at all: look again briefly.
# A node can also turn into a directory between the test and the open
# (another host that saw it empty locks it through .zdata, which gives it
# a child): an open directory would be locked by this kernel alone, so
# such an open is dropped and made again through .zdata.
for try in 1 2 3 4 5 6 7 8 9 10; do
	[ -e "$lock" ] || (set -C; echo "flock-cron lock" >"$lock") 2>/dev/null || true
	target=$lock
	[ -d "$lock" ] && target=$lock/.zdata
	if { exec 9<"$target"; } 2>/dev/null; then
		[ -d /dev/fd/9 ] || break
		exec 9<&-
	fi
	[ "$try" = 10 ] && { echo "flock-cron: cannot open $lock" >&2; exit 1; }
	sleep 0.2
done
if ! flock -n 9; then
	if [ -z "$wait" ]; then
		echo "flock-cron: $lock is held elsewhere; skipping this run" >&2
		exit 0
	fi
	flock 9 || exit 1
fi
# Held through fd 9 until the job and this script end.
"$@"
