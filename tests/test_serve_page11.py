"""The pages' kept record and refusals, audit 11: downloads name the uploads as the page's
command does (not the server's temporary copies), the reviewer page's ``site_check.gpkg``
is in its manifest, and refusals name the page's fields and the user's own file name."""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sxzones.cli import cli
from sxzones.options import ServeOptions
from sxzones.serve import create_app
from sxzones.serve.tasks import page_words


@pytest.fixture(scope="module")
def served() -> Iterator[Any]:
    from starlette.testclient import TestClient

    app, state = create_app(ServeOptions())
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        yield c, state
    state.close()


def _half_dem(path: Path) -> None:
    """A flat DEM (EPSG:4546, 1 km cells) over the west of Shanxi only (east to 560 km
    easting): candidates east of it are not assessed by it, which siting.json says."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    x0, y0, cell, nx, ny = 360_000.0, 4_560_000.0, 1000.0, 200, 800
    profile = {"driver": "GTiff", "width": nx, "height": ny, "count": 1, "dtype": "float32",
               "crs": "EPSG:4546", "transform": from_origin(x0, y0, cell, cell),
               "compress": "deflate"}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.full((ny, nx), 900.0, dtype="float32"), 1)


def _get(client: Any, job: str, name: str) -> bytes:
    res = client.get(f"/download/{job}/{name}")
    assert res.status_code == 200, res.text
    return bytes(res.content)


def test_siting_json_names_the_uploaded_dem_as_the_command_does(served, tmp_path, monkeypatch):
    """siting.json (raster sources, the coverage warning) and manifest.json named the server's
    copy ``/tmp/sxzones-serve-…/in/dem.tif``. They name ``dem.tif``, as the page's command
    does, and siting.json is that command's, run in a folder holding the DEM, byte for byte."""
    client, state = served
    _half_dem(tmp_path / "dem.tif")
    dem = (tmp_path / "dem.tif").read_bytes()
    res = client.post("/api/sites", data={"tech": "pv"}, files={"dem": ("dem.tif", dem)})
    assert res.status_code == 200, res.text
    body = res.json()
    page = _get(client, body["job"], "siting.json")
    manifest = json.loads(_get(client, body["job"], "manifest.json"))
    root = str(state.root)
    assert root not in page.decode("utf-8") and root not in json.dumps(manifest)
    assert root not in json.dumps(body["document"]) + body["summary"]
    doc = json.loads(page)
    assert [c["source"] for c in doc["raster_criteria"]] == ["dem.tif"]
    warned = [w for w in doc["totals"]["warnings"] if "does not cover all" in w]
    assert len(warned) == 1 and warned[0].startswith("raster slope (dem.tif) does not cover")
    (raster,) = [i for i in manifest["inputs"] if i["role"] == "raster"]
    assert raster["file"] == "dem.tif"
    assert raster["sha256"] == hashlib.sha256(dem).hexdigest()
    listed = {f["name"]: f["sha256"] for f in manifest["files"]}
    assert listed["siting.json"] == hashlib.sha256(page).hexdigest()  # follows the change
    # the shown command, run where the DEM is, writes the same siting.json
    args = shlex.split(body["command"])
    assert args[args.index("--dem") + 1] == "dem.tif"
    args[args.index("OUT")] = "cli"
    monkeypatch.chdir(tmp_path)
    ran = CliRunner().invoke(cli, args[1:])
    assert ran.exit_code == 0, ran.output
    assert (tmp_path / "cli" / "siting.json").read_bytes() == page
    cli_manifest = json.loads((tmp_path / "cli" / "manifest.json").read_text(encoding="utf-8"))
    assert cli_manifest["inputs"] == manifest["inputs"]
    assert cli_manifest["files"] == manifest["files"]


