"""The book's notation and glossary, as data: every symbol with its one meaning, where it is defined,
and its shape or range; every word the book uses in its own sense.

The notation page ``book/notation.md`` is generated from this module (``python -m incidental.notation``
writes it; ``tests/test_notation.py`` checks that the committed page is the generated one, that each
link points at an existing equation, proposition or chapter, and that no symbol is given two meanings).

A *where* is ``(chapter, label)``: the notebook stem of the chapter that defines the symbol and the label
of the display equation (``eq-...``) or proposition (``claim-...``, ``prop-...``, ``lemma-...``,
``remark-...``) that defines it, or ``None`` to link the chapter itself.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    """One symbol (TeX, without dollars) or one term of the glossary."""

    name: str
    meaning: str
    chapter: str
    label: str | None = None
    shape: str = ""


S = Entry  # short constructor for the table below

SYMBOLS: tuple[Entry, ...] = (
    # the model (chapter 1)
    S("n", "number of features", "01_setup", "eq-model", "integer, $n \\ge 2$"),
    S("m", "number of neurons (the dimension of an encoding)", "01_setup", "eq-model", "integer, $m \\ge n$"),
    S("W", "the weight matrix", "01_setup", "eq-model", "$n \\times m$"),
    S("W_i", "the *encoding* of feature $i$: row $i$ of $W$", "01_setup", "eq-model", "vector in $\\mathbb R^m$"),
    S("x", "the network's input (in training, a one-hot $e_i$)", "01_setup", "eq-model", "vector in $\\mathbb R^n$"),
    S("y", "the network's output, $\\mathrm{ReLU}(WW^\\top x)$", "01_setup", "eq-model", "vector in $\\mathbb R^n$"),
    S("e_i", "the $i$-th one-hot input, and its target", "01_setup", "eq-model", "vector in $\\mathbb R^n$"),
    S("L(W)", "the loss (reconstruction error plus the $L^1$ penalty)", "01_setup", "eq-loss", "$\\ge 0$"),
    S("\\lambda", "strength of the $L^1$ regularisation", "01_setup", "eq-loss", "$\\lambda \\ge 0$"),
    S("\\Vert W\\Vert_1", "sum of the absolute entries of $W$", "01_setup", "eq-loss", "$\\ge 0$"),
    S("t", "time of the gradient flow (training time)", "01_setup", "eq-forces", "$t \\ge 0$"),
    S("G", "the Gram matrix $WW^\\top$", "01_setup", "eq-gram-flow", "$n\\times n$, symmetric, positive semidefinite"),
    S(
        "G_{ij}",
        "the overlap $W_i\\cdot W_j$ ($G_{ii} = \\Vert W_i\\Vert^2$)",
        "01_setup",
        "eq-model",
        "real; $\\Theta(1/\\sqrt m)$ at initialisation",
    ),
    S(
        "A",
        "the matrix of the Gram flow, $\\dot W = AW$, $\\dot G = AG + GA^\\top$",
        "01_setup",
        "eq-gram-flow",
        "$n \\times n$",
    ),
    S("\\kappa_{ij}", "cosine similarity of $W_i$ and $W_j$", "01_setup", "eq-kappa", "$[-1, 1]$"),
    S("\\alpha", "a positive rescaling factor of an encoding", "01_setup", "claim-s1", "$\\alpha > 0$"),
    S(
        "\\Theta,\\ O",
        "same order as / at most the order of, as $m$ (and $n$) grow",
        "01_setup",
        "claim-s2",
        "asymptotic notation",
    ),
    # the numerator (chapter 2)
    S(
        "R",
        "the interference matrix, $R_{ij} = \\mathrm{ReLU}(G_{ij})$ off the diagonal",
        "02_numerator",
        "eq-interference-only",
        "$n\\times n$, entries $\\ge 0$",
    ),
    S(
        "F_{ij}",
        "first-order term of the overlap's rate: the pair acting on itself",
        "02_numerator",
        "eq-numerator-rate",
        "real",
    ),
    S(
        "S_{ij}",
        "second-order terms of the overlap's rate: the pushes of the third encodings",
        "02_numerator",
        "eq-numerator-rate",
        "real, $O(\\sqrt n/m)$",
    ),
    S(
        "S^{\\text{free}}_{ij}",
        "the note's second-order terms, with the ReLUs dropped",
        "02_numerator",
        "eq-second-free",
        "real",
    ),
    S(
        "r",
        "median relative error of the first-order rate at initialisation, $\\sqrt{3(n-2)/8m}$",
        "02_numerator",
        "eq-ratio-r",
        "$> 0$",
    ),
    S(
        "\\varepsilon_{ij}",
        "relative error of the first-order rate of a pair",
        "02_numerator",
        "eq-relative-rate",
        "real",
    ),
    S("h", "a time step of a numerical scheme (central differences, Runge-Kutta)", "02_numerator", None, "$h > 0$"),
    S(
        "C",
        "coupling matrix of the positive overlaps late in the flow",
        "02_numerator",
        "eq-late-linearised",
        "square, entries $\\ge 0$",
    ),
    S(
        "\\mu(C)",
        "Perron root of $C$ (the late overlaps decay at rate $2 - \\mu$)",
        "02_numerator",
        "eq-late-linearised",
        "$\\ge 0$",
    ),
    # the denominator (chapter 3)
    S(
        "a_i",
        "squared length $\\Vert W_i\\Vert^2 = G_{ii}$",
        "03_denominator",
        "eq-den-kappa",
        "$> 0$; $1 + O(1/\\sqrt m)$ at initialisation",
    ),
    S(
        "\\rho_i",
        "interference's share of the relative rate of $a_i$",
        "03_denominator",
        "eq-norm-rho",
        "$\\le 0$; mean $-(n-1)/m$ at initialisation",
    ),
    S(
        "\\varphi_i",
        "feature benefit's share of the relative rate of $a_i$, $2(1 - a_i)$",
        "03_denominator",
        "eq-norm-fb-rms",
        "real; RMS $2\\sqrt{2/m}$ at initialisation",
    ),
    # the combined rate (chapter 4)
    S(
        "a,\\ b,\\ g",
        "of one pair: $a = G_{ii}$, $b = G_{jj}$, $g = G_{ij}$ ($a_0, b_0, g_0$ at $t = 0$)",
        "04_combined_rate",
        "eq-k-cosine",
        "reals, $a, b > 0$",
    ),
    S(
        "s",
        "of one pair: $a + b$, the first-order decay rate of its overlap ($s_0$ at $t = 0$)",
        "04_combined_rate",
        "eq-pair-invariant",
        "$> 0$, about 2",
    ),
    S(
        "N_{ij},\\ D_{ij},\\ Q_{ij}",
        "parts of a cosine's relative rate: numerator terms, norm drain, own projection",
        "04_combined_rate",
        "eq-kappa-parts",
        "reals",
    ),
    S(
        "\\gamma",
        "the net correction of a cosine's relative rate, in units of $n/m$",
        "04_combined_rate",
        "eq-k1-constant",
        "real; about $6/n$",
    ),
    S(
        "\\sigma",
        "spread of a pair's relative rate about $-(a+b)$, $\\sqrt{3(n-2)/2m}$",
        "04_combined_rate",
        "eq-spread",
        "$> 0$",
    ),
    S(
        "\\nu",
        "the crowding $(n-2)/\\sqrt{2\\pi m}$: how much the third encodings slow the late decay",
        "04_combined_rate",
        "eq-drift",
        "$\\ge 0$",
    ),
    S(
        "\\beta(t)",
        "the drift profile $t - \\tfrac12(1 - e^{-2t})$",
        "04_combined_rate",
        "eq-drift",
        "$\\ge 0$, increasing",
    ),
    S(
        "\\tilde g_{ij}(t)",
        "an overlap with the note's decay divided out, $g_{ij}(t)\\,e^{\\int_0^t (a+b)}$",
        "04_combined_rate",
        "eq-drift",
        "real",
    ),
    S(
        "\\Gamma(t)",
        "the population's overlap relative to the note's prediction",
        "04_combined_rate",
        "eq-drift",
        "$> 0$; 1 at $t = 0$",
    ),
    S(
        "r_\\infty",
        "late collective decay rate of the interfering overlaps, $\\approx 2 - \\nu$",
        "04_combined_rate",
        "eq-late-rate",
        "$> 0$",
    ),
    S("t^*", "breakdown time: when the note's exponential is 10% off", "04_combined_rate", "eq-breakdown", "$> 0$"),
    S(
        "s_\\infty",
        "late decay rate of a lone pair, $\\sqrt{s_0^2 - 4g_0^2}$",
        "04_combined_rate",
        "eq-pair-invariant",
        "$0 < s_\\infty < s_0$",
    ),
    # the total push (chapter 5)
    S(
        "t_\\mathrm{end}",
        "end time of the simulated interference phase (a knob)",
        "05_total_push",
        "eq-total-push",
        "$> 0$",
    ),
    S(
        "P_{ij}",
        "total push of $W_j$ on $W_i$: $\\int_0^{t_\\mathrm{end}} \\mathrm{ReLU}(G_{ij})\\,\\mathrm dt$",
        "05_total_push",
        "eq-total-push",
        "$\\ge 0$; $\\Theta(1/\\sqrt m)$",
    ),
    S("c_{ij}", "Gram-Schmidt coefficient $G_{ij}/G_{jj}$", "05_total_push", "eq-gram-schmidt", "real"),
    S(
        "\\theta(t)",
        "of one pair: the integrated overlap $\\int_0^t g$ (a hyperbolic angle)",
        "05_total_push",
        "eq-pair-push",
        "$\\ge 0$",
    ),
    S(
        "L_{ij}",
        "squared length that $W_i$ loses to its pair's push",
        "05_total_push",
        "eq-loss-mean",
        "$\\ge 0$; $\\Theta(1/m)$",
    ),
    S(
        "z_{ij}",
        "scaled cosine $\\sqrt m\\,\\kappa_{ij}$",
        "05_total_push",
        "eq-end-law",
        "real; about $\\mathcal N(0,1)$ at initialisation",
    ),
    S(
        "d",
        "the lift $(n-2)/(4\\pi\\sqrt m)$ of the negative scaled cosines",
        "05_total_push",
        "eq-end-law",
        "$\\ge 0$",
    ),
    S(
        "\\Phi",
        "distribution function of the standard normal law",
        "05_total_push",
        "eq-end-law",
        "$\\mathbb R \\to (0, 1)$",
    ),
    # the fixed norm (chapter 6)
    S(
        "\\Pi_i",
        "projector onto the directions orthogonal to $W_i$",
        "06_fixed_norm",
        "eq-fn-projection",
        "$m \\times m$",
    ),
    S("A_\\circ", "the matrix of the fixed-norm Gram flow", "06_fixed_norm", "eq-fn-gram", "$n\\times n$"),
    S("\\kappa_0", "initial cosine of a pair", "06_fixed_norm", "eq-fn-pair", "$[-1, 1]$"),
    S(
        "\\hat W_i",
        "direction of an encoding, $W_i/\\Vert W_i\\Vert$",
        "06_fixed_norm",
        "eq-fn-directions",
        "unit vector in $\\mathbb R^m$",
    ),
    S(
        "\\eta(t)",
        "the relaxation profile $\\tfrac12(1 - e^{-2t})$ (so $t - \\eta(t) = \\beta(t)$)",
        "06_fixed_norm",
        "eq-fn-model-errors",
        "$[0, \\tfrac12)$",
    ),
    S(
        "\\delta_i",
        "initial deviation of a squared length, $a_i(0) - 1$",
        "06_fixed_norm",
        "eq-fn-model-errors",
        "real; variance $2/m$",
    ),
    # the whole model (chapter 7)
    S("w^*(\\lambda)", "length of an encoding at the end of training", "07_whole_model", "eq-wm-length", "$(0, 1]$"),
    S(
        "t_{res}",
        "time at which interference is resolved down to its floor $\\lambda/2$",
        "07_whole_model",
        "eq-wm-floor",
        "$> 0$",
    ),
    S("\\tau", "the sparsification clock $\\lambda\\sqrt m\\,t$", "07_whole_model", "eq-wm-clock", "$\\ge 0$"),
    S(
        "\\mathrm{prox}_{\\lambda h}",
        "soft threshold, the exact step of $L^1$ alone: $\\mathrm{sign}(u)\\max(\\lvert u\\rvert - \\lambda h, 0)$",
        "07_whole_model",
        "eq-wm-step",
        "$\\mathbb R \\to \\mathbb R$, entrywise",
    ),
    S(
        "X_{ij}",
        "the $L^1$ drive on an overlap, $\\mathrm{sign}(W_i)\\cdot W_j + W_i\\cdot\\mathrm{sign}(W_j)$",
        "07_whole_model",
        "eq-wm-floor",
        "real; about $\\mathcal N(0, 2)$",
    ),
    S(
        "q",
        "scaled weight size $\\sqrt m\\,\\lvert W_{ik}\\rvert$ ($\\bar q = \\mathbb E[q^2]/\\mathbb E[q]$, alive)",
        "07_whole_model",
        "eq-wm-clock",
        "$\\ge 0$; half-normal at $t = 0$",
    ),
    S(
        "\\xi(\\tau),\\ \\zeta(\\tau)",
        "the lone-encoding law's gain and shift: $q(\\tau) = \\xi q(0) - \\zeta$",
        "07_whole_model",
        "eq-wm-clock",
        "$\\xi \\ge 1$, $\\zeta \\ge 0$",
    ),
    S(
        "\\psi(\\tau)",
        "fraction of an encoding's weights still nonzero at clock $\\tau$",
        "07_whole_model",
        "eq-wm-clock",
        "$[0, 1]$; $\\psi(\\tau_{half}) = 1/2$",
    ),
    S(
        "K(\\tau)",
        "neurons that are the current argmax of a positive and of a negative feature",
        "07_whole_model",
        None,
        "integer $\\ge 0$",
    ),
    S(
        "\\#\\text{polysemantic}",
        "number of neurons with two or more features at the end",
        "07_whole_model",
        "eq-wm-count",
        "integer, $0 \\dots m$",
    ),
    # the crowded regime (chapter 8)
    S(
        "\\omega",
        "the push scatter constant, $\\sqrt{3 - 1/\\pi^2}/8$",
        "08_crowded",
        "eq-push-scatter",
        "$\\approx 0.213$",
    ),
    S(
        "\\mu'",
        "mean row sum of the late coupling, negative overlaps lifted",
        "08_crowded",
        "eq-lifted-coupling",
        "$[0, 2)$",
    ),
)
"""Every symbol of the book, with its one meaning (chapters 1-7)."""

T = Entry

GLOSSARY: tuple[Entry, ...] = (
    T(
        "the note",
        "the short research note the book follows: it derives how fast two encodings stop interfering (chapters 1-5)",
        "intro",
    ),
    T(
        "the paper",
        "*What Causes Polysemanticity?* (Lecomte, Thaman, Schaeffer, Bashkansky, Chow and Koyejo, 2023), "
        "whose analysis the note is part of",
        "intro",
    ),
    T(
        "the picture",
        "the paper's account of the end of training: a feature ends on the neuron it was most aligned "
        "with at initialisation, so the expected number of polysemantic neurons is $n(n-1)/(2(2m-1))$ "
        "(claims W1-W4)",
        "07_whole_model",
    ),
    T(
        "the register",
        "the list of claims the book must check (S1 ... W4, C1-C3 of the crowded regime and R1 of the map), each "
        "with whose statement it is",
        "ledger",
    ),
    T("claim", "one statement of the register, with its id (S1, N2, ...)", "ledger"),
    T(
        "check",
        "one numerical test of a claim: a prediction, a measurement, a tolerance, a regime and a "
        "verdict; a row of a chapter's check table and of the ledger",
        "ledger",
    ),
    T(
        "holds",
        "verdict: the measurement agrees with the prediction within a tolerance smaller than the effect it tests",
        "ledger",
    ),
    T("fails", "verdict: the measurement disagrees with the prediction", "ledger"),
    T(
        "unresolved",
        "verdict: the tolerance, or the interval, is too wide to tell the claim from its negation; never "
        "counted as holding",
        "ledger",
    ),
    T("the ledger", "the page that collects every check of every chapter", "ledger"),
    T("encoding", "the row $W_i$ of the weights that represents feature $i$", "01_setup", "eq-model"),
    T(
        "feature benefit, interference, regularisation",
        "the three forces of the gradient flow",
        "01_setup",
        "eq-forces",
    ),
    T(
        "interfering pair",
        "a pair with a positive overlap, $G_{ij} > 0$: only such pairs push each other",
        "01_setup",
        "eq-forces",
    ),
    T(
        "the interference phase",
        "the stretch of training over which interference resolves the positive overlaps (simulated under "
        "interference alone unless a chapter says otherwise, up to $t_\\mathrm{end}$)",
        "intro",
    ),
    T(
        "the load",
        "the ratio $n/m$ of features to neurons ($(n-2)/m$ where the $n-2$ third encodings count); the "
        "note assumes it small",
        "02_numerator",
    ),
    T(
        "the crowding",
        "the quantity $\\nu = (n-2)/\\sqrt{2\\pi m}$, which sets how far the late decay departs from rate 2",
        "04_combined_rate",
        "eq-drift",
    ),
    T(
        "first-order, second-order terms",
        "the pair's own term of an overlap's rate, and the pushes of the third encodings",
        "02_numerator",
        "eq-numerator-rate",
    ),
    T(
        "push model",
        "chapter 5's model of the end of the phase: each scaled cosine ends at $\\min(z(0) + d, 0)$",
        "05_total_push",
        "eq-end-law",
    ),
    T(
        "polysemantic neuron",
        "a neuron on which two or more features end with a nonzero weight",
        "07_whole_model",
        "eq-wm-count",
    ),
    T(
        "no-relocation rival",
        "chapter 7's rival count: the sign rule without relocation, $m(1 - (1 - 1/2m)^n)^2$",
        "07_whole_model",
        "eq-wm-count",
    ),
    T(
        "sign-blind rival",
        "chapter 7's rival count: every collision of initial argmaxes, whatever the signs (twice the constant)",
        "07_whole_model",
        "eq-wm-count",
    ),
    T("the crowded regime", "loads $n/m$ that are not small, up to $m = n$", "08_crowded"),
    T("the map", "where each result's check holds over a grid of $n$ and $m$, recorded by a script", "09_regimes"),
    T("knobs", "the visible cell above an experiment that holds every size, seed, time and tolerance it uses", "intro"),
)
"""The book's own words."""

