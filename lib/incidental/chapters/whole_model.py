"""Chapter 7 (Whole model): claims W1-W4, the paper's scale, and the chapter's widget.

Feature benefit, interference and L1 together, from the ``N(0, 1/m)`` initialisation to convergence, with
the integrator of :mod:`incidental.whole` (exact zeros, an honest convergence rule). Every formula (the
rest length, the prediction and its rivals, the sparsification clock, the L1 floor of interference) lives
in :mod:`incidental.whole`; this module runs the chapter's experiments, every knob passed explicitly, each
returning a :class:`~incidental.book.Result`:

- :func:`integrator`: the fast path against the plain dense integrator, exact zeros, the fixed point;
- :func:`phases`: one run watched from ``t = 0`` to the end: interference resolved down to the L1 floor,
  sparsification on the clock of a lone encoding, one neuron per feature (W1);
- :func:`lam_scan`: how the time scales, the count and the mechanism depend on ``lam sqrt(m)`` (W1, W4);
- :func:`count_sweep`: polysemantic counts over ``m`` at two ``n``, many seeds, with the end state (W2, W3);
- :func:`mechanism`: where features end relative to their initial argmax, and what happens to the
  initial collisions (W4, and why the count falls short of the prediction);
- :func:`recorded`: the sweeps of ``scripts/sweep_whole.py`` (the paper's grid and more), when present.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from .. import _validate as v
from .. import svgplot
from ..book import Result, quote, repository_root
from ..checks import Check, check_below, check_close, fit_exponent
from ..explore import Control, Explorable, Panel
from ..model import sample_weights
from ..plotting import render
from ..whole import (
    SWEEP_SETTINGS,
    count_polysemantic,
    discrete_final_length,
    end_state,
    expected_polysemantic,
    final_length,
    fit_count_exponent,
    init_argmax,
    interference_floor,
    isolated_density,
    mechanism_rate,
    norm_dip,
    resolution_time,
    rival_no_relocation,
    rival_sign_blind,
    run_point,
    sparsification_half_tau,
    split_step,
    summarize_counts,
    whole_flow,
)

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


def _regime(**kw: object) -> str:
    return ", ".join(f"{k}={val:g}" if isinstance(val, float) else f"{k}={val}" for k, val in kw.items())


def _lam(lam_sqrt_m: float, m: int) -> float:
    return v.positive("lam_sqrt_m", lam_sqrt_m) / np.sqrt(m)


@lru_cache(maxsize=4096)
def point(n: int, m: int, seed: int, lam_sqrt_m: float) -> dict[str, Any]:
    """:func:`incidental.whole.run_point` at the book's settings (cached: runners that share runs share them)."""
    return run_point(n, m, seed, lam=_lam(lam_sqrt_m, m))


# --- the integrator ----------------------------------------------------------------------------------


def integrator(*, n: int, m: int, seed: int, lam_sqrt_m: float) -> Result:
    """The fast integrator against the plain dense one at the sweep settings, from one draw; exact zeros,
    convergence, and the fixed point of the step at the end."""
    n, m = v.sizes(n, m)
    lam = _lam(lam_sqrt_m, m)
    W0 = sample_weights(n, m, seed=seed)
    fast = whole_flow(W0, lam, **SWEEP_SETTINGS)
    dense = whole_flow(W0, lam, method="dense", **SWEEP_SETTINGS)
    diff = float(np.max(np.abs(fast.W - dense.W)))
    again = split_step(fast.W, lam, SWEEP_SETTINGS["polish"], SWEEP_SETTINGS["rk_order"])
    fixed = float(np.max(np.abs(again - fast.W)) / SWEEP_SETTINGS["polish"])
    zeros = int(fast.W.size - np.count_nonzero(fast.W))
    regime = _regime(n=n, m=m, seed=seed, lam_sqrt_m=lam_sqrt_m)
    checks = [
        check_below(
            "W1",
            "the fast integrator computes the plain dense integrator's iterates (same supports)",
            measured=diff if np.array_equal(fast.W != 0, dense.W != 0) else np.inf,
            bound=1e-12,
            regime=regime,
            quantity="max |W_fast - W_dense|",
            kind="identity",
        ),
        check_close(
            "W1",
            "the run ends on exact zeros: n (m - 1) weights are exactly 0, one per feature is not",
            predicted=n * (m - 1),
            measured=zeros,
            regime=regime,
            kind="identity",
        ),
        check_below(
            "W1",
            "the end point is a fixed point of the step (convergence rule: support unchanged, residual ≤ tol)",
            measured=fixed if fast.converged else np.inf,
            bound=10 * SWEEP_SETTINGS["tol"],
            regime=regime,
            quantity="max |step(W) - W| / h",
            kind="identity",
        ),
    ]
    numbers = {
        "diff": quote(diff, ".0e"),
        "t_end": quote(fast.t_end, ".0f"),
        "t_support": quote(fast.t_support, ".0f"),
        "lam_t_end": quote(lam * fast.t_end, ".2f"),
        "fixed": quote(fixed, ".0e"),
        "fast_seconds": quote(fast.seconds, ".2f"),
        "dense_seconds": quote(dense.seconds, ".2f"),
        "steps": quote(fast.steps, "d"),
        "h": quote(SWEEP_SETTINGS["h"], "g"),
        "h_sparse": quote(SWEEP_SETTINGS["h_sparse"], "g"),
        "switch": quote(100 * SWEEP_SETTINGS["switch_density"], "g"),
        "polish": quote(SWEEP_SETTINGS["polish"], "g"),
        "hold": quote(SWEEP_SETTINGS["hold"], "g"),
        "tol": quote(SWEEP_SETTINGS["tol"], "g"),
    }
    return Result(dict(n=n, m=m, seed=seed, lam_sqrt_m=lam_sqrt_m), checks, numbers, dict(run=fast))


# --- W1: the phases ------------------------------------------------------------------------------------


