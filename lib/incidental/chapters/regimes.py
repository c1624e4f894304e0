"""Chapter 9 (Where each result holds): a measured map of the book's results over the plane of ``n`` and ``m``
(and ``lam sqrt(m)`` as a second view), with the derived boundaries drawn over it.

The map is recorded once by ``scripts/record_regimes.py`` (:func:`record`: the chapters' own checks run at
every point of a grid; minutes), into ``book/data/regimes.json``; the page reads the record
(:func:`regime_map`), so it builds in seconds. Each result says whose check it runs: chapter 1's S3 check
(:func:`incidental.chapters.setup.s3_check`) for the second view, and the declared checks with which
chapter 8 tests the formulas of chapters 2-5 at one load (:func:`incidental.chapters.crowded.step_point`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .. import svgplot, theory
from ..book import Result, quote, repository_root, runner
from ..checks import Check, declarations
from ..explore import Control, Explorable, Panel
from ..plotting import render
from ..svgplot import Axes, Series
from . import crowded, setup

CHECKS = declarations("regimes")  # the check table: chapters/checks/regimes.yaml
STEP = crowded.CHECKS  # chapter 8's declared checks of the formulas of chapters 2-5
RECORD = Path("book") / "data" / "regimes.json"
TOLERANCE = 0.1  # every result is judged at this relative tolerance (its chapter's "10%")


@dataclass(frozen=True)
class Regime:
    """One result of the book as the map shows it: how to judge it at a recorded point, and its derived
    boundary ``n = boundary(m)`` (``None`` if the book derives none), on whose small-``n`` side it holds (for
    ``n >= n_min``: below it the result fails for a reason the boundary does not describe)."""

    key: str
    claim: str
    chapter: str
    label: str
    judge: Callable[[dict], Check]
    boundary: Callable[[float], float] | None
    boundary_label: str
    n_min: int = 0  # the boundary is compared with the measured map for n >= n_min only


def _close(name: str, key: str) -> Callable[[dict], Check]:
    return lambda p: STEP[name].close(
        predicted=p[f"{key}_pred"], measured=p[key], rtol=TOLERANCE, at=dict(n=p["n"], m=p["m"])
    )


def _fixed(name: str, key: str, value: float) -> Callable[[dict], Check]:
    return lambda p: STEP[name].close(predicted=value, measured=p[key], rtol=TOLERANCE, at=dict(n=p["n"], m=p["m"]))


REGIMES: tuple[Regime, ...] = (
    Regime(
        "first_order",
        "N3",
        "02_numerator",
        "first-order rate ≤ 10% off (t = 0)",
        lambda p: CHECKS.first_order.below(measured=p["r"], bound=TOLERANCE, scale=1.0, at=dict(n=p["n"], m=p["m"])),
        lambda m: 2 + TOLERANCE**2 * 8 / 3 * m,
        "(n−2)/m = 0.027: √(3(n−2)/8m) = 10%",
    ),
    Regime("r_law", "N2", "02_numerator", "initial error law √(3(n−2)/8m)", _close("r_small", "r"), None, ""),
    Regime(
        "norm_share",
        "D3",
        "03_denominator",
        "interference sets the lengths' rate",
        lambda p: CHECKS.norm_share.below(measured=p["fb_ratio"], bound=1.0, scale=10.0, at=dict(n=p["n"], m=p["m"])),
        None,
        "",
    ),
    Regime(
        "rate_two",
        "K2",
        "04_combined_rate",
        "late decay at the note's rate 2",
        _fixed("late_small", "late", 2.0),
        lambda m: 2 + 0.2 * math.sqrt(2 * math.pi * m),
        "ν = 0.2: 2 − ν = 2 to 10%",
    ),
    Regime(
        "rate_nu",
        "K2",
        "04_combined_rate",
        "late decay at 2 − ν",
        _close("late_small", "late"),
        lambda m: 2 + math.sqrt(2 * math.pi * m),
        "ν = 1 (n ≥ 32)",
        n_min=32,
    ),
    Regime(
        "half_step",
        "T1",
        "05_total_push",
        "push = half a Gram-Schmidt step",
        _fixed("slope_small", "slope", 0.5),
        lambda m: 2 + 0.05 * 8 * math.pi * math.sqrt(m) / math.sqrt(2 / math.pi),
        "first-order slope = 0.55",
    ),
    Regime("drop", "T3", "05_total_push", "norm drop (n−1)/4m, lifted", _close("drop_small", "drop"), None, ""),
)
"""The results the map shows, in the book's order."""


