"""The siting screen's raster helpers against GDAL: the cells whose centres are in a polygon
(numpy scanlines against GDAL's rasterisation), failing cells polygonised many tiles at a
time (against one GDAL call per tile), and windows read without a mask band."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import rasterio.features
import shapely
from rasterio.transform import from_origin

from sxzones.analyses.rasters import (
    _nodata_as,
    _read,
    centres_in,
    polygons_of,
    polygons_of_many,
)

T = from_origin(500_000.0, 4_200_000.0, 30.0, 30.0)  # cell centres at x = 500,015 + 30 k


def _gdal(geom: shapely.Geometry, shape: tuple[int, int]) -> np.ndarray:
    return rasterio.features.geometry_mask([geom], shape, T, invert=True, all_touched=False)


def _shapes() -> list[shapely.Geometry]:
    """Blobs, a polygon with holes, several parts, shapes past the grid, and ties: edges and
    vertices exactly on rows and columns of cell centres, walked both ways."""
    x0, y0 = 500_000.0, 4_200_000.0
    rng = np.random.default_rng(3)
    out = []
    for _ in range(40):
        cx, cy = x0 + rng.uniform(-300, 2100), y0 - rng.uniform(-300, 2100)
        t = np.linspace(0, 2 * np.pi, 37, endpoint=False)
        rad = rng.uniform(80, 900) * (1 + 0.3 * np.sin(3 * t + rng.uniform(0, 6)))
        out.append(shapely.Polygon(np.c_[cx + rad * np.cos(t), cy + rad * np.sin(t)]))
    on_centres = shapely.box(x0 + 75, y0 - 735, x0 + 615, y0 - 165)  # every edge on centres
    out += [on_centres, shapely.orient_polygons(on_centres, exterior_cw=True)]
    out.append(shapely.box(x0 + 60, y0 - 720, x0 + 600, y0 - 180))  # on cell edges
    out.append(shapely.Polygon([(x0 + 15, y0 - 15), (x0 + 915, y0 - 15), (x0 + 465, y0 - 915)]))
    holed = shapely.box(x0 + 100, y0 - 1900, x0 + 1900, y0 - 100)
    for hx in (400, 1000):
        holed = holed.difference(shapely.box(x0 + hx + 15, y0 - 1215, x0 + hx + 315, y0 - 615))
    out.append(holed)
    out.append(shapely.MultiPolygon([shapely.box(x0 - 50, y0 - 200, x0 + 200, y0 + 40),
                                     shapely.box(x0 + 1500, y0 - 2300, x0 + 2000, y0 - 1700)]))  # fmt: skip
    return out


@pytest.mark.parametrize("shape", [(64, 64), (50, 80)])
def test_centres_in_burns_the_cells_gdal_burns(shape):
    for g in _shapes():
        expected = _gdal(g, shape)
        np.testing.assert_array_equal(centres_in(g, shape, T), expected, err_msg=g.wkt[:80])
    assert _gdal(_shapes()[-2], shape).sum() > 500  # the test sees cells, not empty grids


def test_centres_in_counts_a_known_square():
    # 18 x 19 centres inside a square whose edges run between them
    g = shapely.box(500_000.0 + 61, 4_200_000.0 - 599, 500_000.0 + 599, 4_200_000.0 - 31)
    assert centres_in(g, (40, 40), T).sum() == 18 * 19
    assert not centres_in(shapely.Polygon(), (40, 40), T).any()


def _masks() -> tuple[list[np.ndarray], list]:
    rng = np.random.default_rng(11)
    masks, tfs = [], []
    for i in range(30):
        h, w = rng.integers(1, 90, 2)
        field = rng.random((h + 8, w + 8))
        smooth = sum(field[a : a + h, b : b + w] for a in range(8) for b in range(8)) / 64
        m = smooth > 0.5
        if i == 3:
            m[:] = True  # every cell: one box
        if i == 4:
            m[:] = False
        masks.append(m)
        tfs.append(T @ T.translation(int(rng.integers(-50, 500)), int(rng.integers(-50, 500))))
    masks.append(np.ones((600, 20), bool) ^ (np.arange(20) % 3 == 0))  # taller than a stack
    tfs.append(T)
    return masks, tfs


def test_polygons_of_many_are_those_of_one_call_per_tile():
    masks, tfs = _masks()
    with rasterio.Env():
        one = [polygons_of(m, t) for m, t in zip(masks, tfs, strict=True)]
        many = polygons_of_many(masks, tfs)
    assert [g is None for g in many] == [not m.any() for m in masks]
    for a, b in zip(one, many, strict=True):
        assert (a is None and b is None) or shapely.to_wkb(a) == shapely.to_wkb(b)
    cells = sum(int(m.sum()) for m in masks)
    assert sum(shapely.area(g) for g in many if g is not None) == pytest.approx(cells * 900.0)


@pytest.mark.parametrize(
    ("dtype", "nodata", "masked"),
    [
        ("float32", -9999.0, [0, 2]),
        ("int16", -32768, [1]),
        ("uint8", 255, [1, 2]),
        ("float32", None, []),
    ],
)
def test_windows_read_without_a_mask_band_mark_nodata_as_nan(tmp_path, dtype, nodata, masked):
    z = np.arange(12, dtype=np.float64).reshape(3, 4)
    raw = z.astype(dtype)
    for k in masked:
        raw.flat[k * 5] = nodata
    path = tmp_path / "r.tif"
    prof = {"driver": "GTiff", "width": 4, "height": 3, "count": 1, "dtype": dtype,
            "crs": "EPSG:4546", "transform": T, "nodata": nodata}  # fmt: skip
    with rasterio.open(path, "w", **prof) as ds:
        ds.write(raw, 1)
    with rasterio.open(path) as ds:
        got = _read(ds, -1, -1, 5, 6)  # one cell of margin all round: outside is NaN
        with rasterio.open(path) as again:
            ref = np.ma.filled(again.read(1, masked=True).astype(np.float32), np.nan)
    assert np.isnan(got[0]).all() and np.isnan(got[:, 0]).all() and np.isnan(got[-1]).all()
    np.testing.assert_array_equal(got[1:-1, 1:-1], ref)
    assert int(np.isnan(got[1:-1, 1:-1]).sum()) == len(masked)


def test_a_raster_with_its_own_mask_band_is_read_through_it(tmp_path):
    path = tmp_path / "m.tif"
    prof = {"driver": "GTiff", "width": 4, "height": 3, "count": 1, "dtype": "float32",
            "crs": "EPSG:4546", "transform": T}  # fmt: skip
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(path, "w", **prof) as ds:
        ds.write(np.ones((3, 4), np.float32), 1)
        ds.write_mask(np.array([[0, 255, 255, 255]] * 3, dtype=np.uint8))
    with rasterio.open(path) as ds:
        got = _read(ds, 0, 0, 3, 4)
    assert np.isnan(got[:, 0]).all() and (got[:, 1:] == 1).all()


def test_a_nodata_value_no_cell_can_hold_marks_none():
    assert _nodata_as(-1.0, np.dtype("uint8")) is None
    assert _nodata_as(2.5, np.dtype("int16")) is None
    assert _nodata_as(float("nan"), np.dtype("float32")) is None
    assert _nodata_as(None, np.dtype("float32")) is None
    assert _nodata_as(-32768.0, np.dtype("int16")) == np.int16(-32768)
    assert _nodata_as(-9999.0, np.dtype("float32")) == np.float32(-9999.0)
