"""Chapter 5 (Total push): the experiments of claims T1-T4 and the chapter's widgets.

Runners simulate **the interference phase** in Gram space (the shared :func:`incidental.runs.phase`) to their
knob ``t_end``, under interference alone unless a check names the full flow (feature benefit + interference,
``lam = 0``). The formulas and the statistics of the push live in :mod:`incidental.exact`,
:mod:`incidental.derivation` and :mod:`incidental.theory`; the captions in the notebook.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from .. import derivation, figures, theory
from ..book import Result, quote, quotes, runner
from ..checks import Interval, declarations, fit_exponent
from ..exact import lowdin, pair_interference, pair_limit_weights, pair_norm_sq_loss, pair_push_total, unit_pair_ratios
from ..explore import Control, Explorable, Panel
from ..flow import simulate, simulate_gram_phase, simulate_gram_with_push
from ..model import sample_weights
from ..plotting import render
from ..runs import FLOWS, INTERFERENCE, PhaseRun, phase
from ..svgplot import PALETTE, Axes, Series, svg

GREY = "#9ab"
CHECKS = declarations("total_push")  # the check table: chapters/checks/total_push.yaml


def _require(ok: bool, message: str) -> None:
    """A knob constraint that the type hints cannot say (the message names the knob)."""
    if not ok:
        raise ValueError(message)


def seeds_for(n: int, *, pairs: int, base: int) -> tuple[int, ...]:
    """Seeds ``base, base + 1, ...``: enough draws that about ``pairs`` ordered pairs are pooled at size ``n``."""
    return tuple(base + k for k in range(max(1, pairs // (n * n))))


def pooled_columns(n_m_seeds, *, t_end: float, rtol: float, flow: str = "interference") -> dict[str, np.ndarray]:
    """:func:`incidental.theory.push_statistics` of the phases at each ``(n, m, seeds)``, by statistic."""
    pools = [[phase(n, m, draw, flow=flow, t_end=t_end, rtol=rtol) for draw in seeds] for n, m, seeds in n_m_seeds]
    rows = [theory.push_statistics(pool) for pool in pools]
    return {key: np.array([row[key] for row in rows]) for key in rows[0]}


# --- T1, T2: two encodings exactly, then many encodings pair by pair ---------------------------------------


@runner
def two_encodings(
    *,
    m: int,
    pairs: int,
    seed: int,
    t_end: float,
    rtol: float,
    overlaps: tuple[float, ...],
    tolerance: float,
    end_tolerance: float,
    g_min: float,
    g_max: float,
    g_count: int,
) -> Result:
    """T1, T2 for two encodings: the simulated push and norm loss of ``pairs`` random interfering pairs in ``R^m``
    (interference alone to ``t_end``) against the exact formulas; the exact end point of unit pairs with the
    ``overlaps`` against Loewdin; the exact ratios to one Gram-Schmidt step from ``g_min`` to ``g_max`` (figure)."""
    _require(max(overlaps) < 1, f"overlaps must lie below 1, got {overlaps}")
    _require(g_min < g_max < 1, f"g_max must lie between g_min and 1, got g_min={g_min}, g_max={g_max}")
    push_err = loss_err = lib_err = sum_err = end_err = 0.0
    times = np.linspace(0.0, t_end, 3)
    for k in range(pairs):
        W0 = sample_weights(2, m, seed=seed + k)
        W0[1] *= np.sign(W0[0] @ W0[1])  # an interfering pair
        G0 = W0 @ W0.T
        ph = simulate_gram_phase(G0, times, terms=INTERFERENCE, rtol=rtol, loss=True)
        lib = simulate_gram_with_push(G0, times, terms=INTERFERENCE, rtol=rtol)[1][-1, 0, 1]
        push, loss, drops = pair_push_total(G0), pair_norm_sq_loss(G0), np.diag(G0) - np.diag(ph.G[-1])
        push_err = max(push_err, abs(ph.P[-1, 0, 1] - push) / push)
        lib_err = max(lib_err, abs(lib - push) / push)
        loss_err = max(loss_err, float(np.max(np.abs(drops - loss))) / loss)
        sum_err = max(sum_err, float(np.max(np.abs(ph.L[-1].sum(axis=1) - drops))) / loss)
    for k, g in enumerate(overlaps):  # two unit encodings with overlap exactly g, in a random orientation
        Q, _ = np.linalg.qr(np.random.default_rng(seed + k).normal(size=(m, 2)))
        W0 = np.array([[1.0, 0.0], [g, math.sqrt(1 - g * g)]]) @ Q.T
        end = pair_interference(W0, [0.0, t_end])[-1]
        lo = float(np.max(np.abs(end - (1 - g * g) ** 0.25 * lowdin(W0))))
        end_err = max(end_err, lo, float(np.max(np.abs(end - pair_limit_weights(W0)))))
    gs = np.linspace(g_min, g_max, g_count)
    push_ratio, loss_ratio = unit_pair_ratios(gs)
    errors = dict(pair_push=(push_err, tolerance), library=(lib_err, tolerance), lowdin=(end_err, end_tolerance))
    errors |= dict(pair_loss=(loss_err, tolerance), loss_sum=(sum_err, tolerance))
    checks = [CHECKS[k].below(measured=e, bound=b, scale=1.0, at=dict(n=2)) for k, (e, b) in errors.items()]
    numbers = quotes(".1e", push_err=push_err, loss_err=loss_err) | {"lowdin_err": quote(end_err, ".0e")}
    numbers |= quotes(".4f", push_small=push_ratio[0], loss_small=loss_ratio[0])
    numbers |= quotes(".2f", push_big=push_ratio[-1], loss_big=loss_ratio[-1])
    return Result(checks=checks, numbers=numbers, data=dict(g=gs, push_ratio=push_ratio, loss_ratio=loss_ratio))


def two_encodings_figure(r: Result) -> Figure:
    """The exact ratios of the two-encoding push and norm loss to one Gram-Schmidt step, against ``g``."""
    data = r.data
    series = [
        Series(data["g"], data["push_ratio"], label="total push / Gram-Schmidt coefficient"),
        Series(data["g"], data["loss_ratio"], label=r"loss of $\|W_i\|^2$ / Gram-Schmidt loss", color=PALETTE[1]),
    ]
    top = float(max(data["push_ratio"].max(), data["loss_ratio"].max()))
    labels = dict(xlabel="overlap $g$ of two unit encodings", ylabel="ratio to one Gram-Schmidt step")
    hlines = [(0.5, "1/2"), (1.0, "one Gram-Schmidt step")]
    return render(Axes(series, hlines=hlines, ylim=(0.4, max(1.05, top + 0.05)), **labels), width=5.6, height=3.0)


def scatter_axes(c: np.ndarray, P: np.ndarray, *, title: str = "", mark=None, xlim=None) -> Axes:
    """``sqrt(m) P_ij`` against ``sqrt(m) c_ij`` (points), with Gram-Schmidt's ``P = c`` and the pair
    prediction ``P = c/2``; ``mark`` = ``(c, P, label)`` highlights one pair. Shared by figure and widget."""
    line = np.array([0.0, float(max(np.max(c), 1e-9)) if xlim is None else xlim[1]])
    series = [
        Series(c, P, label="interfering pairs", kind="points", color=GREY),
        Series(line, line, label="Gram-Schmidt: $P = c$", color=PALETTE[1], dashed=True),
        Series(line, line / 2, label="half a step: $P = c/2$", color=PALETTE[2]),
    ]
    if mark is not None:
        series.append(Series([mark[0]], [mark[1]], label=mark[2], kind="points", color="#000"))
    labels = dict(xlabel=r"$\sqrt{m}\,c_{ij}$ (Gram-Schmidt coefficient)", ylabel=r"$\sqrt{m}\,P_{ij}$ (total push)")
    return Axes(series, title=title, xlim=xlim, ylim=None if xlim is None else (0.0, xlim[1]), **labels)


@runner(min_lengths=dict(ms=2))
def push_scatter(*, n: int, ms: tuple[int, ...], seed: int, t_end: float, rtol: float) -> Result:
    """One draw of ``n`` encodings at each ``m`` of ``ms``, interference alone to ``t_end``: ``(sqrt(m) c_ij,
    sqrt(m) P_ij)`` over the interfering pairs, the slope of ``P`` on ``c`` and its prediction."""
    points, spreads = [], []
    for m in ms:
        run = phase(n, m, seed, flow="interference", t_end=t_end, rtol=rtol)
        c, P = derivation.gram_schmidt_coefficient(run.G0)[run.interfering], run.push[run.interfering]
        points.append((c * math.sqrt(m), P * math.sqrt(m)))
        spreads.append(100 * float(np.sqrt(np.mean((P - c / 2) ** 2)) / np.mean(P)))
    slopes = pooled_columns([(n, m, (seed,)) for m in ms], t_end=t_end, rtol=rtol)["slope"]
    numbers = {}
    for end, k in dict(first=0, last=-1).items():
        numbers |= {f"m_{end}": quote(ms[k], "d"), f"spread_{end}": quote(spreads[k], ".1f")}
        numbers |= quotes(".3f", **{f"slope_{end}": slopes[k], f"pred_{end}": theory.push_slope_prediction(n, ms[k])})
    return Result(numbers=numbers, data=dict(points=points))


def push_scatter_figure(r: Result) -> Figure:
    """One scatter panel per ``m``."""
    n, ms = r.params["n"], r.params["ms"]
    xlim = (0.0, 1.05 * max(float(np.max(c)) for c, _ in r.data["points"]))
    panels = [scatter_axes(c, P, title=f"n = {n}, m = {m}", xlim=xlim) for m, (c, P) in zip(ms, r.data["points"])]
    return render(panels, width=8.0, height=3.4)


# --- T1-T3 pooled over draws: third encodings (in n), the orders and constants (in m) ------------------------


@runner(min_lengths=dict(ns=3))
def third_encodings(
    *,
    m: int,
    ns: tuple[int, ...],
    pairs: int,
    seed: int,
    t_end: float,
    rtol: float,
    shift_rtol: float,
    drop_rtol: float,
) -> Result:
    """T1 (third encodings) and T3 in ``n`` at fixed ``m``, interference alone to ``t_end``: exponents of the
    mean extra push and its spread in ``n - 2`` and of the mean norm drop in ``n - 1``; the constants against
    their derivations (about ``pairs`` ordered pairs pooled per ``n``)."""
    _require(min(ns) >= 3, f"ns must hold sizes n >= 3 (a third encoding), got {ns}")
    sweep = [(n, m, seeds_for(n, pairs=pairs, base=seed + 1000 * k)) for k, n in enumerate(ns)]
    col, n_arr = pooled_columns(sweep, t_end=t_end, rtol=rtol), np.asarray(ns, dtype=float)
    c_shift, f_shift = CHECKS.shift_n.exponent(sizes=n_arr - 2, values=col["shift"], predicted=1.0)
    c_spread, f_spread = CHECKS.spread_n.exponent(sizes=n_arr - 2, values=col["spread"], predicted=0.5)
    c_drop, f_drop = CHECKS.drop_n.exponent(sizes=n_arr - 1, values=col["mean_drop"], predicted=1.0)
    shift_const, spread_const = float(np.mean(col["shift_units"])), float(np.mean(col["spread_units"]))
    drop_ratio = col["mean_drop"] / col["pair_drop"]
    lifted = float(np.mean(drop_ratio / np.array([theory.loss_lift(n, m) for n in ns])))
    c_const = CHECKS.shift_const.close(predicted=1 / (8 * math.pi), measured=shift_const, rtol=shift_rtol)
    c_lift = CHECKS.drop_lift.close(predicted=1.0, measured=lifted, rtol=drop_rtol)
    checks = [c_shift, c_const, c_spread, c_drop, c_lift]
    numbers = quotes(".2f", shift=f_shift, spread=f_spread, drop_n=f_drop, spread_const=spread_const)
    numbers |= quotes(".4f", shift_const=shift_const, shift_pred=1 / (8 * math.pi), drop_ratio=np.mean(drop_ratio))
    numbers |= quotes(".2f", spread_rel=spread_const * math.sqrt(2 * math.pi)) | dict(n_min=ns[0], n_max=ns[-1])
    return Result(checks=checks, numbers=numbers, data=dict(n=n_arr, col=col))


def third_axes(x: np.ndarray, col: dict[str, np.ndarray], *, xlabel: str, xlog: bool) -> Axes:
    """The extra push in units of ``(n-2)/m`` and its spread in units of ``sqrt(n-2)/m`` (columns of
    :func:`pooled_columns`), measured points joined by lines, against ``x``."""
    labels = dict(shift_units=r"mean extra push $\times\, m/(n-2)$", spread_units=r"spread $\times\, m/\sqrt{n-2}$")
    series = [
        Series(x, col[key], label=label if kind == "points" else "", kind=kind, color=PALETTE[k])
        for k, (key, label) in enumerate(labels.items())
        for kind in ("points", "line")
    ]
    top = float(max(np.max(col["shift_units"]), np.max(col["spread_units"]), 1 / (8 * math.pi)))
    hlines = [(1 / (8 * math.pi), r"derived $1/(8\pi)$")]
    return Axes(series, xlabel=xlabel, ylabel="extra push, rescaled", xlog=xlog, hlines=hlines, ylim=(0.0, 1.4 * top))


def third_encodings_figure(r: Result) -> Figure:
    """The third encodings' extra push and its spread, rescaled, against ``n``."""
    return render(third_axes(r.data["n"], r.data["col"], xlabel="features $n$", xlog=False), width=5.6, height=3.0)


