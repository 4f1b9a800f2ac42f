# Two entry points on a fresh machine (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

.PHONY: install install-dev demo test bench
install: $(PY)
	$(PY) -m pip install --quiet -e .

install-dev: $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'

demo: install
	$(PY) -m builder

test: install-dev
	$(PY) -m pytest

bench: install-dev
	$(PY) benchmarks/bench_build.py
