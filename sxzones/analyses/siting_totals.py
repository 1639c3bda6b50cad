"""Totals of a siting screen over the union of the candidates, and what was not assessed.

Candidate lands may overlap (a subsidence area drawn over an abandoned mine): summing their
areas counts the overlap twice. The totals here count the union: candidates are grouped into
clusters that overlap, and each cluster's land is measured once on the ellipsoid. The pairs
that overlap are listed with their overlap. For every raster criterion, the eligible land it
did not assess (no data, or outside the raster) is totalled with the capacity standing on it,
and a raster that leaves land unassessed gets a warning in the totals.
"""

from __future__ import annotations

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


def _kept_turbines(
    turbines: list[npt.NDArray[np.float64]], cluster: npt.NDArray[np.int64], spacing: float
) -> list[npt.NDArray[np.bool_]]:
    """Per candidate, its turbines that count in the union: in overlapping candidates, a
    turbine closer than ``spacing`` (map units) to one of an earlier candidate is not."""
    kept = [np.ones(len(t), dtype=bool) for t in turbines]
    shared = np.flatnonzero(np.bincount(cluster, minlength=len(turbines)) > 1)
    for c in shared:
        placed: list[npt.NDArray[np.float64]] = []
        for m in np.flatnonzero(cluster == c):
            t = turbines[m]
            if placed and len(t):
                prev = np.vstack(placed)
                d = np.hypot(t[:, None, 0] - prev[None, :, 0], t[:, None, 1] - prev[None, :, 1])
                kept[m] = d.min(axis=1) >= spacing
            placed.append(t[kept[m]])
    return kept


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
    ``warnings`` says what a reader of the totals must know."""
    n = len(ids)
    i, j, area = overlapping_pairs(ids, cands_geoms, crs)
    cluster = _clusters(n, i, j)
    eligible_km2 = _union_area(eligible_geoms, cluster, crs) / 1e6
    if tech == "pv":
        cap_mw = eligible_km2 * float(cap["density_mw_per_km2"])
        kept = [np.ones(len(t), dtype=bool) for t in turbines]
    else:
        boxes = np.array([g.bounds for g in cands_geoms]).reshape(-1, 4)
        kmax = box_scales(boxes, crs)[1].max() if n else 1.0  # no kept pair closer on the ground
        kept = _kept_turbines(turbines, cluster, float(cap["spacing_m"]) * kmax)
        cap_mw = sum(int(k.sum()) for k in kept) * float(cap["turbine_mw"])
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
    if len(i):
        out["warnings"].append(
            f"{len(i)} pair(s) of candidates overlap ({area.sum() / 1e6:.3f} km²): totals count "
            "their land once"
        )
    on = [t[k] for t, k in zip(turbines, kept, strict=True)]

    def area_mw(land: Geoms) -> tuple[float, float]:
        km2 = _union_area(land, cluster, crs) / 1e6
        if tech == "pv":
            return km2, km2 * float(cap["density_mw_per_km2"])
        return km2, float(capacity_on(land, np.zeros(n), on, tech, cap).sum())

    if unknown:
        km2, mw = area_mw(unknown_all)
        out["not_assessed_km2"], out["not_assessed_capacity_mw"] = round(km2, 4), round(mw, 2)
    for name, land in unknown.items():
        km2, mw = area_mw(land)
        share = km2 / eligible_km2 if eligible_km2 > 0 else 0.0
        out["not_assessed_by_raster"].append(
            {
                "raster": name,
                "source": labels.get(name, ""),
                "area_km2": round(km2, 4),
                "capacity_mw": round(mw, 2),
                "share_of_eligible": round(share, 4),
            }
        )
        if km2 > 0:
            out["warnings"].append(
                f"raster {name} ({labels.get(name, '')}) does not cover all the candidates: "
                f"{km2:.2f} km² of eligible land ({share:.1%}) were not assessed by it (no data "
                f"or outside it), with {mw:.1f} MW on them"
            )
    return out


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
