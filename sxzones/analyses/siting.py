"""The planners' siting screen: PV and wind on candidate land (clause 十五).

:func:`screen_sites` takes candidate parcels (abandoned mines, subsidence land, closed
landfills, contaminated plots) and returns, for every one, the part that stays eligible once
every exclusion is applied, why the rest is not, and how much capacity fits.

Method
------
1. **Vector exclusions**, in the rules file's order (then any user layers). Each exclusion
   layer is buffered by its setback in metres on the ground
   (:func:`sxzones.geodesy.ground_buffer`): ``setback · kmax / cos(π / 4q)`` map units, with
   ``kmax`` the largest scale factor near the feature (long features are cut into strips 10 km
   wide, each with its own) and the ``1 / cos`` term making the polygonal buffer *contain*
   the true one (``q`` segments per quarter circle), so no eligible land is left inside a
   setback, and the excess stays under 0.05 % of the setback. The area a
   reason removes is what was still eligible when it was applied: the per-reason areas add up
   exactly to the area removed (they telescope), whatever the overlaps.
2. **Raster criteria**: slope from a DEM by Horn's method with cell sizes in ground metres
   (cell size / k), and resource rasters with a minimum. The cells that fail are turned into
   polygons and removed like an exclusion; cells without data are reported as ``unknown_m2``
   and **not** removed. Rasters are read in windows around each candidate (tiles of at most
   :data:`~sxzones.analyses.rasters.TILE` cells a side), and a candidate's cells are let go
   once it is done, so memory does not grow with the raster. The resolution used is reported.
3. **Minimum contiguous area**: eligible pieces smaller than the capacity rule's
   ``min_area_m2`` are removed (reason ``too_small``).
4. **Capacity**: PV = eligible km² x density (MW/km²); wind = turbines placed on a hexagonal
   lattice at the minimum spacing inside the eligible area (the best of nine lattice offsets)
   x rated MW.
5. **Score** (0-100): the weighted mean of the components that can be computed:
   ``resource`` = (mean - minimum) / (best candidate's mean - minimum);
   ``slope`` = 1 - mean slope / slope limit; ``grid`` = 1 - distance to the nearest grid
   feature / ``grid_distance_full_m`` (clipped at 0); ``status`` from the candidate's kind
   and state (settled or still settling subsidence; a closed landfill scores
   ``years since closure / landfill_full_years``, capped at 1, as of ``as_of_year``).

Areas are on the ellipsoid: planar area / k² at the candidate (k varies by < 1e-5 over a
candidate of a few km).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import rasterio.features
import shapely
from pyproj import CRS

from sxzones.analyses.nearest import county_lookup
from sxzones.analyses.rasters import RasterCriterion, horn_slope, polygons_of
from sxzones.errors import CRSError, LayerError, RulesError
from sxzones.geodesy import ground_buffer, point_scale
from sxzones.rules import TECHS, Rule, RuleSet, load_rules

__all__ = ["Exclusion", "RasterCriterion", "SitingResult", "screen_sites"]

#: Lattice offsets (fractions of the spacing) tried when placing turbines.
_OFFSETS = (0.0, 1 / 3, 2 / 3)


@dataclass
class Exclusion:
    """One exclusion layer: a reason, its features (working CRS), a setback in metres."""

    reason: str
    geoms: npt.NDArray[np.object_]
    setback_m: float = 0.0
    label_zh: str = ""
    label_en: str = ""
    clause: str = ""
    rule_id: str = ""
    layer: str = ""
    source: str = ""

    @classmethod
    def from_rule(
        cls, rule: Rule, frame: gpd.GeoDataFrame, tech: str, layer: str = "", source: str = ""
    ) -> Exclusion:
        """The features of ``frame`` that the rule's ``where`` selects, with its setback."""
        sel = np.ones(len(frame), dtype=bool)
        for k, v in rule.where.items():
            if k not in frame.columns:
                raise LayerError(f"{layer or 'layer'}: rule {rule.id} selects on missing {k!r}")
            sel &= frame[k].astype(str).to_numpy() == v
        return cls(
            reason=str(rule.params["reason"]),
            geoms=frame.geometry.to_numpy()[sel],
            setback_m=rule.for_tech("setback_m", tech),
            label_zh=str(rule.params.get("label_zh", "")),
            label_en=str(rule.params.get("label_en", "")),
            clause=rule.clauses,
            rule_id=rule.id,
            layer=layer,
            source=source,
        )


