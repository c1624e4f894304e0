"""Benchmark: the whole model to convergence, fast integrator against the plain dense one.

Both integrate the same scheme (soft-threshold step after an explicit Runge-Kutta step of the smooth
forces, with the step schedule of `incidental.whole.SWEEP_SETTINGS`). The plain one does every stage in
weight space on the whole (n, m) matrix in double precision; the fast one does the stages in Gram space,
drops dead neurons, splits off features that can no longer interact, and uses single precision while the
coupled block is large. The benchmark checks that both end with the same supports and the same
polysemantic count, and prints the speed-up measured in this one run (the machine is shared and noisy:
compare within a run, never across runs). With --library it also times the library's own dense Strang
integrator, `incidental.simulate(W0, [0, t_end], lam=lam, max_step=h)` (fixed step, RK4 half steps).

    nice -n 10 .venv/bin/python benchmarks/bench_whole.py                  # n = 256, m = 4096 (paper's largest)
    .venv/bin/python benchmarks/bench_whole.py --n 128 --m 1024 --library
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

import numpy as np
from incidental.flow import simulate
from incidental.model import sample_weights
from incidental.whole import SWEEP_SETTINGS, count_polysemantic, whole_flow


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--m", type=int, default=4096)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lam-sqrt-m", type=float, default=0.1)
    p.add_argument("--library", action="store_true", help="also time incidental.simulate (slow)")
    p.add_argument("--out", type=Path, default=None, help="also write the numbers to this JSON file")
    args = p.parse_args(argv)

    lam = args.lam_sqrt_m / np.sqrt(args.m)
    W0 = sample_weights(args.n, args.m, seed=args.seed)
    print(
        f"whole model, n = {args.n}, m = {args.m}, seed = {args.seed}, lam = {lam:.4g} "
        f"(lam sqrt(m) = {args.lam_sqrt_m:g}), settings {SWEEP_SETTINGS}"
    )
    fast = whole_flow(W0, lam, method="fast", **SWEEP_SETTINGS)
    print(
        f"fast : {fast.seconds:8.1f} s, t_end = {fast.t_end:.1f}, {fast.steps} steps, "
        f"polysemantic = {count_polysemantic(fast.W)}"
    )
    dense = whole_flow(W0, lam, method="dense", **SWEEP_SETTINGS)
    same = np.array_equal(fast.W != 0, dense.W != 0)
    print(
        f"dense: {dense.seconds:8.1f} s, t_end = {dense.t_end:.1f}, {dense.steps} steps, "
        f"polysemantic = {count_polysemantic(dense.W)}"
    )
    print(
        f"same final supports: {same} ({int(np.sum(((fast.W != 0) != (dense.W != 0)).any(axis=1)))} features differ); "
        f"same count: {count_polysemantic(fast.W) == count_polysemantic(dense.W)}; "
        f"max |W_fast - W_dense| = {np.max(np.abs(fast.W - dense.W)):.1e}"
    )
    print(f"SPEED-UP over the plain dense integrator (same scheme, same accuracy): {dense.seconds / fast.seconds:.1f}x")
    record = {
        "command": " ".join(["benchmarks/bench_whole.py", *(argv if argv is not None else sys.argv[1:])]),
        "n": args.n,
        "m": args.m,
        "seed": args.seed,
        "lam": lam,
        "settings": SWEEP_SETTINGS,
        "fast_seconds": fast.seconds,
        "dense_seconds": dense.seconds,
        "speedup": dense.seconds / fast.seconds,
        "same_supports": bool(same),
        "polysemantic": count_polysemantic(fast.W),
        "t_end": fast.t_end,
        "steps": fast.steps,
    }
    if args.library:
        h = SWEEP_SETTINGS["h"]
        start = time.perf_counter()
        W = simulate(W0, [0.0, fast.t_end], lam=lam, max_step=h)[-1]
        lib = time.perf_counter() - start
        agree = np.array_equal(W != 0, fast.W != 0)
        differ = int(np.sum(((W != 0) != (fast.W != 0)).any(axis=1)))
        print(
            f"library simulate (Strang, RK4 half steps, fixed step {h}): {lib:.1f} s, polysemantic = "
            f"{count_polysemantic(W)}, same supports as fast: {agree} ({differ} features differ); "
            f"speed-up {lib / fast.seconds:.1f}x"
        )
        record.update(
            {"library_seconds": lib, "library_same_supports": bool(agree), "library_speedup": lib / fast.seconds}
        )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
