"""Minor findings of the sixth audit, each read from a real file through the real reader:
a rejected row's reason quoting other rows' values, a built-up area without a kind shown as
the text ``nan``, a fix that mapped an industrial park to a city built-up area, ..."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Geod

from sxzones.cli import cli
from sxzones.errors import LayerError
from sxzones.layers import read_file, validate_layer


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def _squares(path, rows, x0=112.495, y0=38.0):
    """GeoJSON of 500 m squares 2 km apart, one per row of properties (CGCS2000 degrees)."""
    feats = []
    for k, props in enumerate(rows):
        x, y = x0 + 0.03 * k, y0
        ring = [[x, y], [x + 0.005, y], [x + 0.005, y + 0.005], [x, y + 0.005], [x, y]]
        feats.append(
            {"type": "Feature", "properties": props,
             "geometry": {"type": "Polygon", "coordinates": [ring]}}
        )  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    return path


def test_each_rejected_candidate_quotes_its_own_kind(tmp_path):
    """m21: every rejected candidate's reason listed the first five bad values of the whole
    layer (露天矿排土场 of the sixth was not among them)."""
    kinds = [
        "关闭煤矿",
        "农药化工污染地块",
        "受污染地块",
        "垃圾填埋场",
        "工业污染场地",
        "露天矿排土场",
    ]
    rows = [{"地块编号": "OK", "地块类型": "废弃矿山"}]
    rows += [{"地块编号": f"K{k}", "地块类型": v} for k, v in enumerate(kinds)]
    p = _squares(tmp_path / "cands.geojson", rows)
    res = _invoke("sites", "--candidates", str(p), "--tech", "pv", "--out", str(tmp_path / "o"))
    assert res.exit_code == 0, res.output
    rej = pd.read_csv(tmp_path / "o" / "rejects.csv", encoding="utf-8-sig", dtype=str)
    assert rej["id"].tolist() == [f"K{k}" for k in range(6)]
    for kind, reason in zip(kinds, rej["reason"], strict=True):
        assert reason.startswith(f"'地块类型' has value(s) ['{kind}']; allowed: ")
        assert all(other not in reason for other in kinds if other != kind)


def test_builtup_without_kind_and_unknown_kinds(tmp_path):
    """m23: a built-up area whose 类型 is empty showed ``nearest_area_kind = nan``; the fix
    offered for 工业园区 was to map it to ``city`` outright, which would make an industrial
    park a city built-up area under clause 四."""
    rows = [
        {"编号": "B1", "名称": "甲县城", "类型": "县城建成区"},
        {"编号": "B2", "名称": "乙园区", "类型": "工业园区"},
        {"编号": "B3", "名称": "丙", "类型": None},
    ]
    bu = _squares(tmp_path / "bu.geojson", rows, x0=112.6, y0=37.0)
    firms = tmp_path / "firms.csv"
    firms.write_text("firm_id,industry,lon,lat\nT1,焦化,112.6625,37.0025\n", "utf-8")
    g, rep = validate_layer(read_file(bu, crs="cgcs2000"), "builtup", working_crs=4546)
    assert g["area_id"].tolist() == ["B1", "B3"]
    summary = rep.summary()
    assert '"工业园区" = "city" } } if "工业园区" means city' in summary
    assert "only if a value is one of these under another name" in summary
    res = _invoke(
        "firms", "--firms", str(firms), "--crs", "cgcs2000", "--builtup", str(bu), "--admin", "",
        "--format", "csv", "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    t = pd.read_csv(tmp_path / "o" / "firm_zones.csv", encoding="utf-8-sig", dtype=str,
                    keep_default_na=False)  # fmt: skip
    assert (t.loc[0, "nearest_area_id"], t.loc[0, "zone"]) == ("B3", "inside")
    assert t.loc[0, "nearest_area_kind"] == ""


KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Folder><name>我的地点</name>
<Placemark><name>项目红线</name><Polygon><outerBoundaryIs><LinearRing><coordinates>
112.49,38.05,0 112.49,38.07,0 112.47,38.07,0 112.47,38.05,0 112.49,38.05,0
</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
<Placemark><name>大门</name><Point><coordinates>112.48,38.05,0</coordinates></Point></Placemark>
</Folder></Document></kml>"""


