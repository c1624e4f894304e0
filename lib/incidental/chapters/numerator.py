"""Chapter 2 (The numerator): the experiments of claims N1-N3 and the chapter's widgets.

The exact rate of ``G_ij = W_i . W_j`` under interference alone (:func:`incidental.numerator_rate`)
is a first-order term ``-ReLU(G_ij) (G_ii + G_jj)`` plus second-order terms from every third
encoding. The checks are declared once (:data:`CHECKS`); runners take their knobs as keywords
(validated by :func:`~incidental.book.runner`); figure builders return the figure (the caption is
in the notebook); flows are the shared runs of :func:`incidental.runs.phase`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from .. import figures, svgplot, theory
from ..book import Result, quote, quotes, runner
from ..checks import Interval, declarations
from ..derivation import interfering_pair_terms, numerator_first_order, numerator_rate, numerator_second_order
from ..explore import Control, Explorable, Panel
from ..flow import simulate, simulate_gram
from ..model import sample_gram, sample_weights
from ..plotting import render
from ..runs import INTERFERENCE, phase

Ints, Floats = tuple[int, ...], tuple[float, ...]
EXACT, FREE = svgplot.PALETTE[0], svgplot.PALETTE[1]
REF_R, REF_LATE, REF_ONE = svgplot.PALETTE[2], "#000000", "#999999"  # Fig. 2.7's reference lines

CHECKS = declarations("numerator")  # the check table: chapters/checks/numerator.yaml


# --- the pieces of the rate, pair by pair ----------------------------------------------------------

pair_terms = interfering_pair_terms  # the pieces of the rate over the interfering pairs of one G, by name


def seeds_for(n: int, pairs: int) -> int:
    """How many independent draws of ``n`` encodings give at least ``pairs`` pairs ``i < j``."""
    return max(1, int(np.ceil(pairs / (n * (n - 1) / 2))))


@lru_cache(maxsize=128)
def pooled_pair_terms(n: int, m: int, *, seed: int, pairs: int) -> dict[str, np.ndarray]:
    """:func:`pair_terms` pooled over Gram draws with seeds ``seed, seed+1, ...`` to about ``pairs`` pairs (cached)."""
    parts = [pair_terms(sample_gram(n, m, seed=seed + k)) for k in range(seeds_for(n, pairs))]
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def _thin(count: int | None, *arrays: np.ndarray) -> list[np.ndarray]:
    """Every k-th entry of each array, so that at most ``count`` are left (all if ``count`` is None)."""
    step = 1 if count is None else max(1, int(np.ceil(arrays[0].size / count)))
    return [array[::step] for array in arrays]


def _against(x: np.ndarray, y: np.ndarray, *, diagonal: str, **labels: str) -> svgplot.Axes:
    """Points ``(x, y)``, one per pair, against the line ``y = x`` (dashed)."""
    lo, hi = float(min(x.min(), y.min(), 0.0)), float(max(x.max(), y.max(), 0.0))
    line = svgplot.Series([lo, hi], [lo, hi], label=diagonal, color="#000", dashed=True)
    return svgplot.Axes([svgplot.Series(x, y, label="interfering pairs", kind="points"), line], **labels)


def _over(fn, ns, ms, **kw) -> np.ndarray:
    """``fn(n, m)`` over paired sizes."""
    return np.array([fn(int(n), int(m), **kw) for n, m in zip(ns, ms)])


# --- N1: the exact rate ------------------------------------------------------------------------


def decomposition_error(G: np.ndarray) -> float:
    """``max |first + second - rate| / max |rate|`` over all pairs of ``G`` (absolute if no pair interferes)."""
    rate = numerator_rate(G)
    error = np.max(np.abs(numerator_first_order(G) + numerator_second_order(G) - rate))
    return float(error / (np.max(np.abs(rate)) or 1.0))


def _fd_error(Gs: np.ndarray, h: float) -> float:
    off = ~np.eye(Gs.shape[1], dtype=bool)
    rate = numerator_rate(Gs[1])
    return float(np.max(np.abs((Gs[2] - Gs[0]) / (2 * h) - rate)[off]) / np.max(np.abs(rate)[off]))


@runner(min_lengths=dict(steps=3))
def exact_rate(
    *,
    sizes: tuple[tuple[int, int], ...],
    seed: int,
    n: int,
    m: int,
    t0: float,
    steps: Floats,
    split_tolerance: float,
    fd_tolerance: float,
    order_tolerance: float,
) -> Result:
    """N1: first + second order = the exact rate on Gram draws of each of ``sizes``, and = central differences
    of ``G_ij(t)`` at ``t0`` along the interference-only flow (Gram and weight space) for each of ``steps``."""
    if not all(0 < h <= t0 for h in steps):
        raise ValueError(f"steps must lie in (0, t0] = (0, {t0:g}], got {steps}")
    split = max(decomposition_error(sample_gram(a, b, seed=seed + k)) for k, (a, b) in enumerate(sizes))
    W0 = sample_weights(n, m, seed=seed)
    errors = {"Gram": [], "weight": []}
    for h in steps:
        times = [t0 - h, t0, t0 + h]
        errors["Gram"].append(_fd_error(simulate_gram(W0 @ W0.T, times, terms=INTERFERENCE), h))
        Ws = simulate(W0, times, terms=INTERFERENCE)
        errors["weight"].append(_fd_error(np.einsum("tim,tjm->tij", Ws, Ws), h))
    h, g_err, w_err = np.asarray(steps, dtype=float), np.asarray(errors["Gram"]), np.asarray(errors["weight"])
    order, fit = CHECKS.fd_order.exponent(sizes=h, values=g_err, predicted=2.0, tolerance=order_tolerance)
    checks = [CHECKS.split.below(measured=split, bound=split_tolerance, scale=1.0)]
    for flow, error in errors.items():
        checks.append(CHECKS.fd.below(measured=error[-1], bound=fd_tolerance, scale=1.0, at=dict(h=h[-1]), flow=flow))
    numbers = {**quotes(".1e", fd=g_err[-1], fd_w=w_err[-1]), **quotes(".0e", split=split, h=h[-1])}
    numbers.update(fit=quote(fit, ".3f"), draws=quote(len(sizes), "d"), m_max=quote(max(b for _, b in sizes), ".0e"))
    return Result(checks=[*checks, order], numbers=numbers, data=dict(steps=h, gram=g_err, weight=w_err, fit=fit))


def exact_rate_figure(r: Result) -> Figure:
    """Relative error of central differences against the step, both flows, with the fit and slope 2."""
    data, label = r.data, "slope 2 (truncation error)"
    steps, slope2 = data["steps"], lambda h: data["gram"][0] * (h / data["steps"][0]) ** 2
    gram = dict(label="Gram flow", fit=data["fit"], predicted=slope2, predicted_label=label)
    series = figures.power_law(steps, data["gram"], **gram)
    series += figures.power_law(steps, data["weight"], label="weight flow", color=FREE)
    axes = figures.power_law_axes(series, xlabel="finite-difference step $h$", ylabel="relative error")
    return render(axes, width=5.4, height=3.2)


def all_interfering_gap(n: int, m: int, *, seed: int) -> tuple[float, float]:
    """``(max |second(ReLU-free) - second(exact)|, max |second(exact)|)`` when every pair interferes (``W >= 0``)."""
    W = np.abs(sample_weights(n, m, seed=seed))
    exact = numerator_second_order(W @ W.T)
    return float(np.max(np.abs(numerator_second_order(W @ W.T, relu=False) - exact))), float(np.max(np.abs(exact)))


@runner
def relu_free(
    *, n: int, m: int, seed: int, pairs: int, rtol: float, gap_n: int, gap_m: int, gap_tolerance: float
) -> Result:
    """N1: the note's ReLU-free terms equal the exact ones when every pair interferes (``W >= 0``); at
    initialisation they differ by :func:`incidental.theory.relu_free_ratios` (about ``pairs`` pairs)."""
    gap, size = all_interfering_gap(gap_n, gap_m, seed=seed)
    exact, free = (pooled_pair_terms(n, m, seed=seed, pairs=pairs)[key] for key in ("second", "second_free"))
    measured = {
        "difference": _rms(free - exact) / _rms(exact),
        "size": _rms(free) / _rms(exact),
        "correlation": float(np.corrcoef(exact, free)[0, 1]),
    }
    pred = theory.relu_free_ratios()
    checks = [CHECKS.all_interfering.below(measured=gap, bound=gap_tolerance, scale=size)]
    checks += [CHECKS[f"relu_{key}"].close(predicted=pred[key], measured=x, rtol=rtol) for key, x in measured.items()]
    numbers = {"gap": quote(gap, ".0e"), "count": quote(exact.size, "d"), **quotes(".2f", **measured)}
    numbers.update(quotes(".2f", **{f"{key}_pred": x for key, x in pred.items()}))
    return Result(checks=checks, numbers=numbers, data=dict(exact=exact, free=free))


def relu_free_figure(r: Result) -> Figure:
    """The ReLU-free second-order term against the exact one (both times ``m``), one point per pair."""
    x, y = r.data["exact"] * r.params["m"], r.data["free"] * r.params["m"]
    labels = dict(xlabel=r"exact second order $\times\, m$", ylabel=r"ReLU-free second order $\times\, m$")
    return render(_against(x, y, diagonal="$y = x$", **labels), width=4.4, height=3.6)


# --- N2: the size of the second-order terms --------------------------------------------------------


VERSIONS = (("exact", "", True, "sqrt(3/8)"), ("ReLU-free", "_free", False, "1"))  # name, key, ReLUs, constant


def _ratio_scan(ns, ms, sizes, *, size: str, exponent: float, seed: int, pairs: int, tolerance: float, rtol: float):
    """The ratio ``r`` (both versions) along one scan: its exponent and constant checks, and its data."""
    pooled = lambda k, n, m: pooled_pair_terms(int(n), int(m), seed=seed + 1000 * k, pairs=pairs)
    ratio = lambda terms: [_rms(terms[key]) / _rms(terms["first"]) for key in ("second", "second_free")]
    ratios = np.array([ratio(pooled(k, n, m)) for k, (n, m) in enumerate(zip(ns, ms))]).T
    scale = np.sqrt((ns - 2) / ms)
    exponents, constants, data = [], [], dict(sizes=sizes)
    for (version, key, relu, constant), values in zip(VERSIONS, ratios):
        pred = _over(theory.second_order_ratio, ns, ms, relu=relu)
        fields = dict(size=size, version=version, power=f"{exponent:+g}")
        fit_exponent = CHECKS.ratio_exponent.exponent
        check, fit = fit_exponent(sizes=sizes, values=values, predicted=exponent, tolerance=tolerance, **fields)
        const, const_pred = float(np.mean(values / scale)), float(np.mean(pred / scale))
        exponents.append(check)
        close = CHECKS.ratio_constant.close
        constants.append(close(predicted=const_pred, measured=const, rtol=rtol, constant=constant, **fields))
        data.update({f"ratio{key}": values, f"predicted{key}": pred, f"fit{key}": fit})
        data.update({f"constant{key}": const, f"constant{key}_pred": const_pred})
    return exponents + constants, data


@runner(min_lengths=dict(ms=3, ns=3))
def second_order_scaling(
    *, n: int, ms: Ints, m: int, ns: Ints, seed: int, pairs: int, exponent_tolerance: float, constant_rtol: float
) -> Result:
    """N2: ``r = RMS(second)/RMS(first)`` at initialisation over ``ms`` at ``n`` and over ``ns`` at ``m``: exponents
    ``-1/2`` in ``m``, ``+1/2`` in ``n - 2``, constants of :func:`incidental.theory.second_order_ratio`."""
    common = dict(seed=seed, pairs=pairs, tolerance=exponent_tolerance, rtol=constant_rtol)
    m_arr, n_arr = np.asarray(ms), np.asarray(ns)
    c_m, d_m = _ratio_scan(np.full(len(ms), n), m_arr, m_arr.astype(float), size="m", exponent=-0.5, **common)
    c_n, d_n = _ratio_scan(n_arr, np.full(len(ns), m), n_arr - 2.0, size="n-2", exponent=0.5, **common)
    numbers = {**quotes("d", m_min=ms[0], n_min=ns[0], n_max=ns[-1]), **quotes(".2e", m_max=ms[-1], m_fixed=m)}
    numbers["const_pred"] = quote(d_m["constant_pred"], ".3f")
    numbers["const_free_pred"] = quote(d_m["constant_free_pred"], ".3g")
    for size, scan in (("m", d_m), ("n", d_n)):
        fits = {f"{size}_fit": scan["fit"], f"{size}_fit_free": scan["fit_free"]}
        constants = {f"{size}_const": scan["constant"], f"{size}_const_free": scan["constant_free"]}
        numbers.update(quotes(".3f", **fits, **constants))
    return Result(checks=c_m + c_n, numbers=numbers, data=dict(in_m=d_m, in_n=d_n))


def second_order_scaling_figure(r: Result) -> Figure:
    """``r`` against ``m`` and against ``n - 2``, both versions, with the derived lines."""
    axes = []
    for scan, xlabel in ((r.data["in_m"], "neurons $m$"), (r.data["in_n"], "third encodings $n-2$")):
        sizes, derived = scan["sizes"], figures.through(scan["sizes"], scan["predicted"])
        label, free = r"derived $\sqrt{3(n-2)/8m}$", r"derived $\sqrt{(n-2)/m}$"
        exact = dict(label="exact", fit=scan["fit"], predicted=derived, predicted_label=label)
        series = figures.power_law(sizes, scan["ratio"], **exact)
        series += figures.power_law(sizes, scan["ratio_free"], label="ReLU-free", fit=scan["fit_free"], color=FREE)
        series.append(svgplot.Series(sizes, scan["predicted_free"], label=free, color="#000", dashed=True))
        axes.append(figures.power_law_axes(series, xlabel=xlabel, ylabel="RMS second / RMS first"))
    return render(axes, width=9.2, height=3.4)


@runner
def conditional_mean(*, n: int, m: int, seed: int, draws: int, rtol: float, bins: int) -> Result:
    """N2: the slope of the second-order term on ``G_ij`` over all pairs of ``draws`` draws against
    :func:`incidental.theory.second_order_mean_slope` (the figure bins ``sqrt(m) G_ij`` in ``bins`` quantiles)."""
    if n < 3:
        raise ValueError(f"n must be at least 3 (a pair and a third encoding), got {n}")
    iu, parts = np.triu_indices(n, k=1), []
    for k in range(draws):
        G = sample_gram(n, m, seed=seed + k)
        parts.append((G[iu], numerator_second_order(G)[iu], numerator_second_order(G, relu=False)[iu]))
    overlap, second, free = (np.concatenate(part) for part in zip(*parts))
    slope, slope_f = (float(overlap @ y / (overlap @ overlap)) for y in (second, free))
    pred, pred_f = theory.second_order_mean_slope(n, m), theory.second_order_mean_slope(n, m, relu=False)
    versions = ((slope, pred, "-(n-2)", "exact"), (slope_f, pred_f, "-2(n-2)", "ReLU-free"))
    checks = [
        CHECKS.mean_slope.close(measured=measured, predicted=predicted, rtol=rtol, mean=mean, version=version)
        for measured, predicted, mean, version in versions
    ]
    x = overlap * np.sqrt(m)
    edges = np.quantile(x, np.linspace(0.02, 0.98, bins + 1))
    binned = lambda y: stats.binned_statistic(x, y, bins=edges).statistic
    unit = m**1.5 / (n - 2)  # E[second | G_ij] * unit = (slope * m / (n-2)) * sqrt(m) G_ij
    numbers = quotes(".4f", slope=slope, slope_pred=pred, slope_free=slope_f, slope_free_pred=pred_f)
    numbers.update(quotes(".3f", bias=theory.second_order_mean_bias(n, m), fluct=theory.second_order_ratio(n, m)))
    numbers["count"] = quote(overlap.size, "d")
    data = dict(centre=binned(x), mean=binned(second) * unit, mean_free=binned(free) * unit, edges=edges)
    data.update(unit_slope=pred * m / (n - 2), unit_slope_free=pred_f * m / (n - 2))
    return Result(checks=checks, numbers=numbers, data=data)


def conditional_mean_figure(r: Result) -> Figure:
    """Binned means of the second-order terms against ``sqrt(m) G_ij`` with the exact conditional means."""
    data = r.data
    grid = np.linspace(data["edges"][0], data["edges"][-1], 10)
    series = [
        svgplot.Series(data["centre"], data["mean"], label="exact (binned mean)", kind="points", color=EXACT),
        svgplot.Series(data["centre"], data["mean_free"], label="ReLU-free (binned mean)", kind="points", color=FREE),
        svgplot.Series(grid, data["unit_slope"] * grid, label="$-(n-2)G_{ij}/m$", color="#000"),
        svgplot.Series(grid, data["unit_slope_free"] * grid, label="$-2(n-2)G_{ij}/m$", color="#000", dashed=True),
    ]
    axes = svgplot.Axes(series, xlabel=r"$\sqrt{m}\,G_{ij}$", ylabel=r"mean second order $\times\, m^{3/2}/(n-2)$")
    return render(axes, width=5.0, height=3.3)


# --- N3 at initialisation: the error of the first-order rate, pair by pair --------------------------


@runner
def error_law(
    *,
    n: int,
    m: int,
    seed: int,
    pairs: int,
    tolerance: float,
    median_sigmas: float,
    ks_bound: float,
    fraction_atol: float,
) -> Result:
    """N3 (a): the relative error ``|S/F|`` of the first-order rate at initialisation against the half-Cauchy law
    of scale ``r``: median, Kolmogorov distance, and the fraction of pairs off by more than ``tolerance``."""
    terms = pooled_pair_terms(n, m, seed=seed, pairs=pairs)
    eps, r = terms["relative_error"], theory.second_order_ratio(n, m)
    median = float(np.median(eps))
    ks = float(stats.kstest(eps / r, lambda x: 1.0 - theory.half_cauchy_exceedance(x, 1.0)).statistic)
    above, above_pred = float(np.mean(eps > tolerance)), float(theory.half_cauchy_exceedance(tolerance, r))
    se = theory.half_cauchy_median_se(r, eps.size)
    checks = [
        CHECKS.median.close(predicted=r, measured=median, atol=median_sigmas * se),
        CHECKS.half_cauchy.below(measured=ks, bound=ks_bound, scale=1.0),
        CHECKS.fraction.close(predicted=above_pred, measured=above, atol=fraction_atol, tolerance=tolerance),
    ]
    numbers = {**quotes(".4f", median=median, r=r), **quotes(".3f", ks=ks, above=above, above_pred=above_pred)}
    numbers.update(quotes(".0f", above_pct=100 * above, tolerance_pct=100 * tolerance), count=quote(eps.size, "d"))
    data = dict(scaled_overlap=np.sqrt(m) * terms["overlap"], error=eps, r=r)
    return Result(checks=checks, numbers=numbers, data=data)


def pair_error_axes(
    scaled_overlap: np.ndarray, error: np.ndarray, r: float, tolerance: float, *, shown: int | None = None
) -> svgplot.Axes:
    """Per-pair relative error against ``sqrt(m) G_ij``, its predicted size ``r / (sqrt(m) G_ij)`` and the tolerance."""
    overlap, error = _thin(shown, scaled_overlap, error)
    grid = np.geomspace(max(float(overlap.min()), 1e-4), float(overlap.max()), 40)
    lo, hi = float(np.min(error[error > 0], initial=tolerance)), float(max(np.max(error), tolerance))
    predicted = svgplot.Series(grid, r / grid, label=r"predicted $r/(\sqrt{m}\,G_{ij})$", color="#000", dashed=True)
    labels = dict(xlabel=r"$\sqrt{m}\,G_{ij}$", ylabel=r"relative error $|S_{ij}/F_{ij}|$", xlog=True, ylog=True)
    ylim = (lo / 2, hi * (hi / lo) ** 0.4)  # room above the cloud for the legend
    points = svgplot.Series(overlap, error, label="interfering pairs", kind="points")
    hlines = [(tolerance, f"{100 * tolerance:.0f}% tolerance")]
    return svgplot.Axes([points, predicted], hlines=hlines, ylim=ylim, **labels)


def error_law_figure(r: Result) -> Figure:
    """The per-pair error against the overlap, and its survival function against the half-Cauchy law."""
    data = r.data
    x, surv = figures.survival(data["error"] / data["r"])
    x, surv = x[(x >= 1e-2) & (x <= 1e2)], surv[(x >= 1e-2) & (x <= 1e2)]
    cauchy = theory.half_cauchy_exceedance(x, 1.0)
    law = [svgplot.Series(x, surv, label="measured", color=EXACT)]
    law.append(svgplot.Series(x, cauchy, label="half-Cauchy law", color="#000", dashed=True))
    labels = dict(xlabel=r"error level $x / r$", ylabel=r"fraction with $|S_{ij}/F_{ij}| > x$", xlog=True, ylog=True)
    pairs = pair_error_axes(data["scaled_overlap"], data["error"], data["r"], r.params["tolerance"])
    return render([pairs, svgplot.Axes(law, **labels)], width=9.2, height=3.4)


@runner
def breakdown(
    *, ns: Ints, ms: Ints, seed: int, pairs: int, tolerance: float, small_load: float, deviation_bound: float
) -> Result:
    """N3 (a) over ``ns x ms`` (``m >= n``): the median relative error follows ``sqrt(3(n-2)/(8m))`` within
    ``deviation_bound`` where ``(n-2)/m <= small_load``."""
    rows = [(n, m) for n in ns for m in ms if m >= n]
    n_arr, m_arr = np.array([n for n, _ in rows]), np.array([m for _, m in rows])
    load = (n_arr - 2) / m_arr
    small = load <= small_load
    if not small.any():
        raise ValueError(f"small_load = {small_load:g} leaves no setting (n, m) of ns x ms with m >= n to check")
    pooled = lambda k, n, m: pooled_pair_terms(n, m, seed=seed + 97 * k, pairs=pairs)["relative_error"]
    med = np.array([float(np.median(pooled(k, n, m))) for k, (n, m) in enumerate(rows)])
    pred = _over(theory.second_order_ratio, n_arr, m_arr)
    deviation = float(np.max(np.abs(med / pred - 1)[small]))
    checks = [CHECKS.across_grid.below(measured=deviation, bound=deviation_bound, scale=1.0, small_load=small_load)]
    top = int(np.argmax(load))
    numbers = {"load_tol": quote(theory.load_at_median_error(tolerance), ".3f"), "top_load": quote(load[top], ".2g")}
    numbers.update(quotes(".2f", deviation=deviation, top_ratio=med[top] / pred[top]))
    numbers.update(quotes("d", settings=len(rows), m_min=ms[0], m_max=ms[-1]))
    numbers["tolerance_pct"] = quote(100 * tolerance, ".0f")
    return Result(checks=checks, numbers=numbers, data=dict(n=n_arr, m=m_arr, load=load, median=med, predicted=pred))


def breakdown_figure(r: Result) -> Figure:
    """Median error against ``(n-2)/m`` for every setting, with the derived curve and the tolerance."""
    data, palette = r.data, svgplot.PALETTE
    series = []
    for k, features in enumerate(r.params["ns"]):
        sel, label, color = data["n"] == features, f"n = {features}", palette[k % len(palette)]
        series.append(svgplot.Series(data["load"][sel], data["median"][sel], label=label, kind="points", color=color))
    grid = np.geomspace(data["load"].min(), data["load"].max(), 40)
    line = figures.through(data["load"], data["predicted"])(grid)
    series.append(svgplot.Series(grid, line, label=r"derived $\sqrt{3(n-2)/8m}$", color="#000"))
    load_tol, tol = float(r.q.load_tol), r.params["tolerance"]
    lines = dict(hlines=[(tol, f"{100 * tol:.0f}% tolerance")], vlines=[(load_tol, f"(n-2)/m = {load_tol:.3f}")])
    axes = svgplot.Axes(series, xlabel="load $(n-2)/m$", ylabel="median relative error", xlog=True, ylog=True, **lines)
    return render(axes, width=5.6, height=3.4)


# --- N3 late along the flow: a thin view over the shared interference-phase run ---------------------


@lru_cache(maxsize=64)
def flow_stats(n: int, m: int, seed: int, t_end: float, points: int, rtol: float) -> dict[str, np.ndarray]:
    """A view of :func:`incidental.runs.phase` (cached): at each time, the quartiles of ``|S/F|`` (exact, ReLU-free)
    over the interfering pairs, the collective rate ``-d/dt log ||ReLU(offdiag G)||`` and the pair terms."""
    run = phase(n, m, seed, flow="interference", t_end=t_end, rtol=rtol, count=points)
    terms = [pair_terms(G) for G in run.G]
    quartiles = lambda key: np.array([np.quantile(at_t[key], (0.25, 0.5, 0.75)) for at_t in terms]).T
    iu = np.triu_indices(n, k=1)
    log_norm = np.log([np.linalg.norm(np.maximum(G[iu], 0.0)) for G in run.G])
    out = dict(times=run.times, exact=quartiles("relative_error"), free=quartiles("relative_error_free"), terms=terms)
    return {**out, "collective": -np.gradient(log_norm, run.times)}


@runner
def late_flow(
    *,
    n: int,
    m: int,
    seed: int,
    t_end: float,
    points: int,
    rtol: float,
    settle_bound: float,
    rate_rtol: float,
    free_rtol: float,
) -> Result:
    """N3 (b) along the interference-only flow: the median error settles, the interfering overlaps decay together
    (:func:`incidental.theory.late_collective_rate`), the note's ReLU-free terms overtake the first-order term."""
    if points < 3:
        raise ValueError(f"points must be at least 3 (a second half of the run), got {points}")
    flow = flow_stats(n, m, seed, t_end, points, rtol)
    times, (q1, med, q3), med_free = flow["times"], flow["exact"], flow["free"][1]
    late = times >= t_end / 2
    above = np.flatnonzero(med_free >= 1.0)
    cross = float(times[above[0]]) if above.size else float("inf")
    free_late = float(np.mean(flow["terms"][-1]["second_free"]))
    pred_err, pred_rate = theory.late_first_order_error(n, m), theory.late_collective_rate(n, m)
    pred_free, at = theory.late_relu_free_second_order(n, m), dict(t=f"{t_end / 2:g}..{t_end:g}")
    checks = [
        CHECKS.settles.below(measured=float(np.max(med[late]) / np.min(med[late])), bound=settle_bound, at=at),
        CHECKS.collective.close(measured=float(flow["collective"][-1]), predicted=pred_rate, rtol=rate_rtol, at=at),
        CHECKS.overtake.below(measured=float(1.0 / med_free[-1]), bound=1.0, at=at),
        CHECKS.free_late.close(measured=free_late, predicted=pred_free, rtol=free_rtol, at=at),
    ]
    narrower = (q3[-1] - q1[-1]) / med[-1] < (q3[0] - q1[0]) / med[0]
    start, end = Interval(med[0], q1[0], q3[0]), Interval(med[-1], q1[-1], q3[-1])
    numbers = quotes(".3f", start=start, end=end, peak=np.max(med), r=theory.second_order_ratio(n, m), pred=pred_err)
    numbers.update(quotes(".3f", rate=flow["collective"][-1], rate_pred=pred_rate))
    numbers.update(quotes(".2e", free=free_late, free_pred=pred_free), cross=quote(cross, ".2f"))
    numbers["quartiles"] = quote("close in" if narrower else "do not close in")
    return Result(checks=checks, numbers=numbers, data=dict(stats=flow, pred=pred_err))


