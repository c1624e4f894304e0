"""Chapter 4 (The combined rate): the experiments of claims K1-K3 and the chapter's widgets.

Runners take keyword knobs (validated by :func:`~incidental.book.runner`) and return a :class:`~incidental.book.Result`;
figure builders return the figure (captions are in the notebook). The formulas live in the core: the parts of
the cosine's rate, their mean and spread in :mod:`incidental.derivation`, the drift model in :mod:`incidental.theory`,
the two-encoding flow in :mod:`incidental.exact`. Flows are the shared runs of :func:`incidental.runs.phase`, seen
pair by pair (:class:`incidental.runs.Pairs`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
from matplotlib.figure import Figure

from .. import figures, svgplot, theory
from ..book import Quote, Result, quote, quotes, runner
from ..checks import declarations
from ..derivation import fluctuation_scale, kappa_rate, mean_rate_parts, relative_rate_parts
from ..exact import interfering_pair_weights, pair_cosine, pair_decay_rate, pair_overlap, rate_deficits
from ..explore import Control, Explorable, Panel
from ..flow import simulate_gram
from ..model import cosine_similarity, sample_gram
from ..plotting import render
from ..runs import FLOW_LABELS, FLOWS, INTERFERENCE, Pairs, flow_terms, phase

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


@runner
def rate_identities(
    *, n: int, m: int, t0: float, h: float, fd_tolerance: float, parts: Size, parts_tolerance: float, seed: int
) -> Result:
    """K1, exact part: the quotient rule against central differences (error ``O(h^2)``) along both flows (``n``,
    ``m``, at ``t0`` with step ``h``), and the four parts adding up to the exact rate (at ``parts``, an ``(n, m)``)."""
    if not h < t0:
        raise ValueError(f"h must lie in (0, t0), got h={h}, t0={t0}")
    fd, off = {}, ~np.eye(n, dtype=bool)
    for f in FLOWS:  # max |kappa_rate - central differences| along the flow, relative to max |kappa_rate|
        G = phase(n, m, seed, flow=f, rtol=1e-13, times=(t0 - h, t0, t0 + h), accumulate=False).G
        exact = kappa_rate(G[1], flow_terms(f))
        error = exact - (cosine_similarity(G[2]) - cosine_similarity(G[0])) / (2 * h)
        fd[f"fd_{f}"] = float(np.max(np.abs(error)[off]) / np.max(np.abs(exact)[off]))
    p = relative_rate_parts(sample_gram(*parts, seed=seed))
    sum_error = float(np.max(np.abs(p.first_order + p.numerator + p.others + p.own - p.total)))
    checks = [
        CHECKS.fd.below(measured=fd[f"fd_{f}"], bound=fd_tolerance, scale=1.0, flow=FLOW_LABELS[f]) for f in FLOWS
    ]
    at = dict(n=parts[0], m=parts[1])
    checks.append(CHECKS.parts.below(measured=sum_error, bound=parts_tolerance, scale=1.0, at=at))
    return Result(checks=checks, numbers=quotes(".1e", **fd, parts=sum_error))


@runner
def mean_correction(*, settings: tuple[tuple[int, int, int], ...], reference: Size, sigmas: float, seed: int) -> Result:
    """K1 in the mean at each ``(n, m, draws)`` of ``settings`` (:func:`~incidental.derivation.mean_rate_parts`),
    each part within ``sigmas`` standard errors of its prediction; numbers quoted at ``reference`` ``(n, m)``."""
    if any(not 2 <= n <= m for n, m, _ in settings):
        raise ValueError(f"settings must hold (n, m, draws) with 2 <= n <= m, got {settings}")
    if reference not in [(n, m) for n, m, _ in settings]:
        raise ValueError(f"reference must be one of the settings' (n, m), got {reference}")
    table = [mean_rate_parts(n, m, draws=d, seed=seed) for n, m, d in settings]
    checks = []
    for s in table:
        (num, den), at = s.predicted, dict(n=s.n, m=s.m, draws=s.draws, pairs=s.pairs)
        parts = (
            (CHECKS.numerator, num, s.numerator),
            (CHECKS.others, den, s.others),
            (CHECKS.net, s.own.mean, s.correction),
            (CHECKS.own, 2.0, s.own_plain),
        )
        checks += [d.close(predicted=p, measured=e.mean, atol=sigmas * e.se, at=at) for d, p, e in parts]
    ref = next(s for s in table if (s.n, s.m) == reference)
    top = max(table, key=lambda s: s.correction.mean)
    versus = dict(
        num=(ref.numerator, ref.predicted[0]), den=(ref.others, ref.predicted[1]), c=(ref.correction, ref.own.mean)
    )
    numbers = {k: quote(SimpleNamespace(mean=e.mean, se=e.se, pred=p), ".3f") for k, (e, p) in versus.items()}
    numbers |= {
        "ref": _points(**quotes("d", n=ref.n, m=ref.m, draws=ref.draws), pairs=quote(ref.pairs, ",d")),
        "own_plain": quote(ref.own_plain, ".3f"),
        "top": _points(**quotes(".2f", c=top.correction.mean, six=6 / top.n), **quotes("d", n=top.n, m=top.m)),
        "sizes": quote(", ".join(f"({s.n}, {s.m})" for s in table)),
    }
    numbers |= quotes(".3f", six_over_n=6 / ref.n) | quotes(".4f", first=ref.first_order.mean)
    numbers |= quotes("d", settings_count=len(table))
    return Result(checks=checks, numbers=numbers, data=dict(table=table))


def mean_figure(r: Result) -> Figure:
    """Left: the two Θ(n/m) parts N and D against ``m``, per ``n``; right: their net effect ``c``. Units of ``n/m``."""
    parts, net = [], []
    for k, n in enumerate(sorted({s.n for s in r.data["table"]})):
        color, sel = PALETTE[k % len(PALETTE)], [s for s in r.data["table"] if s.n == n]
        m, (num, den) = np.array([s.m for s in sel], dtype=float), sel[0].predicted
        span = np.array([m.min() / 1.5, m.max() * 1.5])
        est = {key: [getattr(s, key) for s in sel] for key in ("others", "numerator", "correction", "own")}
        parts += [
            figures.estimate_bars(m, est["others"], color=color, label=f"n = {n}: D > 0 (kept), N < 0 (dropped)"),
            figures.estimate_bars(m, est["numerator"], color=color),
            svgplot.Series(span, [num] * 2, color=color, dashed=True, label=f"n = {n}: predicted ±(n−2)/n"),
            svgplot.Series(span, [den] * 2, color=color, dashed=True),
        ]
        net += [
            figures.estimate_bars(m, est["correction"], color=color, label=f"n = {n}: c measured"),
            svgplot.Series(m, [e.mean for e in est["own"]], label=f"n = {n}: predicted ⟨Q⟩", color=color, dashed=True),
        ]
    unit, common = r"(units of $n/m$)", dict(xlabel="neurons $m$", xlog=True)
    left = dict(ylabel=f"mean part of $\\dot\\kappa/\\kappa$ {unit}", hlines=[(0.0, "")], title="the two Θ(n/m) parts")
    right = dict(ylabel=f"net correction $c$ {unit}", ylim=(-0.25, 1.15), title="their sum with the pair's own term")
    right["hlines"] = [(0.0, ""), (1.0, "the note's Θ(n/m) with constant 1")]
    return render([svgplot.Axes(parts, **left, **common), svgplot.Axes(net, **right, **common)], width=9.0, height=3.4)


@runner(min_lengths=dict(grid=3))
def pair_fluctuations(
    *, grid: Sizes, draws: int, seed: int, quote_at: Size, exponent_tolerance: float, constant_rtol: float
) -> Result:
    """K1 pair by pair over ``grid`` of ``(n, m)`` (:func:`~incidental.derivation.fluctuation_scale`): the spread of
    the dropped terms ``~ ((n-2)/m)^{1/2}`` and its constant, and the median error of the note's rate (half the
    spread); numbers quoted at ``quote_at``."""
    if quote_at not in grid:
        raise ValueError(f"quote_at must be one of the grid's (n, m), got {quote_at}")
    ns, ms = (np.array([g[k] for g in grid], dtype=float) for k in (0, 1))
    res = np.array([fluctuation_scale(n, m, draws=draws, seed=seed) for n, m in grid])
    x, pred = (ns - 2) / ms, np.array([theory.pair_spread(n, m) for n, m in grid])
    c_exp, fit = CHECKS.spread.exponent(sizes=x, values=res[:, 0], predicted=0.5, tolerance=exponent_tolerance)
    ratios = dict(constant=float(np.mean(res[:, 0] / pred)), median_ratio=float(np.mean(res[:, 1] / (pred / 2))))
    closes = zip((CHECKS.constant, CHECKS.median), ratios.values())
    checks = [c_exp] + [d.close(predicted=1.0, measured=v, rtol=constant_rtol) for d, v in closes]
    k = grid.index(quote_at)
    numbers = quotes(".3f", fit=fit, **ratios, med_err=float(res[k, 1]), med_pred=float(pred[k] / 2))
    numbers |= quotes(".4f", at_nm=quote_at[0] / quote_at[1]) | quotes("d", m_max=int(ms.max()), sizes_count=len(grid))
    numbers["at"] = quote(SimpleNamespace(n=quote_at[0], m=quote_at[1]), "d")
    data = dict(x=x, spread=res[:, 0], median=res[:, 1], fit=fit, predicted=pred)
    return Result(checks=checks, numbers=numbers, data=data)


def fluctuation_figure(r: Result) -> Figure:
    """Spread of the dropped terms and median error of the note's rate against ``(n-2)/m``, with predictions."""
    d, series = r.data, []
    laws = (  # what, label, fit, colour, share of the predicted spread, its label
        ("spread", "spread of dropped terms", d["fit"], PALETTE[0], 1.0, r"predicted $\sqrt{3(n-2)/(2m)}$"),
        ("median", "median rel. error of $-(a+b)$", None, PALETTE[4], 0.5, "predicted: half the spread"),
    )
    for key, label, fit, color, share, predicted_label in laws:
        law = dict(label=label, fit=fit, color=color, predicted_label=predicted_label)
        series += figures.power_law(d["x"], d[key], predicted=figures.through(d["x"], share * d["predicted"]), **law)
    grid = np.geomspace(d["x"].min(), d["x"].max(), 50)
    series.append(svgplot.Series(grid, grid, label="$(n-2)/m$: size of the note's correction", color="#999"))
    axes = figures.power_law_axes(series, xlabel="$(n-2)/m$", ylabel="relative size")
    return render(axes, width=6.4, height=3.6)


