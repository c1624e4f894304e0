"""Sphinx extension: small fixes that make the rendered book whole. Loaded through
``sphinx.local_extensions`` in ``_config.yml``.

1. **Buttons follow ``repository.url`` alone.** ``_config.yml`` always names the Binder and
   Colab services, but a launch button needs the repository to launch. With ``repository.url``
   empty this extension removes the launch services (sphinx-book-theme would otherwise fail, or
   render dead links); with a URL set it keeps them (Colab only for a GitHub repository, the
   only kind Colab opens) and also turns on the repository and issues buttons.
2. **The download menu offers the print edition** (``book.pdf``, built by ``make pdf``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError

LAUNCH_SERVICES = ("binderhub_url", "colab_url", "jupyterhub_url", "deepnote_url", "jupyterlite_url")


def apply_repository_url(app: Sphinx, config: Config) -> None:
    options: dict[str, Any] = config.html_theme_options
    url = str(options.get("repository_url") or "").strip().rstrip("/")
    launch = dict(options.get("launch_buttons") or {})
    if not url:
        for key in LAUNCH_SERVICES:
            launch.pop(key, None)
        launch["thebe"] = False
        options["launch_buttons"] = launch
        options["use_repository_button"] = False
        options["use_issues_button"] = False
        options["use_edit_page_button"] = False
        options.pop("repository_url", None)
        return
    if not url.startswith(("https://", "http://")) or url.count("/") < 4:
        raise ConfigError(
            f"repository.url must be a repository address like https://github.com/OWNER/REPO, got {url!r}"
        )
    options["repository_url"] = url
    if not url.startswith("https://github.com/"):
        launch.pop("colab_url", None)
    options["launch_buttons"] = launch
    options["use_repository_button"] = True
    options["use_issues_button"] = url.startswith(("https://github.com/", "https://gitlab.com/"))


MATHJAX2_HUB_SHIM = """
(function () {
  var pending = [];
  function typeset(el) {
    var mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise && mj.typesetPromise) {
      mj.startup.promise.then(function () { return mj.typesetPromise([el]); })
        .catch(function (err) { console.warn("MathJax could not typeset a widget label", err); });
    } else {
      pending.push(el);
    }
  }
  var hub = {
    Queue: function () {
      for (var i = 0; i < arguments.length; i++) {
        var job = arguments[i];
        if (Array.isArray(job) && job[0] === "Typeset" && job[2]) { typeset(job[2]); }
      }
    }
  };
  function withHub(value) {
    if (value && typeof value === "object" && !value.Hub) {
      try { Object.defineProperty(value, "Hub", {value: hub, enumerable: false, configurable: true}); }
      catch (err) { /* a frozen object: leave it */ }
    }
    return value;
  }
  var current = withHub(window.MathJax);
  Object.defineProperty(window, "MathJax", {
    configurable: true, enumerable: true,
    get: function () { return current; },
    set: function (value) { current = withHub(value); }
  });
  window.addEventListener("load", function () {
    var els = pending.splice(0);
    if (els.length) { els.forEach(typeset); }
  });
})();
"""


def add_mathjax2_hub_shim(app: Sphinx) -> None:
    # Before MathJax's configuration (priority 500) and the widget manager (myst-nb, 500).
    app.add_js_file(None, body=MATHJAX2_HUB_SHIM, priority=200)


REQUIREJS_CONFIG = """
var require = (function () {
  var root = document.documentElement.getAttribute("data-content_root") || "./";
  var base = new URL(root + "vendor/html-manager/", window.location.href).href;
  window.__jupyter_widgets_assets_path__ = base;
  var dir = base.replace(/\\/$/, "");
  return {paths: {"@jupyter-widgets": dir, "@jupyter-widgets/html-manager/dist": dir}};
})();
"""
REQUIREJS_SUFFIX = "vendor/requirejs/require.js"


def page_scripts(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """Configure RequireJS on pages that load it, then drop duplicated scripts; no favicon request."""
    if not context.get("favicon_url"):
        context["metatags"] = context.get("metatags", "") + '\n<link rel="icon" href="data:,">'
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    requirejs = [js for js in scripts if str(getattr(js, "filename", "") or "").endswith(REQUIREJS_SUFFIX)]
    if requirejs:
        priority = min(getattr(js, "priority", 500) for js in requirejs) - 1
        app.builder.add_js_file(None, body=REQUIREJS_CONFIG, priority=priority)
        scripts = context["script_files"]
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    kept = []
    for js in scripts:
        filename = getattr(js, "filename", js)
        attributes = getattr(js, "attributes", {})
        key = (str(filename or ""), tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key in seen:
            continue
        seen.add(key)
        kept.append(js)
    context["script_files"] = kept


def require_vendored_assets(app: Sphinx, config: Config) -> None:
    for extra in config.html_extra_path:
        manifest = Path(app.confdir) / extra / "vendor" / "MANIFEST.json"
        if str(extra).rstrip("/") == "_assets" and not manifest.exists():
            raise ConfigError(
                "the book's offline assets (MathJax, RequireJS, the widget manager) are "
                f"not vendored: {manifest} is missing. Run `make assets` (npm ci, then "
                "python scripts/vendor_assets.py), or build with `make book`."
            )


#: The print edition, published beside the pages by ``make pdf`` (scripts/build_pdf.py).
PDF_EDITION = "book.pdf"


def pdf_edition_button(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """The download menu offers the whole book as one PDF.

    A button, not a link: the HTML book is built before the PDF (``make pdf`` prints it), so a
    link would be dead until then. On a click it opens the PDF when it is there, and otherwise
    says so and prints the page (the theme's own ".pdf" entry).
    """
    groups = context.get("header_buttons")
    if not isinstance(groups, list) or "pathto" not in context:
        return
    url = context["pathto"](PDF_EDITION, 1)
    script = (
        f"var u='{url}';fetch(u,{{method:'HEAD'}}).then(function(r){{if(r.ok){{window.location.href=u;}}"
        "else{window.alert('The PDF edition is not built yet (make pdf): printing this page instead.');"
        "window.print();}},function(){window.location.href=u;})"
    )
    for group in groups:
        if isinstance(group, dict) and group.get("label") == "download-buttons":
            for button in group.get("buttons", []):
                if button.get("label") == "download-pdf-button":  # the theme's: prints this page
                    button["text"] = "page .pdf"
            group.setdefault("buttons", []).append(
                {
                    "type": "javascript",
                    "javascript": script,
                    "text": "book .pdf",
                    "tooltip": "The whole book as one PDF (the print edition)",
                    "icon": "fas fa-book",
                    "label": "download-book-pdf-button",
                }
            )


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", apply_repository_url, priority=100)
    app.connect("config-inited", require_vendored_assets, priority=100)
    app.connect("builder-inited", add_mathjax2_hub_shim)
    # Late, after every extension that adds per-page scripts (myst-nb's widget scripts).
    app.connect("html-page-context", page_scripts, priority=900)
    app.connect("html-page-context", pdf_edition_button, priority=900)  # after the theme's buttons
    return {"parallel_read_safe": True, "parallel_write_safe": True}
