"""``sxzones serve``: the pages' API through Starlette's TestClient, on the bundled layers.

Known answers: the CLI's own outputs for the same inputs (byte for byte for the firm screen),
areas on the ellipsoid against pyproj.Geod, and every hostile upload refused with a message
(never a 500).
"""

from __future__ import annotations

import io
import json
import re
import threading
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Geod

from sxzones.cli import cli
from sxzones.errors import SxzonesError
from sxzones.options import ServeOptions

from .conftest import JZD_TWO_PARCELS

pytest.importorskip("starlette")
from starlette.testclient import TestClient

from sxzones.serve import create_app

FIRMS_CSV = (
    "firm_id,name,industry,lon,lat\n"
    "F1,太原钢铁厂,钢铁,112.55,37.87\n"
    "F2,清徐焦化,coking,112.30,37.56\n"
    "F3,<script>alert(1)</script>,steel,110.70,38.90\n"
    "F4,无坐标,steel,,\n"
)
SQUARE = [(112.80, 37.20), (112.81, 37.20), (112.81, 37.21), (112.80, 37.21)]


@pytest.fixture(scope="module")
def served():
    app, state = create_app(ServeOptions(max_upload_mb=2, max_features=1000))
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        yield client, state
    state.close()


@pytest.fixture(scope="module")
def client(served):
    return served[0]


def _cli(*args: str) -> None:
    r = CliRunner().invoke(cli, list(args))
    assert r.exit_code == 0, r.output


def _download(client, res: dict, name: str) -> bytes:
    r = client.get(f"/download/{res['job']}/{name}")
    assert r.status_code == 200, r.text
    return r.content


# ---- the command, the extra, the pages ---------------------------------------------------


def test_serve_help_shows_defaults():
    r = CliRunner().invoke(cli, ["serve", "--help"])
    assert r.exit_code == 0
    assert "127.0.0.1" in r.output and "8765" in r.output and "--token" in r.output


def test_serve_bad_port_is_a_user_error():
    r = CliRunner().invoke(cli, ["serve", "--port", "70000"])
    assert r.exit_code == 2 and "--port 70000" in r.output and "Traceback" not in r.output


def test_missing_extra_names_it(monkeypatch):
    import importlib.util

    import sxzones.serve as sv

    real = importlib.util.find_spec
    monkeypatch.setattr(
        sv.importlib.util, "find_spec", lambda n: None if n == "uvicorn" else real(n)
    )
    with pytest.raises(SxzonesError, match=r"uvicorn.*sxzones\[serve\]"):
        sv.require_extra()


@pytest.mark.parametrize("page", ["/", "/inspector", "/planner"])
def test_pages_use_only_bundled_assets(client, page):
    r = client.get(page)
    assert r.status_code == 200
    assert "default-src 'self'" in r.headers["content-security-policy"]
    refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert refs and all(u.startswith("/") for u in refs), refs
    for u in refs:
        if u.startswith(("/vendor", "/static")):
            assert client.get(u).status_code == 200, u
    assert "leaflet.draw.js" in r.text


def test_setup_has_chinese_vocabularies_and_layers(client):
    s = client.get("/api/setup").json()
    ind = {i["id"]: i["label"] for i in s["industries"]}
    assert ind["coking"].startswith("焦化") and ind["pv"].startswith("光伏")
    kinds = {k["id"]: k["label"] for k in s["kinds"]}
    assert kinds["new"].startswith("新建") and kinds["capacity_replacement"].startswith("产能置换")
    assert "gcj02" in {c["id"] for c in s["crs"]}
    assert set(s["layers"]) >= {"admin", "control_units", "redline", "builtup"}
    reasons = {r["reason"]: r for r in s["siting"]["reasons"]}
    assert reasons["builtup"]["setback_m"] == {"pv": 100.0, "wind": 500.0}
    assert s["siting"]["max_slope_deg"] == {"pv": 20.0, "wind": 25.0}


# ---- reviewer ------------------------------------------------------------------------------


def test_check_pasted_point_is_the_cli_result(client, tmp_path):
    form = {"coords": "112.30,37.56", "crs": "wgs84", "industry": "coking", "kind": "new"}
    res = client.post("/api/check", data=form).json()
    p = res["document"]["projects"][0]
    assert p["verdict"] == "conflict"
    assert [r["id"] for r in p["rules"]] == [
        "site_taiyuan_region_ban",
        "site_within_20km_deep_treatment",
    ]
    _cli("check", "--project", "112.30,37.56", "--crs", "wgs84", "--industry", "coking",
         "--out", str(tmp_path))  # fmt: skip
    cli_p = json.loads((tmp_path / "site_check.json").read_text(encoding="utf-8"))["projects"][0]
    assert p == cli_p
    assert set(res["downloads"]) >= {"site_check.json", "site_check.csv", "site_check.gpkg"}
    (tmp_path / "web.gpkg").write_bytes(_download(client, res, "site_check.gpkg"))
    gpkg = gpd.read_file(tmp_path / "web.gpkg")
    assert list(gpkg["verdict"]) == ["conflict"] and gpkg.crs.to_epsg() == 4546


