#!/usr/bin/python3
"""rnn_bench.py: the GRU/LSTM encoder of clattn (`clattn bench-rnn`) against numpy (the same
algorithm: one input-projection GEMM for all steps and both directions, then per step one
[B, H] x [H, G H] product per direction and the gate arithmetic, float32, OpenBLAS) and PyTorch's
nn.GRU / nn.LSTM (bidirectional, batch_first, no_grad, torch.set_num_threads(2)), same shapes, in
one run. Each configuration (cell x layers) runs clattn, numpy and PyTorch back to back, each in a
process of its own, each a warm-up call then --repeat timed calls, median reported; clattn's is
device time (OpenCL profiling events, `ms=`), numpy's and PyTorch's wall time of the call. The
whole set of configurations is repeated --rounds times (interleaved) and the per-tool median of
the round medians is the table's figure, so a burst of load from other work hits all tools alike.
The load average before and after is printed with the table.

Interpreters: --numpy-python (default /tmp/venv/bin/python, numpy from PyPI) and --torch-python
(default /tmp/tvenv/bin/python); a tool whose interpreter lacks its package is skipped (shown as
"-"). Run by hand, not in CI:

  /tmp/venv/bin/python bench/rnn_bench.py --cli build/clattn [--out bench/results/rnn_bench.csv]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

NUMPY_SNIPPET = r"""
import sys, time, numpy as np
cell, L, B, T, I, H, R = sys.argv[1], *map(int, sys.argv[2:])
G = 4 if cell == "lstm" else 3
rng = np.random.default_rng(0)
u = lambda *s: (rng.uniform(-1, 1, s) / np.sqrt(H)).astype(np.float32)
W = [(u(2 * G * H, I if l == 0 else 2 * H), [u(H, G * H) for d in range(2)], u(2 * G * H),
      [u(G * H) for d in range(2)]) for l in range(L)]
x = rng.standard_normal((B, T, I)).astype(np.float32)
sg = lambda v: 1 / (1 + np.exp(-v))
def forward(x):
    inp = x
    for Wih, WhhT, bih, bhh in W:
        gi = (inp.reshape(B * T, -1) @ Wih.T + bih).reshape(B, T, 2, G * H)
        out = np.empty((B, T, 2 * H), np.float32)
        for d in range(2):
            h = np.zeros((B, H), np.float32); c = np.zeros((B, H), np.float32)
            for s in range(T):
                t = s if d == 0 else T - 1 - s
                gx = gi[:, t, d]; gh = h @ WhhT[d] + bhh[d]
                if G == 4:
                    i, f, g, o = np.split(gx + gh, 4, axis=1)
                    c = sg(f) * c + sg(i) * np.tanh(g); h = sg(o) * np.tanh(c)
                else:
                    r = sg(gx[:, :H] + gh[:, :H]); z = sg(gx[:, H:2*H] + gh[:, H:2*H])
                    n = np.tanh(gx[:, 2*H:] + r * gh[:, 2*H:]); h = (1 - z) * n + z * h
                out[:, t, d * H:(d + 1) * H] = h
        inp = out
    return inp
forward(x)
ts = []
for _ in range(R):
    t0 = time.perf_counter(); forward(x); ts.append(time.perf_counter() - t0)
print("ms=%.3f" % (1e3 * sorted(ts)[len(ts) // 2]))
"""

TORCH_SNIPPET = r"""
import sys, time, torch
cell, L, B, T, I, H, R = sys.argv[1], *map(int, sys.argv[2:])
torch.set_num_threads(2)
m = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(I, H, num_layers=L, bidirectional=True,
                                                          batch_first=True)
x = torch.randn(B, T, I)
ts = []
with torch.no_grad():
    m(x)
    for _ in range(R):
        t0 = time.perf_counter(); m(x); ts.append(time.perf_counter() - t0)
print("ms=%.3f" % (1e3 * sorted(ts)[len(ts) // 2]))
"""


def has_module(python, module):
    try:
        return subprocess.run([python, "-c", "import " + module], capture_output=True,
                              timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def ms_of(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(r"\bms=([0-9.]+)", r.stdout)
    if r.returncode != 0 or not m:
        sys.exit("failed: %s\n%s%s" % (" ".join(cmd), r.stdout, r.stderr))
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", default="build/clattn", help="the clattn program")
    ap.add_argument("--numpy-python", default="/tmp/venv/bin/python")
    ap.add_argument("--torch-python", default="/tmp/tvenv/bin/python")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=50)
    ap.add_argument("--input", type=int, default=512)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", default="1,2", help="comma-separated layer counts")
    ap.add_argument("--cells", default="gru,lstm")
    ap.add_argument("--repeat", type=int, default=5, help="timed calls per process")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    ap.add_argument("--out", help="also write the table as CSV here")
    a = ap.parse_args()
    tools = {"clattn": True,
             "numpy": has_module(a.numpy_python, "numpy"),
             "pytorch": has_module(a.torch_python, "torch")}
    for t, ok in tools.items():
        if not ok:
            print("skipping %s: its interpreter lacks the package" % t, file=sys.stderr)
    shape = [str(v) for v in (a.batch, a.seq, a.input, a.hidden, a.repeat)]
    configs = [(c, int(l)) for c in a.cells.split(",") for l in a.layers.split(",")]
    load0 = os.getloadavg()
    times = {(c, l, t): [] for c, l in configs for t in tools}
    for rnd in range(a.rounds):
        for c, l in configs:
            cmds = {"clattn": [a.cli, "bench-rnn", "--cell", c, "--layers", str(l), "--batch",
                               shape[0], "--seq", shape[1], "--input", shape[2], "--hidden",
                               shape[3], "--repeat", shape[4]],
                    "numpy": [a.numpy_python, "-c", NUMPY_SNIPPET, c, str(l)] + shape,
                    "pytorch": [a.torch_python, "-c", TORCH_SNIPPET, c, str(l)] + shape}
            for t, ok in tools.items():
                if ok:
                    times[(c, l, t)].append(ms_of(cmds[t]))
            print("round %d %s x%d: %s" % (rnd + 1, c, l, "  ".join(
                "%s %.1f" % (t, times[(c, l, t)][-1]) for t in tools if tools[t])),
                file=sys.stderr)
    load1 = os.getloadavg()
    med = lambda c, l, t: statistics.median(times[(c, l, t)]) if times[(c, l, t)] else None
    fmt = lambda v: "-" if v is None else "%.1f" % v
    print("B=%d T=%d input=%d hidden=%d, bidirectional, median ms (%d rounds x %d calls); load "
          "average %.2f before, %.2f after" % (a.batch, a.seq, a.input, a.hidden, a.rounds,
                                               a.repeat, load0[0], load1[0]))
    print("| cell | layers | clattn ms | numpy ms | PyTorch ms | PyTorch / clattn |")
    print("|------|--------|-----------|----------|------------|------------------|")
    rows = []
    for c, l in configs:
        v = [med(c, l, t) for t in ("clattn", "numpy", "pytorch")]
        ratio = "-" if v[2] is None else "%.2f" % (v[2] / v[0])
        print("| %s | %d | %s | %s | %s | %s |" % (c, l, fmt(v[0]), fmt(v[1]), fmt(v[2]), ratio))
        rows.append([c, l] + [fmt(x) for x in v])
    if a.out:
        with open(a.out, "w") as f:
            f.write("# load average %.2f before, %.2f after\n" % (load0[0], load1[0]))
            f.write("cell,layers,clattn_ms,numpy_ms,pytorch_ms\n")
            for r in rows:
                f.write(",".join(str(x) for x in r) + "\n")


if __name__ == "__main__":
    main()
