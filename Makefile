# sxzones: two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DERIVED := layers/shanxi/derived/.built-stamp
PYFILES := sxzones tests layers/shanxi/build.py $(wildcard benchmarks/*.py)

.PHONY: setup demo test lint format layers clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# The bundled Shanxi dataset: demonstration layers derived from the real ones by a script.
$(DERIVED): $(STAMP) layers/shanxi/build.py $(wildcard layers/shanxi/raw/*/*) sxzones/crs.py
	$(BIN)/python layers/shanxi/build.py --out layers/shanxi/derived
	touch $(DERIVED)

layers: $(DERIVED)

demo: $(DERIVED)
	$(BIN)/python -m sxzones.demo

lint: $(STAMP)
	$(BIN)/ruff check $(PYFILES)
	$(BIN)/ruff format --check $(PYFILES)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format $(PYFILES)
	$(BIN)/ruff check --fix $(PYFILES)

test: lint $(DERIVED)
	$(BIN)/pytest

bench: $(DERIVED)
	$(BIN)/python benchmarks/firm_zones.py

clean:
	rm -rf $(VENV) layers/shanxi/derived out maps/*.html maps/*.png maps/*.pdf
