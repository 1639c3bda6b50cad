"""Tables shaped as agencies keep them, each once read wrong without a word: coordinates split
into degree, minute and second columns (only the degrees were read: 太钢 130 km away), two
pairs of coordinate columns (the plain pair read as the declared BD-09), an ``industry``
column beside ``行业`` (``other`` won), one sheet per city (only the first sheet was counted),
a GeoPackage with a reference point beside the parcel (the point was checked)."""

from __future__ import annotations

import json
import math

import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from geopandas import GeoDataFrame

from sxzones.cli import cli
from sxzones.errors import LayerError
from sxzones.layers import read_file, validate_layer


def _firms(tmp_path, path, *extra):
    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli,
        [
            "firms", "--firms", str(path), "--crs", "wgs84", "--builtup", "builtup_demonstration",
            "--format", "csv", "--out", str(out), *extra,
        ],
    )  # fmt: skip
    return res, out / "firm_zones.csv"


# 太钢 at 112°33′00″ E, 37°52′12″ N lies inside 太原市建成区; 112 E, 37 N read as degrees lies
# near 介休, 130 km away.
DMS_ROWS = [["F1", "太原钢厂", "钢铁", 112, 33, 0, 37, 52, 12]]


def test_dms_columns_named_with_their_units(tmp_path):
    p = tmp_path / "dms.csv"
    p.write_text(
        "企业编号,企业名称,行业,经度(度),经度(分),经度(秒),纬度(度),纬度(分),纬度(秒)\n"
        "F1,太原钢厂,钢铁,112,33,0,37,52,12\nF2,坏分,钢铁,112,75,0,37,52,12\n",
        "utf-8",
    )
    raw = read_file(p, crs="wgs84")
    first = raw.frame.geometry.iloc[0]
    assert (first.x, first.y) == pytest.approx((112.55, 37 + 52 / 60 + 12 / 3600), abs=1e-12)
    assert raw.frame.geometry.iloc[1] is None  # 75 minutes
    assert any("degrees, minutes and seconds combined" in n for n in raw.notes)
    res, csv = _firms(tmp_path, p)
    assert res.exit_code == 0, res.output
    t = pd.read_csv(csv, encoding="utf-8-sig", dtype=str)
    assert t.loc[0, "zone"] == "inside"
    assert t.loc[0, "nearest_area_name"] == "太原市建成区"
    rejects = pd.read_csv(csv.with_name("rejects.csv"), encoding="utf-8-sig", dtype=str)
    assert rejects["source_row"].tolist() == ["3"]  # 75 minutes: rejected with its row


def test_dms_under_a_merged_two_row_header(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["企业编号", "企业名称", "行业", "经度", None, None, "纬度", None, None])
    ws.append([None, None, None, "度", "分", "秒", "度", "分", "秒"])
    for r in DMS_ROWS:
        ws.append(r)
    ws.merge_cells("D1:F1")
    ws.merge_cells("G1:I1")
    p = tmp_path / "dms.xlsx"
    wb.save(p)
    res, csv = _firms(tmp_path, p)
    assert res.exit_code == 0, res.output
    assert "header read from rows 1 and 2" in res.output
    t = pd.read_csv(csv, encoding="utf-8-sig", dtype=str)
    assert t.loc[0, "zone"] == "inside"
    assert t.loc[0, "source_row"] == "3"  # the row Excel shows


def test_two_pairs_of_coordinate_columns_are_refused(tmp_path):
    p = tmp_path / "two.csv"
    p.write_text(
        "企业编号,行业,百度经度,百度纬度,经度,纬度\nF1,钢铁,112.561,37.876,112.55,37.87\n", "utf-8"
    )
    res, _ = _firms(tmp_path, p)
    assert res.exit_code == 2
    assert (
        "more than one pair of coordinate columns: 百度经度, 百度纬度 and 经度, 纬度" in res.output
    )
    res, _ = _firms(tmp_path, p, "--field", "x=经度", "--field", "y=纬度", "--overwrite")
    assert res.exit_code == 0, res.output
    # alone, a pair named with its source is read, and its CRS word checked against --crs
    q = tmp_path / "bd.csv"
    q.write_text("企业编号,行业,百度经度,百度纬度\nF1,钢铁,112.561,37.876\n", "utf-8")
    res, _ = _firms(tmp_path, q, "--overwrite")
    assert res.exit_code == 2
    assert "name '百度'" in res.output and "--crs bd09" in res.output


def test_industry_beside_hangye_is_refused_unless_chosen(tmp_path):
    p = tmp_path / "both.csv"
    p.write_text(
        "企业编号,行业,industry,经度,纬度\nF1,焦化,other,112.2,38.3\nF2,钢铁,钢铁,112.2,38.3\n",
        "utf-8",
    )
    res, _ = _firms(tmp_path, p)
    assert res.exit_code == 2
    assert "columns 'industry' and '行业' both name the industry and differ (1 rows; row 2" in (
        res.output
    )
    res, csv = _firms(tmp_path, p, "--field", "industry=行业", "--overwrite")
    assert res.exit_code == 0, res.output
    t = pd.read_csv(csv, encoding="utf-8-sig", dtype=str)
    assert t["industry_id"].tolist() == ["coking", "steel"]
    assert t["input_industry"].tolist() == ["other", "钢铁"]  # the other column is kept


