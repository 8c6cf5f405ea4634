#!/usr/bin/python3
"""badinput — hostile and broken clients: garbage bytes, negative and huge
frame lengths (> 1 MiB), truncated frames, malformed records, unknown
opcodes, requests pipelined behind the handshake, an old 44-byte connect,
too many connections from one address (maxClientCnxns), many stalled
half-sent connections, and a client that never reads its replies.  After
each case the misbehaving connection must have been refused the way
Apache ZooKeeper 3.8 refuses it (closed, or an error reply), the server must
still answer ruok, and a normal client must still work.

Usage: badinput.py [apache|zkfs|both]   (default both; TAP on stdout)
"""

import os
import socket
import sys
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from zkharness import Tap, ZkServer, ServerError, kinds_from_args, four_letter  # noqa: E402
from zkraw import RawClient, OP, ERR, enc, i32, i64, buf, boolean, Closed  # noqa: E402

CONNECT = i32(0) + i64(0) + i32(10000) + i64(0) + buf(b"\0" * 16) + boolean(False)


def frame(b):
    return i32(len(b)) + b


def closed_within(sock, timeout=5.0):
    """True if the peer closes (EOF or reset) within timeout; data read is discarded."""
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            sock.settimeout(max(0.05, deadline - time.time()))
            b = sock.recv(65536)
            if not b:
                return True
    except socket.timeout:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    return False


def healthy(srv, tag):
    """None if ruok answers and a fresh client can write and read, else why not."""
    try:
        r = four_letter(srv.port, "ruok", 5)
        if r != "imok":
            return "ruok answered %r" % r
        c = RawClient(srv.port, io_timeout=5)
        p = "/health-%s-%d" % (tag, int(time.time() * 1e6))
        err = c.create(p, b"ok")[0]
        got = c.get_data(p)
        c.close()
        if err != 0 or got[0] != 0 or got[1] != b"ok":
            return "create/get failed: %r %r" % (err, got[:2])
    except Exception as e:
        return "healthy(): %s: %s" % (type(e).__name__, e)
    return None