@runner
def early_decay(
    *, n: int, m: int, seed: int, t_end: float, steps: int, early: Window, late: Window, rtol: float
) -> Result:
    """K2 at one size, on both flows: the median decay rate fitted pair by pair on ``early`` against the median
    time-average of ``a + b`` (within ``rtol``); the rates fitted on ``late`` for the figure."""
    checks, fits = [], {}
    for flow in FLOWS:
        fit, avg = fits[flow] = trajectory(n, m, seed, flow, t_end, steps).fitted_rates(early, "early")
        medians = dict(predicted=float(np.median(avg)), measured=float(np.median(fit)))
        where = dict(at=dict(pairs=fit.size), window=early, flow=FLOW_LABELS[flow])
        checks.append(CHECKS.early.close(**medians, rtol=rtol, **where))
    (early_fit, avg), (full_fit, _) = fits["interference"], fits["full"]
    late_fit, _ = trajectory(n, m, seed, "interference", t_end, steps).fitted_rates(late, "late")
    x, late_pred = theory.drift_strength(n, m), theory.late_collective_rate(n, m)
    lo, hi = np.quantile(np.concatenate([early_fit, late_fit]), [0.005, 1.0])
    edges = np.linspace(min(lo, late_pred) - 0.05, max(hi, 2.0) + 0.05, 61)
    rates = dict(fit_median=early_fit, fit_median_full=full_fit, avg_median=avg, late_median=late_fit)
    shift = x * float(np.diff(theory.drift_profile(np.asarray(early)))[0]) / (early[1] - early[0])
    medians = {k: float(np.median(v)) for k, v in rates.items()}
    numbers = quotes(".3f", **medians, x=x, late_pred=late_pred, shift=shift)
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
    lines = [(2.0, "note: a+b ≈ 2", "#000"), (2 - d["x"], f"drift model: 2 − ν = {2 - d['x']:.3f}", PALETTE[2])]
    series += [svgplot.Series([x, x], [0, top], color=c, dashed=True, label=label) for x, label, c in lines]
    axes = svgplot.Axes(series, xlabel=r"decay rate of $\kappa$", ylabel="pairs", ylim=(0, top))
    return render(axes, width=6.4, height=3.2)


