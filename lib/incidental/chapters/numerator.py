"""Chapter 2 (The numerator): the experiments of claims N1-N3 and the chapter's widgets.

How interference alone changes the overlap ``G_ij = W_i . W_j`` of two encodings: its exact rate
(:func:`incidental.numerator_rate`) is a first-order term ``-ReLU(G_ij) (G_ii + G_jj)`` plus
second-order terms from every third encoding. Every runner takes all its knobs as keyword
arguments (the notebook sets them in visible cells) and returns a :class:`~incidental.book.Result`;
every figure builder returns ``(figure, caption)``, the caption built from the result. The
formulas the experiments compare against live in :mod:`incidental.theory`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from .. import _validate as v
from .. import figures, svgplot, theory
from ..book import Result, quote
from ..checks import check_below, check_close, check_exponent
from ..derivation import interfering_pair_terms, numerator_first_order, numerator_rate, numerator_second_order
from ..explore import Control, Explorable, Panel
from ..flow import simulate, simulate_gram
from ..model import sample_gram, sample_weights
from ..plotting import render

INTERFERENCE = ("interference",)
EXACT, FREE = svgplot.PALETTE[0], svgplot.PALETTE[1]


# --- the pieces of the rate, pair by pair ----------------------------------------------------------

pair_terms = interfering_pair_terms  # the pieces of the rate over the interfering pairs of one G, by name


def seeds_for(n: int, pairs: int) -> int:
    """How many independent draws of ``n`` encodings give at least ``pairs`` pairs ``i < j``."""
    return max(1, int(np.ceil(pairs / (n * (n - 1) / 2))))


def pooled_pair_terms(n: int, m: int, *, seed: int, pairs: int) -> dict[str, np.ndarray]:
    """:func:`pair_terms` pooled over Gram draws with seeds ``seed, seed+1, ...`` until about ``pairs`` pairs."""
    parts = [pair_terms(sample_gram(n, m, seed=seed + k)) for k in range(seeds_for(n, pairs))]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def _thin(count: int | None, *arrays: np.ndarray) -> list[np.ndarray]:
    """Every k-th entry of each array, so that at most ``count`` are left (all if ``count`` is None)."""
    step = 1 if count is None else max(1, int(np.ceil(arrays[0].size / count)))
    return [a[::step] for a in arrays]


def _static(axes: svgplot.Axes | list[svgplot.Axes], **size: float) -> Figure:
    return render(axes, **size)


# --- N1: the exact rate ------------------------------------------------------------------------


def decomposition_error(G: np.ndarray) -> float:
    """``max |first + second - rate| / max |rate|`` over all pairs of ``G`` (a float; round-off). When no
    pair interferes the rate is 0 and the error is absolute."""
    total = numerator_first_order(G) + numerator_second_order(G)
    rate = numerator_rate(G)
    return float(np.max(np.abs(total - rate)) / (np.max(np.abs(rate)) or 1.0))


def _fd_error(Gs: np.ndarray, h: float) -> float:
    off = ~np.eye(Gs.shape[1], dtype=bool)
    fd = (Gs[2] - Gs[0]) / (2 * h)
    rate = numerator_rate(Gs[1])
    return float(np.max(np.abs(fd - rate)[off]) / np.max(np.abs(rate)[off]))


def exact_rate(
    *,
    sizes: tuple[tuple[int, int], ...],
    seed: int,
    n: int,
    m: int,
    t0: float,
    steps: tuple[float, ...],
    split_tolerance: float,
    fd_tolerance: float,
    order_tolerance: float,
) -> Result:
    """N1, the identity: first + second order = the exact rate on Gram draws of every ``(n, m)`` in
    ``sizes`` (to ``split_tolerance``); and the rate = central differences of ``G_ij(t)`` at ``t0``
    along the interference-only flow from ``sample_weights(n, m, seed)``, simulated in Gram space and
    in weight space, for each step in ``steps`` (to ``fd_tolerance`` at the smallest; error ∝ h^2)."""
    split = max(decomposition_error(sample_gram(a, b, seed=seed + k)) for k, (a, b) in enumerate(sizes))
    W0 = sample_weights(n, m, seed=seed)
    gram_err, weight_err = [], []
    for h in steps:
        times = [t0 - h, t0, t0 + h]
        gram_err.append(_fd_error(simulate_gram(W0 @ W0.T, times, terms=INTERFERENCE), h))
        Ws = simulate(W0, times, terms=INTERFERENCE)
        weight_err.append(_fd_error(np.einsum("tim,tjm->tij", Ws, Ws), h))
    h_arr, g_err, w_err = np.asarray(steps, dtype=float), np.asarray(gram_err), np.asarray(weight_err)
    params = dict(
        sizes=tuple(sizes),
        seed=seed,
        n=n,
        m=m,
        t0=t0,
        steps=tuple(steps),
        split_tolerance=split_tolerance,
        fd_tolerance=fd_tolerance,
        order_tolerance=order_tolerance,
    )
    fd_regime = f"n={n}, m={m}, t0={t0:g}, interference only"
    order_check, fit = check_exponent(
        "N1",
        "central-difference error ∝ h^2 (the rate is the derivative)",
        sizes=h_arr,
        values=g_err,
        predicted=2.0,
        regime=fd_regime,
        tolerance=order_tolerance,
    )
    checks = [
        check_below(
            "N1",
            "first order + second order (with ReLUs) = exact rate",
            measured=split,
            bound=split_tolerance,
            regime="; ".join(f"n={a}, m={b:g}" for a, b in sizes),
            quantity="rel. error",
            kind="identity",
        ),
        check_below(
            "N1",
            "exact rate = central difference of G_ij(t), Gram flow",
            measured=float(g_err[-1]),
            bound=fd_tolerance,
            regime=f"{fd_regime}, h={h_arr[-1]:g}",
            quantity="rel. error",
            kind="identity",
        ),
        check_below(
            "N1",
            "exact rate = central difference of G_ij(t), weight flow",
            measured=float(w_err[-1]),
            bound=fd_tolerance,
            regime=f"{fd_regime}, h={h_arr[-1]:g}",
            quantity="rel. error",
            kind="identity",
        ),
        order_check,
    ]
    numbers = {
        "split": quote(split, ".0e"),
        "fd": quote(g_err[-1], ".1e"),
        "fd_w": quote(w_err[-1], ".1e"),
        "h": quote(h_arr[-1], ".0e"),
        "order": quote(fit.exponent, ".3f"),
        "draws": quote(len(sizes), "d"),
        "m_max": quote(max(b for _, b in sizes), ".0e"),
    }
    return Result(params, checks, numbers, dict(steps=h_arr, gram_error=g_err, weight_error=w_err, fit=fit))


def exact_rate_axes(r: Result) -> svgplot.Axes:
    """Relative error of central differences against the step, both flows, with the fit and slope 2."""
    d = r.data
    series = [
        *figures.power_law(
            d["steps"],
            d["gram_error"],
            label="Gram flow",
            fit=d["fit"],
            predicted=lambda h: d["gram_error"][0] * (h / d["steps"][0]) ** 2,
            predicted_label="slope 2 (truncation error)",
        ),
        *figures.power_law(d["steps"], d["weight_error"], label="weight flow", color=FREE),
    ]
    return figures.power_law_axes(series, xlabel="finite-difference step $h$", ylabel="relative error")


def exact_rate_figure(r: Result) -> tuple[Figure, str]:
    """The finite-difference check as a figure; caption from ``r``."""
    p = r.params
    caption = (
        f"Central differences of $G_{{ij}}(t)$ at $t = {p['t0']:g}$ along the interference-only flow "
        f"($n = {p['n']}$, $m = {p['m']}$, seed {p['seed']}) against the exact rate $F_{{ij}} + S_{{ij}}$, "
        f"largest relative error over all pairs. Along both flows (Gram space, blue; weight space, red, on "
        f"top of it) the error falls with fitted exponent {r.q.order} in the step $h$: the $h^2$ truncation "
        f"error of a central difference, so the formula is the derivative."
    )
    return _static(exact_rate_axes(r), width=5.4, height=3.2), caption


def all_interfering_gap(n: int, m: int, *, seed: int) -> float:
    """Largest ``|second(ReLU-free) - second(exact)|`` when every pair interferes (``W`` made entrywise
    non-negative, so every ``G_ij > 0``): 0 up to round-off."""
    W = np.abs(sample_weights(n, m, seed=seed))
    G = W @ W.T
    return float(np.max(np.abs(numerator_second_order(G, relu=False) - numerator_second_order(G))))


def relu_free(
    *, n: int, m: int, seed: int, pairs: int, rtol: float, gap_n: int, gap_m: int, gap_tolerance: float
) -> Result:
    """N1, the note's ReLU-free second-order terms: equal to the exact ones when every pair interferes
    (``gap_n`` encodings in ``R^gap_m`` with ``W >= 0``, to ``gap_tolerance``); at initialisation, over
    the interfering pairs among about ``pairs`` pairs of ``sample_gram(n, m)`` draws, they differ from
    the exact ones by the derived ratios (:func:`incidental.theory.relu_free_ratios`, to ``rtol``)."""
    gap = all_interfering_gap(gap_n, gap_m, seed=seed)
    p = pooled_pair_terms(n, m, seed=seed, pairs=pairs)
    measured = {
        "difference": _rms(p["second_free"] - p["second"]) / _rms(p["second"]),
        "size": _rms(p["second_free"]) / _rms(p["second"]),
        "correlation": float(np.corrcoef(p["second"], p["second_free"])[0, 1]),
    }
    pred = theory.relu_free_ratios()
    regime = f"n={n}, m={m}, {p['overlap'].size} interfering pairs ({seeds_for(n, pairs)} draws)"
    checks = [
        check_below(
            "N1",
            "ReLU-free = exact second-order terms when every pair interferes",
            measured=gap,
            bound=gap_tolerance,
            regime=f"n={gap_n}, m={gap_m}, W ≥ 0",
            quantity="max |Δ|",
            kind="identity",
        ),
        check_close(
            "N1",
            "the ReLUs cannot be dropped term by term: RMS(ReLU-free − exact) / RMS(exact) = 1, "
            "the terms change by their own size",
            predicted=pred["difference"],
            measured=measured["difference"],
            rtol=rtol,
            regime=regime,
            kind="value",
            refutes="d(W_i·W_j)/dt = −(W_i·W_j)(‖W_i‖² + ‖W_j‖²) − 2 Σ_k (W_i·W_k)(W_j·W_k): the "
            "second-order terms without their ReLUs",
        ),
        check_close(
            "N1",
            "RMS(ReLU-free) / RMS(exact) = sqrt(8/3)",
            predicted=pred["size"],
            measured=measured["size"],
            rtol=rtol,
            regime=regime,
            kind="value",
        ),
        check_close(
            "N1",
            "correlation of ReLU-free and exact terms = sqrt(2/3)",
            predicted=pred["correlation"],
            measured=measured["correlation"],
            rtol=rtol,
            regime=regime,
            kind="value",
        ),
    ]
    params = dict(n=n, m=m, seed=seed, pairs=pairs, rtol=rtol, gap_n=gap_n, gap_m=gap_m, gap_tolerance=gap_tolerance)
    numbers = {
        "gap": quote(gap, ".0e"),
        "count": quote(p["overlap"].size, "d"),
        **{k: quote(x, ".2f") for k, x in measured.items()},
        **{f"{k}_pred": quote(x, ".2f") for k, x in pred.items()},
    }
    return Result(params, checks, numbers, dict(exact=p["second"], free=p["second_free"]))


def relu_free_axes(r: Result, *, shown: int | None = None) -> svgplot.Axes:
    """The ReLU-free second-order term against the exact one (both times ``m``), one point per pair."""
    m = r.params["m"]
    x, y = _thin(shown, r.data["exact"] * m, r.data["free"] * m)
    lim = float(np.max(np.abs(np.concatenate([x, y]))))
    return svgplot.Axes(
        [
            svgplot.Series(x, y, label="interfering pairs", kind="points"),
            svgplot.Series([-lim, lim], [-lim, lim], label="$y = x$", color="#000", dashed=True),
        ],
        xlabel=r"exact second order $\times\, m$",
        ylabel=r"ReLU-free second order $\times\, m$",
    )


def relu_free_figure(r: Result) -> tuple[Figure, str]:
    """The ReLU-free against the exact second-order terms; caption from ``r``."""
    p = r.params
    caption = (
        f"The note's ReLU-free second-order term against the exact one, one point per interfering pair at "
        f"initialisation ($n = {p['n']}$, $m = {p['m']}$, {r.q.count} pairs). The cloud is wide around the line "
        f"$y = x$: dropping the ReLUs changes the terms by {r.q.difference} times their own size (derived: "
        f"{r.q.difference_pred}), and the two correlate only at {r.q.correlation}."
    )
    return _static(relu_free_axes(r), width=4.4, height=3.6), caption


# --- N2: the size of the second-order terms --------------------------------------------------------


def second_order_ratios(n: int, m: int, *, seed: int, pairs: int) -> tuple[float, float]:
    """``RMS(second order) / RMS(first order)`` over the interfering pairs among about ``pairs`` pairs at
    initialisation: ``(exact, ReLU-free)``."""
    p = pooled_pair_terms(n, m, seed=seed, pairs=pairs)
    first = _rms(p["first"])
    return _rms(p["second"]) / first, _rms(p["second_free"]) / first


def _ratio_scan(
    ns: np.ndarray,
    ms: np.ndarray,
    sizes: np.ndarray,
    *,
    seed: int,
    pairs: int,
    exponent: float,
    label: str,
    regime: str,
    exponent_tolerance: float,
    constant_rtol: float,
) -> tuple[list, dict]:
    seeds = [seed + 1000 * k for k in range(len(sizes))]
    r, rf = np.array([second_order_ratios(int(a), int(b), seed=s, pairs=pairs) for a, b, s in zip(ns, ms, seeds)]).T
    scale = np.sqrt((ns - 2) / ms)
    pred = np.array([theory.second_order_ratio(int(a), int(b)) for a, b in zip(ns, ms)])
    pred_f = np.array([theory.second_order_ratio(int(a), int(b), relu=False) for a, b in zip(ns, ms)])
    const, const_f = float(np.mean(r / scale)), float(np.mean(rf / scale))
    const_p, const_pf = float(np.mean(pred / scale)), float(np.mean(pred_f / scale))
    c, fit = check_exponent(
        "N2",
        f"RMS(second)/RMS(first) ∝ ({label})^{exponent:+g}, exact",
        sizes=sizes,
        values=r,
        predicted=exponent,
        regime=regime,
        tolerance=exponent_tolerance,
    )
    cf, fit_f = check_exponent(
        "N2",
        f"RMS(second)/RMS(first) ∝ ({label})^{exponent:+g}, ReLU-free",
        sizes=sizes,
        values=rf,
        predicted=exponent,
        regime=regime,
        tolerance=exponent_tolerance,
    )
    checks = [
        c,
        cf,
        check_close(
            "N2",
            "constant r / sqrt((n-2)/m) = sqrt(3/8), exact",
            predicted=const_p,
            measured=const,
            rtol=constant_rtol,
            regime=regime,
        ),
        check_close(
            "N2",
            "constant r / sqrt((n-2)/m) = 1, ReLU-free",
            predicted=const_pf,
            measured=const_f,
            rtol=constant_rtol,
            regime=regime,
        ),
    ]
    data = dict(
        sizes=sizes,
        ratio=r,
        ratio_free=rf,
        predicted=pred,
        predicted_free=pred_f,
        fit=fit,
        fit_free=fit_f,
        constant=const,
        constant_free=const_f,
        constant_pred=const_p,
        constant_free_pred=const_pf,
    )
    return checks, data


def second_order_scaling(
    *,
    n: int,
    ms: tuple[int, ...],
    m: int,
    ns: tuple[int, ...],
    seed: int,
    pairs: int,
    exponent_tolerance: float,
    constant_rtol: float,
) -> Result:
    """N2: ``r = RMS(second)/RMS(first)`` over the interfering pairs at initialisation, over the grid
    ``ms`` at ``n`` features and over the grid ``ns`` at ``m`` neurons (Gram draws pooled to about
    ``pairs`` pairs per point): exponents ``-1/2`` in ``m`` and ``+1/2`` in ``n - 2`` (widened by
    ``exponent_tolerance``), constants of :func:`incidental.theory.second_order_ratio` (to ``constant_rtol``)."""
    in_m_ns, in_m_ms = np.full(len(ms), n), np.asarray(ms)
    in_n_ns, in_n_ms = np.asarray(ns), np.full(len(ns), m)
    common = dict(seed=seed, pairs=pairs, exponent_tolerance=exponent_tolerance, constant_rtol=constant_rtol)
    c_m, d_m = _ratio_scan(
        in_m_ns,
        in_m_ms,
        in_m_ms.astype(float),
        exponent=-0.5,
        label="m",
        regime=f"n={n}, m={ms[0]}..{ms[-1]:.3g}",
        **common,
    )
    c_n, d_n = _ratio_scan(
        in_n_ns,
        in_n_ms,
        (in_n_ns - 2).astype(float),
        exponent=0.5,
        label="n-2",
        regime=f"m={m:.3g}, n={ns[0]}..{ns[-1]}",
        **common,
    )
    params = dict(
        n=n,
        ms=tuple(ms),
        m=m,
        ns=tuple(ns),
        seed=seed,
        pairs=pairs,
        exponent_tolerance=exponent_tolerance,
        constant_rtol=constant_rtol,
    )
    numbers = {
        "m_min": quote(ms[0], "d"),
        "m_max": quote(ms[-1], ".2e"),
        "m_fixed": quote(m, ".2e"),
        "n_min": quote(ns[0], "d"),
        "n_max": quote(ns[-1], "d"),
    }
    for key, d in (("m", d_m), ("n", d_n)):
        numbers.update(
            {
                f"{key}_exp": quote(d["fit"].exponent, ".3f"),
                f"{key}_lo": quote(d["fit"].low, ".3f"),
                f"{key}_hi": quote(d["fit"].high, ".3f"),
                f"{key}_free_exp": quote(d["fit_free"].exponent, ".3f"),
                f"{key}_const": quote(d["constant"], ".3f"),
                f"{key}_const_free": quote(d["constant_free"], ".3f"),
            }
        )
    numbers.update(
        {"const_pred": quote(d_m["constant_pred"], ".3f"), "const_free_pred": quote(d_m["constant_free_pred"], ".3g")}
    )
    return Result(params, c_m + c_n, numbers, dict(in_m=d_m, in_n=d_n))


def _scaling_axes(d: dict, xlabel: str) -> svgplot.Axes:
    series = [
        *figures.power_law(
            d["sizes"],
            d["ratio"],
            label="exact",
            fit=d["fit"],
            predicted=figures.through(d["sizes"], d["predicted"]),
            predicted_label=r"derived $\sqrt{3(n-2)/8m}$",
        ),
        *figures.power_law(d["sizes"], d["ratio_free"], label="ReLU-free", fit=d["fit_free"], color=FREE),
    ]
    series.append(
        svgplot.Series(d["sizes"], d["predicted_free"], label=r"derived $\sqrt{(n-2)/m}$", color="#000", dashed=True)
    )
    return figures.power_law_axes(series, xlabel=xlabel, ylabel="RMS second / RMS first")


def second_order_scaling_figure(r: Result) -> tuple[Figure, str]:
    """``r`` against ``m`` and against ``n - 2``, both versions, with the derived lines; caption from ``r``."""
    p = r.params
    axes = [_scaling_axes(r.data["in_m"], "neurons $m$"), _scaling_axes(r.data["in_n"], "third encodings $n-2$")]
    caption = (
        f"Size of the second-order terms relative to the first-order term at initialisation (RMS over "
        f"the interfering pairs, about {p['pairs']} pairs per point). Left: against $m$ from {r.q.m_min} to "
        f"{r.q.m_max} at $n = {p['n']}$; fitted exponent {r.q.m_exp}. Right: against $n-2$ for $n$ from "
        f"{r.q.n_min} to {r.q.n_max} at $m =$ {r.q.m_fixed}; fitted exponent {r.q.n_exp}. Both versions lie "
        f"on their derived lines (black); the ReLU-free terms (red) sit a factor $\\sqrt{{8/3}}$ higher."
    )
    return _static(axes, width=9.2, height=3.4), caption


def conditional_mean(*, n: int, m: int, seed: int, draws: int, rtol: float, bins: int) -> Result:
    """N2, the conditional mean: least-squares slope of the second-order term on ``G_ij`` over all pairs
    of ``draws`` Gram draws, with and without ReLUs, against :func:`incidental.theory.second_order_mean_slope`
    (to ``rtol``); the figure's binned means use ``bins`` quantile bins of ``sqrt(m) G_ij``."""
    n, m = v.sizes(n, m)
    iu = np.triu_indices(n, k=1)
    parts = []
    for k in range(draws):
        G = sample_gram(n, m, seed=seed + k)
        parts.append((G[iu], numerator_second_order(G)[iu], numerator_second_order(G, relu=False)[iu]))
    g, s, f = (np.concatenate(x) for x in zip(*parts))
    slope, slope_f = float(g @ s / (g @ g)), float(g @ f / (g @ g))
    pred, pred_f = theory.second_order_mean_slope(n, m), theory.second_order_mean_slope(n, m, relu=False)
    regime = f"n={n}, m={m}, all {g.size} pairs of {draws} draws"
    checks = [
        check_close(
            "N2",
            "E[second | W_i, W_j] = -(n-2) G_ij / m (slope), exact",
            measured=slope,
            predicted=pred,
            rtol=rtol,
            regime=regime,
            kind="law",
        ),
        check_close(
            "N2",
            "E[second | W_i, W_j] = -2(n-2) G_ij / m (slope), ReLU-free",
            measured=slope_f,
            predicted=pred_f,
            rtol=rtol,
            regime=regime,
            kind="law",
        ),
    ]
    x = g * np.sqrt(m)
    edges = np.quantile(x, np.linspace(0.02, 0.98, bins + 1))
    idx = np.digitize(x, edges) - 1
    ok = (idx >= 0) & (idx < bins)
    binned = lambda y: np.array([y[ok][idx[ok] == b].mean() for b in range(bins)])
    unit = m**1.5 / (n - 2)  # E[second | G_ij] * unit = (slope * m / (n-2)) * sqrt(m) G_ij
    params = dict(n=n, m=m, seed=seed, draws=draws, rtol=rtol, bins=bins)
    numbers = {
        "slope": quote(slope, ".4f"),
        "slope_pred": quote(pred, ".4f"),
        "slope_free": quote(slope_f, ".4f"),
        "slope_free_pred": quote(pred_f, ".4f"),
        "bias": quote(theory.second_order_mean_bias(n, m), ".3f"),
        "fluct": quote(theory.second_order_ratio(n, m), ".3f"),
        "count": quote(g.size, "d"),
    }
    data = dict(
        centre=binned(x),
        mean=binned(s) * unit,
        mean_free=binned(f) * unit,
        edges=edges,
        unit_slope=pred * m / (n - 2),
        unit_slope_free=pred_f * m / (n - 2),
    )
    return Result(params, checks, numbers, data)


