"""The planners' siting screen: PV and wind on candidate land (clause 十五).

:func:`screen_sites` takes candidate parcels (abandoned mines, subsidence land, closed
landfills, contaminated plots) and returns, for every one, the part that stays eligible once
every exclusion is applied, why the rest is not, and how much capacity fits.

Method
------
0. A closed landfill whose closure year is after ``as_of_year`` is not closed yet: not
   candidate land under clause 十五; the whole parcel is removed (reason ``not_closed``).
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
   :data:`~sxzones.analyses.rasters.TILE` cells a side), a few neighbouring candidates at a
   time (each raster's windows over them read in a few calls; their failing cells
   polygonised in one GDAL call), and their cells are
   let go once they are done; GDAL's block cache holds a few rows of storage blocks per
   worker, so memory does not grow with the raster. The cell statistics count the
   cells whose centres lie in the eligible land, as GDAL burns them, found from the failure
   mask and the land before the cut. The resolution used is reported.
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

Areas are on the ellipsoid (:func:`sxzones.geodesy.ellipsoidal_area`, within 1e-6 of
``pyproj.Geod``). Totals count the union of the candidates: overlapping candidates are
listed in pairs with their overlap (:mod:`sxzones.analyses.siting_totals`), and the land a
raster did not assess (no data, or outside it) is totalled with the capacity standing on it.
"""

from __future__ import annotations

import collections
import itertools
import math
import os
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from numbers import Integral
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import rasterio
import rasterio.env
import shapely
from pyproj import CRS
from rasterio._err import CPLE_BaseError
from rasterio.errors import NotGeoreferencedWarning, RasterioError

from sxzones._util import check_type
from sxzones.analyses.counties import Coverage, county_cover
from sxzones.analyses.nearest import TargetIndex, county_table
from sxzones.analyses.rasters import (
    RasterCriterion,
    Tile,
    centres_in,
    polygons_of_many,
    slope_tile,
)
from sxzones.analyses.siting_totals import capacity_on, lattice, unassessed_frame, union_totals
from sxzones.errors import CRSError, LayerError, RulesError
from sxzones.geodesy import box_scales, ellipsoidal_area, ground_buffer, point_scale
from sxzones.rules import TECHS, Rule, RuleSet

__all__ = ["Exclusion", "RasterCriterion", "SitingResult", "screen_sites"]


@dataclass
class Exclusion:
    """One exclusion layer: a reason, its features, a setback in metres on the ground.

    ``features``: a GeoDataFrame or GeoSeries (brought to the candidates' CRS when it differs),
    or an array of shapely geometries already in the candidates' CRS."""

    reason: str
    features: gpd.GeoDataFrame | gpd.GeoSeries | npt.NDArray[np.object_]
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
            features=frame[sel],
            setback_m=rule.for_tech("setback_m", tech),
            label_zh=str(rule.params.get("label_zh", "")),
            label_en=str(rule.params.get("label_en", "")),
            clause=rule.clauses,
            rule_id=rule.id,
            layer=layer,
            source=source,
        )

    def geoms(self, crs: CRS, where: str = "exclusion") -> npt.NDArray[np.object_]:
        """The features' geometries in ``crs`` (the working CRS)."""
        f = self.features
        if isinstance(f, gpd.GeoDataFrame | gpd.GeoSeries):
            if f.crs is None:
                raise CRSError(f"{where} ({self.reason!r}): the features have no CRS")
            if not CRS.from_user_input(f.crs).equals(crs):
                f = f.to_crs(crs)
            g = f.geometry if isinstance(f, gpd.GeoDataFrame) else f
            return np.asarray(g.to_numpy(), dtype=object)
        if isinstance(f, np.ndarray):
            return np.asarray(f, dtype=object)
        raise TypeError(
            f"{where}.features must be a GeoDataFrame, GeoSeries or array of geometries, "
            f"not {type(f).__name__}"
        )


@dataclass
class SitingResult:
    """``sites``: one row per candidate, geometry = its eligible part (empty when none).
    ``removed``: the removed pieces (site_id, reason, area_m2) for maps. ``turbines``: wind
    turbine positions. ``unassessed``: per raster criterion, the eligible land it did not
    assess (no data or outside it), for maps. ``meta``: tech, parameters, resolution,
    exclusions assessed and not, and ``totals``: the union of the candidates, overlapping
    pairs, land not assessed per raster with its capacity, and warnings."""

    sites: gpd.GeoDataFrame
    removed: gpd.GeoDataFrame
    turbines: gpd.GeoDataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    unassessed: gpd.GeoDataFrame | None = None

    @property
    def summary(self) -> dict[str, Any]:
        """The totals over the union of the candidates (``meta["totals"]``)."""
        return dict(self.meta.get("totals", {}))


def _buffered(ex: Exclusion, geoms: npt.NDArray[np.object_], crs: CRS) -> npt.NDArray[np.object_]:
    """The exclusion's features grown by their setback (ground metres), as areas."""
    g = geoms[~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)]
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


def _criterion(r: RasterCriterion) -> dict[str, Any]:
    """A raster criterion as applied, for ``siting.json``: what the land was screened for
    (the slope limit in degrees, a resource minimum) and from which raster, so that the
    outputs say what removed ``removed_<name>_m2``."""
    return {
        "raster": r.name,
        "kind": r.kind,
        "max_slope_deg" if r.kind == "slope" else "minimum": r.threshold,
        "source": r.label,
    }


def _with_limit(r: RasterCriterion, terrain: Rule | None, tech: str) -> RasterCriterion:
    """A DEM criterion without a threshold takes the terrain rule's slope limit (a copy: the
    caller's criterion is left as given)."""
    if r.kind != "slope" or r.threshold > 0:
        return replace(r, _own=[])
    if terrain is None:
        raise RulesError("a DEM needs a slope limit: add a siting_terrain rule")
    return replace(r, threshold=terrain.for_tech("max_slope_deg", tech, 90.0), _own=[])


def _status_component(kind: str, settled: Any, closure: Any, p: dict[str, Any], year: int) -> float:
    s = p.get("status_scores", {})
    if kind == "subsidence":
        if settled is None or (isinstance(settled, float) and math.isnan(settled)):
            return math.nan  # unknown: the component drops out of the weights
        key = "subsidence_settled" if settled is True else "subsidence_settling"
        return float(s.get(key, math.nan))
    if kind == "closed_landfill":
        full = float(p.get("landfill_full_years", 10))
        if closure is None or pd.isna(closure):
            return math.nan
        years = max(0.0, year - float(closure))
        return float(s.get("closed_landfill", 1.0)) * min(1.0, years / full)
    return float(s.get(kind, math.nan))


@dataclass
class _Cand:
    """Working state of one candidate: what is still eligible (``rem``), the states of
    ``rem`` after each cut (their ellipsoidal areas are measured together at the end), the
    removed pieces, and per raster the cells without data."""

    geom: shapely.Geometry
    k: float
    rem: shapely.Geometry
    steps: list[tuple[str, shapely.Geometry]] = field(default_factory=list)
    pieces: list[tuple[str, shapely.Geometry]] = field(default_factory=list)
    unknown: dict[str, list[shapely.Geometry]] = field(default_factory=dict)

    def cut(self, reason: str, g: shapely.Geometry | None) -> None:
        """Remove ``g`` from what is still eligible, booking the area to ``reason``."""
        if g is None or g.is_empty or self.rem.is_empty:
            return
        piece = shapely.intersection(self.rem, g)
        if piece.is_empty:
            return
        self.rem = shapely.difference(self.rem, g)
        self.steps.append((reason, self.rem))
        self.pieces.append((reason, piece))


