#!/usr/bin/env bash
# ci/asan.sh [ctest args]: builds clattn with AddressSanitizer and UBSan into build-asan and runs
# the tests there (leaks inside PoCL/LLVM/CLBlast suppressed by ci/lsan.supp; clattn's are not).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/deps.sh
BUILD_DIR=build-asan CMAKE_ARGS="-DCLATTN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug" bash ci/build.sh
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export LSAN_OPTIONS=suppressions=$PWD/ci/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# install_consumer links a plain consumer against the sanitised library: not meaningful here.
# The oclgrind tests are left out: oclgrind LD_PRELOADs its runtime, which ASan refuses (its
# runtime must come first), and they check kernels, which the first pass already ran.
(cd build-asan && ctest --output-on-failure --timeout 2400 -E install_consumer -LE 'oclgrind|mpi' "$@")
# The MPI tests (under mpirun) with full stack unwinding at every allocation: Open MPI's leaks
# are suppressed by library (ci/lsan.supp), and only whole stacks reach its libraries (slower:
# these tests only).
if [ -n "$(cd build-asan && ctest -N -L mpi | grep 'mpi_ring_np')" ]; then
  (cd build-asan && ASAN_OPTIONS=$ASAN_OPTIONS:fast_unwind_on_malloc=0 \
      LSAN_OPTIONS=$LSAN_OPTIONS:fast_unwind_on_malloc=0 \
      ctest --output-on-failure --timeout 2400 -L mpi "$@")
fi
