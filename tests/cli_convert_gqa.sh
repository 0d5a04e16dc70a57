#!/usr/bin/env bash
# cli_convert_gqa.sh: `clattn convert-gqa` end to end on layers numpy (/usr/bin/python3) writes:
# the split form with biases (head_dim_v != head_dim), a layer that already is GQA, MQA (G = 1)
# with only an output bias, G = heads (every file written back bit for bit), float16 and float64
# input, and nn.MultiheadAttention's packed form (written in the split form). Every output file's
# name,
# dtype, shape and element is checked: k/v projections and biases against a float64 numpy
# mean-pool, q/o projections and their biases equal to the input. Refusals (G not dividing the
# kv heads, a k_proj of the wrong shape, q/k/v biases given in part, --out naming the input
# folder, a missing option) exit non-zero with a message and write nothing.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_convert_gqa

# make DIR FORM E H HKV D DV QKV_BIAS OUT_BIAS [f16|f64]: random weights of a layer in DIR
make() {
    $PY - "$@" <<'PY' || { echo "FAIL: making $1"; exit 1; }
import os, sys, numpy as np
d, form = sys.argv[1], sys.argv[2]
E, H, Hkv, D, Dv, qb, ob = map(int, sys.argv[3:10])
dt = {"f16": np.float16, "f64": np.float64}.get(sys.argv[10] if len(sys.argv) > 10 else "", np.float32)
os.makedirs(d, exist_ok=True)
rng = np.random.default_rng()
def save(name, *shape):
    np.save(f"{d}/{name}.npy", rng.standard_normal(shape).astype(dt))
if form == "split":
    save("q_proj", H * D, E); save("k_proj", Hkv * D, E)
    save("v_proj", Hkv * Dv, E); save("o_proj", E, H * Dv)
    if qb: save("q_proj_bias", H * D); save("k_proj_bias", Hkv * D); save("v_proj_bias", Hkv * Dv)
    if ob: save("o_proj_bias", E)
else:
    save("in_proj_weight", 3 * E, E); save("out_proj_weight", E, E)
    if qb: save("in_proj_bias", 3 * E)
    if ob: save("out_proj_bias", E)
PY
}

