#!/usr/bin/env bash
# The README's test command as a user with a plain clone meets it: `cargo test --workspace`
# in a copy of the repository's files placed where no `../shared` is beside it, with no
# `python3` on the PATH. Passes only if the suite passes there, and if the tests that need
# the seed's programs said they skipped (so the stand-alone path really ran).
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
        case "$name" in python*) continue ;; esac
        if [ -x "$program" ] && [ ! -e "$bin/$name" ]; then
            ln -s "$program" "$bin/$name"
        fi
    done
done
if PATH="$bin" command -v python3 >/dev/null; then
    echo "standalone: python3 is still on the PATH" >&2
    exit 1
fi

echo "standalone: cargo test --workspace in $copy (no ../shared, no python3)" >&2
log="$work/test.log"
(cd "$copy" && PATH="$bin" CARGO_TARGET_DIR="$target/standalone" cargo test --workspace "$@") 2>&1 |
    tee "$log"
expected="skipped the_transcripts_are_what_the_seed_answers: the seed's reference programs are not in"
if ! grep -qF "$expected" "$log"; then
    echo "standalone: the live seed tests did not say they skipped" >&2
    exit 1
fi
echo "standalone: ok ($(grep -c '^skipped ' "$log") skip lines, no failures)" >&2
