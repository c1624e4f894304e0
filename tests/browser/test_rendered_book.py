"""The rendered book, page by page, in headless Chromium with the network walled off.

For every page of the built book (``_build/html``: the pages of ``_toc.yml`` and every other
HTML page of the build) these tests check that

- no request leaves the local server (every request is intercepted; any other URL is recorded
  and aborted, and the test fails listing it);
- the page logs no console error, throws no uncaught exception, and no request fails;
- every formula is typeset by MathJax (each ``.math`` element holds an ``mjx-container``, no
  MathJax error, and no raw ``\\(``, ``\\[``, ``$$`` or ``\\begin{`` left in the visible text
  outside code listings);
- every widget is rendered from the state embedded in the page (no kernel);
- moving each control with the keyboard (focus the slider handle, press ArrowRight, or
  ArrowLeft at the right end) changes the numbers and the figure the widget shows, and moving
  it back restores them;
- the page's HTML, with the images it shows, weighs under 3 MB;
- every internal link (and its ``#fragment``) resolves.

Screenshots: one full page per page, and one of the widget before and after each move, under
``_build/screenshots`` (see ``conftest.py``), with ``report.json``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import pytest
import yaml
from browser_support import BOOK_HTML, REPORT, ROOT, SCREENSHOTS

pytestmark = pytest.mark.browser

MAX_PAGE_BYTES = 3_000_000
VIEWPORT = {"width": 1280, "height": 900}
RENDER_TIMEOUT_MS = 90_000  # a limit, not a speed test: a busy 2-core CI machine once needed over 30 s for a page
MOVE_TIMEOUT_S = 5.0
RAW_MATH = ("\\(", "\\)", "\\[", "\\]", "$$", "\\begin{", "\\end{")

# --- JavaScript run in the page -------------------------------------------------------------

WAIT_FOR_MATHJAX = """async () => {
  if (document.fonts && document.fonts.ready) { await document.fonts.ready; }
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) { await mj.startup.promise; }
  return !!(mj && mj.version);
}"""

MATH_STATS = """() => {
  const skip = 'pre, code, .highlight, script, style, textarea, noscript, mjx-container';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const parts = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest(skip)) continue;
    if (el.checkVisibility && !el.checkVisibility()) continue;
    parts.push(node.nodeValue);
  }
  const maths = Array.from(document.querySelectorAll('.math'));
  const unrendered = maths.filter(m => !m.querySelector('mjx-container'))
                          .map(m => m.textContent.trim().slice(0, 80));
  return {
    text: parts.join(' '),
    math_elements: maths.length,
    math_rendered: maths.length - unrendered.length,
    unrendered: unrendered.slice(0, 10),
    containers: document.querySelectorAll('mjx-container').length,
    errors: Array.from(document.querySelectorAll('mjx-merror')).map(e => e.textContent.slice(0, 80)),
    mathjax: !!(window.MathJax && window.MathJax.version),
  };
}"""

# Display equations wider than the text column: the theme cuts them off at the edge.
WIDE_EQUATIONS = """() => Array.from(document.querySelectorAll('div.math')).map(d => {
  const inner = d.querySelector('mjx-container > *');
  if (!inner) return null;
  return {over: inner.getBoundingClientRect().width - d.clientWidth, id: d.id, text: d.textContent.slice(0, 60)};
}).filter(x => x && x.over > 2)"""

FIGURES = """() => {
  const figures = Array.from(document.querySelectorAll('figure.incidental-figure'));
  // The caption is the notebook's Markdown cell right after the figure's cell: here the paragraph after it.
  const caption = f => { const cell = f.closest('div.cell'); const next = cell && cell.nextElementSibling;
    return next && next.tagName === 'P' ? next.innerText.trim() : ''; };
  return {
    figures: figures.length,
    captioned: figures.filter(f => caption(f).length > 20 && f.querySelector('img, svg')).length,
    numbers: figures.map(f => { const m = caption(f).match(/^Figure \\d+\\.(\\d+)/); return m ? +m[1] : -1; }),
  };
}"""

# Each widget view is a <script type="application/vnd.jupyter.widget-view+json"> in the page;
# the HTML manager renders the view into a div.widget-subarea placed just before it.
WIDGET_VIEWS_RENDERED = """() => {
  const views = Array.from(document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]'));
  return views.every(s => { const r = s.previousElementSibling;
    return r && r.classList.contains('widget-subarea') && r.querySelector('.jupyter-widgets'); });
}"""

WIDGET_STATS = """() => {
  const views = Array.from(document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]'));
  return views.map((s, k) => {
    const root = s.previousElementSibling;
    const ok = !!(root && root.classList.contains('widget-subarea') && root.querySelector('.jupyter-widgets'));
    if (ok) { root.setAttribute('data-test-widget', String(k)); }
    const box = ok ? root.getBoundingClientRect() : {width: 0, height: 0};
    const error = ok && (root.querySelector('.jupyter-widgets-error-widget, .widget-error') ||
                         /Error displaying widget|Error rendering/i.test(root.textContent));
    return {
      rendered: ok && box.width > 0 && box.height > 0 && !error,
      error: error ? (root.textContent || '').slice(0, 200) : null,
      width: box.width, height: box.height,
      sliders: ok ? root.querySelectorAll('.noUi-handle').length : 0,
      dropdowns: ok ? root.querySelectorAll('select').length : 0,
      state: !!document.querySelector('script[type="application/vnd.jupyter.widget-state+json"]'),
    };
  });
}"""

# What a widget shows: the visible text (slider labels and readouts left out), the numbers in
# it, and the visible figures (inline SVG markup, image sources, canvas pixels).
WIDGET_SHOWS = """(root) => {
  const controls = '.widget-slider, .widget-dropdown, .widget-readout, .widget-label, .noUi-target, select, label';
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const parts = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest(controls) || el.closest('svg')) continue;
    if (el.checkVisibility && !el.checkVisibility()) continue;
    parts.push(node.nodeValue.trim());
  }
  const figures = [];
  root.querySelectorAll('svg, img, canvas').forEach(f => {
    if (f.closest(controls) || f.parentElement.closest('svg')) return;
    if (f.checkVisibility && !f.checkVisibility()) return;
    const box = f.getBoundingClientRect();
    if (box.width < 20 || box.height < 20) return;
    if (f.tagName.toLowerCase() === 'img') figures.push('img:' + f.currentSrc);
    else if (f.tagName.toLowerCase() === 'canvas') figures.push('canvas:' + f.toDataURL());
    else figures.push('svg:' + f.outerHTML);
  });
  const readouts = Array.from(root.querySelectorAll('.widget-readout, .noUi-handle'))
    .map(r => r.classList.contains('noUi-handle') ? r.getAttribute('aria-valuetext') : r.textContent.trim());
  const text = parts.filter(Boolean).join(' ');
  return {text: text, numbers: text.match(/[-+]?\\d*\\.?\\d+(?:e[-+]?\\d+)?/gi) || [],
          figures: figures, readouts: readouts};
}"""

HANDLE_STATE = """(h) => {
  const slider = h.closest('.widget-slider');
  const readout = slider && slider.querySelector('.widget-readout');
  return {now: h.getAttribute('aria-valuenow'), min: h.getAttribute('aria-valuemin'),
          max: h.getAttribute('aria-valuemax'),
          text: readout ? readout.textContent.trim() : h.getAttribute('aria-valuetext')};
}"""

LINKS = """() => Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))"""


# --- one visit of a page ---------------------------------------------------------------------


@dataclass
class Visit:
    """What the browser saw on one page."""

    page: str
    url: str
    final_url: str = ""
    local_requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    math: dict[str, Any] = field(default_factory=dict)
    widgets: list[dict[str, Any]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    screenshot: str = ""


def shot_name(page: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "__", page.removesuffix(".html"))


def open_page(browser: Any, server: str, page_path: str) -> tuple[Any, Any, Visit]:
    """A fresh context and page on ``page_path``, every request intercepted; loaded and settled."""
    visit = Visit(page=page_path, url=f"{server}/{page_path}")
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")

    def route(r: Any) -> None:
        url = r.request.url
        if url == server or url.startswith(server + "/"):
            visit.local_requests.append(url)
            r.continue_()
        elif url.startswith(("data:", "blob:", "about:")):
            r.continue_()
        else:
            visit.blocked.append(url)
            r.abort("blockedbyclient")

    context.route("**/*", route)
    page = context.new_page()
    page.set_default_timeout(RENDER_TIMEOUT_MS)  # every wait below (load, networkidle, MathJax)
    page.on(
        "console",
        lambda m: (
            m.type == "error"
            and visit.errors.append(
                f"console error: {m.text} (at {m.location.get('url', '?')}:{m.location.get('lineNumber', '?')})"
            )
        ),
    )
    page.on("pageerror", lambda e: visit.errors.append(f"uncaught exception: {e}"))
    page.on("requestfailed", lambda r: visit.errors.append(f"request failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and visit.errors.append(f"HTTP {r.status}: {r.url}"))
    page.on("websocket", lambda ws: visit.blocked.append(ws.url))

    source = (page_root(page_path)).read_text(errors="replace") if page_root(page_path).exists() else ""
    refresh = re.search(r'http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', source, re.I)
    page.goto(visit.url, wait_until="load")
    if refresh:  # a redirect page (index.html): follow it, then test where it lands
        target = urljoin(visit.url, refresh.group(1))
        page.wait_for_url(target, timeout=RENDER_TIMEOUT_MS)
        page.wait_for_load_state("load")
    settle(page)
    page.evaluate(WAIT_FOR_MATHJAX)
    if page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count():
        try:
            page.wait_for_function(WIDGET_VIEWS_RENDERED, timeout=RENDER_TIMEOUT_MS)
        except Exception:
            pass
    settle(page)
    visit.final_url = page.url
    return context, page, visit


def settle(page: Any, timeout_ms: int = 15_000) -> None:
    """Wait until no request has been in flight for 0.5 s, for at most ``timeout_ms``.

    Not an assertion: the page's ``load`` event has fired already, and what matters (no
    outside request, formulas and widgets rendered) is asserted by the tests. In two of
    several full runs on a 2-core machine, Chromium never reported the network idle on the
    largest page (04) within 30 s (nor 90 s) after its load event; failing the wait
    turned the whole page into a failed fixture before any check had looked at it.
    """
    try:
        page.wait_for_load_state("networkidle", timeout=timeout_ms)
    except Exception:
        pass


def page_root(page_path: str) -> Path:
    return BOOK_HTML / page_path


_VISITS: dict[str, Visit] = {}


@pytest.fixture(scope="session")
def visit(browser: Any, server: str, book_html: Path, page_path: str) -> Visit:
    """The page loaded once: requests, errors, math, widgets, links, and a full-page screenshot."""
    if page_path in _VISITS:
        return _VISITS[page_path]
    if not (book_html / page_path).exists():
        pytest.fail(f"{page_path} is not in the build ({book_html}): is it in _toc.yml but not built?")
    context, page, v = open_page(browser, server, page_path)
    try:
        v.math = page.evaluate(MATH_STATS)
        v.widgets = page.evaluate(WIDGET_STATS)
        v.links = page.evaluate(LINKS)
        v.figures = page.evaluate(FIGURES)
        v.math["too_wide"] = page.evaluate(WIDE_EQUATIONS)
        path = SCREENSHOTS / f"{shot_name(page_path)}.png"
        page.screenshot(path=str(path), full_page=True)
        v.screenshot = str(path)
    finally:
        context.close()
    _VISITS[page_path] = v
    r = REPORT.setdefault(page_path, {})
    r.update(
        requests_local=len(v.local_requests),
        blocked_requests=v.blocked,
        console_errors=v.errors,
        math_elements=v.math.get("math_elements", 0),
        math_rendered=v.math.get("math_rendered", 0),
        widgets=len(v.widgets),
        widgets_rendered=sum(w["rendered"] for w in v.widgets),
        screenshot=v.screenshot,
        final_url=v.final_url,
    )
    return v


# --- the checks ---------------------------------------------------------------------------------

RAW_MARKUP = ("{glue", "{eq}", "{doc}", "{prf:", ":label:", "{cite", "{eval}")


def test_no_raw_markup_is_visible(visit: Visit) -> None:
    text = visit.math["text"]
    left = [token for token in RAW_MARKUP if token in text]
    assert not left, f"raw MyST markup visible: {left}"


def test_no_display_equation_is_wider_than_the_page(visit: Visit) -> None:
    wide = visit.math.get("too_wide", [])
    assert not wide, "display equations cut off at the edge (split them over lines): " + "; ".join(
        f"{w['id']} ({w['over']:.0f} px too wide)" for w in wide
    )


def test_every_figure_has_its_caption(visit: Visit) -> None:
    f = visit.figures
    assert f["captioned"] == f["figures"], f"{f['figures'] - f['captioned']} figures without a caption"
    assert f["numbers"] == sorted(set(f["numbers"])), f"figure numbers repeat or go backwards: {f['numbers']}"


def test_no_request_leaves_the_local_server(visit: Visit) -> None:
    assert visit.local_requests, "the page made no request to the local server at all"
    assert not visit.blocked, "requests to outside the book were made (and blocked):\n" + "\n".join(
        sorted(set(visit.blocked))
    )


def test_no_console_errors(visit: Visit) -> None:
    assert not visit.errors, "\n".join(visit.errors)


def test_every_formula_is_rendered(visit: Visit) -> None:
    m = visit.math
    left = [d for d in RAW_MATH if d in m["text"]]
    assert not left, f"raw TeX delimiters {left} left in the visible text: " + "; ".join(
        m["text"][max(0, m["text"].find(d) - 60) : m["text"].find(d) + 60] for d in left
    )
    assert not m["unrendered"], f"{len(m['unrendered'])} formulas not typeset by MathJax: {m['unrendered']}"
    assert not m["errors"], f"MathJax errors: {m['errors']}"
    if m["math_elements"]:
        assert m["mathjax"], "the page has formulas but MathJax did not load"
        assert m["containers"] >= m["math_elements"]


def test_every_widget_is_rendered(visit: Visit) -> None:
    for k, w in enumerate(visit.widgets):
        assert w["state"], "the widget state is not embedded in the page"
        assert w["rendered"], f"widget {k} is not rendered: {w}"


def test_page_weighs_under_3_mb(book_html: Path, page_path: str, visit: Visit) -> None:
    size, parts = page_weight(book_html, page_path)
    REPORT.setdefault(page_path, {})["html_bytes_with_images"] = size
    assert size < MAX_PAGE_BYTES, f"{page_path}: {size / 1e6:.2f} MB (HTML and images: {parts})"


def test_internal_links_resolve(book_html: Path, server: str, visit: Visit) -> None:
    broken = []
    checked = 0
    base = visit.final_url or visit.url
    for href in visit.links:
        if href.startswith(("javascript:", "mailto:", "tel:")) or not href.strip():
            continue
        url = urljoin(base, href)
        if not (url == server or url.startswith(server + "/")):
            continue
        checked += 1
        problem = link_problem(book_html, server, url)
        if problem:
            broken.append(f"{href} -> {problem}")
    REPORT.setdefault(visit.page, {})["internal_links"] = checked
    assert not broken, "broken internal links:\n" + "\n".join(sorted(set(broken)))


def test_controls_move_the_widgets(browser: Any, server: str, page_path: str, visit: Visit) -> None:
    """Keyboard on every slider: the numbers and the figure change; moving back restores them."""
    if not visit.widgets:
        REPORT.setdefault(page_path, {})["controls_moved"] = 0
        return
    context, page, v = open_page(browser, server, page_path)
    moved = []
    try:
        page.evaluate(WIDGET_STATS)  # tags each rendered widget with data-test-widget
        for k, w in enumerate(visit.widgets):
            root = page.locator(f'[data-test-widget="{k}"]')
            assert root.count() == 1, f"widget {k} is not rendered"
            handles = root.locator(".noUi-handle")
            n = handles.count()
            assert n + w["dropdowns"] > 0, f"widget {k} has no control to move"
            for j in range(n):
                moved.append(move_slider(page, root, handles.nth(j), f"{shot_name(page_path)}__widget{k}__control{j}"))
        assert not v.blocked, f"requests left the local server while moving controls: {v.blocked}"
        assert not v.errors, "errors while moving controls:\n" + "\n".join(v.errors)
    finally:
        context.close()
    r = REPORT.setdefault(page_path, {})
    r["controls_moved"] = len(moved)
    r["moves"] = moved


def move_slider(page: Any, root: Any, handle: Any, name: str) -> dict[str, Any]:
    handle.scroll_into_view_if_needed()
    start = handle.evaluate(HANDLE_STATE)
    forward, backward = ("ArrowRight", "ArrowLeft")
    if start["now"] == start["max"]:
        forward, backward = backward, forward
    before = root.evaluate(WIDGET_SHOWS)
    root.screenshot(path=str(SCREENSHOTS / f"{name}__before.png"))
    handle.focus()
    page.keyboard.press(forward)
    after = wait_for_change(root, before)
    moved = handle.evaluate(HANDLE_STATE)
    root.screenshot(path=str(SCREENSHOTS / f"{name}__after.png"))
    label = f"{name}: {start['text']} -> {moved['text']} ({forward})"

    assert moved["now"] != start["now"], f"{label}: the slider did not move"
    assert after["readouts"] != before["readouts"], f"{label}: the readout did not change"
    assert before["figures"] and after["figures"], f"{label}: no figure shown"
    assert after["figures"] != before["figures"], f"{label}: the figure did not change"
    readouts = set(before["readouts"]) | set(after["readouts"])
    results_before = [x for x in before["numbers"] if x not in readouts]
    results_after = [x for x in after["numbers"] if x not in readouts]
    assert results_before, f"{label}: the widget shows no numbers"
    assert results_after != results_before, f"{label}: the numbers shown did not change: {results_after}"

    page.keyboard.press(backward)
    restored = wait_for_change(root, after)
    assert restored == before, f"{label}: moving back did not restore the first panel"
    return {
        "control": name,
        "from": start["text"],
        "to": moved["text"],
        "key": forward,
        "numbers_before": results_before[:12],
        "numbers_after": results_after[:12],
    }


def wait_for_change(root: Any, before: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + MOVE_TIMEOUT_S
    now = root.evaluate(WIDGET_SHOWS)
    while now == before and time.monotonic() < deadline:
        time.sleep(0.05)
        now = root.evaluate(WIDGET_SHOWS)
    return now


# --- the book's apparatus ------------------------------------------------------------------------


def notebook_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    found = re.findall(r"file:\s*(\S+)", (ROOT / "_toc.yml").read_text()) + [toc.get("root", "")]
    return [f"{f}.html" for f in found if (ROOT / f"{f}.ipynb").exists()]


@pytest.mark.parametrize("notebook_page", notebook_pages())
def test_notebook_pages_offer_ipynb_download_and_honest_launch_buttons(book_html: Path, notebook_page: str) -> None:
    """Download as .ipynb is offered; Binder/Colab buttons exist iff ``repository.url`` is set."""
    html = (book_html / notebook_page).read_text()
    downloads = re.findall(r'href="([^"]*_sources/[^"]+\.ipynb)"', html)
    assert downloads, f"{notebook_page} offers no .ipynb download"
    target = (book_html / notebook_page).parent / downloads[0]
    assert target.resolve().exists(), f"the .ipynb download of {notebook_page} is missing: {target}"

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    url = ((config.get("repository") or {}).get("url") or "").strip()
    launch = re.findall(r'href="(https://(?:mybinder\.org|colab\.research\.google\.com)[^"]*)"', html)
    if url:
        assert any("mybinder.org" in h for h in launch), "repository.url is set but there is no Binder button"
        if url.startswith("https://github.com/"):
            assert any("colab" in h for h in launch), "repository.url is set but there is no Colab button"
    else:
        assert not launch, f"repository.url is unset, yet launch buttons link to {launch}"


# --- helpers -------------------------------------------------------------------------------------


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if a.get(key):
                self.ids.add(str(a[key]))
        if tag == "img" and a.get("src"):
            self.images.append(str(a["src"]))
        elif tag == "image" and (a.get("href") or a.get("xlink:href")):
            self.images.append(str(a.get("href") or a.get("xlink:href")))
        elif tag == "object" and a.get("data"):
            self.images.append(str(a["data"]))
        elif tag == "source" and a.get("srcset"):
            self.images.extend(s.strip().split(" ")[0] for s in str(a["srcset"]).split(","))


_PARSED: dict[Path, _Refs] = {}


def parsed(path: Path) -> _Refs:
    if path not in _PARSED:
        refs = _Refs()
        refs.feed(path.read_text(errors="replace"))
        _PARSED[path] = refs
    return _PARSED[path]


def page_weight(book_html: Path, page_path: str) -> tuple[int, dict[str, int]]:
    """Bytes of the page's HTML plus every local image it shows (inline images are in the HTML)."""
    path = book_html / page_path
    parts = {page_path: path.stat().st_size}
    for src in dict.fromkeys(parsed(path).images):
        if src.startswith("data:") or "://" in src:
            continue
        image = (path.parent / unquote(urlsplit(src).path)).resolve()
        if image.is_file():
            parts[str(image.relative_to(book_html))] = image.stat().st_size
    return sum(parts.values()), parts


