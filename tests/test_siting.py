"""The siting screen: known answers on hand-built candidates, exclusions and rasters."""

from __future__ import annotations

import hashlib
import math
import tracemalloc
from contextlib import ExitStack
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from click.testing import CliRunner
from pyproj import Geod, Transformer
from rasterio.transform import from_origin

from sxzones.analyses.siting import Exclusion, RasterCriterion, screen_sites
from sxzones.cli import cli
from sxzones.errors import RulesError
from sxzones.geodesy import map_factors
from sxzones.rules import load_rules

from .conftest import CATALOG, ROOT, WORK

RULES = load_rules()
GEOD = Geod(ellps="GRS80")
TO_LL = Transformer.from_crs(4546, 4490, always_xy=True)
TO_XY = Transformer.from_crs(4490, 4546, always_xy=True)
# a place on the central meridian (k = 1) and one 150 km east of it (k = 1.00028)
ON_CM = (500_000.0, 4_200_000.0)
OFF_CM = (650_000.0, 4_200_000.0)


def _k(x: float, y: float) -> float:
    return float(map_factors([x], [y], WORK).meridional_scale[0])


def _geod_area(poly: shapely.Polygon) -> float:
    ll = gpd.GeoSeries([poly], crs=WORK).to_crs(4490).iloc[0]
    ll = shapely.segmentize(ll, 0.0002)
    return abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(ll))[0])


def _square(cx: float, cy: float, side_m: float) -> shapely.Polygon:
    """A square of ``side_m`` metres on the ground centred at (cx, cy) (map units = m * k)."""
    h = side_m * _k(cx, cy) / 2
    return shapely.box(cx - h, cy - h, cx + h, cy + h)


def _cands(*geoms: shapely.Geometry, kind: str = "subsidence") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "site_id": [f"S{i + 1}" for i in range(len(geoms))],
            "kind": kind,
            "settled": True,
        },
        geometry=list(geoms),
        crs=WORK,
    )


def _ex(reason: str, *geoms: shapely.Geometry, setback: float = 0.0) -> Exclusion:
    return Exclusion(reason, np.array(geoms, dtype=object), setback, clause=f"test {reason}")


def _screen(cands: gpd.GeoDataFrame, *rasters: tuple[Path, str, float, str], **kw):
    """screen_sites with no exclusions and raster files opened here (the screen opens none)."""
    with ExitStack() as stack:
        crits = [
            RasterCriterion(stack.enter_context(rasterio.open(p)), kind, thr, name)
            for p, kind, thr, name in rasters
        ]
        return screen_sites(cands, [], RULES, rasters=crits, **kw)


def _dem(
    path: Path,
    origin: tuple[float, float],
    n: int,
    res: float,
    z: np.ndarray,
    crs=WORK,
    **creation: object,
):
    """A GeoTIFF of ``z`` (``creation``: more creation options, e.g. tiles, compression)."""
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=z.shape[1],
        height=z.shape[0],
        count=1,
        dtype="float32",
        crs=crs,
        transform=from_origin(origin[0], origin[1], res, res),
        nodata=-9999.0,
        **creation,
    ) as ds:
        ds.write(z.astype(np.float32), 1)
    return path


@pytest.mark.parametrize("where", [ON_CM, OFF_CM])
def test_quarter_under_a_red_line_leaves_three_quarters(where):
    cx, cy = where
    cand = _square(cx, cy, 1000.0)
    x0, y0, _, _ = cand.bounds
    red = shapely.box(x0 - 1000, y0 - 1000, cx, cy)  # covers the south-west quarter
    r = screen_sites(_cands(cand), [_ex("redline", red)], rules=RULES, tech="pv").sites
    truth = _geod_area(cand)
    assert r["candidate_m2"].iat[0] == pytest.approx(truth, rel=1e-4)
    assert r["candidate_m2"].iat[0] == pytest.approx(1e6, rel=1e-4)
    assert r["eligible_m2"].iat[0] == pytest.approx(0.75 * truth, rel=1e-4)
    assert r["removed_redline_m2"].iat[0] == pytest.approx(0.25 * truth, rel=1e-4)
    assert r["capacity_mw"].iat[0] == pytest.approx(0.75 * 35, rel=1e-3)
    assert r["main_reason"].iat[0] == "redline"
    assert "test redline" in r["clauses"].iat[0]


