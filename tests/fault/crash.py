#!/usr/bin/python3
"""crash — durability under kill -9.  Several clients write as fast as they
can (creates of persistent, sequential and ephemeral nodes, and setData),
recording every acknowledged write; the server is killed with SIGKILL in
the middle and restarted on the same data.  Then: every acknowledged write
is there (a write in flight at the kill may or may not be), data and
versions agree, the tree is consistent (numChildren, children lists,
cversion, sequence numbers keep growing, new zxids are above every zxid
acknowledged before), the dead clients' sessions still exist after the
restart and expire, taking their ephemerals with them.  A second part kills
the server, appends garbage to the newest transaction log file (a torn
tail) and checks that the server recovers with every acknowledged write.

Usage: crash.py [apache|zkfs|both]   (default both; TAP on stdout)
"""

import glob
import os
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from zkharness import Tap, ZkServer, ServerError, kinds_from_args, wait_for  # noqa: E402
from zkraw import RawClient, Closed  # noqa: E402

WRITERS = int(os.environ.get("CRASH_WRITERS", "4"))
LOAD_SECONDS = float(os.environ.get("CRASH_LOAD_SECONDS", "2.5"))
SESSION_MS = 4000


class Writer(threading.Thread):
    """One client: creates /crash/wI-N (data "path:version"), sets data on
    its own nodes, creates a sequential and an ephemeral node now and then.
    acked[path] = highest acknowledged version; inflight = the one write
    whose fate is unknown when the connection breaks."""

    def __init__(self, port, idx, base):
        threading.Thread.__init__(self, daemon=True)
        self.port, self.idx, self.base = port, idx, base
        self.acked = {}
        self.seq_acked = []
        self.eph_acked = []
        self.max_zxid = 0
        self.inflight = None
        self.error = None
        self.ops = 0
        self.session = None

    def run(self):
        try:
            c = RawClient(self.port, timeout_ms=SESSION_MS)
            self.session = c.session_id
        except Exception as e:
            self.error = "connect: %s" % e
            return
        n = 0
        try:
            while True:
                n += 1
                if n % 3 == 0 and self.acked:
                    path = "%s/w%d-%d" % (self.base, self.idx, (n * 7919) % len(self.acked) + 1)
                    if path not in self.acked:
                        continue
                    v = self.acked[path] + 1
                    self.inflight = ("set", path, v)
                    err, st = c.set_data(path, ("%s:%d" % (path, v)).encode(), self.acked[path])
                    if err:
                        self.error = "setData %s -> %d" % (path, err)
                        return
                    self.acked[path] = st.version
                    self.max_zxid = max(self.max_zxid, st.mzxid)
                elif n % 10 == 1:
                    self.inflight = ("seq", None, None)
                    err, p, st = c.create("%s/seq/s-" % self.base, b"", flags=2)
                    if err:
                        self.error = "seq create -> %d" % err
                        return
                    self.seq_acked.append(p)
                    self.max_zxid = max(self.max_zxid, st.czxid)
                elif n % 10 == 5:
                    path = "%s/eph/w%d-%d" % (self.base, self.idx, n)
                    self.inflight = ("eph", path, None)
                    err, p, st = c.create(path, b"", flags=1)
                    if err:
                        self.error = "eph create -> %d" % err
                        return
                    self.eph_acked.append(path)
                    self.max_zxid = max(self.max_zxid, st.czxid)
                else:
                    path = "%s/w%d-%d" % (self.base, self.idx, len(self.acked) + 1)
                    self.inflight = ("create", path, 0)
                    err, p, st = c.create(path, ("%s:0" % path).encode())
                    if err:
                        self.error = "create %s -> %d" % (path, err)
                        return
                    self.acked[path] = 0
                    self.max_zxid = max(self.max_zxid, st.czxid)
                self.inflight = None
                self.ops += 1
        except (Closed, OSError, ValueError):
            return  # the kill


