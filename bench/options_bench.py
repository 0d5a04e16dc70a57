#!/usr/bin/python3
"""options_bench.py: what the attention options cost, through `clattn bench`, in one run
(B=1, H=8, d=64):

  (a) causal sliding window of 1024 keys (--window 1023,0 --causal) against full causal attention
      at N=16384: target the window >= 6x faster (it does ~8x less work);
  (b) ALiBi (the standard slopes, --alibi) and (c) softcap (--softcap 50) against plain attention
      at N=4096: target at most 10% more time;
  (d) float16 storage of q, k, v and out (--dtype f16) against float32 at N=4096, plain and causal:
      target at least as fast (prefill is compute-bound, so halving the bytes must not cost time);
      bfloat16 (--dtype bf16) against the same target.

Each case runs in --runs separate `clattn bench` processes, interleaved with its baseline so that
drift of a shared machine hits both alike; each process makes one warm-up call and --repeat timed
calls (OpenCL profiling events) and reports their median; a case's time is the median of its
processes' medians. Writes a CSV (default bench/results/options_bench.csv) and prints the ratios
(speedup: the median over runs of baseline ms / case ms within the same run, so the f16/f32 and
bf16/f32 speed ratios for the storage rows; the CSV also has every run's ratio and the ratio of
the two medians) and the load average (1 minute) before each process, whose median per case goes
into the CSV.
Results are data, not tests.

  /tmp/venv/bin/python bench/options_bench.py --cli build/clattn          # ~2 minutes on 2 cores
  /tmp/venv/bin/python bench/options_bench.py --only f16-vs-f32,bf16-vs-f32,f16-causal-vs-f32,\
      bf16-causal-vs-f32 --runs 9 --out X.csv                             # the storage rows only
"""
import argparse
import csv
import os
import re
import statistics
import subprocess
import sys
import time


def run_clattn(cli, algo, B, H, N, d, repeat, extra, timeout=1800):
    """One `clattn bench` process; returns its key=value pairs, or None and the error."""
    cmd = [cli, "bench", "--batch", str(B), "--heads", str(H), "--kv-heads", str(H),
           "--seq", str(N), "--dim", str(d), "--algo", algo, "--repeat", str(repeat)] + extra
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out"
    if p.returncode != 0:
        return None, (p.stderr.strip().splitlines() or ["failed"])[-1]
    return dict(re.findall(r"(\w+)=([^\s]+)", p.stdout)), ""


