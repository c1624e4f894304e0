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
    off = G - np.diag(d)
    return _zero_diagonal(-2.0 * (off @ off))


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
    """``c_ij = (W_i . W_j) / ||W_j||^2``, ``(n, n)``: the multiple of ``W_j`` that one Gram-Schmidt
    step removes from ``W_i``."""
    G = v.gram("G", G)
    return _zero_diagonal(G / np.diag(G)[None, :])


def gram_schmidt_norm_loss(G: np.ndarray) -> np.ndarray:
    """Decrease of ``||W_i||^2`` from one Gram-Schmidt step against ``W_j``: ``G_ij^2 / G_jj``, ``(n, n)``."""
    G = v.gram("G", G)
    return _zero_diagonal(G**2 / np.diag(G)[None, :])


# === numerator (chapter 2): add formulas here ===


def interfering_pair_terms(G: np.ndarray) -> dict[str, np.ndarray]:
    """The pieces of ``dG_ij/dt`` (interference alone) over the interfering pairs ``i < j`` (``G_ij > 0``)
    of ``G`` ``(n, n)``, each ``(P,)`` for ``P`` such pairs, in the order of ``np.triu_indices``:

    ``overlap`` ``G_ij``; ``first`` :func:`numerator_first_order`; ``second`` and ``second_free`` the
    exact and ReLU-free :func:`numerator_second_order`; ``rate`` :func:`numerator_rate`;
    ``relative_rate`` ``rate / G_ij``; ``first_order_relative_rate`` ``-(G_ii + G_jj)``;
    ``relative_error`` ``|second / first|`` (the relative error of the first-order rate, pair by pair:
    ``relative_rate = first_order_relative_rate (1 + second/first)``) and ``relative_error_free``
    ``|second_free / first|``.
    """
    G = v.gram("G", G)
    iu = np.triu_indices(G.shape[0], k=1)
    mask = G[iu] > 0
    d = np.diag(G)
    out = {
        name: M[iu][mask]
        for name, M in (
            ("overlap", G),
            ("first", numerator_first_order(G)),
            ("second", numerator_second_order(G)),
            ("second_free", numerator_second_order(G, relu=False)),
            ("rate", numerator_rate(G)),
        )
    }
    out["relative_rate"] = out["rate"] / out["overlap"]
    out["first_order_relative_rate"] = -(d[iu[0]] + d[iu[1]])[mask]
    out["relative_error"] = np.abs(out["second"] / out["first"])
    out["relative_error_free"] = np.abs(out["second_free"] / out["first"])
    return out


# === denominator (chapter 3): add formulas here ===


def interference_relative_rate(G: np.ndarray) -> np.ndarray:
    """``rho_i = -2 sum_{j != i} ReLU(G_ij)^2 / G_ii``, ``(n,)``: interference's relative rate of ``||W_i||^2``
    (chapter *Denominator*, claim D2)."""
    G = v.gram("G", G)
    return interference_norm_share(G) / np.diag(G)


def feature_benefit_norm_share(G: np.ndarray) -> np.ndarray:
    """Feature benefit's share of ``d||W_i||^2/dt``: ``2 (1 - a_i) a_i`` with ``a_i = G_ii``, ``(n,)``."""
    G = v.gram("G", G)
    a = np.diag(G)
    return 2.0 * (1.0 - a) * a


def feature_benefit_relative_rate(G: np.ndarray) -> np.ndarray:
    """``phi_i = 2 (1 - a_i)``, ``(n,)``: feature benefit's relative rate of ``||W_i||^2``."""
    G = v.gram("G", G)
    return 2.0 * (1.0 - np.diag(G))


def norm_sq_rate_dot(W: np.ndarray, terms: Sequence[str], lam: float) -> np.ndarray:
    """The right side of claim D1, ``2 (dW_i/dt) . W_i`` under the forces ``terms``, ``(n,)``."""
    W = v.weights("W", W)
    return 2.0 * np.sum(forces(W, lam=lam, terms=terms) * W, axis=1)


