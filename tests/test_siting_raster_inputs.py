"""Rasters as agencies hand them over, read through GDAL by the siting screen: no-data values
that are not declared, a band scale (decimetres), a map picture given as a DEM, a resource
raster that covers part of a candidate, and one in the wrong unit."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from pyproj import Transformer
from rasterio.transform import from_origin

from sxzones.analyses.siting import RasterCriterion, screen_sites
from sxzones.errors import SxzonesError
from sxzones.rules import load_rules

from .conftest import WORK

RULES = load_rules()
CX, CY = 500_000.0, 4_200_000.0  # on the central meridian of the working CRS (k = 1)


def _cands(*geoms: shapely.Geometry) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"site_id": [f"S{i + 1}" for i in range(len(geoms))], "kind": "subsidence",
         "settled": True},
        geometry=list(geoms),
        crs=WORK,
    )  # fmt: skip


def _tif(path: Path, z: np.ndarray, res: float, origin=(CX - 3000, CY + 3000), crs=WORK,
         nodata=None, dtype="float32", scale=None, count=1):  # fmt: skip
    prof = {"driver": "GTiff", "width": z.shape[-1], "height": z.shape[-2], "count": count,
            "dtype": dtype, "crs": crs, "transform": from_origin(*origin, res, res),
            "nodata": nodata}  # fmt: skip
    with rasterio.open(path, "w", **prof) as ds:
        ds.write(z.astype(dtype).reshape(count, *z.shape[-2:]))
        if scale is not None:
            ds.scales, ds.offsets = (scale,), (0.0,)
    return path


def _screen(cands, *rasters):
    with ExitStack() as stack:
        crits = [
            RasterCriterion(stack.enter_context(rasterio.open(p)), kind, thr, name)
            for p, kind, thr, name in rasters
        ]
        return screen_sites(cands, [], RULES, rasters=crits, threads=1)


CAND = shapely.box(CX - 2400, CY - 2400, CX + 2400, CY + 2400)


@pytest.mark.parametrize(
    ("dtype", "hole", "shown"),
    [("float32", -9999.0, "-9999"), ("int16", -32768, "-32768"),
     ("float32", -3.4028234663852886e38, "-3.40282e+38")],
)  # fmt: skip
def test_an_undeclared_nodata_hole_is_unknown_with_a_warning(tmp_path, dtype, hole, shown):
    z = np.full((200, 200), 800.0)
    z[90:100, 90:100] = hole  # 10 x 10 cells without data, inside the candidate
    dem = _tif(tmp_path / "hole.tif", z, 30.0, dtype=dtype)  # no nodata tag
    r = _screen(_cands(CAND), (dem, "slope", 0.0, "slope"))
    s = r.sites.iloc[0]
    # as with the tag (test_siting.test_nodata_is_unknown_not_excluded): the hole and the
    # ring Horn's kernel cannot take are unknown; the flat rest is terrain I; nothing removed
    assert s["unknown_m2"] == pytest.approx(12 * 12 * 900, rel=1e-6)
    assert s["removed_slope_m2"] == 0 and s["slope_mean_deg"] == 0.0
    assert s["terrain_I_share"] == 1.0
    (w,) = [w for w in r.summary["warnings"] if "declares no nodata" in w]
    assert str(dem) in w and "100 cell(s)" in w and shown in w
    assert f"gdal_edit.py -a_nodata {shown}" in w


def test_a_dem_with_its_nodata_declared_gets_no_such_warning(tmp_path):
    z = np.full((200, 200), 800.0)
    z[90:100, 90:100] = -9999.0
    dem = _tif(tmp_path / "hole.tif", z, 30.0, nodata=-9999.0)
    r = _screen(_cands(CAND), (dem, "slope", 0.0, "slope"))
    assert r.sites["unknown_m2"].iat[0] == pytest.approx(12 * 12 * 900, rel=1e-6)
    assert not [w for w in r.summary["warnings"] if "declares no nodata" in w]


def _plane(deg: float, n: int = 200, res: float = 30.0) -> np.ndarray:
    col = (np.arange(n) + 0.5) * res  # ground metres east (k = 1 here)
    return np.tile(1000.0 + np.tan(np.radians(deg)) * col, (n, 1))


def test_a_dem_in_decimetres_with_a_scale_gives_its_slope(tmp_path):
    dm = np.round(_plane(5.0) * 10)  # int16 decimetres, scale 0.1: 1000.0 m is 10000
    dem = _tif(tmp_path / "dm.tif", dm, 30.0, dtype="int16", scale=0.1)
    with rasterio.open(dem) as ds:
        assert ds.scales == (0.1,) and ds.read(1).max() > 10000
    s = _screen(_cands(CAND), (dem, "slope", 0.0, "slope")).sites.iloc[0]
    assert s["slope_mean_deg"] == pytest.approx(5.0, abs=0.01)  # read unscaled: 41 deg
    assert s["removed_slope_m2"] == 0 and s["terrain_II_share"] == 1.0


def test_a_scaled_dem_in_another_crs_gives_its_slope(tmp_path):
    """The warped path takes the slope on the DEM's own cells: scaled there too."""
    to_ll = Transformer.from_crs(WORK, 4490, always_xy=True)
    lon0, lat0 = to_ll.transform(CX, CY)
    res, n = 1 / 3600, 400
    lats = lat0 + (n / 2 - (np.arange(n) + 0.5)) * res
    north_m = (lats - lat0) * (np.pi / 180) * 6_364_000  # metres of latitude near 37.9 N
    z = np.tile((1000 + np.tan(np.radians(8.0)) * north_m)[:, None], (1, n))
    dem = _tif(tmp_path / "ll.tif", np.round(z * 10), res, (lon0 - n / 2 * res,
               lat0 + n / 2 * res), 4490, dtype="int16", scale=0.1)  # fmt: skip
    cand = shapely.box(CX - 1000, CY - 1000, CX + 1000, CY + 1000)
    s = _screen(_cands(cand), (dem, "slope", 0.0, "slope")).sites.iloc[0]
    assert s["slope_mean_deg"] == pytest.approx(8.0, abs=0.1)


