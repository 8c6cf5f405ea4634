#!/usr/bin/python3
"""kazoo_ops — every basic ZooKeeper operation through kazoo 2.8, against
Apache ZooKeeper 3.8 and zkfs-server, asserting the facts known from Apache
and that both servers agree on the normalised results (stats without
zxids/times, error classes, sequence numbers, cversion, multi result shapes,
watch events).

Usage: kazoo_ops.py [apache|zkfs|both]   (TAP on stdout)
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from kazoo.security import make_digest_acl, make_acl, READ_ACL_UNSAFE  # noqa: E402

from zkcompat import Scenarios, norm_stat, outcome, exc_name  # noqa: E402
from zkharness import expect, expect_eq, wait_for  # noqa: E402

SC = Scenarios()


def data_or_err(zk, path):
    """The node's data, or the name of the error reading it."""
    r = outcome(zk.get, path)
    return r[1][0] if r[0] == "ok" else r[1]


def ns(st, zk):
    return norm_stat(st, zk.client_id[0])


@SC.add("create all modes")
def _(ctx):
    zk = ctx.kazoo()
    b = ctx.base
    tr = {}
    expect_eq(zk.create(b, b"base"), b, "create returns the path")
    tr["persistent"] = ns(zk.exists(b), zk)
    p = zk.create(b + "/e", b"eph", ephemeral=True)
    tr["ephemeral"] = ns(zk.exists(p), zk)
    expect_eq(tr["ephemeral"]["owner"], "self", "ephemeralOwner")
    seqs = [zk.create(b + "/s-", b"", sequence=True) for _ in range(3)]
    expect_eq(seqs, [b + "/s-0000000001", b + "/s-0000000002", b + "/s-0000000003"],
              "sequence numbers follow the parent's child-create count")
    es = zk.create(b + "/es-", b"x", ephemeral=True, sequence=True)
    expect_eq(es, b + "/es-0000000004", "ephemeral sequential")
    tr["seqs"] = [s[len(b):] for s in seqs + [es]]
    # Deleting children does not reuse sequence numbers.
    zk.delete(seqs[2])
    s5 = zk.create(b + "/s-", sequence=True)
    expect_eq(s5, b + "/s-0000000005", "no reuse after delete")
    # A sequential node directly under a fresh parent starts at 0.
    zk.create(b + "/fresh")
    expect_eq(zk.create(b + "/fresh/", sequence=True), b + "/fresh/0000000000", "empty-prefix sequential")
    # makepath, include_data
    p, st = zk.create(b + "/m1/m2/m3", b"deep", makepath=True, include_data=True)
    expect_eq(p, b + "/m1/m2/m3", "makepath path")
    tr["create2stat"] = ns(st, zk)
    expect_eq(st.czxid, st.mzxid, "czxid == mzxid")
    expect_eq(st.czxid, st.pzxid, "czxid == pzxid on create")
    expect_eq(st.ctime, st.mtime, "ctime == mtime")
    expect_eq(st.dataLength, 4, "dataLength")
    # create on an ephemeral parent
    tr["child_of_ephemeral"] = outcome(zk.create, b + "/e/x")[1]
    expect_eq(tr["child_of_ephemeral"], "NoChildrenForEphemeralsError", "child of ephemeral")
    tr["exists_twice"] = outcome(zk.create, b)[1]
    tr["no_parent"] = outcome(zk.create, b + "/nope/x")[1]
    expect_eq(tr["no_parent"], "NoNodeError", "missing parent")
    expect_eq(tr["exists_twice"], "NodeExistsError", "duplicate create")
    tr["children"] = sorted(zk.get_children(b))
    tr["parent"] = ns(zk.exists(b), zk)
    return tr


