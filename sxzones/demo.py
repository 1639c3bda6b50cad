"""The demonstration: run the bundled Shanxi recipes and say where everything is.

Runs every bundled recipe whose name starts with ``demo-`` (``analyses/demo-*.toml``), in
name order, with ``--overwrite`` (the demo's outputs are regenerated each time), then prints
what it wrote. Two places to write:

- ``sxzones demo --out DIR`` (default ``./sxzones-demo``), from a wheel or a checkout: the
  recipes are copied to ``DIR/recipes/`` with their catalogue, rules and input files pointing
  at the bundled data, so their own ``../out/...`` and ``../maps/...`` land in ``DIR/out/``
  and ``DIR/maps/``. ``sxzones run DIR/recipes/demo-02-firm-zones.toml --overwrite`` runs one
  again, and the copies are a starting point for one's own recipes.
- ``make demo`` (``python -m sxzones.demo`` in a checkout): the recipes where they are, so
  the outputs land in the checkout's ``out/`` and ``maps/``.

Nothing is ever written inside the installed package.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sxzones._util import BUNDLE, bundled_path, bundled_root
from sxzones.errors import SxzonesError

#: Where ``sxzones demo`` writes when not told (relative to the current folder).
DEFAULT_OUT = Path("sxzones-demo")

_ASSIGN = re.compile(r'^(\s*)([A-Za-z_][\w-]*)(\s*=\s*)"([^"\\]*)"(\s*(?:#.*)?)$')
_TABLE = re.compile(r"^\s*\[([^\]]+)\]\s*(?:#.*)?$")


def demo_recipes() -> list[Path]:
    """The bundled demonstration recipes, in the order the demo runs them."""
    return sorted(bundled_path("analyses").glob("demo-*.toml"))


def relocated_recipe(text: str, source_dir: Path) -> str:
    """A recipe's text with its data paths made absolute, its output paths left alone.

    ``catalog`` and ``rules``, and every ``[inputs]`` value that names a file beside the
    recipe, are rewritten to absolute paths under ``source_dir`` (the bundled ``analyses/``);
    ``out`` and the ``[options]`` output paths stay relative, so they follow the copy.

    Parameters
    ----------
    text : str
        The recipe (TOML).
    source_dir : Path
        The folder the recipe came from; its relative paths are relative to it.

    Examples
    --------
    >>> src = bundled_path("analyses")
    >>> new = relocated_recipe('catalog = "../layers/catalog.toml"\\nout = "../out/x"\\n', src)
    >>> new.splitlines()[0] == f'catalog = "{(src.parent / "layers" / "catalog.toml").as_posix()}"'
    True
    >>> new.splitlines()[1]
    'out = "../out/x"'
    """
    table = ""
    lines = []
    for line in text.splitlines():
        if m := _TABLE.match(line):
            table = m.group(1).strip()
        elif m := _ASSIGN.match(line):
            lead, key, eq, value, tail = m.groups()
            target = (source_dir / value).resolve()
            data = (table == "" and key in {"catalog", "rules"}) or (
                table == "inputs" and target.is_file()
            )
            if data and not Path(value).is_absolute():
                line = f"{lead}{key}{eq}{json.dumps(target.as_posix(), ensure_ascii=False)}{tail}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def run_demo(out: str | Path | None = None, *, say: Callable[[str], None] = print) -> list[Path]:
    """Run the demonstration recipes; return every file they wrote.

    Parameters
    ----------
    out : str or Path, optional
        The folder to write to (``recipes/``, ``out/``, ``maps/`` inside it). None: in a
        checkout, the checkout's ``out/`` and ``maps/`` (``make demo``); installed, the
        default ``./sxzones-demo``.
    say : callable
        Where progress and the summary go.

    Raises
    ------
    SxzonesError
        A recipe or layer problem (e.g. the bundled layers not built: ``make layers``).
    """
    from sxzones.outputs import write_text
    from sxzones.recipes import load_recipe, run_recipe

    t0 = time.perf_counter()
    root = bundled_root()
    if out is None and root.name == BUNDLE:  # installed: never write into the package
        out = DEFAULT_OUT
    recipes = demo_recipes()
    if not recipes:
        raise SxzonesError(f"{root / 'analyses'}: no demo-*.toml recipes (a broken install?)")
    written: list[Path] = []
    for path in recipes:
        if out is None:
            say(f"== {path.relative_to(root)}")
        else:
            copy = Path(out) / "recipes" / path.name
            text = relocated_recipe(path.read_text(encoding="utf-8"), path.parent)
            path = write_text(text, copy, overwrite=True)
            say(f"== {path}")
        result = run_recipe(load_recipe(path), overwrite=True, say=say)
        say(str(result))
        written.extend(Path(p) for p in result.outputs)
    say(f"\nDemo finished in {time.perf_counter() - t0:.1f} s. Outputs:")
    for w in written:
        say(f"  {w}")
    return written


def main() -> int:
    """``python -m sxzones.demo [OUT]``: what ``make demo`` runs; exit status 2 on an error."""
    try:
        run_demo(sys.argv[1] if len(sys.argv) > 1 else None)
    except SxzonesError as exc:
        print(f"sxzones: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
