#!/bin/bash
# fair-lock.sh — a first-come-first-served lock (and the base of leader
# election) from ephemeral-sequential files on a zkfs mount.
#
#   fair-lock.sh QUEUEDIR COMMAND [ARGS...]
#
# QUEUEDIR must be mounted ephemeral (-o ephemeral=...).  Each contender
# creates QUEUEDIR/lock-% : ZooKeeper turns the '%' into a 10-digit sequence
# number, the node is ephemeral (gone when this job's session ends), and
# the real name is read from the open file's user.zk.name attribute.  The
# contender with the lowest number holds the lock; every other one waits
# for the deletion of the node just before its own (no herd effect).
set -u
q=${1:?usage: fair-lock.sh QUEUEDIR COMMAND [ARGS...]}
shift

exec 9>"$q/lock-%"                       # create, keep the fd open
me=$(getfattr --only-values -n user.zk.name /proc/self/fd/9)
trap 'rm -f "$q/$me"' EXIT

while :; do
	# Our predecessor: the largest name smaller than ours.
	prev=$(ls "$q" | grep '^lock-[0-9]\{10\}$' | sort | awk -v me="$me" '$0 < me' | tail -1)
	[ -z "$prev" ] && break                  # we are first: held
	# Sleep until something is deleted in the queue (or 5 s pass),
	# then look again.
	inotifywait -qq -t 5 -e delete "$q" || true
done
"$@"
