#!/usr/bin/env bash
# bench/programs.sh — real programs from Debian packages as benchmarks
# (the runner copies it to build/bench/programs; profiles.sh's prog_* rows).
#
#   programs prepare [NAME...]  inputs and reference outputs (of NAMEs, default
#                           all), without a preload
#   programs available NAME exit 0 if NAME's program is installed, else print
#                           the Debian package to install and exit 1
#   programs NAME           run NAME's workload under the inherited LD_PRELOAD
#                           (rss_run sets it) and print the result line
#
# NAME: redis (redis-server on a unix socket, driven by redis-benchmark: no
# network; Debian's build links libjemalloc, so glibc's run preloads
# libc.so.6 to put glibc's malloc first), python (an allocation-heavy script for Debian's /usr/bin/python3),
# sqlite (a generated database: inserts, an index, joins and aggregates),
# lua (tables, strings and closures in lua5.4), gxx (g++ -O2 compiling a
# generated file of std::map, std::unordered_map and std::function templates).
#
# The result line carries the workload's wall time as throughput=SECONDS
# unit=s/op (one op = one run of the workload; lower is better) and
# check=output:ok when the program's output equals the reference output of
# the same workload without a preload (taken by `prepare`), else
# check=output:FAIL (the runner flags the run).  malloc_from= (stderr) comes
# from a probe run under the same environment (build/bench/tiny_hot); for
# redis the server's /proc/PID/maps must also hold the preloaded library.
# Files live in $BENCH_PROGRAMS_DIR (default build/bench/programs.d).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${BENCH_PROGRAMS_DIR:-$HERE/programs.d}
PY=/usr/bin/python3

need() { # NAME -> its program and its Debian package
    case "$1" in
    redis) echo "redis-server redis-server redis-tools" ;;
    python) echo "$PY python3" ;;
    sqlite) echo "sqlite3 sqlite3" ;;
    lua) echo "lua5.4 lua5.4" ;;
    gxx) echo "g++ g++" ;;
    *) return 1 ;;
    esac
}

available() {
    local w
    w=$(need "$1") || { echo "unknown program benchmark '$1'"; return 1; }
    set -- $w
    if command -v "$1" >/dev/null 2>&1 && { [ "$1" != redis-server ] || command -v redis-benchmark >/dev/null 2>&1; }; then
        return 0
    fi
    shift
    echo "$*"
    return 1
}

gen_inputs() {
    mkdir -p "$DIR"
    cat >"$DIR/alloc.py" <<'EOF'
import json, random
random.seed(42)
class Node:
    __slots__ = ("key", "vals", "kids")
    def __init__(self, key):
        self.key = key; self.vals = []; self.kids = {}
root = Node("root")
for i in range(80000):
    path = [random.randrange(40) for _ in range(3)]
    n = root
    for p in path:
        n = n.kids.setdefault(p, Node(p))
    n.vals.append(("x" * (i % 37)) + str(i))
docs = []
for i in range(20000):
    docs.append(json.dumps({"id": i, "tags": [str(j) for j in range(i % 11)], "v": i * 0.5}))
total = sum(len(json.loads(d)["tags"]) for d in docs)
def walk(n):
    return len(n.vals) + sum(walk(k) for k in n.kids.values())
words = {}
for i in range(100000):
    w = "w%d" % (i % 5003)
    words[w] = words.get(w, 0) + len(w)
print(walk(root), total, len(words), sum(words.values()))
EOF
    cat >"$DIR/db.sql" <<'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, val REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
INSERT INTO t SELECT x, x % 997, printf('name-%d-%s', x, substr('abcdefghijklmnopqrstuvwxyz', 1, x % 26)), x * 0.25 FROM c;
CREATE INDEX t_grp ON t(grp);
CREATE TABLE g AS SELECT grp, count(*) AS n, sum(val) AS s, group_concat(substr(name, 1, 8), ',') AS names FROM t GROUP BY grp;
SELECT count(*), sum(n), round(sum(s), 2), sum(length(names)) FROM g;
SELECT t.grp, count(*) FROM t JOIN g ON g.grp = t.grp WHERE t.val > g.s / g.n GROUP BY t.grp ORDER BY 2 DESC, 1 LIMIT 5;
SELECT name FROM t ORDER BY name DESC LIMIT 3;
EOF
    cat >"$DIR/alloc.lua" <<'EOF'
local t, n = {}, 0
for i = 1, 150000 do
  local k = "k" .. (i % 20011)
  local e = t[k] or {}
  e[#e + 1] = { i, tostring(i * 3), function() return i end }
  t[k] = e
  if i % 7 == 0 then t["k" .. ((i * 13) % 20011)] = nil end
end
local s = {}
for k, v in pairs(t) do n = n + #v; s[#s + 1] = k end
table.sort(s)
local parts = {}
for i = 1, 50000 do parts[#parts + 1] = string.rep("ab", i % 17) .. i end
local joined = table.concat(parts, ",")
print(n, #s, s[1], s[#s], #joined)
EOF
    {
        printf '#include <map>\n#include <vector>\n#include <string>\n#include <functional>\n#include <unordered_map>\n#include <set>\n#include <sstream>\n#include <algorithm>\n'
        for i in 0 1; do
            cat <<EOF
template <typename T> struct S$i { std::map<std::string, std::vector<T>> m; std::unordered_map<int, std::set<T>> u;
  void add(const std::string &k, T v) { m[k].push_back(v); u[(int)m.size()].insert(v); }
  T sum() const { T s{}; for (auto &kv : m) for (auto &x : kv.second) s += x; return s; } };
long f$i(int n) { S$i<long> a; S$i<double> b; std::ostringstream os;
  for (int j = 0; j < n; j++) { os << "k" << j; a.add(os.str(), j); b.add(os.str(), j * 0.5); }
  std::vector<std::function<long(long)>> fs; for (int j = 0; j < 8; j++) fs.push_back([j](long x) { return x * j + $i; });
  long r = a.sum() + (long)b.sum(); for (auto &g : fs) r = g(r);
  std::sort(fs.begin(), fs.end(), [](auto &, auto &) { return false; }); return r; }
EOF
        done
        echo 'int main() { return (int)((f0(3) + f1(3)) & 1); }'
    } >"$DIR/gen.cpp"
    cat >"$DIR/check.lua" <<'EOF'
local sum = 0
for i = 1, 20000 do
  redis.call('SET', 'chk:' .. i, string.rep('v', i % 50) .. i)
  redis.call('HSET', 'chkh', 'f' .. i, i)
  redis.call('RPUSH', 'chkl', i)
end
for i = 1, 20000, 3 do sum = sum + #redis.call('GET', 'chk:' .. i) end
local n = redis.call('LLEN', 'chkl')
for i = 1, 5000 do redis.call('LPOP', 'chkl') end
return {sum, n, redis.call('LLEN', 'chkl'), redis.call('HLEN', 'chkh'), redis.call('HGET', 'chkh', 'f777')}
EOF
}

# The workload of NAME, its output on stdout (what must match), in $WORK.
workload() {
    case "$1" in
    python) "$PY" "$DIR/alloc.py" ;;
    sqlite) rm -f "$WORK/db"; sqlite3 "$WORK/db" <"$DIR/db.sql" ;;
    lua) lua5.4 "$DIR/alloc.lua" ;;
    gxx) g++ -O2 -c "$DIR/gen.cpp" -o "$WORK/gen.o" && sha256sum <"$WORK/gen.o" | cut -c1-16 ;;
    redis) redis_workload ;;
    esac
}

