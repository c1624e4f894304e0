"""Chapter 6 (Fixed norm): claim X1, the note's open question, and the chapter's widgets.

What moves an encoding whose norm is held at 1 while interference acts? The constrained model's
formulas live in :mod:`incidental.fixed_norm`; this module declares the chapter's checks once
(:data:`CHECKS`), runs its experiments (each a :func:`~incidental.book.runner`: the force and the
flows, the rate of a cosine, the exact pair, which model describes the full flow, the conclusions
of chapters 4 and 5), draws its figures and declares its widgets. Everything runs on Gram flows
(cost independent of ``m``), except the weight-space checks.
"""

from __future__ import annotations

import math

import numpy as np
from IPython.display import HTML
from matplotlib.figure import Figure
from scipy import stats

from .. import figures, svgplot
from .. import fixed_norm as fn
from ..book import Quotes, Result, quote, quotes, runner
from ..checks import Interval, declarations
from ..derivation import kappa_rate, norm_sq_rate, numerator_first_order, numerator_second_order
from ..exact import lowdin, pair_interference, pair_push_total, symmetric_pair
from ..explore import Control, Explorable, Panel
from ..flow import simulate_gram_with_push
from ..model import cosine_similarity, forces, sample_gram, sample_weights
from ..plotting import render
from ..runs import FULL, INTERFERENCE

CROSS, PAIRS = fn.CROSSOVER_FIRST_ORDER, fn.PAIR_MODELS
MODELS: tuple[str, ...] = ("fixed_norm", "interference")
"""The two models of the full flow that the chapter compares."""
THREE: tuple[str, ...] = ("full", "fixed_norm", "interference")
LABELS: dict[str, str] = {
    "full": "full flow (free norms)",
    "fixed_norm": "fixed norm",
    "interference": "interference alone (free norms)",
}
COLORS: dict[str, str] = {"full": "#000000", "fixed_norm": svgplot.PALETTE[0], "interference": svgplot.PALETTE[1]}


CHECKS = declarations("fixed_norm")  # the check table: chapters/checks/fixed_norm.yaml
"""Every check of the chapter and its widgets, declared once."""


def _max_abs(a: np.ndarray) -> float:
    return float(np.max(np.abs(a)))


def _bounded(fields: dict | None = None, **rows: tuple) -> tuple[list, dict]:
    """For each ``name=(measured, bound, fmt[, scale])``: the check ``CHECKS[name].below(...)`` (its statement
    filled from ``fields``) and the number ``name``, the measured value quoted with ``fmt``."""
    checks, numbers = [], {}
    for name, (measured, bound, fmt, *scale) in rows.items():
        checks.append(CHECKS[name].below(measured=measured, bound=bound, scale=(scale or [None])[0], **(fields or {})))
        numbers[name] = quote(measured, fmt)
    return checks, numbers


# --- the force and the flows ---------------------------------------------------------------------------


@runner
def force_identities(*, n: int, m: int, seed: int, h: float, tolerance: float) -> Result:
    """The constrained force at one draw of unit encodings ``W`` ``(n, m)``: tangent to every sphere, the
    projection of the free force with or without feature benefit, minus the gradient of the projected loss
    (central differences of step ``h``), and its Gram form. ``tolerance`` bounds the finite-difference error;
    the algebraic identities are checked to round-off (``1e-12``)."""
    W = fn.normalize_rows(sample_weights(n, m, seed=seed))
    F = fn.fixed_norm_force(W)
    tangent = _max_abs(np.sum(F * W, axis=1))
    projection = max(_max_abs(fn.tangent_projection(W, forces(W, terms=terms)) - F) for terms in (FULL, INTERFERENCE))
    grad = np.empty_like(W)
    for idx in np.ndindex(*W.shape):
        E = np.zeros_like(W)
        E[idx] = h
        grad[idx] = (fn.projected_loss(W + E) - fn.projected_loss(W - E)) / (2 * h)
    fd = _max_abs(F + grad)
    dG = fn.fixed_norm_gram_rate(W @ W.T)
    gram = _max_abs(dG - (F @ W.T + W @ F.T))
    checks, numbers = _bounded(
        dict(h=h),
        tangent=(tangent, 1e-12, ".0e"),
        projection=(projection, 1e-12, ".0e"),
        gradient=(fd, tolerance, ".1e"),
        gram=(max(gram, _max_abs(np.diag(dG))), 1e-12, ".0e"),
    )
    return Result(checks=checks, numbers=numbers)


