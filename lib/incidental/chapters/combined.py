"""Chapter 4 (The combined rate): the experiments of claims K1-K3 and the chapter's widgets.

Runners take their knobs as keyword arguments (validated by :func:`~incidental.book.runner`) and
return a :class:`~incidental.book.Result`; figure builders return the figure, whose caption is
written in the notebook. The formulas live in the core: the split of the cosine's rate and its
conditional mean in :mod:`incidental.derivation`, the drift model and the derived constants in
:mod:`incidental.theory`, the closed-form two-encoding flow in :mod:`incidental.exact`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from types import SimpleNamespace

import numpy as np
from matplotlib.figure import Figure
from scipy.integrate import cumulative_trapezoid

from .. import figures, svgplot
from ..book import Quote, Result, quote, runner
from ..checks import Check, Declared, declarations
from ..derivation import kappa_rate, numerator_second_order, relative_rate_parts
from ..exact import pair_cosine, pair_decay_rate, pair_overlap
from ..explore import Control, Explorable, Panel
from ..flow import simulate_gram
from ..model import cosine_similarity, sample_gram, sample_weights
from ..plotting import render
from ..runs import FLOW_LABELS, FLOWS, INTERFERENCE, flow_terms
from ..theory import (
    breakdown_time,
    drift_profile,
    drift_strength,
    late_collective_rate,
    pair_spread,
    second_order_mean_slope,
    third_encoding_norm_loss,
)

# name: (claim, statement, kind, refutes, quantity) -- the fixed parts of every check of the chapter
CHECKS = declarations("combined")  # the check table: chapters/checks/combined.yaml
SIM_RTOL = 1e-10  # the chapter's flows: relative error of interfering overlaps below 1e-4 up to t = 6, m <= 65536
PALETTE = svgplot.PALETTE


def _at_least(d: Declared, *, measured: float, bound: float, what: str, at: dict) -> Check:
    """``measured >= bound`` (the declarations have only upper bounds): ``Declared.above`` belongs in the core."""
    verdict = "holds" if np.isfinite(measured) and measured >= bound else "fails"
    return d._check(f"{d.quantity} ≥ {bound:g}", f"min {d.quantity} = {measured:.4g} ({what})", verdict, "", at, {})


def _q(fmt: str, **values: object) -> dict[str, Quote]:
    """The named values, each quoted with ``fmt``."""
    return {k: quote(v, fmt) for k, v in values.items()}


def _points(**values: Quote) -> Quote:
    """Several quoted numbers under one name, each with its own format: ``{eval}`r.q.big.n```."""
    return quote(SimpleNamespace(**values))


# --- K1: the exact rate of a cosine, and its four parts -------------------------------------------


def finite_difference_kappa_error(n: int, m: int, *, seed: int, flow: str, t0: float, h: float) -> float:
    """``max |kappa_rate(G(t0)) - (kappa(t0+h) - kappa(t0-h))/(2h)|`` along a simulated flow, relative
    to ``max |kappa_rate|``. Central differences have error ``O(h^2)``."""
    G0 = sample_gram(n, m, seed=seed)
    Gs = simulate_gram(G0, [t0 - h, t0, t0 + h], terms=flow_terms(flow), rtol=1e-13)
    fd = (cosine_similarity(Gs[2]) - cosine_similarity(Gs[0])) / (2 * h)
    exact = kappa_rate(Gs[1], flow_terms(flow))
    off = ~np.eye(n, dtype=bool)
    return float(np.max(np.abs(exact - fd)[off]) / np.max(np.abs(exact)[off]))


def parts_sum_error(n: int, m: int, *, seed: int) -> float:
    """Largest ``|first + numerator + others + own - total|`` over the interfering pairs of one draw."""
    p = relative_rate_parts(sample_gram(n, m, seed=seed))
    return float(np.max(np.abs(p.first_order + p.numerator + p.others + p.own - p.total)))


@runner
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
    if not h < t0:
        raise ValueError(f"h must lie in (0, t0), got h={h}, t0={t0}")
    fd = {f: finite_difference_kappa_error(n, m, seed=seed, flow=f, t0=t0, h=h) for f in FLOWS}
    parts = parts_sum_error(parts_n, parts_m, seed=seed)
    at = dict(n=n, m=m, t0=t0, h=h, seed=seed)
    checks = [CHECKS.fd.below(measured=fd[f], bound=fd_tolerance, scale=1.0, at=at, flow=FLOW_LABELS[f]) for f in FLOWS]
    checks.append(
        CHECKS.parts.below(measured=parts, bound=parts_tolerance, scale=1.0, at=dict(n=parts_n, m=parts_m, seed=seed))
    )
    numbers = {f"fd_{f}": quote(fd[f], ".1e") for f in FLOWS} | {"parts": quote(parts, ".1e")}
    return Result(checks=checks, numbers=numbers)


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
    rows, weights, plain, counts = [], [], [], []
    for s in range(draws):
        p = relative_rate_parts(sample_gram(n, m, seed=seed + s))
        w = p.kappa**2
        parts = (-p.first_order, p.numerator, p.others, p.own, p.total - p.first_order)
        rows.append([np.sum(w * x) for x in parts])
        weights.append(np.sum(w))
        plain.append([np.sum(p.own)])
        counts.append(p.kappa.size)
    est = _ratio_estimates(np.asarray(rows), np.asarray(weights))
    own_plain = _ratio_estimates(np.asarray(plain), np.asarray(counts, dtype=float))[0]
    scaled = [e.scaled(m / n) for e in est[1:]]
    return CorrectionStats(n, m, draws, int(sum(counts)), est[0], *scaled, own_plain.scaled(m))


def correction_checks(s: CorrectionStats, *, sigmas: float) -> list[Check]:
    """K1 in the mean at one setting, each within ``sigmas`` standard errors."""
    at = dict(n=s.n, m=s.m, draws=s.draws, pairs=s.pairs)
    pairs = (
        (CHECKS.numerator, s.predicted_numerator, s.numerator),
        (CHECKS.others, s.predicted_others, s.others),
        (CHECKS.net, s.own.mean, s.correction),
        (CHECKS.own, 2.0, s.own_plain),
    )
    return [d.close(predicted=p, measured=e.mean, atol=sigmas * e.se, at=at) for d, p, e in pairs]


@runner
def mean_correction(
    *, settings: tuple[tuple[int, int, int], ...], reference: tuple[int, int], sigmas: float, seed: int
) -> Result:
    """K1 in the mean at each ``(n, m, draws)`` of ``settings``; numbers quoted at ``reference`` ``(n, m)``."""
    if any(not 2 <= n <= m for n, m, _ in settings):
        raise ValueError(f"settings must hold (n, m, draws) with 2 <= n <= m, got {settings}")
    if reference not in [(n, m) for n, m, _ in settings]:
        raise ValueError(f"reference must be one of the settings' (n, m), got {reference}")
    table = [correction_stats(n, m, draws=d, seed=seed) for n, m, d in settings]
    checks = [c for s in table for c in correction_checks(s, sigmas=sigmas)]
    ref = next(s for s in table if (s.n, s.m) == reference)
    top = max(table, key=lambda s: s.correction.mean)
    f3 = ".3f"
    numbers = {
        "ref": _points(
            n=quote(ref.n, "d"), m=quote(ref.m, "d"), pairs=quote(ref.pairs, ",d"), draws=quote(ref.draws, "d")
        ),
        "num": _points(
            mean=quote(ref.numerator.mean, f3), se=quote(ref.numerator.se, f3), pred=quote(ref.predicted_numerator, f3)
        ),
        "den": _points(
            mean=quote(ref.others.mean, f3), se=quote(ref.others.se, f3), pred=quote(ref.predicted_others, f3)
        ),
        "c": _points(
            mean=quote(ref.correction.mean, f3), se=quote(ref.correction.se, f3), pred=quote(ref.own.mean, f3)
        ),
        "own_plain": _points(mean=quote(ref.own_plain.mean, f3), se=quote(ref.own_plain.se, f3)),
        "six_over_n": quote(6 / ref.n, f3),
        "first": quote(ref.first_order.mean, ".4f"),
        "top": _points(
            c=quote(top.correction.mean, ".2f"), n=quote(top.n, "d"), m=quote(top.m, "d"), six=quote(6 / top.n, ".2f")
        ),
        "settings_count": quote(len(table), "d"),
        "sizes": quote(", ".join(f"({s.n}, {s.m})" for s in table)),
    }
    return Result(checks=checks, numbers=numbers, data=dict(table=table))


def _errorbar(x, est: list[Estimate], **kw) -> svgplot.Series:
    mean, se = np.array([e.mean for e in est]), np.array([e.se for e in est])
    return svgplot.Series(x, mean, kind="errorbar", low=mean - 2 * se, high=mean + 2 * se, **kw)


def mean_axes(r: Result) -> list[svgplot.Axes]:
    """Left: the two Θ(n/m) parts N and D against ``m``, per ``n``; right: their net effect ``c``. Units of ``n/m``."""
    table = r.data["table"]
    parts, net = [], []
    for k, n in enumerate(sorted({s.n for s in table})):
        color = PALETTE[k % len(PALETTE)]
        sel = [s for s in table if s.n == n]
        m = np.array([s.m for s in sel], dtype=float)
        span = np.array([m.min() / 1.5, m.max() * 1.5])
        parts.append(
            _errorbar(m, [s.others for s in sel], color=color, label=f"n = {n}: D > 0 (kept), N < 0 (dropped)")
        )
        parts.append(_errorbar(m, [s.numerator for s in sel], color=color))
        parts.append(
            svgplot.Series(
                span, [sel[0].predicted_numerator] * 2, color=color, dashed=True, label=f"n = {n}: predicted ±(n−2)/n"
            )
        )
        parts.append(svgplot.Series(span, [sel[0].predicted_others] * 2, color=color, dashed=True))
        net.append(_errorbar(m, [s.correction for s in sel], color=color, label=f"n = {n}: c measured"))
        net.append(
            svgplot.Series(m, [s.own.mean for s in sel], label=f"n = {n}: predicted ⟨Q⟩", color=color, dashed=True)
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


def mean_figure(r: Result) -> Figure:
    """The K1 means as a static figure."""
    return render(mean_axes(r), width=9.0, height=3.4)


# --- K1 pair by pair: the dropped terms are Θ(sqrt(n/m)) ------------------------------------------


def fluctuation_scale(n: int, m: int, *, draws: int, seed: int) -> tuple[float, float]:
    """(spread, median error) over all pairs of ``draws`` draws at ``(n, m)``.

    ``spread = std(S_ij - (n-2) G_ij/m) / RMS(G_ij)``: the random part of the second-order numerator
    terms relative to a typical overlap (predicted :func:`~incidental.theory.pair_spread`);
    ``median error``: median over interfering pairs of ``|kappa_rate / first-order rate - 1|``
    (predicted half the spread).
    """
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


@runner(min_lengths=dict(grid=3))
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
    if quote_at not in grid:
        raise ValueError(f"quote_at must be one of the grid's (n, m), got {quote_at}")
    ns, ms = (np.array([g[k] for g in grid], dtype=float) for k in (0, 1))
    res = np.array([fluctuation_scale(n, m, draws=draws, seed=seed) for n, m in grid])
    x = (ns - 2) / ms
    pred = np.array([pair_spread(n, m) for n, m in grid])
    c_exp, fit = CHECKS.spread.exponent(sizes=x, values=res[:, 0], predicted=0.5, tolerance=exponent_tolerance)
    constant = float(np.mean(res[:, 0] / pred))
    median_ratio = float(np.mean(res[:, 1] / (pred / 2)))
    c_const = CHECKS.constant.close(predicted=1.0, measured=constant, rtol=constant_rtol)
    c_med = CHECKS.median.close(predicted=1.0, measured=median_ratio, rtol=constant_rtol)
    k = grid.index(quote_at)
    numbers = _q(".3f", fit=fit, constant=constant, median_ratio=median_ratio, med_err=float(res[k, 1]))
    numbers |= _q(".3f", med_pred=float(pred[k] / 2)) | _q(".4f", at_nm=quote_at[0] / quote_at[1])
    numbers |= _q("d", m_max=int(ms.max()), sizes_count=len(grid))
    numbers["at"] = _points(**_q("d", n=quote_at[0], m=quote_at[1]))
    return Result(
        checks=[c_exp, c_const, c_med], numbers=numbers, data=dict(x=x, spread=res[:, 0], median=res[:, 1], fit=fit)
    )


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


def fluctuation_figure(r: Result) -> Figure:
    """The pair-to-pair spread as a static figure."""
    return render(fluctuation_axes(r), width=6.4, height=3.6)


# --- K2: trajectories ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Trajectory:
    """A simulated flow seen pair by pair, for the pairs interfering at ``t = 0``.

    ``times`` ``(T,)``; ``i, j`` ``(P,)`` the pairs; ``kappa`` ``(T, P)`` their cosines; ``rate_integral``
    ``(T, P)`` ``int_0^t (a + b)`` (trapezoid on ``times``); ``all_kappa`` ``(T, n(n-1)/2)`` every pair's
    cosine; ``gram0`` the initial Gram matrix.
    """

    n: int
    m: int
    times: np.ndarray
    i: np.ndarray
    j: np.ndarray
    kappa: np.ndarray
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


@lru_cache(maxsize=64)
def trajectory(n: int, m: int, seed: int, flow: str, t_end: float, steps: int) -> Trajectory:
    """The Gram flow from ``sample_gram(n, m, seed)`` to ``t_end`` (``steps + 1`` times), pair by pair; cached.

    Not :func:`incidental.runs.phase`: that run also integrates the push and the loss, to a tighter
    absolute tolerance, which costs 10-15 times as long over this chapter's grids."""
    times = np.linspace(0.0, float(t_end), int(steps) + 1)
    G0 = sample_gram(n, m, seed=seed)
    Gs = simulate_gram(G0, times, terms=flow_terms(flow), rtol=SIM_RTOL)
    d = np.einsum("tii->ti", Gs)
    iu, ju = np.triu_indices(n, k=1)
    all_kappa = Gs[:, iu, ju] / np.sqrt(d[:, iu] * d[:, ju])
    keep = Gs[0, iu, ju] > 0
    i, j = iu[keep], ju[keep]
    integral = cumulative_trapezoid(d[:, i] + d[:, j], times, axis=0, initial=0.0)
    arrays = [times, i, j, all_kappa[:, keep], integral, all_kappa, G0]
    for a in arrays:
        a.setflags(write=False)
    return Trajectory(n, m, *arrays)


