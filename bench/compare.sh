#!/usr/bin/env bash
# Side-by-side benchmark of chatecho-server against peer-tokio-lines, peer-raw-echo and the
# seed's Python server: builds release binaries, then runs chatecho-compare, which prints a
# markdown table on stdout (progress on stderr).
#
#   bench/compare.sh            # full run: 3 rounds, medians
#   bench/compare.sh --quick    # seconds-long correctness smoke (CI)
#   bench/compare.sh --help     # all options
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cargo build --release --quiet -p chatecho-server -p chatecho-bench \
    --bin chatecho-server --bin chatecho-bench --bin peer-tokio-lines \
    --bin peer-raw-echo --bin chatecho-compare
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
exec "$target/release/chatecho-compare" --bin-dir "$target/release" \
    --seed "$root/../shared/reference/seed_server.py" "$@"
