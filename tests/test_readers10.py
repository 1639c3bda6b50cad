"""Audit 10's findings in reading users' files: .cpg spellings GDAL does not know (D2) and
a .cpg of UTF-8 beside GBK text (D15); HTML tables with rowspan (D8), the data table not
the first (D14), a web page without a table (D17); --project EWKT and open rings (D16);
--layer on files without layers (D18)."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from sxzones.errors import LayerError
from sxzones.layers.readers import read_file

NAMES = ["太原焦化有限公司", "晋中钢铁集团"]


def _shp(path: Path, encoding: str, cpg: str, names: list[str] = NAMES) -> Path:
    frame = gpd.GeoDataFrame(
        {"QYMC": names, "HYLB": ["焦化", "钢铁"] if names == NAMES else ["焦化", "鋼鐵"]},
        geometry=[shapely.Point(112.5534, 37.8695), shapely.Point(112.70, 37.69)],
        crs=4490,
    )
    pyogrio.write_dataframe(frame, path, encoding=encoding)
    path.with_suffix(".cpg").write_text(cpg, "ascii")
    return path


# ---- D2, D15: a .cpg GDAL does not know, or one its text contradicts ----------------------


@pytest.mark.parametrize("cpg", ["System", "65001", "950", "8859-1", "UTF-8", "1252"])
def test_gbk_text_under_any_cpg_is_read_as_gb18030_and_said(tmp_path, cpg):
    """GBK text beside a .cpg GDAL garbled it with (65001, 950, ANSI 936, 8859-1, System)
    or one that was refused (UTF-8, D15): the names as written, the .cpg named in the note."""
    raw = read_file(_shp(tmp_path / "g.shp", "GBK", cpg))
    assert raw.frame["QYMC"].tolist() == NAMES
    assert raw.frame["HYLB"].tolist() == ["焦化", "钢铁"]
    assert any(n.startswith(f"attributes read as GB18030 (the .cpg says {cpg}") for n in raw.notes)


@pytest.mark.parametrize("cpg", ["65001", "UTF8", "utf-8"])
def test_utf8_cpg_spellings_read_utf8_text(tmp_path, cpg):
    raw = read_file(_shp(tmp_path / "u.shp", "UTF-8", cpg))
    assert raw.frame["QYMC"].tolist() == NAMES
    assert f"attributes read as {cpg} (.cpg)" in raw.notes


@pytest.mark.parametrize(("cpg", "codec"), [("ANSI 936", "GBK"), ("CP936", "GBK"), ("950", "BIG5")])
def test_a_right_cpg_in_another_spelling_is_honoured(tmp_path, cpg, codec):
    """GBK text under ANSI 936 (once garbled as Latin-1); Big5 text (traditional names) under 950: read as the .cpg
    says (Big5 is not taken for GBK although its bytes decode as GBK)."""
    names = ["太原焦化有限公司", "晉中鋼鐵集團"] if codec == "BIG5" else NAMES
    raw = read_file(_shp(tmp_path / "c.shp", codec, cpg, names))
    assert raw.frame["QYMC"].tolist() == names
    assert f"attributes read as {cpg} (.cpg)" in raw.notes


def test_utf8_text_under_system_is_read_as_utf8(tmp_path):
    raw = read_file(_shp(tmp_path / "u.shp", "UTF-8", "System"))
    assert raw.frame["QYMC"].tolist() == NAMES
    assert "attributes read as UTF-8 (the .cpg says System)" in raw.notes


def test_text_in_no_known_encoding_is_refused_with_the_fix(tmp_path):
    """Bytes neither UTF-8 nor GB18030 nor the .cpg's (UTF-8): refused, --encoding named."""
    p = _shp(tmp_path / "x.shp", "UTF-8", "UTF-8")
    dbf = p.with_suffix(".dbf")
    data = dbf.read_bytes()
    utf8 = NAMES[0].encode("utf-8")
    dbf.write_bytes(data.replace(utf8, b"\x81\x30\xff\xfe" + utf8[4:]))
    with pytest.raises(LayerError, match=r"not UTF-8, as its .cpg says.*--encoding"):
        read_file(p)


# ---- D8, D14, D17: HTML tables ----------------------------------------------------------

HEAD = (
    '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head><body>'
)
FIRMS = [
    ("91140100MA0A000001", "甲焦化", "焦化", "112.5534", "37.8695"),
    ("91140100MA0A000002", "乙钢铁", "钢铁", "112.5600", "37.8700"),
    ("91140100MA0A000003", "丙水泥", "钢铁", "112.7000", "38.2000"),
    ("91140100MA0A000004", "丁化工", "化工", "113.0000", "38.5000"),
]


