"""The site check: known answers on hand-built layers and on the bundled Shanxi layers."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Geod, Transformer

from sxzones.analyses.site_check import SiteLayers, check_sites, ellipsoidal_area
from sxzones.cli import cli
from sxzones.crs import wgs84_to_gcj02
from sxzones.layers import load_catalog
from sxzones.rules import load_rules
from sxzones.runs.site_check import read_projects, site_layers

from .conftest import CATALOG

WORK = 4546
RULES = load_rules()
GEOD = Geod(ellps="GRS80")
TO_XY = Transformer.from_crs(4490, WORK, always_xy=True)


def _geod_area(poly_work: shapely.Polygon) -> float:
    ll = gpd.GeoSeries([poly_work], crs=WORK).to_crs(4490).iloc[0]
    ll = shapely.segmentize(ll, 0.0005)
    return abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(ll))[0])


def _layers(x0: float, y0: float) -> SiteLayers:
    """Two 10 km unit squares side by side (west: general, east: priority), a 2 km red-line
    square in the west one, a built-up area 30 km away, no zones."""
    west = shapely.box(x0 - 10000, y0, x0, y0 + 10000)
    east = shapely.box(x0, y0, x0 + 10000, y0 + 10000)
    units = gpd.GeoDataFrame(
        {
            "unit_code": ["ZH1401010300001", "ZH1401010100001"],
            "unit_name": ["west", "east"],
            "unit_type": ["general_control", "priority_protection"],
            "adcode": ["140101", "140101"],
        },
        geometry=[west, east],
        crs=WORK,
    )
    red = gpd.GeoDataFrame(
        {"redline_id": ["R1"], "name": ["红线"], "category": ["test"]},
        geometry=[shapely.box(x0 - 6000, y0 + 4000, x0 - 4000, y0 + 6000)],
        crs=WORK,
    )
    bu = gpd.GeoDataFrame(
        {"area_id": ["B1"], "name": ["城区"], "kind": ["city"], "adcode": ["140101"]},
        geometry=[shapely.box(x0 + 40000, y0, x0 + 41000, y0 + 1000)],
        crs=WORK,
    )
    zones = gpd.GeoDataFrame(
        {"zone_id": ["Z"], "name": ["z"], "zone": ["elsewhere"]},
        geometry=[shapely.box(0, 0, 1, 1)],
        crs=WORK,
    )
    return SiteLayers({"control_units": units, "redline": red, "builtup": bu, "zones": zones})


def _projects(geoms, industry="steel", kind="new"):
    n = len(geoms)
    return gpd.GeoDataFrame(
        {"project_id": [f"P{i}" for i in range(n)], "industry": [industry] * n, "kind": [kind] * n},
        geometry=geoms,
        crs=WORK,
    )


@pytest.mark.parametrize("lon", [111.2, 113.9])  # near CM 111E, and 2.9 degrees east of it
def test_parcel_half_inside_a_red_line(lon):
    x0, y0 = TO_XY.transform(lon, 37.0)
    lay = _layers(x0, y0)
    # a 1 km x 0.5 km parcel straddling the red line's west edge: half inside
    parcel = shapely.box(x0 - 6500, y0 + 4500, x0 - 5500, y0 + 5000)
    r = check_sites(_projects([parcel]), lay, RULES, threads=1).table.iloc[0]
    assert r["verdict"] == "conflict"
    assert r["rule_ids"] == "site_redline"
    assert r["redline_overlap_pct"] == pytest.approx(50.0, abs=0.1)
    ref = _geod_area(parcel)
    assert r["area_m2"] == pytest.approx(ref, rel=1e-3)
    assert r["redline_overlap_m2"] == pytest.approx(ref / 2, rel=1e-3)
    assert r["nearest_redline_m"] == 0.0
    if lon > 113:  # the planar area would be off by more than the 0.1 % asked
        assert abs(parcel.area - ref) / ref > 1e-3


def test_point_exactly_on_a_unit_border_touches_both():
    x0, y0 = TO_XY.transform(111.5, 37.0)
    lay = _layers(x0, y0)
    t = check_sites(_projects([shapely.Point(x0, y0 + 8000)]), lay, RULES, threads=1).table
    assert t["unit_codes"].iloc[0] == "ZH1401010300001;ZH1401010100001"
    assert t["verdict"].iloc[0] == "conflict"  # steel touching a priority-protection unit
    assert t["rule_ids"].iloc[0] == "site_priority_unit_heavy"


def test_pv_in_priority_unit_is_conditional():
    x0, y0 = TO_XY.transform(111.5, 37.0)
    lay = _layers(x0, y0)
    t = check_sites(
        _projects([shapely.Point(x0 + 5000, y0 + 5000)], industry="pv"), lay, RULES, threads=1
    ).table
    assert t["verdict"].iloc[0] == "conditional"
    assert t["rule_ids"].iloc[0] == "site_priority_unit_renewables"


def test_gcj02_point_lands_in_another_unit_once_converted():
    cat = load_catalog(CATALOG)
    lon_w, lat_w = 112.0, 37.0
    x0, y0 = TO_XY.transform(lon_w, lat_w)
    lay = _layers(x0 + 200.0, y0 - 5000)  # unit border 200 m east of the true position
    glon, glat = wgs84_to_gcj02(lon_w, lat_w)  # what a web map shows: ~500 m east
    text = f"{float(glon)},{float(glat)}"
    right, _ = read_projects(text, cat, crs="gcj02", industry="steel")
    wrong, _ = read_projects(text, cat, crs="wgs84", industry="steel")
    a = check_sites(right, lay, RULES, threads=1).table["unit_codes"].iloc[0]
    b = check_sites(wrong, lay, RULES, threads=1).table["unit_codes"].iloc[0]
    assert a == "ZH1401010300001"  # west: where the site really is
    assert b == "ZH1401010100001"  # east: where the unconverted numbers would put it
    assert right.geometry.iloc[0].distance(shapely.Point(x0, y0)) < 0.05


@pytest.fixture(scope="module")
def shanxi():
    cat = load_catalog(CATALOG)
    return cat, site_layers(cat)


def test_taiyuan_region_new_steel_conflict_capacity_replacement_not(shanxi):
    cat, lay = shanxi
    new, _ = read_projects("112.30,37.56", cat, crs="wgs84", industry="steel", kind="new")
    rep, _ = read_projects(
        "112.30,37.56", cat, crs="wgs84", industry="steel", kind="capacity_replacement"
    )
    a = check_sites(new, lay, RULES, threads=1).table.iloc[0]
    b = check_sites(rep, lay, RULES, threads=1).table.iloc[0]
    assert a["county"] == "清徐县"
    assert a["verdict"] == "conflict"
    assert "site_taiyuan_region_ban" in a["rule_ids"]
    assert "晋环发〔2023〕1号 (五)" in a["clauses"]
    assert b["verdict"] == "conditional"
    assert "site_taiyuan_region_ban" not in b["rule_ids"]


def test_parcel_spanning_both_gauss_kruger_zones(shanxi, tmp_path):
    cat, lay = shanxi
    # a 2 km x 1 km parcel across 112.5E (the zone 37 / zone 38 boundary), in zone-38 eastings
    to38 = Transformer.from_crs(4490, 4526, always_xy=True)
    cx, cy = to38.transform(112.5, 36.5)
    wkt = shapely.box(cx - 1000, cy - 500, cx + 1000, cy + 500).wkt
    p, _ = read_projects(wkt, cat, crs="gk38", industry="pv")
    t = check_sites(p, lay, RULES, threads=1).table.iloc[0]
    ll = shapely.segmentize(shapely.box(cx - 1000, cy - 500, cx + 1000, cy + 500), 10.0)
    ll = gpd.GeoSeries([ll], crs=4526).to_crs(4490).iloc[0]
    assert ll.bounds[0] < 112.5 < ll.bounds[2]
    ref = abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(ll))[0])
    assert t["area_m2"] == pytest.approx(ref, rel=1e-3)
    pct = [float(x) for x in str(t["unit_overlap_pct"]).split(";")]
    assert sum(pct) == pytest.approx(100.0, abs=0.1)


def test_self_intersecting_parcel_is_reported(shanxi, tmp_path):
    bowtie = "POLYGON ((112.30 37.56, 112.32 37.58, 112.32 37.56, 112.30 37.58, 112.30 37.56))"
    res = CliRunner().invoke(
        cli,
        [
            "check",
            "--project",
            bowtie,
            "--crs",
            "cgcs2000",
            "--industry",
            "pv",
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "invalid geometry repaired" in res.output
    assert "Self-intersection" in res.output
    doc = json.loads((tmp_path / "site_check.json").read_text(encoding="utf-8"))
    assert "Self-intersection" in doc["projects"][0]["geometry_note"]
    report = (tmp_path / "report-P1.html").read_text(encoding="utf-8")
    assert "invalid geometry repaired" in report


def test_text_geometry_needs_a_crs(tmp_path):
    res = CliRunner().invoke(
        cli, ["check", "--project", "112.3,37.5", "--industry", "steel", "--out", str(tmp_path)]
    )
    assert res.exit_code == 2
    assert "give its CRS with --crs" in res.output
    res = CliRunner().invoke(
        cli,
        [
            "check",
            "--project",
            "not a geometry",
            "--crs",
            "wgs84",
            "--industry",
            "steel",
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 2
    assert "neither an existing file, nor 'lon,lat', nor WKT" in res.output


def test_batch_from_a_jzd_file_with_outputs(jzd_file, tmp_path):
    res = CliRunner().invoke(
        cli, ["check", "--projects", str(jzd_file), "--industry", "pv", "--out", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "site_check.csv", encoding="utf-8-sig")
    assert table["project_id"].tolist() == ["P-001", "P-002"]
    doc = json.loads((tmp_path / "site_check.json").read_text(encoding="utf-8"))
    counts = {k: v for k, v in doc["input"].items() if k != "findings"}  # notes of reading
    assert counts == {"rows": 2, "checked": 2, "rejected": 0}
    assert set(doc["layers"]) >= {"control_units", "redline", "builtup", "zones", "admin"}
    assert doc["layers"]["control_units"]["status"] == "demonstration"
    first = doc["projects"][0]
    assert first["area_m2"] == pytest.approx(9600.0, rel=2e-3)
    assert {"control_units", "redline", "zones", "rules", "admission_lists"} <= set(first)
    assert (tmp_path / "report-P-001.html").exists()
    assert (tmp_path / "report-P-002.html").exists()


def test_ellipsoidal_area_matches_geod_across_the_province():
    rng = np.random.default_rng(3)
    lons = rng.uniform(110.3, 114.5, 20)
    lats = rng.uniform(34.7, 40.6, 20)
    polys = []
    for lo, la in zip(lons, lats, strict=True):
        x, y = TO_XY.transform(lo, la)
        polys.append(shapely.box(x, y, x + rng.uniform(100, 3000), y + rng.uniform(100, 3000)))
    ours = ellipsoidal_area(np.array(polys, dtype=object), TO_XY.target_crs)
    ref = np.array([_geod_area(p) for p in polys])
    np.testing.assert_allclose(ours, ref, rtol=1e-4)


def test_large_batch_in_threads_equals_one_thread(shanxi):
    """Batches over 2 x CHUNK projects run chunk by chunk in worker threads: same answers."""
    _, lay = shanxi
    rng = np.random.default_rng(5)
    x, y = TO_XY.transform(rng.uniform(111.0, 113.5, 9000), rng.uniform(35.5, 39.5, 9000))
    side = rng.uniform(100, 900, 9000)
    projects = gpd.GeoDataFrame(
        {
            "project_id": [f"P{i}" for i in range(9000)],
            "industry": rng.choice(["steel", "pv", "cement", "coking"], 9000),
            "kind": rng.choice(["new", "capacity_replacement"], 9000),
        },
        geometry=shapely.box(x, y, x + side, y + side),
        crs=WORK,
    )
    one = check_sites(projects, lay, RULES, threads=1)
    two = check_sites(projects, lay, RULES, threads=2)
    pd.testing.assert_frame_equal(
        one.table.drop(columns="geometry"), two.table.drop(columns="geometry")
    )
    for role in one.pairs:
        pd.testing.assert_frame_equal(
            one.pairs[role].reset_index(drop=True), two.pairs[role].reset_index(drop=True)
        )
    assert one.details()[123] == two.details()[123]


@pytest.mark.parametrize(("reports", "expected"), [("all", 4), ("flagged", None), ("none", 0)])
def test_reports_option_limits_the_per_project_reports(tmp_path, reports, expected):
    from .conftest import ROOT

    res = CliRunner().invoke(
        cli,
        [
            "check",
            "--projects",
            str(ROOT / "analyses" / "examples" / "projects_demonstration.csv"),
            "--crs",
            "wgs84",
            "--out",
            str(tmp_path),
            "--reports",
            reports,
        ],
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "site_check.csv", encoding="utf-8-sig")
    flagged = int((table["verdict"] != "clear").sum())
    assert 0 < flagged < len(table) == 4  # the example has both kinds
    written = sorted(p.name for p in tmp_path.glob("report-*.html"))
    assert len(written) == (flagged if expected is None else expected)


@pytest.mark.parametrize("lonlat", [(112.55, 37.87), (113.58, 37.86), (111.52, 36.08)])
def test_nearest_red_line_is_named(lonlat):
    """The site check names the nearest red line (a reviewer needs which one, not only how
    far): the one an independent geodesic search over every red line's boundary finds."""
    lay = site_layers(load_catalog(CATALOG))
    x, y = TO_XY.transform(*lonlat)
    r = check_sites(_projects([shapely.Point(x, y)]), lay, RULES, threads=1).table.iloc[0]
    red = lay.frames["redline"].to_crs(4490)
    best = []
    for rid, geom in zip(red["redline_id"], red.geometry, strict=True):
        ring = shapely.get_coordinates(shapely.segmentize(geom.boundary, 0.0005))
        _, _, d = GEOD.inv(np.full(len(ring), lonlat[0]), np.full(len(ring), lonlat[1]),
                           ring[:, 0], ring[:, 1])  # fmt: skip
        best.append((float(d.min()), str(rid)))
    dist, rid = min(best)
    assert r["nearest_redline"].split(" ")[0] == rid
    assert r["nearest_redline_m"] == pytest.approx(dist, abs=30.0)  # vertices 50 m apart