def _window(times: np.ndarray, window: tuple[float, float], name: str = "window") -> np.ndarray:
    w = (times >= window[0] - 1e-12) & (times <= window[1] + 1e-12)
    if w.sum() < 2:
        raise ValueError(f"{name} {window} must hold at least two sample times in [0, {times[-1]:g}]")
    return w


def fitted_rates(traj: Trajectory, window: tuple[float, float], name: str = "window") -> tuple[np.ndarray, np.ndarray]:
    """Per pair: (least-squares slope of ``-log kappa`` on ``window``, time-average of ``a + b`` there).

    Pairs that reach zero inside the window are left out. Both ``(P',)``.
    """
    w = _window(traj.times, window, name)
    k, t = traj.kappa[w], traj.times[w]
    ok = np.all(k > 0, axis=0)
    slope = np.polyfit(t, np.log(k[:, ok]), 1)[0]
    return -slope, (traj.rate_integral[w][-1, ok] - traj.rate_integral[w][0, ok]) / (t[-1] - t[0])


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
    """Decay rate of the remaining interference on ``window``: slope of ``-log RMS ReLU(kappa)``."""
    w = _window(traj.times, window, "late_window")
    return float(-np.polyfit(traj.times[w], np.log(traj.remaining_rms()[w]), 1)[0])


