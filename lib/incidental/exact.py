"""Exact solutions of the flow for special cases: the oracles of the tests.

Two encodings under interference alone
--------------------------------------
With ``n = 2`` and ``g = W_1 . W_2 > 0`` the flow is ``W_1' = -g W_2``,
``W_2' = -g W_1``. The sum ``u = W_1 + W_2`` and difference ``v = W_1 - W_2``
decouple: ``u' = -g u`` and ``v' = g v``. With ``tau(t) = int_0^t g``,
``u(t) = e^{-tau} u_0`` and ``v(t) = e^{tau} v_0``; since
``g = (|u|^2 - |v|^2)/4``, ``z = e^{2 tau}`` solves the Riccati equation
``z' = (p - q z^2)/2`` with ``p = |u_0|^2``, ``q = |v_0|^2``, so
``z(t) = sqrt(p/q) tanh(sqrt(pq) t/2 + artanh(sqrt(q/p)))``. As ``t -> oo``,
``tau -> (1/4) ln(p/q) = (1/2) artanh(2 g_0 / s_0)`` with ``s_0 = |W_1|^2 + |W_2|^2``.

Two encodings of equal norm, feature benefit and interference
--------------------------------------------------------------
If also ``|W_1| = |W_2|`` then ``u . v = 0`` stays 0, and ``X = |u|^2``,
``Y = |v|^2`` follow decoupled logistic equations ``X' = 2X - X^2`` (same for ``Y``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _validate as v
from .model import sample_gram, sample_weights


def _pair_weights(W0: object) -> np.ndarray:
    W = v.finite_array("W0", W0, 2)
    if W.shape[0] != 2:
        raise ValueError(f"W0 must have exactly 2 rows (two encodings), got shape {W.shape}")
    if W.shape[1] < 2:
        raise ValueError(f"W0 must have at least 2 columns, got shape {W.shape}")
    return W


def pair_push_total(G0: np.ndarray) -> float:
    """``int_0^oo ReLU(W_1 . W_2) dt`` for two encodings under interference alone (a float).

    Equals ``(1/2) artanh(2 g_0 / s_0)`` for ``g_0 > 0``, else 0; about ``g_0 / s_0``
    when ``g_0`` is small, half the Gram-Schmidt coefficient ``g_0 / |W_2|^2`` at equal norms.
    """
    G0 = v.gram("G0", G0)
    if G0.shape != (2, 2):
        raise ValueError(f"G0 must be 2x2, got shape {G0.shape}")
    g, s = G0[0, 1], G0[0, 0] + G0[1, 1]
    return 0.5 * float(np.arctanh(2 * g / s)) if g > 0 else 0.0


def pair_interference_tau(G0: np.ndarray, times: Sequence[float] | np.ndarray) -> np.ndarray:
    """``tau(t) = int_0^t ReLU(W_1 . W_2)`` for two encodings under interference alone, ``(len(times),)``."""
    G0 = v.gram("G0", G0)
    t = v.times(times)
    g, s = G0[0, 1], G0[0, 0] + G0[1, 1]
    if g <= 0:
        return np.zeros_like(t)
    p, q = s + 2 * g, s - 2 * g
    z = np.sqrt(p / q) * np.tanh(np.sqrt(p * q) * t / 2 + np.arctanh(np.sqrt(q / p)))
    return 0.5 * np.log(z)


def pair_interference(W0: np.ndarray, times: Sequence[float] | np.ndarray) -> np.ndarray:
    """Exact flow of two encodings ``W0`` ``(2, m)`` under interference alone: ``(len(times), 2, m)``."""
    W0 = _pair_weights(W0)
    t = v.times(times)
    tau = pair_interference_tau(W0 @ W0.T, t)[:, None]
    u, w = W0[0] + W0[1], W0[0] - W0[1]
    U, V = np.exp(-tau) * u, np.exp(tau) * w
    return np.stack([(U + V) / 2, (U - V) / 2], axis=1)


def logistic_norm_sq(a0: np.ndarray | float, times: Sequence[float] | np.ndarray) -> np.ndarray:
    """Solution of ``a' = 2 a (1 - a)`` (a squared norm under feature benefit alone), ``(len(times), *shape(a0))``."""
    t = v.times(times)
    a0 = np.asarray(a0, dtype=float)
    growth = np.exp(-2 * t).reshape((-1,) + (1,) * a0.ndim)
    return 1.0 / (1.0 + (1.0 / a0 - 1.0) * growth)


def feature_benefit_only(W0: np.ndarray, times: Sequence[float] | np.ndarray) -> np.ndarray:
    """Exact flow under feature benefit alone: each ``W_i`` rescaled to ``||W_i||^2 = a(t)``, ``(len(times), n, m)``."""
    W0 = v.weights("W0", W0)
    a0 = np.sum(W0**2, axis=1)
    a = logistic_norm_sq(a0, times)
    return W0[None] * np.sqrt(a / a0)[:, :, None]


