"""Chapter 7 (Whole model): claims W1-W4 (the paper's picture), the paper's scale, and the chapter's widget.

Feature benefit, interference and L1 together, from the ``N(0, 1/m)`` initialisation to convergence, with the
integrator of :mod:`incidental.whole`, where every formula lives. The checks are declared once in ``CHECKS``;
the runners (:func:`integrator`, :func:`phases`, :func:`lam_scan`, :func:`count_sweep`, :func:`mechanism` and
:func:`recorded`, which reads the sweeps of ``scripts/sweep_whole.py``) take their knobs as keywords
(:func:`~incidental.book.runner`); figure builders return the figure, whose caption is in the notebook.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .. import _validate as v
from .. import svgplot
from ..book import Result, quote, repository_root, runner
from ..checks import Check, Declared, Interval, declarations
from ..explore import Control, Explorable, Panel
from ..model import sample_weights
from ..plotting import render
from ..whole import (
    SWEEP_SETTINGS,
    PoissonFit,
    count_fit,
    count_polysemantic,
    discrete_final_length,
    end_state,
    expected_polysemantic,
    final_length,
    fit_count_exponent,
    init_argmax,
    interference_floor,
    isolated_density,
    mean_interval,
    mechanism_rate,
    norm_dip,
    pooled_ratio,
    resolution_time,
    rival_no_relocation,
    rival_sign_blind,
    run_point,
    runs_needed,
    sparsification_half_tau,
    split_step,
    summarize_counts,
    whole_flow,
)

CHECKS = declarations("whole_model")  # the check table: chapters/checks/whole_model.yaml

PAPER_M: tuple[int, ...] = tuple(256 * k for k in range(1, 17))
PAPER_COUNTS: tuple[int, ...] = (72, 24, 12, 10, 10, 4, 7, 9, 4, 5, 4, 8, 3, 3, 1, 3)
"""Lecomte et al.'s polysemantic counts at n = 256, m = 256 k (one seed each, AdamW, a counting window)."""

DATA = (
    "whole_paper_sweep.json",
    "whole_count_sweep.json",
    "whole_lam_sweep.json",
    "whole_benchmark.json",
    "whole_lam_count_sweep.json",
)


def _lam(lam_sqrt_m: float, m: int) -> float:
    return v.positive("lam_sqrt_m", lam_sqrt_m) / np.sqrt(m)


@lru_cache(maxsize=4096)
def point(n: int, m: int, seed: int, lam_sqrt_m: float) -> dict[str, Any]:
    """:func:`incidental.whole.run_point` at the book's settings (cached: runners that share runs share them)."""
    return run_point(n, m, seed, lam=_lam(lam_sqrt_m, m))


def quotes(fmt: str, **values: Any) -> dict[str, Any]:
    """``values`` to be quoted in the prose, all with the format ``fmt``."""
    return {k: quote(x, fmt) for k, x in values.items()}


def exponent_check(d: Declared, fit: PoissonFit, *, tolerance: float, rival: float = 0.5, **kw: Any) -> Check:
    """:meth:`Declared.exponent` (prediction -1) for a quasi-Poisson fit of counts, which may be 0."""
    low, high, at = fit.low - tolerance, fit.high + tolerance, kw.pop("at", None)
    covers = low <= -1 <= high
    if covers and (low <= -1 - rival or high >= -1 + rival):
        verdict, why = "unresolved", f"the interval also covers the rival exponent -1 ± {rival:g}"
    else:
        verdict, why = ("holds" if covers else "fails"), ""
    return d._check(f"exponent -1 ± {tolerance:.3g}", f"exponent {fit} (quasi-Poisson 95% CI)", verdict, why, at, kw)


# --- the integrator ----------------------------------------------------------------------------------


@runner
def integrator(*, n: int, m: int, seed: int, lam_sqrt_m: float) -> Result:
    """The fast integrator against the plain dense one at the sweep settings, from one draw; exact zeros,
    convergence, and the fixed point of the step at the end."""
    S = SWEEP_SETTINGS
    lam = _lam(lam_sqrt_m, m)
    W0 = sample_weights(n, m, seed=seed)
    fast = whole_flow(W0, lam, **S)
    dense = whole_flow(W0, lam, method="dense", **S)
    diff = float(np.max(np.abs(fast.W - dense.W)))
    fixed = float(np.max(np.abs(split_step(fast.W, lam, S["polish"], S["rk_order"]) - fast.W)) / S["polish"])
    zeros = int(fast.W.size - np.count_nonzero(fast.W))
    checks = [
        CHECKS.same.below(measured=diff if np.array_equal(fast.W != 0, dense.W != 0) else np.inf, bound=1e-12),
        CHECKS.zeros.close(predicted=n * (m - 1), measured=zeros),
        CHECKS.fixed.below(measured=fixed if fast.converged else np.inf, bound=10 * S["tol"]),
    ]
    numbers = {
        **quotes(".0e", diff=diff, fixed=fixed),
        **quotes(".0f", t_end=fast.t_end, t_support=fast.t_support),
        "lam_t_end": quote(lam * fast.t_end, ".2f"),
        **quotes(
            "g", switch=100 * S["switch_density"], **{k: S[k] for k in ("h", "h_sparse", "polish", "hold", "tol")}
        ),
    }
    return Result(checks=checks, numbers=numbers, data=dict(run=fast))