@pytest.mark.parametrize("where", [ON_CM, OFF_CM])
def test_setback_ring_removes_exactly_the_annulus(where):
    cx, cy = where
    a, s = 1000.0, 200.0
    cand = _square(cx, cy, 6000.0)
    core = _square(cx, cy, a)
    r = screen_sites(_cands(cand), [_ex("water", core, setback=s)], rules=RULES).sites
    expected = a * a + 4 * a * s + math.pi * s * s
    assert r["removed_water_m2"].iat[0] == pytest.approx(expected, rel=2e-4)
    # the setback is exact on the ellipsoid: 199.98 m from the core is out, 200.02 m in (the
    # scale factor alone moves it by 5.6 cm 150 km off the central meridian)
    eligible = r.geometry.iat[0]
    ex, ey = TO_LL.transform(core.bounds[2], cy)  # east edge, mid-height
    az, _, _ = GEOD.inv(ex, ey, *TO_LL.transform(core.bounds[2] + 1000, cy))  # grid east
    for d, inside in ((199.98, False), (200.02, True)):
        lon, lat, _ = GEOD.fwd(ex, ey, az, d)
        px, py = TO_XY.transform(lon, lat)
        assert eligible.contains(shapely.Point(px, py)) is inside, d


def test_overlapping_exclusions_book_each_square_metre_once():
    cx, cy = OFF_CM
    cand = _square(cx, cy, 2000.0)
    x0, y0, x1, y1 = cand.bounds
    first = shapely.box(x0 - 10, y0 - 10, cx + 200, y1 + 10)  # west half and a bit
    second = shapely.box(cx - 300, y0 - 10, x1 + 10, cy)  # south half, overlapping the first
    r = screen_sites(
        _cands(cand), [_ex("redline", first), _ex("water", second)], rules=RULES
    ).sites.iloc[0]
    parts = r["removed_redline_m2"] + r["removed_water_m2"] + r["removed_too_small_m2"]
    assert parts == pytest.approx(r["removed_m2"], abs=0.2)
    assert r["removed_m2"] + r["eligible_m2"] == pytest.approx(r["candidate_m2"], abs=0.2)
    # the overlap goes to the first reason: red line = its whole footprint in the candidate
    assert r["removed_redline_m2"] == pytest.approx(
        _geod_area(shapely.intersection(cand, first)), rel=1e-4
    )


def test_a_piece_below_the_minimum_area_is_removed_as_too_small():
    cx, cy = ON_CM
    cand = _square(cx, cy, 1000.0)
    x0, y0, x1, y1 = cand.bounds
    # leaves a 5 m strip along the east edge: 5,000 m² < 1 ha
    r = screen_sites(
        _cands(cand), [_ex("redline", shapely.box(x0 - 1, y0 - 1, x1 - 5, y1 + 1))], RULES
    )
    s = r.sites.iloc[0]
    assert s["removed_too_small_m2"] == pytest.approx(5000, rel=1e-3)
    assert s["eligible_m2"] == 0 and not s["eligible"]
    assert set(r.removed["reason"]) == {"redline", "too_small"}


