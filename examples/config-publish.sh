#!/bin/bash
# config-publish.sh — publish a configuration atomically.
#
#   config-publish.sh CONFFILE < new-content
#
# Writes a temporary file next to CONFFILE and renames it over CONFFILE.
# On zkfs the rename is one ZooKeeper multi that sets CONFFILE's data and
# deletes the temporary node: readers everywhere see the old or the new
# content, never a mix, and CONFFILE keeps its identity, so watchers see
# exactly one change (IN_CLOSE_WRITE on every other host).
set -eu
conf=${1:?usage: config-publish.sh CONFFILE < content}
tmp="$(dirname "$conf")/.$(basename "$conf").tmp.$$"
cat >"$tmp"
mv -f "$tmp" "$conf"