def conditional_mean_figure(r: Result) -> tuple[Figure, str]:
    """Binned means of the second-order terms against ``sqrt(m) G_ij`` with the exact conditional means."""
    d, p = r.data, r.params
    grid = np.linspace(d["edges"][0], d["edges"][-1], 10)
    axes = svgplot.Axes(
        [
            svgplot.Series(d["centre"], d["mean"], label="exact (binned mean)", kind="points", color=EXACT),
            svgplot.Series(d["centre"], d["mean_free"], label="ReLU-free (binned mean)", kind="points", color=FREE),
            svgplot.Series(grid, d["unit_slope"] * grid, label="$-(n-2)G_{ij}/m$", color="#000"),
            svgplot.Series(grid, d["unit_slope_free"] * grid, label="$-2(n-2)G_{ij}/m$", color="#000", dashed=True),
        ],
        xlabel=r"$\sqrt{m}\,G_{ij}$",
        ylabel=r"mean second order $\times\, m^{3/2}/(n-2)$",
    )
    caption = (
        f"Mean of the second-order term in {p['bins']} bins of $\\sqrt m\\,G_{{ij}}$ (equal counts), over all "
        f"{r.q.count} pairs of {p['draws']} draws with $n = {p['n']}$, $m = {p['m']}$, scaled by "
        f"$m^{{3/2}}/(n-2)$. The exact terms follow slope $-1$ and the ReLU-free ones slope $-2$: the measured "
        f"slopes are {r.q.slope} and {r.q.slope_free} against the exact conditional means {r.q.slope_pred} "
        f"and {r.q.slope_free_pred}."
    )
    return _static(axes, width=5.0, height=3.3), caption


