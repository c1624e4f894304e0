"""Constants derived in the book: the predictions that several chapters compare against.

Each function is the one home of a formula that more than one chapter uses; the derivation
is in its docstring and, in full, in the chapter named there.
"""
from __future__ import annotations

import numpy as np

from . import _validate as v


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
    return float((n - 2) / np.sqrt(2 * np.pi * m))


# === numerator (chapter 2): add formulas here ===


# === denominator (chapter 3): add formulas here ===


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


def late_decay_rate(n: int, m: int) -> float:
    """Late decay rate of the interfering cosines, ``2 - x`` with ``x`` = :func:`drift_strength` (a float).

    The slope of ``2t - x f(t)`` at large ``t``; leading order in ``x``, which must be small.
    """
    return 2.0 - drift_strength(n, m)


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
    return float(brentq(lambda s: x * float(drift_profile(s)) - target, 0.0, 10.0 + 10.0 * target / x,
                        xtol=1e-14, rtol=1e-14))



# === total push (chapter 5): add formulas here ===
