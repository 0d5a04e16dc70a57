#!/usr/bin/env bash
# ci/valgrind.sh [TEST...]: runs test executables under valgrind memcheck with the suppressions
# for PoCL/LLVM/ld.so in ci/valgrind.supp; fails on any error or definite leak left in clattn.
# A TEST named cli_*.sh is a CLI test script: it runs as CTest runs it, with every clattn and
# interleave process it starts under valgrind (wrappers in $BUILD_DIR/valgrind-NAME/bin, so two
# scripts can run at once), one log per process in $BUILD_DIR/valgrind-NAME/; it fails if the
# script fails or any log is not empty.
# Slow (PoCL's compiler under valgrind): not part of ci/test.sh; run before a release.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=$(cd "${BUILD_DIR:-build}" && pwd) # absolute: the wrappers and logs name it
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(test_runtime test_cache test_npy)
# the environment CTest gives every test (tests/CMakeLists.txt, CLATTN_TEST_ENV)
export CLATTN_CACHE_DIR=${CLATTN_CACHE_DIR:-$BUILD_DIR/test-cache}
export CLATTN_SOURCE_DIR=${CLATTN_SOURCE_DIR:-$PWD}
export CLATTN_CLI=${CLATTN_CLI:-$BUILD_DIR/clattn}
export CLATTN_INTERLEAVE=${CLATTN_INTERLEAVE:-$BUILD_DIR/interleave}
# Superblocks of at most 25 guest instructions (default 60): translating PoCL's compiled
# layer_rows kernel (test_layer) in larger ones exhausted valgrind's VEX temporary storage
# ("the 'impossible' happened"), an abort of valgrind itself, not a report about clattn.
VG=(valgrind --quiet --vex-guest-max-insns=25 --leak-check=full --errors-for-leak-kinds=definite
    --error-exitcode=9 --suppressions="$PWD/ci/valgrind.supp")

# Writes LOGDIR/bin/NAME, which runs the program at PATH under valgrind with its report in
# LOGDIR/NAME.PID.log; memcheck's --quiet leaves a clean process's log empty.
wrap() {
  local name=$1 path=$2 logdir=$3
  mkdir -p "$logdir/bin"
  {
    echo '#!/usr/bin/env bash'
    printf 'exec'
    printf ' %q' "${VG[@]}" "--log-file=$logdir/$name.%p.log" "$path"
    echo ' "$@"'
  } > "$logdir/bin/$name"
  chmod +x "$logdir/bin/$name"
}

for t in "${tests[@]}"; do
  echo "== valgrind $t"
  case $t in
  cli_*.sh)
    name=${t%.sh} logdir=$BUILD_DIR/valgrind-${t%.sh}
    rm -rf "$logdir" && mkdir -p "$logdir"
    wrap clattn "$CLATTN_CLI" "$logdir"
    wrap interleave "$CLATTN_INTERLEAVE" "$logdir"
    rc=0
    CLATTN_CLI=$logdir/bin/clattn CLATTN_INTERLEAVE=$logdir/bin/interleave \
      bash "tests/$t" > "$BUILD_DIR/valgrind-$name.log" 2>&1 || rc=$?
    reports=$(find "$logdir" -name '*.log' -size +0)
    if [ $rc -ne 0 ] || [ -n "$reports" ]; then
      tail -30 "$BUILD_DIR/valgrind-$name.log"
      for r in $reports; do echo "-- $r" && head -60 "$r"; done
      echo "FAIL: $t (script exit $rc, $(echo "$reports" | grep -c . || true) process reports)"
      exit 1
    fi
    # a process that forks (PoCL running its linker on a cold cache) leaves a log per fork too
    echo "$(tail -1 "$BUILD_DIR/valgrind-$name.log"); $(find "$logdir" -name '*.log' | wc -l)" \
      "valgrind logs (processes and their forks), all empty"
    ;;
  *)
    "${VG[@]}" "$BUILD_DIR/tests/$t" > "$BUILD_DIR/valgrind-$t.log" 2>&1 \
      || { tail -60 "$BUILD_DIR/valgrind-$t.log"; exit 1; }
    tail -1 "$BUILD_DIR/valgrind-$t.log"
    ;;
  esac
done
