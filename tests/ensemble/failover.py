#!/usr/bin/python3
"""failover — one ensemble of 3 voters and an observer, faults one after
the other while 6 clients read and write (tests/lib/ensembletest.py judges
each phase: writes resume, the history is linearizable, every member serves
the same data):

  leader kill      kill -9 of the leader, 3 times; the time from the kill to
                   the first acknowledged write begun after it (p50 printed)
  minority kills   one voter (any, leader included) killed and restarted, twice
                   (five.py does the same with two of five voters)
  observer         the observer killed and restarted: clients on voters see no
                   error and acknowledgements keep coming
  rolling restart  every member stopped and started in turn, followers first
  lagging follower a follower stopped while >1000 writes go by, then started:
                   it catches up (DIFF or SNAP) and serves the same data
  wiped follower   a follower's dataDir emptied (myid kept): it must SNAP

Usage: failover.py [FLAVOR]   FLAVOR (or $ZK_ENSEMBLE_KINDS): apache (default),
       zkfs, mixed, all, or kinds joined by '+'.  TAP on stdout.
"""

import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from ensembletest import Suite, p50  # noqa: E402
from zkload import make_client, converged  # noqa: E402

ROUNDS = int(os.environ.get("ZK_FAILOVER_ROUNDS", "3"))


def leader_kills(suite, ens, rounds=ROUNDS):
    times = []

    def fault(rec, checks):
        for i in range(rounds):
            old = ens.wait_ready(60)
            t = old.kill()
            new = ens.wait_leader(30, among=[m for m in ens.voters if m is not old])
            resumed = rec.wait_acks(3, 30)
            d = rec.first_ack_after(t)
            times.append(d)
            checks.add("kill %d of leader %s: %s leads, writes resume (%.3fs)"
                       % (i + 1, old.name, new.name if new else None, d if d is not None else -1),
                       new is not None and resumed and d is not None, "modes %r" % ens.modes())
            old.start()
            ens.wait_ready(60)
            time.sleep(0.5)

    suite.phase(ens, "leader kill -9 x%d" % rounds, fault)
    if times:
        suite.figure("%s: failover, kill -9 of the leader to the first acknowledged write begun after it: "
                     "p50 %.3fs of %d (%s)" % (ens.label, p50(times), len(times),
                                              ", ".join("%.3f" % t for t in times if t is not None)))


def minority_kills(suite, ens, rounds=4, size=1):
    rng = random.Random(os.getpid())
    times = []

    def fault(rec, checks):
        for i in range(rounds):
            leader = ens.wait_ready(60)
            # the leader is among the victims in round 1, followers only in
            # round 2, then at random
            others = [m for m in ens.voters if m is not leader]
            if i == 0:
                victims = [leader] + rng.sample(others, size - 1)
            elif i == 1:
                victims = rng.sample(others, size)
            else:
                victims = rng.sample(ens.voters, size)
            t_kill = ens.kill_many(victims)
            ok = rec.wait_acks(3, 30)
            d = rec.first_ack_after(t_kill)
            if leader in victims and d is not None:
                times.append(d)
            checks.add("round %d, %s killed: writes acknowledged (first begun after the kill: %.3fs)"
                       % (i + 1, ",".join(v.name for v in victims), d if d is not None else -1),
                       ok, "modes %r" % ens.modes())
            time.sleep(0.5)
            for v in victims:
                v.start()
            ens.wait_ready(60)

    suite.phase(ens, "minority of %d killed x%d" % (size, rounds), fault)
    if times:
        suite.figure("%s: kill -9 of %d voters with the leader among them to the first acknowledged write "
                     "begun after it: %s" % (ens.label, size, ", ".join("%.3fs" % t for t in times)))


def observer_restart(suite, ens):
    obs = ens.observers[0]

    def fault(rec, checks):
        ens.wait_ready(60)
        on_obs = set(c.idx for c in rec.clients if c.hosts.startswith(obs.hostport))
        t0 = obs.kill()
        time.sleep(2.0)
        obs.start()
        obs.wait_serving(60)
        t1 = time.monotonic()
        others = [o for o in rec.ops_of_clients(set(c.idx for c in rec.clients) - on_obs, t0, t1)
                  if o.invoke >= t0 and o.outcome == "unknown"]
        checks.add("clients on voters saw no error while the observer was down (%d clients on it)" % len(on_obs),
                   not others, "\n".join(repr(o) for o in others[:5]))
        acks = rec.acks_between(t0, t1)
        gaps = [b - a for a, b in zip([t0] + acks, acks + [t1])]
        checks.add("acknowledgements kept coming (%d in %.1fs, longest gap %.3fs)"
                   % (len(acks), t1 - t0, max(gaps)), len(acks) > 10 and max(gaps) < 1.0)
        checks.add("the observer serves as observer again", obs.mode() == "observer", "mode %r" % obs.mode())

    suite.phase(ens, "observer kill -9 and restart", fault)


