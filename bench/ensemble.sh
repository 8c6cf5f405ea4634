#!/bin/bash
# bench/ensemble.sh — a 3-server zkfs ensemble against a 3-server Apache
# ZooKeeper 3.8 ensemble on this machine, one ensemble running at a time.
# Every member listens on 127.0.0.1 (distinct ports), keeps its data in a
# temp dir on the same disk, fsyncs, and has the same zoo.cfg for both
# kinds (tickTime BENCH_ENS_TICK, initLimit=10, syncLimit=5,
# admin.enableServer=false, 4lw.commands.whitelist=*).  Clients talk to a
# follower (found with srvr, "Mode: follower"), as most clients of a real
# ensemble do.
#
# Measures, for each kind:
#   throughput and latency through the lean client (build/bench/rawgen) on
#     one follower: setData 16 sessions x 16 outstanding, getData 8 x 64,
#     setData from one synchronous session
#   fail-over: a kazoo client (/usr/bin/python3) connected to the two
#     followers writes in a loop; the leader is killed with SIGKILL; the time
#     from the kill to the ack of the first write begun after it.
#     BENCH_ENS_KILLS rounds, the killed server restarted on its data and the
#     ensemble settled in between; p50 and max
#   memory: RSS growth of a follower per znode while BENCH_NODES 100-byte
#     znodes are created through it (compared with a standalone zkfs-server
#     loaded the same way, as bench/run measures it)
#   rejoin: a follower stopped, its dataDir wiped (myid kept), started
#     again: time from its launch until it serves the last of those znodes
# and, once, the disk's own floor for a replicated write (bench/diskfloor.c:
# one write + fdatasync alone, and the 2nd of 3 begun together)
# and prints a table (markdown, for the README): zkfs, ZooKeeper, the ratio,
# the target, pass/fail.
#
# Environment (the same knobs as bench/run): B (build dir, default build),
# BENCH_NODES (default 1000000), BENCH_SECS (seconds per throughput run,
# default 5), BENCH_WARMUP (unmeasured seconds at the start of each run,
# default 2), BENCH_TMP (where the data dirs go, default /var/tmp),
# BENCH_KINDS ("apache zkfs"), BENCH_JVMFLAGS (JVM flags for Apache,
# default none); and BENCH_ENS_LOAD_BATCH (creates per multi when loading,
# default 100), BENCH_ENS_KILLS (fail-over rounds per kind, default 3),
# BENCH_ENS_TICK (tickTime, default 500), BENCH_ENS_APACHE_REJOIN (0 skips
# Apache's load, memory and rejoin rows, the slowest part of the run).
# Raw rawgen/loadgen lines go to $B/bench/ensemble-results.txt, the
# members' logs to $B/bench/ensemble-logs/.
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
NODES=${BENCH_NODES:-1000000}
WARM=${BENCH_WARMUP:-2}
KINDS=${BENCH_KINDS:-apache zkfs}
# Creates per multi when loading BENCH_NODES znodes: 100, not bench/run's 1,
# so that a million fit in this section's time on a shared 2-core machine
# (Apache's ensemble makes a few thousand plain creates a second); the
# standalone reference is loaded the same way.
LOAD_BATCH=${BENCH_ENS_LOAD_BATCH:-100}
KILLS=${BENCH_ENS_KILLS:-3}
TICK=${BENCH_ENS_TICK:-500}
APACHE_REJOIN=${BENCH_ENS_APACHE_REJOIN:-1}
KEYSPACE=10000
N=3
RESULTS=$B/bench/ensemble-results.txt
LOGS=$B/bench/ensemble-logs
PY=/usr/bin/python3
# The stock JVM for Apache, as in bench/run; slf4j-simple first so that it logs.
JVMFLAGS=${BENCH_JVMFLAGS:-}
APACHE_CP="/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar:/usr/share/java/*"
export ZK_OWNER_PID=$$ ZK_JVMFLAGS=$JVMFLAGS

DISKFLOOR=$B/bench/diskfloor
for g in "$LOADGEN" "$RAWGEN" "$DISKFLOOR" "$B/zkfs-server"; do
	[ -x "$g" ] || { echo "bench/ensemble.sh: $g missing (make bench builds it)" >&2; exit 1; }
