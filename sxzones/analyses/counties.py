"""The counties a project or candidate covers, and the part of it outside the rules'
jurisdiction.

A parcel across a county line (or a multipart project with parts in two cities) lies in
each county it covers, not only in the county of one point on its surface; a parcel across
the province's border lies partly where the plan applies and partly where it does not. One
point decided both before: a parcel a third in Shanxi was "outside Shanxi" whole, one a
seventh in Hebei was inside whole (audit 9, C3 and C11).

Method: the county of a point on each geometry's surface
(:func:`~sxzones.analyses.nearest.county_lookup`); a prepared ``covers`` test keeps the
parcels wholly inside that county (most of them; in large batches most are placed by the
counties' cell grid without either), and only the others are intersected with
the counties they touch, each overlap measured on the ellipsoid
(:func:`sxzones.geodesy.ellipsoidal_area`). A county whose overlap is a sliver (at most
1 m² or 0.1 % of the parcel: boundary layers are not drawn that finely) is not listed, and a
sliver outside the jurisdiction is not cut away.

A multipoint, a line or a collection counts every part (:func:`_parted`; audit 10 D3: a
MultiPoint named its first point's county, a Taiyuan-region ban "in 运城市 盐湖区"): the
county of each point (a share by count), each county's length of its lines (ellipsoidal,
:func:`ground_length`) and area of its polygons; its part outside the jurisdiction is cut
away and said in its own measure ("1 of 2 points", "1,384 m (52.5 %) of the line").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS

from sxzones.analyses.nearest import (
    GRID_POINTS,
    TargetIndex,
    county_lookup,
    flat_parts,
    held_by,
)
from sxzones.geodesy import ellipsoidal_area, geodesic_distance

__all__ = [
    "PARTED",
    "SLIVER_SHARE",
    "Coverage",
    "clipped",
    "county_cover",
    "ground_length",
    "sliver",
]

#: A part of a parcel at most this share of it (and at most 1 m²) is a sliver: within what
#: the boundary layers can tell (as a parcel's part outside every control unit).
SLIVER_SHARE = 1e-3


def sliver(parea: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Per parcel of area ``parea`` (m²), the largest part (m²) that counts as a sliver."""
    return np.maximum(1.0, SLIVER_SHARE * np.asarray(parea, dtype=np.float64))


