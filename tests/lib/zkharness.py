"""zkharness — what every zkfs Python test shares: start and stop servers
(zkfs-server or Apache ZooKeeper 3.8, through tests/lib/zkserver), choose
which kinds a run covers, and report results as TAP.

    from zkharness import ZkServer, Tap, kinds_from_args

    tap = Tap()
    for kind in kinds_from_args():
        with ZkServer(kind) as srv:          # srv.port, srv.hosts, srv.dir
            tap.check(kind + ": ruok", srv.four("ruok") == "imok")
    tap.done()                                # prints the plan, exits 0/1

Every server started here is stopped when its `with` block ends, when the
test calls stop()/kill(), or at interpreter exit — whichever comes first —
and the zkserver watchdog kills it if this process dies hard.
"""

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback

LIB = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(LIB))
ZKSERVER = os.path.join(LIB, "zkserver")
KINDS = ("apache", "zkfs")

_live = []


def _cleanup():
    for srv in list(_live):
        try:
            srv.stop()
        except Exception:  # at exit, keep stopping the others
            pass


atexit.register(_cleanup)


def zkfs_build():
    return os.environ.get("ZKFS_BUILD", os.path.join(ROOT, "build"))


def kinds_from_args(argv=None):
    """Server kinds this run covers: argv[1] or $ZK_KINDS, 'both' (default),
    'apache', 'zkfs' or a comma list."""
    argv = sys.argv if argv is None else argv
    want = argv[1] if len(argv) > 1 else os.environ.get("ZK_KINDS", "both")
    if want in ("both", "all", ""):
        return list(KINDS)
    kinds = [k.strip() for k in want.split(",") if k.strip()]
    for k in kinds:
        if k not in KINDS:
            raise SystemExit("unknown server kind %r (apache, zkfs, both)" % k)
    return kinds


class ServerError(Exception):
    pass


