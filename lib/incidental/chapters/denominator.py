"""Chapter 3 (Denominator): the experiments of claims D1-D3 and the chapter's widgets.

Notation: ``a_i = ||W_i||^2 = G_ii``; ``rho_i`` is interference's relative rate of ``a_i`` and
``phi_i = 2 (1 - a_i)`` feature benefit's (formulas in :mod:`incidental.derivation` and
:mod:`incidental.theory`, under the chapter's marker). Every runner takes all its knobs as
keyword arguments and returns a :class:`~incidental.book.Result`; every figure builder returns
``(figure, caption)`` with the caption built from the result.

Flows. *Interference alone* is the flow of the note's derivation, and the default flow of the
*interference phase* ``[0, t_end]`` (the interval over which interference resolves the positive
overlaps; ``t_end`` is a knob). The *full flow* is feature benefit + interference; every result
that uses it says so. Rates "at initialisation" involve no flow at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from .. import _validate as v
from .. import figures, svgplot
from ..book import Result, quote
from ..checks import check_below, check_close, check_exponent, fit_exponent
from ..derivation import (
    expected_relative_norm_sq_rate,
    feature_benefit_relative_rate,
    first_order_norm_change,
    interference_relative_rate,
    norm_sq_rate_dot,
    norm_sq_rate_independent,
)
from ..explore import Control, Explorable, Panel
from ..flow import simulate, simulate_gram
from ..model import ALL_TERMS, sample_gram, sample_weights
from ..plotting import render
from ..theory import (
    expected_norm_change,
    expected_pair_norm_correction,
    feature_benefit_dominated_fraction,
    feature_benefit_norm_change_rms,
    feature_benefit_rate_rms,
    interference_rate_density,
    interference_rate_mean_se,
    interference_rate_relative_spread,
    interference_rate_sd,
    regularization_norm_share_mean,
    regularization_norm_share_se,
    sd_relative_se,
    share_ratio,
)

INTERFERENCE: tuple[str, ...] = ("interference",)
FULL: tuple[str, ...] = ("feature_benefit", "interference")
FORCE_SETS: dict[str, tuple[str, ...]] = {
    "feature benefit": ("feature_benefit",),
    "interference": INTERFERENCE,
    "regularisation": ("regularization",),
    "all three": ALL_TERMS,
}


# --- draws ----------------------------------------------------------------------------------------


def draw_seeds(point: int, count: int) -> tuple[int, ...]:
    """``count`` seeds for grid point number ``point``: distinct across points, so that the
    draws at different sizes are independent (the same seed at two sizes gives correlated
    Gram matrices, which would make an exponent fit look far more precise than it is)."""
    point = v.size("point", point, minimum=0)
    count = v.size("count", count, minimum=1)
    if count > 1000:
        raise ValueError(f"count must be at most 1000 (seeds of the next point would repeat), got {count}")
    return tuple(1000 * point + s for s in range(count))


@lru_cache(maxsize=512)
def _gram(n: int, m: int, seed: int) -> np.ndarray:
    G = sample_gram(n, m, seed=seed)
    G.setflags(write=False)
    return G


def relative_rates(n: int, m: int, seeds: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """``(rho, phi)``, each ``(len(seeds), n)``: both relative rates of ``||W_i||^2`` at initialisation,
    one Gram draw per seed."""
    n, m = v.sizes(n, m)
    Gs = [_gram(n, m, v.seed(s)) for s in seeds]
    return (
        np.array([interference_relative_rate(G) for G in Gs]),
        np.array([feature_benefit_relative_rate(G) for G in Gs]),
    )


# --- D1: the identity, each force, along its flow ---------------------------------------------------


def norm_rate_identity(
    *,
    n: int,
    m: int,
    lam: float,
    seed: int,
    t0s: tuple[float, ...],
    h: float,
    roundoff_tolerance: float,
    fd_constant: float,
) -> Result:
    """D1 for each force and all three, at initialisation and along the flow of those forces.

    Round-off: ``2 F.W`` against :func:`~incidental.derivation.norm_sq_rate_independent` at ``W(0)``.
    Finite differences: the flow is simulated (:func:`~incidental.flow.simulate`; L1 by Strang
    splitting with steps ``h``) at ``t0 - h, t0, t0 + h`` for each of ``t0s``; the central
    difference of ``||W_i||^2`` (and of ``||W_i||``: the chain rule of D3) is compared with
    ``2 F.W`` (and ``F.W / ||W_i||``); its truncation error is below ``fd_constant * h**2``.
    Errors are relative to the largest rate.
    """
    n, m = v.sizes(n, m)
    W0 = sample_weights(n, m, seed=seed)
    times = np.sort(np.concatenate([[t - h, t, t + h] for t in t0s]))
    round_errs, fd_errs, norm_errs = [], [], []
    for terms in FORCE_SETS.values():
        dot = norm_sq_rate_dot(W0, terms, lam)
        round_errs.append(float(np.max(np.abs(dot - norm_sq_rate_independent(W0, terms, lam))) / np.max(np.abs(dot))))
        Ws = simulate(W0, times, lam=lam, terms=terms, max_step=h)
        worst_sq, worst_norm = 0.0, 0.0
        for k in range(len(t0s)):
            Wm, W, Wp = Ws[3 * k : 3 * k + 3]
            rate = norm_sq_rate_dot(W, terms, lam)
            fd_sq = (np.sum(Wp**2, 1) - np.sum(Wm**2, 1)) / (2 * h)
            fd_norm = (np.linalg.norm(Wp, axis=1) - np.linalg.norm(Wm, axis=1)) / (2 * h)
            half = rate / (2.0 * np.linalg.norm(W, axis=1))
            worst_sq = max(worst_sq, float(np.max(np.abs(fd_sq - rate)) / np.max(np.abs(rate))))
            worst_norm = max(worst_norm, float(np.max(np.abs(fd_norm - half)) / np.max(np.abs(half))))
        fd_errs.append(worst_sq)
        norm_errs.append(worst_norm)
    fd_bound = fd_constant * h**2
    regime = f"n={n}, m={m}, lam={lam:g}"
    along = regime + f", t0 in {tuple(t0s)}, along the flow of these forces"
    checks = []
    for name, r, f, g in zip(FORCE_SETS, round_errs, fd_errs, norm_errs):
        checks += [
            check_below(
                "D1",
                f"d‖W_i‖²/dt = 2 (dW_i/dt)·W_i, {name}: dot product vs independent formula",
                measured=r,
                bound=roundoff_tolerance,
                regime=regime + ", t=0",
                quantity="rel. error",
                kind="identity",
            ),
            check_below(
                "D1",
                f"d‖W_i‖²/dt = 2 (dW_i/dt)·W_i, {name}: vs central difference (h={h:g})",
                measured=f,
                bound=fd_bound,
                regime=along,
                quantity="rel. error",
                kind="identity",
            ),
            check_below(
                "D3",
                f"d‖W_i‖/dt = (dW_i/dt)·W_i / ‖W_i‖, {name}: vs central difference (h={h:g})",
                measured=g,
                bound=fd_bound,
                regime=along,
                quantity="rel. error",
                kind="identity",
            ),
        ]
    params = dict(
        n=n,
        m=m,
        lam=lam,
        seed=seed,
        t0s=tuple(t0s),
        h=h,
        roundoff_tolerance=roundoff_tolerance,
        fd_constant=fd_constant,
    )
    numbers = {
        "roundoff": quote(max(round_errs), ".1e"),
        "fd": quote(max(fd_errs), ".1e"),
        "norm_fd": quote(max(norm_errs), ".1e"),
        "fd_bound": quote(fd_bound, ".0e"),
        "t0_list": quote(" and ".join(f"{t:g}" for t in t0s)),
    }
    return Result(
        params,
        checks,
        numbers,
        dict(names=tuple(FORCE_SETS), roundoff=np.array(round_errs), fd=np.array(fd_errs), norm_fd=np.array(norm_errs)),
    )


def regularization_share(*, n: int, m: int, lam: float, seed: int, sigmas: float) -> Result:
    """The L1 share ``-2 lam ||W_i||_1`` of ``d||W_i||^2/dt`` at initialisation, mean over the ``n``
    encodings of one draw, against ``-2 lam sqrt(2m/pi)`` within ``sigmas`` standard errors."""
    n, m = v.sizes(n, m)
    W = sample_weights(n, m, seed=seed)
    share = -2.0 * lam * np.sum(np.abs(W), axis=1)
    predicted = regularization_norm_share_mean(m, lam)
    se = regularization_norm_share_se(n, lam)
    check = check_close(
        "D1",
        "regularisation's share at initialisation, mean over i = -2λ sqrt(2m/π)",
        predicted=predicted,
        measured=float(share.mean()),
        atol=sigmas * se,
        regime=f"n={n}, m={m}, lam={lam:g}, {sigmas:g} s.e.",
        kind="value",
    )
    numbers = {
        "predicted": quote(predicted, ".4f"),
        "measured": quote(float(share.mean()), ".4f"),
        "interference": quote(expected_relative_norm_sq_rate(n, m), ".4f"),
    }
    return Result(dict(n=n, m=m, lam=lam, seed=seed, sigmas=sigmas), [check], numbers)


# --- D2: interference's share at initialisation ----------------------------------------------------


def rate_law_axes(rho: np.ndarray, n: int, m: int, *, label: str = "measured") -> svgplot.Axes:
    """Histogram of ``rho`` in units of ``(n-1)/m`` against the exact law (D2), the exact mean -1 marked.

    The range is set from the law (mean -1, relative spread ``sqrt(5/(n-1))``), so that a far
    outlier does not squeeze the histogram; the density's peak sets the height (its ``chi2_1``
    part diverges at 0 for small ``n``).
    """
    unit = (n - 1) / m
    x = np.asarray(rho, dtype=float) / unit
    spread = interference_rate_relative_spread(n)
    lo = -1.0 - 4.5 * spread
    grid = np.linspace(lo, -1e-3, 200)
    series = figures.histogram_law(
        np.clip(x, lo, 0.0),
        lambda g: interference_rate_density(g * unit, n, m) * unit,
        grid,
        bins=_bins(x.size),
        range=(lo, 0.0),
        label=label,
        predicted_label="exact law (D2)",
    )
    peak = max(float(np.max(series[0].y)), float(np.max(series[1].y[grid < -0.05])))
    return svgplot.Axes(
        series,
        xlabel=r"$\rho_i\,/\,((n-1)/m)$  (interference)",
        ylabel="density",
        vlines=[(-1.0, "exact mean -1")],
        xlim=(lo, 0.0),
        ylim=(0.0, 1.4 * peak),
    )


def fb_law_axes(phi: np.ndarray, n: int, m: int) -> svgplot.Axes:
    """Histogram of feature benefit's ``phi_i`` in units of ``(n-1)/m`` against ``N(0, 8/m)``,
    interference's mean marked for comparison."""
    unit = (n - 1) / m
    rms = feature_benefit_rate_rms(m) / unit
    half = max(4.0 * rms, 2.0)
    grid = np.linspace(-half, half, 161)
    x = np.clip(np.asarray(phi, dtype=float) / unit, -half, half)
    series = figures.histogram_law(
        x,
        lambda g: stats.norm.pdf(g, 0.0, rms),
        grid,
        bins=_bins(x.size),
        range=(-half, half),
        label="measured",
        predicted_label="N(0, 8/m)",
    )
    peak = max(float(np.max(series[0].y)), float(np.max(series[1].y)))
    return svgplot.Axes(
        series,
        xlabel=r"$φ_i\,/\,((n-1)/m)$  (feature benefit)",
        ylabel="density",
        vlines=[(-1.0, "interference's mean")],
        xlim=(-half, half),
        ylim=(0.0, 1.4 * peak),
    )


