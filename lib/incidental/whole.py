"""The whole model: feature benefit, interference and L1 together, run to convergence.

Chapter *Whole model* (claims W1-W4). The flow ``dW/dt = A(W W^T) W - lam sign(W)`` is
integrated by operator splitting with the exact soft-threshold (proximal) step of the L1
force, which reaches exact zeros:

    W_{k+1} = prox_{lam h}( Phi_h(W_k) ),   prox_a(u) = sign(u) max(|u| - a, 0),

where ``Phi_h`` is one classical RK4 step of the smooth forces (feature benefit and
interference). These iterates are the Strang splitting of :func:`incidental.flow.simulate`
observed just after its soft-threshold step (``Strang = Phi_{h/2} S Phi_{h/2}``, so
``Strang^k = Phi_{h/2} (S Phi_h)^{k-1} S Phi_{h/2}``): they carry exact zeros at every step,
and a weight is zero at step ``k`` exactly when the flow has stopped it at zero.

Two integrators compute the same iterates (the same arithmetic up to round-off):

- ``method="dense"``: the plain one, every RK4 stage in weight space (``O(n^2 m)`` per stage);
- ``method="fast"``: three exact savings.
  1. *Gram-space stages.* Every RK4 stage is ``Y = M W`` with ``M`` ``(n, n)``: ``k = A(G_Y) Y``
     with ``G_Y = M G M^T``. So a step costs ``O(n^3)`` for the stages plus one product ``M W``
     and one Gram matrix ``W W^T`` after the soft threshold (about 1.5 ``n^2 m`` instead of 6).
  2. *Dead neurons.* A column of ``W`` that is entirely zero stays zero (``A W`` acts on each
     column separately and ``S`` keeps zeros), so it is dropped.
  3. *Free features.* Two features interact only if they share a neuron. If, in a connected
     group of features linked by shared neurons, no neuron carries two weights of the same
     sign, every overlap in the group is a sum of negative terms: no interference can act,
     none can start (a zero weight is revived only by interference), and each feature then
     evolves alone under feature benefit and L1: a radial RK4 factor and a uniform shrink of
     its magnitudes, ``O(support)`` per step. Such features leave the dense block for good.

Convergence (the honest rule): the run stops at the first step where (i) the support has not
changed for ``hold`` time units and (ii) the iterate is a fixed point of the step to ``tol``:
``max |W_{k+1} - W_k| / h <= tol``. The time of that step is ``t_end``; ``t_support`` is the
time of the last support change.
"""

from __future__ import annotations

import json
import time as _time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.stats import norm
from scipy.stats import t as student_t

from . import _validate as v
from .checks import ExponentFit, Interval
from .model import interaction_matrix

METHODS = ("fast", "dense")
DEFAULT_STEP = 0.1
DEFAULT_TOL = 1e-9
DEFAULT_HOLD = 10.0


# --- one step ---------------------------------------------------------------------------------


def rk_map(G: np.ndarray, h: float, order: int = 4) -> np.ndarray:
    """The matrix ``M`` ``(n, n)`` with ``RK_h(W) = M W`` for the smooth flow ``dW/dt = A(W W^T) W``, for an
    explicit Runge-Kutta method of ``order`` 2 (midpoint), 3 (Kutta) or 4 (classical).

    Computed from ``G = W W^T`` alone in ``O(n^3)``: every stage is ``Y_s = M_s W`` with Gram
    matrix ``M_s G M_s^T``, and ``k_s = A(M_s G M_s^T) M_s W``.
    """
    n = G.shape[0]
    eye = np.eye(n, dtype=G.dtype)
    K1 = interaction_matrix(G)
    M2 = eye + (0.5 * h) * K1
    K2 = interaction_matrix(M2 @ G @ M2.T) @ M2
    if order == 2:
        return eye + h * K2
    if order == 3:
        M3 = eye - h * K1 + (2.0 * h) * K2
        K3 = interaction_matrix(M3 @ G @ M3.T) @ M3
        return eye + (h / 6.0) * (K1 + 4.0 * K2 + K3)
    M3 = eye + (0.5 * h) * K2
    K3 = interaction_matrix(M3 @ G @ M3.T) @ M3
    M4 = eye + h * K3
    K4 = interaction_matrix(M4 @ G @ M4.T) @ M4
    return eye + (h / 6.0) * (K1 + 2.0 * K2 + 2.0 * K3 + K4)


def _smooth_rate(W: np.ndarray) -> np.ndarray:
    return interaction_matrix(W @ W.T) @ W


def rk_step(W: np.ndarray, h: float, order: int = 4) -> np.ndarray:
    """One explicit Runge-Kutta step of the smooth forces in weight space (the plain way), ``(n, m)``:
    classical RK4 (``order=4``), Kutta's third-order method (3) or the midpoint rule (2)."""
    k1 = _smooth_rate(W)
    k2 = _smooth_rate(W + (0.5 * h) * k1)
    if order == 2:
        return W + h * k2
    if order == 3:
        k3 = _smooth_rate(W - h * k1 + (2.0 * h) * k2)
        return W + (h / 6.0) * (k1 + 4.0 * k2 + k3)
    k3 = _smooth_rate(W + (0.5 * h) * k2)
    k4 = _smooth_rate(W + h * k3)
    return W + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def prox(V: np.ndarray, threshold: float) -> np.ndarray:
    """Soft threshold ``sign(V) max(|V| - threshold, 0)`` (the same numbers as
    :func:`incidental.flow.soft_threshold`, computed as ``V - clip(V, -threshold, threshold)``: faster)."""
    return V - np.clip(V, -threshold, threshold)


def split_step(W: np.ndarray, lam: float, h: float, order: int = 4) -> np.ndarray:
    """One step ``prox_{lam h}(RK_h(W))`` of the splitting (RK of ``order`` 2, 3 or 4), in weight space, ``(n, m)``."""
    return prox(rk_step(W, h, order), lam * h)


def _radial_rk4_factor(r2: np.ndarray, h: float, order: int = 4) -> np.ndarray:
    """An RK step (of ``order`` 2, 3 or 4, as :func:`rk_step`) of ``dx/dt = (1 - |x|^2) x`` maps ``x``
    to ``c x``; ``c`` for each squared norm ``r2``."""
    s1 = 1.0 - r2
    g2 = 1.0 + 0.5 * h * s1
    s2 = (1.0 - g2 * g2 * r2) * g2
    if order == 2:
        return 1.0 + h * s2
    if order == 3:
        g3 = 1.0 - h * s1 + 2.0 * h * s2
        s3 = (1.0 - g3 * g3 * r2) * g3
        return 1.0 + (h / 6.0) * (s1 + 4.0 * s2 + s3)
    g3 = 1.0 + 0.5 * h * s2
    s3 = (1.0 - g3 * g3 * r2) * g3
    g4 = 1.0 + h * s3
    s4 = (1.0 - g4 * g4 * r2) * g4
    return 1.0 + (h / 6.0) * (s1 + 2.0 * s2 + 2.0 * s3 + s4)


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """Summary of the weights at one recorded time ``t`` (see :func:`summarize`)."""

    t: float
    nnz: int  # number of exactly nonzero weights
    max_support: int  # largest number of neurons one feature uses
    single: int  # features on exactly one neuron
    max_overlap: float  # largest W_i . W_j over pairs (interference acts where > 0)
    rms_positive_overlap: float  # root-mean-square of ReLU(W_i . W_j) over all pairs
    interfering: int  # number of pairs i < j with W_i . W_j > 0
    norm_sq: np.ndarray  # (n,) squared norms
    argmax: np.ndarray  # (n,) neuron with the largest |W_ik| (-1 for a dead feature)
    sign: np.ndarray  # (n,) sign of that weight
    W: np.ndarray | None = None  # the weights themselves, if asked


