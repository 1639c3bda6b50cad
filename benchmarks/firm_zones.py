"""Benchmark: the firm screen as users run it, against the usual geopandas recipe and the
strongest plain shapely recipe, at 10k, 100k and 1M firms (3M with ``--firms``:
``--firms 10000,100000,1000000,3000000``).

Each contender runs in its own process (start-up and imports included), the order reversed
every other round, at least three rounds; min / median / max, peak memory and the load
average are printed, and the results are checked equal (zones, nearest areas, distances).

* ``sxzones firms`` (the CLI, default formats csv,xlsx,gpkg), and with ``--format csv``;
* sxzones' Python API (``run_firms``, CSV), in a script;
* geopandas ``to_crs`` + ``sjoin_nearest(max_distance=20 km)`` + pandas CSV;
* shapely ``STRtree`` dwithin + ``distance`` on 2 threads, Geod in the band, Arrow CSV.

    python benchmarks/firm_zones.py [--firms 10000,100000,1000000] [--areas 200] [--rounds 3]

Synthetic inputs (seeded) are written to benchmarks/_data/ (ignored by git), named by every
parameter that makes them (firms and built-up areas each from their own seed), so a run with
other sizes never replaces the polygons another size uses: firm points uniform inside the
Shanxi boundary, built-up polygons with irregular lobed outlines.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Timing, compare, save

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "_data"
SEED = 2023


def _province():
    from sxzones.layers import load

    admin = load("admin")
    return admin[admin["level"] == "province"].geometry.iloc[0], admin.crs


def _atomic(path: Path, write) -> Path:
    """Write ``path`` through a temporary name (a killed run leaves no half file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}{path.suffix}")
    write(tmp)
    os.replace(tmp, path)
    return path


