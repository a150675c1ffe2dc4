#!/usr/bin/env bash
# The scale that quiet connections without buffers buy (issue 10): CONNS concurrent
# connections, each having sent one line and had its answer, then quiet, then each answered
# once more. Prints the servers' summed RSS per connection while they are quiet and the time
# to answer all of them again.
#
# A process here may hold at most 20,000 descriptors (a hard limit that cannot be raised), so
# the connections are spread over SERVERS chatecho-server processes sharing one port with
# --reuse-port (the kernel spreads connections among them), and over GENERATORS load-generator
# processes, each connecting from its own loopback address (127.x.y.2, 127.x.y.3, ...) so
# that ephemeral ports do not run out.
#
#   bench/scale.sh                                      # 100,000 connections, 6 servers, 6 generators
#   bench/scale.sh --connections 19000 --servers 1      # one process
#   bench/scale.sh --connections 19000 --servers 1 --server peer-tokio-lines
#   bench/scale.sh --connections 2000 --servers 2 --generators 2   # CI's small version
#
# Exits non-zero on any error: a wrong, lost or late reply, a refused connection, a server
# that died.
set -euo pipefail
conns=100000 servers=6 generators=6 server_bin=chatecho-server
usage="usage: $0 [--connections N] [--servers K] [--generators M] [--server chatecho-server|peer-tokio-lines]"
while [ $# -gt 0 ]; do
    case "$1" in
        --connections) conns="$2"; shift 2 ;;
        --servers) servers="$2"; shift 2 ;;
        --generators) generators="$2"; shift 2 ;;
        --server) server_bin="$2"; shift 2 ;;
        -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done
case "$server_bin" in
    chatecho-server) ;;
    peer-tokio-lines) [ "$servers" = 1 ] || { echo "peer-tokio-lines runs as one process: --servers 1" >&2; exit 2; } ;;
    *) echo "$usage" >&2; exit 2 ;;
esac
per_generator=$(( (conns + generators - 1) / generators ))
[ "$per_generator" -le 19900 ] || { echo "scale: $per_generator connections per generator is over a process's 20,000 descriptors; add --generators" >&2; exit 2; }
[ $(( conns / servers )) -le 19000 ] || { echo "scale: $(( conns / servers )) connections per server leaves no room under 20,000 descriptors; add --servers" >&2; exit 2; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
echo "scale: building (release)" >&2
cargo build --release -p chatecho-server -p chatecho-bench \
    --bin chatecho-server --bin chatecho-bench --bin peer-tokio-lines
target="${CARGO_TARGET_DIR:-$root/target}"
bench="$target/release/chatecho-bench"

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Starts server process $1 (an index) on port $2 (0: a free one) and writes its port to
# $work/port. (Not a command substitution: its subshell would not record the pid to kill.)
start_server() {
    local out="$work/server-$1.out"
    case "$server_bin" in
        chatecho-server)
            RUST_LOG=warn "$target/release/chatecho-server" --host 127.0.0.1 --port "$2" \
                --reuse-port --max-connections 20000 --max-connections-per-ip 0 >"$out" 2>"$work/server-$1.err" & ;;
        peer-tokio-lines)
            "$target/release/peer-tokio-lines" --host 127.0.0.1 --port "$2" >"$out" 2>"$work/server-$1.err" & ;;
    esac
    pids+=($!)
    echo $! >"$work/server-$1.pid"
    for _ in $(seq 100); do grep -q "listening on" "$out" && break; sleep 0.1; done
    grep -q "listening on" "$out" || { echo "scale: server $1 did not start: $(cat "$work/server-$1.err")" >&2; exit 1; }
    awk '/listening on/{n = split($3, a, ":"); print a[n]; exit}' "$out" >"$work/port"
}

start_server 0 0
port="$(cat "$work/port")"
for i in $(seq 1 $(( servers - 1 ))); do start_server "$i" "$port"; done
server_pids=()
for i in $(seq 0 $(( servers - 1 ))); do server_pids+=("$(cat "$work/server-$i.pid")"); done
rss_kb() {
    local total=0 pid
    for pid in "${server_pids[@]}"; do
        total=$(( total + $(awk '/VmRSS/{print $2}' "/proc/$pid/status") ))
    done
    echo "$total"
}
before="$(rss_kb)"
echo "scale: $server_bin x $servers on 127.0.0.1:$port, $conns connections from $generators generators; servers' RSS $before kB" >&2

# Each generator: its connections, from its own address, released by closing its stdin. The
# addresses are drawn afresh each run from 127.0.0.0/8 (all loopback): ports an earlier run
# left in TIME-WAIT belong to other addresses.
net="127.$(( RANDOM % 200 + 20 )).$(( RANDOM % 250 ))"
started=$(date +%s.%N)
left=$conns
for i in $(seq 0 $(( generators - 1 ))); do
    n=$(( left < per_generator ? left : per_generator ))
    left=$(( left - n ))
    [ "$n" -gt 0 ] || break
    mkfifo "$work/release-$i"
    "$bench" --addr "127.0.0.1:$port" --connections "$n" --size 16 --mode idle --quiet \
        --bind "$net.$(( i + 2 ))" --json <"$work/release-$i" >"$work/gen-$i.out" 2>"$work/gen-$i.err" &
    pids+=($!)
    echo $! >"$work/gen-$i.pid"
    # Held open here, closed to release the generator.
    eval "exec {fd_$i}>\"$work/release-$i\""
done
used=$i
for i in $(seq 0 "$used"); do
    [ -e "$work/gen-$i.pid" ] || continue
    until grep -q holding "$work/gen-$i.out"; do
        if ! kill -0 "$(cat "$work/gen-$i.pid")" 2>/dev/null; then
            echo "scale: generator $i failed: $(cat "$work/gen-$i.err")" >&2; exit 1
        fi
        sleep 0.2
    done
done
opened=$(date +%s.%N)
sleep 2
held="$(rss_kb)"
awk -v b="$before" -v a="$held" -v n="$conns" -v t0="$started" -v t1="$opened" 'BEGIN {
    printf "%d connections open and quiet after one answer each (opened in %.1f s): servers RSS %d kB -> %d kB, %.0f bytes per connection\n", n, t1 - t0, b, a, (a - b) * 1024 / n }'

released=$(date +%s.%N)
for i in $(seq 0 "$used"); do
    [ -e "$work/gen-$i.pid" ] || continue
    eval "exec {fd_$i}>&-"
done
for i in $(seq 0 "$used"); do
    [ -e "$work/gen-$i.pid" ] || continue
    wait "$(cat "$work/gen-$i.pid")" || { echo "scale: generator $i failed: $(cat "$work/gen-$i.err")" >&2; exit 1; }
done
answered=$(date +%s.%N)
slowest="$(for i in $(seq 0 "$used"); do [ -e "$work/gen-$i.out" ] && sed -n 's/.*"seconds":\([0-9.e+-]*\).*/\1/p' "$work/gen-$i.out"; done | sort -g | tail -1)"
awk -v t0="$released" -v t1="$answered" -v s="$slowest" -v n="$conns" 'BEGIN {
    printf "all %d answered once more: %.3f s from the release to the last answer (slowest generator), %.3f s until every generator exited\n", n, s, t1 - t0 }'
for pid in "${server_pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "scale: a server died" >&2; exit 1; }
done
echo "scale: ok"