def test_project_kml_with_a_parcel_and_a_pin_is_the_parcel(tmp_path):
    """m3: ``--project`` (one project) given a Google Earth KML holding the parcel and a pin
    at its gate checked two projects; the parcel is checked and the pin said as left out.
    ``--projects`` still checks every feature."""
    p = tmp_path / "red.kml"
    p.write_text(KML, "utf-8")
    geod = Geod(ellps="GRS80")
    ring = [(112.49, 38.05), (112.49, 38.07), (112.47, 38.07), (112.47, 38.05)]
    area = abs(geod.geometry_area_perimeter(shapely.Polygon(ring))[0])
    common = ["--industry", "pv", "--reports", "none"]
    res = _invoke("check", "--project", str(p), *common, "--out", str(tmp_path / "one"))
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "one" / "site_check.json").read_text("utf-8"))
    assert [q["area_m2"] for q in doc["projects"]] == [pytest.approx(area, rel=1e-6)]
    assert "the point(s) beside it left out (feature 2 (大门))" in res.output
    res = _invoke("check", "--projects", str(p), *common, "--out", str(tmp_path / "all"))
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "all" / "site_check.json").read_text("utf-8"))
    assert len(doc["projects"]) == 2


def _firms(tmp_path, path):
    out = tmp_path / "o"
    res = _invoke(
        "firms", "--firms", str(path), "--crs", "wgs84", "--builtup", "builtup_demonstration",
        "--format", "csv", "--out", str(out), "--overwrite",
    )  # fmt: skip
    return res, out


HEAD = "企业编号,企业名称,行业,经度,纬度\n"
ROWS = "F1,太原钢厂,钢铁,112.55,37.87\nF2,远郊焦化,焦化,112.2,38.3\n"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (HEAD + ROWS.replace("\n", ",\n"), "utf-8"),  # a trailing comma on every data row
        (HEAD + ROWS + "合计,2家\n", "utf-8"),  # a short total row
        ("重点企业名单\n" + HEAD + ROWS.replace("\n", ",\n") + "合 计,2家,\n", "gbk"),
    ],
    ids=["trailing_comma", "short_total", "gbk_title_both"],
)
def test_csv_trailing_comma_and_short_total_row(tmp_path, text, encoding):
    """m11: both were refused as a whole ("row 2 has 6 of 5 columns") while the same rows in
    a workbook are read; the empty last field is not data, the 合计 row is rejected as a row."""
    p = tmp_path / "firms.csv"
    p.write_text(text, encoding)
    raw = read_file(p, crs="wgs84")
    assert list(raw.frame.columns[1:6]) == ["企业编号", "企业名称", "行业", "经度", "纬度"]
    res, out = _firms(tmp_path, p)
    assert res.exit_code == 0, res.output
    t = pd.read_csv(out / "firm_zones.csv", encoding="utf-8-sig", dtype=str)
    assert t["firm_id"].tolist() == ["F1", "F2"]
    assert t["zone"].tolist() == ["inside", "within_20km"]
    first = 3 if text.startswith("重点") else 2
    assert t["source_row"].tolist() == [str(first), str(first + 1)]
    rej = pd.read_csv(out / "rejects.csv", encoding="utf-8-sig", dtype=str)
    if "计" in text:
        assert rej["source_row"].tolist() == [str(first + 2)]
        assert rej["id"].str.replace(" ", "").tolist() == ["合计"]
        assert rej["reason"].tolist() == ["coordinates missing or not numbers"]
        assert "short total row(s) read with blanks" in res.output
        assert "input rows 3 = screened 2 + rejected 1" in res.output
    else:
        assert rej.empty
    if text.count(",\n") >= 2:
        assert "every row ends with an empty field (a trailing comma)" in res.output