# --- N3 at initialisation: the error of the first-order rate, pair by pair --------------------------


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
    """N3 (a): the relative error ``|S/F|`` of the first-order rate over the interfering pairs among about
    ``pairs`` pairs at initialisation, against the half-Cauchy law of scale ``r`` (median within
    ``median_sigmas`` standard errors of ``r``; Kolmogorov distance at most ``ks_bound``; the fraction
    of pairs off by more than ``tolerance`` within ``fraction_atol`` of the law's)."""
    p = pooled_pair_terms(n, m, seed=seed, pairs=pairs)
    eps = p["relative_error"]
    r = theory.second_order_ratio(n, m)
    median = float(np.median(eps))
    ks = float(stats.kstest(eps / r, lambda x: 1.0 - theory.half_cauchy_exceedance(x, 1.0)).statistic)
    above, above_pred = float(np.mean(eps > tolerance)), float(theory.half_cauchy_exceedance(tolerance, r))
    regime = f"n={n}, m={m}, {eps.size} interfering pairs"
    checks = [
        check_close(
            "N3",
            "median relative error of the first-order rate = r = sqrt(3(n-2)/(8m))",
            predicted=r,
            measured=median,
            atol=median_sigmas * theory.half_cauchy_median_se(r, eps.size),
            regime=regime,
        ),
        check_below(
            "N3",
            "relative error / r follows the half-Cauchy law",
            measured=ks,
            bound=ks_bound,
            regime=regime,
            quantity="KS distance",
            kind="law",
        ),
        check_close(
            "N3",
            f"fraction of pairs with relative error > {tolerance:g} (half-Cauchy law)",
            predicted=above_pred,
            measured=above,
            atol=fraction_atol,
            regime=regime,
            kind="law",
        ),
    ]
    params = dict(
        n=n,
        m=m,
        seed=seed,
        pairs=pairs,
        tolerance=tolerance,
        median_sigmas=median_sigmas,
        ks_bound=ks_bound,
        fraction_atol=fraction_atol,
    )
    numbers = {
        "median": quote(median, ".4f"),
        "r": quote(r, ".4f"),
        "ks": quote(ks, ".3f"),
        "above": quote(above, ".3f"),
        "above_pred": quote(above_pred, ".3f"),
        "above_pct": quote(100 * above, ".0f"),
        "tolerance_pct": quote(100 * tolerance, ".0f"),
        "count": quote(eps.size, "d"),
    }
    return Result(params, checks, numbers, dict(scaled_overlap=np.sqrt(m) * p["overlap"], error=eps, r=r))


