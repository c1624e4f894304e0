"""The notation page: generated from ``incidental.notation``, every link points at an existing equation,
proposition or chapter (and resolves in the built HTML when there is one), and no symbol has two meanings."""

from __future__ import annotations

import html.parser
import json
import re
from pathlib import Path

import pytest
from incidental import book, notation
from incidental.notation import Entry

ROOT = Path(__file__).resolve().parents[1]
BUILT = ROOT / "_build" / "html" / "book" / "notation.html"


def labels_of(stem: str) -> set[str]:
    """Equation and proposition labels defined in ``book/<stem>`` (notebook or Markdown page)."""
    path = ROOT / "book" / f"{stem}.ipynb"
    if path.exists():
        text = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
    else:
        text = (ROOT / "book" / f"{stem}.md").read_text()
    return set(re.findall(r"^\$\$\s*\((eq-[\w-]+)\)", text, re.M)) | set(re.findall(r"^:label:\s*(\S+)", text, re.M))


def test_enough_symbols_and_terms() -> None:
    assert len(notation.SYMBOLS) + len(notation.GLOSSARY) >= 40
    assert len(notation.SYMBOLS) >= 40


def test_the_data_gives_each_symbol_one_meaning() -> None:
    notation.validate()


def test_a_symbol_with_two_meanings_fails() -> None:
    twice = notation.SYMBOLS + (Entry("f(t)", "another profile", "06_fixed_norm", None),)
    twice = twice + (Entry("f(t)", "a drift profile", "04_combined_rate", None),)
    with pytest.raises(ValueError, match="two meanings"):
        notation.validate(symbols=twice)
    with pytest.raises(ValueError, match="two meanings"):
        notation.validate(symbols=notation.SYMBOLS + (notation.SYMBOLS[0],))


@pytest.mark.parametrize("entry", notation.SYMBOLS + notation.GLOSSARY, ids=lambda e: e.name)
def test_each_link_points_at_an_existing_label(entry: Entry) -> None:
    pages = {*book.toc_chapters(), "intro", "ledger"}
    assert entry.chapter in pages, f"{entry.name}: {entry.chapter} is not a page of the book"
    if entry.label is not None:
        assert entry.label in labels_of(entry.chapter), f"{entry.name}: no label {entry.label} in {entry.chapter}"


def test_the_committed_page_is_the_generated_one() -> None:
    committed = (ROOT / notation.PAGE).read_text()
    assert committed == notation.page(), "book/notation.md is stale: run `python -m incidental.notation`"


def test_the_page_is_in_the_toc_and_linked_from_the_intro_and_every_chapter() -> None:
    assert "- file: book/notation" in (ROOT / "_toc.yml").read_text()
    assert "<notation>`" in (ROOT / "book" / "intro.md").read_text()
    for stem in book.toc_chapters():
        header = "".join(json.loads(book.notebook_path(stem).read_text())["cells"][0]["source"])
        assert "<notation>`" in header, f"{stem}: the overview does not link the notation page"


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"] or "")


def _parse(path: Path) -> _Links:
    p = _Links()
    p.feed(path.read_text())
    return p


@pytest.mark.skipif(not BUILT.exists(), reason="the book is not built (make book)")
def test_links_resolve_in_the_built_html() -> None:
    page = _parse(BUILT)
    targets = [h for h in page.hrefs if not h.startswith(("http", "mailto", "javascript"))]
    local = [h for h in targets if ".html" in h and "_static" not in h and "genindex" not in h]
    assert len(local) >= len(notation.SYMBOLS), "the built page has fewer links than symbols"
    for href in local:
        file, _, anchor = href.partition("#")
        target = (BUILT.parent / file).resolve() if file else BUILT
        assert target.exists(), f"link to a missing page: {href}"
        if anchor:
            assert anchor in _parse(target).ids, f"link to a missing anchor: {href}"
