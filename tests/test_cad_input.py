"""Parcels drawn in CAD (红线图, .dxf): CAD draws a boundary as a closed polyline; texts,
dimension lines and open lines of the drawing are left out, counted. Known answer: the
parcel's area against pyproj.Geod on the same corners."""

from __future__ import annotations

import json
import warnings

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Geod, Transformer

from sxzones.cli import cli
from sxzones.errors import LayerError
from sxzones.layers import read_file

CORNERS = [(112.41, 38.11), (112.42, 38.11), (112.42, 38.12), (112.41, 38.12), (112.41, 38.11)]


def _dxf(path, closed=True):
    to_gk = Transformer.from_crs(4490, 4526, always_xy=True)
    pts = [to_gk.transform(lon, lat) for lon, lat in CORNERS]
    geoms = [shapely.LineString(pts[:2]), shapely.LineString(pts[1:4])]
    if closed:
        geoms.insert(0, shapely.LineString(pts))
    with warnings.catch_warnings():  # GDAL: a DXF has no CRS to write
        warnings.simplefilter("ignore")
        gpd.GeoDataFrame({"Layer": ["红线"] * len(geoms)}, geometry=geoms).to_file(
            path, driver="DXF"
        )
    return path


def test_a_cad_parcel_is_checked(tmp_path):
    p = _dxf(tmp_path / "红线图.dxf")
    res = CliRunner().invoke(
        cli,
        [
            "check", "--project", str(p), "--crs", "gk38", "--industry", "pv", "--reports",
            "none", "--out", str(tmp_path / "o"),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (
        "CAD drawing: 1 closed polyline(s) read as parcels; 2 other entities (open lines, "
        "texts, points) left out"
    ) in res.output
    proj = json.loads((tmp_path / "o" / "site_check.json").read_text("utf-8"))["projects"][0]
    assert [r["redline_id"] for r in proj["redline"]] == ["RL140100"]
    lon, lat = zip(*CORNERS, strict=True)
    geodesic = abs(Geod(ellps="GRS80").polygon_area_perimeter(lon, lat)[0])
    # straight edges in Gauss-Krüger against geodesic ones: within 0.1 % on a 1 km parcel
    assert proj["area_m2"] == pytest.approx(geodesic, rel=1e-3)


def test_a_drawing_without_a_closed_polyline_is_refused(tmp_path):
    p = _dxf(tmp_path / "lines.dxf", closed=False)
    with pytest.raises(LayerError, match="the drawing holds no closed polyline or polygon"):
        read_file(p, crs="gk38")


def test_a_hatched_parcel_is_one_parcel(tmp_path):
    """Red-line drawings fill the parcel with a hatch: GDAL reads the HATCH as a polygon
    equal to the closed polyline, and the parcel was checked twice."""
    to_gk = Transformer.from_crs(4490, 4526, always_xy=True)
    pts = [to_gk.transform(lon, lat) for lon, lat in CORNERS]
    geoms = [shapely.LineString(pts), shapely.Polygon(pts)]  # GDAL writes a polygon as a HATCH
    p = tmp_path / "hatched.dxf"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gpd.GeoDataFrame({"Layer": ["红线", "填充"]}, geometry=geoms).to_file(p, driver="DXF")
    raw = read_file(p, crs="gk38")
    assert len(raw.frame) == 1
    assert any("1 hatch(es) on those polylines left out" in n for n in raw.notes)
