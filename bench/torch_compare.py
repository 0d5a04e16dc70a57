#!/usr/bin/env python3
"""torch_compare.py: times clattn.scaled_dot_product_attention against PyTorch's CPU
torch.nn.functional.scaled_dot_product_attention in one run, on the same torch tensors, and
prints a Markdown table (milliseconds, GFLOP/s and the ratio).

Shapes: B=1, H=8, N=2048 (queries and keys), d=64 and 128, plain and causal, float32, then a
decode step: one query row against N keys (plain; is_causal would leave it key 0 only, as
PyTorch aligns it top-left), timed over --decode-reps calls. Each case
runs --warmup calls of each, then --reps timed calls alternating clattn and torch (so machine
noise falls on both alike); the medians are reported. clattn's time is the whole Python call:
torch tensors in through DLPack, copies to the device and back (on a CPU device, memory copies
of q, k, v and out), the kernel, and a torch tensor out. FLOPs: 4*B*H*N^2*d, halved when causal.
Both outputs are compared once (max abs difference). clattn's package works on host arrays, so
a decode call also copies the whole K/V cache to the device (a memory copy on a CPU device);
PyTorch reads it in place.

usage: python bench/torch_compare.py [--reps 7] [--warmup 2] [--device SEL] [--threads N]
(needs torch and the clattn package in the same environment)
"""
import argparse
import statistics
import sys
import time

import torch

import clattn


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--dims", default="64,128")
    ap.add_argument("--decode-reps", type=int, default=51)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ctx = clattn.Context(args.device)
    F = torch.nn.functional
    B, H, N = 1, 8, args.seq
    print(f"clattn {clattn.__version__} on {ctx.device} ({ctx.caps.compute_units} compute "
          f"units); torch {torch.__version__} CPU with {torch.get_num_threads()} threads; "
          f"medians of {args.reps} calls after {args.warmup} warm-up calls\n")
    print("| d | case | clattn ms | torch ms | clattn GFLOP/s | torch GFLOP/s "
          "| torch / clattn time | max abs diff |")
    print("|---:|:---|---:|---:|---:|---:|---:|---:|")
    gen = torch.Generator().manual_seed(0)
    cases = [(d, causal, N, args.reps) for d in (int(x) for x in args.dims.split(","))
             for causal in (False, True)]
    cases += [(d, False, 1, args.decode_reps) for d in (int(x) for x in args.dims.split(","))]
    for d, causal, L, reps in cases:
        q = torch.randn(B, H, L, d, generator=gen)
        k, v = (torch.randn(B, H, N, d, generator=gen) for _ in range(2))

        def run_c():
            return clattn.scaled_dot_product_attention(q, k, v, is_causal=causal, ctx=ctx)

        def run_t():
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

        for _ in range(args.warmup):
            oc, ot = run_c(), run_t()
        tc, tt = [], []
        for _ in range(reps):
            for fn, ts in ((run_c, tc), (run_t, tt)):
                t0 = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t0)
        mc, mt = statistics.median(tc), statistics.median(tt)
        flops = 4.0 * B * H * L * N * d * (0.5 if causal else 1.0)
        diff = float((oc - ot).abs().max())
        kind = "decode (L=1)" if L == 1 else ("causal" if causal else "plain")
        fmt = ".2f" if mc < 0.01 else ".1f"
        gf = ".2f" if L == 1 else ".0f"
        print(f"| {d} | {kind} | {mc * 1e3:{fmt}} | {mt * 1e3:{fmt}} | {flops / mc / 1e9:{gf}} | "
              f"{flops / mt / 1e9:{gf}} | {mt / mc:.2f} | {diff:.1e} |", flush=True)
    ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
