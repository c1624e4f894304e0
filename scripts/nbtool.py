"""Maintainer tool: write a notebook from a plain-text source, or dump a notebook to one.

Source format: cells separated by lines ``# %% [markdown]`` or ``# %%`` (code), as in
jupytext's "percent" format, without its header; a cell's metadata (tags, ``jupyter.source_hidden``)
follows its marker as one line of JSON, ``# %% {"tags": ["solution"]}``, and is kept both ways.
Notebooks are written without outputs.

    python scripts/nbtool.py dump book/01_setup.ipynb > /tmp/01.py
    python scripts/nbtool.py write /tmp/01.py book/01_setup.ipynb
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
MARKER = re.compile(r"^# %%( \[markdown\])?[ \t]*(\{.*\})?[ \t]*$", re.M)


def to_cells(text: str) -> list[dict]:
    """Cells of a percent-format source, in order."""
    cells = []
    parts = MARKER.split(text)
    # parts: [preamble, md-flag, metadata, body, md-flag, metadata, body, ...]
    for k in range(1, len(parts), 3):
        markdown, body = parts[k] is not None, parts[k + 2].strip("\n")
        metadata = json.loads(parts[k + 1]) if parts[k + 1] else {}
        source = body.splitlines(keepends=True)
        if markdown:
            cells.append({"cell_type": "markdown", "metadata": metadata, "source": source})
        else:
            cells.append(
                {"cell_type": "code", "execution_count": None, "metadata": metadata, "outputs": [], "source": source}
            )
    return cells


def write(src: Path, dest: Path) -> None:
    nb = {
        "cells": to_cells(src.read_text()),
        "metadata": {"kernelspec": KERNELSPEC},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    for k, cell in enumerate(nb["cells"]):
        cell["id"] = str(k)
    try:  # byte for byte as git stores it (the nbstripout filter), so that `git status` stays clean
        import nbformat
        from nbstripout import strip_output

        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
        from incidental.labhooks import EXTRA_KEYS

        node = strip_output(
            nbformat.from_dict(nb), keep_output=False, keep_count=False, keep_id=False, extra_keys=list(EXTRA_KEYS)
        )
        nbformat.write(node, str(dest))
    except ImportError:  # plain Python without the venv: close enough, the filter normalises on `git add`
        dest.write_text(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n")


def dump(path: Path) -> str:
    out = []
    for cell in json.loads(path.read_text())["cells"]:
        marker = "# %% [markdown]" if cell["cell_type"] == "markdown" else "# %%"
        metadata = {k: v for k, v in cell.get("metadata", {}).items() if k not in ("execution", "trusted")}
        out.append(marker + (" " + json.dumps(metadata, ensure_ascii=False) if metadata else ""))
        out.append("".join(cell["source"]).rstrip("\n") + "\n")
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "dump":
        sys.stdout.write(dump(Path(sys.argv[2])))
    elif len(sys.argv) == 4 and sys.argv[1] == "write":
        write(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        sys.exit(__doc__)
