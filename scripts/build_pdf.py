"""The print edition: one PDF of the whole book, printed from the built HTML book (``make pdf``).

Route: the HTML book is already built, executed once (``make book``); this script loads every
page of ``_toc.yml``, in order, in the headless Chromium the browser tests drive (offline: a
local server, every other request refused), lets MathJax (vendored) and the widgets (their
default panel, from the state embedded in the page) render, and turns each page's article into
static print-ready HTML (``scripts/pdf/harvest.js``): widget controls become one line naming
the settings shown and where the interactive version is, exercise solutions move to the end of
their chapter, answer boxes become blank boxes, ids are made unique and links between pages
become links inside the document. The pages are joined into one document after a table of
contents (the introduction's references moved to the end), styled for A4
(``scripts/pdf/print.css``) and printed with Chromium's PDF printer, which makes every internal
link a link to a named destination. A first print gives the page of every contents entry; the
second print carries those numbers. ``pypdf`` then adds the title page, the bookmarks (the
contents' entries: chapters and their sections) and page labels matching the printed numbers.

Nothing is re-executed: the PDF shows exactly what the HTML book shows (figure, equation and
proposition numbers included).

Usage: ``python scripts/build_pdf.py [--html _build/html] [--out _build/pdf/book.pdf]``;
``--no-publish`` leaves the HTML build alone (by default the PDF is also copied to
``<html>/book.pdf``, where the download button of every page points).
"""

from __future__ import annotations

import argparse
import html
import io
import json
import logging
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

logging.getLogger("pypdf").setLevel(logging.ERROR)  # Chromium's PDFs draw a harmless xref-size warning

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent / "pdf"
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from browser_support import CHROMIUM_ARGS, find_chromium, serve, toc_pages  # noqa: E402

VIEWPORT = {"width": 1100, "height": 900}
LOAD_TIMEOUT_MS = 180_000
PRINT_NAME = "__print_edition__.html"  # the joined document's (virtual) address on the local server
PDF_OPTIONS: dict[str, Any] = dict(
    format="A4",
    print_background=True,
    prefer_css_page_size=True,
    # No outline from Chromium: its bookmarks repeat some headings' text ("SummarySummary") and run
    # the chapter label into the title; assemble() writes them from the contents instead.
    outline=False,
    tagged=False,
)
FOOTER = '<div style="font-size:8px;width:100%;text-align:center;color:#555;"><span class="pageNumber"></span></div>'
HEADER = (
    '<div style="font-size:7px;width:100%;padding:0 17mm;color:#777;text-align:right;">'
    '<span class="title"></span></div>'
)

WAIT_FOR_RENDER = """async () => {
  if (document.fonts && document.fonts.ready) { await document.fonts.ready; }
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) { await mj.startup.promise; }
  const views = () => Array.from(document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]'));
  const done = () => views().every(s => { const r = s.previousElementSibling;
    return r && r.classList.contains('widget-subarea') && r.querySelector('.jupyter-widgets'); });
  const start = Date.now();
  while (!done()) {
    if (Date.now() - start > LIMIT) { return false; }
    await new Promise(r => setTimeout(r, 200));
  }
  if (mj && mj.typesetPromise) { await mj.typesetPromise(); }  // labels typeset by the widgets
  return true;
}""".replace("LIMIT", str(LOAD_TIMEOUT_MS))

STYLES = """() => {
  const links = [], texts = [];
  for (const sheet of Array.from(document.styleSheets)) {
    if (sheet.href) { links.push(sheet.href); continue; }
    try { texts.push(Array.from(sheet.cssRules).map(r => r.cssText).join('\\n')); } catch (e) {}
  }
  return {links, texts};
}"""


# --- the book: pages, numbers, configuration ------------------------------------------------


def book_config() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "_config.yml").read_text()) or {}


def chapter_number(page: str) -> int | None:
    """``book/02_numerator.html`` -> 2: the chapter number is the file's two-digit prefix."""
    m = re.match(r"(\d+)_", Path(page).name)
    return int(m.group(1)) if m else None