def link_problem(book_html: Path, server: str, url: str) -> str | None:
    """Why a local URL does not resolve (``None`` when it does)."""
    split = urlsplit(url)
    rel = unquote(split.path).lstrip("/")
    target = (book_html / rel).resolve()
    if book_html not in target.parents and target != book_html:
        return "outside the book"
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return f"missing file {target.relative_to(book_html)}"
    fragment = unquote(split.fragment)
    if fragment and target.suffix == ".html" and fragment not in parsed(target).ids:
        return f"no element with id {fragment!r} in {target.relative_to(book_html)}"
    return None


def test_search_works_offline(browser: Any, server: str, book_html: Path) -> None:
    """The search page finds a word of the book from the local search index, nothing else."""
    if not (book_html / "search.html").exists():
        pytest.skip("the build has no search page")
    context, page, v = open_page(browser, server, "search.html?q=interference")
    try:
        page.wait_for_selector("ul.search li", timeout=RENDER_TIMEOUT_MS)
        hits = page.locator("ul.search li").count()
        page.screenshot(path=str(SCREENSHOTS / "search__interference.png"), full_page=True)
    finally:
        context.close()
    REPORT.setdefault("search.html", {})["search_hits_for_interference"] = hits
    assert hits > 0
    assert not v.blocked, f"the search reached outside the book: {v.blocked}"
    assert not v.errors, "\n".join(v.errors)