# --- W1: the phases ------------------------------------------------------------------------------------


@runner
def phases(*, n: int, m: int, seed: int, lam_sqrt_m: float, points: int, tolerance: float) -> Result:
    """One run watched at ``points`` log-spaced times: the positive overlaps against the L1 floor
    ``lam / 2``, the density against the clock of a lone encoding, the norms, the supports.
    ``tolerance``: the largest distance allowed between the measured density and the lone-encoding law
    up to ``tau = 8``."""
    lam = _lam(lam_sqrt_m, m)
    times = np.concatenate([[0.0], np.geomspace(0.05, 50.0 / lam, points)])
    run = whole_flow(sample_weights(n, m, seed=seed), lam, record=times, **SWEEP_SETTINGS)
    snaps = run.snapshots
    t = np.array([s.t for s in snaps])
    tau = lam * np.sqrt(m) * t
    density = np.array([s.nnz / (n * m) for s in snaps])
    rms_pos = np.array([s.rms_positive_overlap for s in snaps])
    norm_sq = np.array([s.norm_sq.mean() for s in snaps])
    lone, floor, t_res = isolated_density(tau), interference_floor(lam), resolution_time(lam, m)
    quasi = (t >= 2 * max(t_res, 0.5)) & (tau <= 0.5)
    floor_ratio = float(np.mean(rms_pos[quasi]) / floor) if quasi.any() else float("nan")
    early = tau <= 8
    density_err = float(np.max(np.abs(density[early] - lone[early])))
    dipped = (tau >= 0.05) & (tau <= 0.2)
    dip = float(1.0 - norm_sq[dipped].min()) if np.any(dipped) else np.nan
    tau_half = sparsification_half_tau()
    checks = [
        CHECKS.floor.close(
            predicted=1.0, measured=floor_ratio, rtol=0.35, at=dict(t=f"{2 * max(t_res, 0.5):.1f}..(τ=0.5)")
        ),
        CHECKS.lone.below(measured=density_err, bound=tolerance, at=dict(tau="≤ 8")),
        CHECKS.dip.close(predicted=norm_dip(lam, m), measured=dip, rtol=0.35, at=dict(tau="0.05..0.2")),
        CHECKS.one.close(predicted=1, measured=int(np.count_nonzero(run.W, axis=1).max())),
    ]
    numbers = {
        **quotes(".0f", t_half=tau_half / (lam * np.sqrt(m)), t_end=run.t_end),
        **quotes(".2f", tau_half=tau_half, floor_ratio=floor_ratio),
        **quotes(".3f", density_err=density_err, dip=dip, dip_pred=norm_dip(lam, m)),
        **quotes(".1f", t_res=t_res, lam_t_end=lam * run.t_end),
        "floor": quote(floor, ".1e"),
        "t_interference_end": quote(run.stats.get("t_interference_end", np.nan), ".0f"),
    }
    data = dict(t=t, tau=tau, density=density, lone=lone, rms_pos=rms_pos, floor=floor, rms0=1 / np.sqrt(2 * m))
    data.update(norm_sq=norm_sq, max_support=np.array([s.max_support for s in snaps]), t_end=run.t_end, lam=lam)
    return Result(checks=checks, numbers=numbers, data=data)


def phases_figure(r: Result) -> Figure:
    """Two panels against time (log): the overlaps with their two predictions; density, norms, supports."""
    d = r.data
    t = np.maximum(d["t"], 1e-3)
    ok = t > 0.02
    tt, decay = t[ok], d["rms0"] * np.exp(-2 * t[ok])
    left = svgplot.Axes(
        [
            svgplot.Series(tt, np.maximum(d["rms_pos"][ok], 1e-7), label="rms positive overlap"),
            svgplot.Series(tt, np.maximum(decay, 1e-7), label="initial overlaps × e^{-2t}", color="#888", dashed=True),
            svgplot.Series(tt, np.full(ok.sum(), d["floor"]), label="L1 floor λ/2", color="#000", dashed=True),
        ],
        xlabel="time t",
        ylabel="overlap",
        xlog=True,
        ylog=True,
        ylim=(d["floor"] / 30, d["rms0"] * 2),
    )
    support = d["max_support"][ok] / d["max_support"][0]
    right = svgplot.Axes(
        [
            svgplot.Series(tt, d["density"][ok], label="density of W"),
            svgplot.Series(tt, d["lone"][ok], label="lone-encoding law", color="#000", dashed=True),
            svgplot.Series(tt, d["norm_sq"][ok], label="mean |W_i|²", color=svgplot.PALETTE[2]),
            svgplot.Series(tt, support, label="largest support / m", color=svgplot.PALETTE[3]),
        ],
        xlabel="time t",
        ylabel="fraction",
        xlog=True,
        vlines=[(d["t_end"], "")],
    )
    return render([left, right], height=3.0)


# --- W1: lam ---------------------------------------------------------------------------------------------


