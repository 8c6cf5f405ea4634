#!/usr/bin/python3
"""raw_4lw — the four-letter words (ruok, srvr, stat, mntr, conf, cons,
wchs, wchc, wchp, dump, envi, isro, crst, srst, dirs) and the whitelist,
against Apache ZooKeeper 3.8 and zkfs-server.  Monitoring tools parse these
texts, so the checks are on their shapes (keys, line formats) and on the
numbers that must match the server state (node count, zxid, ephemerals,
session ids), not on Java-only details.

Usage: raw_4lw.py [apache|zkfs|both]   (TAP on stdout)
"""

import os
import re
import sys
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from zkharness import Tap, ZkServer, ServerError, kinds_from_args, four_letter  # noqa: E402
from zkraw import RawClient, OP, enc  # noqa: E402

MNTR_KEYS = ["zk_version", "zk_avg_latency", "zk_max_latency", "zk_min_latency", "zk_packets_received",
             "zk_packets_sent", "zk_num_alive_connections", "zk_outstanding_requests", "zk_server_state",
             "zk_znode_count", "zk_watch_count", "zk_ephemerals_count", "zk_approximate_data_size",
             "zk_open_file_descriptor_count"]

SRVR_RE = [r"^Zookeeper version: .+$", r"^Latency min/avg/max: \d+/[\d.]+/\d+$", r"^Received: \d+$",
           r"^Sent: \d+$", r"^Connections: \d+$", r"^Outstanding: \d+$", r"^Zxid: 0x[0-9a-f]+$",
           r"^Mode: standalone$", r"^Node count: \d+$"]


def field(text, name):
    m = re.search(r"^%s: (.*)$" % re.escape(name), text, re.M)
    return m.group(1) if m else None


def mntr_dict(text):
    out = {}
    for line in text.splitlines():
        if "\t" in line:
            k, v = line.split("\t", 1)
            out[k] = v
    return out


