#!/usr/bin/python3
"""server_workload — a mixed client load for a zkfs-server under a memory
checker (valgrind, ASan).  Not a test by itself: it drives a server for
SECONDS with kazoo clients (creates, setData, deletes, data and child
watches, ephemerals, transactions) and raw-protocol sessions that go silent
and expire (taking their ephemerals), and prints what it did.  Snapshots
come from the server's own snapCount.

Usage: server_workload.py HOST:PORT [SECONDS]
"""

import random
import sys
import threading
import time

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")

from kazoo.client import KazooClient  # noqa: E402
from kazoo.exceptions import KazooException  # noqa: E402
from zkraw import RawClient, OP, enc  # noqa: E402

HOSTS = sys.argv[1]
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
BASE = "/wl"
counts = {"ops": 0, "events": 0, "errors": 0, "expired_sessions": 0, "txns": 0}
lock = threading.Lock()


def bump(k, n=1):
    with lock:
        counts[k] += n


def worker(idx, stop):
    rng = random.Random(idx)
    zk = KazooClient(hosts=HOSTS, timeout=10.0)
    zk.start(timeout=60)
    me = "%s/w%d" % (BASE, idx)
    zk.ensure_path(me)

    def on_event(ev):
        bump("events")

    while not stop.is_set():
        k = "%s/n%d" % (me, rng.randrange(40))
        try:
            r = rng.random()
            if r < 0.25:
                zk.create(k, b"x" * rng.randrange(300), ephemeral=rng.random() < 0.3)
            elif r < 0.45:
                zk.set(k, b"y" * rng.randrange(2000))
            elif r < 0.55:
                zk.delete(k)
            elif r < 0.70:
                zk.get(k, watch=on_event)
            elif r < 0.80:
                zk.get_children(me, watch=on_event)
            elif r < 0.85:
                zk.exists(k, watch=on_event)
            elif r < 0.95:
                t = zk.transaction()
                t.create(k + "-t", b"t")
                t.set_data(me, b"m")
                t.delete(k + "-t")
                t.commit()
                bump("txns")
            else:
                zk.create(k + "-s", b"", sequence=True, ephemeral=True)
            bump("ops")
        except KazooException:
            bump("errors")  # NodeExists, NoNode, ... are part of the mix
    zk.stop()
    zk.close()


def expirer(stop):
    """Sessions with ephemerals whose connection is dropped without a
    closeSession: the server must expire them."""
    port = int(HOSTS.rsplit(":", 1)[1])
    i = 0
    while not stop.is_set():
        try:
            c = RawClient(port, timeout_ms=4000)
            for j in range(5):
                c.call(OP.CREATE, enc.create("%s/x%d-%d" % (BASE, i, j), b"e", flags=1))
            c.call(OP.GETDATA, enc.path_watch(BASE, True))
            c.sock.close()
            bump("expired_sessions")
        except Exception:
            bump("errors")
        i += 1
        stop.wait(1.0)


def main():
    zk = KazooClient(hosts=HOSTS, timeout=10.0)
    zk.start(timeout=60)
    zk.ensure_path(BASE)
    zk.stop()
    zk.close()
    stop = threading.Event()
    ts = [threading.Thread(target=worker, args=(i, stop)) for i in range(4)]
    ts.append(threading.Thread(target=expirer, args=(stop,)))
    for t in ts:
        t.start()
    time.sleep(SECONDS)
    stop.set()
    for t in ts:
        t.join(60)
    # let the last silent sessions expire
    time.sleep(12)
    zk = KazooClient(hosts=HOSTS, timeout=10.0)
    zk.start(timeout=60)
    left = [c for c in zk.get_children(BASE) if c.startswith("x")]
    zk.stop()
    zk.close()
    print("workload: %s; ephemerals of expired sessions left: %d" % (counts, len(left)))
    sys.exit(1 if left else 0)


if __name__ == "__main__":
    main()
