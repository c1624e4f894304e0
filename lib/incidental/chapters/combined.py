"""Chapter 4 (The combined rate): the experiments of claims K1-K3 and the chapter's widgets.

Runners take their knobs as keyword arguments (validated by :func:`~incidental.book.runner`) and
return a :class:`~incidental.book.Result`; figure builders return the figure, whose caption is
written in the notebook. The formulas live in the core: the split of the cosine's rate and its
conditional mean in :mod:`incidental.derivation`, the drift model and the derived constants in
:mod:`incidental.theory`, the closed-form two-encoding flow in :mod:`incidental.exact`. The flows
are the shared, cached runs of :func:`incidental.runs.phase`, seen pair by pair
(:class:`incidental.runs.Pairs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
from matplotlib.figure import Figure

from .. import figures, svgplot
from ..book import Quote, Result, quote, quotes, runner
from ..checks import Check, declarations
from ..derivation import kappa_rate, numerator_second_order, relative_rate_parts
from ..estimates import Estimate, ratio_estimates
from ..exact import pair_cosine, pair_decay_rate, pair_overlap
from ..explore import Control, Explorable, Panel
from ..flow import simulate_gram
from ..model import cosine_similarity, sample_gram, sample_weights
from ..plotting import render
from ..runs import FLOW_LABELS, FLOWS, INTERFERENCE, Pairs, flow_terms, phase
from ..theory import (
    breakdown_time,
    drift_profile,
    drift_strength,
    late_collective_rate,
    pair_spread,
    second_order_mean_slope,
    third_encoding_norm_loss,
)

CHECKS = declarations("combined")  # the check table: chapters/checks/combined.yaml
SIM_RTOL = 1e-10  # the chapter's flows: relative error of interfering overlaps below 1e-4 up to t = 6, m <= 65536
PALETTE = svgplot.PALETTE
Ints, Size, Window = tuple[int, ...], tuple[int, int], tuple[float, float]  # knob types
Sizes = tuple[Size, ...]


def _points(**values: Quote) -> Quote:
    """Several quoted numbers under one name, each with its own format: ``{eval}`r.q.big.n```."""
    return quote(SimpleNamespace(**values))


def trajectory(n: int, m: int, seed: int, flow: str = "interference", t_end: float = 6.0, steps: int = 120) -> Pairs:
    """The flow from ``sample_gram(n, m, seed)`` to ``t_end`` (``steps + 1`` times) pair by pair: a view of the
    shared, cached :func:`incidental.runs.phase` (the Gram matrix alone, to relative tolerance ``SIM_RTOL``)."""
    run = phase(int(n), int(m), int(seed), flow=flow, rtol=SIM_RTOL, t_end=t_end, count=steps + 1, accumulate=False)
    return run.pairs


# --- K1: the exact rate of a cosine, and its four parts -------------------------------------------


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
    """K1, exact part: the quotient rule against central differences (error ``O(h^2)``) along both flows (``n``,
    ``m``, at ``t0`` with step ``h``), and the four parts adding up to the exact rate (``parts_n``, ``parts_m``)."""
    if not h < t0:
        raise ValueError(f"h must lie in (0, t0), got h={h}, t0={t0}")
    fd, off = {}, ~np.eye(n, dtype=bool)
    for f in FLOWS:  # max |kappa_rate - central differences| along the flow, relative to max |kappa_rate|
        G = phase(n, m, seed, flow=f, rtol=1e-13, times=(t0 - h, t0, t0 + h), accumulate=False).G
        exact = kappa_rate(G[1], flow_terms(f))
        error = exact - (cosine_similarity(G[2]) - cosine_similarity(G[0])) / (2 * h)
        fd[f"fd_{f}"] = float(np.max(np.abs(error)[off]) / np.max(np.abs(exact)[off]))
    p = relative_rate_parts(sample_gram(parts_n, parts_m, seed=seed))
    parts = float(np.max(np.abs(p.first_order + p.numerator + p.others + p.own - p.total)))
    checks = [
        CHECKS.fd.below(measured=fd[f"fd_{f}"], bound=fd_tolerance, scale=1.0, flow=FLOW_LABELS[f]) for f in FLOWS
    ]
    checks.append(CHECKS.parts.below(measured=parts, bound=parts_tolerance, scale=1.0, at=dict(n=parts_n, m=parts_m)))
    return Result(checks=checks, numbers=quotes(".1e", **fd, parts=parts))


# --- K1 in the mean: the Θ(n/m) terms cancel ------------------------------------------------------


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

    def checks(self, sigmas: float) -> list[Check]:
        """K1 in the mean at this setting, each within ``sigmas`` standard errors."""
        at = dict(n=self.n, m=self.m, draws=self.draws, pairs=self.pairs)
        pairs = (
            (CHECKS.numerator, self.predicted_numerator, self.numerator),
            (CHECKS.others, self.predicted_others, self.others),
            (CHECKS.net, self.own.mean, self.correction),
            (CHECKS.own, 2.0, self.own_plain),
        )
        return [d.close(predicted=p, measured=e.mean, atol=sigmas * e.se, at=at) for d, p, e in pairs]


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
    est = ratio_estimates(np.asarray(rows), np.asarray(weights))
    own_plain = ratio_estimates(np.asarray(plain), np.asarray(counts, dtype=float))[0]
    scaled = [e.scaled(m / n) for e in est[1:]]
    return CorrectionStats(n, m, draws, int(sum(counts)), est[0], *scaled, own_plain.scaled(m))


def _versus(measured: Estimate, predicted: float) -> Quote:
    """A measured mean, its standard error and the prediction, for ``{eval}`r.q.num.se```."""
    return quote(SimpleNamespace(mean=measured.mean, se=measured.se, pred=predicted), ".3f")


@runner
def mean_correction(*, settings: tuple[tuple[int, int, int], ...], reference: Size, sigmas: float, seed: int) -> Result:
    """K1 in the mean at each ``(n, m, draws)`` of ``settings``; numbers quoted at ``reference`` ``(n, m)``."""
    if any(not 2 <= n <= m for n, m, _ in settings):
        raise ValueError(f"settings must hold (n, m, draws) with 2 <= n <= m, got {settings}")
    if reference not in [(n, m) for n, m, _ in settings]:
        raise ValueError(f"reference must be one of the settings' (n, m), got {reference}")
    table = [correction_stats(n, m, draws=d, seed=seed) for n, m, d in settings]
    ref = next(s for s in table if (s.n, s.m) == reference)
    top = max(table, key=lambda s: s.correction.mean)
    numbers = {
        "ref": _points(**quotes("d", n=ref.n, m=ref.m, draws=ref.draws), pairs=quote(ref.pairs, ",d")),
        "num": _versus(ref.numerator, ref.predicted_numerator),
        "den": _versus(ref.others, ref.predicted_others),
        "c": _versus(ref.correction, ref.own.mean),
        "own_plain": quote(ref.own_plain, ".3f"),
        "top": _points(**quotes(".2f", c=top.correction.mean, six=6 / top.n), **quotes("d", n=top.n, m=top.m)),
        "sizes": quote(", ".join(f"({s.n}, {s.m})" for s in table)),
    }
    numbers |= quotes(".3f", six_over_n=6 / ref.n) | quotes(".4f", first=ref.first_order.mean)
    numbers |= quotes("d", settings_count=len(table))
    checks = [c for s in table for c in s.checks(sigmas)]
    return Result(checks=checks, numbers=numbers, data=dict(table=table))


def _errorbar(x, est: list[Estimate], **kw) -> svgplot.Series:
    mean, se = np.array([e.mean for e in est]), np.array([e.se for e in est])
    return svgplot.Series(x, mean, kind="errorbar", low=mean - 2 * se, high=mean + 2 * se, **kw)


def mean_figure(r: Result) -> Figure:
    """Left: the two Θ(n/m) parts N and D against ``m``, per ``n``; right: their net effect ``c``. Units of ``n/m``."""
    table = r.data["table"]
    parts, net = [], []
    for k, n in enumerate(sorted({s.n for s in table})):
        color, sel = PALETTE[k % len(PALETTE)], [s for s in table if s.n == n]
        m = np.array([s.m for s in sel], dtype=float)
        span = np.array([m.min() / 1.5, m.max() * 1.5])
        parts += [
            _errorbar(m, [s.others for s in sel], color=color, label=f"n = {n}: D > 0 (kept), N < 0 (dropped)"),
            _errorbar(m, [s.numerator for s in sel], color=color),
            svgplot.Series(
                span, [sel[0].predicted_numerator] * 2, color=color, dashed=True, label=f"n = {n}: predicted ±(n−2)/n"
            ),
            svgplot.Series(span, [sel[0].predicted_others] * 2, color=color, dashed=True),
        ]
        net += [
            _errorbar(m, [s.correction for s in sel], color=color, label=f"n = {n}: c measured"),
            svgplot.Series(m, [s.own.mean for s in sel], label=f"n = {n}: predicted ⟨Q⟩", color=color, dashed=True),
        ]
    unit, common = r"(units of $n/m$)", dict(xlabel="neurons $m$", xlog=True)
    title = "their sum with the pair's own term"
    axes = [
        svgplot.Axes(
            parts,
            ylabel=f"mean part of $\\dot\\kappa/\\kappa$ {unit}",
            hlines=[(0.0, "")],
            title="the two Θ(n/m) parts",
            **common,
        ),
        svgplot.Axes(
            net,
            ylabel=f"net correction $c$ {unit}",
            hlines=[(0.0, ""), (1.0, "the note's Θ(n/m) with constant 1")],
            ylim=(-0.25, 1.15),
            title=title,
            **common,
        ),
    ]
    return render(axes, width=9.0, height=3.4)


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
    *, grid: Sizes, draws: int, seed: int, quote_at: Size, exponent_tolerance: float, constant_rtol: float
) -> Result:
    """K1 pair by pair over ``grid`` of ``(n, m)``: the spread of the dropped terms ``~ ((n-2)/m)^{1/2}`` and its
    constant, and the median error of the note's rate (half the spread); numbers quoted at ``quote_at``."""
    if quote_at not in grid:
        raise ValueError(f"quote_at must be one of the grid's (n, m), got {quote_at}")
    ns, ms = (np.array([g[k] for g in grid], dtype=float) for k in (0, 1))
    res = np.array([fluctuation_scale(n, m, draws=draws, seed=seed) for n, m in grid])
    x, pred = (ns - 2) / ms, np.array([pair_spread(n, m) for n, m in grid])
    c_exp, fit = CHECKS.spread.exponent(sizes=x, values=res[:, 0], predicted=0.5, tolerance=exponent_tolerance)
    ratios = dict(constant=float(np.mean(res[:, 0] / pred)), median_ratio=float(np.mean(res[:, 1] / (pred / 2))))
    checks = [c_exp] + [
        d.close(predicted=1.0, measured=v, rtol=constant_rtol)
        for d, v in zip((CHECKS.constant, CHECKS.median), ratios.values())
    ]
    k = grid.index(quote_at)
    numbers = quotes(".3f", fit=fit, **ratios, med_err=float(res[k, 1]), med_pred=float(pred[k] / 2))
    numbers |= quotes(".4f", at_nm=quote_at[0] / quote_at[1]) | quotes("d", m_max=int(ms.max()), sizes_count=len(grid))
    numbers["at"] = quote(SimpleNamespace(n=quote_at[0], m=quote_at[1]), "d")
    return Result(checks=checks, numbers=numbers, data=dict(x=x, spread=res[:, 0], median=res[:, 1], fit=fit))


