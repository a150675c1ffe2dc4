#!/usr/bin/env bash
# The README's test command as a user with a plain clone meets it: `cargo test --workspace`
# in a copy of the repository's files placed where no `../shared` is beside it, with no
# `python3` on the PATH, nor the programs other tests run when they are there (`haproxy`,
# `systemd-socket-activate`, `systemd-analyze`). Passes only if the suite passes there, and if
# the tests that need those programs said they skipped (so the stand-alone path really ran).
#
#   bash tests/standalone.sh             # extra arguments go to `cargo test`
#
# The copy builds into a target directory of its own (`standalone/` inside this repository's),
# kept between runs so that only the workspace's crates are built again: sharing the main one
# would let cargo take the copy's crates for the repository's, which have the same relative
# paths, and the other way round.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="$(cd "$root" && cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
copy="$work/chatecho"
mkdir "$copy"
# The files git tracks, as they are in the work tree.
git -C "$root" ls-files -z | (cd "$root" && tar --null -T - -cf -) | tar -xf - -C "$copy"
[ ! -e "$work/shared" ] || { echo "standalone: $work/shared exists" >&2; exit 1; }

# The PATH without python: every other program of every PATH directory, linked into one.
bin="$work/bin"
mkdir "$bin"
IFS=: read -ra dirs <<<"$PATH"
for dir in "${dirs[@]}"; do
    for program in "$dir"/*; do
        name="${program##*/}"
        case "$name" in
        python* | haproxy | systemd-socket-activate | systemd-analyze) continue ;;
        esac
        if [ -x "$program" ] && [ ! -e "$bin/$name" ]; then
            ln -s "$program" "$bin/$name"
        fi
    done
done
for program in python3 haproxy systemd-socket-activate systemd-analyze; do
    if PATH="$bin" command -v "$program" >/dev/null; then
        echo "standalone: $program is still on the PATH" >&2
        exit 1
    fi
done

echo "standalone: cargo test --workspace in $copy (no ../shared, no python3, haproxy or systemd tools)" >&2
log="$work/test.log"
(cd "$copy" && PATH="$bin" CARGO_TARGET_DIR="$target/standalone" cargo test --workspace "$@") 2>&1 |
    tee "$log"
expected="skipped the_transcripts_are_what_the_seed_answers: the seed's reference programs are not in"
if ! grep -qF "$expected" "$log"; then
    echo "standalone: the live seed tests did not say they skipped" >&2
    exit 1
fi
for expected in "the_protocol_cases_pass_through_haproxy_with_send_proxy_v2: haproxy is not on the PATH" \
    "socket_activated_the_server_serves_the_listener_it_is_passed_and_ignores_host_and_port: systemd-socket-activate is not on the PATH" \
    "the_unit_files_pass_systemd_analyze_verify_and_their_exposure_is_ok: systemd-analyze is not on the PATH"; do
    if ! grep -qF "skipped $expected" "$log"; then
        echo "standalone: a test did not say it skipped: $expected" >&2
        exit 1
    fi
done
echo "standalone: ok ($(grep -c '^skipped ' "$log") skip lines, no failures)" >&2
