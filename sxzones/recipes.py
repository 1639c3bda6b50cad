"""Recipes: one TOML file per run, naming the analysis, its inputs, rules and output folder.

::

    analysis = "overview"
    title = "Shanxi bundled layers"
    catalog = "../layers/catalog.toml"     # relative to the recipe
    out = "../out/overview"

    [inputs]
    layers = ["admin", "firms"]            # catalogue names or paths

    [options]
    map = "../maps/shanxi-overview.html"

The whole recipe is checked before any work starts: unknown keys, unknown analyses, layers the
catalogue does not have and files that do not exist are all reported together.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sxzones.errors import RecipeError, SxzonesError
from sxzones.layers import Catalog, load_catalog
from sxzones.runs import RunResult

__all__ = ["Recipe", "RunResult", "load_recipe", "run_recipe"]

Say = Callable[[str], None]


@dataclass(frozen=True)
class AnalysisSpec:
    """The inputs and options an analysis accepts, and the function that runs it."""

    inputs: frozenset[str]
    required_inputs: frozenset[str]
    options: frozenset[str]
    run: Callable[[Recipe, Catalog, Path, bool, Say], RunResult]
    layer_inputs: frozenset[str] = frozenset()  # inputs that name catalogue layers or files


@dataclass(frozen=True)
class Recipe:
    path: Path
    analysis: str
    title: str
    catalog: Path | None
    out: Path
    rules: Path | None
    inputs: dict[str, Any]
    options: dict[str, Any]

    def resolve(self, value: str) -> Path:
        return _join(self.path.parent, value)

    def option_path(self, key: str) -> Path | None:
        """An output path given in ``[options]`` (``map``, ``figure``), relative to the
        recipe; None when the option is absent or empty."""
        value = self.options.get(key)
        return self.resolve(value) if value else None


def _join(base: Path, value: str) -> Path:
    """``value`` relative to ``base`` (absolute paths kept), without ``..`` segments."""
    p = Path(value)
    return p if p.is_absolute() else Path(os.path.normpath(base / p))


_TOP = {"analysis", "title", "description", "catalog", "out", "rules", "inputs", "options"}


def _analyses() -> dict[str, AnalysisSpec]:
    from sxzones.runs.firms import FIRM_OPTIONS, run_firms_recipe
    from sxzones.runs.overview import run_overview
    from sxzones.runs.site_check import CHECK_OPTIONS, run_check_recipe
    from sxzones.runs.siting import SITING_OPTIONS, run_sites_recipe

    return {
        "overview": AnalysisSpec(
            frozenset({"layers"}),
            frozenset(),
            frozenset({"map", "title", "basemap", "embed_tianditu_key"}),
            run_overview,
            frozenset({"layers"}),
        ),
        "firms": AnalysisSpec(
            frozenset({"firms", "builtup", "admin"}),
            frozenset({"firms", "builtup"}),
            FIRM_OPTIONS,
            run_firms_recipe,
            frozenset({"firms", "builtup", "admin"}),
        ),
        "check": AnalysisSpec(
            frozenset({"projects"}),
            frozenset({"projects"}),
            CHECK_OPTIONS,
            run_check_recipe,
            frozenset({"projects"}),
        ),
        "sites": AnalysisSpec(
            frozenset({"candidates", "grid", "admin"}),
            frozenset({"candidates"}),
            SITING_OPTIONS,
            run_sites_recipe,
            frozenset({"candidates", "grid", "admin"}),
        ),
    }


def load_recipe(path: str | Path) -> Recipe:
    """Read and check a recipe; every problem is reported at once.

    Raises
    ------
    RecipeError
    """
    p = Path(path)
    if not p.exists():
        raise RecipeError(f"{p}: no such recipe")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{p}: not valid TOML ({exc})") from exc
    problems = []
    extra = sorted(set(data) - _TOP)
    if extra:
        problems.append(f"unknown key(s) {extra}; allowed: {sorted(_TOP)}")
    specs = _analyses()
    name = str(data.get("analysis"))
    if name not in specs:
        problems.append(f"analysis {name!r} is not one of {sorted(specs)}")
    if "out" not in data:
        problems.append("missing key 'out' (the output folder)")
    inputs = dict(data.get("inputs", {}))
    options = dict(data.get("options", {}))
    if name in specs:
        spec = specs[name]
        if extra_in := sorted(set(inputs) - spec.inputs):
            problems.append(f"[inputs] unknown key(s) {extra_in}; allowed: {sorted(spec.inputs)}")
        if missing := sorted(spec.required_inputs - set(inputs)):
            problems.append(f"[inputs] missing {missing}")
        if extra_opt := sorted(set(options) - spec.options):
            problems.append(
                f"[options] unknown key(s) {extra_opt}; allowed: {sorted(spec.options)}"
            )
    if problems:
        raise RecipeError(f"{p}:\n  " + "\n  ".join(problems))
    base = p.parent
    recipe = Recipe(
        path=p,
        analysis=name,
        title=str(data.get("title", name)),
        out=_join(base, data["out"]),
        catalog=_join(base, data["catalog"]) if "catalog" in data else None,
        rules=_join(base, data["rules"]) if "rules" in data else None,
        inputs=inputs,
        options=options,
    )
    _check_layers(recipe, specs[name])
    return recipe


def _check_layers(recipe: Recipe, spec: AnalysisSpec) -> None:
    try:
        cat = load_catalog(recipe.catalog)
    except SxzonesError as exc:
        raise RecipeError(f"{recipe.path}: catalogue: {exc}") from exc
    missing = []
    for key in spec.layer_inputs:
        values = recipe.inputs.get(key, [])
        for v in [values] if isinstance(values, str) else values:
            if v in cat:
                if not cat.entry(v).path.exists():
                    missing.append(
                        f"{key}: layer {v!r} has no file {cat.entry(v).path} "
                        "(bundled layers: run `make layers`)"
                    )
            elif not recipe.resolve(v).exists():
                missing.append(f"{key}: {v!r} is neither a layer of {cat.path} nor a file")
    if recipe.rules is not None and not recipe.rules.exists():
        missing.append(f"rules: no such file {recipe.rules}")
    if missing:
        raise RecipeError(f"{recipe.path}:\n  " + "\n  ".join(missing))


def run_recipe(
    recipe: Recipe, *, out: Path | None = None, overwrite: bool = False, say: Say = print
) -> RunResult:
    """Run a checked recipe; outputs go to ``out`` (default: the recipe's)."""
    spec = _analyses()[recipe.analysis]
    cat = load_catalog(recipe.catalog)
    return spec.run(recipe, cat, out or recipe.out, overwrite, say)
