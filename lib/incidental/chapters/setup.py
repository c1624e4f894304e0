"""Chapter 1 (Setup): claims S1-S3."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .. import _validate as v
from ..checks import Check, ExponentFit, check_below, check_close, check_exponent
from ..derivation import kappa_rate_from_weights
from ..exact import feature_benefit_only
from .. import svgplot
from ..explore import Control, Explorable, Panel
from ..flow import simulate
from ..model import cosine_similarity, forces, loss, offdiagonal, sample_gram, sample_weights

INTERFERENCE = ("interference",)


# --- the forces -------------------------------------------------------------------------------

def finite_difference_error(n: int = 6, m: int = 40, *, lam: float = 0.05, seed: int = 0, h: float = 1e-6) -> float:
    """Largest ``|forces(W) + dL/dW|`` with ``dL/dW`` by central differences of step ``h`` (a float)."""
    W = sample_weights(n, m, seed=seed)
    F = forces(W, lam=lam)
    grad = np.empty_like(W)
    for idx in np.ndindex(*W.shape):
        E = np.zeros_like(W)
        E[idx] = h
        grad[idx] = (loss(W + E, lam=lam) - loss(W - E, lam=lam)) / (2 * h)
    return float(np.max(np.abs(F + grad)))


# --- S1: rescaling invariance -------------------------------------------------------------

def rescaling_error(n: int = 8, m: int = 64, *, seed: int = 0, factors: tuple[float, ...] = (0.1, 3.0, 50.0)) -> float:
    """Largest change of any ``kappa_ij`` when row ``i`` is rescaled by each of ``factors`` (a float)."""
    W = sample_weights(n, m, seed=seed)
    kappa = cosine_similarity(W @ W.T)
    worst = 0.0
    for i, c in enumerate(factors):
        Ws = W.copy()
        Ws[i % n] *= c
        worst = max(worst, float(np.max(np.abs(cosine_similarity(Ws @ Ws.T) - kappa))))
    return worst


def feature_benefit_kappa_drift(n: int = 8, m: int = 64, *, seed: int = 0, t_end: float = 3.0) -> tuple[float, float]:
    """Under feature benefit alone: (largest ``|kappa(t) - kappa(0)|`` along the simulated flow,
    largest deviation of the simulated flow from the exact logistic solution)."""
    W0 = sample_weights(n, m, seed=seed)
    times = np.linspace(0.0, t_end, 7)
    Ws = simulate(W0, times, terms=("feature_benefit",))
    k0 = cosine_similarity(W0 @ W0.T)
    drift = max(float(np.max(np.abs(cosine_similarity(W @ W.T) - k0))) for W in Ws)
    oracle = float(np.max(np.abs(Ws - feature_benefit_only(W0, times))))
    return drift, oracle


def s1_checks(*, seed: int = 0) -> list[Check]:
    """S1: rescaling leaves kappa unchanged; feature benefit leaves kappa unchanged along the flow."""
    drift, oracle = feature_benefit_kappa_drift(seed=seed)
    regime = "n=8, m=64, t in [0, 3]"
    return [
        check_below("S1", "rescaling W_i by 0.1, 3 or 50 leaves every kappa unchanged",
                    measured=rescaling_error(seed=seed), bound=1e-13, regime="n=8, m=64", quantity="max |Δκ|"),
        check_below("S1", "feature benefit alone leaves every kappa unchanged along the flow",
                    measured=drift, bound=1e-8, regime=regime, quantity="max |Δκ|"),
        check_below("S1", "simulated feature-benefit flow = exact logistic solution",
                    measured=oracle, bound=1e-8, regime=regime, quantity="max |ΔW|"),
    ]


# --- S2: initial scales ---------------------------------------------------------------------

@dataclass(frozen=True)
class InitScales:
    """Initial scales over a grid of ``m``: mean ``||W_i||^2`` and RMS ``W_i . W_j`` per ``m``."""

    m: np.ndarray
    mean_norm_sq: np.ndarray
    rms_dot: np.ndarray
    norm_fit: ExponentFit
    dot_fit: ExponentFit
    checks: tuple[Check, ...]


def init_scales(n: int = 64, ms: tuple[int, ...] = tuple(4**k for k in range(3, 16)), *, seed: int = 0) -> InitScales:
    """Measure S2 over a geometric grid of ``m`` (default ``64 .. 4^15 ~ 10^9``) with :func:`sample_gram`."""
    n = v.size("n", n)
    means, rms = [], []
    for k, m in enumerate(ms):
        G = sample_gram(n, m, seed=seed + k)
        means.append(float(np.mean(np.diag(G))))
        rms.append(float(np.sqrt(np.mean(offdiagonal(G) ** 2))))
    m_arr = np.asarray(ms, dtype=float)
    regime = f"n={n}, m={ms[0]}..{ms[-1]} ({len(ms)} sizes, x4 apart)"
    # The mean of n chi2_m/m draws fluctuates by sqrt(2/(nm)), largest at small m, so the
    # fitted slope is 0 only up to a few thousandths: allow 0.01.
    c_norm, f_norm = check_exponent("S2", "||W_i||^2 = Theta(1)", sizes=m_arr, values=means,
                                    predicted=0.0, regime=regime, tolerance=0.01)
    c_dot, f_dot = check_exponent("S2", "W_i . W_j = Theta(1/sqrt(m)) (RMS over pairs)", sizes=m_arr, values=rms,
                                  predicted=-0.5, regime=regime)
    # The constants: E||W_i||^2 = 1 and E[(W_i . W_j)^2] = 1/m exactly, so the prefactors are 1.
    c_pref = check_close("S2", "RMS of sqrt(m) W_i . W_j (constant inside Theta)", predicted=1.0,
                         measured=float(np.mean(np.asarray(rms) * np.sqrt(m_arr))), rtol=0.05, regime=regime)
    return InitScales(m_arr, np.asarray(means), np.asarray(rms), f_norm, f_dot, (c_norm, c_dot, c_pref))


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


S3_TOLERANCE = 0.1


def s3_check(n: int = 32, m: int = 1024, lam: float = 1e-4, *, seed: int = 0) -> Check:
    """S3 at one setting: the interference-only kappa rate is within 10% of the full one."""
    err = regularization_kappa_error(n, m, lam, seed=seed)
    return check_below("S3", "only interference moves kappa (relative error of dκ/dt)", measured=err,
                       bound=S3_TOLERANCE, regime=f"n={n}, m={m}, lam={lam:g}, lam·sqrt(m)={lam*np.sqrt(m):.2g}",
                       quantity="rel. error")


@dataclass(frozen=True)
class RegularizationScan:
    """S3 over a grid: ``errors[k, l]`` is the relative error at ``ms[k]``, ``lams[l]``."""

    ms: tuple[int, ...]
    lams: np.ndarray
    errors: np.ndarray
    slope: float                   # error / (lam sqrt(m)), fitted over all points
    lam_sqrt_m_at_tolerance: float  # where the fitted line reaches S3_TOLERANCE
    checks: tuple[Check, ...]


def regularization_scan(n: int = 32, ms: tuple[int, ...] = (256, 1024, 4096), *, seed: int = 0) -> RegularizationScan:
    """Measure S3 over ``lam`` in ``1e-6 .. 1e-1`` and several ``m``; check that the error is
    proportional to ``lam sqrt(m)`` (slope 1 in ``lam``, exponent 0 in ``m`` at fixed ``lam sqrt(m)``)
    and below 10% at ``lam sqrt(m) = 0.03``."""
    lams = np.geomspace(1e-6, 1e-1, 11)
    errors = np.array([regularization_error_curve(n, m, lams, seed=seed) for m in ms])
    x = np.concatenate([lams * np.sqrt(m) for m in ms])
    y = errors.ravel()
    check_lin, fit = check_exponent("S3", "error of dκ/dt ∝ (lam sqrt(m))^1", sizes=x, values=y, predicted=1.0,
                                    regime=f"n={n}, m in {ms}, lam 1e-6..1e-1", tolerance=0.02)
    slope = float(np.exp(np.mean(np.log(y / x))))
    at_tol = S3_TOLERANCE / slope
    small = [s3_check(n, m, 0.03 / np.sqrt(m), seed=seed) for m in ms]
    return RegularizationScan(tuple(ms), lams, errors, slope, at_tol, (check_lin, *small))


def regularization_error_curve(n: int, m: int, lams: np.ndarray, *, seed: int) -> np.ndarray:
    """:func:`regularization_kappa_error` for each of ``lams``, ``(len(lams),)``."""
    return np.array([regularization_kappa_error(n, m, float(lam), seed=seed) for lam in lams])


# --- widgets -----------------------------------------------------------------------------------

def init_panel(n: int, m: int, seed: int) -> Panel:
    """Widget panel for S2: one draw of ``W``; histogram of ``sqrt(m) W_i . W_j`` against ``N(0, 1)``."""
    W = sample_weights(n, m, seed=seed)
    G = W @ W.T
    dots = offdiagonal(G) * np.sqrt(m)
    norms = np.diag(G)
    se = np.sqrt(2.0 / m / n)  # standard error of the mean of n chi2_m/m draws
    checks = [
        check_close("S2", "mean ||W_i||^2 = 1", predicted=1.0, measured=float(norms.mean()), atol=4 * se,
                    regime=f"n={n}, m={m}"),
        check_close("S2", "RMS of sqrt(m) W_i . W_j = 1", predicted=1.0, measured=float(np.sqrt(np.mean(dots**2))),
                    atol=4 * np.sqrt(2.0 / dots.size) + 2.0 / np.sqrt(m), regime=f"n={n}, m={m}"),
    ]
    grid = np.linspace(-4, 4, 81)
    plot = svgplot.svg([
        svgplot.Axes([svgplot.Series(*svgplot.histogram(dots), label="measured", kind="steps"),
                      svgplot.Series(grid, np.exp(-grid**2 / 2) / np.sqrt(2 * np.pi), label="predicted N(0,1)",
                                     color="#000", dashed=True)],
                     xlabel="sqrt(m) W_i·W_j", ylabel="density"),
        svgplot.Axes([svgplot.Series(*svgplot.histogram(norms, 20, density=False), kind="steps", label="measured")],
                     xlabel="‖W_i‖²", ylabel="count", vlines=[(1.0, "predicted mean 1")]),
    ])
    return Panel(checks, plot)


def init_explorable() -> Explorable:
    """Widget: sizes and seed against the initial scales (S2)."""
    return Explorable(init_panel, [
        Control("n", "features n", (8, 32, 128), 32, kind="size", low=4, high=256),
        Control("m", "neurons m", (256, 1024, 4096), 1024, kind="size", low=256, high=16384),
        Control("seed", "seed", (0, 1), 0, low=0, high=99),
    ], title="Initial scales: predicted against measured")


@lru_cache(maxsize=32)
def _error_curve(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    lams = np.geomspace(1e-6, 1e-1, 11)
    return lams, regularization_error_curve(n, m, lams, seed=seed)


def regularization_panel(m: int, lam: float, seed: int = 0, n: int = 32) -> Panel:
    """Widget panel for S3: the error of dropping regularisation, across ``lam``, with the chosen one marked."""
    lams, errs = _error_curve(n, m, seed)
    check = s3_check(n, m, lam, seed=seed)
    plot = svgplot.svg(svgplot.Axes(
        [svgplot.Series(lams * np.sqrt(m), errs, label=f"measured, m={m}", kind="line")],
        xlabel="λ·sqrt(m)", ylabel="rel. error of dκ/dt", xlog=True, ylog=True,
        hlines=[(S3_TOLERANCE, "10% tolerance")], vlines=[(lam * np.sqrt(m), f"chosen λ = {lam:g}")]))
    return Panel([check], plot)


def regularization_explorable() -> Explorable:
    """Widget: how low must ``lam`` be for interference alone to set dkappa/dt (S3)."""
    return Explorable(regularization_panel, [
        Control("m", "neurons m", (256, 1024, 4096), 1024, kind="size", low=64, high=16384),
        Control("lam", "lam", (1e-5, 1e-4, 1e-3, 1e-2), 1e-4, kind="float", low=0.0, high=0.05, step=1e-4),
    ], title="Low regularisation: when does only interference move κ?")


def explorables() -> dict[str, Explorable]:
    """Fresh instances of this chapter's widgets, by name."""
    return {"initial scales": init_explorable(), "low regularisation": regularization_explorable()}