@runner
def drift_collapse(*, sizes: Sizes, seed: int, t_end: float, steps: int, t_from: float, rtol: float) -> Result:
    """K2: ``log A(t) / x`` against the drift profile ``f(t)`` for each ``(n, m)`` of ``sizes``; the largest
    relative error over ``t >= t_from`` must stay below ``rtol``."""
    curves, errors = [], []
    for n, m in sizes:
        traj = trajectory(n, m, seed, "interference", t_end, steps)
        log_a, x = np.log(traj.amplitude()[0]), theory.drift_strength(n, m)
        curves.append((n, m, x, log_a / x))
        w = traj.times >= t_from
        errors.append(float(np.max(np.abs(log_a[w] / (x * theory.drift_profile(traj.times[w])) - 1))))
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
        svgplot.Series(t, y, label=f"n={n}, m={m} (ν={x:.2f})", color=PALETTE[k % len(PALETTE)])
        for k, (n, m, x, y) in enumerate(r.data["curves"])
    ]
    profile = r"drift model $\beta(t) = t - (1-e^{-2t})/2$"
    series.append(svgplot.Series(t, theory.drift_profile(t), label=profile, color="#000", dashed=True))
    return render(svgplot.Axes(series, xlabel="time $t$", ylabel=r"$\log \Gamma(t)\,/\,\nu$"), width=6.4, height=3.2)