def symmetric_pair(W0: np.ndarray, times: Sequence[float] | np.ndarray, *, atol: float = 1e-12) -> np.ndarray:
    """Exact flow of two equal-norm encodings under feature benefit and interference, ``(len(times), 2, m)``."""
    W0 = _pair_weights(W0)
    t = v.times(times)
    u, w = W0[0] + W0[1], W0[0] - W0[1]
    if abs(u @ w) > atol * max(1.0, float(u @ u)):
        raise ValueError("W0 must have two rows of equal norm (|W_1| = |W_2|)")
    if W0[0] @ W0[1] <= 0:  # no interference: each row follows feature benefit alone
        return feature_benefit_only(W0, t)
    X0, Y0 = u @ u, w @ w
    X = 2.0 / (1.0 + (2.0 / X0 - 1.0) * np.exp(-2 * t))
    Y = 2.0 / (1.0 + (2.0 / Y0 - 1.0) * np.exp(-2 * t))
    U = np.sqrt(X / X0)[:, None] * u
    V = np.sqrt(Y / Y0)[:, None] * w
    return np.stack([(U + V) / 2, (U - V) / 2], axis=1)


def regularization_only(W0: np.ndarray, times: Sequence[float] | np.ndarray, *, lam: float) -> np.ndarray:
    """Exact flow under the L1 force alone: ``sign(W0) max(|W0| - lam t, 0)``, ``(len(times), n, m)``."""
    W0 = v.weights("W0", W0)
    t = v.times(times)
    lam = v.lam(lam)
    return np.sign(W0)[None] * np.maximum(np.abs(W0)[None] - lam * t[:, None, None], 0.0)


# === numerator (chapter 2): add formulas here ===


# === denominator (chapter 3): add formulas here ===


# === combined rate (chapter 4): add formulas here ===


def _pair_gram(G0: np.ndarray) -> tuple[float, float, float]:
    G0 = v.gram("G0", G0)
    if G0.shape != (2, 2):
        raise ValueError(f"G0 must be 2x2, got shape {G0.shape}")
    return float(G0[0, 0]), float(G0[1, 1]), float(G0[0, 1])


def pair_decay_rate(G0: np.ndarray) -> float:
    """Late decay rate of ``W_1 . W_2`` (and of ``kappa_12``) for two encodings under interference alone.

    ``(a + b)^2 - 4 g^2`` is conserved (it is ``p q`` above), so ``g' = -g sqrt(pq + 4 g^2)`` and the
    rate tends to ``c = sqrt(s_0^2 - 4 g_0^2)`` (``s_0 = a_0 + b_0``), below the note's ``s_0`` by about
    ``2 g_0^2 / s_0 = Theta(1/m)``. For ``g_0 <= 0`` nothing moves: ``s_0``, the rate the note assigns.
    """
    a, b, g = _pair_gram(G0)
    s, g = a + b, max(g, 0.0)
    return float(np.sqrt(s * s - 4 * g * g))


def pair_overlap(G0: np.ndarray, times: Sequence[float] | np.ndarray) -> np.ndarray:
    """Closed form of ``g(t) = W_1(t) . W_2(t)`` for two encodings under interference alone, ``(len(times),)``.

    The invariant ``(a + b)^2 - 4 g^2 = c^2`` (:func:`pair_decay_rate`) makes ``g' = -g sqrt(c^2 + 4 g^2)``
    separable: ``int dg / (g sqrt(c^2 + 4 g^2)) = -(1/c) arsinh(c / (2 g))``, so

        ``g(t) = c / (2 sinh(c t + arsinh(c / (2 g_0))))``,

    which starts at ``g_0`` with rate ``sqrt(c^2 + 4 g_0^2) = s_0`` and ends like ``e^{-c t}``. It is
    ``d tau/dt`` of :func:`pair_interference_tau`. For ``g_0 <= 0`` the pair does not move: ``g = g_0``.
    """
    a, b, g0 = _pair_gram(G0)
    t = v.times(times)
    if g0 <= 0:
        return np.full_like(t, g0)
    c = np.sqrt((a + b) ** 2 - 4 * g0 * g0)
    z = c * t + np.arcsinh(c / (2 * g0))
    return c * np.exp(-z) / -np.expm1(-2 * z)  # c / (2 sinh z), without overflow at large z


