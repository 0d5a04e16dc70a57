#!/usr/bin/env python3
"""additive_bench.py: times clattn's additive-attention decoder step and bidirectional GRU encoder
against numpy doing the same computation in the same run, and prints a Markdown table.

The library is driven through the clattn Python package (`pip install ./python`): each timed
step is AdditiveKeys.step on keys projected once, as a decoder loop would run it; the step
copies the query to the device and the context back (host arrays: on a CPU device these are
memory copies of B*Ds and B*Dk floats). numpy gets the same advantage: the key projection
W_h h_j + b is precomputed once for both, and the numpy step starts from arrays already in
memory. The encoder call copies x and the weights to the device each time. Medians over --reps
runs after --warmup runs. Timings on a shared machine are noisy: compare ratios.

usage: python bench/additive_bench.py [--reps 20] [--device SEL]
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

# PoCL reads it once, before clattn's first OpenCL call: its worker threads pinned one per core
# (README, "Steady timings"), as the clattn CLI does, unless the environment says otherwise.
os.environ.setdefault("POCL_AFFINITY", "1")

import clattn  # noqa: E402


def timeit(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def bench_step(ctx, rng, B, T, Dk, Ds, A, flavour, warmup, reps):
    keys = rng.standard_normal((B, T, Dk), dtype=np.float32)
    query = rng.standard_normal((B, Ds), dtype=np.float32)
    wh = (rng.standard_normal((A, Dk)) / np.sqrt(Dk)).astype(np.float32)
    ws = (rng.standard_normal((A, Ds)) / np.sqrt(Ds)).astype(np.float32)
    v = (rng.standard_normal(A) / np.sqrt(A)).astype(np.float32)
    b = (0.1 * rng.standard_normal(A)).astype(np.float32)
    lengths = np.full(B, T, dtype=np.int32)
    h = None

    def precompute():
        nonlocal h
        h = None  # the previous handle goes first
        h = clattn.AdditiveKeys(keys, wh, ws, v, b, lengths, flavour=flavour, ctx=ctx)

    t_pre = timeit(precompute, 1, max(3, reps // 4))
    plan = h.plan()
    out = None

    def step():
        nonlocal out
        out = h.step(query)

    t_step = timeit(step, warmup, reps)

    kp = None

    def np_precompute():  # numpy's key projection, kept across steps as the library keeps it
        nonlocal kp
        kp = keys @ wh.T + b

    t_np_pre = timeit(np_precompute, 1, max(3, reps // 4))

    def np_step():
        qp = query @ ws.T
        e = np.tanh(kp + qp[:, None, :]) @ v
        e -= e.max(axis=1, keepdims=True)
        p = np.exp(e)
        p /= p.sum(axis=1, keepdims=True)
        return np.einsum("bt,btd->bd", p, keys)

    t_np = timeit(np_step, warmup, reps)
    # The device result against numpy once, so the timed path is a correct one.
    err = float(np.abs(out - np_step().astype(np.float64)).max())
    return plan, t_pre, t_np_pre, t_step, t_np, err


def bench_encoder(ctx, rng, B, T, Din, H, warmup, reps):
    x = rng.standard_normal((B, T, Din), dtype=np.float32)
    k = 1 / np.sqrt(H)
    w = [[rng.uniform(-k, k, s).astype(np.float32) for s in
          ((3 * H, Din), (3 * H, H), (3 * H,), (3 * H,))] for _ in range(2)]
    names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    state = {n + sfx: a for sfx, ws in zip(("", "_reverse"), w) for n, a in zip(names, ws)}
    gru = clattn.BiGRU.from_state_dict(state, batch_first=True, ctx=ctx)

    def enc():
        gru(x)

    t = timeit(enc, warmup, reps)

    def np_enc():
        out = np.empty((B, T, 2 * H), dtype=np.float32)
        for di, (wih, whh, bih, bhh) in enumerate(w):
            gi = x @ wih.T + bih
            h = np.zeros((B, H), dtype=np.float32)
            for s in range(T):
                t_ = s if di == 0 else T - 1 - s
                gh = h @ whh.T + bhh
                g = gi[:, t_]
                r = 1 / (1 + np.exp(-(g[:, :H] + gh[:, :H])))
                z = 1 / (1 + np.exp(-(g[:, H:2 * H] + gh[:, H:2 * H])))
                n = np.tanh(g[:, 2 * H:] + r * gh[:, 2 * H:])
                h = (1 - z) * n + z * h
                out[:, t_, di * H:(di + 1) * H] = h
        return out

    t_np = timeit(np_enc, warmup, reps)
    return t, t_np


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seqs", default="50,500")
    ap.add_argument("--device", default=None, help="device selector (default: $CLATTN_DEVICE, "
                    "else the first GPU, else the first device)")
    args = ap.parse_args()
    ctx = clattn.Context(args.device)
    rng = np.random.default_rng(0)
    B, Dk, Ds, A = 32, 1024, 512, 512
    print(f"clattn {clattn.__version__} on {ctx.device}; numpy {np.__version__}; medians of "
          f"{args.reps} runs after {args.warmup} warm-up runs\n")
    print("| step B=32 Dk=1024 Ds=512 A=512 | kernel shape | clattn step (ms) | numpy step (ms) "
          "| numpy / clattn | max abs diff | precompute clattn / numpy (ms) |")
    print("|---|---|---|---|---|---|---|")
    for T in (int(s) for s in args.seqs.split(",")):
        for fl in ("auto", "cpu", "gpu"):
            plan, t_pre, t_np_pre, t, t_np, err = bench_step(ctx, rng, B, T, Dk, Ds, A, fl,
                                                             args.warmup, args.reps)
            shape = ("CPU" if plan["flavour"] == "cpu" else
                     f"GPU wg {plan['work_group']} block_t {plan['block_t']}")
            name = {"auto": "auto", "cpu": "CPU", "gpu": "GPU"}[fl]
            print(f"| T={T} ({name}) | {shape} | {t * 1e3:.2f} | {t_np * 1e3:.2f} | "
                  f"{t_np / t:.2f} | {err:.1e} | {t_pre * 1e3:.0f} / {t_np_pre * 1e3:.0f} |")
    print("\n| encoder (bidirectional GRU) | clattn (ms) | clattn tokens/s | numpy (ms) "
          "| numpy tokens/s |")
    print("|---|---|---|---|---|")
    for (Be, T, Din, H) in ((32, 50, 512, 512),):
        t, t_np = bench_encoder(ctx, rng, Be, T, Din, H, 1, max(3, args.reps // 4))
        print(f"| B={Be} T={T} Din={Din} H={H} | {t * 1e3:.1f} | {Be * T / t:.0f} | "
              f"{t_np * 1e3:.1f} | {Be * T / t_np:.0f} |")
    ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
