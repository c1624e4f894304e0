"""Chapter 4 (The combined rate): the experiments of claims K1-K3 and the chapter's widgets.

Every runner takes all its knobs as keyword arguments (the notebook sets them in a visible cell)
and returns a :class:`~incidental.book.Result`; every figure builder returns ``(figure, caption)``
with the caption built from the result. The formulas live in the core: the split of the
cosine's rate and its conditional mean in :mod:`incidental.derivation`, the drift model and the
derived constants in :mod:`incidental.theory`, the closed-form two-encoding flow in
:mod:`incidental.exact`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from matplotlib.figure import Figure
from scipy.integrate import cumulative_trapezoid

from .. import _validate as v
from .. import figures, svgplot
from ..book import Result, quote
from ..checks import Check, check_below, check_close, check_exponent
from ..derivation import kappa_rate, numerator_second_order, relative_rate_parts
from ..exact import pair_cosine, pair_decay_rate, pair_overlap
from ..explore import Control, Explorable, Panel
from ..flow import simulate_gram
from ..model import cosine_similarity, sample_gram, sample_weights
from ..plotting import render
from ..theory import (
    breakdown_time,
    drift_profile,
    drift_strength,
    late_collective_rate,
    pair_spread,
    second_order_mean_slope,
    third_encoding_norm_loss,
)

INTERFERENCE: tuple[str, ...] = ("interference",)
FULL: tuple[str, ...] = ("feature_benefit", "interference")
FLOWS: dict[str, tuple[str, ...]] = {"interference": INTERFERENCE, "full": FULL}
FLOW_LABELS: dict[str, str] = {"interference": "interference only", "full": "feature benefit + interference, λ=0"}
SIM_RTOL = 1e-10  # the chapter's flows: relative error of interfering overlaps below 1e-4 up to t = 6, m <= 65536
PALETTE = svgplot.PALETTE


def _pairs(sizes) -> tuple[tuple[int, int], ...]:
    return tuple((int(n), int(m)) for n, m in sizes)


# --- K1: the exact rate of a cosine, and its four parts -------------------------------------------


def finite_difference_kappa_error(n: int, m: int, *, seed: int, flow: str, t0: float, h: float) -> float:
    """``max |kappa_rate(G(t0)) - (kappa(t0+h) - kappa(t0-h))/(2h)|`` along a simulated flow, relative
    to ``max |kappa_rate|`` (a float). Central differences have error ``O(h^2)``."""
    if flow not in FLOWS:
        raise ValueError(f"flow must be one of {sorted(FLOWS)}, got {flow!r}")
    if not 0 < h < t0:
        raise ValueError(f"h must lie in (0, t0), got h={h}, t0={t0}")
    terms = FLOWS[flow]
    G0 = sample_gram(n, m, seed=seed)
    Gs = simulate_gram(G0, [t0 - h, t0, t0 + h], terms=terms, rtol=1e-13)
    fd = (cosine_similarity(Gs[2]) - cosine_similarity(Gs[0])) / (2 * h)
    exact = kappa_rate(Gs[1], terms)
    off = ~np.eye(n, dtype=bool)
    return float(np.max(np.abs(exact - fd)[off]) / np.max(np.abs(exact)[off]))


def parts_sum_error(n: int, m: int, *, seed: int) -> float:
    """Largest ``|first + numerator + others + own - total|`` over the interfering pairs of one draw (a float)."""
    p = relative_rate_parts(sample_gram(n, m, seed=seed))
    return float(np.max(np.abs(p.first_order + p.numerator + p.others + p.own - p.total)))


def rate_identities(
    *,
    n: int,
    m: int,
    t0: float,
    h: float,
    fd_tolerance: float,
    parts_n: int,
    parts_m: int,
    parts_tolerance: float,
    seed: int,
) -> Result:
    """K1, exact part: the quotient rule against central differences along both flows (``n``, ``m``,
    at ``t0`` with step ``h``), and the four parts adding up to the exact rate (``parts_n``, ``parts_m``)."""
    fd = {f: finite_difference_kappa_error(n, m, seed=seed, flow=f, t0=t0, h=h) for f in FLOWS}
    parts = parts_sum_error(parts_n, parts_m, seed=seed)
    regime = f"n={n}, m={m}, t={t0:g}, h={h:g}, seed={seed}"
    checks = [
        check_below(
            "K1",
            f"dκ/dt by the quotient rule = central differences along the flow ({FLOW_LABELS[f]})",
            measured=fd[f],
            bound=fd_tolerance,
            regime=regime,
            quantity="max rel. |Δ|",
            kind="identity",
        )
        for f in FLOWS
    ]
    checks.append(
        check_below(
            "K1",
            "first order + numerator + others + own = exact relative rate",
            measured=parts,
            bound=parts_tolerance,
            regime=f"n={parts_n}, m={parts_m}, seed={seed}",
            quantity="max |Δ|",
            kind="identity",
        )
    )
    params = dict(
        n=n,
        m=m,
        t0=t0,
        h=h,
        fd_tolerance=fd_tolerance,
        parts_n=parts_n,
        parts_m=parts_m,
        parts_tolerance=parts_tolerance,
        seed=seed,
    )
    numbers = {
        "fd_interference": quote(fd["interference"], ".1e"),
        "fd_full": quote(fd["full"], ".1e"),
        "parts": quote(parts, ".1e"),
    }
    return Result(params, checks, numbers)


# --- K1 in the mean: the Θ(n/m) terms cancel ------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A mean with its standard error (delete-one-draw jackknife)."""

    mean: float
    se: float

    def scaled(self, factor: float) -> Estimate:
        return Estimate(self.mean * factor, self.se * factor)


def _ratio_estimates(per_draw: np.ndarray, weights: np.ndarray) -> list[Estimate]:
    """Pooled ratios ``sum_s X_s / sum_s w_s`` per column of ``per_draw`` ``(S, q)``, with jackknife errors."""
    total, wsum, S = per_draw.sum(0), weights.sum(), len(weights)
    jack = (total[None] - per_draw) / (wsum - weights)[:, None]
    se = np.sqrt((S - 1) / S * np.sum((jack - jack.mean(0)) ** 2, axis=0))
    return [Estimate(float(t / wsum), float(s)) for t, s in zip(total, se)]


@dataclass(frozen=True)
class CorrectionStats:
    """K1 in the mean at one ``(n, m)``: ``kappa^2``-weighted means over the interfering pairs of ``draws`` draws.

    ``numerator`` (N), ``others`` (D), ``own`` (Q) and ``correction`` (``c = <kappa'/kappa + a + b>``) are
    all in units of ``n/m``; ``own`` is what the conditional mean predicts for ``c``. ``first_order`` is
    ``<a + b>``; ``own_plain`` the unweighted mean of ``kappa^2 (a + b)`` in units of ``1/m`` (predicted 2).
    """

    n: int
    m: int
    draws: int
    pairs: int
    first_order: Estimate
    numerator: Estimate
    others: Estimate
    own: Estimate
    correction: Estimate
    own_plain: Estimate

    @property
    def predicted_numerator(self) -> float:
        """``-(n-2)/m`` in units of ``n/m``."""
        return second_order_mean_slope(self.n, self.m) * self.m / self.n

    @property
    def predicted_others(self) -> float:
        """``+(n-2)/m`` in units of ``n/m``."""
        return third_encoding_norm_loss(self.n, self.m) * self.m / self.n


def correction_stats(n: int, m: int, *, draws: int, seed: int) -> CorrectionStats:
    """The four parts of K1 over ``draws`` Gram matrices ``sample_gram(n, m, seed=seed + s)``.

    Weighted by ``kappa^2`` (the least-squares fit of ``X kappa`` on ``kappa``): the plain mean of the
    numerator part does not exist, because pairs with a tiny ``W_i . W_j`` divide a random
    second-order term by almost zero (Cauchy tails).
    """
    n, m = v.sizes(n, m)
    draws = v.size("draws", draws)
    rows, weights, plain, counts = [], [], [], []
    for s in range(draws):
        p = relative_rate_parts(sample_gram(n, m, seed=seed + s))
        w = p.kappa**2
        rows.append(
            [
                np.sum(w * (-p.first_order)),
                np.sum(w * p.numerator),
                np.sum(w * p.others),
                np.sum(w * p.own),
                np.sum(w * (p.total - p.first_order)),
            ]
        )
        weights.append(np.sum(w))
        plain.append([np.sum(p.own)])
        counts.append(p.kappa.size)
    est = _ratio_estimates(np.asarray(rows), np.asarray(weights))
    own_plain = _ratio_estimates(np.asarray(plain), np.asarray(counts, dtype=float))[0]
    unit = m / n
    return CorrectionStats(
        n,
        m,
        draws,
        int(sum(counts)),
        est[0],
        est[1].scaled(unit),
        est[2].scaled(unit),
        est[3].scaled(unit),
        est[4].scaled(unit),
        own_plain.scaled(m),
    )