def _rowspan_page(path: Path) -> Path:
    """A gb2312 web export: a title over five columns, 行业 spanning the rows of 乙钢铁 and
    丙水泥 (丙's row has four cells), a 合计 row."""
    td = "".join
    rows = [
        '<table border="1"><tr><td colspan="5">太原市重点企业名单（2024年）</td></tr>',
        "<tr><th>统一社会信用代码</th><th>企业名称</th><th>行业</th><th>经度</th><th>纬度</th></tr>",
        "<tr>" + td(f"<td>{c}</td>" for c in FIRMS[0]) + "</tr>",
        "<tr>" + td(f"<td>{c}</td>" for c in FIRMS[1][:2]) + '<td rowspan="2">钢铁</td>'
        + td(f"<td>{c}</td>" for c in FIRMS[1][3:]) + "</tr>",
        "<tr>" + td(f"<td>{c}</td>" for c in FIRMS[2][:2] + FIRMS[2][3:]) + "</tr>",
        "<tr>" + td(f"<td>{c}</td>" for c in FIRMS[3]) + "</tr>",
        '<tr><td>合计</td><td colspan="4">4家</td></tr></table></body></html>',
    ]  # fmt: skip
    path.write_text(HEAD + "\n".join(rows), encoding="gb2312")
    return path


def test_html_rowspan_keeps_the_following_cells_in_their_columns(tmp_path):
    """D8: 丙水泥's 经度/纬度 read as written (they slid into 行业 and the row was rejected);
    行业 carried down, said; the title said once; the 合计 row left blank to be rejected."""
    raw = read_file(_rowspan_page(tmp_path / "list.xls"), crs="wgs84")
    cells = raw.frame.drop(columns="geometry").astype(str)
    rows = cells[["统一社会信用代码", "企业名称", "行业", "经度", "纬度"]].values.tolist()
    assert [tuple(r) for r in rows[:4]] == FIRMS
    assert rows[4][:2] == ["合计", "4家"]
    assert rows[4][2:] == ["", "", ""]
    assert raw.frame.geometry.iloc[2].coords[0] == (112.7, 38.2)
    assert "cells merged down a column filled with their value: 1 cell(s)" in raw.notes
    assert any(n.endswith("are not data (太原市重点企业名单（2024年）)") for n in raw.notes)


def test_html_rowspan_firm_screen_rejects_only_the_total_row(tmp_path):
    from click.testing import CliRunner

    from sxzones.cli import cli

    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli,
        ["firms", "--firms", str(_rowspan_page(tmp_path / "list.xls")), "--crs", "wgs84",
         "--builtup", "builtup_demonstration", "--out", str(out), "--format", "csv"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "input rows 5 = screened 4 + rejected 1" in res.output
    rejects = (out / "rejects.csv").read_text("utf-8-sig").splitlines()
    assert len(rejects) == 2 and '"合计"' in rejects[1]


TABLE = (
    "<table><tr><td>企业名称</td><td>行业</td><td>经度</td><td>纬度</td></tr>"
    "<tr><td>A</td><td>焦化</td><td>112.5534</td><td>37.8695</td></tr>"
    "<tr><td>B</td><td>钢铁</td><td>112.56</td><td>37.87</td></tr></table>"
)


@pytest.mark.parametrize(
    ("page", "k"),
    [
        ("<table><tr><td>查询条件：全部</td></tr></table>" + TABLE, 2),
        ('<table width="100%"><tr><td>' + TABLE + "</td></tr></table>", 2),
        (TABLE + "<table><tr><td>制表：某局</td><td>2024</td></tr></table>", 1),
    ],
    ids=["second", "nested", "first-of-two"],
)
def test_html_the_table_with_coordinates_is_read_and_said(tmp_path, page, k):
    """D14: a query-conditions table above, a layout table around, a footer table below."""
    p = tmp_path / "t.xls"
    p.write_text(f'<html><head><meta charset="utf-8"></head><body>{page}</body></html>', "utf-8")
    raw = read_file(p, crs="wgs84")
    assert raw.frame["企业名称"].tolist() == ["A", "B"]
    assert raw.frame["行业"].tolist() == ["焦化", "钢铁"]
    assert f"web page: table {k} of its 2 read (the one with the columns needed)" in raw.notes


def test_html_without_coordinates_anywhere_reads_the_largest_and_says_so(tmp_path):
    p = tmp_path / "t.xls"
    small = "<table><tr><td>查询条件</td></tr></table>"
    big = "<table><tr><td>企业名称</td><td>行业</td></tr><tr><td>A</td><td>焦化</td></tr></table>"
    p.write_text(f"<html><body>{small}{big}</body></html>", "utf-8")
    with pytest.raises(LayerError, match=r"columns are \['企业名称', '行业'\]"):
        read_file(p, crs="wgs84")


@pytest.mark.parametrize(
    "page",
    ["<html><body><p>无数据</p></body></html>", "<!DOCTYPE html>\n<html><body></body></html>"],
)
def test_a_web_page_with_no_table_is_refused_as_such(tmp_path, page):
    """D17: not read as a CSV whose column is the page's markup."""
    p = tmp_path / "empty.xls"
    p.write_text(page, "utf-8")
    with pytest.raises(
        LayerError, match=r"a web page with no table.*export the list again as \.xlsx or \.csv"
    ):
        read_file(p, crs="wgs84")


# ---- D18: --layer where a file has no layers, or not that one ----------------------------

JZD = """[属性描述]
坐标系=2000国家大地坐标系
[地块坐标]
4,0.0125,1,地块1,面,,工业用地,,@
J1,1,4194500.000,38450500.000
J2,1,4194500.000,38450600.000
J3,1,4194600.000,38450600.000
J4,1,4194600.000,38450500.000
J1,1,4194500.000,38450500.000
"""


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [
        ("p.csv", "name,lon,lat\nA,112.55,37.87\n", "a CSV table has no layers"),
        ("p.txt", JZD, "a .txt file (a 界址点 list or a table) has no layers"),
    ],
)
def test_layer_on_a_file_without_layers_is_refused(tmp_path, name, text, kind):
    p = tmp_path / name
    p.write_text(text, "utf-8")
    with pytest.raises(LayerError, match=rf"--layer '用地红线' was given, but {re.escape(kind)}"):
        read_file(p, crs="cgcs2000" if name.endswith("csv") else None, layer="用地红线")
    assert len(read_file(p, crs="cgcs2000" if name.endswith("csv") else None).frame) == 1


