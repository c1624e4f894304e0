"""Exercises at the end of every chapter, and the checks of the reader's answers.

Every chapter ends with exercises numbered by chapter ("Exercise 4.2"), of three kinds:

- ``derive``: a closed form, entered as a Python function; it is compared with the library's exact
  result at random arguments and at the edge cases of its regime;
- ``implement``: a short numpy function; it is run on random inputs and on edge cases (a zero row,
  ``m = n``, all overlaps negative) against the library;
- ``predict``: a number, compared with the library's prediction within the tolerance that the
  chapter's own check uses (passed from the chapter's knobs: ``atol=`` or ``rtol=``).

:func:`check` takes the exercise's key and the answer and returns a :class:`Verdict`: ``pass``,
``fail`` with a hint that names what is wrong (shape, sign, a constant factor, a transposed array,
the regime where it breaks, the first input where it differs) without giving the solution, or
``blank`` ("no answer yet") for an answer left as ``None`` or a function whose body is ``...``.
It never raises because of the answer: an exception raised by the reader's code, or an answer of
the wrong type, becomes a hint. ``check(..., expect_pass=True)`` (the solution cells) raises
``AssertionError`` unless the answer passes, so nbval fails if the library or a solution breaks.

In HTML a blank ``predict`` verdict carries an answer box (``div.exercise-box``) with the library's
value and the tolerance in data attributes, which ``_static/exercises.js`` wires to say right or
wrong in the rendered book, with no kernel.

Every formula an exercise compares with lives in the core modules; this module holds only the
exercises' inputs and the comparison.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import derivation, exact, fixed_norm, flow, model, theory, whole

KINDS: tuple[str, ...] = ("derive", "implement", "predict")
STATUSES: tuple[str, ...] = ("pass", "fail", "blank")


class _Hint(Exception):
    """A wrong answer: the message is the hint shown to the reader (``rel``: the relative error, if one)."""

    def __init__(self, message: str, rel: float | None = None) -> None:
        super().__init__(message)
        self.rel = rel


Hint = _Hint  # raised by a judge: a wrong answer, with the hint as its message


class _Blank(Exception):
    """An answer left blank (``None``, or a function that returns ``None``)."""


# --- verdicts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The outcome of :func:`check`: ``status`` is ``"pass"``, ``"fail"`` or ``"blank"``.

    ``message`` is the hint (fail), what to do (blank) or a short confirmation (pass). ``box`` holds
    the static answer box's data for a blank numeric exercise (value and tolerances), else ``None``.
    """

    key: str
    status: str
    message: str
    box: dict[str, float] | None = field(default=None, repr=False)

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def text(self) -> str:
        head = {"pass": "right", "fail": "not yet", "blank": "no answer yet"}[self.status]
        return f"Exercise {self.key}: {head}: {self.message}"

    def __repr__(self) -> str:
        return self.text()

    __str__ = __repr__

    def _repr_html_(self) -> str:
        mark = {"pass": "✓", "fail": "✗", "blank": "…"}[self.status]
        colour = {"pass": "#1a7f37", "fail": "#b35900", "blank": "#57606a"}[self.status]
        out = (
            f'<div class="exercise-verdict exercise-{self.status}" data-exercise="{self.key}" '
            f'style="color: {colour}">{mark} {html.escape(self.text())}</div>'
        )
        return out + (box_html(self.key, **self.box) if self.box else "")


def box_html(key: str, *, value: float, atol: float, rtol: float) -> str:
    """The static answer box of a numeric exercise: the library's value and the tolerances are data
    attributes, read by ``_static/exercises.js`` in the rendered book (no kernel needed)."""
    data = {"exercise": key, "answer": repr(float(value)), "atol": repr(float(atol)), "rtol": repr(float(rtol))}
    attrs = " ".join(f'data-{k}="{html.escape(v)}"' for k, v in data.items())
    return (
        f'<div class="exercise-box" {attrs}>'
        f'<label>Your number for Exercise {key}: <input class="exercise-input" type="text" inputmode="decimal" '
        f'size="14" aria-label="answer to Exercise {key}"></label> '
        '<button class="exercise-submit" type="button">Check</button> '
        '<span class="exercise-feedback" aria-live="polite"></span>'
        '<span class="exercise-lab-note"> (this box answers in the rendered book; here, set '
        "<code>answer</code> above and run the cell)</span></div>"
    )


