#!/usr/bin/python3
"""decode_sweep.py: how close clattn's decode step comes to the speed of reading its K/V cache,
in one run:

  (a) the machine's read bandwidth: a small C probe (written to a temporary directory, built with
      cc -O3 -march=native -pthread) where --threads threads (default: every core) each sum their
      share of a 256 MiB buffer; median GB/s over --probe-passes passes, measured at the start and
      again at the end of the run (the median of both sets is the reference);
      As a cross-check numpy's one-thread float32 sum of the same buffer size is timed too, and
      the higher of the two medians is the reference (so no ratio is flattered by a slow probe);
  (b) clattn's decode step (Sq=1, --algo auto: what the dispatcher chooses, which is the decode
      path for up to 32 query heads per kv head) through `clattn bench` for MHA (Hq=Hkv=32),
      GQA (Hq=32, Hkv=8) and MQA (Hq=32, Hkv=1), D=128, K/V stored as each of --kv-dtypes
      (default float32 and float16: --kv-dtype), Skv = 1024 ... 65536 (powers of 2), B=1 and
      B=16 ragged (--kv-lens-random: lengths uniform in 1..Skv, seeded); each point one process,
      one warm-up call and --repeat timed calls (OpenCL profiling events), the median. gbps= is
      the bytes of K and V the step must read (sum of the visible lengths x Hkv x (D+Dv) x the
      element size) over the median time; per point: GB/s, the ratio to the probe, time per
      token (ms / B) and the splits the dispatcher chose;
  (c) for comparison, flash2 forced (--algo flash2, the path a decode step took before the decode
      kernels existed), forced split counts at the GQA Skv=32768 B=1 point, and the same GQA
      point through a paged KV cache (--paged PAGE: the step reads the cache's pages through
      its block table) at B=1 and B=16 ragged.

Writes bench/results/decode_sweep.csv and .png (time per token against Skv, one line per head
layout and K/V type, B=1 solid and B=16 ragged dashed) and prints the issue's targets: GQA 32/8
Skv=32768 B=1 >= 0.8x the probe, MHA Skv=4096 B=1 >= 0.7x, B=16 ragged (GQA Skv=32768) >= 0.7x,
f16 K/V step time <= 0.6x the f32 one (GQA Skv=32768 B=1), and the paged/plain time ratio.
Points whose K+V buffers exceed --max-kv-gib (default 4) are skipped and listed (B=16 allocates
every sequence at the full Skv). Results are data, not tests.

  /tmp/venv/bin/python bench/decode_sweep.py --cli build/clattn
"""
import argparse
import csv
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

PROBE_C = r"""/* read_probe.c: all-core memory read bandwidth: T threads each sum their share of a
 * buffer, P passes; prints one GB/s figure per pass. Written and built by decode_sweep.py. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t *buf;
static size_t words;
static int nthreads;
static pthread_barrier_t bar;
static volatile uint64_t sink;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *worker(void *arg) {
    const size_t t = (size_t)(uintptr_t)arg, per = words / (size_t)nthreads;
    uint64_t *p = buf + t * per;
    for (size_t i = 0; i < per; i++) p[i] = i ^ t; /* first touch: pages local to the thread */
    pthread_barrier_wait(&bar);
    for (;;) {
        pthread_barrier_wait(&bar); /* start of a pass (or the end, when words is 0) */
        if (!words) break;
        uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (size_t i = 0; i + 4 <= per; i += 4) {
            a0 += p[i];
            a1 += p[i + 1];
            a2 += p[i + 2];
            a3 += p[i + 3];
        }
        sink += a0 + a1 + a2 + a3;
        pthread_barrier_wait(&bar);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    const size_t bytes = (size_t)atoll(argv[1]) << 20;
    nthreads = atoi(argv[2]);
    const int passes = atoi(argv[3]);
    if (nthreads < 1 || passes < 1 || bytes < 64) return 2;
    words = bytes / 8 / (size_t)nthreads * (size_t)nthreads;
    if (!(buf = malloc(words * 8))) return 1;
    pthread_t th[256];
    if (nthreads > 256) return 2;
    pthread_barrier_init(&bar, NULL, (unsigned)nthreads + 1);
    for (int t = 0; t < nthreads; t++) pthread_create(&th[t], NULL, worker, (void *)(uintptr_t)t);
    pthread_barrier_wait(&bar);
    for (int r = 0; r < passes; r++) {
        const double t0 = now_s();
        pthread_barrier_wait(&bar);
        pthread_barrier_wait(&bar);
        printf("%.3f\n", (double)(words * 8) / (now_s() - t0) * 1e-9);
    }
    words = 0;
    pthread_barrier_wait(&bar);
    for (int t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
    free(buf);
    return 0;
}
"""