@dataclass(frozen=True)
class BreakdownPoint:
    """The note's exponential breaking down at one ``(n, m)``: predicted, and measured (averaged over seeds)."""

    n: int
    m: int
    x: float
    t_predicted: float  # x f(t) = ln(1 + level)
    late_predicted: float  # 2 - x
    t_median: float  # median pair off by ``level``
    t_population: float  # population amplitude off by ``level``
    late_rate: float  # fitted on the late window
    crossed: float  # fraction of interfering pairs that reached zero by the start of the late window

    def quoted(self) -> Quote:
        """Its numbers for the prose, ``{eval}`bd.q.big.tpop``` (``x3``, ``late3``, ``pred3``: three decimals)."""
        two = dict(x=self.x, late=self.late_rate, pred=self.late_predicted)
        three = {f"{k}3": v for k, v in two.items()}
        times = dict(tpop=self.t_population, tpred=self.t_predicted, tmed=self.t_median)
        return _points(**quotes("d", n=self.n, m=self.m), **quotes(".2f", **two, **times), **quotes(".3f", **three))


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
    """K2 over the grid ``ns x ms`` (seeds ``0..seeds-1``): where the population and the median pair leave the
    note's exponential by ``level``, and the late decay rate, against the drift model. The model is checked where
    it applies (``n >= n_min`` and ``x <= x_max``); that the decay stays exponential (late rate ``>= min_rate``)
    everywhere. ``compare`` names two sizes of equal ``m/n`` whose breakdown times the prose compares."""
    points = []
    for n, m in itertools.product(ns, ms):
        runs = [trajectory(n, m, s, "interference", t_end, steps) for s in range(seeds)]
        x, measured = theory.drift_strength(n, m), np.mean([r.breakdown(level, late_window) for r in runs], axis=0)
        predicted = theory.breakdown_time(x, level), theory.late_collective_rate(n, m)
        points.append(BreakdownPoint(n, m, x, *predicted, *(float(v) for v in measured)))
    by_size = {(p.n, p.m): p for p in points}
    (an, am), (bn, bm) = compare
    if any(c not in by_size for c in compare) or am * bn != bm * an:
        raise ValueError(f"compare must name two sizes of the grid with the same m/n, got {compare}")
    sel = [p for p in points if p.n >= n_min and p.x <= x_max]
    if not sel:
        raise ValueError(f"no setting has n >= n_min={n_min} and x <= x_max={x_max}")
    t_err = max(abs(p.t_population / p.t_predicted - 1) for p in sel)
    r_err = max(abs(p.late_predicted - p.late_rate) for p in sel)
    low, at = min(points, key=lambda p: p.late_rate), dict(settings_checked=len(sel))
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
    out_pop, out_med = (min(getattr(q, t) / q.t_predicted for q in outside) for t in ("t_population", "t_median"))
    numbers |= quotes(".2f", out_pop=out_pop, out_med=out_med)
    numbers["cross"] = _points(pct=quote(100 * most.crossed, ".2f"), **quotes("d", n=most.n, m=most.m))
    return Result(checks=checks, numbers=numbers, data=dict(points=points))


