"""Chapter 5 (Total push): claims T1-T4.

Over the interference phase each interfering pair ``(i, j)`` pushes ``W_i`` along
``-W_j`` with a total coefficient ``P_ij = int_0^oo ReLU(W_i . W_j) dt`` (claim T1),
which costs ``W_i`` some squared norm (T2); summed over ``j`` the encodings barely
move (T3). Claim T4 says the encodings then look like independent uniform unit
vectors; this module measures in which respects they do and in which they do not.

Everything runs on the Gram flow (cost independent of ``m``) except the weight-space
displacement and the rotation checks, which need coordinates.

A few closed forms derived in the chapter live here (candidates for the core
modules ``exact``/``derivation``): :func:`pair_norm_sq_loss`, :func:`pair_limit_weights`,
:func:`lowdin`, :func:`pair_push_prediction`, :func:`pair_loss_prediction` and the
expected constants ``expected_*``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

from .. import _validate as v
from .. import svgplot
from ..checks import Check, ExponentFit, check_below, check_close, check_exponent
from ..derivation import gram_schmidt_coefficient, gram_schmidt_norm_loss
from ..exact import pair_interference, pair_push_total
from ..explore import Control, Explorable, Panel
from ..flow import simulate, simulate_gram_phase, simulate_gram_with_push
from ..model import (cosine_similarity, interference_weights, offdiagonal, sample_gram,
                     sample_weights)

INTERFERENCE: tuple[str, ...] = ("interference",)
FULL: tuple[str, ...] = ("feature_benefit", "interference")
T_END = 15.0          # end of the simulated phase: positive overlaps decay like e^{-2t}, e^{-30} ~ 1e-13
RTOL = 1e-9           # relative tolerance of the flows behind identities and widgets
SCAN_RTOL = 1e-7      # relative tolerance of the flows behind statistics over many draws
N_TIMES = 61          # output times of a widget run (for the time-course plots)
SCAN_TIMES = (0.0, 0.5 * T_END, 0.75 * T_END, T_END)   # output times of a scan run
ZERO = 1e-3           # |sqrt(m) kappa| below this counts as "pushed to zero"
C_FLUCT = 0.2         # measured: RMS of the per-pair push fluctuation is about C_FLUCT sqrt(n-2)/m


# --- closed forms -------------------------------------------------------------------------------

def pair_norm_sq_loss(G0: np.ndarray) -> float:
    """Loss of ``||W_1||^2`` (equal to that of ``||W_2||^2``) over all time, for two encodings under
    interference alone: ``(s_0 - sqrt(s_0^2 - 4 g_0^2)) / 2`` with ``s_0 = G_11 + G_22``, ``g_0 = G_12 > 0``
    (0 if ``g_0 <= 0``). About ``g_0^2 / s_0``: half the Gram-Schmidt loss ``g_0^2/G_22`` at equal norms.
    """
    G0 = v.gram("G0", G0)
    if G0.shape != (2, 2):
        raise ValueError(f"G0 must be 2x2, got shape {G0.shape}")
    g, s = G0[0, 1], G0[0, 0] + G0[1, 1]
    return 0.5 * float(s - np.sqrt(s * s - 4 * g * g)) if g > 0 else 0.0


def pair_limit_weights(W0: np.ndarray) -> np.ndarray:
    """End point ``W(oo)`` ``(2, m)`` of two encodings under interference alone:
    ``W_1(oo) = cosh(P) W_1 - sinh(P) W_2`` and symmetrically, with ``P`` = :func:`~incidental.pair_push_total`."""
    W0 = v.weights("W0", W0)
    if W0.shape[0] != 2:
        raise ValueError(f"W0 must have exactly 2 rows, got shape {W0.shape}")
    P = pair_push_total(W0 @ W0.T)
    return np.cosh(P) * W0 - np.sinh(P) * W0[::-1]


def lowdin(W: np.ndarray) -> np.ndarray:
    """Symmetric (Loewdin) orthogonalisation ``S^{-1/2} W`` ``(n, m)`` with ``S = W W^T``: the orthonormal
    rows closest to ``W`` in the least-squares sense, treating every row alike."""
    W = v.weights("W", W)
    evals, evecs = np.linalg.eigh(W @ W.T)
    return (evecs / np.sqrt(evals)) @ evecs.T @ W


def pair_push_prediction(G: np.ndarray) -> np.ndarray:
    """The two-encoding push ``(1/2) artanh(2 ReLU(G_ij) / (G_ii + G_jj))`` for every pair, ``(n, n)``
    (zero diagonal): what :func:`~incidental.pair_push_total` gives if the other encodings are ignored."""
    G = v.gram("G", G)
    d = np.diag(G)
    return 0.5 * np.arctanh(2 * interference_weights(G) / (d[:, None] + d[None, :]))


def pair_loss_prediction(G: np.ndarray) -> np.ndarray:
    """The two-encoding norm loss :func:`pair_norm_sq_loss` for every pair, ``(n, n)`` (zero diagonal)."""
    G = v.gram("G", G)
    d = np.diag(G)
    s = d[:, None] + d[None, :]
    R = interference_weights(G)
    return 0.5 * (s - np.sqrt(s * s - 4 * R * R))


def push_shift(n: int, m: int) -> float:
    """Mean extra push on an interfering pair from the ``n - 2`` third encodings: ``(n - 2) / (8 pi m)``.

    Derived in the chapter: third encodings raise ``d(W_i . W_j)/dt`` on average by
    ``(n-2)(e^{-2t} - e^{-4t}) / (pi m)`` (positive overlaps decay, negative ones stay), which
    adds ``(1/2) int_0^oo`` of it to ``P_ij``.
    """
    n, m = v.sizes(n, m)
    return (n - 2) / (8 * math.pi * m)


def expected_push(n: int, m: int) -> float:
    """``E[P_ij | G_ij(0) > 0] ~ 1/sqrt(2 pi m) + (n-2)/(8 pi m)`` (half of ``E[G_ij | G_ij > 0]``, plus the shift)."""
    n, m = v.sizes(n, m)
    return 1 / math.sqrt(2 * math.pi * m) + push_shift(n, m)


def push_slope_prediction(n: int, m: int) -> float:
    """Least-squares slope of ``P_ij`` on the Gram-Schmidt coefficient ``c_ij`` over interfering pairs:
    ``1/2 + push_shift * E[c | c>0] / E[c^2 | c>0] = 1/2 + sqrt(2/pi) (n-2) / (8 pi sqrt(m))``."""
    n, m = v.sizes(n, m)
    return 0.5 + math.sqrt(2 / math.pi) * (n - 2) / (8 * math.pi * math.sqrt(m))


def expected_pair_loss(n: int, m: int) -> float:
    """``E[l_ij | G_ij(0) > 0]``, the mean loss of ``||W_i||^2`` from one interfering pair:
    ``(1/(2m)) (1 + (n-2) / (3 pi sqrt(2 pi m)))`` (``g^2/2`` with ``E[g^2 | g>0] = 1/m``, plus the
    third encodings' lift ``g (n-2)/(12 pi m)``)."""
    n, m = v.sizes(n, m)
    return (1 + (n - 2) / (3 * math.pi * math.sqrt(2 * math.pi * m))) / (2 * m)


def expected_norm_drop(n: int, m: int) -> float:
    """``E[||W_i(0)||^2 - ||W_i(oo)||^2]`` under interference alone: ``(n-1)/2`` times :func:`expected_pair_loss`,
    i.e. ``(n-1)/(4m) (1 + (n-2)/(3 pi sqrt(2 pi m)))``."""
    n, m = v.sizes(n, m)
    return (n - 1) / 2 * expected_pair_loss(n, m)


def expected_displacement(n: int, m: int) -> float:
    """Predicted RMS of ``|W_i(oo) - W_i(0)| / |W_i(0)|``: ``sqrt((n-1) E[P^2])`` with
    ``E[P^2] = (1/(8m)) (1 + (n-2)/(pi sqrt(2 pi m)))`` over all ordered pairs."""
    n, m = v.sizes(n, m)
    return math.sqrt((n - 1) / (8 * m) * (1 + (n - 2) / (math.pi * math.sqrt(2 * math.pi * m))))


# --- the phase, in Gram space --------------------------------------------------------------------

@dataclass(frozen=True)
class PhaseRun:
    """One simulated interference phase in Gram space.

    ``G``, ``P``, ``L`` are ``(len(times), n, n)``: the Gram matrix, the accumulated push
    coefficients ``P_ij(t) = int_0^t ReLU(G_ij)`` and the accumulated per-pair norm losses
    ``L_ij(t) = 2 int_0^t ReLU(G_ij)^2`` (interference's share of the drop of ``||W_i||^2``
    caused by ``W_j``; ``sum_j L_ij`` is all of it).
    """

    n: int
    m: int
    seed: int
    terms: tuple[str, ...]
    times: np.ndarray
    G: np.ndarray
    P: np.ndarray
    L: np.ndarray

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
        """Total push coefficients ``P_ij(T)``, ``(n, n)``."""
        return self.P[-1]

    @property
    def pair_loss(self) -> np.ndarray:
        """Total per-pair norm losses ``L_ij(T)``, ``(n, n)``."""
        return self.L[-1]

    @property
    def norm_drop(self) -> np.ndarray:
        """``||W_i(0)||^2 - ||W_i(T)||^2`` for each ``i``, ``(n,)``."""
        return np.diag(self.G[0]) - np.diag(self.G[-1])

    @property
    def kappa_end(self) -> np.ndarray:
        """``sqrt(m) kappa_ij(T)`` for the ``n(n-1)/2`` pairs, ``(n(n-1)/2,)``."""
        return offdiagonal(cosine_similarity(self.G[-1])) * math.sqrt(self.m)

    @property
    def convergence(self) -> float:
        """How much the push still moved over the last quarter of the run, relative to its size."""
        k = int(0.75 * (len(self.times) - 1))
        return float(np.max(np.abs(self.P[-1] - self.P[k])) / max(np.max(np.abs(self.P[-1])), 1e-300))


def run_phase(G0: np.ndarray, times: np.ndarray, *, terms: tuple[str, ...] = INTERFERENCE,
              rtol: float = RTOL, transport: bool = False, loss: bool = True) -> tuple[np.ndarray, ...]:
    """This chapter's phase: ``(G, P, L)`` or, with ``transport=True``, ``(G, P, L, M)``, each
    ``(len(times), n, n)``, from :func:`incidental.flow.simulate_gram_phase` (interference only by
    default, loss integrated; ``L`` is zeros when ``loss=False``)."""
    phase = simulate_gram_phase(G0, times, terms=terms, rtol=rtol, loss=loss, transport=transport)
    L = phase.L if loss else np.zeros_like(phase.P)
    return (phase.G, phase.P, L, phase.M) if transport else (phase.G, phase.P, L)


def phase_times(t_end: float = T_END, count: int = N_TIMES) -> np.ndarray:
    """Output times ``(count,)``, ``0 .. t_end``."""
    return np.linspace(0.0, t_end, count)


@lru_cache(maxsize=512)
def phase(n: int, m: int, seed: int, terms: tuple[str, ...] = INTERFERENCE, detailed: bool = False) -> PhaseRun:
    """The phase from ``G(0) = sample_gram(n, m, seed=seed)`` to ``T_END`` (cached).

    ``detailed=True``: :data:`N_TIMES` output times at tolerance :data:`RTOL` (widgets); otherwise the
    four :data:`SCAN_TIMES` at :data:`SCAN_RTOL` (statistics over many draws).
    """
    times = phase_times() if detailed else np.asarray(SCAN_TIMES)
    G, P, L = run_phase(sample_gram(n, m, seed=seed), times, terms=terms, rtol=RTOL if detailed else SCAN_RTOL)
    return PhaseRun(n, m, seed, tuple(terms), times, G, P, L)


def seeds_for(n: int, *, base: int) -> tuple[int, ...]:
    """Seeds ``base, base+1, ...``: enough that about ``2048`` ordered pairs ``(i, j)`` are averaged at size ``n``."""
    return tuple(base + k for k in range(max(1, 2048 // (n * n))))


def push_slope(run: PhaseRun) -> float:
    """Least-squares slope (through 0) of ``P_ij`` on ``c_ij`` over the interfering ordered pairs."""
    c = gram_schmidt_coefficient(run.G0)[run.interfering]
    return float(np.sum(run.push[run.interfering] * c) / np.sum(c * c))


# --- T1, T2 for two encodings: exact ------------------------------------------------------------

def equal_norm_pair(m: int, g: float, *, seed: int) -> np.ndarray:
    """Two unit encodings ``(2, m)`` with overlap exactly ``g``, in a random orientation."""
    v.size("m", m)
    rng = np.random.default_rng(v.seed(seed))
    Q, _ = np.linalg.qr(rng.normal(size=(m, 2)))
    return np.array([[1.0, 0.0], [g, math.sqrt(1 - g * g)]]) @ Q.T


def pair_errors(*, seed: int = 0, count: int = 8) -> dict[str, float]:
    """Errors of the two-encoding closed forms on ``count`` random interfering pairs (``n = 2``, ``m = 8``,
    ``t`` to ``2 T_END``): relative errors of the push (this chapter's flow, and ``inc.simulate_gram_with_push``),
    of the norm loss, of ``sum_j L_ij`` against the drop, and the largest ``|W(oo) - formula|`` of the end
    point against :func:`pair_limit_weights` and the rescaled Loewdin orthogonalisation."""
    push_err, loss_err, lib_err, sum_err = 0.0, 0.0, 0.0, 0.0
    times = phase_times(2 * T_END, 3)
    for k in range(count):
        W0 = sample_weights(2, 8, seed=seed + k)
        if W0[0] @ W0[1] < 0:
            W0[1] *= -1.0
        G0 = W0 @ W0.T
        G, P, L = run_phase(G0, times)
        push = pair_push_total(G0)
        push_err = max(push_err, abs(P[-1, 0, 1] - push) / push)
        lib = simulate_gram_with_push(G0, times, terms=INTERFERENCE, rtol=RTOL)[1][-1, 0, 1]
        lib_err = max(lib_err, abs(lib - push) / push)
        loss = pair_norm_sq_loss(G0)
        drops = np.diag(G0) - np.diag(G[-1])
        loss_err = max(loss_err, float(np.max(np.abs(drops - loss))) / loss)
        sum_err = max(sum_err, float(np.max(np.abs(L[-1].sum(axis=1) - drops))) / loss)
    end_err = 0.0
    for k, g in enumerate((0.05, 0.2, 0.5)):
        W0 = equal_norm_pair(16, g, seed=seed + k)
        end = pair_interference(W0, [0.0, 60.0])[-1]
        end_err = max(end_err, float(np.max(np.abs(end - (1 - g * g) ** 0.25 * lowdin(W0)))),
                      float(np.max(np.abs(end - pair_limit_weights(W0)))))
    return {"push": push_err, "library": lib_err, "loss": loss_err, "loss_sum": sum_err, "end": end_err}


def pair_checks(errors: dict[str, float] | None = None, *, seed: int = 0) -> list[Check]:
    """T1, T2 for two encodings: the checks of :func:`pair_errors` (computed if not given)."""
    e = pair_errors(seed=seed) if errors is None else errors
    regime = f"n=2, m=8, 8 random interfering pairs, t to {2 * T_END:g}"
    return [
        check_below("T1", "two encodings: simulated P = (1/2) artanh(2 g0/s0)", measured=e["push"],
                    bound=1e-7, regime=regime, quantity="rel. error"),
        check_below("T1", "inc.simulate_gram_with_push gives the same P", measured=e["library"],
                    bound=1e-7, regime=regime, quantity="rel. error"),
        check_below("T1", "end point = cosh/sinh formula = (1-g²)^¼ × Löwdin S^(-1/2) W(0)", measured=e["end"],
                    bound=1e-12, regime="n=2, m=16, unit norms, g in {0.05, 0.2, 0.5}", quantity="max |ΔW|"),
        check_below("T2", "two encodings: each loses (s0 - sqrt(s0² - 4 g0²))/2 of ||W||²", measured=e["loss"],
                    bound=1e-7, regime=regime, quantity="rel. error"),
        check_below("T2", "sum over j of the per-pair losses L_ij = drop of ||W_i||²", measured=e["loss_sum"],
                    bound=1e-7, regime=regime, quantity="rel. error"),
    ]


def pair_ratio_curve(gs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For two unit encodings with overlap ``g`` (``gs`` ``(k,)``): push / Gram-Schmidt coefficient and
    norm loss / Gram-Schmidt loss, both ``(k,)``; both tend to 1/2 as ``g -> 0``."""
    push = np.array([pair_push_total(np.array([[1.0, g], [g, 1.0]])) for g in gs]) / gs
    loss = np.array([pair_norm_sq_loss(np.array([[1.0, g], [g, 1.0]])) for g in gs]) / gs**2
    return push, loss


# --- T1, T2 over m: Theta claims ------------------------------------------------------------------

M_GRID: tuple[int, ...] = tuple(4**k for k in range(5, 16))
M_LARGE = 4**7        # constants are compared over m >= M_LARGE, where first-order corrections are reliable


@dataclass(frozen=True)
class PairStats:
    """Pooled statistics of one ``(n, m)`` over several draws (interference alone; interfering ordered pairs)."""

    n: int
    m: int
    seeds: tuple[int, ...]
    mean_push: float       # E[P_ij]
    mean_gs: float         # E[c_ij]
    slope: float           # least-squares slope of P on c (through 0)
    shift: float           # E[P_ij - two-encoding prediction]
    spread: float          # RMS of (P_ij - two-encoding prediction - shift)
    mean_loss: float       # E[L_ij]
    mean_gs_loss: float    # E[G_ij^2 / G_jj]
    mean_drop: float       # E_i[||W_i(0)||^2 - ||W_i(T)||^2]
    pair_drop: float       # E_i[sum_j two-encoding loss]: the drop if pairs did not interact
    convergence: float     # largest relative move of P over the last quarter of the run


def pair_stats(n: int, m: int, seeds: tuple[int, ...]) -> PairStats:
    """Pool the runs :func:`phase` ``(n, m, s)`` over ``seeds``."""
    P, c, d, L, gsl, drop, pdrop, conv = [], [], [], [], [], [], [], 0.0
    for s in seeds:
        run = phase(n, m, s)
        mask = run.interfering
        P.append(run.push[mask])
        c.append(gram_schmidt_coefficient(run.G0)[mask])
        d.append((run.push - pair_push_prediction(run.G0))[mask])
        L.append(run.pair_loss[mask])
        gsl.append(gram_schmidt_norm_loss(run.G0)[mask])
        drop.append(run.norm_drop)
        pdrop.append(pair_loss_prediction(run.G0).sum(axis=1))
        conv = max(conv, run.convergence)
    P, c, d, L, gsl = (np.concatenate(x) for x in (P, c, d, L, gsl))
    return PairStats(n, m, tuple(seeds), float(P.mean()), float(c.mean()), float(P @ c / (c @ c)), float(d.mean()),
                     float(np.sqrt(np.mean((d - d.mean()) ** 2))), float(L.mean()), float(gsl.mean()),
                     float(np.mean(drop)), float(np.mean(pdrop)), conv)


def _column(scan: "MScan | NScan", name: str) -> np.ndarray:
    """One :class:`PairStats` statistic over a scan's grid, ``(len(grid),)``."""
    return np.array([getattr(st, name) for st in scan.stats])


@dataclass(frozen=True)
class MScan:
    """:class:`PairStats` over ``m`` at fixed ``n`` (``stats[k]`` at ``m[k]``), with the fitted exponents."""

    n: int
    m: np.ndarray
    stats: tuple[PairStats, ...]
    slope_full: np.ndarray       # slope of P on c with feature benefit switched on (one draw per m)
    full_dev: float              # largest relative change of that slope from switching feature benefit on
    push_fit: ExponentFit
    loss_fit: ExponentFit
    drop_fit: ExponentFit
    checks: tuple[Check, ...]

    column = _column

    @property
    def large(self) -> np.ndarray:
        """``(len(m),)`` bool: the sizes ``m >= 4^7`` over which constants are compared."""
        return self.m >= M_LARGE


def m_scan(n: int = 32, ms: tuple[int, ...] = M_GRID, *, seed: int = 500, draws: int = 3) -> MScan:
    """T1, T2 (and T3 in ``m``): exponents of the mean push, the mean per-pair loss and the mean norm drop
    over ``ms``; their constants and the slope of ``P`` on ``c`` against the predictions."""
    n = v.size("n", n)
    stats_ = tuple(pair_stats(n, m, tuple(seed + draws * k + r for r in range(draws))) for k, m in enumerate(ms))
    slope_full = np.array([push_slope(phase(n, m, seed + draws * k, FULL)) for k, m in enumerate(ms)])
    slope_int = np.array([push_slope(phase(n, m, seed + draws * k)) for k, m in enumerate(ms)])
    m_arr = np.asarray(ms, dtype=float)
    col = {name: np.array([getattr(st, name) for st in stats_]) for name in
           ("mean_push", "slope", "mean_loss", "mean_gs_loss", "mean_drop", "convergence")}
    # The third encodings add a relative (n-2)/sqrt(m) term to each mean (see expected_push), which steepens
    # the fitted slopes by about 0.005 over this grid: the exponent checks allow 0.01 for it.
    regime = f"n={n}, m={ms[0]}..{ms[-1]} (x4 apart), {draws} draws each, interference alone"
    c_push, f_push = check_exponent("T1", "total push P_ij = Theta(1/sqrt(m)) (mean over interfering pairs)",
                                    sizes=m_arr, values=col["mean_push"], predicted=-0.5, regime=regime, tolerance=0.01)
    c_loss, f_loss = check_exponent("T2", "per-pair norm loss L_ij = Theta(1/m) (mean over interfering pairs)",
                                    sizes=m_arr, values=col["mean_loss"], predicted=-1.0, regime=regime, tolerance=0.01)
    c_drop, f_drop = check_exponent("T3", "total drop of ||W_i||² = Theta(1/m) at fixed n", sizes=m_arr,
                                    values=col["mean_drop"], predicted=-1.0, regime=regime, tolerance=0.01)
    big = m_arr >= M_LARGE
    big_regime = f"n={n}, m={M_LARGE}..{ms[-1]}, mean over sizes"

    def ratio(values: np.ndarray, fn) -> float:
        return float(np.mean((values / np.array([fn(n, int(m)) for m in ms]))[big]))

    slope_dev = np.abs(col["slope"] / np.array([push_slope_prediction(n, int(m)) for m in ms]) - 1)
    checks = (
        check_below("T1", f"the push has converged by t = {T_END:g}", measured=float(col["convergence"].max()),
                    bound=1e-6, regime=regime, quantity="rel. change, last quarter"),
        c_push,
        check_close("T1", "constant: E[P | G>0] / (1/sqrt(2πm) + (n-2)/(8πm))", predicted=1.0,
                    measured=ratio(col["mean_push"], expected_push), rtol=0.05, regime=big_regime),
        check_below("T1", "slope of P on c = 1/2 + sqrt(2/π)(n-2)/(8π sqrt(m))", measured=float(slope_dev[big].max()),
                    bound=0.01, regime=big_regime.replace(", mean over sizes", ""), quantity="max rel. error"),
        check_below("T1", "with feature benefit the slope of P on c is the same", measured=float(
                    np.max(np.abs(slope_full / slope_int - 1))), bound=0.01, regime=regime.replace(
                    f"{draws} draws", "1 draw"), quantity="max rel. diff."),
        c_loss,
        check_close("T2", "constant: E[L | G>0] / ((1/2m)(1 + (n-2)/(3π sqrt(2πm))))", predicted=1.0,
                    measured=ratio(col["mean_loss"], expected_pair_loss), rtol=0.05, regime=big_regime),
        check_close("T2", "per-pair loss / Gram-Schmidt loss G_ij²/G_jj → 1/2", predicted=0.5,
                    measured=float(np.mean((col["mean_loss"] / col["mean_gs_loss"])[big])), rtol=0.03,
                    regime=big_regime),
        c_drop,
        check_close("T3", "constant: E[drop] / ((n-1)/(4m) (1 + (n-2)/(3π sqrt(2πm))))", predicted=1.0,
                    measured=ratio(col["mean_drop"], expected_norm_drop), rtol=0.05, regime=big_regime),
    )
    full_dev = float(np.max(np.abs(slope_full / slope_int - 1)))
    return MScan(n, m_arr, stats_, slope_full, full_dev, f_push, f_loss, f_drop, checks)


# --- T3 in n, and the third encodings -------------------------------------------------------------------

@dataclass(frozen=True)
class NScan:
    """:class:`PairStats` over ``n`` at fixed ``m`` (about 2048 ordered pairs per ``n``), with fits."""

    m: int
    n: np.ndarray
    stats: tuple[PairStats, ...]
    drop_fit: ExponentFit
    shift_fit: ExponentFit
    spread_fit: ExponentFit
    checks: tuple[Check, ...]

    column = _column


def n_scan(m: int = 4**10, ns: tuple[int, ...] = (8, 12, 16, 24, 32, 48, 64), *, seed: int = 200) -> NScan:
    """T3 in ``n`` and the third encodings: exponents of the mean norm drop (against ``n - 1``, the number
    of other encodings), of the mean extra push and of its spread (against ``n - 2``, the number of
    third encodings); the constants against their derivations."""
    stats_ = tuple(pair_stats(n, m, seeds_for(n, base=seed + 1000 * k)) for k, n in enumerate(ns))
    n_arr = np.asarray(ns, dtype=float)
    col = {name: np.array([getattr(st, name) for st in stats_]) for name in
           ("mean_drop", "pair_drop", "shift", "spread")}
    regime = f"m={m}, n={ns[0]}..{ns[-1]}, about 2048 ordered pairs per n"
    c_drop, f_drop = check_exponent("T3", "total drop of ||W_i||² grows like (n-1)^1 at fixed m", sizes=n_arr - 1,
                                    values=col["mean_drop"], predicted=1.0, regime=regime)
    c_shift, f_shift = check_exponent("T1", "mean extra push from third encodings grows like (n-2)^1",
                                      sizes=n_arr - 2, values=col["shift"], predicted=1.0, regime=regime)
    c_spread, f_spread = check_exponent("T1", "spread of the push around the pair prediction grows like (n-2)^(1/2)",
                                        sizes=n_arr - 2, values=col["spread"], predicted=0.5, regime=regime)
    lift = np.array([1 + (n - 2) / (3 * math.pi * math.sqrt(2 * math.pi * m)) for n in ns])
    checks = (
        c_drop,
        check_close("T3", "drop / sum of two-encoding losses on the same draws = lift", predicted=1.0,
                    measured=float(np.mean(col["mean_drop"] / col["pair_drop"] / lift)), rtol=0.01,
                    regime=regime + ", mean over n"),
        c_shift,
        check_close("T1", "constant: mean extra push × m/(n-2) = 1/(8π)", predicted=1 / (8 * math.pi),
                    measured=float(np.mean(col["shift"] * m / (n_arr - 2))), rtol=0.1, regime=regime + ", mean over n"),
        c_spread,
    )
    return NScan(m, n_arr, stats_, f_drop, f_shift, f_spread, checks)


# --- T3: how far each encoding moves -------------------------------------------------------------------------

def displacement_from_transport(G0: np.ndarray, M: np.ndarray) -> np.ndarray:
    """``|W_i(t) - W_i(0)| / |W_i(0)|`` ``(n,)`` from ``W(t) = M W(0)``: the diagonal of
    ``(M - I) G0 (M - I)^T`` over ``G0_ii`` (no weights needed)."""
    D = M - np.eye(M.shape[0])
    return np.sqrt(np.einsum("ik,kl,il->i", D, G0, D) / np.diag(G0))


def weight_space_agreement(n: int = 16, m: int = 512, *, seed: int = 0) -> tuple[float, float, float]:
    """Weight-space flow against the Gram-space transport, interference alone, to ``T_END``.

    Returns (largest ``|simulate(W0)(T) - M(T) W0|``, RMS relative displacement measured in weight space,
    relative error of the total-push picture ``W(T) - W(0) ~ -P W(0)``).
    """
    W0 = sample_weights(n, m, seed=seed)
    W = simulate(W0, [0.0, T_END], terms=INTERFERENCE, rtol=RTOL)[-1]
    _, P, _, M = run_phase(W0 @ W0.T, [0.0, T_END], transport=True)
    moved = W - W0
    rel = np.linalg.norm(moved, axis=1) / np.linalg.norm(W0, axis=1)
    return (float(np.max(np.abs(W - M[-1] @ W0))), float(np.sqrt(np.mean(rel**2))),
            float(np.linalg.norm(moved + P[-1] @ W0) / np.linalg.norm(moved)))


@lru_cache(maxsize=256)
def transport_run(n: int, m: int, seed: int) -> tuple[float, float]:
    """Interference phase from ``sample_gram(n, m, seed)`` with the transport ``M``: (mean over ``i`` of the
    squared relative displacement, squared error of the total-push picture ``M - I ~ -P`` in ``W`` norm,
    divided by the squared displacement); both 0 if nothing moved."""
    G0 = sample_gram(n, m, seed=seed)
    _, P, _, M = run_phase(G0, [0.0, T_END], rtol=SCAN_RTOL, transport=True, loss=False)
    D = M[-1] - np.eye(n)
    E = D + P[-1]
    moved = float(np.trace(D @ G0 @ D.T))
    picture = float(np.trace(E @ G0 @ E.T)) / moved if moved > 0 else 0.0
    return float(np.mean(displacement_from_transport(G0, M[-1]) ** 2)), picture


@dataclass(frozen=True)
class DisplacementScan:
    """RMS relative displacement over ``ns`` at ``m_fixed`` and over ``ms`` at ``n_fixed``."""

    ns: np.ndarray
    m_fixed: int
    by_n: np.ndarray
    ms: np.ndarray
    n_fixed: int
    by_m: np.ndarray
    picture_error: np.ndarray     # relative error of W(T) - W(0) ~ -P W(0), over the m grid
    n_fit: ExponentFit
    m_fit: ExponentFit
    picture_fit: ExponentFit
    weight_space: tuple[float, float, float]   # see weight_space_agreement
    checks: tuple[Check, ...]


def displacement_scan(ns: tuple[int, ...] = (8, 16, 32, 64), m_fixed: int = 4**8,
                      ms: tuple[int, ...] = tuple(4**k for k in range(5, 13)), n_fixed: int = 32,
                      *, seed: int = 300) -> DisplacementScan:
    """T3: exponent fits of the displacement in ``n - 1`` (predicted +1/2) and ``m`` (predicted -1/2), its
    constant against :func:`expected_displacement`, and the error of the total-push picture. Uses the
    transport ``W(t) = M(t) W(0)`` of the Gram flow, checked against a weight-space run."""
    def rms(n: int, m: int, seeds: tuple[int, ...]) -> tuple[float, float]:
        runs = [transport_run(n, m, s) for s in seeds]
        return math.sqrt(np.mean([r[0] for r in runs])), math.sqrt(np.mean([r[1] for r in runs]))

    by_n = np.array([rms(n, m_fixed, seeds_for(n, base=seed + 1000 * k))[0] for k, n in enumerate(ns)])
    on_m = [rms(n_fixed, m, seeds_for(n_fixed, base=seed + 100 * k)) for k, m in enumerate(ms)]
    by_m = np.array([d for d, _ in on_m])
    picture = np.array([e for _, e in on_m])
    n_arr, m_arr = np.asarray(ns, float), np.asarray(ms, float)
    c_n, f_n = check_exponent("T3", "|W_i(end) - W_i(0)|/|W_i(0)| grows like (n-1)^(1/2)", sizes=n_arr - 1,
                              values=by_n, predicted=0.5, regime=f"m={m_fixed}, n={ns[0]}..{ns[-1]}")
    c_m, f_m = check_exponent("T3", "|W_i(end) - W_i(0)|/|W_i(0)| falls like m^(-1/2)", sizes=m_arr, values=by_m,
                              predicted=-0.5, regime=f"n={n_fixed}, m={ms[0]}..{ms[-1]}", tolerance=0.02)
    c_pic, f_pic = check_exponent("T1", "error of the picture W(end) - W(0) ≈ -P W(0) falls like m^(-1/2)",
                                  sizes=m_arr, values=picture, predicted=-0.5, regime=f"n={n_fixed}, m={ms[0]}..{ms[-1]}",
                                  tolerance=0.02)
    pred = np.array([expected_displacement(n, m_fixed) for n in ns] + [expected_displacement(n_fixed, m) for m in ms])
    ratio = np.concatenate([by_n, by_m]) / pred
    weight = weight_space_agreement(seed=seed)
    checks = (
        check_below("T3", "weight-space flow = transport M(t) W(0) of the Gram flow", measured=weight[0],
                    bound=1e-7, regime="n=16, m=512, weight space", quantity="max |ΔW|"),
        c_n, c_m,
        check_close("T3", "constant: displacement / sqrt((n-1)/(8m) (1 + (n-2)/(π sqrt(2πm))))", predicted=1.0,
                    measured=float(np.mean(ratio)), rtol=0.05, regime="all sizes above, mean"),
        check_below("T1", "W(end) - W(0) ≈ -P W(0) (weight space)", measured=weight[2], bound=0.15,
                    regime="n=16, m=512", quantity="rel. error"),
        c_pic,
    )
    return DisplacementScan(n_arr, m_fixed, by_n, m_arr, n_fixed, by_m, picture, f_n, f_m, f_pic, weight, checks)


def check_p_value(claim: str, statement: str, *, p: float, regime: str, level: float = 0.01) -> Check:
    """A statistical test that should *not* reject: holds if its p-value is at least ``level``.
    (A candidate for :mod:`incidental.checks`, next to ``check_below``.)"""
    return Check(claim, statement, f"p ≥ {level:g}", f"p = {p:.3g}", regime, bool(np.isfinite(p) and p >= level))


# --- T4: the law of the encodings at the end of the phase -------------------------------------------------

def rotation_equivariance_error(n: int = 8, m: int = 32, *, seed: int = 0, t_end: float = 3.0) -> float:
    """Largest ``|flow(W0 Q) - flow(W0) Q|`` for a random orthogonal ``Q`` (feature benefit + interference)."""
    W0 = sample_weights(n, m, seed=seed)
    Q = stats.ortho_group.rvs(m, random_state=np.random.default_rng(seed + 1))
    a = simulate(W0 @ Q, [0.0, t_end], terms=FULL, rtol=1e-12)[-1]
    b = simulate(W0, [0.0, t_end], terms=FULL, rtol=1e-12)[-1] @ Q
    return float(np.max(np.abs(a - b)))


def end_coordinates(n: int = 32, m: int = 64, seeds: tuple[int, ...] = (0, 1, 2, 3)) -> np.ndarray:
    """Squared first coordinate of each ``W_i(T)/|W_i(T)|`` after the phase (weight space, feature benefit +
    interference), pooled over ``seeds``: ``(n len(seeds),)``. For a uniform unit vector in ``R^m`` it is
    ``Beta(1/2, (m-1)/2)``."""
    out = []
    for seed in seeds:
        W = simulate(sample_weights(n, m, seed=seed), [0.0, T_END], terms=FULL, rtol=RTOL)[-1]
        out.append(W[:, 0] ** 2 / np.sum(W**2, axis=1))
    return np.concatenate(out)


@dataclass(frozen=True)
class EndLaw:
    """Statistics of ``x = sqrt(m) kappa_ij`` at the end of the phase (feature benefit + interference, lam = 0).

    Arrays are over ``ms``. Independent uniform unit vectors would give: ``positive`` 1/2, ``at_zero`` ~0,
    ``mean`` 0, ``ks`` ~0 (``ks_p`` uniform on [0, 1]).
    """

    n: int
    ms: np.ndarray
    positive: np.ndarray      # fraction of pairs with x > ZERO
    at_zero: np.ndarray       # fraction with |x| <= ZERO
    mean: np.ndarray          # mean of x
    ks: np.ndarray            # KS distance of x from N(0, 1)
    ks_p: np.ndarray          # its p-value
    neg_ks_p: np.ndarray      # KS p-value of -x over x < -ZERO against the half-normal
    norm_error: np.ndarray    # max_i |‖W_i‖² - 1|
    kappa0_ks_p: np.ndarray   # control: KS p-value of sqrt(m) kappa(0) against N(0,1)
    samples: tuple[np.ndarray, ...]   # x at the end, per m
    checks: tuple[Check, ...]


def atom_prediction(n: int, m: int) -> float:
    """Predicted fraction of pairs pushed to zero: the 1/2 that started positive plus the negative ones that
    the third encodings lift past zero, ``phi(0) (n-2)/(4 pi sqrt(m))``."""
    n, m = v.sizes(n, m)
    return 0.5 + (n - 2) / (4 * math.pi * math.sqrt(m)) / math.sqrt(2 * math.pi)


def mean_prediction(n: int, m: int) -> float:
    """Predicted mean of ``sqrt(m) kappa`` at the end: ``-1/sqrt(2 pi)`` (positives at 0, negatives kept)
    plus half the lift ``(n-2)/(4 pi sqrt(m))`` of the negatives."""
    n, m = v.sizes(n, m)
    return -1 / math.sqrt(2 * math.pi) + (n - 2) / (8 * math.pi * math.sqrt(m))


def end_statistics(x: np.ndarray) -> dict[str, float]:
    """The statistics of :class:`EndLaw` for one sample ``x`` of ``sqrt(m) kappa`` (1-d)."""
    neg = -x[x < -ZERO]
    return {
        "positive": float(np.mean(x > ZERO)),
        "at_zero": float(np.mean(np.abs(x) <= ZERO)),
        "mean": float(np.mean(x)),
        "ks": float(stats.kstest(x, "norm").statistic),
        "ks_p": float(stats.kstest(x, "norm").pvalue),
        "neg_ks_p": float(stats.kstest(neg, "halfnorm").pvalue),
    }


def end_law(n: int = 64, ms: tuple[int, ...] = (4**6, 4**8, 4**10, 4**12), *, seed: int = 400) -> EndLaw:
    """T4: compare the overlaps at the end of the phase with those of independent uniform unit vectors."""
    rows, samples, norm_err, ks0 = [], [], [], []
    for k, m in enumerate(ms):
        run = phase(n, m, seed + k, FULL)
        x = run.kappa_end
        samples.append(x)
        rows.append(end_statistics(x))
        norm_err.append(float(np.max(np.abs(np.diag(run.G[-1]) - 1))))
        ks0.append(float(stats.kstest(offdiagonal(cosine_similarity(run.G0)) * math.sqrt(m), "norm").pvalue))
    col = {key: np.array([r[key] for r in rows]) for key in rows[0]}
    m_arr = np.asarray(ms, float)
    pairs = n * (n - 1) // 2
    regime = f"n={n}, m={ms[0]}..{ms[-1]}, t={T_END:g}, lam=0"
    atoms = np.array([atom_prediction(n, m) for m in ms])
    means = np.array([mean_prediction(n, m) for m in ms])
    se = 4 * math.sqrt(0.25 / pairs)    # four standard errors of a fraction near 1/2 over all pairs
    checks = (
        check_below("T4", "norms: every ||W_i||² = 1 at the end (as for unit vectors)",
                    measured=float(np.max(norm_err)), bound=1e-8, regime=regime, quantity="max |‖W_i‖²-1|"),
        check_p_value("T4", "control: at t = 0, √m κ is N(0,1) (KS test, smallest p over m)",
                      p=float(np.min(ks0)), regime=regime),
        check_below("T4", "FINDING: no pair stays clearly positive (independent vectors: 1/2)",
                    measured=float(np.max(col["positive"])), bound=0.01, regime=regime,
                    quantity=f"max fraction √mκ > {ZERO:g}"),
        check_close("T4", "FINDING: the fraction of pairs at κ = 0 is 1/2 + lift (independent vectors: ~0); "
                    "largest deviation over m", predicted=0.0, measured=float(np.max(np.abs(col["at_zero"] - atoms))),
                    atol=se, regime=regime),
        check_close("T4", "FINDING: KS distance of √m κ from N(0,1) is 1/2 at every m (independent: ~0)",
                    predicted=0.5, measured=float(np.min(col["ks"])), atol=0.01, regime=regime),
        check_close("T4", "FINDING: mean √m κ = -1/sqrt(2π) + lift (independent vectors: 0); "
                    "largest deviation over m", predicted=0.0, measured=float(np.max(np.abs(col["mean"] - means))),
                    atol=0.05, regime=regime),
        check_p_value("T4", "the negative side is still half-normal (KS test, smallest p over m)",
                      p=float(np.min(col["neg_ks_p"])), regime=regime),
    )
    return EndLaw(n, m_arr, col["positive"], col["at_zero"], col["mean"], col["ks"], col["ks_p"], col["neg_ks_p"],
                  np.array(norm_err), np.array(ks0), tuple(samples), checks)


def marginal_checks(*, seed: int = 0) -> list[Check]:
    """T4 (a): rotation equivariance of the flow (round-off) and the first coordinate of each end encoding
    against the exact uniform-sphere law."""
    n, m = 32, 64
    x2 = end_coordinates(n, m, seeds=tuple(seed + k for k in range(4)))
    p = float(stats.kstest(x2, stats.beta(0.5, (m - 1) / 2).cdf).pvalue)
    return [
        check_below("T4", "the flow commutes with rotations: flow(W Q) = flow(W) Q", measured=
                    rotation_equivariance_error(seed=seed), bound=1e-9, regime="n=8, m=32, t=3, random Q",
                    quantity="max |Δ|"),
        check_p_value("T4", "each W_i/|W_i| is uniform: x_1² ~ Beta(1/2, (m-1)/2) (KS test)", p=p,
                      regime=f"n={n}, m={m}, 4 seeds, t={T_END:g}"),
    ]


# --- numbers quoted in the text ----------------------------------------------------------------------------

def numbers(*, errors: dict[str, float] | None = None, nscan: NScan | None = None, mscan: MScan | None = None,
            disp: DisplacementScan | None = None, law: EndLaw | None = None) -> dict[str, float]:
    """The measured numbers the chapter quotes (for ``myst_nb.glue``), from whichever results are given."""
    out: dict[str, float] = {}

    def fit(prefix: str, f: ExponentFit) -> None:
        out.update({f"{prefix}_exp": f.exponent, f"{prefix}_lo": f.low, f"{prefix}_hi": f.high})

    if errors is not None:
        out.update(tp_pair_push_err=errors["push"], tp_pair_loss_err=errors["loss"], tp_pair_lowdin_err=errors["end"])
    if nscan is not None:
        fit("tp_shift", nscan.shift_fit)
        fit("tp_spread", nscan.spread_fit)
        fit("tp_drop_n", nscan.drop_fit)
        out["tp_shift_const"] = float(np.mean(nscan.column("shift") * nscan.m / (nscan.n - 2)))
        out["tp_shift_pred"] = 1 / (8 * math.pi)
        out["tp_spread_const"] = float(np.mean(nscan.column("spread") * nscan.m / np.sqrt(nscan.n - 2)))
        out["tp_spread_rel"] = out["tp_spread_const"] * math.sqrt(2 * math.pi)
        out["tp_drop_ratio"] = float(np.mean(nscan.column("mean_drop") / nscan.column("pair_drop")))
    if mscan is not None:
        fit("tp_push", mscan.push_fit)
        fit("tp_loss", mscan.loss_fit)
        fit("tp_drop_m", mscan.drop_fit)
        big = mscan.large
        out["tp_push_const"] = float(mscan.column("mean_push")[-1] * np.sqrt(mscan.m[-1]))
        out["tp_push_const_pred"] = 1 / math.sqrt(2 * math.pi)
        out["tp_slope_big"] = float(mscan.column("slope")[-1])
        out["tp_slope_small"] = float(mscan.column("slope")[0])
        out["tp_loss_ratio"] = float(np.mean((mscan.column("mean_loss") / mscan.column("mean_gs_loss"))[big]))
        out["tp_slope_full_dev"] = mscan.full_dev
        out["tp_drop_const"] = float(np.mean((mscan.column("mean_drop") * mscan.m / (mscan.n - 1))[big]))
    if disp is not None:
        fit("tp_disp_n", disp.n_fit)
        fit("tp_disp_m", disp.m_fit)
        fit("tp_picture", disp.picture_fit)
        out.update(tp_disp_weight=disp.weight_space[1], tp_picture_weight=disp.weight_space[2],
                   tp_disp_max=float(disp.by_n[-1]))
    if law is not None:
        out.update(tp_end_pos=float(law.positive.max()), tp_end_zero_lo=float(law.at_zero.min()),
                   tp_end_zero_hi=float(law.at_zero.max()), tp_end_mean=float(law.mean[-1]),
                   tp_end_mean_pred=mean_prediction(law.n, int(law.ms[-1])), tp_end_ks=float(law.ks.min()),
                   tp_end_negp=float(law.neg_ks_p.min()), tp_end_norm=float(law.norm_error.max()))
    return {k: float(v) for k, v in out.items()}


# --- static figures (matplotlib) -------------------------------------------------------------------------

def plot_pair_ratios(ax, gs: np.ndarray | None = None) -> None:
    """Exact two-encoding push and norm loss, relative to one Gram-Schmidt step, against the overlap ``g``."""
    gs = np.linspace(0.01, 0.95, 95) if gs is None else gs
    push, loss = pair_ratio_curve(gs)
    ax.plot(gs, push, label="push P / Gram-Schmidt coefficient g")
    ax.plot(gs, loss, label="loss of ‖W_i‖² / Gram-Schmidt loss g²")
    ax.axhline(0.5, color="k", ls=":", lw=1, label="1/2")
    ax.set_xlabel("overlap g of two unit encodings")
    ax.set_ylabel("ratio")
    ax.set_ylim(0.4, 1.2)
    ax.legend(fontsize=8)


def plot_push_scatter(axes, n: int = 32, ms: tuple[int, int] = (4**5, 4**10), *, seed: int = 0) -> None:
    """``sqrt(m) P_ij`` against ``sqrt(m) c_ij`` over the interfering pairs of one draw, at two ``m``."""
    for ax, m in zip(axes, ms):
        run = phase(n, m, seed)
        mask = run.interfering
        s = math.sqrt(m)
        c, P = gram_schmidt_coefficient(run.G0)[mask] * s, run.push[mask] * s
        ax.plot(c, P, ".", ms=3, alpha=0.6, label="pairs (i, j)")
        line = np.array([0.0, c.max()])
        ax.plot(line, line, "r--", lw=1, label="Gram-Schmidt: P = c")
        ax.plot(line, line / 2, "g-", lw=1, label="P = c/2")
        ax.set_title(f"n = {n}, m = {m}", fontsize=9)
        ax.set_xlabel(r"$\sqrt{m}\,c_{ij}$")
    axes[0].set_ylabel(r"$\sqrt{m}\,P_{ij}$")
    axes[0].legend(fontsize=7)


def plot_m_scaling(ax, scan: MScan) -> None:
    """Mean push, per-pair loss and norm drop against ``m`` (log-log), with their fits."""
    from ..plotting import power_law

    power_law(ax, scan.m, scan.column("mean_push"), scan.push_fit, label="E[P_ij]")
    power_law(ax, scan.m, scan.column("mean_loss"), scan.loss_fit, label="E[L_ij]", marker="s")
    power_law(ax, scan.m, scan.column("mean_drop"), scan.drop_fit, label="E[drop of ‖W_i‖²]", marker="^")
    ax.set_xlabel("neurons m")
    ax.legend(fontsize=7)


def plot_third_encodings(axes, nscan: NScan, mscan: MScan) -> None:
    """The extra push from third encodings in units of ``(n-2)/m`` (left, against ``n``; right, against ``m``):
    flat at ``1/(8 pi)`` if the derivation is right; and the spread in units of ``sqrt(n-2)/m``."""
    for ax, x, stats_, n_of, m_of, label in (
            (axes[0], nscan.n, nscan.stats, nscan.n, np.full(len(nscan.n), nscan.m), "features n"),
            (axes[1], mscan.m, mscan.stats, np.full(len(mscan.m), mscan.n), mscan.m, "neurons m")):
        shift = np.array([st.shift for st in stats_]) * m_of / (n_of - 2)
        spread = np.array([st.spread for st in stats_]) * m_of / np.sqrt(n_of - 2)
        ax.semilogx(x, shift, "o-", label="mean extra push × m/(n-2)")
        ax.semilogx(x, spread, "s-", label="spread × m/sqrt(n-2)")
        ax.axhline(1 / (8 * math.pi), color="k", ls=":", lw=1, label="1/(8π)")
        ax.set_xlabel(label)
        ax.set_ylim(0, 0.35)
    axes[0].set_xticks(nscan.n, [str(int(n)) for n in nscan.n])
    axes[0].minorticks_off()
    axes[0].legend(fontsize=7, loc="upper right")


def plot_displacement(axes, scan: DisplacementScan) -> None:
    """RMS relative displacement against ``n`` and ``m``, with the prediction."""
    n_pred = [expected_displacement(int(n), scan.m_fixed) for n in scan.ns]
    m_pred = [expected_displacement(scan.n_fixed, int(m)) for m in scan.ms]
    axes[0].loglog(scan.ns, scan.by_n, "o", label="measured")
    axes[0].loglog(scan.ns, n_pred, "k--", lw=1, label="sqrt((n-1)/(8m)) (1+…)")
    axes[0].set_xticks(scan.ns, [str(int(n)) for n in scan.ns])
    axes[0].minorticks_off()
    axes[0].set_xlabel(f"features n (m = {scan.m_fixed})")
    axes[0].set_ylabel("|W_i(end) - W_i(0)| / |W_i(0)|")
    axes[1].loglog(scan.ms, scan.by_m, "o", label="measured")
    axes[1].loglog(scan.ms, m_pred, "k--", lw=1, label="prediction")
    axes[1].loglog(scan.ms, scan.picture_error * scan.by_m, "s", ms=4, label="error of -P W(0)")
    axes[1].set_xlabel(f"neurons m (n = {scan.n_fixed})")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)


def plot_end_law(axes, law: EndLaw) -> None:
    """Left: histogram of ``sqrt(m) kappa`` at the end (largest ``m``) against ``N(0,1)``; right: the
    empirical CDF at every ``m`` against the normal CDF."""
    grid = np.linspace(-4, 4, 201)
    x = law.samples[-1]
    edges = np.linspace(-4, 4, 41)
    axes[0].hist(x[x < -ZERO], bins=edges, weights=np.full(np.sum(x < -ZERO), 1 / (x.size * (edges[1] - edges[0]))),
                 histtype="step", label="end: κ < 0")
    axes[0].plot(grid, stats.norm.pdf(grid), "k--", lw=1, label="N(0,1): independent")
    axes[0].axvline(0, color="r", lw=2, label=f"atom at 0 ({law.at_zero[-1]:.0%} of pairs)")
    axes[0].set_xlabel(r"$\sqrt{m}\,\kappa_{ij}$ at the end" + f" (m = {int(law.ms[-1])})")
    axes[0].set_ylabel("density")
    axes[0].legend(fontsize=7)
    for m, x in zip(law.ms, law.samples):
        axes[1].plot(np.sort(x), np.arange(1, x.size + 1) / x.size, lw=1, label=f"m = {int(m)}")
    axes[1].plot(grid, stats.norm.cdf(grid), "k--", lw=1, label="N(0,1)")
    axes[1].set_xlabel(r"$\sqrt{m}\,\kappa_{ij}$")
    axes[1].set_ylabel("CDF")
    axes[1].set_xlim(-4, 4)
    axes[1].legend(fontsize=7)


# --- widgets -------------------------------------------------------------------------------------------

def ranked_pair(run: PhaseRun, rank: int) -> tuple[int, int]:
    """The ``rank``-th most interfering pair ``(i, j)``, ``i < j`` (rank 1 = largest ``G_ij(0)``);
    ranks beyond the number of interfering pairs give the last one."""
    iu = np.triu_indices(run.n, k=1)
    order = np.argsort(-run.G0[iu])
    count = max(1, int(np.sum(run.G0[iu] > 0)))
    k = order[min(max(rank, 1), count) - 1]
    return int(iu[0][k]), int(iu[1][k])


def push_panel(n: int, m: int, seed: int, pair: int) -> Panel:
    """Widget panel for T1-T3: one pair's push against the Gram-Schmidt coefficient and its half,
    the slope over all pairs, the mean norm drop; scatter of P against c and the pair's P(t)."""
    run = phase(n, m, seed, detailed=True)
    i, j = ranked_pair(run, pair)
    c = gram_schmidt_coefficient(run.G0)
    P = run.push
    pair_pred = pair_push_prediction(run.G0)[i, j]
    sigma = C_FLUCT * math.sqrt(max(n - 2, 1)) / m
    mask = run.interfering
    slope_tol = 4 * sigma / math.sqrt(float(np.sum(c[mask] ** 2)))
    drop = run.norm_drop
    regime = f"n={n}, m={m}, pair ({i},{j})"
    checks = [
        check_close("T1", f"push on W_{i} from W_{j} (GS coeff. {c[i, j]:.3g}, half {c[i, j] / 2:.3g})",
                    predicted=pair_pred + push_shift(n, m), measured=float(P[i, j]), atol=3 * sigma, regime=regime),
        check_close("T1", "slope of P on c over all interfering pairs", predicted=push_slope_prediction(n, m),
                    measured=push_slope(run), atol=slope_tol, regime=f"n={n}, m={m}"),
        check_close("T2", f"loss of ‖W_{i}‖² from this pair (GS: {gram_schmidt_norm_loss(run.G0)[i, j]:.3g})",
                    predicted=float(pair_loss_prediction(run.G0)[i, j]), measured=float(run.pair_loss[i, j]),
                    rtol=0.2 + 6 * sigma / max(float(P[i, j]), 1e-300), regime=regime),
        check_close("T3", "mean drop of ‖W_i‖² over i", predicted=expected_norm_drop(n, m), measured=float(drop.mean()),
                    atol=4 * float(drop.std()) / math.sqrt(n), regime=f"n={n}, m={m}"),
    ]
    s = math.sqrt(m)
    cc, pp = c[mask] * s, P[mask] * s
    top = float(max(cc.max(), 1e-9))
    line = np.array([0.0, top])
    scatter = svgplot.Axes([
        svgplot.Series(cc, pp, label="pairs", kind="points", color="#9ab"),
        svgplot.Series(line, line, label="y = c (Gram-Schmidt)", color="#d62728", dashed=True),
        svgplot.Series(line, line / 2, label="y = c/2", color="#2ca02c"),
        svgplot.Series([c[i, j] * s], [P[i, j] * s], label=f"pair ({i},{j})", kind="points", color="#000"),
    ], xlabel="√m × GS coefficient c_ij", ylabel="√m × total push P_ij")
    course = svgplot.Axes([
        svgplot.Series(run.times, run.P[:, i, j] * s, label="P_ij(t)"),
        svgplot.Series(run.times, np.maximum(run.G[:, i, j], 0) * s, label="ReLU(G_ij(t))", color="#ff7f0e"),
    ], xlabel="time t", ylabel="× √m", hlines=[(c[i, j] * s, "c_ij"), (c[i, j] * s / 2, "")])
    note = (f"Pair ({i},{j}) starts at √m G_ij = {run.G0[i, j] * s:.3f}; its push settles at "
            f"{P[i, j] / c[i, j]:.3f} × the Gram-Schmidt coefficient.")
    return Panel(checks, svgplot.svg([scatter, course], width=720, height=250), note)


def push_explorable() -> Explorable:
    """Widget: sizes, seed and pair against the total push and the norm loss (T1-T3)."""
    return Explorable(push_panel, [
        Control("n", "features n", (8, 32), 32, kind="size", low=4, high=64),
        Control("m", "neurons m", (256, 4096, 65536), 4096, kind="size", low=64, high=2**20),
        Control("seed", "seed", (0, 1), 0, low=0, high=99),
        Control("pair", "pair (rank)", (1, 5), 1, low=1, high=40),
    ], title="Total push: Gram-Schmidt coefficient, its half, and what the flow does")


def end_panel(n: int, m: int, seed: int) -> Panel:
    """Widget panel for T4: histogram of ``sqrt(m) kappa`` at the end against ``N(0, 1)``, with the statistics."""
    run = phase(n, m, seed, FULL)
    x = run.kappa_end
    st = end_statistics(x)
    se = 4 * math.sqrt(0.25 / x.size)
    regime = f"n={n}, m={m}, t={T_END:g}"
    checks = [
        check_below("T4", "clearly positive overlaps (independent vectors: 1/2)", measured=st["positive"],
                    bound=0.01, regime=regime, quantity=f"fraction √mκ > {ZERO:g}"),
        check_close("T4", "pairs at κ = 0 (independent vectors: ~0)", predicted=atom_prediction(n, m),
                    measured=st["at_zero"], atol=se, regime=regime),
        check_close("T4", "mean √m κ (independent vectors: 0)", predicted=mean_prediction(n, m), measured=st["mean"],
                    atol=0.05 + 2 / math.sqrt(x.size), regime=regime),
        check_close("T4", "KS distance from N(0,1) (independent vectors: ~0)", predicted=0.5, measured=st["ks"],
                    atol=0.01, regime=regime),
    ]
    edges = np.linspace(-4, 4, 41)
    neg = x[x < -ZERO]
    heights = np.histogram(neg, bins=edges)[0] / (x.size * (edges[1] - edges[0]))
    grid = np.linspace(-4, 4, 161)
    gauss = np.exp(-grid**2 / 2) / math.sqrt(2 * math.pi)
    hist = svgplot.Axes([
        svgplot.Series(edges, heights, label="end, κ < 0 (density)", kind="steps"),
        svgplot.Series(grid, gauss, label="N(0,1): independent vectors", color="#000", dashed=True),
    ], xlabel="√m κ_ij at the end", ylabel="density", vlines=[(0.0, f"atom at 0: {st['at_zero']:.2f} of pairs")])
    xs = np.sort(x)
    ecdf = svgplot.Axes([
        svgplot.Series(xs, np.arange(1, xs.size + 1) / xs.size, label="end (empirical)"),
        svgplot.Series(grid, stats.norm.cdf(grid), label="N(0,1)", color="#000", dashed=True),
    ], xlabel="√m κ_ij", ylabel="CDF")
    return Panel(checks, svgplot.svg([hist, ecdf], width=720, height=250))


def end_explorable() -> Explorable:
    """Widget: sizes and seed against the law of the overlaps at the end of the phase (T4)."""
    return Explorable(end_panel, [
        Control("n", "features n", (16, 64), 64, kind="size", low=4, high=64),
        Control("m", "neurons m", (1024, 16384, 262144), 16384, kind="size", low=256, high=2**22),
        Control("seed", "seed", (0, 1), 0, low=0, high=99),
    ], title="After the phase: like independent uniform unit vectors?")


def explorables() -> dict[str, Explorable]:
    """Fresh explorables of this chapter, by name."""
    return {"push": push_explorable(), "end": end_explorable()}
