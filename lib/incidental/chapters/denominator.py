"""Chapter 3 (Denominator): the experiments of claims D1-D3 and the chapter's widgets.

``a_i = ||W_i||^2 = G_ii``; ``rho_i`` is interference's relative rate of ``a_i``, ``phi_i = 2 (1 - a_i)``
feature benefit's. The checks are declared once (:data:`CHECKS`); runners take keyword knobs (validated
by :func:`~incidental.book.runner`); figure builders return the figure (captions are in the notebook).
*Interference alone* is the note's flow and the default flow of the interference phase ``[0, t_end]``;
the *full flow* is feature benefit + interference; rates "at initialisation" involve no flow.
"""

from __future__ import annotations

from collections import namedtuple
from functools import lru_cache

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from .. import derivation as dv
from .. import figures, svgplot
from .. import theory as th
from ..book import Result, quote, quotes, runner
from ..checks import declarations, fit_exponent
from ..explore import Control, Explorable, Panel
from ..flow import simulate
from ..model import ALL_TERMS, sample_gram, sample_weights
from ..plotting import render
from ..runs import FLOWS, INTERFERENCE, phase
from ..svgplot import PALETTE, Axes, Series

FORCE_SETS = {"feature benefit": ("feature_benefit",), "interference": INTERFERENCE}
FORCE_SETS |= {"regularisation": ("regularization",), "all three": ALL_TERMS}

CHECKS = declarations("denominator")  # the check table: chapters/checks/denominator.yaml


def _positive(name: str, value: float) -> None:
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")


# --- draws ----------------------------------------------------------------------------------------


def draw_seeds(point: int, count: int) -> tuple[int, ...]:
    """``count`` seeds for grid point number ``point``, distinct across points: the draws at different
    sizes are independent (correlated draws would make an exponent fit look far more precise than it is)."""
    if count > 1000:
        raise ValueError(f"count must be at most 1000 (seeds of the next point would repeat), got {count}")
    return tuple(1000 * point + offset for offset in range(count))


def relative_rates(n: int, m: int, seeds) -> tuple[np.ndarray, np.ndarray]:
    """``(rho, phi)``, each ``(len(seeds), n)``: both relative rates of ``a_i`` at initialisation, a draw per seed."""
    Gs = [sample_gram(n, m, seed=seed) for seed in seeds]
    rho = np.array([dv.interference_relative_rate(G) for G in Gs])
    return rho, np.array([dv.feature_benefit_relative_rate(G) for G in Gs])


# --- D1: the identity, each force, along its flow ---------------------------------------------------


@runner
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
    """D1 for each force and all three: ``2 F.W`` against :func:`~incidental.derivation.norm_sq_rate_independent`
    at ``W(0)`` (round-off), and against central differences (step ``h``) of ``||W_i||^2`` along the flow
    of those forces at each of ``t0s`` (and of ``||W_i||``: D3's chain rule), below ``fd_constant * h**2``."""
    _positive("lam", lam)
    _positive("fd_constant", fd_constant)
    if min(t0s) < h:
        raise ValueError(f"t0s must be at least h = {h:g} (the differences reach t0 - h), got {t0s}")
    W0 = sample_weights(n, m, seed=seed)
    times = np.sort(np.concatenate([[t - h, t, t + h] for t in t0s]))
    rel = lambda x, y: float(np.max(np.abs(x - y)) / np.max(np.abs(y)))  # relative to the largest rate
    norm = lambda X: np.linalg.norm(X, axis=1)
    fd_bound, checks, worst = fd_constant * h**2, [], []
    for force, terms in FORCE_SETS.items():
        roundoff = rel(dv.norm_sq_rate_independent(W0, terms, lam), dv.norm_sq_rate_dot(W0, terms, lam))
        sq, nm = [], []  # at each t0: the errors of the squared length's and of the length's differences
        for Wm, W, Wp in simulate(W0, times, lam=lam, terms=terms, max_step=h).reshape(len(t0s), 3, n, m):
            rate = dv.norm_sq_rate_dot(W, terms, lam)
            sq.append(rel((np.sum(Wp**2, 1) - np.sum(Wm**2, 1)) / (2 * h), rate))
            nm.append(rel((norm(Wp) - norm(Wm)) / (2 * h), rate / (2.0 * norm(W))))
        worst.append((roundoff, max(sq), max(nm)))
        checks += [
            CHECKS.roundoff.below(measured=roundoff, bound=roundoff_tolerance, scale=1.0, at=dict(t=0.0), force=force),
            CHECKS.fd.below(measured=max(sq), bound=fd_bound, scale=1.0, force=force, h=h),
            CHECKS.chain.below(measured=max(nm), bound=fd_bound, scale=1.0, force=force, h=h),
        ]
    worst = dict(zip(("roundoff", "fd", "norm_fd"), np.max(worst, axis=0)))
    numbers = quotes(".1e", **worst) | quotes(".0e", fd_bound=fd_bound)
    numbers["t0_list"] = quote(" and ".join(f"{t:g}" for t in t0s))
    return Result(checks=checks, numbers=numbers)