def correction_checks(s: CorrectionStats, *, sigmas: float) -> list[Check]:
    """K1 in the mean at one setting, each within ``sigmas`` standard errors."""
    regime = f"n={s.n}, m={s.m}, {s.draws} draws, {s.pairs} pairs"
    return [
        check_close(
            "K1",
            "dropped numerator terms N, mean, in units of n/m: −(n−2)/n",
            predicted=s.predicted_numerator,
            measured=s.numerator.mean,
            atol=sigmas * s.numerator.se,
            regime=regime,
        ),
        check_close(
            "K1",
            "norm loss to third encodings D, mean, in units of n/m: +(n−2)/n",
            predicted=s.predicted_others,
            measured=s.others.mean,
            atol=sigmas * s.others.se,
            regime=regime,
        ),
        check_close(
            "K1",
            "net correction c to the rate a+b, in units of n/m, is the pair's own term "
            "⟨κ²(a+b)⟩/(n/m) ≈ 6/n: the Θ(n/m) terms cancel, what is left is Θ(1/m)",
            predicted=s.own.mean,
            measured=s.correction.mean,
            atol=sigmas * s.correction.se,
            regime=regime,
            refutes="dκ/dt ≈ −κ(‖W_i‖² + ‖W_j‖² − Θ(n/m)): a correction of order n/m to the rate",
        ),
        check_close(
            "K1",
            "the pair's own norm loss κ²(a+b), plain mean, in units of 1/m",
            predicted=2.0,
            measured=s.own_plain.mean,
            atol=sigmas * s.own_plain.se,
            regime=regime,
        ),
    ]


def mean_correction(
    *, settings: tuple[tuple[int, int, int], ...], reference: tuple[int, int], sigmas: float, seed: int
) -> Result:
    """K1 in the mean at each ``(n, m, draws)`` of ``settings``; numbers quoted at ``reference`` ``(n, m)``."""
    settings = tuple((int(n), int(m), int(d)) for n, m, d in settings)
    if tuple(reference) not in [(n, m) for n, m, _ in settings]:
        raise ValueError(f"reference must be one of the settings' (n, m), got {reference}")
    table = [correction_stats(n, m, draws=d, seed=seed) for n, m, d in settings]
    checks = [c for s in table for c in correction_checks(s, sigmas=sigmas)]
    ref = next(s for s in table if (s.n, s.m) == tuple(reference))
    top = max(table, key=lambda s: s.correction.mean)
    params = dict(settings=settings, reference=tuple(reference), sigmas=sigmas, seed=seed)
    numbers = {
        "ref_n": quote(ref.n, "d"),
        "ref_m": quote(ref.m, "d"),
        "pairs": quote(ref.pairs, ",d"),
        "draws": quote(ref.draws, "d"),
        "num": quote(ref.numerator.mean, ".3f"),
        "num_se": quote(ref.numerator.se, ".3f"),
        "num_pred": quote(ref.predicted_numerator, ".3f"),
        "den": quote(ref.others.mean, ".3f"),
        "den_se": quote(ref.others.se, ".3f"),
        "den_pred": quote(ref.predicted_others, ".3f"),
        "c": quote(ref.correction.mean, ".3f"),
        "c_se": quote(ref.correction.se, ".3f"),
        "own": quote(ref.own.mean, ".3f"),
        "six_over_n": quote(6 / ref.n, ".3f"),
        "own_plain": quote(ref.own_plain.mean, ".3f"),
        "own_plain_se": quote(ref.own_plain.se, ".3f"),
        "first": quote(ref.first_order.mean, ".4f"),
        "max_c": quote(top.correction.mean, ".2f"),
        "max_c_n": quote(top.n, "d"),
        "max_c_m": quote(top.m, "d"),
        "max_c_six": quote(6 / top.n, ".2f"),
        "settings_count": quote(len(table), "d"),
    }
    return Result(params, checks, numbers, dict(table=table))


def mean_axes(r: Result) -> list[svgplot.Axes]:
    """Left: the two Θ(n/m) parts N and D against ``m``, per ``n``; right: their net effect ``c``. Units of ``n/m``."""
    table = r.data["table"]
    ns = sorted({s.n for s in table})
    parts, net = [], []
    for k, n in enumerate(ns):
        color = PALETTE[k % len(PALETTE)]
        sel = [s for s in table if s.n == n]
        m = np.array([s.m for s in sel], dtype=float)
        span = np.array([m.min() / 1.5, m.max() * 1.5])
        for attr, label in (("others", f"n = {n}: D > 0 (kept), N < 0 (dropped)"), ("numerator", "")):
            est = [getattr(s, attr) for s in sel]
            mean = np.array([e.mean for e in est])
            se = np.array([e.se for e in est])
            parts.append(
                svgplot.Series(
                    m, mean, label=label, kind="errorbar", color=color, low=mean - 2 * se, high=mean + 2 * se
                )
            )
        parts.append(
            svgplot.Series(
                span, [sel[0].predicted_numerator] * 2, color=color, dashed=True, label=f"n = {n}: predicted ±(n−2)/n"
            )
        )
        parts.append(svgplot.Series(span, [sel[0].predicted_others] * 2, color=color, dashed=True))
        c = np.array([s.correction.mean for s in sel])
        se = np.array([s.correction.se for s in sel])
        net.append(
            svgplot.Series(
                m, c, label=f"n = {n}: c measured", kind="errorbar", color=color, low=c - 2 * se, high=c + 2 * se
            )
        )
        net.append(
            svgplot.Series(
                m, [s.own.mean for s in sel], label=f"n = {n}: predicted ⟨Q⟩", kind="line", color=color, dashed=True
            )
        )
    unit = r"(units of $n/m$)"
    return [
        svgplot.Axes(
            parts,
            xlabel="neurons $m$",
            ylabel=f"mean part of $\\dot\\kappa/\\kappa$ {unit}",
            xlog=True,
            hlines=[(0.0, "")],
            title="the two Θ(n/m) parts",
        ),
        svgplot.Axes(
            net,
            xlabel="neurons $m$",
            ylabel=f"net correction $c$ {unit}",
            xlog=True,
            hlines=[(0.0, ""), (1.0, "the note's Θ(n/m) with constant 1")],
            ylim=(-0.25, 1.15),
            title="their sum with the pair's own term",
        ),
    ]


def mean_figure(r: Result) -> tuple[Figure, str]:
    """The K1 means as a static figure; caption from ``r``."""
    table = r.data["table"]
    settings = ", ".join(f"({s.n}, {s.m})" for s in table)
    caption = (
        f"The parts of the correction to the rate $a+b$, all in units of $n/m$ as in the check table "
        f"above (error bars: two standard errors), at $(n, m) \\in$ {{{settings}}}, "
        f"$\\kappa^2$-weighted over the interfering pairs of the draws. Left: the norm loss to third "
        f"encodings $D$, which the note keeps, sits at $+(n-2)/n$ and the numerator terms $N$ it drops "
        f"at $-(n-2)/n$ (dashed): they cancel. Right: what is left, $c$, is the pair's own term "
        f"$\\langle Q\\rangle$ (dashed, about $6/n$), far below the constant 1 of a correction of "
        f"order $n/m$; at $n = {r.q.ref_n}$, $m = {r.q.ref_m}$, $c =$ {r.q.c} ± {r.q.c_se}."
    )
    return render(mean_axes(r), width=9.0, height=3.4), caption


# --- K1 pair by pair: the dropped terms are Θ(sqrt(n/m)) ------------------------------------------


def fluctuation_scale(n: int, m: int, *, draws: int, seed: int) -> tuple[float, float]:
    """(spread, median error) over all pairs of ``draws`` draws at ``(n, m)``.

    ``spread = std(S_ij - (n-2) G_ij/m) / RMS(G_ij)``: the random part of the second-order numerator
    terms relative to a typical overlap (predicted :func:`~incidental.theory.pair_spread`);
    ``median error``: median over interfering pairs of ``|kappa_rate / first-order rate - 1|``
    (predicted half the spread).
    """
    n, m = v.sizes(n, m)
    resid, overlaps, errors = [], [], []
    i, j = np.triu_indices(n, k=1)
    for s in range(draws):
        G = sample_gram(n, m, seed=seed + s)
        resid.append(numerator_second_order(G)[i, j] - second_order_mean_slope(n, m) * G[i, j])
        overlaps.append(G[i, j])
        p = relative_rate_parts(G)
        errors.append(np.abs(p.total / p.first_order - 1.0))
    spread = float(np.std(np.concatenate(resid)) / np.sqrt(np.mean(np.concatenate(overlaps) ** 2)))
    return spread, float(np.median(np.concatenate(errors)))