def summarize(W: np.ndarray, t: float = 0.0, *, keep: bool = False) -> Snapshot:
    """A :class:`Snapshot` of weights ``W`` ``(n, m)`` at time ``t``."""
    W = v.finite_array("W", W, 2)
    G = W @ W.T
    n = W.shape[0]
    off = G[~np.eye(n, dtype=bool)]
    support = np.count_nonzero(W, axis=1)
    top = np.argmax(np.abs(W), axis=1)
    sign = np.sign(W[np.arange(n), top]).astype(int)
    top = np.where(support > 0, top, -1)
    return Snapshot(
        float(t),
        int(np.count_nonzero(W)),
        int(support.max()),
        int(np.sum(support == 1)),
        float(off.max()),
        float(np.sqrt(np.mean(np.maximum(off, 0.0) ** 2))),
        int(np.sum(off > 0)) // 2,
        np.diag(G).copy(),
        top,
        sign,
        W.copy() if keep else None,
    )


@dataclass(frozen=True)
class WholeRun:
    """A run of the whole model to convergence (:func:`whole_flow`)."""

    W: np.ndarray  # (n, m) final weights, with exact zeros
    t_end: float  # time at which the convergence rule first held
    t_support: float  # time of the last change of the support
    steps: int
    converged: bool
    residual: float  # max |W_{k+1} - W_k| / h at t_end
    lam: float
    h: float  # step while the weights are dense
    h_sparse: float  # step once the density has fallen below the switch
    tol: float
    hold: float
    method: str
    seconds: float  # wall time of the run
    snapshots: tuple[Snapshot, ...] = ()
    stats: dict[str, Any] = field(default_factory=dict)  # fast path: when each saving started


# --- the fast integrator's state -----------------------------------------------------------------


class _Free:
    """Features that can no longer interact: magnitudes ``X`` (rows sorted descending at entry,
    so the alive weights stay a prefix), their neurons and signs, padded to a common width."""

    def __init__(self, m: int) -> None:
        self.m = m
        self.rows = np.zeros(0, dtype=int)
        self.X = np.zeros((0, 1))
        self._nnz: int | None = None  # count_nonzero(X), kept with X
        self.cols = np.zeros((0, 1), dtype=int)
        self.signs = np.zeros((0, 1))

    def add(self, rows: np.ndarray, block: np.ndarray, cols: np.ndarray) -> None:
        """Take the rows ``block`` ``(k, c)`` (features ``rows``, neurons ``cols``) out of the dense block."""
        width = max(int(np.count_nonzero(block, axis=1).max()), self.X.shape[1])
        if block.shape[1] == 0:  # dead features only: nothing left to sort
            X, S, C = np.zeros((len(rows), width)), np.zeros((len(rows), width)), np.zeros((len(rows), width), int)
        else:
            order = np.argsort(-np.abs(block), axis=1, kind="stable")[:, :width]
            if order.shape[1] < width:  # pad: the block has fewer columns than the width
                pad = width - order.shape[1]
                order = np.concatenate([order, np.repeat(order[:, -1:], pad, axis=1)], axis=1)
            vals = np.take_along_axis(block, order, axis=1)
            keep = np.arange(width)[None, :] < np.count_nonzero(block, axis=1)[:, None]
            X = np.where(keep, np.abs(vals), 0.0)
            S = np.where(keep, np.sign(vals), 0.0)
            C = np.where(keep, cols[order], 0)
        self.X, self.cols, self.signs = (
            self._pad(self.X, width),
            self._pad(self.cols, width),
            self._pad(self.signs, width),
        )
        self.rows = np.concatenate([self.rows, rows])
        self.X = np.concatenate([self.X, X])
        self._nnz = None
        self.cols = np.concatenate([self.cols, C])
        self.signs = np.concatenate([self.signs, S])

    @staticmethod
    def _pad(a: np.ndarray, width: int) -> np.ndarray:
        if a.shape[1] >= width:
            return a
        return np.concatenate([a, np.zeros((a.shape[0], width - a.shape[1]), dtype=a.dtype)], axis=1)

    def step(self, lam: float, h: float, order: int = 4) -> tuple[bool, float]:
        """One splitting step for every free feature; returns (support changed, residual)."""
        if not self.rows.size:
            return False, 0.0
        X = self.X
        c = _radial_rk4_factor(np.einsum("ij,ij->i", X, X), h, order)
        new = np.maximum(c[:, None] * X - lam * h, 0.0)
        nnz = int(np.count_nonzero(new))
        changed = nnz != self.nnz()
        residual = float(np.max(np.abs(new - X))) / h
        self.X, self._nnz = new, nnz
        return changed, residual

    def nnz(self) -> int:
        """Nonzero weights of the free features (counted once per change of ``X``)."""
        if self._nnz is None:
            self._nnz = int(np.count_nonzero(self.X))
        return self._nnz

    def compact(self) -> None:
        """Drop padded columns where no free feature has a weight left."""
        if self.rows.size:
            width = max(1, int(np.count_nonzero(self.X, axis=1).max()))
            self.X, self.cols, self.signs = self.X[:, :width], self.cols[:, :width], self.signs[:, :width]

    def scatter(self, W: np.ndarray) -> None:
        """Write the free features' weights into the full matrix ``W`` ``(n, m)``."""
        if self.rows.size:
            W[self.rows] = 0.0
            r = np.repeat(self.rows, self.X.shape[1]).reshape(self.X.shape)
            alive = self.X > 0
            W[r[alive], self.cols[alive]] = self.signs[alive] * self.X[alive]


def _conflicted_components(B: np.ndarray) -> np.ndarray:
    """For the rows of ``B`` ``(k, c)``: True where the row's group of features (linked by shared
    columns) contains a column with two weights of the same sign (so interference can act)."""
    nz = B != 0
    pos, neg = np.count_nonzero(B > 0, axis=0), np.count_nonzero(B < 0, axis=0)
    bad_col = (pos >= 2) | (neg >= 2)
    bad_row = nz[:, bad_col].any(axis=1)
    if B.shape[0] <= _SMALL_BLOCK:  # dense linking and label propagation: cheaper than sparse graphs here
        return _spread_over_components(nz, bad_row)
    S = csr_matrix(nz.astype(np.int8))
    ncomp, label = connected_components(S @ S.T, directed=False)
    bad_comp = np.zeros(ncomp, dtype=bool)
    bad_comp[label[bad_row]] = True
    return bad_comp[label]


_SMALL_BLOCK = 256
"""Blocks of at most this many features find their groups with dense matrices (:func:`_spread_over_components`)."""


def _spread_over_components(nz: np.ndarray, marked: np.ndarray) -> np.ndarray:
    """Rows of the boolean ``nz`` ``(k, c)`` linked (directly or through other rows) by a shared column to a
    ``marked`` row, the marked rows included: ``marked`` spread over each connected group, ``(k,)``."""
    A = nz.astype(np.float32)
    link = (A @ A.T) > 0  # rows sharing a column (each row with itself)
    reached = marked.copy()
    while True:
        grown = link[:, reached].any(axis=1) if reached.any() else reached
        if np.array_equal(grown, reached):
            return reached
        reached = grown


