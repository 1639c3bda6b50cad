"""``make demo``: run the bundled Shanxi recipes and say where everything is.

Runs every recipe in ``analyses/`` whose name starts with ``demo-``, in name order, with
``--overwrite`` (the demo's outputs are regenerated each time), then prints a summary.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sxzones.errors import SxzonesError

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    from sxzones.recipes import load_recipe, run_recipe

    t0 = time.perf_counter()
    recipes = sorted((ROOT / "analyses").glob("demo-*.toml"))
    written: list[str] = []
    try:
        for path in recipes:
            print(f"== {path.relative_to(ROOT)}")
            recipe = load_recipe(path)
            result = run_recipe(recipe, overwrite=True, say=print)
            print(result)
            written.extend(str(p) for p in result.outputs)
    except SxzonesError as exc:
        print(f"sxzones: error: {exc}", file=sys.stderr)
        return 2
    print(f"\nDemo finished in {time.perf_counter() - t0:.1f} s. Outputs:")
    for w in written:
        print(f"  {w}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