@runner
def flow_agreement(
    *, n: int, m: int, seed: int, t_end: float, steps: int, rtol: float, h: float, tolerance: float
) -> Result:
    """The constrained flow in weight space (``(n, m)``) and in Gram space from the same unit encodings, to
    ``t_end`` at ``steps`` output times and relative tolerance ``rtol``: they agree, the norms stay 1, and the
    rate of every cosine matches central differences (step ``h``) of the Gram flow at ``t_end / 2``."""
    W0 = fn.normalize_rows(sample_weights(n, m, seed=seed))
    times = np.linspace(0.0, t_end, steps)
    Ws = fn.simulate_fixed_norm(W0, times, rtol=rtol)
    Gs = fn.simulate_fixed_norm_gram(W0 @ W0.T, times, rtol=rtol)
    agree = _max_abs(np.einsum("tim,tjm->tij", Ws, Ws) - Gs)
    norms = _max_abs(np.linalg.norm(Ws, axis=2) - 1.0)
    diag = _max_abs(np.einsum("tii->ti", Gs) - np.diag(Gs[0]))
    tm = t_end / 2
    G3 = fn.simulate_fixed_norm_gram(W0 @ W0.T, [tm - h, tm, tm + h], rtol=min(rtol, 1e-12))
    fd = (G3[2] - G3[0]) / (2 * h)
    exact = fn.fixed_norm_kappa_rate(G3[1])
    off = ~np.eye(n, dtype=bool)
    rate = float(np.max(np.abs(exact - fd)[off]) / np.max(np.abs(exact)[off]))
    checks, numbers = _bounded(
        agree=(agree, tolerance, ".0e"), norms=(norms, tolerance, ".0e"), diagonal=(diag, 0.0, ".0e")
    )
    checks.append(CHECKS.rate_fd.below(measured=rate, bound=tolerance * 100, scale=1.0, h=h, at=dict(t=tm)))
    return Result(checks=checks, numbers={**numbers, "rate": quote(rate, ".0e")})


# --- the rate of a cosine --------------------------------------------------------------------------------


@runner(min_lengths=dict(seeds=3))
def cosine_rate(*, n: int, m: int, seeds: tuple[int, ...], confidence: float) -> Result:
    """The rate of a cosine at unit norms, split into its four parts (:class:`~incidental.fixed_norm.KappaRateParts`).

    Identities (at each draw of unit encodings): the parts add up to the exact rate, which equals the free-norm
    rate of chapter 4 at the same point; the first-order and third-encoding push parts are the numerator's terms
    of chapter 2; the two projection parts are the norm-loss (denominator) terms of chapter 3. Means over the
    interfering pairs of ``len(seeds)`` draws, weighted as in chapter 4 (``sum kappa part / sum kappa^2``), with a
    Student-t interval at ``confidence`` over draws: third-encoding push ``-(n-2)/m``, projection ``+(n-2)/m``.
    """
    identity = 0.0
    means = {"third_push": [], "third_projection": [], "third": [], "own_projection": []}
    for s in seeds:
        G = cosine_similarity(sample_gram(n, m, seed=s))
        p = fn.fixed_norm_kappa_rate_parts(G)
        dn = norm_sq_rate(G, INTERFERENCE)
        denominator = -0.5 * G * (dn[:, None] + dn[None, :])
        np.fill_diagonal(denominator, 0.0)
        identity = max(
            identity,
            _max_abs(p.total - kappa_rate(G, INTERFERENCE)),
            _max_abs(p.total - fn.fixed_norm_kappa_rate(G)),
            _max_abs(p.first_order - numerator_first_order(G)),
            _max_abs(p.third_push - numerator_second_order(G)),
            _max_abs(p.own_projection + p.third_projection - denominator),
        )
        mask = np.triu(G > 0, k=1)
        for name in means:  # chapter 4's least-squares rate constant, sum kappa part / sum kappa^2
            means[name].append(float(np.sum(G[mask] * getattr(p, name)[mask]) / np.sum(G[mask] ** 2)))
    unit = (n - 2) / m
    t = stats.t.ppf(0.5 + confidence / 2, len(seeds) - 1)
    est = {
        k: (float(np.mean(x)) / unit, float(t * np.std(x, ddof=1) / math.sqrt(len(x))) / unit) for k, x in means.items()
    }
    checks = [CHECKS.rate_parts.below(measured=identity, bound=1e-13)]
    for name, predicted in (("third_push", -1.0), ("third_projection", 1.0), ("third", 0.0)):
        mean, half = est[name]
        checks.append(CHECKS[name].close(predicted=predicted, measured=mean, atol=max(half, 0.02) + 0.05))
    numbers = {k: quote(Interval(mean, mean - half, mean + half), ".3f") for k, (mean, half) in est.items()}
    numbers["identity"] = quote(identity, ".0e")
    numbers["own_m"] = quote(est["own_projection"][0] * unit * m, ".2f")
    numbers.update(draws=quote(len(seeds), "d"), percent=quote(100 * confidence, ".0f"))
    return Result(checks=checks, numbers=numbers)


