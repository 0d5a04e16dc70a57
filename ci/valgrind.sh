#!/usr/bin/env bash
# ci/valgrind.sh [TEST...]: runs test executables under valgrind memcheck with the suppressions
# for PoCL/LLVM/ld.so in ci/valgrind.supp; fails on any error or definite leak left in clattn.
# Slow (PoCL's compiler under valgrind): not part of ci/test.sh; run before a release.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(test_runtime test_cache test_npy)
# the environment CTest gives every test (tests/CMakeLists.txt, CLATTN_TEST_ENV)
export CLATTN_CACHE_DIR=${CLATTN_CACHE_DIR:-$PWD/$BUILD_DIR/test-cache}
export CLATTN_SOURCE_DIR=${CLATTN_SOURCE_DIR:-$PWD}
export CLATTN_CLI=${CLATTN_CLI:-$PWD/$BUILD_DIR/clattn}
export CLATTN_INTERLEAVE=${CLATTN_INTERLEAVE:-$PWD/$BUILD_DIR/interleave}
# Superblocks of at most 25 guest instructions (default 60): translating PoCL's compiled
# layer_rows kernel (test_layer) in larger ones exhausted valgrind's VEX temporary storage
# ("the 'impossible' happened"), an abort of valgrind itself, not a report about clattn.
for t in "${tests[@]}"; do
  echo "== valgrind $t"
  valgrind --quiet --vex-guest-max-insns=25 --leak-check=full --errors-for-leak-kinds=definite \
    --error-exitcode=9 \
    --suppressions=ci/valgrind.supp "$BUILD_DIR/tests/$t" > "$BUILD_DIR/valgrind-$t.log" 2>&1 \
    || { tail -60 "$BUILD_DIR/valgrind-$t.log"; exit 1; }
  tail -1 "$BUILD_DIR/valgrind-$t.log"
done
