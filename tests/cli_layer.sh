#!/usr/bin/env bash
# cli_layer.sh: `clattn layer` end to end on .npy files numpy (/usr/bin/python3) writes, every
# output element checked against a float64 numpy layer written here (projections, biases, RoPE in
# both pairings, GQA, causal): split weights with biases; GQA with NeoX RoPE; the packed
# nn.MultiheadAttention names with GPT-J RoPE; float16 storage. Bad input refused with a message
# and no output: E not a multiple of the heads, weights of the wrong shape for --kv-heads, a
# missing folder, bad option values. `clattn bench-layer`: its output and its refusals. Skips
# (exit 0 with a message) when numpy is missing.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_layer

# weights: E=48, H=6 (D=8): split/ (MHA, biases), gqa/ (G=2, no biases), packed/ (MHA, biases)
$PY - "$T" <<'PY' || { echo "FAIL: making inputs"; exit 1; }
import os, sys, numpy as np
t = sys.argv[1]; rng = np.random.default_rng()
E, H = 48, 6
def w(*shape, fan=E): return (rng.standard_normal(shape) / np.sqrt(fan)).astype(np.float32)
np.save(f"{t}/x.npy", rng.standard_normal((2, 7, E), dtype=np.float32))
for name, G, bias in (("split", 6, True), ("gqa", 2, False)):
    os.mkdir(f"{t}/{name}")
    D = E // H
    p = {"q_proj": w(H * D, E), "k_proj": w(G * D, E), "v_proj": w(G * D, E), "o_proj": w(E, E)}
    if bias:
        p.update({n + "_bias": w(p[n].shape[0]) for n in list(p)})
    for n, a in p.items(): np.save(f"{t}/{name}/{n}.npy", a)
os.mkdir(f"{t}/packed")
for n, a in {"in_proj_weight": w(3 * E, E), "out_proj_weight": w(E, E),
             "in_proj_bias": w(3 * E), "out_proj_bias": w(E)}.items():
    np.save(f"{t}/packed/{n}.npy", a)
PY