def pair_fluctuations(
    *,
    grid: tuple[tuple[int, int], ...],
    draws: int,
    seed: int,
    quote_at: tuple[int, int],
    exponent_tolerance: float,
    constant_rtol: float,
) -> Result:
    """K1 pair by pair over ``grid`` of ``(n, m)``: the spread of the dropped terms ``~ ((n-2)/m)^{1/2}`` and its
    constant, and the median error of the note's rate (half the spread); numbers quoted at ``quote_at``."""
    grid = _pairs(grid)
    if tuple(quote_at) not in grid:
        raise ValueError(f"quote_at must be one of the grid's (n, m), got {quote_at}")
    ns = np.array([g[0] for g in grid], dtype=float)
    ms = np.array([g[1] for g in grid], dtype=float)
    res = np.array([fluctuation_scale(n, m, draws=draws, seed=seed) for n, m in grid])
    x = (ns - 2) / ms
    pred = np.array([pair_spread(n, m) for n, m in grid])
    regime = f"n in {sorted({int(a) for a in ns})}, m = {int(ms.min())}..{int(ms.max())}, {draws} draws each"
    c_exp, fit = check_exponent(
        "K1",
        "spread of the dropped numerator terms = Θ(sqrt(n/m))",
        sizes=x,
        values=res[:, 0],
        predicted=0.5,
        regime=regime,
        tolerance=exponent_tolerance,
    )
    constant = float(np.mean(res[:, 0] / pred))
    median_ratio = float(np.mean(res[:, 1] / (pred / 2)))
    c_const = check_close(
        "K1",
        "spread / sqrt(3(n−2)/(2m)) (the constant)",
        predicted=1.0,
        measured=constant,
        rtol=constant_rtol,
        regime=regime,
    )
    c_med = check_close(
        "K1",
        "pair by pair, the note's rate −κ(a+b) is off by a median relative "
        "sqrt(3(n−2)/(8m)) = Θ(sqrt(n/m)) (measured / predicted)",
        predicted=1.0,
        measured=median_ratio,
        rtol=constant_rtol,
        regime=regime,
        refutes="pair by pair, dκ/dt = −κ(a+b) up to a correction of order n/m",
    )
    k = grid.index(tuple(quote_at))
    params = dict(
        grid=grid,
        draws=draws,
        seed=seed,
        quote_at=tuple(quote_at),
        exponent_tolerance=exponent_tolerance,
        constant_rtol=constant_rtol,
    )
    numbers = {
        "exp": quote(fit.exponent, ".3f"),
        "lo": quote(fit.low, ".3f"),
        "hi": quote(fit.high, ".3f"),
        "constant": quote(constant, ".3f"),
        "median_ratio": quote(median_ratio, ".3f"),
        "at_n": quote(grid[k][0], "d"),
        "at_m": quote(grid[k][1], "d"),
        "med_err": quote(float(res[k, 1]), ".3f"),
        "med_pred": quote(float(pred[k] / 2), ".3f"),
        "at_nm": quote(grid[k][0] / grid[k][1], ".4f"),
        "m_max": quote(int(ms.max()), "d"),
    }
    return Result(params, [c_exp, c_const, c_med], numbers, dict(x=x, spread=res[:, 0], median=res[:, 1], fit=fit))


def fluctuation_axes(r: Result) -> svgplot.Axes:
    """Spread of the dropped terms and median error of the note's rate against ``(n-2)/m``, with predictions."""
    d = r.data
    series = [
        *figures.power_law(
            d["x"],
            d["spread"],
            label="spread of dropped terms",
            fit=d["fit"],
            predicted=lambda x: np.sqrt(1.5 * x),
            predicted_label=r"predicted $\sqrt{3(n-2)/(2m)}$",
        ),
        *figures.power_law(
            d["x"],
            d["median"],
            label="median rel. error of $-(a+b)$",
            color=PALETTE[4],
            predicted=lambda x: np.sqrt(1.5 * x) / 2,
            predicted_label="predicted: half the spread",
        ),
    ]
    grid = np.geomspace(d["x"].min(), d["x"].max(), 50)
    series.append(svgplot.Series(grid, grid, label="$(n-2)/m$: size of the note's correction", color="#999"))
    return figures.power_law_axes(series, xlabel="$(n-2)/m$", ylabel="relative size")


def fluctuation_figure(r: Result) -> tuple[Figure, str]:
    """The pair-to-pair spread as a static figure; caption from ``r``."""
    caption = (
        f"Pair by pair, over {len(r.params['grid'])} sizes ($m$ up to {r.q.m_max}, {r.params['draws']} "
        f"draws each): the spread of the dropped numerator terms relative to a typical overlap "
        f"(fitted exponent {r.q.exp} in $(n-2)/m$) and the median relative error of the note's rate "
        f"$-(a+b)$ (orange) both follow $\\sqrt{{n/m}}$ (black lines), far above the size $n/m$ of the "
        f"correction the note keeps (grey)."
    )
    return render(fluctuation_axes(r), width=6.4, height=3.6), caption


# --- K2: trajectories ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Trajectory:
    """A simulated flow seen pair by pair, for the pairs interfering at ``t = 0``.

    ``times`` ``(T,)``; ``i, j`` ``(P,)`` the pairs; ``kappa`` ``(T, P)`` their cosines; ``overlap``
    ``(T, P)`` their ``W_i . W_j``; ``rate_integral`` ``(T, P)`` ``int_0^t (a + b)`` (trapezoid on
    ``times``); ``all_kappa`` ``(T, n(n-1)/2)`` every pair's cosine; ``gram0`` the initial Gram matrix.
    """

    n: int
    m: int
    seed: int
    flow: str
    times: np.ndarray
    i: np.ndarray
    j: np.ndarray
    kappa: np.ndarray
    overlap: np.ndarray
    rate_integral: np.ndarray
    all_kappa: np.ndarray
    gram0: np.ndarray

    @property
    def prediction(self) -> np.ndarray:
        """The note's ``kappa_ij(0) exp(-int_0^t (a + b))``, ``(T, P)``."""
        return self.kappa[0] * np.exp(-self.rate_integral)

    @property
    def log_deviation(self) -> np.ndarray:
        """``log(kappa / prediction)`` ``(T, P)`` (NaN once a pair is below zero)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.log(self.kappa / self.prediction)

    def relative_deviation(self) -> np.ndarray:
        """``|kappa / prediction - 1|`` ``(T, P)``."""
        return np.abs(self.kappa / self.prediction - 1.0)

    def median_deviation(self) -> np.ndarray:
        """Median over pairs of :meth:`relative_deviation`, ``(T,)``."""
        return np.median(self.relative_deviation(), axis=1)

    def amplitude(self) -> tuple[np.ndarray, np.ndarray]:
        """Population amplitude ``A(t) = sum ReLU(kappa) e^{int(a+b)} / sum kappa(0)`` and its standard error
        (delta method over pairs), both ``(T,)``. The note predicts ``A = 1``."""
        y = np.maximum(self.kappa, 0.0) * np.exp(self.rate_integral)
        k0 = self.kappa[0]
        A = y.sum(1) / k0.sum()
        se = np.sqrt(np.sum((y - A[:, None] * k0) ** 2, axis=1)) / k0.sum()
        return A, se

    def crossed_fraction(self) -> np.ndarray:
        """Fraction of the initially interfering pairs that have reached ``kappa <= 0`` by each time, ``(T,)``."""
        return np.mean(np.maximum.accumulate(self.kappa <= 0, axis=0), axis=1)

    def remaining_rms(self) -> np.ndarray:
        """RMS over all pairs of ``ReLU(kappa)``, ``(T,)``: the interference left, including new pairs."""
        return np.sqrt(np.mean(np.maximum(self.all_kappa, 0.0) ** 2, axis=1))


@lru_cache(maxsize=64)
def trajectory(n: int, m: int, seed: int, flow: str, t_end: float, steps: int) -> Trajectory:
    """Simulate the Gram flow from ``sample_gram(n, m, seed)`` to ``t_end`` (``steps + 1`` times); cached."""
    n, m = v.sizes(n, m)
    if flow not in FLOWS:
        raise ValueError(f"flow must be one of {sorted(FLOWS)}, got {flow!r}")
    times = np.linspace(0.0, float(t_end), int(steps) + 1)
    G0 = sample_gram(n, m, seed=seed)
    Gs = simulate_gram(G0, times, terms=FLOWS[flow], rtol=SIM_RTOL)
    d = np.einsum("tii->ti", Gs)
    iu, ju = np.triu_indices(n, k=1)
    all_kappa = Gs[:, iu, ju] / np.sqrt(d[:, iu] * d[:, ju])
    keep = Gs[0, iu, ju] > 0
    i, j = iu[keep], ju[keep]
    integral = cumulative_trapezoid(d[:, i] + d[:, j], times, axis=0, initial=0.0)
    arrays = [times, i, j, all_kappa[:, keep], Gs[:, i, j], integral, all_kappa, G0]
    for a in arrays:
        a.setflags(write=False)
    return Trajectory(n, m, seed, flow, *arrays)


def _window(times: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    t0, t1 = window
    w = (times >= t0 - 1e-12) & (times <= t1 + 1e-12)
    if w.sum() < 2:
        raise ValueError(f"window {window} must hold at least two sample times in [0, {times[-1]:g}]")
    return w


def fitted_rates(traj: Trajectory, window: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: (least-squares slope of ``-log kappa`` on ``window``, time-average of ``a + b`` there).

    Pairs that reach zero inside the window are left out. Both ``(P',)``.
    """
    w = _window(traj.times, window)
    k = traj.kappa[w]
    ok = np.all(k > 0, axis=0)
    t = traj.times[w]
    slope = np.polyfit(t, np.log(k[:, ok]), 1)[0]
    average = (traj.rate_integral[w][-1, ok] - traj.rate_integral[w][0, ok]) / (t[-1] - t[0])
    return -slope, average


def first_crossing(times: np.ndarray, values: np.ndarray, level: float) -> float:
    """First time ``values`` exceeds ``level`` (linear interpolation between samples; ``inf`` if never)."""
    above = values > level
    if not np.any(above):
        return float("inf")
    k = int(np.argmax(above))
    if k == 0:
        return float(times[0])
    t0, t1, y0, y1 = times[k - 1], times[k], values[k - 1], values[k]
    return float(t0 + (level - y0) * (t1 - t0) / (y1 - y0))


def late_rate(traj: Trajectory, window: tuple[float, float]) -> float:
    """Decay rate of the remaining interference on ``window``: slope of ``-log RMS ReLU(kappa)`` (a float)."""
    w = _window(traj.times, window)
    return float(-np.polyfit(traj.times[w], np.log(traj.remaining_rms()[w]), 1)[0])


