"""Benchmark: the siting screen against atlite's ExclusionContainer, same inputs, one run.

Synthetic province-scale inputs over Shanxi's extent in the working CRS (EPSG:4546), seeded:

* a 30 m DEM of the whole extent (about 13,000 x 22,700 = 295 million cells), smooth terrain
  with slopes from flat to about 35 degrees, tiled and compressed;
* 3,000 candidate parcels (0.2 to 4 km²), 150 "red line" blobs, 150 built-up discs (setback
  100 m for PV), 120 rivers as random-walk lines (setback 50 m).

Both sides apply the same exclusions for PV: red lines, built-up areas + 100 m, rivers + 50 m,
slope > 20 degrees; no minimum area (atlite has none). atlite gets a slope raster computed
beforehand (Horn's method, the same as sxzones; that preparation is *not* counted in its
time), sxzones gets the DEM and computes slope itself, window by window. Each side runs in
its own child process so its peak memory (max RSS) is its own.

    python benchmarks/siting.py [--candidates 3000] [--res 30]

Eligible areas are compared as planar areas in EPSG:4546 (atlite counts 30 m cells whose
centres are eligible; sxzones intersects polygons): they must agree within 1 %.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
CRS = "EPSG:4546"
EXTENT = (430_000.0, 3_830_000.0, 820_000.0, 4_510_000.0)  # Shanxi's bounding box in 4546


def _terrain(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Smooth synthetic terrain (metres): long ridges plus shorter hills."""
    return (
        1200
        + 600 * np.sin(x / 9000.0) * np.cos(y / 13000.0)
        + 250 * np.sin(x / 2100.0 + y / 3700.0)
        + 260 * np.cos(x / 900.0 - y / 1300.0)
    ).astype(np.float32)


def make_inputs(n_cand: int, res: float) -> dict[str, Path]:
    from affine import Affine

    tag = f"{n_cand}_{res:g}"
    paths = {
        "dem": DATA / f"siting_dem_{res:g}.tif",
        "slope": DATA / f"siting_slope_{res:g}.tif",
        "candidates": DATA / f"siting_candidates_{tag}.gpkg",
        "redline": DATA / "siting_redline.gpkg",
        "builtup": DATA / "siting_builtup.gpkg",
        "water": DATA / "siting_water.gpkg",
    }
    if all(p.exists() for p in paths.values()):
        return paths
    DATA.mkdir(exist_ok=True)
    rng = np.random.default_rng(15)
    minx, miny, maxx, maxy = EXTENT
    w, h = int((maxx - minx) / res), int((maxy - miny) / res)
    tf = Affine(res, 0, minx, 0, -res, maxy)
    prof = {
        "driver": "GTiff",
        "width": w,
        "height": h,
        "count": 1,
        "dtype": "float32",
        "crs": CRS,
        "transform": tf,
        "nodata": -9999.0,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "deflate",
        "predictor": 3,
        "BIGTIFF": "YES",
    }
    if not (paths["dem"].exists() and paths["slope"].exists()):
        _write_rasters(paths, prof, res)
    _write_vectors(paths, rng, n_cand)
    return paths


def _write_rasters(paths: dict[str, Path], prof: dict, res: float) -> None:
    import rasterio
    from rasterio.windows import Window

    from sxzones.analyses.rasters import horn_slope

    minx, _, _, maxy = EXTENT
    w, h, step = prof["width"], prof["height"], 2048
    with (
        rasterio.open(paths["dem"], "w", **prof) as dem,
        rasterio.open(paths["slope"], "w", **prof) as slope,
    ):
        for r0 in range(0, h, step):
            for c0 in range(0, w, step):
                hh, ww = min(step, h - r0), min(step, w - c0)
                cols = minx + (np.arange(c0 - 1, c0 + ww + 1) + 0.5) * res
                rows = maxy - (np.arange(r0 - 1, r0 + hh + 1) + 0.5) * res
                z = _terrain(cols[None, :], rows[:, None])
                dem.write(z[1:-1, 1:-1][None], window=Window(c0, r0, ww, hh))
                # k of EPSG:4546 is 1 on the central meridian and < 1.0016 here; atlite's
                # slope uses the map cell size, as a user's gdaldem would
                slope.write(horn_slope(z, res, res)[None], window=Window(c0, r0, ww, hh))