def pair_error_axes(
    scaled_overlap: np.ndarray, error: np.ndarray, r: float, tolerance: float, *, shown: int | None = None
) -> svgplot.Axes:
    """Per-pair relative error against ``sqrt(m) G_ij`` with its predicted size ``r / (sqrt(m) G_ij)``
    and the tolerance (shared by the static figure and the widget)."""
    g, e = _thin(shown, scaled_overlap, error)
    grid = np.geomspace(max(float(g.min()), 1e-4), float(g.max()), 40)
    lo, hi = float(np.min(e[e > 0], initial=tolerance)), float(max(np.max(e), tolerance))
    ylim = (lo / 2, hi * (hi / lo) ** 0.4)  # room above the cloud for the legend
    return svgplot.Axes(
        [
            svgplot.Series(g, e, label="interfering pairs", kind="points"),
            svgplot.Series(grid, r / grid, label=r"predicted $r/(\sqrt{m}\,G_{ij})$", color="#000", dashed=True),
        ],
        xlabel=r"$\sqrt{m}\,G_{ij}$",
        ylabel=r"relative error $|S_{ij}/F_{ij}|$",
        xlog=True,
        ylog=True,
        hlines=[(tolerance, f"{100 * tolerance:.0f}% tolerance")],
        ylim=ylim,
    )


