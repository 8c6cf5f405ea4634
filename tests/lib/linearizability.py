"""linearizability — a checker for histories of a register-per-key model,
the one a ZooKeeper client sees on a few znodes.

The search is Wing & Gong's, with Lowe's improvements ("Testing for
linearizability", 2017) as Porcupine uses them: the history is a doubly
linked list of call and return entries in time order; the search linearizes
the first call it can (the model allows it and the pair (set of ops
linearized, model state) was not seen before), lifting that op's entries out
of the list and restarting from the head; meeting a return entry means an
op that had to be linearized by then was not, so the search backtracks.
Keys are independent (P-compositionality): each key's sub-history is checked
on its own.

The model: each key is absent (None) or holds (value, version).  Values
written are unique per op, so a read names the write it saw.

    read     sync + getData      result: (value, version), or None (NoNode)
    write    setData version -1  ok: result = new version (or None if not known);
                                 fail 'nonode'
    cas      setData version v   ok: new version (= v + 1); fail 'badversion' | 'nonode'
    create   create if absent    ok: version 0; fail 'exists'
    delete   delete version v    ok; fail 'badversion' | 'nonode'   (v = -1: any)

An op's outcome is 'ok', 'fail' (a definite answer that changed nothing) or
'unknown' (timeout, connection loss, session expiry): an unknown op may take
effect once at any moment after its invocation, or never, so it has no
return entry and the search need not linearize it.  An unknown read
constrains nothing and is dropped.

    ops = [Op(0, "k", "write", "a", invoke=1, ret=2, outcome="ok", result=1), ...]
    res = check(ops, init={"k": ("", 0)})
    res.ok                 True / False / None (search budget exhausted)
    res.explain()          for a failure: the op that cannot be placed, and
                           what the longest linearizable prefix saw
"""

import collections

READ, WRITE, CAS, CREATE, DELETE = "read", "write", "cas", "create", "delete"
_DEAD = object()  # stands for any value no read saw (see check_key)
OK, FAIL, UNKNOWN = "ok", "fail", "unknown"


class Op(object):
    """One operation of a history.

    client: who issued it (for messages); key; kind (READ, WRITE, ...);
    value: what a write/cas/create writes; version: the expected version of
    cas/delete; invoke, ret: times (any comparable numbers, ret None if
    unknown); outcome: OK/FAIL/UNKNOWN; result: see the module docstring."""

    __slots__ = ("client", "key", "kind", "value", "version", "invoke", "ret", "outcome", "result", "id",
                 "server")

    def __init__(self, client, key, kind, value=None, version=-1, invoke=0, ret=None,
                 outcome=OK, result=None):
        self.client, self.key, self.kind, self.value, self.version = client, key, kind, value, version
        self.invoke, self.ret, self.outcome, self.result = invoke, ret, outcome, result
        self.id = None
        self.server = None  # where it was sent, if known (for messages only)
        if outcome == UNKNOWN:
            self.ret = None

    def __repr__(self):
        arg = ""
        if self.kind in (WRITE, CREATE):
            arg = "(%r)" % (self.value,)
        elif self.kind == CAS:
            arg = "(%r, v%d)" % (self.value, self.version)
        elif self.kind == DELETE:
            arg = "(v%d)" % self.version
        res = self.outcome
        if self.outcome == OK and self.kind == READ:
            res = "-> %r" % (self.result,)
        elif self.outcome == OK and self.result is not None:
            res = "ok v%r" % (self.result,)
        elif self.outcome == FAIL:
            res = "fail %s" % (self.result,)
        ret = "?" if self.ret is None else "%.6f" % self.ret if isinstance(self.ret, float) else self.ret
        return "c%s %s %s%s %s [%s..%s]%s" % (self.client, self.key, self.kind, arg, res, self.invoke, ret,
                                              " @" + self.server if self.server else "")


