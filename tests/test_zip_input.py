"""Zipped layers as agencies send them by e-mail: a shapefile's parts in a zip, its member
names in GBK when Windows made the zip. Read as unzipped; a zip of several layers, a zip bomb
and a broken member are refused naming the zip."""

from __future__ import annotations

import json
import zipfile

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner

from sxzones.cli import cli
from sxzones.errors import LayerError
from sxzones.layers import read_file

IN_RL = shapely.box(112.41, 38.11, 112.42, 38.12)  # inside red line RL140100


def _shapefile(folder, stem="abcd"):
    folder.mkdir(exist_ok=True)
    gpd.GeoDataFrame({"XMMC": ["甲地块"], "HY": ["光伏"]}, geometry=[IN_RL], crs=4490).to_file(
        folder / f"{stem}.shp", encoding="gbk"
    )
    (folder / f"{stem}.cpg").unlink()  # as many exports: the .dbf alone says GBK, or nothing
    return sorted(folder.glob(f"{stem}.*"))


def _gbk_named_zip(tmp_path):
    """A zip whose member names are GBK bytes without the UTF-8 flag (Windows' own zips):
    written with an ASCII stand-in of the same length, then patched."""
    parts = _shapefile(tmp_path / "parts")
    z = tmp_path / "地块.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in parts:
            zf.write(f, f.name)
    data = z.read_bytes().replace(b"abcd", "地块".encode("gbk"))
    z.write_bytes(data)
    return z


def test_zipped_gbk_shapefile_is_checked(tmp_path):
    z = _gbk_named_zip(tmp_path)
    res = CliRunner().invoke(
        cli,
        [
            "check", "--projects", str(z), "--industry-field", "HY", "--reports", "none",
            "--out", str(tmp_path / "o"),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "zip member read: 地块.shp" in res.output
    doc = json.loads((tmp_path / "o" / "site_check.json").read_text(encoding="utf-8"))
    p = doc["projects"][0]
    assert p["verdict"] == "conflict" and [r["redline_id"] for r in p["redline"]] == ["RL140100"]
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["inputs"][0]["role"] == "projects"
    assert manifest["inputs"][0]["file"].endswith("地块.zip")  # the zip, hashed as given
    raw = read_file(z)
    assert raw.path == z and raw.frame["XMMC"].tolist() == ["甲地块"]


def test_a_zip_of_two_layers_is_refused(tmp_path):
    a, b = _shapefile(tmp_path / "a", "one"), _shapefile(tmp_path / "b", "two")
    z = tmp_path / "two.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in [*a, *b]:
            zf.write(f, f.name)
    with pytest.raises(LayerError, match=r"a zip must hold one layer; it holds one.shp, two.shp"):
        read_file(z)


def test_a_zip_made_on_a_mac(tmp_path):
    """macOS's Compress adds ``__MACOSX/._name`` for every file: such a zip was refused as
    holding two layers (``parcel.shp, ._parcel.shp``)."""
    parts = _shapefile(tmp_path / "p", "parcel")
    z = tmp_path / "mac.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in parts:
            zf.write(f, f"项目/{f.name}")
            zf.writestr(f"__MACOSX/项目/._{f.name}", b"\x00\x05\x16\x07 AppleDouble")
        zf.writestr("项目/.DS_Store", b"\x00")
    raw = read_file(z)
    assert raw.frame["XMMC"].tolist() == ["甲地块"]


def test_a_zip_bomb_is_refused(tmp_path):
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("x.csv", "w") as out:
        block = b"0" * (1 << 20)
        for _ in range(300):
            out.write(block)
    with pytest.raises(LayerError, match=r"bomb.zip: unpacks to 315 MB"):
        read_file(z)


def test_a_broken_member_is_named_by_the_zip(tmp_path):
    parts = _shapefile(tmp_path / "parts")
    z = tmp_path / "parcels.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in parts:
            if f.suffix != ".shx":
                zf.write(f, f.name)
            else:
                zf.writestr(f.name, b"not a shapefile part")
    with pytest.raises(LayerError) as err:
        read_file(z)
    assert str(z) in str(err.value) and "sxzones-zip-" not in str(err.value)
