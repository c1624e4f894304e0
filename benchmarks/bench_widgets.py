"""Benchmark: the time of each widget's update at its default settings.

For every chapter module in ``incidental.chapters`` with an ``explorables()`` function, time
``Explorable.update()`` at the defaults: the first call (which may fill a simulation cache)
and the best of later calls with the panel cache cleared (what a reader waits for when moving
a slider back and forth). Also counts the grid points each static widget precomputes.
Run: `.venv/bin/python benchmarks/bench_widgets.py`.
"""

from __future__ import annotations

import importlib
import pkgutil
import time

import incidental.chapters as chapters

BUDGET_MS = 100.0


def time_update(explorable, repeats: int = 5) -> tuple[float, float]:
    """(first call, best later call) of ``explorable.update()`` in milliseconds."""
    start = time.perf_counter()
    explorable.update()
    first = (time.perf_counter() - start) * 1e3
    best = float("inf")
    for _ in range(repeats):
        explorable._cache.clear()
        start = time.perf_counter()
        explorable.update()
        best = min(best, (time.perf_counter() - start) * 1e3)
    return first, best


def main() -> None:
    print(f"{'chapter':<12} {'widget':<34} {'first (ms)':>10} {'update (ms)':>11} {'grid':>5}  within {BUDGET_MS:g} ms")
    for info in sorted(pkgutil.iter_modules(chapters.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"incidental.chapters.{info.name}")
        if not hasattr(module, "explorables"):
            continue
        for name, explorable in module.explorables().items():
            first, best = time_update(explorable)
            print(
                f"{info.name:<12} {name:<34} {first:>10.1f} {best:>11.1f} {len(explorable.grid_points()):>5}  "
                f"{'yes' if best <= BUDGET_MS else 'NO'}"
            )


if __name__ == "__main__":
    main()
