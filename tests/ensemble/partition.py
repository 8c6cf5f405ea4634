#!/usr/bin/python3
"""partition — network partitions of a 3-voter ensemble, made with iptables
in a private network namespace: the program re-executes itself under
`unshare -n -m`, each member runs in a network namespace of its own linked
to the program's by a veth pair (tests/lib/zkensemble.py, isolated=True),
and FORWARD DROP rules cut the links between members while clients, in the
program's namespace, still reach every member.  Under load (6 clients; histories checked for linearizability and
the members' data compared, see tests/lib/ensembletest.py):

  isolated leader   (twice) the leader cut off from both followers: it must
                    stop leading, the two others elect a leader and
                    acknowledge writes; after healing all converge.  The
                    times to step down and to re-elect are printed.
  isolated follower a follower cut off: writes go on, the leader keeps
                    leading; after healing the follower catches up.

Skips (TAP SKIP) where a private network namespace cannot be had (not root,
no unshare or iptables).

Usage: partition.py [FLAVOR]   FLAVOR (or $ZK_ENSEMBLE_KINDS): apache (default),
       zkfs, mixed, all, or kinds joined by '+'.  TAP on stdout.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from zkensemble import enter_private_namespaces  # noqa: E402
from zkharness import Tap, wait_for  # noqa: E402
from ensembletest import Suite, p50  # noqa: E402

STEP_DOWN_LIMIT = float(os.environ.get("ZK_STEP_DOWN_LIMIT", "15"))


def isolated_leader(suite, ens, round_no, stepdowns, elections):
    def fault(rec, checks):
        old = ens.wait_ready(60)
        rest = [m for m in ens.voters if m is not old]
        ens.isolate(old)
        t = time.monotonic()  # the rules are in
        gone = wait_for(lambda: old.mode() != "leader", STEP_DOWN_LIMIT, 0.05)
        t_down = time.monotonic() - t
        new = ens.wait_leader(STEP_DOWN_LIMIT + 15, among=rest)
        t_new = time.monotonic() - t
        if gone:
            stepdowns.append(t_down)
        if new:
            elections.append(t_new)
        checks.add("the isolated leader %s stops leading (%.2fs)" % (old.name, t_down), gone,
                   "mode %r after %.0fs" % (old.mode(), STEP_DOWN_LIMIT))
        checks.add("the majority elects %s (%.2fs after the cut)" % (new.name if new else None, t_new),
                   new is not None, "modes %r" % ens.modes())
        ok = rec.wait_acks(5, 30)
        d = rec.first_ack_after(t)
        checks.add("the majority acknowledges writes (first write begun after the cut acknowledged after "
                   "%.2fs)" % (d if d is not None else -1), ok and d is not None)
        still = old.mode()
        checks.add("the isolated member does not lead while cut off (mode %r)" % still, still != "leader")
        time.sleep(1.0)
        ens.heal()
        ens.wait_ready(60)
        checks.add("after healing, %s rejoins as %s" % (old.name, old.mode()),
                   old.mode() in ("follower", "leader"))

    suite.phase(ens, "isolated leader %d" % round_no, fault)


def isolated_follower(suite, ens):
    def fault(rec, checks):
        leader = ens.wait_ready(60)
        f = [m for m in ens.voters if m is not leader][0]
        ens.isolate(f)
        t = time.monotonic()
        time.sleep(3.0)  # longer than syncLimit * tickTime: the leader drops it
        acks = rec.acks_between(t, time.monotonic())
        gaps = [b - a for a, b in zip([t] + acks, acks + [time.monotonic()])]
        checks.add("writes go on with %s cut off (%d acknowledged in 3s, longest gap %.2fs)"
                   % (f.name, len(acks), max(gaps)), len(acks) > 10)
        checks.add("%s still leads" % leader.name, leader.mode() == "leader", "modes %r" % ens.modes())
        ens.heal()
        ens.wait_ready(60)
        checks.add("after healing, %s serves as %s" % (f.name, f.mode()), f.mode() == "follower")

    suite.phase(ens, "isolated follower", fault)


def main():
    if not enter_private_namespaces():
        tap = Tap()
        tap.skip("partitions", "no private network namespace (needs root, unshare, iptables)")
        tap.done()
    suite = Suite("partition")
    for flavor, ens in suite.ensembles(voters=3, isolated=True):
        stepdowns, elections = [], []
        isolated_leader(suite, ens, 1, stepdowns, elections)
        isolated_leader(suite, ens, 2, stepdowns, elections)
        isolated_follower(suite, ens)
        if stepdowns:
            suite.figure("%s: isolated leader steps down after p50 %.2fs, the majority elects after p50 %.2fs "
                         "(tickTime 500 ms, syncLimit 5)" % (ens.label, p50(stepdowns), p50(elections) or -1))
    suite.done()


if __name__ == "__main__":
    main()
