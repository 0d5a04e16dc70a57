#!/usr/bin/python3
"""generate_bench.py: what MQA and GQA buy per generated token, measured with the generation loop
of examples/generate.c, with the machine's read bandwidth measured in the same run:

  (a) the read-bandwidth probe of decode_sweep.py (imported, not copied): a C program where
      --threads threads sum their share of a --probe-mib buffer, median GB/s over --probe-passes
      passes, at the start and at the end of the run, and numpy's one-thread sum as a cross-check;
      the higher of the two medians is the roof (as decode_sweep.py takes it);
  (b) `generate --quiet --profile` for each head layout, MHA (kv_heads = heads), GQA (--gqa
      groups, 8 by default) and MQA (1), at one width (default the issue's: E=2048, Hq=32, D=64,
      4 layers, a 1024-token prompt, the example's MLP of 4 E and vocabulary of 4096), for each
      cache type of --cache-dtypes (f32, f16), --runs processes each (interleaved: run 1 of every
      configuration, then run 2 ...), each process prefilling the prompt and timing --tokens - 1
      decode steps; per run the median step, per configuration the median of the runs. The three
      layouts are one model: the example draws MHA weights and converts them with
      clattn_mha_to_gqa.

For each configuration: ms per token, the cache's MiB per layer (clattn_kv_cache_get_info: the
pool holds prompt + tokens), the MiB a step must read (every weight once and the cached tokens),
the GB/s that is at the measured time and its ratio to the roof; then the same split in two: the
attention layers (--profile: waits around each layer's forward; their q/k/v/o weights and the
cache) and the rest of the step (the MLPs, the LM head, norms: the example's own kernels). Writes bench/results/generate_bench.csv
and .png (ms per token and cache MiB per layer, per layout and cache type) and prints the table.

On the 2-core development machine a 1024-token prefill at E=2048 takes 13-40 s with the load of
other work, so the default run (6 configurations x 3 runs of 16 tokens) takes about 12 minutes
(--runs 5 --tokens 32: 18 minutes at load 2-4); --context, --embed, --runs and the rest make
smaller runs. Results are data, not tests.

  /tmp/venv/bin/python bench/generate_bench.py --exe build/examples/generate
"""
import argparse
import csv
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import decode_sweep  # noqa: E402  (the read-bandwidth probe)

MIB = 1 << 20


