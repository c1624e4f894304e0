"""Benchmark: scripts/sweep_whole.py on Dask's distributed scheduler against the process pool, in one run.

Runs the same sweep twice (a subset of a grid: by default n = 64, m = 128, 256, 384, 512, 4 seeds, lam sqrt(m)
= 0.1), once with `--backend pool` and once with the default Dask backend (a local cluster, one
single-threaded worker per core), each as a fresh command in its own temporary file, and prints both wall
times and their ratio: end to end (the command: imports, the cluster's start and stop, the runs) and as the
script records it (the session's wall time: the cluster's start included, Python's start not). It also says
whether both recorded the same runs with the same values (everything but each run's own timing), and the
ratio of the time the runs themselves took (the sum of their `seconds`: the per-run overhead). No
assertions; the machine is shared and noisy: compare within a run, never across runs. The fixed cost of a
local cluster (a few seconds) dominates small subsets; a larger one shows the per-run overhead:

    nice -n 10 .venv/bin/python benchmarks/bench_sweep.py
    nice -n 10 .venv/bin/python benchmarks/bench_sweep.py --n 256 --m 1024 1536 2048 2560 --seeds 20

The second, a subset of the paper grid (80 runs), measured on 2026-12-07 on the shared 2-core machine:
pool 130.0 s, Dask 131.4 s end to end, Dask / pool 1.011 (the runs' own time 0.997). On 16 small runs the
local cluster's start and stop (about 2 s) dominate: 1.14.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from incidental.whole import read_sweep

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "sweep_whole.py"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, nargs="+", default=[64])
    p.add_argument("--m", type=int, nargs="+", default=[128, 256, 384, 512])
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--lam-sqrt-m", type=float, default=0.1)
    p.add_argument("--workers", type=int, default=None, help="processes / local workers (default: one per core)")
    args = p.parse_args(argv)

    grid = ["--n", *map(str, args.n), "--m", *map(str, args.m), "--seeds", str(args.seeds)]
    grid += ["--lam-sqrt-m", str(args.lam_sqrt_m), "--quiet"]
    grid += ["--workers", str(args.workers)] if args.workers else []
    print(f"sweep_whole.py {' '.join(grid)}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("pool", "dask"):
            out = Path(tmp) / f"{backend}.jsonl"
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, str(SCRIPT), *grid, "--backend", backend, "--out", str(out)],
                capture_output=True,
                text=True,
            )
            wall = time.perf_counter() - start
            if done.returncode != 0:
                print(f"{backend}: failed ({done.returncode})\n{done.stderr}")
                return 1
            header, records = read_sweep(out)
            session = header["sessions"][-1]
            results[backend] = dict(wall=wall, session=session["wall_seconds"], cpu=header["cpu_seconds"])
            results[backend].update(workers=session["workers"], records=records)
    pool, dask = results["pool"], results["dask"]
    runs = len(pool["records"])
    print(f"{runs} runs, {pool['cpu']:.1f} CPU s (pool) and {dask['cpu']:.1f} CPU s (Dask) in the runs themselves")
    print(f"{'':6} {'workers':>7} {'command (s)':>12} {'session (s)':>12}")
    for name, r in (("pool", pool), ("Dask", dask)):
        print(f"{name:6} {r['workers']:>7d} {r['wall']:>12.2f} {r['session']:>12.2f}")
    ratios = [dask[k] / pool[k] for k in ("wall", "session", "cpu")]
    print("Dask / pool: {:.3f} (command), {:.3f} (session), {:.3f} (the runs' own time)".format(*ratios))

    def values(records: list[dict]) -> list[str]:
        return [json.dumps({k: v for k, v in r.items() if k != "seconds"}) for r in records]

    print(f"same records: {'yes' if values(pool['records']) == values(dask['records']) else 'NO'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
