#!/usr/bin/env bash
# ci/tsan.sh [ctest args]: builds clattn with ThreadSanitizer (CLATTN_TSAN=ON, gcc) into
# build-tsan and runs the threaded tests there: test_threads (threads on one context and on
# several, the CLBlast lock), test_last_error (per-thread last-error messages), test_cache (its
# threads share one program cache; its child processes run instrumented too) and
# test_ring_devices (ring attention's rank threads and their mailboxes), and test_workspace (threads
# taking and giving back a context's kept scratch buffers). Any report fails
# the test (halt_on_error=1); ci/tsan.supp may only name driver internals, never clattn.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/deps.sh
BUILD_DIR=${TSAN_BUILD_DIR:-build-tsan}
cmake -S . -B "$BUILD_DIR" -DCLATTN_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target test_threads test_last_error test_cache \
    test_ring_devices test_workspace
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/ci/tsan.supp"
(cd "$BUILD_DIR" && ctest --output-on-failure --timeout 600 \
    -R '^(test_threads|test_last_error|test_cache|test_ring_devices|test_workspace)$' "$@")