@runner
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
    checks, fits = [], {}
    for flow in FLOWS:
        fit, avg = fits[flow] = fitted_rates(trajectory(n, m, seed, flow, t_end, steps), early, "early")
        checks.append(
            CHECKS.early.close(
                predicted=float(np.median(avg)),
                measured=float(np.median(fit)),
                rtol=rtol,
                at=dict(pairs=fit.size),
                t0=early[0],
                t1=early[1],
                flow=FLOW_LABELS[flow],
            )
        )
    traj = trajectory(n, m, seed, "interference", t_end, steps)
    late_fit, _ = fitted_rates(traj, late, "late")
    x = drift_strength(n, m)
    edges = _rate_edges(fits["interference"][0], late_fit, x)
    numbers = {
        "fit_median": quote(float(np.median(fits["interference"][0])), ".3f"),
        "fit_median_full": quote(float(np.median(fits["full"][0])), ".3f"),
        "avg_median": quote(float(np.median(fits["interference"][1])), ".3f"),
        "late_median": quote(float(np.median(late_fit)), ".3f"),
        "x": quote(x, ".3f"),
        "late_pred": quote(late_collective_rate(n, m), ".3f"),
        "pairs": quote(int(traj.i.size), "d"),
        "shift": quote(x * float(np.diff(drift_profile(np.asarray(early)))[0]) / (early[1] - early[0]), ".3f"),
        "outliers": quote(int(np.sum(np.concatenate([fits["interference"][0], late_fit]) < edges[0])), "d"),
    }
    numbers |= {
        f"{w}_{e}": quote(v, "g") for w, win in (("early", early), ("late", late)) for e, v in zip(("from", "to"), win)
    }
    return Result(
        checks=checks, numbers=numbers, data=dict(early=fits["interference"][0], late=late_fit, x=x, edges=edges)
    )