def fluctuation_figure(r: Result) -> Figure:
    """Spread of the dropped terms and median error of the note's rate against ``(n-2)/m``, with predictions."""
    d = r.data
    grid = np.geomspace(d["x"].min(), d["x"].max(), 50)
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
        svgplot.Series(grid, grid, label="$(n-2)/m$: size of the note's correction", color="#999"),
    ]
    return render(figures.power_law_axes(series, xlabel="$(n-2)/m$", ylabel="relative size"), width=6.4, height=3.6)


# --- K2: exponential decay, pair by pair --------------------------------------------------------


@runner
def early_decay(
    *, n: int, m: int, seed: int, t_end: float, steps: int, early: Window, late: Window, rtol: float
) -> Result:
    """K2 at one size, on both flows: the median decay rate fitted pair by pair on ``early`` against the median
    time-average of ``a + b`` (within ``rtol``); the rates fitted on ``late`` for the figure."""
    checks, fits = [], {}
    for flow in FLOWS:
        fit, avg = fits[flow] = trajectory(n, m, seed, flow, t_end, steps).fitted_rates(early, "early")
        checks.append(
            CHECKS.early.close(
                predicted=float(np.median(avg)),
                measured=float(np.median(fit)),
                rtol=rtol,
                at=dict(pairs=fit.size),
                window=early,
                flow=FLOW_LABELS[flow],
            )
        )
    traj = trajectory(n, m, seed, "interference", t_end, steps)
    (early_fit, avg), (full_fit, _) = fits["interference"], fits["full"]
    late_fit, _ = traj.fitted_rates(late, "late")
    x = drift_strength(n, m)
    lo, hi = np.quantile(np.concatenate([early_fit, late_fit]), [0.005, 1.0])
    edges = np.linspace(min(lo, 2 - x) - 0.05, max(hi, 2.0) + 0.05, 61)
    medians = dict(fit_median=early_fit, fit_median_full=full_fit, avg_median=avg, late_median=late_fit)
    numbers = quotes(
        ".3f", **{k: float(np.median(v)) for k, v in medians.items()}, x=x, late_pred=late_collective_rate(n, m)
    )
    numbers |= quotes(".3f", shift=x * float(np.diff(drift_profile(np.asarray(early)))[0]) / (early[1] - early[0]))
    numbers |= quotes("d", outliers=int(np.sum(np.concatenate([early_fit, late_fit]) < edges[0])))
    numbers |= quotes("g", early_from=early[0], early_to=early[1], late_from=late[0], late_to=late[1])
    return Result(checks=checks, numbers=numbers, data=dict(early=early_fit, late=late_fit, x=x, edges=edges))


