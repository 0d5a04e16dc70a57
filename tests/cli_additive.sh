#!/bin/bash
# cli_additive.sh: `clattn additive` and `clattn birnn` end to end: writes random .npy inputs,
# runs the CLI, and checks the outputs against a float64 reference computed in plain Python (the
# standard library only, so the test needs no numpy); then checks that bad inputs fail with a
# clear message and write no output. Needs $CLATTN_CLI (set by CTest) or a `clattn` on PATH.
set -euo pipefail
CLI=${CLATTN_CLI:-clattn}
PY=python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The helper writes inputs (mode "make") and compares outputs (mode "check").
cat >"$work/npy.py" <<'PYEOF'
import json, math, os, random, struct, sys

def save(path, shape, data, dt="<f4"):
    fmt = {"<f4": "f", "<i4": "i", "<i8": "q"}[dt]
    d = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        dt, "".join("%d, " % s for s in shape) if len(shape) != 1 else "%d," % shape[0])
    pad = 64 - (10 + len(d) + 1) % 64
    hdr = d + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
        f.write(struct.pack("<%d%s" % (len(data), fmt), *data))

def load(path):
    b = open(path, "rb").read()
    hl = struct.unpack("<H", b[8:10])[0]
    hdr = b[10:10 + hl].decode()
    shape = tuple(int(x) for x in hdr.split("(")[1].split(")")[0].split(",") if x.strip())
    n = 1
    for s in shape: n *= s
    return shape, list(struct.unpack("<%df" % n, b[10 + hl:10 + hl + 4 * n]))

def rnd(n, s=1.0):
    return [random.uniform(-s, s) for _ in range(n)]

def additive_ref(B, T, Tq, Dk, Ds, A, K, S, WH, WS, V, BI, L):
    ctx, wts = [], []
    for b in range(B):
        kp = [[sum(WH[a * Dk + d] * K[(b * T + j) * Dk + d] for d in range(Dk)) for a in range(A)]
              for j in range(T)]
        for q in range(Tq):
            s = S[(b * Tq + q) * Ds:(b * Tq + q + 1) * Ds]
            qp = [BI[a] + sum(WS[a * Ds + d] * s[d] for d in range(Ds)) for a in range(A)]
            e = [sum(V[a] * math.tanh(kp[j][a] + qp[a]) for a in range(A)) for j in range(L[b])]
            m = max(e)
            p = [math.exp(x - m) for x in e]
            z = sum(p)
            al = [x / z for x in p] + [0.0] * (T - L[b])
            wts += al
            ctx += [sum(al[j] * K[(b * T + j) * Dk + d] for j in range(T)) for d in range(Dk)]
    return ctx, wts

def sig(x): return 1 / (1 + math.exp(-x))

def gru_ref(B, T, Din, H, X, W, L):
    out = [0.0] * (B * T * 2 * H)
    for b in range(B):
        for di, w in enumerate(W):
            wih, whh, bih, bhh = w
            h = [0.0] * H
            for s in range(L[b]):
                t = s if di == 0 else L[b] - 1 - s
                x = X[(b * T + t) * Din:(b * T + t + 1) * Din]
                g = [[bih[gi * H + j] + sum(wih[(gi * H + j) * Din + k] * x[k] for k in range(Din))
                      for j in range(H)] for gi in range(3)]
                r = [[bhh[gi * H + j] + sum(whh[(gi * H + j) * H + k] * h[k] for k in range(H))
                      for j in range(H)] for gi in range(3)]
                hn = []
                for j in range(H):
                    rr, z = sig(g[0][j] + r[0][j]), sig(g[1][j] + r[1][j])
                    n = math.tanh(g[2][j] + rr * r[2][j])
                    hn.append((1 - z) * n + z * h[j])
                h = hn
                out[(b * T + t) * 2 * H + di * H:(b * T + t) * 2 * H + (di + 1) * H] = h
    return out

def close(name, got, want, tol):
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if not abs(g - w) <= tol + 1e-3 * abs(w)]
    if len(got) != len(want) or bad:
        print("FAIL %s: %d of %d elements differ (first %s)" % (name, len(bad), len(want), bad[:3]))
        sys.exit(1)
    print("ok   %s (%d elements)" % (name, len(want)))

mode, d = sys.argv[1], sys.argv[2]
B, T, Tq, Dk, Ds, A, Din, H = 3, 11, 2, 7, 5, 9, 6, 4
L = [1, T, 6]
if mode == "make":
    random.seed(int(sys.argv[3]))
    arrs = {"keys": ([B, T, Dk], rnd(B * T * Dk)), "query": ([B, Tq, Ds], rnd(B * Tq * Ds)),
            "query1": ([B, Ds], rnd(B * Ds)), "wh": ([A, Dk], rnd(A * Dk, 0.6)),
            "ws": ([A, Ds], rnd(A * Ds, 0.6)), "v": ([A], rnd(A)), "bias": ([A], rnd(A, 0.3)),
            "x": ([B, T, Din], rnd(B * T * Din))}
    for k, (s, v) in arrs.items(): save(os.path.join(d, k + ".npy"), s, v)
    save(os.path.join(d, "len32.npy"), [B], L, "<i4")
    save(os.path.join(d, "len64.npy"), [B], L, "<i8")
    save(os.path.join(d, "len_bad.npy"), [B], [1, T + 1, 2], "<i4")
    os.makedirs(os.path.join(d, "w"))
    for di in ("fwd", "bwd"):
        for n, sh in (("w_ih", [3 * H, Din]), ("w_hh", [3 * H, H]), ("b_ih", [3 * H]), ("b_hh", [3 * H])):
            sz = 1
            for s in sh: sz *= s
            save(os.path.join(d, "w", "%s_%s.npy" % (n, di)), sh, rnd(sz, 0.5))
    os.makedirs(os.path.join(d, "wbad"))
    for f in os.listdir(os.path.join(d, "w")):
        os.link(os.path.join(d, "w", f), os.path.join(d, "wbad", f))
    os.remove(os.path.join(d, "wbad", "w_hh_bwd.npy"))
    save(os.path.join(d, "wbad", "w_hh_bwd.npy"), [3 * (H + 1), H + 1], rnd(3 * (H + 1) ** 2))