M_LAWS = (  # the means fitted over m: key, label, predicted exponent, derivation (checks <key>_m, <key>_const)
    ("push", r"mean push $P_{ij}$", -0.5, theory.expected_push),
    ("loss", r"mean per-pair loss $L_{ij}$", -1.0, theory.expected_pair_loss),
    ("drop", r"mean drop of $\|W_i\|^2$", -1.0, theory.expected_norm_drop),
)


@runner(min_lengths=dict(ms=3))
def m_scaling(
    *,
    n: int,
    ms: tuple[int, ...],
    draws: int,
    seed: int,
    t_end: float,
    rtol: float,
    m_large: int,
    exponent_tolerance: float,
    constant_rtol: float,
    slope_tolerance: float,
    ratio_rtol: float,
    convergence_bound: float,
    full_tolerance: float,
) -> Result:
    """T1, T2 (and T3 in ``m``): exponents of the mean push, the mean per-pair loss and the mean norm drop over
    ``ms`` at ``n`` (``draws`` draws each, interference alone to ``t_end``); their constants over
    ``m >= m_large`` against the derivations; the slope of ``P`` on ``c`` (half a Gram-Schmidt step); the same
    slope under the full flow (one draw per ``m``)."""
    _require(m_large <= max(ms), f"m_large must not exceed the largest m, got m_large={m_large}, ms up to {max(ms)}")
    sweep = [(n, m, tuple(seed + draws * k + r for r in range(draws))) for k, m in enumerate(ms)]
    col = pooled_columns(sweep, t_end=t_end, rtol=rtol)
    first = [(n, m, seeds[:1]) for _, m, seeds in sweep]  # one draw per m under each flow
    slope = {flow: pooled_columns(first, flow=flow, t_end=t_end, rtol=rtol)["slope"] for flow in FLOWS}
    m_arr = np.asarray(ms, dtype=float)
    big, large = m_arr >= m_large, dict(ms=tuple(m for m in ms if m >= m_large))
    # the fading (n-2)/sqrt(m) terms of the means steepen the fitted slopes a little: exponent_tolerance allows it
    laws, fits = {}, {}
    for key, _, exponent, law in M_LAWS:
        values, tol = col[f"mean_{key}"], exponent_tolerance
        check, fits[key] = CHECKS[f"{key}_m"].exponent(sizes=m_arr, values=values, predicted=exponent, tolerance=tol)
        ratio = float(np.mean((values / np.array([law(n, int(m)) for m in ms]))[big]))
        laws[key] = [check, CHECKS[f"{key}_const"].close(predicted=1.0, measured=ratio, rtol=constant_rtol, at=large)]
    slope_pred = np.array([theory.push_slope_prediction(n, int(m)) for m in ms])
    slope_dev = float(np.max(np.abs(col["slope"] / slope_pred - 1)[big]))
    full_dev = float(np.max(np.abs(slope["full"] / slope["interference"] - 1)))
    loss_ratio = float(np.mean((col["mean_loss"] / col["mean_gs_loss"])[big]))
    converged = dict(measured=max(col["convergence"]), bound=convergence_bound, scale=1.0, t_end=t_end)
    c_half = CHECKS.half_step.below(measured=slope_dev, bound=slope_tolerance, scale=1.0, at=large)
    c_full = CHECKS.full_slope.below(measured=full_dev, bound=full_tolerance, scale=1.0, at=dict(draws=1))
    c_loss = CHECKS.loss_half.close(predicted=0.5, measured=loss_ratio, rtol=ratio_rtol, at=large)
    checks = [CHECKS.converged.below(**converged), *laws["push"], c_half, c_full, *laws["loss"], c_loss, *laws["drop"]]
    drop_const = np.mean((col["mean_drop"] * m_arr / (n - 1))[big])
    numbers = quotes(".3f", push=fits["push"], loss=fits["loss"], drop_m=fits["drop"], loss_ratio=loss_ratio)
    numbers |= quotes(".3f", push_const=col["mean_push"][-1] * math.sqrt(ms[-1]), slope_small=col["slope"][0])
    numbers |= quotes(".3f", push_const_pred=1 / math.sqrt(2 * math.pi), drop_const=drop_const)
    numbers |= quotes(".2f", third_small=(n - 2) / math.sqrt(ms[0])) | dict(m_min=ms[0])
    numbers |= quotes(".1f", decades=math.log10(ms[-1] / ms[0])) | quotes(".1e", slope_full_dev=full_dev)
    numbers |= quotes(".4f", slope_big=col["slope"][-1]) | quotes(".2e", m_max=ms[-1])
    return Result(checks=checks, numbers=numbers, data=dict(m=m_arr, col=col, fits=fits))