def _rate_edges(early: np.ndarray, late: np.ndarray, x: float) -> np.ndarray:
    lo, hi = np.quantile(np.concatenate([early, late]), [0.005, 1.0])
    return np.linspace(min(lo, 2 - x) - 0.05, max(hi, 2.0) + 0.05, 61)


def early_axes(r: Result) -> svgplot.Axes:
    """Histograms of the per-pair decay rates fitted early and late, with the note's 2 and the drift model's
    ``2 - x``."""
    d, p = r.data, r.params
    edges = d["edges"]
    counts = {w: np.histogram(d[w], bins=edges)[0] for w in ("early", "late")}
    top = 1.1 * max(c.max() for c in counts.values())
    series = [
        svgplot.Series(
            edges,
            counts[w],
            kind="steps",
            color=PALETTE[k],
            label=f"fitted on t∈[{p[w][0]:g},{p[w][1]:g}] ({d[w].size} pairs)",
        )
        for k, w in enumerate(("early", "late"))
    ]
    series.append(svgplot.Series([2.0, 2.0], [0, top], color="#000", dashed=True, label="note: a+b ≈ 2"))
    series.append(
        svgplot.Series(
            [2 - d["x"]] * 2, [0, top], color=PALETTE[2], dashed=True, label=f"drift model: 2 − x = {2 - d['x']:.3f}"
        )
    )
    return svgplot.Axes(series, xlabel=r"decay rate of $\kappa$", ylabel="pairs", ylim=(0, top))


