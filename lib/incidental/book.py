"""The chapter contract: one way for a notebook to run an experiment, show its checks, quote its
numbers in the prose and show its figures with captions.

Everything here renders the same in the HTML book (MyST-NB, executed ``inline`` so that the
``{eval}`` role works) and in JupyterLab (``jupyterlab-myst``, which evaluates ``{eval}`` roles
when a Markdown cell runs). See ``CONTRIBUTING.md``, "Adding a chapter".

A chapter notebook:

1. opens with ``chapter = book.Chapter("02_numerator", 2)``;
2. sets the knobs of each experiment in a visible cell (``fd_knobs = dict(n=16, m=256, ...)``);
3. runs it with the chapter module's runner, ``fd = numerator.finite_differences(**fd_knobs)``,
   which returns a :class:`Result`: its parameters, its checks, its numbers and its data;
4. shows the checks with ``chapter.checks(fd)`` (records them in the claims ledger, then asserts
   them: a broken check fails the notebook, the build and the tests);
5. shows a figure with ``chapter.figure(*numerator.fd_figure(fd))``: the module builds both the
   figure and its caption from ``fd``, so the caption follows the knobs;
6. quotes numbers in Markdown as ``{eval}`fd.q.error```: a :class:`Quote`, whose ``repr`` is
   the formatted number, so both renderers print it bare;
7. ends with ``chapter.finish()``, which marks its ledger record complete.

The ledger (``book/ledger.ipynb``) reads the records the chapters wrote (:func:`load_ledger`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from numbers import Integral, Real
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from .checks import COLOURS, WHOSE, Check, checks_html, statement_html, tally, verdict_html
from .knobs import validate_knobs

# --- numbers quoted in the prose ------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    """A number as the prose quotes it: ``repr`` and ``str`` give ``format(raw, fmt)``.

    ``{eval}`` in MyST-NB and in jupyterlab-myst shows an expression's ``text/plain`` form,
    which is its ``repr``: a bare ``float`` would print all its digits and a ``str`` its quotes.
    Any other attribute is a part of a structured value (``fit.low``, ``interval.value``),
    quoted with the same format.
    """

    raw: Any
    fmt: str = ""

    def __repr__(self) -> str:
        return format(self.raw, self.fmt)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(self.raw, spec) if spec else repr(self)

    def __float__(self) -> float:
        return float(self.raw)

    def __getattr__(self, name: str) -> Quote:
        if name.startswith("_"):
            raise AttributeError(name)
        return Quote(getattr(self.raw, name), self.fmt)


def quote(value: Any, fmt: str = "") -> Quote:
    """``value`` to be quoted in the prose with format ``fmt`` (e.g. ``".3f"``, ``".1e"``)."""
    return Quote(value, fmt)


def quotes(fmt: str, **values: Any) -> dict[str, Quote]:
    """Several numbers quoted with one format: ``quotes(".3f", slope=s, spread=d)``."""
    return {k: Quote(x, fmt) for k, x in values.items()}


class Quotes:
    """Read-only attribute access to quoted numbers: ``result.q.exponent``.

    An unknown name raises ``AttributeError`` listing the known ones, so a typo in an
    ``{eval}`` role fails loudly instead of printing nothing.
    """

    def __init__(self, items: Mapping[str, Quote]) -> None:
        object.__setattr__(self, "_items", dict(items))

    def __getattr__(self, name: str) -> Quote:
        items = object.__getattribute__(self, "_items")
        if name in items:
            return items[name]
        raise AttributeError(f"no quoted number {name!r}; known: {', '.join(sorted(items))}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("quoted numbers are read-only")

    def __dir__(self) -> list[str]:
        return sorted(object.__getattribute__(self, "_items"))

    def __contains__(self, name: str) -> bool:
        return name in object.__getattribute__(self, "_items")

    def __repr__(self) -> str:
        items = object.__getattribute__(self, "_items")
        return "Quotes(" + ", ".join(f"{k}={v!r}" for k, v in items.items()) + ")"


def _default_format(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (Integral, Real)):
        return ""
    if isinstance(value, Integral):
        return "d"
    return "g"


@dataclass
class Result:
    """What an experiment returns.

    ``params`` are the knobs it ran with (every size, seed, time and tolerance), ``checks`` the
    claims it checked, ``numbers`` what the prose quotes, ``data`` the arrays its figures draw.
    ``q`` gives the numbers and the parameters as :class:`Quote` s for ``{eval}`` roles
    (parameters are quoted with a plain format; a number of the same name wins).
    """

    params: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    numbers: dict[str, Quote] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def q(self) -> Quotes:
        params = {k: Quote(v, _default_format(v)) for k, v in self.params.items()}
        numbers = {k: v if isinstance(v, Quote) else Quote(v, _default_format(v)) for k, v in self.numbers.items()}
        return Quotes({**params, **numbers})

    def regime(self, *names: str) -> str:
        """``"n=16, m=256"``: the named parameters (all of them if none is named), as a regime string."""
        keys = names or tuple(self.params)
        return regime_text({k: self.params[k] for k in keys})

    def only(self, *claims: str) -> list[Check]:
        """The checks of the named claims (all of them if none is named)."""
        return [c for c in self.checks if not claims or c.claim in claims]

    def _repr_html_(self) -> str:
        return checks_html(self.checks)


def runner(fn: Callable[..., Result] | None = None, *, min_lengths: Mapping[str, int] | None = None):
    """Decorate a chapter runner (keyword-only knobs, returns a :class:`Result`).

    The knobs are validated at this boundary (:func:`incidental.knobs.validate_knobs`: a bad
    value raises ``ValueError`` naming the knob); the result's ``params`` are exactly the knobs;
    each check without a regime gets one from the params and its own ``at`` values.
    ``min_lengths`` gives tuple knobs that need more than one value (``steps=3`` for a fit).
    """

    def wrap(f: Callable[..., Result]) -> Callable[..., Result]:
        @functools.wraps(f)
        def run(**knobs: Any) -> Result:
            knobs = validate_knobs(f, knobs, min_lengths or {})
            r = f(**knobs)
            r.params = dict(knobs)
            r.checks = [c.placed(r.params) for c in r.checks]
            return r

        run.runner = True  # type: ignore[attr-defined]
        return run

    return wrap(fn) if fn is not None else wrap


def regime_text(params: Mapping[str, Any]) -> str:
    """``"n=16, m=256, seeds=0..19 (20 values)"``: parameters as a check's regime string."""
    return ", ".join(f"{k}={_plain(v)}" for k, v in params.items())


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)) and len(value) > 4:
        return f"{_plain(value[0])}..{_plain(value[-1])} ({len(value)} values)"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_plain(x) for x in value) + ")"
    return str(value)