# --- two encodings -----------------------------------------------------------------------------------------


@runner
def pair_solution(
    *, kappa0s: tuple[float, ...], m: int, t_end: float, steps: int, seed: int, rtol: float, tolerance: float
) -> Result:
    """The exact fixed-norm pair solution against the simulated constrained flow, for each starting cosine.

    For each ``kappa0`` (pair ``k`` drawn with seed ``seed + k`` in ``R^m``), both flows (weights and Gram with
    push) run to ``t_end`` at ``steps`` output times with relative tolerance ``rtol``. Checked: ``kappa(t)``, the
    weights and the accumulated push against the closed forms, and the end point against the Loewdin
    orthogonalisation; ``tolerance`` bounds every error.
    """
    times = np.linspace(0.0, t_end, steps)
    kerr, werr, perr, lerr = 0.0, 0.0, 0.0, 0.0
    for k, k0 in enumerate(kappa0s):
        W0 = fn.unit_pair(m, k0, seed=seed + k)
        G0 = fn.unit_pair_gram(k0)
        exact_k = fn.fixed_norm_pair_kappa(G0, times)
        Ws = fn.simulate_fixed_norm(W0, times, rtol=rtol)
        Gs, Ps = fn.simulate_fixed_norm_gram_with_push(G0, times, rtol=rtol)
        ksim = np.einsum("tm,tm->t", Ws[:, 0], Ws[:, 1])
        kerr = max(kerr, _max_abs(ksim - exact_k), _max_abs(Gs[:, 0, 1] - exact_k))
        werr = max(werr, _max_abs(Ws - fn.fixed_norm_pair(W0, times)))
        perr = max(perr, _max_abs(Ps[:, 0, 1] - fn.fixed_norm_pair_push(G0, times)))
        lerr = max(lerr, _max_abs(fn.fixed_norm_pair_limit(W0) - lowdin(W0)))
    checks, numbers = _bounded(
        pair_kappa=(kerr, tolerance, ".1e"),
        pair_weights=(werr, tolerance, ".1e"),
        pair_push=(perr, tolerance, ".1e"),
        pair_lowdin=(lerr, 1e-12, ".0e"),
    )
    numbers["k_max"] = quote(max(kappa0s), "g")
    return Result(checks=checks, numbers=numbers)