def test_check_drawn_polygon_area_on_the_ellipsoid(client):
    geom = shapely.Polygon(SQUARE)
    form = {
        "geojson": shapely.to_geojson(geom),
        "industry": "pv",
        "name": "示例光伏地块",
        "declared_ha": "100",
    }
    res = client.post("/api/check", data=form).json()
    p = res["document"]["projects"][0]
    area, _ = Geod(ellps="GRS80").geometry_area_perimeter(geom)
    assert p["area_m2"] == pytest.approx(abs(area), rel=1e-6)
    assert p["project_id"] == "示例光伏地块"
    assert res["map"]["projects"]["features"][0]["geometry"]["type"] == "Polygon"
    report = _download(client, res, "report-示例光伏地块.html").decode()
    assert "Site check: 示例光伏地块</h1>" in report
    assert "1,000,000.00 m² (100 公顷 ha)" in report  # declared, beside the computed area


def test_check_jzd_upload(client):
    files = {"file": ("parcels.txt", JZD_TWO_PARCELS.encode("gbk"))}
    res = client.post("/api/check", data={"industry": "pv"}, files=files).json()
    ids = [p["project_id"] for p in res["document"]["projects"]]
    assert ids == ["P-001", "P-002"]


def _shapefile_zip(tmp_path: Path, name: str = "<b>地块</b>") -> bytes:
    frame = gpd.GeoDataFrame(
        {"project_id": ["Z1"], "name": [name]}, geometry=[shapely.Polygon(SQUARE)], crs=4326
    )
    frame.to_file(tmp_path / "parcel.shp", encoding="utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for part in tmp_path.glob("parcel.*"):
            zf.write(part, f"parcel/{part.name}")
    return buf.getvalue()


def test_check_zipped_shapefile_and_kml(client, tmp_path):
    files = {"file": ("parcel.zip", _shapefile_zip(tmp_path))}
    res = client.post("/api/check", data={"industry": "pv"}, files=files).json()
    p = res["document"]["projects"][0]
    assert p["project_id"] == "Z1"
    area = abs(Geod(ellps="GRS80").geometry_area_perimeter(shapely.Polygon(SQUARE))[0])
    assert p["area_m2"] == pytest.approx(area, rel=1e-6)
    kml = gpd.GeoDataFrame({"Name": ["K1"]}, geometry=[shapely.Polygon(SQUARE)], crs=4326)
    kml.to_file(tmp_path / "p.kml", driver="KML")
    files = {"file": ("p.kml", (tmp_path / "p.kml").read_bytes())}
    res = client.post("/api/check", data={"industry": "pv"}, files=files).json()
    assert res["document"]["projects"][0]["project_id"] == "K1"
    assert res["document"]["projects"][0]["area_m2"] == pytest.approx(area, rel=1e-6)


def test_check_table_of_corners(client):
    rows = "lon,lat\n" + "\n".join(f"{x},{y}" for x, y in SQUARE) + "\n"
    files = {"file": ("corners.csv", rows.encode())}
    form = {"crs": "wgs84", "industry": "pv", "vertices": "on"}
    res = client.post("/api/check", data=form, files=files).json()
    area = abs(Geod(ellps="GRS80").geometry_area_perimeter(shapely.Polygon(SQUARE))[0])
    assert res["document"]["projects"][0]["area_m2"] == pytest.approx(area, rel=1e-6)


def test_check_table_of_points_is_a_batch(client, tmp_path):
    """A CSV of points without the corners box: every row is a project (``--projects``),
    as the command checks it."""
    rows = "project_id,lon,lat\nA,112.30,37.56\nB,113.05,36.20\n"
    (tmp_path / "pts.csv").write_text(rows, encoding="utf-8")
    form = {"crs": "wgs84", "industry": "coking"}
    res = client.post("/api/check", data=form, files={"file": ("pts.csv", rows.encode())}).json()
    assert [p["project_id"] for p in res["document"]["projects"]] == ["A", "B"]
    assert res["command"].startswith("sxzones check --projects pts.csv")
    _cli("check", "--projects", str(tmp_path / "pts.csv"), "--crs", "wgs84", "--industry",
         "coking", "--out", str(tmp_path / "cli"))  # fmt: skip
    cli_doc = json.loads((tmp_path / "cli" / "site_check.json").read_text(encoding="utf-8"))
    assert res["document"]["projects"] == cli_doc["projects"]
    assert (
        _download(client, res, "site_check.csv")
        == (tmp_path / "cli" / "site_check.csv").read_bytes()
    )


def test_html_in_names_is_escaped_in_the_report(client, tmp_path):
    files = {"file": ("<img src=x onerror=alert(1)>.zip", _shapefile_zip(tmp_path))}
    res = client.post("/api/check", data={"industry": "pv"}, files=files).json()
    report = _download(client, res, "report-Z1.html").decode()
    assert "<b>地块</b>" not in report or "&lt;b&gt;" in report
    assert "onerror" not in json.dumps(res["downloads"])


# ---- hostile uploads -----------------------------------------------------------------------


def _bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.geojson", b"0" * (40 * 1024 * 1024))
    return buf.getvalue()


def _two_layers() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.geojson", b"{}")
        zf.writestr("b.geojson", b"{}")
    return buf.getvalue()


def _escape_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../evil.geojson", b"{}")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "status", "match"),
    [
        ("big.geojson", b" " * (3 * 1024 * 1024), 413, "larger than the limit of 2 MB"),
        ("bomb.zip", None, 400, "unpacks to 40.0 MB"),
        ("escape.zip", None, 400, "points outside the archive"),
        ("notes.pdf", b"%PDF-1.4", 400, "files of type '.pdf' are not read here"),
        ("parcel.gpkg", b"not a geopackage", 400, "cannot be read as GPKG"),
        ("parcel.geojson", b"\x89PNG\r\n", 400, "cannot be read as GeoJSON"),
        ("empty.geojson", b"", 400, "is empty"),
        ("x.csv", b"a,b\n1,2\n", 400, "no coordinate columns found"),
        ("x.xlsx", b"PK\x03\x04 not a workbook", 400, "cannot be read as an Excel workbook"),
        ("x.kml", b"<kml><Placemark>", 400, "cannot be read as KML"),
        ("two.zip", None, 400, "a zip must hold exactly one layer"),
    ],
)
def test_hostile_uploads_are_refused_with_a_message(client, name, content, status, match):
    makers = {"bomb.zip": _bomb, "escape.zip": _escape_zip, "two.zip": _two_layers}
    content = makers.get(name, lambda: content)()
    r = client.post(
        "/api/check", data={"crs": "wgs84", "industry": "pv"}, files={"file": (name, content)}
    )
    assert r.status_code == status, r.text
    msg = r.json()["error"]
    assert re.search(re.escape(match), msg), msg
    assert "Traceback" not in msg and "sxzones-serve-" not in msg  # no server paths