def _bins(size: int) -> int:
    """Histogram bins for ``size`` values: about ``sqrt(size)``, from 5 to 30."""
    return int(np.clip(np.sqrt(size), 5, 30))


def exact_law(*, n: int, m: int, draws: int, seed: int, ks_level: float, sigmas: float) -> Result:
    """D2's exact law: ``rho_0`` from ``draws`` independent Gram draws (seeds ``seed, seed+1, ...``),
    Kolmogorov-Smirnov distance to :func:`~incidental.theory.interference_rate_cdf` against the
    critical value at level ``ks_level``; and the mean within ``sigmas`` standard errors."""
    from ..theory import interference_rate_cdf

    n, m = v.sizes(n, m)
    samples = np.array([interference_relative_rate(sample_gram(n, m, seed=seed + k))[0] for k in range(draws)])
    ks = float(stats.kstest(samples, lambda x: interference_rate_cdf(x, n, m)).statistic)
    bound = float(stats.kstwo.isf(ks_level, draws))
    regime = f"n={n}, m={m}, {draws} independent draws, at initialisation"
    checks = [
        check_below(
            "D2",
            "ρ_i = -(2/m) χ²_K, K ~ Bin(n-1, 1/2): exact law at finite m",
            measured=ks,
            bound=bound,
            regime=regime + f", level {ks_level:g}",
            quantity="KS distance",
            kind="law",
        ),
        check_close(
            "D2",
            "mean of ρ_0 = -(n-1)/m",
            predicted=expected_relative_norm_sq_rate(n, m),
            measured=float(samples.mean()),
            atol=sigmas * interference_rate_sd(n, m) / np.sqrt(draws),
            regime=regime + f", {sigmas:g} s.e.",
            kind="value",
        ),
    ]
    numbers = {
        "ks": quote(ks, ".3f"),
        "ks_bound": quote(bound, ".3f"),
        "ks_pct": quote(100 * ks_level, "g"),
        "mean_units": quote(float(samples.mean()) / ((n - 1) / m), ".3f"),
    }
    params = dict(n=n, m=m, draws=draws, seed=seed, ks_level=ks_level, sigmas=sigmas)
    return Result(params, checks, numbers, dict(samples=samples))


def exact_law_figure(r: Result) -> tuple[Figure, str]:
    """The histogram of ``rho_0`` against its exact law; caption from ``r``."""
    p = r.params
    axes = rate_law_axes(r.data["samples"], p["n"], p["m"], label=f"measured $\\rho_0$ ({p['draws']} draws)")
    caption = (
        f"Interference's relative rate of one squared length, $\\rho_0$, at initialisation (no flow), in "
        f"units of $(n-1)/m$: one value from each of {p['draws']} independent draws at $n = {p['n']}$, "
        f"$m = {p['m']}$, against its exact law (D2, dashed). The histogram follows the law (Kolmogorov-Smirnov "
        f"distance {r.q.ks}, below the {r.q.ks_pct}% critical value {r.q.ks_bound}); its mean, "
        f"{r.q.mean_units}, "
        f"sits at the exact $-1$ (grey dashed line); its left tail holds the encodings that interference "
        f"shortens fastest."
    )
    return render(axes, width=6.0), caption


