#!/usr/bin/env bash
# examples/demo.sh [CLATTN [BAHDANAU]]: the README's demos on the default device.
# 1. Attention: makes random grouped-query inputs with numpy, shows the dispatcher's plan, runs
#    causal attention through `clattn attention` on .npy files and checks the result against
#    numpy in float64.
# 2. Additive attention with a trained model: examples/bahdanau reverses 1000 fresh random digit
#    strings on the device with the weights in examples/bahdanau_model/, reports its accuracy and
#    how much attention lies on the anti-diagonal, and (when $PLOT_PYTHON, default python3, has
#    matplotlib) draws the learnt alignment of four strings into bahdanau_alignment.png.
set -euo pipefail
clattn=${1:-build/clattn}
bahdanau=${2:-$(dirname "$clattn")/examples/bahdanau}
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
B=2 H=8 HKV=2 SQ=203 SKV=203 D=64
$py - "$work" $B $H $HKV $SQ $SKV $D <<'PY'
import sys, numpy as np
d, B, H, HKV, SQ, SKV, D = sys.argv[1], *map(int, sys.argv[2:])
rng = np.random.default_rng()
np.save(f"{d}/q.npy", rng.standard_normal((B, H, SQ, D), dtype=np.float32))
np.save(f"{d}/k.npy", rng.standard_normal((B, HKV, SKV, D), dtype=np.float32))
np.save(f"{d}/v.npy", rng.standard_normal((B, HKV, SKV, D), dtype=np.float32))
PY
echo "== plan: B=$B heads=$H kv_heads=$HKV seq=$SQ dim=$D causal"
"$clattn" plan --batch $B --heads $H --kv-heads $HKV --seq-q $SQ --seq-kv $SKV --dim $D --causal
echo "== attention"
"$clattn" attention --q "$work/q.npy" --k "$work/k.npy" --v "$work/v.npy" \
    --out "$work/o.npy" --lse "$work/lse.npy" --causal
$py - "$work" <<'PY'
import sys, numpy as np
d = sys.argv[1]
q, k, v = (np.load(f"{d}/{n}.npy").astype(np.float64) for n in "qkv")
o, lse = np.load(f"{d}/o.npy"), np.load(f"{d}/lse.npy")
g = q.shape[1] // k.shape[1]
k, v = np.repeat(k, g, axis=1), np.repeat(v, g, axis=1)
s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1])
sq, skv = s.shape[-2:]
s[..., np.triu(np.ones((sq, skv), bool), k=1 + skv - sq)] = -np.inf
m = s.max(-1, keepdims=True)
p = np.exp(s - m)
ref = (p / p.sum(-1, keepdims=True)) @ v
ref_lse = (m + np.log(p.sum(-1, keepdims=True)))[..., 0]
err, lerr = np.abs(o - ref).max(), np.abs(lse - ref_lse).max()
print(f"out {o.shape}: max |clattn - numpy float64| = {err:.2e}; lse max error {lerr:.2e}")
sys.exit(0 if err < 1e-4 and lerr < 1e-4 else 1)
PY
echo "== trained Bahdanau encoder-decoder: reversing digit strings"
"$bahdanau" --model "$here/bahdanau_model" --samples 1000 --plot "$work/align"
plot_py=${PLOT_PYTHON:-python3}
if "$plot_py" -c "import matplotlib" 2>/dev/null; then
  "$plot_py" "$here/plot_alignment.py" --prefix "$work/align" bahdanau_alignment.png
else
  echo "(no matplotlib in $plot_py: set PLOT_PYTHON to draw the alignment)"
fi
echo "demo: ok"