def cases(srv):
    """(name, fn) pairs; fn returns None (pass) or a failure message."""
    port = srv.port

    def raw_sock():
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def session_sock():
        c = RawClient(port)
        return c

    def garbage_first():
        s = raw_sock()
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")   # "GET " is a length of 1.2e9
        if not closed_within(s):
            return "HTTP request not refused"
        s = raw_sock()
        s.sendall(frame(b"\xab" * 300))                      # a 300-byte ConnectRequest of junk
        return None if closed_within(s) else "junk ConnectRequest not refused"

    def negative_length():
        s = raw_sock()
        s.sendall(i32(-5) + b"x" * 20)
        return None if closed_within(s) else "negative length frame not refused"

    def huge_length():
        for n in (1048576 + 1, 0x7fffffff, 16 * 1024 * 1024):
            s = raw_sock()
            s.sendall(i32(n) + b"\0" * 1000)
            if not closed_within(s):
                return "length %d not refused" % n
        return None

    def short_connect():
        s = raw_sock()
        s.sendall(frame(b"\0" * 10))
        return None if closed_within(s) else "10-byte ConnectRequest not refused"

    def bad_passwd_len():
        s = raw_sock()
        s.sendall(frame(i32(0) + i64(0) + i32(10000) + i64(0) + i32(1000000) + b"\0" * 16))
        return None if closed_within(s) else "bad password length not refused"

    def truncated_then_close():
        s = raw_sock()
        s.sendall(i32(45) + CONNECT[:20])
        s.close()
        return None

    def truncated_and_hang():
        s = raw_sock()
        s.sendall(i32(45) + CONNECT[:20])
        h = healthy(srv, "hang")  # others are served while this one hangs
        s.close()
        return h

    def split_ruok():
        s = raw_sock()
        s.sendall(b"ru")
        time.sleep(0.3)
        s.sendall(b"ok")
        out = b""
        s.settimeout(5)
        while True:
            b = s.recv(100)
            if not b:
                break
            out += b
        return None if out == b"imok" else "split ruok answered %r" % out

    def pipelined_behind_connect():
        s = raw_sock()
        s.sendall(frame(CONNECT) + frame(i32(1) + i32(OP.EXISTS) + enc.path_watch("/", False))
                  + frame(i32(2) + i32(OP.GETCHILDREN) + enc.path_watch("/", False)))
        c = RawClient.__new__(RawClient)
        c.sock, c.rbuf, c.io_timeout, c.events, c.last_zxid = s, b"", 5, [], 0
        hs = c.recv_frame()
        if len(hs) not in (36, 37):
            return "handshake reply of %d bytes" % len(hs)
        r1, r2 = c.read_reply(), c.read_reply()
        if (r1.xid, r1.err, r2.xid, r2.err) != (1, 0, 2, 0):
            return "pipelined replies %r %r" % (r1, r2)
        s.close()
        return None

    def old_connect_44():
        s = raw_sock()
        s.sendall(frame(CONNECT[:-1]))
        c = RawClient.__new__(RawClient)
        c.sock, c.rbuf, c.io_timeout, c.events, c.last_zxid = s, b"", 5, [], 0
        hs = c.recv_frame()
        s.close()
        return None if len(hs) == 36 else "44-byte connect answered with %d bytes (want 36)" % len(hs)

    def zero_timeout_connect():
        c = RawClient(port, timeout_ms=0)
        t = c.negotiated_timeout
        c.close()
        return None if t == 4000 else "timeout 0 negotiated to %r (want 2*tickTime = 4000)" % t

    def huge_after_session():
        c = session_sock()
        c.send_raw(i32(5 * 1024 * 1024) + b"\0" * 100)
        return None if c.wait_closed(5) else "huge frame after handshake not refused"

    def negative_after_session():
        c = session_sock()
        c.send_raw(i32(-1))
        return None if c.wait_closed(5) else "negative frame after handshake not refused"

    def tiny_header():
        c = session_sock()
        c.send_frame(b"\0\0")    # shorter than a RequestHeader
        return None if c.wait_closed(5) else "2-byte request not refused"

    def malformed_record():
        # getData whose path string claims more bytes than the frame holds
        res = []
        for body in (i32(100) + b"/x", i32(-7) + b"\0", b"", i32(2000000) + b"/"):
            c = session_sock()
            try:
                rep = c.call(OP.GETDATA, body, timeout=5)
                res.append(("reply", rep.err))
                if rep.err == 0:
                    return "malformed getData %r answered OK" % body
            except Closed as e:
                if e.timeout:
                    return "malformed getData %r: no answer, not closed" % body
                res.append(("closed", None))
            c.close()
        return None

    def malformed_create_acl():
        c = session_sock()
        body = enc.path("/bad-acl") + buf(b"") + i32(5) + i32(31)  # says 5 ACLs, has a half
        try:
            rep = c.call(OP.CREATE, body, timeout=5)
            if rep.err == 0:
                return "malformed create accepted"
        except Closed as e:
            if e.timeout:
                return "no answer, not closed"
        if RawClient(port).exists("/bad-acl")[0] != ERR.NONODE:
            return "node was created"
        return None

    def malformed_multi():
        c = session_sock()
        body = i32(OP.CREATE) + boolean(False) + i32(-1) + enc.create("/mm")  # no end marker
        try:
            rep = c.call(OP.MULTI, body, timeout=5)
            if rep.err == 0 and RawClient(port).exists("/mm")[0] == 0:
                return "unterminated multi applied"
        except Closed as e:
            if e.timeout:
                return "no answer, not closed"
        return None

    def unknown_opcodes():
        for op in (77, 1000, -3):
            c = session_sock()
            try:
                rep = c.call(op, b"", timeout=5)
                if rep.err != ERR.UNIMPLEMENTED:
                    return "opcode %d answered %d" % (op, rep.err)
            except Closed as e:
                if e.timeout:
                    return "opcode %d: no answer, not closed" % op
            if not c.wait_closed(5):
                return "opcode %d: connection left open" % op
        return None

    def request_before_connect():
        s = raw_sock()
        s.sendall(frame(i32(1) + i32(OP.GETDATA) + enc.path_watch("/", False)))
        # 12 bytes is not a ConnectRequest: refused (closed), never served
        try:
            s.settimeout(5)
            b = s.recv(1000)
        except (socket.timeout, ConnectionResetError):
            b = b""
        return None if not b or closed_within(s, 3) else "request without handshake answered %r" % b[:40]

    def stalled_many():
        socks = []
        for i in range(40):
            s = raw_sock()
            s.sendall(i32(45) + b"\0")
            socks.append(s)
        h = healthy(srv, "stall")
        for s in socks:
            s.close()
        return h

    def never_reads():
        # A client that pipelines reads of a big node and never reads the replies.
        c0 = RawClient(port)
        c0.create("/big", os.urandom(900 * 1024))
        c0.close()
        s = raw_sock()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(frame(CONNECT))
        req = b"".join(frame(i32(i + 1) + i32(OP.GETDATA) + enc.path_watch("/big", False)) for i in range(300))
        s.settimeout(0.2)
        sent = 0
        deadline = time.time() + 10
        while sent < len(req) and time.time() < deadline:
            try:
                sent += s.send(req[sent:sent + 65536])
            except socket.timeout:
                pass
            except (BrokenPipeError, ConnectionResetError):
                break
        t0 = time.time()
        h = healthy(srv, "noread")
        took = time.time() - t0
        s.close()
        if h:
            return h
        if took > 5:
            return "a normal client took %.1fs while one client did not read" % took
        return healthy(srv, "noread2")

    return [
        ("garbage before the handshake", garbage_first),
        ("negative frame length", negative_length),
        ("frame length over 1 MiB", huge_length),
        ("short ConnectRequest", short_connect),
        ("bad password length in ConnectRequest", bad_passwd_len),
        ("truncated frame then close", truncated_then_close),
        ("truncated frame left hanging", truncated_and_hang),
        ("ruok split over two segments", split_ruok),
        ("requests pipelined behind the connect", pipelined_behind_connect),
        ("44-byte ConnectRequest (pre-3.4 client)", old_connect_44),
        ("session timeout 0 is clamped", zero_timeout_connect),
        ("huge frame after the handshake", huge_after_session),
        ("negative frame after the handshake", negative_after_session),
        ("request shorter than its header", tiny_header),
        ("malformed getData records", malformed_record),
        ("malformed create ACL vector", malformed_create_acl),
        ("multi without its end marker", malformed_multi),
        ("unknown opcodes", unknown_opcodes),
        ("request before any handshake", request_before_connect),
        ("40 stalled half-sent connections", stalled_many),
        ("client that never reads", never_reads),
    ]