def early_decay(
    *,
    n: int,
    m: int,
    seed: int,
    t_end: float,
    steps: int,
    early: tuple[float, float],
    late: tuple[float, float],
    rtol: float,
) -> Result:
    """K2 at one size, on both flows: the median decay rate fitted pair by pair on ``early`` against the median
    time-average of ``a + b`` (within ``rtol``); the rates fitted on ``late`` for the figure."""
    checks, data, numbers = [], {}, {}
    for flow in FLOWS:
        traj = trajectory(n, m, seed, flow, t_end, steps)
        fit, avg = fitted_rates(traj, early)
        data[flow] = (fit, avg)
        checks.append(
            check_close(
                "K2",
                f"median decay rate of κ fitted on t∈[{early[0]:g},{early[1]:g}] = median "
                f"time-average of a+b ({FLOW_LABELS[flow]})",
                predicted=float(np.median(avg)),
                measured=float(np.median(fit)),
                rtol=rtol,
                regime=f"n={n}, m={m}, seed={seed}, {fit.size} pairs",
                kind="approximation",
            )
        )
    traj = trajectory(n, m, seed, "interference", t_end, steps)
    late_fit, _ = fitted_rates(traj, late)
    x = drift_strength(n, m)
    params = dict(n=n, m=m, seed=seed, t_end=t_end, steps=steps, early=tuple(early), late=tuple(late), rtol=rtol)
    numbers = {
        "fit_median": quote(float(np.median(data["interference"][0])), ".3f"),
        "fit_median_full": quote(float(np.median(data["full"][0])), ".3f"),
        "avg_median": quote(float(np.median(data["interference"][1])), ".3f"),
        "late_median": quote(float(np.median(late_fit)), ".3f"),
        "x": quote(x, ".3f"),
        "late_pred": quote(late_collective_rate(n, m), ".3f"),
        "pairs": quote(int(traj.i.size), "d"),
        "shift": quote(x * float(np.diff(drift_profile(np.asarray(early)))[0]) / (early[1] - early[0]), ".3f"),
        "early_from": quote(early[0], "g"),
        "early_to": quote(early[1], "g"),
        "late_from": quote(late[0], "g"),
        "late_to": quote(late[1], "g"),
    }
    return Result(params, checks, numbers, dict(early=data["interference"][0], late=late_fit, x=x))


def early_axes(r: Result) -> svgplot.Axes:
    """Histograms of the per-pair decay rates fitted early and late, with the note's 2 and the drift model's
    ``2 - x``."""
    d, p = r.data, r.params
    both = np.concatenate([d["early"], d["late"]])
    lo, hi = np.quantile(both, [0.005, 1.0])
    edges = np.linspace(min(lo, 2 - d["x"]) - 0.05, max(hi, 2.0) + 0.05, 61)
    early, _ = np.histogram(d["early"], bins=edges)
    late, _ = np.histogram(d["late"], bins=edges)
    top = 1.1 * max(early.max(), late.max())
    series = [
        svgplot.Series(
            edges,
            early,
            kind="steps",
            color=PALETTE[0],
            label=f"fitted on t∈[{p['early'][0]:g},{p['early'][1]:g}] ({d['early'].size} pairs)",
        ),
        svgplot.Series(
            edges,
            late,
            kind="steps",
            color=PALETTE[1],
            label=f"fitted on t∈[{p['late'][0]:g},{p['late'][1]:g}] ({d['late'].size} pairs)",
        ),
        svgplot.Series([2.0, 2.0], [0, top], color="#000", dashed=True, label="note: a+b ≈ 2"),
        svgplot.Series(
            [2 - d["x"]] * 2, [0, top], color=PALETTE[2], dashed=True, label=f"drift model: 2 − x = {2 - d['x']:.3f}"
        ),
    ]
    return svgplot.Axes(series, xlabel=r"decay rate of $\kappa$", ylabel="pairs", ylim=(0, top))


def early_figure(r: Result) -> tuple[Figure, str]:
    """The early and late per-pair decay rates as a static figure; caption from ``r``."""
    p = r.params
    outside = int(np.sum(np.concatenate([r.data["early"], r.data["late"]]) < early_axes(r).series[0].x[0]))
    cut = f" ({outside} slow outliers left of the plotted range are not shown)" if outside else ""
    caption = (
        f"Decay rates of $\\kappa$ fitted pair by pair ($n = {p['n']}$, $m = {p['m']}$, seed {p['seed']}, "
        f"interference only). Early, on $t \\in [{p['early'][0]:g}, {p['early'][1]:g}]$ (blue), they peak "
        f"just below the note's $a+b \\approx 2$ (median {r.q.fit_median}); late, on "
        f"$t \\in [{p['late'][0]:g}, {p['late'][1]:g}]$ (red), they have narrowed around a slower rate "
        f"(median {r.q.late_median}), near $2 - x =$ {r.q.late_pred} with $x = (n-2)/\\sqrt{{2\\pi m}}$ "
        f"(green), explained below{cut}."
    )
    return render(early_axes(r), width=6.4, height=3.2), caption


# --- K2: the drift model --------------------------------------------------------------------------


def drift_collapse(
    *, sizes: tuple[tuple[int, int], ...], seed: int, t_end: float, steps: int, t_from: float, rtol: float
) -> Result:
    """K2: ``log A(t) / x`` against the drift profile ``f(t)`` for each ``(n, m)`` of ``sizes``; the largest
    relative error over ``t >= t_from`` must stay below ``rtol``."""
    sizes = _pairs(sizes)
    curves, worst, where = [], 0.0, sizes[0]
    for n, m in sizes:
        traj = trajectory(n, m, seed, "interference", t_end, steps)
        A, _ = traj.amplitude()
        x = drift_strength(n, m)
        curves.append((n, m, x, np.log(A) / x))
        w = traj.times >= t_from
        err = float(np.max(np.abs(np.log(A[w]) / (x * drift_profile(traj.times[w])) - 1)))
        if err > worst:
            worst, where = err, (n, m)
    times = trajectory(*sizes[0], seed, "interference", t_end, steps).times
    xs = [c[2] for c in curves]
    check = check_below(
        "K2",
        "drift model: log A(t) = x f(t), f(t) = t − (1 − e^{−2t})/2",
        measured=worst,
        bound=rtol,
        regime=f"(n, m) in {list(sizes)}, x = {min(xs):.2f}..{max(xs):.2f}, t∈[{t_from:g},{t_end:g}], seed={seed}",
        quantity="max rel. error",
    )
    params = dict(sizes=sizes, seed=seed, t_end=t_end, steps=steps, t_from=t_from, rtol=rtol)
    numbers = {
        "error": quote(worst, ".3f"),
        "error_n": quote(where[0], "d"),
        "error_m": quote(where[1], "d"),
        "x_min": quote(min(xs), ".2f"),
        "x_max": quote(max(xs), ".2f"),
    }
    return Result(params, [check], numbers, dict(times=times, curves=curves))


def drift_axes(r: Result) -> svgplot.Axes:
    """``log A(t) / x`` per size, on top of the drift profile ``f(t)``."""
    t = r.data["times"]
    series = [
        svgplot.Series(t, y, label=f"n={n}, m={m} (x={x:.2f})", color=PALETTE[k % len(PALETTE)])
        for k, (n, m, x, y) in enumerate(r.data["curves"])
    ]
    series.append(
        svgplot.Series(t, drift_profile(t), label=r"drift model $f(t) = t - (1-e^{-2t})/2$", color="#000", dashed=True)
    )
    return svgplot.Axes(series, xlabel="time $t$", ylabel=r"$\log A(t)\,/\,x$")


def drift_figure(r: Result) -> tuple[Figure, str]:
    """The collapse of the population's drift as a static figure; caption from ``r``."""
    caption = (
        f"The population's deviation from the note, $\\log A(t)$, divided by $x = (n-2)/\\sqrt{{2\\pi m}}$, "
        f"for {len(r.params['sizes'])} sizes ($x$ from {r.q.x_min} to {r.q.x_max}, seed {r.params['seed']}). "
        f"The curves collapse onto the predicted profile $f(t)$ (dashed), to within {r.q.error} relative "
        f"for $t \\ge {r.params['t_from']:g}$: quadratic at first, then linear with slope 1, that is, a decay "
        f"rate lowered by $x$."
    )
    return render(drift_axes(r), width=6.4, height=3.2), caption


# --- K2: where the simple exponential stops -------------------------------------------------------


@dataclass(frozen=True)
class BreakdownPoint:
    """Breakdown of the note's exponential at one ``(n, m)``, averaged over seeds."""

    n: int
    m: int
    x: float
    t_median: float  # median pair off by ``level``
    t_population: float  # population amplitude off by ``level``
    t_predicted: float  # x f(t) = ln(1 + level)
    late_rate: float  # fitted on the late window
    late_predicted: float  # 2 - x
    crossed: float  # fraction of interfering pairs that reached zero by the start of the late window

    @property
    def shortfall(self) -> float:
        """``late_predicted - late_rate``: how far the late rate lies below ``2 - x``."""
        return self.late_predicted - self.late_rate


