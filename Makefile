# The commands of the README, and what they need. Python packages install into .venv; the
# book's offline browser assets (MathJax 3, RequireJS, the ipywidgets HTML manager) install
# from npm with `npm ci` (pinned by package.json and package-lock.json) and are copied to
# _assets/vendor, which the build publishes as _build/html/vendor.
# The book's matrices are small (n <= 512): BLAS threads only add overhead, and on a shared
# 2-core machine they oversubscribe it (solve_ivp and sample_gram measured 10-100x slower).
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1

PY      ?= python3
NPM     ?= npm
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
NODE_STAMP := node_modules/.package-lock.json
ASSETS  := _assets/vendor/MANIFEST.json
PYTEST  := $(BIN)/python -m pytest -rs

.PHONY: book test lab lab-test lint format git-filter assets browser-test benchmark clean pdf

# JupyterLab in the venv opens Markdown files (book/intro.md) rendered, through jupyterlab-myst.
$(STAMP): requirements.txt pyproject.toml scripts/lab_overrides.json
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -r requirements.txt
	$(MAKE) --no-print-directory git-filter
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp scripts/lab_overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	touch $(STAMP)

NB_EXTRA_KEYS := cell.metadata.user_expressions cell.metadata.trusted metadata.widgets metadata.language_info
## git-filter: keep notebook outputs (and jupyterlab-myst's evaluated {eval} results) out of git:
## nbstripout as the clean filter named in .gitattributes; `git status` stays clean after a run
git-filter:
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	  git config filter.nbstripout.clean "'$(abspath $(BIN))/python' -m nbstripout --extra-keys '$(NB_EXTRA_KEYS)'"; \
	  git config filter.nbstripout.smudge cat; \
	  git config filter.nbstripout.required true; \
	  git config diff.ipynb.textconv "'$(abspath $(BIN))/python' -m nbstripout -t"; \
	  echo "git filter: nbstripout installed (.gitattributes)"; \
	else echo "not a git checkout: no git filter installed"; fi

$(NODE_STAMP): package.json package-lock.json
	@command -v $(NPM) >/dev/null 2>&1 || { echo "error: npm (Node.js) is needed to install the book's offline assets (e.g. apt-get install npm)"; exit 1; }
	$(NPM) ci --ignore-scripts --no-audit --no-fund
	touch $(NODE_STAMP)

$(ASSETS): $(NODE_STAMP) scripts/vendor_assets.py
	$(PY) scripts/vendor_assets.py

## assets: install and vendor the offline browser assets (npm ci; scripts/vendor_assets.py)
assets: $(ASSETS)

## book: build the HTML book into _build/html (open _build/html/index.html); warnings are errors
book: $(STAMP) $(ASSETS)
	$(BIN)/jupyter-book build . --warningiserror --keep-going

## test: ruff, unit tests and nbval over every notebook in book/, then build the book and test it
## in headless Chromium, then run every chapter in a real JupyterLab (browser suites skipped,
## saying so, where no Chromium is found)
test: $(STAMP) $(ASSETS)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(PYTEST) tests --ignore=tests/browser --ignore=tests/lab --ignore=tests/pdf --nbval-lax book
	$(MAKE) --no-print-directory book
	@$(BIN)/python tests/browser/browser_support.py >/dev/null || \
	  echo "*** No Chromium found (looked for \$$CHROMIUM, chromium, chromium-browser, google-chrome): the browser tests in tests/browser will be SKIPPED. Install it (apt-get install chromium) to run them. ***"
	$(PYTEST) tests/browser
	$(PYTEST) tests/lab

## pdf: the print edition, _build/pdf/book.pdf (also _build/html/book.pdf, the download button's
## target): the built HTML book printed page by page with headless Chromium and joined, with
## contents, bookmarks and internal links (scripts/build_pdf.py; nothing is re-executed), then
## checked (tests/pdf). Runs `make book` first (quick when the build is current); PDF_FROM_BUILT=1
## prints the build as it is.
pdf: $(STAMP) $(ASSETS)
	@if [ -z "$(PDF_FROM_BUILT)" ]; then $(MAKE) --no-print-directory book; fi
	$(BIN)/python scripts/build_pdf.py
	BOOK_PDF_REQUIRED=1 $(PYTEST) tests/pdf

## browser-test: only the browser tests, over the book as built now (built first if missing)
browser-test: $(STAMP) $(ASSETS)
	$(PYTEST) tests/browser

# Chapters are saved without outputs (as git stores them), so running one leaves `git status` clean.
LAB_SAVE_HOOK := --ContentsManager.pre_save_hook=incidental.labhooks.strip_outputs_before_save
# JupyterLab refuses to start as root (as in most containers) unless told to.
ALLOW_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

## lab: open the notebooks in JupyterLab (jupyterlab-myst renders the book's MyST) with live widgets
lab: $(STAMP)
	$(BIN)/jupyter lab $(ALLOW_ROOT) $(LAB_SAVE_HOOK) book

## lab-test: open every chapter in a real JupyterLab, run all, check what a reader sees
lab-test: $(STAMP)
	$(PYTEST) tests/lab

LINT_PATHS := lib tests scripts benchmarks templates book

## lint: ruff check and ruff format --check (configured in pyproject.toml), notebooks included
lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

## format: apply ruff's fixes and formatting
format: $(STAMP)
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_flows.py

clean:
	rm -rf _build $(VENV) node_modules _assets