@dataclass
class SitingResult:
    """``sites``: one row per candidate, geometry = its eligible part (empty when none).
    ``removed``: the removed pieces (site_id, reason, area_m2) for maps. ``turbines``: wind
    turbine positions. ``meta``: tech, parameters, resolution, exclusions assessed and not."""

    sites: gpd.GeoDataFrame
    removed: gpd.GeoDataFrame
    turbines: gpd.GeoDataFrame
    meta: dict[str, Any] = field(default_factory=dict)


def _buffered(ex: Exclusion, crs: CRS) -> npt.NDArray[np.object_]:
    """The exclusion's features grown by their setback (ground metres), as areas."""
    g = ex.geoms[~shapely.is_empty(ex.geoms) & ~shapely.is_missing(ex.geoms)]
    if ex.setback_m <= 0:
        return g[np.isin(shapely.get_type_id(g), (3, 6))]  # only areas exclude without setback
    return ground_buffer(g, ex.setback_m, crs)


def _rule_params(rules: RuleSet, tech: str) -> dict[str, Any]:
    cands = rules.of_kind("siting_candidates")
    if not cands:
        raise RulesError(f"{rules.path}: no siting_candidates rule (clause 十五)")
    if tech not in TECHS or tech not in cands[0].params["techs"]:
        raise RulesError(f"technology {tech!r} unknown; choose from {list(TECHS)}")
    cap = [r for r in rules.of_kind("siting_capacity") if r.params["tech"] == tech]
    if not cap:
        raise RulesError(f"{rules.path}: no siting_capacity rule for {tech}")
    terrain = rules.of_kind("siting_terrain")
    score = rules.of_kind("siting_score")
    return {
        "candidates": cands[0],
        "capacity": cap[0],
        "terrain": terrain[0] if terrain else None,
        "score": score[0] if score else None,
    }


def _with_limit(r: RasterCriterion, terrain: Rule | None, tech: str) -> RasterCriterion:
    """A DEM criterion without a threshold takes the terrain rule's slope limit (a copy: the
    caller's criterion is left as given)."""
    if r.kind != "slope" or r.threshold > 0:
        return r
    if terrain is None:
        raise RulesError("a DEM needs a slope limit: add a siting_terrain rule")
    return replace(r, threshold=terrain.for_tech("max_slope_deg", tech, 90.0))


def _status_component(kind: str, settled: Any, closure: Any, p: dict[str, Any], year: int) -> float:
    s = p.get("status_scores", {})
    if kind == "subsidence":
        key = "subsidence_settled" if settled is True else "subsidence_settling"
        return float(s.get(key, math.nan))
    if kind == "closed_landfill":
        full = float(p.get("landfill_full_years", 10))
        if closure is None or pd.isna(closure):
            return math.nan
        years = max(0.0, year - float(closure))
        return float(s.get("closed_landfill", 1.0)) * min(1.0, years / full)
    return float(s.get(kind, math.nan))


def _lattice(geom: shapely.Geometry, spacing: float) -> npt.NDArray[np.float64]:
    """Turbine positions: a hexagonal lattice at ``spacing`` inside ``geom``, the offset
    (of nine) holding the most; ties go to the first, so the layout is deterministic."""
    if geom.is_empty:
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