@dataclass(frozen=True)
class Coverage:
    """Per geometry, the counties it covers and its part outside the jurisdiction.

    Attributes
    ----------
    adcode, county, city : ndarray of str
        The counties' adcodes (``;``-joined), names and cities (``"; "``-joined, each city
        once), the county with the largest share first (for a point or a parcel within one
        county: that county, as before); blank outside every county.
    outside_m2 : ndarray of float
        Area (m², ellipsoidal) in counties outside the jurisdiction (0 for points).
    outside_names : ndarray of str
        Those counties' names, ``", "``-joined, largest first (a text that goes into
        ``"; "``-joined reasons).
    away : ndarray of bool
        Wholly outside the jurisdiction (a point in a county outside it; a parcel with at
        most a sliver in no county outside it).
    partial : ndarray of bool
        More than a sliver outside the jurisdiction, and more than a sliver not.
    outside_geoms : ndarray of geometries
        Where ``partial``: the counties outside the jurisdiction that it touches (their
        union, cut to 1 m around its box); elsewhere None.
    outside_said : ndarray of str
        Where ``partial``: how much of it lies outside, as said ("12,345 m² (33.3 %) of the
        parcel", "1 of 2 points", "1,234 m (40.0 %) of the line", joined by " and " for a
        collection); elsewhere blank.
    """

    adcode: npt.NDArray[np.object_]
    county: npt.NDArray[np.object_]
    city: npt.NDArray[np.object_]
    outside_m2: npt.NDArray[np.float64]
    outside_names: npt.NDArray[np.object_]
    away: npt.NDArray[np.bool_]
    partial: npt.NDArray[np.bool_]
    outside_geoms: npt.NDArray[np.object_]
    outside_said: npt.NDArray[np.object_]

    def inside(self, geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
        """``geoms`` (the ones this coverage was made of) with the part outside the
        jurisdiction cut away where :attr:`partial` (a copy; the others as they are)."""
        out = np.array(geoms, dtype=object)
        k = np.flatnonzero(self.partial)
        if len(k):
            out[k] = shapely.difference(out[k], self.outside_geoms[k])
        return out


def county_cover(
    geoms: npt.NDArray[np.object_],
    parea: npt.NDArray[np.float64],
    admin: gpd.GeoDataFrame,
    index: TargetIndex,
    table: dict[str, npt.NDArray[np.object_]],
    outside_rows: npt.NDArray[np.bool_],
    crs: CRS,
    threads: int = 1,
) -> Coverage:
    """The counties each geometry covers (points and polygons in ``crs``, projected,
    metres; ``parea`` their ellipsoidal areas, m²) and its part outside the jurisdiction.

    Parameters
    ----------
    admin : GeoDataFrame
        The admin layer (``level == "county"`` rows are the counties), in ``crs``.
    index, table
        The counties' index and table (:func:`~sxzones.analyses.nearest.county_table`, the
        last row blank), in the same order.
    outside_rows : ndarray of bool
        Per row of ``table``, whether that county lies outside the jurisdiction (the blank
        row: False).
    """
    n = len(geoms)
    blank = len(table["adcode"]) - 1
    tid = shapely.get_type_id(geoms)
    parted = np.isin(tid, PARTED) & ~shapely.is_empty(geoms) if blank > 0 else np.zeros(n, bool)
    poly = np.isin(tid, (3, 6)) & (np.asarray(parea) > 0)
    held = held_by(geoms, poly, index) if blank > 0 and n >= GRID_POINTS else np.full(n, -1)
    covered = held >= 0  # a parcel in cells of one county lies in it: no test
    which = np.where(covered, held, blank)
    rest = np.flatnonzero(~covered & ~parted)
    at, _ = county_lookup(shapely.point_on_surface(geoms[rest]), admin, index, threads, table)
    which[rest] = at
    outside_m2 = np.zeros(n)
    several: dict[int, list[int]] = {}
    out_rows: dict[int, list[tuple[int, shapely.Geometry]]] = {}
    if blank > 0 and poly.any():
        k = np.flatnonzero(poly & ~covered & (which != blank))
        if len(k):  # most parcels lie within the county of their point
            covered[k] = shapely.covers(index.prepared_at(which[k]), geoms[k])
        whole = covered & outside_rows[which]
        outside_m2[whole] = parea[whole]
        spill = np.flatnonzero(poly & ~covered)
        if len(spill):
            found = (which, outside_m2, several, out_rows)
            _spilled(geoms, parea, spill, index, outside_rows, crs, *found)
    tol = sliver(parea)
    away = np.where(poly, (outside_m2 > 0) & (parea - outside_m2 <= tol), outside_rows[which])
    partial = poly & (outside_m2 > tol) & ~away
    said = np.full(n, "", dtype=object)
    for q in np.flatnonzero(partial).tolist():  # few: those across the border
        said[q] = _said_area(float(outside_m2[q]), float(parea[q]))
    if parted.any():
        now = (which, outside_m2, several, out_rows, away, partial, said)
        _parted(
            geoms, np.flatnonzero(parted), admin, index, table, outside_rows, crs, threads, *now
        )
    return _coverage(table, which, several, out_rows, outside_m2, away, partial, said)


#: Geometry type ids whose every part counts (a line, a ring, a multipoint, a multiline, a
#: collection): their counties are those of their points (by count), of their lines (by
#: length) and of their polygons (by area), not of one point on them.
PARTED = (1, 2, 4, 5, 7)


def _said_area(m2: float, parea: float) -> str:
    """The part (``m2`` of ``parea``, m²) of a parcel outside the jurisdiction, as said."""
    return f"{m2:,.0f} m² ({100 * m2 / parea:.1f} %) of the parcel"


def ground_length(geoms: npt.NDArray[np.object_], crs: CRS) -> npt.NDArray[np.float64]:
    """Lengths (m, on the ellipsoid of ``crs``) of the lines in each geometry (projected,
    edges straight in ``crs``; densified to 1 km and each piece measured as a geodesic,
    :func:`sxzones.geodesy.geodesic_distance`); points and polygons add nothing."""
    out = np.zeros(len(geoms))
    parts, owner = flat_parts(np.asarray(geoms, dtype=object))
    line = np.isin(shapely.get_type_id(parts), (1, 2))
    if not line.any():
        return out
    xy, i = shapely.get_coordinates(shapely.segmentize(parts[line], 1000.0), return_index=True)
    same = np.flatnonzero(i[1:] == i[:-1])
    d = geodesic_distance(xy[same, 0], xy[same, 1], xy[same + 1, 0], xy[same + 1, 1], crs)
    per_line = np.bincount(i[same], weights=d, minlength=int(line.sum()))
    return out + np.bincount(owner[line], weights=per_line, minlength=len(geoms))


def clipped(
    geoms: npt.NDArray[np.object_], boxes: npt.NDArray[np.float64]
) -> npt.NDArray[np.object_]:
    """Each geometry cut to its box (rows minx, miny, maxx, maxy): the part an intersection
    with something inside the box needs, far cheaper to intersect than the whole. GEOS's
    rectangle clip may fail on a valid polygon (a sliver part that the box cuts to a line:
    "Invalid number of points in LinearRing"); that geometry is then kept whole, which
    gives the same intersection."""
    out = np.empty(len(geoms), dtype=object)
    for k, (g, b) in enumerate(zip(geoms, boxes.tolist(), strict=True)):
        try:
            out[k] = shapely.clip_by_rect(g, *b)
        except shapely.errors.GEOSException:
            out[k] = g
    return out


def _spilled(
    geoms: npt.NDArray[np.object_],
    parea: npt.NDArray[np.float64],
    spill: npt.NDArray[np.int64],
    index: TargetIndex,
    outside_rows: npt.NDArray[np.bool_],
    crs: CRS,
    which: npt.NDArray[np.int64],
    outside_m2: npt.NDArray[np.float64],
    several: dict[int, list[int]],
    out_rows: dict[int, list[tuple[int, shapely.Geometry]]],
) -> None:
    """For the parcels at ``spill`` (not within the county of their point): the overlap of
    each with every county it touches, on the ellipsoid. Sets ``which`` (the county of the
    largest overlap), ``outside_m2`` (the overlaps outside the jurisdiction, summed),
    ``several`` (parcel -> the county rows of its overlaps larger than a sliver, largest
    first, when there are two or more) and ``out_rows`` (parcel -> the rows of the counties
    outside the jurisdiction it overlaps, largest first, each county cut to 1 m around the
    parcel's box: what a cut at the border needs of it)."""
    i, j = index.tree.query(geoms[spill])  # boxes; the prepared counties decide
    p = spill[i]
    hit = shapely.intersects(index.prepared_at(j), geoms[p]) if len(p) else np.zeros(0, bool)
    p, j = p[hit], j[hit]
    if not len(p):
        return
    box = shapely.bounds(geoms[p]) + np.array([-1.0, -1.0, 1.0, 1.0])
    near = clipped(index.geoms[j], box)  # a county's few vertices near the parcel
    area = ellipsoidal_area(shapely.intersection(geoms[p], near), crs)
    keep = area > 0  # a shared boundary only: no part of the parcel there
    p, j, area, near = p[keep], j[keep], area[keep], near[keep]
    np.add.at(outside_m2, p[outside_rows[j]], area[outside_rows[j]])
    order = np.lexsort((j, -area, p))  # per parcel: largest overlap first, then layer order
    p, j, area, near = p[order], j[order], area[order], near[order]
    starts = np.flatnonzero(np.r_[True, p[1:] != p[:-1]]) if len(p) else np.zeros(0, int)
    tol = sliver(parea)
    for a, b in zip(starts.tolist(), [*starts[1:].tolist(), len(p)], strict=True):
        k = int(p[a])
        rows = [int(r) for r, s in zip(j[a:b], area[a:b], strict=True) if s > tol[k]]
        which[k] = rows[0] if rows else int(j[a])
        if len(rows) > 1:
            several[k] = rows
        if outside_rows[j[a:b]].any():
            out_rows[k] = [(int(j[m]), near[m]) for m in range(a, b) if outside_rows[j[m]]]


def _coverage(
    table: dict[str, npt.NDArray[np.object_]],
    which: npt.NDArray[np.int64],
    several: dict[int, list[int]],
    out_rows: dict[int, list[tuple[int, shapely.Geometry]]],
    outside_m2: npt.NDArray[np.float64],
    away: npt.NDArray[np.bool_],
    partial: npt.NDArray[np.bool_],
    said: npt.NDArray[np.object_],
) -> Coverage:
    """The :class:`Coverage` of the counties found: one county's texts taken from the table
    for every geometry, those over several counties joined."""
    n = len(which)
    adcode = np.asarray(table["adcode"][which], dtype=object).copy()
    county = np.asarray(table["county"][which], dtype=object).copy()
    city = np.asarray(table["city"][which], dtype=object).copy()
    names = np.where(away, county, "").astype(object)
    geoms = np.full(n, None, dtype=object)
    for k, rows in several.items():
        adcode[k] = ";".join(str(table["adcode"][r]) for r in rows)
        county[k] = "; ".join(str(table["county"][r]) for r in rows)
        city[k] = "; ".join(dict.fromkeys(str(c) for c in table["city"][rows] if str(c)))
    for k, found in out_rows.items():
        names[k] = ", ".join(str(table["county"][r]) for r, _ in found)
        if partial[k]:
            geoms[k] = shapely.union_all([g for _, g in found])
    return Coverage(adcode, county, city, outside_m2, names, away, partial, geoms, said)


def _parted(
    geoms: npt.NDArray[np.object_],
    at: npt.NDArray[np.int64],
    admin: gpd.GeoDataFrame,
    index: TargetIndex,
    table: dict[str, npt.NDArray[np.object_]],
    outside_rows: npt.NDArray[np.bool_],
    crs: CRS,
    threads: int,
    which: npt.NDArray[np.int64],
    outside_m2: npt.NDArray[np.float64],
    several: dict[int, list[int]],
    out_rows: dict[int, list[tuple[int, shapely.Geometry]]],
    away: npt.NDArray[np.bool_],
    partial: npt.NDArray[np.bool_],
    said: npt.NDArray[np.object_],
) -> None:
    """For the multipoints, lines and collections at ``at``: every part counts. The counties
    of their points (a share by count), of their lines (by length on the ellipsoid) and of
    their polygons (by area); listed polygons' first, then lines', then points', each the
    largest share first (then in the layer's order), a sliver of a line (at most 1 m or
    0.1 % of its length) or of a polygon not listed. Sets the arrays and dicts as
    :func:`_spilled` does, and ``away`` (every part outside the jurisdiction, but slivers),
    ``partial`` (more than a sliver of some part outside, not all) and ``said``."""
    parts, own = flat_parts(geoms[at])
    dim = shapely.get_dimensions(parts)
    total = np.zeros((len(at), 3))
    np.add.at(total, (own, dim), _measure(parts, dim, crs))
    o, d, j, m, g = _part_counties(parts, own, dim, admin, index, table, crs, threads)
    blank = len(table["adcode"]) - 1
    for q, k in enumerate(at.tolist()):
        agg: dict[tuple[int, int], list[Any]] = {}
        for s in np.flatnonzero(o == q).tolist():
            e = agg.setdefault((int(d[s]), int(j[s])), [0.0, []])
            e[0] += float(m[s])
            e[1].append(g[s])
        keys = sorted(agg, key=lambda dr: (-dr[0], -agg[dr][0], dr[1]))
        tol = (0.0, max(1.0, SLIVER_SHARE * total[q, 1]), float(sliver(total[q, 2:3])[0]))
        rows = list(dict.fromkeys(r for dd, r in keys if agg[dd, r][0] > tol[dd]))
        which[k] = rows[0] if rows else (keys[0][1] if keys else blank)
        if len(rows) > 1:
            several[k] = rows
        out = np.zeros(3)
        for dd, r in keys:
            out[dd] += agg[dd, r][0] if outside_rows[r] else 0.0
        present = np.flatnonzero(total[q] > 0)
        away[k] = bool(out.sum() > 0) and all(total[q, t] - out[t] <= tol[t] for t in present)
        partial[k] = not away[k] and any(out[t] > tol[t] for t in present)
        outside_m2[k] = out[2]
        found = {r: shapely.union_all(agg[dd, r][1]) for dd, r in keys if outside_rows[r]}
        if found:
            out_rows[k] = list(found.items())
        if partial[k]:
            said[k] = " and ".join(_said_part(t, out[t], total[q, t]) for t in (2, 1, 0) if out[t])


def _measure(
    parts: npt.NDArray[np.object_], dim: npt.NDArray[np.int64], crs: CRS
) -> npt.NDArray[np.float64]:
    """Per single part: 1 (a point), its length (m) or its area (m²), on the ellipsoid."""
    out = np.ones(len(parts))
    for t, fn in ((1, ground_length), (2, ellipsoidal_area)):
        k = dim == t
        if k.any():
            out[k] = fn(parts[k], crs)
    return out


def _said_part(t: int, out: float, total: float) -> str:
    """The part of a geometry's points (``t`` 0), lines (1) or polygons (2) outside."""
    if t == 0:
        return f"{out:g} of {total:g} points"
    if t == 1:
        return f"{out:,.0f} m ({100 * out / total:.1f} %) of the line"
    return _said_area(out, total)


def _part_counties(
    parts: npt.NDArray[np.object_],
    own: npt.NDArray[np.int64],
    dim: npt.NDArray[np.int64],
    admin: gpd.GeoDataFrame,
    index: TargetIndex,
    table: dict[str, npt.NDArray[np.object_]],
    crs: CRS,
    threads: int,
) -> tuple[npt.NDArray[Any], ...]:
    """Per (part, county) pair with something of the part in the county: the part's owner,
    its dimension, the county's row, the measure there (1 a point, m of a line, m² of a
    polygon; ellipsoidal) and the county cut to 1 m around the part's box."""
    recs: list[tuple[npt.NDArray[Any], ...]] = []
    blank = len(table["adcode"]) - 1
    pts = np.flatnonzero(dim == 0)
    if len(pts):
        r, _ = county_lookup(parts[pts], admin, index, threads, table)
        ok = r != blank
        p, r = pts[ok], r[ok]
        recs.append(
            (own[p], np.zeros(len(p), np.int64), r, np.ones(len(p)), _near(index, r, parts[p]))
        )
    for t, fn in ((1, ground_length), (2, ellipsoidal_area)):
        k = np.flatnonzero(dim == t)
        if not len(k):
            continue
        i, r = index.tree.query(parts[k])
        p = k[i]
        hit = shapely.intersects(index.prepared_at(r), parts[p]) if len(p) else np.zeros(0, bool)
        p, r = p[hit], r[hit]
        near = _near(index, r, parts[p])
        mm = fn(shapely.intersection(parts[p], near), crs) if len(p) else np.zeros(0)
        keep = mm > 0
        recs.append(
            (own[p][keep], np.full(int(keep.sum()), t, np.int64), r[keep], mm[keep], near[keep])
        )
    if not recs:
        return tuple(np.zeros(0, dtype=x) for x in (np.int64, np.int64, np.int64, float, object))
    return tuple(np.concatenate([rec[c] for rec in recs]) for c in range(5))


def _near(
    index: TargetIndex, rows: npt.NDArray[np.int64], parts: npt.NDArray[np.object_]
) -> npt.NDArray[np.object_]:
    """Each county at ``rows`` cut to 1 m around the box of the part beside it."""
    return clipped(index.geoms[rows], shapely.bounds(parts) + np.array([-1.0, -1.0, 1.0, 1.0]))
