"""Benchmark: the Gram-space flow against the weight-space flow, and sampling at m = 10^9.

Runs with one BLAS thread, as the Makefile sets. Prints ratios measured in one run (this
machine is shared and noisy: compare within a run, never across runs).
Run: `make benchmark` or `.venv/bin/python benchmarks/bench_flows.py`.
"""

from __future__ import annotations

import time

import incidental as inc
import numpy as np

N = 128
MS = (2048, 8192, 32768)
TIMES = np.array([0.0, 0.5])
INTERFERENCE = ("interference",)


def best_time(fn, repeats: int) -> float:
    """Smallest wall time of ``repeats`` calls of ``fn`` (seconds)."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    print(f"interference-only flow, n = {N}, t in [0, {TIMES[-1]:g}], rtol = {inc.flow.DEFAULT_RTOL:g}")
    print(f"{'m':>7} {'weights (s)':>12} {'gram (s)':>10} {'speed-up':>9} {'(m/n)/4':>8} {'max |WW^T - G|':>15}")
    for m in MS:
        W0 = inc.sample_weights(N, m, seed=0)
        G0 = W0 @ W0.T
        t_w = best_time(lambda W0=W0: inc.simulate(W0, TIMES, terms=INTERFERENCE), 1 if m > 8192 else 2)
        t_g = best_time(lambda G0=G0: inc.simulate_gram(G0, TIMES, terms=INTERFERENCE), 3)
        W1 = inc.simulate(W0, TIMES, terms=INTERFERENCE)[-1]
        G1 = inc.simulate_gram(G0, TIMES, terms=INTERFERENCE)[-1]
        print(
            f"{m:>7} {t_w:>12.3f} {t_g:>10.4f} {t_w / t_g:>9.1f} {m / N / 4:>8.1f} "
            f"{np.max(np.abs(W1 @ W1.T - G1)):>15.2e}"
        )
    t_s = best_time(lambda: inc.sample_gram(256, 10**9, seed=0), 5)
    print(f"sample_gram(256, 10**9): {t_s * 1e3:.1f} ms (best of 5)")


if __name__ == "__main__":
    main()
