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
  truncated leader  TRUNC with real processes: the leader cut off, then sent
                    creates by a client connected to it alone (it logs them,
                    cannot commit them, steps down); the majority elects and
                    acknowledges creates; on healing the old leader must be
                    truncated (its own log says TRUNC), none of the
                    unacknowledged creates may appear anywhere, every
                    acknowledged one must, and all members serve the same
                    tree, and Apache members count no digest mismatch.  In
                    a mixed ensemble once with a zkfs and once with an
                    Apache member truncated (the leader moved by restarts).
                    An Apache 3.8 new leader sends no TRUNC across an epoch
                    boundary but a SNAP (its log says why); accepted as such.
  ... no new writes the same without load, healed as soon as the majority
                    has a leader: then every leader, Apache's too, TRUNCs.

Skips (TAP SKIP) where a private network namespace cannot be had (not root,
no unshare or iptables).

Usage: partition.py [FLAVOR]   FLAVOR (or $ZK_ENSEMBLE_KINDS): apache (default),
       zkfs, mixed, all, or kinds joined by '+'.  TAP on stdout.
"""

import os
import re
import sys
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from zkensemble import enter_private_namespaces  # noqa: E402
from zkharness import Tap, wait_for  # noqa: E402
from ensembletest import Checks, Suite, p50  # noqa: E402
from zkload import make_client, member_data, member_tree, root_null_as_empty, trees_identical  # noqa: E402

STEP_DOWN_LIMIT = float(os.environ.get("ZK_STEP_DOWN_LIMIT", "15"))
# mean pause of the load's clients in the TRUNC phase: few enough txns in
# the new epoch that the new leader still holds the old epoch's last
# committed txn in memory (Apache keeps 500) and can send a TRUNC
TRUNC_THINK = float(os.environ.get("ZK_TRUNC_THINK", "0.03"))


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


def make_leader(ens, want, tries=4):
    """Try to have a member for which want(member) holds lead: restart
    (SIGTERM, start) the leader until one does, at most `tries` times (of
    two members with the same zxid the higher id tends to win).  Returns
    the leader."""
    leader = ens.wait_ready(60)
    for _ in range(tries):
        if want(leader):
            break
        leader.stop()
        ens.wait_leader(30, among=[m for m in ens.voters if m is not leader])
        leader.start()
        leader = ens.wait_ready(60)
    return leader


def leader_sync_words(m, since):
    """What an Apache leader m's log says it sent its learners since
    `since` (LearnerHandler: "Sending TRUNC zxid=", "Sending DIFF zxid=",
    "Sending snapshot", and "Cannot send TRUNC to peer sid: N peer zxid is
    from different epoch" when it sends a SNAP instead), in order."""
    if m.kind != "apache":
        return []
    text = m.log_text()[since:]
    words = {"snapshot": "SNAP", "Cannot send TRUNC": "no TRUNC across epochs"}
    return [words.get(w, w) for w in re.findall(r"Sending (TRUNC|DIFF|snapshot)|(Cannot send TRUNC)", text)
            for w in [w[0] or w[1]]]


def close_clients(*cs):
    for c in cs:
        if c is not None:
            try:
                c.stop()
                c.close()
            except Exception:
                pass


def truncate_scenario(ens, checks, trunc_seen, new_writes=True, rec=None, unacked=150, acked=100):
    """TRUNC with real processes: cut the leader off, then have a client
    connected to it alone send it `unacked` creates.  The leader logs them
    but can never commit them (no follower hears of them) and steps down;
    the majority elects a new leader (and, if new_writes, acknowledges
    `acked` creates while the load goes on).  On healing, the old leader's
    log holds txns of its epoch the ensemble never committed: the new
    leader must truncate them.  Then none of the unacknowledged creates
    may exist on any member, every acknowledged one must, and every member
    serves the same tree.

    A zkfs leader sends a TRUNC (to the last txn of that epoch it has)
    either way.  An Apache 3.8 leader that has committed txns of its own
    epoch never sends a TRUNC across the epoch boundary (LearnerHandler:
    "Cannot send TRUNC to peer sid: N peer zxid is from different epoch")
    but a SNAP, which drops those txns just as well; so with new writes an
    Apache new leader's SNAP is accepted when its log says so, and the
    scenario without new writes (healed as soon as the majority has a
    leader) is the one where it sends a TRUNC."""
    old = ens.wait_ready(60)
    rest = [m for m in ens.voters if m is not old]
    base = "/trunc-%d" % (int(time.time() * 1000) % 10000000)
    zk_old = make_client(old.hostport, session_timeout=10.0)  # its session is committed before the cut
    zk_new = None
    try:
        zk_old.ensure_path(base + "/unacked")
        zk_old.ensure_path(base + "/acked")
        zx0 = old.zxid()
        ens.isolate(old)
        t = rec.mark("%s isolated" % old.name) if rec else time.monotonic()
        pend = [("%s/unacked/u%05d" % (base, i), zk_old.create_async("%s/unacked/u%05d" % (base, i), b"u"))
                for i in range(unacked)]
        zx_isolated = old.zxid()  # what srvr says while it still leads
        gone = wait_for(lambda: old.mode() != "leader", STEP_DOWN_LIMIT, 0.05)
        t_down = time.monotonic() - t
        outcomes = {}
        for p, a in pend:
            try:
                a.get(timeout=max(0.1, t + STEP_DOWN_LIMIT + 5 - time.monotonic()))
                outcomes["acknowledged"] = outcomes.get("acknowledged", 0) + 1
            except Exception as e:
                outcomes[type(e).__name__] = outcomes.get(type(e).__name__, 0) + 1
        checks.add("the cut-off leader %s acknowledged none of %d creates sent to it after the cut (%s); "
                   "it stepped down after %.2fs" % (old.name, unacked, outcomes, t_down),
                   gone and not outcomes.get("acknowledged"), "mode %r" % old.mode())
        new = ens.wait_leader(STEP_DOWN_LIMIT + 15, among=rest)
        checks.add("the majority elects %s" % (new.name if new else None), new is not None,
                   "modes %r" % ens.modes())
        done = []
        if new_writes:
            zk_new = make_client(",".join(m.hostport for m in rest))
            for i in range(acked):
                p = "%s/acked/a%05d" % (base, i)
                zk_new.create(p, b"a")
                done.append(p)
            checks.add("the majority acknowledged %d creates" % acked, len(done) == acked)
            if rec:
                rec.wait_acks(5, 30)
        zx_new = new.zxid() if new else None
        old_since = old.log_size()
        lead_since = new.log_size() if new else 0
        ens.heal()
        if rec:
            rec.mark("healed")
        ens.wait_ready(60)
        t_heal = time.monotonic()
        wait_for(lambda: old.sync_kinds(old_since), 10, 0.1)  # logged as it happens
        kinds = old.sync_kinds(old_since)
        sent = leader_sync_words(new, lead_since) if new else []
        checks.diag("%s led at zxid 0x%x (srvr while cut off: 0x%x); the majority's leader %s was at 0x%x "
                    "before healing; %s synced by %s%s"
                    % (old.name, zx0 or 0, zx_isolated or 0, new.name if new else None, zx_new or 0,
                       old.name, "+".join(kinds) or "?",
                       ("; %s's log: %s" % (new.name, ", ".join(sent))) if sent else ""))
        trunc_seen.append("%s %s%s (%s led) -> %s%s"
                          % (ens.label, old.name, "" if new_writes else " [no new writes]",
                             new.name if new else None, "+".join(kinds) or "?",
                             (" [leader: %s]" % ", ".join(sent)) if sent else ""))
        truncated = "TRUNC" in kinds
        apache_snap = (new is not None and new.kind == "apache" and new_writes and kinds[-1:] == ["SNAP"]
                       and "no TRUNC across epochs" in sent)
        checks.add("after healing, %s rejoins as %s, its uncommitted txns dropped by %s (it logged: %s)"
                   % (old.name, old.mode(), "a SNAP (Apache leaders send no TRUNC across epochs)"
                      if apache_snap else "a TRUNC", "+".join(kinds) or "nothing"),
                   old.mode() == "follower" and (truncated or apache_snap),
                   "its log since the heal:\n%s\nleader %s: %s" % (old.log_text()[old_since:][-3000:],
                                                                 new.name if new else None, sent))
        ghosts, lost = {}, {}
        for m in ens.members:
            got = member_data(m, base + "/unacked")
            if got:
                ghosts[m.name] = sorted(got)[:5] + ["(%d)" % len(got)]
            have = member_data(m, base + "/acked")
            miss = [p for p in done if p.rsplit("/", 1)[1] not in have]
            if miss:
                lost[m.name] = miss[:5] + ["(%d)" % len(miss)]
        checks.add("none of the %d unacknowledged creates exists on any member" % unacked, not ghosts,
                   "found: %r" % ghosts)
        if new_writes:
            checks.add("all %d acknowledged creates exist on every member" % acked, not lost, "missing: %r" % lost)
        if rec:  # the load's keys are compared by the phase
            same, detail, _ = trees_identical(ens.members, base, timeout=20)
        else:
            same, detail, _ = trees_identical(ens.members, "/", timeout=20, normalize=root_null_as_empty)
            roots = dict((m.name, member_tree(m, "/", skip=("/zookeeper",), timeout=10).get("/", (None,))[0])
                         for m in ens.members)
            what = "every member answers getData(\"/\") with the same data (%s)" % (
                ", ".join("%s %r" % kv for kv in sorted(roots.items())))
            checks.add(what, len(set(roots.values())) == 1)
        checks.add("every member serves the same %s tree, stat fields too (%s, %.1fs after ready)"
                   % ("whole" if not rec else base, detail if same else "they differ", time.monotonic() - t_heal),
                   same, detail[:3000])
        digests = dict((m.name, m.mntr().get("zk_digest_mismatches_count")) for m in ens.members if m.kind == "apache")
        if digests:
            checks.add("zk_digest_mismatches_count on Apache members: %s"
                       % ", ".join("%s %s" % kv for kv in sorted(digests.items())),
                       all(v == 0 for v in digests.values()), "%r" % digests)
    finally:
        close_clients(zk_old, zk_new)


def truncated_leader(suite, ens, name, trunc_seen):
    """truncate_scenario with new writes, as a phase under load."""
    suite.phase(ens, name, lambda rec, checks: truncate_scenario(ens, checks, trunc_seen, True, rec),
                think=TRUNC_THINK)


def truncated_leader_quiet(suite, ens, name, trunc_seen):
    """truncate_scenario without load or new writes: healed as soon as the
    majority has a leader (so that an Apache leader sends a TRUNC too)."""
    checks = Checks(suite.tap, "%s %s" % (ens.label, name))
    try:
        truncate_scenario(ens, checks, trunc_seen, False, None)
    except Exception:
        checks.add("scenario ran", False, traceback.format_exc())
        suite.repair(ens)


def main():
    if not enter_private_namespaces():
        tap = Tap()
        tap.skip("partitions", "no private network namespace (needs root, unshare, iptables)")
        tap.done()
    suite = Suite("partition")
    trunc_seen = []
    for flavor, ens in suite.ensembles(voters=3, isolated=True):
        stepdowns, elections = [], []
        isolated_leader(suite, ens, 1, stepdowns, elections)
        isolated_leader(suite, ens, 2, stepdowns, elections)
        isolated_follower(suite, ens)
        kinds = sorted(set(m.kind for m in ens.voters))
        for kind in kinds:  # in a mixed ensemble, a member of each kind truncated
            if len(kinds) > 1:
                leader = make_leader(ens, lambda m: m.kind == kind)
                if leader.kind != kind:
                    suite.tap.diag("%s: no %s member came to lead after restarts; truncating %s"
                                   % (ens.label, kind, leader.name))
            truncated_leader(suite, ens, "truncated leader" + (" (%s)" % kind if len(kinds) > 1 else ""),
                             trunc_seen)
        if len(kinds) > 1:
            # a zkfs leader cut off and an Apache member elected in its
            # place, so that an Apache leader truncates a zkfs member: cut
            # off the highest-id zkfs member, and the highest id left is
            # likely Apache's (zkfs, apache, zkfs: zkfs3 cut, apache2 leads)
            target = max((m for m in ens.voters if m.kind == "zkfs"), key=lambda m: m.id)
            leader = make_leader(ens, lambda m: m is target)
            if leader is not target:
                suite.tap.diag("%s: %s did not come to lead after restarts; truncating %s"
                               % (ens.label, target.name, leader.name))
        truncated_leader_quiet(suite, ens, "truncated leader, no new writes", trunc_seen)
        if stepdowns:
            suite.figure("%s: isolated leader steps down after p50 %.2fs, the majority elects after p50 %.2fs "
                         "(tickTime 500 ms, syncLimit 5)" % (ens.label, p50(stepdowns), p50(elections) or -1))
    if trunc_seen:
        suite.figure("truncated leaders, how they synced on rejoining: %s" % "; ".join(trunc_seen))
    suite.done()


if __name__ == "__main__":
    main()
