"""zkraw — a deliberately small ZooKeeper wire-protocol client for tests.

It speaks the protocol frame by frame with `struct`, so tests can reach what
kazoo 2.8 cannot (TTL and container creates, addWatch, removeWatches,
setWatches2, multiRead, getEphemerals, getAllChildrenNumber, whoAmI) and can
send things no well-behaved client would (bad lengths, unknown opcodes,
an ahead-of-server lastZxidSeen).

    c = RawClient(port)                    # connects and handshakes
    err, path, stat = c.create("/a", b"x", flags=0, op=OP.CREATE2)
    r = c.call(OP.GETDATA, enc.path_watch("/a", True))   # -> Reply
    c.events                               # notifications seen so far
    c.close()

Replies are matched by xid; notifications (xid -1) that arrive on the way
are appended to `events` as (type, state, path).
"""

import socket
import struct
import time


class OP:
    CREATE = 1
    DELETE = 2
    EXISTS = 3
    GETDATA = 4
    SETDATA = 5
    GETACL = 6
    SETACL = 7
    GETCHILDREN = 8
    SYNC = 9
    PING = 11
    GETCHILDREN2 = 12
    CHECK = 13
    MULTI = 14
    CREATE2 = 15
    RECONFIG = 16
    CHECKWATCHES = 17
    REMOVEWATCHES = 18
    CREATECONTAINER = 19
    DELETECONTAINER = 20
    CREATETTL = 21
    MULTIREAD = 22
    AUTH = 100
    SETWATCHES = 101
    SASL = 102
    GETEPHEMERALS = 103
    GETALLCHILDRENNUMBER = 104
    SETWATCHES2 = 105
    ADDWATCH = 106
    WHOAMI = 107
    CLOSE = -11
    ERROR = -1


class ERR:
    OK = 0
    SYSTEMERROR = -1
    RUNTIMEINCONSISTENCY = -2
    MARSHALLINGERROR = -5
    UNIMPLEMENTED = -6
    BADARGUMENTS = -8
    NONODE = -101
    NOAUTH = -102
    BADVERSION = -103
    NOCHILDRENFOREPHEMERALS = -108
    NODEEXISTS = -110
    NOTEMPTY = -111
    SESSIONEXPIRED = -112
    INVALIDACL = -114
    AUTHFAILED = -115
    NOWATCHER = -121


class EV:
    CREATED = 1
    DELETED = 2
    DATACHANGED = 3
    CHILDCHANGED = 4


PERM_ALL = 31
OPEN_ACL = [(31, "world", "anyone")]


# ---- encoding -------------------------------------------------------------

def i32(v):
    return struct.pack(">i", v)


def i64(v):
    return struct.pack(">q", v)


def boolean(v):
    return b"\x01" if v else b"\x00"


def buf(b):
    if b is None:
        return i32(-1)
    return i32(len(b)) + b


def ustr(s):
    if s is None:
        return i32(-1)
    b = s.encode("utf-8", "surrogatepass") if isinstance(s, str) else s
    return i32(len(b)) + b


def strvec(v):
    if v is None:
        return i32(-1)
    return i32(len(v)) + b"".join(ustr(s) for s in v)


def acls(v):
    return i32(len(v)) + b"".join(i32(p) + ustr(s) + ustr(i) for p, s, i in v)


class enc:
    """Request record encoders (bytes after the RequestHeader)."""

    @staticmethod
    def path(p):
        return ustr(p)

    @staticmethod
    def path_watch(p, watch=False):
        return ustr(p) + boolean(watch)

    @staticmethod
    def create(p, data=b"", acl=OPEN_ACL, flags=0, ttl=None):
        b = ustr(p) + buf(data) + acls(acl) + i32(flags)
        if ttl is not None:
            b += i64(ttl)
        return b

    @staticmethod
    def delete(p, version=-1):
        return ustr(p) + i32(version)

    @staticmethod
    def set_data(p, data, version=-1):
        return ustr(p) + buf(data) + i32(version)

    @staticmethod
    def set_acl(p, acl, version=-1):
        return ustr(p) + acls(acl) + i32(version)

    @staticmethod
    def check(p, version):
        return ustr(p) + i32(version)

    @staticmethod
    def path_int(p, v):
        return ustr(p) + i32(v)

    @staticmethod
    def set_watches(rel, data=(), exist=(), child=(), persistent=None, recursive=None):
        b = i64(rel) + strvec(list(data)) + strvec(list(exist)) + strvec(list(child))
        if persistent is not None:
            b += strvec(list(persistent)) + strvec(list(recursive or []))
        return b

    @staticmethod
    def auth(scheme, data):
        return i32(0) + ustr(scheme) + buf(data)

    @staticmethod
    def multi(ops):
        """ops: list of (opcode, record-bytes)."""
        b = b"".join(i32(op) + boolean(False) + i32(-1) + rec for op, rec in ops)
        return b + i32(-1) + boolean(True) + i32(-1)


