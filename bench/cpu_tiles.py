#!/usr/bin/python3
"""cpu_tiles.py: re-measures the CPU flavour's tile table (src/sdpa/cpu_tiles.c) on this host and
prints it as the C rows that table holds, to paste into the policy for this host's lane width.

Method (the one behind the first AVX2 table): `clattn bench` with the tile forced (--algo flash2
--block-q BQ --block-kv BKV), B=1, H=8, float32, each tile of each problem run in --procs
separate processes of --repeat timed calls, the tiles of a problem taking turns round by round;
the figure is the median over the processes of
FLOPs per second of the process's CPU time (4*B*H*N*N*d / cpu_ms, halved when causal: "per
core"), which other load on a shared machine distorts far less than wall-clock rates. The
register blocking (JB, EB) follows from the device's lane width and block_q (plan_cpu.h), so it
is what the library will run. The CLI pins PoCL's worker threads (POCL_AFFINITY=1) unless the
environment says otherwise. `uptime` is printed before and after: quote it with the table.

With --interleave PATH (the `interleave` program of bench/interleave.c, built next to clattn)
every tile of a problem runs in one process instead, call by call in rotating order (--rounds
rounds; default more for short calls), and the figure is interleave's wall-clock GFLOP/s of the
median call: the method behind the AVX-512 table and the current AVX2 one, because on these
hosts the speed of the whole machine drifts by 10-20% over seconds (README, "Steady timings"),
which separate processes sample one state each and interleaved calls share. block_q 24 (three
8-lane vectors) is among the tiles: the 8-lane policy's choice; on a 16-lane host it runs 8-lane
vectors too, and is not expected to win there. --passes P runs each problem's process P
times and takes each tile's median over them, so that one pass caught in a slow spell does not
decide a close call.

  /usr/bin/python3 bench/cpu_tiles.py --cli build/clattn            # about 10 minutes, 2 cores
  /usr/bin/python3 bench/cpu_tiles.py --cli build/clattn --quick    # d=64 plain only
  /usr/bin/python3 bench/cpu_tiles.py --interleave build/interleave # about 35 s (AVX-512 host)
  /usr/bin/python3 bench/cpu_tiles.py --interleave build/interleave --passes 3  # 100-250 s
"""
import argparse
import re
import statistics
import subprocess
import sys

TILES_Q = (8, 16, 24, 32, 64)
TILES_KV = (32, 64, 128)


def run(cli, d, causal, n, bq, bkv, repeat):
    cmd = [cli, "bench", "--batch", "1", "--heads", "8", "--seq", str(n), "--dim", str(d),
           "--algo", "flash2", "--block-q", str(bq), "--block-kv", str(bkv),
           "--repeat", str(repeat)]
    if causal:
        cmd.append("--causal")
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print(f"# {' '.join(cmd)}: {(p.stderr.strip().splitlines() or ['failed'])[-1]}",
              file=sys.stderr)
        return None
    kv = dict(re.findall(r"(\w+)=([^\s]+)", p.stdout))
    flops = 4.0 * 8 * n * n * d * (0.5 if causal else 1.0)
    return flops / (float(kv["cpu_ms"]) * 1e-3) * 1e-9, float(kv["gflops"])


def run_interleaved(prog, d, causal, n, tiles, rounds):
    """All tiles of one problem in one `interleave` process: {tile: wall-clock GFLOP/s}."""
    cmd = [prog, "--batch", "1", "--heads", "8", "--seq", str(n), "--dim", str(d),
           "--rounds", str(rounds)] + (["--causal"] if causal else [])
    cmd += [f"algo=flash2,block_q={bq},block_kv={bkv}" for bq, bkv in tiles]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print(f"# {' '.join(cmd)}: {(p.stderr.strip().splitlines() or ['failed'])[-1]}",
              file=sys.stderr)
        return {}
    got = {}
    for line in p.stdout.splitlines():
        m = re.match(r"algo=flash2,block_q=(\d+),block_kv=(\d+)\s.*gflops=([\d.]+)", line)
        if m:
            got[(int(m.group(1)), int(m.group(2)))] = float(m.group(3))
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", help="the clattn program (separate processes per tile)")
    ap.add_argument("--interleave", help="the interleave program (all tiles in one process)")
    ap.add_argument("--rounds", type=int, default=0,
                    help="--interleave: rounds (default 40 at N=256 down to 8 at N=2048)")
    ap.add_argument("--passes", type=int, default=1,
                    help="--interleave: processes per problem, one after another; the figure is "
                         "the median over them of each tile's median call")
    ap.add_argument("--procs", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if bool(args.cli) == bool(args.interleave):
        ap.error("give one of --cli and --interleave")
    # (d, causal, N, block_kv choices): the full block_kv range at N=2048, block_kv 64 (the
    # policy's) for the short sequences
    problems = [(64, 0, 2048, TILES_KV)]
    if not args.quick:
        problems += [(64, 1, 2048, TILES_KV), (128, 0, 2048, TILES_KV), (128, 1, 2048, TILES_KV)]
    problems += [(64, 0, n, (64,)) for n in (256, 512, 1024)]
    if not args.quick:
        problems += [(d, c, n, (64,)) for d, c in ((64, 1), (128, 0), (128, 1))
                     for n in (256, 512, 1024)]
    print("/* uptime before: " + subprocess.run(["uptime"], capture_output=True,
                                                   text=True).stdout.strip() + " */")
    if args.interleave:
        print("/* algo D  causal heads Sq   Skv  block_q block_kv GFLOP/s (wall, interleaved) */")
        for d, causal, n, kvs in problems:
            tiles = [(bq, bkv) for bq in TILES_Q for bkv in kvs]
            rounds = args.rounds or max(8, min(40, 8 * 2048 // n))
            got = {}
            for _ in range(args.passes):
                for t, g in run_interleaved(args.interleave, d, causal, n, tiles, rounds).items():
                    got.setdefault(t, []).append(g)
            for (bq, bkv), gs in got.items():
                g = statistics.median(gs)
                print(f"{{F2, {d:3d}, {causal}, 8, {n:4d}, {n:4d}, {bq:2d}, {bkv:3d}, {g:4.0f}}},",
                      flush=True)
        print("/* uptime after: " + subprocess.run(["uptime"], capture_output=True,
                                                      text=True).stdout.strip() + " */")
        return
    print("/* algo D  causal heads Sq   Skv  block_q block_kv GFLOP/s per core (wall) */")
    for d, causal, n, kvs in problems:
        tiles = [(bq, bkv) for bq in TILES_Q for bkv in kvs]
        got = {t: [] for t in tiles}
        # rounds outside, tiles inside: a change in the machine's load falls on every tile alike
        for _ in range(args.procs):
            for t in tiles:
                r = run(args.cli, d, causal, n, t[0], t[1], args.repeat)
                if r:
                    got[t].append(r)
        for (bq, bkv), rs in got.items():
            if not rs:
                continue
            core = statistics.median(r[0] for r in rs)
            wall = statistics.median(r[1] for r in rs)
            print(f"{{F2, {d:3d}, {causal}, 8, {n:4d}, {n:4d}, {bq:2d}, {bkv:3d}, "
                  f"{core:4.0f}}}, /* wall {wall:.0f} */", flush=True)
    print("/* uptime after: " + subprocess.run(["uptime"], capture_output=True,
                                                  text=True).stdout.strip() + " */")


if __name__ == "__main__":
    main()