@runner(min_lengths=dict(lam_sqrt_ms=3))
def lam_scan(*, n: int, m: int, seeds: tuple[int, ...], lam_sqrt_ms: tuple[float, ...], small: float) -> Result:
    """Runs over ``lam sqrt(m)``: the half-density time, ``t_end``, the count, the mechanism and the dead
    features. The exponent checks use the values ``<= small`` (the regime ``lam sqrt(m)`` small)."""
    cs = np.asarray(lam_sqrt_ms, dtype=float)
    recs = [[point(n, m, s, float(c)) for s in seeds] for c in cs]

    def over_seeds(key: str, how: Any = np.mean) -> np.ndarray:
        return np.array([how([r[key] for r in rr]) for rr in recs])

    t_half, t_end = over_seeds("t_density_half", np.median), over_seeds("t_end", np.median)
    mech, dead = over_seeds("mechanism"), over_seeds("dead_features")
    sm = cs <= small
    tau_half = sparsification_half_tau()
    tau_half_measured = float(np.median((cs * t_half)[sm]))
    at = dict(lam_sqrt_m=f"≤ {small:g}")
    half, fit_half = CHECKS.clock.exponent(sizes=cs[sm], values=t_half[sm], predicted=-1, tolerance=0.1, at=at)
    end, fit_end = CHECKS.t_end.exponent(sizes=cs[sm], values=t_end[sm], predicted=-1, tolerance=0.25, at=at)
    checks = [
        half,
        CHECKS.tau_half.close(predicted=tau_half, measured=tau_half_measured, rtol=0.2, at=at),
        end,
        CHECKS.alive.below(measured=float(dead[sm].max()), bound=0.0, at=at),
    ]
    numbers = {
        **quotes(".2f", half=fit_half, end=fit_end, tau_half_measured=tau_half_measured),
        "lam_t_end": quote(float(np.median((cs / np.sqrt(m) * t_end)[sm])), ".1f"),
        "dead_large": quote(float(dead[-1]), ".1f"),
        "c_large": quote(float(cs[-1]), "g"),
        "seed_count": quote(len(seeds), "d"),
    }
    data = dict(c=cs, t_half=t_half, t_end=t_end, mech=mech, count=over_seeds("polysemantic"), dead=dead)
    return Result(checks=checks, numbers=numbers, data={**data, "tau_half": tau_half})


def _errorbar(x: np.ndarray, ci: dict[str, np.ndarray], y: str, label: str, color: str) -> svgplot.Series:
    return svgplot.Series(x, ci[y], label=label, kind="errorbar", low=ci["low"], high=ci["high"], color=color)


def lam_figure(
    r: Result, recorded_lam: dict[str, Any] | None = None, lam_count: dict[str, Any] | None = None
) -> Figure:
    """Time scales against lam sqrt(m); mechanism rate (with the recorded sweep's intervals), the recorded
    count over its prediction, and dead features against lam sqrt(m)."""
    d, p = r.data, r.params
    c = d["c"]
    left = svgplot.Axes(
        [
            svgplot.Series(c, d["t_half"], label="half-density time", kind="points"),
            svgplot.Series(c, d["tau_half"] / c, label="τ_half / λ√m", color="#000", dashed=True),
            svgplot.Series(c, d["t_end"], label="t_end", kind="points", color=svgplot.PALETTE[1]),
        ],
        xlabel="λ√m",
        ylabel="time",
        xlog=True,
        ylog=True,
    )
    series = [svgplot.Series(c, d["mech"], label=f"mechanism rate, n={p['n']}, m={p['m']}", kind="points")]
    if recorded_lam is not None:
        label = f"recorded, n={recorded_lam['n']}, m={recorded_lam['m']}"
        series.append(_errorbar(recorded_lam["c"], recorded_lam, "mech", label, svgplot.PALETTE[2]))
    if lam_count is not None:
        label = f"count / prediction, recorded n={lam_count['n']}, m={lam_count['m']}"
        series.append(_errorbar(lam_count["c"], lam_count, "ratio", label, svgplot.PALETTE[3]))
    series.append(svgplot.Series(c, d["dead"] / p["n"], label="dead features / n", color=svgplot.PALETTE[1]))
    right = svgplot.Axes(series, xlabel="λ√m", ylabel="fraction", xlog=True, ylim=(0.0, 1.15))
    return render([left, right], height=3.0)


# --- W2, W3: counts and the end state ------------------------------------------------------------------