check() { # check DIR HEADS KV_HEADS THETA STYLE CAUSAL TOL: $T/y.npy against numpy
    $PY - "$T" "$@" <<'PY'
import os, sys, numpy as np
t, d, H, G, theta, style, causal, tol = sys.argv[1:]
H, G, theta, causal, tol = int(H), int(G), float(theta), int(causal), float(tol)
load = lambda n: np.load(f"{t}/{d}/{n}.npy").astype(np.float64) if os.path.exists(f"{t}/{d}/{n}.npy") else None
x = np.load(f"{t}/x.npy").astype(np.float64)
B, S, E = x.shape; D = E // H
if load("in_proj_weight") is not None:
    Wq, Wk, Wv = np.split(load("in_proj_weight"), 3)
    bq, bk, bv = np.split(load("in_proj_bias"), 3)
    Wo, bo = load("out_proj_weight"), load("out_proj_bias")
else:
    Wq, Wk, Wv, Wo = (load(n) for n in ("q_proj", "k_proj", "v_proj", "o_proj"))
    bq, bk, bv, bo = (load(n + "_bias") for n in ("q_proj", "k_proj", "v_proj", "o_proj"))
def proj(W, b, heads):
    y = x @ W.T + (0 if b is None else b)
    return y.reshape(B, S, heads, D).transpose(0, 2, 1, 3)
def rope(a):
    if theta == 0: return a
    ang = np.arange(S)[:, None] * theta ** (-2.0 * np.arange(D // 2) / D)[None, :]
    c, s = np.cos(ang), np.sin(ang)
    x0, x1 = (a[..., : D // 2], a[..., D // 2 :]) if style == "neox" else (a[..., 0::2], a[..., 1::2])
    r0, r1 = x0 * c - x1 * s, x0 * s + x1 * c
    out = np.empty_like(a)
    if style == "neox": out[..., : D // 2], out[..., D // 2 :] = r0, r1
    else: out[..., 0::2], out[..., 1::2] = r0, r1
    return out
q, k, v = rope(proj(Wq, bq, H)), rope(proj(Wk, bk, G)), proj(Wv, bv, G)
k, v = np.repeat(k, H // G, axis=1), np.repeat(v, H // G, axis=1)
s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(D)
if causal: s = np.where(np.tril(np.ones((S, S), bool)), s, -np.inf)
p = np.exp(s - s.max(-1, keepdims=True)); p /= p.sum(-1, keepdims=True)
y = (p @ v).transpose(0, 2, 1, 3).reshape(B, S, E) @ Wo.T + (0 if bo is None else bo)
got = np.load(f"{t}/y.npy")
assert got.dtype == np.float32 and got.shape == y.shape, (got.dtype, got.shape)
err = np.abs(got - y)
assert (err <= tol + tol * np.abs(y)).all(), err.max()
print(f"max |err| {err.max():.2e}")
PY
}

run() { # run NAME DIR HEADS KV_HEADS THETA STYLE CAUSAL TOL [ARGS...]
    local name=$1 dir=$2 heads=$3 kv=$4 theta=$5 style=$6 causal=$7 tol=$8
    shift 8
    local extra=()
    [ "$theta" != 0 ] && extra+=(--rope-theta "$theta" --rope-style "$style")
    [ "$causal" = 1 ] && extra+=(--causal)
    rm -f "$T/y.npy"
    if "$CLI" layer --x "$T/x.npy" --weights "$T/$dir" --heads "$heads" --kv-heads "$kv" \
        --out "$T/y.npy" "${extra[@]}" "$@" &&
        r=$(check "$dir" "$heads" "$kv" "$theta" "$style" "$causal" "$tol"); then
        pass "$name: $r"
    else
        fail "$name"
    fi
}

run "split weights with biases, causal" split 6 6 0 - 1 2e-5
run "GQA 6/2, NeoX RoPE, causal" gqa 6 2 10000 neox 1 2e-5
run "packed in_proj_weight, GPT-J RoPE" packed 6 6 500 gptj 0 2e-5
run "GQA 6/2, NeoX RoPE, float16 storage" gqa 6 2 10000 neox 1 5e-3 --dtype f16

refused() { # refused NAME WANT_RC NEEDLE ARGS...: no output, exit WANT_RC, stderr has NEEDLE
    local name=$1 want=$2 needle=$3
    shift 3
    rm -f "$T/y.npy"
    "$CLI" layer "$@" >/dev/null 2>"$T/err"
    local rc=$?
    if [ $rc -eq "$want" ] && [ ! -e "$T/y.npy" ] && grep -q -- "$needle" "$T/err"; then
        pass "$name refused: $(head -c 300 "$T/err")"
    else
        fail "$name: exit $rc, $(cat "$T/err")"
    fi
}

common=(--x "$T/x.npy" --out "$T/y.npy")
refused "E 48 over 5 heads" 1 "not a multiple" "${common[@]}" --weights "$T/split" --heads 5
refused "k_proj of 2 kv heads loaded as 3" 1 "k_proj.npy has shape \[16, 48\]" "${common[@]}" \
    --weights "$T/gqa" --heads 6 --kv-heads 3
refused "a folder without weights" 1 "neither q_proj.npy" "${common[@]}" --weights "$T" \
    --heads 6
refused "--rope-style foo" 2 "neox or gptj" "${common[@]}" --weights "$T/split" --heads 6 \
    --rope-theta 10000 --rope-style foo
refused "no --heads" 2 "heads" "${common[@]}" --weights "$T/split"

# bench-layer: its two lines (the resolved shape; the timing, GFLOP/s consistent with ms= and
# the FLOP count its header gives, to the printed digits: the ms implied by gflops= is within
# rounding of ms=) for a small GQA layer, causal, float16 storage; bad options refused.
want_flops=$((2 * 3 * 5 * 40 * (4 * 10 + 2 * 2 * 10 + 4 * 10) + 2 * 3 * 4 * 15 * 2 * 10))
if out=$($CLI bench-layer --batch 3 --seq 5 --embed 40 --heads 4 --kv-heads 2 --causal \
    --dtype f16 --repeat 2) &&
    [[ $(head -1 <<<"$out") == "batch=3 seq=5 embed=40 heads=4 kv_heads=2 head_dim=10 causal=1 dtype=f16 timing="* ]] &&
    [[ $(tail -1 <<<"$out") =~ ^gflops=([0-9.]+)\ ms=([0-9.]+)\ min_ms=[0-9.]+\ max_ms=[0-9.]+\ tokens_per_s=[0-9]+$ ]] &&
    $PY -c "import sys; g, ms, f = map(float, sys.argv[1:]); m = f / (g * 1e6); sys.exit(abs(m - ms) > 5e-4 + m * 5e-3 / g + 1e-9)" \
        "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "$want_flops"; then
    pass "bench-layer: $(tr '\n' ' ' <<<"$out")"
else
    fail "bench-layer printed '$out' (want $want_flops FLOPs)"
fi
bench_refused() { # bench_refused WANT_RC NEEDLE ARGS...
    local want=$1 needle=$2
    shift 2
    "$CLI" bench-layer "$@" >/dev/null 2>"$T/err"
    local rc=$?
    if [ $rc -eq "$want" ] && grep -q -- "$needle" "$T/err"; then
        pass "bench-layer $* refused: $(head -c 200 "$T/err")"
    else
        fail "bench-layer $*: exit $rc, $(cat "$T/err")"
    fi
}
bench_refused 2 "seq must be" --seq 0 --embed 48 --heads 6
bench_refused 2 "heads" --seq 4 --embed 48
bench_refused 1 "not a multiple" --seq 4 --embed 48 --heads 5
bench_refused 1 "not a multiple of kv_heads" --seq 4 --embed 48 --heads 6 --kv-heads 4

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