def _scaling(
    over: str,
    sizes: Sequence[int],
    vals: np.ndarray,
    pred: np.ndarray,
    se: np.ndarray,
    *,
    predicted_exponent: float,
    tolerance: float,
    sigmas: float,
    regime: str,
):
    check_exp, fit = check_exponent(
        "D2",
        f"interference's share at initialisation = -Theta(n/m): exponent in {over}",
        sizes=np.asarray(sizes, float),
        values=vals,
        predicted=predicted_exponent,
        regime=regime,
        tolerance=tolerance,
    )
    constant = float(np.mean(vals / pred))
    constant_se = float(np.sqrt(np.sum((se / pred) ** 2)) / len(sizes))
    check_c = check_close(
        "D2",
        "constant: |mean share| / ((n-1)/m) = 1",
        predicted=1.0,
        measured=constant,
        atol=sigmas * constant_se,
        regime=regime + f", {sigmas:g} s.e.",
        kind="value",
    )
    numbers = {
        "exp": quote(fit.exponent, ".4f"),
        "lo": quote(fit.low, ".4f"),
        "hi": quote(fit.high, ".4f"),
        "const": quote(constant, ".3f"),
        "const_se": quote(constant_se, ".3f"),
    }
    data = dict(sizes=np.asarray(sizes, float), values=vals, predicted=pred, fit=fit)
    return [check_exp, check_c], numbers, data


def scaling_in_m(*, n: int, ms: tuple[int, ...], draws: int, seed: int, sigmas: float) -> Result:
    """D2 over ``ms`` at fixed ``n``: ``|mean_i rho_i|`` (``draws`` Gram draws per size; grid point
    ``k`` uses :func:`draw_seeds` ``(seed + k, draws)``), exponent -1 and constant 1."""
    vals = np.array([-relative_rates(n, m, draw_seeds(seed + k, draws))[0].mean() for k, m in enumerate(ms)])
    pred = np.array([(n - 1) / m for m in ms])
    se = np.array([interference_rate_mean_se(n, m) for m in ms]) / np.sqrt(draws)
    checks, numbers, data = _scaling(
        "m",
        ms,
        vals,
        pred,
        se,
        predicted_exponent=-1.0,
        tolerance=0.0,
        sigmas=sigmas,
        regime=f"n={n}, m={ms[0]}..{ms[-1]} ({len(ms)} sizes), {draws} draws each",
    )
    numbers |= {"m_min": quote(ms[0], "d"), "m_max": quote(ms[-1], ".1e")}
    return Result(dict(n=n, ms=tuple(ms), draws=draws, seed=seed, sigmas=sigmas), checks, numbers, data)


def scaling_in_n(*, m: int, ns: tuple[int, ...], draws: int, seed: int, sigmas: float) -> Result:
    """D2 over ``ns`` at fixed ``m``: exponent +1 up to the finite-size slope of ``n - 1``.

    The exact mean ``(n-1)/m`` has log-slope ``n/(n-1)`` in ``n``; on the grid it exceeds 1 by
    at most ``1/(ns[0] - 1)``, which is the tolerance of the exponent.
    """
    vals = np.array([-relative_rates(n, m, draw_seeds(seed + k, draws))[0].mean() for k, n in enumerate(ns)])
    pred = np.array([(n - 1) / m for n in ns])
    se = np.array([interference_rate_mean_se(n, m) for n in ns]) / np.sqrt(draws)
    checks, numbers, data = _scaling(
        "n",
        ns,
        vals,
        pred,
        se,
        predicted_exponent=1.0,
        tolerance=1.0 / (ns[0] - 1),
        sigmas=sigmas,
        regime=f"m={m}, n={ns[0]}..{ns[-1]}, {draws} draws each",
    )
    numbers |= {"n_min_1": quote(ns[0] - 1, "d")}
    return Result(dict(m=m, ns=tuple(ns), draws=draws, seed=seed, sigmas=sigmas), checks, numbers, data)


def scaling_axes(over_m: Result, over_n: Result) -> list[svgplot.Axes]:
    """``|mean rho_i|`` against ``m`` (left) and ``n`` (right), with fits and the exact ``(n-1)/m``."""
    n, m = over_m.params["n"], over_n.params["m"]
    left = figures.power_law(
        over_m.data["sizes"],
        over_m.data["values"],
        label=r"$|\mathrm{mean}\,\rho_i|$",
        fit=over_m.data["fit"],
        predicted=lambda s: (n - 1) / s,
        predicted_label="exact $(n-1)/m$",
    )
    right = figures.power_law(
        over_n.data["sizes"],
        over_n.data["values"],
        label=r"$|\mathrm{mean}\,\rho_i|$",
        fit=over_n.data["fit"],
        predicted=lambda s: (s - 1) / m,
        predicted_label="exact $(n-1)/m$",
        color=svgplot.PALETTE[1],
    )
    return [
        figures.power_law_axes(left, xlabel=f"neurons $m$ ($n = {n}$)", ylabel=r"$|\mathrm{mean}\,\rho_i|$"),
        figures.power_law_axes(right, xlabel=f"features $n$ ($m = {_m_tex(m)}$)", ylabel=r"$|\mathrm{mean}\,\rho_i|$"),
    ]


def scaling_figure(over_m: Result, over_n: Result) -> tuple[Figure, str]:
    """The two exponent fits of D2 side by side; caption from the results."""
    pm, pn = over_m.params, over_n.params
    caption = (
        f"Interference's share at initialisation (no flow): $|\\mathrm{{mean}}_i\\,\\rho_i|$ against $m$ at "
        f"$n = {pm['n']}$ ({over_m.q.m_min} to {over_m.q.m_max}, {pm['draws']} draws per point, left) and "
        f"against $n$ at $m = {pn['m']}$ ({pn['ns'][0]} to {pn['ns'][-1]}, {pn['draws']} draws per point, "
        f"right). The fitted exponents, {over_m.q.exp} and {over_n.q.exp}, match the predicted $-1$ and $+1$, "
        f"and the points sit on the exact mean $(n-1)/m$ (black; measured constants {over_m.q.const} and "
        f"{over_n.q.const})."
    )
    return render(scaling_axes(over_m, over_n), width=9.0), caption


