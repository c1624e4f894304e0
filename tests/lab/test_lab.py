"""Every chapter in a real JupyterLab: run all, then read the page as a reader would.

For each notebook of ``_toc.yml`` (the ledger last) the test opens it in JupyterLab (with
jupyterlab-myst), runs all cells, and checks that

- no cell ends in an error;
- no raw markup is visible in the rendered Markdown or the outputs: the book's roles and
  directives (``{glue``, ``{eq}``, ``{doc}``, ``{prf:``, ``:label:``, ``{cite``, ``{eval}``) are
  all rendered, and every ``{eval}`` expression shows a value;
- every figure the chapter shows carries its caption (one per ``chapter.figure`` call);
- a live widget's slider, moved with the keyboard, changes its panel;
- saved (as ``make lab`` saves it, without outputs: ``incidental.labhooks``), the notebook leaves
  ``git status`` clean.

Screenshots of each chapter (top to bottom) go to ``_build/screenshots/lab``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

RAW_MARKUP = ("{glue", "{eq}", "{doc}", "{prf:", ":label:", "{cite", "{eval}")
RUN_TIMEOUT_S = 420
NOTEBOOKS = [
    name
    for name in re.findall(r"^\s*-\s*file:\s*book/(\S+)\s*$", (ROOT / "_toc.yml").read_text(), re.M)
    if (ROOT / "book" / f"{name}.ipynb").exists()
]

READ_PAGE = """() => {
  const cells = Array.from(document.querySelectorAll('.jp-Notebook .jp-Cell'));
  const text = cells.map(c => {
    if (c.classList.contains('jp-MarkdownCell')) {
      const r = c.querySelector('.jp-RenderedMarkdown, .jp-MarkdownOutput, .myst');
      return r ? r.innerText : '';
    }
    return Array.from(c.querySelectorAll('.jp-OutputArea-output')).map(o => o.innerText).join('\\n');
  });
  const unrenderedMarkdown = cells.filter(c => c.classList.contains('jp-MarkdownCell') &&
      !c.querySelector('.jp-RenderedMarkdown, .jp-MarkdownOutput, .myst')).length;
  const figures = Array.from(document.querySelectorAll('figure.incidental-figure'));
  return {
    text: text.join('\\n'),
    cells: cells.length,
    unrenderedMarkdown,
    errors: Array.from(document.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"], ' +
        '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]')).map(e => e.innerText.slice(0, 300)),
    figures: figures.length,
    // A figure's caption is the Markdown cell right after its cell, opening with "Figure N.k."
    captioned: figures.filter(f => { const next = cells[cells.indexOf(f.closest('.jp-Cell')) + 1];
      const text = next && next.classList.contains('jp-MarkdownCell') ? next.innerText.trim() : '';
      return /^Figure \\d+\\.\\d+\\./.test(text) && text.length > 20; }).length,
    busy: Array.from(document.querySelectorAll('.jp-InputPrompt')).filter(p => p.innerText.includes('*')).length,
  };
}"""


def run_all(page: Any) -> None:
    page.keyboard.press("Escape")
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()


def wait_until_idle(page: Any, timeout_s: float) -> dict[str, Any]:
    """Wait for every code cell to finish (no ``[*]`` prompt, kernel idle); return the page's reading."""
    deadline = time.monotonic() + timeout_s
    time.sleep(3)
    while time.monotonic() < deadline:
        state = page.evaluate(READ_PAGE)
        idle = (
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count() > 0
            or "Idle" in (page.locator(".jp-StatusBar-TextItem").all_inner_texts() or [""])[-1]
            or True
        )
        if state["busy"] == 0 and idle:
            time.sleep(4)  # jupyterlab-myst evaluates each Markdown cell's {eval} after it runs
            return page.evaluate(READ_PAGE)
        time.sleep(1)
    raise AssertionError(f"cells still running after {timeout_s} s")


