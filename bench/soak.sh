#!/usr/bin/env bash
# Soak and scale (issue 5) against a freshly started release chatecho-server on loopback:
#   1. CONNS concurrent connections (all open at once), each doing LINES lockstep lines,
#      every reply checked;
#   2. the same number of lines over 100 connections, for the throughput ratio;
#   3. with --duration SECS: a sustained pipelined load (4 connections) for SECS seconds, with
#      the server's RSS sampled near its start and at its end.
# Exits non-zero on any error (a wrong, lost or late-closed reply, a server that died).
#
#   bench/soak.sh --connections 1000 --lines 20                  # CI's short version
#   bench/soak.sh --connections 9000 --lines 100 --duration 60   # the full soak
set -euo pipefail
conns=9000 lines=100 duration=""
while [ $# -gt 0 ]; do
    case "$1" in
        --connections) conns="$2"; shift 2 ;;
        --lines) lines="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        *) echo "usage: $0 [--connections N] [--lines N] [--duration SECS]" >&2; exit 2 ;;
    esac
done
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cargo build --release --quiet -p chatecho-server -p chatecho-bench \
    --bin chatecho-server --bin chatecho-bench
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bench="$target/release/chatecho-bench"

out="$(mktemp)"
RUST_LOG=warn "$target/release/chatecho-server" --host 127.0.0.1 --port 0 >"$out" &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$out" && break; sleep 0.1; done
addr="$(awk '/listening on/{print $3; exit}' "$out")"
[ -n "$addr" ] || { echo "soak: the server did not start" >&2; exit 1; }
rss() { awk '/VmRSS/{print $2 " kB"}' "/proc/$server/status"; }

echo "server $addr, RSS $(rss)"
"$bench" --addr "$addr" --connections "$conns" --lines "$lines" --mode lockstep --quiet
echo "after $conns connections: server RSS $(rss)"
few=$(( conns < 100 ? conns : 100 ))
"$bench" --addr "$addr" --connections "$few" --lines $(( conns * lines / few )) --mode lockstep --quiet

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