def table_html(heads: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """A plain table in the book's check-table style (HTML): one header row, then ``rows`` (cells as ``str``)."""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return (
        "<table class='incidental-checks' style='border-collapse:collapse;font-size:0.85em'>"
        f"<thead><tr>{''.join(f'<th>{h}</th>' for h in heads)}</tr></thead><tbody>{body}</tbody></table>"
    )


# --- figures --------------------------------------------------------------------------------

_MATH = re.compile(r"\$(.+?)\$")


def caption_html(text: str) -> str:
    """A caption in the book's Markdown subset (``$math$``, ``*em*``, ``**strong**``) as HTML.

    Inline math becomes ``\\(..\\)``, which MathJax typesets in both the HTML book and JupyterLab.
    """
    parts = _MATH.split(text)
    out = []
    for k, part in enumerate(parts):
        if k % 2:
            out.append(r"\(" + html.escape(part, quote=False) + r"\)")
        else:
            s = html.escape(part, quote=False)
            s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
            s = re.sub(r"\*(.+?)\*", r"<em>\1</em>", s)
            s = re.sub(r"`(.+?)`", r"<code>\1</code>", s)
            out.append(s)
    return "".join(out)


def figure_png(fig: Figure, *, dpi: int = 110) -> str:
    """The matplotlib figure as a base64 PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


class FigureOutput:
    """A numbered figure; its caption is the Markdown cell that follows it (or ``caption``)."""

    def __init__(self, label: str, image: str, caption: str, anchor: str) -> None:
        self.label, self.image, self.caption, self.anchor = label, image, caption, anchor

    def _repr_html_(self) -> str:
        caption = (
            f"<figcaption class='incidental-caption mathjax_process' style='font-size:0.9em;margin-top:0.3em;"
            f"text-align:left;color:#24292f'><strong>{self.label}.</strong> {caption_html(self.caption)}</figcaption>"
            if self.caption
            else ""
        )
        return (
            f"<figure class='incidental-figure' id='{self.anchor}' style='margin:0.5em 0'>"
            f"{self.image}{caption}</figure>"
        )

    def __repr__(self) -> str:
        return f"{self.label}. {self.caption}" if self.caption else self.label


# --- the chapter ----------------------------------------------------------------------------


@dataclass
class Chapter:
    """A chapter's context: its name (the notebook's file stem) and number.

    It numbers the figures and records every check shown (the claims ledger's source).
    """

    name: str
    number: int
    _checks: list[Check] = field(default_factory=list, repr=False)
    _figures: int = field(default=0, repr=False)
    _complete: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_]+", self.name):
            raise ValueError(f"name must be the notebook's file stem (letters, digits, _), got {self.name!r}")
        if not isinstance(self.number, int) or self.number < 0:
            raise ValueError(f"number must be a non-negative int, got {self.number!r}")
        self._write_record()

    def checks(self, *results: Result | Check | Iterable[Check]) -> ChecksTable:
        """Record the checks of ``results`` in the ledger, assert them, return their table.

        The record is written before the assertion, so the ledger shows a failing check red.
        """
        shown = list(_flatten_checks(results))
        self._checks.extend(shown)
        self._write_record()
        for c in shown:
            c.assert_holds()
        return ChecksTable(shown)

    def figure(self, fig: Figure | str, caption: str = "") -> FigureOutput:
        """The next numbered figure: a matplotlib figure (or inline SVG markup).

        The caption is written in the notebook, in the Markdown cell right after the figure's
        cell, opening with ``**Figure N.k.**`` (the contract test checks the number), so that it
        quotes numbers with ``{eval}`` like the prose. ``caption`` is for figures outside a
        chapter's prose (tests, widgets).
        """
        self._figures += 1
        label = f"Figure {self.number}.{self._figures}"
        if isinstance(fig, Figure):
            image = f"<img alt='{label}' style='max-width:100%' src='data:image/png;base64,{figure_png(fig)}'/>"
        elif isinstance(fig, str):
            image = fig
        else:
            raise ValueError(f"fig must be a matplotlib Figure or SVG markup, got {type(fig).__name__}")
        return FigureOutput(label, image, caption, f"figure-{self.name}-{self._figures}")

    def finish(self) -> Summary:
        """Mark the chapter's record complete (the last code cell calls it); say what was recorded."""
        self._complete = True
        self._write_record()
        return Summary(self.recorded)

    @property
    def recorded(self) -> list[Check]:
        """Every check shown so far in this run of the chapter."""
        return list(self._checks)

    def _write_record(self) -> None:
        path = ledger_dir() / f"{self.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "chapter": self.name,
            "number": self.number,
            "source": notebook_fingerprint(self.name),
            "complete": self._complete,
            "checks": [c.record() for c in self._checks],
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1))
        tmp.replace(path)