# ---- decoding -------------------------------------------------------------

class Reader(object):
    def __init__(self, data, off=0):
        self.d = data
        self.o = off

    def left(self):
        return len(self.d) - self.o

    def int(self):
        v = struct.unpack_from(">i", self.d, self.o)[0]
        self.o += 4
        return v

    def long(self):
        v = struct.unpack_from(">q", self.d, self.o)[0]
        self.o += 8
        return v

    def bool(self):
        v = self.d[self.o] != 0
        self.o += 1
        return v

    def buf(self):
        n = self.int()
        if n < 0:
            return None
        v = self.d[self.o:self.o + n]
        if len(v) != n:
            raise ValueError("short buffer")
        self.o += n
        return bytes(v)

    def str(self):
        b = self.buf()
        return None if b is None else b.decode("utf-8", "surrogateescape")

    def strvec(self):
        n = self.int()
        if n < 0:
            return None
        return [self.str() for _ in range(n)]

    def stat(self):
        return Stat(*struct.unpack_from(">qqqqiiiqiiq", self.d, self._adv(68)))

    def acls(self):
        n = self.int()
        return [(self.int(), self.str(), self.str()) for _ in range(n)]

    def _adv(self, n):
        o = self.o
        if o + n > len(self.d):
            raise ValueError("short record")
        self.o += n
        return o


class Stat(tuple):
    FIELDS = ("czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion",
              "ephemeralOwner", "dataLength", "numChildren", "pzxid")

    def __new__(cls, *vals):
        return tuple.__new__(cls, vals)

    def __getattr__(self, name):
        try:
            return self[Stat.FIELDS.index(name)]
        except ValueError:
            raise AttributeError(name)

    def asdict(self):
        return dict(zip(Stat.FIELDS, self))


class Reply(object):
    def __init__(self, xid, zxid, err, body):
        self.xid, self.zxid, self.err, self.body = xid, zxid, err, body

    def reader(self):
        return Reader(self.body)

    def __repr__(self):
        return "Reply(xid=%d, zxid=%#x, err=%d, %d bytes)" % (self.xid, self.zxid, self.err, len(self.body))


class Closed(Exception):
    """The server closed the connection (or it timed out: .timeout True)."""

    def __init__(self, msg, timeout=False):
        Exception.__init__(self, msg)
        self.timeout = timeout


def parse_multi(body):
    """MultiResponse -> list of (type, err, value): value is a path for
    create, (path, stat) for create2, Stat for setData, (data, stat) for
    getData, children list for getChildren, None otherwise."""
    r = Reader(body)
    out = []
    while True:
        typ, done, err = r.int(), r.bool(), r.int()
        if done:
            break
        if typ == OP.ERROR:
            out.append((typ, r.int(), None))
        elif typ == OP.CREATE:
            out.append((typ, err, r.str()))
        elif typ == OP.CREATE2:
            out.append((typ, err, (r.str(), r.stat())))
        elif typ == OP.SETDATA:
            out.append((typ, err, r.stat()))
        elif typ == OP.GETDATA:
            out.append((typ, err, (r.buf(), r.stat())))
        elif typ == OP.GETCHILDREN:
            out.append((typ, err, r.strvec()))
        else:
            out.append((typ, err, None))
    return out


# ---- the connection -------------------------------------------------------