def error_law_figure(r: Result) -> tuple[Figure, str]:
    """The per-pair error against the overlap, and its survival function against the half-Cauchy law."""
    d, p = r.data, r.params
    x, surv = figures.survival(d["error"] / d["r"])
    keep = (x >= 1e-2) & (x <= 1e2)
    law = svgplot.Axes(
        [
            svgplot.Series(x[keep], surv[keep], label="measured", color=EXACT),
            svgplot.Series(
                x[keep], theory.half_cauchy_exceedance(x[keep], 1.0), label="half-Cauchy law", color="#000", dashed=True
            ),
        ],
        xlabel=r"error level $x / r$",
        ylabel=r"fraction with $|S_{ij}/F_{ij}| > x$",
        xlog=True,
        ylog=True,
    )
    axes = [pair_error_axes(d["scaled_overlap"], d["error"], d["r"], p["tolerance"]), law]
    caption = (
        f"Relative error of the first-order rate, pair by pair, at initialisation ($n = {p['n']}$, "
        f"$m = {p['m']}$, {r.q.count} interfering pairs). "
        f"Left: the error is about $r/(\\sqrt m\\,G_{{ij}})$, so it is large exactly for the pairs with a tiny "
        f"overlap. Right: the fraction of pairs above each error level (for levels from $r/100$ to $100r$) "
        f"follows the half-Cauchy law, with its heavy $1/x$ tail; Kolmogorov distance {r.q.ks}."
    )
    return _static(axes, width=9.2, height=3.4), caption


def breakdown(
    *,
    ns: tuple[int, ...],
    ms: tuple[int, ...],
    seed: int,
    pairs: int,
    tolerance: float,
    small_load: float,
    deviation_bound: float,
) -> Result:
    """N3 (a) over a grid: the median relative error of the first-order rate for every ``(n, m)`` of
    ``ns x ms`` with ``m >= n`` (about ``pairs`` pairs each), against ``sqrt(3(n-2)/(8m))``; it must
    stay within ``deviation_bound`` (relative) where ``(n-2)/m <= small_load``."""
    rows = [(a, b) for a in ns for b in ms if b >= a]
    med = np.array(
        [
            float(np.median(pooled_pair_terms(a, b, seed=seed + 97 * k, pairs=pairs)["relative_error"]))
            for k, (a, b) in enumerate(rows)
        ]
    )
    n_arr, m_arr = (np.array(x) for x in zip(*rows))
    pred = np.array([theory.second_order_ratio(int(a), int(b)) for a, b in rows])
    load = (n_arr - 2) / m_arr
    small = load <= small_load
    deviation = float(np.max(np.abs(med / pred - 1)[small]))
    checks = [
        check_below(
            "N3",
            f"median error = sqrt(3(n-2)/(8m)) across the grid where (n-2)/m ≤ {small_load:g}",
            measured=deviation,
            bound=deviation_bound,
            regime=f"{int(small.sum())} (n, m) settings, n in {tuple(ns)}",
            quantity="max rel. deviation",
        )
    ]
    params = dict(
        ns=tuple(ns),
        ms=tuple(ms),
        seed=seed,
        pairs=pairs,
        tolerance=tolerance,
        small_load=small_load,
        deviation_bound=deviation_bound,
    )
    top = int(np.argmax(load))
    numbers = {
        "load_tol": quote(theory.load_at_median_error(tolerance), ".3f"),
        "deviation": quote(deviation, ".2f"),
        "top_load": quote(load[top], ".2g"),
        "top_ratio": quote(med[top] / pred[top], ".2f"),
        "tolerance_pct": quote(100 * tolerance, ".0f"),
        "settings": quote(len(rows), "d"),
        "m_min": quote(ms[0], "d"),
        "m_max": quote(ms[-1], "d"),
    }
    return Result(params, checks, numbers, dict(n=n_arr, m=m_arr, load=load, median=med, predicted=pred))


def breakdown_figure(r: Result) -> tuple[Figure, str]:
    """Median error against ``(n-2)/m`` for every setting, with the derived curve and the tolerance."""
    d, p = r.data, r.params
    series = [
        svgplot.Series(
            d["load"][d["n"] == a],
            d["median"][d["n"] == a],
            label=f"n = {a}",
            kind="points",
            color=svgplot.PALETTE[k % len(svgplot.PALETTE)],
        )
        for k, a in enumerate(p["ns"])
    ]
    grid = np.geomspace(d["load"].min(), d["load"].max(), 40)
    series.append(
        svgplot.Series(
            grid, figures.through(d["load"], d["predicted"])(grid), label=r"derived $\sqrt{3(n-2)/8m}$", color="#000"
        )
    )
    load_tol = float(r.q.load_tol.value)
    axes = svgplot.Axes(
        series,
        xlabel="load $(n-2)/m$",
        ylabel="median relative error",
        xlog=True,
        ylog=True,
        hlines=[(p["tolerance"], f"{100 * p['tolerance']:.0f}% tolerance")],
        vlines=[(load_tol, f"(n-2)/m = {load_tol:.3f}")],
    )
    ns = ", ".join(str(a) for a in p["ns"])
    caption = (
        f"Median relative error of the first-order rate over the interfering pairs, for $n \\in \\{{{ns}\\}}$ "
        f"and $m$ from {r.q.m_min} to {r.q.m_max} ($m \\ge n$; {r.q.settings} settings), against the load "
        f"$(n-2)/m$. Where $(n-2)/m \\le$ {r.q.small_load} every setting lies within {r.q.deviation} "
        f"(relative) of the one derived curve; at the largest load, {r.q.top_load}, the median is "
        f"{r.q.top_ratio} times the curve. The median pair is within {r.q.tolerance_pct}% only left of the "
        f"dashed line, $(n-2)/m <$ {r.q.load_tol}."
    )
    return _static(axes, width=5.6, height=3.4), caption