def verify(c, base, writers):
    """Returns a list of problems (empty = all good)."""
    probs = []
    err, kids, st = c.get_children2(base)
    if err:
        return ["getChildren %s -> %d" % (base, err)]
    kids = set(kids)
    if st.numChildren != len(kids):
        probs.append("%s numChildren %d but %d children" % (base, st.numChildren, len(kids)))
    expected = set(["seq", "eph"])
    maybe = set()
    for w in writers:
        for p in w.acked:
            expected.add(p.rsplit("/", 1)[1])
        if w.inflight and w.inflight[0] == "create":
            maybe.add(w.inflight[1].rsplit("/", 1)[1])
    missing = expected - kids
    extra = kids - expected - maybe
    if missing:
        probs.append("%d acknowledged creates missing, e.g. %s" % (len(missing), sorted(missing)[:5]))
    if extra:
        probs.append("unexpected children %s" % sorted(extra)[:5])
    for w in writers:
        for p, v in w.acked.items():
            err, data, st = c.get_data(p)
            if err:
                continue  # already reported as missing
            infl = w.inflight and w.inflight[0] == "set" and w.inflight[1] == p
            if not (st.version == v or (infl and st.version == v + 1)):
                probs.append("%s version %d, acknowledged %d" % (p, st.version, v))
            if data != ("%s:%d" % (p, st.version)).encode():
                probs.append("%s data %r does not match its version %d" % (p, data, st.version))
            if len(probs) > 20:
                return probs
    # sequential nodes
    err, seqs = c.get_children(base + "/seq")
    seqs = set(seqs or [])
    acked_seq = set(p.rsplit("/", 1)[1] for w in writers for p in w.seq_acked)
    if acked_seq - seqs:
        probs.append("acknowledged sequential nodes missing: %s" % sorted(acked_seq - seqs)[:5])
    top = max([int(s[2:]) for s in seqs] or [-1])
    err, p, st = c.create(base + "/seq/s-", b"", flags=2)
    if err or int(p.rsplit("-", 1)[1]) <= top:
        probs.append("sequence after restart %r not above %d" % (p, top))
    # zxids move forward
    maxz = max(w.max_zxid for w in writers)
    if st is not None and st.czxid <= maxz:
        probs.append("new zxid %#x not above acknowledged %#x" % (st.czxid, maxz))
    return probs


def crash_cycle(tap, srv, kind, cycle):
    base = "/crash%d" % cycle
    c = RawClient(srv.port)
    for p in (base, base + "/seq", base + "/eph"):
        c.create(p)
    c.close()
    writers = [Writer(srv.port, i, base) for i in range(WRITERS)]
    for w in writers:
        w.start()
    time.sleep(LOAD_SECONDS)
    t_kill = time.time()
    srv.kill()
    for w in writers:
        w.join(10)
    ops = sum(w.ops for w in writers)
    errs = [w.error for w in writers if w.error]
    tap.check("%s: cycle %d: load ran (%d acknowledged writes) without errors" % (kind, cycle, ops),
              ops > 50 and not errs, "errors: %r, ops %d" % (errs, ops))
    t0 = time.time()
    try:
        srv.restart()
    except ServerError as e:
        tap.check("%s: cycle %d: restart after kill -9" % (kind, cycle), False, str(e))
        return False
    tap.check("%s: cycle %d: restart after kill -9 (%.1fs)" % (kind, cycle, time.time() - t0), True)
    c = RawClient(srv.port)
    try:
        probs = verify(c, base, writers)
        tap.check("%s: cycle %d: every acknowledged write survived, tree consistent" % (kind, cycle),
                  not probs, "\n".join(probs[:20]))
        # the dead clients' ephemerals: still there right after restart (sessions
        # are durable), gone once those sessions expire
        eph_acked = [p for w in writers for p in w.eph_acked]
        err, now = c.get_children(base + "/eph")
        present = len([p for p in eph_acked if p.rsplit("/", 1)[1] in (now or [])])
        gone = wait_for(lambda: c.get_children(base + "/eph")[1] == [], (time.time() - t_kill) + SESSION_MS / 1000.0 + 10, 0.2)
        tap.check("%s: cycle %d: dead sessions' ephemerals (%d of %d present after restart) expire"
                  % (kind, cycle, present, len(eph_acked)), gone,
                  "still there: %r" % (c.get_children(base + "/eph")[1] or [])[:5])
    finally:
        c.close()
    return True


def newest_log(data_dir):
    files = [f for f in glob.glob(os.path.join(data_dir, "**", "log.*"), recursive=True) if os.path.isfile(f)]
    if not files:
        files = [f for f in glob.glob(os.path.join(data_dir, "**", "*log*"), recursive=True) if os.path.isfile(f)]
    return max(files, key=lambda f: (os.path.getmtime(f), f)) if files else None