def phases(*, n: int, m: int, seed: int, lam_sqrt_m: float, points: int, tolerance: float) -> Result:
    """One run watched at ``points`` log-spaced times: the positive overlaps against the L1 floor
    ``lam / 2``, the density against the clock of a lone encoding, the norms, the supports.
    ``tolerance``: the largest distance allowed between the measured density and the lone-encoding law
    up to ``tau = 8``."""
    n, m = v.sizes(n, m)
    lam = _lam(lam_sqrt_m, m)
    W0 = sample_weights(n, m, seed=seed)
    times = np.concatenate([[0.0], np.geomspace(0.05, 50.0 / lam, v.size("points", points))])
    run = whole_flow(W0, lam, record=times, **SWEEP_SETTINGS)
    snaps = run.snapshots
    t = np.array([s.t for s in snaps])
    tau = lam * np.sqrt(m) * t
    density = np.array([s.nnz / (n * m) for s in snaps])
    rms_pos = np.array([s.rms_positive_overlap for s in snaps])
    interfering = np.array([s.interfering for s in snaps]) / (n * (n - 1) / 2)
    norm_sq = np.array([s.norm_sq.mean() for s in snaps])
    max_support = np.array([s.max_support for s in snaps])
    lone = isolated_density(tau)
    floor = interference_floor(lam)
    t_res = resolution_time(lam, m)
    quasi = (t >= 2 * max(t_res, 0.5)) & (tau <= 0.5)
    floor_ratio = float(np.mean(rms_pos[quasi]) / floor) if quasi.any() else float("nan")
    frac_interfering = float(np.mean(interfering[quasi])) if quasi.any() else float("nan")
    early = tau <= 8
    density_err = float(np.max(np.abs(density[early] - lone[early])))
    dip = float(1.0 - norm_sq[(tau >= 0.05) & (tau <= 0.2)].min()) if np.any((tau >= 0.05) & (tau <= 0.2)) else np.nan
    tau_half = sparsification_half_tau()
    regime = _regime(n=n, m=m, seed=seed, lam_sqrt_m=lam_sqrt_m)
    checks = [
        check_close(
            "W1",
            "interference is resolved early, down to a floor that L1 keeps: rms positive overlap = λ/2",
            predicted=1.0,
            measured=floor_ratio,
            rtol=0.35,
            regime=regime + f", t from {2 * max(t_res, 0.5):.1f} to τ=0.5, ratio to λ/2",
            kind="approximation",
        ),
        check_below(
            "W1",
            "then each encoding sparsifies as if alone: density = the lone-encoding law of τ = λ√m t",
            measured=density_err,
            bound=tolerance,
            regime=regime + ", τ ≤ 8",
            quantity="max |density - law|",
        ),
        check_close(
            "W1",
            "while dense, the norms sit below 1 by √(2/π) λ√m (feature benefit balancing L1)",
            predicted=norm_dip(lam, m),
            measured=dip,
            rtol=0.35,
            regime=regime + ", smallest mean 1-|W_i|² for τ in [0.05, 0.2]",
            kind="approximation",
        ),
        check_close(
            "W1",
            "it ends with every feature on exactly one neuron",
            predicted=1,
            measured=int(np.count_nonzero(run.W, axis=1).max()),
            regime=regime,
            kind="value",
        ),
    ]
    numbers = {
        "t_res": quote(t_res, ".1f"),
        "t_half": quote(tau_half / (lam * np.sqrt(m)), ".0f"),
        "tau_half": quote(tau_half, ".2f"),
        "floor_ratio": quote(floor_ratio, ".2f"),
        "floor": quote(floor, ".1e"),
        "interfering": quote(frac_interfering, ".2f"),
        "density_err": quote(density_err, ".3f"),
        "dip": quote(dip, ".3f"),
        "dip_pred": quote(norm_dip(lam, m), ".3f"),
        "t_end": quote(run.t_end, ".0f"),
        "lam_t_end": quote(lam * run.t_end, ".1f"),
        "lam": quote(lam, ".2g"),
        "t_interference_end": quote(run.stats.get("t_interference_end", np.nan), ".0f"),
    }
    data = dict(
        t=t,
        tau=tau,
        density=density,
        lone=lone,
        rms_pos=rms_pos,
        floor=floor,
        rms0=1 / np.sqrt(2 * m),
        interfering=interfering,
        norm_sq=norm_sq,
        max_support=max_support,
        t_end=run.t_end,
        lam=lam,
    )
    return Result(
        dict(n=n, m=m, seed=seed, lam_sqrt_m=lam_sqrt_m, points=points, tolerance=tolerance), checks, numbers, data
    )


def phases_axes(r: Result) -> list[svgplot.Axes]:
    """Two panels against time (log): the overlaps with their two predictions; density, norms, supports."""
    d = r.data
    t = np.maximum(d["t"], 1e-3)
    ok = t > 0.02
    decay = d["rms0"] * np.exp(-2 * t)
    left = svgplot.Axes(
        [
            svgplot.Series(t[ok], np.maximum(d["rms_pos"][ok], 1e-7), label="rms positive overlap"),
            svgplot.Series(
                t[ok], np.maximum(decay[ok], 1e-7), label="initial overlaps × e^{-2t}", color="#888", dashed=True
            ),
            svgplot.Series(t[ok], np.full(ok.sum(), d["floor"]), label="L1 floor λ/2", color="#000", dashed=True),
        ],
        xlabel="time t",
        ylabel="overlap",
        xlog=True,
        ylog=True,
        ylim=(d["floor"] / 30, d["rms0"] * 2),
    )
    right = svgplot.Axes(
        [
            svgplot.Series(t[ok], d["density"][ok], label="density of W"),
            svgplot.Series(t[ok], d["lone"][ok], label="lone-encoding law", color="#000", dashed=True),
            svgplot.Series(t[ok], d["norm_sq"][ok], label="mean |W_i|²", color=svgplot.PALETTE[2]),
            svgplot.Series(
                t[ok], d["max_support"][ok] / d["max_support"][0], label="largest support / m", color=svgplot.PALETTE[3]
            ),
        ],
        xlabel="time t",
        ylabel="fraction",
        xlog=True,
        vlines=[(d["t_end"], "")],
    )
    return [left, right]


def phases_figure(r: Result) -> tuple[Figure, str]:
    """The phases figure and its caption."""
    p = r.params
    caption = (
        f"One run ($n = {p['n']}$, $m = {p['m']}$, $\\lambda\\sqrt m = {p['lam_sqrt_m']:g}$, seed {p['seed']}) from "
        f"initialisation to convergence. *Left:* the initial positive overlaps decay like $e^{{-2t}}$ (chapter 4) "
        f"until, at $t \\approx$ {r.q.t_res}, they meet the floor $\\lambda/2$ that L1 keeps alive; the floor rises to "
        f"about twice that as the supports shrink, and vanishes only when they separate. *Right:* the fraction of "
        f"nonzero weights follows the law of an encoding sparsifying alone (dashed) to within {r.q.density_err}; "
        f"the norms dip by about $\\sqrt{{2/\\pi}}\\lambda\\sqrt m$ "
        f"and return; the largest support falls to one neuron. The vertical line is $t_{{end}}$ = {r.q.t_end}."
    )
    return render(phases_axes(r), height=3.0), caption


# --- W1, W4: lam ---------------------------------------------------------------------------------------


