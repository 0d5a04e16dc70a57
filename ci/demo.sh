#!/usr/bin/env bash
# ci/demo.sh: the README's main job: install what is missing, build, check the kernels on the
# default device (`clattn selftest`), list the devices, then run the attention demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/deps.sh
bash ci/build.sh
BUILD_DIR=${BUILD_DIR:-build}
"$BUILD_DIR/clattn" selftest
"$BUILD_DIR/clattn" devices
if [ -f examples/demo.sh ]; then bash examples/demo.sh "$BUILD_DIR/clattn"; fi
