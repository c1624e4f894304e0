"""Fixtures of the real-browser suite: the built book, a local server, headless Chromium.

The suite drives the Debian ``chromium`` (or the one named by ``$CHROMIUM``) through
Playwright's Python package; Playwright's own browser download is never used. Every request
the page makes is intercepted: requests to the local server go through, anything else is
recorded and aborted (and Chromium's host resolver maps every other host to nothing, as a
second wall). Without Chromium, or without the ``playwright`` package, every test here is
skipped with a reason that says so.

Environment:
- ``BOOK_HTML``: the built book to test (default ``_build/html`` at the repository root);
  when it has no ``index.html`` the book is built there first (``jupyter-book build``).
- ``CHROMIUM``: path of the Chromium executable.
- ``BOOK_SCREENSHOTS``: where screenshots and ``report.json`` go (default
  ``_build/screenshots``, beside the HTML so that it is not published with it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # browser_support, in any import mode

from browser_support import (
    BOOK_HTML,
    CHROMIUM_ARGS,
    CHROMIUM_CANDIDATES,
    REPORT,
    ROOT,
    SCREENSHOTS,
    all_pages,
    find_chromium,
    serve,
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "page_path" in metafunc.fixturenames:
        pages = all_pages()
        metafunc.parametrize("page_path", pages, ids=pages, scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip(
            "browser tests skipped: the 'playwright' Python package is not installed (pip install -r requirements.txt)"
        )
    path = find_chromium()
    if path is None:
        pytest.skip(
            "browser tests skipped: no Chromium found (looked for $CHROMIUM and "
            f"{', '.join(CHROMIUM_CANDIDATES)} on PATH); install it, e.g. "
            "`apt-get install chromium`, to test the rendered book in a real browser"
        )
    return path


@pytest.fixture(scope="session")
def book_html(chromium_path: str) -> Path:
    """The built book; built here (warnings are errors) when it is missing."""
    if not (BOOK_HTML / "index.html").exists():
        if not (ROOT / "_assets" / "vendor" / "MANIFEST.json").exists():
            pytest.fail(
                "the book is not built and its offline assets are not vendored: "
                "run `make book` (or `make assets` first)"
            )
        jb = Path(sys.executable).with_name("jupyter-book")
        out = BOOK_HTML.parent.parent if BOOK_HTML.parent.name == "_build" else None
        cmd = [str(jb), "build", str(ROOT), "--warningiserror", "--keep-going"]
        if out is not None and out != ROOT:
            cmd += ["--path-output", str(out)]
        result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if result.returncode != 0 or not (BOOK_HTML / "index.html").exists():
            pytest.fail(f"building the book failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return BOOK_HTML


@pytest.fixture(scope="session")
def server(book_html: Path) -> Iterator[str]:
    """A static HTTP server on 127.0.0.1 (a free port) over the built book; yields its base URL."""
    with serve(book_html) as url:
        yield url


@pytest.fixture(scope="session")
def browser(chromium_path: str, playwright_session: Any) -> Iterator[Any]:
    chromium = playwright_session.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if REPORT:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / "report.json").write_text(json.dumps(REPORT, indent=2, sort_keys=True) + "\n")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not REPORT:
        return
    tr = terminalreporter
    tr.section("rendered book in headless Chromium")
    for page, r in sorted(REPORT.items()):
        parts = [
            f"{r.get('html_bytes_with_images', 0) / 1e6:.2f} MB",
            f"{r.get('requests_local', 0)} local requests",
            f"{len(r.get('blocked_requests', []))} blocked",
            f"{len(r.get('console_errors', []))} console errors",
            f"{r.get('math_rendered', 0)}/{r.get('math_elements', 0)} formulas",
            f"{r.get('widgets_rendered', 0)}/{r.get('widgets', 0)} widgets",
        ]
        if "controls_moved" in r:
            parts.append(f"{r['controls_moved']} controls moved")
        if "internal_links" in r:
            parts.append(f"{r['internal_links']} internal links")
        tr.write_line(f"{page}: " + ", ".join(parts))
    tr.write_line(f"screenshots and report.json: {SCREENSHOTS}")