@SC.add("get/set and stat evolution")
def _(ctx):
    zk = ctx.kazoo()
    b = ctx.base
    tr = {}
    zk.create(b, b"v0")
    d, st0 = zk.get(b)
    expect_eq(d, b"v0", "data")
    st1 = zk.set(b, b"value-1")
    expect_eq(st1.version, 1, "version after set")
    expect(st1.mzxid > st0.mzxid, "mzxid grows")
    expect_eq(st1.czxid, st0.czxid, "czxid kept")
    expect(st1.mtime >= st0.mtime, "mtime grows")
    expect_eq(st1.dataLength, 7, "dataLength")
    st2 = zk.set(b, b"v2", version=1)
    expect_eq(st2.version, 2, "conditional set")
    tr["badversion"] = outcome(zk.set, b, b"x", version=1)[1]
    expect_eq(tr["badversion"], "BadVersionError", "stale version")
    tr["set_missing"] = outcome(zk.set, b + "/none", b"x")[1]
    tr["set_missing_with_version"] = outcome(zk.set, b + "/none", b"x", version=7)[1]
    tr["get_missing"] = outcome(zk.get, b + "/none")[1]
    zk.set(b, b"")
    d, st = zk.get(b)
    expect_eq((d, st.dataLength), (b"", 0), "empty data")
    tr["empty"] = ns(st, zk)
    big = os.urandom(512 * 1024)
    zk.set(b, big)
    expect_eq(zk.get(b)[0], big, "512 KiB value round-trips")
    tr["exists_missing"] = zk.exists(b + "/none")
    st = zk.exists(b)
    d, st2 = zk.get(b)
    expect_eq(tuple(st), tuple(st2), "exists stat == get stat")
    tr["final"] = ns(st, zk)
    # unicode names
    u = b + "/ünïcødé-名前"
    zk.create(u, "ü".encode())
    tr["unicode_children"] = zk.get_children(b)
    return tr


@SC.add("children cversion pzxid")
def _(ctx):
    zk = ctx.kazoo()
    b = ctx.base
    zk.create(b)
    st0 = zk.exists(b)
    expect_eq((st0.cversion, st0.numChildren), (0, 0), "fresh parent")
    zk.create(b + "/a")
    zk.create(b + "/b")
    c = zk.create(b + "/c")
    stc = zk.exists(c)
    st = zk.exists(b)
    expect_eq((st.cversion, st.numChildren), (3, 3), "after 3 creates")
    expect_eq(st.pzxid, stc.czxid, "pzxid = last child create")
    expect_eq(st.version, 0, "data version unchanged by children")
    expect_eq(st.mzxid, st0.mzxid, "mzxid unchanged by children")
    zk.delete(b + "/b")
    st2 = zk.exists(b)
    expect_eq((st2.cversion, st2.numChildren), (4, 2), "cversion counts deletes too")
    expect(st2.pzxid > st.pzxid, "pzxid moves on delete")
    zk.set(b + "/a", b"x")
    st3 = zk.exists(b)
    expect_eq(st3.pzxid, st2.pzxid, "pzxid unaffected by child setData")
    kids, st4 = zk.get_children(b, include_data=True)
    expect_eq(sorted(kids), ["a", "c"], "children")
    expect_eq(tuple(st4), tuple(st3), "getChildren2 stat")
    seq = zk.create(b + "/q", sequence=True)
    expect_eq(seq, b + "/q0000000003", "sequence uses stored cversion (creates only)")
    # ephemeral child deleted by session close changes the parent too
    zk2 = ctx.kazoo()
    zk2.create(b + "/eph", ephemeral=True)
    zk2.stop()
    zk2.close()
    st5 = zk.exists(b)
    tr = {"after": [ns(s, zk) for s in (st0, st, st2, st3, st5)], "root_children_has_zookeeper": "zookeeper" in zk.get_children("/")}
    return tr


@SC.add("delete with versions and errors")
def _(ctx):
    zk = ctx.kazoo()
    b = ctx.base
    tr = {}
    zk.create(b)
    zk.create(b + "/x", b"1")
    zk.set(b + "/x", b"2")
    tr["wrong_version"] = outcome(zk.delete, b + "/x", version=0)[1]
    expect_eq(tr["wrong_version"], "BadVersionError", "delete wrong version")
    tr["not_empty"] = outcome(zk.delete, b)[1]
    expect_eq(tr["not_empty"], "NotEmptyError", "delete non-empty")
    tr["not_empty_bad_version"] = outcome(zk.delete, b, version=5)[1]
    tr["missing"] = outcome(zk.delete, b + "/nope")[1]
    tr["missing_parent"] = outcome(zk.delete, b + "/nope/deeper")[1]
    tr["right_version"] = outcome(zk.delete, b + "/x", version=1)[1]
    expect_eq(tr["right_version"], True, "delete right version")
    tr["recursive"] = outcome(zk.delete, b, recursive=True)[1]
    expect(zk.exists(b) is None, "recursive delete")
    return tr