def _block_step(
    B: np.ndarray,
    G: np.ndarray,
    nnz_B: int,
    lam: float,
    step: float,
    rk_order: int,
    method: str,
    measure: bool,
    t: float,
) -> tuple[np.ndarray, np.ndarray, int, bool, float, bool]:
    """One splitting step of the dense block ``B`` (Gram matrix ``G``). Returns the new ``B, G, nnz``, whether
    the support changed, the residual ``max |B_new - B| / step`` (if ``measure``; 0 otherwise; never finite in
    single precision) and whether a pair still overlaps positively."""
    if method == "dense" or B.shape[1] < 2 * B.shape[0]:
        Bn = split_step(B, lam, step, rk_order)
    else:
        Bn = prox(rk_map(G, step, rk_order).astype(B.dtype, copy=False) @ B, B.dtype.type(lam * step))
    nnz_new = int(np.count_nonzero(Bn))
    changed = nnz_new != nnz_B or bool(np.any((Bn != 0) != (B != 0)))
    res = 0.0
    if B.dtype == np.float32:
        res = np.inf  # never declare convergence in single precision
    elif measure:
        res = float(np.max(np.abs(Bn - B))) / step
    G = Bn @ Bn.T
    if not np.isfinite(G).all():
        raise FloatingPointError(
            f"the integration blew up at t = {t:g} (step {step:g} too large for this n, m: try a smaller h)"
        )
    interfering = bool(np.count_nonzero(G > 0) > np.count_nonzero(G.diagonal() > 0))  # an off-diagonal G_ij > 0
    return Bn, G, nnz_new, changed, res, interfering


