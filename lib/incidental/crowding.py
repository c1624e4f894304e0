"""The crowded regime (chapter 8): the formulas derived there, for loads ``n/m`` that are not small.

- :func:`push_scatter_constant`: the spread of the total push around its two-encoding value, in units of
  ``sqrt(n - 2)/m``, derived at leading order in the third encodings: ``sqrt(3 - 1/pi^2)/8``.
- :func:`lifted_late_rate`: the late decay rate of the interfering overlaps with the negative overlaps
  lifted as the push model says (chapter 5), ``2 - mu'``, which replaces ``2 - nu`` once ``nu`` is of order 1.
- :func:`linearised_late_rate`: the decay rate of the late flow linearised about a Gram matrix, the Perron
  root of the coupling of its positive overlaps (chapter 2's ``2 - mu(C)`` with the norms as they are).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import eigs
from scipy.special import ndtr

from . import _validate as v
from . import theory


def push_scatter_constant() -> float:
    """``sqrt(3 - 1/pi^2) / 8``: the standard deviation of ``P_ij - (1/2) artanh(2 G_ij / (G_ii + G_jj))`` over the
    interfering pairs, in units of ``sqrt(n - 2)/m``, at leading order (a float, about 0.2128).

    To first order each third encoding ``k`` adds ``(1/2) int_0^oo S_ij = -X Y / 4`` to the push, with
    ``X = G_ik(0)``, ``Y = G_jk(0)`` independent ``N(0, 1/m)``, unless both are negative (then nothing): an
    interfering overlap decays like ``e^{-2t}`` and a negative one stays. The term has mean ``1/(8 pi m)`` and
    second moment ``3/(64 m^2)`` (three quadrants of ``E[X^2 Y^2] = 1/m^2``), so variance
    ``(3 - 1/pi^2)/(64 m^2)``; the ``n - 2`` terms are independent given the pair.
    """
    return math.sqrt(3 - 1 / math.pi**2) / 8


def _std_normal_pdf(x: float) -> float:
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def lifted_coupling_nu(nu: float) -> float:
    """``mu' = 2 sqrt(2 pi) nu Phi(d) [phi(d) - d (1 - Phi(d))]`` with the lift ``d = nu / (2 sqrt(2 pi))``: the mean
    row sum of the late coupling when the overlaps are distributed as the push model says (a float; ``nu`` the
    crowding ``(n-2)/sqrt(2 pi m)``).

    A third encoding couples a pair ``(i, j)`` when one of ``G_ik, G_jk`` is still positive (probability
    ``Phi(d)``: the positive ones and the negative ones lifted to 0) and the other negative, by its size
    ``E[(-z - d)^+]/sqrt(m) = (phi(d) - d (1 - Phi(d)))/sqrt(m)``; ``2 (n - 2)`` candidates. At ``d = 0`` it is ``nu``.
    """
    d = nu / (2 * math.sqrt(2 * math.pi))
    return float(2 * math.sqrt(2 * math.pi) * nu * ndtr(d) * (_std_normal_pdf(d) - d * (1 - ndtr(d))))


def lifted_coupling(n: int, m: int) -> float:
    """:func:`lifted_coupling_nu` at ``nu = (n - 2)/sqrt(2 pi m)`` (the lift is ``d = (n - 2)/(4 pi sqrt(m))``)."""
    n, m = v.sizes(n, m)
    return lifted_coupling_nu((n - 2) / math.sqrt(2 * math.pi * m))


def lifted_coupling_peak() -> tuple[float, float]:
    """Where :func:`lifted_coupling_nu` is largest, ``(nu, mu')`` (floats): the slowest lifted late decay."""
    from scipy.optimize import minimize_scalar

    best = minimize_scalar(lambda nu: -lifted_coupling_nu(nu), bounds=(0.5, 20.0), method="bounded")
    return float(best.x), float(-best.fun)


def lifted_late_rate(n: int, m: int) -> float:
    """``2 - mu'`` (:func:`lifted_coupling`): the late decay rate with the negative overlaps lifted (a float)."""
    return 2.0 - lifted_coupling(n, m)


def linearised_late_rate(G: np.ndarray) -> float:
    """The decay rate of the interference-only flow linearised in the positive overlaps of ``G`` ``(n, n)``
    (a float): ``-lambda_max`` of ``M = -diag(G_ii + G_jj) + C`` on the pairs ``i < j`` with ``G_ij > 0``, where
    ``C`` couples ``(i, j)`` to ``(i, k)`` with weight ``-G_jk`` when ``G_jk < 0`` (and ``(j, k)`` likewise). The
    products of two positive overlaps (second order in them) are dropped. ``nan`` if no overlap is positive.
    """
    G = v.gram("G", G)
    n = G.shape[0]
    pos = np.triu(G > 0, 1)
    rows_i, cols_j = np.nonzero(pos)
    P = len(rows_i)
    if P == 0:
        return float("nan")
    index = -np.ones((n, n), dtype=int)
    index[rows_i, cols_j] = index[cols_j, rows_i] = np.arange(P)
    neg = np.where(G < 0, -G, 0.0)
    np.fill_diagonal(neg, 0.0)
    rows, cols, vals = [], [], []
    for p, (i, j) in enumerate(zip(rows_i.tolist(), cols_j.tolist())):
        for x, y in ((i, j), (j, i)):
            ks = np.nonzero((index[x] >= 0) & (neg[y] > 0))[0]
            ks = ks[(ks != i) & (ks != j)]
            rows += [p] * len(ks)
            cols += index[x, ks].tolist()
            vals += neg[y, ks].tolist()
    a = np.diag(G)
    shift = float(np.max(a[rows_i] + a[cols_j]))
    M = sparse.csr_matrix((vals, (rows, cols)), shape=(P, P)) + sparse.diags(shift - (a[rows_i] + a[cols_j]))
    if P <= 2:
        top = float(np.max(np.linalg.eigvals(M.toarray()).real))
    else:
        top = float(eigs(M, k=1, which="LR", return_eigenvectors=False, v0=np.ones(P))[0].real)
    return shift - top


def third_encoding_push(X: np.ndarray, Y: np.ndarray) -> float:
    """The first-order extra push on an interfering pair from its third encodings (a float): the sum over ``k`` of
    ``-X_k Y_k / 4`` where not both ``X_k = G_ik(0)`` and ``Y_k = G_jk(0)`` are negative (chapter 8, C2)."""
    X, Y = v.finite_array("X", X, 1), v.finite_array("Y", Y, 1)
    if X.shape != Y.shape:
        raise ValueError(f"X and Y must have the same shape, got {X.shape} and {Y.shape}")
    return float(np.sum(np.where((X < 0) & (Y < 0), 0.0, -X * Y / 4)))


def first_order_boundary(m: float, level: float) -> float:
    """The ``n`` at which chapter 2's median error ``sqrt(3 (n - 2) / 8m)`` of the first-order rate reaches
    ``level``: ``2 + 8 m level^2 / 3`` (a float; chapter 9's boundary of N3)."""
    return 2 + 8 * m * level**2 / 3


def within_crowding(n: np.ndarray, m: np.ndarray, nu: float) -> np.ndarray:
    """Where the crowding ``(n - 2)/sqrt(2 pi m)`` is at most ``nu``: a boolean array of the broadcast shape of
    ``n`` and ``m`` (chapter 9's boundaries of K2 and T1)."""
    return theory.crowding(n, m) <= nu
