#!/usr/bin/python3
"""kazoo_recipes — kazoo 2.8's recipes (Lock, Election, Counter, Barrier,
DoubleBarrier, Queue, LockingQueue, Party, ShallowParty, Semaphore,
DataWatch, ChildrenWatch, TreeCache) against Apache ZooKeeper 3.8 and
zkfs-server.  Recipes lean on sequential ephemerals, child watches and
session close, so they are a good end-to-end check; where the outcome is
deterministic the two servers must also agree.

Usage: kazoo_recipes.py [apache|zkfs|both]   (TAP on stdout)
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from kazoo.exceptions import LockTimeout  # noqa: E402

from zkcompat import Scenarios  # noqa: E402
from zkharness import expect, expect_eq, wait_for  # noqa: E402

SC = Scenarios()


def try_acquire(lock, timeout):
    """acquire() that answers False on timeout (kazoo raises LockTimeout)."""
    try:
        return lock.acquire(timeout=timeout)
    except LockTimeout:
        return False


@SC.add("Lock mutual exclusion and handoff")
def _(ctx):
    a, b = ctx.kazoo(), ctx.kazoo()
    la = a.Lock(ctx.p("lock"), "a")
    lb = b.Lock(ctx.p("lock"), "b")
    expect(la.acquire(timeout=5), "a acquires")
    expect(not try_acquire(lb, 0.5), "b must wait while a holds it")
    expect_eq(sorted(la.contenders()), ["a"], "contenders")
    got = []
    t = threading.Thread(target=lambda: got.append(lb.acquire(timeout=10)))
    t.start()
    wait_for(lambda: len(la.contenders()) == 2, 5)
    contenders = la.contenders()
    la.release()
    t.join(12)
    expect(got == [True], "b gets the lock after a releases")
    lb.release()
    # A holder whose session ends loses the lock.
    c = ctx.kazoo()
    lc = c.Lock(ctx.p("lock"), "c")
    lc.acquire(timeout=5)
    ld = a.Lock(ctx.p("lock"), "d")
    res = []
    t = threading.Thread(target=lambda: res.append(ld.acquire(timeout=10)))
    t.start()
    time.sleep(0.3)
    c.stop()
    c.close()
    t.join(12)
    expect(res == [True], "lock freed by session close")
    ld.release()
    return {"contenders": contenders, "after_close": res}


@SC.add("Lock counts one holder under contention")
def _(ctx):
    clients = [ctx.kazoo() for _ in range(3)]
    inside = [0]
    maxin = [0]
    total = [0]
    mu = threading.Lock()

    def worker(zk, n):
        lock = zk.Lock(ctx.p("lock2"))
        for _ in range(n):
            with lock:
                with mu:
                    inside[0] += 1
                    maxin[0] = max(maxin[0], inside[0])
                time.sleep(0.005)
                with mu:
                    inside[0] -= 1
                    total[0] += 1
    ts = [threading.Thread(target=worker, args=(zk, 10)) for zk in clients]
    [t.start() for t in ts]
    [t.join(60) for t in ts]
    expect_eq(total[0], 30, "all critical sections ran")
    expect_eq(maxin[0], 1, "never two holders")
    return {"total": total[0], "max_inside": maxin[0]}


@SC.add("Election leader and failover")
def _(ctx):
    a, b = ctx.kazoo(), ctx.kazoo()
    ea = a.Election(ctx.p("elect"), "A")
    eb = b.Election(ctx.p("elect"), "B")
    led = []
    stop_a = threading.Event()

    def lead_a():
        led.append("A")
        stop_a.wait(20)

    def lead_b():
        led.append("B")
    ta = threading.Thread(target=ea.run, args=(lead_a,))
    ta.start()
    wait_for(lambda: led == ["A"], 5)
    tb = threading.Thread(target=eb.run, args=(lead_b,))
    tb.start()
    wait_for(lambda: len(eb.contenders()) == 2, 5)
    contenders = eb.contenders()
    time.sleep(0.2)
    expect_eq(led, ["A"], "only A leads")
    stop_a.set()
    ta.join(5)
    tb.join(10)
    expect_eq(led, ["A", "B"], "B leads after A steps down")
    return {"order": led, "contenders": contenders}


@SC.add("Counter from several clients")
def _(ctx):
    clients = [ctx.kazoo() for _ in range(3)]

    def bump(zk):
        c = zk.Counter(ctx.p("counter"))
        for _ in range(20):
            c += 1
    ts = [threading.Thread(target=bump, args=(zk,)) for zk in clients]
    [t.start() for t in ts]
    [t.join(60) for t in ts]
    c = clients[0].Counter(ctx.p("counter"))
    expect_eq(c.value, 60, "counter value")
    c -= 5
    fc = clients[0].Counter(ctx.p("fcounter"), default=0.0)
    fc += 1.5
    return {"value": c.value, "float": fc.value}


@SC.add("Barrier")
def _(ctx):
    a, b = ctx.kazoo(), ctx.kazoo()
    ba = a.Barrier(ctx.p("barrier"))
    ba.create()
    bb = b.Barrier(ctx.p("barrier"))
    expect(not bb.wait(timeout=0.3), "closed barrier times out")
    res = []
    t = threading.Thread(target=lambda: res.append(bb.wait(timeout=10)))
    t.start()
    time.sleep(0.2)
    ba.remove()
    t.join(12)
    expect_eq(res, [True], "wait returns when removed")
    return {"res": res}


@SC.add("DoubleBarrier")
def _(ctx):
    clients = [ctx.kazoo() for _ in range(3)]
    log = []
    mu = threading.Lock()

    def member(zk, i):
        db = zk.DoubleBarrier(ctx.p("dbarrier"), 3, identifier="m%d" % i)
        db.enter()
        with mu:
            log.append("in")
        db.leave()
        with mu:
            log.append("out")
    ts = [threading.Thread(target=member, args=(zk, i)) for i, zk in enumerate(clients)]
    [t.start() for t in ts]
    [t.join(30) for t in ts]
    expect_eq(log, ["in"] * 3 + ["out"] * 3, "everyone enters before anyone leaves")
    return {"log": log}


@SC.add("Queue and priority")
def _(ctx):
    a, b = ctx.kazoo(), ctx.kazoo()
    q = a.Queue(ctx.p("queue"))
    for i in range(5):
        q.put(("item%d" % i).encode())
    q.put(b"urgent", priority=10)  # lower number = sooner; 100 is the default
    qb = b.Queue(ctx.p("queue"))
    got = [qb.get() for _ in range(6)]
    expect_eq(got[0], b"urgent", "priority first")
    expect_eq(got[1:], [("item%d" % i).encode() for i in range(5)], "FIFO")
    expect(qb.get() is None, "empty queue")
    return {"got": [g.decode() for g in got], "len": len(qb)}


@SC.add("LockingQueue")
def _(ctx):
    a, b = ctx.kazoo(), ctx.kazoo()
    q = a.LockingQueue(ctx.p("lqueue"))
    q.put(b"one")
    q.put_all([b"two", b"three"])
    expect_eq(len(q), 3, "length")
    qb = b.LockingQueue(ctx.p("lqueue"))
    first = qb.get(timeout=5)
    expect_eq(first, b"one", "first")
    expect(qb.holds_lock(), "holds lock")
    expect(qb.consume(), "consume")
    second = qb.get(timeout=5)
    expect(qb.release(), "release without consume")  # item goes back
    again = q.get(timeout=5)
    expect_eq((second, again), (b"two", b"two"), "released item is redelivered")
    q.consume()
    # get blocks until an item arrives
    res = []
    t = threading.Thread(target=lambda: res.append((qb.get(timeout=10), qb.consume())))
    q.get(timeout=5)
    q.consume()
    t.start()
    time.sleep(0.3)
    q.put(b"late")
    t.join(12)
    expect_eq(res, [(b"late", True)], "blocking get")
    return {"items": [first, second, again, res[0][0]], "len": len(q)}


@SC.add("Party and ShallowParty")
def _(ctx):
    a, b = ctx.kazoo(), ctx.kazoo()
    pa = a.Party(ctx.p("party"), "alice")
    pb = b.Party(ctx.p("party"), "bob")
    pa.join()
    pb.join()
    members = sorted(pa)
    expect_eq(members, ["alice", "bob"], "members")
    expect_eq(len(pb), 2, "len")
    pb.leave()
    expect_eq(sorted(pa), ["alice"], "after leave")
    sa = a.ShallowParty(ctx.p("shallow"), "x")
    sb = b.ShallowParty(ctx.p("shallow"), "y")
    sa.join()
    sb.join()
    shallow = sorted(sa)
    b.stop()
    b.close()
    expect(wait_for(lambda: sorted(sa) == ["x"], 5), "session close leaves the party")
    return {"members": members, "shallow": shallow}


@SC.add("Semaphore")
def _(ctx):
    clients = [ctx.kazoo() for _ in range(3)]
    sems = [zk.Semaphore(ctx.p("sem"), max_leases=2, identifier="s%d" % i) for i, zk in enumerate(clients)]
    expect(sems[0].acquire(timeout=5), "first lease")
    expect(sems[1].acquire(timeout=5), "second lease")
    expect(not try_acquire(sems[2], 0.5), "third must wait")
    holders = sorted(sems[0].lease_holders())
    sems[0].release()
    expect(sems[2].acquire(timeout=5), "third after release")
    sems[1].release()
    sems[2].release()
    return {"holders": holders}


@SC.add("DataWatch sequence")
def _(ctx):
    zk = ctx.kazoo()
    w = ctx.kazoo()
    p = ctx.p("dw")
    seen = []
    cond = threading.Condition()

    def cb(data, stat, event=None):
        with cond:
            seen.append((data, stat.version if stat else None, event.type if event else None))
            cond.notify_all()
    w.DataWatch(p, cb)
    steps = [lambda: zk.create(p, b"v0", makepath=True), lambda: zk.set(p, b"v1"),
             lambda: zk.set(p, b"v2"), lambda: zk.delete(p), lambda: zk.create(p, b"again")]
    for i, step in enumerate(steps):
        step()
        with cond:
            cond.wait_for(lambda: len(seen) >= i + 2, 5)
    time.sleep(0.2)
    expect_eq([s[0] for s in seen], [None, b"v0", b"v1", b"v2", None, b"again"], "data values observed")
    return {"seen": [[s[0].decode() if s[0] else None, s[1], s[2]] for s in seen]}


@SC.add("ChildrenWatch sequence")
def _(ctx):
    zk = ctx.kazoo()
    w = ctx.kazoo()
    p = ctx.p("cw")
    zk.create(p, makepath=True)
    seen = []
    cond = threading.Condition()

    def cb(children):
        with cond:
            seen.append(sorted(children))
            cond.notify_all()
    w.ChildrenWatch(p, cb)
    with cond:
        cond.wait_for(lambda: len(seen) >= 1, 5)
    for i, step in enumerate([lambda: zk.create(p + "/a"), lambda: zk.create(p + "/b"),
                              lambda: zk.set(p + "/a", b"x"), lambda: zk.delete(p + "/a")]):
        step()
        if i != 2:
            with cond:
                cond.wait_for(lambda: len(seen) >= (i + 2 if i < 2 else i + 1), 5)
    time.sleep(0.3)
    expect_eq(seen, [[], ["a"], ["a", "b"], ["b"]], "children observed (setData fires nothing)")
    return {"seen": seen}


@SC.add("TreeCache")
def _(ctx):
    from kazoo.recipe.cache import TreeCache
    zk = ctx.kazoo()
    w = ctx.kazoo()
    p = ctx.p("tree")
    zk.create(p + "/a/b", b"ab", makepath=True)
    tc = TreeCache(w, p)
    tc.start()
    expect(wait_for(lambda: tc.get_data(p + "/a/b") is not None, 10), "cache filled")
    zk.create(p + "/c", b"c")
    zk.set(p + "/a/b", b"ab2")
    zk.delete(p + "/a/b")
    ok = wait_for(lambda: tc.get_data(p + "/a/b") is None and tc.get_data(p + "/c") is not None
                  and tc.get_children(p) == {"a", "c"}, 10)
    expect(ok, "cache follows changes")
    tc.close()
    return {"children": sorted(tc.get_children(p) or [])}


if __name__ == "__main__":
    SC.run()
