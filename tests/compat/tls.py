#!/usr/bin/python3
"""TLS on the client port, zkfs-server and Apache ZooKeeper 3.8 configured
the same way (NettyServerCnxnFactory, secureClientPort or
client.portUnification, PEM and PKCS12 key stores, ssl.clientAuth), with a
throwaway PKI made by openssl (tests/lib/zktlscerts.py).

Every check runs against each server kind and records a trace; the two
kinds' traces must agree ("agree: ...").  Clients: Python's ssl (raw frames,
for whoAmI and hostile input), kazoo with use_ssl, the Apache Java client
(ClientCnxnSocketNetty, zookeeper.client.secure), zkfs-cli and the zkfs
mount (-o tls,...).  The Debian Apache C client (libzookeeper-mt2 3.8.0) is
built without OpenSSL (no zookeeper_init_ssl in it): not covered.

Checks: x509 identities in whoAmI and ACLs (x509:DN, "auth" expansion,
X509AuthenticationProvider.superUser), clientAuth need/want/none, a PKCS12
key store with a password (never in conf or the log), portUnification,
certificate reload (zkfs only: Apache 3.8 has no client.certReload), and
hostile input each followed by a good client: plain text on the TLS port, a
ClientHello on the plain port, no client certificate under need, an expired
certificate, one from an untrusted CA; zkfs logs the rejections rate-limited.
"""

import glob
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

from zkharness import Tap, ZkServer, ServerError, free_port, kinds_from_args, zkfs_build, wait_for  # noqa: E402
from zkraw import OP, RawClient  # noqa: E402
from zktlscerts import Pki, CLIENT_DN, ADMIN_DN, PASSWORD  # noqa: E402

import logging  # noqa: E402
logging.basicConfig(level=logging.CRITICAL)
from kazoo.client import KazooClient  # noqa: E402
from kazoo.security import make_acl  # noqa: E402