REFERENCE_PREFIXES = ("claim-", "prop-", "lemma-", "remark-")


def validate(symbols: tuple[Entry, ...] = SYMBOLS, glossary: tuple[Entry, ...] = GLOSSARY) -> None:
    """Raise ``ValueError`` if a symbol (or a term) is listed twice, so given two meanings, or if an
    entry lacks a meaning or a chapter."""
    for kind, entries in (("symbol", symbols), ("term", glossary)):
        seen: dict[str, str] = {}
        for e in entries:
            key = " ".join(e.name.split())
            if not e.meaning.strip() or not e.chapter:
                raise ValueError(f"{kind} {e.name!r} needs a meaning and a chapter")
            if key in seen:
                raise ValueError(f"{kind} {e.name!r} has two meanings: {seen[key]!r} and {e.meaning!r}")
            seen[key] = e.meaning


def _link(e: Entry, titles: dict[str, str]) -> str:
    doc = f"{{doc}}`{titles.get(e.chapter, e.chapter)} <{e.chapter}>`"
    if e.label is None:
        return doc
    if e.label.startswith("eq-"):
        return f"{doc}, {{eq}}`{e.label}`"
    return f"{{prf:ref}}`{e.label}`"


CHAPTER_TITLES = {
    "intro": "introduction",
    "01_setup": "ch. 1",
    "02_numerator": "ch. 2",
    "03_denominator": "ch. 3",
    "04_combined_rate": "ch. 4",
    "05_total_push": "ch. 5",
    "06_fixed_norm": "ch. 6",
    "07_whole_model": "ch. 7",
    "08_crowded": "ch. 8",
    "09_regimes": "ch. 9",
    "ledger": "ledger",
}


