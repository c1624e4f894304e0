"""Shared by the print-edition suite: paths, and text compared without its line breaks."""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "browser"))  # browser_support: Chromium, the toc's pages
sys.path.insert(0, str(ROOT / "scripts"))  # build_pdf

from browser_support import BOOK_HTML, CHROMIUM_ARGS, SCREENSHOTS, find_chromium, toc_pages  # noqa: E402

BOOK_PDF = Path(os.environ.get("BOOK_PDF", ROOT / "_build" / "pdf" / "book.pdf")).resolve()
HARVEST_JS = ROOT / "scripts" / "pdf" / "harvest.js"

# What a Python object's repr looks like when a rich output falls back to text.
RAW_OBJECT_TEXT = ("<IPython.core.display", "VBox(children=", "HBox(children=", "object at 0x", "HTML(value=")


def normal(text: str) -> str:
    """NFKC: a PDF's ligatures (the "fi" of "figure" as one glyph) read as their letters."""
    return unicodedata.normalize("NFKC", text)


def flat(text: str) -> str:
    """Text with every run of whitespace removed: line breaks fall differently in the PDF."""
    return re.sub(r"\s+", "", normal(text))


__all__ = [
    "BOOK_HTML",
    "BOOK_PDF",
    "CHROMIUM_ARGS",
    "HARVEST_JS",
    "RAW_OBJECT_TEXT",
    "ROOT",
    "SCREENSHOTS",
    "find_chromium",
    "flat",
    "normal",
    "toc_pages",
]
