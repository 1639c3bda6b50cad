"""Nearest targets on the ellipsoid, county lookup, and small helpers shared by analyses.

:func:`nearest_geodesic` is the engine of the firm screen and of the site check's distances:
exact on the ellipsoid (see :mod:`sxzones.analyses.firm_zones` for the method), vectorised,
in worker threads that never share prepared geometries.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numba
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS

from sxzones.geodesy import GroundRuler, scale_range

__all__ = [
    "CHUNK",
    "Nearest",
    "TargetIndex",
    "categorical_take",
    "county_lookup",
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


def _group_argmin(
    group: npt.NDArray[np.int64],
    value: npt.NDArray[np.float64],
) -> npt.NDArray[np.int64]:
    """Position of the smallest ``value`` per ``group`` (first on ties), in O(n) passes
    after a stable sort by group; ``group`` from STRtree queries is already sorted."""
    if not len(group):
        return np.empty(0, dtype=np.int64)
    order = np.argsort(group, kind="stable")
    g, v = group[order], value[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    counts = np.diff(np.r_[starts, len(g)])
    vmin = np.minimum.reduceat(v, starts)
    hit = np.flatnonzero(v == np.repeat(vmin, counts))
    first = hit[np.r_[True, g[hit][1:] != g[hit][:-1]]]
    return order[first]


BLOCK = 32  # segments per block of an area's boundary; blocks are pruned by bounding box


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
                parts, part_of = shapely.get_parts(g, return_index=True)
                rings, ring_of = shapely.get_rings(parts, return_index=True)
                coords, ci = shapely.get_coordinates(rings, return_index=True)
                same = ci[1:] == ci[:-1]
                ids.append(poly[part_of[ring_of[ci[:-1][same]]]])
            rows.append(np.column_stack([coords[:-1][same], coords[1:][same]]))
        owner = np.concatenate(ids) if ids else np.empty(0, dtype=np.int64)
        xy = np.vstack(rows) if rows else np.empty((0, 4))
        order = np.argsort(owner, kind="stable")
        owner, xy = owner[order], np.ascontiguousarray(xy[order])
        count = np.bincount(owner, minlength=n).astype(np.int64)
        start = np.r_[0, np.cumsum(count)[:-1]].astype(np.int64)
        nblocks = (count + BLOCK - 1) // BLOCK
        block0 = np.r_[0, np.cumsum(nblocks)[:-1]].astype(np.int64)
        block_of = block0[owner] + (np.arange(len(owner)) - start[owner]) // BLOCK
        firsts = (
            np.flatnonzero(np.r_[True, block_of[1:] != block_of[:-1]])
            if len(owner)
            else np.empty(0, dtype=np.int64)
        )
        if len(owner):
            lo_x = np.minimum(xy[:, 0], xy[:, 2])
            lo_y = np.minimum(xy[:, 1], xy[:, 3])
            hi_x = np.maximum(xy[:, 0], xy[:, 2])
            hi_y = np.maximum(xy[:, 1], xy[:, 3])
            box = np.column_stack(
                [
                    np.minimum.reduceat(lo_x, firsts),
                    np.minimum.reduceat(lo_y, firsts),
                    np.maximum.reduceat(hi_x, firsts),
                    np.maximum.reduceat(hi_y, firsts),
                ]
            )
        else:
            box = np.empty((0, 4))
        return cls(xy, start, count, block0, np.ascontiguousarray(box))


@numba.njit(cache=True, nogil=True, inline="always")
def _pt_seg(
    px: float,
    py: float,
    ax: float,
    ay: float,
    bx: float,
    by: float,
) -> tuple[float, float, float]:
    """Squared distance from (px, py) to segment a-b, and the nearest point on it."""
    dx = bx - ax
    dy = by - ay
    ll = dx * dx + dy * dy
    t = 0.0
    if ll > 0.0:
        t = min(max(((px - ax) * dx + (py - ay) * dy) / ll, 0.0), 1.0)
    qx = ax + t * dx
    qy = ay + t * dy
    return (px - qx) * (px - qx) + (py - qy) * (py - qy), qx, qy


@numba.njit(cache=True, nogil=True)
def _pairs_kernel(
    fi: npt.NDArray[np.int64],
    aj: npt.NDArray[np.int64],
    fseg: npt.NDArray[np.float64],
    fstart: npt.NDArray[np.int64],
    fcount: npt.NDArray[np.int64],
    fbox: npt.NDArray[np.float64],
    aseg: npt.NDArray[np.float64],
    astart: npt.NDArray[np.int64],
    acount: npt.NDArray[np.int64],
    ablock0: npt.NDArray[np.int64],
    abox: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Compiled loop: for each pair (f, a) of disjoint geometries, the nearest points of
    their boundaries (rows px, py on f, qx, qy on a). The blocks of a's boundary are visited
    from the nearest by bounding box, and skipped once their box is farther than the best."""
    n = len(fi)
    out = np.empty((n, 4))
    for k in range(n):
        f = fi[k]
        a = aj[k]
        f0 = fstart[f]
        fc = fcount[f]
        a0 = astart[a]
        ac = acount[a]
        nb = (ac + BLOCK - 1) // BLOCK
        b0 = ablock0[a]
        gaps = np.empty(nb)
        first = 0
        for b in range(nb):
            dx = max(max(abox[b0 + b, 0] - fbox[f, 2], fbox[f, 0] - abox[b0 + b, 2]), 0.0)
            dy = max(max(abox[b0 + b, 1] - fbox[f, 3], fbox[f, 1] - abox[b0 + b, 3]), 0.0)
            gaps[b] = dx * dx + dy * dy
            if gaps[b] < gaps[first]:
                first = b
        best = np.inf
        r0 = r1 = r2 = r3 = 0.0
        fx0, fy0, fx1, fy1 = fbox[f, 0], fbox[f, 1], fbox[f, 2], fbox[f, 3]
        for step in range(nb):
            b = (first + step) % nb
            if gaps[b] >= best:
                continue
            for m in range(a0 + b * BLOCK, min(a0 + (b + 1) * BLOCK, a0 + ac)):
                ax = aseg[m, 0]
                ay = aseg[m, 1]
                bx = aseg[m, 2]
                by = aseg[m, 3]
                # the segment's box is a lower bound too: skip it before 16 point-segment tests
                gx = max(max(min(ax, bx) - fx1, fx0 - max(ax, bx)), 0.0)
                gy = max(max(min(ay, by) - fy1, fy0 - max(ay, by)), 0.0)
                if gx * gx + gy * gy >= best:
                    continue
                for q in range(f0, f0 + fc):
                    cx = fseg[q, 0]
                    cy = fseg[q, 1]
                    ex = fseg[q, 2]
                    ey = fseg[q, 3]
                    d, qx, qy = _pt_seg(cx, cy, ax, ay, bx, by)
                    if d < best:
                        best, r0, r1, r2, r3 = d, cx, cy, qx, qy
                    if cx == ex and cy == ey:
                        continue  # a point: one check is all
                    d, qx, qy = _pt_seg(ex, ey, ax, ay, bx, by)
                    if d < best:
                        best, r0, r1, r2, r3 = d, ex, ey, qx, qy
                    d, qx, qy = _pt_seg(ax, ay, cx, cy, ex, ey)
                    if d < best:
                        best, r0, r1, r2, r3 = d, qx, qy, ax, ay
                    d, qx, qy = _pt_seg(bx, by, cx, cy, ex, ey)
                    if d < best:
                        best, r0, r1, r2, r3 = d, qx, qy, bx, by
        out[k, 0] = r0
        out[k, 1] = r1
        out[k, 2] = r2
        out[k, 3] = r3
    return out


