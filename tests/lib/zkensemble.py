"""zkensemble — a real-process ensemble for tests: N servers, each Apache
ZooKeeper 3.8 or zkfs-server, voters and observers.

    from zkensemble import Ensemble, flavors_from_args, member_kinds

    for flavor in flavors_from_args():                 # apache | zkfs | mixed ...
        kinds = member_kinds(flavor, voters=3, observers=1)
        with Ensemble(kinds) as ens:                   # started, leader elected
            leader = ens.wait_ready()                  # every running member serves
            ens.hosts()                                # "127.x.y.2:p1,127.x.y.3:p2,..."
            leader.kill(); ens.wait_ready()            # kill -9, a new leader
            leader.start()                             # same data
            m.restart(wipe=True)                       # empty dataDir (myid kept)
            m.replace("zkfs")                          # stop, wipe, other kind, start
            m.mode(), m.srvr(), m.mntr()               # four-letter words
            ens.isolate(leader); ens.heal()            # partitions: isolated=True

Each member has its own address (127.x.y.N on the loopback by default, a
random block per ensemble) and its own directory: DIR/zoo.cfg, DIR/data
(dataDir, holding myid), DIR/server.log, DIR/pid, DIR/kind, DIR/port (client
port), DIR/host.  Every member's zoo.cfg is the one a person would write for
Apache's server:

    tickTime=500 initLimit=10 syncLimit=5 dataDir=... clientPort=...
    server.1=127.x.y.2:QPORT:EPORT;127.x.y.2:CLIENTPORT
    server.4=127.x.y.5:QPORT:EPORT:observer;127.x.y.5:CLIENTPORT
    peerType=observer                     (in an observer's own file)

and zkfs-server is started as `$ZKFS_BUILD/zkfs-server DIR/zoo.cfg`, exactly
like Apache's QuorumPeerMain, so a mixed ensemble is one list of kinds.
Processes are started and stopped through tests/lib/zkserver (launch, stop,
kill), whose watchdog kills a member once this test process is gone; members
still running are killed at interpreter exit too.

Partitions: the links between members cannot be cut on one loopback: a
member connecting to another gets 127.0.0.1 as its source address whatever
address it listens on, so no rule can tell members apart.  So a test that
cuts links first calls enter_private_namespaces(), which re-executes the
program under `unshare -n -m` (a private network and mount namespace: its
iptables rules, interfaces and mounts touch nobody else and vanish with it),
and then builds Ensemble(..., isolated=True): each member runs in its own
network namespace (`ip netns`, kept under a private /run/netns) with one
veth link to the test's namespace, which routes between them:

    test namespace (clients, iptables FORWARD rules)
      zhS-1 10.X.1.1  <-veth->  eth0 10.X.1.2  member 1 (ports 2181/2888/3888)
      zhS-2 10.X.2.1  <-veth->  eth0 10.X.2.2  member 2
      ...

Every packet between two members crosses the test namespace, with the
members' own addresses, so cut(a, b) is two FORWARD DROP rules; clients talk
from the test namespace itself, which no rule touches, so a client still
reaches an isolated member.
"""

import atexit
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from zkharness import ZKSERVER, ServerError, zkfs_build

FLAVORS = ("apache", "zkfs", "mixed")
NS_ENV = "ZK_ENSEMBLE_IN_NS"

# zoo.cfg defaults for every member (tests may override through extra_cfg).
BASE_CFG = (("tickTime", "500"), ("initLimit", "10"), ("syncLimit", "5"),
            ("4lw.commands.whitelist", "*"), ("admin.enableServer", "false"))

_live = []


def _cleanup():
    for m in list(_live):
        try:
            m.kill()
        except Exception:  # keep killing the others
            pass
    for e in list(_Ensembles):
        try:
            e.close()
        except Exception:
            pass


_Ensembles = []
_serial = 0
atexit.register(_cleanup)


# ---------------------------------------------------------------- flavors

