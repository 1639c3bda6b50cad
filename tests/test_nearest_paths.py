"""The three paths of the nearest-distance engine give the same answers.

Tiny work runs in numpy over every segment combination, more work in the compiled numba
kernels once they are loaded, and otherwise in numpy over the segments within each pair's
GEOS distance (no compiled code to load: a single site check or a screen of some thousand
firms stays fast). All must give the same nearest area and the same ellipsoidal distance to
the centimetre (in fact bit for bit), on real layers (the bundled red lines and built-up
areas), for points and parcels, on both sides of the thresholds.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import CRS, Geod, Transformer

import sxzones.analyses._kernels as kernels
from sxzones.analyses import nearest
from sxzones.analyses.nearest import TargetIndex, nearest_geodesic
from sxzones.layers import load_catalog

from .conftest import CATALOG, WORK

TO_XY = Transformer.from_crs(CRS.from_epsg(4490), WORK, always_xy=True)
TO_LL = Transformer.from_crs(WORK, CRS.from_epsg(4490), always_xy=True)


@pytest.fixture(scope="module")
def targets():
    cat = load_catalog(CATALOG)
    return {
        r: cat.load(cat.layer_of_role(r))[0].geometry.to_numpy() for r in ("redline", "builtup")
    }


def _inputs(n: int, seed: int, vertices: int = 0) -> np.ndarray:
    """``n`` points (``vertices`` 0) or parcels of ``vertices`` vertices over Shanxi."""
    rng = np.random.default_rng(seed)
    x, y = TO_XY.transform(rng.uniform(110.4, 114.4, n), rng.uniform(34.8, 40.6, n))
    if not vertices:
        return shapely.points(x, y)
    return np.array(
        [
            shapely.Point(a, b).buffer(300.0, quad_segs=vertices // 4)
            for a, b in zip(x, y, strict=True)
        ],
        dtype=object,
    )


PATHS = ("numpy", "bounded", "compiled")


def _run(geoms, areas, *, path: str, **kw):
    """nearest_geodesic with every pair on one path: ``numpy`` (every segment combination),
    ``bounded`` (numpy over the segments within each pair's GEOS distance), ``compiled``
    (the numba kernels)."""
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(nearest, "TINY_WORK", np.inf if path == "numpy" else -1)
        mp.setattr(nearest, "kernels_loaded", lambda: path == "compiled")
        mp.setattr(nearest, "TINY_FAR", -1 if path == "compiled" else np.inf)
        if path == "bounded":  # the far search in numpy, a few firms at a time
            mp.setattr(nearest, "SMALL_FAR", 5_000)
        return nearest_geodesic(geoms, TargetIndex.of(areas), crs=WORK, threads=1, **kw)
    finally:
        mp.undo()


def _same(a, b) -> None:
    """The same nearest areas and distances: to the centimetre as promised, and in fact bit
    for bit (the numpy paths do the kernel's arithmetic and keep its choice on ties)."""
    np.testing.assert_allclose(a.distance, b.distance, rtol=0, atol=0.01)
    np.testing.assert_array_equal(a.distance, b.distance)
    np.testing.assert_array_equal(a.area, b.area)


@pytest.mark.parametrize(
    ("role", "vertices", "reach"),
    [
        ("redline", 0, 50_000.0),
        ("redline", 16, 50_000.0),
        ("builtup", 0, 25_000.0),
        ("builtup", 64, 25_000.0),
        ("builtup", 16, 2_000.0),  # short reach: most inputs go through the far-candidate search
    ],
)
def test_numpy_bounded_and_compiled_paths_agree(targets, role, vertices, reach):
    geoms = _inputs(300, seed=vertices + int(reach), vertices=vertices)
    got = {
        p: _run(geoms, targets[role], path=p, reach_m=reach, thresholds=(20_000.0,)) for p in PATHS
    }
    _same(got["numpy"], got["compiled"])
    _same(got["bounded"], got["compiled"])
    small = got["numpy"]
    assert (small.distance == 0).sum() > 0 and (small.distance > 1000).sum() > 100


def test_distances_are_geodesic_without_compiled_code(targets):
    """The bounded numpy path's answer checked independently: pyproj.Geod from each point to the
    nearest vertex-densified boundary of the area it names is no shorter (within 1 cm)."""
    pts = _inputs(40, seed=3)
    res = _run(pts, targets["builtup"], path="bounded", reach_m=25_000.0)
    geod = Geod(ellps="GRS80")
    for p, d, a in zip(pts, res.distance, res.area, strict=True):
        if d == 0:
            assert targets["builtup"][a].intersects(p)
            continue
        ring = shapely.segmentize(targets["builtup"][a].boundary, 5.0)
        xy = shapely.get_coordinates(ring)
        lon, lat = TO_LL.transform(xy[:, 0], xy[:, 1])
        plon, plat = TO_LL.transform(p.x, p.y)
        ref = geod.inv(np.full(len(lon), plon), np.full(len(lat), plat), lon, lat)[2].min()
        assert d <= ref + 0.01 and d > ref - 5.0  # vertices every 5 m: at most that much longer


def _count_kernel_calls(monkeypatch) -> list[str]:
    calls: list[str] = []
    for name in ("pairs_kernel", "far_candidates"):
        real = getattr(kernels, name)

        def spy(*a, _real=real, _name=name):
            calls.append(_name)
            return _real(*a)

        monkeypatch.setattr(kernels, name, spy)
    return calls


def test_either_side_of_the_thresholds(targets, monkeypatch):
    """Up to TINY_WORK numpy measures every combination, beyond it the kernels do when they
    are loaded and the bounded numpy path when not; from KERNEL_INPUTS inputs on,
    nearest_geodesic loads the kernels. Every way the same answer."""
    parcels = _inputs(120, seed=9, vertices=32)
    idx = TargetIndex.of(targets["redline"])
    calls = _count_kernel_calls(monkeypatch)
    # the work of this input's first measuring pass: measured by a run with a huge threshold
    seen: list[float] = []
    paths: list[str] = []
    real, real_bounded = nearest._pairs_nearest, nearest._pairs_bounded

    def record(firms, areas, i, j, gap):
        seen.append(float(np.dot(firms.segs.count[i].astype(float), areas.segs.count[j])))
        return real(firms, areas, i, j, gap)

    monkeypatch.setattr(nearest, "_pairs_nearest", record)
    nearest_geodesic(parcels, idx, 50_000.0, WORK, threads=1)
    monkeypatch.setattr(nearest, "_pairs_nearest", real)
    work = max(seen)
    ref = _run(parcels, targets["redline"], path="compiled", reach_m=50_000.0)

    def bounded(*a):
        paths.append("bounded")
        return real_bounded(*a)

    monkeypatch.setattr(nearest, "_pairs_bounded", bounded)
    for loaded in (False, True):
        monkeypatch.setattr(nearest, "kernels_loaded", lambda loaded=loaded: loaded)
        for limit, beyond in ((work, False), (work - 1, True)):
            monkeypatch.setattr(nearest, "TINY_WORK", limit)
            calls.clear()
            paths.clear()
            got = nearest_geodesic(parcels, idx, 50_000.0, WORK, threads=1)
            assert ("pairs_kernel" in calls) == (beyond and loaded)
            assert ("bounded" in paths) == (beyond and not loaded)
            _same(got, ref)
    # many inputs: the kernels are loaded (here: warm_up is called) before measuring
    warmed: list[bool] = []
    monkeypatch.setattr(nearest, "kernels_loaded", lambda: bool(warmed))
    monkeypatch.setattr(nearest, "warm_up", lambda: warmed.append(True))
    monkeypatch.setattr(nearest, "KERNEL_INPUTS", len(parcels) + 1)
    nearest_geodesic(parcels, idx, 50_000.0, WORK, threads=1)
    assert not warmed
    monkeypatch.setattr(nearest, "KERNEL_INPUTS", len(parcels))
    calls.clear()
    _same(nearest_geodesic(parcels, idx, 50_000.0, WORK, threads=1), ref)
    assert warmed and "pairs_kernel" in calls


def test_bounded_path_falls_back_to_every_segment():
    """A pair whose bound holds no segment (a NaN distance: a geometry collection, or a bound
    too small) is measured over all its segments, never left at (0, 0)."""
    x0, y0 = 500_000.0, 4_200_000.0
    fs = nearest._Segments.of(np.array([shapely.Point(x0, y0)], dtype=object))
    areas = np.array([shapely.box(x0 + 100, y0, x0 + 300, y0 + 200)], dtype=object)
    as_ = nearest._Segments.of(areas)
    i = j = np.zeros(1, dtype=np.int64)
    fbox = np.array([[x0, y0, x0, y0]])
    full = nearest._pairs_numpy(fs, fbox, as_, i, j)
    for bound in (np.array([np.nan]), np.array([1.0]), np.array([100.0])):
        got = nearest._pairs_numpy(fs, fbox, as_, i, j, bound)
        np.testing.assert_array_equal(got, full)
    np.testing.assert_array_equal(full, [[x0, y0, x0 + 100, y0]])


def test_far_candidates_numpy_equals_kernel(monkeypatch):
    """The far-candidate search in numpy, whole or a few firms at a time: the same pairs, in
    the same order, with the same gaps as the compiled kernel (bit for bit)."""
    monkeypatch.setattr(nearest, "kernels_loaded", lambda: False)
    rng = np.random.default_rng(1)
    lo = rng.uniform(0, 1e5, (400, 2))
    abox = np.column_stack([lo, lo + rng.uniform(10, 5000, (400, 2))])
    flo = rng.uniform(0, 1e5, (300, 2))
    fbox = np.column_stack([flo, flo + rng.uniform(0, 800, (300, 2))])
    far = np.sort(rng.choice(300, 120, replace=False)).astype(np.int64)
    known = np.where(rng.random(120) < 0.5, rng.uniform(100, 20_000, 120), np.inf)
    b = kernels.far_candidates(fbox, far, abox, 1.0003, known)
    assert len(b[0]) > 120
    for small_far in (nearest.SMALL_FAR, 10_000, 1):  # in one go, and 25 firms / 1 at a time
        monkeypatch.setattr(nearest, "SMALL_FAR", small_far)
        a = nearest._far_candidates(fbox, far, abox, 1.0003, known)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def test_site_check_of_one_project_loads_no_compiled_code(tmp_path):
    """A cold single-project check never imports numba (about 0.4 s of a process's start),
    nor the map and spreadsheet libraries it does not write with."""
    import subprocess
    import sys

    code = (
        "import sys; from sxzones.cli import main\n"
        "try:\n"
        f"    main(['-q', 'check', '--project', '112.5,37.8', '--crs', 'wgs84', '--industry',"
        f" 'steel', '--out', {str(tmp_path / 'o')!r}])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'numba', 'llvmlite', 'folium',"
        " 'matplotlib', 'openpyxl', 'branca'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == ""
    assert (tmp_path / "o" / "site_check.json").exists()


def test_ties_are_settled_as_the_kernel_settles_them():
    """Where many point pairs are equally near (parallel edges, a point midway between two
    arms, a vertex opposite a vertex), both paths pick the same pair, so that the ground
    distance (which depends on where the pair lies) is the same too."""
    x0, y0 = 500_000.0, 4_200_000.0
    u = shapely.Polygon(
        [
            (x0, y0),
            (x0 + 3000, y0),
            (x0 + 3000, y0 + 3000),
            (x0 + 2000, y0 + 3000),
            (x0 + 2000, y0 + 1000),
            (x0 + 1000, y0 + 1000),
            (x0 + 1000, y0 + 3000),
            (x0, y0 + 3000),
        ]
    )  # a U, open to the north
    areas = np.array([u, shapely.box(x0 + 5000, y0, x0 + 6000, y0 + 1000)], dtype=object)
    firms = np.array(
        [
            shapely.Point(x0 + 1500, y0 + 2500),  # midway between the arms
            shapely.box(x0 + 1200, y0 + 1500, x0 + 1800, y0 + 2200),  # parallel to both arms
            shapely.box(x0 + 3500, y0 + 200, x0 + 4500, y0 + 800),  # between U and square
            shapely.Point(x0 + 4000, y0 + 3500),  # a vertex of each equally far?
            shapely.box(x0 - 900, y0 - 900, x0 - 100, y0 - 100),  # corner to corner
        ],
        dtype=object,
    )
    got = {p: _run(firms, areas, path=p, reach_m=10_000.0) for p in PATHS}
    _same(got["numpy"], got["compiled"])
    _same(got["bounded"], got["compiled"])
    assert got["numpy"].distance[0] == pytest.approx(500.0, abs=1.0)


def test_segments_of_points_as_the_general_construction():
    """Points take a shortcut to their segments; it builds what the general construction
    (points among polygons) builds: a zero-length segment, a block and its box per point."""
    pts = _inputs(50, seed=4)
    s = nearest._Segments.of(pts)
    general = nearest._Segments.of(np.r_[pts, _inputs(1, seed=5, vertices=8)])
    rows = np.column_stack([shapely.get_coordinates(pts)] * 2)
    for got in (s, general):
        np.testing.assert_array_equal(got.xy[:50], rows)
        np.testing.assert_array_equal(got.block_box[:50], rows)
        np.testing.assert_array_equal(got.start[:50], np.arange(50))
        np.testing.assert_array_equal(got.block0[:50], np.arange(50))
        np.testing.assert_array_equal(got.count[:50], np.ones(50))
    assert len(s.xy) == 50 and general.count[50] == 8


def test_near_pairs_kernel_equals_numpy_box_gaps():
    """The compiled pass over the box pairs keeps the pairs numpy keeps, in order, with the
    same gaps bit for bit (a box with NaN bounds is kept by neither)."""
    rng = np.random.default_rng(5)
    lo = rng.uniform(0, 1e5, (300, 2))
    abox = np.column_stack([lo, lo + rng.uniform(10, 5000, (300, 2))])
    flo = rng.uniform(0, 1e5, (2000, 2))
    fbox = np.column_stack([flo, flo + rng.uniform(0, 50, (2000, 2))])
    fbox[7] = np.nan
    i = np.sort(rng.integers(0, 2000, 200_000)).astype(np.int64)
    j = rng.integers(0, 300, 200_000).astype(np.int64)
    gap = nearest._box_gap(fbox, abox, i, j)
    keep = gap <= 30_000.0
    assert 1000 < keep.sum() < len(i) and not keep[i == 7].any()
    got = kernels.near_pairs(fbox, abox, i, j, 30_000.0)
    np.testing.assert_array_equal(got[0], i[keep])
    np.testing.assert_array_equal(got[1], j[keep])
    np.testing.assert_array_equal(got[2].view(np.uint64), gap[keep].view(np.uint64))


def test_group_argmin_sorted_and_unsorted_groups():
    """The first smallest value of each group, whether the groups come sorted (taken as they
    are) or not (sorted first, stably): the same positions as a loop over the groups."""
    rng = np.random.default_rng(8)
    group = np.sort(rng.integers(0, 500, 5000))
    value = rng.integers(0, 5, 5000).astype(float)  # many ties
    for g in (group, rng.permutation(group)):
        want = [int(np.flatnonzero(g == k)[np.argmin(value[g == k])]) for k in np.unique(g)]
        got = nearest._group_argmin(g, value)
        assert sorted(got.tolist()) == sorted(want)
        np.testing.assert_array_equal(g[got], np.unique(g))  # one per group, in group order