def m_scaling_figure(r: Result) -> Figure:
    """Left: the three means against ``m``, fitted and predicted; right: the extra push and its spread, rescaled."""
    d, n = r.data, r.params["n"]
    ms, series = [int(m) for m in d["m"]], []
    for k, (key, label, _, law) in enumerate(M_LAWS):
        predicted = figures.through(ms, [law(n, m) for m in ms])
        labels = dict(label=label, predicted_label="" if k else "predicted", color=PALETTE[k])
        series += figures.power_law(d["m"], d["col"][f"mean_{key}"], fit=d["fits"][key], predicted=predicted, **labels)
    for s in series:  # one legend entry per measured quantity, one for the predictions
        s.label = "" if s.dashed else s.label
    left = figures.power_law_axes(series, xlabel="neurons $m$", ylabel="mean over interfering pairs / encodings")
    return render([left, third_axes(d["m"], d["col"], xlabel="neurons $m$", xlog=True)], width=10.0, height=3.6)


# --- T3: how far each encoding moves ---------------------------------------------------------------------------


@runner(min_lengths=dict(ns=3, ms=3))
def displacement(
    *,
    ns: tuple[int, ...],
    m: int,
    ms: tuple[int, ...],
    n: int,
    pairs: int,
    seed: int,
    t_end: float,
    rtol: float,
    weight_n: int,
    weight_m: int,
    weight_rtol: float,
    weight_bound: float,
    picture_bound: float,
    exponent_tolerance: float,
    constant_rtol: float,
) -> Result:
    """T3: how far each encoding moves over the phase (interference alone), from the transport ``W(t) = M(t) W(0)``
    of the Gram flow: exponent fits over ``ns`` (in ``n - 1``) at ``m`` and over ``ms`` at ``n``, the constant against
    :func:`incidental.theory.expected_displacement`, the error of the total-push model ``W(end) - W(0) ~ -P W(0)``;
    the transport is checked against a weight-space run at ``weight_n``, ``weight_m``."""

    def transported(size_n: int, size_m: int, base: int) -> tuple[float, float]:
        run = dict(flow="interference", t_end=t_end, rtol=rtol, count=2, transport=True)
        draws = seeds_for(size_n, pairs=pairs, base=base)
        return theory.displacement_statistics([phase(size_n, size_m, draw, **run) for draw in draws])

    by_n = np.array([transported(size, m, seed + 1000 * k)[0] for k, size in enumerate(ns)])
    on_m = [transported(n, size, seed + 100 * k) for k, size in enumerate(ms)]
    by_m, picture = (np.array(x) for x in zip(*on_m))
    # the weight-space flow against the transport, and the total-push model W(end) - W(0) ~ -P W(0) there
    W0 = sample_weights(weight_n, weight_m, seed=seed)
    W = simulate(W0, [0.0, t_end], terms=INTERFERENCE, rtol=weight_rtol)[-1]
    ph = simulate_gram_phase(W0 @ W0.T, [0.0, t_end], terms=INTERFERENCE, rtol=weight_rtol, transport=True)
    weight_err = float(np.max(np.abs(W - ph.M[-1] @ W0)))
    moved = W - W0
    weight_disp = float(np.sqrt(np.mean((np.linalg.norm(moved, axis=1) / np.linalg.norm(W0, axis=1)) ** 2)))
    weight_picture = float(np.linalg.norm(moved + ph.P[-1] @ W0) / np.linalg.norm(moved))
    n_arr, m_arr, tol = np.asarray(ns, float), np.asarray(ms, float), exponent_tolerance
    c_n, f_n = CHECKS.disp_n.exponent(sizes=n_arr - 1, values=by_n, predicted=0.5)
    c_m, f_m = CHECKS.disp_m.exponent(sizes=m_arr, values=by_m, predicted=-0.5, tolerance=tol)
    c_pic, f_pic = CHECKS.picture_m.exponent(sizes=m_arr, values=picture, predicted=-0.5, tolerance=tol)
    law = theory.expected_displacement
    predicted = np.array([law(size, m) for size in ns] + [law(n, size) for size in ms])
    const = float(np.mean(np.concatenate([by_n, by_m]) / predicted))
    weight = dict(n=weight_n, m=weight_m)
    c_transport = CHECKS.transport.below(measured=weight_err, bound=weight_bound, scale=1.0, at=weight)
    c_const = CHECKS.disp_const.close(predicted=1.0, measured=const, rtol=constant_rtol)
    c_picture = CHECKS.picture.below(measured=weight_picture, bound=picture_bound, scale=1.0, at=weight)
    checks = [c_transport, c_n, c_m, c_const, c_picture, c_pic]
    f_abs = fit_exponent(m_arr, picture * by_m)
    numbers = quotes(".3f", disp_n=f_n, disp_m=f_m, picture=f_pic, disp_const=const, disp_max=by_n[-1])
    numbers |= quotes(".3f", disp_weight=weight_disp, picture_weight=weight_picture) | quotes(".2f", picture_abs=f_abs)
    numbers |= dict(n_min=ns[0], n_max=ns[-1], m_min=ms[0], m_max=ms[-1])
    data = dict(n=n_arr, m=m_arr, by_n=by_n, by_m=by_m, picture_abs=picture * by_m, fits=(f_n, f_m, f_abs))
    return Result(checks=checks, numbers=numbers, data=data)


