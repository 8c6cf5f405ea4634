#!/bin/bash
# barrier.sh — wait until N participants have arrived.
#
#   barrier.sh DIR N NAME
#
# Each participant creates DIR/NAME (ephemeral when DIR is mounted with
# -o ephemeral=..., so a participant that dies leaves the barrier) and
# sleeps on inotify until DIR holds N entries; then all proceed together.
# With an ephemeral DIR the entry lives as long as the caller's session:
# keep that session (your job) running after the barrier, as a job that
# passes and exits at once takes its entry with it before slower
# participants have counted it.
set -u
dir=${1:?usage: barrier.sh DIR N NAME}
n=${2:?missing N}
name=${3:?missing NAME}

: >"$dir/$name"
while [ "$(ls "$dir" | wc -l)" -lt "$n" ]; do
	inotifywait -qq -t 5 -e create "$dir" || true
done