def test_one_sheet_per_city(tmp_path):
    p = tmp_path / "cities.xlsx"
    with pd.ExcelWriter(p) as xw:
        for sheet, rows in (
            ("太原市", [["T1", "钢铁", 112.55, 37.87]]),
            ("大同市", [["D1", "焦化", 113.3, 40.08]]),
        ):
            pd.DataFrame(rows, columns=["企业编号", "行业", "经度", "纬度"]).to_excel(
                xw, sheet_name=sheet, index=False
            )  # fmt: skip
    res, _ = _firms(tmp_path, p)
    assert res.exit_code == 2
    assert "2 sheets have coordinate columns (太原市, 大同市)" in res.output
    res, csv = _firms(tmp_path, p, "--layer", "大同市", "--overwrite")
    assert res.exit_code == 0, res.output
    t = pd.read_csv(csv, encoding="utf-8-sig", dtype=str)
    assert t["firm_id"].tolist() == ["D1"]


def test_geopackage_with_a_point_beside_the_parcel(tmp_path):
    p = tmp_path / "two.gpkg"
    pt = GeoDataFrame({"name": ["mark"]}, geometry=[shapely.Point(112.55, 37.87)], crs=4490)
    parcel = GeoDataFrame(
        {"project_id": ["P1"]}, geometry=[shapely.box(112.54, 37.86, 112.56, 37.88)], crs=4490
    )
    pyogrio.write_dataframe(pt, p, layer="mark")
    pyogrio.write_dataframe(parcel, p, layer="parcels", append=True)
    with pytest.raises(LayerError, match=r"mark \(Point, 1 features\), parcels \(Polygon"):
        read_file(p)
    res = CliRunner().invoke(
        cli,
        [
            "check", "--project", str(p), "--layer", "parcels", "--industry", "coking",
            "--reports", "none", "--out", str(tmp_path / "o"),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "o" / "site_check.json").read_text("utf-8"))
    assert doc["projects"][0]["area_m2"] > 3_000_000  # the parcel, not the point


def _candidates(tmp_path, rows):
    """Subsidence or landfill candidates near Taiyuan, 500 m squares 2 km apart (CGCS2000)."""
    feats = []
    for k, props in enumerate(rows):
        x0, y0 = 112.495, 38.0 + 0.02 * k
        ring = [[x0, y0], [x0 + 0.005, y0], [x0 + 0.005, y0 + 0.005], [x0, y0 + 0.005], [x0, y0]]
        feats.append(
            {"type": "Feature", "properties": {"地块编号": f"S{k}", **props},
             "geometry": {"type": "Polygon", "coordinates": [ring]}}
        )  # fmt: skip
    p = tmp_path / "cands.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    return p


def test_candidate_state_as_tables_write_it(tmp_path):
    """是/已稳沉/未稳沉 and 2019年 are read (``2019年`` crashed the screen with a traceback, ``是``
    scored as still settling); a blank is unknown; another value is unknown with a note
    naming its row (it rejected the row, and the candidate's land left the totals, for a
    value that only feeds the score)."""
    p = _candidates(
        tmp_path,
        [
            {"地块类型": "采煤沉陷区", "是否稳沉": "是"},
            {"地块类型": "采煤沉陷区", "是否稳沉": "已稳沉"},
            {"地块类型": "采煤沉陷区", "是否稳沉": "未稳沉"},
            {"地块类型": "采煤沉陷区", "是否稳沉": ""},
            {"地块类型": "采煤沉陷区", "是否稳沉": "也许"},
            {"地块类型": "已封场垃圾填埋场", "封场时间": "2019年6月"},
            {"地块类型": "已封场垃圾填埋场", "封场时间": "去年"},
        ],
    )
    got, report = validate_layer(read_file(p), "candidates", working_crs=4546)
    assert got["settled"].tolist()[:4] == [True, True, False, None]
    assert got["closure_year"].tolist()[-2] == 2019  # [-1] while the row after it was rejected
    assert got["settled"].tolist()[4] is None and got["closure_year"].tolist()[-1] is None
    assert len(report.rejects) == 0 and len(got) == 7
    notes = [str(f) for f in report.findings if f.code == "state_read"]
    assert "'是否稳沉' value(s) ['也许'] read as unknown" in notes[0] and "feature 5" in notes[0]
    assert "'封场时间' value(s) ['去年'] read as unknown" in notes[1] and "feature 7" in notes[1]

    from sxzones.analyses.siting import _status_component

    scores = {"status_scores": {"subsidence_settled": 1.0, "subsidence_settling": 0.4}}
    assert _status_component("subsidence", True, None, scores, 2026) == 1.0
    assert _status_component("subsidence", False, None, scores, 2026) == 0.4
    assert math.isnan(_status_component("subsidence", None, None, scores, 2026))  # unknown


def test_overwrite_never_replaces_an_input(tmp_path):
    """A firm list saved as ``firm_zones.csv`` in the --out folder, run again with
    --overwrite, was replaced by the screen of itself; so was a --rejects path naming the
    file validated."""
    p = tmp_path / "firm_zones.csv"
    text = "企业编号,行业,经度,纬度\nF1,钢铁,112.55,37.87\n"
    p.write_text(text, "utf-8")
    res = CliRunner().invoke(
        cli,
        [
            "firms", "--firms", str(p), "--crs", "wgs84", "--builtup", "builtup_demonstration",
            "--out", str(tmp_path), "--overwrite",
        ],
    )  # fmt: skip
    assert res.exit_code == 2
    assert "would replace the run's input" in res.output
    assert p.read_text("utf-8") == text
    res = CliRunner().invoke(
        cli,
        [
            "layers", "validate", str(p), "--role", "firms", "--crs", "wgs84",
            "--rejects", str(p), "--overwrite",
        ],
    )  # fmt: skip
    assert res.exit_code == 2
    assert p.read_text("utf-8") == text