def displacement_figure(r: Result) -> Figure:
    """The relative displacement against ``n`` and ``m`` with the prediction, and what the total-push model misses."""
    d, p, law = r.data, r.params, theory.expected_displacement
    f_n, f_m, f_abs = d["fits"]
    ns, ms = [int(n) for n in d["n"]], [int(m) for m in d["m"]]
    on_n = figures.through(d["n"] - 1, [law(n, p["m"]) for n in ns])
    on_m = figures.through(ms, [law(p["n"], m) for m in ms])
    left = figures.power_law_axes(
        figures.power_law(d["n"] - 1, d["by_n"], label="displacement", fit=f_n, predicted=on_n),
        xlabel=f"other encodings $n - 1$ ($m = {p['m']}$)",
        ylabel=r"RMS $\|W_i(\mathrm{end}) - W_i(0)\| / \|W_i(0)\|$",
    )
    missed = figures.power_law(d["m"], d["picture_abs"], label=r"missed by $-P\,W(0)$", fit=f_abs, color=PALETTE[4])
    right = figures.power_law_axes(
        figures.power_law(d["m"], d["by_m"], label="displacement", fit=f_m, predicted=on_m) + missed,
        xlabel=f"neurons $m$ ($n = {p['n']}$)",
        ylabel=r"RMS, relative to $\|W_i(0)\|$",
    )
    return render([left, right], width=10.0, height=3.6)


