"""Step convergence of chapter 7's recorded numbers: each point run with the book's scheme, with both steps
halved and quartered, and with a plain RK4 at a small fixed step; same seeds.

For every point (n, m, lam sqrt(m)) and seed it records what the chapter quotes: the polysemantic count,
the dead features, the fraction of features that end on their initial argmax (the mechanism) and t_end.
Writes JSON (settings, library version, one record per run) that chapter 7 shows; the book build never
runs this script. Examples:

    .venv/bin/python scripts/step_convergence.py --out book/data/whole_step_convergence.json
    .venv/bin/python scripts/step_convergence.py --points 64,1024,3.2 --seeds 4 --out /tmp/conv.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from concurrent.futures import ProcessPoolExecutor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

#: The points studied: the paper's scale (lam sqrt(m) = 0.1) and the large-lam points where features die.
POINTS = ((256, 2048, 0.1), (256, 4096, 0.1), (64, 1024, 0.4), (64, 1024, 1.6), (64, 1024, 2.4), (64, 1024, 3.2))
#: The schemes: the book's (SWEEP_SETTINGS), its steps halved and quartered, and RK4 at a small fixed step.
SCHEMES = {
    "book": {},
    "half": {"factor": 0.5},
    "quarter": {"factor": 0.25},
    "rk4_fixed": {"h": 0.0625, "h_sparse": 0.0625, "rk_order": 4, "tau_step": None},
}


def effective_steps(settings: dict, lam_sqrt_m: float) -> tuple[float, float]:
    """The steps ``(h, h_sparse)`` a run with ``settings`` takes (after the clock bound ``tau_step``)."""
    from incidental.whole import clock_bounded_steps

    if not settings.get("tau_step"):
        return settings["h"], settings["h_sparse"]
    return clock_bounded_steps(settings["h"], settings["h_sparse"], lam_sqrt_m, settings["tau_step"])


def scheme_settings(name: str, lam_sqrt_m: float) -> dict:
    """The settings of ``run_point`` for scheme ``name`` at ``lam sqrt(m)``: the book's as they are; the
    others with their steps written out (no clock bound)."""
    from incidental.whole import SWEEP_SETTINGS

    spec = dict(SCHEMES[name])
    factor = spec.pop("factor", None)
    settings = {**SWEEP_SETTINGS, **spec}
    if factor is not None:
        settings["h"], settings["h_sparse"] = (factor * x for x in effective_steps(settings, lam_sqrt_m))
    if settings.get("tau_step") is None or factor is not None:
        settings.pop("tau_step", None)
    return settings


def one(task: tuple[int, int, float, int, str]) -> dict:
    import numpy as np
    from incidental.whole import run_point

    n, m, lam_sqrt_m, seed, scheme = task
    settings = scheme_settings(scheme, lam_sqrt_m)
    start = time.time()
    r = run_point(n, m, seed, lam=lam_sqrt_m / np.sqrt(m), **settings)
    keep = ("n", "m", "seed", "lam", "lam_sqrt_m", "polysemantic", "dead_features", "mechanism", "t_end", "converged")
    out = {k: r[k] for k in keep}
    h, h_sparse = effective_steps(settings, lam_sqrt_m)
    out.update(scheme=scheme, h=h, h_sparse=h_sparse, rk_order=settings["rk_order"])
    out["seconds"] = time.time() - start
    return out


def main(argv: list[str] | None = None) -> int:
    from sweep_whole import library_version

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--points", nargs="+", default=[f"{n},{m},{c}" for n, m, c in POINTS], help="n,m,lam_sqrt_m")
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..seeds-1 per point (default 5)")
    p.add_argument("--schemes", nargs="+", default=list(SCHEMES), choices=list(SCHEMES))
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "book" / "data" / "whole_step_convergence.json")
    args = p.parse_args(argv)
    points = [(int(a), int(b), float(c)) for a, b, c in (s.split(",") for s in args.points)]
    tasks = [(n, m, c, s, k) for n, m, c in points for k in args.schemes for s in range(args.seeds)]
    start, records = time.time(), []
    with ProcessPoolExecutor(args.workers) as pool:
        for k, rec in enumerate(pool.map(one, tasks), 1):
            records.append(rec)
            print(
                f"{k}/{len(tasks)} {rec['scheme']} n={rec['n']} m={rec['m']} c={rec['lam_sqrt_m']:g} "
                f"seed={rec['seed']}: {rec['polysemantic']} poly, {rec['dead_features']} dead, "
                f"{rec['seconds']:.1f}s",
                file=sys.stderr,
                flush=True,
            )
    doc = {
        "description": "chapter 7's numbers at the book's step, halved, quartered, and with RK4 at a fixed small step",
        "command": "step_convergence.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "library_version": library_version(),
        "schemes": {k: scheme_settings(k, 1.0) for k in args.schemes},
        "points": points,
        "seeds": args.seeds,
        "wall_seconds": time.time() - start,
        "runs": records,
    }
    args.out.write_text(json.dumps(doc, indent=1))
    print(f"wrote {args.out}: {len(records)} runs in {doc['wall_seconds']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