@numba.njit(cache=True, nogil=True, inline="always")
def _gap(b: npt.NDArray[np.float64], a: npt.NDArray[np.float64]) -> float:
    """Gap between two boxes (minx, miny, maxx, maxy)."""
    dx = max(max(a[0] - b[2], b[0] - a[2]), 0.0)
    dy = max(max(a[1] - b[3], b[1] - a[3]), 0.0)
    return float(np.sqrt(dx * dx + dy * dy))


@numba.njit(cache=True, nogil=True)
def _far_candidates(
    fbox: npt.NDArray[np.float64],
    far: npt.NDArray[np.int64],
    abox: npt.NDArray[np.float64],
    kratio: float,
    known: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """For firms whose search within reach was not conclusive: the pairs (firm, area) whose
    bounding-box gap is at most ``kratio`` x the smallest upper bound of the planar distance
    (``known[t]``, a distance already found, or the largest distance between the two boxes
    over all areas), with their gaps. Every area that can be nearest on the ground is among
    them; usually one or two are."""
    m, n = abox.shape[0], len(far)
    limits = np.empty(n)
    counts = np.zeros(n, dtype=np.int64)
    for t in range(n):  # the bound per firm, and how many areas it keeps
        b = fbox[far[t]]
        ub = known[t]
        for a in range(m):
            fx = max(abox[a, 2] - b[0], b[2] - abox[a, 0])
            fy = max(abox[a, 3] - b[1], b[3] - abox[a, 1])
            ub = min(ub, np.sqrt(fx * fx + fy * fy))
        limits[t] = ub * kratio + 1e-6
        for a in range(m):
            counts[t] += _gap(b, abox[a]) <= limits[t]
    total = counts.sum()
    oi = np.empty(total, dtype=np.int64)
    oj = np.empty(total, dtype=np.int64)
    og = np.empty(total)
    k = 0
    for t in range(n):  # the pairs kept
        b = fbox[far[t]]
        for a in range(m):
            g = _gap(b, abox[a])
            if g <= limits[t]:
                oi[k], oj[k], og[k] = far[t], a, g
                k += 1
    return oi, oj, og


def _pairs_nearest(
    firms: npt.NDArray[np.object_],
    fsegs: _Segments,
    fbox: npt.NDArray[np.float64],
    areas: npt.NDArray[np.object_],
    asegs: _Segments,
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    gap: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Nearest points (on the firm, on the area) of each pair, exact in the plane; a firm
    touching or inside its area gets a zero-length pair. ``areas`` must be prepared."""
    res = _pairs_kernel(
        i.astype(np.int64),
        j.astype(np.int64),
        fsegs.xy,
        fsegs.start,
        fsegs.count,
        fbox,
        asegs.xy,
        asegs.start,
        asegs.count,
        asegs.block0,
        asegs.block_box,
    )
    pa, pb = res[:, :2].copy(), res[:, 2:].copy()
    maybe_in = np.flatnonzero(gap == 0)  # only a firm in the area's box can touch it
    if len(maybe_in):
        inside = maybe_in[shapely.intersects(areas[j[maybe_in]], firms[i[maybe_in]])]
        pb[inside] = pa[inside]
    return pa, pb


@dataclass(frozen=True)
class _Side:
    """One side of a query: geometries, their boundary segments and bounding boxes."""

    geoms: npt.NDArray[np.object_]
    segs: _Segments
    box: npt.NDArray[np.float64]


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
        return _pairs_nearest(
            firms.geoms, firms.segs, firms.box, areas.geoms, areas.segs, ii, jj, gg
        )

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
    prepared = idx.prepared if own_thread else prepared_copy(idx.geoms)
    areas = _Side(prepared, idx.segments, idx.bounds)
    fbox = shapely.bounds(firm_geoms)
    firms = _Side(firm_geoms, fsegs if fsegs is not None else _Segments.of(firm_geoms), fbox)
    # the tree holds the areas' boxes widened by the reach: a bounding-box query finds every
    # pair that can be within reach, without touching a vertex
    i, j = wide.query(firm_geoms)
    gap = _box_gap(fbox, idx.bounds, i, j)
    near = gap <= reach.planar
    _resolve_pairs(i[near], j[near], gap[near], firms, areas, n, kratio, ruler, dist, area)
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


@dataclass
class TargetIndex:
    """Targets (areas) indexed once for repeated queries: boundary segments, bounds, an
    STRtree, and a prepared copy for the thread that built the index (the calling thread
    uses it; worker threads prepare their own)."""

    geoms: npt.NDArray[np.object_]
    bounds: npt.NDArray[np.float64]
    tree: shapely.STRtree
    segments: _Segments
    prepared: npt.NDArray[np.object_]

    @classmethod
    def of(cls, geoms: npt.NDArray[np.object_]) -> TargetIndex:
        geoms = np.asarray(geoms, dtype=object)
        return cls(
            geoms,
            shapely.bounds(geoms),
            shapely.STRtree(geoms),
            _Segments.of(geoms),
            prepared_copy(geoms),
        )


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
    (:class:`~sxzones.geodesy.GroundRuler`), so that decisions there are exact.
    """
    ruler = GroundRuler(crs, thresholds)
    idx = areas if isinstance(areas, TargetIndex) else TargetIndex.of(areas)
    fb, ab = shapely.total_bounds(firm_geoms), shapely.total_bounds(idx.geoms)
    bounds = np.r_[np.minimum(fb[:2], ab[:2]), np.maximum(fb[2:], ab[2:])]
    kmin, kmax = scale_range(bounds, crs)
    kratio = kmax / kmin * 1.0001
    kmax *= 1.0001  # a geodesic's image may bow slightly outside the sampled extent
    reach = _Reach(reach_m * kmax + 1.0, kmax)  # holds every pair within reach_m
    abounds = idx.bounds
    wide = shapely.STRtree(
        shapely.box(
            abounds[:, 0] - reach.planar,
            abounds[:, 1] - reach.planar,
            abounds[:, 2] + reach.planar,
            abounds[:, 3] + reach.planar,
        )
    )
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
        g = np.array([shapely.box(0, 0, 1, 1)], dtype=object)
        s = _Segments.of(g)
        b = shapely.bounds(g)
        z = np.zeros(1, dtype=np.int64)
        _pairs_kernel(z, z, s.xy, s.start, s.count, b, s.xy, s.start, s.count, s.block0, b)
        _far_candidates(b, z, b, 1.0, np.full(1, np.inf))

    t = threading.Thread(target=run, name="sxzones-warm-up", daemon=True)
    t.start()
    return t


def segments_of(geoms: npt.NDArray[np.object_]) -> _Segments:
    """The boundary segments of ``geoms``, for several :func:`nearest_geodesic` calls."""
    return _Segments.of(geoms)


def categorical_take(values: npt.NDArray[Any], index: npt.NDArray[np.int64]) -> pd.Categorical:
    """``values[index]`` as a categorical, without building a string per row."""
    cats, inverse = np.unique(np.asarray(values).astype(str), return_inverse=True)
    return pd.Categorical.from_codes(inverse[index], categories=cats)


def county_lookup(
    points: npt.NDArray[np.object_],
    admin: gpd.GeoDataFrame,
    index: TargetIndex | None = None,
    threads: int | None = None,
) -> tuple[npt.NDArray[np.int64], dict[str, npt.NDArray[np.object_]]]:
    """For each point the row of its county in a table of adcode, county and city names; the
    table's last row is blank, for points outside every county."""
    n = len(points)
    counties = admin[admin["level"] == "county"]
    blank = np.array([""], dtype=object)
    if counties.empty:
        return np.zeros(n, dtype=np.int64), {"adcode": blank, "county": blank, "city": blank}
    if index is None:
        index = TargetIndex.of(counties.geometry.to_numpy())
    geoms, tree = index.geoms, index.tree

    def lookup(
        idx: npt.NDArray[np.int64],
        own: npt.NDArray[np.object_] | None = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        if own is None:
            own = prepared_copy(geoms)  # this thread's own
        pi, pj = tree.query(points[idx])  # bounding boxes only
        hit = shapely.intersects(own[pj], points[idx][pi])  # prepared counties first: fast
        return idx[pi[hit]], pj[hit]

    threads = threads or min(4, os.cpu_count() or 1)
    n_chunks = 1 if threads <= 1 else max(1, min(8, n // CHUNK))
    if n_chunks == 1:
        found = [lookup(np.arange(n), index.prepared)]
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            found = list(pool.map(lookup, np.array_split(np.arange(n), n_chunks)))
    i = np.concatenate([f[0] for f in found])
    j = np.concatenate([f[1] for f in found])
    i, first = np.unique(i, return_index=True)  # a point on a shared border: first county
    j = j[first]
    names = dict(zip(admin["adcode"].astype(str), admin["name"].astype(str), strict=True))
    codes = counties["adcode"].astype(str).to_numpy()
    parents = (
        counties["parent_adcode"].astype(str).to_numpy()
        if "parent_adcode" in counties
        else np.array([c[:4] + "00" for c in codes])
    )
    table = {
        "adcode": np.r_[codes, blank],
        "county": np.r_[counties["name"].astype(str).to_numpy(), blank],
        "city": np.r_[np.array([names.get(p, "") for p in parents], dtype=object), blank],
    }
    which = np.full(n, len(codes), dtype=np.int64)
    which[i] = j
    return which, table