def breakdown_point(
    n: int, m: int, *, seeds: int, t_end: float, steps: int, late_window: tuple[float, float], level: float
) -> BreakdownPoint:
    """Where ``kappa(0) e^{-int(a+b)}`` stops describing the interference flow at ``(n, m)`` (seeds ``0..seeds-1``)."""
    tm, tp, lr, cr = [], [], [], []
    for s in range(seeds):
        traj = trajectory(n, m, s, "interference", t_end, steps)
        tm.append(first_crossing(traj.times, traj.median_deviation(), level))
        A, _ = traj.amplitude()
        with np.errstate(divide="ignore"):
            tp.append(first_crossing(traj.times, np.log(A), np.log1p(level)))
        lr.append(late_rate(traj, late_window))
        cr.append(float(traj.crossed_fraction()[np.searchsorted(traj.times, late_window[0] - 1e-12)]))
    x = drift_strength(n, m)
    return BreakdownPoint(
        n,
        m,
        x,
        float(np.mean(tm)),
        float(np.mean(tp)),
        breakdown_time(x, level),
        float(np.mean(lr)),
        late_collective_rate(n, m),
        float(np.mean(cr)),
    )


def breakdown(
    *,
    ns: tuple[int, ...],
    ms: tuple[int, ...],
    seeds: int,
    t_end: float,
    steps: int,
    late_window: tuple[float, float],
    level: float,
    n_min: int,
    x_max: float,
    time_rtol: float,
    rate_atol: float,
    min_rate: float,
    compare: tuple[tuple[int, int], tuple[int, int]],
) -> Result:
    """K2 over the grid ``ns x ms``: where the population and the median pair leave the note's exponential by
    ``level``, and the late decay rate, against the drift model. The model is checked where it applies
    (``n >= n_min`` and ``x <= x_max``); that the decay stays exponential (late rate ``>= min_rate``) everywhere.
    ``compare`` names two sizes of equal ``m/n`` whose breakdown times the prose compares."""
    points = [
        breakdown_point(n, m, seeds=seeds, t_end=t_end, steps=steps, late_window=late_window, level=level)
        for n in ns
        for m in ms
    ]
    by_size = {(p.n, p.m): p for p in points}
    if (
        len(compare) != 2
        or any(tuple(c) not in by_size for c in compare)
        or compare[0][1] * compare[1][0] != compare[1][1] * compare[0][0]
    ):
        raise ValueError(f"compare must name two sizes of the grid with the same m/n, got {compare}")
    sel = [p for p in points if p.n >= n_min and p.x <= x_max]
    if not sel:
        raise ValueError(f"no setting has n >= n_min={n_min} and x <= x_max={x_max}")
    small = sorted([p for p in points if p.n < n_min and p.x <= x_max], key=lambda p: -p.x)
    wide = [p for p in points if p.x > x_max]
    t_err = max(abs(p.t_population / p.t_predicted - 1) for p in sel)
    r_err = max(abs(p.shortfall) for p in sel)
    order = max(p.t_median / p.t_population for p in sel)
    lowest = min(points, key=lambda p: p.late_rate)
    excluded = []
    if small:
        excluded.append(f"n < {n_min}: late rate below 2 − x by up to {max(p.shortfall for p in small):.2f}")
    if wide:
        excluded.append(f"x > {x_max:g}: the drift model fails")
    regime = (
        f"n ≥ {n_min} and x = (n−2)/sqrt(2πm) ≤ {x_max:g}: {len(sel)} of {len(points)} settings, "
        f"{seeds} draws each, t ≤ {t_end:g}" + (f" (not {'; '.join(excluded)})" if excluded else "")
    )
    checks = [
        check_below(
            "K2",
            f"time at which the population is {level:.0%} off the note = root of x f(t) = ln(1+{level:g})",
            measured=t_err,
            bound=time_rtol,
            regime=regime,
            quantity="max rel. error",
        ),
        check_below(
            "K2",
            f"late decay rate (t∈[{late_window[0]:g},{late_window[1]:g}]) = 2 − (n−2)/sqrt(2πm): "
            f"close to 2 only while n ≪ sqrt(m)",
            measured=r_err,
            bound=rate_atol,
            regime=regime,
            quantity="max |Δrate|",
            kind="law",
            refutes="κ decays at the rate ‖W_i‖² + ‖W_j‖² ≈ 2 (κ ≈ κ(0) e^{−2t}) whenever n/m = o(1)",
        ),
        check_below(
            "K2",
            "the median pair leaves the note no later than the population",
            measured=order,
            bound=1.0,
            regime=regime,
            quantity="max t*_median / t*_population",
            kind="value",
        ),
        Check(
            "K2",
            "the decay stays exponential at every setting: dκ/dt = −Θ(κ), late rate of order 1",
            f"late rate ≥ {min_rate:g}",
            f"min late rate = {lowest.late_rate:.4g} (n={lowest.n}, m={lowest.m})",
            f"all {len(points)} settings, x up to {max(p.x for p in points):.2f}",
            bool(lowest.late_rate >= min_rate),
            "value",
        ),
    ]
    big = max(points, key=lambda p: (p.n, p.m))
    most = max(points, key=lambda p: p.crossed)
    a, b = by_size[tuple(compare[0])], by_size[tuple(compare[1])]
    params = dict(
        ns=tuple(ns),
        ms=tuple(ms),
        seeds=seeds,
        t_end=t_end,
        steps=steps,
        late_window=tuple(late_window),
        level=level,
        n_min=n_min,
        x_max=x_max,
        time_rtol=time_rtol,
        rate_atol=rate_atol,
        min_rate=min_rate,
        compare=tuple(tuple(c) for c in compare),
    )
    none = quote("—")
    outside = [q for q in points if q not in sel] or points
    numbers = {
        "level_pct": quote(100 * level, ".0f"),
        "t_err": quote(t_err, ".3f"),
        "r_err": quote(r_err, ".3f"),
        "n_settings": quote(len(sel), "d"),
        "all_settings": quote(len(points), "d"),
        "big_n": quote(big.n, "d"),
        "big_m": quote(big.m, "d"),
        "big_x": quote(big.x, ".3f"),
        "big_tpop": quote(big.t_population, ".2f"),
        "big_tpred": quote(big.t_predicted, ".2f"),
        "big_tmed": quote(big.t_median, ".2f"),
        "big_late": quote(big.late_rate, ".3f"),
        "big_late_pred": quote(big.late_predicted, ".3f"),
        "a_n": quote(a.n, "d"),
        "a_m": quote(a.m, "d"),
        "a_tpop": quote(a.t_population, ".2f"),
        "a_tpred": quote(a.t_predicted, ".2f"),
        "b_n": quote(b.n, "d"),
        "b_m": quote(b.m, "d"),
        "b_tpop": quote(b.t_population, ".2f"),
        "b_tpred": quote(b.t_predicted, ".2f"),
        "ratio": quote(a.m / a.n, "g"),
        "low_n": quote(lowest.n, "d"),
        "low_m": quote(lowest.m, "d"),
        "low_x": quote(lowest.x, ".2f"),
        "low_late": quote(lowest.late_rate, ".2f"),
        "low_pred": quote(lowest.late_predicted, ".2f"),
        "cross_pct": quote(100 * most.crossed, ".2f"),
        "cross_n": quote(most.n, "d"),
        "cross_m": quote(most.m, "d"),
        "cross_t": quote(late_window[0], "g"),
        "out_pop": quote(min(q.t_population / q.t_predicted for q in outside), ".2f"),
        "out_med": quote(min(q.t_median / q.t_predicted for q in outside), ".2f"),
    }
    for k, p in enumerate(small[:2], start=1):
        numbers.update(
            {
                f"small{k}_n": quote(p.n, "d"),
                f"small{k}_m": quote(p.m, "d"),
                f"small{k}_x": quote(p.x, ".2f"),
                f"small{k}_late": quote(p.late_rate, ".2f"),
                f"small{k}_pred": quote(p.late_predicted, ".2f"),
            }
        )
    for k in range(len(small[:2]) + 1, 3):
        numbers.update({f"small{k}_{key}": none for key in ("n", "m", "x", "late", "pred")})
    return Result(params, checks, numbers, dict(points=points))


def breakdown_axes(r: Result) -> list[svgplot.Axes]:
    """Left: the late decay rate against ``x`` per ``n``, with ``2 - x``. Right: the breakdown times over
    the drift model's ``t*``, for the population (per ``n``) and the median pair."""
    points, p = r.data["points"], r.params
    xs = np.geomspace(min(q.x for q in points) / 1.2, max(q.x for q in points) * 1.2, 100)
    rate, times = [], []
    for k, n in enumerate(sorted({q.n for q in points})):
        sel = [q for q in points if q.n == n]
        color = PALETTE[k % len(PALETTE)]
        x = [q.x for q in sel]
        rate.append(svgplot.Series(x, [q.late_rate for q in sel], label=f"n = {n}", kind="points", color=color))
        times.append(
            svgplot.Series(
                x,
                [q.t_population / q.t_predicted for q in sel],
                kind="points",
                color=color,
                label=f"population, n = {n}",
            )
        )
    rate.append(svgplot.Series(xs, 2 - xs, label="drift model 2 − x", color="#000", dashed=True))
    times.append(
        svgplot.Series(
            [q.x for q in points],
            [q.t_median / q.t_predicted for q in points],
            kind="points",
            color="#999",
            label="median pair, all n",
        )
    )
    times.append(svgplot.Series(xs, np.ones_like(xs), label="drift model", color="#000", dashed=True))
    cut = [(p["x_max"], f"x = {p['x_max']:g}")]
    band = [(1 + p["time_rtol"], f"±{p['time_rtol']:.0%}"), (1 - p["time_rtol"], "")]
    late = p["late_window"]
    return [
        svgplot.Axes(
            rate,
            xlabel=r"$x = (n-2)/\sqrt{2\pi m}$",
            ylabel=f"late decay rate (t∈[{late[0]:g},{late[1]:g}])",
            xlog=True,
            vlines=cut,
        ),
        svgplot.Axes(
            times,
            xlabel=r"$x = (n-2)/\sqrt{2\pi m}$",
            ylabel=f"$t^*$ ({p['level']:.0%} off the note) / drift model",
            xlog=True,
            vlines=cut,
            hlines=band,
            ylim=(0.0, 1.4),
        ),
    ]


