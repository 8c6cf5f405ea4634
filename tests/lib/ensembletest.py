"""ensembletest — the frame every tests/ensemble/*.py program shares: run
each fault scenario ("phase") on a live ensemble while clients write and
read under load, then judge the recorded history and the members' data.

    def main():
        suite = Suite("failover")
        for flavor, ens in suite.ensembles(voters=3, observers=1):
            suite.phase(ens, "leader kill", fault_fn)   # fault_fn(rec, checks)
        suite.done()

A phase: start a Recorder (tests/lib/zkload.py) on a fresh base path, run
fault_fn(rec, checks) (it kills, restarts, partitions, and adds its own
named checks with checks.add(name, cond, diag)), require writes to be
acknowledged again afterwards, stop the load, wait until every running
member serves, read every key on every member after a sync (these reads
join the history), and then:

    <flavor> <phase>: writes acknowledged after the fault
    <flavor> <phase>: history linearizable (N ops, U unknown)
    <flavor> <phase>: all members serve identical data

A phase that throws fails with the traceback; the members are then started
again (any that are down) and the next phase goes on if the ensemble comes
back.  done() prints "histories checked N, anomalies M" and the figures
phases recorded (e.g. failover times) before the TAP plan.
"""

import os
import re
import time
import traceback

from zkharness import Tap, ServerError, zkfs_build
from zkensemble import Ensemble, flavors_from_args, member_kinds
import zkload
from zkload import Recorder, converged

PHASE_LOAD_CLIENTS = int(os.environ.get("ZK_ENSEMBLE_CLIENTS", "6"))


class Checks(object):
    """Named checks a fault function adds; printed as TAP by the phase."""

    def __init__(self, tap, prefix):
        self.tap, self.prefix = tap, prefix

    def add(self, name, cond, diag=None):
        return self.tap.check("%s: %s" % (self.prefix, name), cond, diag)

    def diag(self, text):
        self.tap.diag("%s: %s" % (self.prefix, text))


def slug(s):
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


