"""The toy model ``y = ReLU(W W^T x)``: initialisation, loss and the three forces.

Notation (as in the book): ``W`` is ``(n, m)``, row ``W[i]`` is the encoding of
feature ``i``; ``G = W W^T`` is the ``(n, n)`` Gram matrix. Time is the
gradient-flow time of ``dW/dt = -grad L`` (dimensionless).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import wishart

from . import _validate as v

ALL_TERMS: tuple[str, ...] = v.TERMS


def sample_weights(n: int, m: int, *, seed: int) -> np.ndarray:
    """Initial weights: ``(n, m)`` float64, entries i.i.d. ``N(0, 1/m)``.

    So ``||W_i||^2`` has mean 1 and ``W_i . W_j`` has standard deviation ``1/sqrt(m)``.
    """
    n, m = v.sizes(n, m)
    rng = np.random.default_rng(v.seed(seed))
    return rng.normal(0.0, 1.0 / np.sqrt(m), size=(n, m))


def sample_gram(n: int, m: int, *, seed: int) -> np.ndarray:
    """A Gram matrix ``(n, n)`` with the law of ``W W^T`` for ``W = sample_weights(n, m)``.

    ``W W^T`` is Wishart with ``m`` degrees of freedom and scale ``I/m``; it is drawn
    by the Bartlett decomposition (``scipy.stats.wishart``) in ``O(n^3)`` time,
    independent of ``m``, so ``m = 10**9`` costs the same as ``m = n``.
    """
    n, m = v.sizes(n, m)
    rng = np.random.default_rng(v.seed(seed))
    G = wishart.rvs(df=m, scale=np.eye(n) / m, random_state=rng)
    return np.asarray(G, dtype=np.float64).reshape(n, n)


def gram(W: np.ndarray) -> np.ndarray:
    """The Gram matrix ``G = W W^T``, ``(n, n)``, of weights ``W`` ``(n, m)``."""
    W = v.finite_array("W", W, 2)
    return W @ W.T


def relu(x: np.ndarray) -> np.ndarray:
    """Entrywise ``max(x, 0)``."""
    return np.maximum(x, 0.0)


def interference_weights(G: np.ndarray) -> np.ndarray:
    """``R = offdiag(ReLU(G))``, ``(n, n)``: how hard encoding ``j`` pushes on encoding ``i``."""
    R = relu(G)
    np.fill_diagonal(R, 0.0)
    return R


def interaction_matrix(G: np.ndarray, terms: Sequence[str] = v.SMOOTH_TERMS) -> np.ndarray:
    """The matrix ``A`` ``(n, n)`` with ``dW/dt = A W`` for the smooth forces in ``terms``.

    ``A = diag(1 - G_ii)`` for feature benefit plus ``-offdiag(ReLU(G))`` for
    interference. This is the one home of the two smooth forces: the weight-space
    flow uses ``A W``, the Gram-space flow ``A G + G A^T``.
    """
    if terms is not v.SMOOTH_TERMS:  # the default (both forces) is valid: skip the check in hot loops
        terms = v.terms(terms, v.SMOOTH_TERMS)
    if "interference" in terms:
        A = -relu(G)
        A += 0.0  # -0.0 -> 0.0: the same bits as 0 - ReLU(G)
    else:
        A = np.zeros_like(G)
    np.fill_diagonal(A, 1.0 - G.diagonal() if "feature_benefit" in terms else 0.0)
    return A


def loss(W: np.ndarray, *, lam: float = 0.0) -> float:
    """``L(W) = 1/4 sum_i ||ReLU(W W^T e_i) - e_i||^2 + lam ||W||_1`` (a float)."""
    W = v.weights("W", W)
    lam = v.lam(lam)
    outputs = relu(W @ W.T)  # column i is the network's output on input e_i
    return 0.25 * float(np.sum((outputs - np.eye(W.shape[0])) ** 2)) + lam * float(np.sum(np.abs(W)))


def forces(W: np.ndarray, *, lam: float = 0.0, terms: Sequence[str] = ALL_TERMS) -> np.ndarray:
    """``dW/dt`` ``(n, m)``: the sum of the requested forces on every encoding.

    - ``feature_benefit``: ``(1 - ||W_i||^2) W_i``
    - ``interference``: ``-sum_{j != i} ReLU(W_i . W_j) W_j``
    - ``regularization``: ``-lam sign(W_i)`` (entrywise; 0 where ``W`` is 0)

    Where the loss is differentiable this equals ``-grad loss(W, lam=lam)``.
    """
    W = v.weights("W", W)
    lam = v.lam(lam)
    terms = v.terms(terms)
    smooth = tuple(t for t in terms if t in v.SMOOTH_TERMS)
    out = interaction_matrix(W @ W.T, smooth) @ W if smooth else np.zeros_like(W)
    if "regularization" in terms:
        out -= lam * np.sign(W)
    return out


def force_components(W: np.ndarray, *, lam: float = 0.0) -> dict[str, np.ndarray]:
    """Each of the three forces separately, ``{name: (n, m) array}``."""
    return {term: forces(W, lam=lam, terms=(term,)) for term in ALL_TERMS}


def cosine_similarity(G: np.ndarray) -> np.ndarray:
    """``kappa_ij = G_ij / sqrt(G_ii G_jj)``, ``(n, n)``, from a Gram matrix ``G``."""
    G = v.gram("G", G)
    norms = np.sqrt(np.diag(G))
    return G / np.outer(norms, norms)


def offdiagonal(M: np.ndarray) -> np.ndarray:
    """The strictly upper-triangular entries of a square matrix, as a 1-d array (one per pair)."""
    return M[np.triu_indices(M.shape[0], k=1)]