def breakdown_figure(r: Result) -> Figure:
    """Left: the late decay rate against ``x`` per ``n``, with ``2 - x``. Right: the breakdown times over
    the drift model's ``t*``, for the population (per ``n``) and the median pair."""
    points, p = r.data["points"], r.params
    xs = np.geomspace(min(q.x for q in points) / 1.2, max(q.x for q in points) * 1.2, 100)
    rate, times = [], []
    for k, n in enumerate(sorted({q.n for q in points})):
        color, sel = PALETTE[k % len(PALETTE)], [q for q in points if q.n == n]
        x = [q.x for q in sel]
        rate.append(svgplot.Series(x, [q.late_rate for q in sel], label=f"n = {n}", kind="points", color=color))
        ratio = [q.t_population / q.t_predicted for q in sel]
        times.append(svgplot.Series(x, ratio, kind="points", color=color, label=f"population, n = {n}"))
    rate.append(svgplot.Series(xs, 2 - xs, label="drift model 2 − ν", color="#000", dashed=True))
    median = [q.t_median / q.t_predicted for q in points]
    times.append(svgplot.Series([q.x for q in points], median, kind="points", color="#999", label="median pair, all n"))
    times.append(svgplot.Series(xs, np.ones_like(xs), label="drift model", color="#000", dashed=True))
    common = dict(xlabel=r"$\nu = (n-2)/\sqrt{2\pi m}$", xlog=True, vlines=[(p["x_max"], f"ν = {p['x_max']:g}")])
    band = [(1 + p["time_rtol"], f"±{p['time_rtol']:.0%}"), (1 - p["time_rtol"], "")]
    late_label = "late decay rate (t∈[{:g},{:g}])".format(*p["late_window"])
    time_label = f"$t^*$ ({p['level']:.0%} off the note) / drift model"
    axes = [
        svgplot.Axes(rate, ylabel=late_label, **common),
        svgplot.Axes(times, ylabel=time_label, hlines=band, ylim=(0.0, 1.4), **common),
    ]
    return render(axes, width=9.0, height=3.4)


@runner
def breakdown_prediction(*, n: int, m: int, level: float) -> Result:
    """The drift model's breakdown time at one size (for the prose's prediction before the widgets)."""
    x = theory.drift_strength(n, m)
    numbers = quotes(".3f", x=x) | quotes(".2f", t_star=theory.breakdown_time(x, level))
    return Result(numbers=numbers | quotes(".0f", level_pct=100 * level))


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
    run = dict(flow="interference", rtol=flow_rtol, t_end=t_end, count=steps + 1, accumulate=False)
    overlaps = [np.hstack([phase(n, m, s, **run).pairs.overlaps for s in range(seeds)]) for m in ms]
    rms = np.array([np.sqrt(np.mean(pooled**2, axis=1)) for pooled in overlaps])  # pairs interfering at t = 0
    k, m_arr, big = int(np.argmin(np.abs(times - t_fixed))), np.asarray(ms, dtype=float), rms[-1]
    # the drift raises the overlap by about x f(t) with x ∝ m^{-1/2}, which tilts the slope a little at small m
    c_exp, fit = CHECKS.rms.exponent(sizes=m_arr, values=rms[:, k], predicted=-0.5, tolerance=exponent_tolerance)
    rate = float(-np.polyfit(times, np.log(big), 1)[0])
    pref = float(big[k] / big[0] * np.exp(2 * times[k]))
    checks = [c_exp, CHECKS.rms_rate.close(predicted=2.0, measured=rate, rtol=rtol, at=dict(m=ms[-1]))]
    checks.append(CHECKS.rms_constant.close(predicted=1.0, measured=pref, rtol=rtol, at=dict(m=ms[-1])))
    numbers = quotes(".4f", fit=fit, rate=rate, pref=pref) | quotes("g", two_t=2 * float(times[k]))
    numbers |= quotes("d", m_min=ms[0]) | quotes(".2e", m_max=ms[-1])
    numbers |= quotes(".1e", x_max=theory.drift_strength(n, ms[-1]))
    return Result(checks=checks, numbers=numbers, data=dict(times=times, m=m_arr, rms=rms, fit=fit, k=k))


