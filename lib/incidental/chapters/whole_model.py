"""Chapter 7 (Whole model): claims W1-W4 (the paper's picture), the paper's scale, and the chapter's widget.

All three forces from the ``N(0, 1/m)`` initialisation to convergence, with the integrator of
:mod:`incidental.whole`, where every formula lives; :func:`recorded` reads the recorded sweeps and step study.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .. import _validate as v
from .. import svgplot, whole
from ..book import Result, quote, quotes, repository_root, runner, table_html
from ..checks import Check, declarations
from ..explore import Control, Explorable, Panel
from ..figures import counts_against_m, ratio_groups, time_course
from ..model import sample_weights
from ..plotting import render

CHECKS = declarations("whole_model")  # the check table: chapters/checks/whole_model.yaml

PAPER_M: tuple[int, ...] = tuple(256 * k for k in range(1, 17))
PAPER_COUNTS: tuple[int, ...] = (72, 24, 12, 10, 10, 4, 7, 9, 4, 5, 4, 8, 3, 3, 1, 3)
"""Lecomte et al.'s polysemantic counts at n = 256, m = 256 k (one seed each, AdamW, a counting window)."""

DATA = dict(
    paper="whole_paper_sweep.jsonl",
    counts="whole_count_sweep.jsonl",
    lam="whole_lam_sweep.jsonl",
    bench="whole_benchmark.json",
    lam_count="whole_lam_count_sweep.jsonl",
    steps="whole_step_convergence.json",
    n512="whole_n512_sweep.jsonl",
)
"""The recorded files of ``book/data`` (``scripts/sweep_whole.py``, ``benchmarks/bench_whole.py``), by part."""


def _lam(lam_sqrt_m: float, m: int) -> float:
    return v.positive("lam_sqrt_m", lam_sqrt_m) / np.sqrt(m)


@lru_cache(maxsize=4096)
def point(n: int, m: int, seed: int, lam_sqrt_m: float) -> dict[str, Any]:
    """:func:`incidental.whole.run_point` at the book's settings (cached: runners that share runs share them)."""
    return whole.run_point(n, m, seed, lam=_lam(lam_sqrt_m, m))


# --- the integrator ----------------------------------------------------------------------------------


