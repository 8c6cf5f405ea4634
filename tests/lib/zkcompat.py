"""zkcompat — runs one list of scenarios against each server kind and
checks that zkfs-server and Apache ZooKeeper agree.

A scenario is a function f(ctx) that does operations, asserts what it knows
for certain (expect/expect_eq from zkharness: those facts were checked against
Apache ZooKeeper 3.8), and returns a *trace*: a normalised, JSON-like value
(no zxids, times or session ids) describing what it saw.  For every scenario
the runner reports "KIND: name" for each kind, then "agree: name" comparing
the traces of the two kinds when both ran.

    SC = Scenarios()
    @SC.add("create modes")
    def _(ctx):
        zk = ctx.kazoo()
        ...
        return trace
    SC.run(extra_cfg={"tickTime": 500})
"""

import json
import logging
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from zkharness import Tap, ZkServer, ServerError, kinds_from_args  # noqa: E402
from zkraw import RawClient  # noqa: E402

logging.basicConfig(level=logging.ERROR, stream=sys.stderr)


def norm_stat(st, own_session=None):
    """A Stat (kazoo ZnodeStat or zkraw Stat) without zxids, times and ids."""
    if st is None:
        return None
    eo = st.ephemeralOwner if hasattr(st, "ephemeralOwner") else st.owner_session_id
    if eo == 0:
        owner = "none"
    elif own_session is not None and eo == own_session:
        owner = "self"
    else:
        owner = "other"
    return {"version": st.version, "cversion": st.cversion, "aversion": st.aversion,
            "dataLength": st.dataLength, "numChildren": st.numChildren, "owner": owner}


def exc_name(e):
    return type(e).__name__


def outcome(fn, *args, **kw):
    """Run fn; return ('ok', value) or ('err', ExceptionClassName)."""
    try:
        return ("ok", fn(*args, **kw))
    except Exception as e:  # kazoo raises a class per error code
        return ("err", exc_name(e))


class Ctx(object):
    """What a scenario gets: the server, a base path unique to the scenario,
    and factories for kazoo and raw clients that are closed afterwards."""

    def __init__(self, srv, base):
        self.srv = srv
        self.kind = srv.kind
        self.base = base
        self.clients = []

    def kazoo(self, timeout=10.0, auth=None, **kw):
        from kazoo.client import KazooClient
        zk = KazooClient(hosts=self.srv.hosts, timeout=timeout, auth_data=auth,
                         connection_retry={"max_tries": 3, "delay": 0.1, "max_delay": 1},
                         command_retry={"max_tries": -1, "delay": 0.01, "max_delay": 0.2, "deadline": 30}, **kw)
        zk.start(timeout=10)
        self.clients.append(zk)
        return zk

    def raw(self, **kw):
        c = RawClient(self.srv.port, **kw)
        self.clients.append(c)
        return c

    def p(self, *parts):
        return "/".join([self.base] + [str(x) for x in parts])

    def close(self):
        for c in reversed(self.clients):
            try:
                if hasattr(c, "stop"):
                    c.stop()
                    c.close()
                else:
                    c.close()
            except Exception:
                pass
        self.clients = []


class Scenarios(object):
    def __init__(self):
        self.items = []

    def add(self, name, compare=True):
        def deco(fn):
            self.items.append((name, fn, compare))
            return fn
        return deco

    def run(self, extra_cfg=None, super_digest=None, kinds=None, tap=None, finish=True, prefix=""):
        tap = tap or Tap()
        kinds = kinds or kinds_from_args()
        traces = {}
        for kind in kinds:
            names = ["%s: %s%s" % (kind, prefix, n) for n, _, _ in self.items]
            try:
                srv = ZkServer(kind, extra_cfg=extra_cfg, super_digest=super_digest)
            except ServerError as e:
                tap.fail_all(names, "server did not start:\n%s" % e)
                continue
            with srv:
                traces[kind] = {}
                for i, (name, fn, _) in enumerate(self.items):
                    if not srv.alive():
                        tap.check("%s: %s%s" % (kind, prefix, name), False,
                                  "server is no longer running; log tail:\n" + srv.log_tail())
                        continue
                    base = "/t%02d_%s" % (i, "".join(ch if ch.isalnum() else "_" for ch in name))
                    ctx = Ctx(srv, base)
                    try:
                        tr = fn(ctx)
                        tap.check("%s: %s%s" % (kind, prefix, name), True)
                        traces[kind][name] = tr
                    except Exception:
                        tap.check("%s: %s%s" % (kind, prefix, name), False, traceback.format_exc())
                    finally:
                        ctx.close()
        if len(kinds) > 1 and all(k in traces for k in kinds):
            a, b = kinds[0], kinds[1]
            for name, _, compare in self.items:
                if not compare:
                    continue
                ta, tb = traces[a].get(name), traces[b].get(name)
                if ta is None or tb is None:
                    tap.check("agree: %s%s" % (prefix, name), False, "no trace from %s" % (a if ta is None else b))
                    continue
                ja = json.dumps(ta, sort_keys=True, default=repr)
                jb = json.dumps(tb, sort_keys=True, default=repr)
                tap.check("agree: %s%s" % (prefix, name), ja == jb, diff_text(ta, tb, a, b))
        if finish:
            tap.done()
        return tap

def diff_text(ta, tb, a, b):
    ja = json.dumps(ta, sort_keys=True, indent=1, default=repr).splitlines()
    jb = json.dumps(tb, sort_keys=True, indent=1, default=repr).splitlines()
    import difflib
    d = list(difflib.unified_diff(ja, jb, a, b, lineterm="", n=2))
    return "\n".join(d[:60])
