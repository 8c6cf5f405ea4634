#!/usr/bin/python3
"""linearizability — tests of the checker in tests/lib/linearizability.py,
so that a clean run of the ensemble fault tests means something: histories
known to be linearizable pass, known anomalies (a stale read after a
completed write, a lost acknowledged write, two successful conditional
writes from the same version, ...) fail, unknown outcomes are taken both
ways (an op that may or may not have happened, at any time after its
invocation), and on random small histories the checker agrees with a
brute-force search over every order.

Usage: test_linearizability.py   (TAP on stdout; no servers needed)
"""

import itertools
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from zkharness import Tap  # noqa: E402
from linearizability import (Op, check, step, without_reads_at, READ, WRITE, CAS, CREATE,  # noqa: E402
                             DELETE, OK, FAIL, UNKNOWN)

K = "k"


def rd(c, t0, t1, res):
    return Op(c, K, READ, invoke=t0, ret=t1, result=res)


def wr(c, t0, t1, val, out=OK, res=None):
    return Op(c, K, WRITE, value=val, invoke=t0, ret=t1, outcome=out, result=res)


def cas(c, t0, t1, val, ver, out=OK, res=None):
    return Op(c, K, CAS, value=val, version=ver, invoke=t0, ret=t1, outcome=out, result=res)


def cr(c, t0, t1, val, out=OK, res=None):
    return Op(c, K, CREATE, value=val, invoke=t0, ret=t1, outcome=out, result=res)


def dl(c, t0, t1, ver=-1, out=OK, res=None):
    return Op(c, K, DELETE, version=ver, invoke=t0, ret=t1, outcome=out, result=res)


INIT = {K: ("init", 0)}

# (name, history, init, linearizable?)
CASES = [
    ("empty history", [], None, True),
    ("sequential write then read", [wr(1, 0, 1, "a", res=1), rd(2, 2, 3, ("a", 1))], INIT, True),
    ("read concurrent with a write sees the old value",
     [wr(1, 0, 10, "a"), rd(2, 1, 2, ("init", 0))], INIT, True),
    ("read concurrent with a write sees the new value",
     [wr(1, 0, 10, "a"), rd(2, 1, 2, ("a", 1))], INIT, True),
    ("stale read after a completed write",
     [wr(1, 0, 1, "a", res=1), rd(2, 2, 3, ("init", 0))], INIT, False),
    ("read of a value never written", [rd(1, 0, 1, ("zzz", 1))], INIT, False),
    ("reads go back in time (new, then old)",
     [wr(1, 0, 10, "a"), rd(2, 1, 2, ("a", 1)), rd(3, 3, 4, ("init", 0))], INIT, False),
    ("lost acknowledged write (final read sees the one before)",
     [wr(1, 0, 1, "a"), wr(2, 2, 3, "b"), rd(3, 4, 5, ("a", 1))], INIT, False),
    ("two concurrent writes, read sees the one ordered last",
     [wr(1, 0, 5, "a"), wr(2, 1, 6, "b"), rd(3, 7, 8, ("a", 2))], INIT, True),
    ("write's version does not match its place",
     [wr(1, 0, 1, "a", res=1), wr(2, 2, 3, "b", res=1)], INIT, False),
    ("two successful conditional writes from the same version",
     [cas(1, 0, 5, "a", 0), cas(2, 1, 6, "b", 0)], INIT, False),
    ("conditional writes: one wins, one fails BadVersion",
     [cas(1, 0, 5, "a", 0), cas(2, 1, 6, "b", 0, FAIL, "badversion"), rd(3, 7, 8, ("a", 1))], INIT, True),
    ("BadVersion although the version matched and nothing else wrote",
     [cas(1, 0, 1, "a", 0, FAIL, "badversion")], INIT, False),
    ("conditional write succeeds on the wrong version",
     [wr(1, 0, 1, "a"), cas(2, 2, 3, "b", 0)], INIT, False),
    ("create if absent, twice: one ok, one NodeExists",
     [cr(1, 0, 5, "a"), cr(2, 1, 6, "b", FAIL, "exists"), rd(3, 7, 8, ("a", 0))], None, True),
    ("create if absent, twice, both ok", [cr(1, 0, 5, "a"), cr(2, 1, 6, "b")], None, False),
    ("NodeExists on an absent key", [cr(1, 0, 1, "a", FAIL, "exists")], None, False),
    ("read of an absent key is None", [rd(1, 0, 1, None), cr(2, 2, 3, "a"), rd(1, 4, 5, ("a", 0))], None, True),
    ("setData on an absent key fails NoNode", [wr(1, 0, 1, "a", FAIL, "nonode")], None, True),
    ("setData NoNode after a completed create", [cr(1, 0, 1, "a"), wr(2, 2, 3, "b", FAIL, "nonode")], None, False),
    ("delete then create starts at version 0",
     [dl(1, 0, 1, 0), cr(2, 2, 3, "b"), rd(3, 4, 5, ("b", 0))], INIT, True),
    ("read sees a deleted node", [dl(1, 0, 1), rd(2, 2, 3, ("init", 0))], INIT, False),
    # unknown outcomes
    ("unknown write that took effect", [wr(1, 0, None, "a", UNKNOWN), rd(2, 5, 6, ("a", 1))], INIT, True),
    ("unknown write that never took effect",
     [wr(1, 0, None, "a", UNKNOWN), rd(2, 5, 6, ("init", 0))], INIT, True),
    ("unknown write takes effect late, after a later acknowledged write",
     [wr(1, 0, None, "a", UNKNOWN), wr(2, 5, 6, "b"), rd(3, 7, 8, ("b", 1)), rd(3, 9, 10, ("a", 2))], INIT, True),
    ("unknown write seen, then unseen (its value reverted)",
     [wr(1, 0, None, "a", UNKNOWN), rd(2, 5, 6, ("a", 1)), rd(3, 7, 8, ("init", 0))], INIT, False),
    ("unknown write seen before it was invoked",
     [rd(2, 0, 1, ("a", 1)), wr(1, 2, None, "a", UNKNOWN)], INIT, False),
    ("unknown write takes effect at most once",
     [wr(1, 0, None, "a", UNKNOWN), wr(2, 3, 4, "b"), rd(3, 5, 6, ("a", 2)), wr(2, 7, 8, "c"),
      rd(3, 9, 10, ("a", 4))], INIT, False),
    ("unknown conditional write explains a BadVersion",
     [cas(1, 0, None, "a", 0, UNKNOWN), cas(2, 5, 6, "b", 0, FAIL, "badversion"), rd(3, 7, 8, ("a", 1))],
     INIT, True),
    ("unknown create explains a NodeExists",
     [cr(1, 0, None, "a", UNKNOWN), cr(2, 5, 6, "b", FAIL, "exists")], None, True),
    ("unknown read constrains nothing", [Op(1, K, READ, invoke=0, outcome=UNKNOWN), rd(2, 1, 2, ("init", 0))],
     INIT, True),
    ("acknowledged write lost although an unknown write could not hide it",
     [wr(1, 0, None, "x", UNKNOWN), wr(2, 1, 2, "a"), rd(3, 3, 4, ("init", 0))], INIT, False),
]


