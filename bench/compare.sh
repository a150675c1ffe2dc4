#!/usr/bin/env bash
# Side-by-side benchmark of chatecho-server against peer-tokio-lines (on tokio's multi-thread
# runtime, and on its current-thread runtime as tokio-lines-ct), peer-raw-echo and the seed's
# Python server: builds release binaries (showing cargo's progress), then runs
# chatecho-compare, which prints a markdown table on stdout (progress on stderr).
#
#   bench/compare.sh                     # full run: 3 rounds, medians and ratios
#   bench/compare.sh --plot bench/charts # the same, and SVG charts + summary.md in
#                                        # bench/charts (the README shows them)
#   bench/compare.sh --quick             # correctness smoke (CI): every server answers every
#                                        # load, each reply checked; no timings, no ratios
#   bench/compare.sh --help              # all options
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
echo "compare: building the release binaries (a few minutes the first time)..." >&2
cargo build --release -p chatecho-server -p chatecho-bench \
    --bin chatecho-server --bin chatecho-bench --bin peer-tokio-lines \
    --bin peer-raw-echo --bin chatecho-compare
target="$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
# What every chart names as its origin: the commit measured (marked when the code measured
# differs from it; charts and docs aside) and this command as typed.
commit="$(git rev-parse --short HEAD 2>/dev/null)" || commit=unknown
if [ "$commit" != unknown ] &&
    ! git diff --quiet HEAD -- . ':(exclude)bench/charts' ':(exclude)*.md' 2>/dev/null; then
    commit="$commit+uncommitted"
fi
command="bench/compare.sh"
if [ $# -gt 0 ]; then
    command+="$(printf ' %q' "$@")"
fi
exec "$target/release/chatecho-compare" --bin-dir "$target/release" \
    --seed "$root/../shared/reference/seed_server.py" \
    --commit "$commit" --command "$command" "$@"
