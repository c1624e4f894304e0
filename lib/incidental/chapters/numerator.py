"""Chapter 2 (The numerator): claims N1-N3.

How interference changes the overlap ``G_ij = W_i . W_j`` of two encodings. The exact
rate (:func:`incidental.numerator_rate`) splits into a first-order term
``-ReLU(G_ij) (G_ii + G_jj)`` and second-order terms from every third encoding ``k``.
This module measures

- N1: the split is exact (round-off), the rate matches finite differences along both
  simulated flows, and the note's ReLU-free second-order terms differ from the exact ones;
- N2: how the size of the second-order terms relative to the first-order one scales with
  ``n`` and ``m`` (RMS ratio ``r`` over interfering pairs at initialisation), with the
  constants derived in the chapter, and their conditional mean;
- N3: the error of the first-order relative rate ``-(G_ii + G_jj)`` pair by pair, at
  initialisation (a half-Cauchy law of scale ``r``) and late along the interference flow
  (where it settles at ``(n-2) / (2 sqrt(2 pi m))``).

All rates are for the interference force alone (chapter 1, claim S3).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from matplotlib.axes import Axes
from scipy import stats

from .. import _validate as v
from .. import theory
from .. import svgplot
from ..checks import Check, ExponentFit, check_below, check_close, check_exponent
from ..derivation import numerator_first_order, numerator_rate, numerator_second_order
from ..explore import Control, Explorable, Panel
from ..flow import simulate, simulate_gram
from ..model import sample_gram, sample_weights

INTERFERENCE = ("interference",)
TOLERANCE = 0.1  # a first-order prediction "holds" for a pair if its relative error is at most 10%


# --- derived constants (candidates for the core module ``derivation``) ------------------------

predicted_second_order_ratio = theory.second_order_ratio
predicted_conditional_mean_slope = theory.second_order_mean_slope


def predicted_late_error(n: int, m: int) -> float:
    """Leading-order relative error of the first-order rate late in the interference flow (a float).

    Late on, the interfering overlaps are small and decay together; the non-interfering
    ones are frozen near their initial values. Each third encoding ``k`` for which exactly
    one of ``G_ik``, ``G_jk`` interferes couples the pair to it through the other, negative,
    overlap: a non-negative matrix ``C`` whose rows sum to about
    ``2 (n-2) * 1/2 * E[|X| ; X < 0] = (n-2) / sqrt(2 pi m)``. Its Perron root ``rho`` slows
    the common decay from ``2`` to ``2 - rho``, a relative error of ``rho / 2``.
    """
    return theory.drift_strength(n, m) / 2


def predicted_late_relu_free(n: int, m: int) -> float:
    """Leading-order value of the note's ReLU-free second-order term late in the flow (a float).

    Once the interfering overlaps have decayed, only the ``k`` with both ``G_ik < 0`` and
    ``G_jk < 0`` are left in ``-2 sum_k G_ik G_jk``; each such product is positive with mean
    ``E[X ; X < 0]^2 = 1/(2 pi m)``, so the sum is about ``-(n-2)/(pi m)``: it does not decay.
    (The exact terms carry a factor ``ReLU(G_ik)`` or ``ReLU(G_jk)``, so they do.)
    """
    n, m = v.sizes(n, m)
    return -(n - 2) / (np.pi * m)


def half_cauchy_exceedance(x: np.ndarray | float, scale: float) -> np.ndarray | float:
    """``P(|eps| > x)`` if ``|eps|`` is half-Cauchy with ``scale``: ``1 - (2/pi) arctan(x/scale)``."""
    return stats.halfcauchy.sf(x, scale=scale)


# --- per-pair quantities ----------------------------------------------------------------------

@dataclass(frozen=True)
class PairTerms:
    """The pieces of ``d G_ij / dt`` over the interfering pairs ``i < j`` (``G_ij > 0``) of one ``G``.

    Every field is ``(P,)`` for ``P`` interfering pairs.
    """

    overlap: np.ndarray        # G_ij
    first: np.ndarray          # -G_ij (G_ii + G_jj)
    second: np.ndarray         # exact second-order terms (with ReLUs)
    second_free: np.ndarray    # the note's ReLU-free second-order terms
    rate: np.ndarray           # exact d G_ij / dt
    predicted_relative_rate: np.ndarray  # -(G_ii + G_jj)

    @property
    def relative_error(self) -> np.ndarray:
        """``|second / first|``: the relative error of the first-order rate, pair by pair, ``(P,)``."""
        return np.abs(self.second / self.first)

    @property
    def relative_rate(self) -> np.ndarray:
        """Exact ``(d G_ij / dt) / G_ij``, ``(P,)``."""
        return self.rate / self.overlap


def pair_terms(G: np.ndarray) -> PairTerms:
    """Split the numerator's rate of every interfering pair of ``G`` ``(n, n)``."""
    G = v.gram("G", G)
    iu = np.triu_indices(G.shape[0], k=1)
    mask = G[iu] > 0
    pick = lambda M: M[iu][mask]  # noqa: E731
    d = np.diag(G)
    return PairTerms(pick(G), pick(numerator_first_order(G)), pick(numerator_second_order(G, relu=True)),
                     pick(numerator_second_order(G, relu=False)), pick(numerator_rate(G)),
                     -(d[iu[0]] + d[iu[1]])[mask])


def seeds_for(n: int, pairs: int) -> int:
    """How many independent draws of ``n`` encodings give at least ``pairs`` pairs ``i < j``."""
    return max(1, int(np.ceil(pairs / (n * (n - 1) / 2))))


def pooled_pair_terms(n: int, m: int, *, seed: int, pairs: int = 4000) -> PairTerms:
    """:func:`pair_terms` pooled over enough Gram draws (seeds ``seed, seed+1, ...``) for ``pairs`` pairs."""
    parts = [pair_terms(sample_gram(n, m, seed=seed + k)) for k in range(seeds_for(n, pairs))]
    return PairTerms(*(np.concatenate([getattr(p, f) for p in parts]) for f in PairTerms.__dataclass_fields__))


# --- N1: the exact rate ------------------------------------------------------------------------

