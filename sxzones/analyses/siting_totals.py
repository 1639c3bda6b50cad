"""Totals of a siting screen over the union of the candidates, and what was not assessed.

Candidate lands may overlap (a subsidence area drawn over an abandoned mine): summing their
areas counts the overlap twice. The totals here count the union: candidates are grouped into
clusters that overlap, and each cluster's land is measured once on the ellipsoid. The pairs
that overlap are listed with their overlap. For every raster criterion, the eligible land it
did not assess (no data, or outside the raster) is totalled with the capacity standing on it,
and a raster that leaves land unassessed gets a warning in the totals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS

from sxzones.geodesy import box_scales, ellipsoidal_area

__all__ = ["capacity_on", "overlapping_pairs", "unassessed_frame", "union_totals"]

Geoms = npt.NDArray[np.object_]


def overlapping_pairs(
    ids: npt.NDArray[np.object_], geoms: Geoms, crs: CRS
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Pairs (i < j) of candidates whose land overlaps (area > 0.05 m² on the ellipsoid),
    with the overlap in m², in the order of the candidates."""
    del ids
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    area = (
        ellipsoidal_area(shapely.intersection(geoms[i], geoms[j]), crs) if len(i) else np.zeros(0)
    )
    big = area > 0.05
    order = np.lexsort((j[big], i[big]))
    return i[big][order], j[big][order], area[big][order]


