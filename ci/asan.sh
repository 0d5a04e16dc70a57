#!/usr/bin/env bash
# ci/asan.sh [ctest args]: builds clattn with AddressSanitizer and UBSan into build-asan and runs
# the tests there (leaks inside PoCL/LLVM/CLBlast suppressed by ci/lsan.supp; clattn's are not).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/deps.sh
BUILD_DIR=build-asan CMAKE_ARGS="-DCLATTN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug" bash ci/build.sh
# intercept_tls_get_addr=0: GCC 12's sanitizer runtime takes a dynamic TLS block that starts 16
# bytes past a page boundary for one with a pre-2.25 glibc header and reads the two words before
# it as a range (google/sanitizers#1409; upstream dropped that heuristic in April 2023), so
# LeakSanitizer's tracer can die at exit ("Tracer caught signal 11", no leak reported). It hit
# test_threads once in CI: PoCL's LLVM, dlopen'ed through the ICD loader, has thread-local data,
# so its blocks are dynamic TLS in every thread that compiles. clattn itself has no thread-local
# data, and the drivers' leaks are suppressed anyway, so not scanning dynamic TLS hides nothing
# of ours.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:intercept_tls_get_addr=0
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