def overlap_figure(r: Result) -> Figure:
    """Left: RMS interfering overlap against ``m`` at ``t = 0`` and ``t_fixed`` (predicted ``e^{-2t} m^{-1/2}``).
    Right: against ``t`` at the largest ``m``."""
    d, left = r.data, []
    t, big = d["times"], d["rms"][-1]
    for j, fit, color in ((0, None, PALETTE[0]), (d["k"], d["fit"], PALETTE[1])):
        tj = float(t[j])
        label = f"predicted $e^{{-{2 * tj:g}}} m^{{-1/2}}$" if j else r"predicted $m^{-1/2}$"
        law = dict(label=f"t = {tj:g}", fit=fit, color=color, predicted_label=label)
        left += figures.power_law(d["m"], d["rms"][:, j], predicted=lambda m, tj=tj: np.exp(-2 * tj) * m**-0.5, **law)
    right = [
        svgplot.Series(t, big, label=f"measured, m = {int(d['m'][-1]):.2e}", kind="points", color=PALETTE[0]),
        svgplot.Series(t, big[0] * np.exp(-2 * t), label=r"$e^{-2t}\times$ RMS at 0", color="#000", dashed=True),
    ]
    axes = [
        figures.power_law_axes(left, xlabel="neurons $m$", ylabel=r"RMS $W_i\cdot W_j$ (interfering pairs)"),
        svgplot.Axes(right, xlabel="time $t$", ylabel=r"RMS $W_i\cdot W_j$", ylog=True),
    ]
    return render(axes, width=9.0, height=3.2)


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
    ``deficit_ms`` (``deficit_draws`` draws each; a ``Theta(1/m)`` claim, :func:`~incidental.exact.rate_deficits`)."""
    W0, times = interfering_pair_weights(m, seed=seed), np.linspace(0.0, t_end, steps + 1)
    G0 = W0 @ W0.T
    g, kap = pair_overlap(G0, times), pair_cosine(G0, times)
    Gs = simulate_gram(G0, times, terms=INTERFERENCE, rtol=flow_rtol)
    ksim = Gs[:, 0, 1] / np.sqrt(Gs[:, 0, 0] * Gs[:, 1, 1])
    inv = (Gs[:, 0, 0] + Gs[:, 1, 1]) ** 2 - 4 * Gs[:, 0, 1] ** 2
    g_err, k_err = float(np.max(np.abs(Gs[:, 0, 1] - g)) / G0[0, 1]), float(np.max(np.abs(ksim - kap)) / kap[0])
    errors = dict(g_err=g_err, k_err=k_err, inv_err=float(np.max(np.abs(inv / inv[0] - 1))))
    late = float(-(np.log(kap[-1]) - np.log(kap[-3])) / (2 * (times[1] - times[0])))
    s0, c = float(G0[0, 0] + G0[1, 1]), pair_decay_rate(G0)
    deficits, m_arr = rate_deficits(deficit_ms, deficit_draws), np.asarray(deficit_ms, dtype=float)
    scan = dict(sizes=m_arr, values=deficits, predicted=-1.0, tolerance=exponent_tolerance, at=dict(m=deficit_ms))
    c_def, fit = CHECKS.deficit.exponent(**scan)
    declared = (CHECKS.pair_g, CHECKS.pair_kappa, CHECKS.pair_invariant)
    checks = [d.below(measured=e, bound=tolerance, scale=1.0) for d, e in zip(declared, errors.values())]
    checks += [CHECKS.pair_rate.close(predicted=c, measured=late, rtol=rate_rtol), c_def]
    ratio_end = float(kap[-1] / (kap[0] * np.exp(-s0 * t_end)))
    numbers = quotes(".1e", **errors) | quotes(".4f", late=late, c=c, s0=s0)
    numbers |= quotes(".3f", ratio_end=ratio_end, deficit_fit=fit, deficit_const=float(np.mean(m_arr * deficits)))
    numbers |= quotes("d", deficit_m_min=deficit_ms[0], deficit_m_max=deficit_ms[-1])
    data = dict(times=times, kappa=kap, kappa_sim=ksim, m=m_arr, deficits=deficits, fit=fit, s0=s0, c=c)
    return Result(checks=checks, numbers=numbers, data=data)


def two_encodings_figure(r: Result) -> Figure:
    """Left: the closed-form cosine (and the simulated one) over the note's. Right: the late-rate deficit
    against ``m``."""
    d = r.data
    t, note = d["times"], d["kappa"][0] * np.exp(-d["s0"] * d["times"])  # the note's kappa_0 e^{-(a_0+b_0)t}
    thin = slice(None, None, max(1, len(t) // 20))
    late = d["kappa"][-1] / note[-1] * np.exp((d["s0"] - d["c"]) * (t - t[-1]))
    left = [
        svgplot.Series(t, d["kappa"] / note, label="closed form (n = 2)", color=PALETTE[0]),
        svgplot.Series(t[thin], d["kappa_sim"][thin] / note[thin], label="simulated", kind="points", color=PALETTE[1]),
        svgplot.Series(t, late, label=r"late: $\propto e^{(s_0 - c)t}$", color="#000", dashed=True),
    ]
    deficit = dict(label=r"mean $1 - c/s_0$", fit=d["fit"], predicted=lambda m: 0.5 / m)
    right = figures.power_law(d["m"], d["deficits"], **deficit, predicted_label=r"predicted $1/(2m)$")
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
BAND = dict(bound=WIDGET_LEVEL, scale=1.0, level=WIDGET_LEVEL)  # both widgets' checks: within WIDGET_LEVEL


def widget_run(n: int, m: int, seed: int, time: float) -> tuple[Pairs, int, float, str]:
    """What both widgets start from: the flow to ``WIDGET_T_END`` pair by pair, the sample nearest ``time``,
    the drift strength ``x`` and the panel's note on the drift model's breakdown time."""
    traj, x = trajectory(n, m, seed, t_end=WIDGET_T_END, steps=WIDGET_STEPS), theory.drift_strength(n, m)
    note = (
        f"Population drift ν = (n−2)/√(2πm) = {x:.3f}; the drift model puts the population {WIDGET_LEVEL:.0%} off "
        f"at t* ≈ {theory.breakdown_time(x, WIDGET_LEVEL):.2f}."
    )
    return traj, int(np.argmin(np.abs(traj.times - float(time)))), x, note


def pair_axes(traj: Pairs, p: int, k: int, *, level: float = WIDGET_LEVEL) -> list[svgplot.Axes]:
    """One pair: ``|kappa(t)|`` against the note on a log scale, and the relative error
    (:func:`~incidental.figures.clipped_error`) with the drift model's ``t*`` (green)."""
    kap, pred, tt, t = traj.kappa[:, p], traj.prediction[:, p], traj.times, float(traj.times[k])
    size = np.abs(kap)
    lo = float(min(size[size > 0].min(), pred.min())) / 2
    hi = float(max(size.max(), pred.max())) * 30  # room for the legend above the curves
    course = figures.time_course(tt, size, pred, label="measured |κ(t)|", predicted_label="note: κ(0) e^{−∫(a+b)}")
    marked = svgplot.Series([t], [max(float(size[k]), lo)], kind="points", color=PALETTE[1])
    labels = dict(xlabel="time t", ylabel="|κ_ij|", title="the pair's cosine")
    cosine = svgplot.Axes([*course, marked], ylog=True, ylim=(lo, hi), vlines=[(t, "chosen t")], **labels)
    title = f"its error (dotted: ±{level:.0%}; green: t* of the drift model)"
    labels = dict(xlabel="time t", ylabel="κ / note − 1", title=title)
    error = figures.clipped_error(tt, kap / pred - 1.0, level=level, mark=k, **labels)
    t_star = theory.breakdown_time(theory.drift_strength(traj.run.n, traj.run.m), level)
    if t_star <= tt[-1]:
        error.series.append(svgplot.Series([t_star, t_star], list(error.ylim), color=PALETTE[2], dashed=True))
    return [cosine, error]


