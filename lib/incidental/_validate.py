"""Input validation shared by the whole library.

Every public function checks its arguments here, so that bad input raises a
``ValueError`` that names the offending argument instead of a numpy error deep
inside a computation.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np

TERMS: tuple[str, ...] = ("feature_benefit", "interference", "regularization")
SMOOTH_TERMS: tuple[str, ...] = ("feature_benefit", "interference")


def size(name: str, value: object, minimum: int = 2) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def sizes(n: object, m: object) -> tuple[int, int]:
    """Validate the model's sizes: ``n >= 2`` features, ``m >= n`` neurons."""
    n_, m_ = size("n", n), size("m", m)
    if m_ < n_:
        raise ValueError(f"m must be >= n (the model needs at least as many neurons as features), got n={n_}, m={m_}")
    return n_, m_


def seed(value: object) -> int:
    """An explicit, non-negative integer seed."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise ValueError(f"seed must be a non-negative integer, got {value!r}")
    return int(value)


def lam(value: object) -> float:
    """A finite, non-negative regularisation strength."""
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
        raise ValueError(f"lam must be a finite real number, got {value!r}")
    if value < 0:
        raise ValueError(f"lam must be non-negative, got {value}")
    return float(value)


def finite_array(name: str, value: object, ndim: int) -> np.ndarray:
    """A float64 copy-free view of ``value`` with ``ndim`` dimensions and only finite entries."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array: {exc}") from exc
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values")
    return arr


def weights(name: str, value: object, *, min_features: int = 2) -> np.ndarray:
    """An ``(n, m)`` weight matrix with ``n >= min_features`` and ``m >= n``."""
    W = finite_array(name, value, 2)
    n, m = W.shape
    if n < min_features:
        raise ValueError(f"{name} must have at least {min_features} rows (features), got shape {W.shape}")
    if m < n:
        raise ValueError(f"{name} must have at least as many columns (neurons) as rows (features), got shape {W.shape}")
    return W


def gram(name: str, value: object, *, min_features: int = 2) -> np.ndarray:
    """A square, symmetric ``(n, n)`` Gram matrix with a positive diagonal."""
    G = finite_array(name, value, 2)
    if G.shape[0] != G.shape[1]:
        raise ValueError(f"{name} must be square, got shape {G.shape}")
    if G.shape[0] < min_features:
        raise ValueError(f"{name} must be at least {min_features}x{min_features}, got shape {G.shape}")
    scale = max(1.0, float(np.max(np.abs(G))))
    if not np.allclose(G, G.T, rtol=0.0, atol=1e-10 * scale):
        raise ValueError(f"{name} must be symmetric")
    if np.any(np.diag(G) <= 0):
        raise ValueError(f"{name} must have a positive diagonal (squared norms)")
    return G


def times(value: object) -> np.ndarray:
    """A 1-d array of finite, non-negative, strictly increasing times."""
    t = finite_array("times", value, 1)
    if t.size == 0:
        raise ValueError("times must not be empty")
    if t[0] < 0:
        raise ValueError(f"times must start at or after 0, got {t[0]}")
    if np.any(np.diff(t) <= 0):
        raise ValueError("times must be strictly increasing")
    return t


def terms(value: object, allowed: Sequence[str] = TERMS) -> tuple[str, ...]:
    """A non-empty tuple of distinct force names taken from ``allowed``."""
    if isinstance(value, str):
        value = (value,)
    try:
        chosen = tuple(value)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ValueError(f"terms must be a sequence of force names, got {value!r}") from exc
    if not chosen:
        raise ValueError("terms must name at least one force")
    for term in chosen:
        if term not in allowed:
            raise ValueError(f"terms: unknown force {term!r}; choose from {tuple(allowed)}")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"terms must not repeat a force, got {chosen}")
    return chosen


def positive(name: str, value: object) -> float:
    """A finite, strictly positive real number (tolerances, step sizes)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return float(value)


def pair(i: object, j: object, n: int) -> tuple[int, int]:
    """Two distinct feature indices in ``range(n)``."""
    i_ = size("i", i, minimum=0)
    j_ = size("j", j, minimum=0)
    if i_ >= n:
        raise ValueError(f"i must be < n={n}, got {i_}")
    if j_ >= n:
        raise ValueError(f"j must be < n={n}, got {j_}")
    if i_ == j_:
        raise ValueError(f"i and j must differ, got i=j={i_}")
    return i_, j_
