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


# === total push (chapter 5): add formulas here ===
