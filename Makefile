# sxzones: two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DERIVED := layers/shanxi/derived/.built-stamp
PYFILES := sxzones tests layers/shanxi/build.py layers/shanxi/build_equipment.py $(wildcard benchmarks/*.py)

.PHONY: setup demo test lint format layers clean bench

$(STAMP): pyproject.toml
	@# A CJK font for the Chinese text of static figures: Debian's fonts-noto-cjk, installed
	@# here when it is missing and we may (root with apt-get); otherwise say so.
	@fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends fonts-noto-cjk fontconfig) >/dev/null || \
	      echo "note: could not install fonts-noto-cjk; static figures need a CJK font"; \
	  else echo "note: install a CJK font (Debian: fonts-noto-cjk) for static figures"; fi; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# The bundled Shanxi dataset: demonstration layers derived from the real ones by a script.
$(DERIVED): $(STAMP) layers/shanxi/build.py layers/shanxi/build_equipment.py $(wildcard layers/shanxi/raw/*/*) sxzones/crs.py
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
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/firm_zones.py
	$(BIN)/python benchmarks/site_check.py
	$(BIN)/python benchmarks/siting.py
	$(BIN)/python benchmarks/serve.py

clean:
	rm -rf $(VENV) layers/shanxi/derived out maps/*.html maps/*.png maps/*.pdf
