"""The print edition (``make pdf``): the PDF holds the whole HTML book, numbered as the HTML
book numbers it, with working internal links, contents and bookmarks, and no raw markup.

The PDF's text is extracted with pypdf and compared with the built HTML pages it was printed
from (``_build/html``); the first page of every chapter is rendered with ``pdftoppm`` (when
poppler-utils is installed) into ``_build/screenshots/pdf/`` and must not be blank.
"""

from __future__ import annotations

import html as htmllib
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pdf_support import BOOK_HTML, RAW_OBJECT_TEXT, SCREENSHOTS, flat

MIN_PAGES = 80
MAX_BYTES = 40_000_000
WIDGET_VIEW = 'type="application/vnd.jupyter.widget-view+json"'
WIDGET_NOTE = "Interactive figure: printed here at its default settings"
NUMBERED = r"(?:Figure\s+\d+\.\d+|(?:Proposition|Lemma|Theorem|Definition|Corollary|Conjecture)\s+\d+)"


def visible_text(page_html: str) -> str:
    """The article's text as a reader sees it (scripts, styles and tags dropped)."""
    start = page_html.find("<article")
    end = page_html.find("</article>")
    body = page_html[start:end] if start >= 0 and end > start else page_html
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S | re.I)
    body = re.sub(r'<a class="headerlink".*?</a>', " ", body, flags=re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", body))


def title(page_html: str) -> str:
    m = re.search(r"<h1>(.*?)(?:<a class=\"headerlink\"|</h1>)", page_html, flags=re.S)
    assert m, "a page of the book without a title"
    return htmllib.unescape(re.sub(r"<[^>]+>", "", m.group(1))).strip()


def outline(reader: Any) -> list[tuple[int, str, int]]:
    """The bookmarks, flattened: (depth, title, page index)."""
    out: list[tuple[int, str, int]] = []

    def walk(items: list[Any], depth: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                out.append((depth, str(item.title), reader.get_destination_page_number(item)))

    walk(reader.outline, 0)
    return out


def test_pages_and_size(pdf_path: Path, reader: Any) -> None:
    size = pdf_path.stat().st_size
    assert len(reader.pages) >= MIN_PAGES, f"{len(reader.pages)} pages, fewer than {MIN_PAGES}"
    assert size <= MAX_BYTES, f"{size / 1e6:.1f} MB, more than {MAX_BYTES / 1e6:.0f} MB"


def test_every_page_of_the_book_is_in_it_with_a_bookmark(reader: Any, text: str, html_pages: dict[str, str]) -> None:
    flat_text = flat(text)
    top = [flat(t) for depth, t, _ in outline(reader) if depth == 0]
    missing_text = [p for p, h in html_pages.items() if flat(title(h)) not in flat_text]
    missing_mark = [p for p, h in html_pages.items() if not any(flat(title(h)) in t for t in top)]
    # The introduction's title is the book's: its bookmark is "Introduction".
    missing_mark = [p for p in missing_mark if p != next(iter(html_pages))]
    assert not missing_text, f"pages of the book whose title is not in the PDF: {missing_text}"
    assert not missing_mark, f"pages of the book without a bookmark: {missing_mark}"
    assert any(t == flat("References") for t in top), "no bookmark for the references"


def test_contents_and_bookmarks_in_page_order(reader: Any, page_texts: list[str]) -> None:
    marks = outline(reader)
    assert marks and marks[0][1] == "Contents", f"the first bookmark is not the contents: {marks[:1]}"
    head = page_texts[1].strip().splitlines()[:3]  # the running header may come first
    assert "Contents" in head, f"the first page after the title page is not the contents: {head}"
    top_pages = [p for depth, _, p in marks if depth == 0]
    assert top_pages == sorted(top_pages), f"bookmarks out of page order: {top_pages}"
    assert len(marks) > len(top_pages), "the bookmarks list no section of any chapter"
    # The contents give each entry's page as the footers print it (page labels i, 1, 2, ...).
    labels = reader.page_labels
    assert labels[0] == "i" and labels[1] == "1", f"page labels {labels[:3]}"
    contents = flat("".join(page_texts[1 : top_pages[1]]))

    def gives(name: str, label: str) -> bool:
        # The entry's title, then its page within a few characters (a wrapped title's chapter
        # label and lines may come out of the text in another order).
        title = flat(name.split(" · ")[-1])
        at = contents.find(title[:24])
        return at >= 0 and label in contents[at + min(len(title), 24) : at + len(title) + 24]

    wrong = [(name, labels[page]) for depth, name, page in marks[1:] if depth == 0 and not gives(name, labels[page])]
    assert not wrong, f"the contents do not give these entries' pages: {wrong}"


def test_figure_and_proposition_numbers_as_in_the_html(text: str, html_pages: dict[str, str]) -> None:
    def numbered(t: str) -> Counter[str]:
        return Counter(re.sub(r"\s+", " ", m) for m in re.findall(NUMBERED, t))

    in_html = sum((numbered(visible_text(h)) for h in html_pages.values()), Counter())
    in_pdf = numbered(text)
    figures = sorted(k for k in in_html if k.startswith("Figure"))
    assert figures, "the HTML book shows no numbered figure"
    assert in_pdf == in_html, (
        f"numbered items differ: only in the HTML {sorted((in_html - in_pdf).elements())}, "
        f"only in the PDF {sorted((in_pdf - in_html).elements())}"
    )


def test_no_unresolved_reference_and_no_raw_object_text(text: str) -> None:
    at = text.find("??")
    assert at < 0, f"an unresolved reference: ...{text[max(0, at - 80) : at + 20]}..."
    found = [raw for raw in RAW_OBJECT_TEXT if raw in text]
    assert not found, f"raw Python object text in the PDF: {found}"
    assert "{eval}" not in text and "{eq}" not in text and "{doc}" not in text, "raw MyST markup in the PDF"


def test_every_widget_is_printed_with_its_note(text: str, html_pages: dict[str, str]) -> None:
    widgets = sum(h.count(WIDGET_VIEW) for h in html_pages.values())
    notes = flat(text).count(flat(WIDGET_NOTE))
    assert widgets, "the HTML book has no widget"
    assert notes == widgets, f"{widgets} widgets in the HTML book, {notes} printed with their note"


def test_solutions_are_at_the_end_of_their_chapter(text: str, html_pages: dict[str, str]) -> None:
    cells = sum(len(re.findall(r'class="cell\b[^"]*\btag_solution\b', h)) for h in html_pages.values())
    printed = flat(text).count(flat("(back to the exercise)"))
    assert printed == cells, f"{cells} solution cells in the HTML book, {printed} solutions printed at chapter ends"


def test_links_between_pages_are_internal(reader: Any) -> None:
    internal, outside, local = 0, [], []
    names = {str(k).lstrip("/") for k in reader.named_destinations}
    dangling = []
    for page in reader.pages:
        for annot in page.get("/Annots", None) or []:
            annot = annot.get_object()
            if annot.get("/Subtype") != "/Link":
                continue
            dest = annot.get("/Dest")
            action = annot.get("/A") or {}
            if dest is None and "/D" in action:
                dest = action["/D"]
            if dest is not None:
                internal += 1
                if isinstance(dest, str) and dest.lstrip("/") not in names:
                    dangling.append(dest)
            elif "/URI" in action:
                uri = str(action["/URI"])
                outside.append(uri)
                if uri.startswith(("http://127.0.0.1", "http://localhost", "file:")):
                    local.append(uri)
    assert internal >= 100, f"only {internal} internal links"
    assert not local, f"links to the local server or files instead of into the document: {local[:5]}"
    assert not dangling, f"links to destinations that do not exist: {dangling[:5]}"


def test_published_beside_the_html_book(pdf_path: Path, html_pages: dict[str, str]) -> None:
    published = BOOK_HTML / "book.pdf"
    assert published.exists(), f"{published} (the download button's target) is missing"
    assert published.read_bytes() == pdf_path.read_bytes(), f"{published} is not the PDF just built"
    without = [p for p, h in html_pages.items() if "download-book-pdf-button" not in h]
    assert not without, f"pages whose download menu does not offer the PDF: {without}"


def test_rendered_pages_are_not_blank(pdf_path: Path, reader: Any) -> None:
    """The title page and the first page of every chapter, rendered to PNG (looked at by people)."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: the PDF's pages are not rendered")
    from PIL import Image

    out = SCREENSHOTS / "pdf"
    out.mkdir(parents=True, exist_ok=True)
    pages = sorted({0} | {p for depth, _, p in outline(reader) if depth == 0})
    blank = []
    for index in pages:
        stem = out / f"page-{index + 1:03d}"
        subprocess.run(
            ["pdftoppm", "-png", "-r", "50", "-singlefile", "-f", str(index + 1), "-l", str(index + 1), pdf_path, stem],
            check=True,
            timeout=120,
        )
        image = Image.open(f"{stem}.png").convert("L")
        ink = sum(1 for v in image.get_flattened_data() if v < 200) / (image.width * image.height)
        if ink < 0.005:
            blank.append((index + 1, round(ink, 4)))
    assert not blank, f"pages rendered (nearly) blank: {blank}"
