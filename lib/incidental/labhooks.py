"""JupyterLab's save hook for the book: chapters are saved without outputs.

``make lab`` starts JupyterLab with
``--ContentsManager.pre_save_hook=incidental.labhooks.strip_outputs_before_save``. A chapter
then runs with all its outputs on screen, but is written to disk exactly as git stores it
(nbstripout's form, with the keys of :data:`EXTRA_KEYS` removed), so running a chapter leaves
``git status`` clean. (The git filter of ``.gitattributes`` strips outputs from commits made any
other way, but git reports a file whose size changed as modified without running the filter.)
"""

from __future__ import annotations

from typing import Any

#: Keys that JupyterLab or jupyterlab-myst add to a notebook when it runs, and git must not see.
EXTRA_KEYS = ("cell.metadata.user_expressions", "cell.metadata.trusted", "metadata.widgets", "metadata.language_info")


def strip_outputs_before_save(model: dict[str, Any], path: str = "", **_kwargs: Any) -> None:
    """``ContentsManager.pre_save_hook``: strip a notebook model in place as the git filter does."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    import nbformat
    from nbstripout import strip_output

    nb = nbformat.from_dict(model["content"])
    model["content"] = strip_output(nb, keep_output=False, keep_count=False, keep_id=False, extra_keys=list(EXTRA_KEYS))