def test_feature_and_vertex_limits(tmp_path):
    app, state = create_app(ServeOptions(max_features=2, max_vertices=10))
    bad = {"file": ("f.xlsx", b"PK\x03\x04 not a workbook")}
    with TestClient(app, base_url="http://localhost:8765") as c:
        r = c.post(
            "/api/firms", data={"crs": "wgs84"}, files={"file": ("f.csv", FIRMS_CSV.encode())}
        )
        assert r.status_code == 400 and "holds 4 features (limit 2)" in r.json()["error"]
        for url in ("/api/firms", "/api/firms/columns"):  # no 500 from a broken workbook
            r = c.post(url, data={"crs": "wgs84"}, files=bad)
            assert r.status_code == 400 and "Excel workbook" in r.json()["error"]
        ring = [(112.8 + 0.001 * i, 37.2 + 0.0001 * i * i) for i in range(20)]
        poly = shapely.Polygon([*ring, (112.8, 37.3)])
        gj = gpd.GeoDataFrame(geometry=[poly], crs=4326).to_json()
        r = c.post(
            "/api/check", data={"industry": "pv"}, files={"file": ("p.geojson", gj.encode())}
        )
        assert r.status_code == 400 and "vertices (limit 10)" in r.json()["error"]
    state.close()


def test_bad_coordinates_get_the_readers_hint(client):
    # latitude first, as Google Maps copies a point: read, and said (as --project does)
    r = client.post("/api/check", data={"coords": "37.87,112.55", "crs": "wgs84", "industry": "pv"})
    assert r.status_code == 200 and "given latitude first" in r.text
    # a surveyor's northing, easting without the 界址点 label: the zone prefix tells the
    # easting, so read and said (as --project "X,Y" and 界址点 files are; audit 9, m10)
    r = client.post(
        "/api/check",
        data={"coords": "4194059.80,38372415.05", "crs": "gk38", "industry": "pv"},
    )
    assert r.status_code == 200 and "pasted corners written northing first" in r.text
    r = client.post("/api/check", data={"coords": "112.5,37.8\n112.6,37.8", "industry": "pv"})
    assert r.status_code == 400 and "two points make no parcel" in r.json()["error"]
    r = client.post("/api/check", data={"industry": "pv"})
    assert r.status_code == 400 and "no project" in r.json()["error"]


# ---- inspector -----------------------------------------------------------------------------


def test_firm_downloads_are_the_cli_outputs_byte_for_byte(client, tmp_path):
    (tmp_path / "firms.csv").write_text(FIRMS_CSV, encoding="utf-8")
    files = {"file": ("firms.csv", FIRMS_CSV.encode())}
    res = client.post("/api/firms", data={"crs": "wgs84"}, files=files).json()
    assert res["counts"] == {"inside": 1, "within_20km": 1, "beyond": 1}
    assert res["n_rejects"] == 1 and res["rows"] == 3
    assert "coordinates" in res["rejects"][0]["reason"] or res["rejects"][0]["reason"]
    _cli("firms", "--firms", str(tmp_path / "firms.csv"), "--builtup", "builtup_demonstration",
         "--crs", "wgs84", "--out", str(tmp_path / "cli"))  # fmt: skip
    for name in ("firm_zones.csv", "firm_zones.xlsx", "firm_zones.gpkg", "rejects.csv"):
        assert _download(client, res, name) == (tmp_path / "cli" / name).read_bytes(), name
    assert res["command"].startswith("sxzones firms --firms firms.csv --builtup")


