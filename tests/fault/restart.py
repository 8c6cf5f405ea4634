#!/usr/bin/python3
"""restart — what clients see across a graceful server restart, against
Apache ZooKeeper 3.8 and zkfs-server: a connected kazoo session survives
(same session id, ephemerals kept), its watches are re-registered by the
client (setWatches) and fire for changes made after the restart, a change
made while the client was disconnected fires on reconnect, zxids keep
growing, and an idle session is kept alive by pings well past its timeout.

Usage: restart.py [apache|zkfs|both]   (default both; TAP on stdout)
"""

import os
import sys
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from kazoo.client import KazooClient  # noqa: E402

from zkharness import Tap, ZkServer, ServerError, kinds_from_args, wait_for  # noqa: E402
from zkraw import RawClient  # noqa: E402


def kazoo(srv, timeout=10.0):
    zk = KazooClient(hosts=srv.hosts, timeout=timeout,
                     connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 0.5},
                     command_retry={"max_tries": -1, "delay": 0.05, "max_delay": 0.5, "deadline": 30})
    zk.start(timeout=10)
    return zk


def run(tap, kind):
    try:
        srv = ZkServer(kind, extra_cfg={"tickTime": 500})
    except ServerError as e:
        tap.check("%s: server start" % kind, False, str(e))
        return
    with srv:
        zk = kazoo(srv)
        try:
            sid = zk.client_id[0]
            zk.create("/r/e", b"eph", ephemeral=True, makepath=True)
            zk.create("/r/d", b"0")
            zk.create("/r/later", b"0")
            st0 = zk.exists("/r/d")
            # kazoo 2.8 drops its watches on disconnect; the Java and C clients
            # re-register them with setWatches: do what they do, frame by frame.
            w = RawClient(srv.port, timeout_ms=10000)
            w.get_data("/r/d", watch=True)
            w.get_children("/r", watch=True)
            w.get_data("/r/later", watch=True)
            wsid, wpw = w.session_id, w.passwd
            w.ping()
            seen = w.last_zxid
            w.sock.close()
            srv.stop()
            srv.restart()
            other = RawClient(srv.port)
            other.set_data("/r/later", b"1")    # changed before the watcher is back
            ok = wait_for(lambda: zk.connected and zk.client_id[0] == sid, 20, 0.1)
            tap.check("%s: kazoo reconnects to the same session after a restart" % kind, ok,
                      "connected %s, session %#x vs %#x" % (zk.connected, zk.client_id[0], sid))
            tap.check("%s: ephemeral survives a graceful restart" % kind, zk.exists("/r/e") is not None)
            w = RawClient(srv.port, handshake=False)
            to, wsid2, _ = w.connect(timeout_ms=10000, session_id=wsid, passwd=wpw, last_zxid=seen)
            tap.check("%s: raw session resumed after the restart" % kind, wsid2 == wsid and to > 0,
                      "session %#x -> %#x, timeout %d" % (wsid, wsid2, to))
            err = w.set_watches2(seen, data=["/r/d", "/r/later"], child=["/r"])
            tap.eq("%s: change made while the watcher was away fires at setWatches2" % kind,
                   (err, w.events), (0, [(3, 3, "/r/later")]))
            w.events.clear()
            other.set_data("/r/d", b"1")
            other.create("/r/new")
            w.wait_events(2, 5)
            tap.eq("%s: re-registered watches fire after the restart" % kind, sorted(w.events),
                   [(3, 3, "/r/d"), (4, 3, "/r")])
            w.close()
            st1 = zk.exists("/r/d")
            tap.check("%s: zxids keep growing across the restart" % kind, st1.mzxid > st0.mzxid,
                      "%#x -> %#x" % (st0.mzxid, st1.mzxid))
            other.close()
            # idle session kept alive by pings (timeout is 2 s at most here)
            c = RawClient(srv.port, timeout_ms=2000)
            c.create("/r/idle", b"", flags=1)
            zk2 = kazoo(srv, timeout=2.0)
            zk2.create("/r/idle2", ephemeral=True)
            c.sock.close()  # the raw one stops pinging: it must expire
            time.sleep(6)
            tap.check("%s: an idle kazoo session is kept alive by pings (6 s, timeout 2 s)" % kind,
                      zk2.connected and zk.exists("/r/idle2") is not None)
            tap.check("%s: a silent session expires" % kind,
                      wait_for(lambda: zk.exists("/r/idle") is None, 10, 0.2))
            zk2.stop()
            zk2.close()
            # kill -9 with a live kazoo session: after restart it resumes
            srv.kill()
            srv.restart()
            ok = wait_for(lambda: zk.connected and zk.client_id[0] == sid and zk.exists("/r/e") is not None, 20, 0.2)
            tap.check("%s: session and ephemeral survive kill -9 and restart" % kind, ok)
        except Exception:
            tap.check("%s: restart scenario" % kind, False, traceback.format_exc())
        finally:
            zk.stop()
            zk.close()


def main():
    tap = Tap()
    for kind in kinds_from_args():
        run(tap, kind)
    tap.done()


if __name__ == "__main__":
    main()
