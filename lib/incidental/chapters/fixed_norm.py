"""Chapter 6 (Fixed norm): claim X1, the note's open question.

What happens to the encodings if each norm is held at 1 while interference acts? The formulas
of the constrained model live in :mod:`incidental.fixed_norm`; this module runs the chapter's
experiments with every knob passed explicitly:

- two encodings: the exact fixed-norm solution against the simulated constrained flow, and
  against the two exact free-norm pair solutions (interference alone, chapters 4 and 5; and
  feature benefit with interference at equal norms);
- which model describes the real flow: from ``G(0)`` drawn like ``W W^T`` with ``W`` i.i.d.
  ``N(0, 1/m)``, the full flow (feature benefit and interference, free norms) against the
  fixed-norm flow (from the same directions) and against interference alone with free norms,
  measured on the positive cosines over time, over seeds and sizes;
- whether the fixed-norm model changes the conclusions of chapters 4 and 5 (the decay rate 2,
  half a Gram-Schmidt step, the end state).

Everything runs on Gram flows (cost independent of ``m``), except the weight-space oracle.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.optimize import brentq

from .. import _validate as v
from ..exact import pair_interference, pair_interference_tau, pair_push_total, symmetric_pair
from ..fixed_norm import (fixed_norm_pair, fixed_norm_pair_kappa, fixed_norm_pair_limit, fixed_norm_pair_push,
                          fixed_norm_pair_push_total, simulate_fixed_norm, simulate_fixed_norm_gram,
                          simulate_fixed_norm_gram_with_push)
from ..flow import simulate_gram, simulate_gram_with_push
from ..model import cosine_similarity, interference_weights, sample_gram

INTERFERENCE: tuple[str, ...] = ("interference",)
FULL: tuple[str, ...] = ("feature_benefit", "interference")
MODELS: tuple[str, ...] = ("fixed_norm", "interference")
MODEL_LABELS: dict[str, str] = {"full": "full flow (feature benefit + interference)",
                                "fixed_norm": "fixed norm (‖W_i‖ = 1)",
                                "interference": "interference alone, free norms"}
CROSSOVER_FIRST_ORDER = 0.7968121300200202   # root of t = 1 - e^{-2t}: see predicted_errors


# --- two encodings ---------------------------------------------------------------------------------

def unit_pair_gram(kappa0: float) -> np.ndarray:
    """The Gram matrix ``[[1, kappa0], [kappa0, 1]]`` of two unit encodings with cosine ``kappa0`` in (-1, 1)."""
    k = float(kappa0)
    if not np.isfinite(k) or not -1 < k < 1:
        raise ValueError(f"kappa0 must lie in (-1, 1), got {kappa0!r}")
    return np.array([[1.0, k], [k, 1.0]])


def unit_pair(m: int, kappa0: float, *, seed: int) -> np.ndarray:
    """Two unit encodings ``(2, m)`` with cosine exactly ``kappa0``, in a random orientation of ``R^m``."""
    m = v.size("m", m)
    unit_pair_gram(kappa0)
    rng = np.random.default_rng(v.seed(seed))
    Q, _ = np.linalg.qr(rng.normal(size=(m, 2)))
    return np.array([[1.0, 0.0], [kappa0, math.sqrt((1 - kappa0) * (1 + kappa0))]]) @ Q.T


def full_pair_kappa(kappa0: float, times: np.ndarray) -> np.ndarray:
    """Exact cosine ``(len(times),)`` of two unit encodings under feature benefit and interference (free norms).

    From :func:`incidental.symmetric_pair`: ``|u|^2`` and ``|v|^2`` follow ``X' = 2X - X^2`` from
    ``2(1 +- kappa0)``, which gives ``kappa(t) = kappa0 e^{-2t} / (1 - kappa0^2 + kappa0^2 e^{-2t})``.
    """
    unit_pair_gram(kappa0)
    t = v.times(times)
    if kappa0 <= 0:
        return np.full_like(t, kappa0)
    e = np.exp(-2 * t)
    return kappa0 * e / ((1 - kappa0) * (1 + kappa0) + kappa0**2 * e)


def interference_pair_kappa(kappa0: float, times: np.ndarray) -> np.ndarray:
    """Exact cosine ``(len(times),)`` of two unit encodings under interference alone (free norms).

    From :func:`incidental.pair_interference_tau`: ``kappa = (p e^{-2 tau} - q e^{2 tau}) / (p e^{-2 tau} + q e^{2 tau})``
    with ``p = 2(1 + kappa0)``, ``q = 2(1 - kappa0)``.
    """
    G0 = unit_pair_gram(kappa0)
    t = v.times(times)
    tau = pair_interference_tau(G0, t)
    p, q = 2 * (1 + kappa0), 2 * (1 - kappa0)
    return (p * np.exp(-2 * tau) - q * np.exp(2 * tau)) / (p * np.exp(-2 * tau) + q * np.exp(2 * tau))


def half_time(model: str, kappa0: float) -> float:
    """Time at which the cosine of two unit encodings has fallen to ``kappa0 / 2`` (``0 < kappa0 < 1``).

    - ``fixed_norm``: ``(1/4) ln((4 - kappa0^2) / (1 - kappa0^2))``;
    - ``full``: ``(1/2) ln((2 - kappa0^2) / (1 - kappa0^2))``;
    - ``interference``: solved from :func:`interference_pair_kappa` (no elementary closed form in ``t``).
    """
    unit_pair_gram(kappa0)
    if kappa0 <= 0:
        raise ValueError(f"kappa0 must be positive for a half time, got {kappa0}")
    k2 = kappa0 * kappa0
    if model == "fixed_norm":
        return 0.25 * math.log((4 - k2) / (1 - k2))
    if model == "full":
        return 0.5 * math.log((2 - k2) / (1 - k2))
    if model == "interference":
        f = lambda t: interference_pair_kappa(kappa0, np.array([t]))[0] - kappa0 / 2  # noqa: E731
        hi = 1.0
        while f(hi) > 0:
            hi *= 2
        return float(brentq(f, 0.0, hi, xtol=1e-13, rtol=1e-13))
    raise ValueError(f"model must be 'fixed_norm', 'full' or 'interference', got {model!r}")


@dataclass(frozen=True)
class PairOracle:
    """The exact fixed-norm pair solution against the simulated constrained flow, for several starting cosines.

    ``kappa_error[k]``: max over ``times`` of ``|kappa_simulated - kappa_exact|`` for ``kappa0s[k]``, the larger of
    the weight-space flow (``m`` neurons) and the Gram flow; ``weight_error[k]``: max ``|W_sim - W_exact|``;
    ``push_error[k]``: max ``|P_sim - P_exact|`` of the accumulated push; ``norm_error``: max ``| ||W_i|| - 1 |``
    along the simulated weight flows; ``limit_error[k]``: ``|W_exact(t_end) - Loewdin|`` at ``t_end``.
    """

    m: int
    seed: int
    kappa0s: tuple[float, ...]
    times: np.ndarray
    rtol: float
    kappa_error: np.ndarray
    weight_error: np.ndarray
    push_error: np.ndarray
    norm_error: float
    limit_error: np.ndarray


def pair_oracle(kappa0s: tuple[float, ...], *, m: int, times: np.ndarray, seed: int, rtol: float) -> PairOracle:
    """Simulate two unit encodings (weights ``(2, m)`` and Gram) from each ``kappa0`` and compare with the exact solution."""
    m = v.size("m", m)
    t = v.times(times)
    rtol = v.positive("rtol", rtol)
    kerr, werr, perr, lerr, nerr = [], [], [], [], 0.0
    for k, k0 in enumerate(kappa0s):
        W0 = unit_pair(m, k0, seed=seed + k)
        exact_W = fixed_norm_pair(W0, t)
        exact_k = fixed_norm_pair_kappa(W0 @ W0.T, t)
        Ws = simulate_fixed_norm(W0, t, rtol=rtol)
        Gs, Ps = simulate_fixed_norm_gram_with_push(unit_pair_gram(k0), t, rtol=rtol)
        ksim = np.einsum("tm,tm->t", Ws[:, 0], Ws[:, 1])
        kerr.append(max(float(np.max(np.abs(ksim - exact_k))), float(np.max(np.abs(Gs[:, 0, 1] - exact_k)))))
        werr.append(float(np.max(np.abs(Ws - exact_W))))
        perr.append(float(np.max(np.abs(Ps[:, 0, 1] - fixed_norm_pair_push(unit_pair_gram(k0), t)))))
        nerr = max(nerr, float(np.max(np.abs(np.linalg.norm(Ws, axis=2) - 1.0))))
        lerr.append(float(np.max(np.abs(exact_W[-1] - fixed_norm_pair_limit(W0)))))
    return PairOracle(m, seed, tuple(float(k) for k in kappa0s), t, rtol, np.array(kerr), np.array(werr),
                      np.array(perr), nerr, np.array(lerr))


@dataclass(frozen=True)
class PairComparison:
    """Two unit encodings under the three models, for each starting cosine in ``kappa0s`` (arrays ``(K,)``).

    ``push``: total push ``int_0^oo ReLU(W_1 . W_2)`` per model (exact formulas, checked by simulation in
    ``push_simulated``); ``half``: time for the cosine to halve; ``end_norm``: the norm each encoding ends with;
    ``end_lowdin``: max distance of the end point (rescaled to the end norm) from the Loewdin orthogonalisation
    ``S^{-1/2} W(0)``, from the exact weight solutions at ``t_end``.
    """

    kappa0s: tuple[float, ...]
    t_end: float
    push: dict[str, np.ndarray]
    push_simulated: dict[str, np.ndarray]
    half: dict[str, np.ndarray]
    end_norm: dict[str, np.ndarray]
    end_lowdin: dict[str, np.ndarray]


def lowdin(W: np.ndarray) -> np.ndarray:
    """``S^{-1/2} W`` ``(n, m)`` with ``S = W W^T``: the symmetric (Loewdin) orthogonalisation."""
    evals, evecs = np.linalg.eigh(W @ W.T)
    return (evecs / np.sqrt(evals)) @ evecs.T @ W


def pair_comparison(kappa0s: tuple[float, ...], *, m: int, t_end: float, seed: int, rtol: float) -> PairComparison:
    """The three pair models side by side (see :class:`PairComparison`); pushes also simulated to ``t_end``."""
    m = v.size("m", m)
    t_end = v.positive("t_end", t_end)
    rtol = v.positive("rtol", rtol)
    models = ("fixed_norm", "full", "interference")
    push = {k: [] for k in models}
    sim = {k: [] for k in models}
    half = {k: [] for k in models}
    norm = {k: [] for k in models}
    low = {k: [] for k in models}
    ends = [0.0, t_end]
    for k, k0 in enumerate(kappa0s):
        G0 = unit_pair_gram(k0)
        W0 = unit_pair(m, k0, seed=seed + k)
        L = lowdin(W0)
        push["fixed_norm"].append(fixed_norm_pair_push_total(G0))
        push["interference"].append(pair_push_total(G0))
        push["full"].append(0.5 * math.atanh(k0))   # derived in the chapter; checked by simulation below
        sim["fixed_norm"].append(simulate_fixed_norm_gram_with_push(G0, ends, rtol=rtol)[1][-1, 0, 1])
        sim["full"].append(simulate_gram_with_push(G0, ends, terms=FULL, rtol=rtol)[1][-1, 0, 1])
        sim["interference"].append(simulate_gram_with_push(G0, ends, terms=INTERFERENCE, rtol=rtol)[1][-1, 0, 1])
        for model in models:
            half[model].append(half_time(model, k0))
        end = {"fixed_norm": fixed_norm_pair(W0, ends)[-1], "full": symmetric_pair(W0, ends)[-1],
               "interference": pair_interference(W0, ends)[-1]}
        for model, E in end.items():
            r = float(np.linalg.norm(E[0]))
            norm[model].append(r)
            low[model].append(float(np.max(np.abs(E / r - L))))
    arr = lambda d: {key: np.asarray(val, dtype=float) for key, val in d.items()}  # noqa: E731
    return PairComparison(tuple(float(k) for k in kappa0s), t_end, arr(push), arr(sim), arr(half), arr(norm), arr(low))


# --- which model describes the real flow --------------------------------------------------------------

def cosines(Gs: np.ndarray) -> np.ndarray:
    """Cosines ``(..., n, n)`` of a stack of Gram matrices ``(..., n, n)``."""
    d = np.sqrt(np.einsum("...ii->...i", Gs))
    return Gs / (d[..., :, None] * d[..., None, :])


def positive_cosine_error(K_model: np.ndarray, K_full: np.ndarray) -> np.ndarray:
    """Relative error of a model on the positive cosines: ``||ReLU(K_model) - ReLU(K_full)|| / ||ReLU(K_full)||``.

    Frobenius norms over the off-diagonal entries, at each time: ``(T,)`` from ``(T, n, n)`` stacks. The positive
    cosines are the interfering pairs, the ones the note's question is about; a model that gets their decay rate
    wrong by ``delta`` has error about ``delta t``.
    """
    n = K_full.shape[-1]
    off = ~np.eye(n, dtype=bool)
    A = np.maximum(K_model, 0.0)[..., off]
    B = np.maximum(K_full, 0.0)[..., off]
    return np.sqrt(np.sum((A - B) ** 2, axis=-1) / np.sum(B**2, axis=-1))


def run_models(G0: np.ndarray, times: np.ndarray, *, rtol: float) -> dict[str, np.ndarray]:
    """The three flows from one initial Gram matrix ``G0`` ``(n, n)``: ``{model: (T, n, n) Gram matrices}``.

    ``full`` and ``interference`` start from ``G0`` (free norms); ``fixed_norm`` starts from its cosines
    (the same directions, unit norms). All are solved by ``solve_ivp`` with the same tolerance rule.
    """
    return {"full": simulate_gram(G0, times, terms=FULL, rtol=rtol),
            "interference": simulate_gram(G0, times, terms=INTERFERENCE, rtol=rtol),
            "fixed_norm": simulate_fixed_norm_gram(cosine_similarity(G0), times, rtol=rtol)}


@dataclass(frozen=True)
class FlowComparison:
    """The errors of the two models against the full flow at one size ``(n, m)``, over ``seeds``.

    ``errors[model]`` is ``(len(seeds), len(times))``: :func:`positive_cosine_error` of the model against the
    full flow from ``G(0) = sample_gram(n, m, seed)``. ``norm_dev[flow]`` (``flow`` in ``full``,
    ``interference``) is ``(len(seeds), len(times))``: RMS over ``i`` of ``||W_i(t)||^2 - 1``, what the
    fixed-norm model sets to 0.
    """

    n: int
    m: int
    seeds: tuple[int, ...]
    times: np.ndarray
    rtol: float
    errors: dict[str, np.ndarray]
    norm_dev: dict[str, np.ndarray]
    confidence: float = 0.95

    def mean(self, model: str) -> np.ndarray:
        """Mean error over seeds, ``(T,)``."""
        return self.errors[model].mean(axis=0)

    def interval(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        """Student-t interval of the mean error over seeds at level ``confidence``, two ``(T,)`` arrays."""
        e = self.errors[model]
        half = stats.t.ppf(0.5 + self.confidence / 2, e.shape[0] - 1) * e.std(axis=0, ddof=1) / math.sqrt(e.shape[0])
        return e.mean(axis=0) - half, e.mean(axis=0) + half

    def scaled(self, model: str) -> np.ndarray:
        """Mean error times ``sqrt(m)``, ``(T,)``: the unit in which the first-order prediction is size-free."""
        return self.mean(model) * math.sqrt(self.m)

    @property
    def crossover(self) -> float:
        """First time after 0 at which the fixed-norm model's mean error falls below interference alone's
        (linear interpolation between output times; ``nan`` if it never does)."""
        d = self.mean("fixed_norm") - self.mean("interference")
        t = self.times
        for k in range(1, len(t)):
            if d[k] < 0 <= d[k - 1] or (d[k] < 0 and k == 1):
                if d[k - 1] <= 0:
                    return float(t[k - 1])
                return float(t[k - 1] + (t[k] - t[k - 1]) * d[k - 1] / (d[k - 1] - d[k]))
        return float("nan")

    def at(self, time: float) -> int:
        """Index of the output time closest to ``time``."""
        return int(np.argmin(np.abs(self.times - time)))

    def fraction_better(self, time: float) -> float:
        """Fraction of seeds in which the fixed-norm model has the smaller error at ``time``."""
        k = self.at(time)
        return float(np.mean(self.errors["fixed_norm"][:, k] < self.errors["interference"][:, k]))


def compare_flows(n: int, m: int, *, seeds: tuple[int, ...], times: np.ndarray, rtol: float) -> FlowComparison:
    """Run the three flows from ``sample_gram(n, m, seed)`` for each seed and measure the models' errors."""
    n, m = v.sizes(n, m)
    t = v.times(times)
    rtol = v.positive("rtol", rtol)
    seeds = tuple(v.seed(s) for s in seeds)
    if len(seeds) < 2:
        raise ValueError(f"seeds must hold at least 2 seeds for an interval, got {len(seeds)}")
    errors = {model: [] for model in MODELS}
    dev = {"full": [], "interference": []}
    for s in seeds:
        runs = run_models(sample_gram(n, m, seed=s), t, rtol=rtol)
        K_full = cosines(runs["full"])
        for model in MODELS:
            errors[model].append(positive_cosine_error(cosines(runs[model]), K_full))
        for flow in dev:
            a = np.einsum("tii->ti", runs[flow])
            dev[flow].append(np.sqrt(np.mean((a - 1.0) ** 2, axis=1)))
    return FlowComparison(n, m, seeds, t, rtol, {k: np.asarray(e) for k, e in errors.items()},
                          {k: np.asarray(d) for k, d in dev.items()})