def _write_vectors(paths: dict[str, Path], rng: np.random.Generator, n_cand: int) -> None:
    import geopandas as gpd
    import shapely

    minx, miny, maxx, maxy = EXTENT

    def blobs(n: int, rmin: float, rmax: float) -> np.ndarray:
        c = rng.uniform([minx, miny], [maxx, maxy], size=(n, 2))
        r = rng.uniform(rmin, rmax, n)
        out = []
        for (x, y), rr in zip(c, r, strict=True):
            t = np.linspace(0, 2 * np.pi, 72, endpoint=False)
            rad = rr * (1 + 0.25 * np.sin(3 * t + rng.uniform(0, 6)))
            out.append(shapely.Polygon(np.c_[x + rad * np.cos(t), y + rad * np.sin(t)]))
        return np.array(out, dtype=object)

    gpd.GeoDataFrame(
        {"redline_id": [f"R{i}" for i in range(150)], "name": "red", "category": "synthetic"},
        geometry=blobs(150, 2000, 9000),
        crs=CRS,
    ).to_file(paths["redline"])
    bc = rng.uniform([minx, miny], [maxx, maxy], size=(150, 2))
    gpd.GeoDataFrame(
        {
            "area_id": [f"B{i}" for i in range(150)],
            "name": "town",
            "kind": "county_town",
            "adcode": "140000",
        },
        geometry=shapely.buffer(shapely.points(bc), rng.uniform(1500, 6000, 150)),
        crs=CRS,
    ).to_file(paths["builtup"])
    lines = []
    for _ in range(120):
        p = rng.uniform([minx, miny], [maxx, maxy])
        ang = rng.uniform(0, 2 * np.pi)
        pts = [p]
        for _ in range(60):
            ang += rng.normal(0, 0.3)
            p = p + 1500 * np.array([np.cos(ang), np.sin(ang)])
            pts.append(p)
        lines.append(shapely.LineString(pts))
    gpd.GeoDataFrame({"name": ["river"] * len(lines)}, geometry=lines, crs=CRS).to_file(
        paths["water"]
    )
    # candidate parcels do not overlap each other (atlite counts the union of the shapes
    # once, sxzones reports each parcel): draw more than needed, keep those clear of others
    cands: list[shapely.Polygon] = []
    i = 0
    tree_src: list[shapely.Polygon] = []
    while len(cands) < n_cand:
        cx, cy = rng.uniform([minx + 5000, miny + 5000], [maxx - 5000, maxy - 5000])
        rr = np.sqrt(rng.uniform(0.2e6, 4e6) / np.pi)
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        rad = rr * (1 + 0.2 * np.sin(2 * t + i))
        i += 1
        poly = shapely.Polygon(np.c_[cx + rad * np.cos(t), cy + rad * np.sin(t)])
        if tree_src and shapely.STRtree(tree_src).query(poly, predicate="intersects").size:
            continue
        cands.append(poly)
        tree_src.append(poly)
    gpd.GeoDataFrame(
        {"site_id": [f"C{i:05d}" for i in range(n_cand)], "kind": "subsidence", "settled": True},
        geometry=cands,
        crs=CRS,
    ).to_file(paths["candidates"])


def _rules_without_min_area(tmp: Path) -> Path:
    from sxzones.rules import DEFAULT_RULES

    text = DEFAULT_RULES.read_text(encoding="utf-8").replace(
        "min_area_m2 = 10000", "min_area_m2 = 0"
    )
    p = tmp / "rules_no_min_area.toml"
    p.write_text(text, encoding="utf-8")
    return p