# --- N3 late along the flow -------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _flow(n: int, m: int, seed: int, t_end: float, points: int, rtol: float) -> tuple[np.ndarray, np.ndarray]:
    """``(times, grams)``: the interference-only Gram flow from ``sample_gram(n, m, seed)`` (cached)."""
    n, m = v.sizes(n, m)
    times = np.linspace(0.0, v.positive("t_end", t_end), v.size("points", points))
    return times, simulate_gram(sample_gram(n, m, seed=seed), times, terms=INTERFERENCE, rtol=rtol)


@lru_cache(maxsize=64)
def _flow_stats(n: int, m: int, seed: int, t_end: float, points: int, rtol: float) -> dict[str, np.ndarray]:
    """Quartiles of ``|S/F|`` (exact and ReLU-free) over the interfering pairs at each time, and the
    collective decay rate ``-d/dt log ||ReLU(offdiag G)||`` of the interfering overlaps."""
    times, Gs = _flow(n, m, seed, t_end, points, rtol)
    terms = [pair_terms(G) for G in Gs]
    q = lambda f: np.array([np.quantile(f(p), (0.25, 0.5, 0.75)) for p in terms]).T
    iu = np.triu_indices(n, k=1)
    log_norm = np.log([np.linalg.norm(np.maximum(G[iu], 0.0)) for G in Gs])
    return dict(
        times=times,
        exact=q(lambda p: p["relative_error"]),
        free=q(lambda p: p["relative_error_free"]),
        collective=-np.gradient(log_norm, times),
        terms=terms,
    )


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
    """N3 (b): the first-order rate along the interference-only flow from ``sample_gram(n, m, seed)`` on
    ``points`` times in ``[0, t_end]`` (relative tolerance ``rtol``). The median error settles (max/min
    over the second half at most ``settle_bound``); the interfering overlaps decay together at
    :func:`incidental.theory.late_collective_rate` (to ``rate_rtol``); the note's ReLU-free terms, which
    do not decay, overtake the first-order term, near :func:`incidental.theory.late_relu_free_second_order`
    (to ``free_rtol``)."""
    s = _flow_stats(n, m, seed, t_end, points, rtol)
    times, med, med_free = s["times"], s["exact"][1], s["free"][1]
    late = times >= t_end / 2
    spread = float(np.max(med[late]) / np.min(med[late]))
    above = np.flatnonzero(med_free >= 1.0)
    cross = float(times[above[0]]) if above.size else float("inf")
    free_late = float(np.mean(s["terms"][-1]["second_free"]))
    pred_err, pred_rate = theory.late_first_order_error(n, m), theory.late_collective_rate(n, m)
    pred_free = theory.late_relu_free_second_order(n, m)
    regime = f"n={n}, m={m}, seed={seed}, t={t_end / 2:g}..{t_end:g}"
    checks = [
        check_below(
            "N3",
            "the exact median error settles late (max/min over the second half of the run)",
            measured=spread,
            bound=settle_bound,
            regime=regime,
            quantity="max/min",
        ),
        check_close(
            "N3",
            "collective decay rate of the interfering overlaps = 2 - (n-2)/sqrt(2 pi m)",
            measured=float(s["collective"][-1]),
            predicted=pred_rate,
            rtol=rate_rtol,
            regime=regime,
        ),
        check_below(
            "N3",
            "the ReLU-free second-order terms overtake the first-order term (1 / median ratio, end)",
            measured=float(1.0 / med_free[-1]),
            bound=1.0,
            regime=regime,
            quantity="1/ratio",
        ),
        check_close(
            "N3",
            "late ReLU-free second order ≈ -(n-2)/(pi m) (mean over interfering pairs; heuristic)",
            measured=free_late,
            predicted=pred_free,
            rtol=free_rtol,
            regime=regime,
            kind="approximation",
        ),
    ]
    params = dict(
        n=n,
        m=m,
        seed=seed,
        t_end=t_end,
        points=points,
        rtol=rtol,
        settle_bound=settle_bound,
        rate_rtol=rate_rtol,
        free_rtol=free_rtol,
    )
    numbers = {
        "start": quote(med[0], ".3f"),
        "end": quote(med[-1], ".3f"),
        "r": quote(theory.second_order_ratio(n, m), ".3f"),
        "pred": quote(pred_err, ".3f"),
        "peak": quote(np.max(med), ".3f"),
        "q1_start": quote(s["exact"][0][0], ".3f"),
        "q3_start": quote(s["exact"][2][0], ".3f"),
        "q1_end": quote(s["exact"][0][-1], ".3f"),
        "q3_end": quote(s["exact"][2][-1], ".3f"),
        "rate": quote(s["collective"][-1], ".3f"),
        "rate_pred": quote(pred_rate, ".3f"),
        "cross": quote(cross, ".2f"),
        "free": quote(free_late, ".2e"),
        "free_pred": quote(pred_free, ".2e"),
        "free_end": quote(med_free[-1], ".1e"),
        "half": quote(t_end / 2, "g"),
    }
    return Result(params, checks, numbers, dict(stats=s, pred=pred_err))


def flow_axes(s: dict, n: int, m: int, *, mark: float | None = None) -> svgplot.Axes:
    """Median and quartiles of ``|S/F|`` over the interfering pairs along the flow, exact and ReLU-free,
    with ``r`` and the late prediction (shared by the static figure and the widget)."""
    t = s["times"]
    series = [
        *figures.time_course(
            t, s["exact"][1], label="exact: median, quartiles", low=s["exact"][0], high=s["exact"][2], color=EXACT
        ),
        *figures.time_course(
            t, s["free"][1], label="ReLU-free: median, quartiles", low=s["free"][0], high=s["free"][2], color=FREE
        ),
    ]
    r, late = theory.second_order_ratio(n, m), theory.late_first_order_error(n, m)
    # The ReLU-free ratio grows without bound: cut the axis a decade above 1 so that the exact
    # median (the message) keeps most of the height.
    low = 0.5 * float(np.nanmin(np.concatenate([s["exact"][0], [r, late]])))
    return svgplot.Axes(
        series,
        xlabel="time $t$",
        ylabel="|second| / |first|",
        ylog=True,
        hlines=[(r, f"r = {r:.3f} (t = 0)"), (late, f"late prediction {late:.3f}"), (1.0, "ratio 1")],
        vlines=[(mark, "")] if mark is not None else [],
        ylim=(low, 10.0),
    )


