"""Eighth audit, B8: the pages' upload limit counted a workbook's FIRST sheet (a GeoPackage's
first layer), not the one the sheet or layer field (工作表或图层) names: a 50-firm sheet after
300 rows of instructions was refused, a 500-firm sheet after a 5-row one passed a limit of
100. Real workbooks and GeoPackages written here, through the pages' API."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

pytest.importorskip("starlette")
from starlette.testclient import TestClient

from sxzones.options import ServeOptions
from sxzones.serve import create_app
from sxzones.serve.uploads import Limits, UploadError, check_limits


def _workbook(path, first, firms):
    """Sheet ``first[0]`` of ``first[1]`` rows of instructions (no coordinates), then sheet
    企业 of ``firms`` steel plants in Taiyuan (WGS84 degrees)."""
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.title = first[0]
    ws.append(["填表说明"])
    for k in range(first[1]):
        ws.append([f"第{k + 1}条：按要求填写"])
    ws = book.create_sheet("企业")
    ws.append(["企业编号", "企业名称", "行业", "经度", "纬度"])
    for k in range(firms):
        ws.append([f"F{k + 1}", f"钢厂{k + 1}", "钢铁", 112.5 + k * 1e-4, 37.8])
    book.save(path)
    return path


@pytest.fixture(scope="module")
def client():
    app, state = create_app(ServeOptions(max_features=100))
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        yield c
    state.close()


def test_the_chosen_sheet_is_counted_against_the_limit(client, tmp_path):
    """The 50 firms of the chosen sheet are screened; the 500 firms of another workbook's
    chosen sheet are refused, the sheet named; with no sheet named, all sheets count."""
    small = _workbook(tmp_path / "firms_sheets.xlsx", ("说明", 300), 50)
    files = {"file": ("firms_sheets.xlsx", small.read_bytes())}
    res = client.post("/api/firms", data={"crs": "wgs84", "layer": "企业"}, files=files)
    assert res.status_code == 200, res.text
    assert res.json()["rows"] == 50
    big = _workbook(tmp_path / "big2.xlsx", ("样例", 5), 500)
    files = {"file": ("big2.xlsx", big.read_bytes())}
    res = client.post("/api/firms", data={"crs": "wgs84", "layer": "企业"}, files=files)
    assert res.status_code == 400
    assert "'big2.xlsx' (sheet '企业') holds 500 features (limit 100)" in res.json()["error"]
    res = client.post("/api/firms", data={"crs": "wgs84"}, files=files)
    assert res.status_code == 400
    error = res.json()["error"]
    assert "'big2.xlsx' (2 sheet(s)) holds 505 features (limit 100)" in error
    assert "name the sheet to read (工作表或图层)" in error


def test_the_chosen_layer_of_a_geopackage_is_counted(tmp_path):
    """A GeoPackage's named layer is counted, not its first; without a name, the first
    (the layer the readers read); a name the file lacks is left to the readers to refuse."""
    path = tmp_path / "two.gpkg"
    for name, n in (("few", 3), ("many", 150)):
        squares = [
            shapely.box(112.5 + k * 1e-3, 37.8, 112.5005 + k * 1e-3, 37.8005) for k in range(n)
        ]
        gpd.GeoDataFrame({"k": range(n)}, geometry=squares, crs=4490).to_file(path, layer=name)
    limits = Limits(max_features=100)
    check_limits(path, limits)  # the first layer: 3
    check_limits(path, limits, "few")
    check_limits(path, limits, "none_such")
    with pytest.raises(UploadError, match=r"'two.gpkg' \(layer 'many'\) holds 150 features"):
        check_limits(path, limits, "many")
    with pytest.raises(UploadError, match=r"holds 750 vertices \(limit 500\)"):
        check_limits(path, Limits(max_vertices=500), "many")  # 150 squares of 4 + 1 corners
