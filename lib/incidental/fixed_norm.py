"""The constrained model: every encoding's norm held fixed (the note's open question, claim X1).

The note ends by asking for the combined force on an encoding whose norm does not change, as
happens when feature benefit holds every length near 1 while interference acts. This module is
the one home of that model's formulas.

The force
---------
Holding ``||W_i||`` fixed confines ``W_i`` to a sphere. The gradient flow of the loss on the
product of spheres moves each encoding along the projection of the unconstrained force onto the
sphere's tangent space at ``W_i``, ``P_i = I - W_i W_i^T / ||W_i||^2``. Feature benefit
``(1 - ||W_i||^2) W_i`` is radial, so its projection is zero: it drops out. Interference
``-sum_j R_ij W_j`` with ``R = offdiag(ReLU(G))`` keeps its tangential part,

    F_i = -sum_{j != i} R_ij W_j + (sum_{j != i} R_ij G_ij / G_ii) W_i .

So ``dW/dt = A W`` with ``A = -R + diag(sum_j R_ij G_ij / G_ii)`` (note ``R_ij G_ij = ReLU(G_ij)^2``),
and the flow closes on the Gram matrix, ``dG/dt = A G + G A^T``, whose diagonal is exactly 0.
The model of the note has unit norms (start from :func:`normalize_rows` or
:func:`incidental.cosine_similarity`); every function here also accepts other norms and holds
them at their initial values. Regularisation is outside the model (the note's assumption: it is
low over the interference phase).

The rate of a cosine
--------------------
A cosine does not depend on the norms, and the projection removes only the radial part of the
force, so at any instant ``d kappa_ij / dt`` is the same under the constrained and the free
flow (see :func:`fixed_norm_kappa_rate_parts` for its split). The flows differ only through the
norms, which enter the direction of every force.

Two encodings, exactly
----------------------
(For comparison, the module also holds the cosine of the two free-norm pair solutions of the
library, :func:`pair_kappa`, and the time each pair model takes to halve its cosine,
:func:`pair_half_time`.)

With ``n = 2``, norms ``r_1, r_2`` and ``kappa > 0``: ``d kappa/dt = -s kappa (1 - kappa^2)``,
``s = r_1^2 + r_2^2``, so ``y = kappa^2`` is logistic and
``kappa(t) = kappa_0 e^{-s t} / sqrt(1 - kappa_0^2 + kappa_0^2 e^{-2 s t})``. The total push is
``int_0^oo ReLU(W_1 . W_2) dt = r_1 r_2 artanh(kappa_0) / s``. At equal norms the sum
``u = W_1 + W_2`` and the difference ``v = W_1 - W_2`` keep their directions, with
``|u|^2 = 2 r^2 (1 + kappa)``, ``|v|^2 = 2 r^2 (1 - kappa)``; the pair ends at
``r S^{-1/2} W(0)``, ``S = W(0) W(0)^T`` (the symmetric, Loewdin orthogonalisation).

Time is the gradient-flow time of the book (dimensionless); all rates are per unit time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import stats

from . import _validate as v
from .derivation import kappa_rate_from_gram_rate
from .exact import pair_interference_tau
from .flow import DEFAULT_RTOL, integrate, rms, simulate_gram, simulate_gram_with_push
from .model import cosine_similarity, interference_weights, sample_gram
from .runs import FULL, INTERFERENCE

__all__ = [
    "CROSSOVER_FIRST_ORDER",
    "PAIR_MODELS",
    "KappaRateParts",
    "SizeComparison",
    "compare_size",
    "cosines",
    "crossing_time",
    "fixed_norm_force",
    "fixed_norm_gram_rate",
    "fixed_norm_interaction",
    "fixed_norm_kappa_rate",
    "fixed_norm_kappa_rate_parts",
    "fixed_norm_pair",
    "fixed_norm_pair_kappa",
    "fixed_norm_pair_limit",
    "fixed_norm_pair_push",
    "fixed_norm_pair_push_total",
    "normalize_rows",
    "pair_kappa",
    "positive_cosine_error",
    "pair_half_time",
    "predicted_model_errors",
    "projected_loss",
    "simulate_fixed_norm",
    "simulate_fixed_norm_gram",
    "simulate_fixed_norm_gram_with_push",
    "tangent_projection",
    "three_flows",
    "unit_pair",
    "unit_pair_gram",
]


# --- the force ---------------------------------------------------------------------------------------


def _nonzero_rows(name: str, W: np.ndarray) -> np.ndarray:
    norms_sq = np.sum(W * W, axis=1)
    if np.any(norms_sq <= 0):
        raise ValueError(f"{name} must have no zero row (an encoding of norm 0 has no sphere to stay on)")
    return norms_sq


def normalize_rows(W: np.ndarray) -> np.ndarray:
    """``W_i / ||W_i||`` for every row, ``(n, m)``: the unit-norm start of the constrained model."""
    W = v.weights("W", W)
    return W / np.sqrt(_nonzero_rows("W", W))[:, None]


def tangent_projection(W: np.ndarray, F: np.ndarray) -> np.ndarray:
    """Project each row ``F_i`` onto the tangent space of the sphere through ``W_i``, ``(n, m)``.

    ``F_i - (F_i . W_i / ||W_i||^2) W_i``: what is left of a force once the part that would change
    ``||W_i||`` is removed. ``W`` and ``F`` are both ``(n, m)``.
    """
    W = v.weights("W", W)
    F = v.finite_array("F", F, 2)
    if F.shape != W.shape:
        raise ValueError(f"F must have the shape of W {W.shape}, got {F.shape}")
    norms_sq = _nonzero_rows("W", W)
    return F - (np.sum(F * W, axis=1) / norms_sq)[:, None] * W


def fixed_norm_interaction(G: np.ndarray) -> np.ndarray:
    """The matrix ``A`` ``(n, n)`` of the constrained flow ``dW/dt = A W``, from the Gram matrix ``G``.

    ``A = -offdiag(ReLU(G)) + diag(sum_{j != i} ReLU(G_ij)^2 / G_ii)``: interference, plus the
    radial term that the tangent projection adds back. Feature benefit contributes nothing.
    """
    return _interaction(v.gram("G", G))


def _interaction(G: np.ndarray) -> np.ndarray:
    R = interference_weights(G)
    return -R + np.diag(np.sum(R * R, axis=1) / np.diag(G))


def fixed_norm_force(W: np.ndarray) -> np.ndarray:
    """``dW/dt`` ``(n, m)`` of the constrained model: interference projected onto the tangent spaces.

    Row ``i`` is ``-sum_j ReLU(W_i . W_j) W_j + (sum_j ReLU(W_i . W_j)^2 / ||W_i||^2) W_i``; it is
    orthogonal to ``W_i``, so every ``||W_i||`` stays where it is. Equal to
    ``tangent_projection(W, forces(W, terms=(...)))`` with or without feature benefit.
    """
    W = v.weights("W", W)
    _nonzero_rows("W", W)
    return _interaction(W @ W.T) @ W


def projected_loss(W: np.ndarray) -> float:
    """The loss seen by the constrained model: ``L(N(W))`` with ``N`` rescaling each row to unit norm.

    Its gradient at a unit-norm ``W`` is the tangent projection of ``grad L`` (the Jacobian of ``N``
    at a unit vector is the projection ``I - W_i W_i^T``), so ``-grad projected_loss = fixed_norm_force``
    there: the finite-difference oracle of the force. At unit norms only interference is left:
    ``1/4 sum_{i != j} ReLU(kappa_ij)^2``. A float.
    """
    W = normalize_rows(W)
    K = cosine_similarity(W @ W.T)
    R = interference_weights(K)
    return 0.25 * float(np.sum(R * R))


def fixed_norm_gram_rate(G: np.ndarray) -> np.ndarray:
    """``dG/dt = A G + G A^T`` ``(n, n)`` of the constrained model, with ``A`` = :func:`fixed_norm_interaction`.

    Entry ``(i, j)``: ``-sum_k [ReLU(G_ik) G_kj + ReLU(G_jk) G_ik] + (d_i + d_j) G_ij`` with
    ``d_i = sum_k ReLU(G_ik)^2 / G_ii``. The diagonal is 0 analytically and is set to exactly 0,
    so a Gram flow keeps ``diag(G)`` (1 for unit encodings) to the last bit.
    """
    return _gram_rate(v.gram("G", G))


def _gram_rate(G: np.ndarray) -> np.ndarray:
    AG = _interaction(G) @ G
    out = AG + AG.T
    np.fill_diagonal(out, 0.0)
    return out


# --- the rate of a cosine ---------------------------------------------------------------------------


def fixed_norm_kappa_rate(G: np.ndarray) -> np.ndarray:
    """Exact ``d kappa_ij / dt`` ``(n, n)`` under the constrained flow (zero diagonal).

    At unit norms ``kappa = G`` and this is the off-diagonal of :func:`fixed_norm_gram_rate`. It equals
    the free-norm rate ``incidental.kappa_rate(G, ("interference",))`` at the same ``G``: a cosine
    cannot see the radial part of a force, which is all the projection removes.
    """
    G = v.gram("G", G)
    return kappa_rate_from_gram_rate(G, _gram_rate(G))


class KappaRateParts(NamedTuple):
    """The exact ``d kappa_ij / dt`` split into four parts, each ``(n, n)`` with zero diagonal.

    With ``a = G_ii``, ``b = G_jj``, ``kappa = kappa_ij`` and ``k`` running over third encodings:

    - ``first_order``: ``-(a + b) ReLU(kappa)``, the pair pushing itself apart (``-2 kappa`` at unit norms);
    - ``own_projection``: ``+(a + b) ReLU(kappa)^3``, the radial term the projection adds back for the pair
      itself (at free norms: the pair's own share of the shrinking norms);
    - ``third_push``: ``-sum_k [ReLU(G_ik) G_jk + ReLU(G_jk) G_ik] / sqrt(a b)``, the third encodings'
      pushes (the numerator's second-order terms of chapter 2);
    - ``third_projection``: ``kappa sum_k [ReLU(G_ik)^2 / a + ReLU(G_jk)^2 / b]``, the radial terms the
      projection adds back for the third encodings (at free norms: the norm loss to third encodings).

    ``first_order + own_projection`` is the first-order rate ``-(a + b) kappa (1 - kappa^2)``; the sum of
    all four is :func:`fixed_norm_kappa_rate`.
    """

    first_order: np.ndarray
    own_projection: np.ndarray
    third_push: np.ndarray
    third_projection: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """The sum of the four parts, ``(n, n)``."""
        return self.first_order + self.own_projection + self.third_push + self.third_projection

    @property
    def third(self) -> np.ndarray:
        """All third-encoding terms, ``third_push + third_projection``, ``(n, n)``."""
        return self.third_push + self.third_projection


def fixed_norm_kappa_rate_parts(G: np.ndarray) -> KappaRateParts:
    """Split the exact rate of every cosine of ``G`` ``(n, n)`` into the parts of :class:`KappaRateParts`."""
    G = v.gram("G", G)
    d = np.diag(G)
    norms = np.sqrt(d)
    K = cosine_similarity(G)
    Kp = np.maximum(K, 0.0)
    np.fill_diagonal(Kp, 0.0)
    s = d[:, None] + d[None, :]
    R = interference_weights(G)
    # sum over k != i, j of ReLU(G_ik) G_jk + ReLU(G_jk) G_ik: all k, minus k = i and k = j
    RG = R @ G
    push = -(RG + RG.T) + R * s
    share = (R * R) / d[:, None]  # ReLU(G_ik)^2 / G_ii
    rowsum = share.sum(axis=1)
    third_share = rowsum[:, None] + rowsum[None, :] - share - share.T  # leave out k = j and k = i
    out = KappaRateParts(
        first_order=-s * Kp,
        own_projection=s * Kp**3,
        third_push=push / np.outer(norms, norms),
        third_projection=K * third_share,
    )
    for part in out:
        np.fill_diagonal(part, 0.0)
    return out


# --- the flows -------------------------------------------------------------------------------------


def simulate_fixed_norm(
    W0: np.ndarray, times: Sequence[float] | np.ndarray, *, rtol: float = DEFAULT_RTOL
) -> np.ndarray:
    """The constrained flow ``dW/dt = fixed_norm_force(W)`` from ``W0`` ``(n, m)`` at time 0.

    Returns ``(len(times), n, m)`` at ``times`` (strictly increasing, ``times[0] >= 0``), solved by
    ``scipy.integrate.solve_ivp`` to relative tolerance ``rtol`` (absolute ``rtol`` times the RMS entry
    of ``W0``). Norms are held by the force, so they drift only by the integration error.
    """
    W0 = v.weights("W0", W0)
    _nonzero_rows("W0", W0)
    t = v.times(times)
    rtol = v.positive("rtol", rtol)
    return integrate(lambda W: _interaction(W @ W.T) @ W, W0, t, rtol=rtol, atol=rtol * rms(W0))


def _overlap_scale(G0: np.ndarray) -> float:
    off = G0[np.triu_indices(G0.shape[0], k=1)]
    scale = float(np.sqrt(np.mean(off**2)))
    return scale if scale > 0 else rms(G0)


def simulate_fixed_norm_gram(
    G0: np.ndarray, times: Sequence[float] | np.ndarray, *, rtol: float = DEFAULT_RTOL
) -> np.ndarray:
    """The constrained flow on the Gram matrix, ``dG/dt`` = :func:`fixed_norm_gram_rate`.

    ``G0`` ``(n, n)`` at time 0 (use ``incidental.cosine_similarity(G)`` for unit encodings); returns
    ``(len(times), n, n)``, whose diagonal equals ``diag(G0)`` exactly. Solved by ``solve_ivp`` with the
    tolerances of :func:`incidental.simulate_gram` (relative ``rtol``, absolute ``rtol`` times the RMS
    entry of ``G0``), so the constrained and the free flows are integrated alike; each step costs
    ``O(n^3)`` at any ``m``.
    """
    G0 = v.gram("G0", G0)
    t = v.times(times)
    rtol = v.positive("rtol", rtol)
    return integrate(_gram_rate, G0, t, rtol=rtol, atol=rtol * rms(G0))


def simulate_fixed_norm_gram_with_push(
    G0: np.ndarray, times: Sequence[float] | np.ndarray, *, rtol: float = DEFAULT_RTOL
) -> tuple[np.ndarray, np.ndarray]:
    """The constrained Gram flow with the accumulated push, both ``(len(times), n, n)``.

    The second array is ``P_ij(t) = int_0^t ReLU(G_ij(s)) ds``, the coefficient of ``-W_j`` in the
    interference that ``W_i`` has received (as :func:`incidental.simulate_gram_with_push` for the free flow).
    The absolute tolerance is ``rtol * 1e-3`` times the RMS initial overlap (as for the free flow's push),
    so that pushes of size ``1/sqrt(m)`` are resolved at any ``m``.
    """
    G0 = v.gram("G0", G0)
    t = v.times(times)
    rtol = v.positive("rtol", rtol)
    n = G0.shape[0]

    def rhs(y: np.ndarray) -> np.ndarray:
        G = y[:n]
        return np.concatenate([_gram_rate(G), interference_weights(G)])

    y = integrate(rhs, np.concatenate([G0, np.zeros_like(G0)]), t, rtol=rtol, atol=rtol * 1e-3 * _overlap_scale(G0))
    return y[:, :n], y[:, n:]


# --- two encodings, exactly -------------------------------------------------------------------------


def _pair_gram(G0: object) -> np.ndarray:
    G0 = v.gram("G0", G0)
    if G0.shape != (2, 2):
        raise ValueError(f"G0 must be 2x2 (two encodings), got shape {G0.shape}")
    if G0[0, 1] ** 2 > G0[0, 0] * G0[1, 1]:
        raise ValueError("G0 must be a Gram matrix: |G0_12| <= sqrt(G0_11 G0_22) (a cosine in [-1, 1])")
    return G0


def fixed_norm_pair_kappa(G0: np.ndarray, times: Sequence[float] | np.ndarray) -> np.ndarray:
    """Exact cosine ``kappa(t)`` ``(len(times),)`` of two encodings with fixed norms, from their Gram ``G0`` ``(2, 2)``.

    ``d kappa/dt = -s kappa (1 - kappa^2)`` with ``s = G0_11 + G0_22``, so for ``kappa_0 > 0``
    ``kappa(t) = kappa_0 e^{-s t} / sqrt(1 - kappa_0^2 + kappa_0^2 e^{-2 s t})``; a cosine ``<= 0`` stays put.
    """
    G0 = _pair_gram(G0)
    t = v.times(times)
    s = G0[0, 0] + G0[1, 1]
    k0 = float(G0[0, 1] / np.sqrt(G0[0, 0] * G0[1, 1]))
    if k0 <= 0:
        return np.full_like(t, k0)
    e = np.exp(-s * t)
    return k0 * e / np.sqrt((1.0 - k0) * (1.0 + k0) + (k0 * e) ** 2)


def fixed_norm_pair_push(G0: np.ndarray, times: Sequence[float] | np.ndarray) -> np.ndarray:
    """Exact accumulated push ``int_0^t ReLU(W_1 . W_2)`` ``(len(times),)`` of two encodings with fixed norms.

    ``(r_1 r_2 / s) [arsinh(kappa_0 / c) - arsinh(kappa_0 e^{-s t} / c)]`` with ``c = sqrt(1 - kappa_0^2)``,
    ``s = r_1^2 + r_2^2``; 0 if ``kappa_0 <= 0``.
    """
    G0 = _pair_gram(G0)
    t = v.times(times)
    s = G0[0, 0] + G0[1, 1]
    r1r2 = float(np.sqrt(G0[0, 0] * G0[1, 1]))
    k0 = float(G0[0, 1] / r1r2)
    if k0 <= 0:
        return np.zeros_like(t)
    c = np.sqrt((1.0 - k0) * (1.0 + k0))
    return (r1r2 / s) * (np.arcsinh(k0 / c) - np.arcsinh(k0 * np.exp(-s * t) / c))


def fixed_norm_pair_push_total(G0: np.ndarray) -> float:
    """Total push ``int_0^oo ReLU(W_1 . W_2) dt`` of two encodings with fixed norms: ``r_1 r_2 artanh(kappa_0) / s``.

    At unit norms ``artanh(kappa_0) / 2``: the same as the free pair under interference alone
    (:func:`incidental.pair_push_total`), half the Gram-Schmidt coefficient ``kappa_0`` to first order. A float.
    """
    G0 = _pair_gram(G0)
    r1r2 = float(np.sqrt(G0[0, 0] * G0[1, 1]))
    k0 = float(G0[0, 1] / r1r2)
    return r1r2 * float(np.arctanh(k0)) / float(G0[0, 0] + G0[1, 1]) if k0 > 0 else 0.0


def _equal_norm_pair(W0: object, atol: float) -> np.ndarray:
    W = v.finite_array("W0", W0, 2)
    if W.shape[0] != 2 or W.shape[1] < 2:
        raise ValueError(f"W0 must have exactly 2 rows and at least 2 columns, got shape {W.shape}")
    a, b = float(W[0] @ W[0]), float(W[1] @ W[1])
    if min(a, b) <= 0:
        raise ValueError("W0 must have no zero row")
    if abs(a - b) > atol * max(a, b):
        raise ValueError(f"W0 must have two rows of equal norm, got squared norms {a:.6g} and {b:.6g}")
    if abs(W[0] @ W[1]) >= np.sqrt(a * b) * (1.0 - 1e-15):
        raise ValueError("W0 must have two linearly independent rows (|kappa| < 1)")
    return W


def fixed_norm_pair(W0: np.ndarray, times: Sequence[float] | np.ndarray, *, atol: float = 1e-12) -> np.ndarray:
    """Exact constrained flow of two encodings of equal norm ``W0`` ``(2, m)``: ``(len(times), 2, m)``.

    ``u = W_1 + W_2`` and ``v = W_1 - W_2`` keep their directions and
    ``|u|^2 = 2 r^2 (1 + kappa)``, ``|v|^2 = 2 r^2 (1 - kappa)``, with ``kappa(t)`` from
    :func:`fixed_norm_pair_kappa`. ``atol`` is the relative tolerance on ``|W_1| = |W_2|``.
    """
    W0 = _equal_norm_pair(W0, atol)
    t = v.times(times)
    k = fixed_norm_pair_kappa(W0 @ W0.T, t)[:, None]
    k0 = float(W0[0] @ W0[1]) / float(W0[0] @ W0[0])
    u, w = W0[0] + W0[1], W0[0] - W0[1]
    U = np.sqrt((1.0 + k) / (1.0 + k0)) * u
    V = np.sqrt((1.0 - k) / (1.0 - k0)) * w
    return np.stack([(U + V) / 2, (U - V) / 2], axis=1)


def fixed_norm_pair_limit(W0: np.ndarray, *, atol: float = 1e-12) -> np.ndarray:
    """Where two equal-norm encodings ``W0`` ``(2, m)`` end under the constrained flow, ``(2, m)``.

    ``r S^{-1/2} W0`` with ``S = W0 W0^T``: the symmetric (Loewdin) orthogonalisation of the pair, at
    the pair's norm ``r``. (``W0`` itself if ``kappa_0 <= 0``: nothing moves.)
    """
    W0 = _equal_norm_pair(W0, atol)
    r2 = float(W0[0] @ W0[0])
    k0 = float(W0[0] @ W0[1]) / r2
    if k0 <= 0:
        return W0.copy()
    u, w = W0[0] + W0[1], W0[0] - W0[1]
    U, V = u / np.sqrt(1.0 + k0), w / np.sqrt(1.0 - k0)
    return np.stack([(U + V) / 2, (U - V) / 2])


# --- the free-norm pair, for comparison ------------------------------------------------------------


def unit_pair_gram(kappa0: float) -> np.ndarray:
    """The Gram matrix ``[[1, kappa0], [kappa0, 1]]`` ``(2, 2)`` of two unit encodings with cosine ``kappa0``.

    ``kappa0`` must be a real number in (-1, 1).
    """
    if (
        isinstance(kappa0, bool)
        or not isinstance(kappa0, (int, float, np.floating))
        or not np.isfinite(kappa0)
        or not -1 < kappa0 < 1
    ):
        raise ValueError(f"kappa0 must be a real number in (-1, 1), got {kappa0!r}")
    k = float(kappa0)
    return np.array([[1.0, k], [k, 1.0]])


PAIR_MODELS: tuple[str, ...] = ("fixed_norm", "full", "interference")


def pair_kappa(model: str, kappa0: float, times: Sequence[float] | np.ndarray) -> np.ndarray:
    """Exact cosine ``(len(times),)`` of two unit encodings from ``kappa0`` under a pair model of :data:`PAIR_MODELS`.

    - ``fixed_norm``: :func:`fixed_norm_pair_kappa`;
    - ``full`` (feature benefit and interference, free norms): from :func:`incidental.symmetric_pair`,
      ``X = |u|^2`` and ``Y = |v|^2`` follow ``X' = 2X - X^2`` from ``2(1 +- kappa0)``, and ``kappa = (X - Y)/(X + Y)``
      works out to ``kappa0 e^{-2t} / (1 - kappa0^2 + kappa0^2 e^{-2t})`` (a cosine ``<= 0`` stays put);
    - ``interference`` (alone, free norms): from :func:`incidental.pair_interference_tau`,
      ``(p e^{-2 tau} - q e^{2 tau}) / (p e^{-2 tau} + q e^{2 tau})`` with ``p = 2(1 + kappa0)``, ``q = 2(1 - kappa0)``.
    """
    G0 = unit_pair_gram(kappa0)
    t = v.times(times)
    if model == "fixed_norm":
        return fixed_norm_pair_kappa(G0, t)
    if model == "full":
        e = np.exp(-2 * t)
        return kappa0 * e / ((1 - kappa0) * (1 + kappa0) + kappa0**2 * e) if kappa0 > 0 else np.full_like(t, kappa0)
    if model == "interference":
        tau = pair_interference_tau(G0, t)
        p, q = 2 * (1 + kappa0), 2 * (1 - kappa0)
        return (p * np.exp(-2 * tau) - q * np.exp(2 * tau)) / (p * np.exp(-2 * tau) + q * np.exp(2 * tau))
    raise ValueError(f"model must be one of {PAIR_MODELS}, got {model!r}")


def pair_half_time(model: str, kappa0: float) -> float:
    """Time at which the cosine of two unit encodings has fallen from ``kappa0`` (in (0, 1)) to ``kappa0 / 2``.

    - ``fixed_norm``: ``(1/4) ln((4 - kappa0^2) / (1 - kappa0^2))`` (from :func:`fixed_norm_pair_kappa`);
    - ``full`` (feature benefit and interference): ``(1/2) ln((2 - kappa0^2) / (1 - kappa0^2))``;
    - ``interference`` (alone, free norms): with ``p, q`` as in :func:`pair_kappa`,
      ``z^2 = e^{4 tau} = p (1 - kappa0/2) / (q (1 + kappa0/2))`` at the half point, and
      ``t = (2/sqrt(pq)) [artanh(z sqrt(q/p)) - artanh(sqrt(q/p))]``.

    As ``kappa0 -> 1`` the first two grow like ``(1/4) ln(1/(1-kappa0))`` and ``(1/2) ln(1/(1-kappa0))``, the
    third like ``1/sqrt(1 - kappa0)``. A float.
    """
    unit_pair_gram(kappa0)
    if kappa0 <= 0:
        raise ValueError(f"kappa0 must be positive for a half time, got {kappa0}")
    k2 = kappa0 * kappa0
    if model == "fixed_norm":
        return 0.25 * float(np.log((4 - k2) / (1 - k2)))
    if model == "full":
        return 0.5 * float(np.log((2 - k2) / (1 - k2)))
    if model == "interference":
        p, q = 2 * (1 + kappa0), 2 * (1 - kappa0)
        z = np.sqrt(p * (1 - kappa0 / 2) / (q * (1 + kappa0 / 2)))
        r = np.sqrt(q / p)
        return float(2 / np.sqrt(p * q) * (np.arctanh(z * r) - np.arctanh(r)))
    raise ValueError(f"model must be one of {PAIR_MODELS}, got {model!r}")


# --- which model describes the full flow: first-order prediction ------------------------------------

CROSSOVER_FIRST_ORDER = 0.7968121300200202
"""The root ``t > 0`` of ``t = 1 - e^{-2t}``: where, to first order and for ``n << sqrt(m)``, the fixed-norm
model's error on the positive cosines falls below that of interference alone (:func:`predicted_model_errors`)."""


def predicted_model_errors(n: int, m: int, times: Sequence[float] | np.ndarray) -> dict[str, np.ndarray]:
    """First-order relative error on the positive cosines of the two models of the full flow, ``{model: (T,)}``.

    The full flow is feature benefit and interference with free norms, from ``W`` i.i.d. ``N(0, 1/m)``; the
    models are ``fixed_norm`` (unit norms, the same directions) and ``interference`` (alone, free norms).
    Ignoring third encodings, ``d log kappa_ij / dt = -(a_i + a_j)`` with ``a = ||W||^2``, so a model's error in
    ``log kappa_ij`` is ``-int [(a_i + a_j)_model - (a_i + a_j)_full]``. With ``a_i(0) = 1 + eps_i``,
    ``Var eps_i = 2/m``, and interference draining each ``a_i`` at mean rate ``(n-1)/m e^{-4t}``:
    full flow ``a - 1 = eps e^{-2t} - (n-1)/(2m) (e^{-2t} - e^{-4t})``; interference alone
    ``a - 1 = eps - (n-1)/(4m) (1 - e^{-4t})``; fixed norm ``a = 1``. With ``f = (1 - e^{-2t})/2`` and
    ``h = f - (1 - e^{-4t})/4`` the errors in ``log kappa`` are

    - fixed norm: ``(eps_i + eps_j) f - (n-1)/m h``;
    - interference alone: ``-(eps_i + eps_j)(t - f) + (n-1)/(2m) (t - (1 - e^{-4t})/4) - (n-1)/m h``,

    and their RMS over pairs is ``sqrt((4/m) [random factor]^2 + [mean part]^2)``. The fixed-norm error levels
    off at ``sqrt(1/m + ((n-1)/(4m))^2)``; interference alone's grows like ``2t/sqrt(m)``; for ``n << sqrt(m)`` they
    cross at :data:`CROSSOVER_FIRST_ORDER`.
    """
    n, m = v.sizes(n, m)
    t = v.times(times)
    f = (1 - np.exp(-2 * t)) / 2
    h = f - (1 - np.exp(-4 * t)) / 4
    drain = (n - 1) / m
    fixed = np.sqrt(4 / m * f**2 + (drain * h) ** 2)
    mean_int = drain / 2 * (t - (1 - np.exp(-4 * t)) / 4) - drain * h
    interference = np.sqrt(4 / m * (t - f) ** 2 + mean_int**2)
    return {"fixed_norm": fixed, "interference": interference}


# --- the three flows, compared -----------------------------------------------------------------------


def unit_pair(m: int, kappa0: float, *, seed: int) -> np.ndarray:
    """Two unit encodings ``(2, m)`` with cosine exactly ``kappa0``, in a random orientation of ``R^m``."""
    m = v.size("m", m)
    unit_pair_gram(kappa0)
    rng = np.random.default_rng(v.seed(seed))
    Q, _ = np.linalg.qr(rng.normal(size=(m, 2)))
    return np.array([[1.0, 0.0], [kappa0, np.sqrt((1 - kappa0) * (1 + kappa0))]]) @ Q.T


def cosines(Gs: np.ndarray) -> np.ndarray:
    """Cosines ``(..., n, n)`` of a stack of Gram matrices ``(..., n, n)``."""
    d = np.sqrt(np.einsum("...ii->...i", Gs))
    return Gs / (d[..., :, None] * d[..., None, :])


def positive_cosine_error(K_model: np.ndarray, K_full: np.ndarray) -> np.ndarray:
    """Relative error of a model on the positive cosines, at each time: ``(T,)`` from ``(T, n, n)`` stacks.

    ``||ReLU(K_model) - ReLU(K_full)|| / ||ReLU(K_full)||`` (Frobenius norms over the off-diagonal entries). The
    positive cosines are the interfering pairs; a model whose decay rate for a pair is off by ``delta`` has a
    relative error of about ``delta t`` on it.
    """
    off = ~np.eye(K_full.shape[-1], dtype=bool)
    A = np.maximum(K_model, 0.0)[..., off]
    B = np.maximum(K_full, 0.0)[..., off]
    return np.sqrt(np.sum((A - B) ** 2, axis=-1) / np.sum(B**2, axis=-1))


def crossing_time(times: np.ndarray, d: np.ndarray) -> float:
    """First time at which ``d`` ``(T,)`` turns negative (linear interpolation between ``times``; ``nan`` if never)."""
    for k in range(1, len(times)):
        if d[k] < 0 <= d[k - 1]:
            return float(times[k - 1] + (times[k] - times[k - 1]) * d[k - 1] / (d[k - 1] - d[k]))
    return float("nan")


def three_flows(G0: np.ndarray, times: np.ndarray, *, rtol: float, push: bool = False) -> dict[str, tuple]:
    """The full flow, the fixed-norm flow and interference alone from one ``G0`` ``(n, n)``: ``{flow: (Gs, Ps)}``.

    ``full`` (feature benefit and interference) and ``interference`` (alone) start from ``G0`` with free norms;
    ``fixed_norm`` from its cosines (the same directions at unit norms). ``Gs`` is ``(T, n, n)``; ``Ps`` the
    accumulated push ``(T, n, n)`` if ``push``, else ``None``. All share the tolerance rule of ``solve_ivp``.
    """
    free = simulate_gram_with_push if push else simulate_gram
    fixed = simulate_fixed_norm_gram_with_push if push else simulate_fixed_norm_gram
    runs = {
        "full": free(G0, times, terms=FULL, rtol=rtol),
        "fixed_norm": fixed(cosine_similarity(G0), times, rtol=rtol),
        "interference": free(G0, times, terms=INTERFERENCE, rtol=rtol),
    }
    return runs if push else {k: (G, None) for k, G in runs.items()}


@dataclass(frozen=True)
class SizeComparison:
    """The models' errors against the full flow at one size ``(n, m)``, over ``seeds``.

    ``errors[model]`` is ``(len(seeds), len(times))``: :func:`positive_cosine_error` of the model against the full
    flow from ``G(0) = sample_gram(n, m, seed)``. ``norm_dev[flow]`` (``full``, ``interference``) is
    ``(len(seeds), len(times))``: the RMS over ``i`` of ``||W_i(t)||^2 - 1``, which the fixed-norm model sets to 0.
    """

    n: int
    m: int
    seeds: tuple[int, ...]
    times: np.ndarray
    errors: dict[str, np.ndarray]
    norm_dev: dict[str, np.ndarray]
    confidence: float

    def mean(self, model: str) -> np.ndarray:
        """Mean error over seeds, ``(T,)``."""
        return self.errors[model].mean(axis=0)

    def interval(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        """Student-t interval of the mean error over seeds at level ``confidence``: two ``(T,)`` arrays."""
        e = self.errors[model]
        half = stats.t.ppf(0.5 + self.confidence / 2, e.shape[0] - 1) * e.std(axis=0, ddof=1) / math.sqrt(e.shape[0])
        return e.mean(axis=0) - half, e.mean(axis=0) + half

    @property
    def crossover(self) -> float:
        """First time at which the fixed-norm model's mean error falls below that of interference alone."""
        return crossing_time(self.times, self.mean("fixed_norm") - self.mean("interference"))

    @property
    def stays_below(self) -> float:
        """Fraction of the output times after :attr:`crossover` at which the fixed-norm model's mean error is below
        that of interference alone (1 if it stays the better model once it has become it)."""
        after = self.times > self.crossover
        if not np.any(after):
            return float("nan")
        return float(np.mean(self.mean("fixed_norm")[after] < self.mean("interference")[after]))

    def fraction_better(self, k: int) -> float:
        """Fraction of seeds in which the fixed-norm model has the smaller error at output time ``times[k]``."""
        return float(np.mean(self.errors["fixed_norm"][:, k] < self.errors["interference"][:, k]))


def compare_size(
    n: int, m: int, *, seeds: tuple[int, ...], times: np.ndarray, rtol: float, confidence: float
) -> SizeComparison:
    """Run the three flows from ``sample_gram(n, m, seed)`` for each seed and measure the models' errors
    (arguments trusted: a chapter runner validated them)."""
    errors = {model: [] for model in ("fixed_norm", "interference")}
    dev = {"full": [], "interference": []}
    for s in seeds:
        runs = {k: G for k, (G, _) in three_flows(sample_gram(n, m, seed=s), times, rtol=rtol).items()}
        K_full = cosines(runs["full"])
        for model in errors:
            errors[model].append(positive_cosine_error(cosines(runs[model]), K_full))
        for flow in dev:
            dev[flow].append(np.sqrt(np.mean((np.einsum("tii->ti", runs[flow]) - 1.0) ** 2, axis=1)))
    errors = {k: np.asarray(e) for k, e in errors.items()}
    return SizeComparison(n, m, seeds, times, errors, {k: np.asarray(d) for k, d in dev.items()}, confidence)
