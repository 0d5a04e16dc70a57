#!/usr/bin/env bash
# cli_options.sh: the attention options through `clattn attention` (and `plan`/`bench`) end to
# end: --window, --alibi (file [Hq] or [B, Hq], or the standard slopes), --softcap and
# --causal-align, alone and combined with --causal and --mask, with Sq < Skv and Sq > Skv, under
# every algorithm. numpy (/usr/bin/python3) writes random .npy inputs and checks every element of
# out and lse against its own float64 attention written below (not the library's C reference);
# rows whose every key is removed must give out 0 and lse -inf. Bad option values must be
# refused with a clear message and leave no output file. Skips (exit 0) when numpy is missing.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_options

# Two GQA problems (B=2, Hq=4, Hkv=2, D=40, Dv=24): "a" with Sq=37 < Skv=83, "b" with
# Sq=83 > Skv=37; each with a [1, Hq, Sq, Skv] mask (10% -inf), slopes [Hq] and [B, Hq].
# Bad slope files: wrong length, wrong batch, 3-d, int32, a NaN.
$PY - "$T" <<'PY' || { echo "FAIL: making inputs"; exit 1; }
import sys, numpy as np
t = sys.argv[1]; rng = np.random.default_rng()
for name, sq, skv in (("a", 37, 83), ("b", 83, 37)):
    np.save(f"{t}/{name}_q.npy", rng.standard_normal((2, 4, sq, 40), dtype=np.float32))
    np.save(f"{t}/{name}_k.npy", rng.standard_normal((2, 2, skv, 40), dtype=np.float32))
    np.save(f"{t}/{name}_v.npy", rng.standard_normal((2, 2, skv, 24), dtype=np.float32))
    m = rng.uniform(-1, 1, (1, 4, sq, skv)).astype(np.float32)
    m[rng.uniform(size=m.shape) < 0.1] = -np.inf
    np.save(f"{t}/{name}_mask.npy", m)
np.save(f"{t}/slopes_h.npy", rng.uniform(0.01, 0.5, 4).astype(np.float32))
np.save(f"{t}/slopes_bh.npy", rng.uniform(0.01, 0.5, (2, 4)).astype(np.float32))
np.save(f"{t}/slopes_5.npy", np.full(5, 0.1, np.float32))
np.save(f"{t}/slopes_3x4.npy", np.full((3, 4), 0.1, np.float32))
np.save(f"{t}/slopes_3d.npy", np.full((2, 4, 1), 0.1, np.float32))
np.save(f"{t}/slopes_int.npy", np.ones(4, np.int32))
s = np.full(4, 0.1, np.float32); s[2] = np.nan
np.save(f"{t}/slopes_nan.npy", s)
PY