def labels(pages: list[str]) -> list[str]:
    """What is printed above each page's title: Introduction, Chapter N, Appendix."""
    numbers = [chapter_number(p) for p in pages]
    last = max((i for i, n in enumerate(numbers) if n is not None), default=-1)
    out = []
    for i, n in enumerate(numbers):
        if i == 0:
            out.append("Introduction")
        elif n is not None:
            out.append(f"Chapter {n}")
        elif i > last:
            out.append("Appendix")
        else:
            out.append("")
    return out


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


# --- the local server and the browser ----------------------------------------------------------


def offline_context(browser: Any, server: str, documents: dict[str, str]) -> Any:
    """A browser context that reaches only the local server; ``documents`` (url -> HTML) are
    served from memory, so the joined document is never written into the HTML build."""
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")

    def route(r: Any) -> None:
        url = r.request.url
        if url in documents:
            r.fulfill(status=200, content_type="text/html; charset=utf-8", body=documents[url])
        elif url == server or url.startswith(server + "/") or url.startswith(("data:", "blob:", "about:")):
            r.continue_()
        else:
            r.abort("blockedbyclient")

    context.route("**/*", route)
    return context


def harvest(browser: Any, server: str, pages: list[str]) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Every page rendered and turned into static HTML; the stylesheets they use."""
    script = (HERE / "harvest.js").read_text()
    index = {f"/{p}": k for k, p in enumerate(pages)}
    marks = labels(pages)
    links: dict[str, None] = {}
    texts: dict[str, None] = {}
    out = []
    context = offline_context(browser, server, {})
    try:
        for k, page_path in enumerate(pages):
            t0 = time.monotonic()
            page = context.new_page()
            page.set_default_timeout(LOAD_TIMEOUT_MS)
            page.goto(f"{server}/{page_path}", wait_until="load")
            if not page.evaluate(WAIT_FOR_RENDER):
                limit = LOAD_TIMEOUT_MS / 1000
                raise SystemExit(f"error: the widgets of {page_path} did not render within {limit:.0f} s")
            styles = page.evaluate(STYLES)
            links.update(dict.fromkeys(styles["links"]))
            texts.update(dict.fromkeys(styles["texts"]))
            got = page.evaluate(
                script, {"k": k, "pages": index, "number": chapter_number(page_path), "label": marks[k]}
            )
            got.update(page=page_path, k=k, label=marks[k], seconds=round(time.monotonic() - t0, 1))
            out.append(got)
            page.close()
            print(
                f"  {page_path}: {got['widgets']} widgets, {got['solutions']} solutions, "
                f"{got['internal_links']} internal links, {got['seconds']} s",
                flush=True,
            )
    finally:
        context.close()
    return out, list(links), list(texts)


# --- the joined document ---------------------------------------------------------------------


def contents_entries(parts: list[dict[str, Any]], back: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The contents (and bookmarks): every page with its label, and its sections (h2)."""
    entries = []
    for part in parts:
        label, title = part["label"], part["title"]
        if label == "Introduction":  # its title is the book's, on the title page already
            label, title = "", label
        sections = [{"id": s["id"], "title": s["title"]} for s in part["sections"]]
        entries.append({"id": f"p{part['k']}", "title": title, "label": label, "sections": sections})
    entries += [{"id": b["id"], "title": b["title"], "label": "", "sections": []} for b in back]
    return entries


def contents_html(entries: list[dict[str, Any]]) -> str:
    def line(target: str, title: str, label: str = "") -> str:
        label_html = f'<span class="pdf-toc-label">{html.escape(label)}</span> ' if label else ""
        return (
            f'<span class="pdf-toc-line"><a href="#{target}">{label_html}{html.escape(title)}</a>'
            f'<span class="pdf-toc-fill"></span><span class="pdf-toc-page" data-target="{target}">000</span></span>'
        )

    items = []
    for e in entries:
        subs = "".join(f"<li>{line(s['id'], s['title'])}</li>" for s in e["sections"])
        items.append(f"<li>{line(e['id'], e['title'], e['label'])}<ol>{subs}</ol></li>")
    return f'<nav class="pdf-contents" id="pdf-contents"><h1>Contents</h1><ol>{"".join(items)}</ol></nav>'