@SC.add("acl digest auth world ip")
def _(ctx):
    zk = ctx.kazoo()
    b = ctx.base
    tr = {}
    alice = make_digest_acl("alice", "secret", all=True)
    zk.create(b)
    zk.create(b + "/priv", b"hidden", acl=[alice])
    zk.create(b + "/ro", b"r", acl=READ_ACL_UNSAFE)
    zk.create(b + "/ip", b"i", acl=[make_acl("ip", "127.0.0.1", all=True)])
    zk.create(b + "/ipnet", b"i", acl=[make_acl("ip", "127.0.0.0/8", read=True)])
    zk.create(b + "/other_ip", b"i", acl=[make_acl("ip", "10.1.2.3", all=True)])
    # Without auth
    tr["noauth_get"] = outcome(zk.get, b + "/priv")[1]
    expect_eq(tr["noauth_get"], "NoAuthError", "read needs auth")
    tr["noauth_set"] = outcome(zk.set, b + "/priv", b"x")[1]
    tr["noauth_create_child"] = outcome(zk.create, b + "/priv/c")[1]
    tr["noauth_exists"] = ns(zk.exists(b + "/priv"), zk)  # exists needs no permission
    tr["noauth_children"] = outcome(zk.get_children, b + "/priv")[1]
    tr["noauth_getacl"] = outcome(zk.get_acls, b + "/priv")
    tr["ro_set"] = outcome(zk.set, b + "/ro", b"x")[1]
    tr["ro_create_child"] = outcome(zk.create, b + "/ro/c")[1]
    tr["ro_get"] = data_or_err(zk, b + "/ro")
    tr["ip_get"] = data_or_err(zk, b + "/ip")
    tr["ipnet_get"] = data_or_err(zk, b + "/ipnet")
    tr["other_ip_get"] = outcome(zk.get, b + "/other_ip")[1]
    # Delete needs DELETE on the parent, not on the node
    zk.create(b + "/nodel", acl=[make_acl("world", "anyone", read=True, create=True)])
    zk.create(b + "/nodel/child")
    tr["delete_without_parent_delete_perm"] = outcome(zk.delete, b + "/nodel/child")[1]
    expect_eq(tr["delete_without_parent_delete_perm"], "NoAuthError", "DELETE perm on parent")
    zk.create(b + "/priv2", acl=[alice])
    tr["delete_protected_node_itself"] = outcome(zk.delete, b + "/priv2")[1]
    # Digest auth
    za = ctx.kazoo()
    za.add_auth("digest", "alice:secret")
    tr["auth_get"] = data_or_err(za, b + "/priv")
    expect_eq(tr["auth_get"], b"hidden", "authenticated read")
    tr["auth_set"] = ns(za.set(b + "/priv", b"new"), za)
    acl, st = za.get_acls(b + "/priv")
    tr["getacl"] = [(a.perms, a.id.scheme, a.id.id) for a in acl]
    tr["getacl_stat"] = ns(st, za)
    # setACL with aversion
    st = za.set_acls(b + "/priv", [alice, make_acl("world", "anyone", read=True)])
    expect_eq(st.aversion, 1, "aversion after setACL")
    tr["setacl_bad_version"] = outcome(za.set_acls, b + "/priv", [alice], version=0)[1]
    expect_eq(tr["setacl_bad_version"], "BadVersionError", "setACL aversion")
    tr["now_world_readable"] = data_or_err(zk, b + "/priv")
    tr["getacl_masked"] = [(a.perms, a.id.scheme, a.id.id) for a in zk.get_acls(b + "/priv")[0]]
    # Invalid ACLs
    tr["empty_acl"] = outcome(zk.create, b + "/empty", acl=[])[1]
    tr["auth_scheme_without_auth"] = outcome(zk.create, b + "/auth", acl=[make_acl("auth", "", all=True)])[1]
    expect_eq(tr["auth_scheme_without_auth"], "InvalidACLError", "auth scheme with no ids")
    tr["auth_scheme_with_auth"] = outcome(za.create, b + "/auth2", acl=[make_acl("auth", "", all=True)])[1]
    tr["auth2_acl"] = [(a.perms, a.id.scheme, a.id.id) for a in za.get_acls(b + "/auth2")[0]]
    tr["bad_scheme_acl"] = outcome(zk.create, b + "/bs", acl=[make_acl("nosuch", "x", all=True)])[1]
    tr["bad_digest_acl"] = outcome(zk.create, b + "/bd", acl=[make_acl("digest", "nocolon", all=True)])[1]
    tr["bad_ip_acl"] = outcome(zk.create, b + "/bi", acl=[make_acl("ip", "999.1.1.1", all=True)])[1]
    tr["zero_perm_acl"] = outcome(zk.create, b + "/zp", acl=[make_acl("world", "anyone")])[1]
    tr["setacl_empty"] = outcome(za.set_acls, b + "/priv", [])[1]
    # World-readable after setACL; wrong password
    zb = ctx.kazoo()
    zb.add_auth("digest", "alice:wrong")
    tr["wrong_password_set"] = outcome(zb.set, b + "/priv", b"x")[1]
    expect_eq(tr["wrong_password_set"], "NoAuthError", "wrong password has no rights")
    return tr


