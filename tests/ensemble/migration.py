#!/usr/bin/python3
"""migration — a rolling migration of a live 3-server Apache ZooKeeper
ensemble to zkfs-server and back, one server at a time, under client load,
the way an operator would do it (docs/server.md, "Mixed ensembles and
migration"):

  preload          a few hundred znodes (nested, with data) written first
  apache to zkfs   each Apache member in turn (followers first, the leader
                   last) stopped and replaced by a zkfs-server with the same
                   id, address and ports and an empty dataDir (Member.replace
                   in tests/lib/zkensemble.py): it must sync from the
                   ensemble by SNAP or DIFF and serve before the next one goes
  zkfs to apache   back again, member 1, 2, 3 (the leader wherever it falls)

Throughout: 6 load clients (tests/lib/zkload.py; each of the two phases is
one history judged by the linearizability checker, and the load's keys are
compared on every member at its end), one more client creating znodes one
after the other whose acknowledged creates must all survive, and a kazoo
client holding an ephemeral whose session must survive the whole
migration (kazoo moves it from member to member).  After every step:

  - the new member serves, the ensemble is ready, writes are acknowledged;
  - how it synced (its own log: zkfs "synced with the leader by SNAP",
    Apache "Getting a snapshot from leader"), which must be SNAP or DIFF;
  - every member serves the very same tree (data and every stat field,
    read after a sync; the load's keys aside, compared at the phase's end),
    holding the preload, every acknowledged create and the ephemeral;
  - the ephemeral's session is the same and was never lost;
  - each Apache member's zk_digest_mismatches_count (mntr), printed, and
    failed only if nonzero (zkfs leaders do not send TxnDigests yet, so
    Apache followers of a zkfs leader have nothing to compare).

An Apache 3.8.0 member that joins behind a leader with proposals in flight
may fail its first sync with a NullPointerException in
Learner.syncWithLeader (ZOOKEEPER-4394: a COMMIT between NEWLEADER and
UPTODATE) and sync again at once; such re-syncs are printed, not failed.

The migration is always Apache -> zkfs -> Apache: ZK_ENSEMBLE_KINDS does
not apply.  Skips if zkfs-server is not built.  TAP on stdout.
"""

import os
import re
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from kazoo.client import KazooClient  # noqa: E402
from kazoo.exceptions import NodeExistsError  # noqa: E402
from kazoo.protocol.states import KazooState  # noqa: E402

from ensembletest import Suite  # noqa: E402
from zkensemble import Ensemble  # noqa: E402
from zkharness import zkfs_build  # noqa: E402
from zkload import make_client, trees_identical  # noqa: E402

PRELOAD = int(os.environ.get("ZK_MIGRATION_PRELOAD", "400"))
class AckedCreates(threading.Thread):
    """Creates /mig-acked/nNNNNNN one after the other (a fresh name each
    time, think seconds apart); remembers the acknowledged ones.  pause()
    holds it between two creates (for a quiet tree comparison)."""

    def __init__(self, hosts, base="/mig-acked", think=0.02):
        threading.Thread.__init__(self, daemon=True, name="acked-creates")
        self.hosts, self.base, self.think = hosts, base, think
        self.acked, self.unknown = [], []
        self.stopping = threading.Event()
        self.go = threading.Event()
        self.go.set()
        self.busy = threading.Lock()
        self.error = None
        self.zk = None

    def run(self):
        try:
            self.zk = make_client(self.hosts)
            self.zk.ensure_path(self.base)
        except Exception as e:
            self.error = "connect: %s" % e
            return
        i = 0
        while not self.stopping.is_set():
            if not self.go.wait(0.1):
                continue
            with self.busy:
                if not self.go.is_set():
                    continue
                i += 1
                p = "%s/n%07d" % (self.base, i)
                try:
                    self.zk.create_async(p, ("v%d" % i).encode()).get(timeout=5)
                    self.acked.append(p)
                except NodeExistsError:  # an earlier try of this very name got through
                    self.acked.append(p)
                except Exception:  # connection loss, timeout: may or may not be there
                    self.unknown.append(p)
                    deadline = time.monotonic() + 10
                    while self.zk.state != KazooState.CONNECTED and time.monotonic() < deadline:
                        time.sleep(0.02)
            time.sleep(self.think)

    def pause(self):
        self.go.clear()
        with self.busy:  # the create in flight has its answer
            pass

    def resume(self):
        self.go.set()

    def stop(self):
        self.stopping.set()
        self.join(15)
        if self.zk:
            try:
                self.zk.stop()
                self.zk.close()
            except Exception:
                pass


