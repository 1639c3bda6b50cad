"""Benchmark: the siting screen against atlite's ExclusionContainer and a plain windowed
recipe, same inputs, each contender a whole process.

Synthetic province-scale inputs over Shanxi's extent in the working CRS (EPSG:4546), seeded:

* a 30 m DEM of the whole extent (about 13,000 x 22,700 = 295 million cells), smooth terrain
  with slopes from flat to about 35 degrees, tiled and compressed;
* 3,000 candidate parcels (0.2 to 4 km²), 150 "red line" blobs, 150 built-up discs (setback
  100 m for PV), 120 rivers as random-walk lines (setback 50 m).

Every contender applies the same exclusions for PV: red lines, built-up areas + 100 m,
rivers + 50 m, slope > 20 degrees; no minimum area (atlite has none).

* ``sxzones screen_sites``: the DEM, slope computed window by window (threads: the default);
* ``sxzones sites`` (the CLI, its default outputs: GeoPackage, CSV, XLSX, siting.json and
  the manifest): the same layers given by path (``--exclude FILE:SETBACK``,
  ``--no-rule-exclusions``, ``--dem``, ``--max-slope 20``, ``--admin ''``) and the same
  rules without a minimum area; its eligible area is read from its GeoPackage after the
  rounds;
* ``atlite ExclusionContainer``: atlite 0.7's ``shape_availability`` at 30 m, given a slope
  raster computed beforehand (Horn's method, as sxzones; that preparation is *not* timed);
* ``plain windowed, 2 threads``: per candidate, shapely removes the buffered exclusions,
  rasterio reads the DEM window (each thread its own dataset handle), numpy computes the
  slope and counts the cells whose centres are eligible (with ground cell areas).

Each contender runs in its own process (start-up, imports and reading included), the order
reversed every other round, ``--rounds`` rounds; min / median / max, the load average
before each run and each process's peak memory are printed (``harness.py``) and saved to
``_data/siting_results.json``, with each contender's CPU time (user + system) in its last
round: the work done, which a loaded machine does not inflate as much as the wall time.

    python benchmarks/siting.py [--candidates 3000] [--res 30] [--rounds 3]

Eligible areas are compared as planar areas in EPSG:4546: atlite and the plain recipe count
30 m cells whose centres are eligible, sxzones intersects polygons; they must agree within
1 % (``TOLERANCE``).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from harness import compare, save

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
CRS = "EPSG:4546"
#: Largest relative difference of eligible areas between the contenders (cell centres
#: against exact polygons).
TOLERANCE = 0.01
CONTENDERS = {
    "sxzones": "sxzones screen_sites",
    "cli": "sxzones sites CLI",
    "atlite": "atlite ExclusionContainer",
    "plain": "plain windowed, 2 threads",
}
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


def cli_command(paths: dict[str, Path], out: Path) -> list[str]:
    """``sxzones sites`` over the benchmark's inputs, writing its default outputs to
    ``out`` (the bundled catalogue's control units only check coverage: the run warns that
    most candidates lie outside them, as it must)."""
    cmd = [sys.executable, "-m", "sxzones.cli", "sites", "--candidates", str(paths["candidates"])]
    cmd += ["--tech", "pv", "--no-rule-exclusions", "--exclude", str(paths["redline"])]
    cmd += ["--exclude", f"{paths['builtup']}:100m", "--exclude", f"{paths['water']}:50m"]
    cmd += ["--dem", str(paths["dem"]), "--max-slope", "20", "--admin", ""]
    cmd += ["--rules", str(_rules_without_min_area(DATA)), "--out", str(out), "--overwrite"]
    return cmd


def cli_result(out: Path) -> dict[str, float]:
    """What the CLI wrote: its eligible area (planar, EPSG:4546) and candidate count."""
    import pyogrio
    import shapely

    frame = pyogrio.read_dataframe(out / "eligible_sites.gpkg")
    return {
        "eligible_planar_m2": float(shapely.area(frame.geometry.to_numpy()).sum()),
        "candidates": len(frame),
    }


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


def run_plain(paths: dict[str, Path], threads: int = 2) -> dict[str, float]:
    """The plain windowed recipe: shapely for the vector exclusions, one rasterio window per
    candidate (each thread its own dataset handle), numpy for slope and the cell count."""
    import threading
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    import geopandas as gpd
    import rasterio
    import rasterio.features
    import shapely
    from pyproj import Proj
    from rasterio.windows import Window

    warnings.simplefilter("ignore")  # rasterio's own warning filter races between threads
    t = time.perf_counter()
    cand = gpd.read_file(paths["candidates"]).geometry.to_numpy()
    zones = np.concatenate(
        [
            gpd.read_file(paths["redline"]).geometry.to_numpy(),
            shapely.buffer(gpd.read_file(paths["builtup"]).geometry.to_numpy(), 100.0),
            shapely.buffer(gpd.read_file(paths["water"]).geometry.to_numpy(), 50.0),
        ]
    )
    ci, zi = shapely.STRtree(zones).query(cand, predicate="intersects")
    hits: list[list[int]] = [[] for _ in cand]
    for i, z in zip(ci.tolist(), zi.tolist(), strict=True):
        hits[i].append(z)
    cx, cy = shapely.get_coordinates(shapely.centroid(cand)).T
    lon, lat = Proj(CRS)(cx, cy, inverse=True)
    areal = Proj(CRS).get_factors(lon, lat).areal_scale  # ground m² = map m² / areal
    local, handles = threading.local(), []

    def one(i: int) -> tuple[int, float]:
        ds = getattr(local, "ds", None)
        if ds is None:
            ds = local.ds = rasterio.open(paths["dem"])
            handles.append(ds)
        g = (
            cand[i]
            if not hits[i]
            else shapely.difference(cand[i], shapely.union_all(zones[hits[i]]))
        )
        if g.is_empty:
            return 0, 0.0
        tf = ds.transform
        minx, miny, maxx, maxy = g.bounds
        c0, r0 = int((minx - tf.c) // tf.a), int((tf.f - maxy) // -tf.e)
        c1, r1 = int((maxx - tf.c) // tf.a) + 1, int((tf.f - miny) // -tf.e) + 1
        z = ds.read(1, window=Window(c0 - 1, r0 - 1, c1 - c0 + 2, r1 - r0 + 2), masked=True)
        z = np.ma.filled(z.astype(np.float32), np.nan)
        a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
        d, f = z[1:-1, :-2], z[1:-1, 2:]
        gg, h, k = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
        dzdx = ((c + 2 * f + k) - (a + 2 * d + gg)) / (8 * tf.a)
        dzdy = ((gg + 2 * h + k) - (a + 2 * b + c)) / (8 * tf.a)
        slope = np.degrees(np.arctan(np.hypot(dzdx, dzdy)))
        inside = rasterio.features.geometry_mask(
            [g], slope.shape, tf * tf.translation(c0, r0), invert=True
        )
        n = int(np.count_nonzero(inside & (slope <= 20)))
        return n, n * tf.a * tf.a / float(areal[i])

    with ThreadPoolExecutor(max_workers=threads) as pool:
        counts = list(pool.map(one, range(len(cand)), chunksize=16))
    for ds in handles:
        ds.close()
    res = abs(rasterio.open(paths["dem"]).transform.a)
    return {
        "seconds": time.perf_counter() - t,
        "eligible_planar_m2": float(sum(n for n, _ in counts)) * res * res,
        "eligible_ground_m2": float(sum(g for _, g in counts)),
    }


def _child(which: str, n_cand: int, res: float) -> int:
    """One contender in this process: its result as one JSON line."""
    paths = make_inputs(n_cand, res)
    fn = {"sxzones": run_sxzones, "atlite": run_atlite, "plain": run_plain}[which]
    out = fn(paths)
    use = resource.getrusage(resource.RUSAGE_SELF)
    out["peak_mb"] = use.ru_maxrss / 1024
    out["cpu_s"] = use.ru_utime + use.ru_stime  # work done, whatever the machine's load
    print(json.dumps(out))
    return 0


def _check(results: dict[str, dict]) -> dict[str, object]:
    """Eligible areas of atlite and the plain recipe against sxzones' (planar, EPSG:4546)."""
    sx = results["sxzones"]["eligible_planar_m2"]
    diffs = {k: results[k]["eligible_planar_m2"] / sx - 1 for k in results if k != "sxzones"}
    return {
        "eligible_km2": {k: round(v["eligible_planar_m2"] / 1e6, 2) for k, v in results.items()},
        "relative_to_sxzones": {k: round(v, 5) for k, v in diffs.items()},
        "within_tolerance": all(abs(v) <= TOLERANCE for v in diffs.values()),
        "tolerance": TOLERANCE,
        "removed_km2_sxzones": results["sxzones"].get("removed_km2"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=3000)
    ap.add_argument("--res", type=float, default=30.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--contenders", default=",".join(CONTENDERS), help="comma-separated")
    ap.add_argument("--child", choices=[k for k in CONTENDERS if k != "cli"])
    a = ap.parse_args()
    if a.child:
        return _child(a.child, a.candidates, a.res)
    t = time.perf_counter()
    paths = make_inputs(a.candidates, a.res)
    print(f"inputs made or reused in {time.perf_counter() - t:.1f} s: {paths['dem'].name}")
    names = [c for c in a.contenders.split(",") if c]
    base = [sys.executable, __file__, "--candidates", str(a.candidates), "--res", str(a.res)]
    cli_out = DATA / "siting_cli"
    runs = {
        CONTENDERS[k]: cli_command(paths, cli_out) if k == "cli" else [*base, "--child", k]
        for k in names
    }
    timings = compare(runs, a.rounds, cwd=str(HERE))
    results = {
        k: cli_result(cli_out)
        if k == "cli"
        else json.loads(timings[CONTENDERS[k]].stdout.strip().splitlines()[-1])
        for k in names
    }
    check = _check(results) if "sxzones" in results else {}
    print(f"\n{a.candidates:,} candidates, {a.res:g} m, {a.rounds} rounds, order alternated")
    for k in names:
        print("  " + timings[CONTENDERS[k]].line())
    med = {k: statistics.median(timings[CONTENDERS[k]].seconds) for k in names}
    for k in names:
        r = results[k]
        ratio = f", {med[k] / med['sxzones']:.2f}x sxzones' time" if "sxzones" in med else ""
        own = (
            f"in-process {r['seconds']:.2f} s, CPU {r['cpu_s']:.2f} s (last round)"
            if "seconds" in r
            else "whole process, default outputs"
        )
        print(
            f"  {CONTENDERS[k]:<28} eligible {r['eligible_planar_m2'] / 1e6:10.2f} km² (planar); "
            f"{own}{ratio}"
        )
    if check:
        print(
            f"  eligible areas against sxzones: {check['relative_to_sxzones']} (tolerance "
            f"{TOLERANCE:.0%}): {'equal' if check['within_tolerance'] else 'NOT EQUAL'}"
        )
        print(f"  removed by reason (km², sxzones): {check['removed_km2_sxzones']}")
    doc = {
        "rounds": a.rounds,
        "res_m": a.res,
        "sizes": {
            str(a.candidates): {
                "timings": {v.name: v.__dict__ for v in timings.values()},
                "check": check,
            }
        },
    }
    out = DATA / "siting_results.json"
    out.unlink(missing_ok=True)  # a new file: never write through a hard-linked copy
    save(out, doc)
    return 0 if not check or check["within_tolerance"] else 1


if __name__ == "__main__":
    sys.exit(main())
