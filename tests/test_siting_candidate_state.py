"""The candidates' state as agency lists write it, read through GDAL and screened by the
command: status words that only feed the score never take a candidate out of the totals,
and a "closed" landfill whose closure year is still to come is not candidate land."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from sxzones.cli import cli
from sxzones.layers.readers import read_file
from sxzones.layers.validate import validate_layer

from .conftest import CATALOG


def _plots(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    """Squares of 0.01 degrees near Datong (about 0.97 km² each), one per row, in a row
    west to east, as a GeoJSON FeatureCollection in longitude/latitude."""
    feats = []
    for i, props in enumerate(rows):
        x0, y0 = 113.00 + 0.02 * i, 40.00
        ring = [[x0, y0], [x0 + 0.01, y0], [x0 + 0.01, y0 + 0.01], [x0, y0 + 0.01], [x0, y0]]
        feats.append({"type": "Feature", "properties": {"地块编号": f"P{i:02d}", **props},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})  # fmt: skip
    p = tmp_path / "cands.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    return p


SETTLED = ["是", "不详", "未知", "基本稳沉", "稳沉中", "尚未稳沉", "正在沉降", "部分稳沉", ""]
#: what each word reads as: True settled, False still settling, None unknown
READ = [True, None, None, True, False, False, False, None, None]


def test_status_words_are_read_and_never_reject_the_candidate(tmp_path):
    p = _plots(tmp_path, [{"地块类型": "采煤沉陷区", "是否稳沉": w} for w in SETTLED])
    got, report = validate_layer(read_file(p), "candidates", working_crs=4546)
    assert len(got) == len(SETTLED) and len(report.rejects) == 0
    assert got["settled"].tolist() == READ
    notes = {f.message: f.rows for f in report.findings if f.code == "state_read"}
    assert notes == {
        "'是否稳沉' value(s) ['部分稳沉'] read as unknown (the state's score component drops "
        "out)": (8,),
        "'是否稳沉' value(s) ['基本稳沉'] read as settled": (4,),
    }


def test_cli_keeps_every_candidate_whatever_its_status_word(tmp_path):
    p = _plots(tmp_path, [{"地块类型": "采煤沉陷区", "是否稳沉": w} for w in SETTLED])
    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli, ["sites", "--candidates", str(p), "--tech", "pv", "--catalog", str(CATALOG),
              "--out", str(out)], catch_exceptions=False,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "input rows 9 = screened 9 + rejected 0" in res.output
    t = pd.read_csv(out / "eligible_sites.csv", encoding="utf-8-sig")
    assert t["eligible"].all()
    # status scores of the rules: settled 1.0, still settling 0.4; unknown drops out (blank)
    want = [1.0, math.nan, math.nan, 1.0, 0.4, 0.4, 0.4, math.nan, math.nan]
    assert t["score_status"].tolist() == pytest.approx(want, nan_ok=True)


def test_a_landfill_closing_after_the_as_of_year_is_not_eligible(tmp_path):
    years = ["2019", "2030", "2026", "二〇一九年", "不详"]
    p = _plots(tmp_path, [{"地块类型": "已封场垃圾填埋场", "封场年份": y} for y in years])
    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli, ["sites", "--candidates", str(p), "--tech", "pv", "--catalog", str(CATALOG),
              "--out", str(out)], catch_exceptions=False,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "input rows 5 = screened 5 + rejected 0" in res.output
    t = pd.read_csv(out / "eligible_sites.csv", encoding="utf-8-sig").set_index("site_id")
    # the rules' as_of_year is 2026: 2030 is not closed yet; 2026 is (closed this year)
    assert t["eligible"].to_dict() == {"P00": True, "P01": False, "P02": True, "P03": True,
                                       "P04": True}  # fmt: skip
    assert t.loc["P01", "main_reason"] == "not_closed"
    assert t.loc["P01", "removed_not_closed_m2"] == t.loc["P01", "candidate_m2"] > 9e5
    assert t.loc["P01", "capacity_mw"] == 0 and "十五" in t.loc["P01", "clauses"]
    assert t.loc["P03", "closure_year"] == 2019 and math.isnan(t.loc["P04", "closure_year"])
    meta = json.loads((out / "siting.json").read_text("utf-8"))
    eligible = t["eligible_m2"].sum() / 1e6
    assert meta["totals"]["eligible_km2"] == pytest.approx(eligible, abs=1e-3)
    (w,) = [w for w in meta["totals"]["warnings"] if "not closed yet" in w]
    assert "(P01)" in w and "after 2026" in w and "not_closed" in w
    assert "warning: 1 closed landfill(s) (P01)" in res.output


def test_without_a_landfill_to_come_the_tables_keep_their_columns(tmp_path):
    p = _plots(tmp_path, [{"地块类型": "已封场垃圾填埋场", "封场年份": "2019"}])
    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli, ["sites", "--candidates", str(p), "--tech", "pv", "--catalog", str(CATALOG),
              "--out", str(out)], catch_exceptions=False,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    t = pd.read_csv(out / "eligible_sites.csv", encoding="utf-8-sig")
    # audit 10 D19: the column is kept, 0 (the same columns whatever the data)
    assert t["removed_not_closed_m2"].eq(0).all() and t["eligible"].all()
    assert t["removed_outside_plan_m2"].eq(0).all()


def test_the_candidates_own_columns_are_kept_in_every_output(tmp_path):
    rows = [{"地块类型": "采煤沉陷区", "是否稳沉": "是", "权属单位": "某煤业公司", "面积（亩）": "1450",
             "备注": "已复垦一半", "score": "甲"}]  # fmt: skip
    p = _plots(tmp_path, rows)
    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli, ["sites", "--candidates", str(p), "--tech", "pv", "--catalog", str(CATALOG),
              "--out", str(out), "--lang", "zh"], catch_exceptions=False,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    csv = pd.read_csv(out / "eligible_sites.csv", encoding="utf-8-sig", dtype=str)
    xlsx = pd.read_excel(out / "eligible_sites.xlsx", sheet_name=0, dtype=str)
    import geopandas as gpd

    gpkg = gpd.read_file(out / "eligible_sites.gpkg", layer="eligible_sites")
    for t in (csv, xlsx, gpkg):
        assert t["权属单位"].iat[0] == "某煤业公司" and t["备注"].iat[0] == "已复垦一半"
        assert str(t["面积（亩）"].iat[0]) == "1450"
        assert t["score_input"].iat[0] == "甲"  # named like the screen's own score


def test_a_candidate_outside_shanxi_is_not_candidate_land_under_the_plan(tmp_path):
    """A plot in 沙河市 (Hebei, within the bundled admin layer's reach beyond Shanxi) is marked
    as the firm screen and the site check mark a place outside the plan's jurisdiction."""
    feats = []
    for sid, x0 in (("B1", 113.60), ("B2", 113.90)):  # 左权县 (Shanxi); 沙河市 (Hebei)
        ring = [[x0, 36.99], [x0 + 0.04, 36.99], [x0 + 0.04, 37.01], [x0, 37.01], [x0, 36.99]]
        feats.append({"type": "Feature", "properties": {"地块编号": sid, "地块类型": "废弃矿山"},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})  # fmt: skip
    p = tmp_path / "border.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli, ["sites", "--candidates", str(p), "--tech", "pv", "--catalog", str(CATALOG),
              "--out", str(out)], catch_exceptions=False,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    t = pd.read_csv(out / "eligible_sites.csv", encoding="utf-8-sig", dtype={"adcode": str})
    t = t.set_index("site_id")
    # B2 lies in two Hebei counties (沙河市 96 %, 武安市 4 %): both are named, the larger first
    assert t.loc["B2", "adcode"] == "130582;130481" and t.loc["B1", "adcode"].startswith("14")
    assert t["eligible"].to_dict() == {"B1": True, "B2": False}
    assert t.loc["B2", "main_reason"] == "outside_plan" and t.loc["B2", "capacity_mw"] == 0
    assert t.loc["B2", "removed_outside_plan_m2"] == t.loc["B2", "candidate_m2"]
    meta = json.loads((out / "siting.json").read_text("utf-8"))
    assert meta["totals"]["capacity_mw"] == pytest.approx(t.loc["B1", "capacity_mw"], abs=0.01)
    (w,) = [w for w in meta["totals"]["warnings"] if "outside Shanxi" in w]
    assert "(B2)" in w and "不在山西省，本方案不适用" in w


def test_a_shapefile_with_pinyin_initials_keeps_its_name_and_closure_year(tmp_path):
    """国土 layers name fields by pinyin initials: DKMC (地块名称) and FCNF (封场年份) are
    read, so the landfill's closure year feeds its score (it was blank, without a note)."""
    import geopandas as gpd
    import shapely

    p = tmp_path / "dk.shp"
    gpd.GeoDataFrame(
        {"DKBH": ["L1"], "DKLX": ["已封场垃圾填埋场"], "DKMC": ["某填埋场"], "FCNF": ["2020年"]},
        geometry=[shapely.box(112.50, 37.60, 112.52, 37.62)],
        crs=4490,
    ).to_file(p, encoding="utf-8")
    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli, ["sites", "--candidates", str(p), "--tech", "pv", "--catalog", str(CATALOG),
              "--out", str(out)], catch_exceptions=False,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (
        "field DKMC read as name" in res.output and "field FCNF read as closure_year" in res.output
    )
    t = pd.read_csv(out / "eligible_sites.csv", encoding="utf-8-sig")
    assert t["name"].iat[0] == "某填埋场" and t["closure_year"].iat[0] == 2020
    assert t["score_status"].iat[0] == pytest.approx(0.6)  # (2026 - 2020) / 10 years