# The float64 reference: scores q.k * scale, then softcap, then ALiBi and the mask, then
# causality and the window remove keys (query i sits at i' = i + Skv - Sq, or i when top-left).
cat >"$T/check.py" <<'PY'
import sys, numpy as np
(t, prob, causal, scale, mask, align, window, softcap, slopes, dead_min) = sys.argv[1:]
q, k, v = (np.load(f"{t}/{prob}_{n}.npy").astype(np.float64) for n in "qkv")
B, Hq, Sq, D = q.shape; Hkv, Skv = k.shape[1], k.shape[2]
k = np.repeat(k, Hq // Hkv, axis=1); v = np.repeat(v, Hq // Hkv, axis=1)
s = np.einsum("bhid,bhjd->bhij", q, k) * (float(scale) if float(scale) else 1 / np.sqrt(D))
if float(softcap) > 0:
    c = float(softcap); s = c * np.tanh(s / c)
i = np.arange(Sq)[:, None] + (0 if align == "top-left" else Skv - Sq)  # i'
j = np.arange(Skv)[None, :]
if slopes != "none":
    sl = (2.0 ** (-8.0 * np.arange(1, Hq + 1) / Hq) if slopes == "standard" else
          np.load(f"{t}/{slopes}").astype(np.float64))
    sl = np.broadcast_to(sl.reshape(-1, Hq), (B, Hq))
    s = s - sl[:, :, None, None] * np.abs(i - j)
if int(mask): s = s + np.load(f"{t}/{prob}_mask.npy").astype(np.float64)
keep = np.ones((Sq, Skv), bool)
if int(causal): keep &= j <= i
if window != "none":
    L, R = (int(x) for x in window.split(","))
    if L >= 0: keep &= j >= i - L
    if R >= 0: keep &= j <= i + R
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
at = np.unravel_index(err.argmax(), err.shape)
assert np.allclose(go, o, rtol=1e-3, atol=2e-4), f"max |err| {err.max():.2e} at {at}"
fin = np.isfinite(lse)
assert (gl[~fin] == lse[~fin]).all(), "rows with no key must have lse -inf (and only they)"
assert np.allclose(gl[fin], lse[fin], rtol=1e-4, atol=1e-3), np.abs(gl[fin] - lse[fin]).max()
assert (go[~fin] == 0).all(), "rows with no key must give out 0"
n_dead = int((~fin).sum())
assert n_dead >= int(dead_min), f"want >= {dead_min} rows with no key, the reference has {n_dead}"
print(f"max |err| {err.max():.2e}, {n_dead} rows with no key")
PY

# case PROB CAUSAL SCALE MASK ALIGN WINDOW SOFTCAP SLOPES DEAD_MIN LABEL: runs every algorithm
case_() {
    local prob=$1 causal=$2 scale=$3 mask=$4 align=$5 window=$6 softcap=$7 slopes=$8 dead=$9
    local label=${10}
    local args=(--q "$T/${prob}_q.npy" --k "$T/${prob}_k.npy" --v "$T/${prob}_v.npy"
        --causal-align "$align" --out "$T/out.npy" --lse "$T/lse.npy")
    [ "$causal" = 1 ] && args+=(--causal)
    [ "$scale" != 0 ] && args+=(--scale "$scale")
    [ "$mask" = 1 ] && args+=(--mask "$T/${prob}_mask.npy")
    [ "$window" != none ] && args+=(--window "$window")
    [ "$softcap" != 0 ] && args+=(--softcap "$softcap")
    case $slopes in none) ;; standard) args+=(--alibi) ;; *) args+=(--alibi "$T/$slopes") ;; esac
    local algo r
    for algo in ${ALGOS:-naive flash1 flash2}; do
        local a=(--algo "${algo%-gpu}")
        [ "$algo" != "${algo%-gpu}" ] && a+=(--flavour gpu)
        rm -f "$T/out.npy" "$T/lse.npy"
        if "$CLI" attention "${args[@]}" "${a[@]}" 2>"$T/err" &&
            r=$($PY "$T/check.py" "$T" "$prob" "$causal" "$scale" "$mask" "$align" "$window" \
                "$softcap" "$slopes" "$dead" 2>&1); then
            pass "$label, --algo $algo: $r"
        else
            fail "$label, --algo $algo: $(head -3 "$T/err")$(printf '%s' "${r:-}" | tail -1)"
        fi
        r=
    done
}

#     prob causal scale mask align window softcap slopes dead label
case_ a 0 0 0 bottom-right 5,3 0 none 0 "window 5,3 (Sq<Skv)"
case_ b 0 0 0 top-left 4,-1 0 none 0 "window 4,-1 top-left (Sq>Skv)"
case_ a 1 0 0 bottom-right 7,0 0 none 0 "window 7,0 + causal"
case_ b 1 0 0 top-left -1,2 0 none 0 "window -1,2 + causal, top-left (Sq>Skv)"
case_ a 0 0 1 bottom-right 6,-1 0 none 0 "window 6,-1 + mask"
case_ a 0 0 0 bottom-right none 0 slopes_h.npy 0 "alibi [Hq]"
case_ b 1 0 0 top-left none 0 slopes_bh.npy 0 "alibi [B, Hq] + causal, top-left (Sq>Skv)"
case_ a 0 0 0 top-left none 0 standard 0 "alibi standard slopes, top-left (Sq<Skv)"
case_ a 0 1 0 bottom-right none 2.5 none 0 "softcap 2.5 with --scale 1"
case_ b 0 0 1 bottom-right none 0.75 none 0 "softcap 0.75 + mask"
case_ a 1 0 0 top-left none 0 none 0 "causal top-left (Sq<Skv)"
case_ a 1 0 0 bottom-right none 0 none 0 "causal bottom-right (Sq<Skv)"
case_ b 1 0 0 top-left none 0 none 0 "causal top-left (Sq>Skv)"
case_ b 1 0 0 bottom-right none 0 none 368 "causal bottom-right (Sq>Skv): rows before key 0 empty"
case_ b 0 0 0 bottom-right 2,0 0 none 368 "window 2,0 bottom-right (Sq>Skv): rows before 0 empty"
case_ b 0 0 0 top-left 3,3 0 none 344 "window 3,3 top-left (Sq>Skv): rows past the keys empty"
case_ a 1 0 1 top-left 9,0 3 slopes_bh.npy 0 "all: causal, window 9,0, mask, softcap, alibi [B, Hq]"
case_ b 1 0 1 bottom-right 11,4 3 slopes_h.npy 368 "all: causal, window 11,4, mask, softcap, alibi"
ALGOS="flash1-gpu flash2-gpu" case_ a 1 0 1 top-left 9,0 3 slopes_bh.npy 0 "all, GPU flavour"

