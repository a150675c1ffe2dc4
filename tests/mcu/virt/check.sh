#!/usr/bin/env bash
# The RISC-V network firmware, as CI checks it (docs/porting.md, "A complete network
# firmware"):
#   1. it is formatted, passes clippy and builds (the firmware and its raw-echo baseline);
#   2. its figures match the table in docs/porting.md within 10%, both ways: flash, the core's
#      share of it (the firmware minus the baseline), static RAM, and the peak stack painted
#      over the whole firmware test;
#   3. the firmware test runs under QEMU (tests/tests/firmware.rs): the shared end-to-end cases,
#      the model over TCP and the stress cases, on legacy virtio-mmio, then a few cases on
#      modern virtio-mmio. CHATECHO_FIRMWARE=required makes a missing QEMU a failure.
#
# Needs `rustup target add riscv32imac-unknown-none-elf`, rustup's llvm-tools (llvm-size) and
# qemu-system-riscv32 (Debian: qemu-system-misc); .ci/run installs them.
set -euo pipefail
cd "$(dirname "$0")"

TABLE=../../../docs/porting.md
# A figure may move this much either way before CI fails (percent).
TOLERANCE=10

host=$(rustc -vV | sed -n 's/^host: //p')
tools="$(rustc --print sysroot)/lib/rustlib/$host/bin"
if [[ ! -x "$tools/llvm-size" ]]; then
    echo "llvm-size not found in $tools: rustup component add llvm-tools" >&2
    exit 1
fi

echo "--- firmware: format, clippy, build"
cargo fmt --check
cargo clippy --quiet --release --bins -- -D warnings
cargo build --quiet --release --bins

echo "--- firmware under QEMU: the shared cases, the model over TCP, the stress cases"
figures=$(mktemp)
trap 'rm -f "$figures"' EXIT
(cd ../../.. && CHATECHO_FIRMWARE=required CHATECHO_FIRMWARE_FIGURES="$figures" \
    cargo test --quiet -p chatecho-tests --test firmware)

echo "--- figures, measured against $TABLE"
section() { # bytes of the named sections of an image, summed
    local image=$1
    shift
    "$tools/llvm-size" -A "$image" | awk -v names=" $* " \
        'index(names, " " $1 " ") { s += $2 } END { print s + 0 }'
}
image=target/riscv32imac-unknown-none-elf/release/chatecho-virt
baseline=target/riscv32imac-unknown-none-elf/release/baseline
flash=$(section "$image" .text .rodata .data)
core=$((flash - $(section "$baseline" .text .rodata .data)))
ram=$(section "$image" .data .bss)
stack=$(sed -n 's/^peak_stack //p' "$figures")

failed=0
check() { # label measured: compare with the table row that starts with the label
    local label=$1 measured=$2 listed
    listed=$(awk -v l="| $label |" 'index($0, "tests/mcu/virt/check.sh reads this table") { on = 1 }
        on && index($0, l) == 1 { split($0, f, "|"); if (match(f[3], /[0-9]+/)) print substr(f[3], RSTART, RLENGTH); exit }' "$TABLE")
    if [[ -z "$listed" || -z "$measured" ]]; then
        echo "$label: ${measured:-nothing} measured, ${listed:-no figure} in $TABLE: FAILED" >&2
        failed=1
        return
    fi
    local verdict=ok
    if ((measured * 100 > listed * (100 + TOLERANCE) || measured * 100 < listed * (100 - TOLERANCE))); then
        verdict="FAILED: more than $TOLERANCE% from the table; update $TABLE in the same commit"
        failed=1
    fi
    echo "$label: $measured B (table: $listed B) $verdict"
}
check "flash (.text + .rodata + .data)" "$flash"
check "the core's share of the flash" "$core"
check "static RAM (.data + .bss)" "$ram"
check "peak stack, painted, over the firmware test" "$stack"
exit "$failed"