# --- exercises and their registry -----------------------------------------------------------------


@dataclass(frozen=True)
class Exercise:
    """One exercise: its key (``"4.2"``), kind, title and the check of an answer.

    ``judge(answer, **context)`` returns ``None`` when the answer is right and raises :class:`_Hint`
    (wrong) or :class:`_Blank` otherwise. ``tolerance`` names the keyword a ``predict`` exercise
    needs (``"atol"`` or ``"rtol"``: the chapter's own tolerance); ``value`` is its library value.
    ``wrong``: plausible wrong answers by name, which the tests require to fail with a hint
    (``tests/test_exercises.py`` also holds such answers for the exercises declared here).
    """

    key: str
    kind: str
    title: str
    judge: Callable[..., None]
    tolerance: str = ""
    value: Callable[[], float] | None = None
    wrong: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def chapter(self) -> int:
        return int(self.key.split(".")[0])


REGISTRY: dict[str, Exercise] = {}


def _register(key: str, kind: str, title: str, **extra: Any) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def wrap(judge: Callable[..., None]) -> Callable[..., None]:
        if key in REGISTRY:
            raise ValueError(f"exercise {key} declared twice")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        REGISTRY[key] = Exercise(key, kind, title, judge, **extra)
        return judge

    return wrap


def all_exercises() -> list[Exercise]:
    """Every exercise, those declared in chapter modules included, in order of chapter and number."""
    _import_chapter_modules()
    return sorted(REGISTRY.values(), key=lambda e: tuple(int(x) for x in e.key.split(".")))


def exercises_of(chapter: int) -> list[Exercise]:
    """The exercises of chapter ``chapter``, in order."""
    found = [e for e in all_exercises() if e.chapter == chapter]
    return sorted(found, key=lambda e: int(e.key.split(".")[1]))


