"""Nearest targets on the ellipsoid, county lookup, and small helpers shared by analyses.

:func:`nearest_geodesic` is the engine of the firm screen and of the site check's distances:
exact on the ellipsoid (see :mod:`sxzones.analyses.firm_zones` for the method), vectorised,
in worker threads that never share prepared geometries.
"""

from __future__ import annotations

import os
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

from sxzones.geodesy import geodesic_distance, nearest_points, scale_range

__all__ = ["Nearest", "TargetIndex", "categorical_take", "county_lookup", "nearest_geodesic"]


@dataclass(frozen=True)
class Nearest:
    distance: npt.NDArray[np.float64]  # geodesic metres
    area: npt.NDArray[np.int64]  # index into built-up areas


def _prepared_copy(geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
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
    distance between the geometries. Box rows are minx, miny, maxx, maxy (firms: or x, y)."""
    if fb.shape[1] == 2:  # points: x, y
        fx0 = fx1 = fb[i, 0]
        fy0 = fy1 = fb[i, 1]
    else:
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


@dataclass(frozen=True)
class _Segments:
    """Every boundary segment of the areas, grouped by area (CSR): rows x0, y0, x1, y1."""

    xy: npt.NDArray[np.float64]
    start: npt.NDArray[np.int64]
    count: npt.NDArray[np.int64]

    @classmethod
    def of(cls, areas: npt.NDArray[np.object_]) -> _Segments:
        rings, ring_area = shapely.get_rings(
            shapely.get_parts(areas, return_index=True)[0], return_index=True
        )
        part_area = shapely.get_parts(areas, return_index=True)[1]
        coords, ci = shapely.get_coordinates(rings, return_index=True)
        same = ci[1:] == ci[:-1]
        seg_area = part_area[ring_area[ci[:-1][same]]]
        order = np.argsort(seg_area, kind="stable")
        xy = np.column_stack([coords[:-1][same], coords[1:][same]])[order]
        count = np.bincount(seg_area, minlength=len(areas)).astype(np.int64)
        start = np.r_[0, np.cumsum(count)[:-1]].astype(np.int64)
        return cls(xy, start, count)


@numba.njit(cache=True, nogil=True)
def _nearest_on_segments(
    px: npt.NDArray[np.float64],
    py: npt.NDArray[np.float64],
    j: npt.NDArray[np.int64],
    start: npt.NDArray[np.int64],
    count: npt.NDArray[np.int64],
    seg: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Compiled loop: for each point k, the nearest point on the segments of area j[k]."""
    n = len(px)
    qx = np.empty(n)
    qy = np.empty(n)
    for k in range(n):
        s0 = start[j[k]]
        best = np.inf
        bx = 0.0
        by = 0.0
        for m in range(s0, s0 + count[j[k]]):
            ax = seg[m, 0]
            ay = seg[m, 1]
            dx = seg[m, 2] - ax
            dy = seg[m, 3] - ay
            wx = px[k] - ax
            wy = py[k] - ay
            ll = dx * dx + dy * dy
            t = 0.0
            if ll > 0.0:
                t = min(max((wx * dx + wy * dy) / ll, 0.0), 1.0)
            ex = wx - t * dx
            ey = wy - t * dy
            d2 = ex * ex + ey * ey
            if d2 < best:
                best = d2
                bx = ax + t * dx
                by = ay + t * dy
        qx[k] = bx
        qy[k] = by
    return qx, qy


def _point_pairs_nearest(
    px: npt.NDArray[np.float64],
    py: npt.NDArray[np.float64],
    j: npt.NDArray[np.int64],
    segs: _Segments,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Nearest boundary point (qx, qy) of area ``j[k]`` to point ``(px[k], py[k])``, exact in
    the plane: the projection onto each of the area's segments, the closest kept."""
    return _nearest_on_segments(
        np.ascontiguousarray(px),
        np.ascontiguousarray(py),
        j.astype(np.int64),
        segs.start,
        segs.count,
        segs.xy,
    )


def _pairs_nearest(
    firms: npt.NDArray[np.object_],
    areas: npt.NDArray[np.object_],
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    gap: npt.NDArray[np.float64],
    segs: _Segments | None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Nearest points (on the firm, on the area) of each pair; a firm touching or inside its
    area gets a zero-length pair."""
    if segs is None:  # site polygons: GEOS does it
        return nearest_points(firms[i], areas[j])
    xy = shapely.get_coordinates(firms[i])
    qx, qy = _point_pairs_nearest(xy[:, 0], xy[:, 1], j, segs)
    maybe_in = np.flatnonzero(gap == 0)  # only points inside the area's box can be inside it
    inside = maybe_in[shapely.intersects(areas[j[maybe_in]], firms[i[maybe_in]])]
    qx[inside], qy[inside] = xy[inside, 0], xy[inside, 1]
    return xy, np.column_stack([qx, qy])


def _resolve_pairs(
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    gap: npt.NDArray[np.float64],
    firms: npt.NDArray[np.object_],
    areas: npt.NDArray[np.object_],
    segs: _Segments | None,
    n: int,
    kratio: float,
    crs: CRS,
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
    best = _group_argmin(i, gap)
    pa, pb = _pairs_nearest(firms, areas, i[best], j[best], gap[best], segs)
    d_best = np.full(n, np.inf)
    d_best[i[best]] = np.hypot(*(pa - pb).T)
    rest = np.ones(len(i), dtype=bool)
    rest[best] = False
    rest &= gap <= d_best[i] * kratio + 1e-6
    qa, qb = _pairs_nearest(firms, areas, i[rest], j[rest], gap[rest], segs)
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
    pos = planar > 0
    if pos.any():
        g[pos] = geodesic_distance(a_xy[pos, 0], a_xy[pos, 1], b_xy[pos, 0], b_xy[pos, 1], crs)
    # smallest distance per firm, then the lowest area index on exact ties
    win = _group_argmin(ci, g + cj * 1e-9 * (g == 0))
    dist[ci[win]] = g[win]
    area[ci[win]] = cj[win]


def _nearest_chunk(
    firms: npt.NDArray[np.object_],
    wide: shapely.STRtree,
    areas: npt.NDArray[np.object_],
    abounds: npt.NDArray[np.float64],
    segs: _Segments | None,
    reach: float,
    kratio: float,
    crs: CRS,
    prepared: npt.NDArray[np.object_] | None = None,
) -> Nearest:
    n = len(firms)
    dist = np.full(n, np.nan)
    area = np.full(n, -1, dtype=np.int64)
    # prepared geometries must be this thread's own (GEOS prepared geometry is not thread-safe)
    areas = prepared if prepared is not None else _prepared_copy(areas)
    points = bool(np.all(shapely.get_type_id(firms) == 0))
    fb = shapely.get_coordinates(firms) if points else shapely.bounds(firms)
    # the tree holds the areas' boxes widened by the reach: a bounding-box query finds every
    # pair that can be within reach, without touching a vertex
    i, j = wide.query(firms)
    gap = _box_gap(fb, abounds, i, j)
    near = gap <= reach
    _resolve_pairs(i[near], j[near], gap[near], firms, areas, segs, n, kratio, crs, dist, area)
    far = np.flatnonzero(area < 0)
    if len(far):  # nothing within reach: every area is a candidate, pruned by the same bound
        for part in np.array_split(far, max(1, len(far) * len(areas) // 5_000_000 + 1)):
            fi = np.repeat(part, len(areas))
            fj = np.tile(np.arange(len(areas)), len(part))
            _resolve_pairs(
                fi,
                fj,
                _box_gap(fb, abounds, fi, fj),
                firms,
                areas,
                segs,
                n,
                kratio,
                crs,
                dist,
                area,
            )
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
            _prepared_copy(geoms),
        )


#: Inputs smaller than this run in the calling thread: a pool and private prepared copies
#: cost more than they save (a single site check answers in milliseconds).
CHUNK = 25_000


def nearest_geodesic(
    firm_geoms: npt.NDArray[np.object_],
    areas: npt.NDArray[np.object_] | TargetIndex,
    reach_m: float,
    crs: CRS,
    threads: int,
) -> Nearest:
    """For each geometry, the nearest area and its distance on the ellipsoid (0 touching).

    ``areas`` may be a :class:`TargetIndex` built once for many calls.
    """
    idx = areas if isinstance(areas, TargetIndex) else TargetIndex.of(areas)
    fb, ab = shapely.total_bounds(firm_geoms), shapely.total_bounds(idx.geoms)
    bounds = np.r_[np.minimum(fb[:2], ab[:2]), np.maximum(fb[2:], ab[2:])]
    kmin, kmax = scale_range(bounds, crs)
    reach = reach_m * kmax * 1.0001 + 1.0  # planar reach that holds every pair within reach_m
    kratio = kmax / kmin * 1.0001
    abounds = idx.bounds
    wide = shapely.STRtree(
        shapely.box(
            abounds[:, 0] - reach,
            abounds[:, 1] - reach,
            abounds[:, 2] + reach,
            abounds[:, 3] + reach,
        )
    )
    points = bool(np.all(shapely.get_type_id(firm_geoms) == 0))
    segs = idx.segments if points else None
    n_chunks = max(1, min(threads * 4, len(firm_geoms) // CHUNK))
    if n_chunks == 1:
        return _nearest_chunk(
            firm_geoms, wide, idx.geoms, abounds, segs, reach, kratio, crs, prepared=idx.prepared
        )
    chunks = np.array_split(np.arange(len(firm_geoms)), n_chunks)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        parts = list(
            pool.map(
                lambda c: _nearest_chunk(
                    firm_geoms[c], wide, idx.geoms, abounds, segs, reach, kratio, crs
                ),
                chunks,
            )
        )
    return Nearest(
        np.concatenate([p.distance for p in parts]), np.concatenate([p.area for p in parts])
    )


def categorical_take(values: npt.NDArray[Any], index: npt.NDArray[np.int64]) -> pd.Categorical:
    """``values[index]`` as a categorical, without building a string per row."""
    cats, inverse = np.unique(np.asarray(values).astype(str), return_inverse=True)
    return pd.Categorical.from_codes(inverse[index], categories=cats)


def county_lookup(
    points: npt.NDArray[np.object_],
    admin: gpd.GeoDataFrame,
    index: TargetIndex | None = None,
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
            own = _prepared_copy(geoms)  # this thread's own
        pi, pj = tree.query(points[idx])  # bounding boxes only
        hit = shapely.intersects(own[pj], points[idx][pi])  # prepared counties first: fast
        return idx[pi[hit]], pj[hit]

    n_chunks = max(1, min(8, n // CHUNK))
    if n_chunks == 1:
        found = [lookup(np.arange(n), index.prepared)]
    else:
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
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
