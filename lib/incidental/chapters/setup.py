"""Chapter 1 (Setup): the experiments of claims S1-S3 and the chapter's widgets.

Every runner takes all its knobs as keyword arguments (the notebook sets them in a visible cell,
:func:`~incidental.book.runner` validates them and records them); the checks are declared once in
``CHECKS``; figure builders return the figure, whose caption is written in the notebook.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from matplotlib.figure import Figure

from .. import _validate as v
from .. import figures, svgplot
from ..book import Result, quote, runner
from ..checks import declarations
from ..derivation import kappa_rate_from_weights
from ..exact import feature_benefit_only
from ..explore import Control, Explorable, Panel
from ..flow import simulate
from ..model import cosine_similarity, forces, loss, offdiagonal, sample_gram, sample_weights
from ..plotting import render
from ..runs import INTERFERENCE

CHECKS = declarations("setup")  # the check table: chapters/checks/setup.yaml


def geometric_sizes(low: int, high: int, count: int) -> tuple[int, ...]:
    """``count`` integers from ``low`` to ``high``, equally spaced on a log scale (duplicates removed)."""
    low, high = v.size("low", low), v.size("high", high)
    count = v.size("count", count)
    if high <= low:
        raise ValueError(f"high must exceed low, got low={low}, high={high}")
    return tuple(sorted({int(round(x)) for x in np.geomspace(low, high, count)}))


# --- the forces -------------------------------------------------------------------------------


def forces_gradient_error(W: np.ndarray, *, lam: float, h: float) -> float:
    """Largest ``|forces(W) + dL/dW|`` with ``dL/dW`` by central differences of step ``h`` (a float)."""
    F = forces(W, lam=lam)
    grad = np.empty_like(W)
    for idx in np.ndindex(*W.shape):
        E = np.zeros_like(W)
        E[idx] = h
        grad[idx] = (loss(W + E, lam=lam) - loss(W - E, lam=lam)) / (2 * h)
    return float(np.max(np.abs(F + grad)))


@runner
def forces_check(*, n: int, m: int, lam: float, seed: int, h: float, tolerance: float) -> Result:
    """The three forces {eq-forces} against central differences of the loss at one draw of ``W``."""
    err = forces_gradient_error(sample_weights(n, m, seed=seed), lam=lam, h=h)
    return Result(
        checks=[CHECKS.forces.below(measured=err, bound=tolerance, h=h)], numbers={"error": quote(err, ".1e")}
    )


# --- S1: rescaling invariance -------------------------------------------------------------


def rescaling_error(W: np.ndarray, factors: tuple[float, ...]) -> float:
    """Largest change of any ``kappa_ij`` when row ``k mod n`` is rescaled by ``factors[k]`` (a float)."""
    kappa = cosine_similarity(W @ W.T)
    worst = 0.0
    for i, c in enumerate(factors):
        Ws = W.copy()
        Ws[i % W.shape[0]] *= c
        worst = max(worst, float(np.max(np.abs(cosine_similarity(Ws @ Ws.T) - kappa))))
    return worst


@runner
def scale_invariance(
    *, n: int, m: int, factors: tuple[float, ...], t_end: float, steps: int, seed: int, tolerance: float
) -> Result:
    """S1: rescaling rows leaves every kappa unchanged, and so does the feature-benefit flow to
    ``t_end`` (checked against its exact logistic solution)."""
    W0 = sample_weights(n, m, seed=seed)
    times = np.linspace(0.0, t_end, steps)
    Ws = simulate(W0, times, terms=("feature_benefit",))
    k0 = cosine_similarity(W0 @ W0.T)
    drift = max(float(np.max(np.abs(cosine_similarity(W @ W.T) - k0))) for W in Ws)
    oracle = float(np.max(np.abs(Ws - feature_benefit_only(W0, times))))
    rescale = rescaling_error(W0, factors)
    shown = ", ".join(f"{c:g}" for c in factors)
    checks = [
        CHECKS.rescale.below(measured=rescale, bound=tolerance / 1e5, shown=shown),
        CHECKS.benefit.below(measured=drift, bound=tolerance),
        CHECKS.logistic.below(measured=oracle, bound=tolerance),
    ]
    numbers = {"rescale": quote(rescale, ".1e"), "drift": quote(drift, ".1e"), "oracle": quote(oracle, ".1e")}
    return Result(checks=checks, numbers=numbers)


# --- S2: initial scales ---------------------------------------------------------------------


@runner(min_lengths=dict(ms=3))
def init_scales(*, n: int, ms: tuple[int, ...], seed: int, norm_tolerance: float, constant_rtol: float) -> Result:
    """S2 over the grid ``ms`` (``G`` drawn exactly from its Wishart law, :func:`sample_gram`):
    mean ``||W_i||^2`` and RMS ``W_i . W_j`` per ``m``, their fitted exponents and constants.

    ``norm_tolerance`` widens the interval of the norm's exponent (see the chapter: the
    least-squares interval assumes equal scatter at every size); ``constant_rtol`` is the
    tolerance on the RMS of ``sqrt(m) W_i . W_j`` (predicted 1).
    """
    means, rms = [], []
    for k, m in enumerate(ms):
        v.sizes(n, m)
        G = sample_gram(n, m, seed=seed + k)
        means.append(float(np.mean(np.diag(G))))
        rms.append(float(np.sqrt(np.mean(offdiagonal(G) ** 2))))
    m_arr = np.asarray(ms, dtype=float)
    c_norm, f_norm = CHECKS.norm.exponent(sizes=m_arr, values=means, predicted=0.0, tolerance=norm_tolerance)
    c_dot, f_dot = CHECKS.dot.exponent(sizes=m_arr, values=rms, predicted=-0.5)
    constant = float(np.mean(np.asarray(rms) * np.sqrt(m_arr)))
    c_pref = CHECKS.constant.close(predicted=1.0, measured=constant, rtol=constant_rtol)
    numbers = {
        "norm_fit": quote(f_norm, ".4f"),
        "dot_fit": quote(f_dot, ".4f"),
        "constant": quote(constant, ".4f"),
        "m_min": quote(ms[0], "d"),
        "m_max": quote(ms[-1], ".2e"),
        "decades": quote(np.log10(ms[-1] / ms[0]), ".1f"),
    }
    data = dict(m=m_arr, mean_norm_sq=np.asarray(means), rms_dot=np.asarray(rms), norm_fit=f_norm, dot_fit=f_dot)
    return Result(checks=[c_norm, c_dot, c_pref], numbers=numbers, data=data)


def init_scales_figure(r: Result) -> Figure:
    """Mean squared norm and RMS overlap against ``m`` with fits and predictions."""
    d = r.data
    series = [
        *figures.power_law(
            d["m"],
            d["mean_norm_sq"],
            label=r"mean $\|W_i\|^2$",
            fit=d["norm_fit"],
            predicted=np.ones_like,
            predicted_label="predicted 1",
        ),
        *figures.power_law(
            d["m"],
            d["rms_dot"],
            label=r"RMS $W_i\cdot W_j$",
            fit=d["dot_fit"],
            predicted=lambda m: m**-0.5,
            predicted_label=r"predicted $m^{-1/2}$",
            color=svgplot.PALETTE[1],
        ),
    ]
    axes = figures.power_law_axes(series, xlabel="neurons $m$", ylabel="value")
    return render(axes, width=6.0)


# --- S3: with low regularisation only interference moves kappa ---------------------------------


def regularization_kappa_error(n: int, m: int, lam: float, *, seed: int) -> float:
    """Relative error of the interference-only ``dkappa/dt`` against all three forces at ``lam``.

    ``max |kdot_all - kdot_int| / max |kdot_int|`` over the interfering pairs at initialisation.
    """
    W = sample_weights(n, m, seed=seed)
    full = kappa_rate_from_weights(W, lam=lam)
    approx = kappa_rate_from_weights(W, terms=INTERFERENCE)
    mask = np.triu(W @ W.T > 0, k=1)
    return float(np.max(np.abs(full - approx)[mask]) / np.max(np.abs(approx)[mask]))


def regularization_error_curve(n: int, m: int, lams: np.ndarray, *, seed: int) -> np.ndarray:
    """:func:`regularization_kappa_error` for each of ``lams``, ``(len(lams),)``."""
    return np.array([regularization_kappa_error(n, m, float(lam), seed=seed) for lam in lams])


def s3_check(n: int, m: int, lam: float, *, seed: int, tolerance: float):
    """S3 at one setting: the interference-only kappa rate is within ``tolerance`` of the full one."""
    err = regularization_kappa_error(n, m, lam, seed=seed)
    at = dict(n=n, m=m, lam=lam, lam_sqrt_m=round(lam * np.sqrt(m), 3))
    return CHECKS.small.below(measured=err, bound=tolerance, scale=1.0, at=at)


@runner(min_lengths=dict(lams=3))
def regularization_scan(
    *, n: int, ms: tuple[int, ...], lams: tuple[float, ...], seed: int, tolerance: float, small: float
) -> Result:
    """S3 over ``lams`` and ``ms``: the error is proportional to ``lam sqrt(m)`` (exponent 1 in
    ``lam sqrt(m)`` over all points), and below ``tolerance`` at ``lam sqrt(m) = small`` for every ``m``."""
    lam_arr = np.asarray(lams, dtype=float)
    errors = np.array([regularization_error_curve(n, v.sizes(n, m)[1], lam_arr, seed=seed) for m in ms])
    x = np.concatenate([lam_arr * np.sqrt(m) for m in ms])
    y = errors.ravel()
    check_lin, fit = CHECKS.linear.exponent(sizes=x, values=y, predicted=1.0, tolerance=0.02)
    slope = float(np.exp(np.mean(np.log(y / x))))
    small_checks = [s3_check(n, m, small / np.sqrt(m), seed=seed, tolerance=tolerance) for m in ms]
    numbers = {
        "slope": quote(slope, ".2f"),
        "at_tolerance": quote(tolerance / slope, ".2f"),
        "tolerance_pct": quote(100 * tolerance, ".0f"),
        "exponent": quote(fit.exponent, ".3f"),
    }
    return Result(checks=[check_lin, *small_checks], numbers=numbers, data=dict(errors=errors, lams=lam_arr))


def regularization_axes(r: Result, *, m_only: int | None = None, lam_mark: float | None = None) -> svgplot.Axes:
    """Error of dropping regularisation against ``lam sqrt(m)``, one curve per ``m`` (or only ``m_only``)."""
    series = [
        svgplot.Series(
            r.data["lams"] * np.sqrt(m),
            errs,
            label=f"m = {m}",
            kind="line",
            color=svgplot.PALETTE[k % len(svgplot.PALETTE)],
        )
        for k, (m, errs) in enumerate(zip(r.params["ms"], r.data["errors"]))
        if m_only in (None, m)
    ]
    vlines = [(lam_mark, f"chosen λ√m = {lam_mark:.2g}")] if lam_mark is not None else []
    return svgplot.Axes(
        series,
        xlabel=r"$\lambda\sqrt{m}$",
        ylabel=r"relative error of $\dot\kappa$",
        xlog=True,
        ylog=True,
        hlines=[(r.params["tolerance"], f"{100 * r.params['tolerance']:.0f}% tolerance")],
        vlines=vlines,
    )


def regularization_figure(r: Result) -> Figure:
    """The S3 scan as a static figure."""
    return render(regularization_axes(r), width=6.0)


# --- widgets -----------------------------------------------------------------------------------


def init_panel(n: int, m: int, seed: int) -> Panel:
    """Widget panel for S2: one draw of ``W``; histogram of ``sqrt(m) W_i . W_j`` against ``N(0, 1)``."""
    W = sample_weights(n, m, seed=seed)
    G = W @ W.T
    dots = offdiagonal(G) * np.sqrt(m)
    norms = np.diag(G)
    se = np.sqrt(2.0 / m / n)  # standard error of the mean of n chi2_m/m draws
    checks = [
        CHECKS.mean_norm.close(predicted=1.0, measured=float(norms.mean()), atol=4 * se, at=dict(n=n, m=m)),
        CHECKS.rms_dot.close(
            predicted=1.0,
            measured=float(np.sqrt(np.mean(dots**2))),
            atol=4 * np.sqrt(2.0 / dots.size) + 2.0 / np.sqrt(m),
            at=dict(n=n, m=m),
        ),
    ]
    checks = [c.placed({}) for c in checks]
    grid = np.linspace(-4, 4, 81)
    plot = svgplot.svg(
        [
            svgplot.Axes(
                [
                    svgplot.Series(*svgplot.histogram(dots), label="measured", kind="steps"),
                    svgplot.Series(
                        grid,
                        np.exp(-(grid**2) / 2) / np.sqrt(2 * np.pi),
                        label="predicted N(0,1)",
                        color="#000",
                        dashed=True,
                    ),
                ],
                xlabel="sqrt(m) W_i·W_j",
                ylabel="density",
            ),
            svgplot.Axes(
                [svgplot.Series(*svgplot.histogram(norms, 20, density=False), kind="steps", label="measured")],
                xlabel="‖W_i‖²",
                ylabel="count",
                vlines=[(1.0, "predicted mean 1")],
            ),
        ]
    )
    return Panel(checks, plot)


def init_explorable() -> Explorable:
    """Widget: sizes and seed against the initial scales (S2)."""
    return Explorable(
        init_panel,
        [
            Control("n", "features n", (8, 32, 128), 32, kind="size", low=4, high=256),
            Control("m", "neurons m", (256, 1024, 4096), 1024, kind="size", low=256, high=16384),
            Control("seed", "seed", (0, 1), 0, low=0, high=99),
        ],
        title="Initial scales: predicted against measured",
    )


@lru_cache(maxsize=32)
def _scan_one_m(n: int, m: int, seed: int, tolerance: float) -> Result:
    return regularization_scan(
        n=n, ms=(m,), lams=tuple(np.geomspace(1e-6, 1e-1, 11)), seed=seed, tolerance=tolerance, small=0.03
    )


def regularization_panel(m: int, lam: float, seed: int = 0, n: int = 32, tolerance: float = 0.1) -> Panel:
    """Widget panel for S3: the error of dropping regularisation across ``lam``, the chosen one marked."""
    scan = _scan_one_m(n, m, seed, tolerance)
    check = s3_check(n, m, lam, seed=seed, tolerance=tolerance).placed({})
    return Panel([check], svgplot.svg(regularization_axes(scan, lam_mark=lam * np.sqrt(m))))


def regularization_explorable() -> Explorable:
    """Widget: how low must ``lam`` be for interference alone to set dkappa/dt (S3)."""
    return Explorable(
        regularization_panel,
        [
            Control("m", "neurons m", (256, 1024, 4096), 1024, kind="size", low=64, high=16384),
            Control("lam", "lam", (1e-5, 1e-4, 1e-3, 1e-2), 1e-4, kind="float", low=0.0, high=0.05, step=1e-4),
        ],
        title="Low regularisation: when does only interference move κ?",
    )


def explorables() -> dict[str, Explorable]:
    """Fresh instances of this chapter's widgets, by name."""
    return {"initial scales": init_explorable(), "low regularisation": regularization_explorable()}
