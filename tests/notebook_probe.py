"""Run a chapter notebook with some knobs changed, and read what a reader would see.

``probe("01_setup", {"n=64,": "n=32,"})`` executes ``book/01_setup.ipynb`` in a fresh kernel with
each replacement applied to the code cells (each old text must occur exactly once), then
evaluates every ``{eval}`` expression of its Markdown (as both renderers do) and collects the
figure captions (the Markdown cell after each figure, its ``{eval}`` s rendered) and the check
tables from the outputs. A knob test compares two probes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
EVAL = re.compile(r"\{eval\}`([^`]+)`")
MARK = "@@probe@@"


@dataclass(frozen=True)
class Probe:
    """What a run showed: ``quoted[expression]`` is the text an ``{eval}`` renders; captions and
    check tables in order of appearance."""

    quoted: dict[str, str]
    captions: list[str]
    tables: list[str]


def probe(name: str, replace: dict[str, str] | None = None, *, timeout: int = 600) -> Probe:
    path = ROOT / "book" / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for old, new in (replace or {}).items():
        hits = [c for c in code if old in c.source]
        assert len(hits) == 1 and hits[0].source.count(old) == 1, f"{old!r} must occur once in the code of {name}"
        hits[0].source = hits[0].source.replace(old, new)
    expressions = sorted({e for c in nb.cells if c.cell_type == "markdown" for e in EVAL.findall(c.source)})
    nb.cells.append(
        nbformat.v4.new_code_cell(
            f"import json as _json\nprint({MARK!r} + _json.dumps({{e: repr(eval(e)) for e in {expressions!r}}}))"
        )
    )
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    quoted: dict[str, str] = {}
    caption_cells: list[str] = []
    tables: list[str] = []
    for k, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            text = out.get("text", "") or out.get("data", {}).get("text/plain", "")
            html = out.get("data", {}).get("text/html", "")
            if MARK in text:
                quoted = json.loads(text.split(MARK, 1)[1])
            elif "incidental-figure" in html and k + 1 < len(nb.cells):
                caption_cells.append(nb.cells[k + 1].source)
            elif "incidental-checks" in html:
                tables.append(html)
    captions = [rendered(source, quoted) for source in caption_cells]
    return Probe(quoted, captions, tables)


def rendered(source: str, quoted: dict[str, str]) -> str:
    """A Markdown cell's text with each ``{eval}`` replaced by what it renders."""
    return EVAL.sub(lambda m: quoted.get(m.group(1), m.group(0)), source)


def cells(name: str, kind: str | None = None) -> list[str]:
    """The sources of the notebook's cells (only those of ``kind``, ``"code"`` or ``"markdown"``, if given)."""
    nb = nbformat.read(ROOT / "book" / f"{name}.ipynb", as_version=4)
    return [c.source for c in nb.cells if kind is None or c.cell_type == kind]


def eval_expressions(name: str) -> list[str]:
    """Every ``{eval}`` expression of the notebook's Markdown, in order."""
    return [e for source in cells(name, "markdown") for e in EVAL.findall(source)]


def knobs_of(name: str, **scope: object) -> dict[str, dict]:
    """Every ``*_knobs = dict(...)`` cell of the notebook, executed in order in one namespace
    (``scope`` supplies names they use, e.g. ``ch=module, np=numpy``); the knobs by name."""
    import numpy as np

    names: dict = {"np": np, **scope}
    for source in cells(name, "code"):
        if re.search(r"^\w+_knobs = dict\(", source, re.M):
            exec(source, names)
    return {k: v for k, v in names.items() if k.endswith("_knobs")}