@runner
def regularization_share(*, n: int, m: int, lam: float, seed: int, sigmas: float) -> Result:
    """The L1 share ``-2 lam ||W_i||_1`` of ``d||W_i||^2/dt`` at initialisation, mean over the ``n``
    encodings of one draw, against ``-2 lam sqrt(2m/pi)`` within ``sigmas`` standard errors."""
    _positive("lam", lam)
    share = float(np.mean(-2.0 * lam * np.sum(np.abs(sample_weights(n, m, seed=seed)), axis=1)))
    predicted, se = th.regularization_norm_share_mean(m, lam), th.regularization_norm_share_se(n, lam)
    check = CHECKS.l1_share.close(predicted=predicted, measured=share, atol=sigmas * se)
    numbers = quotes(".4f", predicted=predicted, measured=share, interference=dv.expected_relative_norm_sq_rate(n, m))
    return Result(checks=[check], numbers=numbers)


# --- D2: interference's share at initialisation ----------------------------------------------------


def _law_axes(x, density, lo, hi, grid, *, labels: tuple[str, str, str, str], peak_below: float) -> Axes:
    """A histogram of ``x`` (clipped to ``[lo, hi]``, about ``sqrt(size)`` bins) against ``density`` on
    ``grid``, -1 marked; the peaks (the density's below ``peak_below``) set the height. ``labels``: the
    histogram's, the density's, the x axis's and the mark's."""
    bins = int(np.clip(np.sqrt(x.size), 5, 30))
    series = figures.histogram_law(
        np.clip(x, lo, hi), density, grid, bins=bins, range=(lo, hi), label=labels[0], predicted_label=labels[1]
    )
    peak = max(float(np.max(series[0].y)), float(np.max(series[1].y[grid < peak_below])))
    return Axes(
        series, xlabel=labels[2], ylabel="density", vlines=[(-1.0, labels[3])], xlim=(lo, hi), ylim=(0, 1.4 * peak)
    )


def rate_law_axes(rho: np.ndarray, n: int, m: int, *, label: str = "measured") -> Axes:
    """Histogram of ``rho`` in units of ``(n-1)/m`` against the exact law (D2), over the law's range
    (a far outlier does not squeeze it); the density's peak away from its ``chi2_1`` pole at 0 sets the height."""
    unit, lo = (n - 1) / m, -1.0 - 4.5 * th.interference_rate_relative_spread(n)
    labels = (label, "exact law (D2)", r"$\rho_i\,/\,((n-1)/m)$  (interference)", "exact mean -1")
    density = lambda g: th.interference_rate_density(g * unit, n, m) * unit
    grid = np.linspace(lo, -1e-3, 200)
    return _law_axes(np.asarray(rho, float) / unit, density, lo, 0.0, grid, labels=labels, peak_below=-0.05)


def fb_law_axes(phi: np.ndarray, n: int, m: int) -> Axes:
    """Histogram of ``phi_i`` in units of ``(n-1)/m`` against ``N(0, 8/m)``, interference's mean marked."""
    unit = (n - 1) / m
    rms = th.feature_benefit_rate_rms(m) / unit
    half = max(4.0 * rms, 2.0)
    labels = ("measured", "N(0, 8/m)", r"$φ_i\,/\,((n-1)/m)$  (feature benefit)", "interference's mean")
    density, grid = lambda g: stats.norm.pdf(g, 0.0, rms), np.linspace(-half, half, 161)
    return _law_axes(np.asarray(phi, float) / unit, density, -half, half, grid, labels=labels, peak_below=np.inf)


@runner
def exact_law(*, n: int, m: int, draws: int, seed: int, ks_level: float, sigmas: float) -> Result:
    """D2's exact law: ``rho_0`` from ``draws`` independent draws (seeds ``seed, seed+1, ...``), its
    Kolmogorov-Smirnov distance to the exact CDF against the critical value at ``ks_level``; its mean."""
    samples = np.array([dv.interference_relative_rate(sample_gram(n, m, seed=seed + k))[0] for k in range(draws)])
    ks = float(stats.kstest(samples, lambda x: th.interference_rate_cdf(x, n, m)).statistic)
    bound, mean = float(stats.kstwo.isf(ks_level, draws)), float(samples.mean())
    mean_tolerance = sigmas * th.interference_rate_sd(n, m) / np.sqrt(draws)
    checks = [
        CHECKS.law.below(measured=ks, bound=bound, scale=1.0),
        CHECKS.law_mean.close(predicted=dv.expected_relative_norm_sq_rate(n, m), measured=mean, atol=mean_tolerance),
    ]
    numbers = quotes(".3f", ks=ks, ks_bound=bound, mean_units=mean / ((n - 1) / m))
    numbers["ks_pct"] = quote(100 * ks_level, "g")
    return Result(checks=checks, numbers=numbers, data=dict(samples=samples))


def exact_law_figure(r: Result) -> Figure:
    """The histogram of ``rho_0`` against its exact law."""
    label = f"measured $\\rho_0$ ({r.q.draws} draws)"
    return render(rate_law_axes(r.data["samples"], r.params["n"], r.params["m"], label=label))