def early_figure(r: Result) -> Figure:
    """Histograms of the per-pair decay rates fitted early and late, with the note's 2 and the drift model's
    ``2 - x``."""
    d, p = r.data, r.params
    counts = {w: np.histogram(d[w], bins=d["edges"])[0] for w in ("early", "late")}
    top = 1.1 * max(c.max() for c in counts.values())
    label = "fitted on t∈[{0:g},{1:g}] ({2} pairs)"
    series = [
        svgplot.Series(d["edges"], counts[w], kind="steps", color=PALETTE[k], label=label.format(*p[w], d[w].size))
        for k, w in enumerate(("early", "late"))
    ]
    lines = [(2.0, "note: a+b ≈ 2", "#000"), (2 - d["x"], f"drift model: 2 − x = {2 - d['x']:.3f}", PALETTE[2])]
    series += [svgplot.Series([x, x], [0, top], color=c, dashed=True, label=label) for x, label, c in lines]
    axes = svgplot.Axes(series, xlabel=r"decay rate of $\kappa$", ylabel="pairs", ylim=(0, top))
    return render(axes, width=6.4, height=3.2)


# --- K2: the drift model --------------------------------------------------------------------------


@runner
def drift_collapse(*, sizes: Sizes, seed: int, t_end: float, steps: int, t_from: float, rtol: float) -> Result:
    """K2: ``log A(t) / x`` against the drift profile ``f(t)`` for each ``(n, m)`` of ``sizes``; the largest
    relative error over ``t >= t_from`` must stay below ``rtol``."""
    curves, errors = [], []
    for n, m in sizes:
        traj = trajectory(n, m, seed, "interference", t_end, steps)
        log_a, x = np.log(traj.amplitude()[0]), drift_strength(n, m)
        curves.append((n, m, x, log_a / x))
        w = traj.times >= t_from
        errors.append(float(np.max(np.abs(log_a[w] / (x * drift_profile(traj.times[w])) - 1))))
    k = int(np.argmax(errors))
    xs = [c[2] for c in curves]
    numbers = quotes(".3f", error=errors[k]) | quotes(".2f", x_min=min(xs), x_max=max(xs))
    numbers |= quotes("d", error_n=sizes[k][0], error_m=sizes[k][1], sizes_count=len(sizes))
    check = CHECKS.drift.below(measured=errors[k], bound=rtol, scale=1.0)
    return Result(checks=[check], numbers=numbers, data=dict(times=traj.times, curves=curves))


