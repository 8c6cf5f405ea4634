"""zkload — load for ensemble fault tests that records a history a
linearizability checker can judge (tests/lib/linearizability.py).

    rec = Recorder(ens, "/lin-phase1", clients=6, keys=3)
    rec.start()
    ...  kill, partition, restart members ...
    rec.stop()
    rec.final_reads(ens.members)          # sync + read every key on every member
    res = rec.check()                     # linearizability.Result
    same, table = converged(ens, rec)     # every member serves the same data

Each client is a kazoo client in its own thread, with its own session, its
connection string starting at "its" member (clients are spread over the
members, observers included) so that kills hit clients on every kind of
member; kazoo fails over to the next member in the string.  A client does
one operation at a time on one of a few keys under the phase's base path:

    read    sync(key) then get(key)           -> (value, version) or None
    write   set(key, value, -1)               -> new version, or NoNode
    cas     set(key, value, version it saw)   -> new version, BadVersion, NoNode
    create  create(key, value)                -> ok or NodeExists

Values are unique ("c3-17": client 3's 17th op), so a read names the write
it saw.  Times are time.monotonic() just before the call and just after the
answer.  An answer that is neither a result nor a definite ZooKeeper error
(connection loss, session expiry, our own timeout of op_timeout seconds)
makes the op's outcome unknown; a read whose client changed connection
between its sync and its get is recorded unknown too (its get may have been
served by a member that was not synced).
"""

import logging
import random
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError
from kazoo.protocol.states import KazooState

from linearizability import Op, check, READ, WRITE, CAS, CREATE, OK, FAIL, UNKNOWN

logging.getLogger("kazoo").setLevel(logging.CRITICAL)

# An exception that kills one of kazoo's threads (e.g. "xids do not match":
# a server answered a session's requests out of order) leaves that client
# dead without any op failing definitely; record it so a phase can fail.
thread_crashes = []
_default_hook = threading.excepthook


def _hook(args):
    thread_crashes.append("%s in thread %s: %s" % (args.exc_type.__name__, args.thread.name if args.thread
                                                   else "?", args.exc_value))
    _default_hook(args)


threading.excepthook = _hook

# op mix: (kind, weight)
MIX = ((READ, 35), (WRITE, 30), (CAS, 30), (CREATE, 5))


def make_client(hosts, session_timeout=4.0, connect_timeout=30.0):
    """A started kazoo client with quick reconnects (fixed ~50-300 ms
    backoff, the host order kept).  Raises on no connection in time."""
    c = KazooClient(hosts=hosts, timeout=session_timeout, randomize_hosts=False,
                    connection_retry=dict(max_tries=-1, delay=0.05, backoff=1.5, max_delay=0.3,
                                          max_jitter=0.05))
    c.start(timeout=connect_timeout)
    return c