def test_geopackage_output_takes_fid_and_case_twins(tmp_path):
    """ArcGIS exports carry ``FID``; merged exports ``name`` and ``Name``: the GeoPackage
    writer failed on both, blamed a full disk, and no output was written."""
    p = tmp_path / "fid.csv"
    p.write_text("FID,企业编号,name,Name,行业,经度,纬度\n0,F1,a,A,钢铁,112.55,37.87\n", "utf-8")
    res = CliRunner().invoke(
        cli,
        [
            "firms", "--firms", str(p), "--crs", "wgs84", "--builtup", "builtup_demonstration",
            "--format", "csv,gpkg", "--out", str(tmp_path / "o"),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    g = pyogrio.read_dataframe(tmp_path / "o" / "firm_zones.gpkg")
    assert {"input_FID", "Name_2"} <= set(g.columns)
    assert g.loc[0, "Name_2"] == "A"
    t = pd.read_csv(tmp_path / "o" / "firm_zones.csv", encoding="utf-8-sig", dtype=str)
    assert {"FID", "Name"} <= set(t.columns)  # the CSV keeps the names


def test_xlsx_cells_fit_excel(tmp_path):
    """A 40,000-character name was written whole into the workbook, which Excel then
    "repaired" by dropping content; it is cut with a mark, the CSV keeps it whole."""
    import openpyxl

    from sxzones.xlsx import CELL_MAX_CHARS, TRUNCATED

    p = tmp_path / "long.csv"
    p.write_text(
        f"企业编号,企业名称,行业,经度,纬度\nF1,{'长' * 40_000},钢铁,112.55,37.87\n", "utf-8"
    )
    res, csv = _firms(tmp_path, p, "--format", "csv,xlsx")
    assert res.exit_code == 0, res.output
    ws = openpyxl.load_workbook(csv.with_suffix(".xlsx"), read_only=True)["inside"]
    cells = [c for row in ws.iter_rows(values_only=True) for c in row if isinstance(c, str)]
    long = next(c for c in cells if c.startswith("长长"))
    assert len(long) <= CELL_MAX_CHARS and long.endswith(TRUNCATED)
    t = pd.read_csv(csv, encoding="utf-8-sig", dtype=str)
    assert len(t.loc[0, "name"]) == 40_000


JZD = """[属性描述]
坐标系=2000国家大地坐标系
几度分带=3
带号=37
[地块坐标]
{n},249.4644,A001,甲地块,面,,工业用地,,@
{rings}
"""


def _square(label, ring, n0, e0, side):
    pts = [(n0, e0), (n0 + side, e0), (n0 + side, e0 - side), (n0, e0 - side), (n0, e0)]
    return [f"{label}{k},{ring},{n:.3f},{e:.3f}" for k, (n, e) in enumerate(pts)]


@pytest.mark.parametrize("hole_first", [False, True])
def test_jzd_hole_numbered_before_its_outer_ring(tmp_path, hole_first):
    """A hole written as 圈号 1 and its outer ring as 圈号 2 was refused as "empty once
    repaired"; containment, not the number, says which ring is the hole."""
    outer = _square("J", 2 if hole_first else 1, 4214500.0, 37630800.0, 2000.0)
    hole = _square("K", 1 if hole_first else 2, 4215000.0, 37630400.0, 1000.0)
    lines = hole + outer if hole_first else outer + hole
    p = tmp_path / "parcel.txt"
    p.write_text(JZD.format(n=len(lines), rings="\n".join(lines)), "utf-8")
    raw = read_file(p)
    g = raw.frame.geometry.iloc[0]
    assert g.geom_type == "Polygon" and len(g.interiors) == 1
    assert g.area == pytest.approx(2000.0**2 - 1000.0**2)


def test_jzd_zone_in_the_header_eastings_without_it(tmp_path):
    """带号=37 with eastings written without the 37: refused, and the fix it offered
    (--crs cm111) was refused too; the same parcel as with the prefix."""
    areas = []
    for shift in (0.0, 37e6):
        lines = [
            ln.rsplit(",", 1)[0] + f",{float(ln.rsplit(',', 1)[1]) - shift:.3f}"
            for ln in _square("J", 1, 4214500.0, 37630800.0, 2000.0)
        ]
        p = tmp_path / f"p{int(shift)}.txt"
        p.write_text(JZD.format(n=len(lines), rings="\n".join(lines)), "utf-8")
        raw = read_file(p)
        g, _ = validate_layer(raw, "projects", working_crs=4546)
        areas.append(g.geometry.iloc[0])
    assert areas[0].equals_exact(areas[1], 1e-6)
    assert any("带号=37 with eastings that do not carry it" in n for n in raw.notes)


def test_gauss_kruger_table_across_zones_37_and_38(tmp_path):
    """Shanxi straddles zones 37 and 38: a province's table of prefixed eastings has both.
    Rows of the other zone were rejected whichever zone was declared; each is now read in
    the zone its prefix names: the same zones as in degrees, distances within a rounding step."""
    from pyproj import Transformer

    pts = [("F1", 112.55, 37.87), ("F2", 112.2, 38.3), ("F3", 113.5, 36.2)]
    rows = []
    for fid, lon, lat in pts:
        zone = 38 if lon >= 112.5 else 37
        t = Transformer.from_crs(4490, 4525 + zone - 37, always_xy=True)
        e, n = t.transform(lon, lat)
        rows.append(f"{fid},钢铁,{e:.3f},{n:.3f},{lon},{lat}")
    p = tmp_path / "gk.csv"
    p.write_text("企业编号,行业,东坐标,北坐标,lon,lat\n" + "\n".join(rows) + "\n", "utf-8")
    out = {}
    for crs, xy in (
        ("gk37", ("东坐标", "北坐标")),
        ("gk38", ("东坐标", "北坐标")),
        ("cgcs2000", ("lon", "lat")),
    ):
        res = CliRunner().invoke(
            cli,
            [
                "firms", "--firms", str(p), "--crs", crs, "--field", f"x={xy[0]}",
                "--field", f"y={xy[1]}", "--builtup", "builtup_demonstration", "--format", "csv",
                "--out", str(tmp_path / crs),
            ],
        )  # fmt: skip
        assert res.exit_code == 0, res.output
        if crs != "cgcs2000":
            assert "carry zone" in res.output
        out[crs] = pd.read_csv(tmp_path / crs / "firm_zones.csv", encoding="utf-8-sig")
    for crs in ("gk37", "gk38"):
        assert out[crs]["zone"].tolist() == out["cgcs2000"]["zone"].tolist()
        diff = (out[crs]["distance_m"] - out["cgcs2000"]["distance_m"]).abs().max()
        assert diff < 0.015  # distances are written to the cm: one rounding step at most


def test_removed_by_reason_says_when_overlaps_count_twice(tmp_path):
    """Two candidates on the same land: the printed removed areas are sums over candidates,
    beside totals over their union; the line now says so (it read as if it were a union)."""
    p = _candidates(tmp_path, [{"地块类型": "废弃矿山"}])
    doc = json.loads(p.read_text("utf-8"))
    twin = json.loads(json.dumps(doc["features"][0]))
    twin["properties"]["地块编号"] = "S1"
    doc["features"].append(twin)
    p.write_text(json.dumps(doc), "utf-8")
    res = CliRunner().invoke(
        cli,
        ["sites", "--candidates", str(p), "--tech", "pv", "--out", str(tmp_path / "o")],
    )
    assert res.exit_code == 0, res.output
    assert "overlapping candidates: 1 pair(s)" in res.output
    assert "removed by reason (km², summed over the candidates: land where they overlap" in (
        res.output
    )


def test_geojson_crs_member_is_a_declaration(tmp_path):
    """A GeoJSON naming EPSG:4490 in its crs member, read with --crs gcj02, was moved by the
    GCJ offset without a word (a .prj is not overridden so); WGS84 members stay open to
    GCJ-02, which apps write into such files."""
    feat = {"type": "Feature", "properties": {"project_id": "P1"},
            "geometry": {"type": "Point", "coordinates": [112.55, 37.87]}}  # fmt: skip
    for name, member in (
        ("cgcs", "urn:ogc:def:crs:EPSG::4490"),
        ("crs84", "urn:ogc:def:crs:OGC:1.3:CRS84"),
    ):
        doc = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": member}},
               "features": [feat]}  # fmt: skip
        p = tmp_path / f"{name}.geojson"
        p.write_text(json.dumps(doc), "utf-8")
        if name == "cgcs":
            with pytest.raises(Exception, match=r"declares EPSG:4490 .* but gcj02 was given"):
                read_file(p, crs="gcj02")
            assert read_file(p, crs="cgcs2000").spec.crs.to_epsg() == 4490
        else:
            assert read_file(p, crs="gcj02").spec.obfuscation == "gcj02"


KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Folder><name>我的地点</name>{body}
</Folder></Document></kml>"""
PLACEMARK = """<Placemark><name>项目红线</name><Polygon><outerBoundaryIs><LinearRing><coordinates>
112.49,38.05,0 112.49,38.07,0 112.47,38.07,0 112.47,38.05,0 112.49,38.05,0
</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>"""
OVERLAY = """<GroundOverlay><name>红线图扫描件</name><Icon><href>scan.jpg</href></Icon>
<LatLonBox><north>38.1</north><south>38.0</south><east>112.5</east><west>112.4</west></LatLonBox>
</GroundOverlay>"""


def test_kml_image_overlays_are_no_parcels(tmp_path):
    """A scanned drawing laid on the globe (GroundOverlay) came back as its footprint: one
    became a 9,814 km² project with a verdict; a KML without placemarks crashed."""
    p = tmp_path / "p.kml"
    p.write_text(KML.format(body=PLACEMARK + OVERLAY), "utf-8")
    raw = read_file(p)
    assert len(raw.frame) == 1 and raw.frame.loc[0, "Name"] == "项目红线"
    assert "KML: 1 image overlay(s) (GroundOverlay) left out" in raw.notes
    q = tmp_path / "empty.kml"
    q.write_text(KML.format(body=""), "utf-8")
    with pytest.raises(LayerError, match="holds no features"):
        read_file(q)


def test_project_kind_column_and_default(tmp_path):
    """A kind column headed 项目性质 was not read: a 产能置换 (capacity replacement) coking
    project, which clause 五 exempts, came out in conflict as if 新建, without a word."""
    p = tmp_path / "p.csv"
    p.write_text("项目编号,行业,项目性质,经度,纬度\nP1,焦化,产能置换,112.484,38.06\n", "utf-8")
    args = ["check", "--crs", "cgcs2000", "--reports", "none", "--out", str(tmp_path / "o")]
    res = CliRunner().invoke(cli, [*args, "--projects", str(p), "--industry-field", "行业"])
    assert res.exit_code == 0, res.output
    assert "field 项目性质 read as kind" in res.output
    doc = json.loads((tmp_path / "o" / "site_check.json").read_text("utf-8"))
    assert "site_taiyuan_region_ban" not in {r["id"] for r in doc["projects"][0]["rules"]}
    res = CliRunner().invoke(
        cli, [*args, "--project", "112.484,38.06", "--industry", "焦化", "--overwrite"]
    )
    assert "no project kind given: every project is checked as new (新建)" in res.output


def test_phaseout_joins_credit_codes_written_otherwise(tmp_path):
    """An equipment table typed apart from the firm list writes the 统一社会信用代码 in lower
    case or full width: those ovens lost their firm's 20 km finding without a word."""
    code = "91140100MA0GR12345"
    e = tmp_path / "equip.csv"
    e.write_text(
        "设备编号,企业代码,设备类型,炭化室高度（米）,产能（万吨/年）,状态,投产时间\n"
        f"E1,{code.lower()},焦炉,4.3,60,在产,2008\nE2, {code} ,焦炉,4.3,60,在产,2008\n"
        "E3,９１１４０１００ＭＡ０ＧＲ１２３４５,焦炉,4.3,60,在产,2008\n"
        "E4,91140100MA0GR99999,焦炉,4.3,60,在产,2008\n",
        "utf-8",
    )
    f = tmp_path / "firms.csv"
    f.write_text(
        f"统一社会信用代码,企业名称,行业,经度,纬度\n{code},甲焦化,焦化,112.2,38.3\n", "utf-8"
    )
    res = CliRunner().invoke(
        cli,
        [
            "phaseout", "--equipment", str(e), "--firms", str(f), "--crs", "wgs84",
            "--builtup", "builtup_demonstration", "--out", str(tmp_path / "o"),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "warning: 1 unit(s) whose firm is not in --firms (E4)" in res.output
    t = pd.read_csv(tmp_path / "o" / "phaseout.csv", encoding="utf-8-sig", dtype=str)
    assert t.set_index("unit_id")["firm_found"].to_dict() == {
        "E1": "yes", "E2": "yes", "E3": "yes", "E4": "no"
    }  # fmt: skip


def test_industry_merged_down_a_group_of_firms(tmp_path):
    """Agency lists grouped by industry merge 行业 down the group: only the first firm had a
    value, the others were rejected as 'industry empty' although Excel shows it."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "名单"
    ws.append(["行业", "企业编号", "经度", "纬度"])
    for fid in ("K1", "K2", "K3"):
        ws.append(["焦化" if fid == "K1" else None, fid, 112.2, 38.3])
    ws.merge_cells("A2:A4")
    ws.merge_cells("C1:C1")  # a one-cell "merge", as some tools write
    p = tmp_path / "grouped.xlsx"
    wb.save(p)
    res, csv = _firms(tmp_path, p)
    assert res.exit_code == 0, res.output
    assert "cells merged down a column filled with their value: 2 cell(s)" in res.output
    t = pd.read_csv(csv, encoding="utf-8-sig", dtype=str)
    assert t["industry_id"].tolist() == ["coking"] * 3


def test_excel_unicode_text_export_is_a_table(tmp_path):
    """Excel's "Unicode text" save is always a .txt (UTF-16, tabs): it was refused as not a
    界址点 file, though the README promises the export."""
    p = tmp_path / "名单.txt"
    p.write_text("企业编号\t行业\t经度\t纬度\r\nF1\t钢铁\t112.55\t37.87\r\n", "utf-16")
    res, csv = _firms(tmp_path, p)
    assert res.exit_code == 0, res.output
    t = pd.read_csv(csv, encoding="utf-8-sig", dtype=str)
    assert t.loc[0, "zone"] == "inside" and t.loc[0, "source_row"] == "2"


def test_a_parcel_sharing_a_red_line_boundary_occupies_none_of_it(tmp_path):
    """Parcels cut from the same base map share the red line's edge exactly: such a parcel
    (0.00 m² inside) came out in conflict. It is listed as touching, and fires no rule; a
    parcel 2 cm into the red line still conflicts, as does a point inside it."""
    import geopandas as gpd
    import shapely

    from sxzones.layers import load_catalog

    from .conftest import CATALOG

    cat = load_catalog(CATALOG)
    rl, _ = cat.load("redline_demonstration")
    red = rl.loc[rl["redline_id"] == "RL140100"].geometry.iloc[0]  # working CRS (metres)
    ring = red.geoms[0].exterior if red.geom_type == "MultiPolygon" else red.exterior
    c = ring.interpolate(0.3, normalized=True)  # on the red line's edge
    box = shapely.box(c.x - 500, c.y - 500, c.x + 500, c.y + 500)
    touch = box.difference(red)
    sliver = touch.buffer(0.02).intersection(box)
    assert touch.area > 0 and red.intersection(touch).area < 1e-6
    frame = gpd.GeoDataFrame(
        {"project_id": ["TOUCH", "SLIVER"]}, geometry=[touch, sliver], crs=rl.crs
    )
    p = tmp_path / "touch.gpkg"
    frame.to_file(p)
    res = CliRunner().invoke(
        cli,
        [
            "check", "--projects", str(p), "--industry", "pv", "--reports", "none",
            "--out", str(tmp_path / "o"),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "o" / "site_check.json").read_text("utf-8"))
    got = {d["project_id"]: d for d in doc["projects"]}
    t = got["TOUCH"]
    assert "RL140100" in [r["redline_id"] for r in t["redline"]]  # listed as touching
    assert [r["overlap_m2"] for r in t["redline"] if r["redline_id"] == "RL140100"] == [0.0]
    assert "site_redline" not in {r["id"] for r in t["rules"]}
    assert "site_redline" in {r["id"] for r in got["SLIVER"]["rules"]}


def test_a_list_mixing_utf8_and_gbk_lines_is_refused(tmp_path):
    """Lists pasted together from two sources: read whole as GB18030, every UTF-8 name was
    garbled, and the summary advised adding the garble to the vocabulary."""
    p = tmp_path / "mixed.csv"
    p.write_bytes(
        b"firm_id,name,industry,lon,lat\n"
        + "F1,太原钢厂,钢铁,112.55,37.87\n".encode()
        + "F2,远郊焦化,焦化,112.2,38.3\n".encode("gbk")
    )
    res, _ = _firms(tmp_path, p)
    assert res.exit_code == 2
    assert "the lines mix encodings: line(s) 3 are not UTF-8 (GBK?), line(s) 2 are UTF-8" in (
        res.output
    )
    q = tmp_path / "gbk.csv"  # one encoding throughout: read, as before
    q.write_bytes("firm_id,name,industry,lon,lat\nF2,远郊焦化,焦化,112.2,38.3\n".encode("gbk"))
    res, _ = _firms(tmp_path, q, "--overwrite")
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(
    ("kind", "banned"),
    [("新建", True), ("扩建", True), ("改扩建", True), ("改、扩建", True), ("产能置换", False)],
)
def test_taiyuan_ban_reads_expansions_alike(tmp_path, kind, banned):
    """扩建 was a conflict and 改扩建 only conditional for the same coking project in the
    Taiyuan region: one reading now, applied to both (the rule's text says which)."""
    res = CliRunner().invoke(
        cli,
        [
            "check", "--project", "112.484,38.06", "--crs", "cgcs2000", "--industry", "焦化",
            "--kind", kind, "--reports", "none", "--out", str(tmp_path / "o"),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "o" / "site_check.json").read_text("utf-8"))
    rules = {r["id"] for r in doc["projects"][0]["rules"]}
    assert ("site_taiyuan_region_ban" in rules) is banned


def test_equipment_numbers_in_full_width(tmp_path):
    """炭化室高度 ４．３ (full-width, from a Chinese input method) was rejected as not a number."""
    from sxzones.analyses.phaseout import equipment_rules
    from sxzones.layers.equipment import read_equipment
    from sxzones.rules import load_rules

    e = tmp_path / "equip.csv"
    e.write_text(
        "设备编号,企业代码,设备类型,炭化室高度（米）,产能（万吨/年）,状态,投产时间\n"
        "E1,F1,焦炉,４．３,６０,在产,2008\n",
        "utf-8",
    )
    units, report = read_equipment(e, equipment_rules(load_rules()))
    assert report.n_rejected == 0
    assert float(units.loc[0, "chamber_height_m"]) == 4.3


def test_declared_area_far_from_the_computed_one_is_warned(tmp_path):
    """界址点 files declare the parcel's area (ha): 249.4644 ha declared for a 2 km square
    was shown only in the printable report; the summary now warns."""
    lines = _square("J", 1, 4214500.0, 37630800.0, 2000.0)
    p = tmp_path / "p.txt"
    p.write_text(JZD.format(n=len(lines), rings="\n".join(lines)), "utf-8")
    res = CliRunner().invoke(
        cli,
        [
            "check", "--project", str(p), "--industry", "pv", "--reports", "none",
            "--out", str(tmp_path / "o"),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "warning: 1 project(s) whose declared area differs from the computed one" in res.output
    assert "(declared 249.464 ha, computed 399.83" in res.output  # on the ellipsoid


def test_excluding_points_needs_a_setback(tmp_path):
    """--exclude villages.gpkg (points) without a setback removed nothing and printed
    'village 0.00' as if the villages had been checked."""
    v = tmp_path / "village.gpkg"
    GeoDataFrame({"name": ["村"]}, geometry=[shapely.Point(112.4975, 38.0025)], crs=4490).to_file(v)
    c = _candidates(tmp_path, [{"地块类型": "废弃矿山"}])
    args = ["sites", "--candidates", str(c), "--tech", "pv", "--out", str(tmp_path / "o")]
    res = CliRunner().invoke(cli, [*args, "--exclude", str(v)])
    assert res.exit_code == 2 and "without a setback excludes no land" in res.output
    res = CliRunner().invoke(cli, [*args, "--exclude", f"{v}:100m"])
    assert res.exit_code == 0, res.output


def test_ovital_map_export_is_kml(tmp_path):
    """奥维互动地图 exports KML under the name .ovkml: it was refused as an unknown type."""
    p = tmp_path / "项目选址.ovkml"
    p.write_text(KML.format(body=PLACEMARK), "utf-8")
    raw = read_file(p)
    assert raw.frame.loc[0, "Name"] == "项目红线" and raw.spec.crs.to_epsg() == 4326


def test_projected_coordinates_with_thousands_separators(tmp_path):
    """Excel shows metres as 4,194,201.25 and saves them so in a CSV: every row was rejected
    as 'coordinates missing or not numbers'."""
    p = tmp_path / "gk.csv"
    p.write_text('企业编号,行业,东坐标,北坐标\nF1,钢铁,"636,384.43","4,194,201.25"\n', "utf-8")
    raw = read_file(p, crs="cm111")
    g = raw.frame.geometry.iloc[0]
    assert (g.x, g.y) == (636384.43, 4194201.25)


def test_baidu_mercator_metres_get_their_own_fix(tmp_path):
    """Baidu's BD09MC metres (x about 12,500,000 in Shanxi) were told to be zone-prefixed
    Gauss-Krüger eastings: 'declare gk37 or gk38' would have put them 300 km off."""
    p = tmp_path / "mc.csv"
    p.write_text("企业编号,行业,x,y\nF1,钢铁,12529400.12,4530200.55\n", "utf-8")
    res, _ = _firms(tmp_path, p, "--crs", "bd09")
    assert res.exit_code == 2
    assert "look like Web Mercator metres (Baidu's BD09MC" in res.output
    assert "gk37" not in res.output


def test_kml_closed_path_is_a_parcel(tmp_path):
    """A red line drawn with Google Earth's Path tool (a closed LineString) was refused as a
    LineString, while a CAD drawing's closed polyline is read as a parcel."""
    path = """<Placemark><name>红线</name><LineString><coordinates>
112.49,38.05,0 112.49,38.07,0 112.47,38.07,0 112.47,38.05,0 112.49,38.05,0
</coordinates></LineString></Placemark>"""
    p = tmp_path / "path.kml"
    p.write_text(KML.format(body=path), "utf-8")
    raw = read_file(p)
    assert raw.frame.geometry.iloc[0].geom_type == "Polygon"
    assert "KML: 1 closed path(s) read as polygons" in raw.notes


def test_rejected_coordinates_are_quoted(tmp_path):
    """A row rejected for its coordinates said only 'missing or not numbers': the cells as
    written are quoted now. A zero-width space pasted from a web page is read through."""
    p = tmp_path / "odd.csv"
    p.write_text(
        '企业编号,行业,经度,纬度\nA1,钢铁,\u200b112.55,37.87\nA2,钢铁,"112,55","37,87"\n',
        "utf-8",
    )
    res, csv = _firms(tmp_path, p)
    assert res.exit_code == 0, res.output
    assert pd.read_csv(csv, encoding="utf-8-sig", dtype=str)["firm_id"].tolist() == ["A1"]
    rej = pd.read_csv(csv.with_name("rejects.csv"), encoding="utf-8-sig", dtype=str)
    assert rej["reason"].tolist() == ["coordinates missing or not numbers ('112,55', '37,87')"]


def test_a_project_outside_shanxi_is_not_judged_by_its_plan(tmp_path):
    """Inside a Hebei county town's built-up area (the bundled layers reach 30 km beyond
    the border) a coking project came out in conflict under Shanxi's clause 四; the firm
    screen already said the plan does not apply there. Now unassessed, with that reason."""
    from pyproj import Transformer

    from sxzones.layers import load_catalog

    from .conftest import CATALOG

    bu, _ = load_catalog(CATALOG).load("builtup_demonstration")
    hebei = bu[bu["adcode"].astype(str).str.startswith("13")].geometry.iloc[0]
    p = hebei.representative_point()
    lon, lat = Transformer.from_crs(bu.crs, 4490, always_xy=True).transform(p.x, p.y)
    res = CliRunner().invoke(
        cli,
        [
            "check", "--project", f"{lon:.6f},{lat:.6f}", "--crs", "cgcs2000", "--industry",
            "焦化", "--kind", "新建", "--reports", "none", "--out", str(tmp_path / "o"),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    d = json.loads((tmp_path / "o" / "site_check.json").read_text("utf-8"))["projects"][0]
    assert d["verdict"] == "unassessed"
    assert "outside Shanxi (山西省), where the plan applies" in d["unassessed_reason"]


def test_csv_header_over_two_rows_is_named(tmp_path):
    """A CSV saved from a sheet with 经度 merged over 度|分|秒 was refused because column ''
    'appears more than once'; the message now says what the file is and how to fix it."""
    p = tmp_path / "two.csv"
    p.write_text(
        "企业编号,行业,经度,,,纬度,,\n,,度,分,秒,度,分,秒\nF1,钢铁,112,33,0,37,52,12\n", "utf-8"
    )
    with pytest.raises(LayerError, match=r"4 empty cells \(columns 4, 5, 7, 8; a header over two"):
        read_file(p, crs="wgs84")


def test_a_linear_project_is_told_how_to_be_checked(tmp_path):
    """Pipelines and power lines are reviewed against red lines too: the refusal now says
    how (as the polygon of the corridor)."""
    res = CliRunner().invoke(
        cli,
        [
            "check", "--project", "LINESTRING(112.40 38.0, 112.5 38.1)", "--crs", "cgcs2000",
            "--industry", "pv", "--out", str(tmp_path / "o"),
        ],
    )  # fmt: skip
    assert res.exit_code == 2
    assert "as the polygon of its corridor: buffer the line" in res.output


def test_no_negative_zero_areas(tmp_path):
    """A removed area that rounds from a tiny negative was written as -0 in the CSV (a mine
    with a hole and a plot on the same land, near a priority unit)."""
    doc = {"type": "FeatureCollection", "features": FEATURES_MINUS_ZERO}
    p = tmp_path / "c.geojson"
    p.write_text(json.dumps(doc), "utf-8")
    res = CliRunner().invoke(
        cli, ["sites", "--candidates", str(p), "--tech", "pv", "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 0, res.output
    t = pd.read_csv(tmp_path / "o" / "eligible_sites.csv", encoding="utf-8-sig", dtype=str)
    cells = t.filter(like="_m2").to_numpy().ravel().tolist()
    assert cells and not any(str(c).startswith("-") for c in cells)


FEATURES_MINUS_ZERO = [
    {
        "type": "Feature",
        "properties": {"地块编号": "C1", "地块类型": "废弃矿山"},
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [
                    [112.47013704625961, 38.05448826069973],
                    [112.47013704625961, 38.074488260699724],
                    [112.49013704625962, 38.074488260699724],
                    [112.49013704625962, 38.05448826069973],
                    [112.47013704625961, 38.05448826069973],
                ],
                [
                    [112.48613704625961, 38.070488260699726],
                    [112.47413704625961, 38.070488260699726],
                    [112.47413704625961, 38.058488260699725],
                    [112.48613704625961, 38.058488260699725],
                    [112.48613704625961, 38.070488260699726],
                ],
            ],
        },
    },
    {
        "type": "Feature",
        "properties": {"地块编号": "C4", "地块类型": "污染地块"},
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [
                    [112.49013704625962, 38.05448826069973],
                    [112.49013704625962, 38.074488260699724],
                    [112.47013704625961, 38.074488260699724],
                    [112.47013704625961, 38.05448826069973],
                    [112.49013704625962, 38.05448826069973],
                ]
            ],
        },
    },
]


def test_kml_chinese_field_names_are_kept(tmp_path):
    """Google Earth and My Maps write a placemark's fields as <Data name="行业">: GDAL's KML
    driver turned every such name into underscores, and the file was refused as having no
    industry."""
    pm = """<Placemark><name>太钢</name><ExtendedData><Data name="行业"><value>钢铁</value></Data>
<Data name="企业编号"><value>F1</value></Data></ExtendedData>
<Point><coordinates>112.55,37.87,0</coordinates></Point></Placemark>"""
    p = tmp_path / "firms.kml"
    p.write_text(KML.format(body=pm), "utf-8")
    res, csv = _firms(tmp_path, p)
    assert res.exit_code == 0, res.output
    t = pd.read_csv(csv, encoding="utf-8-sig", dtype=str)
    assert (t.loc[0, "firm_id"], t.loc[0, "industry_id"], t.loc[0, "zone"]) == (
        "F1",
        "steel",
        "inside",
    )


def test_industry_option_never_replaces_a_files_own_industries(tmp_path):
    """``check --projects FILE --industry pv`` over a file whose 行业 says 焦化 for a project
    inside Taiyuan's built-up area came out ``clear``: the option replaced the column without
    a word. It is refused, naming the values; the same industry everywhere passes."""
    csv = tmp_path / "p.csv"
    csv.write_text(
        "项目编号,项目名称,行业,经度,纬度\nQ1,甲,焦化,112.55,37.87\nQ3,丙,铸造,112.6,37.9\n"
        "Q4,丁,光伏,112.7,37.8\n",
        encoding="utf-8",
    )
    base = ["check", "--projects", str(csv), "--crs", "wgs84", "--reports", "none"]
    res = CliRunner().invoke(cli, [*base, "--industry", "pv", "--out", str(tmp_path / "a")])
    assert res.exit_code == 2
    assert "would replace the file's own '行业' column" in res.output
    assert "焦化 (1)" in res.output and "铸造 (1)" in res.output and "光伏" not in res.output
    assert not (tmp_path / "a").exists()
    own = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "b")])
    assert own.exit_code == 0, own.output
    table = pd.read_csv(tmp_path / "b" / "site_check.csv", encoding="utf-8-sig")
    assert table.set_index("project_id").loc["Q1", "verdict"] == "conflict"
    pv = tmp_path / "pv.csv"
    pv.write_text(
        "项目编号,行业,经度,纬度\nQ4,光伏,112.7,37.8\nQ5,,112.71,37.8\n", encoding="utf-8"
    )
    same = CliRunner().invoke(
        cli, ["check", "--projects", str(pv), "--crs", "wgs84", "--reports", "none",
              "--industry", "pv", "--out", str(tmp_path / "c")],
    )  # fmt: skip
    assert same.exit_code == 0, same.output


@pytest.mark.parametrize("content", [b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n", b"\xff\xfe"])
def test_a_csv_holding_only_a_byte_order_mark_is_refused(tmp_path, content):
    """A CSV saved empty by Excel or Notepad (a byte-order mark, perhaps a line end) crashed
    the equipment and firm readers with a traceback; it is refused as holding no text."""
    p = tmp_path / "设备.csv"
    p.write_bytes(content)
    for args in (
        ["phaseout", "--equipment", str(p)],
        ["firms", "--firms", str(p), "--crs", "wgs84", "--builtup", "builtup_demonstration"],
    ):
        res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "o")])
        assert res.exit_code == 2, res.output
        assert "holds no text (a byte-order mark at most)" in res.output


def test_a_hidden_template_sheet_of_a_firm_workbook_is_skipped(tmp_path):
    """A hidden 填表说明 sheet with an example firm before the list: the example was read as
    the list (the equipment reader skipped such sheets already; now the one sheet reading
    serves both)."""
    import openpyxl

    wb = openpyxl.Workbook()
    tpl = wb.active
    tpl.title = "填表说明"
    tpl.append(["企业名称", "行业", "经度", "纬度"])
    tpl.append(["示例企业", "钢铁", 112.0, 37.0])
    tpl.sheet_state = "hidden"
    ws = wb.create_sheet("企业名单")
    ws.append(["企业名称", "行业", "经度", "纬度"])
    ws.append(["太钢", "钢铁", 112.55, 37.87])
    ws.append(["清徐焦化", "焦化", 112.30, 37.56])
    path = tmp_path / "名录.xlsx"
    wb.save(path)
    raw = read_file(path, crs="wgs84")
    assert raw.frame["企业名称"].tolist() == ["太钢", "清徐焦化"]
    assert any("hidden sheet(s) skipped: '填表说明'" in n for n in raw.notes)