def run_sxzones(paths: dict[str, Path]) -> dict[str, float]:
    import geopandas as gpd
    import shapely

    from sxzones.analyses.siting import Exclusion, RasterCriterion, screen_sites
    from sxzones.rules import load_rules

    rules = load_rules(_rules_without_min_area(DATA))
    t = time.perf_counter()
    cand = gpd.read_file(paths["candidates"])
    ex = [
        Exclusion("redline", gpd.read_file(paths["redline"]).geometry.to_numpy()),
        Exclusion("builtup", gpd.read_file(paths["builtup"]).geometry.to_numpy(), 100.0),
        Exclusion("water", gpd.read_file(paths["water"]).geometry.to_numpy(), 50.0),
    ]
    import rasterio

    with rasterio.open(paths["dem"]) as dem:  # the caller opens rasters; the screen reads them
        res = screen_sites(
            cand, ex, rules, tech="pv", rasters=[RasterCriterion(dem, "slope", 20.0, "slope")]
        )
    secs = time.perf_counter() - t
    planar = float(shapely.area(res.sites.geometry.to_numpy()).sum())
    removed = {
        r: round(float(res.sites[f"removed_{r}_m2"].sum()) / 1e6, 2) for r in res.meta["reasons"]
    }
    return {
        "seconds": secs,
        "eligible_planar_m2": planar,
        "candidates": len(res.sites),
        "removed_km2": removed,
        "candidate_km2": round(float(res.sites["candidate_m2"].sum()) / 1e6, 2),
    }


def slope_over_20(a):  # atlite wants a named function, not a lambda
    return a > 20


def run_atlite(paths: dict[str, Path]) -> dict[str, float]:
    import geopandas as gpd
    from atlite.gis import ExclusionContainer, shape_availability

    t = time.perf_counter()
    cand = gpd.read_file(paths["candidates"])
    exc = ExclusionContainer(crs=CRS, res=30)
    # GeoDataFrames, not GeoSeries: atlite skips buffer and reprojection for a GeoSeries
    exc.add_geometry(gpd.read_file(paths["redline"]))
    exc.add_geometry(gpd.read_file(paths["builtup"]), buffer=100)
    exc.add_geometry(gpd.read_file(paths["water"]), buffer=50)
    exc.add_raster(str(paths["slope"]), codes=slope_over_20, crs=CRS, nodata=-9999)
    mask, _ = shape_availability(cand.geometry, exc)
    secs = time.perf_counter() - t
    return {"seconds": secs, "eligible_planar_m2": float(mask.sum()) * 30 * 30}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=3000)
    ap.add_argument("--res", type=float, default=30.0)
    ap.add_argument("--child", choices=["sxzones", "atlite"])
    a = ap.parse_args()
    if a.child:
        paths = make_inputs(a.candidates, a.res)
        fn = run_sxzones if a.child == "sxzones" else run_atlite
        out = fn(paths)
        out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(out))
        return 0
    t = time.perf_counter()
    paths = make_inputs(a.candidates, a.res)
    print(f"inputs made or reused in {time.perf_counter() - t:.1f} s: {paths['dem'].name}")
    results = {}
    for which in ("sxzones", "atlite"):
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                which,
                "--candidates",
                str(a.candidates),
                "--res",
                str(a.res),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode:
            print(proc.stderr[-3000:])
            return 1
        results[which] = json.loads(proc.stdout.strip().splitlines()[-1])
    sx, at = results["sxzones"], results["atlite"]
    diff = sx["eligible_planar_m2"] / at["eligible_planar_m2"] - 1
    print(
        f"sxzones screen_sites (DEM -> slope in windows, exact polygons): {sx['seconds']:.1f} s,"
        f" peak {sx['peak_mb']:.0f} MB, eligible {sx['eligible_planar_m2'] / 1e6:.2f} km²"
    )
    print(
        f"atlite ExclusionContainer + shape_availability (30 m):          {at['seconds']:.1f} s,"
        f" peak {at['peak_mb']:.0f} MB, eligible {at['eligible_planar_m2'] / 1e6:.2f} km²"
    )
    print(
        f"candidates {sx['candidate_km2']} km²; removed by reason (km², sxzones): {sx['removed_km2']}"
    )
    print(f"eligible area: sxzones / atlite - 1 = {diff * 100:+.2f} % (target within 1 %)")
    print(f"speed: sxzones is {at['seconds'] / sx['seconds']:.2f}x atlite's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