@dataclass
class _Cand:
    """Working state of one candidate: what is still eligible (``rem``), the area removed per
    reason (every reason present, in order), the removed pieces, and cells without data."""

    geom: shapely.Geometry
    k: float
    rem: shapely.Geometry
    removed: dict[str, float]
    pieces: list[tuple[str, shapely.Geometry]] = field(default_factory=list)
    unknown: list[shapely.Geometry] = field(default_factory=list)

    def area(self, g: shapely.Geometry | None) -> float:
        """Ellipsoidal area: planar / k² at the candidate."""
        return 0.0 if g is None or g.is_empty else float(shapely.area(g)) / (self.k * self.k)

    def cut(self, reason: str, g: shapely.Geometry | None) -> None:
        """Remove ``g`` from what is still eligible, booking the area to ``reason``."""
        if g is None or g.is_empty or self.rem.is_empty:
            return
        before = self.area(self.rem)
        piece = shapely.intersection(self.rem, g)
        self.rem = shapely.difference(self.rem, g)
        self.removed[reason] += before - self.area(self.rem)
        if not piece.is_empty:
            self.pieces.append((reason, piece))


def _cut_exclusions(
    cands: list[_Cand], geoms: npt.NDArray[np.object_], ex: Exclusion, crs: CRS
) -> None:
    """Step 1 for one exclusion layer: one bulk tree query, then each touched candidate."""
    zones = _buffered(ex, crs)
    if len(zones) == 0:
        return
    ci, zi = shapely.STRtree(zones).query(geoms, predicate="intersects")
    order = np.argsort(ci, kind="stable")
    ci, zi = ci[order], zi[order]
    keys, starts = np.unique(ci, return_index=True)
    for i, idx in zip(keys.tolist(), np.split(zi, starts[1:]) if len(ci) else [], strict=True):
        c = cands[i]
        if not c.rem.is_empty:
            # only the part of the zones near what is left matters: cut them to its box first
            window = shapely.box(*c.rem.bounds)
            c.cut(ex.reason, shapely.union_all(shapely.intersection(zones[idx], window)))


#: One raster's cells over a candidate: (values, transform, criterion).
_Cells = tuple[npt.NDArray[np.float32], Any, RasterCriterion]


def _cut_rasters(c: _Cand, rasters: Sequence[RasterCriterion]) -> list[_Cells]:
    """Step 2 for one candidate: remove the cells that fail each criterion, note the cells
    without data; return the cells read, for the statistics."""
    cells: list[_Cells] = []
    for r in rasters:
        if c.rem.is_empty:
            break
        rx, ry = r.resolution
        bad, unknown = [], []
        for t in r.tiles(c.rem.bounds, pad=1 if r.kind == "slope" else 0):
            vals = horn_slope(t.values, rx / c.k, ry / c.k) if r.kind == "slope" else t.inner
            cells.append((vals, t.transform, r))
            known = ~np.isnan(vals)
            fails = np.zeros_like(known)
            fails[known] = (
                vals[known] > r.threshold if r.kind == "slope" else vals[known] < r.threshold
            )
            if (b := polygons_of(fails, t.transform)) is not None:
                bad.append(b)
            if (u := polygons_of(~known, t.transform)) is not None:
                unknown.append(u)
        c.cut(r.name, shapely.union_all(bad) if bad else None)
        c.unknown.extend(unknown)
    return cells


def _cell_values(c: _Cand, cells: list[_Cells]) -> dict[str, npt.NDArray[np.float32]]:
    """Per criterion, the known values of the cells whose centres lie in the eligible land (a
    piece smaller than a cell: the cell under a point of it)."""
    acc: dict[str, list[npt.NDArray[np.float32]]] = {}
    for vals, tf, r in cells:
        inside = rasterio.features.geometry_mask(
            [c.rem], vals.shape, tf, invert=True, all_touched=False
        )
        if not inside.any():
            px, py = shapely.get_coordinates(shapely.point_on_surface(c.rem))[0]
            col, row = ~tf @ (px, py)
            if 0 <= int(row) < vals.shape[0] and 0 <= int(col) < vals.shape[1]:
                inside[int(row), int(col)] = True
        v = vals[inside]
        acc.setdefault(r.name, []).append(v[~np.isnan(v)])
    return {k: np.concatenate(v) for k, v in acc.items()}