done
"$PY" -c 'import kazoo' 2>/dev/null || { echo "bench/ensemble.sh: kazoo missing for $PY" >&2; exit 1; }
mkdir -p "$(dirname "$RESULTS")"
: >"$RESULTS"
rm -rf "$LOGS"

log() { echo "ensemble: $*" >&2; }

# ---- processes -------------------------------------------------------------
# Every server this script starts has its pid in $ENS/<i>/pid (members) or
# is a tests/lib/zkserver server in STANDALONE; cleanup kills them by pid.
ENS=""        # the current ensemble's directory
KIND=""       # and its kind
STANDALONE="" # the standalone zkfs-server's directory
TMPDIRS=()
CRASHES=0
declare -a CP QP EP # per member: client, quorum, election port

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# stop_member I [SIG] — SIGTERM (or SIG), SIGKILL after 10 s; waits until gone.
stop_member() {
	local i=$1 sig=${2:-TERM} pid k
	pid=$(cat "$ENS/$i/pid" 2>/dev/null) || return 0
	rm -f "$ENS/$i/pid"
	alive "$pid" || return 0
	kill "-$sig" "$pid" 2>/dev/null
	for ((k = 0; k < 100; k++)); do
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		log "$KIND member $i ignored SIG$sig for 10 s: SIGKILL"
		kill -9 "$pid" 2>/dev/null
		sleep 0.2
	elif [ "$KIND" = zkfs ] && [ "$sig" = TERM ] && ! tail -n 3 "$ENS/$i/server.log" | grep -q 'shut down at'; then
		# zkfs-server logs "shut down at zxid ..." as the last thing it does
		log "zkfs member $i ended on SIGTERM without its 'shut down at' line (crashed?)"
		CRASHES=$((CRASHES + 1))
	fi
}

# stop_ensemble — stops the members; their logs are kept in $LOGS.
stop_ensemble() {
	local i
	[ -n "$ENS" ] || return 0
	for i in $(seq $N); do stop_member "$i"; done
	mkdir -p "$LOGS"
	for i in $(seq $N); do cp "$ENS/$i/server.log" "$LOGS/$KIND-$i.log" 2>/dev/null; done
}