class Client(threading.Thread):
    def __init__(self, rec, idx, hosts):
        threading.Thread.__init__(self, daemon=True, name="load-%d" % idx)
        self.rec, self.idx, self.hosts = rec, idx, hosts
        self.rng = random.Random(rec.seed * 1000 + idx)
        self.seen = {}  # key -> last version seen
        self.epoch = 0  # connection changes seen by the listener
        self.zk = None
        self.n = 0
        self.error = None

    def listener(self, state):
        self.epoch += 1

    def peer(self):
        """The member this client is connected to now (best effort, for messages)."""
        try:
            h, p = self.zk._connection._socket.getpeername()[:2]
            return self.rec.names.get((h.replace("::ffff:", ""), p), "%s:%d" % (h, p))
        except Exception:
            return None

    def run(self):
        try:
            self.zk = make_client(self.hosts, self.rec.session_timeout)
        except Exception as e:  # the ensemble is not there: the test will see no ops
            self.error = "connect %s: %s" % (self.hosts, e)
            return
        self.zk.add_listener(self.listener)
        kinds = [k for k, w in MIX for _ in range(w)]
        while not self.rec.stopping.is_set():
            key = self.rng.choice(self.rec.keys)
            kind = self.rng.choice(kinds)
            try:
                self.one(kind, key)
            except Exception as e:  # a bug in the recorder, not the server
                self.error = "%s: %r" % (kind, e)
                return
            if self.rec.think:
                time.sleep(self.rng.random() * 2 * self.rec.think)

    def one(self, kind, key):
        rec, zk, T = self.rec, self.zk, self.rec.op_timeout
        path = rec.path(key)
        self.n += 1
        value = "c%d-%d" % (self.idx, self.n)
        op = Op(self.idx, key, kind, value=value if kind != READ else None)
        if kind == CAS:
            op.version = self.seen.get(key, 0)
        epoch = self.epoch
        op.server = self.peer()
        op.invoke = time.monotonic()
        try:
            if kind == READ:
                zk.sync_async(path).get(timeout=T)
                try:
                    data, st = zk.get_async(path).get(timeout=T)
                    op.result = (data.decode(), st.version)
                    self.seen[key] = st.version
                except NoNodeError:
                    op.result = None
                if self.epoch != epoch:
                    op.outcome = UNKNOWN
            elif kind in (WRITE, CAS):
                st = zk.set_async(path, value.encode(), op.version if kind == CAS else -1).get(timeout=T)
                op.result = st.version
                self.seen[key] = st.version
            elif kind == CREATE:
                zk.create_async(path, value.encode()).get(timeout=T)
                self.seen[key] = 0
            op.ret = time.monotonic()
        except NoNodeError:
            op.ret, op.outcome, op.result = time.monotonic(), FAIL, "nonode"
        except BadVersionError:
            op.ret, op.outcome, op.result = time.monotonic(), FAIL, "badversion"
            self.seen.pop(key, None)
        except NodeExistsError:
            op.ret, op.outcome, op.result = time.monotonic(), FAIL, "exists"
        except Exception as e:  # connection loss, expiry, timeout: unknown
            op.outcome, op.ret, op.result = UNKNOWN, None, type(e).__name__
            rec.note_unknown(self.idx, e)
            if zk.state != KazooState.CONNECTED:
                # wait (bounded) for a connection rather than piling up queued ops
                deadline = time.monotonic() + 2 * T
                while zk.state != KazooState.CONNECTED and time.monotonic() < deadline \
                        and not rec.stopping.is_set():
                    time.sleep(0.02)
        if op.outcome == UNKNOWN:
            op.ret = None
        with rec.lock:
            rec.ops.append(op)