@pytest.mark.parametrize("where", [ON_CM, OFF_CM])
@pytest.mark.parametrize("deg", [2.0, 10.0, 30.0])
def test_a_plane_dem_gives_its_slope(tmp_path, where, deg):
    cx, cy = where
    k = _k(cx, cy)
    res, n = 30.0, 300
    ox, oy = cx - n * res / 2, cy + n * res / 2
    col = (np.arange(n) + 0.5) * res / k  # ground metres east
    z = np.tile(np.tan(np.radians(deg)) * col, (n, 1))
    dem = _dem(tmp_path / "plane.tif", (ox, oy), n, res, z)
    cand = _square(cx, cy, 3000.0)
    r = _screen(_cands(cand), (dem, "slope", 0.0, "slope"))
    s = r.sites.iloc[0]
    if deg > 20:  # PV limit 20 deg: everything goes (statistics are of eligible land: none)
        assert s["removed_slope_m2"] == pytest.approx(s["candidate_m2"], rel=1e-6)
        assert s["eligible_m2"] == 0 and np.isnan(s["slope_mean_deg"])
        assert s["main_reason"] == "slope" and "TD/T 1075-2023" in s["clauses"]
    else:
        assert s["slope_mean_deg"] == pytest.approx(deg, abs=0.01)
        assert s["removed_slope_m2"] == 0
        shares = [s["terrain_I_share"], s["terrain_II_share"], s["terrain_III_share"]]
        assert shares == ([1.0, 0.0, 0.0] if deg <= 3 else [0.0, 1.0, 0.0])
    assert r.meta["raster_resolution_m"] == {"slope": 30.0}
    assert r.sites["raster_resolution_m"].iat[0] == "slope 30"


def test_nodata_is_unknown_not_excluded(tmp_path):
    cx, cy = ON_CM
    res, n = 30.0, 200
    ox, oy = cx - 3000, cy + 3000
    z = np.full((n, n), 800.0)
    z[90:100, 90:100] = -9999.0  # 10 x 10 cells without data, inside the candidate
    dem = _dem(tmp_path / "hole.tif", (ox, oy), n, res, z)
    cand = shapely.box(cx - 2400, cy - 2400, cx + 2400, cy + 2400)
    s = _screen(_cands(cand), (dem, "slope", 0.0, "slope")).sites.iloc[0]
    # Horn's 3 x 3 kernel: the ring of cells around the hole has no slope either: 12 x 12
    assert s["unknown_m2"] == pytest.approx(12 * 12 * 900, rel=1e-6)
    assert s["removed_slope_m2"] == 0
    assert s["eligible_m2"] == pytest.approx(s["candidate_m2"])


def test_dem_in_geographic_coordinates_is_read_in_the_working_crs(tmp_path):
    """A lon/lat DEM is warped to the working CRS window by window: slope in metres."""
    cx, cy = ON_CM
    lon0, lat0 = TO_LL.transform(cx, cy)
    res = 1 / 3600  # 1 arc-second
    n = 400
    lats = lat0 + (n / 2 - (np.arange(n) + 0.5)) * res
    north_m = (lats - lat0) * (math.pi / 180) * 6_364_000  # metres of latitude near 37.9 N
    z = np.tile((np.tan(np.radians(8.0)) * north_m)[:, None], (1, n))
    dem = _dem(tmp_path / "ll.tif", (lon0 - n / 2 * res, lat0 + n / 2 * res), n, res, z, 4490)
    cand = _square(cx, cy, 2000.0)
    r = _screen(_cands(cand), (dem, "slope", 0.0, "slope"))
    assert r.sites["slope_mean_deg"].iat[0] == pytest.approx(8.0, abs=0.1)
    assert 20 < r.meta["raster_resolution_m"]["slope"] < 35


def test_resource_below_minimum_is_removed_and_scored(tmp_path):
    cx, cy = ON_CM
    res, n = 100.0, 100
    z = np.full((n, n), 1500.0)
    z[:, :50] = 1200.0  # west half below 1400
    ghi = _dem(tmp_path / "ghi.tif", (cx - 5000, cy + 5000), n, res, z)
    cand = shapely.box(cx - 2000, cy - 2000, cx + 2000, cy + 2000)
    s = _screen(_cands(cand), (ghi, "minimum", 1400.0, "resource_ghi")).sites.iloc[0]
    assert s["removed_resource_ghi_m2"] == pytest.approx(0.5 * s["candidate_m2"], rel=1e-6)
    assert s["resource_ghi_mean"] == pytest.approx(1500.0)
    assert s["score_resource"] == 1.0


