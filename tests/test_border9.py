"""Audit 9, C3 and C11: one point decided a project's province and county.

A coking parcel across the Shanxi–Hebei border at 37.9° N (the admin layer's border at
113.95426° E there), a third of it in 平定县 (Shanxi, in the Taiyuan region of clause 五), was
``unassessed`` "outside Shanxi … the plan does not apply here"; its mirror, a seventh in Hebei,
was assessed whole; the siting screen removed the first whole as ``outside_plan`` and kept
the second's Hebei land eligible. A project over two counties named one. Known answers: the
parcels cut by the bundled admin layer's counties, areas on pyproj.Geod.
"""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Transformer

from sxzones.analyses.siting import screen_sites
from sxzones.cli import cli
from sxzones.i18n import translate_reason
from sxzones.layers import load_catalog
from sxzones.rules import load_rules

from .conftest import CATALOG
from .test_site_check import GEOD, TO_XY

TO_LL = Transformer.from_crs(4546, 4490, always_xy=True)


def _geod_area(poly_work: shapely.Geometry) -> float:
    """Area (m²) on pyproj.Geod of a polygon whose edges are straight in the working CRS
    (densified there to 5 m, so that its lon/lat image follows those edges)."""
    dense = shapely.segmentize(poly_work, 5.0)
    ll = shapely.transform(dense, lambda xy: np.column_stack(TO_LL.transform(xy[:, 0], xy[:, 1])))
    return abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(ll))[0])


B1 = "POLYGON((113.9483 37.895,113.9663 37.895,113.9663 37.905,113.9483 37.905,113.9483 37.895))"
B2 = "POLYGON((113.9363 37.895,113.9573 37.895,113.9573 37.905,113.9363 37.905,113.9363 37.895))"
HEBEI = "POLYGON((113.97 37.895,113.98 37.895,113.98 37.905,113.97 37.905,113.97 37.895))"
BORDER_CSV = (
    "项目编号,项目名称,行业,WKT\n"
    f'B1,跨省界焦化-多数在河北,焦化,"{B1}"\n'
    f'B2,跨省界焦化-多数在山西,焦化,"{B2}"\n'
    "B3,省界西侧5米,焦化,POINT(113.95420 37.9)\n"
    "B4,省界东侧5米,焦化,POINT(113.95432 37.9)\n"
    f'B5,全在河北,焦化,"{HEBEI}"\n'
    f'P1,跨省界光伏,光伏,"{B1}"\n'
)
PART = re.compile(
    r"^([\d,]+) m² \(([\d.]+) %\) of the parcel lie outside Shanxi \(山西省\), in (.+), "
    r"where the plan does not apply: that part is not assessed$"
)
AWAY = "outside Shanxi (山西省), where the plan applies: it does not apply here"


@pytest.fixture(scope="module")
def counties() -> gpd.GeoDataFrame:
    admin, _ = load_catalog(CATALOG).load("admin")  # in the working CRS
    return admin[admin["level"] == "county"].set_index("name")


def _work(wkt: str) -> shapely.Geometry:
    g = shapely.from_wkt(wkt)
    return shapely.transform(g, lambda xy: np.column_stack(TO_XY.transform(xy[:, 0], xy[:, 1])))


def _shanxi(counties: gpd.GeoDataFrame) -> shapely.Geometry:
    return shapely.union_all(counties[counties["adcode"].str.startswith("14")].geometry.values)


