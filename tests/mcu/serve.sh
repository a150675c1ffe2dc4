#!/usr/bin/env bash
# The RISC-V network firmware (tests/mcu/virt) on an emulated board, for a person or a test:
# builds it, starts QEMU's `virt` machine with a virtio-net NIC on QEMU's user network and
# host port PORT (on 127.0.0.1 only) forwarded to the firmware's port 8007, prints
# `listening on 127.0.0.1:PORT` on stdout once a client can be answered, and runs in the
# foreground until killed (Ctrl-C) or until `exit` is typed (the firmware's console is this
# script's standard input; its output goes to stderr). The exit status is QEMU's: 0 after
# `exit`, the firmware's failure code after a panic or trap.
#
#   bash tests/mcu/serve.sh 8007        # then, in another terminal: telnet 127.0.0.1 8007
#
# Options: --modern runs virtio-mmio version 2 (-global virtio-mmio.force-legacy=false)
# instead of QEMU's legacy default. Needs qemu-system-riscv32 (Debian: qemu-system-misc) and
# `rustup target add riscv32imac-unknown-none-elf`. docs/porting.md, "A complete network
# firmware", explains the command line.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

port=8007
mmio=()
while (($#)); do
    case $1 in
        --modern) mmio=(-global virtio-mmio.force-legacy=false) ;;
        -h | --help) usage; exit 0 ;;
        -*) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) port=$1 ;;
    esac
    shift
done
if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    echo "error: PORT must be a number from 1 to 65535, not '$port'" >&2
    exit 2
fi
for tool in qemu-system-riscv32 setpriv; do
    if ! command -v "$tool" >/dev/null; then
        echo "error: $tool not found (Debian: apt-get install qemu-system-misc util-linux)" >&2
        exit 1
    fi
done

cd "$(dirname "$0")/virt"
# The build's messages go to stderr: stdout carries only the listening line.
cargo build --release --quiet >&2
firmware=target/riscv32imac-unknown-none-elf/release/chatecho-virt

# QEMU is killed with this script (--pdeathsig), however the script ends. Its serial port is
# the firmware's console: input from this script's stdin, output read line by line here.
exec 3<&0
set +e
setpriv --pdeathsig KILL -- qemu-system-riscv32 \
    -machine virt -bios none -m 16M -smp 1 \
    -display none -monitor none -serial stdio \
    -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$port-:8007" \
    -device virtio-net-device,netdev=net0 "${mmio[@]}" \
    -kernel "$firmware" <&3 2>&1 |
    while IFS= read -r line; do
        printf '%s\n' "$line" >&2
        if [[ $line == "chatecho-virt: listening on "* ]]; then
            echo "listening on 127.0.0.1:$port"
        fi
    done
status=${PIPESTATUS[0]}
exit "$status"
