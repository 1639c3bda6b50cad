"""Coordinate columns as agencies name them: units in brackets (``经度（°）``), 中心经度, and
surveying tables whose ``X坐标`` is the northing, named with ``--field x=.. y=..``. Known
answers: the points are made from pyproj's own transformation of known places, and the zone
of each firm is the one its longitude and latitude give."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from click.testing import CliRunner
from pyproj import Transformer

from sxzones.cli import cli
from sxzones.errors import LayerError
from sxzones.layers import read_file

# 太钢 (inside Taiyuan's demonstration built-up area), a coking plant at Linfen, a cement
# works at Changzhi: CGCS2000 longitude and latitude.
PLACES = [
    ("太原钢铁", "钢铁", 112.55, 37.87, "BU140100"),
    ("山西焦化", "焦化", 111.52, 36.08, "BU141000"),
    ("某水泥厂", "水泥", 113.05, 36.20, "BU140400"),
]


def _surveying_csv(tmp_path):
    """A GBK table in 3-degree Gauss-Krüger zone 38 with the zone number, X the northing."""
    to_gk = Transformer.from_crs("EPSG:4490", "EPSG:4526", always_xy=True)
    rows = []
    for name, industry, lon, lat, _ in PLACES:
        e, n = to_gk.transform(lon, lat)
        rows.append({"企业名称": name, "行业": industry, "X坐标": f"{n:.3f}", "Y坐标": f"{e:.3f}"})
    p = tmp_path / "重点排污单位.csv"
    pd.DataFrame(rows).to_csv(p, index=False, encoding="gbk")
    return p


def _firms(tmp_path, path, *extra):
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli,
        [
            "firms",
            "--firms",
            str(path),
            "--builtup",
            "builtup_demonstration",
            "--format",
            "csv",
            "--out",
            str(out),
            *extra,
        ],
    )
    return res, out


def test_surveying_x_y_columns_are_refused_with_both_readings(tmp_path):
    res, out = _firms(tmp_path, _surveying_csv(tmp_path), "--crs", "gk38")
    assert res.exit_code == 2, res.output
    assert "columns X坐标 and Y坐标 do not say which holds the easting" in res.output
    assert "--field x=Y坐标 --field y=X坐标" in res.output
    assert "--field x=X坐标 --field y=Y坐标" in res.output
    assert not out.exists()


def test_surveying_table_read_with_field_x_y(tmp_path):
    res, out = _firms(
        tmp_path, _surveying_csv(tmp_path), "--crs", "gk38", "--field", "x=Y坐标", "--field",
        "y=X坐标",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "coordinates read from columns Y坐标 (x) and X坐标 (y)" in res.output
    table = pd.read_csv(out / "firm_zones.csv", encoding="utf-8-sig", dtype=str)
    assert table["zone"].tolist() == ["inside"] * 3
    assert table["nearest_area_id"].tolist() == [p[4] for p in PLACES]
    assert table["industry_id"].tolist() == ["steel", "coking", "cement"]


def test_surveying_table_read_the_wrong_way_round_is_refused(tmp_path):
    """X坐标 taken as the easting puts the points 4,000 km east: the swap check says so."""
    res, _ = _firms(
        tmp_path, _surveying_csv(tmp_path), "--crs", "gk38", "--field", "x=X坐标", "--field",
        "y=Y坐标",
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "easting and northing look swapped" in res.output


def test_one_coordinate_column_alone_is_refused(tmp_path):
    res, _ = _firms(tmp_path, _surveying_csv(tmp_path), "--crs", "gk38", "--field", "x=Y坐标")
    assert res.exit_code == 2, res.output
    assert "give both --field x=COLUMN and --field y=COLUMN" in res.output


def test_a_named_column_that_does_not_exist(tmp_path):
    res, _ = _firms(
        tmp_path, _surveying_csv(tmp_path), "--crs", "gk38", "--field", "x=东", "--field",
        "y=北",
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "coordinate column(s) ['东', '北'] not found" in res.output


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        ("经度（°）", "纬度（°）"),
        ("经度(E)", "纬度(N)"),
        ("中心经度", "中心纬度"),
        ("经度坐标", "纬度坐标"),
        ("Lon (WGS84)", "Lat (WGS84)"),
        (" 经 度 ", " 纬 度 "),
        ("中心点经度", "中心点纬度"),
        ("厂址经度", "厂址纬度"),
        ("经度：", "纬度："),
        ("经度/°", "纬度/°"),
        ("经度_E", "纬度_N"),
        ("百度经度", "百度纬度"),  # read as --crs bd09, which its name says (checked)
    ],
)
def test_coordinate_columns_with_units_and_prefixes(tmp_path, lon, lat):
    p = tmp_path / "t.csv"
    pd.DataFrame({"名称": ["太钢"], lon: ["112.55"], lat: ["37.87"]}).to_csv(p, index=False)
    raw = read_file(p, crs="bd09" if "百度" in lon else "cgcs2000")
    assert raw.frame.attrs["coordinate_columns"] == (lon, lat)
    assert (raw.frame.geometry[0].x, raw.frame.geometry[0].y) == (112.55, 37.87)
    assert f"coordinates read from columns {lon} (x) and {lat} (y)" in raw.notes


def test_plain_lon_lat_is_not_noted(tmp_path):
    p = tmp_path / "t.csv"
    pd.DataFrame({"name": ["太钢"], "lon": [112.55], "lat": [37.87]}).to_csv(p, index=False)
    assert not any("coordinates read from" in n for n in read_file(p, crs="cgcs2000").notes)


def test_header_with_units_is_found_below_a_title(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("太原市重点排污单位名录\n名称,经度（°）,纬度（°）\n太钢,112.55,37.87\n", "utf-8")
    raw = read_file(p, crs="cgcs2000")
    assert raw.frame["source_row"].tolist() == [3]
    assert raw.frame.geometry[0].x == 112.55


def test_coordinate_columns_named_for_a_file_with_geometry_are_refused(tmp_path):
    p = tmp_path / "p.geojson"
    p.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"X坐标": 1},
                        "geometry": {"type": "Point", "coordinates": [112.5, 37.8]},
                    }
                ],
            }
        ),
        "utf-8",
    )
    with pytest.raises(LayerError, match="a .geojson file has its own geometry"):
        read_file(p, x="X坐标", y="Y坐标")


def test_check_projects_table_with_field_x_y(tmp_path):
    """The site check reads a surveying table of project points the same way."""
    res = CliRunner().invoke(
        cli,
        [
            "check",
            "--projects",
            str(_surveying_csv(tmp_path)),
            "--crs",
            "gk38",
            "--field",
            "x=Y坐标",
            "--field",
            "y=X坐标",
            "--reports",
            "none",
            "--out",
            str(tmp_path / "o"),
        ],
    )  # the industries are the table's own 行业 (--industry would be refused over them)
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "o" / "site_check.json").read_text(encoding="utf-8"))
    projects = doc["projects"]
    assert [p["city"] for p in projects] == ["太原市", "临汾市", "长治市"]
    assert [p["builtup"]["zone"] for p in projects] == ["inside"] * 3
    assert [p["verdict"] for p in projects] == ["conflict"] * 3


# ----------------------------------------------------------------------------- blank rows
def _blank_row_xlsx(p):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for row in [
        ["重点排污单位名录"],
        [],
        ["企业名称", "行业", "经度", "纬度"],
        ["甲", "钢铁", 112.55, 37.87],
        [],
        ["乙", "焦化", "abc", 37.9],
        ["丙", "水泥", 113.05, 36.20],
    ]:
        ws.append(row)
    wb.save(p)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_blank_rows_keep_the_row_numbers_a_spreadsheet_shows(tmp_path, suffix):
    """A blank line of a CSV used to be dropped by the parser, so every row below it was
    numbered one too low: a reject named the wrong row. Blank rows are skipped with a note,
    and rows keep Excel's numbers (rows 1-2 a title, 3 the header, 5 blank)."""
    p = tmp_path / f"名录{suffix}"
    if suffix == ".csv":
        p.write_text(
            "重点排污单位名录\n\n企业名称,行业,经度,纬度\n甲,钢铁,112.55,37.87\n\n乙,焦化,abc,37.9\n"
            "丙,水泥,113.05,36.20\n\n",
            "utf-8",
        )
        blank = "blank rows skipped: 2 (row 5, 8)"
    else:
        _blank_row_xlsx(p)
        blank = "blank rows skipped: 1 (row 5)"
    res, out = _firms(tmp_path, p, "--crs", "cgcs2000")
    assert res.exit_code == 0, res.output
    assert blank in res.output
    assert "input rows 3 = screened 2 + rejected 1" in res.output
    table = pd.read_csv(out / "firm_zones.csv", encoding="utf-8-sig", dtype=str)
    assert table[["name", "source_row"]].values.tolist() == [["甲", "4"], ["丙", "7"]]
    rejects = pd.read_csv(out / "rejects.csv", encoding="utf-8-sig", dtype=str)
    assert rejects["source_row"].tolist() == ["6"]


