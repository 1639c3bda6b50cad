# sxzones: two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DERIVED := layers/shanxi/derived/.built-stamp

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
	$(BIN)/ruff check sxzones tests benchmarks layers/shanxi/build.py
	$(BIN)/ruff format --check sxzones tests benchmarks layers/shanxi/build.py
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format sxzones tests benchmarks layers/shanxi/build.py
	$(BIN)/ruff check --fix sxzones tests benchmarks layers/shanxi/build.py

test: lint $(DERIVED)
	$(BIN)/pytest

bench: $(DERIVED)
	$(BIN)/python benchmarks/firm_zones.py

clean:
	rm -rf $(VENV) layers/shanxi/derived out maps/*.html maps/*.png maps/*.pdf
