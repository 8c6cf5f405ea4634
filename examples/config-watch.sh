#!/bin/bash
# config-watch.sh — run a reload command whenever a config changes,
# wherever in the cluster it was changed.
#
#   config-watch.sh CONFFILE COMMAND [ARGS...]
#
# zkfs turns ZooKeeper watch events into inotify events on every mount:
# a change made on another host arrives here as IN_CLOSE_WRITE on the
# file (a local `mv` over it arrives as IN_MOVED_TO).  COMMAND runs once
# at start and after each change, with the file's content on stdin.
set -u
conf=${1:?usage: config-watch.sh CONFFILE COMMAND [ARGS...]}
shift
dir=$(dirname "$conf")
name=$(basename "$conf")

"$@" <"$conf"
inotifywait -q -m -e close_write,moved_to --format '%f' "$dir" |
	while read -r f; do
		[ "$f" = "$name" ] && "$@" <"$conf"
	done
