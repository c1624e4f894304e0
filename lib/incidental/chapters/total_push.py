"""Chapter 5 (Total push): the experiments of claims T1-T4 and the chapter's widgets.

**The interference phase** is the interval over which interference resolves the positive overlaps.
Every runner simulates it in Gram space (:func:`incidental.flow.simulate_gram_phase`, cost
independent of ``m``) from ``t = 0`` to its knob ``t_end``, under interference alone (the flow
the note's derivation uses) unless its ``flow`` knob is ``"full"`` (feature benefit +
interference, ``lam = 0``). Each runner takes all its knobs as keyword arguments and returns a
:class:`~incidental.book.Result`; each figure builder returns ``(figure, caption)`` with the
caption built from the result. The formulas live in the core: :mod:`incidental.exact` (two
encodings), :mod:`incidental.derivation` (pairwise predictions, transport) and
:mod:`incidental.theory` (the derived constants).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache, wraps

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from .. import _validate as v
from .. import figures, svgplot
from ..book import Result, quote
from ..checks import Check, check_below, check_close, check_exponent, check_p_value, fit_exponent
from ..derivation import (
    displacement_from_transport,
    gram_schmidt_coefficient,
    gram_schmidt_norm_loss,
    pair_loss_prediction,
    pair_push_prediction,
)
from ..exact import lowdin, pair_interference, pair_limit_weights, pair_norm_sq_loss, pair_push_total, unit_pair_ratios
from ..explore import Control, Explorable, Panel
from ..flow import simulate, simulate_gram_phase, simulate_gram_with_push
from ..model import cosine_similarity, offdiagonal, sample_gram, sample_weights
from ..plotting import render
from ..theory import (
    atom_prediction,
    end_cdf,
    end_mean_prediction,
    end_negative_survival,
    expected_displacement,
    expected_norm_drop,
    expected_pair_loss,
    expected_push,
    loss_lift,
    negative_lift,
    push_shift,
    push_slope_prediction,
)

FLOWS: dict[str, tuple[str, ...]] = {"interference": ("interference",), "full": ("feature_benefit", "interference")}
FLOW_WORDS = {"interference": "interference alone", "full": "full flow (feature benefit + interference)"}
GREY = "#9ab"


def flow_terms(flow: str) -> tuple[str, ...]:
    """The forces of ``flow`` (``"interference"`` or ``"full"``)."""
    if flow not in FLOWS:
        raise ValueError(f"flow must be one of {', '.join(FLOWS)}, got {flow!r}")
    return FLOWS[flow]


def only(r: Result, *claims: str) -> list[Check]:
    """The checks of ``r`` for the claim ids ``claims`` (to show a result's checks where each claim is discussed)."""
    return [c for c in r.checks if c.claim in claims]


def runner(fn):
    """A runner's result records exactly the knobs it was called with (all keyword arguments) as its params."""

    @wraps(fn)
    def run(**knobs):
        r = fn(**knobs)
        r.params = dict(knobs)
        return r

    return run


def _fit_numbers(prefix: str, fit, fmt: str) -> dict:
    return {
        f"{prefix}_exp": quote(fit.exponent, fmt),
        f"{prefix}_lo": quote(fit.low, fmt),
        f"{prefix}_hi": quote(fit.high, fmt),
    }


# --- the interference phase, in Gram space ----------------------------------------------------------


@dataclass(frozen=True)
class PhaseRun:
    """One simulated interference phase: ``G``, ``P`` (push ``int_0^t ReLU(G_ij)``), ``L`` (per-pair loss
    ``2 int_0^t ReLU(G_ij)^2``) and, if asked, ``M`` (transport ``W(t) = M(t) W(0)``), each ``(len(times), n, n)``."""

    n: int
    m: int
    times: np.ndarray
    G: np.ndarray
    P: np.ndarray
    L: np.ndarray
    M: np.ndarray | None

    @property
    def G0(self) -> np.ndarray:
        return self.G[0]

    @property
    def interfering(self) -> np.ndarray:
        """``(n, n)`` bool: ordered pairs ``i != j`` with ``G_ij(0) > 0``."""
        mask = self.G0 > 0
        np.fill_diagonal(mask, False)
        return mask

    @property
    def push(self) -> np.ndarray:
        return self.P[-1]

    @property
    def norm_drop(self) -> np.ndarray:
        """``||W_i(0)||^2 - ||W_i(end)||^2``, ``(n,)``."""
        return np.diag(self.G[0]) - np.diag(self.G[-1])

    def kappa(self, k: int = -1) -> np.ndarray:
        """``sqrt(m) kappa_ij`` at output time ``k`` for the ``n(n-1)/2`` pairs."""
        return offdiagonal(cosine_similarity(self.G[k])) * math.sqrt(self.m)

    @property
    def convergence(self) -> float:
        """How much the push still moved over the last quarter of the run, relative to its size."""
        k = int(0.75 * (len(self.times) - 1))
        return float(np.max(np.abs(self.P[-1] - self.P[k])) / max(np.max(np.abs(self.P[-1])), 1e-300))


@lru_cache(maxsize=1024)
def phase(
    n: int, m: int, seed: int, *, flow: str, t_end: float, rtol: float, count: int = 5, transport: bool = False
) -> PhaseRun:
    """The interference phase from ``G(0) = sample_gram(n, m, seed=seed)`` to ``t_end`` at ``count`` equally
    spaced output times (cached: runners that share draws share runs)."""
    G0 = sample_gram(n, m, seed=seed)
    times = np.linspace(0.0, v.positive("t_end", t_end), v.size("count", count))
    ph = simulate_gram_phase(G0, times, terms=flow_terms(flow), rtol=rtol, loss=True, transport=transport)
    return PhaseRun(n, m, times, ph.G, ph.P, ph.L, ph.M)


def seeds_for(n: int, *, pairs: int, base: int) -> tuple[int, ...]:
    """Seeds ``base, base + 1, ...``: enough draws that about ``pairs`` ordered pairs are pooled at size ``n``."""
    return tuple(base + k for k in range(max(1, pairs // (n * n))))


def push_slope(run: PhaseRun) -> float:
    """Least-squares slope (through 0) of ``P_ij`` on ``c_ij`` over the interfering ordered pairs."""
    c = gram_schmidt_coefficient(run.G0)[run.interfering]
    return float(np.sum(run.push[run.interfering] * c) / np.sum(c * c))


# --- T1, T2 for two encodings: exact -----------------------------------------------------------------


def equal_norm_pair(m: int, g: float, *, seed: int) -> np.ndarray:
    """Two unit encodings ``(2, m)`` with overlap exactly ``g``, in a random orientation."""
    v.size("m", m)
    rng = np.random.default_rng(v.seed(seed))
    Q, _ = np.linalg.qr(rng.normal(size=(m, 2)))
    return np.array([[1.0, 0.0], [g, math.sqrt(1 - g * g)]]) @ Q.T


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
    """T1, T2 for two encodings: the simulated push and norm loss of ``pairs`` random interfering pairs in
    ``R^m`` (interference alone to ``t_end``) against the exact formulas; the exact end point of unit pairs
    with the ``overlaps`` against the rescaled Loewdin orthogonalisation; the exact ratios to one
    Gram-Schmidt step over ``g_count`` overlaps from ``g_min`` to ``g_max`` (for the figure)."""
    m, pairs = v.size("m", m), v.size("pairs", pairs, 1)
    push_err = loss_err = lib_err = sum_err = 0.0
    times = np.linspace(0.0, v.positive("t_end", t_end), 3)
    for k in range(pairs):
        W0 = sample_weights(2, m, seed=seed + k)
        if W0[0] @ W0[1] < 0:
            W0[1] *= -1.0
        G0 = W0 @ W0.T
        ph = simulate_gram_phase(G0, times, terms=FLOWS["interference"], rtol=rtol, loss=True)
        push, loss = pair_push_total(G0), pair_norm_sq_loss(G0)
        push_err = max(push_err, abs(ph.P[-1, 0, 1] - push) / push)
        lib = simulate_gram_with_push(G0, times, terms=FLOWS["interference"], rtol=rtol)[1][-1, 0, 1]
        lib_err = max(lib_err, abs(lib - push) / push)
        drops = np.diag(G0) - np.diag(ph.G[-1])
        loss_err = max(loss_err, float(np.max(np.abs(drops - loss))) / loss)
        sum_err = max(sum_err, float(np.max(np.abs(ph.L[-1].sum(axis=1) - drops))) / loss)
    end_err = 0.0
    for k, g in enumerate(overlaps):
        W0 = equal_norm_pair(m, g, seed=seed + k)
        end = pair_interference(W0, [0.0, t_end])[-1]
        end_err = max(
            end_err,
            float(np.max(np.abs(end - (1 - g * g) ** 0.25 * lowdin(W0)))),
            float(np.max(np.abs(end - pair_limit_weights(W0)))),
        )
    gs = np.linspace(g_min, g_max, g_count)
    push_ratio, loss_ratio = unit_pair_ratios(gs)
    regime = f"n=2, m={m}, {pairs} random interfering pairs, interference alone to t={t_end:g}"
    shown = ", ".join(f"{g:g}" for g in overlaps)
    checks = [
        check_below(
            "T1",
            "two encodings: simulated push P = (1/2) artanh(2 g0/s0)",
            measured=push_err,
            bound=tolerance,
            regime=regime,
            quantity="rel. error",
            kind="identity",
        ),
        check_below(
            "T1",
            "incidental.simulate_gram_with_push gives the same P",
            measured=lib_err,
            bound=tolerance,
            regime=regime,
            quantity="rel. error",
            kind="identity",
        ),
        check_below(
            "T1",
            "end point = cosh/sinh formula = (1-g²)^¼ × Löwdin S^(-1/2) W(0)",
            measured=end_err,
            bound=end_tolerance,
            regime=f"n=2, m={m}, unit norms, g in {{{shown}}}",
            quantity="max |ΔW|",
            kind="identity",
        ),
        check_below(
            "T2",
            "two encodings: each loses (s0 - sqrt(s0² - 4 g0²))/2 of ||W||²",
            measured=loss_err,
            bound=tolerance,
            regime=regime,
            quantity="rel. error",
            kind="identity",
        ),
        check_below(
            "T2",
            "sum over j of the per-pair losses L_ij = drop of ||W_i||²",
            measured=sum_err,
            bound=tolerance,
            regime=regime,
            quantity="rel. error",
            kind="identity",
        ),
    ]
    numbers = {
        "push_err": quote(push_err, ".1e"),
        "loss_err": quote(loss_err, ".1e"),
        "lowdin_err": quote(end_err, ".0e"),
        "library_err": quote(lib_err, ".1e"),
        "push_small": quote(push_ratio[0], ".4f"),
        "loss_small": quote(loss_ratio[0], ".4f"),
        "push_big": quote(push_ratio[-1], ".2f"),
        "loss_big": quote(loss_ratio[-1], ".2f"),
    }
    return Result({}, checks, numbers, dict(g=gs, push_ratio=push_ratio, loss_ratio=loss_ratio))


def two_encodings_figure(r: Result) -> tuple[Figure, str]:
    """The exact ratios of the two-encoding push and norm loss to one Gram-Schmidt step, against ``g``."""
    d = r.data
    top = float(max(d["push_ratio"].max(), d["loss_ratio"].max()))
    axes = svgplot.Axes(
        [
            svgplot.Series(d["g"], d["push_ratio"], label="total push / Gram-Schmidt coefficient"),
            svgplot.Series(
                d["g"], d["loss_ratio"], label=r"loss of $\|W_i\|^2$ / Gram-Schmidt loss", color=svgplot.PALETTE[1]
            ),
        ],
        xlabel="overlap $g$ of two unit encodings",
        ylabel="ratio to one Gram-Schmidt step",
        hlines=[(0.5, "1/2"), (1.0, "one Gram-Schmidt step")],
        ylim=(0.4, max(1.05, top + 0.05)),
    )
    caption = (
        f"Two unit encodings with overlap $g$ from {r.q.g_min} to {r.q.g_max}, exact solution of "
        f"interference alone: the total push divided by the Gram-Schmidt coefficient $g$, and the loss of "
        f"squared norm divided by the Gram-Schmidt loss $g^2$. At $g$ = {r.q.g_min} they are "
        f"{r.q.push_small} and {r.q.loss_small}, and both tend to 1/2 as $g \\to 0$, the regime of "
        f"initialisation ($g \\approx 1/\\sqrt m$); at $g$ = {r.q.g_max} they reach {r.q.push_big} and "
        f"{r.q.loss_big}"
    )
    if d["push_ratio"].max() < 1:
        caption += ", still below one Gram-Schmidt step (dotted line at 1)."
    else:
        caption += "; at the largest overlaps the push exceeds one Gram-Schmidt step (dotted line at 1)."
    return render(axes, width=5.6, height=3.0), caption


# --- many encodings: the push pair by pair --------------------------------------------------------------


def scatter_axes(
    c: np.ndarray,
    P: np.ndarray,
    *,
    title: str = "",
    mark: tuple[float, float, str] | None = None,
    xlim: tuple[float, float] | None = None,
) -> svgplot.Axes:
    """``sqrt(m) P_ij`` against ``sqrt(m) c_ij`` (points), with Gram-Schmidt's ``P = c`` and the pair
    prediction ``P = c/2``; ``mark`` = ``(c, P, label)`` highlights one pair. Shared by figure and widget."""
    top = float(max(np.max(c), 1e-9)) if xlim is None else xlim[1]
    line = np.array([0.0, top])
    series = [
        svgplot.Series(c, P, label="interfering pairs", kind="points", color=GREY),
        svgplot.Series(line, line, label="Gram-Schmidt: $P = c$", color=svgplot.PALETTE[1], dashed=True),
        svgplot.Series(line, line / 2, label="half a step: $P = c/2$", color=svgplot.PALETTE[2]),
    ]
    if mark is not None:
        series.append(svgplot.Series([mark[0]], [mark[1]], label=mark[2], kind="points", color="#000"))
    return svgplot.Axes(
        series,
        xlabel=r"$\sqrt{m}\,c_{ij}$ (Gram-Schmidt coefficient)",
        ylabel=r"$\sqrt{m}\,P_{ij}$ (total push)",
        title=title,
        xlim=xlim,
        ylim=None if xlim is None else (0.0, xlim[1]),
    )


@runner
def push_scatter(*, n: int, ms: tuple[int, ...], seed: int, t_end: float, rtol: float) -> Result:
    """One draw of ``n`` encodings at each ``m`` of ``ms``, interference alone to ``t_end``: ``(sqrt(m) c_ij,
    sqrt(m) P_ij)`` over the interfering pairs, the slope of ``P`` on ``c`` and its prediction."""
    n = v.size("n", n)
    if len(ms) < 2:
        raise ValueError(f"ms must hold at least 2 sizes, got {len(ms)}")
    points, slopes, preds, spreads = [], [], [], []
    for m in ms:
        v.sizes(n, m)
        run = phase(n, m, seed, flow="interference", t_end=t_end, rtol=rtol)
        mask = run.interfering
        c, P = gram_schmidt_coefficient(run.G0)[mask], run.push[mask]
        points.append((c * math.sqrt(m), P * math.sqrt(m)))
        slopes.append(push_slope(run))
        preds.append(push_slope_prediction(n, m))
        spreads.append(float(np.sqrt(np.mean((P - c / 2) ** 2)) / np.mean(P)))
    numbers = {
        "m_first": quote(ms[0], "d"),
        "m_last": quote(ms[-1], "d"),
        "slope_first": quote(slopes[0], ".3f"),
        "slope_last": quote(slopes[-1], ".3f"),
        "pred_first": quote(preds[0], ".3f"),
        "pred_last": quote(preds[-1], ".3f"),
        "spread_first": quote(100 * spreads[0], ".1f"),
        "spread_last": quote(100 * spreads[-1], ".1f"),
    }
    return Result({}, [], numbers, dict(points=points, slopes=slopes))


def push_scatter_figure(r: Result) -> tuple[Figure, str]:
    """One scatter panel per ``m``; caption from ``r``."""
    n, ms = r.params["n"], r.params["ms"]
    top = max(float(np.max(c)) for c, _ in r.data["points"])
    panels = [
        scatter_axes(c, P, title=f"n = {n}, m = {m}", xlim=(0.0, 1.05 * top)) for m, (c, P) in zip(ms, r.data["points"])
    ]
    caption = (
        f"Total push against the Gram-Schmidt coefficient, both times $\\sqrt m$, for every interfering "
        f"pair of one draw of $n = {n}$ encodings (seed {r.params['seed']}) at $m$ = {r.q.m_first} (left) and "
        f"{r.q.m_last} (right); interference alone to $t$ = {r.q.t_end}. The points follow $P = c/2$ "
        f"(green), not Gram-Schmidt's $P = c$ (red): fitted slopes {r.q.slope_first} and {r.q.slope_last}, "
        f"against {r.q.pred_first} and {r.q.pred_last} predicted with the third-encoding term of "
        f"the next section. The RMS distance from $P = c/2$ is {r.q.spread_first}% of the mean push at "
        f"$m$ = {r.q.m_first} and {r.q.spread_last}% at $m$ = {r.q.m_last}."
    )
    return render(panels, width=8.0, height=3.4), caption


# --- third encodings, and the pooled statistics of many draws ----------------------------------------------


@dataclass(frozen=True)
class PairStats:
    """Pooled statistics of one ``(n, m)`` over several draws (interfering ordered pairs)."""

    mean_push: float  # E[P_ij]
    slope: float  # least-squares slope of P on c (through 0)
    shift: float  # E[P_ij - two-encoding prediction]
    spread: float  # RMS of (P_ij - two-encoding prediction - shift)
    mean_loss: float  # E[L_ij]
    mean_gs_loss: float  # E[G_ij^2 / G_jj]
    mean_drop: float  # E_i[||W_i(0)||^2 - ||W_i(end)||^2]
    pair_drop: float  # E_i[sum_j two-encoding loss]: the drop if pairs did not interact
    convergence: float  # largest relative move of P over the last quarter of the run


def pair_stats(n: int, m: int, seeds: tuple[int, ...], *, flow: str, t_end: float, rtol: float) -> PairStats:
    """Pool the phases of ``sample_gram(n, m, seed)`` over ``seeds``."""
    P, c, d, L, gsl, drop, pdrop, conv = [], [], [], [], [], [], [], 0.0
    for s in seeds:
        run = phase(n, m, s, flow=flow, t_end=t_end, rtol=rtol)
        mask = run.interfering
        P.append(run.push[mask])
        c.append(gram_schmidt_coefficient(run.G0)[mask])
        d.append((run.push - pair_push_prediction(run.G0))[mask])
        L.append(run.L[-1][mask])
        gsl.append(gram_schmidt_norm_loss(run.G0)[mask])
        drop.append(run.norm_drop)
        pdrop.append(pair_loss_prediction(run.G0).sum(axis=1))
        conv = max(conv, run.convergence)
    P, c, d, L, gsl = (np.concatenate(x) for x in (P, c, d, L, gsl))
    return PairStats(
        float(P.mean()),
        float(P @ c / (c @ c)),
        float(d.mean()),
        float(np.sqrt(np.mean((d - d.mean()) ** 2))),
        float(L.mean()),
        float(gsl.mean()),
        float(np.mean(drop)),
        float(np.mean(pdrop)),
        conv,
    )


def _columns(rows: list[PairStats]) -> dict[str, np.ndarray]:
    return {name: np.array([getattr(r, name) for r in rows]) for name in PairStats.__dataclass_fields__}


@runner
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
    rows = [
        pair_stats(n, m, seeds_for(n, pairs=pairs, base=seed + 1000 * k), flow="interference", t_end=t_end, rtol=rtol)
        for k, n in enumerate(ns)
    ]
    col = _columns(rows)
    n_arr = np.asarray(ns, dtype=float)
    regime = f"m={m}, n={ns[0]}..{ns[-1]}, about {pairs} ordered pairs per n, interference alone to t={t_end:g}"
    c_shift, f_shift = check_exponent(
        "T1",
        "mean extra push from third encodings grows like (n-2)^1",
        sizes=n_arr - 2,
        values=col["shift"],
        predicted=1.0,
        regime=regime,
    )
    c_spread, f_spread = check_exponent(
        "T1",
        "spread of the push around the pair prediction grows like (n-2)^(1/2)",
        sizes=n_arr - 2,
        values=col["spread"],
        predicted=0.5,
        regime=regime,
    )
    c_drop, f_drop = check_exponent(
        "T3",
        "total drop of ||W_i||² grows like (n-1)^1 at fixed m",
        sizes=n_arr - 1,
        values=col["mean_drop"],
        predicted=1.0,
        regime=regime,
    )
    shift_units = col["shift"] * m / (n_arr - 2)
    spread_units = col["spread"] * m / np.sqrt(n_arr - 2)
    lift = np.array([loss_lift(n, m) for n in ns])
    drop_ratio = float(np.mean(col["mean_drop"] / col["pair_drop"] / lift))
    checks = [
        c_shift,
        check_close(
            "T1",
            "constant: mean extra push × m/(n-2) = 1/(8π)",
            predicted=1 / (8 * math.pi),
            measured=float(np.mean(shift_units)),
            rtol=shift_rtol,
            regime=regime + ", mean over n",
            kind="approximation",
        ),
        c_spread,
        c_drop,
        check_close(
            "T3",
            "drop / sum of two-encoding losses on the same draws = lift 1 + (n-2)/(3π sqrt(2πm))",
            predicted=1.0,
            measured=drop_ratio,
            rtol=drop_rtol,
            regime=regime + ", mean over n",
            kind="approximation",
        ),
    ]
    spread_const = float(np.mean(spread_units))
    numbers = {
        **_fit_numbers("shift", f_shift, ".2f"),
        **_fit_numbers("spread", f_spread, ".2f"),
        **_fit_numbers("drop_n", f_drop, ".2f"),
        "shift_const": quote(float(np.mean(shift_units)), ".4f"),
        "shift_pred": quote(1 / (8 * math.pi), ".4f"),
        "spread_const": quote(spread_const, ".2f"),
        "spread_rel": quote(spread_const * math.sqrt(2 * math.pi), ".2f"),
        "drop_ratio": quote(float(np.mean(col["mean_drop"] / col["pair_drop"])), ".4f"),
        "n_min": quote(ns[0], "d"),
        "n_max": quote(ns[-1], "d"),
    }
    return Result({}, checks, numbers, dict(n=n_arr, shift_units=shift_units, spread_units=spread_units))


def third_axes(
    x: np.ndarray, shift_units: np.ndarray, spread_units: np.ndarray, *, xlabel: str, xlog: bool
) -> svgplot.Axes:
    """The extra push in units of ``(n-2)/m`` and its spread in units of ``sqrt(n-2)/m``, against ``x``."""
    top = float(max(np.max(shift_units), np.max(spread_units), 1 / (8 * math.pi)))
    return svgplot.Axes(
        [
            svgplot.Series(x, shift_units, label=r"mean extra push $\times\, m/(n-2)$", kind="points"),
            svgplot.Series(x, shift_units, color=svgplot.PALETTE[0]),
            svgplot.Series(
                x, spread_units, label=r"spread $\times\, m/\sqrt{n-2}$", kind="points", color=svgplot.PALETTE[1]
            ),
            svgplot.Series(x, spread_units, color=svgplot.PALETTE[1]),
        ],
        xlabel=xlabel,
        ylabel="extra push, rescaled",
        xlog=xlog,
        hlines=[(1 / (8 * math.pi), r"derived $1/(8\pi)$")],
        ylim=(0.0, 1.4 * top),
    )


def third_encodings_figure(r: Result) -> tuple[Figure, str]:
    """The third encodings' extra push and its spread, rescaled, against ``n``; caption from ``r``."""
    d = r.data
    axes = third_axes(d["n"], d["shift_units"], d["spread_units"], xlabel="features $n$", xlog=False)
    caption = (
        f"The extra push from third encodings, in units of $(n-2)/m$, against $n$ from {r.q.n_min} to "
        f"{r.q.n_max} at $m = {r.params['m']}$ (interference alone, about {r.params['pairs']} ordered pairs "
        f"per $n$): flat at the derived $1/(8\\pi)$ (dotted), measured {r.q.shift_const} on average. The "
        f"spread of the push around the pair prediction, in units of $\\sqrt{{n-2}}/m$, is flat too, at "
        f"{r.q.spread_const}: the scatter of the previous figure is a $\\Theta(\\sqrt n/m)$ effect."
    )
    return render(axes, width=5.6, height=3.0), caption


# --- T1, T2 (and T3) over m: Theta claims and constants ----------------------------------------------------


@runner
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
    n, draws = v.size("n", n), v.size("draws", draws, 1)
    rows = [
        pair_stats(n, m, tuple(seed + draws * k + r for r in range(draws)), flow="interference", t_end=t_end, rtol=rtol)
        for k, m in enumerate(ms)
    ]
    col = _columns(rows)
    slope_full = np.array(
        [push_slope(phase(n, m, seed + draws * k, flow="full", t_end=t_end, rtol=rtol)) for k, m in enumerate(ms)]
    )
    slope_one = np.array(
        [
            push_slope(phase(n, m, seed + draws * k, flow="interference", t_end=t_end, rtol=rtol))
            for k, m in enumerate(ms)
        ]
    )
    m_arr = np.asarray(ms, dtype=float)
    big = m_arr >= m_large
    if big.sum() < 1:
        raise ValueError(f"m_large must not exceed the largest m, got m_large={m_large}, ms up to {ms[-1]}")
    regime = f"n={n}, m={ms[0]}..{ms[-1]} ({len(ms)} sizes), {draws} draws each, interference alone to t={t_end:g}"
    big_regime = f"n={n}, m={m_large}..{ms[-1]}, mean over sizes"
    # The third encodings add a relative (n-2)/sqrt(m) term to each mean (theory.expected_push), which steepens
    # the fitted slopes a little over the grid: the exponent checks allow exponent_tolerance for it.
    c_push, f_push = check_exponent(
        "T1",
        "total push P_ij = Theta(1/sqrt(m)) (mean over interfering pairs)",
        sizes=m_arr,
        values=col["mean_push"],
        predicted=-0.5,
        regime=regime,
        tolerance=exponent_tolerance,
    )
    c_loss, f_loss = check_exponent(
        "T2",
        "per-pair norm loss L_ij = Theta(1/m) (mean over interfering pairs)",
        sizes=m_arr,
        values=col["mean_loss"],
        predicted=-1.0,
        regime=regime,
        tolerance=exponent_tolerance,
    )
    c_drop, f_drop = check_exponent(
        "T3",
        "total drop of ||W_i||² = Theta(1/m) at fixed n",
        sizes=m_arr,
        values=col["mean_drop"],
        predicted=-1.0,
        regime=regime,
        tolerance=exponent_tolerance,
    )

    def ratio(values: np.ndarray, fn) -> float:
        return float(np.mean((values / np.array([fn(n, int(m)) for m in ms]))[big]))

    slope_pred = np.array([push_slope_prediction(n, int(m)) for m in ms])
    slope_dev = float(np.max(np.abs(col["slope"] / slope_pred - 1)[big]))
    full_dev = float(np.max(np.abs(slope_full / slope_one - 1)))
    loss_ratio = float(np.mean((col["mean_loss"] / col["mean_gs_loss"])[big]))
    checks = [
        check_below(
            "T1",
            f"the push has converged by t = {t_end:g}",
            measured=float(col["convergence"].max()),
            bound=convergence_bound,
            regime=regime,
            quantity="rel. change, last quarter",
            kind="value",
        ),
        c_push,
        check_close(
            "T1",
            "constant: E[P | G>0] / (1/sqrt(2πm) + (n-2)/(8πm))",
            predicted=1.0,
            measured=ratio(col["mean_push"], expected_push),
            rtol=constant_rtol,
            regime=big_regime,
            kind="approximation",
        ),
        check_below(
            "T1",
            "the total push on W_i from W_j is -P_ij W_j with P_ij ≈ c_ij/2: half a Gram-Schmidt step "
            "(both encodings move: a symmetric, Löwdin-type orthogonalisation); slope of P on c = "
            "1/2 + sqrt(2/π)(n-2)/(8π sqrt(m))",
            measured=slope_dev,
            bound=slope_tolerance,
            regime=big_regime.replace(", mean over sizes", ""),
            quantity="max rel. error",
            kind="approximation",
            refutes="the total push on W_i is -Θ(1/√m) W_j, like one Gram-Schmidt step "
            "W_i ← W_i - (W_i·W_j/||W_j||²) W_j (slope 1)",
        ),
        check_below(
            "T1",
            "the full flow (feature benefit + interference) gives the same slope of P on c",
            measured=full_dev,
            bound=full_tolerance,
            regime=regime.replace(f"{draws} draws each", "1 draw each").replace(
                "interference alone", "full flow vs interference alone"
            ),
            quantity="max rel. diff.",
            kind="approximation",
        ),
        c_loss,
        check_close(
            "T2",
            "constant: E[L | G>0] / ((1/2m)(1 + (n-2)/(3π sqrt(2πm))))",
            predicted=1.0,
            measured=ratio(col["mean_loss"], expected_pair_loss),
            rtol=constant_rtol,
            regime=big_regime,
            kind="approximation",
        ),
        check_close(
            "T2",
            "per-pair loss / Gram-Schmidt loss G_ij²/G_jj = 1/2 (half a step's cost)",
            predicted=0.5,
            measured=loss_ratio,
            rtol=ratio_rtol,
            regime=big_regime,
            kind="approximation",
        ),
        c_drop,
        check_close(
            "T3",
            "constant: E[drop] / ((n-1)/(4m) (1 + (n-2)/(3π sqrt(2πm))))",
            predicted=1.0,
            measured=ratio(col["mean_drop"], expected_norm_drop),
            rtol=constant_rtol,
            regime=big_regime,
            kind="approximation",
        ),
    ]
    numbers = {
        **_fit_numbers("push", f_push, ".3f"),
        **_fit_numbers("loss", f_loss, ".3f"),
        **_fit_numbers("drop_m", f_drop, ".3f"),
        "push_const": quote(float(col["mean_push"][-1] * math.sqrt(ms[-1])), ".3f"),
        "push_const_pred": quote(1 / math.sqrt(2 * math.pi), ".3f"),
        "slope_big": quote(float(col["slope"][-1]), ".4f"),
        "slope_small": quote(float(col["slope"][0]), ".3f"),
        "third_small": quote((n - 2) / math.sqrt(ms[0]), ".2f"),
        "loss_ratio": quote(loss_ratio, ".3f"),
        "slope_full_dev": quote(full_dev, ".1e"),
        "drop_const": quote(float(np.mean((col["mean_drop"] * m_arr / (n - 1))[big])), ".3f"),
        "m_min": quote(ms[0], "d"),
        "m_max": quote(ms[-1], ".2e"),
        "m_large": quote(m_large, "d"),
        "decades": quote(math.log10(ms[-1] / ms[0]), ".1f"),
    }
    data = dict(
        m=m_arr,
        fits=(f_push, f_loss, f_drop),
        mean_push=col["mean_push"],
        mean_loss=col["mean_loss"],
        mean_drop=col["mean_drop"],
        shift_units=col["shift"] * m_arr / (n - 2),
        spread_units=col["spread"] * m_arr / math.sqrt(n - 2),
    )
    return Result({}, checks, numbers, data)


def m_scaling_figure(r: Result) -> tuple[Figure, str]:
    """Left: mean push, per-pair loss and norm drop against ``m`` with fits and predictions; right: the third
    encodings' extra push and spread, rescaled, against ``m``. Caption from ``r``."""
    d, n = r.data, r.params["n"]
    f_push, f_loss, f_drop = d["fits"]
    ms = [int(m) for m in d["m"]]
    series = [
        *figures.power_law(
            d["m"],
            d["mean_push"],
            label=r"mean push $P_{ij}$",
            fit=f_push,
            predicted=figures.through(ms, [expected_push(n, m) for m in ms]),
        ),
        *figures.power_law(
            d["m"],
            d["mean_loss"],
            label=r"mean per-pair loss $L_{ij}$",
            fit=f_loss,
            predicted=figures.through(ms, [expected_pair_loss(n, m) for m in ms]),
            color=svgplot.PALETTE[1],
        ),
        *figures.power_law(
            d["m"],
            d["mean_drop"],
            label=r"mean drop of $\|W_i\|^2$",
            fit=f_drop,
            predicted=figures.through(ms, [expected_norm_drop(n, m) for m in ms]),
            color=svgplot.PALETTE[2],
        ),
    ]
    for k, s in enumerate(series):  # one legend entry per measured quantity, one for the predictions
        if s.dashed or (s.color == "#000" and k > 2):
            s.label = ""
        elif s.color == "#000":
            s.label = "predicted"
    left = figures.power_law_axes(series, xlabel="neurons $m$", ylabel="mean over interfering pairs / encodings")
    right = third_axes(d["m"], d["shift_units"], d["spread_units"], xlabel="neurons $m$", xlog=True)
    caption = (
        f"Left: the mean total push (fitted exponent {r.q.push_exp}), the mean per-pair loss of squared norm "
        f"({r.q.loss_exp}) and the mean total drop of $\\|W_i\\|^2$ ({r.q.drop_m_exp}) against $m$ from "
        f"{r.q.m_min} to {r.q.m_max} ({r.q.decades} decades) at $n = {n}$, {r.params['draws']} draws per "
        f"size, interference alone: the orders $m^{{-1/2}}$, $m^{{-1}}$ and $m^{{-1}}$ of T1, T2 and T3, on "
        f"the predicted curves (black; the fitted power laws, dashed, lie under them). Right: the third "
        f"encodings' extra push in units of $(n-2)/m$ and its "
        f"spread in units of $\\sqrt{{n-2}}/m$ against $m$: both flat, the first at the derived $1/(8\\pi)$."
    )
    return render([left, right], width=10.0, height=3.6), caption


# --- T3: how far each encoding moves ---------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _transport(n: int, m: int, seed: int, t_end: float, rtol: float) -> tuple[float, float]:
    """Mean over ``i`` of the squared relative displacement, and the squared error of the total-push picture
    ``M - I ~ -P`` in ``W`` norm relative to the squared displacement (interference alone to ``t_end``)."""
    G0 = sample_gram(n, m, seed=seed)
    ph = simulate_gram_phase(G0, [0.0, t_end], terms=FLOWS["interference"], rtol=rtol, transport=True)
    D = ph.M[-1] - np.eye(n)
    E = D + ph.P[-1]
    moved = float(np.trace(D @ G0 @ D.T))
    return float(np.mean(displacement_from_transport(G0, ph.M[-1]) ** 2)), float(np.trace(E @ G0 @ E.T)) / moved


@runner
def displacement(
    *,
    ns: tuple[int, ...],
    m_fixed: int,
    ms: tuple[int, ...],
    n_fixed: int,
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
    """T3: how far each encoding moves over the interference phase (interference alone to ``t_end``), from the
    transport ``W(t) = M(t) W(0)`` of the Gram flow: exponent fits in ``n - 1`` at ``m_fixed`` and in ``m`` at
    ``n_fixed``, the constant against :func:`incidental.theory.expected_displacement`, and the error of the
    total-push picture ``W(end) - W(0) ~ -P W(0)``; the transport is checked against a weight-space run at
    ``weight_n``, ``weight_m``."""

    def rms(n: int, m: int, seeds: tuple[int, ...]) -> tuple[float, float]:
        runs = [_transport(n, m, s, t_end, rtol) for s in seeds]
        return math.sqrt(np.mean([a for a, _ in runs])), math.sqrt(np.mean([b for _, b in runs]))

    by_n = np.array([rms(n, m_fixed, seeds_for(n, pairs=pairs, base=seed + 1000 * k))[0] for k, n in enumerate(ns)])
    on_m = [rms(n_fixed, m, seeds_for(n_fixed, pairs=pairs, base=seed + 100 * k)) for k, m in enumerate(ms)]
    by_m, picture = np.array([a for a, _ in on_m]), np.array([b for _, b in on_m])
    n_arr, m_arr = np.asarray(ns, float), np.asarray(ms, float)
    # weight space: the transport against the flow of the weights themselves
    W0 = sample_weights(weight_n, weight_m, seed=seed)
    W = simulate(W0, [0.0, t_end], terms=FLOWS["interference"], rtol=weight_rtol)[-1]
    ph = simulate_gram_phase(W0 @ W0.T, [0.0, t_end], terms=FLOWS["interference"], rtol=weight_rtol, transport=True)
    moved = W - W0
    weight_err = float(np.max(np.abs(W - ph.M[-1] @ W0)))
    weight_disp = float(np.sqrt(np.mean((np.linalg.norm(moved, axis=1) / np.linalg.norm(W0, axis=1)) ** 2)))
    weight_picture = float(np.linalg.norm(moved + ph.P[-1] @ W0) / np.linalg.norm(moved))
    regime_n = f"m={m_fixed}, n={ns[0]}..{ns[-1]}, interference alone to t={t_end:g}"
    regime_m = f"n={n_fixed}, m={ms[0]}..{ms[-1]}, interference alone to t={t_end:g}"
    c_n, f_n = check_exponent(
        "T3",
        "|W_i(end) - W_i(0)|/|W_i(0)| grows like (n-1)^(1/2)",
        sizes=n_arr - 1,
        values=by_n,
        predicted=0.5,
        regime=regime_n,
    )
    c_m, f_m = check_exponent(
        "T3",
        "|W_i(end) - W_i(0)|/|W_i(0)| falls like m^(-1/2)",
        sizes=m_arr,
        values=by_m,
        predicted=-0.5,
        regime=regime_m,
        tolerance=exponent_tolerance,
    )
    c_pic, f_pic = check_exponent(
        "T1",
        "relative error of the picture W(end) - W(0) ≈ -P W(0) falls like m^(-1/2)",
        sizes=m_arr,
        values=picture,
        predicted=-0.5,
        regime=regime_m,
        tolerance=exponent_tolerance,
    )
    f_abs = fit_exponent(m_arr, picture * by_m)
    pred = np.array([expected_displacement(n, m_fixed) for n in ns] + [expected_displacement(n_fixed, m) for m in ms])
    const = float(np.mean(np.concatenate([by_n, by_m]) / pred))
    wregime = f"n={weight_n}, m={weight_m}, weight space, interference alone to t={t_end:g}"
    checks = [
        check_below(
            "T3",
            "weight-space flow = transport M(t) W(0) of the Gram flow",
            measured=weight_err,
            bound=weight_bound,
            regime=wregime,
            quantity="max |ΔW|",
            kind="identity",
        ),
        c_n,
        c_m,
        check_close(
            "T3",
            "constant: displacement / sqrt((n-1)/(8m) (1 + (n-2)/(π sqrt(2πm))))",
            predicted=1.0,
            measured=const,
            rtol=constant_rtol,
            regime="all sizes above, mean",
            kind="approximation",
        ),
        check_below(
            "T1",
            "W(end) - W(0) ≈ -P W(0) (weight space)",
            measured=weight_picture,
            bound=picture_bound,
            regime=wregime,
            quantity="rel. error",
        ),
        c_pic,
    ]
    numbers = {
        **_fit_numbers("disp_n", f_n, ".3f"),
        **_fit_numbers("disp_m", f_m, ".3f"),
        **_fit_numbers("picture", f_pic, ".3f"),
        "picture_abs_exp": quote(f_abs.exponent, ".2f"),
        "disp_const": quote(const, ".3f"),
        "disp_max": quote(float(by_n[-1]), ".3f"),
        "n_max": quote(ns[-1], "d"),
        "n_min": quote(ns[0], "d"),
        "m_min": quote(ms[0], "d"),
        "m_max": quote(ms[-1], "d"),
        "disp_weight": quote(weight_disp, ".3f"),
        "picture_weight": quote(weight_picture, ".3f"),
        "weight_err": quote(weight_err, ".1e"),
    }
    data = dict(n=n_arr, m=m_arr, by_n=by_n, by_m=by_m, picture_abs=picture * by_m, fits=(f_n, f_m, f_abs))
    return Result({}, checks, numbers, data)


def displacement_figure(r: Result) -> tuple[Figure, str]:
    """The relative displacement against ``n`` and ``m`` with the prediction, and what the total-push picture
    misses; caption from ``r``."""
    d, p = r.data, r.params
    f_n, f_m, f_abs = d["fits"]
    ns, ms = [int(n) for n in d["n"]], [int(m) for m in d["m"]]
    left = figures.power_law_axes(
        figures.power_law(
            d["n"] - 1,
            d["by_n"],
            label="displacement",
            fit=f_n,
            predicted=figures.through(d["n"] - 1, [expected_displacement(n, p["m_fixed"]) for n in ns]),
        ),
        xlabel=f"other encodings $n - 1$ ($m = {p['m_fixed']}$)",
        ylabel=r"RMS $\|W_i(\mathrm{end}) - W_i(0)\| / \|W_i(0)\|$",
    )
    right = figures.power_law_axes(
        [
            *figures.power_law(
                d["m"],
                d["by_m"],
                label="displacement",
                fit=f_m,
                predicted=figures.through(ms, [expected_displacement(p["n_fixed"], m) for m in ms]),
            ),
            *figures.power_law(
                d["m"], d["picture_abs"], label=r"missed by $-P\,W(0)$", fit=f_abs, color=svgplot.PALETTE[4]
            ),
        ],
        xlabel=f"neurons $m$ ($n = {p['n_fixed']}$)",
        ylabel=r"RMS, relative to $\|W_i(0)\|$",
    )
    caption = (
        f"How far an encoding moves over the interference phase (interference alone), relative to its "
        f"length, RMS over encodings and draws: against the number $n - 1$ of other encodings, $n$ "
        f"from {r.q.n_min} to {r.q.n_max}, at $m = {p['m_fixed']}$ (left, fitted exponent {r.q.disp_n_exp}) "
        f"and against $m$ from "
        f"{r.q.m_min} to {r.q.m_max} at $n = {p['n_fixed']}$ (right, {r.q.disp_m_exp}), with the predicted "
        f"$\\sqrt{{(n-1)/(8m)}}$ law and its third-encoding correction (black). Orange, right: what the "
        f"total-push picture misses, "
        f"$\\|W(\\mathrm{{end}}) - W(0) + P\\,W(0)\\|/\\|W(0)\\|$; it falls like $m^{{-1}}$ (fitted "
        f"{r.q.picture_abs_exp}), so relative to the displacement itself it falls like $m^{{-1/2}}$ "
        f"(fitted {r.q.picture_exp})."
    )
    return render([left, right], width=10.0, height=3.6), caption


# --- T4: what the encodings look like after the phase -------------------------------------------------------


def rotation_error(n: int, m: int, *, seed: int, t_end: float, flow: str) -> float:
    """Largest ``|flow(W0 Q) - flow(W0) Q|`` for a random orthogonal ``Q`` ``(m, m)``, weight space, to ``t_end``."""
    W0 = sample_weights(n, m, seed=seed)
    Q = stats.ortho_group.rvs(m, random_state=np.random.default_rng(seed + 1))
    a = simulate(W0 @ Q, [0.0, t_end], terms=flow_terms(flow), rtol=1e-12)[-1]
    b = simulate(W0, [0.0, t_end], terms=flow_terms(flow), rtol=1e-12)[-1] @ Q
    return float(np.max(np.abs(a - b)))


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
    """T4 (a): the flow commutes with rotations (both flows, weight space); the squared first coordinate of each
    ``W_i(end)/|W_i(end)|`` (interference alone to ``t_end``, pooled over ``seeds``) against its exact law for a
    uniform unit vector in ``R^m``, ``Beta(1/2, (m-1)/2)`` (Kolmogorov-Smirnov)."""
    n, m = v.sizes(n, m)
    x2 = []
    for s in seeds:
        W = simulate(sample_weights(n, m, seed=s), [0.0, t_end], terms=FLOWS["interference"], rtol=rtol)[-1]
        x2.append(W[:, 0] ** 2 / np.sum(W**2, axis=1))
    p = float(stats.kstest(np.concatenate(x2), stats.beta(0.5, (m - 1) / 2).cdf).pvalue)
    rot = max(rotation_error(rotation_n, rotation_m, seed=seeds[0], t_end=rotation_t, flow=f) for f in FLOWS)
    checks = [
        check_below(
            "T4",
            "the flow commutes with rotations: flow(W Q) = flow(W) Q (both flows)",
            measured=rot,
            bound=rotation_tolerance,
            regime=f"n={rotation_n}, m={rotation_m}, t={rotation_t:g}, random Q",
            quantity="max |Δ|",
            kind="identity",
        ),
        check_p_value(
            "T4",
            "each W_i/|W_i| is uniform: x_1² ~ Beta(1/2, (m-1)/2) (KS test)",
            p=p,
            level=p_level,
            regime=f"n={n}, m={m}, {len(seeds)} draws, interference alone to t={t_end:g}",
        ),
    ]
    numbers = {"p": quote(p, ".2f"), "rotation": quote(rot, ".0e"), "draws": quote(len(seeds), "d")}
    return Result({}, checks, numbers)


def end_statistics(x: np.ndarray, x0: np.ndarray, n: int, m: int, *, zero: float) -> dict[str, float]:
    """Statistics of ``x = sqrt(m) kappa_ij`` at the end of the phase (``x0`` at its start), for one draw.

    ``positive`` (fraction ``x > zero``), ``at_zero`` (``|x| <= zero``), ``mean`` and its standard error ``se``
    (over pairs), ``lift`` (mean ``x - x0`` over the pairs with ``x0 < -1``, which stay negative),
    ``neg_p`` (KS p-value of ``-x`` over ``x < -zero`` against the push picture's lifted half-normal).
    """
    neg = -x[x < -zero]
    sel = x0 < -1.0
    return {
        "positive": float(np.mean(x > zero)),
        "at_zero": float(np.mean(np.abs(x) <= zero)),
        "mean": float(np.mean(x)),
        "se": float(np.std(x) / math.sqrt(x.size)),
        "lift": float(np.mean((x - x0)[sel])) if sel.any() else float("nan"),
        "neg_p": float(stats.kstest(neg, lambda y: 1 - end_negative_survival(y, n, m)).pvalue) if neg.size else 0.0,
    }


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
    uniform unit vectors, and against the push picture (:func:`incidental.theory.end_cdf`). One draw of
    ``G(0)`` per ``m`` of ``ms``, run to ``t_end`` under interference alone and under the full flow."""
    n = v.size("n", n)
    rows, samples, ks0, norm_full, norm_spread, flow_diff = [], [], [], [], [], []
    for k, m in enumerate(ms):
        v.sizes(n, m)
        run = phase(n, m, seed + k, flow="interference", t_end=t_end, rtol=rtol)
        full = phase(n, m, seed + k, flow="full", t_end=t_end, rtol=rtol)
        x, x0 = run.kappa(), run.kappa(0)
        samples.append(x)
        rows.append(end_statistics(x, x0, n, m, zero=zero))
        ks0.append(float(stats.kstest(x0, "norm").pvalue))
        norm_full.append(float(np.max(np.abs(np.diag(full.G[-1]) - 1))))
        norm_spread.append(float(np.sqrt(np.mean((np.diag(run.G[-1]) - 1) ** 2)) / math.sqrt(2 / m)))
        flow_diff.append(float(np.max(np.abs(full.kappa() - x))))
    col = {key: np.array([r[key] for r in rows]) for key in rows[0]}
    atoms = np.array([atom_prediction(n, m) for m in ms])
    means = np.array([end_mean_prediction(n, m) for m in ms])
    lifts = np.array([negative_lift(n, m) for m in ms])
    pairs = n * (n - 1) // 2
    atom_se = math.sqrt(0.25 / pairs)
    regime = f"n={n}, m={ms[0]}..{ms[-1]} (one draw each), interference alone to t={t_end:g}"
    full_regime = regime.replace("interference alone", "full flow (feature benefit + interference)")
    checks = [
        check_p_value(
            "T4",
            "control: at t = 0, √m κ is N(0,1) (KS test, smallest p over m)",
            p=float(np.min(ks0)),
            level=p_level,
            regime=regime.replace(f", interference alone to t={t_end:g}", ", t=0"),
        ),
        check_below(
            "T4",
            "full flow: every ||W_i||² = 1 at the end (unit vectors)",
            measured=float(np.max(norm_full)),
            bound=norm_bound,
            regime=full_regime,
            quantity="max |‖W_i‖²-1|",
            kind="value",
        ),
        check_close(
            "T4",
            "interference alone: the norms keep their initial spread, RMS of ||W_i||² - 1 = sqrt(2/m) "
            "(not unit vectors); ratio, mean over m",
            predicted=1.0,
            measured=float(np.mean(norm_spread)),
            rtol=spread_rtol,
            regime=regime,
            kind="value",
        ),
        check_below(
            "T4",
            "the full flow ends at the same overlaps as interference alone",
            measured=float(np.max(flow_diff)),
            bound=flow_bound,
            regime=full_regime,
            quantity="max |Δ√m κ|",
            kind="approximation",
        ),
        check_below(
            "T4",
            "no pair ends clearly positive (independent vectors: half of them)",
            measured=float(np.max(col["positive"])),
            bound=positive_bound,
            regime=regime,
            quantity=f"max fraction √mκ > {zero:g}",
            kind="value",
        ),
        check_close(
            "T4",
            "each encoding is a uniform random direction, but the encodings are not independent: "
            "every positive overlap is pushed to 0, so a fraction 1/2 + (n-2)/(4π sqrt(2πm)) of the pairs "
            "ends at κ = 0 at every m (independent vectors: none); largest deviation over m",
            predicted=0.0,
            measured=float(np.max(np.abs(col["at_zero"] - atoms))),
            atol=se_count * atom_se,
            regime=regime,
            kind="law",
            refutes="at the end of the phase the encodings are distributed like n independent uniform unit "
            "vectors in R^m",
        ),
        check_close(
            "T4",
            "mean √m κ = -1/sqrt(2π) + (n-2)/(8π sqrt(m)) (independent vectors: 0); largest deviation over m",
            predicted=0.0,
            measured=float(np.max(np.abs(col["mean"] - means))),
            atol=se_count * float(np.max(col["se"])),
            regime=regime,
            kind="law",
        ),
        check_close(
            "T4",
            "negative overlaps stay where they started, lifted by (n-2)/(4π sqrt(m)): "
            "measured lift / derived, mean over m",
            predicted=1.0,
            measured=float(np.mean(col["lift"] / lifts)),
            rtol=lift_rtol,
            regime=regime + ", pairs with √m κ(0) < -1",
            kind="approximation",
        ),
        check_p_value(
            "T4",
            "the negative side is the lifted half-normal of the push picture (KS test, smallest p over m)",
            p=float(np.min(col["neg_p"])),
            level=p_level,
            regime=regime,
        ),
    ]
    last = -1
    numbers = {
        "pairs": quote(pairs, "d"),
        "m_min": quote(ms[0], "d"),
        "m_max": quote(ms[-1], "d"),
        "positive": quote(float(np.max(col["positive"])), ".3f"),
        "zero_lo": quote(float(col["at_zero"].min()), ".3f"),
        "zero_hi": quote(float(col["at_zero"].max()), ".3f"),
        "zero_pred_lo": quote(float(atoms.min()), ".3f"),
        "zero_pred_hi": quote(float(atoms.max()), ".3f"),
        "zero_first": quote(float(col["at_zero"][0]), ".3f"),
        "zero_pred_first": quote(float(atoms[0]), ".3f"),
        "zero_se": quote(atom_se, ".3f"),
        "zero_last": quote(float(col["at_zero"][last]), ".3f"),
        "mean_last": quote(float(col["mean"][last]), ".3f"),
        "mean_last_lo": quote(float(col["mean"][last] - 2 * col["se"][last]), ".3f"),
        "mean_last_hi": quote(float(col["mean"][last] + 2 * col["se"][last]), ".3f"),
        "mean_pred_last": quote(float(means[last]), ".3f"),
        "lift_first": quote(float(col["lift"][0]), ".4f"),
        "lift_pred_first": quote(float(lifts[0]), ".4f"),
        "lift_last": quote(float(col["lift"][last]), ".1e"),
        "lift_pred_last": quote(float(lifts[last]), ".1e"),
        "lift_ratio": quote(float(np.mean(col["lift"] / lifts)), ".2f"),
        "neg_p": quote(float(np.min(col["neg_p"])), ".2f"),
        "norm_full": quote(float(np.max(norm_full)), ".0e"),
        "norm_spread": quote(float(np.mean(norm_spread)), ".2f"),
        "flow_diff": quote(float(np.max(flow_diff)), ".0e"),
    }
    data = dict(ms=np.asarray(ms), samples=tuple(samples), at_zero=col["at_zero"])
    return Result({}, checks, numbers, data)


def end_axes(x: np.ndarray, n: int, m: int, *, zero: float, label: str = "") -> list[svgplot.Axes]:
    """Two panels for a sample ``x`` of ``sqrt(m) kappa`` at the end: histogram of the negative side against
    ``N(0,1)`` and the push picture, with the atom at 0 marked; the distribution function against both."""
    edges = np.linspace(-4, 4, 41 if x.size >= 1000 else 17)  # wider bins for a small sample
    neg = x[x < -zero]
    heights = np.histogram(neg, bins=edges)[0] / (x.size * (edges[1] - edges[0]))
    grid = np.linspace(-4, 4, 161)
    left_grid = grid[grid < 0]
    d = negative_lift(n, m)
    atom = float(np.mean(np.abs(x) <= zero))
    hist = svgplot.Axes(
        [
            svgplot.Series(edges, heights, label="end, κ < 0 (density)", kind="steps"),
            svgplot.Series(grid, stats.norm.pdf(grid), label="N(0,1): independent vectors", color=GREY, dashed=True),
            svgplot.Series(left_grid, stats.norm.pdf(left_grid - d), label="push picture", color="#000", dashed=True),
        ],
        xlabel=r"$\sqrt{m}\,\kappa_{ij}$ at the end" + (f" ({label})" if label else ""),
        ylabel="density",
        vlines=[(0.0, f"atom at 0: {atom:.2f} of pairs")],
        ylim=(0.0, max(0.5, 1.15 * float(heights.max()))),
    )
    xs = np.sort(x)
    ecdf = svgplot.Axes(
        [
            svgplot.Series(xs, np.arange(1, xs.size + 1) / xs.size, label="end (measured)"),
            svgplot.Series(grid, stats.norm.cdf(grid), label="N(0,1): independent vectors", color=GREY, dashed=True),
            svgplot.Series(grid, end_cdf(grid, n, m), label="push picture", color="#000", dashed=True),
        ],
        xlabel=r"$\sqrt{m}\,\kappa_{ij}$ at the end",
        ylabel="fraction of pairs below",
        xlim=(-4.0, 4.0),
        ylim=(0.0, 1.02),
    )
    return [hist, ecdf]


def end_law_figure(r: Result) -> tuple[Figure, str]:
    """The overlaps at the end at the largest ``m`` (histogram) and at every ``m`` (distribution functions)."""
    p = r.params
    n, ms = p["n"], p["ms"]
    hist, ecdf = end_axes(r.data["samples"][-1], n, ms[-1], zero=p["zero"], label=f"m = {ms[-1]}")
    ecdf.series = [
        svgplot.Series(
            np.sort(x),
            np.arange(1, x.size + 1) / x.size,
            label=f"m = {m}",
            color=svgplot.PALETTE[k % len(svgplot.PALETTE)],
        )
        for k, (m, x) in enumerate(zip(ms, r.data["samples"]))
    ] + ecdf.series[1:]
    caption = (
        f"Overlaps at the end of the interference phase ($n = {n}$, interference alone to $t$ = {r.q.t_end}, "
        f"one draw per $m$). Left, $m = {ms[-1]}$: the negative overlaps keep the half-normal shape of "
        f"$\\mathcal N(0,1)$ (grey) and of the push picture (black), but the positive half has collapsed into "
        f"an atom at 0 holding {r.q.zero_last} of the pairs (dashed line). Right: the fraction of "
        f"pairs below each value at every $m$ from {r.q.m_min} to {r.q.m_max}: it jumps by about 1/2 at 0, as "
        f"the push picture (black, drawn for the largest $m$) does and independent vectors (grey) do not."
    )
    return render([hist, ecdf], width=10.0, height=3.6), caption


# --- widgets -------------------------------------------------------------------------------------------------

WIDGET_T_END = 15.0  # the widgets' interference phase: positive overlaps decay like e^{-2t}, e^{-30} ~ 1e-13
WIDGET_RTOL = 1e-9
WIDGET_TIMES = 61  # output times of a widget run (for the time course)
WIDGET_ZERO = 1e-3  # |sqrt(m) kappa| below this counts as "at 0"
C_FLUCT = 0.2  # spread of a pair's push around its prediction, in units of sqrt(n-2)/m (measured above)


def ranked_pair(run: PhaseRun, rank: int) -> tuple[int, int]:
    """The ``rank``-th most interfering pair ``(i, j)``, ``i < j`` (rank 1 = largest ``G_ij(0)``);
    ranks beyond the number of interfering pairs give the last one."""
    iu = np.triu_indices(run.n, k=1)
    order = np.argsort(-run.G0[iu])
    count = max(1, int(np.sum(run.G0[iu] > 0)))
    k = order[min(max(rank, 1), count) - 1]
    return int(iu[0][k]), int(iu[1][k])


def push_panel(n: int, m: int, seed: int, pair: int) -> Panel:
    """Widget panel for T1-T3: one pair's push against the Gram-Schmidt coefficient and its half, the slope over
    all pairs, the mean norm drop; the scatter of P against c and the pair's P(t) with its overlap."""
    run = phase(n, m, seed, flow="interference", t_end=WIDGET_T_END, rtol=WIDGET_RTOL, count=WIDGET_TIMES)
    i, j = ranked_pair(run, pair)
    c, P = gram_schmidt_coefficient(run.G0), run.push
    sigma = C_FLUCT * math.sqrt(max(n - 2, 1)) / m
    mask = run.interfering
    drop = run.norm_drop
    regime = f"n={n}, m={m}, pair ({i},{j}), interference alone"
    checks = [
        check_close(
            "T1",
            f"push on W_{i} from W_{j} (GS coeff. {c[i, j]:.3g}, half {c[i, j] / 2:.3g})",
            predicted=float(pair_push_prediction(run.G0)[i, j]) + push_shift(n, m),
            measured=float(P[i, j]),
            atol=3 * sigma,
            regime=regime,
            kind="approximation",
        ),
        check_close(
            "T1",
            "slope of P on c over all interfering pairs (one Gram-Schmidt step: 1)",
            predicted=push_slope_prediction(n, m),
            measured=push_slope(run),
            atol=4 * sigma / math.sqrt(float(np.sum(c[mask] ** 2))),
            regime=f"n={n}, m={m}",
            kind="approximation",
        ),
        check_close(
            "T2",
            f"loss of ‖W_{i}‖² from this pair (GS: {gram_schmidt_norm_loss(run.G0)[i, j]:.3g})",
            predicted=float(pair_loss_prediction(run.G0)[i, j]),
            measured=float(run.L[-1][i, j]),
            rtol=0.2 + 6 * sigma / max(float(P[i, j]), 1e-300),
            regime=regime,
            kind="approximation",
        ),
        # the drops share their pairs (L_ij = L_ji), so their mean fluctuates like a mean over the n(n-1)/2 pair
        # losses ReLU(G_ij)^2/2: relative standard deviation sqrt(10 / (n (n-1)))
        check_close(
            "T3",
            "mean drop of ‖W_i‖² over i: (n-1)/(4m) × lift",
            predicted=expected_norm_drop(n, m),
            measured=float(drop.mean()),
            rtol=3 * math.sqrt(10 / (n * (n - 1))),
            regime=f"n={n}, m={m}, interference alone",
            kind="approximation",
        ),
    ]
    s = math.sqrt(m)
    scatter = scatter_axes(c[mask] * s, P[mask] * s, mark=(c[i, j] * s, P[i, j] * s, f"pair ({i},{j})"))
    settle = float(run.times[np.argmax(run.P[:, i, j] >= 0.999 * P[i, j])])
    course = svgplot.Axes(
        figures.time_course(run.times, run.P[:, i, j] * s, label="√m P_ij(t), push so far")
        + figures.time_course(
            run.times, np.maximum(run.G[:, i, j], 0) * s, label="√m ReLU(G_ij(t))", color=svgplot.PALETTE[4]
        ),
        xlabel="time t",
        ylabel="× √m",
        hlines=[(c[i, j] * s, "√m c_ij (one Gram-Schmidt step)"), (c[i, j] * s / 2, "half of it")],
        xlim=(0.0, min(WIDGET_T_END, max(3.0, 2 * settle))),
        ylim=(0.0, 1.45 * max(c[i, j], run.G0[i, j]) * s),
    )
    note = (
        f"Pair ({i},{j}) starts at √m G_ij = {run.G0[i, j] * s:.3f}; its push settles at "
        f"{P[i, j] / c[i, j]:.3f} × its Gram-Schmidt coefficient (interference alone, t to {WIDGET_T_END:g})."
    )
    return Panel(checks, svgplot.svg([scatter, course], width=720, height=250), note)


def push_explorable() -> Explorable:
    """Widget: sizes, seed and pair against the total push and the norm loss (T1-T3)."""
    return Explorable(
        push_panel,
        [
            Control("n", "features n", (8, 32), 32, kind="size", low=4, high=64),
            Control("m", "neurons m", (256, 4096, 65536), 4096, kind="size", low=64, high=2**20),
            Control("seed", "seed", (0, 1), 0, low=0, high=99),
            Control("pair", "pair (rank)", (1, 5), 1, low=1, high=40),
        ],
        title="Total push: Gram-Schmidt coefficient, its half, and what the flow does",
    )


def end_panel(n: int, m: int, seed: int) -> Panel:
    """Widget panel for T4: the overlaps at the end (interference alone) against independent vectors and the
    push picture, with the statistics that tell them apart."""
    run = phase(n, m, seed, flow="interference", t_end=WIDGET_T_END, rtol=1e-7)
    x = run.kappa()
    st = end_statistics(x, run.kappa(0), n, m, zero=WIDGET_ZERO)
    se = 3 * math.sqrt(0.25 / x.size)
    regime = f"n={n}, m={m}, interference alone to t={WIDGET_T_END:g}"
    checks = [
        check_below(
            "T4",
            "clearly positive overlaps (independent vectors: 1/2)",
            measured=st["positive"],
            bound=0.01,
            regime=regime,
            quantity=f"fraction √mκ > {WIDGET_ZERO:g}",
            kind="value",
        ),
        check_close(
            "T4",
            "pairs at κ = 0: 1/2 + (n-2)/(4π sqrt(2πm)) (independent vectors: none)",
            predicted=atom_prediction(n, m),
            measured=st["at_zero"],
            atol=se,
            regime=regime,
            kind="law",
        ),
        check_close(
            "T4",
            "mean √m κ (independent vectors: 0)",
            predicted=end_mean_prediction(n, m),
            measured=st["mean"],
            atol=3 * st["se"],
            regime=regime,
            kind="law",
        ),
        check_p_value(
            "T4",
            "negative side: the lifted half-normal of the push picture (KS)",
            p=st["neg_p"],
            level=0.01,
            regime=regime,
        ),
    ]
    return Panel(checks, svgplot.svg(end_axes(x, n, m, zero=WIDGET_ZERO), width=720, height=250))


def end_explorable() -> Explorable:
    """Widget: sizes and seed against the law of the overlaps at the end of the phase (T4)."""
    return Explorable(
        end_panel,
        [
            Control("n", "features n", (16, 64), 64, kind="size", low=4, high=64),
            Control("m", "neurons m", (1024, 16384, 262144), 16384, kind="size", low=256, high=2**22),
            Control("seed", "seed", (0, 1), 0, low=0, high=99),
        ],
        title="After the phase: like independent uniform unit vectors?",
    )


def explorables() -> dict[str, Explorable]:
    """Fresh explorables of this chapter, by name."""
    return {"push": push_explorable(), "end": end_explorable()}