def test_overlapping_red_lines_count_their_land_once():
    """Official red lines overlap one another (categories over the same land, an update
    laid over the old): a parcel inside two came out 150 % inside red lines. The area in red
    lines is the union's (pyproj.Geod on the parcel, which lies wholly in them); each red
    line's own overlap is still listed."""
    x0, y0 = TO_XY.transform(112.2, 37.4)
    lay = _layers(x0, y0)
    red = lay.frames["redline"]
    second = gpd.GeoDataFrame(
        {"redline_id": ["R2"], "name": ["红线二"], "category": ["test"]},
        geometry=[shapely.box(x0 - 5000, y0 + 4000, x0 - 3000, y0 + 6000)],  # half over R1
        crs=WORK,
    )
    frames = dict(lay.frames) | {"redline": pd.concat([red, second], ignore_index=True)}
    parcel = shapely.box(x0 - 5500, y0 + 4500, x0 - 4500, y0 + 5100)  # in R1 and R2 both
    res = check_sites(_projects([parcel]), SiteLayers(frames), RULES, threads=1)
    r = res.table.iloc[0]
    assert sorted(r["redline_ids"].split(";")) == ["R1", "R2"]
    ref = _geod_area(parcel)
    assert r["redline_overlap_m2"] == pytest.approx(ref, rel=1e-3)
    assert r["redline_overlap_pct"] == pytest.approx(100.0, abs=0.01)
    each = res.pairs["redline"]["overlap_m2"].to_numpy()
    assert each.sum() == pytest.approx(1.5 * ref, rel=1e-3)  # each red line's own, listed
