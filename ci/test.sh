#!/usr/bin/env bash
# ci/test.sh: the whole test suite, as CI runs it: install what is missing, build with -Wall
# -Wextra treated as errors, run every CTest test on the default OpenCL device (PoCL here; with
# Open MPI, which ci/deps.sh installs, the MPI tests too: label mpi, up to 4 ranks),
# the two libFuzzer targets (.npy parser, API validation/planning) briefly when clang is
# available, the Python package's pytest suite (ci/python.sh; CLATTN_CI_PYTHON=0 skips it), then
# the suite again under AddressSanitizer and UBSan (CLATTN_CI_ASAN=0 skips that
# pass) and the threaded tests under ThreadSanitizer (CLATTN_CI_TSAN=0 skips that pass).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash ci/deps.sh
CMAKE_ARGS="-DCMAKE_C_FLAGS=-Werror ${CMAKE_ARGS:-}" bash ci/build.sh
BUILD_DIR=${BUILD_DIR:-build}
(cd "$BUILD_DIR" && ctest --output-on-failure --timeout 1500 -j1)
if command -v clang >/dev/null && [ -f ci/fuzz.sh ]; then
  FUZZ_SECONDS=${FUZZ_SECONDS:-20} bash ci/fuzz.sh
fi
if [ "${CLATTN_CI_PYTHON:-1}" != 0 ]; then
  BUILD_DIR="$BUILD_DIR" bash ci/python.sh
fi
if [ "${CLATTN_CI_ASAN:-1}" != 0 ]; then
  bash ci/asan.sh
fi
if [ "${CLATTN_CI_TSAN:-1}" != 0 ]; then
  bash ci/tsan.sh
fi
echo "ci/test.sh: finished in $(( $(date +%s) - start )) s"