def _check(tmp_path, text: str, *extra: str) -> tuple[str, pd.DataFrame, dict]:
    p = tmp_path / "projects.csv"
    p.write_text(text, encoding="utf-8")
    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli,
        ["check", "--projects", str(p), "--crs", "cgcs2000", "--catalog", str(CATALOG),
         "--out", str(out), *extra],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    t = pd.read_csv(out / "site_check.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    doc = json.loads((out / "site_check.json").read_text(encoding="utf-8"))
    return res.output, t.set_index("project_id"), doc


def test_a_parcel_a_third_in_shanxi_is_assessed_for_that_third(tmp_path, counties):
    """B1: 33.56 % in 平定县 (unit ZH14032130001), the Taiyuan region where a new coking
    plant is banned: `conflict` (site_taiyuan_region_ban), not `unassessed`, with the 66.4 %
    in 井陉县 said; both counties named, the larger first."""
    output, t, doc = _check(tmp_path, BORDER_CSV, "--reports", "all")
    b1 = t.loc["B1"]
    assert b1["verdict"] == "conflict"
    assert "site_taiyuan_region_ban" in b1["rule_ids"].split(";")
    assert (b1["county"], b1["adcode"], b1["city"]) == ("井陉县; 平定县", "130121;140321", "阳泉市")
    parcel = _work(B1)
    whole = _geod_area(parcel)
    inside = _geod_area(shapely.intersection(parcel, counties.loc["平定县"].geometry))
    outside = _geod_area(shapely.difference(parcel, _shanxi(counties)))
    assert inside + outside == pytest.approx(whole, abs=0.5)
    assert (b1["unit_codes"], b1["unit_overlap_pct"]) == ("ZH14032130001", "33.56")
    assert float(b1["unit_overlap_m2"]) == pytest.approx(inside, abs=1.0)
    m = PART.match(b1["unassessed_reason"])
    assert m, b1["unassessed_reason"]
    assert float(m[1].replace(",", "")) == pytest.approx(outside, abs=1.0)
    assert float(m[2]) == pytest.approx(100 * outside / whole, abs=0.05) == 66.4
    assert m[3] == "井陉县"
    assert "B1: conflict (site_taiyuan_region_ban" in output and "66.4 %" in output
    (d1,) = [d for d in doc["projects"] if d["project_id"] == "B1"]
    assert d1["county"] == "井陉县; 平定县" and d1["unassessed_reason"] == b1["unassessed_reason"]
    report = (tmp_path / "o" / "report-B1.html").read_text(encoding="utf-8")
    assert "井陉县; 阳泉市 平定县" in report and "66.4 %" in report  # 井陉县: no city in the layer


def test_the_mirror_parcel_and_points_either_side(tmp_path):
    """B2 (85.9 % in Shanxi): conflict, its 14.1 % in Hebei said (it was 'outside every control
    unit' only); the points 5 m either side of the border: conflict, and unassessed with the
    reason as before; a parcel wholly in Hebei stays unassessed, no rule fired."""
    _, t, _ = _check(tmp_path, BORDER_CSV, "--reports", "none")
    b2 = t.loc["B2"]
    assert b2["verdict"] == "conflict" and (b2["county"], b2["adcode"]) == (
        "平定县; 井陉县",
        "140321;130121",
    )
    m = PART.match(b2["unassessed_reason"])
    assert m and m[2] == "14.1" and m[3] == "井陉县", b2["unassessed_reason"]
    assert "outside every control unit" not in b2["unassessed_reason"]  # the units end there too
    assert t.loc["B3", "verdict"] == "conflict" and t.loc["B3", "unassessed_reason"] == ""
    for pid in ("B4", "B5"):
        row = t.loc[pid]
        assert (row["verdict"], row["rule_ids"], row["county"]) == ("unassessed", "", "井陉县")
        assert row["unassessed_reason"].startswith(AWAY)


def test_a_clear_project_partly_outside_is_clear_for_its_part_and_says_the_rest(tmp_path):
    """PV on B1's parcel: nothing fires on the Shanxi third, so `clear`, the note saying that
    two thirds lie where the plan does not apply (the note alone does not make it
    `unassessed`); in Chinese the note is translated."""
    _, t, _ = _check(tmp_path, BORDER_CSV, "--reports", "none")
    p1 = t.loc["P1"]
    assert (p1["verdict"], p1["rule_ids"]) == ("clear", "")
    assert PART.match(p1["unassessed_reason"])
    zh = translate_reason(p1["unassessed_reason"], "zh")
    assert zh.startswith(
        "地块有 1,167,475 平方米（66.4%）位于山西省之外（井陉县），本方案在该部分不适用"
    )


def test_slivers_across_the_border_are_within_the_layers_precision(tmp_path, counties):
    """A parcel in 平定县 reaching 20 cm into Hebei (0.02 %) is in 平定县 alone, no note; one in
    井陉县 reaching 20 cm into Shanxi is outside Shanxi, as before."""
    border = shapely.intersection(
        counties.loc["平定县"].geometry.boundary, counties.loc["井陉县"].geometry.boundary
    )
    x, y = shapely.get_coordinates(shapely.line_interpolate_point(shapely.line_merge(border), 0.5))[
        0
    ]
    near = shapely.box(x - 500, y - 500, x + 500, y + 500)

    def reaching(county: str) -> str:  # the county's part of the box, 20 cm beyond its border
        g = shapely.intersection(
            shapely.buffer(shapely.intersection(near, counties.loc[county].geometry), 0.2), near
        )
        return shapely.transform(
            g, lambda xy: np.column_stack(TO_LL.transform(xy[:, 0], xy[:, 1]))
        ).wkt

    sx, hb = reaching("平定县"), reaching("井陉县")
    for wkt, other in ((sx, "井陉县"), (hb, "平定县")):  # a sliver: over 1 m², under 0.1 %
        g = _work(wkt)
        across = _geod_area(shapely.intersection(g, counties.loc[other].geometry))
        assert 1.0 < across < 1e-3 * _geod_area(g)
    text = f'项目编号,行业,WKT\nSX,光伏,"{sx}"\nHB,光伏,"{hb}"\n'
    _, t, _ = _check(tmp_path, text, "--reports", "none")
    assert (t.loc["SX", "county"], t.loc["SX", "verdict"]) == ("平定县", "clear")
    assert t.loc["SX", "unassessed_reason"] == ""
    assert (t.loc["HB", "county"], t.loc["HB", "verdict"]) == ("井陉县", "unassessed")
    assert t.loc["HB", "unassessed_reason"].startswith(AWAY)


M1 = (
    "MULTIPOLYGON(((112.30 37.90,112.305 37.90,112.305 37.905,112.30 37.905,112.30 37.90)),"
    "((113.58 37.86,113.585 37.86,113.585 37.865,113.58 37.865,113.58 37.86)))"
)
JY = "POLYGON((112.455 37.805,112.47 37.805,112.47 37.812,112.455 37.812,112.455 37.805))"


def test_a_project_over_two_counties_names_both(tmp_path, counties):
    """M1: a part in 万柏林区 (太原) and one in 城区 (阳泉), 49.987 % and 50.013 %: both counties
    and cities, the larger first (it named 城区, 阳泉市 only); W1, a parcel across the line of
    万柏林区 and 晋源区 (one city): both counties, the larger share (pyproj.Geod) first."""
    text = f'项目编号,行业,WKT\nM1,化工,"{M1}"\nW1,光伏,"{JY}"\nS1,光伏,POINT(112.55 37.87)\n'
    _, t, doc = _check(tmp_path, text, "--reports", "all")
    m1 = t.loc["M1"]
    assert (m1["county"], m1["city"], m1["adcode"]) == (
        "城区; 万柏林区",
        "阳泉市; 太原市",
        "140302;140109",
    )
    assert m1["unit_overlap_pct"] == "49.987;50.013"
    parcel = _work(JY)
    shares = {
        c: _geod_area(shapely.intersection(parcel, counties.loc[c].geometry))
        for c in ("万柏林区", "晋源区")
    }
    assert sum(shares.values()) == pytest.approx(_geod_area(parcel), abs=0.5)
    assert min(shares.values()) > 0.1 * _geod_area(parcel)  # a real share each
    main, other = sorted(shares, key=shares.get, reverse=True)
    w1 = t.loc["W1"]
    assert (w1["county"], w1["city"]) == (f"{main}; {other}", "太原市")
    assert w1["adcode"] == ";".join(counties.loc[[main, other], "adcode"])
    assert (t.loc["S1", "county"], t.loc["S1", "city"]) == ("杏花岭区", "太原市")  # one, as before
    d = {p["project_id"]: p for p in doc["projects"]}
    assert (d["M1"]["county"], d["M1"]["city"]) == ("城区; 万柏林区", "阳泉市; 太原市")
    report = (tmp_path / "o" / "report-M1.html").read_text(encoding="utf-8")
    assert "阳泉市 城区; 太原市 万柏林区" in report  # each county after its city (test_sites9)


CANDS = (
    ("S1", B1),
    ("S2", B2),
    ("S3", HEBEI),
    ("S4", "POLYGON((113.90 37.895,113.92 37.895,113.92 37.905,113.90 37.905,113.90 37.895))"),
)


def _candidates(tmp_path) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {"site_id": [c for c, _ in CANDS], "kind": ["subsidence"] * len(CANDS)},
        geometry=[_work(w) for _, w in CANDS],
        crs=4546,
    )
    return frame


