#!/usr/bin/env python3
"""layout_bench.py: what a caller's tensor layout costs. The same attention (B=1, Hq = Hkv = H,
Sq = Skv = N, float32, flash2) with q, k, v and out contiguous (bhsd: the library's best case and
this benchmark's baseline), as [B, S, H, D] (bshd: PyTorch's and most models' order), or with the
q/k/v rows as far apart as in a packed q/k/v projection (qkv: the attention layer's views), timed
by bench/interleave.c (the `interleave` program of a build) call by call in one process, the
three layouts taking turns, so that each ratio compares calls made within milliseconds of each
other (the development VM's speed drifts by up to 2x between processes and over seconds).
With --baseline-interleave, a second build's `interleave` (another version of the library) runs
the same points in its own process right after, for before/after figures: its layout costs are
against its own bhsd, whose path the staging of strided K/V does not touch.

For each point, the table gives the bhsd call's median ms and each strided layout's cost, its time
over bhsd's (the median over rounds of the per-round ratio; 1.00 = free), for this build and the
baseline. interleave also checks that every layout's output matches bhsd's (max_diff, printed
when not 0). Writes --out.csv with one row per (build, point, layout).

POCL_AFFINITY=1 is set by interleave unless the environment sets it. Needs only python3;
results are data, not tests.

  python3 bench/layout_bench.py --interleave build/interleave [--baseline-interleave OLD/interleave]
"""
import argparse
import csv
import os
import re
import subprocess

LAYOUTS = ("bhsd", "bshd", "qkv")


def run(prog, H, D, N, causal, rounds):
    cmd = [prog, "--heads", str(H), "--seq", str(N), "--dim", str(D), "--rounds", str(rounds)]
    cmd += ["--causal"] if causal else []
    cmd += [f"layout={L},algo=flash2" for L in LAYOUTS]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    res = {}
    for L in LAYOUTS:
        m = re.search(rf"^layout={L},algo=flash2\s+ms=([\d.]+) .*?speedup=([\d.]+) "
                      rf"\(([\d.]+)-([\d.]+)\) max_diff=(\S+)", out, re.M)
        ms, sp, lo, hi, diff = m.groups()
        # speedup is bhsd's time over this layout's: its inverse is the layout's cost
        res[L] = {"ms": float(ms), "cost": 1.0 / float(sp), "cost_lo": 1.0 / float(hi),
                  "cost_hi": 1.0 / float(lo), "max_diff": float(diff)}
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--interleave", required=True, help="the interleave program of the build")
    ap.add_argument("--baseline-interleave", help="a second build's interleave program")
    ap.add_argument("--shapes", default="8x64,32x64,8x128,32x128",
                    help="heads x head dim, comma-separated")
    ap.add_argument("--seqs", default="256,512,1024,2048")
    ap.add_argument("--causal", default="both", choices=("both", "yes", "no"))
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--out", default="bench/results/layout_bench.csv")
    a = ap.parse_args()
    shapes = [tuple(int(v) for v in s.split("x")) for s in a.shapes.split(",")]
    seqs = [int(v) for v in a.seqs.split(",")]
    causals = {"both": (False, True), "yes": (True,), "no": (False,)}[a.causal]
    builds = [("clattn", a.interleave)]
    if a.baseline_interleave:
        builds.append(("baseline", a.baseline_interleave))
    rows = []
    head = "| H | D | N | causal | bhsd ms | bshd / bhsd | qkv / bhsd |"
    rule = "|---:|---:|---:|:--:|---:|---:|---:|"
    if a.baseline_interleave:
        head += " baseline bshd / bhsd | baseline qkv / bhsd |"
        rule += "---:|---:|"
    print(head)
    print(rule)
    for (H, D) in shapes:
        for N in seqs:
            for causal in causals:
                got = {}
                for b, prog in builds:
                    got[b] = run(prog, H, D, N, causal, a.rounds)
                    for L in LAYOUTS:
                        rows.append({"build": b, "heads": H, "dim": D, "seq": N,
                                     "causal": int(causal), "layout": L, "rounds": a.rounds,
                                     **got[b][L]})
                c = got["clattn"]
                line = (f"| {H} | {D} | {N} | {'yes' if causal else 'no'} | "
                        f"{c['bhsd']['ms']:.2f} | {c['bshd']['cost']:.2f} | {c['qkv']['cost']:.2f} |")
                if a.baseline_interleave:
                    o = got["baseline"]
                    line += f" {o['bshd']['cost']:.2f} | {o['qkv']['cost']:.2f} |"
                bad = [f"{b} {L} max_diff={got[b][L]['max_diff']:.1e}" for b, _ in builds
                       for L in LAYOUTS if got[b][L]["max_diff"] != 0.0]
                print(line + (" " + "; ".join(bad) if bad else ""), flush=True)
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