def decomposition_error(G: np.ndarray) -> float:
    """``max |first + second - rate| / max |rate|`` over all pairs of ``G`` (a float; round-off)."""
    total = numerator_first_order(G) + numerator_second_order(G, relu=True)
    rate = numerator_rate(G)
    return float(np.max(np.abs(total - rate)) / np.max(np.abs(rate)))


@dataclass(frozen=True)
class FiniteDifferences:
    """Central differences of ``G_ij(t)`` against :func:`numerator_rate` at ``t0``, for each step in ``steps``.

    ``gram_error[k]`` / ``weight_error[k]``: ``max_ij |fd - rate| / max_ij |rate|`` along the
    Gram flow / the weight-space flow, with step ``steps[k]``.
    """

    t0: float
    steps: np.ndarray
    gram_error: np.ndarray
    weight_error: np.ndarray


def _fd_relative_error(Gs: np.ndarray, h: float) -> float:
    off = ~np.eye(Gs.shape[1], dtype=bool)
    fd = (Gs[2] - Gs[0]) / (2 * h)
    rate = numerator_rate(Gs[1])
    return float(np.max(np.abs(fd - rate)[off]) / np.max(np.abs(rate)[off]))


def finite_differences(n: int = 16, m: int = 256, *, seed: int = 0, t0: float = 1.0,
                       steps: tuple[float, ...] = (3e-2, 1e-2, 3e-3, 1e-3)) -> FiniteDifferences:
    """Compare :func:`numerator_rate` with central differences along the interference-only flow,
    simulated in Gram space (``simulate_gram``) and in weight space (``simulate``) from the same ``W0``."""
    W0 = sample_weights(n, m, seed=seed)
    gram_err, weight_err = [], []
    for h in steps:
        times = [t0 - h, t0, t0 + h]
        gram_err.append(_fd_relative_error(simulate_gram(W0 @ W0.T, times, terms=INTERFERENCE), h))
        Ws = simulate(W0, times, terms=INTERFERENCE)
        weight_err.append(_fd_relative_error(np.einsum("tim,tjm->tij", Ws, Ws), h))
    return FiniteDifferences(t0, np.asarray(steps), np.asarray(gram_err), np.asarray(weight_err))


def all_interfering_gap(n: int = 8, m: int = 32, *, seed: int = 0) -> float:
    """Largest ``|second(ReLU-free) - second(exact)|`` when every pair interferes (entries of ``W`` made
    positive, so every ``G_ij > 0``): 0 up to round-off."""
    W = np.abs(sample_weights(n, m, seed=seed))
    G = W @ W.T
    return float(np.max(np.abs(numerator_second_order(G, relu=False) - numerator_second_order(G, relu=True))))


@dataclass(frozen=True)
class ReluFreeComparison:
    """How far the note's ReLU-free second-order terms are from the exact ones (interfering pairs, init).

    Predictions (independent Gaussian ``G_ik, G_jk``): ``RMS(free - exact)/RMS(exact) = 1``,
    ``RMS(free)/RMS(exact) = sqrt(8/3)``, correlation ``sqrt(2/3)``.
    """

    exact: np.ndarray
    free: np.ndarray
    difference_ratio: float
    size_ratio: float
    correlation: float


RELU_FREE_PREDICTIONS = {"difference_ratio": 1.0, "size_ratio": float(np.sqrt(8 / 3)),
                         "correlation": float(np.sqrt(2 / 3))}


def relu_free_comparison(n: int = 128, m: int = 16384, *, seed: int = 0, pairs: int = 32000) -> ReluFreeComparison:
    """Measure :class:`ReluFreeComparison` over about ``pairs / 2`` interfering pairs."""
    p = pooled_pair_terms(n, m, seed=seed, pairs=pairs)
    rms = lambda x: float(np.sqrt(np.mean(x**2)))  # noqa: E731
    return ReluFreeComparison(p.second, p.second_free, rms(p.second_free - p.second) / rms(p.second),
                              rms(p.second_free) / rms(p.second), float(np.corrcoef(p.second, p.second_free)[0, 1]))


SPLIT_SIZES: tuple[tuple[int, int], ...] = ((8, 8), (64, 1024), (256, 10**9))


def worst_split_error(*, seed: int = 0) -> float:
    """Largest :func:`decomposition_error` over Gram draws of the sizes ``SPLIT_SIZES`` (a float)."""
    return max(decomposition_error(sample_gram(n, m, seed=seed + k)) for k, (n, m) in enumerate(SPLIT_SIZES))


def n1_checks(*, seed: int = 0) -> tuple[list[Check], FiniteDifferences, ReluFreeComparison]:
    """N1: the split is exact; the rate matches finite differences along both flows; the ReLU-free
    terms equal the exact ones only when all pairs interfere, and otherwise differ by as much as their size."""
    fd = finite_differences(seed=seed)
    rf = relu_free_comparison(seed=seed)
    worst_split = worst_split_error(seed=seed)
    fd_regime = f"n=16, m=256, t0={fd.t0:g}, interference only"
    checks = [
        check_below("N1", "first order + second order (ReLU) = exact rate", measured=worst_split, bound=1e-12,
                    regime="n=8 m=8; n=64 m=1024; n=256 m=1e9", quantity="rel. error"),
        check_below("N1", "exact rate = central difference of G_ij(t), Gram flow", measured=float(fd.gram_error[-1]),
                    bound=1e-5, regime=f"{fd_regime}, h={fd.steps[-1]:g}", quantity="rel. error"),
        check_below("N1", "exact rate = central difference of G_ij(t), weight flow",
                    measured=float(fd.weight_error[-1]), bound=1e-5, regime=f"{fd_regime}, h={fd.steps[-1]:g}",
                    quantity="rel. error"),
        check_exponent("N1", "finite-difference error ∝ h^2 (so the rate is the derivative)", sizes=fd.steps,
                       values=fd.gram_error, predicted=2.0, regime=fd_regime, tolerance=0.05)[0],
        check_below("N1", "ReLU-free = exact second order when every pair interferes",
                    measured=all_interfering_gap(seed=seed), bound=1e-12, regime="n=8, m=32, W ≥ 0",
                    quantity="max |Δ|"),
        check_close("N1", "ReLU-free minus exact, RMS relative to exact", predicted=1.0,
                    measured=rf.difference_ratio, rtol=0.08, regime="n=128, m=16384, 4 draws, interfering pairs"),
        check_close("N1", "RMS(ReLU-free) / RMS(exact) = sqrt(8/3)", predicted=RELU_FREE_PREDICTIONS["size_ratio"],
                    measured=rf.size_ratio, rtol=0.08, regime="n=128, m=16384, 4 draws, interfering pairs"),
    ]
    return checks, fd, rf


