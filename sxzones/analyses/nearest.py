"""Nearest targets on the ellipsoid, county lookup, and small helpers shared by analyses.

:func:`nearest_geodesic` is the engine of the firm screen and of the site check's distances:
exact on the ellipsoid (see :mod:`sxzones.analyses.firm_zones` for the method), vectorised,
in worker threads that never share prepared geometries.

The nearest points of candidate pairs come from one of three interchangeable paths: numpy
over every segment combination for tiny work, the compiled kernels of
:mod:`sxzones.analyses._kernels` (numba) for large inputs, and between them, while the
kernels are not loaded, numpy over the few segments within each pair's GEOS distance (a site
check or a screen of some thousand firms: no compiled code to load, which costs about 0.5 s
of a core). All do the kernels' arithmetic and keep their choice among equal distances, so
all give the same points; tests compare them on either side of the thresholds
(:data:`TINY_WORK`, :data:`KERNEL_INPUTS`, :data:`SMALL_FAR`).
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS

from sxzones._util import gc_paused
from sxzones.geodesy import GroundRuler, scale_range

__all__ = [
    "CHUNK",
    "Nearest",
    "TargetIndex",
    "categorical_take",
    "county_lookup",
    "county_table",
    "held_by",
    "nearest_geodesic",
    "prepared_copy",
    "segments_of",
    "warm_up",
]


@dataclass(frozen=True)
class Nearest:
    distance: npt.NDArray[np.float64]  # geodesic metres
    area: npt.NDArray[np.int64]  # index into built-up areas


def prepared_copy(geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """A private, prepared copy of geometries for one worker thread.

    GEOS prepared geometries are not thread-safe (libgeos/geos#825): threads must not share
    them. A WKB round trip copies the coordinates bit for bit.
    """
    copy = shapely.from_wkb(shapely.to_wkb(geoms))
    shapely.prepare(copy)
    return copy


def _box_gap(
    fb: npt.NDArray[np.float64],
    ab: npt.NDArray[np.float64],
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """Gap between the bounding boxes of pairs (firm ``i``, area ``j``): a lower bound of the
    distance between the geometries. Box rows are minx, miny, maxx, maxy."""
    fx0, fy0, fx1, fy1 = fb[i, 0], fb[i, 1], fb[i, 2], fb[i, 3]
    dx = np.maximum(np.maximum(ab[j, 0] - fx1, fx0 - ab[j, 2]), 0.0)
    dy = np.maximum(np.maximum(ab[j, 1] - fy1, fy0 - ab[j, 3]), 0.0)
    return np.hypot(dx, dy)


#: Box pairs from which :func:`_near_pairs` runs in the compiled kernel once it is loaded.
KERNEL_PAIRS = 100_000


def _near_pairs(
    fb: npt.NDArray[np.float64],
    ab: npt.NDArray[np.float64],
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    limit: float,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The pairs (firm ``i``, area ``j``) whose boxes lie at most ``limit`` apart, in order,
    with their gaps (:func:`_box_gap`): in one compiled pass for many pairs when the kernels
    are loaded (the same doubles), else in numpy."""
    if len(i) >= KERNEL_PAIRS and kernels_loaded():
        from sxzones.analyses._kernels import near_pairs

        i, j = i.astype(np.int64, copy=False), j.astype(np.int64, copy=False)
        return near_pairs(fb, ab, i, j, limit)  # type: ignore[no-any-return]
    gap = _box_gap(fb, ab, i, j)
    near = gap <= limit
    return i[near], j[near], gap[near]


def _group_argmin(
    group: npt.NDArray[np.int64],
    value: npt.NDArray[np.float64],
) -> npt.NDArray[np.int64]:
    """Position of the smallest ``value`` per ``group`` (first on ties), in O(n) passes
    after a stable sort by group; ``group`` from STRtree queries is already sorted, and is
    then taken as it is (its stable sort is the identity)."""
    if not len(group):
        return np.empty(0, dtype=np.int64)
    order = None if bool((group[1:] >= group[:-1]).all()) else np.argsort(group, kind="stable")
    g, v = (group, value) if order is None else (group[order], value[order])
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    counts = np.diff(np.r_[starts, len(g)])
    vmin = np.minimum.reduceat(v, starts)
    hit = np.flatnonzero(v == np.repeat(vmin, counts))
    first = hit[np.r_[True, g[hit][1:] != g[hit][:-1]]]
    return first if order is None else order[first]


BLOCK = 32  # segments per block of an area's boundary; blocks are pruned by bounding box
SUB = 8  # segments per sub-block (numpy's bounded search prunes by these too)


@dataclass(frozen=True)
class _Segments:
    """Every boundary segment of some geometries, grouped by geometry (CSR), with the
    bounding box of each block of ``BLOCK`` consecutive segments. Rows x0, y0, x1, y1.
    A point is one segment of length zero."""

    xy: npt.NDArray[np.float64]
    start: npt.NDArray[np.int64]
    count: npt.NDArray[np.int64]
    block0: npt.NDArray[np.int64]
    block_box: npt.NDArray[np.float64]

    @classmethod
    def of(cls, geoms: npt.NDArray[np.object_]) -> _Segments:
        geoms = np.asarray(geoms, dtype=object)
        n = len(geoms)
        ids = []
        rows = []
        is_pt = shapely.get_type_id(geoms) == 0
        if n and is_pt.all():  # points (firms): one zero-length segment and block each
            xy = shapely.get_coordinates(geoms)
            if len(xy) == n:  # none empty
                seg = np.ascontiguousarray(np.column_stack([xy, xy]))
                one = np.arange(n, dtype=np.int64)
                return cls(seg, one, np.ones(n, dtype=np.int64), one, seg)
        if is_pt.any():
            pts = np.flatnonzero(is_pt)
            xy = shapely.get_coordinates(geoms[pts])
            ids.append(pts)
            rows.append(np.column_stack([xy, xy]))
        poly = np.flatnonzero(~is_pt)
        if len(poly):
            g = geoms[poly]
            if bool(
                np.all(shapely.get_type_id(g) == 3) and not shapely.get_num_interior_rings(g).any()
            ):  # simple polygons (most parcels): one closed ring each, no ring objects needed
                coords, ci = shapely.get_coordinates(g, return_index=True)
                same = ci[1:] == ci[:-1]
                ids.append(poly[ci[:-1][same]])
            else:
                coords, same, owner = _part_segments(g)
                ids.append(poly[owner])
            rows.append(np.column_stack([coords[:-1][same], coords[1:][same]]))
        owner = np.concatenate(ids) if ids else np.empty(0, dtype=np.int64)
        xy = np.vstack(rows) if rows else np.empty((0, 4))
        order = np.argsort(owner, kind="stable")
        owner, xy = owner[order], np.ascontiguousarray(xy[order])
        count = np.bincount(owner, minlength=n).astype(np.int64)
        start = np.r_[0, np.cumsum(count)[:-1]].astype(np.int64)
        block0, box = _group_boxes(xy, owner, start, count, BLOCK)
        return cls(xy, start, count, block0, box)

    @functools.cached_property
    def sub_blocks(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """The first sub-block of each geometry and the bounding box of each sub-block of
        ``SUB`` consecutive segments (a block holds ``BLOCK // SUB`` of them), built on first
        use: :func:`_near_segments` prunes by them between blocks and segments."""
        owner = np.repeat(np.arange(len(self.count)), self.count)
        return _group_boxes(self.xy, owner, self.start, self.count, SUB)


def flat_parts(
    geoms: npt.NDArray[np.object_],
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.int64]]:
    """The single parts (points, lines, polygons) of ``geoms``, collections within
    collections opened too, and the position of the geometry each comes from; empty parts
    left out. (The counties a geometry covers and its nearest-distance segments take its
    parts from here.)"""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    while True:
        multi = np.isin(shapely.get_type_id(parts), (4, 5, 6, 7))
        if not multi.any():
            break
        sub, i = shapely.get_parts(parts[multi], return_index=True)
        parts = np.concatenate([parts[~multi], sub])
        owner = np.concatenate([owner[~multi], owner[multi][i]])
    keep = ~shapely.is_empty(parts)
    return parts[keep], owner[keep].astype(np.int64)


def _part_segments(
    geoms: npt.NDArray[np.object_],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """The segments of geometries other than single points: ``coords`` and ``same``, the
    pairs ``coords[k], coords[k + 1]`` where ``same[k]`` being one segment, and the index
    into ``geoms`` of each such segment's geometry. Every ring of a polygon, every line, and
    each point of a multipoint or collection as a segment of length zero (a multipoint's or
    a line's parts had been taken for rings: none found, no segment, distance 0 to any
    area)."""
    parts, part_of = flat_parts(geoms)
    kind = shapely.get_type_id(parts)
    poly, linear = kind == 3, (kind == 1) | (kind == 2)
    rings, ring_of = shapely.get_rings(parts[poly], return_index=True)
    line_part = np.concatenate([np.flatnonzero(poly)[ring_of], np.flatnonzero(linear)])
    coords, ci = shapely.get_coordinates(np.concatenate([rings, parts[linear]]), return_index=True)
    owner = part_of[line_part[ci]]
    pts = np.flatnonzero(kind == 0)
    if len(pts):  # each point its coordinate twice: one zero-length segment of its own
        coords = np.vstack([coords, np.repeat(shapely.get_coordinates(parts[pts]), 2, axis=0)])
        ci = np.concatenate([ci, np.repeat(len(line_part) + np.arange(len(pts)), 2)])
        owner = np.concatenate([owner, np.repeat(part_of[pts], 2)])
    same = ci[1:] == ci[:-1]
    return coords, same, owner[:-1][same]


def _group_boxes(
    xy: npt.NDArray[np.float64],
    owner: npt.NDArray[np.int64],
    start: npt.NDArray[np.int64],
    count: npt.NDArray[np.int64],
    size: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Groups of ``size`` consecutive segments of each geometry (segments ``xy`` of
    geometries ``owner``, in order): the first group of each geometry, and each group's
    bounding box (minx, miny, maxx, maxy)."""
    ngroups = (count + size - 1) // size
    group0 = np.r_[0, np.cumsum(ngroups)[:-1]].astype(np.int64)
    if not len(owner):
        return group0, np.empty((0, 4))
    group_of = group0[owner] + (np.arange(len(owner)) - start[owner]) // size
    firsts = np.flatnonzero(np.r_[True, group_of[1:] != group_of[:-1]])
    box = np.column_stack(
        [
            np.minimum.reduceat(np.minimum(xy[:, 0], xy[:, 2]), firsts),
            np.minimum.reduceat(np.minimum(xy[:, 1], xy[:, 3]), firsts),
            np.maximum.reduceat(np.maximum(xy[:, 0], xy[:, 2]), firsts),
            np.maximum.reduceat(np.maximum(xy[:, 1], xy[:, 3]), firsts),
        ]
    )
    return group0, np.ascontiguousarray(box)


#: Candidate pairs with at most this many (firm segment x area segment) combinations in all
#: are measured in numpy, every combination (:func:`_pairs_numpy`). More work goes to the
#: compiled kernels when they are loaded (or being loaded: :func:`warm_up`, which runs and
#: :func:`nearest_geodesic` call for inputs of :data:`KERNEL_INPUTS` or more); otherwise numpy
#: measures only the area segments within each pair's GEOS distance (:func:`_pairs_bounded`),
#: so that a site check or a screen of some thousand firms never loads numba (about 0.5 s of
#: a core). Every path does the kernel's arithmetic on the same doubles and keeps the kernel's
#: choice among equal distances, so all give the same nearest points (tests compare them).
TINY_WORK = 20_000
#: Inputs (firms, projects) from which :func:`nearest_geodesic` loads the compiled kernels:
#: below, the bounded numpy path costs less than loading them.
KERNEL_INPUTS = 100_000
#: The far-candidate search runs in numpy this many (firm x area) box pairs at a time, and in
#: the compiled kernel beyond it once that is loaded.
SMALL_FAR = 2_000_000
#: ... and once the kernels are loaded, numpy searches only this many box pairs.
TINY_FAR = 100_000
#: Pairs per step of :func:`_pairs_bounded` (bounds its memory).
BOUNDED_CHUNK = 32_768


_WARMING = threading.Event()  # set by warm_up()


def kernels_loaded() -> bool:
    """Whether the compiled kernels are loaded, or being loaded (by :func:`warm_up`)."""
    return _WARMING.is_set() or "sxzones.analyses._kernels" in sys.modules


def _outlines(geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """What the kernels measure between: points as they are, other geometries' boundaries
    (``None`` for a geometry collection: its distances are NaN, which bound nothing)."""
    g = np.asarray(geoms, dtype=object)
    pt = shapely.get_type_id(g) == 0
    if pt.all():
        return g
    out = shapely.boundary(g)
    out[pt] = g[pt]
    return np.asarray(out, dtype=object)


class _Side:
    """One side of a query: geometries, their bounding boxes, their boundary segments
    (:class:`_Segments`, built on first use) and, for the areas, their prepared copies for
    this thread (by position)."""

    def __init__(
        self,
        geoms: npt.NDArray[np.object_],
        box: npt.NDArray[np.float64],
        segs: Callable[[], _Segments],
        prepared_at: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.object_]] | None = None,
    ) -> None:
        self.geoms, self.box = geoms, box
        self._segs_of = segs
        self.prepared_at = prepared_at

    @functools.cached_property
    def segs(self) -> _Segments:
        return self._segs_of()

    def outline_at(self, k: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
        """The outlines (:func:`_outlines`) of the geometries at positions ``k``, each made
        once (a layer's other geometries are not touched)."""
        u, inverse = np.unique(k, return_inverse=True)
        return _outlines(self.geoms[u])[inverse.reshape(-1)]


def _pt_seg(
    px: npt.NDArray[np.float64],
    py: npt.NDArray[np.float64],
    ax: npt.NDArray[np.float64],
    ay: npt.NDArray[np.float64],
    bx: npt.NDArray[np.float64],
    by: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Squared distance from points p to segments a-b and the nearest points on them: the
    operations of the kernel's ``_pt_seg``, in the same order, on arrays."""
    dx = bx - ax
    dy = by - ay
    ll = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(
            ll > 0.0, np.minimum(np.maximum(((px - ax) * dx + (py - ay) * dy) / ll, 0.0), 1.0), 0.0
        )
    qx = ax + t * dx
    qy = ay + t * dy
    return (px - qx) * (px - qx) + (py - qy) * (py - qy), qx, qy


def _first_blocks(
    fbox: npt.NDArray[np.float64],
    as_: _Segments,
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """For each pair (firm ``i``, area ``j``): the kernel's first block of the area's boundary
    (the nearest by bounding box, first of equal gaps), and each block's pair and squared
    box gap (blocks of a pair consecutive, in order)."""
    n = len(i)
    nb = (as_.count[j] + BLOCK - 1) // BLOCK
    bpair = np.repeat(np.arange(n), nb)
    bstart = np.r_[0, np.cumsum(nb)[:-1]]
    blocal = np.arange(len(bpair)) - bstart[bpair]
    bb = as_.block_box[as_.block0[j][bpair] + blocal]
    fb = fbox[i][bpair]
    dx = np.maximum(np.maximum(bb[:, 0] - fb[:, 2], fb[:, 0] - bb[:, 2]), 0.0)
    dy = np.maximum(np.maximum(bb[:, 1] - fb[:, 3], fb[:, 1] - bb[:, 3]), 0.0)
    gaps = dx * dx + dy * dy
    has = np.unique(bpair)
    first_of = np.zeros(n, dtype=np.int64)
    first_of[has] = _group_argmin(bpair, gaps) - bstart[has]
    return first_of, bpair, gaps


def _all_segments(
    as_: _Segments, j: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every (pair, area segment) of pairs with areas ``j``: the pair and the segment's
    position in its area's boundary, pairs in order."""
    ac = as_.count[j]
    pair = np.repeat(np.arange(len(j)), ac)
    return pair, np.arange(len(pair)) - np.r_[0, np.cumsum(ac)[:-1]][pair]


def _ranges(
    owner: npt.NDArray[np.int64], first: npt.NDArray[np.int64], size: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each ``owner`` repeated ``size`` times, beside the integers ``first``, ``first + 1``,
    ... ``first + size - 1``."""
    rep = np.repeat(owner, size)
    return rep, np.arange(len(rep)) + np.repeat(first - (np.cumsum(size) - size), size)


def _gap2(fb: npt.NDArray[np.float64], bb: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Squared gaps between boxes ``fb`` and ``bb`` (rows minx, miny, maxx, maxy), as the
    kernel computes them."""
    dx = np.maximum(np.maximum(bb[:, 0] - fb[:, 2], fb[:, 0] - bb[:, 2]), 0.0)
    dy = np.maximum(np.maximum(bb[:, 1] - fb[:, 3], fb[:, 1] - bb[:, 3]), 0.0)
    return dx * dx + dy * dy


def _near_segments(
    fbox: npt.NDArray[np.float64],
    as_: _Segments,
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    bpair: npt.NDArray[np.int64],
    bgaps: npt.NDArray[np.float64],
    bound: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """:func:`_all_segments` without the segments whose bounding box lies farther from the
    firm's than ``bound`` (an upper bound of the pair's distance, map units): none of them
    holds the pair's nearest points, so the kernel's choice is among those kept. Blocks
    are pruned first (their squared gaps ``bgaps``, of pairs ``bpair``), then sub-blocks,
    then segments, by the kernel's box gaps."""
    lim = bound * bound
    ac = as_.count[j]
    nb = (ac + BLOCK - 1) // BLOCK
    keep = np.flatnonzero(bgaps <= lim[bpair])
    bp, bl = bpair[keep], (keep - (np.cumsum(nb) - nb)[bpair[keep]])
    per = BLOCK // SUB
    sp, sub = _ranges(bp, bl * per, np.minimum(per, (ac[bp] - bl * BLOCK + SUB - 1) // SUB))
    sub0, sub_box = as_.sub_blocks
    near = _gap2(fbox[i[sp]], sub_box[sub0[j[sp]] + sub]) <= lim[sp]
    sp, sub = sp[near], sub[near]
    pair, sl = _ranges(sp, sub * SUB, np.minimum(SUB, ac[sp] - sub * SUB))
    s = as_.xy[as_.start[j[pair]] + sl]
    sbox = np.column_stack(
        [
            np.minimum(s[:, 0], s[:, 2]),
            np.minimum(s[:, 1], s[:, 3]),
            np.maximum(s[:, 0], s[:, 2]),
            np.maximum(s[:, 1], s[:, 3]),
        ]
    )
    near = _gap2(fbox[i[pair]], sbox) <= lim[pair]
    return pair[near], sl[near]


def _pairs_numpy(
    fs: _Segments,
    fbox: npt.NDArray[np.float64],
    as_: _Segments,
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    bound: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.float64]:
    """:func:`sxzones.analyses._kernels.pairs_kernel` in numpy: every (area segment, firm
    segment, test) of each pair is measured, and of the smallest the first in the kernel's
    visiting order is kept (area blocks from the nearest by bounding box, then segments,
    then firm segments, then the four point-segment tests), as the kernel's strict ``<``
    keeps it. With ``bound`` (an upper bound of each pair's distance, map units), only the
    area segments whose box lies within it are measured (:func:`_near_segments`): the same
    choice, from far fewer tests. Rows px, py on the firm, qx, qy on the area."""
    if not len(i):
        return np.zeros((0, 4))
    first_of, bpair, bgaps = _first_blocks(fbox, as_, i, j)
    if bound is None:
        pair, sl = _all_segments(as_, j)
    else:
        pair, sl = _near_segments(fbox, as_, i, j, bpair, bgaps, bound)
        measurable = np.flatnonzero((fs.count[i] > 0) & (as_.count[j] > 0))
        lost = np.setdiff1d(measurable, pair, assume_unique=False)
        if len(lost):  # never expected (the bound holds the nearest segment); all of them
            lp, ls = _all_segments(as_, j[lost])
            pair, sl = np.r_[pair, lost[lp]], np.r_[sl, ls]
            order = np.argsort(pair, kind="stable")
            pair, sl = pair[order], sl[order]
    return _pick(fs, as_, i, j, pair, sl, first_of)


def _pick(
    fs: _Segments,
    as_: _Segments,
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    seg_pair: npt.NDArray[np.int64],
    seg: npt.NDArray[np.int64],
    first_of: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """The kernel's nearest points of each pair from its candidate area segments (``seg``
    of pair ``seg_pair``, pairs in order) times every firm segment: the smallest squared
    distance, and of equal ones the first in the kernel's visiting order."""
    n = len(i)
    out = np.zeros((n, 4))
    reps = fs.count[i][seg_pair]
    pair = np.repeat(seg_pair, reps)
    if not len(pair):
        return out
    sl = np.repeat(seg, reps)
    q = np.arange(len(pair)) - np.repeat(np.r_[0, np.cumsum(reps)[:-1]], reps)
    nb = ((as_.count[j] + BLOCK - 1) // BLOCK)[pair]
    fcp = fs.count[i][pair]
    rank = ((sl // BLOCK - first_of[pair]) % nb) * BLOCK + sl % BLOCK
    a = as_.xy[as_.start[j][pair] + sl]
    f = fs.xy[fs.start[i][pair] + q]
    ax, ay, bx, by = a[:, 0], a[:, 1], a[:, 2], a[:, 3]
    cx, cy, ex, ey = f[:, 0], f[:, 1], f[:, 2], f[:, 3]
    point = (cx == ex) & (cy == ey)  # a point: the kernel makes only the first test
    tests = [_pt_seg(cx, cy, ax, ay, bx, by)]
    if point.all():  # points only: the other three tests are never made
        tests += [(np.full(len(pair), np.inf), cx, cy)] * 3
    else:
        tests += [
            _pt_seg(ex, ey, ax, ay, bx, by),
            _pt_seg(ax, ay, cx, cy, ex, ey),
            _pt_seg(bx, by, cx, cy, ex, ey),
        ]
    (d0, q0x, q0y), (d1, q1x, q1y), (d2, q2x, q2y), (d3, q3x, q3y) = tests
    d = np.column_stack([d0, d1, d2, d3])
    d[point, 1:] = np.inf
    key = (rank * fcp + q)[:, None] * 4 + np.arange(4)
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    keep = pair[starts]
    best = np.full(n, np.inf)
    best[keep] = np.minimum.reduceat(d.min(axis=1), starts)
    big = np.iinfo(np.int64).max
    masked = np.where(d == best[pair][:, None], key, big)
    kmin = np.full(n, big)
    kmin[keep] = np.minimum.reduceat(masked.min(axis=1), starts)
    found = best[pair][:, None] < np.inf
    c, t = np.nonzero((masked == kmin[pair][:, None]) & found)
    rows = np.column_stack(
        [
            np.choose(t, [cx[c], ex[c], q2x[c], q3x[c]]),
            np.choose(t, [cy[c], ey[c], q2y[c], q3y[c]]),
            np.choose(t, [q0x[c], q1x[c], ax[c], bx[c]]),
            np.choose(t, [q0y[c], q1y[c], ay[c], by[c]]),
        ]
    )
    out[pair[c]] = rows
    return out


def _pairs_nearest(
    firms: _Side,
    areas: _Side,
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    gap: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Nearest points (on the firm, on the area) of each pair, exact in the plane; a firm
    touching or inside its area gets a zero-length pair. ``areas.prepared_at`` gives this
    thread's own prepared areas. Up to :data:`TINY_WORK` in numpy; beyond, in the compiled
    kernel when it is loaded (or loading), else in numpy bounded by GEOS
    (:func:`_pairs_bounded`): the same points either way."""
    fs, as_ = firms.segs, areas.segs
    i, j = i.astype(np.int64), j.astype(np.int64)
    work = int((fs.count[i] * as_.count[j]).sum())  # not np.dot: BLAS threads spin after it
    if work <= TINY_WORK:
        res = _pairs_numpy(fs, firms.box, as_, i, j)
    elif not kernels_loaded():
        res = _pairs_bounded(firms, areas, i, j)
    else:
        from sxzones.analyses._kernels import pairs_kernel

        res = pairs_kernel(
            i,
            j,
            fs.xy,
            fs.start,
            fs.count,
            firms.box,
            as_.xy,
            as_.start,
            as_.count,
            as_.block0,
            as_.block_box,
        )
    pa, pb = res[:, :2].copy(), res[:, 2:].copy()
    maybe_in = np.flatnonzero(gap == 0)  # only a firm in the area's box can touch it
    if len(maybe_in):
        take = areas.prepared_at or areas.geoms.__getitem__
        inside = maybe_in[_point_hits(take, j[maybe_in], firms.geoms[i[maybe_in]])]
        pb[inside] = pa[inside]
    return pa, pb


def _pairs_bounded(
    firms: _Side,
    areas: _Side,
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """:func:`_pairs_numpy` for larger work without compiled code: each pair's distance from
    GEOS (``shapely.distance`` of the outlines, in C) bounds the area segments measured, so
    that a point firm is measured against a few segments, not its areas' whole boundaries.
    The same points as the kernel's. Pairs go :data:`BOUNDED_CHUNK` at a time (memory)."""
    parts = []
    for k in range(0, len(i), BOUNDED_CHUNK):
        ii, jj = i[k : k + BOUNDED_CHUNK], j[k : k + BOUNDED_CHUNK]
        d = shapely.distance(firms.outline_at(ii), areas.outline_at(jj))
        bound = d * (1.0 + 1e-9) + 1e-6  # rounding of either side's arithmetic; NaN: none
        parts.append(_pairs_numpy(firms.segs, firms.box, areas.segs, ii, jj, bound))
    return np.vstack(parts) if parts else np.zeros((0, 4))


def _far_candidates(
    fbox: npt.NDArray[np.float64],
    far: npt.NDArray[np.int64],
    abox: npt.NDArray[np.float64],
    kratio: float,
    known: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """:func:`sxzones.analyses._kernels.far_candidates` (see there): in the kernel when it is
    loaded and there are more than :data:`TINY_FAR` box pairs, else in numpy, at most
    :data:`SMALL_FAR` box pairs at a time: the same operations on the same doubles, the
    same pairs in the same order (firm by firm, areas in index order)."""
    if len(far) * len(abox) > (TINY_FAR if kernels_loaded() else np.inf):
        from sxzones.analyses._kernels import far_candidates

        return far_candidates(fbox, far, abox, kratio, known)  # type: ignore[no-any-return]
    step = max(1, SMALL_FAR // max(len(abox), 1))
    parts = [
        _far_numpy(fbox, far[k : k + step], abox, kratio, known[k : k + step])
        for k in range(0, len(far), step)
    ]
    if len(parts) == 1:
        return parts[0]
    return tuple(np.concatenate([p[m] for p in parts]) for m in range(3))  # type: ignore[return-value]


def _far_numpy(
    fbox: npt.NDArray[np.float64],
    far: npt.NDArray[np.int64],
    abox: npt.NDArray[np.float64],
    kratio: float,
    known: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """:func:`_far_candidates` of some firms, in numpy."""
    b = fbox[far][:, None, :]
    a = abox[None, :, :]
    fx = np.maximum(a[..., 2] - b[..., 0], b[..., 2] - a[..., 0])
    fy = np.maximum(a[..., 3] - b[..., 1], b[..., 3] - a[..., 1])
    ub = np.minimum(known, np.sqrt(fx * fx + fy * fy).min(axis=1, initial=np.inf))
    limits = ub * kratio + 1e-6
    dx = np.maximum(np.maximum(a[..., 0] - b[..., 2], b[..., 0] - a[..., 2]), 0.0)
    dy = np.maximum(np.maximum(a[..., 1] - b[..., 3], b[..., 1] - a[..., 3]), 0.0)
    g = np.sqrt(dx * dx + dy * dy)
    t, k = np.nonzero(g <= limits[:, None])  # row-major: firm by firm, areas in order
    return far[t].astype(np.int64), k.astype(np.int64), g[t, k]


def _resolve_pairs(
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    gap: npt.NDArray[np.float64],
    firms: _Side,
    areas: _Side,
    n: int,
    kratio: float,
    ruler: GroundRuler,
    dist: npt.NDArray[np.float64],
    area: npt.NDArray[np.int64],
) -> None:
    """Nearest area on the ground for the firms in ``i``, from candidate pairs and their
    bounding-box gaps. Fills ``dist`` and ``area`` in place.

    Exact planar distances are computed for each firm's best-gap pair, then only for the
    pairs whose gap could still come within the scale range of that distance; the pairs that
    may be nearest on the ground are then measured on the ellipsoid.
    """
    if not len(i):
        return

    def nearest(
        ii: npt.NDArray[np.int64], jj: npt.NDArray[np.int64], gg: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], ...]:
        return _pairs_nearest(firms, areas, ii, jj, gg)

    best = _group_argmin(i, gap)
    pa, pb = nearest(i[best], j[best], gap[best])
    d_best = np.full(n, np.inf)
    d_best[i[best]] = np.hypot(*(pa - pb).T)
    rest = np.ones(len(i), dtype=bool)
    rest[best] = False
    rest &= gap <= d_best[i] * kratio + 1e-6
    qa, qb = nearest(i[rest], j[rest], gap[rest])
    ci = np.r_[i[best], i[rest]]
    cj = np.r_[j[best], j[rest]]
    a_xy = np.vstack([pa, qa])
    b_xy = np.vstack([pb, qb])
    planar = np.hypot(*(a_xy - b_xy).T)
    pmin = np.full(n, np.inf)
    np.minimum.at(pmin, ci, planar)
    cand = planar <= pmin[ci] * kratio + 1e-6
    ci, cj, a_xy, b_xy, planar = ci[cand], cj[cand], a_xy[cand], b_xy[cand], planar[cand]
    g = np.zeros(len(ci))
    pos = np.flatnonzero(planar > 0)
    if len(pos):
        g[pos] = ruler(a_xy[pos, 0], a_xy[pos, 1], b_xy[pos, 0], b_xy[pos, 1])
        # near-ties between a firm's candidates are settled by pyproj.Geod
        gmin = np.full(n, np.inf)
        np.minimum.at(gmin, ci, g)
        close = pos[g[pos] <= gmin[ci[pos]] + 0.01]
        counts = np.bincount(ci[close], minlength=n)
        tie = close[counts[ci[close]] > 1]
        if len(tie):
            g[tie] = ruler.exact(a_xy[tie, 0], a_xy[tie, 1], b_xy[tie, 0], b_xy[tie, 1])
    # smallest distance per firm, then the lowest area index on exact ties
    win = _group_argmin(ci, g + cj * 1e-9 * (g == 0))
    dist[ci[win]] = g[win]
    area[ci[win]] = cj[win]


@dataclass(frozen=True)
class _Reach:
    """The planar reach of the box query, and the largest scale factor over the data: a
    ground distance ``d`` is at most ``d * kmax`` map units."""

    planar: float
    kmax: float


def _nearest_chunk(
    firm_geoms: npt.NDArray[np.object_],
    wide: shapely.STRtree,
    idx: TargetIndex,
    reach: _Reach,
    kratio: float,
    ruler: GroundRuler,
    own_thread: bool,
    fsegs: _Segments | None = None,
) -> Nearest:
    n = len(firm_geoms)
    kmax = reach.kmax
    dist = np.full(n, np.nan)
    area = np.full(n, -1, dtype=np.int64)
    # prepared geometries must be this thread's own (GEOS prepared geometry is not thread-safe)
    prepared_at = idx.prepared_at if own_thread else prepared_copy(idx.geoms).__getitem__
    areas = _Side(idx.geoms, idx.bounds, lambda: idx.segments, prepared_at)
    fbox = shapely.bounds(firm_geoms)
    firms = _Side(
        firm_geoms,
        fbox,
        (lambda: fsegs) if fsegs is not None else (lambda: _Segments.of(firm_geoms)),
    )
    # the tree holds the areas' boxes widened by the reach: a bounding-box query finds every
    # pair that can be within reach, without touching a vertex
    i, j = wide.query(firm_geoms)
    i, j, gap = _near_pairs(fbox, idx.bounds, i, j, reach.planar)
    _resolve_pairs(i, j, gap, firms, areas, n, kratio, ruler, dist, area)
    # Conclusive only where the distance found is shorter on the ground than any area left
    # out can be: those have a box gap > reach, hence a ground distance > reach / kmax. A long
    # area whose box covers a firm is within reach by its box, not by its distance.
    found = area >= 0
    far = np.flatnonzero(~found | (dist * kmax > reach.planar))
    if len(far):  # the areas whose box could hold the nearest point, over all areas
        known = np.where(found[far], dist[far] * kmax + 1e-6, np.inf)
        fi, fj, fg = _far_candidates(fbox, far.astype(np.int64), idx.bounds, kratio, known)
        _resolve_pairs(fi, fj, fg, firms, areas, n, kratio, ruler, dist, area)
    return Nearest(dist, area)


class TargetIndex:
    """Targets (areas) indexed once for repeated queries: bounds, an STRtree, a prepared copy
    for the thread that built the index (the calling thread uses it; worker threads prepare
    their own) and the boundary segments, both built on first use (a lock keeps threads from
    building them twice): a single site check needs neither for most layers.

    Attributes
    ----------
    geoms : ndarray of shapely geometries
        The targets, in the working CRS (metres).
    bounds : ndarray, shape (n, 4)
        minx, miny, maxx, maxy of each target.
    tree : shapely.STRtree
    prepared : ndarray of shapely geometries
    """

    def __init__(self, geoms: npt.NDArray[np.object_]) -> None:
        self.geoms = np.asarray(geoms, dtype=object)
        self.bounds = shapely.bounds(self.geoms)
        self.tree = shapely.STRtree(self.geoms)
        self._prepared: npt.NDArray[np.object_] | None = None
        self._segments: _Segments | None = None
        self._lock = threading.Lock()
        self._reach: dict[tuple[Any, ...], tuple[float, _Reach, shapely.STRtree]] = {}
        self._grid: list[CellGrid | None] = []

    @classmethod
    def of(cls, geoms: npt.NDArray[np.object_]) -> TargetIndex:
        return cls(geoms)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (sent to another process) without its lock and what is built on use."""
        return {"geoms": self.geoms}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["geoms"])  # type: ignore[misc]

    @property
    def prepared(self) -> npt.NDArray[np.object_]:
        """A prepared copy of the targets, for the thread that uses this index."""
        with self._lock:
            if self._prepared is None:
                self._prepared = prepared_copy(self.geoms)
            return self._prepared

    def prepared_at(self, j: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
        """The prepared targets at positions ``j``, for the thread that uses this index: taken
        from :attr:`prepared` when it exists or ``j`` holds many targets, else a prepared copy
        of just these (a single project touches a few units of hundreds: copying and
        preparing all of them cost more than its whole check). Either way the same geometries,
        prepared alike: the same predicate answers."""
        with self._lock:
            whole = self._prepared is not None
        if whole or len(j) * 8 >= len(self.geoms) * 4:
            return self.prepared[j]
        u, inverse = np.unique(j, return_inverse=True)
        if len(u) * 8 >= len(self.geoms):
            return self.prepared[j]
        return prepared_copy(self.geoms[u])[inverse.reshape(-1)]

    @functools.cached_property
    def total_bounds(self) -> npt.NDArray[np.float64]:
        """minx, miny, maxx, maxy of all targets."""
        return np.asarray(shapely.total_bounds(self.geoms), dtype=np.float64)

    def reach(
        self, bounds: npt.NDArray[np.float64], reach_m: float, crs: CRS
    ) -> tuple[float, _Reach, shapely.STRtree]:
        """The scale ratio, the planar reach and the tree of the targets' boxes widened by it
        for queries within ``reach_m`` over ``bounds``, made once for the same arguments
        (queries of a few geometries inside the targets' extent have the same bounds: a
        server's site checks)."""
        key = (tuple(bounds.tolist()), float(reach_m), crs.srs)
        with self._lock:
            found = self._reach.get(key)
        if found is not None:
            return found
        kmin, kmax = scale_range(bounds, crs)
        kratio = kmax / kmin * 1.0001
        kmax *= 1.0001  # a geodesic's image may bow slightly outside the sampled extent
        reach = _Reach(reach_m * kmax + 1.0, kmax)  # holds every pair within reach_m
        b = self.bounds
        wide = shapely.STRtree(
            shapely.box(
                b[:, 0] - reach.planar,
                b[:, 1] - reach.planar,
                b[:, 2] + reach.planar,
                b[:, 3] + reach.planar,
            )
        )
        with self._lock:
            if len(self._reach) >= 8:
                self._reach.clear()
            self._reach[key] = (kratio, reach, wide)
        return kratio, reach, wide

    def cell_grid(self) -> CellGrid | None:
        """The targets' :class:`CellGrid` (None unless they are polygons), built once."""
        with self._lock:
            if self._grid:
                return self._grid[0]
        grid = CellGrid.of(self)  # takes the lock itself (segments, prepared)
        with self._lock:
            if not self._grid:
                self._grid.append(grid)
            return self._grid[0]

    @property
    def segments(self) -> _Segments:
        """The targets' boundary segments (:class:`_Segments`), built once."""
        with self._lock:
            if self._segments is None:
                self._segments = _Segments.of(self.geoms)
            return self._segments


#: Inputs smaller than this run in the calling thread: a pool and private prepared copies
#: cost more than they save on small inputs (a single site check answers in milliseconds).
CHUNK = 4_000


def nearest_geodesic(
    firm_geoms: npt.NDArray[np.object_],
    areas: npt.NDArray[np.object_] | TargetIndex,
    reach_m: float,
    crs: CRS,
    threads: int,
    segments: _Segments | None = None,
    thresholds: tuple[float, ...] = (),
) -> Nearest:
    """For each geometry, the nearest area and its distance on the ellipsoid (0 touching).

    ``areas`` may be a :class:`TargetIndex` built once for many calls; ``segments``, the
    boundary segments of ``firm_geoms`` (:func:`segments_of`), computed once for many calls.
    Distances within a centimetre of a ``threshold`` are measured with ``pyproj.Geod``
    (:class:`~sxzones.geodesy.GroundRuler`), so that decisions there are exact. From
    :data:`KERNEL_INPUTS` geometries on, the compiled kernels are loaded (:func:`warm_up`);
    below, they are used only if something loaded them already.
    """
    if len(firm_geoms) >= KERNEL_INPUTS and not kernels_loaded():
        warm_up()  # they load while the trees and segments are built
    ruler = GroundRuler(crs, thresholds)
    idx = areas if isinstance(areas, TargetIndex) else TargetIndex.of(areas)
    fb, ab = shapely.total_bounds(firm_geoms), idx.total_bounds
    bounds = np.r_[np.minimum(fb[:2], ab[:2]), np.maximum(fb[2:], ab[2:])]
    kratio, reach, wide = idx.reach(bounds, reach_m, crs)
    n_chunks = 1 if threads <= 1 else max(1, min(threads * 4, len(firm_geoms) // CHUNK))
    if n_chunks == 1:
        return _nearest_chunk(
            firm_geoms, wide, idx, reach, kratio, ruler, own_thread=True, fsegs=segments
        )
    chunks = np.array_split(np.arange(len(firm_geoms)), n_chunks)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        parts = list(
            pool.map(
                lambda c: _nearest_chunk(
                    firm_geoms[c], wide, idx, reach, kratio, ruler, own_thread=False
                ),
                chunks,
            )
        )
    return Nearest(
        np.concatenate([p.distance for p in parts]), np.concatenate([p.area for p in parts])
    )


def warm_up() -> threading.Thread:
    """Load the compiled kernels in a background thread and return it.

    The first call of a numba function in a process costs about 0.6 s (LLVM start-up and
    loading the cached machine code), even with ``cache=True``. Runs call this before reading
    their inputs, so that the cost overlaps the reading instead of adding to it.
    """

    def run() -> None:
        from sxzones.analyses._kernels import (  # imports numba
            far_candidates,
            near_pairs,
            pairs_kernel,
        )

        g = np.array([shapely.box(0, 0, 1, 1)], dtype=object)
        s = _Segments.of(g)
        b = shapely.bounds(g)
        z = np.zeros(1, dtype=np.int64)
        pairs_kernel(z, z, s.xy, s.start, s.count, b, s.xy, s.start, s.count, s.block0, b)
        far_candidates(b, z, b, 1.0, np.full(1, np.inf))
        near_pairs(b, b, z, z, 1.0)

    _WARMING.set()
    t = threading.Thread(target=run, name="sxzones-warm-up", daemon=True)
    t.start()
    return t


def segments_of(geoms: npt.NDArray[np.object_]) -> _Segments:
    """The boundary segments of ``geoms``, for several :func:`nearest_geodesic` calls."""
    return _Segments.of(geoms)


def categorical_take(values: npt.NDArray[Any], index: npt.NDArray[np.int64]) -> pd.Categorical:
    """``values[index]`` as a categorical, without building a string per row; a blank value
    (None, NaN: a built-up area without a kind) is "" (it was the text "nan")."""
    values = np.asarray(values)
    texts = values.astype(str)
    if values.dtype == object:
        texts[pd.isna(values)] = ""
    cats, inverse = np.unique(texts, return_inverse=True)
    return pd.Categorical.from_codes(inverse[index], categories=cats)


def county_table(admin: gpd.GeoDataFrame) -> dict[str, npt.NDArray[np.object_]]:
    """The adcode, county and city names of the admin layer's counties (in layer order), and
    a blank last row: the table of :func:`county_lookup`, made once for many calls."""
    counties = admin[admin["level"] == "county"]
    blank = np.array([""], dtype=object)
    if counties.empty:
        return {"adcode": blank, "county": blank, "city": blank}
    names = dict(zip(admin["adcode"].astype(str), admin["name"].astype(str), strict=True))
    codes = counties["adcode"].astype(str).to_numpy()
    parents = (
        counties["parent_adcode"].astype(str).to_numpy()
        if "parent_adcode" in counties
        else np.array([c[:4] + "00" for c in codes])
    )
    return {
        "adcode": np.r_[codes, blank],
        "county": np.r_[counties["name"].astype(str).to_numpy(), blank],
        "city": np.r_[np.array([names.get(p, "") for p in parents], dtype=object), blank],
    }


#: Points per chunk of :func:`county_lookup` (each chunk prepares its own copy of the
#: counties; two chunks per thread at most; below this many points one thread is faster).
COUNTY_CHUNK = 50_000


def _point_hits(
    own: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.object_]],
    pj: npt.NDArray[np.int64],
    pts: npt.NDArray[np.object_],
) -> npt.NDArray[np.bool_]:
    """``intersects(own(pj), pts)``, pair by pair, with prepared areas ``own``: for points,
    grouped by area and tested on their coordinates (``intersects_xy``: the same predicate
    on the same prepared geometry, without a point per pair), in the pairs' order."""
    if not len(pj) or not bool(np.all(shapely.get_type_id(pts) == 0)):
        return np.asarray(shapely.intersects(own(pj), pts), dtype=bool)
    xy = shapely.get_coordinates(pts)
    order = np.argsort(pj, kind="stable")
    sj = pj[order]
    starts = np.flatnonzero(np.r_[True, sj[1:] != sj[:-1]])
    areas = own(sj[starts])
    hit = np.empty(len(pj), dtype=bool)
    for area, lo, hi in zip(areas, starts, np.r_[starts[1:], len(sj)], strict=True):
        k = order[lo:hi]
        hit[k] = shapely.intersects_xy(area, xy[k, 0], xy[k, 1])
    return hit


#: From this many points, :func:`county_lookup` places most of them by the counties' cell
#: grid (:class:`CellGrid`) and tests only those in cells a border crosses. Below, building
#: the grid (about 0.05 s for Shanxi's counties) costs more than it saves.
GRID_POINTS = 50_000


@dataclass(frozen=True)
class CellGrid:
    """Square cells over some polygons' extent, each holding the position of the polygon
    that contains all of it, :attr:`NONE` when no polygon holds any of it, or
    :attr:`CROSSED` when a boundary passes through it or within :attr:`MARGIN` of it (or
    it lies in several polygons): its points are tested against the polygons themselves.

    Exact: a point's cell is ``floor((x - x0) / size)`` (and so in y), monotone in x, so
    every point of a boundary segment falls in a cell of the range of the segment's box,
    and those cells are marked crossed. A run of unmarked cells along a row then holds no
    boundary point, and every point falling in it lies in the same polygons: those that
    contain the centre of the run's middle cell, tested with the lookup's own predicate
    (:func:`_point_hits`, ``intersects`` on the prepared polygons).

    Attributes
    ----------
    x0, y0 : float
        Lower-left corner of cell (0, 0), map units of the polygons' CRS.
    size : float
        Side of a cell, map units.
    cells : ndarray of int32, shape (rows, columns)
        Each cell's value, row ``r`` from ``y0 + r * size``.
    """

    x0: float
    y0: float
    size: float
    cells: npt.NDArray[np.int32]

    NONE: ClassVar[int] = -1
    CROSSED: ClassVar[int] = -2
    #: Map units by which a segment's box is widened before its cells are marked.
    MARGIN: ClassVar[float] = 1.0
    #: Side of a cell, map units (metres): 500 m leaves about 6 % of points spread over
    #: Shanxi in crossed cells.
    SIZE: ClassVar[float] = 500.0

    @classmethod
    def of(cls, index: TargetIndex, size: float = SIZE) -> CellGrid | None:
        """The grid of ``index``'s polygons (None when a target is not a polygon)."""
        geoms = index.geoms
        kinds = shapely.get_type_id(geoms)
        if not len(geoms) or not np.isin(kinds, (3, 6)).all() or shapely.is_empty(geoms).any():
            return None
        x0, y0 = index.total_bounds[:2] - size
        cols, rows = np.floor((index.total_bounds[2:] - index.total_bounds[:2]) / size) + 3
        crossed = np.zeros((int(rows), int(cols)), dtype=bool)
        s = index.segments.xy
        lo = np.column_stack([np.minimum(s[:, 0], s[:, 2]), np.minimum(s[:, 1], s[:, 3])])
        hi = np.column_stack([np.maximum(s[:, 0], s[:, 2]), np.maximum(s[:, 1], s[:, 3])])
        c0 = np.floor((lo - cls.MARGIN - (x0, y0)) / size).astype(np.int64)
        c1 = np.floor((hi + cls.MARGIN - (x0, y0)) / size).astype(np.int64)
        w, h = c1[:, 0] - c0[:, 0] + 1, c1[:, 1] - c0[:, 1] + 1
        seg, k = _ranges(np.arange(len(s)), np.zeros(len(s), dtype=np.int64), w * h)
        crossed[c0[seg, 1] + k // w[seg], c0[seg, 0] + k % w[seg]] = True
        free = ~crossed
        left = np.zeros_like(free)
        left[:, 1:] = free[:, :-1]
        right = np.zeros_like(free)
        right[:, :-1] = free[:, 1:]
        starts = np.flatnonzero(free & ~left)
        mid = (starts + np.flatnonzero(free & ~right)) // 2
        with gc_paused():  # a full collection would visit every firm's point
            centres = shapely.points(
                x0 + (mid % crossed.shape[1] + 0.5) * size,
                y0 + (mid // crossed.shape[1] + 0.5) * size,
            )
        pi, pj = index.tree.query(centres)
        hit = _point_hits(index.prepared_at, pj, centres[pi])
        pi, pj = pi[hit], pj[hit]
        count = np.bincount(pi, minlength=len(mid))
        value = np.where(count == 0, cls.NONE, cls.CROSSED).astype(np.int32)
        one = count[pi] == 1
        value[pi[one]] = pj[one]
        cells = np.full(crossed.shape, cls.CROSSED, dtype=np.int32)
        run = np.cumsum((free & ~left).ravel()) - 1
        cells.ravel()[free.ravel()] = value[run[free.ravel()]]
        return cls(float(x0), float(y0), float(size), cells)

    def place(self, points: npt.NDArray[np.object_]) -> npt.NDArray[np.int64] | None:
        """The value of each point's cell (:attr:`CROSSED` outside the grid); None unless
        every geometry is a point with coordinates."""
        if not bool(np.all(shapely.get_type_id(points) == 0)):
            return None
        xy = shapely.get_coordinates(points)
        if len(xy) != len(points):  # an empty point
            return None
        rows, cols = self.cells.shape
        c = np.floor((xy[:, 0] - self.x0) / self.size)
        r = np.floor((xy[:, 1] - self.y0) / self.size)
        ok = (c >= 0) & (c < cols) & (r >= 0) & (r < rows)  # NaN: not ok
        out = np.full(len(xy), self.CROSSED, dtype=np.int64)
        out[ok] = self.cells[r[ok].astype(np.int64), c[ok].astype(np.int64)]
        return out


#: A geometry's box over at most this many cells of a grid a side is placed by them
#: (:func:`held_by`).
HELD_CELLS = 4


def held_by(
    geoms: npt.NDArray[np.object_], poly: npt.NDArray[np.bool_], index: TargetIndex
) -> npt.NDArray[np.int64]:
    """Per geometry, the target (position in ``index``) that holds all of it by the targets'
    cell grid (:class:`CellGrid`: a cell's target contains the whole cell and no other
    target's boundary comes near it, so a polygon whose box lies in cells of one target lies
    in that target and touches no other), else -1 (not ``poly``, a box over a crossed or
    empty cell, or over more than :data:`HELD_CELLS` cells a side). Exact, as the grid is;
    for many parcels it spares a point lookup or predicate tests each (the counties a parcel
    covers, the control units it overlaps)."""
    out = np.full(len(geoms), -1, dtype=np.int64)
    grid = index.cell_grid()
    if grid is None:
        return out
    cells, size = grid.cells, grid.size
    b = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):  # an empty geometry's bounds: NaN, not placed
        c0, c1 = np.floor((b[:, [0, 2]] - grid.x0) / size).T
        r0, r1 = np.floor((b[:, [1, 3]] - grid.y0) / size).T
        ok = poly & (c0 >= 0) & (r0 >= 0) & (c1 < cells.shape[1]) & (r1 < cells.shape[0])
        ok &= (c1 - c0 < HELD_CELLS) & (r1 - r0 < HELD_CELLS)
    k = np.flatnonzero(ok)
    c0, c1, r0, r1 = (a[k].astype(np.int64) for a in (c0, c1, r0, r1))
    v = cells[r0, c0].astype(np.int64)
    same = v >= 0
    for dr in range(HELD_CELLS):
        for dc in range(HELD_CELLS):
            r, c = np.minimum(r0 + dr, r1), np.minimum(c0 + dc, c1)  # past the box: a cell in it
            same &= cells[r, c] == v
    out[k[same]] = v[same]
    return out


def county_lookup(
    points: npt.NDArray[np.object_],
    admin: gpd.GeoDataFrame,
    index: TargetIndex | None = None,
    threads: int | None = None,
    table: dict[str, npt.NDArray[np.object_]] | None = None,
) -> tuple[npt.NDArray[np.int64], dict[str, npt.NDArray[np.object_]]]:
    """For each point the row of its county in a table of adcode, county and city names; the
    table's last row is blank, for points outside every county. ``index`` and ``table``
    (:func:`county_table`) may be made once for many calls. From :data:`GRID_POINTS` points,
    those in cells of the counties' grid that no border crosses (:class:`CellGrid`) take
    the cell's county, and only the others are tested: the same rows."""
    n = len(points)
    table = county_table(admin) if table is None else table
    blank = len(table["adcode"]) - 1
    if blank == 0:  # no county
        return np.zeros(n, dtype=np.int64), table
    if index is None:
        index = TargetIndex.of(admin[admin["level"] == "county"].geometry.to_numpy())
    which = np.full(n, blank, dtype=np.int64)
    todo = np.arange(n)
    grid = index.cell_grid() if n >= GRID_POINTS else None
    placed = grid.place(points) if grid is not None else None
    if placed is not None:
        known = placed != CellGrid.CROSSED
        which[known] = np.where(placed[known] == CellGrid.NONE, blank, placed[known])
        todo = np.flatnonzero(~known)
    i, j = _county_hits(points, todo, index, threads)
    which[i] = j
    return which, table


def _county_hits(
    points: npt.NDArray[np.object_],
    todo: npt.NDArray[np.int64],
    index: TargetIndex,
    threads: int | None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The points at positions ``todo`` that lie in a county, and the first county each
    touches (in the tree's order: a point on a shared border takes the first), tested on
    the counties' prepared geometries, in chunks on threads for many points."""
    geoms, tree = index.geoms, index.tree

    def lookup(
        idx: npt.NDArray[np.int64],
        own: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.object_]] | None = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        if own is None:
            own = prepared_copy(geoms).__getitem__  # this thread's own
        pi, pj = tree.query(points[idx])  # bounding boxes only
        hit = _point_hits(own, pj, points[idx][pi])
        return idx[pi[hit]], pj[hit]

    threads = threads or min(4, os.cpu_count() or 1)
    n_chunks = 1 if threads <= 1 else max(1, min(2 * threads, len(todo) // COUNTY_CHUNK))
    if n_chunks == 1:
        found = [lookup(todo, index.prepared_at)]
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            found = list(pool.map(lookup, np.array_split(todo, n_chunks)))
    i = np.concatenate([f[0] for f in found])
    j = np.concatenate([f[1] for f in found])
    i, first = np.unique(i, return_index=True)  # a point on a shared border: first county
    return i, j[first]