def shoot(page: Any, folder: Path, name: str) -> None:
    """Screenshots of the notebook from top to bottom, one per screen."""
    scroller = ".jp-WindowedPanel-outer"
    height = page.evaluate(f"() => document.querySelector('{scroller}').scrollHeight")
    view = page.evaluate(f"() => document.querySelector('{scroller}').clientHeight")
    k = 0
    for top in range(0, max(height, 1), max(view - 80, 200)):
        page.evaluate(f"(y) => document.querySelector('{scroller}').scrollTo(0, y)", top)
        page.wait_for_timeout(250)
        page.screenshot(path=str(folder / f"{name}-{k:02d}.png"))
        k += 1


def move_a_live_slider(page: Any) -> tuple[str, str]:
    """Move the last live widget's first slider one step with the keyboard; the panel before and after."""
    widget = page.locator(".jp-OutputArea-output .widget-vbox").last
    panel = widget.locator(".widget-html-content").last
    before = panel.inner_html()
    handle = widget.locator(".noUi-handle, .widget-slider input, .slider-container").first
    handle.scroll_into_view_if_needed()
    handle.click()
    page.keyboard.press("ArrowRight")
    deadline = time.monotonic() + 120
    after = before
    while time.monotonic() < deadline:
        after = panel.inner_html()
        if after != before and "incidental-computing" not in after:
            break
        page.wait_for_timeout(500)
    widget.scroll_into_view_if_needed()
    return before, after


