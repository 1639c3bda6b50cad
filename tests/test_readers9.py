"""Ninth audit, reading users' files. C8: a GeoJSON with heights (``[lon, lat, 0]``, as Amap,
奥维 and LocaSpace export it) was refused with ``--crs gcj02`` as "declaring EPSG:4979" (GDAL's
name for any 3-D GeoJSON), and the fix offered read the GCJ-02 parcel as WGS84, 550 m off; a
GeoJSON read as WGS84 now says so (m8). C10: a .cpg saying 936 beside a UTF-8 .dbf garbled
every name. C12: ``--builtup``/``--admin`` files without .prj take ``PATH@CRS``. C7: ``check
--project 红线图.dxf`` checked the drawing's frame and a building as projects.

Known answers: the GCJ-02 offset by the published algorithm written out here (not the
package's), areas against pyproj.Geod, the red line's area from its own geometry."""

from __future__ import annotations

import json
import math
import shutil
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Geod, Transformer

from sxzones.cli import cli
from sxzones.errors import CRSError, LayerError, SxzonesError
from sxzones.layers import read_file, validate_layer
from sxzones.layers.readers import IMPLIED_WGS84, refuse_several_parcels

GEOD = Geod(ellps="WGS84")

# ---- the GCJ-02 offset, as published (independent of sxzones.crs) -------------------------
_A, _EE = 6378245.0, 0.00669342162296594323


def _t_lat(x: float, y: float) -> float:
    r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20 * math.sin(6 * x * math.pi) + 20 * math.sin(2 * x * math.pi)) * 2 / 3
    r += (20 * math.sin(y * math.pi) + 40 * math.sin(y / 3 * math.pi)) * 2 / 3
    return r + (160 * math.sin(y / 12 * math.pi) + 320 * math.sin(y * math.pi / 30)) * 2 / 3


def _t_lon(x: float, y: float) -> float:
    r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20 * math.sin(6 * x * math.pi) + 20 * math.sin(2 * x * math.pi)) * 2 / 3
    r += (20 * math.sin(x * math.pi) + 40 * math.sin(x / 3 * math.pi)) * 2 / 3
    return r + (150 * math.sin(x / 12 * math.pi) + 300 * math.sin(x / 30 * math.pi)) * 2 / 3


def _wgs_to_gcj(lon: float, lat: float) -> tuple[float, float]:
    dlat, dlon = _t_lat(lon - 105, lat - 35), _t_lon(lon - 105, lat - 35)
    rad = lat / 180 * math.pi
    m = 1 - _EE * math.sin(rad) ** 2
    dlat = dlat * 180 / ((_A * (1 - _EE)) / (m * math.sqrt(m)) * math.pi)
    dlon = dlon * 180 / (_A / math.sqrt(m) * math.cos(rad) * math.pi)
    return lon + dlon, lat + dlat


#: A 1 km square (WGS84) in downtown Taiyuan, corners 707.1 m from its centre.
CENTRE = (112.5534, 37.8695)
SQUARE = [GEOD.fwd(*CENTRE, az, 707.1068)[:2] for az in (45, 135, 225, 315)]


def _amap_geojson(path: Path, height: bool, member: str | None = None) -> Path:
    """The square in GCJ-02 as a web tool writes it: no crs member, ``[lon, lat, 0]``."""
    ring = [list(_wgs_to_gcj(*p)) + ([0] if height else []) for p in [*SQUARE, SQUARE[0]]]
    doc: dict = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "高德画的地块", "行业": "化工"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    if member:
        doc["crs"] = {"type": "name", "properties": {"name": member}}
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    return path