class Suite(object):
    def __init__(self, name):
        self.name = name
        self.tap = Tap()
        self.histories = 0
        self.anomalies = 0
        self.apache_leader_reads = 0
        self.undecided = 0
        self.ops_checked = 0
        self.figures = []
        self.planted = False
        self.t0 = time.monotonic()

    def figure(self, text):
        """A measured number worth printing in the summary (and now)."""
        self.figures.append(text)
        self.tap.diag(text)

    def ensembles(self, voters=3, observers=0, extra_cfg=None, before_start=None, isolated=False):
        """Yield (flavor, started Ensemble) for each flavor this run covers;
        a flavor whose ensemble does not start fails one check and is
        skipped.  before_start(ens) runs on the unstarted ensemble (to mount
        a tmpfs on a member's data dir, say)."""
        for flavor in flavors_from_args():
            kinds = member_kinds(flavor, voters, observers)
            label = "%s %d+%d" % (flavor, voters, observers) if observers else "%s %d" % (flavor, voters)
            if "zkfs" in flavor or any(k.startswith("zkfs") for k in kinds):
                if not os.access(os.path.join(zkfs_build(), "zkfs-server"), os.X_OK):
                    self.tap.skip("%s: ensemble" % label, "no %s/zkfs-server" % zkfs_build())
                    continue
            ens = None
            try:
                ens = Ensemble(kinds, extra_cfg=extra_cfg, start=False, isolated=isolated)
                if before_start:
                    before_start(ens)
                t = time.monotonic()
                ens.start_all(timeout=90)
                self.tap.check("%s: ensemble %s starts and elects a leader (%.1fs)"
                               % (label, ens.describe(), time.monotonic() - t), True)
            except Exception:
                self.tap.check("%s: ensemble starts and elects a leader" % label, False, traceback.format_exc())
                if ens:
                    ens.close()
                continue
            ens.label = label
            try:
                yield flavor, ens
            finally:
                ens.close()

    def phase(self, ens, name, fault, clients=None, keys=3, settle=0.5, resume_timeout=30.0, think=0.0,
              apache_anomaly=None):
        """Run one fault scenario under load; see the module docstring.
        apache_anomaly: why an all-Apache ensemble is known to fail the
        linearizability check here; its anomaly is then printed in full
        and counted, but reported as a SKIP (Apache is the reference, not
        the product).  Returns False if the ensemble could not be brought
        back afterwards."""
        prefix = "%s %s" % (ens.label, name)
        checks = Checks(self.tap, prefix)
        rec = None
        try:
            rec = Recorder(ens, "/lin-%s-%d" % (slug(name), int(time.time() * 1000) % 100000),
                           clients=clients or PHASE_LOAD_CLIENTS, keys=keys, think=think)
            rec.start()
            t_fault = time.monotonic()
            fault(rec, checks)
            t_after = time.monotonic()
            ok = rec.wait_acks(5, resume_timeout)
            checks.add("writes acknowledged after the fault", ok,
                       "no 5 writes acknowledged in %.0fs after the fault; modes %r" % (resume_timeout, ens.modes()))
            time.sleep(settle)
        except Exception:
            checks.add("fault scenario ran", False, traceback.format_exc())
            if rec:
                rec.stop()
            return self.repair(ens)
        rec.stop()
        c = rec.counts()
        checks.diag("%d ops in %.1fs (%d acknowledged writes, %d failed definitely, %d unknown %r), seed %d"
                    % (c["ops"], t_after - t_fault, c["acked_writes"], c["fail"], c["unknown"],
                       rec.unknown_why, rec.seed))
        if rec.errors:
            checks.add("load clients ran", False, "\n".join(rec.errors))
        if zkload.thread_crashes:
            checks.add("no client connection broke on a protocol error", False,
                       "\n".join(zkload.thread_crashes))
            del zkload.thread_crashes[:]
        try:
            ens.wait_ready(60)
        except ServerError as e:
            checks.add("every running member serves after the fault", False, str(e))
            return self.repair(ens)
        running = [m for m in ens.members if m.running]
        finals = rec.final_reads(running)
        unread = [m.name for m in running if finals.get(m.id) is None]
        t = time.monotonic()
        res = rec.check()
        self.histories += 1
        self.ops_checked += sum(len(r.ops) for r in res.per_key.values())
        if res.ok is None:
            self.undecided += 1
        why = res.explain() if c["ops"] else "no ops recorded"
        if res.ok is not True and rec.marks:
            why += "\nevents: " + ", ".join("%.3f %s" % m for m in rec.marks)
        title = "history linearizable (%s, %.1fs)" % (res.summary(), time.monotonic() - t)
        apache_voters = sorted(m.name for m in ens.members if m.kind == "apache" and not m.observer)
        if apache_anomaly and res.ok is False and all(m.kind == "apache" for m in ens.members):
            self.anomalies += 1  # counted, but Apache's (see the docstring)
            self.tap.diag(why)
            self.tap.skip("%s: %s" % (prefix, title), "known Apache 3.8.0 anomaly: " + apache_anomaly)
        elif res.ok is False and apache_voters and self.stale_apache_reads(rec, apache_voters, prefix):
            # An Apache leader answers a client's sync at once (its
            # CommitProcessor is built with matchSyncs=false) and applies a
            # commit after sending COMMIT to its followers, so a read after
            # sync on it can miss a write a follower has acknowledged.
            # Only those reads are stale when the rest is linearizable.
            self.apache_leader_reads += 1
            self.tap.diag(why)
            self.tap.skip("%s: %s" % (prefix, title),
                          "known Apache 3.8 behaviour: reads after sync on an Apache leader (%s) may miss "
                          "a write acknowledged by a follower; the history without those reads is "
                          "linearizable (checked next)" % ", ".join(apache_voters))
        else:
            if res.ok is False:
                self.anomalies += 1
            checks.add(title, res.ok is True and c["ops"] > 0, why)
        if not self.planted and res.ok is True:
            self.planted = True
            self.plant_anomaly(checks, rec)
        same, detail = converged(ens, rec.base)
        checks.add("all members serve identical data", same and not unread,
                   detail if not same else "members not readable: %s" % unread)
        return True

    def stale_apache_reads(self, rec, apache_voters, prefix):
        """Check the history again with the reads served by Apache voters set
        aside; adds that check and returns True if it passes."""
        from linearizability import check, without_reads_at
        with rec.lock:
            ops = list(rec.ops)
        rest = without_reads_at(ops, apache_voters)
        t = time.monotonic()
        res = check(rest)
        self.tap.diag("the history without the %d reads served by %s: %s"
                      % (len(ops) - len(rest), ", ".join(apache_voters), res.summary()))
        if res.ok is not True:
            return False
        self.tap.check("%s: history without the reads at Apache voters linearizable (%s, %.1fs)"
                       % (prefix, res.summary(), time.monotonic() - t), True)
        return True

    def plant_anomaly(self, checks, rec):
        """Once per program: make one final read of this real history stale
        (it sees the key as it was before the last acknowledged write) and
        make sure the checker now fails it."""
        import copy
        from linearizability import READ, OK, check
        ops = [copy.copy(o) for o in rec.ops]
        finals = [o for o in ops if str(o.client).startswith("final@") and o.result is not None]
        if not finals:
            return
        f = finals[-1]
        writes = sorted((o for o in ops if o.key == f.key and o.kind != READ and o.outcome == OK
                         and o.ret < f.invoke and not str(o.client).startswith("final@")), key=lambda o: o.ret)
        reads = [o for o in ops if o.key == f.key and o.kind == READ and o.outcome == OK and o.result
                 and o.result[1] < f.result[1] - 1 and o.ret < f.invoke]
        if not writes or not reads:
            return
        f.result = reads[-1].result
        res = check(ops)
        checks.add("the checker finds a stale final read planted in this history", res.ok is False,
                   res.explain())

    def repair(self, ens):
        """Start every member that is down and wait for the ensemble."""
        try:
            if ens.cuts:
                ens.heal()
            for m in ens.members:
                if not m.running:
                    m.start()
            ens.wait_ready(90)
            return True
        except Exception:
            self.tap.diag("ensemble %s did not come back:\n%s" % (ens.describe(), traceback.format_exc()))
            return False

    def done(self):
        self.tap.diag("%s: histories checked %d (%d ops), anomalies %d, undecided %d, "
                      "stale reads at an Apache leader only %d, %.0fs"
                      % (self.name, self.histories, self.ops_checked, self.anomalies, self.undecided,
                         self.apache_leader_reads, time.monotonic() - self.t0))
        for f in self.figures:
            self.tap.diag("  " + f)
        self.tap.done()


def p50(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2.0