# --- the exercises (issue 14) -------------------------------------------------------------------

EXERCISES = """() => {
  const statements = Array.from(document.querySelectorAll('p > strong:first-child'))
      .map(s => s.textContent.trim()).filter(t => /^Exercise \\d+\\.\\d+$/.test(t));
  const solutions = Array.from(document.querySelectorAll('div.cell.tag_solution'));
  const hidden = el => !el || (el.checkVisibility ? !el.checkVisibility() : el.offsetParent === null);
  return {
    statements,
    solutions: solutions.length,
    folded: solutions.filter(c => { const d = c.querySelector('details');
      return d && !d.open && hidden(c.querySelector('.cell_input')); }).length,
    passed: solutions.filter(c => c.querySelector('.exercise-verdict.exercise-pass')).length,
    blank: document.querySelectorAll('div.cell.tag_exercise-answer .exercise-verdict.exercise-blank').length,
    boxes: document.querySelectorAll('.exercise-box').length,
  };
}"""


def chapter_pages() -> list[str]:
    from browser_support import toc_pages

    return [p for p in toc_pages() if re.fullmatch(r"book/\d\d_\w+\.html", p)]


@pytest.mark.parametrize("chapter_page", chapter_pages())
def test_chapter_pages_show_exercises_with_folded_solutions(
    browser: Any, server: str, book_html: Path, chapter_page: str
) -> None:
    """Every chapter ends with at least 3 exercises numbered by chapter; each solution is folded (its code
    hidden until a click) and shows that it passed its check; each blank answer says "no answer yet"."""
    context, page, v = open_page(browser, server, chapter_page)
    try:
        ex = page.evaluate(EXERCISES)
    finally:
        context.close()
    REPORT.setdefault(chapter_page, {})["exercises"] = ex
    number = int(Path(chapter_page).name[:2])
    assert len(ex["statements"]) >= 3, f"{chapter_page}: {ex}"
    assert ex["statements"] == [f"Exercise {number}.{k}" for k in range(1, len(ex["statements"]) + 1)]
    assert ex["solutions"] == ex["folded"] == ex["passed"] == ex["blank"] == len(ex["statements"]), ex
    assert not v.errors, "\n".join(v.errors)