def lam_scan(*, n: int, m: int, seeds: tuple[int, ...], lam_sqrt_ms: tuple[float, ...], small: float) -> Result:
    """Runs over ``lam sqrt(m)``: the half-density time, ``t_end``, the count, the mechanism and the dead
    features. The exponent checks use the values ``<= small`` (the regime ``lam sqrt(m)`` small)."""
    n, m = v.sizes(n, m)
    cs = np.asarray(lam_sqrt_ms, dtype=float)
    recs = [[point(n, m, s, float(c)) for s in seeds] for c in cs]
    t_half = np.array([np.median([r["t_density_half"] for r in rr]) for rr in recs])
    t_end = np.array([np.median([r["t_end"] for r in rr]) for rr in recs])
    mech = np.array([np.mean([r["mechanism"] for r in rr]) for rr in recs])
    count = np.array([np.mean([r["polysemantic"] for r in rr]) for rr in recs])
    dead = np.array([np.mean([r["dead_features"] for r in rr]) for rr in recs])
    sm = cs <= small
    fit_half = fit_exponent(cs[sm], t_half[sm])
    fit_end = fit_exponent(cs[sm], t_end[sm])
    tau_half = sparsification_half_tau()
    regime = _regime(n=n, m=m, seeds=len(seeds)) + f", λ√m ≤ {small:g}"
    checks = [
        Check(
            "W1",
            "sparsification runs on the clock τ = λ√m t: the half-density time ∝ (λ√m)^-1",
            "exponent -1 ± 0.1",
            f"exponent {fit_half}",
            regime,
            bool(fit_half.low - 0.1 <= -1 <= fit_half.high + 0.1),
            "exponent fit",
        ),
        check_close(
            "W1",
            "with the lone-encoding constant: λ√m t_half = τ_half",
            predicted=tau_half,
            measured=float(np.median((cs * t_half)[sm])),
            rtol=0.2,
            regime=regime,
            kind="value",
        ),
        Check(
            "W1",
            "the last competitions take a time ∝ 1/λ (t_end ∝ (λ√m)^-1 at fixed m)",
            "exponent -1 ± 0.25",
            f"exponent {fit_end}",
            regime,
            bool(fit_end.low - 0.25 <= -1 <= fit_end.high + 0.25),
            "exponent fit",
        ),
        check_below(
            "W1",
            "no feature dies while λ√m is small",
            measured=float(dead[sm].max()),
            bound=0.0,
            regime=regime,
            quantity="mean dead features",
            kind="value",
        ),
    ]
    numbers = {
        "half_exp": quote(fit_half.exponent, ".2f"),
        "half_lo": quote(fit_half.low, ".2f"),
        "half_hi": quote(fit_half.high, ".2f"),
        "end_exp": quote(fit_end.exponent, ".2f"),
        "end_lo": quote(fit_end.low, ".2f"),
        "end_hi": quote(fit_end.high, ".2f"),
        "lam_t_end": quote(float(np.median((cs / np.sqrt(m) * t_end)[sm])), ".1f"),
        "tau_half_measured": quote(float(np.median((cs * t_half)[sm])), ".2f"),
        "mech_small": quote(float(mech[0]), ".2f"),
        "mech_large": quote(float(mech[-1]), ".2f"),
        "dead_large": quote(float(dead[-1]), ".1f"),
        "c_small": quote(float(cs[0]), "g"),
        "c_large": quote(float(cs[-1]), "g"),
    }
    data = dict(c=cs, t_half=t_half, t_end=t_end, mech=mech, count=count, dead=dead, tau_half=tau_half)
    params = dict(n=n, m=m, seeds=tuple(seeds), lam_sqrt_ms=tuple(lam_sqrt_ms), small=small)
    return Result(params, checks, numbers, data)


def lam_axes(
    r: Result, recorded_lam: dict[str, np.ndarray] | None = None, lam_count: dict[str, np.ndarray] | None = None
) -> list[svgplot.Axes]:
    """Time scales against lam sqrt(m); mechanism rate and dead features against lam sqrt(m)."""
    d = r.data
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
    series = [
        svgplot.Series(c, d["mech"], label=f"mechanism rate, n={r.params['n']}, m={r.params['m']}", kind="points")
    ]
    if recorded_lam is not None:
        series.append(
            svgplot.Series(
                recorded_lam["c"],
                recorded_lam["mech"],
                label=f"recorded, n={recorded_lam['n']}, m={recorded_lam['m']}",
                kind="errorbar",
                low=recorded_lam["mech_low"],
                high=recorded_lam["mech_high"],
                color=svgplot.PALETTE[2],
            )
        )
    if lam_count is not None:
        series.append(
            svgplot.Series(
                lam_count["c"],
                lam_count["ratio"],
                label=f"count / prediction, recorded n={lam_count['n']}, m={lam_count['m']}",
                kind="errorbar",
                low=lam_count["low"],
                high=lam_count["high"],
                color=svgplot.PALETTE[3],
            )
        )
    series.append(svgplot.Series(c, d["dead"] / r.params["n"], label="dead features / n", color=svgplot.PALETTE[1]))
    right = svgplot.Axes(series, xlabel="λ√m", ylabel="fraction", xlog=True, ylim=(0.0, 1.15))
    return [left, right]


def lam_figure(
    r: Result, recorded_lam: dict[str, np.ndarray] | None = None, lam_count: dict[str, np.ndarray] | None = None
) -> tuple[Figure, str]:
    p = r.params
    caption = (
        f"Against $\\lambda\\sqrt m$ ($n = {p['n']}$, $m = {p['m']}$, medians over {len(p['seeds'])} seeds). *Left:* "
        f"the time at which half the weights are zero follows $\\tau_{{half}}/(\\lambda\\sqrt m)$ with the "
        f"lone-encoding constant $\\tau_{{half}}$ = {r.q.tau_half_measured} measured; $t_{{end}}$ falls like "
        f"$1/\\lambda$ (exponent {r.q.end_exp}). *Right:* the fraction of features that end on the neuron they "
        f"were most aligned with at initialisation"
        + (" (with the recorded sweep's 95% intervals)" if recorded_lam is not None else "")
        + (", the recorded count over its prediction (purple)" if lam_count is not None else "")
        + f", and the fraction of features that die: none for $\\lambda\\sqrt m \\le {p['small']:g}$, "
        f"{r.q.dead_large} of {p['n']} on average at $\\lambda\\sqrt m = {r.q.c_large}$."
    )
    return render(lam_axes(r, recorded_lam, lam_count), height=3.0), caption


# --- W2, W3: counts and the end state ------------------------------------------------------------------