def visible_pairs(N, causal, left):
    """(query, key) pairs a head attends to with Sq = Skv = N, causal, window (left, 0) or none."""
    if left is None:
        return N * (N + 1) // 2 if causal else N * N
    w = left + 1  # keys i - left ... i
    return sum(min(i + 1, w) for i in range(N))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", default="build/clattn", help="path of the clattn program")
    ap.add_argument("--out", default="bench/results/options_bench.csv", help="CSV path")
    ap.add_argument("--algo", default="auto", help="clattn algorithm (default: the dispatcher's)")
    ap.add_argument("--repeat", type=int, default=5, help="timed calls per process")
    ap.add_argument("--runs", type=int, default=3, help="processes per case (median taken)")
    ap.add_argument("--n-window", type=int, default=16384, help="N of the window case")
    ap.add_argument("--window", type=int, default=1024, help="keys in the window (self included)")
    ap.add_argument("--n-bias", type=int, default=4096, help="N of the ALiBi and softcap cases")
    ap.add_argument("--softcap", default="50", help="softcap value (Gemma 2: 50)")
    ap.add_argument("--only", default="",
                    help="comma-separated case names to run (with their baselines), e.g. "
                         "f16-vs-f32,bf16-vs-f32; default: all")
    args = ap.parse_args()
    B, H, d = 1, 8, 64
    Nw, Nb, W = args.n_window, args.n_bias, args.window
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    t_start = time.time()

    # (name, N, options, baseline name); the baselines come first.
    cases = [
        ("causal", Nw, ["--causal"], None),
        (f"causal+window{W}", Nw, ["--causal", "--window", f"{W - 1},0"], "causal"),
        ("plain", Nb, [], None),
        ("alibi", Nb, ["--alibi"], "plain"),
        (f"softcap{args.softcap}", Nb, ["--softcap", args.softcap], "plain"),
        ("f16-vs-f32", Nb, ["--dtype", "f16"], "plain"),
        ("bf16-vs-f32", Nb, ["--dtype", "bf16"], "plain"),
        (f"causal{Nb}", Nb, ["--causal"], None),
        ("f16-causal-vs-f32", Nb, ["--causal", "--dtype", "f16"], f"causal{Nb}"),
        ("bf16-causal-vs-f32", Nb, ["--causal", "--dtype", "bf16"], f"causal{Nb}"),
    ]
    if args.only:
        want = set(args.only.split(","))
        unknown = want - {c[0] for c in cases}
        if unknown:
            ap.error(f"--only: unknown case(s) {', '.join(sorted(unknown))}")
        want |= {c[3] for c in cases if c[0] in want and c[3]}
        cases = [c for c in cases if c[0] in want]
    times = {c[0]: [] for c in cases}
    by_run = {c[0]: {} for c in cases}  # run -> ms, to pair a case with its baseline's run
    loads = {c[0]: [] for c in cases}
    info = {}
    print(f"clattn: {args.cli}; B={B} H={H} d={d}; {args.runs} processes x (1 warm-up + "
          f"{args.repeat} timed calls) per case, interleaved", flush=True)
    for run in range(args.runs):
        for name, N, extra, _ in cases:
            load = os.getloadavg()[0]
            kv, err = run_clattn(args.cli, args.algo, B, H, N, d, args.repeat, extra)
            if not kv:
                print(f"{name}: failed: {err}", flush=True)
                info.setdefault(name, {"note": err})
                continue
            times[name].append(float(kv["ms"]))
            by_run[name][run] = float(kv["ms"])
            loads[name].append(load)
            kv["work"] = float(kv["gflops"]) * float(kv["ms"])  # GFLOP/s x ms: the same each run
            info[name] = kv
            print(f"run {run + 1}: {name:18s} N={N:6d} ms={kv['ms']:>10s} "
                  f"gflops={kv['gflops']:>8s} (tile {kv['block_q']}x{kv['block_kv']}) "
                  f"load {load:.2f}", flush=True)

    rows = []
    med = {n: statistics.median(t) if t else None for n, t in times.items()}
    for name, N, extra, base in cases:
        kv = info.get(name, {})
        row = dict(case=name, B=B, H=H, N=N, d=d, options=" ".join(extra), algo=kv.get("algo", ""),
                   tile=f"{kv.get('block_q', '')}x{kv.get('block_kv', '')}",
                   ms=f"{med[name]:.3f}" if med[name] else "",
                   ms_runs=" ".join(f"{t:.3f}" for t in times[name]),
                   gflops=f"{kv['work'] / med[name]:.1f}" if med[name] else "",
                   baseline=base or "", speedup="", speedup_runs="", speedup_of_medians="",
                   cost="",
                   work_ratio="", target="", met="",
                   load=f"{statistics.median(loads[name]):.2f}" if loads[name] else "",
                   note=kv.get("note", ""))
        pairs = [by_run[base][k] / t for k, t in by_run[name].items()
                 if base and k in by_run[base]]
        if pairs:
            # The speedup is the median of the per-run ratios (baseline ms / case ms within one
            # interleaved run), which drift of a shared machine between runs does not skew the way
            # a ratio of two medians taken from different runs can be skewed.
            r = statistics.median(pairs)
            row["speedup"] = f"{r:.3f}"
            row["speedup_runs"] = " ".join(f"{x:.3f}" for x in pairs)
            row["speedup_of_medians"] = f"{med[base] / med[name]:.3f}"
            row["cost"] = f"{1 / r - 1:+.1%}"
            if "--window" in extra:
                wr = visible_pairs(N, True, None) / visible_pairs(N, True, W - 1)
                row["work_ratio"] = f"{wr:.2f}"
                row["target"] = ">= 6x faster"
                row["met"] = "yes" if r >= 6 else "no"
            elif "--dtype" in extra:
                row["target"] = "at least as fast"
                row["met"] = "yes" if r >= 1 else "no"
            else:
                row["target"] = "cost <= 10%"
                row["met"] = "yes" if 1 / r <= 1.10 else "no"
        rows.append(row)

    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {args.out} in {time.time() - t_start:.0f} s")
    print(f"{'case':18s} {'N':>6s} {'ms':>10s} {'vs':>10s} {'speedup':>8s} {'cost':>8s} "
          f"{'work':>6s} {'load':>5s}  target")
    for r in rows:
        print(f"{r['case']:18s} {r['N']:6d} {r['ms']:>10s} {r['baseline']:>10s} {r['speedup']:>8s} "
              f"{r['cost']:>8s} {r['work_ratio']:>6s} {r['load']:>5s}  {r['target']} {r['met']} "
              f"{r['note']}")


if __name__ == "__main__":
    sys.exit(main())
