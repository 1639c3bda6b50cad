"""Benchmark: the firm screen on 1,000,000 firms and 200 built-up polygons over Shanxi.

Times, in one run and on the same files, ``sxzones firms`` end to end (read the CSV,
validate, screen with exact ellipsoidal distances, county lookup, write the CSV) against the
usual geopandas recipe (read, ``to_crs``, ``sjoin_nearest(max_distance=20 km)``, write the
CSV). Each side runs in its own child process so that its peak memory (max RSS) is its own.

    python benchmarks/firm_zones.py [--firms 1000000] [--areas 200]

Synthetic inputs (seeded) are written to benchmarks/_data/ (ignored by git): firm points drawn
uniformly inside the Shanxi boundary, built-up polygons with irregular lobed outlines.
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


def make_inputs(n_firms: int, n_areas: int) -> tuple[Path, Path]:
    import geopandas as gpd
    import pandas as pd
    import shapely

    from sxzones.layers import load

    firms_csv = DATA / f"firms_{n_firms}.csv"
    areas_gpkg = DATA / f"builtup_{n_areas}.gpkg"
    if firms_csv.exists() and areas_gpkg.exists():
        return firms_csv, areas_gpkg
    DATA.mkdir(exist_ok=True)
    rng = np.random.default_rng(2023)
    admin = load("admin")
    province = admin[admin["level"] == "province"].geometry.iloc[0]
    minx, miny, maxx, maxy = province.bounds
    pts = []
    need = n_firms
    while need > 0:
        xy = rng.uniform([minx, miny], [maxx, maxy], size=(int(need * 1.8) + 100, 2))
        inside = shapely.contains_xy(province, xy[:, 0], xy[:, 1])
        pts.append(xy[inside][:need])
        need -= int(inside.sum())
    xy = np.vstack(pts)[:n_firms]
    lonlat = gpd.GeoSeries(shapely.points(xy), crs=admin.crs).to_crs(4326)
    ll = shapely.get_coordinates(lonlat.to_numpy())
    industries = np.array(["steel", "coking", "cement", "chemical", "coal_power", "other"])
    pd.DataFrame(
        {
            "firm_id": [f"F{i:07d}" for i in range(n_firms)],
            "name": [f"企业{i}" for i in range(n_firms)],
            "industry": industries[rng.integers(0, len(industries), n_firms)],
            "lon": np.round(ll[:, 0], 6),
            "lat": np.round(ll[:, 1], 6),
        }
    ).to_csv(firms_csv, index=False)
    centres = []
    while len(centres) < n_areas:
        c = rng.uniform([minx, miny], [maxx, maxy])
        if province.contains(shapely.Point(c)):
            centres.append(c)
    polys = []
    for k, (cx, cy) in enumerate(centres):
        t = np.linspace(0, 2 * np.pi, 72, endpoint=False)
        r = rng.uniform(1500, 6000) * (1 + 0.3 * np.sin(3 * t + k) + 0.1 * np.sin(7 * t))
        polys.append(shapely.Polygon(np.column_stack([cx + r * np.cos(t), cy + r * np.sin(t)])))
    gpd.GeoDataFrame(
        {
            "area_id": [f"B{k:03d}" for k in range(n_areas)],
            "name": [f"建成区{k}" for k in range(n_areas)],
            "kind": ["city"] * n_areas,
            "adcode": ["140000"] * n_areas,
        },
        geometry=polys,
        crs=admin.crs,
    ).to_crs(4490).to_file(areas_gpkg)
    return firms_csv, areas_gpkg


def run_sxzones(firms_csv: Path, areas_gpkg: Path, out: Path) -> dict[str, float]:
    from sxzones.layers import load_catalog
    from sxzones.options import FirmOptions
    from sxzones.runs.firms import run_firms

    t = time.perf_counter()
    opts = FirmOptions(
        firms=str(firms_csv),
        builtup=str(areas_gpkg),
        out=out,
        crs="wgs84",
        formats=("csv",),
        overwrite=True,
    )
    res = run_firms(opts, load_catalog())
    return {"seconds": time.perf_counter() - t, "summary": res.summary}  # type: ignore[dict-item]


def run_geopandas(firms_csv: Path, areas_gpkg: Path, out: Path) -> dict[str, float]:
    import geopandas as gpd
    import pandas as pd

    t = time.perf_counter()
    df = pd.read_csv(firms_csv)
    firms = gpd.GeoDataFrame(
        df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=4326
    ).to_crs(4546)
    areas = gpd.read_file(areas_gpkg).to_crs(4546)
    joined = gpd.sjoin_nearest(
        firms,
        areas[["area_id", "name", "geometry"]],
        how="left",
        max_distance=20_000,
        distance_col="distance_m",
    )
    joined = joined[~joined.index.duplicated()]  # ties give several rows per firm
    out.mkdir(parents=True, exist_ok=True)
    joined.drop(columns="geometry").to_csv(out / "baseline.csv", index=False)
    return {"seconds": time.perf_counter() - t, "rows": len(joined)}


def child(which: str, firms_csv: Path, areas_gpkg: Path) -> None:
    fn = run_sxzones if which == "sxzones" else run_geopandas
    res = fn(firms_csv, areas_gpkg, DATA / f"out_{which}")
    res["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(res, ensure_ascii=False))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firms", type=int, default=1_000_000)
    ap.add_argument("--areas", type=int, default=200)
    ap.add_argument("--child", choices=["sxzones", "geopandas"])
    ap.add_argument("--inputs", nargs=2, type=Path)
    a = ap.parse_args()
    if a.child:
        child(a.child, *a.inputs)
        return 0
    t = time.perf_counter()
    firms_csv, areas_gpkg = make_inputs(a.firms, a.areas)
    print(
        f"inputs: {a.firms:,} firms, {a.areas} built-up polygons "
        f"({time.perf_counter() - t:.1f} s to make or reuse)"
    )
    # numba compiles the kernels once per install and caches them (about 3 s); do that
    # before timing, so that a fresh clone measures runs, not the one-time compilation
    subprocess.run(
        [sys.executable, "-c", "from sxzones.analyses.nearest import warm_up; warm_up().join()"],
        check=True,
    )
    results = {}
    for which in ("sxzones", "geopandas"):
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                which,
                "--inputs",
                str(firms_csv),
                str(areas_gpkg),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        results[which] = json.loads(proc.stdout.strip().splitlines()[-1])
    sx, gp = results["sxzones"], results["geopandas"]
    print(
        f"sxzones firms (read, validate, screen exact, county, write CSV): "
        f"{sx['seconds']:.2f} s, peak {sx['peak_mb']:.0f} MB"
    )
    print(
        f"geopandas to_crs + sjoin_nearest(max_distance=20 km) + CSV:      "
        f"{gp['seconds']:.2f} s, peak {gp['peak_mb']:.0f} MB"
    )
    print(f"ratio: sxzones is {gp['seconds'] / sx['seconds']:.2f}x the speed of the baseline")
    print(sx["summary"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