def run_generate(exe, args, kv_heads, dtype, timeout):
    """One generate process; its summary's key=value pairs, or None and the error."""
    cmd = [exe, "--quiet", "--profile", "--kv-heads", str(kv_heads), "--cache-dtype", dtype] + args
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out"
    line = [x for x in p.stdout.splitlines() if x.startswith("summary:")]
    if p.returncode != 0 or not line:
        return None, (p.stderr.strip().splitlines() or ["failed"])[-1]
    return dict(re.findall(r"(\w+)=([^\s]+)", line[-1])), ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--exe", default="build/examples/generate", help="the generate example")
    ap.add_argument("--out", default="bench/results/generate_bench.csv",
                    help="CSV path (the PNG goes beside it)")
    ap.add_argument("--embed", type=int, default=2048)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--gqa", type=int, default=8, help="kv heads of the GQA layout")
    ap.add_argument("--head-dim", type=int, default=64)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--context", type=int, default=1024, help="prompt tokens")
    ap.add_argument("--tokens", type=int, default=16, help="tokens per run (tokens - 1 steps)")
    ap.add_argument("--ffn", type=int, default=0, help="MLP width (0: the example's 4 E)")
    ap.add_argument("--vocab", type=int, default=0, help="vocabulary (0: the example's)")
    ap.add_argument("--cache-dtypes", default="f32,f16")
    ap.add_argument("--runs", type=int, default=3, help="processes per configuration (median)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="probe threads")
    ap.add_argument("--probe-mib", type=int, default=256)
    ap.add_argument("--probe-passes", type=int, default=10)
    ap.add_argument("--extra", default="", help="more generate options, one string")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per process")
    args = ap.parse_args()

    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    t_start = time.time()
    load_start = decode_sweep.loadavg()
    print(f"load average at the start: {load_start:.2f} ({os.cpu_count()} cores)", flush=True)
    probe = decode_sweep.build_probe(tempfile.mkdtemp(prefix="generate_bench."))
    probe_start = decode_sweep.run_probe(probe, args.probe_mib, args.threads, args.probe_passes)
    print(f"probe (start): median {statistics.median(probe_start):.2f} GB/s", flush=True)

    common = ["--embed", str(args.embed), "--heads", str(args.heads), "--head-dim",
              str(args.head_dim), "--layers", str(args.layers), "--context", str(args.context),
              "--tokens", str(args.tokens)]
    common += ["--ffn", str(args.ffn)] if args.ffn else []
    common += ["--vocab", str(args.vocab)] if args.vocab else []
    common += shlex.split(args.extra)
    layouts = [("MHA", args.heads), ("GQA", args.gqa), ("MQA", 1)]
    dtypes = [d.strip() for d in args.cache_dtypes.split(",") if d.strip()]
    configs = [(name, g, dt) for dt in dtypes for name, g in layouts]
    runs = {c: [] for c in configs}
    for r in range(args.runs):
        for name, g, dt in configs:
            kv, err = run_generate(args.exe, common, g, dt, args.timeout)
            if not kv:
                print(f"run {r + 1} {name} {dt}: failed: {err}", flush=True)
                continue
            kv["load"], kv["round"] = f"{decode_sweep.loadavg():.2f}", r
            runs[(name, g, dt)].append(kv)
            print(f"run {r + 1} {name:3s} (kv_heads {g:2d}) {dt}: {float(kv['decode_ms_median']):9.2f} "
                  f"ms/token, attention {float(kv['attn_ms_median']):8.2f} ms, prefill "
                  f"{float(kv['prefill_ms']) / 1e3:.1f} s, load {kv['load']}", flush=True)

    probe_end = decode_sweep.run_probe(probe, args.probe_mib, args.threads, args.probe_passes)
    np_runs = decode_sweep.numpy_read(args.probe_mib, args.probe_passes)
    c_med = statistics.median(probe_start + probe_end)
    np_med = statistics.median(np_runs) if np_runs else 0.0
    roof = max(c_med, np_med)
    load_end = decode_sweep.loadavg()
    print(f"probe (end): median {statistics.median(probe_end):.2f} GB/s; numpy one-thread sum "
          f"{np_med:.2f} GB/s; roof {roof:.2f} GB/s", flush=True)

    rows = []
    for name, g, dt in configs:
        rs = runs[(name, g, dt)]
        if not rs:
            continue
        med = lambda k: statistics.median(float(x[k]) for x in rs)  # noqa: E731
        ms, attn, nbytes = med("decode_ms_median"), med("attn_ms_median"), med("bytes_per_token")
        abytes = med("attn_bytes_per_token")
        # the whole step, the attention layers (their projections and the cache) and the rest
        # (MLPs, LM head, norms), each as bytes it must read over its time
        gbps, agbps = nbytes / (ms * 1e6), abytes / (attn * 1e6)
        rgbps = (nbytes - abytes) / ((ms - attn) * 1e6) if ms > attn else float("nan")
        rows.append(dict(layout=name, kv_heads=g, cache_dtype=dt, runs=len(rs),
                         ms_per_token=f"{ms:.3f}", attn_ms=f"{attn:.3f}",
                         prefill_s=f"{med('prefill_ms') / 1e3:.2f}",
                         cache_mib_layer=f"{med('cache_bytes_layer') / MIB:.3f}",
                         weight_mib=f"{med('weight_bytes') / MIB:.1f}",
                         read_mib_token=f"{nbytes / MIB:.1f}", gbps=f"{gbps:.3f}",
                         roof_ratio=f"{gbps / roof:.3f}", attn_read_mib=f"{abytes / MIB:.1f}",
                         attn_gbps=f"{agbps:.3f}", attn_roof_ratio=f"{agbps / roof:.3f}",
                         rest_gbps=f"{rgbps:.3f}", rest_roof_ratio=f"{rgbps / roof:.3f}",
                         run_ms=" ".join(f"{float(x['decode_ms_median']):.1f}" for x in rs),
                         loads=" ".join(x["load"] for x in rs)))
    if not rows:
        print("no run succeeded")
        return 1
    with open(args.out, "w", newline="") as f:
        f.write(f"# roof_gbps={roof:.3f} c_probe={c_med:.3f} numpy_sum={np_med:.3f} "
                f"threads={args.threads} load_start={load_start:.2f} load_end={load_end:.2f} "
                f"args={' '.join(common)}\n")
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)

    print(f"\nE={args.embed} Hq={args.heads} D={args.head_dim} layers={args.layers} "
          f"context={args.context}, {args.tokens - 1} decode steps x {args.runs} runs; "
          f"roof {roof:.2f} GB/s; load {load_start:.2f} -> {load_end:.2f}")
    print("| layout | kv heads | cache | ms/token | cache MiB/layer | MiB read/token | GB/s "
          "(of roof) | attention ms | attention MiB read | attention GB/s (of roof) | "
          "rest GB/s (of roof) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['layout']} | {r['kv_heads']} | {r['cache_dtype']} | {r['ms_per_token']} | "
              f"{r['cache_mib_layer']} | {r['read_mib_token']} | {r['gbps']} "
              f"({r['roof_ratio']}) | {r['attn_ms']} | {r['attn_read_mib']} | {r['attn_gbps']} "
              f"({r['attn_roof_ratio']}) | {r['rest_gbps']} ({r['rest_roof_ratio']}) |")
    # Against MHA: the ratio of the medians, and the median of the per-round ratios (the runs of
    # one round are minutes apart, those of two rounds up to an hour: the paired ratio is the one
    # that load changes on a shared machine disturb least).
    for dt in dtypes:
        base = next((r for r in rows if r["layout"] == "MHA" and r["cache_dtype"] == dt), None)
        for r in rows:
            if not base or r["cache_dtype"] != dt or r is base:
                continue
            ratio = lambda k: float(r[k]) / float(base[k])  # noqa: E731
            mine, ref = runs[(r["layout"], r["kv_heads"], dt)], runs[("MHA", args.heads, dt)]
            pairs = [(a, b) for a in mine for b in ref if a["round"] == b["round"]]
            paired = {k: statistics.median(float(a[k]) / float(b[k]) for a, b in pairs)
                      for k in ("decode_ms_median", "attn_ms_median")}
            print(f"{dt} {r['layout']}/MHA: time {ratio('ms_per_token'):.2f}x (paired per round "
                  f"{paired['decode_ms_median']:.2f}x), attention {ratio('attn_ms'):.2f}x (paired "
                  f"{paired['attn_ms_median']:.2f}x); bytes read {ratio('read_mib_token'):.2f}x, "
                  f"attention bytes {ratio('attn_read_mib'):.2f}x, cache "
                  f"{ratio('cache_mib_layer'):.3f}x")
    print(f"wrote {args.out} in {time.time() - t_start:.0f} s")
    plot(rows, dtypes, os.path.splitext(args.out)[0] + ".png", args)
    return 0


