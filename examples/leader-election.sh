#!/bin/bash
# leader-election.sh — run COMMAND only while this host is the leader.
#
#   leader-election.sh ELECTIONDIR ID COMMAND [ARGS...]
#
# Every candidate registers an ephemeral-sequential file carrying its ID
# in ELECTIONDIR (mounted ephemeral).  The lowest sequence number leads;
# the others wait for their predecessor to vanish.  When the leader's job
# dies, its node vanishes and the next candidate takes over.  `cat` of the
# lowest file tells anyone who leads:
#     cat "$(ls -d ELECTIONDIR/n-* | sort | head -1)"
set -u
dir=${1:?usage: leader-election.sh ELECTIONDIR ID COMMAND [ARGS...]}
id=${2:?missing ID}
shift 2

exec 9>"$dir/n-%"
echo "$id" >&9                           # written at close/fsync; flush it now
sync "/proc/self/fd/9" 2>/dev/null || true
me=$(getfattr --only-values -n user.zk.name /proc/self/fd/9)
trap 'exec 9>&-; rm -f "$dir/$me"' EXIT

while :; do
	prev=$(ls "$dir" | grep '^n-[0-9]\{10\}$' | sort | awk -v me="$me" '$0 < me' | tail -1)
	[ -z "$prev" ] && break
	inotifywait -qq -t 5 -e delete "$dir" || true
done
"$@"