def early_figure(r: Result) -> Figure:
    """The early and late per-pair decay rates as a static figure."""
    return render(early_axes(r), width=6.4, height=3.2)


# --- K2: the drift model --------------------------------------------------------------------------


@runner
def drift_collapse(
    *, sizes: tuple[tuple[int, int], ...], seed: int, t_end: float, steps: int, t_from: float, rtol: float
) -> Result:
    """K2: ``log A(t) / x`` against the drift profile ``f(t)`` for each ``(n, m)`` of ``sizes``; the largest
    relative error over ``t >= t_from`` must stay below ``rtol``."""
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
    xs = [c[2] for c in curves]
    check = CHECKS.drift.below(measured=worst, bound=rtol, scale=1.0)
    numbers = _q(".3f", error=worst) | _q("d", error_n=where[0], error_m=where[1], sizes_count=len(sizes))
    numbers |= _q(".2f", x_min=min(xs), x_max=max(xs))
    return Result(checks=[check], numbers=numbers, data=dict(times=traj.times, curves=curves))


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


def drift_figure(r: Result) -> Figure:
    """The collapse of the population's drift as a static figure."""
    return render(drift_axes(r), width=6.4, height=3.2)


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

    def quoted(self) -> Quote:
        """Its numbers for the prose: ``bd.q.big.tpop``."""
        f2 = ".2f"
        return _points(
            n=quote(self.n, "d"),
            m=quote(self.m, "d"),
            x=quote(self.x, f2),
            x3=quote(self.x, ".3f"),
            tpop=quote(self.t_population, f2),
            tpred=quote(self.t_predicted, f2),
            tmed=quote(self.t_median, f2),
            late=quote(self.late_rate, f2),
            late3=quote(self.late_rate, ".3f"),
            pred=quote(self.late_predicted, f2),
            pred3=quote(self.late_predicted, ".3f"),
        )


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
    means = (float(np.mean(a)) for a in (tm, tp))
    return BreakdownPoint(
        n, m, x, *means, breakdown_time(x, level), float(np.mean(lr)), late_collective_rate(n, m), float(np.mean(cr))
    )


def _breakdown_checks(points: list[BreakdownPoint], sel: list[BreakdownPoint], k: dict) -> list[Check]:
    """The four K2 checks of the scan: ``sel`` are the settings where the drift model is checked."""
    at = dict(settings_checked=len(sel))
    lowest = min(points, key=lambda p: p.late_rate)
    late = k["late_window"]
    return [
        CHECKS.t_star.below(
            measured=max(abs(p.t_population / p.t_predicted - 1) for p in sel),
            bound=k["time_rtol"],
            scale=1.0,
            at=at,
            pct=k["level"],
            level=k["level"],
        ),
        CHECKS.late.below(
            measured=max(abs(p.shortfall) for p in sel),
            bound=k["rate_atol"],
            scale=min(p.x for p in sel),
            at=at,
            t0=late[0],
            t1=late[1],
        ),
        CHECKS.order.below(measured=max(p.t_median / p.t_population for p in sel), bound=1.0, at=at),
        _at_least(
            CHECKS.exponential,
            measured=lowest.late_rate,
            bound=k["min_rate"],
            what=f"n={lowest.n}, m={lowest.m}",
            at=dict(settings_checked=len(points)),
        ),
    ]


@runner
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
    kw = dict(seeds=seeds, t_end=t_end, steps=steps, late_window=late_window, level=level)
    points = [breakdown_point(n, m, **kw) for n in ns for m in ms]
    by_size = {(p.n, p.m): p for p in points}
    (an, am), (bn, bm) = compare
    if any(c not in by_size for c in compare) or am * bn != bm * an:
        raise ValueError(f"compare must name two sizes of the grid with the same m/n, got {compare}")
    sel = [p for p in points if p.n >= n_min and p.x <= x_max]
    if not sel:
        raise ValueError(f"no setting has n >= n_min={n_min} and x <= x_max={x_max}")
    checks = _breakdown_checks(points, sel, dict(kw, time_rtol=time_rtol, rate_atol=rate_atol, min_rate=min_rate))
    small = sorted([p for p in points if p.n < n_min and p.x <= x_max], key=lambda p: -p.x)
    outside = [q for q in points if q not in sel] or points
    t_err = max(abs(p.t_population / p.t_predicted - 1) for p in sel)
    most = max(points, key=lambda p: p.crossed)
    numbers = {
        "level_pct": quote(100 * level, ".0f"),
        "time_rtol_pct": quote(100 * time_rtol, ".0f"),
        "t_err": quote(t_err, ".3f"),
        "t_err_pct": quote(100 * t_err, ".0f"),
        "r_err": quote(max(abs(p.shortfall) for p in sel), ".3f"),
        "n_settings": quote(len(sel), "d"),
        "all_settings": quote(len(points), "d"),
        "big": max(points, key=lambda p: (p.n, p.m)).quoted(),
        "a": by_size[compare[0]].quoted(),
        "b": by_size[compare[1]].quoted(),
        "ratio": quote(am / an, "g"),
        "low": min(points, key=lambda p: p.late_rate).quoted(),
        "cross": _points(pct=quote(100 * most.crossed, ".2f"), n=quote(most.n, "d"), m=quote(most.m, "d")),
        "late_from": quote(late_window[0], "g"),
        "late_to": quote(late_window[1], "g"),
        "out_pop": quote(min(q.t_population / q.t_predicted for q in outside), ".2f"),
        "out_med": quote(min(q.t_median / q.t_predicted for q in outside), ".2f"),
    }
    numbers |= {f"small{k}": p.quoted() for k, p in enumerate(small[:2], start=1)}
    return Result(checks=checks, numbers=numbers, data=dict(points=points))