def test_sites_cut_candidates_at_the_border(tmp_path, counties):
    """S1 (33.6 % in Shanxi) was removed whole, S2 (14.1 % in Hebei) eligible whole: each is
    cut at the border, the Hebei part removed as outside_plan (areas on pyproj.Geod), the
    rest screened; S3 (all in Hebei) removed whole; S4 (all in Shanxi) untouched."""
    p = tmp_path / "cand.csv"
    p.write_text(
        "地块编号,地块类型,WKT\n" + "".join(f'{c},采煤沉陷区,"{w}"\n' for c, w in CANDS), "utf-8"
    )
    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli,
        ["sites", "--candidates", str(p), "--crs", "cgcs2000", "--tech", "pv", "--catalog",
         str(CATALOG), "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    t = pd.read_csv(out / "eligible_sites.csv", encoding="utf-8-sig", dtype={"adcode": str})
    t = t.set_index("site_id")
    shanxi = _shanxi(counties)
    for sid, wkt in CANDS:
        parcel = _work(wkt)
        away = _geod_area(shapely.difference(parcel, shanxi))
        assert t.loc[sid, "candidate_m2"] == pytest.approx(_geod_area(parcel), abs=0.2)
        assert t.loc[sid, "removed_outside_plan_m2"] == pytest.approx(away, abs=0.2), sid
    assert t.loc["S1", "removed_outside_plan_m2"] / t.loc["S1", "candidate_m2"] == pytest.approx(
        0.664, abs=5e-4
    )
    assert t.loc["S1", "eligible_m2"] == pytest.approx(
        _geod_area(shapely.intersection(_work(B1), shanxi)), abs=0.2
    )
    assert t["eligible"].to_dict() == {"S1": True, "S2": True, "S3": False, "S4": True}
    assert t.loc["S4", "removed_outside_plan_m2"] == 0 and t.loc["S4", "county"] == "平定县"
    assert (t.loc["S1", "county"], t.loc["S1", "adcode"]) == ("井陉县; 平定县", "130121;140321")
    doc = json.loads((out / "siting.json").read_text("utf-8"))
    warnings = doc["totals"]["warnings"]
    (whole,) = [w for w in warnings if "lie outside Shanxi" in w]
    assert "1 candidate(s) (S3)" in whole and "不在山西省，本方案不适用" in whole
    (part,) = [w for w in warnings if "lie partly outside Shanxi" in w]
    assert "2 candidate(s) (S1, S2)" in part and "1.46 km² in all" in part


def test_sites_border_cut_on_the_dask_engine_equals_local(counties):
    """The same cut on a Dask cluster, two tiles: the local engine's table, pieces, meta."""
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("dask_geopandas")
    from sxzones.dask_engine import dask_client, screen_sites_dask

    cat = load_catalog(CATALOG)
    admin, _ = cat.load("admin")
    rules = load_rules()
    cand = _candidates(None)
    local = screen_sites(cand, [], rules, tech="pv", admin=admin)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        dask_client(cluster.scheduler_address) as client,
    ):
        remote = screen_sites_dask(cand, [], rules, client=client, tiles=2, tech="pv", admin=admin)
    pd.testing.assert_frame_equal(
        pd.DataFrame(remote.sites.drop(columns="geometry")),
        pd.DataFrame(local.sites.drop(columns="geometry")),
    )
    assert remote.sites.geometry.geom_equals_exact(local.sites.geometry, 0).all()
    assert remote.meta == local.meta
    assert local.sites["removed_outside_plan_m2"].gt(0).tolist() == [True, True, True, False]
    pieces = local.removed[local.removed["reason"] == "outside_plan"]
    assert sorted(pieces["site_id"]) == ["S1", "S2", "S3"]


