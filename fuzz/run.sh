#!/usr/bin/env bash
# Runs every fuzz target of chatecho-core for SECONDS each (default 60) and fails on any
# finding: a panic, a disagreement with the model, or one input running over 10 s (a stall).
#
#   fuzz/run.sh [SECONDS]
#
# Needs the nightly toolchain; installs cargo-fuzz if `cargo fuzz` is missing. A finding is
# saved under fuzz/artifacts/<target>/ and reproduced with
# `cargo +nightly fuzz run --sanitizer none <target> <file>` from fuzz/.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# libFuzzer writes new inputs into the first corpus directory it is given and only reads the
# others, so a scratch directory goes first and the committed seeds (corpus/<target>) stay
# exactly as committed.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

for target in framer session; do
    echo "==> fuzz $target for ${seconds}s"
    mkdir -p "$scratch/$target"
    # --sanitizer none: the core forbids unsafe code, so AddressSanitizer would only slow the
    # search down; overflow checks and debug assertions stay on (cargo-fuzz's default).
    # -max_len: room for streams past the largest buffer (3000 bytes) without the repeat byte.
    cargo +nightly fuzz run --sanitizer none "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=8192 -timeout=10 -print_final_stats=1
done
