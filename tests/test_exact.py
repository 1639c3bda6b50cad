"""Exact answers on the ellipsoid, checked against pyproj.Geod and local azimuthal projections
(never against the code under test): nearest features at any distance, setbacks in ground
metres along long features, areas in every encoding of a parcel."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from click.testing import CliRunner
from pyproj import CRS, Geod, Transformer
from rasterio.transform import from_origin

from sxzones.analyses.nearest import nearest_geodesic
from sxzones.analyses.site_check import SiteLayers, check_sites
from sxzones.analyses.siting import Exclusion, RasterCriterion, screen_sites
from sxzones.cli import cli
from sxzones.crs import wgs84_to_gcj02
from sxzones.errors import LayerError
from sxzones.geodesy import ground_buffer
from sxzones.layers import load_catalog
from sxzones.rules import load_rules
from sxzones.runs.site_check import read_projects

from .conftest import CATALOG

WORK = CRS.from_epsg(4546)  # CGCS2000 / 3-degree Gauss-Krüger CM 111E
GEOD = Geod(ellps="GRS80")
TO_XY = Transformer.from_crs(4490, WORK, always_xy=True)
TO_LL = Transformer.from_crs(WORK, 4490, always_xy=True)
RULES = load_rules()


def _aeqd_distance(lon: float, lat: float, geom_work: shapely.Geometry) -> float:
    """Ground distance from (lon, lat) to a working-CRS geometry, in an azimuthal
    equidistant projection centred on the point (distances from its centre are true)."""
    aeqd = CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +ellps=GRS80 +units=m")
    to_aeqd = Transformer.from_crs(WORK, aeqd, always_xy=True)
    dense = shapely.segmentize(geom_work, 50.0)  # straight map edges: curves on the ground
    far = shapely.transform(dense, lambda xy: np.column_stack(to_aeqd.transform(*xy.T)))
    return float(shapely.distance(shapely.Point(0, 0), far))


def test_nearest_beyond_reach_when_a_long_feature_box_covers_the_point():
    """A river belt running diagonally across the province: its box covers the point, but
    the feature itself passes far away; a compact feature 51 km away is the nearest."""
    lon, lat = 111.6, 37.4
    px, py = TO_XY.transform(lon, lat)
    # a thin diagonal belt from 150 km south-west to 150 km north-east of the point, offset
    # 90 km to the north-west of it (its box covers the point)
    d = np.array([1.0, 1.0]) / np.sqrt(2)
    nrm = np.array([-1.0, 1.0]) / np.sqrt(2)
    c = np.array([px, py]) + 90_000 * nrm
    a, b = c - 150_000 * d, c + 150_000 * d
    belt = shapely.buffer(shapely.LineString([a, b]), 500.0, cap_style="flat")
    assert belt.envelope.contains(shapely.Point(px, py))
    # a 1 km square 51 km east of the point (on the ground: k ~ 1.0004 here)
    sq = shapely.box(px + 51_000, py - 500, px + 52_000, py + 500)
    truth = [_aeqd_distance(lon, lat, g) for g in (belt, sq)]
    assert truth[1] < truth[0] and 50_000 < truth[1] < 52_000
    point = np.array([shapely.Point(px, py)], dtype=object)
    for order in ([belt, sq], [sq, belt]):
        res = nearest_geodesic(point, np.array(order, dtype=object), 50_000.0, WORK, 1)
        assert order[int(res.area[0])] is sq
        assert res.distance[0] == pytest.approx(truth[1], abs=0.05)


# --------------------------------------------------------------------------- site check
def _ground_parcel(lon0: float, lat0: float, length: float, width: float, az: float):
    """A lon/lat parcel ``length`` x ``width`` metres on the ground, a vertex every 500 m."""
    n = int(length // 500) + 1
    side = [GEOD.fwd(lon0, lat0, az, s)[:2] for s in np.linspace(0, length, n)]
    lon1, lat1, _ = GEOD.fwd(lon0, lat0, az + 90, width)
    other = [GEOD.fwd(lon1, lat1, az, s)[:2] for s in np.linspace(length, 0, n)]
    return shapely.Polygon(side + other)


def _geod_area(ll: shapely.Geometry) -> float:
    return abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(ll))[0])


def _site_frames(units_ll: list[shapely.Polygon]) -> dict[str, gpd.GeoDataFrame]:
    """Layers by role in the working CRS: control units from lon/lat polygons (densified),
    a red line and a built-up area far away."""
    to_xy = [
        shapely.transform(
            shapely.segmentize(u, 0.002), lambda xy: np.column_stack(TO_XY.transform(*xy.T))
        )
        for u in units_ll
    ]
    far = shapely.box(*TO_XY.transform(110.3, 40.5), *TO_XY.transform(110.31, 40.51))
    return {
        "control_units": gpd.GeoDataFrame(
            {
                "unit_code": [f"U{i + 1}" for i in range(len(units_ll))],
                "unit_name": [f"unit {i + 1}" for i in range(len(units_ll))],
                "unit_type": "general_control",
            },
            geometry=to_xy,
            crs=WORK,
        ),
        "redline": gpd.GeoDataFrame(
            {"redline_id": ["R1"], "name": ["r"], "category": ["t"]}, geometry=[far], crs=WORK
        ),
        "builtup": gpd.GeoDataFrame(
            {"area_id": ["B1"], "name": ["b"], "kind": ["city"]}, geometry=[far], crs=WORK
        ),
    }


_ENCODINGS = {
    "wgs84": lambda xy: xy,
    "cgcs2000": lambda xy: xy,
    "gcj02": lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1])),
    "gk37": lambda xy: np.column_stack(
        Transformer.from_crs(4490, 4525, always_xy=True).transform(*xy.T)
    ),
    "gk38": lambda xy: np.column_stack(
        Transformer.from_crs(4490, 4526, always_xy=True).transform(*xy.T)
    ),
}


@pytest.mark.parametrize("encoding", sorted(_ENCODINGS))
def test_parcel_areas_on_the_ellipsoid_in_every_encoding(encoding, tmp_path):
    """A 100 km x 3 km corridor across the zone-37/38 boundary, half in each of two units:
    its area and both overlaps agree with pyproj.Geod within 0.005 %, however it is given."""
    cat = load_catalog(CATALOG)
    ll = _ground_parcel(111.95, 36.9, 100_000.0, 3_000.0, 70.0)
    cut = 112.45
    west = shapely.box(109.0, 34.0, cut, 41.0)
    east = shapely.box(cut, 34.0, 116.0, 41.0)
    truth = [_geod_area(ll), _geod_area(ll & west), _geod_area(ll & east)]
    assert min(truth[1:]) > 0.3 * truth[0]  # both units hold a good part of the corridor
    given = shapely.transform(ll, _ENCODINGS[encoding])
    if encoding.startswith("gk"):  # a GeoPackage declaring the zone
        path = tmp_path / "corridor.gpkg"
        crs = 4525 if encoding == "gk37" else 4526
    else:  # GeoJSON: lon/lat, whose datum (or web-map shift) the user names
        path, crs = tmp_path / "corridor.geojson", 4326
    gpd.GeoDataFrame({"project_id": ["C1"]}, geometry=[given], crs=crs).to_file(path)
    projects, _ = read_projects(str(path), cat, crs=encoding, industry="pv")
    layers = SiteLayers(_site_frames([west, east]))
    row = check_sites(projects, layers, RULES, threads=1).table.iloc[0]
    assert row["unit_codes"] == "U1;U2"
    got = [row["area_m2"], *(float(v) for v in row["unit_overlap_m2"].split(";"))]
    np.testing.assert_allclose(got, truth, rtol=5e-5)


def _unit_layers(*codes: str) -> tuple[dict[str, gpd.GeoDataFrame], float, float]:
    """Units side by side, 10 km squares from 112.0E 37.0N eastwards."""
    x0, y0 = TO_XY.transform(112.0, 37.0)
    frames = _site_frames([shapely.box(0, 0, 1, 1)])
    frames["control_units"] = gpd.GeoDataFrame(
        {"unit_code": list(codes), "unit_name": list(codes), "unit_type": "general_control"},
        geometry=[
            shapely.box(x0 + 10_000 * i, y0, x0 + 10_000 * (i + 1), y0 + 10_000)
            for i in range(len(codes))
        ],
        crs=WORK,
    )
    return frames, x0, y0


def _one(x: float, y: float, industry: str = "pv") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"project_id": ["P1"], "industry": [industry], "kind": ["new"]},
        geometry=[shapely.Point(x, y)],
        crs=WORK,
    )


def test_check_against_a_subset_of_units_reports_the_subset_codes():
    """pandas copies ``attrs`` to subsets: codes cached there named the wrong unit."""
    frames, x0, y0 = _unit_layers("U1", "U2")
    p = _one(x0 + 15_000, y0 + 5_000)  # in U2
    full = check_sites(p, SiteLayers(frames), RULES, threads=1).table.iloc[0]
    assert full["unit_codes"] == "U2"
    cu = frames["control_units"]
    sub = {**frames, "control_units": cu[cu.unit_code == "U2"]}
    assert check_sites(p, SiteLayers(sub), RULES, threads=1).table.iloc[0]["unit_codes"] == "U2"


def _many_rules(tmp_path, n: int):
    """A rules file with ``n`` site rules on control units, all for PV (conditional); the
    last one also for steel, and the only conflict."""
    body = ['[document]\nid = "test"\ntitle_zh = "测试"\ntitle_en = "test"\n']
    for k in range(n):
        inds = '["pv", "steel"]' if k == n - 1 else '["pv"]'
        body.append(
            f'[[rules]]\nid = "r{k:02d}"\nkind = "site_overlap"\nclause = "c{k}"\n'
            f'zh = "规则"\nen = "rule"\nlayer_role = "control_units"\nindustries = {inds}\n'
            f'verdict = "{"conflict" if k == n - 1 else "conditional"}"\n'
        )
    path = tmp_path / "rules.toml"
    path.write_text("\n".join(body), encoding="utf-8")
    return load_rules(path)


def test_seventy_site_rules_all_reported(tmp_path):
    """Rules past the 64th were lost in an int64 bitmask: a conflict with no rule named."""
    rules = _many_rules(tmp_path, 70)
    frames, x0, y0 = _unit_layers("U1")
    layers = SiteLayers(frames)
    steel = check_sites(_one(x0 + 5_000, y0 + 5_000, "steel"), layers, rules, threads=1)
    assert steel.table.iloc[0][["verdict", "rule_ids", "clauses"]].tolist() == [
        "conflict",
        "r69",
        "c69",
    ]
    pv = check_sites(_one(x0 + 5_000, y0 + 5_000, "pv"), layers, rules, threads=1)
    row = pv.table.iloc[0]
    assert row["verdict"] == "conflict"
    assert row["rule_ids"] == ";".join(f"r{k:02d}" for k in range(70))
    assert [r["id"] for r in pv.details()[0]["rules"]] == [f"r{k:02d}" for k in range(70)]


def test_check_sites_takes_a_mapping_and_names_wrong_types():
    frames, x0, y0 = _unit_layers("U1", "U2")
    p = _one(x0 + 15_000, y0 + 5_000)
    a = check_sites(p, frames, RULES, threads=1).table  # a plain dict of GeoDataFrames
    b = check_sites(p, SiteLayers(frames), RULES, threads=1).table
    pd.testing.assert_frame_equal(a, b)
    assert a["unit_codes"].iloc[0] == "U2"
    with pytest.raises(TypeError, match="layers must be SiteLayers or a mapping"):
        check_sites(p, [frames["control_units"]], RULES)
    with pytest.raises(TypeError, match=r"layers\['redline'\] must be a GeoDataFrame"):
        check_sites(p, {**frames, "redline": frames["redline"].geometry.to_numpy()}, RULES)
    with pytest.raises(TypeError, match="projects must be a GeoDataFrame"):
        check_sites(p.geometry, frames, RULES)
    with pytest.raises(TypeError, match="rules must be a RuleSet"):
        check_sites(p, frames, None)  # type: ignore[arg-type]
    with pytest.raises(LayerError, match="no \\['builtup'\\]"):
        check_sites(p, {k: v for k, v in frames.items() if k != "builtup"}, RULES)
    with pytest.raises(TypeError, match="threads"):
        check_sites(p, frames, RULES, threads=0)


# --------------------------------------------------------------------------- setbacks
def _offsets(line_ll, frac: float, setback: float, work: CRS) -> list[tuple[float, float, bool]]:
    """Points (lon, lat, should be inside) at ground distances setback x (1 - 1e-4) and
    x (1 + 5e-4) either side of a lon/lat polyline at ``frac`` of its length, placed with
    pyproj.Geod across the feature's local direction (its edges are straight in the working
    CRS, so the direction comes from two points 1 m either side on the map)."""
    to_xy = Transformer.from_crs(4490, work, always_xy=True)
    to_ll = Transformer.from_crs(work, 4490, always_xy=True)
    line = shapely.LineString(np.column_stack(to_xy.transform(*np.array(line_ll).T)))
    d = frac * line.length
    a, base, b = (line.interpolate(t) for t in (d - 1.0, d, d + 1.0))
    (lo1, lo0, lo2), (la1, la0, la2) = to_ll.transform([a.x, base.x, b.x], [a.y, base.y, b.y])
    az = GEOD.inv(lo1, la1, lo2, la2)[0]
    out = []
    for side in (-90.0, 90.0):
        for factor, inside in ((1 - 1e-4, True), (1 + 5e-4, False)):
            lon, lat, _ = GEOD.fwd(lo0, la0, az + side, setback * factor)
            out.append((lon, lat, inside))
    return out


@pytest.mark.parametrize("epsg", [4546, 4547])  # working CRS on CM 111E, on CM 114E
def test_setback_is_ground_metres_along_a_480_km_pipeline(epsg):
    """A pipeline from 110.3E to 114.5E (both Gauss-Krüger zones; k from 1 to 1.0016) with a
    500 m setback: points 5 cm inside the true setback are in the buffer, points 25 cm
    outside are not, near both ends, in the middle, and beyond each end."""
    work = CRS.from_epsg(epsg)
    to_xy = Transformer.from_crs(4490, work, always_xy=True)
    lon0, lat0, az, length = 110.3, 36.0, 55.0, 480_000.0
    line_ll = [GEOD.fwd(lon0, lat0, az, s)[:2] for s in np.linspace(0, length, 49)]
    assert line_ll[-1][0] > 114.4
    xy = np.column_stack(to_xy.transform(*np.array(line_ll).T))
    zone = ground_buffer(np.array([shapely.LineString(xy)], dtype=object), 500.0, work)[0]
    checks = []
    for frac in (0.001, 0.02, 0.3, 0.5, 0.7, 0.98, 0.999):
        checks += _offsets(line_ll, frac, 500.0, work)
    for end, back in ((line_ll[0], line_ll[1]), (line_ll[-1], line_ll[-2])):  # beyond the ends
        outward = GEOD.inv(end[0], end[1], back[0], back[1])[0] + 180.0
        for factor, inside in ((1 - 1e-4, True), (1 + 5e-4, False)):
            lon, lat, _ = GEOD.fwd(end[0], end[1], outward, 500.0 * factor)
            checks.append((lon, lat, inside))
    lon, lat, inside = (np.array(v) for v in zip(*checks, strict=True))
    x, y = to_xy.transform(lon, lat)
    assert shapely.contains_xy(zone, x, y).tolist() == inside.astype(bool).tolist()


def test_siting_setback_along_a_long_pipeline_leaves_nothing_inside(tmp_path):
    """Through screen_sites: a candidate straddling the true setback line of a 330 km
    pipeline 3.3 degrees east of the central meridian loses exactly the part within 500 m
    on the ground (within 0.05 % of the setback)."""
    lon0, lat0 = 111.2, 37.0
    line_ll = [GEOD.fwd(lon0, lat0, 90.0, s)[:2] for s in np.linspace(0, 330_000.0, 34)]
    xy = np.column_stack(TO_XY.transform(*np.array(line_ll).T))
    pipe = shapely.LineString(xy)
    # a 100 m x 1000 m (ground) candidate north of the pipeline near its east end, from 200 m
    # to 1200 m across it: 300 m x 100 m of it lie within the setback
    d = pipe.project(shapely.Point(TO_XY.transform(*line_ll[-2]))) - 5_000.0  # mid-segment
    pa, pb = pipe.interpolate(d), pipe.interpolate(d + 1.0)
    (lon, lo2), (lat, la2) = TO_LL.transform([pa.x, pb.x], [pa.y, pb.y])
    along = GEOD.inv(lon, lat, lo2, la2)[0]
    corners = []
    for across, ahead in ((200, 0), (200, 100), (1200, 100), (1200, 0)):
        lo, la, _ = GEOD.fwd(lon, lat, along, ahead)
        lo, la, _ = GEOD.fwd(lo, la, along - 90.0, across)
        corners.append(TO_XY.transform(lo, la))
    cand = shapely.segmentize(shapely.Polygon(corners), 5.0)
    cands = gpd.GeoDataFrame(
        {"site_id": ["S1"], "kind": ["subsidence"], "settled": [True]}, geometry=[cand], crs=WORK
    )
    ex = Exclusion("pipeline", gpd.GeoDataFrame(geometry=[pipe], crs=WORK), 500.0)
    s = screen_sites(cands, [ex], rules=RULES, tech="pv").sites.iloc[0]
    removed = s["removed_pipeline_m2"]
    assert removed == pytest.approx(300.0 * 100.0, abs=100.0 * 500.0 * 5e-4)


# --------------------------------------------------------------------------- siting totals
def _ground_square(lon: float, lat: float, side: float) -> shapely.Polygon:
    """A square ``side`` metres on the ground (south-west corner at lon, lat), working CRS,
    a vertex every 50 m."""
    n = int(side // 50)
    south = [GEOD.fwd(lon, lat, 90.0, s)[:2] for s in np.linspace(0, side, n + 1)]
    ring = []
    for lo, la in south:
        ring.append((lo, la))
    for lo, la in reversed(south):
        ring.append(GEOD.fwd(lo, la, 0.0, side)[:2])
    poly = shapely.Polygon(ring)
    return shapely.transform(poly, lambda xy: np.column_stack(TO_XY.transform(*xy.T)))


def _siting_inputs(tmp_path):
    """S1 and S2: 1 km² each, S2 over the east half of S1 (0.5 km² shared); S3 (1 km²) 20 km
    east, off the DEM, which is flat and covers S1 and S2 only."""
    s1 = _ground_square(111.5, 37.5, 1000.0)
    lon, lat = TO_LL.transform(*shapely.get_coordinates(s1)[0])
    lon_mid = GEOD.fwd(lon, lat, 90.0, 500.0)[0]
    s2 = _ground_square(lon_mid, lat, 1000.0)
    s3 = _ground_square(GEOD.fwd(lon, lat, 90.0, 20_000.0)[0], lat, 1000.0)
    cands = gpd.GeoDataFrame(
        {"site_id": ["S1", "S2", "S3"], "kind": "subsidence", "settled": True},
        geometry=[s1, s2, s3],
        crs=WORK,
    )
    x0, y0, x1, y1 = (s1 | s2).buffer(3000).bounds
    res = 30.0
    w, h = int((x1 - x0) // res), int((y1 - y0) // res)
    dem = tmp_path / "dem.tif"
    with rasterio.open(
        dem,
        "w",
        driver="GTiff",
        width=w,
        height=h,
        count=1,
        dtype="float32",
        crs=WORK,
        transform=from_origin(x0, y1, res, res),
        nodata=-9999.0,
    ) as ds:
        ds.write(np.full((1, h, w), 900.0, np.float32))
    lls = [
        shapely.transform(g, lambda xy: np.column_stack(TO_LL.transform(*xy.T)))
        for g in (s1, s2, s3)
    ]
    truth = {
        "union": _geod_area(shapely.union_all(lls[:2])) + _geod_area(lls[2]),
        "overlap": _geod_area(lls[0] & lls[1]),
        "s3": _geod_area(lls[2]),
    }
    return cands, dem, truth


def test_siting_totals_count_the_union_and_what_the_dem_did_not_assess(tmp_path):
    cands, dem, truth = _siting_inputs(tmp_path)
    with rasterio.open(dem) as ds:
        res = screen_sites(cands, [], RULES, rasters=[RasterCriterion(ds, "slope", 0.0, "slope")])
    t = res.summary
    assert t["candidate_km2"] * 1e6 == pytest.approx(truth["union"], rel=5e-5)
    assert t["eligible_km2"] * 1e6 == pytest.approx(truth["union"], rel=5e-5)
    assert t["candidate_km2_sum"] * 1e6 == pytest.approx(
        truth["union"] + truth["overlap"], rel=5e-5
    )
    density = 35.0
    assert t["capacity_mw"] == pytest.approx(truth["union"] / 1e6 * density, rel=1e-4)
    [pair] = t["overlapping_pairs"]
    assert (pair["site_a"], pair["site_b"]) == ("S1", "S2")
    assert pair["overlap_m2"] == pytest.approx(truth["overlap"], rel=5e-5)
    # S3 lies off the DEM: its land is eligible but not assessed, with its capacity
    assert t["not_assessed_km2"] * 1e6 == pytest.approx(truth["s3"], rel=5e-5)
    assert t["not_assessed_capacity_mw"] == pytest.approx(truth["s3"] / 1e6 * density, rel=1e-4)
    [slope] = t["not_assessed_by_raster"]
    assert slope["raster"] == "slope" and slope["source"] == str(dem)
    assert any("does not cover all the candidates" in w for w in t["warnings"])
    assert res.unassessed["site_id"].tolist() == ["S3"]
    assert res.sites.set_index("site_id").loc["S3", "unknown_capacity_mw"] == pytest.approx(
        truth["s3"] / 1e6 * density, rel=1e-4
    )


def test_cli_siting_prints_xlsx_and_maps_the_union_and_the_unassessed_land(tmp_path):
    cands, dem, truth = _siting_inputs(tmp_path)
    cands.to_file(tmp_path / "cands.gpkg")
    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli,
        [
            "sites",
            "--candidates",
            str(tmp_path / "cands.gpkg"),
            "--tech",
            "pv",
            "--no-rule-exclusions",
            "--dem",
            str(dem),
            "--out",
            str(out),
            "--map",
            str(tmp_path / "m.html"),
            "--figure",
            str(tmp_path / "f.png"),
        ],
    )
    assert res.exit_code == 0, res.output
    union_km2 = truth["union"] / 1e6
    assert f"eligible {union_km2:.2f} of {union_km2:.2f} km² (the union of the candidates)" in (
        res.output
    )
    assert "overlapping candidates: 1 pair(s)" in res.output
    assert f"S1/S2 {truth['overlap'] / 1e6:.3f} km²" in res.output
    s3 = truth["s3"] / 1e6
    assert f"not assessed by the rasters (no data or outside them): {s3:.2f} km²" in res.output
    assert f"{s3 * 35:.1f} MW on it" in res.output
    assert "warning: raster slope" in res.output
    # header=1: the first line says the plan's exclusions were off (--no-rule-exclusions)
    summary = pd.read_excel(out / "eligible_sites.xlsx", sheet_name="summary", header=1)
    last = summary.iloc[-1]
    assert last["kind"] == "all (union of candidates)"
    assert last["candidate_km2"] == pytest.approx(union_km2, abs=1e-3)
    assert last["not_assessed_km2"] == pytest.approx(s3, abs=1e-3)
    assert last["not_assessed_mw"] == pytest.approx(s3 * 35, abs=0.1)
    html = (tmp_path / "m.html").read_text(encoding="utf-8")
    assert "Not assessed by raster (no data)" in html
    assert f"Not assessed by rasters (no data or outside them): {s3:.2f} km²" in html
    assert (tmp_path / "f.png").stat().st_size > 0
    meta = json.loads((out / "siting.json").read_text(encoding="utf-8"))
    assert meta["totals"]["overlapping_pairs"][0]["site_b"] == "S2"


def test_screen_sites_takes_geodataframes_and_arrays_and_names_wrong_types(tmp_path):
    cands, dem, _ = _siting_inputs(tmp_path)
    s1 = cands.geometry.iloc[0]
    red = gpd.GeoDataFrame(geometry=[s1.buffer(-300)], crs=WORK).to_crs(4326)  # lon/lat
    with rasterio.open(dem) as ds:
        z, tf = ds.read(1), ds.transform
        by_file = screen_sites(
            cands, {"red": red}, RULES, rasters=[RasterCriterion(ds, "slope", 0.0, "slope")]
        )
    by_array = screen_sites(
        cands,
        [Exclusion("red", red)],
        RULES,
        rasters=[RasterCriterion(z, "slope", 0.0, "slope", transform=tf, crs=4546, nodata=-9999)],
    )
    a, b = by_file.sites, by_array.sites
    assert a["removed_red_m2"].iloc[0] > 0  # the lon/lat exclusion was brought to the CRS
    pd.testing.assert_frame_equal(
        a.drop(columns="geometry"), b.drop(columns="geometry"), check_exact=False
    )
    with pytest.raises(TypeError, match=r"exclusions\[0\] must be an Exclusion"):
        screen_sites(cands, [red], RULES)
    with pytest.raises(TypeError, match="exclusions must be a list of Exclusion"):
        screen_sites(cands, red, RULES)
    with pytest.raises(TypeError, match=r"rasters\[0\].source must be an opened rasterio"):
        screen_sites(cands, [], RULES, rasters=[RasterCriterion(dem, "slope", 0.0, "slope")])
    with pytest.raises(TypeError, match="needs its transform"):
        screen_sites(cands, [], RULES, rasters=[RasterCriterion(z, "slope", 0.0, "slope")])
    with pytest.raises(TypeError, match="rules must be a RuleSet"):
        screen_sites(cands, [], None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="candidates must be a GeoDataFrame"):
        screen_sites(cands.geometry, [], RULES)
    with pytest.raises(TypeError, match="positional"):
        screen_sites(cands, [], RULES, "wind")  # type: ignore[misc]


@pytest.mark.parametrize("epsg", [4546, 4547])  # the same corridor in either working CRS
def test_siting_areas_of_a_long_corridor_on_the_ellipsoid(epsg):
    """A 100 km x 3 km candidate across both zones with a red line over its west part: the
    candidate, removed and eligible areas agree with pyproj.Geod within 0.005 %."""
    work = CRS.from_epsg(epsg)
    to_xy = Transformer.from_crs(4490, work, always_xy=True)
    ll = _ground_parcel(111.95, 36.9, 100_000.0, 3_000.0, 70.0)
    red_ll = shapely.box(109.0, 34.0, 112.3, 41.0)
    truth = [_geod_area(ll), _geod_area(ll & red_ll)]

    def work_geom(g: shapely.Geometry) -> shapely.Geometry:
        dense = shapely.segmentize(g, 0.002)
        return shapely.transform(dense, lambda xy: np.column_stack(to_xy.transform(*xy.T)))

    cands = gpd.GeoDataFrame(
        {"site_id": ["C1"], "kind": ["subsidence"], "settled": [True]},
        geometry=[work_geom(ll)],
        crs=work,
    )
    red = gpd.GeoDataFrame(geometry=[work_geom(red_ll)], crs=work)
    s = screen_sites(cands, {"redline": red}, RULES).sites.iloc[0]
    got = [s["candidate_m2"], s["removed_redline_m2"], s["eligible_m2"]]
    np.testing.assert_allclose(got, [truth[0], truth[1], truth[0] - truth[1]], rtol=5e-5)


def test_wind_totals_count_overlapping_candidates_turbines_once():
    """The same land drawn twice: each candidate holds the same lattice, the union once."""
    sq = _ground_square(111.5, 37.5, 4000.0)
    cands = gpd.GeoDataFrame(
        {"site_id": ["A", "B"], "kind": "subsidence", "settled": True},
        geometry=[sq, sq],
        crs=WORK,
    )
    res = screen_sites(cands, [], RULES, tech="wind")
    per = res.sites["capacity_mw"].tolist()
    assert per[0] == per[1] > 0
    t = res.summary
    assert t["capacity_mw_sum"] == pytest.approx(2 * per[0])
    assert t["capacity_mw"] == pytest.approx(per[0])
    truth = _geod_area(shapely.transform(sq, lambda xy: np.column_stack(TO_LL.transform(*xy.T))))
    assert t["candidate_km2"] * 1e6 == pytest.approx(truth, rel=5e-5)
    assert t["overlapping_pairs"][0]["overlap_m2"] == pytest.approx(truth, rel=5e-5)


def test_overlap_that_is_a_polygon_plus_a_line_keeps_its_area():
    """A unit of two squares that touch the parcel differently: the parcel overlaps the first
    and only touches the second along an edge, so the intersection is a GeometryCollection
    (polygon + line). Its area was counted as 0 m² (a parcel found by the benchmark: 71,584 m²
    of unit overlap reported as 0.0)."""
    frames, x0, y0 = _unit_layers("U1")
    unit = shapely.MultiPolygon(
        [
            shapely.box(x0, y0, x0 + 1_000, y0 + 1_000),
            shapely.box(x0 + 1_500, y0, x0 + 2_500, y0 + 1_000),
        ]
    )
    frames["control_units"] = frames["control_units"].set_geometry([unit], crs=WORK)
    parcel = shapely.box(x0 + 500, y0 + 200, x0 + 1_500, y0 + 800)  # touches the 2nd square
    inter = shapely.intersection(parcel, unit)
    assert inter.geom_type == "GeometryCollection"  # the case under test
    projects = gpd.GeoDataFrame(
        {"project_id": ["P1"], "industry": ["pv"], "kind": ["new"]}, geometry=[parcel], crs=WORK
    )
    row = check_sites(projects, SiteLayers(frames), RULES, threads=1).table.iloc[0]
    part = shapely.box(x0 + 500, y0 + 200, x0 + 1_000, y0 + 800)  # the overlap: 500 m x 600 m
    lonlat = shapely.transform(part, lambda xy: np.column_stack(TO_LL.transform(*xy.T)))
    truth = abs(GEOD.geometry_area_perimeter(shapely.segmentize(lonlat, 1e-3))[0])
    assert row["unit_codes"] == "U1"
    assert float(row["unit_overlap_m2"]) == pytest.approx(truth, rel=5e-5)