def count_sweep(*, ns: tuple[int, ...], ms: tuple[int, ...], seeds: tuple[int, ...], lam_sqrt_m: float) -> Result:
    """Polysemantic counts over ``ms`` at each of ``ns`` (pairs with ``m < n`` skipped), ``seeds`` per point,
    with the end state of every run (W3) and the count against the prediction (W2)."""
    recs = [point(n, m, s, lam_sqrt_m) for n in ns for m in ms if m >= n for s in seeds]
    runs = len(recs)
    # W3: the end state of every run
    shared_ok = all(r["polysemantic"] == r["opposite_sign_pairs"] and r["same_sign_shared"] == 0 for r in recs)
    max_per_neuron = max(r["max_features_per_neuron"] for r in recs)
    single = all(r["single_neuron_features"] == r["n"] for r in recs)
    lengths = np.array([r["mean_length"] for r in recs])
    w_star = np.array([final_length(r["lam"]) for r in recs])
    w_disc = np.array(
        [discrete_final_length(r["lam"], SWEEP_SETTINGS["polish"], SWEEP_SETTINGS["rk_order"]) for r in recs]
    )
    length_err = float(np.max(np.abs(lengths - w_star)))
    disc_err = float(np.max(np.abs(lengths - w_disc)))
    # W2
    summary = summarize_counts(recs)
    fits = {}
    for n in ns:
        sel = [r for r in recs if r["n"] == n]
        fits[n] = fit_count_exponent(np.array([r["m"] for r in sel]), np.array([r["polysemantic"] for r in sel]))
    counts = np.array([r["polysemantic"] for r in recs], dtype=float)
    pred = np.array([expected_polysemantic(r["n"], r["m"]) for r in recs])
    far = np.array([r["m"] >= 2 * r["n"] for r in recs])
    ratio_far, lo_far, hi_far = _ratio_ci(counts[far], pred[far])
    eq = ~far
    ratio_eq, lo_eq, hi_eq = _ratio_ci(counts[eq], pred[eq]) if eq.any() else (np.nan, np.nan, np.nan)
    init = np.array([r["init_collisions"] for r in recs], dtype=float)
    init_ratio, init_lo, init_hi = _ratio_ci(
        init[far], np.array([rival_no_relocation(r["n"], r["m"]) for r in recs])[far]
    )
    regime = _regime(ns=str(tuple(ns)), m=f"{ms[0]}..{ms[-1]}", seeds=len(seeds), lam_sqrt_m=lam_sqrt_m)
    checks = [
        check_close(
            "W3",
            "every polysemantic neuron holds exactly two features, of opposite signs",
            predicted=2,
            measured=max_per_neuron if shared_ok else np.inf,
            regime=regime + f", {runs} runs",
            kind="identity",
        ),
        check_close(
            "W3",
            "every feature ends on exactly one neuron, none dies",
            predicted=1,
            measured=1 if single else 0,
            regime=regime,
            kind="identity",
        ),
        check_below(
            "W3",
            "each feature rests at the scheme's rest length (closed form of the step)",
            measured=disc_err,
            bound=1e-8,
            regime=regime,
            quantity="max |length - w_h|",
            kind="identity",
        ),
        check_below(
            "W3",
            "which is the flow's w*(λ), root of w(1-w²) = λ, up to the step's lag λ h/2",
            measured=length_err,
            bound=float(np.max([r["lam"] for r in recs])) * SWEEP_SETTINGS["polish"],
            regime=regime + f", h={SWEEP_SETTINGS['polish']:g}",
            quantity="max |length - w*(λ)|",
        ),
    ]
    for n in ns:
        f = fits[n]
        checks.append(
            Check(
                "W2",
                f"the count is Θ(n²/m): exponent of m at n = {n}",
                "exponent -1 ± 0.15",
                f"exponent {f} (quasi-Poisson 95% CI)",
                regime,
                bool(f.low - 0.15 <= -1 <= f.high + 0.15),
                "exponent fit",
            )
        )
    checks.append(
        check_close(
            "W2",
            "the constant: count = n(n-1)/(2(2m-1)) within 30% (it falls short as n grows: the recorded sweeps)",
            predicted=1.0,
            measured=ratio_far,
            atol=0.3,
            regime=regime + ", m ≥ 2n, pooled ratio",
            kind="value",
        )
    )
    checks.append(
        check_close(
            "W2",
            "the initial argmax collisions match their prediction (opposite signs, no relocation yet)",
            predicted=1.0,
            measured=init_ratio,
            atol=max(0.15, init_hi - init_ratio),
            regime=regime + ", m ≥ 2n, ratio to m(1-(1-1/2m)^n)²",
            kind="value",
        )
    )
    numbers = {
        "runs": quote(runs, "d"),
        "ratio_far": quote(ratio_far, ".2f"),
        "ratio_far_lo": quote(lo_far, ".2f"),
        "ratio_far_hi": quote(hi_far, ".2f"),
        "ratio_eq": quote(ratio_eq, ".2f"),
        "init_ratio": quote(init_ratio, ".2f"),
        "length_err": quote(length_err, ".1e"),
        "disc_err": quote(disc_err, ".0e"),
        "w_star": quote(final_length(recs[0]["lam"]), ".5f"),
        **{f"exp_{n}": quote(fits[n].exponent, ".2f") for n in ns},
        **{f"exp_{n}_lo": quote(fits[n].low, ".2f") for n in ns},
        **{f"exp_{n}_hi": quote(fits[n].high, ".2f") for n in ns},
    }
    params = dict(ns=tuple(ns), ms=tuple(ms), seeds=tuple(seeds), lam_sqrt_m=lam_sqrt_m)
    return Result(params, checks, numbers, dict(summary=summary, fits=fits, records=recs))