def _scaling(over: str, sizes, ns, ms, *, draws: int, seed: int, sigmas: float, **exponent) -> Result:
    """``|mean_i rho_i|`` at each ``(n, m)`` (grid point ``k``: :func:`draw_seeds` ``(seed + k, draws)``)
    against ``(n-1)/m``: the exponent in ``over`` and the constant 1."""
    pairs = list(zip(ns, ms))
    vals = np.array([-relative_rates(n, m, draw_seeds(seed + k, draws))[0].mean() for k, (n, m) in enumerate(pairs)])
    pred = np.array([(n - 1) / m for n, m in pairs])
    se = np.array([th.interference_rate_mean_se(n, m) for n, m in pairs]) / np.sqrt(draws)
    check_exp, fit = CHECKS.share_exp.exponent(sizes=np.asarray(sizes, float), values=vals, **exponent, over=over)
    constant, constant_se = float(np.mean(vals / pred)), float(np.sqrt(np.sum((se / pred) ** 2)) / len(sizes))
    check_c = CHECKS.share_const.close(predicted=1.0, measured=constant, atol=sigmas * constant_se)
    numbers = quotes(".4f", fit=fit) | quotes(".3f", const=constant, const_se=constant_se)
    data = dict(sizes=np.asarray(sizes, float), values=vals, fit=fit)
    return Result(checks=[check_exp, check_c], numbers=numbers, data=data)


@runner(min_lengths=dict(ms=3))
def scaling_in_m(*, n: int, ms: tuple[int, ...], draws: int, seed: int, sigmas: float) -> Result:
    """D2 over ``ms`` at fixed ``n``: ``|mean_i rho_i|``, exponent -1 and constant 1."""
    r = _scaling("m", ms, [n] * len(ms), ms, draws=draws, seed=seed, sigmas=sigmas, predicted=-1.0)
    r.numbers |= quotes("d", m_min=min(ms)) | quotes(".1e", m_max=max(ms))
    return r


@runner(min_lengths=dict(ns=3))
def scaling_in_n(*, m: int, ns: tuple[int, ...], draws: int, seed: int, sigmas: float) -> Result:
    """D2 over ``ns`` at fixed ``m``: exponent +1 up to the finite-size slope of ``n - 1``: the exact mean's
    log-slope ``n/(n-1)`` exceeds 1 by at most ``1/(ns[0] - 1)``, the exponent's tolerance."""
    tolerance = 1.0 / (min(ns) - 1)
    r = _scaling("n", ns, ns, [m] * len(ns), draws=draws, seed=seed, sigmas=sigmas, predicted=1.0, tolerance=tolerance)
    r.numbers |= quotes("d", n_min=min(ns), n_max=max(ns), n_min_1=min(ns) - 1)
    return r


def _power_law(r: Result, *, xlabel: str, ylabel: str, **kw) -> Axes:
    """Log-log axes of ``r.data["values"]`` against ``r.data["sizes"]`` with the fit ``r.data["fit"]``."""
    series = figures.power_law(r.data["sizes"], r.data["values"], fit=r.data["fit"], **kw)
    return figures.power_law_axes(series, xlabel=xlabel, ylabel=ylabel)


def scaling_figure(over_m: Result, over_n: Result) -> Figure:
    """The two exponent fits of D2 side by side: ``|mean rho_i|`` against ``m`` (left) and ``n`` (right)."""
    n, m, y = over_m.params["n"], over_n.params["m"], r"$|\mathrm{mean}\,\rho_i|$"
    kw = dict(label=y, ylabel=y, predicted_label="exact $(n-1)/m$")
    left = _power_law(over_m, predicted=lambda s: (n - 1) / s, xlabel=f"neurons $m$ ($n = {n}$)", **kw)
    xlabel = f"features $n$ ($m = {_m_tex(m)}$)"
    right = _power_law(over_n, predicted=lambda s: (s - 1) / m, xlabel=xlabel, color=PALETTE[1], **kw)
    return render([left, right], width=9.0)


