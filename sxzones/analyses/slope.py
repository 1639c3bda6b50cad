"""Slope of a DEM whose CRS is not the working CRS, computed on the DEM's own grid.

Warping the elevations to the working grid first and taking the slope there is not exact:
GDAL's bilinear warp of an inclined plane makes ripples, and a 19 degree plane read that way
had 4.5 % of its cells over 20 degrees (nearest neighbour: 26 %). Here the slope is taken by
Horn's method on the DEM's own cells, with their sizes on the ground (geographic DEMs: per
row, on the ellipsoid; projected ones: through the projection's scale at the tile), and only
the slope is then resampled (bilinear) onto the working grid: a plane's slope is constant,
so it comes out exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio.warp
from affine import Affine
from pyproj import CRS, Geod, Proj
from rasterio.enums import Resampling
from rasterio.windows import Window

__all__ = ["native_slope"]

F32 = npt.NDArray[np.float32]
#: Source cells read around the tile: Horn's 3 x 3 kernel and bilinear resampling.
MARGIN = 3


def _ground_sizes(
    crs: CRS, t: Affine, rows: npt.NDArray[np.float64], x_mid: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Ground size (m) of the cells of ``rows`` (centre y of each row, in ``crs``) along x and
    y: on the ellipsoid for a geographic CRS, through the projection's scale otherwise."""
    if crs.is_geographic:
        geod = crs.get_geod() or Geod(ellps="GRS80")
        lon = np.full(len(rows), x_mid)
        _, _, dx = geod.inv(lon - t.a / 2, rows, lon + t.a / 2, rows)
        _, _, dy = geod.inv(lon, rows - t.e / 2, lon, rows + t.e / 2)
        return np.asarray(dx, dtype=float), np.asarray(dy, dtype=float)
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    lon, lat = Proj(crs)(np.full(len(rows), x_mid), rows, inverse=True)
    f = Proj(crs).get_factors(lon, lat)
    dx = abs(t.a) * unit / np.asarray(f.parallel_scale, dtype=float)
    dy = abs(t.e) * unit / np.asarray(f.meridional_scale, dtype=float)
    return dx, dy


def _horn(
    z: npt.NDArray[np.float64], dx: npt.NDArray[np.float64], dy: npt.NDArray[np.float64]
) -> F32:
    """Horn's slope (degrees) of the inner cells; ``dx``, ``dy`` per inner row (metres)."""
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8.0 * dx[:, None])
    dzdy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8.0 * dy[:, None])
    return np.degrees(np.arctan(np.hypot(dzdx, dzdy))).astype(np.float32)


def native_slope(
    src: Any,
    dst_transform: Affine,
    shape: tuple[int, int],
    dst_crs: CRS,
    values: Callable[[npt.NDArray[Any]], npt.NDArray[Any]] | None = None,
) -> F32:
    """Slope in degrees on a grid of the working CRS (``dst_transform``, ``shape``) from the
    DEM ``src`` (an open dataset in another CRS, north-up), computed on the DEM's own cells.
    NaN where the DEM has no data or does not reach. ``values``: stored values (float, NaN
    for no data) to elevations in metres (undeclared no data, scale and offset:
    :meth:`sxzones.analyses.rasters.RasterCriterion.values`); default: the band's scale
    and offset."""
    h, w = shape
    out = np.full(shape, np.nan, dtype=np.float32)
    x0, y0 = dst_transform @ (0, 0)
    x1, y1 = dst_transform @ (w, h)
    src_crs = CRS.from_user_input(src.crs)
    west, south, east, north = rasterio.warp.transform_bounds(
        dst_crs, src_crs, min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1), densify_pts=21
    )
    st: Affine = src.transform
    c0 = max(math.floor((west - st.c) / st.a) - MARGIN, 0)
    c1 = min(math.ceil((east - st.c) / st.a) + MARGIN, src.width)
    r0 = max(math.floor((north - st.f) / st.e) - MARGIN, 0)
    r1 = min(math.ceil((south - st.f) / st.e) + MARGIN, src.height)
    if c1 - c0 < 3 or r1 - r0 < 3:
        return out
    win = Window(c0, r0, c1 - c0, r1 - r0)
    z = np.ma.filled(src.read(1, window=win, masked=True).astype(np.float64), np.nan)
    if values is not None:
        z = values(z)
    else:
        z = z * float(src.scales[0]) + float(src.offsets[0])
    wt = src.window_transform(win)
    rows = wt.f + wt.e * (np.arange(1, z.shape[0] - 1) + 0.5)
    dx, dy = _ground_sizes(src_crs, wt, rows, wt.c + wt.a * z.shape[1] / 2)
    slope = _horn(z, dx, dy)
    inner = wt @ Affine.translation(1, 1)
    rasterio.warp.reproject(
        slope,
        out,
        src_transform=inner,
        src_crs=src_crs,
        dst_transform=dst_transform,
        dst_crs=dst_crs,
        resampling=Resampling.bilinear,
        src_nodata=np.nan,
        dst_nodata=np.nan,
    )
    return out
