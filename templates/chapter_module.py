"""Chapter N (Title): the experiments of its claims and the chapter's widgets.

Template for a chapter module (copy to ``lib/incidental/chapters/<name>.py``). A chapter module
holds only experiment runners, figure builders and widget declarations. Every formula (a rate,
a closed form, a derived constant) lives in the core modules (``derivation``, ``exact``,
``theory``, ...) and is imported from there.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .. import figures, svgplot
from ..book import Result, quote
from ..checks import check_exponent
from ..explore import Control, Explorable, Panel
from ..model import offdiagonal, sample_gram
from ..plotting import render


def overlap_scaling(*, n: int, ms: tuple[int, ...], seed: int) -> Result:
    """One experiment: every knob is an argument; the result records them in ``params``.

    Returns a :class:`~incidental.book.Result` with the checks (each knows its claim id), the
    numbers the prose quotes (as :func:`~incidental.book.quote` s, with their format) and the
    arrays the figure draws.
    """
    rms = np.array([np.sqrt(np.mean(offdiagonal(sample_gram(n, m, seed=seed + k)) ** 2)) for k, m in enumerate(ms)])
    check, fit = check_exponent(
        "S2", "W_i . W_j = Theta(1/sqrt(m))", sizes=ms, values=rms, predicted=-0.5, regime=f"n={n}, m={ms[0]}..{ms[-1]}"
    )
    params = dict(n=n, ms=tuple(ms), seed=seed)
    numbers = {"exponent": quote(fit.exponent, ".3f"), "low": quote(fit.low, ".3f"), "high": quote(fit.high, ".3f")}
    return Result(params, [check], numbers, dict(m=np.asarray(ms, dtype=float), rms=rms, fit=fit))


def overlap_axes(r: Result) -> svgplot.Axes:
    """The figure, once, as a specification (drawn by the static figure and the widget alike)."""
    series = figures.power_law(
        r.data["m"],
        r.data["rms"],
        label="RMS overlap",
        fit=r.data["fit"],
        predicted=lambda m: m**-0.5,
        predicted_label=r"predicted $m^{-1/2}$",
    )
    return figures.power_law_axes(series, xlabel="neurons $m$", ylabel="RMS $W_i\\cdot W_j$")


def overlap_figure(r: Result) -> tuple[Figure, str]:
    """The static figure and its caption, built from ``r`` (never typed twice)."""
    caption = (
        f"RMS overlap against $m$ at $n = {r.params['n']}$ (seed {r.params['seed']}): it falls with "
        f"fitted exponent {r.q.exponent}, as the predicted $m^{{-1/2}}$ line."
    )
    return render(overlap_axes(r)), caption


def overlap_panel(n: int, seed: int) -> Panel:
    """A widget panel: the checks and the same figure, as SVG."""
    r = overlap_scaling(n=n, ms=(64, 256, 1024, 4096), seed=seed)
    return Panel(r.checks, svgplot.svg(overlap_axes(r)))


def overlap_explorable() -> Explorable:
    """A widget: a grid of values for the rendered book, a full range live."""
    return Explorable(
        overlap_panel,
        [
            Control("n", "features n", (8, 32, 128), 32, kind="size", low=4, high=256),
            Control("seed", "seed", (0, 1), 0, low=0, high=99),
        ],
        title="Overlap scale: predicted against measured",
    )


def explorables() -> dict[str, Explorable]:
    """Fresh instances of this chapter's widgets, by name (the benchmark and the tests use it)."""
    return {"overlap scale": overlap_explorable()}
