#!/usr/bin/env bash
# cli_decode.sh: the decode side of the CLI end to end. `clattn attention --algo decode` and
# `--kv-lens` (ragged batches, a length of 0 included, int32 and int64 files) on small .npy inputs
# that numpy (/usr/bin/python3) writes, every output element checked against a float64 numpy
# attention; bad --kv-lens files refused with a message and no output; `clattn bench --algo
# decode --kv-lens-random --splits` prints splits=, gbps=, tokens_per_s= and the lengths.
# Skips (exit 0 with a message) when numpy is missing; CLATTN_PYTHON names another python.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_decode

# inputs: B=3, Hq=8, Hkv=2, Sq=1 and Sq=3, Skv=77, D=40, Dv=24; lengths with a 0 and a full one
$PY - "$T" <<'PY' || { echo "FAIL: making inputs"; exit 1; }
import sys, numpy as np
t = sys.argv[1]; rng = np.random.default_rng()
for sq in (1, 3):
    np.save(f"{t}/q{sq}.npy", rng.standard_normal((3, 8, sq, 40), dtype=np.float32))
np.save(f"{t}/k.npy", rng.standard_normal((3, 2, 77, 40), dtype=np.float32))
np.save(f"{t}/v.npy", rng.standard_normal((3, 2, 77, 24), dtype=np.float32))
np.save(f"{t}/lens32.npy", np.array([5, 0, 77], dtype=np.int32))
np.save(f"{t}/lens64.npy", np.array([77, 31, 0], dtype=np.int64))
np.save(f"{t}/lens_neg.npy", np.array([5, -1, 7], dtype=np.int32))
np.save(f"{t}/lens_big.npy", np.array([5, 78, 7], dtype=np.int64))
np.save(f"{t}/lens_shape.npy", np.array([5, 6], dtype=np.int32))
np.save(f"{t}/lens_2d.npy", np.array([[5, 6, 7]], dtype=np.int32))
np.save(f"{t}/lens_float.npy", np.array([5, 6, 7], dtype=np.float32))
PY