def exercise(key: str) -> Exercise:
    """The exercise ``key`` (``"4.2"``); an unknown key raises ``ValueError`` listing the known ones.

    Exercises declared in a chapter module (``incidental.chapters.*``, with :func:`derive`,
    :func:`implement` or :func:`predict`) are found too: the chapter modules are imported on a miss.
    """
    if key not in REGISTRY:
        _import_chapter_modules()
    if key not in REGISTRY:
        raise ValueError(f"no exercise {key!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[key]


def _import_chapter_modules() -> None:
    import importlib
    import pkgutil

    from . import chapters

    for info in pkgutil.iter_modules(chapters.__path__):
        importlib.import_module(f"{chapters.__name__}.{info.name}")


# --- declaring an exercise from a chapter module (the public API) -----------------------------------


def derive(key: str, title: str, *, wrong: dict[str, Any]) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    """Declare exercise ``key`` of kind *derive*: decorates its judge ``judge(answer)``, which returns
    ``None`` when the answer is right and raises :class:`Hint` (via :func:`compare_cases`) otherwise.
    ``wrong``: at least two plausible wrong answers by name (a sign error, a factor of 2, ...), which
    the tests require to fail with a hint."""
    return _register(key, "derive", title, wrong=_wrong(key, wrong))


def implement(
    key: str, title: str, *, wrong: dict[str, Any]
) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    """Declare exercise ``key`` of kind *implement* (see :func:`derive`)."""
    return _register(key, "implement", title, wrong=_wrong(key, wrong))


def _wrong(key: str, wrong: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(wrong, dict) or len(wrong) < 2:
        raise ValueError(f"exercise {key}: give at least two plausible wrong answers (wrong={{name: answer}})")
    return dict(wrong)


def predict(key: str, title: str, value: Callable[[], float], tolerance: str, *, wrong: dict[str, Any]) -> None:
    """Declare exercise ``key`` of kind *predict*: the answer must lie within the chapter's tolerance of
    ``value()`` (a library function); ``tolerance`` is ``"atol"`` or ``"rtol"``, the keyword the
    notebook passes to :func:`check` from its knobs."""
    if tolerance not in ("atol", "rtol"):
        raise ValueError(f"tolerance must be 'atol' or 'rtol', got {tolerance!r}")
    _predict_exercise(key, title, value, tolerance, wrong=_wrong(key, wrong))


def compare_cases(
    answer: Any, cases: Iterable[tuple[str, tuple]], oracle: Callable[..., Any], **tolerance: float
) -> None:
    """Run the reader's function ``answer`` on each ``(label, args)`` case against the library's ``oracle``
    (``rtol=``, ``atol=`` as in ``numpy.allclose``); raises :class:`Hint` naming the first failing case,
    the kind of error (sign, factor, shape, transposed, not finite) and the regime where it grows."""
    _function_cases(answer, cases, oracle, **tolerance)


def check(key: str, answer: Any, *, expect_pass: bool = False, **context: Any) -> Verdict:
    """Check ``answer`` to exercise ``key``; returns a :class:`Verdict` (never raises because of the answer).

    ``context`` carries what the chapter passes, e.g. the tolerance of a ``predict`` exercise
    (``atol=breakdown_knobs["rate_atol"]``). With ``expect_pass=True`` a verdict other than pass raises
    ``AssertionError`` (the solution cells: a broken solution or library fails the notebook).
    """
    ex = exercise(key)
    box = None
    if ex.kind == "predict":
        if set(context) != {ex.tolerance}:
            raise TypeError(f"exercise {key} takes exactly one tolerance, {ex.tolerance}= (the chapter's knob)")
        tol = float(context[ex.tolerance])
        if not (math.isfinite(tol) and tol >= 0):
            raise ValueError(f"{ex.tolerance} must be a finite non-negative number, got {tol!r}")
        box = dict(value=ex.value(), atol=0.0, rtol=0.0) | {ex.tolerance: tol}
    try:
        if answer is None:
            raise _Blank(_BLANK[ex.kind])
        ex.judge(answer, **context)
        verdict = Verdict(key, "pass", _PASS[ex.kind])
    except _Blank as blank:
        verdict = Verdict(key, "blank", str(blank), box)
    except _Hint as hint:
        verdict = Verdict(key, "fail", str(hint))
    except Exception as exc:  # an answer the comparison cannot use (an odd type): a hint, not a traceback
        verdict = Verdict(key, "fail", f"the check could not use your answer ({type(exc).__name__}: {exc})")
    if expect_pass and not verdict.passed:
        raise AssertionError(verdict.text())
    return verdict


_BLANK = {
    "derive": "write your formula as the function's body and run the cell again.",
    "implement": "write the function's body and run the cell again.",
    "predict": "set answer to your number and run the cell again.",
}

_PASS = {
    "derive": "your formula agrees with the library's exact result at every input tried.",
    "implement": "your function agrees with the library on every input tried, edge cases included.",
    "predict": "your number is within the tolerance of the chapter's check.",
}


# --- comparing an answer with the library ---------------------------------------------------------


def _call(fn: Any, args: tuple, label: str) -> Any:
    """Call the reader's ``fn(*args)``; an exception becomes a hint naming the input."""
    if not callable(fn):
        raise _Hint(f"the answer must be a function; got {type(fn).__name__}")
    try:
        out = fn(*(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args))
    except Exception as exc:  # the reader's code: any exception becomes a hint
        raise _Hint(f"your function raised {type(exc).__name__}: {exc} (on {label})") from None
    if out is None:
        raise _Blank("the function returns None: write its body and run the cell again.")
    return out


def _as_array(got: Any, label: str) -> np.ndarray:
    try:
        arr = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        raise _Hint(f"returned a {type(got).__name__}, not a number or an array of numbers (on {label})") from None
    return arr


def _compare(got: Any, want: Any, label: str, *, rtol: float = 1e-7, atol: float = 1e-12, what: str = "") -> None:
    """Raise a :class:`_Hint` unless ``got`` matches the library's ``want`` on input ``label``."""
    want = np.asarray(want, dtype=float)
    arr = _as_array(got, label)
    if arr.shape != want.shape:
        if arr.size == want.size == 1:
            arr = arr.reshape(want.shape)
        elif arr.ndim == 2 and arr.shape == want.shape[::-1] and np.allclose(arr.T, want, rtol=rtol, atol=atol):
            raise _Hint(f"your array is transposed: shape {arr.shape}, expected {want.shape} (on {label})")
        else:
            raise _Hint(f"wrong shape {arr.shape}, expected {want.shape} (on {label})")
    bad = ~np.isfinite(arr) & np.isfinite(want)
    if bad.any():
        where = f" at entry {tuple(int(i) for i in np.argwhere(bad)[0])}" if arr.ndim else ""
        raise _Hint(f"your result is not finite (nan or inf){where} on {label}")
    scale = atol + rtol * np.abs(want)
    if np.all(np.abs(arr - want) <= scale):
        return
    big = np.abs(want) > scale
    if big.any() and np.allclose(-arr, want, rtol=rtol, atol=atol):
        raise _Hint(f"sign error: your result is minus the right one (on {label})")
    if big.sum() > 1 or big.any() and _factor(float(arr.ravel()[0] / want.ravel()[0]), nice=True):
        ratio = float(np.sum(arr * want) / np.sum(want * want))
        if abs(ratio) > 1e-12 and np.allclose(arr, ratio * want, rtol=max(rtol, 1e-6), atol=atol):
            raise _Hint(f"off by a constant factor: your result is {_factor(ratio)} the right one (on {label})")
    k = np.unravel_index(int(np.argmax(np.abs(arr - want) - scale)), arr.shape) if arr.ndim else ()
    at = f" at entry {tuple(int(i) for i in k)}" if arr.ndim else ""
    if abs(want[k]) <= atol:
        raise _Hint(f"{what}differs on {label}{at}: yours is nonzero where the right value is 0")
    rel = float(abs(arr[k] - want[k]) / abs(want[k]))
    side = "too large" if arr[k] > want[k] else "too small"
    raise _Hint(f"{what}differs on {label}{at}: {side}, relative error {rel:.2g}", rel)


_NICE = (
    ("2 times", 2.0),
    ("half", 0.5),
    ("4 times", 4.0),
    ("a quarter of", 0.25),
    ("-2 times", -2.0),
    ("-1/2 times", -0.5),
)


def _factor(ratio: float, *, nice: bool = False) -> str:
    """How a constant factor is named: ``"2 times"``; with ``nice`` only the simple factors, else ``""``."""
    for name, r in _NICE:
        if abs(ratio - r) < 1e-6 * abs(r):
            return name
    return "" if nice else f"about {ratio:.4g} times"


def _radial(W: np.ndarray, residual: np.ndarray) -> bool:
    """Whether a nonzero ``residual`` ``(n, m)`` lies along the rows of ``W`` (a radial error)."""
    norms = np.sum(W * W, axis=1)
    along = np.where(norms > 0, np.sum(residual * W, axis=1) / np.where(norms > 0, norms, 1.0), 0.0)[:, None] * W
    size = np.max(np.abs(residual))
    return bool(size > 1e-9 and np.max(np.abs(residual - along)) < 1e-6 * size)


def _function_cases(
    answer: Any, cases: Iterable[tuple[str, tuple]], oracle: Callable[..., Any], **compare: Any
) -> list[tuple[str, tuple, Any, Any]]:
    """Run the reader's function on every case; a mismatch raises the hint of the first failing case.

    Cases are tried in order (the typical ones first, then the edge cases), so the hint names the
    first input where the answer differs. If the answer is right on the typical cases and wrong on an
    edge case, the hint says so.
    """
    seen, failed = [], []
    for label, args in cases:
        got = _call(answer, args, label)
        try:
            _compare(got, oracle(*args), label, **compare)
            seen.append(label)
        except _Hint as hint:
            failed.append((label, hint))
    if not failed:
        return seen
    label, hint = failed[0]
    message = str(hint)
    errors = [(h.rel, lab) for lab, h in failed if h.rel is not None]
    if len(errors) >= 2 and min(errors)[0] < 0.01 * max(errors)[0]:
        (lo, lo_at), (hi, hi_at) = min(errors), max(errors)
        message += (
            f"; the error grows from {lo:.2g} on {lo_at} to {hi:.2g} on {hi_at}:"
            " your formula holds only in a limit (a leading-order approximation?)"
        )
    if seen:
        message += f" (right on {', '.join(seen[:3])}{', ...' if len(seen) > 3 else ''})"
    raise _Hint(message, hint.rel)


# --- inputs ---------------------------------------------------------------------------------------


def _weights_cases(seed: int) -> list[tuple[str, tuple]]:
    """Weights ``W`` ``(n, m)``: random sizes, then a zero row, ``m = n`` and all overlaps negative."""
    rng = np.random.default_rng(seed)
    out = []
    for n, m in ((3, 5), (int(rng.integers(4, 9)), int(rng.integers(20, 60)))):
        out.append((f"random weights n={n}, m={m}", (model.sample_weights(n, m, seed=int(rng.integers(1 << 30))),)))
    W = model.sample_weights(5, 12, seed=int(rng.integers(1 << 30)))
    W[2] = 0.0
    out.append(("weights with a zero row (n=5, m=12)", (W,)))
    out.append(("m = n = 6", (model.sample_weights(6, 6, seed=int(rng.integers(1 << 30))),)))
    out.append(("all overlaps negative (n=4, m=7)", (_negative_weights(4, 7, rng),)))
    return out


def _negative_weights(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` encodings whose pairwise overlaps are all negative: a regular simplex, rotated, rescaled."""
    simplex = np.eye(n) - 1.0 / n
    Q, _ = np.linalg.qr(rng.normal(size=(m, n)))
    return rng.uniform(0.5, 1.5, size=(n, 1)) * (simplex @ Q.T)


def _gram_cases(seed: int, *, zero_row: bool = False) -> list[tuple[str, tuple]]:
    """Gram matrices: from the weight cases (the zero row only if the formula allows it)."""
    return [
        (label.replace("weights", "Gram matrix of weights"), (args[0] @ args[0].T,))
        for label, args in _weights_cases(seed)
        if zero_row or "zero row" not in label
    ]


def _pair_cases(seed: int) -> list[tuple[str, tuple]]:
    """``(a, b, g)``: two squared norms and an overlap, typical first, then the edges of the regime."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(3):
        a, b = rng.uniform(0.5, 1.5, size=2)
        g = rng.uniform(0.0, 0.05) * np.sqrt(a * b)
        out.append((f"a small overlap (a={a:.3g}, b={b:.3g}, g={g:.3g})", (float(a), float(b), float(g))))
    for kappa in (0.6, 0.95):
        a, b = rng.uniform(0.5, 1.5, size=2)
        g = kappa * np.sqrt(a * b)
        out.append((f"a large overlap (a={a:.3g}, b={b:.3g}, g={g:.3g})", (float(a), float(b), float(g))))
    out.append(("a pair that does not interfere (a=1, b=0.8, g=-0.1)", (1.0, 0.8, -0.1)))
    out.append(("a zero overlap (a=0.9, b=1.1, g=0)", (0.9, 1.1, 0.0)))
    return out


weights_cases = _weights_cases  # public: the inputs the book's exercises use, for chapter modules
gram_cases = _gram_cases
pair_cases = _pair_cases


def _gram2(a: float, b: float, g: float) -> np.ndarray:
    return np.array([[a, g], [g, b]])


def _number(answer: Any) -> float:
    if isinstance(answer, bool) or callable(answer):
        raise _Hint(f"the answer must be a number; got {type(answer).__name__}")
    try:
        x = float(answer)
    except (TypeError, ValueError):
        raise _Hint(f"the answer must be a number; got {type(answer).__name__} {answer!r}") from None
    if not math.isfinite(x):
        raise _Hint("the answer must be a finite number")
    return x


def _predict(value: Callable[[], float], tolerance: str) -> Callable[..., None]:
    """The judge of a numeric exercise: the answer must lie within the chapter's tolerance of ``value()``."""

    def judge(answer: Any, **context: float) -> None:
        x, want = _number(answer), value()
        tol = float(context[tolerance]) * (abs(want) if tolerance == "rtol" else 1.0)
        if abs(x - want) <= tol:
            return
        if want != 0 and abs(-x - want) <= tol:
            raise _Hint("the sign is wrong")
        if want != 0 and x / want > 0 and any(abs(x / want - f) < 0.02 for f in (2, 0.5, 4, 0.25, np.pi, 1 / np.pi)):
            raise _Hint("off by a constant factor (2, 4 or pi?)")
        raise _Hint(f"{'too large' if x > want else 'too small'}, beyond the check's tolerance")

    return judge


def _predict_exercise(key: str, title: str, value: Callable[[], float], tolerance: str, **extra: Any) -> None:
    _register(key, "predict", title, tolerance=tolerance, value=value, **extra)(_predict(value, tolerance))


# === chapter 1: setup ==============================================================================


@_register("1.1", "implement", "the interference force")
def _interference_force(answer: Any) -> None:
    def oracle(W: np.ndarray) -> np.ndarray:
        return model.forces(W, terms=("interference",))

    for label, (W,) in _weights_cases(11):
        got = _call(answer, (W,), label)
        try:
            _compare(got, oracle(W), label)
        except _Hint as hint:
            arr = np.asarray(got, dtype=float) if np.shape(got) == W.shape else None
            if arr is not None and np.all(np.isfinite(arr)) and _radial(W, arr - oracle(W)):
                raise _Hint(
                    f"{hint}; the difference lies along each W_i itself: which j does your sum run over?"
                ) from None
            raise


@_register("1.2", "derive", "a squared length under feature benefit alone")
def _logistic(answer: Any) -> None:
    rng = np.random.default_rng(12)
    cases = [
        (f"a0={a:.3g}, t={t:.3g}", (float(a), float(t)))
        for a, t in zip(rng.uniform(0.2, 2.5, 4), rng.uniform(0.05, 3, 4))
    ]
    cases += [
        ("a0=1 (the fixed point), t=2", (1.0, 2.0)),
        ("t=0 (a0=0.3)", (0.3, 0.0)),
        ("a tiny a0=1e-3, t=5", (1e-3, 5.0)),
    ]
    _function_cases(answer, cases, lambda a0, t: exact.logistic_norm_sq(a0, [t])[0], rtol=1e-9)


@_register("1.3", "implement", "the rate of the Gram matrix")
def _gram_rate(answer: Any) -> None:
    _function_cases(answer, _gram_cases(13, zero_row=True), flow.gram_rate)


# === chapter 2: numerator ===========================================================================


@_register("2.1", "implement", "the first-order rate of an overlap")
def _numerator_first_order(answer: Any) -> None:
    _function_cases(answer, _gram_cases(21), derivation.numerator_first_order)


@_register("2.2", "derive", "the median relative error at initialisation")
def _median_error(answer: Any) -> None:
    rng = np.random.default_rng(22)
    sizes = [(int(n), int(m)) for n, m in zip(rng.integers(20, 500, 4), rng.integers(10**4, 10**9, 4))]
    sizes += [(3, 3), (4, 1024), (2, 64)]
    cases = [(f"n={n}, m={m}" + (" (few features)" if n < 10 else ""), (n, m)) for n, m in sizes]
    _function_cases(answer, cases, theory.second_order_ratio, rtol=1e-9)


_predict_exercise("2.3", "the median error at n = 32, m = 4096", lambda: theory.second_order_ratio(32, 4096), "rtol")


# === chapter 3: denominator =========================================================================


@_register("3.1", "implement", "interference's share of the rate of a squared length")
def _norm_share(answer: Any) -> None:
    _function_cases(answer, _gram_cases(31), derivation.interference_norm_share)


@_register("3.2", "derive", "the mean relative rate of a squared length at initialisation")
def _mean_relative_rate(answer: Any) -> None:
    rng = np.random.default_rng(32)
    sizes = [(int(n), int(m)) for n, m in zip(rng.integers(5, 500, 4), rng.integers(500, 10**9, 4))]
    sizes += [(2, 2), (3, 1000)]
    _function_cases(
        answer, [(f"n={n}, m={m}", s) for s in sizes for n, m in [s]], derivation.expected_relative_norm_sq_rate
    )


_predict_exercise(
    "3.3",
    "the mean change of ln a_i over the phase at n = 32, m = 4096",
    lambda: float(theory.expected_norm_change(32, 4096, 5.0)),
    "rtol",
)


# === chapter 4: combined rate =======================================================================


@_register("4.1", "implement", "the rate of a cosine from the rate of the Gram matrix")
def _kappa_rate(answer: Any) -> None:
    cases = []
    for label, (G,) in _gram_cases(41):
        cases.append((label + ", dG/dt of the flow", (G, flow.gram_rate(G))))
    rng = np.random.default_rng(41)
    G = cases[1][1][0]
    dG = rng.normal(size=G.shape)
    cases.append(("a random symmetric dG", (G, dG + dG.T)))
    _function_cases(answer, cases, derivation.kappa_rate_from_gram_rate)


@_register("4.2", "derive", "the late decay rate of two encodings")
def _late_rate(answer: Any) -> None:
    _function_cases(answer, _pair_cases(42), lambda a, b, g: exact.pair_decay_rate(_gram2(a, b, g)), rtol=1e-9)


_predict_exercise(
    "4.3", "the late decay rate at n = 64, m = 65536", lambda: theory.late_collective_rate(64, 65536), "atol"
)


# === chapter 5: total push ==========================================================================


@_register("5.1", "derive", "the total push on two encodings")
def _total_push(answer: Any) -> None:
    _function_cases(
        answer, _pair_cases(51), lambda a, b, g: exact.pair_push_total(_gram2(a, b, g)), rtol=1e-6, atol=1e-14
    )


@_register("5.2", "implement", "the Gram-Schmidt coefficients")
def _gram_schmidt(answer: Any) -> None:
    _function_cases(answer, _gram_cases(52), derivation.gram_schmidt_coefficient)


_predict_exercise(
    "5.3",
    "the mean total push of an interfering pair at n = 32, m = 65536, times sqrt(m)",
    lambda: theory.expected_push(32, 65536) * np.sqrt(65536),
    "rtol",
)


# === chapter 6: fixed norm ==========================================================================


@_register("6.1", "implement", "the force at fixed norm")
def _fixed_norm_force(answer: Any) -> None:
    cases = [c for c in _weights_cases(61) if "zero row" not in c[0]]
    for label, (W,) in cases:
        got = _call(answer, (W,), label)
        want = fixed_norm.fixed_norm_force(W)
        try:
            _compare(got, want, label)
        except _Hint as hint:
            arr = np.asarray(got, dtype=float) if np.shape(got) == W.shape else None
            if arr is not None and np.all(np.isfinite(arr)) and _radial(W, arr - want):
                raise _Hint(f"{hint}; the difference lies along each W_i itself: the radial part") from None
            raise


@_register("6.2", "derive", "the cosine of two unit encodings at fixed norm")
def _fixed_norm_cosine(answer: Any) -> None:
    rng = np.random.default_rng(62)
    cases = [
        (f"kappa0={k:.3g}, t={t:.3g}", (float(k), float(t)))
        for k, t in zip(rng.uniform(0.01, 0.1, 2), rng.uniform(0.1, 2, 2))
    ]
    cases += [(f"a large kappa0={k:.3g}, t={t:.3g}", (float(k), float(t))) for k, t in zip((0.7, 0.99), (0.5, 2.0))]
    cases += [("t=0 (kappa0=0.5)", (0.5, 0.0)), ("a negative kappa0=-0.3 (no interference), t=1", (-0.3, 1.0))]
    _function_cases(answer, cases, lambda k, t: fixed_norm.pair_kappa("fixed_norm", k, [t])[0], rtol=1e-9)


_predict_exercise(
    "6.3", "when the fixed-norm model overtakes interference alone", lambda: fixed_norm.CROSSOVER_FIRST_ORDER, "atol"
)


# === chapter 7: whole model =========================================================================


def _sparse_cases(seed: int) -> list[tuple[str, tuple]]:
    rng = np.random.default_rng(seed)
    out = []
    for n, m in ((4, 8), (6, 20)):
        W = np.zeros((n, m))
        for i in range(n):
            W[i, rng.choice(m, size=int(rng.integers(1, 3)), replace=False)] = rng.normal(size=1)
        out.append((f"a sparse W (n={n}, m={m})", (W,)))
    out.append(("a dense W (n=3, m=5)", (model.sample_weights(3, 5, seed=int(rng.integers(1 << 30))),)))
    out.append(("W = 0 (n=3, m=4)", (np.zeros((3, 4)),)))
    W = np.zeros((3, 3))
    W[0, 1], W[1, 1], W[2, 0] = 1.0, 1e-300, -0.5
    out.append(("m = n = 3 with a tiny nonzero weight (1e-300 counts)", (W,)))
    W = np.zeros((4, 6))
    W[0, 0], W[1, 0], W[2, 3] = 0.9, -0.9, 0.8
    out.append(("a zero row (feature 3 died), n=4, m=6", (W,)))
    return out


@_register("7.1", "implement", "the number of polysemantic neurons")
def _count(answer: Any) -> None:
    results = []
    for label, (W,) in _sparse_cases(71):
        got = _call(answer, (W,), label)
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, np.integer, float, np.floating)):
            raise _Hint(f"return a count (an integer); got {type(got).__name__} (on {label})")
        results.append((label, got, whole.count_polysemantic(W), whole.count_polysemantic(W.T)))
    wrong = [(label, got, want) for label, got, want, _ in results if got != want]
    if wrong:
        label, got, want = wrong[0]
        rows = all(got == by_rows for _, got, _, by_rows in results)
        why = " (it counts features, rows, with two or more neurons: count neurons, columns)" if rows else ""
        raise _Hint(f"counts {'too many' if got > want else 'too few'} on {label}{why}")


@_register("7.2", "implement", "the soft-threshold step")
def _prox(answer: Any) -> None:
    rng = np.random.default_rng(72)
    V = rng.normal(size=(4, 6))
    cases = [
        ("random V (4, 6), threshold 0.3", (V, 0.3)),
        ("random V (2, 3), threshold 0.05", (rng.normal(size=(2, 3)), 0.05)),
    ]
    cases += [("threshold 0 (nothing moves)", (V, 0.0)), ("a threshold above every |V| (all zero)", (V, 10.0))]
    cases += [("V with exact zeros and ties |V| = threshold", (np.array([[0.0, 0.5, -0.5, 0.2]]), 0.5))]
    _function_cases(answer, cases, flow.soft_threshold, atol=1e-15)


@_register("7.3", "derive", "the rest length of a lone feature")
def _final_length(answer: Any) -> None:
    rng = np.random.default_rng(73)
    lams = sorted(float(x) for x in rng.uniform(0.001, 0.05, 3))
    cases = [(f"a small lam={x:.3g}", (x,)) for x in lams]
    cases += [("lam=0", (0.0,)), ("a large lam=0.3", (0.3,)), ("lam=0.38, near the critical 2/(3 sqrt 3)", (0.38,))]
    cases += [("lam=0.5, above the critical value (the feature dies)", (0.5,))]
    _function_cases(answer, cases, whole.final_length, rtol=1e-8)


_predict_exercise(
    "7.4", "the density of a lone encoding at tau = 1", lambda: float(whole.isolated_density([0.0, 1.0])[-1]), "atol"
)


# === chapter 8: the crowded regime =================================================================


@_register("8.1", "derive", "the lifted late coupling")
def _lifted_coupling(answer: Any) -> None:
    from . import crowding

    cases = [(f"nu={nu}", (nu,)) for nu in (0.5, 1.5, 3.0, 0.05)] + [("nu=0, no third encoding", (0.0,))]
    _function_cases(answer, cases, crowding.lifted_coupling_nu, rtol=1e-8, atol=1e-12)


def _third_cases(seed: int) -> list[tuple[str, tuple]]:
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(0, 0.03, (2, 30))
    return [
        ("30 third encodings", (X, Y)),
        ("one third encoding, both positive", (np.array([0.02]), np.array([0.05]))),
        ("all overlaps negative", (-np.abs(X), -np.abs(Y))),
    ]


@_register("8.2", "implement", "the first-order extra push of the third encodings")
def _third_push(answer: Any) -> None:
    from . import crowding

    _function_cases(answer, _third_cases(82), crowding.third_encoding_push, rtol=1e-9, atol=1e-15)


def _omega() -> float:
    from . import crowding

    return crowding.push_scatter_constant()


_predict_exercise("8.3", "the push scatter constant", _omega, "rtol")


# === chapter 9: where each result holds ===========================================================


@_register("9.1", "derive", "the boundary of the first-order rate")
def _first_order_boundary(answer: Any) -> None:
    from . import crowding

    cases = [(f"m={m}, level={lv}", (m, lv)) for m, lv in ((4096, 0.1), (65536, 0.05), (256, 0.3), (10**9, 0.01))]
    _function_cases(answer, cases, crowding.first_order_boundary, rtol=1e-9)


@_register("9.2", "implement", "where the decay at rate 2 holds")
def _within_crowding(answer: Any) -> None:
    from . import crowding

    n = np.array([8, 16, 32, 64, 128, 64, 512])
    m = np.array([65536, 4096, 4096, 1024, 65536, 64, 512])
    cases = [
        ("a grid of (n, m)", (n, m, 0.2)),
        ("nu = 1", (n, m, 1.0)),
        ("one point, n = 2", (np.array([2]), np.array([16]), 0.0)),
    ]
    _function_cases(answer, cases, crowding.within_crowding)


_predict_exercise("9.3", "the largest n with nu <= 1 at m = 65536", lambda: theory.crowding_limit(65536, 1.0), "rtol")
