#!/usr/bin/env bash
# ci/python.sh: builds and tests the Python package as CI runs it: a virtual environment under
# the build directory (python3 -m venv), numpy, pytest and scikit-build-core from PyPI, the
# package built from this tree (`pip install ./python`, no build isolation so the build
# directory is reused; warnings are errors, as in ci/test.sh), then pytest on python/tests. Fails when any test fails or none ran
# (pytest's exit code 5). PyTorch is not installed: the torch comparisons are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
start=$(date +%s)
BUILD_DIR=${BUILD_DIR:-build}
mkdir -p "$BUILD_DIR"
build=$(cd "$BUILD_DIR" && pwd)
venv="$build/python-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --upgrade numpy pytest scikit-build-core
CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
  "$venv/bin/pip" install -q --no-build-isolation --force-reinstall --no-deps \
  -C build-dir="$build/python-build" -C cmake.define.CMAKE_C_FLAGS=-Werror ./python
# From the build directory, so `import clattn` finds the installed package, not python/clattn.
cd "$build"
"$venv/bin/python" -c "import clattn; print('ci/python.sh: clattn', clattn.__version__, 'on',
      clattn.default_context().device)"
rc=0
"$venv/bin/python" -m pytest -q -rs -p no:cacheprovider "$root/python/tests" || rc=$?
if [ "$rc" = 5 ]; then
  echo "ci/python.sh: pytest collected no tests" >&2
  exit 1
fi
if [ "$rc" != 0 ]; then
  echo "ci/python.sh: pytest failed (exit code $rc)" >&2
  exit "$rc"
fi
echo "ci/python.sh: finished in $(( $(date +%s) - start )) s"