def test_geojson_with_heights_takes_crs_gcj02(tmp_path):
    """C8: the 3-D GeoJSON read with --crs gcj02 lands on the WGS84 square (within 1 m at
    every corner; the GCJ offset is ~550 m there), its area the square's on the ellipsoid."""
    p = _amap_geojson(tmp_path / "amap_z.geojson", height=True)
    assert pyogrio.read_info(p)["crs"] == "EPSG:4979"  # what GDAL says: no declaration
    raw = read_file(p, crs="gcj02")
    assert raw.spec.obfuscation == "gcj02"
    frame, _ = validate_layer(raw, "context", working_crs=4546, id_field=None)
    ring = np.array(frame.to_crs(4326).geometry.iloc[0].exterior.coords)[:4]
    for (lon, lat), (x, y) in zip(SQUARE, ring, strict=True):
        assert GEOD.inv(lon, lat, x, y)[2] < 1.0
    assert GEOD.inv(*_wgs_to_gcj(*SQUARE[0]), *SQUARE[0])[2] > 400  # what was at stake
    lon, lat = zip(*SQUARE, strict=True)
    res = CliRunner().invoke(
        cli,
        ["check", "--project", str(p), "--crs", "gcj02", "--industry", "chemical",
         "--out", str(tmp_path / "o"), "--reports", "none"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "o" / "site_check.json").read_text("utf-8"))
    geodesic = abs(GEOD.polygon_area_perimeter(lon, lat)[0])
    assert doc["projects"][0]["area_m2"] == pytest.approx(geodesic, rel=1e-5)


def test_geojson_crs_member_still_declares_with_heights(tmp_path):
    """An explicit crs member other than WGS84 stays a declaration, with heights too; one
    naming WGS84 (CRS84) stays open to gcj02 as before."""
    p = _amap_geojson(tmp_path / "cgcs_z.geojson", True, "urn:ogc:def:crs:EPSG::4490")
    with pytest.raises(CRSError, match=r"declares EPSG:4490 .* but gcj02 was given"):
        read_file(p, crs="gcj02")
    p = _amap_geojson(tmp_path / "crs84_z.geojson", True, "urn:ogc:def:crs:OGC:1.3:CRS84")
    assert read_file(p, crs="gcj02").spec.obfuscation == "gcj02"


