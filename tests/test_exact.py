"""Exact answers on the ellipsoid, checked against pyproj.Geod and local azimuthal projections
(never against the code under test): nearest features at any distance, setbacks in ground
metres along long features, areas in every encoding of a parcel."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import CRS, Geod, Transformer

from sxzones.analyses.nearest import nearest_geodesic
from sxzones.analyses.site_check import SiteLayers, check_sites
from sxzones.analyses.siting import Exclusion, screen_sites
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
    ex = Exclusion("pipeline", np.array([pipe], dtype=object), 500.0)
    s = screen_sites(cands, [ex], rules=RULES, tech="pv").sites.iloc[0]
    removed = s["removed_pipeline_m2"]
    assert removed == pytest.approx(300.0 * 100.0, abs=100.0 * 500.0 * 5e-4)
