#!/usr/bin/env bash
# cli_dtypes.sh: storage types through `clattn attention` end to end. float16 .npy inputs keep
# half storage by default and give a float16 output; --dtype f16 narrows float32 inputs;
# --dtype bf16 narrows float32 inputs to bfloat16 (round to nearest even) and writes the output
# back as float32; a float16 mask with -inf entries (--mask-dtype default) and --mask-dtype bf16;
# under every algorithm. numpy (/usr/bin/python3) makes the inputs and checks every element
# against its own float64 attention on the values as stored, rounded to the output's type, within
# that type's precision; lse (float32) too. Bad --dtype values must be refused with no output
# file, and `clattn bench --dtype` must run. Skips (exit 0) when numpy is missing.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_dtypes

# GQA, Sq = 37 < Skv = 59, D = 40, Dv = 24: float32 and float16 copies, and a float16 mask
# [1, Hq, Sq, Skv] with 10% -inf and one dead row.
$PY - "$T" <<'PY' || { echo "FAIL: making inputs"; exit 1; }
import sys, numpy as np
t = sys.argv[1]; rng = np.random.default_rng()
for n, shape in (("q", (2, 4, 37, 40)), ("k", (2, 2, 59, 40)), ("v", (2, 2, 59, 24))):
    x = rng.standard_normal(shape, dtype=np.float32)
    np.save(f"{t}/{n}32.npy", x)
    np.save(f"{t}/{n}16.npy", x.astype(np.float16))
m = rng.uniform(-2, 2, (1, 4, 37, 59)).astype(np.float32)
m[rng.uniform(size=m.shape) < 0.1] = -np.inf
m[0, 1, 5, :] = -np.inf
np.save(f"{t}/m16.npy", m.astype(np.float16))
PY

# bfloat16 rounding in numpy (nearest even on the dropped 16 bits) and the float64 reference.
cat >"$T/check.py" <<'PY'
import sys, numpy as np
(t, qf, kf, vf, mf, store, mstore, outf, want_dtype, causal) = sys.argv[1:]
def bf16(x):
    u = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return r.astype(np.uint32).view(np.float32)
def stored(x, how):
    x = x.astype(np.float32)
    return {"f32": x, "f16": x.astype(np.float16).astype(np.float32), "bf16": bf16(x)}[how]
q, k, v = (stored(np.load(f"{t}/{f}.npy"), store).astype(np.float64) for f in (qf, kf, vf))
B, Hq, Sq, D = q.shape; Hkv, Skv = k.shape[1], k.shape[2]
k = np.repeat(k, Hq // Hkv, axis=1); v = np.repeat(v, Hq // Hkv, axis=1)
s = np.einsum("bhid,bhjd->bhij", q, k) / np.sqrt(D)
if mf != "-":
    s = s + stored(np.load(f"{t}/{mf}.npy"), mstore).astype(np.float64)
if causal == "1":
    i = np.arange(Sq)[:, None] + Skv - Sq
    s = np.where(np.arange(Skv)[None, :] <= i, s, -np.inf)
mx = s.max(-1, keepdims=True)
dead = ~np.isfinite(mx)
e = np.where(dead, 0.0, np.exp(s - np.where(dead, 0.0, mx)))
l = e.sum(-1, keepdims=True)
o = np.where(l > 0, np.einsum("bhij,bhjd->bhid", e, v) / np.where(l > 0, l, 1), 0.0)
lse = np.where(l[..., 0] > 0, np.log(np.where(l[..., 0] > 0, l[..., 0], 1)) + mx[..., 0], -np.inf)
got = np.load(f"{t}/{outf}.npy"); gl = np.load(f"{t}/{outf}_lse.npy")
if got.dtype != np.dtype(want_dtype):
    sys.exit(f"out dtype {got.dtype}, expected {want_dtype}")
ref = stored(o, store).astype(np.float64)
rtol, atol = {"f32": (1e-3, 2e-4), "f16": (1e-3, 2e-4), "bf16": (8e-3, 1e-3)}[store]
err = np.abs(got.astype(np.float64) - ref) - (atol + rtol * np.abs(ref))
if not np.all(err <= 0) or np.isnan(got).any():
    sys.exit(f"out: worst excess {np.nanmax(err):.3g}")
ok = (np.isneginf(lse) & np.isneginf(gl)) | (np.abs(gl - lse) <= 1e-3 + 1e-4 * np.abs(lse))
if not ok.all():
    sys.exit("lse differs")
if mf != "-" and not (np.all(got[0, 1, 5] == 0) and np.isneginf(gl[0, 1, 5])):
    sys.exit("the dead row is not 0 / -inf")
PY

# name, inputs, --dtype args, storage for the reference, mask, mask storage, output dtype, causal
run() {
    local name=$1 in=$2 dargs=$3 store=$4 mask=$5 mstore=$6 odt=$7 causal=$8 algo=$9
    local margs=() cargs=()
    [ "$mask" != "-" ] && margs=(--mask "$T/$mask.npy")
    [ "$causal" = 1 ] && cargs=(--causal)
    local o="o_${name}_$algo"
    # shellcheck disable=SC2086
    if ! "$CLI" attention --q "$T/q$in.npy" --k "$T/k$in.npy" --v "$T/v$in.npy" \
        --out "$T/$o.npy" --lse "$T/${o}_lse.npy" --algo "$algo" $dargs "${margs[@]}" \
        "${cargs[@]}" >"$T/log" 2>&1; then
        fail "$algo: $name: attention failed: $(cat "$T/log")"
        return
    fi
    if msg=$($PY "$T/check.py" "$T" "q$in" "k$in" "v$in" "$mask" "$store" "$mstore" "$o" \
        "$odt" "$causal" 2>&1); then
        pass "$algo: $name"
    else
        fail "$algo: $name: $msg"
    fi
}

for algo in naive flash1 flash2; do
    run f16-files 16 "" f16 - f32 float16 1 $algo
    run f16-files-f32 16 "--dtype f32" f32 - f32 float32 0 $algo
    run f32-to-f16 32 "--dtype f16" f16 - f32 float16 1 $algo
    run bf16 32 "--dtype bf16" bf16 - f32 float32 1 $algo
    run f16-mask 32 "" f32 m16 f16 float32 0 $algo
    run bf16-mask-bf16 32 "--dtype bf16 --mask-dtype bf16" bf16 m16 bf16 float32 0 $algo
done

# Refusals: a bad --dtype / --mask-dtype value, no output file left behind.
for bad in "--dtype f64" "--mask-dtype half"; do
    # shellcheck disable=SC2086
    if "$CLI" attention --q "$T/q32.npy" --k "$T/k32.npy" --v "$T/v32.npy" --out "$T/bad.npy" \
        $bad >"$T/log" 2>&1; then
        fail "$bad accepted"
    elif [ -e "$T/bad.npy" ] || ! grep -q "expected f32, f16 or bf16" "$T/log"; then
        fail "$bad: refused without the message, or left an output: $(cat "$T/log")"
    else
        pass "$bad refused"
    fi
done

# bench --dtype: runs and reports a plan.
for dt in f16 bf16; do
    if "$CLI" bench --heads 2 --seq 64 --dim 32 --dtype $dt --repeat 1 >"$T/log" 2>&1 &&
        grep -q "gflops=" "$T/log"; then
        pass "bench --dtype $dt"
    else
        fail "bench --dtype $dt: $(cat "$T/log")"
    fi
done

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ] && [ "$passes" -gt 0 ]