def test_a_resource_raster_with_a_scale_is_read_scaled(tmp_path):
    z = np.full((60, 60), 150.0)  # 150 x 10 = 1500 kWh/m² per year
    ghi = _tif(tmp_path / "ghi.tif", z, 100.0, dtype="int16", scale=10.0)
    s = _screen(_cands(CAND), (ghi, "minimum", 1400.0, "resource_ghi")).sites.iloc[0]
    assert s["resource_ghi_mean"] == pytest.approx(1500.0)
    assert s["removed_resource_ghi_m2"] == 0


@pytest.mark.parametrize("kind", ["slope", "minimum"])
def test_a_map_picture_is_refused_as_a_raster(tmp_path, kind):
    rgb = np.stack([np.full((50, 50), v) for v in (120, 200, 90)])
    pic = _tif(tmp_path / "map.tif", rgb, 100.0, dtype="uint8", count=3)
    with rasterio.open(pic) as ds:
        assert ds.count == 3 and ds.colorinterp[0].name == "red"
    what = "elevations" if kind == "slope" else "values"
    with pytest.raises(SxzonesError, match=f"3 band.*an image, not {what}.*Fix"):
        _screen(_cands(CAND), (pic, kind, 1400.0 if kind == "minimum" else 0.0, "r"))


def test_resource_land_beyond_the_raster_edge_is_unknown_not_removed(tmp_path):
    """A lon/lat resource raster whose east edge crosses the candidate: every cell fails the
    minimum, and the land past the edge is not assessed (not removed up to half a cell
    beyond it, as nearest resampling would)."""
    to_ll = Transformer.from_crs(WORK, 4490, always_xy=True)
    lon0, lat0 = to_ll.transform(CX - 3000, CY + 3000)
    edge, _ = to_ll.transform(CX, CY)  # east edge of the raster: x = CX on the ground
    res = 0.005  # about 440 m east-west
    w = round((edge - lon0) / res)
    edge = lon0 + w * res
    ghi = _tif(tmp_path / "ghi_ll.tif", np.full((30, w), 1300.0), res, (lon0, lat0), 4490,
               nodata=-1.0)  # fmt: skip
    r = _screen(_cands(CAND), (ghi, "minimum", 1400.0, "resource_ghi"))
    s = r.sites.iloc[0]
    removed = r.removed[r.removed["reason"] == "resource_ghi"].to_crs(4490)
    assert removed.total_bounds[2] <= edge + 1e-9  # nothing removed past the raster's edge
    assert s["removed_resource_ghi_m2"] + s["unknown_m2"] == pytest.approx(
        s["candidate_m2"], rel=1e-6
    )
    assert s["removed_resource_ghi_m2"] > 0.3 * s["candidate_m2"]
    (w1,) = [x for x in r.summary["warnings"] if "reaches the minimum" in x]
    assert "ghi_ll.tif" in w1 and "1400" in w1 and "largest is 1300" in w1 and "unit" in w1


def test_a_resource_raster_that_reaches_the_minimum_gets_no_unit_warning(tmp_path):
    z = np.full((60, 60), 1500.0)
    z[:, :30] = 1200.0
    ghi = _tif(tmp_path / "ghi.tif", z, 100.0, nodata=-1.0)
    r = _screen(_cands(CAND), (ghi, "minimum", 1400.0, "resource_ghi"))
    assert not [x for x in r.summary["warnings"] if "reaches the minimum" in x]
    assert r.sites["removed_resource_ghi_m2"].iat[0] == pytest.approx(
        0.5 * r.sites["candidate_m2"].iat[0], rel=1e-6
    )


