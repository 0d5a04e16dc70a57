#!/usr/bin/env bash
# lib_tally.sh: what every shell test shares, sourced as `. "$(dirname "$0")/lib_tally.sh"`: a
# temporary directory $T removed on exit, and the pass/fail tally (end with
# `echo "$passes passed, $fails failed"; [ "$fails" = 0 ]`). lib_cli.sh sources it for the
# numpy-checked CLI tests; tests that need no numpy (cli_interleave) source it alone. Not a
# cli_*.sh, so CTest does not run it as a test of its own.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
passes=0
pass() {
    echo "ok  : $*"
    passes=$((passes + 1))
}
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
