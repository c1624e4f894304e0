"""Checks: a claim, what was predicted, what was measured, and one of three verdicts.

A :class:`Check` knows its claim id (``"S2"``), the regime it was measured in, and its verdict:

- **holds**: the measurement agrees with the prediction within a tolerance smaller than the
  effect it tests;
- **fails**: it does not agree;
- **unresolved**: the tolerance (or the interval) is too wide to tell the claim from its
  negation. Unresolved is never shown, counted or coloured as holding.

The fixed parts of a check (claim id, statement, kind, the statement it refutes) are declared
once, as a :class:`Declared` check in a chapter's table (:func:`declare`); a runner supplies
only what it measured, the prediction and the tolerance, through one of the declaration's
methods: :meth:`Declared.close` (a value against a prediction), :meth:`Declared.below` (an
error under a bound), :meth:`Declared.exponent` (a Theta claim: a fitted exponent with an
interval) and :meth:`Declared.p_value` (a law). The regime is filled in from the runner's
parameters (:func:`incidental.book.runner`).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from . import _validate as v

KINDS = ("identity", "exponent fit", "approximation", "law", "value")
"""What a check compares: an exact identity (to round-off or finite differences), a fitted
exponent of a Theta claim, an approximation's measured error, a distribution law, or a value."""

VERDICTS = ("holds", "fails", "unresolved")
_TOLERANCE_WORDS = ("tol", "bound", "sigmas")  # knobs that judge a check, not the setting it measures
COLOURS = {"holds": "#1a7f37", "fails": "#cf222e", "unresolved": "#9a6700"}