def test_wind_turbines_keep_their_spacing_inside_the_eligible_area():
    cx, cy = OFF_CM
    cand = _square(cx, cy, 4000.0)
    r = screen_sites(_cands(cand), [], RULES, tech="wind")
    t = r.turbines
    assert len(t) == r.sites["turbines"].iat[0] > 10
    assert r.sites["capacity_mw"].iat[0] == pytest.approx(5.0 * len(t))
    assert bool(shapely.covers(r.sites.geometry.iat[0], t.geometry).all())
    lon, lat = TO_LL.transform(t.geometry.x.to_numpy(), t.geometry.y.to_numpy())
    i, j = np.triu_indices(len(t), 1)
    _, _, d = GEOD.inv(lon[i], lat[i], lon[j], lat[j])
    assert d.min() >= 800.0 - 0.01  # ground metres


def test_status_and_grid_make_the_score():
    cx, cy = ON_CM
    a, b = _square(cx, cy, 500.0), _square(cx + 30000, cy, 500.0)
    cands = _cands(a, b)
    cands["settled"] = [True, False]
    grid = gpd.GeoDataFrame(geometry=[shapely.Point(cx, cy + 5000)], crs=WORK)
    s = screen_sites(cands, [], RULES, grid=grid).sites
    assert s["score_status"].tolist() == [1.0, 0.4]
    assert s["grid_distance_m"].iat[0] == pytest.approx(5000 - 250, abs=1)
    assert s["score"].iat[0] > s["score"].iat[1]


def test_landfill_status_counts_years_since_closure():
    cands = _cands(*[_square(*ON_CM, 400.0)] * 2, kind="closed_landfill")
    cands["closure_year"] = [2016, 2022]
    s = screen_sites(cands, [], RULES, as_of_year=2026).sites
    assert s["score_status"].tolist() == [1.0, 0.4]


def test_siting_rules_are_checked(tmp_path):
    bad = RULES.path.read_text(encoding="utf-8").replace(
        "setback_m = { pv = 50, wind = 100 }", "setback_m = { pv = 50, sail = 100 }"
    )
    p = tmp_path / "bad-siting-rules.toml"
    p.write_text(bad, encoding="utf-8")
    with pytest.raises(RulesError, match=r"siting_exclude_water.*unknown technology \['sail'\]"):
        load_rules(p)