# --- T4: what the encodings look like after the phase -------------------------------------------------------


@runner
def directions(
    *,
    n: int,
    m: int,
    seeds: tuple[int, ...],
    t_end: float,
    rtol: float,
    rotation_n: int,
    rotation_m: int,
    rotation_t: float,
    rotation_tolerance: float,
    p_level: float,
) -> Result:
    """T4 (a): the flow commutes with rotations (both flows, weight space: the largest ``|flow(W0 Q) - flow(W0) Q|``
    for a random orthogonal ``Q``); the squared first coordinate of each ``W_i(end)/|W_i(end)|`` (interference
    alone to ``t_end``, pooled over ``seeds``) against its exact law for a uniform unit vector in ``R^m``,
    ``Beta(1/2, (m-1)/2)`` (Kolmogorov-Smirnov)."""
    ends = [
        simulate(sample_weights(n, m, seed=draw), [0.0, t_end], terms=INTERFERENCE, rtol=rtol)[-1] for draw in seeds
    ]
    first = np.concatenate([W[:, 0] ** 2 / np.sum(W**2, axis=1) for W in ends])  # squared first coordinates
    p = float(stats.kstest(first, stats.beta(0.5, (m - 1) / 2).cdf).pvalue)
    W0 = sample_weights(rotation_n, rotation_m, seed=seeds[0])
    Q = stats.ortho_group.rvs(rotation_m, random_state=np.random.default_rng(seeds[0] + 1))
    rot = 0.0
    for terms in FLOWS.values():
        rotated, plain = (simulate(W, [0.0, rotation_t], terms=terms, rtol=1e-12)[-1] for W in (W0 @ Q, W0))
        rot = max(rot, float(np.max(np.abs(rotated - plain @ Q))))
    at = dict(n=rotation_n, m=rotation_m, t_end=rotation_t)
    c_rotation = CHECKS.rotation.below(measured=rot, bound=rotation_tolerance, scale=1.0, at=at)
    checks = [c_rotation, CHECKS.uniform.p_value(p=p, level=p_level)]
    return Result(checks=checks, numbers=quotes(".2f", p=p) | quotes(".0e", rotation=rot) | dict(draws=len(seeds)))