class ChecksTable:
    """The checks a cell showed, as an HTML table (and a short text form)."""

    def __init__(self, checks: list[Check]) -> None:
        self.checks = checks

    def _repr_html_(self) -> str:
        return checks_html(self.checks)

    def __repr__(self) -> str:
        return "\n".join(f"{c.claim}: {c.verdict}: {c.statement}" for c in self.checks)


class Summary:
    """One line: how many checks the chapter recorded in the ledger, and how many hold."""

    def __init__(self, checks: list[Check]) -> None:
        self.checks = checks

    def __repr__(self) -> str:
        t = tally(self.checks)
        claims = sorted({c.claim for c in self.checks})
        others = "".join(f", {t[v]} {v}" for v in ("unresolved", "fails") if t[v])
        return (
            f"This chapter recorded {len(self.checks)} checks of claims {', '.join(claims)} "
            f"in the claims ledger; {t['holds']} of {len(self.checks)} hold{others}."
        )

    def _repr_html_(self) -> str:
        return f"<p class='incidental-summary'><em>{html.escape(repr(self))}</em></p>"


def _flatten_checks(items: Iterable[Any]) -> Iterable[Check]:
    for item in items:
        if isinstance(item, Check):
            yield item
        elif isinstance(item, Result):
            yield from item.checks
        elif isinstance(item, Iterable) and not isinstance(item, (str, bytes)):
            yield from _flatten_checks(item)
        else:
            raise ValueError(f"expected a Result, a Check or checks, got {type(item).__name__}")


# --- the ledger -----------------------------------------------------------------------------


def repository_root() -> Path:
    """The repository (the folder holding ``_toc.yml``), found from this file."""
    return Path(__file__).resolve().parents[2]