@runner
def count_sweep(*, ns: tuple[int, ...], ms: tuple[int, ...], seeds: tuple[int, ...], lam_sqrt_m: float) -> Result:
    """Polysemantic counts over ``ms`` at each of ``ns`` (pairs with ``m < n`` skipped), ``seeds`` per point,
    with the end state of every run (W3) and the count against the prediction (W2)."""
    recs = [point(n, m, s, lam_sqrt_m) for n in ns for m in ms if m >= n for s in seeds]
    polish, order = SWEEP_SETTINGS["polish"], SWEEP_SETTINGS["rk_order"]
    shared_ok = all(r["polysemantic"] == r["opposite_sign_pairs"] and r["same_sign_shared"] == 0 for r in recs)
    single = all(r["single_neuron_features"] == r["n"] for r in recs)
    lengths = np.array([r["mean_length"] for r in recs])
    length_err = float(np.max(np.abs(lengths - [final_length(r["lam"]) for r in recs])))
    disc_err = float(np.max(np.abs(lengths - [discrete_final_length(r["lam"], polish, order) for r in recs])))
    fits = {n: count_fit([r for r in recs if r["n"] == n]) for n in ns}
    counts = np.array([r["polysemantic"] for r in recs], dtype=float)
    pred = np.array([expected_polysemantic(r["n"], r["m"]) for r in recs])
    far = np.array([r["m"] >= 2 * r["n"] for r in recs])
    ratio_far = pooled_ratio(counts[far], pred[far])
    ratio_eq = pooled_ratio(counts[~far], pred[~far])
    init = np.array([r["init_collisions"] for r in recs], dtype=float)
    init_ratio = pooled_ratio(init[far], np.array([rival_no_relocation(r["n"], r["m"]) for r in recs])[far])
    max_per_neuron = max(r["max_features_per_neuron"] for r in recs)
    checks = [
        CHECKS.pairs.close(predicted=2, measured=max_per_neuron if shared_ok else np.inf, at=dict(runs=len(recs))),
        CHECKS.single.close(predicted=1, measured=1 if single else 0),
        CHECKS.rest.below(measured=disc_err, bound=1e-8),
        CHECKS.w_star.below(
            measured=length_err, bound=float(np.max([r["lam"] for r in recs])) * polish, at=dict(h=polish)
        ),
        *(exponent_check(CHECKS.theta, fits[n], tolerance=0.15, n=n) for n in ns),
        CHECKS.constant.close(predicted=1.0, measured=ratio_far.value, atol=0.3, at=dict(m="≥ 2n")),
        CHECKS.initial.close(
            predicted=1.0,
            measured=init_ratio.value,
            atol=max(0.15, init_ratio.high - init_ratio.value),
            at=dict(m="≥ 2n"),
        ),
    ]
    numbers = {
        **quotes("d", runs=len(recs), seed_count=len(seeds)),
        **quotes(".2f", ratio_far=ratio_far, ratio_eq=ratio_eq, init_ratio=init_ratio),
        **quotes(".2f", **{f"fit_{n}": fits[n] for n in ns}),
        "length_err": quote(length_err, ".1e"),
        "disc_err": quote(disc_err, ".0e"),
        "w_star": quote(final_length(recs[0]["lam"]), ".5f"),
    }
    return Result(checks=checks, numbers=numbers, data=dict(summary=summarize_counts(recs), fits=fits, records=recs))


def count_axes(summaries: list[tuple[str, Any]], *, paper: bool = False, rivals: bool = True) -> svgplot.Axes:
    """Counts against m, log-log, one colour per n: measured means with intervals, the prediction (solid) and,
    for the largest n, the rivals; the paper's single-seed counts if ``paper``."""
    series = []
    for k, (label, s) in enumerate(summaries):
        color = svgplot.PALETTE[k % len(svgplot.PALETTE)]
        ok = s.mean > 0
        low = np.maximum(s.low[ok], s.mean[ok] * 0.05)
        series.append(
            svgplot.Series(
                s.m[ok],
                s.mean[ok],
                label=f"{label} (mean, 95% CI)",
                kind="errorbar",
                low=low,
                high=s.high[ok],
                color=color,
            )
        )
        series.append(svgplot.Series(s.m, s.predicted, label="", color=color))
    if rivals and summaries:
        s = summaries[-1][1]
        rival = [rival_sign_blind(int(s.n[-1]), int(m)) for m in s.m]
        series.append(svgplot.Series(s.m, rival, label="rival: every collision stays", color="#888", dashed=True))
    if paper:
        series.append(
            svgplot.Series(PAPER_M, PAPER_COUNTS, label="Lecomte et al. (n=256, one seed)", kind="points", color="#000")
        )
    return svgplot.Axes(series, xlabel="neurons m", ylabel="polysemantic neurons", xlog=True, ylog=True)


def count_figure(r: Result) -> Figure:
    """The counts of :func:`count_sweep` against ``m``, one colour per ``n``, with the prediction and the rival."""
    sums = [(f"n={n}", r.data["summary"].subset(n)) for n in r.params["ns"]]
    return render(count_axes(sums), height=3.3, width=6.0)


# --- W4: the mechanism -----------------------------------------------------------------------------------


