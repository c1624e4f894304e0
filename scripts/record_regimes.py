"""Record the map of where each result holds (chapter 9): ``book/data/regimes.json``.

Runs the chapters' own checks at every point of a grid of ``n`` and ``m`` (and chapter 1's S3 error over
``lam sqrt(m)``): a few minutes on one core. The page reads the record, so the book builds in seconds.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python scripts/record_regimes.py [--out book/data/regimes.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from incidental.chapters import regimes

GRID = dict(
    ns=(8, 16, 32, 64, 128),
    ms=(16, 64, 256, 1024, 4096, 16384, 65536),
    draws=256,  # draws // n draws per point (at least 2)
    lam_ms=(256, 4096, 65536),
    lam_sqrt_ms=(0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0),
    n_lam=16,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / regimes.RECORD)
    args = parser.parse_args()
    start = time.time()
    rec = regimes.record(**GRID)
    rec |= dict(script="scripts/record_regimes.py", grid=GRID, seconds=round(time.time() - start, 1))
    args.out.write_text(json.dumps(rec, indent=1) + "\n")
    print(f"wrote {args.out}: {len(rec['points'])} points in {rec['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