class Recorder(object):
    """Random load on `keys` znodes under `base` by `clients` threads.

    ens: an Ensemble (clients are spread over its members) or a list of
    connection strings, one per client.  think: mean pause between ops (s)."""

    def __init__(self, ens, base, clients=6, keys=3, seed=None, session_timeout=4.0, op_timeout=5.0,
                 think=0.0):
        self.base = base.rstrip("/")
        self.keys = ["k%d" % i for i in range(keys)]
        self.seed = seed if seed is not None else random.randrange(1 << 30)
        self.session_timeout, self.op_timeout, self.think = session_timeout, op_timeout, think
        self.ops = []
        self.marks = []
        self.unknown_why = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.names = {}
        if isinstance(ens, (list, tuple)):
            hosts = [ens[i % len(ens)] for i in range(clients)]
        else:
            ms = ens.members
            self.names = dict(((m.host, m.client_port), m.name) for m in ms)
            hosts = []
            for i in range(clients):
                order = ms[i % len(ms):] + ms[:i % len(ms)]
                hosts.append(",".join(m.hostport for m in order))
        self.hosts = hosts
        self.clients = [Client(self, i, h) for i, h in enumerate(hosts)]
        self.setup_hosts = hosts[0]

    def path(self, key):
        return "%s/%s" % (self.base, key)

    def note_unknown(self, idx, e):
        with self.lock:
            k = type(e).__name__
            self.unknown_why[k] = self.unknown_why.get(k, 0) + 1

    def start(self, warmup=0.5):
        """Create the base path, start the clients; returns once every
        client has recorded an op (or after warmup + 20 s)."""
        zk = make_client(self.setup_hosts, self.session_timeout)
        try:
            zk.ensure_path(self.base)
        finally:
            zk.stop()
            zk.close()
        for c in self.clients:
            c.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(c.n > 0 for c in self.clients):
            time.sleep(0.05)
        time.sleep(warmup)
        return self

    def mark(self, label):
        t = time.monotonic()
        self.marks.append((t, label))
        return t

    def stop(self, timeout=None):
        """Stop the clients (each finishes its op, bounded by op_timeout)."""
        self.stopping.set()
        deadline = time.monotonic() + (timeout or 2 * self.op_timeout + 5)
        for c in self.clients:
            c.join(max(0.1, deadline - time.monotonic()))
        for c in self.clients:
            if c.zk is not None:
                try:
                    c.zk.stop()
                    c.zk.close()
                except Exception:
                    pass

    @property
    def errors(self):
        return [c.error for c in self.clients if c.error]

    def final_reads(self, members, timeout=30.0):
        """Sync + read every key on every given member (each through a client
        connected to that member alone), appended to the history as ops of
        client 'final@ID'.  Returns {member id: {key: state}}; a member
        that cannot be read within timeout maps to None."""
        out = {}
        for m in members:
            states = {}
            try:
                zk = make_client(m.hostport, self.session_timeout, connect_timeout=timeout)
            except Exception:
                out[m.id] = None
                continue
            try:
                for key in self.keys:
                    op = Op("final@%d" % m.id, key, READ, invoke=time.monotonic())
                    op.server = m.name
                    zk.sync(self.path(key))
                    try:
                        data, st = zk.get(self.path(key))
                        op.result = (data.decode(), st.version)
                    except NoNodeError:
                        op.result = None
                    op.ret = time.monotonic()
                    states[key] = op.result
                    with self.lock:
                        self.ops.append(op)
                out[m.id] = states
            except Exception:
                out[m.id] = None
            finally:
                zk.stop()
                zk.close()
        return out

    def check(self, max_steps=5000000):
        with self.lock:
            ops = list(self.ops)
        return check(ops, max_steps=max_steps)

    # -- figures

    def counts(self):
        with self.lock:
            ops = [o for o in self.ops if not str(o.client).startswith("final@")]
        c = {"ops": len(ops), "ok": 0, "fail": 0, "unknown": 0, "acked_writes": 0}
        for o in ops:
            c[o.outcome] += 1
            if o.kind != READ and o.outcome == OK:
                c["acked_writes"] += 1
        return c

    def first_ack_after(self, t):
        """Time from t to the first acknowledged write invoked at or after t
        (None if none)."""
        with self.lock:
            acks = [o.ret for o in self.ops if o.kind != READ and o.outcome == OK and o.invoke >= t]
        return (min(acks) - t) if acks else None

    def acks_between(self, t0, t1):
        with self.lock:
            return sorted(o.ret for o in self.ops if o.kind != READ and o.outcome == OK and t0 <= o.ret <= t1)

    def ops_of_clients(self, idxs, t0, t1):
        with self.lock:
            return [o for o in self.ops if o.client in idxs and o.invoke >= t0 and (o.ret or 1e18) <= t1 + 60]

    def wait_acks(self, n=5, timeout=30.0):
        """Wait until n more writes are acknowledged; True if they were."""
        t = time.monotonic()
        deadline = t + timeout
        while time.monotonic() < deadline:
            if len(self.acks_between(t, 1e18)) >= n:
                return True
            time.sleep(0.05)
        return False


def member_data(m, base, keys=None, session_timeout=4.0, timeout=20.0):
    """What member m serves under base after a sync: {child: (data, version)}
    (every child, or just `keys`)."""
    zk = make_client(m.hostport, session_timeout, connect_timeout=timeout)
    try:
        zk.sync(base)
        names = sorted(zk.get_children(base)) if keys is None else keys
        out = {}
        pending = [(k, zk.get_async("%s/%s" % (base, k))) for k in names]  # pipelined
        for k, a in pending:
            try:
                d, st = a.get(timeout=timeout)
                out[k] = (d.decode(errors="replace"), st.version)
            except NoNodeError:
                out[k] = None
        return out
    finally:
        zk.stop()
        zk.close()


