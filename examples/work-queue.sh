#!/bin/bash
# work-queue.sh — a durable FIFO work queue shared by many hosts.
#
#   work-queue.sh put QUEUEDIR < job        enqueue (prints the job's name)
#   work-queue.sh take QUEUEDIR CLAIMDIR    dequeue one job: prints its
#                                           content, or exits 1 when empty
#
# put creates QUEUEDIR/job-% (persistent, sequential: FIFO order is the
# name order).  take claims the oldest job by renaming it into CLAIMDIR,
# which zkfs does as one multi with a version check: when two workers race
# for the same job, one rename wins and the other gets ENOENT and tries the
# next job.  Remove the claimed file when the job is done.
set -u
cmd=${1:?usage: work-queue.sh put|take QUEUEDIR [CLAIMDIR]}
q=${2:?missing QUEUEDIR}

case $cmd in
put)
	exec 9>"$q/job-%"
	cat >&9
	name=$(getfattr --only-values -n user.zk.name /proc/self/fd/9)
	exec 9>&-
	echo "$name"
	;;
take)
	claim=${3:?missing CLAIMDIR}
	for job in $(ls "$q" | grep '^job-[0-9]\{10\}$' | sort); do
		if mv "$q/$job" "$claim/$job.$$" 2>/dev/null; then
			cat "$claim/$job.$$"
			rm -f "$claim/$job.$$"
			exit 0
		fi
	done
	exit 1
	;;
*)
	echo "unknown command $cmd" >&2
	exit 2
	;;
esac
