#!/usr/bin/python3
"""clients_failover — real clients across a failover of a 3-server ensemble:
kill -9 of the leader while they are connected, then the killed member
started again.  Each client has all three members in its connection string.

  kazoo, the Apache C client (libzookeeper_mt) and libzkc — two sessions of
  each: one connected to the leader (its host first, hosts tried in order),
  one to a follower.  For each session:
    - the first write begun after the kill succeeds (retrying on
      ConnectionLoss, as any client does); the time from the kill to it is
      printed
    - same session id afterwards, state connected, never expired
    - its ephemeral node still exists, owned by it (seen by another client)
    - a data watch set before the kill fires for a change made after it
    - reads and writes work, and again after the killed member is back
    - closing the session removes its ephemeral
  the zkfs mount (zkfs HOSTS/fs MNT -o ephemeral=/locks:/members):
    - an ephemeral member file made by a live setsid session stays, same owner
    - a mkdir lock held by a live setsid session stays held (mkdir from
      another Unix session: EEXIST) and is freed when the holder exits
    - inotifywait -m on a directory gets the events of changes made after
      the failover through kazoo and zkfs-cli on surviving members
    - reads and writes through the mount during and after the failover
      succeed without an error; time from the kill to the first write
    The mount is driven from here (not from a bats file) because the
    ensemble, its leader and the kill come from tests/lib/zkensemble.py, and
    the kill time must be the same clock as the clients' measurements.
    Skipped without /dev/fuse, fusermount3 or inotifywait.

Usage: clients_failover.py [FLAVOR]   FLAVOR (or $ZK_CF_KINDS): exactly
       these ensembles: zkfs, apache, mixed, all, a comma list, or kinds
       joined by '+' (see tests/lib/zkensemble.py).  Without either: zkfs
       plus $ZK_ENSEMBLE_KINDS (default apache), i.e. zkfs,apache — about
       40 s.  ZK_CF_MOUNT=0 leaves the mount out.  ZK_KEEP=1 keeps the
       ensemble's and the test's directories.  TAP on stdout.
"""

import logging
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

from zkharness import Tap, ROOT, zkfs_build  # noqa: E402
from zkensemble import Ensemble, flavors_from_args, member_kinds  # noqa: E402

from kazoo.client import KazooClient  # noqa: E402
from kazoo.recipe.watchers import DataWatch  # noqa: E402

SESSION_MS = 10000          # every client's session timeout (the ensemble's max: 20 ticks of 500 ms)
PROBE_S = 30.0              # bound of the first write after the kill
EVENT_S = 10.0              # bound of a watch event / inotify event
OWNER = os.getpid()

tap = Tap()
summary = []                # (flavor, client, seconds or None, detail)


def _sigterm(signum, frame):
    # tests/run's timeout sends SIGTERM: run the finally blocks and atexit
    # handlers (unmount, stop clients and servers)
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _sigterm)