else:
    ld = lambda n: load(os.path.join(d, n + ".npy"))
    K, S, S1, WH, WS, V, BI = (ld(n)[1] for n in ("keys", "query", "query1", "wh", "ws", "v", "bias"))
    shape, c = ld("ctx"); assert shape == (B, Tq, Dk), shape
    shape, w = ld("wts"); assert shape == (B, Tq, T), shape
    rc, rw = additive_ref(B, T, Tq, Dk, Ds, A, K, S, WH, WS, V, BI, L)
    close("additive context [B,Tq,Dk] with bias and int32 lengths", c, rc, 2e-5)
    close("additive weights [B,Tq,T]", w, rw, 2e-6)
    shape, c = ld("ctx1"); assert shape == (B, Dk), shape
    shape, w = ld("wts1"); assert shape == (B, T), shape
    rc, rw = additive_ref(B, T, 1, Dk, Ds, A, K, S1, WH, WS, V, [0.0] * A, [T] * B)
    close("additive context [B,Dk], no bias, no lengths", c, rc, 2e-5)
    close("additive weights [B,T]", w, rw, 2e-6)
    X = ld("x")[1]
    W = [[ld("w/%s_%s" % (n, di))[1] for n in ("w_ih", "w_hh", "b_ih", "b_hh")] for di in ("fwd", "bwd")]
    shape, h = ld("h64"); assert shape == (B, T, 2 * H), shape
    close("birnn with int64 lengths", h, gru_ref(B, T, Din, H, X, W, L), 2e-5)
    shape, h = ld("hall"); assert shape == (B, T, 2 * H), shape
    close("birnn without lengths", h, gru_ref(B, T, Din, H, X, W, [T] * B), 2e-5)
PYEOF

d=$work
$PY "$d/npy.py" make "$d" "${CLATTN_TEST_SEED:-$RANDOM}"
$CLI additive --keys $d/keys.npy --query $d/query.npy --wh $d/wh.npy --ws $d/ws.npy --v $d/v.npy \
    --bias $d/bias.npy --lengths $d/len32.npy --context $d/ctx.npy --weights $d/wts.npy
$CLI additive --keys $d/keys.npy --query $d/query1.npy --wh $d/wh.npy --ws $d/ws.npy \
    --v $d/v.npy --context $d/ctx1.npy --weights $d/wts1.npy
$CLI birnn --x $d/x.npy --weights $d/w --lengths $d/len64.npy --out $d/h64.npy
$CLI birnn --x $d/x.npy --weights $d/w --out $d/hall.npy
$PY "$d/npy.py" check "$d"

# Bad inputs: non-zero exit, a message naming the problem, no output file.
fails=0
expect_fail() { # expect_fail PATTERN OUTPUT-FILE command...
    local pat=$1 out=$2
    shift 2
    if "$@" 2>"$d/err.txt"; then
        echo "FAIL: succeeded: $*"; fails=$((fails + 1))
    elif ! grep -q -- "$pat" "$d/err.txt"; then
        echo "FAIL: message lacks '$pat': $(cat "$d/err.txt")"; fails=$((fails + 1))
    elif [ -e "$out" ]; then
        echo "FAIL: wrote $out despite failing"; fails=$((fails + 1))
    else
        echo "ok   rejected ($pat): $(head -c 160 "$d/err.txt")"
    fi
}
expect_fail "outside 1..11" $d/bad1.npy $CLI additive --keys $d/keys.npy --query $d/query.npy \
    --wh $d/wh.npy --ws $d/ws.npy --v $d/v.npy --lengths $d/len_bad.npy --context $d/bad1.npy
expect_fail "W_s's second dim" $d/bad2.npy $CLI additive --keys $d/keys.npy --query $d/query.npy \
    --wh $d/wh.npy --ws $d/wh.npy --v $d/v.npy --context $d/bad2.npy
expect_fail "required" $d/bad3.npy $CLI additive --keys $d/keys.npy --query $d/query.npy \
    --wh $d/wh.npy --ws $d/ws.npy --context $d/bad3.npy
expect_fail "w_hh_bwd" $d/bad4.npy $CLI birnn --x $d/x.npy --weights $d/wbad --out $d/bad4.npy
expect_fail "outside 0..11" $d/bad5.npy $CLI birnn --x $d/x.npy --weights $d/w \
    --lengths $d/len_bad.npy --out $d/bad5.npy
expect_fail "no_such" $d/bad6.npy $CLI birnn --x $d/no_such.npy --weights $d/w --out $d/bad6.npy
[ $fails -eq 0 ] || { echo "$fails failed"; exit 1; }
echo "cli_additive: all passed"