def norm_sq_rate_independent(W: np.ndarray, terms: Sequence[str], lam: float) -> np.ndarray:
    """``d||W_i||^2/dt`` ``(n,)`` computed without the dot product ``2 F_i . W_i`` (the other side of D1).

    Smooth forces through the Gram flow ``diag(A G + G A^T)`` (:func:`norm_sq_rate`); the L1
    force through ``-2 lam ||W_i||_1`` (``sign(w) w = |w|``).
    """
    W = v.weights("W", W)
    smooth = tuple(t for t in terms if t != "regularization")
    rate = norm_sq_rate(W @ W.T, smooth) if smooth else np.zeros(W.shape[0])
    if "regularization" in terms:
        rate = rate - 2.0 * v.lam(lam) * np.sum(np.abs(W), axis=1)
    return rate


def first_order_norm_change(G0: np.ndarray, times: Sequence[float] | np.ndarray) -> np.ndarray:
    """First-order prediction of ``ln(a_i(t) / a_i(0))`` under interference alone, ``(len(times), n)``.

    If every interfering overlap decays as ``G_ij(t) = G_ij(0) e^{-(a_i + a_j) t}`` (the first-order
    rate of the numerator) and ``a_i`` barely moves, then ``d ln a_i/dt = -2 sum_j ReLU(G_ij)^2 / a_i``
    integrates to ``-sum_j ReLU(G_ij(0))^2 (1 - e^{-2(a_i+a_j) t}) / (a_i (a_i + a_j))``
    (chapter *Denominator*).
    """
    G0 = v.gram("G0", G0)
    t = v.times(times)
    a = np.diag(G0)
    R2 = interference_weights(G0) ** 2
    s = a[:, None] + a[None, :]
    weight = R2 / (a[:, None] * s)  # (n, n)
    growth = 1.0 - np.exp(-2.0 * s[None] * t[:, None, None])  # (T, n, n)
    return -np.sum(weight[None] * growth, axis=2)


# === combined rate (chapter 4): add formulas here ===

from dataclasses import dataclass  # noqa: E402  (here, not at the top: one block per chapter)

from .estimates import Estimate, ratio_estimates  # noqa: E402
from .model import sample_gram  # noqa: E402
from .theory import second_order_mean_slope, third_encoding_norm_loss  # noqa: E402


@dataclass(frozen=True)
class RateParts:
    """The exact relative rate ``(dkappa/dt)/kappa`` of each interfering pair, in four parts, all ``(P,)``.

    ``first_order = -(a + b)``; ``numerator = S_ij / g`` (the second-order terms of
    ``d(W_i . W_j)/dt`` over the overlap ``g``); ``others = sum_{k != i,j} [ReLU(G_ik)^2/a + ReLU(G_jk)^2/b]``
    (norm loss to third encodings, which raises kappa); ``own = kappa^2 (a + b)`` (the pair's own norm
    loss). ``total`` is the exact relative rate; ``kappa`` and ``overlap`` the pair's cosine and ``g``;
    ``i``, ``j`` the pairs (``i < j``, row order), ``a``, ``b`` their squared norms.
    """

    first_order: np.ndarray
    numerator: np.ndarray
    others: np.ndarray
    own: np.ndarray
    total: np.ndarray
    kappa: np.ndarray
    overlap: np.ndarray
    i: np.ndarray
    j: np.ndarray