def data_end(path):
    """Offset just past the last non-zero byte of the file."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        pos = size
        while pos > 0:
            n = min(1 << 20, pos)
            f.seek(pos - n)
            chunk = f.read(n).rstrip(b"\0")
            if chunk:
                return pos - n + len(chunk)
            pos -= n
    return 0


def torn_tail(tap, kind):
    name = "%s: torn log tail" % kind
    if kind == "apache":
        tap.skip(name, "Apache ZooKeeper 3.8 refuses to start on a log with a torn tail (CRC check failed)")
        return
    try:
        srv = ZkServer(kind, extra_cfg={"tickTime": 2000})
    except ServerError as e:
        tap.check(name + ": server start", False, str(e))
        return
    with srv:
        c = RawClient(srv.port)
        c.create("/torn")
        acked = []
        for i in range(300):
            err, p, st = c.create("/torn/n%d" % i, b"x" * 100)
            if err == 0:
                acked.append(p)
        c.set_data("/torn", b"last")
        srv.kill()
        log = newest_log(srv.data_dir)
        if not log:
            tap.check(name + ": find the transaction log", False, "no log.* file under %s: %r"
                      % (srv.data_dir, [os.path.relpath(os.path.join(d, f), srv.data_dir)
                                        for d, _, fs in os.walk(srv.data_dir) for f in fs]))
            return
        size = os.path.getsize(log)
        end = data_end(log)
        # A torn tail: the start of a record that never finished, right after
        # the last complete one (log files may be preallocated with zeros).
        with open(log, "r+b") as f:
            f.seek(end)
            f.write(os.urandom(3000))
        tap.check(name + ": wrote 3000 garbage bytes at offset %d of %s (%d bytes)"
                  % (end, os.path.relpath(log, srv.dir), size), True)
        try:
            srv.restart()
        except ServerError as e:
            tap.check(name + ": server recovers", False, str(e))
            return
        tap.check(name + ": server recovers", True)
        c = RawClient(srv.port)
        err, kids = c.get_children("/torn")
        missing = set(p.rsplit("/", 1)[1] for p in acked) - set(kids or [])
        d = c.get_data("/torn")[1]
        tap.check(name + ": every acknowledged write is there", err == 0 and not missing and d == b"last",
                  "err %d, missing %d (e.g. %s), /torn data %r" % (err, len(missing), sorted(missing)[:3], d))
        err, p, st = c.create("/torn/after", b"y")
        tap.check(name + ": writes work after recovery", err == 0, "create -> %d" % err)
        c.close()
        # and it survives one more restart (the log is usable after truncation)
        srv.restart()
        c = RawClient(srv.port)
        tap.check(name + ": data survives a second restart", c.exists("/torn/after")[0] == 0 and
                  c.get_children2("/torn")[2].numChildren == len(acked) + 1, "")
        c.close()
        # Cut the last record in half (as if its write never completed; the
        # client that sent it may have lost its reply): the server must
        # still start, lose at most that one write and keep everything else.
        c = RawClient(srv.port)
        for i in range(50):
            c.create("/torn/cut%d" % i, b"z" * 100)
        c.close()
        srv.kill()
        log = newest_log(srv.data_dir)
        end = data_end(log)
        with open(log, "r+b") as f:
            f.seek(end - 60)
            f.write(b"\0" * 60)
        try:
            srv.restart()
        except ServerError as e:
            tap.check(name + ": recovers from a half-written last record", False, str(e))
            return
        c = RawClient(srv.port)
        kids = set(c.get_children("/torn")[1] or [])
        lost = [i for i in range(50) if "cut%d" % i not in kids]
        tap.check(name + ": recovers from a half-written last record, losing at most it",
                  lost in ([], [49]), "lost %r" % lost)
        c.close()


def main():
    tap = Tap()
    for kind in kinds_from_args():
        try:
            srv = ZkServer(kind, extra_cfg={"tickTime": 2000})
        except ServerError as e:
            tap.check("%s: server start" % kind, False, str(e))
            continue
        with srv:
            for cycle in (1, 2):
                try:
                    if not crash_cycle(tap, srv, kind, cycle):
                        break
                except Exception:
                    tap.check("%s: cycle %d" % (kind, cycle), False, traceback.format_exc())
                    break
        try:
            torn_tail(tap, kind)
        except Exception:
            tap.check("%s: torn log tail" % kind, False, traceback.format_exc())
    tap.done()


if __name__ == "__main__":
    main()