def plot(rows, dtypes, png, args):
    """Two panels: ms per token (attention part hatched) and cache MiB per layer."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no PNG")
        return
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5))
    colours = {"MHA": "tab:red", "GQA": "tab:blue", "MQA": "tab:green"}
    width = 0.8 / max(1, len(dtypes))
    names = ["MHA", "GQA", "MQA"]
    for j, dt in enumerate(dtypes):
        for i, name in enumerate(names):
            r = next((x for x in rows if x["layout"] == name and x["cache_dtype"] == dt), None)
            if not r:
                continue
            x = i + (j - (len(dtypes) - 1) / 2) * width
            a1.bar(x, float(r["ms_per_token"]), width, color=colours[name],
                   alpha=1.0 if j == 0 else 0.55, label=f"{name} {dt}")
            a1.bar(x, float(r["attn_ms"]), width, fill=False, hatch="//", edgecolor="black")
            a2.bar(x, float(r["cache_mib_layer"]), width, color=colours[name],
                   alpha=1.0 if j == 0 else 0.55)
    for ax, title in [(a1, "ms per generated token (hatched: attention layers)"),
                      (a2, "KV cache MiB per layer")]:
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([f"{n}\n({k} kv heads)" for n, k in
                            zip(names, [args.heads, args.gqa, 1])])
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    a1.legend(fontsize=8)
    fig.suptitle(f"generate: E={args.embed}, Hq={args.heads}, D={args.head_dim}, "
                 f"{args.layers} layers, {args.context}-token context; bars per cache type "
                 f"({', '.join(dtypes)})", fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")


if __name__ == "__main__":
    sys.exit(main())
