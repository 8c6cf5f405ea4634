"""krb_helper — a throwaway MIT Kerberos realm for GSSAPI tests (used by
tests/compat/sasl.py).

Realm ZKFS.TEST on a free loopback port, its own krb5.conf and kdc.conf in a
temp directory (KRB5_CONFIG, KRB5_KDC_PROFILE), principals
zookeeper/localhost (the server, keytab) and zkcli (the client, keytab and a
ticket cache), krb5kdc in the foreground, killed at the end.  Then: kazoo
(puresasl + python3-kerberos), the Apache Java client and zkfs-cli, each
against zkfs-server and Apache ZooKeeper configured alike.
"""

import os
import shutil
import signal
import socket
import subprocess
import time

from kazoo.client import KazooClient
from kazoo.security import make_acl

from zkharness import ZkServer

REALM = "ZKFS.TEST"
JAVA_CP = "/usr/share/java/zookeeper.jar:/usr/share/java/*"
PROVIDER = "-Dzookeeper.authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider"


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def _sbin(tool):
    return shutil.which(tool) or "/usr/sbin/" + tool


class Realm(object):
    def __init__(self, base):
        self.dir = os.path.join(base, "krb")
        os.makedirs(self.dir)
        self.port = _free_port()
        d = self.dir
        self.conf = os.path.join(d, "krb5.conf")
        with open(self.conf, "w") as f:
            f.write("""[libdefaults]
 default_realm = %(r)s
 dns_lookup_kdc = false
 dns_lookup_realm = false
 rdns = false
 udp_preference_limit = 1
[realms]
 %(r)s = {
  kdc = 127.0.0.1:%(p)d
 }
[domain_realm]
 localhost = %(r)s
""" % {"r": REALM, "p": self.port})
        self.kdc_conf = os.path.join(d, "kdc.conf")
        with open(self.kdc_conf, "w") as f:
            f.write("""[kdcdefaults]
 kdc_ports = %(p)d
 kdc_tcp_ports = %(p)d
[realms]
 %(r)s = {
  database_name = %(d)s/principal
  key_stash_file = %(d)s/stash
  acl_file = %(d)s/kadm5.acl
  supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
 }
""" % {"r": REALM, "p": self.port, "d": d})
        self.env = dict(os.environ, KRB5_CONFIG=self.conf, KRB5_KDC_PROFILE=self.kdc_conf,
                        KRB5CCNAME="FILE:" + os.path.join(d, "ccache"))
        self.kdc = None
        self._run(_sbin("kdb5_util"), "create", "-s", "-r", REALM, "-P", "throwaway-master")
        self.server_keytab = os.path.join(d, "server.keytab")
        self.client_keytab = os.path.join(d, "client.keytab")
        for q in ("addprinc -randkey zookeeper/localhost", "addprinc -randkey zkcli",
                  "ktadd -k %s zookeeper/localhost" % self.server_keytab,
                  "ktadd -k %s zkcli" % self.client_keytab):
            self._run(_sbin("kadmin.local"), "-r", REALM, "-q", q)
        self.kdc = subprocess.Popen([_sbin("krb5kdc"), "-n", "-r", REALM], env=self.env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        self._run("kinit", "-k", "-t", self.client_keytab, "zkcli@" + REALM)

    def _run(self, *cmd):
        p = subprocess.run(list(cmd), env=self.env, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError("%s: %s" % (" ".join(cmd[:3]), (p.stderr or p.stdout).strip()[-300:]))
        return p.stdout

    def close(self):
        if self.kdc and self.kdc.poll() is None:
            self.kdc.send_signal(signal.SIGTERM)
            try:
                self.kdc.wait(5)
            except subprocess.TimeoutExpired:
                self.kdc.kill()


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


def gss_cli(cli, hosts, creds, *args):
    """zkfs-cli with GSSAPI from the client keytab (an empty private ccache)."""
    return subprocess.run([cli, "-s", hosts, "-t", "5", "--sasl", "GSSAPI", "--sasl-file", creds] + list(args),
                          capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, KRB5CCNAME="MEMORY:zkcli"))


def run_gssapi(tap, kinds, base, cli):
    try:
        realm = Realm(base)
    except Exception as e:  # noqa: BLE001
        for kind in kinds:
            tap.skip("%s: gssapi" % kind, "cannot start a KDC here: %s" % e)
        return
    try:
        _checks(tap, kinds, base, cli, realm)
    finally:
        realm.close()


def _checks(tap, kinds, base, cli, realm):
    def krb5_section(name, keytab, principal):
        return """%s {
    com.sun.security.auth.module.Krb5LoginModule required
    useKeyTab=true keyTab="%s" storeKey=true useTicketCache=false
    principal="%s@%s";
};
""" % (name, keytab, principal, REALM)
    jaas = _write(os.path.join(base, "gss-jaas.conf"),
                  krb5_section("Server", realm.server_keytab, "zookeeper/localhost") +
                  krb5_section("Client", realm.client_keytab, "zkcli"))
    creds = _write(os.path.join(base, "gss.creds"),
                   "principal=zkcli@%s\nkeytab=%s\n" % (REALM, realm.client_keytab))
    flags = "-Djava.security.auth.login.config=%s %s -Djava.security.krb5.conf=%s" % (
        jaas, PROVIDER, realm.conf)
    saved = {k: os.environ.get(k) for k in ("KRB5_CONFIG", "KRB5CCNAME", "KRB5_KDC_PROFILE")}
    os.environ.update({k: realm.env[k] for k in saved})
    traces = {}
    try:
        for kind in kinds:
            tr = {}
            try:
                srv = ZkServer(kind, jvm_flags=flags)
            except Exception as e:  # noqa: BLE001
                tap.check("%s: gssapi: server starts" % kind, False, str(e))
                continue
            with srv:
                hosts = "localhost:%d" % srv.port
                # kazoo: puresasl GSSAPI with the ticket cache from kinit
                try:
                    zk = KazooClient(hosts=hosts, timeout=5, connection_retry={"max_tries": 0},
                                     command_retry={"max_tries": 0},
                                     sasl_options={"mechanism": "GSSAPI", "service": "zookeeper"})
                    zk.start(timeout=8)
                    zk.create("/g", b"gss", acl=[make_acl("auth", "", all=True)])
                    tr["kazoo acl"] = [(a.id.scheme, a.id.id) for a in zk.get_acls("/g")[0]]
                    zk.stop()
                    zk.close()
                except Exception as e:  # noqa: BLE001
                    tr["kazoo acl"] = type(e).__name__ + ": " + str(e)[:200]
                # zkfs-cli / libzkc: keytab from the credentials file
                p = gss_cli(cli, hosts, creds, "whoami")
                tr["zkfs-cli whoami"] = (p.returncode, sorted(p.stdout.split("\n")), p.stderr.strip()[-200:])
                p = gss_cli(cli, hosts, creds, "get", "/g")
                tr["zkfs-cli get"] = (p.returncode, p.stdout)
                # the Apache Java client with the Client section
                p = subprocess.run(["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                                    "-Djava.security.auth.login.config=" + jaas,
                                    "-Djava.security.krb5.conf=" + realm.conf, "-cp", JAVA_CP,
                                    "org.apache.zookeeper.ZooKeeperMain", "-server", hosts, "whoami"],
                                   capture_output=True, text=True, timeout=60)
                tr["java whoami"] = sorted(ln.strip() for ln in p.stdout.splitlines()
                                           if ln.startswith(("sasl:", "ip:")))
            for name, v in tr.items():
                tap.diag("%s gssapi %s: %r" % (kind, name, v))
            traces[kind] = tr
            want = "zkcli@" + REALM
            tap.eq("%s: gssapi: kazoo authenticates as %s" % (kind, want), tr["kazoo acl"], [("sasl", want)])
            tap.eq("%s: gssapi: zkfs-cli whoami" % (kind), tr["zkfs-cli whoami"][:2],
                   (0, ["", "ip 127.0.0.1", "sasl " + want]))
            tap.eq("%s: gssapi: zkfs-cli reads the node" % kind, tr["zkfs-cli get"], (0, "gss"))
            tap.eq("%s: gssapi: Java client whoami" % kind, tr["java whoami"],
                   ["ip: 127.0.0.1", "sasl: " + want])
        # kerberos.removeRealmFromPrincipal: the sasl id without @REALM
        for kind in kinds:
            with ZkServer(kind, jvm_flags=flags + " -Dzookeeper.kerberos.removeRealmFromPrincipal=true") as srv:
                p = gss_cli(cli, "localhost:%d" % srv.port, creds, "whoami")
                tap.eq("%s: gssapi: removeRealmFromPrincipal" % kind,
                       (p.returncode, sorted(p.stdout.split("\n"))), (0, ["", "ip 127.0.0.1", "sasl zkcli"]))
        if len(traces) == 2:
            tap.check("agree: gssapi", traces["apache"] == traces["zkfs"],
                      "apache: %r\nzkfs:   %r" % (traces["apache"], traces["zkfs"]))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
