#!/usr/bin/python3
"""recovery_loop — zkfs-server recovery from snapshot + log, over and over.

The server runs with a tiny snapCount, so it takes snapshots (serialized
between requests and written by a pool thread while writes keep coming)
every few dozen txns, and with zkfs.snapshotSliceNodes=1, so each snapshot
serializes one znode per loop iteration and spans many applied txns: the
files are really fuzzy, as a big tree's are in production.  Each round: a pipelined
client streams writes (create, setData, delete, and a two-node multi that
must be all-or-nothing) without waiting for replies; at a random moment the
server is killed with SIGKILL — in the middle of a log append, a snapshot,
or between the two — and started again on the same data.  Then the tree
under /rl must be exactly the model after some prefix of the writes that
covers every acknowledged one (the writes are one ordered stream, so a
write that was lost must not be followed by one that survived), the
multis must not be torn, the tree must be consistent (numChildren and
getAllChildrenNumber agree with the children lists, mntr's znode count with
the whole tree) and zxids must not go back.  Twenty rounds, or as many as
fit in the time budget (RECOVERY_BUDGET seconds, default 52).

Usage: recovery_loop.py   (zkfs only; TAP on stdout; RECOVERY_SEED=N replays)
"""

import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from zkharness import Tap, ZkServer, ServerError  # noqa: E402
from zkraw import OP, ERR, enc, RawClient, Closed  # noqa: E402

ROUNDS = int(os.environ.get("RECOVERY_ROUNDS", "20"))
BUDGET = float(os.environ.get("RECOVERY_BUDGET", "52"))
SEED = int(os.environ.get("RECOVERY_SEED", str(int(time.time()) % 100000)))
BASE = "/rl"
KEYS = 24
WINDOW = 64  # outstanding requests at most


def plan_ops(rng, model, n, rnd):
    """n writes valid against model (applied in order, each succeeds);
    returns [(op, body, apply(state))]."""
    ops = []
    state = dict(model)
    for j in range(n):
        tag = ("r%d.%d" % (rnd, j)).encode()
        k = rng.randrange(KEYS)
        path = "%s/k%02d" % (BASE, k)
        r = rng.random()
        if r < 0.12:
            a, b = "%s/m%d-%da" % (BASE, rnd, j), "%s/m%d-%db" % (BASE, rnd, j)
            body = enc.multi([(OP.CREATE, enc.create(a, tag)), (OP.CREATE, enc.create(b, tag))])
            ops.append((OP.MULTI, body, [(a, tag), (b, tag)], []))
            state[a] = tag
            state[b] = tag
        elif path not in state:
            ops.append((OP.CREATE, enc.create(path, tag), [(path, tag)], []))
            state[path] = tag
        elif r < 0.8:
            ops.append((OP.SETDATA, enc.set_data(path, tag), [(path, tag)], []))
            state[path] = tag
        else:
            ops.append((OP.DELETE, enc.delete(path), [], [path]))
            del state[path]
    return ops


def apply_op(state, op):
    for p, v in op[2]:
        state[p] = v
    for p in op[3]:
        state.pop(p, None)


class Stream(object):
    """Sends ops pipelined (at most WINDOW outstanding) from one thread and
    reads replies in another; stops at the first broken connection."""

    def __init__(self, port, ops):
        self.c = RawClient(port, timeout_ms=30000)
        self.ops = ops
        self.sent = 0
        self.acked = 0
        self.bad = None  # (index, err) of an unexpected error reply
        self.max_zxid = 0
        self.cv = threading.Condition()
        self.done = False

    def send_loop(self):
        try:
            for i, (op, body, _, _) in enumerate(self.ops):
                with self.cv:
                    while not self.done and self.sent - self.acked >= WINDOW:
                        self.cv.wait(0.1)
                    if self.done:
                        return
                self.c.send_request(op, body, xid=i + 1)
                with self.cv:
                    self.sent = i + 1
        except (OSError, Closed):
            pass

    def recv_loop(self):
        try:
            while True:
                rep = self.c.read_reply(timeout=5.0)
                with self.cv:
                    if rep.xid != self.acked + 1:
                        self.bad = self.bad or (rep.xid, "reply out of order")
                    elif rep.err != 0:
                        self.bad = self.bad or (rep.xid, rep.err)
                    self.acked = rep.xid
                    self.max_zxid = max(self.max_zxid, rep.zxid)
                    self.cv.notify_all()
                    if self.acked == len(self.ops):
                        return
        except (OSError, Closed, ValueError):
            pass
        finally:
            with self.cv:
                self.done = True
                self.cv.notify_all()