class EphemeralHolder(object):
    """A kazoo client (all members in its connection string) with an
    ephemeral znode; records every state change of its session."""

    def __init__(self, ens, path="/mig-ephemeral"):
        self.path, self.states, self.ens = path, [], ens
        self.zk = KazooClient(hosts=ens.hosts(), timeout=10.0, randomize_hosts=False,
                              connection_retry=dict(max_tries=-1, delay=0.05, backoff=1.5, max_delay=0.5))
        self.zk.add_listener(lambda s: self.states.append((time.monotonic(), s)))
        self.zk.start(timeout=30)
        self.zk.create(path, b"held", ephemeral=True)
        self.session = self.zk.client_id[0]

    def peer(self):
        try:
            h, p = self.zk._connection._socket.getpeername()[:2]
            for m in self.ens.members:
                if (m.host, m.client_port) == (h, p):
                    return m.name
            return "%s:%d" % (h, p)
        except Exception:
            return None

    def lost(self):
        return [s for _, s in self.states if s == KazooState.LOST]

    def close(self):
        try:
            self.zk.stop()
            self.zk.close()
        except Exception:
            pass


def preload(ens, base="/mig-pre", n=PRELOAD):
    """n znodes in a few subtrees, pipelined through one client."""
    zk = make_client(ens.hosts())
    try:
        zk.ensure_path(base)
        dirs = ["%s/d%d" % (base, d) for d in range(8)]
        for d in dirs:
            zk.ensure_path(d)
        pend = [zk.create_async("%s/z%05d" % (dirs[i % len(dirs)], i), (("x%d-" % i) * (1 + i % 20)).encode())
                for i in range(n)]
        for p in pend:
            p.get(timeout=30)
        for i in range(0, n, 7):  # some versions > 0
            zk.set("%s/z%05d" % (dirs[i % len(dirs)], i), b"updated")
    finally:
        zk.stop()
        zk.close()


