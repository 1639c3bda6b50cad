"""Every reader, through real GDAL drivers, on small files the tests write themselves."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Geod

from sxzones.errors import CRSError, LayerError
from sxzones.layers import read_file, validate_layer

NAMES = ["太原钢铁", "晋城焦化"]


def _points(crs: str | int = 4490) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"fid_": ["a", "b"], "name": NAMES},
        geometry=[shapely.Point(112.5, 37.8), shapely.Point(112.8, 35.5)],
        crs=crs,
    )


def _gbk_shapefile(tmp_path: Path, keep_cpg: bool) -> Path:
    p = tmp_path / "firms.shp"
    pyogrio.write_dataframe(_points(), p, encoding="GBK")
    if not keep_cpg:
        p.with_suffix(".cpg").unlink()
    return p


def test_gbk_shapefile_without_cpg_reads_chinese(tmp_path):
    raw = read_file(_gbk_shapefile(tmp_path, keep_cpg=False))
    assert raw.frame["name"].tolist() == NAMES
    assert any("GB18030" in n for n in raw.notes)
    assert raw.spec.crs.to_epsg() == 4490


def test_gbk_shapefile_with_cpg_is_honoured(tmp_path):
    raw = read_file(_gbk_shapefile(tmp_path, keep_cpg=True))
    assert raw.frame["name"].tolist() == NAMES
    assert any(".cpg" in n for n in raw.notes)


def test_shapefile_encoding_override(tmp_path):
    p = _gbk_shapefile(tmp_path, keep_cpg=False)
    raw = read_file(p, encoding="GBK")
    assert raw.frame["name"].tolist() == NAMES
    with pytest.raises(LayerError, match="encoding"):
        read_file(p, encoding="UTF-8")


def test_shapefile_missing_a_part_is_refused(tmp_path):
    p = _gbk_shapefile(tmp_path, keep_cpg=True)
    p.with_suffix(".dbf").unlink()
    with pytest.raises(LayerError, match=r"missing its part\(s\) \.dbf"):
        read_file(p)


def test_geopackage_any_layer(tmp_path):
    p = tmp_path / "two.gpkg"
    pyogrio.write_dataframe(_points(), p, layer="first")
    pyogrio.write_dataframe(_points().iloc[:1], p, layer="second", append=True)
    assert len(read_file(p, layer="second").frame) == 1
    # several layers and none chosen: refused, each named with its type and count (the
    # first was once read without a word but a note)
    with pytest.raises(LayerError, match=r"2 layers: first \(Point, 2 features\), second "):
        read_file(p)


def test_geojson_declared_gcj02_overrides_implicit_wgs84(tmp_path):
    p = tmp_path / "amap.geojson"
    _points(4326).to_file(p, driver="GeoJSON")
    raw = read_file(p, crs="gcj02")
    assert raw.spec.obfuscation == "gcj02"
    g, _ = validate_layer(raw, "context", working_crs=4546, id_field=None)
    plain, _ = validate_layer(read_file(p), "context", working_crs=4546)
    shift = Geod(ellps="WGS84").inv(
        *g.to_crs(4326).geometry.iloc[0].coords[0], *plain.to_crs(4326).geometry.iloc[0].coords[0]
    )[2]
    assert 100 < shift < 1000  # the GCJ-02 offset was removed


def test_declared_crs_contradicting_the_file_is_an_error(tmp_path):
    p = tmp_path / "a.gpkg"
    _points().to_file(p)
    with pytest.raises(CRSError, match="declares EPSG:4490 .* but cgcs2000:cm111 was given"):
        read_file(p, crs="cm111")


def test_flatgeobuf_and_geoparquet(tmp_path):
    fgb = tmp_path / "a.fgb"
    pyogrio.write_dataframe(_points(), fgb, driver="FlatGeobuf")
    # FlatGeobuf stores features in spatial-index order
    assert sorted(read_file(fgb).frame["name"]) == sorted(NAMES)
    pq = tmp_path / "a.parquet"
    _points().to_parquet(pq)
    raw = read_file(pq)
    assert raw.frame["name"].tolist() == NAMES
    assert raw.spec.crs.to_epsg() == 4490


@pytest.mark.parametrize(
    ("header", "encoding"),
    [
        ("名称,经度,纬度", "gbk"),
        ("名称,东经,北纬", "utf-8-sig"),
        ("name,lon,lat", "utf-8"),
        ("name,Longitude,Latitude", "utf-8"),
        ("name,X,Y", "utf-8"),
    ],
)
def test_csv_coordinate_columns(tmp_path, header, encoding):
    p = tmp_path / "firms.csv"
    p.write_bytes(f"{header}\n太原钢铁,112.5,37.8\n晋城焦化,112.8,35.5\n".encode(encoding))
    raw = read_file(p, crs="wgs84")
    assert raw.frame.iloc[:, 1].tolist() == NAMES
    assert raw.frame.geometry.iloc[1].equals(shapely.Point(112.8, 35.5))


def test_csv_without_crs_is_refused(tmp_path):
    p = tmp_path / "firms.csv"
    p.write_text("name,lon,lat\na,112.5,37.8\n", encoding="utf-8")
    with pytest.raises(CRSError, match="declares no CRS and none was given.*--crs"):
        read_file(p)


def test_csv_without_coordinate_columns_names_the_columns(tmp_path):
    p = tmp_path / "firms.csv"
    p.write_text("name,east,north\na,1,2\n", encoding="utf-8")
    with pytest.raises(
        LayerError,
        match=r"no coordinate columns found; columns are \['name', "
        r"'east', 'north'\]",
    ):
        read_file(p, crs="wgs84")
    assert len(read_file(p, crs="cm111", x="east", y="north").frame) == 1


def test_xlsx_with_chinese_headers(tmp_path):
    p = tmp_path / "firms.xlsx"
    pd.DataFrame({"企业名称": NAMES, "东经": [112.5, 112.8], "北纬": [37.8, 35.5]}).to_excel(
        p, index=False
    )
    raw = read_file(p, crs="cgcs2000")
    assert raw.frame["企业名称"].tolist() == NAMES
    assert raw.frame.geometry.iloc[0].equals(shapely.Point(112.5, 37.8))


#: Longitudes as permit tables write them, and their value in decimal degrees.
DMS_LON = {
    "112°33′18″": 112 + 33 / 60 + 18 / 3600,
    "112°33'18\"": 112 + 33 / 60 + 18 / 3600,
    "112度33分18.36秒": 112 + 33 / 60 + 18.36 / 3600,
    "１１２．５５": 112.55,  # full-width digits
    "E112:33:18": 112 + 33 / 60 + 18 / 3600,
    "112°33.3′": 112 + 33.3 / 60,
    "东经112.555°": 112.555,
    "112.555E": 112.555,
}


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_degrees_minutes_seconds_are_read_and_bad_ones_rejected(tmp_path, suffix):
    """Chinese permit tables write 经度 as 112°33′18″ or 112度33分18秒: read exactly (they
    were rejected as 'not numbers'); minutes of 60 or more stay rejected, with their row."""
    lons = [*DMS_LON, "112°61′", "112°33′18″ 附近"]
    table = pd.DataFrame(
        {
            "企业名称": [f"f{i}" for i in range(len(lons))],
            "经度": lons,
            "纬度": ["37°48′N"] * len(lons),
        }
    )
    p = tmp_path / f"firms{suffix}"
    if suffix == ".csv":
        table.to_csv(p, index=False, encoding="gbk")
    else:
        table.to_excel(p, index=False)
    raw = read_file(p, crs="cgcs2000")
    x = raw.frame.geometry.x.to_numpy()
    assert x[: len(DMS_LON)].tolist() == pytest.approx(list(DMS_LON.values()), abs=1e-12)
    assert raw.frame.geometry.y.iloc[0] == pytest.approx(37.8, abs=1e-12)
    assert raw.frame.geometry.iloc[-2:].isna().all()
    _, rep = validate_layer(raw, "context", working_crs=4546)
    assert rep.n_loaded == len(DMS_LON)
    assert rep.rejects["source_row"].tolist() == [len(DMS_LON) + 2, len(DMS_LON) + 3]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_title_rows_above_the_header(tmp_path, suffix):
    """Agency lists put a title (and a blank row) above the header: the header is found, the
    rows keep the numbers a spreadsheet shows, and the title is said, not read as data."""
    rows = [
        ["太原市重点排污单位名录（2024年）", "", "", ""],
        ["", "", "", ""],
        ["单位名称", "行业", "经度", "纬度"],
        ["太钢", "钢铁", "112.55", "37.87"],
        ["某焦化", "焦化", "x", "37.7"],
    ]
    p = tmp_path / f"firms{suffix}"
    if suffix == ".csv":
        pd.DataFrame(rows).to_csv(p, index=False, header=False, encoding="gbk")
    else:
        pd.DataFrame(rows).replace("", None).to_excel(p, index=False, header=False)
    raw = read_file(p, crs="wgs84")
    assert raw.frame["单位名称"].tolist() == ["太钢", "某焦化"]
    assert raw.frame["source_row"].tolist() == [4, 5]
    said = (
        "header read from row 3 (an empty header cell takes the name above it); "
        "the row(s) above it are not data"
    )
    assert f"{said} (太原市重点排污单位名录（2024年）)" in raw.notes
    _, rep = validate_layer(raw, "context", working_crs=4546)
    assert rep.rejects["source_row"].tolist() == [5]
    assert any(said in str(f) for f in rep.findings)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_header_over_two_rows_with_merged_cells(tmp_path, suffix):
    """单位名称 and 行业 merged over two header rows, 坐标 over 经度 | 纬度: every column keeps
    its name (the lower row alone would leave three columns unnamed)."""
    rows = [
        ["晋中市涉气重点企业清单", None, None, None],
        ["单位名称", "行业", "坐标", None],
        [None, None, "经度", "纬度"],
        ["某焦化", "焦化", "112.6", "37.7"],
    ]
    p = tmp_path / f"firms{suffix}"
    if suffix == ".csv":
        pd.DataFrame(rows).fillna("").to_csv(p, index=False, header=False, encoding="gbk")
    else:
        import openpyxl

        wb = openpyxl.Workbook()
        for r in rows:
            wb.active.append(r)
        for cells in ("A1:D1", "A2:A3", "B2:B3", "C2:D2"):
            wb.active.merge_cells(cells)
        wb.save(p)
    raw = read_file(p, crs="wgs84")
    assert list(raw.frame.columns[1:5]) == ["单位名称", "行业", "经度", "纬度"]
    assert raw.frame["source_row"].tolist() == [4]
    assert raw.frame.geometry.iloc[0].equals(shapely.Point(112.6, 37.7))


def test_old_excel_xls_with_a_title_row(tmp_path):
    """An Excel 97-2003 .xls (agencies still send them) with a title row and GB codes: read
    as an .xlsx is, with the rows a spreadsheet shows."""
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("企业")
    rows = [
        ["太原市重点排污单位名录"],
        ["统一社会信用代码", "企业名称", "行业代码", "经度", "纬度"],
        ["911401001100000001", "太钢", 3110, 112.55, 37.87],
        ["911401001100000002", "某焦化", 2521, "112°36′", 37.7],
    ]
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            sheet.write(i, j, v)
    p = tmp_path / "firms.xls"
    book.save(str(p))
    raw = read_file(p, crs="wgs84")
    assert raw.frame["企业名称"].tolist() == ["太钢", "某焦化"]
    assert raw.frame["统一社会信用代码"].tolist() == ["911401001100000001", "911401001100000002"]
    assert raw.frame["source_row"].tolist() == [3, 4]
    assert raw.frame.geometry.x.tolist() == pytest.approx([112.55, 112.6], abs=1e-12)


@pytest.mark.parametrize(
    ("name", "encoding", "note"),
    [
        ("unicode.csv", "utf-16", "text read as UTF-16 (it begins with a UTF-16 byte-order mark)"),
        ("unicode.tsv", "utf-16", "text read as UTF-16 (it begins with a UTF-16 byte-order mark)"),
        ("tabs.csv", "gbk", "columns separated by tabs"),
    ],
)
def test_excel_unicode_text_and_tabs_in_a_csv(tmp_path, name, encoding, note):
    """Excel's "Unicode text" export is UTF-16 with tabs (users rename it .csv), and GBK files
    separated by tabs come named .csv: both read, and said; they were refused ("neither UTF-8
    nor GB18030", or one column named 企业名称\t行业\t经度\t纬度)."""
    p = tmp_path / name
    text = "企业名称\t行业\t经度\t纬度\r\n太钢\t钢铁\t112.55\t37.87\r\n某焦化\t焦化\t\t37.7\r\n"
    p.write_bytes(text.encode(encoding))
    raw = read_file(p, crs="wgs84")
    assert raw.frame["企业名称"].tolist() == ["太钢", "某焦化"]
    assert raw.frame.geometry.iloc[0].equals(shapely.Point(112.55, 37.87))
    assert raw.frame.geometry.iloc[1] is None
    assert note in raw.notes
    _, rep = validate_layer(raw, "context", working_crs=4546)
    assert rep.rejects["source_row"].tolist() == [3]
    assert note in [f.message for f in rep.findings if f.code == "read_as"]  # printed, too


def test_no_coordinate_header_anywhere_names_row_one(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("名录,备注\n名称,地址\n太钢,太原\n", encoding="utf-8")
    with pytest.raises(
        LayerError, match=r"no coordinate columns found; columns are \['名录', '备注'\]"
    ):
        read_file(p, crs="wgs84")


def test_jzd_file_two_parcels_zone_prefixed(jzd_file):
    raw = read_file(jzd_file)
    assert raw.spec.crs.to_epsg() == 4526  # CGCS2000 GK zone 38, zone-prefixed
    f = raw.frame
    assert f["parcel_id"].tolist() == ["P-001", "P-002"]
    assert f["name"].tolist() == ["甲地块", "乙地块"]
    assert f.geometry.area.tolist() == pytest.approx([9600.0, 20000.0])
    assert len(f.geometry.iloc[0].interiors) == 1
    # X is the northing and Y the easting: the first vertex is (easting, northing)
    assert f.geometry.iloc[0].exterior.coords[0] == (38512000.0, 4192000.0)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-8-sig"])
def test_jzd_file_saved_as_unicode(jzd_file, tmp_path, encoding):
    """The same 界址点 file saved by Notepad as "Unicode" (UTF-16 with its byte-order mark)
    or UTF-8 with BOM reads as the GBK one; UTF-16 was "neither UTF-8 nor GB18030"."""
    from .conftest import JZD_TWO_PARCELS

    p = tmp_path / "unicode.txt"
    bom = b"\xff\xfe" if encoding == "utf-16-le" else b""
    p.write_bytes(bom + JZD_TWO_PARCELS.encode(encoding))
    raw, ref = read_file(p), read_file(jzd_file)
    assert raw.frame["name"].tolist() == ["甲地块", "乙地块"]
    assert raw.frame.geometry.geom_equals(ref.frame.geometry).all()


def test_jzd_area_on_the_ellipsoid(jzd_file, work_crs):
    g, _ = validate_layer(
        read_file(jzd_file), "projects", working_crs=work_crs, fields={"project_id": "parcel_id"}
    )
    geod = Geod(ellps="GRS80")
    # pyproj sums signed ring areas: orient (exterior counter-clockwise, holes clockwise) first
    oriented = shapely.orient_polygons(g.to_crs(4490).geometry.to_numpy())
    areas = [geod.geometry_area_perimeter(p)[0] for p in oriented]
    # GK zone 38 at 114E is conformal; at 512 km easting the scale is 1.00016: areas agree to 0.05%
    assert areas == pytest.approx([9600.0, 20000.0], rel=5e-4)


def test_malformed_jzd_line_is_named(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("[地块坐标]\n4,1,P,x,面,,,,@\nJ1,1,abc,38512000\n", encoding="utf-8")
    with pytest.raises(LayerError, match="line 3: X and Y must be numbers"):
        read_file(p)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("empty.geojson", b"", "empty"),
        (
            "trunc.geojson",
            b'{"type": "FeatureCollection", "features": [{"type": "Fea',
            "cannot be read",
        ),
        ("fake.gpkg", b"this is not a geopackage at all", "cannot be read as GPKG"),
        ("none.geojson", b'{"type": "FeatureCollection", "features": []}', "holds no features"),
        ("a.dwg", b"AC1015", "unknown file type"),
        ("notes.txt", b"just notes", "not a 界址点 file"),
    ],
)
def test_unreadable_files_are_refused_whole(tmp_path, name, content, match):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(LayerError, match=match):
        read_file(p, crs="wgs84")


def test_missing_file(tmp_path):
    with pytest.raises(LayerError, match="no such file"):
        read_file(tmp_path / "nope.gpkg")