def test_zh_tables_name_every_column_of_a_dem_run_and_one_name_per_kind(tmp_path):
    """--lang zh: the slope, terrain, resolution and score columns have Chinese headers,
    是否稳沉 reads 是/否, and the kind's Chinese name is the vocabulary's (one name)."""
    import json

    import pandas as pd
    from click.testing import CliRunner

    from sxzones.cli import cli

    from .conftest import CATALOG

    to_ll = Transformer.from_crs(WORK, 4490, always_xy=True)
    dem = _tif(tmp_path / "dem.tif", _plane(5.0, n=400), 30.0, origin=(CX - 6000, CY + 6000),
               nodata=-9999.0)  # fmt: skip
    feats = []
    for sid, settled, dx in (("S1", "是", -3000), ("S2", "否", 1000)):
        x0, y0 = CX + dx, CY - 1000
        ring = [list(to_ll.transform(x, y)) for x, y in
                ((x0, y0), (x0 + 2000, y0), (x0 + 2000, y0 + 2000), (x0, y0 + 2000), (x0, y0))]  # fmt: skip
        feats.append({"type": "Feature", "properties": {"编号": sid, "类型": "采煤沉陷区",
                      "是否稳沉": settled}, "geometry": {"type": "Polygon", "coordinates": [ring]}})  # fmt: skip
    cands = tmp_path / "c.geojson"
    cands.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli, ["sites", "--candidates", str(cands), "--tech", "pv", "--dem", str(dem), "--catalog",
              str(CATALOG), "--out", str(out), "--lang", "zh"], catch_exceptions=False,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    t = pd.read_csv(out / "eligible_sites.csv", encoding="utf-8-sig", dtype=str)
    ascii_headers = [c for c in t.columns if c.isascii()]
    assert ascii_headers == [], ascii_headers
    assert t["是否稳沉"].tolist() == ["是", "否"]
    assert t["类型"].tolist() == t["类型中文名"].tolist() == ["采煤沉陷区"] * 2
    assert [float(v) for v in t["平均坡度（度）"]] == pytest.approx([5.0, 5.0], abs=0.01)
    assert t["II 类地形比例"].tolist() == ["1", "1"] and t["坡度得分"].notna().all()


def test_a_dem_on_the_xian_1980_datum_is_noted_as_vector_layers_are(tmp_path):
    to_x80 = Transformer.from_crs(WORK, 2362, always_xy=True)  # Xi'an 1980 3-degree GK zone 38
    x0, y0 = to_x80.transform(CX - 3000, CY + 3000)
    dem = _tif(tmp_path / "x80.tif", _plane(5.0), 30.0, origin=(x0, y0), crs=2362, nodata=-9999.0)
    r = _screen(_cands(shapely.box(CX - 1500, CY - 1500, CX + 1500, CY + 1500)),
                (dem, "slope", 0.0, "slope"))  # fmt: skip
    assert r.sites["slope_mean_deg"].iat[0] == pytest.approx(5.0, abs=0.1)
    (w,) = [w for w in r.summary["warnings"] if "Xian 1980" in w]
    assert "x80.tif" in w and "approximated" in w and "CGCS2000" in w


def test_a_dem_with_an_alpha_band_is_read_through_it_or_refused(tmp_path):
    """gdalwarp -dstalpha writes elevations and an alpha band: of 16-bit integers GDAL reads
    the alpha as the mask (cells it hides are unknown); of floats it does not, and the
    hidden cells would be read as elevations: refused with the fix."""

    def write(dtype: str) -> Path:
        z = np.stack([np.round(_plane(5.0)), np.full((200, 200), 255.0)])
        z[1, 90:100, 90:100] = 0  # 10 x 10 cells hidden by the alpha band
        path = tmp_path / f"alpha_{dtype}.tif"
        prof = {"driver": "GTiff", "width": 200, "height": 200, "count": 2, "dtype": dtype,
                "crs": WORK, "transform": from_origin(CX - 3000, CY + 3000, 30.0, 30.0),
                "photometric": "MINISBLACK", "alpha": "YES"}  # fmt: skip
        with rasterio.open(path, "w", **prof) as ds:
            ds.write(z.astype(dtype))
        return path

    path = write("uint16")
    with rasterio.open(path) as ds:
        assert [c.name for c in ds.colorinterp] == ["gray", "alpha"]
    s = _screen(_cands(CAND), (path, "slope", 0.0, "slope")).sites.iloc[0]
    assert s["slope_mean_deg"] == pytest.approx(5.0, abs=0.05)  # whole metres: +-0.5 m
    assert s["unknown_m2"] == pytest.approx(12 * 12 * 900, rel=1e-6)
    with pytest.raises(SxzonesError, match="alpha band of float32.*-dstnodata"):
        _screen(_cands(CAND), (write("float32"), "slope", 0.0, "slope"))