def wait_until(cond, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    v = cond()
    while not v and time.monotonic() < deadline:
        time.sleep(interval)
        v = cond()
    return v


def fmt_s(t):
    return "%.3fs" % t if t is not None else "never"


def kill_now(m):
    """kill -9 of member m; returns time.monotonic() right after the signal.
    (zkensemble's Member.kill() sends it too, but returns only once
    `zkserver kill` has seen the process gone — ~1.5 s here, as the dead
    process stays a zombie until init reaps it — too late to start the
    clients' first requests at the kill.  Call m.kill() afterwards for its
    bookkeeping.)"""
    pid = m.pid
    os.kill(pid, signal.SIGKILL)
    return time.monotonic()


def sessions_by_member(ens):
    """{session id: member} from every running member's `cons`."""
    out = {}
    for m in ens.members:
        if not m.running:
            continue
        for sid in re.findall(r"sid=0x([0-9a-f]+)", m.four("cons") or ""):
            out[int(sid, 16)] = m
    return out


def new_kazoo(hosts, ordered=False, log=None):
    zk = KazooClient(hosts=hosts, timeout=SESSION_MS / 1000.0, randomize_hosts=not ordered,
                     logger=log or logging.getLogger("kazoo.checker"))
    zk.start(timeout=15)
    return zk


def stop_kazoo(zk):
    if zk is None:
        return
    try:
        zk.stop()
        zk.close()
    except Exception:
        pass


# ---------------------------------------------------------------- clients
#
# Every client under test is one session with the same small interface, so
# the checks below are written once: sid(), state(), eph(path, data),
# watch(path), get(path), set(path, data), probe(path, data, seconds),
# events (list of (type, path)), states (list of state names), expired(),
# close(), log_tail().

class LineClient(object):
    """A compiled client program (clients_failover_capi.c / _zkc.c) driven
    through its line protocol."""

    def __init__(self, label, exe, hosts, ordered, tmp):
        self.label = label
        self.events, self.states = [], []
        self.replies = queue.Queue()
        self.errlog = os.path.join(tmp, re.sub(r"\W+", "_", label) + ".stderr")
        self.err = open(self.errlog, "w")
        self.proc = subprocess.Popen([exe, hosts, str(SESSION_MS)] + (["ordered"] if ordered else []),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
                                  universal_newlines=True, bufsize=1)
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        kind, rest = self._reply(20)
        if kind != "hello":
            self.close()
            raise RuntimeError("%s did not connect: %s %s\n%s" % (label, kind, rest, self.log_tail()))
        self.first_sid = int(rest, 16)

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            word, _, rest = line.partition(" ")
            if word == "event":
                t, _, path = rest.partition(" ")
                self.events.append((t, path))
            elif word == "state":
                self.states.append(rest)
            else:
                self.replies.put((word, rest))
        self.replies.put(("eof", ""))

    def _reply(self, timeout):
        try:
            return self.replies.get(timeout=timeout)
        except queue.Empty:
            return ("timeout", "")

    def cmd(self, line, timeout=15):
        with self.lock:
            if self.proc.poll() is not None:
                return ("eof", "exited %s" % self.proc.returncode)
            try:
                self.proc.stdin.write(line + "\n")
                self.proc.stdin.flush()
            except OSError as e:
                return ("eof", str(e))
            return self._reply(timeout)

    def sid(self):
        kind, rest = self.cmd("sid")
        return int(rest.split()[0], 16) if kind == "ok" else None

    def state(self):
        kind, rest = self.cmd("sid")
        return rest.split()[1] if kind == "ok" else "?"

    def eph(self, path, data):
        return self.cmd("eph %s %s" % (path, data))[0] == "ok"

    def watch(self, path):
        return self.cmd("watch %s" % path)[0] == "ok"

    def get(self, path):
        kind, rest = self.cmd("get %s" % path)
        return (rest if rest != "-" else "") if kind == "ok" else None

    def set(self, path, data):
        return self.cmd("set %s %s" % (path, data))[0] == "ok"

    def probe(self, path, data, seconds):
        """(CLOCK_MONOTONIC of the first success or None, tries, failed codes)."""
        kind, rest = self.cmd("probe %s %s %d" % (path, data, seconds * 1000), timeout=seconds + 15)
        f = rest.split()
        if kind == "ok":
            return int(f[0]) / 1e9, int(f[1]), f[2]
        return None, int(f[1]) if len(f) > 1 else 0, " ".join(f) or kind

    def expired(self):
        return any(s in ("expired", "auth_failed") for s in self.states)

    def connected_state(self):
        return self.state() == "connected"

    def close(self):
        try:
            if self.proc.poll() is None:
                self.cmd("quit", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.err.close()

    def log_tail(self, n=15):
        try:
            with open(self.errlog, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


class KazooSession(object):
    """kazoo with the same interface."""

    def __init__(self, label, hosts, ordered, tmp):
        self.label = label
        self.events, self.states = [], []
        self.errlog = os.path.join(tmp, re.sub(r"\W+", "_", label) + ".log")
        self.log = logging.getLogger("kazoo." + re.sub(r"\W+", "_", label))
        self.log.propagate = False
        self.log.setLevel(logging.INFO)
        self.handler = logging.FileHandler(self.errlog)
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        self.log.addHandler(self.handler)
        self.zk = KazooClient(hosts=hosts, timeout=SESSION_MS / 1000.0, randomize_hosts=not ordered,
                              logger=self.log)
        self.zk.add_listener(lambda st: self.states.append(str(st).lower()))
        self.zk.start(timeout=15)
        self.first_sid = self.zk.client_id[0]
        self.datawatch = []      # what kazoo's DataWatch recipe reported

    def sid(self):
        cid = self.zk.client_id
        return cid[0] if cid else None

    def state(self):
        return str(self.zk.state).lower()

    def connected_state(self):
        return self.zk.connected and self.state() == "connected"

    def _call(self, fn, timeout=15):
        try:
            return True, fn().get(timeout=timeout)
        except Exception as e:
            return False, e

    def eph(self, path, data):
        return self._call(lambda: self.zk.create_async(path, data.encode(), ephemeral=True))[0]

    def watch(self, path):
        """A one-shot data watch, and kazoo's DataWatch recipe on the same
        node: kazoo (2.x) fires its one-shot watches with a NONE event when
        a connection drops and forgets them (it sends no setWatches for
        them); DataWatch is how kazoo programs keep watching across that."""
        def w(ev):
            self.events.append((ev.type.lower(), ev.path))
        ok = self._call(lambda: self.zk.get_async(path, watch=w))[0]
        DataWatch(self.zk, path, func=lambda data, stat: self.datawatch.append(data))
        return ok and wait_until(lambda: self.datawatch, 5)

    def get(self, path):
        ok, r = self._call(lambda: self.zk.get_async(path))
        return r[0].decode() if ok else None

    def set(self, path, data):
        return self._call(lambda: self.zk.set_async(path, data.encode()))[0]

    def probe(self, path, data, seconds):
        end = time.monotonic() + seconds
        tries, errs = 0, []
        while True:
            tries += 1
            try:
                self.zk.set_async(path, data.encode()).get(timeout=3)
                return time.monotonic(), tries, ",".join(errs) or "-"
            except Exception as e:
                errs.append(type(e).__name__)
            if time.monotonic() > end:
                return None, tries, ",".join(errs)
            time.sleep(0.02)

    def expired(self):
        # kazoo says LOST when the session expired (or was closed)
        return "lost" in self.states

    def close(self):
        stop_kazoo(self.zk)
        self.log.removeHandler(self.handler)
        self.handler.close()

    def log_tail(self, n=15):
        try:
            with open(self.errlog, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


def build_programs(tmp):
    """The two client programs (the Apache one compiled here); {name: path or error text}."""
    out = {}
    capi = os.path.join(tmp, "capi_client")
    p = subprocess.run(["cc", "-std=gnu11", "-O1", "-Wall", "-Wextra", "-Werror", "-DTHREADED", "-o", capi,
                        os.path.join(HERE, "clients_failover_capi.c"), "-lzookeeper_mt", "-lpthread"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    out["capi"] = capi if p.returncode == 0 else "build failed:\n" + p.stdout
    # the libzkc one is built by make (make test), with libzkc's own flags
    zkc = os.path.join(zkfs_build(), "ensemble", "clients_failover_zkc")
    out["libzkc"] = zkc if os.access(zkc, os.X_OK) else "%s missing: make test builds it" % zkc
    return out


# ---------------------------------------------------------------- the mount

def have_mount_tools():
    if os.environ.get("ZK_CF_MOUNT", "1") == "0":
        return "ZK_CF_MOUNT=0"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    for tool in ("fusermount3", "inotifywait", "setsid"):
        if not shutil.which(tool):
            return "no " + tool
    if not os.access(os.path.join(zkfs_build(), "zkfs"), os.X_OK):
        return "no %s/zkfs" % zkfs_build()
    return None


class Mount(object):
    """One zkfs mount of HOSTS/fs with ephemeral=/locks:/members, its helper
    processes (setsid holders, inotifywait) and their cleanup: holders and
    the watchdog end by themselves once this test process is gone."""

    def __init__(self, hosts, tmp):
        self.tmp = tmp
        self.mnt = os.path.join(tmp, "mnt")
        self.log = os.path.join(tmp, "zkfs.log")
        self.procs = {}          # name -> Popen (each leads its own session)
        self.pid = None
        self.mounted = False
        self.watchdog = None
        os.makedirs(self.mnt)
        p = subprocess.run([os.path.join(zkfs_build(), "zkfs"), hosts + "/fs", self.mnt, "-o",
                            "ephemeral=/locks:/members,timeout=%d,log=%s" % (SESSION_MS // 1000, self.log)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                           timeout=40)
        if p.returncode != 0:
            raise RuntimeError("zkfs mount failed (%d): %s\n%s" % (p.returncode, p.stdout, self.log_tail()))
        self.mounted = True
        m = wait_until(lambda: re.search(r"zkfs\[(\d+)\]: mounted", self.log_text()), 5)
        self.pid = int(m.group(1)) if m else None
        # if this test dies hard (SIGKILL), nobody runs close(): unmount then
        self.watchdog = subprocess.Popen(
            ["bash", "-c", 'while kill -0 %d 2>/dev/null; do sleep 1; done; fusermount3 -uz "$1"; '
             '[ -n "$2" ] && kill -9 "$2"' % OWNER, "watchdog", self.mnt, str(self.pid or "")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self, n=25):
        return "".join(self.log_text().splitlines(True)[-n:])

    def holder(self, name, script):
        """A bash script run as the leader of a new Unix session (setsid);
        after the script it stays alive as long as this test process."""
        body = '%s || exit 1; touch "%s/%s.ok"; while kill -0 %d 2>/dev/null; do sleep 0.2; done' % (
            script, self.tmp, name, OWNER)
        err = open(os.path.join(self.tmp, name + ".err"), "w")
        p = subprocess.Popen(["bash", "-c", body], stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                             start_new_session=True, cwd=self.tmp)
        err.close()
        self.procs[name] = p
        ok = wait_until(lambda: os.path.exists(os.path.join(self.tmp, name + ".ok")) or p.poll() is not None, 15)
        return ok and p.poll() is None

    def end(self, name):
        p = self.procs.pop(name, None)
        if p is None:
            return
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def run(self, argv, timeout=20, new_session=True):
        """A command on the mount from its own Unix session, bounded
        (SIGKILL at `timeout`): (rc, output)."""
        p = subprocess.run(["timeout", "-s", "KILL", str(timeout)] + argv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True, start_new_session=new_session,
                           stdin=subprocess.DEVNULL, cwd=self.tmp, timeout=timeout + 10)
        return p.returncode, p.stdout

    def inotify(self, rel):
        ev = os.path.join(self.tmp, "inotify.out")
        err = os.path.join(self.tmp, "inotify.err")
        # inotifywait -m, ended with its session group by end(); it also
        # ends once this test process is gone, or after 150 s
        script = ('inotifywait -m -e create,delete,close_write,modify,moved_to --format "%%e %%f" "$1" & w=$!; '
                  'end=$((SECONDS + 150)); while kill -0 %d 2>/dev/null && kill -0 $w 2>/dev/null '
                  '&& [ $SECONDS -lt $end ]; do sleep 0.5; done; kill -9 $w 2>/dev/null; wait' % OWNER)
        with open(ev, "w") as out, open(err, "w") as errf:
            p = subprocess.Popen(["bash", "-c", script, "inotify", self.path(rel)], stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=errf, start_new_session=True)
        self.procs["inotify"] = p
        ok = wait_until(lambda: "Watches established" in open(err).read() or p.poll() is not None, 10)
        self.ev_file = ev
        return ok and p.poll() is None

    def inotify_lines(self):
        try:
            with open(self.ev_file) as f:
                return f.read().splitlines()
        except OSError:
            return []

    def wait_event(self, regex, timeout=EVENT_S):
        r = re.compile(regex)
        return wait_until(lambda: any(r.search(line) for line in self.inotify_lines()), timeout)

    def close(self):
        for name in list(self.procs):
            self.end(name)
        if self.mounted:
            for args in (["-u"], ["-uz"]):
                if subprocess.run(["fusermount3"] + args + [self.mnt], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, timeout=20).returncode == 0:
                    break
            self.mounted = False
        if self.pid:
            def gone():
                try:
                    os.kill(self.pid, 0)
                    return False
                except OSError:
                    return True
            if not wait_until(gone, 5, 0.1):
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except OSError:
                    pass
            self.pid = None
        if self.watchdog:
            try:
                os.killpg(self.watchdog.pid, signal.SIGKILL)
            except OSError:
                pass
            self.watchdog.wait(timeout=5)
            self.watchdog = None


def mount_write(mnt, rel, data):
    """echo DATA > MNT/REL from its own session: (rc, output)."""
    return mnt.run(["sh", "-c", 'printf %s "$1" > "$2"', "sh", data, mnt.path(rel)])


# ---------------------------------------------------------------- one flavor

class Run(object):
    """The checks of one flavor's ensemble, named '<flavor>: ...'."""

    def __init__(self, flavor, ens, tmp, programs):
        self.flavor, self.ens, self.tmp, self.programs = flavor, ens, tmp, programs
        self.clients = []
        self.mnt = None
        self.checkers = []

    def check(self, name, cond, diag=None):
        return tap.check("%s: %s" % (self.flavor, name), cond, diag)

    def diag(self, text):
        tap.diag("%s: %s" % (self.flavor, text))

    def checker(self, members):
        zk = new_kazoo(self.ens.hosts(members))
        self.checkers.append(zk)
        return zk

    def logs(self, n=15):
        return "\n".join("--- %s server.log:\n%s" % (m.name, m.log_tail(n)) for m in self.ens.members)

    def session_lines(self, sid):
        """Every member's log lines about session sid, and the members'
        leadership changes, in time order."""
        key = "0x%x" % sid
        lines = []
        for m in self.ens.members:
            for line in m.log_text().splitlines():
                if key in line or "quorum: " in line and ("LOOKING" in line or " in epoch " in line):
                    lines.append("%s  [%s]" % (line, m.name))
        lines.sort()
        return "server logs on 0x%x and leadership:\n%s" % (sid, "\n".join(lines[-40:]))

    def close(self):
        for c in self.clients:
            try:
                c.close()
            except Exception:
                pass
        if self.mnt:
            self.mnt.close()
        for zk in self.checkers:
            stop_kazoo(zk)

    # -- set-up

    def start_clients(self, leader, followers):
        on_leader = [leader] + followers
        on_follower = followers + [leader]
        for lib in ("kazoo", "capi", "libzkc"):
            for where, order in (("leader", on_leader), ("follower", on_follower)):
                label = "%s on %s" % (lib, where)
                hosts = self.ens.hosts(order)
                try:
                    if lib == "kazoo":
                        c = KazooSession(label, hosts, True, self.tmp)
                    else:
                        exe = self.programs[lib]
                        if not os.path.isabs(exe):
                            raise RuntimeError(exe)
                        c = LineClient(label, exe, hosts, True, self.tmp)
                except Exception as e:
                    self.check("%s: connects" % label, False, "%s\n%s" % (e, self.logs(5)))
                    continue
                c.name = "%s-%s" % (lib, where)
                self.clients.append(c)

    def prepare_clients(self, zk):
        by = sessions_by_member(self.ens)
        for c in self.clients:
            c.e = "/cf/e-" + c.name
            c.w = "/cf/w-" + c.name
            c.p = "/cf/p-" + c.name
            zk.create(c.w, b"w0")
            zk.create(c.p, b"p0")
            m = by.get(c.first_sid)
            c.member = m
            ok = c.eph(c.e, "mine") and c.watch(c.w)
            self.check("%s: session 0x%x on %s (%s): ephemeral made, watch set"
                       % (c.label, c.first_sid, m.name if m else "?", m.mode() if m else "?"), ok, c.log_tail())

    def prepare_mount(self, zk):
        for p in ("/fs/locks", "/fs/members", "/fs/w"):
            zk.ensure_path(p)
        zk.create("/fs/w/f", b"v0")
        zk.create("/fs/w/gone", b"g")
        t = time.monotonic()
        self.mnt = mnt = Mount(self.ens.hosts(), self.tmp)
        self.diag("mount: mounted in %.2fs (daemon %s)" % (time.monotonic() - t, mnt.pid))
        ok_e = mnt.holder("member", 'echo addr-e > "%s"' % mnt.path("members", "e"))
        ok_l = mnt.holder("lock", 'mkdir "%s"' % mnt.path("locks", "job"))
        zk.sync("/fs")
        e, le = zk.exists("/fs/members/e"), zk.exists("/fs/locks/job")
        mnt.owner_e = e.ephemeralOwner if e else 0
        mnt.owner_l = le.ephemeralOwner if le else 0
        data = zk.get("/fs/members/e")[0] if e else None
        self.check("mount: setsid holders made the ephemeral member file (data %r) and took the mkdir lock "
                   "(owners 0x%x, 0x%x)" % (data, mnt.owner_e, mnt.owner_l),
                   ok_e and ok_l and mnt.owner_e and mnt.owner_l and mnt.owner_e != mnt.owner_l
                   and data == b"addr-e\n", "holders %s %s\n%s" % (ok_e, ok_l, mnt.log_tail()))
        rc, out = mnt.run(["mkdir", mnt.path("locks", "job")])
        self.check("mount: before the kill, mkdir of the held lock from another Unix session fails with EEXIST",
                   rc != 0 and "File exists" in out, "rc %d: %s" % (rc, out))
        # the kernel must know the directory and the file for inotify
        os.listdir(mnt.path("w"))
        with open(mnt.path("w", "f")) as f:
            f.read()
        ok = mnt.inotify("w")
        zk.create("/fs/w/before", b"b")
        self.check("mount: inotifywait -m on w/ set up and gets an event before the kill",
                   ok and mnt.wait_event(r"^CREATE before$"), "events %r" % mnt.inotify_lines())
        by = sessions_by_member(self.ens)
        where = ", ".join("%s 0x%x on %s" % (what, sid, by[sid].name if sid in by else "?")
                          for what, sid in (("member holder", mnt.owner_e), ("lock holder", mnt.owner_l)))
        mount_sid = re.search(r"\(session 0x([0-9a-f]+)\)", mnt.log_text())
        if mount_sid:
            s = int(mount_sid.group(1), 16)
            where = "mount 0x%x on %s, %s" % (s, by[s].name if s in by else "?", where)
        self.diag("mount: sessions: " + where)

    # -- the failover

    def failover(self):
        ens = self.ens
        leader = ens.wait_ready(60)
        followers = [m for m in ens.voters if m is not leader]
        self.diag("leader %s, followers %s" % (leader.name, ", ".join(m.name for m in followers)))
        zk = self.checker([leader] + followers)
        zk.ensure_path("/cf")
        t = time.monotonic()
        self.start_clients(leader, followers)
        self.prepare_clients(zk)
        self.diag("clients ready in %.1fs" % (time.monotonic() - t))
        skip_mount = have_mount_tools()
        if skip_mount is None:
            try:
                self.prepare_mount(zk)
            except Exception:
                self.check("mount: set up", False, traceback.format_exc())
                if self.mnt:
                    self.mnt.close()
                self.mnt = None
        stop_kazoo(zk)
        self.checkers.remove(zk)

        # every client and the mount probe from the moment of the kill
        results = {}
        threads = []
        t_kill = kill_now(leader)
        for c in self.clients:
            th = threading.Thread(target=lambda c=c: results.__setitem__(c.name, c.probe(c.p, "after", PROBE_S)),
                                  daemon=True)
            th.start()
            threads.append(th)
        if self.mnt:
            def mount_probe():
                tries, errs = 0, []
                end = time.monotonic() + PROBE_S
                while time.monotonic() < end:
                    tries += 1
                    rc, out = mount_write(self.mnt, "w/probe", "after")
                    if rc == 0:
                        results["mount"] = (time.monotonic(), tries, ",".join(errs) or "-")
                        return
                    errs.append("rc %d: %s" % (rc, out.strip()))
                    time.sleep(0.05)
                results["mount"] = (None, tries, "; ".join(errs))

            def mount_read():
                rc, out = self.mnt.run(["cat", self.mnt.path("w", "f")])
                results["mount-read"] = (time.monotonic() if rc == 0 and out == "v0" else None, 1,
                                         "rc %d: %r" % (rc, out))
            for fn in (mount_probe, mount_read):
                th = threading.Thread(target=fn, daemon=True)
                th.start()
                threads.append(th)
        new = ens.wait_leader(30, among=followers)
        t_new = time.monotonic()
        leader.kill()       # zkensemble's bookkeeping (the process is dead)
        self.diag("kill -9 of leader %s: %s leads %.3fs later (srvr polled every 50 ms)"
                  % (leader.name, new.name if new else None, t_new - t_kill))
        self.check("a follower leads after the kill", new is not None, "modes %r\n%s" % (ens.modes(), self.logs()))
        for th in threads:
            th.join(PROBE_S + 20)

        # the first write after the kill, per client
        for c in self.clients:
            t, tries, errs = results.get(c.name, (None, 0, "no answer"))
            d = t - t_kill if t is not None else None
            summary.append((self.flavor, c.label, d))
            self.diag("%s: kill -> first successful write %s (%d tries; failed tries: %s)"
                      % (c.label, fmt_s(d), tries, errs))
            self.check("%s: a write begun after the kill succeeds (%s)" % (c.label, fmt_s(d)), t is not None,
                       "tries %d, errors %s\nclient log:\n%s\n%s" % (tries, errs, c.log_tail(), self.logs()))
        if self.mnt:
            t, tries, errs = results.get("mount", (None, 0, "no answer"))
            d = t - t_kill if t is not None else None
            summary.append((self.flavor, "zkfs mount (write)", d))
            self.diag("mount: kill -> first successful write %s (%d tries; failures: %s)" % (fmt_s(d), tries, errs))
            self.check("mount: a write begun at the kill succeeds without an error (%s)" % fmt_s(d),
                       t is not None and tries == 1, "tries %d, errors %s\nzkfs log:\n%s\n%s"
                       % (tries, errs, self.mnt.log_tail(), self.logs()))
            t, _, detail = results.get("mount-read", (None, 1, "no answer"))
            self.diag("mount: kill -> cat of a known file %s" % fmt_s(t - t_kill if t else None))
            self.check("mount: a read begun at the kill succeeds", t is not None, detail)
        return leader, new, followers

    def after_failover(self, leader, followers):
        zk = self.checker(followers)
        zk.sync("/cf")
        for c in self.clients:
            sid, state = c.sid(), c.state()
            self.check("%s: same session after the failover (0x%x), state %s, never expired"
                       % (c.label, sid or 0, state),
                       sid == c.first_sid and c.connected_state() and not c.expired(),
                       "before 0x%x after %r; states seen %r\nclient log:\n%s\n%s"
                       % (c.first_sid, sid, c.states, c.log_tail(), self.session_lines(c.first_sid)))
            st = zk.exists(c.e)
            self.check("%s: its ephemeral still exists, owned by it (another client sees it)" % c.label,
                       st is not None and st.ephemeralOwner == c.first_sid, "stat %r" % (st,))
        # changes made after the failover, by another client
        for c in self.clients:
            zk.set(c.w, b"w1")
        for c in self.clients:
            ok = wait_until(lambda: ("changed", c.w) in c.events or ("none", None) in c.events, EVENT_S)
            ok = ("changed", c.w) in c.events
            if isinstance(c, KazooSession):
                # kazoo's own rule: a one-shot watch ends with NONE at a
                # disconnect; the DataWatch set before the kill must then
                # report the change
                dropped = "suspended" in c.states and ("none", None) in c.events
                dw = wait_until(lambda: b"w1" in c.datawatch, EVENT_S)
                self.check("%s: the watch set before the kill fires for a change made after it (%s; "
                           "DataWatch sees it)" % (c.label, "changed" if ok else
                                                   "kazoo fired NONE at the disconnect" if dropped else "-"),
                           (ok or dropped) and dw,
                           "events %r, DataWatch %r, states %r\n%s\n%s"
                           % (c.events, c.datawatch, c.states, c.log_tail(), self.session_lines(c.first_sid)))
                continue
            self.check("%s: the watch set before the kill fires for a change made after it" % c.label, ok,
                       "events %r, states %r\n%s\n%s" % (c.events, c.states, c.log_tail(),
                                                          self.session_lines(c.first_sid)))
        for c in self.clients:
            got = c.get(c.p)
            wrote = c.set(c.p, "again")
            zk.sync(c.p)
            seen = zk.get(c.p)[0]
            self.check("%s: reads and writes after the failover" % c.label, got == "after" and wrote and
                       seen == b"again", "read %r, write %s, another client then reads %r\n%s"
                       % (got, wrote, seen, c.log_tail()))
        if self.mnt:
            self.mount_after_failover(zk, followers)

    def mount_after_failover(self, zk, followers):
        mnt = self.mnt
        zk.sync("/fs")
        e, le = zk.exists("/fs/members/e"), zk.exists("/fs/locks/job")
        try:
            with open(mnt.path("members", "e")) as f:
                content = f.read()
        except OSError as ex:
            content = ex
        self.check("mount: the ephemeral member file stays, same owner (0x%x), readable through the mount"
                   % mnt.owner_e, e is not None and e.ephemeralOwner == mnt.owner_e and content == "addr-e\n",
                   "stat %r, content %r\nzkfs log:\n%s\n%s" % (e, content, mnt.log_tail(),
                                                            self.session_lines(mnt.owner_e)))
        rc, out = mnt.run(["mkdir", mnt.path("locks", "job")])
        self.check("mount: the mkdir lock is still held: same owner (0x%x), mkdir from another session gives EEXIST"
                   % mnt.owner_l, le is not None and le.ephemeralOwner == mnt.owner_l and rc != 0
                   and "File exists" in out, "stat %r, mkdir rc %d: %s\n%s" % (le, rc, out,
                                                                               self.session_lines(mnt.owner_l)))
        # changes made elsewhere after the failover: kazoo and zkfs-cli on
        # surviving members
        zk.create("/fs/w/after-kazoo", b"k")
        zk.set("/fs/w/f", b"v1")
        zk.delete("/fs/w/gone")
        cli = subprocess.run([os.path.join(zkfs_build(), "zkfs-cli"), "-s", followers[-1].hostport,
                              "create", "/fs/w/after-cli", "c"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, universal_newlines=True, timeout=30)
        want = [r"^CREATE after-kazoo$", r"^(CLOSE_WRITE\S*|MODIFY) f$", r"^DELETE gone$", r"^CREATE after-cli$"]
        missing = [w for w in want if not mnt.wait_event(w)]
        self.check("mount: inotifywait -m keeps getting events for changes made after the failover",
                   cli.returncode == 0 and not missing,
                   "zkfs-cli: %d %s\nmissing %r in %r\n%s" % (cli.returncode, cli.stdout, missing,
                                                               mnt.inotify_lines(), mnt.log_tail()))
        rc1, out1 = mount_write(mnt, "w/mine", "m1")
        rc2, out2 = mnt.run(["cat", mnt.path("w", "f")])
        rc3, out3 = mnt.run(["ls", mnt.path("w")])
        zk.sync("/fs/w")
        node = zk.exists("/fs/w/mine") and zk.get("/fs/w/mine")[0]
        self.check("mount: reads and writes after the failover", rc1 == 0 and node == b"m1" and rc2 == 0
                   and out2 == "v1" and rc3 == 0 and "after-cli" in out3.split(),
                   "write %d %s, zk %r, cat %d %r, ls %d %r" % (rc1, out1, node, rc2, out2, rc3, out3))
        self.check("mount: its log reports no expired session", "expired" not in mnt.log_text(), mnt.log_tail())

    def after_restart(self, leader):
        ens = self.ens
        t = time.monotonic()
        try:
            leader.start()
            ens.wait_ready(60)
            ok = True
        except Exception:
            ok = False
        self.check("%s started again: the ensemble serves (%.1fs)" % (leader.name, time.monotonic() - t), ok,
                   "modes %r\n%s" % (ens.modes(), self.logs()))
        # what the restarted member serves
        zk = self.checker([leader])
        zk.sync("/cf")
        for c in self.clients:
            st = zk.exists(c.e)
            ok = c.set(c.p, "final")
            zk.sync(c.p)    # the checker reads from the restarted member
            self.check("%s: after the restart: same session, ephemeral on %s, a write works"
                       % (c.label, leader.name),
                       st is not None and st.ephemeralOwner == c.first_sid and c.sid() == c.first_sid
                       and not c.expired() and ok and zk.get(c.p)[0] == b"final",
                       "stat %r, sid %r, states %r, write %s\n%s" % (st, c.sid(), c.states, ok, c.log_tail()))
        if self.mnt:
            mnt = self.mnt
            rc, out = mount_write(mnt, "w/mine", "m2")
            zk.sync("/fs")
            self.check("mount: a write after the restart, seen on %s" % leader.name,
                       rc == 0 and zk.get("/fs/w/mine")[0] == b"m2", "rc %d %s" % (rc, out))
            # the lock is freed when its holder's session leader exits
            mnt.end("lock")
            gone = wait_until(lambda: zk.exists("/fs/locks/job") is None, EVENT_S)
            rc, out = mnt.run(["mkdir", mnt.path("locks", "job")])
            self.check("mount: the lock holder exits: the lock is freed and a mkdir from another session takes it",
                       gone and rc == 0, "gone %s, mkdir rc %d: %s\n%s" % (gone, rc, out, mnt.log_tail()))
            mnt.end("member")
            gone = wait_until(lambda: zk.exists("/fs/members/e") is None, EVENT_S)
            self.check("mount: the member holder exits: its ephemeral file goes", gone, mnt.log_tail())
        # closing each session removes its ephemeral
        for c in self.clients:
            c.close()
        gone = [c.label for c in self.clients if wait_until(lambda: zk.exists(c.e) is None, EVENT_S)]
        self.check("every client closes: its ephemeral is removed", len(gone) == len(self.clients),
                   "still there: %r" % [c.label for c in self.clients if c.label not in gone])


def run_flavor(flavor, programs):
    kinds = member_kinds(flavor, voters=3)
    if any(k.startswith("zkfs") for k in kinds) and not os.access(os.path.join(zkfs_build(), "zkfs-server"),
                                                                  os.X_OK):
        tap.skip("%s: ensemble" % flavor, "no %s/zkfs-server" % zkfs_build())
        return
    t0 = time.monotonic()
    try:
        ens = Ensemble(kinds)
    except Exception:
        tap.check("%s: ensemble of 3 starts" % flavor, False, traceback.format_exc())
        return
    tmp = tempfile.mkdtemp(prefix="zk-cf-%s-" % flavor)
    run = Run(flavor, ens, tmp, programs)
    try:
        run.check("ensemble %s starts and elects a leader (%.1fs)" % (ens.describe(), time.monotonic() - t0), True)
        leader, new, followers = run.failover()
        run.diag("%.1fs: failover done" % (time.monotonic() - t0))
        if new is not None:
            run.after_failover(leader, followers)
        run.diag("%.1fs: checks after the failover done" % (time.monotonic() - t0))
        run.after_restart(leader)
    except Exception:
        run.check("scenario ran to the end", False, traceback.format_exc() + "\n" + run.logs())
    finally:
        run.close()
        ens.close()
        if os.environ.get("ZK_KEEP"):
            tap.diag("kept %s and %s" % (tmp, ens.root))
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    run.diag("%.1fs" % (time.monotonic() - t0))


def flavors():
    """argv[1] or $ZK_CF_KINDS: exactly those flavors.  Otherwise zkfs and
    the flavors of $ZK_ENSEMBLE_KINDS (default apache): tests/run sets that
    to apache for the long ensemble suites, but this file exists to check
    zkfs and takes well under a minute per flavor."""
    if len(sys.argv) > 1 and sys.argv[1]:
        return flavors_from_args()
    if os.environ.get("ZK_CF_KINDS"):
        return flavors_from_args([sys.argv[0], os.environ["ZK_CF_KINDS"]])
    return ["zkfs"] + [f for f in flavors_from_args([sys.argv[0]], default="apache") if f != "zkfs"]


def main():
    logging.basicConfig(level=logging.CRITICAL)
    flavors_run = flavors()
    build_dir = tempfile.mkdtemp(prefix="zk-cf-build-")
    try:
        programs = build_programs(build_dir)
        for lib, exe in sorted(programs.items()):
            tap.check("build the %s client program" % lib, os.path.isabs(exe), exe)
        why = have_mount_tools()
        if why:
            tap.skip("the zkfs mount across a failover", why)
        for flavor in flavors_run:
            run_flavor(flavor, programs)
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)
    tap.diag("time from kill -9 of the leader to the first successful write begun after it:")
    for flavor, label, d in summary:
        tap.diag("  %-8s %-22s %s" % (flavor, label, fmt_s(d)))
    tap.done()


if __name__ == "__main__":
    main()