def late_flow_figure(r: Result) -> tuple[Figure, str]:
    """The error of the first-order rate along the flow; caption from ``r``."""
    p, q = r.params, r.q
    exact = r.data["stats"]["exact"]
    narrower = (exact[2][-1] - exact[0][-1]) / exact[1][-1] < (exact[2][0] - exact[0][0]) / exact[1][0]
    caption = (
        f"$|S_{{ij}}|/|F_{{ij}}|$ over the interfering pairs along the interference-only flow "
        f"($n = {p['n']}$, $m = {p['m']}$, seed {p['seed']}): median (line) and quartiles (band). The exact "
        f"median (blue) starts at {q.start}, next to $r =$ {q.r}, peaks at {q.peak} and settles at {q.end} "
        f"against the late prediction {q.pred}; relative to it, its quartiles "
        f"{'close in' if narrower else 'do not close in'}, from [{q.q1_start}, {q.q3_start}] at $t = 0$ to "
        f"[{q.q1_end}, {q.q3_end}] at $t = {p['t_end']:g}$. The ReLU-free median (red) grows exponentially "
        f"and crosses 1 at $t \\approx$ {q.cross} (the axis is cut at 10): the breakdown the note's terms "
        f"would predict."
    )
    return _static(flow_axes(r.data["stats"], p["n"], p["m"]), width=6.4, height=3.6), caption


def _late_scan(ns: np.ndarray, ms: np.ndarray, *, seed: int, t_end: float, pairs: int, rtol: float) -> dict:
    late, init = [], []
    for a, b in zip(ns, ms):
        flows = [_flow(int(a), int(b), seed + k, t_end, 2, rtol)[1] for k in range(seeds_for(int(a), pairs))]
        late.append(float(np.median(np.concatenate([pair_terms(G[-1])["relative_error"] for G in flows]))))
        init.append(float(np.median(np.concatenate([pair_terms(G[0])["relative_error"] for G in flows]))))
    return dict(
        late=np.asarray(late),
        init=np.asarray(init),
        pred_late=np.array([theory.late_first_order_error(int(a), int(b)) for a, b in zip(ns, ms)]),
        pred_init=np.array([theory.second_order_ratio(int(a), int(b)) for a, b in zip(ns, ms)]),
    )