# redis-server (under the preload) on a unix socket in $WORK; redis-benchmark
# and redis-cli without it.  Output: a Lua script's deterministic results.
redis_workload() {
    local sock="$WORK/redis.sock" pid i rc=0 pre=${LD_PRELOAD:-}
    # Debian's redis-server links libjemalloc: glibc's run preloads libc.so.6,
    # which then comes first for malloc (the others' preload does the same)
    [ -n "$pre" ] || pre=$(ldd "$(command -v redis-server)" | awk '/libc\.so/ { print $3; exit }')
    LD_PRELOAD=$pre redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --save "" --appendonly no \
        --dir "$WORK" --daemonize no --loglevel warning >"$WORK/redis.log" 2>&1 &
    pid=$!
    for i in $(seq 200); do [ -S "$sock" ] && break; sleep 0.01; done
    if [ ! -S "$sock" ]; then echo "redis-server did not start" >&2; kill "$pid" 2>/dev/null; return 1; fi
    if [ -n "$pre" ] && ! grep -qF "$(readlink -f "$pre")" "/proc/$pid/maps"; then
        echo "malloc_from=redis-server without $pre" >&2; rc=1
    fi
    env -u LD_PRELOAD redis-benchmark -s "$sock" -q -n 40000 -P 16 -r 50000 -d 128 \
        -t set,get,lpush,lpop,sadd,hset,incr >/dev/null || rc=1
    env -u LD_PRELOAD redis-cli -s "$sock" --eval "$DIR/check.lua" || rc=1
    env -u LD_PRELOAD redis-cli -s "$sock" shutdown nosave >/dev/null 2>&1
    wait "$pid" 2>/dev/null
    return $rc
}

case "${1:-}" in
prepare)
    shift
    [ $# -gt 0 ] || set -- redis python sqlite lua gxx
    gen_inputs
    for n in "$@"; do
        available "$n" >/dev/null || continue
        WORK=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-prog.XXXXXX")
        (cd "$WORK" && env -u LD_PRELOAD bash -c "$(declare -f workload redis_workload); DIR='$DIR' PY='$PY' WORK='$WORK' workload $n") \
            >"$DIR/$n.ref" 2>"$DIR/$n.ref.err" || { echo "programs: $n failed without a preload:" >&2; tail -n 3 "$DIR/$n.ref.err" >&2; }
        rm -rf "$WORK"
    done ;;
available)
    available "${2:-}" ;;
redis|python|sqlite|lua|gxx)
    name=$1
    "$HERE/tiny_hot" 16 1 1 2>&1 >/dev/null | grep -m1 '^malloc_from=' >&2
    if [ ! -s "$DIR/$name.ref" ]; then echo "programs: no reference output for $name (run: programs prepare)" >&2; exit 2; fi
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-prog.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
    t0=$(date +%s.%N)
    (cd "$WORK" && workload "$name") >"$WORK/out" 2>"$WORK/err"
    rc=$?
    t1=$(date +%s.%N)
    if [ $rc -ne 0 ]; then tail -n 5 "$WORK/err" >&2; exit $rc; fi
    check=output:ok
    cmp -s "$WORK/out" "$DIR/$name.ref" || check=output:FAIL
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
    echo "program name=$name seconds=$secs throughput=$secs unit=s/op ops=1 check=$check" ;;
*)
    echo "usage: programs prepare [NAME...] | available NAME | NAME (redis python sqlite lua gxx)" >&2
    exit 2 ;;
esac