@runner
def mechanism(*, n: int, m: int, seeds: tuple[int, ...], lam_sqrt_m: float) -> Result:
    """Where features end relative to their initial argmax, when that is decided, and what happens to the
    initial collisions (kept, broken, new), over ``seeds``."""
    lam = _lam(lam_sqrt_m, m)
    recs = [point(n, m, s, lam_sqrt_m) for s in seeds]
    L = min(len(r["tau"]) for r in recs)
    tau = np.array(recs[0]["tau"][:L])
    decided = np.array([r["decided"][:L] for r in recs]).mean(axis=0)
    coll = np.array([r["collisions"][:L] for r in recs], dtype=float)
    mech = float(np.mean([r["mechanism"] for r in recs]))
    top3 = float(np.mean([r["rank_le_2"] for r in recs]))
    picture = 1.0 - (n - 1) / (4.0 * m)
    # the end of the interference phase: twice the time its overlaps take to reach the L1 floor
    k_res = int(np.flatnonzero(tau <= 2 * resolution_time(lam, m) * lam * np.sqrt(m) + 1e-12).max())
    reordered_early = float((decided[k_res] - decided[0]) / max(1 - decided[0], 1e-12))
    total = {k: sum(r[k] for r in recs) for k in ("initial_pairs", "kept_pairs", "new_pairs", "polysemantic")}
    stay_single = float(np.nanmean([r["stay_single"] for r in recs]))
    stay_same = float(np.nanmean([r["stay_same"] for r in recs]))
    # uniform, independent slots: each pair with at least one mover ends together, with opposite signs, w.p. 1/(2m)
    new_uniform = sum((n * (n - 1) - (n - r["movers"]) * (n - r["movers"] - 1)) / 2 for r in recs) / (2.0 * m)
    checks = [
        CHECKS.winner.below(measured=mech, bound=picture - 0.1, picture=picture),
        CHECKS.same_sign.below(measured=stay_same, bound=0.5),
        CHECKS.avoid.below(measured=total["new_pairs"] / max(new_uniform, 1e-9), bound=1.0),
        CHECKS.top3.below(measured=1.0 - top3, bound=0.2),
        CHECKS.late.below(measured=reordered_early, bound=0.25, at=dict(tau_res=f"{tau[k_res]:g}")),
    ]
    per_run = dict(init_pairs=total["initial_pairs"], kept=total["kept_pairs"], new=total["new_pairs"])
    per_run.update(
        kept_indep=total["initial_pairs"] * stay_single**2, new_uniform=new_uniform, final=total["polysemantic"]
    )
    coll_mean = coll.mean(axis=0)
    numbers = {
        **quotes(".2f", **{k: x / len(seeds) for k, x in per_run.items()}),
        **quotes(".2f", mech=mech, top3=top3, decided0=float(decided[0]), decided_res=float(decided[k_res])),
        **quotes(".2f", stay_single=stay_single, stay_same=stay_same, coll0=coll_mean[0], coll_end=coll_mean[-1]),
        **quotes("g", tau_res=float(tau[k_res])),
        "picture": quote(picture, ".3f"),
        "reordered_early": quote(100 * reordered_early, ".0f"),
        "predicted": quote(expected_polysemantic(n, m), ".2f"),
        "seed_count": quote(len(seeds), "d"),
    }
    coll_se = coll.std(axis=0, ddof=1) / np.sqrt(len(seeds))
    data = dict(tau=tau, decided=decided, coll=coll_mean, coll_se=coll_se, tau_res=tau[k_res])
    return Result(checks=checks, numbers=numbers, data={**data, "predicted": expected_polysemantic(n, m)})


def mechanism_figure(r: Result, recorded_tau: dict[str, Any] | None = None) -> Figure:
    """When the winners are picked (left), and the opposite-sign argmax collisions over time (right)."""
    d, p = r.data, r.params
    tau = np.maximum(d["tau"], 0.01)
    left = svgplot.Axes(
        [svgplot.Series(tau, d["decided"], label="argmax(t) = final neuron")],
        xlabel="τ = λ√m t",
        ylabel="fraction of features",
        xlog=True,
        ylim=(0.0, 1.05),
        vlines=[(float(d["tau_res"]), "")],
    )
    band = dict(low=d["coll"] - 2 * d["coll_se"], high=d["coll"] + 2 * d["coll_se"])
    series = [
        svgplot.Series(tau, d["coll"], label=f"C(τ), n={p['n']}, m={p['m']}", kind="band", **band),
        svgplot.Series(
            tau, np.full(tau.size, d["predicted"]), label="prediction n(n-1)/(2(2m-1))", color="#000", dashed=True
        ),
    ]
    if recorded_tau is not None:
        label = f"recorded n={recorded_tau['n']}, m={recorded_tau['m']} (rescaled)"
        x, y = np.maximum(recorded_tau["tau"], 0.01), recorded_tau["ratio"] * d["predicted"]
        series.append(svgplot.Series(x, y, label=label, color=svgplot.PALETTE[1]))
    right = svgplot.Axes(series, xlabel="τ = λ√m t", ylabel="opposite-sign argmax collisions", xlog=True)
    return render([left, right], height=3.0)


# --- the recorded sweeps -----------------------------------------------------------------------------------


def data_dir() -> Path:
    """``book/data``, where the sweep script and the benchmark write."""
    return repository_root() / "book" / "data"


def load(name: str) -> dict[str, Any] | None:
    """A recorded JSON file of ``book/data`` (``None`` if it is not there)."""
    path = data_dir() / name
    return json.loads(path.read_text()) if path.exists() else None


@dataclass(frozen=True)
class Recorded:
    """What the recorded sweeps hold (any of them may be missing)."""

    paper: dict[str, Any] | None
    counts: dict[str, Any] | None
    lam: dict[str, Any] | None
    bench: dict[str, Any] | None
    lam_count: dict[str, Any] | None


