"""The book's figure specification, and a tiny, fast SVG plotter for it.

A figure is a list of :class:`Axes`, each holding :class:`Series` (lines, points, points with
error bars, shaded bands, step histograms) on linear or log axes, reference lines and a legend.
The same specification is drawn two ways: :func:`svg` here (a few kilobytes of inline SVG in
about a millisecond, for widget panels that must update in under 100 ms; matplotlib takes
100-250 ms) and :func:`incidental.plotting.render` (matplotlib, for the chapters' static
figures, with TeX labels). The recurring figure types are built in :mod:`incidental.figures`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


KINDS = ("line", "points", "steps", "errorbar", "band")


@dataclass
class Series:
    """Data drawn on an :class:`Axes`.

    ``kind`` is ``"line"``, ``"points"``, ``"steps"`` (a histogram: ``x`` holds the
    ``len(y) + 1`` bin edges), ``"errorbar"`` (points ``y`` with the interval ``[low, high]``)
    or ``"band"`` (the region between ``low`` and ``high``; ``y`` is drawn as its centre line).
    ``label`` may hold TeX between ``$`` signs (matplotlib renders it; the SVG shows it plain).
    """

    x: Sequence[float] | np.ndarray
    y: Sequence[float] | np.ndarray
    label: str = ""
    kind: str = "line"
    color: str | None = None
    dashed: bool = False
    low: Sequence[float] | np.ndarray | None = None
    high: Sequence[float] | np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind in ("errorbar", "band") and (self.low is None or self.high is None):
            raise ValueError(f"a {self.kind!r} series needs low and high")


@dataclass
class Axes:
    """One plot: series, axis labels and scales, horizontal/vertical reference lines ``(value, label)``."""

    series: list[Series]
    xlabel: str = ""
    ylabel: str = ""
    xlog: bool = False
    ylog: bool = False
    hlines: list[tuple[float, str]] = field(default_factory=list)
    vlines: list[tuple[float, str]] = field(default_factory=list)
    title: str = ""
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None


_TEX = [
    (r"\dot\kappa", "κ̇"),
    (r"\kappa", "κ"),
    (r"\lambda", "λ"),
    (r"\nu", "ν"),
    (r"\beta", "β"),
    (r"\gamma", "γ"),
    (r"\Gamma", "Γ"),
    (r"\sqrt{m}", "√m"),
    (r"\sqrt m", "√m"),
    (r"\sqrt", "√"),
    (r"\cdot", "·"),
    (r"\|", "‖"),
    (r"\tau", "τ"),
    (r"\varepsilon", "ε"),
    (r"\epsilon", "ε"),
    (r"\rho", "ρ"),
    (r"\sigma", "σ"),
    (r"\mu", "μ"),
    (r"\pi", "π"),
    (r"\Delta", "Δ"),
    (r"\le", "≤"),
    (r"\ge", "≥"),
    (r"\approx", "≈"),
    (r"\times", "×"),
    (r"\infty", "∞"),
    (r"\,", " "),
    ("^{-1/2}", "⁻¹ᐟ²"),
    ("^{1/2}", "¹ᐟ²"),
    ("^{-1}", "⁻¹"),
    ("^2", "²"),
    ("^{2}", "²"),
    ("_i", "ᵢ"),
    ("_j", "ⱼ"),
    ("{", ""),
    ("}", ""),
    ("$", ""),
]
"""TeX fragments of the book's axis labels and their Unicode forms (for SVG, which has no TeX)."""


def plain_label(text: str) -> str:
    """A label written with TeX between ``$`` signs (for matplotlib), as plain Unicode for SVG."""
    if "$" not in text:
        return text
    for tex, uni in _TEX:
        text = text.replace(tex, uni)
    return text