def breakdown_axes(r: Result) -> list[svgplot.Axes]:
    """Left: the late decay rate against ``x`` per ``n``, with ``2 - x``. Right: the breakdown times over
    the drift model's ``t*``, for the population (per ``n``) and the median pair."""
    points, p = r.data["points"], r.params
    xs = np.geomspace(min(q.x for q in points) / 1.2, max(q.x for q in points) * 1.2, 100)
    rate, times = [], []
    for k, n in enumerate(sorted({q.n for q in points})):
        sel = [q for q in points if q.n == n]
        color, x = PALETTE[k % len(PALETTE)], [q.x for q in sel]
        rate.append(svgplot.Series(x, [q.late_rate for q in sel], label=f"n = {n}", kind="points", color=color))
        ratio = [q.t_population / q.t_predicted for q in sel]
        times.append(svgplot.Series(x, ratio, kind="points", color=color, label=f"population, n = {n}"))
    rate.append(svgplot.Series(xs, 2 - xs, label="drift model 2 − x", color="#000", dashed=True))
    median = [q.t_median / q.t_predicted for q in points]
    times.append(svgplot.Series([q.x for q in points], median, kind="points", color="#999", label="median pair, all n"))
    times.append(svgplot.Series(xs, np.ones_like(xs), label="drift model", color="#000", dashed=True))
    cut = [(p["x_max"], f"x = {p['x_max']:g}")]
    band = [(1 + p["time_rtol"], f"±{p['time_rtol']:.0%}"), (1 - p["time_rtol"], "")]
    late, xlabel = p["late_window"], r"$x = (n-2)/\sqrt{2\pi m}$"
    return [
        svgplot.Axes(
            rate, xlabel=xlabel, ylabel=f"late decay rate (t∈[{late[0]:g},{late[1]:g}])", xlog=True, vlines=cut
        ),
        svgplot.Axes(
            times,
            xlabel=xlabel,
            ylabel=f"$t^*$ ({p['level']:.0%} off the note) / drift model",
            xlog=True,
            vlines=cut,
            hlines=band,
            ylim=(0.0, 1.4),
        ),
    ]


def breakdown_figure(r: Result) -> Figure:
    """The breakdown scan as a static figure."""
    return render(breakdown_axes(r), width=9.0, height=3.4)


@runner
def breakdown_prediction(*, n: int, m: int, level: float) -> Result:
    """The drift model's breakdown time at one size (for the prose's prediction before the widgets)."""
    x = drift_strength(n, m)
    numbers = _q(".3f", x=x) | _q(".2f", t_star=breakdown_time(x, level)) | _q(".0f", level_pct=100 * level)
    return Result(numbers=numbers)


# --- K3: the overlap itself ---------------------------------------------------------------------