def pair_panel(n: int, m: int, pair: int, time: float, seed: int = 0) -> Panel:
    """One interfering pair: measured ``kappa(t)`` against the note's ``kappa(0) e^{-int(a+b)}``.

    ``pair`` counts the initially interfering pairs ``(i < j)`` in row order, from 1 (wraps around).
    """
    traj, k, _x, note = widget_run(n, m, seed, time)
    p = (int(pair) - 1) % traj.i.size
    t, ratio = float(traj.times[k]), float(traj.kappa[k, p]) / float(traj.prediction[k, p])
    parts, where = relative_rate_parts(traj.run.G0), dict(pair=(int(traj.i[p]), int(traj.j[p])))
    start, total = float(parts.first_order[p]), float(parts.total[p])
    checks = [CHECKS.pair_start.close(predicted=start, measured=total, rtol=WIDGET_LEVEL, at=where | dict(t=0.0))]
    checks.append(CHECKS.pair_note.below(measured=abs(ratio - 1.0), at=where | dict(t=round(t, 2)), **BAND))
    axes = pair_axes(traj, p, k)
    lo, hi = axes[1].ylim
    if not lo <= ratio - 1.0 <= hi:
        note += f" At t = {t:.2f} this pair's κ is {ratio:.3g} times the note's value, off the right panel's scale"
        note += " (marker at its edge)."
    crossed = traj.times[traj.kappa[:, p] <= 0]
    if crossed.size:
        note += f" This pair crosses zero at t ≈ {crossed[0]:.2f}; the ReLU then switches its interference off."
    return Panel(checks, svgplot.svg(axes), note)


