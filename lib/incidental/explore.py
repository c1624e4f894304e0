"""One declaration, two widgets: live in a kernel, precomputed in the rendered book.

A chapter declares *what* a widget shows: a function ``compute(**values) ->
Panel`` and its :class:`Control` s. :class:`Explorable` turns that into

- a **live** widget (JupyterLab): sliders over each control's full range, and
  every move calls ``compute`` again;
- a **static** widget (the rendered HTML book, no kernel): sliders over each
  control's ``grid``; every grid point is computed at build time, and the slider
  switches between the precomputed panels in the browser (ipywidgets ``Stack``
  s, nested one level per control, driven by ``jslink``).

``mode="auto"`` picks live when the kernel was started by a Jupyter server
(``JPY_SESSION_NAME`` is set, as JupyterLab does) and static otherwise (book
build, nbval). The environment variable ``INCIDENTAL_WIDGETS=live|static``
overrides it.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from .checks import Check, checks_html

KERNEL_HINT = (
    "Precomputed for the values on the sliders. For the full range, run this notebook "
    "in a live kernel: <code>make lab</code> (see the README)."
)


@dataclass(frozen=True)
class Control:
    """One input of an explorable.

    ``name`` is the keyword passed to ``compute``; ``grid`` the values offered in the
    rendered book (and ``default`` must be one of them); ``low``/``high``/``step``
    the live range (defaults: the grid's ends). ``kind`` is ``"int"``, ``"float"``
    or ``"size"`` (integers on a geometric scale, four per octave, live).
    """

    name: str
    label: str
    grid: tuple[Any, ...]
    default: Any
    kind: str = "int"
    low: float | None = None
    high: float | None = None
    step: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("int", "float", "size"):
            raise ValueError(f"kind must be 'int', 'float' or 'size', got {self.kind!r}")
        if len(self.grid) < 2:
            raise ValueError(f"grid of control {self.name!r} must offer at least 2 values")
        if self.default not in self.grid:
            raise ValueError(f"default of control {self.name!r} must be one of its grid values")

    @property
    def live_values(self) -> tuple[Any, ...] | None:
        """The values a live ``size`` slider offers (``None`` for plain sliders)."""
        if self.kind != "size":
            return None
        lo, hi = self.low or min(self.grid), self.high or max(self.grid)
        dense = np.geomspace(lo, hi, int(4 * np.log2(hi / lo)) + 1)
        return tuple(sorted({int(round(x)) for x in dense} | {int(g) for g in self.grid}))


@dataclass
class Panel:
    """What an explorable shows for one setting: checks (predicted, measured, verdict) and a figure.

    ``figure`` is inline SVG markup (from :mod:`incidental.svgplot`: fast, the default for
    widgets) or a matplotlib figure (slow to draw: about 0.1-0.2 s).
    """

    checks: list[Check]
    figure: str | Figure
    note: str = ""


def figure(width: float = 6.0, height: float = 2.8) -> Figure:
    """A new matplotlib figure not tied to pyplot (safe to build in a widget callback).

    Fixed margins instead of a layout engine: a layout engine draws the figure twice,
    which would double the time of every widget update.
    """
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.18, top=0.95, wspace=0.3)
    return fig


def figure_png(fig: Figure, *, dpi: int = 80) -> str:
    """The figure as a base64-encoded PNG string."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def panel_html(panel: Panel, values: dict[str, Any], controls: Sequence[Control]) -> str:
    """The HTML of one panel: the setting, the checks table and the figure."""
    setting = ", ".join(f"{c.label} = {values[c.name]}" for c in controls)
    note = f"<div style='font-size:0.85em'>{panel.note}</div>" if panel.note else ""
    if isinstance(panel.figure, str):
        image = panel.figure
    else:
        image = (
            f"<img alt='figure for {setting}' style='max-width:100%' "
            f"src='data:image/png;base64,{figure_png(panel.figure)}'/>"
        )
    return (
        f"<div class='incidental-panel'><div style='font-size:0.85em;color:#555'>{setting}</div>"
        f"{checks_html(panel.checks)}{note}{image}</div>"
    )


@dataclass
class Explorable:
    """A widget declared once: ``compute(**values) -> Panel`` over ``controls``."""

    compute: Callable[..., Panel]
    controls: Sequence[Control]
    title: str = ""
    _cache: dict[tuple, str] = field(default_factory=dict, repr=False)

    def grid(self, **grids: Sequence[Any]) -> Explorable:
        """This widget with the named controls offering ``grids`` in the rendered book.

        The notebook's widget cell sets the grids (``ch.decay_widget().grid(m=(1024, 65536))``),
        beside the prose that names their values. A control's default stays if the new grid holds
        it, else it becomes the grid value nearest to it.
        """
        names = {c.name for c in self.controls}
        for name in grids:
            if name not in names:
                raise ValueError(f"grid: no control {name!r}; controls: {', '.join(sorted(names))}")
        controls = []
        for c in self.controls:
            if c.name not in grids:
                controls.append(c)
                continue
            values = tuple(grids[c.name])
            if len(values) < 2:
                raise ValueError(f"{c.name} must offer at least 2 values, got {values!r}")
            default = c.default if c.default in values else min(values, key=lambda g: abs(g - c.default))
            controls.append(replace(c, grid=values, default=default))
        return Explorable(self.compute, controls, self.title)

    @property
    def defaults(self) -> dict[str, Any]:
        return {c.name: c.default for c in self.controls}

    def update(self, **values: Any) -> str:
        """Compute and render the panel for ``values`` (missing ones take defaults): HTML."""
        full = {**self.defaults, **values}
        key = tuple(full[c.name] for c in self.controls)
        if key not in self._cache:
            panel = self.compute(**full)
            panel.checks = [c.placed(full) for c in panel.checks]
            self._cache[key] = panel_html(panel, full, self.controls)
        return self._cache[key]

    def panel(self, **values: Any) -> Panel:
        """The panel (checks and figure) for ``values``, for assertions in notebooks and tests; each
        check without a regime gets the panel's setting as its regime."""
        full = {**self.defaults, **values}
        panel = self.compute(**full)
        panel.checks = [c.placed(full) for c in panel.checks]
        return panel

    def _header(self, hint: str) -> widgets.HTML:
        title = f"<b>{self.title}</b><br>" if self.title else ""
        return widgets.HTML(f"{title}<span style='font-size:0.85em;color:#555'>{hint}</span>")

    def static_widget(self) -> widgets.VBox:
        """Sliders over each control's grid switching precomputed panels (works without a kernel)."""
        sliders = []
        for c in self.controls:
            options = [(str(g), k) for k, g in enumerate(c.grid)]
            sliders.append(
                widgets.SelectionSlider(
                    options=options,
                    value=c.grid.index(c.default),
                    description=c.label,
                    continuous_update=True,
                    layout=widgets.Layout(width="420px"),
                    style={"description_width": "110px"},
                )
            )

        def build(depth: int, chosen: dict[str, Any]) -> widgets.Widget:
            if depth == len(self.controls):
                return widgets.HTML(self.update(**chosen))
            c = self.controls[depth]
            children = [build(depth + 1, {**chosen, c.name: g}) for g in c.grid]
            stack = widgets.Stack(children, selected_index=c.grid.index(c.default))
            widgets.jslink((sliders[depth], "index"), (stack, "selected_index"))
            return stack

        return widgets.VBox([self._header(KERNEL_HINT), *sliders, build(0, {})])

    def live_widget(self) -> widgets.VBox:
        """Sliders over each control's full range; every move recomputes the panel.

        A move first replaces the panel by a "computing" note (unless the setting is cached),
        so a slow update never leaves the old panel on screen as if it answered the new setting.
        A setting the model refuses (the library raises ``ValueError``) shows what is wrong and
        the allowed ranges instead of a panel; no exception reaches the kernel's log.
        """
        sliders = [self._live_slider(c) for c in self.controls]
        out = widgets.HTML(self.safe_update({}))

        def refresh(_change: object = None) -> None:
            values = {c.name: s.value for c, s in zip(self.controls, sliders)}
            out.value = self.safe_update(values, before=lambda: setattr(out, "value", self.computing_html(values)))

        for s in sliders:
            s.observe(refresh, names="value")
        return widgets.VBox([self._header("Live: every move recomputes."), *sliders, out])

    def is_cached(self, values: dict[str, Any]) -> bool:
        """Whether the panel for ``values`` is already computed."""
        full = {**self.defaults, **values}
        return tuple(full[c.name] for c in self.controls) in self._cache

    def safe_update(self, values: dict[str, Any], before: Callable[[], None] | None = None) -> str:
        """:meth:`update`, or for a refused setting the message of :meth:`refused_html`.

        ``before`` runs first when the panel is not cached (the live widget shows "computing").
        """
        if before is not None and not self.is_cached(values):
            before()
        try:
            return self.update(**values)
        except ValueError as exc:
            return self.refused_html(values, str(exc))
        except Exception as exc:
            return self.refused_html(values, f"{type(exc).__name__}: {exc}", refused=False)

    def setting_text(self, values: dict[str, Any]) -> str:
        """``"features n = 8, neurons m = 256"``: a setting as the panels label it."""
        full = {**self.defaults, **values}
        return ", ".join(f"{c.label} = {full[c.name]}" for c in self.controls)

    def computing_html(self, values: dict[str, Any]) -> str:
        """The placeholder shown while a panel is computed."""
        return (
            f"<div class='incidental-computing' style='padding:1em;color:#555;font-style:italic'>"
            f"Computing the panel for {html.escape(self.setting_text(values))} ...</div>"
        )

    def ranges_text(self) -> str:
        """The allowed range of every control, in words."""
        parts = []
        for c in self.controls:
            low = min(c.grid) if c.low is None else c.low
            high = max(c.grid) if c.high is None else c.high
            parts.append(f"{c.label} from {low:g} to {high:g}")
        return "; ".join(parts)

    def refused_html(self, values: dict[str, Any], reason: str, *, refused: bool = True) -> str:
        """The message shown instead of a panel for a setting that cannot be computed."""
        head = "This setting is refused by the model" if refused else "This setting could not be computed"
        return (
            f"<div class='incidental-refused' style='padding:0.8em;border:1px solid #cf222e;background:#ffebe9'>"
            f"<b>{head}</b> ({html.escape(self.setting_text(values))}): {html.escape(reason)}.<br>"
            f"<span style='font-size:0.9em'>Slider ranges: {html.escape(self.ranges_text())}. "
            f"Move a slider to a setting the model allows.</span></div>"
        )

    @staticmethod
    def _live_slider(c: Control) -> widgets.Widget:
        common = dict(
            description=c.label,
            continuous_update=False,
            layout=widgets.Layout(width="420px"),
            style={"description_width": "110px"},
        )
        if c.kind == "size":
            return widgets.SelectionSlider(options=c.live_values, value=c.default, **common)
        low = min(c.grid) if c.low is None else c.low
        high = max(c.grid) if c.high is None else c.high
        if c.kind == "int":
            return widgets.IntSlider(value=c.default, min=low, max=high, step=c.step or 1, **common)
        return widgets.FloatSlider(
            value=c.default, min=low, max=high, step=c.step or (high - low) / 100, readout_format=".3g", **common
        )

    def widget(self, mode: str = "auto") -> widgets.VBox:
        """The live or static widget (``mode`` is ``"live"``, ``"static"`` or ``"auto"``)."""
        return self.live_widget() if resolve_mode(mode) == "live" else self.static_widget()

    def grid_points(self) -> list[dict[str, Any]]:
        """Every setting the static widget precomputes."""
        return [
            dict(zip([c.name for c in self.controls], combo))
            for combo in itertools.product(*(c.grid for c in self.controls))
        ]

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget())


def resolve_mode(mode: str = "auto") -> str:
    """``"live"`` or ``"static"``: ``mode`` itself, or for ``"auto"`` the environment's choice."""
    if mode not in ("auto", "live", "static"):
        raise ValueError(f"mode must be 'auto', 'live' or 'static', got {mode!r}")
    if mode != "auto":
        return mode
    forced = os.environ.get("INCIDENTAL_WIDGETS", "").strip().lower()
    if forced in ("live", "static"):
        return forced
    return "live" if os.environ.get("JPY_SESSION_NAME") else "static"
