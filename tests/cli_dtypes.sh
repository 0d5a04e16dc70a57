#!/usr/bin/env bash
# cli_dtypes.sh: storage types through `clattn attention` end to end. float16 .npy inputs keep
# half storage by default and give a float16 output; --dtype f16 narrows float32 inputs;
# --dtype bf16 narrows float32 inputs to bfloat16 (round to nearest even) and writes the output
# back as float32; a float16 mask with -inf entries (--mask-dtype default) and --mask-dtype bf16;
# under every algorithm. numpy (/usr/bin/python3) makes the inputs and checks every element
# against its own float64 attention on the values as stored, rounded to the output's type, within
# that type's precision; lse (float32) too. --kv-dtype sets k and v's storage alone (before or
# after --dtype, over it; the reference rounds k and v to it), float16 k/v files with a float32 q
# keep half K/V storage, also on the decode path. Bad --dtype / --kv-dtype values must be refused
# with no output file, --help must name --kv-dtype, and `clattn bench --dtype` / `--kv-dtype` must
# run, bench's gbps= counting the bytes of the K/V type. Skips (exit 0) when numpy is missing.
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
    if n != "q":  # a float32 q with float16 k and v
        np.save(f"{t}/{n}m.npy", x.astype(np.float16))
np.save(f"{t}/qm.npy", np.load(f"{t}/q32.npy"))
# decode-shaped: one query row per head (4 heads on 2 kv heads: 2 rows per kv head)
qd = rng.standard_normal((2, 4, 1, 40), dtype=np.float32)
for ty, sfx in ((np.float32, "d32"), (np.float16, "d16")):
    np.save(f"{t}/q{sfx}.npy", qd.astype(ty))
    for n in "kv":
        np.save(f"{t}/{n}{sfx}.npy", np.load(f"{t}/{n}32.npy").astype(ty))
m = rng.uniform(-2, 2, (1, 4, 37, 59)).astype(np.float32)
m[rng.uniform(size=m.shape) < 0.1] = -np.inf
m[0, 1, 5, :] = -np.inf
np.save(f"{t}/m16.npy", m.astype(np.float16))
PY

# bfloat16 rounding in numpy (nearest even on the dropped 16 bits) and the float64 reference.
cat >"$T/check.py" <<'PY'
import sys, numpy as np
(t, qf, kf, vf, mf, store, mstore, outf, want_dtype, causal, kvstore) = sys.argv[1:]
def bf16(x):
    u = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return r.astype(np.uint32).view(np.float32)
def stored(x, how):
    x = x.astype(np.float32)
    return {"f32": x, "f16": x.astype(np.float16).astype(np.float32), "bf16": bf16(x)}[how]
q = stored(np.load(f"{t}/{qf}.npy"), store).astype(np.float64)
k, v = (stored(np.load(f"{t}/{f}.npy"), kvstore).astype(np.float64) for f in (kf, vf))
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

# name, inputs, --dtype args, storage for the reference (q and out), mask, mask storage, output
# dtype, causal, algo, and k/v's storage when it differs from q's
run() {
    local name=$1 in=$2 dargs=$3 store=$4 mask=$5 mstore=$6 odt=$7 causal=$8 algo=$9
    local kvstore=${10:-$4}
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
        "$odt" "$causal" "$kvstore" 2>&1); then
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

# --kv-dtype: k and v alone, in either order with --dtype; float16 k/v files stay half by default.
for algo in naive flash1 flash2; do
    run kv-f16 32 "--kv-dtype f16" f32 - f32 float32 1 $algo f16
done
run kv-bf16-then-dtype-f16 32 "--kv-dtype bf16 --dtype f16" f16 - f32 float16 0 flash2 bf16
run dtype-bf16-then-kv-f32 32 "--dtype bf16 --kv-dtype f32" bf16 - f32 float32 1 flash2 f32
run f16-files-kv-bf16 16 "--kv-dtype bf16" f16 - f32 float16 0 flash2 bf16
run f32-q-f16-kv-files m "" f32 - f32 float32 1 flash2 f16
run f32-q-f16-kv-files-dtype-f32 m "--dtype f32" f32 - f32 float32 1 flash2 f32
run kv-f16 d32 "--kv-dtype f16" f32 - f32 float32 0 decode f16
run kv-bf16-causal d32 "--kv-dtype bf16" f32 - f32 float32 1 decode bf16
run f16-files-kv-f32 d16 "--kv-dtype f32" f16 - f32 float16 0 decode f32

# --help names the option in both commands.
for cmd in attention bench; do
    if "$CLI" $cmd --help 2>&1 | grep -q -- "--kv-dtype.*f32|f16|bf16"; then
        pass "$cmd --help describes --kv-dtype"
    else
        fail "$cmd --help does not describe --kv-dtype"
    fi
done

# Refusals: a bad --dtype / --kv-dtype / --mask-dtype value, no output file left behind.
for bad in "--dtype f64" "--mask-dtype half" "--kv-dtype f8"; do
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

# bench --kv-dtype: gbps= is the K/V bytes of the storage type over the median time (B=1, Hkv=2,
# Skv=4096, D=Dv=64: 4096 * 2 * 128 elements), so gbps * ms must give them back.
for kv in f32 f16 bf16; do
    line=$("$CLI" bench --heads 4 --kv-heads 2 --seq 1 --seq-kv 4096 --dim 64 --algo decode \
        --kv-dtype $kv --repeat 3 2>&1)
    if r=$($PY - "$kv" "$line" <<'PY'
import sys, re
kv, line = sys.argv[1], sys.argv[2]
f = dict(re.findall(r"(\w+)=([0-9.]+)", line))
want = 4096 * 2 * 128 * (4 if kv == "f32" else 2)
g, ms = float(f["gbps"]), float(f["ms"])
got = g * 1e9 * ms * 1e-3
# what the two printed roundings (gbps to 0.01, ms to 0.001) allow, and 1% more
slack = 0.005e9 * ms * 1e-3 + g * 1e9 * 0.0005e-3 + 0.01 * want
assert abs(got - want) <= slack, (got, want, slack)
print(f"gbps={f['gbps']} ms={f['ms']}: {got:.0f} bytes, want {want}")
PY
    ); then
        pass "bench --kv-dtype $kv: $r"
    else
        fail "bench --kv-dtype $kv: $line"
    fi
done

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ] && [ "$passes" -gt 0 ]
