"""A layer read from several files is identified by all of them (audit 10 D7): a shapefile's
``.dbf`` holds its names and types, its ``.prj`` its CRS, so the manifest, the sources sheet
and the GeoPackage metadata record each file's SHA-256 and a digest of their list, not the
``.shp``'s alone; and the site check's manifest names the layers it read.

Known answers: each file's SHA-256 computed here with hashlib, the list's digest as
``sha256sum`` prints it (``<digest>  <name>`` lines, by name) hashed again, the catalogue
files' own digests."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from click.testing import CliRunner

from sxzones.cli import cli
from sxzones.layers import load_catalog
from sxzones.outputs import Publication, files_digest, hash_ahead, layer_files

from .conftest import CATALOG, ROOT

DERIVED = ROOT / "layers" / "shanxi" / "derived"
SHP_PARTS = ["建成区.cpg", "建成区.dbf", "建成区.prj", "建成区.shp", "建成区.shx"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _list_digest(folder: Path, names: list[str]) -> str:
    """The digest of ``sha256sum NAMES`` run in ``folder`` (names sorted), computed here."""
    text = "".join(f"{_sha(folder / n)}  {n}\n" for n in sorted(names))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _builtup_shapefile(folder: Path, rename: str | None = None) -> Path:
    """Twenty demonstration built-up areas as a shapefile written by GDAL (UTF-8 ``.cpg``,
    ``.prj``); ``rename``: the first area's name, changed (the ``.dbf`` alone differs)."""
    frame = gpd.read_file(DERIVED / "builtup_demonstration.gpkg").head(20)
    frame = frame[["area_id", "name", "kind", "adcode", "geometry"]].to_crs(4490)
    if rename is not None:
        frame.loc[frame.index[0], "name"] = rename
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "建成区.shp"
    pyogrio.write_dataframe(frame, path, encoding="UTF-8")
    return path