def flavors_from_args(argv=None, default="apache"):
    """Which ensembles a run covers: argv[1], else $ZK_ENSEMBLE_KINDS, else
    `default`.  A comma list of flavors: 'apache' (every member Apache),
    'zkfs' (every member zkfs-server), 'mixed' (zkfs, apache, zkfs, ...), or
    an explicit per-member pattern joined by '+' (e.g. 'apache+zkfs', cycled
    over the members); 'all' = apache,zkfs,mixed."""
    argv = sys.argv if argv is None else argv
    want = argv[1] if len(argv) > 1 and argv[1] else os.environ.get("ZK_ENSEMBLE_KINDS", "") or default
    out = []
    for f in want.replace(" ", ",").split(","):
        f = f.strip()
        if not f:
            continue
        if f == "all":
            out.extend(FLAVORS)
            continue
        for k in f.split("+"):
            if k not in ("apache", "zkfs") and not (f in FLAVORS):
                raise SystemExit("unknown ensemble flavor %r (apache, zkfs, mixed, all, or kinds joined by +)" % f)
        out.append(f)
    return out


def member_kinds(flavor, voters=3, observers=0):
    """The per-member kind list for an ensemble of `voters` voters followed
    by `observers` observers: 'apache', 'zkfs', or 'apache:observer'."""
    n = voters + observers
    if flavor in ("apache", "zkfs"):
        pattern = [flavor]
    elif flavor == "mixed":
        pattern = ["zkfs", "apache"]
    else:
        pattern = flavor.split("+")
    kinds = [pattern[i % len(pattern)] for i in range(n)]
    return [k + (":observer" if i >= voters else "") for i, k in enumerate(kinds)]


# ---------------------------------------------------------------- helpers

def free_port(host):
    s = socket.socket()
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def four_letter(host, port, cmd, timeout=3.0):
    """A four-letter word's answer as text, or None if the server did not answer."""
    try:
        s = socket.create_connection((host, port), timeout=timeout)
    except OSError:
        return None
    try:
        s.settimeout(timeout)
        s.sendall(cmd.encode())
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
        return out.decode(errors="replace")
    except OSError:
        return None
    finally:
        s.close()


def parse_srvr(text):
    """srvr's 'Key: value' lines as a dict (Mode, Zxid, Node count, ...); {} when not serving."""
    d = {}
    for line in (text or "").splitlines():
        if ": " in line:
            k, v = line.split(": ", 1)
            d[k.strip()] = v.strip()
    return d if "Mode" in d else {}


def in_private_netns():
    return os.environ.get(NS_ENV) == "1"


def _sh(*args):
    p = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    if p.returncode != 0:
        raise ServerError("%s: %s" % (" ".join(args), p.stderr.decode(errors="replace").strip()))
    return p.stdout.decode()