@runner
def pair_models(
    *, kappa0s: tuple[float, ...], m: int, t_end: float, seed: int, rtol: float, tolerance: float
) -> Result:
    """Two unit encodings under the three models (fixed norm; feature benefit and interference; interference
    alone), for each ``kappa0``: the total push (exact, and simulated to ``t_end`` at ``rtol``), where each pair
    ends (its norm and its distance from the Loewdin orthogonalisation) and the time to halve the cosine.
    ``tolerance`` bounds the relative error of the simulated pushes."""
    push_err, lowdin_err = 0.0, 0.0
    norms = {model: [] for model in PAIRS}
    span = [0.0, t_end]
    for k, k0 in enumerate(kappa0s):
        G0 = fn.unit_pair_gram(k0)
        W0 = fn.unit_pair(m, k0, seed=seed + k)
        exact = 0.5 * math.atanh(k0)
        pushes = (
            fn.fixed_norm_pair_push_total(G0),
            pair_push_total(G0),
            fn.simulate_fixed_norm_gram_with_push(G0, span, rtol=rtol)[1][-1, 0, 1],
            *(simulate_gram_with_push(G0, span, terms=terms, rtol=rtol)[1][-1, 0, 1] for terms in (FULL, INTERFERENCE)),
        )
        push_err = max(push_err, *(abs(x - exact) / exact for x in pushes))
        ends = {
            "fixed_norm": fn.fixed_norm_pair(W0, span)[-1],
            "full": symmetric_pair(W0, span)[-1],
            "interference": pair_interference(W0, span)[-1],
        }
        for model, E in ends.items():
            norms[model].append(float(np.linalg.norm(E[0])))
            lowdin_err = max(lowdin_err, _max_abs(E / norms[model][-1] - lowdin(W0)))
    k_arr = np.asarray(kappa0s, dtype=float)
    half = {model: np.array([fn.pair_half_time(model, k0) for k0 in kappa0s]) for model in PAIRS}
    expected = {"fixed_norm": 1.0, "full": 1.0, "interference": (1 - k_arr**2) ** 0.25}
    norm_err = max(_max_abs(np.asarray(norms[model]) / expected[model] - 1) for model in PAIRS)
    checks, numbers = _bounded(
        models_push=(push_err, tolerance, ".0e", 1.0),
        models_lowdin=(lowdin_err, tolerance, ".0e"),
        models_norms=(norm_err, tolerance, ".0e", 1.0),
    )
    top, small = int(np.argmax(k_arr)), int(np.argmin(k_arr))
    numbers |= quotes("g", k_top=k_arr[top], k_small=k_arr[small])
    numbers |= quotes(".3f", half_small=half["fixed_norm"][small], end_norm_int=norms["interference"][top])
    numbers["ln2_half"] = quote(math.log(2) / 2, ".3f")
    numbers["half"] = Quotes({k: quote(half[k][top], ".1f" if k == "interference" else ".2f") for k in PAIRS})
    return Result(checks=checks, numbers=numbers, data=dict(kappa0s=k_arr, half=half))


def _series(x: np.ndarray, curves: dict[str, np.ndarray]) -> list[svgplot.Series]:
    """One line per model or flow of ``curves``, in its order (the full flow dashed)."""
    return [svgplot.Series(x, y, label=LABELS[k], color=COLORS[k], dashed=k == "full") for k, y in curves.items()]


def pair_figure(r: Result) -> Figure:
    """Left: ``kappa(t)`` of the three pair models from the largest ``kappa0`` of ``r`` (:func:`pair_models`), log
    scale. Right: the half time of each model against ``1 - kappa0`` over the range of ``r``."""
    kappa0 = float(np.max(r.data["kappa0s"]))
    t = np.linspace(0.0, 6.0, 241)
    curves = {k: fn.pair_kappa(k, kappa0, t) for k in PAIRS}
    title = f"two unit encodings, κ0 = {kappa0:g}"
    left = svgplot.Axes(_series(t, curves), xlabel="time $t$", ylabel=r"$\kappa(t)$", ylog=True, title=title)
    gap = np.geomspace(1 - kappa0, 1 - float(np.min(r.data["kappa0s"])), 60)
    halves = {k: np.array([fn.pair_half_time(k, 1 - x) for x in gap]) for k in PAIRS}
    right = svgplot.Axes(_series(gap, halves), xlabel=r"$1-\kappa_0$", ylabel="time to halve κ", xlog=True, ylog=True)
    return render([left, right], width=9.0)


# --- which model describes the full flow -----------------------------------------------------------------


def size_quotes(c: fn.SizeComparison) -> Quotes:
    """The numbers the prose quotes at this size: errors at the end (times ``sqrt(m)``, and in %), their
    first-order predictions, the ratio, ``x`` of chapter 4 and the drain ratio of chapter 3."""
    root, pred = math.sqrt(c.m), fn.predicted_model_errors(c.n, c.m, c.times)
    fixed, inter = c.mean("fixed_norm")[-1], c.mean("interference")[-1]
    return Quotes(
        quotes("d", n=c.n, m=c.m)
        | quotes(".1f", inter_pct=100 * inter, ratio=inter / fixed)
        | quotes(
            ".2f",
            fixed=fixed * root,
            inter=inter * root,
            fixed_pct=100 * fixed,
            fixed_pred=pred["fixed_norm"][-1] * root,
            inter_pred=pred["interference"][-1] * root,
            x=(c.n - 2) / math.sqrt(2 * math.pi * c.m),
            fb=(c.n - 1) / (2 * math.sqrt(2 * c.m)),
        )
    )