def overlap_rms(n: int, m: int, times: np.ndarray, *, seeds: int, rtol: float) -> np.ndarray:
    """RMS of ``W_i(t) . W_j(t)`` over the pairs interfering at ``t = 0``, pooled over seeds ``0..seeds-1``,
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


@runner(min_lengths=dict(ms=3))
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
    if min(ms) < n:
        raise ValueError(f"ms must be >= n={n}, got {ms}")
    rms = np.array([overlap_rms(n, m, times, seeds=seeds, rtol=flow_rtol) for m in ms])
    k = int(np.argmin(np.abs(times - t_fixed)))
    m_arr = np.asarray(ms, dtype=float)
    # the drift raises the overlap by about x f(t) with x ∝ m^{-1/2}, which tilts the slope a little at small m
    c_exp, fit = CHECKS.rms.exponent(sizes=m_arr, values=rms[:, k], predicted=-0.5, tolerance=exponent_tolerance)
    big = rms[-1]
    rate = float(-np.polyfit(times, np.log(big), 1)[0])
    pref = float(big[k] / big[0] * np.exp(2 * times[k]))
    at = dict(m=ms[-1])
    checks = [
        c_exp,
        CHECKS.rms_rate.close(predicted=2.0, measured=rate, rtol=rtol, at=at),
        CHECKS.rms_constant.close(predicted=1.0, measured=pref, rtol=rtol, at=at),
    ]
    numbers = {
        "fit": quote(fit, ".4f"),
        "rate": quote(rate, ".4f"),
        "pref": quote(pref, ".4f"),
        "m_min": quote(ms[0], "d"),
        "m_max": quote(ms[-1], ".2e"),
        "x_max": quote(drift_strength(n, ms[-1]), ".1e"),
        "two_t": quote(2 * float(times[k]), "g"),
    }
    return Result(checks=checks, numbers=numbers, data=dict(times=times, m=m_arr, rms=rms, fit=fit, k=k))


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


def overlap_figure(r: Result) -> Figure:
    """The K3 scan as a static figure."""
    return render(overlap_axes(r), width=9.0, height=3.2)


def interfering_pair_weights(m: int, *, seed: int) -> np.ndarray:
    """Two encodings ``(2, m)`` from ``sample_weights(2, m, seed)``, the second flipped if needed so they interfere."""
    W = sample_weights(2, m, seed=seed)
    return W * np.array([[1.0], [-1.0]]) if W[0] @ W[1] < 0 else W


def rate_deficits(ms: tuple[int, ...], draws: int) -> np.ndarray:
    """Mean of ``1 - c/(a0+b0)`` over the interfering draws ``sample_gram(2, m, seed=0..draws-1)``, per ``m``."""
    out = []
    for m in ms:
        grams = (sample_gram(2, m, seed=k) for k in range(draws))
        out.append(float(np.mean([1.0 - pair_decay_rate(G) / (G[0, 0] + G[1, 1]) for G in grams if G[0, 1] > 0])))
    return np.asarray(out)


@runner(min_lengths=dict(deficit_ms=3))
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
    g, kap = pair_overlap(G0, times), pair_cosine(G0, times)
    Gs = simulate_gram(G0, times, terms=INTERFERENCE, rtol=flow_rtol)
    ksim = Gs[:, 0, 1] / np.sqrt(Gs[:, 0, 0] * Gs[:, 1, 1])
    inv = (Gs[:, 0, 0] + Gs[:, 1, 1]) ** 2 - 4 * Gs[:, 0, 1] ** 2
    errors = {
        CHECKS.pair_g: float(np.max(np.abs(Gs[:, 0, 1] - g)) / G0[0, 1]),
        CHECKS.pair_kappa: float(np.max(np.abs(ksim - kap)) / kap[0]),
        CHECKS.pair_invariant: float(np.max(np.abs(inv / inv[0] - 1))),
    }
    late = float(-(np.log(kap[-1]) - np.log(kap[-3])) / (2 * (times[1] - times[0])))
    s0, c = float(G0[0, 0] + G0[1, 1]), pair_decay_rate(G0)
    deficits = rate_deficits(deficit_ms, deficit_draws)
    m_arr = np.asarray(deficit_ms, dtype=float)
    at = dict(m=deficit_ms)
    c_def, fit = CHECKS.deficit.exponent(
        sizes=m_arr, values=deficits, predicted=-1.0, tolerance=exponent_tolerance, at=at
    )
    checks = [d.below(measured=e, bound=tolerance, scale=1.0) for d, e in errors.items()]
    checks += [CHECKS.pair_rate.close(predicted=c, measured=late, rtol=rate_rtol), c_def]
    g_err, k_err, inv_err = errors.values()
    numbers = _q(".1e", g_err=g_err, k_err=k_err, inv_err=inv_err) | _q(".4f", late=late, c=c, s0=s0)
    numbers |= _q(".3f", ratio_end=float(kap[-1] / (kap[0] * np.exp(-s0 * t_end))), deficit_fit=fit)
    numbers |= _q(".3f", deficit_const=float(np.mean(m_arr * deficits)))
    numbers |= _q("d", deficit_m_min=deficit_ms[0], deficit_m_max=deficit_ms[-1])
    note = kap[0] * np.exp(-s0 * times)
    data = dict(
        times=times, kappa=kap, kappa_sim=ksim, kappa_note=note, m=m_arr, deficits=deficits, fit=fit, s0=s0, c=c
    )
    return Result(checks=checks, numbers=numbers, data=data)


def two_encodings_axes(r: Result) -> list[svgplot.Axes]:
    """Left: the closed-form cosine (and the simulated one) over the note's. Right: the late-rate deficit
    against ``m``."""
    d = r.data
    t, note = d["times"], d["kappa_note"]
    thin = slice(None, None, max(1, len(t) // 20))
    late = d["kappa"][-1] / note[-1] * np.exp((d["s0"] - d["c"]) * (t - t[-1]))
    left = [
        svgplot.Series(t, d["kappa"] / note, label="closed form (n = 2)", color=PALETTE[0]),
        svgplot.Series(t[thin], d["kappa_sim"][thin] / note[thin], label="simulated", kind="points", color=PALETTE[1]),
        svgplot.Series(t, late, label=r"late: $\propto e^{(s_0 - c)t}$", color="#000", dashed=True),
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


def two_encodings_figure(r: Result) -> Figure:
    """The two-encoding solution as a static figure."""
    return render(two_encodings_axes(r), width=9.0, height=3.2)


# --- widgets -------------------------------------------------------------------------------------

WIDGET_T_END = 4.0
WIDGET_STEPS = 80
WIDGET_LEVEL = 0.1


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
    marked = svgplot.Series([t], [max(abs(float(kap[k])), lo)], kind="points", color=PALETTE[1])
    course = figures.time_course(tt, measured, pred, label="measured |κ(t)|", predicted_label="note: κ(0) e^{−∫(a+b)}")
    cosine = svgplot.Axes(
        [*course, marked],
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
    series = [
        svgplot.Series(tt, shown),
        svgplot.Series([t], [float(np.clip(err[k], *ylim))], kind="points", color=PALETTE[1]),
    ]
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
    t = float(traj.times[k])
    measured, predicted = float(traj.kappa[k, p]), float(traj.prediction[k, p])
    err = measured / predicted - 1.0
    x = drift_strength(n, m)
    where = dict(n=n, m=m, seed=seed, pair=(int(traj.i[p]), int(traj.j[p])))
    parts = relative_rate_parts(traj.gram0)
    checks = [
        CHECKS.pair_start.close(
            predicted=float(parts.first_order[p]), measured=float(parts.total[p]), rtol=WIDGET_LEVEL
        ),
        CHECKS.pair_note.below(measured=abs(err), bound=WIDGET_LEVEL, scale=1.0, level=WIDGET_LEVEL),
    ]
    checks = [c.placed({**where, "t": round(w, 2)}) for c, w in zip(checks, (0.0, t))]
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
    x = drift_strength(n, m)
    A, se = traj.amplitude()
    model = x * drift_profile(traj.times)
    checks = [
        CHECKS.ensemble_median.below(
            measured=float(traj.median_deviation()[k]), bound=WIDGET_LEVEL, scale=1.0, level=WIDGET_LEVEL
        ),
        CHECKS.ensemble_drift.close(
            predicted=float(model[k]), measured=float(np.log(A[k])), rtol=0.25, atol=3 * float(se[k] / A[k]) + 1e-3
        ),
    ]
    where = dict(n=n, m=m, seed=seed, t=round(float(traj.times[k]), 2), pairs=traj.kappa.shape[1])
    note = (
        f"x = (n−2)/√(2πm) = {x:.3f}; predicted population breakdown at t* = {breakdown_time(x, WIDGET_LEVEL):.2f}; "
        f"pairs that have reached zero by t: {traj.crossed_fraction()[k]:.2%}."
    )
    return Panel([c.placed(where) for c in checks], svgplot.svg(ensemble_axes(traj, k)), note)


def _size_controls() -> list[Control]:
    """The sliders for ``n`` and ``m`` (the notebook sets the book's grids)."""
    return [
        Control("n", "features n", (16, 64), 64, kind="size", low=4, high=64),
        Control("m", "neurons m", (1024, 65536), 65536, kind="size", low=256, high=1 << 20),
    ]


def _time_control() -> Control:
    return Control("time", "time t", (0.5, 1.5, 3.0), 0.5, kind="float", low=0.0, high=WIDGET_T_END, step=0.05)


def pair_explorable() -> Explorable:
    """Widget: one pair's cosine against time, for a choice of sizes and pair (K2)."""
    controls = [*_size_controls(), Control("pair", "pair #", (1, 2), 1, low=1, high=40), _time_control()]
    return Explorable(pair_panel, controls, title="One pair: does κ decay like κ(0) e^{−∫(a+b)}?")


def ensemble_explorable() -> Explorable:
    """Widget: every interfering pair of one draw, against the note and the drift model (K2)."""
    controls = [*_size_controls(), Control("seed", "seed", (0, 1), 0, low=0, high=99), _time_control()]
    return Explorable(ensemble_panel, controls, title="All pairs: where the simple exponential stops")


def explorables() -> dict[str, Explorable]:
    """Fresh explorables of this chapter, by name."""
    return {"pair": pair_explorable(), "ensemble": ensemble_explorable()}
