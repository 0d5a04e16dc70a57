#!/usr/bin/python3
"""sdpa_sweep.py: forward-attention throughput of clattn's naive, flash1 and flash2 against
numpy's unfused attention and numpy's float32 GEMM (the machine's practical FLOP ceiling), all in
one run, plus the long-sequence memory figure (flash2 at N=65536, d=64, one head; naive must
refuse). Writes a CSV and a PNG plot. Results are data, not tests.

Each clattn point runs in --procs separate processes (default 3), and the CSV and the plot give
the median of the processes' medians with the range from the slowest to the fastest process, so
a point that is fast in some processes and slow in others (the 2x lottery of issue 15: PoCL's
worker threads unpinned) shows as a long bar rather than hiding in one lucky or unlucky run.
POCL_AFFINITY=1 is set for the runs unless the environment sets it (the clattn CLI does the same).

FLOPs use one convention for every row: 4*B*H*N*N*d, halved for causal (the work a causal kernel
needs), so rates compare like for like; numpy computes the full unmasked products even when
causal, which the halving charges to it.

  /usr/bin/python3 bench/sdpa_sweep.py --cli build/clattn            # default, ~10 min on 2 cores
  /usr/bin/python3 bench/sdpa_sweep.py --cli build/clattn --full     # N up to 16384
"""
import argparse
import csv
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np

# PoCL reads it when its worker threads start: one per core, pinned (README, "Steady timings").
os.environ.setdefault("POCL_AFFINITY", "1")


def run_clattn(cli, algo, B, H, N, d, causal, repeat, flavour=None, timeout=1800):
    cmd = [cli, "bench", "--batch", str(B), "--heads", str(H), "--kv-heads", str(H),
           "--seq", str(N), "--dim", str(d), "--algo", algo, "--repeat", str(repeat)]
    if causal:
        cmd.append("--causal")
    if flavour:
        cmd += ["--flavour", flavour]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out"
    if p.returncode != 0:
        return None, (p.stderr.strip().splitlines() or ["failed"])[-1]
    kv = dict(re.findall(r"(\w+)=([^\s]+)", p.stdout))
    return kv, ""


def run_clattn_procs(cli, algo, B, H, N, d, causal, repeat, procs, flavour=None):
    """run_clattn in `procs` separate processes: (the last process's fields with gflops the
    median over processes, gflops_min and gflops_max the slowest and fastest process), or
    (None, error)."""
    got, err = [], ""
    for _ in range(procs):
        kv, err = run_clattn(cli, algo, B, H, N, d, causal, repeat, flavour)
        if kv:
            got.append(kv)
    if not got:
        return None, err
    rates = sorted(float(kv["gflops"]) for kv in got)
    kv = dict(got[-1])
    kv["gflops"] = statistics.median(rates)
    kv["gflops_min"], kv["gflops_max"] = rates[0], rates[-1]
    kv["ms"] = f"{statistics.median(float(k['ms']) for k in got):.3f}"
    return kv, ""