@runner(min_lengths=dict(seeds=2))
def flow_comparison(
    *,
    sizes: tuple[tuple[int, int], ...],
    seeds: tuple[int, ...],
    t_end: float,
    steps: int,
    rtol: float,
    confidence: float,
    crossover_band: float,
) -> Result:
    """Which model describes the full flow: at each ``(n, m)`` of ``sizes``, over ``seeds``, the relative error on
    the positive cosines of the fixed-norm flow and of interference alone, at ``steps`` times in ``[0, t_end]``.

    Checks, at each size: the fixed-norm model overtakes interference alone within ``crossover_band`` of the
    first-order crossing time :data:`~incidental.fixed_norm.CROSSOVER_FIRST_ORDER`; at ``t_end`` the two
    ``confidence`` intervals over seeds are disjoint, the fixed-norm one below, and the fixed-norm model is the
    better one in every draw. Numbers: ``first`` (the first size) and ``big`` (the largest ``n/sqrt(m)``) as
    :func:`size_quotes`; the ranges of the crossing time and of the error ratio over sizes.
    """
    times = np.linspace(0.0, t_end, steps)
    comps = [fn.compare_size(n, m, seeds=seeds, times=times, rtol=rtol, confidence=confidence) for n, m in sizes]
    checks = []
    for c in comps:
        at = dict(n=c.n, m=c.m)
        gap = float(c.interval("fixed_norm")[1][-1] - c.interval("interference")[0][-1])
        checks += [
            CHECKS.crossover.close(predicted=CROSS, measured=c.crossover, atol=crossover_band, at=at),
            CHECKS.stays.close(predicted=1.0, measured=c.stays_below, atol=0.0, at=at),
            CHECKS.gap.below(measured=gap, bound=0.0, t_end=t_end, at=at),
            CHECKS.every_draw.close(predicted=1.0, measured=c.fraction_better(-1), atol=0.0, t_end=t_end, at=at),
        ]
    big = max(comps, key=lambda c: c.n / math.sqrt(c.m))  # the size where interference moves the norms most
    ratios = [c.mean("interference")[-1] / c.mean("fixed_norm")[-1] for c in comps]
    crosses = [c.crossover for c in comps]
    numbers = {
        "first": size_quotes(comps[0]),
        "big": size_quotes(big),
        "ratio": quote(Interval(float(np.median(ratios)), min(ratios), max(ratios)), ".1f"),
        "cross": quote(Interval(float(np.median(crosses)), min(crosses), max(crosses)), ".2f"),
        "cross_pred": quote(CROSS, ".3f"),
        "draws": quote(len(seeds), "d"),
        "count": quote(len(sizes), "d"),
        "size_list": quote(", ".join(f"({n}, {m})" for n, m in sizes)),
        "percent": quote(100 * confidence, ".0f"),
    }
    return Result(checks=checks, numbers=numbers, data=dict(comparisons=comps, times=times))


def error_axes(times: np.ndarray, err: dict, n: int, m: int, band: dict | None = None, title: str = "") -> svgplot.Axes:
    """The two models' errors ``err`` (times ``sqrt(m)``) against time, with their bands ``(low, high)`` if given and
    their first-order predictions at ``(n, m)``."""
    root, pred = math.sqrt(m), fn.predicted_model_errors(n, m, times)
    series = [
        s
        for model in MODELS
        for s in figures.time_course(
            times,
            err[model] * root,
            pred[model] * root,
            label=LABELS[model],
            predicted_label="first order" if model == "fixed_norm" else "",
            low=None if band is None else band[model][0] * root,
            high=None if band is None else band[model][1] * root,
            color=COLORS[model],
        )
    ]
    ylabel = r"error on positive $\kappa$ × $\sqrt{m}$"
    return svgplot.Axes(series, xlabel="time $t$", ylabel=ylabel, vlines=[(CROSS, "")], title=title)


