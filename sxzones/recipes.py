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
from sxzones.layers import load_catalog
from sxzones.options import ANALYSES, Options, recipe_value, toml_text, toml_type
from sxzones.runs import RunResult, run_analysis

__all__ = ["Recipe", "RunResult", "load_recipe", "run_recipe"]

Say = Callable[[str], None]


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

    def to_options(self, *, out: Path | None = None, overwrite: bool = False) -> Options:
        """The analysis's options object: the recipe's ``[inputs]`` and ``[options]``
        (already checked by :func:`load_recipe`), its ``out``, ``rules`` and title."""
        cls = ANALYSES[self.analysis]
        kw: dict[str, Any] = {}
        for section, values in (("inputs", self.inputs), ("options", self.options)):
            keys = cls.recipe_keys(section)
            for key, value in values.items():
                name, opt = keys[key]
                kw[name], _ = recipe_value(opt, value, self.resolve)
        top: dict[str, Any] = {"out": out or self.out, "rules": self.rules, "overwrite": overwrite}
        top |= {"base": self.path.parent, "title": self.title}
        names = {n for n, _ in cls.opts()} | {"base"}
        kw |= {k: v for k, v in top.items() if k in names and k not in kw}
        return cls(**kw)


def _join(base: Path, value: str) -> Path:
    """``value`` relative to ``base`` (absolute paths kept), without ``..`` segments."""
    p = Path(value)
    return p if p.is_absolute() else Path(os.path.normpath(base / p))


#: Top-level keys of a recipe: the TOML type each must have, and what it is.
_TOP: dict[str, tuple[type, str]] = {
    "analysis": (str, "a string (firms, check, sites, phaseout or overview)"),
    "title": (str, "a string"),
    "description": (str, "a string"),
    "catalog": (str, "a string (a file path)"),
    "out": (str, "a string (the output folder)"),
    "rules": (str, "a string (a file path)"),
    "inputs": (dict, "a table ([inputs])"),
    "options": (dict, "a table ([options])"),
}


def _read(p: Path) -> dict[str, Any]:
    """The TOML document of a recipe file."""
    if not p.exists():
        raise RecipeError(f"{p}: no such recipe")
    try:
        text = p.read_bytes().decode("utf-8-sig")  # Windows Notepad writes a BOM
    except UnicodeDecodeError as exc:
        raise RecipeError(
            f"{p}: not a text file in UTF-8 (byte {exc.start}); a recipe is a TOML text file. "
            "Fix: save it as UTF-8 text"
        ) from None
    except OSError as exc:
        raise RecipeError(f"{p}: cannot be read ({exc.strerror})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{p}: not valid TOML ({exc})") from exc


def _top_problems(data: dict[str, Any]) -> list[str]:
    problems = []
    extra = sorted(set(data) - set(_TOP))
    if extra:
        problems.append(f"unknown key(s) {extra}; allowed: {sorted(_TOP)}")
    for key, (want, what) in _TOP.items():
        if key in data and not isinstance(data[key], want):
            value = data[key]
            problems.append(f"{key}: expected {what}, got {toml_text(value)} ({toml_type(value)})")
    name = data.get("analysis")
    if (name is None or isinstance(name, str)) and name not in ANALYSES:
        problems.append(f"analysis {str(name)!r} is not one of {sorted(ANALYSES)}")
    if "out" not in data:
        problems.append("missing key 'out' (the output folder)")
    return problems


def _section_problems(cls: type[Options], section: str, values: dict[str, Any]) -> list[str]:
    """Unknown, missing and mistyped keys of ``[inputs]`` or ``[options]``."""
    keys = cls.recipe_keys(section)
    problems = []
    if extra := sorted(set(values) - set(keys)):
        problems.append(f"[{section}] unknown key(s) {extra}; allowed: {sorted(keys)}")
    required = {k for k, (_, o) in keys.items() if o.recipe_required}
    if missing := sorted(required - set(values)):
        problems.append(f"[{section}] missing {missing}")
    for key, value in values.items():
        if key in keys:
            _, problem = recipe_value(keys[key][1], value, Path)
            if problem:
                problems.append(f"[{section}] {key}: {problem}")
    return problems


def load_recipe(path: str | Path) -> Recipe:
    """Read and check a recipe; every problem is reported at once.

    Raises
    ------
    RecipeError
    """
    p = Path(path)
    data = _read(p)
    problems = _top_problems(data)
    name = str(data.get("analysis"))
    inputs = data.get("inputs", {})
    options = data.get("options", {})
    if name in ANALYSES:
        for section, values in (("inputs", inputs), ("options", options)):
            if isinstance(values, dict):
                problems += _section_problems(ANALYSES[name], section, values)
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
        inputs=dict(inputs),
        options=dict(options),
    )
    try:
        recipe.to_options()
    except SxzonesError as exc:
        raise RecipeError(f"{p}: {exc}") from None
    _check_layers(recipe, ANALYSES[name])
    return recipe


def _check_layers(recipe: Recipe, cls: type[Options]) -> None:
    try:
        cat = load_catalog(recipe.catalog)
    except SxzonesError as exc:
        raise RecipeError(f"{recipe.path}: catalogue: {exc}") from exc
    missing = []
    for key in cls.recipe_keys("inputs"):
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
    cat = load_catalog(recipe.catalog)
    return run_analysis(recipe.to_options(out=out, overwrite=overwrite), cat, say=say)
