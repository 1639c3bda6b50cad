"""Exclusion and grid layers as planners receive them, read through GDAL by ``sxzones
sites``: a village list of 经度/纬度 and a shapefile without .prj get their CRS after the path
(``--crs`` is the candidates'), and an official file named like a rule's reason is refused
with the clash and the ways out."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from sxzones.cli import cli

from .conftest import CATALOG

VILLAGES = [(112.51, 37.61), (112.52, 37.61)]  # about 880 m apart: the circles do not meet


def _cands(tmp_path: Path) -> Path:
    ring = [[112.50, 37.60], [112.53, 37.60], [112.53, 37.62], [112.50, 37.62], [112.50, 37.60]]
    feat = {"type": "Feature", "properties": {"编号": "C1", "类型": "采煤沉陷区"},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}  # fmt: skip
    p = tmp_path / "cands.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": [feat]}), "utf-8")
    return p


def _sites(tmp_path: Path, *extra: str):
    out = tmp_path / "o"
    shutil.rmtree(out, ignore_errors=True)
    args = ["sites", "--candidates", str(_cands(tmp_path)), "--tech", "pv", "--catalog",
            str(CATALOG), "--out", str(out), "--no-rule-exclusions", *extra]  # fmt: skip
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    table = (
        pd.read_csv(out / "eligible_sites.csv", encoding="utf-8-sig")
        if res.exit_code == 0
        else None
    )
    return res, table


def _village_csv(tmp_path: Path) -> Path:
    p = tmp_path / "villages.csv"
    p.write_text("村庄名称,经度,纬度\n" + "".join(f"V{i},{x},{y}\n" for i, (x, y) in
                 enumerate(VILLAGES)), "utf-8")  # fmt: skip
    return p


def _village_shp(tmp_path: Path) -> Path:
    p = tmp_path / "villages_noprj.shp"
    pts = gpd.GeoDataFrame({"name": ["V0", "V1"]}, geometry=shapely.points(VILLAGES), crs=4490)
    pts.to_file(p)
    p.with_suffix(".prj").unlink()
    return p


@pytest.mark.parametrize("make", [_village_csv, _village_shp])
def test_an_exclusion_without_a_crs_takes_it_after_its_path(tmp_path, make):
    p = make(tmp_path)
    res, _ = _sites(tmp_path, "--exclude", f"{p}:300m")
    assert res.exit_code == 2
    assert "declares no CRS" in res.output and "--exclude PATH@CRS:SETBACK" in res.output
    assert f"{p.name}@cgcs2000" in res.output and "--crs is the candidates' only" in res.output
    crs = "wgs84" if p.suffix == ".csv" else "EPSG:4490"  # a colon in the CRS too
    res, t = _sites(tmp_path, "--exclude", f"{p}@{crs}:300m")
    assert res.exit_code == 0, res.output
    # two whole circles of 300 m on the ground (the buffer contains each, by < 0.05 % of 300 m)
    assert t[f"removed_{p.stem}_m2"].iat[0] == pytest.approx(2 * math.pi * 300**2, rel=2e-3)


def test_a_grid_table_without_a_crs_takes_it_after_its_path(tmp_path):
    p = _village_csv(tmp_path)
    res, _ = _sites(tmp_path, "--grid", str(p))
    assert res.exit_code == 2 and "--grid PATH@CRS;" in res.output
    res, t = _sites(tmp_path, "--grid", f"{p}@wgs84")
    assert res.exit_code == 0, res.output
    assert t["grid_distance_m"].iat[0] == 0  # the substations lie in the candidate


def test_a_crs_after_the_path_must_be_one(tmp_path):
    p = _village_csv(tmp_path)
    res, _ = _sites(tmp_path, "--exclude", f"{p}@nowhere:300m")
    assert res.exit_code == 2 and "'nowhere' after @ is not a CRS" in res.output


@pytest.mark.parametrize("stem", ["redline", "water"])
def test_a_file_named_like_a_rules_reason_says_the_clash_and_the_fixes(tmp_path, stem):
    zone = shapely.box(112.505, 37.605, 112.515, 37.615)
    p = tmp_path / f"{stem}.gpkg"
    gpd.GeoDataFrame({"名称": ["x"]}, geometry=[zone], crs=4490).to_file(p)
    out = tmp_path / "o"
    args = ["sites", "--candidates", str(_cands(tmp_path)), "--tech", "pv", "--catalog",
            str(CATALOG), "--out", str(out), "--exclude", str(p)]  # fmt: skip
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 2
    assert f"the file's name {stem!r} is the reason of rule siting_exclude_{stem}" in res.output
    assert f"{stem}_2026.gpkg" in res.output and "--no-rule-exclusions" in res.output
    renamed = p.rename(tmp_path / f"{stem}_2026.gpkg")  # the first fix works
    res = CliRunner().invoke(cli, [*args[:-1], str(renamed)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    t = pd.read_csv(out / "eligible_sites.csv", encoding="utf-8-sig")
    assert t[f"removed_{stem}_2026_m2"].iat[0] > 0.9e6  # about 0.98 km², all in the candidate


def test_a_repaired_exclusion_polygon_is_said_with_its_layer(tmp_path):
    bow = [[112.505, 37.605], [112.515, 37.615], [112.515, 37.605], [112.505, 37.615],
           [112.505, 37.605]]  # fmt: skip
    feat = {"type": "Feature", "properties": {"名称": "bow"},
            "geometry": {"type": "Polygon", "coordinates": [bow]}}  # fmt: skip
    p = tmp_path / "zones.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": [feat]}), "utf-8")
    res, t = _sites(tmp_path, "--exclude", str(p))
    assert res.exit_code == 0, res.output
    head = res.output.index("zones.geojson (context)")
    assert "repaired: invalid geometry repaired with make_valid" in res.output[head:]
    # make_valid's two triangles: half of the 0.01 x 0.01 degree square, all in the candidate
    square = shapely.box(112.505, 37.605, 112.515, 37.615)
    from pyproj import Geod

    half = abs(Geod(ellps="GRS80").geometry_area_perimeter(shapely.segmentize(square, 1e-4))[0]) / 2
    assert t["removed_zones_m2"].iat[0] == pytest.approx(half, rel=1e-4)