def _nice_ticks(lo: float, hi: float, log: bool) -> list[float]:
    if log:
        a, b = math.floor(math.log10(lo) + 1e-9), math.ceil(math.log10(hi) - 1e-9)
        step = max(1, math.ceil((b - a) / 6))
        return [10.0**k for k in range(a, b + 1, step) if lo * (1 - 1e-9) <= 10.0**k <= hi * (1 + 1e-9)]
    span = hi - lo
    raw = span / 5
    mag = 10 ** math.floor(math.log10(raw))
    step = next(s * mag for s in (1, 2, 5, 10) if s * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    return [start + k * step for k in range(int((hi - start) / step + 1e-9) + 1)]


def _fmt_tick(x: float, log: bool) -> str:
    if log:
        k = round(math.log10(x))
        return f"1e{k}" if abs(k) > 2 else f"{x:g}"
    return f"{x:.3g}" if x != 0 else "0"


def _limits(values: list[float], log: bool) -> tuple[float, float]:
    vals = np.asarray([x for x in values if np.isfinite(x) and (x > 0 or not log)], dtype=float)
    if vals.size == 0:
        return (1.0, 10.0) if log else (0.0, 1.0)
    lo, hi = float(vals.min()), float(vals.max())
    if log:
        lo, hi = (lo / 2, hi * 2) if lo == hi else (lo, hi)
        return lo / 1.3, hi * 1.3
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad


@dataclass(frozen=True)
class _Frame:
    """Where one axes sits in the SVG (pixels) and which data range it shows."""

    x0: float
    left: float
    top: float
    pw: float
    ph: float
    xa: float
    xb: float
    ya: float
    yb: float
    xlog: bool
    ylog: bool

    def tx(self, x: float) -> float:
        xa, xb = self.xa, self.xb
        f = (math.log(x) - math.log(xa)) / (math.log(xb) - math.log(xa)) if self.xlog else (x - xa) / (xb - xa)
        return self.x0 + self.left + f * self.pw

    def ty(self, y: float) -> float:
        ya, yb = self.ya, self.yb
        f = (math.log(y) - math.log(ya)) / (math.log(yb) - math.log(ya)) if self.ylog else (y - ya) / (yb - ya)
        return self.top + (1 - f) * self.ph

    def clip(self, y: float) -> float:
        return self.ty(min(max(y, self.ya), self.yb))

    def shown(self, a: float, b: float) -> bool:
        """Whether the point ``(a, b)`` can be drawn (finite, positive on a log axis, inside the x range)."""
        finite = np.isfinite(a) and np.isfinite(b) and (a > 0 or not self.xlog) and (b > 0 or not self.ylog)
        return bool(finite and self.xa <= a <= self.xb)


def _frame(ax: Axes, x0: float, width: float, height: float) -> _Frame:
    left, right, top, bottom = 52, 8, 16 if ax.title else 8, 34
    xs = [float(x) for s in ax.series for x in np.ravel(s.x)] + [v for v, _ in ax.vlines]
    ys = [float(y) for s in ax.series for y in np.ravel(s.y)] + [v for v, _ in ax.hlines]
    ys += [float(y) for s in ax.series if s.low is not None for y in (*np.ravel(s.low), *np.ravel(s.high))]
    if any(s.kind == "steps" for s in ax.series) and not ax.ylog:
        ys.append(0.0)
    (xa, xb) = ax.xlim or _limits(xs, ax.xlog)
    (ya, yb) = ax.ylim or _limits(ys, ax.ylog)
    pw, ph = width - left - right, height - top - bottom
    return _Frame(x0, left, top, pw, ph, xa, xb, ya, yb, ax.xlog, ax.ylog)


def _axes_frame_svg(ax: Axes, f: _Frame, height: float) -> list[str]:
    """The box, the ticks, the axis labels, the title and the reference lines."""
    x0, left, top, pw, ph = f.x0, f.left, f.top, f.pw, f.ph
    out = [f"<rect x='{x0 + left}' y='{top}' width='{pw}' height='{ph}' fill='none' stroke='#888'/>"]
    for t in _nice_ticks(f.xa, f.xb, ax.xlog):
        X = f.tx(t)
        out.append(
            f"<line x1='{X:.1f}' y1='{top + ph}' x2='{X:.1f}' y2='{top + ph + 4}' stroke='#888'/>"
            f"<text x='{X:.1f}' y='{top + ph + 15}' text-anchor='middle'>{_fmt_tick(t, ax.xlog)}</text>"
        )
    for t in _nice_ticks(f.ya, f.yb, ax.ylog):
        Y = f.ty(t)
        out.append(
            f"<line x1='{x0 + left - 4}' y1='{Y:.1f}' x2='{x0 + left}' y2='{Y:.1f}' stroke='#888'/>"
            f"<text x='{x0 + left - 6}' y='{Y + 3:.1f}' text-anchor='end'>{_fmt_tick(t, ax.ylog)}</text>"
        )
    out.append(
        f"<text x='{x0 + left + pw / 2}' y='{height - 4}' text-anchor='middle'>"
        f"{html.escape(plain_label(ax.xlabel))}</text>"
    )
    out.append(
        f"<text transform='translate({x0 + 11},{top + ph / 2}) rotate(-90)' text-anchor='middle'>"
        f"{html.escape(plain_label(ax.ylabel))}</text>"
    )
    if ax.title:
        out.append(
            f"<text x='{x0 + left + pw / 2}' y='11' text-anchor='middle'>{html.escape(plain_label(ax.title))}</text>"
        )
    for value, _label in ax.hlines:
        if f.ya <= value <= f.yb:
            out.append(
                f"<line x1='{x0 + left}' x2='{x0 + left + pw}' y1='{f.ty(value):.1f}' y2='{f.ty(value):.1f}' "
                f"stroke='#444' stroke-dasharray='2,3'/>"
            )
    for value, _label in ax.vlines:
        if f.xa <= value <= f.xb:
            out.append(
                f"<line y1='{top}' y2='{top + ph}' x1='{f.tx(value):.1f}' x2='{f.tx(value):.1f}' "
                f"stroke='#444' stroke-dasharray='5,3'/>"
            )
    return out


def _interval_svg(s: Series, f: _Frame, color: str) -> list[str]:
    """An error bar per point, or a shaded band, from ``s.low`` to ``s.high``."""
    x, lo, hi = (np.ravel(a).astype(float) for a in (s.x, s.low, s.high))
    keep = [(a, p, q) for a, p, q in zip(x, lo, hi) if np.isfinite([p, q]).all() and f.shown(a, min(p, q))]
    if s.kind == "band" and keep:
        ring = [(a, q) for a, _p, q in keep] + [(a, p) for a, p, _q in reversed(keep)]
        pts_svg = " ".join(f"{f.tx(a):.1f},{f.clip(b):.1f}" for a, b in ring)
        return [f"<polygon points='{pts_svg}' fill='{color}' fill-opacity='0.2' stroke='none'/>"]
    return [
        f"<line x1='{f.tx(a):.1f}' x2='{f.tx(a):.1f}' y1='{f.clip(p):.1f}' y2='{f.clip(q):.1f}' "
        f"stroke='{color}' stroke-width='1.2'/>"
        for a, p, q in keep
    ]


def _series_svg(s: Series, f: _Frame, color: str) -> list[str]:
    """One series: a line, points, steps, error bars or a band."""
    x, y = np.ravel(s.x).astype(float), np.ravel(s.y).astype(float)
    if s.kind == "steps":
        pts = [(x[0], max(f.ya, 0.0) if not f.ylog else f.ya)]
        for i, h in enumerate(y):
            pts += [(x[i], h), (x[i + 1], h)]
        pts.append((x[-1], pts[0][1]))
    else:
        pts = list(zip(x, y))
    ok = [(a, b) for a, b in pts if f.shown(a, b)]
    out = _interval_svg(s, f, color) if s.kind in ("errorbar", "band") else []
    coords = " ".join(f"{f.tx(a):.1f},{f.clip(b):.1f}" for a, b in ok)
    dash = " stroke-dasharray='6,3'" if s.dashed else ""
    if s.kind in ("points", "errorbar"):
        out.extend(
            f"<circle cx='{f.tx(a):.1f}' cy='{f.clip(b):.1f}' r='2.5' fill='{color}'/>"
            for a, b in ok
            if f.ya <= b <= f.yb
        )
    elif coords:
        out.append(f"<polyline points='{coords}' fill='none' stroke='{color}' stroke-width='1.6'{dash}/>")
    return out


def _legend_svg(ax: Axes, f: _Frame) -> list[str]:
    """The legend: every labelled series, then the reference lines drawn as on the plot
    (horizontal dotted, vertical dashed)."""
    legend = [
        (
            plain_label(s.label),
            s.color or PALETTE[k % len(PALETTE)],
            "points" if s.kind == "errorbar" else s.kind,
            s.dashed,
        )
        for k, s in enumerate(ax.series)
        if s.label
    ]
    legend += [(plain_label(lab), "#444", "line", "2,3") for _, lab in ax.hlines if lab]
    legend += [(plain_label(lab), "#444", "line", "5,3") for _, lab in ax.vlines if lab]
    out = []
    if legend:
        longest = max(len(label) for label, *_ in legend)
        out.append(
            f"<rect x='{f.x0 + f.left + 4}' y='{f.top + 2}' width='{min(f.pw - 8, 26 + 5.6 * longest):.0f}' "
            f"height='{12 * len(legend) + 4}' fill='white' fill-opacity='0.85' stroke='#ccc'/>"
        )
    for k, (label, color, kind, dashed) in enumerate(legend):
        Y = f.top + 10 + 12 * k
        X = f.x0 + f.left + 8
        pattern = dashed if isinstance(dashed, str) else "4,2"
        dash = f" stroke-dasharray='{pattern}'" if dashed else ""
        mark = (
            f"<circle cx='{X + 7}' cy='{Y - 3}' r='2.5' fill='{color}'/>"
            if kind == "points"
            else f"<line x1='{X}' x2='{X + 14}' y1='{Y - 3}' y2='{Y - 3}' stroke='{color}' stroke-width='1.6'{dash}/>"
        )
        out.append(f"{mark}<text x='{X + 18}' y='{Y}'>{html.escape(label)}</text>")
    return out


def _axes_svg(ax: Axes, x0: float, width: float, height: float) -> str:
    f = _frame(ax, x0, width, height)
    out = _axes_frame_svg(ax, f, height)
    for k, s in enumerate(ax.series):
        out += _series_svg(s, f, s.color or PALETTE[k % len(PALETTE)])
    return "".join(out + _legend_svg(ax, f))


def svg(axes: Axes | Sequence[Axes], *, width: int = 640, height: int = 230) -> str:
    """Inline SVG markup for one or more :class:`Axes` side by side."""
    panels = [axes] if isinstance(axes, Axes) else list(axes)
    if not panels:
        raise ValueError("axes must hold at least one Axes")
    each = width / len(panels)
    body = "".join(_axes_svg(ax, k * each, each, height) for k, ax in enumerate(panels))
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' style='font:10px sans-serif;max-width:100%;height:auto' "
        f"role='img'>{body}</svg>"
    )


def histogram(values: np.ndarray, bins: int = 30, *, density: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(edges, heights)`` of a histogram, for a ``"steps"`` :class:`Series`."""
    heights, edges = np.histogram(values, bins=bins, density=density)
    return edges, heights
