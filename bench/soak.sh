#!/usr/bin/env bash
# Soak and scale (issue 5) against a freshly started release server on loopback:
#   1. CONNS concurrent connections (all open at once), each doing LINES lockstep lines,
#      every reply checked;
#   2. the same number of lines over 100 connections, and the ratio of the two throughputs
#      (issue 5 asks for at most 2); with --rounds N, steps 1 and 2 run N times and the
#      median ratio is printed too, and the server's RSS after each round shows whether
#      connection churn makes memory grow;
#   3. with --duration SECS: a sustained pipelined load (4 connections) for SECS seconds, with
#      the server's RSS sampled near its start and at its end.
# Exits non-zero on any error (a wrong, lost or late-closed reply, a server that died); a
# ratio over 2 is reported, not an error (timings on a shared machine are not a test).
# --server peer-tokio-lines runs the same loads against the tokio peer, for comparison.
#
#   bench/soak.sh --connections 1000 --lines 20                  # CI's short version
#   bench/soak.sh --connections 9000 --lines 100 --duration 60   # the full soak
#   bench/soak.sh --connections 9000 --lines 100 --rounds 3      # the scale ratio, 3 times
#   bench/soak.sh --connections 9000 --lines 2 --rounds 30       # churn: RSS after each round
set -euo pipefail
conns=9000 lines=100 duration="" rounds=1 server_bin=chatecho-server
usage="usage: $0 [--connections N] [--lines N] [--duration SECS] [--rounds N] [--server chatecho-server|peer-tokio-lines]"
while [ $# -gt 0 ]; do
    case "$1" in
        --connections) conns="$2"; shift 2 ;;
        --lines) lines="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --server) server_bin="$2"; shift 2 ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done
case "$server_bin" in
    chatecho-server | peer-tokio-lines) ;;
    *) echo "$usage" >&2; exit 2 ;;
esac
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cargo build --release --quiet -p chatecho-server -p chatecho-bench \
    --bin chatecho-server --bin chatecho-bench --bin peer-tokio-lines
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bench="$target/release/chatecho-bench"

out="$(mktemp)"
# Every connection comes from one address: chatecho-server's per-address limit is turned off.
per_ip=()
[ "$server_bin" = chatecho-server ] && per_ip=(--max-connections-per-ip 0)
RUST_LOG=warn "$target/release/$server_bin" --host 127.0.0.1 --port 0 "${per_ip[@]}" >"$out" &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$out" && break; sleep 0.1; done
addr="$(awk '/listening on/{print $3; exit}' "$out")"
[ -n "$addr" ] || { echo "soak: the server did not start" >&2; exit 1; }
rss() { awk '/VmRSS/{print $2 " kB"}' "/proc/$server/status"; }

# Runs CONNS connections × LINES lockstep lines, prints the summary, sets $rate (lines/s).
lockstep() {
    local summary
    summary="$("$bench" --addr "$addr" --connections "$1" --lines "$2" --mode lockstep --quiet)"
    echo "$summary"
    rate="$(sed -n 's/.*: \([0-9]*\) lines\/s.*/\1/p' <<<"$summary")"
}

echo "$server_bin $addr, RSS $(rss)"
few=$(( conns < 100 ? conns : 100 ))
ratios=()
for round in $(seq "$rounds"); do
    lockstep "$conns" "$lines"
    many=$rate
    echo "after $conns connections (round $round): server RSS $(rss)"
    lockstep "$few" $(( conns * lines / few ))
    ratios+=("$(awk -v few="$rate" -v many="$many" 'BEGIN { printf "%.2f", few / many }')")
    echo "throughput at $few connections ÷ at $conns connections: ${ratios[-1]} (issue 5: at most 2)"
done
if [ "$rounds" -gt 1 ]; then
    median="$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ r[NR] = $1 } END { print r[int((NR + 1) / 2)] }')"
    echo "median ratio over $rounds rounds: $median (each: ${ratios[*]})"
fi

if [ -n "$duration" ]; then
    "$bench" --addr "$addr" --connections 4 --mode pipeline --duration "$duration" --quiet &
    load=$!
    sleep 5
    echo "sustained pipelined load: server RSS after 5 s: $(rss)"
    sleep "$(( ${duration%.*} > 6 ? ${duration%.*} - 6 : 0 ))"
    echo "sustained pipelined load: server RSS after $(( ${duration%.*} > 6 ? ${duration%.*} - 1 : 5 )) s: $(rss)"
    wait $load
fi
kill -0 $server || { echo "soak: the server died" >&2; exit 1; }
echo "soak: ok"
