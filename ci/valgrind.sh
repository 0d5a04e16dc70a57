#!/usr/bin/env bash
# ci/valgrind.sh [TEST...]: runs test executables under valgrind memcheck with the suppressions
# for PoCL/LLVM/ld.so in ci/valgrind.supp; fails on any error or definite leak left in clattn.
# A TEST named cli_*.sh is a CLI test script: it runs as CTest runs it, with every clattn and
# interleave process it starts under valgrind (wrappers in $BUILD_DIR/valgrind-NAME/bin, so two
# scripts can run at once), one log per process in $BUILD_DIR/valgrind-NAME/; it fails if the
# script fails or any log is not empty. The MPI tests run the same way, every rank under
# valgrind with Open MPI's runtime suppressed as well (ci/valgrind-mpi.supp): mpi_ring_npN
# (test_ring_mpi with N ranks, as CTest's test of that name) and mpi/cli_ring.sh (the ring
# commands of clattn and the ring example under mpiexec).
# Slow (PoCL's compiler under valgrind): not part of ci/test.sh; run before a release.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=$(cd "${BUILD_DIR:-build}" && pwd) # absolute: the wrappers and logs name it
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(test_runtime test_cache test_npy)
# The environment CTest gives every test, as the build wrote it (tests/CMakeLists.txt,
# CLATTN_TEST_ENV); values set in the caller's environment are kept.
env_file() {
  [ -f "$BUILD_DIR/$1" ] || {
    echo "ci/valgrind.sh: $BUILD_DIR/$1 is missing ($2)" >&2
    exit 2
  }
  # shellcheck disable=SC1090 # written by CMake at configure time
  . "$BUILD_DIR/$1"
}
env_file test-env.sh "configure and build $BUILD_DIR first"
# Superblocks of at most 25 guest instructions (default 60): translating PoCL's compiled
# layer_rows kernel (test_layer) in larger ones exhausted valgrind's VEX temporary storage
# ("the 'impossible' happened"), an abort of valgrind itself, not a report about clattn.
VG=(valgrind --quiet --vex-guest-max-insns=25 --leak-check=full --errors-for-leak-kinds=definite
    --error-exitcode=9 --suppressions="$PWD/ci/valgrind.supp")
# For the MPI tests: Open MPI's own leaks and PMIx's padding, whose stacks reach MPI_Init only
# past the default 12 frames.
VG_MPI=(--num-callers=50 --suppressions="$PWD/ci/valgrind-mpi.supp")

# The environment CTest gives the MPI tests (tests/CMakeLists.txt, CLATTN_MPI_ENV): Open MPI run
# as root, more ranks than cores, one PoCL thread per rank, the launcher and its flags.
mpi_env() { env_file test-env-mpi.sh "the build has no MPI component"; }

# check_logs NAME LOGDIR RC: fails (after printing the reports) if the run's exit status RC is
# not 0 or any of its processes' logs is not empty; $BUILD_DIR/valgrind-NAME.log is its output.
check_logs() {
  local name=$1 logdir=$2 rc=$3 reports
  reports=$(find "$logdir" -name '*.log' -size +0)
  if [ "$rc" -ne 0 ] || [ -n "$reports" ]; then
    tail -30 "$BUILD_DIR/valgrind-$name.log"
    for r in $reports; do echo "-- $r" && head -60 "$r"; done
    echo "FAIL: $name (exit $rc, $(echo "$reports" | grep -c . || true) process reports)"
    return 1
  fi
  # a process that forks (PoCL running its linker on a cold cache) leaves a log per fork too
  echo "$(tail -1 "$BUILD_DIR/valgrind-$name.log"); $(find "$logdir" -name '*.log' | wc -l)" \
    "valgrind logs (processes and their forks), all empty"
}

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

# run_one TEST, in a subshell: the MPI modes change the environment and VG for their test only.
run_one() {
  local t=$1 name logdir rc run
  name=$(basename "$t" .sh)
  logdir=$BUILD_DIR/valgrind-$name
  case $t in
  cli_*.sh | mpi/cli_*.sh)
    if [[ $t == mpi/* ]]; then
      mpi_env
      VG+=("${VG_MPI[@]}")
    fi
    rm -rf "$logdir" && mkdir -p "$logdir"
    wrap clattn "$CLATTN_CLI" "$logdir"
    wrap interleave "$CLATTN_INTERLEAVE" "$logdir"
    wrap ring_attention "$BUILD_DIR/examples/ring_attention" "$logdir"
    rc=0
    CLATTN_CLI=$logdir/bin/clattn CLATTN_INTERLEAVE=$logdir/bin/interleave \
      CLATTN_RING_EXAMPLE=$logdir/bin/ring_attention \
      bash "tests/$t" > "$BUILD_DIR/valgrind-$name.log" 2>&1 || rc=$?
    check_logs "$name" "$logdir" $rc || return 1
    ;;
  mpi_ring_np[1-9])
    mpi_env
    rm -rf "$logdir" && mkdir -p "$logdir"
    # shellcheck disable=SC2206 # the launcher and its flags are words, as in tests/mpi/cli_ring.sh
    run=($CLATTN_MPIEXEC "${t#mpi_ring_np}" $CLATTN_MPIEXEC_FLAGS)
    rc=0
    "${run[@]}" "${VG[@]}" "${VG_MPI[@]}" "--log-file=$logdir/rank.%p.log" \
      "$BUILD_DIR/tests/test_ring_mpi" > "$BUILD_DIR/valgrind-$name.log" 2>&1 || rc=$?
    check_logs "$name" "$logdir" $rc || return 1
    ;;
  *)
    "${VG[@]}" "$BUILD_DIR/tests/$t" > "$BUILD_DIR/valgrind-$t.log" 2>&1 \
      || { tail -60 "$BUILD_DIR/valgrind-$t.log"; return 1; }
    tail -1 "$BUILD_DIR/valgrind-$t.log"
    ;;
  esac
}

for t in "${tests[@]}"; do
  echo "== valgrind $t"
  (run_one "$t") || exit 1
done
