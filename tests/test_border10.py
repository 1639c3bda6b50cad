"""Audit 10, D3, D12, D19: every part of a multipoint, line or collection names its county;
the Xi'an 1980 flag names the province's border; the siting outputs keep their columns.

D3: a MultiPoint project named the county of one point (a Taiyuan-region ban "in 运城市
盐湖区", and the order of the points decided which); a line named one county of the many it
crosses. Known answers: the bundled admin layer's counties tested with shapely, the lengths
of a line's pieces on pyproj.Geod.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Transformer

from sxzones.analyses.counties import ground_length
from sxzones.analyses.site_check import check_sites
from sxzones.cli import cli
from sxzones.layers import load_catalog
from sxzones.rules import load_rules
from sxzones.runs.site_check import site_layers

from .conftest import CATALOG
from .test_site_check import GEOD, TO_XY

TO_LL = Transformer.from_crs(4546, 4490, always_xy=True)


def _work(wkt: str) -> shapely.Geometry:
    g = shapely.from_wkt(wkt)
    return shapely.transform(g, lambda xy: np.column_stack(TO_XY.transform(xy[:, 0], xy[:, 1])))


def _geod_length(line_work: shapely.Geometry) -> float:
    """Length (m) on pyproj.Geod of lines straight in the working CRS (densified to 5 m)."""
    dense = shapely.segmentize(line_work, 5.0)
    ll = shapely.transform(dense, lambda xy: np.column_stack(TO_LL.transform(xy[:, 0], xy[:, 1])))
    return float(GEOD.geometry_length(ll))


@pytest.fixture(scope="module")
def layers():
    return site_layers(load_catalog(CATALOG))


def _counties(layers) -> gpd.GeoDataFrame:
    admin = layers.frames["admin"]
    return admin[admin["level"] == "county"]


def _check(layers, geoms: dict[str, str], industry: str = "焦化") -> pd.DataFrame:
    projects = gpd.GeoDataFrame(
        {"project_id": list(geoms), "industry": [industry] * len(geoms)},
        geometry=[_work(w) for w in geoms.values()],
        crs=4546,
    )
    return check_sites(projects, layers, load_rules()).table.set_index("project_id")


# ---- D3: every part counts ------------------------------------------------------------------

MP = "MULTIPOINT((111.0 35.05),(112.55 37.87))"  # 盐湖区 (运城市), 杏花岭区 (太原市)
MP_REV = "MULTIPOINT((112.55 37.87),(111.0 35.05))"


def test_a_multipoint_names_the_county_of_each_point_whatever_their_order(layers):
    t = _check(layers, {"MPA": MP, "MPB": MP_REV})
    cty = _counties(layers)
    want = []
    for p in shapely.get_parts(_work(MP)):  # independent: the county containing each point
        hit = cty[cty.geometry.contains(p)]
        assert len(hit) == 1
        want.append((str(hit["adcode"].iat[0]), str(hit["name"].iat[0])))
    want.sort()  # one point each: the layer's order (by adcode here)
    assert [c for c, _ in want] == ["140107", "140802"]
    for pid in ("MPA", "MPB"):
        assert t.loc[pid, "adcode"] == ";".join(c for c, _ in want)
        assert t.loc[pid, "county"] == "杏花岭区; 盐湖区"
        assert t.loc[pid, "city"] == "太原市; 运城市"
        assert t.loc[pid, "verdict"] == "conflict"  # the 太原 point is in the Taiyuan region
    a, b = (t.loc[k].drop("geometry") for k in ("MPA", "MPB"))
    pd.testing.assert_series_equal(a, b, check_names=False)


L2 = "LINESTRING(112.40 37.80, 112.70 37.85)"  # across 太原市's districts and 榆次区


def test_a_line_names_every_county_it_crosses_the_longest_share_first(layers):
    t = _check(layers, {"L2": L2}, industry="化工")
    line = _work(L2)
    cty = _counties(layers)
    share = {
        str(r.name_): _geod_length(shapely.intersection(line, r.geometry))
        for r in cty.rename(columns={"name": "name_"}).itertuples()
        if r.geometry.intersects(line)
    }
    share = {k: v for k, v in share.items() if v > max(1.0, 1e-3 * _geod_length(line))}
    assert len(share) >= 4, share
    want = sorted(share, key=lambda k: -share[k])
    assert t.loc["L2", "county"] == "; ".join(want)
    assert sum(share.values()) == pytest.approx(_geod_length(line), rel=1e-6)


def test_ground_length_equals_geod():
    g = np.array([_work(L2), _work("MULTILINESTRING((112.3 37.9,112.31 37.91),(113 38,113.5 38))"),
                  _work("POINT(112 37)")], dtype=object)  # fmt: skip
    got = ground_length(g, gpd.GeoSeries(crs=4546).crs)
    assert got[0] == pytest.approx(_geod_length(g[0]), rel=1e-7)
    assert got[1] == pytest.approx(_geod_length(g[1]), rel=1e-7)
    assert got[2] == 0


# the admin layer's Shanxi–Hebei border at 37.9° N lies at 113.95426° E (test_border9)
ACROSS = {
    "MPX": "MULTIPOINT((113.95420 37.9),(113.97 37.9))",  # 平定县 (Shanxi), 井陉县 (Hebei)
    "LX": "LINESTRING(113.94 37.9, 113.97 37.9)",
    "MPH": "MULTIPOINT((113.97 37.9),(113.98 37.9))",  # both in Hebei
    "GC": "GEOMETRYCOLLECTION(POINT(113.95420 37.9),LINESTRING(113.97 37.9,113.98 37.9))",
}


def test_parts_across_the_border_are_cut_there_and_said(layers):
    t = _check(layers, ACROSS)
    where = "lie outside Shanxi (山西省), in 井陉县, where the plan does not apply"
    assert t.loc["MPX", "county"] == "井陉县; 平定县"  # one point each: the layer's order
    assert t.loc["MPX", "unassessed_reason"].startswith(f"1 of 2 points {where}")
    assert t.loc["MPX", "verdict"] != "unassessed"  # the Shanxi point is checked
    # the line: its Hebei piece on Geod
    line = _work(ACROSS["LX"])
    cty = _counties(layers)
    hebei = cty[~cty["adcode"].astype(str).str.startswith("14")]
    out = _geod_length(shapely.intersection(line, hebei.union_all()))
    whole = _geod_length(line)
    assert 0.3 < out / whole < 0.7
    assert t.loc["LX", "unassessed_reason"].startswith(
        f"{out:,.0f} m ({100 * out / whole:.1f} %) of the line {where}"
    )
    assert t.loc["LX", "county"].split("; ")[0] == ("井陉县" if out > whole / 2 else "平定县")
    assert t.loc["MPH", "verdict"] == "unassessed" and t.loc["MPH", "rule_ids"] == ""
    assert t.loc["MPH", "unassessed_reason"].startswith("outside Shanxi (山西省)")
    # a collection: its line (in Hebei) first, its point after; the line is what lies outside
    assert t.loc["GC", "county"] == "井陉县; 平定县"
    assert "of the line lie outside Shanxi" in t.loc["GC", "unassessed_reason"]


def test_a_multipoint_through_the_command_names_both_counties(tmp_path: Path):
    src = tmp_path / "mp.geojson"
    feats = [{"type": "Feature", "properties": {"项目编号": "MPA", "行业": "焦化"},
              "geometry": {"type": "MultiPoint", "coordinates": [[111.0, 35.05], [112.55, 37.87]]}}]  # fmt: skip
    src.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["check", "--projects", str(src), "--out", str(out),
                                   "--reports", "none", "--catalog", str(CATALOG)])  # fmt: skip
    assert res.exit_code == 0, res.output
    t = pd.read_csv(out / "site_check.csv", encoding="utf-8-sig", dtype=str)
    assert t["county"].iat[0] == "杏花岭区; 盐湖区"


def test_parts_outside_said_in_chinese():
    from sxzones.i18n import translate_reason

    said = translate_reason(
        "880 m (100.0 %) of the line and 1 of 2 points lie outside Shanxi (山西省), in 井陉县, "
        "where the plan does not apply: that part is not assessed",
        "zh",
    )
    assert said == (
        "线有 880 米（100.0%）、2 个点中有 1 个位于山西省之外（井陉县），本方案在该部分不适用，该部分未研判"
    )


# ---- D12: the Xi'an 1980 flag names the province's border ------------------------------------

#: the auditor's points 150, 50 and 20 m either side of the 黄河 red line along the
#: Shanxi–Shaanxi border (R-… in Shaanxi, R… in Shanxi)
RL_PTS = {
    "R-150": (110.50501731, 38.19725255), "R-50": (110.50615887, 38.19725736),
    "R-20": (110.50650133, 38.19725880), "R20": (110.50695795, 38.19726071),
    "R50": (110.50730042, 38.19726215), "R150": (110.50844197, 38.19726694),
}  # fmt: skip
BORDER_FLAG = "the border of Shanxi (山西省), where the plan applies, less than 100 m away"


def test_xian80_flag_names_the_border_within_100_m(layers, tmp_path: Path):
    src = tmp_path / "rl.csv"
    rows = [f"{k},化工,{lon:.8f},{lat:.8f}" for k, (lon, lat) in RL_PTS.items()]
    src.write_text("项目编号,行业,经度,纬度\n" + "\n".join(rows) + "\n", "utf-8")
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["check", "--projects", str(src), "--crs", "xian80", "--out",
                                   str(out), "--reports", "none", "--catalog", str(CATALOG)])  # fmt: skip
    assert res.exit_code == 0, res.output
    t = pd.read_csv(out / "site_check.csv", encoding="utf-8-sig", dtype=str).set_index("project_id")
    cty = _counties(layers)
    shanxi = cty[cty["adcode"].astype(str).str.startswith("14")].union_all()
    for k, (lon, lat) in RL_PTS.items():  # independent: the distance to Shanxi's outline
        d = shanxi.boundary.distance(shapely.Point(TO_XY.transform(lon, lat)))
        assert not 80 < d < 120, (k, d)  # clear of the 100 m limit, whatever the shift's metres
        assert (BORDER_FLAG in t.loc[k, "geometry_note"]) == (d < 100), (k, d)
    assert (
        t.loc["R-20", "verdict"] == "unassessed" and BORDER_FLAG in t.loc["R-20", "geometry_note"]
    )
    assert BORDER_FLAG not in t.loc["R150", "geometry_note"]


# ---- D19: the siting outputs keep their columns ---------------------------------------------


def test_sites_keep_their_removed_columns_whatever_the_data(tmp_path: Path):
    """One candidate across the Shanxi–Hebei border, one inside: the same columns, in the
    same order, whether the run meets land outside the plan or not; 0 where none."""
    inside = "POLYGON((113.90 37.895,113.91 37.895,113.91 37.905,113.90 37.905,113.90 37.895))"
    across = (
        "POLYGON((113.9483 37.895,113.9663 37.895,113.9663 37.905,113.9483 37.905,113.9483 37.895))"
    )
    cols = []
    for name, polys in (("in", [inside]), ("both", [inside, across])):
        src = tmp_path / f"{name}.csv"
        rows = [f'S{i + 1},采煤沉陷区,是,"{w}"' for i, w in enumerate(polys)]
        src.write_text("地块编号,地块类型,是否稳沉,WKT\n" + "\n".join(rows) + "\n", "utf-8")
        out = tmp_path / f"o-{name}"
        res = CliRunner().invoke(cli, ["sites", "--candidates", str(src), "--crs", "cgcs2000",
                                       "--tech", "pv", "--catalog", str(CATALOG), "--out",
                                       str(out)])  # fmt: skip
        assert res.exit_code == 0, res.output
        t = pd.read_csv(out / "eligible_sites.csv", encoding="utf-8-sig")
        cols.append(list(t.columns))
        assert t.loc[0, "removed_outside_plan_m2"] == 0
        assert t.loc[0, "removed_not_closed_m2"] == 0
        if name == "both":
            assert t.loc[1, "removed_outside_plan_m2"] > 1e5
    assert cols[0] == cols[1]
    assert cols[0].index("removed_not_closed_m2") == cols[0].index("candidate_m2") + 1


# ---- D6: a firm named only through a built-up area outside Shanxi ----------------------------


def _firms_run(tmp_path: Path, rows: list[str], *extra: str) -> tuple[pd.DataFrame, str]:
    src = tmp_path / "firms.csv"
    src.write_text("企业名称,行业,经度,纬度\n" + "\n".join(rows) + "\n", "utf-8")
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["firms", "--firms", str(src), "--crs", "cgcs2000", "--builtup",
                                   "builtup_demonstration", "--out", str(out), "--format", "csv",
                                   "--catalog", str(CATALOG), *extra])  # fmt: skip
    assert res.exit_code == 0, res.output
    return pd.read_csv(out / "firm_zones.csv", encoding="utf-8-sig", dtype=str), res.output


def test_a_firm_named_through_a_hebei_town_is_said_and_counted(tmp_path: Path):
    from shapely.ops import nearest_points

    t, said = _firms_run(tmp_path, ["界西焦化,焦化,113.95420,37.9", "太原焦化,焦化,112.55,37.87"])
    t = t.set_index("name")
    far = t.loc["界西焦化"]
    # the owners' reading is kept: 井陉县县城 (Hebei) names it under clause 十三
    assert (
        far["nearest_area_name"] == "井陉县县城建成区" and far["rule_ids"] == "deep_treatment_20km"
    )
    # independent: the nearest Shanxi area on pyproj.Geod
    bu, _ = load_catalog(CATALOG).load("builtup_demonstration")
    shanxi = bu[bu["adcode"].astype(str).str.startswith("14")]
    p = shapely.Point(TO_XY.transform(113.95420, 37.9))
    k = int(shanxi.distance(p).to_numpy().argmin())
    q = nearest_points(shanxi.geometry.iloc[k], p)[0]
    lon, lat = TO_LL.transform(q.x, q.y)
    d = GEOD.inv(113.95420, 37.9, lon, lat)[2]
    assert shanxi["name"].iloc[k] == "阳泉市建成区" and 29_000 < d < 29_500
    note = far["nearest_area_note"]
    assert "named only through a built-up area outside Shanxi (山西省): 井陉县县城建成区" in note
    assert "仅因山西省以外的建成区井陉县县城建成区而列入" in note
    got = float(note.split("阳泉市建成区 at ")[1].split(" m")[0].replace(",", ""))
    assert got == pytest.approx(d, abs=0.5)
    assert pd.isna(t.loc["太原焦化", "nearest_area_note"])  # a Shanxi area names it: nothing said
    assert "named only through a built-up area outside the plan's province: 1 firms" in said


def test_the_other_reading_screens_against_shanxi_areas_only(tmp_path: Path):
    """The README's way to the other reading: the layer filtered to adcode 14… leaves the
    firm 29.3 km from any area, named by no rule."""
    import pyogrio

    from sxzones.analyses.firm_zones import screen_firms

    path = Path(CATALOG).parent / "shanxi" / "derived" / "builtup_demonstration.gpkg"
    bu = pyogrio.read_dataframe(path, where="adcode LIKE '14%'")
    assert len(bu) and bu["adcode"].astype(str).str.startswith("14").all()
    bu = bu.to_crs(4546)
    bu["area_id"] = bu["area_id"].astype(str)
    firm = gpd.GeoDataFrame({"firm_id": ["1"], "industry": ["焦化"]},
                            geometry=[shapely.Point(TO_XY.transform(113.95420, 37.9))], crs=4546)  # fmt: skip
    r = screen_firms(firm, bu, load_rules())
    assert r["rule_ids"].iat[0] == "" and r["distance_m"].iat[0] > 29_000
    assert r["nearest_area_note"].iat[0] == ""
