"""The book's recurring figure types, each defined once.

Each builder returns :class:`~incidental.svgplot.Series` or an :class:`~incidental.svgplot.Axes`:
the static figures draw it with :func:`incidental.plotting.render`, the widget panels with
:func:`incidental.svgplot.svg`. The three types:

- :func:`power_law`: measured values against a size on log-log axes, with the fitted power law
  and the predicted one (a Theta claim and its constant);
- :func:`time_course`: a measured quantity over time against its prediction, with an optional
  band (an interval over seeds or pairs);
- :func:`error_law`: the distribution of a measured error (its survival function
  ``P(X > x)``) against a predicted law;
- :func:`counts_against_m` and :func:`ratio_groups`: measured means with intervals, one colour per
  group, against their prediction (a count against ``m``; a ratio to the prediction, whose value is 1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .checks import ExponentFit
from .svgplot import PALETTE, Axes, Series

ArrayLike = Sequence[float] | np.ndarray


def power_law(
    sizes: ArrayLike,
    values: ArrayLike,
    *,
    label: str,
    fit: ExponentFit | None = None,
    predicted: Callable[[np.ndarray], np.ndarray] | None = None,
    predicted_label: str = "predicted",
    low: ArrayLike | None = None,
    high: ArrayLike | None = None,
    color: str | None = None,
) -> list[Series]:
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
        series.append(
            Series(
                grid,
                fit.prefactor * grid**fit.exponent,
                label=f"fit: exponent {fit.exponent:.3f}",
                color=color,
                dashed=True,
            )
        )
    if predicted is not None:
        series.append(Series(grid, predicted(grid), label=predicted_label, color="#000"))
    return series


def power_law_axes(series: Sequence[Series], *, xlabel: str, ylabel: str, title: str = "") -> Axes:
    """Log-log axes for one or more :func:`power_law` series lists."""
    return Axes(list(series), xlabel=xlabel, ylabel=ylabel, xlog=True, ylog=True, title=title)


def time_course(
    t: ArrayLike,
    measured: ArrayLike,
    predicted: ArrayLike | None = None,
    *,
    label: str = "measured",
    predicted_label: str = "predicted",
    low: ArrayLike | None = None,
    high: ArrayLike | None = None,
    color: str | None = None,
) -> list[Series]:
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


def error_law(
    values: ArrayLike,
    predicted_survival: Callable[[np.ndarray], np.ndarray] | None = None,
    *,
    label: str = "measured",
    predicted_label: str = "predicted law",
    color: str | None = None,
) -> list[Series]:
    """Series for the empirical survival function of ``values`` against a predicted ``P(X > x)``."""
    x, p = survival(values)
    series = [Series(x, p, label=label, color=color or PALETTE[0])]
    if predicted_survival is not None:
        grid = np.geomspace(max(x[x > 0].min(), 1e-12), x.max(), 80) if np.any(x > 0) else x
        series.append(Series(grid, predicted_survival(grid), label=predicted_label, color="#000", dashed=True))
    return series


# === numerator (chapter 2): add formulas here ===


def robust_limits(
    values: ArrayLike,
    *,
    quantiles: tuple[float, float] = (0.05, 0.95),
    include: Sequence[float] = (),
    pad: float = 0.15,
) -> tuple[float, float]:
    """Linear axis limits that a heavy tail cannot stretch: the ``quantiles`` of ``values``, widened
    to take in every value of ``include`` (markers the text talks about), padded by ``pad`` of the span."""
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    ends = list(np.quantile(x, quantiles)) if x.size else []
    lo, hi = min([*ends, *include]), max([*ends, *include])
    if lo == hi:
        lo, hi = lo - 1.0, hi + 1.0
    span = hi - lo
    return float(lo - pad * span), float(hi + pad * span)


def through(sizes: ArrayLike, values: ArrayLike) -> Callable[[np.ndarray], np.ndarray]:
    """A ``predicted`` curve for :func:`power_law` from its values at ``sizes``: straight between them
    on log-log axes (exact for a power law), so a chapter evaluates its core formula only where it measured."""
    order = np.argsort(np.asarray(sizes, dtype=float))
    lx = np.log(np.asarray(sizes, dtype=float)[order])
    ly = np.log(np.asarray(values, dtype=float)[order])
    return lambda grid: np.exp(np.interp(np.log(np.asarray(grid, dtype=float)), lx, ly))


def log_tick_label(x: float, _pos: int | None = None) -> str:
    """A log-axis tick label: ``$10^{k}$`` or ``$c\\times 10^{k}$``, plain from 1 to 99."""
    k = int(np.floor(np.log10(x) + 1e-9))
    c = x / 10.0**k
    if k in (0, 1):
        return f"${x:.0f}$"
    return f"$10^{{{k}}}$" if abs(c - 1) < 1e-6 else f"${c:.0f}\\times 10^{{{k}}}$"


def tidy_static(fig, *, dense: int = 500):
    """Tidy a figure drawn by :func:`incidental.plotting.render` (a matplotlib ``Figure``; returned).

    Log axes get labels that cannot collide: at 1, 2 and 5 times a power of ten on axes spanning
    less than 1.5 decades, at powers of ten otherwise, and none on minor ticks (matplotlib labels
    minor ticks on axes spanning about a decade, where they overlap). Point series of more than
    ``dense`` points (clouds of pairs) get small, translucent markers.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for ax in fig.axes:
        for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
            if scale == "log":
                lo, hi = sorted(axis.get_view_interval())
                subs = (1.0, 2.0, 5.0) if np.log10(hi / lo) < 1.5 else (1.0,)
                axis.set_major_locator(LogLocator(base=10, subs=subs, numticks=30))
                axis.set_major_formatter(FuncFormatter(log_tick_label))
                axis.set_minor_formatter(NullFormatter())
        for line in ax.get_lines():
            if line.get_marker() == "o" and len(line.get_xdata()) > dense:
                line.set(markersize=1.5, alpha=0.5)
    return fig