def pair_cosine(G0: np.ndarray, times: Sequence[float] | np.ndarray) -> np.ndarray:
    """Closed form of ``kappa_12(t)`` for two encodings under interference alone, ``(len(times),)``.

    Besides ``(a + b)^2 - 4 g^2``, the difference ``a - b = u . v`` is conserved (``u`` shrinks by
    ``e^{-tau}`` as ``v`` grows by ``e^{tau}``). So ``a + b = sqrt(c^2 + 4 g^2)``,
    ``4 a b = (a + b)^2 - (a_0 - b_0)^2`` and ``kappa = 2 g / sqrt((a + b)^2 - (a_0 - b_0)^2)``
    with ``g`` = :func:`pair_overlap`.
    """
    a, b, g0 = _pair_gram(G0)
    g = pair_overlap(G0, times)
    c2 = (a + b) ** 2 - 4 * max(g0, 0.0) ** 2
    return 2 * g / np.sqrt(c2 + 4 * g * g - (a - b) ** 2)


def interfering_pair_weights(m: int, *, seed: int) -> np.ndarray:
    """Two encodings ``(2, m)`` from ``sample_weights(2, m, seed)``, the second flipped if needed so they interfere."""
    W = sample_weights(2, m, seed=seed)
    return W * np.array([[1.0], [-1.0]]) if W[0] @ W[1] < 0 else W


def rate_deficits(ms: Sequence[int], draws: int) -> np.ndarray:
    """The mean relative deficit ``1 - c/(a_0 + b_0)`` of the late rate :func:`pair_decay_rate` below the
    note's, over the interfering draws among ``sample_gram(2, m, seed=0..draws-1)``, per ``m`` of ``ms``:
    ``(len(ms),)``, about ``1/(2m)``."""
    out = []
    for m in ms:
        grams = (sample_gram(2, m, seed=k) for k in range(v.size("draws", draws, 1)))
        out.append(float(np.mean([1.0 - pair_decay_rate(G) / (G[0, 0] + G[1, 1]) for G in grams if G[0, 1] > 0])))
    return np.asarray(out)


# === total push (chapter 5): add formulas here ===


def pair_norm_sq_loss(G0: np.ndarray) -> float:
    """Loss of ``||W_1||^2`` (equal to that of ``||W_2||^2``) over all time, for two encodings under
    interference alone: ``(s_0 - sqrt(s_0^2 - 4 g_0^2)) / 2`` with ``s_0 = G_11 + G_22``, ``g_0 = G_12 > 0``
    (0 if ``g_0 <= 0``); a float. About ``g_0^2 / s_0``: half the Gram-Schmidt loss ``g_0^2/G_22`` at unit norms.

    Both norms fall at the same rate ``-2 g^2``, and at the end ``s(oo) = sqrt(|u_0|^2 |v_0|^2)``.
    """
    G0 = v.gram("G0", G0)
    if G0.shape != (2, 2):
        raise ValueError(f"G0 must be 2x2, got shape {G0.shape}")
    g, s = G0[0, 1], G0[0, 0] + G0[1, 1]
    return 0.5 * float(s - np.sqrt(s * s - 4 * g * g)) if g > 0 else 0.0


def pair_limit_weights(W0: np.ndarray) -> np.ndarray:
    """End point ``W(oo)`` ``(2, m)`` of two encodings under interference alone:
    ``W_1(oo) = cosh(P) W_1 - sinh(P) W_2`` and symmetrically, with ``P`` = :func:`pair_push_total`."""
    W0 = _pair_weights(W0)
    P = pair_push_total(W0 @ W0.T)
    return np.cosh(P) * W0 - np.sinh(P) * W0[::-1]


def lowdin(W: np.ndarray) -> np.ndarray:
    """Symmetric (Loewdin) orthogonalisation ``S^{-1/2} W`` ``(n, m)`` with ``S = W W^T``: the orthonormal
    rows closest to ``W`` in the least-squares sense, treating every row alike. Two unit encodings with
    overlap ``g`` end the interference flow at ``(1 - g^2)^{1/4}`` times it."""
    W = v.weights("W", W)
    evals, evecs = np.linalg.eigh(W @ W.T)
    return (evecs / np.sqrt(evals)) @ evecs.T @ W


def unit_pair_ratios(gs: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit encodings with overlap ``g`` in ``gs`` (each in ``(0, 1)``): the total push over the
    Gram-Schmidt coefficient, ``artanh(g) / (2 g)``, and the loss of squared norm over the Gram-Schmidt
    loss, ``(1 - sqrt(1 - g^2)) / g^2``; both ``(len(gs),)``, both ``1/2 + O(g^2)``."""
    g = v.finite_array("gs", gs, 1)
    if np.any((g <= 0) | (g >= 1)):
        raise ValueError("gs must lie strictly between 0 and 1 (overlaps of two unit encodings)")
    return np.arctanh(g) / (2 * g), (1 - np.sqrt(1 - g * g)) / (g * g)