def joined_document(
    parts: list[dict[str, Any]], links: list[str], texts: list[str], title: str
) -> tuple[str, list[dict[str, Any]]]:
    """The whole book as one HTML document (contents, then every page, then the references),
    and its contents entries."""
    back = []
    bodies = []
    for part in parts:
        body = part["html"]
        # The references (a section of the introduction) go to the end of the book.
        m = re.search(rf'<section id="p{part["k"]}-references"[^>]*>', body)
        if m:
            start, depth, i = m.start(), 0, m.start()
            for tag in re.finditer(r"<(/?)section\b[^>]*>", body[m.start() :]):
                depth += -1 if tag.group(1) else 1
                if depth == 0:
                    i = m.start() + tag.end()
                    break
            section = body[start:i]
            body = body[:start] + body[i:]
            section = re.sub(r"<h2>", '<h1 class="pdf-back-title">', section, count=1)
            section = re.sub(r"</h2>", "</h1>", section, count=1)
            back.append({"id": f"p{part['k']}-references", "title": "References", "html": section})
            part["sections"] = [s for s in part["sections"] if s["id"] != f"p{part['k']}-references"]
        label = f'<span class="pdf-chapter-label">{html.escape(part["label"])}</span>' if part["label"] else ""
        body = re.sub(r"<h1>", f"<h1>{label}", body, count=1)
        bodies.append(f'<article class="bd-article pdf-page" id="p{part["k"]}">{body}</article>')
    for b in back:
        bodies.append(f'<article class="bd-article pdf-page pdf-back">{b["html"]}</article>')
    entries = contents_entries(parts, back)
    head = "\n".join(f'<link rel="stylesheet" href="{html.escape(h)}">' for h in links)
    head += "\n" + "\n".join(f"<style>{t}</style>" for t in texts)
    head += f"\n<style>{(HERE / 'print.css').read_text()}</style>"
    document = (
        '<!DOCTYPE html>\n<html lang="en" data-theme="light" data-mode="light">'
        f'<head><meta charset="utf-8"><title>{html.escape(title)}</title>{head}</head>'
        f'<body class="pdf-book">{contents_html(entries)}{"".join(bodies)}</body></html>'
    )
    return document, entries


def title_page_html(config: dict[str, Any], links: list[str]) -> str:
    title = html.escape(str(config.get("title", "")))
    author = html.escape(str(config.get("author", "")))
    year = html.escape(str(config.get("copyright", "")))
    commit = git_commit()
    built = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    source = f"built on {built}" + (f" from commit {html.escape(commit)}" if commit else "")
    head = "\n".join(f'<link rel="stylesheet" href="{html.escape(h)}">' for h in links[:2])
    return f"""<!DOCTYPE html><html lang="en" data-theme="light"><head><meta charset="utf-8">
<title>{title}</title>{head}<style>
@page {{ size: A4; margin: 0; }}
body {{ margin: 0; background: #fff; }}
.t {{ height: 297mm; box-sizing: border-box; padding: 70mm 25mm 25mm 25mm; display: flex;
     flex-direction: column; font-family: var(--pst-font-family-base, sans-serif); color: #111; }}
h1 {{ font-size: 34px; line-height: 1.2; margin: 0 0 12mm 0; }}
.sub {{ font-size: 15px; color: #333; margin: 0 0 30mm 0; }}
.a {{ font-size: 15px; margin: 0; }}
.foot {{ margin-top: auto; font-size: 10.5px; color: #555; line-height: 1.5; }}
</style></head><body><div class="t">
<h1>{title}</h1>
<p class="sub">An explorable textbook on the toy model y = ReLU(W W<sup>T</sup> x): how fast two feature
encodings stop interfering during training, checked numerically claim by claim.</p>
<p class="a">{author}</p>
<div class="foot"><p>Print edition, {source}: the pages of the HTML book, as its notebooks computed them
when the book was built. Each interactive figure is printed at its default settings; it moves in the
HTML book (<code>make book</code>) and over its full range in JupyterLab (<code>make lab</code>).</p>
<p>&copy; {year}</p></div></div></body></html>"""


