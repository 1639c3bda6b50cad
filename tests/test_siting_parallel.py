"""The siting screen's raster pass in worker threads: the same result as one thread, and a
raster that cannot be read over one candidate is reported with that candidate."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

import sxzones.analyses.rasters as rasters
import sxzones.analyses.siting as siting
from sxzones.analyses.siting import Exclusion, RasterCriterion, screen_sites
from sxzones.errors import LayerError
from sxzones.rules import load_rules

from .conftest import WORK
from .test_siting import _dem

RULES = load_rules()
X0, Y0, RES, N = 500_000.0, 4_200_000.0, 30.0, 1024  # a 30.7 km square of 30 m cells


def _tiled(path: Path, z: np.ndarray, crs: object = WORK, res: float = RES, x0=X0, y0=Y0):
    """A tiled, compressed GeoTIFF (blocks of 256 x 256) of ``z``."""
    return _dem(
        path, (x0, y0), len(z), res, z, crs,
        tiled=True, blockxsize=256, blockysize=256, compress="deflate",
    )  # fmt: skip


def _terrain() -> np.ndarray:
    """Hills steep enough that some cells of most candidates exceed the slope limit, and a
    hole of no data."""
    y, x = np.mgrid[0:N, 0:N] * RES
    z = 800 + 150 * np.sin(x / 700.0) * np.cos(y / 900.0) + 60 * np.sin((x + y) / 260.0)
    z[300:340, 600:700] = -9999.0
    return z


def _candidates(n: int) -> gpd.GeoDataFrame:
    """``n`` irregular parcels (0.3 to 2 km²) spread over the DEM, some reaching past it."""
    rng = np.random.default_rng(7)
    geoms = []
    for i in range(n):
        cx, cy = rng.uniform(X0 + 1500, X0 + N * RES + 800), rng.uniform(Y0 - N * RES + 1500, Y0)
        r = np.sqrt(rng.uniform(0.3e6, 2e6) / np.pi)
        t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
        rad = r * (1 + 0.2 * np.sin(3 * t + i))
        geoms.append(shapely.Polygon(np.c_[cx + rad * np.cos(t), cy + rad * np.sin(t)]))
    return gpd.GeoDataFrame(
        {"site_id": [f"S{i + 1}" for i in range(n)], "kind": "subsidence", "settled": True},
        geometry=geoms,
        crs=WORK,
    )


def _irradiance() -> RasterCriterion:
    """A resource raster as an array in CGCS2000 longitude/latitude (seen through a warped
    VRT in the working CRS), below the minimum in its western part."""
    lon0, lat0, step = 110.95, 37.95, 0.0025
    lon = lon0 + (np.arange(160) + 0.5) * step
    z = np.where(lon[None, :] < 111.15, 1300.0, 1500.0) + np.zeros((160, 1))
    z[:, 5] = np.nan
    t = from_origin(lon0, lat0, step, step)
    return RasterCriterion(z, "minimum", 1400.0, "ghi", transform=t, crs=4490)


def _screen(path: Path, threads: int, n: int = 48):
    cands = _candidates(n)
    red = shapely.buffer(shapely.Point(X0 + 9000, Y0 - 12000), 2500)
    with ExitStack() as stack:
        dem = stack.enter_context(rasterio.open(path))
        return screen_sites(
            cands,
            [Exclusion("redline", np.array([red], dtype=object), 0.0, clause="test")],
            RULES,
            rasters=[RasterCriterion(dem, "slope", 0.0, "slope"), _irradiance()],
            threads=threads,
        )


def test_threads_give_the_same_result_as_one_thread(tmp_path, monkeypatch):
    """Every column, every eligible geometry, every removed piece and the totals are the same
    with one thread and with two and four; the workers each open their own handles."""
    path = _tiled(tmp_path / "dem.tif", _terrain())
    one = _screen(path, threads=1)
    workers: list[bool] = []
    real = siting._worker

    def spy(job, own, *rest):
        workers.append(own)
        return real(job, own, *rest)

    monkeypatch.setattr(siting, "_worker", spy)
    for threads in (2, 4):
        workers.clear()
        many = _screen(path, threads=threads)
        assert workers == [True] * threads  # each worker thread with its own handles
        pd.testing.assert_frame_equal(
            one.sites.drop(columns="geometry"), many.sites.drop(columns="geometry")
        )
        assert shapely.equals_exact(
            one.sites.geometry.to_numpy(), many.sites.geometry.to_numpy(), 0
        ).all()
        pd.testing.assert_frame_equal(
            one.removed.drop(columns="geometry"), many.removed.drop(columns="geometry")
        )
        assert one.summary == many.summary
    s = one.sites
    # the case is not trivial: slope, the resource and no data all bite somewhere
    assert (s["removed_slope_m2"] > 0).sum() > 10
    assert (s["removed_ghi_m2"] > 0).sum() > 5
    assert (s["removed_redline_m2"] > 0).sum() >= 1
    assert (s["unknown_m2"] > 0).sum() >= 2
    assert s["slope_mean_deg"].notna().sum() >= 20


def _break_block(path: Path, col_block: int, row_block: int) -> None:
    """Overwrite part of one compressed block of a tiled GeoTIFF with garbage."""
    with rasterio.open(path) as ds:
        key = f"{col_block}_{row_block}"
        offset = int(ds.get_tag_item(f"BLOCK_OFFSET_{key}", "TIFF", bidx=1))
    with open(path, "r+b") as fh:
        fh.seek(offset + 10)
        fh.write(b"\xff" * 200)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_raster_read_error_in_one_candidate_is_reported(tmp_path, threads):
    """A damaged block under one candidate: a LayerError naming the raster and that candidate
    (its id and row), not a traceback from the reader and not a silently missing result."""
    path = _tiled(tmp_path / "dem.tif", _terrain())
    side = 600.0
    centres = [
        (X0 + (c + 0.5) * 256 * RES, Y0 - (r + 0.5) * 256 * RES) for r in range(4) for c in (0, 2)
    ]
    cands = gpd.GeoDataFrame(
        {"site_id": [f"P{i + 1}" for i in range(8)], "kind": "subsidence"},
        geometry=[shapely.box(x - side, y - side, x + side, y + side) for x, y in centres],
        crs=WORK,
    )
    _break_block(path, 2, 2)  # under P6: column block 2, row block 2
    with rasterio.open(path) as dem, pytest.raises(LayerError) as err:
        screen_sites(
            cands, [], RULES, rasters=[RasterCriterion(dem, "slope", 0.0, "slope")], threads=threads
        )
    msg = str(err.value)
    assert "'P6' (row 6 of the candidates)" in msg
    assert str(path) in msg
    assert "Read failed" in msg


def test_threads_must_be_an_integer():
    with pytest.raises(TypeError, match="threads"):
        screen_sites(_candidates(2), [], RULES, threads="two")  # type: ignore[arg-type]


def test_a_strip_holds_the_cells_each_candidate_reads(tmp_path, monkeypatch):
    """A chunk's strip (one read of the window holding every candidate's window) gives each
    candidate the cells it would read itself, at the raster's edge and over no data too;
    a strip larger than STRIP_CELLS is not made (each candidate reads its own window)."""
    path = _tiled(tmp_path / "dem.tif", _terrain())
    boxes = [tuple(g.bounds) for g in _candidates(12).geometry]  # some reach past the DEM
    crit = RasterCriterion(None, "slope", 0.0, "slope")
    with rasterio.open(path) as ds:
        strip = crit.strip(ds, boxes, 1, {})
        assert isinstance(strip, rasters.Strip)
        assert sum(v.size for _, _, v in strip.parts) < N * N  # not the whole raster
        for b in boxes:
            mine = [t.values for t in crit.tiles(b, 1, ds=strip)]
            own = [t.values for t in crit.tiles(b, 1, ds=ds)]
            assert len(mine) == len(own)
            for a, z in zip(mine, own, strict=True):
                np.testing.assert_array_equal(a, z)  # NaN where the other has NaN
        # two windows far apart: two parts, not the columns of blocks between them
        far = [(X0 + 100, Y0 - 700, X0 + 400, Y0 - 100), (X0 + 29_000, Y0 - 900, X0 + 30_000, Y0)]
        apart = crit.strip(ds, far, 1, {})
        assert [(r, c, v.shape) for r, c, v in apart.parts] == [
            (2, 2, (23, 13)),
            (0, 965, (31, 36)),
        ]
        for b in far:
            (t,) = crit.tiles(b, 1, ds=apart)
            np.testing.assert_array_equal(t.values, next(crit.tiles(b, 1, ds=ds)).values)
        monkeypatch.setattr(rasters, "STRIP_CELLS", 100)
        assert crit.strip(ds, boxes, 1, {}) is ds


def test_the_run_bounds_gdal_cache_and_gives_it_back(tmp_path, monkeypatch):
    """Unless the caller set it, the run caps GDAL's block cache at four rows of blocks per
    worker and raster (at least 64 MB, at most GDAL's default); the caller's cache is what
    it was after the screen."""
    wide = np.zeros((600, 20_000), np.float32)
    path = tmp_path / "wide.tif"
    prof = {"driver": "GTiff", "width": 20_000, "height": 600, "count": 1, "dtype": "float32",
            "crs": WORK, "transform": from_origin(X0, Y0, RES, RES), "tiled": True,
            "blockxsize": 512, "blockysize": 512, "compress": "deflate"}  # fmt: skip
    with rasterio.open(path, "w", **prof) as ds:
        ds.write(wide, 1)
    default = int(rasterio.env.get_gdal_config("GDAL_CACHEMAX"))
    monkeypatch.delenv("GDAL_CACHEMAX", raising=False)
    with rasterio.open(path) as ds:
        crit = RasterCriterion(ds, "slope", 0.0, "slope")
        crit.open(siting.CRS.from_user_input(WORK))
        assert crit.band_bytes() == 512 * 20_000 * 4
        two = siting._run_options({}, [crit], 2)
        assert two == {"GDAL_CACHEMAX": min(2 * 4 * 512 * 20_000 * 4, default)}
        one = siting._run_options({}, [crit], 1)
        assert one == {"GDAL_CACHEMAX": min(4 * 512 * 20_000 * 4, default)}
        assert siting._run_options({"GDAL_CACHEMAX": 10 << 20}, [crit], 2) == {}
        monkeypatch.setenv("GDAL_CACHEMAX", "512")
        assert siting._run_options({}, [crit], 2) == {}
        crit.close()
    monkeypatch.delenv("GDAL_CACHEMAX")
    small = _tiled(tmp_path / "dem.tif", _terrain())
    with rasterio.open(small) as ds:
        crit = RasterCriterion(ds, "slope", 0.0, "slope")
        crit.open(siting.CRS.from_user_input(WORK))
        assert siting._run_options({}, [crit], 2) == {"GDAL_CACHEMAX": 64 << 20}  # the least
        crit.close()
    _screen(small, threads=2, n=8)
    assert int(rasterio.env.get_gdal_config("GDAL_CACHEMAX")) == default


def _screen_in_child(path: Path) -> None:
    _screen(path, threads=2, n=8)


def test_a_process_forked_after_a_screen_can_screen_again(tmp_path):
    """The server forks its workers; a screen run before the fork must leave nothing the
    child waits for forever (GDAL's decompression threads did: the child hung)."""
    import multiprocessing

    path = _tiled(tmp_path / "dem.tif", _terrain())
    _screen(path, threads=2, n=8)
    child = multiprocessing.get_context("fork").Process(target=_screen_in_child, args=(path,))
    child.start()
    child.join(120)
    if child.is_alive():
        child.kill()
        child.join()
        pytest.fail("the forked process hung in its screen")
    assert child.exitcode == 0