@dataclass(frozen=True)
class Check:
    """The outcome of checking one claim numerically.

    ``kind`` is one of :data:`KINDS`, ``verdict`` one of :data:`VERDICTS` (``why`` says why an
    unresolved check could not tell). ``refutes`` is empty when the check tests the statement
    of ``whose`` (``"note"``, ``"paper"`` or ``"book"``) as it stands; otherwise it is that
    statement as the book found it *not* to hold, and ``statement`` is the book's statement,
    which the check measures. ``at`` holds the regime's values until a runner writes ``regime``.
    """

    claim: str
    statement: str
    predicted: str
    measured: str
    regime: str
    verdict: str
    kind: str = "value"
    refutes: str = ""
    whose: str = "note"
    why: str = ""
    at: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, got {self.verdict!r}")

    @property
    def holds(self) -> bool:
        """Whether the verdict is ``"holds"`` (an unresolved check does not hold)."""
        return self.verdict == "holds"

    @property
    def resolved(self) -> bool:
        return self.verdict != "unresolved"

    def record(self) -> dict[str, Any]:
        """The check as the ledger stores it (JSON-ready; ``at`` dropped once ``regime`` is set)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "at"}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Check:
        """The inverse of :meth:`record` (older records with ``holds`` read as holds/fails)."""
        r = dict(record)
        if "verdict" not in r:
            r["verdict"] = "holds" if r.pop("holds") else "fails"
        r.pop("holds", None)
        return cls(**r)

    def placed(self, params: Mapping[str, Any]) -> Check:
        """This check with its regime written from ``params`` (tolerances and bounds left out: they are
        the check's, not the setting's) and its own ``at`` values (``at`` wins)."""
        if self.regime:
            return self
        from .book import regime_text

        setting = {k: x for k, x in params.items() if not any(w in k for w in _TOLERANCE_WORDS)}
        return replace(self, regime=regime_text({**setting, **(self.at or {})}), at=None)

    def assert_holds(self) -> Check:
        """Raise ``AssertionError`` with the whole check unless it holds; return self."""
        if not self.holds:
            why = f" ({self.why})" if self.why else ""
            raise AssertionError(
                f"claim {self.claim} {self.verdict.upper()}{why}: {self.statement}; predicted {self.predicted}, "
                f"measured {self.measured} ({self.regime})"
            )
        return self

    def _repr_html_(self) -> str:
        return checks_html([self])


@dataclass(frozen=True)
class ExponentFit:
    """``value ~ prefactor * size**exponent``, with a confidence interval ``[low, high]`` for the exponent.

    Formats as ``"0.503 [0.491, 0.515]"``; a format spec (``f"{fit:.2f}"``) applies to all three.
    """

    exponent: float
    low: float
    high: float
    prefactor: float
    confidence: float

    method = ""
    """How the interval was made, as the measured column names it ("" for least squares)."""

    def __format__(self, spec: str) -> str:
        spec = spec or ".3f"
        return f"{self.exponent:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"

    def __str__(self) -> str:
        return format(self)


@dataclass(frozen=True)
class Interval:
    """A measured ``value`` with an interval ``[low, high]`` (a confidence interval or a range).

    Formats as ``"0.84 [0.79, 0.89]"``; a format spec applies to all three numbers.
    """

    value: float
    low: float
    high: float

    def __format__(self, spec: str) -> str:
        spec = spec or ".3g"
        return f"{self.value:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"

    def __str__(self) -> str:
        return format(self)


def _verdict(agrees: bool) -> str:
    return "holds" if agrees else "fails"


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def fit_exponent(
    sizes: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray, *, confidence: float = 0.95
) -> ExponentFit:
    """Fit ``log(values) = log(prefactor) + exponent * log(sizes)`` by least squares.

    ``sizes`` and ``values`` are 1-d, positive, of equal length >= 3; the interval is
    the two-sided Student-t interval of the slope at ``confidence``.
    """
    x = v.finite_array("sizes", sizes, 1)
    y = v.finite_array("values", values, 1)
    if x.shape != y.shape:
        raise ValueError(f"sizes and values must have the same length, got {x.size} and {y.size}")
    if x.size < 3:
        raise ValueError(f"sizes must hold at least 3 points for an interval, got {x.size}")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("sizes and values must be positive to fit a power law")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    res = stats.linregress(np.log(x), np.log(y))
    half = stats.t.ppf(0.5 + confidence / 2, x.size - 2) * res.stderr
    return ExponentFit(
        float(res.slope), float(res.slope - half), float(res.slope + half), float(np.exp(res.intercept)), confidence
    )


# --- declarations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Declared:
    """The fixed parts of a check, written once: its claim id, statement, kind, and, when the
    book found the statement of the note (or of the paper) not to hold, that statement
    (``refutes``); ``statement`` is then the book's own statement, which the check measures.

    ``statement`` may hold ``{name}`` fields that the runner fills (``flow``, ``n``, ...).
    ``whose`` defaults to the register's entry for ``claim``. ``quantity`` names what a
    :meth:`below` check bounds ("error", "max |Δ|", ...).
    """

    claim: str
    statement: str
    kind: str = "value"
    refutes: str = ""
    quantity: str = "error"
    whose: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")

    def _quantity(self, fields: dict) -> str:
        return self.quantity.format(**fields) if fields else self.quantity

    def _check(self, predicted: str, measured: str, verdict: str, why: str, at: Any, fields: dict) -> Check:
        from .claims import whose_statement

        return Check(
            self.claim,
            self.statement.format(**fields) if fields else self.statement,
            predicted,
            measured,
            "",
            verdict,
            self.kind,
            self.refutes,
            self.whose or whose_statement(self.claim),
            why,
            dict(at or {}),
        )

    def close(
        self,
        *,
        predicted: float,
        measured: float,
        rtol: float = 0.0,
        atol: float = 0.0,
        at: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> Check:
        """``|measured - predicted| <= atol + rtol |predicted|``.

        Unresolved when the tolerance is at least ``|predicted|`` (for a non-zero prediction):
        such a tolerance cannot tell the prediction from zero.
        """
        tol = atol + rtol * abs(predicted)
        agrees = bool(np.isfinite(measured) and abs(measured - predicted) <= tol)
        if agrees and predicted != 0 and tol >= abs(predicted):
            verdict, why = "unresolved", "tolerance ≥ |prediction|: too noisy at this size to tell it from zero"
        else:
            verdict, why = ("holds" if agrees else "fails"), ""
        return self._check(f"{_fmt(predicted)} (± {_fmt(tol)})", _fmt(measured), verdict, why, at, fields)

    def below(
        self,
        *,
        measured: float,
        bound: float,
        scale: float | None = None,
        at: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> Check:
        """An approximation holds if its measured quantity is at most ``bound``.

        ``scale`` is the size of the effect the bound is meant to resolve (e.g. 1 for a relative
        error): a bound at least as large as it makes the check unresolved.
        """
        agrees = bool(np.isfinite(measured) and measured <= bound)
        if agrees and scale is not None and bound >= scale:
            verdict, why = "unresolved", f"bound {_fmt(bound)} ≥ the effect's size {_fmt(scale)}"
        else:
            verdict, why = ("holds" if agrees else "fails"), ""
        q = self._quantity(fields)
        return self._check(f"{q} ≤ {_fmt(bound)}", f"{q} = {_fmt(measured)}", verdict, why, at, fields)

    def above(
        self,
        *,
        measured: float,
        bound: float,
        at: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> Check:
        """A lower bound: holds if the measured quantity is at least ``bound`` (a rate that must not
        vanish, a fraction that must stay large)."""
        agrees = bool(np.isfinite(measured) and measured >= bound)
        q = self._quantity(fields)
        return self._check(f"{q} ≥ {_fmt(bound)}", f"{q} = {_fmt(measured)}", _verdict(agrees), "", at, fields)

    def exponent(
        self,
        *,
        sizes: Sequence[float] | np.ndarray | None = None,
        values: Sequence[float] | np.ndarray | None = None,
        predicted: float,
        fit: ExponentFit | None = None,
        tolerance: float = 0.0,
        confidence: float = 0.95,
        rival: float = 0.5,
        at: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> tuple[Check, ExponentFit]:
        """A Theta claim ``value = Theta(size**predicted)``: holds if ``predicted`` lies in the fitted
        interval widened by ``tolerance`` on each side (finite-size corrections).

        The fit is made here by least squares (:func:`fit_exponent` of ``sizes`` and ``values``),
        or given (``fit``: e.g. a quasi-Poisson fit of counts). Unresolved when the widened interval
        also covers a rival exponent ``predicted ± rival`` (by default a power of the size half a
        unit away, e.g. ``1/m`` against ``1/sqrt(m)``).
        """
        if fit is None:
            if sizes is None or values is None:
                raise ValueError("exponent needs sizes and values, or a fit")
            fit = fit_exponent(sizes, values, confidence=confidence)
        confidence = fit.confidence
        low, high = fit.low - tolerance, fit.high + tolerance
        covers = low <= predicted <= high
        if covers and (low <= predicted - rival or high >= predicted + rival):
            verdict, why = "unresolved", f"the interval also covers the rival exponent {predicted:g} ± {rival:g}"
        else:
            verdict, why = ("holds" if covers else "fails"), ""
        widen = f" ± {tolerance:.3g}" if tolerance else ""
        check = self._check(
            f"exponent {predicted:g}{widen}",
            f"exponent {fit} ({fit.method}{int(confidence * 100)}% CI)",
            verdict,
            why,
            at,
            fields,
        )
        return check, fit

    def p_value(self, *, p: float, level: float, at: Mapping[str, Any] | None = None, **fields: Any) -> Check:
        """A statistical test that should *not* reject (a distribution law): holds if ``p >= level``."""
        verdict = "holds" if np.isfinite(p) and p >= level else "fails"
        return self._check(f"p ≥ {level:g}", f"p = {p:.3g}", verdict, "", at, fields)


class Declarations(dict):
    """A chapter's table of declared checks, by name: ``CHECKS.fd.close(...)``."""

    def __getattr__(self, name: str) -> Declared:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no declared check {name!r}; declared: {', '.join(sorted(self))}") from None


