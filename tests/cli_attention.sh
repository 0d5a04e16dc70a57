#!/usr/bin/env bash
# cli_attention.sh: `clattn attention`, `clattn plan` and `clattn bench` end to end. numpy
# (/usr/bin/python3) writes random .npy inputs, the CLI runs every algorithm on them, and numpy
# checks every output element against a float64 attention; bad inputs must fail with a message.
# Skips (exit 0 with a message) when numpy is missing.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_attention

# inputs: GQA B=2 Hq=4 Hkv=2 Sq=45 Skv=67 D=40 Dv=24, a [1, Hq] mask with a fully masked row
$PY - "$T" <<'PY' || { echo "FAIL: making inputs"; exit 1; }
import sys, numpy as np
t = sys.argv[1]; rng = np.random.default_rng()
np.save(f"{t}/q.npy", rng.standard_normal((2, 4, 45, 40), dtype=np.float32))
np.save(f"{t}/k.npy", rng.standard_normal((2, 2, 67, 40), dtype=np.float32))
np.save(f"{t}/v.npy", rng.standard_normal((2, 2, 67, 24), dtype=np.float32))
m = rng.uniform(-1, 1, (1, 4, 45, 67)).astype(np.float32)
m[rng.uniform(size=m.shape) < 0.1] = -np.inf
m[0, 2, 7, :] = -np.inf
np.save(f"{t}/mask.npy", m)
np.save(f"{t}/k_bad.npy", rng.standard_normal((2, 2, 67, 39), dtype=np.float32))
PY

check() { # check NAME CAUSAL SCALE USE_MASK: compare $T/out.npy and $T/lse.npy with numpy
    $PY - "$T" "$2" "$3" "$4" <<'PY'
import sys, numpy as np
t, causal, scale, use_mask = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
q, k, v = (np.load(f"{t}/{n}.npy").astype(np.float64) for n in "qkv")
B, Hq, Sq, D = q.shape; Hkv, Skv = k.shape[1], k.shape[2]
k = np.repeat(k, Hq // Hkv, axis=1); v = np.repeat(v, Hq // Hkv, axis=1)
s = np.einsum("bhid,bhjd->bhij", q, k) * (scale if scale else 1 / np.sqrt(D))
if use_mask: s = s + np.load(f"{t}/mask.npy").astype(np.float64)
if causal:
    i = np.arange(Sq)[:, None]; j = np.arange(Skv)[None, :]
    s = np.where(j <= i + Skv - Sq, s, -np.inf)
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
assert np.allclose(go, o, rtol=1e-3, atol=2e-4), np.abs(go - o).max()
fin = np.isfinite(lse)
assert (gl[~fin] == lse[~fin]).all() and np.allclose(gl[fin], lse[fin], rtol=1e-4, atol=1e-3)
print(f"max |err| {np.abs(go - o).max():.2e}, {int((~fin).sum())} fully masked rows")
PY
}

for algo in naive flash1 flash2 auto; do
    rm -f "$T/out.npy" "$T/lse.npy"
    if "$CLI" attention --q "$T/q.npy" --k "$T/k.npy" --v "$T/v.npy" --mask "$T/mask.npy" \
        --causal --algo $algo --out "$T/out.npy" --lse "$T/lse.npy" && r=$(check x 1 0 1); then
        pass "attention --algo $algo, GQA causal + mask: $r"
    else
        fail "attention --algo $algo, GQA causal + mask"
    fi
done
rm -f "$T/out.npy" "$T/lse.npy"
if "$CLI" attention --q "$T/q.npy" --k "$T/k.npy" --v "$T/v.npy" --scale 1 --algo flash2 \
    --flavour gpu --out "$T/out.npy" --lse "$T/lse.npy" && r=$(check x 0 1 0); then
    pass "attention --scale 1 --flavour gpu, no mask: $r"
else
    fail "attention --scale 1 --flavour gpu"
fi

# refusals: a message on stderr, non-zero status, no output file
rm -f "$T/out.npy"
if "$CLI" attention --q "$T/q.npy" --k "$T/k_bad.npy" --v "$T/v.npy" --out "$T/out.npy" \
    2>"$T/err"; then
    fail "k with the wrong head dim was accepted"
elif grep -q "shape mismatch" "$T/err" && [ ! -e "$T/out.npy" ]; then
    pass "k with the wrong head dim: $(head -1 "$T/err")"
else
    fail "k with the wrong head dim: $(cat "$T/err")"
fi
"$CLI" attention --q "$T/q.npy" --k "$T/k.npy" --v "$T/v.npy" --out "$T/out.npy" \
    --algo fastest 2>"$T/err"
[ $? -eq 2 ] && pass "--algo fastest is a usage error" || fail "--algo fastest: $(cat "$T/err")"

# plan: one line of key=value pairs
line=$("$CLI" plan --batch 1 --heads 8 --kv-heads 2 --seq-q 2048 --seq-kv 2048 --dim 64 --causal)
ok=1
for key in algo= block_q= block_kv= work_group= local_mem_bytes=; do
    case "$line" in *"$key"*) ;; *) ok=0 ;; esac