def _paper(rec: dict[str, Any], confidence: float, power: float) -> tuple[list[Check], dict[str, Any], dict[str, Any]]:
    """The paper's grid (n = 256, m = 256..4096): the exponent, the constant's deficit, how many runs would
    tell the prediction from its nearest rival, and the collisions over time at m = 4096."""
    runs = rec["runs"]
    summ = summarize_counts(runs)
    m = np.array([r["m"] for r in runs])
    c = np.array([r["polysemantic"] for r in runs], dtype=float)
    pred = np.array([expected_polysemantic(r["n"], r["m"]) for r in runs])
    far = m >= 512
    fit_far = fit_count_exponent(m[far], c[far])
    ratio, ratio_eq = pooled_ratio(c[far], pred[far]), pooled_ratio(c[~far], pred[~far])
    at = dict(n=256, m="512..4096", seeds=rec["seeds"], lam_sqrt_m=0.1)
    checks = [
        exponent_check(CHECKS.paper_theta, fit_far, tolerance=0.15, at=at),
        CHECKS.deficit.below(measured=ratio.high, bound=1.0, at=at),
    ]
    need = runs_needed(runs, summ, confidence, power)  # to tell the prediction from the no-relocation rival
    rival = np.array([rival_no_relocation(256, int(mm)) for mm in summ.m])
    at_m = {mm: [r for r in runs if r["m"] == mm] for mm in (256, 4096)}
    inside = int(np.sum(np.abs(np.array(PAPER_COUNTS) - summ.mean) <= 2 * np.sqrt(summ.mean)))
    numbers = {
        **quotes(
            ".2f", paper_fit=fit_count_exponent(m, c), paper_far=fit_far, paper_ratio=ratio, paper_ratio_eq=ratio_eq
        ),
        **quotes(".1f", paper_wall=rec["wall_seconds"] / 60, paper_m256=summ.mean[0]),
        **quotes(".1f", rival_256=rival[0], pred_256=summ.predicted[0]),
        **quotes(".2f", rival_4096=rival[-1], pred_4096=summ.predicted[-1]),
        **quotes(".2f", **{f"paper_mech_{mm}": np.mean([r["mechanism"] for r in at_m[mm]]) for mm in at_m}),
        **quotes("d", paper_runs=len(runs), paper_seeds=rec["seeds"], paper_inside=inside),
        **quotes("d", paper_converged=sum(r["converged"] for r in runs), need_4096=int(np.ceil(need[-1]))),
        "need_256": quote(int(max(1, np.ceil(need[0]))), "d"),
        "paper_cpu": quote(rec["cpu_seconds"] / 60, ".0f"),
        "paper_version": quote(rec["library_version"], ""),
    }
    sel = at_m[4096]
    L = min(len(r["tau"]) for r in sel)
    ratio_t = np.array([r["collisions"][:L] for r in sel]).mean(axis=0) / expected_polysemantic(256, 4096)
    data = dict(paper_summary=summ, need=need, rival=rival)
    data["tau_4096"] = dict(tau=np.array(sel[0]["tau"][:L]), ratio=ratio_t, n=256, m=4096)
    return checks, numbers, data


def _count_sweeps(rec: dict[str, Any]) -> tuple[list[Check], dict[str, Any]]:
    """The count sweep at more ``n``: the exponent and the pooled ratio over ``m >= 2n``, per ``n``."""
    runs, checks, numbers = rec["runs"], [], {}
    for n in sorted({r["n"] for r in runs}):
        sel = [r for r in runs if r["n"] == n and r["m"] >= 2 * n]
        fit = count_fit(sel)
        at = dict(n=n, m=f"{2 * n}..{max(r['m'] for r in sel)}", seeds=rec["seeds"], lam_sqrt_m=0.1)
        checks.append(exponent_check(CHECKS.sweep_theta, fit, tolerance=0.15, n=n, at=at))
        counts = np.array([r["polysemantic"] for r in sel], float)
        ratio = pooled_ratio(counts, np.array([expected_polysemantic(n, r["m"]) for r in sel]))
        numbers.update({f"fit_{n}": quote(fit, ".2f"), f"ratio_{n}": quote(ratio, ".2f")})
    return checks, numbers


def _by_lam(runs: list[dict[str, Any]], key: str, confidence: float) -> tuple[np.ndarray, list[Interval]]:
    cs = sorted({round(r["lam_sqrt_m"], 6) for r in runs})
    return np.array(cs), [
        mean_interval([r[key] for r in runs if round(r["lam_sqrt_m"], 6) == c], confidence) for c in cs
    ]


