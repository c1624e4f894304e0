"""Chapter 3 (Denominator): claims D1-D3, how the forces change the norms ``||W_i||``.

Notation: ``a_i = ||W_i||^2 = G_ii``. The *relative rate* of ``a_i`` under a force is
``(d a_i/dt) / a_i``; interference's is ``rho_i = -2 sum_{j != i} ReLU(G_ij)^2 / a_i`` and
feature benefit's is ``phi_i = 2 (1 - a_i)``.

The first block holds formulas the core does not have yet (exact laws of ``rho_i`` and
``phi_i`` at initialisation, and first-order predictions of the norms over the
interference phase); each says where it comes from. The rest are the chapter's
experiments, their checks and its two widgets.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

from .. import _validate as v
from .. import svgplot
from ..checks import Check, ExponentFit, check_below, check_close, check_exponent
from ..derivation import expected_relative_norm_sq_rate, interference_norm_share, norm_sq_rate
from ..explore import Control, Explorable, Panel
from ..flow import simulate, simulate_gram
from ..model import ALL_TERMS, forces, interference_weights, sample_gram, sample_weights

INTERFERENCE: tuple[str, ...] = ("interference",)
FULL: tuple[str, ...] = ("feature_benefit", "interference")
PHASE_END = 5.0       # end of the interference phase: interfering overlaps have decayed by e^{-10}
PHASE_RTOL = 1e-7     # solver tolerance for the phase flows (quantities measured are >= 1e-5)


# --- formulas: the laws of the two shares at initialisation -------------------------------------

def interference_relative_rate(G: np.ndarray) -> np.ndarray:
    """``rho_i = -2 sum_{j != i} ReLU(G_ij)^2 / G_ii``, ``(n,)``: interference's relative rate of ``||W_i||^2``."""
    G = v.gram("G", G)
    return interference_norm_share(G) / np.diag(G)


def feature_benefit_norm_share(G: np.ndarray) -> np.ndarray:
    """Feature benefit's share of ``d||W_i||^2/dt``: ``2 (1 - a_i) a_i``, ``(n,)``."""
    G = v.gram("G", G)
    a = np.diag(G)
    return 2.0 * (1.0 - a) * a


def feature_benefit_relative_rate(G: np.ndarray) -> np.ndarray:
    """``phi_i = 2 (1 - a_i)``, ``(n,)``: feature benefit's relative rate of ``||W_i||^2``."""
    G = v.gram("G", G)
    return 2.0 * (1.0 - np.diag(G))


def interference_rate_sd(n: int, m: int) -> float:
    """Exact standard deviation of ``rho_i`` at initialisation: ``sqrt(5 (n-1)) / m``.

    ``rho_i = -(2/m) chi2_K`` with ``K ~ Binomial(n-1, 1/2)`` (see :func:`interference_rate_cdf`),
    and ``Var chi2_K = E[2K] + Var K = (n-1) + (n-1)/4``.
    """
    n, m = v.sizes(n, m)
    return float(np.sqrt(5.0 * (n - 1)) / m)


def interference_rate_relative_spread(n: int) -> float:
    """``sd(rho_i) / |E rho_i| = sqrt(5 / (n-1))`` exactly, for every ``m``."""
    n = v.size("n", n)
    return float(np.sqrt(5.0 / (n - 1)))


def interference_rate_mean_se(n: int, m: int) -> float:
    """Standard error of ``mean_i rho_i`` over one draw, to leading order in ``1/m``: ``sqrt(10 (n-1)/n) / m``.

    ``mean_i rho_i ~ -(4/n) sum_{i<j} ReLU(G_ij)^2`` (every pair counted from both sides);
    the ``n(n-1)/2`` terms are nearly independent with variance ``(3/2 - 1/4)/m^2 = 5/(4 m^2)``.
    """
    n, m = v.sizes(n, m)
    return float(np.sqrt(10.0 * (n - 1) / n) / m)


def interference_rate_cdf(x: np.ndarray | float, n: int, m: int) -> np.ndarray:
    """Exact CDF ``P(rho_i <= x)`` of interference's relative rate at initialisation.

    Given ``W_i``, the ``z_j = sqrt(m) G_ij / ||W_i||`` (``j != i``) are i.i.d. ``N(0, 1)`` whatever
    ``W_i`` is, and ``rho_i = -(2/m) sum_j ReLU(z_j)^2``. Each ``ReLU(z)^2`` is 0 or ``chi2_1``
    with probability 1/2, so ``-(m/2) rho_i ~ chi2_K`` with ``K ~ Binomial(n-1, 1/2)``,
    independent of ``||W_i||``, at every ``m >= n``.
    """
    n, m = v.sizes(n, m)
    y = -0.5 * m * np.asarray(x, dtype=float)[..., None]  # rho <= x  <=>  chi2_K >= y
    k = np.arange(n)
    weights = stats.binom.pmf(k, n - 1, 0.5)
    survival = np.empty(y.shape[:-1] + (n,))
    survival[..., 0] = y[..., 0] <= 0  # chi2_0 is the point mass at 0
    survival[..., 1:] = stats.chi2.sf(y, k[1:])
    return np.sum(weights * survival, axis=-1)


def interference_rate_density(x: np.ndarray, n: int, m: int) -> np.ndarray:
    """Density of the continuous part of ``rho_i`` (law of :func:`interference_rate_cdf`), ``x.shape``.

    (The atom at 0 has mass ``2^{-(n-1)}``.)
    """
    n, m = v.sizes(n, m)
    y = -0.5 * m * np.asarray(x, dtype=float)
    k = np.arange(1, n)
    weights = stats.binom.pmf(k, n - 1, 0.5)
    dens = stats.chi2.pdf(np.maximum(y[..., None], 1e-300), k) * (y[..., None] > 0)
    return 0.5 * m * np.sum(weights * dens, axis=-1)


