"""Raster criteria for the siting screen, read window by window in the working CRS.

A raster is opened once; when its CRS is not the working CRS it is seen through a GDAL
warped VRT in the working CRS (bilinear for elevation, nearest for other values), so every
window is on a north-up grid in metres of the working CRS. Windows cover one candidate at a
time and are cut into tiles of at most ``TILE`` x ``TILE`` cells, so memory stays bounded
whatever the raster's size (a province at 30 m is about 290 million cells).

Nodata is *unknown*, never excluded: the masks returned here keep "fails the criterion" and
"no data" apart.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.features
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from sxzones.errors import SxzonesError

__all__ = ["TILE", "RasterCriterion", "Tile", "horn_slope", "polygons_of"]

#: Largest tile edge in cells: a float32 tile is at most 16 MB.
TILE = 2048
F32 = npt.NDArray[np.float32]


@dataclass
class RasterCriterion:
    """A raster the siting screen applies.

    ``kind``: ``"slope"`` (a DEM; cells steeper than ``threshold`` degrees fail) or
    ``"minimum"`` (a resource raster such as irradiance or wind speed; cells below
    ``threshold`` fail). ``name`` is the reason reported for the cells that fail.
    """

    path: Path
    kind: str
    threshold: float
    name: str
    _ds: Any = field(default=None, repr=False)
    _src: Any = field(default=None, repr=False)

    def open(self, crs: CRS) -> None:
        """Open the raster on a grid of the working CRS (a warped VRT when needed)."""
        if self._ds is not None:
            return
        try:
            src = rasterio.open(self.path)
        except rasterio.errors.RasterioIOError as exc:
            raise SxzonesError(f"{self.path}: cannot open as a raster ({exc})") from None
        if src.crs is None:
            src.close()
            raise SxzonesError(
                f"{self.path}: the raster has no CRS; set one (gdal_edit.py -a_srs EPSG:4546)"
            )
        t = src.transform
        if t.b != 0 or t.d != 0 or t.e >= 0:
            src.close()
            raise SxzonesError(f"{self.path}: only north-up rasters are read (no rotation)")
        self._src = src
        if CRS.from_user_input(src.crs) == crs:
            self._ds = src
        else:
            method = Resampling.bilinear if self.kind == "slope" else Resampling.nearest
            self._ds = WarpedVRT(src, crs=crs.to_wkt(), resampling=method)

    def close(self) -> None:
        if self._ds is not None and self._ds is not self._src:
            self._ds.close()
        if self._src is not None:
            self._src.close()
        self._ds = self._src = None

    @property
    def resolution(self) -> tuple[float, float]:
        """Cell size (x, y) in working-CRS metres."""
        return abs(self._ds.transform.a), abs(self._ds.transform.e)

    def tiles(self, bounds: tuple[float, float, float, float], pad: int) -> Iterator[Tile]:
        """The tiles covering ``bounds``, each read with ``pad`` extra cells on every side
        (for the slope's 3 x 3 kernel); cells outside the raster are NaN."""
        ds = self._ds
        t: Affine = ds.transform
        minx, miny, maxx, maxy = bounds
        c0 = math.floor((minx - t.c) / t.a)
        c1 = math.ceil((maxx - t.c) / t.a)
        r0 = math.floor((maxy - t.f) / t.e)
        r1 = max(math.ceil((miny - t.f) / t.e), r0 + 1)  # at least one cell
        c1 = max(c1, c0 + 1)
        for rr in range(r0, r1, TILE):
            for cc in range(c0, c1, TILE):
                h, w = min(TILE, r1 - rr), min(TILE, c1 - cc)
                yield Tile(self._read(rr - pad, cc - pad, h + 2 * pad, w + 2 * pad), t, rr, cc, pad)

    def _read(self, row: int, col: int, h: int, w: int) -> F32:
        ds = self._ds
        out = np.full((h, w), np.nan, dtype=np.float32)
        r0, c0 = max(row, 0), max(col, 0)
        r1, c1 = min(row + h, ds.height), min(col + w, ds.width)
        if r1 <= r0 or c1 <= c0:
            return out
        a = ds.read(1, window=Window(c0, r0, c1 - c0, r1 - r0), masked=True)
        vals = np.ma.filled(a.astype(np.float32), np.nan)
        out[r0 - row : r1 - row, c0 - col : c1 - col] = vals
        return out


@dataclass
class Tile:
    """Values of one tile (NaN = no data) with ``pad`` cells of margin."""

    values: F32
    base: Affine
    row: int
    col: int
    pad: int

    @property
    def transform(self) -> Affine:
        """Transform of the unpadded tile."""
        return self.base @ Affine.translation(self.col, self.row)

    @property
    def inner(self) -> F32:
        p = self.pad
        return self.values[p : self.values.shape[0] - p, p : self.values.shape[1] - p]


def horn_slope(z: F32, dx: float, dy: float) -> F32:
    """Slope in degrees by Horn's method (as ``gdaldem slope``) for the inner cells of a
    padded grid; ``dx``, ``dy`` are cell sizes in ground metres. NaN where any of the nine
    cells is NaN (unknown, not flat)."""
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8.0 * dx)
    dzdy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8.0 * dy)
    centre = z[1:-1, 1:-1]
    s = np.degrees(np.arctan(np.hypot(dzdx, dzdy))).astype(np.float32)
    s[np.isnan(centre)] = np.nan
    return s


def polygons_of(mask: npt.NDArray[np.bool_], transform: Affine) -> shapely.Geometry | None:
    """The cells where ``mask`` is true as one (multi)polygon, or None when there are none."""
    if not mask.any():
        return None
    if mask.all():
        h, w = mask.shape
        x0, y0 = transform @ (0, 0)
        x1, y1 = transform @ (w, h)
        return shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    shapes = rasterio.features.shapes(
        mask.astype(np.uint8), mask=mask, transform=transform, connectivity=4
    )
    polys = [shapely.geometry.shape(g) for g, _ in shapes]
    return shapely.coverage_union_all(np.array(polys, dtype=object))  # cells never overlap