def test_a_solution_opens_and_the_answer_box_says_right_and_wrong(browser: Any, server: str, book_html: Path) -> None:
    """On a static page (no kernel): a click opens a folded solution; a number typed into a predict
    exercise's box is judged against the value and tolerance written into the page at build time."""
    built = [p for p in chapter_pages() if (book_html / p).exists()]
    pages = [p for p in built if "exercise-box" in (book_html / p).read_text(errors="replace")]
    assert pages, "no chapter has a numeric exercise's answer box"
    context, page, v = open_page(browser, server, pages[0])
    name = shot_name(pages[0])
    try:
        solution = page.locator("div.cell.tag_solution").first
        code = solution.locator(".cell_input")
        solution.scroll_into_view_if_needed()
        assert not code.is_visible(), "the solution is not folded"
        page.screenshot(path=str(SCREENSHOTS / f"{name}__solution_folded.png"))
        solution.locator("summary").first.click()
        code.wait_for(state="visible", timeout=5_000)
        page.wait_for_timeout(600)  # the theme fades the opened cell in
        assert "expect_pass=True" in code.inner_text()
        page.screenshot(path=str(SCREENSHOTS / f"{name}__solution_opened.png"))

        box = page.locator(".exercise-box").first
        want = float(box.get_attribute("data-answer"))
        tol = float(box.get_attribute("data-atol")) + float(box.get_attribute("data-rtol")) * abs(want)
        field, button, feedback = box.locator("input"), box.locator("button"), box.locator(".exercise-feedback")
        box.scroll_into_view_if_needed()
        verdicts = {}
        for label, typed in (
            ("right", f"{want:.6g}"),
            ("wrong", f"{want + 3 * tol + 0.5 * abs(want):.6g}"),
            ("not_a_number", "two"),
        ):
            field.fill(typed)
            button.click() if label != "wrong" else field.press("Enter")
            verdicts[label] = feedback.inner_text()
            page.wait_for_timeout(200)
            box.screenshot(path=str(SCREENSHOTS / f"{name}__answer_box_{label}.png"))
    finally:
        context.close()
    REPORT.setdefault(pages[0], {})["answer_box"] = verdicts
    assert verdicts["right"].startswith("Right"), verdicts
    assert verdicts["wrong"].startswith("Not yet"), verdicts
    assert "Type a number" in verdicts["not_a_number"], verdicts
    assert not v.errors and not v.blocked, (v.errors, v.blocked)