def breakdown_figure(r: Result) -> tuple[Figure, str]:
    """The breakdown scan as a static figure; caption from ``r``."""
    p, q = r.params, r.q
    small = ""
    if repr(q.small1_n) != "—":
        small = (
            f" At $n = {q.small1_n}$ it lies below the line: {q.small1_late} against {q.small1_pred} at "
            f"$x =$ {q.small1_x} ($m = {q.small1_m}$)"
        )
        if repr(q.small2_n) != "—":
            small += f", {q.small2_late} against {q.small2_pred} at $x =$ {q.small2_x} ($m = {q.small2_m}$)"
        small += "."
    caption = (
        f"Left: the late decay rate (fitted on $t \\in [{p['late_window'][0]:g}, {p['late_window'][1]:g}]$, "
        f"{p['seeds']} draws per size) against $x$. For $n \\ge {p['n_min']}$ and $x \\le {p['x_max']:g}$ "
        f"(left of the vertical line) it follows $2 - x$ (dashed) to within {q.r_err}.{small} Beyond "
        f"$x = {p['x_max']:g}$ the drift model fails: at $x =$ {q.low_x} the rate is {q.low_late}, not "
        f"{q.low_pred}, but still of order 1. Right: the time at which the note is {q.level_pct}% off, "
        f"divided by the drift model's root of $x f(t^*) = \\ln(1 + {p['level']:g})$, for the population "
        f"(coloured by $n$) and the median pair (grey). For $n \\ge {p['n_min']}$, $x \\le {p['x_max']:g}$ the "
        f"population is within {100 * float(q.t_err):.0f}% of the model (dotted: ±{p['time_rtol']:.0%}) and the "
        f"median pair leaves no later than the population; outside that regime the population leaves at "
        f"down to {q.out_pop} and the median pair at down to {q.out_med} times the model's $t^*$."
    )
    return render(breakdown_axes(r), width=9.0, height=3.4), caption


def breakdown_prediction(*, n: int, m: int, level: float) -> Result:
    """The drift model's breakdown time at one size of the widgets' grids (for the prose's prediction)."""
    sizes = {c.name: c.grid for c in pair_explorable().controls}
    if n not in sizes["n"] or m not in sizes["m"]:
        raise ValueError(
            f"n and m must be values the widget's sliders offer ({sizes['n']}, {sizes['m']}), got n={n}, m={m}"
        )
    x = drift_strength(n, m)
    numbers = {
        "x": quote(x, ".3f"),
        "t_star": quote(breakdown_time(x, level), ".2f"),
        "level_pct": quote(100 * level, ".0f"),
    }
    return Result(dict(n=n, m=m, level=level), [], numbers)


# --- K3: the overlap itself ---------------------------------------------------------------------


def overlap_rms(n: int, m: int, times: np.ndarray, *, seeds: int, rtol: float) -> np.ndarray:
    """RMS of ``W_i(t) . W_j(t)`` over the pairs interfering at ``t = 0``, pooled over seeds ``0..seeds-1``;
    ``(T,)``."""
    sq, count = np.zeros(len(times)), 0
    i, j = np.triu_indices(n, k=1)
    for s in range(seeds):
        G0 = sample_gram(n, m, seed=s)
        Gs = simulate_gram(G0, times, terms=INTERFERENCE, rtol=rtol)
        keep = G0[i, j] > 0
        sq += np.sum(Gs[:, i[keep], j[keep]] ** 2, axis=1)
        count += int(keep.sum())
    return np.sqrt(sq / count)


def overlap_decay(
    *,
    n: int,
    ms: tuple[int, ...],
    seeds: int,
    t_end: float,
    steps: int,
    t_fixed: float,
    exponent_tolerance: float,
    rtol: float,
    flow_rtol: float,
) -> Result:
    """K3 over a geometric grid of ``m``: the exponent of the RMS interfering overlap at ``t_fixed`` (predicted
    ``-1/2``); at the largest ``m``, its decay rate in ``t`` (2) and ``e^{2t} RMS(t)/RMS(0)`` at ``t_fixed`` (1)."""
    times = np.linspace(0.0, t_end, steps + 1)
    if not np.any(np.isclose(times, t_fixed)):
        raise ValueError(f"t_fixed must be one of the sample times {times}, got {t_fixed}")
    rms = np.array([overlap_rms(n, m, times, seeds=seeds, rtol=flow_rtol) for m in ms])
    k = int(np.argmin(np.abs(times - t_fixed)))
    m_arr = np.asarray(ms, dtype=float)
    regime = f"n={n}, m={ms[0]}..{ms[-1]}, t={t_fixed:g}, {seeds} draws"
    # the drift raises the overlap by about x f(t) with x ∝ m^{-1/2}, which tilts the slope a little at small m
    c_exp, fit = check_exponent(
        "K3",
        "W_i(t)·W_j(t) = Θ(1/sqrt(m)) at fixed t (RMS, interfering pairs)",
        sizes=m_arr,
        values=rms[:, k],
        predicted=-0.5,
        regime=regime,
        tolerance=exponent_tolerance,
    )
    big = rms[-1]
    rate = float(-np.polyfit(times, np.log(big), 1)[0])
    c_rate = check_close(
        "K3",
        "decay rate in t of the RMS overlap = 2 (a+b at initialisation)",
        predicted=2.0,
        measured=rate,
        rtol=rtol,
        regime=f"n={n}, m={ms[-1]}, t∈[0,{t_end:g}]",
    )
    pref = float(big[k] / big[0] * np.exp(2 * times[k]))
    c_pref = check_close(
        "K3",
        "e^{2t} RMS(t)/RMS(0): the constant in W_i(t)·W_j(t) = e^{−2t} W_i(0)·W_j(0)",
        predicted=1.0,
        measured=pref,
        rtol=rtol,
        regime=f"n={n}, m={ms[-1]}, t={t_fixed:g}",
    )
    params = dict(
        n=n,
        ms=tuple(ms),
        seeds=seeds,
        t_end=t_end,
        steps=steps,
        t_fixed=t_fixed,
        exponent_tolerance=exponent_tolerance,
        rtol=rtol,
        flow_rtol=flow_rtol,
    )
    numbers = {
        "exp": quote(fit.exponent, ".4f"),
        "lo": quote(fit.low, ".4f"),
        "hi": quote(fit.high, ".4f"),
        "rate": quote(rate, ".4f"),
        "pref": quote(pref, ".4f"),
        "m_min": quote(ms[0], "d"),
        "m_max": quote(ms[-1], ".2e"),
        "x_max": quote(drift_strength(n, ms[-1]), ".1e"),
    }
    return Result(params, [c_exp, c_rate, c_pref], numbers, dict(times=times, m=m_arr, rms=rms, fit=fit, k=k))


def overlap_axes(r: Result) -> list[svgplot.Axes]:
    """Left: RMS interfering overlap against ``m`` at ``t = 0`` and ``t_fixed``. Right: against ``t`` at the
    largest ``m``."""
    d = r.data
    k, t = d["k"], d["times"]
    tk = float(t[k])
    left = [
        *figures.power_law(
            d["m"], d["rms"][:, 0], label="t = 0", predicted=lambda m: m**-0.5, predicted_label=r"predicted $m^{-1/2}$"
        ),
        *figures.power_law(
            d["m"],
            d["rms"][:, k],
            label=f"t = {tk:g}",
            fit=d["fit"],
            color=PALETTE[1],
            predicted=lambda m: np.exp(-2 * tk) * m**-0.5,
            predicted_label=f"predicted $e^{{-{2 * tk:g}}} m^{{-1/2}}$",
        ),
    ]
    big = d["rms"][-1]
    right = figures.time_course(
        t,
        big,
        big[0] * np.exp(-2 * t),
        label=f"measured, m = {int(d['m'][-1]):.2e}",
        predicted_label=r"$e^{-2t}\times$ RMS at 0",
    )
    right[0] = svgplot.Series(t, big, label=right[0].label, kind="points", color=PALETTE[0])
    return [
        figures.power_law_axes(left, xlabel="neurons $m$", ylabel=r"RMS $W_i\cdot W_j$ (interfering pairs)"),
        svgplot.Axes(right, xlabel="time $t$", ylabel=r"RMS $W_i\cdot W_j$", ylog=True),
    ]