def brute_force(ops, init):
    """Exhaustive: some subset of the unknown ops plus every known op, in some
    order that respects real time, runs legally through the model."""
    ops = [o for o in ops if not (o.kind == READ and o.outcome == UNKNOWN)]
    known = [o for o in ops if o.ret is not None]
    unknown = [o for o in ops if o.ret is None]
    for r in range(len(unknown) + 1):
        for extra in itertools.combinations(unknown, r):
            chosen = known + list(extra)
            for perm in itertools.permutations(chosen):
                good = True
                for i in range(len(perm)):
                    for j in range(i + 1, len(perm)):
                        # perm[j] placed after perm[i] must not have returned before perm[i] began
                        if perm[j].ret is not None and perm[j].ret < perm[i].invoke:
                            good = False
                            break
                    if not good:
                        break
                if not good:
                    continue
                st = init
                for o in perm:
                    legal, st = step(st, o)
                    if not legal:
                        good = False
                        break
                if good:
                    return True
    return False


def random_history(rng, n, anomalies, deletes=True):
    """A history made by running a real register with random linearization
    points inside random intervals (so it is linearizable), then, if
    anomalies, tampering with a result or an outcome now and then."""
    ops = []
    clients = 3
    t = [0.0] * clients
    events = []
    for i in range(n):
        c = rng.randrange(clients)
        inv = t[c] + rng.random()
        dur = rng.random() * 3
        lin = inv + rng.random() * dur
        kind = rng.choice([READ, READ, WRITE, CAS, CREATE] + ([DELETE] if deletes else []))
        o = Op(c, K, kind, value="v%d" % i, version=rng.randrange(3) if kind in (CAS, DELETE) else -1,
               invoke=inv, ret=inv + dur)
        if kind == DELETE and rng.random() < 0.3:
            o.version = -1
        t[c] = inv + dur
        events.append((lin, o))
        ops.append(o)
    st = ("init", 0)
    for lin, o in sorted(events, key=lambda x: x[0]):
        unknown = rng.random() < 0.15
        happens = (not unknown) or rng.random() < 0.5
        if o.kind == READ:
            o.result = st
        else:
            # what the server would answer in state st
            for out, res in ((OK, None), (FAIL, "nonode"), (FAIL, "badversion"), (FAIL, "exists")):
                o.outcome, o.result = out, res
                legal, new = step(st, o)
                if legal:
                    break
            if o.outcome == OK and o.kind in (WRITE, CAS):
                o.result = new[1]
            if happens:
                st = new
        if unknown and o.kind != READ:
            if not happens:
                o.outcome, o.ret = UNKNOWN, None  # never happened
            else:
                o.outcome, o.ret = UNKNOWN, None
        elif unknown:
            o.outcome, o.ret = UNKNOWN, None
    if anomalies:
        victims = [o for o in ops if o.outcome != UNKNOWN]
        if victims:
            v = rng.choice(victims)
            if v.kind == READ:
                v.result = rng.choice([None, ("init", 0), ("v%d" % rng.randrange(n), rng.randrange(4))])
            elif v.outcome == OK:
                v.outcome, v.result = FAIL, rng.choice(["nonode", "badversion", "exists"])
            else:
                v.outcome, v.result = OK, None
    return ops


