"""What ``scripts/pdf/harvest.js`` does to a page of the book before it is printed, on a small
synthetic page shaped like MyST-NB's output (an exercise with an answer box and a folded
solution cell): answer boxes become blank boxes, solutions move to the end of the chapter with a
link each way, ids are made unique and links to other pages point inside the document."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from pdf_support import CHROMIUM_ARGS, HARVEST_JS, find_chromium

ORIGIN = "http://127.0.0.1:9"  # never contacted: the page is served from memory

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body>
<article class="bd-article">
<section id="chap"><h1>A chapter<a class="headerlink" href="#chap">#</a></h1>
<p>See <a class="reference internal" href="other.html#sec">the other page</a>, <a href="other.html">its top</a>,
<a href="#ex1">the first exercise</a>, <a href="../_sources/book/this.ipynb">the source</a> and
<a href="https://example.org/paper">a paper</a>.</p>
<section id="exercises"><h2>Exercises<a class="headerlink" href="#exercises">#</a></h2>
<section id="ex1"><h3>Exercise 9.1</h3>
<div class="exercise-box" data-answer="0.25"><label>Your number for Exercise 9.1:
<input class="exercise-input" type="text"></label> <button class="exercise-submit" type="button">Check</button>
<span class="exercise-feedback"></span></div>
<div class="cell tag_solution docutils container"><details class="hide above-input">
<summary>Show code cell source</summary><div class="cell_input"><pre>SOLUTION_ONE = 1</pre></div></details>
<div class="cell_output"><pre>ONE_OUTPUT</pre></div></div>
</section>
<section id="ex2"><h3>Exercise 9.2</h3><p>Predict it.</p>
<div class="cell tag_solution docutils container"><div class="cell_input"><pre>SOLUTION_TWO = 2</pre></div></div>
</section></section>
<section id="summary"><h2>Summary</h2><p>LAST_WORDS.</p></section>
</section></article></body></html>"""


@pytest.fixture(scope="module")
def harvested(playwright_session: Any) -> Iterator[dict[str, Any]]:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set $CHROMIUM)")
    browser = playwright_session.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
    try:
        page = browser.new_page()
        page.route(
            "**/*",
            lambda r: (
                r.fulfill(status=200, content_type="text/html", body=PAGE)
                if r.request.url == f"{ORIGIN}/book/this.html"
                else r.abort()
            ),
        )
        page.goto(f"{ORIGIN}/book/this.html")
        pages = {"/book/this.html": 0, "/book/other.html": 1}
        yield page.evaluate(HARVEST_JS.read_text(), {"k": 0, "pages": pages, "number": 9, "label": "Chapter 9"})
    finally:
        browser.close()


def test_answer_boxes_print_as_blank_boxes(harvested: dict[str, Any]) -> None:
    html = harvested["html"]
    assert "<input" not in html and "<button" not in html, "form controls left in the printed page"
    assert html.count('class="pdf-answer-box"') == 1


def test_solutions_move_to_the_end_of_the_chapter(harvested: dict[str, Any]) -> None:
    html = harvested["html"]
    assert harvested["solutions"] == 2
    for marker in ("SOLUTION_ONE", "SOLUTION_TWO", "ONE_OUTPUT"):
        assert html.index(marker) > html.index("LAST_WORDS"), f"{marker} is not after the chapter's last section"
    assert html.index("SOLUTION_ONE") < html.index("SOLUTION_TWO")
    assert "Solutions to the exercises" in html
    assert "Solution to Exercise 9.1" in html and "Solution to Exercise 9.2" in html
    # In the exercise a link to its solution, and back.
    assert 'href="#p0-pdf-solution-1"' in html and 'id="p0-pdf-solution-1"' in html
    assert 'href="#p0-pdf-solution-ref-1"' in html and 'id="p0-pdf-solution-ref-1"' in html
    ref = html.index('id="p0-pdf-solution-ref-1"')
    assert html.index('id="ex1"'.replace("ex1", "p0-ex1")) < ref < html.index("LAST_WORDS")
    assert "<details open" in html.replace('<details class="hide above-input" open', "<details open")
    assert any(s["title"] == "Solutions to the exercises" for s in harvested["sections"])


def test_ids_are_prefixed_and_links_stay_inside_the_document(harvested: dict[str, Any]) -> None:
    html = harvested["html"]
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert ids and all(i.startswith("p0-") for i in ids), ids
    assert 'href="#p1-sec"' in html, "a link to a section of another page"
    assert 'href="#p1"' in html, "a link to another page's top"
    assert 'href="#p0-ex1"' in html, "a link inside the page"
    assert "https://example.org/paper" in html, "an outside link is kept"
    assert "_sources" not in html and "the source" in html, "a link to a file that is not a page becomes text"
    assert "headerlink" not in html
    assert harvested["title"] == "A chapter"
    assert [s["title"] for s in harvested["sections"]][:2] == ["Exercises", "Summary"]