def test_geojson_read_as_wgs84_says_so(tmp_path):
    """m8: a GeoJSON without a crs member read without --crs says it was read as WGS84 and
    names the web-map CRSs (printed with the check's notes); one with a member does not."""
    p = _amap_geojson(tmp_path / "amap.geojson", height=False)
    assert IMPLIED_WGS84 in read_file(p).notes
    res = CliRunner().invoke(
        cli,
        ["check", "--project", str(p), "--industry", "chemical", "--out",
         str(tmp_path / "o"), "--reports", "none"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "note: no CRS in the file: read as WGS84 longitude/latitude" in res.output
    assert "(高德, 腾讯: gcj02; 百度: bd09)" in res.output
    given = read_file(p, crs="gcj02").notes
    assert IMPLIED_WGS84 not in given
    member = _amap_geojson(tmp_path / "m.geojson", False, "urn:ogc:def:crs:OGC:1.3:CRS84")
    assert IMPLIED_WGS84 not in read_file(member).notes


@pytest.fixture(scope="module")
def page():
    """The pages' API, analyses in the server's own process."""
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from sxzones.options import ServeOptions
    from sxzones.serve import create_app

    app, state = create_app(ServeOptions(workers=0))
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        yield client
    state.close()


def test_the_reviewer_page_reads_a_3d_geojson_as_gcj02(page, tmp_path):
    """m14 (first half): the page's upload with CRS gcj02 is checked, not refused; without
    a CRS the page says it was read as WGS84."""
    p = _amap_geojson(tmp_path / "amap_z.geojson", height=True)
    files = {"file": ("amap_z.geojson", p.read_bytes())}
    res = page.post("/api/check", data={"crs": "gcj02", "industry": "chemical"}, files=files)
    assert res.status_code == 200, res.text
    area = res.json()["document"]["projects"][0]["area_m2"]
    lon, lat = zip(*SQUARE, strict=True)
    assert area == pytest.approx(abs(GEOD.polygon_area_perimeter(lon, lat)[0]), rel=1e-5)
    res = page.post("/api/check", data={"industry": "chemical"}, files=files)
    assert res.status_code == 200, res.text
    assert "no CRS in the file: read as WGS84" in res.json()["summary"]


# ---- C10: a .cpg that contradicts the .dbf ------------------------------------------------

NAMES = ["太原焦化有限公司", "晋中钢铁集团"]


def _firms_shp(path: Path, encoding: str, cpg: str | None) -> Path:
    frame = gpd.GeoDataFrame(
        {"QYMC": NAMES, "HYLB": ["焦化", "钢铁"]},
        geometry=[shapely.Point(112.5534, 37.8695), shapely.Point(112.70, 37.69)],
        crs=4490,
    )
    pyogrio.write_dataframe(frame, path, encoding=encoding)
    if cpg is None:
        path.with_suffix(".cpg").unlink(missing_ok=True)
    else:
        path.with_suffix(".cpg").write_text(cpg, "ascii")
    return path


def test_cpg_936_on_a_utf8_dbf_is_read_as_utf8(tmp_path):
    """C10: names as written, said; no library warning (tests run with warnings as
    errors); the firm screen's output holds the names, stderr no RuntimeWarning."""
    p = _firms_shp(tmp_path / "utf8_cpg936.shp", "UTF-8", "936")
    raw = read_file(p)
    assert raw.frame["QYMC"].tolist() == NAMES
    assert raw.frame["HYLB"].tolist() == ["焦化", "钢铁"]
    assert any(
        n.startswith("attributes read as UTF-8 although the .cpg says 936") for n in raw.notes
    )
    res = CliRunner().invoke(
        cli,
        ["firms", "--firms", str(p), "--builtup", "builtup_demonstration", "--out",
         str(tmp_path / "o"), "--format", "csv"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "RuntimeWarning" not in res.output
    assert "attributes read as UTF-8 although the .cpg says 936" in res.output
    out = (tmp_path / "o" / "firm_zones.csv").read_text("utf-8-sig")
    assert all(n in out for n in NAMES)
    assert "industry: recognised 2, unrecognised 0" in res.output


def test_a_right_cpg_is_honoured_and_a_wrong_encoding_refused(tmp_path):
    """A GBK .dbf with its .cpg 936 is read as GBK without a word about UTF-8; --encoding
    GBK on the UTF-8 .dbf is refused with the fix (read so, every name was garbled)."""
    gbk = _firms_shp(tmp_path / "gbk.shp", "GBK", "936")
    raw = read_file(gbk)
    assert raw.frame["QYMC"].tolist() == NAMES
    assert "attributes read as 936 (.cpg)" in raw.notes
    utf8 = _firms_shp(tmp_path / "utf8.shp", "UTF-8", "936")
    with pytest.raises(LayerError, match=r"the attribute text is UTF-8, not GBK.*drop --encoding"):
        read_file(utf8, encoding="GBK")
    assert read_file(utf8, encoding="UTF-8").frame["QYMC"].tolist() == NAMES
    with pytest.raises(LayerError, match=r"not UTF-8 \(record 1, field QYMC\)"):
        read_file(gbk, encoding="UTF-8")
    western = _firms_shp(tmp_path / "gbk1252.shp", "GBK", "1252")  # an ArcGIS default .cpg
    raw = read_file(western)
    assert raw.frame["QYMC"].tolist() == NAMES
    assert "attributes read as GB18030 (the .cpg says 1252; the text is Chinese in GBK)" in (
        raw.notes
    )


# ---- C12: a layer option's file without .prj --------------------------------------------

#: Built-up area of Taiyuan (GK zone 38 with the prefix) around the first firm.
TO_GK38 = Transformer.from_crs(4490, 4526, always_xy=True)


def _builtup_noprj(folder: Path) -> Path:
    folder.mkdir()
    x, y = TO_GK38.transform(112.5534, 37.8695)
    square = shapely.box(x - 3000, y - 3000, x + 3000, y + 3000)
    frame = gpd.GeoDataFrame(
        {"编号": ["BU1"], "建成区名称": ["太原市建成区"], "类型": ["城区"]},
        geometry=[square],
    )
    path = folder / "建成区.shp"
    with warnings.catch_warnings():  # written without a CRS on purpose
        warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
        pyogrio.write_dataframe(frame, path, encoding="GBK")
    path.with_suffix(".cpg").unlink(missing_ok=True)  # as delivered: GBK, no .cpg, no .prj
    assert not path.with_suffix(".prj").exists()
    return path


def _firms_csv(path: Path) -> Path:
    path.write_text(
        "企业名称,行业,经度,纬度\n太原焦化,焦化,112.5534,37.8695\n远处焦化,焦化,112.7,37.8695\n",
        "utf-8",
    )
    return path


def _firms(tmp_path: Path, builtup: str, out: str) -> object:
    args = ["firms", "--firms", str(_firms_csv(tmp_path / "firms.csv")), "--crs", "cgcs2000",
            "--builtup", builtup, "--out", str(tmp_path / out), "--format", "csv"]  # fmt: skip
    return CliRunner().invoke(cli, args)


def test_builtup_without_prj_takes_its_crs_after_the_path(tmp_path):
    """C12: refused with the form that works (not the firms' --crs); read with it, the
    answers are those of the same file with its .prj."""
    bu = _builtup_noprj(tmp_path / "bu")
    res = _firms(tmp_path, str(bu), "o0")
    assert res.exit_code == 2
    assert "--builtup PATH@CRS; --crs is the firms' only" in res.output
    assert "建成区.shp@gk38" in res.output
    res = _firms(tmp_path, f"{bu}@gk38", "o1")
    assert res.exit_code == 0, res.output
    with_prj = tmp_path / "bu2"
    shutil.copytree(bu.parent, with_prj)
    with_prj.joinpath("建成区.prj").write_text(
        gpd.GeoSeries([], crs=4526).crs.to_wkt(version="WKT1_ESRI"), "utf-8"
    )
    res2 = _firms(tmp_path, str(with_prj / "建成区.shp"), "o2")
    assert res2.exit_code == 0, res2.output
    a = (tmp_path / "o1" / "firm_zones.csv").read_text("utf-8-sig")
    b = (tmp_path / "o2" / "firm_zones.csv").read_text("utf-8-sig")
    assert a == b
    rows = [line.split(",") for line in a.splitlines()[1:]]
    assert [r[5] for r in rows] == ['"inside"', '"within_20km"']
    # the second firm due east of the area: the distance to its east edge (GK metres,
    # scale within 1e-4 of 1 there)
    x0, _ = TO_GK38.transform(112.5534, 37.8695)
    x1, _ = TO_GK38.transform(112.7, 37.8695)
    assert float(rows[1][6]) == pytest.approx(x1 - (x0 + 3000), rel=2e-3)


def test_layer_option_crs_errors(tmp_path):
    """A CRS after a catalogue layer's name, a CRS that is none, and --admin's file without
    .prj, each refused naming the fix."""
    bu = _builtup_noprj(tmp_path / "bu")
    res = _firms(tmp_path, "builtup_demonstration@gk38", "o1")
    assert res.exit_code == 2
    assert "is a catalogue layer: its CRS is given in" in res.output
    res = _firms(tmp_path, f"{bu}@gk99", "o2")
    assert res.exit_code == 2
    assert "'gk99' after @ is not a CRS" in res.output
    args = ["firms", "--firms", str(tmp_path / "firms.csv"), "--crs", "cgcs2000", "--builtup",
            f"{bu}@gk38", "--admin", str(bu), "--out", str(tmp_path / "o3"), "--format", "csv"]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2
    assert "--admin PATH@CRS; --crs is the firms' only" in res.output


def test_split_crs_is_shared():
    from sxzones.options import split_crs

    assert split_crs("a/建成区.shp@gk38", "--builtup", lambda n: False) == ("a/建成区.shp", "gk38")
    assert split_crs("a@b/c.shp", "--builtup", lambda n: False) == ("a@b/c.shp", None)
    with pytest.raises(SxzonesError, match="builtup.shp@gk38"):
        split_crs("x.shp@nowhere", "--builtup", lambda n: False)


# ---- C7: a 红线图 given as one project ----------------------------------------------------

E0, N0 = 38450000.0, 4200000.0


def _polyline(layer: str, pts: list[tuple[float, float]], bulges: dict[int, float] | None = None):
    out = ["0", "POLYLINE", "8", layer, "66", "1", "70", "1", "10", "0.0", "20", "0.0", "30", "0.0"]
    for i, (x, y) in enumerate(pts):
        out += ["0", "VERTEX", "8", layer, "10", f"{x:.3f}", "20", f"{y:.3f}", "30", "0.0"]
        if bulges and i in bulges:
            out += ["42", f"{bulges[i]}"]
    return [*out, "0", "SEQEND", "8", layer]


def _redline_plan(path: Path) -> Path:
    """An R12 drawing as the auditor's: the red line (a 400 m square whose north side is a
    half circle), a building inside, the drawing frame around all, a text."""
    ents = _polyline(
        "用地红线",
        [(E0, N0), (E0 + 400, N0), (E0 + 400, N0 + 400), (E0, N0 + 400)],
        {2: 1.0},
    )
    ents += _polyline("建筑", [(E0 + 100, N0 + 100), (E0 + 200, N0 + 100), (E0 + 200, N0 + 180),
                               (E0 + 100, N0 + 180)])  # fmt: skip
    ents += _polyline("图框", [(E0 - 300, N0 - 300), (E0 + 900, N0 - 300), (E0 + 900, N0 + 700),
                               (E0 - 300, N0 + 700)])  # fmt: skip
    ents += ["0", "TEXT", "8", "注记", "10", f"{E0 + 150}", "20", f"{N0 + 50}", "30", "0.0",
             "40", "10", "1", "XX项目用地红线"]  # fmt: skip
    text = ["0", "SECTION", "2", "ENTITIES", *ents, "0", "ENDSEC", "0", "EOF"]
    path.write_text("\n".join(text) + "\n", "utf-8")
    return path


def _check(*args: str) -> object:
    return CliRunner().invoke(cli, ["check", *args, "--crs", "gk38", "--industry", "chemical",
                                    "--reports", "none"])  # fmt: skip


def test_a_drawing_of_several_polylines_is_not_one_project(tmp_path):
    """C7: refused with each polygon's CAD layer and area (the frame 1.2 km²) and the fix;
    with --layer 用地红线 the red line alone is checked, its area the drawn one's (a 400 m
    square and a half disc of radius 200 m, on the ellipsoid: within 0.1 %)."""
    p = _redline_plan(tmp_path / "红线图.dxf")
    res = _check("--project", str(p), "--out", str(tmp_path / "o1"))
    assert res.exit_code == 2
    assert "--project is one project, but the file holds 3 polygons" in res.output
    assert "feature 3 (layer 图框, 1,199,9" in res.output
    assert "feature 2 (layer 建筑, 8,000 m²)" in res.output
    assert "--layer (its layers: 用地红线, 建筑, 图框)" in res.output
    res = _check("--project", str(p), "--layer", "用地红线", "--out", str(tmp_path / "o2"))
    assert res.exit_code == 0, res.output
    assert "1 project(s)" in res.output
    doc = json.loads((tmp_path / "o2" / "site_check.json").read_text("utf-8"))
    assert len(doc["projects"]) == 1
    planar = 400 * 400 + math.pi * 200**2 / 2
    assert doc["projects"][0]["area_m2"] == pytest.approx(planar, rel=1e-3)
    with pytest.raises(LayerError, match=r"no CAD layer '红线'; its layers: 用地红线, 建筑, 图框"):
        read_file(p, crs="gk38", layer="红线")
    res = _check("--projects", str(p), "--out", str(tmp_path / "o3"))
    assert res.exit_code == 0, res.output  # --projects: every polygon a project, as asked
    assert "3 project(s)" in res.output


def test_parts_sharing_an_id_are_one_project(tmp_path):
    """Two polygons with one 项目编号 (一期, 二期) are not refused as several projects; two
    with their own ids are."""
    a = shapely.box(E0, N0, E0 + 100, N0 + 100)
    b = shapely.box(E0 + 300, N0, E0 + 400, N0 + 100)
    for ids, refused in ((["XM1", "XM1"], False), (["XM1", "XM2"], True)):
        frame = gpd.GeoDataFrame({"项目编号": ids}, geometry=[a, b], crs=4526)
        p = tmp_path / f"{ids[1]}.gpkg"
        frame.to_file(p)
        raw = read_file(p)
        if refused:
            with pytest.raises(
                LayerError, match=r"feature 1 \(项目编号 XM1, (9,999|10,000) m²\); feature 2"
            ):
                refuse_several_parcels(raw)
        else:
            refuse_several_parcels(raw)


# ---- m3: PostGIS EWKT and an unclosed ring; m17: a .xls that is HTML or CSV ---------------

SQUARE_WKT = "112.55 37.86, 112.56 37.86, 112.56 37.87, 112.55 37.87"


def test_ewkt_srid_is_the_crs_and_an_open_ring_is_closed(tmp_path):
    """m3: ``SRID=4490;`` declares the file's CRS (a contradicting --crs is refused, as a
    .prj's is); a ring without its closing point is closed and said; both read as the
    same closed polygon, in CGCS2000 (back from the working CRS within 1e-9°)."""
    p = tmp_path / "ewkt.csv"
    p.write_text(
        "项目编号,行业,WKT\n"
        f'W1,化工,"SRID=4490;POLYGON(({SQUARE_WKT}, 112.55 37.86))"\n'
        f'W2,化工,"POLYGON (({SQUARE_WKT}))"\n',
        "utf-8",
    )
    raw = read_file(p)
    assert raw.spec.crs.to_epsg() == 4490
    assert any("SRID= prefix (PostGIS) declares EPSG:4490" in n for n in raw.notes)
    assert any("not closed" in n and "1 row(s): 3" in n for n in raw.notes)
    a, b = raw.frame.geometry
    assert a.equals(b)
    with pytest.raises(CRSError, match=r"declares EPSG:4490 .* but gcj02 was given.*SRID="):
        read_file(p, crs="gcj02")
    frame, report = validate_layer(raw, "projects", working_crs=4546)
    assert report.n_rejected == 0
    back = frame.to_crs(4490).geometry
    assert back.iloc[0].normalize().equals_exact(b.normalize(), 1e-9)


def test_an_xls_that_is_a_web_page_or_a_csv_is_read_by_its_content(tmp_path):
    """m17: a web system's 导出Excel (an HTML table named .xls) and a CSV renamed .xlsx are
    read as what they are, said; the same rows as the CSV itself."""
    rows = [["企业名称", "行业", "经度", "纬度"], ["甲焦化", "焦化", "112.5534", "37.8695"],
            ["乙钢铁", "钢铁", "112.70", "37.69"]]  # fmt: skip
    page = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    html_xls = tmp_path / "导出.xls"
    html_xls.write_text(
        f'<html><head><meta charset="gbk"></head><body><table border="1">{page}</table>'
        "</body></html>",
        "gbk",
    )
    csv_xlsx = tmp_path / "renamed.xlsx"
    csv_xlsx.write_text("\n".join(",".join(r) for r in rows) + "\n", "gb18030")
    plain = tmp_path / "plain.csv"
    plain.write_text("\n".join(",".join(r) for r in rows) + "\n", "utf-8")
    want = read_file(plain, crs="wgs84").frame
    for path, said in ((html_xls, "web page's table"), (csv_xlsx, "text table (CSV)")):
        raw = read_file(path, crs="wgs84")
        assert any(n.startswith("read by its content:") and said in n for n in raw.notes)
        got = raw.frame
        assert got["企业名称"].tolist() == ["甲焦化", "乙钢铁"]
        assert got["source_row"].tolist() == [2, 3]
        assert got.geometry.equals(want.geometry)


def test_the_firm_page_takes_a_web_page_xls(page, tmp_path):
    """m17 on the firm page: the upload limit counted the .xls as a workbook and refused it
    as damaged; its rows are screened."""
    rows = "".join(
        f"<tr><td>{n}</td><td>焦化</td><td>{x}</td><td>37.8695</td></tr>"
        for n, x in (("甲焦化", 112.5534), ("乙焦化", 112.56))
    )
    body = f"<html><body><table><tr><td>企业名称</td><td>行业</td><td>经度</td><td>纬度</td></tr>{rows}"
    files = {"file": ("导出.xls", (body + "</table></body></html>").encode("utf-8"))}
    res = page.post("/api/firms", data={"crs": "wgs84"}, files=files)
    assert res.status_code == 200, res.text
    assert res.json()["rows"] == 2
