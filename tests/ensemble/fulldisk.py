#!/usr/bin/python3
"""fulldisk — one follower's disk fills up under load.  The follower's
dataDir is a small tmpfs (in a private mount namespace: the program
re-executes itself under `unshare -n -m`, so the mount vanishes with it);
once the ensemble runs, a filler file takes every free byte.  The ensemble
must keep acknowledging writes (the other two voters are a quorum), and
nothing acknowledged may be lost.  Then the space is freed and the follower
restarted: it must catch up and serve the same data.  A second phase fills
the disk again and kills the other follower, so that the full one is needed
for a quorum; then the leader and the full follower are killed together and
the two followers start without the old leader: a write the full follower
acknowledged without writing it would be lost, and the history would show it.  The load's history is
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
from zkload import make_client, member_data  # noqa: E402

TMPFS_MB = int(os.environ.get("ZK_FULLDISK_MB", "32"))
FULL_SECONDS = float(os.environ.get("ZK_FULLDISK_SECONDS", "6"))
BULK = int(os.environ.get("ZK_FULLDISK_BULK", "6000"))  # 1 KiB creates: ~6 MiB of log


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


def bulk(m, base, n, size=1024, seconds=10.0):
    """Up to n creates of `size` bytes under base through member m,
    pipelined, for at most `seconds`: enough log to outgrow any
    preallocated area of the full follower.  Returns the acknowledged paths."""
    acked = []
    deadline = time.monotonic() + seconds
    try:
        zk = make_client(m.hostport, connect_timeout=seconds)
    except Exception:  # m does not serve (no quorum): nothing acknowledged
        return acked
    try:
        zk.ensure_path(base)
        for start in range(0, n, 200):
            batch = [("%s/b%05d" % (base, i), zk.create_async("%s/b%05d" % (base, i), b"x" * size))
                     for i in range(start, min(n, start + 200))]
            for path, a in batch:
                if time.monotonic() > deadline:
                    break  # the rest of the batch counts as not acknowledged
                try:
                    a.get(timeout=max(0.1, deadline - time.monotonic()))
                    acked.append(path)
                except Exception:
                    pass
            if time.monotonic() > deadline:
                break
    except Exception:
        pass
    finally:
        zk.stop()
        zk.close()
    return acked


def all_there(ens, base, acked):
    """None if every member serves every acknowledged path under base, else why not."""
    if not acked:
        return None
    for m in ens.members:
        if not m.running:
            continue
        have = set("%s/%s" % (base, k) for k in member_data(m, base))
        lost = [p for p in acked if p not in have]
        if lost:
            return "%s lacks %d of the %d acknowledged creates, e.g. %s" % (m.name, len(lost), len(acked), lost[:3])
    return None


def unfill(m):
    try:
        os.unlink(os.path.join(m.data_dir, "filler"))
    except OSError:
        pass


def disk_full(suite, ens, victim):
    def fault(rec, checks):
        try:
            full(rec, checks)
        finally:
            unfill(victim)

    def full(rec, checks):
        leader = ens.wait_ready(60)
        f = victim
        if f is leader:  # keep the full disk on a follower: hand leadership on
            f.restart()
            ens.wait_ready(60)
        checks.diag("%s is %s; its dataDir is a %d MiB tmpfs" % (f.name, f.mode(), TMPFS_MB))
        size = fill(f.data_dir)
        rec.mark("%s full, modes %r" % (f.name, ens.modes()))
        st = os.statvfs(f.data_dir)
        checks.diag("filler of %.1f MiB, %d bytes left" % (size / 1048576.0, st.f_bavail * st.f_frsize))
        t0 = time.monotonic()
        base = "/bulk-full-%d" % (int(time.time()) % 100000)
        acked = bulk(leader, base, BULK, seconds=FULL_SECONDS)
        rec.mark("bulk done, modes %r" % ens.modes())
        checks.diag("%d of %d 1 KiB creates acknowledged while the disk was full" % (len(acked), BULK))
        time.sleep(max(0, FULL_SECONDS - (time.monotonic() - t0)))
        t1 = time.monotonic()
        acks = rec.acks_between(t0, t1)
        gaps = [b - a for a, b in zip([t0] + acks, acks + [t1])]
        checks.add("the ensemble acknowledges writes with %s's disk full (%d in %.0fs, longest gap %.2fs)"
                   % (f.name, len(acks), t1 - t0, max(gaps)), len(acks) > 20 and max(gaps) < 5.0)
        log = f.log_text()
        checks.diag("%s while full: %s, mode %r; its log says %s" % (
            f.name, "alive" if f.alive() else "exited", f.mode(),
            "'No space left on device'" if "No space left" in log else "nothing about space"))
        unfill(f)
        f.kill()
        rec.mark("%s killed" % f.name)
        f.start()
        f.wait_serving(60)
        rec.mark("%s serves again, modes %r" % (f.name, ens.modes()))
        checks.add("with space again, %s restarts and serves as %s" % (f.name, f.mode()),
                   f.mode() in ("follower", "leader"))
        ens.wait_ready(60)
        why = all_there(ens, base, acked)
        checks.add("every member serves the %d creates acknowledged while the disk was full" % len(acked),
                   why is None, why)

    suite.phase(ens, "full disk on a follower", fault,
                apache_anomaly="with a follower's disk full, sync + getData on the leader missed a write "
                "another member had acknowledged (3 of 6 runs on 2026-12-04)")


def quorum_needs_full(suite, ens, victim):
    """The other follower killed while the victim's disk is full: a write
    acknowledged now was acknowledged by the leader and the victim.  Then
    the leader and the victim are killed together and the victim and the
    other follower start alone (with space again): had the victim
    acknowledged proposals it could not write, those writes are gone, and
    the history (whose final reads come after) shows it."""
    def fault(rec, checks):
        leader = ens.wait_ready(60)
        f = victim
        if f is leader:
            f.restart()
            leader = ens.wait_ready(60)
        g = [m for m in ens.voters if m is not leader and m is not f][0]
        size = fill(f.data_dir)
        checks.diag("%s's disk full (filler %.1f MiB), %s leads" % (f.name, size / 1048576.0, leader.name))
        time.sleep(1.0)
        g.kill()
        t0 = time.monotonic()
        base = "/bulk-quorum-%d" % (int(time.time()) % 100000)
        acked = bulk(leader, base, BULK, seconds=FULL_SECONDS / 2)
        time.sleep(max(0, FULL_SECONDS / 2 - (time.monotonic() - t0)))
        acks = rec.acks_between(t0, time.monotonic())
        checks.diag("with %s down, %d writes and %d 1 KiB creates acknowledged in %.1fs (by %s and %s%s)" % (
            g.name, len(acks), len(acked), time.monotonic() - t0, leader.name, f.name,
            ", whose disk is full" if acks or acked else ""))
        ens.kill_many([leader, f])
        unfill(f)
        f.start()
        g.start()
        new = ens.wait_leader(60, among=[f, g])
        checks.add("%s and %s elect a leader without %s (%s)" % (f.name, g.name, leader.name,
                                                                 new.name if new else None),
                   new is not None, "modes %r" % ens.modes())
        ens.wait_ready(60, members=[f, g])
        rec.wait_acks(5, 30)
        why = all_there(ens, base, acked)
        checks.add("%s and %s serve the %d creates acknowledged while %s's disk was full"
                   % (f.name, g.name, len(acked), f.name), why is None, why)
        leader.start()
        ens.wait_ready(60)

    suite.phase(ens, "full disk, then the quorum needs it", fault)


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
        # preAllocSize (KiB) small: a server that preallocates its log file
        # (64 MiB by default) would otherwise not meet the full disk at all
        for flavor, ens in suite.ensembles(voters=3, before_start=tmpfs, extra_cfg={"preAllocSize": 64}):
            disk_full(suite, ens, ens.member(1))
            quorum_needs_full(suite, ens, ens.member(1))
    finally:
        for d in mounted:
            subprocess.run(["umount", "-l", d], timeout=20)
    suite.done()


if __name__ == "__main__":
    main()