@runner
def end_law(
    *,
    n: int,
    ms: tuple[int, ...],
    seed: int,
    t_end: float,
    rtol: float,
    zero: float,
    se_count: float,
    positive_bound: float,
    lift_rtol: float,
    p_level: float,
    norm_bound: float,
    spread_rtol: float,
    flow_bound: float,
) -> Result:
    """T4 (b, c): the overlaps and norms at the end of the interference phase against those of independent
    uniform unit vectors, and against the push model (:func:`incidental.theory.end_cdf`). One draw of
    ``G(0)`` per ``m`` of ``ms``, run to ``t_end`` under interference alone and under the full flow."""
    rows, samples = [], []
    for k, m in enumerate(ms):
        run, full = (phase(n, m, seed + k, flow=flow, t_end=t_end, rtol=rtol) for flow in ("interference", "full"))
        x, x0, norms = run.kappa(), run.kappa(0), np.diag(run.G[-1])
        row = dict(control_p=stats.kstest(x0, "norm").pvalue, norm_full=np.max(np.abs(np.diag(full.G[-1]) - 1)))
        row |= dict(norm_spread=np.sqrt(np.mean((norms - 1) ** 2)) / math.sqrt(2 / m))
        row["flow_diff"] = np.max(np.abs(full.kappa() - x))
        rows.append(theory.end_statistics(x, x0, n, m, zero=zero) | row)
        samples.append(x)
    col = {key: np.array([float(r[key]) for r in rows]) for key in rows[0]}
    laws = (theory.atom_prediction, theory.end_mean_prediction, theory.negative_lift)
    atoms, means, lifts = (np.array([law(n, m) for m in ms]) for law in laws)
    pairs = n * (n - 1) // 2
    atom_se, worst_se = math.sqrt(0.25 / pairs), float(np.max(col["se"]))
    worst = dict(atom=float(np.max(np.abs(col["at_zero"] - atoms))), mean=float(np.max(np.abs(col["mean"] - means))))
    lift_ratio, spread = float(np.mean(col["lift"] / lifts)), float(np.mean(col["norm_spread"]))
    neg_p = float(np.min(col["neg_p"]))
    checks = [
        CHECKS.control.p_value(p=float(np.min(col["control_p"])), level=p_level, at=dict(t_end=0.0)),
        CHECKS.unit_norms.below(measured=max(col["norm_full"]), bound=norm_bound, scale=math.sqrt(2 / max(ms))),
        CHECKS.norm_spread.close(predicted=1.0, measured=spread, rtol=spread_rtol),
        CHECKS.same_overlaps.below(measured=max(col["flow_diff"]), bound=flow_bound, scale=1.0),
        CHECKS.no_positive.below(measured=max(col["positive"]), bound=positive_bound, scale=0.5, zero=zero),
        CHECKS.atom.close(predicted=0.0, measured=worst["atom"], atol=se_count * atom_se),
        CHECKS.mean.close(predicted=0.0, measured=worst["mean"], atol=se_count * worst_se),
        CHECKS.lift.close(predicted=1.0, measured=lift_ratio, rtol=lift_rtol),
        CHECKS.negative.p_value(p=neg_p, level=p_level),
    ]
    mean, half = col["mean"][-1], 2 * col["se"][-1]
    at_zero, lift = col["at_zero"], col["lift"]
    numbers = dict(pairs=pairs, m_min=ms[0], m_max=ms[-1]) | quotes(".3f", zero_se=atom_se, mean_pred_last=means[-1])
    numbers |= quotes(".3f", positive=max(col["positive"]), zero_lo=at_zero.min(), zero_hi=at_zero.max())
    numbers |= quotes(".3f", zero_pred_lo=atoms.min(), zero_pred_hi=atoms.max(), zero_last=at_zero[-1])
    numbers |= quotes(".3f", mean_last=Interval(mean, mean - half, mean + half))
    numbers |= quotes(".4f", lift_first=lift[0], lift_pred_first=lifts[0])
    numbers |= quotes(".1e", lift_last=lift[-1], lift_pred_last=lifts[-1])
    numbers |= quotes(".2f", lift_ratio=lift_ratio, neg_p=neg_p, norm_spread=spread)
    numbers |= quotes(".0e", norm_full=max(col["norm_full"]), flow_diff=max(col["flow_diff"]))
    return Result(checks=checks, numbers=numbers, data=dict(samples=tuple(samples)))