# check IN OUT H G: every file of OUT against IN
check() {
    $PY - "$@" <<'PY'
import os, sys, numpy as np
src, dst, H, G = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ld = lambda d, n: np.load(f"{d}/{n}.npy")
has = lambda d, n: os.path.exists(f"{d}/{n}.npy")
if has(src, "in_proj_weight"):
    w = ld(src, "in_proj_weight").astype(np.float32); E = w.shape[1]
    want = {"q_proj": w[:E], "k_proj": w[E:2 * E], "v_proj": w[2 * E:],
            "o_proj": ld(src, "out_proj_weight").astype(np.float32)}
    if has(src, "in_proj_bias"):
        b = ld(src, "in_proj_bias").astype(np.float32)
        want.update(q_proj_bias=b[:E], k_proj_bias=b[E:2 * E], v_proj_bias=b[2 * E:])
    if has(src, "out_proj_bias"): want["o_proj_bias"] = ld(src, "out_proj_bias").astype(np.float32)
else:
    want = {n: ld(src, n).astype(np.float32) for n in
            ("q_proj", "k_proj", "v_proj", "o_proj", "q_proj_bias", "k_proj_bias",
             "v_proj_bias", "o_proj_bias") if has(src, n)}
D = want["q_proj"].shape[0] // H
Hkv = want["k_proj"].shape[0] // D
for n in ("k_proj", "v_proj", "k_proj_bias", "v_proj_bias"):
    if n in want:  # heads of rows (D or Dv), pooled in float64
        a = want[n].astype(np.float64)
        a = a.reshape(G, Hkv // G, a.shape[0] // Hkv, -1).mean(axis=1)
        want[n] = a.reshape((-1,) + want[n].shape[1:])
names = sorted(f[:-4] for f in os.listdir(dst))
assert names == sorted(want), (names, sorted(want))
for n, ref in want.items():
    got = ld(dst, n)
    assert got.dtype == np.float32 and got.shape == ref.shape, (n, got.dtype, got.shape, ref.shape)
    if ref.dtype == np.float32:  # copied, or pooled over one head
        assert np.array_equal(got, ref), n
    else:
        err = np.abs(got - ref)
        assert (err <= 1.2e-7 * np.abs(ref) + 1e-37).all(), (n, err.max())
    if G == Hkv and n.startswith(("k_", "v_")) and not has(src, "in_proj_weight"):
        assert np.array_equal(got, ld(src, n).astype(np.float32)), f"{n}: G = kv heads"
print(f"{len(want)} files checked: {', '.join(sorted(want))}")
PY
}

# run NAME IN OUT H G: convert and check
run() {
    local name=$1 in=$2 out=$3 h=$4 g=$5
    if ! msg=$("$CLI" convert-gqa --weights "$in" --heads "$h" --kv-heads "$g" --out "$out" 2>&1); then
        fail "$name: $msg"
        return
    fi
    if res=$(check "$in" "$out" "$h" "$g" 2>&1); then
        pass "$name: $res; $msg"
    else
        fail "$name: $res"
    fi
}

make "$T/mha" split 24 4 4 6 5 1 1
run "split MHA with biases, Hq=4 D=6 Dv=5 -> G=2" "$T/mha" "$T/g2" 4 2
run "split MHA with biases -> G=1 (MQA)" "$T/mha" "$T/g1" 4 1
run "split MHA with biases -> G=4 (identity)" "$T/mha" "$T/g4" 4 4
make "$T/gqa" split 20 8 4 3 7 0 1
run "GQA input (Hkv=4 of 8, E=20 D=3 Dv=7, output bias only) -> G=2" "$T/gqa" "$T/gqa2" 8 2
make "$T/half" split 16 4 4 4 4 1 0 f16
run "float16 files -> G=2 (float32 out)" "$T/half" "$T/half2" 4 2
make "$T/double" split 16 4 2 4 6 1 1 f64
run "float64 files (numpy's default) -> G=1 (float32 out)" "$T/double" "$T/double1" 4 1
make "$T/packed" packed 24 6 6 4 4 1 1
run "packed in_proj_weight with biases, E=24 H=6 -> G=3 (split out)" "$T/packed" "$T/p3" 6 3
make "$T/packed_nb" packed 16 4 4 4 4 0 0
run "packed without biases -> G=1" "$T/packed_nb" "$T/p1" 4 1

# refused ($1: name, $2: wanted exit status, $3: a word the message holds, $4: folder that must
# not appear, rest: arguments)
refused() {
    local name=$1 want=$2 word=$3 out=$4
    shift 4
    "$CLI" convert-gqa "$@" >/dev/null 2>"$T/err"
    local rc=$?
    if [ $rc -eq "$want" ] && grep -q -- "$word" "$T/err" && { [ -z "$out" ] || [ ! -e "$out" ]; }; then
        pass "refused: $name: $(head -c 300 "$T/err")"
    else
        fail "refused: $name: exit $rc: $(cat "$T/err")"
    fi
}
refused "G=3 of 4 kv heads" 1 "must divide" "$T/bad1" --weights "$T/mha" --heads 4 --kv-heads 3 --out "$T/bad1"
refused "heads 5 does not divide q_proj's rows" 1 "multiple of 5" "$T/bad2" --weights "$T/mha" --heads 5 --kv-heads 1 --out "$T/bad2"
cp -r "$T/mha" "$T/wrong"
$PY -c "import numpy as np; np.save('$T/wrong/k_proj.npy', np.zeros((24, 23), np.float32))"
refused "k_proj [24, 23] with E=24" 1 "k_proj is \[24, 23\], expected \[24, 24\]" "$T/bad3" --weights "$T/wrong" --heads 4 --kv-heads 2 --out "$T/bad3"
cp -r "$T/mha" "$T/part"
rm "$T/part/v_proj_bias.npy"
refused "q/k biases without v_proj_bias" 1 "come together" "$T/bad4" --weights "$T/part" --heads 4 --kv-heads 2 --out "$T/bad4"
refused "missing --kv-heads" 2 "kv-heads" "$T/bad5" --weights "$T/mha" --heads 4 --out "$T/bad5"
refused "no weights folder" 1 "$T/none" "$T/bad6" --weights "$T/none" --heads 4 --kv-heads 2 --out "$T/bad6"
sums=$(cat "$T"/mha/*.npy | md5sum)
refused "--out is the --weights folder" 1 "is the input" "" --weights "$T/mha" --heads 4 --kv-heads 2 --out "$T/mha"
if [ "$(cat "$T"/mha/*.npy | md5sum)" = "$sums" ] && [ "$(ls "$T/mha" | wc -l)" = 8 ]; then
    pass "the input folder is unchanged after --out named it"
else
    fail "the input folder changed: $(ls "$T/mha")"
fi

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