def spread_over_encodings(
    *, m: int, ns: tuple[int, ...], samples: int, seed: int, sigmas: float, example_n: int
) -> Result:
    """Pooled (over draws and ``i``) standard deviation of ``rho_i`` over ``|mean|``, against
    ``sqrt(5/(n-1))``: at each ``n``, ``ceil(samples / n)`` draws (at least 2), so about ``samples``
    values. ``example_n`` is the ``n`` the prose quotes the exact spread at."""
    rel, ses = [], []
    for k, n in enumerate(ns):
        draws = max(2, -(-samples // n))
        rho, _ = relative_rates(n, m, draw_seeds(seed + k, draws))
        rel.append(float(np.std(rho, ddof=1) / ((n - 1) / m)))
        ses.append(sd_relative_se(n, rho.size))
    rel_arr = np.array(rel)
    x = np.asarray(ns, float) - 1
    regime = f"m={m}, n={ns[0]}..{ns[-1]}, about {samples} values each, at initialisation"
    check_exp, fit = check_exponent(
        "D2", "spread over i: sd/|mean| = Theta((n-1)^-1/2)", sizes=x, values=rel_arr, predicted=-0.5, regime=regime
    )
    constant = float(np.mean(rel_arr * np.sqrt(x)))
    se = float(np.sqrt(5.0) * np.sqrt(np.sum(np.square(ses))) / len(ns))
    check_c = check_close(
        "D2",
        "constant: sd/|mean| · sqrt(n-1) = sqrt(5)",
        predicted=float(np.sqrt(5.0)),
        measured=constant,
        atol=sigmas * se,
        regime=regime + f", {sigmas:g} s.e.",
        kind="value",
    )
    numbers = {
        "exp": quote(fit.exponent, ".3f"),
        "const": quote(constant, ".3f"),
        "sqrt5": quote(float(np.sqrt(5.0)), ".3f"),
        "example_pct": quote(100 * interference_rate_relative_spread(example_n), ".0f"),
    }
    params = dict(m=m, ns=tuple(ns), samples=samples, seed=seed, sigmas=sigmas, example_n=example_n)
    return Result(params, [check_exp, check_c], numbers, dict(x=x, spread=rel_arr, fit=fit))


def spread_axes(r: Result) -> svgplot.Axes:
    """Relative spread of ``rho_i`` against ``n - 1``: measured, fit, exact and naive predictions."""
    x = r.data["x"]
    series = figures.power_law(
        x,
        r.data["spread"],
        label=r"sd / |mean| of $\rho_i$",
        fit=r.data["fit"],
        predicted=lambda g: np.sqrt(5 / g),
        predicted_label=r"exact $\sqrt{5/(n-1)}$",
    )
    grid = np.geomspace(x.min(), x.max(), 50)
    series.append(svgplot.Series(grid, np.sqrt(2 / grid), label=r"naive $\sqrt{2/(n-1)}$", color="#888", dashed=True))
    return figures.power_law_axes(series, xlabel=f"$n - 1$ ($m = {_m_tex(r.params['m'])}$)", ylabel="sd / |mean|")


def spread_figure(r: Result) -> tuple[Figure, str]:
    """The spread of interference's share over encodings; caption from ``r``."""
    p = r.params
    caption = (
        f"Spread of interference's relative rate over encodings at initialisation (no flow): standard "
        f"deviation over $|$mean$|$ of $\\rho_i$, pooled over about {p['samples']} encodings at each $n$ "
        f"($m = {p['m']}$). It falls as $(n-1)^{{-1/2}}$ (fitted exponent {r.q.exp}) on the exact "
        f"$\\sqrt{{5/(n-1)}}$ (measured constant {r.q.const}, exact {r.q.sqrt5}), above the naive "
        f"$\\sqrt{{2/(n-1)}}$ (grey) that ignores the ReLU's zeros."
    )
    return render(spread_axes(r), width=6.0), caption


# --- D3 under interference alone -------------------------------------------------------------------


def norm_rate_mean(*, n: int, m: int, draws: int, seed: int, sigmas: float) -> Result:
    """D3 under interference alone: the mean over draws and encodings of ``rho_i / 2`` (the relative
    rate of ``||W_i||``) against ``-(n-1)/(2m)``, within ``sigmas`` standard errors."""
    rho, _ = relative_rates(n, m, draw_seeds(seed, draws))
    se = interference_rate_mean_se(n, m) / np.sqrt(draws)
    predicted = 0.5 * expected_relative_norm_sq_rate(n, m)
    check = check_close(
        "D3",
        "interference alone: relative rate of ‖W_i‖ at initialisation, mean = -(n-1)/(2m)",
        predicted=predicted,
        measured=0.5 * float(rho.mean()),
        atol=sigmas * 0.5 * se,
        regime=f"n={n}, m={m}, {draws} draws, {sigmas:g} s.e.",
        kind="value",
    )
    numbers = {
        "units": quote(0.5 * float(rho.mean()) / ((n - 1) / m), ".3f"),
        "se_units": quote(0.5 * se / ((n - 1) / m), ".3f"),
    }
    return Result(dict(n=n, m=m, draws=draws, seed=seed, sigmas=sigmas), [check], numbers)


def pair_norm_correction(*, n: int, m: int, draws: int, seed: int, sigmas: float) -> Result:
    """``-(rho_i + rho_j)/2`` over the pairs with ``G_ij > 0``, mean per draw, against ``n/m``
    (:func:`~incidental.theory.expected_pair_norm_correction`), within ``sigmas`` standard errors."""
    n, m = v.sizes(n, m)
    per_draw = []
    for s in draw_seeds(seed, draws):
        G = sample_gram(n, m, seed=s)  # not cached: many one-off draws
        rho = interference_relative_rate(G)
        mask = np.triu(G > 0, k=1)
        per_draw.append(float(np.mean(-0.5 * (rho[:, None] + rho[None, :])[mask])))
    mean = float(np.mean(per_draw))
    se = float(np.std(per_draw, ddof=1) / np.sqrt(draws))
    check = check_close(
        "D3",
        "interference alone, interfering pairs at initialisation: mean of -(ρ_i+ρ_j)/2 = n/m",
        predicted=expected_pair_norm_correction(n, m),
        measured=mean,
        atol=sigmas * se,
        regime=f"n={n}, m={m}, {draws} draws, {sigmas:g} s.e.",
        kind="value",
    )
    numbers = {"units": quote(mean * m, ".2f"), "se_units": quote(se * m, ".2f"), "n_minus_1": quote(n - 1, "d")}
    return Result(dict(n=n, m=m, draws=draws, seed=seed, sigmas=sigmas), [check], numbers)


# --- D3 for the full flow: feature benefit's share against interference's ----------------------------

NOTE_D3 = "each norm changes at a relative rate -Θ(n/m)"


def share_grid(
    *,
    ns: tuple[int, ...],
    ms: tuple[int, ...],
    draws: int,
    seed: int,
    sigmas: float,
    ratio_tolerance: float,
    example_n: int,
    example_m: int,
) -> Result:
    """Both shares of the squared length's relative rate at initialisation (the full flow's rate split
    by force) at every ``(n, m)`` with ``n <= m``: the ratio ``RMS(phi)/|mean rho|`` against
    ``2 sqrt(2m)/(n-1)``, feature benefit's constant, and the fraction of encodings it dominates."""
    rows = []
    for k, (m, n) in enumerate((m, n) for m in ms for n in ns if n <= m):
        rho, phi = relative_rates(n, m, draw_seeds(seed + k, draws))
        rows.append(
            (
                n,
                m,
                float(np.sqrt(np.mean(phi**2))),
                float(-rho.mean()),
                float(np.mean(np.abs(phi) > np.abs(rho))),
                feature_benefit_dominated_fraction(n, m),
            )
        )
    n_a, m_a, fb, im, frac, frac_pred = (np.array(c, dtype=float) for c in zip(*rows))
    x = (n_a - 1) / np.sqrt(m_a)
    regime = f"n={ns[0]}..{ns[-1]}, m in {tuple(ms)}, {draws} draws each, at initialisation"
    check_ratio, fit = check_exponent(
        "D3",
        "full flow: RMS of feature benefit's share / |interference's share| = 2 sqrt(2m)/(n-1) "
        "(slope -1 in (n-1)/sqrt(m)): feature benefit sets the rate of the lengths when n-1 < 2 sqrt(2m)",
        sizes=x,
        values=fb / im,
        predicted=-1.0,
        regime=regime,
        tolerance=ratio_tolerance,
        refutes=NOTE_D3 + " (read for the full flow, feature benefit + interference)",
    )
    fb_const = fb * np.sqrt(m_a)
    n_samples = n_a * draws
    check_fb = check_close(
        "D3",
        "full flow, feature benefit's share: RMS of 2(1-‖W_i‖²) = 2 sqrt(2/m)",
        predicted=float(2 * np.sqrt(2)),
        measured=float(np.mean(fb_const)),
        atol=sigmas * float(2 * np.sqrt(2) * np.sqrt(np.mean(1 / (2 * n_samples)) / len(n_a))),
        regime=regime + f", in units of 1/sqrt(m), {sigmas:g} s.e.",
        kind="value",
    )
    frac_se = np.sqrt(np.maximum(frac_pred * (1 - frac_pred), 1e-4) / n_samples)
    worst = float(np.max(np.abs(frac - frac_pred) / frac_se))
    check_frac = check_below(
        "D3",
        "full flow: fraction of encodings where feature benefit dominates = exact law",
        measured=worst,
        bound=sigmas,
        regime=regime,
        quantity="max |Δ|/s.e.",
        kind="law",
    )
    crossover = float(fit.prefactor ** (-1.0 / fit.exponent))
    numbers = {
        "exp": quote(fit.exponent, ".3f"),
        "crossover": quote(crossover, ".2f"),
        "crossover_pred": quote(2 * np.sqrt(2), ".2f"),
        "fb_const": quote(float(np.mean(fb_const)), ".3f"),
        "example_ratio": quote(share_ratio(example_n, example_m), ".1f"),
        "example_crossover_n": quote(1 + 2 * np.sqrt(2 * example_m), ".0f"),
    }
    params = dict(
        ns=tuple(ns),
        ms=tuple(ms),
        draws=draws,
        seed=seed,
        sigmas=sigmas,
        ratio_tolerance=ratio_tolerance,
        example_n=example_n,
        example_m=example_m,
    )
    data = dict(n=n_a, m=m_a, x=x, ratio=fb / im, fraction=frac, fraction_predicted=frac_pred, fit=fit)
    return Result(params, [check_ratio, check_fb, check_frac], numbers, data)


def _m_tex(m: float) -> str:
    """``2^{k}`` for a power of two, else the integer (inside ``$...$``)."""
    k = int(round(np.log2(m)))
    return f"2^{{{k}}}" if 2**k == int(m) else f"{int(m)}"


def _m_label(m: float) -> str:
    return f"$m = {_m_tex(m)}$"


def share_axes(r: Result) -> list[svgplot.Axes]:
    """Left: the ratio of the shares against ``(n-1)/sqrt(m)``; right: the fraction of encodings
    feature benefit dominates, against its exact value (dashed, one per ``m``)."""
    d = r.data
    left, right = [], []
    for k, m in enumerate(np.unique(d["m"])):
        sel = d["m"] == m
        color = svgplot.PALETTE[k % len(svgplot.PALETTE)]
        order = np.argsort(d["x"][sel])
        left.append(svgplot.Series(d["x"][sel], d["ratio"][sel], label=_m_label(m), kind="points", color=color))
        right.append(svgplot.Series(d["x"][sel], d["fraction"][sel], label=_m_label(m), kind="points", color=color))
        right.append(
            svgplot.Series(
                d["x"][sel][order],
                d["fraction_predicted"][sel][order],
                color=color,
                dashed=True,
                label="exact probability" if k == 0 else "",
            )
        )
    grid = np.geomspace(d["x"].min(), d["x"].max(), 50)
    left.append(
        svgplot.Series(grid, 2 * np.sqrt(2) / grid, label=r"predicted $2\sqrt{2}\,\sqrt{m}/(n-1)$", color="#000")
    )
    cross = 2 * np.sqrt(2)
    return [
        svgplot.Axes(
            left,
            xlabel=r"$(n-1)/\sqrt{m}$",
            ylabel=r"RMS $\varphi_i$ / $|\mathrm{mean}\,\rho_i|$",
            xlog=True,
            ylog=True,
            hlines=[(1.0, "equal shares")],
            vlines=[(cross, r"predicted crossover $2\sqrt{2}$")],
        ),
        svgplot.Axes(
            right,
            xlabel=r"$(n-1)/\sqrt{m}$",
            ylabel=r"fraction with $|\varphi_i| > |\rho_i|$",
            xlog=True,
            hlines=[(0.5, "one half")],
            vlines=[(cross, "")],
            ylim=(-0.03, 1.08),
        ),
    ]


def share_figure(r: Result) -> tuple[Figure, str]:
    """Feature benefit's share against interference's; caption from ``r``."""
    p = r.params
    ms = ", ".join(f"${_m_tex(m)}$" for m in p["ms"])
    caption = (
        f"The two shares of a squared length's relative rate at initialisation, i.e. the full flow's rate "
        f"split by force, over $n$ = {p['ns'][0]} to {p['ns'][-1]} and $m$ = {ms} ({p['draws']} draws each). "
        f"Left: RMS of feature benefit's $\\varphi_i$ over $|$mean$|$ of interference's $\\rho_i$ against "
        f"$(n-1)/\\sqrt{{m}}$: the points of every $m$ fall on the predicted line (fitted slope {r.q.exp}), "
        f"which crosses 1 at {r.q.crossover} (predicted $2\\sqrt{{2}}$ = {r.q.crossover_pred}); to its left "
        f"feature benefit, not interference, sets how fast the lengths move. (The scatter at the far left "
        f"comes from the smallest $n$, where the mean over few encodings is noisy.) Right: the fraction of "
        f"encodings with $|\\varphi_i| > |\\rho_i|$, on its exact value (dashed)."
    )
    return render(share_axes(r), width=9.5, height=3.4), caption


# --- the interference phase: how far the lengths move ------------------------------------------------


@lru_cache(maxsize=2048)
def phase_flow(
    n: int, m: int, seed: int, terms: tuple[str, ...], t_end: float, points: int, rtol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(times, log_change, G0)``: ``ln(a_i(t)/a_i(0))`` ``(points, n)`` along the Gram flow of ``terms``
    from one Wishart draw, ``t`` in ``[0, t_end]``."""
    n, m = v.sizes(n, m)
    G0 = _gram(n, m, v.seed(seed))
    times = np.linspace(0.0, v.positive("t_end", t_end), v.size("points", points))
    Gs = simulate_gram(np.array(G0), times, terms=terms, rtol=rtol)
    a = np.diagonal(Gs, axis1=1, axis2=2)
    out = np.log(a / a[0])
    out.setflags(write=False)
    return times, out, G0


@dataclass(frozen=True)
class Course:
    """The squared lengths of one ``(n, m)`` over the interference phase, over ``draws`` Gram draws.

    Means are in units of ``(n-1)/m``; ``se`` is the standard error over draws.
    """

    n: int
    m: int
    draws: int
    times: np.ndarray
    mean: np.ndarray  # (T,) mean over draws and i of ln(a_i(t)/a_i(0)), interference alone, units
    se: np.ndarray  # (T,)
    first: np.ndarray  # (T,) the same mean of the first-order prediction, units
    error: float  # mean over draws of measured/first-order - 1 at t_end
    error_se: float
    rms_interference: np.ndarray  # (T,) RMS over i and draws, interference alone (not in units)
    rms_full: np.ndarray  # (T,) RMS over i and draws, full flow
    max_interference: float  # max over i, t, draws of |ln(a_i(t)/a_i(0))|, interference alone
    max_full: float  # the same, full flow
    end_error_full: float  # max |a_i(t_end) - 1|, full flow


@lru_cache(maxsize=64)
def phase_course(n: int, m: int, seeds: tuple[int, ...], t_end: float, points: int, rtol: float) -> Course:
    """Simulate interference alone and the full flow from each seed's Gram draw; summarise as a :class:`Course`."""
    unit = (n - 1) / m
    runs = [phase_flow(n, m, s, INTERFERENCE, t_end, points, rtol) for s in seeds]
    full = [phase_flow(n, m, s, FULL, t_end, points, rtol) for s in seeds]
    times = runs[0][0]
    per_draw = np.array([r[1].mean(axis=1) for r in runs])  # (D, T)
    first = np.array([first_order_norm_change(r[2], times).mean(axis=1) for r in runs])  # (D, T)
    ratio = per_draw[:, -1] / first[:, -1] - 1
    sd = lambda a: np.std(a, axis=0, ddof=1) / np.sqrt(len(seeds)) if len(seeds) > 1 else np.zeros_like(a[0])
    return Course(
        n,
        m,
        len(seeds),
        times,
        per_draw.mean(axis=0) / unit,
        sd(per_draw) / unit,
        first.mean(axis=0) / unit,
        float(ratio.mean()),
        float(sd(ratio)),
        np.sqrt(np.mean([r[1] ** 2 for r in runs], axis=(0, 2))),
        np.sqrt(np.mean([r[1] ** 2 for r in full], axis=(0, 2))),
        max(float(np.max(np.abs(r[1]))) for r in runs),
        max(float(np.max(np.abs(r[1]))) for r in full),
        max(float(np.max(np.abs(np.exp(r[1][-1]) * np.diag(r[2]) - 1))) for r in full),
    )


def norm_over_phase(
    *,
    n: int,
    ms: tuple[int, ...],
    draws: int,
    t_end: float,
    points: int,
    rtol: float,
    seed: int,
    sigmas: float,
    exponent_tolerance: float,
    first_order_tolerance: float,
    error_exponent_tolerance: float,
    end_tolerance: float,
) -> Result:
    """The squared lengths over the interference phase ``[0, t_end]``, under interference alone (the
    phase's default flow) and under the full flow, over ``ms`` at fixed ``n``.

    ``draws`` Gram draws per ``m`` (grid point ``k`` uses :func:`draw_seeds` ``(seed + k, draws)``),
    each integrated in Gram space (``rtol`` is the solver's tolerance, ``points`` the time grid).
    """
    n = v.size("n", n)
    if len(ms) < 3:
        raise ValueError(f"ms must hold at least 3 sizes, got {len(ms)}")
    courses = [phase_course(n, m, draw_seeds(seed + k, draws), t_end, points, rtol) for k, m in enumerate(ms)]
    ms_a = np.asarray(ms, float)
    units = (n - 1) / ms_a
    end_change = np.array([-c.mean[-1] for c in courses]) * units  # |mean ln(a(T)/a(0))|
    rms_full = np.array([c.rms_full[-1] for c in courses])
    errors = np.array([c.error for c in courses])
    big = courses[-1]
    regime = f"n={n}, m={ms[0]}..{ms[-1]}, {draws} draws each, t in [0, {t_end:g}]"
    check_exp, fit = check_exponent(
        "D3",
        "interference alone: change of ‖W_i‖² over the phase = -Theta(n/m): exponent in m",
        sizes=ms_a,
        values=end_change,
        predicted=-1.0,
        regime=regime,
        tolerance=exponent_tolerance,
    )
    constant_pred = float(expected_norm_change(n, ms[-1], t_end) / units[-1])
    check_err, err_fit = check_exponent(
        "D3",
        "interference alone: error of the first-order prediction over the "
        "phase = Theta(m^-1/2) at fixed n (not Theta(n/m))",
        sizes=ms_a,
        values=errors,
        predicted=-0.5,
        regime=regime,
        tolerance=error_exponent_tolerance,
    )
    rms_pred = np.array([feature_benefit_norm_change_rms(m, t_end) for m in ms])
    rms_ratio = float(np.mean(rms_full / rms_pred))
    end_error = max(c.end_error_full for c in courses)
    checks = [
        check_exp,
        check_close(
            "D3",
            "interference alone: mean ln(a_i(T)/a_i(0)) / ((n-1)/m) = -(1/4)(1-e^{-4T})",
            predicted=constant_pred,
            measured=float(big.mean[-1]),
            atol=sigmas * float(big.se[-1]),
            regime=f"n={n}, m={ms[-1]}, {draws} draws, T={t_end:g}, {sigmas:g} s.e.",
            kind="value",
        ),
        check_below(
            "D3",
            "interference alone: first-order prediction of the change over the phase (largest m)",
            measured=abs(big.error),
            bound=first_order_tolerance,
            regime=f"n={n}, m={ms[-1]}, T={t_end:g}",
            quantity="rel. error",
            kind="approximation",
        ),
        check_err,
        check_close(
            "D3",
            "full flow: RMS ln(a_i(T)/a_i(0)) = sqrt(2/m)(1-e^{-2T}), i.e. Theta(1/sqrt(m)) over the "
            "phase, more than interference's Theta(n/m) when n-1 < 2 sqrt(2m)",
            predicted=1.0,
            measured=rms_ratio,
            atol=sigmas / np.sqrt(2 * n * draws * len(ms)),
            regime=regime + f", ratio to prediction, {sigmas:g} s.e.",
            kind="value",
            refutes=NOTE_D3 + " (full flow, integrated over the interference phase: a change of order n/m)",
        ),
        check_below(
            "D3",
            "full flow: every squared length has reached 1 at the end of the phase",
            measured=end_error,
            bound=end_tolerance,
            regime=regime,
            quantity="max |‖W_i(T)‖² - 1|",
            kind="approximation",
        ),
    ]
    small = courses[0]
    numbers = {
        "exp": quote(fit.exponent, ".3f"),
        "exp_lo": quote(fit.low, ".3f"),
        "exp_hi": quote(fit.high, ".3f"),
        "constant": quote(float(big.mean[-1]), ".3f"),
        "constant_se": quote(float(big.se[-1]), ".3f"),
        "constant_pred": quote(constant_pred, ".3f"),
        "err_small": quote(small.error, ".0%"),
        "err_large": quote(big.error, ".1%"),
        "err_exp": quote(err_fit.exponent, ".2f"),
        "err_exp_lo": quote(err_fit.low, ".2f"),
        "err_exp_hi": quote(err_fit.high, ".2f"),
        "m_small": quote(ms[0], "d"),
        "m_large": quote(ms[-1], "d"),
        "n_over_m_small": quote(n / ms[0], ".3g"),
        "end_err": quote(end_error, ".0e"),
        "decay": quote(float(np.exp(-2 * t_end)), ".0e"),
        "max_int_small": quote(small.max_interference, ".4f"),
        "max_full_small": quote(small.max_full, ".3f"),
        "rms_ratio": quote(rms_ratio, ".3f"),
    }
    params = dict(
        n=n,
        ms=tuple(ms),
        draws=draws,
        t_end=t_end,
        points=points,
        rtol=rtol,
        seed=seed,
        sigmas=sigmas,
        exponent_tolerance=exponent_tolerance,
        first_order_tolerance=first_order_tolerance,
        error_exponent_tolerance=error_exponent_tolerance,
        end_tolerance=end_tolerance,
    )
    data = dict(
        courses=courses,
        ms=ms_a,
        end_change=end_change,
        rms_full=rms_full,
        errors=errors,
        error_se=np.array([c.error_se for c in courses]),
        fit=fit,
        err_fit=err_fit,
    )
    return Result(params, checks, numbers, data)


def phase_course_axes(courses: Sequence[Course], *, t_mark: float | None = None) -> svgplot.Axes:
    """Interference alone: mean ``ln(a_i(t)/a_i(0))`` in units of ``(n-1)/m`` over the phase, one band
    (mean ± 2 s.e. over draws) and one first-order prediction per course, and the leading order."""
    c = courses[0]
    series = [
        svgplot.Series(
            c.times,
            expected_norm_change(c.n, c.m, c.times) / ((c.n - 1) / c.m),
            label=r"leading order $-(1-e^{-4t})/4$",
            color="#000",
            dashed=True,
        )
    ]
    for k, c in enumerate(courses):
        color = svgplot.PALETTE[(2 * k) % len(svgplot.PALETTE)]
        draws = f"{c.draws} draws, ±2 s.e." if c.draws > 1 else "1 draw"
        series += figures.time_course(
            c.times,
            c.mean,
            c.first,
            label=f"measured, m = {c.m} ({draws})",
            predicted_label=f"first order, m = {c.m}",
            low=c.mean - 2 * c.se,
            high=c.mean + 2 * c.se,
            color=color,
        )
        series[-1].color = color
    low = min(float(np.min(c.mean - 2 * c.se)) for c in courses)
    low = min(low, float(np.min(np.concatenate([c.first for c in courses]))), -0.25)
    vlines = [(float(t_mark), "")] if t_mark is not None else []
    # headroom above 0 (where no curve goes) keeps the legend off the curves' steep start
    return svgplot.Axes(
        series, xlabel="time $t$", ylabel="mean ln(aᵢ(t)/aᵢ(0)) · m/(n−1)", ylim=(1.1 * low, -0.5 * low), vlines=vlines
    )


def phase_error_axes(r: Result) -> svgplot.Axes:
    """The first-order prediction's relative error at the end of the phase against ``m``, with its fit."""
    d, p = r.data, r.params
    err, se = d["errors"], d["error_se"]
    series = figures.power_law(
        d["ms"],
        err,
        label="error of first order",
        fit=d["err_fit"],
        low=np.maximum(err - 2 * se, err * 0.05),
        high=err + 2 * se,
        color=svgplot.PALETTE[3],
    )
    return svgplot.Axes(
        series,
        xlabel=f"neurons $m$ ($n = {p['n']}$)",
        ylabel="measured / first order - 1",
        xlog=True,
        ylog=True,
        hlines=[(p["first_order_tolerance"], "tolerance at the largest m")],
    )


def phase_figure(r: Result) -> tuple[Figure, str]:
    """The squared lengths over the interference phase under interference alone; caption from ``r``."""
    p, d = r.params, r.data
    shown = [d["courses"][0], d["courses"][-1]]
    caption = (
        f"The squared lengths over the interference phase $[0, {p['t_end']:g}]$ under interference alone, "
        f"$n = {p['n']}$, {p['draws']} draws per $m$. Left: mean $\\ln(a_i(t)/a_i(0))$ in units of $(n-1)/m$ "
        f"at the smallest and the largest $m$ (bands: $\\pm 2$ standard errors over draws), with the "
        f"first-order prediction of the same draws (dashed, same colour) and its leading order "
        f"$-(1-e^{{-4t}})/4$ (black). At $m = {shown[1].m}$ the lengths lose {r.q.err_large} more than the "
        f"first-order prediction, at $m = {shown[0].m}$ {r.q.err_small} more. Right: that relative "
        f"error at $t = {p['t_end']:g}$ for every $m$ (bars: $\\pm 2$ s.e.): it falls as $m^{{{r.q.err_exp}}}$ "
        f"(fitted), about as $m^{{-1/2}}$, not as $n/m$."
    )
    return render([phase_course_axes(shown), phase_error_axes(r)], width=10.0, height=3.6), caption


def phase_sizes_axes(r: Result) -> svgplot.Axes:
    """How far the squared lengths move over the phase against ``m``: interference alone against the full flow."""
    d, p = r.data, r.params
    n, t_end = p["n"], p["t_end"]
    each = lambda f: lambda g: np.array([f(int(round(x))) for x in g])  # a prediction at each grid size m
    interference = figures.power_law(
        d["ms"],
        d["end_change"],
        label=r"interference alone: $|\mathrm{mean}|$",
        fit=d["fit"],
        predicted_label=r"predicted $(n-1)(1-e^{-4T})/(4m)$",
        predicted=each(lambda m: -expected_norm_change(n, m, t_end)),
    )
    full = figures.power_law(
        d["ms"],
        d["rms_full"],
        label="full flow: RMS",
        color=svgplot.PALETTE[1],
        fit=fit_exponent(d["ms"], d["rms_full"]),
        predicted_label=r"predicted $\sqrt{2/m}\,(1-e^{-2T})$",
        predicted=each(lambda m: feature_benefit_norm_change_rms(m, t_end)),
    )
    full[-1].color = "#777"
    return figures.power_law_axes(
        [*interference, *full], xlabel=f"neurons $m$ ($n = {n}$)", ylabel="|ln(aᵢ(T)/aᵢ(0))|: |mean| or RMS"
    )


def phase_sizes_figure(r: Result) -> tuple[Figure, str]:
    """Interference alone against the full flow, over the phase and across ``m``; caption from ``r``."""
    p, d = r.params, r.data
    n = p["n"]
    larger = bool(np.all(d["rms_full"] > d["end_change"]))
    where = "at every $m$ of the grid" if larger else "where $n - 1 < 2\\sqrt{2m}$"
    caption = (
        f"How far the squared lengths move over the interference phase $[0, T]$, $T = {p['t_end']:g}$, "
        f"against $m$ ($n = {n}$, {p['draws']} draws per $m$). Blue: under interference alone, the mean "
        f"change falls as $(n-1)/m$ (fitted exponent {r.q.exp}; black line: predicted). Red: under the full "
        f"flow (feature benefit + interference), the RMS change falls only as $\\sqrt{{2/m}}$ (grey line: "
        f"predicted; measured/predicted = {r.q.rms_ratio}) and is the larger of the two {where}: "
        f"feature benefit, not interference, sets how far the lengths move."
    )
    return render(phase_sizes_axes(r), width=6.4, height=3.6), caption


# --- widgets -----------------------------------------------------------------------------------------


def rates_panel(n: int, m: int, seed: int) -> Panel:
    """Widget panel: one draw; both relative rates of ``||W_i||^2`` at initialisation against their laws."""
    n, m = v.sizes(n, m)
    G = _gram(n, m, v.seed(seed))
    rho, phi = interference_relative_rate(G), feature_benefit_relative_rate(G)
    mean_pred = expected_relative_norm_sq_rate(n, m)
    regime = f"n={n}, m={m}, seed={seed}, at initialisation"
    checks = [
        check_close(
            "D2",
            "interference: mean_i ρ_i = -(n-1)/m",
            predicted=mean_pred,
            measured=float(rho.mean()),
            atol=4 * interference_rate_mean_se(n, m),
            regime=regime + ", 4 s.e.",
            kind="value",
        ),
        check_close(
            "D2",
            "interference: sd_i ρ_i = sqrt(5(n-1))/m",
            predicted=interference_rate_sd(n, m),
            measured=float(np.std(rho, ddof=1)),
            rtol=4 * sd_relative_se(n, n),
            regime=regime + ", 4 s.e.",
            kind="value",
        ),
        check_close(
            "D3",
            "interference: ‖W_i‖'s mean relative rate = -(n-1)/(2m)",
            predicted=mean_pred / 2,
            measured=float(rho.mean() / 2),
            atol=2 * interference_rate_mean_se(n, m),
            regime=regime + ", 4 s.e.",
            kind="value",
        ),
        check_close(
            "D3",
            "feature benefit: RMS_i φ_i = 2 sqrt(2/m)",
            predicted=feature_benefit_rate_rms(m),
            measured=float(np.sqrt(np.mean(phi**2))),
            rtol=4 / np.sqrt(2 * n),
            regime=regime + ", 4 s.e.",
            kind="value",
        ),
    ]
    ratio = float(np.sqrt(np.mean(phi**2)) / -rho.mean())
    frac = float(np.mean(np.abs(phi) > np.abs(rho)))
    who = "feature benefit" if ratio > 1 else "interference"
    note = (
        f"In the full flow, <b>{who}</b> dominates the rate of the lengths here: RMS φ / |mean ρ| = {ratio:.3g} "
        f"(predicted 2·sqrt(2m)/(n-1) = {share_ratio(n, m):.3g}); |φ_i| &gt; |ρ_i| for {frac:.0%} of the "
        f"encodings (predicted {feature_benefit_dominated_fraction(n, m, nodes=100):.0%})."
    )
    return Panel(checks, svgplot.svg([rate_law_axes(rho, n, m), fb_law_axes(phi, n, m)]), note)


def rates_explorable() -> Explorable:
    """Widget: sizes and seed against the two shares of the squared length's rate at initialisation (D2, D3)."""
    return Explorable(
        rates_panel,
        [
            Control("n", "features n", (8, 32, 128), 32, kind="size", low=4, high=512),
            Control("m", "neurons m", (256, 1024, 4096, 16384), 1024, kind="size", low=256, high=2**20),
            Control("seed", "seed", (0, 1), 0, low=0, high=99),
        ],
        title="What changes a length at initialisation: interference against feature benefit",
    )


def full_flow_axes(c: Course, *, t_mark: float | None = None) -> svgplot.Axes:
    """RMS ``ln(a_i(t)/a_i(0))`` over the phase: full flow against ``sqrt(2/m)(1-e^{-2t})``, and interference alone."""
    t = c.times[1:]
    series = figures.time_course(
        t,
        c.rms_full[1:],
        feature_benefit_norm_change_rms(c.m, t),
        label="full flow (measured)",
        predicted_label=r"$\sqrt{2/m}\,(1-e^{-2t})$",
        color=svgplot.PALETTE[1],
    )
    series.append(svgplot.Series(t, c.rms_interference[1:], label="interference alone", color=svgplot.PALETTE[0]))
    vlines = [(float(t_mark), "")] if t_mark is not None else []
    low = float(min(np.min(c.rms_interference[1:]), np.min(c.rms_full[1:])))
    high = float(max(np.max(c.rms_interference), np.max(c.rms_full)))
    return svgplot.Axes(
        series, xlabel="time $t$", ylabel="RMS ln(aᵢ(t)/aᵢ(0))", ylog=True, vlines=vlines, ylim=(low / 1.5, high * 8)
    )  # headroom for the legend


def phase_panel(
    n: int, m: int, t: float, seed: int = 400, draws: int = 8, t_end: float = 5.0, points: int = 41, rtol: float = 1e-7
) -> Panel:
    """Widget panel: the squared lengths over the interference phase ``[0, t_end]`` up to ``t``, under
    interference alone (left, the same figure as the chapter's) and the full flow (right)."""
    n, m = v.sizes(n, m)
    c = phase_course(n, m, draw_seeds(v.seed(seed), draws), t_end, points, rtol)
    k = int(np.argmin(np.abs(c.times - t)))
    tk = float(c.times[k])
    unit = (n - 1) / m
    regime = f"n={n}, m={m}, t={tk:.3g}, {draws} draws"
    checks = [
        check_below(
            "D3",
            "interference alone: mean change = first-order prediction",
            measured=float(abs(c.mean[k] / c.first[k] - 1)) if k else 0.0,
            bound=0.25,
            regime=regime,
            quantity="rel. error",
            kind="approximation",
        ),
        check_close(
            "D3",
            "interference alone: mean change = -(n-1)/(4m)(1-e^{-4t})",
            predicted=float(expected_norm_change(n, m, tk)),
            measured=float(c.mean[k] * unit),
            atol=4 * float(c.se[k]) * unit + 1e-12,
            rtol=0.15,
            regime=regime + ", 4 s.e. + 15% second order",
            kind="approximation",
        ),
        check_close(
            "D3",
            "full flow: RMS change = sqrt(2/m)(1-e^{-2t})",
            predicted=float(feature_benefit_norm_change_rms(m, tk)),
            measured=float(c.rms_full[k]),
            rtol=4 / np.sqrt(2 * n * draws),
            atol=1e-12,
            regime=regime + ", 4 s.e.",
            kind="value",
        ),
    ]
    seeds = draw_seeds(seed, draws)
    largest = {
        terms: max(float(np.max(np.abs(phase_flow(n, m, s, terms, t_end, points, rtol)[1][: k + 1]))) for s in seeds)
        for terms in (INTERFERENCE, FULL)
    }
    note = (
        f"Largest |ln(‖W_i(t)‖²/‖W_i(0)‖²)| up to t over {draws} draws: {largest[INTERFERENCE]:.2e} under "
        f"interference alone, {largest[FULL]:.2e} under the full flow (n/m = {n / m:.3g}, "
        f"sqrt(2/m) = {np.sqrt(2 / m):.3g})."
    )
    return Panel(checks, svgplot.svg([phase_course_axes([c], t_mark=tk), full_flow_axes(c, t_mark=tk)]), note)


def phase_explorable() -> Explorable:
    """Widget: how far the lengths move over the interference phase (D3), both flows."""
    return Explorable(
        phase_panel,
        [
            Control("n", "features n", (16, 32), 32, kind="size", low=8, high=64),
            Control("m", "neurons m", (256, 1024, 4096), 1024, kind="size", low=256, high=65536),
            Control("t", "time t", (0.25, 0.5, 1.0, 5.0), 1.0, kind="float", low=0.125, high=5.0, step=0.125),
        ],
        title="How far the lengths move over the interference phase",
    )


def explorables() -> dict[str, Explorable]:
    """Fresh explorables of this chapter, by name."""
    return {"rates": rates_explorable(), "phase": phase_explorable()}