def ledger_dir() -> Path:
    """Where chapters record their checks: ``$INCIDENTAL_LEDGER_DIR`` or ``<repo>/_build/ledger``."""
    env = os.environ.get("INCIDENTAL_LEDGER_DIR")
    return Path(env) if env else repository_root() / "_build" / "ledger"


def notebook_path(name: str) -> Path:
    """``book/<name>.ipynb`` in the repository."""
    return repository_root() / "book" / f"{name}.ipynb"


def notebook_fingerprint(name: str) -> str:
    """SHA-256 of the chapter's code cells (outputs ignored): a record is stale once they change."""
    path = notebook_path(name)
    if not path.exists():
        return ""
    cells = json.loads(path.read_text())["cells"]
    code = "\n\x00".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return hashlib.sha256(code.encode()).hexdigest()


def toc_chapters(toc: Path | None = None) -> list[str]:
    """The chapter notebooks of ``_toc.yml`` in order, by file stem (the ledger itself excluded)."""
    toc = toc or repository_root() / "_toc.yml"
    names = re.findall(r"^\s*-\s*file:\s*book/([A-Za-z0-9_]+)\s*$", toc.read_text(), flags=re.M)
    return [n for n in names if n != "ledger" and notebook_path(n).exists()]


@dataclass(frozen=True)
class LedgerRow:
    """One check of one chapter, as the ledger lists it; ``complete`` is whether the chapter ran to its end."""

    chapter: str
    number: int
    check: Check
    complete: bool


def read_record(name: str) -> dict[str, Any] | None:
    """The chapter's record if it exists and matches the notebook's code now, else ``None``."""
    path = ledger_dir() / f"{name}.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    if record.get("source") != notebook_fingerprint(name):
        return None
    return record


def run_chapter(name: str, *, timeout: int = 600) -> None:
    """Execute the chapter notebook in a fresh kernel (it writes its own record)."""
    import nbformat
    from nbclient import NotebookClient

    path = notebook_path(name)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()


def load_ledger(chapters: Iterable[str] | None = None, *, run_missing: bool = True) -> list[LedgerRow]:
    """Every recorded check of ``chapters`` (default: the table of contents), in book order.

    A chapter with no record, or one older than its notebook's code, is executed first when
    ``run_missing`` (this is what a reader who opens the ledger alone in JupyterLab gets);
    otherwise it raises ``ValueError`` naming the chapter.
    """
    rows: list[LedgerRow] = []
    for name in chapters or toc_chapters():
        record = read_record(name)
        if record is None and run_missing:
            run_chapter(name)
            record = read_record(name)
        if record is None:
            raise ValueError(f"chapters: no current record of {name!r}; run book/{name}.ipynb first")
        rows.extend(
            LedgerRow(name, record["number"], Check.from_record(c), record["complete"]) for c in record["checks"]
        )
    return rows


def _chapter_suffix(link_suffix: str | None) -> str:
    from .explore import resolve_mode

    return link_suffix or (".ipynb" if resolve_mode() == "live" else ".html")


_TD = "<td style='padding:3px 6px;text-align:left;vertical-align:top'>"
_TH = "<th style='padding:3px 6px;text-align:left'>"


def _row_verdict(r: LedgerRow) -> str:
    """The verdict a ledger row shows: the check's, or ``"fails"`` when its chapter did not finish."""
    return r.check.verdict if r.complete else "fails"


