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


# === total push (chapter 5): add formulas here ===