def feature_benefit_rate_rms(m: int) -> float:
    """Exact RMS of ``phi_i = 2(1 - a_i)`` at initialisation: ``2 sqrt(2/m)`` (``a_i ~ chi2_m / m``)."""
    m = v.size("m", m)
    return float(2.0 * np.sqrt(2.0 / m))


def share_ratio(n: int, m: int) -> float:
    """Predicted ``RMS(phi_i) / |E rho_i| = 2 sqrt(2m) / (n-1)``: above 1 feature benefit dominates."""
    n, m = v.sizes(n, m)
    return float(2.0 * np.sqrt(2.0 * m) / (n - 1))


def crossover_features(m: int) -> float:
    """The ``n`` at which :func:`share_ratio` is 1: ``n - 1 = 2 sqrt(2m)``."""
    m = v.size("m", m)
    return float(1.0 + 2.0 * np.sqrt(2.0 * m))


def feature_benefit_dominated_fraction(n: int, m: int, *, nodes: int = 400) -> float:
    """Exact probability that ``|phi_i| > |rho_i|`` for one encoding at initialisation.

    ``phi_i`` depends only on ``a_i ~ chi2_m / m`` and ``rho_i`` is independent of it with
    ``|rho_i| = (2/m) Y``, ``Y ~ chi2_K``, ``K ~ Binomial(n-1, 1/2)``. So the fraction is
    ``E_Y[P(|chi2_m - m| > Y)]``, computed by the midpoint rule in the quantiles of ``Y``
    (``nodes`` per ``K``; error below 1e-3).
    """
    n, m = v.sizes(n, m)
    k = np.arange(n)
    weights = stats.binom.pmf(k, n - 1, 0.5)
    keep = weights > 1e-12
    q = (np.arange(nodes) + 0.5) / nodes
    total = 0.0
    for kk, w in zip(k[keep], weights[keep]):
        y = np.zeros(1) if kk == 0 else stats.chi2.ppf(q, kk)
        outside = stats.chi2.cdf(m - y, m) + stats.chi2.sf(m + y, m)
        total += w * float(np.mean(outside))
    return total


# --- formulas: the norms over the interference phase ----------------------------------------------

def first_order_norm_change(G0: np.ndarray, times: Sequence[float] | np.ndarray) -> np.ndarray:
    """First-order prediction of ``ln(a_i(t) / a_i(0))`` under interference alone, ``(len(times), n)``.

    If every interfering overlap decays as ``G_ij(t) = G_ij(0) e^{-(a_i + a_j) t}`` (the first-order
    rate of the numerator) and ``a_i`` barely moves, then ``d ln a_i/dt = -2 sum_j ReLU(G_ij)^2 / a_i``
    integrates to ``-sum_j ReLU(G_ij(0))^2 (1 - e^{-2(a_i+a_j) t}) / (a_i (a_i + a_j))``.
    """
    G0 = v.gram("G0", G0)
    t = v.times(times)
    a = np.diag(G0)
    R2 = interference_weights(G0) ** 2
    s = a[:, None] + a[None, :]
    weight = R2 / (a[:, None] * s)                         # (n, n)
    growth = 1.0 - np.exp(-2.0 * s[None] * t[:, None, None])  # (T, n, n)
    return -np.sum(weight[None] * growth, axis=2)


def expected_norm_change(n: int, m: int, times: Sequence[float] | np.ndarray | float) -> np.ndarray:
    """Mean of :func:`first_order_norm_change` at leading order: ``-(n-1)/(4m) (1 - e^{-4t})``.

    With ``a_i ~ 1`` each pair contributes ``ReLU(G_ij(0))^2 / 2``, of mean ``1/(4m)``.
    """
    n, m = v.sizes(n, m)
    t = np.asarray(times, dtype=float)
    return -(n - 1) / (4.0 * m) * (1.0 - np.exp(-4.0 * t))


def feature_benefit_norm_change_rms(m: int, times: Sequence[float] | np.ndarray | float) -> np.ndarray:
    """Leading-order RMS of ``ln(a_i(t)/a_i(0))`` under feature benefit: ``sqrt(2/m) (1 - e^{-2t})``.

    From the logistic solution ``a(t) = a_0 / (a_0 + (1 - a_0) e^{-2t})``,
    ``ln(a/a_0) ~ (1 - a_0)(1 - e^{-2t})`` and ``sd(a_0) = sqrt(2/m)``.
    """
    m = v.size("m", m)
    t = np.asarray(times, dtype=float)
    return np.sqrt(2.0 / m) * (1.0 - np.exp(-2.0 * t))


# --- D1: the identity d||W_i||^2/dt = 2 (dW_i/dt) . W_i ------------------------------------------

FORCE_SETS: dict[str, tuple[str, ...]] = {
    "feature benefit": ("feature_benefit",),
    "interference": INTERFERENCE,
    "regularisation": ("regularization",),
    "all three": ALL_TERMS,
}


def norm_sq_rate_independent(W: np.ndarray, terms: Sequence[str], lam: float) -> np.ndarray:
    """``d||W_i||^2/dt`` ``(n,)`` computed without the dot product ``2 F_i . W_i``.

    Smooth forces through the Gram flow ``diag(A G + G A^T)`` (:func:`norm_sq_rate`);
    the L1 force through ``-2 lam ||W_i||_1`` (``sign(w) w = |w|``).
    """
    W = v.weights("W", W)
    smooth = tuple(t for t in terms if t != "regularization")
    rate = norm_sq_rate(W @ W.T, smooth) if smooth else np.zeros(W.shape[0])
    if "regularization" in terms:
        rate = rate - 2.0 * lam * np.sum(np.abs(W), axis=1)
    return rate


