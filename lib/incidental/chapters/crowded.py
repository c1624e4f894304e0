"""Chapter 8 (The crowded regime): the note's steps across the load ``n/m`` up to ``m = n``, the push scatter
constant derived, and the late decay rate once ``nu = (n-2)/sqrt(2 pi m)`` is of order 1.

Runners take every knob as a keyword argument (the notebook's knobs cells); the checks are declared in
``chapters/checks/crowded.yaml``; the formulas of the regime live in :mod:`incidental.crowding`, those of the
earlier chapters in :mod:`incidental.theory`.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from .. import crowding, svgplot, theory
from ..book import Result, quote, quotes, runner
from ..checks import declarations
from ..derivation import interfering_pair_terms
from ..explore import Control, Explorable, Panel
from ..plotting import render
from ..runs import phase
from ..svgplot import PALETTE, Axes, Series

CHECKS = declarations("crowded")  # the check table: chapters/checks/crowded.yaml

Ints = tuple[int, ...]
Window = tuple[float, float]
STEPS = (  # key, label, the earlier chapters' prediction
    ("r", "first-order rate: median error (ch. 2)", theory.second_order_ratio),
    ("drop", "norm drop (ch. 5)", theory.expected_norm_drop),
    ("slope", "push / Gram-Schmidt (ch. 5)", theory.push_slope_prediction),
    ("late", "late decay rate (ch. 4)", theory.late_collective_rate),
)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def step_point(n: int, m: int, seed: int, *, t_end: float, rtol: float, late: dict) -> dict[str, float]:
    """The four steps measured at one ``(n, m)`` from one draw (interference alone), with their predictions:
    ``r`` (median relative error of the first-order rate at ``t = 0``), ``drop`` (mean drop of ``||W_i||^2`` by
    ``t_end``), ``slope`` (push on the Gram-Schmidt coefficient), ``late`` (decay rate on ``late["window"]`` of a
    run to ``late["t_end"]`` with ``late["points"]`` samples); ``positive``, the fraction of pairs with
    ``sqrt(m) kappa > late["zero"]`` at ``t_end``; ``convergence`` of the push."""
    ph = phase(n, m, seed, flow="interference", rtol=rtol, t_end=t_end)
    stats = theory.push_statistics([ph])
    fine = phase(
        n, m, seed, flow="interference", rtol=late["rtol"], t_end=late["t_end"], count=late["points"], accumulate=False
    )
    out = dict(
        r=float(np.median(interfering_pair_terms(ph.G0)["relative_error"])),
        drop=stats["mean_drop"],
        slope=stats["slope"],
        late=fine.pairs.late_rate(late["window"]),
        positive=float(np.mean(ph.kappa(-1) > late["zero"])),
        convergence=stats["convergence"],
        load=(n - 2) / m,
        nu=theory.drift_strength(n, m),
    )
    for key, _label, predict in STEPS:
        out[f"{key}_pred"] = predict(n, m)
        p = out[f"{key}_pred"]
        out[f"{key}_err"] = abs(out[key] / p - 1) if p > 0 else math.inf
    return out


@runner(min_lengths=dict(ms=3))
def across_load(
    *,
    n: int,
    ms: Ints,
    seed: int,
    t_end: float,
    rtol: float,
    late_end: float,
    late_points: int,
    late_rtol: float,
    late_window: Window,
    small_rtol: float,
    step_rtol: float,
    load_floor: float,
    zero: float,
    unresolved_level: float,
) -> Result:
    """C1: the four steps of the earlier chapters at ``n`` features over the neurons ``ms`` (loads ``(n-2)/m``
    up to ``m = n``), one draw each: close to their predictions at the smallest load, each within ``step_rtol`` up
    to a load of at least ``load_floor``; at the largest load the late rate positive (``2 - nu`` is not) and the
    overlaps unresolved (more than ``unresolved_level`` of the pairs still positive at ``t_end``)."""
    _require(late_window[1] <= late_end, f"late_window must end by late_end={late_end}, got {late_window}")
    late = dict(t_end=late_end, points=late_points, rtol=late_rtol, window=late_window, zero=zero)
    pts = sorted((step_point(n, m, seed, t_end=t_end, rtol=rtol, late=late) for m in ms), key=lambda p: p["load"])
    small, big = pts[0], pts[-1]
    m_small, m_big = int(round((n - 2) / small["load"])), int(round((n - 2) / big["load"]))
    checks = [
        CHECKS[f"{key}_small"].close(
            predicted=small[f"{key}_pred"], measured=small[key], rtol=small_rtol, at=dict(m=m_small)
        )
        for key, _label, _p in STEPS
    ]
    off = [p["load"] for p in pts if max(p[f"{key}_err"] for key, *_ in STEPS) > step_rtol]
    hold = min(off) if off else big["load"]
    checks.append(CHECKS.hold_load.above(measured=hold, bound=load_floor, step_rtol=step_rtol, load_floor=load_floor))
    checks.append(CHECKS.late_positive.above(measured=big["late"], bound=0.0, at=dict(m=m_big)))
    checks.append(
        CHECKS.unresolved.above(measured=big["positive"], bound=unresolved_level, at=dict(m=m_big), zero=zero)
    )
    breaks = {}
    for key, *_ in STEPS:
        loads = [p["load"] for p in pts if p[f"{key}_err"] > step_rtol]
        breaks[f"{key}_break"] = quote(min(loads) if loads else "none", ".3g" if loads else "")
    numbers = dict(breaks, hold=quote(hold, ".3g"), m_small=m_small, m_big=m_big)
    for name, p in (("small", small), ("big", big)):
        numbers |= {f"{k}_{name}": quote(p[k], ".3g") for k in ("load", "nu", "positive", "convergence")}
        for key, *_ in STEPS:
            numbers[f"{key}_{name}"] = quote(p[key], ".3f")
            numbers[f"{key}_pred_{name}"] = quote(p[f"{key}_pred"], ".3f")
    numbers["lifted_big"] = quote(crowding.lifted_late_rate(n, m_big), ".3f")
    return Result(checks=checks, numbers=numbers, data=dict(points=pts))


def load_axes(pts: list[dict], *, step_rtol: float) -> list[Axes]:
    """Left: each step's relative error against the load; right: the late decay rate against the load with
    ``2 - nu`` and the lifted ``2 - mu'``."""
    load = np.array([p["load"] for p in pts])
    errors = []
    for k, (key, label, _p) in enumerate(STEPS):
        err = np.array([p[f"{key}_err"] for p in pts])
        ok = np.isfinite(err) & (err > 0)
        errors += [
            Series(load[ok], err[ok], label=label, kind="points", color=PALETTE[k]),
            Series(load[ok], err[ok], kind="line", color=PALETTE[k]),
        ]
    left = Axes(
        errors,
        xlabel="load $(n-2)/m$",
        ylabel="|measured / predicted - 1|",
        xlog=True,
        ylog=True,
        hlines=[(step_rtol, f"{step_rtol:.0%}")],
    )
    grid = np.geomspace(load.min(), load.max(), 60)
    nu_grid = np.interp(np.log(grid), np.log(load), np.array([p["nu"] for p in pts]))
    lifted = [2 - crowding.lifted_coupling_nu(nu) for nu in nu_grid]
    right = Axes(
        [
            Series(load, [p["late"] for p in pts], label="measured late rate", kind="points", color=PALETTE[0]),
            Series(grid, 2 - nu_grid, label="2 − ν (ch. 4)", color="#000", dashed=True),
            Series(grid, lifted, label="2 − μ' (lifted, derived here)", color=PALETTE[2]),
        ],
        xlabel="load $(n-2)/m$",
        ylabel="late decay rate",
        xlog=True,
        ylim=(-0.5, 2.2),
        hlines=[(0.0, "")],
    )
    return [left, right]