def comparison_figure(r: Result) -> Figure:
    """The verdict figure: one panel per size of ``r`` (:func:`flow_comparison`), two to a row."""
    panels = []
    for c in r.data["comparisons"]:
        err = {k: c.mean(k) for k in MODELS}
        band = {k: c.interval(k) for k in MODELS}
        panels.append(error_axes(c.times, err, c.n, c.m, band, title=f"n = {c.n}, m = {c.m}"))
    return render(panels, ncols=2, width=8.0, height=2.9)


def norms_figure(r: Result) -> Figure:
    """RMS of ``||W_i||^2 - 1`` times ``sqrt(m)`` over time in the full flow (left) and under interference alone
    (right), one curve per size of ``r`` (:func:`flow_comparison`); ``sqrt(2) e^{-2t}`` and ``sqrt(2)`` dashed."""
    comps, t = r.data["comparisons"], r.data["times"]
    axes = []
    for flow, ref, ref_label in (
        ("full", math.sqrt(2) * np.exp(-2 * t), r"$\sqrt{2}\,e^{-2t}$"),
        ("interference", np.full_like(t, math.sqrt(2)), r"$\sqrt{2}$"),
    ):
        series = [
            svgplot.Series(
                t, c.norm_dev[flow].mean(axis=0) * math.sqrt(c.m), label=f"n = {c.n}, m = {c.m}", color=color
            )
            for c, color in zip(comps, svgplot.PALETTE * len(comps))
        ]
        series.append(svgplot.Series(t, ref, label=ref_label, color="#000", dashed=True))
        ylabel = r"RMS $(\|W_i\|^2 - 1)$ × $\sqrt{m}$"
        axes.append(svgplot.Axes(series, xlabel="time $t$", ylabel=ylabel, title=LABELS[flow], ylim=(0.0, 4.0)))
    return render(axes, width=9.0)


# --- the conclusions of chapters 4 and 5 ------------------------------------------------------------------


@runner
def conclusions(
    *,
    n: int,
    m: int,
    seeds: tuple[int, ...],
    t_end: float,
    early: tuple[float, float],
    late: tuple[float, float],
    zero: float,
    rtol: float,
    tolerance: float,
) -> Result:
    """Chapters 4 and 5's findings measured in the three flows, at one ``(n, m)`` over ``seeds``.

    Per flow: the median decay rate of the initially interfering cosines over ``early`` (chapter 4's rate about 2),
    the decay rate of the RMS positive cosine over ``late`` (chapter 4's ``2 - x``), the least-squares slope of the
    total push ``P_ij`` on the Gram-Schmidt coefficient ``c_ij = G_ij/G_jj`` (chapter 5's half step), and at ``t_end``
    the fractions of pairs with ``sqrt(m) kappa > zero`` and with ``|sqrt(m) kappa| <= zero`` (chapter 5's end
    state). Checked: the fixed-norm flow's values are within ``tolerance`` of the full flow's.
    """
    for name, window in (("early", early), ("late", late)):
        if window[1] > t_end:
            raise ValueError(f"{name} must be a window inside [0, t_end], got {window} with t_end={t_end}")
    times = np.unique(np.array([0.0, *early, *late, t_end]))
    idx = {x: int(np.searchsorted(times, x)) for x in (*early, *late, t_end)}
    found = {k: {f: [] for f in THREE} for k in ("early", "late", "positive", "zero")}
    push = {f: [0.0, 0.0] for f in THREE}  # sums over seeds, in order, of P_ij c_ij and c_ij^2
    iu = np.triu_indices(n, k=1)
    for s in seeds:
        G0 = sample_gram(n, m, seed=s)
        mask = G0 > 0
        np.fill_diagonal(mask, False)
        for f, (Gs, Ps) in fn.three_flows(G0, times, rtol=rtol, push=True).items():
            K = fn.cosines(Gs)
            k0, k1 = K[idx[early[0]]][mask], K[idx[early[1]]][mask]
            ok = (k0 > 0) & (k1 > 0)
            found["early"][f].append(np.log(k0[ok] / k1[ok]) / (early[1] - early[0]))
            rms = [math.sqrt(np.mean(np.maximum(K[idx[x]][iu], 0.0) ** 2)) for x in late]
            found["late"][f].append(math.log(rms[0] / rms[1]) / (late[1] - late[0]))
            c = (Gs[0] / np.diag(Gs[0])[None, :])[mask]
            push[f][0] += float(np.sum(Ps[-1][mask] * c))
            push[f][1] += float(np.sum(c * c))
            x = K[-1][iu] * math.sqrt(m)
            found["positive"][f].append(np.mean(x > zero))
            found["zero"][f].append(np.mean(np.abs(x) <= zero))
    values = {
        "early": {f: float(np.median(np.concatenate(found["early"][f]))) for f in THREE},
        "late": {f: float(np.mean(found["late"][f])) for f in THREE},
        "slope": {f: push[f][0] / push[f][1] for f in THREE},
        "positive": {f: float(np.mean(found["positive"][f])) for f in THREE},
        "zero": {f: float(np.mean(found["zero"][f])) for f in THREE},
    }
    fields = dict(early=early, late=late, zero=zero, t_end=t_end)
    checks = [
        CHECKS[k].close(predicted=values[k]["full"], measured=values[k]["fixed_norm"], atol=tolerance, **fields)
        for k in values
    ]
    numbers = {f: Quotes({k: quote(values[k][f], ".3f") for k in values}) for f in THREE}
    numbers["late_pred"] = quote(2 - (n - 2) / math.sqrt(2 * math.pi * m), ".3f")
    numbers["max_dev"] = quote(max(abs(values[k]["fixed_norm"] - values[k]["full"]) for k in values), ".0e")
    return Result(checks=checks, numbers=numbers, data=dict(values=values))