def test_equipment_table_blank_rows_keep_row_numbers(tmp_path):
    from sxzones.analyses.phaseout import equipment_rules
    from sxzones.layers.equipment import read_equipment
    from sxzones.rules import load_rules

    p = tmp_path / "设备.csv"
    p.write_text(
        "设备编号,企业代码,设备类型,公称容量（吨）,状态\n"
        "E1,F1,转炉,120,在产\n\nE2,F1,转炉,80,在产\n,,,,\nE3,F2,转炉,200,在产\n",
        "utf-8",
    )
    frame, report = read_equipment(p, equipment_rules(load_rules()))
    assert frame["source_row"].tolist() == [2, 4, 6]
    assert "blank rows skipped: 2 (row 3, 5)" in report.notes


# ----------------------------------------------------------------------------- CRS in names
@pytest.mark.parametrize(
    ("lon", "declared", "refused"),
    [
        ("经度(高德)", "wgs84", "pass --crs gcj02"),
        ("经度(高德)", "bd09", "pass --crs gcj02"),
        ("经度(高德)", None, "none was given; the columns 经度(高德), 纬度(高德) name '高德'"),
        ("lng (BD09)", "gcj02", "pass --crs bd09"),
        ("经度(百度)", "cgcs2000", "pass --crs bd09"),
        ("经度(WGS84)", "gcj02", "pass --crs wgs84 or cgcs2000"),
        ("经度(高德)", "gcj02", None),
        ("经度(WGS84)", "cgcs2000", None),
        ("经度(CGCS2000)", "wgs84", None),
        ("经度(百度)", "bd09", None),
    ],
)
def test_column_names_that_say_the_crs(tmp_path, lon, declared, refused):
    """A column named 经度(高德) read as WGS84 puts every point 300-600 m off, without a
    word: the names are read, and a declared CRS they contradict is refused."""
    from sxzones.errors import CRSError

    lat = lon.replace("经度", "纬度").replace("lng", "lat")
    p = tmp_path / "t.csv"
    pd.DataFrame({"名称": ["太钢"], lon: ["112.5561"], lat: ["37.8712"]}).to_csv(p, index=False)
    if refused is None:
        assert read_file(p, crs=declared).frame.geometry[0].x == 112.5561
        return
    with pytest.raises(CRSError, match=re.escape(refused)):
        read_file(p, crs=declared)