@runner(min_lengths=dict(ns=3))
def spread_over_encodings(
    *, m: int, ns: tuple[int, ...], samples: int, seed: int, sigmas: float, example_n: int
) -> Result:
    """Pooled (over draws and ``i``) sd of ``rho_i`` over ``|mean|`` against ``sqrt(5/(n-1))``: at each ``n``,
    ``ceil(samples / n)`` draws (at least 2). ``example_n`` is the ``n`` the prose quotes the spread at."""
    rel, ses = [], []
    for k, n in enumerate(ns):
        rho, _ = relative_rates(n, m, draw_seeds(seed + k, max(2, -(-samples // n))))
        rel.append(float(np.std(rho, ddof=1) / ((n - 1) / m)))
        ses.append(th.sd_relative_se(n, rho.size))
    rel_arr, x = np.array(rel), np.asarray(ns, float) - 1
    check_exp, fit = CHECKS.spread_exp.exponent(sizes=x, values=rel_arr, predicted=-0.5)
    constant, se = float(np.mean(rel_arr * np.sqrt(x))), float(np.sqrt(5.0) * np.sqrt(np.sum(np.square(ses))) / len(ns))
    check_c = CHECKS.spread_const.close(predicted=float(np.sqrt(5.0)), measured=constant, atol=sigmas * se)
    numbers = quotes(".3f", fit=fit, const=constant, sqrt5=np.sqrt(5.0))
    numbers |= quotes(".0f", example_pct=100 * th.interference_rate_relative_spread(example_n))
    return Result(checks=[check_exp, check_c], numbers=numbers, data=dict(sizes=x, values=rel_arr, fit=fit))


def spread_figure(r: Result) -> Figure:
    """Relative spread of ``rho_i`` against ``n - 1``: measured, fit, exact and naive predictions."""
    kw = dict(label=r"sd / |mean| of $\rho_i$", predicted_label=r"exact $\sqrt{5/(n-1)}$", ylabel="sd / |mean|")
    xlabel = f"$n - 1$ ($m = {_m_tex(r.params['m'])}$)"
    axes = _power_law(r, xlabel=xlabel, predicted=lambda g: np.sqrt(5 / g), **kw)
    grid = np.geomspace(r.data["sizes"].min(), r.data["sizes"].max(), 50)
    axes.series.append(Series(grid, np.sqrt(2 / grid), label=r"naive $\sqrt{2/(n-1)}$", color="#888", dashed=True))
    return render(axes, width=6.0)


# --- D3 under interference alone -------------------------------------------------------------------


@runner
def norm_rate_mean(*, n: int, m: int, draws: int, seed: int, sigmas: float) -> Result:
    """D3 under interference alone: the mean over draws and encodings of ``rho_i / 2`` (the relative
    rate of ``||W_i||``) against ``-(n-1)/(2m)``, within ``sigmas`` standard errors."""
    rho, _ = relative_rates(n, m, draw_seeds(seed, draws))
    se, unit = th.interference_rate_mean_se(n, m) / np.sqrt(draws), (n - 1) / m
    predicted = 0.5 * dv.expected_relative_norm_sq_rate(n, m)
    check = CHECKS.norm_rate.close(predicted=predicted, measured=0.5 * float(rho.mean()), atol=sigmas * 0.5 * se)
    numbers = quotes(".3f", units=0.5 * float(rho.mean()) / unit, se_units=0.5 * se / unit)
    return Result(checks=[check], numbers=numbers)


@runner
def pair_norm_correction(*, n: int, m: int, draws: int, seed: int, sigmas: float) -> Result:
    """``-(rho_i + rho_j)/2`` over the pairs with ``G_ij > 0``, mean per draw, against ``n/m``
    (:func:`~incidental.theory.expected_pair_norm_correction`), within ``sigmas`` standard errors."""
    if draws < 2:
        raise ValueError(f"draws must be at least 2 (the standard error is over draws), got {draws}")
    per_draw = []
    for draw in draw_seeds(seed, draws):
        G = sample_gram(n, m, seed=draw)
        rho = dv.interference_relative_rate(G)
        per_draw.append(float(np.mean(-0.5 * (rho[:, None] + rho[None, :])[np.triu(G > 0, k=1)])))
    mean, se = float(np.mean(per_draw)), float(np.std(per_draw, ddof=1) / np.sqrt(draws))
    check = CHECKS.pair.close(predicted=th.expected_pair_norm_correction(n, m), measured=mean, atol=sigmas * se)
    numbers = quotes(".2f", units=mean * m, se_units=se * m) | quotes("d", n_minus_1=n - 1)
    return Result(checks=[check], numbers=numbers)


# --- D3 for the full flow: feature benefit's share against interference's ----------------------------


@runner
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
    """Both shares of ``a_i``'s relative rate at initialisation (the full flow's rate split by force) at every
    ``(n, m)``, ``n <= m``: the ratio ``RMS(phi)/|mean rho|`` against ``2 sqrt(2m)/(n-1)``, feature
    benefit's constant, and the fraction of encodings it dominates."""
    rows = []
    for k, (m, n) in enumerate((m, n) for m in ms for n in ns if n <= m):
        rho, phi = relative_rates(n, m, draw_seeds(seed + k, draws))
        fb, frac = float(np.sqrt(np.mean(phi**2))), float(np.mean(np.abs(phi) > np.abs(rho)))
        rows.append((n, m, fb, float(-rho.mean()), frac, th.feature_benefit_dominated_fraction(n, m)))
    if len(rows) < 3:
        raise ValueError(f"ns and ms must give at least 3 sizes with n <= m, got {len(rows)}")
    n_a, m_a, fb, im, frac, frac_pred = (np.array(column, dtype=float) for column in zip(*rows))
    x, fb_const, n_samples = (n_a - 1) / np.sqrt(m_a), fb * np.sqrt(m_a), n_a * draws
    check_ratio, fit = CHECKS.ratio.exponent(sizes=x, values=fb / im, predicted=-1.0, tolerance=ratio_tolerance)
    fb_se = float(2 * np.sqrt(2) * np.sqrt(np.mean(1 / (2 * n_samples)) / len(n_a)))
    constant = dict(predicted=float(2 * np.sqrt(2)), measured=float(np.mean(fb_const)), atol=sigmas * fb_se)
    check_fb = CHECKS.fb_const.close(**constant)
    frac_se = np.sqrt(np.maximum(frac_pred * (1 - frac_pred), 1e-4) / n_samples)
    check_frac = CHECKS.fraction.below(measured=float(np.max(np.abs(frac - frac_pred) / frac_se)), bound=sigmas)
    numbers = quotes(".3f", fit=fit, fb_const=np.mean(fb_const))
    numbers |= quotes(".1f", example_ratio=th.share_ratio(example_n, example_m))
    numbers |= quotes(".2f", crossover=fit.prefactor ** (-1.0 / fit.exponent), crossover_pred=2 * np.sqrt(2))
    numbers |= quotes(".0f", example_crossover_n=1 + 2 * np.sqrt(2 * example_m))
    data = dict(m=m_a, x=x, ratio=fb / im, fraction=frac, fraction_predicted=frac_pred)
    return Result(checks=[check_ratio, check_fb, check_frac], numbers=numbers, data=data)


def _m_tex(m: float) -> str:
    """``2^{k}`` for a power of two, else the integer (inside ``$...$``)."""
    k = int(round(np.log2(m)))
    return f"2^{{{k}}}" if 2**k == int(m) else f"{int(m)}"


def share_figure(r: Result) -> Figure:
    """Left: the ratio of the shares against ``(n-1)/sqrt(m)``; right: the fraction of encodings
    feature benefit dominates, against its exact value (dashed, one per ``m``)."""
    order = np.argsort(r.data["x"])  # so that each m's exact fraction is drawn as a line
    keys = ("x", "m", "ratio", "fraction", "fraction_predicted")
    x, ms, ratio, fraction, exact = (r.data[key][order] for key in keys)
    left, right = [], []
    for k, m in enumerate(np.unique(ms)):
        sel, color, label = ms == m, PALETTE[k % len(PALETTE)], f"$m = {_m_tex(m)}$"
        left.append(Series(x[sel], ratio[sel], label=label, kind="points", color=color))
        right.append(Series(x[sel], fraction[sel], label=label, kind="points", color=color))
        right.append(Series(x[sel], exact[sel], color=color, dashed=True, label="" if k else "exact probability"))
    grid, cross, xlabel = np.geomspace(x.min(), x.max(), 50), 2 * np.sqrt(2), r"$(n-1)/\sqrt{m}$"
    left.append(Series(grid, cross / grid, label=r"predicted $2\sqrt{2}\,\sqrt{m}/(n-1)$", color="#000"))
    ylabels = (r"RMS $\varphi_i$ / $|\mathrm{mean}\,\rho_i|$", r"fraction with $|\varphi_i| > |\rho_i|$")
    lines = dict(hlines=[(1.0, "equal shares")], vlines=[(cross, r"predicted crossover $2\sqrt{2}$")])
    ratio_axes = Axes(left, xlabel=xlabel, ylabel=ylabels[0], xlog=True, ylog=True, **lines)
    lines = dict(hlines=[(0.5, "one half")], vlines=[(cross, "")])
    fraction_axes = Axes(right, xlabel=xlabel, ylabel=ylabels[1], xlog=True, ylim=(-0.03, 1.08), **lines)
    return render([ratio_axes, fraction_axes], width=9.5, height=3.4)


# --- the interference phase: how far the lengths move ------------------------------------------------


Course = namedtuple("Course", "n m draws times mean se first error error_se rms_int rms_full max_int max_full end_full")
Course.__doc__ = """The squared lengths of one ``(n, m)`` over the interference phase, over ``draws`` Gram draws:
``mean`` (``se``: its standard error over draws) and ``first`` (its first-order prediction) are the means over
draws and ``i`` of ``ln(a_i(t)/a_i(0))`` under interference alone, in units of ``(n-1)/m``; ``error`` (``error_se``)
the mean over draws of measured/first-order - 1 at ``t_end``; ``rms_int``, ``rms_full`` the RMS over ``i`` and
draws under interference alone and the full flow; ``max_int``, ``max_full`` the largest ``|ln(a_i(t)/a_i(0))|``
over ``i`` and draws at each time; ``end_full`` the largest ``|a_i(t_end) - 1|`` under the full flow."""


@lru_cache(maxsize=64)
def phase_course(n: int, m: int, seeds: tuple[int, ...], t_end: float, points: int, rtol: float) -> Course:
    """Both flows from each seed's Gram draw (the shared run :func:`incidental.runs.phase`, ``G`` only,
    ``points`` times in ``[0, t_end]``), summarised as a :class:`Course`."""
    one = lambda seed, flow: phase(n, m, seed, flow=flow, rtol=rtol, t_end=t_end, count=points, accumulate=False)
    runs = {flow: [one(seed, flow) for seed in seeds] for flow in FLOWS}
    squared = {flow: [np.diagonal(run.G, axis1=1, axis2=2) for run in runs[flow]] for flow in FLOWS}  # a_i(t)
    change = {flow: [np.log(a / a[0]) for a in squared[flow]] for flow in FLOWS}  # ln(a_i(t)/a_i(0)), each (T, n)
    times, unit = runs["interference"][0].times, (n - 1) / m
    per_draw = np.array([draw.mean(axis=1) for draw in change["interference"]])  # (draws, T)
    first = np.array([dv.first_order_norm_change(run.G0, times).mean(axis=1) for run in runs["interference"]])
    ratio = per_draw[:, -1] / first[:, -1] - 1
    sd = lambda a: np.std(a, axis=0, ddof=1) / np.sqrt(len(seeds)) if len(seeds) > 1 else np.zeros_like(a[0])
    rms = [np.sqrt(np.mean(np.square(change[flow]), axis=(0, 2))) for flow in ("interference", "full")]
    largest = [np.max(np.abs(change[flow]), axis=(0, 2)) for flow in ("interference", "full")]
    end = max(float(np.max(np.abs(a[-1] - 1))) for a in squared["full"])
    mean, se, first_mean = per_draw.mean(axis=0) / unit, sd(per_draw) / unit, first.mean(axis=0) / unit
    error = (float(ratio.mean()), float(sd(ratio)))
    return Course(n, m, len(seeds), times, mean, se, first_mean, *error, *rms, *largest, end)


@runner(min_lengths=dict(ms=3))
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
    """The squared lengths over the interference phase ``[0, t_end]``, under interference alone and under
    the full flow, over ``ms`` at fixed ``n``: ``draws`` Gram draws per ``m`` (grid point ``k``:
    :func:`draw_seeds` ``(seed + k, draws)``), integrated in Gram space (solver tolerance ``rtol``)."""
    if draws < 2:
        raise ValueError(f"draws must be at least 2 (the standard errors are over draws), got {draws}")
    courses = [phase_course(n, m, draw_seeds(seed + k, draws), t_end, points, rtol) for k, m in enumerate(ms)]
    ms_a = np.asarray(ms, float)
    units = (n - 1) / ms_a
    end_change = np.array([-course.mean[-1] for course in courses]) * units  # |mean ln(a(T)/a(0))|
    rms_full = np.array([course.rms_full[-1] for course in courses])
    errors = np.array([course.error for course in courses])
    small, big, largest = courses[0], courses[-1], dict(m=ms[-1])
    exp = dict(sizes=ms_a, values=end_change, predicted=-1.0, tolerance=exponent_tolerance)
    check_exp, fit = CHECKS.phase_exp.exponent(**exp)
    change_pred = np.array([-th.expected_norm_change(n, m, t_end) for m in ms])  # |predicted mean change|
    rms_pred = np.array([th.feature_benefit_norm_change_rms(m, t_end) for m in ms])
    constant_pred = float(-change_pred[-1] / units[-1])
    exp = dict(sizes=ms_a, values=errors, predicted=-0.5, tolerance=error_exponent_tolerance)
    check_err, err_fit = CHECKS.first_order_exp.exponent(**exp)
    rms_ratio = float(np.mean(rms_full / rms_pred))
    end_error = max(course.end_full for course in courses)
    rms_se = sigmas / np.sqrt(2 * n * draws * len(ms))
    checks = [
        check_exp,
        CHECKS.phase_const.close(predicted=constant_pred, measured=big.mean[-1], atol=sigmas * big.se[-1], at=largest),
        CHECKS.first_order.below(measured=abs(big.error), bound=first_order_tolerance, scale=1.0, at=largest),
        check_err,
        CHECKS.rms_full.close(predicted=1.0, measured=rms_ratio, atol=rms_se),
        CHECKS.end.below(measured=end_error, bound=end_tolerance),
    ]
    numbers = quotes(".3f", fit=fit, constant=big.mean[-1], constant_se=big.se[-1], constant_pred=constant_pred)
    numbers |= quotes(".3f", rms_ratio=rms_ratio, max_full_small=np.max(small.max_full))
    numbers |= quotes(".2f", err_fit=err_fit) | quotes(".4f", max_int_small=np.max(small.max_int))
    numbers |= quotes(".0%", err_small=small.error) | quotes(".1%", err_large=big.error)
    numbers |= quotes("d", m_small=ms[0], m_large=ms[-1]) | quotes(".3g", n_over_m_small=n / ms[0])
    numbers |= quotes(".0e", end_err=end_error, decay=np.exp(-2 * t_end))
    larger = "at every m of the grid" if np.all(rms_full > end_change) else "where n − 1 < 2√(2m)"
    data = dict(courses=courses, ms=ms_a, end_change=end_change, rms_full=rms_full, errors=errors, fit=fit)
    data |= dict(error_se=np.array([course.error_se for course in courses]), err_fit=err_fit)
    data |= dict(change_pred=change_pred, rms_pred=rms_pred)
    return Result(checks=checks, numbers=numbers | {"full_larger": quote(larger)}, data=data)


def phase_course_axes(courses: list[Course], *, vlines: list[tuple[float, str]] = ()) -> Axes:
    """Interference alone: mean ``ln(a_i(t)/a_i(0))`` in units of ``(n-1)/m`` over the phase, one band
    (mean ± 2 s.e. over draws) and one first-order prediction per course, and the leading order (``vlines``: marks)."""
    n, m, times = courses[0].n, courses[0].m, courses[0].times
    leading = th.expected_norm_change(n, m, times) / ((n - 1) / m)
    series = [Series(times, leading, label=r"leading order $-(1-e^{-4t})/4$", color="#000", dashed=True)]
    for k, course in enumerate(courses):
        color = PALETTE[(2 * k) % len(PALETTE)]
        draws = f"{course.draws} draws, ±2 s.e." if course.draws > 1 else "1 draw"
        labels = dict(label=f"measured, m = {course.m} ({draws})", predicted_label=f"first order, m = {course.m}")
        band = dict(low=course.mean - 2 * course.se, high=course.mean + 2 * course.se, color=color)
        series += figures.time_course(times, course.mean, course.first, **band, **labels)
        series[-1].color = color  # the first order in its course's colour
    lowest = min(float(np.min(np.concatenate([course.mean - 2 * course.se, course.first]))) for course in courses)
    low = min(lowest, -0.25)
    # headroom above 0 (where no curve goes) keeps the legend off the curves' steep start
    ylabel = "mean ln(aᵢ(t)/aᵢ(0)) · m/(n−1)"
    return Axes(series, xlabel="time $t$", ylabel=ylabel, ylim=(1.1 * low, -0.5 * low), vlines=list(vlines))


def phase_figure(r: Result) -> Figure:
    """Left: the squared lengths over the phase under interference alone at the smallest and largest
    ``m``; right: the first-order prediction's relative error at the end of the phase against ``m``."""
    data, knobs = r.data, r.params
    err, se = data["errors"], data["error_se"]
    band = dict(low=np.maximum(err - 2 * se, err * 0.05), high=err + 2 * se, color=PALETTE[3])
    series = figures.power_law(data["ms"], err, label="error of first order", fit=data["err_fit"], **band)
    xlabel = f"neurons $m$ ($n = {knobs['n']}$)"
    right = figures.power_law_axes(series, xlabel=xlabel, ylabel="measured / first order - 1")
    right.hlines = [(knobs["first_order_tolerance"], "tolerance at the largest m")]
    return render([phase_course_axes([data["courses"][0], data["courses"][-1]]), right], width=10.0, height=3.6)


def phase_sizes_figure(r: Result) -> Figure:
    """How far the squared lengths move over the phase against ``m``: interference alone against the full flow."""
    data, ms = r.data, r.data["ms"]  # the predictions are power laws in m: straight through their values
    label = dict(label=r"interference alone: $|\mathrm{mean}|$", predicted_label=r"predicted $(n-1)(1-e^{-4T})/(4m)$")
    predicted = dict(predicted=figures.through(ms, data["change_pred"]), fit=data["fit"])
    interference = figures.power_law(ms, data["end_change"], **label, **predicted)
    label = dict(label="full flow: RMS", predicted_label=r"predicted $\sqrt{2/m}\,(1-e^{-2T})$")
    predicted = dict(predicted=figures.through(ms, data["rms_pred"]), fit=fit_exponent(ms, data["rms_full"]))
    full = figures.power_law(ms, data["rms_full"], color=PALETTE[1], **label, **predicted)
    full[-1].color = "#777"
    labels = dict(xlabel=f"neurons $m$ ($n = {r.params['n']}$)", ylabel="|ln(aᵢ(T)/aᵢ(0))|: |mean| or RMS")
    return render(figures.power_law_axes([*interference, *full], **labels), width=6.4, height=3.6)


# --- widgets -----------------------------------------------------------------------------------------


@runner
def rates_at(*, n: int, m: int, seed: int) -> Result:
    """One draw: both relative rates of ``||W_i||^2`` at initialisation against their laws (4 s.e.)."""
    G = sample_gram(n, m, seed=seed)
    rho, phi = dv.interference_relative_rate(G), dv.feature_benefit_relative_rate(G)
    mean_pred, mean_se = dv.expected_relative_norm_sq_rate(n, m), th.interference_rate_mean_se(n, m)
    rms_phi, sd = np.sqrt(np.mean(phi**2)), float(np.std(rho, ddof=1))
    checks = [
        CHECKS.w_mean.close(predicted=mean_pred, measured=float(rho.mean()), atol=4 * mean_se),
        CHECKS.w_sd.close(predicted=th.interference_rate_sd(n, m), measured=sd, rtol=4 * th.sd_relative_se(n, n)),
        CHECKS.norm_rate.close(predicted=mean_pred / 2, measured=float(rho.mean() / 2), atol=2 * mean_se),
        CHECKS.fb_const.close(predicted=2 * np.sqrt(2), measured=float(rms_phi * np.sqrt(m)), rtol=4 / np.sqrt(2 * n)),
    ]
    numbers = quotes(".3g", ratio=rms_phi / -rho.mean()) | quotes(".0%", fraction=np.mean(np.abs(phi) > np.abs(rho)))
    return Result(checks=checks, numbers=numbers, data=dict(rho=rho, phi=phi))


def rates_panel(n: int, m: int, seed: int) -> Panel:
    """Widget panel: one draw; both relative rates of ``||W_i||^2`` at initialisation against their laws."""
    r = rates_at(n=n, m=m, seed=seed)
    who = "feature benefit" if float(r.q.ratio) > 1 else "interference"
    note = (
        f"In the full flow, <b>{who}</b> dominates the rate of the lengths here: RMS φ / |mean ρ| = {r.q.ratio} "
        f"(predicted 2·sqrt(2m)/(n-1) = {th.share_ratio(n, m):.3g}); |φ_i| &gt; |ρ_i| for {r.q.fraction} of the "
        f"encodings (predicted {th.feature_benefit_dominated_fraction(n, m, nodes=100):.0%})."
    )
    return Panel(r.checks, svgplot.svg([rate_law_axes(r.data["rho"], n, m), fb_law_axes(r.data["phi"], n, m)]), note)


def rates_explorable() -> Explorable:
    """Widget: sizes and seed against the two shares of the squared length's rate at initialisation (D2, D3)."""
    controls = [
        Control("n", "features n", (8, 32, 128), 32, kind="size", low=4, high=512),
        Control("m", "neurons m", (256, 1024, 4096), 1024, kind="size", low=256, high=2**20),
        Control("seed", "seed", (0, 1), 0, low=0, high=99),
    ]
    title = "What changes a length at initialisation: interference against feature benefit"
    return Explorable(rates_panel, controls, title=title)


def full_flow_axes(course: Course, *, vlines: list[tuple[float, str]] = ()) -> Axes:
    """RMS ``ln(a_i(t)/a_i(0))`` over the phase: full flow against ``sqrt(2/m)(1-e^{-2t})``, and interference alone."""
    t, rms_int, rms_full = course.times[1:], course.rms_int[1:], course.rms_full[1:]
    predicted = th.feature_benefit_norm_change_rms(course.m, t)
    labels = dict(label="full flow (measured)", predicted_label=r"$\sqrt{2/m}\,(1-e^{-2t})$")
    series = figures.time_course(t, rms_full, predicted, color=PALETTE[1], **labels)
    series.append(Series(t, rms_int, label="interference alone", color=PALETTE[0]))
    low, high = min(np.min(rms_int), np.min(rms_full)), max(np.max(course.rms_int), np.max(course.rms_full))
    ylim = (float(low) / 1.5, float(high) * 8)  # headroom for the legend
    return Axes(series, xlabel="time $t$", ylabel="RMS ln(aᵢ(t)/aᵢ(0))", ylog=True, vlines=list(vlines), ylim=ylim)


@runner
def phase_at(*, n: int, m: int, t: float, seed: int, draws: int, t_end: float, points: int, rtol: float) -> Result:
    """The squared lengths over the interference phase ``[0, t_end]`` at the output time nearest ``t``,
    ``draws`` draws: interference alone against its first order and leading order, the full flow's RMS."""
    course = phase_course(n, m, draw_seeds(seed, draws), t_end, points, rtol)
    k = int(np.argmin(np.abs(course.times - t)))
    tk, unit, at = float(course.times[k]), (n - 1) / m, dict(t=float(course.times[k]))
    first = float(abs(course.mean[k] / course.first[k] - 1)) if k else 0.0
    change = dict(predicted=float(th.expected_norm_change(n, m, tk)), measured=float(course.mean[k] * unit))
    rms = dict(predicted=float(th.feature_benefit_norm_change_rms(m, tk)), measured=float(course.rms_full[k]))
    checks = [
        CHECKS.w_first.below(measured=first, bound=0.25, scale=1.0, at=at),
        CHECKS.w_change.close(**change, atol=4 * float(course.se[k]) * unit + 1e-12, rtol=0.15, at=at),
        CHECKS.w_rms.close(**rms, rtol=4 / np.sqrt(2 * n * draws), atol=1e-12, at=at),
    ]
    largest = dict(largest_interference=np.max(course.max_int[: k + 1]), largest_full=np.max(course.max_full[: k + 1]))
    numbers = quotes(".2e", **largest) | {"t": quote(tk, ".3g")}
    return Result(checks=checks, numbers=numbers, data=dict(course=course))


def phase_panel(n: int, m: int, t: float) -> Panel:
    """Widget panel: the squared lengths over the interference phase up to ``t``, under interference alone
    (left, the same figure as the chapter's) and the full flow (right); 8 draws, ``t_end = 5``."""
    r = phase_at(n=n, m=m, t=t, seed=400, draws=8, t_end=5.0, points=41, rtol=1e-7)
    note = (
        f"Largest |ln(‖W_i(t)‖²/‖W_i(0)‖²)| up to t over {r.q.draws} draws: {r.q.largest_interference} under "
        f"interference alone, {r.q.largest_full} under the full flow (n/m = {n / m:.3g}, "
        f"sqrt(2/m) = {np.sqrt(2 / m):.3g})."
    )
    course, mark = r.data["course"], [(float(r.q.t), "")]
    figure = svgplot.svg([phase_course_axes([course], vlines=mark), full_flow_axes(course, vlines=mark)])
    return Panel(r.checks, figure, note)


def phase_explorable() -> Explorable:
    """Widget: how far the lengths move over the interference phase (D3), both flows."""
    controls = [
        Control("n", "features n", (16, 32), 32, kind="size", low=8, high=64),
        Control("m", "neurons m", (256, 1024), 1024, kind="size", low=256, high=65536),
        Control("t", "time t", (0.5, 1.0), 1.0, kind="float", low=0.125, high=5.0, step=0.125),
    ]
    return Explorable(phase_panel, controls, title="How far the lengths move over the interference phase")


def explorables() -> dict[str, Explorable]:
    """Fresh explorables of this chapter, by name (the notebook's widget cells set their grids)."""
    return {"rates": rates_explorable(), "phase": phase_explorable()}