def _removed_by_reason(
    cands: list[_Cand], reasons: list[str], crs: CRS
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Gross and eligible areas per candidate, and the area each reason removed (rows:
    candidates, columns: reasons): what was eligible before the cut less what was after,
    so the reasons add up exactly; every area measured on the ellipsoid in one call."""
    geoms = [c.geom for c in cands] + [g for c in cands for _, g in c.steps]
    areas = ellipsoidal_area(np.array(geoms, dtype=object), crs)
    n = len(cands)
    gross = areas[:n]
    removed = np.zeros((n, len(reasons)))
    col = {r: j for j, r in enumerate(reasons)}
    eligible = gross.copy()
    pos = n
    for i, c in enumerate(cands):
        before = gross[i]
        for reason, _ in c.steps:
            removed[i, col[reason]] += before - areas[pos]
            before = areas[pos]
            pos += 1
        eligible[i] = before if c.steps else gross[i]
    return gross, eligible, removed


def _cut_exclusions(
    cands: list[_Cand], geoms: npt.NDArray[np.object_], ex: Exclusion, zones_of: Any
) -> None:
    """Step 1 for one exclusion layer: one bulk tree query, then each touched candidate."""
    zones = zones_of(ex)
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


@dataclass
class _Cells:
    """One tile of a raster over a candidate: its values, transform and criterion, the
    eligible land before the criterion was applied (``before``), the cells that failed it,
    and what was eligible right after (``after``). While nothing else is cut, the cells
    whose centres lie in the eligible land are those of ``before`` that did not fail: the
    centres in the simpler ``before`` (:func:`~sxzones.analyses.rasters.centres_in`) and
    the failure mask, no look at the cut result."""

    vals: npt.NDArray[np.float32]
    tf: Any
    r: RasterCriterion
    before: shapely.Geometry
    fails: npt.NDArray[np.bool_]
    after: shapely.Geometry | None = None


def _next_tile(r: RasterCriterion, tiles: Iterator[Tile]) -> Tile | None:
    """The next tile read, None after the last; a read that fails is a :class:`_ReadError`
    naming the raster."""
    try:
        return next(tiles, None)
    except (RasterioError, CPLE_BaseError) as exc:
        raise _ReadError(r.label, exc) from exc


def _tile_cells(c: _Cand, r: RasterCriterion, ds: Any) -> list[_Cells]:
    """The tiles of raster ``r`` over what is still eligible of ``c``, read through ``ds``:
    values (slope in degrees with ground cell sizes, or the raster's), and the cells that
    fail the criterion (cells without data never fail)."""
    rx, ry = r.resolution
    out = []
    tiles = r.tiles(c.rem.bounds, pad=1 if r.kind == "slope" else 0, ds=ds)
    while (t := _next_tile(r, tiles)) is not None:
        if r.kind == "slope":
            vals = slope_tile(t, ds, rx / c.k, ry / c.k, r.values)
        else:
            vals = t.inner
            r.seen(vals)
        # NaN (no data) compares false: it never fails
        fails = vals > r.threshold if r.kind == "slope" else vals < r.threshold
        out.append(_Cells(vals, t.transform, r, c.rem, fails))
    return out


class _Failed(Exception):
    """An error met while reading the rasters over the candidate in row ``i``."""

    def __init__(self, i: int, cause: BaseException) -> None:
        super().__init__(i, cause)
        self.i, self.cause = i, cause


def _cut_rasters(
    cands: list[_Cand],
    rows: list[int],
    rasters: Sequence[RasterCriterion],
    handles: Sequence[Any],
    scratch: dict[str, Any] | None = None,
) -> list[list[_Cells]]:
    """Step 2 for the candidates of ``rows`` (a chunk of a band): remove the cells that fail
    each criterion, note the cells without data; return per candidate the cells read, for
    the statistics. ``handles``: the dataset each raster is read through (this thread's
    own; ``scratch``: its memory for strips). Each raster's window over the whole chunk is
    read at once (:meth:`RasterCriterion.strip`) and the tiles of the whole chunk are
    polygonised together (one GDAL call for many small tiles); every candidate is cut with
    its own tiles' polygons only."""
    cells: list[list[_Cells]] = [[] for _ in rows]
    for r, ds in zip(rasters, handles, strict=True):
        mine: list[tuple[int, _Cells]] = []
        live = [k for k, i in enumerate(rows) if not cands[i].rem.is_empty]
        pad = 1 if r.kind == "slope" else 0
        view = r.strip(ds, [cands[rows[k]].rem.bounds for k in live], pad, scratch)
        for k in live:
            try:
                mine += [(k, m) for m in _tile_cells(cands[rows[k]], r, view)]
            except Exception as exc:  # handed to the caller with the candidate's row
                raise _Failed(rows[k], exc) from exc
        bad = polygons_of_many([m.fails for _, m in mine], [m.tf for _, m in mine])
        unknown = polygons_of_many([np.isnan(m.vals) for _, m in mine], [m.tf for _, m in mine])
        for k in live:
            c = cands[rows[k]]
            own = [j for j, (kk, _) in enumerate(mine) if kk == k]
            b = [bad[j] for j in own if bad[j] is not None]
            c.cut(r.name, shapely.union_all(b) if b else None)
            c.unknown.setdefault(r.name, []).extend(u for j in own if (u := unknown[j]) is not None)
        for k, m in mine:
            m.after = cands[rows[k]].rem
            cells[k].append(m)
    return cells


def _cell_values(c: _Cand, cells: list[_Cells]) -> dict[str, npt.NDArray[np.float32]]:
    """Per criterion, the known values of the cells whose centres lie in the eligible land (a
    piece smaller than a cell: the cell under a point of it)."""
    acc: dict[str, list[npt.NDArray[np.float32]]] = {}
    for m in cells:
        vals, tf = m.vals, m.tf
        if m.after is c.rem:  # nothing cut since this criterion: its own failure mask
            inside = centres_in(m.before, vals.shape, tf) & ~m.fails
        else:  # cut again since (another raster, too small): the eligible land itself
            inside = centres_in(c.rem, vals.shape, tf)
        if not inside.any():
            px, py = shapely.get_coordinates(shapely.point_on_surface(c.rem))[0]
            col, row = ~tf @ (px, py)
            if 0 <= int(row) < vals.shape[0] and 0 <= int(col) < vals.shape[1]:
                inside[int(row), int(col)] = True
        v = vals[inside]
        acc.setdefault(m.r.name, []).append(v[~np.isnan(v)])
    return {k: np.concatenate(v) for k, v in acc.items()}


def _checked_exclusions(
    exclusions: Sequence[Exclusion] | Mapping[str, gpd.GeoDataFrame],
) -> list[Exclusion]:
    """``exclusions`` as a list of :class:`Exclusion` (a mapping reason -> features is
    wrapped, setback 0), each checked, reasons unique."""
    if isinstance(exclusions, Mapping):
        exclusions = [Exclusion(str(k), v) for k, v in exclusions.items()]
    if isinstance(exclusions, gpd.GeoDataFrame | str) or not isinstance(exclusions, Sequence):
        raise TypeError(
            "screen_sites: exclusions must be a list of Exclusion (e.g. "
            "Exclusion('water', frame, setback_m=200)) or a mapping reason -> GeoDataFrame, "
            f"not {type(exclusions).__name__}"
        )
    for i, ex in enumerate(exclusions):
        if not isinstance(ex, Exclusion):
            raise TypeError(
                f"screen_sites: exclusions[{i}] must be an Exclusion (e.g. Exclusion('water', "
                f"frame, setback_m=200)), not {type(ex).__name__}; or pass a mapping reason -> "
                "GeoDataFrame"
            )
        if not isinstance(ex.setback_m, int | float) or not math.isfinite(ex.setback_m):
            raise TypeError(f"screen_sites: exclusions[{i}].setback_m must be a finite number")
    reasons = [ex.reason for ex in exclusions]
    if len(set(reasons)) < len(reasons):
        raise RulesError(f"exclusion reasons {reasons} repeat one; give each layer once")
    return list(exclusions)


def _checked_inputs(
    candidates: gpd.GeoDataFrame,
    rules: RuleSet,
    rasters: Sequence[RasterCriterion],
    grid: gpd.GeoDataFrame | None,
    admin: gpd.GeoDataFrame | None,
) -> CRS:
    """Clear errors for inputs of the wrong type or without what the screen needs; the
    candidates' projected CRS."""
    if not isinstance(candidates, gpd.GeoDataFrame):
        raise TypeError(
            f"screen_sites: candidates must be a GeoDataFrame, not {type(candidates).__name__}"
        )
    if not isinstance(rules, RuleSet):
        raise TypeError(
            f"screen_sites: rules must be a RuleSet (sxzones.load_rules()), not "
            f"{type(rules).__name__}"
        )
    for name, frame in (("grid", grid), ("admin", admin)):
        if frame is not None and not isinstance(frame, gpd.GeoDataFrame):
            raise TypeError(f"screen_sites: {name} must be a GeoDataFrame or None")
    if isinstance(rasters, RasterCriterion) or not isinstance(rasters, Sequence):
        raise TypeError("screen_sites: rasters must be a list of RasterCriterion")
    for i, r in enumerate(rasters):
        if not isinstance(r, RasterCriterion):
            raise TypeError(
                f"screen_sites: rasters[{i}] must be a RasterCriterion, not {type(r).__name__}"
            )
        r.check(f"rasters[{i}]")
    missing = [c for c in ("site_id", "kind") if c not in candidates.columns]
    if missing:
        raise LayerError(f"screen_sites: candidates have no {missing} column(s)")
    crs = CRS.from_user_input(candidates.crs) if candidates.crs else None
    if crs is None or not crs.is_projected:
        raise CRSError("candidates must be in a projected working CRS (load them through sxzones)")
    return crs


@dataclass
class _Stats:
    """Cell statistics per candidate, and the resolution of each raster criterion."""

    slope_mean: npt.NDArray[np.float64]
    class_share: npt.NDArray[np.float64]
    res_mean: dict[str, npt.NDArray[np.float64]]
    resolution: dict[str, float]


#: The warning rasterio means to silence for its in-memory datasets.
_NO_GEOTRANSFORM = "Dataset has no geotransform"


def _env_options() -> dict[str, Any]:
    """The GDAL options of the caller's ``rasterio.Env``, for the workers' own."""
    return dict(rasterio.env.getenv()) if rasterio.env.hasenv() else {}


#: Rows of storage blocks of each raster kept decompressed per worker: the band it is on,
#: the bands above and below that its candidates reach into, and one to spare.
_CACHE_BANDS = 4
#: Least block cache the run sets (bytes).
_CACHE_MIN = 64 << 20


def _run_options(
    opts: dict[str, Any], rasters: list[RasterCriterion], threads: int
) -> dict[str, Any]:
    """``{"GDAL_CACHEMAX": bytes}`` for the run, or nothing when the caller set the cache
    (their ``rasterio.Env`` or the environment variable). GDAL's default cache is 5 % of the
    machine's memory, and a screen touching most blocks of a province-wide raster filled
    it (1.3 GB at 30 m): the blocks a worker still needs are those of its band and the
    next ones (:class:`_Bands`), so the cache holds :data:`_CACHE_BANDS` rows of blocks per
    worker and raster, never more than GDAL's default. Memory stays bounded whatever the
    raster's size, and the pages are used again instead of new ones faulted in.

    ``GDAL_NUM_THREADS`` is not set: GDAL's decompression threads outlive the run, and a
    process forked afterwards (``multiprocessing``'s default on Linux; the server's
    workers) hangs in GDAL waiting for threads it does not have."""
    if "GDAL_CACHEMAX" in opts or "GDAL_CACHEMAX" in os.environ:
        return {}
    need = threads * sum(_CACHE_BANDS * r.band_bytes() for r in rasters)
    try:
        now = int(rasterio.env.get_gdal_config("GDAL_CACHEMAX") or 0)
    except (TypeError, ValueError):
        return {}
    return {"GDAL_CACHEMAX": max(_CACHE_MIN, min(need, now))} if now > 0 else {}


class _ReadError(Exception):
    """A raster window that could not be read (``label``: the raster; ``cause``: why)."""

    def __init__(self, label: str, cause: BaseException) -> None:
        super().__init__(label, cause)
        self.label, self.cause = label, cause


@dataclass
class _Job:
    """The raster pass shared by its workers: candidates, criteria, parameters, the rows of
    statistics each candidate fills, the bands of candidates still to do, and the errors."""

    cands: list[_Cand]
    rasters: list[RasterCriterion]
    crs: CRS
    classes: list[dict[str, Any]]
    min_area: float
    st: _Stats
    todo: _Bands
    errors: list[tuple[int, BaseException]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


class _Bands:
    """The bands of candidates still to do, in one run of neighbouring bands per worker:
    a worker goes on down its own run (the blocks a candidate shares with the next band
    are then decompressed once, by it), and when its run is done it takes the last band of
    the longest run left (the far end from that run's worker)."""

    def __init__(self, bands: list[list[int]], workers: int) -> None:
        sizes = np.cumsum([len(b) for b in bands])
        total = int(sizes[-1]) if len(bands) else 0
        cut = np.searchsorted(sizes, [total * (k + 1) / workers for k in range(workers - 1)])
        edges = [0, *(int(x) + 1 for x in cut), len(bands)]
        self._runs = [collections.deque(bands[a:b]) for a, b in itertools.pairwise(edges)]
        self._lock = threading.Lock()

    def take(self, worker: int) -> list[int] | None:
        """The next band for ``worker`` (0, 1, ...), None when all are done."""
        with self._lock:
            own = self._runs[worker % len(self._runs)]
            if own:
                return own.popleft()
            longest = max(self._runs, key=len)
            return longest.pop() if longest else None


def _bands(cands: list[_Cand], rasters: list[RasterCriterion], threads: int) -> list[list[int]]:
    """The candidates still eligible, grouped by the band of the first raster's blocks that
    holds the centre of their box (west to east within a band), groups of at most
    ``n / (4 threads)`` so that the workers share the load."""
    todo = [i for i, c in enumerate(cands) if not c.rem.is_empty]
    if not todo or not rasters:
        return [todo] if todo else []
    t = rasters[0]._ds.transform
    rows = rasters[0].block_rows() * abs(t.e)
    b = np.array([cands[i].rem.bounds for i in todo])
    band = np.floor((t.f - (b[:, 1] + b[:, 3]) / 2) / rows)
    order = np.lexsort(((b[:, 0] + b[:, 2]) / 2, band))
    cap = max(1, math.ceil(len(todo) / (4 * max(1, threads))))
    out: list[list[int]] = []
    for _, idx in itertools.groupby(order.tolist(), key=lambda k: band[k]):
        members = [todo[k] for k in idx]
        out += [members[j : j + cap] for j in range(0, len(members), cap)]
    return out


def _worker(job: _Job, own: bool, opts: dict[str, Any] | None = None, me: int = 0) -> None:
    """Take bands of candidates until none is left or one failed. ``own``: open this
    thread's own dataset handles and GDAL environment (a worker thread); else read through
    the handles :meth:`RasterCriterion.open` made (the calling thread). ``me``: the
    worker's number, whose run of bands it starts with."""
    with ExitStack() as stack:
        if own:
            stack.enter_context(rasterio.Env(**(opts or {})))
            handles = [r.reopen(stack) for r in job.rasters]
        else:
            handles = [r._ds for r in job.rasters]
        scratch: dict[str, Any] = {}  # this thread's memory for strips, kept between chunks
        while not job.stop.is_set():
            band = job.todo.take(me)
            if band is None:
                return
            for rows in _chunks(job, band):
                if job.stop.is_set():
                    return
                _one_chunk(job, rows, handles, scratch)


#: Cells (of the first raster) read for one chunk of candidates at most, unless a single
#: candidate needs more: 4 Mi cells, 16 MB of float32 values (and their masks).
_CHUNK_CELLS = 1 << 22


def _chunks(job: _Job, band: list[int]) -> Iterator[list[int]]:
    """The candidates of ``band`` in chunks of neighbours whose windows hold at most
    :data:`_CHUNK_CELLS` cells together (and at most 64 candidates), so that memory stays
    bounded."""
    rx, ry = job.rasters[0].resolution if job.rasters else (1.0, 1.0)
    rows: list[int] = []
    size = 0.0
    for i in band:
        x0, y0, x1, y1 = job.cands[i].rem.bounds if not job.cands[i].rem.is_empty else (0,) * 4
        n = (x1 - x0 + 3 * rx) * (y1 - y0 + 3 * ry) / (rx * ry)
        if rows and (size + n > _CHUNK_CELLS or len(rows) >= 64):
            yield rows
            rows, size = [], 0.0
        rows.append(i)
        size += n
    if rows:
        yield rows


def _one_chunk(
    job: _Job, rows: list[int], handles: Sequence[Any], scratch: dict[str, Any] | None = None
) -> None:
    """Steps 2-3 for the candidates of ``rows``; an error is handed to the caller with the
    row of the candidate it concerns (the chunk's first when it concerns the chunk)."""
    try:
        cells = _cut_rasters(job.cands, rows, job.rasters, handles, scratch)
        for i, mine in zip(rows, cells, strict=True):
            try:
                _one_candidate(job, i, mine)
            except Exception as exc:
                raise _Failed(i, exc) from exc
    except _Failed as f:
        job.errors.append((f.i, f.cause))
        job.stop.set()
    except Exception as exc:
        job.errors.append((rows[0], exc))
        job.stop.set()


def _one_candidate(job: _Job, i: int, cells: list[_Cells]) -> None:
    """Step 3 for candidate ``i`` (its rasters applied: ``cells``); its statistics go to
    row ``i``."""
    c, crs, st = job.cands[i], job.crs, job.st
    if not c.rem.is_empty and job.min_area > 0:
        parts = shapely.get_parts(c.rem)
        small = parts[ellipsoidal_area(parts, crs) < job.min_area]
        c.cut("too_small", shapely.union_all(small) if len(small) else None)
    if c.rem.is_empty:
        return
    values = _cell_values(c, cells)
    for r in job.rasters:
        v = values.get(r.name, np.empty(0, np.float32))
        if r.kind != "slope":
            st.res_mean[r.name][i] = float(np.mean(v, dtype=np.float64)) if len(v) else np.nan
        elif len(v):
            st.slope_mean[i] = float(np.mean(v, dtype=np.float64))
            lo = -np.inf
            for j, cl in enumerate(job.classes):
                hi = float(cl.get("max_deg", np.inf))
                st.class_share[i, j] = float(np.mean((v > lo) & (v <= hi)))
                lo = hi


def _raster_pass(
    cands: list[_Cand],
    rasters: list[RasterCriterion],
    crs: CRS,
    classes: list[dict[str, Any]],
    min_area: float,
    ids: Sequence[str],
    threads: int,
) -> _Stats:
    """Steps 2-3 per candidate: raster criteria, minimum contiguous area, cell statistics.

    Candidates are taken in bands of the first raster's storage blocks by ``threads``
    workers, each with its own dataset handles and one GDAL environment for the whole run,
    each going down its own run of neighbouring bands (so each block is decompressed about
    once, by one worker) in chunks of neighbouring candidates. Each candidate's results go
    to its own row, and a candidate's cut depends only on its own tiles, so the outcome does
    not depend on the number of threads, the chunks or their timing."""
    n = len(cands)
    st = _Stats(
        np.full(n, np.nan),
        np.full((n, len(classes)), np.nan),
        {r.name: np.full(n, np.nan) for r in rasters if r.kind != "slope"},
        {},
    )
    opts = _env_options()
    with rasterio.Env(**opts), ExitStack() as stack:
        for r in rasters:
            stack.callback(r.close)
            r.open(crs)
            rx, ry = r.resolution
            st.resolution[r.name] = rx if rx == ry else math.sqrt(rx * ry)
        opts |= _run_options(opts, rasters, threads)
        stack.enter_context(rasterio.Env(**opts))
        groups = _bands(cands, rasters, threads)
        alone = threads <= 1 or len(groups) <= 1 or not all(r.reopenable for r in rasters)
        job = _Job(
            cands, rasters, crs, classes, min_area, st, _Bands(groups, 1 if alone else threads)
        )
        if alone:
            _worker(job, own=False)
        else:
            with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=threads) as pool:
                # rasterio silences this warning around its in-memory datasets (rasterize,
                # shapes) with warnings.catch_warnings, which is not thread-safe: one
                # thread's restore lets the other's through. Silenced here for the workers.
                warnings.filterwarnings("ignore", _NO_GEOTRANSFORM, NotGeoreferencedWarning)
                for f in [pool.submit(_worker, job, True, opts, k) for k in range(threads)]:
                    f.result()
        if job.errors:
            i, exc = min(job.errors, key=lambda e: e[0])
            if isinstance(exc, _ReadError):
                raise LayerError(
                    f"{exc.label}: cannot read the raster over candidate {ids[i]!r} "
                    f"(row {i + 1} of the candidates): {exc.cause}. The file may be damaged or "
                    "cut short: check it with gdalinfo -checksum, or make it again"
                ) from exc.cause
            raise exc
    return st


def _capacity(
    cands: list[_Cand], eligible: npt.NDArray[np.float64], tech: str, cap: Rule, crs: CRS
) -> tuple[npt.NDArray[np.float64], list[npt.NDArray[np.float64]]]:
    """Step 4: capacity per candidate (MW), and the turbine positions (wind)."""
    if tech == "pv":
        return eligible / 1e6 * float(cap.params["density_mw_per_km2"]), []
    spacing = float(cap.params["spacing_m"])
    boxes = np.array([c.geom.bounds for c in cands]).reshape(-1, 4)
    _, kmax = box_scales(boxes, crs) if len(cands) else (None, np.empty(0))
    # the largest scale factor over the candidate: turbines at least `spacing` apart on the ground
    turbines = [lattice(c.rem, spacing * float(k)) for c, k in zip(cands, kmax, strict=True)]
    capacity = np.array([len(t) for t in turbines], dtype=np.float64) * float(
        cap.params["turbine_mw"]
    )
    return capacity, turbines


def _scores(
    candidates: gpd.GeoDataFrame,
    cands: list[_Cand],
    st: _Stats,
    rasters: list[RasterCriterion],
    grid: gpd.GeoDataFrame | None,
    sp: dict[str, Any],
    year: int,
) -> tuple[dict[str, npt.NDArray[np.float64]], npt.NDArray[np.float64], dict[str, float]]:
    """Step 5: the score components, the distance to the grid, and the weights used."""
    n = len(cands)
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
        comp["slope"] = np.clip(1 - st.slope_mean / slope_rule.threshold, 0, 1)
    grid_d = np.full(n, np.nan)
    if grid is not None and len(grid):
        gg = grid.to_crs(candidates.crs).geometry.to_numpy()
        target = np.array([c.rem if not c.rem.is_empty else c.geom for c in cands], dtype=object)
        kk = np.array([c.k for c in cands])
        ti, gi = shapely.STRtree(gg).query_nearest(target, all_matches=False)
        grid_d[ti] = shapely.distance(target[ti], gg[gi]) / kk[ti]  # planar / k: within 0.02 %
        comp["grid"] = np.clip(1 - grid_d / float(sp.get("grid_distance_full_m", 20000)), 0, 1)
    if st.res_mean:
        first = next(r for r in rasters if r.kind != "slope")
        m = st.res_mean[first.name]
        best = np.nanmax(m) if np.isfinite(m).any() else np.nan
        thr = first.threshold
        comp["resource"] = (
            np.clip((m - thr) / (best - thr), 0, 1) if best > thr else np.where(np.isnan(m), m, 1.0)
        )
    weights = {k: float(v) for k, v in sp.get("weights", {}).items() if k in comp}
    return comp, grid_d, weights


def _weighted(
    comp: dict[str, npt.NDArray[np.float64]],
    weights: dict[str, float],
    eligible: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """The score 0-100: weighted mean of the components present (NaN without eligible land)."""
    n = len(eligible)
    num, den = np.zeros(n), np.zeros(n)
    for k, w in weights.items():
        ok = ~np.isnan(comp[k])
        num[ok] += w * comp[k][ok]
        den[ok] += w
    return np.where(
        (den > 0) & (eligible > 0), np.round(100 * num / np.where(den > 0, den, 1), 1), np.nan
    )


@dataclass
class _Outcome:
    """Per-candidate results of the steps, for the tables."""

    reasons: list[str]
    gross: npt.NDArray[np.float64]
    eligible: npt.NDArray[np.float64]
    removed: npt.NDArray[np.float64]  # candidates x reasons
    unknown: npt.NDArray[np.float64]
    unknown_mw: npt.NDArray[np.float64]
    capacity: npt.NDArray[np.float64]
    turbines: list[npt.NDArray[np.float64]]
    stats: _Stats
    comp: dict[str, npt.NDArray[np.float64]]
    grid_d: npt.NDArray[np.float64]
    score: npt.NDArray[np.float64]
    grid_given: bool


def _in_crs(frame: gpd.GeoDataFrame, crs: CRS) -> gpd.GeoDataFrame:
    """``frame`` in ``crs`` (as given when it has no CRS or is already there)."""
    if frame.crs is None or CRS.from_user_input(frame.crs).equals(crs):
        return frame
    return frame.to_crs(crs)


def _site_columns(
    candidates: gpd.GeoDataFrame,
    cands: list[_Cand],
    p: dict[str, Any],
    o: _Outcome,
    tech: str,
    places: dict[str, npt.NDArray[np.object_]] | None,
) -> pd.DataFrame:
    """Step 6a: identity, areas per reason, capacity columns of the sites table (``places``:
    each candidate's city, county and adcode, :func:`_places`)."""
    kinds = candidates["kind"].astype(str).to_numpy()
    labels = p["candidates"].params.get("labels", {})
    n = len(kinds)
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
    for col, values in (places or {}).items():
        out[col] = values

    def m2(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.round(a, 1) + 0.0  # + 0.0: a rounded -1e-9 is 0, not -0 ("-0" in the CSV)

    return out.assign(
        candidate_m2=m2(o.gross),
        **{f"removed_{r}_m2": m2(o.removed[:, j]) for j, r in enumerate(o.reasons)},
        removed_m2=m2(o.gross - o.eligible),
        eligible_m2=m2(o.eligible),
        eligible_share=np.round(
            np.divide(o.eligible, o.gross, out=np.zeros(n), where=o.gross > 0), 4
        ),
        unknown_m2=m2(o.unknown),
    )


def _site_table(
    candidates: gpd.GeoDataFrame,
    cands: list[_Cand],
    p: dict[str, Any],
    o: _Outcome,
    tech: str,
    clause_of: dict[str, str],
    places: dict[str, npt.NDArray[np.object_]] | None,
) -> pd.DataFrame:
    """Step 6: one row per candidate."""
    out = _site_columns(candidates, cands, p, o, tech, places)
    out["parts"] = [0 if c.rem.is_empty else len(shapely.get_parts(c.rem)) for c in cands]
    classes = p["terrain"].params["classes"] if p["terrain"] else []
    if "slope" in o.comp:
        out["slope_mean_deg"] = np.round(o.stats.slope_mean, 2)
        for j, cl in enumerate(classes):
            out[f"terrain_{cl['name']}_share"] = np.round(o.stats.class_share[:, j], 4)
    for name, m in o.stats.res_mean.items():
        out[f"{name}_mean"] = np.round(m, 3)
    if o.grid_given:
        out["grid_distance_m"] = np.round(o.grid_d, 0)
    if o.stats.resolution:  # the resolution each raster criterion was applied at, on every row
        out["raster_resolution_m"] = "; ".join(f"{k} {v:g}" for k, v in o.stats.resolution.items())
    out["capacity_mw"] = np.round(o.capacity, 2)
    if o.stats.resolution:
        out["unknown_capacity_mw"] = np.round(o.unknown_mw, 2)
    if tech == "wind":
        out["turbines"] = np.array([len(t) for t in o.turbines], dtype=np.int64)
    for k_ in ("resource", "slope", "grid", "status"):
        if k_ in o.comp:
            out[f"score_{k_}"] = np.round(o.comp[k_], 3)
    out["score"] = o.score
    out["eligible"] = o.eligible > 0
    rem = o.removed
    out["main_reason"] = [
        o.reasons[int(np.argmax(rem[i]))] if rem[i].sum() > 0 else "" for i in range(len(cands))
    ]
    first = p["candidates"].clauses
    out["clauses"] = [
        "; ".join(
            dict.fromkeys(
                [first]
                + [
                    clause_of[r]
                    for j, r in enumerate(o.reasons)
                    if rem[i, j] > 0 and r in clause_of
                ]
            )
        )
        for i in range(len(cands))
    ]
    if "source_row" in candidates:
        out["source_row"] = candidates["source_row"].to_numpy()
    return _own_columns(out, candidates)


def _own_columns(out: pd.DataFrame, candidates: gpd.GeoDataFrame) -> pd.DataFrame:
    """The candidates' own columns (权属单位, 面积（亩）, 备注 ...) after the screen's, as the
    firm screen keeps a firm list's; one named like a column of the screen as ``NAME_input``."""
    own = [c for c in candidates.columns if c != candidates.geometry.name and c not in out]
    own += [c for c in candidates.columns if c in out and c not in _SCREEN_INPUTS]
    if not own:
        return out
    extra = {(c if c not in out else f"{c}_input"): candidates[c].to_numpy() for c in own}
    return pd.concat([out, pd.DataFrame(extra, index=out.index)], axis=1)


#: Candidate columns the sites table carries as the screen read them.
_SCREEN_INPUTS = frozenset(
    ("site_id", "kind", "name", "status", "settled", "closure_year", "former_industry",
     "source_row")
)  # fmt: skip


def _side_frames(
    ids: npt.NDArray[np.object_], cands: list[_Cand], o: _Outcome, cap: Rule, crs: CRS
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Step 6b: the removed pieces (with ellipsoidal areas) and the turbines, for maps."""
    rows = [(ids[i], reason, g) for i, c in enumerate(cands) for reason, g in c.pieces]
    geoms = np.array([g for _, _, g in rows], dtype=object)
    removed = gpd.GeoDataFrame(
        {
            "site_id": [r[0] for r in rows],
            "reason": [r[1] for r in rows],
            "area_m2": np.round(ellipsoidal_area(geoms, crs), 1),
        },
        geometry=geoms,
        crs=crs,
    )
    spots = [(ids[i], j + 1, x, y) for i, t in enumerate(o.turbines) for j, (x, y) in enumerate(t)]
    tf = pd.DataFrame(spots, columns=["site_id", "turbine", "x", "y"]).astype({"turbine": "int64"})
    turbines = gpd.GeoDataFrame(
        tf[["site_id", "turbine"]].assign(rated_mw=float(cap.params.get("turbine_mw", 0.0))),
        geometry=shapely.points(tf["x"].to_numpy(float), tf["y"].to_numpy(float)),
        crs=crs,
    )
    return removed, turbines


def _meta(
    tech: str,
    year: int,
    p: dict[str, Any],
    o: _Outcome,
    exclusions: list[Exclusion],
    not_assessed: Sequence[Mapping[str, str]],
    weights: dict[str, float],
) -> dict[str, Any]:
    """Step 6c: what the screen did, for JSON and the printed summary."""
    cap: Rule = p["capacity"]
    return {
        "tech": tech,
        "as_of_year": year,
        "capacity_rule": cap.id,
        "capacity": {k: v for k, v in cap.params.items() if k not in ("zh", "en")},
        "min_area_m2": float(cap.params.get("min_area_m2", 0)),
        "raster_resolution_m": o.stats.resolution,
        "reasons": o.reasons,
        "labels": {ex.reason: (ex.label_zh, ex.label_en) for ex in exclusions},
        "exclusions": [
            {
                "reason": ex.reason,
                "rule": ex.rule_id,
                "layer": ex.layer,
                "setback_m": ex.setback_m,
                "features": len(ex.features),
                "clause": ex.clause,
                "source": ex.source,
            }
            for ex in exclusions
        ],
        "not_assessed": [dict(m) for m in not_assessed],
        "score_weights": weights,
    }


def _unknown_parts(
    cands: list[_Cand], rasters: list[RasterCriterion], crs: CRS
) -> tuple[dict[str, npt.NDArray[np.object_]], npt.NDArray[np.object_], npt.NDArray[np.float64]]:
    """Per raster, the eligible land of each candidate it did not assess; over all rasters,
    that land and its ellipsoidal area."""
    per: dict[str, npt.NDArray[np.object_]] = {}
    empty = shapely.Polygon()
    for r in rasters:
        per[r.name] = np.array(
            [
                shapely.intersection(c.rem, shapely.union_all(c.unknown[r.name]))
                if c.unknown.get(r.name) and not c.rem.is_empty
                else empty
                for c in cands
            ],
            dtype=object,
        )
    if per:
        stacked = np.column_stack(list(per.values()))
        union = shapely.union_all(stacked, axis=1)
    else:
        union = np.full(len(cands), empty, dtype=object)
    return per, np.asarray(union, dtype=object), ellipsoidal_area(union, crs)


def screen_sites(
    candidates: gpd.GeoDataFrame,
    exclusions: Sequence[Exclusion] | Mapping[str, gpd.GeoDataFrame],
    rules: RuleSet,
    *,
    tech: str = "pv",
    rasters: Sequence[RasterCriterion] = (),
    grid: gpd.GeoDataFrame | None = None,
    admin: gpd.GeoDataFrame | None = None,
    not_assessed: Sequence[Mapping[str, str]] = (),
    as_of_year: int | None = None,
    threads: int | None = None,
) -> SitingResult:
    """The eligible part of every candidate for ``tech`` (``"pv"`` or ``"wind"``).

    Parameters
    ----------
    candidates : GeoDataFrame
        Role ``candidates`` (``site_id``, ``kind``; optional ``name``, ``status``,
        ``settled``, ``closure_year``), polygons in a projected, conformal working CRS.
    exclusions : sequence of Exclusion, or mapping reason -> GeoDataFrame
        Applied in order; the per-reason areas are booked in this order. Features in another
        CRS are brought to the candidates'.
    rules : RuleSet
        The siting rules (candidates, terrain, capacity, score): ``sxzones.load_rules()``.
    tech : {"pv", "wind"}
    rasters : sequence of RasterCriterion
        ``slope`` (a DEM, threshold from the terrain rule unless given) and ``minimum``
        criteria (resource rasters), each an opened rasterio dataset or an array with its
        transform and CRS.
    grid : GeoDataFrame, optional
        Grid features (substations or lines) for the score's distance component.
    admin : GeoDataFrame, optional
        Administrative boundaries, for the city and county of each candidate.
    not_assessed : sequence of mapping
        Exclusions that could not be applied (no layer), reported in ``meta``.
    as_of_year : int, optional
        Year for "years since landfill closure" (default: the score rule's ``as_of_year``).
    threads : int, optional
        Worker threads for the raster criteria (default: the machine's cores, at most 4);
        each reads through its own dataset handles. The results do not depend on it.

    Returns
    -------
    SitingResult
        ``sites`` (a GeoDataFrame, one row per candidate in order), ``removed``, ``turbines``,
        ``unassessed``, ``meta`` and ``summary`` (totals over the union of the candidates).
    """
    crs = _checked_inputs(candidates, rules, rasters, grid, admin)
    check_type(threads, "threads", Integral, where="screen_sites", optional=True, what="an integer")
    excl = _checked_exclusions(exclusions)
    if not isinstance(tech, str):
        raise TypeError(f"screen_sites: tech must be a str ('pv' or 'wind'), not {tech!r}")
    p = _rule_params(rules, tech)
    sp = dict(p["score"].params) if p["score"] else {}
    rs = [_with_limit(r, p["terrain"], tech) for r in rasters]
    year = int(as_of_year or sp.get("as_of_year", 2026))
    geoms = candidates.geometry.to_numpy()
    places, first = _first_cuts(candidates, year, admin, rules, crs)
    reasons = [ex.reason for ex in excl] + [r.name for r in rs] + ["too_small"]
    # The plan's own cuts are booked whether or not they removed land: the outputs keep
    # their columns (removed_not_closed_m2, removed_outside_plan_m2: 0) whatever the data.
    reasons = list(first) + reasons
    if len(set(reasons)) < len(reasons):
        raise RulesError(f"reasons {reasons} repeat one; give each exclusion and raster once")
    run = _Run(crs, p, tech, year, sp, excl, rs, reasons, rules.jurisdiction or ("", "", ""))
    kk = point_scale(shapely.point_on_surface(geoms), crs)
    cands = [_Cand(geoms[i], float(kk[i]), geoms[i]) for i in range(len(geoms))]
    for reason, land in first.items():  # 0. not candidate land under the plan
        for j in np.flatnonzero(~shapely.is_missing(land)).tolist():
            cands[j].cut(reason, land[j])
    for i, ex in enumerate(excl):  # 1. vector exclusions, in order
        _cut_exclusions(
            cands, geoms, ex, lambda e, i=i: _buffered(e, e.geoms(crs, f"exclusions[{i}]"), crs)
        )
    classes = p["terrain"].params["classes"] if p["terrain"] else []
    ids = candidates["site_id"].astype(str).to_numpy()
    min_area = float(p["capacity"].params.get("min_area_m2", 0))
    n_threads = max(1, int(threads or min(4, os.cpu_count() or 1)))
    stats = _raster_pass(cands, rs, crs, classes, min_area, ids, n_threads)
    grid_ = _in_crs(grid, crs) if grid is not None else None
    return _results(candidates, cands, stats, run, grid_, places, not_assessed)


def _first_cuts(
    candidates: gpd.GeoDataFrame,
    year: int,
    admin: gpd.GeoDataFrame | None,
    rules: RuleSet,
    crs: CRS,
) -> tuple[dict[str, npt.NDArray[np.object_]] | None, dict[str, npt.NDArray[np.object_]]]:
    """Each candidate's city, county and adcode (:func:`_places`), and per reason the land
    that is not candidate land under the plan, cut before the exclusions (per candidate, None
    where none): landfills not closed yet whole, the land outside the jurisdiction."""
    geoms = candidates.geometry.to_numpy()
    places, away = _places(geoms, _in_crs(admin, crs) if admin is not None else None, rules, crs)
    whole, open_ = np.full(len(geoms), None, dtype=object), _not_yet_closed(candidates, year)
    whole[open_] = geoms[open_]
    return places, {NOT_CLOSED: whole, OUTSIDE: away}


#: The reason of a "closed" landfill whose closure year is after the as-of year.
NOT_CLOSED = "not_closed"


def _not_yet_closed(candidates: gpd.GeoDataFrame, year: int) -> npt.NDArray[np.bool_]:
    """Closed landfills (clause 十五: 已封场) whose closure year is after ``year``: not closed
    yet, so not candidate land under the clause as of that year."""
    if "closure_year" not in candidates:
        return np.zeros(len(candidates), dtype=bool)
    closure = pd.to_numeric(candidates["closure_year"], errors="coerce").to_numpy(dtype=float)
    kinds = candidates["kind"].astype(str).to_numpy()
    return (kinds == "closed_landfill") & (np.nan_to_num(closure, nan=-np.inf) > year)


#: The reason of a candidate outside the rules' jurisdiction (the plan does not apply).
OUTSIDE = "outside_plan"


def _places(
    geoms: npt.NDArray[np.object_], admin: gpd.GeoDataFrame | None, rules: RuleSet, crs: CRS
) -> tuple[dict[str, npt.NDArray[np.object_]] | None, npt.NDArray[np.object_]]:
    """Each candidate's city, county and adcode (blank outside every county; a candidate
    over several counties: each of them, ``;``-joined, the largest share first), and its
    land outside the rules' jurisdiction (:func:`_outside`); (None, no land) without an
    admin layer."""
    none = np.full(len(geoms), None, dtype=object)
    if admin is None or not len(admin):
        return None, none
    table = county_table(admin)
    counties = admin[admin["level"] == "county"].geometry.to_numpy()
    out_rows = np.append(rules.outside(table["adcode"][:-1]), False)  # last row: no county
    parea = ellipsoidal_area(geoms, crs)
    cov = county_cover(geoms, parea, admin, TargetIndex.of(counties), table, out_rows, crs)
    places = {"city": cov.city, "county": cov.county, "adcode": cov.adcode}
    return places, _outside(geoms, cov)


def _outside(geoms: npt.NDArray[np.object_], cov: Coverage) -> npt.NDArray[np.object_]:
    """Per candidate, its land outside the rules' jurisdiction (another province's land
    within reach of the admin layer), where the plan, clause 十五 with it, does not apply:
    the whole candidate when all of it but at most a sliver lies there; the counties outside
    that it reaches into when more than a sliver lies on each side of the border (cut there,
    as an exclusion is cut); None when at most a sliver lies outside. Land outside every
    county is not judged."""
    out = np.full(len(geoms), None, dtype=object)
    out[cov.partial] = cov.outside_geoms[cov.partial]
    out[cov.away] = geoms[cov.away]
    return out


def late_warnings(sites: pd.DataFrame, meta: Mapping[str, Any]) -> list[str]:
    """The warnings made from the sites table and ``meta`` (so that tiles screened apart and
    joined get the same ones): landfills not closed yet, candidates outside the plan's
    jurisdiction, what each raster's reading noted, and minimums no cell read reaches."""
    ids = sites["site_id"].astype(str).to_numpy()
    out = []
    for reason in (NOT_CLOSED, OUTSIDE):
        col = f"removed_{reason}_m2"
        m2 = sites[col].to_numpy(dtype=float) if col in sites else np.zeros(0)
        whole = (m2 > 0) & (m2 >= sites["candidate_m2"].to_numpy(dtype=float)[: len(m2)])
        for hit in (whole, (m2 > 0) & ~whole):  # removed whole; in part (at the border)
            if hit.any():
                shown = ", ".join(ids[hit][:5]) + (" ..." if hit.sum() > 5 else "")
                text = _reason_warning(reason, int(hit.sum()), shown, meta)
                out.append(text if hit is whole else _part_warning(shown, hit, m2, meta))
    for c in meta.get("raster_checks", {}).values():
        out += c["notes"]
        top = c["max_read"]
        if c["kind"] == "minimum" and top is not None and top < c["threshold"]:
            out.append(
                f"{c['raster']}: no cell read over the candidates reaches the minimum "
                f"{c['threshold']:g} (the largest is {top:g}), so all the land it assessed "
                "was removed: check the raster's unit against the minimum's"
            )
    return out


def joined_layout(
    parts: Sequence[SitingResult],
) -> tuple[list[str], list[str], dict[str, dict[str, Any]]]:
    """For tiles of candidates screened apart (:func:`sxzones.dask_engine.join_site_tiles`):
    the reasons in the order one screen of them all books them (the whole-parcel reasons
    some tile met, then the others), the sites table's columns in that order, and the
    raster checks over all tiles (notes once, the largest value read of any tile)."""
    whole = [r for r in (NOT_CLOSED, OUTSIDE) if any(r in p.meta["reasons"] for p in parts)]
    reasons = whole + [r for r in parts[0].meta["reasons"] if r not in (NOT_CLOSED, OUTSIDE)]
    removed = [f"removed_{r}_m2" for r in reasons]
    cols = [c for c in parts[0].sites.columns if not (c.startswith("removed_") and c in
            {f"removed_{r}_m2" for r in (*reasons, NOT_CLOSED, OUTSIDE)})]  # fmt: skip
    at = cols.index("candidate_m2") + 1
    checks: dict[str, dict[str, Any]] = {}
    for p in parts:
        for name, c in p.meta.get("raster_checks", {}).items():
            have = checks.setdefault(name, {**c, "notes": []})
            have["notes"] += [n for n in c["notes"] if n not in have["notes"]]
            tops = [t for t in (have["max_read"], c["max_read"]) if t is not None]
            have["max_read"] = max(tops) if tops else None
    return reasons, cols[:at] + removed + cols[at:], checks


def _reason_warning(reason: str, n: int, shown: str, meta: Mapping[str, Any]) -> str:
    """The warning for ``n`` candidates (``shown``) removed whole as ``reason``."""
    if reason == NOT_CLOSED:
        return (
            f"{n} closed landfill(s) ({shown}) have a closure year after {meta['as_of_year']} "
            "(the as-of year): not closed yet, so not candidate land under clause 十五 "
            f"(已封场); not eligible, reason {NOT_CLOSED}. If the year is a typo, correct it; "
            "if the landfill has closed since, raise as_of_year in the rules' siting_score rule"
        )
    zh, en = meta["jurisdiction"]["zh"], meta["jurisdiction"]["en"]
    return (
        f"{n} candidate(s) ({shown}) lie outside {en} ({zh}), where the plan applies "
        f"(不在{zh}，本方案不适用): clause 十五 does not make them candidate land; not "
        f"eligible, reason {OUTSIDE}"
    )


def _part_warning(
    shown: str, hit: npt.NDArray[np.bool_], m2: npt.NDArray[np.float64], meta: Mapping[str, Any]
) -> str:
    """The warning for the candidates (``shown``) cut at the jurisdiction's border."""
    zh, en = meta["jurisdiction"]["zh"], meta["jurisdiction"]["en"]
    return (
        f"{int(hit.sum())} candidate(s) ({shown}) lie partly outside {en} ({zh}), where the "
        f"plan applies ({m2[hit].sum() / 1e6:.2f} km² in all; 在{zh}以外的部分本方案不适用): "
        f"clause 十五 does not make that land candidate land; it is removed, reason {OUTSIDE}, "
        "and the rest screened"
    )


@dataclass
class _Run:
    """What a screen was asked: working CRS, rules' parameters, technology, year, score
    parameters, exclusions, raster criteria and the reasons in booking order."""

    crs: CRS
    p: dict[str, Any]
    tech: str
    year: int
    sp: dict[str, Any]
    excl: list[Exclusion]
    rasters: list[RasterCriterion]
    reasons: list[str]
    jurisdiction: tuple[str, str, str] = ("", "", "")


def _results(
    candidates: gpd.GeoDataFrame,
    cands: list[_Cand],
    stats: _Stats,
    run: _Run,
    grid: gpd.GeoDataFrame | None,
    places: dict[str, npt.NDArray[np.object_]] | None,
    not_assessed: Sequence[Mapping[str, str]],
) -> SitingResult:
    """Steps 4-6: areas, capacity, score, totals over the union, tables."""
    crs, cap, tech, rs = run.crs, run.p["capacity"], run.tech, run.rasters
    gross, eligible, removed = _removed_by_reason(cands, run.reasons, crs)
    capacity, turbines = _capacity(cands, eligible, tech, cap, crs)
    comp, grid_d, weights = _scores(candidates, cands, stats, rs, grid, run.sp, run.year)
    per_raster, unknown_geoms, unknown = _unknown_parts(cands, rs, crs)
    ids = candidates["site_id"].astype(str).to_numpy()
    totals = union_totals(
        ids,
        cands_geoms=candidates.geometry.to_numpy(),
        eligible_geoms=np.array([c.rem for c in cands], dtype=object),
        capacity=capacity,
        turbines=turbines,
        unknown=per_raster,
        unknown_all=unknown_geoms,
        labels={r.name: r.label for r in rs},
        tech=tech,
        cap=cap.params,
        crs=crs,
    )
    o = _Outcome(
        run.reasons,
        gross,
        eligible,
        removed,
        unknown,
        capacity_on(unknown_geoms, unknown, turbines, tech, cap.params),
        capacity,
        turbines,
        stats,
        comp,
        grid_d,
        _weighted(comp, weights, eligible),
        grid is not None,
    )
    clause_of = {ex.reason: ex.clause for ex in run.excl} | {"too_small": cap.clauses}
    clause_of[NOT_CLOSED] = run.p["candidates"].clauses
    if run.p["terrain"] is not None:
        clause_of |= {r.name: run.p["terrain"].clauses for r in rs if r.kind == "slope"}
    table = _site_table(candidates, cands, run.p, o, tech, clause_of, places)
    rem = np.array([c.rem for c in cands], dtype=object)
    removed_frame, turbine_frame = _side_frames(ids, cands, o, cap, crs)
    meta = _meta(tech, run.year, run.p, o, run.excl, not_assessed, weights) | {
        "raster_criteria": [_criterion(r) for r in rs],
        "totals": totals,
    }
    # the rules file's own table, as site_check.json's rules.jurisdiction is
    keys = ("adcode_prefix", "zh", "en")
    meta["jurisdiction"] = (
        dict(zip(keys, run.jurisdiction, strict=True)) if run.jurisdiction[0] else None
    )
    meta["raster_checks"] = {r.name: r.record() for r in rs}
    totals["warnings"] += late_warnings(table, meta)
    return SitingResult(
        gpd.GeoDataFrame(table, geometry=rem, crs=crs),
        removed_frame,
        turbine_frame,
        meta,
        unassessed_frame(ids, per_raster, crs),
    )