def test_workbook_of_several_sheets_on_the_page(client, tmp_path):
    """A workbook with a sheet of firms per city was refused on the page with a fix naming a
    command-line option the page did not have; the pages now have the sheet or layer field."""
    import openpyxl

    wb = openpyxl.Workbook()
    for k, (city, rows) in enumerate([("太原", [("F1", 112.55, 37.87)]),
                                      ("大同", [("F2", 113.3, 40.08), ("F3", 113.31, 40.09)])]):  # fmt: skip
        ws = wb.active if k == 0 else wb.create_sheet()
        ws.title = city
        ws.append(["企业编号", "企业名称", "行业", "经度", "纬度"])
        for fid, lon, lat in rows:
            ws.append([fid, f"{city}钢厂", "钢铁", lon, lat])
    wb.save(tmp_path / "cities.xlsx")
    files = {"file": ("cities.xlsx", (tmp_path / "cities.xlsx").read_bytes())}
    refused = client.post("/api/firms", data={"crs": "wgs84"}, files=files)
    assert refused.status_code == 400 and "工作表或图层" in refused.json()["error"]
    res = client.post("/api/firms", data={"crs": "wgs84", "layer": "大同"}, files=files).json()
    assert res["rows"] == 2 and "--layer '大同'" in res["command"]
    pages = [client.get(u).text for u in ("/inspector", "/", "/planner")]  # "/": the reviewer
    assert [p.count('name="layer"') for p in pages] == [1, 1, 1]


def test_firm_columns_mapped_on_the_page(client):
    text = (
        "单位标识,单位全称,产业门类,经度,纬度\n"
        "91140000A,太原钢铁厂,钢铁,112.55,37.87\n"
        "91140000B,清徐焦化,焦化,112.30,37.56\n"
    )
    files = {"file": ("名录.csv", text.encode("gb18030"))}
    cols = client.post("/api/firms/columns", files=files).json()
    assert cols["columns"][:3] == ["单位标识", "单位全称", "产业门类"]
    assert {"firm_id", "name", "industry"} <= set(cols["fields"])
    assert cols["found"] == ["x", "y"]  # 经度/纬度: the coordinates, found by their names
    unmapped = client.post("/api/firms", data={"crs": "wgs84"}, files=files)
    assert unmapped.status_code == 400 and "industry" in unmapped.json()["error"]
    assert "产业门类" in unmapped.json()["error"]  # the fields present are named
    form = {
        "crs": "wgs84",
        "field_firm_id": "单位标识",
        "field_name": "单位全称",
        "field_industry": "产业门类",
    }
    res = client.post("/api/firms", data=form, files=files).json()
    assert res["counts"] == {"inside": 1, "within_20km": 1}
    assert {r["firm_id"] for r in res["table"]} == {"91140000A", "91140000B"}
    assert "'industry=产业门类'" in res["command"]


def test_old_excel_with_a_title_row_mapped_on_the_page(client, tmp_path):
    """An .xls firm list (Excel 97-2003) with a title above its header: the page offers the
    header's columns, not the title, and the screen counts the firms the CLI counts."""
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("名录")
    rows = [
        ["太原市重点排污单位名录"],
        ["单位标识", "单位全称", "产业门类", "经度", "纬度"],
        ["91140000A", "太原钢铁厂", "钢铁", 112.55, 37.87],
        ["91140000B", "清徐焦化", "焦化", "112°18′", 37.56],
    ]
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            sheet.write(i, j, v)
    book.save(str(tmp_path / "名录.xls"))
    files = {"file": ("名录.xls", (tmp_path / "名录.xls").read_bytes())}
    cols = client.post("/api/firms/columns", files=files).json()
    assert cols["columns"] == ["单位标识", "单位全称", "产业门类", "经度", "纬度"]
    form = {
        "crs": "wgs84",
        "field_firm_id": "单位标识",
        "field_name": "单位全称",
        "field_industry": "产业门类",
    }
    res = client.post("/api/firms", data=form, files=files).json()
    assert res["counts"] == {"inside": 1, "within_20km": 1}


def test_unicode_text_export_columns_offered_as_the_screen_reads_them(client):
    """Excel's "Unicode text" (UTF-16, tabs) renamed .csv: the page offers its columns, found
    by the same reader the screen uses (the page's own header reading took UTF-8 or GB18030
    with commas only)."""
    text = (
        "单位标识\t单位全称\t产业门类\t经度\t纬度\r\n91140000A\t太原钢铁厂\t钢铁\t112.55\t37.87\r\n"
    )
    files = {"file": ("名录.csv", text.encode("utf-16"))}
    cols = client.post("/api/firms/columns", files=files).json()
    assert cols["columns"] == ["单位标识", "单位全称", "产业门类", "经度", "纬度"]


