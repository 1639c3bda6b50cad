"""The firm screen's contenders, one per process; prints one JSON line of step timings.

    python benchmarks/firm_contenders.py gp_sjoin  firms.csv builtup.gpkg OUTDIR
    python benchmarks/firm_contenders.py shp_fast  firms.csv builtup.gpkg OUTDIR
    python benchmarks/firm_contenders.py sx_api    firms.csv builtup.gpkg OUTDIR

``gp_sjoin``: the usual geopandas recipe (``to_crs`` + ``sjoin_nearest(max_distance=20 km)``,
pandas CSV). ``shp_fast``: the strongest plain recipe (shapely STRtree ``dwithin`` +
``shapely.distance`` in EPSG:4546 on 2 threads, ``pyproj.Geod`` for the firms whose planar
distance falls between 20 km and 20 km x the largest scale factor, Arrow CSV): exact on zones.
``sx_api``: sxzones' Python API (``run_firms`` with CSV output), as a script would call it.
firms.csv: firm_id, name, industry, lon, lat (WGS84); builtup.gpkg: polygons with area_id, name.
"""

from __future__ import annotations

import itertools
import json
import resource
import sys
import time
from pathlib import Path

T0 = time.perf_counter()


def gp_sjoin(firms_csv: Path, areas_gpkg: Path, out: Path, lap) -> None:
    import geopandas as gpd
    import pandas as pd

    df = pd.read_csv(firms_csv)
    firms = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=4326)
    firms = firms.to_crs(4546)
    areas = gpd.read_file(areas_gpkg).to_crs(4546)
    lap("read")
    joined = gpd.sjoin_nearest(
        firms,
        areas[["area_id", "name", "geometry"]],
        how="left",
        max_distance=20_000,
        distance_col="distance_m",
    )
    joined = joined[~joined.index.duplicated()]
    lap("sjoin_nearest")
    joined.drop(columns="geometry").to_csv(out / "firms.csv", index=False)
    lap("write_csv")


def shp_fast(firms_csv: Path, areas_gpkg: Path, out: Path, lap) -> None:
    import gc

    gc.disable()
    from concurrent.futures import ThreadPoolExecutor

    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import shapely
    from pyproj import CRS, Geod, Proj, Transformer

    df = pd.read_csv(firms_csv)
    x, y = Transformer.from_crs(4326, 4546, always_xy=True).transform(
        df["lon"].to_numpy(), df["lat"].to_numpy()
    )
    pts = shapely.points(x, y)
    areas = gpd.read_file(areas_gpkg).to_crs(4546)
    ag = areas.geometry.to_numpy()
    lap("read")
    b = shapely.bounds(ag)
    minx, miny = min(x.min(), b[:, 0].min()), min(y.min(), b[:, 1].min())
    maxx, maxy = max(x.max(), b[:, 2].max()), max(y.max(), b[:, 3].max())
    inv = Transformer.from_crs(4546, 4490, always_xy=True)
    gx, gy = np.meshgrid(np.linspace(minx, maxx, 11), np.linspace(miny, maxy, 11))
    lon, lat = inv.transform(gx.ravel(), gy.ravel())
    kmax = float(np.max(Proj(CRS.from_epsg(4546)).get_factors(lon, lat).meridional_scale))
    d_max, reach = 20_000.0, 20_000.0 * kmax
    tree = shapely.STRtree(ag)
    n = len(pts)

    def work(sl: slice):
        ii, jj = tree.query(pts[sl], predicate="dwithin", distance=reach)
        return ii + sl.start, jj, shapely.distance(pts[sl][ii], ag[jj])

    cuts = np.linspace(0, n, 5).astype(int)
    with ThreadPoolExecutor(2) as ex:
        parts = list(ex.map(work, [slice(a, b) for a, b in itertools.pairwise(cuts)]))
    i, j, d = (np.concatenate([p[k] for p in parts]) for k in range(3))
    order = np.lexsort((d, i))
    i, j, d = i[order], j[order], d[order]
    first = np.r_[True, i[1:] != i[:-1]]
    dist = np.full(n, np.nan)
    area = np.full(n, -1)
    dist[i[first]] = d[first]
    area[i[first]] = j[first]
    band = np.zeros(n, bool)
    band[(dist > d_max) & (dist <= reach)] = True
    bp = np.flatnonzero(band[i])
    if len(bp):
        c = shapely.get_coordinates(shapely.shortest_line(pts[i[bp]], ag[j[bp]])).reshape(-1, 2, 2)
        lo1, la1 = inv.transform(c[:, 0, 0], c[:, 0, 1])
        lo2, la2 = inv.transform(c[:, 1, 0], c[:, 1, 1])
        g = Geod(ellps="GRS80").inv(lo1, la1, lo2, la2)[2]
        gi, gj = i[bp], j[bp]
        o = np.lexsort((g, gi))
        gi, gj, g = gi[o], gj[o], g[o]
        f1 = np.r_[True, gi[1:] != gi[:-1]]
        dist[gi[f1]] = g[f1]
        area[gi[f1]] = gj[f1]
    written = np.round(dist, 2)  # zones on the distance as written, to the centimetre (README)
    zone = np.where(written == 0, "inside", np.where(written <= d_max, "within_20km", "beyond"))
    lap("screen")
    ids = areas["area_id"].to_numpy()
    res = df.assign(
        zone=zone,
        distance_m=written,
        nearest_area_id=np.where(area >= 0, ids[area], ""),
    )
    pacsv.write_csv(pa.Table.from_pandas(res, preserve_index=False), out / "firms.csv")
    lap("write_csv")


def sx_api(firms_csv: Path, areas_gpkg: Path, out: Path, lap) -> None:
    from sxzones.layers import load_catalog
    from sxzones.options import FirmOptions
    from sxzones.runs.firms import run_firms

    opts = FirmOptions(
        firms=str(firms_csv),
        builtup=str(areas_gpkg),
        out=out,
        crs="wgs84",
        formats=("csv",),
        overwrite=True,
    )
    run_firms(opts, load_catalog())
    lap("run_firms")


def main() -> int:
    mode, firms_csv, areas_gpkg, out = sys.argv[1], *map(Path, sys.argv[2:5])
    out.mkdir(parents=True, exist_ok=True)
    steps: dict[str, float] = {}
    last = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        steps[name] = round(now - last[0], 3)
        last[0] = now

    {"gp_sjoin": gp_sjoin, "shp_fast": shp_fast, "sx_api": sx_api}[mode](
        firms_csv, areas_gpkg, out, lap
    )
    steps["in_process"] = round(time.perf_counter() - T0, 3)
    steps["maxrss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps({"mode": mode, **steps}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