def test_check_across_the_border_on_the_dask_engine_equals_local(tmp_path):
    """The site check of the border projects on a Dask cluster (two partitions): the local
    engine's table, pairs and findings."""
    distributed = pytest.importorskip("distributed")
    from sxzones.analyses.site_check import check_sites
    from sxzones.dask_engine import check_sites_dask, dask_client
    from sxzones.runs.site_check import site_layers

    layers = site_layers(load_catalog(CATALOG))
    rules = load_rules()
    rows = [r.split(",", 3) for r in BORDER_CSV.splitlines()[1:]]
    projects = gpd.GeoDataFrame(
        {"project_id": [r[0] for r in rows], "industry": [r[2] for r in rows]},
        geometry=[_work(r[3].strip('"')) for r in rows],
        crs=4546,
    )
    local = check_sites(projects, layers, rules)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        dask_client(cluster.scheduler_address) as client,
    ):
        remote = check_sites_dask(projects, layers, rules, client=client, partitions=2)
    pd.testing.assert_frame_equal(
        pd.DataFrame(remote.table.drop(columns="geometry")),
        pd.DataFrame(local.table.drop(columns="geometry")),
    )
    assert remote.details() == local.details()
    assert local.table["verdict"].tolist()[:2] == ["conflict", "conflict"]
    assert local.table["county"].iat[0] == "井陉县; 平定县"


