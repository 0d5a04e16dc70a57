#!/usr/bin/env bash
# cli_rnn.sh: `clattn birnn` with the general RNN end to end on .npy files numpy
# (/usr/bin/python3) writes, every element of out, h_n and c_n checked against a float64 numpy
# GRU/LSTM written here: one GRU layer saved under nn.GRU's state_dict names and under the older
# w_ih_fwd.npy names (the two runs must agree exactly, with lengths 0 and T); a 2-layer
# bidirectional LSTM with h0/c0 and lengths; a 3-layer forward-only GRU without biases; each
# recurrence flavour forced. Bad input refused with a message naming the problem and no output:
# a missing layer file, a mis-shaped bias, --layers or --cell disagreeing with the files, c0 for
# a GRU. `clattn bench-rnn` on a small stack (its output format; bad options refused). Skips
# (exit 0 with a message) when numpy is missing.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_rnn

$PY - "$T" <<'PY' || { echo "FAIL: making inputs"; exit 1; }
import os, shutil, sys, numpy as np
t = sys.argv[1]; rng = np.random.default_rng()
B, T, Din = 3, 6, 5
np.save(f"{t}/x.npy", rng.standard_normal((B, T, Din)).astype(np.float32))
np.save(f"{t}/len.npy", np.array([T, 0, 4], dtype=np.int32))
def make(name, G, H, L, nd, bias):
    os.mkdir(f"{t}/{name}")
    for l in range(L):
        din = Din if l == 0 else nd * H
        for d in range(nd):
            s = "_reverse" if d else ""
            u = lambda *sh: rng.uniform(-1, 1, sh).astype(np.float32) / np.sqrt(H)
            np.save(f"{t}/{name}/weight_ih_l{l}{s}.npy", u(G * H, din))
            np.save(f"{t}/{name}/weight_hh_l{l}{s}.npy", u(G * H, H))
            if bias:
                np.save(f"{t}/{name}/bias_ih_l{l}{s}.npy", u(G * H))
                np.save(f"{t}/{name}/bias_hh_l{l}{s}.npy", u(G * H))
make("gru1", 3, 4, 1, 2, True)
make("lstm2", 4, 7, 2, 2, True)
make("gru3", 3, 9, 3, 1, False)
os.mkdir(f"{t}/old")
for new, old in (("weight_ih_l0", "w_ih_fwd"), ("weight_hh_l0", "w_hh_fwd"),
                 ("bias_ih_l0", "b_ih_fwd"), ("bias_hh_l0", "b_hh_fwd")):
    shutil.copy(f"{t}/gru1/{new}.npy", f"{t}/old/{old}.npy")
    shutil.copy(f"{t}/gru1/{new}_reverse.npy", f"{t}/old/{old.replace('fwd', 'bwd')}.npy")
np.save(f"{t}/h0.npy", rng.uniform(-1, 1, (4, B, 7)).astype(np.float32))
np.save(f"{t}/c0.npy", rng.uniform(-1, 1, (4, B, 7)).astype(np.float32))
shutil.copytree(f"{t}/lstm2", f"{t}/missing"); os.remove(f"{t}/missing/weight_hh_l1.npy")
shutil.copytree(f"{t}/gru1", f"{t}/badbias")
np.save(f"{t}/badbias/bias_ih_l0.npy", np.zeros(11, np.float32))
PY

check() { # check DIR LSTM: out.npy, hn.npy (and cn.npy) in $T against numpy, lengths len.npy
    $PY - "$T" "$@" <<'PY'
import os, sys, numpy as np
t, name, lstm = sys.argv[1], sys.argv[2], int(sys.argv[3])
x = np.load(f"{t}/x.npy").astype(np.float64); B, T, _ = x.shape
lens = np.load(f"{t}/len.npy") if os.path.exists(f"{t}/uselen") else np.full(B, T)
ld = lambda n: np.load(f"{t}/{name}/{n}.npy").astype(np.float64) if os.path.exists(f"{t}/{name}/{n}.npy") else None
nd = 2 if ld("weight_ih_l0_reverse") is not None else 1
L = 1
while ld(f"weight_ih_l{L}") is not None: L += 1
H = ld("weight_hh_l0").shape[1]
h0 = np.load(f"{t}/h0.npy").astype(np.float64) if os.path.exists(f"{t}/useh0") else np.zeros((L * nd, B, H))
c0 = np.load(f"{t}/c0.npy").astype(np.float64) if os.path.exists(f"{t}/useh0") and lstm else np.zeros((L * nd, B, H))
sg = lambda v: 1 / (1 + np.exp(-v))
inp = x; hn = np.zeros((L * nd, B, H)); cn = np.zeros((L * nd, B, H))
for l in range(L):
    o = np.zeros((B, T, nd * H))
    for d in range(nd):
        s = "_reverse" if d else ""
        Wi, Wh = ld(f"weight_ih_l{l}{s}"), ld(f"weight_hh_l{l}{s}")
        bi = ld(f"bias_ih_l{l}{s}"); bh = ld(f"bias_hh_l{l}{s}")
        bi = np.zeros(Wi.shape[0]) if bi is None else bi; bh = np.zeros(Wi.shape[0]) if bh is None else bh
        for b in range(B):
            h = h0[l * nd + d, b].copy(); c = c0[l * nd + d, b].copy()
            for st in range(lens[b]):
                tt = st if d == 0 else lens[b] - 1 - st
                gx = Wi @ inp[b, tt] + bi; gh = Wh @ h + bh
                if lstm:
                    i, f, g, oo = np.split(gx + gh, 4)
                    c = sg(f) * c + sg(i) * np.tanh(g); h = sg(oo) * np.tanh(c)
                else:
                    r = sg(gx[:H] + gh[:H]); z = sg(gx[H:2*H] + gh[H:2*H])
                    n = np.tanh(gx[2*H:] + r * gh[2*H:]); h = (1 - z) * n + z * h
                o[b, tt, d * H:(d + 1) * H] = h
            hn[l * nd + d, b] = h; cn[l * nd + d, b] = c
    inp = o
got = {"out": inp, "hn": hn}
if lstm: got["cn"] = cn
bad = []
for n, ref in got.items():
    a = np.load(f"{t}/{n}.npy")
    if a.shape != ref.shape or not np.allclose(a, ref, atol=2e-5, rtol=1e-4):
        bad.append(f"{n} {a.shape} vs {ref.shape}, max err {np.abs(a - ref).max() if a.shape == ref.shape else 'shape'}")
    if n == "out":  # padding exactly 0
        for b in range(B):
            if np.any(a[b, lens[b]:] != 0): bad.append(f"padding of row {b} not 0")
print("; ".join(bad) if bad else f"{n} ok ({L} layers, {nd} directions)")
sys.exit(1 if bad else 0)
PY
}

