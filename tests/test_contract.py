"""The chapter contract (CONTRIBUTING.md, "Adding a chapter"), checked where a machine can.

Every chapter of ``_toc.yml`` has its notebook, its module in ``incidental.chapters`` (with at
least one widget) and its tests; its notebook follows the pattern (a ``book.Chapter`` first,
``chapter.finish()`` last, exercises before it, numbers quoted with ``{eval}`` from names the notebook defines, no
``glue``, no captions in metadata, no markup that JupyterLab shows raw); every claim of the
register whose chapter is in the book appears in a check of that chapter's module; and no
notebook is committed with outputs.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from incidental import book
from incidental.checks import declarations
from incidental.claims import REGISTER

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = book.toc_chapters(ROOT / "_toc.yml")
EVAL = re.compile(r"\{eval\}`([^`]+)`")
DISPLAY = re.compile(r"^\$\$\n(.*?)\n\$\$([^\n]*)$", re.M | re.S)


def cells(name: str, kind: str) -> list[str]:
    nb = json.loads((ROOT / "book" / f"{name}.ipynb").read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind]


def module_of(name: str) -> str:
    found = re.findall(r"from incidental\.chapters import (\w+)", "\n".join(cells(name, "code")))
    assert len(found) == 1, f"{name}: import exactly one chapter module (found {found})"
    return found[0]


def test_the_toc_lists_chapters_and_ends_with_the_ledger() -> None:
    files = re.findall(r"^\s*-\s*file:\s*(\S+)\s*$", (ROOT / "_toc.yml").read_text(), re.M)
    assert files[-1] == "book/ledger" and len(CHAPTERS) >= 5


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_has_its_module_tests_and_widgets(name: str) -> None:
    module_name = module_of(name)
    assert (ROOT / "lib" / "incidental" / "chapters" / f"{module_name}.py").exists()
    assert (ROOT / "tests" / f"test_chapter_{module_name}.py").exists(), (
        f"{name}: no tests/test_chapter_{module_name}.py"
    )
    module = importlib.import_module(f"incidental.chapters.{module_name}")
    assert module.explorables(), f"{name}: the module declares no widget"
    assert any("explorable()" in c for c in cells(name, "code")), f"{name}: the notebook shows no widget"


@pytest.mark.parametrize("name", CHAPTERS)
def test_notebook_follows_the_pattern(name: str) -> None:
    code, markdown = cells(name, "code"), cells(name, "markdown")
    number = int(name.split("_")[0])
    assert f'book.Chapter("{name}", {number})' in code[0], f"{name}: the first code cell must open the chapter"
    assert code[-1].strip() == "chapter.finish()", f"{name}: the last code cell must be chapter.finish()"
    source = "\n".join(code + markdown)
    for banned in ("glue", "{cite", "{numref}"):
        assert banned not in source, f"{name}: {banned!r} does not render in JupyterLab"
    nb = json.loads((ROOT / "book" / f"{name}.ipynb").read_text())
    assert not any("mystnb" in c.get("metadata", {}) for c in nb["cells"]), f"{name}: caption in cell metadata"
    assert "chapter.checks(" in source and "chapter.figure(" in source
    assert not re.search(r"check_(close|below|exponent|p_value)\(", module_source(name)), (
        f"{name}: checks must be declared (CHECKS = declare(...)), not written out"
    )
    unlabelled = [b[:40] for b, label in DISPLAY.findall("\n".join(markdown)) if not label.strip().startswith("(")]
    assert not unlabelled, f"{name}: display equations without a label (numbered in JupyterLab only): {unlabelled}"
    defined = set(re.findall(r"^(\w+)\s*=", "\n".join(code), re.M))
    for expression in EVAL.findall("\n".join(markdown)):
        assert re.fullmatch(r"[A-Za-z_]\w*(\.\w+)*", expression), f"{name}: {{eval}} of {expression!r}"
        assert expression.split(".")[0] in defined, f"{name}: {{eval}}`{expression}` names no variable of the notebook"


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_ends_with_its_exercises(name: str) -> None:
    """Pattern step 6: an "## Exercises" section after the summary and before ``chapter.finish()``
    (each exercise, its answer cell and its folded solution: ``tests/test_exercises.py``)."""
    nb = json.loads((ROOT / "book" / f"{name}.ipynb").read_text())
    sources = ["".join(c["source"]) for c in nb["cells"]]
    summary = [k for k, s in enumerate(sources) if s.startswith("## Summary")]
    exercises = [k for k, s in enumerate(sources) if s.startswith("## Exercises")]
    finish = [k for k, s in enumerate(sources) if s.strip() == "chapter.finish()"]
    assert len(exercises) == 1, f"{name}: one '## Exercises' section wanted"
    assert summary and summary[-1] < exercises[0] < finish[-1], f"{name}: summary, exercises, chapter.finish()"


def module_source(name: str) -> str:
    return (ROOT / "lib" / "incidental" / "chapters" / f"{module_of(name)}.py").read_text()


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_figure_is_followed_by_its_caption(name: str) -> None:
    """A figure's caption is the Markdown cell right after its cell, numbered in order, with no
    caption written in the chapter module."""
    nb = json.loads((ROOT / "book" / f"{name}.ipynb").read_text())
    sources = [("".join(c["source"]), c["cell_type"]) for c in nb["cells"]]
    number, k = int(name.split("_")[0]), 0
    for i, (source, kind) in enumerate(sources):
        if kind == "code" and "chapter.figure(" in source:
            k += 1
            assert "chapter.figure(*" not in source, f"{name}: figure {k} takes its caption from the module"
            following = sources[i + 1] if i + 1 < len(sources) else ("", "")
            assert following[1] == "markdown" and following[0].startswith(f"**Figure {number}.{k}.**"), (
                f"{name}: the cell after figure {k} must be its caption, opening with **Figure {number}.{k}.**"
            )
    assert k >= 1, f"{name}: no figure"


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_runner_validates_its_knobs(name: str) -> None:
    """Every function of the chapter module that returns a Result is a ``book.runner``, so each knob
    is validated at the boundary."""
    module = importlib.import_module(f"incidental.chapters.{module_of(name)}")
    loose = [
        f
        for f, obj in vars(module).items()
        if callable(obj)
        and not f.startswith("_")
        and getattr(obj, "__module__", "") == module.__name__
        and "Result" in str(getattr(obj, "__annotations__", {}).get("return", ""))
        and not getattr(obj, "runner", False)
    ]
    assert not loose, f"{name}: runners without @runner (knobs not validated): {loose}"


@pytest.mark.parametrize("claim", [c for c in REGISTER if c.chapter in CHAPTERS], ids=lambda c: c.id)
def test_every_claim_of_the_book_is_checked_by_its_chapter(claim) -> None:
    module = module_of(claim.chapter)
    table = declarations(module)
    where = f"chapters/checks/{module}.yaml"
    assert any(d.claim == claim.id for d in table.values()), f"claim {claim.id}: no check in {where}"


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_declared_check_is_used_and_every_used_check_declared(name: str) -> None:
    module = module_of(name)
    table = declarations(module)
    used = set(re.findall(r"CHECKS\.(\w+)", module_source(name)))
    indexed = "CHECKS[" in module_source(name)  # names chosen at run time (e.g. per flow)
    assert used <= set(table), f"{name}: checks used but not declared: {sorted(used - set(table))}"
    assert indexed or set(table) <= used, f"{name}: checks declared but never used: {sorted(set(table) - used)}"


def committed_notebooks() -> list[str]:
    out = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    return out.stdout.split()


def test_no_notebook_is_committed_with_outputs() -> None:
    for path in committed_notebooks():
        blob = subprocess.run(["git", "show", f":{path}"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        nb = json.loads(blob)
        dirty = [k for k, c in enumerate(nb["cells"]) if c.get("outputs") or c.get("execution_count")]
        assert not dirty, f"{path}: cells {dirty} are committed with outputs"
        assert "widgets" not in nb["metadata"], f"{path}: widget state committed"


def test_the_template_module_is_a_working_chapter() -> None:
    path = ROOT / "templates" / "chapter_module.py"
    spec = importlib.util.spec_from_file_location("incidental.chapters._template", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        result = module.overlap_scaling(n=32, ms=(64, 256, 1024, 4096, 16384), seed=0)
        assert result.params == {"n": 32, "ms": (64, 256, 1024, 4096, 16384), "seed": 0}
        assert all(c.holds for c in result.checks) and "n=32" in result.checks[0].regime
        assert module.overlap_figure(result) is not None
        with pytest.raises(ValueError, match="ms"):
            module.overlap_scaling(n=32, ms=(64, 256), seed=0)
        assert module.explorables()
    finally:
        del sys.modules[spec.name]
    markdown = "".join(cells_of(ROOT / "templates" / "chapter.ipynb", "markdown"))
    assert "{eval}`overlap.q.fit`" in markdown


def cells_of(path: Path, kind: str) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == kind]