def screen_sites(
    candidates: gpd.GeoDataFrame,
    exclusions: Sequence[Exclusion],
    rasters: Sequence[RasterCriterion] | None = None,
    rules: RuleSet | None = None,
    tech: str = "pv",
    *,
    grid: gpd.GeoDataFrame | None = None,
    admin: gpd.GeoDataFrame | None = None,
    not_assessed: Sequence[dict[str, str]] = (),
    as_of_year: int | None = None,
) -> SitingResult:
    """The eligible part of every candidate for ``tech`` (``"pv"`` or ``"wind"``).

    Parameters
    ----------
    candidates : GeoDataFrame
        Role ``candidates`` (``site_id``, ``kind``; optional ``name``, ``status``,
        ``settled``, ``closure_year``), polygons in a projected, conformal working CRS.
    exclusions : sequence of Exclusion
        Applied in order; the per-reason areas are booked in this order.
    rasters : sequence of RasterCriterion
        ``slope`` (a DEM, threshold from the terrain rule unless given) and ``minimum``
        criteria (resource rasters).
    rules : RuleSet
        The siting rules (candidates, terrain, capacity, score).
    grid : GeoDataFrame, optional
        Grid features (substations or lines) for the score's distance component.
    admin : GeoDataFrame, optional
        Administrative boundaries, for the city and county of each candidate.
    not_assessed : sequence of dict
        Exclusions that could not be applied (no layer), reported in ``meta``.
    as_of_year : int, optional
        Year for "years since landfill closure" (default: the score rule's ``as_of_year``).
    """
    rules = rules or load_rules()
    p = _rule_params(rules, tech)
    crs = CRS.from_user_input(candidates.crs) if candidates.crs else None
    if crs is None or not crs.is_projected:
        raise CRSError("candidates must be in a projected working CRS (load them through sxzones)")
    cap: Rule = p["capacity"]
    min_area = float(cap.params.get("min_area_m2", 0))
    terrain: Rule | None = p["terrain"]
    sp = dict(p["score"].params) if p["score"] else {}
    year = int(as_of_year or sp.get("as_of_year", 2026))
    rasters = [_with_limit(r, terrain, tech) for r in rasters or ()]
    reasons = [ex.reason for ex in exclusions]
    if len(set(reasons)) < len(reasons):
        raise RulesError(f"exclusion reasons {reasons} repeat one; give each layer once")
    reasons += [r.name for r in rasters] + ["too_small"]

    geoms = candidates.geometry.to_numpy()
    n = len(geoms)
    pts = shapely.point_on_surface(geoms)
    kk = point_scale(pts, crs)  # conformal: the areal scale is k²
    cands = [_Cand(geoms[i], float(kk[i]), geoms[i], dict.fromkeys(reasons, 0.0)) for i in range(n)]
    gross = np.array([c.area(c.geom) for c in cands])

    # 1. vector exclusions, in order
    for ex in exclusions:
        _cut_exclusions(cands, geoms, ex, crs)

    # 2.-3. per candidate: raster criteria, minimum contiguous area, cell statistics
    classes = terrain.params["classes"] if terrain else []
    slope_mean = np.full(n, np.nan)
    class_share = np.full((n, len(classes)), np.nan)
    res_mean = {r.name: np.full(n, np.nan) for r in rasters if r.kind != "slope"}
    resolution: dict[str, float] = {}
    with ExitStack() as stack:
        for r in rasters:
            r.open(crs)
            stack.callback(r.close)
            rx, ry = r.resolution
            resolution[r.name] = rx if rx == ry else math.sqrt(rx * ry)
        for i, c in enumerate(cands):
            cells = _cut_rasters(c, rasters)
            if not c.rem.is_empty and min_area > 0:
                parts = shapely.get_parts(c.rem)
                small = parts[shapely.area(parts) / (c.k * c.k) < min_area]
                c.cut("too_small", shapely.union_all(small) if len(small) else None)
            if c.rem.is_empty:
                continue
            values = _cell_values(c, cells)
            for r in rasters:
                v = values.get(r.name, np.empty(0, np.float32))
                if r.kind != "slope":
                    res_mean[r.name][i] = float(np.mean(v, dtype=np.float64)) if len(v) else np.nan
                elif len(v):
                    slope_mean[i] = float(np.mean(v, dtype=np.float64))
                    lo = -np.inf
                    for j, cl in enumerate(classes):
                        hi = float(cl.get("max_deg", np.inf))
                        class_share[i, j] = float(np.mean((v > lo) & (v <= hi)))
                        lo = hi

    # 4. capacity
    eligible = np.array([c.area(c.rem) for c in cands])
    unknown = np.array(
        [
            c.area(shapely.intersection(c.rem, shapely.union_all(c.unknown))) if c.unknown else 0.0
            for c in cands
        ]
    )
    turbines_xy: list[npt.NDArray[np.float64]] = []
    if tech == "pv":
        capacity = eligible / 1e6 * float(cap.params["density_mw_per_km2"])
    else:
        spacing = float(cap.params["spacing_m"])
        turbines_xy = [_lattice(c.rem, spacing * c.k) for c in cands]
        capacity = np.array([len(t) for t in turbines_xy]) * float(cap.params["turbine_mw"])

    # 5. score
    kinds = candidates["kind"].astype(str).to_numpy()
    none = np.full(n, None, dtype=object)
    settled = candidates["settled"].to_numpy(dtype=object) if "settled" in candidates else none
    closure = (
        candidates["closure_year"].to_numpy(dtype=object) if "closure_year" in candidates else none
    )
    comp: dict[str, npt.NDArray[np.float64]] = {}
    comp["status"] = np.array(
        [_status_component(kinds[i], settled[i], closure[i], sp, year) for i in range(n)]
    )
    slope_rule = next((r for r in rasters if r.kind == "slope"), None)
    if slope_rule is not None:
        comp["slope"] = np.clip(1 - slope_mean / slope_rule.threshold, 0, 1)
    grid_d = np.full(n, np.nan)
    if grid is not None and len(grid):
        gg = grid.geometry.to_numpy()
        target = np.array([c.rem if not c.rem.is_empty else c.geom for c in cands], dtype=object)
        ti, gi = shapely.STRtree(gg).query_nearest(target, all_matches=False)
        grid_d[ti] = shapely.distance(target[ti], gg[gi]) / kk[ti]  # planar / k: within 0.02 %
        comp["grid"] = np.clip(1 - grid_d / float(sp.get("grid_distance_full_m", 20000)), 0, 1)
    if res_mean:
        first = next(r for r in rasters if r.kind != "slope")
        m = res_mean[first.name]
        best = np.nanmax(m) if np.isfinite(m).any() else np.nan
        thr = first.threshold
        comp["resource"] = (
            np.clip((m - thr) / (best - thr), 0, 1) if best > thr else np.where(np.isnan(m), m, 1.0)
        )
    weights = {k: float(v) for k, v in sp.get("weights", {}).items() if k in comp}
    num = np.zeros(n)
    den = np.zeros(n)
    for k, w in weights.items():
        ok = ~np.isnan(comp[k])
        num[ok] += w * comp[k][ok]
        den[ok] += w
    score = np.where(
        (den > 0) & (eligible > 0), np.round(100 * num / np.where(den > 0, den, 1), 1), np.nan
    )

    # 6. tables
    labels = p["candidates"].params.get("labels", {})
    out = pd.DataFrame(
        {
            "site_id": candidates["site_id"].astype(str).to_numpy(),
            "kind": kinds,
            "kind_zh": [labels.get(k, "") for k in kinds],
            "tech": tech,
        }
    )
    for col in ("name", "status", "settled", "closure_year", "former_industry"):
        if col in candidates:
            out[col] = candidates[col].to_numpy()
    if admin is not None and len(admin):
        which, table = county_lookup(pts, admin, threads=1)
        for col in ("city", "county", "adcode"):
            out[col] = table[col][which]
    out["candidate_m2"] = np.round(gross, 1)
    for reason in reasons:
        out[f"removed_{reason}_m2"] = np.round([c.removed[reason] for c in cands], 1)
    out["removed_m2"] = np.round(gross - eligible, 1)
    out["eligible_m2"] = np.round(eligible, 1)
    out["eligible_share"] = np.round(
        np.divide(eligible, gross, out=np.zeros(n), where=gross > 0), 4
    )
    out["unknown_m2"] = np.round(unknown, 1)
    out["parts"] = [0 if c.rem.is_empty else len(shapely.get_parts(c.rem)) for c in cands]
    if slope_rule is not None:
        out["slope_mean_deg"] = np.round(slope_mean, 2)
        for j, cl in enumerate(classes):
            out[f"terrain_{cl['name']}_share"] = np.round(class_share[:, j], 4)
    for name, m in res_mean.items():
        out[f"{name}_mean"] = np.round(m, 3)
    if grid is not None:
        out["grid_distance_m"] = np.round(grid_d, 0)
    if resolution:  # the resolution each raster criterion was applied at, on every row
        out["raster_resolution_m"] = "; ".join(f"{k} {v:g}" for k, v in resolution.items())
    out["capacity_mw"] = np.round(capacity, 2)
    if tech == "wind":
        out["turbines"] = np.array([len(t) for t in turbines_xy], dtype=np.int64)
    for k_ in ("resource", "slope", "grid", "status"):
        if k_ in comp:
            out[f"score_{k_}"] = np.round(comp[k_], 3)
    out["score"] = score
    out["eligible"] = eligible > 0
    out["main_reason"] = [
        max(c.removed, key=lambda r: c.removed[r]) if sum(c.removed.values()) > 0 else ""
        for c in cands
    ]
    clause_of = {ex.reason: ex.clause for ex in exclusions}
    if terrain is not None and slope_rule is not None:
        clause_of[slope_rule.name] = terrain.clauses
    clause_of["too_small"] = cap.clauses
    out["clauses"] = [
        "; ".join(
            dict.fromkeys(
                [p["candidates"].clauses]
                + [clause_of[r] for r in reasons if c.removed[r] > 0 and r in clause_of]
            )
        )
        for c in cands
    ]
    if "source_row" in candidates:
        out["source_row"] = candidates["source_row"].to_numpy()
    sites = gpd.GeoDataFrame(out, geometry=np.array([c.rem for c in cands], dtype=object), crs=crs)

    ids = out["site_id"].to_numpy()
    pieces = [(ids[i], reason, c.area(g), g) for i, c in enumerate(cands) for reason, g in c.pieces]
    removed = gpd.GeoDataFrame(
        pd.DataFrame(pieces, columns=["site_id", "reason", "area_m2", "geometry"]).round(
            {"area_m2": 1}
        ),
        geometry="geometry",
        crs=crs,
    )
    spots = [(ids[i], j + 1, x, y) for i, t in enumerate(turbines_xy) for j, (x, y) in enumerate(t)]
    tf = pd.DataFrame(spots, columns=["site_id", "turbine", "x", "y"]).astype({"turbine": "int64"})
    turbines = gpd.GeoDataFrame(
        tf[["site_id", "turbine"]].assign(rated_mw=float(cap.params.get("turbine_mw", 0.0))),
        geometry=shapely.points(tf["x"].to_numpy(float), tf["y"].to_numpy(float)),
        crs=crs,
    )
    meta = {
        "tech": tech,
        "as_of_year": year,
        "capacity_rule": cap.id,
        "capacity": {k: v for k, v in cap.params.items() if k not in ("zh", "en")},
        "min_area_m2": min_area,
        "raster_resolution_m": resolution,
        "reasons": reasons,
        "labels": {ex.reason: (ex.label_zh, ex.label_en) for ex in exclusions},
        "exclusions": [
            {
                "reason": ex.reason,
                "rule": ex.rule_id,
                "layer": ex.layer,
                "setback_m": ex.setback_m,
                "features": len(ex.geoms),
                "clause": ex.clause,
                "source": ex.source,
            }
            for ex in exclusions
        ],
        "not_assessed": list(not_assessed),
        "score_weights": weights,
    }
    return SitingResult(sites, removed, turbines, meta)
