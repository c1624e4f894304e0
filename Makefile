# The two commands of the README, and what they need. Everything installs into .venv.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: book test lab assets browser-test benchmark clean

$(STAMP): requirements.txt pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -r requirements.txt
	touch $(STAMP)

## book: build the HTML book into _build/html (open _build/html/index.html)
book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --keep-going

## test: unit tests and nbval over every notebook in book/
test: $(STAMP)
	$(BIN)/python -m pytest tests --nbval-lax book -p no:cacheprovider

## lab: open the notebooks in JupyterLab with live widgets
lab: $(STAMP)
	$(BIN)/jupyter lab book

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_flows.py

clean:
	rm -rf _build $(VENV)
