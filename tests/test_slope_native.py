"""Slope of a DEM in another CRS than the working one: taken on the DEM's own cells, then
resampled. Known answers: inclined planes in CGCS2000 longitude/latitude and in UTM, their
slope computed independently from pyproj.Geod distances (a 19 degree plane warped first had
4.5 % of its cells over 20 degrees)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import CRS, Geod, Transformer
from rasterio.enums import Resampling
from rasterio.transform import from_origin
from rasterio.vrt import WarpedVRT

from sxzones.analyses.slope import native_slope

WORK = CRS.from_epsg(4546)
GEOD = Geod(ellps="GRS80")


def _write(path, z, crs, transform):
    with rasterio.open(
        path, "w", driver="GTiff", width=z.shape[1], height=z.shape[0], count=1,
        dtype="float64", crs=crs, transform=transform, nodata=-9999.0,
    ) as d:  # fmt: skip
        d.write(z, 1)


def _on_work_grid(path):
    """Slope on the grid the warped DEM would have in the working CRS."""
    with rasterio.open(path) as src, WarpedVRT(src, crs=WORK, resampling=Resampling.bilinear) as v:
        return native_slope(src, v.transform, (v.height, v.width), WORK)


@pytest.mark.parametrize("deg", [19.0, 21.0])
def test_a_geographic_plane(tmp_path, deg):
    """Height rises by the same step per 0.0002 degree of longitude; the slope of each row is
    atan(step / the row's cell width on the ellipsoid)."""
    res, lon0, lat0 = 0.0002, 112.094, 37.026
    dx_mid = GEOD.inv(112.11, 37.01, 112.11 + res, 37.01)[2]
    step = math.tan(math.radians(deg)) * dx_mid
    _, xx = np.mgrid[0:160, 0:160]
    p = tmp_path / "dem.tif"
    _write(p, 500 + xx * step, "EPSG:4490", from_origin(lon0, lat0, res, res))
    slope = _on_work_grid(p)
    inner = slope[10:-10, 10:-10]
    assert not np.isnan(inner).any()
    # every cell within the range of the rows' own slopes (widths vary with latitude)
    widths = [GEOD.inv(112.11, lat, 112.11 + res, lat)[2] for lat in (lat0, lat0 - 160 * res)]
    lo, hi = sorted(math.degrees(math.atan(step / w)) for w in widths)
    assert lo - 1e-3 <= float(inner.min()) and float(inner.max()) <= hi + 1e-3
    assert (inner > 20).all() if deg > 20 else (inner <= 20).all()


def test_a_utm_plane(tmp_path):
    """A plane in UTM zone 49N (grid metres): its ground slope is the grid slope less the
    projection's scale, measured here by Geod between cell centres."""
    x0, y0, cell = 600000.0, 4100000.0, 30.0
    grade = math.tan(math.radians(15.0))  # per grid metre
    _, xx = np.mgrid[0:120, 0:120]
    p = tmp_path / "utm.tif"
    _write(p, 800 + xx * cell * grade, "EPSG:32649", from_origin(x0, y0, cell, cell))
    slope = _on_work_grid(p)
    to_ll = Transformer.from_crs(32649, 4490, always_xy=True)
    a = to_ll.transform(x0 + 60 * cell, y0 - 60 * cell)
    b = to_ll.transform(x0 + 61 * cell, y0 - 60 * cell)
    ground = GEOD.inv(*a, *b)[2]
    want = math.degrees(math.atan(cell * grade / ground))
    r, c = slope.shape[0] // 2, slope.shape[1] // 2
    mid = slope[r - 5 : r + 5, c - 5 : c + 5]
    assert np.allclose(mid, want, atol=2e-3), (float(mid.min()), float(mid.max()), want)


def test_no_slope_where_the_dem_does_not_reach(tmp_path):
    _, xx = np.mgrid[0:50, 0:50]
    p = tmp_path / "dem.tif"
    _write(p, 500.0 + xx, "EPSG:4490", from_origin(112.0, 37.01, 0.0002, 0.0002))
    x, y = Transformer.from_crs(4490, WORK, always_xy=True).transform(112.5, 37.5)
    with rasterio.open(p) as src:
        s = native_slope(src, Affine(20, 0, x, 0, -20, y), (10, 10), WORK)
    assert np.isnan(s).all()
