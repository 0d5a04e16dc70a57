#!/usr/bin/env bash
# lib_cli.sh: the prologue the numpy-checked CLI tests (cli_attention, cli_options, cli_decode,
# cli_dtypes) share, sourced as `. "$(dirname "$0")/lib_cli.sh" NAME`: the program under test
# ($CLATTN_CLI, set by CTest), the python that makes and checks the .npy files ($CLATTN_PYTHON,
# default Debian's /usr/bin/python3, which has numpy), a skip (exit 0 with a message) when that
# python has no numpy, then lib_tally.sh (a temporary directory $T, the pass/fail tally). Not a
# cli_*.sh, so CTest does not run it as a test of its own.
CLI=${CLATTN_CLI:-clattn}
PY=${CLATTN_PYTHON:-/usr/bin/python3}
if ! $PY -c "import numpy" 2>/dev/null; then
    echo "SKIP: $PY has no numpy; ${1:-this test} needs it to make and check .npy files"
    exit 0
fi
. "$(dirname "${BASH_SOURCE[0]}")/lib_tally.sh"
