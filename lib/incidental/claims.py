"""The claims register of the note (the design brief's table): every claim the book must check.

Each claim has an id, the chapter (notebook file stem) that checks it, and the note's statement.
The ledger (``book/ledger.ipynb``) and the contract test (``tests/test_contract.py``) use it to
make sure that every claim of every chapter in the book has at least one check.
"""

from __future__ import annotations

from typing import NamedTuple


class Claim(NamedTuple):
    """One line of the register."""

    id: str
    chapter: str
    statement: str
    whose: str = "note"
    """Whose statement it is: ``"note"`` (the research note), ``"paper"`` (Lecomte et al.'s
    picture, which the note feeds) or ``"book"`` (a question the book asks itself)."""


REGISTER: tuple[Claim, ...] = (
    Claim("S1", "01_setup", "κ_ij is unchanged by rescaling W_i or W_j; so feature benefit never changes it"),
    Claim("S2", "01_setup", "at initialisation ||W_i|| = Θ(1) and W_i·W_j = Θ(1/√m)"),
    Claim("S3", "01_setup", "with low regularisation only interference moves κ"),
    Claim("N1", "02_numerator", "the exact rate of W_i·W_j: a first-order term plus second-order terms"),
    Claim("N2", "02_numerator", "the second-order terms are negligible when n/m is small"),
    Claim("N3", "02_numerator", "hence the numerator shrinks at the relative rate -(||W_i||² + ||W_j||²)"),
    Claim("D1", "03_denominator", "d||W_i||²/dt = 2 (dW_i/dt)·W_i"),
    Claim("D2", "03_denominator", "interference's share of it at initialisation is -Θ(n/m)"),
    Claim("D3", "03_denominator", "so each norm changes at a relative rate -Θ(n/m)"),
    Claim("K1", "04_combined_rate", "dκ_ij/dt ≈ -κ_ij (||W_i||² + ||W_j||² - Θ(n/m))"),
    Claim("K2", "04_combined_rate", "hence dκ/dt ≈ -Θ(κ): exponential decay"),
    Claim("K3", "04_combined_rate", "W_i(t)·W_j(t) ≈ e^{-Θ(t)} W_i(0)·W_j(0) = Θ(e^{-Θ(t)}/√m)"),
    Claim("T1", "05_total_push", "the total push on W_i is -Θ(1/√m) W_j, like one Gram-Schmidt step"),
    Claim("T2", "05_total_push", "each such step lowers ||W_i||² by Θ(1/m)"),
    Claim("T3", "05_total_push", "summed over j, the loss is O(n/m): W_i is barely changed"),
    Claim("T4", "05_total_push", "at the end of the phase the encodings are like n independent uniform unit vectors"),
    Claim("X1", "06_fixed_norm", "the combined force when the norm is held fixed"),
    Claim("W1", "07_whole_model", "with all three forces, interference is resolved early, then L1 sparsifies", "paper"),
    Claim("W2", "07_whole_model", "the expected number of polysemantic neurons is Θ(n²/m)", "paper"),
    Claim(
        "W3",
        "07_whole_model",
        "the end state: which features share a neuron, with which signs, at what length",
        "paper",
    ),
    Claim("W4", "07_whole_model", "a feature ends on the neuron it was most aligned with at initialisation", "paper"),
    Claim(
        "C1",
        "08_crowded",
        "across the load up to m = n: which steps of chapters 2-5 hold, where each breaks, what happens beyond",
        "book",
    ),
    Claim("C2", "08_crowded", "the push scatter constant, derived: sqrt(3 - 1/pi^2)/8", "book"),
    Claim("C3", "08_crowded", "the late decay rate once n is not small against sqrt(m), derived", "book"),
    Claim("R1", "09_regimes", "each result holds where its derived boundary says, on a measured map", "book"),
)


def whose_statement(claim: str) -> str:
    """``"note"``, ``"paper"`` or ``"book"`` for a claim id of the register (``"book"`` if unlisted)."""
    for c in REGISTER:
        if c.id == claim:
            return c.whose
    return "book"