def late_scaling(
    *,
    m: int,
    ns: tuple[int, ...],
    n: int,
    ms: tuple[int, ...],
    seed: int,
    t_end: float,
    pairs: int,
    rtol: float,
    exponent_tolerance: float,
    late_rtol: float,
) -> Result:
    """N3 (b) over grids: the median error at ``t_end`` (pooled over seeds to about ``pairs`` pairs) over
    ``ns`` at ``m`` neurons and over ``ms`` at ``n`` features; exponents ``+1`` in ``n - 2`` and ``-1/2`` in
    ``m`` (widened by ``exponent_tolerance``), and the value at the largest ``n`` within ``late_rtol`` of
    :func:`incidental.theory.late_first_order_error`."""
    in_n_ns, in_n_ms = np.asarray(ns), np.full(len(ns), m)
    in_m_ns, in_m_ms = np.full(len(ms), n), np.asarray(ms)
    d_n = _late_scan(in_n_ns, in_n_ms, seed=seed, t_end=t_end, pairs=pairs, rtol=rtol)
    d_m = _late_scan(in_m_ns, in_m_ms, seed=seed, t_end=t_end, pairs=pairs, rtol=rtol)
    d_n["sizes"], d_m["sizes"] = (in_n_ns - 2).astype(float), in_m_ms.astype(float)
    c_n, fit_n = check_exponent(
        "N3",
        f"late (t={t_end:g}) median error ∝ (n-2)^+1: Θ(n/√m), so the first-order rate holds late only when n ≪ √m",
        sizes=d_n["sizes"],
        values=d_n["late"],
        predicted=1.0,
        regime=f"m={m}, n={ns[0]}..{ns[-1]}, t={t_end:g}",
        tolerance=exponent_tolerance,
        refutes="the second-order terms are negligible whenever n/m is small, so an overlap shrinks at the relative "
        "rate −(‖W_i‖² + ‖W_j‖²) throughout the interference phase",
    )
    c_m, fit_m = check_exponent(
        "N3",
        f"late (t={t_end:g}) median error ∝ m^-1/2",
        sizes=d_m["sizes"],
        values=d_m["late"],
        predicted=-0.5,
        regime=f"n={n}, m={ms[0]}..{ms[-1]}, t={t_end:g}",
        tolerance=exponent_tolerance,
    )
    d_n["fit"], d_m["fit"] = fit_n, fit_m
    big = int(np.argmax(in_n_ns))
    c_val = check_close(
        "N3",
        "late median error = (n-2)/(2 sqrt(2 pi m)) at the largest n",
        measured=float(d_n["late"][big]),
        predicted=float(d_n["pred_late"][big]),
        rtol=late_rtol,
        regime=f"n={ns[big]}, m={m}, t={t_end:g}",
    )
    ratio = d_n["late"] / d_n["pred_late"]
    params = dict(
        m=m,
        ns=tuple(ns),
        n=n,
        ms=tuple(ms),
        seed=seed,
        t_end=t_end,
        pairs=pairs,
        rtol=rtol,
        exponent_tolerance=exponent_tolerance,
        late_rtol=late_rtol,
    )
    numbers = {
        "n_exp": quote(fit_n.exponent, ".2f"),
        "n_lo": quote(fit_n.low, ".2f"),
        "n_hi": quote(fit_n.high, ".2f"),
        "m_exp": quote(fit_m.exponent, ".2f"),
        "m_lo": quote(fit_m.low, ".2f"),
        "m_hi": quote(fit_m.high, ".2f"),
        "ratio_small": quote(ratio[0], ".2f"),
        "ratio_large": quote(ratio[-1], ".2f"),
        "n_small": quote(ns[0], "d"),
        "n_large": quote(ns[-1], "d"),
        "noise_pct": quote(100 * theory.half_cauchy_median_se(1.0, max(pairs // 2, 1)), ".0f"),
    }
    return Result(params, [c_n, c_m, c_val], numbers, dict(in_n=d_n, in_m=d_m))


def _late_axes(d: dict, xlabel: str) -> svgplot.Axes:
    series = [
        *figures.power_law(
            d["sizes"],
            d["late"],
            label="late",
            fit=d["fit"],
            predicted=figures.through(d["sizes"], d["pred_late"]),
            predicted_label=r"late: $(n-2)/2\sqrt{2\pi m}$",
        ),
        svgplot.Series(d["sizes"], d["init"], label="t = 0 (measured)", kind="points", color=FREE),
        svgplot.Series(d["sizes"], d["pred_init"], label=r"t = 0: $\sqrt{3(n-2)/8m}$", color="#000", dashed=True),
    ]
    return figures.power_law_axes(series, xlabel=xlabel, ylabel="median relative error")


def late_scaling_figure(r: Result) -> tuple[Figure, str]:
    """Median error at ``t = 0`` and late against ``n - 2`` and against ``m``; caption from ``r``."""
    p = r.params
    axes = [_late_axes(r.data["in_n"], "third encodings $n-2$"), _late_axes(r.data["in_m"], "neurons $m$")]
    caption = (
        f"Median relative error of the first-order rate at $t = 0$ (red) and late, at $t = {p['t_end']:g}$ "
        f"(blue). Left: against $n-2$ at $m = {p['m']}$; right: against $m$ at $n = {p['n']}$. At $t = 0$ it "
        f"scatters about $\\sqrt{{3(n-2)/8m}}$ (dashed; each point is the median of about {p['pairs'] // 2} "
        f"interfering pairs, uncertain by about {r.q.noise_pct}%); late it grows with fitted exponent "
        f"{r.q.n_exp} in $n-2$ and {r.q.m_exp} in $m$, close to $(n-2)/2\\sqrt{{2\\pi m}}$ (solid black): "
        f"measured over predicted is {r.q.ratio_small} at $n = {r.q.n_small}$ and {r.q.ratio_large} at "
        f"$n = {r.q.n_large}$."
    )
    return _static(axes, width=9.2, height=3.4), caption


# --- widgets -----------------------------------------------------------------------------------------

MAX_POINTS = 400  # points per scatter in a widget panel (keeps each SVG a few tens of kB)
FLOW = dict(t_end=8.0, points=33, rtol=1e-11)  # the flow of the second widget (times on a 0.25 grid)


@lru_cache(maxsize=128)
def _init_terms(n: int, m: int, seed: int) -> dict[str, np.ndarray]:
    return pair_terms(sample_gram(n, m, seed=seed))


def initial_panel(n: int, m: int, seed: int, tolerance: float = 0.1) -> Panel:
    """Widget panel for N3 at initialisation: exact against first-order rate per interfering pair, and the
    per-pair relative error against ``sqrt(m) G_ij`` with its predicted size."""
    p = _init_terms(n, m, seed)
    r = theory.second_order_ratio(n, m)
    eps = p["relative_error"]
    median = float(np.median(eps))
    regime = f"n={n}, m={m}, seed={seed}, {eps.size} interfering pairs"
    checks = [
        check_close(
            "N3",
            "median relative error = sqrt(3(n-2)/(8m))",
            predicted=r,
            measured=median,
            atol=4 * theory.half_cauchy_median_se(r, max(eps.size, 1)),
            rtol=(n - 2) / m,
            regime=regime,
        ),
        check_below(
            "N3",
            f"first order within {tolerance:.0%} for the median pair",
            measured=median,
            bound=tolerance,
            regime=regime,
            quantity="median rel. error",
        ),
    ]
    first, rate = _thin(MAX_POINTS, p["first"] * np.sqrt(m), p["rate"] * np.sqrt(m))
    lo, hi = float(min(first.min(), rate.min())), float(max(first.max(), rate.max(), 0.0))
    rates = svgplot.Axes(
        [
            svgplot.Series(first, rate, kind="points"),
            svgplot.Series([lo, hi], [lo, hi], label="y = x (first order exact)", color="#000", dashed=True),
        ],
        xlabel="first-order rate × √m",
        ylabel="exact rate × √m",
    )
    plot = svgplot.svg(
        [rates, pair_error_axes(np.sqrt(m) * p["overlap"], eps, r, tolerance, shown=MAX_POINTS)], width=720, height=250
    )
    return Panel(checks, plot)


def initial_explorable() -> Explorable:
    """Widget: sizes and seed against the first-order rate at initialisation (N3)."""
    return Explorable(
        initial_panel,
        [
            Control("n", "features n", (8, 32, 128), 32, kind="size", low=4, high=256),
            Control("m", "neurons m", (256, 1024, 4096, 16384), 4096, kind="size", low=256, high=2**20),
            Control("seed", "seed", (0, 1), 0, low=0, high=99),
        ],
        title="First-order rate of W_i·W_j at initialisation: predicted against exact",
    )


def relative_rate_axes(rates: np.ndarray, n: int, m: int, t: float) -> svgplot.Axes:
    """Histogram of the exact relative rates ``(dG_ij/dt)/G_ij`` of the interfering pairs at time ``t``,
    against ``-2`` and the late rate, on limits a heavy tail cannot stretch (the share cut off is in the legend)."""
    late = -theory.late_collective_rate(n, m)
    lo, hi = figures.robust_limits(rates, include=(-2.0, late))
    inside = (rates >= lo) & (rates <= hi)
    heights, edges = np.histogram(rates[inside], bins=30, range=(lo, hi))
    heights = heights / max(rates.size, 1) / np.diff(edges)
    shown = f"exact relative rate ({100 * np.mean(~inside):.0f}% of pairs off the axis)"
    return svgplot.Axes(
        [svgplot.Series(edges, heights, kind="steps", label=shown)],
        xlabel=f"(dG_ij/dt)/G_ij at t = {t:g}",
        ylabel="density",
        xlim=(lo, hi),
        ylim=(0.0, 1.7 * float(heights.max(initial=1e-9))),  # room for the legend
        vlines=[(-2.0, "first order ≈ -2"), (late, f"late: -(2 - (n-2)/√(2πm)) = {late:.2f}")],
    )


def flow_panel(t: float, n: int, m: int, seed: int = 0, tolerance: float = 0.1) -> Panel:
    """Widget panel for N3 along the flow: ``|S/F|`` over time (the time ``t`` marked), and the exact
    relative rates of the interfering pairs at ``t`` against ``-2`` and the late prediction."""
    s = _flow_stats(n, m, seed, FLOW["t_end"], FLOW["points"], FLOW["rtol"])
    k = int(np.argmin(np.abs(s["times"] - t)))
    tk = float(s["times"][k])
    regime = f"n={n}, m={m}, seed={seed}, t={tk:g}"
    checks = [
        check_below(
            "N3",
            f"first order within {tolerance:.0%} for the median pair",
            measured=float(s["exact"][1][k]),
            bound=tolerance,
            regime=regime,
            quantity="median rel. error",
        ),
        check_below(
            "N3",
            "the note's ReLU-free terms stay below the first-order term (median pair)",
            measured=float(s["free"][1][k]),
            bound=1.0,
            regime=regime,
            quantity="median ratio",
        ),
    ]
    note = (
        f"Predicted median error: r = sqrt(3(n-2)/(8m)) = {theory.second_order_ratio(n, m):.3g} at t = 0, "
        f"settling late at (n-2)/(2 sqrt(2 pi m)) = {theory.late_first_order_error(n, m):.3g}."
    )
    hist = relative_rate_axes(s["terms"][k]["relative_rate"], n, m, tk)
    plot = svgplot.svg([flow_axes(s, n, m, mark=tk), hist], width=720, height=250)
    return Panel(checks, plot, note)


def flow_explorable() -> Explorable:
    """Widget: time along the interference flow, and sizes, against the first-order rate (N3)."""
    return Explorable(
        flow_panel,
        [
            Control(
                "t", "time t", (0.0, 0.5, 1.0, 2.0, 4.0, 8.0), 1.0, kind="float", low=0.0, high=FLOW["t_end"], step=0.25
            ),
            Control("n", "features n", (16, 64), 16, kind="size", low=4, high=64),
            Control("m", "neurons m", (1024, 16384), 1024, kind="size", low=1024, high=2**16),
        ],
        title="First-order rate along the interference flow",
    )


def explorables() -> dict[str, Explorable]:
    """Fresh explorables of this chapter, by name."""
    return {"initial": initial_explorable(), "flow": flow_explorable()}