def _crossover(m: float) -> float:
    return 1 + 2 * math.sqrt(2 * m)


# chapter 3's derived boundary holds on the other side (interference dominates for n - 1 > 2 sqrt(2m))
NORM_BOUNDARY = (_crossover, "n − 1 = 2√(2m)")


# --- recording (scripts/record_regimes.py) ---------------------------------------------------------------


def feature_benefit_ratio(n: int, m: int, seeds: tuple[int, ...]) -> float:
    """RMS of feature benefit's share ``2(1 - a_i)`` over the mean size of interference's share ``(n-1)/m`` at
    initialisation (chapter 3), measured over the draws ``seeds``: below 1 where interference dominates."""
    from ..model import sample_gram

    fb, inter = [], []
    for s in seeds:
        G = sample_gram(n, m, seed=s)
        a = np.diag(G)
        R = np.maximum(G, 0.0)
        np.fill_diagonal(R, 0.0)
        fb.append(2 * (1 - a))
        inter.append(2 * np.sum(R**2, axis=1) / a)
    return float(np.sqrt(np.mean(np.concatenate(fb) ** 2)) / np.mean(np.concatenate(inter)))


def record(
    *,
    ns: tuple[int, ...],
    ms: tuple[int, ...],
    draws: int,
    lam_ms: tuple[int, ...],
    lam_sqrt_ms: tuple[float, ...],
    n_lam: int,
) -> dict:
    """The map (a JSON-ready dict): at every ``(n, m)`` with ``m >= n``, chapter 8's measurement of the steps
    (:func:`incidental.chapters.crowded.step_point`, averaged over ``max(2, draws // n)`` draws, fresh at every
    ``m``) and chapter 3's norm-rate ratio; and chapter 1's S3 error at ``n_lam`` over ``lam_ms`` and
    ``lam_sqrt_ms``."""
    w = crowded.WIDGET
    points = []
    for n in ns:
        for k, m in enumerate(ms):
            if m < n:
                continue
            seeds = tuple(range(1000 * k, 1000 * k + max(2, draws // n)))  # fresh draws at every m
            runs = [crowded.step_point(n, m, s, t_end=w["t_end"], rtol=w["rtol"], late=w["late"]) for s in seeds]
            p = {k: float(np.mean([r[k] for r in runs])) for k in runs[0] if not k.endswith("_err")}
            p |= dict(n=n, m=m, draws=len(seeds), fb_ratio=feature_benefit_ratio(n, m, seeds))
            points.append(p)
    lam_points = [
        dict(n=n_lam, m=m, lam_sqrt_m=x, error=setup.regularization_kappa_error(n_lam, m, x / math.sqrt(m), seed=0))
        for m in lam_ms
        for x in lam_sqrt_ms
    ]
    settings = dict(ns=ns, ms=ms, draws=draws, lam_ms=lam_ms, lam_sqrt_ms=lam_sqrt_ms, n_lam=n_lam, widget=w)
    return dict(settings=json.loads(json.dumps(settings)), points=points, lam_points=lam_points)


def read_record(path: Path | None = None) -> dict:
    """The recorded map (``book/data/regimes.json``)."""
    path = path or repository_root() / RECORD
    if not path.exists():
        raise ValueError(f"record: {path} is missing: run scripts/record_regimes.py")
    return json.loads(path.read_text())


# --- the page ---------------------------------------------------------------------------------------------


def judged(rec: dict) -> dict[str, list[tuple[dict, Check]]]:
    """Every result's check at every recorded point, by result key."""
    return {r.key: [(p, r.judge(p)) for p in rec["points"]] for r in REGIMES}


def _side(regime: Regime, p: dict) -> bool | None:
    """Whether ``p`` lies where the derived boundary says the result holds (``None``: no boundary)."""
    if regime.key == "norm_share":
        return p["n"] > NORM_BOUNDARY[0](p["m"])
    if regime.boundary is None or p["n"] < regime.n_min:
        return None
    return p["n"] < regime.boundary(p["m"])


@runner
def regime_map(*, agreement_level: float, lam_tolerance: float, lam_small: float) -> Result:
    """R1: for every result with a derived boundary, the fraction of recorded points where the measured verdict
    (holds or not) is on the side of the boundary that the derivation says, at least ``agreement_level``;
    R2: chapter 1's S3 error below ``lam_tolerance`` at every recorded ``lam sqrt(m) <= lam_small``."""
    rec = read_record()
    verdicts = judged(rec)
    checks, numbers, rows = [], {}, []
    for r in REGIMES:
        pairs = verdicts[r.key]
        held = [c.holds for _p, c in pairs]
        sides = [_side(r, p) for p, _c in pairs]
        row = dict(key=r.key, claim=r.claim, label=r.label, held=int(sum(held)), points=len(held))
        if any(s is not None for s in sides):
            agree = float(np.mean([h == s for h, s in zip(held, sides) if s is not None]))
            row["agree"] = agree
            checks.append(CHECKS.boundary.above(measured=agree, bound=agreement_level, result=r.label))
            numbers[f"agree_{r.key}"] = quote(agree, ".2f")
        numbers[f"held_{r.key}"] = quote(f"{sum(held)} of {len(held)}")
        rows.append(row)
    small = [p for p in rec["lam_points"] if p["lam_sqrt_m"] <= lam_small]
    worst = max(p["error"] for p in small)
    checks.append(CHECKS.lam.below(measured=worst, bound=lam_tolerance, scale=1.0, lam_small=lam_small))
    agreements = [row["agree"] for row in rows if "agree" in row]
    crossing = []
    for m in rec["settings"]["lam_ms"]:
        pts = sorted((p["lam_sqrt_m"], p["error"]) for p in rec["lam_points"] if p["m"] == m)
        x, y = np.log([a for a, _ in pts]), np.log([b for _, b in pts])
        crossing.append(float(np.exp(np.interp(math.log(lam_tolerance), y, x))))
    n_small = min(p["n"] for p in rec["points"])
    drop_ratio = [p["drop"] / p["drop_pred"] for p in rec["points"] if p["n"] == n_small]
    numbers |= dict(lam_at_tol=quote(float(np.mean(crossing)), ".2f"), n_small=n_small)
    numbers |= dict(drop_small=quote(f"{min(drop_ratio):.2f} to {max(drop_ratio):.2f}"))
    numbers |= dict(
        points=len(rec["points"]),
        worst_agree=quote(min(agreements), ".2f"),
        lam_worst=quote(worst, ".3f"),
        n_min=min(rec["settings"]["ns"]),
        n_max=max(rec["settings"]["ns"]),
        m_min=min(rec["settings"]["ms"]),
        m_max=max(rec["settings"]["ms"]),
    )
    return Result(checks=checks, numbers=numbers, data=dict(record=rec, rows=rows))


COLOURS = {"holds": "#2ca02c", "fails": "#d62728", "unresolved": "#999999"}


def regime_axes(regime: Regime, pairs: list[tuple[dict, Check]], m_range: tuple[float, float]) -> Axes:
    """One result's map: recorded points coloured by verdict, in the plane of ``m`` (x) and ``n`` (y), with the
    derived boundary."""
    series = []
    for verdict, colour in COLOURS.items():
        pts = [p for p, c in pairs if c.verdict == verdict]
        if pts:
            series.append(
                Series([p["m"] for p in pts], [p["n"] for p in pts], label=verdict, kind="points", color=colour)
            )
    grid = np.geomspace(*m_range, 40)
    line = NORM_BOUNDARY if regime.key == "norm_share" else (regime.boundary, regime.boundary_label)
    if line[0] is not None:
        series.append(Series(grid, [line[0](m) for m in grid], label=line[1], color="#000", dashed=True))
    series.append(Series(grid, grid, label="m = n", color="#bbbbbb"))
    title = f"{regime.claim}, ch. {int(regime.chapter[:2])}: {regime.label}"
    return Axes(series, xlabel="neurons m", ylabel="features n", xlog=True, ylog=True, title=title, ylim=(2.5, 200))


def map_figure(r: Result) -> Figure:
    """Every result's map (:func:`regime_axes`), three per row."""
    rec, verdicts = r.data["record"], judged(r.data["record"])
    m_range = (min(rec["settings"]["ms"]), max(rec["settings"]["ms"]))
    axes = [regime_axes(g, verdicts[g.key], m_range) for g in REGIMES]
    return render(axes, ncols=3, width=11.0, height=3.2)


def lam_axes(rec: dict, lam_tolerance: float) -> Axes:
    """Chapter 1's S3 error against ``lam sqrt(m)``, one line per recorded ``m``, with the tolerance."""
    series = []
    for k, m in enumerate(rec["settings"]["lam_ms"]):
        pts = [p for p in rec["lam_points"] if p["m"] == m]
        x, y = [p["lam_sqrt_m"] for p in pts], [p["error"] for p in pts]
        series.append(Series(x, y, label=f"m = {m}", kind="points", color=svgplot.PALETTE[k]))
        series.append(Series(x, y, color=svgplot.PALETTE[k]))
    return Axes(
        series,
        xlabel=r"$\lambda\sqrt{m}$",
        ylabel=r"relative error of $\dot\kappa$ without $\lambda$",
        xlog=True,
        ylog=True,
        hlines=[(lam_tolerance, f"{lam_tolerance:.0%}")],
        vlines=[(1.0, "λ√m = 1")],
    )


def lam_figure(r: Result) -> Figure:
    return render(lam_axes(r.data["record"], r.params["lam_tolerance"]), width=6.0, height=3.2)


# --- widgets (static panels over the recorded grid) --------------------------------------------------------


def claim_panel(result: int) -> Panel:
    """The map of the ``result``-th result (0-based, in :data:`REGIMES`) with its verdicts."""
    if not 0 <= result < len(REGIMES):
        return Panel([], "", note=f"result must be 0 .. {len(REGIMES) - 1}")
    rec = read_record()
    g = REGIMES[result]
    pairs = judged(rec)[g.key]
    m_range = (min(rec["settings"]["ms"]), max(rec["settings"]["ms"]))
    held = sum(c.holds for _p, c in pairs)
    note = f"{g.claim}, {g.label}: holds at {held} of {len(pairs)} recorded points"
    failing = [c for _p, c in pairs if not c.holds][:4]
    return Panel(failing, svgplot.svg(regime_axes(g, pairs, m_range), width=560, height=300), note=note)


def point_panel(n: int, m: int) -> Panel:
    """Every result's check at the recorded point ``(n, m)``: what holds there."""
    rec = read_record()
    found = [p for p in rec["points"] if p["n"] == n and p["m"] == m]
    if not found:
        return Panel([], "", note=f"no recorded point at n = {n}, m = {m} (m must be at least n)")
    p = found[0]
    checks = [g.judge(p) for g in REGIMES]
    figure = svgplot.svg(point_axes(p, rec), width=560, height=280)
    held = [g.label for g, c in zip(REGIMES, checks) if c.holds]
    note = (
        f"n = {n}, m = {m}: load (n−2)/m = {(n - 2) / m:.3g}, ν = {theory.drift_strength(n, m):.2f}; "
        f"{len(held)} of {len(REGIMES)} results hold here"
    )
    return Panel(checks, figure, note=note)


def point_axes(p: dict, rec: dict) -> Axes:
    """The chosen point (large, coloured by how many results hold there) among the derived boundaries."""
    m_range = (min(rec["settings"]["ms"]), max(rec["settings"]["ms"]))
    grid = np.geomspace(*m_range, 40)
    series = []
    lines = [(g.boundary, f"{g.claim}: {g.boundary_label}") for g in REGIMES if g.boundary is not None]
    for k, (f, label) in enumerate([*lines, (NORM_BOUNDARY[0], f"D3: {NORM_BOUNDARY[1]}")]):
        series.append(Series(grid, [f(m) for m in grid], label=label, color=svgplot.PALETTE[k % 6], dashed=True))
    series.append(Series(grid, grid, label="m = n", color="#bbbbbb"))
    series.append(Series([p["m"]], [p["n"]], label=f"n = {p['n']}, m = {p['m']}", kind="points", color="#000"))
    return Axes(series, xlabel="neurons m", ylabel="features n", xlog=True, ylog=True, ylim=(2.5, 400))


def claim_explorable() -> Explorable:
    return Explorable(
        claim_panel,
        [Control("result", "result (0 = first)", tuple(range(len(REGIMES))), 0, low=0, high=len(REGIMES) - 1)],
        title="Where one result holds",
    )


def point_explorable() -> Explorable:
    return Explorable(
        point_panel,
        [
            Control("n", "features n", (8, 16, 32, 64, 128), 32, kind="size", low=8, high=128),
            Control("m", "neurons m", (256, 1024, 4096, 16384, 65536), 4096, kind="size", low=16, high=65536),
        ],
        title="What holds at one point",
    )


def explorables() -> dict[str, Explorable]:
    return {"one result": claim_explorable(), "one point": point_explorable()}