# --- N2: size of the second-order terms --------------------------------------------------------

def second_order_ratios(n: int, m: int, *, seed: int, pairs: int = 8000) -> tuple[float, float]:
    """Measured ``RMS(second order) / RMS(first order)`` over the interfering pairs among about
    ``pairs`` pairs at initialisation (Gram draws from ``sample_gram``): ``(exact, ReLU-free)``."""
    p = pooled_pair_terms(n, m, seed=seed, pairs=pairs)
    first = np.mean(p.first**2)
    return float(np.sqrt(np.mean(p.second**2) / first)), float(np.sqrt(np.mean(p.second_free**2) / first))


@dataclass(frozen=True)
class RatioScan:
    """``r`` (exact) and ``r_free`` (ReLU-free) over a geometric grid of one size, the other fixed.

    ``variable`` is ``"m"`` or ``"n"``; ``sizes`` the fitted variable (``m``, or ``n - 2`` = the
    number of third encodings); ``constant``/``constant_free`` the mean of ``r`` divided by its
    predicted scaling ``sqrt((n-2)/m)``.
    """

    variable: str
    n: np.ndarray
    m: np.ndarray
    sizes: np.ndarray
    ratio: np.ndarray
    ratio_free: np.ndarray
    fit: ExponentFit
    fit_free: ExponentFit
    constant: float
    constant_free: float
    checks: tuple[Check, ...]


def ratio_scan(variable: str, *, fixed: int, grid: tuple[int, ...], seed: int = 0, pairs: int = 8000) -> RatioScan:
    """Measure ``r`` over ``grid`` of ``variable`` (``"m"`` at ``n = fixed``, or ``"n"`` at ``m = fixed``)
    and check the exponent (``-1/2`` in ``m``, ``+1/2`` in ``n - 2``) and the constants
    ``sqrt(3/8)`` (exact) and ``1`` (ReLU-free)."""
    if variable not in ("m", "n"):
        raise ValueError(f"variable must be 'm' or 'n', got {variable!r}")
    n = np.array([fixed] * len(grid) if variable == "m" else grid)
    m = np.array(grid if variable == "m" else [fixed] * len(grid))
    seeds = [seed + 1000 * k for k in range(len(grid))]
    r, rf = np.array([second_order_ratios(int(a), int(b), seed=s, pairs=pairs) for a, b, s in zip(n, m, seeds)]).T
    sizes = m.astype(float) if variable == "m" else (n - 2).astype(float)
    expo = -0.5 if variable == "m" else 0.5
    regime = (f"n={fixed}, m={grid[0]}..{grid[-1]:.3g}" if variable == "m" else f"m={fixed:.3g}, n={grid[0]}..{grid[-1]}")
    label = "m" if variable == "m" else "n-2"
    c, fit = check_exponent("N2", f"second/first order (RMS) ∝ ({label})^{expo:+g}, exact", sizes=sizes, values=r,
                            predicted=expo, regime=regime, tolerance=0.02)
    cf, fit_f = check_exponent("N2", f"second/first order (RMS) ∝ ({label})^{expo:+g}, ReLU-free", sizes=sizes,
                               values=rf, predicted=expo, regime=regime, tolerance=0.02)
    scale = np.sqrt((n - 2) / m)
    const, const_f = float(np.mean(r / scale)), float(np.mean(rf / scale))
    checks = (c, cf,
              check_close("N2", "constant: r / sqrt((n-2)/m) = sqrt(3/8), exact", predicted=float(np.sqrt(3 / 8)),
                          measured=const, rtol=0.05, regime=regime),
              check_close("N2", "constant: r / sqrt((n-2)/m) = 1, ReLU-free", predicted=1.0, measured=const_f,
                          rtol=0.05, regime=regime))
    return RatioScan(variable, n, m, sizes, r, rf, fit, fit_f, const, const_f, checks)


M_GRID: tuple[int, ...] = tuple(4**k for k in range(5, 16))   # 1024 .. 4^15 ~ 1.07e9
N_GRID: tuple[int, ...] = (8, 16, 32, 64, 128, 256, 512)
M_FIXED = 2**30                                                  # ~ 1.07e9


@dataclass(frozen=True)
class ConditionalMean:
    """Least-squares slope of the second-order term on ``G_ij`` over all pairs, against the exact
    prediction (:func:`predicted_conditional_mean_slope`), with and without ReLUs."""

    n: int
    m: int
    overlap: np.ndarray
    second: np.ndarray
    second_free: np.ndarray
    slope: float
    slope_free: float


def conditional_mean(n: int = 128, m: int = 1024, *, seed: int = 0, draws: int = 8) -> ConditionalMean:
    """Measure the conditional-mean slope over ``draws`` Gram draws (all pairs ``i < j``)."""
    n, m = v.sizes(n, m)
    iu = np.triu_indices(n, k=1)
    gs, ss, fs = [], [], []
    for k in range(draws):
        G = sample_gram(n, m, seed=seed + k)
        gs.append(G[iu])
        ss.append(numerator_second_order(G, relu=True)[iu])
        fs.append(numerator_second_order(G, relu=False)[iu])
    g, s, f = (np.concatenate(x) for x in (gs, ss, fs))
    return ConditionalMean(n, m, g, s, f, float(g @ s / (g @ g)), float(g @ f / (g @ g)))


