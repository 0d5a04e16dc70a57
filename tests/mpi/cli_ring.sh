#!/usr/bin/env bash
# cli_ring.sh: the ring commands of `clattn` under mpirun, end to end (CTest: mpi_cli_ring, label
# mpi). `clattn ring-attention` with 2 and 4 ranks must write the files `clattn attention` writes
# on the same inputs, equal to float32 rounding (out and lse, every element): causal GQA on the
# zigzag layout, a window + ALiBi + softcap on the contiguous one, float16 files (float16 out);
# with a sequence too short for the chunks every rank must fail and no file appear.
# `clattn ring-bench` with 2 ranks must print a line per rank and the ring's line; the example
# (examples/ring_attention.c, $CLATTN_RING_EXAMPLE) must pass with 3 ranks.
set -u
. "$(dirname "$0")/../lib_cli.sh" cli_ring
# shellcheck disable=SC2206 # the launcher and its flags are words
MPIRUN=(${CLATTN_MPIEXEC:-mpiexec -n})
# shellcheck disable=SC2206
FLAGS=(${CLATTN_MPIEXEC_FLAGS:-})
run() { # run NP ARGS...: the CLI under mpirun with NP ranks
    local np=$1
    shift
    timeout 300 "${MPIRUN[@]}" "$np" "${FLAGS[@]}" "$@"
}

$PY - "$T" <<'PY' || { echo "FAIL: making inputs"; exit 1; }
import sys, numpy as np
t = sys.argv[1]; rng = np.random.default_rng()
np.save(f"{t}/q.npy", rng.standard_normal((2, 4, 53, 32), dtype=np.float32))
np.save(f"{t}/k.npy", rng.standard_normal((2, 2, 53, 32), dtype=np.float32))
np.save(f"{t}/v.npy", rng.standard_normal((2, 2, 53, 24), dtype=np.float32))
np.save(f"{t}/q16.npy", rng.standard_normal((1, 2, 38, 16)).astype(np.float16))
np.save(f"{t}/k16.npy", rng.standard_normal((1, 2, 38, 16)).astype(np.float16))
np.save(f"{t}/v16.npy", rng.standard_normal((1, 2, 38, 16)).astype(np.float16))
PY

same() { # same NAME RTOL: $T/o1, l1 (one device) against $T/o2, l2 (the ring), atol 2e-5
    $PY - "$T" "$2" <<'PY'
import sys, numpy as np
t, tol = sys.argv[1], float(sys.argv[2])
for a, b in (("o1", "o2"), ("l1", "l2")):
    x, y = np.load(f"{t}/{a}.npy"), np.load(f"{t}/{b}.npy")
    assert x.dtype == y.dtype and x.shape == y.shape, (a, x.dtype, y.dtype, x.shape, y.shape)
    x, y = x.astype(np.float64), y.astype(np.float64)
    both_inf = np.isinf(x) & (x == y)
    bad = ~both_inf & ~(np.abs(x - y) <= 2e-5 + tol * np.abs(x))
    assert not bad.any(), (a, np.abs(x - y)[bad].max(), bad.sum())
PY
}

compare() { # compare NAME NP TOL "RING OPTIONS" ARGS...: clattn attention ARGS vs ring-attention
    local name=$1 np=$2 tol=$3
    # shellcheck disable=SC2206 # the ring-only options are words
    local ring=($4)
    shift 4
    rm -f "$T"/o1.npy "$T"/o2.npy "$T"/l1.npy "$T"/l2.npy
    if ! "$CLI" attention "$@" --out "$T/o1.npy" --lse "$T/l1.npy" >"$T/log" 2>&1; then
        fail "$name: clattn attention: $(cat "$T/log")"
        return
    fi
    if ! run "$np" "$CLI" ring-attention "$@" "${ring[@]}" --out "$T/o2.npy" --lse "$T/l2.npy" \
        >"$T/log" 2>&1; then
        fail "$name: ring-attention -np $np: $(tail -5 "$T/log")"
        return
    fi
    if same "$name" "$tol" >"$T/log" 2>&1; then
        pass "$name: ring-attention with $np ranks writes clattn attention's result"
    else
        fail "$name: $np ranks: $(tail -3 "$T/log")"
    fi
}

IN=(--q "$T/q.npy" --k "$T/k.npy" --v "$T/v.npy")
IN16=(--q "$T/q16.npy" --k "$T/k16.npy" --v "$T/v16.npy")
for np in 2 4; do
    compare "causal GQA, zigzag" "$np" 1e-4 "" "${IN[@]}" --causal
    compare "window + ALiBi + softcap, contiguous" "$np" 1e-4 "--layout contiguous" "${IN[@]}" \
        --causal --window 9,3 --alibi --softcap 5
done
compare "float16 files: float16 out" 3 2e-3 "" "${IN16[@]}" --causal

# 7 positions cannot make the 8 zigzag chunks of 4 ranks.
$PY -c "import numpy as np, sys; np.save(sys.argv[1], np.ones((1, 1, 7, 8), np.float32))" \
    "$T/tiny.npy"
rm -f "$T/o2.npy"
if run 4 "$CLI" ring-attention --q "$T/tiny.npy" --k "$T/tiny.npy" --v "$T/tiny.npy" \
    --out "$T/o2.npy" >"$T/log" 2>&1; then
    fail "7 positions over 4 ranks (8 chunks) succeeded"
elif [ -e "$T/o2.npy" ] || ! grep -q "shorter than the 8 chunks" "$T/log"; then
    fail "7 positions over 4 ranks: wrong failure: $(cat "$T/log")"
else
    pass "7 positions over 4 ranks: every rank fails, no file, a message"
fi

if run 2 "$CLI" ring-bench --seq 96 --heads 2 --dim 16 --causal --iters 2 >"$T/log" 2>&1 &&
    grep -q "^rank=0 time_ms=.*hidden=" "$T/log" && grep -q "^rank=1 time_ms=" "$T/log" &&
    grep -q "^ring: time_ms=.*bytes=" "$T/log"; then
    pass "ring-bench with 2 ranks: $(tail -1 "$T/log")"
else
    fail "ring-bench: $(cat "$T/log")"
fi

if [ -n "${CLATTN_RING_EXAMPLE:-}" ]; then
    if run 3 "$CLATTN_RING_EXAMPLE" 1000 >"$T/log" 2>&1 && grep -q "(ok)" "$T/log"; then
        pass "examples/ring_attention with 3 ranks: $(grep "difference" "$T/log")"
    else
        fail "examples/ring_attention: $(cat "$T/log")"
    fi
fi

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