def step(state, op):
    """The model: (legal, new_state) for op applied to state (None = absent,
    else (value, version)).  Unknown ops take whichever branch the state
    gives them (the server would have answered accordingly)."""
    kind, out, res = op.kind, op.outcome, op.result
    if kind == READ:
        return (res == state), state
    if kind == WRITE:
        if state is None:
            return (out != OK and (out == UNKNOWN or res == "nonode")), state
        if out == FAIL:
            return False, state
        nv = state[1] + 1
        if out == OK and res is not None and res != nv:
            return False, state
        return True, (op.value, nv)
    if kind == CAS:
        if state is None:
            return (out == UNKNOWN or (out == FAIL and res == "nonode")), state
        if state[1] != op.version:
            return (out == UNKNOWN or (out == FAIL and res == "badversion")), state
        if out == FAIL:
            return False, state
        if out == OK and res is not None and res != op.version + 1:
            return False, state
        return True, (op.value, op.version + 1)
    if kind == CREATE:
        if state is not None:
            return (out == UNKNOWN or (out == FAIL and res == "exists")), state
        if out == FAIL:
            return False, state
        return True, (op.value, 0)
    if kind == DELETE:
        if state is None:
            return (out == UNKNOWN or (out == FAIL and res == "nonode")), state
        if op.version != -1 and state[1] != op.version:
            return (out == UNKNOWN or (out == FAIL and res == "badversion")), state
        if out == FAIL:
            return False, state
        return True, None
    raise ValueError("unknown op kind %r" % kind)


class KeyResult(object):
    def __init__(self, key, ok, ops, steps, stuck=None, prefix=None, prefix_state=None, why=""):
        self.key, self.ok, self.ops, self.steps = key, ok, ops, steps
        self.stuck, self.prefix, self.prefix_state, self.why = stuck, prefix, prefix_state, why
        self.needy, self.need = [], None

    def explain(self, context=8):
        if self.ok:
            return "key %r: linearizable (%d ops, %d steps)" % (self.key, len(self.ops), self.steps)
        if self.ok is None:
            return "key %r: undecided, %s (%d ops, %d steps)" % (self.key, self.why, len(self.ops), self.steps)
        lines = ["key %r: NOT linearizable (%d ops, %d search steps)" % (self.key, len(self.ops), self.steps)]
        if self.stuck is not None:
            lines.append("  no order places this op: %r" % (self.stuck,))
            for o in self.needy:
                lines.append("  it cannot go first: this op needs %s, which it would leave behind: %r"
                             % ("the key absent" if self.need < 0 else "version %d" % self.need, o))
            lines.append("  the longest linearizable prefix (%s ops) ends in state %r; its last ops:"
                         % (self.why, self.prefix_state))
            for o in self.prefix[-context:]:
                lines.append("    %r" % (o,))
            conc = [o for o in self.ops if o is not self.stuck and o.invoke <= (self.stuck.ret or 0)
                    and (o.ret is None or o.ret >= self.stuck.invoke)]
            lines.append("  ops concurrent with it (%d):" % len(conc))
            for o in conc[:context]:
                lines.append("    %r" % (o,))
            # what came after it: the op that contradicts it is usually here
            # (a read that missed it, a second write claiming its version)
            end = self.stuck.ret if self.stuck.ret is not None else self.stuck.invoke
            after = sorted((o for o in self.ops if o.invoke > end), key=lambda o: o.invoke)
            lines.append("  the first ops begun after it returned (%d of %d):"
                         % (min(len(after), 2 * context), len(after)))
            for o in after[:2 * context]:
                lines.append("    %r" % (o,))
        return "\n".join(lines)


class Result(object):
    """ok: True if every key is linearizable, False if one is not, None if
    no key failed but the search budget ran out on one."""

    def __init__(self, per_key):
        self.per_key = per_key
        if any(r.ok is False for r in per_key.values()):
            self.ok = False
        elif any(r.ok is None for r in per_key.values()):
            self.ok = None
        else:
            self.ok = True

    @property
    def bad_keys(self):
        return [k for k, r in self.per_key.items() if r.ok is False]

    def explain(self):
        return "\n".join(r.explain() for r in self.per_key.values() if r.ok is not True) or "linearizable"

    def summary(self):
        n = sum(len(r.ops) for r in self.per_key.values())
        return "%d ops on %d keys, %d search steps: %s" % (
            n, len(self.per_key), sum(r.steps for r in self.per_key.values()),
            {True: "linearizable", False: "NOT linearizable", None: "undecided"}[self.ok])