@SC.add("bad auth scheme closes the session")
def _(ctx):
    zk = ctx.kazoo()
    r = outcome(zk.add_auth, "nosuchscheme", "x")[1]
    expect_eq(r, "AuthFailedError", "unknown auth scheme")
    return {"add_auth": r}


@SC.add("super digest")
def _(ctx):
    zk = ctx.kazoo()
    b = ctx.base
    zk.create(b, acl=[make_digest_acl("bob", "pw", all=True)])
    zs = ctx.kazoo()
    zs.add_auth("digest", "super:superpw")
    tr = {"super_get": data_or_err(zs, b), "super_set": outcome(lambda: zs.set(b, b"x").version)[1],
          "plain_get": outcome(zk.get, b)[1]}
    return tr


@SC.add("multi success and results")
def _(ctx):
    zk = ctx.kazoo()
    b = ctx.base
    zk.create(b)
    zk.create(b + "/old", b"o")
    t = zk.transaction()
    t.create(b + "/n1", b"a")
    t.create(b + "/seq-", b"s", sequence=True)
    t.set_data(b + "/n1", b"b")
    t.check(b + "/n1", 1)
    t.delete(b + "/old")
    t.create(b + "/eph", ephemeral=True)
    res = t.commit()
    out = []
    for r in res:
        if isinstance(r, str):
            out.append(("path", r[len(b):]))
        elif hasattr(r, "version"):
            out.append(("stat", ns(r, zk)))
        else:
            out.append(("other", repr(r)))
    expect_eq(out[0], ("path", "/n1"), "create result")
    expect_eq(out[1], ("path", "/seq-0000000002"), "sequential in multi")
    sts = [zk.exists(b + "/n1"), zk.exists(b + "/eph")]
    expect_eq(sts[0].czxid, sts[1].czxid, "one zxid for the whole multi")
    expect(sts[0].mzxid == sts[0].czxid, "set in the same multi shares the zxid")
    expect(zk.exists(b + "/old") is None, "delete applied")
    return {"results": out, "children": sorted(zk.get_children(b)), "parent": ns(zk.exists(b), zk)}


@SC.add("multi atomic failure shapes")
def _(ctx):
    zk = ctx.kazoo()
    b = ctx.base
    zk.create(b)
    zk.create(b + "/x", b"x")
    tr = {}
    cases = {
        "check_fails_mid": [("create", b + "/a"), ("check", b + "/x", 5), ("delete", b + "/x")],
        "create_exists_last": [("create", b + "/a"), ("set", b + "/x", b"y"), ("create", b + "/x")],
        "delete_missing_first": [("delete", b + "/nope"), ("create", b + "/a")],
        "set_bad_version": [("set", b + "/x", b"z", 3), ("create", b + "/a")],
        "delete_not_empty": [("create", b + "/x/c"), ("delete", b + "/x")],
        "create_then_child_in_same": [("create", b + "/p"), ("create", b + "/p/c"), ("check", b + "/p/c", 0)],
        "create_under_missing": [("create", b + "/m/c")],
        "empty": [],
    }
    for name, ops in cases.items():
        t = zk.transaction()
        for op in ops:
            if op[0] == "create":
                t.create(op[1])
            elif op[0] == "check":
                t.check(op[1], op[2])
            elif op[0] == "delete":
                t.delete(op[1])
            elif op[0] == "set":
                t.set_data(op[1], op[2], *op[3:])
        try:
            res = t.commit()
            tr[name] = [r if isinstance(r, (str, bool)) else (ns(r, zk) if hasattr(r, "version") else exc_name(r)) for r in res]
            tr[name] = [x[len(b):] if isinstance(x, str) and x.startswith(b) else x for x in tr[name]]
        except Exception as e:
            tr[name] = "raised " + exc_name(e)
    expect_eq(tr["check_fails_mid"], ["RolledBackError", "BadVersionError", "RuntimeInconsistency"],
              "multi failure shape")
    expect(zk.exists(b + "/a") is None, "nothing of a failed multi applied")
    expect_eq(zk.get(b + "/x")[0], b"x", "failed multi left data alone")
    tr["children"] = sorted(zk.get_children(b))
    tr["x"] = ns(zk.exists(b + "/x"), zk)
    return tr