def norm_sq_rate_dot(W: np.ndarray, terms: Sequence[str], lam: float) -> np.ndarray:
    """The right side of D1: ``2 (dW_i/dt) . W_i``, ``(n,)``."""
    return 2.0 * np.sum(forces(W, lam=lam, terms=terms) * W, axis=1)


@dataclass(frozen=True)
class IdentityErrors:
    """D1 (and the chain rule of D3) for each force set: relative errors, largest over encodings and times."""

    names: tuple[str, ...]
    roundoff: np.ndarray          # |2F.W - independent formula| / max|rate|
    finite_difference: np.ndarray  # |2F.W - central difference of ||W_i(t)||^2| / max|rate|
    norm_finite_difference: np.ndarray  # |(2F.W)/(2||W_i||) - central difference of ||W_i(t)||| / max|rate|
    step: float
    checks: tuple[Check, ...]


def norm_rate_identity(n: int = 8, m: int = 64, *, lam: float = 0.01, seed: int = 0,
                       t0s: tuple[float, ...] = (0.2, 0.5), h: float = 1e-3) -> IdentityErrors:
    """Check D1 for each force and all three together, at initialisation and along the flow.

    Round-off: ``2 F.W`` against :func:`norm_sq_rate_independent` at ``W(0)``.
    Finite differences: the flow of those forces is simulated (:func:`simulate`; L1 by Strang
    splitting with steps ``h``) at ``t0 - h, t0, t0 + h`` for each ``t0``; the central
    difference of ``||W_i||^2`` (and of ``||W_i||``, for D3's half rate) is compared with
    ``2 F.W`` (and ``F.W / ||W_i||``) at ``t0``. Its truncation error is ``O(h^2)``.
    """
    W0 = sample_weights(n, m, seed=seed)
    times = np.sort(np.concatenate([[t - h, t, t + h] for t in t0s]))
    round_errs, fd_errs, norm_errs = [], [], []
    for terms in FORCE_SETS.values():
        dot = norm_sq_rate_dot(W0, terms, lam)
        round_errs.append(float(np.max(np.abs(dot - norm_sq_rate_independent(W0, terms, lam))) / np.max(np.abs(dot))))
        Ws = simulate(W0, times, lam=lam, terms=terms, max_step=h)
        worst_sq, worst_norm = 0.0, 0.0
        for k in range(len(t0s)):
            Wm, W, Wp = Ws[3 * k: 3 * k + 3]
            rate = norm_sq_rate_dot(W, terms, lam)
            fd_sq = (np.sum(Wp**2, 1) - np.sum(Wm**2, 1)) / (2 * h)
            fd_norm = (np.linalg.norm(Wp, axis=1) - np.linalg.norm(Wm, axis=1)) / (2 * h)
            half = rate / (2.0 * np.linalg.norm(W, axis=1))
            worst_sq = max(worst_sq, float(np.max(np.abs(fd_sq - rate)) / np.max(np.abs(rate))))
            worst_norm = max(worst_norm, float(np.max(np.abs(fd_norm - half)) / np.max(np.abs(half))))
        fd_errs.append(worst_sq)
        norm_errs.append(worst_norm)
    names = tuple(FORCE_SETS)
    regime = f"n={n}, m={m}, lam={lam:g}"
    fd_bound = 10 * h**2  # central-difference truncation: O(h^2) with a constant of order 1
    checks = []
    for name, r, f, g in zip(names, round_errs, fd_errs, norm_errs):
        checks.append(check_below("D1", f"d‖W_i‖²/dt = 2 (dW_i/dt)·W_i, {name}: dot vs independent formula",
                                  measured=r, bound=1e-12, regime=regime + ", t=0", quantity="rel. error"))
        checks.append(check_below("D1", f"… {name}: vs central difference along the flow (h={h:g})",
                                  measured=f, bound=fd_bound, regime=regime + f", t0 in {t0s}",
                                  quantity="rel. error"))
        checks.append(check_below("D3", f"d‖W_i‖/dt = (dW_i/dt)·W_i / ‖W_i‖, {name}: vs central difference",
                                  measured=g, bound=fd_bound, regime=regime + f", t0 in {t0s}",
                                  quantity="rel. error"))
    return IdentityErrors(names, np.array(round_errs), np.array(fd_errs), np.array(norm_errs), h, tuple(checks))


def regularization_share_check(n: int = 64, m: int = 4096, lam: float = 1e-3, *, seed: int = 0) -> Check:
    """The L1 share ``-2 lam ||W_i||_1`` at initialisation has mean ``-2 lam sqrt(2m/pi)``
    (``E|W_ik| = sqrt(2/(pi m))``); tolerance 4 standard errors of the mean over ``n`` encodings."""
    W = sample_weights(n, m, seed=seed)
    share = -2.0 * lam * np.sum(np.abs(W), axis=1)
    predicted = -2.0 * lam * np.sqrt(2.0 * m / np.pi)
    se = 2.0 * lam * np.sqrt(m * (1.0 - 2.0 / np.pi) / n)
    return check_close("D1", "regularisation's share, mean over i, = -2λ sqrt(2m/π)", predicted=predicted,
                       measured=float(share.mean()), atol=4 * se, regime=f"n={n}, m={m}, lam={lam:g}")


# --- D2: interference's share at initialisation ----------------------------------------------------