LAYOUTS = [("MHA", 32, 32), ("GQA", 32, 8), ("MQA", 32, 1)]


def build_probe(tmp):
    src, exe = os.path.join(tmp, "read_probe.c"), os.path.join(tmp, "read_probe")
    with open(src, "w") as f:
        f.write(PROBE_C)
    subprocess.run(["cc", "-O3", "-march=native", "-pthread", "-o", exe, src], check=True)
    return exe


def run_probe(exe, mib, threads, passes):
    p = subprocess.run([exe, str(mib), str(threads), str(passes)], capture_output=True,
                       text=True, check=True)
    return [float(x) for x in p.stdout.split()]


def numpy_read(mib, passes):
    """numpy's one-thread float32 sum of a mib-MiB array: GB/s per pass, or [] without numpy."""
    try:
        import numpy as np
    except ImportError:
        return []
    a = np.ones((mib << 20) // 4, dtype=np.float32)
    a.sum()
    out = []
    for _ in range(passes):
        t0 = time.perf_counter()
        a.sum()
        out.append(a.nbytes / (time.perf_counter() - t0) * 1e-9)
    return out


def run_clattn(cli, B, Hq, Hkv, Skv, D, repeat, extra, timeout=1800):
    """One `clattn bench` process; returns its key=value pairs, or None and the error."""
    cmd = [cli, "bench", "--batch", str(B), "--heads", str(Hq), "--kv-heads", str(Hkv),
           "--seq", "1", "--seq-kv", str(Skv), "--dim", str(D), "--repeat", str(repeat)] + extra
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out"
    if p.returncode != 0:
        return None, (p.stderr.strip().splitlines() or ["failed"])[-1]
    return dict(re.findall(r"(\w+)=([^\s]+)", p.stdout)), ""


def loadavg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", default="build/clattn", help="path of the clattn program")
    ap.add_argument("--out", default="bench/results/decode_sweep.csv",
                    help="CSV path (the PNG goes beside it)")
    ap.add_argument("--repeat", type=int, default=9, help="timed calls per point (median)")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--skv-min", type=int, default=1024)
    ap.add_argument("--skv-max", type=int, default=65536)
    ap.add_argument("--ragged-batch", type=int, default=16, help="B of the ragged rows (0: none)")
    ap.add_argument("--seed", type=int, default=1, help="seed of --kv-lens-random")
    ap.add_argument("--max-kv-gib", type=float, default=4.0, help="skip points with more K+V")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="probe threads")
    ap.add_argument("--probe-mib", type=int, default=256)
    ap.add_argument("--probe-passes", type=int, default=10)
    ap.add_argument("--splits-list", default="1,2,4,8,16",
                    help="forced split counts at GQA Skv=32768 B=1 ('' for none)")
    ap.add_argument("--kv-dtypes", default="f32,f16",
                    help="K/V storage types of the sweep (clattn bench --kv-dtype)")
    ap.add_argument("--paged", type=int, default=256,
                    help="page size of the paged-cache points at GQA Skv=32768 (0: none)")
    ap.add_argument("--replot", action="store_true", help="only redraw the PNG from --out")
    args = ap.parse_args()
    D = args.dim
    if args.replot:
        replot(args.out, D, args.ragged_batch)
        return 0
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    t_start = time.time()
    print(f"load average at the start: {loadavg():.2f} ({os.cpu_count()} cores)", flush=True)

    tmp = tempfile.mkdtemp(prefix="decode_sweep.")
    probe = build_probe(tmp)
    probe_runs = run_probe(probe, args.probe_mib, args.threads, args.probe_passes)
    print(f"probe (start): {args.threads} threads, {args.probe_mib} MiB, median "
          f"{statistics.median(probe_runs):.2f} GB/s (passes {min(probe_runs):.1f}.."
          f"{max(probe_runs):.1f})", flush=True)

    skvs = []
    s = args.skv_min
    while s <= args.skv_max:
        skvs.append(s)
        s *= 2
    points = []  # (kind, layout, B, Hq, Hkv, Skv, kv_dtype, extra)
    dtypes = [x.strip() for x in args.kv_dtypes.split(",") if x.strip()]
    ragged_args = ["--kv-lens-random", "--seed", str(args.seed)]
    for B, ragged in [(1, False)] + ([(args.ragged_batch, True)] if args.ragged_batch else []):
        for dt in dtypes:
            for name, Hq, Hkv in LAYOUTS:
                for Skv in skvs:
                    extra = ["--algo", "auto"] + (ragged_args if ragged else [])
                    points.append(("step", name, B, Hq, Hkv, Skv, dt, extra))
    points.append(("flash2", "GQA", 1, 32, 8, 32768, "f32", ["--algo", "flash2"]))
    points.append(("flash2", "MHA", 1, 32, 32, 4096, "f32", ["--algo", "flash2"]))
    for sp in [int(x) for x in args.splits_list.split(",") if x.strip()]:
        points.append((f"decode-splits{sp}", "GQA", 1, 32, 8, 32768, "f32",
                       ["--algo", "decode", "--splits", str(sp)]))
    if args.paged:
        for B in [1] + ([args.ragged_batch] if args.ragged_batch else []):
            for dt in dtypes:
                points.append((f"paged{args.paged}", "GQA", B, 32, 8, 32768, dt,
                               ["--algo", "auto", "--paged", str(args.paged)] +
                               (ragged_args if B > 1 else [])))

    rows = []
    for kind, name, B, Hq, Hkv, Skv, dt, extra in points:
        extra = extra + ["--kv-dtype", dt]
        kv_gib = B * Hkv * Skv * 2 * D * (4 if dt == "f32" else 2) / 2 ** 30
        row = dict(kind=kind, layout=name, B=B, Hq=Hq, Hkv=Hkv, Skv=Skv, D=D, kv_dtype=dt,
                   ragged="yes" if "--kv-lens-random" in extra else "no", algo="", flavour="",
                   splits="", block_kv="", ms="", min_ms="", gbps="", ratio="", us_per_token="",
                   tokens_per_s="", kv_lens="", load=f"{loadavg():.2f}", note="")
        if kv_gib > args.max_kv_gib:
            row["note"] = f"skipped: K+V {kv_gib:.1f} GiB > --max-kv-gib {args.max_kv_gib:g}"
            rows.append(row)
            print(f"{kind:16s} {name} B={B:2d} Skv={Skv:6d}: {row['note']}", flush=True)
            continue
        kv, err = run_clattn(args.cli, B, Hq, Hkv, Skv, D, args.repeat, extra)
        if not kv:
            row["note"] = err
            rows.append(row)
            print(f"{kind:16s} {name} B={B:2d} Skv={Skv:6d}: failed: {err}", flush=True)
            continue
        ms = float(kv["ms"])
        row.update(algo=kv.get("algo", ""), flavour=kv.get("flavour", ""),
                   splits=kv.get("splits", ""), block_kv=kv.get("block_kv", ""), ms=kv["ms"],
                   min_ms=kv.get("min_ms", ""), gbps=kv.get("gbps", ""),
                   us_per_token=f"{ms * 1e3 / B:.1f}", tokens_per_s=kv.get("tokens_per_s", ""),
                   kv_lens=kv.get("kv_lens", ""))
        rows.append(row)
        print(f"{kind:16s} {name} {dt:4s} B={B:2d} Skv={Skv:6d}: ms={ms:9.3f} gbps={kv['gbps']:>7s} "
              f"splits={row['splits'] or '-':>3s} ({row['algo']}/{row['flavour']})", flush=True)

    probe_end = run_probe(probe, args.probe_mib, args.threads, args.probe_passes)
    print(f"probe (end): median {statistics.median(probe_end):.2f} GB/s", flush=True)
    np_runs = numpy_read(args.probe_mib, args.probe_passes)
    np_med = statistics.median(np_runs) if np_runs else 0.0
    c_med = statistics.median(probe_runs + probe_end)
    print(f"numpy one-thread sum: median {np_med:.2f} GB/s", flush=True)
    ref = max(c_med, np_med)
    for row in rows:
        if row["gbps"]:
            row["ratio"] = f"{float(row['gbps']) / ref:.3f}"
    with open(args.out, "w", newline="") as f:
        f.write(f"# reference_gbps={ref:.3f} c_probe={c_med:.3f} numpy_sum={np_med:.3f} "
                f"probe_start={statistics.median(probe_runs):.3f} "
                f"probe_end={statistics.median(probe_end):.3f} threads={args.threads} "
                f"probe_mib={args.probe_mib} repeat={args.repeat}\n")
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {args.out} in {time.time() - t_start:.0f} s; load average now {loadavg():.2f}")

    def find(kind, name, B, Skv, dt="f32"):
        for r in rows:
            if (r["kind"], r["layout"], r["B"], r["Skv"], r["kv_dtype"]) == (kind, name, B, Skv,
                                                                               dt):
                return r
        return None

    print(f"\nreference read bandwidth: {ref:.2f} GB/s ({args.threads} threads)")
    targets = [("GQA 32/8, Skv=32768, B=1", find("step", "GQA", 1, 32768), 0.8),
               ("MHA 32/32, Skv=4096, B=1", find("step", "MHA", 1, 4096), 0.7),
               (f"GQA 32/8, Skv=32768, B={args.ragged_batch} ragged",
                find("step", "GQA", args.ragged_batch, 32768), 0.7),
               ("flash2 forced, GQA 32/8, Skv=32768, B=1", find("flash2", "GQA", 1, 32768), None),
               ("flash2 forced, MHA 32/32, Skv=4096, B=1", find("flash2", "MHA", 1, 4096), None)]
    for label, r, tgt in targets:
        if not r or not r["gbps"]:
            print(f"{label}: not measured ({r['note'] if r else 'no row'})")
            continue
        met = "" if tgt is None else (f" target >= {tgt}x: " +
                                      ("met" if float(r["ratio"]) >= tgt else "NOT met"))
        print(f"{label}: {r['gbps']} GB/s = {r['ratio']}x probe, {r['ms']} ms, "
              f"splits={r['splits'] or '-'}{met}")
    f32, f16 = find("step", "GQA", 1, 32768), find("step", "GQA", 1, 32768, "f16")
    if f32 and f16 and f32["ms"] and f16["ms"]:
        ratio = float(f16["ms"]) / float(f32["ms"])
        print(f"f16 K/V step time / f32, GQA 32/8, Skv=32768, B=1: {ratio:.2f}x target <= 0.6x: "
              + ("met" if ratio <= 0.6 else "NOT met"))
    for B in [1, args.ragged_batch]:
        pg, flat = find(f"paged{args.paged}", "GQA", B, 32768), find("step", "GQA", B, 32768)
        if pg and flat and pg["ms"] and flat["ms"]:
            print(f"paged cache (page {args.paged}) / plain buffers, GQA 32/8, Skv=32768, B={B}: "
                  f"{float(pg['ms']) / float(flat['ms']):.2f}x time")

    plot(rows, ref, D, args.ragged_batch, os.path.splitext(args.out)[0] + ".png")
    return 0


