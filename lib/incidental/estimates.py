"""Means with standard errors, pooled over independent draws.

:func:`ratio_estimates` pools per-draw sums into ratios ``sum_s X_s / sum_s w_s`` (a weighted mean over
the items of all draws, e.g. the pairs of many Gram matrices) and gives each its delete-one-draw
jackknife standard error, as an :class:`Estimate`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """A mean with its standard error."""

    mean: float
    se: float

    def scaled(self, factor: float) -> Estimate:
        """The estimate of ``factor`` times the quantity."""
        return Estimate(self.mean * factor, self.se * factor)


def ratio_estimates(per_draw: np.ndarray, weights: np.ndarray) -> list[Estimate]:
    """Pooled ratios ``sum_s X_s / sum_s w_s`` per column of ``per_draw`` ``(S, q)`` over ``S`` draws with
    weights ``(S,)``, with delete-one-draw jackknife standard errors."""
    total, wsum, S = per_draw.sum(0), weights.sum(), len(weights)
    jack = (total[None] - per_draw) / (wsum - weights)[:, None]
    se = np.sqrt((S - 1) / S * np.sum((jack - jack.mean(0)) ** 2, axis=0))
    return [Estimate(float(t / wsum), float(s)) for t, s in zip(total, se)]