check() { # check SQ LENS CAUSAL: compare $T/out.npy and $T/lse.npy with numpy (LENS: file or -)
    $PY - "$T" "$1" "$2" "$3" <<'PY'
import sys, numpy as np
t, sq, lens_file, causal = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
q = np.load(f"{t}/q{sq}.npy").astype(np.float64)
k, v = (np.load(f"{t}/{n}.npy").astype(np.float64) for n in "kv")
B, Hq, Sq, D = q.shape; Hkv, Skv = k.shape[1], k.shape[2]
lens = np.load(lens_file) if lens_file != "-" else np.full(B, Skv)
k = np.repeat(k, Hq // Hkv, axis=1); v = np.repeat(v, Hq // Hkv, axis=1)
s = np.einsum("bhid,bhjd->bhij", q, k) / np.sqrt(D)
j = np.arange(Skv)[None, None, None, :]
i = np.arange(Sq)[None, None, :, None]
L = lens.astype(np.int64)[:, None, None, None]
keep = j < L
if causal: keep = keep & (j <= i + L - Sq)
s = np.where(keep, s, -np.inf)
mx = s.max(-1, keepdims=True)
dead = ~np.isfinite(mx)
p = np.where(dead, 0.0, np.exp(s - np.where(dead, 0.0, mx)))
l = p.sum(-1, keepdims=True)
o = np.einsum("bhij,bhjd->bhid", p / np.where(l > 0, l, 1), v)
lse = np.where(dead[..., 0], -np.inf, (mx + np.log(np.where(l > 0, l, 1)))[..., 0])
go, gl = np.load(f"{t}/out.npy"), np.load(f"{t}/lse.npy")
assert go.dtype == np.float32 and go.shape == o.shape, (go.dtype, go.shape)
assert gl.dtype == np.float32 and gl.shape == lse.shape, (gl.dtype, gl.shape)
assert np.isfinite(go).all(), "non-finite output"
err = np.abs(go - o)
assert (err <= 2e-4 + 1e-3 * np.abs(o)).all(), err.max()
fin = np.isfinite(lse)
assert (gl[~fin] == lse[~fin]).all(), "lse of empty rows"
assert (np.abs(gl[fin] - lse[fin]) <= 1e-3 + 1e-4 * np.abs(lse[fin])).all()
print(f"max |err| {err.max():.2e}, {int((~fin).sum())} empty rows")
PY
}

run() { # run NAME SQ LENS CAUSAL [ARGS...]
    local name=$1 sq=$2 lens=$3 causal=$4
    shift 4
    local extra=()
    [ "$lens" != - ] && extra+=(--kv-lens "$lens")
    [ "$causal" = 1 ] && extra+=(--causal)
    rm -f "$T/out.npy" "$T/lse.npy"
    if "$CLI" attention --q "$T/q$sq.npy" --k "$T/k.npy" --v "$T/v.npy" --out "$T/out.npy" \
        --lse "$T/lse.npy" "${extra[@]}" "$@" && r=$(check "$sq" "$lens" "$causal"); then
        pass "$name: $r"
    else
        fail "$name"
    fi
}

run "decode, Sq=1, GQA 8/2" 1 - 0 --algo decode
run "decode, Sq=3, causal" 3 - 1 --algo decode
run "decode, --kv-lens int32 [5, 0, 77]" 1 "$T/lens32.npy" 0 --algo decode
run "decode, --kv-lens int64 [77, 31, 0], Sq=3 causal" 3 "$T/lens64.npy" 1 --algo decode
run "decode, --kv-lens, cpu flavour" 1 "$T/lens32.npy" 0 --algo decode --flavour cpu
run "decode, --kv-lens, gpu flavour" 1 "$T/lens32.npy" 0 --algo decode --flavour gpu
run "flash2, --kv-lens int32, Sq=3 causal" 3 "$T/lens32.npy" 1 --algo flash2
run "auto, --kv-lens int64" 1 "$T/lens64.npy" 0

# refusals: status 1, a message naming the problem, no output file
refuse() { # refuse FILE PATTERN
    rm -f "$T/out.npy"
    if "$CLI" attention --q "$T/q1.npy" --k "$T/k.npy" --v "$T/v.npy" --out "$T/out.npy" \
        --kv-lens "$1" --algo decode 2>"$T/err"; then
        fail "--kv-lens $(basename "$1") was accepted"
    elif grep -q "$2" "$T/err" && [ ! -e "$T/out.npy" ]; then
        pass "--kv-lens $(basename "$1") refused: $(head -1 "$T/err")"
    else
        [ -e "$T/out.npy" ] && echo "(the output was written)"
        fail "--kv-lens $(basename "$1"): $(cat "$T/err")"
    fi
}
refuse "$T/lens_neg.npy" "length -1, expected 0..77"
refuse "$T/lens_big.npy" "length 78, expected 0..77"
refuse "$T/lens_shape.npy" "shape \[2\], expected \[B\] = \[3\]"
refuse "$T/lens_2d.npy" "shape \[1, 3\], expected \[B\] = \[3\]"
refuse "$T/lens_float.npy" "expected int32 or int64"
refuse "$T/missing.npy" "kv-lens"
# the lengths file is an input: naming it as the output is refused and leaves it alone
cp "$T/lens32.npy" "$T/keep.npy"
if "$CLI" attention --q "$T/q1.npy" --k "$T/k.npy" --v "$T/v.npy" --out "$T/lens32.npy" \
    --kv-lens "$T/lens32.npy" 2>"$T/err"; then
    fail "--out naming the --kv-lens file was accepted"
elif grep -q "is the input --kv-lens" "$T/err" && cmp -s "$T/lens32.npy" "$T/keep.npy"; then
    pass "--out naming the --kv-lens file refused: $(head -1 "$T/err")"
else
    fail "--out naming the --kv-lens file: $(cat "$T/err")"
fi

# bench: the decode figures and the forced split count
line=$("$CLI" bench --batch 3 --heads 8 --kv-heads 2 --seq 1 --seq-kv 300 --dim 64 \
    --algo decode --kv-lens-random --seed 7 --splits 3 --repeat 3)
case "$line" in *algo=decode*splits=3*gbps=*tokens_per_s=*seed=7\ kv_lens=*,*,*ms=*)
    pass "bench --kv-lens-random --splits 3: $line" ;;
*) fail "bench --kv-lens-random --splits 3: $line" ;; esac
line2=$("$CLI" bench --batch 3 --heads 8 --kv-heads 2 --seq 1 --seq-kv 300 --dim 64 \
    --algo decode --kv-lens-random --seed 7 --repeat 1)
lens1=${line#*kv_lens=}
lens2=${line2#*kv_lens=}
[ "${lens1%% *}" = "${lens2%% *}" ] && pass "bench: the same seed gives the same lengths" ||
    fail "bench: seed 7 gave ${lens1%% *} and ${lens2%% *}"
"$CLI" bench --batch 1 --heads 8 --seq 64 --dim 64 --splits 2 --repeat 1 2>"$T/err" >/dev/null
if [ $? -eq 2 ] && grep -q "decode" "$T/err"; then
    pass "bench --splits off the decode path: $(cat "$T/err")"
else
    fail "bench --splits off the decode path: $(cat "$T/err")"
fi
"$CLI" bench --batch 1 --heads 8 --seq 1 --seq-kv 64 --dim 64 --splits -1 2>"$T/err" >/dev/null
if [ $? -eq 2 ]; then
    pass "bench --splits -1 is a usage error: $(cat "$T/err")"
else
    fail "bench --splits -1: $(cat "$T/err")"
fi

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