def relative_rate_parts(G: np.ndarray) -> RateParts:
    """Split the exact relative rate of the cosine of every interfering pair of ``G`` ``(n, n)``.

    By the quotient rule, ``kappa'/kappa = G_ij'/G_ij - (G_ii'/G_ii + G_jj'/G_jj)/2``; under
    interference alone this is ``-(a + b) + numerator + others + own`` (see :class:`RateParts`).
    """
    G = v.gram("G", G)
    n = G.shape[0]
    d = np.diag(G)
    i, j = np.triu_indices(n, k=1)
    keep = G[i, j] > 0
    i, j = i[keep], j[keep]
    g = G[i, j]
    a, b = d[i], d[j]
    share = interference_weights(G) ** 2 / d[:, None]  # ReLU(G_ik)^2 / G_ii, (n, n)
    rows = np.arange(i.size)
    share_i, share_j = share[i], share[j]  # (P, n)
    share_i[rows, j] = 0.0  # leave out k = j (the pair's own term) ...
    share_j[rows, i] = 0.0  # ... and k = i
    kappa = g / np.sqrt(a * b)
    return RateParts(
        first_order=-(a + b),
        numerator=numerator_second_order(G)[i, j] / g,
        others=share_i.sum(1) + share_j.sum(1),
        own=g**2 * (1.0 / a + 1.0 / b),
        total=kappa_rate(G)[i, j] / kappa,
        kappa=kappa,
        overlap=g,
        i=i,
        j=j,
    )


def expected_kappa_rate(G: np.ndarray) -> np.ndarray:
    """``E[dkappa_ij/dt | W_i, W_j] = -kappa_ij (a + b)(1 - kappa_ij^2)`` at initialisation, ``(n, n)``.

    The mean over the other encodings ``W_k ~ N(0, I/m)`` for interfering pairs (``a = ||W_i||^2``,
    ``b = ||W_j||^2``); 0 for the others, whose rate has conditional mean 0. The dropped numerator
    terms (mean ``-(n-2)/m``) and the norm loss to third encodings (``+(n-2)/m``) cancel exactly;
    exact for ``n = 2`` (chapter *Combined rate*).
    """
    G = v.gram("G", G)
    d = np.diag(G)
    kappa = cosine_similarity(G)
    return _zero_diagonal(-np.maximum(kappa, 0.0) * (d[:, None] + d[None, :]) * (1.0 - kappa**2))


@dataclass(frozen=True)
class MeanRateParts:
    """The parts of :class:`RateParts` on average at initialisation, at one ``(n, m)``: ``kappa^2``-weighted
    means (:class:`~incidental.estimates.Estimate`, jackknife over draws) over ``pairs`` interfering pairs.

    ``first_order`` is ``<a + b>``; ``numerator`` (N), ``others`` (D), ``own`` (Q) and ``correction``
    (``<kappa'/kappa + a + b>``) are in units of ``n/m``, where the conditional means predict ``-(n-2)/n``,
    ``+(n-2)/n`` and ``correction = own``; ``own_plain`` is the plain mean of ``kappa^2 (a + b)`` in units
    of ``1/m`` (predicted 2).
    """

    n: int
    m: int
    draws: int
    pairs: int
    first_order: Estimate
    numerator: Estimate
    others: Estimate
    own: Estimate
    correction: Estimate
    own_plain: Estimate

    @property
    def predicted(self) -> tuple[float, float]:
        """The conditional means of N and D, ``-(n-2)/n`` and ``+(n-2)/n`` (units of ``n/m``), two floats."""
        n, m = self.n, self.m
        return second_order_mean_slope(n, m) * m / n, third_encoding_norm_loss(n, m) * m / n


