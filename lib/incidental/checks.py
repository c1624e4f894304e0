"""Checks: a claim of the note, what was predicted, what was measured, and a verdict.

A :class:`Check` knows its claim id (``"S2"``), the regime it was measured in, and
whether the measurement agrees with the prediction. Three kinds exist:

- :func:`check_close`: an identity or a value, measured against a prediction
  with a stated tolerance;
- :func:`check_below`: an approximation, whose measured error must stay under a bound;
- :func:`check_exponent`: a Theta claim, by a least-squares fit of
  ``log(value) = a + b log(size)`` over a geometric grid of sizes, with a
  confidence interval for the exponent ``b``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from . import _validate as v

KINDS = ("identity", "exponent fit", "approximation", "law", "value")
"""What a check compares: an exact identity (to round-off or finite differences), a fitted
exponent of a Theta claim, an approximation's measured error, a distribution law, or a value."""


@dataclass(frozen=True)
class Check:
    """The outcome of checking one claim numerically.

    ``kind`` is one of :data:`KINDS`. ``refutes`` is empty for a claim of the note that the book
    confirms; otherwise it is the note's statement as the book found it *not* to hold, and
    ``statement`` is the corrected statement that the check measures.
    """

    claim: str
    statement: str
    predicted: str
    measured: str
    regime: str
    holds: bool
    kind: str = "value"
    refutes: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")

    @property
    def verdict(self) -> str:
        """``"holds"`` or ``"FAILS"``."""
        return "holds" if self.holds else "FAILS"

    def assert_holds(self) -> Check:
        """Raise ``AssertionError`` with the whole check if it does not hold; return self."""
        if not self.holds:
            raise AssertionError(
                f"claim {self.claim} fails: {self.statement}; predicted {self.predicted}, "
                f"measured {self.measured} ({self.regime})"
            )
        return self

    def _repr_html_(self) -> str:
        return checks_html([self])


@dataclass(frozen=True)
class ExponentFit:
    """``value ~ prefactor * size**exponent``, with a confidence interval ``[low, high]`` for the exponent."""

    exponent: float
    low: float
    high: float
    prefactor: float
    confidence: float

    def __str__(self) -> str:
        return f"{self.exponent:.3f} [{self.low:.3f}, {self.high:.3f}]"


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


def check_close(
    claim: str,
    statement: str,
    *,
    predicted: float,
    measured: float,
    regime: str,
    rtol: float = 0.0,
    atol: float = 0.0,
    kind: str = "value",
    refutes: str = "",
) -> Check:
    """``|measured - predicted| <= atol + rtol |predicted|``.

    A tolerance as large as the prediction itself cannot tell the prediction from zero: the
    statement then says so (the check still runs, but it tests little at this size).
    """
    tol = atol + rtol * abs(predicted)
    holds = bool(np.isfinite(measured) and abs(measured - predicted) <= tol)
    if predicted != 0 and tol >= abs(predicted):
        statement += " [too noisy at this size to resolve: tolerance ≥ |prediction|]"
    return Check(claim, statement, f"{_fmt(predicted)} (± {_fmt(tol)})", _fmt(measured), regime, holds, kind, refutes)


def check_below(
    claim: str,
    statement: str,
    *,
    measured: float,
    bound: float,
    regime: str,
    quantity: str = "error",
    kind: str = "approximation",
    refutes: str = "",
) -> Check:
    """An approximation holds if its measured ``quantity`` is at most ``bound``."""
    holds = bool(np.isfinite(measured) and measured <= bound)
    return Check(
        claim, statement, f"{quantity} ≤ {_fmt(bound)}", f"{quantity} = {_fmt(measured)}", regime, holds, kind, refutes
    )


def check_exponent(
    claim: str,
    statement: str,
    *,
    sizes: Sequence[float] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    predicted: float,
    regime: str,
    tolerance: float = 0.0,
    confidence: float = 0.95,
    refutes: str = "",
) -> tuple[Check, ExponentFit]:
    """A Theta claim ``value = Theta(size**predicted)``: holds if ``predicted`` lies in the
    fitted interval widened by ``tolerance`` on each side (finite-size corrections)."""
    fit = fit_exponent(sizes, values, confidence=confidence)
    holds = fit.low - tolerance <= predicted <= fit.high + tolerance
    widen = f" ± {tolerance:.3g}" if tolerance else ""
    check = Check(
        claim,
        statement,
        f"exponent {predicted:g}{widen}",
        f"exponent {fit} ({int(confidence * 100)}% CI)",
        regime,
        bool(holds),
        "exponent fit",
        refutes,
    )
    return check, fit


def check_p_value(claim: str, statement: str, *, p: float, level: float, regime: str, refutes: str = "") -> Check:
    """A statistical test that should *not* reject (a distribution law): holds if its p-value is at least ``level``."""
    holds = bool(np.isfinite(p) and p >= level)
    return Check(claim, statement, f"p ≥ {level:g}", f"p = {p:.3g}", regime, holds, "law", refutes)


def checks_html(checks: Iterable[Check]) -> str:
    """An HTML table of checks: claim, statement, predicted, measured, regime, verdict."""
    rows = []
    for c in checks:
        colour = "#1a7f37" if c.holds else "#cf222e"
        statement = html.escape(c.statement)
        if c.refutes:
            statement = (
                f"<span style='color:#8250df'>The note's claim fails:</span> <s>{html.escape(c.refutes)}</s>"
                f"<br>What holds instead: {statement}"
            )
        cells = [
            html.escape(c.claim),
            statement,
            html.escape(c.predicted),
            html.escape(c.measured),
            html.escape(c.regime),
        ]
        tds = "".join(f"<td style='padding:2px 6px;text-align:left'>{x}</td>" for x in cells)
        rows.append(f"<tr>{tds}<td style='padding:2px 6px;color:{colour};font-weight:bold'>{c.verdict}</td></tr>")
    head = "".join(
        f"<th style='padding:2px 6px;text-align:left'>{h}</th>"
        for h in ("claim", "statement", "predicted", "measured", "regime", "verdict")
    )
    return (
        f"<table class='incidental-checks' style='border-collapse:collapse;font-size:0.85em'>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def assert_all(checks: Iterable[Check]) -> list[Check]:
    """Assert every check; return them as a list (for display)."""
    return [c.assert_holds() for c in checks]