# === denominator (chapter 3): add formulas here ===


def histogram_law(
    values: ArrayLike,
    density: Callable[[np.ndarray], np.ndarray],
    grid: ArrayLike,
    *,
    bins: int = 30,
    range: tuple[float, float] | None = None,
    label: str = "measured",
    predicted_label: str = "exact law",
    color: str | None = None,
) -> list[Series]:
    """Series for a sample's histogram (density-normalised steps, ``bins`` over ``range``) against a
    predicted density on ``grid``."""
    heights, edges = np.histogram(np.asarray(values, dtype=float), bins=bins, range=range, density=True)
    grid = np.asarray(grid, dtype=float)
    return [
        Series(edges, heights, label=label, kind="steps", color=color or PALETTE[0]),
        Series(grid, density(grid), label=predicted_label, color="#000", dashed=True),
    ]


# === combined rate (chapter 4): add formulas here ===


def error_limits(values: ArrayLike, level: float, *, cap: float = 1.0) -> tuple[float, float]:
    """Limits ``(lo, hi)`` (two floats) for a relative error ``values`` around 0 that a heavy tail cannot
    stretch: they take in the band ``±2 level`` and the curve (:func:`robust_limits`), never beyond ``±cap``."""
    lo, hi = robust_limits(np.clip(values, -cap, cap), quantiles=(0.0, 1.0), include=(-2 * level, 2 * level), pad=0.1)
    return max(lo, -cap), min(hi, cap)


def clipped_error(t: ArrayLike, errors: ArrayLike, *, level: float, mark: int, **labels: str) -> Axes:
    """Axes of a relative error ``errors`` ``(T,)`` over time ``t`` ``(T,)`` on :func:`error_limits`, with the band
    ``±level`` dotted: a curve that leaves the frame stops at it, and the sample ``mark`` (an index) is a point,
    at the frame's edge if it lies beyond, on a vertical line. ``labels``: the Axes' text (``xlabel``, ``title``)."""
    t, err = np.asarray(t, dtype=float), np.asarray(errors, dtype=float)
    ylim = error_limits(err, level)
    shown = np.clip(err, *ylim)
    outside = (err < ylim[0]) | (err > ylim[1])
    shown[outside & np.concatenate([[False], outside[:-1]])] = np.nan  # the curve stops at the frame
    marker = Series([t[mark]], [float(np.clip(err[mark], *ylim))], kind="points", color=PALETTE[1])
    lines = dict(hlines=[(level, ""), (-level, "")], vlines=[(float(t[mark]), "")])
    return Axes([Series(t, shown), marker], ylim=ylim, **lines, **labels)


def estimate_bars(x: ArrayLike, estimates: Sequence, *, sigmas: float = 2.0, **style) -> Series:
    """A series of error bars, ``sigmas`` standard errors around the means of ``estimates`` (one
    :class:`~incidental.estimates.Estimate` per entry of ``x``); ``style``: the series' label, colour, ..."""
    mean, se = np.array([est.mean for est in estimates]), np.array([est.se for est in estimates])
    return Series(x, mean, kind="errorbar", low=mean - sigmas * se, high=mean + sigmas * se, **style)


# === total push (chapter 5): add formulas here ===


def counts_against_m(
    summaries: Sequence[tuple[str, object]], rival: Callable[[int, int], float], *, extra: Sequence[Series] = ()
) -> Axes:
    """Counts against ``m``, log-log, one colour per group: each summary's means with their intervals (a
    ``CountSummary``: ``m``, ``n``, ``mean``, ``low``, ``high``, ``predicted``), its prediction (solid), the
    ``rival(n, m)`` of the last group (dashed grey), and ``extra`` series."""
    series = []
    for k, (label, s) in enumerate(summaries):
        color, ok = PALETTE[k % len(PALETTE)], s.mean > 0
        ci = dict(kind="errorbar", low=np.maximum(s.low[ok], s.mean[ok] * 0.05), high=s.high[ok])
        series.append(Series(s.m[ok], s.mean[ok], label=f"{label} (mean, 95% CI)", color=color, **ci))
        series.append(Series(s.m, s.predicted, label="", color=color))
    if summaries:
        s = summaries[-1][1]
        values = [rival(int(s.n[-1]), int(m)) for m in s.m]
        series.append(Series(s.m, values, label="sign-blind rival (last n)", color="#888", dashed=True))
    series += list(extra)
    return Axes(series, xlabel="neurons m", ylabel="polysemantic neurons", xlog=True, ylog=True)


def ratio_groups(x: ArrayLike, groups: dict[str, Sequence], *, xlabel: str, ylim: tuple = (0.4, 1.3)) -> Axes:
    """Measured over predicted against ``x`` (log), one colour per group of intervals (``value``, ``low``,
    ``high``; nan where not measured), set side by side, with the prediction's ratio 1."""
    x = np.asarray(x, float)
    series = [Series(x[[0, -1]], [1.0, 1.0], label="prediction", color="#000")]
    for k, (label, intervals) in enumerate(groups.items()):
        value, low, high = (np.array([getattr(i, a) for i in intervals], float) for a in ("value", "low", "high"))
        ok, color = np.isfinite(value), PALETTE[k % len(PALETTE)]
        ci = dict(kind="errorbar", low=low[ok], high=high[ok])
        series.append(Series(x[ok] * 1.03**k, value[ok], label=label, color=color, **ci))
    return Axes(series, xlabel=xlabel, ylabel="measured / predicted", xlog=True, ylim=ylim)