def make_firms(n_firms: int, seed: int = SEED) -> Path:
    """``n_firms`` firms (WGS84 lon/lat) uniform in Shanxi, from seed ``(seed, n_firms)``."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    path = DATA / f"firms_{n_firms}_seed{seed}.csv"
    if path.exists():
        return path
    DATA.mkdir(exist_ok=True)
    rng = np.random.default_rng([seed, n_firms])
    province, crs = _province()
    minx, miny, maxx, maxy = province.bounds
    pts, need = [], n_firms
    while need > 0:
        xy = rng.uniform([minx, miny], [maxx, maxy], size=(int(need * 1.8) + 100, 2))
        inside = shapely.contains_xy(province, xy[:, 0], xy[:, 1])
        pts.append(xy[inside][:need])
        need -= int(inside.sum())
    xy = np.vstack(pts)[:n_firms]
    ll = shapely.get_coordinates(gpd.GeoSeries(shapely.points(xy), crs=crs).to_crs(4326).values)
    industries = np.array(["steel", "coking", "cement", "chemical", "coal_power", "other"])
    frame = pd.DataFrame(
        {
            "firm_id": [f"F{i:07d}" for i in range(n_firms)],
            "name": [f"企业{i}" for i in range(n_firms)],
            "industry": industries[rng.integers(0, len(industries), n_firms)],
            "lon": np.round(ll[:, 0], 6),
            "lat": np.round(ll[:, 1], 6),
        }
    )
    return _atomic(path, lambda p: frame.to_csv(p, index=False))


def make_areas(n_areas: int, seed: int = SEED) -> Path:
    """``n_areas`` lobed built-up polygons in Shanxi (CGCS2000), from seed ``(seed, n_areas)``."""
    import geopandas as gpd
    import shapely

    path = DATA / f"builtup_{n_areas}_seed{seed}.gpkg"
    if path.exists():
        return path
    DATA.mkdir(exist_ok=True)
    rng = np.random.default_rng([seed, n_areas, 1])
    province, crs = _province()
    minx, miny, maxx, maxy = province.bounds
    centres: list[np.ndarray] = []
    while len(centres) < n_areas:
        c = rng.uniform([minx, miny], [maxx, maxy])
        if province.contains(shapely.Point(c)):
            centres.append(c)
    polys = []
    for k, (cx, cy) in enumerate(centres):
        t = np.linspace(0, 2 * np.pi, 72, endpoint=False)
        r = rng.uniform(1500, 6000) * (1 + 0.3 * np.sin(3 * t + k) + 0.1 * np.sin(7 * t))
        polys.append(shapely.Polygon(np.column_stack([cx + r * np.cos(t), cy + r * np.sin(t)])))
    frame = gpd.GeoDataFrame(
        {
            "area_id": [f"B{k:03d}" for k in range(n_areas)],
            "name": [f"建成区{k}" for k in range(n_areas)],
            "kind": ["city"] * n_areas,
            "adcode": ["140000"] * n_areas,
        },
        geometry=polys,
        crs=crs,
    ).to_crs(4490)
    return _atomic(path, lambda p: frame.to_file(p, driver="GPKG", layer="builtup"))


def contenders(firms: Path, areas: Path, out: Path) -> dict[str, list[str]]:
    py = sys.executable
    cli = [py, "-m", "sxzones.cli", "firms", "--firms", str(firms), "--crs", "wgs84"]
    cli += ["--builtup", str(areas), "--overwrite"]
    other = [py, str(HERE / "firm_contenders.py")]
    return {
        "sxzones firms CLI (csv,xlsx,gpkg)": [*cli, "--out", str(out / "cli")],
        "sxzones firms CLI (csv)": [*cli, "--format", "csv", "--out", str(out / "cli_csv")],
        "sxzones API run_firms (csv)": [*other, "sx_api", str(firms), str(areas), str(out / "api")],
        "geopandas sjoin_nearest": [*other, "gp_sjoin", str(firms), str(areas), str(out / "gp")],
        "shapely STRtree 2 threads": [*other, "shp_fast", str(firms), str(areas), str(out / "shp")],
    }


def check_equal(out: Path) -> dict[str, object]:
    """Compare the contenders' results with sxzones' (which is exact on the ellipsoid)."""
    import pandas as pd

    sx = pd.read_csv(out / "cli" / "firm_zones.csv", encoding="utf-8-sig", dtype=str)
    for other in ("cli_csv", "api"):
        same = (out / other / "firm_zones.csv").read_bytes() == (
            out / "cli" / "firm_zones.csv"
        ).read_bytes()
        assert same, f"{other}: firm_zones.csv differs from the CLI's"
    d_sx = sx["distance_m"].astype(float).to_numpy()
    shp = pd.read_csv(out / "shp" / "firms.csv", dtype={"nearest_area_id": str})
    assert (shp["firm_id"].to_numpy() == sx["firm_id"].to_numpy()).all()
    zones_shp = int((shp["zone"].to_numpy() != sx["zone"].to_numpy()).sum())
    flagged = sx["zone"].to_numpy() != "beyond"
    area_shp = int(
        (
            shp["nearest_area_id"].fillna("").to_numpy()
            != sx["nearest_area_id"].fillna("").to_numpy()
        )[flagged].sum()
    )
    rel = np.abs(shp["distance_m"].to_numpy() - d_sx)[flagged] / np.maximum(d_sx[flagged], 1.0)
    gp = pd.read_csv(out / "gp" / "firms.csv")
    d_gp = gp["distance_m"].to_numpy()
    zone_gp = np.where(d_gp == 0, "inside", np.where(d_gp <= 20_000, "within_20km", "beyond"))
    zones_gp = int((zone_gp != sx["zone"].to_numpy()).sum())
    return {
        "zones_equal_to_shapely_recipe": zones_shp == 0,
        "firms": len(sx),
        "zones_differing_shapely": zones_shp,
        "nearest_area_differing_shapely": area_shp,
        "max_relative_distance_difference_shapely_planar": float(rel.max(initial=0.0)),
        "zones_differing_geopandas_planar": zones_gp,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firms", default="10000,100000,1000000", help="comma-separated sizes")
    ap.add_argument("--areas", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=SEED)
    a = ap.parse_args()
    # numba compiles the kernels once per install and caches them, and an installed package
    # has its bytecode compiled (pip does it; a checkout whose Python may not write bytecode
    # would compile every module at every start): neither is part of a run
    subprocess.run(
        [sys.executable, "-c", "from sxzones.analyses.nearest import warm_up; warm_up().join()"],
        check=True,
    )
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "sxzones")],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    areas = make_areas(a.areas, a.seed)
    doc: dict[str, object] = {"areas": a.areas, "rounds": a.rounds, "sizes": {}}
    failed = False
    for n in (int(v) for v in a.firms.split(",")):
        firms = make_firms(n, a.seed)
        out = DATA / f"out_firms_{n}"
        t = compare(contenders(firms, areas, out), a.rounds, cwd=str(ROOT))
        check = check_equal(out)
        print(f"\n{n:,} firms, {a.areas} built-up polygons, {a.rounds} rounds, order alternated")
        for timing in t.values():
            print("  " + timing.line())
        _ratios(t)
        print(f"  results: {check}")
        failed |= not check["zones_equal_to_shapely_recipe"]
        doc["sizes"][str(n)] = {  # type: ignore[index]
            "timings": {k: v.__dict__ | {"stdout": v.stdout[-400:]} for k, v in t.items()},
            "check": check,
        }
    save(DATA / "firm_zones_results.json", doc)
    return 1 if failed else 0


def _ratios(t: dict[str, Timing]) -> None:
    cli, csv = t["sxzones firms CLI (csv,xlsx,gpkg)"], t["sxzones firms CLI (csv)"]
    gp, shp = t["geopandas sjoin_nearest"], t["shapely STRtree 2 threads"]
    med = {k: v.stats()[1] for k, v in t.items()}
    print(
        f"  ratios (medians): geopandas / sxzones CLI csv {med[gp.name] / med[csv.name]:.2f}x; "
        f"shapely / sxzones CLI csv {med[shp.name] / med[csv.name]:.2f}x; "
        f"default formats / csv only {med[cli.name] / med[csv.name]:.2f}x"
    )


if __name__ == "__main__":
    sys.exit(main())