def overlap_figure(r: Result) -> tuple[Figure, str]:
    """The K3 scan as a static figure; caption from ``r``."""
    tk = float(r.data["times"][r.data["k"]])
    caption = (
        f"Left: the RMS interfering overlap at $t = 0$ and $t = {tk:g}$ against $m$ ($n = {r.params['n']}$, "
        f"{r.params['seeds']} draws, $m$ from {r.q.m_min} to {r.q.m_max}): parallel lines of slope $-1/2$ "
        f"(fitted {r.q.exp} at $t = {tk:g}$), the second lower by $e^{{-{2 * tk:g}}}$. Right: at "
        f"$m =$ {r.q.m_max} it decays like $e^{{-2t}}$ (dashed; fitted rate {r.q.rate})."
    )
    return render(overlap_axes(r), width=9.0, height=3.2), caption


def interfering_pair_weights(m: int, *, seed: int) -> np.ndarray:
    """Two encodings ``(2, m)`` from ``sample_weights(2, m, seed)``, the second flipped if needed so they interfere."""
    W = sample_weights(2, m, seed=seed)
    if W[0] @ W[1] < 0:
        W = W * np.array([[1.0], [-1.0]])
    return W


def two_encodings(
    *,
    m: int,
    seed: int,
    t_end: float,
    steps: int,
    flow_rtol: float,
    tolerance: float,
    rate_rtol: float,
    deficit_ms: tuple[int, ...],
    deficit_draws: int,
    exponent_tolerance: float,
) -> Result:
    """K3 for ``n = 2``: the simulated flow against the closed forms of ``g(t)`` and ``kappa(t)``
    (:func:`~incidental.exact.pair_overlap`, :func:`~incidental.exact.pair_cosine`), the invariant, the
    late rate ``sqrt(s0^2 - 4 g0^2)``; and the mean relative deficit of that rate below ``a0 + b0`` over
    ``deficit_ms`` (``deficit_draws`` draws each; a ``Theta(1/m)`` claim)."""
    W0 = interfering_pair_weights(m, seed=seed)
    G0 = W0 @ W0.T
    times = np.linspace(0.0, t_end, steps + 1)
    g = pair_overlap(G0, times)
    kap = pair_cosine(G0, times)
    Gs = simulate_gram(G0, times, terms=INTERFERENCE, rtol=flow_rtol)
    ksim = Gs[:, 0, 1] / np.sqrt(Gs[:, 0, 0] * Gs[:, 1, 1])
    g_err = float(np.max(np.abs(Gs[:, 0, 1] - g)) / G0[0, 1])
    k_err = float(np.max(np.abs(ksim - kap)) / kap[0])
    s = Gs[:, 0, 0] + Gs[:, 1, 1]
    inv = s**2 - 4 * Gs[:, 0, 1] ** 2
    inv_err = float(np.max(np.abs(inv / inv[0] - 1)))
    h = times[1] - times[0]
    late = float(-(np.log(kap[-1]) - np.log(kap[-3])) / (2 * h))
    s0 = float(G0[0, 0] + G0[1, 1])
    c = pair_decay_rate(G0)
    deficits = []
    for mm in deficit_ms:
        vals = [
            1.0 - pair_decay_rate(G) / (G[0, 0] + G[1, 1])
            for G in (sample_gram(2, mm, seed=k) for k in range(deficit_draws))
            if G[0, 1] > 0
        ]
        deficits.append(float(np.mean(vals)))
    m_arr = np.asarray(deficit_ms, dtype=float)
    regime = f"n=2, m={m}, seed={seed}, t∈[0,{t_end:g}]"
    c_def, fit = check_exponent(
        "K3",
        "n=2: the exact late rate falls below a0+b0 by Θ(1/m)",
        sizes=m_arr,
        values=np.asarray(deficits),
        predicted=-1.0,
        regime=f"n=2, m={deficit_ms[0]}..{deficit_ms[-1]}, {deficit_draws} draws each",
        tolerance=exponent_tolerance,
    )
    checks = [
        check_below(
            "K3",
            "simulated two-encoding flow = closed form g(t) = c / (2 sinh(ct + arsinh(c/2g0)))",
            measured=g_err,
            bound=tolerance,
            regime=regime,
            quantity="max |Δg| / g0",
            kind="identity",
        ),
        check_below(
            "K3",
            "simulated cosine = closed form κ(t) = 2g / sqrt((a+b)² − (a0−b0)²)",
            measured=k_err,
            bound=tolerance,
            regime=regime,
            quantity="max |Δκ| / κ0",
            kind="identity",
        ),
        check_below(
            "K3",
            "(a+b)² − 4(W_1·W_2)² is conserved along the simulated flow",
            measured=inv_err,
            bound=tolerance,
            regime=regime,
            quantity="max rel. change",
            kind="identity",
        ),
        check_close(
            "K3",
            "late decay rate of κ = c = sqrt((a0+b0)² − 4 g0²)",
            predicted=c,
            measured=late,
            rtol=rate_rtol,
            regime=regime,
            kind="identity",
        ),
        c_def,
    ]
    params = dict(
        m=m,
        seed=seed,
        t_end=t_end,
        steps=steps,
        flow_rtol=flow_rtol,
        tolerance=tolerance,
        rate_rtol=rate_rtol,
        deficit_ms=tuple(deficit_ms),
        deficit_draws=deficit_draws,
        exponent_tolerance=exponent_tolerance,
    )
    numbers = {
        "g_err": quote(g_err, ".1e"),
        "k_err": quote(k_err, ".1e"),
        "inv_err": quote(inv_err, ".1e"),
        "late": quote(late, ".4f"),
        "c": quote(c, ".4f"),
        "s0": quote(s0, ".4f"),
        "ratio_end": quote(float(kap[-1] / (kap[0] * np.exp(-s0 * t_end))), ".3f"),
        "deficit_exp": quote(fit.exponent, ".3f"),
        "deficit_const": quote(float(np.mean(m_arr * deficits)), ".3f"),
        "deficit_m_min": quote(deficit_ms[0], "d"),
        "deficit_m_max": quote(deficit_ms[-1], "d"),
    }
    data = dict(
        times=times,
        kappa=kap,
        kappa_sim=ksim,
        kappa_note=kap[0] * np.exp(-s0 * times),
        m=m_arr,
        deficits=np.asarray(deficits),
        fit=fit,
        s0=s0,
        c=c,
    )
    return Result(params, checks, numbers, data)