def _firms(shp: Path, out: Path) -> dict:
    res = CliRunner().invoke(
        cli,
        [
            *("firms", "--firms", "firms", "--builtup", str(shp), "--catalog", str(CATALOG)),
            *("--out", str(out)),
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return next(e for e in doc["inputs"] if e["role"] == "builtup")


def _sources_row(out: Path) -> pd.Series:
    src = pd.read_excel(out / "firm_zones.xlsx", sheet_name="sources", dtype=str, engine="openpyxl")
    return src.fillna("").set_index("role").loc["builtup"]


def test_shapefile_is_recorded_by_every_file_and_the_dbf_counts(tmp_path):
    """The firm screen against an own shapefile: the manifest lists the five files, each with
    its hashlib digest, and the digest of their list; the sources sheet and the GeoPackage
    metadata give that digest and the files. Rewriting only the ``.dbf`` (one area's name)
    changes the recorded digest; the ``.shp`` (geometry) keeps its own."""
    shp = _builtup_shapefile(tmp_path / "in")
    folder = shp.parent
    assert sorted(p.name for p in folder.iterdir()) == SHP_PARTS
    entry = _firms(shp, tmp_path / "o1")
    assert entry["file"] == str(shp) and "sha256" not in entry  # not the .shp's alone
    assert [Path(f["file"]).name for f in entry["files"]] == SHP_PARTS
    for f in entry["files"]:
        assert f["sha256"] == _sha(Path(f["file"])) and f["size"] == Path(f["file"]).stat().st_size
    combined = _list_digest(folder, SHP_PARTS)
    assert entry["sha256_of_files"] == combined

    row = _sources_row(tmp_path / "o1")
    assert row["layer"] == "建成区.shp" and row["sha256"] == combined
    assert row["files"] == "; ".join(f"{n} {_sha(folder / n)}" for n in SHP_PARTS)
    meta = pyogrio.read_info(tmp_path / "o1" / "firm_zones.gpkg", layer="firm_zones")
    rows = json.loads(meta["layer_metadata"]["sxzones_sources"])
    builtup = next(r for r in rows if r["role"] == "builtup")
    assert (builtup["sha256"], builtup["files"]) == (combined, row["files"])

    # only the .dbf differs: the same geometry, one name changed
    other = _builtup_shapefile(tmp_path / "other", rename="改名建成区")
    assert _sha(other) == _sha(shp)  # the .shp is the same bytes
    old_dbf = _sha(folder / "建成区.dbf")
    shutil.copyfile(other.with_suffix(".dbf"), folder / "建成区.dbf")
    assert _sha(folder / "建成区.dbf") != old_dbf
    again = _firms(shp, tmp_path / "o2")
    digests = {Path(f["file"]).name: f["sha256"] for f in again["files"]}
    assert digests["建成区.dbf"] == _sha(folder / "建成区.dbf") != old_dbf
    assert digests["建成区.shp"] == _sha(shp)
    assert again["sha256_of_files"] == _list_digest(folder, SHP_PARTS) != combined
    assert _sources_row(tmp_path / "o2")["sha256"] == again["sha256_of_files"]


def test_file_geodatabase_folder_is_recorded_by_its_files(tmp_path):
    """A File Geodatabase (a folder of files written by GDAL's OpenFileGDB driver): every
    file in it, named relative to the folder in the list's digest."""
    gdb = tmp_path / "建成区.gdb"
    frame = gpd.read_file(DERIVED / "builtup_demonstration.gpkg").head(5)
    pyogrio.write_dataframe(frame[["area_id", "geometry"]], gdb, driver="OpenFileGDB")
    names = sorted(p.relative_to(gdb).as_posix() for p in gdb.rglob("*") if p.is_file())
    assert len(names) > 3
    pub = Publication(tmp_path / "out", "test", [])
    pub.add_input("builtup", "建成区.gdb", gdb, loaded=5)
    (entry,) = pub.inputs
    assert [Path(f["file"]).relative_to(gdb).as_posix() for f in entry["files"]] == names
    assert all(f["sha256"] == _sha(Path(f["file"])) for f in entry["files"])
    assert entry["sha256_of_files"] == _list_digest(gdb, names)
    assert entry["loaded"] == 5 and "sha256" not in entry


def test_one_file_input_keeps_its_keys(tmp_path):
    """A single-file input is recorded as before (``file``, ``size``, ``sha256``), so
    readers of earlier manifests keep working; no path, or a path that is no file, records
    none (as before)."""
    p = tmp_path / "firms.csv"
    p.write_text("name,lon,lat\nA,112.5,37.8\n", encoding="utf-8")
    pub = Publication(tmp_path / "out", "test", [])
    pub.add_input("firms", "firms.csv", p, rows_read=1)
    pub.add_input("projects", "projects", None)  # drawn or pasted: no file
    pub.add_input("zones", "zones", tmp_path / "gone.gpkg")
    assert pub.inputs == [
        {"role": "firms", "name": "firms.csv", "file": str(p), "size": p.stat().st_size,
         "sha256": _sha(p), "rows_read": 1},
        {"role": "projects", "name": "projects"},
        {"role": "zones", "name": "zones"},
    ]  # fmt: skip
    assert layer_files(p) == [p] and layer_files(tmp_path / "none.shp") == []


def test_hash_ahead_hashes_the_sidecars(tmp_path):
    """Hashing ahead covers a shapefile's every file: the manifest then reads the digests
    without reading the files again, and gets the same answers."""
    shp = _builtup_shapefile(tmp_path / "in")
    hash_ahead([shp]).join()
    pub = Publication(tmp_path / "out", "test", [])
    pub.add_input("builtup", "建成区.shp", shp)
    files = pub.inputs[0]["files"]
    assert {Path(f["file"]).name: f["sha256"] for f in files} == {
        n: _sha(shp.parent / n) for n in SHP_PARTS
    }
    assert files_digest(shp, files) == _list_digest(shp.parent, SHP_PARTS)


def test_check_manifest_lists_the_layers_it_read(tmp_path):
    """``sxzones check``'s manifest names the projects, each catalogue layer the check read
    (role, name, file, its SHA-256 by hashlib, rows) and the rules file."""
    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli,
        [
            *("check", "--project", "112.55,37.87", "--crs", "wgs84", "--industry", "steel"),
            *("--catalog", str(CATALOG), "--out", str(out), "--reports", "none"),
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    roles = [e["role"] for e in doc["inputs"]]
    assert roles == ["projects", "control_units", "redline", "builtup", "zones", "admin", "rules"]
    cat = load_catalog(CATALOG)
    for e in doc["inputs"][1:-1]:
        assert e["name"] == cat.layer_of_role(e["role"])
        path = Path(cat.entry(e["name"]).path)
        assert Path(e["file"]) == path and e["sha256"] == _sha(path)
        assert e["loaded"] == e["rows_read"] > 0 and e["rejected"] == 0
    assert doc["inputs"][-1]["sha256"] == _sha(ROOT / "analyses" / "rules" / "shanxi-2023.toml")
