"""The firm screen: exact on the ellipsoid at the 20 km line, complete, with clauses.

Reference distances are computed independently of sxzones: the built-up polygon's boundary is
densified to 2 m steps in the working CRS, every vertex converted to lon/lat, and the smallest
``pyproj.Geod.inv`` distance from the firm taken.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from pyproj import CRS, Geod, Transformer

from sxzones.analyses.firm_zones import screen_firms
from sxzones.cli import cli
from sxzones.errors import CRSError, RulesError
from sxzones.geodesy import GroundRuler
from sxzones.rules import load_rules

WORK = 4546
GEOD = Geod(ellps="GRS80")
TO_LL = Transformer.from_crs(WORK, 4490, always_xy=True)
TO_XY = Transformer.from_crs(4490, WORK, always_xy=True)
RULES = load_rules()


def _hexagon(lon: float, lat: float, radius_m: float) -> shapely.Polygon:
    cx, cy = TO_XY.transform(lon, lat)
    t = np.arange(6) * np.pi / 3
    return shapely.Polygon(np.column_stack([cx + radius_m * np.cos(t), cy + radius_m * np.sin(t)]))


def _builtup(polys: list[shapely.Polygon]) -> gpd.GeoDataFrame:
    n = len(polys)
    return gpd.GeoDataFrame(
        {
            "area_id": [f"A{i}" for i in range(n)],
            "name": [f"area {i}" for i in range(n)],
            "kind": ["city"] * n,
        },
        geometry=polys,
        crs=WORK,
    )


def _firms(xy: np.ndarray, industry: str = "steel") -> gpd.GeoDataFrame:
    n = len(xy)
    return gpd.GeoDataFrame(
        {"firm_id": [str(i) for i in range(n)], "name": ["f"] * n, "industry": [industry] * n},
        geometry=shapely.points(xy),
        crs=WORK,
    )


def _reference(firm_xy: np.ndarray, polys: list[shapely.Polygon]) -> np.ndarray:
    """Independent geodesic distance from each firm to the nearest polygon (0 inside)."""
    lon, lat = TO_LL.transform(firm_xy[:, 0], firm_xy[:, 1])
    best = np.full(len(firm_xy), np.inf)
    for poly in polys:
        vx, vy = shapely.get_coordinates(shapely.segmentize(poly.exterior, 2.0)).T
        vlon, vlat = TO_LL.transform(vx, vy)
        for k in range(len(firm_xy)):
            d = GEOD.inv(np.full(len(vlon), lon[k]), np.full(len(vlon), lat[k]), vlon, vlat)[2]
            best[k] = min(best[k], d.min())
        inside = shapely.contains_xy(poly, firm_xy[:, 0], firm_xy[:, 1])
        best[inside] = 0.0
    return best


@pytest.mark.parametrize(
    ("where", "lon", "lat"),
    [
        ("zone 37, near CM 111E", 111.3, 37.0),
        ("zone 38, Yangquan", 113.6, 37.9),
        ("across the border, Hebei", 114.75, 37.3),
    ],
)
def test_random_firms_match_independent_geodesic(where, lon, lat):
    rng = np.random.default_rng(20231)
    polys = [_hexagon(lon, lat, 3000.0), _hexagon(lon + 0.12, lat + 0.05, 1500.0)]
    c = np.array(TO_XY.transform(lon, lat))
    ang = rng.uniform(0, 2 * np.pi, 60)
    r = rng.uniform(0, 26000.0, 60)
    xy = c + np.column_stack([r * np.cos(ang), r * np.sin(ang)])
    out = screen_firms(_firms(xy), _builtup(polys), RULES, threads=2)
    ref = _reference(xy, polys)
    np.testing.assert_allclose(out["distance_m"].to_numpy(), ref, atol=0.05)  # 5 cm, not 1 m
    expect = np.where(ref == 0, "inside", np.where(ref <= 20000, "within_20km", "beyond"))
    assert out["zone"].tolist() == expect.tolist(), where


@pytest.mark.parametrize(("lon", "lat"), [(111.2, 36.5), (113.9, 37.8), (114.7, 36.6)])
def test_just_inside_and_just_outside_20km(lon, lat):
    """Firms 19,990 m and 20,010 m on the ground from a vertex, along its outward bisector."""
    poly = _hexagon(lon, lat, 2000.0)
    vx, vy = np.asarray(poly.exterior.coords[:6]).T
    vlon, vlat = TO_LL.transform(vx, vy)
    az = GEOD.inv(np.full(6, lon), np.full(6, lat), vlon, vlat)[0]  # centre -> vertex
    pts = []
    for dist in (19990.0, 20010.0):
        flon, flat, _ = GEOD.fwd(vlon, vlat, az, np.full(6, dist))
        pts.append(np.column_stack(TO_XY.transform(flon, flat)))
    xy = np.vstack(pts)
    out = screen_firms(_firms(xy), _builtup([poly]), RULES, threads=1)
    assert out["zone"].tolist() == ["within_20km"] * 6 + ["beyond"] * 6
    np.testing.assert_allclose(
        out["distance_m"].to_numpy(), [19990.0] * 6 + [20010.0] * 6, atol=0.05
    )
    planar = shapely.distance(shapely.points(xy), poly)
    if lon > 113:  # far from CM 111E: planar metres in EPSG:4546 would get the 19,990 m wrong
        assert (planar[:6] > 20000).all()


def test_buffer_then_join_misses_firms_near_20km_regression():
    """The classic recipe (buffer 20 km, then a spatial join) is inscribed in the true circle."""
    lon, lat = 111.1, 37.2
    cx, cy = TO_XY.transform(lon, lat)
    area = shapely.box(cx - 5, cy - 5, cx + 5, cy + 5)
    az = np.arange(0.0, 360.0, 1.0)
    clon, clat = TO_LL.transform(cx + 5, cy + 5)
    flon, flat, _ = GEOD.fwd(
        np.full(len(az), clon), np.full(len(az), clat), az, np.full(len(az), 19_985.0)
    )
    xy = np.column_stack(TO_XY.transform(flon, flat))
    bu = _builtup([area])
    firms = _firms(xy)
    naive = gpd.sjoin(
        firms,
        gpd.GeoDataFrame(geometry=bu.buffer(20_000), crs=WORK),
        predicate="within",
        how="left",
    )
    missed = int(naive["index_right"].isna().sum())
    assert missed > 0  # the buffer approach loses firms that are within 20 km
    out = screen_firms(firms, bu, RULES, threads=1)
    assert (out["zone"] != "beyond").all()
    assert out["distance_m"].max() < 20_000


def test_inside_polygon_firms_industries_and_rules():
    bu = _builtup([shapely.box(500000, 4000000, 502000, 4002000)])
    f = gpd.GeoDataFrame(
        {
            "firm_id": ["s", "c", "p", "x", "site"],
            "name": ["钢", "焦", "电", "?", "园区"],
            "industry": ["钢铁", "coking", "coal_power", "bakery", "cement"],
        },
        geometry=[
            shapely.Point(501000, 4001000),
            shapely.Point(510000, 4001000),
            shapely.Point(501500, 4001500),
            shapely.Point(501000, 4001200),
            shapely.box(502100, 4000000, 503000, 4001000),
        ],  # a site polygon, 100 m off
        crs=WORK,
    )
    out = screen_firms(f, bu, RULES, threads=1).set_index("firm_id")
    assert out.loc["s", "zone"] == "inside"
    assert out.loc["s", "industry_id"] == "steel"
    assert out.loc["s", "rule_ids"] == "relocate_inside_builtup;deep_treatment_20km"
    assert "晋环发〔2023〕1号 (四)" in out.loc["s", "clauses"]
    assert "晋环发〔2023〕1号 附表 7" in out.loc["s", "clauses"]
    assert "2024-12-31" in out.loc["s", "asks"]
    assert out.loc["c", "zone"] == "within_20km"
    assert out.loc["c", "rule_ids"] == "deep_treatment_20km"
    assert out.loc["p", "zone"] == "inside"
    assert not out.loc["p", "applicable"] and out.loc["p", "rule_ids"] == ""
    assert not out.loc["x", "applicable"]
    assert out.loc["site", "zone"] == "within_20km"
    assert out.loc["site", "distance_m"] == pytest.approx(100.0, abs=0.2)
    assert out.loc["site", "rule_ids"] == ""  # cement: only clause 四 (inside) names it
    assert len(out) == 5


def test_distance_override_and_firms_beyond_reach():
    bu = _builtup([shapely.box(500000, 4000000, 501000, 4001000)])
    f = _firms(np.array([[511000.0, 4000500.0], [560000.0, 4000500.0]]))
    out = screen_firms(f, bu, RULES, distance_m=15000, threads=1)
    assert out["zone"].tolist() == ["within_15km", "beyond"]
    assert out["distance_m"].iloc[1] == pytest.approx(59000.0, rel=1e-3)
    assert out["nearest_area_id"].tolist() == ["A0", "A0"]


def test_crs_mismatch_is_an_error():
    bu = _builtup([shapely.box(500000, 4000000, 501000, 4001000)])
    f = _firms(np.array([[511000.0, 4000500.0]])).to_crs(4547)
    with pytest.raises(CRSError, match="firms are in .*CM 114E but built-up areas in .*CM 111E"):
        screen_firms(f, bu, RULES)
    with pytest.raises(CRSError, match="geographic"):
        screen_firms(f.to_crs(4490), bu.to_crs(4490), RULES)


def test_rules_file_errors(tmp_path):
    p = tmp_path / "r.toml"
    p.write_text(
        '[[rules]]\nid = "a"\nkind = "firm_within_distance"\nzh = "x"\nen = "x"\n'
        'industries = ["steel"]\ndistance_m = 20000\naction = "x"\n'
        '[[rules]]\nid = "b"\nkind = "firm_inside_builtup"\nclause = "c"\nzh = "x"\n'
        'en = "x"\nindustries = ["steel"]\naction = "x"\ncolour = "red"\n',
        encoding="utf-8",
    )
    with pytest.raises(RulesError) as exc:
        load_rules(p)
    msg = str(exc.value)
    assert "rule 1 (a): missing ['clause']" in msg
    assert "rule 2 (b): unknown key(s) ['colour']" in msg


def test_distance_and_industries_are_data(tmp_path):
    text = (
        load_rules()
        .path.read_text(encoding="utf-8")
        .replace("distance_m = 20000", "distance_m = 5000")
        .replace(
            'industries = ["steel", "coking"]', 'industries = ["steel", "coking", "coal_power"]'
        )
    )
    p = tmp_path / "r.toml"
    p.write_text(text, encoding="utf-8")
    bu = _builtup([shapely.box(500000, 4000000, 501000, 4001000)])
    out = screen_firms(
        _firms(np.array([[508000.0, 4000500.0]]), "coal_power"), bu, load_rules(p), threads=1
    )
    assert out["zone"].tolist() == ["beyond"]
    out = screen_firms(
        _firms(np.array([[504000.0, 4000500.0]]), "coal_power"), bu, load_rules(p), threads=1
    )
    assert out["zone"].tolist() == ["within_5km"]
    assert out["rule_ids"].tolist() == ["deep_treatment_20km"]


def test_cli_outputs_account_for_every_row(tmp_path):
    csv = tmp_path / "firms.csv"
    csv.write_text(
        "企业编号,企业名称,行业,经度,纬度\n"
        "F1,太钢,钢铁,112.52,37.93\n"
        "F2,孝义焦化,焦化,111.78,37.14\n"
        "F3,无坐标,钢铁,,\n"
        "F1,重复,钢铁,112.5,37.9\n"
        "F5,<img src=x onerror=alert(1)>,水泥,112.55,37.87\n",
        encoding="gbk",
    )
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli,
        [
            "firms",
            "--firms",
            str(csv),
            "--builtup",
            "builtup_demonstration",
            "--crs",
            "wgs84",
            "--id",
            "企业编号",
            "--name-field",
            "企业名称",
            "--industry-field",
            "行业",
            "--out",
            str(out),
            "--map",
            str(tmp_path / "m.html"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "input rows 5 = screened 3 + rejected 2" in res.output
    raw = (out / "firm_zones.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM, so Excel shows Chinese
    table = pd.read_csv(out / "firm_zones.csv", encoding="utf-8-sig")
    assert table["firm_id"].tolist() == ["F1", "F2", "F5"]
    assert table.loc[0, "name"] == "太钢"
    assert table.loc[0, "industry_id"] == "steel"
    rejects = pd.read_csv(out / "rejects.csv", encoding="utf-8-sig")
    assert rejects["source_row"].tolist() == [4, 5]  # as Excel shows them (header = row 1)
    assert rejects["code"].tolist() == ["empty_geometry", "duplicate_id"]
    sheets = pd.read_excel(out / "firm_zones.xlsx", sheet_name=None)
    assert "summary" in sheets and list(sheets)[-1] == "sources"  # where the layers came from
    assert sum(len(v) for k, v in sheets.items() if k not in ("summary", "sources")) == 3
    gp = gpd.read_file(out / "firm_zones.gpkg")
    assert len(gp) == 3 and gp.crs.to_epsg() == 4546
    html = (tmp_path / "m.html").read_text(encoding="utf-8")
    assert "<img src=x onerror" not in html
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in html  # escaped, then JSON
    again = CliRunner().invoke(
        cli,
        [
            "firms",
            "--firms",
            str(csv),
            "--builtup",
            "builtup_demonstration",
            "--crs",
            "wgs84",
            "--out",
            str(out),
        ],
    )
    assert again.exit_code == 2
    assert "exists" in again.output


def test_outputs_are_deterministic(tmp_path):
    args = [
        "firms",
        "--firms",
        "firms",
        "--builtup",
        "builtup_demonstration",
        "--format",
        "csv,xlsx,gpkg",
    ]
    a = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "a")])
    b = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "b")])
    assert a.exit_code == b.exit_code == 0
    for name in ("firm_zones.csv", "firm_zones.xlsx", "firm_zones.gpkg", "rejects.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


@pytest.mark.parametrize("epsg", [4546, 4547])
def test_ground_ruler_agrees_with_geod(epsg):
    """The line-scale-factor lengths used for speed are within 0.5 mm of pyproj.Geod for lines
    up to 26 km anywhere in the province (both GK zones), and 5e-7 up to 300 km."""
    crs = CRS.from_epsg(epsg)
    ruler = GroundRuler(crs)
    assert ruler.tm
    rng = np.random.default_rng(epsg)
    n = 20_000
    x1 = rng.uniform(160_000, 840_000, n)
    y1 = rng.uniform(3_800_000, 4_550_000, n)
    ang = rng.uniform(0, 2 * np.pi, n)
    for lo, hi, tol in ((0.0, 26_000.0, 5e-4), (26_000.0, 300_000.0, None)):
        d = rng.uniform(lo, hi, n)
        x2, y2 = x1 + d * np.cos(ang), y1 + d * np.sin(ang)
        fast, exact = ruler(x1, y1, x2, y2), ruler.exact(x1, y1, x2, y2)
        if tol is None:
            assert np.abs(fast / exact - 1).max() < 5e-7
        else:
            assert np.abs(fast - exact).max() < tol


def test_ground_ruler_measures_threshold_cases_with_geod(monkeypatch):
    """Lines within a centimetre of a threshold are measured with Geod, not the formula."""
    ruler = GroundRuler(CRS.from_epsg(4546), thresholds=(20_000.0,))
    calls = []
    real = ruler.exact

    def spy(x1, y1, x2, y2):
        calls.append(len(x1))
        return real(x1, y1, x2, y2)

    monkeypatch.setattr(ruler, "exact", spy)
    x1 = np.array([800_000.0, 800_000.0, 800_000.0])
    y1 = np.full(3, 4_200_000.0)
    exact_len = real(x1, y1, x1 + 20_000.0, y1)  # planar 20 km, about 19.97 km on the ground
    x2 = x1 + 20_000.0 * np.array([20_000.0 / exact_len[0], 1.0, 0.9])
    g = ruler(x1, y1, x2, y1)
    assert calls == [1]  # only the line within a centimetre of 20 km went to Geod
    assert g[0] == real(x1[:1], y1[:1], x2[:1], y1[:1])[0]
    assert abs(g[0] - 20_000.0) < 0.01


def test_summary_counts_the_firms_a_rule_names():
    """The summary's "named by a rule" counted every firm of an industry the plan covers,
    beyond the distance too (29,193 said, 14,404 named): it now counts rule_ids given, and
    says the industries in the plan apart."""
    from sxzones.analyses.firm_zones import summarise

    t = pd.DataFrame(
        {
            "zone": ["inside", "within_20km", "within_20km", "beyond", "beyond"],
            "applicable": [True, True, False, True, True],
            "rule_ids": ["a;b", "b", "", "", ""],
        }
    )
    s = summarise(t)
    assert s.by_zone_applicable == {"inside": 1, "within_20km": 1, "beyond": 2}
    assert s.by_zone_named == {"inside": 1, "within_20km": 1, "beyond": 0}
    assert "named by a rule: inside 1, within_20km 1" in str(s)
    assert "industry in the plan: inside 1, within_20km 1, beyond 2" in str(s)