def comparison_grid(sizes: tuple[tuple[int, int], ...], *, seeds: tuple[int, ...], times: np.ndarray,
                    rtol: float) -> list[FlowComparison]:
    """:func:`compare_flows` at each ``(n, m)`` of ``sizes``."""
    if len(sizes) < 1:
        raise ValueError("sizes must hold at least one (n, m)")
    return [compare_flows(n, m, seeds=seeds, times=times, rtol=rtol) for n, m in sizes]


def predicted_errors(n: int, m: int, times: np.ndarray) -> dict[str, np.ndarray]:
    """First-order prediction of :func:`positive_cosine_error` for both models, ``{model: (T,)}``.

    Ignoring third encodings in the directions, ``d log kappa_ij/dt = -(a_i + a_j)`` with ``a = ||W||^2``, so a
    model's error in ``log kappa_ij`` is ``-int (a_i + a_j)_model - (a_i + a_j)_full``. With ``a_i(0) = 1 + eps_i``,
    ``Var eps_i = 2/m``, and the mean drain of interference ``(n-1)/m e^{-4t}`` on each ``a_i``:
    full flow ``a - 1 = eps e^{-2t} - (n-1)/(2m) (e^{-2t} - e^{-4t})``; interference alone
    ``a - 1 = eps - (n-1)/(4m) (1 - e^{-4t})``; fixed norm ``a = 1``. Hence errors in ``log kappa``

    - fixed norm: ``(eps_i + eps_j) f(t) - (n-1)/m h(t)``, ``f = (1 - e^{-2t})/2``, ``h = f - (1 - e^{-4t})/4``;
    - interference alone: ``-(eps_i + eps_j)(t - f) + (n-1)/(2m) (t - (1 - e^{-4t})/4) - (n-1)/m h``,

    and the RMS over pairs is ``sqrt(4/m (random factor)^2 + (mean part)^2)``. The fixed-norm error levels off at
    ``sqrt(1/m + ((n-1)/(4m))^2)``; interference alone's grows like ``2 t / sqrt(m)``; they cross where
    ``t = 1 - e^{-2t}``, ``t = 0.797`` (when ``n << sqrt(m)``).
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


# --- conclusions of chapters 4 and 5 under the fixed-norm model ------------------------------------------

@dataclass(frozen=True)
class Conclusions:
    """Chapters 4 and 5's findings measured in each flow, at one ``(n, m)`` over ``seeds``.

    Per flow (``full``, ``fixed_norm``, ``interference``): ``early_rate``, the median over initially interfering
    pairs of the decay rate of ``kappa`` fitted over ``t`` in ``early``; ``late_rate``, the decay rate of the RMS
    positive cosine over ``late``; ``push_slope``, the least-squares slope through 0 of the total push ``P_ij`` on the
    Gram-Schmidt coefficient ``c_ij = G_ij / G_jj`` (1/2 is half a step); ``positive``, the fraction of pairs
    with ``sqrt(m) kappa > zero`` at ``t_end``; ``at_zero``, the fraction with ``|sqrt(m) kappa| <= zero``.
    """

    n: int
    m: int
    seeds: tuple[int, ...]
    t_end: float
    early: tuple[float, float]
    late: tuple[float, float]
    zero: float
    early_rate: dict[str, float]
    late_rate: dict[str, float]
    push_slope: dict[str, float]
    positive: dict[str, float]
    at_zero: dict[str, float]


def conclusions(n: int, m: int, *, seeds: tuple[int, ...], t_end: float, early: tuple[float, float],
                late: tuple[float, float], zero: float, rtol: float) -> Conclusions:
    """Measure the conclusions of chapters 4 and 5 in the three flows (see :class:`Conclusions`)."""
    n, m = v.sizes(n, m)
    t_end = v.positive("t_end", t_end)
    rtol = v.positive("rtol", rtol)
    seeds = tuple(v.seed(s) for s in seeds)
    if not 0 <= early[0] < early[1] and late[0] < late[1] <= t_end:
        raise ValueError(f"early and late must be increasing windows inside [0, t_end], got {early}, {late}")
    times = np.unique(np.array([0.0, *early, *late, t_end]))
    idx = {x: int(np.searchsorted(times, x)) for x in (*early, *late, t_end)}
    flows = ("full", "fixed_norm", "interference")
    early_r = {f: [] for f in flows}
    late_r = {f: [] for f in flows}
    num = {f: 0.0 for f in flows}
    den = {f: 0.0 for f in flows}
    pos = {f: [] for f in flows}
    zer = {f: [] for f in flows}
    iu = np.triu_indices(n, k=1)
    for s in seeds:
        G0 = sample_gram(n, m, seed=s)
        runs = {"full": simulate_gram_with_push(G0, times, terms=FULL, rtol=rtol),
                "interference": simulate_gram_with_push(G0, times, terms=INTERFERENCE, rtol=rtol),
                "fixed_norm": simulate_fixed_norm_gram_with_push(cosine_similarity(G0), times, rtol=rtol)}
        for f, (Gs, Ps) in runs.items():
            K = cosines(Gs)
            mask = G0 > 0
            np.fill_diagonal(mask, False)
            k0, k1 = K[idx[early[0]]][mask], K[idx[early[1]]][mask]
            ok = (k0 > 0) & (k1 > 0)
            early_r[f].append(np.log(k0[ok] / k1[ok]) / (early[1] - early[0]))
            rms = [math.sqrt(np.mean(np.maximum(K[idx[x]][iu], 0.0) ** 2)) for x in late]
            late_r[f].append(math.log(rms[0] / rms[1]) / (late[1] - late[0]))
            c = (Gs[0] / np.diag(Gs[0])[None, :])[mask]
            num[f] += float(np.sum(Ps[-1][mask] * c))
            den[f] += float(np.sum(c * c))
            x = K[-1][iu] * math.sqrt(m)
            pos[f].append(np.mean(x > zero))
            zer[f].append(np.mean(np.abs(x) <= zero))
    return Conclusions(n, m, seeds, t_end, tuple(early), tuple(late), zero,
                       {f: float(np.median(np.concatenate(early_r[f]))) for f in flows},
                       {f: float(np.mean(late_r[f])) for f in flows},
                       {f: num[f] / den[f] for f in flows},
                       {f: float(np.mean(pos[f])) for f in flows},
                       {f: float(np.mean(zer[f])) for f in flows})