@SC.add("sync")
def _(ctx):
    zk = ctx.kazoo()
    zk.create(ctx.base)
    r = zk.sync(ctx.base)
    expect_eq(r, ctx.base, "sync echoes the path")
    return {"sync": r[len(ctx.base):], "missing": outcome(zk.sync, ctx.base + "/nope")}


@SC.add("one-shot watches")
def _(ctx):
    zk = ctx.kazoo()
    b = ctx.base
    ev = []
    lock = threading.Lock()

    def w(tag):
        def f(e):
            with lock:
                ev.append((tag, e.type, e.path[len(b):] if e.path else e.path))
        return f
    zk.create(b)
    zk.create(b + "/d", b"1")
    zk.get(b + "/d", watch=w("get"))
    zk.exists(b + "/d", watch=w("exists"))
    zk.exists(b + "/new", watch=w("exists-missing"))
    zk.get_children(b, watch=w("children"))
    zk.set(b + "/d", b"2")           # fires get+exists once
    zk.set(b + "/d", b"3")           # fires nothing more
    zk.create(b + "/new")            # exists-missing: CREATED; children: CHILD
    zk.create(b + "/new2")           # nothing (children watch already fired)
    zk.get_children(b + "/new", watch=w("children-new"))
    zk.get(b + "/new", watch=w("get-new"))
    zk.delete(b + "/new")            # both: DELETED
    r = outcome(zk.get, b + "/missing", watch=w("get-missing"))
    zk.create(b + "/missing")        # no event: getData on a missing node sets no watch
    zk.sync(b)
    wait_for(lambda: len(ev) >= 6, 5)
    time.sleep(0.3)
    with lock:
        got = sorted(ev)
    expect_eq(got, sorted([("get", "CHANGED", "/d"), ("exists", "CHANGED", "/d"),
                           ("exists-missing", "CREATED", "/new"), ("children", "CHILD", ""),
                           ("children-new", "DELETED", "/new"), ("get-new", "DELETED", "/new")]),
              "events")
    return {"events": got, "get_missing": r}


@SC.add("watch fires before the write's reply")
def _(ctx):
    # Raw client: the event must arrive before the reply to our own setData,
    # and before the reply to a later read.
    c = ctx.raw()
    b = ctx.base
    c.create(b, b"")
    c.get_data(b, watch=True)
    c.events.clear()
    err, st = c.set_data(b, b"x")
    expect_eq(err, 0, "setData")
    expect_eq(c.events, [(3, 3, b)], "event before reply")
    c.exists(b + "/c", watch=True)
    c.get_children(b, watch=True)
    c.events.clear()
    c.create(b + "/c")
    ev1 = list(c.events)
    c.delete(b + "/c")
    ev2 = list(c.events)
    return {"ev1": [(t, s, p[len(b):]) for t, s, p in ev1], "ev2": [(t, s, p[len(b):]) for t, s, p in ev2]}


@SC.add("watch on delete of watched parent")
def _(ctx):
    zk = ctx.kazoo()
    b = ctx.base
    ev = []
    zk.create(b + "/p/c", makepath=True)
    zk.get_children(b + "/p", watch=lambda e: ev.append(("pchildren", e.type)))
    zk.get(b + "/p", watch=lambda e: ev.append(("pdata", e.type)))
    zk.exists(b + "/p/c", watch=lambda e: ev.append(("cexists", e.type)))
    zk.get_children(b, watch=lambda e: ev.append(("bchildren", e.type)))
    zk.delete(b + "/p", recursive=True)
    zk.sync(b)
    wait_for(lambda: len(ev) >= 4, 5)
    time.sleep(0.2)
    return {"events": sorted(ev)}