def flow_axes(flow: dict, n: int, m: int, *, mark: float | None = None) -> svgplot.Axes:
    """Median and quartiles of ``|S/F|`` along the flow, exact and ReLU-free, with ``r`` and the late prediction."""
    series = []
    for key, label, color in (("exact", "exact", EXACT), ("free", "ReLU-free", FREE)):
        q1, med, q3 = flow[key]
        label = f"{label}: median, quartiles"
        series += figures.time_course(flow["times"], med, label=label, low=q1, high=q3, color=color)
    r, late = theory.second_order_ratio(n, m), theory.late_first_order_error(n, m)
    # The ReLU-free ratio grows without bound: cut the axis a decade above 1 so that the exact
    # median (the message) keeps most of the height.
    low = 0.5 * float(np.nanmin(np.concatenate([flow["exact"][0], [r, late]])))
    # The three reference levels, each in its own colour and pattern (one dotted grey could not be told apart).
    span = [float(flow["times"][0]), float(flow["times"][-1])]
    refs = [(r, f"r = {r:.3f} (t = 0)", REF_R, True), (late, f"late prediction {late:.3f}", REF_LATE, True)]
    for value, label, color, dashed in [*refs, (1.0, "ratio 1", REF_ONE, False)]:
        series.append(svgplot.Series(span, [value, value], label=label, color=color, dashed=dashed))
    lines = dict(vlines=[(mark, "")] if mark is not None else [])
    return svgplot.Axes(series, xlabel="time $t$", ylabel="|second| / |first|", ylog=True, ylim=(low, 10.0), **lines)