def _clusters(n: int, i: npt.NDArray[np.int64], j: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The cluster (smallest member) of each candidate, over the overlapping pairs."""
    parent = np.arange(n)

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = int(parent[a])
        return a

    for a, b in zip(i.tolist(), j.tolist(), strict=True):
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([root(a) for a in range(n)], dtype=np.int64)


def _union_area(geoms: Geoms, cluster: npt.NDArray[np.int64], crs: CRS) -> float:
    """Ellipsoidal area of the union of ``geoms``, merging only within clusters."""
    areas = ellipsoidal_area(geoms, crs)
    shared = np.flatnonzero(np.bincount(cluster, minlength=len(geoms)) > 1)
    total = float(areas[~np.isin(cluster, shared)].sum())
    merged = [shapely.union_all(geoms[cluster == c]) for c in shared]
    if merged:
        total += float(ellipsoidal_area(np.array(merged, dtype=object), crs).sum())
    return total


#: Lattice offsets (fractions of the spacing) tried when placing turbines.
_OFFSETS = (0.0, 1 / 3, 2 / 3)


def lattice(geom: shapely.Geometry, spacing: float) -> npt.NDArray[np.float64]:
    """Turbine positions (x, y in the CRS of ``geom``): a hexagonal lattice at ``spacing``
    (map units) inside ``geom``, the offset (of nine) holding the most; ties go to the first,
    so the layout is deterministic."""
    if geom is None or geom.is_empty:
        return np.empty((0, 2))
    minx, miny, maxx, maxy = geom.bounds
    dy = spacing * math.sqrt(3) / 2
    shapely.prepare(geom)
    best = np.empty((0, 2))
    for fy in _OFFSETS:
        for fx in _OFFSETS:
            ys = np.arange(miny + fy * dy, maxy + dy, dy)
            rows = []
            for i, y in enumerate(ys):
                x0 = minx + fx * spacing + (spacing / 2 if i % 2 else 0.0)
                xs = np.arange(x0, maxx + spacing, spacing)
                rows.append(np.column_stack([xs, np.full(len(xs), y)]))
            pts = np.concatenate(rows) if rows else np.empty((0, 2))
            inside = pts[shapely.contains_xy(geom, pts[:, 0], pts[:, 1])]
            if len(inside) > len(best):
                best = inside
    return best


def _units(cluster: npt.NDArray[np.int64]) -> list[npt.NDArray[np.int64]]:
    """The units of land counted once, in order: each a candidate overlapping none, or a
    cluster of overlapping candidates (their indices)."""
    return [np.flatnonzero(cluster == c) for c in np.unique(cluster)]


def _union_layouts(
    units: list[npt.NDArray[np.int64]],
    turbines: list[npt.NDArray[np.float64]],
    eligible: Geoms,
    cands: Geoms,
    spacing_m: float,
    crs: CRS,
) -> list[npt.NDArray[np.float64]]:
    """The turbines of each unit (:func:`_units`): a lone candidate's own layout; a
    cluster's laid out afresh on the union of its members' eligible land, as one candidate
    drawn as that land would be (:func:`lattice` at ``spacing_m`` times the largest scale
    factor over the cluster's box, as :func:`sxzones.analyses.siting.screen_sites` takes a
    candidate's), so the land's capacity counts once, whole."""
    out = []
    for m in units:
        if len(m) == 1:
            out.append(turbines[m[0]])
            continue
        b = np.array([g.bounds for g in cands[m]])
        box = np.array([[b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()]])
        k = float(box_scales(box, crs)[1][0])
        out.append(lattice(shapely.union_all(eligible[m]), spacing_m * k))
    return out


def _layout_notes(
    ids: npt.NDArray[np.object_],
    units: list[npt.NDArray[np.int64]],
    spots: list[npt.NDArray[np.float64]],
    turbines: list[npt.NDArray[np.float64]],
    mw: float,
) -> list[dict[str, Any]]:
    """Per cluster of overlapping candidates, its wind layout in the totals: the sites, the
    turbines laid out on the union of their eligible land and their capacity (MW), and the
    turbines and capacity of the sites' own layouts, summed."""
    rows = []
    for m, s in zip(units, spots, strict=True):
        if len(m) > 1:
            own = sum(len(turbines[i]) for i in m)
            rows.append(
                {
                    "sites": [str(ids[i]) for i in m],
                    "turbines": len(s),
                    "capacity_mw": round(len(s) * mw, 2),
                    "turbines_sum": own,
                    "capacity_mw_sum": round(own * mw, 2),
                }
            )
    return rows


def capacity_on(
    land: Geoms,
    land_m2: npt.NDArray[np.float64],
    turbines: list[npt.NDArray[np.float64]],
    tech: str,
    cap: Mapping[str, Any],
) -> npt.NDArray[np.float64]:
    """Capacity (MW) standing on ``land`` of each candidate: PV by density, wind by the
    candidate's turbines that lie on it."""
    if tech == "pv":
        return land_m2 / 1e6 * float(cap["density_mw_per_km2"])
    out = np.zeros(len(land))
    for i, t in enumerate(turbines):
        if len(t) and not land[i].is_empty:
            out[i] = shapely.contains_xy(land[i], t[:, 0], t[:, 1]).sum()
    return out * float(cap["turbine_mw"])


def _overlap_warning(pairs: int, overlap_m2: float, totals: Mapping[str, Any]) -> str:
    """The warning of overlapping candidates: their land counts once in the totals; for
    wind, how the total's turbines are laid out (on the union of each cluster's eligible
    land, not the sites' own layouts summed) and what each cluster holds."""
    text = f"{pairs} pair(s) of candidates overlap ({overlap_m2 / 1e6:.3f} km²): totals count their land once"
    layouts = totals.get("union_layouts") or []
    if not layouts:
        return text
    shown = "; ".join(
        f"{'+'.join(u['sites'])}: {u['turbines']} turbines, {u['capacity_mw']:.1f} MW on their "
        f"union (their own layouts: {u['turbines_sum']}, {u['capacity_mw_sum']:.1f} MW)"
        for u in layouts[:5]
    )
    more = " ... (all in siting.json, totals.union_layouts)" if len(layouts) > 5 else ""
    return (
        f"{text}; the total capacity lays the turbines out afresh on the union of each "
        f"group's eligible land, as for one candidate drawn as that land (not the sites' own "
        f"layouts summed): {shown}{more}"
    )


def union_totals(
    ids: npt.NDArray[np.object_],
    *,
    cands_geoms: Geoms,
    eligible_geoms: Geoms,
    capacity: npt.NDArray[np.float64],
    turbines: list[npt.NDArray[np.float64]],
    unknown: Mapping[str, Geoms],
    unknown_all: Geoms,
    labels: Mapping[str, str],
    tech: str,
    cap: Mapping[str, Any],
    crs: CRS,
) -> dict[str, Any]:
    """Totals over the union of the candidates (areas in km² on the ellipsoid, capacity in
    MW), the overlapping pairs, and per raster the eligible land it did not assess with the
    capacity on it (and over all rasters: ``not_assessed_km2``, ``not_assessed_capacity_mw``);
    ``warnings`` says what a reader of the totals must know.

    PV capacity is the union's eligible km² times the density. Wind capacity counts the
    turbines of each unit of land once: a candidate overlapping none keeps its own layout;
    a cluster of overlapping candidates gets one layout on the union of its eligible land,
    as that land drawn as one candidate would (``union_layouts`` lists each cluster's
    turbines beside its sites' own, summed). ``capacity_mw_sum``: the sites' own, summed."""
    n = len(ids)
    i, j, area = overlapping_pairs(ids, cands_geoms, crs)
    cluster = _clusters(n, i, j)
    units = _units(cluster)
    eligible_km2 = _union_area(eligible_geoms, cluster, crs) / 1e6
    unit_mw = float(cap["turbine_mw"]) if tech != "pv" else 0.0
    spots: list[npt.NDArray[np.float64]] = []
    if tech == "pv":
        cap_mw = eligible_km2 * float(cap["density_mw_per_km2"])
    else:
        spacing = float(cap["spacing_m"])
        spots = _union_layouts(units, turbines, eligible_geoms, cands_geoms, spacing, crs)
        cap_mw = sum(len(s) for s in spots) * unit_mw
    out: dict[str, Any] = {
        "candidates": n,
        "candidate_km2": round(_union_area(cands_geoms, cluster, crs) / 1e6, 4),
        "candidate_km2_sum": round(float(ellipsoidal_area(cands_geoms, crs).sum()) / 1e6, 4),
        "eligible_km2": round(eligible_km2, 4),
        "capacity_mw": round(cap_mw, 2),
        "capacity_mw_sum": round(float(capacity.sum()), 2),
        "overlapping_pairs": [
            {"site_a": str(ids[a]), "site_b": str(ids[b]), "overlap_m2": round(float(m), 1)}
            for a, b, m in zip(i.tolist(), j.tolist(), area.tolist(), strict=True)
        ],
        "not_assessed_by_raster": [],
        "warnings": [],
    }
    if tech != "pv":
        out["union_layouts"] = _layout_notes(ids, units, spots, turbines, unit_mw)
    if len(i):
        out["warnings"].append(_overlap_warning(len(i), float(area.sum()), out))

    def area_mw(land: Geoms) -> tuple[float, float]:
        km2 = _union_area(land, cluster, crs) / 1e6
        if tech == "pv":
            return km2, km2 * float(cap["density_mw_per_km2"])
        on = np.array([shapely.union_all(land[m]) for m in units], dtype=object)
        return km2, float(capacity_on(on, np.zeros(len(units)), spots, tech, cap).sum())

    if unknown:
        km2, mw = area_mw(unknown_all)
        out["not_assessed_km2"], out["not_assessed_capacity_mw"] = round(km2, 4), round(mw, 2)
    for name, land in unknown.items():
        _not_assessed_by(out, name, labels.get(name, ""), *area_mw(land), eligible_km2)
    return out


def _not_assessed_by(
    out: dict[str, Any], name: str, label: str, km2: float, mw: float, eligible_km2: float
) -> None:
    """Book in the totals ``out`` the eligible land raster ``name`` did not assess (km²) and
    the capacity on it (MW), with a warning when there is some."""
    share = km2 / eligible_km2 if eligible_km2 > 0 else 0.0
    out["not_assessed_by_raster"].append(
        {
            "raster": name,
            "source": label,
            "area_km2": round(km2, 4),
            "capacity_mw": round(mw, 2),
            "share_of_eligible": round(share, 4),
        }
    )
    if km2 > 0:
        out["warnings"].append(
            f"raster {name} ({label}) does not cover all the candidates: "
            f"{km2:.2f} km² of eligible land ({share:.1%}) were not assessed by it (no data "
            f"or outside it), with {mw:.1f} MW on them"
        )


def unassessed_frame(
    ids: npt.NDArray[np.object_], unknown: Mapping[str, Geoms], crs: CRS
) -> gpd.GeoDataFrame:
    """The eligible land each raster did not assess, per candidate (for maps)."""
    rows = [
        (ids[i], name, g)
        for name, land in unknown.items()
        for i, g in enumerate(land)
        if g is not None and not g.is_empty
    ]
    geoms = np.array([r[2] for r in rows], dtype=object)
    return gpd.GeoDataFrame(
        {
            "site_id": [r[0] for r in rows],
            "raster": [r[1] for r in rows],
            "area_m2": np.round(ellipsoidal_area(geoms, crs), 1),
        },
        geometry=geoms,
        crs=crs,
    )