def timed_median(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def numpy_attention(B, H, N, d, causal, repeat, rng):
    """Unfused attention in float32: S = Q K^T * scale, masked softmax, O = P V, per head."""
    q = rng.standard_normal((B, H, N, d), dtype=np.float32)
    k = rng.standard_normal((B, H, N, d), dtype=np.float32)
    v = rng.standard_normal((B, H, N, d), dtype=np.float32)
    scale = np.float32(1.0 / np.sqrt(d))
    mask = np.triu(np.full((N, N), -np.inf, dtype=np.float32), 1) if causal else None

    def attn():
        for b in range(B):
            for h in range(H):
                s = q[b, h] @ k[b, h].T
                s *= scale
                if mask is not None:
                    s += mask
                s -= s.max(axis=1, keepdims=True)
                np.exp(s, out=s)
                s /= s.sum(axis=1, keepdims=True)
                _ = s @ v[b, h]

    return timed_median(attn, repeat)


def numpy_sgemm(n, repeat, rng):
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    t = timed_median(lambda: a @ b, repeat)
    return 2.0 * n ** 3 / t * 1e-9, t


def numpy_blas():
    """Which BLAS numpy calls: Debian's numpy links the reference (netlib) BLAS, a pip wheel
    bundles OpenBLAS; the sgemm 'ceiling' means little with the former."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except TypeError:  # numpy < 1.26 only prints
        import contextlib
        import io
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            np.show_config()
        text = buf.getvalue().lower()
        for name in ("openblas", "mkl", "blis", "atlas"):
            if name + "_info:\n    libraries" in text or f"{name}_info:\n    define" in text:
                return name
        return "reference BLAS (libblas)" if "libraries = ['blas'" in text else "unknown"


def flops(B, H, N, d, causal):
    f = 4.0 * B * H * N * N * d
    return f / 2 if causal else f


def plot(rows, sgemm_gflops, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    dims = sorted({r["d"] for r in rows if r["impl"] != "numpy-sgemm"})
    fig, axes = plt.subplots(1, len(dims), figsize=(6.5 * len(dims), 4.8), squeeze=False)
    styles = {"flash2": "C0", "flash1": "C1", "naive": "C2", "numpy-attention": "C3"}
    for ax, d in zip(axes[0], dims):
        for impl, color in styles.items():
            for causal in (0, 1):
                pts = sorted((r["N"], r["gflops"], r.get("gflops_min") or r["gflops"],
                              r.get("gflops_max") or r["gflops"]) for r in rows
                             if r["impl"] == impl and r["d"] == d and r["causal"] == causal and
                             r["gflops"])
                if pts:
                    # the median over processes, the bar from the slowest to the fastest one
                    ax.errorbar([p[0] for p in pts], [p[1] for p in pts],
                                yerr=[[p[1] - p[2] for p in pts], [p[3] - p[1] for p in pts]],
                                color=color, linestyle="--" if causal else "-", marker="o",
                                markersize=3, capsize=3,
                                label=f"{impl}{' causal' if causal else ''}")
        ax.axhline(sgemm_gflops, color="k", linestyle=":", label="numpy sgemm 2048^3")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("sequence length N")
        ax.set_ylabel("GFLOP/s (4*B*H*N^2*d, /2 causal)")
        ax.set_title(f"forward attention, d={d} (median over processes, bar: min-max)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", default="build/clattn", help="path of the clattn program")
    ap.add_argument("--out", default="bench/results/sdpa_sweep", help="CSV/PNG path prefix")
    ap.add_argument("--full", action="store_true", help="N = 512 ... 16384 (default: ... 4096)")
    ap.add_argument("--seqs", help="comma-separated N values (overrides --full)")
    ap.add_argument("--dims", default="64,128")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--procs", type=int, default=3,
                    help="processes per clattn point (median and range plotted)")
    ap.add_argument("--algos", default="flash2,flash1,naive",
                    help="clattn algorithms; 'flash2-gpu' adds the GPU flavour")
    ap.add_argument("--naive-max", type=int, default=0,
                    help="largest N for naive and numpy attention (default 2048, full 4096)")
    ap.add_argument("--no-memory-figure", action="store_true")
    args = ap.parse_args()

    seqs = ([int(s) for s in args.seqs.split(",")] if args.seqs else
            [256, 512, 1024, 2048, 4096, 8192, 16384] if args.full else [256, 512, 1024, 2048, 4096])
    naive_max = args.naive_max or (4096 if args.full else 2048)
    dims = [int(s) for s in args.dims.split(",")]
    B, H, R = args.batch, args.heads, args.repeat
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    rng = np.random.default_rng(0)
    rows = []
    t_start = time.time()

    def add(impl, N, d, causal, gflops, ms, device_bytes="", note="", b=B, h=H, lo=None,
            hi=None):
        rows.append(dict(impl=impl, B=b, H=h, N=N, d=d, causal=causal, gflops=gflops,
                         gflops_min=lo, gflops_max=hi, ms=ms, device_bytes=device_bytes,
                         note=note))
        g = f"{gflops:8.1f}" if gflops else "       -"
        rng_s = f" [{lo:.1f}-{hi:.1f}]" if lo is not None else ""
        print(f"{impl:16s} N={N:6d} d={d:3d} causal={causal} gflops={g}{rng_s} ms={ms or '-'} "
              f"{note}", flush=True)

    blas = numpy_blas()
    print(f"numpy {np.__version__} with {blas}; clattn: {args.cli}", flush=True)
    sg, sg_t = numpy_sgemm(2048, max(R, 3), rng)
    add("numpy-sgemm", 2048, 2048, 0, sg, f"{sg_t * 1e3:.2f}",
        note=f"2048^3 float32 matmul, numpy {np.__version__} with {blas}")
    for d in dims:
        for N in seqs:
            for causal in (0, 1):
                for algo in args.algos.split(","):
                    name, flavour = (algo, None)
                    if algo == "flash2-gpu":
                        name, flavour = "flash2", "gpu"
                    if name == "naive" and N > naive_max:
                        continue
                    kv, err = run_clattn_procs(args.cli, name, B, H, N, d, causal, R,
                                               args.procs, flavour)
                    if kv:
                        add(algo, N, d, causal, kv["gflops"], kv["ms"],
                            kv.get("device_bytes", ""), f"tile {kv['block_q']}x{kv['block_kv']}",
                            lo=kv["gflops_min"], hi=kv["gflops_max"])
                    else:
                        add(algo, N, d, causal, None, None, note=err)
                if N <= naive_max:
                    t = numpy_attention(B, H, N, d, causal, R, rng)
                    add("numpy-attention", N, d, causal, flops(B, H, N, d, causal) / t * 1e-9,
                        f"{t * 1e3:.2f}")
    if not args.no_memory_figure:
        # Long sequence, one head: flash2 needs O(N d) memory, naive's S would be N^2 floats.
        for algo in ("flash2", "naive"):
            kv, err = run_clattn(args.cli, algo, 1, 1, 65536, 64, 0, 1)
            if kv:
                add(f"{algo}-N65536", 65536, 64, 0, float(kv["gflops"]), kv["ms"],
                    kv.get("device_bytes", ""), "one head, memory figure", b=1, h=1)
            else:
                add(f"{algo}-N65536", 65536, 64, 0, None, None, note=f"refused: {err}", b=1, h=1)

    with open(args.out + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    plot([r for r in rows if "N65536" not in r["impl"]], sg, args.out + ".png")
    print(f"wrote {args.out}.csv and {args.out}.png in {time.time() - t_start:.0f} s")

    # The acceptance figures, when the sweep covered them.
    def rate(impl, N, d, causal):
        for r in rows:
            if r["impl"] == impl and r["N"] == N and r["d"] == d and r["causal"] == causal:
                return r["gflops"]
        return None

    f2, f2c = rate("flash2", 2048, 64, 0), rate("flash2", 2048, 64, 1)
    f1, na = rate("flash1", 2048, 64, 0), rate("numpy-attention", 2048, 64, 0)
    if f2 and sg:
        print(f"B={B} H={H} N=2048 d=64: flash2 {f2:.1f} GFLOP/s = {f2 / sg:.2f}x numpy sgemm "
              f"({sg:.1f})" + (f", {f2 / na:.2f}x numpy attention ({na:.1f})" if na else "")
              + (f", flash2/flash1 {f2 / f1:.2f}x" if f1 else ""))
    if f2c and sg:
        print(f"causal: flash2 {f2c:.1f} GFLOP/s = {f2c / sg:.2f}x numpy sgemm")
    # Issue 15: short sequences against N=2048 (medians over processes).
    for d in dims:
        for causal in (0, 1):
            top = rate("flash2", 2048, d, causal)
            small = [(N, rate("flash2", N, d, causal)) for N in seqs if N < 2048]
            if top and any(r for _, r in small):
                print(f"d={d}{' causal' if causal else ''}: flash2 rate / N=2048 rate: " +
                      ", ".join(f"N={N} {r / top:.2f}" for N, r in small if r))


if __name__ == "__main__":
    sys.exit(main())
