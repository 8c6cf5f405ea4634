#!/bin/bash
# membership.sh — cluster membership as a directory listing.
#
#   membership.sh register DIR NAME VALUE COMMAND [ARGS...]
#       registers NAME (with VALUE as content) in DIR, then runs COMMAND;
#       the entry exists exactly as long as COMMAND's session lives
#       (DIR mounted with -o ephemeral=...).
#   membership.sh list DIR
#       prints "NAME VALUE" for every live member.
#   membership.sh watch DIR
#       prints the member list again at every join or leave.
set -u
cmd=${1:?usage: membership.sh register|list|watch DIR ...}
dir=${2:?missing DIR}

list() {
	for m in "$dir"/*; do
		[ -e "$m" ] || continue
		printf '%s %s\n' "$(basename "$m")" "$(cat "$m" 2>/dev/null)"
	done
}

case $cmd in
register)
	name=${3:?missing NAME}
	value=${4:?missing VALUE}
	shift 4
	echo "$value" >"$dir/$name" || exit 1
	exec "$@"
	;;
list)
	list
	;;
watch)
	list
	inotifywait -q -m -e create,delete,close_write "$dir" |
		while read -r _; do echo "--"; list; done
	;;
*)
	echo "unknown command $cmd" >&2
	exit 2
	;;
esac