def plot(rows, ref, D, ragged_batch, png):
    """The PNG: ms per token against Skv, one line per head layout and batch."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no PNG")
        return
    fig, ax = plt.subplots(figsize=(8, 5))
    colours = {"MHA": "tab:red", "GQA": "tab:blue", "MQA": "tab:green"}
    markers = {"f32": "o", "f16": "^", "bf16": "s"}
    for dt in sorted(set(r["kv_dtype"] for r in rows), key=lambda d: (d != "f32", d)):
        for name, Hq, Hkv in LAYOUTS:
            for B, style in [(1, "-"), (ragged_batch, "--")]:
                sel = [r for r in rows
                       if r["kind"] == "step" and r["layout"] == name and r["B"] == B
                       and r["kv_dtype"] == dt and r["us_per_token"]]
                pts = [(r["Skv"], float(r["us_per_token"]) / 1e3) for r in sel]
                if pts:
                    lab = f"{name} {Hq}/{Hkv} {dt}, " + ("B=1" if B == 1 else f"B={B} ragged")
                    lab += f" ({'/'.join(sorted(set(r['algo'] for r in sel)))})"
                    ax.plot(*zip(*pts), style, marker=markers.get(dt, "o"), color=colours[name],
                            alpha=1.0 if dt == "f32" else 0.6, label=lab)
    for r in rows:
        if r["kind"] == "flash2" and r["us_per_token"]:
            ax.plot(r["Skv"], float(r["us_per_token"]) / 1e3, "x", ms=10,
                    color=colours[r["layout"]],
                    label=f"flash2 forced, {r['layout']} {r['Hq']}/{r['Hkv']}, B=1")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("Skv (keys; ragged rows: the maximum, lengths uniform in 1..Skv)")
    ax.set_ylabel("ms per generated token (step time / B)")
    ax.set_title(f"clattn decode step, Hq=32, D={D}; read probe {ref:.1f} GB/s")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")


def replot(path, D, ragged_batch):
    """Redraws the PNG from a CSV this script wrote (no measuring)."""
    with open(path) as f:
        head = f.readline()
        rows = list(csv.DictReader(f))
    for r in rows:
        r["B"], r["Skv"], r["Hq"], r["Hkv"] = (int(r[k]) for k in ("B", "Skv", "Hq", "Hkv"))
    ref = float(re.search(r"reference_gbps=([\d.]+)", head).group(1))
    plot(rows, ref, D, ragged_batch, os.path.splitext(path)[0] + ".png")


if __name__ == "__main__":
    sys.exit(main())