def end_axes(samples: dict[str, np.ndarray], n: int, m: int, *, zero: float, label: str = "") -> list[Axes]:
    """Two panels for samples of ``sqrt(m) kappa`` at the end, by label: the last one's negative side (histogram)
    against ``N(0,1)`` and the push picture, with its atom at 0 marked; the distribution functions of all."""
    x = list(samples.values())[-1]
    edges = np.linspace(-4, 4, 41 if x.size >= 1000 else 17)  # wider bins for a small sample
    heights = np.histogram(x[x < -zero], bins=edges)[0] / (x.size * (edges[1] - edges[0]))
    grid = np.linspace(-4, 4, 161)
    left, atom, lift = grid[grid < 0], float(np.mean(np.abs(x) <= zero)), theory.negative_lift(n, m)
    normal = dict(label="N(0,1): independent vectors", color=GREY, dashed=True)
    pushed = dict(label="push model", color="#000", dashed=True)
    density = [Series(edges, heights, label="end, κ < 0 (density)", kind="steps")]
    density += [Series(grid, stats.norm.pdf(grid), **normal), Series(left, stats.norm.pdf(left - lift), **pushed)]
    xlabel = r"$\sqrt{m}\,\kappa_{ij}$ at the end"
    hist = Axes(
        density,
        xlabel=xlabel + (f" ({label})" if label else ""),
        ylabel="density",
        vlines=[(0.0, f"atom at 0: {atom:.2f} of pairs")],
        ylim=(0.0, max(0.5, 1.15 * float(heights.max()))),
    )
    cdf = [
        Series(np.sort(y), np.arange(1, y.size + 1) / y.size, label=name, color=PALETTE[k % 8])
        for k, (name, y) in enumerate(samples.items())
    ]
    cdf += [Series(grid, stats.norm.cdf(grid), **normal), Series(grid, theory.end_cdf(grid, n, m), **pushed)]
    return [hist, Axes(cdf, xlabel=xlabel, ylabel="fraction of pairs below", xlim=(-4.0, 4.0), ylim=(0.0, 1.02))]


def end_law_figure(r: Result) -> Figure:
    """The overlaps at the end at the largest ``m`` (histogram) and at every ``m`` (distribution functions)."""
    n, ms, zero = r.params["n"], r.params["ms"], r.params["zero"]
    samples = {f"m = {m}": x for m, x in zip(ms, r.data["samples"])}
    return render(end_axes(samples, n, ms[-1], zero=zero, label=f"m = {ms[-1]}"), width=10.0, height=3.6)


# --- widgets -------------------------------------------------------------------------------------------------

WIDGET_T_END = 15.0  # the widgets' interference phase: positive overlaps decay like e^{-2t}, e^{-30} ~ 1e-13
WIDGET_ZERO = 1e-3  # |sqrt(m) kappa| below this counts as "at 0"
C_FLUCT = 0.2  # spread of a pair's push around its prediction, in units of sqrt(n-2)/m (measured above)


def ranked_pair(run: PhaseRun, rank: int) -> tuple[int, int]:
    """The pair ``(i, j)``, ``i < j``, with the ``rank``-th largest ``G_ij(0)`` (clipped to the interfering pairs)."""
    upper = np.triu_indices(run.n, k=1)
    order = np.argsort(-run.G0[upper])[: max(1, int(np.sum(run.G0[upper] > 0)))]
    k = order[min(max(rank, 1), len(order)) - 1]
    return int(upper[0][k]), int(upper[1][k])


