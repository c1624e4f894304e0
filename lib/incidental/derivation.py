"""The quantities of the derivation, computed from a Gram matrix ``G`` ``(n, n)``.

All rates are for the interference force alone unless ``terms`` says otherwise,
as in the note: feature benefit cannot move a cosine, and regularisation is
assumed low. Pairwise results are ``(n, n)`` matrices (entry ``[i, j]`` for the
pair ``i, j``; diagonals are meaningless and set to 0).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _validate as v
from .flow import gram_rate
from .model import ALL_TERMS, cosine_similarity, forces, interference_weights

INTERFERENCE: tuple[str, ...] = ("interference",)


def _zero_diagonal(M: np.ndarray) -> np.ndarray:
    np.fill_diagonal(M, 0.0)
    return M


def numerator_rate(G: np.ndarray, terms: Sequence[str] = INTERFERENCE) -> np.ndarray:
    """Exact ``d(W_i . W_j)/dt`` for every pair, ``(n, n)``: the off-diagonal of ``dG/dt``."""
    G = v.gram("G", G)
    return _zero_diagonal(gram_rate(G, terms))


def numerator_first_order(G: np.ndarray) -> np.ndarray:
    """First-order term ``-ReLU(W_i . W_j) (||W_i||^2 + ||W_j||^2)``, ``(n, n)``.

    The push of ``W_j`` on ``W_i`` projected on ``W_j``, plus the reverse; zero for
    pairs that do not interfere (``W_i . W_j <= 0``).
    """
    G = v.gram("G", G)
    d = np.diag(G)
    return _zero_diagonal(-interference_weights(G) * (d[:, None] + d[None, :]))


def numerator_second_order(G: np.ndarray, *, relu: bool = True) -> np.ndarray:
    """Second-order terms of the numerator's rate, from all third encodings ``k != i, j``; ``(n, n)``.

    With ``relu=True`` (exact): ``-sum_k [ReLU(G_ik) G_jk + ReLU(G_jk) G_ik]``, so that
    first order + second order = :func:`numerator_rate`. With ``relu=False`` the
    note's simplification ``-2 sum_k G_ik G_jk``, exact only if every pair interferes.
    """
    G = v.gram("G", G)
    d = np.diag(G)
    if relu:
        R = interference_weights(G)
        RG = R @ G
        return _zero_diagonal(-(RG + RG.T) + R * (d[:, None] + d[None, :]))
    O = G - np.diag(d)
    return _zero_diagonal(-2.0 * (O @ O))


def norm_sq_rate(G: np.ndarray, terms: Sequence[str] = INTERFERENCE) -> np.ndarray:
    """``d||W_i||^2/dt = 2 (dW_i/dt) . W_i`` for every ``i``, ``(n,)``."""
    G = v.gram("G", G)
    return np.diag(gram_rate(G, terms)).copy()


def interference_norm_share(G: np.ndarray) -> np.ndarray:
    """Interference's share of ``d||W_i||^2/dt``: ``-2 sum_{j != i} ReLU(G_ij)^2``, ``(n,)``."""
    G = v.gram("G", G)
    return -2.0 * np.sum(interference_weights(G) ** 2, axis=1)


def expected_relative_norm_sq_rate(n: int, m: int) -> float:
    """Exact mean of interference's relative rate ``(d||W_i||^2/dt) / ||W_i||^2`` at initialisation.

    Given ``W_i``, each ``G_ij`` (``j != i``) is ``N(0, ||W_i||^2 / m)``, so
    ``E[ReLU(G_ij)^2 | W_i] = ||W_i||^2 / (2m)`` and the relative rate has mean
    ``-2 (n-1) / (2m) = -(n-1)/m`` exactly. (Each norm ``||W_i||`` moves at half of that.)
    """
    n, m = v.sizes(n, m)
    return -(n - 1) / m


def kappa_rate_from_gram_rate(G: np.ndarray, dG: np.ndarray) -> np.ndarray:
    """``d kappa_ij / dt`` ``(n, n)`` given ``G`` and its rate ``dG``, by the quotient rule.

    ``dkappa_ij = dG_ij/(|W_i||W_j|) - kappa_ij/2 (dG_ii/G_ii + dG_jj/G_jj)``.
    """
    d = np.diag(G)
    norms = np.sqrt(d)
    rel = np.diag(dG) / d
    kappa = cosine_similarity(G)
    return _zero_diagonal(dG / np.outer(norms, norms) - 0.5 * kappa * (rel[:, None] + rel[None, :]))


def kappa_rate(G: np.ndarray, terms: Sequence[str] = INTERFERENCE) -> np.ndarray:
    """Exact ``d kappa_ij / dt``, ``(n, n)``, under the smooth forces in ``terms``."""
    G = v.gram("G", G)
    return kappa_rate_from_gram_rate(G, gram_rate(G, terms))


def gram_rate_from_weights(W: np.ndarray, *, lam: float = 0.0, terms: Sequence[str] = ALL_TERMS) -> np.ndarray:
    """``dG/dt = F W^T + W F^T`` ``(n, n)`` with ``F = forces(W, lam=lam, terms=terms)`` (any forces, L1 included)."""
    F = forces(W, lam=lam, terms=terms)
    FW = F @ np.asarray(W).T
    return FW + FW.T


def kappa_rate_from_weights(W: np.ndarray, *, lam: float = 0.0, terms: Sequence[str] = ALL_TERMS) -> np.ndarray:
    """Exact ``d kappa_ij / dt`` ``(n, n)`` from weights, for any of the three forces."""
    W = v.weights("W", W)
    return kappa_rate_from_gram_rate(W @ W.T, gram_rate_from_weights(W, lam=lam, terms=terms))


def kappa_rate_first_order(G: np.ndarray) -> np.ndarray:
    """The note's leading prediction ``-kappa_ij (||W_i||^2 + ||W_j||^2)`` for interfering pairs, ``(n, n)``."""
    G = v.gram("G", G)
    d = np.diag(G)
    kappa = cosine_similarity(G)
    return _zero_diagonal(-np.maximum(kappa, 0.0) * (d[:, None] + d[None, :]))


def gram_schmidt_coefficient(G: np.ndarray) -> np.ndarray:
    """``c_ij = (W_i . W_j) / ||W_j||^2``, ``(n, n)``: the multiple of ``W_j`` one Gram-Schmidt step removes from ``W_i``."""
    G = v.gram("G", G)
    return _zero_diagonal(G / np.diag(G)[None, :])


def gram_schmidt_norm_loss(G: np.ndarray) -> np.ndarray:
    """Decrease of ``||W_i||^2`` from one Gram-Schmidt step against ``W_j``: ``G_ij^2 / G_jj``, ``(n, n)``."""
    G = v.gram("G", G)
    return _zero_diagonal(G**2 / np.diag(G)[None, :])


# === numerator (chapter 2): add formulas here ===


# === denominator (chapter 3): add formulas here ===


# === combined rate (chapter 4): add formulas here ===


# === total push (chapter 5): add formulas here ===