def mean_rate_parts(n: int, m: int, *, draws: int, seed: int) -> MeanRateParts:
    """The four parts of the cosine's rate on average over ``draws`` Gram matrices ``sample_gram(n, m, seed + s)``.

    Weighted by ``kappa^2`` (the least-squares fit of ``X kappa`` on ``kappa``): the plain mean of the
    numerator part does not exist, because pairs with a tiny ``W_i . W_j`` divide a random
    second-order term by almost zero (Cauchy tails).
    """
    rows, weights, plain, counts = [], [], [], []
    for s in range(v.size("draws", draws, 1)):
        p = relative_rate_parts(sample_gram(n, m, seed=seed + s))
        w = p.kappa**2
        parts = (-p.first_order, p.numerator, p.others, p.own, p.total - p.first_order)
        rows.append([np.sum(w * x) for x in parts])
        weights.append(np.sum(w))
        plain.append([np.sum(p.own)])
        counts.append(p.kappa.size)
    est = ratio_estimates(np.asarray(rows), np.asarray(weights))
    own_plain = ratio_estimates(np.asarray(plain), np.asarray(counts, dtype=float))[0]
    scaled = [e.scaled(m / n) for e in est[1:]]
    return MeanRateParts(n, m, draws, int(sum(counts)), est[0], *scaled, own_plain.scaled(m))


def fluctuation_scale(n: int, m: int, *, draws: int, seed: int) -> tuple[float, float]:
    """(spread, median error), two floats, over all pairs of ``draws`` draws ``sample_gram(n, m, seed + s)``.

    ``spread = std(S_ij - (n-2) G_ij/m) / RMS(G_ij)``: the random part of the second-order numerator
    terms relative to a typical overlap (predicted :func:`~incidental.theory.pair_spread`);
    ``median error``: median over interfering pairs of ``|kappa_rate / first-order rate - 1|``
    (predicted half the spread).
    """
    resid, overlaps, errors = [], [], []
    i, j = np.triu_indices(n, k=1)
    for s in range(v.size("draws", draws, 1)):
        G = sample_gram(n, m, seed=seed + s)
        resid.append(numerator_second_order(G)[i, j] - second_order_mean_slope(n, m) * G[i, j])
        overlaps.append(G[i, j])
        p = relative_rate_parts(G)
        errors.append(np.abs(p.total / p.first_order - 1.0))
    spread = float(np.std(np.concatenate(resid)) / np.sqrt(np.mean(np.concatenate(overlaps) ** 2)))
    return spread, float(np.median(np.concatenate(errors)))


# === total push (chapter 5): add formulas here ===


def pair_push_prediction(G: np.ndarray) -> np.ndarray:
    """The two-encoding total push ``(1/2) artanh(2 ReLU(G_ij) / (G_ii + G_jj))`` for every pair, ``(n, n)``
    (zero diagonal): :func:`incidental.exact.pair_push_total` of each pair, the others ignored."""
    G = v.gram("G", G)
    d = np.diag(G)
    return _zero_diagonal(0.5 * np.arctanh(2 * interference_weights(G) / (d[:, None] + d[None, :])))


def pair_loss_prediction(G: np.ndarray) -> np.ndarray:
    """The two-encoding loss of squared norm :func:`incidental.exact.pair_norm_sq_loss` for every pair,
    ``(n, n)`` (zero diagonal): ``(s - sqrt(s^2 - 4 ReLU(G_ij)^2)) / 2`` with ``s = G_ii + G_jj``."""
    G = v.gram("G", G)
    d = np.diag(G)
    s = d[:, None] + d[None, :]
    R = interference_weights(G)
    return _zero_diagonal(0.5 * (s - np.sqrt(s * s - 4 * R * R)))


def displacement_from_transport(G0: np.ndarray, M: np.ndarray) -> np.ndarray:
    """``|W_i(t) - W_i(0)| / |W_i(0)|`` ``(n,)`` from the transport ``W(t) = M W(0)`` (``M`` ``(n, n)``):
    the square root of the diagonal of ``(M - I) G0 (M - I)^T`` over ``G0_ii``. No weights needed."""
    G0 = v.gram("G0", G0)
    M = v.finite_array("M", M, 2)
    if M.shape != G0.shape:
        raise ValueError(f"M must have the shape of G0 {G0.shape}, got {M.shape}")
    D = M - np.eye(M.shape[0])
    return np.sqrt(np.einsum("ik,kl,il->i", D, G0, D) / np.diag(G0))