tap = Tap()
KINDS = kinds_from_args()
pki = Pki()
BUILD = zkfs_build()
CLI = os.path.join(BUILD, "zkfs-cli")
ZKFS = os.path.join(BUILD, "zkfs")
JAVA_CP = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar:/usr/share/java/*"

traces = {}  # scenario name -> {kind: trace}


def start(kind, secure=True, **extra):
    cfg = {
        # Apache needs Netty for TLS and the x509 provider named; zkfs
        # accepts both keys and needs neither
        "serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory",
        "authProvider.x509": "org.apache.zookeeper.server.auth.X509AuthenticationProvider",
        "ssl.keyStore.location": pki.path("server.pem"),
        "ssl.keyStore.type": "PEM",
        "ssl.trustStore.location": pki.path("ca.pem"),
        "ssl.trustStore.type": "PEM",
    }
    if secure:
        cfg["secureClientPort"] = str(free_port())
    cfg.update(extra)
    cfg = {k: v for k, v in cfg.items() if v is not None}
    srv = ZkServer(kind, cfg)
    srv.admin_port = int(cfg.get("admin.serverPort", 0))
    srv.sport = int(cfg["secureClientPort"]) if secure else srv.port
    return srv


def ctx(cert=None, ca="ca.pem"):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.load_verify_locations(pki.path(ca))
    if cert:
        c.load_cert_chain(pki.path(cert + ".crt"), pki.path(cert + ".key"))
    return c


def whoami(port, cert=None, tls=True):
    """('ok', [(scheme, user)...]) or ('refused', None)."""
    try:
        rc = RawClient(port, ssl_context=ctx(cert) if tls else None, io_timeout=5.0)
        try:
            err, ids = rc.whoami()
            return ("ok", sorted(ids)) if err == 0 else ("err", err)
        finally:
            rc.sock.close()
    except Exception:  # ssl.SSLError, Closed, reset, EOF: the server said no
        return ("refused", None)


def record(name, kind, trace):
    traces.setdefault(name, {})[kind] = trace


def check(kind, name, fn, *args):
    """Runs fn (which asserts and returns a trace) as one TAP result."""
    def run():
        t = fn(*args)
        record(name, kind, t)
    tap.test("%s: %s" % (kind, name), run)


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def good_client_served(srv):
    """A well-behaved TLS client is still served (after something hostile)."""
    r = whoami(srv.sport, "client")
    expect(r[0] == "ok", "a good client was not served after it: %r" % (r,))


def kazoo(srv, cert="client", port=None):
    kw = dict(use_ssl=True, ca=pki.path("ca.pem"))
    if cert:
        kw.update(certfile=pki.path(cert + ".crt"), keyfile=pki.path(cert + ".key"))
    k = KazooClient(hosts="127.0.0.1:%d" % (port or srv.sport), timeout=10, **kw)
    k.start(timeout=10)
    return k


def java_get(port, path, cert="client"):
    """The Apache Java client over TLS (Netty socket): (exit status, data line)."""
    flags = ["-Dzookeeper.client.secure=true",
             "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
             "-Dzookeeper.ssl.keyStore.location=" + pki.path(cert + ".pem"),
             "-Dzookeeper.ssl.keyStore.type=PEM",
             "-Dzookeeper.ssl.trustStore.location=" + pki.path("ca.pem"),
             "-Dzookeeper.ssl.trustStore.type=PEM"]
    p = subprocess.run(["java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"] + flags +
                       ["-cp", JAVA_CP, "org.apache.zookeeper.ZooKeeperMain",
                        "-server", "127.0.0.1:%d" % port, "get", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    lines = [l for l in p.stdout.decode(errors="replace").splitlines()
             if l and not l.startswith("[") and "WATCHER" not in l and "WatchedEvent" not in l
             and not l.startswith("SLF4J")]
    return lines


def cli(port, *args, certs=("--cafile", "ca.pem", "--certfile", "client.pem")):
    cmd = [CLI, "-t", "3", "-s", "127.0.0.1:%d" % port]
    it = iter(certs)
    for flag in it:
        v = next(it, None)
        cmd += [flag] if v is None else [flag, pki.path(v) if v.endswith((".pem", ".key", ".crt", ".pass", ".properties")) else v]
    p = subprocess.run(cmd + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


# ---------------------------------------------------------------- clientAuth=need

def need_scenarios(kind, srv):
    def who_client():
        r = whoami(srv.sport, "client")
        expect(r == ("ok", sorted([("ip", "127.0.0.1"), ("x509", CLIENT_DN)])), "whoami %r" % (r,))
        return r
    check(kind, "need: whoAmI shows x509:<subject RFC 2253>", who_client)

    def who_admin():
        r = whoami(srv.sport, "admin")
        expect(r[0] == "ok" and ("x509", ADMIN_DN) in r[1], "whoami %r" % (r,))
        return r
    check(kind, "need: superUser's certificate", who_admin)

    def acls():
        k = kazoo(srv)
        try:
            k.ensure_path("/tls")
            k.create("/tls/x", b"secret", acl=[make_acl("x509", CLIENT_DN, all=True)])
            k.create("/tls/auth", b"a", acl=[make_acl("auth", "", all=True)])
            out = {"own": k.get("/tls/x")[0].decode(), "authacl": [(a.id.scheme, a.id.id, a.perms)
                                                                    for a in k.get_acls("/tls/auth")[0]]}
        finally:
            k.stop()
            k.close()
        # a plain-text client has no x509 identity; the super user reads anything
        p = KazooClient(hosts=srv.hosts, timeout=10)
        p.start(timeout=10)
        try:
            p.get("/tls/x")
            out["plain"] = "read"
        except Exception as e:
            out["plain"] = type(e).__name__
        finally:
            p.stop()
            p.close()
        a = kazoo(srv, "admin")
        try:
            out["super"] = a.get("/tls/x")[0].decode()
        finally:
            a.stop()
            a.close()
        expect(out["own"] == "secret" and out["plain"] == "NoAuthError" and out["super"] == "secret",
               "acl trace %r" % (out,))
        expect(out["authacl"] == [("x509", CLIENT_DN, 31)], "auth ACL %r" % (out["authacl"],))
        return out
    check(kind, "need: x509 ACL, auth expansion, plain client denied, super reads", acls)

    def bad(cert, tls=True):
        def run():
            r = whoami(srv.sport, cert, tls)
            expect(r[0] == "refused", "not refused: %r" % (r,))
            good_client_served(srv)
            return r[0]
        return run
    check(kind, "need: no client certificate refused, others served", bad(None))
    check(kind, "need: expired certificate refused, others served", bad("expired"))
    check(kind, "need: untrusted CA refused, others served", bad("rogue"))
    check(kind, "need: plain text on the TLS port closed, others served", bad(None, tls=False))

    def last_words():
        # closeSession and close_notify sent back to back, without waiting
        # for the answer (as a Java client's close may): the session still
        # ends at once, its ephemeral with it (session timeout is 30 s)
        rc = RawClient(srv.sport, ssl_context=ctx("client"), io_timeout=5.0, timeout_ms=30000)
        rc.create("/tls-last", b"", flags=1)
        rc.send_request(OP.CLOSE)
        rc.sock.unwrap()  # close_notify right behind the request
        rc.sock.close()
        k = KazooClient(hosts=srv.hosts, timeout=10)
        k.start(timeout=10)
        try:
            gone = wait_for(lambda: k.exists("/tls-last") is None, 5)
        finally:
            k.stop()
            k.close()
        expect(gone, "the ephemeral of a session closed with close_notify is still there")
        return "gone"
    check(kind, "need: closeSession right before close_notify is still read", last_words)

    def hello_on_plain():
        r = whoami(srv.port, "client")
        expect(r[0] == "refused", "TLS on the plain port: %r" % (r,))
        p = KazooClient(hosts=srv.hosts, timeout=10)
        p.start(timeout=10)
        p.stop()
        p.close()
        good_client_served(srv)
        return r[0]
    check(kind, "need: ClientHello on the plain port (no unification) closed", hello_on_plain)

    def java():
        lines = java_get(srv.sport, "/tls/x")
        expect("secret" in lines, "java client output: %r" % (lines,))
        return "secret"
    check(kind, "need: Apache Java client (Netty, PEM stores) reads an x509 node", java)

    def zkcli():
        out = {}
        rc, o, e = cli(srv.sport, "get", "/tls/x")
        expect(rc == 0 and o == "secret", "cli get: %d %r %r" % (rc, o, e))
        out["get"] = o
        rc, o, e = cli(srv.sport, "whoami", certs=("--cafile", "ca.pem", "--certfile", "client.crt",
                                                    "--keyfile", "enc.key", "--keypassfile", "enc.pass"))
        expect(rc == 0 and ("x509 " + CLIENT_DN) in o, "cli encrypted key: %d %r %r" % (rc, o, e))
        out["whoami"] = sorted(o.splitlines())
        props = os.path.join(pki.dir, "client.properties")
        with open(props, "w") as f:
            f.write("zookeeper.client.secure=true\n"
                    "zookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty\n"
                    "zookeeper.ssl.keyStore.location=%s\nzookeeper.ssl.keyStore.type=PEM\n"
                    "zookeeper.ssl.trustStore.location=%s\nzookeeper.ssl.trustStore.type=PEM\n"
                    % (pki.path("client.pem"), pki.path("ca.pem")))
        rc, o, e = cli(srv.sport, "get", "/tls/x", certs=("-c", "client.properties"))
        expect(rc == 0 and o == "secret", "cli -c client.properties: %d %r %r" % (rc, o, e))
        rc, o, e = cli(srv.sport, "get", "/tls/x", certs=("--cafile", "rogueca.pem", "--certfile", "client.pem"))
        expect(rc == 8 and "certificate verify failed" in e, "cli untrusted server: %d %r" % (rc, e))
        out["untrusted"] = rc
        # hostname verification is on: the certificate names localhost and 127.0.0.1, not ::1's name
        return out
    check(kind, "need: zkfs-cli --tls flags, encrypted key, client.properties, bad CA", zkcli)

    def mount():
        if not os.path.exists("/dev/fuse") or not shutil.which("fusermount3"):
            return "skipped"
        mnt = tempfile.mkdtemp(prefix="zk-tls-mnt-")
        log = os.path.join(pki.dir, "mount-%s.log" % kind)
        opts = "tls,cafile=%s,certfile=%s,keyfile=%s,keypassfile=%s,log=%s" % (
            pki.path("ca.pem"), pki.path("client.crt"), pki.path("enc.key"), pki.path("enc.pass"), log)
        try:
            # through the mount(8) helper, as an fstab line runs it
            env = dict(os.environ, ZKFS_BIN=ZKFS)
            p = subprocess.run(["sh", os.path.join(HERE, "..", "..", "mount.zkfs"),
                                "127.0.0.1:%d/tls" % srv.sport, mnt, "-o", opts],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30, env=env)
            expect(p.returncode == 0, "mount: %s" % p.stdout.decode())
            with open(os.path.join(mnt, "x")) as f:
                data = f.read()
            with open(os.path.join(mnt, "new"), "w") as f:
                f.write("via-mount")
            names = sorted(os.listdir(mnt))
            # no secret on the daemon's command line
            pids = subprocess.run(["pgrep", "-f", "zkfs 127.0.0.1:%d/tls" % srv.sport],
                                  stdout=subprocess.PIPE).stdout.decode().split()
            for pid in pids:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    expect(b"keypass" not in f.read().replace(b"keypassfile", b""), "secret in cmdline")
        finally:
            subprocess.run(["fusermount3", "-u", mnt], stderr=subprocess.DEVNULL)
            os.rmdir(mnt)
        expect(data == "secret" and "new" in names, "mount saw %r %r" % (data, names))
        return {"x": data, "names": names}
    check(kind, "need: mount.zkfs -o tls,cafile=,certfile=,keyfile=,keypassfile=", mount)

    def conf():
        c = srv.four("conf")
        expect("secureClientPort=%d" % srv.sport in c, "conf: %s" % c)
        return True
    check(kind, "need: conf shows secureClientPort", conf)

    if kind == "zkfs":
        def log_rate_limited():
            text = open(os.path.join(srv.dir, "server.log"), errors="replace").read()
            rej = [l for l in text.splitlines() if " tls: " in l and "closing" in l]
            expect(1 <= len(rej) <= 2, "%d rejection lines logged:\n%s" % (len(rej), "\n".join(rej)))
        tap.test("zkfs: need: rejections logged once (rate-limited)", log_rate_limited)


# ---------------------------------------------------------------- clientAuth=want, PKCS12

def want_scenarios(kind, srv):
    def run():
        out = {"nocert": whoami(srv.sport, None), "cert": whoami(srv.sport, "client")}
        expect(out["nocert"] == ("ok", [("ip", "127.0.0.1")]), "no cert: %r" % (out["nocert"],))
        expect(out["cert"][0] == "ok" and ("x509", CLIENT_DN) in out["cert"][1], "cert: %r" % (out["cert"],))
        out["rogue"] = whoami(srv.sport, "rogue")[0]
        expect(out["rogue"] == "refused", "untrusted cert under want: %r" % (out["rogue"],))
        return out
    check(kind, "want+PKCS12: optional certificate, x509 only with one", run)

    def k():
        z = kazoo(srv, None)
        try:
            z.create("/w", b"1")
            return z.get("/w")[0].decode()
        finally:
            z.stop()
            z.close()
    check(kind, "want+PKCS12: kazoo without a certificate", k)

    def admin_lists():
        import json
        import urllib.request
        t = kazoo(srv, "client")
        p = KazooClient(hosts=srv.hosts, timeout=10)
        p.start(timeout=10)
        try:
            url = "http://127.0.0.1:%d/commands/connections" % srv.admin_port
            with urllib.request.urlopen(url, timeout=10) as r:
                body = json.loads(r.read().decode())
        finally:
            for z in (t, p):
                z.stop()
                z.close()
        out = {k: sorted(c.get("remote_socket_address", "").startswith("/127.0.0.1") or
                         c.get("remote_socket_address", "").startswith("127.0.0.1")
                         for c in body.get(k, [])) for k in ("connections", "secure_connections")}
        out = {k: len(v) for k, v in out.items()}
        expect(out == {"connections": 1, "secure_connections": 1}, "admin connections: %r" % (body,))
        return out
    check(kind, "want+PKCS12: admin API lists the TLS session under secure_connections", admin_lists)

    if kind == "zkfs":
        def no_secret():
            text = open(os.path.join(srv.dir, "server.log"), errors="replace").read()
            for cmd in ("conf", "envi"):
                text += srv.four(cmd)
            expect(PASSWORD not in text, "the key store password appears")
        tap.test("zkfs: want+PKCS12: password in neither conf, envi nor the log", no_secret)


# ---------------------------------------------------------------- clientAuth=none, portUnification

def unified_scenarios(kind, srv):
    def run():
        out = {"tls": whoami(srv.port, "client"), "plain": whoami(srv.port, None, tls=False)}
        expect(out["tls"] == ("ok", [("ip", "127.0.0.1")]), "TLS on unified port: %r" % (out["tls"],))
        expect(out["plain"] == ("ok", [("ip", "127.0.0.1")]), "plain on unified port: %r" % (out["plain"],))
        k = kazoo(srv, None, port=srv.port)
        try:
            k.create("/u", b"x")
        finally:
            k.stop()
            k.close()
        out["ruok"] = srv.four("ruok")
        return out
    check(kind, "none+portUnification: TLS and plain text on clientPort", run)


def reload_scenario(srv):
    def peer_cn():
        s = socket.create_connection(("127.0.0.1", srv.sport), timeout=5)
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        c.check_hostname = False
        c.verify_mode = ssl.CERT_NONE
        c.load_cert_chain(pki.path("client.crt"), pki.path("client.key"))
        t = c.wrap_socket(s)
        der = t.getpeercert(binary_form=True)
        t.close()
        pem = ssl.DER_cert_to_PEM_cert(der)
        out = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem.encode(),
                             stdout=subprocess.PIPE).stdout.decode()
        return out.strip()

    def run():
        before = peer_cn()
        k = kazoo(srv)
        shutil.copy(pki.path("server2.pem"), srv.keystore)
        after = wait_for(lambda: "localhost2" in peer_cn(), timeout=5)
        k.create("/still", b"1")  # the connection made before is unaffected
        k.stop()
        k.close()
        expect("CN = localhost" in before and after, "before %r, reloaded %r" % (before, after))
    tap.test("zkfs: client.certReload: a new connection sees the replaced certificate", run)


def sysprop_crl_scenario():
    """zkfs only: the ssl keys as -Dzookeeper.* system properties (through
    SERVER_JVMFLAGS, as zkServer.sh passes them), and ssl.crl with the CRL in
    the trust store file (Apache 3.8 checks CRLs through the certificates'
    distribution points, which a throwaway CA does not have)."""
    os.environ["SERVER_JVMFLAGS"] = " ".join([
        "-Dzookeeper.ssl.keyStore.location=" + pki.path("server.pem"),
        "-Dzookeeper.ssl.keyStore.password=" + PASSWORD,
        "-Dzookeeper.ssl.trustStore.location=" + pki.path("ca-crl.pem"),
        "-Dzookeeper.ssl.crl=true"])
    try:
        srv = start("zkfs", **{"ssl.keyStore.location": None, "ssl.trustStore.location": None})
    finally:
        del os.environ["SERVER_JVMFLAGS"]
    try:
        def run():
            expect(whoami(srv.sport, "client") == ("ok", sorted([("ip", "127.0.0.1"), ("x509", CLIENT_DN)])),
                   "a good client under ssl.crl")
            expect(whoami(srv.sport, "revoked")[0] == "refused", "a revoked certificate was accepted")
            good_client_served(srv)
            text = srv.four("conf") + srv.four("envi")
            text += open(os.path.join(srv.dir, "server.log"), errors="replace").read()
            expect(PASSWORD not in text, "the -D password appears in conf, envi or the log")
        tap.test("zkfs: -Dzookeeper.ssl.* system properties; ssl.crl refuses a revoked certificate", run)
    finally:
        srv.close()


def main():
    for kind in KINDS:
        groups = [
            ("need", need_scenarios, dict(secure=True, **{
                "ssl.clientAuth": "need", "X509AuthenticationProvider.superUser": ADMIN_DN})),
            ("want", want_scenarios, dict(secure=True, **{
                "admin.enableServer": "true", "admin.serverAddress": "127.0.0.1",
                "admin.serverPort": str(free_port()),
                "ssl.clientAuth": "want", "ssl.keyStore.location": pki.path("server.p12"),
                "ssl.keyStore.type": "PKCS12", "ssl.keyStore.password": PASSWORD})),
            ("unified", unified_scenarios, dict(secure=False, **{
                "ssl.clientAuth": "none", "client.portUnification": "true"})),
        ]
        for gname, fn, kw in groups:
            try:
                srv = start(kind, **kw)
            except ServerError as e:
                tap.check("%s: %s server starts" % (kind, gname), False, str(e))
                continue
            try:
                fn(kind, srv)
            finally:
                srv.close()
        if kind == "zkfs":
            ks = os.path.join(pki.dir, "reload.pem")
            shutil.copy(pki.path("server.pem"), ks)
            srv = start(kind, **{"ssl.keyStore.location": ks, "client.certReload": "true"})
            srv.keystore = ks
            try:
                reload_scenario(srv)
            finally:
                srv.close()
            sysprop_crl_scenario()
        else:
            tap.skip("%s: client.certReload" % kind, "ZooKeeper 3.8 has no client.certReload (3.9 has)")
            tap.skip("%s: ssl.crl with a CRL in the trust store" % kind,
                     "Java fetches CRLs from distribution points; the test CA has none")
    if len(KINDS) == 2:
        for name in sorted(traces):
            t = traces[name]
            if len(t) == 2:
                tap.check("agree: " + name, t["apache"] == t["zkfs"],
                          "apache: %r\nzkfs:   %r" % (t["apache"], t["zkfs"]))
    pki.close()
    tap.done()


main()
