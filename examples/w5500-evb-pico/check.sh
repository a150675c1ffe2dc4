#!/usr/bin/env bash
# The W5500-EVB-Pico firmware as CI checks it (README.md, "What CI checks"):
#   1. the rustup target and llvm-tools, installed when missing;
#   2. format, clippy -D warnings, and a release build from the committed Cargo.lock (--locked);
#   3. the crates it shares with the main workspace (embassy-*, smoltcp, heapless, embedded-io*,
#      defmt) are locked at the same versions in both lock files;
#   4. its figures against the table in docs/porting.md: the image's flash (.text + .rodata) and
#      static RAM (.data + .bss), and chatecho-core's share of each. A figure more than 10% away
#      from the table, either way, fails: a change that moves one updates the table with it.
#
# How the core's share is measured:
#   - flash: the bytes of .text whose source, in the line table of the image's debug
#     information, is core/src. That counts the core's code wherever the optimiser put it,
#     inlined into an echo task or not. Lines of the standard library, heapless and memchr (the
#     core's helpers, and everyone's) count for the code they were inlined into. The core's
#     constants in .rodata (the default prefix, quit line and error text, tens of bytes) are not
#     counted.
#   - RAM: the core's statics: the one Config (CONFIG) and the session storage of every echo
#     task (SESSION_BUFFERS), by symbol size. A session's own state (64 bytes per task) lives in
#     its task's future, among the executor's task storage, and is not counted.
set -euo pipefail
cd "$(dirname "$0")"

TARGET=thumbv6m-none-eabi
BIN=chatecho-w5500-evb-pico
TABLE=../../docs/porting.md
MARKER="examples/w5500-evb-pico/check.sh reads this table"
TOLERANCE=10 # percent, either way
# Crates the firmware and the main workspace both lock, which must agree.
SHARED='^(embassy-.*|smoltcp|heapless|embedded-io|embedded-io-async|defmt|memchr)$'

echo "--- toolchain: $TARGET and llvm-tools"
if ! rustup target list --installed | grep -qx "$TARGET"; then
    rustup target add "$TARGET"
fi
host=$(rustc -vV | sed -n 's/^host: //p')
tools="$(rustc --print sysroot)/lib/rustlib/$host/bin"
if [[ ! -x "$tools/llvm-size" || ! -x "$tools/llvm-objdump" ]]; then
    rustup component add llvm-tools
fi

echo "--- format, clippy, release build (its own workspace, which the main steps do not see)"
cargo fmt --check
cargo clippy --quiet --locked --release -- -D warnings
cargo build --quiet --locked --release
image=target/$TARGET/release/$BIN

echo "--- versions shared with the main workspace's lock file"
locked() { # "name compatible-line version" of each package in a Cargo.lock named like $SHARED
    awk -v re="$SHARED" '/^name = / { gsub(/"/, "", $3); name = $3 }
        /^version = / && name ~ re {
            gsub(/"/, "", $3); split($3, v, ".")
            print name, (v[1] > 0 ? v[1] : "0." v[2]), $3
        }' "$1" | sort -u
}
# Versions of one crate on the same semver line (0.9.x, 1.x) must be the same in both; another
# line (embedded-io 0.6, which only embassy-rp's USB driver uses) is not an overlap.
disagree=$(join -j 1 <(locked Cargo.lock | awk '{ print $1 "@" $2, $3 }' | sort) \
    <(locked ../../Cargo.lock | awk '{ print $1 "@" $2, $3 }' | sort) | awk '$2 != $3')
if [[ -n "$disagree" ]]; then
    echo "FAILED: locked at other versions than in the main workspace (crate@line, here, there):" >&2
    echo "$disagree" >&2
    echo "lock both at one version: cargo update -p NAME --precise VERSION" >&2
    exit 1
fi
echo "$(join -j 1 <(locked Cargo.lock | awk '{ print $1 "@" $2 }' | sort) \
    <(locked ../../Cargo.lock | awk '{ print $1 "@" $2 }' | sort) | wc -l) crates in both lock files, at the same versions"

echo "--- figures, against $TABLE"
sections() { # the sum of the named sections' sizes
    "$tools/llvm-size" -A "$image" | awk -v want="$1" \
        'BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) keep[w[i]] = 1 } $1 in keep { s += $2 } END { print s + 0 }'
}
core_code() { # bytes of .text compiled from core/src, as the header of this script says
    "$tools/llvm-objdump" -d -l --section=.text --no-show-raw-insn "$image" |
        awk -v core="$(cd ../../core/src && pwd)/" '
        function hex(s,    i, n) {
            n = 0
            for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
            return n
        }
        /^[0-9a-f]+ <.*>:$/ { ours = 0; next }              # a function starts
        /^; \// {                                           # the source of what follows
            if (index($2, "/rustc/") == 1 || $2 ~ /\/(heapless|memchr)-[0-9.]+\//) next
            ours = index($2, core) == 1
            next
        }
        /^ *[0-9a-f]+:/ {                                   # an instruction: size from the next
            a = $1; sub(/:$/, "", a); address = hex(a)
            if (counting) bytes += address - previous
            previous = address; counting = ours
        }
        END { print bytes + 0 }'
}
symbol_size() { # the size of the static chatecho_w5500_evb_pico::$1
    "$tools/llvm-nm" -C -S "$image" | awk -v s="chatecho_w5500_evb_pico::$1::h" '
        function hex(x,    i, n) {
            n = 0
            for (i = 1; i <= length(x); i++) n = n * 16 + index("0123456789abcdef", substr(x, i, 1)) - 1
            return n
        }
        index($4, s) == 1 && !found { print hex($2); found = 1 }'
}
flash=$(sections ".text .rodata")
ram=$(sections ".data .bss")
core_flash=$(core_code)
core_ram=$(($(symbol_size CONFIG) + $(symbol_size SESSION_BUFFERS)))

# The table's rows, after its marker: "| what | flash | RAM |", the first number of each cell.
row() {
    awk -v m="$MARKER" -v t="| $1 " 'index($0, m) { on = 1 } on && index($0, t) == 1 { print; exit }' "$TABLE"
}
cell() { # the first number in column $2 of row $1
    awk -F'|' -v c="$2" '{ if (match($c, /[0-9]+/)) print substr($c, RSTART, RLENGTH) }' <<<"$1"
}
failed=0
compare() { # what, measured, listed
    local verdict=ok
    if [[ -z "$3" ]]; then
        verdict="FAILED: no figure in $TABLE"
        failed=1
    elif (($2 * 100 > $3 * (100 + TOLERANCE) || $2 * 100 < $3 * (100 - TOLERANCE))); then
        verdict="FAILED: more than $TOLERANCE% from the table; update $TABLE in the same commit"
        failed=1
    fi
    echo "$1: $2 B (table: ${3:-none} B) $verdict"
}
image_row=$(row "the firmware image")
core_row=$(row "chatecho-core's share")
compare "image flash (.text + .rodata)" "$flash" "$(cell "$image_row" 3)"
compare "image static RAM (.data + .bss)" "$ram" "$(cell "$image_row" 4)"
compare "chatecho-core's flash (code from core/src)" "$core_flash" "$(cell "$core_row" 3)"
compare "chatecho-core's RAM (CONFIG + SESSION_BUFFERS)" "$core_ram" "$(cell "$core_row" 4)"
exit "$failed"
