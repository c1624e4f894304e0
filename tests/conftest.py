"""Shared pytest configuration: one BLAS thread, and a hypothesis profile sized for a 2-core CI machine."""

import os

# Before numpy is imported by any test module (and inherited by nbval's kernels): the book's
# matrices are small, and BLAS threads oversubscribe a shared 2-core machine (see the Makefile).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
from hypothesis import settings

settings.register_profile("book", max_examples=25, deadline=None, derandomize=True)
settings.load_profile("book")


@pytest.fixture(scope="session")
def playwright_session():
    """One Playwright driver for the whole test session.

    The browser suite and the JupyterLab suite each launch their own Chromium from it; two
    ``sync_playwright()`` contexts in one session would start the second inside the first's
    running asyncio loop, which Playwright's sync API refuses (so bare ``pytest`` at the root
    would error after the browser tests).
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the 'playwright' package is not installed (pip install -r requirements.txt)")
    driver = sync_playwright().start()
    try:
        yield driver
    finally:
        driver.stop()
