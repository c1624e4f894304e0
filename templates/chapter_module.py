"""Chapter N (Title): the experiments of its claims and the chapter's widgets.

Template for a chapter module (copy to ``lib/incidental/chapters/<name>.py``). A chapter module
holds its check table, experiment runners, figure builders and widget declarations. Every
formula (a rate, a closed form, a derived constant) lives in the core modules (``derivation``,
``exact``, ``theory``, ...) and is imported from there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .. import figures, svgplot
from ..book import Result, runner
from ..checks import declarations
from ..explore import Control, Explorable, Panel
from ..model import offdiagonal, sample_gram
from ..plotting import render

# The fixed parts of every check, written once, as data: the chapter's table
# (chapters/checks/<name>.yaml; copied from templates/chapter_checks.yaml). In the library:
# CHECKS = declarations("<name>").
CHECKS = declarations("chapter_checks", folder=Path(__file__).parent)


@runner(min_lengths=dict(ms=3))
def overlap_scaling(*, n: int, ms: tuple[int, ...], seed: int) -> Result:
    """One experiment: every knob is a keyword argument with a type hint.

    ``@runner`` validates each knob (a bad value raises ``ValueError`` naming it), records the
    knobs as the result's ``params`` and writes each check's regime from them. The runner
    returns the checks, the numbers the prose quotes (structured values such as a fit keep their
    parts: ``overlap.q.fit.low``) and the arrays the figure draws.
    """
    rms = np.array([np.sqrt(np.mean(offdiagonal(sample_gram(n, m, seed=seed + k)) ** 2)) for k, m in enumerate(ms)])
    check, fit = CHECKS.overlap.exponent(sizes=ms, values=rms, predicted=-0.5)
    return Result(checks=[check], numbers={"fit": fit}, data=dict(m=np.asarray(ms, dtype=float), rms=rms, fit=fit))


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


def overlap_figure(r: Result) -> Figure:
    """The static figure; its caption is the Markdown cell after it in the notebook."""
    return render(overlap_axes(r))


def overlap_panel(n: int, seed: int) -> Panel:
    """A widget panel: the same declared checks and the same figure, as SVG."""
    r = overlap_scaling(n=n, ms=(64, 256, 1024, 4096), seed=seed)
    return Panel(r.checks, svgplot.svg(overlap_axes(r)))


def overlap_explorable() -> Explorable:
    """A widget; the notebook sets the grids the rendered book offers (``.grid(n=(8, 32, 128))``)."""
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
