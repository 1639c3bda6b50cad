"""Print the benchmarks' last results (benchmarks/_data/*_results.json) as Markdown tables,
as the README quotes them: min - max seconds (median), peak memory, load average, ratios.

    python benchmarks/report.py
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent / "_data"


def _cell(t: dict) -> str:
    s = t["seconds"]
    return f"{min(s):.2f} – {max(s):.2f} ({statistics.median(s):.2f})"


def _table(title: str, sizes: dict, unit: str, ratios: list[tuple[str, str, str]]) -> None:
    names = list(next(iter(sizes.values()))["timings"])
    print(f"\n{title}\n")
    print(f"| {unit} | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for n, doc in sizes.items():
        t = doc["timings"]
        loads = [x for v in t.values() for x in v["load"]]
        row = [_cell(t[k]) + f", {max(t[k]['peak_mb']):.0f} MB" for k in names]
        print(f"| {int(n):,} (load {min(loads):.2f}–{max(loads):.2f}) | " + " | ".join(row) + " |")
    print()
    for label, num, den in ratios:
        vals = []
        for n, doc in sizes.items():
            t = doc["timings"]
            med = {k: statistics.median(v["seconds"]) for k, v in t.items()}
            if num in med and den in med:  # results of an older run may lack a contender
                vals.append(f"{int(n):,}: {med[num] / med[den]:.2f}×")
        if vals:
            print(f"- {label}: " + ", ".join(vals))


def _report(name: str, title: str, unit: str, ratios: list[tuple[str, str, str]]) -> None:
    """One benchmark's table, ratios and equality checks from ``_data/<name>_results.json``
    (``title`` is formatted with the document's keys)."""
    path = DATA / f"{name}_results.json"
    if not path.exists():
        return
    doc = json.loads(path.read_text(encoding="utf-8"))
    _table(title.format(**doc), doc["sizes"], unit, ratios)
    one = doc.get("one_project")
    if one:
        loads = f"{min(one['load']):.2f}–{max(one['load']):.2f}"
        print(f"- one project, cold process: {_cell(one)} s, load {loads}")
    for n, d in doc["sizes"].items():
        warm = d.get("warm")
        if warm:  # the site check's measure in one warm process (site_contenders warm_pair)
            sx, gp = (statistics.median(warm["warm"][k]) for k in ("sxzones", "overlay"))
            print(
                f"- in one warm process at {int(n):,}: check_sites {sx:.3f} s, overlay + 2 "
                f"sjoin {gp:.3f} s: {gp / sx:.2f}×"
            )
    for n, d in doc["sizes"].items():
        print(f"- checks at {int(n):,}: {d['check']}")


def main() -> int:
    cli, csv = "sxzones firms CLI (csv,xlsx,gpkg)", "sxzones firms CLI (csv)"
    _report(
        "firm_zones",
        "Firm screen, {areas} built-up areas, {rounds} rounds (seconds: min – max (median), "
        "peak memory)",
        "firms",
        [
            ("geopandas recipe / sxzones CLI (csv)", "geopandas sjoin_nearest", csv),
            ("shapely recipe / sxzones CLI (csv)", "shapely STRtree 2 threads", csv),
            ("sxzones default formats / CSV only", cli, csv),
        ],
    )
    sx = "sxzones check CLI (--reports none)"
    _report(
        "site_check",
        "Site check, {rounds} rounds",
        "parcels",
        [
            ("overlay recipe / sxzones CLI", "geopandas overlay + 2 sjoin", sx),
            ("STRtree recipe / sxzones CLI", "shapely STRtree + intersection", sx),
        ],
    )
    sx = "sxzones screen_sites"
    _report(
        "siting",
        "Siting screen at {res_m:g} m, {rounds} rounds",
        "candidates",
        [
            ("atlite / sxzones", "atlite ExclusionContainer", sx),
            ("plain windowed / sxzones", "plain windowed, 2 threads", sx),
            ("atlite / sxzones sites CLI", "atlite ExclusionContainer", "sxzones sites CLI"),
            ("sxzones sites CLI / screen_sites", "sxzones sites CLI", sx),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
