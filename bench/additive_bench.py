#!/usr/bin/env python3
"""additive_bench.py: times clattn's additive-attention decoder step and bidirectional GRU encoder
against numpy doing the same computation in the same run, and prints a Markdown table.

The library is driven through the clattn Python package (`pip install ./python`): each timed
step is AdditiveKeys.step on keys projected once, as a decoder loop would run it; the step
copies the query to the device and the context back (host arrays: on a CPU device these are
memory copies of B*Ds and B*Dk floats). numpy gets the same advantage: the key projection
W_h h_j + b is precomputed once for both, and the numpy step starts from arrays already in
memory. The encoder call copies x and the weights to the device each time.

The steps of the three kernel shapes (auto, CPU and GPU forced) and numpy's are timed in rounds,
one of each per round in an order drawn at random each round, so a change in the machine's load falls on all of them
alike; each row gives the median and the quartiles over --reps rounds after --warmup. Timings on
a shared machine are noisy: compare ratios, and rows whose quartile ranges overlap are not
distinguished by the run. "(= CPU plan)" marks an auto row whose plan is the forced CPU one: the
same kernel build, so any difference between the two rows is the machine's.

usage: python bench/additive_bench.py [--reps 20] [--device SEL] [--seqs 50,500] [--no-encoder]
"""
import argparse
import math
import os
import random
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


def interleaved(fns, warmup, reps, seed=0):
    """Times every function of the dict `fns` once per round, in an order drawn at random each
    round, so that the machine's load (others' jobs on a shared machine) falls on all of them
    alike and none always runs in the same place: a fixed rotation, which put the auto shape right
    after numpy in three rounds of four, had auto 7-9% slower than the identical CPU plan (sign
    test p = 0.02-0.04, two runs), a position effect (likely numpy's OpenBLAS threads, which
    spin for a while after a call); in random order the two agree (bench/README-additive.md).
    Returns {name: list of seconds}, in round order, over the rounds after `warmup`."""
    names = list(fns)
    order = random.Random(seed)
    samples = {n: [] for n in names}
    for r in range(warmup + reps):
        order.shuffle(names)
        for n in names:
            t0 = time.perf_counter()
            fns[n]()
            if r >= warmup:
                samples[n].append(time.perf_counter() - t0)
    return samples


def quartiles(ts):
    """Median, 25th and 75th percentiles."""
    q = statistics.quantiles(ts, n=4) if len(ts) > 1 else [ts[0]] * 3
    return q[1], q[0], q[2]


def paired(a, b):
    """Round by round a/b (the same rounds, so the same load): the median ratio, the rounds in
    which a was faster, and the two-sided sign-test p-value of that count under "neither shape
    is faster" (binomial, n rounds, 1/2)."""
    n, k = len(a), sum(x < y for x, y in zip(a, b))
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1)) / 2 ** n
    return statistics.median(x / y for x, y in zip(a, b)), k, n, min(1.0, 2 * tail)