cleanup() {
	local d
	stop_ensemble
	[ -n "$STANDALONE" ] && "$ZKSERVER" stop "$STANDALONE" >/dev/null 2>&1
	for d in "${TMPDIRS[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# watchdog PID — kills PID once this script is gone (even by SIGKILL).
watchdog() {
	local pid=$1 owner=$$
	(
		while sleep 1; do
			alive "$pid" || exit 0
			alive "$owner" || { kill -9 "$pid"; exit 0; }
		done
	) >/dev/null 2>&1 </dev/null &
	disown
}

# launch_member I — starts member I of the current ensemble on its data.
launch_member() {
	local i=$1 dir=$ENS/$1 pid
	echo "=== $(date -u +%FT%T) start" >>"$dir/server.log"
	if [ "$KIND" = zkfs ]; then
		setsid "$B/zkfs-server" "$dir/zoo.cfg" >>"$dir/server.log" 2>&1 </dev/null &
	else
		# shellcheck disable=SC2086
		setsid java $JVMFLAGS -Dzookeeper.log.dir="$dir" -Dorg.slf4j.simpleLogger.showDateTime=true \
			-cp "$APACHE_CP" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
			>>"$dir/server.log" 2>&1 </dev/null &
	fi
	pid=$!
	disown "$pid" # its end is stop_member's business, not bash's job reports
	echo "$pid" >"$dir/pid"
	watchdog "$pid"
}

# four PORT CMD — a four-letter word's answer
four() {
	timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1; printf "%s" "$2" >&3; cat <&3' _ "$1" "$2" 2>/dev/null
}
mode() { four "${CP[$1]}" srvr | sed -n 's/^Mode: //p'; }
node_count() { # PORT — srvr's node count (retried for 20 s: a busy JVM may not answer)
	local c k
	for ((k = 0; k < 20; k++)); do
		c=$(four "$1" srvr | sed -n 's/^Node count: //p')
		[ -n "$c" ] && { echo "$c"; return 0; }
		sleep 1
	done
	return 1
}

free_ports() { # COUNT — that many distinct free loopback ports
	"$PY" -c 'import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}

# start_ensemble KIND — writes the members' zoo.cfg and myid, starts them.
start_ensemble() {
	local i j ports
	KIND=$1
	ENS=$(mktemp -d "$TMPBASE/zkbench-ens-$KIND-XXXXXX")
	TMPDIRS+=("$ENS")
	read -r -a ports <<<"$(free_ports $((3 * N)))"
	for i in $(seq $N); do
		CP[i]=${ports[3 * (i - 1)]} QP[i]=${ports[3 * (i - 1) + 1]} EP[i]=${ports[3 * (i - 1) + 2]}
	done
	for i in $(seq $N); do
		mkdir -p "$ENS/$i/data"
		echo "$i" >"$ENS/$i/data/myid"
		{
			echo "tickTime=$TICK"
			echo "initLimit=10"
			echo "syncLimit=5"
			echo "dataDir=$ENS/$i/data"
			echo "clientPort=${CP[i]}"
			echo "clientPortAddress=127.0.0.1"
			echo "admin.enableServer=false"
			echo "4lw.commands.whitelist=*"
			for j in $(seq $N); do
				echo "server.$j=127.0.0.1:${QP[j]}:${EP[j]}:participant;127.0.0.1:${CP[j]}"
			done
		} >"$ENS/$i/zoo.cfg"
	done
	for i in $(seq $N); do launch_member "$i"; done
	settle 60 || return 1
	log "$KIND ensemble: leader $LEADER, followers ${FOLLOWERS[*]} (client ports ${CP[*]:1})"
}

# settle SECS — waits until every member serves, with one leader; sets
# LEADER and FOLLOWERS (member numbers).
LEADER="" FOLLOWERS=()
settle() {
	local deadline=$((SECONDS + $1)) i m leaders
	while [ $SECONDS -lt $deadline ]; do
		leaders=() FOLLOWERS=()
		for i in $(seq $N); do
			m=$(mode "$i")
			case "$m" in
			leader) leaders+=("$i") ;;
			follower) FOLLOWERS+=("$i") ;;
			esac
		done
		if [ ${#leaders[@]} = 1 ] && [ ${#FOLLOWERS[@]} = $((N - 1)) ]; then
			LEADER=${leaders[0]}
			return 0
		fi
		sleep 0.1
	done
	log "$KIND ensemble did not settle within $1 s (leaders: ${leaders[*]:-none}, followers: ${FOLLOWERS[*]:-none})"
	for i in $(seq $N); do tail -n 5 "$ENS/$i/server.log" | sed "s/^/ensemble:   $i | /" >&2; done
	return 1
}

# ---- measurements ----------------------------------------------------------
declare -A R # R[kind.metric] = value


# run_load KIND NAME PORT args... — rawgen (or loadgen for -o load)
run_load() {
	local kind=$1 name=$2 port=$3 line gen=$RAWGEN
	shift 3
	[[ " $* " == *" -o load "* ]] && gen=$LOADGEN
	line=$(timeout 600 "$gen" -h "127.0.0.1:$port" "$@" 2>>"$B/bench/ensemble-loadgen.err")
	echo "$kind $name $line" >>"$RESULTS"
	log "$kind $name: $line"
	R[$kind.$name.ops]=$(field "$line" ops_per_s)
	R[$kind.$name.p50]=$(field "$line" p50_us)
	R[$kind.$name.p99]=$(field "$line" p99_us)
	R[$kind.$name.err]=$(field "$line" errors)
}

# rss_kb KIND PID — resident set; for the JVM after a full GC (see bench/run).
rss_kb() {
	if [ "$1" = apache ] && command -v jcmd >/dev/null; then
		jcmd "$2" GC.run >/dev/null 2>&1
		sleep 2
	fi
	ps -o rss= -p "$2" 2>/dev/null | tr -d ' '
}

# served PORT PATH — 0 once getData PATH succeeds there (polled every 20 ms), 1 after 120 s
served() {
	"$PY" - "$1" "$2" <<'EOF'
import sys, time
sys.path.insert(0, "tests/lib")
from zkraw import RawClient
port, path = int(sys.argv[1]), sys.argv[2]
t0 = time.time()
while time.time() - t0 < 120:
    try:
        c = RawClient(port, io_timeout=5)
        if c.get_data(path)[0] == 0:
            c.close()
            sys.exit(0)
        c.close()
    except Exception:
        pass
    time.sleep(0.02)
sys.exit(1)
EOF
}

# failover_round LEADER_PID HOSTS — a kazoo client on HOSTS (the followers)
# writes in a loop; after 1 s the leader is killed (SIGKILL, from this
# helper, so both times come from one clock).  Prints the seconds from the
# kill to the ack of the first write begun after it, then (for reference)
# the same for a raw client with no back-off: from the kill on, it opens a
# session on one follower, then the other, every 10 ms until a setData is
# acknowledged.  Prints nothing if kazoo gets no ack within 60 s.
failover_round() {
	"$PY" - "$1" "$2" <<'EOF'
import logging, os, signal, sys, threading, time
logging.basicConfig(level=logging.CRITICAL)
sys.path.insert(0, "tests/lib")
from kazoo.client import KazooClient
from zkraw import RawClient
pid, hosts = int(sys.argv[1]), sys.argv[2]
ports = [int(h.rsplit(":", 1)[1]) for h in hosts.split(",")]
path, value = "/bench-failover", b"v" * 100
zk = KazooClient(hosts=hosts, timeout=10)
zk.start(timeout=20)
if not zk.exists(path):
    zk.create(path, value)
t_kill = None
acked = threading.Event()
result = {}
stop = False

def writer():
    n = 0
    while not stop:
        tb = time.monotonic()
        try:
            zk.set(path, value)
        except Exception:
            time.sleep(0.001)
            continue
        ta = time.monotonic()
        n += 1
        if t_kill is not None and tb >= t_kill:
            result["ack"] = ta - t_kill
            result["writes_before"] = n
            acked.set()
            return

def prober():
    i = 0
    while not stop and time.monotonic() - t_kill < 60:
        c = None
        try:
            c = RawClient(ports[i % len(ports)], io_timeout=2)
            if c.set_data(path, value)[0] == 0:
                result["raw"] = time.monotonic() - t_kill
                return
        except Exception:
            pass
        finally:
            if c is not None:
                try:
                    c.close()
                except Exception:
                    pass
        i += 1
        time.sleep(0.01)

th = threading.Thread(target=writer, daemon=True)
th.start()
time.sleep(1.0)
t_kill = time.monotonic()
os.kill(pid, signal.SIGKILL)
pr = threading.Thread(target=prober, daemon=True)
pr.start()
ok = acked.wait(60)
pr.join(max(0.0, 60 - (time.monotonic() - t_kill)))
stop = True
if ok:
    print("%.4f %.4f" % (result["ack"], result.get("raw", -1)))
    sys.stderr.write("ensemble: kill -> first acknowledged write: kazoo %.4f s (%d writes before the kill), raw client %.4f s\n"
                     % (result["ack"], result["writes_before"], result.get("raw", -1)))
else:
    sys.stderr.write("ensemble: no kazoo write acknowledged within 60 s of the kill\n")
try:
    zk.stop(); zk.close()
except Exception:
    pass
EOF
}

p50() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {printf "%.3f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -1 | awk '{printf "%.3f", $1}'; }
# mark PORT — creates /mem-last through the server on PORT (after the load:
# the newest znode, whatever the load's errors left out).
mark() {
	"$PY" - "$1" <<'EOF'
import sys, time
sys.path.insert(0, "tests/lib")
from zkraw import RawClient
port, t0 = int(sys.argv[1]), time.time()
while time.time() - t0 < 30:
    try:
        c = RawClient(port, io_timeout=5)
        err = c.create("/mem-last", b"v" * 100)[0]
        c.close()
        if err in (0, -110):
            sys.exit(0)
    except Exception:
        pass
    time.sleep(0.1)
sys.exit(1)
EOF
}

# load_memory KIND PID PORT — loads NODES znodes through PORT, measures the
# RSS growth of PID per znode created (srvr's node count before and after:
# a load that met errors created fewer).
load_memory() {
	local kind=$1 pid=$2 port=$3 base loaded c0 c1
	c0=$(node_count "$port") || c0=""
	base=$(rss_kb "$kind" "$pid")
	run_load "$kind" load "$port" -o load -s 32 -k 16 -b "$LOAD_BATCH" -n "$NODES" -P /mem
	sleep 2
	loaded=$(rss_kb "$kind" "$pid")
	c1=$(node_count "$port") || c1=""
	if [ -z "$c0" ] || [ -z "$c1" ]; then
		log "$kind: no node count from srvr: assuming all $NODES znodes were created"
		c0=0 c1=$NODES
	fi
	R[$kind.rss_base]=$base R[$kind.rss]=$loaded R[$kind.created]=$((c1 - c0))
	R[$kind.kb_per_node]=$(awk -v a="$base" -v b="$loaded" -v n="$((c1 - c0))" 'BEGIN{if (n > 0) printf "%.3f", (b-a)/n}')
	log "$kind (pid $pid): RSS $base KB -> $loaded KB, $((c1 - c0)) znodes created"
}

hosts_of() { local i s=""; for i in "$@"; do s+="${s:+,}127.0.0.1:${CP[i]}"; done; echo "$s"; }

bench_kind() {
	local kind=$1 f i t times=() raws=() pid t0 t1 ok
	start_ensemble "$kind" || { stop_ensemble; return 1; }
	f=${FOLLOWERS[0]}
	# -- throughput and latency, through one follower
	run_load "$kind" keyspace "${CP[f]}" -o load -s 4 -k 8 -b 100 -n $KEYSPACE -P /bench
	run_load "$kind" warmup_get "${CP[f]}" -o get -s 8 -k 64 -t 3 -w 0 -n $KEYSPACE -P /bench
	run_load "$kind" warmup_set "${CP[f]}" -o set -s 16 -k 16 -t 3 -w 0 -n $KEYSPACE -P /bench
	local W=(
		"set16 -o set -s 16 -k 16 -n $KEYSPACE -P /bench"
		"get8 -o get -s 8 -k 64 -n $KEYSPACE -P /bench"
		"set1 -o set -s 1 -k 1 -n $KEYSPACE -P /bench"
	)
	local w
	for w in "${W[@]}"; do
		sync
		sleep 1
		# shellcheck disable=SC2086
		run_load "$kind" ${w%% *} "${CP[f]}" ${w#* } -t "$SECS" -w "$WARM"
	done
	# -- fail-over: kill -9 of the leader, clients on the two followers
	for ((i = 1; i <= KILLS; i++)); do
		sync
		local leader=$LEADER
		pid=$(cat "$ENS/$leader/pid")
		t=$(failover_round "$pid" "$(hosts_of "${FOLLOWERS[@]}")")
		rm -f "$ENS/$leader/pid"
		log "$kind fail-over $i (killed leader $leader): ${t:-no ack} s"
		if [ -n "$t" ]; then
			times+=("${t%% *}")
			[ "${t#* }" != -1.0000 ] && raws+=("${t#* }")
		fi
		launch_member "$leader"
		settle 60 || { stop_ensemble; return 1; }
		sleep 1
	done
	if [ ${#times[@]} -gt 0 ]; then
		R[$kind.fo_p50]=$(p50 "${times[@]}") R[$kind.fo_max]=$(maxof "${times[@]}")
		R[$kind.fo_all]=${times[*]} R[$kind.fo_n]=${#times[@]}
	fi
	if [ ${#raws[@]} -gt 0 ]; then
		R[$kind.raw_p50]=$(p50 "${raws[@]}") R[$kind.raw_max]=$(maxof "${raws[@]}")
		R[$kind.raw_all]=${raws[*]}
	fi
	# -- memory: a follower's RSS growth per znode
	if [ "$kind" = zkfs ] || [ "$APACHE_REJOIN" != 0 ]; then
		f=${FOLLOWERS[0]}
		local g=${FOLLOWERS[1]}
		load_memory "$kind" "$(cat "$ENS/$f/pid")" "${CP[f]}"
		mark "${CP[f]}" || log "$kind: cannot create /mem-last"
		# -- rejoin: the other follower loses its dataDir (myid kept)
		stop_member "$g"
		find "$ENS/$g/data" -mindepth 1 -maxdepth 1 ! -name myid -exec rm -rf {} +
		ok=0
		t0=$(date +%s.%N)
		launch_member "$g"
		served "${CP[g]}" /mem-last && ok=1
		t1=$(date +%s.%N)
		if [ $ok = 1 ]; then
			R[$kind.rejoin]=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
			log "$kind: follower $g rejoined in ${R[$kind.rejoin]} s (mode now: $(mode "$g"), $(node_count "${CP[g]}") znodes)"
		else
			log "$kind: follower $g did not serve /mem-last within 120 s"
		fi
	fi
	stop_ensemble
	ENS=""
}

# standalone zkfs-server loaded the same way: the memory row's reference
standalone_memory() {
	local dir port
	dir=$(mktemp -d "$TMPBASE/zkbench-ens-standalone-XXXXXX")
	TMPDIRS+=("$dir")
	STANDALONE=$dir
	port=$("$ZKSERVER" start zkfs "$dir" 2>"$dir/start.err") || { log "standalone zkfs did not start"; return 1; }
	load_memory standalone "$(cat "$dir/pid")" "$port"
	"$ZKSERVER" stop "$dir" >/dev/null 2>&1
	STANDALONE=""
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$SECONDS
# -- the disk's floor for one replicated write: a quorum is two durable
#    appends in two processes; measured with three writers started together
#    (bench/diskfloor.c), on the disk the members' data dirs are on
if line=$("$DISKFLOOR" "$TMPBASE" 3 2 1000 2>&1); then
	echo "diskfloor $line" >>"$RESULTS"
	R[floor.single]=$(field "$line" single_p50_us)
	R[floor.q2of3]=$(field "$line" p50_us)
else
	log "diskfloor: $line"
fi
for kind in $KINDS; do
	bench_kind "$kind" || log "$kind: ensemble run failed"
done
case " $KINDS " in *" zkfs "*) standalone_memory ;; esac

# ---- the table --------------------------------------------------------------
ms() { [ -n "${1:-}" ] && awk -v u="$1" 'BEGIN{printf "%.2f", u/1000}'; }
for kind in $KINDS; do
	for k in set16 get8 set1; do
		[ -n "${R[$kind.$k.p50]:-}" ] && R[$kind.$k.p50ms]=$(ms "${R[$kind.$k.p50]}")
		[ -n "${R[$kind.$k.p99]:-}" ] && R[$kind.$k.p99ms]=$(ms "${R[$kind.$k.p99]}")
	done
done

# row LABEL ZKFS-VALUE OTHER-VALUE DIRECTION TARGET
#   DIRECTION: up (zkfs/other >= TARGET), down (zkfs/other <= TARGET),
#   le (zkfs <= TARGET, UNIT in TARGET), none
FAILS=0
row() {
	local label=$1 z=$2 a=$3 dir=$4 target=${5:-} ratio=- verdict=
	if [ -n "$z" ] && [ -n "$a" ] && awk -v a="$a" 'BEGIN{exit !(a > 0)}'; then
		ratio=$(awk -v z="$z" -v a="$a" 'BEGIN{printf "%.2fx", z/a}')
	fi
	case "$dir" in
	up) [ "$ratio" != - ] && verdict=$(awk -v r="${ratio%x}" -v t="$target" 'BEGIN{print (r >= t) ? "PASS" : "FAIL"}'); target=">= ${target}x" ;;
	down) [ "$ratio" != - ] && verdict=$(awk -v r="${ratio%x}" -v t="$target" 'BEGIN{print (r <= t) ? "PASS" : "FAIL"}'); target="<= ${target}x" ;;
	le) [ -n "$z" ] && verdict=$(awk -v z="$z" -v t="${target%% *}" 'BEGIN{print (z <= t) ? "PASS" : "FAIL"}'); target="<= $target" ;;
	none) target="" ;;
	esac
	[ -z "$verdict" ] && [ "$dir" != none ] && verdict=FAIL # a figure that could not be measured
	[ "$verdict" = FAIL ] && FAILS=$((FAILS + 1))
	printf '| %-60s | %10s | %10s | %7s | %10s | %-4s |\n' "$label" "${z:-n/a}" "${a:-n/a}" "$ratio" "$target" "$verdict"
}
z() { echo "${R[zkfs.$1]:-}"; }
a() { echo "${R[apache.$1]:-}"; }

echo
echo "3-server zkfs ensemble vs 3-server Apache ZooKeeper 3.8 ensemble — loopback, fsync on, tickTime $TICK,"
echo "clients on a follower, 100-byte values, $(nproc) cores, ${SECS}s runs; load average $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo
printf '| %-60s | %10s | %10s | %7s | %10s | %-4s |\n' "ensemble, through a follower" "zkfs" "ZooKeeper" "ratio" "target" ""
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..62})" "------------" "------------" "---------" "------------" "------"
row "setData, 16 sessions x 16 (ops/s)" "$(z set16.ops)" "$(a set16.ops)" up 5
row "setData p99, 16 x 16 (ms)" "$(z set16.p99ms)" "$(a set16.p99ms)" down 0.25
row "getData, 8 sessions x 64 (ops/s)" "$(z get8.ops)" "$(a get8.ops)" up 5
row "getData p99, 8 x 64 (ms)" "$(z get8.p99ms)" "$(a get8.p99ms)" down 0.25
row "setData p50, 1 session, sync (ms)" "$(z set1.p50ms)" "$(a set1.p50ms)" down 0.25
row "  disk alone: 1 write + fdatasync, p50 (ms)" "$(ms "${R[floor.single]:-}")" "" none
row "  disk alone: 2nd of 3 simultaneous ones, p50 (ms)" "$(ms "${R[floor.q2of3]:-}")" "" none
row "setData, 1 session, sync (ops/s)" "$(z set1.ops)" "$(a set1.ops)" none
row "setData p99, 1 session (ms)" "$(z set1.p99ms)" "$(a set1.p99ms)" none
row "kill -9 leader -> 1st acked write, p50 of $(z fo_n)/$(a fo_n) (s)" "$(z fo_p50)" "$(a fo_p50)" le "0.2 s"
row "kill -9 leader -> 1st acked write, max (s)" "$(z fo_max)" "$(a fo_max)" le "0.2 s"
row "  same, raw client retrying every 10 ms, p50 (s)" "$(z raw_p50)" "$(a raw_p50)" none
row "  same, raw client retrying every 10 ms, max (s)" "$(z raw_max)" "$(a raw_max)" none
row "load $NODES znodes via a follower, multis of $LOAD_BATCH (nodes/s)" "$(z load.ops)" "$(a load.ops)" none
row "wiped follower rejoins, $NODES znodes (s)" "$(z rejoin)" "$(a rejoin)" le "3 s"
row "follower memory per znode (KB)" "$(z kb_per_node)" "$(a kb_per_node)" none
row "  zkfs follower vs standalone zkfs-server (KB)" "$(z kb_per_node)" "${R[standalone.kb_per_node]:-}" down 1
echo
echo "(last row: the ZooKeeper column is a standalone zkfs-server loaded the same way)"
for kind in $KINDS; do
	[ -n "${R[$kind.fo_all]:-}" ] && echo "$kind fail-over times (s): kazoo ${R[$kind.fo_all]}; raw client ${R[$kind.raw_all]:-n/a}"
	c=${R[$kind.created]:-}
	[ -n "$c" ] && [ "$c" -lt "$NODES" ] && echo "note: $kind: the load created $c znodes, not $NODES (memory per znode uses $c)"
	for k in set16 get8 set1 load; do
		e=${R[$kind.$k.err]:-}
		[ -n "$e" ] && [ "$e" != 0 ] && echo "note: $kind $k had $e errors"
	done
done
echo "raw rawgen/loadgen output: $RESULTS; server logs: $LOGS; $((SECONDS - T_START)) s in all"
[ "$CRASHES" -gt 0 ] && echo "note: $CRASHES zkfs member(s) crashed on SIGTERM (no 'shut down at' line)"
echo "$FAILS ensemble target(s) missed"
exit 0