def converged(ens, bases, timeout=30.0):
    """Every running member serves identical data under each base path
    (read after sync, retried until timeout).  Returns (ok, detail)."""
    if isinstance(bases, str):
        bases = [bases]
    deadline = time.monotonic() + timeout
    detail = ""
    while True:
        try:
            views = {}
            for m in ens.members:
                if m.running:
                    views[m.name] = tuple(sorted((b, tuple(sorted(member_data(m, b).items()))) for b in bases))
            if len(set(views.values())) == 1:
                n = sum(len(x[1]) for x in list(views.values())[0])
                return True, "%d members agree on %d znodes" % (len(views), n)
            detail = "\n".join("%s: %r" % (k, v) for k, v in views.items())
        except Exception as e:
            detail = "reading members: %s: %s" % (type(e).__name__, e)
        if time.monotonic() > deadline:
            return False, detail
        time.sleep(0.5)


# ---------------------------------------------------------------- whole trees

STAT_FIELDS = ("czxid", "mzxid", "pzxid", "ctime", "mtime", "version", "cversion", "aversion",
               "ephemeralOwner", "dataLength", "numChildren")


def member_tree(m, root="/", skip=("/zookeeper",), session_timeout=4.0, timeout=30.0):
    """Every znode member m serves under root after a sync, but the
    subtrees in skip: {path: (data, (stat fields of STAT_FIELDS))}.  Read
    level by level, pipelined, through a client connected to m alone."""
    zk = make_client(m.hostport, session_timeout, connect_timeout=timeout)
    try:
        zk.sync(root)
        out = {}
        level = [root]
        while level:
            nodes = [(p, zk.get_async(p), zk.get_children_async(p)) for p in level]
            level = []
            for p, g, c in nodes:
                try:
                    d, st = g.get(timeout=timeout)
                    kids = c.get(timeout=timeout)
                except NoNodeError:  # deleted between the listing and the read
                    continue
                out[p] = (None if d is None else d.decode(errors="replace"),
                          tuple(getattr(st, f) for f in STAT_FIELDS))
                for k in kids:
                    cp = (p.rstrip("/") + "/" + k)
                    if cp not in skip:
                        level.append(cp)
        return out
    finally:
        zk.stop()
        zk.close()


def tree_diff(a, b, limit=8):
    """A few lines saying how two member_tree() results differ ('' if they do not)."""
    lines = []
    for p in sorted(set(a) | set(b)):
        if a.get(p) != b.get(p):
            lines.append("  %s: %r != %r" % (p, a.get(p), b.get(p)))
            if len(lines) >= limit:
                lines.append("  ...")
                break
    return "\n".join(lines)


def root_null_as_empty(tree):
    """zkfs-server answers getData("/") with null data where Apache answers
    empty data (a zkfs member that took a SNAP from an Apache one answers
    empty data too): for trees_identical(normalize=...), so that the rest
    of the tree is compared; check the root's data apart."""
    if "/" in tree and tree["/"][0] is None:
        tree = dict(tree)
        tree["/"] = ("",) + tuple(tree["/"][1:])
    return tree


def trees_identical(members, root="/", skip=("/zookeeper",), timeout=30.0, normalize=None):
    """Every given member (running ones) serves the very same tree under
    root, data and stat alike, after a sync (retried until timeout: a
    member may still be applying).  normalize(tree) -> tree, if given, is
    applied to each member's tree before comparing.  Returns (ok, detail,
    tree of the first member or None)."""
    deadline = time.monotonic() + timeout
    detail = ""
    while True:
        try:
            trees = [(m, member_tree(m, root, skip)) for m in members if m.running]
            if normalize:
                trees = [(m, normalize(t)) for m, t in trees]
            first_m, first = trees[0]
            bad = [(m, t) for m, t in trees[1:] if t != first]
            if not bad:
                return True, "%d members agree on %d znodes" % (len(trees), len(first)), first
            detail = "\n".join("%s (%d znodes) vs %s (%d znodes):\n%s" % (first_m.name, len(first), m.name, len(t),
                                                                         tree_diff(first, t))
                               for m, t in bad)
        except Exception as e:
            detail = "reading members: %s: %s" % (type(e).__name__, e)
        if time.monotonic() > deadline:
            return False, detail, None
        time.sleep(0.5)