def late_flow_figure(r: Result) -> Figure:
    """The error of the first-order rate along the flow."""
    return render(flow_axes(r.data["stats"], r.params["n"], r.params["m"]), width=6.4, height=3.6)


def _late_scan(ns: np.ndarray, ms: np.ndarray, *, seed: int, t_end: float, pairs: int, rtol: float) -> dict:
    """The median error at ``t = 0`` and at ``t_end`` for each ``(n, m)``, pooled over seeds."""
    run = lambda n, m, k: phase(n, m, seed + k, flow="interference", t_end=t_end, rtol=rtol, count=2).G
    ends = [[run(n, m, k) for k in range(seeds_for(n, pairs))] for n, m in zip(ns.tolist(), ms.tolist())]
    median = lambda Gs, t: float(np.median(np.concatenate([pair_terms(G[t])["relative_error"] for G in Gs])))
    init, late = np.array([[median(Gs, 0), median(Gs, -1)] for Gs in ends]).T
    pred_init, pred_late = _over(theory.second_order_ratio, ns, ms), _over(theory.late_first_order_error, ns, ms)
    return dict(late=late, init=init, pred_late=pred_late, pred_init=pred_init)


@runner(min_lengths=dict(ns=3, ms=3))
def late_scaling(
    *,
    m: int,
    ns: Ints,
    n: int,
    ms: Ints,
    seed: int,
    t_end: float,
    pairs: int,
    rtol: float,
    exponent_tolerance: float,
    late_rtol: float,
) -> Result:
    """N3 (b): the median error at ``t_end`` over ``ns`` at ``m`` and ``ms`` at ``n``: exponents ``+1`` in ``n - 2``,
    ``-1/2`` in ``m``, and the value at the largest ``n`` (:func:`incidental.theory.late_first_order_error`)."""
    if min(ns) < 3:
        raise ValueError(f"ns must be at least 3 (a pair and a third encoding), got {ns}")
    n_arr, m_arr = np.asarray(ns), np.asarray(ms)
    d_n = _late_scan(n_arr, np.full(len(ns), m), seed=seed, t_end=t_end, pairs=pairs, rtol=rtol)
    d_m = _late_scan(np.full(len(ms), n), m_arr, seed=seed, t_end=t_end, pairs=pairs, rtol=rtol)
    d_n["sizes"], d_m["sizes"] = (n_arr - 2).astype(float), m_arr.astype(float)
    common = dict(tolerance=exponent_tolerance, t_end=t_end)
    c_n, d_n["fit"] = CHECKS.late_in_n.exponent(sizes=d_n["sizes"], values=d_n["late"], predicted=1.0, **common)
    c_m, d_m["fit"] = CHECKS.late_in_m.exponent(sizes=d_m["sizes"], values=d_m["late"], predicted=-0.5, **common)
    big = int(np.argmax(n_arr))
    measured, predicted = float(d_n["late"][big]), float(d_n["pred_late"][big])
    c_val = CHECKS.late_value.close(measured=measured, predicted=predicted, rtol=late_rtol, at=dict(n=ns[big]))
    ratio = d_n["late"] / d_n["pred_late"]
    numbers = quotes(".2f", n_fit=d_n["fit"], m_fit=d_m["fit"], ratio_small=ratio[0], ratio_large=ratio[-1])
    numbers.update(quotes("d", n_small=ns[0], n_large=ns[-1], interfering=pairs // 2))
    numbers["noise_pct"] = quote(100 * theory.half_cauchy_median_se(1.0, max(pairs // 2, 1)), ".0f")
    return Result(checks=[c_n, c_m, c_val], numbers=numbers, data=dict(in_n=d_n, in_m=d_m))


def late_scaling_figure(r: Result) -> Figure:
    """Median error at ``t = 0`` and late against ``n - 2`` and against ``m``."""
    axes = []
    for scan, xlabel in ((r.data["in_n"], "third encodings $n-2$"), (r.data["in_m"], "neurons $m$")):
        sizes, late = scan["sizes"], figures.through(scan["sizes"], scan["pred_late"])
        label, init = r"late: $(n-2)/2\sqrt{2\pi m}$", r"t = 0: $\sqrt{3(n-2)/8m}$"
        measured = dict(label="late", fit=scan["fit"], predicted=late, predicted_label=label)
        series = figures.power_law(sizes, scan["late"], **measured)
        series.append(svgplot.Series(sizes, scan["init"], label="t = 0 (measured)", kind="points", color=FREE))
        series.append(svgplot.Series(sizes, scan["pred_init"], label=init, color="#000", dashed=True))
        axes.append(figures.power_law_axes(series, xlabel=xlabel, ylabel="median relative error"))
    return render(axes, width=9.2, height=3.4)


# --- widgets (the notebook's widget cells set the grids of the rendered book) ----------------------

MAX_POINTS = 400  # points per scatter in a widget panel (keeps each SVG a few tens of kB)
FLOW = dict(t_end=8.0, points=33, rtol=1e-11)  # the flow of the second widget (times on a 0.25 grid)


def initial_panel(n: int, m: int, seed: int, tolerance: float = 0.1) -> Panel:
    """Widget panel (N3 at initialisation): exact against first-order rate, and the error against ``sqrt(m) G_ij``."""
    terms, r = pooled_pair_terms(n, m, seed=seed, pairs=1), theory.second_order_ratio(n, m)
    eps, interfering = terms["relative_error"], dict(interfering=terms["relative_error"].size)
    median, atol = float(np.median(eps)), 4 * theory.half_cauchy_median_se(r, max(eps.size, 1))
    checks = [
        CHECKS.median.close(predicted=r, measured=median, atol=atol, rtol=(n - 2) / m, at=interfering),
        CHECKS.typical.below(measured=median, bound=tolerance, scale=1.0, tolerance=tolerance, at=interfering),
    ]
    first, rate = _thin(MAX_POINTS, terms["first"] * np.sqrt(m), terms["rate"] * np.sqrt(m))
    labels = dict(diagonal="y = x (first order exact)", xlabel="first-order rate × √m", ylabel="exact rate × √m")
    rates = _against(first, rate, **labels)
    errors = pair_error_axes(np.sqrt(m) * terms["overlap"], eps, r, tolerance, shown=MAX_POINTS)
    return Panel(checks, svgplot.svg([rates, errors], width=720, height=250))


def initial_explorable() -> Explorable:
    """Widget: sizes and seed against the first-order rate at initialisation (N3)."""
    controls = [
        Control("n", "features n", (8, 32), 32, kind="size", low=4, high=256),
        Control("m", "neurons m", (256, 4096), 4096, kind="size", low=256, high=2**20),
        Control("seed", "seed", (0, 1), 0, low=0, high=99),
    ]
    title = "First-order rate of W_i·W_j at initialisation: predicted against exact"
    return Explorable(initial_panel, controls, title=title)


def relative_rate_axes(rates: np.ndarray, n: int, m: int, t: float) -> svgplot.Axes:
    """Histogram of the relative rates ``(dG_ij/dt)/G_ij`` at ``t`` against ``-2`` and the late rate, on limits a
    heavy tail cannot stretch (the share cut off is in the legend)."""
    late = -theory.late_collective_rate(n, m)
    lo, hi = figures.robust_limits(rates, include=(-2.0, late))
    inside = (rates >= lo) & (rates <= hi)
    heights, edges = np.histogram(rates[inside], bins=30, range=(lo, hi))
    heights = heights / max(rates.size, 1) / np.diff(edges)
    shown = f"exact relative rate ({100 * np.mean(~inside):.0f}% of pairs off the axis)"
    ylim = (0.0, 1.7 * float(heights.max(initial=1e-9)))  # room for the legend
    vlines = [(-2.0, "first order ≈ -2"), (late, f"late: -(2 - (n-2)/√(2πm)) = {late:.2f}")]
    series = [svgplot.Series(edges, heights, kind="steps", label=shown)]
    xlabel = f"(dG_ij/dt)/G_ij at t = {t:g}"
    return svgplot.Axes(series, xlabel=xlabel, ylabel="density", xlim=(lo, hi), ylim=ylim, vlines=vlines)


def flow_panel(t: float, n: int, m: int, seed: int = 0, tolerance: float = 0.1) -> Panel:
    """Widget panel (N3 along the flow): ``|S/F|`` over time (``t`` marked), and the relative rates at ``t``."""
    flow = flow_stats(n, m, seed, FLOW["t_end"], FLOW["points"], FLOW["rtol"])
    k = int(np.argmin(np.abs(flow["times"] - t)))
    tk = float(flow["times"][k])
    at = dict(t=tk, seed=seed)  # the output time nearest t
    checks = [
        CHECKS.typical.below(
            measured=float(flow["exact"][1][k]), bound=tolerance, scale=1.0, tolerance=tolerance, at=at
        ),
        CHECKS.free_below.below(measured=float(flow["free"][1][k]), bound=1.0, at=at),
    ]
    r, late = theory.second_order_ratio(n, m), theory.late_first_order_error(n, m)
    note = f"Predicted median error: r = sqrt(3(n-2)/(8m)) = {r:.3g} at t = 0, "
    note += f"settling late at (n-2)/(2 sqrt(2 pi m)) = {late:.3g}."
    hist = relative_rate_axes(flow["terms"][k]["relative_rate"], n, m, tk)
    plot = svgplot.svg([flow_axes(flow, n, m, mark=tk), hist], width=720, height=250)
    return Panel(checks, plot, note)


def flow_explorable() -> Explorable:
    """Widget: time along the interference flow, and sizes, against the first-order rate (N3)."""
    controls = [
        Control("t", "time t", (0.0, 1.0), 1.0, kind="float", low=0.0, high=FLOW["t_end"], step=0.25),
        Control("n", "features n", (16, 64), 16, kind="size", low=4, high=64),
        Control("m", "neurons m", (1024, 16384), 1024, kind="size", low=1024, high=2**16),
    ]
    return Explorable(flow_panel, controls, title="First-order rate along the interference flow")


def explorables() -> dict[str, Explorable]:
    """Fresh explorables of this chapter, by name (the notebook's widget cells set the rendered grids)."""
    return {"initial": initial_explorable(), "flow": flow_explorable()}
