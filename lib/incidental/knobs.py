"""Validation of a chapter runner's knobs at the boundary, from their names and type hints.

Every knob of a knobs cell reaches a runner as a keyword argument; :func:`validate_knobs`
checks each one against its annotation and name, so a bad value raises a ``ValueError`` that
names the knob the reader typed. Code below the runner trusts its arguments.

Rules (by annotation):

- ``int``: an integer; ``seed`` >= 0; sizes (``n``, ``m``, ``*_n``, ``*_m``) >= 2; others >= 1;
  with ``n`` and ``m`` (or ``x_n`` and ``x_m``) both given, ``m >= n``, and so for every entry of
  the tuples ``ms`` (each at least ``n``) and ``ns`` (each at most ``m``);
- ``float``: finite; tolerances, bounds, levels, steps and end times (names containing
  ``tol``, ``bound``, ``level``, ``sigmas``, ``rtol``, ``atol``, or named ``h``, ``t_end``,
  ``confidence``, ``power``) strictly positive, ``confidence`` and ``level`` below 1; others >= 0;
- ``tuple[X, ...]``: a non-empty tuple, each entry checked as ``X`` under the singular name
  (``ms`` as ``m``, ``seeds`` as ``seed``); ``tuple[float, float]`` a window ``(a, b)`` with
  ``0 <= a < b``; ``tuple[tuple[int, int], ...]`` a tuple of ``(n, m)`` sizes with ``m >= n``.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np

_POSITIVE = ("tol", "bound", "level", "sigmas", "rtol", "atol")
_POSITIVE_NAMES = ("h", "step", "t_end", "confidence", "power", "zero", "x_max", "small")
_SINGULAR = {"ms": "m", "ns": "n", "seeds": "seed", "steps": "step"}


def _is_size(name: str) -> bool:
    return name in ("n", "m") or name.endswith(("_n", "_m"))


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    low = 0 if name.startswith("seed") else 2 if _is_size(name) else 1
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return int(value)


def _float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    positive = name in _POSITIVE_NAMES or any(p in name for p in _POSITIVE)
    if positive and value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    if name in ("confidence", "level") or name.endswith("_level"):
        if value >= 1:
            raise ValueError(f"{name} must lie in (0, 1), got {value}")
    return float(value)


def check_value(name: str, hint: Any, value: Any, *, min_length: int = 1) -> Any:
    """``value`` checked as the annotation ``hint`` of the knob ``name``; raises ``ValueError`` naming it."""
    if hint is int:
        return _int(name, value)
    if hint is float:
        return _float(name, value)
    if hint is str or hint is bool:
        if not isinstance(value, hint):
            raise ValueError(f"{name} must be a {hint.__name__}, got {value!r}")
        return value
    if typing.get_origin(hint) is tuple:
        return _tuple(name, typing.get_args(hint), value, min_length)
    return value


def _tuple(name: str, args: tuple, value: Any, min_length: int) -> tuple:
    if not isinstance(value, (tuple, list)):
        raise ValueError(f"{name} must be a tuple, got {value!r}")
    value = tuple(value)
    if len(args) == 2 and args[1] is Ellipsis:
        if len(value) < min_length:
            raise ValueError(f"{name} must hold at least {min_length} value(s), got {len(value)}")
        inner = _SINGULAR.get(name, name)
        if args[0] == tuple[int, int]:
            return tuple(_size_pair(name, x) for x in value)
        return tuple(check_value(inner, args[0], x) for x in value)
    if len(value) != len(args):
        raise ValueError(f"{name} must hold {len(args)} values, got {len(value)}")
    if args == (float, float):
        a, b = (_float(name, x) for x in value)
        if not a < b:
            raise ValueError(f"{name} must be a window (a, b) with a < b, got {value}")
        return (a, b)
    if args == (int, int):
        return _size_pair(name, value)
    return tuple(check_value(name, h, x) for h, x in zip(args, value))


def _size_pair(name: str, value: Any) -> tuple[int, int]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must hold (n, m) pairs, got {value!r}")
    n, m = (_int(f"{name} (n)", value[0]), _int(f"{name} (m)", value[1]))
    if n < 2 or m < n:
        raise ValueError(f"{name}: each (n, m) needs 2 <= n <= m, got {value!r}")
    return (n, m)


def validate_knobs(fn: Callable[..., Any], knobs: Mapping[str, Any], min_lengths: Mapping[str, int]) -> dict[str, Any]:
    """The knobs of ``fn`` checked against its type hints (see the module's rules)."""
    hints = typing.get_type_hints(fn)
    unknown = sorted(set(knobs) - set(hints) - {"return"})
    if unknown:
        known = ", ".join(k for k in hints if k != "return")
        raise ValueError(f"unknown knob {', '.join(unknown)} for {fn.__name__}; its knobs: {known}")
    out = {k: check_value(k, hints.get(k), x, min_length=min_lengths.get(k, 1)) for k, x in knobs.items()}
    for prefix in ("",) + tuple(k[:-1] for k in out if k.endswith("_n")):
        _check_load(out, prefix)
    return out


def _check_load(knobs: Mapping[str, Any], prefix: str) -> None:
    """``m >= n`` between the size knobs ``<prefix>n``/``<prefix>m`` and the size tuples
    ``<prefix>ns``/``<prefix>ms`` (every m of ``ms`` at least ``n``, every n of ``ns`` at most ``m``)."""
    ns, ms = knobs.get(prefix + "ns"), knobs.get(prefix + "ms")
    n, m = knobs.get(prefix + "n"), knobs.get(prefix + "m")
    pairs = [(prefix + "m", prefix + "n", m, n)]
    if isinstance(ms, tuple):
        pairs += [(prefix + "ms", prefix + "n", x, n) for x in ms]
    if isinstance(ns, tuple):
        pairs += [(prefix + "m", prefix + "ns", m, x) for x in ns]
    for m_name, n_name, m_value, n_value in pairs:
        if isinstance(n_value, int) and isinstance(m_value, int) and m_value < n_value:
            raise ValueError(
                f"{m_name} must be >= {n_name} (at least as many neurons as features), got {n_value} and {m_value}"
            )
