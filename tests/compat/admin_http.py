#!/usr/bin/python3
"""admin_http — the admin HTTP API (ZooKeeper 3.8's AdminServer) and the
Prometheus /metrics endpoint of zkfs-server, against Apache ZooKeeper 3.8
configured the same way.

Both servers get the same state through kazoo (a few znodes, an ephemeral,
watches, one open session); then every command Apache's /commands lists is
fetched from both and the JSON field names and value types must agree,
except for the differences docs/server.md names (KNOWN below: JVM-only
fields).  /metrics must hold every metric name of Apache's `monitor` with
the right Prometheus type, parse with promtool, and be scraped by a real
Prometheus.  Garbage, oversized and wrong-method requests get a clear
error, are logged, and leave every other client served; no secret given
in zoo.cfg, -D or SERVER_JVMFLAGS shows in any answer or in the log.

Debian's zookeeper package has no PrometheusMetricsProvider (checked at
run time below), so /metrics names and kinds are compared with Apache's
`monitor` fields and with the counters and summaries that Apache's own
ServerMetrics class declares (read from the jar with javap when present).

Usage: admin_http.py   (TAP on stdout)
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from zkharness import Tap, ZkServer, ServerError, free_port, wait_for, zkfs_build  # noqa: E402

from kazoo.client import KazooClient  # noqa: E402

PROM_CLASS = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
SECRET = "hunter2-s3cret"

# Fields Apache has and zkfs cannot have, by command (docs/server.md).
JAVA_ENV = {"java.version", "java.vendor", "java.home", "java.class.path", "java.library.path",
            "java.io.tmpdir", "java.compiler"}
KNOWN_MISSING = {"environment": JAVA_ENV}
# Maps whose keys are data (session ids, paths, expiry times, server ids).
DATA_KEYED = {("dump", "expiry_time_to_session_ids"), ("dump", "session_id_to_ephemeral_paths"),
              ("watches", "session_id_to_watched_paths"), ("watches_by_path", "path_to_session_ids"),
              ("voting_view", "current_config")}
# Apache's per-namespace summary sets ("avg_a_write_per_namespace" for /a):
# their names depend on the data; zkfs does not export these sets.
PER_NAMESPACE = re.compile(r"^(avg|min|max|cnt|sum)_.+_(read|write)_per_namespace$")


def http_get(port, path, timeout=10.0):
    """(status, content-type, body text)"""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode("utf-8", "replace")


def get_json(port, name):
    st, ct, body = http_get(port, "/commands/" + name)
    if st != 200 or "json" not in ct:
        raise AssertionError("GET /commands/%s: %s %s %r" % (name, st, ct, body[:200]))
    return json.loads(body)


def jtype(v):
    if v is None:
        return "null"
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict"}[type(v)]


def shape_diff(cmd, a, z, path=""):
    """Differences of field names and value types, a = Apache, z = zkfs."""
    out = []
    if jtype(a) != jtype(z):
        # null in one and a value in the other is a difference of state,
        # not of shape, only for "error" (always null here)
        out.append("%s: type %s (Apache) vs %s (zkfs)" % (path or "/", jtype(a), jtype(z)))
        return out
    if isinstance(a, dict):
        if (cmd, path.strip(".")) in DATA_KEYED:
            va = [jtype(v) for v in a.values()]
            vz = [jtype(v) for v in z.values()]
            if va and vz and set(va) != set(vz):
                out.append("%s: values %s vs %s" % (path, set(va), set(vz)))
            return out
        for k in a:
            if k not in z:
                out.append("%s.%s: missing in zkfs" % (path, k))
            else:
                out += shape_diff(cmd, a[k], z[k], "%s.%s" % (path, k))
        for k in z:
            if k not in a:
                out.append("%s.%s: only in zkfs" % (path, k))
    elif isinstance(a, list) and a and z:
        out += shape_diff(cmd, a[0], z[0], path + "[]")
    return out


def setup_state(port):
    k = KazooClient(hosts="127.0.0.1:%d" % port, timeout=10)
    k.start(timeout=15)
    k.ensure_path("/a/b")
    k.create("/e", b"x", ephemeral=True)
    k.get("/a", watch=lambda e: None)
    k.exists("/a/b", watch=lambda e: None)
    k.get_children("/a", watch=lambda e: None)
    k.set("/a", b"12345")
    return k


def main():
    tap = Tap()
    build = zkfs_build()
    tmp = tempfile.mkdtemp(prefix="zk-admin-")
    servers, clients, procs = [], [], []

    def cleanup():
        for c in clients:
            try:
                c.stop()
                c.close()
            except Exception:
                pass
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for s in servers:
            try:
                s.close()
            except Exception:
                pass
        shutil.rmtree(tmp, ignore_errors=True)

    try:
        run(tap, build, tmp, servers, clients, procs)
    except Exception:
        tap.check("no unexpected exception", False, traceback.format_exc())
    finally:
        cleanup()
    tap.done()


def run(tap, build, tmp, servers, clients, procs):
    ports = {"apache": free_port(), "zkfs": free_port()}
    mport = free_port()
    common = {"admin.enableServer": "true", "admin.serverAddress": "127.0.0.1"}
    # secrets given the ways operators give them: zoo.cfg and SERVER_JVMFLAGS
    os.environ["SERVER_JVMFLAGS"] = ("-Xmx64m -Dzookeeper.admin.idleTimeout=20000 "
                                     "-Dmy.visible.prop='a b' -Dsome.password=%s" % SECRET)
    zcfg = dict(common, **{"admin.serverPort": str(ports["zkfs"]),
                           "metricsProvider.className": PROM_CLASS,
                           "metricsProvider.httpHost": "127.0.0.1",
                           "metricsProvider.httpPort": str(mport),
                           "ssl.keyStore.password": SECRET})
    try:
        zk = ZkServer("zkfs", zcfg)
    finally:
        del os.environ["SERVER_JVMFLAGS"]
    servers.append(zk)
    try:
        ap = ZkServer("apache", dict(common, **{"admin.serverPort": str(ports["apache"])}))
        servers.append(ap)
    except ServerError as e:
        ap = None
        tap.diag("Apache ZooKeeper did not start: %s" % e)

    kz = setup_state(zk.port)
    clients.append(kz)
    ka = None
    if ap:
        ka = setup_state(ap.port)
        clients.append(ka)

    # ---- the command list
    def listing(port):
        st, ct, body = http_get(port, "/commands")
        assert st == 200, (st, ct)
        return re.findall(r'href="/commands/([a-z_]+)"', body)

    zcmds = listing(ports["zkfs"])
    acmds = listing(ports["apache"]) if ap else zcmds
    tap.check("/commands lists the same commands as Apache", set(zcmds) == set(acmds),
              "only Apache: %s\nonly zkfs: %s" % (sorted(set(acmds) - set(zcmds)),
                                                   sorted(set(zcmds) - set(acmds))))

    # ---- every command: field names and types
    # stat_reset and connection_stat_reset last: they zero what others show
    order = sorted(acmds, key=lambda c: (c in ("stat_reset", "connection_stat_reset"), c))
    zres, ares = {}, {}
    for c in order:
        try:
            z = get_json(ports["zkfs"], c)
            zres[c] = z
            if not ap:
                tap.check("%s: answers JSON with command and error" % c,
                          z.get("command") == c and "error" in z, json.dumps(z)[:300])
                continue
            a = get_json(ports["apache"], c)
            ares[c] = a
            if c == "system_properties":
                # Apache's are the JVM's properties: only the form can agree
                bad = [k for k, v in z.items() if k not in ("error",) and not isinstance(v, str)]
                tap.check("system_properties: an object of strings, like Apache's", not bad, bad)
                continue
            diffs = shape_diff(c, a, z)
            known = KNOWN_MISSING.get(c, set())
            real = [d for d in diffs
                    if not any(d == ".%s: missing in zkfs" % k for k in known)
                    and not (c == "monitor" and PER_NAMESPACE.match(d.split(":")[0].lstrip(".")))
                    and not (c == "monitor" and d.endswith("only in zkfs"))]
            if diffs != real or (c == "monitor" and diffs):
                tap.diag("%s: known differences: %s" % (c, "; ".join(d for d in diffs if d not in real)))
            tap.check("%s: same field names and types as Apache" % c, not real, "\n".join(real))
        except Exception:
            tap.check("%s: same field names and types as Apache" % c, False, traceback.format_exc())

    # ---- aliases answer under the long name
    for alias, name in (("mntr", "monitor"), ("conf", "configuration"), ("srvr", "server_stats"),
                        ("wchp", "watches_by_path"), ("isro", "is_read_only")):
        z = get_json(ports["zkfs"], alias)
        tap.eq("alias %s answers as %s" % (alias, name), z.get("command"), name)

    # ---- values that must be sane, and agree with Apache for the same state
    def t(name, fn):
        try:
            r = fn()
            tap.check(name, r is None or r is True, r if isinstance(r, str) else None)
        except Exception:
            tap.check(name, False, traceback.format_exc())

    # (as fetched in the sweep above, before stat_reset ran)
    m = zres["monitor"]
    am = ares.get("monitor")

    def monitor_sane():
        errs = []
        if m["server_state"] != "standalone":
            errs.append("server_state %r" % m["server_state"])
        if m["ephemerals_count"] != 1:
            errs.append("ephemerals_count %r" % m["ephemerals_count"])
        if m["num_alive_connections"] < 1 or m["global_sessions"] != 1:
            errs.append("connections %r sessions %r" % (m["num_alive_connections"], m["global_sessions"]))
        if not (0 <= m["min_latency"] <= m["max_latency"]) or m["avg_latency"] < 0:
            errs.append("latency %r/%r/%r" % (m["min_latency"], m["avg_latency"], m["max_latency"]))
        if m["uptime"] <= 0 or m["open_file_descriptor_count"] <= 0:
            errs.append("uptime %r fds %r" % (m["uptime"], m["open_file_descriptor_count"]))
        if m["packets_received"] < 5:
            errs.append("packets_received %r" % m["packets_received"])
        return "; ".join(errs) or None
    t("monitor: values sane", monitor_sane)
    if am:
        for key in ("znode_count", "ephemerals_count", "watch_count", "global_sessions",
                    "approximate_data_size", "server_state"):
            tap.eq("monitor %s as Apache's" % key, m[key], am[key])
        sa, sz = get_json(ports["apache"], "server_stats"), get_json(ports["zkfs"], "server_stats")
        tap.eq("server_stats node_count as Apache's", sz["node_count"], sa["node_count"])
        tap.eq("server_stats last_processed_zxid as Apache's",
               sz["server_stats"]["last_processed_zxid"], sa["server_stats"]["last_processed_zxid"])
        tap.eq("watch_summary as Apache's", zres["watch_summary"], ares["watch_summary"])
        tap.eq("watches_by_path: the same paths as Apache",
               sorted(zres["watches_by_path"]["path_to_session_ids"]),
               sorted(ares["watches_by_path"]["path_to_session_ids"]))
    sid = kz.client_id[0]
    tap.eq("ruok: no error", zres["ruok"], {"command": "ruok", "error": None})
    tap.eq("dump: the session's ephemerals", zres["dump"]["session_id_to_ephemeral_paths"],
           {str(sid): ["/e"]})
    tap.check("dump: the session has an expiry bucket",
              [sid] in zres["dump"]["expiry_time_to_session_ids"].values(), zres["dump"])
    # (the data watch on /a fired on the set; the child watch does not show)
    tap.eq("watches: the session's data watches",
           zres["watches"]["session_id_to_watched_paths"].get(str(sid)), ["/a/b"])
    tap.check("connections: the kazoo session is listed",
              any(c.get("session_id") == sid for c in zres["connections"]["connections"]),
              zres["connections"])
    tap.eq("configuration: client_port", zres["configuration"]["client_port"], zk.port)
    tap.eq("is_read_only: false", zres["is_read_only"]["read_only"], False)
    tap.eq("leader on a standalone server: Apache's error",
           zres["leader"], {"error": "server is not initialized", "command": "leader"})
    st = get_json(ports["zkfs"], "set_trace_mask?traceMask=42")
    tap.check("set_trace_mask then get_trace_mask",
              st.get("tracemask") == 42 and get_json(ports["zkfs"], "get_trace_mask")["tracemask"] == 42, st)
    sr = get_json(ports["zkfs"], "stat_reset")
    after = get_json(ports["zkfs"], "server_stats")["server_stats"]
    tap.check("stat_reset zeroes the packet counters",
              sr["error"] is None and after["packets_received"] <= 1, after)

    # ---- nothing secret anywhere
    def no_secret():
        texts = [json.dumps(v) for v in zres.values()]
        texts.append(json.dumps(get_json(ports["zkfs"], "system_properties")))
        texts.append(json.dumps(get_json(ports["zkfs"], "initial_configuration")))
        with open(os.path.join(zk.dir, "server.log"), errors="replace") as f:
            texts.append(f.read())
        hits = [s[:120] for s in texts if SECRET in s]
        return "secret shown in: %s" % hits if hits else None
    t("no secret in any answer or in the log", no_secret)
    sp = get_json(ports["zkfs"], "system_properties")
    tap.check("SERVER_JVMFLAGS: properties shown, passwords masked, zoo.cfg keys applied",
              sp.get("my.visible.prop") == "a b" and sp.get("some.password") == "********"
              and sp.get("zookeeper.admin.idleTimeout") == "20000", sp)
    ic = get_json(ports["zkfs"], "initial_configuration")["initial_configuration"]
    tap.check("initial_configuration: the file, its password masked",
              "admin.enableServer=true" in ic and "ssl.keyStore.password=********" in ic, ic)

    # ---- /metrics
    st, ct, text = http_get(mport, "/metrics")
    tap.check("/metrics: 200 in the text exposition format", st == 200 and "text/plain" in ct
              and "version=0.0.4" in ct, (st, ct))
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    samples = dict(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$", text, re.M))
    prom_jar = any("prometheus" in f.lower() for d in ("/usr/share/java", "/usr/share/zookeeper")
                   if os.path.isdir(d) for f in os.listdir(d))
    tap.diag("Apache's PrometheusMetricsProvider jar %s on this machine; names compared with Apache's "
             "monitor fields and ServerMetrics" % ("is" if prom_jar else "is not"))
    ref = am if am else m
    want = {}
    for k in ref:
        if k in ("version", "server_state", "command", "error") or PER_NAMESPACE.match(k):
            continue
        mm = re.match(r"^(avg|min|max|cnt|sum|p50|p95|p99|p999)_(.+)$", k)
        if mm and ("avg_" + mm.group(2)) in ref and ("cnt_" + mm.group(2)) in ref:
            want[mm.group(2)] = "summary"
        else:
            want.setdefault(k, None)  # counter or gauge
    missing = [n for n in want if n not in types]
    wrong = [(n, types[n], w) for n, w in want.items() if n in types and w == "summary" and types[n] != w]
    wrong += [(n, types[n], "counter|gauge") for n, w in want.items()
              if n in types and w is None and types[n] not in ("counter", "gauge")]
    tap.check("/metrics: every metric of Apache's monitor, summaries as summaries",
              not missing and not wrong, "missing: %s\nwrong type: %s" % (missing, wrong))
    # counters and summaries as Apache's ServerMetrics declares them
    kinds = server_metrics_kinds()
    if kinds is None:
        tap.skip("/metrics: counter/summary kinds as Apache's ServerMetrics", "no javap or no jar")
    else:
        bad = [(n, types.get(n), k) for n, k in kinds.items() if types.get(n) != k]
        tap.check("/metrics: counter/summary kinds as Apache's ServerMetrics (%d names)" % len(kinds),
                  not bad, bad)
    tap.check("/metrics: advanced summaries have quantiles, all have _count and _sum",
              'readlatency{quantile="0.99"}' in samples and "readlatency_count" in samples
              and "fsynctime_sum" in samples and "fsynctime_count" in samples, None)
    tap.check("/metrics: values agree with monitor",
              float(samples.get("znode_count", -1)) == m["znode_count"]
              and float(samples.get("ephemerals_count", -1)) == m["ephemerals_count"], None)
    promtool = shutil.which("promtool")
    if promtool:
        p = subprocess.run([promtool, "check", "metrics"], input=text.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        out = p.stdout.decode(errors="replace")
        # exit 3 = lint advice only (ZooKeeper's names break Prometheus'
        # naming conventions: "_count" gauges, counters without _total);
        # anything else is a parse error
        lint = re.compile(r"(should have|should not|abbreviated units|non-histogram)")
        errs = [l for l in out.splitlines() if l.strip() and not lint.search(l)]
        tap.check("promtool check metrics parses /metrics (lint advice only)",
                  p.returncode in (0, 3) and not errs, "rc %d\n%s" % (p.returncode, "\n".join(errs[:10])))
        prometheus_scrape(tap, tmp, mport, procs)
    else:
        tap.skip("promtool check metrics parses /metrics", "no promtool")
        tap.skip("a real Prometheus scrapes /metrics", "no prometheus")

    # ---- bad input
    bad_input(tap, zk, ports["zkfs"], mport, kz)

    # ---- a busy port is a warning; -D arguments
    busy_port(tap, build, tmp, ports["zkfs"], procs)
    https_admin(tap, servers)

    # ---- ensemble members: leader and follower answers against Apache's
    ensemble_check(tap, build, tmp, procs)

    # ---- clean stop with the admin server active
    zk.stop()
    with open(os.path.join(zk.dir, "server.log"), errors="replace") as f:
        log = f.read()
    tap.check("clean shutdown with the admin server running", "shut down at zxid" in log, log[-1500:])


APACHE_CP = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar:/usr/share/java/*"
# learner_handler_qp_* are per-learner sets ("avg_1_learner_handler_qp_size")
PER_LEARNER = re.compile(r"^(avg|min|max|cnt|sum|p50|p95|p99|p999)_\d+_learner_handler_qp_")


def start_ensemble(kind, build, base, procs):
    """Three members of KIND on free loopback ports; returns their admin ports."""
    ports = [dict(client=free_port(), quorum=free_port(), election=free_port(), admin=free_port())
             for _ in range(3)]
    lines = ["server.%d=127.0.0.1:%d:%d" % (i + 1, p["quorum"], p["election"]) for i, p in enumerate(ports)]
    members = []
    for i, p in enumerate(ports):
        d = os.path.join(base, kind, str(i + 1))
        os.makedirs(os.path.join(d, "data"))
        with open(os.path.join(d, "data", "myid"), "w") as f:
            f.write("%d\n" % (i + 1))
        with open(os.path.join(d, "zoo.cfg"), "w") as f:
            f.write("tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\n"
                    "clientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nadmin.enableServer=true\n"
                    "admin.serverAddress=127.0.0.1\nadmin.serverPort=%d\n%s\n"
                    % (os.path.join(d, "data"), p["client"], p["admin"], "\n".join(lines)))
        log = open(os.path.join(d, "log"), "w")
        if kind == "zkfs":
            cmd = [os.path.join(build, "zkfs-server"), os.path.join(d, "zoo.cfg")]
        else:
            cmd = ["java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dzookeeper.log.dir=" + d,
                   "-cp", APACHE_CP, "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                   os.path.join(d, "zoo.cfg")]
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=log, cwd=d))
        members.append(p)

    def serving():
        n = 0
        for p in members:
            try:
                s = socket.create_connection(("127.0.0.1", p["client"]), timeout=1)
                s.sendall(b"srvr")
                out = s.recv(4096)
                s.close()
                n += bool(re.search(rb"Mode: (leader|follower)", out))
            except OSError:
                pass
        return n == 3
    return [p["admin"] for p in members] if wait_for(serving, timeout=60, interval=0.3) else None


def stop_ensemble(procs, n=3):
    for p in procs[-n:]:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs[-n:]:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def ensemble_check(tap, build, tmp, procs):
    cmds = ["leader", "voting_view", "zabstate", "monitor", "server_stats", "observers", "configuration"]
    got = {}
    for kind in ("apache", "zkfs"):
        admins = start_ensemble(kind, build, os.path.join(tmp, "ens"), procs)
        if not admins:
            stop_ensemble(procs)
            tap.check("%s ensemble up" % kind, False)
            return
        by_role = {}
        for port in admins:
            ans = {c: get_json(port, c) for c in cmds}
            by_role.setdefault("leader" if ans["leader"].get("is_leader") else "follower", ans)
            by_role.setdefault("all", []).append(ans)
        stop_ensemble(procs)
        got[kind] = by_role
    z, a = got["zkfs"], got["apache"]
    leaders = [x["leader"]["leader_id"] for x in z["all"] if x["leader"]["is_leader"]]
    tap.check("zkfs ensemble: one leader, and every member names it",
              len(leaders) == 1 and all(x["leader"]["leader_id"] == leaders[0] for x in z["all"]),
              [x["leader"] for x in z["all"]])
    tap.check("zkfs ensemble: voting_view lists 3 voters, zabstate broadcast",
              all(len(x["voting_view"]["current_config"]) == 3 and x["zabstate"]["zabstate"] == "broadcast"
                  for x in z["all"]), [x["zabstate"] for x in z["all"]])
    for role in ("leader", "follower"):
        if role not in z or role not in a:
            tap.check("ensemble %s: answers present" % role, False)
            continue
        for c in cmds:
            diffs = shape_diff(c, a[role][c], z[role][c])
            real = [d for d in diffs
                    if not (c == "monitor" and (PER_NAMESPACE.match(d.split(":")[0].lstrip("."))
                                                or PER_LEARNER.match(d.split(":")[0].lstrip("."))
                                                or d.endswith("only in zkfs")))]
            tap.check("ensemble %s, %s: same field names and types as Apache" % (role, c), not real,
                      "\n".join(real))


def server_metrics_kinds():
    """{name: 'counter'|'summary'} from Apache's ServerMetrics class."""
    javap = shutil.which("javap")
    jar = "/usr/share/java/zookeeper.jar"
    if not javap or not os.path.exists(jar):
        return None
    p = subprocess.run([javap, "-c", "-p", "-cp", jar, "org.apache.zookeeper.server.ServerMetrics"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60)
    kinds, last = {}, None
    for line in p.stdout.decode(errors="replace").splitlines():
        mm = re.search(r"ldc(?:_w)?\s+#\d+\s+// String (\S+)", line)
        if mm:
            last = mm.group(1)
            continue
        mm = re.search(r"MetricsContext\.(getCounter|getSummary)[:(]", line)
        if mm and last and last not in kinds:
            kinds[last] = "counter" if mm.group(1) == "getCounter" else "summary"
    return kinds or None


def prometheus_scrape(tap, tmp, mport, procs):
    prom = shutil.which("prometheus")
    if not prom:
        tap.skip("a real Prometheus scrapes /metrics", "no prometheus")
        return
    d = os.path.join(tmp, "prom")
    os.makedirs(d)
    cfg = os.path.join(d, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: zkfs\n    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n" % mport)
    pport = free_port()
    log = open(os.path.join(d, "log"), "w")
    p = subprocess.Popen([prom, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(d, "data"),
                          "--web.listen-address=127.0.0.1:%d" % pport], stdout=log, stderr=log)
    procs.append(p)

    def query():
        try:
            st, ct, body = http_get(pport, "/api/v1/query?query=znode_count", timeout=2)
            r = json.loads(body)["data"]["result"]
            return r[0]["value"][1] if r else None
        except Exception:
            return None
    v = wait_for(query, timeout=40, interval=0.5)
    health = None
    try:
        st, ct, body = http_get(pport, "/api/v1/targets", timeout=2)
        health = [t["health"] for t in json.loads(body)["data"]["activeTargets"]]
    except Exception as e:
        health = str(e)
    tap.check("a real Prometheus scrapes /metrics (znode_count = %s, targets %s)" % (v, health),
              v is not None and health == ["up"], open(os.path.join(d, "log")).read()[-1500:])
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    log.close()


def raw(port, data, timeout=5.0, read=True, source="127.0.0.1"):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    try:
        if data:
            s.sendall(data)
        if not read:
            return s
        out = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
        except socket.timeout:
            pass
        return out
    finally:
        if read:
            s.close()


def status_of(resp):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", resp)
    return int(m.group(1)) if m else None


def bad_input(tap, zk, aport, mport, kz):
    # a half-sent request held open the whole time (slowloris)
    slow = raw(aport, b"GET /commands/ruok HTTP/1.1\r\nHost: x\r\nX-Slow: ", read=False)
    cases = [
        ("binary garbage", b"\x00\x01\x02\xff\xfe garbage \r\n\r\n", (400, None)),
        ("not HTTP", b"HELLO THERE\r\n\r\n", (400, 405, 501, None)),
        ("unknown method", b"BREW /commands HTTP/1.1\r\nHost: x\r\n\r\n", (405, 501)),
        ("POST with a body", b"POST /commands/ruok HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", (405,)),
        ("huge header", b"GET /commands/ruok HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n",
         (413, 414, 431, None)),
        ("huge URL", b"GET /commands/" + b"r" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", (413, 414, 431, None)),
        ("huge body announced", b"GET /commands/ruok HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\nxx",
         (200, 400, 413)),
        ("bad Content-Length", b"GET /commands/ruok HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", (400,)),
        ("no such page", b"GET /nosuch HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", (404,)),
        ("path escape", b"GET /commands/../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
         (200, 400, 404)),
    ]
    for name, data, ok in cases:
        try:
            resp = raw(aport, data)
            st = status_of(resp)
            good = st in ok and b"root:" not in resp
            tap.check("bad request, %s: answered %s or closed" % (name, "/".join(str(x) for x in ok if x)),
                      good, "status %r: %r" % (st, resp[:200]))
        except (ConnectionResetError, BrokenPipeError):
            tap.check("bad request, %s: answered or closed" % name, None in ok, "connection reset")
    # unknown command: Apache's JSON error, logged once
    before = open(os.path.join(zk.dir, "server.log"), errors="replace").read().count("no_such_command")
    st, ct, body = http_get(aport, "/commands/no_such_command")
    tap.check("unknown command: Apache's error in JSON",
              st == 200 and json.loads(body) == {"command": "no_such_command",
                                                  "error": "Unknown command: no_such_command"}, body)
    time.sleep(0.2)
    after = open(os.path.join(zk.dir, "server.log"), errors="replace").read().count("no_such_command")
    tap.eq("unknown command: logged once", after - before, 1)
    st, ct, body = http_get(mport, "/nosuch")
    tap.eq("metrics port: other pages are 404", st, 404)
    # many idle connections from one address (127.0.0.2): it hits its own
    # limit; everyone else (127.0.0.1) is still served
    socks = []
    for _ in range(100):
        try:
            socks.append(raw(aport, b"GET /comm", read=False, source="127.0.0.2"))
        except OSError:
            break
    ok_http = get_json_retry(aport, "ruok")
    for s in socks:
        s.close()
    slow.close()
    tap.check("after the bad requests (and 100 idle connections): the admin API answers",
              ok_http == {"command": "ruok", "error": None}, ok_http)
    try:
        kz.set("/a", b"still")
        v = kz.get("/a")[0]
    except Exception as e:
        v = repr(e)
    tap.eq("after the bad requests: the ZooKeeper client is served", v, b"still")
    tap.eq("after the bad requests: 4lw ruok", zk.four("ruok"), "imok")
    st, ct, text = http_get(mport, "/metrics")
    tap.check("after the bad requests: /metrics answers", st == 200 and "znode_count" in text, st)
    log = open(os.path.join(zk.dir, "server.log"), errors="replace").read()
    n_http = len(re.findall(r" (http|admin|metrics): ", log))
    tap.check("bad requests are logged, without flooding (%d lines)" % n_http, 0 < n_http < 60, log[-2000:])


def get_json_retry(port, name, tries=20):
    last = None
    for _ in range(tries):
        try:
            return get_json(port, name)
        except Exception as e:
            last = e
            time.sleep(0.1)
    return repr(last)


def https_admin(tap, servers):
    """admin.forceHttps with the ssl.quorum key store given as system
    properties (how ZooKeeper 3.8's AdminServer reads it): both servers
    answer over HTTPS only, with a certificate the test CA vouches for."""
    import ssl
    from zktlscerts import Pki  # noqa: E402  (tests/lib/zktlscerts.py)
    pki = Pki()
    try:
        ctx = ssl.create_default_context(cafile=pki.path("ca.pem"))
        seen = {}
        for kind in ("apache", "zkfs"):
            port = free_port()
            # Apache 3.8.0 will not start HTTPS without a trust store too
            flags = ("-Dzookeeper.admin.forceHttps=true -Dzookeeper.ssl.quorum.keyStore.location=%s "
                     "-Dzookeeper.ssl.quorum.keyStore.type=PEM -Dzookeeper.ssl.quorum.trustStore.location=%s "
                     "-Dzookeeper.ssl.quorum.trustStore.type=PEM" % (pki.path("server.pem"), pki.path("ca.pem")))
            try:
                srv = ZkServer(kind, {"admin.enableServer": "true", "admin.serverAddress": "127.0.0.1",
                                      "admin.serverPort": str(port)}, jvm_flags=flags)
            except ServerError as e:
                tap.check("%s: starts with admin.forceHttps" % kind, False, str(e))
                continue
            servers.append(srv)

            def fetch(scheme, name="ruok"):
                url = "%s://localhost:%d/commands/%s" % (scheme, port, name)
                try:
                    with urllib.request.urlopen(url, timeout=10, context=ctx if scheme == "https" else None) as r:
                        return r.status, json.loads(r.read().decode())
                except Exception as e:  # noqa: BLE001
                    return None, type(e).__name__
            st, body = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(fetch("https")), 15) or fetch("https")
            tap.check("%s: admin API over HTTPS (forceHttps, ssl.quorum.keyStore.*)" % kind,
                      st == 200 and isinstance(body, dict) and body.get("command") == "ruok", repr(body)[:300])
            st2, body2 = fetch("https", "monitor")
            seen[kind] = sorted(body2) if isinstance(body2, dict) else body2
            plain = fetch("http")
            tap.check("%s: plain HTTP on the HTTPS admin port gets no answer" % kind, plain[0] != 200, repr(plain))
            srv.close()
            servers.remove(srv)
        if len(seen) == 2:
            missing = [k for k in seen["apache"] if k not in seen["zkfs"]] if isinstance(seen["apache"], list) else seen
            tap.check("agree: monitor over HTTPS has Apache's fields", isinstance(seen["zkfs"], list) and not missing,
                      "missing in zkfs: %r" % (missing,))
    finally:
        shutil.rmtree(pki.dir, ignore_errors=True)


def busy_port(tap, build, tmp, port, procs):
    d = os.path.join(tmp, "busy")
    os.makedirs(os.path.join(d, "data"))
    cport = free_port()
    mp = free_port()
    log = open(os.path.join(d, "log"), "w")
    p = subprocess.Popen([os.path.join(build, "zkfs-server"), "--port", str(cport), "--address", "127.0.0.1",
                          "--data", os.path.join(d, "data"), "-Dzookeeper.admin.enableServer=true",
                          "-Dzookeeper.admin.serverAddress=127.0.0.1",
                          "-Dzookeeper.admin.serverPort=%d" % port,
                          "-DmetricsProvider.className=" + PROM_CLASS,
                          "-DmetricsProvider.httpHost=127.0.0.1", "-DmetricsProvider.httpPort=%d" % mp,
                          "-Dzookeeper.4lw.commands.whitelist=*"],
                         stdout=log, stderr=log)
    procs.append(p)

    def up():
        try:
            s = socket.create_connection(("127.0.0.1", cport), timeout=1)
            s.sendall(b"ruok")
            r = s.recv(10)
            s.close()
            return r == b"imok"
        except OSError:
            return False
    started = wait_for(up, timeout=15)
    text = open(os.path.join(d, "log")).read()
    tap.check("admin port busy: the server starts anyway, with a warning",
              started and p.poll() is None and re.search(r"WARN .*admin: cannot listen on 127\.0\.0\.1:%d" % port, text),
              text[-1500:])
    st, ct, body = (0, "", "")
    try:
        st, ct, body = http_get(mp, "/metrics")
    except Exception as e:
        body = repr(e)
    tap.check("-D arguments configure the server (metrics from -DmetricsProvider.*, 4lw from "
              "-Dzookeeper.4lw.commands.whitelist)", st == 200 and "znode_count" in body and started, body[:200])
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    log.close()
    tap.eq("SIGTERM with the HTTP threads running: exit status 0", rc, 0)


if __name__ == "__main__":
    main()
