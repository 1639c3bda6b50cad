"""The inspectors' firm screen: firms inside built-up areas or within 20 km of one.

Clause 四 of 晋环发〔2023〕1号 orders heavy-polluting firms inside urban and county-town built-up
areas to relocate, retrofit or close; clause 十三 (附表 7) makes steel and coking firms inside
built-up areas and within 20 km of them lead deep treatment. :func:`screen_firms` answers
both for every firm, exactly at the line.

Method (no buffers: a polygonal buffer is inscribed in the true one and misses firms near
the line):

1. One bulk ``STRtree.query`` of the firms' boxes, widened by the report distance times the
   CRS's largest scale factor over the data, finds every (firm, area) pair that can be within
   that distance on the ground; the gap between bounding boxes is a lower bound of each
   pair's distance.
2. ``shapely.shortest_line`` gives the exact planar nearest points of each firm's best-bound
   pair, then only of the pairs whose bound could still come within the CRS's scale range of
   that distance (few: most pairs are pruned without touching their vertices).
3. Pairs that may be the nearest on the ground are measured on the ellipsoid (``pyproj.Geod``)
   between their nearest points; the smallest is the firm's distance. Its error is second
   order in the projection's scale variation: far below 1 m within 25 km. Firms with nothing
   within reach are resolved against all areas with the same pruning.
4. Distance 0 (the firm touches or lies in the area) is ``inside``; at most the rule's
   distance is ``within_<D>km``; otherwise ``beyond``.

The heavy steps run on chunks of firms in threads (shapely releases the GIL).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
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

from sxzones.errors import CRSError, LayerError
from sxzones.geodesy import geodesic_distance, nearest_points, scale_range
from sxzones.rules import Rule, RuleSet

__all__ = [
    "INDUSTRY_ALIASES",
    "FirmScreenSummary",
    "normalise_industry",
    "screen_firms",
    "summarise",
]

#: Chinese and common English names users write for the industries (GLOSSARY.md).
INDUSTRY_ALIASES: dict[str, str] = {
    "钢铁": "steel",
    "钢": "steel",
    "iron and steel": "steel",
    "iron & steel": "steel",
    "焦化": "coking",
    "焦炭": "coking",
    "coke": "coking",
    "水泥": "cement",
    "化工": "chemical",
    "chemicals": "chemical",
    "有色": "nonferrous",
    "有色金属": "nonferrous",
    "non-ferrous": "nonferrous",
    "火电": "coal_power",
    "燃煤发电": "coal_power",
    "coal power": "coal_power",
    "煤化工": "coal_chemical",
    "coal chemical": "coal_chemical",
}

INSIDE = "inside"
BEYOND = "beyond"


def zone_label(distance_m: float) -> str:
    """``within_20km`` for 20,000 m."""
    return f"within_{distance_m / 1000:g}km"


def normalise_industry(values: pd.Series) -> pd.Series:
    """Lower-case identifiers; Chinese names mapped with :data:`INDUSTRY_ALIASES`."""
    codes, uniques = pd.factorize(values.astype("string").str.strip().str.lower())
    mapped = np.array([INDUSTRY_ALIASES.get(str(u), str(u)) for u in uniques] + [""], dtype=object)
    return pd.Series(_categorical(mapped, codes), index=values.index)  # -1 (missing) -> ""


def _check_crs(firms: gpd.GeoDataFrame, builtup: gpd.GeoDataFrame) -> CRS:
    a, b = firms.crs, builtup.crs
    if a is None or b is None:
        raise CRSError(
            "firms and built-up areas must both have a CRS; load them through "
            "sxzones.layers (or set_crs) first"
        )
    if not CRS.from_user_input(a).equals(CRS.from_user_input(b)):
        raise CRSError(
            f"firms are in {CRS.from_user_input(a).name} but built-up areas in "
            f"{CRS.from_user_input(b).name}. Fix: bring both to the working CRS "
            "with .to_crs() (sxzones.layers.load does this)"
        )
    crs = CRS.from_user_input(a)
    if crs.is_geographic:
        raise CRSError(
            f"{crs.name} is geographic: distances need a projected working CRS "
            "(e.g. EPSG:4546 for Shanxi)"
        )
    return crs


@dataclass(frozen=True)
class _Nearest:
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
) -> _Nearest:
    n = len(firms)
    dist = np.full(n, np.nan)
    area = np.full(n, -1, dtype=np.int64)
    areas = _prepared_copy(areas)  # this thread's own
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
    return _Nearest(dist, area)


def _nearest(
    firm_geoms: npt.NDArray[np.object_],
    area_geoms: npt.NDArray[np.object_],
    reach_m: float,
    crs: CRS,
    threads: int,
) -> _Nearest:
    fb, ab = shapely.total_bounds(firm_geoms), shapely.total_bounds(area_geoms)
    bounds = np.r_[np.minimum(fb[:2], ab[:2]), np.maximum(fb[2:], ab[2:])]
    kmin, kmax = scale_range(bounds, crs)
    reach = reach_m * kmax * 1.0001 + 1.0  # planar reach that holds every pair within reach_m
    kratio = kmax / kmin * 1.0001
    abounds = shapely.bounds(area_geoms)
    wide = shapely.STRtree(
        shapely.box(
            abounds[:, 0] - reach,
            abounds[:, 1] - reach,
            abounds[:, 2] + reach,
            abounds[:, 3] + reach,
        )
    )
    points = bool(np.all(shapely.get_type_id(firm_geoms) == 0))
    segs = _Segments.of(area_geoms) if points else None
    chunks = np.array_split(np.arange(len(firm_geoms)), max(1, threads * 4))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        parts = list(
            pool.map(
                lambda idx: _nearest_chunk(
                    firm_geoms[idx], wide, area_geoms, abounds, segs, reach, kratio, crs
                ),
                chunks,
            )
        )
    return _Nearest(
        np.concatenate([p.distance for p in parts]), np.concatenate([p.area for p in parts])
    )


def _categorical(values: npt.NDArray[Any], index: npt.NDArray[np.int64]) -> pd.Categorical:
    """``values[index]`` as a categorical, without building a string per row."""
    cats, inverse = np.unique(np.asarray(values).astype(str), return_inverse=True)
    return pd.Categorical.from_codes(inverse[index], categories=cats)


def _admin_lookup(
    points: npt.NDArray[np.object_],
    admin: gpd.GeoDataFrame,
) -> tuple[npt.NDArray[np.int64], dict[str, npt.NDArray[np.object_]]]:
    """For each point the row of its county in a table of adcode, county and city names; the
    table's last row is blank, for points outside every county."""
    n = len(points)
    counties = admin[admin["level"] == "county"]
    blank = np.array([""], dtype=object)
    if counties.empty:
        return np.zeros(n, dtype=np.int64), {"adcode": blank, "county": blank, "city": blank}
    geoms = counties.geometry.to_numpy()
    tree = shapely.STRtree(geoms)

    def lookup(idx: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        own = _prepared_copy(geoms)  # prepared, first argument of intersects: fast
        pi, pj = tree.query(points[idx])  # bounding boxes only
        hit = shapely.intersects(own[pj], points[idx][pi])
        return idx[pi[hit]], pj[hit]

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        found = list(pool.map(lookup, np.array_split(np.arange(n), 8)))
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


def screen_firms(
    firms: gpd.GeoDataFrame,
    builtup: gpd.GeoDataFrame,
    rules: RuleSet,
    *,
    distance_m: float | None = None,
    admin: gpd.GeoDataFrame | None = None,
    report_within_m: float = 25_000.0,
    threads: int | None = None,
) -> gpd.GeoDataFrame:
    """Screen firms against built-up areas: zone, exact distance, nearest area, rules.

    Parameters
    ----------
    firms : GeoDataFrame
        Role ``firms`` (``firm_id``, ``name``, ``industry``), points or site polygons, in a
        projected working CRS.
    builtup : GeoDataFrame
        Role ``builtup`` (``area_id``, ``name``, ``kind``), same CRS. Areas outside the
        province count like any other.
    rules : RuleSet
        Rules of kinds ``firm_inside_builtup`` and ``firm_within_distance``.
    distance_m : float, optional
        Overrides the ``distance_m`` of the distance rules (metres on the ground).
    admin : GeoDataFrame, optional
        Role ``admin`` with counties (``level == "county"``): fills ``city`` and ``county``.
    report_within_m : float
        Distances up to this are exact to well under 1 m (ellipsoidal); beyond it they are
        measured to the planar-nearest area.
    threads : int, optional
        Worker threads (default: the machine's cores).

    Returns
    -------
    GeoDataFrame
        One row per input firm, same index and CRS: ``zone`` (``inside`` / ``within_20km`` /
        ``beyond``), ``distance_m`` (ellipsoidal metres, 0 inside), ``nearest_area_id``,
        ``nearest_area_name``, ``nearest_area_kind``, ``adcode``, ``county``, ``city``,
        ``applicable``, ``rule_ids``, ``clauses``, ``asks``, then the firm's own fields.

    Raises
    ------
    CRSError
        When the CRSs differ or are geographic.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> from sxzones.rules import load_rules
    >>> bu = gpd.GeoDataFrame({"area_id": ["A"], "name": ["城区"], "kind": ["city"]},
    ...                       geometry=[shapely.box(500000, 4000000, 501000, 4001000)],
    ...                       crs=4546)
    >>> f = gpd.GeoDataFrame({"firm_id": ["1", "2"], "name": ["a", "b"],
    ...                       "industry": ["钢铁", "steel"]},
    ...                      geometry=[shapely.Point(500500, 4000500),
    ...                                shapely.Point(511000, 4000500)], crs=4546)
    >>> out = screen_firms(f, bu, load_rules(), threads=1)
    >>> out[["zone", "distance_m"]].round(1).values.tolist()
    [['inside', 0.0], ['within_20km', 10000.0]]
    """
    crs = _check_crs(firms, builtup)
    for col in ("industry",):
        if col not in firms.columns:
            raise LayerError(
                f"firms need an {col!r} field; fields present: "
                f"{[c for c in firms.columns if c != 'geometry']}"
            )
    if not {"area_id", "name"} <= set(builtup.columns):
        raise LayerError("built-up areas need 'area_id' and 'name' fields")
    inside_rules = rules.of_kind("firm_inside_builtup")
    dist_rules = rules.of_kind("firm_within_distance")
    d = (
        float(distance_m)
        if distance_m is not None
        else max((r.distance_m or 0.0 for r in dist_rules), default=20_000.0)
    )
    if not d > 0:
        raise LayerError(f"distance must be positive metres, got {distance_m!r}")
    threads = threads or min(4, os.cpu_count() or 1)
    fg = firms.geometry.to_numpy()
    ag = builtup.geometry.to_numpy()
    near = _nearest(fg, ag, max(report_within_m, d), crs, threads)
    within = zone_label(d)
    zone_code = np.where(near.distance == 0, 0, np.where(near.distance <= d, 1, 2))
    # Repetitive text columns are categoricals built from codes: no per-row strings.
    out = pd.DataFrame(index=firms.index)
    out["zone"] = pd.Categorical.from_codes(zone_code, categories=[INSIDE, within, BEYOND])
    out["distance_m"] = np.round(near.distance, 2)
    for col, src in (
        ("nearest_area_id", "area_id"),
        ("nearest_area_name", "name"),
        ("nearest_area_kind", "kind"),
    ):
        if src in builtup.columns:
            out[col] = _categorical(builtup[src].to_numpy(), near.area)
    if admin is not None:
        pts = fg if bool(np.all(shapely.get_type_id(fg) == 0)) else shapely.point_on_surface(fg)
        which, table = _admin_lookup(pts, admin)
        for col in ("adcode", "county", "city"):
            out[col] = _categorical(table[col], which)
    industry = normalise_industry(firms["industry"])
    out["industry_id"] = industry.to_numpy()
    _apply_rules(out, industry, zone_code, within, inside_rules, dist_rules)
    keep = [c for c in firms.columns if c not in out.columns and c != firms.geometry.name]
    result = pd.concat([out, firms[keep]], axis=1)
    screened = gpd.GeoDataFrame(result, geometry=firms.geometry.to_numpy(), crs=firms.crs)
    screened.attrs["distance_m"] = d
    return screened


def _apply_rules(
    out: pd.DataFrame,
    industry: pd.Series,
    zone_code: npt.NDArray[np.int64],
    within: str,
    inside_rules: Sequence[Rule],
    dist_rules: Sequence[Rule],
) -> None:
    """Fill applicable, rule_ids, clauses and asks, once per (industry, zone) combination."""
    named = {i for r in (*inside_rules, *dist_rules) for i in r.industries}
    ind_code, ind_names = pd.factorize(industry)
    combo, codes = np.unique(ind_code * 3 + zone_code, return_inverse=True)
    zones = (INSIDE, within, BEYOND)
    rows = []
    for c in combo:
        ind, z = str(ind_names[c // 3]), zones[c % 3]
        fired = [r for r in inside_rules if ind in r.industries and z == INSIDE]
        fired += [r for r in dist_rules if ind in r.industries and z in (INSIDE, within)]
        rows.append(
            (
                ind in named,
                ";".join(r.id for r in fired),
                ";".join(r.clauses for r in fired),
                " | ".join(r.asks() for r in fired),
            )
        )
    out["applicable"] = np.array([r[0] for r in rows], dtype=bool)[codes]
    for k, col in enumerate(("rule_ids", "clauses", "asks"), start=1):
        out[col] = _categorical(np.array([r[k] for r in rows], dtype=object), codes)


@dataclass(frozen=True)
class FirmScreenSummary:
    n_firms: int
    by_zone: dict[str, int]
    by_zone_applicable: dict[str, int]
    distance_m: float

    def __str__(self) -> str:
        zones = ", ".join(f"{k} {v}" for k, v in self.by_zone.items())
        app = ", ".join(f"{k} {v}" for k, v in self.by_zone_applicable.items())
        return (
            f"firm screen ({self.distance_m / 1000:g} km): {self.n_firms} firms: {zones}; "
            f"named by a rule: {app}"
        )


def summarise(result: pd.DataFrame) -> FirmScreenSummary:
    zones = result["zone"].value_counts()
    app = result.loc[result["applicable"], "zone"].value_counts()
    order = [
        z
        for z in (INSIDE, *sorted(z for z in zones.index if z.startswith("within")), BEYOND)
        if z in zones.index
    ]
    return FirmScreenSummary(
        len(result),
        {z: int(zones[z]) for z in order},
        {z: int(app.get(z, 0)) for z in order},
        float(result.attrs.get("distance_m", 20000.0)),
    )


def summary_by_city(result: pd.DataFrame) -> pd.DataFrame:
    """Counts by city, industry and zone (the XLSX summary sheet)."""
    cols = [c for c in ("city", "industry_id") if c in result.columns]
    t = result.groupby([*cols, "zone"], dropna=False).size().unstack("zone", fill_value=0)
    return t.reset_index()


ProgressFn = Callable[[str], None]