def test_kmz_with_two_folders_checks_every_placemark(client, tmp_path):
    """A KMZ (zipped KML, as 奥维 and Google Earth send it) with a placemark in each of two
    folders: both are checked, each named by its placemark."""
    import zipfile

    ring = " ".join(f"{x},{y}" for x, y in [*SQUARE, SQUARE[0]])  # KML rings are closed
    folders = "".join(
        f"<Folder><name>{f}</name><Placemark><name>{n}</name><Polygon><outerBoundaryIs>"
        f"<LinearRing><coordinates>{ring}</coordinates></LinearRing></outerBoundaryIs>"
        "</Polygon></Placemark></Folder>"
        for f, n in (("一期", "甲"), ("二期", "乙"))
    )
    kml = (
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">'
        f"<Document>{folders}</Document></kml>"
    )
    with zipfile.ZipFile(tmp_path / "p.kmz", "w") as zf:
        zf.writestr("doc.kml", kml)
    files = {"file": ("p.kmz", (tmp_path / "p.kmz").read_bytes())}
    res = client.post("/api/check", data={"industry": "pv"}, files=files).json()
    assert "document" in res, res
    assert [p["project_id"] for p in res["document"]["projects"]] == ["甲", "乙"]


# ---- planner -------------------------------------------------------------------------------


def test_sites_setback_is_the_cli_exclude(client, tmp_path):
    form = {"tech": "pv", "setback_builtup": "1000", "kinds": ""}
    res = client.post("/api/sites", data=form).json()
    _cli("sites", "--candidates", "candidates_demonstration", "--tech", "pv", "--exclude",
         "builtup:1000m", "--out", str(tmp_path))  # fmt: skip
    cli_doc = json.loads((tmp_path / "siting.json").read_text(encoding="utf-8"))
    assert res["document"]["totals"] == cli_doc["totals"]
    assert (
        _download(client, res, "eligible_sites.csv")
        == (tmp_path / "eligible_sites.csv").read_bytes()
    )
    default = client.post("/api/sites", data={"tech": "pv"}).json()
    assert res["document"]["totals"]["eligible_km2"] < default["document"]["totals"]["eligible_km2"]


def test_sites_kinds_and_slope(client):
    res = client.post("/api/sites", data={"tech": "wind", "kinds": "abandoned_mine"}).json()
    assert {f["properties"]["kind"] for f in res["map"]["features"]} == {"abandoned_mine"}
    assert res["document"]["tech"] == "wind"
    r = client.post("/api/sites", data={"tech": "pv", "slope": "95"})
    assert r.status_code == 400 and "0 to 90" in r.json()["error"]


# ---- safety --------------------------------------------------------------------------------


def test_token_required_when_set():
    app, state = create_app(ServeOptions(token="s3cret-token"))
    with TestClient(app) as c:
        assert c.get("/").status_code == 401
        assert c.get("/api/setup?token=wrong-token").status_code == 401
        r = c.get("/?token=s3cret-token")
        assert r.status_code == 200 and "sxzones_token" in r.headers["set-cookie"]
        assert c.get("/api/setup").status_code == 200  # the cookie
        c.cookies.clear()
        h = {"Authorization": "Bearer s3cret-token"}
        assert c.get("/api/setup", headers=h).status_code == 200
    state.close()


def test_only_this_machines_names_without_a_token(client):
    r = client.get("/api/setup", headers={"host": "attacker.example:8765"})
    assert r.status_code == 421 and "answers to" in r.json()["error"]
    app, state = create_app(ServeOptions(host="0.0.0.0", token="s3cret-token"))
    with TestClient(app, base_url="http://sxzones.intranet") as c:  # a token: any name
        assert c.get("/?token=s3cret-token").status_code == 200
    state.close()


def test_uploads_removed_and_results_kept_only_while_served(served):
    client, state = served
    client.post("/api/check", data={"coords": "112.30,37.56", "crs": "wgs84", "industry": "pv"})
    assert not list(state.root.glob("*/in"))
    assert client.get("/download/nope/site_check.json").status_code == 404
    res = client.post(
        "/api/check", data={"coords": "112.3,37.56", "crs": "wgs84", "industry": "pv"}
    )
    assert client.get(f"/download/{res.json()['job']}/..%2Fin").status_code == 404