def git_sees_outputs(saved: Path, name: str) -> str:
    """``git status --porcelain`` of ``book/<name>.ipynb`` with the notebook JupyterLab saved in its
    place; the original is restored afterwards."""
    real = ROOT / "book" / f"{name}.ipynb"
    original = real.read_bytes()
    try:
        shutil.copyfile(saved, real)
        return subprocess.run(
            ["git", "status", "--porcelain", "--", str(real)], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    finally:
        real.write_bytes(original)


def open_and_run_all(page: Any, lab_server: str, name: str) -> dict:
    """Open chapter ``name`` fresh in JupyterLab, run all its cells, wait until the kernel is idle; the page's
    state (``wait_until_idle``)."""
    page.goto(f"{lab_server}/lab/tree/{name}.ipynb?reset")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator, .jp-KernelStatus", timeout=60_000)
    page.wait_for_timeout(3000)
    run_all(page)
    return wait_until_idle(page, RUN_TIMEOUT_S)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_chapter_reads_in_jupyterlab_as_in_the_book(
    name: str, lab_server: str, lab_root: Path, browser: Any, screenshots: Path
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        state = open_and_run_all(page, lab_server, name)
        shoot(page, screenshots, name)

        assert not state["errors"], f"{name}: cells ended in errors: {state['errors'][:3]}"
        assert state["unrenderedMarkdown"] == 0, f"{name}: Markdown cells left unrendered"
        raw = [token for token in RAW_MARKUP if token in state["text"]]
        assert not raw, f"{name}: raw markup visible in JupyterLab: {raw}"

        source = json.loads((lab_root / f"{name}.ipynb").read_text())
        code = "\n".join("".join(c["source"]) for c in source["cells"] if c["cell_type"] == "code")
        assert state["figures"] == code.count("chapter.figure("), f"{name}: figures shown != figures declared"
        assert state["captioned"] == state["figures"], f"{name}: a figure has no caption"

        if "explorable()" in code:
            before, after = move_a_live_slider(page)
            assert after != before, f"{name}: moving a live slider did not change its panel"
            assert "incidental-refused" not in after, f"{name}: the next setting was refused: {after[:300]}"
            page.screenshot(path=str(screenshots / f"{name}-slider-moved.png"))

        page.keyboard.press("Control+s")
        page.wait_for_timeout(2000)
        saved = lab_root / f"{name}.ipynb"
        executed = json.loads(saved.read_text())
        assert not any(c.get("outputs") for c in executed["cells"] if c["cell_type"] == "code"), (
            f"{name}: JupyterLab saved outputs"
        )
        status = git_sees_outputs(saved, name)  # "XY path": Y is the work tree against the index
        assert status[1:2] in ("", " "), f"{name}: git sees a change after a run in JupyterLab ({status!r})"
    finally:
        page.close()


def test_the_introduction_opens_rendered(lab_server: str, browser: Any, screenshots: Path) -> None:
    """``intro.md`` opens as a rendered page (the venv's JupyterLab settings, scripts/lab_overrides.json)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{lab_server}/lab/tree/intro.md?reset")
        heading = page.locator(".jp-RenderedMarkdown h1, .jp-MarkdownOutput h1, .myst h1").first
        heading.wait_for(timeout=60_000)
        page.wait_for_timeout(2000)
        page.screenshot(path=str(screenshots / "intro.png"))
        assert "Speed of lowering interference" in heading.inner_text()
        text = page.locator(".jp-RenderedMarkdown, .jp-MarkdownOutput, .myst").first.inner_text()
        raw = [token for token in RAW_MARKUP if token in text]
        assert not raw, f"intro.md: raw markup visible in JupyterLab: {raw}"
        assert "claims ledger" in text
    finally:
        page.close()


EXERCISES = """() => {
  const cells = Array.from(document.querySelectorAll('.jp-Notebook .jp-Cell'));
  const verdicts = Array.from(document.querySelectorAll('.jp-OutputArea-output')).map(o => o.innerText.trim())
      .filter(t => /^\\S?\\s*Exercise \\d+\\.\\d+: (right|not yet|no answer yet):/.test(t));
  const statements = cells.filter(c => c.classList.contains('jp-MarkdownCell') &&
      /^Exercise \\d+\\.\\d+ \\((derive|implement|predict)\\)/.test(c.innerText.trim())).length;
  return {
    verdicts,
    statements,
    collapsed: document.querySelectorAll('.jp-Cell .jp-InputPlaceholder').length,
    boxes: document.querySelectorAll('.exercise-box').length,
  };
}"""


def test_a_chapter_runs_with_its_exercises_blank(
    lab_server: str, lab_root: Path, browser: Any, screenshots: Path
) -> None:
    """Chapter 2 in JupyterLab with every answer cell left blank: it runs without an error, each answer
    cell says "no answer yet", each solution (collapsed: its source hidden) passes its check; then a
    wrong answer typed into an answer cell and run shows a hint, not a traceback."""
    name = "02_numerator"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        state = open_and_run_all(page, lab_server, name)
        deadline = time.monotonic() + 120  # until every exercise cell has shown its verdict
        ex = page.evaluate(EXERCISES)
        while len(ex["verdicts"]) < 2 * ex["statements"] and time.monotonic() < deadline:
            page.wait_for_timeout(1000)
            ex = page.evaluate(EXERCISES)
        state = page.evaluate(READ_PAGE)
        shown = page.locator(".jp-OutputArea-output", has_text="no answer yet")
        if shown.count():
            shown.first.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / f"{name}-exercises-blank.png"))
        assert not state["errors"], f"{name}: cells ended in errors: {state['errors'][:3]}"
        assert ex["statements"] >= 3, ex
        blank = [v for v in ex["verdicts"] if "no answer yet" in v]
        right = [v for v in ex["verdicts"] if ": right:" in v]
        assert len(blank) == len(right) == ex["statements"], ex["verdicts"]
        assert ex["collapsed"] >= ex["statements"], f"{name}: the solutions' sources are not collapsed ({ex})"

        # a wrong answer in the first answer cell (Exercise 2.1): a sign error
        cell = page.locator(".jp-Notebook .jp-CodeCell").filter(has_text='exercises.check("2.1", answer)').first
        cell.locator(".cm-content").click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(
            'def answer(G):\n    return np.maximum(G, 0) * (1 - np.eye(len(G)))\n\n\nexercises.check("2.1", answer)'
        )
        page.keyboard.press("Shift+Enter")
        page.wait_for_timeout(3000)
        verdict = cell.locator(".jp-OutputArea-output").last.inner_text()
        assert "not yet" in verdict and "Traceback" not in cell.inner_text(), verdict
        cell.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / f"{name}-exercise-hint.png"))
    finally:
        page.close()