def test_province_sized_raster_is_read_in_windows(tmp_path):
    """A sparse 13,000 x 23,000-cell (30 m, about 300 million cells) DEM over Shanxi: the screen
    reads windows around the candidates only, so Python-side memory stays small."""
    x0, y0, res = 330_000.0, 4_520_000.0, 30.0
    w, h = 13_000, 23_000
    path = tmp_path / "province.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=w,
        height=h,
        count=1,
        dtype="float32",
        crs=WORK,
        transform=from_origin(x0, y0, res, res),
        nodata=-9999.0,
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
        SPARSE_OK="TRUE",
    ) as ds:
        sites = [(420_000.0, 4_400_000.0), (560_000.0, 3_900_000.0), (600_000.0, 4_200_000.0)]
        for sx, sy in sites:
            col, row = int((sx - x0) / res) - 100, int((y0 - sy) / res) - 100
            ds.write(
                np.full((1, 200, 200), 900.0, np.float32),
                window=rasterio.windows.Window(col, row, 200, 200),
            )
    cands = _cands(*[_square(sx, sy, 3000.0) for sx, sy in sites])
    tracemalloc.start()
    r = _screen(cands, (path, "slope", 0.0, "slope"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 100e6  # a dense float32 read would be 1.2 GB
    assert (r.sites["slope_mean_deg"] == 0).all()
    assert (r.sites["unknown_m2"] == 0).all()


def _cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_cli_sites_on_the_bundled_data_accounts_for_every_candidate(tmp_path):
    out = tmp_path / "o"
    wind = ["sites", "--candidates", "candidates_demonstration", "--tech", "wind"]
    common = [*wind, "--catalog", str(CATALOG), "--out", str(out), "--exclude", "water:300m"]
    res = _cli(*common, "--map", str(tmp_path / "m.html"))
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "eligible_sites.csv", encoding="utf-8-sig")
    gpkg = gpd.read_file(out / "eligible_sites.gpkg", layer="eligible_sites")
    rejects = pd.read_csv(out / "rejects.csv", encoding="utf-8-sig")
    cand = gpd.read_file(ROOT / "layers/shanxi/derived/candidates_demonstration.gpkg")
    assert len(table) + len(rejects) == len(cand) == len(gpkg)
    assert "input rows 91 = screened 91 + rejected 0" in res.output
    reasons = [c for c in table if c.startswith("removed_") and c != "removed_m2"]
    assert np.allclose(table[reasons].sum(axis=1), table["removed_m2"], atol=1.0)
    import json

    meta = json.loads((out / "siting.json").read_text(encoding="utf-8"))
    water = next(e for e in meta["exclusions"] if e["reason"] == "water")
    assert water["setback_m"] == 300.0
    assert {m["reason"] for m in meta["not_assessed"]} >= {"basic_farmland", "slope"}
    xlsx = pd.read_excel(out / "eligible_sites.xlsx", sheet_name=None)
    assert set(xlsx) == {"sites", "summary", "exclusions", "sources"}  # sources: audit 11 E8
    # same inputs, same bytes (the same command: the manifest names the map too)
    first = {p.name: _digest(p) for p in out.iterdir()}
    res = _cli(*common, "--map", str(tmp_path / "m.html"), "--overwrite")
    assert res.exit_code == 0
    assert {p.name: _digest(p) for p in out.iterdir()} == first


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--resource", "nothing"], "write PATH:MIN"),
        (["--dem", "no-such.tif"], "no-such.tif: no such file"),
        (["--exclude", "no-such-layer.gpkg:100m"], "neither a layer"),
        (["--exclude", "water"], "give the new setback"),
    ],
)
def test_cli_sites_bad_input_exits_2(tmp_path, extra, message):
    res = _cli(
        "sites",
        "--candidates",
        "candidates_demonstration",
        "--tech",
        "pv",
        "--catalog",
        str(CATALOG),
        "--out",
        str(tmp_path / "o"),
        *extra,
    )
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output


def test_cli_sites_with_dem_resource_and_grid(tmp_path):
    """The raster and grid options end to end, on a candidate file of our own (GeoJSON, WGS84)."""
    cx, cy = ON_CM
    cand = _cands(_square(cx, cy, 2000.0), _square(cx + 12_000, cy, 2000.0))
    cand.to_crs(4326).to_file(tmp_path / "cands.geojson", driver="GeoJSON")
    n, res = 600, 30.0
    ox, oy = cx - 9000, cy + 9000  # column 300 is at cx; the DEM ends at cx + 9000
    z = np.tile(np.tan(np.radians(5.0)) * (np.arange(n) + 0.5) * res, (n, 1))
    z[:, 300:] += np.tile(np.tan(np.radians(25.0)) * (np.arange(300) + 0.5) * res, (n, 1))
    _dem(tmp_path / "dem.tif", (ox, oy), n, res, z)  # west: 5 deg, east half: 29 deg
    _dem(tmp_path / "ghi.tif", (ox, oy), n, res, np.full((n, n), 1500.0))
    gpd.GeoDataFrame(geometry=[shapely.Point(cx, cy - 3000)], crs=WORK).to_file(
        tmp_path / "grid.gpkg"
    )
    out = tmp_path / "o"
    res_ = _cli(
        "sites",
        "--candidates",
        str(tmp_path / "cands.geojson"),
        "--tech",
        "pv",
        "--no-rule-exclusions",
        "--dem",
        str(tmp_path / "dem.tif"),
        "--resource",
        f"{tmp_path / 'ghi.tif'}:1400",
        "--grid",
        str(tmp_path / "grid.gpkg"),
        "--out",
        str(out),
        "--figure",
        str(tmp_path / "f.png"),
    )
    assert res_.exit_code == 0, res_.output
    t = pd.read_csv(out / "eligible_sites.csv", encoding="utf-8-sig").set_index("site_id")
    # S1 straddles the 5/29 degree line at cx: its east half goes for slope
    assert t.loc["S1", "removed_slope_m2"] == pytest.approx(
        0.5 * t.loc["S1", "candidate_m2"], rel=0.02
    )
    # (the column of cells at the break has an intermediate slope, under the limit)
    assert t.loc["S1", "slope_mean_deg"] == pytest.approx(5.0, abs=0.5)
    # S2 lies off the DEM: unknown, not excluded
    assert t.loc["S2", "unknown_m2"] == pytest.approx(t.loc["S2", "candidate_m2"], rel=1e-6)
    assert t.loc["S2", "removed_slope_m2"] == 0
    assert t.loc["S1", "resource_ghi_mean"] == pytest.approx(1500.0)
    assert t.loc["S1", "grid_distance_m"] == pytest.approx(2000, abs=2)
    assert (tmp_path / "f.png").exists() and (tmp_path / "f.pdf").exists()