def two_encodings_axes(r: Result) -> list[svgplot.Axes]:
    """Left: the closed-form cosine (and the simulated one) over the note's. Right: the late-rate deficit
    against ``m``."""
    d = r.data
    t = d["times"]
    thin = slice(None, None, max(1, len(t) // 20))
    note = d["kappa_note"]
    left = [
        svgplot.Series(t, d["kappa"] / note, label="closed form (n = 2)", color=PALETTE[0]),
        svgplot.Series(t[thin], d["kappa_sim"][thin] / note[thin], label="simulated", kind="points", color=PALETTE[1]),
        svgplot.Series(
            t,
            d["kappa"][-1] / note[-1] * np.exp((d["s0"] - d["c"]) * (t - t[-1])),
            label=r"late: $\propto e^{(s_0 - c)t}$",
            color="#000",
            dashed=True,
        ),
    ]
    right = figures.power_law(
        d["m"],
        d["deficits"],
        label=r"mean $1 - c/s_0$",
        fit=d["fit"],
        predicted=lambda m: 0.5 / m,
        predicted_label=r"predicted $1/(2m)$",
    )
    return [
        svgplot.Axes(
            left,
            xlabel="time $t$",
            ylabel=r"$\kappa_{12}(t)\,/\,\kappa_0 e^{-(a_0+b_0)t}$",
            hlines=[(1.0, "the note")],
            title=f"m = {r.params['m']}",
        ),
        figures.power_law_axes(right, xlabel="neurons $m$", ylabel="relative deficit of the late rate"),
    ]


def two_encodings_figure(r: Result) -> tuple[Figure, str]:
    """The two-encoding solution as a static figure; caption from ``r``."""
    p = r.params
    caption = (
        f"Two encodings alone. Left: the closed-form cosine ($m = {p['m']}$, seed {p['seed']}, chosen small "
        f"so that a difference is visible) and the simulated flow (points), divided by the note's "
        f"$\\kappa_0 e^{{-(a_0+b_0)t}}$: the ratio grows to {r.q.ratio_end} by $t = {p['t_end']:g}$, and late "
        f"on in proportion to $e^{{(s_0 - c)t}}$ (dashed), since the late rate $c =$ {r.q.c} is below "
        f"$s_0 = a_0 + b_0 =$ {r.q.s0}. Right: the mean relative deficit of the late rate "
        f"below $a_0+b_0$ over $m$ from {r.q.deficit_m_min} to {r.q.deficit_m_max} "
        f"({p['deficit_draws']} draws each) falls like $1/(2m)$ (fitted exponent {r.q.deficit_exp})."
    )
    return render(two_encodings_axes(r), width=9.0, height=3.2), caption


# --- widgets -------------------------------------------------------------------------------------

WIDGET_T_END = 4.0
WIDGET_STEPS = 80
WIDGET_LEVEL = 0.1
WIDGET_NS = (16, 64)
WIDGET_MS = (1024, 65536)


def _widget_trajectory(n: int, m: int, seed: int) -> Trajectory:
    return trajectory(int(n), int(m), int(seed), "interference", WIDGET_T_END, WIDGET_STEPS)


def _time_index(traj: Trajectory, time: float) -> int:
    return int(np.argmin(np.abs(traj.times - float(time))))


def error_limits(values: np.ndarray, level: float, *, cap: float = 1.0) -> tuple[float, float]:
    """Limits for a relative error around 0 that a heavy tail cannot stretch: the band ``±level`` and the
    curve (:func:`incidental.figures.robust_limits`), but never beyond ``±cap``; a curve that leaves them
    stops at the frame, and the panel says by how much."""
    lo, hi = figures.robust_limits(
        np.clip(values, -cap, cap), quantiles=(0.0, 1.0), include=(-2 * level, 2 * level), pad=0.1
    )
    return max(lo, -cap), min(hi, cap)


def pair_axes(traj: Trajectory, p: int, k: int, *, level: float = WIDGET_LEVEL) -> list[svgplot.Axes]:
    """One pair: ``|kappa(t)|`` against the note on a log scale, and the relative error with robust limits."""
    tt, t = traj.times, float(traj.times[k])
    kap, pred = traj.kappa[:, p], traj.prediction[:, p]
    measured = np.abs(kap)
    positive = measured[measured > 0]
    lo = float(min(positive.min(), pred.min())) / 2
    hi = float(max(positive.max(), pred.max())) * 30  # room for the legend above the curves
    t_star = breakdown_time(drift_strength(traj.n, traj.m), level)
    cosine = svgplot.Axes(
        [
            *figures.time_course(tt, measured, pred, label="measured |κ(t)|", predicted_label="note: κ(0) e^{−∫(a+b)}"),
            svgplot.Series([t], [max(abs(float(kap[k])), lo)], kind="points", color=PALETTE[1]),
        ],
        xlabel="time t",
        ylabel="|κ_ij|",
        ylog=True,
        ylim=(lo, hi),
        vlines=[(t, "chosen t")],
        title="the pair's cosine",
    )
    err = kap / pred - 1.0
    ylim = error_limits(err, level)
    shown = np.clip(err, *ylim)
    outside = (err < ylim[0]) | (err > ylim[1])
    shown[outside & np.concatenate([[False], outside[:-1]])] = np.nan  # the curve stops at the frame
    marker = float(np.clip(err[k], *ylim))
    series = [svgplot.Series(tt, shown), svgplot.Series([t], [marker], kind="points", color=PALETTE[1])]
    if t_star <= tt[-1]:
        series.append(svgplot.Series([t_star, t_star], list(ylim), color=PALETTE[2], dashed=True))
    error = svgplot.Axes(
        series,
        xlabel="time t",
        ylabel="κ / note − 1",
        ylim=ylim,
        hlines=[(level, ""), (-level, "")],
        vlines=[(t, "")],
        title=f"its error (dotted: ±{level:.0%}; green: t* of the drift model)",
    )
    return [cosine, error]


def pair_panel(n: int, m: int, pair: int, time: float, seed: int = 0) -> Panel:
    """One interfering pair: measured ``kappa(t)`` against the note's ``kappa(0) e^{-int(a+b)}``.

    ``pair`` counts the initially interfering pairs ``(i < j)`` in row order, from 1 (wraps around).
    """
    traj = _widget_trajectory(n, m, seed)
    p = (int(pair) - 1) % traj.kappa.shape[1]
    k = _time_index(traj, time)
    t = traj.times[k]
    measured, predicted = float(traj.kappa[k, p]), float(traj.prediction[k, p])
    err = measured / predicted - 1.0
    x = drift_strength(n, m)
    where = f"n={n}, m={m}, seed={seed}, pair ({traj.i[p]}, {traj.j[p]})"
    parts = relative_rate_parts(traj.gram0)
    checks = [
        check_close(
            "K1",
            "this pair's relative rate (dκ/dt)/κ at t=0 = −(a+b)",
            predicted=float(parts.first_order[p]),
            measured=float(parts.total[p]),
            rtol=WIDGET_LEVEL,
            regime=f"{where}, t=0",
            kind="approximation",
        ),
        check_below(
            "K2",
            f"κ(t) within {WIDGET_LEVEL:.0%} of κ(0) exp(−∫(a+b)) for this pair",
            measured=abs(err),
            bound=WIDGET_LEVEL,
            regime=f"{where}, t={t:.2f}",
            quantity="|κ/pred − 1|",
            kind="approximation",
        ),
    ]
    axes = pair_axes(traj, p, k)
    note = (
        f"Population drift x = (n−2)/√(2πm) = {x:.3f}; the drift model puts the population {WIDGET_LEVEL:.0%} off "
        f"at t* ≈ {breakdown_time(x, WIDGET_LEVEL):.2f}."
    )
    lo, hi = axes[1].ylim
    if not lo <= err <= hi:
        note += (
            f" At t = {t:.2f} this pair's κ is {measured / predicted:.3g} times the note's value, "
            f"off the right panel's scale (marker at its edge)."
        )
    crossed = np.nonzero(traj.kappa[:, p] <= 0)[0]
    if crossed.size:
        note += (
            f" This pair crosses zero at t ≈ {traj.times[crossed[0]]:.2f}; the ReLU then switches its interference off."
        )
    return Panel(checks, svgplot.svg(axes), note)


def ensemble_axes(traj: Trajectory, k: int, *, level: float = WIDGET_LEVEL) -> svgplot.Axes:
    """Every interfering pair of one draw: median and 10-90% band of ``log(kappa/note)``, the population's
    ``log A(t)`` and the drift model ``x f(t)``."""
    t = traj.times
    with np.errstate(invalid="ignore"):
        q = np.nanpercentile(traj.log_deviation, [10, 50, 90], axis=1)
    A, _ = traj.amplitude()
    model = drift_strength(traj.n, traj.m) * drift_profile(t)
    series = [
        *figures.time_course(t, q[1], label="median pair, 10–90% of pairs (band)", low=q[0], high=q[2]),
        svgplot.Series(t, np.log(A), label="population log A(t)", color=PALETTE[2]),
        svgplot.Series(t, model, label="drift model x f(t)", color="#000", dashed=True),
    ]
    top = float(max(np.nanmax(q[2]), model.max(), np.log1p(level)))
    bottom = float(min(np.nanmin(q[0]), 0.0))
    span = top - bottom
    return svgplot.Axes(
        series,
        xlabel="time t",
        ylabel="log(κ / κ(0)e^{−∫(a+b)})",
        ylim=(bottom - 0.05 * span, top + 0.6 * span),  # room for the legend above the curves
        hlines=[(float(np.log1p(level)), f"{level:.0%} off")],
        vlines=[(float(t[k]), "chosen t")],
    )


def ensemble_panel(n: int, m: int, seed: int, time: float) -> Panel:
    """All interfering pairs of one draw: spread of ``log(kappa/prediction)`` against time, with the drift model."""
    traj = _widget_trajectory(n, m, seed)
    k = _time_index(traj, time)
    t = traj.times[k]
    x = drift_strength(n, m)
    A, se = traj.amplitude()
    model = x * drift_profile(traj.times)
    regime = f"n={n}, m={m}, seed={seed}, t={t:.2f}, {traj.kappa.shape[1]} pairs"
    checks = [
        check_below(
            "K2",
            f"median pair within {WIDGET_LEVEL:.0%} of κ(0) e^{{−∫(a+b)}}",
            measured=float(traj.median_deviation()[k]),
            bound=WIDGET_LEVEL,
            regime=regime,
            quantity="median |κ/pred − 1|",
        ),
        check_close(
            "K2",
            "population log-amplitude log A(t) = x f(t) (drift model)",
            predicted=float(model[k]),
            measured=float(np.log(A[k])),
            rtol=0.25,
            atol=3 * float(se[k] / A[k]) + 1e-3,
            regime=regime,
            kind="approximation",
        ),
    ]
    note = (
        f"x = (n−2)/√(2πm) = {x:.3f}; predicted population breakdown at "
        f"t* = {breakdown_time(x, WIDGET_LEVEL):.2f}; "
        f"pairs that have reached zero by t: {traj.crossed_fraction()[k]:.2%}."
    )
    return Panel(checks, svgplot.svg(ensemble_axes(traj, k)), note)


def pair_explorable() -> Explorable:
    """Widget: one pair's cosine against time, for a choice of sizes and pair (K2)."""
    return Explorable(
        pair_panel,
        [
            Control("n", "features n", WIDGET_NS, 64, kind="size", low=4, high=64),
            Control("m", "neurons m", WIDGET_MS, 65536, kind="size", low=256, high=1 << 20),
            Control("pair", "pair #", (1, 2), 1, low=1, high=40),
            Control("time", "time t", (0.5, 1.5, 3.0), 0.5, kind="float", low=0.0, high=WIDGET_T_END, step=0.05),
        ],
        title="One pair: does κ decay like κ(0) e^{−∫(a+b)}?",
    )


def ensemble_explorable() -> Explorable:
    """Widget: every interfering pair of one draw, against the note and the drift model (K2)."""
    return Explorable(
        ensemble_panel,
        [
            Control("n", "features n", WIDGET_NS, 64, kind="size", low=4, high=64),
            Control("m", "neurons m", WIDGET_MS, 65536, kind="size", low=256, high=1 << 20),
            Control("seed", "seed", (0, 1), 0, low=0, high=99),
            Control("time", "time t", (0.5, 1.5, 3.0), 0.5, kind="float", low=0.0, high=WIDGET_T_END, step=0.05),
        ],
        title="All pairs: where the simple exponential stops",
    )


def explorables() -> dict[str, Explorable]:
    """Fresh explorables of this chapter, by name."""
    return {"pair": pair_explorable(), "ensemble": ensemble_explorable()}