def _cell(text: str) -> str:
    if "|" in text:
        raise ValueError(f"a table cell may not hold '|' (write \\Vert in TeX): {text!r}")
    return text


def page() -> str:
    """The Markdown of ``book/notation.md``."""
    validate()
    out = [
        "# Notation and glossary",
        "",
        "Every symbol of the book has one meaning, listed here with the place that defines it (chapter and",
        "equation, or proposition; equations are numbered page by page) and its shape or range. Indices",
        "$i, j$ name two encodings (a pair) and $k$ a third one. Letters bound inside a single proof or",
        "integral (an integration variable, the Gaussian variables $X, Y, Z$ of a lemma) are local to it.",
        "This page is generated from `incidental.notation`, where the symbols are kept as data; a test",
        "checks every link and fails on a symbol given two meanings.",
        "",
        "## Symbols",
        "",
        "| symbol | meaning | defined in | shape or range |",
        "|---|---|---|---|",
    ]
    for e in SYMBOLS:
        out.append(f"| ${_cell(e.name)}$ | {_cell(e.meaning)} | {_link(e, CHAPTER_TITLES)} | {_cell(e.shape)} |")
    out += ["", "## Glossary", "", "The book's own words, in the sense it uses them.", ""]
    out += ["| term | meaning | where |", "|---|---|---|"]
    for e in GLOSSARY:
        out.append(f"| **{_cell(e.name)}** | {_cell(e.meaning)} | {_link(e, CHAPTER_TITLES)} |")
    return "\n".join(out) + "\n"


PAGE = Path("book") / "notation.md"


def main(argv: list[str] | None = None) -> int:
    """``python -m incidental.notation [ROOT]``: write ``ROOT/book/notation.md`` (ROOT: the repository)."""
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else Path(__file__).resolve().parents[2]
    (root / PAGE).write_text(page())
    print(f"wrote {root / PAGE}: {len(SYMBOLS)} symbols, {len(GLOSSARY)} terms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