class RawClient(object):
    def __init__(self, port, host="127.0.0.1", timeout_ms=10000, session_id=0,
                 passwd=b"\0" * 16, last_zxid=0, read_only=False, handshake=True,
                 io_timeout=10.0, ssl_context=None):
        self.sock = socket.create_connection((host, port), timeout=io_timeout)
        if ssl_context is not None:  # TLS (tests/compat/tls.py): handshake now
            self.sock = ssl_context.wrap_socket(self.sock, server_hostname=host)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.io_timeout = io_timeout
        self.rbuf = b""
        self.xid = 0
        self.events = []
        self.session_id = None
        self.passwd = None
        self.negotiated_timeout = None
        self.last_zxid = last_zxid
        if handshake:
            self.connect(timeout_ms, session_id, passwd, last_zxid, read_only)

    # -- framing
    def send_raw(self, data):
        try:
            self.sock.sendall(data)
        except (ConnectionResetError, BrokenPipeError) as e:
            # the server may close while a big frame is still going out
            raise Closed("closed while sending: %s" % e)

    def send_frame(self, payload):
        self.send_raw(i32(len(payload)) + payload)

    def _fill(self, n, deadline):
        while len(self.rbuf) < n:
            t = deadline - time.time()
            if t <= 0:
                raise Closed("timed out", timeout=True)
            self.sock.settimeout(t)
            try:
                b = self.sock.recv(65536)
            except socket.timeout:
                raise Closed("timed out", timeout=True)
            except (ConnectionResetError, BrokenPipeError) as e:
                raise Closed("reset: %s" % e)
            if not b:
                raise Closed("closed by server")
            self.rbuf += b

    def recv_frame(self, timeout=None):
        deadline = time.time() + (self.io_timeout if timeout is None else timeout)
        self._fill(4, deadline)
        n = struct.unpack(">i", self.rbuf[:4])[0]
        if n < 0 or n > 64 * 1024 * 1024:
            raise ValueError("bad frame length %d from server" % n)
        self._fill(4 + n, deadline)
        frame, self.rbuf = self.rbuf[4:4 + n], self.rbuf[4 + n:]
        return frame

    def wait_closed(self, timeout=5.0):
        """True if the server closes the connection within timeout (frames are dropped)."""
        try:
            while True:
                self.recv_frame(timeout)
        except Closed as e:
            return not e.timeout

    # -- handshake
    def connect(self, timeout_ms=10000, session_id=0, passwd=b"\0" * 16, last_zxid=0, read_only=False):
        body = i32(0) + i64(last_zxid) + i32(timeout_ms) + i64(session_id) + buf(passwd) + boolean(read_only)
        self.send_frame(body)
        r = Reader(self.recv_frame())
        r.int()  # protocolVersion
        self.negotiated_timeout, self.session_id = r.int(), r.long()
        self.passwd = r.buf()
        self.read_only = r.bool() if r.left() else None
        return self.negotiated_timeout, self.session_id, self.passwd

    # -- requests
    def next_xid(self):
        self.xid += 1
        return self.xid

    def send_request(self, op, body=b"", xid=None):
        xid = self.next_xid() if xid is None else xid
        self.send_frame(i32(xid) + i32(op) + body)
        return xid

    def read_reply(self, timeout=None):
        """Next non-notification reply (notifications go to self.events)."""
        while True:
            f = self.recv_frame(timeout)
            r = Reader(f)
            xid, zxid, err = r.int(), r.long(), r.int()
            if xid == -1:
                self.events.append((r.int(), r.int(), r.str()))
                continue
            if zxid > self.last_zxid:
                self.last_zxid = zxid
            return Reply(xid, zxid, err, f[16:])

    def call(self, op, body=b"", xid=None, timeout=None):
        xid = self.send_request(op, body, xid)
        rep = self.read_reply(timeout)
        if rep.xid != xid:
            raise ValueError("reply xid %d for request xid %d" % (rep.xid, xid))
        return rep

    def wait_events(self, n, timeout=5.0):
        """Read until at least n events are in self.events (pings keep the session alive)."""
        deadline = time.time() + timeout
        while len(self.events) < n and time.time() < deadline:
            try:
                self.ping(timeout=max(0.05, min(0.3, deadline - time.time())))
            except Closed as e:
                if not e.timeout:
                    raise
        return self.events

    def ping(self, timeout=None):
        self.send_frame(i32(-2) + i32(OP.PING))
        while True:
            rep = self.read_reply(timeout)
            if rep.xid == -2:
                return rep

    def close(self, session=True):
        try:
            if session and self.session_id:
                self.call(OP.CLOSE, timeout=5)
        except (Closed, OSError, ValueError):
            pass
        finally:
            try:
                self.sock.close()
            except OSError:
                pass

    # -- typed helpers: each returns (err, value...)
    def create(self, path, data=b"", flags=0, acl=OPEN_ACL, ttl=None, op=None):
        """-> (err, path, stat or None).  op defaults to CREATETTL when ttl is
        given, CREATECONTAINER for flags 4, else CREATE2."""
        if op is None:
            op = OP.CREATETTL if ttl is not None else (OP.CREATECONTAINER if flags == 4 else OP.CREATE2)
        rep = self.call(op, enc.create(path, data, acl, flags, ttl))
        if rep.err:
            return rep.err, None, None
        r = rep.reader()
        p = r.str()
        st = r.stat() if op != OP.CREATE else None
        return 0, p, st

    def delete(self, path, version=-1):
        return self.call(OP.DELETE, enc.delete(path, version)).err

    def exists(self, path, watch=False):
        rep = self.call(OP.EXISTS, enc.path_watch(path, watch))
        return rep.err, (rep.reader().stat() if rep.err == 0 else None)

    def get_data(self, path, watch=False):
        rep = self.call(OP.GETDATA, enc.path_watch(path, watch))
        if rep.err:
            return rep.err, None, None
        r = rep.reader()
        return 0, r.buf(), r.stat()

    def set_data(self, path, data, version=-1):
        rep = self.call(OP.SETDATA, enc.set_data(path, data, version))
        return rep.err, (rep.reader().stat() if rep.err == 0 else None)

    def get_children(self, path, watch=False):
        rep = self.call(OP.GETCHILDREN, enc.path_watch(path, watch))
        return rep.err, (rep.reader().strvec() if rep.err == 0 else None)

    def get_children2(self, path, watch=False):
        rep = self.call(OP.GETCHILDREN2, enc.path_watch(path, watch))
        if rep.err:
            return rep.err, None, None
        r = rep.reader()
        return 0, r.strvec(), r.stat()

    def get_acl(self, path):
        rep = self.call(OP.GETACL, enc.path(path))
        if rep.err:
            return rep.err, None, None
        r = rep.reader()
        return 0, r.acls(), r.stat()

    def set_acl(self, path, acl, version=-1):
        rep = self.call(OP.SETACL, enc.set_acl(path, acl, version))
        return rep.err, (rep.reader().stat() if rep.err == 0 else None)

    def sync(self, path):
        rep = self.call(OP.SYNC, enc.path(path))
        return rep.err, (rep.reader().str() if rep.err == 0 else None)

    def multi(self, ops, op=OP.MULTI):
        rep = self.call(op, enc.multi(ops))
        return rep.err, (parse_multi(rep.body) if rep.err == 0 else None)

    def add_watch(self, path, mode):
        rep = self.call(OP.ADDWATCH, enc.path_int(path, mode))
        return rep.err

    def remove_watches(self, path, wtype):
        return self.call(OP.REMOVEWATCHES, enc.path_int(path, wtype)).err

    def check_watches(self, path, wtype):
        return self.call(OP.CHECKWATCHES, enc.path_int(path, wtype)).err

    def get_ephemerals(self, prefix):
        rep = self.call(OP.GETEPHEMERALS, enc.path(prefix))
        return rep.err, (rep.reader().strvec() if rep.err == 0 else None)

    def get_all_children_number(self, path):
        rep = self.call(OP.GETALLCHILDRENNUMBER, enc.path(path))
        return rep.err, (rep.reader().int() if rep.err == 0 else None)

    def whoami(self):
        rep = self.call(OP.WHOAMI)
        if rep.err:
            return rep.err, None
        r = rep.reader()
        n = r.int()
        return 0, [(r.str(), r.str()) for _ in range(n)]

    def auth(self, scheme, data):
        """AuthPacket with xid -4; -> err (the server closes on failure)."""
        self.send_frame(i32(-4) + i32(OP.AUTH) + enc.auth(scheme, data))
        rep = self.read_reply()
        return rep.err

    def set_watches2(self, rel, data=(), exist=(), child=(), persistent=(), recursive=()):
        return self.call(OP.SETWATCHES2, enc.set_watches(rel, data, exist, child, persistent, recursive)).err

    def set_watches(self, rel, data=(), exist=(), child=()):
        return self.call(OP.SETWATCHES, enc.set_watches(rel, data, exist, child)).err