def _run_id(doc: dict[str, Any]) -> str:
    blank = {**doc, "run_id": ""}
    text = json.dumps(blank, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(text).hexdigest()[:16]


def test_firm_manifest_names_the_uploaded_list(served):
    client, state = served
    csv = "企业编号,企业名称,行业,经度,纬度\nF1,甲,水泥,112.55,37.87\nF2,乙,焦化,113.0,36.2\n"
    res = client.post(
        "/api/firms", data={"crs": "cgcs2000"}, files={"file": ("厂 list.csv", csv.encode())}
    )
    assert res.status_code == 200, res.text
    assert str(state.root) not in res.text
    manifest = json.loads(_get(client, res.json()["job"], "manifest.json"))
    (firms,) = [i for i in manifest["inputs"] if i["role"] == "firms"]
    assert firms["file"] == "厂_list.csv"  # the page's command: --firms 厂_list.csv
    args = shlex.split(res.json()["command"])
    assert args[args.index("--firms") + 1] == "厂_list.csv"
    assert str(state.root) not in json.dumps(manifest)
    assert manifest["run_id"] == _run_id(manifest)


def test_reviewer_gpkg_is_listed_in_the_manifest_as_the_pages_own(served, tmp_path):
    """The page offers site_check.gpkg, which ``sxzones check`` does not write; its manifest
    listed 10 files without it. It is listed with its size and SHA-256, said to be the
    page's, and the run_id is the manifest's own."""
    import pyogrio

    client, state = served
    csv = "project_id,经度,纬度,industry,kind\nA,112.55,37.87,chemical,industrial\n"
    res = client.post("/api/check", data={"crs": "cgcs2000"}, files={"file": ("p.csv", csv)})
    assert res.status_code == 200, res.text
    assert str(state.root) not in res.text
    job = res.json()["job"]
    assert "site_check.gpkg" in res.json()["downloads"]
    gpkg = _get(client, job, "site_check.gpkg")
    manifest = json.loads(_get(client, job, "manifest.json"))
    (entry,) = [f for f in manifest["files"] if f["name"] == "site_check.gpkg"]
    assert entry["sha256"] == hashlib.sha256(gpkg).hexdigest()
    assert entry["size"] == len(gpkg)
    assert entry["added_by"] == "page" and "not by `sxzones check`" in entry["what"]
    others = [f for f in manifest["files"] if f["name"] != "site_check.gpkg"]
    assert all("added_by" not in f for f in others)
    assert manifest["run_id"] == _run_id(manifest)
    (projects,) = [i for i in manifest["inputs"] if i["role"] == "projects"]
    assert projects["file"] == "p.csv"
    assert str(state.root) not in json.dumps(manifest)
    path = tmp_path / "site_check.gpkg"
    path.write_bytes(gpkg)
    assert pyogrio.read_dataframe(path)["project_id"].tolist() == ["A"]


def test_page_refusals_name_the_pages_fields(served):
    client, _ = served
    csv = "企业编号,企业名称,行业,x,y\nF1,甲,水泥,500000,4200000\n"
    res = client.post("/api/firms", files={"file": ("厂 list.csv", csv.encode())})
    assert res.status_code == 400
    error = res.json()["error"]
    assert "--crs" not in error and "坐标系 CRS field" in error, error
    assert error.startswith("厂 list.csv:"), error  # the user's name, not the copy's 厂_list
    empty = client.post("/api/firms", files={"file": ("空 文件.csv", b"")})
    assert empty.status_code == 400
    assert empty.json()["error"] == "'空 文件.csv' is empty. Fix: choose the right file"


@pytest.mark.parametrize(
    ("task", "message", "expected"),
    [
        (
            "firms",
            "f.csv: the file declares no CRS and none was given. Fix: pass one, e.g. --crs "
            "cgcs2000, --crs gcj02 (web maps), --crs gk38 (zone-prefixed eastings)",
            "f.csv: the file declares no CRS and none was given. Fix: choose one in the 坐标系 "
            "CRS field, e.g. cgcs2000, gcj02 (web maps), gk38 (zone-prefixed eastings)",
        ),
        (
            "check",
            "f.gpkg: no layer 'x'. Fix: name one of these with --layer",
            "f.gpkg: no layer 'x'. Fix: name one of these with the 工作表或图层 Sheet or layer field",
        ),
        (
            "sites",
            "c.shp: the file declares no CRS and none was given. Fix: pass one, e.g. --crs "
            "cgcs2000, --crs gk38",
            "c.shp: the file declares no CRS and none was given. Fix: give it in a .prj beside "
            "the file (zip the .shp with its .prj; this page has no 坐标系 field)",
        ),
        (
            "check",
            "Fix: choose the CAD layer with --layer or, on the reviewer page, in the 工作表或图层 "
            "Sheet or layer field",
            "Fix: choose the CAD layer with --layer or, on the reviewer page, in the 工作表或图层 "
            "Sheet or layer field",
        ),
        (
            "firms",
            "Fix: give both --field x=COLUMN and --field y=COLUMN",
            "Fix: give both in the 列对应 Columns choices x = COLUMN, y = COLUMN",
        ),
    ],
    ids=["crs_select", "layer_field", "planner_has_no_crs", "says_the_page_already", "columns"],
)
def test_page_words(task: str, message: str, expected: str) -> None:
    assert page_words(message, task) == expected


def test_zipped_candidates_are_named_as_the_command_names_them(served, tmp_path, monkeypatch):
    """A zipped shapefile is unpacked into a folder of the server's; siting.json's layer and
    the manifest's files named that folder. They name ``c.shp`` and its parts, as the shown
    command (``--candidates c.shp``) run beside the shapefile writes them."""
    import zipfile

    import geopandas as gpd
    import shapely

    client, state = served
    frame = gpd.GeoDataFrame(
        {"site_id": ["S1", "S2"], "kind": ["废弃矿山", "废弃矿山"]},
        geometry=[
            shapely.box(112.49, 38.0, 112.495, 38.005),
            shapely.box(112.6, 38.1, 112.61, 38.11),
        ],
        crs=4490,
    )
    frame.to_file(tmp_path / "c.shp", encoding="utf-8")
    with zipfile.ZipFile(tmp_path / "c.zip", "w") as zf:
        for part in sorted(tmp_path.glob("c.*")):
            if part.suffix != ".zip":
                zf.write(part, f"项目/{part.name}")
    every = ",".join(k["id"] for k in client.get("/api/setup").json()["siting"]["kinds"])
    res = client.post(
        "/api/sites",
        data={"tech": "pv", "kinds": every},
        files={"file": ("c.zip", (tmp_path / "c.zip").read_bytes())},
    )
    assert res.status_code == 200, res.text
    body = res.json()
    page = _get(client, body["job"], "siting.json")
    manifest = json.loads(_get(client, body["job"], "manifest.json"))
    assert str(state.root) not in page.decode("utf-8") + json.dumps(manifest) + res.text
    (cand,) = [i for i in manifest["inputs"] if i["role"] == "candidates"]
    assert cand["file"] == "c.shp"
    assert [f["file"] for f in cand["files"]] == ["c.cpg", "c.dbf", "c.prj", "c.shp", "c.shx"]
    args = shlex.split(body["command"])
    assert args[args.index("--candidates") + 1] == "c.shp"
    args[args.index("OUT")] = "cli"
    monkeypatch.chdir(tmp_path)
    ran = CliRunner().invoke(cli, args[1:])
    assert ran.exit_code == 0, ran.output
    assert (tmp_path / "cli" / "siting.json").read_bytes() == page
    cli_manifest = json.loads((tmp_path / "cli" / "manifest.json").read_text(encoding="utf-8"))
    assert cli_manifest["inputs"] == manifest["inputs"]
