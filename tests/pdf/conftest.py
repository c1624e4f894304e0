"""Fixtures of the print-edition suite (``make pdf``): the PDF, its text, the HTML book it was
printed from.

``make pdf`` builds ``_build/pdf/book.pdf`` and then runs this suite with ``BOOK_PDF_REQUIRED=1``,
so a missing PDF fails there; a bare ``pytest`` skips the PDF checks, saying so (``make test``
does not run this folder: the PDF is printed after it).

Environment: ``BOOK_PDF`` (default ``_build/pdf/book.pdf``), ``BOOK_HTML`` (default ``_build/html``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # pdf_support, in any import mode

from pdf_support import BOOK_HTML, BOOK_PDF, normal, toc_pages


@pytest.fixture(scope="session")
def pdf_path() -> Path:
    if not BOOK_PDF.exists():
        message = f"no print edition at {BOOK_PDF}: run `make pdf`"
        if os.environ.get("BOOK_PDF_REQUIRED"):
            pytest.fail(message)
        pytest.skip(message)
    return BOOK_PDF


@pytest.fixture(scope="session")
def reader(pdf_path: Path) -> Any:
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    return PdfReader(str(pdf_path))


@pytest.fixture(scope="session")
def page_texts(pdf_path: Path, reader: Any) -> list[str]:
    """The text of every page: poppler's ``pdftotext`` where installed (2 s for the book; pypdf
    takes over a minute on a busy 2-core machine), else pypdf."""
    if shutil.which("pdftotext"):
        out = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(pdf_path), "-"], capture_output=True, text=True, check=True, timeout=300
        ).stdout
        pages = out.split("\f")[: len(reader.pages)]
        assert len(pages) == len(reader.pages), "pdftotext and pypdf disagree on the number of pages"
        return [normal(p) for p in pages]
    return [normal(page.extract_text() or "") for page in reader.pages]


@pytest.fixture(scope="session")
def text(page_texts: list[str]) -> str:
    return "\n".join(page_texts)


@pytest.fixture(scope="session")
def html_pages() -> dict[str, str]:
    """The HTML of every page of the table of contents, as built."""
    pages = {}
    for page in toc_pages():
        path = BOOK_HTML / page
        if not path.exists():
            pytest.fail(f"{page} of _toc.yml is not in the HTML build {BOOK_HTML}: run `make book`")
        pages[page] = path.read_text(errors="replace")
    return pages
