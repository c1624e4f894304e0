"""Fixtures of the JupyterLab suite: a real JupyterLab (with jupyterlab-myst) on a free local
port, and headless Chromium driving it through Playwright.

JupyterLab serves a temporary copy of ``book/``, so running the chapters here never touches the
working tree; a second fixture checks, in the real tree, that git ignores outputs. Settings
overrides switch off the notebook's windowing (every cell stays in the page, so its text can be
read) and the news and update checks (no outside request). Without Chromium or Playwright every
test is skipped, saying why.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from browser_support import CHROMIUM_ARGS, find_chromium  # noqa: E402

SCREENSHOTS = Path(os.environ.get("LAB_SCREENSHOTS", ROOT / "_build" / "screenshots" / "lab")).resolve()
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"checkForUpdates": False, "fetchNews": "false"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ``book/`` for JupyterLab to run (the chapters find the library by import)."""
    root = tmp_path_factory.mktemp("lab") / "book"
    shutil.copytree(ROOT / "book", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return root


@pytest.fixture(scope="session")
def lab_server(lab_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """JupyterLab on 127.0.0.1 with no token, serving ``lab_root``; yields its URL."""
    settings = tmp_path_factory.mktemp("lab-settings")
    for name, value in SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    port = free_port()
    env = dict(
        os.environ,
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        INCIDENTAL_LEDGER_DIR=str(tmp_path_factory.mktemp("ledger")),
    )
    log = open(tmp_path_factory.mktemp("lab-log") / "lab.log", "w")
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        f"--ServerApp.root_dir={lab_root}",
        f"--LabApp.user_settings_dir={settings}",
        "--ServerApp.disable_check_xsrf=True",
        "--ContentsManager.pre_save_hook=incidental.labhooks.strip_outputs_before_save",
    ]  # as `make lab`
    if os.getuid() == 0:
        cmd.append("--allow-root")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start; see {log.name}") from None
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def browser(playwright_session: Any) -> Iterator[Any]:
    path = find_chromium()
    if path is None:
        pytest.skip("JupyterLab tests skipped: no Chromium found (apt-get install chromium)")
    b = playwright_session.chromium.launch(executable_path=path, args=[a for a in CHROMIUM_ARGS if "resolver" not in a])
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
