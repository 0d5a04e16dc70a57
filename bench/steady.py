#!/usr/bin/python3
"""steady.py: how steady `clattn bench` is between processes (issue 15), with PoCL's worker
threads pinned (POCL_AFFINITY=1, the CLI's default) and unpinned (POCL_AFFINITY=0), interleaved
so that machine load falls on both alike.

For each setting, --procs processes of the same command (default: B=1, H=8, N=512, d=64,
--repeat 9); per process its median GFLOP/s, and its min/median/max call times. Then the spread
over processes: slowest / fastest median. With --threads it also samples, every millisecond, the
state and CPU of every thread of each process (/proc/PID/task/*/stat) and reports the fraction of
samples in which two or more of the process's threads were runnable on the same CPU at once
("stacked": one of them waits while a core may be idle), and the seconds the threads ran and
waited runnable on a run queue (/proc/PID/task/*/schedstat), the evidence for the cause.

Two more views of the same question, for telling the library's share from the host's:
  --within CALLS  one process of CALLS calls (pinned, `clattn bench --trace`): the medians of
                  consecutive windows of --window calls in call order, and slowest / fastest
                  window. A process whose speed changes while it runs is not slow by itself.
  --host          builds bench/host_steady.c (cc) and runs it: per CPU, GFLOP/s in 100 ms windows
                  of an FMA-only loop and of flash_cpu's score-loop shape, without OpenCL.

  /usr/bin/python3 bench/steady.py --cli build/clattn [--procs 10] [--seq 512] [--threads]
                                   [--within 600] [--host]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time


def sample_threads(proc):
    """Samples (state, cpu) of each thread of proc until it exits: (samples, stacked samples,
    samples with two or more runnable threads, seconds the threads ran, seconds they waited
    runnable on a run queue: /proc/.../schedstat, summed over threads)."""
    samples = stacked = busy = 0
    sched = {}
    base = f"/proc/{proc.pid}/task"
    while proc.poll() is None:
        cpus = []
        try:
            for tid in os.listdir(base):
                with open(f"{base}/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open(f"{base}/{tid}/schedstat") as f:
                    sched[tid] = [int(x) for x in f.read().split()[:2]]
                if fields[0] == "R":
                    cpus.append(int(fields[36]))  # field 39 of stat: the CPU last run on
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            pass
        samples += 1
        if len(cpus) >= 2:
            busy += 1
            stacked += len(set(cpus)) < len(cpus)
        time.sleep(0.001)
    ran = sum(v[0] for v in sched.values()) * 1e-9
    waited = sum(v[1] for v in sched.values()) * 1e-9
    return samples, stacked, busy, ran, waited


def run(cli, args, affinity, threads):
    env = dict(os.environ, POCL_AFFINITY=affinity)
    cmd = [cli, "bench", "--batch", "1", "--heads", "8", "--seq", str(args.seq), "--dim",
           str(args.dim), "--repeat", str(args.repeat)] + (["--causal"] if args.causal else [])
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    th = sample_threads(p) if threads else None
    out, err = p.communicate()
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: {err.strip()}")
    kv = dict(re.findall(r"(\w+)=([^\s]+)", out))
    return kv, th


def within(cli, args):
    """One pinned process of args.within calls: window medians in call order."""
    cmd = [cli, "bench", "--batch", "1", "--heads", "8", "--seq", str(args.seq), "--dim",
           str(args.dim), "--repeat", str(args.within), "--trace"] + (
               ["--causal"] if args.causal else [])
    p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, POCL_AFFINITY="1"))
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: {p.stderr.strip()}")
    line = next(l for l in p.stdout.splitlines() if l.startswith("calls_ms="))
    calls = [float(x) for x in line.split("=", 1)[1].split(",")]
    w = args.window
    meds = [statistics.median(calls[i:i + w]) for i in range(0, len(calls) - w + 1, w)]
    print(f"\none process, {len(calls)} calls (N={args.seq} d={args.dim}"
          f"{' causal' if args.causal else ''}), median ms of each {w} calls in call order:")
    for i in range(0, len(meds), 10):
        print("  " + " ".join(f"{m:6.2f}" for m in meds[i:i + 10]))
    print(f"  slowest/fastest window {min(meds) / max(meds):.2f} "
          f"({min(meds):.2f}-{max(meds):.2f} ms); whole process median {statistics.median(calls):.2f}")


def host(seconds):
    """Builds and runs bench/host_steady.c; prints its report."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "host_steady.c")
    with tempfile.TemporaryDirectory() as d:
        exe = os.path.join(d, "host_steady")
        cc = os.environ.get("CC", "cc")
        b = subprocess.run([cc, "-O3", "-march=native", "-pthread", "-o", exe, src],
                           capture_output=True, text=True)
        if b.returncode != 0:
            sys.exit(f"building {src}: {b.stderr.strip()}")
        r = subprocess.run([exe, str(seconds)], capture_output=True, text=True)
        print("\n" + r.stdout.rstrip())
        if r.returncode != 0:
            sys.exit(f"{exe}: {r.stderr.strip()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--procs", type=int, default=10)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--causal", action="store_true")
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--threads", action="store_true", help="sample thread placement too")
    ap.add_argument("--settings", default="1,0", help="POCL_AFFINITY values to compare")
    ap.add_argument("--within", type=int, default=0,
                    help="also one process of this many calls, traced (2 windows at least)")
    ap.add_argument("--window", type=int, default=20, help="calls per window of --within")
    ap.add_argument("--host", action="store_true", help="also run bench/host_steady.c")
    ap.add_argument("--host-seconds", type=float, default=4.0)
    args = ap.parse_args()
    if args.within and not (2 * args.window <= args.within <= 1000 and args.window >= 1):
        ap.error("--within takes 2 x --window ... 1000 calls")
    up = lambda: subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"before: {up()}")
    settings = args.settings.split(",")
    res = {a: [] for a in settings}
    for _ in range(args.procs):
        for a in settings:
            res[a].append(run(args.cli, args, a, args.threads))
    print(f"after:  {up()}")
    for a in settings:
        g = [float(kv["gflops"]) for kv, _ in res[a]]
        print(f"\nPOCL_AFFINITY={a}: N={args.seq} d={args.dim}{' causal' if args.causal else ''}, "
              f"{args.procs} processes x {args.repeat} calls")
        for kv, th in res[a]:
            line = (f"  gflops={float(kv['gflops']):7.1f} min_ms={kv['min_ms']} ms={kv['ms']} "
                    f"max_ms={kv['max_ms']} cpu_ms={kv['cpu_ms']} enqueue_ms={kv['enqueue_ms']}")
            if th:
                s, st, busy, ran, waited = th
                line += (f"  stacked {100.0 * st / max(busy, 1):.0f}% of {busy} samples with 2+ "
                         f"runnable threads; ran {ran:.2f} s, waited runnable {waited:.2f} s")
            print(line)
        print(f"  median {statistics.median(g):.1f} GFLOP/s, slowest/fastest process "
              f"{min(g) / max(g):.2f} ({min(g):.1f}-{max(g):.1f})")
    if args.within:
        within(args.cli, args)
    if args.host:
        host(args.host_seconds)


if __name__ == "__main__":
    main()