def rolling_restart(suite, ens):
    def fault(rec, checks):
        leader = ens.wait_ready(60)
        order = [m for m in ens.members if m is not leader] + [leader]
        for m in order:
            t0 = time.monotonic()
            m.stop()
            t1 = time.monotonic()
            m.start()
            ens.wait_ready(60)
            t2 = time.monotonic()
            ok = rec.wait_acks(3, 30)
            checks.add("%s restarted (stopped in %.1fs, all serve %.1fs after start): writes acknowledged"
                       % (m.name, t1 - t0, t2 - t1), ok)

    suite.phase(ens, "rolling restart", fault)


def bulk_writes(ens, base, n):
    """n creates under base through the leader, pipelined (async)."""
    zk = make_client(ens.leader().hostport)
    try:
        zk.ensure_path(base)
        pending = []
        for i in range(n):
            pending.append(zk.create_async("%s/n%05d" % (base, i), b"x" * 100))
            if len(pending) >= 200:
                for p in pending:
                    p.get(timeout=30)
                pending = []
        for p in pending:
            p.get(timeout=30)
    finally:
        zk.stop()
        zk.close()


def sync_mode(leader, follower, since, fsince):
    """How the follower was synced: from the leader's log ("Sending
    SNAP"), else from a zkfs follower's ("synced with the leader by SNAP"),
    else None."""
    text = leader.log_text()[since:]
    for word in ("SNAP", "DIFF", "TRUNC"):
        if leader.kind == "zkfs":
            if "sending %s to server %d " % (word, follower.id) in text:
                return word
        elif ("Sending %s" % word) in text or ("sending %s" % word.lower()) in text.lower():
            return word
    if follower.kind == "zkfs":
        text = follower.log_text()[fsince:]
        for word in ("SNAP", "DIFF", "TRUNC"):
            if "synced with the leader by %s" % word in text:
                return word
    return None


def catch_up(suite, ens, wipe):
    name = "wiped follower" if wipe else "lagging follower"
    bulk = 1500

    def fault(rec, checks):
        leader = ens.wait_ready(60)
        f = [m for m in ens.voters if m is not leader][0]
        zx_before = f.zxid()
        f.kill() if wipe else f.stop()
        if wipe:
            f.wipe()
        base = "/bulk-%s-%d" % ("wipe" if wipe else "lag", int(time.time()) % 100000)
        t = time.monotonic()
        bulk_writes(ens, base, bulk)
        checks.diag("%d creates while %s was down in %.1fs" % (bulk, f.name, time.monotonic() - t))
        leader = ens.leader() or ens.wait_ready(60)
        since = len(leader.log_text())
        fsince = len(f.log_text())
        t = time.monotonic()
        f.start()
        f.wait_serving(60)
        mode = sync_mode(leader, f, since, fsince)
        checks.diag("%s serves again %.1fs after start (zxid %s -> %s), leader sent %s"
                    % (f.name, time.monotonic() - t, hex(zx_before or 0), hex(f.zxid() or 0), mode or "?"))
        if wipe:
            checks.add("the leader synced the wiped follower with a SNAP", mode == "SNAP", "mode %r" % mode)
        same, detail = converged(ens, base)
        checks.add("%s serves the %d znodes written while it was down, like every member" % (f.name, bulk),
                   same, detail[:2000])

    suite.phase(ens, name, fault)


def main():
    suite = Suite("failover")
    for flavor, ens in suite.ensembles(voters=3, observers=1):
        leader_kills(suite, ens)
        minority_kills(suite, ens, rounds=2)
        observer_restart(suite, ens)
        rolling_restart(suite, ens)
        catch_up(suite, ens, wipe=False)
        catch_up(suite, ens, wipe=True)
    suite.done()


if __name__ == "__main__":
    main()