# ----------------------------------------------------------------------------- WKT tables
IN_RL = "POLYGON ((112.41 38.11, 112.42 38.11, 112.42 38.12, 112.41 38.12, 112.41 38.11))"


@pytest.mark.parametrize("column", ["WKT", "geometry", "the_geom"])
def test_parcels_as_wkt_in_a_table(tmp_path, column):
    """QGIS's 'Save as CSV' with GEOMETRY=AS_WKT (and ArcGIS's tables) write the parcel as
    WKT in one column: read, a bad WKT rejected with its row, a blank line skipped."""
    p = tmp_path / "parcels.csv"
    p.write_text(
        f'{column},项目名称,行业\n"{IN_RL}",甲,光伏\n"POLYGON ((112.41 38.11, 112.42",乙,光伏\n\n'
        '"POINT (112.30 37.56)",丙,焦化\n',
        "utf-8",
    )
    res = CliRunner().invoke(
        cli,
        [
            "check", "--projects", str(p), "--crs", "cgcs2000", "--reports", "none",
            "--out", str(tmp_path / "o"),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert f"geometries read from the WKT column {column}" in res.output
    assert "input rows 3 = checked 2 + rejected 1" in res.output
    doc = json.loads((tmp_path / "o" / "site_check.json").read_text(encoding="utf-8"))
    got = {p["project_id"]: p for p in doc["projects"]}
    assert set(got) == {"2", "5"}
    assert [r["redline_id"] for r in got["2"]["redline"]] == ["RL140100"]
    assert got["5"]["verdict"] == "conflict" and got["5"]["city"] == "太原市"
    rejects = pd.read_csv(tmp_path / "o" / "rejects.csv", encoding="utf-8-sig", dtype=str)
    assert rejects[["source_row", "field", "reason"]].values.tolist() == [
        ["3", column, "WKT missing or not readable"]
    ]


def test_coordinate_columns_win_over_a_wkt_column(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text('名称,经度,纬度,WKT\n甲,112.55,37.87,"POINT (0 0)"\n', "utf-8")
    raw = read_file(p, crs="cgcs2000")
    assert raw.frame.attrs["coordinate_columns"] == ("经度", "纬度")


def test_a_workbook_whose_first_sheet_is_its_instructions(tmp_path):
    """填表说明 first, the list on the second sheet: the first sheet with coordinate columns
    is read, said as a note (it was 'no coordinate columns found; columns are [本表由...]')."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "填表说明"
    ws.append(["本表由各市生态环境局填报"])
    ws.append(["坐标采用 CGCS2000"])
    ws2 = wb.create_sheet("企业名录")
    ws2.append(["重点排污单位名录"])  # a title above the header as well
    ws2.append(["企业名称", "行业", "经度", "纬度"])
    ws2.append(["甲", "钢铁", 112.55, 37.87])
    wb.save(tmp_path / "名录.xlsx")
    raw = read_file(tmp_path / "名录.xlsx", crs="cgcs2000")
    assert raw.frame["source_row"].tolist() == [3]
    assert "sheet '企业名录' read (sheet 2): the first, '填表说明', has no coordinate columns" in (
        raw.notes
    )
    assert any(n.startswith("header read from row 2") for n in raw.notes)
    wb.remove(ws2)
    wb.save(tmp_path / "说明.xlsx")
    with pytest.raises(LayerError, match="no coordinate columns found"):
        read_file(tmp_path / "说明.xlsx", crs="cgcs2000")


# ----------------------------------------------------------------------------- one column
@pytest.mark.parametrize(
    ("column", "cells", "order"),
    [
        ("经纬度", ['"112.55,37.87"', '"112.30， 37.56"'], "longitude first"),  # Amap's picker
        ("坐标", ['"37.87, 112.55"', '"37.56,112.30"'], "latitude first"),  # Google Maps
        ("经纬度(高德)", ['"112.55 37.87"', '"112.30 37.56"'], "longitude first"),
    ],
)
def test_both_coordinates_in_one_column(tmp_path, column, cells, order):
    """'112.553456,37.871234' pasted from a map's coordinate picker into one column: read;
    latitude first (Google Maps) is told by the numbers' sizes (in China latitude < 54 <
    73 < longitude); 高德 in the name still needs --crs gcj02."""
    p = tmp_path / "f.csv"
    p.write_text(
        f"企业名称,行业,{column}\n甲,钢铁,{cells[0]}\n乙,焦化,{cells[1]}\n丙,水泥,abc\n", "utf-8"
    )
    crs = "gcj02" if "高德" in column else "cgcs2000"
    raw = read_file(p, crs=crs)
    assert any(n.startswith(f"coordinates read from column {column} ({order}") for n in raw.notes)
    pts = [(g.x, g.y) if g is not None else None for g in raw.frame.geometry]
    assert pts == [(112.55, 37.87), (112.30, 37.56), None]
    if "高德" in column:
        from sxzones.errors import CRSError

        with pytest.raises(CRSError, match="pass --crs gcj02"):
            read_file(p, crs="wgs84")