def max_cnxns(tap, kind):
    name = "%s: maxClientCnxns=5 refuses the 6th connection" % kind
    try:
        srv = ZkServer(kind, extra_cfg={"maxClientCnxns": 5})
    except ServerError as e:
        tap.check(name, False, str(e))
        return
    with srv:
        try:
            conns = [RawClient(srv.port, io_timeout=5) for _ in range(5)]
            refused = False
            try:
                extra = RawClient(srv.port, io_timeout=5)
                refused = extra.wait_closed(3)
            except (Closed, OSError):
                refused = True
            conns[0].close()
            time.sleep(0.5)
            again = RawClient(srv.port, io_timeout=5)
            ok_again = again.exists("/")[0] == 0
            tap.check(name, refused and ok_again, "6th refused: %s, new connection after a close works: %s"
                      % (refused, ok_again))
            for c in conns[1:] + [again]:
                c.close()
        except Exception:
            tap.check(name, False, traceback.format_exc())


def main():
    tap = Tap()
    for kind in kinds_from_args():
        try:
            srv = ZkServer(kind)
        except ServerError as e:
            tap.check("%s: server start" % kind, False, str(e))
            continue
        with srv:
            for name, fn in cases(srv):
                if not srv.alive():
                    tap.check("%s: %s" % (kind, name), False, "server died earlier; log:\n" + srv.log_tail())
                    continue
                try:
                    why = fn()
                except Exception:
                    why = traceback.format_exc()
                after = healthy(srv, "after")
                tap.check("%s: %s" % (kind, name), why is None and after is None,
                          "\n".join(x for x in (why, after and "afterwards: " + after) if x))
        max_cnxns(tap, kind)
    tap.done()


if __name__ == "__main__":
    main()
