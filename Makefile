# Two entry points for a fresh machine: `make demo` and `make test`. Each builds its own
# virtual environment (.venv) and installs what it needs; reinstalls only when pyproject changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean browser postgres

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.base: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml $(VENV)/.base
	$(BIN)/pip install -q -e ".[torch,dev]"
	touch $@

demo: $(VENV)/.base
	$(BIN)/assay demo --out assay-demo

# The report's browser test drives Debian's chromium through playwright (never a downloaded
# browser). Installed when missing and apt-get can; otherwise the test skips and says why.
CHROMIUM ?= /usr/bin/chromium
browser:
	@[ -x $(CHROMIUM) ] || { command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -qq chromium >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; }; }; } || \
	  echo "note: chromium could not be installed; the browser test will be skipped"

# The registry's PostgreSQL tests start Debian's postgresql server on loopback in a temp folder
# (tests/registry/conftest.py). Installed when missing and apt-get can; otherwise they skip and say why.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -qq postgresql >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq postgresql >/dev/null 2>&1; }; }; } || \
	  echo "note: postgresql could not be installed; the registry's PostgreSQL tests will be skipped"

test: $(VENV)/.dev browser postgres
	$(BIN)/ruff check assay tests bench
	$(BIN)/python -m pytest

bench: $(VENV)/.dev
	$(BIN)/python bench/core.py

clean:
	rm -rf $(VENV) assay-demo .pytest_cache