def ensemble_panel(n: int, m: int, seed: int, time: float) -> Panel:
    """All interfering pairs of one draw: the median and 10-90% band of ``log(kappa/prediction)`` against time,
    the population's ``log A(t)`` and the drift model ``x f(t)``."""
    traj, k, x, note = widget_run(n, m, seed, time)
    t, (A, se), level = traj.times, traj.amplitude(), float(np.log1p(WIDGET_LEVEL))
    model, at = x * theory.drift_profile(t), dict(t=round(float(t[k]), 2), pairs=traj.i.size)
    drift = dict(predicted=float(model[k]), measured=float(np.log(A[k])))
    drift |= dict(rtol=0.25, atol=3 * float(se[k] / A[k]) + 1e-3)  # three standard errors of log A
    checks = [CHECKS.ensemble_median.below(measured=float(traj.median_deviation()[k]), at=at, **BAND)]
    checks.append(CHECKS.ensemble_drift.close(**drift, at=at))
    with np.errstate(invalid="ignore"):
        q = np.nanpercentile(traj.log_deviation, [10, 50, 90], axis=1)
    series = [
        *figures.time_course(t, q[1], label="median pair, 10–90% of pairs (band)", low=q[0], high=q[2]),
        svgplot.Series(t, np.log(A), label="population log Γ(t)", color=PALETTE[2]),
        svgplot.Series(t, model, label="drift model ν β(t)", color="#000", dashed=True),
    ]
    top, bottom = float(max(np.nanmax(q[2]), model.max(), level)), float(min(np.nanmin(q[0]), 0.0))
    ylim = (bottom - 0.05 * (top - bottom), top + 0.6 * (top - bottom))  # room for the legend above the curves
    lines = dict(hlines=[(level, f"{WIDGET_LEVEL:.0%} off")], vlines=[(float(t[k]), "chosen t")])
    axes = svgplot.Axes(series, xlabel="time t", ylabel="log(κ / κ(0)e^{−∫(a+b)})", ylim=ylim, **lines)
    note += f" Pairs that have reached zero by t: {traj.crossed_fraction()[k]:.2%}."
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
