"""The book's recurring figure types, each defined once.

Each builder returns :class:`~incidental.svgplot.Series` or an :class:`~incidental.svgplot.Axes`:
the static figures draw it with :func:`incidental.plotting.render`, the widget panels with
:func:`incidental.svgplot.svg`. The three types:

- :func:`power_law`: measured values against a size on log-log axes, with the fitted power law
  and the predicted one (a Theta claim and its constant);
- :func:`time_course`: a measured quantity over time against its prediction, with an optional
  band (an interval over seeds or pairs);
- :func:`error_law`: the distribution of a measured error (its survival function
  ``P(X > x)``) against a predicted law.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .checks import ExponentFit
from .svgplot import PALETTE, Axes, Series

ArrayLike = Sequence[float] | np.ndarray


def power_law(sizes: ArrayLike, values: ArrayLike, *, label: str, fit: ExponentFit | None = None,
              predicted: Callable[[np.ndarray], np.ndarray] | None = None, predicted_label: str = "predicted",
              low: ArrayLike | None = None, high: ArrayLike | None = None, color: str | None = None) -> list[Series]:
    """Series for one measured power law: points (with an interval if ``low``/``high``), the
    fitted line ``fit.prefactor * size**fit.exponent`` (dashed) and the ``predicted`` curve (black)."""
    x = np.asarray(sizes, dtype=float)
    y = np.asarray(values, dtype=float)
    color = color or PALETTE[0]
    if low is not None and high is not None:
        series = [Series(x, y, label=f"{label} (measured)", kind="errorbar", color=color, low=low, high=high)]
    else:
        series = [Series(x, y, label=f"{label} (measured)", kind="points", color=color)]
    grid = np.geomspace(x.min(), x.max(), 50)
    if fit is not None:
        series.append(Series(grid, fit.prefactor * grid**fit.exponent, label=f"fit: exponent {fit.exponent:.3f}",
                             color=color, dashed=True))
    if predicted is not None:
        series.append(Series(grid, predicted(grid), label=predicted_label, color="#000"))
    return series


def power_law_axes(series: Sequence[Series], *, xlabel: str, ylabel: str, title: str = "") -> Axes:
    """Log-log axes for one or more :func:`power_law` series lists."""
    return Axes(list(series), xlabel=xlabel, ylabel=ylabel, xlog=True, ylog=True, title=title)


def time_course(t: ArrayLike, measured: ArrayLike, predicted: ArrayLike | None = None, *,
                label: str = "measured", predicted_label: str = "predicted", low: ArrayLike | None = None,
                high: ArrayLike | None = None, color: str | None = None) -> list[Series]:
    """Series for a measured quantity over time (with a band ``[low, high]`` if given) and its prediction."""
    t = np.asarray(t, dtype=float)
    color = color or PALETTE[0]
    if low is not None and high is not None:
        series = [Series(t, measured, label=label, kind="band", color=color, low=low, high=high)]
    else:
        series = [Series(t, measured, label=label, color=color)]
    if predicted is not None:
        series.append(Series(t, predicted, label=predicted_label, color="#000", dashed=True))
    return series


def survival(values: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``(x, P(X > x))``: the empirical survival function of ``values`` at its sorted points."""
    x = np.sort(np.asarray(values, dtype=float).ravel())
    return x, 1.0 - np.arange(1, x.size + 1) / (x.size + 1)


def error_law(values: ArrayLike, predicted_survival: Callable[[np.ndarray], np.ndarray] | None = None, *,
              label: str = "measured", predicted_label: str = "predicted law", color: str | None = None) -> list[Series]:
    """Series for the empirical survival function of ``values`` against a predicted ``P(X > x)``."""
    x, p = survival(values)
    series = [Series(x, p, label=label, color=color or PALETTE[0])]
    if predicted_survival is not None:
        grid = np.geomspace(max(x[x > 0].min(), 1e-12), x.max(), 80) if np.any(x > 0) else x
        series.append(Series(grid, predicted_survival(grid), label=predicted_label, color="#000", dashed=True))
    return series


# === numerator (chapter 2): add formulas here ===


# === denominator (chapter 3): add formulas here ===


# === combined rate (chapter 4): add formulas here ===


# === total push (chapter 5): add formulas here ===