# refusals: the message on stderr, status 2 (usage) or 1 (bad file), no output file
refuse() { # refuse STATUS PATTERN LABEL ARGS...: attention on problem a must fail so
    local want=$1 pat=$2 label=$3
    shift 3
    rm -f "$T/out.npy" "$T/lse.npy"
    "$CLI" attention --q "$T/a_q.npy" --k "$T/a_k.npy" --v "$T/a_v.npy" --out "$T/out.npy" \
        --lse "$T/lse.npy" "$@" 2>"$T/err"
    local rc=$?
    if [ $rc -eq "$want" ] && grep -q -- "$pat" "$T/err" && [ ! -e "$T/out.npy" ] &&
        [ ! -e "$T/lse.npy" ]; then
        pass "$label refused: $(head -1 "$T/err")"
    else
        local left=none
        [ -e "$T/out.npy" ] || [ -e "$T/lse.npy" ] && left="an output was written"
        fail "$label: status $rc (want $want), $left: $(cat "$T/err")"
    fi
}
for w in 5 5, ,5 a,b 1.5,0 -2,0 0,-3 1,2,3 " 1,2" 99999999999999999999,0; do
    refuse 2 "expected L,R" "--window '$w'" --window "$w"
done
refuse 2 "needs a value" "--window with no value" --window
for c in 0 -1 1e300 1e-60; do refuse 2 "expected a number > 0" "--softcap $c" --softcap "$c"; done
refuse 2 "invalid value" "--softcap nan" --softcap nan
refuse 2 "invalid value" "--softcap abc" --softcap abc
refuse 2 "expected bottom-right or top-left" "--causal-align middle" --causal-align middle
refuse 2 "invalid value" "--alibi= (empty)" --alibi=
refuse 1 "expected \[Hq\] = \[4\] or \[B, Hq\] = \[2, 4\]" "--alibi [5]" --alibi "$T/slopes_5.npy"
refuse 1 "has shape \[3, 4\]" "--alibi [3, 4] with B=2" --alibi "$T/slopes_3x4.npy"
refuse 1 "has shape \[2, 4, 1\]" "--alibi 3-d" --alibi "$T/slopes_3d.npy"
refuse 1 "slopes_int.npy" "--alibi int32" --alibi "$T/slopes_int.npy"
refuse 1 "must be finite" "--alibi with a NaN" --alibi "$T/slopes_nan.npy"
refuse 1 "missing.npy" "--alibi of a missing file" --alibi "$T/missing.npy"
cp "$T/slopes_h.npy" "$T/keep.npy"
rm -f "$T/out.npy"
if "$CLI" attention --q "$T/a_q.npy" --k "$T/a_k.npy" --v "$T/a_v.npy" --alibi "$T/keep.npy" \
    --out "$T/keep.npy" 2>"$T/err"; then
    fail "--out naming the --alibi file was accepted"
elif cmp -s "$T/keep.npy" "$T/slopes_h.npy" && [ -s "$T/err" ]; then
    pass "--out naming the --alibi file refused: $(head -1 "$T/err")"
else
    fail "--out naming the --alibi file: $(cat "$T/err")"
fi

# plan and bench take the same options
line=$("$CLI" plan --batch 2 --heads 4 --kv-heads 2 --seq-q 37 --seq-kv 83 --dim 40 --causal \
    --causal-align top-left --window 9,0 --softcap 3 --alibi "$T/slopes_bh.npy" 2>"$T/err")
case "$line" in *algo=*block_q=*) pass "plan with every option: $line" ;;
*) fail "plan with every option: $line $(cat "$T/err")" ;; esac
"$CLI" plan --heads 4 --seq-q 37 --dim 40 --alibi "$T/slopes_5.npy" >/dev/null 2>"$T/err"
[ $? -eq 1 ] && grep -q "expected \[Hq\]" "$T/err" && pass "plan: bad slopes refused" ||
    fail "plan: bad slopes: $(cat "$T/err")"
line=$("$CLI" bench --heads 4 --kv-heads 2 --seq 256 --dim 64 --causal --window 31,0 --alibi \
    --softcap 30 --repeat 2 2>"$T/err")
case "$line" in *gflops=*ms=*) pass "bench --window --alibi --softcap: $line" ;;
*) fail "bench with options: $line $(cat "$T/err")" ;; esac
line=$("$CLI" bench --batch 2 --heads 4 --seq 64 --seq-kv 96 --dim 40 --causal-align top-left \
    --alibi "$T/slopes_bh.npy" --repeat 1 2>"$T/err")
case "$line" in *gflops=*ms=*) pass "bench --alibi FILE: $line" ;;
*) fail "bench --alibi FILE: $line $(cat "$T/err")" ;; esac
"$CLI" bench --heads 4 --seq 64 --dim 40 --window 3 >/dev/null 2>"$T/err"
[ $? -eq 2 ] && grep -q "expected L,R" "$T/err" && pass "bench: bad --window refused" ||
    fail "bench: bad --window: $(cat "$T/err")"

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
