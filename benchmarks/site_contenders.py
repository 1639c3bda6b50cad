"""The site check's contenders, one per process; prints one JSON line of step timings.

    python benchmarks/site_contenders.py MODE parcels.gpkg OUTDIR [LAYER=PATH ...]

``sx_api``: sxzones' Python API (catalogue layers, ``check_sites``, CSV).
``gp_overlay``: the usual geopandas recipe: ``overlay(how="intersection")`` with the control
units (planar areas) + ``sjoin`` with the red lines and the zones, pandas CSV.
``shp_tree``: the plain recipe: ``STRtree.query(predicate="intersects")`` + vectorised
``intersection`` and ``area`` (planar), Arrow CSV.
``warm_pair``: the measure of the issue that set the target: ``check_sites`` and the overlay
recipe's analysis (overlay + 2 sjoin) on the same parcels in memory, in one warm process (the
layers loaded, sxzones' compiled kernels loaded with ``warm_up``, as a server or a notebook
that checks batches repeatedly has them; each side run once at full size before timing),
interleaved rounds; prints each round's seconds.
The layer files (control_units, redline, zones) are given as LAYER=PATH for the recipes.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

T0 = time.perf_counter()
WORK = 4546
ROUNDS = 5  # warm_pair's rounds


def _read(paths: dict[str, str]):
    import geopandas as gpd

    return {k: gpd.read_file(v).to_crs(WORK) for k, v in paths.items()}


def _overlay(p, lay):  # type: ignore[no-untyped-def]
    """The usual recipe's analysis: overlaps with the units (planar areas), 2 sjoin."""
    import geopandas as gpd

    units = lay["control_units"][["unit_code", "geometry"]]
    ov = gpd.overlay(p[["project_id", "geometry"]], units, how="intersection")
    ov["overlap_m2"] = ov.area
    red = gpd.sjoin(p, lay["redline"][["geometry"]], how="left", predicate="intersects")
    zones = gpd.sjoin(p, lay["zones"][["geometry"]], how="left", predicate="intersects")
    assert len(red) >= len(p) and len(zones) >= len(p)
    return ov


def gp_overlay(parcels: Path, out: Path, paths: dict[str, str]) -> None:
    import geopandas as gpd

    p = gpd.read_file(parcels).to_crs(WORK)
    ov = _overlay(p, _read(paths))
    ov.drop(columns="geometry").to_csv(out / "overlaps.csv", index=False)


def warm_pair(parcels: Path, out: Path, paths: dict[str, str]) -> None:
    """Both analyses in this one warm process, ``ROUNDS`` interleaved rounds (order
    alternated); one JSON line of their seconds and the verdict counts."""
    import warnings

    import geopandas as gpd

    from sxzones.analyses.nearest import warm_up
    from sxzones.analyses.site_check import check_sites
    from sxzones.layers import load_catalog
    from sxzones.rules import load_rules
    from sxzones.runs.site_check import site_layers

    warm_up().join()
    cat = load_catalog()
    layers, rules = site_layers(cat), load_rules()
    p = gpd.read_file(parcels).to_crs(cat.working.crs)
    lay = _read(paths)
    warnings.simplefilter("ignore", UserWarning)  # overlay: lines dropped (keep_geom_type)
    sides = {"sxzones": lambda: check_sites(p, layers, rules), "overlay": lambda: _overlay(p, lay)}
    first = check_sites(p, layers, rules)  # warm: worker threads' indexes, the kernels' types
    _overlay(p, lay)  # warm: geopandas' spatial indexes of the layers
    secs: dict[str, list[float]] = {k: [] for k in sides}
    for r in range(ROUNDS):
        for k in list(sides) if r % 2 == 0 else list(sides)[::-1]:
            t = time.perf_counter()
            sides[k]()
            secs[k].append(round(time.perf_counter() - t, 4))
    verdicts = first.table["verdict"].value_counts().to_dict()
    print(json.dumps({"warm": secs, "verdicts": {str(k): int(v) for k, v in verdicts.items()}}))


def shp_tree(parcels: Path, out: Path, paths: dict[str, str]) -> None:
    import geopandas as gpd
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import shapely

    p = gpd.read_file(parcels).to_crs(WORK)
    lay = _read(paths)
    pg, ug = p.geometry.to_numpy(), lay["control_units"].geometry.to_numpy()
    i, j = shapely.STRtree(ug).query(pg, predicate="intersects")
    inside = shapely.contains_properly(ug[j], pg[i])  # most parcels: wholly in one unit
    area = shapely.area(pg[i])
    cut = ~inside
    area[cut] = shapely.area(shapely.intersection(pg[i][cut], ug[j][cut]))
    for role in ("redline", "zones"):
        shapely.STRtree(lay[role].geometry.to_numpy()).query(pg, predicate="intersects")
    table = pa.table(
        {
            "project_id": p["project_id"].to_numpy()[i],
            "unit_code": lay["control_units"]["unit_code"].to_numpy()[j],
            "overlap_m2": area,
        }
    )
    pacsv.write_csv(table, out / "overlaps.csv")


def sx_api(parcels: Path, out: Path, paths: dict[str, str]) -> None:
    import geopandas as gpd

    from sxzones.analyses.site_check import check_sites
    from sxzones.layers import load_catalog
    from sxzones.outputs import write_csv
    from sxzones.rules import load_rules
    from sxzones.runs.site_check import site_layers

    cat = load_catalog()
    layers = site_layers(cat)
    p = gpd.read_file(parcels).to_crs(cat.working.crs)
    res = check_sites(p, layers, load_rules())
    table = res.table if hasattr(res, "table") else res
    write_csv(table, out / "site_check.csv", overwrite=True)


def main() -> int:
    mode, parcels, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    paths = dict(a.split("=", 1) for a in sys.argv[4:])
    out.mkdir(parents=True, exist_ok=True)
    modes = {"gp_overlay": gp_overlay, "shp_tree": shp_tree, "sx_api": sx_api}
    if mode == "warm_pair":
        warm_pair(parcels, out, paths)
        return 0
    modes[mode](parcels, out, paths)
    steps = {
        "in_process": round(time.perf_counter() - T0, 3),
        "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps({"mode": mode, **steps}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