def _ratio_ci(counts: np.ndarray, predicted: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Pooled ratio ``sum(counts) / sum(predicted)`` with a normal interval from the per-run scatter."""
    counts, predicted = np.asarray(counts, float), np.asarray(predicted, float)
    if counts.size == 0 or predicted.sum() <= 0:
        return float("nan"), float("nan"), float("nan")
    ratio = counts.sum() / predicted.sum()
    resid = counts - ratio * predicted
    se = np.sqrt(np.sum(resid**2)) / predicted.sum()
    z = stats.norm.ppf(0.5 + confidence / 2)
    return float(ratio), float(ratio - z * se), float(ratio + z * se)


def count_axes(summaries: list[tuple[str, Any]], *, paper: bool = False, rivals: bool = True) -> svgplot.Axes:
    """Counts against m, log-log, one colour per n: measured means with intervals, the prediction (solid) and,
    for the largest n, the rivals; the paper's single-seed counts if ``paper``."""
    series = []
    for k, (label, s) in enumerate(summaries):
        color = svgplot.PALETTE[k % len(svgplot.PALETTE)]
        ok = s.mean > 0
        series.append(
            svgplot.Series(
                s.m[ok],
                s.mean[ok],
                label=f"{label} (mean, 95% CI)",
                kind="errorbar",
                low=np.maximum(s.low[ok], s.mean[ok] * 0.05),
                high=s.high[ok],
                color=color,
            )
        )
        series.append(svgplot.Series(s.m, s.predicted, label="", color=color))
    if rivals and summaries:
        s = summaries[-1][1]
        n = int(s.n[-1])
        series.append(
            svgplot.Series(
                s.m,
                [rival_sign_blind(n, int(m)) for m in s.m],
                label="rival: every collision stays",
                color="#888",
                dashed=True,
            )
        )
    if paper:
        series.append(
            svgplot.Series(PAPER_M, PAPER_COUNTS, label="Lecomte et al. (n=256, one seed)", kind="points", color="#000")
        )
    return svgplot.Axes(series, xlabel="neurons m", ylabel="polysemantic neurons", xlog=True, ylog=True)


def count_figure(r: Result) -> tuple[Figure, str]:
    p = r.params
    sums = [(f"n={n}", _subset(r.data["summary"], n)) for n in p["ns"]]
    caption = (
        f"Polysemantic neurons against $m$ ({len(p['seeds'])} seeds per point, "
        f"$\\lambda\\sqrt m = {p['lam_sqrt_m']:g}$): "
        f"means with 95% intervals; solid lines are the prediction $n(n-1)/(2(2m-1))$, the dashed grey line the rival "
        f"in which every initial collision stays. The exponents are "
        + ", ".join(f"{r.q.__getattr__('exp_' + str(n))} at $n = {n}$" for n in p["ns"])
        + f". Measured over predicted, pooled over $m \\ge 2n$: {r.q.ratio_far} "
        f"[{r.q.ratio_far_lo}, {r.q.ratio_far_hi}]."
    )
    return render(count_axes(sums), height=3.3, width=6.0), caption


def _subset(summary: Any, n: int) -> Any:
    sel = summary.n == n
    return type(summary)(**{f: getattr(summary, f)[sel] for f in summary.__dataclass_fields__})


# --- W4: the mechanism -----------------------------------------------------------------------------------


def mechanism(*, n: int, m: int, seeds: tuple[int, ...], lam_sqrt_m: float) -> Result:
    """Where features end relative to their initial argmax, when that is decided, and what happens to the
    initial collisions (kept, broken, new), over ``seeds``."""
    n, m = v.sizes(n, m)
    lam = _lam(lam_sqrt_m, m)
    recs = [point(n, m, s, lam_sqrt_m) for s in seeds]
    L = min(len(r["tau"]) for r in recs)
    tau = np.array(recs[0]["tau"][:L])
    decided = np.array([r["decided"][:L] for r in recs]).mean(axis=0)
    coll = np.array([r["collisions"][:L] for r in recs], dtype=float)
    coll_mean = coll.mean(axis=0)
    coll_se = coll.std(axis=0, ddof=1) / np.sqrt(len(seeds))
    mech = float(np.mean([r["mechanism"] for r in recs]))
    top3 = float(np.mean([r["rank_le_2"] for r in recs]))
    picture = 1.0 - (n - 1) / (4.0 * m)
    # the end of the interference phase: twice the time its overlaps take to reach the L1 floor
    tau_res = 2 * resolution_time(lam, m) * lam * np.sqrt(m)
    k_res = int(np.flatnonzero(tau <= tau_res + 1e-12).max())
    reordered_early = float((decided[k_res] - decided[0]) / max(1 - decided[0], 1e-12))
    init_pairs = sum(r["initial_pairs"] for r in recs)
    kept = sum(r["kept_pairs"] for r in recs)
    new = sum(r["new_pairs"] for r in recs)
    final = sum(r["polysemantic"] for r in recs)
    stay_single = float(np.nanmean([r["stay_single"] for r in recs]))
    stay_same = float(np.nanmean([r["stay_same"] for r in recs]))
    kept_indep = init_pairs * stay_single**2
    # uniform, independent slots: each pair with at least one mover ends together, with opposite signs, w.p. 1/(2m)
    new_uniform = sum((n * (n - 1) - (n - r["movers"]) * (n - r["movers"] - 1)) / 2 for r in recs) / (2.0 * m)
    regime = _regime(n=n, m=m, seeds=len(seeds), lam_sqrt_m=lam_sqrt_m)
    checks = [
        Check(
            "W4",
            f"what holds instead: a feature ends on one of the few neurons it was most aligned with (top 3: "
            f"{top3:.2f}); which one is picked during sparsification (the interference phase does "
            f"{reordered_early:.0%} of the reordering)",
            f"fraction ending on the initial argmax {picture:.3f} (only same-sign losers move)",
            f"{mech:.3f}",
            regime,
            bool(mech < picture - 0.1 and reordered_early < 0.25 and top3 > 0.8),
            "value",
            "a feature ends on the neuron it was most aligned with at initialisation",
        ),
        check_below(
            "W4",
            "same-sign collisions dissolve: both features usually leave (the picture: one of the two stays)",
            measured=stay_same,
            bound=0.5,
            regime=regime,
            quantity="fraction that stay",
            kind="value",
        ),
        check_below(
            "W2",
            "movers avoid the neurons others end on: fewer new pairs form than uniform landing gives",
            measured=new / max(new_uniform, 1e-9),
            bound=1.0,
            regime=regime,
            quantity="new pairs / uniform landing",
            kind="value",
        ),
    ]
    numbers = {
        "mech": quote(mech, ".2f"),
        "picture": quote(picture, ".3f"),
        "top3": quote(top3, ".2f"),
        "decided0": quote(float(decided[0]), ".2f"),
        "decided_res": quote(float(decided[k_res]), ".2f"),
        "tau_res": quote(float(tau[k_res]), "g"),
        "reordered_early": quote(100 * reordered_early, ".0f"),
        "init_pairs": quote(init_pairs / len(seeds), ".2f"),
        "kept": quote(kept / len(seeds), ".2f"),
        "kept_indep": quote(kept_indep / len(seeds), ".2f"),
        "new": quote(new / len(seeds), ".2f"),
        "new_uniform": quote(new_uniform / len(seeds), ".2f"),
        "final": quote(final / len(seeds), ".2f"),
        "stay_single": quote(stay_single, ".2f"),
        "stay_same": quote(stay_same, ".2f"),
        "coll0": quote(float(coll_mean[0]), ".2f"),
        "coll_end": quote(float(coll_mean[-1]), ".2f"),
        "predicted": quote(expected_polysemantic(n, m), ".2f"),
    }
    data = dict(
        tau=tau,
        decided=decided,
        coll=coll_mean,
        coll_se=coll_se,
        predicted=expected_polysemantic(n, m),
        tau_res=tau[k_res],
    )
    return Result(dict(n=n, m=m, seeds=tuple(seeds), lam_sqrt_m=lam_sqrt_m), checks, numbers, data)


def mechanism_axes(r: Result, recorded_tau: dict[str, np.ndarray] | None = None) -> list[svgplot.Axes]:
    d = r.data
    tau = np.maximum(d["tau"], 0.01)
    left = svgplot.Axes(
        [svgplot.Series(tau, d["decided"], label="argmax(t) = final neuron")],
        xlabel="τ = λ√m t",
        ylabel="fraction of features",
        xlog=True,
        ylim=(0.0, 1.05),
        vlines=[(float(d["tau_res"]), "")],
    )
    series = [
        svgplot.Series(
            tau,
            d["coll"],
            label=f"C(τ), n={r.params['n']}, m={r.params['m']}",
            kind="band",
            low=d["coll"] - 2 * d["coll_se"],
            high=d["coll"] + 2 * d["coll_se"],
        ),
        svgplot.Series(
            tau, np.full(tau.size, d["predicted"]), label="prediction n(n-1)/(2(2m-1))", color="#000", dashed=True
        ),
    ]
    if recorded_tau is not None:
        series.append(
            svgplot.Series(
                np.maximum(recorded_tau["tau"], 0.01),
                recorded_tau["ratio"] * d["predicted"],
                label=f"recorded n={recorded_tau['n']}, m={recorded_tau['m']} (rescaled)",
                color=svgplot.PALETTE[1],
            )
        )
    right = svgplot.Axes(series, xlabel="τ = λ√m t", ylabel="opposite-sign argmax collisions", xlog=True)
    return [left, right]


def mechanism_figure(r: Result, recorded_tau: dict[str, np.ndarray] | None = None) -> tuple[Figure, str]:
    p = r.params
    caption = (
        f"When the winners are picked ($n = {p['n']}$, $m = {p['m']}$, {len(p['seeds'])} seeds, "
        f"$\\lambda\\sqrt m = {p['lam_sqrt_m']:g}$). *Left:* the fraction of features whose current argmax is already "
        f"the neuron they end on: {r.q.decided0} at $t = 0$, little changed by the end of the interference phase "
        f"({r.q.decided_res} at $\\tau = {r.q.tau_res}$, dotted line), then rising to 1 during sparsification. "
        f"*Right:* "
        f"$C(\\tau)$, the neurons that are the current argmax of a positive and a negative feature, with a band of "
        f"±2 standard errors: it starts at the prediction and ends below it, at {r.q.coll_end}"
        + ("; in red the recorded paper-scale run, rescaled to the same prediction" if recorded_tau is not None else "")
        + "."
    )
    return render(mechanism_axes(r, recorded_tau), height=3.0), caption


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


def recorded(*, confidence: float, power: float) -> Result:
    """Checks and numbers from the recorded sweeps: the paper's grid (n = 256), the count sweep at two more
    ``n``, the ``lam`` sweep and the benchmark. ``confidence`` and ``power`` set how many runs a test that
    tells the prediction from its nearest rival would need. Without the files, no check and a note."""
    rec = Recorded(*(load(name) for name in DATA))
    checks: list[Check] = []
    numbers: dict[str, Any] = {}
    data: dict[str, Any] = {"rec": rec}
    if rec.paper is not None:
        runs = rec.paper["runs"]
        summ = summarize_counts(runs)
        m = np.array([r["m"] for r in runs])
        c = np.array([r["polysemantic"] for r in runs], dtype=float)
        pred = np.array([expected_polysemantic(r["n"], r["m"]) for r in runs])
        fit = fit_count_exponent(m, c)
        far = m >= 512
        fit_far = fit_count_exponent(m[far], c[far])
        ratio, lo, hi = _ratio_ci(c[far], pred[far])
        ratio_eq, lo_eq, hi_eq = _ratio_ci(c[~far], pred[~far])
        regime = f"n=256, m=256..4096 (16 values), {rec.paper['seeds']} seeds, λ√m=0.1"
        checks += [
            Check(
                "W2",
                "paper's grid: the count falls like 1/m (the Θ(n²/m) claim), here over m ≥ 2n",
                "exponent -1 ± 0.15",
                f"exponent {fit_far} (quasi-Poisson 95% CI)",
                regime + ", m ≥ 512",
                bool(fit_far.low - 0.15 <= -1 <= fit_far.high + 0.15),
                "exponent fit",
            ),
            Check(
                "W2",
                "but with a smaller constant than derived: count / (n(n-1)/(2(2m-1))) < 1 for m ≥ 2n",
                "1 (the picture's constant 1/4)",
                f"{ratio:.2f} [{lo:.2f}, {hi:.2f}]",
                regime + ", m ≥ 512, pooled",
                bool(hi < 1.0),
                "value",
                "the expected number of polysemantic neurons is n²/(4m)",
            ),
        ]
        k = int(np.argmin(np.abs(summ.m - 2048)))
        numbers.update(
            {
                "paper_exp": quote(fit.exponent, ".2f"),
                "paper_exp_lo": quote(fit.low, ".2f"),
                "paper_exp_hi": quote(fit.high, ".2f"),
                "paper_far_exp": quote(fit_far.exponent, ".2f"),
                "paper_far_lo": quote(fit_far.low, ".2f"),
                "paper_far_hi": quote(fit_far.high, ".2f"),
                "paper_ratio": quote(ratio, ".2f"),
                "paper_ratio_lo": quote(lo, ".2f"),
                "paper_ratio_hi": quote(hi, ".2f"),
                "paper_ratio_eq": quote(ratio_eq, ".2f"),
                "paper_ratio_eq_lo": quote(lo_eq, ".2f"),
                "paper_ratio_eq_hi": quote(hi_eq, ".2f"),
                "paper_wall": quote(rec.paper["wall_seconds"] / 60, ".1f"),
                "paper_cpu": quote(rec.paper["cpu_seconds"] / 60, ".0f"),
                "paper_runs": quote(len(runs), "d"),
                "paper_seeds": quote(rec.paper["seeds"], "d"),
                "paper_version": quote(rec.paper["library_version"], ""),
                "paper_m256": quote(summ.mean[0], ".1f"),
                "paper_m2048": quote(summ.mean[k], ".1f"),
                "paper_m2048_pred": quote(summ.predicted[k], ".1f"),
                "paper_converged": quote(sum(r["converged"] for r in runs), "d"),
                "paper_mech_256": quote(np.mean([r["mechanism"] for r in runs if r["m"] == 256]), ".2f"),
                "paper_mech_4096": quote(np.mean([r["mechanism"] for r in runs if r["m"] == 4096]), ".2f"),
                "paper_tend_4096": quote(np.median([r["t_end"] for r in runs if r["m"] == 4096]), ".0f"),
            }
        )
        # how many runs would tell the prediction from its nearest rival (no relocation), per point and pooled
        z = stats.norm.ppf(0.5 + confidence / 2) + stats.norm.ppf(power)
        var = np.array([np.var([r["polysemantic"] for r in runs if r["m"] == mm], ddof=1) for mm in summ.m])
        rival = np.array([rival_no_relocation(256, int(mm)) for mm in summ.m])
        need = (z**2) * var / (summ.predicted - rival) ** 2
        numbers.update(
            {
                "need_256": quote(int(max(1, np.ceil(need[0]))), "d"),
                "need_4096": quote(int(np.ceil(need[-1])), "d"),
                "paper_inside": quote(
                    int(np.sum(np.abs(np.array(PAPER_COUNTS) - summ.mean) <= 2 * np.sqrt(summ.mean))), "d"
                ),
                "rival_256": quote(rival[0], ".1f"),
                "rival_4096": quote(rival[-1], ".2f"),
                "pred_256": quote(summ.predicted[0], ".1f"),
                "pred_4096": quote(summ.predicted[-1], ".2f"),
            }
        )
        data.update(paper_summary=summ, need=need, rival=rival)
        taus = np.array(runs[0]["tau"])
        sel = [r for r in runs if r["m"] == 4096]
        L = min(len(r["tau"]) for r in sel)
        data["tau_4096"] = dict(
            tau=np.array(sel[0]["tau"][:L]),
            ratio=np.array([r["collisions"][:L] for r in sel]).mean(axis=0) / expected_polysemantic(256, 4096),
            n=256,
            m=4096,
        )
        del taus
    if rec.counts is not None:
        runs = rec.counts["runs"]
        for n in sorted({r["n"] for r in runs}):
            sel = [r for r in runs if r["n"] == n and r["m"] >= 2 * n]
            f = fit_count_exponent(np.array([r["m"] for r in sel]), np.array([r["polysemantic"] for r in sel]))
            ratio, lo, hi = _ratio_ci(
                np.array([r["polysemantic"] for r in sel], float),
                np.array([expected_polysemantic(n, r["m"]) for r in sel]),
            )
            checks.append(
                Check(
                    "W2",
                    f"the count falls like 1/m at n = {n} (m ≥ 2n)",
                    "exponent -1 ± 0.15",
                    f"exponent {f} (quasi-Poisson 95% CI)",
                    f"n={n}, m={2 * n}..{max(r['m'] for r in sel)}, {rec.counts['seeds']} seeds, λ√m=0.1",
                    bool(f.low - 0.15 <= -1 <= f.high + 0.15),
                    "exponent fit",
                )
            )
            numbers.update(
                {
                    f"exp_{n}": quote(f.exponent, ".2f"),
                    f"exp_{n}_lo": quote(f.low, ".2f"),
                    f"exp_{n}_hi": quote(f.high, ".2f"),
                    f"ratio_{n}": quote(ratio, ".2f"),
                    f"ratio_{n}_lo": quote(lo, ".2f"),
                    f"ratio_{n}_hi": quote(hi, ".2f"),
                }
            )
    if rec.lam is not None:
        runs = rec.lam["runs"]
        cs = sorted({round(r["lam_sqrt_m"], 6) for r in runs})
        mech, lo, hi, dead, count = [], [], [], [], []
        for c in cs:
            x = np.array([r["mechanism"] for r in runs if round(r["lam_sqrt_m"], 6) == c])
            half = stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
            mech.append(x.mean())
            lo.append(x.mean() - half)
            hi.append(x.mean() + half)
            dead.append(np.mean([r["dead_features"] for r in runs if round(r["lam_sqrt_m"], 6) == c]))
            count.append(np.mean([r["polysemantic"] for r in runs if round(r["lam_sqrt_m"], 6) == c]))
        data["lam"] = dict(
            c=np.array(cs),
            mech=np.array(mech),
            mech_low=np.array(lo),
            mech_high=np.array(hi),
            dead=np.array(dead),
            count=np.array(count),
            n=runs[0]["n"],
            m=runs[0]["m"],
        )
        numbers.update(
            {
                "lam_mech_min": quote(min(mech), ".2f"),
                "lam_mech_max": quote(max(mech), ".2f"),
                "lam_n": quote(runs[0]["n"], "d"),
                "lam_m": quote(runs[0]["m"], "d"),
                "lam_seeds": quote(rec.lam["seeds"], "d"),
            }
        )
    if rec.lam_count is not None:
        runs = rec.lam_count["runs"]
        n, m = runs[0]["n"], runs[0]["m"]
        cs = sorted({round(r["lam_sqrt_m"], 6) for r in runs})
        pred = expected_polysemantic(n, m)
        ratio, lo, hi = [], [], []
        for c in cs:
            x = np.array([r["polysemantic"] for r in runs if round(r["lam_sqrt_m"], 6) == c], dtype=float)
            half = stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
            ratio.append(x.mean() / pred)
            lo.append((x.mean() - half) / pred)
            hi.append((x.mean() + half) / pred)
        ratio, lo, hi, cs_arr = np.array(ratio), np.array(lo), np.array(hi), np.array(cs)
        small, large = cs_arr <= 0.2, cs_arr >= 0.8
        x_small = np.array([r["polysemantic"] for r in runs if r["lam_sqrt_m"] <= 0.2 + 1e-9], dtype=float)
        x_large = np.array([r["polysemantic"] for r in runs if r["lam_sqrt_m"] >= 0.8 - 1e-9], dtype=float)
        r_small, lo_small, hi_small = _ratio_ci(x_small, np.full(x_small.size, pred), confidence)
        r_large, lo_large, hi_large = _ratio_ci(x_large, np.full(x_large.size, pred), confidence)
        regime = f"n={n}, m={m}, {rec.lam_count['seeds']} seeds per λ√m in {cs[0]:g}..{cs[-1]:g}"
        checks.append(
            Check(
                "W2",
                "the deficit comes with the reshuffling: below 1 and flat in λ while λ√m ≤ 0.2, gone when "
                "sparsification outruns interference (λ√m ≥ 0.8)",
                "small λ√m: < 1; large λ√m: 1",
                f"{r_small:.2f} [{lo_small:.2f}, {hi_small:.2f}]; {r_large:.2f} [{lo_large:.2f}, {hi_large:.2f}]",
                regime,
                bool(hi_small < 1.0 and lo_large <= 1.0 <= hi_large and small.any() and large.any()),
                "value",
            )
        )
        data["lam_count"] = dict(c=cs_arr, ratio=ratio, low=lo, high=hi, n=n, m=m)
        numbers.update(
            {
                "lc_small": quote(r_small, ".2f"),
                "lc_small_lo": quote(lo_small, ".2f"),
                "lc_small_hi": quote(hi_small, ".2f"),
                "lc_large": quote(r_large, ".2f"),
                "lc_large_lo": quote(lo_large, ".2f"),
                "lc_large_hi": quote(hi_large, ".2f"),
                "lc_n": quote(n, "d"),
                "lc_m": quote(m, "d"),
                "lc_seeds": quote(rec.lam_count["seeds"], "d"),
            }
        )
    if rec.bench is not None:
        b = rec.bench
        numbers.update(
            {
                "speedup": quote(b["speedup"], ".0f"),
                "bench_fast": quote(b["fast_seconds"], ".1f"),
                "bench_dense": quote(b["dense_seconds"], ".0f"),
                "bench_same": quote("the same" if b["same_supports"] else "different", ""),
                "bench_command": quote(b["command"], ""),
            }
        )
    present = [name for name, x in zip(DATA, (rec.paper, rec.counts, rec.lam, rec.bench, rec.lam_count)) if x]
    numbers["present"] = quote("recorded: " + (", ".join(present) or "nothing"), "")
    return Result(dict(confidence=confidence, power=power), checks, numbers, data)


def recorded_count_figure(r: Result) -> tuple[Figure | str, str]:
    """The recorded counts at n = 64, 128 and 256 (the paper's grid) with the predictions and the paper's numbers."""
    rec: Recorded = r.data["rec"]
    sums = []
    if rec.counts is not None:
        s = summarize_counts(rec.counts["runs"])
        for n in sorted(set(s.n.tolist())):
            sums.append((f"n={n}", _subset(s, n)))
    if rec.paper is not None:
        sums.append(("n=256", r.data["paper_summary"]))
    if not sums:
        return (
            "<p><em>No recorded sweep in book/data: run scripts/sweep_whole.py.</em></p>",
            "No recorded sweep is present.",
        )
    seeds = (rec.paper or rec.counts)["seeds"]
    ns = ", ".join(label.split("=")[1] for label, _ in sums)
    caption = (
        f"Recorded sweeps (`scripts/sweep_whole.py`, {seeds} seeds per point, $\\lambda\\sqrt m = 0.1$): "
        f"polysemantic neurons against $m$ at $n$ = {ns}, means with 95% intervals. Solid lines: the prediction "
        "$n(n-1)/(2(2m-1))$; dashed grey: the sign-blind rival at the largest $n$; black dots: Lecomte et al.'s "
        f"single-seed counts at $n = 256$. The counts fall like $1/m$ (exponent {r.q.paper_far_exp} "
        f"[{r.q.paper_far_lo}, {r.q.paper_far_hi}] at $n = 256$, $m \\ge 2n$) but sit at {r.q.paper_ratio} of the "
        f"prediction there, and at {r.q.paper_ratio_eq} of it at $m = n$."
    )
    return render(count_axes(sums, paper=True), height=3.6, width=6.4), caption


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
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "m",
            "paper (1 seed)",
            "this book (mean, 95% CI)",
            "prediction",
            "rival: no relocation",
            "paper inside CI",
        )
    )
    return (
        "<table class='incidental-checks' style='border-collapse:collapse;font-size:0.85em'>"
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )


# --- the widget ---------------------------------------------------------------------------------------------


def end_panel(n: int, m: int, lam_sqrt_m: float, seed: int) -> Panel:
    """One run: which features share which neuron (positive and negative weights per neuron), the count
    against the prediction, the checks of the end state."""
    if m < n:
        return Panel([], "<p>The model needs m ≥ n.</p>", "Choose m ≥ n.")
    lam = _lam(lam_sqrt_m, m)
    W0 = sample_weights(n, m, seed=seed)
    run = whole_flow(W0, lam, **SWEEP_SETTINGS)
    W = run.W
    state = end_state(W)
    count = count_polysemantic(W)
    pred = expected_polysemantic(n, m)
    top0, _ = init_argmax(W0)
    final = np.argmax(np.abs(W), axis=1)
    regime = _regime(n=n, m=m, lam_sqrt_m=lam_sqrt_m, seed=seed)
    checks = [
        Check(
            "W2",
            "polysemantic neurons: this run against the prediction (mean ± 2 sd of a Poisson count)",
            f"{pred:.2f} ± {2 * np.sqrt(pred):.2f}",
            f"{count}",
            regime,
            bool(abs(count - pred) <= 2 * np.sqrt(pred) + 1),
            "value",
        ),
        Check(
            "W3",
            "every shared neuron holds two features of opposite signs",
            "all",
            f"{state.opposite_sign_pairs} of {len(state.shared)}",
            regime,
            state.opposite_sign_pairs == len(state.shared) and state.dead_features == 0,
            "identity",
        ),
        Check(
            "W4",
            "features ending on the neuron they were most aligned with at initialisation: fewer than the picture says",
            f"{1 - (n - 1) / (4 * m):.2f} (the picture: all but same-sign losers)",
            f"{mechanism_rate(W0, W):.2f}",
            regime,
            bool(mechanism_rate(W0, W) <= 1 - (n - 1) / (4 * m)),
            "value",
        ),
    ]
    feats = np.arange(n)
    pos = W[feats, final] > 0
    shared = np.isin(final, [k for k, *_ in state.shared])
    moved = final != top0
    series = [
        svgplot.Series(
            final[pos & ~shared], feats[pos & ~shared], label="positive weight", kind="points", color=svgplot.PALETTE[0]
        ),
        svgplot.Series(
            final[~pos & ~shared],
            feats[~pos & ~shared],
            label="negative weight",
            kind="points",
            color=svgplot.PALETTE[1],
        ),
        svgplot.Series(final[shared], feats[shared], label="on a polysemantic neuron", kind="points", color="#000"),
        svgplot.Series(top0[moved], feats[moved], label="initial argmax (moved)", kind="points", color="#bbb"),
    ]
    left = svgplot.Axes(
        series,
        xlabel="neuron (final: colour; initial argmax if it moved: grey)",
        ylabel="feature",
        xlim=(0, m),
        ylim=(-1, n),
    )
    note = ", ".join(
        f"neuron {k}: features {f[0]} ({'+' if s[0] > 0 else '−'}) and {f[1]} ({'+' if s[1] > 0 else '−'})"
        for k, f, s in state.shared[:8]
    )
    note = (note + (" …" if len(state.shared) > 8 else "")) if note else "no polysemantic neuron"
    note += (
        f". Every feature ends at length {np.mean(state.lengths):.4f} (w*(λ) = {final_length(lam):.4f}); "
        f"t_end = {run.t_end:.0f}."
    )
    return Panel(checks, svgplot.svg([left], width=640, height=260), note)


def end_explorable() -> Explorable:
    """Widget: sizes, lam sqrt(m) and seed against the end state and the count."""
    return Explorable(
        end_panel,
        [
            Control("n", "features n", (16, 64), 64, kind="size", low=4, high=128),
            Control("m", "neurons m", (64, 256, 1024), 256, kind="size", low=16, high=2048),
            Control("lam_sqrt_m", "λ√m", (0.1, 0.4), 0.1, kind="float", low=0.02, high=3.0, step=0.02),
            Control("seed", "seed", (0, 1), 0, low=0, high=99),
        ],
        title="The end state: which features share which neuron, and how many",
    )


def explorables() -> dict[str, Explorable]:
    """Fresh explorables of this chapter, by name."""
    return {"end state": end_explorable()}


def claim_checks(result: Result, *claims: str) -> list[Check]:
    """The checks of ``result`` for the named claims (a runner may check several claims)."""
    return [c for c in result.checks if c.claim in claims]