def push_panel(n: int, m: int, seed: int, pair: int) -> Panel:
    """Widget panel for T1-T3: one pair's push against the Gram-Schmidt coefficient and its half, the slope over
    all pairs, the mean norm drop; the scatter of P against c and the pair's P(t) with its overlap.

    The mean drop over ``i`` fluctuates like a mean over the ``n(n-1)/2`` pair losses (the drops share their
    pairs, ``L_ij = L_ji``): relative standard deviation ``sqrt(10 / (n (n-1)))``. Below about ``n = 9`` three
    of them exceed the prediction itself, and the T3 row is shown unresolved (too few pairs to tell)."""
    run = phase(n, m, seed, flow="interference", t_end=WIDGET_T_END, rtol=1e-9, count=61)  # 61 times: the course
    i, j = ranked_pair(run, pair)
    c, P, mask = derivation.gram_schmidt_coefficient(run.G0), run.push, run.interfering
    sigma = C_FLUCT * math.sqrt(max(n - 2, 1)) / m
    cij, s = c[i, j], math.sqrt(m)
    fields = dict(i=i, j=j, c=cij, half=cij / 2, gs=derivation.gram_schmidt_norm_loss(run.G0)[i, j])
    pushed = dict(predicted=derivation.pair_push_prediction(run.G0)[i, j] + theory.push_shift(n, m), measured=P[i, j])
    lost = dict(predicted=derivation.pair_loss_prediction(run.G0)[i, j], measured=run.L[-1][i, j])
    pooled = theory.push_statistics([run])
    slope = dict(predicted=theory.push_slope_prediction(n, m), measured=pooled["slope"])
    dropped = dict(predicted=theory.expected_norm_drop(n, m), measured=pooled["mean_drop"])
    checks = [
        CHECKS.w_push.close(**pushed, atol=3 * sigma, **fields),
        CHECKS.w_slope.close(**slope, atol=4 * sigma / math.sqrt(float(np.sum(c[mask] ** 2)))),
        CHECKS.w_loss.close(**lost, rtol=0.2 + 6 * sigma / max(float(P[i, j]), 1e-300), **fields),
        CHECKS.w_drop.close(**dropped, rtol=3 * math.sqrt(10 / (n * (n - 1)))),
    ]
    scatter = scatter_axes(c[mask] * s, P[mask] * s, mark=(cij * s, P[i, j] * s, f"pair ({i},{j})"))
    settle = float(run.times[np.argmax(run.P[:, i, j] >= 0.999 * P[i, j])])
    relu = np.maximum(run.G[:, i, j], 0) * s
    course = Axes(
        figures.time_course(run.times, run.P[:, i, j] * s, label="√m P_ij(t), push so far")
        + figures.time_course(run.times, relu, label="√m ReLU(G_ij(t))", color=PALETTE[4]),
        xlabel="time t",
        ylabel="× √m",
        hlines=[(cij * s, "√m c_ij (one Gram-Schmidt step)"), (cij * s / 2, "half of it")],
        xlim=(0.0, min(WIDGET_T_END, max(3.0, 2 * settle))),
        ylim=(0.0, 1.45 * max(cij, run.G0[i, j]) * s),
    )
    note = f"Pair ({i},{j}) starts at √m G_ij = {run.G0[i, j] * s:.3f}; its push settles at {P[i, j] / cij:.3f} × c_ij."
    return Panel(checks, svg([scatter, course], width=720, height=250), note)


def push_explorable() -> Explorable:
    """Widget: sizes, seed and pair against the total push and the norm loss (T1-T3); the notebook sets the grids."""
    controls = [
        Control("n", "features n", (32, 64), 32, kind="size", low=4, high=64),
        Control("m", "neurons m", (4096, 2**20), 4096, kind="size", low=64, high=2**20),
        Control("seed", "seed", (0, 99), 0, low=0, high=99),
        Control("pair", "pair (rank)", (1, 40), 1, low=1, high=40),
    ]
    title = "Total push: Gram-Schmidt coefficient, its half, and what the flow does"
    return Explorable(push_panel, controls, title=title)


def end_panel(n: int, m: int, seed: int) -> Panel:
    """Widget panel for T4: the overlaps after the phase against independent vectors and the push model."""
    run = phase(n, m, seed, flow="interference", t_end=WIDGET_T_END, rtol=1e-7)
    x = run.kappa()
    st = theory.end_statistics(x, run.kappa(0), n, m, zero=WIDGET_ZERO)
    atom = dict(predicted=theory.atom_prediction(n, m), measured=st["at_zero"], atol=1.5 / math.sqrt(x.size))
    checks = [
        CHECKS.w_positive.below(measured=st["positive"], bound=0.01, scale=0.5, zero=WIDGET_ZERO),
        CHECKS.w_atom.close(**atom),
        CHECKS.w_mean.close(predicted=theory.end_mean_prediction(n, m), measured=st["mean"], atol=3 * st["se"]),
        CHECKS.w_negative.p_value(p=st["neg_p"], level=0.01),
    ]
    return Panel(checks, svg(end_axes({"end (measured)": x}, n, m, zero=WIDGET_ZERO), width=720, height=250))


def end_explorable() -> Explorable:
    """Widget: sizes and seed against the law of the overlaps after the phase (T4); the notebook sets the grids."""
    controls = [
        Control("n", "features n", (16, 64), 64, kind="size", low=4, high=64),
        Control("m", "neurons m", (16384, 2**22), 16384, kind="size", low=256, high=2**22),
        Control("seed", "seed", (0, 99), 0, low=0, high=99),
    ]
    return Explorable(end_panel, controls, title="After the phase: like independent uniform unit vectors?")


def explorables() -> dict[str, Explorable]:
    """Fresh explorables of this chapter, by name."""
    return {"push": push_explorable(), "end": end_explorable()}
