"""zktlscerts — a throwaway PKI for TLS tests, made with the openssl tool in a
temporary directory:

    ca.pem / ca.key             the test CA (trust store, PEM)
    server.pem                  ZooKeeper PEM key store: key + certificate
                                (CN=localhost, SAN DNS:localhost, IP:127.0.0.1)
    server.crt / server.key     the same, apart
    server.p12                  PKCS12 key store, password "storepass"
    server2.pem                 another server certificate (CN=localhost2), for reload
    client.pem/.crt/.key        a client certificate: CN=client,OU=test,O=zkfs
    admin.pem/.crt/.key         another client: CN=admin,OU=test,O=zkfs (the x509 superUser)
    expired.pem/.crt/.key       a client certificate of the test CA that expired
    rogue.pem/.crt/.key         a client certificate of another, untrusted CA
    enc.key + enc.pass          client.key encrypted with the password in enc.pass
    revoked.pem/.crt/.key       a client certificate of the test CA, revoked in:
    ca-crl.pem                  ca.pem followed by the CA's CRL (trust store for ssl.crl)

    pki = Pki()          # makes everything (~1 s); pki.path('ca.pem'); pki.close()
"""

import os
import shutil
import subprocess
import tempfile

CLIENT_DN = "CN=client,OU=test,O=zkfs"
ADMIN_DN = "CN=admin,OU=test,O=zkfs"
PASSWORD = "storepass"


def _ossl(cwd, *args):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Pki(object):
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="zk-pki-")
        d = self.dir
        for ca in ("ca", "rogueca"):
            _ossl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "30",
                  "-subj", "/O=zkfs/CN=%s test CA" % ca)
        with open(os.path.join(d, "san.ext"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        with open(os.path.join(d, "cli.ext"), "w") as f:
            f.write("extendedKeyUsage=clientAuth,serverAuth\n")
        self._leaf("server", "/CN=localhost", "ca", "san.ext")
        self._leaf("server2", "/CN=localhost2", "ca", "san.ext")
        self._leaf("client", "/O=zkfs/OU=test/CN=client", "ca", "cli.ext")
        self._leaf("admin", "/O=zkfs/OU=test/CN=admin", "ca", "cli.ext")
        self._leaf("rogue", "/O=zkfs/OU=test/CN=rogue", "rogueca", "cli.ext")
        # expired: valid for the two days before yesterday
        self._leaf("expired", "/O=zkfs/OU=test/CN=expired", "ca", "cli.ext",
                   dates=("-not_before", "20200101000000Z", "-not_after", "20200102000000Z"))
        self._leaf("revoked", "/O=zkfs/OU=test/CN=revoked", "ca", "cli.ext",
                   dates=("-not_before", "20200101000000Z", "-not_after", "20991231000000Z"))
        cnf = os.path.join(d, "cadb", "ca.cnf")
        _ossl(d, "ca", "-config", cnf, "-cert", "ca.pem", "-keyfile", "ca.key", "-revoke", "revoked.crt")
        _ossl(d, "ca", "-config", cnf, "-cert", "ca.pem", "-keyfile", "ca.key", "-gencrl",
              "-crldays", "30", "-out", "ca.crl")
        with open(os.path.join(d, "ca-crl.pem"), "w") as out:
            for part in ("ca.pem", "ca.crl"):
                with open(os.path.join(d, part)) as f:
                    out.write(f.read())
        _ossl(d, "pkcs12", "-export", "-in", "server.crt", "-inkey", "server.key",
              "-certfile", "ca.pem", "-out", "server.p12", "-passout", "pass:" + PASSWORD)
        with open(os.path.join(d, "enc.pass"), "w") as f:
            f.write("keypass\n")
        _ossl(d, "pkey", "-in", "client.key", "-out", "enc.key", "-aes256", "-passout", "pass:keypass")

    def _leaf(self, name, subj, ca, ext, dates=None):
        d = self.dir
        _ossl(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
              "-keyout", name + ".key", "-out", name + ".csr", "-subj", subj)
        if dates:
            # `openssl x509 -req` cannot back-date; `openssl ca` can
            cadir = os.path.join(d, "cadb")
            fresh = not os.path.isdir(cadir)
            os.makedirs(cadir, exist_ok=True)
            if fresh:
                open(os.path.join(cadir, "index.txt"), "w").close()
            with open(os.path.join(cadir, "ca.cnf"), "w") as f:
                f.write("[ca]\ndefault_ca=c\n[c]\ndatabase=%s/index.txt\nnew_certs_dir=%s\n"
                        "serial=%s/serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n"
                        "default_crl_days=30\n[p]\ncommonName=supplied\n" % (cadir, cadir, cadir))
            if fresh:
                with open(os.path.join(cadir, "serial"), "w") as f:
                    f.write("1000\n")
            _ossl(d, "ca", "-batch", "-config", os.path.join(cadir, "ca.cnf"), "-cert", ca + ".pem",
                  "-keyfile", ca + ".key", "-in", name + ".csr", "-out", name + ".crt",
                  "-notext", "-startdate", dates[1], "-enddate", dates[3], "-extfile", ext)
        else:
            _ossl(d, "x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                  "-CAcreateserial", "-out", name + ".crt", "-days", "20", "-extfile", ext)
        with open(os.path.join(d, name + ".pem"), "w") as out:
            for part in (name + ".key", name + ".crt"):
                with open(os.path.join(d, part)) as f:
                    out.write(f.read())

    def path(self, name):
        return os.path.join(self.dir, name)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)
