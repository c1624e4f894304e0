"""Every widget of the book over the grid its notebook sets: no check that cannot fail is shown as holding.

The grids are read from the notebooks' widget cells (``ch.x_explorable().grid(...)``), so this is
the grid the rendered book precomputes. A ``close`` check's predicted column reads
``"p (± tol)"``: a check shown as holding must have ``tol < |p|`` (or ``p = 0``); an unresolved
check must say why.
"""

from __future__ import annotations

import importlib
import re

import pytest
from incidental import book
from notebook_probe import cells

WIDGET = re.compile(r"^(\w+)\.(\w+_explorable)\(\)\.grid\((.*)\)\s*$", re.S)
CLOSE = re.compile(r"^(\S+) \(± (\S+)\)$")


def widget_cells() -> list[tuple[str, str]]:
    """(chapter, widget cell source) for every widget the book shows."""
    return [(name, c.strip()) for name in book.toc_chapters() for c in cells(name, "code") if WIDGET.match(c.strip())]


@pytest.mark.parametrize("chapter, source", widget_cells(), ids=lambda x: str(x)[:60])
def test_a_widget_over_its_grid_never_shows_a_check_that_cannot_fail_as_holding(chapter: str, source: str) -> None:
    alias, factory, _ = WIDGET.match(source).groups()
    code = "\n".join(cells(chapter, "code"))
    module_name = re.findall(r"from incidental\.chapters import (\w+)", code)[0]
    module = importlib.import_module(f"incidental.chapters.{module_name}")
    explorable = eval(source, {alias: module})
    points = explorable.grid_points()
    assert len(points) >= 2
    for values in points:
        for check in explorable.panel(**values).checks:
            where = f"{chapter} {factory} at {values}: {check.claim} {check.statement!r}"
            assert check.regime, f"{where}: no regime"
            if check.verdict == "unresolved":
                assert check.why, f"{where}: unresolved without a reason"
            match = CLOSE.match(check.predicted)
            if check.holds and match:
                predicted, tolerance = (float(x) for x in match.groups())
                assert predicted == 0 or tolerance < abs(predicted), f"{where}: holds with tolerance ≥ prediction"
