#!/usr/bin/python3
"""diff_fuzz — differential testing against Apache ZooKeeper 3.8.

A seeded random sequence of requests (creates in every mode, deletes and
setData with right and wrong versions, setACL with digest/world/ip ACLs,
multi and multiRead with random sub-operations, reads with watches,
addWatch persistent/recursive, removeWatches, checkWatches, getEphemerals,
getAllChildrenNumber, sync, session close) is sent, one at a
time, by three sessions (one authenticated as a digest user) to Apache
ZooKeeper and then, identically, to zkfs-server.  After each step the
watching session pings, so every notification the step caused has arrived.
Each step's normalised outcome (error code, data, stat without
zxids/times/session ids, children, multi results, notifications per session)
must be the same on both servers; the first divergence is reported with the
steps before it.  Finally the whole tree (data, stats, ACLs) is compared.

Usage: diff_fuzz.py [both]   (needs both servers; FUZZ_SEEDS=1,2,3 FUZZ_STEPS=1500;
FUZZ_READABLE=1 uses only ACLs that let everyone read)
"""

import json
import os
import random
import sys
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from zkharness import Tap, ZkServer, ServerError, kinds_from_args  # noqa: E402
from zkraw import RawClient, OP, enc, Closed, ustr, i32, acls  # noqa: E402

SEEDS = [int(x) for x in os.environ.get("FUZZ_SEEDS", "1,2,3").split(",")]
STEPS = int(os.environ.get("FUZZ_STEPS", "1500"))
ALICE = ("digest", "alice:" + __import__("base64").b64encode(
    __import__("hashlib").sha1(b"alice:pw").digest()).decode())
ACLS = [
    [(31, "world", "anyone")],
    [(1, "world", "anyone")],                     # read only
    [(31,) + ALICE],                              # alice only
    [(31,) + ALICE, (1, "world", "anyone")],
    [(5, "world", "anyone")],                     # read + create
    [(31, "ip", "127.0.0.1")],
    [(31, "ip", "10.0.0.0/8")],                   # nobody here
    [(24, "world", "anyone"), (7,) + ALICE],
]
if os.environ.get("FUZZ_READABLE"):
    # every ACL lets everyone read (isolates notification differences from READ checks)
    ACLS = [a for a in ACLS if any(p & 1 and s == "world" for p, s, _ in a)]
NAMES = ["a", "b"]
DATA = [b"", b"x", b"hello", b"\0\1\2", None, b"z" * 300]


class Norm(object):
    """Maps session ids to stable names for one server's run."""

    def __init__(self):
        self.sess = {}

    def stat(self, st):
        if st is None:
            return None
        owner = st.ephemeralOwner
        return [st.version, st.cversion, st.aversion, self.sess.get(owner, "0" if owner == 0 else "other"),
                st.dataLength, st.numChildren, st.czxid == st.mzxid, st.pzxid >= st.czxid]

    def data(self, d):
        return None if d is None else d.hex()