def declare(**checks: Declared | tuple) -> Declarations:
    """A chapter's check table: ``declare(fd=Declared("K1", "...", "identity"), ...)``; a tuple is
    passed to :class:`Declared` as its positional arguments."""
    return Declarations({k: c if isinstance(c, Declared) else Declared(*c) for k, c in checks.items()})


def declarations(module: str, folder: Path | None = None) -> Declarations:
    """A chapter's check table, read from ``incidental/chapters/checks/<module>.yaml`` (or from
    ``folder``): one line per check,
    ``name: {claim: .., kind: .., statement: .., quantity: .., refutes: .., whose: ..}``."""
    import yaml

    path = (folder or Path(__file__).parent / "chapters" / "checks") / f"{module}.yaml"
    if not path.exists():
        raise ValueError(f"module: no check table {path.name} for chapter module {module!r}")
    table = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        return Declarations({name: Declared(**spec) for name, spec in table.items()})
    except TypeError as exc:
        raise ValueError(f"{path.name}: a check declares an unknown field ({exc})") from None


# --- tables ---------------------------------------------------------------------------------------

WHOSE = {"note": "the note's statement", "paper": "the paper's picture", "book": "the book's statement"}


def statement_html(c: Check) -> str:
    """The statement a check tests; a refuting check shows the refuted statement struck and the book's."""
    statement = html.escape(c.statement)
    if not c.refutes:
        return statement
    owner = WHOSE.get(c.whose, c.whose).replace("the ", "The ", 1)
    return (
        f"<span style='color:#8250df'>{owner}, refuted:</span> <s>{html.escape(c.refutes)}</s>"
        f"<br><span style='color:#8250df'>The book's statement:</span> {statement}"
    )


def verdict_html(c: Check) -> str:
    """The verdict in its colour, with the reason of an unresolved one."""
    why = f"<br><span style='font-weight:normal;font-size:0.9em'>{html.escape(c.why)}</span>" if c.why else ""
    return f"<b style='color:{COLOURS[c.verdict]}'>{c.verdict}</b>{why}"


def checks_html(checks: Iterable[Check]) -> str:
    """An HTML table of checks: claim, statement, predicted, measured, regime, verdict."""
    td = "<td style='padding:2px 6px;text-align:left;vertical-align:top'>"
    rows = []
    for c in checks:
        cells = [html.escape(c.claim), statement_html(c), html.escape(c.predicted), html.escape(c.measured)]
        cells += [html.escape(c.regime), verdict_html(c)]
        rows.append(f"<tr class='check {c.verdict}'>{''.join(f'{td}{x}</td>' for x in cells)}</tr>")
    head = "".join(
        f"<th style='padding:2px 6px;text-align:left'>{h}</th>"
        for h in ("claim", "statement", "predicted", "measured", "regime", "verdict")
    )
    return (
        f"<table class='incidental-checks' style='border-collapse:collapse;font-size:0.85em'>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def tally(checks: Iterable[Check]) -> dict[str, int]:
    """How many checks have each verdict."""
    out = dict.fromkeys(VERDICTS, 0)
    for c in checks:
        out[c.verdict] += 1
    return out


def assert_all(checks: Iterable[Check]) -> list[Check]:
    """Assert every check; return them as a list (for display)."""
    return [c.assert_holds() for c in checks]