done
[ $ok -eq 1 ] && pass "plan: $line" || fail "plan printed: $line"
line=$(CLATTN_LOCAL_MEM_TYPE=local CLATTN_LOCAL_MEM_BYTES=16384 "$CLI" plan --heads 1 \
    --seq-q 64 --dim 256 --algo flash2)
case "$line" in *"flavour=gpu"*) pass "plan on 16 KiB GPU local memory, D=256: $line" ;;
*) fail "plan on 16 KiB: $line" ;; esac
if "$CLI" plan --heads 1 --seq-q 65536 --dim 64 --algo naive 2>"$T/err"; then
    fail "naive plan at N=65536 was accepted"
elif grep -q "17179869184" "$T/err"; then
    pass "naive at N=65536 refused: $(head -1 "$T/err")"
else
    fail "naive at N=65536: $(cat "$T/err")"
fi

# bench: gflops= and ms= on a small problem
line=$("$CLI" bench --batch 1 --heads 2 --kv-heads 1 --seq 128 --dim 64 --causal --repeat 3)
case "$line" in *gflops=*ms=*device_bytes=*) pass "bench: $line" ;; *) fail "bench: $line" ;; esac

# bench --layout: the buffers each layout needs (io_bytes=: q, k, v, out and lse), and the float32
# K/V copies CPU flash2 makes of strided rows where 2048 query rows share them (32 heads over 2
# kv heads x 128 queries; scratch_bytes= k and v, 2 x 128 x 16 floats each), none for contiguous
# ones
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
for want in "bhsd 197632 0" "bshd 197632 0" "qkv 459776 0"; do
    read -r L io sc <<<"$want"
    line=$("$CLI" bench --batch 1 --heads 2 --kv-heads 1 --seq 128 --dim 64 --repeat 1 \
        --warmup-ms 0 --layout "$L")
    if [ "$(field layout "$line")" = "$L" ] && [ "$(field io_bytes "$line")" = "$io" ] &&
        [ "$(field scratch_bytes "$line")" = "$sc" ]; then
        pass "bench --layout $L: io_bytes=$io scratch_bytes=$sc"
    else
        fail "bench --layout $L: want io_bytes=$io scratch_bytes=$sc: $line"
    fi
done
for want in "bhsd 0" "bshd 32768" "qkv 32768"; do
    read -r L sc <<<"$want"
    line=$("$CLI" bench --batch 1 --heads 32 --kv-heads 2 --seq 128 --dim 16 --algo flash2 \
        --repeat 1 --warmup-ms 0 --layout "$L")
    if [ "$(field scratch_bytes "$line")" = "$sc" ]; then
        pass "bench --layout $L, 2048 rows per kv head: scratch_bytes=$sc"
    else
        fail "bench --layout $L, 2048 rows per kv head: want scratch_bytes=$sc: $line"
    fi
done
if "$CLI" bench --batch 1 --heads 2 --seq 8 --dim 8 --layout bsdh >"$T/out" 2>"$T/err"; then
    fail "bench --layout bsdh: accepted"
elif [ $? -eq 2 ] && grep -q "expected bhsd, bshd or qkv" "$T/err"; then
    pass "bench --layout bsdh: refused: $(cat "$T/err")"
else
    fail "bench --layout bsdh: $(cat "$T/err")"
fi

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