def relative_rates(n: int, m: int, seeds: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """``(rho, phi)``, each ``(len(seeds), n)``: both relative rates for one Gram draw per seed."""
    rho, phi = [], []
    for s in seeds:
        G = _gram(n, m, int(s))
        rho.append(interference_relative_rate(G))
        phi.append(feature_benefit_relative_rate(G))
    return np.array(rho), np.array(phi)


def draw_seeds(point: int, count: int) -> tuple[int, ...]:
    """``count`` seeds for grid point number ``point``: distinct across points, so that the
    draws at different sizes are independent (the same seed at two sizes gives correlated
    Gram matrices, which would make an exponent fit look far more precise than it is)."""
    point = v.size("point", point, minimum=0)
    count = v.size("count", count, minimum=1)
    if count > 1000:
        raise ValueError(f"count must be at most 1000 (seeds of the next point would repeat), got {count}")
    return tuple(1000 * point + s for s in range(count))


@lru_cache(maxsize=512)
def _gram(n: int, m: int, seed: int) -> np.ndarray:
    G = sample_gram(n, m, seed=seed)
    G.setflags(write=False)
    return G


def d2_mean_check(n: int, m: int, seeds: Sequence[int], *, claim: str = "D2", half: bool = False) -> Check:
    """The mean over draws and encodings of ``rho_i`` (or of ``rho_i / 2``, the relative rate of ``||W_i||``,
    with ``half=True``) against ``-(n-1)/m`` (or half), within 4 standard errors."""
    rho, _ = relative_rates(n, m, seeds)
    factor = 0.5 if half else 1.0
    se = interference_rate_mean_se(n, m) / np.sqrt(len(seeds))
    what = "‖W_i‖" if half else "‖W_i‖²"
    pred = "-(n-1)/(2m)" if half else "-(n-1)/m"
    return check_close(claim, f"interference's relative rate of {what}, mean = {pred}",
                       predicted=factor * expected_relative_norm_sq_rate(n, m), measured=factor * float(rho.mean()),
                       atol=4 * factor * se, regime=f"n={n}, m={m}, {len(seeds)} draw(s), 4 s.e.")


@dataclass(frozen=True)
class Scaling:
    """``|mean rho_i|`` over a geometric grid of one size at the other fixed, with the fitted power law."""

    sizes: np.ndarray
    values: np.ndarray     # |mean over draws and i of rho_i|
    predicted: np.ndarray  # (n-1)/m
    constant: float        # mean of values / predicted (1 in theory)
    constant_se: float
    fit: ExponentFit
    checks: tuple[Check, ...]


def scaling_in_m(n: int = 64, ms: tuple[int, ...] = tuple(4**k for k in range(4, 16)),
                 draws: int = 4) -> Scaling:
    """D2/D3 over ``m`` (default ``256 .. 4^15 ~ 10^9``) at fixed ``n``: exponent -1, constant 1."""
    vals = np.array([-relative_rates(n, m, draw_seeds(k, draws))[0].mean() for k, m in enumerate(ms)])
    pred = np.array([(n - 1) / m for m in ms])
    se = np.array([interference_rate_mean_se(n, m) for m in ms]) / np.sqrt(draws)
    return _scaling(np.asarray(ms, float), vals, pred, se, predicted_exponent=-1.0, tolerance=0.0,
                    regime=f"n={n}, m={ms[0]}..{ms[-1]} (x4), {draws} draws each", over="m")


def scaling_in_n(m: int = 2**20, ns: tuple[int, ...] = (32, 64, 128, 256, 512), draws: int = 3) -> Scaling:
    """D2/D3 over ``n`` at fixed ``m``: exponent +1 up to the finite-size slope of ``n - 1``.

    The exact mean ``(n-1)/m`` has log-slope ``n/(n-1)`` in ``n``; on the grid it exceeds 1 by
    at most ``1/(n_min - 1)``, which is the tolerance.
    """
    vals = np.array([-relative_rates(n, m, draw_seeds(100 + k, draws))[0].mean() for k, n in enumerate(ns)])
    pred = np.array([(n - 1) / m for n in ns])
    se = np.array([interference_rate_mean_se(n, m) for n in ns]) / np.sqrt(draws)
    return _scaling(np.asarray(ns, float), vals, pred, se, predicted_exponent=1.0, tolerance=1.0 / (ns[0] - 1),
                    regime=f"m={m}, n={ns[0]}..{ns[-1]} (x2), {draws} draws each", over="n")


def _scaling(sizes: np.ndarray, vals: np.ndarray, pred: np.ndarray, se: np.ndarray, *, predicted_exponent: float,
             tolerance: float, regime: str, over: str) -> Scaling:
    check_exp, fit = check_exponent("D2", f"interference's share = -Theta(n/m): exponent in {over}", sizes=sizes,
                                    values=vals, predicted=predicted_exponent, regime=regime, tolerance=tolerance)
    ratios = vals / pred
    constant = float(np.mean(ratios))
    constant_se = float(np.sqrt(np.sum((se / pred) ** 2)) / len(sizes))
    check_c = check_close("D2", "constant: |mean share| / ((n-1)/m) = 1", predicted=1.0, measured=constant,
                          atol=4 * constant_se, regime=regime + ", 4 s.e.")
    return Scaling(sizes, vals, pred, constant, constant_se, fit, (check_exp, check_c))


@dataclass(frozen=True)
class ExactLaw:
    """One ``rho_0`` per independent draw, compared with the exact law by a Kolmogorov-Smirnov distance."""

    n: int
    m: int
    samples: np.ndarray
    ks_distance: float
    ks_bound: float
    checks: tuple[Check, ...]


def exact_law(n: int = 16, m: int = 256, draws: int = 400, *, seed: int = 0) -> ExactLaw:
    """Draw ``rho_0`` ``draws`` times (independent Gram matrices) and test :func:`interference_rate_cdf`.

    The bound is the 1% critical value of the KS distance, ``1.63 / sqrt(draws)``.
    """
    samples = np.array([interference_relative_rate(sample_gram(n, m, seed=seed + k))[0] for k in range(draws)])
    ks = float(stats.kstest(samples, lambda x: interference_rate_cdf(x, n, m)).statistic)
    bound = float(1.63 / np.sqrt(draws))
    regime = f"n={n}, m={m}, {draws} independent draws"
    checks = (
        check_below("D2", "ρ_i = -(2/m) χ²_K, K ~ Bin(n-1, 1/2): exact law at finite m", measured=ks, bound=bound,
                    regime=regime, quantity="KS distance"),
        check_close("D2", "mean of ρ_0 = -(n-1)/m", predicted=expected_relative_norm_sq_rate(n, m),
                    measured=float(samples.mean()), atol=4 * interference_rate_sd(n, m) / np.sqrt(draws),
                    regime=regime + ", 4 s.e."),
    )
    return ExactLaw(n, m, samples, ks, bound, checks)


@dataclass(frozen=True)
class Spread:
    """The spread of ``rho_i`` over encodings: ``sd / |mean|`` against ``sqrt(5/(n-1))``."""

    ns: np.ndarray
    relative_spread: np.ndarray
    constant: float  # mean of relative_spread * sqrt(n-1) (sqrt 5 in theory)
    fit: ExponentFit
    checks: tuple[Check, ...]


RELU_SQ_KURTOSIS = 39.5625 / 1.5625
"""Kurtosis of ``ReLU(z)^2``, ``z ~ N(0,1)``: central moments ``mu2 = 5/4``, ``mu4 = 633/16`` (from
``E ReLU(z)^{2k} = (2k-1)!!/2``)."""


def sd_relative_se(n: int, samples: int) -> float:
    """Relative standard error of the sample sd of ``samples`` independent copies of ``rho_i``.

    ``sqrt((kurtosis - 1) / (4 samples))``, with the kurtosis of a sum of ``n - 1`` i.i.d.
    ``ReLU(z)^2``: ``3 + (RELU_SQ_KURTOSIS - 3)/(n - 1)``.
    """
    kurtosis = 3.0 + (RELU_SQ_KURTOSIS - 3.0) / (n - 1)
    return float(np.sqrt((kurtosis - 1.0) / (4.0 * samples)))


def spread_over_encodings(m: int = 2**20, ns: tuple[int, ...] = (8, 16, 32, 64, 128, 256),
                          samples: int = 1024) -> Spread:
    """Pooled (over draws and ``i``) standard deviation of ``rho_i``, divided by ``(n-1)/m``.

    At each ``n``, ``ceil(samples / n)`` draws (at least 2), so about ``samples`` values of ``rho_i``.
    """
    rel, ses = [], []
    for k, n in enumerate(ns):
        draws = max(2, -(-samples // n))
        rho, _ = relative_rates(n, m, draw_seeds(200 + k, draws))
        rel.append(float(np.std(rho, ddof=1) / ((n - 1) / m)))
        ses.append(sd_relative_se(n, rho.size))
    rel_arr = np.array(rel)
    x = np.asarray(ns, float) - 1
    regime = f"m={m}, n={ns[0]}..{ns[-1]}, about {samples} values each"
    check_exp, fit = check_exponent("D2", "spread over i: sd/|mean| = Theta((n-1)^-1/2)", sizes=x, values=rel_arr,
                                    predicted=-0.5, regime=regime)
    constant = float(np.mean(rel_arr * np.sqrt(x)))
    se = float(np.sqrt(5.0) * np.sqrt(np.sum(np.square(ses))) / len(ns))
    check_c = check_close("D2", "constant: sd/|mean| · sqrt(n-1) = sqrt(5)", predicted=float(np.sqrt(5.0)),
                          measured=constant, atol=4 * se, regime=regime + ", 4 s.e.")
    return Spread(np.asarray(ns), rel_arr, constant, fit, (check_exp, check_c))


def expected_pair_norm_correction(n: int, m: int) -> float:
    """``E[-(rho_i + rho_j)/2 | G_ij > 0] = n/m`` exactly at initialisation.

    The lengths' part of ``d ln kappa_ij/dt`` for a pair that interferes. Conditioning on
    ``G_ij > 0`` makes the term ``j`` of ``rho_i`` a ``chi2_1`` (mean 1 instead of 1/2), so
    ``E[rho_i | G_ij > 0] = -(2/m)(1 + (n-2)/2) = -n/m``, one ``1/m`` more than unconditionally.
    """
    n, m = v.sizes(n, m)
    return n / m


@dataclass(frozen=True)
class PairCorrection:
    """The lengths' part of ``d ln kappa/dt`` over interfering pairs: measured against ``n/m``."""

    n: int
    m: int
    measured: float  # mean over draws and interfering pairs of -(rho_i + rho_j)/2
    se: float        # standard error over draws
    checks: tuple[Check, ...]


def pair_norm_correction(n: int = 32, m: int = 4096, draws: int = 400) -> PairCorrection:
    """Measure ``-(rho_i + rho_j)/2`` averaged over the pairs with ``G_ij > 0``, per draw, against ``n/m``
    (and against the unconditional ``(n-1)/m``, which it must exceed)."""
    per_draw = []
    for s in draw_seeds(700, draws):
        G = sample_gram(n, m, seed=s)  # not cached: many one-off draws
        rho = interference_relative_rate(G)
        mask = np.triu(G > 0, k=1)
        per_draw.append(float(np.mean(-0.5 * (rho[:, None] + rho[None, :])[mask])))
    mean = float(np.mean(per_draw))
    se = float(np.std(per_draw, ddof=1) / np.sqrt(draws))
    regime = f"n={n}, m={m}, {draws} draws"
    return PairCorrection(n, m, mean, se, (
        check_close("D3", "interfering pairs: mean of -(ρ_i+ρ_j)/2 = n/m", predicted=expected_pair_norm_correction(n, m),
                    measured=mean, atol=4 * se, regime=regime + ", 4 s.e."),
    ))


# --- D3 finding: feature benefit's share against interference's ------------------------------------

@dataclass(frozen=True)
class ShareGrid:
    """Both shares over a grid of ``(n, m)``: one row per point."""

    n: np.ndarray
    m: np.ndarray
    fb_rms: np.ndarray          # RMS over draws and i of phi_i
    interference_mean: np.ndarray  # |mean| of rho_i
    fb_fraction: np.ndarray     # fraction of encodings with |phi_i| > |rho_i|
    fb_fraction_predicted: np.ndarray
    ratio_fit: ExponentFit      # ratio vs x = (n-1)/sqrt(m)
    crossover: float            # x at which the fitted ratio is 1
    checks: tuple[Check, ...]

    @property
    def x(self) -> np.ndarray:
        """``(n-1)/sqrt(m)``, the variable on which the ratio of the shares depends."""
        return (self.n - 1) / np.sqrt(self.m)

    @property
    def ratio(self) -> np.ndarray:
        """``RMS(phi) / |mean rho|`` (feature benefit dominates above 1)."""
        return self.fb_rms / self.interference_mean


def share_grid(ns: tuple[int, ...] = (4, 8, 16, 32, 64, 128, 256), ms: tuple[int, ...] = (2**10, 2**14, 2**18),
               draws: int = 4) -> ShareGrid:
    """Measure both shares at every ``(n, m)`` with ``n <= m``; check the ratio's law and the FB constant."""
    rows = []
    for k, (m, n) in enumerate((m, n) for m in ms for n in ns if n <= m):
        rho, phi = relative_rates(n, m, draw_seeds(300 + k, draws))
        rows.append((n, m, float(np.sqrt(np.mean(phi**2))), float(-rho.mean()),
                     float(np.mean(np.abs(phi) > np.abs(rho))), feature_benefit_dominated_fraction(n, m)))
    n_a, m_a, fb, im, frac, frac_pred = (np.array(c, dtype=float) for c in zip(*rows))
    x = (n_a - 1) / np.sqrt(m_a)
    regime = f"n={ns[0]}..{ns[-1]}, m in {ms}, {draws} draws each"
    check_ratio, fit = check_exponent("D3", "RMS(FB share)/|interference share| = Theta(sqrt(m)/(n-1))",
                                      sizes=x, values=fb / im, predicted=-1.0, regime=regime, tolerance=0.02)
    fb_const = fb * np.sqrt(m_a)
    n_samples = n_a * draws
    check_fb = check_close("D3", "FB share: RMS of 2(1-‖W_i‖²) = 2 sqrt(2/m)", predicted=float(2 * np.sqrt(2)),
                           measured=float(np.mean(fb_const)),
                           atol=4 * float(2 * np.sqrt(2) * np.sqrt(np.mean(1 / (2 * n_samples)) / len(n_a))),
                           regime=regime + ", in units of 1/sqrt(m), 4 s.e.")
    frac_se = np.sqrt(np.maximum(frac_pred * (1 - frac_pred), 1e-4) / n_samples)
    worst = float(np.max(np.abs(frac - frac_pred) / frac_se))
    check_frac = check_below("D3", "fraction of encodings where FB dominates = exact prediction", measured=worst,
                             bound=4.0, regime=regime, quantity="max |Δ|/s.e.")
    crossover = fit.prefactor ** (-1.0 / fit.exponent)
    return ShareGrid(n_a, m_a, fb, im, frac, frac_pred, fit, float(crossover), (check_ratio, check_fb, check_frac))


# --- D3 over the interference phase ---------------------------------------------------------------

@lru_cache(maxsize=64)
def phase_flow(n: int, m: int, seed: int, terms: tuple[str, ...], t_end: float = PHASE_END,
               points: int = 41) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(times, log_change, G0)``: ``ln(a_i(t)/a_i(0))`` ``(points, n)`` along the Gram flow of ``terms``."""
    G0 = _gram(n, m, seed)
    times = np.linspace(0.0, t_end, points)
    Gs = simulate_gram(np.array(G0), times, terms=terms, rtol=PHASE_RTOL)
    a = np.diagonal(Gs, axis1=1, axis2=2)
    out = np.log(a / a[0])
    out.setflags(write=False)
    return times, out, G0


@dataclass(frozen=True)
class Phase:
    """Changes of the norms over the interference phase ``t in [0, PHASE_END]``, over a grid of ``m``."""

    n: int
    ms: np.ndarray
    times: np.ndarray
    mean_change: np.ndarray       # (len(ms), T): mean over seeds and i of ln(a_i(t)/a_i(0)), interference only
    first_order: np.ndarray       # (len(ms), T): same mean of first_order_norm_change
    first_order_error: np.ndarray  # (len(ms),): |measured/first-order - 1| at the end
    max_change_interference: np.ndarray  # (len(ms),): max over i, t, seeds of |ln a_i(t)/a_i(0)|
    rms_change_full: np.ndarray   # (len(ms),): RMS over i and seeds at the end, full flow
    max_change_full: np.ndarray   # (len(ms),): max over i, t, seeds, full flow
    end_norm_error_full: float    # max |a_i(T) - 1| under the full flow
    constant: float               # mean_change[-1, -1] / ((n-1)/m): -1/4 in theory
    constant_se: float
    fit: ExponentFit
    checks: tuple[Check, ...]


def norm_over_phase(n: int = 32, ms: tuple[int, ...] = (256, 1024, 4096, 16384, 65536),
                    draws: int = 2, constant_draws: int = 16) -> Phase:
    """Simulate the interference-only and full flows over the phase and measure how the norms move.

    ``draws`` Gram draws per ``m``; the constant ``-1/4`` is measured at the largest ``m``
    with ``constant_draws`` further draws.
    """
    means, firsts, errs, max_int, rms_full, max_full, end_err = [], [], [], [], [], [], 0.0
    for k, m in enumerate(ms):
        seeds = draw_seeds(400 + k, draws)
        runs = [phase_flow(n, m, s, INTERFERENCE) for s in seeds]
        times = runs[0][0]
        change = np.mean([r[1].mean(axis=1) for r in runs], axis=0)
        first = np.mean([first_order_norm_change(r[2], times).mean(axis=1) for r in runs], axis=0)
        means.append(change)
        firsts.append(first)
        errs.append(abs(change[-1] / first[-1] - 1))
        max_int.append(max(float(np.max(np.abs(r[1]))) for r in runs))
        full = [phase_flow(n, m, s, FULL) for s in seeds]
        rms_full.append(float(np.sqrt(np.mean([r[1][-1] ** 2 for r in full]))))
        max_full.append(max(float(np.max(np.abs(r[1]))) for r in full))
        end_err = max(end_err, max(float(np.max(np.abs(np.exp(r[1][-1]) * np.diag(r[2]) - 1))) for r in full))
    ms_a = np.asarray(ms, float)
    means_a, firsts_a = np.array(means), np.array(firsts)
    m_big = ms[-1]
    constant_seeds = draw_seeds(499, constant_draws)
    ends = [phase_flow(n, m_big, s, INTERFERENCE)[1][-1].mean() for s in constant_seeds]
    constant = float(np.mean(ends) / ((n - 1) / m_big))
    se = 0.25 * np.sqrt(10.0 / (n * (n - 1))) / np.sqrt(len(constant_seeds))
    regime = f"n={n}, m={ms[0]}..{ms[-1]}, t in [0, {PHASE_END:g}]"
    check_exp, fit = check_exponent("D3", "change of ‖W_i‖² over the phase (interference) = Theta(n/m): exponent in m",
                                    sizes=ms_a, values=-means_a[:, -1], predicted=-1.0, regime=regime,
                                    tolerance=0.02)
    rms_pred = np.array([feature_benefit_norm_change_rms(m, PHASE_END) for m in ms])
    n_samples = n * draws
    checks = (
        check_exp,
        check_close("D3", "constant: mean ln(a_i(T)/a_i(0)) / ((n-1)/m) = -1/4", predicted=-0.25, measured=constant,
                    atol=4 * se, regime=f"n={n}, m={m_big}, {len(constant_seeds)} draws, 4 s.e."),
        check_below("D3", "first-order prediction of the change (largest m)", measured=errs[-1], bound=0.05,
                    regime=f"n={n}, m={m_big}", quantity="rel. error"),
        check_close("D3", "full flow: RMS ln(a_i(T)/a_i(0)) / sqrt(2/m) = 1 (feature benefit)", predicted=1.0,
                    measured=float(np.mean(np.array(rms_full) / rms_pred)),
                    atol=4 / np.sqrt(2 * n_samples * len(ms)), regime=regime + ", 4 s.e."),
        check_below("D3", "full flow: every norm has reached 1 at the end of the phase", measured=end_err,
                    bound=1e-3, regime=regime, quantity="max |‖W_i(T)‖² - 1|"),
    )
    return Phase(n, ms_a, times, means_a, firsts_a, np.array(errs), np.array(max_int), np.array(rms_full),
                 np.array(max_full), end_err, constant, float(se), fit, checks)


# --- widgets -----------------------------------------------------------------------------------------

def rates_panel(n: int, m: int, seed: int) -> Panel:
    """Widget panel: one draw; both relative rates of ``||W_i||^2`` against their exact laws."""
    n, m = v.sizes(n, m)
    G = _gram(n, m, v.seed(seed))
    rho, phi = interference_relative_rate(G), feature_benefit_relative_rate(G)
    mean_pred = expected_relative_norm_sq_rate(n, m)
    regime = f"n={n}, m={m}, seed={seed}"
    checks = [
        check_close("D2", "interference: mean_i ρ_i = -(n-1)/m", predicted=mean_pred, measured=float(rho.mean()),
                    atol=4 * interference_rate_mean_se(n, m), regime=regime + ", 4 s.e."),
        check_close("D2", "interference: sd_i ρ_i = sqrt(5(n-1))/m", predicted=interference_rate_sd(n, m),
                    measured=float(np.std(rho, ddof=1)), rtol=4 * sd_relative_se(n, n), regime=regime + ", 4 s.e."),
        check_close("D3", "norm ‖W_i‖: mean relative rate = -(n-1)/(2m)", predicted=mean_pred / 2,
                    measured=float(rho.mean() / 2), atol=2 * interference_rate_mean_se(n, m),
                    regime=regime + ", 4 s.e."),
        check_close("D3", "feature benefit: RMS_i φ_i = 2 sqrt(2/m)", predicted=feature_benefit_rate_rms(m),
                    measured=float(np.sqrt(np.mean(phi**2))), rtol=4 / np.sqrt(2 * n), regime=regime + ", 4 s.e."),
    ]
    ratio = float(np.sqrt(np.mean(phi**2)) / -rho.mean())
    frac = float(np.mean(np.abs(phi) > np.abs(rho)))
    who = "feature benefit" if ratio > 1 else "interference"
    note = (f"Here <b>{who}</b> dominates the norm's rate: RMS φ / |mean ρ| = {ratio:.3g} (predicted "
            f"2·sqrt(2m)/(n-1) = {share_ratio(n, m):.3g}); |φ_i| &gt; |ρ_i| for {frac:.0%} of the encodings "
            f"(predicted {feature_benefit_dominated_fraction(n, m, nodes=100):.0%}).")
    scale = m / (n - 1)  # plot in units of (n-1)/m
    lo = min(float(rho.min()) * scale, -2.5)
    grid = np.linspace(lo, 0.0, 120)
    left = svgplot.Axes([
        svgplot.Series(*svgplot.histogram(rho * scale, bins=max(8, min(30, n // 3))), label="measured", kind="steps"),
        svgplot.Series(grid, interference_rate_density(grid / scale, n, m) / scale, label="exact law", color="#000",
                       dashed=True)],
        xlabel="ρ_i · m/(n-1)  (interference)", ylabel="density", vlines=[(-1.0, "predicted mean -1")])
    z = np.linspace(-4, 4, 81) * feature_benefit_rate_rms(m)
    right = svgplot.Axes([
        svgplot.Series(*svgplot.histogram(phi * scale, bins=max(8, min(30, n // 3))), label="measured", kind="steps"),
        svgplot.Series(z * scale, stats.norm.pdf(z, 0, feature_benefit_rate_rms(m)) / scale, label="N(0, 8/m)",
                       color="#000", dashed=True)],
        xlabel="φ_i · m/(n-1)  (feature benefit)", ylabel="density",
        vlines=[(-1.0, "interference mean")])
    return Panel(checks, svgplot.svg([left, right]), note)


def rates_explorable() -> Explorable:
    """Widget: sizes and seed against the two shares of the norm's rate at initialisation (D2, D3)."""
    return Explorable(rates_panel, [
        Control("n", "features n", (8, 32, 128), 32, kind="size", low=4, high=512),
        Control("m", "neurons m", (256, 1024, 4096, 16384), 1024, kind="size", low=256, high=2**20),
        Control("seed", "seed", (0, 1), 0, low=0, high=99),
    ], title="What changes a norm at initialisation: interference against feature benefit")


def phase_panel(n: int, m: int, t: float, seed: int = 0) -> Panel:
    """Widget panel: ``ln(a_i(t)/a_i(0))`` along the interference-only and full flows up to ``t``."""
    n, m = v.sizes(n, m)
    times, change, G0 = phase_flow(n, m, v.seed(seed), INTERFERENCE)
    _, change_full, _ = phase_flow(n, m, seed, FULL)
    k = int(np.argmin(np.abs(times - t)))
    first = first_order_norm_change(G0, times).mean(axis=1)
    scale = m / (n - 1)
    rms_full = np.sqrt(np.mean(change_full**2, axis=1))
    rms_pred = feature_benefit_norm_change_rms(m, times)
    regime = f"n={n}, m={m}, t={times[k]:.3g}"
    checks = [
        check_below("D3", "interference only: mean change = first-order prediction",
                    measured=float(abs(change[k].mean() / first[k] - 1)) if k else 0.0, bound=0.25,
                    regime=regime, quantity="rel. error"),
        check_close("D3", "interference only: mean change = -(n-1)/(4m)(1-e^{-4t})",
                    predicted=float(expected_norm_change(n, m, times[k])), measured=float(change[k].mean()),
                    atol=4 * 0.25 * interference_rate_mean_se(n, m) * (1 - np.exp(-4 * times[k])) + 1e-12,
                    rtol=0.15, regime=regime + ", 4 s.e. + 15% second order"),
        check_close("D3", "full flow: RMS change = sqrt(2/m)(1-e^{-2t})", predicted=float(rms_pred[k]),
                    measured=float(rms_full[k]), rtol=4 / np.sqrt(2 * n), atol=1e-12, regime=regime + ", 4 s.e."),
    ]
    note = (f"Largest |ln(‖W_i(t)‖²/‖W_i(0)‖²)| up to t: {np.max(np.abs(change[:k + 1])):.2e} with interference "
            f"only, {np.max(np.abs(change_full[:k + 1])):.2e} with feature benefit too (n/m = {n / m:.3g}, "
            f"sqrt(2/m) = {np.sqrt(2 / m):.3g}).")
    left = svgplot.Axes([
        svgplot.Series(times, change.mean(axis=1) * scale, label="measured mean (interference only)"),
        svgplot.Series(times, first * scale, label="first order", dashed=True),
        svgplot.Series(times, expected_norm_change(n, m, times) * scale, label="-(1/4)(1-e^{-4t})", color="#000",
                       dashed=True)],
        xlabel="time t", ylabel="mean ln(a_i(t)/a_i(0)) · m/(n-1)", vlines=[(float(times[k]), "")])
    right = svgplot.Axes([
        svgplot.Series(times[1:], rms_full[1:], label="full flow (measured)"),
        svgplot.Series(times[1:], rms_pred[1:], label="sqrt(2/m)(1-e^{-2t})", color="#000", dashed=True),
        svgplot.Series(times[1:], np.sqrt(np.mean(change[1:] ** 2, axis=1)), label="interference only"),
    ], xlabel="time t", ylabel="RMS ln(a_i(t)/a_i(0))", ylog=True, vlines=[(float(times[k]), "")])
    return Panel(checks, svgplot.svg([left, right]), note)


def phase_explorable() -> Explorable:
    """Widget: how far the norms move over the interference phase (D3)."""
    return Explorable(phase_panel, [
        Control("n", "features n", (16, 32), 32, kind="size", low=8, high=64),
        Control("m", "neurons m", (256, 1024, 4096), 1024, kind="size", low=256, high=65536),
        Control("t", "time t", (0.25, 0.5, 1.0, 5.0), 1.0, kind="float", low=0.125, high=5.0, step=0.125),
    ], title="How far the norms move over the interference phase")


def explorables() -> dict[str, Explorable]:
    """Fresh explorables of this chapter, by name."""
    return {"rates": rates_explorable(), "phase": phase_explorable()}