def bench_step(ctx, rng, B, T, Dk, Ds, A, flavours, warmup, reps):
    """One row per flavour: the handles of every flavour are made on the same data and their
    steps timed interleaved with numpy's (see interleaved())."""
    keys = rng.standard_normal((B, T, Dk), dtype=np.float32)
    query = rng.standard_normal((B, Ds), dtype=np.float32)
    wh = (rng.standard_normal((A, Dk)) / np.sqrt(Dk)).astype(np.float32)
    ws = (rng.standard_normal((A, Ds)) / np.sqrt(Ds)).astype(np.float32)
    v = (rng.standard_normal(A) / np.sqrt(A)).astype(np.float32)
    b = (0.1 * rng.standard_normal(A)).astype(np.float32)
    lengths = np.full(B, T, dtype=np.int32)
    handles, t_pre = {}, {}
    for fl in flavours:
        def precompute():
            handles[fl] = None  # the previous handle goes first
            handles[fl] = clattn.AdditiveKeys(keys, wh, ws, v, b, lengths, flavour=fl, ctx=ctx)

        t_pre[fl] = timeit(precompute, 1, max(3, reps // 8))

    kp = None

    def np_precompute():  # numpy's key projection, kept across steps as the library keeps it
        nonlocal kp
        kp = keys @ wh.T + b

    t_np_pre = timeit(np_precompute, 1, max(3, reps // 8))

    def np_step():
        qp = query @ ws.T
        e = np.tanh(kp + qp[:, None, :]) @ v
        e -= e.max(axis=1, keepdims=True)
        p = np.exp(e)
        p /= p.sum(axis=1, keepdims=True)
        return np.einsum("bt,btd->bd", p, keys)

    fns = {fl: (lambda h=handles[fl]: h.step(query)) for fl in flavours}
    fns["numpy"] = np_step
    samples = interleaved(fns, warmup, reps)
    ref = np_step().astype(np.float64)
    rows = []
    for fl in flavours:
        # The device result against numpy once, so the timed path is a correct one.
        err = float(np.abs(handles[fl].step(query) - ref).max())
        rows.append((fl, handles[fl].plan(), t_pre[fl], quartiles(samples[fl]), err))
    return rows, t_np_pre, quartiles(samples["numpy"]), samples


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
    ap.add_argument("--no-encoder", action="store_true", help="time the decoder step only")
    args = ap.parse_args()
    ctx = clattn.Context(args.device)
    rng = np.random.default_rng(0)
    B, Dk, Ds, A = 32, 1024, 512, 512
    print(f"clattn {clattn.__version__} on {ctx.device}; numpy {np.__version__}; "
          f"{args.reps} rounds after {args.warmup} warm-up rounds, each round one step of every "
          f"shape and of numpy in random order; load average {os.getloadavg()[0]:.1f} at the "
          "start\n")
    print("| step B=32 Dk=1024 Ds=512 A=512 | kernel shape | clattn step (ms), median [p25-p75] "
          "| numpy step (ms) | numpy / clattn | max abs diff | precompute clattn / numpy (ms) |")
    print("|---|---|---|---|---|---|---|")
    notes = []
    for T in (int(s) for s in args.seqs.split(",")):
        rows, t_np_pre, (t_np, _, _), samples = bench_step(
            ctx, rng, B, T, Dk, Ds, A, ("auto", "cpu", "gpu"), args.warmup, args.reps)
        plans = {fl: plan for fl, plan, *_ in rows}
        for fl, plan, t_pre, (t, lo, hi), err in rows:
            shape = ("CPU" if plan["flavour"] == "cpu" else
                     f"GPU wg {plan['work_group']} block_t {plan['block_t']}")
            if fl == "auto":  # a plan equal to a forced one is the same kernel build
                same = [f for f in ("cpu", "gpu") if plans[f] == plan]
                shape += f" (= {same[0].upper()} plan)" if same else ""
            name = {"auto": "auto", "cpu": "CPU", "gpu": "GPU"}[fl]
            print(f"| T={T} ({name}) | {shape} | {t * 1e3:.2f} [{lo * 1e3:.2f}-{hi * 1e3:.2f}] | "
                  f"{t_np * 1e3:.2f} | {t_np / t:.2f} | {err:.1e} | {t_pre * 1e3:.0f} / "
                  f"{t_np_pre * 1e3:.0f} |")
        notes += [f"T={T}: auto against {f.upper()}: per round auto/{f.upper()} median "
                  f"{r:.3f}, auto faster in {k} of {n} rounds (sign test p = {p:.2f})"
                  for f in ("cpu", "gpu")
                  for r, k, n, p in [paired(samples["auto"], samples[f])]]
    print("\n" + "\n".join(notes) + f"\nload average {os.getloadavg()[0]:.1f} at the end")
    if args.no_encoder:
        ctx.close()
        return 0
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