def ledger_html(rows: Iterable[LedgerRow], *, link_suffix: str | None = None) -> str:
    """The claims ledger as an HTML table: one row per check, the chapter linked.

    Each row: the claim id, the chapter (linked), the statement checked with its regime beneath
    (a refuting check shows the refuted statement struck, then the book's), the kind of check,
    predicted over measured, and the verdict (holds, fails, unresolved). ``link_suffix`` is
    ``".html"`` in the rendered book and ``".ipynb"`` in JupyterLab (default: chosen as the
    widgets choose their mode, :func:`incidental.explore.resolve_mode`).
    """
    suffix = _chapter_suffix(link_suffix)
    head = "".join(f"{_TH}{h}</th>" for h in ("claim", "ch.", "statement (regime)", "kind", "predicted / measured"))
    body = []
    for r in rows:
        c, verdict = r.check, _row_verdict(r)
        shown = (
            verdict_html(c) if r.complete else f"<b style='color:{COLOURS['fails']}'>fails</b> (chapter did not finish)"
        )
        if c.refutes:
            shown += f"<br><span style='color:#8250df;font-weight:normal'>corrects the {c.whose}</span>"
        statement = (
            statement_html(c) + f"<br><span style='color:#57606a;font-size:0.9em'>{html.escape(c.regime)}</span>"
        )
        cells = [
            html.escape(c.claim),
            f"<a href='{r.chapter}{suffix}'>{r.number}</a>",
            statement,
            html.escape(c.kind),
            f"{html.escape(c.predicted)}<br>{html.escape(c.measured)}",
            shown,
        ]
        background = {"holds": "", "unresolved": "#fff8c5"}.get(verdict, "#ffebe9")
        body.append(
            f"<tr class='ledger-row {verdict}' style='border-top:1px solid #d0d7de;background:{background}'>"
            f"{''.join(f'{_TD}{x}</td>' for x in cells)}</tr>"
        )
    return (
        f"<table class='incidental-ledger' style='border-collapse:collapse;font-size:0.8em;width:100%'>"
        f"<thead><tr>{head}{_TH}verdict</th></tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def claim_finding(mine: list[LedgerRow]) -> tuple[str, str]:
    """What the checks of one claim found, and its colour: all hold; corrected; some unresolved; some fail."""
    t = tally(replace(r.check, verdict=_row_verdict(r)) for r in mine)
    corrected = sum(bool(r.check.refutes) for r in mine)
    if not mine:
        return "no check", COLOURS["fails"]
    if t["fails"]:
        return f"{t['fails']} of {len(mine)} checks FAIL", COLOURS["fails"]
    if t["unresolved"]:
        return f"{t['unresolved']} of {len(mine)} checks unresolved", COLOURS["unresolved"]
    if corrected:
        return f"holds only as the book corrects it ({corrected} of {len(mine)} checks)", "#8250df"
    return "holds", COLOURS["holds"]


def claims_html(rows: Iterable[LedgerRow], *, link_suffix: str | None = None) -> str:
    """One row per claim of the register: whose statement it is and the statement, its chapter,
    how many checks test it, and what they found."""
    from .claims import REGISTER

    rows = list(rows)
    suffix = _chapter_suffix(link_suffix)
    numbers = {r.chapter: r.number for r in rows}
    head = "".join(f"{_TH}{h}</th>" for h in ("claim", "ch.", "the statement (whose)", "checks", "what the book found"))
    body = []
    for claim in REGISTER:
        if claim.chapter not in numbers:
            continue
        mine = [r for r in rows if r.check.claim == claim.id]
        found, colour = claim_finding(mine)
        cells = [
            html.escape(claim.id),
            f"<a href='{claim.chapter}{suffix}'>{numbers[claim.chapter]}</a>",
            f"{html.escape(claim.statement)}<br><span style='color:#57606a;font-size:0.9em'>"
            f"{WHOSE.get(claim.whose, claim.whose)}</span>",
            str(len(mine)),
            f"<b style='color:{colour}'>{found}</b>",
        ]
        body.append(f"<tr style='border-top:1px solid #d0d7de'>{''.join(f'{_TD}{x}</td>' for x in cells)}</tr>")
    return (
        f"<table class='incidental-claims' style='border-collapse:collapse;font-size:0.85em;width:100%'>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


class LedgerTable:
    """The ledger's rows, displayed as :func:`ledger_html` (links to ``.ipynb`` in JupyterLab);
    with ``by_claim``, one row per claim of the register (:func:`claims_html`)."""

    def __init__(self, rows: list[LedgerRow], *, by_claim: bool = False) -> None:
        self.rows = rows
        self.by_claim = by_claim

    def _repr_html_(self) -> str:
        return claims_html(self.rows) if self.by_claim else ledger_html(self.rows)

    def __repr__(self) -> str:
        return "\n".join(f"{r.check.claim} ({r.chapter}): {_row_verdict(r)}: {r.check.statement}" for r in self.rows)


def missing_claims(rows: Iterable[LedgerRow], chapters: Iterable[str]) -> list[str]:
    """Claim ids of the register whose chapter is in ``chapters`` but that no row checks."""
    from .claims import REGISTER

    chapters = set(chapters)
    checked = {r.check.claim for r in rows}
    return [c.id for c in REGISTER if c.chapter in chapters and c.id not in checked]


def uncovered_claims(chapters: Iterable[str]) -> list[str]:
    """Claim ids of the register whose chapter is not (yet) in the book."""
    from .claims import REGISTER

    chapters = set(chapters)
    return [c.id for c in REGISTER if c.chapter not in chapters]
