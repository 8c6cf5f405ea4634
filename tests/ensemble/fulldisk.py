#!/usr/bin/python3
"""fulldisk — one follower's disk fills up under load.  The follower's
dataDir is a small tmpfs (in a private mount namespace: the program
re-executes itself under `unshare -n -m`, so the mount vanishes with it);
once the ensemble runs, a filler file takes every free byte.  The ensemble
must keep acknowledging writes (the other two voters are a quorum), and
nothing acknowledged may be lost.  Then the space is freed and the follower
restarted: it must catch up and serve the same data.  The load's history is
checked for linearizability and every member's data compared (see
tests/lib/ensembletest.py).

Skips (TAP SKIP) where the namespaces or the tmpfs mount cannot be had.

Usage: fulldisk.py [FLAVOR]   FLAVOR (or $ZK_ENSEMBLE_KINDS): apache (default),
       zkfs, mixed, all, or kinds joined by '+'.  TAP on stdout.
"""

import errno
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from zkensemble import enter_private_namespaces  # noqa: E402
from zkharness import Tap  # noqa: E402
from ensembletest import Suite  # noqa: E402

TMPFS_MB = int(os.environ.get("ZK_FULLDISK_MB", "32"))
FULL_SECONDS = float(os.environ.get("ZK_FULLDISK_SECONDS", "6"))


def fill(directory):
    """Write a file in directory until the disk is full; returns its size."""
    path = os.path.join(directory, "filler")
    n = 0
    chunk = b"\0" * (256 * 1024)
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                n += f.write(chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
        while True:  # the last pages, a byte at a time is too slow: 4 KiB
            try:
                n += f.write(b"\0" * 4096)
            except OSError:
                break
    return n


def disk_full(suite, ens, victim):
    def fault(rec, checks):
        leader = ens.wait_ready(60)
        f = victim
        if f is leader:  # keep the full disk on a follower: hand leadership on
            f.restart()
            ens.wait_ready(60)
        checks.diag("%s is %s; its dataDir is a %d MiB tmpfs" % (f.name, f.mode(), TMPFS_MB))
        size = fill(f.data_dir)
        st = os.statvfs(f.data_dir)
        checks.diag("filler of %.1f MiB, %d bytes left" % (size / 1048576.0, st.f_bavail * st.f_frsize))
        t0 = time.monotonic()
        time.sleep(FULL_SECONDS)
        t1 = time.monotonic()
        acks = rec.acks_between(t0, t1)
        gaps = [b - a for a, b in zip([t0] + acks, acks + [t1])]
        checks.add("the ensemble acknowledges writes with %s's disk full (%d in %.0fs, longest gap %.2fs)"
                   % (f.name, len(acks), t1 - t0, max(gaps)), len(acks) > 20 and max(gaps) < 5.0)
        log = f.log_text()
        checks.diag("%s while full: %s, mode %r; its log says %s" % (
            f.name, "alive" if f.alive() else "exited", f.mode(),
            "'No space left on device'" if "No space left" in log else "nothing about space"))
        os.unlink(os.path.join(f.data_dir, "filler"))
        f.kill()
        f.start()
        f.wait_serving(60)
        checks.add("with space again, %s restarts and serves as %s" % (f.name, f.mode()),
                   f.mode() in ("follower", "leader"))

    suite.phase(ens, "full disk on a follower", fault)


def main():
    if not enter_private_namespaces():
        tap = Tap()
        tap.skip("full disk", "no private mount namespace (needs root and unshare)")
        tap.done()
    mounted = []

    def tmpfs(ens):
        d = ens.member(1).data_dir  # sid 1: the least likely leader (ties go to the highest sid)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % TMPFS_MB, "zk-fulldisk", d], check=True,
                       timeout=20)
        mounted.append(d)

    suite = Suite("fulldisk")
    try:
        for flavor, ens in suite.ensembles(voters=3, before_start=tmpfs):
            disk_full(suite, ens, ens.member(1))
    finally:
        for d in mounted:
            subprocess.run(["umount", "-l", d], timeout=20)
    suite.done()


if __name__ == "__main__":
    main()
