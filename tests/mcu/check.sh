#!/usr/bin/env bash
# The core on microcontroller targets, as CI checks it (docs/porting.md, "Building for your
# chip"):
#   1. chatecho-core builds for four targets with every combination of its features;
#   2. the firmware of tests/mcu is formatted, passes clippy and builds for the four targets;
#   3. QEMU runs the Cortex-M3 firmware: the exchange test, and every flash image;
#   4. the flash the core costs is measured and compared with the table in docs/porting.md:
#      more than 10% over a figure there fails, and so does any core::fmt symbol that an image
#      with the core has and its baseline has not.
#
# Needs the four rustup targets, rustup's llvm-tools (llvm-size, llvm-nm), cargo-hack and
# qemu-system-arm; .ci/run installs them.
set -euo pipefail
cd "$(dirname "$0")/../.."

TARGETS=(thumbv6m-none-eabi thumbv7m-none-eabi thumbv7em-none-eabihf riscv32imc-unknown-none-elf)
# Flash images, in pairs: the core's cost is an image's .text + .rodata minus its baseline's.
PAIRS=(flash_core:flash_baseline flash_async:flash_async_baseline flash_smoltcp:flash_smoltcp_baseline)
TABLE=docs/porting.md
# A figure may grow this much over the table before CI fails (percent).
TOLERANCE=10

host=$(rustc -vV | sed -n 's/^host: //p')
tools="$(rustc --print sysroot)/lib/rustlib/$host/bin"
if [[ ! -x "$tools/llvm-size" ]]; then
    echo "llvm-size not found in $tools: rustup component add llvm-tools" >&2
    exit 1
fi

echo "--- chatecho-core for each target, every combination of its features (cargo hack)"
for target in "${TARGETS[@]}"; do
    echo "$target"
    # Without dev-dependencies, which are for the host's tests; -D warnings, so that every
    # combination builds clean.
    RUSTFLAGS="-D warnings" cargo hack check --quiet --feature-powerset --no-dev-deps \
        -p chatecho-core --target "$target"
done

cd tests/mcu
images=()
bins=()
for pair in "${PAIRS[@]}"; do
    images+=("${pair%%:*}" "${pair##*:}")
    bins+=(--bin "${pair%%:*}" --bin "${pair##*:}")
done

echo "--- firmware: format and clippy (its own workspace, which the main steps do not see)"
cargo fmt --check
cargo clippy --quiet --release --bins -- -D warnings

echo "--- firmware for each target (release: opt-level \"s\", fat LTO)"
for target in "${TARGETS[@]}"; do
    echo "$target"
    cargo build --quiet --release --target "$target" "${bins[@]}"
done
cargo build --quiet --release --target thumbv7m-none-eabi --bin exchange

echo "--- QEMU (Cortex-M3, lm3s6965evb): the exchange test and every flash image"
for bin in exchange "${images[@]}"; do
    timeout 300 cargo run --quiet --release --target thumbv7m-none-eabi --bin "$bin"
done

echo "--- flash: the core's .text + .rodata, measured against $TABLE"
size() { # .text + .rodata of an image, in bytes
    "$tools/llvm-size" -A "$1" | awk '$1 == ".text" || $1 == ".rodata" { s += $2 } END { print s }'
}
fmt_symbols() { # the core::fmt symbols of an image, sorted
    "$tools/llvm-nm" -C "$1" | grep -oE 'core::fmt.*' | sed 's/::h[0-9a-f]\{16\}$//' | sort -u || true
}
failed=0
for target in "${TARGETS[@]}"; do
    # The row of the flash table: the first one for this target after the table's marker.
    row=$(awk -v t="| \`$target\`" 'index($0, "tests/mcu/check.sh reads this table") { on = 1 }
        on && index($0, t) == 1 { print; exit }' "../../$TABLE")
    if [[ -z "$row" ]]; then
        echo "$target: no row in $TABLE" >&2
        failed=1
        continue
    fi
    column=2 # the row's fields: "", target, then one figure per pair, in PAIRS' order
    for pair in "${PAIRS[@]}"; do
        column=$((column + 1))
        image=target/$target/release/${pair%%:*}
        baseline=target/$target/release/${pair##*:}
        measured=$(($(size "$image") - $(size "$baseline")))
        listed=$(awk -F'|' -v c="$column" '{ if (match($c, /[0-9]+/)) print substr($c, RSTART, RLENGTH) }' <<<"$row")
        if [[ -z "$listed" ]]; then
            echo "$target ${pair%%:*}: $measured B, and no figure in $TABLE" >&2
            failed=1
            continue
        fi
        limit=$((listed + listed * TOLERANCE / 100))
        verdict=ok
        if ((measured > limit)); then
            verdict="FAILED: more than $TOLERANCE% over the table; shrink it, or update $TABLE in the same commit"
            failed=1
        elif ((measured * 100 < listed * (100 - TOLERANCE))); then
            verdict="ok, $TOLERANCE% or more under the table: update $TABLE"
        fi
        echo "$target ${pair%%:*}: $measured B (table: $listed B) $verdict"
        fmt=$(comm -23 <(fmt_symbols "$image") <(fmt_symbols "$baseline"))
        if [[ -n "$fmt" ]]; then
            echo "$target ${pair%%:*}: FAILED: the core links core::fmt:" >&2
            echo "$fmt" >&2
            failed=1
        fi
    done
done
exit "$failed"
