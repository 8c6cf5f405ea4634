#!/usr/bin/python3
"""diff_apache — differential test: the same raw-protocol sequences run
against Apache ZooKeeper 3.8 and zkfs-server, and every observable result
(error codes, reply sizes, stats, ACLs, multi result shapes, watch events
and their order, setWatches replay, session expiry) must be the same.

Unlike the scenario suites, nothing here states what the answer should be:
Apache's answer is the specification.  Two sequences:
  basic    — znode CRUD, paths, reserved nodes, sequential names, multi and
             multiRead shapes, ephemerals, persistent watches, removeWatches/
             checkWatches, setWatches replay of missed events, digest auth,
             whoAmI and AuthFailed;
  sessions — recursive watches seeing ephemerals come and go, multi with
             ephemerals, closeSession, expiry of a silent session and
             reconnecting to it.
Each result is one TAP line ("<sequence> <n>: <step>").

Usage: diff_apache.py   (TAP on stdout; needs both servers)
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from zkharness import Tap, ZkServer, ServerError  # noqa: E402
from zkraw import OP, enc, parse_multi, Reader, RawClient  # noqa: E402


class Seq(object):
    """Collects (step name, observation) pairs of one run."""

    def __init__(self):
        self.out = []

    def note(self, name, value):
        self.out.append((name, value))

    def call(self, cl, name, op, body):
        r = cl.call(op, body)
        self.note(name, (r.err, len(r.body)))
        return r


def stat_tail(st):
    # the fields that don't depend on zxids, times or session ids:
    # version, cversion, aversion, (ephemeralOwner dropped), dataLength, numChildren
    t = tuple(st)
    return t[4:7] + t[8:10]


def seq_basic(port):
    s = Seq()
    c = RawClient(port)
    d = RawClient(port)
    try:
        s.call(c, "create /a", OP.CREATE, enc.create("/a", b"x"))
        s.call(c, "create2 /a/b", OP.CREATE2, enc.create("/a/b", b"yy"))
        r = s.call(c, "exists /a with watch", OP.EXISTS, enc.path_watch("/a", True))
        s.note("stat of /a", stat_tail(r.reader().stat()))
        s.call(c, "getData /a/ (trailing slash)", OP.GETDATA, enc.path_watch("/a/", True))
        s.call(c, 'getChildren ""', OP.GETCHILDREN, enc.path_watch("", False))
        s.call(c, "addWatch /pw persistent", OP.ADDWATCH, enc.path_int("/pw", 0))
        s.call(c, "removeWatches /pw data", OP.REMOVEWATCHES, enc.path_int("/pw", 2))
        s.call(c, "checkWatches /pw children", OP.CHECKWATCHES, enc.path_int("/pw", 1))
        s.call(c, "checkWatches /pw data", OP.CHECKWATCHES, enc.path_int("/pw", 2))
        s.call(c, "addWatch bad mode", OP.ADDWATCH, enc.path_int("/x", 2))
        s.call(d, "create /pw (other session)", OP.CREATE, enc.create("/pw", b""))
        s.call(d, "create /pw/k (other session)", OP.CREATE, enc.create("/pw/k", b""))
        s.call(c, "sync /", OP.SYNC, enc.path("/"))
        s.note("events after persistent watch", list(c.events))
        c.events = []
        s.call(c, "create sequential /a/s-", OP.CREATE, enc.create("/a/s-", b"", flags=2))
        s.call(c, "create ephemeral sequential /a/", OP.CREATE, enc.create("/a/", b"", flags=3))
        s.call(c, "delete non-empty /a", OP.DELETE, enc.delete("/a"))
        s.call(c, "delete /zookeeper", OP.DELETE, enc.delete("/zookeeper"))
        s.call(c, "setData /zookeeper/config", OP.SETDATA, enc.set_data("/zookeeper/config", b"x"))
        r = s.call(c, "getACL /zookeeper/config", OP.GETACL, enc.path("/zookeeper/config"))
        rd = r.reader()
        s.note("ACL and stat of /zookeeper/config", (rd.acls(), tuple(rd.stat())))
        r = s.call(c, "exists /", OP.EXISTS, enc.path_watch("/", False))
        s.note("stat of /", stat_tail(r.reader().stat()))
        r = c.call(OP.MULTI, enc.multi([(OP.CREATE, enc.create("/mm")), (OP.CREATE, enc.create("/mm"))]))
        s.note("failed multi results", (r.err, parse_multi(r.body)))
        r = c.call(OP.MULTI, enc.multi([(OP.CREATE, enc.create("/mm")),
                                        (OP.SETDATA, enc.set_data("/mm", b"q")),
                                        (OP.CHECK, enc.check("/mm", 1))]))
        s.note("multi create+set+check", (r.err, [(t, e) for t, e, v in parse_multi(r.body)]))
        r = c.call(OP.MULTI, enc.multi([(OP.GETDATA, enc.path_watch("/", False))]))
        s.note("multi holding a read", r.err)
        r = c.call(OP.MULTIREAD, enc.multi([(OP.GETDATA, enc.path_watch("/mm", False)),
                                            (OP.GETCHILDREN, enc.path_watch("/nope", False))]))
        s.note("multiRead results", (r.err, [(t, e) for t, e, v in parse_multi(r.body)]))
        s.call(c, "create ephemeral /e1", OP.CREATE, enc.create("/e1", b"", flags=1))
        s.call(c, "child of an ephemeral", OP.CREATE, enc.create("/e1/x", b""))
        s.call(c, "getEphemerals /", OP.GETEPHEMERALS, enc.path("/"))
        r = s.call(c, "getAllChildrenNumber /", OP.GETALLCHILDRENNUMBER, enc.path("/"))
        s.note("number of descendants of /", r.reader().int())
        c.call(OP.GETDATA, enc.path_watch("/mm", True))
        d.call(OP.GETCHILDREN, enc.path_watch("/mm", True))
        s.call(d, "delete /mm (watched by both)", OP.DELETE, enc.delete("/mm"))
        c.call(OP.SYNC, enc.path("/"))
        s.note("delete events of both sessions", (list(c.events), list(d.events)))
        e = RawClient(port)
        try:
            e.send_request(OP.SETWATCHES, enc.set_watches(1, data=["/a/b", "/nope"], exist=["/pw"],
                                                          child=["/a"]))
            frames = []
            for _ in range(4):
                f = e.recv_frame()
                rr = Reader(f)
                frames.append((rr.int(), rr.int(), f[16:]))
            # the order of replayed events is not part of the protocol
            s.note("setWatches replayed events", sorted(frames))
        finally:
            e.close()
        e = RawClient(port)
        try:
            s.note("digest auth", e.auth("digest", b"alice:pw"))
            err, who = e.whoami()
            s.note("whoAmI after digest auth", (err, sorted(who or [])))
            s.note("second identity, bad scheme", e.auth("nosuch", b"x"))
            s.note("connection closed after AuthFailed", e.wait_closed(5.0))
        finally:
            e.close()
    finally:
        c.close()
        d.close()
    return s.out


def seq_sessions(port):
    s = Seq()
    c = RawClient(port)
    d = RawClient(port, timeout_ms=4000)
    e = None
    try:
        s.note("negotiated timeout", d.negotiated_timeout)
        s.call(c, "addWatch / recursive", OP.ADDWATCH, enc.path_int("/", 1))
        s.call(d, "create /r", OP.CREATE, enc.create("/r", b"1"))
        s.call(d, "create ephemeral /r/e", OP.CREATE, enc.create("/r/e", b"", flags=1))
        s.call(d, "create ephemeral sequential /r/s", OP.CREATE, enc.create("/r/s", b"", flags=3))
        r = s.call(c, "exists /r", OP.EXISTS, enc.path_watch("/r", False))
        s.note("stat of /r", stat_tail(r.reader().stat()))
        s.call(c, "getChildren /r with watch", OP.GETCHILDREN, enc.path_watch("/r", True))
        s.call(c, "getData /r/e with watch", OP.GETDATA, enc.path_watch("/r/e", True))
        s.call(d, "setData /r", OP.SETDATA, enc.set_data("/r", b"2"))
        r = c.call(OP.MULTI, enc.multi([(OP.CREATE, enc.create("/r/m", b"", flags=1)),
                                        (OP.DELETE, enc.delete("/r/e")),
                                        (OP.SETDATA, enc.set_data("/r", b"3", 1))]))
        s.note("multi with an ephemeral", (r.err, [(t, e_) for t, e_, v in parse_multi(r.body)]))
        c.call(OP.SYNC, enc.path("/"))
        s.note("events of the recursive watch", sorted(c.events))
        c.events = []
        d.call(OP.CLOSE, b"")
        c.call(OP.SYNC, enc.path("/"))
        s.note("events of closeSession", sorted(c.events))
        c.events = []
        r = s.call(c, "getChildren2 /r", OP.GETCHILDREN2, enc.path_watch("/r", False))
        rd = r.reader()
        ch = sorted(rd.strvec())
        s.note("children and stat of /r", (ch, stat_tail(rd.stat())))
        e = RawClient(port, timeout_ms=4000)
        s.call(e, "create ephemeral /r/exp", OP.CREATE, enc.create("/r/exp", b"", flags=1))
        s.call(c, "exists /r/exp with watch", OP.EXISTS, enc.path_watch("/r/exp", True))
        t0 = time.time()
        while time.time() - t0 < 15:
            r = c.call(OP.EXISTS, enc.path_watch("/r/exp", False))
            if r.err:
                break
            time.sleep(0.2)
        s.note("silent session expired (3 s < t < 15 s)", (r.err, time.time() - t0 >= 3))
        s.note("events of expiry", sorted(c.events))
        c.events = []
        try:
            f = RawClient(port, session_id=e.session_id, passwd=e.passwd)
            s.note("reconnect to the expired session", (f.negotiated_timeout, f.session_id))
            f.close(session=False)
        except Exception as ex:  # a refused handshake is an observation too
            s.note("reconnect to the expired session", "refused: %s" % type(ex).__name__)
    finally:
        c.close()
        d.close(session=False)
        if e:
            e.close(session=False)
    return s.out


SEQUENCES = [("basic", seq_basic), ("sessions", seq_sessions)]


def main():
    tap = Tap()
    for name, fn in SEQUENCES:
        res = {}
        why = None
        for kind in ("apache", "zkfs"):
            try:
                with ZkServer(kind) as srv:
                    res[kind] = fn(srv.port)
            except (ServerError, OSError, ValueError) as ex:
                why = "%s: %s: %s" % (kind, type(ex).__name__, ex)
                break
        if why:
            tap.check("%s: both servers ran the sequence" % name, False, why)
            continue
        a, z = res["apache"], res["zkfs"]
        tap.eq("%s: same number of results" % name, len(z), len(a))
        for i, (ra, rz) in enumerate(zip(a, z)):
            tap.eq("%s %d: %s" % (name, i + 1, ra[0]), rz, ra)
    tap.done()


if __name__ == "__main__":
    main()
