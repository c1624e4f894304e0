"""Copy the browser assets the rendered book needs from ``node_modules`` into ``_assets/vendor``.

The book must render without network access, so MathJax 3, RequireJS and the ipywidgets
HTML manager (``@jupyter-widgets/html-manager`` 1.0.x, the one that matches ipywidgets 8)
are installed from the npm registry at set-up time (``npm ci``, pinned by
``package.json`` and ``package-lock.json``) and copied by this script into
``_assets/vendor/``. ``_config.yml`` lists ``_assets`` in ``html_extra_path``, so Sphinx
copies it to ``_build/html/vendor/``, where ``mathjax_path`` and ``nb_ipywidgets_js``
point. Nothing here is committed (``node_modules/`` and ``_assets/`` are gitignored), and
nothing is placed under a ``_static/`` folder: Jupyter Book would inject every ``.js`` file
found there into every page.

Usage: ``python scripts/vendor_assets.py`` from the repository root, after ``npm ci``.
Exits non-zero, naming what is missing, if an asset is absent or has the wrong version.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
DEST = ROOT / "_assets" / "vendor"

# What to copy from each package: (package, [(source relative to the package, destination
# relative to DEST)]). Directories are copied whole.
MATHJAX_DIRS = ["a11y", "adaptors", "input", "output", "sre", "ui"]
ASSETS: dict[str, list[tuple[str, str]]] = {
    "mathjax": [
        ("es5/tex-mml-chtml.js", "mathjax/tex-mml-chtml.js"),
        *[(f"es5/{d}", f"mathjax/{d}") for d in MATHJAX_DIRS],
        ("LICENSE", "mathjax/LICENSE"),
    ],
    "requirejs": [("require.js", "requirejs/require.js")],
    # embed-amd.js bundles @jupyter-widgets/base, controls and output; its Font Awesome files
    # are loaded relative to the script's own URL, so they are copied beside it.
    "@jupyter-widgets/html-manager": [
        ("dist/embed-amd.js", "html-manager/embed-amd.js"),
        ("dist/embed.js.LICENSE.txt", "html-manager/LICENSE.txt"),
    ],
}
FONT_SUFFIXES = (".woff2", ".woff", ".ttf", ".eot", ".svg")


def pinned_versions() -> dict[str, str]:
    """The exact versions ``package.json`` pins."""
    deps = json.loads((ROOT / "package.json").read_text())["dependencies"]
    return {name: str(version) for name, version in deps.items()}


def installed_version(package: str) -> str:
    manifest = NODE_MODULES / package / "package.json"
    if not manifest.exists():
        raise SystemExit(
            f"vendor_assets: {package} is not installed in {NODE_MODULES}; run `npm ci` first (or `make assets`)"
        )
    return str(json.loads(manifest.read_text())["version"])


def copy(src: Path, dst: Path) -> None:
    if not src.exists():
        raise SystemExit(f"vendor_assets: missing {src.relative_to(ROOT)}")
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copy2(src, dst)


def main() -> int:
    pins = pinned_versions()
    versions = {}
    for package in ASSETS:
        found = installed_version(package)
        if pins.get(package) != found:
            raise SystemExit(
                f"vendor_assets: {package} {found} is installed but package.json pins {pins.get(package)}; run `npm ci`"
            )
        versions[package] = found

    if DEST.exists():
        shutil.rmtree(DEST)
    for package, items in ASSETS.items():
        base = NODE_MODULES / package
        for src, dst in items:
            copy(base / src, DEST / dst)
    dist = NODE_MODULES / "@jupyter-widgets/html-manager/dist"
    for font in sorted(p for p in dist.iterdir() if p.suffix in FONT_SUFFIXES):
        copy(font, DEST / "html-manager" / font.name)

    (DEST / "MANIFEST.json").write_text(json.dumps(versions, indent=2, sort_keys=True) + "\n")
    size = sum(p.stat().st_size for p in DEST.rglob("*") if p.is_file())
    print(
        f"vendor_assets: {', '.join(f'{k} {v}' for k, v in versions.items())} "
        f"-> {DEST.relative_to(ROOT)} ({size / 1e6:.1f} MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