# --- printing ---------------------------------------------------------------------------------


def destinations(pdf: bytes) -> tuple[int, dict[str, int], dict[str, float]]:
    """Pages of the PDF, the page index of each named destination (an element's id: Chromium
    names the target of every internal link), and its height on the page."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    found, tops = {}, {}
    for name, dest in reader.named_destinations.items():
        try:
            found[name.lstrip("/")] = reader.get_destination_page_number(dest)
            tops[name.lstrip("/")] = float(dest.get("/Top") or 0)
        except Exception:
            continue
    return len(reader.pages), found, tops


FILL_PAGES = """(numbers) => {
  let missing = [];
  for (const el of document.querySelectorAll('.pdf-toc-page')) {
    const n = numbers[el.dataset.target];
    if (n === undefined) { missing.push(el.dataset.target); el.textContent = ''; }
    else { el.textContent = String(n); }
  }
  return missing;
}"""


def print_book(browser: Any, server: str, document: str, title_page: str) -> tuple[bytes, bytes, dict[str, Any]]:
    url = f"{server}/book/{PRINT_NAME}"
    title_url = f"{server}/book/title_{PRINT_NAME}"
    context = offline_context(browser, server, {url: document, title_url: title_page})
    report: dict[str, Any] = {}
    try:
        page = context.new_page()
        page.set_default_timeout(LOAD_TIMEOUT_MS)
        page.goto(url, wait_until="load")
        page.emulate_media(media="print")
        # Laid out for print, then every web font it uses (MathJax's among them) loaded.
        page.evaluate(
            "async () => { void document.body.offsetHeight; if (document.fonts) { await document.fonts.ready; } }"
        )
        options = dict(PDF_OPTIONS, display_header_footer=True, header_template=HEADER, footer_template=FOOTER)
        t0 = time.monotonic()
        first = page.pdf(**options)
        print(f"  first print: {time.monotonic() - t0:.1f} s", flush=True)
        n_pages, dests, _ = destinations(first)
        numbers = {k: v + 1 for k, v in dests.items()}
        missing = page.evaluate(FILL_PAGES, numbers)
        pdf = page.pdf(**options)
        n_again, dests_again, tops = destinations(pdf)
        if n_again != n_pages or any(dests_again.get(k) != v for k, v in dests.items()):
            numbers = {k: v + 1 for k, v in dests_again.items()}  # the numbers moved a line: once more
            page.evaluate(FILL_PAGES, numbers)
            pdf = page.pdf(**options)
            n_again, dests_again, tops = destinations(pdf)
            print("  printed a third time: the page numbers moved the layout", flush=True)
        report.update(
            print_seconds=round(time.monotonic() - t0, 1),
            missing_contents_targets=missing,
            pages=dests_again,
            tops=tops,
        )
        page.close()
        title = context.new_page()
        title.goto(title_url, wait_until="load")
        title.emulate_media(media="print")
        title.evaluate("async () => { if (document.fonts) { await document.fonts.ready; } }")
        cover = title.pdf(format="A4", print_background=True, prefer_css_page_size=True)
        title.close()
    finally:
        context.close()
    return pdf, cover, report


def assemble(
    pdf: bytes, cover: bytes, config: dict[str, Any], entries: list[dict[str, Any]], report: dict[str, Any], out: Path
) -> int:
    """The title page before the printed book; bookmarks from the contents; page labels as
    printed (the title page i, then 1, 2, ... as in the footers); metadata."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import Fit

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.insert_page(PdfReader(io.BytesIO(cover)).pages[0], 0)
    pages, tops = report["pages"], report["tops"]

    def bookmark(target: str, title: str, parent: Any = None) -> Any:
        if target not in pages:
            return None
        return writer.add_outline_item(
            title=title, page_number=pages[target] + 1, parent=parent, fit=Fit.xyz(top=tops.get(target))
        )

    writer.add_outline_item(title="Contents", page_number=1)  # the first printed page
    for e in entries:
        top = bookmark(e["id"], f"{e['label']} · {e['title']}" if e["label"] else e["title"])
        for sub in e["sections"]:
            bookmark(sub["id"], sub["title"], parent=top)
    writer.set_page_label(0, 0, style="/r")
    writer.set_page_label(1, len(writer.pages) - 1, style="/D", start=1)
    writer.add_metadata(
        {
            "/Title": str(config.get("title", "")),
            "/Author": str(config.get("author", "")),
            "/Subject": "Print edition of the HTML book",
            "/Creator": "scripts/build_pdf.py (Chromium, pypdf)",
        }
    )
    writer.page_mode = "/UseOutlines"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:
        writer.write(f)
    return len(writer.pages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html", help="the built HTML book")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "pdf" / "book.pdf")
    parser.add_argument("--no-publish", action="store_true", help="do not copy the PDF to <html>/book.pdf")
    parser.add_argument("--pages", nargs="*", help="only these pages (for trying the layout)")
    parser.add_argument("--cache", type=Path, help="keep the rendered pages in this JSON file; reuse it")
    args = parser.parse_args(argv)

    html_dir = args.html.resolve()
    if not (html_dir / "book" / "intro.html").exists() and not (html_dir / "index.html").exists():
        print(f"error: no built HTML book in {html_dir}: run `make book` first", file=sys.stderr)
        return 1
    chromium = find_chromium()
    if chromium is None:
        print("error: no Chromium found (apt-get install chromium, or set $CHROMIUM)", file=sys.stderr)
        return 1
    pages = args.pages or toc_pages()
    missing = [p for p in pages if not (html_dir / p).exists()]
    if missing:
        print(f"error: pages of _toc.yml missing from {html_dir}: {missing}; run `make book`", file=sys.stderr)
        return 1

    from playwright.sync_api import sync_playwright

    config = book_config()
    start = time.monotonic()
    with serve(html_dir) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            print(f"rendering {len(pages)} pages of {html_dir} in {chromium}", flush=True)
            if args.cache and args.cache.exists():  # the server's address changes from run to run
                parts, links, texts = json.loads(args.cache.read_text().replace("{{server}}", server))
            else:
                parts, links, texts = harvest(browser, server, pages)
                if args.cache:
                    args.cache.write_text(json.dumps([parts, links, texts]).replace(server, "{{server}}"))
            document, entries = joined_document(parts, links, texts, str(config.get("title", "")))
            pdf, cover, report = print_book(browser, server, document, title_page_html(config, links))
        finally:
            browser.close()
    n = assemble(pdf, cover, config, entries, report, args.out)
    if report.get("missing_contents_targets"):
        print(f"warning: contents entries without a page: {report['missing_contents_targets']}", file=sys.stderr)
    size = args.out.stat().st_size
    summary = dict(
        pdf=str(args.out),
        pages=n,
        megabytes=round(size / 1e6, 2),
        seconds=round(time.monotonic() - start, 1),
        print_seconds=report.get("print_seconds"),
        widgets=sum(p["widgets"] for p in parts),
        solutions=sum(p["solutions"] for p in parts),
        internal_links=sum(p["internal_links"] for p in parts),
    )
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    if not args.no_publish:
        shutil.copyfile(args.out, html_dir / "book.pdf")
    print(
        f"{args.out}: {n} pages, {summary['megabytes']} MB, {summary['widgets']} widgets, "
        f"{summary['solutions']} solutions, in {summary['seconds']} s (printing {summary['print_seconds']} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