def test_concurrent_requests_do_not_share_state(client):
    points = ["112.30,37.56", "113.05,36.20", "111.52,36.08", "112.55,37.87"] * 3
    alone = {
        p: client.post(
            "/api/check", data={"coords": p, "crs": "wgs84", "industry": "coking"}
        ).json()["document"]["projects"][0]
        for p in set(points)
    }
    got: dict[int, dict] = {}

    def ask(i: int, p: str) -> None:
        r = client.post("/api/check", data={"coords": p, "crs": "wgs84", "industry": "coking"})
        got[i] = r.json()["document"]["projects"][0]

    threads = [threading.Thread(target=ask, args=(i, p)) for i, p in enumerate(points)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(got[i] == alone[p] for i, p in enumerate(points))


def _tilted_dem(path: Path, degrees: float) -> None:
    """A DEM of a plane rising eastwards at ``degrees`` over all of Shanxi (EPSG:4546, 1 km
    cells, deflate-compressed: a plane packs small)."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    x0, y0, cell, nx, ny = 360_000.0, 4_560_000.0, 1000.0, 520, 800
    x = x0 + cell * (np.arange(nx) + 0.5)
    z = np.tile((x - x0) * np.tan(np.radians(degrees)), (ny, 1)).astype("float32")
    profile = {"driver": "GTiff", "width": nx, "height": ny, "count": 1, "dtype": "float32",
               "crs": "EPSG:4546", "transform": from_origin(x0, y0, cell, cell),
               "compress": "deflate"}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(z, 1)


def test_sites_slope_limit_with_an_uploaded_dem(client, tmp_path):
    _tilted_dem(tmp_path / "dem.tif", 10.0)
    dem = (tmp_path / "dem.tif").read_bytes()
    steep = client.post(
        "/api/sites", data={"tech": "pv", "slope": "5"}, files={"dem": ("dem.tif", dem)}
    ).json()
    flat = client.post(
        "/api/sites", data={"tech": "pv", "slope": "15"}, files={"dem": ("dem.tif", dem)}
    ).json()
    not_assessed = {r["reason"] for r in flat["document"]["not_assessed"]}
    assert "slope" not in not_assessed  # the DEM was used
    assert flat["document"]["totals"]["eligible_km2"] > 300  # 10° < 15°: slope removes nothing
    assert steep["document"]["totals"]["eligible_km2"] == 0  # 10° > 5°: slope removes it all
    # the command the page shows runs, and gives the page's answer (it lacked --tech, and the
    # slope limit was a changed rules file it did not name)
    import shlex

    from click.testing import CliRunner

    from sxzones.cli import cli

    args = shlex.split(steep["command"])
    assert args[:2] == ["sxzones", "sites"] and "--tech" in args and "--max-slope" in args
    args[args.index("dem.tif")] = str(tmp_path / "dem.tif")
    args[args.index("OUT")] = str(tmp_path / "cli")
    res = CliRunner().invoke(cli, args[1:])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "cli" / "siting.json").read_text(encoding="utf-8"))

    def same(totals: dict) -> dict:  # the DEM's path differs (the server's copy)
        rasters = [{**r, "source": "dem.tif"} for r in totals.get("not_assessed_by_raster", [])]
        return {**totals, "not_assessed_by_raster": rasters}

    assert same(doc["totals"]) == same(steep["document"]["totals"])
    # the outputs say which limit was used (they did not: only the removed area was there)
    assert [(c["raster"], c["max_slope_deg"]) for c in doc["raster_criteria"]] == [("slope", 5.0)]
    assert steep["document"]["raster_criteria"][0]["max_slope_deg"] == 5.0
    again = client.post(
        "/api/sites", data={"tech": "pv", "slope": "5°"}, files={"dem": ("dem.tif", dem)}
    ).json()  # as planners write it
    assert same(again["document"]["totals"]) == same(steep["document"]["totals"])


def test_the_command_serves_the_pages(tmp_path):
    """``sxzones serve`` as a user starts it: a process on a free port of 127.0.0.1 that
    serves the pages and stops cleanly on SIGTERM, leaving no temporary folder behind."""
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx2

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sxzones.cli", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        deadline, page = time.monotonic() + 120, None
        while page is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                page = httpx2.get(f"http://127.0.0.1:{port}/inspector", timeout=10)
            except httpx2.TransportError:
                time.sleep(0.3)
        assert page is not None and page.status_code == 200, proc.stderr.read()
        assert "企业分区筛查" in page.text
        assert list(tmp_path.glob("sxzones-serve-*"))  # the results' folder while serving
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=60)
    assert f"open http://127.0.0.1:{port}/" in out.decode()
    assert b"Traceback" not in err
    assert not list(tmp_path.glob("sxzones-serve-*"))  # removed on the way out


# ---- lazy downloads, worker processes -------------------------------------------------------


def test_lazy_check_downloads_are_the_cli_files(served, tmp_path):
    """A check answers before its files exist; the first download writes them, by the
    command's writer: the files of ``sxzones check`` on the same parcel file, byte for byte
    (the page's command line), and exactly the files the answer listed."""
    from sxzones.serve import uploads

    client, state = served
    form = {"coords": "112.30,37.56", "crs": "wgs84", "industry": "coking", "kind": "new"}
    res = client.post("/api/check", data=form).json()
    assert res["command"] == (
        "sxzones check --project project.geojson --crs wgs84 --industry coking --kind new --out OUT"
    )
    out = state.root / res["job"] / "out"
    assert not out.exists()  # nothing written by the request itself
    geom = uploads.points_to_geometry(uploads.parse_coordinates("112.30,37.56"))
    spec = uploads.geometry_file(geom, tmp_path / "in", "P1")
    _cli("check", "--project", str(spec), "--crs", "wgs84", "--industry", "coking", "--kind",
         "new", "--out", str(tmp_path / "cli"))  # fmt: skip
    cli_files = sorted(p.name for p in (tmp_path / "cli").iterdir())
    assert res["downloads"] == sorted([*cli_files, "site_check.gpkg"])
    for name in ("site_check.json", "site_check.csv", "rejects.csv", "report-P1.html"):
        assert _download(client, res, name) == (tmp_path / "cli" / name).read_bytes(), name
    assert sorted(p.name for p in out.iterdir()) == res["downloads"]
    manifest = json.loads(_download(client, res, "manifest.json"))
    cli_manifest = json.loads((tmp_path / "cli" / "manifest.json").read_text(encoding="utf-8"))
    cli_listed = [f["sha256"] for f in cli_manifest["files"]]  # and the page's GPKG, said so
    assert [f["sha256"] for f in manifest["files"] if "added_by" not in f] == cli_listed
    assert [f["name"] for f in manifest["files"] if f.get("added_by") == "page"] == [
        "site_check.gpkg"
    ]
    assert [i.get("sha256") for i in manifest["inputs"]] == [
        i.get("sha256") for i in cli_manifest["inputs"]
    ]
    (tmp_path / "web.gpkg").write_bytes(_download(client, res, "site_check.gpkg"))
    gpkg = gpd.read_file(tmp_path / "web.gpkg")
    assert list(gpkg["verdict"]) == ["conflict"] and gpkg.crs.to_epsg() == 4546
    assert client.get(f"/download/{res['job']}/other.csv").status_code == 404


def test_twenty_concurrent_checks_get_their_own_results(served, tmp_path):
    """20 checks of 20 different points at once (through the worker processes): each answer
    is the command's check of its own point (one batch run of the same 20 points)."""
    client, state = served
    assert state.workers is not None and len(state.workers.procs) >= 1
    pts = [(110.9 + 0.17 * k, 35.2 + 0.23 * k) for k in range(20)]
    rows = "project_id,lon,lat\n" + "".join(f"Q{k},{x},{y}\n" for k, (x, y) in enumerate(pts))
    (tmp_path / "pts.csv").write_text(rows, encoding="utf-8")
    _cli("check", "--projects", str(tmp_path / "pts.csv"), "--crs", "wgs84", "--industry",
         "coking", "--reports", "none", "--out", str(tmp_path / "cli"))  # fmt: skip
    doc = json.loads((tmp_path / "cli" / "site_check.json").read_text(encoding="utf-8"))
    want = {p["project_id"]: p for p in doc["projects"]}
    assert len({p["verdict"] for p in want.values()}) > 1  # the points differ in their answers
    got: dict[int, dict] = {}

    def ask(k: int) -> None:
        form = {"coords": f"{pts[k][0]},{pts[k][1]}", "crs": "wgs84", "industry": "coking",
                "name": f"Q{k}"}  # fmt: skip
        got[k] = client.post("/api/check", data=form).json()

    threads = [threading.Thread(target=ask, args=(k,)) for k in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(20):
        (p,) = got[k]["document"]["projects"]
        assert p == want[f"Q{k}"], k
    assert len({got[k]["job"] for k in range(20)}) == 20
    jobs_by_worker = {got[k]["job"].split("-")[0] for k in range(20)}
    assert len(jobs_by_worker) == len(state.workers.procs)  # every worker took some


def test_in_process_mode_gives_the_same_answer(served):
    """``--workers 0``: the analyses in the server's own threads, the same answers."""
    client, _ = served
    form = {"coords": "113.05,36.20", "crs": "wgs84", "industry": "coking"}
    app, state = create_app(ServeOptions(workers=0))
    assert state.workers is None
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        alone = c.post("/api/check", data=form).json()
        assert c.get(f"/download/{alone['job']}/site_check.csv").status_code == 200
    state.close()
    res = client.post("/api/check", data=form).json()
    assert res["document"] == alone["document"] and res["map"] == alone["map"]
    assert client.get(f"/download/w9-{res['job'][3:]}/site_check.csv").status_code == 404


def test_workers_option_is_checked():
    with pytest.raises(SxzonesError, match="--workers -1"):
        ServeOptions(workers=-1)


@pytest.mark.parametrize("most", [1, 2])
def test_firm_map_draws_the_nearest_zones_first_and_says_what_it_left_out(monkeypatch, most):
    """Past MAX_POINTS firms the map draws every firm inside a built-up area first, then
    those within 20 km, ``beyond`` last; a zone that does not fit whole is evenly sampled
    (read by feature id), and the response says per zone how many were drawn (audit 11
    E10: an even sample over all zones drew one in three of the firms inside, unsaid)."""
    import numpy as np
    import pyogrio

    from sxzones.serve import work

    monkeypatch.setattr(work, "MAX_POINTS", most)
    app, state = create_app(ServeOptions(workers=0))
    try:
        with TestClient(app, base_url="http://127.0.0.1:8765") as c:
            files = {"file": ("firms.csv", FIRMS_CSV.encode())}
            res = c.post("/api/firms", data={"crs": "wgs84"}, files=files).json()
            whole = pyogrio.read_dataframe(state.root / res["job"] / "out" / "firm_zones.gpkg")
    finally:
        state.close()
    zones = whole["zone"].astype(str).to_numpy()
    assert sorted(zones.tolist()) == ["beyond", "inside", "within_20km"]
    want, left = [], most
    for z in ("inside", "within_20km", "beyond"):  # nearest first
        rows = np.flatnonzero(zones == z)
        take = rows[np.linspace(0, len(rows) - 1, left).astype(int)] if len(rows) > left else rows
        want += take.tolist()
        left -= len(take)
    expect = whole["firm_id"].to_numpy()[sorted(want)].tolist()
    got = [f["properties"]["firm_id"] for f in res["map"]["features"]]
    assert got == expect
    inside = whole["firm_id"].to_numpy()[zones == "inside"].tolist()
    assert inside[0] in got  # the firm inside a built-up area is always drawn
    assert res["map_shown"]["inside"] == [1, 1]
    assert res["map_shown"]["beyond"] == [0 if most < 3 else 1, 1]
    assert sum(d for d, _ in res["map_shown"].values()) == most


def test_a_large_batch_is_written_during_the_request(monkeypatch):
    """Past LAZY_MAX_PROJECTS projects the downloads are written by the request itself (the
    result is not kept in memory), and are the same files as written lazily."""
    from sxzones.serve import work

    rows = b"project_id,lon,lat\nA,112.30,37.56\nB,113.05,36.20\n"
    form = {"crs": "wgs84", "industry": "coking"}
    app, state = create_app(ServeOptions(workers=0))
    try:
        with TestClient(app, base_url="http://127.0.0.1:8765") as c:
            lazy = c.post("/api/check", data=form, files={"file": ("p.csv", rows)}).json()
            monkeypatch.setattr(work, "LAZY_MAX_PROJECTS", 1)
            now = c.post("/api/check", data=form, files={"file": ("p.csv", rows)}).json()
            out = state.root / now["job"] / "out"
            assert sorted(p.name for p in out.iterdir()) == now["downloads"]
            assert not (state.root / lazy["job"] / "out").exists()
            for name in ("site_check.csv", "site_check.json", "report-A.html"):
                assert _download(c, now, name) == _download(c, lazy, name), name
    finally:
        state.close()


def test_a_stopped_worker_is_skipped():
    """A worker process that dies (killed, out of memory) takes its kept results with it:
    their downloads are a 404 with a message, and new requests go to the other worker."""
    form = {"coords": "112.30,37.56", "crs": "wgs84", "industry": "coking"}
    app, state = create_app(ServeOptions(workers=2))
    try:
        with TestClient(app, base_url="http://127.0.0.1:8765") as c:
            first = [c.post("/api/check", data=form).json()["job"] for _ in range(4)]
            lost = next(j for j in first if j.startswith("w0-"))
            state.workers.procs[0].kill()
            state.workers.procs[0].join()
            answers = [c.post("/api/check", data=form) for _ in range(4)]
            assert [r.status_code for r in answers] == [200] * 4
            assert all(r.json()["job"].startswith("w1-") for r in answers)
            r = c.get(f"/download/{lost}/site_check.csv")
            assert r.status_code == 404 and "stopped" in r.json()["error"]
    finally:
        state.close()


def test_surveying_table_coordinates_mapped_on_the_page(client):
    """X坐标/Y坐标 (X the northing) in Gauss-Krüger zone 38: the page offers x and y to map,
    and the firms land where their longitude and latitude say (太钢 inside Taiyuan)."""
    from pyproj import Transformer

    e, n = Transformer.from_crs(4490, 4526, always_xy=True).transform(112.55, 37.87)
    text = f"单位名称,行业,X坐标,Y坐标\n太原钢铁,钢铁,{n:.3f},{e:.3f}\n"
    files = {"file": ("名录.csv", text.encode("gbk"))}
    cols = client.post("/api/firms/columns", files=files).json()
    assert {"x", "y"} <= set(cols["fields"]) and "x" not in cols["found"]
    refused = client.post("/api/firms", data={"crs": "gk38"}, files=files)
    assert refused.status_code == 400  # the fix in the page's words: its 列对应 choices
    assert (
        "the northing: in the 列对应 Columns choices x = Y坐标, y = X坐标;"
        in refused.json()["error"]
    )
    form = {"crs": "gk38", "field_x": "Y坐标", "field_y": "X坐标"}
    res = client.post("/api/firms", data=form, files=files).json()
    assert res["counts"] == {"inside": 1}
    assert res["table"][0]["nearest_area_id"] == "BU140100"
    plain = {"file": ("名录.csv", "名称,经度,纬度,行业\n甲,112.55,37.87,钢铁\n".encode())}
    assert {"x", "y"} <= set(client.post("/api/firms/columns", files=plain).json()["found"])
