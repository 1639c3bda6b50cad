"""Benchmark: the site check on 10,000 parcels, and one check, with the layers loaded.

Side by side in one run, on the bundled Shanxi layers (414 control units, 12 red lines,
31 zone counties, 161 built-up areas):

* ``check_sites`` (units with ellipsoidal overlaps, red lines, zones, exact distances to the
  nearest red line and built-up area, counties, rules and verdicts);
* the usual geopandas recipe: ``overlay(how="intersection")`` with the control units plus
  ``sjoin`` with the red lines and the zones (planar areas, no distances, no rules).

    python benchmarks/site_check.py [--parcels 10000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import geopandas as gpd
import numpy as np
import shapely


def make_parcels(n: int, admin: gpd.GeoDataFrame, seed: int = 11) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    province = admin[admin["level"] == "province"].geometry.iloc[0]
    minx, miny, maxx, maxy = province.bounds
    xy = rng.uniform([minx, miny], [maxx, maxy], size=(n * 3, 2))
    xy = xy[shapely.contains_xy(province, xy[:, 0], xy[:, 1])][:n]
    w = rng.uniform(100, 800, len(xy))
    h = rng.uniform(100, 800, len(xy))
    geoms = shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + w, xy[:, 1] + h)
    inds = np.array(["steel", "coking", "cement", "chemical", "pv", "wind", "coal_power"])
    return gpd.GeoDataFrame(
        {
            "project_id": [f"P{i:05d}" for i in range(len(xy))],
            "industry": inds[rng.integers(0, len(inds), len(xy))],
            "kind": "new",
        },
        geometry=geoms,
        crs=admin.crs,
    )


def baseline(parcels: gpd.GeoDataFrame, layers) -> None:
    units = layers.frames["control_units"][["unit_code", "unit_type", "geometry"]]
    ov = gpd.overlay(parcels, units, how="intersection")
    ov["overlap_m2"] = ov.area
    gpd.sjoin(
        parcels,
        layers.frames["redline"][["redline_id", "geometry"]],
        how="left",
        predicate="intersects",
    )
    gpd.sjoin(
        parcels, layers.frames["zones"][["zone_id", "geometry"]], how="left", predicate="intersects"
    )


def main() -> int:
    from sxzones.analyses.site_check import check_sites
    from sxzones.layers import load_catalog
    from sxzones.rules import load_rules
    from sxzones.runs.site_check import site_layers

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parcels", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    cat = load_catalog()
    layers = site_layers(cat)
    rules = load_rules()
    parcels = make_parcels(a.parcels, layers.frames["admin"])
    # warm-up, both sides, at full size: the compiled kernel, the worker threads' layer
    # indexes (built once per process, like loading the layers) and geopandas' cached sindex
    check_sites(parcels.iloc[:50], layers, rules)  # small batches: the calling thread's indexes
    check_sites(parcels, layers, rules)
    baseline(parcels, layers)
    rows = []
    for _ in range(a.rounds):  # interleaved, so that drift of the machine hits both sides
        t = time.perf_counter()
        check_sites(parcels, layers, rules)
        t_sx = time.perf_counter() - t
        t = time.perf_counter()
        baseline(parcels, layers)
        t_gp = time.perf_counter() - t
        rows.append((t_sx, t_gp))
    one = []
    for k in range(20):
        t = time.perf_counter()
        check_sites(parcels.iloc[k : k + 1], layers, rules, threads=1)
        one.append(time.perf_counter() - t)
    sx = statistics.median(r[0] for r in rows)
    gp = statistics.median(r[1] for r in rows)
    print(
        f"{len(parcels):,} parcels against {len(layers.frames['control_units'])} control "
        f"units, {len(layers.frames['redline'])} red lines, {len(layers.frames['zones'])} "
        f"zone counties, {len(layers.frames['builtup'])} built-up areas "
        f"(median of {a.rounds} interleaved rounds)"
    )
    print(f"sxzones check_sites (overlaps on the ellipsoid, distances, rules): {sx:.2f} s")
    print(f"geopandas overlay(intersection) + 2 x sjoin (planar, no rules):   {gp:.2f} s")
    ratios = sorted(r[1] / r[0] for r in rows)
    print(
        f"ratio: sxzones is {statistics.median(ratios):.2f}x the speed of the baseline "
        f"(median of the rounds' ratios; lowest {ratios[0]:.2f}x, highest {ratios[-1]:.2f}x)"
    )
    print(
        f"one check with layers loaded: median {1000 * statistics.median(one):.1f} ms, "
        f"max {1000 * max(one):.1f} ms (20 single-parcel checks)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
