"""Build step: the bundled Shanxi data goes into the wheel as ``sxzones/_bundled/``.

Everything else is declared in ``pyproject.toml``. The product keeps its layout (``layers/``
and ``analyses/`` at the top of the repository, where people edit them); a wheel needs them
inside the package, where ``sxzones._util.bundled_root`` finds them with importlib.resources.
The wheel's ``build_py`` copies, keeping the repository's relative layout (so the recipes'
``../layers/catalog.toml`` still resolves inside the bundle):

- ``layers/catalog.toml``, every file the catalogue names (the raw extracts it reads
  directly) and everything ``make layers`` built into ``layers/shanxi/derived/`` (recipes
  name some of those files by path);
- every ``layers/shanxi/raw/*/SOURCE.md``: the sources' licences and attributions, beside
  the data;
- ``analyses/``: the rules, the demonstration recipes and their example inputs.

A wheel built before ``make layers`` would lack the derived layers: the build stops and
says so. Editable installs copy nothing (the checkout is the bundle).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
BUNDLE = "sxzones/_bundled"


def bundle_files() -> list[Path]:
    """Paths (relative to the repository) of the files the wheel bundles, sorted."""
    catalog = HERE / "layers" / "catalog.toml"
    named = [
        (catalog.parent / str(e["path"])).resolve()
        for e in tomllib.loads(catalog.read_text(encoding="utf-8"))["layers"].values()
    ]
    missing = sorted({str(p) for p in named if not p.is_file()})
    if missing:
        raise SystemExit(
            "the catalogue names layers that are not built: "
            + ", ".join(missing)
            + ". Fix: run `make layers` before building the wheel"
        )
    # A Shapefile is several files: bundle every sibling with the same stem.
    files = {q for p in named for q in p.parent.glob(p.stem + ".*") if q.is_file()}
    files |= {p for p in (HERE / "layers" / "shanxi" / "derived").iterdir() if p.is_file()}
    files |= set((HERE / "layers" / "shanxi" / "raw").glob("*/SOURCE.md"))
    files |= {p for p in (HERE / "analyses").rglob("*") if p.is_file()}
    files.add(catalog)
    return sorted(
        p.relative_to(HERE)
        for p in files
        if "__pycache__" not in p.parts and not p.name.startswith(".")  # .built-stamp
    )


class BuildWithData(build_py):
    """``build_py`` that also copies the bundled data (not in editable mode)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for rel in bundle_files():
            target = Path(self.build_lib, BUNDLE, rel)
            self.mkpath(str(target.parent))
            self.copy_file(str(HERE / rel), str(target))


setup(cmdclass={"build_py": BuildWithData})