def full_suite(tap, kind):
    names = ["ruok", "isro", "srvr format", "srvr numbers", "stat", "mntr keys", "mntr numbers", "conf",
             "cons", "wchs", "wchc", "wchp", "dump", "envi", "crst", "srst", "dirs", "unknown word"]
    try:
        srv = ZkServer(kind)
    except ServerError as e:
        tap.fail_all(["%s: %s" % (kind, n) for n in names], str(e))
        return
    with srv:
        c = RawClient(srv.port)
        c.create("/w", b"12345")
        c.create("/w/e1", b"", flags=1)
        c.create("/w/e2", b"", flags=1)
        c.get_data("/w", watch=True)
        c.get_children("/w", watch=True)
        c.exists("/x", watch=True)
        last = c.call(OP.SYNC, enc.path("/")).zxid
        sid = "0x%x" % c.session_id
        local_port = c.sock.getsockname()[1]

        def t(name, fn):
            try:
                r = fn()
                tap.check("%s: %s" % (kind, name), r is None or r is True, r if isinstance(r, str) else None)
            except Exception:
                tap.check("%s: %s" % (kind, name), False, traceback.format_exc())

        def four(cmd):
            return four_letter(srv.port, cmd)

        t("ruok", lambda: None if four("ruok") == "imok" else "got %r" % four("ruok"))
        t("isro", lambda: None if four("isro").strip() == "rw" else "got %r" % four("isro"))

        def srvr_format():
            s = four("srvr")
            miss = [r for r in SRVR_RE if not re.search(r, s, re.M)]
            return "missing %r in:\n%s" % (miss, s) if miss else None
        t("srvr format", srvr_format)

        def srvr_numbers():
            s = four("srvr")
            zx = int(field(s, "Zxid"), 16)
            if zx != last:
                return "Zxid %#x, client saw %#x" % (zx, last)
            n1 = int(field(s, "Node count"))
            c.create("/w/n1")
            c.create("/w/n2")
            n2 = int(field(four("srvr"), "Node count"))
            if n2 != n1 + 2:
                return "node count %d -> %d after 2 creates" % (n1, n2)
            if int(field(s, "Connections")) < 1:
                return "Connections < 1"
            c.delete("/w/n1")
            c.delete("/w/n2")
        t("srvr numbers", srvr_numbers)

        def stat():
            s = four("stat")
            if "Clients:" not in s:
                return "no Clients: block\n" + s
            if not re.search(r"^ /127\.0\.0\.1:%d\[\d+\]\(queued=\d+,recved=\d+,sent=\d+" % local_port, s, re.M):
                return "no line for our connection (port %d)\n%s" % (local_port, s)
            miss = [r for r in SRVR_RE if not re.search(r, s, re.M)]
            return "missing %r" % miss if miss else None
        t("stat", stat)

        def mntr_keys():
            s = four("mntr")
            d = mntr_dict(s)
            miss = [k for k in MNTR_KEYS if k not in d]
            bad = [l for l in s.splitlines() if l and "\t" not in l]
            if miss or bad:
                return "missing keys %r, lines without a tab %r" % (miss, bad[:5])
        t("mntr keys", mntr_keys)

        def mntr_numbers():
            d = mntr_dict(four("mntr"))
            n = int(field(four("srvr"), "Node count"))
            errs = []
            if d.get("zk_server_state") != "standalone":
                errs.append("zk_server_state %r" % d.get("zk_server_state"))
            if int(d.get("zk_znode_count", -1)) != n:
                errs.append("zk_znode_count %s, srvr Node count %d" % (d.get("zk_znode_count"), n))
            if int(d.get("zk_ephemerals_count", -1)) != 2:
                errs.append("zk_ephemerals_count %s, want 2" % d.get("zk_ephemerals_count"))
            if int(d.get("zk_watch_count", 0)) < 2:
                errs.append("zk_watch_count %s, want >= 2" % d.get("zk_watch_count"))
            if int(d.get("zk_num_alive_connections", 0)) < 1:
                errs.append("zk_num_alive_connections %s" % d.get("zk_num_alive_connections"))
            return "; ".join(errs) or None
        t("mntr numbers", mntr_numbers)

        def conf():
            s = four("conf")
            for want in ("clientPort=%d" % srv.port, "tickTime=2000", "maxClientCnxns=", "dataDir=",
                         "minSessionTimeout=4000", "maxSessionTimeout=40000"):
                if want not in s:
                    return "no %r in:\n%s" % (want, s)
        t("conf", conf)

        def cons():
            s = four("cons")
            if not re.search(r"^ /127\.0\.0\.1:%d\[\d+\]\(.*sid=%s" % (local_port, sid), s, re.M):
                return "no line with our port %d and sid=%s:\n%s" % (local_port, sid, s)
        t("cons", cons)

        def wchs():
            s = four("wchs")
            m = re.match(r"^(\d+) connections watching (\d+) paths\nTotal watches:(\d+)\n", s)
            if not m:
                return "format: %r" % s
            if int(m.group(1)) != 1 or int(m.group(2)) < 2:
                return "numbers: %r" % s
        t("wchs", wchs)

        def wchc():
            s = four("wchc")
            if not re.search(r"^%s\n(\t/.*\n)+" % sid, s, re.M) or "\t/w\n" not in s or "\t/x\n" not in s:
                return "format: %r" % s
        t("wchc", wchc)

        def wchp():
            s = four("wchp")
            if not re.search(r"^/w\n\t%s\n" % sid, s, re.M) or not re.search(r"^/x\n\t%s\n" % sid, s, re.M):
                return "format: %r" % s
        t("wchp", wchp)

        def dump():
            s = four("dump")
            if sid not in s or "/w/e1" not in s or "/w/e2" not in s:
                return "no session %s with its ephemerals:\n%s" % (sid, s)
        t("dump", dump)
        t("envi", lambda: None if four("envi").startswith("Environment:") else "got %r" % four("envi")[:200])
        t("crst", lambda: None if four("crst").strip() == "Connection stats reset." else "got %r" % four("crst"))

        def srst():
            s = four("srst")
            if s.strip() != "Server stats reset.":
                return "got %r" % s
            r = int(field(four("srvr"), "Received"))
            if r > 5:
                return "Received: %d right after srst" % r
        t("srst", srst)
        t("dirs", lambda: None if re.search(r"^datadir_size: \d+$", four("dirs"), re.M) else "got %r" % four("dirs"))

        def unknown():
            s = four("xyzw")
            if s != "":
                return "unknown word answered %r" % s
            # the server is still fine
            if four("ruok") != "imok":
                return "server stopped answering"
        t("unknown word", unknown)
        c.close()


def whitelist_suite(tap, kind):
    names = ["whitelisted ruok", "whitelisted srvr", "refused stat", "refused mntr", "refused wchs"]
    try:
        srv = ZkServer(kind, extra_cfg={"4lw.commands.whitelist": "ruok, srvr"})
    except ServerError as e:
        tap.fail_all(["%s: %s" % (kind, n) for n in names], str(e))
        return
    with srv:
        tap.eq("%s: whitelisted ruok" % kind, srv.four("ruok"), "imok")
        tap.check("%s: whitelisted srvr" % kind, "Mode: standalone" in srv.four("srvr"), srv.four("srvr"))
        for w in ("stat", "mntr", "wchs"):
            tap.eq("%s: refused %s" % (kind, w), srv.four(w), "%s is not executed because it is not in the whitelist.\n" % w)


def main():
    tap = Tap()
    for kind in kinds_from_args():
        full_suite(tap, kind)
        whitelist_suite(tap, kind)
    tap.done()


if __name__ == "__main__":
    main()
