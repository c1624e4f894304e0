"""Every precomputed panel of a chapter's widgets on one page, and a screenshot of it.

The rendered book shows one panel per grid point of each widget's controls; a reader can reach
every one of them. This draws them all side by side, so that each can be looked at (axes that a
heavy tail stretches, markers off the plot, a check that fails at some corner of the grid).

    .venv/bin/python scripts/contact_sheet.py numerator            # -> _build/contact/numerator.html (+ .png)
    .venv/bin/python scripts/contact_sheet.py numerator --no-shot  # HTML only
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sheet_html(module_name: str) -> str:
    module = importlib.import_module(f"incidental.chapters.{module_name}")
    parts = [f"<h1>{module_name}: every precomputed widget panel</h1>"]
    for name, explorable in module.explorables().items():
        points = explorable.grid_points()
        parts.append(f"<h2>{name} ({len(points)} panels)</h2><div style='display:flex;flex-wrap:wrap;gap:8px'>")
        for values in points:
            parts.append(
                f"<div style='width:660px;border:1px solid #ccc;padding:4px'>{explorable.update(**values)}</div>"
            )
        parts.append("</div>")
    return "<html><body style='font-family:sans-serif'>" + "".join(parts) + "</body></html>"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("module", help="chapter module in incidental.chapters, e.g. numerator")
    parser.add_argument("--no-shot", action="store_true", help="write the HTML only, no screenshot")
    args = parser.parse_args()
    out = ROOT / "_build" / "contact" / f"{args.module}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(sheet_html(args.module))
    print(out)
    if args.no_shot:
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 2040, "height": 1200})
        page.goto(out.as_uri())
        page.wait_for_timeout(500)
        shot = out.with_suffix(".png")
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    print(shot, file=sys.stdout)


if __name__ == "__main__":
    main()
