#!/usr/bin/env bash
# ci/fuzz.sh: fuzzes the .npy parser. Configures a separate clang build directory with
# CLATTN_BUILD_FUZZ=ON, builds only fuzz_npy, writes a small seed corpus and a dictionary of
# header tokens, and runs libFuzzer for FUZZ_SECONDS (default 30). Exits non-zero on a crash,
# leak or sanitizer report; the crashing input is kept under <build>/fuzz-artifacts/.
#   FUZZ_SECONDS=300 ci/fuzz.sh        FUZZ_BUILD_DIR=/tmp/f ci/fuzz.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-30}

CC=clang cmake -S "$root" -B "$build" -DCLATTN_BUILD_FUZZ=ON -DCLATTN_BUILD_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz_npy -j2

seeds=$build/fuzz-seeds corpus=$build/fuzz-corpus artifacts=$build/fuzz-artifacts
mkdir -p "$seeds" "$corpus" "$artifacts"

# byte N: one raw byte (0..255) through printf's octal escape (a built format, on purpose).
# shellcheck disable=SC2059
byte() { printf "\\$(printf '%03o' "$1")"; }

# seed FILE MAJOR DICT DATA_BYTES: magic, version MAJOR.0, little-endian length, dict, data.
seed() {
    local file=$1 major=$2 dict=$3 n=$4 len=${#3}
    {
        printf '\223NUMPY'
        byte "$major"
        byte 0
        byte $((len & 255))
        byte $((len >> 8 & 255))
        if [ "$major" != 1 ]; then byte $((len >> 16 & 255)); byte $((len >> 24 & 255)); fi
        printf '%s' "$dict"
        head -c "$n" /dev/zero | tr '\0' '\074' # 0x3c bytes: 1.0 as float16 pairs
    } >"$seeds/$file"
}
d() { printf "{'descr': '%s', 'fortran_order': False, 'shape': %s, }\n" "$1" "$2"; }
seed f4_2x3 1 "$(d '<f4' '(2, 3)')" 24
seed f2_5 1 "$(d '<f2' '(5,)')" 10
seed i4_0d 1 "$(d '<i4' '()')" 4
seed i8_1x1x2 1 "$(d '<i8' '(1, 1, 2)')" 16
seed f4_empty 1 "$(d '<f4' '(0, 7)')" 0
seed f4_v2 2 "$(d '<f4' '(3,)')" 12
seed f2_v3 3 "$(d '<f2' '(2, 2)')" 8
seed dq 1 '{"shape": (2,), "descr": "<f4", "fortran_order": False}' 8
seed fortran 1 "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }" 16
seed big 1 "$(d '>f4' '(1,)')" 4
seed dims8 1 "$(d '<f2' '(1, 1, 1, 1, 1, 1, 1, 2)')" 4

cat >"$build/fuzz-npy.dict" <<'DICT'
magic="\x93NUMPY"
v1="\x01\x00"
v2="\x02\x00"
k_descr="'descr'"
k_fortran="'fortran_order'"
k_shape="'shape'"
f4="'<f4'"
f2="'<f2'"
i4="'<i4'"
i8="'<i8'"
t="True"
f="False"
colon=": "
comma=", "
big="9223372036854775807"
DICT

echo "fuzzing the .npy parser for ${seconds}s"
status=0
"$build/fuzz/fuzz_npy" -max_total_time="$seconds" -dict="$build/fuzz-npy.dict" -max_len=4096 \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "$corpus" "$seeds" || status=$?
if [ "$status" != 0 ]; then
    echo "fuzz_npy FAILED (exit $status); inputs in $artifacts:" >&2
    ls -l "$artifacts" >&2
    exit 1
fi
echo "fuzz_npy: no crash in ${seconds}s (corpus: $(find "$corpus" -type f | wc -l) inputs)"