def n2_checks(*, seed: int = 0) -> tuple[list[Check], RatioScan, RatioScan, ConditionalMean]:
    """N2: exponents and constants of ``r`` in ``m`` and in ``n``; the conditional mean of the
    second-order term (a relative bias ``(n-2)/(2m)``, smaller than the fluctuation ``r``)."""
    in_m = ratio_scan("m", fixed=64, grid=M_GRID, seed=seed)
    in_n = ratio_scan("n", fixed=M_FIXED, grid=N_GRID, seed=seed)
    cm = conditional_mean(seed=seed)
    regime = f"n={cm.n}, m={cm.m}, all pairs, 8 draws"
    checks = [
        *in_m.checks, *in_n.checks,
        check_close("N2", "E[second | W_i, W_j] = -(n-2) G_ij / m (slope), exact", measured=cm.slope,
                    predicted=predicted_conditional_mean_slope(cm.n, cm.m), rtol=0.1, regime=regime),
        check_close("N2", "E[second | W_i, W_j] = -2(n-2) G_ij / m (slope), ReLU-free", measured=cm.slope_free,
                    predicted=predicted_conditional_mean_slope(cm.n, cm.m, relu=False), rtol=0.1, regime=regime),
    ]
    return checks, in_m, in_n, cm


# --- N3: the relative rate at initialisation ----------------------------------------------------

@dataclass(frozen=True)
class ErrorLaw:
    """Relative error ``eps = |second/first|`` of the first-order relative rate over interfering pairs.

    Prediction: ``eps`` is half-Cauchy with scale ``r = sqrt(3(n-2)/(8m))``: the ratio of the
    second-order term (about Gaussian, independent of ``G_ij``) to ``2 G_ij`` (half-normal).
    """

    n: int
    m: int
    scaled_overlap: np.ndarray   # sqrt(m) G_ij, (P,)
    error: np.ndarray            # eps, (P,)
    scale: float                 # predicted r
    median: float
    ks_distance: float           # Kolmogorov distance between eps / r and the half-Cauchy law
    fraction_above: float        # measured P(eps > TOLERANCE)
    predicted_fraction_above: float


def error_law(n: int = 64, m: int = 16384, *, seed: int = 0, pairs: int = 16000) -> ErrorLaw:
    """Measure :class:`ErrorLaw` over about ``pairs / 2`` interfering pairs at initialisation."""
    p = pooled_pair_terms(n, m, seed=seed, pairs=pairs)
    eps = p.relative_error
    r = predicted_second_order_ratio(n, m)
    ks = float(stats.kstest(eps / r, stats.halfcauchy.cdf).statistic)
    return ErrorLaw(n, m, np.sqrt(m) * p.overlap, eps, r, float(np.median(eps)), ks,
                    float(np.mean(eps > TOLERANCE)), float(half_cauchy_exceedance(TOLERANCE, r)))


@dataclass(frozen=True)
class Breakdown:
    """Median relative error of the first-order rate over interfering pairs, on a grid of ``(n, m)``."""

    n: np.ndarray
    m: np.ndarray
    median_error: np.ndarray
    predicted: np.ndarray          # sqrt(3 (n-2) / (8 m))
    load_at_tolerance: float       # (n-2)/m where the prediction reaches TOLERANCE: 8 TOLERANCE^2 / 3


def breakdown(ns: tuple[int, ...] = (16, 64, 256), ms: tuple[int, ...] = (256, 1024, 4096, 16384, 65536, 2**20),
              *, seed: int = 0, pairs: int = 8000) -> Breakdown:
    """Median relative error against ``(n-2)/m`` over every ``(n, m)`` of the grid with ``m >= n``."""
    rows = [(n, m) for n in ns for m in ms if m >= n]
    med = [float(np.median(pooled_pair_terms(n, m, seed=seed + 97 * k, pairs=pairs).relative_error))
           for k, (n, m) in enumerate(rows)]
    n_arr, m_arr = (np.array(x) for x in zip(*rows))
    pred = np.array([theory.second_order_ratio(int(n), int(m)) for n, m in rows])
    return Breakdown(n_arr, m_arr, np.asarray(med), pred, 8 * TOLERANCE**2 / 3)


def n3_init_checks(law: ErrorLaw, bd: Breakdown) -> list[Check]:
    """N3 at initialisation: median and law of the per-pair error, and the error over the ``(n, m)`` grid."""
    regime = f"n={law.n}, m={law.m}, {law.error.size} interfering pairs"
    se = np.pi / (2 * np.sqrt(law.error.size)) * law.scale  # standard error of the median of a half-Cauchy
    rel = np.abs(bd.median_error / bd.predicted - 1)
    small = (bd.n - 2) / bd.m <= 0.02
    return [
        check_close("N3", "median relative error of the first-order rate = r", predicted=law.scale,
                    measured=law.median, atol=4 * se, regime=regime),
        check_below("N3", "relative error / r follows the half-Cauchy law", measured=law.ks_distance, bound=0.03,
                    regime=regime, quantity="KS distance"),
        check_close("N3", f"fraction of pairs with relative error > {TOLERANCE:g} (half-Cauchy law)",
                    predicted=law.predicted_fraction_above, measured=law.fraction_above, atol=0.03, regime=regime),
        check_below("N3", "median error = sqrt(3(n-2)/(8m)) across the grid where (n-2)/m ≤ 0.02",
                    measured=float(np.max(rel[small])), bound=0.12, regime=f"{int(small.sum())} (n, m) settings",
                    quantity="max rel. deviation"),
    ]


# --- N3: late along the flow ---------------------------------------------------------------------

@dataclass(frozen=True)
class FlowTrack:
    """The first-order prediction along the interference-only flow from one Gram draw.

    ``times`` ``(T,)``; for the tracked pair ``(i, j)`` (the interfering pair of median ``G_ij(0)``):
    ``pair_error``/``pair_error_free`` = ``|second/first|`` with exact / ReLU-free terms,
    ``pair_rate`` the exact relative rate and ``pair_predicted`` = ``-(G_ii + G_jj)``, all ``(T,)``;
    over all interfering pairs: ``median_error``/``median_error_free`` ``(T,)`` and ``collective_rate``
    ``(T,)``, the decay rate of the norm of all interfering overlaps ``-d/dt log ||ReLU(offdiag G)||``.
    """

    n: int
    m: int
    seed: int
    times: np.ndarray
    pair: tuple[int, int]
    grams: np.ndarray
    pair_error: np.ndarray
    pair_error_free: np.ndarray
    pair_rate: np.ndarray
    pair_predicted: np.ndarray
    median_error: np.ndarray
    median_error_free: np.ndarray
    collective_rate: np.ndarray

    @property
    def crossing_time(self) -> float:
        """First time at which the ReLU-free terms exceed the first-order term for the median pair
        (``inf`` if never within the run)."""
        above = np.flatnonzero(self.median_error_free >= 1.0)
        return float(self.times[above[0]]) if above.size else float("inf")

    @property
    def late_relu_free_mean(self) -> float:
        """Mean ReLU-free second-order term over the interfering pairs at the last time."""
        return float(np.mean(pair_terms(self.grams[-1]).second_free))


