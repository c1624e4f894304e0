"""Static figures: the book's figure specification (:mod:`incidental.svgplot`) drawn with matplotlib.

A chapter builds a figure once, as a list of :class:`~incidental.svgplot.Axes` (usually with
:mod:`incidental.figures`); the widget panels draw it as SVG (:func:`incidental.svgplot.svg`) and
the static figures with :func:`render`. Figures are not tied to pyplot, so nothing is displayed
twice: show one with ``chapter.figure(render(axes), caption)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes as MplAxes
from matplotlib.figure import Figure

from . import figures, svgplot
from .checks import ExponentFit


def render(
    axes: svgplot.Axes | Sequence[svgplot.Axes],
    *,
    width: float | None = None,
    height: float = 3.2,
    ncols: int = 0,
) -> Figure:
    """A matplotlib figure of one or more :class:`~incidental.svgplot.Axes` side by side, or on a grid of
    ``ncols`` columns (``height`` per row, a legend in the first panel only).

    ``width`` and ``height`` are in inches (default width: 4.6 per column, at most 10).
    """
    panels = [axes] if isinstance(axes, svgplot.Axes) else list(axes)
    if not panels:
        raise ValueError("axes must hold at least one Axes")
    cols = ncols or len(panels)
    rows = -(-len(panels) // cols)
    fig = Figure(figsize=(width or min(10.0, 4.6 * cols), height * rows), layout="constrained")
    grid = fig.subplots(rows, cols, squeeze=False).ravel()
    for k, ax in enumerate(grid):
        ax.set_visible(k < len(panels))
        if k < len(panels):
            draw(ax, panels[k])
        if ncols and k and ax.get_legend():  # on a grid, the first panel's legend only
            ax.get_legend().remove()
    return figures.tidy_static(fig)


def draw(ax: MplAxes, spec: svgplot.Axes) -> None:
    """Draw one :class:`~incidental.svgplot.Axes` on a matplotlib axes."""
    for k, s in enumerate(spec.series):
        color = s.color or svgplot.PALETTE[k % len(svgplot.PALETTE)]
        style = "--" if s.dashed else "-"
        x, y = np.asarray(s.x, dtype=float), np.asarray(s.y, dtype=float)
        label = s.label or None
        if s.kind == "line":
            ax.plot(x, y, style, color=color, label=label, lw=1.5)
        elif s.kind == "points":
            ax.plot(x, y, "o", color=color, label=label, ms=3.5)
        elif s.kind == "steps":
            ax.stairs(y, x, color=color, label=label, lw=1.3)
        elif s.kind == "errorbar":
            lo, hi = np.asarray(s.low, dtype=float), np.asarray(s.high, dtype=float)
            ax.errorbar(x, y, yerr=[y - lo, hi - y], fmt="o", color=color, label=label, ms=3.5, capsize=2, lw=1)
        elif s.kind == "band":
            lo, hi = np.asarray(s.low, dtype=float), np.asarray(s.high, dtype=float)
            ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0)
            ax.plot(x, y, style, color=color, label=label, lw=1.5)
    for value, label in spec.hlines:
        ax.axhline(value, color="#444", ls=":", lw=1, label=label or None)
    for value, label in spec.vlines:
        ax.axvline(value, color="#444", ls="--", lw=1, label=label or None)
    if spec.xlog:
        ax.set_xscale("log")
    if spec.ylog:
        ax.set_yscale("log")
    if spec.xlim:
        ax.set_xlim(*spec.xlim)
    if spec.ylim:
        ax.set_ylim(*spec.ylim)
    ax.set_xlabel(spec.xlabel)
    ax.set_ylabel(spec.ylabel)
    if spec.title:
        ax.set_title(spec.title, fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7.5, framealpha=0.9)


def subplots(ncols: int = 1, *, width: float = 6.4, height: float = 3.2):
    """``plt.subplots`` with the book's default size and a constrained layout."""
    return plt.subplots(1, ncols, figsize=(width, height), layout="constrained")


def power_law(
    ax: MplAxes,
    sizes: Sequence[float] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    fit: ExponentFit,
    *,
    label: str,
    color: str | None = None,
    marker: str = "o",
) -> None:
    """Measured ``values`` against ``sizes`` on log-log axes, with the fitted power law dashed."""
    sizes = np.asarray(sizes, dtype=float)
    (line,) = ax.loglog(sizes, values, marker, color=color, label=f"{label} (measured)")
    ax.loglog(
        sizes,
        fit.prefactor * sizes**fit.exponent,
        "--",
        color=line.get_color(),
        label=f"fit: exponent {fit.exponent:.3f}",
    )