def drift_figure(r: Result) -> Figure:
    """``log A(t) / x`` per size, on top of the drift profile ``f(t)``."""
    t = r.data["times"]
    series = [
        svgplot.Series(t, y, label=f"n={n}, m={m} (x={x:.2f})", color=PALETTE[k % len(PALETTE)])
        for k, (n, m, x, y) in enumerate(r.data["curves"])
    ]
    profile = r"drift model $f(t) = t - (1-e^{-2t})/2$"
    series.append(svgplot.Series(t, drift_profile(t), label=profile, color="#000", dashed=True))
    return render(svgplot.Axes(series, xlabel="time $t$", ylabel=r"$\log A(t)\,/\,x$"), width=6.4, height=3.2)


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
        """Its numbers for the prose, ``{eval}`bd.q.big.tpop``` (``x3``, ``late3``, ``pred3``: three decimals)."""
        two = dict(x=self.x, late=self.late_rate, pred=self.late_predicted)
        three = {f"{k}3": v for k, v in two.items()}
        times = dict(tpop=self.t_population, tpred=self.t_predicted, tmed=self.t_median)
        return _points(**quotes("d", n=self.n, m=self.m), **quotes(".2f", **two, **times), **quotes(".3f", **three))


def breakdown_point(
    n: int, m: int, *, seeds: int, t_end: float, steps: int, late_window: Window, level: float
) -> BreakdownPoint:
    """Where ``kappa(0) e^{-int(a+b)}`` stops describing the interference flow at ``(n, m)`` (seeds ``0..seeds-1``)."""
    tm, tp, lr, cr = [], [], [], []
    for s in range(seeds):
        traj = trajectory(n, m, s, "interference", t_end, steps)
        tm.append(traj.first_time(traj.median_deviation(), level))
        with np.errstate(divide="ignore"):
            tp.append(traj.first_time(np.log(traj.amplitude()[0]), np.log1p(level)))
        lr.append(traj.late_rate(late_window))
        cr.append(float(traj.crossed_fraction()[np.searchsorted(traj.times, late_window[0] - 1e-12)]))
    x = drift_strength(n, m)
    means = (float(np.mean(a)) for a in (tm, tp))
    return BreakdownPoint(
        n, m, x, *means, breakdown_time(x, level), float(np.mean(lr)), late_collective_rate(n, m), float(np.mean(cr))
    )


