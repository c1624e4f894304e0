"""The interference phase, simulated once and shared: the run object chapters 2-6 read.

:func:`phase` integrates the smooth flow in Gram space from ``G(0) = sample_gram(n, m, seed)``
to ``t_end`` and keeps, at ``count`` equally spaced times, the Gram matrix, the push
``P_ij(t) = int_0^t ReLU(G_ij)``, the per-pair loss ``L_ij(t) = 2 int_0^t ReLU(G_ij)^2`` and,
if asked, the transport ``M(t)`` with ``W(t) = M(t) W(0)``. Runs are cached: two chapters (or
two runners) that ask for the same draw, flow and times share one integration.

:attr:`PhaseRun.pairs` sees a run pair by pair (:class:`Pairs`): the cosines of the pairs interfering
at ``t = 0``, the note's prediction ``kappa(0) e^{-int (a+b)}`` and the population's amplitude.

``FLOWS`` names the two smooth flows of the book (interference alone; feature benefit with
interference at ``lam = 0``) and ``FLOW_LABELS`` says them in words: the one definition of each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
from scipy.integrate import cumulative_trapezoid

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

    @cached_property
    def pairs(self) -> Pairs:
        """This run pair by pair (:class:`Pairs`), computed once."""
        d = np.einsum("tii->ti", self.G)
        iu, ju = np.triu_indices(self.n, k=1)
        all_kappa = self.G[:, iu, ju] / np.sqrt(d[:, iu] * d[:, ju])
        keep = self.G[0, iu, ju] > 0
        i, j = iu[keep], ju[keep]
        integral = cumulative_trapezoid(d[:, i] + d[:, j], self.times, axis=0, initial=0.0)
        arrays = [i, j, all_kappa[:, keep], integral, all_kappa]
        for a in arrays:
            a.setflags(write=False)
        return Pairs(self, *arrays)


@dataclass(frozen=True)
class Pairs:
    """A run seen pair by pair, for the pairs ``i < j`` interfering at ``t = 0`` (:attr:`PhaseRun.pairs`).

    ``i, j`` ``(P,)`` the pairs; ``kappa`` ``(T, P)`` their cosines; ``rate_integral`` ``(T, P)``
    ``int_0^t (a + b)`` (trapezoid on the run's times); ``all_kappa`` ``(T, n(n-1)/2)`` every pair's cosine.
    """

    run: PhaseRun
    i: np.ndarray
    j: np.ndarray
    kappa: np.ndarray
    rate_integral: np.ndarray
    all_kappa: np.ndarray

    @property
    def times(self) -> np.ndarray:
        return self.run.times

    def window(self, window: tuple[float, float], name: str = "window") -> np.ndarray:
        """The output times in ``window`` ``(a, b)``, a mask ``(T,)``; ``ValueError`` naming ``name`` unless it
        holds at least two."""
        w = (self.times >= window[0] - 1e-12) & (self.times <= window[1] + 1e-12)
        if w.sum() < 2:
            raise ValueError(f"{name} {window} must hold at least two sample times in [0, {self.times[-1]:g}]")
        return w

    def fitted_rates(self, window: tuple[float, float], name: str = "window") -> tuple[np.ndarray, np.ndarray]:
        """Per pair: (least-squares slope of ``-log kappa`` on ``window``, time-average of ``a + b`` there).

        Pairs that reach zero inside the window are left out. Both ``(P',)``.
        """
        w = self.window(window, name)
        k, t = self.kappa[w], self.times[w]
        ok = np.all(k > 0, axis=0)
        slope = np.polyfit(t, np.log(k[:, ok]), 1)[0]
        return -slope, (self.rate_integral[w][-1, ok] - self.rate_integral[w][0, ok]) / (t[-1] - t[0])

    def late_rate(self, window: tuple[float, float], name: str = "late_window") -> float:
        """Decay rate of the remaining interference on ``window``: the slope of ``-log`` :meth:`remaining_rms`."""
        w = self.window(window, name)
        return float(-np.polyfit(self.times[w], np.log(self.remaining_rms()[w]), 1)[0])

    def first_time(self, values: np.ndarray, level: float) -> float:
        """First time ``values`` ``(T,)`` exceeds ``level`` (linear interpolation between samples; ``inf`` if never)."""
        above = values > level
        if not np.any(above):
            return float("inf")
        k = int(np.argmax(above))
        if k == 0:
            return float(self.times[0])
        t0, t1, y0, y1 = self.times[k - 1], self.times[k], values[k - 1], values[k]
        return float(t0 + (level - y0) * (t1 - t0) / (y1 - y0))

    @property
    def prediction(self) -> np.ndarray:
        """The note's ``kappa_ij(0) exp(-int_0^t (a + b))``, ``(T, P)``."""
        return self.kappa[0] * np.exp(-self.rate_integral)

    @property
    def log_deviation(self) -> np.ndarray:
        """``log(kappa / prediction)`` ``(T, P)`` (NaN once a pair is below zero)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.log(self.kappa / self.prediction)

    def median_deviation(self) -> np.ndarray:
        """Median over pairs of ``|kappa / prediction - 1|``, ``(T,)``."""
        return np.median(np.abs(self.kappa / self.prediction - 1.0), axis=1)

    def amplitude(self) -> tuple[np.ndarray, np.ndarray]:
        """Population amplitude ``A(t) = sum ReLU(kappa) e^{int(a+b)} / sum kappa(0)`` and its standard error
        (delta method over pairs), both ``(T,)``. The note predicts ``A = 1``."""
        y = np.maximum(self.kappa, 0.0) * np.exp(self.rate_integral)
        k0 = self.kappa[0]
        A = y.sum(1) / k0.sum()
        return A, np.sqrt(np.sum((y - A[:, None] * k0) ** 2, axis=1)) / k0.sum()

    def crossed_fraction(self) -> np.ndarray:
        """Fraction of the initially interfering pairs that have reached ``kappa <= 0`` by each time, ``(T,)``."""
        return np.mean(np.maximum.accumulate(self.kappa <= 0, axis=0), axis=1)

    def remaining_rms(self) -> np.ndarray:
        """RMS over all pairs of ``ReLU(kappa)``, ``(T,)``: the interference left, including new pairs."""
        return np.sqrt(np.mean(np.maximum(self.all_kappa, 0.0) ** 2, axis=1))

    def breakdown(self, level: float, late: tuple[float, float]) -> tuple[float, float, float, float]:
        """Where the note's :attr:`prediction` stops describing this run, four floats: the first times
        (:meth:`first_time`; ``inf`` if never) at which the median pair (:meth:`median_deviation`) and the
        population (``log A > log(1 + level)``, :meth:`amplitude`) are ``level`` off; the :meth:`late_rate` on the
        window ``late``, and the :meth:`crossed_fraction` at its start."""
        with np.errstate(divide="ignore"):
            log_a = np.log(self.amplitude()[0])
        crossed = float(self.crossed_fraction()[np.argmax(self.window(late, "late_window"))])
        times = self.first_time(self.median_deviation(), level), self.first_time(log_a, np.log1p(level))
        return *times, self.late_rate(late), crossed

    @property
    def overlaps(self) -> np.ndarray:
        """The pairs' overlaps ``W_i . W_j`` ``(T, P)``."""
        return self.run.G[:, self.i, self.j]


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