def test_the_cell_grid_places_parcels_as_the_tests_do(monkeypatch):
    """Large batches place the parcels whose box lies in cells of one county by the
    counties' cell grid, without a point lookup and a covers test: the same counties, shares
    and cuts as the tests give, on 3,000 parcels of 50 m to 3 km over Shanxi's east and
    across its border."""
    import sxzones.analyses.counties as counties_mod
    from sxzones.analyses.nearest import TargetIndex, county_table
    from sxzones.geodesy import ellipsoidal_area

    admin, _ = load_catalog(CATALOG).load("admin")
    rules = load_rules()
    rng = np.random.default_rng(9)
    x, y = TO_XY.transform(rng.uniform(112.5, 114.2, 3000), rng.uniform(36.5, 38.5, 3000))
    w, h = rng.uniform(50, 3000, (2, 3000))
    geoms = shapely.box(x, y, x + w, y + h)
    geoms[:5] = shapely.points(x[:5], y[:5])  # points too
    crs = admin.crs
    parea = ellipsoidal_area(geoms, crs)
    table = county_table(admin)
    out_rows = np.append(rules.outside(table["adcode"][:-1]), False)
    index = TargetIndex.of(admin[admin["level"] == "county"].geometry.to_numpy())
    args = (geoms, parea, admin, index, table, out_rows, crs)
    monkeypatch.setattr(counties_mod, "GRID_POINTS", 0)
    held = counties_mod.held_by(geoms, shapely.get_type_id(geoms) == 3, index)
    assert 500 < (held >= 0).sum() < len(geoms) - 500  # both paths taken
    grid = counties_mod.county_cover(*args)
    monkeypatch.setattr(counties_mod, "GRID_POINTS", 10**9)
    tested = counties_mod.county_cover(*args)
    for f in ("adcode", "county", "city", "outside_m2", "outside_names", "away", "partial"):
        assert (getattr(grid, f) == getattr(tested, f)).all(), f
    assert grid.partial.sum() > 10 and grid.away.sum() > 10
    assert sum(";" in a for a in grid.adcode) > 100
    assert all(
        shapely.equals(a, b) for a, b in zip(grid.inside(geoms), tested.inside(geoms), strict=True)
    )