@SC.add("ephemeral removed on session close")
def _(ctx):
    zk = ctx.kazoo()
    b = ctx.base
    zk.create(b)
    other = ctx.kazoo()
    other.create(b + "/e1", ephemeral=True)
    other.create(b + "/es-", ephemeral=True, sequence=True)
    ev = []
    zk.exists(b + "/e1", watch=lambda e: ev.append((e.type, e.path[len(b):])))
    zk.get_children(b, watch=lambda e: ev.append((e.type, e.path[len(b):])))
    expect_eq(sorted(zk.get_children(b)), ["e1", "es-0000000001"], "ephemerals exist")
    other.stop()
    other.close()
    expect(wait_for(lambda: zk.get_children(b) == [], 5), "ephemerals gone after close")
    wait_for(lambda: len(ev) >= 2, 5)
    return {"events": sorted(ev), "parent": ns(zk.exists(b), zk)}


@SC.add("session expiry removes ephemerals")
def _(ctx):
    zk = ctx.kazoo()
    b = ctx.base
    zk.create(b)
    c = ctx.raw(timeout_ms=1000)
    neg = c.negotiated_timeout
    c.create(b + "/e", b"", flags=1)
    c.sock.close()  # vanish without closeSession: the session must expire
    t0 = time.time()
    gone = wait_for(lambda: zk.exists(b + "/e") is None, 15, 0.1)
    took = time.time() - t0
    expect(gone, "ephemeral removed after expiry")
    expect(took >= neg / 1000.0 * 0.5, "not removed long before the timeout (%.2fs, timeout %dms)" % (took, neg))
    # The expired session cannot be resumed.
    r = ctx.raw(session_id=c.session_id, passwd=c.passwd, handshake=False)
    to, sid, pw = r.connect(timeout_ms=1000, session_id=c.session_id, passwd=c.passwd)
    expect_eq((to, sid), (0, 0), "expired session reply")
    return {"negotiated": neg, "resume_expired": (to, sid, pw == b"\0" * 16), "closed_after": r.wait_closed(5)}


@SC.add("session resume with id and password")
def _(ctx):
    b = ctx.base
    c = ctx.raw(timeout_ms=4000)
    c.create(b, b"")
    c.create(b + "/e", b"", flags=1)
    sid, pw = c.session_id, c.passwd
    c.sock.close()
    time.sleep(0.5)
    r = ctx.raw(handshake=False)
    to, sid2, pw2 = r.connect(timeout_ms=4000, session_id=sid, passwd=pw)
    expect_eq(sid2, sid, "same session id")
    expect(to > 0, "resumed")
    err, st = r.exists(b + "/e")
    expect_eq(err, 0, "ephemeral survived the reconnect")
    expect_eq(st.ephemeralOwner, sid, "owned by the resumed session")
    # A second connection taking over the session closes the first.
    r2 = ctx.raw(handshake=False)
    r2.connect(timeout_ms=4000, session_id=sid, passwd=pw)
    first_closed = r.wait_closed(5)
    # Wrong password -> expired reply
    bad = bytes([pw[0] ^ 1]) + pw[1:]
    r3 = ctx.raw(handshake=False)
    to3, sid3, _ = r3.connect(timeout_ms=4000, session_id=sid, passwd=bad)
    expect_eq((to3, sid3), (0, 0), "bad password refused")
    r2.close()
    return {"first_closed": first_closed, "bad_pw": (to3, sid3)}


@SC.add("negotiated session timeout clamps")
def _(ctx):
    out = {}
    for req in (1, 1500, 3000, 9000, 10 ** 7):
        c = ctx.raw(timeout_ms=req)
        out[str(req)] = c.negotiated_timeout
        c.close()
    # server runs with tickTime=500: min 1000, max 10000
    expect_eq(out["1"], 1000, "min = 2*tickTime")
    expect_eq(out[str(10 ** 7)], 10000, "max = 20*tickTime")
    return out


if __name__ == "__main__":
    SC.run(extra_cfg={"tickTime": 500}, super_digest="super:" + __import__("kazoo.security", fromlist=["x"]).make_digest_acl_credential("super", "superpw").split(":", 1)[1])
