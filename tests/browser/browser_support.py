"""Shared by the browser suite's conftest and tests: paths, page discovery, the report."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BOOK_HTML = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html")).resolve()
SCREENSHOTS = Path(os.environ.get("BOOK_SCREENSHOTS", BOOK_HTML.parent / "screenshots")).resolve()
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--metrics-recording-only",
    "--no-pings",
    # Second wall behind request interception: no host name resolves except the local server's.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
# Folders of the build that hold assets, not pages.
NOT_PAGES = ("_static", "_sources", "_images", "vendor", "_screenshots", "screenshots")

#: Measurements of every page, written to SCREENSHOTS/report.json at the end of the session.
REPORT: dict[str, dict[str, Any]] = {}


def find_chromium() -> str | None:
    """The Chromium to drive: ``$CHROMIUM``, else the first candidate on ``PATH``, else
    Playwright's own Chromium if it was downloaded (``playwright install chromium``)."""
    named = os.environ.get("CHROMIUM")
    if named:
        return named if Path(named).exists() else None
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            path = p.chromium.executable_path
        return path if path and Path(path).exists() else None
    except Exception:
        return None


def toc_pages() -> list[str]:
    """The pages ``_toc.yml`` lists, as paths of HTML files relative to the build."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    files.append(node[key])
            for value in node.values():
                if isinstance(value, (list, dict)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return [str(Path(f).with_suffix("")) + ".html" for f in dict.fromkeys(files)]


def built_pages() -> list[str]:
    """Every HTML page of the build (relative paths), assets' folders left out."""
    if not BOOK_HTML.is_dir():
        return []
    return sorted(
        str(p.relative_to(BOOK_HTML))
        for p in BOOK_HTML.rglob("*.html")
        if not set(p.relative_to(BOOK_HTML).parts[:-1]) & set(NOT_PAGES)
    )


def all_pages() -> list[str]:
    """The pages to test: those of the toc (built or not: a missing one fails) and all built ones."""
    return sorted(set(toc_pages()) | set(built_pages()) | {"index.html"})


if __name__ == "__main__":  # used by the Makefile to say whether the browser tests will run
    import sys

    found = find_chromium()
    print(found or "")
    sys.exit(0 if found else 1)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """A static HTTP server on 127.0.0.1 (a free port) over ``directory``; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
