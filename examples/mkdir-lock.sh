#!/bin/bash
# mkdir-lock.sh — a cluster-wide mutex from one mkdir on a zkfs mount.
#
#   mkdir-lock.sh LOCKDIR COMMAND [ARGS...]
#
# LOCKDIR is a path inside a directory mounted with -o ephemeral=... (for
# example /zk/locks/deploy with `-o ephemeral=/locks`).  mkdir is an atomic
# ZooKeeper create, so exactly one host gets it; the node is ephemeral and
# belongs to this script's Unix session, so it disappears however the
# holder ends (even kill -9).  Waiters sleep on inotify until the lock
# directory is deleted, then try again.
#
# Run it under `setsid` (or from cron/systemd/ssh, which start their own
# sessions) so the lock is bound to this job and not to a login shell.
set -u
lock=${1:?usage: mkdir-lock.sh LOCKDIR COMMAND [ARGS...]}
shift
parent=$(dirname "$lock")

until mkdir "$lock" 2>/dev/null; do
	# Wake on a delete in the lock's directory; the timeout covers a
	# delete that happened between the failed mkdir and the watch.
	inotifywait -qq -t 5 -e delete "$parent" || true
done
# Held.  Release on any exit; the ephemeral goes away anyway if we die.
trap 'rmdir "$lock" 2>/dev/null' EXIT
"$@"