def gen_steps(seed):
    """The same list of abstract steps for every server."""
    rnd = random.Random(seed)
    steps = []

    def path():
        depth = rnd.choice([1, 1, 1, 2, 2, 3])
        return "/f/" + "/".join(rnd.choice(NAMES) for _ in range(depth))

    def version():
        return rnd.choice([-1, -1, 0, 0, 1, 2])

    def sub_op(read=False):
        if read:
            return rnd.choice([("get", path()), ("children", path())])
        k = rnd.choice(["create", "create", "delete", "set", "check"])
        if k == "create":
            return ("create", path(), rnd.choice(DATA), rnd.choice([0, 0, 1, 2, 3]))
        if k == "delete":
            return ("delete", path(), version())
        if k == "set":
            return ("set", path(), rnd.choice(DATA), version())
        return ("check", path(), version())

    for _ in range(STEPS):
        who = rnd.choice([0, 0, 1, 2])
        k = rnd.choices(["create", "delete", "set", "get", "exists", "children", "getacl", "setacl", "multi",
                         "multiread", "ephemerals", "allchildren", "sync", "reconnect", "addwatch",
                         "rmwatch"],
                        [22, 12, 12, 8, 6, 8, 3, 4, 8, 3, 2, 2, 1, 1, 2, 2])[0]
        p = path()
        if k == "create":
            flags = rnd.choice([0, 0, 0, 1, 1, 2, 3, 4, 5, 6])
            steps.append((who, "create", p + rnd.choice(["", "", "-"]), rnd.choice(DATA), flags,
                          rnd.choice(ACLS) if rnd.random() < 0.25 else ACLS[0]))
        elif k == "delete":
            steps.append((who, "delete", p, version()))
        elif k == "set":
            steps.append((who, "set", p, rnd.choice(DATA), version()))
        elif k in ("get", "exists", "children"):
            # Session 2 holds the persistent watches and no one-shot ones:
            # Apache 3.8 lets a one-shot watch replace a persistent watch of
            # the same connection on the same path (fixed later upstream).
            steps.append((who, k, p, who != 2 and rnd.random() < 0.5))
        elif k == "getacl":
            steps.append((who, k, p))
        elif k == "setacl":
            steps.append((who, k, p, rnd.choice(ACLS), rnd.choice([-1, -1, 0, 1])))
        elif k == "multi":
            steps.append((who, k, [sub_op() for _ in range(rnd.randint(1, 4))]))
        elif k == "multiread":
            steps.append((who, k, [sub_op(True) for _ in range(rnd.randint(1, 3))]))
        elif k == "ephemerals":
            steps.append((who, k, rnd.choice(["/", "/f", "/f/a", "/f/b/"])))
        elif k == "allchildren":
            steps.append((who, k, rnd.choice(["/f", "/f/a", p])))
        elif k == "sync":
            steps.append((who, k, p))
        elif k == "addwatch":
            # One mode per path: Apache 3.8 lets a second addWatch replace the
            # first one's mode, 3.9 keeps both (ZOOKEEPER-4466); stay out of it.
            wp = rnd.choice([p, "/f"])
            steps.append((2, k, wp, (len(wp) + wp.count("a")) % 2))
        elif k == "rmwatch":
            # (no checkWatches: Apache 3.8 answers OK when any connection
            # watches the path, zkfs only for the caller's own watches)
            # Session 2's persistent watches are removed with type 3 (any):
            # 3.8 has no persistent types, and removing only the data or child
            # half of a persistent watch leaves 3.8 in a half-removed state.
            steps.append((who, k, p, 3 if who == 2 else rnd.choice([1, 2, 3])))
        else:
            steps.append((who, "reconnect"))  # session `who` closes; a fresh one takes its place
    return steps


def sub_record(op):
    if op[0] == "create":
        return (OP.CREATE, ustr(op[1]) + (i32(-1) if op[2] is None else i32(len(op[2])) + op[2])
                + acls(ACLS[0]) + i32(op[3]))
    if op[0] == "delete":
        return (OP.DELETE, enc.delete(op[1], op[2]))
    if op[0] == "set":
        return (OP.SETDATA, ustr(op[1]) + (i32(-1) if op[2] is None else i32(len(op[2])) + op[2]) + i32(op[3]))
    if op[0] == "check":
        return (OP.CHECK, enc.check(op[1], op[2]))
    if op[0] == "get":
        return (OP.GETDATA, enc.path_watch(op[1], False))
    return (OP.GETCHILDREN, enc.path_watch(op[1], False))