run_check() { # run_check WHAT DIR LSTM birnn-options...
    local what=$1 dir=$2 lstm=$3
    shift 3
    rm -f "$T/out.npy" "$T/hn.npy" "$T/cn.npy"
    if ! $CLI birnn --x "$T/x.npy" --weights "$T/$dir" --out "$T/out.npy" --h-n "$T/hn.npy" "$@"; then
        fail "$what: clattn birnn failed"
    elif msg=$(check "$dir" "$lstm"); then
        pass "$what: $msg"
    else
        fail "$what: $msg"
    fi
}

touch "$T/uselen"
run_check "GRU, nn.GRU names, lengths 6 0 4" gru1 0 --lengths "$T/len.npy" --cell gru --layers 1
cp "$T/out.npy" "$T/out_torch.npy"
if ! $CLI birnn --x "$T/x.npy" --weights "$T/old" --lengths "$T/len.npy" --out "$T/out_old.npy"; then
    fail "GRU, older names: clattn birnn failed"
elif cmp -s "$T/out_old.npy" "$T/out_torch.npy"; then
    pass "the older names give the same bytes as the nn.GRU names"
else
    fail "the older names and the nn.GRU names differ"
fi
touch "$T/useh0"
for algo in persistent step; do
    run_check "LSTM 2 layers, h0 c0, $algo" lstm2 1 --lengths "$T/len.npy" --h0 "$T/h0.npy" \
        --c0 "$T/c0.npy" --c-n "$T/cn.npy" --algo $algo --cell lstm --layers 2
done
rm -f "$T/useh0" "$T/uselen"
for algo in persistent step; do
    run_check "GRU 3 layers forward only, no biases, $algo" gru3 0 --unidirectional --algo $algo
done

expect_fail() { # expect_fail PATTERN birnn-options...: non-zero exit, the message, no output
    local pat=$1
    shift
    rm -f "$T/bad.npy"
    if $CLI birnn --x "$T/x.npy" --out "$T/bad.npy" "$@" 2>"$T/err.txt"; then
        fail "succeeded: $*"
    elif ! grep -q -- "$pat" "$T/err.txt"; then
        fail "message lacks '$pat': $(cat "$T/err.txt")"
    elif [ -e "$T/bad.npy" ]; then
        fail "wrote an output despite failing: $*"
    else
        pass "rejected ($pat): $(head -c 160 "$T/err.txt")"
    fi
}
expect_fail "weight_hh_l1.npy" --weights "$T/missing"
expect_fail "bias_ih_l0.npy has shape \[11\], expected \[12\]" --weights "$T/badbias"
expect_fail "holds 2 layer" --weights "$T/lstm2" --layers 3
expect_fail "are an lstm" --weights "$T/lstm2" --cell gru
expect_fail "for an LSTM" --weights "$T/gru1" --c0 "$T/c0.npy"
expect_fail "holds the _reverse" --weights "$T/gru1" --unidirectional
expect_fail "must be \[4, 3, 7\]" --weights "$T/lstm2" --h0 "$T/x.npy"

# bench-rnn: a small LSTM stack, both flavours, prints ms= and tokens_per_s=.
for algo in persistent step; do
    if line=$($CLI bench-rnn --cell lstm --batch 2 --seq 3 --input 4 --hidden 5 --layers 2 \
        --repeat 1 --algo $algo | tail -1) && [[ $line =~ ^ms=[0-9.]+\ tokens_per_s=[0-9]+$ ]]; then
        pass "bench-rnn --algo $algo: $line"
    else
        fail "bench-rnn --algo $algo printed '$line'"
    fi
done
expect_bench_fail() { # refused options: non-zero exit and the message
    if $CLI bench-rnn "$@" 2>"$T/err.txt" >/dev/null || ! grep -q -- "$1" "$T/err.txt"; then
        fail "bench-rnn $*: $(cat "$T/err.txt")"
    else
        pass "bench-rnn refuses $*"
    fi
}
expect_bench_fail --batch 0 --seq 3 --input 4 --hidden 5
expect_bench_fail --cell rnn --batch 1 --seq 3 --input 4 --hidden 5

echo "cli_rnn: $passes passed, $fails failed"
[ $fails -eq 0 ]
