"""Constants derived in the book (the predictions that several chapters compare against) and the statistics
of the push compared with them.

Each function is the one home of a formula that more than one chapter uses; the derivation
is in its docstring and, in full, in the chapter named there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from . import _validate as v

if TYPE_CHECKING:  # (runs is not imported at run time: theory stays free of the simulations)
    from .runs import PhaseRun


def second_order_ratio(n: int, m: int, *, relu: bool = True) -> float:
    """Predicted ``RMS(second order) / RMS(first order)`` of the numerator's rate over interfering
    pairs at initialisation (chapter *Numerator*, claim N2); a float.

    With ``X = G_ik``, ``Y = G_jk`` about independent ``N(0, 1/m)``:
    ``E[(ReLU(X) Y + ReLU(Y) X)^2] = 3/(2 m^2)`` (exact terms) and ``E[(2XY)^2] = 4/m^2``
    (ReLU-free terms), summed over the ``n - 2`` third encodings; the first-order term is about
    ``-2 G_ij`` with ``E[G_ij^2 | G_ij > 0] = 1/m``. Hence ``sqrt(3 (n-2) / (8 m))`` with ReLUs,
    ``sqrt((n-2) / m)`` without. Leading order in ``n/m``.
    """
    n, m = v.sizes(n, m)
    return float(np.sqrt((3.0 if relu else 8.0) * (n - 2) / (8.0 * m)))


def second_order_mean_slope(n: int, m: int, *, relu: bool = True) -> float:
    """Exact slope ``c`` of ``E[second order_ij | W_i, W_j] = c G_ij`` at initialisation (a float).

    Given ``W_i, W_j``, each ``(G_ik, G_jk)`` is a centred Gaussian pair with covariance
    ``G_ij / m``, and ``E[ReLU(X) Y] = Cov(X, Y)/2`` for such a pair. So ``c = -(n-2)/m``
    with ReLUs and ``c = -2 (n-2)/m`` without (chapters *Numerator* and *Combined rate*).
    """
    n, m = v.sizes(n, m)
    return -(1.0 if relu else 2.0) * (n - 2) / m


def drift_strength(n: int, m: int) -> float:
    """``x = (n - 2) / sqrt(2 pi m)``: the push the negative overlaps give an interfering pair,
    relative to its own size (dimensionless; chapters *Numerator* and *Combined rate*).

    Each of the ``n - 2`` third encodings ``k`` pushes ``W_i . W_j`` up at rate
    ``ReLU(W_i . W_k) ReLU(-W_j . W_k)`` (and the same with ``i, j`` swapped), of mean
    ``1/(2 pi m)`` each: ``(n - 2)/(pi m)`` in all. Divided by the mean interfering overlap
    ``E[W_i . W_j | W_i . W_j > 0] = sqrt(2/(pi m))`` this is ``x``. Late in the flow the
    interfering overlaps decay together at rate ``2 - x`` instead of 2.
    """
    n, m = v.sizes(n, m)
    return float(crowding(n, m))


def crowding(n: np.ndarray | float, m: np.ndarray | float) -> np.ndarray:
    """The crowding ``nu = (n - 2) / sqrt(2 pi m)`` (:func:`drift_strength`) at arrays of sizes, unchecked:
    an array of the broadcast shape of ``n`` and ``m``."""
    return (np.asarray(n, dtype=float) - 2) / np.sqrt(2 * np.pi * np.asarray(m, dtype=float))


def crowding_limit(m: float, nu: float) -> float:
    """The number of features at which the crowding :func:`crowding` reaches ``nu`` at ``m`` neurons:
    ``2 + nu sqrt(2 pi m)`` (a float)."""
    return float(2 + nu * np.sqrt(2 * np.pi * m))


# === numerator (chapter 2): add formulas here ===


def relu_free_ratios() -> dict[str, float]:
    """How the note's ReLU-free second-order terms compare with the exact ones at initialisation
    (chapter *Numerator*, claim N1), over interfering pairs, to leading order in ``n/m``.

    With ``X = G_ik``, ``Y = G_jk`` independent ``N(0, s^2)``, the exact term is
    ``T = ReLU(X) Y + ReLU(Y) X`` and the ReLU-free one ``2XY``: ``E[T^2] = 3 s^4/2``,
    ``E[(2XY)^2] = 4 s^4``, ``E[2XY T] = 2 s^4``, and ``2XY - T`` has the law of ``T``. Summed over
    the independent third encodings: ``RMS(free - exact)/RMS(exact) = 1`` (``"difference"``),
    ``RMS(free)/RMS(exact) = sqrt(8/3)`` (``"size"``) and correlation ``sqrt(2/3)`` (``"correlation"``).
    """
    return {"difference": 1.0, "size": float(np.sqrt(8 / 3)), "correlation": float(np.sqrt(2 / 3))}


def second_order_mean_bias(n: int, m: int) -> float:
    """Systematic relative correction of the first-order rate at initialisation, ``(n-2)/(2m)``
    (a float): the exact conditional mean ``-(n-2) G_ij / m`` of the second-order terms
    (:func:`second_order_mean_slope`) over the first-order term ``-2 G_ij``."""
    return -second_order_mean_slope(n, m) / 2


def half_cauchy_exceedance(x: np.ndarray | float, scale: float) -> np.ndarray | float:
    """``P(|eps| > x) = 1 - (2/pi) arctan(x / scale)`` for a half-Cauchy ``|eps|`` of ``scale``.

    The law of the per-pair relative error of the first-order rate at initialisation
    (chapter *Numerator*, claim N3): ``|eps| = |S_ij / F_ij|`` with ``S_ij`` about Gaussian and
    ``F_ij ~ -2 G_ij`` half-normal, independent, so ``|eps| ~ r |Z| / |U|`` with
    ``r`` = :func:`second_order_ratio`. Its median is ``scale``; its tail ``2 scale / (pi x)``.
    """
    scale = v.positive("scale", scale)
    return 1.0 - 2.0 / np.pi * np.arctan(np.asarray(x, dtype=float) / scale)


def half_cauchy_median_se(scale: float, count: int) -> float:
    """Standard error of the median of ``count`` half-Cauchy draws of ``scale``: ``pi scale / (2 sqrt(count))``
    (the density at the median is ``1 / (pi scale)``)."""
    scale, count = v.positive("scale", scale), v.size("count", count, minimum=1)
    return float(np.pi * scale / (2 * np.sqrt(count)))


def load_at_median_error(tolerance: float) -> float:
    """The load ``(n-2)/m`` at which the median relative error ``sqrt(3 (n-2) / (8 m))`` of the
    first-order rate (:func:`second_order_ratio`) reaches ``tolerance``: ``8 tolerance^2 / 3``."""
    tolerance = v.positive("tolerance", tolerance)
    return 8.0 * tolerance**2 / 3.0


def late_first_order_error(n: int, m: int) -> float:
    """Relative error of the first-order rate late in the interference-only flow,
    ``(n-2) / (2 sqrt(2 pi m))`` (a float; chapter *Numerator*, claim N3 b).

    Late on, the interfering overlaps are small and decay together, while the non-interfering
    ones are frozen near their initial values. A third encoding ``k`` for which exactly one of
    ``G_ik``, ``G_jk`` interferes couples the pair to it through the other, negative, overlap: a
    non-negative matrix whose rows sum to about :func:`drift_strength` ``x``. Its Perron root
    slows the common decay from ``2`` to ``2 - x`` (:func:`late_collective_rate`), a relative
    error of ``x / 2``. This is ``Theta(n / sqrt(m))``, more than the initial ``Theta(sqrt(n/m))``.
    """
    return drift_strength(n, m) / 2


def late_collective_rate(n: int, m: int) -> float:
    """Late decay rate of the interfering overlaps under interference alone, ``2 - (n-2)/sqrt(2 pi m)``
    (a float): see :func:`late_first_order_error`."""
    return 2.0 - drift_strength(n, m)


def late_relu_free_second_order(n: int, m: int) -> float:
    """Late value of the note's ReLU-free second-order term of an interfering pair, ``-(n-2)/(pi m)``.

    Once the interfering overlaps have decayed, only the ``k`` with both ``G_ik < 0`` and
    ``G_jk < 0`` are left in ``-2 sum_k G_ik G_jk``; each product is positive with mean
    ``E[X; X < 0]^2 = 1/(2 pi m)``, so the sum is about ``-(n-2)/(pi m)`` and does not decay
    (the exact terms each carry a factor ``ReLU(G_ik)`` or ``ReLU(G_jk)``, so they do).
    """
    n, m = v.sizes(n, m)
    return -(n - 2) / (np.pi * m)


# === denominator (chapter 3): add formulas here ===


def interference_rate_sd(n: int, m: int) -> float:
    """Exact standard deviation of ``rho_i`` (interference's relative rate of ``||W_i||^2``) at
    initialisation: ``sqrt(5 (n-1)) / m`` (chapter *Denominator*, claim D2).

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
    """Exact CDF ``P(rho_i <= x)`` of interference's relative rate of ``||W_i||^2`` at initialisation.

    Given ``W_i``, the ``z_j = sqrt(m) G_ij / ||W_i||`` (``j != i``) are i.i.d. ``N(0, 1)`` whatever
    ``W_i`` is, and ``rho_i = -(2/m) sum_j ReLU(z_j)^2``. Each ``ReLU(z)^2`` is 0 or ``chi2_1``
    with probability 1/2, so ``-(m/2) rho_i ~ chi2_K`` with ``K ~ Binomial(n-1, 1/2)``,
    independent of ``||W_i||``, at every ``m >= n``.
    """
    from scipy import stats

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
    from scipy import stats

    n, m = v.sizes(n, m)
    y = -0.5 * m * np.asarray(x, dtype=float)
    k = np.arange(1, n)
    weights = stats.binom.pmf(k, n - 1, 0.5)
    dens = stats.chi2.pdf(np.maximum(y[..., None], 1e-300), k) * (y[..., None] > 0)
    return 0.5 * m * np.sum(weights * dens, axis=-1)


RELU_SQ_KURTOSIS = 39.5625 / 1.5625
"""Kurtosis of ``ReLU(z)^2``, ``z ~ N(0,1)``: central moments ``mu2 = 5/4``, ``mu4 = 633/16`` (from
``E ReLU(z)^{2k} = (2k-1)!!/2``)."""


def sd_relative_se(n: int, samples: int) -> float:
    """Relative standard error of the sample sd of ``samples`` independent copies of ``rho_i``.

    ``sqrt((kurtosis - 1) / (4 samples))``, with the kurtosis of a sum of ``n - 1`` i.i.d.
    ``ReLU(z)^2``: ``3 + (RELU_SQ_KURTOSIS - 3)/(n - 1)``.
    """
    n, samples = v.size("n", n), v.size("samples", samples)
    kurtosis = 3.0 + (RELU_SQ_KURTOSIS - 3.0) / (n - 1)
    return float(np.sqrt((kurtosis - 1.0) / (4.0 * samples)))


def expected_pair_norm_correction(n: int, m: int) -> float:
    """``E[-(rho_i + rho_j)/2 | G_ij > 0] = n/m`` exactly at initialisation.

    The lengths' part of ``d ln kappa_ij/dt`` for a pair that interferes. Conditioning on
    ``G_ij > 0`` makes the term ``j`` of ``rho_i`` a ``chi2_1`` (mean 1 instead of 1/2), so
    ``E[rho_i | G_ij > 0] = -(2/m)(1 + (n-2)/2) = -n/m``, one ``1/m`` more than unconditionally.
    """
    n, m = v.sizes(n, m)
    return n / m


def regularization_norm_share_mean(m: int, lam: float) -> float:
    """Mean of the L1 force's share of ``d||W_i||^2/dt``, ``-2 lam ||W_i||_1``, at initialisation:
    ``-2 lam sqrt(2m/pi)`` (``E|W_ik| = sqrt(2/(pi m))``)."""
    m, lam = v.size("m", m), v.lam(lam)
    return float(-2.0 * lam * np.sqrt(2.0 * m / np.pi))


def regularization_norm_share_se(n: int, lam: float) -> float:
    """Standard error of the mean over ``n`` encodings of ``-2 lam ||W_i||_1`` at initialisation:
    ``2 lam sqrt((1 - 2/pi) / n)``, whatever ``m`` (``Var|W_ik| = (1 - 2/pi)/m`` and ``||W_i||_1`` sums
    ``m`` of them)."""
    n = v.size("n", n)
    return float(2.0 * v.lam(lam) * np.sqrt((1.0 - 2.0 / np.pi) / n))


def feature_benefit_rate_rms(m: int) -> float:
    """Exact RMS of ``phi_i = 2(1 - a_i)`` at initialisation: ``2 sqrt(2/m)`` (``a_i ~ chi2_m / m``)."""
    m = v.size("m", m)
    return float(2.0 * np.sqrt(2.0 / m))


def share_ratio(n: int, m: int) -> float:
    """Predicted ``RMS(phi_i) / |E rho_i| = 2 sqrt(2m) / (n-1)``: above 1 feature benefit dominates
    the rate of the lengths (chapter *Denominator*, finding D3)."""
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
    from scipy import stats

    n, m = v.sizes(n, m)
    nodes = v.size("nodes", nodes, minimum=1)
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


def expected_norm_change(n: int, m: int, times: np.ndarray | float) -> np.ndarray:
    """Leading-order mean of ``ln(a_i(t)/a_i(0))`` under interference alone: ``-(n-1)/(4m) (1 - e^{-4t})``.

    The mean of :func:`incidental.derivation.first_order_norm_change` with ``a_i ~ 1``: each pair
    contributes ``ReLU(G_ij(0))^2 / 2``, of mean ``1/(4m)``.
    """
    n, m = v.sizes(n, m)
    t = np.asarray(times, dtype=float)
    return -(n - 1) / (4.0 * m) * (1.0 - np.exp(-4.0 * t))


def feature_benefit_norm_change_rms(m: int, times: np.ndarray | float) -> np.ndarray:
    """Leading-order RMS of ``ln(a_i(t)/a_i(0))`` under feature benefit: ``sqrt(2/m) (1 - e^{-2t})``.

    From the logistic solution ``a(t) = a_0 / (a_0 + (1 - a_0) e^{-2t})``,
    ``ln(a/a_0) ~ (1 - a_0)(1 - e^{-2t})`` and ``sd(a_0) = sqrt(2/m)``.
    """
    m = v.size("m", m)
    t = np.asarray(times, dtype=float)
    return np.sqrt(2.0 / m) * (1.0 - np.exp(-2.0 * t))


# === combined rate (chapter 4): add formulas here ===


def third_encoding_norm_loss(n: int, m: int) -> float:
    """Exact mean of the norm loss to third encodings in the cosine's relative rate, ``(n - 2)/m``.

    ``D_ij = sum_{k != i,j} [ReLU(G_ik)^2 / a + ReLU(G_jk)^2 / b]`` (chapter *Combined rate*): given
    ``W_i``, each ``G_ik`` is ``N(0, a/m)``, so ``E[ReLU(G_ik)^2] / a = 1/(2m)``, twice per ``k``.
    It cancels the mean :func:`second_order_mean_slope` of the dropped numerator terms.
    """
    n, m = v.sizes(n, m)
    return (n - 2) / m


def pair_spread(n: int, m: int) -> float:
    """``sqrt(3 (n - 2) / (2 m))``: spread of the second-order numerator terms of one pair, relative to
    a typical overlap ``1/sqrt(m)`` (chapter *Combined rate*); twice :func:`second_order_ratio`, which
    compares them with the first-order term, about twice the overlap. A float."""
    return 2.0 * second_order_ratio(n, m)


def drift_profile(t: np.ndarray | float) -> np.ndarray:
    """``f(t) = t - (1 - e^{-2t})/2``: the shape in time of the interfering pairs' drift from the note.

    The push of the negative overlaps decays like the pair itself (``e^{-2t}``), so relative to the
    note it accumulates linearly; the drag of the positive overlaps decays twice as fast and
    saturates. The population's log-deviation from ``kappa(0) e^{-int(a+b)}`` is about
    ``x f(t)`` with ``x`` = :func:`drift_strength` (chapter *Combined rate*). Same shape as ``t``.
    """
    t = np.asarray(t, dtype=float)
    return t - 0.5 * (1.0 - np.exp(-2.0 * t))


def breakdown_time(x: float, level: float = 0.1) -> float:
    """The time ``t*`` at which the drift model ``x f(t*) = ln(1 + level)`` puts the population
    ``level`` off the note's exponential (a float; ``inf`` if ``x = 0``).

    For ``x << 1``, ``t* ~ 1/2 + ln(1 + level)/x``; for ``x >~ 1``, ``t* ~ sqrt(ln(1 + level)/x)``.
    """
    from scipy.optimize import brentq

    if not np.isfinite(x) or x < 0:
        raise ValueError(f"x must be finite and non-negative, got {x}")
    if not np.isfinite(level) or level <= 0:
        raise ValueError(f"level must be positive, got {level}")
    if x == 0:
        return float("inf")
    target = float(np.log1p(level))
    return float(
        brentq(lambda s: x * float(drift_profile(s)) - target, 0.0, 10.0 + 10.0 * target / x, xtol=1e-14, rtol=1e-14)
    )


# === total push (chapter 5): add formulas here ===


def push_shift(n: int, m: int) -> float:
    """Mean extra push ``(n - 2) / (8 pi m)`` that the ``n - 2`` third encodings add to an interfering
    pair's total push ``P_ij`` (a float; chapter *Total push*, claim T1).

    To first order, third encodings raise ``d(W_i . W_j)/dt`` on average by
    ``(n - 2)(e^{-2t} - e^{-4t}) / (pi m)`` (positive overlaps decay like ``e^{-2t}``, negative ones
    stay), and ``P_ij`` gains half the time integral of that: ``(n - 2)/(2 pi m) (1/2 - 1/4)``.
    """
    n, m = v.sizes(n, m)
    return (n - 2) / (8 * np.pi * m)


def expected_push(n: int, m: int) -> float:
    """``E[P_ij | G_ij(0) > 0] = 1/sqrt(2 pi m) + (n - 2)/(8 pi m)``: half of
    ``E[G_ij | G_ij > 0] = sqrt(2/(pi m))``, plus :func:`push_shift` (a float)."""
    n, m = v.sizes(n, m)
    return float(1 / np.sqrt(2 * np.pi * m) + push_shift(n, m))


def push_slope_prediction(n: int, m: int) -> float:
    """Least-squares slope (through 0) of ``P_ij`` on the Gram-Schmidt coefficient ``c_ij`` over the
    interfering pairs: ``1/2 + sqrt(2/pi) (n - 2) / (8 pi sqrt(m))`` (a float).

    Half a Gram-Schmidt step, plus :func:`push_shift` times ``E[c | c > 0] / E[c^2 | c > 0]``.
    """
    n, m = v.sizes(n, m)
    return float(0.5 + np.sqrt(2 / np.pi) * (n - 2) / (8 * np.pi * np.sqrt(m)))


def loss_lift(n: int, m: int) -> float:
    """``1 + (n - 2) / (3 pi sqrt(2 pi m))``: how much third encodings raise the mean per-pair loss of
    squared norm above its two-encoding value (a float; a pair's loss gains ``G_ij (n-2)/(12 pi m)``)."""
    n, m = v.sizes(n, m)
    return float(1 + (n - 2) / (3 * np.pi * np.sqrt(2 * np.pi * m)))


def expected_pair_loss(n: int, m: int) -> float:
    """``E[L_ij | G_ij(0) > 0] = loss_lift / (2 m)``: the mean loss of ``||W_i||^2`` caused by one
    interfering encoding over the interference phase (``G_ij^2 / 2`` with ``E[G_ij^2 | G_ij > 0] = 1/m``,
    half the Gram-Schmidt loss, times :func:`loss_lift`; a float)."""
    n, m = v.sizes(n, m)
    return loss_lift(n, m) / (2 * m)


def expected_norm_drop(n: int, m: int) -> float:
    """``E[||W_i(0)||^2 - ||W_i(end)||^2] = (n - 1)/(4 m) loss_lift`` under interference alone: half of
    the ``n - 1`` other encodings interfere, each costing :func:`expected_pair_loss` (a float)."""
    n, m = v.sizes(n, m)
    return (n - 1) / 2 * expected_pair_loss(n, m)


def expected_displacement(n: int, m: int) -> float:
    """RMS of ``|W_i(end) - W_i(0)| / |W_i(0)|`` over the interference phase:
    ``sqrt((n - 1)/(8 m) (1 + (n - 2)/(pi sqrt(2 pi m))))`` (a float).

    ``W_i`` moves by about ``sum_j P_ij W_j(0)`` over nearly orthogonal ``W_j``, so its squared
    displacement is ``(n - 1) E[P^2]`` with ``E[P^2]`` over all ordered pairs (half interfere).
    """
    n, m = v.sizes(n, m)
    return float(np.sqrt((n - 1) / (8 * m) * (1 + (n - 2) / (np.pi * np.sqrt(2 * np.pi * m)))))


def negative_lift(n: int, m: int) -> float:
    """``(n - 2) / (4 pi sqrt(m))``: how far third encodings lift a negative overlap ``sqrt(m) kappa_ij``
    over the interference phase (a float; the whole integral of the mean rise in :func:`push_shift`,
    which nothing opposes when ``W_i . W_j < 0``)."""
    n, m = v.sizes(n, m)
    return float((n - 2) / (4 * np.pi * np.sqrt(m)))


def atom_prediction(n: int, m: int) -> float:
    """Fraction of pairs with ``kappa_ij = 0`` at the end of the interference phase:
    ``1/2 + phi(0) negative_lift`` (the positive half, plus the negative overlaps lifted past 0; a float)."""
    n, m = v.sizes(n, m)
    return float(0.5 + negative_lift(n, m) / np.sqrt(2 * np.pi))


def end_mean_prediction(n: int, m: int) -> float:
    """Mean of ``sqrt(m) kappa_ij`` at the end of the interference phase: ``-1/sqrt(2 pi) + negative_lift/2``
    (``E[min(x + d, 0)]`` for ``x ~ N(0, 1)`` to first order in the lift ``d``; a float)."""
    n, m = v.sizes(n, m)
    return float(-1 / np.sqrt(2 * np.pi) + negative_lift(n, m) / 2)


def end_cdf(x: np.ndarray, n: int, m: int) -> np.ndarray:
    """The push picture's law of ``sqrt(m) kappa_ij`` at the end of the interference phase, as a
    distribution function (same shape as ``x``): ``Phi(x - d)`` below 0, 1 from 0 on (``d`` =
    :func:`negative_lift`): every positive overlap is pushed to 0, every negative one lifted by ``d``."""
    from scipy.special import ndtr

    d = negative_lift(n, m)
    x = np.asarray(x, dtype=float)
    return np.where(x < 0, ndtr(x - d), 1.0)


def end_negative_survival(y: np.ndarray, n: int, m: int) -> np.ndarray:
    """``P(-sqrt(m) kappa > y | kappa < 0)`` for ``y >= 0`` at the end of the interference phase under the
    push picture: ``(1 - Phi(y + d)) / (1 - Phi(d))`` (the initial half-normal, lifted by ``d`` =
    :func:`negative_lift`); same shape as ``y``."""
    from scipy.special import ndtr

    d = negative_lift(n, m)
    y = np.asarray(y, dtype=float)
    return ndtr(-(y + d)) / ndtr(-d)


def push_statistics(runs: Sequence[PhaseRun]) -> dict[str, float]:
    """Statistics of the push over the interfering ordered pairs of simulated phases, pooled (chapter *Total push*).

    ``runs``: :class:`incidental.runs.PhaseRun` s (``G0``, ``push``, ``L[-1]`` each ``(n, n)``, ``norm_drop`` ``(n,)``).
    Floats: ``mean_push`` ``E[P_ij]``; ``slope`` of ``P`` on the Gram-Schmidt coefficient ``c`` (least squares
    through 0); ``shift`` ``E[P_ij - pair prediction]`` and ``spread`` the RMS around it; ``mean_loss`` ``E[L_ij]``;
    ``mean_gs_loss`` ``E[G_ij^2 / G_jj]``; ``mean_drop`` ``E_i[drop of ||W_i||^2]``; ``pair_drop``
    ``E_i[sum_j pair loss]`` (the drop if pairs did not interact); ``convergence`` the largest relative move of
    ``P`` over the last quarter of a run; ``shift_units`` and ``spread_units``, the shift and the spread in their
    derived units ``(n-2)/m`` and ``sqrt(n-2)/m`` (only for ``n > 2``; the runs of a pool share ``n`` and ``m``).
    """
    from . import derivation  # (derivation imports this module)

    push, coefficient, extra, loss, gs_loss, drop, pair_drop = ([] for _ in range(7))
    for run in runs:
        mask = run.interfering
        push.append(run.push[mask])
        coefficient.append(derivation.gram_schmidt_coefficient(run.G0)[mask])
        extra.append((run.push - derivation.pair_push_prediction(run.G0))[mask])
        loss.append(run.L[-1][mask])
        gs_loss.append(derivation.gram_schmidt_norm_loss(run.G0)[mask])
        drop.append(run.norm_drop)
        pair_drop.append(derivation.pair_loss_prediction(run.G0).sum(axis=1))
    push, coefficient, extra, loss, gs_loss = (np.concatenate(x) for x in (push, coefficient, extra, loss, gs_loss))
    out = dict(mean_push=push.mean(), slope=push @ coefficient / (coefficient @ coefficient), shift=extra.mean())
    out |= dict(spread=np.sqrt(np.mean((extra - extra.mean()) ** 2)), mean_loss=loss.mean())
    out |= dict(mean_gs_loss=gs_loss.mean(), mean_drop=np.mean(drop), pair_drop=np.mean(pair_drop))
    out["convergence"] = max(run.convergence for run in runs)
    third, m = runs[0].n - 2, runs[0].m
    out |= dict(shift_units=out["shift"] * m / third, spread_units=out["spread"] * m / np.sqrt(third)) if third else {}
    return {key: float(value) for key, value in out.items()}


def displacement_statistics(runs: Sequence[PhaseRun]) -> tuple[float, float]:
    """How far the encodings move over simulated phases run with their transport ``M`` (``W(end) = M W(0)``, each
    ``(n, n)``), pooled over ``runs`` (floats): the RMS over runs and encodings of ``|W_i(end) - W_i(0)| / |W_i(0)|``,
    and the RMS over runs of the error of the total-push picture ``M - I ~ -P`` (in ``W`` norm, relative to the
    displacement). Chapter *Total push*, claim T3."""
    from . import derivation  # (derivation imports this module)

    moved, missed = [], []
    for run in runs:
        step = run.M[-1] - np.eye(run.n)
        error = step + run.push
        moved.append(float(np.mean(derivation.displacement_from_transport(run.G0, run.M[-1]) ** 2)))
        missed.append(float(np.trace(error @ run.G0 @ error.T)) / float(np.trace(step @ run.G0 @ step.T)))
    return float(np.sqrt(np.mean(moved))), float(np.sqrt(np.mean(missed)))


def end_statistics(x: np.ndarray, x0: np.ndarray, n: int, m: int, *, zero: float) -> dict[str, float]:
    """Statistics of ``x = sqrt(m) kappa_ij`` ``(P,)`` over the pairs of one draw at the end of the interference
    phase (``x0`` ``(P,)`` at its start), which tell the push picture from independent vectors; floats.

    ``positive`` (fraction ``x > zero``), ``at_zero`` (``|x| <= zero``), ``mean`` and its standard error ``se``
    (over pairs), ``lift`` (mean ``x - x0`` over the pairs with ``x0 < -1``, which stay negative),
    ``neg_p`` (KS p-value of ``-x`` over ``x < -zero`` against :func:`end_negative_survival`).
    """
    from scipy import stats

    neg, sel = -x[x < -zero], x0 < -1.0
    neg_p = stats.kstest(neg, lambda y: 1 - end_negative_survival(y, n, m)).pvalue if neg.size else 0.0
    lift = np.mean((x - x0)[sel]) if sel.any() else np.nan
    out = dict(positive=np.mean(x > zero), at_zero=np.mean(np.abs(x) <= zero), mean=np.mean(x), lift=lift, neg_p=neg_p)
    return {key: float(value) for key, value in out.items()} | {"se": float(np.std(x) / np.sqrt(x.size))}