class Runner(object):
    def __init__(self, srv):
        self.srv = srv
        self.norm = Norm()
        self.clients = [None, None, None]
        self.gen = [0, 0, 0]
        for i in range(3):
            self.open(i)
        self.clients[0].create("/f")

    def open(self, i):
        c = RawClient(self.srv.port, timeout_ms=30000)
        if i == 1:
            c.auth("digest", b"alice:pw")
        self.gen[i] += 1
        self.norm.sess[c.session_id] = "s%d.%d" % (i, self.gen[i])
        self.clients[i] = c

    def rel(self, p):
        return p

    def step(self, st):
        who = st[0]
        c = self.clients[who]
        n = self.norm
        k = st[1]
        if k == "create":
            _, _, p, data, flags, acl = st
            ttl = 3600 * 1000 if flags in (5, 6) else None
            op = OP.CREATETTL if ttl else (OP.CREATECONTAINER if flags == 4 else OP.CREATE2)
            rep = c.call(op, ustr(p) + (i32(-1) if data is None else i32(len(data)) + data) + acls(acl) + i32(flags)
                         + (__import__("struct").pack(">q", ttl) if ttl else b""))
            if rep.err:
                out = [rep.err]
            else:
                r = rep.reader()
                out = [0, r.str(), n.stat(r.stat())]
        elif k == "delete":
            out = [c.delete(st[2], st[3])]
        elif k == "set":
            rep = c.call(OP.SETDATA, ustr(st[2]) + (i32(-1) if st[3] is None else i32(len(st[3])) + st[3]) + i32(st[4]))
            out = [rep.err, n.stat(rep.reader().stat()) if rep.err == 0 else None]
        elif k == "get":
            err, d, s = c.get_data(st[2], st[3])
            out = [err, n.data(d), n.stat(s)]
        elif k == "exists":
            err, s = c.exists(st[2], st[3])
            out = [err, n.stat(s)]
        elif k == "children":
            err, kids, s = c.get_children2(st[2], st[3])
            out = [err, sorted(kids) if kids is not None else None, n.stat(s)]
        elif k == "getacl":
            err, a, s = c.get_acl(st[2])
            out = [err, a, n.stat(s)]
        elif k == "setacl":
            err, s = c.set_acl(st[2], st[3], st[4])
            out = [err, n.stat(s)]
        elif k in ("multi", "multiread"):
            err, res = c.multi([sub_record(o) for o in st[2]], OP.MULTI if k == "multi" else OP.MULTIREAD)
            norm = []
            for t, e, v in res or []:
                if t == OP.CREATE2:
                    t, v = OP.CREATE, v[0]     # 3.8 and 3.9 differ here; both are fine
                if t == OP.SETDATA:
                    v = n.stat(v)
                elif t == OP.GETDATA:
                    v = [n.data(v[0]), n.stat(v[1])]
                elif t == OP.GETCHILDREN:
                    v = sorted(v)
                norm.append([t, e, v])
            out = [err, norm]
        elif k == "ephemerals":
            err, v = c.get_ephemerals(st[2])
            out = [err, sorted(v) if v is not None else None]
        elif k == "allchildren":
            out = list(c.get_all_children_number(st[2]))
        elif k == "sync":
            out = list(c.sync(st[2]))
        elif k == "addwatch":
            out = [c.add_watch(st[2], st[3])]
        elif k == "rmwatch":
            out = [c.remove_watches(st[2], st[3])]
        elif k == "checkwatch":
            out = [c.check_watches(st[2], st[3])]
        elif k == "reconnect":
            c.close()
            self.open(who)
            out = ["reopened"]
        else:
            raise ValueError(k)
        # let every session receive what this step triggered
        evs = []
        for i, cl in enumerate(self.clients):
            cl.ping()
            got = list(cl.events)
            if k == "reconnect":
                got.sort()  # the order a closing session's ephemerals go is unspecified
            evs.append(got)
            cl.events.clear()
        return [out, evs]

    def dump(self):
        c = self.clients[2]
        out = {}

        def walk(p):
            err, d, s = c.get_data(p)
            if err:
                out[p] = [err]
                return
            err2, a, _ = c.get_acl(p)
            kids = c.get_children(p)[1] or []
            out[p] = [self.norm.data(d), self.norm.stat(s), a]
            for k in sorted(kids):
                walk((p if p != "/" else "") + "/" + k)
        walk("/f")
        return out

    def close(self):
        for c in self.clients:
            try:
                c.close()
            except Exception:
                pass


def run_seed(kind, seed, steps):
    with ZkServer(kind, extra_cfg={"znode.container.checkIntervalMs": 3600000}) as srv:
        r = Runner(srv)
        trace = []
        try:
            for st in steps:
                try:
                    trace.append(r.step(st))
                except Closed as e:
                    trace.append(["connection %s" % ("timeout" if e.timeout else "closed")])
                    who = st[0]
                    r.open(who)
            tree = r.dump()
        finally:
            r.close()
        return trace, tree


def main():
    tap = Tap()
    kinds = kinds_from_args()
    if kinds != ["apache", "zkfs"]:
        tap.skip("differential fuzz", "needs both servers (got %s)" % ",".join(kinds))
        tap.done()
    for seed in SEEDS:
        steps = gen_steps(seed)
        res = {}
        for kind in kinds:
            try:
                res[kind] = run_seed(kind, seed, steps)
            except (ServerError, Exception):
                res[kind] = None
                tap.check("seed %d: %s ran %d steps" % (seed, kind, len(steps)), False, traceback.format_exc())
        if not res.get("apache") or not res.get("zkfs"):
            continue
        (ta, treea), (tz, treez) = res["apache"], res["zkfs"]
        first = None
        for i, (a, z) in enumerate(zip(ta, tz)):
            if json.dumps(a, default=repr) != json.dumps(z, default=repr):
                first = i
                break
        diag = None
        if first is not None:
            lines = ["first divergence at step %d of %d" % (first, len(steps))]
            for j in range(max(0, first - 4), first + 1):
                lines.append("step %d: %r" % (j, steps[j]))
                lines.append("   apache: %s" % json.dumps(ta[j], default=repr)[:600])
                lines.append("   zkfs:   %s" % json.dumps(tz[j], default=repr)[:600])
            diag = "\n".join(lines)
        tap.check("seed %d: %d steps, identical replies and notifications" % (seed, len(steps)), first is None, diag)
        missing = sorted(set(treea) ^ set(treez))
        differ = sorted(p for p in set(treea) & set(treez) if treea[p] != treez[p])
        tap.check("seed %d: identical final tree (%d znodes)" % (seed, len(treea)), not missing and not differ,
                  "only on one side: %r\ndiffering: %s" % (missing[:10], "\n".join(
                      "%s apache=%r zkfs=%r" % (p, treea[p], treez[p]) for p in differ[:10])))
    tap.done()


if __name__ == "__main__":
    main()