def test_a_layer_the_file_lacks_is_refused_naming_its_layers(tmp_path):
    p = tmp_path / "parcel.geojson"
    frame = gpd.GeoDataFrame(
        {"name": ["A"]}, geometry=[shapely.box(112.30, 37.90, 112.305, 37.905)], crs=4326
    )
    frame.to_file(p, driver="GeoJSON", layer="parcel")
    with pytest.raises(
        LayerError, match=r"the file has no layer '用地红线'; its layer\(s\): 'parcel'.*leave out"
    ):
        read_file(p, layer="用地红线")
    assert len(read_file(p, layer="parcel").frame) == 1
    g = tmp_path / "two.gpkg"
    frame.to_file(g, layer="a")
    frame.to_file(g, layer="b")
    with pytest.raises(LayerError, match=r"its layer\(s\): 'a', 'b'.*name one of these"):
        read_file(g, layer="c")


# ---- D16: --project text read by the WKT cells' parser ---------------------------------


def test_geometry_from_wkt_reads_ewkt_and_closes_rings():
    from sxzones.layers.readers import geometry_from_wkt

    geom, crs, notes = geometry_from_wkt("SRID=4490;POINT(112.55 37.87)")
    assert (geom.x, geom.y, crs) == (112.55, 37.87, "EPSG:4490")
    assert notes == ["geometries read from the WKT text: its SRID= prefix declares EPSG:4490"]
    geom, crs, notes = geometry_from_wkt("POLYGON((0 0,1 0,1 1,0 1))")
    assert crs is None and geom.equals(shapely.box(0, 0, 1, 1)) and "closed" in notes[0]
    with pytest.raises(shapely.errors.GEOSException):
        geometry_from_wkt("POLYGON((0 0,1 0))x")


@pytest.mark.parametrize(
    ("spec", "crs", "said"),
    [
        ("SRID=4490;POINT(112.55 37.87)", None, "its SRID= prefix declares EPSG:4490"),
        (
            "POLYGON((112.30 37.90,112.305 37.90,112.305 37.905,112.30 37.905))",
            "cgcs2000",
            "a polygon ring not closed",
        ),
    ],
    ids=["ewkt", "open-ring"],
)
def test_project_text_ewkt_and_open_ring_are_checked(tmp_path, spec, crs, said):
    """D16: refused "neither an existing file, nor 'lon,lat', nor WKT" before; the open
    ring's area is the closed ring's on the ellipsoid (pyproj.Geod)."""
    import csv

    from click.testing import CliRunner
    from pyproj import Geod

    from sxzones.cli import cli

    args = ["check", "--project", spec, "--industry", "pv", "--out", str(tmp_path / "o")]
    res = CliRunner().invoke(cli, [*args, *(["--crs", crs] if crs else []), "--reports", "none"])
    assert res.exit_code == 0, res.output
    assert said in res.output
    with (tmp_path / "o" / "site_check.csv").open(encoding="utf-8-sig") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["verdict"] == "clear"
    if crs:
        lons, lats = [112.30, 112.305, 112.305, 112.30], [37.90, 37.90, 37.905, 37.905]
        area = abs(Geod(ellps="GRS80").polygon_area_perimeter(lons, lats)[0])
        assert float(row["area_m2"]) == pytest.approx(area, rel=1e-6)


def test_project_ewkt_contradicting_crs_is_refused(tmp_path):
    from click.testing import CliRunner

    from sxzones.cli import cli

    spec = "SRID=4490;POINT(112.55 37.87)"
    res = CliRunner().invoke(
        cli,
        ["check", "--project", spec, "--crs", "wgs84", "--industry", "pv", "--out", str(tmp_path)],
    )
    assert res.exit_code == 2
    assert "declares EPSG:4490 but --crs wgs84 was given" in res.output
