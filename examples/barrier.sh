#!/bin/bash
# barrier.sh — wait until N participants have arrived.
#
#   barrier.sh DIR N NAME
#
# Each participant creates DIR/NAME (ephemeral when DIR is mounted with
# -o ephemeral=..., so a participant that dies leaves the barrier) and
# sleeps on inotify until DIR holds N entries; then all proceed together.
set -u
dir=${1:?usage: barrier.sh DIR N NAME}
n=${2:?missing N}
name=${3:?missing NAME}

: >"$dir/$name"
while [ "$(ls "$dir" | wc -l)" -lt "$n" ]; do
	inotifywait -qq -t 5 -e create "$dir" || true
done
