"""incidental.book: quoted numbers, results, the chapter's records, figures and the ledger."""

from __future__ import annotations

import json

import pytest
from incidental import book
from incidental.checks import Declared
from matplotlib.figure import Figure


@pytest.fixture(autouse=True)
def ledger_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("INCIDENTAL_LEDGER_DIR", str(tmp_path))
    return tmp_path


def test_a_quote_prints_its_formatted_value_bare():
    q = book.quote(0.123456, ".3f")
    assert repr(q) == str(q) == "0.123" and f"{q}" == "0.123" and f"{q:.1f}" == "0.1" and float(q) == 0.123456


def test_result_quotes_numbers_and_parameters():
    r = book.Result({"n": 16, "lam": 0.05, "ms": (1, 2)}, numbers={"err": book.quote(1.5e-9, ".1e")})
    assert repr(r.q.err) == "1.5e-09" and repr(r.q.n) == "16" and repr(r.q.lam) == "0.05"
    with pytest.raises(AttributeError, match="known: err, lam, ms, n"):
        _ = r.q.missing
    assert r.regime("n", "lam") == "n=16, lam=0.05"


def test_chapter_records_then_asserts(ledger_dir):
    chapter = book.Chapter("99_test", 99)
    ok = Declared("S1", "fine", "identity").close(predicted=1.0, measured=1.0, rtol=0.1).placed({"n": 4})
    bad = Declared("S2", "broken", "approximation").below(measured=2.0, bound=1.0).placed({"n": 4})
    table = chapter.checks(book.Result({}, [ok]))
    assert "fine" in table._repr_html_()
    with pytest.raises(AssertionError, match="claim S2 FAILS"):
        chapter.checks(bad)
    record = json.loads((ledger_dir / "99_test.json").read_text())
    assert [c["claim"] for c in record["checks"]] == ["S1", "S2"] and not record["complete"]
    assert record["checks"][1]["verdict"] == "fails"  # recorded before the assertion: the ledger shows it red
    chapter.finish()
    assert json.loads((ledger_dir / "99_test.json").read_text())["complete"]


def test_figures_are_numbered_and_captioned():
    chapter = book.Chapter("99_test", 3)
    first = chapter.figure(Figure(), "The first, with $\\kappa < 1$ and *emphasis*.")
    second = chapter.figure("<svg></svg>", "The second.")
    assert repr(first).startswith("Figure 3.1.") and repr(second).startswith("Figure 3.2.")
    html = first._repr_html_()
    assert "\\(\\kappa &lt; 1\\)" in html and "<em>emphasis</em>" in html and "data:image/png;base64," in html
    bare = chapter.figure(Figure())  # the caption is then the notebook's next Markdown cell
    assert repr(bare) == "Figure 3.3" and "figcaption" not in bare._repr_html_()
    with pytest.raises(ValueError, match="fig"):
        chapter.figure(42, "a caption")


def test_chapter_validates_its_name_and_number():
    with pytest.raises(ValueError, match="name"):
        book.Chapter("../x", 1)
    with pytest.raises(ValueError, match="number"):
        book.Chapter("x", -1)


def test_ledger_reads_records_and_names_missing_claims(ledger_dir, monkeypatch):
    monkeypatch.setattr(book, "notebook_fingerprint", lambda name: "same")
    chapter = book.Chapter("01_setup", 1)
    chapter.checks(Declared("S1", "s").close(predicted=1.0, measured=1.0).placed({}))
    chapter.finish()
    rows = book.load_ledger(["01_setup"], run_missing=False)
    assert [(r.chapter, r.check.claim, r.complete) for r in rows] == [("01_setup", "S1", True)]
    assert book.missing_claims(rows, ["01_setup"]) == ["S2", "S3"]
    html = book.ledger_html(rows, link_suffix=".html")
    assert "href='01_setup.html'" in html and "holds" in html
    with pytest.raises(ValueError, match="no current record of '02_numerator'"):
        book.load_ledger(["02_numerator"], run_missing=False)


def test_a_stale_record_is_not_read(ledger_dir, monkeypatch):
    monkeypatch.setattr(book, "notebook_fingerprint", lambda name: "old")
    book.Chapter("01_setup", 1).finish()
    monkeypatch.setattr(book, "notebook_fingerprint", lambda name: "new")
    assert book.read_record("01_setup") is None


def test_a_refuting_check_shows_the_note_struck_through():
    d = Declared("T4", "no pair keeps a positive overlap", "law", refutes="the encodings end like independent vectors")
    c = d.close(predicted=0.0, measured=0.0, atol=0.1).placed({"n": 8})
    row = book.LedgerRow("05_total_push", 5, c, True)
    html = book.ledger_html([row], link_suffix=".ipynb")
    assert "<s>the encodings end like independent vectors</s>" in html and "corrects the note" in html
    by_claim = book.claims_html([row], link_suffix=".html")
    assert "holds only as the book corrects it" in by_claim and by_claim.count("no check") == 3  # T1-T3 have none here
    assert "S1" not in by_claim  # chapter 1 is not among the rows
    with pytest.raises(ValueError, match="kind"):
        Declared("X", "s", "guess")


def test_a_runner_validates_every_knob_naming_it():
    @book.runner(min_lengths=dict(ms=3))
    def toy(*, n: int, m: int, ms: tuple[int, ...], seed: int, tolerance: float, window: tuple[float, float]):
        return book.Result(checks=[Declared("S2", "s").close(predicted=1.0, measured=1.0, rtol=tolerance)])

    good = dict(n=4, m=16, ms=(16, 32, 64), seed=0, tolerance=0.1, window=(0.0, 1.0))
    r = toy(**good)
    assert r.params == good and r.checks[0].regime == "n=4, m=16, ms=(16, 32, 64), seed=0, window=(0, 1)"
    bad = [
        ("n", 1, "n must be at least 2"),
        ("m", 2, "m must be >= n"),
        ("ms", (16, 32), "ms must hold at least 3"),
        ("ms", (16, 1, 64), "m must be at least 2"),
        ("seed", -1, "seed must be at least 0"),
        ("seed", 1.5, "seed must be an integer"),
        ("tolerance", -1.0, "tolerance must be positive"),
        ("tolerance", float("nan"), "tolerance must be a finite number"),
        ("window", (1.0, 0.5), "window must be a window"),
    ]
    for knob, value, message in bad:
        with pytest.raises(ValueError, match=message):
            toy(**{**good, knob: value})
    with pytest.raises(ValueError, match="unknown knob colour"):
        toy(**good, colour=1)


def test_a_runner_refuses_sizes_with_fewer_neurons_than_features():
    @book.runner
    def sweep(*, n: int, ms: tuple[int, ...], m: int, ns: tuple[int, ...]):
        return book.Result()

    sweep(n=8, ms=(8, 16), m=32, ns=(4, 32))
    with pytest.raises(ValueError, match=r"ms must be >= n .*got 8 and 4"):
        sweep(n=8, ms=(4, 16), m=32, ns=(4,))
    with pytest.raises(ValueError, match=r"m must be >= ns .*got 64 and 32"):
        sweep(n=8, ms=(8,), m=32, ns=(64,))
