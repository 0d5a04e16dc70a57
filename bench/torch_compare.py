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

With --cli PATH (for an environment that has torch but not the clattn package), clattn is
timed by the `clattn bench` program instead: each case runs --rounds rounds, each one `clattn
bench` process (its median over --reps calls: the kernel on device-resident inputs, no copies)
followed by --reps torch calls in this process; the table gives the medians over rounds and the
median of the rounds' ratios. POCL_AFFINITY=1 is set unless the environment sets it (PoCL then
pins its worker threads one per core; the CLI does the same).

usage: python bench/torch_compare.py [--reps 7] [--warmup 2] [--device SEL] [--threads N]
       python bench/torch_compare.py --cli build/clattn [--rounds 5] [--threads 2]
(needs torch, and the clattn package in the same environment unless --cli)
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

os.environ.setdefault("POCL_AFFINITY", "1")  # before clattn's first OpenCL call

import torch  # noqa: E402


def cli_main(args):
    """clattn through `clattn bench` processes, torch in this process, round by round."""
    F = torch.nn.functional
    B, H, N = 1, 8, args.seq
    up = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"clattn: {args.cli} (`clattn bench` medians of {args.reps} calls); torch "
          f"{torch.__version__} CPU with {torch.get_num_threads()} threads, medians of "
          f"{args.reps} calls; {args.rounds} rounds per case; {up}\n")
    print("| d | case | clattn ms | torch ms | clattn GFLOP/s | torch GFLOP/s "
          "| torch / clattn time (median; range over rounds) |")
    print("|---:|:---|---:|---:|---:|---:|---:|")
    gen = torch.Generator().manual_seed(0)
    for d in (int(x) for x in args.dims.split(",")):
        for causal in (False, True):
            q, k, v = (torch.randn(B, H, N, d, generator=gen) for _ in range(3))
            for _ in range(args.warmup):
                F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            cmd = [args.cli, "bench", "--batch", str(B), "--heads", str(H), "--seq", str(N),
                   "--dim", str(d), "--repeat", str(args.reps)] + (["--causal"] if causal else [])
            if args.device:
                cmd += ["--device", args.device]
            tc, tt, ratio = [], [], []
            for _ in range(args.rounds):
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                c = float(dict(re.findall(r"(\w+)=([^\s]+)", out))["ms"]) * 1e-3
                ts = []
                for _ in range(args.reps):
                    t0 = time.perf_counter()
                    F.scaled_dot_product_attention(q, k, v, is_causal=causal)
                    ts.append(time.perf_counter() - t0)
                t = statistics.median(ts)
                tc.append(c)
                tt.append(t)
                ratio.append(t / c)
            mc, mt = statistics.median(tc), statistics.median(tt)
            flops = 4.0 * B * H * N * N * d * (0.5 if causal else 1.0)
            print(f"| {d} | {'causal' if causal else 'plain'} | {mc * 1e3:.1f} | {mt * 1e3:.1f} | "
                  f"{flops / mc / 1e9:.0f} | {flops / mt / 1e9:.0f} | "
                  f"{statistics.median(ratio):.2f} ({min(ratio):.2f}-{max(ratio):.2f}) |",
                  flush=True)
    up = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"\n{up}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--dims", default="64,128")
    ap.add_argument("--decode-reps", type=int, default=51)
    ap.add_argument("--cli", default=None, help="time clattn with this `clattn` program")
    ap.add_argument("--rounds", type=int, default=5, help="--cli: rounds per case")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.cli:
        return cli_main(args)
    import clattn
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
