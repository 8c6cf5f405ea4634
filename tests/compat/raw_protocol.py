#!/usr/bin/python3
"""raw_protocol — the parts of the ZooKeeper client protocol kazoo 2.8 does
not reach, driven frame by frame with tests/lib/zkraw.py, against Apache
ZooKeeper 3.8 and zkfs-server: reserved /zookeeper nodes, invalid paths,
TTL and container nodes (create rules and reaping), multi/multiRead result
shapes, getEphemerals, getAllChildrenNumber, whoAmI, addWatch (persistent
and recursive), removeWatches/checkWatches, setWatches2 replay, unknown
opcodes, auth failure, a client whose lastZxidSeen is ahead of the server,
and error-code precedence.  Expected values were taken from Apache 3.8;
where 3.8 has a quirk the protocol does not promise, the test accepts the
documented alternative too.

Usage: raw_protocol.py [apache|zkfs|both]   (TAP on stdout)
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from zkcompat import Scenarios, norm_stat  # noqa: E402
from zkharness import expect, expect_eq, wait_for  # noqa: E402
from zkraw import OP, ERR, EV, OPEN_ACL, enc, i32, i64, ustr, acls, Closed, RawClient  # noqa: E402

SC = Scenarios()
DIGEST_ALICE = ("digest", "alice:" + __import__("base64").b64encode(
    __import__("hashlib").sha1(b"alice:pw").digest()).decode())


def nst(st, c=None):
    return norm_stat(st, c.session_id if c else None)


def rel(evs, base):
    return [(t, s, p[len(base):] if p.startswith(base) else p) for t, s, p in evs]


@SC.add("reserved nodes of a fresh server")
def _(ctx):
    c = ctx.raw()
    tr = {}
    for p in ("/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"):
        err, st = c.exists(p)
        expect_eq(err, 0, "%s exists" % p)
        tr[p] = {"stat": nst(st), "children": sorted(c.get_children(p)[1])}
        expect_eq(c.delete(p), ERR.BADARGUMENTS, "delete %s" % p)
    expect(set(tr["/zookeeper"]["children"]) >= {"quota", "config"}, "/zookeeper children")
    tr["getacl_config"] = c.get_acl("/zookeeper/config")[1]
    tr["getacl_root"] = c.get_acl("/")[1]
    tr["set_config"] = c.set_data("/zookeeper/config", b"x")[0]
    expect(tr["set_config"] != 0, "/zookeeper/config is not writable by anyone")
    err, p, _ = c.create("/zookeeper/x")
    tr["create_under_zookeeper"] = err
    if err == 0:
        c.delete("/zookeeper/x")
    return tr


@SC.add("invalid paths are refused")
def _(ctx):
    c = ctx.raw()
    b = ctx.base
    c.create(b)
    bad = ["", "a", b + "/", "//a", b + "/.", b + "/..", b + "/./x", b + "/../x", b + "/a\x00b",
           b + "/a\x01", b + "/a\x1f", b + "/a\x7f", b + "/a\x9f", b + "/a\ud800", b + "/a\uf8ff",
           b + "/a\ufff0", b + "/a\uffff"]
    out = {}
    for p in bad:
        err = c.create(p)[0]
        out["create %r" % p] = err
        # Apache checks the parent before the name for a few shapes.
        if p in (b + "/./x", b + "/../x"):
            expect(err in (ERR.BADARGUMENTS, ERR.NONODE), "create %r -> %d" % (p, err))
        else:
            expect_eq(err, ERR.BADARGUMENTS, "create %r" % p)
        err = c.set_data(p, b"")[0]
        expect(err in (ERR.BADARGUMENTS, ERR.NONODE), "setData %r -> %d" % (p, err))
        err = c.delete(p)
        expect(err in (ERR.BADARGUMENTS, ERR.NONODE), "delete %r -> %d" % (p, err))
        if p:
            err = c.get_data(p)[0]
            expect(err in (ERR.BADARGUMENTS, ERR.NONODE), "getData %r -> %d" % (p, err))
    ok = ["/..a", "/a.b", "/.hidden", "/a..", "/ünï", "/a b", "/a\u00a0"]
    for p in ok:
        err = c.create(b + p)[0]
        expect_eq(err, 0, "create %r" % (b + p))
    expect_eq(sorted(c.get_children(b)[1]), sorted(x[1:] for x in ok), "valid odd names")
    expect_eq(c.exists(b)[0], 0, "connection still works")
    # multi with an invalid path
    err, res = c.multi([(OP.CREATE, enc.create(b + "/fine")), (OP.CREATE, enc.create(b + "/a\x01"))])
    out["multi"] = (err, [(t, e) for t, e, _ in res] if res else None)
    expect_eq(out["multi"], (0, [(-1, 0), (-1, ERR.BADARGUMENTS)]), "multi with an invalid path")
    expect_eq(c.exists(b + "/fine")[0], ERR.NONODE, "nothing applied")
    return out


@SC.add("TTL and container create rules")
def _(ctx):
    c = ctx.raw()
    b = ctx.base
    c.create(b)
    cases = [("ttl0", 5, 0, OP.CREATETTL, ERR.BADARGUMENTS),
             ("ttl_too_big", 5, 0x10000000000, OP.CREATETTL, ERR.BADARGUMENTS),
             ("ttl_negative", 5, -1, OP.CREATETTL, ERR.BADARGUMENTS),
             ("ttl_max", 5, 0xFFFFFFFFFF, OP.CREATETTL, 0),
             ("ttl_ok", 5, 60000, OP.CREATETTL, 0),
             ("ttl_seq", 6, 60000, OP.CREATETTL, 0),
             ("ttl_op_flags0", 0, 1000, OP.CREATETTL, ERR.BADARGUMENTS),
             ("ttl_op_flags1", 1, 1000, OP.CREATETTL, ERR.BADARGUMENTS),
             ("ttl_op_flags4", 4, 1000, OP.CREATETTL, ERR.BADARGUMENTS),
             ("flags5_create2", 5, None, OP.CREATE2, ERR.BADARGUMENTS),
             ("flags5_create", 5, None, OP.CREATE, ERR.BADARGUMENTS),
             ("flags7", 7, None, OP.CREATE2, ERR.BADARGUMENTS),
             ("flags_neg", -1, None, OP.CREATE2, ERR.BADARGUMENTS),
             ("container_op", 4, None, OP.CREATECONTAINER, 0),
             ("container_flag_create", 4, None, OP.CREATE, 0),
             ("container_flag_create2", 4, None, OP.CREATE2, 0)]
    tr = {}
    for name, flags, ttl, op, want in cases:
        err, path, st = c.create(b + "/" + name, b"", flags=flags, ttl=ttl, op=op)
        expect_eq(err, want, name)
        tr[name] = (err, path[len(b):] if path else None, nst(st, c))
        if st is not None:
            expect_eq(st.ephemeralOwner, 0, "%s: ephemeralOwner shows 0" % name)
    tr["ttl_missing_parent"] = c.create(b + "/no/x", flags=5, ttl=1000)[0]
    expect_eq(tr["ttl_missing_parent"], ERR.NONODE, "TTL under a missing parent")
    # ephemerals cannot be containers' children? (they can) — and TTL nodes may have children
    tr["child_of_ttl"] = c.create(b + "/ttl_ok/kid")[0]
    tr["ephemeral_child_of_container"] = c.create(b + "/container_op/e", flags=1)[0]
    return tr


@SC.add("container and TTL reaping")
def _(ctx):
    c = ctx.raw()
    b = ctx.base
    c.create(b)
    c.create(b + "/cont", flags=4)
    c.create(b + "/cont/child")
    c.create(b + "/never", flags=4)            # never had a child: stays
    c.create(b + "/ttl", flags=5, ttl=200)
    c.create(b + "/ttlkid", flags=5, ttl=200)
    c.create(b + "/ttlkid/k")                  # has a child: stays
    c.delete(b + "/cont/child")
    gone = wait_for(lambda: c.exists(b + "/cont")[0] == ERR.NONODE and c.exists(b + "/ttl")[0] == ERR.NONODE, 20, 0.2)
    expect(gone, "emptied container and expired TTL node are reaped "
                 "(server started with znode.container.checkIntervalMs=500)")
    expect_eq(c.exists(b + "/never")[0], 0, "container that never had children stays")
    expect_eq(c.exists(b + "/ttlkid")[0], 0, "TTL node with a child stays")
    return {"children": sorted(c.get_children(b)[1])}


@SC.add("multi and multiRead result shapes")
def _(ctx):
    c = ctx.raw()
    b = ctx.base
    c.create(b)
    c.create(b + "/x", b"xx")
    tr = {}

    def shape(res):
        out = []
        for t, e, v in res:
            if t in (OP.CREATE,):
                v = v[len(b):]
            elif t == OP.CREATE2:
                v = (v[0][len(b):], nst(v[1], c))
            elif t == OP.SETDATA:
                v = nst(v, c)
            elif t == OP.GETDATA:
                v = (v[0], nst(v[1], c))
            elif t == OP.GETCHILDREN:
                v = sorted(v)
            out.append((t, e, v))
        return out
    err, res = c.multi([(OP.CREATE, enc.create(b + "/a", b"1")),
                        (OP.CREATE2, enc.create(b + "/b", b"2")),
                        (OP.CREATECONTAINER, enc.create(b + "/cont", b"", flags=4)),
                        (OP.CREATETTL, enc.create(b + "/ttl", b"", flags=5, ttl=60000)),
                        (OP.SETDATA, enc.set_data(b + "/x", b"y", 0)),
                        (OP.CHECK, enc.check(b + "/x", 1)),
                        (OP.DELETE, enc.delete(b + "/a", 0))])
    expect_eq(err, 0, "multi ok")
    types = [t for t, _, _ in res]
    # Apache 3.8 answers a create2 inside multi with a plain create result;
    # 3.9 with a create2 result.  Both are accepted (and normalised).
    expect(types[1] in (OP.CREATE, OP.CREATE2), "create2 in multi -> type %d" % types[1])
    if types[1] == OP.CREATE2:
        res[1] = (OP.CREATE, res[1][1], res[1][2][0])
        types[1] = OP.CREATE
    tr["ok"] = shape(res)
    expect_eq(types, [OP.CREATE, OP.CREATE, OP.CREATE2, OP.CREATE2, OP.SETDATA, OP.CHECK, OP.DELETE],
              "result types (container and TTL answer as create2)")
    err, res = c.multi([(OP.CREATE, enc.create(b + "/n")), (OP.SETDATA, enc.set_data(b + "/x", b"z", 7)),
                        (OP.DELETE, enc.delete(b + "/x"))])
    tr["fail"] = shape(res)
    expect_eq(tr["fail"], [(-1, 0, None), (-1, ERR.BADVERSION, None), (-1, ERR.RUNTIMEINCONSISTENCY, None)],
              "failed multi shape")
    err, res = c.multi([(OP.GETDATA, enc.path_watch(b + "/x")), (OP.GETCHILDREN, enc.path_watch(b)),
                        (OP.GETDATA, enc.path_watch(b + "/missing")), (OP.GETCHILDREN, enc.path_watch(b + "/x"))],
                       op=OP.MULTIREAD)
    expect_eq(err, 0, "multiRead")
    tr["read"] = shape(res)
    expect_eq([(t, e) for t, e, _ in res], [(OP.GETDATA, 0), (OP.GETCHILDREN, 0), (-1, ERR.NONODE), (OP.GETCHILDREN, 0)],
              "multiRead never aborts")
    tr["read_mixed"] = c.multi([(OP.GETDATA, enc.path_watch(b)), (OP.CREATE, enc.create(b + "/q"))], op=OP.MULTIREAD)[0]
    tr["write_mixed"] = c.multi([(OP.CREATE, enc.create(b + "/q")), (OP.GETDATA, enc.path_watch(b))])[0]
    expect_eq((tr["read_mixed"], tr["write_mixed"]), (ERR.MARSHALLINGERROR, ERR.MARSHALLINGERROR), "mixing reads and writes")
    tr["empty"] = c.multi([])
    tr["empty_read"] = c.multi([], op=OP.MULTIREAD)
    expect_eq(tr["empty"], (0, []), "empty multi")
    tr["q_absent"] = c.exists(b + "/q")[0]
    # one zxid per multi
    rep = c.call(OP.MULTI, enc.multi([(OP.CREATE, enc.create(b + "/z1")), (OP.CREATE, enc.create(b + "/z2"))]))
    s1, s2 = c.exists(b + "/z1")[1], c.exists(b + "/z2")[1]
    expect(s1.czxid == s2.czxid == rep.zxid, "one zxid for a multi, echoed in the reply header")
    return tr


@SC.add("getEphemerals getAllChildrenNumber whoAmI sync")
def _(ctx):
    c = ctx.raw()
    o = ctx.raw()
    b = ctx.base
    c.create(b)
    c.create(b + "/p")
    c.create(b + "/p/e1", flags=1)
    c.create(b + "/p/es", flags=3)
    c.create(b + "/pe", flags=1)
    o.create(b + "/p/other", flags=1)      # someone else's
    tr = {}
    for pre in (b, b + "/p", b + "/p/", b + "/pe", b + "/nope"):
        err, v = c.get_ephemerals(pre)
        tr["eph %s" % pre[len(b):]] = (err, sorted(x[len(b):] for x in v) if v else v)
    expect_eq(tr["eph "], (0, ["/p/e1", "/p/es0000000001", "/pe"]), "own ephemerals by prefix")
    expect_eq(tr["eph /p"], (0, ["/p/e1", "/p/es0000000001", "/pe"]), "string-prefix match")
    tr["all /"] = None  # depends on other scenarios
    c.create(b + "/p/deep")
    c.create(b + "/p/deep/er")
    tr["all b"] = c.get_all_children_number(b)
    expect_eq(tr["all b"], (0, 7), "all descendants")
    tr["all leaf"] = c.get_all_children_number(b + "/pe")
    tr["all missing"] = c.get_all_children_number(b + "/nope")
    expect_eq(tr["all missing"][0], ERR.NONODE, "missing")
    tr["whoami"] = sorted(c.whoami()[1])
    expect_eq(tr["whoami"], [("ip", "127.0.0.1")], "whoAmI before auth")
    expect_eq(c.auth("digest", b"alice:pw"), 0, "digest auth")
    expect_eq(c.auth("digest", b"bob:pw"), 0, "second digest auth")
    tr["whoami2"] = sorted(c.whoami()[1])
    expect_eq(tr["whoami2"], [("digest", "alice"), ("digest", "bob"), ("ip", "127.0.0.1")], "whoAmI after auth")
    tr["sync"] = c.sync(b)
    expect_eq(tr["sync"], (0, b), "sync echoes the path")
    tr["sync_missing"] = c.sync(b + "/nope")[0]
    tr["sync_root"] = c.sync("/")
    tr["sync"] = (tr["sync"][0], "")
    return tr


@SC.add("addWatch persistent")
def _(ctx):
    c = ctx.raw()
    w = ctx.raw()
    b = ctx.base
    c.create(b)
    expect_eq(w.add_watch(b + "/p", 0), 0, "addWatch on a missing node")
    c.create(b + "/p")
    c.set_data(b + "/p", b"1")
    c.create(b + "/p/k")
    c.set_data(b + "/p/k", b"x")   # no event: not recursive
    c.create(b + "/p/k/g")         # no event
    c.delete(b + "/p/k/g")
    c.delete(b + "/p/k")
    c.set_data(b + "/p", b"2")     # still armed
    c.delete(b + "/p")
    c.create(b + "/p")             # survives deletion of the node
    w.wait_events(7, 5)
    time.sleep(0.2)
    w.ping()
    got = rel(w.events, b)
    want = [(EV.CREATED, 3, "/p"), (EV.DATACHANGED, 3, "/p"), (EV.CHILDCHANGED, 3, "/p"),
            (EV.CHILDCHANGED, 3, "/p"), (EV.DATACHANGED, 3, "/p"), (EV.DELETED, 3, "/p"), (EV.CREATED, 3, "/p")]
    expect_eq(got, want, "persistent watch events")
    # A one-shot data watch on the same node: both fire, once per connection?
    w.events.clear()
    w.get_data(b + "/p", watch=True)
    c.set_data(b + "/p", b"3")
    w.wait_events(1, 3)
    time.sleep(0.2)
    w.ping()
    both = rel(w.events, b)
    return {"events": got, "with_oneshot": both}


@SC.add("addWatch persistent recursive")
def _(ctx):
    c = ctx.raw()
    w = ctx.raw()
    b = ctx.base
    c.create(b)
    c.create(b + "/r")
    expect_eq(w.add_watch(b + "/r", 1), 0, "addWatch recursive")
    c.create(b + "/r/a")
    c.create(b + "/r/a/b")
    c.set_data(b + "/r/a/b", b"x")
    c.set_data(b + "/r", b"y")
    c.delete(b + "/r/a/b")
    c.create(b + "/rx")            # sibling with a common string prefix: no event
    c.create(b + "/r/s", flags=2)
    w.wait_events(6, 5)
    time.sleep(0.2)
    w.ping()
    got = rel(w.events, b)
    want = [(EV.CREATED, 3, "/r/a"), (EV.CREATED, 3, "/r/a/b"), (EV.DATACHANGED, 3, "/r/a/b"),
            (EV.DATACHANGED, 3, "/r"), (EV.DELETED, 3, "/r/a/b"), (EV.CREATED, 3, "/r/s0000000001")]
    expect_eq(got, want, "recursive events (no NodeChildrenChanged)")
    # root recursive watch sees everything
    w2 = ctx.raw()
    w2.add_watch("/", 1)
    c.create(b + "/r/z")
    w2.wait_events(1, 3)
    return {"events": got, "root": rel(w2.events, b)}


@SC.add("removeWatches and checkWatches")
def _(ctx):
    c = ctx.raw()
    o = ctx.raw()
    b = ctx.base
    c.create(b)
    tr = {}
    tr["none_any"] = c.remove_watches(b, 3)
    tr["check_none"] = c.check_watches(b, 3)
    expect_eq((tr["none_any"], tr["check_none"]), (ERR.NOWATCHER, ERR.NOWATCHER), "no watch -> NoWatcher")
    c.get_data(b, watch=True)
    c.get_children(b, watch=True)
    tr["check_data"] = c.check_watches(b, 2)
    tr["check_child"] = c.check_watches(b, 1)
    tr["rm_data"] = c.remove_watches(b, 2)
    tr["rm_data_again"] = c.remove_watches(b, 2)
    tr["check_child_after"] = c.check_watches(b, 1)
    tr["rm_any"] = c.remove_watches(b, 3)
    tr["rm_any_again"] = c.remove_watches(b, 3)
    expect_eq([tr[k] for k in ("check_data", "check_child", "rm_data", "rm_data_again", "check_child_after",
                               "rm_any", "rm_any_again")], [0, 0, 0, ERR.NOWATCHER, 0, 0, ERR.NOWATCHER],
              "remove/check codes")
    # Removed watches do not fire.
    o.set_data(b, b"x")
    o.create(b + "/k")
    c.ping()
    time.sleep(0.2)
    c.ping()
    expect_eq(c.events, [], "removed watches stay silent")
    # another connection's watch is not ours to remove
    o.get_data(b, watch=True)
    tr["rm_others"] = c.remove_watches(b, 2)
    expect_eq(tr["rm_others"], ERR.NOWATCHER, "watches are per connection")
    # exists watch on a missing node counts as a data watch
    c.exists(b + "/missing", watch=True)
    tr["rm_exists_watch"] = c.remove_watches(b + "/missing", 2)
    # persistent watches: removed by type 'any' (3.8 has no type 4)
    c.add_watch(b, 0)
    tr["rm_persistent_any"] = c.remove_watches(b, 3)
    o.set_data(b, b"y")
    c.ping()
    time.sleep(0.2)
    c.ping()
    tr["events_after"] = rel(c.events, b)
    return tr


@SC.add("setWatches2 replay")
def _(ctx):
    c = ctx.raw()
    b = ctx.base
    c.create(b)
    for n in ("d1", "d2", "d3", "e2", "c1", "c2", "p", "r"):
        if n != "e2":
            c.create(b + "/" + n)
    c.create(b + "/gone")
    rel_zxid = c.exists(b)[1].mzxid
    rel_zxid = max(rel_zxid, c.call(OP.SYNC, enc.path(b)).zxid)
    # changes the replaying client "missed"
    c.set_data(b + "/d1", b"x")
    c.delete(b + "/d2")
    c.create(b + "/e1")
    c.create(b + "/c1/k")
    c.delete(b + "/gone")
    w = ctx.raw()
    err = w.set_watches2(rel_zxid, data=[b + "/d1", b + "/d2", b + "/d3"], exist=[b + "/e1", b + "/e2"],
                         child=[b + "/c1", b + "/c2", b + "/gone"], persistent=[b + "/p"], recursive=[b + "/r"])
    expect_eq(err, 0, "setWatches2")
    immediate = sorted(rel(w.events, b))
    expect_eq(immediate, sorted([(EV.DATACHANGED, 3, "/d1"), (EV.DELETED, 3, "/d2"), (EV.CREATED, 3, "/e1"),
                                 (EV.CHILDCHANGED, 3, "/c1"), (EV.DELETED, 3, "/gone")]),
              "missed changes are delivered before the reply")
    w.events.clear()
    c.set_data(b + "/d3", b"x")
    c.create(b + "/e2")
    c.create(b + "/c2/k")
    c.set_data(b + "/p", b"1")
    c.set_data(b + "/p", b"2")
    c.create(b + "/r/deep")
    c.set_data(b + "/d1", b"again")    # fired already during replay: silent
    w.wait_events(6, 5)
    time.sleep(0.2)
    w.ping()
    later = rel(w.events, b)
    expect_eq(later, [(EV.DATACHANGED, 3, "/d3"), (EV.CREATED, 3, "/e2"), (EV.CHILDCHANGED, 3, "/c2"),
                      (EV.DATACHANGED, 3, "/p"), (EV.DATACHANGED, 3, "/p"), (EV.CREATED, 3, "/r/deep")],
              "re-armed watches fire later")
    # setWatches (101, no persistent lists) with the Java client's xid
    w2 = ctx.raw()
    err = w2.set_watches(rel_zxid, data=[b + "/d1"], exist=[], child=[])
    expect_eq((err, rel(w2.events, b)), (0, [(EV.DATACHANGED, 3, "/d1")]), "setWatches (101)")
    # and with the C client's special xid -8
    w3 = ctx.raw()
    w3.send_request(OP.SETWATCHES, enc.set_watches(rel_zxid, data=[b + "/d1"]), xid=-8)
    rep = w3.read_reply()
    expect_eq((rep.xid, rep.err), (-8, 0), "setWatches with xid -8 is echoed")
    return {"immediate": immediate, "later": later}


@SC.add("unknown opcodes close the connection")
def _(ctx):
    tr = {}
    for op in (999, 0, 10, -100):
        c = ctx.raw()
        try:
            rep = c.call(op, b"")
            tr[str(op)] = ("reply", rep.err, c.wait_closed(5))
        except Closed as e:
            tr[str(op)] = ("closed", None, not e.timeout)
        expect(tr[str(op)][0] == "closed" or tr[str(op)][1] == ERR.UNIMPLEMENTED,
               "opcode %d: -6 or a close (%r)" % (op, tr[str(op)]))
        expect(tr[str(op)][2], "opcode %d: connection closed" % op)
    c = ctx.raw()
    tr["reconfig"] = c.call(OP.RECONFIG, ustr("") + ustr("") + ustr("") + i64(-1)).err
    expect(tr["reconfig"] != 0, "reconfig refused on a standalone server")
    tr["alive_after_reconfig"] = c.exists("/")[0]
    return tr


@SC.add("auth failure and lastZxidSeen ahead")
def _(ctx):
    tr = {}
    c = ctx.raw()
    tr["bad_scheme"] = c.auth("nosuch", b"x")
    expect_eq(tr["bad_scheme"], ERR.AUTHFAILED, "unknown scheme")
    tr["closed"] = c.wait_closed(5)
    expect(tr["closed"], "closed after AuthFailed")
    c = ctx.raw()
    tr["ip_auth"] = c.auth("ip", b"127.0.0.1")
    c = ctx.raw()
    zx = c.call(OP.SYNC, enc.path("/")).zxid
    # a client that has seen the future must not get a session here
    r = RawClient(ctx.srv.port, handshake=False)
    ctx.clients.append(r)
    body = b"\0\0\0\0" + i64(zx + 1000) + b"\0\0\x27\x10" + i64(0) + b"\0\0\0\x10" + b"\0" * 16 + b"\0"
    r.send_frame(body)
    try:
        f = r.recv_frame(5)
        tr["ahead"] = "answered %d bytes" % len(f)
    except Closed as e:
        tr["ahead"] = "timeout" if e.timeout else "closed"
    expect_eq(tr["ahead"], "closed", "connection ahead of the server is dropped without a response")
    # a client exactly at the server's zxid is fine
    ok = RawClient(ctx.srv.port, last_zxid=zx)
    ctx.clients.append(ok)
    tr["equal_ok"] = ok.session_id != 0
    return tr


@SC.add("error precedence")
def _(ctx):
    c = ctx.raw()
    b = ctx.base
    c.create(b)
    c.create(b + "/ro", acl=[(1, "world", "anyone")])
    c.create(b + "/e", flags=1)
    c.create(b + "/full")
    c.create(b + "/full/k")
    c.create(b + "/dig", acl=[(31,) + DIGEST_ALICE])
    tr = {}
    tr["create bad acl, missing parent"] = c.create(b + "/no/x", acl=[])[0]
    tr["create bad flags, bad path"] = c.create("bad", flags=9)[0]
    tr["create existing under readonly"] = c.create(b + "/ro", acl=[])[0]
    tr["create under readonly"] = c.create(b + "/ro/x")[0]
    tr["create existing child of readonly"] = None
    tr["create child of ephemeral existing"] = c.create(b + "/e")[0]
    tr["create child of ephemeral"] = c.create(b + "/e/x")[0]
    tr["create child of ephemeral noperm"] = None
    tr["delete missing parent bad version"] = c.delete(b + "/no/x", 5)
    tr["delete notempty badversion"] = c.delete(b + "/full", 5)
    tr["delete missing under readonly"] = c.delete(b + "/ro/x")
    tr["delete under digest noauth missing"] = c.delete(b + "/dig/x")
    tr["set missing badversion"] = c.set_data(b + "/none", b"", 5)[0]
    tr["set noauth badversion"] = c.set_data(b + "/dig", b"", 5)[0]
    tr["setacl empty acl missing"] = c.set_acl(b + "/none", [], 0)[0]
    tr["setacl noauth badversion"] = c.set_acl(b + "/dig", [(31, "world", "anyone")], 5)[0]
    tr["setacl badversion"] = c.set_acl(b + "/ro", [(31, "world", "anyone")], 5)[0]
    tr["getacl noauth"] = c.get_acl(b + "/dig")[0]
    tr["exists noauth"] = c.exists(b + "/dig")[0]
    tr["getdata noauth"] = c.get_data(b + "/dig")[0]
    tr["getchildren noauth"] = c.get_children(b + "/dig")[0]
    tr["check in multi noauth"] = c.multi([(OP.CHECK, enc.check(b + "/dig", 0))])[1][0][1]
    tr["check missing"] = c.multi([(OP.CHECK, enc.check(b + "/none", 0))])[1][0][1]
    expect_eq(tr["set missing badversion"], ERR.NONODE, "setData: node before version")
    expect_eq(tr["delete notempty badversion"], ERR.BADVERSION, "delete: version before children")
    expect_eq(tr["set noauth badversion"], ERR.NOAUTH, "setData: perm before version")
    expect_eq(tr["create under readonly"], ERR.NOAUTH, "create needs CREATE on the parent")
    return tr


@SC.add("events of a multi, dedup per connection, null data, frame limit")
def _(ctx):
    c = ctx.raw()
    w = ctx.raw()
    b = ctx.base
    c.create(b)
    c.create(b + "/a", b"1")
    c.create(b + "/b", b"2")
    w.get_data(b + "/a", True)
    w.exists(b + "/a", True)          # same node, same connection: one event
    w.get_data(b + "/b", True)
    w.get_children(b + "/b", True)    # data + child watch on a deleted node: one event
    w.get_children(b, True)
    w.exists(b + "/c", True)
    err, res = c.multi([(OP.CREATE, enc.create(b + "/c")), (OP.SETDATA, enc.set_data(b + "/a", b"x")),
                        (OP.DELETE, enc.delete(b + "/b"))])
    expect_eq(err, 0, "multi")
    w.wait_events(4, 3)
    time.sleep(0.2)
    w.ping()
    tr = {"multi_events": rel(w.events, b)}
    expect_eq(tr["multi_events"], [(EV.CREATED, 3, "/c"), (EV.CHILDCHANGED, 3, ""), (EV.DATACHANGED, 3, "/a"),
                                   (EV.DELETED, 3, "/b")], "events in op order, one per trigger per connection")
    # null data (length -1) is legal: read back as null, dataLength 0
    rep = c.call(OP.CREATE2, ustr(b + "/n") + i32(-1) + acls(OPEN_ACL) + i32(0))
    expect_eq(rep.err, 0, "create with null data")
    err, data, st = c.get_data(b + "/n")
    expect_eq((err, data, st.dataLength), (0, None, 0), "null data reads back as null")
    rep = c.call(OP.SETDATA, ustr(b + "/n") + i32(-1) + i32(-1))
    err, data, st = c.get_data(b + "/n")
    tr["set_null"] = (rep.err, data, st.version, st.dataLength)
    expect_eq(tr["set_null"], (0, None, 1, 0), "setData with null data")
    # the largest frame that fits (jute.maxbuffer 1048575) and one that does not
    err = c.create(b + "/big", b"x" * (1048576 - 200))[0]
    expect_eq(err, 0, "a value just under the frame limit")
    expect_eq(len(c.get_data(b + "/big")[1]), 1048576 - 200, "and it reads back")
    try:
        c.create(b + "/toobig", b"x" * (1048576 + 10))
        tr["over_limit"] = "answered"
    except Closed as e:
        tr["over_limit"] = "timeout" if e.timeout else "closed"
    expect_eq(tr["over_limit"], "closed", "a frame over jute.maxbuffer closes the connection")
    c2 = ctx.raw()
    expect_eq(c2.exists(b + "/toobig")[0], ERR.NONODE, "nothing created")
    # one child watch on / sees a create at the top
    w.events.clear()
    w.get_children("/", True)
    c2.create(b + "_top")
    w.wait_events(1, 3)
    expect_eq(w.events, [(EV.CHILDCHANGED, 3, "/")], "root child watch")
    return tr


@SC.add("no notifications without READ permission")
def _(ctx):
    # Apache (3.7+) checks the watcher's READ permission on the node an
    # event is about, with the ACL at the time it fires.
    c = ctx.raw()
    w = ctx.raw()
    b = ctx.base
    c.create(b)
    for n in ("n", "p", "q", "d"):
        c.create(b + "/" + n, b"1")
    w.get_data(b + "/n", True)
    w.get_children(b + "/p", True)
    w.add_watch(b + "/q", 1)
    w.exists(b + "/d", True)
    noread = [(2 | 4 | 8 | 16, "world", "anyone")]
    for n in ("n", "p", "q", "d"):
        c.set_acl(b + "/" + n, noread)
    c.set_data(b + "/n", b"2")
    c.create(b + "/p/x")
    c.set_data(b + "/q", b"z")
    c.create(b + "/q/k")      # world:anyone ALL: this one is readable
    c.delete(b + "/d")
    w.ping()
    got = rel(w.events, b)
    expect_eq(got, [(EV.CREATED, 3, "/q/k")], "only the readable node's event is delivered")
    # the dropped one-shot watch is consumed all the same
    c.set_acl(b + "/n", [(31, "world", "anyone")])
    c.set_data(b + "/n", b"3")
    w.ping()
    expect_eq(rel(w.events, b), got, "no late event after READ comes back")
    expect_eq(w.check_watches(b + "/n", 2), ERR.NOWATCHER, "the watch was consumed")
    return {"events": got}


@SC.add("pipelined requests keep the session's order")
def _(ctx):
    c = ctx.raw()
    b = ctx.base
    c.create(b, b"-1")
    # 600 requests in one burst: setData(i), getData, exists, create child i,
    # getChildren2 — never waiting; every reply must come back in order and
    # every read must see every earlier write of the same session.
    reqs = []
    burst = b""
    xid = 1000
    for i in range(120):
        for op, body in ((OP.SETDATA, enc.set_data(b, str(i).encode(), -1)),
                         (OP.GETDATA, enc.path_watch(b)),
                         (OP.EXISTS, enc.path_watch(b)),
                         (OP.CREATE, enc.create(b + "/k%03d" % i)),
                         (OP.GETCHILDREN2, enc.path_watch(b))):
            xid += 1
            reqs.append((xid, op, i))
            burst += i32(len(body) + 8) + i32(xid) + i32(op) + body
    c.send_raw(burst)
    problems = []
    last_zxid = 0
    for xid, op, i in reqs:
        rep = c.read_reply(timeout=20)
        if rep.xid != xid or rep.err != 0:
            problems.append("request %d (op %d): reply xid %d err %d" % (xid, op, rep.xid, rep.err))
            break
        if rep.zxid < last_zxid:
            problems.append("zxid went back at xid %d" % xid)
        last_zxid = rep.zxid
        r = rep.reader()
        if op == OP.GETDATA:
            d, st = r.buf(), r.stat()
            if d != str(i).encode() or st.version != i + 1:
                problems.append("getData after set %d saw %r version %d" % (i, d, st.version))
        elif op == OP.EXISTS:
            if r.stat().version != i + 1:
                problems.append("exists after set %d: stale version" % i)
        elif op == OP.GETCHILDREN2:
            kids, st = r.strvec(), r.stat()
            if len(kids) != i + 1 or st.numChildren != i + 1:
                problems.append("getChildren2 after create %d saw %d children" % (i, len(kids)))
    expect(not problems, "\n".join(problems[:5]))
    return {"ok": not problems}


@SC.add("a children list larger than a frame")
def _(ctx):
    c = ctx.raw()
    b = ctx.base
    c.create(b)
    # 9,000 children with 120-byte names: the reply (~1.1 MB) is larger than
    # jute.maxbuffer; servers send it anyway (the limit is on what they read).
    name = "n" * 114
    errs = []
    for chunk in range(0, 9000, 300):  # 300 in flight: below any server's outstanding limit
        burst = b""
        for i in range(chunk, chunk + 300):
            body = enc.create("%s/%s%05d" % (b, name, i))
            burst += i32(len(body) + 8) + i32(5000 + i) + i32(OP.CREATE) + body
        c.send_raw(burst)
        errs += [c.read_reply(timeout=30).err for _ in range(300)]
    expect(all(e == 0 for e in errs), "creates: %r" % sorted(set(errs)))
    try:
        err, kids = c.get_children(b)
        out = (err, len(kids) if kids else None)
    except Closed as e:
        out = ("timeout" if e.timeout else "closed", None)
    err, n = c.get_all_children_number(b) if out[0] != "closed" else ctx.raw().get_all_children_number(b)
    expect_eq(n, 9000, "getAllChildrenNumber")
    return {"getChildren": out}


if __name__ == "__main__":
    SC.run(extra_cfg={"tickTime": 500, "znode.container.checkIntervalMs": 500})