def test_rejected_exclusion_rows_are_reported_not_dropped(tmp_path):
    """A user exclusion layer with a row that cannot be used: it is in rejects.csv."""
    cx, cy = ON_CM
    ex = gpd.GeoDataFrame(
        {"name": ["ok", "empty"]},
        geometry=[_square(cx, cy, 500.0), shapely.Polygon()],
        crs=WORK,
    )
    ex.to_file(tmp_path / "ex.gpkg")
    _cands(_square(cx, cy, 1000.0)).to_file(tmp_path / "c.gpkg")
    out = tmp_path / "o"
    res = _cli(
        "sites",
        "--candidates",
        str(tmp_path / "c.gpkg"),
        "--tech",
        "pv",
        "--no-rule-exclusions",
        "--exclude",
        str(tmp_path / "ex.gpkg"),
        "--out",
        str(out),
    )
    assert res.exit_code == 0, res.output
    rejects = pd.read_csv(out / "rejects.csv", encoding="utf-8-sig")
    assert rejects["layer"].tolist() == ["ex.gpkg"]
    assert "rejected in the exclusion and grid layers (in rejects.csv): 1" in res.output
    t = pd.read_csv(out / "eligible_sites.csv", encoding="utf-8-sig")
    assert t["removed_ex_m2"].iat[0] == pytest.approx(250_000, rel=1e-4)


def test_candidates_drawn_on_amap_in_gcj02(tmp_path):
    """A candidate traced on Amap: GeoJSON that declares WGS84 but holds GCJ-02 coordinates.
    With --crs gcj02 it is shifted back before the screen: its area and position are right,
    and the red line under its west half is found."""
    from sxzones.crs import wgs84_to_gcj02

    cx, cy = ON_CM
    sq = _square(cx, cy, 1000.0)
    ll = gpd.GeoSeries([sq], crs=WORK).to_crs(4326).iloc[0]
    xy = shapely.get_coordinates(ll)
    gx, gy = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
    g = shapely.Polygon(np.c_[gx, gy])
    gpd.GeoDataFrame(
        {"site_id": ["G1"], "kind": ["closed_landfill"]}, geometry=[g], crs=4326
    ).to_file(tmp_path / "amap.geojson", driver="GeoJSON")
    red = gpd.GeoDataFrame(geometry=[shapely.box(cx - 600, cy - 600, cx, cy + 600)], crs=WORK)
    red.to_file(tmp_path / "red.gpkg")
    out = tmp_path / "o"
    res = _cli(
        "sites",
        "--candidates",
        str(tmp_path / "amap.geojson"),
        "--crs",
        "gcj02",
        "--tech",
        "pv",
        "--no-rule-exclusions",
        "--exclude",
        str(tmp_path / "red.gpkg"),
        "--out",
        str(out),
    )
    assert res.exit_code == 0, res.output
    t = pd.read_csv(out / "eligible_sites.csv", encoding="utf-8-sig")
    assert t["candidate_m2"].iat[0] == pytest.approx(1e6, rel=1e-3)
    # the west half is under the red line only if the GCJ-02 shift (hundreds of m) was undone
    assert t["removed_red_m2"].iat[0] == pytest.approx(0.5e6, rel=2e-3)
