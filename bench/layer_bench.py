#!/usr/bin/env python3
"""layer_bench.py: one attention layer's forward (q/k/v projections, attention, output projection;
no biases, no RoPE) timed by `clattn bench-layer` against PyTorch's nn.MultiheadAttention on the
CPU in the same run, and optionally against a second clattn build (--baseline-cli: another
version of the library, for before/after figures).

Cases (--cases): "decode" rows are B sequences of one token (x [B, 1, E]: the projections of a
decode step, without a cache), "prefill" rows one sequence of S tokens with causal attention.
For each case, --rounds rounds, interleaved: each round runs one `clattn bench-layer` process
(its median over --repeat device-resident calls after a warm-up), the baseline build's likewise,
then --repeat calls of the PyTorch module in this process (after one warm-up; torch.inference_mode,
eval, need_weights=False: torch.profiler shows the projections as aten::mm and the attention as
its CPU flash kernel, causal or not), median wall time, and the projections alone
as numpy (OpenBLAS) GEMMs, x [B*S, E] @ W [E, 3E] and @ W [E, E] (a floor for any layer built on
that BLAS; the attention not included). The table gives the medians
over rounds and the median of the rounds' torch / clattn ratios; GFLOP/s counts what bench-layer
counts (the four projections and 2 * (D + Dv) per head and visible (query, key) pair). Writes
--out.csv with one row per round.

POCL_AFFINITY=1 and OPENBLAS_NUM_THREADS=2 are set unless the environment sets them (the first as
the CLI does; the second before torch loads numpy). Needs torch (a venv with a
pip-installed torch); results are data, not tests.

  /tmp/tvenv/bin/python bench/layer_bench.py --cli build/clattn [--baseline-cli OLD/clattn]
"""
import argparse
import csv
import os
import re
import statistics
import subprocess
import time

os.environ.setdefault("POCL_AFFINITY", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402


def parse_cases(spec):
    """'decode:1,4;prefill:128' -> [(B, S, causal), ...]"""
    out = []
    for part in spec.split(";"):
        kind, sizes = part.split(":")
        for n in (int(v) for v in sizes.split(",")):
            out.append((n, 1, False) if kind == "decode" else (1, n, True))
    return out


def flops(B, S, E, H, causal):
    D = E // H
    proj = 2.0 * B * S * E * 4 * H * D
    pairs = S * (S + 1) / 2 if causal else S * S
    return proj + 2.0 * B * H * pairs * 2 * D


def run_cli(cli, B, S, E, H, causal, repeat):
    cmd = [cli, "bench-layer", "--batch", str(B), "--seq", str(S), "--embed", str(E),
           "--heads", str(H), "--repeat", str(repeat)] + (["--causal"] if causal else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return float(re.search(r"\bms=([\d.]+)", out).group(1))


def run_torch(mod, B, S, E, causal, repeat):
    x = torch.randn(B, S, E)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(S) if causal else None
    with torch.inference_mode():
        def call():
            return mod(x, x, x, need_weights=False, attn_mask=mask, is_causal=causal)
        call()
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def run_numpy(B, S, E, repeat, rng):
    x = rng.standard_normal((B * S, E), dtype=np.float32)
    w_qkv = rng.standard_normal((E, 3 * E), dtype=np.float32)
    w_o = rng.standard_normal((E, E), dtype=np.float32)
    x @ w_qkv, x @ w_o
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        x @ w_qkv
        x @ w_o
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--baseline-cli", help="a second clattn build, timed the same way")
    ap.add_argument("--embed", type=int, default=2048)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--cases", default="decode:1,4,16,64;prefill:128,512,2048")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="bench/results/layer_bench")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    E, H = args.embed, args.heads
    mod = torch.nn.MultiheadAttention(E, H, bias=False, batch_first=True).eval()
    up = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"clattn: {args.cli}; baseline: {args.baseline_cli or '-'}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; numpy {np.__version__}, OPENBLAS_NUM_THREADS="
          f"{os.environ['OPENBLAS_NUM_THREADS']}; E={E} H={H}; {args.rounds} rounds of "
          f"{args.repeat} calls; {up}\n")
    rows = []
    table = []
    rng = np.random.default_rng(0)
    for B, S, causal in parse_cases(args.cases):
        per = {"clattn": [], "baseline": [], "torch": [], "numpy": []}
        for r in range(args.rounds):
            per["clattn"].append(run_cli(args.cli, B, S, E, H, causal, args.repeat))
            if args.baseline_cli:
                per["baseline"].append(run_cli(args.baseline_cli, B, S, E, H, causal, args.repeat))
            per["torch"].append(run_torch(mod, B, S, E, causal, args.repeat))
            per["numpy"].append(run_numpy(B, S, E, args.repeat, rng))
            rows.append({"B": B, "S": S, "causal": int(causal), "round": r,
                         **{k + "_ms": (v[-1] if v else "") for k, v in per.items()}})
        f = flops(B, S, E, H, causal)
        med = {k: statistics.median(v) for k, v in per.items() if v}
        ratio = statistics.median(t / c for t, c in zip(per["torch"], per["clattn"]))
        base = (statistics.median(b / c for b, c in zip(per["baseline"], per["clattn"]))
                if per["baseline"] else None)
        table.append((B, S, causal, med, f, ratio, base))
    print("| B | S | causal | clattn ms | GFLOP/s | baseline ms | baseline / clattn "
          "| torch ms | GFLOP/s | torch / clattn | OpenBLAS projections ms |")
    print("|---:|---:|:--:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for B, S, causal, med, f, ratio, base in table:
        b_ms = f"{med['baseline']:.2f}" if base else "-"
        b_r = f"{base:.2f}" if base else "-"
        print(f"| {B} | {S} | {'yes' if causal else 'no'} | {med['clattn']:.2f} | "
              f"{f / med['clattn'] / 1e6:.1f} | {b_ms} | {b_r} | {med['torch']:.2f} | "
              f"{f / med['torch'] / 1e6:.1f} | {ratio:.2f} | {med['numpy']:.2f} |")
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out + ".csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"\nwrote {args.out}.csv")


if __name__ == "__main__":
    main()