def check_key(key, ops, init=None, max_steps=5000000):
    """Check one key's ops (unknown reads are dropped).  Returns a KeyResult."""
    ops = [o for o in ops if not (o.kind == READ and o.outcome == UNKNOWN)]
    for i, o in enumerate(ops):
        o.id = i
    n = len(ops)
    # Unknown ops whose value no op ever saw ("dead": a delete has no
    # value) are interchangeable with others of the same kind and expected
    # version: which of them took effect cannot matter later, only how many.
    # The memo counts them per class instead of naming them, and a dead
    # value in the state is replaced by one marker, so the search does not
    # try every subset of them (Lowe's memo alone would, failing histories
    # with many timeouts then take exponential time).
    seen = set()
    if init is not None:
        seen.add(init[0])
    for o in ops:
        if o.kind == READ and isinstance(o.result, tuple):
            seen.add(o.result[0])
    classes = {}
    bit = [0] * n   # the op's bit in the memo set (0 for dead ops)
    cls = [-1] * n  # the dead op's class
    dead_values = set()
    nbits = 0
    for o in ops:
        if o.outcome == UNKNOWN and (o.kind == DELETE or o.value not in seen):
            cls[o.id] = classes.setdefault((o.kind, o.version), len(classes))
            if o.kind != DELETE:
                dead_values.add(o.value)
        else:
            bit[o.id] = 1 << nbits
            nbits += 1
    counts = [0] * len(classes)

    def canon(st):
        if st is not None and st[0] in dead_values:
            return (_DEAD, st[1])
        return st
    # Entries: index 0 is the head sentinel; entry e = 1 + 2*i is op i's
    # call, 2 + 2*i its return (only linked when the op returned).
    events = []
    for o in ops:
        events.append((o.invoke, 0, 1 + 2 * o.id))
        if o.ret is not None:
            # A call at the same instant as a return counts as concurrent
            # with it: calls sort first (the permissive reading of a tie).
            events.append((o.ret, 1, 2 + 2 * o.id))
    events.sort()
    size = 2 * n + 2
    nxt = [0] * size
    prv = [0] * size
    prev = 0
    for _, _, e in events:
        nxt[prev] = e
        prv[e] = prev
        prev = e
    nxt[prev] = -1
    returns_left = sum(1 for o in ops if o.ret is not None)

    def lift(e):  # e = a call entry; unlink it and its return
        p, q = prv[e], nxt[e]
        nxt[p] = q
        if q != -1:
            prv[q] = p
        r = e + 1
        if ops[(e - 1) // 2].ret is not None:
            p, q = prv[r], nxt[r]
            nxt[p] = q
            if q != -1:
                prv[q] = p
            return 1
        return 0

    def unlift(e):  # reverse of lift (return first: it was unlinked last)
        r = e + 1
        back = 0
        if ops[(e - 1) // 2].ret is not None:
            nxt[prv[r]] = r
            if nxt[r] != -1:
                prv[nxt[r]] = r
            back = 1
        nxt[prv[e]] = e
        if nxt[e] != -1:
            prv[nxt[e]] = e
        return back

    # Without deletes a key's version only grows (and it never becomes
    # absent again), so a state whose version is past what some op still
    # to be placed requires (a read's version, an ok setData's version - 1,
    # an ok conditional setData's expected version; -1 for "absent") is a
    # dead end: prune it at once.  This keeps unknown writes, which may be
    # placed anywhere, from spawning long chains of doomed version bumps.
    monotone = not any(o.kind == DELETE for o in ops)
    req = [None] * n
    for o in ops:
        if o.ret is None:
            continue
        if o.kind == READ:
            req[o.id] = -1 if o.result is None else o.result[1]
        elif o.kind == CREATE and o.outcome == OK:
            req[o.id] = -1
        elif o.outcome == FAIL and o.result == "nonode":
            req[o.id] = -1
        elif o.kind == WRITE and o.outcome == OK and o.result is not None:
            req[o.id] = o.result - 1
        elif o.kind == CAS and o.outcome == OK:
            req[o.id] = o.version
    maxreq = max([r for r in req if r is not None] + [0])
    reqcnt = [0] * (maxreq + 3)  # index v + 1; the last slot is "none left"
    for r in req:
        if r is not None:
            reqcnt[r + 1] += 1
    minreq = [0]  # index into reqcnt of the smallest requirement left

    def req_del(i):
        r = req[i]
        if r is not None:
            reqcnt[r + 1] -= 1
            m = minreq[0]
            while reqcnt[m] == 0 and m < maxreq + 2:
                m += 1
            minreq[0] = m

    def req_add(i):
        r = req[i]
        if r is not None:
            reqcnt[r + 1] += 1
            if r + 1 < minreq[0]:
                minreq[0] = r + 1

    m = 0
    while reqcnt[m] == 0 and m < maxreq + 2:
        m += 1
    minreq[0] = m

    state = init
    linearized = 0
    cache = set()
    stack = []  # (call entry, state before)
    best_len, best = -1, None
    steps = 0
    e = nxt[0]
    while returns_left > 0:
        steps += 1
        if steps > max_steps:
            return KeyResult(key, None, ops, steps, why="search budget of %d steps exhausted" % max_steps)
        if e != -1 and e & 1:  # a call
            op = ops[(e - 1) // 2]
            legal, new = step(state, op)
            # An unknown op that would change nothing here is better left
            # unplaced: that keeps every later choice open (it need never be
            # placed), and placing it would only multiply the memo's sets.
            if legal and not (op.ret is None and new == state):
                req_del(op.id)
                if monotone and minreq[0] - 1 < (-1 if new is None else new[1]):
                    req_add(op.id)  # some op left needs an older version
                    e = nxt[e]
                    continue
                lin = linearized | bit[op.id]
                k = cls[op.id]
                if k >= 0:
                    counts[k] += 1
                memo = (lin, tuple(counts), canon(new))
                if memo not in cache:
                    cache.add(memo)
                    stack.append((e, state))
                    state, linearized = new, lin
                    returns_left -= lift(e)
                    e = nxt[0]
                    continue
                if k >= 0:
                    counts[k] -= 1
                req_add(op.id)
            e = nxt[e]
        else:  # a return entry: its op had to be placed by now
            if len(stack) > best_len:  # remember the deepest point (its last ops only: cheap)
                best_len = len(stack)
                best = ([ops[(c - 1) // 2] for c, _ in stack[-12:]], state,
                        ops[(e - 2) // 2] if e != -1 else None, minreq[0] - 1)
            if not stack:
                break
            c, state = stack.pop()
            i = (c - 1) // 2
            req_add(i)
            linearized &= ~bit[i]
            if cls[i] >= 0:
                counts[cls[i]] -= 1
            returns_left += unlift(c)
            e = nxt[c]
    if returns_left == 0:
        return KeyResult(key, True, ops, steps)
    prefix, pstate, stuck, need = best if best else ([], init, None, None)
    kr = KeyResult(key, False, ops, steps, stuck=stuck, prefix=prefix, prefix_state=pstate, why=str(best_len))
    if monotone and need is not None and need <= maxreq:
        # the ops that the version bump of placing `stuck` would strand
        after = prefix[0].invoke if prefix else None
        kr.needy = [o for o in ops if req[o.id] == need and (after is None or (o.ret or 0) >= after)][:3]
        kr.need = need
    return kr


def check(ops, init=None, max_steps=5000000):
    """Check a whole history, key by key.  init: dict key -> initial state
    (default: every key absent).  Returns a Result."""
    by_key = collections.OrderedDict()
    for o in ops:
        by_key.setdefault(o.key, []).append(o)
    init = init or {}
    return Result(collections.OrderedDict(
        (k, check_key(k, v, init.get(k), max_steps)) for k, v in by_key.items()))


def without_reads_at(ops, servers):
    """The history minus the reads served by the given servers (op.server),
    for telling apart an anomaly in those servers' reads from one in the
    writes: if the rest is linearizable, every write and every other
    server's read fits one order, and only those reads were stale."""
    servers = set(servers)
    return [o for o in ops if not (o.kind == READ and o.server in servers)]

