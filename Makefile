# Two entry points on a fresh machine (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

.PHONY: install install-dev browser demo explore lint test bench
# install only when pyproject.toml changed (stamps in .venv)
install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

# Debian's chromium for the browser tests (never a browser downloaded by a test tool)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "install Debian's chromium: sudo apt-get install -y chromium" >&2; exit 1; fi; }

demo: install
	$(PY) -m builder

explore: demo
	$(PY) -m explorer --data data/demo

# the habits CI holds the code to: ruff (lint and format) and mypy (builder/compute, builder/store)
lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint browser
	$(PY) -m pytest

bench: install-dev
	$(PY) benchmarks/bench_build.py
