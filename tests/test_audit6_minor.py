"""Minor findings of the sixth audit, each read from a real file through the real reader:
a rejected row's reason quoting other rows' values, a built-up area without a kind shown as
the text ``nan``, a fix that mapped an industrial park to a city built-up area, ..."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
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
    assert "the parcel checked, feature 2 (大门) left out" in res.output
    assert "input rows 2 = checked 1 + rejected 1" in res.output
    rej = pd.read_csv(tmp_path / "one" / "rejects.csv", encoding="utf-8-sig", dtype=str)
    assert rej[["source_row", "id", "code"]].values.tolist() == [["2", "大门", "pin_left_out"]]
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


# ---- m13: a table of parcel corners (界址点成果表) as parcels ------------------------------

#: Two parcels in zone 37 (zone-prefixed eastings, X the northing): A001 a 2 km square
#: written J1..J4 and J1 again to close it; A002 a 1 km square with its rows out of order and
#: its number on the first row only (J10 after J9: point numbers in their natural order).
CORNER_ROWS = [
    ["A001", "J1", 4214500.0, 37630800.0],
    ["A001", "J2", 4216500.0, 37630800.0],
    ["A001", "J3", 4216500.0, 37628800.0],
    ["A001", "J4", 4214500.0, 37628800.0],
    ["A001", "J1", 4214500.0, 37630800.0],
    ["A002", "J10", 4214000.0, 37633800.0],
    [None, "J8", 4215000.0, 37634800.0],
    [None, "J7", 4214000.0, 37634800.0],
    [None, "J9", 4215000.0, 37633800.0],
]


def _corners_xlsx(path, rows=CORNER_ROWS):
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["界址点成果表"])
    ws.append(["地块编号", "点号", "X坐标(m)", "Y坐标(m)", "备注"])
    for r in rows:
        ws.append([*r, "拐点"])
    book.save(path)
    return path


def _geod_area(poly, crs):
    from pyproj import Transformer

    tr = Transformer.from_crs(crs, 4490, always_xy=True)
    ll = shapely.transform(poly, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
    return abs(Geod(ellps="GRS80").geometry_area_perimeter(ll)[0])


def test_check_reads_a_table_of_corners_as_parcels(tmp_path):
    """m13: the command could not turn a 界址点成果表 into parcels (the page could); with
    --corners, one parcel per 地块编号, corners joined in point-number order, X the northing,
    the same parcels as the 界址点 file of the same corners."""
    p = _corners_xlsx(tmp_path / "corners.xlsx")
    res = _invoke(
        "check", "--projects", str(p), "--corners", "--crs", "gk37", "--industry", "pv",
        "--reports", "none", "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "corners joined in point-number order (点号), one parcel per 地块编号" in res.output
    assert "A001 (4 corners, rows 3-7, closing corner left out); A002 (4 corners, rows 8-11)" in (
        res.output
    )
    assert "read from Y坐标(m) (x) and X坐标(m) (y): X the northing" in res.output
    doc = json.loads((tmp_path / "o" / "site_check.json").read_text("utf-8"))
    got = {q["project_id"]: q["area_m2"] for q in doc["projects"]}
    a001 = shapely.box(37628800.0, 4214500.0, 37630800.0, 4216500.0)
    a002 = shapely.box(37633800.0, 4214000.0, 37634800.0, 4215000.0)
    assert got == {
        "A001": pytest.approx(_geod_area(a001, 4525), rel=1e-6),
        "A002": pytest.approx(_geod_area(a002, 4525), rel=1e-6),
    }
    # the same corners as a 界址点 file: the same parcels
    lines = [f"{r[1]},1,{r[2]:.3f},{r[3]:.3f}" for r in CORNER_ROWS[:5]]
    jzd = tmp_path / "a001.txt"
    header = JZD_PARTS.split("5,400")[0] + "5,400.0000,A001,甲,面,,,,@\n"
    jzd.write_text(header + "\n".join(lines) + "\n", "utf-8")
    from sxzones.layers.corners import read_corners

    table = read_corners(p, crs="gk37").frame.geometry.iloc[0]
    assert table.normalize().equals_exact(read_file(jzd).frame.geometry.iloc[0].normalize(), 1e-6)


def test_corners_one_parcel_and_latitude_first(tmp_path):
    """No parcel number: the table is one parcel, named after the file; 纬度 written before
    经度 and rows out of order change nothing. --project takes it; two parcels it refuses."""
    p = tmp_path / "红线.csv"
    p.write_text(
        "点号,纬度,经度\nJ3,38.074488,112.470137\nJ1,38.054488,112.490137\n"
        "J2,38.074488,112.490137\nJ4,38.054488,112.470137\n",
        "utf-8",
    )
    common = ["--crs", "cgcs2000", "--industry", "pv", "--reports", "none"]
    res = _invoke("check", "--project", str(p), *common, "--out", str(tmp_path / "o"))
    assert res.exit_code == 2 and "add --corners" in res.output  # the way is told
    res = _invoke("check", "--project", str(p), "--corners", *common, "--out", str(tmp_path / "o"))
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "o" / "site_check.json").read_text("utf-8"))
    ring = [(112.490137, 38.054488), (112.490137, 38.074488), (112.470137, 38.074488),
            (112.470137, 38.054488)]  # fmt: skip
    area = abs(Geod(ellps="GRS80").geometry_area_perimeter(shapely.Polygon(ring))[0])
    assert [(q["project_id"], q["area_m2"]) for q in doc["projects"]] == [
        ("红线", pytest.approx(area, rel=1e-6))
    ]
    two = _corners_xlsx(tmp_path / "two.xlsx")
    res = _invoke("check", "--project", str(two), "--corners", "--crs", "gk37", "--industry",
                  "pv", "--out", str(tmp_path / "o2"))  # fmt: skip
    assert res.exit_code == 2
    assert "the corners make 2 parcels (A001, A002" in res.output and "use --projects" in res.output


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            CORNER_ROWS[:2] + CORNER_ROWS[4:5],
            r"parcel A001 \(rows 3-5\), corners joined in point-number order \(点号\): 2 "
            r"distinct corner\(s\) make no parcel",
        ),
        (
            [CORNER_ROWS[0], CORNER_ROWS[2], CORNER_ROWS[1], CORNER_ROWS[3]],
            r"parcel A001 \(rows 3-6\), corners joined in point-number order \(点号\): the 4 "
            r"corners do not make a simple polygon \(Self-intersection",
        ),
        (
            [*CORNER_ROWS[:4], ["A001", "J1", 4214501.0, 37630800.0]],
            r"point J1 appears in rows 3, 7 with different coordinates",
        ),
    ],
    ids=["two_corners", "crossing", "moved_closing_corner"],
)
def test_corners_that_make_no_parcel_are_refused(tmp_path, rows, message):
    """Fewer than 3 corners, a ring that crosses itself once joined in point-number order
    (J2 and J3 swapped), a closing corner that is not the first: refused with file and
    rows (exit 2), never a parcel of the wrong shape."""
    if "Self" in message:  # numbered in the order written: J2 and J3 swapped
        rows = [[r[0], f"J{k + 1}", r[2], r[3]] for k, r in enumerate(rows)]
    p = _corners_xlsx(tmp_path / "bad.xlsx", rows)
    res = _invoke("check", "--projects", str(p), "--corners", "--crs", "gk37", "--industry",
                  "pv", "--out", str(tmp_path / "o"))  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "bad.xlsx" in res.output and "Fix:" in res.output
    assert re.search(message, res.output), res.output


def test_reviewer_page_reads_corners_as_the_command_does(tmp_path):
    """The page's "table rows are the parcel's corners" box and --corners are one reading:
    the page's answer is the command's, and the command line it shows has --corners."""
    from starlette.testclient import TestClient

    from sxzones.options import ServeOptions
    from sxzones.serve import create_app

    p = _corners_xlsx(tmp_path / "corners.xlsx")
    app, state = create_app(ServeOptions(max_upload_mb=2, max_features=1000))
    try:
        with TestClient(app, base_url="http://127.0.0.1:8765") as client:
            form = {"crs": "gk37", "industry": "pv", "vertices": "on"}
            files = {"file": ("corners.xlsx", p.read_bytes())}
            res = client.post("/api/check", data=form, files=files).json()
    finally:
        state.close()
    assert res["command"] == (
        "sxzones check --projects corners.xlsx --crs gk37 --industry pv --corners --out OUT"
    )
    out = _invoke("check", "--projects", str(p), "--corners", "--crs", "gk37", "--industry", "pv",
                  "--out", str(tmp_path / "cli"))  # fmt: skip
    assert out.exit_code == 0, out.output
    cli_doc = json.loads((tmp_path / "cli" / "site_check.json").read_text("utf-8"))
    assert [q["project_id"] for q in res["document"]["projects"]] == ["A001", "A002"]
    assert res["document"]["projects"] == cli_doc["projects"]


def test_corners_refuses_files_that_are_no_table_of_corners(tmp_path):
    """--corners on a 界址点 file (its parcels are made already) or a KML is refused with
    the fix, not read as if its vertices were corner rows."""
    jzd = tmp_path / "p.txt"
    jzd.write_text("点号,X,Y\nJ1,4214594.557,37630789.081\nJ2,4216814.693,37630753.473\n"
                   "J3,4216786.727,37628998.460\n", "utf-8")  # fmt: skip
    kml = tmp_path / "p.kml"
    kml.write_text(KML, "utf-8")
    for p, what in ((jzd, "this is a 界址点 file"), (kml, "not a .kml file")):
        res = _invoke("check", "--project", str(p), "--corners", "--crs", "gk37", "--industry",
                      "pv", "--out", str(tmp_path / "o"))  # fmt: skip
        assert res.exit_code == 2
        assert what in res.output and "Fix: leave out --corners" in res.output


def test_short_subtotal_between_groups_keeps_row_numbers(tmp_path):
    """A short 小计 row between two groups is rejected with its own row number, and the rows
    after it keep the numbers the spreadsheet shows."""
    p = tmp_path / "groups.csv"
    rows = ROWS.splitlines()
    p.write_text(f"{HEAD}{rows[0]}\n小计,1家\n{rows[1]}\n总计,2家\n", "utf-8")
    res, out = _firms(tmp_path, p)
    assert res.exit_code == 0, res.output
    t = pd.read_csv(out / "firm_zones.csv", encoding="utf-8-sig", dtype=str)
    assert t[["firm_id", "source_row"]].values.tolist() == [["F1", "2"], ["F2", "4"]]
    rej = pd.read_csv(out / "rejects.csv", encoding="utf-8-sig", dtype=str)
    assert rej[["source_row", "id"]].values.tolist() == [["3", "小计"], ["5", "总计"]]
    assert "row(s) 3 (小计, 2 of 5 columns), 5 (总计, 2 of 5 columns)" in res.output