def recorder_like_history(rng, n, clients=6, fault_every=400):
    """Like a real run: clients each doing one op at a time (sync+read,
    setData -1, setData with the version last seen, create), linearized at
    a random instant of the interval; every fault_every ops a fault makes
    the op in flight on each client unknown (half of them took effect)."""
    t = [rng.random() for _ in range(clients)]
    seen = [0] * clients
    ops, events = [], []
    for i in range(n):
        c = min(range(clients), key=lambda j: t[j])
        inv = t[c]
        dur = 0.5 + rng.random() * 2
        r = rng.random()
        kind = READ if r < 0.4 else WRITE if r < 0.7 else CAS if r < 0.95 else CREATE
        o = Op(c, K, kind, value="v%d" % i, version=seen[c], invoke=inv, ret=inv + dur)
        t[c] = inv + dur + rng.random() * 0.2
        events.append((inv + rng.random() * dur, o))
        ops.append(o)
    unknown = set()
    fault_at = sorted(rng.uniform(0, max(t)) for _ in range(n // fault_every))
    for ft in fault_at:
        for o in ops:
            if o.invoke <= ft <= o.ret:
                unknown.add(id(o))
    st = ("init", 0)
    for lin, o in sorted(events, key=lambda x: x[0]):
        if o.kind == READ:
            o.result = st
            continue
        for out, res in ((OK, None), (FAIL, "nonode"), (FAIL, "badversion"), (FAIL, "exists")):
            o.outcome, o.result = out, res
            legal, new = step(st, o)
            if legal:
                break
        if o.outcome == OK and o.kind in (WRITE, CAS):
            o.result = new[1]
        if id(o) in unknown:
            o.outcome, o.ret = UNKNOWN, None
            if rng.random() < 0.5:
                continue  # never took effect
        st = new
    for o in ops:
        if id(o) in unknown and o.kind == READ:
            o.outcome, o.ret = UNKNOWN, None
    return ops


def stale_read_at_end(ops):
    last = max(o.ret or o.invoke for o in ops)
    ops.append(Op(9, K, WRITE, value="final", invoke=last + 1, ret=last + 2))
    ops.append(Op(9, K, READ, invoke=last + 3, ret=last + 4, result=("init", 0)))
    return ops


def lost_write_in_middle(ops):
    """An acknowledged write in the middle whose effect nobody saw: the reads
    after it see the value before it (versions shifted to match)."""
    ws = sorted((o for o in ops if o.kind == WRITE and o.outcome == OK), key=lambda o: o.invoke)
    w = ws[len(ws) // 2]
    # the next read after w returned sees w's value: make it see w's predecessor instead
    later = sorted((o for o in ops if o.kind == READ and o.outcome == OK and o.invoke > w.ret
                    and o.result and o.result[0] == w.value), key=lambda o: o.invoke)
    if later:
        later[0].result = ("init", 0)
    else:
        w.result = (w.result or 0) + 5
    return ops


def main():
    tap = Tap()
    for name, hist, init, want in CASES:
        res = check(hist, init={K: init[K]} if init else None)
        got = res.ok if hist else True
        tap.check("%s: %s" % ("linearizable" if want else "anomaly", name), got is want,
                  "checker said %r\n%s" % (got, res.explain()))

    # the failure report names the op that cannot be placed
    res = check([wr(1, 0, 1, "a"), rd(2, 2, 3, ("init", 0))], init=INIT)
    text = res.explain()
    tap.check("a failure names the op no order can place, and the stale read",
              "no order places this op" in text and "read -> ('init', 0)" in text, text)

    # keys are independent: an anomaly on one key fails the whole history
    h = [wr(1, 0, 1, "a"), rd(2, 2, 3, ("a", 1)),
         Op(1, "j", WRITE, value="x", invoke=0, ret=1), Op(2, "j", READ, invoke=2, ret=3, result=None)]
    res = check(h, init={K: ("init", 0), "j": ("init", 0)})
    tap.check("per-key check: a stale read on one key of two fails the history",
              res.ok is False and res.bad_keys == ["j"], res.explain())

    # random small histories: the checker agrees with brute force, with
    # deletes (versions restart) and without (the version-pruning path)
    for deletes in (True, False):
        rng = random.Random(int(os.environ.get("LIN_SEED", "20251204")) + deletes)
        disagree = []
        counts = {True: 0, False: 0}
        for i in range(400):
            ops = random_history(rng, rng.randrange(2, 8), anomalies=(i % 2 == 1), deletes=deletes)
            want = brute_force(ops, ("init", 0))
            got = check(ops, init={K: ("init", 0)}).ok
            counts[want] += 1
            if got is not want:
                disagree.append((ops, want, got))
        tap.check("400 random small histories %s deletes: same verdict as brute force (%d linearizable, %d not)"
                  % ("with" if deletes else "without", counts[True], counts[False]), not disagree,
                  "\n".join("want %r got %r: %r" % (w, g, o) for o, w, g in disagree[:3]))
        tap.check("the random histories include both verdicts", counts[True] > 50 and counts[False] > 50, counts)

    # the shape an Apache leader gives (a follower acknowledges a write the
    # leader has not applied yet, a read after sync on the leader misses
    # it): not linearizable; setting aside the leader's reads leaves a
    # linearizable history, setting aside the follower's does not
    def at(o, server):
        o.server = server
        return o
    hist = [at(cas(1, 0, 2, "a", 0), "zkfs3"),
            at(rd(2, 3, 4, ("a", 1)), "zkfs3"),
            at(cas(1, 5, 6, "b", 1), "zkfs3"),
            at(rd(3, 7, 8, ("a", 1)), "apache2"),
            at(rd(2, 9, 10, ("b", 2)), "apache2")]
    init = {K: ("init", 0)}
    tap.check("a read after sync on a leader that misses a follower's acknowledged write fails",
              check(hist, init=init).ok is False)
    tap.check("the same history without the leader's reads passes",
              check(without_reads_at(hist, ["apache2"]), init=init).ok is True)
    tap.check("the same history without the follower's reads still fails",
              check(without_reads_at(hist, ["zkfs3"]), init=init).ok is False)
    tap.check("setting reads aside keeps every write",
              len(without_reads_at(hist, ["apache2", "zkfs3"])) == 2)

    # long histories shaped like the recorder's (6 clients, faults that
    # leave every in-flight op unknown) are decided both ways within the budget
    for n in (2000, 6000):
        hist = recorder_like_history(random.Random(n), n)
        nunk = sum(1 for o in hist if o.outcome == UNKNOWN)
        t0 = time.time()
        res = check(hist, init={K: ("init", 0)})
        tap.check("a %d-op linearizable history with %d unknown ops passes (%s, %.1fs)"
                  % (n, nunk, res.summary(), time.time() - t0), res.ok is True, res.explain())
        for what, tamper in (("a stale read at the end", stale_read_at_end),
                             ("a lost write in the middle", lost_write_in_middle)):
            bad = tamper(recorder_like_history(random.Random(n), n))
            t0 = time.time()
            res = check(bad, init={K: ("init", 0)})
            tap.check("the same history with %s fails (%.1fs, %d steps)"
                      % (what, time.time() - t0, sum(r.steps for r in res.per_key.values())),
                      res.ok is False, res.explain())
    tap.done()


if __name__ == "__main__":
    main()