@runner
def integrator(*, n: int, m: int, seed: int, lam_sqrt_m: float) -> Result:
    """The fast integrator against the plain dense one at the sweep settings, from one draw; exact zeros,
    convergence, and the fixed point of the step at the end."""
    S = whole.SWEEP_SETTINGS
    lam = _lam(lam_sqrt_m, m)
    W0 = sample_weights(n, m, seed=seed)
    fast = whole.whole_flow(W0, lam, **S)
    dense = whole.whole_flow(W0, lam, method="dense", **S)
    diff = float(np.max(np.abs(fast.W - dense.W)))
    fixed = float(np.max(np.abs(whole.split_step(fast.W, lam, S["polish"], S["rk_order"]) - fast.W)) / S["polish"])
    zeros = int(fast.W.size - np.count_nonzero(fast.W))
    checks = [
        CHECKS.same.below(measured=diff if np.array_equal(fast.W != 0, dense.W != 0) else np.inf, bound=1e-12),
        CHECKS.zeros.close(predicted=n * (m - 1), measured=zeros),
        CHECKS.fixed.below(measured=fixed if fast.converged else np.inf, bound=10 * S["tol"]),
    ]
    settings = {k: S[k] for k in ("h", "h_sparse", "polish", "hold", "tol")}
    numbers = {
        **quotes(".0e", diff=diff, fixed=fixed),
        **quotes(".0f", t_end=fast.t_end, t_support=fast.t_support),
        "lam_t_end": quote(lam * fast.t_end, ".2f"),
        **quotes("g", switch=100 * S["switch_density"], **settings),
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
    run = whole.whole_flow(sample_weights(n, m, seed=seed), lam, record=times, **whole.SWEEP_SETTINGS)
    snaps = run.snapshots
    t = np.array([s.t for s in snaps])
    tau = lam * np.sqrt(m) * t
    density = np.array([s.nnz / (n * m) for s in snaps])
    rms_pos = np.array([s.rms_positive_overlap for s in snaps])
    norm_sq = np.array([s.norm_sq.mean() for s in snaps])
    lone, floor, t_res = whole.isolated_density(tau), whole.interference_floor(lam), whole.resolution_time(lam, m)
    quasi = (t >= 2 * max(t_res, 0.5)) & (tau <= 0.5)
    floor_ratio = float(np.mean(rms_pos[quasi]) / floor) if quasi.any() else float("nan")
    density_err = float(np.max(np.abs(density - lone)[tau <= 8]))
    dipped = (tau >= 0.05) & (tau <= 0.2)
    dip = float(1.0 - norm_sq[dipped].min()) if np.any(dipped) else np.nan
    tau_half = whole.sparsification_half_tau()
    checks = [
        CHECKS.floor.close(
            predicted=1.0, measured=floor_ratio, rtol=0.35, at=dict(t=f"{2 * max(t_res, 0.5):.1f}..(τ=0.5)")
        ),
        CHECKS.lone.below(measured=density_err, bound=tolerance, at=dict(tau="≤ 8")),
        CHECKS.dip.close(predicted=whole.norm_dip(lam, m), measured=dip, rtol=0.35, at=dict(tau="0.05..0.2")),
        CHECKS.one.close(predicted=1, measured=int(np.count_nonzero(run.W, axis=1).max())),
    ]
    numbers = {
        **quotes(".0f", t_half=tau_half / (lam * np.sqrt(m)), t_end=run.t_end),
        **quotes(".2f", tau_half=tau_half, floor_ratio=floor_ratio),
        **quotes(".3f", density_err=density_err, dip=dip, dip_pred=whole.norm_dip(lam, m)),
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
    """Runs over ``lam sqrt(m)``: the half-density time, ``t_end``, the mechanism and the dead features.
    The exponent checks use the values ``<= small`` (the regime ``lam sqrt(m)`` small)."""
    cs = np.asarray(lam_sqrt_ms, dtype=float)
    recs = [[point(n, m, s, float(c)) for s in seeds] for c in cs]

    def over_seeds(key: str, how: Any = np.mean) -> np.ndarray:
        return np.array([how([r[key] for r in rr]) for rr in recs])

    t_half, t_end = over_seeds("t_density_half", np.median), over_seeds("t_end", np.median)
    dead = over_seeds("dead_features")
    sm = cs <= small
    tau_half = whole.sparsification_half_tau()
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
    data = dict(c=cs, t_half=t_half, t_end=t_end, tau_half=tau_half, mech=over_seeds("mechanism"), dead=dead)
    return Result(checks=checks, numbers=numbers, data=data)


def lam_figure(r: Result, recorded_lam: dict | None = None, lam_count: dict | None = None) -> Figure:
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
    for rec, what, color in ((recorded_lam, "recorded,", 2), (lam_count, "count / prediction, recorded", 3)):
        if rec is not None:
            label, ci = f"{what} n={rec['n']}, m={rec['m']}", dict(low=rec["low"], high=rec["high"])
            series.append(svgplot.Series(rec["c"], rec["value"], label, "errorbar", svgplot.PALETTE[color], **ci))
    series.append(svgplot.Series(c, d["dead"] / p["n"], label="dead features / n", color=svgplot.PALETTE[1]))
    right = svgplot.Axes(series, xlabel="λ√m", ylabel="fraction", xlog=True, ylim=(0.0, 1.15))
    return render([left, right], height=3.0)


# --- W2, W3: counts and the end state ------------------------------------------------------------------


@runner
def count_sweep(*, ns: tuple[int, ...], ms: tuple[int, ...], seeds: tuple[int, ...], lam_sqrt_m: float) -> Result:
    """Polysemantic counts over ``ms`` at each of ``ns`` (pairs with ``m < n`` skipped), ``seeds`` per point,
    with the end state of every run (W3) and the count against the prediction (W2)."""
    recs = [point(n, m, s, lam_sqrt_m) for n in ns for m in ms if m >= n for s in seeds]
    polish, order = whole.SWEEP_SETTINGS["polish"], whole.SWEEP_SETTINGS["rk_order"]
    shared_ok = all(r["polysemantic"] == r["opposite_sign_pairs"] and r["same_sign_shared"] == 0 for r in recs)
    single = all(r["single_neuron_features"] == r["n"] for r in recs)
    lengths, lams = np.array([r["mean_length"] for r in recs]), [r["lam"] for r in recs]
    length_err = float(np.max(np.abs(lengths - [whole.final_length(r["lam"]) for r in recs])))
    disc_err = float(np.max(np.abs(lengths - [whole.discrete_final_length(r["lam"], polish, order) for r in recs])))
    fits = {n: whole.count_fit([r for r in recs if r["n"] == n]) for n in ns}
    far = [r for r in recs if r["m"] >= 2 * r["n"]]
    ratio_far = whole.count_ratio(far)
    init_ratio = whole.pooled_ratio(
        [r["init_collisions"] for r in far], [whole.rival_no_relocation(r["n"], r["m"]) for r in far]
    )
    max_per_neuron = max(r["max_features_per_neuron"] for r in recs)
    checks = [
        CHECKS.pairs.close(predicted=2, measured=max_per_neuron if shared_ok else np.inf, at=dict(runs=len(recs))),
        CHECKS.single.close(predicted=1, measured=1 if single else 0),
        CHECKS.rest.below(measured=disc_err, bound=1e-8),
        CHECKS.w_star.below(
            measured=length_err, bound=float(np.max([r["lam"] for r in recs])) * polish, at=dict(h=polish)
        ),
        *(CHECKS.theta.exponent(predicted=-1, fit=fits[n], tolerance=0.15, n=n)[0] for n in ns),
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
        **quotes(".2f", ratio_far=ratio_far, init_ratio=init_ratio, **{f"fit_{n}": fits[n] for n in ns}),
        "length_err": quote(length_err, ".1e"),
        "disc_err": quote(disc_err, ".0e"),
        "w_star": quote(" to ".join(f"{whole.final_length(x):.4f}" for x in (max(lams), min(lams))), ""),
    }
    return Result(checks=checks, numbers=numbers, data=dict(summary=whole.summarize_counts(recs)))


def count_figure(r: Result) -> Figure:
    """The counts of :func:`count_sweep` against ``m``, one colour per ``n``, with the prediction and the rival."""
    sums = [(f"n={n}", r.data["summary"].subset(n)) for n in r.params["ns"]]
    return render(counts_against_m(sums, whole.rival_sign_blind), height=3.3, width=6.0)


# --- W4: the mechanism -----------------------------------------------------------------------------------


@runner
def mechanism(*, n: int, m: int, seeds: tuple[int, ...], lam_sqrt_m: float) -> Result:
    """Where features end relative to their initial argmax, when that is decided, and what happens to the
    initial collisions (kept, broken, new), over ``seeds``."""
    lam = _lam(lam_sqrt_m, m)
    recs = [point(n, m, s, lam_sqrt_m) for s in seeds]
    tau, coll = whole.over_time(recs, "tau")[0], whole.over_time(recs, "collisions")
    decided = whole.over_time(recs, "decided").mean(axis=0)
    mech, top3 = (float(np.mean([r[k] for r in recs])) for k in ("mechanism", "rank_le_2"))
    stay_single, stay_same = (float(np.nanmean([r[k] for r in recs])) for k in ("stay_single", "stay_same"))
    picture = 1.0 - (n - 1) / (4.0 * m)
    # the end of the interference phase: twice the time its overlaps take to reach the L1 floor
    k_res = int(np.flatnonzero(tau <= 2 * whole.resolution_time(lam, m) * lam * np.sqrt(m) + 1e-12).max())
    reordered_early = float((decided[k_res] - decided[0]) / max(1 - decided[0], 1e-12))
    total = {k: sum(r[k] for r in recs) for k in ("initial_pairs", "kept_pairs", "new_pairs")}
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
    per_run.update(kept_indep=total["initial_pairs"] * stay_single**2, new_uniform=new_uniform)
    coll_mean, predicted = coll.mean(axis=0), whole.expected_polysemantic(n, m)
    numbers = {
        **quotes(".2f", **{k: x / len(seeds) for k, x in per_run.items()}),
        **quotes(".2f", mech=mech, top3=top3, decided0=float(decided[0]), decided_res=float(decided[k_res])),
        **quotes(".2f", stay_same=stay_same, coll0=coll_mean[0], coll_end=coll_mean[-1], predicted=predicted),
        **quotes("g", tau_res=float(tau[k_res])),
        "picture": quote(picture, ".3f"),
        "reordered_early": quote(100 * reordered_early, ".0f"),
        "seed_count": quote(len(seeds), "d"),
    }
    coll_se = coll.std(axis=0, ddof=1) / np.sqrt(len(seeds))
    data = dict(tau=tau, decided=decided, coll=coll_mean, coll_se=coll_se, tau_res=tau[k_res], predicted=predicted)
    return Result(checks=checks, numbers=numbers, data=data)


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
    labels = dict(label=f"K(τ), n={p['n']}, m={p['m']}", predicted_label="prediction n(n-1)/(2(2m-1))")
    series = time_course(tau, d["coll"], np.full(tau.size, d["predicted"]), **labels, **band)
    if recorded_tau is not None:
        label = f"recorded n={recorded_tau['n']}, m={recorded_tau['m']} (rescaled)"
        x, y = np.maximum(recorded_tau["tau"], 0.01), recorded_tau["ratio"] * d["predicted"]
        series.append(svgplot.Series(x, y, label=label, color=svgplot.PALETTE[1]))
    right = svgplot.Axes(series, xlabel="τ = λ√m t", ylabel="opposite-sign argmax collisions", xlog=True)
    return render([left, right], height=3.0)


# --- the recorded sweeps -----------------------------------------------------------------------------------


def load(name: str) -> dict[str, Any] | None:
    """A recorded file of ``book/data`` (:func:`incidental.whole.read_recorded`); ``None`` if absent or if it
    is a sweep that has not finished (still running, or killed: finish it with ``--resume``)."""
    rec = whole.read_recorded(repository_root() / "book" / "data" / name)
    return None if rec is None or rec.get("finished") is False else rec


Part = tuple[list[Check], dict[str, Any], dict[str, Any]]
"""What each recorded sweep adds to :func:`recorded`: checks, numbers, data."""


def _paper(rec: dict[str, Any], confidence: float, power: float) -> Part:
    """The paper's grid (n = 256, m = 256..4096): the exponent, the constant's deficit, how many runs would
    tell the prediction from its nearest rival, and the collisions over time at m = 4096."""
    runs = rec["runs"]
    summ = whole.summarize_counts(runs)
    far = [r for r in runs if r["m"] >= 512]
    fit_far, ratio = whole.count_fit(far), whole.count_ratio(far)
    at = dict(n=256, m="512..4096", seeds=rec["seeds"], lam_sqrt_m=0.1)
    checks = [
        CHECKS.paper_theta.exponent(predicted=-1, fit=fit_far, tolerance=0.15, at=at)[0],
        CHECKS.deficit.below(measured=ratio.high, bound=1.0, at=at),
    ]
    need = whole.runs_needed(runs, summ, confidence, power)  # to tell the prediction from the no-relocation rival
    rival = np.array([whole.rival_no_relocation(256, int(mm)) for mm in summ.m])
    at_m = {mm: [r for r in runs if r["m"] == mm] for mm in (256, 4096)}
    inside = int(np.sum(np.abs(np.array(PAPER_COUNTS) - summ.mean) <= 2 * np.sqrt(summ.mean)))
    ratio_eq = whole.count_ratio([r for r in runs if r["m"] < 512])
    mechanism_at_m = {f"paper_mech_{mm}": np.mean([r["mechanism"] for r in at_m[mm]]) for mm in at_m}
    collisions = whole.over_time(at_m[4096], "collisions").mean(axis=0) / whole.expected_polysemantic(256, 4096)
    tau_4096 = dict(tau=whole.over_time(at_m[4096], "tau")[0], ratio=collisions, n=256, m=4096)
    numbers = {
        **quotes(".2f", paper_fit=whole.count_fit(runs), paper_far=fit_far, paper_ratio=ratio, paper_ratio_eq=ratio_eq),
        **quotes(".1f", paper_wall=rec["wall_seconds"] / 60, paper_m256=summ.mean[0], rival_256=rival[0]),
        **quotes(".1f", pred_256=summ.predicted[0]),
        **quotes(".2f", rival_4096=rival[-1], pred_4096=summ.predicted[-1], coll_4096=collisions[-1], **mechanism_at_m),
        **quotes("d", paper_runs=len(runs), paper_seeds=rec["seeds"], paper_inside=inside),
        **quotes("d", paper_converged=sum(r["converged"] for r in runs), need_4096=int(np.ceil(need[-1]))),
        "need_256": quote(int(max(1, np.ceil(need[0]))), "d"),
        "paper_cpu": quote(rec["cpu_seconds"] / 60, ".0f"),
        "paper_version": quote(rec["library_version"], ""),
    }
    return checks, numbers, dict(paper_summary=summ, rival=rival, tau_4096=tau_4096)


def _count_sweeps(rec: dict[str, Any], confidence: float, power: float) -> Part:
    """The count sweep at more ``n``: the pooled ratio over ``m >= 2n`` and, once recorded at three such ``m``
    or more (an unfinished sweep may have fewer), the exponent, per ``n``."""
    runs, checks, numbers = rec["runs"], [], {}
    for n in sorted({r["n"] for r in runs}):
        sel = [r for r in runs if r["n"] == n and r["m"] >= 2 * n]
        numbers.update(quotes(".2f", **{f"ratio_{n}": whole.count_ratio(sel)}))
        if len({r["m"] for r in sel}) >= 3:
            fit = whole.count_fit(sel)
            at = dict(n=n, m=f"{2 * n}..{max(r['m'] for r in sel)}", seeds=rec["seeds"], lam_sqrt_m=0.1)
            checks.append(CHECKS.sweep_theta.exponent(predicted=-1, fit=fit, tolerance=0.15, n=n, at=at)[0])
            numbers.update(quotes(".2f", **{f"fit_{n}": fit}))
    return checks, numbers, {}


def _deficit(runs: list[dict[str, Any]], confidence: float) -> Part:
    """The count's ratio to its prediction at ``lam sqrt(m) = 0.1`` over every recorded ``n``: does the deficit
    grow with ``n`` at a fixed load, or with the load ``m/n``?"""
    bands, by_n, trends = whole.ratios_by_load([r for r in runs if abs(r["lam_sqrt_m"] - 0.1) < 1e-9], confidence)
    deeper = whole.ratio_difference(bands[-1], bands[0], confidence)
    at = dict(lam_sqrt_m=0.1, n=f"{min(by_n)}..{max(by_n)}")
    names = [f"{lo:g} ≤ m/n < {hi:g}" for lo, hi in whole.LOAD_BANDS]
    checks = [CHECKS.deficit_n.above(measured=x.high, bound=0.0, band=b, at=at) for x, b in zip(trends, names)]
    checks += [CHECKS.deficit_shrinks.above(measured=trends[0].low, bound=0.0, band=names[0], at=at)]
    checks += [CHECKS.deficit_load.below(measured=deeper.high, bound=0.0, at=at)]
    numbers = quotes(".2f", **{f"band_{k}": x for k, x in enumerate(bands)}, deeper=deeper)
    numbers.update(quotes(".3f", **{f"trend_{k}": x for k, x in enumerate(trends)}))
    numbers["low_by_n"] = quote(", ".join(f"{x[0]:.2f} at n = {n}" for n, x in by_n.items()), "")
    return checks, {**numbers, "load_ns": quote(", ".join(map(str, by_n)), "")}, {"load": by_n}


def _lam_sweep(rec: dict[str, Any], confidence: float, power: float) -> Part:
    """The mechanism rate over ``lam sqrt(m)`` (recorded, many seeds)."""
    mech = whole.mean_by_lam(rec["runs"], "mechanism", confidence)
    numbers = quotes("d", lam_n=mech["n"], lam_m=mech["m"], lam_seeds=rec["seeds"])
    numbers.update(quotes(".2f", lam_mech_min=min(mech["value"]), lam_mech_max=max(mech["value"])))
    return [], numbers, {"lam": mech}


def _lam_count(rec: dict[str, Any], confidence: float, power: float) -> Part:
    """The count over its prediction against ``lam sqrt(m)``: below 1 while small, 1 once large."""
    runs = rec["runs"]
    n, m = runs[0]["n"], runs[0]["m"]
    small = whole.count_ratio([r for r in runs if r["lam_sqrt_m"] <= 0.2 + 1e-9], confidence)
    large = whole.count_ratio([r for r in runs if r["lam_sqrt_m"] >= 0.8 - 1e-9], confidence)
    at = dict(n=n, m=m, seeds=rec["seeds"])
    checks = [
        CHECKS.deficit_small.below(measured=small.high, bound=1.0, at={**at, "lam_sqrt_m": "≤ 0.2"}),
        CHECKS.deficit_gone.close(
            predicted=1.0, measured=large.value, atol=large.high - large.value, at={**at, "lam_sqrt_m": "≥ 0.8"}
        ),
    ]
    numbers = {**quotes(".2f", lc_small=small, lc_large=large), **quotes("d", lc_n=n, lc_m=m, lc_seeds=rec["seeds"])}
    by_lam = whole.mean_by_lam(runs, "polysemantic", confidence, whole.expected_polysemantic(n, m))
    return checks, numbers, {"lam_count": by_lam}


def _bench(rec: dict[str, Any], confidence: float, power: float) -> Part:
    """The benchmark: the fast integrator against the plain dense one at the paper's largest size."""
    numbers = quotes(".0f", speedup=rec["speedup"], bench_dense=rec["dense_seconds"])
    numbers["bench_fast"] = quote(rec["fast_seconds"], ".1f")
    numbers["bench_same"] = quote("the same" if rec["same_supports"] else "different", "")
    return [], numbers, {}


def _steps(rec: dict[str, Any], confidence: float, power: float) -> Part:
    """The step study: at each point, the book's scheme against RK4 at a fixed small step on the same seeds, within
    two standard errors of their paired difference (the mechanism: within its quoted precision, 0.01)."""
    rows = whole.step_study(rec["runs"])
    names = dict(polysemantic="step_count", dead_fraction="step_dead", mechanism="step_mechanism")
    checks = [
        CHECKS[names[key]].close(predicted=ref, measured=book, atol=0.01 if key == "mechanism" else 2 * se, at=at)
        for at, key, ref, book, se in rows
        if key in names
    ]
    t_end = max(abs(book - ref) / ref for _, key, ref, book, _ in rows if key == "t_end")
    paper = max((ref - book) / ref for at, key, ref, book, _ in rows if key == "polysemantic" and at["n"] == 256)
    dead = max(ref for _, key, ref, _, _ in rows if key == "dead_fraction")  # the reference's, at the largest lam
    numbers = {**quotes(".0f", step_t_end=100 * t_end, step_paper=100 * paper), **quotes(".2f", step_dead=dead)}
    return checks, {**numbers, "step_runs": quote(len(rec["runs"]), "d")}, {}


@runner
def recorded(*, confidence: float, power: float) -> Result:
    """Checks and numbers from the recorded sweeps (:data:`DATA`): the paper's grid (n = 256), the count sweep
    at two more ``n``, the ``lam`` sweeps and the benchmark. ``confidence`` and ``power`` set how many runs a
    test that tells the prediction from its nearest rival would need. Without the files, no check and a note."""
    files = {part: load(name) for part, name in DATA.items()}
    checks, numbers, data = [], {}, {"files": files}
    parts = dict(paper=_paper, counts=_count_sweeps, n512=_count_sweeps, lam=_lam_sweep, bench=_bench)
    parts.update(lam_count=_lam_count, steps=_steps)
    for part, read in parts.items():
        if files[part] is not None:
            more_checks, more_numbers, more_data = read(files[part], confidence, power)
            checks, numbers, data = checks + more_checks, {**numbers, **more_numbers}, {**data, **more_data}
    counted = [r for part in ("counts", "paper", "n512") if files[part] for r in files[part]["runs"]]
    if counted:
        more_checks, more_numbers, more_data = _deficit(counted, confidence)
        checks, numbers, data = checks + more_checks, {**numbers, **more_numbers}, {**data, **more_data}
    present = [DATA[part] for part, x in files.items() if x]
    numbers["present"] = quote("recorded: " + (", ".join(present) or "nothing"), "")
    missing = [f"{x['runs']} at n = {x['n']}, m = {x['m']}" for f in files.values() if f for x in f.get("missing", [])]
    numbers["missing"] = quote("; ".join(missing) or "none", "")
    return Result(checks=checks, numbers=numbers, data=data)


def recorded_count_figure(r: Result) -> Figure | str:
    """The recorded counts at every recorded n against m with the predictions and the paper's numbers (left),
    and their ratio to the prediction against the load m/n (right); a note if nothing is recorded."""
    files = r.data["files"]
    runs = [x for part in ("counts", "paper", "n512") if files[part] for x in files[part]["runs"]]
    if not runs:
        return "<p><em>No recorded sweep in book/data: run scripts/sweep_whole.py.</em></p>"
    s = whole.summarize_counts(runs)
    sums = [(f"n={n}", s.subset(n)) for n in sorted(set(s.n.tolist()))]
    paper = svgplot.Series(PAPER_M, PAPER_COUNTS, label="Lecomte et al. (n=256, one seed)", kind="points", color="#000")
    centres = [np.sqrt(lo * min(hi, 16)) for lo, hi in whole.LOAD_BANDS]
    load = ratio_groups(centres, {f"n={n}": x for n, x in sorted(r.data["load"].items())}, xlabel="load m/n")
    return render([counts_against_m(sums, whole.rival_sign_blind, extra=[paper]), load], height=3.6, width=10.0)


def paper_table_html(r: Result) -> str:
    """The paper's counts against ours at n = 256, point by point (HTML)."""
    if r.data["files"]["paper"] is None:
        return "<p><em>The paper-scale sweep is not recorded (book/data/whole_paper_sweep.jsonl).</em></p>"
    s = r.data["paper_summary"]
    rows = [
        (int(m), p, f"{mu:.1f} [{lo:.1f}, {hi:.1f}]", f"{pr:.1f}", f"{rv:.1f}", "yes" if lo <= p <= hi else "no")
        for m, p, mu, lo, hi, pr, rv in zip(s.m, PAPER_COUNTS, s.mean, s.low, s.high, s.predicted, r.data["rival"])
    ]
    heads = ("m", "paper (1 seed)", "this book (mean, 95% CI)", "prediction", "no-relocation rival", "paper inside CI")
    return table_html(heads, rows)


# --- the widget ---------------------------------------------------------------------------------------------


def end_panel(n: int, m: int, lam_sqrt_m: float, seed: int) -> Panel:
    """One run: which features share which neuron (positive and negative weights per neuron), the count
    against the prediction, and the chapter's declared checks on it (the note says which it cannot make)."""
    if m < n:
        return Panel([], "<p>The model needs m ≥ n.</p>", "Choose m ≥ n.")
    lam = _lam(lam_sqrt_m, m)
    W0 = sample_weights(n, m, seed=seed)
    S = {**whole.SWEEP_SETTINGS, "polish": None}  # the state at t_end: the polish only refines lengths after it
    run = whole.whole_flow(W0, lam, **S)
    W, state = run.W, whole.end_state(run.W)
    last_step = whole.clock_bounded_steps(S["h"], S["h_sparse"], lam_sqrt_m, S["tau_step"])[1]
    rest = whole.discrete_final_length(lam, last_step, S["rk_order"])
    count, pred, picture = whole.count_polysemantic(W), whole.expected_polysemantic(n, m), 1 - (n - 1) / (4 * m)
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
    checks.append(CHECKS.winner.below(measured=whole.mechanism_rate(W0, W), bound=picture, picture=picture))
    top0, _ = whole.init_argmax(W0)
    final = np.argmax(np.abs(W), axis=1)
    feats = np.arange(n)
    pos = W[feats, final] > 0
    shared = np.isin(final, [k for k, *_ in state.shared])
    moved = final != top0
    series = [
        svgplot.Series(x[sel], feats[sel], label=label, kind="points", color=color)
        for x, sel, label, color in (
            (final, pos & ~shared, "positive weight", svgplot.PALETTE[0]),
            (final, ~pos & ~shared, "negative weight", svgplot.PALETTE[1]),
            (final, shared, "on a polysemantic neuron", "#000"),
            (top0, moved, "initial argmax (moved)", "#bbb"),
        )
    ]
    xlabel = "neuron (final: colour; initial argmax if it moved: grey)"
    left = svgplot.Axes(series, xlabel=xlabel, ylabel="feature", xlim=(0, m), ylim=(-1, n))
    sign = {1: "+", -1: "−"}
    pairs = [f"neuron {k}: features {f[0]} ({sign[s[0]]}) and {f[1]} ({sign[s[1]]})" for k, f, s in state.shared]
    listed = ", ".join(pairs[:8]) + (" …" if len(pairs) > 8 else "") + ". " if pairs else ""
    note += (
        f"{listed}Every feature ends at length {np.mean(state.lengths):.4f}, the last step's rest length {rest:.4f} "
        f"(the chapter's runs polish it to w*(λ) = {whole.final_length(lam):.4f}); t_end = {run.t_end:.0f}."
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