def read_tree(c):
    """{path: data} under BASE plus consistency problems found on the way."""
    problems = []
    rep = c.call(OP.GETCHILDREN2, enc.path_watch(BASE, False))
    if rep.err:
        return None, ["getChildren2 %s: %d" % (BASE, rep.err)], 0
    r = rep.reader()
    kids = r.strvec()
    st = r.stat()
    if st.numChildren != len(kids):
        problems.append("numChildren %d but %d children" % (st.numChildren, len(kids)))
    if len(set(kids)) != len(kids):
        problems.append("duplicate children")
    err, n = c.get_all_children_number(BASE)
    if err or n != len(kids):
        problems.append("getAllChildrenNumber %r/%r, %d children" % (err, n, len(kids)))
    tree = {}
    for k in kids:
        p = BASE + "/" + k
        err, data, kst = c.get_data(p)
        if err:
            problems.append("listed child %s: getData %d" % (p, err))
            continue
        if kst.numChildren != 0:
            problems.append("%s has %d children" % (p, kst.numChildren))
        tree[p] = data
    return tree, problems, rep.zxid


def znode_count(srv):
    for line in srv.four("mntr").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "zk_znode_count":
            return int(parts[1])
    return None


def main():
    tap = Tap()
    tap.diag("seed %d (RECOVERY_SEED=%d replays)" % (SEED, SEED))
    rng = random.Random(SEED)
    t_start = time.time()
    try:
        srv = ZkServer("zkfs", extra_cfg={"snapCount": "40", "zkfs.snapshotSliceNodes": "1"})
    except ServerError as e:
        tap.check("zkfs-server starts", False, str(e))
        tap.done()
    model = {}
    last_zxid = 0
    rounds = 0
    snaps_seen = set()
    try:
        c = RawClient(srv.port)
        tap.eq("create %s" % BASE, c.create(BASE, b"")[0], 0)
        c.close()
        for rnd in range(1, ROUNDS + 1):
            if rounds >= 3 and time.time() - t_start > BUDGET:
                break
            rounds += 1
            ops = plan_ops(rng, model, 2500, rnd)
            s = Stream(srv.port, ops)
            ts = threading.Thread(target=s.send_loop, daemon=True)
            tr = threading.Thread(target=s.recv_loop, daemon=True)
            ts.start()
            tr.start()
            time.sleep(rng.uniform(0.05, 0.8))  # the kill point
            srv.kill()
            with s.cv:
                s.done = True
                s.cv.notify_all()
            ts.join(5)
            tr.join(5)
            acked, sent = s.acked, s.sent
            try:
                s.c.sock.close()
            except OSError:
                pass
            if s.bad:
                tap.check("round %d: writes answered in order without error" % rnd, False,
                          "reply %r" % (s.bad,))
            t0 = time.time()
            try:
                srv.restart()
            except ServerError as e:
                tap.check("round %d: restart after kill -9" % rnd, False, str(e) + srv.log_tail())
                break
            c = RawClient(srv.port)
            tree, problems, zxid = read_tree(c)
            c.close()
            if tree is None:
                tap.check("round %d: tree readable after restart" % rnd, False, "; ".join(problems))
                break
            # which prefix of the stream survived?
            state = dict(model)
            for i in range(acked):
                apply_op(state, ops[i])
            prefix = None
            for p in range(acked, sent + 1):
                if state == tree:
                    prefix = p
                    break
                if p < sent:
                    apply_op(state, ops[p])
            diag = None
            if prefix is None:
                want = dict(model)
                for i in range(acked):
                    apply_op(want, ops[i])
                lost = sorted(k for k in want if tree.get(k) != want[k])[:5]
                extra = sorted(k for k in tree if k not in want)[:5]
                diag = ("acked %d, sent %d: not a prefix; differs at %s, unexpected %s"
                        % (acked, sent, lost, extra))
            tap.check("round %d: kill after %d acked/%d sent writes, restart in %.1fs: "
                      "every acknowledged write is there, nothing after a gap"
                      % (rnd, acked, sent, time.time() - t0), prefix is not None, diag)
            torn = [p for p in tree if p.endswith("a") and p[:-1] + "b" not in tree] + \
                   [p for p in tree if p.endswith("b") and p[:-1] + "a" not in tree]
            tap.check("round %d: no torn multi, tree consistent" % rnd,
                      not problems and not torn, "; ".join(problems) + (" torn: %s" % torn if torn else ""))
            top = max(last_zxid, s.max_zxid)
            tap.check("round %d: zxid did not go back (%#x >= %#x)" % (rnd, zxid, top), zxid >= top)
            last_zxid = max(top, zxid)
            want_count = 5 + 1 + len(tree)  # Apache's count: root twice, 3 reserved, /rl
            got = znode_count(srv)
            tap.eq("round %d: mntr znode count" % rnd, got, want_count)
            model = tree if prefix is not None else model
            if prefix is None:
                break
            d = srv.data_dir
            for root, _, files in os.walk(d):
                snaps_seen.update(f for f in files if "snap" in f)
        tap.check("%d rounds in %.0fs, %d snapshot files seen on the way"
                  % (rounds, time.time() - t_start, len(snaps_seen)),
                  rounds >= 3 and len(snaps_seen) >= 1, "too few rounds or no snapshot taken")
    except Exception:
        import traceback
        tap.check("recovery loop ran", False, traceback.format_exc() + "\n" + srv.log_tail())
    finally:
        srv.close()
    tap.done()


if __name__ == "__main__":
    main()