def _savings(
    rows: np.ndarray,
    cols: np.ndarray,
    B: np.ndarray,
    G: np.ndarray,
    nnz_B: int,
    free: _Free,
    stats: dict[str, Any],
    t: float,
    sparse_below: float,
    single_above: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """The fast path's exact savings on the dense block ``B`` (features ``rows``, neurons ``cols``, Gram
    matrix ``G``): drop dead neurons, free the features that can no longer interact (into ``free``),
    return to double precision once the block is small. Returns the new ``rows, cols, B, G, nnz_B``."""
    live = np.any(B != 0, axis=0)
    if not live.all():
        if "columns_dropped_from" not in stats:
            stats["columns_dropped_from"] = t
        B, cols = B[:, live], cols[live]
    if rows.size and (nnz_B <= sparse_below * B.size or nnz_B <= 4096):
        bad = _conflicted_components(B)
        if not bad.all():
            stats.setdefault("free_features_from", t)
            good = ~bad
            free.add(rows[good], B[good], cols)
            rows, B = rows[bad], B[bad]
            live = np.any(B != 0, axis=0)
            B, cols = B[:, live], cols[live]
            G = B @ B.T
            nnz_B = int(np.count_nonzero(B))
            if not rows.size:
                stats["dense_block_empty_from"] = t
    if B.dtype == np.float32 and B.size <= single_above:
        B = B.astype(np.float64)
        G = B @ B.T
        stats["single_precision_until"] = t
    free.compact()
    return rows, cols, B, G, nnz_B


# --- the integrator ------------------------------------------------------------------------------


def clock_bounded_steps(h: float, h_sparse: float, lam_sqrt_m: float, tau_step: float) -> tuple[float, float]:
    """``(h, h_sparse)``, each at most ``tau_step / (lam sqrt(m))`` (unchanged unless the bound is smaller)."""
    bound = tau_step / lam_sqrt_m
    return tuple(bound if bound < step * (1 - 1e-9) else step for step in (h, h_sparse))


def whole_flow(
    W0: np.ndarray,
    lam: float,
    *,
    h: float = DEFAULT_STEP,
    h_sparse: float | None = None,
    switch_density: float = 0.02,
    tol: float = DEFAULT_TOL,
    hold: float = DEFAULT_HOLD,
    t_max: float | None = None,
    method: str = "fast",
    record: np.ndarray | list[float] | None = None,
    keep_weights: bool = False,
    partition_every: int = 10,
    sparse_below: float = 0.05,
    polish: float | None = None,
    single_above: int | None = None,
    rk_order: int = 4,
    tau_step: float | None = None,
) -> WholeRun:
    """Run the whole model (feature benefit, interference, L1) from ``W0`` ``(n, m)`` to convergence.

    ``lam``: L1 strength (> 0 for the run to end on exact zeros); ``h``: the step (time units);
    ``tol``: fixed-point tolerance on ``max |W_{k+1} - W_k| / h``; ``hold``: how long (time units)
    the support must have stayed unchanged; ``t_max``: give up there (default ``200 / lam``),
    with ``converged=False``. ``method``: ``"fast"`` or ``"dense"`` (same iterates, see the module
    docstring). ``record``: times at which to keep a :class:`Snapshot` (taken at the first step at
    or after each; the weights too if ``keep_weights``). ``partition_every`` (steps) and
    ``sparse_below`` (density of the dense block under which features are split off) tune the fast
    path only. ``polish``: once converged, go on with this (smaller) step until the iterate is again a
    fixed point to ``tol``, so that the end values carry the step's lag ``O(lam * polish)`` instead of
    ``O(lam * h_sparse)`` (``t_end`` stays the first convergence time). ``single_above`` (fast path
    only): while the dense block has more entries than this, compute it in single precision (twice
    as fast; the fixed-point test and everything after run in double precision). ``tau_step``: bound
    both steps by this fraction of the sparsification clock, ``h, h_sparse <= tau_step / (lam sqrt(m))``
    (a weight of size ``1/sqrt(m)`` shrinks by ``lam h``: at large ``lam sqrt(m)`` a fixed step lets the
    threshold act in too few, too large bites, and features that the flow kills survive). Returns a
    :class:`WholeRun`.
    """
    W0 = v.weights("W0", W0)
    lam = v.lam(lam)
    if lam == 0.0:
        raise ValueError("lam must be positive for the flow to reach exact zeros and stop, got 0")
    h = v.positive("h", h)
    h_sparse = h if h_sparse is None else v.positive("h_sparse", h_sparse)
    if tau_step is not None:
        h, h_sparse = clock_bounded_steps(h, h_sparse, lam * np.sqrt(W0.shape[1]), v.positive("tau_step", tau_step))
    switch_density = v.positive("switch_density", switch_density)
    tol = v.positive("tol", tol)
    hold = 0.0 if hold == 0 else v.positive("hold", hold)  # 0: stop at the first fixed point
    t_max = 200.0 / lam if t_max is None else v.positive("t_max", t_max)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    record_t = np.zeros(0) if record is None else v.times(record)
    partition_every = v.size("partition_every", partition_every, minimum=1)
    polish = None if polish is None else v.positive("polish", polish)
    single_above = None if single_above is None else v.size("single_above", single_above, minimum=1)
    if rk_order not in (2, 3, 4):
        raise ValueError(f"rk_order must be 2, 3 or 4, got {rk_order!r}")
    if method == "dense":
        single_above = None
    sparse_below = v.positive("sparse_below", sparse_below)

    return _integrate(
        W0,
        lam,
        dict(h=h, h_sparse=h_sparse, switch_density=switch_density, tol=tol, hold=hold, t_max=t_max, method=method),
        dict(record_t=record_t, keep_weights=keep_weights, partition_every=partition_every),
        dict(sparse_below=sparse_below, polish=polish, single_above=single_above, rk_order=rk_order),
    )


def _integrate(W0: np.ndarray, lam: float, *settings: dict[str, Any]) -> WholeRun:
    """The loop of :func:`whole_flow` (its arguments validated there, passed as dicts of settings)."""
    c = {k: x for d in settings for k, x in d.items()}
    h, h_sparse, switch_density, tol, hold = c["h"], c["h_sparse"], c["switch_density"], c["tol"], c["hold"]
    t_max, method, record_t, keep_weights = c["t_max"], c["method"], c["record_t"], c["keep_weights"]
    partition_every, sparse_below, polish = c["partition_every"], c["sparse_below"], c["polish"]
    single_above, rk_order = c["single_above"], c["rk_order"]
    h_sparse_given = h_sparse
    n, m = W0.shape
    start = _time.perf_counter()
    snaps: list[Snapshot] = []
    stats: dict[str, Any] = {}
    trace: list[tuple] = []  # (t, block rows, block columns, free features, block nnz, wall seconds)
    t, k = 0.0, 0
    t_support = 0.0
    residual = np.inf
    next_rec = 0

    # dense block: rows (features) x cols (neurons)
    rows = np.arange(n)
    cols = np.arange(m)
    B = W0.copy()
    if single_above is not None and B.size > single_above:
        B = B.astype(np.float32)
        stats["single_precision_until"] = np.inf
    G = B @ B.T
    free = _Free(m)

    def full() -> np.ndarray:
        W = np.zeros((n, m))
        W[np.ix_(rows, cols)] = B
        free.scatter(W)
        return W

    def take_snapshots() -> None:
        nonlocal next_rec
        while next_rec < record_t.size and record_t[next_rec] <= t + 1e-9 * max(1.0, t):
            snaps.append(summarize(full(), t, keep=keep_weights))
            next_rec += 1

    take_snapshots()
    converged = False
    t_end, steps_end = t_max, 0
    nnz_B = int(np.count_nonzero(B))
    step = h
    t_interfering = 0.0  # last time a pair overlapped positively
    while t < t_max:
        # --- one step of every part
        if step != h_sparse and nnz_B + free.nnz() <= switch_density * n * m:
            step = h_sparse
            stats["h_sparse_from"] = t
        changed, res = False, 0.0
        if rows.size:
            measure = t - t_support + step >= hold - 1e-9
            B, G, nnz_B, changed, res, interfering = _block_step(B, G, nnz_B, lam, step, rk_order, method, measure, t)
            if interfering:
                t_interfering = t + step
        fch, fres = free.step(lam, step, rk_order)
        changed = changed or fch
        res = max(res, fres)
        k += 1
        t += step
        residual = res
        if changed:
            t_support = t
            density = (nnz_B + free.nnz()) / (n * m)
            for key, level in (("t_density_half", 0.5), ("t_density_tenth", 0.1), ("t_density_hundredth", 0.01)):
                if key not in stats and density <= level:
                    stats[key] = t
        take_snapshots()
        if t - t_support >= hold - 1e-9 and residual <= tol:
            if not converged:
                converged, t_end, steps_end = True, t, k
            if polish is None or step <= polish:
                break
            step, h_sparse, switch_density = polish, polish, np.inf  # same rule, smaller step
        if method == "fast" and k % partition_every == 0 and rows.size:
            rows, cols, B, G, nnz_B = _savings(rows, cols, B, G, nnz_B, free, stats, t, sparse_below, single_above)
            trace.append((t, rows.size, B.shape[1], free.rows.size, nnz_B, _time.perf_counter() - start))
    stats["trace"] = np.array(trace, dtype=float).reshape(-1, 6)
    stats["t_interference_end"] = t_interfering
    if not converged:
        t_end, steps_end = t, k
    stats["polish_steps"] = k - steps_end
    W, seconds = full(), _time.perf_counter() - start
    run = (W, t_end, t_support, steps_end, converged, residual, lam, h, h_sparse_given, tol, hold, method, seconds)
    return WholeRun(*run, tuple(snaps), stats)


# --- the end state ---------------------------------------------------------------------------------

LAM_CRITICAL = 2.0 / (3.0 * np.sqrt(3.0))  # above it a feature alone on a neuron has no nonzero rest length


def final_length(lam: float) -> float:
    """The length ``w*`` at which a feature alone on one neuron comes to rest (a float).

    Alone on a neuron with weight ``w`` the feature's loss is ``(1 - w^2)^2 / 4 + lam |w|``; its
    stationary points solve ``w (1 - w^2) = lam``, a depressed cubic whose largest root (the stable
    one, the other positive root is a maximum) is

        w* = (2 / sqrt(3)) cos( arccos(-(3 sqrt(3) / 2) lam) / 3 ) = 1 - lam/2 - 3 lam^2/8 + O(lam^3).

    It exists for ``lam <= 2 / (3 sqrt(3))`` (:data:`LAM_CRITICAL`); above, 0 is returned (the
    feature dies).
    """
    lam = v.lam(lam)
    if lam > LAM_CRITICAL:
        return 0.0
    return float(2.0 / np.sqrt(3.0) * np.cos(np.arccos(-1.5 * np.sqrt(3.0) * lam) / 3.0))


def discrete_final_length(lam: float, h: float, order: int = 4) -> float:
    """The rest length of a lone feature under the integrator's step ``prox_{lam h} RK4_h`` (a float).

    The fixed point of ``w -> c(w^2) w - lam h`` (``c`` the radial RK4 factor); it differs from
    :func:`final_length` by ``-lam h / 2`` to first order in ``h`` (the half-step lag of the splitting).
    """
    from scipy.optimize import brentq

    lam, h = v.lam(lam), v.positive("h", h)
    target = final_length(lam)
    if target == 0.0:
        return 0.0
    g = lambda w: float(_radial_rk4_factor(np.array(w * w), h, order) * w - lam * h - w)
    return float(brentq(g, 1.0 / np.sqrt(3.0), 1.0, xtol=1e-15, rtol=1e-15))


def polysemantic_neurons(W: np.ndarray) -> np.ndarray:
    """Indices of the polysemantic neurons of ``W`` ``(n, m)``: those on which two or more features
    have an exactly nonzero weight (no window: the flow reaches exact zeros)."""
    W = v.finite_array("W", W, 2)
    return np.flatnonzero(np.count_nonzero(W, axis=0) >= 2)


def count_polysemantic(W: np.ndarray) -> int:
    """Number of polysemantic neurons of ``W`` (see :func:`polysemantic_neurons`)."""
    return int(polysemantic_neurons(W).size)


@dataclass(frozen=True)
class EndState:
    """What the weights look like at the end (see :func:`end_state`)."""

    features_per_neuron: np.ndarray  # histogram: entry k = number of neurons used by exactly k features
    neurons_per_feature: np.ndarray  # histogram: entry k = number of features on exactly k neurons
    shared: tuple[tuple[int, tuple[int, ...], tuple[int, ...]], ...]  # (neuron, features, signs) if >= 2 features
    opposite_sign_pairs: int  # polysemantic neurons holding exactly two features of opposite signs
    same_sign_shared: int  # polysemantic neurons holding two features of the same sign
    dead_features: int  # features with no weight left
    lengths: np.ndarray  # (n,) |W_i| (the length each feature ends at)


def end_state(W: np.ndarray) -> EndState:
    """Describe the end state of ``W`` ``(n, m)``: which features share which neuron, with which signs,
    and at what length."""
    W = v.finite_array("W", W, 2)
    nz = W != 0
    per_neuron = np.count_nonzero(nz, axis=0)
    per_feature = np.count_nonzero(nz, axis=1)
    shared = []
    opposite = same = 0
    for k in np.flatnonzero(per_neuron >= 2):
        feats = tuple(int(i) for i in np.flatnonzero(nz[:, k]))
        signs = tuple(int(np.sign(W[i, k])) for i in feats)
        shared.append((int(k), feats, signs))
        if len(feats) == 2 and signs[0] != signs[1]:
            opposite += 1
        if len(set(signs)) < len(signs):
            same += 1
    return EndState(
        np.bincount(per_neuron, minlength=3),
        np.bincount(per_feature, minlength=2),
        tuple(shared),
        opposite,
        same,
        int(np.sum(per_feature == 0)),
        np.linalg.norm(W, axis=1),
    )


def init_argmax(W0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each feature, the neuron it is most aligned with (largest ``|W0_ik|``) and that weight's sign."""
    W0 = v.finite_array("W0", W0, 2)
    top = np.argmax(np.abs(W0), axis=1)
    return top, np.sign(W0[np.arange(W0.shape[0]), top]).astype(int)


def mechanism_rate(W0: np.ndarray, W: np.ndarray) -> float:
    """Fraction of the features that end on the neuron they were most aligned with at initialisation
    (claim W4), among the features that end on exactly one neuron (a float; nan if none)."""
    W0 = v.finite_array("W0", W0, 2)
    W = v.finite_array("W", W, 2)
    if W0.shape != W.shape:
        raise ValueError(f"W0 and W must have the same shape, got {W0.shape} and {W.shape}")
    single = np.count_nonzero(W, axis=1) == 1
    if not single.any():
        return float("nan")
    final = np.argmax(np.abs(W), axis=1)
    return float(np.mean((final == init_argmax(W0)[0])[single]))


# --- the prediction -----------------------------------------------------------------------------------


def expected_polysemantic(n: int, m: int) -> float:
    """Predicted mean number of polysemantic neurons (claim W2), from the book's picture (a float).

    Each feature ends on one neuron, with a sign; two features that end on the same neuron with the
    same sign interfere (their overlap is the product of their weights, > 0) and interference moves
    one of them away; with opposite signs the overlap is negative, ReLU silences it, and the pair
    stays. So the end state puts the ``n`` features into ``2m`` slots (neuron, sign), at most one per
    slot, and a neuron is polysemantic exactly when both of its slots are taken. If the slots are a
    uniformly random ``n``-subset (each feature's neuron uniform and independent of the others', its
    sign a fair coin: the picture's "most aligned neuron at initialisation"), then

        E[#polysemantic] = m * n (n - 1) / (2m (2m - 1)) = n (n - 1) / (2 (2m - 1)) = n^2 / (4m) (1 + O(1/n + 1/m)).
    """
    n, m = v.sizes(n, m)
    return n * (n - 1) / (2.0 * (2 * m - 1))


def rival_sign_blind(n: int, m: int) -> float:
    """Rival prediction: every collision of the initial argmaxes stays, whatever the signs:
    ``E = m (1 - (1 - 1/m)^n - n/m (1 - 1/m)^(n-1)) ~ n^2 / (2m)`` (neurons with >= 2 features)."""
    n, m = v.sizes(n, m)
    q = 1.0 / m
    return m * (1.0 - (1.0 - q) ** n - n * q * (1.0 - q) ** (n - 1))


def rival_no_relocation(n: int, m: int) -> float:
    """Rival prediction: opposite-sign pairs stay but a same-sign loser has nowhere else to go (its slot
    is simply lost): a neuron is polysemantic iff it is the initial argmax of at least one positive and
    one negative feature, ``E = m (1 - (1 - 1/(2m))^n)^2`` about, ``~ n^2/(4m) (1 - n/(2m))``."""
    n, m = v.sizes(n, m)
    return m * (1.0 - (1.0 - 0.5 / m) ** n) ** 2


# --- sweeps ----------------------------------------------------------------------------------------------

#: The integrator settings of the book's sweeps (see the chapter for how they were chosen).
SWEEP_SETTINGS: dict[str, float] = {
    "h": 0.25,
    "h_sparse": 1.0,
    "switch_density": 0.1,
    "tol": DEFAULT_TOL,
    "polish": 0.01,
    "hold": DEFAULT_HOLD,
    "single_above": 2**15,
    "rk_order": 3,
    "tau_step": 0.1,
}


#: Times at which :func:`run_point` looks at the weights, in units of ``1 / (lam sqrt(m))`` (the
#: sparsification clock: a weight of size ``1/sqrt(m)`` shrinks at rate ``lam``).
TAU_GRID: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


def argmax_collisions(argmax: np.ndarray, sign: np.ndarray) -> int:
    """Number of neurons that are the argmax of at least one positive and one negative feature: the
    polysemantic count the picture predicts if every feature ended on its current argmax."""
    ok = argmax >= 0
    pos = np.zeros(argmax.max() + 1 if ok.any() else 1, dtype=bool)
    neg = pos.copy()
    pos[argmax[ok & (sign > 0)]] = True
    neg[argmax[ok & (sign < 0)]] = True
    return int(np.sum(pos & neg))


def run_point(
    n: int,
    m: int,
    seed: int,
    *,
    lam: float,
    method: str = "fast",
    tau_grid: tuple[float, ...] = TAU_GRID,
    **settings: float,
) -> dict[str, Any]:
    """One run of the whole model from ``sample_weights(n, m, seed=seed)``, as a flat record (a dict of
    numbers and short lists, ready for JSON): the count, the end state, the mechanism, the time scales,
    the cost. ``settings`` override :data:`SWEEP_SETTINGS`. At each time ``tau / (lam sqrt(m))`` of
    ``tau_grid`` it records the density, the largest overlap, the fraction of features whose current
    argmax is their final neuron (``decided``) and :func:`argmax_collisions`."""
    from .model import sample_weights

    n, m = v.sizes(n, m)
    lam = v.lam(lam)
    W0 = sample_weights(n, m, seed=seed)
    clock = 1.0 / (lam * np.sqrt(m))
    run = whole_flow(W0, lam, method=method, record=[tau * clock for tau in tau_grid], **{**SWEEP_SETTINGS, **settings})
    state = end_state(run.W)
    final = np.argmax(np.abs(run.W), axis=1)
    single = np.count_nonzero(run.W, axis=1) == 1
    order = np.argsort(-np.abs(W0), axis=1)
    rank = np.argmax(order == final[:, None], axis=1)  # rank of the final neuron at initialisation (0 = argmax)
    alive = run.W[run.W != 0]
    rec: dict[str, Any] = {
        "n": n,
        "m": m,
        "seed": int(seed),
        "lam": lam,
        "lam_sqrt_m": float(lam * np.sqrt(m)),
        "polysemantic": count_polysemantic(run.W),
        "opposite_sign_pairs": state.opposite_sign_pairs,
        "same_sign_shared": state.same_sign_shared,
        "max_features_per_neuron": int(state.features_per_neuron.size - 1),
        "single_neuron_features": int(single.sum()),
        "dead_features": state.dead_features,
        "init_collisions": argmax_collisions(*init_argmax(W0)),
        "mechanism": mechanism_rate(W0, run.W),
        "rank_mean": float(rank[single].mean()) if single.any() else np.nan,
        "rank_le_2": float(np.mean(rank[single] <= 2)) if single.any() else np.nan,
        "mean_length": float(np.mean(np.abs(alive))) if alive.size else 0.0,
        "t_end": run.t_end,
        "t_support": run.t_support,
        "converged": bool(run.converged),
        "steps": run.steps,
        "seconds": run.seconds,
        "method": method,
    }
    for key in ("t_density_half", "t_density_tenth", "t_density_hundredth", "t_interference_end"):
        rec[key] = float(run.stats.get(key, np.nan))
    fates = pair_fates(W0, run.W)
    rec.update(
        {
            "initial_pairs": fates.initial_pairs,
            "kept_pairs": fates.kept,
            "new_pairs": fates.new,
            "stay_single": fates.stay_single,
            "stay_pair": fates.stay_pair,
            "stay_same": fates.stay_same,
            "movers": fates.movers,
        }
    )
    taus, dens, overlap, decided, coll = [], [], [], [], []
    for snap in run.snapshots:
        taus.append(snap.t / clock)
        dens.append(snap.nnz / (n * m))
        overlap.append(snap.max_overlap)
        decided.append(float(np.mean((snap.argmax == final)[single])) if single.any() else np.nan)
        coll.append(argmax_collisions(snap.argmax, snap.sign))
    rec.update({"tau": taus, "density": dens, "max_overlap": overlap, "decided": decided, "collisions": coll})
    return rec


SWEEP_FORMAT = "sweep_whole/1"
"""The ``format`` of a sweep file's first line (:func:`read_sweep`)."""


def count_ratio(records: list[dict[str, Any]], confidence: float = 0.95) -> Interval:
    """The records' polysemantic counts over their prediction, pooled (:func:`~incidental.pooled_ratio`)."""
    predicted = [expected_polysemantic(r["n"], r["m"]) for r in records]
    return pooled_ratio([r["polysemantic"] for r in records], predicted, confidence)


#: The bands of the load ``m / n`` over which chapter 7 pools the count's ratio to its prediction, ``[low, high)``.
LOAD_BANDS: tuple[tuple[float, float], ...] = ((2.0, 4.0), (4.0, 8.0), (8.0, 17.0))


def in_band(records: list[dict[str, Any]], band: tuple[float, float]) -> list[dict[str, Any]]:
    """The records whose load ``m / n`` lies in ``band = (low, high)``, ``low <= m/n < high``."""
    return [r for r in records if band[0] <= r["m"] / r["n"] < band[1]]


def ratios_by_load(
    runs: list[dict[str, Any]], confidence: float = 0.95
) -> tuple[list[Interval], dict[int, list[Interval]], list[Interval]]:
    """The count over its prediction (:func:`count_ratio`) in each band of :data:`LOAD_BANDS`: pooled over
    ``n``; at each ``n``, ``{n: [ratio per band]}`` (nan where a band has no run); and its trend with ``n``
    in each band, the change per doubling of ``n`` (:func:`ratio_trend`)."""
    ns = sorted({r["n"] for r in runs})
    bands = [count_ratio(in_band(runs, b), confidence) for b in LOAD_BANDS]
    by_n = {n: [count_ratio(in_band([r for r in runs if r["n"] == n], b), confidence) for b in LOAD_BANDS] for n in ns}
    trends = []
    for k in range(len(LOAD_BANDS)):
        at = [n for n in ns if np.isfinite(by_n[n][k].value)]
        trends.append(ratio_trend(at, [by_n[n][k] for n in at], confidence))
    return bands, by_n, trends


def mean_by_lam(runs: list[dict[str, Any]], key: str, confidence: float, scale: float = 1.0) -> dict[str, Any]:
    """The mean of ``key`` over ``scale``, with its interval, at each recorded ``lam sqrt(m)`` (a figure's
    series: ``c``, ``value``, ``low``, ``high``, and the runs' ``n`` and ``m``)."""
    cs = sorted({round(r["lam_sqrt_m"], 6) for r in runs})
    means = [mean_interval([r[key] for r in runs if round(r["lam_sqrt_m"], 6) == c], confidence) for c in cs]
    parts = {part: np.array([getattr(x, part) for x in means]) / scale for part in ("value", "low", "high")}
    return dict(c=np.array(cs), n=runs[0]["n"], m=runs[0]["m"], **parts)


def ratio_trend(ns: list[int], ratios: list[Interval], confidence: float = 0.95) -> Interval:
    """Weighted least-squares slope of measured ratios (normal intervals at ``confidence``) against ``log2 n``:
    the change per doubling of ``n``, with its interval (nan if fewer than two ratios)."""
    if len(ratios) < 2:
        return Interval(float("nan"), float("nan"), float("nan"))
    z = norm.ppf(0.5 + confidence / 2)
    x, r = np.log2(np.asarray(ns, float)), np.array([q.value for q in ratios])
    w = 1.0 / (np.array([(q.high - q.low) / (2 * z) for q in ratios]) ** 2)
    xm = np.sum(w * x) / np.sum(w)
    sxx = np.sum(w * (x - xm) ** 2)
    slope, se = float(np.sum(w * (x - xm) * r) / sxx), float(1.0 / np.sqrt(sxx))
    return Interval(slope, slope - z * se, slope + z * se)


def ratio_difference(a: Interval, b: Interval, confidence: float = 0.95) -> Interval:
    """``a - b`` for two independent measured ratios (normal intervals at ``confidence``), with its interval."""
    half = np.hypot(a.high - a.value, b.high - b.value)
    diff = a.value - b.value
    return Interval(float(diff), float(diff - half), float(diff + half))


def over_time(records: list[dict[str, Any]], key: str) -> np.ndarray:
    """``key`` of each record at the times of ``TAU_GRID`` that every run reached, ``(runs, times)``."""
    reached = min(len(r["tau"]) for r in records)
    return np.array([r[key][:reached] for r in records], dtype=float)


def step_study(runs: list[dict[str, Any]], reference: str = "rk4_fixed") -> list[tuple[dict, str, float, float, float]]:
    """The step-convergence study (``scripts/step_convergence.py``) as rows ``(point, key, reference mean, book
    mean, standard error of their paired difference)``: for each point ``(n, m, lam_sqrt_m, seeds)`` and each
    of the count, the dead fraction, the mechanism and ``t_end``, the book's scheme against ``reference`` on the
    same seeds."""
    by: dict[tuple, dict[str, dict[int, dict]]] = {}
    for r in runs:
        row = {**r, "dead_fraction": r["dead_features"] / r["n"]}
        by.setdefault((r["n"], r["m"], r["lam_sqrt_m"]), {}).setdefault(r["scheme"], {})[r["seed"]] = row
    out = []
    for (n, m, c), schemes in sorted(by.items()):
        seeds = sorted(set(schemes["book"]) & set(schemes[reference]))
        for key in ("polysemantic", "dead_fraction", "mechanism", "t_end"):
            ref, book = (np.array([schemes[k][s][key] for s in seeds], dtype=float) for k in (reference, "book"))
            se = float((book - ref).std(ddof=1) / np.sqrt(len(seeds)))
            out.append((dict(n=n, m=m, lam_sqrt_m=c, seeds=len(seeds)), key, float(ref.mean()), float(book.mean()), se))
    return out


def read_recorded(path: Path) -> dict[str, Any] | None:
    """A recorded file (``None`` if absent): a sweep (JSON Lines, :func:`read_sweep`) as its header with its
    records under ``"runs"``, or a plain JSON document (the benchmark's)."""
    if not path.exists():
        return None
    if path.suffix != ".jsonl":
        return json.loads(path.read_text())
    header, runs = read_sweep(path)
    return {**header, "runs": runs}


#: What :func:`read_sweep` adds to a sweep's header (read from its later lines, not what defines the sweep).
SWEEP_DERIVED: tuple[str, ...] = ("sessions", "wall_seconds", "cpu_seconds", "finished", "missing")


def read_sweep(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A sweep recorded by ``scripts/sweep_whole.py`` (JSON Lines): ``(header, records)``.

    The file's first line is the header, what defines the sweep (``format``, ``library_version``, the
    integrator ``settings`` with the ``lam`` rule, the grid ``n``, ``m``, ``seeds``); every later line is one
    run (a :func:`run_point` record) or, under the single key ``"session"``, what one invocation of the script
    did (command, workers, wall time). ``header`` is the first line plus ``sessions`` (their list),
    ``wall_seconds`` (summed over them: a killed session records none), ``cpu_seconds`` (summed over the
    runs), ``finished`` (the last invocation ended: false while a sweep runs or after it was killed; true
    after runs that failed for good, which ``missing`` lists, see :func:`missing_runs`); ``records`` are sorted
    by ``(n, m, lam, seed)``. A last line cut off by an interrupted writer (no final newline, not JSON) is
    ignored; a run recorded twice is an error.
    """
    path = Path(path)
    lines = path.read_text().split("\n")
    rows = []
    for k, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if k == len(lines) - 1:  # the unfinished last line of an interrupted writer
                break
            raise ValueError(f"{path}, line {k + 1}: not JSON: {line[:80]!r}") from None
    if not rows or rows[0].get("format") != SWEEP_FORMAT:
        raise ValueError(f"{path}: not a sweep file (its first line has no format {SWEEP_FORMAT!r})")
    header, sessions, records, seen = dict(rows[0]), [], [], set()
    for row in rows[1:]:
        if set(row) == {"session"}:
            sessions.append(row["session"])
            continue
        key = (row["n"], row["m"], row["seed"], row["lam"])
        if key in seen:
            raise ValueError(f"{path}: the run n={key[0]}, m={key[1]}, seed={key[2]}, lam={key[3]!r} is recorded twice")
        seen.add(key)
        records.append(row)
    records.sort(key=lambda r: (r["n"], r["m"], r["lam"], r["seed"]))
    header["sessions"] = sessions
    header["wall_seconds"] = sum(s.get("wall_seconds", 0.0) for s in sessions)
    header["finished"] = bool(sessions) and sessions[-1].get("status", "complete") in ("complete", "failed runs")
    header["cpu_seconds"] = sum(r["seconds"] for r in records)
    header["missing"] = missing_runs(header, records)
    return header, records


def missing_runs(header: dict[str, Any], records: list[dict[str, Any]]) -> list[dict[str, int]]:
    """The points of a sweep's grid (``header``'s ``n``, ``m`` with ``m >= n``, ``seeds`` per value of ``lam``)
    with fewer records than planned: ``[{"n", "m", "runs"}]``, ``runs`` the number missing (runs that failed
    for good, or have not run yet)."""
    lams = max(1, len({round(r.get("lam_sqrt_m", r["lam"] * np.sqrt(r["m"])), 9) for r in records}))
    done: dict[tuple[int, int], int] = {}
    for r in records:
        done[(r["n"], r["m"])] = done.get((r["n"], r["m"]), 0) + 1
    planned = [(n, m) for n in header.get("n", []) for m in header.get("m", []) if m >= n]
    short = [(n, m, header["seeds"] * lams - done.get((n, m), 0)) for n, m in planned]
    return [dict(n=n, m=m, runs=k) for n, m, k in short if k > 0]


@dataclass(frozen=True)
class CountSummary:
    """Polysemantic counts of a sweep, per ``(n, m)``: mean, its confidence interval, the prediction."""

    n: np.ndarray
    m: np.ndarray
    runs: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    predicted: np.ndarray

    def subset(self, n: int) -> CountSummary:
        """The rows at ``n`` features."""
        sel = self.n == n
        return CountSummary(**{f: getattr(self, f)[sel] for f in self.__dataclass_fields__})


def summarize_counts(
    records: list[dict[str, Any]], *, confidence: float = 0.95, key: str = "polysemantic"
) -> CountSummary:
    """Group run records by ``(n, m)``: mean of ``key`` with a Student-t interval, and the prediction
    :func:`expected_polysemantic`."""
    groups: dict[tuple[int, int], list[float]] = {}
    for r in records:
        groups.setdefault((int(r["n"]), int(r["m"])), []).append(float(r[key]))
    keys = sorted(groups)
    means = [mean_interval(groups[k], confidence) for k in keys]
    return CountSummary(
        np.array([n for n, _ in keys]),
        np.array([m for _, m in keys]),
        np.array([len(groups[k]) for k in keys]),
        *(np.array([getattr(x, part) for x in means]) for part in ("value", "low", "high")),
        np.array([expected_polysemantic(n, m) for n, m in keys]),
    )


@dataclass(frozen=True)
class PoissonFit(ExponentFit):
    """``count ~ Poisson(prefactor * m**exponent)`` (quasi-Poisson intervals), fitted to run records."""

    dispersion: float = 1.0  # Pearson chi^2 / dof: 1 for Poisson counts, < 1 if under-dispersed
    method = "quasi-Poisson "


def fit_count_exponent(
    m: np.ndarray, counts: np.ndarray, *, offset: np.ndarray | None = None, confidence: float = 0.95
) -> PoissonFit:
    """Fit ``log E[count] = log(offset) + a + b log(m)`` by Poisson maximum likelihood (Newton's method;
    counts may be 0, unlike a fit of log-means), with a Wald interval for ``b`` scaled by the
    Pearson dispersion (quasi-Poisson). ``m`` and ``counts`` are per run, 1-d, equal length."""
    x = np.log(v.finite_array("m", m, 1))
    y = v.finite_array("counts", counts, 1)
    if x.shape != y.shape or x.size < 3:
        raise ValueError("m and counts must be 1-d of equal length >= 3")
    if np.any(y < 0):
        raise ValueError("counts must be non-negative")
    off = np.zeros_like(x) if offset is None else np.log(v.finite_array("offset", offset, 1))
    X = np.column_stack([np.ones_like(x), x - x.mean()])
    beta = np.array([np.log(max(y.mean(), 1e-3)) - off.mean(), 0.0])
    for _ in range(100):
        mu = np.exp(off + X @ beta)
        grad = X.T @ (y - mu)
        hess = X.T @ (X * mu[:, None])
        delta = np.linalg.solve(hess, grad)
        beta += delta
        if np.max(np.abs(delta)) < 1e-12:
            break
    mu = np.exp(off + X @ beta)
    dispersion = float(np.sum((y - mu) ** 2 / mu) / max(y.size - 2, 1))
    cov = np.linalg.inv(X.T @ (X * mu[:, None])) * max(dispersion, 1e-12)
    half = norm.ppf(0.5 + confidence / 2) * np.sqrt(cov[1, 1])
    b = float(beta[1])
    return PoissonFit(b, b - half, b + half, float(np.exp(beta[0] - b * x.mean())), confidence, dispersion)


def count_fit(records: list[dict[str, Any]]) -> PoissonFit:
    """:func:`fit_count_exponent` of the polysemantic counts of run records against their ``m``."""
    return fit_count_exponent(np.array([r["m"] for r in records]), np.array([r["polysemantic"] for r in records]))


def pooled_ratio(counts: np.ndarray, predicted: np.ndarray, confidence: float = 0.95) -> Interval:
    """Pooled ratio ``sum(counts) / sum(predicted)`` with a normal interval from the per-run scatter."""
    counts, predicted = np.asarray(counts, float), np.asarray(predicted, float)
    if counts.size == 0 or predicted.sum() <= 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    ratio = counts.sum() / predicted.sum()
    se = np.sqrt(np.sum((counts - ratio * predicted) ** 2)) / predicted.sum()
    z = norm.ppf(0.5 + confidence / 2)
    return Interval(float(ratio), float(ratio - z * se), float(ratio + z * se))


def mean_interval(x: np.ndarray | list[float], confidence: float) -> Interval:
    """The mean of ``x`` with its Student-t interval (nan ends for a single value)."""
    x = np.asarray(x, float)
    half = student_t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size) if x.size > 1 else np.nan
    return Interval(float(x.mean()), float(x.mean() - half), float(x.mean() + half))


def runs_needed(records: list[dict[str, Any]], summary: CountSummary, confidence: float, power: float) -> np.ndarray:
    """Runs per point a two-sided test at ``confidence`` and ``power`` needs to tell the prediction from the
    no-relocation rival, given the per-run variance of the count at each ``m`` of ``summary``."""
    z = norm.ppf(0.5 + confidence / 2) + norm.ppf(power)
    var = np.array([np.var([r["polysemantic"] for r in records if r["m"] == m], ddof=1) for m in summary.m])
    rival = np.array([rival_no_relocation(int(n), int(m)) for n, m in zip(summary.n, summary.m)])
    return (z**2) * var / (summary.predicted - rival) ** 2


# --- the sparsification clock ----------------------------------------------------------------------


def isolated_density(tau: np.ndarray | list[float]) -> np.ndarray:
    """Fraction of the weights of one encoding still nonzero at ``tau = lam sqrt(m) t``, if it evolved alone
    (feature benefit and L1, no interference), in the limit ``m -> oo`` with ``lam sqrt(m) -> 0``; ``(len(tau),)``.

    With ``y = sqrt(m) |W_ik|`` (half-normal at ``t = 0``) and the norm at its quasi-static value (feature
    benefit balancing L1: ``1 - |W_i|^2 = lam |W_i|_1 / |W_i|^2``), every living weight follows
    ``dy/dtau = y / ybar - 1`` with ``ybar = E[y^2] / E[y]`` over the living weights: feature benefit
    rescales all of them by the same factor and L1 lowers all of them by the same amount, so
    ``y(tau) = a y(0) - b`` with ``da/dtau = a / ybar``, ``db/dtau = b / ybar + 1``, and a weight is
    alive while ``y(0) > b / a``. The half-normal integrals are closed forms; ``(a, b)`` is integrated
    by ``solve_ivp``. The law is the same for every ``m`` and ``lam``: ``tau`` is the sparsification clock.
    """
    from scipy.integrate import solve_ivp

    tau = v.finite_array("tau", tau, 1)
    if np.any(tau < 0) or np.any(np.diff(tau) < 0):
        raise ValueError("tau must be non-negative and non-decreasing")

    def moments(a: float, b: float) -> tuple[float, float]:
        th = b / a
        phi, tail = norm.pdf(th), norm.sf(th)
        m1 = a * 2 * phi - b * 2 * tail
        m2 = a * a * 2 * (th * phi + tail) - 2 * a * b * 2 * phi + b * b * 2 * tail
        return m1, m2

    def rhs(_t: float, y: np.ndarray) -> list[float]:
        a, b = y
        m1, m2 = moments(a, b)
        inv = m1 / m2 if m2 > 0 else 0.0
        return [a * inv, b * inv + 1.0]

    if tau[-1] == 0:
        return np.ones_like(tau)
    grid, inverse = np.unique(tau, return_inverse=True)
    sol = solve_ivp(rhs, (0.0, float(grid[-1])), [1.0, 0.0], t_eval=grid, rtol=1e-10, atol=1e-12)
    return (2.0 * norm.sf(sol.y[1] / sol.y[0]))[inverse]


# --- the phases: derived time scales -------------------------------------------------------------------


def interference_floor(lam: float) -> float:
    """Root-mean-square positive overlap that L1 keeps alive while the weights are dense (a float): ``lam / 2``.

    L1 moves an overlap at rate ``-lam (sign(W_i) . W_j + W_i . sign(W_j))``, a sum of two terms of
    variance ``|W_j|^2 ~ 1`` and ``|W_i|^2 ~ 1``: about ``-lam X`` with ``X ~ N(0, 2)``. Interference pulls a
    positive overlap back at rate ``|W_i|^2 + |W_j|^2 ~ 2`` (chapter 2), much faster than the drive changes,
    so a pair whose drive is positive sits at ``lam X / 2``: half the pairs interfere, with
    ``E[ReLU(lam X / 2)^2] = lam^2 / 4``.
    """
    return v.lam(lam) / 2.0


def resolution_time(lam: float, m: int) -> float:
    """Time at which the initial interference has decayed to the L1 floor (a float; 0 if it starts below it).

    The initial positive overlaps have root-mean-square ``1 / sqrt(2m)`` and decay like ``e^{-2t}``
    (chapter 4), so they reach :func:`interference_floor` at ``t = ln(sqrt(2) / (lam sqrt(m))) / 2``.
    """
    lam, m = v.lam(lam), v.size("m", m)
    return float(max(0.0, 0.5 * np.log(np.sqrt(2.0) / (lam * np.sqrt(m))))) if lam > 0 else float("inf")


def sparsification_half_tau() -> float:
    """``tau = lam sqrt(m) t`` at which a lone encoding has lost half of its weights (:func:`isolated_density`)."""
    from scipy.optimize import brentq

    return float(brentq(lambda x: isolated_density([0.0, x])[-1] - 0.5, 0.1, 5.0, xtol=1e-10))


def norm_dip(lam: float, m: int) -> float:
    """``1 - |W_i|^2`` while the weights are dense (a float): feature benefit balances L1 when
    ``(1 - |W_i|^2) |W_i|^2 = lam |W_i|_1``, and a Gaussian encoding of length 1 has ``|W_i|_1 = sqrt(2m/pi)``,
    so ``1 - |W_i|^2 = sqrt(2/pi) lam sqrt(m)`` (first order; the balance needs ``lam sqrt(m) < sqrt(pi/2)``)."""
    lam, m = v.lam(lam), v.size("m", m)
    return float(np.sqrt(2.0 / np.pi) * lam * np.sqrt(m))


# --- the mechanism: what happens to the initial collisions -----------------------------------------------


@dataclass(frozen=True)
class PairFates:
    """How the features of one run moved between their initial argmax and their final neuron."""

    initial_pairs: int  # neurons that are the initial argmax of exactly one positive and one negative feature
    kept: int  # of those, pairs that end together on that neuron
    final_pairs: int  # polysemantic neurons at the end
    new: int  # final pairs that were not an initial pair
    stay_single: float  # fraction of features without any initial collision that end on their argmax
    stay_pair: float  # the same for features of an initial opposite-sign pair
    stay_same: float  # the same for features of an initial same-sign collision
    movers: int  # features that end elsewhere than their initial argmax


def pair_fates(W0: np.ndarray, W: np.ndarray) -> PairFates:
    """Compare the initial argmaxes of ``W0`` with the final neurons of ``W`` (both ``(n, m)``)."""
    W0 = v.finite_array("W0", W0, 2)
    W = v.finite_array("W", W, 2)
    if W0.shape != W.shape:
        raise ValueError(f"W0 and W must have the same shape, got {W0.shape} and {W.shape}")
    a0, s0 = init_argmax(W0)
    af = np.argmax(np.abs(W), axis=1)
    stay = af == a0
    n = W0.shape[0]
    in_pair = np.zeros(n, dtype=bool)
    in_same = np.zeros(n, dtype=bool)
    pairs = set()
    for k in np.unique(a0):
        f = np.flatnonzero(a0 == k)
        for sg in (1, -1):
            g = f[s0[f] == sg]
            if g.size >= 2:
                in_same[g] = True
        if f.size == 2 and s0[f[0]] != s0[f[1]]:
            in_pair[f] = True
            pairs.add((int(k), int(f[0]), int(f[1])))
    kept = sum(1 for k, i, j in pairs if af[i] == k and af[j] == k)
    nz = W != 0
    final = [(int(k), *map(int, np.flatnonzero(nz[:, k]))) for k in polysemantic_neurons(W)]
    new = sum(1 for p in final if p not in pairs)
    single = ~in_pair & ~in_same

    def frac(mask: np.ndarray) -> float:
        return float(stay[mask].mean()) if mask.any() else float("nan")

    return PairFates(len(pairs), kept, len(final), new, frac(single), frac(in_pair), frac(in_same), int(np.sum(~stay)))
