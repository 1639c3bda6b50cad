# sxzones: two commands on a fresh machine: `make demo` and `make test`.
# Two install stamps: `make demo` installs only what the product needs to run; `make test`
# and `make lint` add the test and lint tools (pytest, ruff, mypy, selenium, hypothesis).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUNTIME := $(VENV)/.runtime-stamp
TESTENV := $(VENV)/.test-stamp
DERIVED := layers/shanxi/derived/.built-stamp
PYFILES := sxzones tests setup.py layers/shanxi/build.py layers/shanxi/build_equipment.py \
	$(wildcard benchmarks/*.py)

.PHONY: setup demo test lint format layers wheel clean bench

$(RUNTIME): pyproject.toml setup.py
	@# A CJK font for the Chinese text of static figures: Debian's fonts-noto-cjk, installed
	@# here when it is missing and we may (root with apt-get); otherwise say so.
	@fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends fonts-noto-cjk fontconfig) >/dev/null || \
	      echo "note: could not install fonts-noto-cjk; static figures need a CJK font"; \
	  else echo "note: install a CJK font (Debian: fonts-noto-cjk) for static figures"; fi; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@# bytecode of the checkout's own modules, as pip writes it for an installed wheel: without
	@# it (PYTHONDONTWRITEBYTECODE) every command compiles them again, about 0.15 s of its start
	$(BIN)/python -m compileall -q sxzones >/dev/null
	touch $(RUNTIME)

$(TESTENV): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e '.[test,dask]'
	touch $(TESTENV)

setup: $(TESTENV)

# The bundled Shanxi dataset: demonstration layers derived from the real ones by a script.
$(DERIVED): $(RUNTIME) layers/shanxi/build.py layers/shanxi/build_equipment.py \
	$(wildcard layers/shanxi/raw/*/*) sxzones/crs.py
	$(BIN)/python layers/shanxi/build.py --out layers/shanxi/derived
	touch $(DERIVED)

layers: $(DERIVED)

# The demo writes the checkout's out/ and maps/; afterwards the command is .venv/bin/sxzones.
demo: $(DERIVED)
	$(BIN)/python -m sxzones.demo
	@echo "The sxzones command is $(BIN)/sxzones (or: . $(BIN)/activate; sxzones --help)"

lint: $(TESTENV)
	$(BIN)/ruff check $(PYFILES)
	$(BIN)/ruff format --check $(PYFILES)
	$(BIN)/mypy

format: $(TESTENV)
	$(BIN)/ruff format $(PYFILES)
	$(BIN)/ruff check --fix $(PYFILES)

test: lint $(DERIVED)
	$(BIN)/pytest

# A wheel with the bundled data (dist/); built offline with the venv's setuptools.
wheel: $(DERIVED) $(TESTENV)
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation -w dist .

bench: $(DERIVED) $(TESTENV)
	$(BIN)/python -m pip install --quiet -e '.[test,dask,bench]'
	$(BIN)/python benchmarks/firm_zones.py
	$(BIN)/python benchmarks/site_check.py
	$(BIN)/python benchmarks/siting.py
	$(BIN)/python benchmarks/serve.py
	$(BIN)/python benchmarks/report.py

clean:
	rm -rf $(VENV) layers/shanxi/derived out dist build sxzones-demo maps/*.html maps/*.png maps/*.pdf