def conclusions_table(r: Result) -> HTML:
    """The values of :func:`conclusions` as an HTML table, one column per flow."""
    rows = {
        "early": "decay rate of κ, early (ch. 4)",
        "late": "decay rate of κ, late (ch. 4: 2 − x)",
        "slope": "push / Gram-Schmidt coefficient (ch. 5)",
        "positive": "fraction of positive κ at the end (ch. 5)",
        "zero": "fraction of κ = 0 at the end (ch. 5)",
    }
    cell = "style='padding:2px 8px;text-align:right'"
    head = "".join(f"<th {cell}>{LABELS[f]}</th>" for f in THREE)
    body = "".join(
        f"<tr><td style='padding:2px 8px'>{label}</td>"
        + "".join(f"<td {cell}>{r.data['values'][k][f]:.4f}</td>" for f in THREE)
        + "</tr>"
        for k, label in rows.items()
    )
    return HTML(
        f"<table class='incidental-table' style='border-collapse:collapse;font-size:0.85em'><thead><tr>"
        f"<th></th>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


# --- widgets -------------------------------------------------------------------------------------------------


@runner
def three_flows_at(*, n: int, m: int, seed: int, t_end: float, steps: int, rtol: float) -> Result:
    """The three flows from one draw: each model's error on the positive cosines against the full flow, when the
    fixed-norm model becomes the better one, and how far each flow's squared norms are from 1 (the widget's)."""
    times = np.linspace(0.0, t_end, steps)
    runs = fn.three_flows(sample_gram(n, m, seed=seed), times, rtol=rtol)
    dev = {k: np.sqrt(np.mean((np.einsum("tii->ti", G) - 1.0) ** 2, axis=1)) for k, (G, _) in runs.items()}
    K = {k: fn.cosines(G) for k, (G, _) in runs.items()}
    err = {model: fn.positive_cosine_error(K[model], K["full"]) for model in MODELS}
    cross = fn.crossing_time(times, err["fixed_norm"] - err["interference"])
    checks = [
        CHECKS.crossover.close(predicted=CROSS, measured=cross, atol=0.3),
        CHECKS.ratio.below(measured=float(err["fixed_norm"][-1] / err["interference"][-1]), bound=1.0, t_end=t_end),
    ]
    off = ~np.eye(n, dtype=bool)
    rms = {f: float(np.sqrt(np.mean(np.maximum(K[f][-1], 0.0)[off] ** 2))) for f in THREE}
    return Result(checks=checks, data=dict(times=times, err=err, dev=dev, rms=rms))


def flows_panel(n: int, m: int, seed: int) -> Panel:
    """Widget panel: the three flows from one draw, side by side. Left: how far each flow's squared norms are from 1
    (what the three flows differ in). Right: each model's error on the positive cosines against the full flow, with
    the first-order prediction."""
    r = three_flows_at(n=n, m=m, seed=seed, t_end=4.0, steps=41, rtol=1e-8)
    times, err, dev, rms = (r.data[k] for k in ("times", "err", "dev", "rms"))
    root = math.sqrt(m)
    top = max(float(np.max(dev[f])) for f in THREE) * root
    series = _series(times, {f: dev[f] * root for f in THREE})
    left = svgplot.Axes(series, xlabel="time t", ylabel="RMS (‖W_i‖² − 1) × √m", ylim=(-0.05 * top, 1.8 * top))
    right = error_axes(times, err, n, m)
    note = (
        f"At t = {times[-1]:g} the RMS positive cosine is {rms['full']:.3g} in the full flow, "
        f"{rms['fixed_norm']:.3g} at fixed norm and {rms['interference']:.3g} under interference alone: the fixed-norm "
        f"model is off by {100 * err['fixed_norm'][-1]:.2f}% and interference alone by "
        f"{100 * err['interference'][-1]:.2f}% (relative, on the positive cosines)."
    )
    return Panel(r.checks, svgplot.svg([left, right], width=720, height=250), note)


def _live(name: str, label: str, default: float, low: float, high: float, **kw) -> Control:
    """A control known by its live range and default; the notebook's widget cell sets the book's grid."""
    return Control(name, label, tuple(sorted({low, default, high})), default, low=low, high=high, **kw)


def flows_explorable() -> Explorable:
    """Widget: the full flow, the fixed-norm flow and interference alone from one draw, side by side."""
    return Explorable(
        flows_panel,
        [
            _live("n", "features n", 16, 4, 128, kind="size"),
            _live("m", "neurons m", 4096, 128, 2**20, kind="size"),
            _live("seed", "seed", 0, 0, 99),
        ],
        title="Three flows from one draw: which model follows the full flow?",
    )


@runner
def pair_flow(*, kappa0: float, t_end: float, rtol: float) -> Result:
    """Two unit encodings from cosine ``kappa0``: the simulated constrained flow against the exact solution, and
    the three exact pair models (the widget's)."""
    G0 = fn.unit_pair_gram(kappa0)
    t = np.linspace(0.0, t_end, 81)
    curves = {k: fn.pair_kappa(k, kappa0, t) for k in PAIRS}
    Gs, Ps = fn.simulate_fixed_norm_gram_with_push(G0, t, rtol=rtol)
    checks = [
        CHECKS.widget_kappa.below(measured=_max_abs(Gs[:, 0, 1] - curves["fixed_norm"]), bound=1e-9),
        CHECKS.widget_push.close(predicted=pair_push_total(G0), measured=float(Ps[-1, 0, 1]), rtol=1e-6),
    ]
    halves = {k: fn.pair_half_time(k, kappa0) for k in PAIRS} if kappa0 > 0 else {}
    return Result(checks=checks, data=dict(t=t, curves=curves, halves=halves))


def pair_panel(kappa0: float) -> Panel:
    """Widget panel: two unit encodings from cosine ``kappa0`` under the three pair models, with the simulated
    constrained flow checked against the exact solution."""
    r = pair_flow(kappa0=float(kappa0), t_end=8.0, rtol=1e-12)
    curves, halves = r.data["curves"], r.data["halves"]
    series = _series(r.data["t"], {k: np.maximum(c, 1e-12) for k, c in curves.items()})
    low = max(1e-12, min(float(np.min(c)) for c in curves.values())) / 2
    ax = svgplot.Axes(series, xlabel="time t", ylabel="κ(t)", ylog=True, ylim=(low, 30.0))
    note = "Time to halve κ: " + ", ".join(f"{LABELS[k]} {halves[k]:.2f}" for k in PAIRS) + "." if halves else ""
    return Panel(r.checks, svgplot.svg(ax, width=520, height=250), note)


def pair_explorable() -> Explorable:
    """Widget: the starting cosine of two unit encodings against the three exact pair solutions."""
    return Explorable(
        pair_panel,
        [_live("kappa0", "start κ0", 0.99, 0.01, 0.999, kind="float", step=0.001)],
        title="Two encodings: fixed norm against free norms",
    )


def explorables() -> dict[str, Explorable]:
    """Fresh instances of this chapter's widgets, by name."""
    return {"three flows": flows_explorable(), "pair models": pair_explorable()}