def _median_pair(G: np.ndarray) -> tuple[int, int]:
    iu = np.triu_indices(G.shape[0], k=1)
    vals = G[iu]
    pos = np.flatnonzero(vals > 0)
    k = pos[np.argsort(vals[pos])[len(pos) // 2]]
    return int(iu[0][k]), int(iu[1][k])


FLOW_RTOL = 1e-11  # the late overlaps are ~1e-7 of their start: with RK45, 1e-9 moved the late errors by 0.6%


@lru_cache(maxsize=32)
def flow_track(n: int, m: int, seed: int, t_end: float = 8.0, points: int = 33, rtol: float = FLOW_RTOL) -> FlowTrack:
    """Simulate the interference-only Gram flow from ``sample_gram(n, m, seed)`` on ``points``
    equally spaced times in ``[0, t_end]`` (relative tolerance ``rtol``) and measure :class:`FlowTrack` (cached)."""
    n, m = v.sizes(n, m)
    times = np.linspace(0.0, v.positive("t_end", t_end), points)
    G0 = sample_gram(n, m, seed=seed)
    Gs = simulate_gram(G0, times, terms=INTERFERENCE, rtol=rtol)
    i, j = _median_pair(G0)
    first = np.array([numerator_first_order(G)[i, j] for G in Gs])
    second = np.array([numerator_second_order(G)[i, j] for G in Gs])
    free = np.array([numerator_second_order(G, relu=False)[i, j] for G in Gs])
    rate = np.array([numerator_rate(G)[i, j] / G[i, j] for G in Gs])
    pred = np.array([-(G[i, i] + G[j, j]) for G in Gs])
    terms = [pair_terms(G) for G in Gs]
    med = np.array([np.median(p.relative_error) for p in terms])
    med_free = np.array([np.median(np.abs(p.second_free / p.first)) for p in terms])
    iu = np.triu_indices(n, k=1)
    log_norm = np.log([np.linalg.norm(np.maximum(G[iu], 0.0)) for G in Gs])
    collective = -np.gradient(log_norm, times)
    with np.errstate(divide="ignore"):
        pair_err = np.where(first != 0, np.abs(second / first), np.inf)
        pair_err_free = np.where(first != 0, np.abs(free / first), np.inf)
    return FlowTrack(n, m, seed, times, (i, j), Gs, pair_err, pair_err_free, rate, pred, med, med_free, collective)


@dataclass(frozen=True)
class LateScan:
    """Median relative error of the first-order rate at time ``t_end`` (late) and at 0, over a grid.

    ``variable`` is ``"n"`` (sizes ``n - 2`` at fixed ``m``) or ``"m"`` (at fixed ``n``).
    """

    variable: str
    n: np.ndarray
    m: np.ndarray
    sizes: np.ndarray
    late_error: np.ndarray
    initial_error: np.ndarray
    predicted_late: np.ndarray
    fit: ExponentFit
    check: Check


def late_scan(variable: str, *, fixed: int, grid: tuple[int, ...], seed: int = 0, t_end: float = 8.0,
              pairs: int = 500) -> LateScan:
    """Median late error (pooled over enough seeds for about ``pairs`` pairs) over ``grid`` of ``variable``;
    fit its exponent (predicted ``+1`` in ``n - 2``, ``-1/2`` in ``m``: :func:`predicted_late_error`)."""
    if variable not in ("m", "n"):
        raise ValueError(f"variable must be 'm' or 'n', got {variable!r}")
    n = np.array([fixed] * len(grid) if variable == "m" else grid)
    m = np.array(grid if variable == "m" else [fixed] * len(grid))
    late, init = [], []
    for a, b in zip(n, m):
        tracks = [flow_track(int(a), int(b), seed + k, t_end, 2) for k in range(seeds_for(int(a), pairs))]
        late.append(float(np.median(np.concatenate([pair_terms(t.grams[-1]).relative_error for t in tracks]))))
        init.append(float(np.median(np.concatenate([pair_terms(t.grams[0]).relative_error for t in tracks]))))
    sizes = (n - 2).astype(float) if variable == "n" else m.astype(float)
    expo = 1.0 if variable == "n" else -0.5
    label = "n-2" if variable == "n" else "m"
    regime = (f"m={fixed}, n={grid[0]}..{grid[-1]}" if variable == "n" else f"n={fixed}, m={grid[0]}..{grid[-1]}")
    check, fit = check_exponent("N3", f"late (t={t_end:g}) median error ∝ ({label})^{expo:+g}", sizes=sizes,
                                values=late, predicted=expo, regime=regime + f", t={t_end:g}", tolerance=0.15)
    pred = np.array([predicted_late_error(int(a), int(b)) for a, b in zip(n, m)])
    return LateScan(variable, n, m, sizes, np.asarray(late), np.asarray(init), pred, fit, check)


def n3_late_checks(track: FlowTrack, in_n: LateScan, in_m: LateScan) -> list[Check]:
    """N3 late in the flow: the error settles instead of growing; its size is (n-2)/(2 sqrt(2 pi m));
    the ReLU-free terms, which do not decay, overtake the first-order term."""
    late = track.times >= track.times[-1] / 2
    regime = f"n={track.n}, m={track.m}, seed={track.seed}, t={track.times[-1] / 2:g}..{track.times[-1]:g}"
    pred_rate = 2.0 - 2.0 * predicted_late_error(track.n, track.m)
    spread = float(np.max(track.median_error[late]) / np.min(track.median_error[late]))
    largest = int(np.argmax(in_n.n))
    return [
        check_below("N3", "the exact median error settles late (max/min over the second half of the run)",
                    measured=spread, bound=1.2, regime=regime, quantity="max/min"),
        check_close("N3", "late median error = (n-2)/(2 sqrt(2 pi m)) at the largest n", measured=float(in_n.late_error[largest]),
                    predicted=float(in_n.predicted_late[largest]), rtol=0.15,
                    regime=f"n={in_n.n[largest]}, m={in_n.m[largest]}"),
        check_close("N3", "collective decay rate of interfering overlaps = 2 - (n-2)/sqrt(2 pi m)",
                    measured=float(track.collective_rate[-1]), predicted=pred_rate, rtol=0.03, regime=regime),
        in_n.check, in_m.check,
        check_below("N3", "the ReLU-free second-order terms overtake the first-order term (1 / median ratio at the end)",
                    measured=float(1.0 / track.median_error_free[-1]), bound=1.0, regime=regime,
                    quantity="1/ratio"),
        check_close("N3", "late ReLU-free second order ≈ -(n-2)/(pi m) (mean over interfering pairs; heuristic)",
                    measured=track.late_relu_free_mean, predicted=predicted_late_relu_free(track.n, track.m),
                    rtol=0.25, regime=regime),
    ]


def n1_numbers(fd: FiniteDifferences, rf: ReluFreeComparison, *, seed: int = 0) -> dict[str, float]:
    """The numbers quoted in the N1 section, as plain floats (for glue)."""
    return {"n1_split": worst_split_error(seed=seed), "n1_fd": float(fd.gram_error[-1]),
            "n1_fd_w": float(fd.weight_error[-1]), "n1_fd_h": float(fd.steps[-1]),
            "n1_diff": rf.difference_ratio, "n1_size": rf.size_ratio, "n1_corr": rf.correlation}


def n2_numbers(in_m: RatioScan, in_n: RatioScan, cm: ConditionalMean) -> dict[str, float]:
    """The numbers quoted in the N2 section, as plain floats (for glue)."""
    out: dict[str, float] = {"n2_mmax": float(in_m.m[-1])}
    for name, scan in (("m", in_m), ("n", in_n)):
        out.update({f"n2_{name}_exp": scan.fit.exponent, f"n2_{name}_lo": scan.fit.low,
                    f"n2_{name}_hi": scan.fit.high, f"n2_{name}_free_exp": scan.fit_free.exponent,
                    f"n2_{name}_const": scan.constant, f"n2_{name}_const_free": scan.constant_free})
    out.update({"n2_slope": cm.slope, "n2_slope_pred": predicted_conditional_mean_slope(cm.n, cm.m),
                "n2_slope_free": cm.slope_free, "n2_bias": (cm.n - 2) / (2 * cm.m),
                "n2_fluct": predicted_second_order_ratio(cm.n, cm.m)})
    return out


def n3_numbers(law: ErrorLaw, bd: Breakdown) -> dict[str, float]:
    """The numbers quoted in the N3 (initialisation) section, as plain floats (for glue)."""
    return {"n3_median": law.median, "n3_r": law.scale, "n3_ks": law.ks_distance,
            "n3_above": law.fraction_above, "n3_above_pred": law.predicted_fraction_above,
            "n3_load_tol": bd.load_at_tolerance}


def late_numbers(track: FlowTrack, in_n: LateScan, in_m: LateScan) -> dict[str, float]:
    """The measured and predicted numbers of the late-flow section, as plain floats (for glue)."""
    pred = predicted_late_error(track.n, track.m)
    return {
        "late_t0": float(track.median_error[0]), "late_end": float(track.median_error[-1]), "late_pred": pred,
        "late_rate": float(track.collective_rate[-1]), "late_rate_pred": 2.0 - 2.0 * pred,
        "late_cross": track.crossing_time, "late_free": track.late_relu_free_mean,
        "late_free_pred": predicted_late_relu_free(track.n, track.m),
        "late_n_exp": in_n.fit.exponent, "late_n_lo": in_n.fit.low, "late_n_hi": in_n.fit.high,
        "late_m_exp": in_m.fit.exponent,
        "late_ratio_small": float(in_n.late_error[0] / in_n.predicted_late[0]),
        "late_ratio_large": float(in_n.late_error[-1] / in_n.predicted_late[-1]),
    }


# --- static figures (matplotlib) ----------------------------------------------------------------

def plot_finite_differences(ax: Axes, fd: FiniteDifferences) -> None:
    """Relative error of central differences against the exact rate, for both flows, against the step."""
    ax.loglog(fd.steps, fd.gram_error, "o-", label="Gram flow (simulate_gram)")
    ax.loglog(fd.steps, fd.weight_error, "x--", ms=8, label="weight flow (simulate)")
    ax.loglog(fd.steps, fd.gram_error[0] * (fd.steps / fd.steps[0]) ** 2, ":", color="k", label="slope 2")
    ax.set_xlabel("finite-difference step $h$")
    ax.set_ylabel("relative error")
    ax.legend(fontsize=8)


def plot_relu_free(ax: Axes, rf: ReluFreeComparison, *, points: int = 3000) -> None:
    """The note's ReLU-free second-order term against the exact one, pair by pair (``y = x`` dashed)."""
    step = max(1, rf.exact.size // points)
    x, y = rf.exact[::step], rf.free[::step]
    ax.plot(x, y, ".", ms=2, alpha=0.5)
    lim = float(np.max(np.abs(np.concatenate([x, y]))))
    ax.plot([-lim, lim], [-lim, lim], "k--", lw=1, label="$y = x$")
    ax.set_xlabel("exact second order (with ReLUs)")
    ax.set_ylabel("ReLU-free second order")
    ax.legend(fontsize=8)


def plot_ratio_scan(ax: Axes, scan: RatioScan) -> None:
    """``r`` (exact and ReLU-free) against the scanned size, with the predicted power laws."""
    ax.loglog(scan.sizes, scan.ratio, "o", label="exact (ReLU)")
    ax.loglog(scan.sizes, scan.ratio_free, "s", mfc="none", label="ReLU-free")
    pred = np.sqrt((scan.n - 2) / scan.m)
    ax.loglog(scan.sizes, np.sqrt(3 / 8) * pred, "k-", lw=1, label=r"$\sqrt{3(n-2)/8m}$")
    ax.loglog(scan.sizes, pred, "k:", lw=1, label=r"$\sqrt{(n-2)/m}$")
    ax.set_xlabel("neurons $m$" if scan.variable == "m" else "third encodings $n-2$")
    ax.set_ylabel("RMS second / RMS first")
    ax.legend(fontsize=7)


def plot_conditional_mean(ax: Axes, cm: ConditionalMean, *, bins: int = 12) -> None:
    """Binned mean of the second-order term against ``sqrt(m) G_ij``, with the exact conditional means."""
    x = cm.overlap * np.sqrt(cm.m)
    edges = np.quantile(x, np.linspace(0.02, 0.98, bins + 1))
    idx = np.digitize(x, edges) - 1
    ok = (idx >= 0) & (idx < bins)
    centre = np.array([x[ok][idx[ok] == b].mean() for b in range(bins)])
    for y, marker, label in ((cm.second, "o", "exact"), (cm.second_free, "s", "ReLU-free")):
        mean = np.array([y[ok][idx[ok] == b].mean() for b in range(bins)])
        ax.plot(centre, mean * cm.m**1.5 / (cm.n - 2), marker, mfc="none" if marker == "s" else None, label=label)
    grid = np.linspace(edges[0], edges[-1], 10)
    ax.plot(grid, -grid, "k-", lw=1, label="$-(n-2)G_{ij}/m$")
    ax.plot(grid, -2 * grid, "k:", lw=1, label="$-2(n-2)G_{ij}/m$")
    ax.set_xlabel(r"$\sqrt{m}\,G_{ij}$")
    ax.set_ylabel(r"mean second order $\times\, m^{3/2}/(n-2)$")
    ax.legend(fontsize=7)


def plot_error_law(axes: tuple[Axes, Axes], law: ErrorLaw) -> None:
    """Left: per-pair relative error against ``sqrt(m) G_ij`` with its predicted RMS ``r / (sqrt(m) G_ij)``.
    Right: the fraction of pairs above each error level, measured and half-Cauchy."""
    left, right = axes
    left.loglog(law.scaled_overlap, law.error, ".", ms=2, alpha=0.4, label="pairs")
    g = np.geomspace(law.scaled_overlap.min(), law.scaled_overlap.max(), 50)
    left.loglog(g, law.scale / g, "k-", lw=1, label=r"$r/(\sqrt{m}\,G_{ij})$")
    left.axhline(TOLERANCE, color="r", ls=":", label=f"{TOLERANCE:.0%}")
    left.set_xlabel(r"$\sqrt{m}\,G_{ij}$")
    left.set_ylabel(r"relative error $|\varepsilon_{ij}|$")
    left.legend(fontsize=7)
    x = np.geomspace(law.scale / 100, law.scale * 100, 60)
    right.loglog(x / law.scale, [np.mean(law.error > a) for a in x], "o", ms=3, label="measured")
    right.loglog(x / law.scale, half_cauchy_exceedance(x, law.scale), "k-", lw=1, label="half-Cauchy")
    right.set_xlabel(r"error level $x / r$")
    right.set_ylabel(r"fraction with $|\varepsilon_{ij}| > x$")
    right.legend(fontsize=7)


def plot_breakdown(ax: Axes, bd: Breakdown) -> None:
    """Median relative error against ``(n-2)/m`` for every ``(n, m)``, with the prediction and the 10% line."""
    load = (bd.n - 2) / bd.m
    for n in np.unique(bd.n):
        sel = bd.n == n
        ax.loglog(load[sel], bd.median_error[sel], "o", label=f"n = {n}")
    grid = np.geomspace(load.min(), load.max(), 50)
    ax.loglog(grid, np.sqrt(3 * grid / 8), "k-", lw=1, label=r"$\sqrt{3(n-2)/8m}$")
    ax.axhline(TOLERANCE, color="r", ls=":", label=f"{TOLERANCE:.0%}")
    ax.axvline(bd.load_at_tolerance, color="r", ls="--", lw=1)
    ax.set_xlabel("$(n-2)/m$")
    ax.set_ylabel("median relative error")
    ax.legend(fontsize=7)


def plot_flow_track(ax: Axes, track: FlowTrack) -> None:
    """``|second|/|first|`` along the flow: tracked pair and median pair, exact and ReLU-free."""
    ax.semilogy(track.times, track.pair_error, "-", color="C0", label=f"exact, pair {track.pair}")
    ax.semilogy(track.times, track.median_error, "--", color="C0", label="exact, median over pairs")
    ax.semilogy(track.times, track.pair_error_free, "-", color="C3", label="ReLU-free, same pair")
    ax.semilogy(track.times, track.median_error_free, "--", color="C3", label="ReLU-free, median")
    ax.axhline(predicted_second_order_ratio(track.n, track.m), color="k", ls=":", lw=1, label="$r$ (t = 0)")
    ax.axhline(predicted_late_error(track.n, track.m), color="k", ls="-.", lw=1, label=r"$(n-2)/2\sqrt{2\pi m}$")
    ax.axhline(1.0, color="grey", lw=0.5)
    ax.set_xlabel("time $t$")
    ax.set_ylabel("|second| / |first|")
    ax.legend(fontsize=7, loc="upper left", ncol=2)


def plot_late_scan(ax: Axes, scan: LateScan) -> None:
    """Median error at initialisation and late, against the scanned size, with both predictions."""
    ax.loglog(scan.sizes, scan.late_error, "o", label="late (t = 8)")
    ax.loglog(scan.sizes, scan.predicted_late, "k-", lw=1, label=r"$(n-2)/2\sqrt{2\pi m}$")
    ax.loglog(scan.sizes, scan.initial_error, "s", mfc="none", label="t = 0")
    ax.loglog(scan.sizes, np.sqrt(3 * (scan.n - 2) / (8 * scan.m)), "k:", lw=1, label=r"$\sqrt{3(n-2)/8m}$")
    ax.set_xlabel("third encodings $n-2$" if scan.variable == "n" else "neurons $m$")
    ax.set_ylabel("median relative error")
    ax.legend(fontsize=7)


# --- widgets ---------------------------------------------------------------------------------------

MAX_POINTS = 400  # points per scatter in a widget panel (keeps each SVG a few tens of kB)


@lru_cache(maxsize=128)
def _init_terms(n: int, m: int, seed: int) -> PairTerms:
    return pair_terms(sample_gram(n, m, seed=seed))


def _thin(*arrays: np.ndarray) -> list[np.ndarray]:
    step = max(1, int(np.ceil(arrays[0].size / MAX_POINTS)))
    return [a[::step] for a in arrays]


def initial_panel(n: int, m: int, seed: int) -> Panel:
    """Widget panel for N3 at initialisation: exact against first-order rate per interfering pair,
    and the per-pair relative error against ``sqrt(m) G_ij`` with its predicted size."""
    p = _init_terms(n, m, seed)
    r = predicted_second_order_ratio(n, m)
    eps = p.relative_error
    regime = f"n={n}, m={m}, seed={seed}, {eps.size} interfering pairs"
    se = np.pi / (2 * np.sqrt(max(eps.size, 1))) * r
    checks = [
        check_close("N3", "median relative error = sqrt(3(n-2)/(8m))", predicted=r, measured=float(np.median(eps)),
                    atol=4 * se, rtol=(n - 2) / m, regime=regime),
        check_below("N3", f"first order within {TOLERANCE:.0%} for the median pair", measured=float(np.median(eps)),
                    bound=TOLERANCE, regime=regime, quantity="median rel. error"),
    ]
    scale = np.sqrt(m)
    first, rate, g, e = _thin(p.first * scale, p.rate * scale, p.overlap * scale, eps)
    lo, hi = float(min(first.min(), rate.min())), float(max(first.max(), rate.max(), 0.0))
    grid = np.geomspace(max(float(g.min()), 1e-3), float(g.max()), 30)
    plot = svgplot.svg([
        svgplot.Axes([svgplot.Series(first, rate, kind="points"),
                      svgplot.Series([lo, hi], [lo, hi], label="y = x (first order exact)", color="#000", dashed=True)],
                     xlabel="first-order rate × sqrt(m)", ylabel="exact rate × sqrt(m)"),
        svgplot.Axes([svgplot.Series(g, e, kind="points"),
                      svgplot.Series(grid, r / grid, label="predicted r/(sqrt(m) G_ij)", color="#000", dashed=True)],
                     xlabel="sqrt(m) G_ij", ylabel="relative error", xlog=True, ylog=True,
                     hlines=[(TOLERANCE, "10%")]),
    ], width=720, height=250)
    return Panel(checks, plot)


def initial_explorable() -> Explorable:
    """Widget: sizes and seed against the first-order rate at initialisation (N3)."""
    return Explorable(initial_panel, [
        Control("n", "features n", (8, 32, 128), 32, kind="size", low=4, high=256),
        Control("m", "neurons m", (256, 1024, 4096, 16384), 4096, kind="size", low=256, high=2**20),
        Control("seed", "seed", (0, 1), 0, low=0, high=99),
    ], title="First-order rate of W_i·W_j at initialisation: predicted against exact")


def flow_panel(t: float, n: int, m: int, seed: int = 0) -> Panel:
    """Widget panel for N3 along the flow: the error of the first-order rate up to time ``t``."""
    track = flow_track(n, m, seed)
    k = int(np.argmin(np.abs(track.times - t)))
    p = pair_terms(track.grams[k])
    regime = f"n={n}, m={m}, seed={seed}, t={track.times[k]:g}"
    expected = predicted_second_order_ratio(n, m) if track.times[k] == 0 else predicted_late_error(n, m)
    checks = [
        check_below("N3", f"first order within {TOLERANCE:.0%} for the median pair",
                    measured=float(track.median_error[k]), bound=TOLERANCE, regime=regime,
                    quantity="median rel. error"),
        check_below("N3", "the note's ReLU-free terms stay below the first-order term (median pair)",
                    measured=float(track.median_error_free[k]), bound=1.0, regime=regime, quantity="median ratio"),
    ]
    note = (f"Predicted median error: {expected:.3g} "
            f"({'sqrt(3(n-2)/(8m)) at t = 0' if track.times[k] == 0 else 'late-time (n-2)/(2 sqrt(2 pi m))'}).")
    times = track.times
    plot = svgplot.svg([
        svgplot.Axes([svgplot.Series(times, track.median_error, label="exact (median pair)"),
                      svgplot.Series(times, track.median_error_free, label="ReLU-free (median pair)"),
                      svgplot.Series(times, track.pair_error, label=f"exact, pair {track.pair}", dashed=True)],
                     xlabel="time t", ylabel="|second| / |first|", ylog=True,
                     hlines=[(predicted_late_error(n, m), "late prediction"), (1.0, "")],
                     vlines=[(float(times[k]), "")]),
        svgplot.Axes([svgplot.Series(*svgplot.histogram(p.relative_rate, 30), kind="steps",
                                     label="exact relative rate")],
                     xlabel=f"(dG_ij/dt)/G_ij at t={times[k]:g}", ylabel="density",
                     vlines=[(-2.0, "first order ≈ -2"),
                             (-(2 - 2 * predicted_late_error(n, m)), "late: -(2 - (n-2)/sqrt(2πm))")]),
    ], width=720, height=250)
    return Panel(checks, plot, note)


def flow_explorable() -> Explorable:
    """Widget: time along the interference flow, and sizes, against the first-order rate (N3)."""
    return Explorable(flow_panel, [
        Control("t", "time t", (0.0, 0.5, 1.0, 2.0, 4.0, 8.0), 1.0, kind="float", low=0.0, high=8.0, step=0.25),
        Control("n", "features n", (16, 64), 16, kind="size", low=4, high=64),
        Control("m", "neurons m", (1024, 16384), 1024, kind="size", low=1024, high=2**16),
    ], title="First-order rate along the interference flow")


def explorables() -> dict[str, Explorable]:
    """Fresh explorables of this chapter, by name."""
    return {"initial": initial_explorable(), "flow": flow_explorable()}