def _lam_sweep(rec: dict[str, Any], confidence: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """The mechanism rate and the dead features over ``lam sqrt(m)`` (recorded, many seeds)."""
    runs = rec["runs"]
    cs, mech = _by_lam(runs, "mechanism", confidence)
    _, dead = _by_lam(runs, "dead_features", confidence)
    _, count = _by_lam(runs, "polysemantic", confidence)
    n, m = runs[0]["n"], runs[0]["m"]
    data = dict(c=cs, mech=np.array([x.value for x in mech]), n=n, m=m)
    data.update(low=np.array([x.low for x in mech]), high=np.array([x.high for x in mech]))
    data.update(dead=np.array([x.value for x in dead]), count=np.array([x.value for x in count]))
    numbers = quotes("d", lam_n=n, lam_m=m, lam_seeds=rec["seeds"])
    return {**numbers, **quotes(".2f", lam_mech_min=min(data["mech"]), lam_mech_max=max(data["mech"]))}, data


def _lam_count(rec: dict[str, Any], confidence: float) -> tuple[list[Check], dict[str, Any], dict[str, Any]]:
    """The count over its prediction against ``lam sqrt(m)``: below 1 while small, 1 once large."""
    runs = rec["runs"]
    n, m = runs[0]["n"], runs[0]["m"]
    pred = expected_polysemantic(n, m)
    cs, means = _by_lam(runs, "polysemantic", confidence)
    x_small = np.array([r["polysemantic"] for r in runs if r["lam_sqrt_m"] <= 0.2 + 1e-9], dtype=float)
    x_large = np.array([r["polysemantic"] for r in runs if r["lam_sqrt_m"] >= 0.8 - 1e-9], dtype=float)
    small = pooled_ratio(x_small, np.full(x_small.size, pred), confidence)
    large = pooled_ratio(x_large, np.full(x_large.size, pred), confidence)
    at = dict(n=n, m=m, seeds=rec["seeds"])
    checks = []
    if x_small.size and x_large.size:
        checks = [
            CHECKS.deficit_small.below(measured=small.high, bound=1.0, at={**at, "lam_sqrt_m": "≤ 0.2"}),
            CHECKS.deficit_gone.close(
                predicted=1.0, measured=large.value, atol=large.high - large.value, at={**at, "lam_sqrt_m": "≥ 0.8"}
            ),
        ]
    ratio = np.array([[x.value, x.low, x.high] for x in means]) / pred
    data = dict(c=cs, ratio=ratio[:, 0], low=ratio[:, 1], high=ratio[:, 2], n=n, m=m)
    numbers = {**quotes(".2f", lc_small=small, lc_large=large), **quotes("d", lc_n=n, lc_m=m, lc_seeds=rec["seeds"])}
    return checks, numbers, data


@runner
def recorded(*, confidence: float, power: float) -> Result:
    """Checks and numbers from the recorded sweeps: the paper's grid (n = 256), the count sweep at two more
    ``n``, the ``lam`` sweeps and the benchmark. ``confidence`` and ``power`` set how many runs a test that
    tells the prediction from its nearest rival would need. Without the files, no check and a note."""
    rec = Recorded(*(load(name) for name in DATA))
    checks: list[Check] = []
    numbers: dict[str, Any] = {}
    data: dict[str, Any] = {"rec": rec}
    if rec.paper is not None:
        c, nums, d = _paper(rec.paper, confidence, power)
        checks, numbers, data = checks + c, {**numbers, **nums}, {**data, **d}
    if rec.counts is not None:
        c, nums = _count_sweeps(rec.counts)
        checks, numbers = checks + c, {**numbers, **nums}
    if rec.lam is not None:
        nums, data["lam"] = _lam_sweep(rec.lam, confidence)
        numbers.update(nums)
    if rec.lam_count is not None:
        c, nums, data["lam_count"] = _lam_count(rec.lam_count, confidence)
        checks, numbers = checks + c, {**numbers, **nums}
    if (b := rec.bench) is not None:
        numbers.update(quotes(".0f", speedup=b["speedup"], bench_dense=b["dense_seconds"]))
        numbers["bench_fast"] = quote(b["fast_seconds"], ".1f")
        numbers["bench_same"] = quote("the same" if b["same_supports"] else "different", "")
    present = [name for name, x in zip(DATA, (rec.paper, rec.counts, rec.lam, rec.bench, rec.lam_count)) if x]
    numbers["present"] = quote("recorded: " + (", ".join(present) or "nothing"), "")
    return Result(checks=checks, numbers=numbers, data=data)


def recorded_count_figure(r: Result) -> Figure | str:
    """The recorded counts at n = 64, 128 and 256 (the paper's grid) with the predictions and the paper's
    numbers (a note if nothing is recorded)."""
    rec: Recorded = r.data["rec"]
    sums = []
    if rec.counts is not None:
        s = summarize_counts(rec.counts["runs"])
        sums += [(f"n={n}", s.subset(n)) for n in sorted(set(s.n.tolist()))]
    if rec.paper is not None:
        sums.append(("n=256", r.data["paper_summary"]))
    if not sums:
        return "<p><em>No recorded sweep in book/data: run scripts/sweep_whole.py.</em></p>"
    return render(count_axes(sums, paper=True), height=3.6, width=6.4)


def paper_table_html(r: Result) -> str:
    """The paper's counts against ours at n = 256, point by point (HTML)."""
    rec: Recorded = r.data["rec"]
    if rec.paper is None:
        return "<p><em>The paper-scale sweep is not recorded (book/data/whole_paper_sweep.json).</em></p>"
    s = r.data["paper_summary"]
    rows = "".join(
        f"<tr><td>{int(m)}</td><td>{p}</td><td>{mu:.1f} [{lo:.1f}, {hi:.1f}]</td><td>{pr:.1f}</td>"
        f"<td>{rv:.1f}</td><td>{'yes' if lo <= p <= hi else 'no'}</td></tr>"
        for m, p, mu, lo, hi, pr, rv in zip(s.m, PAPER_COUNTS, s.mean, s.low, s.high, s.predicted, r.data["rival"])
    )
    heads = ("m", "paper (1 seed)", "this book (mean, 95% CI)", "prediction", "rival: no relocation", "paper inside CI")
    return (
        "<table class='incidental-checks' style='border-collapse:collapse;font-size:0.85em'>"
        f"<thead><tr>{''.join(f'<th>{h}</th>' for h in heads)}</tr></thead><tbody>{rows}</tbody></table>"
    )


# --- the widget ---------------------------------------------------------------------------------------------


def end_checks(n: int, m: int, W0: np.ndarray, W: np.ndarray) -> tuple[list[Check], str]:
    """The chapter's declared checks on one run, and what the panel says about those it cannot make."""
    state = end_state(W)
    count, pred = count_polysemantic(W), expected_polysemantic(n, m)
    picture = 1 - (n - 1) / (4 * m)
    checks = [CHECKS.panel_count.close(predicted=pred, measured=count, atol=2 * np.sqrt(pred) + 1)]
    note = ""
    if state.shared:
        all_opposite = state.opposite_sign_pairs == len(state.shared)
        checks.append(
            CHECKS.pairs.close(predicted=2, measured=len(state.features_per_neuron) - 1 if all_opposite else np.inf)
        )
    else:
        note = "No polysemantic neuron in this run: W3's pair check has nothing to count and is not made. "
    checks.append(CHECKS.single.close(predicted=1, measured=1 if state.neurons_per_feature[1] == n else 0))
    checks.append(CHECKS.winner.below(measured=mechanism_rate(W0, W), bound=picture, picture=picture))
    return checks, note


def end_panel(n: int, m: int, lam_sqrt_m: float, seed: int) -> Panel:
    """One run: which features share which neuron (positive and negative weights per neuron), the count
    against the prediction, the checks of the end state."""
    if m < n:
        return Panel([], "<p>The model needs m ≥ n.</p>", "Choose m ≥ n.")
    lam = _lam(lam_sqrt_m, m)
    W0 = sample_weights(n, m, seed=seed)
    run = whole_flow(W0, lam, **SWEEP_SETTINGS)
    W, state = run.W, end_state(run.W)
    checks, note = end_checks(n, m, W0, W)
    checks = [c.placed(dict(n=n, m=m, lam_sqrt_m=lam_sqrt_m, seed=seed)) for c in checks]
    top0, _ = init_argmax(W0)
    final = np.argmax(np.abs(W), axis=1)
    feats = np.arange(n)
    pos = W[feats, final] > 0
    shared = np.isin(final, [k for k, *_ in state.shared])
    moved = final != top0
    series = [
        svgplot.Series(final[sel], feats[sel], label=label, kind="points", color=color)
        for sel, label, color in (
            (pos & ~shared, "positive weight", svgplot.PALETTE[0]),
            (~pos & ~shared, "negative weight", svgplot.PALETTE[1]),
            (shared, "on a polysemantic neuron", "#000"),
        )
    ]
    series.append(
        svgplot.Series(top0[moved], feats[moved], label="initial argmax (moved)", kind="points", color="#bbb")
    )
    xlabel = "neuron (final: colour; initial argmax if it moved: grey)"
    left = svgplot.Axes(series, xlabel=xlabel, ylabel="feature", xlim=(0, m), ylim=(-1, n))
    sign = {True: "+", False: "−"}
    pairs = ", ".join(
        f"neuron {k}: features {f[0]} ({sign[s[0] > 0]}) and {f[1]} ({sign[s[1] > 0]})" for k, f, s in state.shared[:8]
    )
    pairs = (pairs + (" …" if len(state.shared) > 8 else "")) if pairs else "no polysemantic neuron"
    note += (
        f"{pairs}. Every feature ends at length {np.mean(state.lengths):.4f} (w*(λ) = {final_length(lam):.4f}); "
        f"t_end = {run.t_end:.0f}."
    )
    return Panel(checks, svgplot.svg([left], width=640, height=260), note)


def end_explorable() -> Explorable:
    """Widget: sizes, lam sqrt(m) and seed against the end state and the count (the notebook sets the grids)."""
    return Explorable(
        end_panel,
        [
            Control("n", "features n", (16, 64), 64, kind="size", low=4, high=128),
            Control("m", "neurons m", (64, 256), 256, kind="size", low=16, high=2048),
            Control("lam_sqrt_m", "λ√m", (0.1, 0.4), 0.1, kind="float", low=0.02, high=3.0, step=0.02),
            Control("seed", "seed", (0, 1), 0, low=0, high=99),
        ],
        title="The end state: which features share which neuron, and how many",
    )


def explorables() -> dict[str, Explorable]:
    """Fresh explorables of this chapter, by name."""
    return {"end state": end_explorable()}