@runner
def breakdown(
    *,
    ns: Ints,
    ms: Ints,
    seeds: int,
    t_end: float,
    steps: int,
    late_window: Window,
    level: float,
    n_min: int,
    x_max: float,
    time_rtol: float,
    rate_atol: float,
    min_rate: float,
    compare: tuple[Size, Size],
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
    t_err, r_err = max(abs(p.t_population / p.t_predicted - 1) for p in sel), max(abs(p.shortfall) for p in sel)
    low = min(points, key=lambda p: p.late_rate)
    at = dict(settings_checked=len(sel))
    checks = [
        CHECKS.t_star.below(measured=t_err, bound=time_rtol, scale=1.0, at=at, level=level),
        CHECKS.late.below(measured=r_err, bound=rate_atol, scale=min(p.x for p in sel), at=at, window=late_window),
        CHECKS.order.below(measured=max(p.t_median / p.t_population for p in sel), bound=1.0, at=at),
        CHECKS.exponential.above(
            measured=low.late_rate, bound=min_rate, at=dict(settings_checked=len(points), slowest=(low.n, low.m))
        ),
    ]
    small = sorted([p for p in points if p.n < n_min and p.x <= x_max], key=lambda p: -p.x)
    outside = [q for q in points if q not in sel] or points
    most = max(points, key=lambda p: p.crossed)
    named = dict(big=max(points, key=lambda p: (p.n, p.m)), a=by_size[compare[0]], b=by_size[compare[1]], low=low)
    numbers = {name: p.quoted() for name, p in named.items()}
    numbers |= {f"small{k}": p.quoted() for k, p in enumerate(small[:2], start=1)}
    numbers |= quotes(".0f", level_pct=100 * level, time_rtol_pct=100 * time_rtol, t_err_pct=100 * t_err)
    numbers |= quotes(".3f", t_err=t_err, r_err=r_err) | quotes("d", n_settings=len(sel), all_settings=len(points))
    numbers |= quotes("g", ratio=am / an, late_from=late_window[0], late_to=late_window[1])
    numbers |= quotes(
        ".2f",
        out_pop=min(q.t_population / q.t_predicted for q in outside),
        out_med=min(q.t_median / q.t_predicted for q in outside),
    )
    numbers["cross"] = _points(pct=quote(100 * most.crossed, ".2f"), **quotes("d", n=most.n, m=most.m))
    return Result(checks=checks, numbers=numbers, data=dict(points=points))


def breakdown_figure(r: Result) -> Figure:
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
    axes = [
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
    return render(axes, width=9.0, height=3.4)


@runner
def breakdown_prediction(*, n: int, m: int, level: float) -> Result:
    """The drift model's breakdown time at one size (for the prose's prediction before the widgets)."""
    x = drift_strength(n, m)
    numbers = quotes(".3f", x=x) | quotes(".2f", t_star=breakdown_time(x, level)) | quotes(".0f", level_pct=100 * level)
    return Result(numbers=numbers)


# --- K3: the overlap itself ---------------------------------------------------------------------


def overlap_rms(n: int, m: int, *, seeds: int, t_end: float, steps: int, rtol: float) -> np.ndarray:
    """RMS of ``W_i(t) . W_j(t)`` over the pairs interfering at ``t = 0``, pooled over seeds ``0..seeds-1``,
    at ``steps + 1`` times from 0 to ``t_end``, ``(steps + 1,)``."""
    sq, count = np.zeros(steps + 1), 0
    i, j = np.triu_indices(n, k=1)
    for s in range(seeds):
        G = phase(n, m, s, flow="interference", rtol=rtol, t_end=t_end, count=steps + 1, accumulate=False).G
        keep = G[0, i, j] > 0
        sq += np.sum(G[:, i[keep], j[keep]] ** 2, axis=1)
        count += int(keep.sum())
    return np.sqrt(sq / count)


@runner(min_lengths=dict(ms=3))
def overlap_decay(
    *,
    n: int,
    ms: Ints,
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
    rms = np.array([overlap_rms(n, m, seeds=seeds, t_end=t_end, steps=steps, rtol=flow_rtol) for m in ms])
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
    numbers = quotes(".4f", fit=fit, rate=rate, pref=pref) | quotes("g", two_t=2 * float(times[k]))
    numbers |= quotes("d", m_min=ms[0]) | quotes(".2e", m_max=ms[-1]) | quotes(".1e", x_max=drift_strength(n, ms[-1]))
    return Result(checks=checks, numbers=numbers, data=dict(times=times, m=m_arr, rms=rms, fit=fit, k=k))


def overlap_figure(r: Result) -> Figure:
    """Left: RMS interfering overlap against ``m`` at ``t = 0`` and ``t_fixed``. Right: against ``t`` at the
    largest ``m``."""
    d = r.data
    k, t, big = d["k"], d["times"], d["rms"][-1]
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
    right = [
        svgplot.Series(t, big, label=f"measured, m = {int(d['m'][-1]):.2e}", kind="points", color=PALETTE[0]),
        svgplot.Series(t, big[0] * np.exp(-2 * t), label=r"$e^{-2t}\times$ RMS at 0", color="#000", dashed=True),
    ]
    axes = [
        figures.power_law_axes(left, xlabel="neurons $m$", ylabel=r"RMS $W_i\cdot W_j$ (interfering pairs)"),
        svgplot.Axes(right, xlabel="time $t$", ylabel=r"RMS $W_i\cdot W_j$", ylog=True),
    ]
    return render(axes, width=9.0, height=3.2)


def interfering_pair_weights(m: int, *, seed: int) -> np.ndarray:
    """Two encodings ``(2, m)`` from ``sample_weights(2, m, seed)``, the second flipped if needed so they interfere."""
    W = sample_weights(2, m, seed=seed)
    return W * np.array([[1.0], [-1.0]]) if W[0] @ W[1] < 0 else W


def rate_deficits(ms: Ints, draws: int) -> np.ndarray:
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
    deficit_ms: Ints,
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
    errors = dict(
        g_err=float(np.max(np.abs(Gs[:, 0, 1] - g)) / G0[0, 1]),
        k_err=float(np.max(np.abs(ksim - kap)) / kap[0]),
        inv_err=float(np.max(np.abs(inv / inv[0] - 1))),
    )
    late = float(-(np.log(kap[-1]) - np.log(kap[-3])) / (2 * (times[1] - times[0])))
    s0, c = float(G0[0, 0] + G0[1, 1]), pair_decay_rate(G0)
    deficits = rate_deficits(deficit_ms, deficit_draws)
    m_arr = np.asarray(deficit_ms, dtype=float)
    c_def, fit = CHECKS.deficit.exponent(
        sizes=m_arr, values=deficits, predicted=-1.0, tolerance=exponent_tolerance, at=dict(m=deficit_ms)
    )
    declared = (CHECKS.pair_g, CHECKS.pair_kappa, CHECKS.pair_invariant)
    checks = [d.below(measured=e, bound=tolerance, scale=1.0) for d, e in zip(declared, errors.values())]
    checks += [CHECKS.pair_rate.close(predicted=c, measured=late, rtol=rate_rtol), c_def]
    numbers = quotes(".1e", **errors) | quotes(".4f", late=late, c=c, s0=s0)
    numbers |= quotes(
        ".3f",
        ratio_end=float(kap[-1] / (kap[0] * np.exp(-s0 * t_end))),
        deficit_fit=fit,
        deficit_const=float(np.mean(m_arr * deficits)),
    )
    numbers |= quotes("d", deficit_m_min=deficit_ms[0], deficit_m_max=deficit_ms[-1])
    note = kap[0] * np.exp(-s0 * times)
    data = dict(
        times=times, kappa=kap, kappa_sim=ksim, kappa_note=note, m=m_arr, deficits=deficits, fit=fit, s0=s0, c=c
    )
    return Result(checks=checks, numbers=numbers, data=data)


def two_encodings_figure(r: Result) -> Figure:
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
    ylabel = r"$\kappa_{12}(t)\,/\,\kappa_0 e^{-(a_0+b_0)t}$"
    axes = [
        svgplot.Axes(left, xlabel="time $t$", ylabel=ylabel, hlines=[(1.0, "the note")], title=f"m = {r.params['m']}"),
        figures.power_law_axes(right, xlabel="neurons $m$", ylabel="relative deficit of the late rate"),
    ]
    return render(axes, width=9.0, height=3.2)


# --- widgets -------------------------------------------------------------------------------------

WIDGET_T_END = 4.0
WIDGET_STEPS = 80
WIDGET_LEVEL = 0.1


def error_limits(values: np.ndarray, level: float, *, cap: float = 1.0) -> tuple[float, float]:
    """Limits for a relative error around 0 that a heavy tail cannot stretch: the band ``±level`` and the
    curve (:func:`incidental.figures.robust_limits`), but never beyond ``±cap``; a curve that leaves them
    stops at the frame, and the panel says by how much."""
    lo, hi = figures.robust_limits(
        np.clip(values, -cap, cap), quantiles=(0.0, 1.0), include=(-2 * level, 2 * level), pad=0.1
    )
    return max(lo, -cap), min(hi, cap)


def pair_axes(traj: Pairs, p: int, k: int, *, level: float = WIDGET_LEVEL) -> list[svgplot.Axes]:
    """One pair: ``|kappa(t)|`` against the note on a log scale, and the relative error with robust limits."""
    tt, t = traj.times, float(traj.times[k])
    kap, pred = traj.kappa[:, p], traj.prediction[:, p]
    measured = np.abs(kap)
    positive = measured[measured > 0]
    lo = float(min(positive.min(), pred.min())) / 2
    hi = float(max(positive.max(), pred.max())) * 30  # room for the legend above the curves
    course = figures.time_course(tt, measured, pred, label="measured |κ(t)|", predicted_label="note: κ(0) e^{−∫(a+b)}")
    marked = svgplot.Series([t], [max(abs(float(kap[k])), lo)], kind="points", color=PALETTE[1])
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
    t_star = breakdown_time(drift_strength(traj.run.n, traj.run.m), level)
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
    traj = trajectory(n, m, seed, t_end=WIDGET_T_END, steps=WIDGET_STEPS)
    p, k = (int(pair) - 1) % traj.i.size, int(np.argmin(np.abs(traj.times - float(time))))
    t, ratio = float(traj.times[k]), float(traj.kappa[k, p]) / float(traj.prediction[k, p])
    parts, where = relative_rate_parts(traj.run.G0), dict(pair=(int(traj.i[p]), int(traj.j[p])))
    start, total = float(parts.first_order[p]), float(parts.total[p])
    checks = [
        CHECKS.pair_start.close(predicted=start, measured=total, rtol=WIDGET_LEVEL, at=where | dict(t=0.0)),
        CHECKS.pair_note.below(
            measured=abs(ratio - 1.0), bound=WIDGET_LEVEL, scale=1.0, at=where | dict(t=round(t, 2)), level=WIDGET_LEVEL
        ),
    ]
    axes = pair_axes(traj, p, k)
    x = drift_strength(n, m)
    note = (
        f"Population drift x = (n−2)/√(2πm) = {x:.3f}; the drift model puts the population {WIDGET_LEVEL:.0%} off "
        f"at t* ≈ {breakdown_time(x, WIDGET_LEVEL):.2f}."
    )
    lo, hi = axes[1].ylim
    if not lo <= ratio - 1.0 <= hi:
        note += (
            f" At t = {t:.2f} this pair's κ is {ratio:.3g} times the note's value, "
            f"off the right panel's scale (marker at its edge)."
        )
    crossed = np.nonzero(traj.kappa[:, p] <= 0)[0]
    if crossed.size:
        note += (
            f" This pair crosses zero at t ≈ {traj.times[crossed[0]]:.2f}; the ReLU then switches its interference off."
        )
    return Panel(checks, svgplot.svg(axes), note)


def ensemble_panel(n: int, m: int, seed: int, time: float) -> Panel:
    """All interfering pairs of one draw: the median and 10-90% band of ``log(kappa/prediction)`` against time,
    the population's ``log A(t)`` and the drift model ``x f(t)``."""
    traj = trajectory(n, m, seed, t_end=WIDGET_T_END, steps=WIDGET_STEPS)
    t, k, x = traj.times, int(np.argmin(np.abs(traj.times - float(time)))), drift_strength(n, m)
    A, se = traj.amplitude()
    model = x * drift_profile(t)
    at = dict(t=round(float(t[k]), 2), pairs=traj.i.size)
    checks = [
        CHECKS.ensemble_median.below(
            measured=float(traj.median_deviation()[k]), bound=WIDGET_LEVEL, scale=1.0, at=at, level=WIDGET_LEVEL
        ),
        CHECKS.ensemble_drift.close(
            predicted=float(model[k]),
            measured=float(np.log(A[k])),
            rtol=0.25,
            atol=3 * float(se[k] / A[k]) + 1e-3,
            at=at,
        ),
    ]
    with np.errstate(invalid="ignore"):
        q = np.nanpercentile(traj.log_deviation, [10, 50, 90], axis=1)
    series = [
        *figures.time_course(t, q[1], label="median pair, 10–90% of pairs (band)", low=q[0], high=q[2]),
        svgplot.Series(t, np.log(A), label="population log A(t)", color=PALETTE[2]),
        svgplot.Series(t, model, label="drift model x f(t)", color="#000", dashed=True),
    ]
    top = float(max(np.nanmax(q[2]), model.max(), np.log1p(WIDGET_LEVEL)))
    bottom = float(min(np.nanmin(q[0]), 0.0))
    axes = svgplot.Axes(
        series,
        xlabel="time t",
        ylabel="log(κ / κ(0)e^{−∫(a+b)})",
        ylim=(bottom - 0.05 * (top - bottom), top + 0.6 * (top - bottom)),  # room for the legend above the curves
        hlines=[(float(np.log1p(WIDGET_LEVEL)), f"{WIDGET_LEVEL:.0%} off")],
        vlines=[(float(t[k]), "chosen t")],
    )
    note = (
        f"x = (n−2)/√(2πm) = {x:.3f}; predicted population breakdown at t* = {breakdown_time(x, WIDGET_LEVEL):.2f}; "
        f"pairs that have reached zero by t: {traj.crossed_fraction()[k]:.2%}."
    )
    return Panel(checks, svgplot.svg(axes), note)


def _controls(third: Control) -> list[Control]:
    """The sliders for ``n``, ``m``, ``third`` and the time (the notebook sets the book's grids)."""
    return [
        Control("n", "features n", (16, 64), 64, kind="size", low=4, high=64),
        Control("m", "neurons m", (1024, 65536), 65536, kind="size", low=256, high=1 << 20),
        third,
        Control("time", "time t", (0.5, 1.5, 3.0), 0.5, kind="float", low=0.0, high=WIDGET_T_END, step=0.05),
    ]


def pair_explorable() -> Explorable:
    """Widget: one pair's cosine against time, for a choice of sizes and pair (K2)."""
    controls = _controls(Control("pair", "pair #", (1, 2), 1, low=1, high=40))
    return Explorable(pair_panel, controls, title="One pair: does κ decay like κ(0) e^{−∫(a+b)}?")


def ensemble_explorable() -> Explorable:
    """Widget: every interfering pair of one draw, against the note and the drift model (K2)."""
    controls = _controls(Control("seed", "seed", (0, 1), 0, low=0, high=99))
    return Explorable(ensemble_panel, controls, title="All pairs: where the simple exponential stops")


def explorables() -> dict[str, Explorable]:
    """Fresh explorables of this chapter, by name."""
    return {"pair": pair_explorable(), "ensemble": ensemble_explorable()}