def enter_private_namespaces():
    """Re-execute this program under `unshare -n -m` unless already done;
    there, bring loopback up, enable forwarding and mount a private tmpfs
    on /run/netns (for `ip netns`).  Returns True inside; False where it
    cannot be had (not root, no unshare/ip/iptables): the caller skips the
    tests that need it.  The program keeps its pid (unshare execs), so a
    runner's timeout still reaches it."""
    if in_private_netns():
        _sh("ip", "link", "set", "lo", "up")
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write("1\n")
        os.makedirs("/run/netns", exist_ok=True)
        _sh("mount", "-t", "tmpfs", "-o", "size=1m", "zk-netns", "/run/netns")
        return True
    if os.geteuid() != 0 or not all(shutil.which(t) for t in ("unshare", "ip", "iptables")):
        return False
    probe = subprocess.run(["unshare", "-n", "-m", "true"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=10)
    if probe.returncode != 0:
        return False
    os.environ[NS_ENV] = "1"
    sys.stdout.flush()
    os.execvp("unshare", ["unshare", "-n", "-m", "--propagation", "private", "--", sys.executable] + sys.argv)


enter_private_netns = enter_private_namespaces


def iptables(*args):
    p = subprocess.run(["iptables", "-w", "5"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20)
    if p.returncode != 0:
        raise ServerError("iptables %s: %s" % (" ".join(args), p.stderr.decode(errors="replace")))


# ---------------------------------------------------------------- members

class Member(object):
    """One server of an ensemble.  Created by Ensemble; see its docstring."""

    def __init__(self, ens, sid, kind, observer, host, root, netns=None):
        self.ens, self.id, self.kind, self.observer, self.host = ens, sid, kind, observer, host
        self.netns = netns
        self.dir = os.path.join(root, "s%d" % sid)
        os.makedirs(self.data_dir)
        if netns:  # a namespace of its own: the usual ports
            self.client_port, self.quorum_port, self.election_port = 2181, 2888, 3888
        else:
            self.client_port = free_port(host)
            self.quorum_port = free_port(host)
            self.election_port = free_port(host)
        self.running = False

    def __repr__(self):
        return "<%s %d %s%s %s>" % (self.kind, self.id, self.host, " observer" if self.observer else "",
                                      "up" if self.running else "down")

    @property
    def name(self):
        return "%s%d%s" % (self.kind, self.id, "(obs)" if self.observer else "")

    @property
    def data_dir(self):
        return os.path.join(self.dir, "data")

    @property
    def hostport(self):
        return "%s:%d" % (self.host, self.client_port)

    def server_line(self):
        return "server.%d=%s:%d:%d%s;%s:%d" % (self.id, self.host, self.quorum_port, self.election_port,
                                              ":observer" if self.observer else "", self.host, self.client_port)

    def write_config(self):
        cfg = [("dataDir", self.data_dir), ("clientPort", str(self.client_port)),
               ("clientPortAddress", self.host)]
        cfg += list(BASE_CFG)
        if self.observer:
            cfg.append(("peerType", "observer"))
        keys = set(k for k, _ in cfg)
        for k, v in self.ens.extra_cfg.items():
            if k in keys:
                cfg = [(kk, (str(v) if kk == k else vv)) for kk, vv in cfg]
            else:
                cfg.append((k, str(v)))
        with open(os.path.join(self.dir, "zoo.cfg"), "w") as f:
            f.write("# an ensemble member, written by tests/lib/zkensemble.py\n")
            for k, v in cfg:
                f.write("%s=%s\n" % (k, v))
            for m in self.ens.members:
                f.write(m.server_line() + "\n")
        files = [("kind", self.kind), ("port", self.client_port), ("host", self.host)]
        if self.netns:
            files.append(("netns", self.netns))
        for name, val in files:
            with open(os.path.join(self.dir, name), "w") as f:
                f.write("%s\n" % val)
        os.makedirs(self.data_dir, exist_ok=True)
        with open(os.path.join(self.data_dir, "myid"), "w") as f:
            f.write("%d\n" % self.id)

    def _zkserver(self, *args, **kw):
        env = dict(os.environ)
        env["ZK_OWNER_PID"] = str(os.getpid())
        env.setdefault("ZKFS_BUILD", zkfs_build())
        p = subprocess.run([ZKSERVER] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=kw.get("timeout", 60))
        if p.returncode != 0:
            raise ServerError("zkserver %s (%s): %s" % (" ".join(args), self.name,
                                                         p.stderr.decode(errors="replace")))
        return p.stdout.decode()

    def start(self, wait=0):
        """Start (with the data the member has).  wait > 0: wait that many
        seconds until it serves, raising ServerError (with its log) if not."""
        if self.running:
            return
        self.write_config()
        self._zkserver("launch", self.dir)
        self.running = True
        if self not in _live:
            _live.append(self)
        if wait:
            self.wait_serving(wait)

    def stop(self):
        """SIGTERM, SIGKILL after zkserver's bound."""
        if self.running:
            self.running = False
            self._zkserver("stop", self.dir)
        if self in _live:
            _live.remove(self)

    def kill(self):
        """SIGKILL: a crash.  Returns time.monotonic() just after the signal
        was sent (None if the member was not running)."""
        t = None
        if self.running:
            self.running = False
            pid = self.pid
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)  # now, not after zkserver's start-up
                except OSError:
                    pass
                t = time.monotonic()
            self._zkserver("kill", self.dir)
        if self in _live:
            _live.remove(self)
        return t

    def wipe(self):
        """Empty the dataDir but for myid (the member must be down)."""
        assert not self.running, "wipe a running member"
        for name in os.listdir(self.data_dir):
            if name == "myid":
                continue
            p = os.path.join(self.data_dir, name)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            else:
                os.unlink(p)

    def restart(self, wipe=False, hard=False, wait=0):
        """Stop (SIGTERM, or SIGKILL if hard), optionally wipe, start again."""
        self.kill() if hard else self.stop()
        if wipe:
            self.wipe()
        self.start(wait=wait)

    def replace(self, kind, wait=0):
        """Change this member's implementation in place, as an operator
        migrating a server does: stop it (SIGTERM), empty its dataDir but
        for myid (one implementation's data files are not the other's), make
        it `kind` ('apache' or 'zkfs') with the same id, address, ports and
        role, and start it: it has to sync from the ensemble (SNAP or DIFF).
        wait > 0: wait that many seconds until it serves.  Returns the
        length of its server.log before the start, so a caller can read
        what the new server logged (log_text()[since:])."""
        if kind not in ("apache", "zkfs"):
            raise ValueError("bad member kind %r" % kind)
        self.stop()
        self.wipe()
        self.kind = kind
        since = self.log_size()
        self.start(wait=wait)
        return since

    # how a member's own log says it synced with its leader
    _SYNC_WORDS = {
        # a TRUNC is carried out across a re-exec of the process, which
        # then syncs again (by DIFF): "the leader asks to drop logged txns
        # after 0x... (never committed): restarting to cut the log"
        "zkfs": re.compile(r"synced with the leader by (SNAP|DIFF|TRUNC)|(the leader asks to drop logged txns)"),
        "apache": re.compile(r"(Getting a snapshot from leader|Getting a diff from the leader|"
                             r"Truncating log to get in sync with the leader)"),
    }
    _APACHE_SYNC = {"Getting a snapshot from leader": "SNAP", "Getting a diff from the leader": "DIFF",
                    "Truncating log to get in sync with the leader": "TRUNC",
                    "the leader asks to drop logged txns": "TRUNC"}

    def sync_kinds(self, since=0):
        """How this member synced with a leader since log offset `since`,
        as its own log says, in order: a list of 'SNAP' | 'DIFF' | 'TRUNC'
        (zkfs: "synced with the leader by SNAP: serving", and for a TRUNC
        "the leader asks to drop logged txns", then after its re-exec a
        DIFF: TRUNC+DIFF; Apache: "Getting a diff from the leader",
        "Getting a snapshot from leader", "Truncating log to get in sync
        with the leader")."""
        text = self.log_text()[since:]
        out = []
        for g in self._SYNC_WORDS[self.kind].findall(text):
            g = "".join(g) if isinstance(g, tuple) else g
            out.append(self._APACHE_SYNC.get(g, g))
        return out

    def log_size(self):
        """server.log's length now (an offset for log_text()[since:])."""
        return len(self.log_text())

    @property
    def pid(self):
        try:
            with open(os.path.join(self.dir, "pid")) as f:
                return int(f.read())
        except (OSError, ValueError):
            return None

    def alive(self):
        pid = self.pid
        if not pid:
            return False
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False

    def four(self, cmd, timeout=3.0):
        return four_letter(self.host, self.client_port, cmd, timeout)

    def srvr(self):
        """srvr as a dict ({} when it does not serve)."""
        return parse_srvr(self.four("srvr"))

    def mode(self):
        """'leader', 'follower', 'observer', 'standalone' or None (not serving)."""
        return self.srvr().get("Mode")

    def zxid(self):
        z = self.srvr().get("Zxid")
        return int(z, 16) if z else None

    def mntr(self):
        """mntr as a dict of str -> int/float/str ({} when it does not answer)."""
        d = {}
        for line in (self.four("mntr") or "").splitlines():
            if "\t" not in line:
                continue
            k, v = line.split("\t", 1)
            for conv in (int, float):
                try:
                    v = conv(v)
                    break
                except ValueError:
                    pass
            d[k] = v
        return d

    def wait_serving(self, timeout=30.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.mode():
                return True
            if self.running and not self.alive():
                raise ServerError("%s exited; log:\n%s" % (self.name, self.log_tail()))
            time.sleep(0.1)
        raise ServerError("%s does not serve after %.0fs; log:\n%s" % (self.name, timeout, self.log_tail()))

    def log_tail(self, n=30):
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""


# ---------------------------------------------------------------- ensemble

class Ensemble(object):
    """An ensemble of len(kinds) members with ids 1..N.

    kinds: list of 'apache' | 'zkfs', each optionally suffixed ':observer'
    (see member_kinds()).  extra_cfg: zoo.cfg keys for every member.
    addr_base: member i gets 127.0.0.(addr_base + i - 1); default 2 inside
    a private netns, else a random 127.0.x.y block so concurrent runs on
    the host do not meet.  start=True starts everything and waits (up to
    start_timeout) until every member serves and one leads."""

    def __init__(self, kinds, extra_cfg=None, start=True, start_timeout=90.0, isolated=False, keep=False):
        global _serial
        self.extra_cfg = dict(extra_cfg or {})
        self.keep = keep or bool(os.environ.get("ZK_KEEP"))
        self.root = tempfile.mkdtemp(prefix="zk-ens-")
        self.cuts = set()
        self.isolated = isolated
        self.netns = []
        _serial += 1
        self.serial = _serial
        _Ensembles.append(self)
        if isolated and not in_private_netns():
            raise ServerError("Ensemble(isolated=True) needs enter_private_namespaces() first")
        if isolated:
            net = "10.%d" % (100 + self.serial % 100)
            hosts = ["%s.%d.2" % (net, i + 1) for i in range(len(kinds))]
        elif in_private_netns():
            hosts = ["127.0.0.%d" % (2 + i) for i in range(len(kinds))]
        else:  # a random 127.x.y block: concurrent runs on the host do not meet
            net = "127.%d.%d" % (random.randint(100, 250), random.randint(1, 250))
            hosts = ["%s.%d" % (net, 2 + i) for i in range(len(kinds))]
        self.members = []
        for i, k in enumerate(kinds):
            kind, _, role = k.partition(":")
            if kind not in ("apache", "zkfs") or role not in ("", "observer"):
                raise ValueError("bad member kind %r" % k)
            ns = None
            if isolated:
                ns = "zk%d-%d" % (self.serial, i + 1)
                self._make_netns(ns, "zh%d-%d" % (self.serial, i + 1), hosts[i])
            self.members.append(Member(self, i + 1, kind, role == "observer", hosts[i], self.root, ns))
        if start:
            try:
                self.start_all(timeout=start_timeout)
            except Exception:
                self.close()
                raise

    def __repr__(self):
        return "<ensemble %s>" % " ".join(m.name for m in self.members)

    def _make_netns(self, ns, outside, host):
        """Namespace ns with eth0 = host/24, linked by a veth pair to
        `outside` (host's .1) in this namespace, routed through it."""
        gw = host.rsplit(".", 1)[0] + ".1"
        _sh("ip", "netns", "add", ns)
        self.netns.append(ns)
        _sh("ip", "link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _sh("ip", "addr", "add", gw + "/24", "dev", outside)
        _sh("ip", "link", "set", outside, "up")
        _sh("ip", "-n", ns, "addr", "add", host + "/24", "dev", "eth0")
        _sh("ip", "-n", ns, "link", "set", "eth0", "up")
        _sh("ip", "-n", ns, "link", "set", "lo", "up")
        _sh("ip", "-n", ns, "route", "add", "default", "via", gw)

    @property
    def kinds(self):
        return [m.kind + (":observer" if m.observer else "") for m in self.members]

    def describe(self):
        return ",".join(m.name for m in self.members)

    @property
    def voters(self):
        return [m for m in self.members if not m.observer]

    @property
    def observers(self):
        return [m for m in self.members if m.observer]

    def member(self, sid):
        return self.members[sid - 1]

    def start_all(self, timeout=90.0):
        for m in self.members:
            m.start()
        return self.wait_ready(timeout)

    def hosts(self, members=None):
        """A connection string for the given members (default: all)."""
        return ",".join(m.hostport for m in (members or self.members))

    def modes(self):
        return dict((m.id, m.mode() if m.running else None) for m in self.members)

    def leader(self):
        """The member whose srvr says leader (None if none; the first if several)."""
        for m in self.voters:
            if m.running and m.mode() == "leader":
                return m
        return None

    def followers(self):
        return [m for m in self.voters if m.running and m.mode() == "follower"]

    def wait_ready(self, timeout=60.0, members=None):
        """Wait until every running member (or those given) serves in its
        role and exactly one voter leads; returns the leader.  Raises
        ServerError with modes and log tails on timeout."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            ms = [m for m in (members or self.members) if m.running]
            modes = dict((m.id, m.mode()) for m in ms)
            leaders = [m for m in ms if modes[m.id] == "leader"]
            ok = len(leaders) == 1 and all(
                (modes[m.id] == "observer") if m.observer else (modes[m.id] in ("leader", "follower"))
                for m in ms)
            if ok:
                return leaders[0]
            for m in ms:
                if not m.alive():
                    raise ServerError("%s died; log:\n%s" % (m.name, m.log_tail()))
            last = modes
            time.sleep(0.1)
        raise ServerError("ensemble %s not ready after %.0fs; modes %r\n%s" % (
            self.describe(), timeout, last,
            "\n".join("--- %s:\n%s" % (m.name, m.log_tail(12)) for m in self.members if m.running)))

    def wait_leader(self, timeout=30.0, among=None):
        """Wait until one of `among` (default: running voters) says leader."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for m in (among or self.voters):
                if m.running and m.mode() == "leader":
                    return m
            time.sleep(0.05)
        return None

    def kill_many(self, members):
        """kill -9 several members at once (all signals first, then the
        bookkeeping); returns time.monotonic() just after the last signal."""
        for m in members:
            pid = m.pid if m.running else None
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        t = time.monotonic()
        for m in members:
            m.kill()
        return t

    def mntr_all(self):
        return dict((m.id, m.mntr() if m.running else {}) for m in self.members)

    # -- partitions (Ensemble(isolated=True) only)

    def _rule(self, op, a, b):
        for src, dst in ((a.host, b.host), (b.host, a.host)):
            iptables(op, "FORWARD", "-s", src, "-d", dst, "-j", "DROP")

    def cut(self, a, b):
        """Drop every packet between members a and b."""
        if not self.isolated:
            raise ServerError("cut() needs Ensemble(isolated=True)")
        key = tuple(sorted((a.id, b.id)))
        if key not in self.cuts:
            self._rule("-A", a, b)
            self.cuts.add(key)

    def isolate(self, m):
        """Cut m from every other member (clients still reach it)."""
        for o in self.members:
            if o is not m:
                self.cut(m, o)

    def partition(self, *groups):
        """Cut every link between members of different groups."""
        for i, g in enumerate(groups):
            for h in groups[i + 1:]:
                for a in g:
                    for b in h:
                        self.cut(a, b)

    def heal(self):
        for a, b in sorted(self.cuts):
            self._rule("-D", self.member(a), self.member(b))
        self.cuts.clear()

    def close(self):
        try:
            if self.cuts:
                self.heal()
        except Exception:
            pass
        for m in self.members:
            try:
                m.kill()
            except Exception:
                pass
        for ns in self.netns:  # takes the veth pair with it
            subprocess.run(["ip", "netns", "del", ns], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=20)
        self.netns = []
        if self in _Ensembles:
            _Ensembles.remove(self)
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