def across_load_figure(r: Result) -> Figure:
    """The steps across the load (:func:`load_axes`)."""
    return render(load_axes(r.data["points"], step_rtol=r.params["step_rtol"]), width=10.0, height=3.4)


# --- C2: the push scatter constant -------------------------------------------------------------------


@runner(min_lengths=dict(ms=3))
def push_scatter(*, n: int, ms: Ints, pairs: int, seed: int, t_end: float, rtol: float, const_rtol: float) -> Result:
    """C2: the spread of ``P_ij`` around the two-encoding push over the interfering pairs, in units of
    ``sqrt(n-2)/m`` (interference alone to ``t_end``, draws pooled to about ``pairs`` ordered pairs per ``m``),
    against the derived :func:`incidental.crowding.push_scatter_constant`: extrapolated linearly in ``nu`` to
    ``nu = 0``, and at the smallest ``nu``."""
    _require(n >= 3, f"n must be at least 3 (a third encoding), got {n}")
    draws = max(1, pairs // (n * (n - 1) // 2))
    spread, nu = [], []
    for k, m in enumerate(ms):
        runs = [phase(n, m, seed + 1000 * k + d, flow="interference", t_end=t_end, rtol=rtol) for d in range(draws)]
        spread.append(theory.push_statistics(runs)["spread_units"])
        nu.append(theory.drift_strength(n, m))
    spread, nu = np.array(spread), np.array(nu)
    slope, intercept = np.polyfit(nu, spread, 1)
    derived = crowding.push_scatter_constant()
    low = int(np.argmin(nu))
    checks = [
        CHECKS.scatter_const.close(predicted=derived, measured=float(intercept), rtol=const_rtol),
        CHECKS.scatter_small.close(predicted=derived, measured=float(spread[low]), rtol=const_rtol, at=dict(m=ms[low])),
    ]
    numbers = quotes(".4f", derived=derived, intercept=intercept, smallest=spread[low], largest=spread[np.argmax(nu)])
    numbers |= quotes(".3f", slope=slope, nu_min=nu.min(), nu_max=nu.max(), relative=slope / derived)
    numbers |= dict(draws=draws, pairs_per_m=draws * n * (n - 1) // 2, m_min=min(ms), m_max=max(ms))
    return Result(checks=checks, numbers=numbers, data=dict(nu=nu, spread=spread, slope=slope, intercept=intercept))


def scatter_axes(r: Result) -> Axes:
    """The measured spread constant against ``nu``, its linear fit and the derived constant."""
    nu, d = r.data["nu"], r.data
    grid = np.linspace(0.0, float(nu.max()) * 1.05, 20)
    derived = crowding.push_scatter_constant()
    series = [
        Series(nu, d["spread"], label="measured spread × m/√(n−2)", kind="points", color=PALETTE[0]),
        Series(grid, d["intercept"] + d["slope"] * grid, label="linear fit in ν", color=PALETTE[0], dashed=True),
        Series([0.0, grid[-1]], [derived, derived], label="derived √(3 − 1/π²)/8", color=PALETTE[2]),
    ]
    top = float(max(np.max(d["spread"]), derived)) * 1.08
    return Axes(
        series, xlabel=r"crowding $\nu = (n-2)/\sqrt{2\pi m}$", ylabel="spread constant", ylim=(0.9 * derived, top)
    )


def push_scatter_figure(r: Result) -> Figure:
    return render(scatter_axes(r), width=6.0, height=3.2)


# --- C3: the late decay rate ---------------------------------------------------------------------------


@runner(min_lengths=dict(sizes=3))
def late_decay(
    *,
    sizes: tuple[tuple[int, int], ...],
    seed: int,
    t_end: float,
    points: int,
    rtol: float,
    late_window: Window,
    nu_max: float,
    nu_lift: float,
    lift_n_min: int,
    linear_atol: float,
    lift_atol: float,
) -> Result:
    """C3: the late decay rate (on ``late_window``, interference alone, one draw per ``(n, m)`` of ``sizes``)
    against the Perron rate of the flow linearised at the window's start
    (:func:`incidental.crowding.linearised_late_rate`) for ``nu <= nu_max``, and against the lifted closed form
    ``2 - mu'`` for ``nu <= nu_lift`` and ``n >= lift_n_min``; ``2 - nu`` beside, and how far the closed form is off
    elsewhere."""
    _require(late_window[1] <= t_end, f"late_window must end by t_end={t_end}, got {late_window}")
    rows = []
    for n, m in sizes:
        run = phase(n, m, seed, flow="interference", rtol=rtol, t_end=t_end, count=points, accumulate=False)
        at = int(np.argmin(np.abs(run.times - late_window[0])))
        rows.append(
            dict(
                n=n,
                m=m,
                load=(n - 2) / m,
                nu=theory.drift_strength(n, m),
                late=run.pairs.late_rate(late_window),
                linear=crowding.linearised_late_rate(run.G[at]),
                lifted=crowding.lifted_late_rate(n, m),
                simple=theory.late_collective_rate(n, m),
                positive=float(np.mean(run.kappa(at) > 0)),
            )
        )
    rows.sort(key=lambda row: row["nu"])
    lin = [abs(row["late"] - row["linear"]) for row in rows if row["nu"] <= nu_max]
    lifted_ok = [row["nu"] <= nu_lift and row["n"] >= lift_n_min for row in rows]
    lift = [abs(row["late"] - row["lifted"]) for row, ok in zip(rows, lifted_ok) if ok]
    _require(bool(lin) and bool(lift), f"sizes must give nu at most nu_max={nu_max} and nu_lift={nu_lift}")
    checks = [
        CHECKS.linear_rate.below(
            measured=max(lin), bound=linear_atol, scale=1.0, at_time=late_window[0], nu_max=nu_max
        ),
        CHECKS.lifted_rate.below(
            measured=max(lift), bound=lift_atol, scale=1.0, nu_lift=nu_lift, lift_n_min=lift_n_min
        ),
    ]
    others = [row for row, ok in zip(rows, lifted_ok) if not ok]
    small_n = [row for row in others if row["n"] < lift_n_min]
    far = [row for row in others if row["n"] >= lift_n_min]
    numbers = quotes(".3f", linear_err=max(lin), lift_err=max(lift))
    picks = dict(mid=min(rows, key=lambda row: abs(row["nu"] - 1.5) + (row["n"] < lift_n_min)))
    if small_n:
        picks["miss"] = max(small_n, key=lambda row: abs(row["late"] - row["lifted"]))
    if far:
        picks["top"] = max(far, key=lambda row: row["nu"])
    for name, row in picks.items():
        numbers |= {
            f"{name}_{k}": quote(row[k], ".3f") for k in ("nu", "late", "linear", "lifted", "simple", "positive")
        }
        numbers |= {f"{name}_{k}": quote(row[k], "d") for k in ("n", "m")} | {f"{name}_load": quote(row["load"], ".2f")}
        numbers[f"{name}_off"] = quote(abs(row["late"] - row["lifted"]), ".2f")
    beyond = others
    numbers |= quotes(".2f", peak_nu=crowding.lifted_coupling_peak()[0], peak_mu=crowding.lifted_coupling_peak()[1])
    numbers["beyond"] = len(beyond)
    return Result(checks=checks, numbers=numbers, data=dict(rows=rows))


def late_axes(rows: list[dict]) -> Axes:
    """The late decay rate against ``nu``: measured, the linearised Perron rate, ``2 - mu'`` and ``2 - nu``."""
    nu = np.array([row["nu"] for row in rows])
    grid = np.geomspace(nu.min(), nu.max(), 60)
    ns = sorted({row["n"] for row in rows}, reverse=True)
    series = [
        Series(
            [row["nu"] for row in rows if row["n"] == n],
            [row["late"] for row in rows if row["n"] == n],
            label=f"measured, n = {n}",
            kind="points",
            color=(PALETTE[0], PALETTE[4], PALETTE[5])[k % 3],
        )
        for k, n in enumerate(ns)
    ]
    series += [
        Series(nu, [row["linear"] for row in rows], label="linearised flow (Perron)", kind="points", color=PALETTE[1]),
        Series(grid, [2 - crowding.lifted_coupling_nu(x) for x in grid], label="2 − μ' (lifted)", color=PALETTE[2]),
        Series(grid, 2 - grid, label="2 − ν (ch. 4)", color="#000", dashed=True),
    ]
    return Axes(
        series,
        xlabel=r"crowding $\nu = (n-2)/\sqrt{2\pi m}$",
        ylabel="late decay rate",
        xlog=True,
        ylim=(-1.0, 2.2),
        hlines=[(0.0, "")],
    )


def late_decay_figure(r: Result) -> Figure:
    return render(late_axes(r.data["rows"]), width=6.4, height=3.4)


# --- the widget ------------------------------------------------------------------------------------

WIDGET = dict(seed=0, t_end=15.0, rtol=1e-7, late=dict(t_end=6.0, points=121, rtol=1e-10, window=(4.0, 6.0), zero=1e-3))


def load_panel(n: int, m: int, rtol: float = 0.1) -> Panel:
    """One ``(n, m)``: the four steps against their predictions (checks at relative tolerance ``rtol``) and the
    interference left along the flow against the decays ``e^{-2t}``, ``e^{-(2 - nu)t}`` and ``e^{-(2 - mu')t}``."""
    if m < n:
        return Panel([], "", note=f"m = {m} is below n = {n}: the model needs m ≥ n")
    w = WIDGET
    p = step_point(n, m, w["seed"], t_end=w["t_end"], rtol=w["rtol"], late=w["late"])
    checks = [
        CHECKS[f"{key}_small"].close(predicted=p[f"{key}_pred"], measured=p[key], rtol=rtol, at=dict(n=n, m=m))
        for key, *_ in STEPS
    ]
    late = w["late"]
    run = phase(
        n,
        m,
        w["seed"],
        flow="interference",
        rtol=late["rtol"],
        t_end=late["t_end"],
        count=late["points"],
        accumulate=False,
    )
    t, rms = run.times, run.pairs.remaining_rms()
    start = float(rms[0])
    series = [Series(t, rms, label="RMS of ReLU(κ) over pairs", color=PALETTE[0])]
    for rate, label, color in (
        (2.0, "e^(−2t)", "#000"),
        (2 - p["nu"], f"e^(−(2−ν)t), ν = {p['nu']:.2f}", PALETTE[1]),
        (crowding.lifted_late_rate(n, m), "e^(−(2−μ')t)", PALETTE[2]),
    ):
        series.append(Series(t, start * np.exp(-rate * t), label=label, color=color, dashed=True))
    axes = Axes(
        series,
        xlabel="time t",
        ylabel="interference left",
        ylog=True,
        ylim=(max(float(rms.min()) / 3, 1e-12), start * 2),
    )
    note = f"load (n−2)/m = {p['load']:.3g}; {p['positive']:.0%} of the pairs still positive at t = {w['t_end']:g}"
    return Panel(checks, svgplot.svg(axes, width=560, height=260), note=note)


def load_explorable() -> Explorable:
    """Widget: the steps of chapters 2-5 at one load, held or broken."""
    return Explorable(
        load_panel,
        [
            Control("n", "features n", (32, 64), 32, kind="size", low=8, high=128),
            Control("m", "neurons m", (64, 256, 1024, 4096), 4096, kind="size", low=8, high=65536),
        ],
        title="The crowded regime: which steps hold at this load",
    )


def explorables() -> dict[str, Explorable]:
    """Fresh instances of this chapter's widgets, by name."""
    return {"steps at a load": load_explorable()}


# --- the whole model's end state at m = n (chapter 7's recorded sweep) -------------------------------------

SWEEP = "book/data/whole_count_sweep.jsonl"  # recorded by scripts/sweep_whole.py (chapter 7)


@runner
def end_state(*, confidence: float, ratio_rtol: float) -> Result:
    """C1 (end state): chapter 7's recorded count of polysemantic neurons over the picture's
    ``n(n-1)/(2(2m-1))``, pooled over the runs at ``m = n`` (and, for contrast, at ``m = 2n``), with a
    ``confidence`` interval; the check: within ``ratio_rtol`` of 1 at ``m = n``."""
    from .. import whole
    from ..book import repository_root

    header, runs = whole.read_sweep(repository_root() / SWEEP)
    at = {k: [r for r in runs if r["m"] == k * r["n"]] for k in (1, 2)}
    _require(bool(at[1]), f"the recorded sweep {SWEEP} has no run at m = n")
    equal, double = (whole.count_ratio(at[k], confidence) for k in (1, 2))
    check = CHECKS.end_count.close(predicted=1.0, measured=float(equal.value), rtol=ratio_rtol, at=dict(m="n"))
    numbers = quotes(".2f", equal=equal, double=double) | dict(
        runs=len(at[1]), ns=", ".join(str(n) for n in header["n"]), lam_rule=header["settings"]["lam_rule"]
    )
    return Result(checks=[check], numbers=numbers, data=dict(runs=runs))
