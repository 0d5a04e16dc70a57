#!/usr/bin/env bash
# install_consumer.sh BUILD_DIR SOURCE_DIR: installs the build into a temporary prefix, then
# builds and runs a consumer with find_package(clattn) and another with pkg-config.
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
for h in clattn clattn_core clattn_sdpa clattn_combine clattn_additive clattn_rnn clattn_rope; do
    test -f "$tmp/prefix/include/$h.h"
done
cmake -S "$src/tests/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib64:${LD_LIBRARY_PATH:-}" "$tmp/consumer/consumer"
pc=$(find "$tmp/prefix" -name clattn.pc | head -1)
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs clattn)
cc -o "$tmp/pc_consumer" "$src/tests/consumer/consumer.c" $flags
LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib64:${LD_LIBRARY_PATH:-}" "$tmp/pc_consumer"
echo "1 passed, 0 failed"