class Migration(object):
    def __init__(self, suite, ens):
        self.suite, self.ens = suite, ens
        self.creator = None
        self.holder = None
        self.digest = []  # (step, {member name: count})
        self.syncs = []   # (step, member name, [kinds])
        self.steps = 0
        self.leader_gaps = []  # steps replacing the leader: the load's longest wait for an ack
        self.resyncs = []  # Apache members whose sync failed and was done again

    def digests(self, step, checks):
        counts = {}
        for m in self.ens.members:
            if m.kind == "apache" and m.running:
                counts[m.name] = m.mntr().get("zk_digest_mismatches_count")
        self.digest.append((step, counts))
        text = ", ".join("%s %s" % (k, v) for k, v in sorted(counts.items())) or "no Apache member"
        checks.add("zk_digest_mismatches_count on Apache members: %s" % text,
                   all(v == 0 for v in counts.values()),
                   "an Apache member counted digest mismatches (or did not report the count): %r" % counts)

    def step(self, rec, checks, m, kind):
        ens = self.ens
        self.steps += 1
        old_name = m.name
        leader = ens.leader()
        was_leader = leader is m
        t0 = time.monotonic()
        rec.mark("replace %s" % old_name)
        since = m.replace(kind)
        try:
            m.wait_serving(60)
            new_leader = ens.wait_ready(60)
            ready = True
        except Exception as e:
            new_leader, ready = None, False
            checks.diag("step %d: %s" % (self.steps, e))
        t_ready = time.monotonic() - t0
        acked = rec.wait_acks(3, 30)
        t1 = time.monotonic()
        acks = rec.acks_between(t0, t1)
        gap = max(b - a for a, b in zip([t0] + acks, acks + [t1]))  # the load's longest wait for an ack
        if was_leader:
            self.leader_gaps.append(gap)
        kinds = m.sync_kinds(since)
        self.syncs.append((self.steps, m.name, kinds))
        self.note_resyncs(checks, m, since)
        checks.add("step %d: %s%s replaced by %s: serves as %s, ensemble ready %.1fs after the stop "
                   "(leader %s), writes acknowledged (longest gap between acknowledgements %.3fs)"
                   % (self.steps, old_name, " (the leader)" if was_leader else "", m.name, m.mode(), t_ready,
                      new_leader.name if new_leader else None, gap if gap is not None else -1),
                   ready and acked, "modes %r\n%s" % (ens.modes(), m.log_tail(20)))
        checks.add("step %d: %s synced from the ensemble by %s" % (self.steps, m.name, "+".join(kinds) or "?"),
                   bool(kinds) and kinds[-1] in ("SNAP", "DIFF"),
                   "its log since the start:\n%s" % m.log_text()[since:][-3000:])
        self.compare(checks, "step %d" % self.steps, skip=("/zookeeper", rec.base))
        self.session_check(checks, "step %d" % self.steps)
        self.digests("step %d" % self.steps, checks)

    def note_resyncs(self, checks, m, since):
        """An Apache 3.8.0 follower that gets, between NEWLEADER and
        UPTODATE, the COMMIT of a proposal it was sent before NEWLEADER
        fails its sync with a NullPointerException (ZOOKEEPER-4394, fixed
        after 3.8.0; Apache leaders do the same) and syncs again at once.
        Printed and counted: not a failure of the migration."""
        if m.kind != "apache":
            return
        text = m.log_text()[since:]
        n = text.count("Exception when following the leader")
        if n:
            causes = re.findall(r"Exception when following the leader\n([^\n]*)", text)
            self.resyncs.append("%s x%d (%s)" % (m.name, n, "; ".join(sorted(set(causes)))[:200]))
            checks.diag("%s failed its sync %d time(s) and synced again: %s" % (m.name, n, "; ".join(causes)[:300]))

    def compare(self, checks, what, skip=("/zookeeper",)):
        """Pause the creator, compare every member's whole tree (but skip),
        look for the preload, the acked creates and the ephemeral."""
        self.creator.pause()
        try:
            t = time.monotonic()
            same, detail, tree = trees_identical(self.ens.members, "/", skip, timeout=20)
            checks.add("%s: every member serves the same tree, stat fields too (%s, %.1fs)"
                       % (what, detail if same else "they differ", time.monotonic() - t), same, detail[:4000])
            if tree is None:
                return
            missing = [p for p in self.creator.acked if p not in tree]
            checks.add("%s: all %d acknowledged creates are there (%d of unknown outcome)"
                       % (what, len(self.creator.acked), len(self.creator.unknown)), not missing,
                       "missing: %s" % missing[:20])
            pre = [p for p in tree if p.startswith("/mig-pre/d")]
            pre_leaves = [p for p in pre if p.count("/") == 3]
            checks.add("%s: the %d preloaded znodes are there" % (what, len(pre_leaves)),
                       len(pre_leaves) == PRELOAD, "found %d" % len(pre_leaves))
            eph = tree.get(self.holder.path)
            owner = eph[1][8] if eph else None
            checks.add("%s: the ephemeral is there, owned by session 0x%x" % (what, self.holder.session),
                       owner == self.holder.session, "owner %r" % owner)
        finally:
            self.creator.resume()

    def session_check(self, checks, what):
        h = self.holder
        sid = h.zk.client_id[0] if h.zk.client_id else None
        checks.add("%s: the ephemeral's session 0x%x lives on (now on %s, %d state changes, none LOST)"
                   % (what, h.session, h.peer(), len(h.states)),
                   sid == h.session and not h.lost() and h.zk.state == KazooState.CONNECTED,
                   "session %r state %s states %r" % (sid, h.zk.state, [s for _, s in h.states]))

    def run(self):
        suite, ens = self.suite, self.ens
        t = time.monotonic()
        preload(ens)
        suite.tap.diag("preloaded %d znodes in %.1fs" % (PRELOAD, time.monotonic() - t))
        self.holder = EphemeralHolder(ens)
        self.creator = AckedCreates(ens.hosts())
        self.creator.start()
        try:
            def forward(rec, checks):
                leader = ens.wait_ready(60)
                for m in [m for m in ens.members if m is not leader] + [leader]:
                    self.step(rec, checks, m, "zkfs")
                checks.add("the ensemble is all zkfs now (%s)" % ens.describe(),
                           all(m.kind == "zkfs" for m in ens.members))

            def backward(rec, checks):
                for m in list(ens.members):
                    self.step(rec, checks, m, "apache")
                checks.add("the ensemble is all Apache again (%s)" % ens.describe(),
                           all(m.kind == "apache" for m in ens.members))

            t = time.monotonic()
            ok = suite.phase(ens, "apache to zkfs", forward)
            suite.figure("apache to zkfs: %d members replaced in %.0fs" % (len(ens.members), time.monotonic() - t))
            if ok and all(m.kind == "zkfs" for m in ens.members):
                t = time.monotonic()
                suite.phase(ens, "zkfs to apache", backward)
                suite.figure("zkfs to apache: %d members replaced in %.0fs" % (len(ens.members),
                                                                             time.monotonic() - t))
            else:
                suite.tap.check("zkfs to apache: the forward migration completed", False, ens.describe())
        finally:
            self.creator.stop()
        from ensembletest import Checks
        checks = Checks(suite.tap, ens.label + " end")
        if self.creator.error:
            checks.add("the creating client ran", False, self.creator.error)
        self.compare(checks, "with the load stopped")
        self.session_check(checks, "after the migration")
        self.holder.close()
        suite.figure("acknowledged creates %d (unknown outcome %d); sync kinds seen: %s"
                     % (len(self.creator.acked), len(self.creator.unknown),
                        ", ".join("%s %s" % (n, "+".join(k) or "?") for _, n, k in self.syncs)))
        suite.figure("leader replaced: longest gap between the load's acknowledged writes during the step: %s"
                     % (", ".join("%.3fs" % g for g in self.leader_gaps) or "-"))
        suite.figure("Apache members whose first sync failed (ZOOKEEPER-4394 when the cause is a "
                     "NullPointerException on 'pif'): %s" % (", ".join(self.resyncs) or "none"))
        suite.figure("zk_digest_mismatches_count per step: %s"
                     % "; ".join("%s: %s" % (s, ", ".join("%s %s" % kv for kv in sorted(c.items())) or "-")
                                 for s, c in self.digest))


def main():
    suite = Suite("migration")
    if not os.access(os.path.join(zkfs_build(), "zkfs-server"), os.X_OK):
        suite.tap.skip("migration", "no %s/zkfs-server" % zkfs_build())
        suite.done()
        return
    ens = None
    try:
        ens = Ensemble(["apache"] * 3, start=False)
        t = time.monotonic()
        ens.start_all(timeout=90)
        suite.tap.check("apache 3: ensemble %s starts and elects a leader (%.1fs)"
                        % (ens.describe(), time.monotonic() - t), True)
    except Exception:
        suite.tap.check("apache 3: ensemble starts and elects a leader", False, traceback.format_exc())
        if ens:
            ens.close()
        suite.done()
        return
    ens.label = "migration"
    try:
        Migration(suite, ens).run()
    except Exception:
        suite.tap.check("migration ran", False, traceback.format_exc())
    finally:
        ens.close()
    suite.done()


if __name__ == "__main__":
    main()