@pytest.mark.parametrize(
    ("body", "row"),
    [
        ("F1,太原钢厂,钢铁,112.55,37.87,\nF2,远郊焦化,焦化,112.2,38.3\n", "row 2 has 6 of 5"),
        ("F1,太原钢厂,钢铁,112.55,37.87,x\nF2,远郊焦化,焦化,112.2,38.3,y\n", "row 2 has 6 of 5"),
        ("F1,太原钢厂,钢铁,112.55,37.87\nF2,远郊焦化,焦化,112.2\n", "row 3 has 4 of 5"),
        ("F1,太原钢厂,钢铁,112.55,37.87\n合计,2家,,,,9\n", "row 3 has 6 of 5"),
    ],
    ids=["some_trailing", "filled_extra", "short_data_row", "long_total"],
)
def test_other_ragged_rows_still_refuse_the_csv(tmp_path, body, row):
    """A trailing comma on some rows only, a filled extra field, a short data row, a total
    row with a value beyond the header: the file is refused with the row, as before."""
    p = tmp_path / "firms.csv"
    p.write_text(HEAD + body, "utf-8")
    with pytest.raises(LayerError, match=f"malformed CSV: {row} columns"):
        read_file(p, crs="wgs84")


JZD_PARTS = """[属性描述]
坐标系=2000国家大地坐标系
几度分带=3
带号=37
[地块坐标]
5,400.0000,A001,甲地块,面,,工业用地,,@
{a}
5,100.0000,A001,甲地块东区,面,,工业用地,,@
{b}
5,1.0000,B002,乙地块,面,,工业用地,,@
J1,1,4214000.000,37620000.000
J2,1,4214100.000,37620000.000
J1,1,4214000.000,37620000.000
"""


def _ring(n0, e0, side):
    pts = [(n0, e0), (n0 + side, e0), (n0 + side, e0 - side), (n0, e0 - side), (n0, e0)]
    return "\n".join(f"J{k + 1},1,{n:.3f},{e:.3f}" for k, (n, e) in enumerate(pts))


def test_jzd_parts_sharing_a_parcel_number_are_one_parcel(tmp_path):
    """m22: a second header with the same 地块编号 (how some survey programs write a parcel's
    parts) was rejected as a duplicate id, and the project checked on its first part only.
    The parts are one multipart parcel now; the parcel after them keeps its number."""
    p = tmp_path / "parts.txt"
    text = JZD_PARTS.format(
        a=_ring(4214500.0, 37630800.0, 2000.0), b=_ring(4214500.0, 37633800.0, 1000.0)
    )
    p.write_text(text, "gbk")
    raw = read_file(p)
    assert raw.frame["parcel_id"].tolist() == ["A001", "B002"]
    assert raw.frame["source_row"].tolist() == [1, 3]
    first = raw.frame.iloc[0]
    assert first.geometry.geom_type == "MultiPolygon"
    assert first.geometry.area == pytest.approx(2000.0**2 + 1000.0**2)
    assert (first["name"], first["declared_area"]) == ("甲地块、甲地块东区", 500.0)
    res = _invoke(
        "check", "--projects", str(p), "--industry", "pv", "--reports", "none",
        "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "A001 (2 parts, header lines 6, 12)" in res.output
    assert "input rows 2 = checked 1 + rejected 1" in res.output
    doc = json.loads((tmp_path / "o" / "site_check.json").read_text("utf-8"))
    (a001,) = doc["projects"]
    g, _ = validate_layer(raw, "projects", working_crs=4525)
    geod = Geod(ellps="GRS80")
    ll = gpd.GeoSeries([g.geometry.iloc[0]], crs=4525).to_crs(4490).iloc[0]
    assert a001["area_m2"] == pytest.approx(abs(geod.geometry_area_perimeter(ll)[0]), rel=1e-6)
    rej = pd.read_csv(tmp_path / "o" / "rejects.csv", encoding="utf-8-sig", dtype=str)
    assert rej[["source_row", "id"]].values.tolist() == [["3", "B002"]]