class ZkServer(object):
    """One server in a fresh temporary directory.

    kind: 'zkfs' or 'apache'; extra_cfg: dict of zoo.cfg keys (tickTime,
    maxClientCnxns, ...); super_digest: 'super:BASE64' to enable the super
    user; jvm_flags: SERVER_JVMFLAGS for the server (-Dkey=value words, the
    way zkServer.sh users give JAAS files and system properties).  Starting happens in the constructor; it raises ServerError (with
    the server's log tail) when the server does not come up."""

    def __init__(self, kind, extra_cfg=None, super_digest=None, keep=False, jvm_flags=None):
        self.kind = kind
        self.jvm_flags = jvm_flags
        self.extra_cfg = dict(extra_cfg or {})
        self.super_digest = super_digest
        self.keep = keep or bool(os.environ.get("ZK_KEEP"))
        self.dir = tempfile.mkdtemp(prefix="zk-%s-" % kind)
        self.port = None
        self.running = False
        _live.append(self)
        args = ["start", kind, self.dir] + ["%s=%s" % kv for kv in self.extra_cfg.items()]
        try:
            self.port = int(self._run(*args).strip().splitlines()[-1])
        except Exception:
            _live.remove(self)
            if not self.keep:
                shutil.rmtree(self.dir, ignore_errors=True)
            raise
        self.running = True

    def _env(self):
        env = dict(os.environ)
        env["ZK_OWNER_PID"] = str(os.getpid())
        env.setdefault("ZKFS_BUILD", zkfs_build())
        if self.super_digest:
            env["ZK_SUPER_DIGEST"] = self.super_digest
        if self.jvm_flags is not None:
            env["SERVER_JVMFLAGS"] = self.jvm_flags
        return env

    def _run(self, *args, **kw):
        p = subprocess.run([ZKSERVER] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=self._env(),
                           timeout=kw.get("timeout", 90))
        if p.returncode != 0:
            raise ServerError("zkserver %s failed:\n%s" % (" ".join(args), p.stderr.decode(errors="replace")))
        return p.stdout.decode()

    @property
    def hosts(self):
        return "127.0.0.1:%d" % self.port

    @property
    def data_dir(self):
        return os.path.join(self.dir, "data")

    @property
    def pid(self):
        try:
            with open(os.path.join(self.dir, "pid")) as f:
                return int(f.read())
        except (OSError, ValueError):
            return None

    def stop(self):
        """SIGTERM (then SIGKILL after a bound); keeps the directory until close()."""
        if self.running:
            self.running = False
            self._run("stop", self.dir)

    def kill(self):
        """SIGKILL: a crash."""
        if self.running:
            self.running = False
            self._run("kill", self.dir)

    def restart(self):
        """Stop if running, then start again with the same port and data."""
        if self.running:
            self.stop()
        self._run("restart", self.dir)
        self.running = True

    def start_again(self):
        """Start after stop()/kill() on the same port and data (alias of restart)."""
        self.restart()

    def close(self):
        try:
            self.stop()
        finally:
            if self in _live:
                _live.remove(self)
            if not self.keep:
                shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, n=30):
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def four(self, cmd, timeout=5.0):
        """Send a four-letter word; return the whole answer as text."""
        return four_letter(self.port, cmd, timeout)

    def alive(self):
        pid = self.pid
        if not pid:
            return False
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def free_port():
    """A loopback port the kernel says is free now (for secureClientPort,
    admin ports, ...): bind to port 0 and let go."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def four_letter(port, cmd, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(cmd.encode() if isinstance(cmd, str) else cmd)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
        return out.decode(errors="replace")
    finally:
        s.close()


def wait_for(cond, timeout=10.0, interval=0.05):
    """Poll cond() until truthy or timeout; returns the last value."""
    deadline = time.time() + timeout
    v = cond()
    while not v and time.time() < deadline:
        time.sleep(interval)
        v = cond()
    return v


class Tap(object):
    """A tiny TAP producer.  check() records one result; test() is a
    decorator-or-call that runs a function and turns an exception into a
    failure with its traceback as diagnostics.  done() prints the plan
    (at the end, which TAP allows) and exits non-zero if anything failed."""

    def __init__(self):
        self.n = 0
        self.failed = []
        sys.stdout.reconfigure(line_buffering=True)

    def diag(self, text):
        for line in str(text).rstrip("\n").splitlines():
            print("# " + line)

    def check(self, name, cond, diag=None):
        self.n += 1
        name = name.replace("#", "\\#")
        if cond:
            print("ok %d - %s" % (self.n, name))
        else:
            print("not ok %d - %s" % (self.n, name))
            self.failed.append(name)
            if diag is not None:
                self.diag(diag)
        return bool(cond)

    def eq(self, name, got, want):
        return self.check(name, got == want, "got:  %r\nwant: %r" % (got, want))

    def todo(self, name, cond, reason, diag=None):
        """A check expected to fail for a known reason (a bug on record):
        TAP's '# TODO reason'.  A failure is printed as 'not ok ... # TODO'
        and does not fail the program (tests/run counts it as skipped); a
        pass is printed as 'ok ... # TODO', meaning the reason is gone."""
        self.n += 1
        name = name.replace("#", "\\#")
        print("%s %d - %s # TODO %s" % ("ok" if cond else "not ok", self.n, name, reason))
        if not cond and diag is not None:
            self.diag(diag)
        return bool(cond)

    def skip(self, name, reason):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, reason))

    def test(self, name, fn=None, *args, **kw):
        """tap.test('name', fn, ...) runs fn now; @tap.test('name') as a decorator also runs it."""
        if fn is None:
            def deco(f):
                self.test(name, f)
                return f
            return deco
        try:
            r = fn(*args, **kw)
        except Exception:
            self.check(name, False, traceback.format_exc())
            return None
        if r is None or r is True:
            self.check(name, True)
        else:
            self.check(name, False, r if isinstance(r, str) else "returned %r" % (r,))
        return r

    def fail_all(self, names, why):
        for i, n in enumerate(names):
            self.check(n, False, why if i == 0 else "(same reason as above)")

    def done(self):
        print("1..%d" % self.n)
        if self.failed:
            self.diag("%d of %d failed" % (len(self.failed), self.n))
        sys.stdout.flush()
        sys.exit(1 if self.failed else 0)


class Fail(Exception):
    """Raised by expect() inside a tap.test function: the test fails with this message."""


def expect(cond, msg="expectation failed", *fmt):
    if not cond:
        raise Fail(msg % fmt if fmt else msg)


def expect_eq(got, want, what="value"):
    if got != want:
        raise Fail("%s: got %r, want %r" % (what, got, want))
