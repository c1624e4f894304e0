"""The interference phase, simulated once and shared: the run object chapters 2-6 read.

:func:`phase` integrates the smooth flow in Gram space from ``G(0) = sample_gram(n, m, seed)``
to ``t_end`` and keeps, at ``count`` equally spaced times, the Gram matrix, the push
``P_ij(t) = int_0^t ReLU(G_ij)``, the per-pair loss ``L_ij(t) = 2 int_0^t ReLU(G_ij)^2`` and,
if asked, the transport ``M(t)`` with ``W(t) = M(t) W(0)``. Runs are cached: two chapters (or
two runners) that ask for the same draw, flow and times share one integration.

``FLOWS`` names the two smooth flows of the book (interference alone; feature benefit with
interference at ``lam = 0``) and ``FLOW_LABELS`` says them in words: the one definition of each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .flow import simulate_gram, simulate_gram_phase
from .model import cosine_similarity, offdiagonal, sample_gram

INTERFERENCE: tuple[str, ...] = ("interference",)
FULL: tuple[str, ...] = ("feature_benefit", "interference")
FLOWS: dict[str, tuple[str, ...]] = {"interference": INTERFERENCE, "full": FULL}
FLOW_LABELS: dict[str, str] = {"interference": "interference only", "full": "feature benefit + interference, λ=0"}


def flow_terms(flow: str) -> tuple[str, ...]:
    """The forces of the named flow (``"interference"`` or ``"full"``); raises ``ValueError`` naming ``flow``."""
    if flow not in FLOWS:
        raise ValueError(f"flow must be one of {sorted(FLOWS)}, got {flow!r}")
    return FLOWS[flow]


@dataclass(frozen=True)
class PhaseRun:
    """One simulated interference phase: ``G``, ``P`` (push ``int_0^t ReLU(G_ij)``), ``L`` (per-pair loss
    ``2 int_0^t ReLU(G_ij)^2``) and, if asked, ``M`` (transport ``W(t) = M(t) W(0)``), each ``(len(times), n, n)``."""

    n: int
    m: int
    times: np.ndarray
    G: np.ndarray
    P: np.ndarray | None
    L: np.ndarray | None
    M: np.ndarray | None

    @property
    def G0(self) -> np.ndarray:
        return self.G[0]

    @property
    def interfering(self) -> np.ndarray:
        """``(n, n)`` bool: ordered pairs ``i != j`` with ``G_ij(0) > 0``."""
        mask = self.G0 > 0
        np.fill_diagonal(mask, False)
        return mask

    @property
    def push(self) -> np.ndarray:
        return self.P[-1]

    @property
    def norm_drop(self) -> np.ndarray:
        """``||W_i(0)||^2 - ||W_i(end)||^2``, ``(n,)``."""
        return np.diag(self.G[0]) - np.diag(self.G[-1])

    def kappa(self, k: int = -1) -> np.ndarray:
        """``sqrt(m) kappa_ij`` at output time ``k`` for the ``n(n-1)/2`` pairs."""
        return offdiagonal(cosine_similarity(self.G[k])) * math.sqrt(self.m)

    @property
    def convergence(self) -> float:
        """How much the push still moved over the last quarter of the run, relative to its size."""
        k = int(0.75 * (len(self.times) - 1))
        return float(np.max(np.abs(self.P[-1] - self.P[k])) / max(np.max(np.abs(self.P[-1])), 1e-300))


@lru_cache(maxsize=1024)
def phase(
    n: int,
    m: int,
    seed: int,
    *,
    flow: str,
    rtol: float,
    t_end: float | None = None,
    count: int = 5,
    times: tuple[float, ...] | None = None,
    accumulate: bool = True,
    transport: bool = False,
) -> PhaseRun:
    """The interference phase from ``G(0) = sample_gram(n, m, seed=seed)``, cached: runners that
    share draws share runs.

    Output times are ``times`` if given, else ``count`` equally spaced times from 0 to ``t_end``.
    With ``accumulate`` the push and the loss are integrated along (:func:`simulate_gram_phase`,
    absolute tolerance scaled to the overlaps); without it only ``G`` is, as
    :func:`~incidental.flow.simulate_gram` does (cheaper; ``P`` and ``L`` are then ``None``).
    Arguments are trusted (a runner validated them).
    """
    G0 = sample_gram(n, m, seed=seed)
    t = np.asarray(times, dtype=float) if times is not None else np.linspace(0.0, t_end, count)
    if not accumulate:
        return PhaseRun(n, m, t, simulate_gram(G0, t, terms=flow_terms(flow), rtol=rtol), None, None, None)
    ph = simulate_gram_phase(G0, t, terms=flow_terms(flow), rtol=rtol, loss=True, transport=transport)
    return PhaseRun(n, m, t, ph.G, ph.P, ph.L, ph.M)
