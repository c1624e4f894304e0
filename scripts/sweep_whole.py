"""Sweep of the whole model to convergence: polysemantic counts over a grid of m (and n), many seeds.

Default: the paper's grid (Lecomte et al.), n = 256 and m = 256, 512, ..., 4096 (m = 256 k, k = 1..16),
20 seeds per point, lam = 0.1 / sqrt(m) (the setup chapter's regime lam sqrt(m) small), run to
convergence with the fast integrator of `incidental.whole`. Writes a small JSON file (settings, library
version, wall time, one record per run) that chapter 07 shows when present; the book build never runs
this script. Examples:

    nice -n 10 .venv/bin/python scripts/sweep_whole.py                       # the paper grid, 2 workers
    .venv/bin/python scripts/sweep_whole.py --n 64 128 --m 128 256 512 1024 2048 --seeds 20 \
        --out book/data/whole_count_sweep.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: small matrices, one thread per worker
os.environ.setdefault("OMP_NUM_THREADS", "1")

from concurrent.futures import ProcessPoolExecutor, as_completed

ROOT = Path(__file__).resolve().parents[1]
PAPER_M = [256 * k for k in range(1, 17)]


def library_version() -> str:
    """The installed version of `incidental` and the git commit of this checkout."""
    from importlib import metadata

    try:
        version = metadata.version("incidental")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        version = "unknown"
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "lib"], capture_output=True, text=True, check=True
        ).stdout.strip()
        commit += "+dirty" if dirty else ""
    except (OSError, subprocess.CalledProcessError):  # pragma: no cover
        commit = "unknown"
    return f"{version} ({commit})"


def _one(task: tuple[int, int, int, float, dict]) -> dict:
    from incidental.whole import run_point

    n, m, seed, lam, settings = task
    return run_point(n, m, seed, lam=lam, **settings)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, nargs="+", default=[256], help="numbers of features (default 256)")
    p.add_argument("--m", type=int, nargs="+", default=PAPER_M, help="numbers of neurons (default 256..4096 by 256)")
    p.add_argument("--seeds", type=int, default=20, help="seeds 0..seeds-1 per point (default 20)")
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--lam-sqrt-m",
        type=float,
        nargs="+",
        default=[0.1],
        help="lam = this / sqrt(m) (default 0.1); several values: one run set per value",
    )
    g.add_argument("--lam", type=float, default=None, help="one lam for every m instead")
    p.add_argument("--h", type=float, default=None, help="step while dense (default: incidental.whole.SWEEP_SETTINGS)")
    p.add_argument("--h-sparse", type=float, default=None, help="step once sparse")
    p.add_argument("--workers", type=int, default=2, help="processes (default 2: this machine's cores)")
    p.add_argument("--out", type=Path, default=ROOT / "book" / "data" / "whole_paper_sweep.json")
    args = p.parse_args(argv)

    from incidental import _validate as v
    from incidental.whole import SWEEP_SETTINGS

    for n in args.n:  # every size valid; pairs with m < n are skipped (the model needs m >= n)
        v.size("n", n)
    for m in args.m:
        v.size("m", m)
    settings = {k: val for k, val in (("h", args.h), ("h_sparse", args.h_sparse)) if val is not None}
    lams = (lambda m: [args.lam]) if args.lam is not None else (lambda m: [c / m**0.5 for c in args.lam_sqrt_m])
    tasks = [
        (n, m, s, lam, settings) for n in args.n for m in args.m if m >= n for lam in lams(m) for s in range(args.seeds)
    ]
    tasks.sort(key=lambda t: -(t[0] ** 2) * t[1])  # largest first: the pool ends evenly
    start = time.perf_counter()
    records = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = [pool.submit(_one, t) for t in tasks]
        for k, fut in enumerate(as_completed(futures), 1):
            rec = fut.result()
            records.append(rec)
            if k % max(1, len(tasks) // 20) == 0 or k == len(tasks):
                print(f"{k}/{len(tasks)} runs, {time.perf_counter() - start:.0f} s", flush=True)
    wall = time.perf_counter() - start
    records.sort(key=lambda r: (r["n"], r["m"], r["lam"], r["seed"]))
    out = {
        "description": "whole model run to convergence; polysemantic = neurons with >= 2 exactly nonzero weights",
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "library_version": library_version(),
        "settings": {
            **SWEEP_SETTINGS,
            **settings,
            "lam_rule": (f"lam = {args.lam}" if args.lam is not None else f"lam = c / sqrt(m), c in {args.lam_sqrt_m}"),
        },
        "n": args.n,
        "m": args.m,
        "seeds": args.seeds,
        "workers": args.workers,
        "wall_seconds": wall,
        "cpu_seconds": sum(r["seconds"] for r in records),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "runs": records,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out} ({len(records)} runs, wall {wall:.0f} s, {out['cpu_seconds']:.0f} CPU s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
