"""The reviewers' site check: a proposed project against control units, red lines and zones.

For each project (a point or a parcel, with an industry and a kind), :func:`check_sites` finds
every control unit, red line and zone it touches, with the overlap area on the ellipsoid; the
exact distance to the nearest red line and built-up area; the city and county; and every
site rule of the rules file that fires, with its clause. The verdict is the most severe of
the fired rules (``conflict`` > ``conditional`` > ``clear``).

Method:

* one bulk ``STRtree.query(predicate="intersects")`` per layer gives the touching pairs;
  a prepared ``covers`` test finds the pairs where the unit holds the whole parcel (most
  small parcels), whose overlap is the parcel itself; only the others are intersected.
* areas are ellipsoidal: the integral of ``1 / k²`` over each polygon, edge by edge
  (:func:`sxzones.geodesy.ellipsoidal_area`), within 1e-6 of ``pyproj.Geod`` for parcels
  100 km long, so the same parcel given in any CRS gets the same area.
* distances come from :func:`sxzones.analyses.nearest.nearest_geodesic` (exact on the
  ellipsoid, like the firm screen).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from geopandas.array import from_shapely
from pyproj import CRS

from sxzones._util import gc_paused
from sxzones.analyses.counties import Coverage, county_cover
from sxzones.analyses.firm_zones import (
    resolve_industries_noted,
    written_distance,
    zone_label,
)
from sxzones.analyses.nearest import (
    CHUNK,
    GRID_POINTS,
    KERNEL_INPUTS,
    TargetIndex,
    county_table,
    held_by,
    kernels_loaded,
    nearest_geodesic,
    prepared_copy,
    segments_of,
    warm_up,
)
from sxzones.errors import CRSError, LayerError
from sxzones.geodesy import ellipsoidal_area
from sxzones.rules import UNASSESSED, VERDICTS, Rule, RuleSet
from sxzones.vocab import split_ids

if TYPE_CHECKING:
    from sxzones.layers.validate import LayerReport

__all__ = ["SiteCheckResult", "SiteLayers", "check_sites", "ellipsoidal_area"]

#: Fields of each layer role that the findings report.
FIELDS = {
    "control_units": [
        "unit_code",
        "unit_name",
        "unit_type",
        "admission_spatial",
        "admission_emission",
        "admission_risk",
        "admission_resource",
    ],
    "redline": ["redline_id", "name", "category"],
    "zones": ["zone_id", "name", "zone"],
    "builtup": ["area_id", "name", "kind"],
}


#: Roles whose overlap area is reported; the others only need to know what is touched.
AREA_ROLES = ("control_units", "redline")
#: Roles whose units partition the land: from :data:`~sxzones.analyses.nearest.GRID_POINTS`
#: projects, those in cells of the units' grid wholly within one unit are paired with it
#: without a test (:func:`~sxzones.analyses.nearest.held_by`).
HELD_ROLES = ("control_units",)


def factorized(layers: SiteLayers, role: str, col: str) -> tuple[npt.NDArray[np.int64], pd.Index]:
    """Codes and categories of a layer column, computed once and kept by the
    :class:`SiteLayers` (never in ``DataFrame.attrs``, which pandas copies to every subset
    of the frame: a subset would read its parent's codes)."""
    key = f"factorized:{role}:{col}"
    if key not in layers._cache:
        codes, cats = pd.factorize(layers.frames[role][col])
        layers._cache[key] = (np.asarray(codes, dtype=np.int64), pd.Index(cats))
    return layers._cache[key]  # type: ignore[no-any-return]


def _category_dtypes(layers: SiteLayers, role: str) -> dict[str, pd.CategoricalDtype]:
    """The categorical dtype of each reported column of a layer (its factorised values),
    made once and kept by the :class:`SiteLayers`."""
    key = f"dtypes:{role}"
    if key not in layers._cache:
        cols = [c for c in FIELDS.get(role, []) if c in layers.frames[role].columns]
        layers._cache[key] = {c: pd.CategoricalDtype(factorized(layers, role, c)[1]) for c in cols}
    return layers._cache[key]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class SiteLayers:
    """The layers a site check reads, by role (``control_units``, ``redline``, ``builtup``,
    ``zones``, ``admin``), all in one projected working CRS, with where each came from."""

    frames: dict[str, gpd.GeoDataFrame]
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: each role's layer as read (file, rows, provenance): the manifest's inputs
    reports: dict[str, LayerReport] = field(default_factory=dict, repr=False, compare=False)
    _indexes: dict[str, TargetIndex] = field(default_factory=dict, repr=False, compare=False)
    _workers: list[SiteLayers] = field(default_factory=list, repr=False, compare=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def workers(self, k: int) -> list[SiteLayers]:
        """``k`` clones sharing the frames, each with indexes of its own (built on first use
        by the thread that uses it), kept for later calls. A clone must be used by one thread
        at a time: GEOS prepared geometries are not thread-safe (libgeos/geos#825)."""
        while len(self._workers) < k:
            self._workers.append(SiteLayers(self.frames, self.sources))
        return self._workers[:k]

    def index(self, role: str) -> TargetIndex:
        """The layer's spatial index, built on first use and kept (``counties``: the county
        rows of the admin layer). Use from one thread; workers prepare their own copies."""
        if role not in self._indexes:
            frame = self.frames["admin"] if role == "counties" else self.frames[role]
            if role == "counties":
                frame = frame[frame["level"] == "county"]
            self._indexes[role] = TargetIndex.of(frame.geometry.to_numpy())
        return self._indexes[role]

    def warm(self) -> None:
        """Build now what a check builds on first use (for a server's threads, before the
        first request): each role's spatial index with its prepared geometries and boundary
        segments, the counties' table, the reported columns factorised."""
        roles = [r for r in ("control_units", "redline", "zones", "builtup") if r in self.frames]
        for role in [*roles, *(["counties"] if "admin" in self.frames else [])]:
            idx = self.index(role)
            idx.prepared  # noqa: B018 - built on first use
            if role in ("redline", "builtup"):  # the distances' targets
                idx.segments  # noqa: B018
        if "admin" in self.frames:
            self.county_table()
        for role in roles:
            _category_dtypes(self, role)  # and the columns factorised
        if "redline" in self.frames:
            _area_names(self, "redline")
        self.crs()

    def county_table(self) -> dict[str, npt.NDArray[np.object_]]:
        """The counties' adcodes and names (:func:`~sxzones.analyses.nearest.county_table`
        of the admin layer), made once and kept."""
        if "county_table" not in self._cache:
            self._cache["county_table"] = county_table(self.frames["admin"])
        return self._cache["county_table"]  # type: ignore[no-any-return]

    def crs(self) -> CRS:
        """The layers' one projected CRS (checked once, then kept)."""
        if "crs" not in self._cache:
            self._cache["crs"] = self._crs()
        return self._cache["crs"]  # type: ignore[no-any-return]

    def _crs(self) -> CRS:
        crss = {
            CRS.from_user_input(f.crs).to_wkt() for f in self.frames.values() if f.crs is not None
        }
        if len(crss) != 1 or any(f.crs is None for f in self.frames.values()):
            names = {r: (f.crs.name if f.crs else None) for r, f in self.frames.items()}
            raise CRSError(
                f"site layers must share one CRS; got {names}. Fix: load them "
                "through one catalogue (sxzones.layers.load)"
            )
        crs = CRS.from_wkt(crss.pop())
        if crs.is_geographic:
            raise CRSError(f"{crs.name} is geographic: use a projected working CRS")
        return crs


@dataclass
class SiteCheckResult:
    """One row per project (``table``), and the pairs behind it for the detailed findings."""

    table: gpd.GeoDataFrame
    pairs: dict[str, pd.DataFrame]
    layers: SiteLayers
    rules: RuleSet

    def details(self) -> list[dict[str, Any]]:
        """Per project: every finding, as plain data (for JSON and the reports).

        Built column by column (a list of Python values per column, never a record per row
        through pandas: 100,000 projects took 17 s that way), in one pass over the projects
        and one over each role's pairs; the garbage collector paused (the dicts and lists
        hold no cycles; collections over every object alive took most of the time)."""
        with gc_paused():
            return self._details()

    def _details(self) -> list[dict[str, Any]]:
        n = len(self.table)
        found = {
            role: _found(self.pairs.get(role), n) for role in ("control_units", "redline", "zones")
        }
        rule_text = {
            r.id: {"id": r.id, "clause": r.clauses, "verdict": r.verdict, "zh": r.zh, "en": r.en}
            for r in self.rules.rules
        }
        admission = [c for c in FIELDS["control_units"] if c.startswith("admission")]
        t = self.table

        def col(name: str, default: Any = "") -> list[Any]:
            return t[name].tolist() if name in t.columns or default is None else [default] * n

        names = ["project_id", "industry_id", "kind", "verdict", "area_m2", "nearest_redline_m"]
        names += ["builtup_zone", "builtup_distance_m", "nearest_builtup", "rule_ids"]
        optional = ["city", "county", "geometry_note", "unassessed_reason", "nearest_redline"]
        columns = [col(c, None) for c in names] + [col(c) for c in optional]
        for k in (4, 5, 7):  # area_m2, nearest_redline_m, builtup_distance_m
            if t[names[k]].dtype == np.float64:
                columns[k] = _plain_column(t[names[k]])  # = _num of each, a column at a time
            else:
                columns[k] = [_num(v) for v in columns[k]]
        out = []
        for values in zip(*columns, *found.values(), strict=True):
            pid, ind, kind, verdict, area, red, zone, bdist, bnear, rids = values[:10]
            city, county, note, why, red_name, units, reds, zones = values[10:]
            out.append(
                {
                    "project_id": str(pid),
                    "industry": ind,
                    "kind": kind,
                    "verdict": verdict,
                    "city": city,
                    "county": county,
                    "area_m2": area,
                    "nearest_redline_m": red,
                    "nearest_redline": red_name,
                    "builtup": {"zone": zone, "distance_m": bdist, "nearest": bnear},
                    "geometry_note": note,
                    "unassessed_reason": why,
                    "control_units": units,
                    "redline": reds,
                    "zones": zones,
                    "rules": [dict(rule_text[x]) for x in str(rids).split(";") if x],
                    "admission_lists": [
                        {"unit_code": u["unit_code"], **{k: u.get(k, "") for k in admission}}
                        for u in units
                    ],
                }
            )
        return out


def _found(p: pd.DataFrame | None, n: int) -> list[list[dict[str, Any]]]:
    """Per project, its pairs of one role as plain records (the fields the role reports, with
    the overlap), in pair order."""
    lists: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    if p is None or not len(p):
        return lists
    cols = [c for c in p.columns if c not in ("project", "layer_row")]
    values = [_plain_column(p[c]) for c in cols]
    for proj, *vals in zip(p["project"].tolist(), *values, strict=True):
        lists[proj].append(dict(zip(cols, vals, strict=True)))
    return lists


def _plain_column(s: pd.Series) -> list[Any]:
    """``[_plain(v) for v in s]``, a category or a float column at a time."""
    if isinstance(s.dtype, pd.CategoricalDtype):  # each category once; code -1 (missing): None
        codes, categories = s.array.codes, s.array.categories
        if len(codes) < len(categories):  # a few projects' pairs: the categories they hold
            return [None if c < 0 else _plain(categories[c]) for c in codes.tolist()]
        cats = np.array([_plain(v) for v in categories.tolist()] + [None], dtype=object)
        return cats[codes].tolist()  # type: ignore[no-any-return]
    if s.dtype == np.float64:
        a = s.to_numpy()
        out: list[Any] = [round(v, 2) for v in a.tolist()]
        for k in np.flatnonzero(~np.isfinite(a)).tolist():
            out[k] = None
        return out
    return [_plain(v) for v in s.tolist()]


def _num(v: Any) -> float | None:
    return (
        None if v is None or (isinstance(v, float) and not math.isfinite(v)) else round(float(v), 2)
    )


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return round(v, 2) if math.isfinite(v) else None
    return v


def _overlap_areas(
    pg: npt.NDArray[np.object_],
    parea: npt.NDArray[np.float64],
    crs: CRS,
    tree: shapely.STRtree,
    lg: npt.NDArray[np.object_],
    prepared_at: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.object_]],
    with_area: bool = True,
    held: npt.NDArray[np.int64] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Touching pairs (project ``i``, layer row ``j``) and their overlap on the ellipsoid
    (m²; NaN without ``with_area``), in project order. ``prepared_at(j)``: the prepared
    layer geometries at ``j``, this thread's own. ``held``: per project, the layer row that
    holds all of it and touches no other row (:func:`~sxzones.analyses.nearest.held_by`),
    else -1: those projects' one pair is taken without a test, their overlap their area."""
    if held is not None and (held >= 0).any():
        k = np.flatnonzero(held >= 0)
        rest = np.flatnonzero(held < 0)
        ri, rj, ra = _overlap_areas(pg[rest], parea[rest], crs, tree, lg, prepared_at, with_area)
        i = np.concatenate([k, rest[ri]])
        order = np.argsort(i, kind="stable")  # one pair each: the tested order kept
        j = np.concatenate([held[k], rj])
        area = np.concatenate([parea[k] if with_area else np.full(len(k), np.nan), ra])
        return i[order], j[order], area[order]
    i, j = tree.query(pg)  # bounding boxes, then the prepared layer geometry decides
    pre = prepared_at(j)
    touch = shapely.intersects(pre, pg[i]) if len(i) else np.zeros(0, bool)
    i, j, pre = i[touch], j[touch], pre[touch]
    area = np.full(len(i), np.nan)
    if not with_area:
        return i, j, area
    area[:] = 0.0
    poly = shapely.get_type_id(pg[i]) >= 3  # polygons and multipolygons
    if poly.any():
        pi, pj = i[poly], j[poly]
        whole = shapely.covers(pre[poly], pg[pi])  # most parcels: no intersection needed
        a = np.empty(len(pi))
        a[whole] = parea[pi[whole]]
        part = ~whole
        if part.any():
            a[part] = ellipsoidal_area(shapely.intersection(pg[pi[part]], lg[pj[part]]), crs)
        area[poly] = a
    return i, j, area


def _overlaps(
    pg: npt.NDArray[np.object_],
    parea: npt.NDArray[np.float64],
    crs: CRS,
    layers: SiteLayers,
    role: str,
    threads: int,
    share_of: npt.NDArray[np.float64] | None = None,
) -> pd.DataFrame:
    """Pairs (project position, layer row) that touch, with the overlap on the ellipsoid
    (m²) and its share (%) of ``share_of`` (the projects' areas, m²; default ``parea``, the
    areas of ``pg``: a project cut at the jurisdiction's border is ``pg``, its whole parcel
    ``share_of``)."""
    n_chunks = 1 if threads <= 1 else max(1, min(threads * 2, len(pg) // CHUNK))
    with_area = role in AREA_ROLES
    index, layer = layers.index(role), layers.frames[role]
    if n_chunks == 1:
        held = None
        if role in HELD_ROLES and len(pg) >= GRID_POINTS:  # most parcels: within one unit
            held = held_by(pg, np.isin(shapely.get_type_id(pg), (3, 6)) & (parea > 0), index)
        i, j, area = _overlap_areas(
            pg, parea, crs, index.tree, index.geoms, index.prepared_at, with_area, held
        )
    else:

        def work(c: npt.NDArray[np.int64]) -> tuple[npt.NDArray[Any], ...]:
            own = prepared_copy(index.geoms)  # this thread's own
            ci, cj, ca = _overlap_areas(
                pg[c], parea[c], crs, index.tree, index.geoms, own.__getitem__, with_area
            )
            return c[ci], cj, ca

        with ThreadPoolExecutor(max_workers=threads) as pool:
            parts = list(pool.map(work, np.array_split(np.arange(len(pg)), n_chunks)))
        i = np.concatenate([p[0] for p in parts])
        j = np.concatenate([p[1] for p in parts])
        area = np.concatenate([p[2] for p in parts])
    cols = [c for c in FIELDS.get(role, []) if c in layer.columns]
    df: dict[str, Any] = {"project": i, "layer_row": j}  # one frame made at the end
    dtypes = _category_dtypes(layers, role)
    for c in cols:
        codes, _ = factorized(layers, role, c)
        # no string per pair; the categories checked once (_category_dtypes)
        df[c] = pd.Categorical.from_codes(codes[j], dtype=dtypes[c], validate=False)
    if with_area:
        df["overlap_m2"] = np.round(area, 2)
        whole = (parea if share_of is None else share_of)[i]
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = np.where(whole > 0, 100.0 * area / whole, np.nan)
        df["overlap_pct"] = np.round(pct, 3)
    return pd.DataFrame(df, copy=False)  # the arrays are this call's own


def _joined(pairs: pd.DataFrame | None, n: int, col: str) -> npt.NDArray[np.object_]:
    """Per project, the values of ``col`` over its pairs joined with ';' (in pair order; ""
    without pairs, and "" for a missing value: a point's share of no area is blank, as its
    red-line share is, never the text ``nan``). Most projects have one pair: those are taken
    directly, only the rest are joined (a list of blanks only is blank)."""
    out = np.full(n, "", dtype=object)
    if pairs is None or not len(pairs) or col not in pairs:
        return out
    proj = pairs["project"].to_numpy()
    s = pairs[col]
    if isinstance(s.dtype, pd.CategoricalDtype):  # a string per category, not per pair
        codes, categories = s.array.codes, s.array.categories
        if len(codes) < len(categories):  # a few projects' pairs: the categories they hold
            vals = np.array(
                [str(categories[c]) if c >= 0 else "" for c in codes.tolist()], dtype=object
            )
        else:
            cats = np.array([str(v) for v in categories.tolist()] + [""], dtype=object)
            vals = cats[codes]  # code -1 (missing) takes the last: ""
    else:
        vals = np.array(list(map(str, s.tolist())), dtype=object)
        vals[s.isna().to_numpy()] = ""  # not "nan"
    order = np.argsort(proj, kind="stable")
    proj, vals = proj[order], vals[order]
    starts = np.flatnonzero(np.r_[True, proj[1:] != proj[:-1]])
    counts = np.diff(np.r_[starts, len(proj)])
    one = counts == 1
    out[proj[starts[one]]] = vals[starts[one]]
    for st, c in zip(starts[~one], counts[~one], strict=True):
        part = vals[st : st + c]
        out[proj[st]] = ";".join(part) if any(part) else ""
    return out


#: A column of few distinct strings, factorised once: (codes, distinct values).
_Factors = tuple[npt.NDArray[np.intp], Any]


def _in(f: _Factors, allowed: tuple[str, ...]) -> npt.NDArray[np.bool_]:
    """``np.isin`` on a factorised column: only the distinct values are compared."""
    codes, uniques = f
    # a combined works (steel;coking) is in when one of its industries is
    ok = np.array([any(p in allowed for p in split_ids(str(u))) for u in uniques] + [False])
    return ok[codes]  # code -1 (missing) takes the last: False


def _rule_fires(
    rule: Rule,
    industry: _Factors,
    kind: _Factors,
    pairs: dict[str, pd.DataFrame],
    builtup_d: npt.NDArray[np.float64],
    n: int,
) -> npt.NDArray[np.bool_]:
    hit = _in(industry, rule.industries)
    if rule.project_kinds:
        hit &= _in(kind, rule.project_kinds)
    if rule.kind == "site_within_distance":
        return hit & (builtup_d <= (rule.distance_m or 0.0))
    p = pairs.get(rule.layer_role)
    if p is None:
        return np.zeros(n, dtype=bool)
    for k in rule.where:
        if k not in p:
            raise LayerError(f"rule {rule.id}: the {rule.layer_role} layer has no field {k!r}")
    if not hit.any():  # no project of the rule's industries and kinds: its pairs do not matter
        return hit
    sel = np.ones(len(p), dtype=bool)
    for k, v in rule.where.items():
        col = p[k]
        if isinstance(col.dtype, pd.CategoricalDtype):  # compare codes, not strings
            cats = [str(c) for c in col.array.categories.tolist()]
            sel &= col.array.codes == (cats.index(v) if v in cats else -2)
        else:
            sel &= col.astype(str).to_numpy() == v
    if "overlap_m2" in p:  # a parcel only sharing a boundary (0.00 m²) occupies nothing
        pct = p["overlap_pct"].to_numpy(dtype=float)  # NaN: a point, which has no area
        sel &= np.isnan(pct) | (p["overlap_m2"].to_numpy(dtype=float) > 0)
    touched = np.zeros(n, dtype=bool)
    touched[p["project"].to_numpy()[sel]] = True
    return hit & touched


def _unassessed(
    projects: gpd.GeoDataFrame,
    ind_status: npt.NDArray[np.object_],
    kind_status: npt.NDArray[np.object_],
    ind_notes: npt.NDArray[np.object_] | None = None,
) -> npt.NDArray[np.object_]:
    """Per project, why the rules could not be assessed (``""`` when they could): an
    industry or kind missing, or one the rules' vocabulary does not know, or a 行业 and a
    行业代码 naming different industries (``ind_notes``: the note says both)."""
    why = np.full(len(projects), "", dtype=object)  # a few texts set: no pandas per row
    src = "industry" if "industry" in projects else "industry_code"
    for status, col, vocab in (
        (ind_status, src, "industries"),
        (kind_status, "kind", "project_kinds"),
    ):
        if col not in projects:
            status = np.where(status == "recognised", status, "missing")
        odd = np.flatnonzero(status != "recognised").tolist()
        if not odd:
            continue
        vals = projects[col].astype(str).to_numpy() if col in projects else np.full(len(why), "")
        fix = f" (map it under [vocabularies.{vocab}] in the rules file)"
        shown = (projects.attrs.get("sxzones") or {}).get("fields", {}).get(col, col)
        for k in odd:
            text = (
                f"no {shown} given"
                if status[k] == "missing"
                else f"{shown} {vals[k]!r} is not in the rules' vocabulary{fix}"
            )
            if vocab == "industries" and ind_notes is not None and ind_notes[k]:
                text = str(ind_notes[k])  # 行业 and 行业代码 name different industries
            why[k] = f"{why[k]}; {text}" if why[k] else text
    return why


def _uncovered(
    cu: pd.DataFrame | None,
    parea: npt.NDArray[np.float64],
    n: int,
    shown: str,
    assessed: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.object_]:
    """Per project, why the layers do not cover it (``""`` when they do): it touches no
    control unit, or more than 0.1 % (and 1 m²) of the parcel lies outside every unit. The
    control units tile the province, so a place outside them is outside what the layers
    hold (another province, a gap in the layer): not checked, so never "clear". Overlaps are
    summed over the units a parcel touches (units do not overlap each other). ``assessed``:
    the area (m²) of the part checked, where a parcel is cut at the jurisdiction's border
    (default ``parea``); the shares are of the whole parcel."""
    why = np.full(n, "", dtype=object)
    covered = np.zeros(n)
    touched = np.zeros(n, dtype=bool)
    if cu is not None and len(cu):
        at = cu["project"].to_numpy(dtype=np.int64)
        touched[at] = True
        np.add.at(covered, at, np.nan_to_num(cu["overlap_m2"].to_numpy(dtype=float)))
    why[~touched] = f"outside every control unit of {shown}: the layers do not cover it"
    inner = parea if assessed is None else assessed
    outside = np.where(touched & (parea > 0), inner - covered, 0.0)
    for k in np.flatnonzero((outside > 1.0) & (outside > 1e-3 * parea)):
        why[k] = (
            f"{outside[k]:,.0f} m² ({100 * outside[k] / parea[k]:.1f} %) of the parcel lie "
            f"outside every control unit of {shown}: the layers do not cover that part"
        )
    return why


def _site_layers(layers: SiteLayers | Mapping[str, gpd.GeoDataFrame]) -> SiteLayers:
    """``layers`` as :class:`SiteLayers`, checked: a mapping role -> GeoDataFrame is wrapped."""
    if isinstance(layers, SiteLayers):
        return layers
    if not isinstance(layers, Mapping):
        raise TypeError(
            f"check_sites: layers must be SiteLayers or a mapping of role -> GeoDataFrame, "
            f"not {type(layers).__name__}"
        )
    for role, frame in layers.items():
        if not isinstance(frame, gpd.GeoDataFrame):
            raise TypeError(
                f"check_sites: layers[{role!r}] must be a GeoDataFrame, not {type(frame).__name__}"
            )
    missing = [r for r in ("control_units", "redline", "builtup") if r not in layers]
    if missing:
        raise LayerError(
            f"check_sites: layers has no {missing}; a site check needs control units, red lines "
            f"and built-up areas (roles: {list(FIELDS)} and admin)"
        )
    return SiteLayers(dict(layers))


def check_sites(
    projects: gpd.GeoDataFrame,
    layers: SiteLayers | Mapping[str, gpd.GeoDataFrame],
    rules: RuleSet,
    *,
    threads: int | None = None,
) -> SiteCheckResult:
    """Check proposed projects against the zoning layers and the site rules.

    Parameters
    ----------
    projects : GeoDataFrame
        Role ``projects``: ``project_id``, ``industry`` (``steel`` or ``钢铁`` ...), ``kind``
        (``new`` / ``expansion`` / ``capacity_replacement``; default ``new``); points or
        parcels, in the layers' projected working CRS.
    layers : SiteLayers or mapping of role -> GeoDataFrame
        ``control_units``, ``redline``, ``builtup``, ``zones`` and (optional) ``admin``.
        A :class:`SiteLayers` keeps its spatial indexes for later calls.
    rules : RuleSet
        Rules of kinds ``site_overlap`` and ``site_within_distance``
        (:func:`sxzones.rules.load_rules`).
    threads : int, optional
        Worker threads (default: up to 4).

    Returns
    -------
    SiteCheckResult
        ``table``: one row per project, same order: ``verdict``, ``area_m2`` (ellipsoidal),
        ``unit_codes``, ``unit_types``, ``unit_overlap_m2``, ``unit_overlap_pct``,
        ``redline_ids``, ``redline_overlap_m2``, ``redline_overlap_pct``,
        ``nearest_redline_m``, ``builtup_zone``, ``builtup_distance_m``, ``nearest_builtup``,
        ``zone_ids``, ``adcode``, ``county``, ``city`` (every county the project covers,
        the largest share first, ``;``-joined; with an ``admin`` layer), ``rule_ids``,
        ``clauses``, ``unassessed_reason``; ``details()`` gives every finding with the
        admission lists of the touched units. A parcel partly outside the rules'
        jurisdiction is checked on its part inside; its areas and shares are of the whole.
    """
    if not isinstance(projects, gpd.GeoDataFrame):
        raise TypeError(
            f"check_sites: projects must be a GeoDataFrame, not {type(projects).__name__}"
        )
    if not isinstance(rules, RuleSet):
        raise TypeError(
            f"check_sites: rules must be a RuleSet (sxzones.load_rules()), not "
            f"{type(rules).__name__}"
        )
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise TypeError(f"check_sites: threads must be a positive int, not {threads!r}")
    if "project_id" not in projects.columns:
        raise LayerError(
            "check_sites: projects have no 'project_id' column; name one, e.g. "
            "projects.assign(project_id=...)"
        )
    layers = _site_layers(layers)
    threads = threads or min(4, os.cpu_count() or 1)
    n = len(projects)
    with gc_paused():  # many short-lived geometries, no reference cycles
        if threads <= 1 or n < 2 * CHUNK:
            return _check_sites(projects, layers, rules, 1)
        # Large batches: the whole check, chunk by chunk of projects, one worker per clone of
        # the layer indexes (nothing prepared is shared between threads). The chunks are
        # each below the size from which the distances load the compiled kernels, the batch
        # is not: they load now, while the overlaps are measured (without, 100,000 parcels
        # took 4.7 s in the numpy path instead of 1.6 s).
        if n >= KERNEL_INPUTS and not kernels_loaded():
            warm_up()
        chunks = np.array_split(np.arange(n), threads)
        clones = layers.workers(threads)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            parts = list(
                pool.map(
                    lambda kc: _check_sites(projects.iloc[kc[1]], clones[kc[0]], rules, 1),
                    enumerate(chunks),
                )
            )
    return join_chunk_results(parts, chunks, projects.crs, layers, rules)


def join_chunk_results(
    parts: Sequence[SiteCheckResult],
    chunks: Sequence[npt.NDArray[np.int64]],
    crs: Any,
    layers: SiteLayers,
    rules: RuleSet,
) -> SiteCheckResult:
    """One result from the results of consecutive chunks of the projects (``chunks``: each
    chunk's project positions, in order): tables stacked, pair positions shifted back to the
    whole. Used by the worker threads here and by the Dask engine."""
    table = gpd.GeoDataFrame(pd.concat([p.table for p in parts]), crs=crs)
    pairs = {}
    for role in parts[0].pairs:
        frames = []
        for c, p in zip(chunks, parts, strict=True):
            f = p.pairs[role].copy()
            f["project"] = f["project"].to_numpy() + c[0]
            frames.append(f)
        pairs[role] = pd.concat(frames, ignore_index=True)
    return SiteCheckResult(table, pairs, layers, rules)


def _area_names(layers: SiteLayers, role: str) -> npt.NDArray[np.object_]:
    """Each area's id and name (``RL140300 阳泉市山地生态保护区``), as a reviewer names it;
    made once and kept by ``layers`` (a served check reads it per request)."""
    key = f"area_names:{role}"
    if key not in layers._cache:
        layers._cache[key] = _id_and_name(layers.frames[role])
    return layers._cache[key]  # type: ignore[no-any-return]


def _id_and_name(frame: pd.DataFrame) -> npt.NDArray[np.object_]:
    ids = frame["redline_id"].astype(str).to_numpy() if "redline_id" in frame else None
    nm = frame["name"].astype(object).fillna("").astype(str).to_numpy() if "name" in frame else None
    if ids is None and nm is None:
        return np.array([str(i) for i in range(len(frame))], dtype=object)
    if ids is None or nm is None:
        return np.asarray(ids if nm is None else nm, dtype=object)
    return np.array([f"{a} {b}".strip() for a, b in zip(ids, nm, strict=True)], dtype=object)


def _redline_area(
    rl: pd.DataFrame | None, pg: npt.NDArray[np.object_], layers: SiteLayers, crs: CRS, n: int
) -> npt.NDArray[np.float64]:
    """Per project, the area on the ellipsoid that lies in any red line: the pairs' overlaps
    summed, and for a project in two or more red lines the area of the union of their
    overlaps (official red lines overlap one another: a parcel under two came out 150 %
    inside, where it is 100 %)."""
    area = np.zeros(n)
    if rl is None or not len(rl):
        return area
    proj = rl["project"].to_numpy(np.int64)
    np.add.at(area, proj, rl["overlap_m2"].to_numpy(float))
    many = np.flatnonzero(np.bincount(proj, minlength=n) > 1)
    if len(many):
        geoms = layers.index("redline").geoms
        rows = rl["layer_row"].to_numpy(np.int64)
        inside = [
            shapely.intersection(pg[k], shapely.union_all(geoms[rows[proj == k]])) for k in many
        ]
        area[many] = ellipsoidal_area(np.asarray(inside, dtype=object), crs)
    return area


def _distance_columns(
    out: dict[str, Any],
    pg: npt.NDArray[np.object_],
    layers: SiteLayers,
    rules: RuleSet,
    crs: CRS,
    threads: int,
    segs: Any,
) -> npt.NDArray[np.float64]:
    """The distances to the nearest red line and built-up area (on the ellipsoid) and the
    built-up zone, as columns of ``out`` (name -> array, one value per project); returns the
    built-up distances (inf: none)."""
    n = len(pg)
    if "redline" in layers.frames and len(layers.frames["redline"]):
        near = nearest_geodesic(pg, layers.index("redline"), 50_000.0, crs, threads, segs)
        out["nearest_redline_m"] = np.round(near.distance, 2)
        names = _area_names(layers, "redline")
        out["nearest_redline"] = np.where(near.area >= 0, names[np.maximum(near.area, 0)], "")
    else:
        out["nearest_redline_m"] = np.full(n, np.nan)
        out["nearest_redline"] = np.full(n, "", dtype=object)
    dist_rules = [r for r in rules.of_kind("site_within_distance") if r.layer_role == "builtup"]
    d = max((r.distance_m or 0.0 for r in dist_rules), default=20_000.0)
    bu = layers.frames.get("builtup")
    if bu is not None and len(bu):
        nb = nearest_geodesic(
            pg, layers.index("builtup"), max(d, 25_000.0), crs, threads, segs, thresholds=(d,)
        )
        bdist = written_distance(nb.distance)  # zone and rules on the value written (E19)
        out["builtup_zone"] = np.where(
            bdist == 0, "inside", np.where(bdist <= d, zone_label(d), "beyond")
        )
        out["builtup_distance_m"] = bdist
        out["nearest_builtup"] = bu["name" if "name" in bu else "area_id"].to_numpy()[nb.area]
    else:
        bdist = np.full(n, np.inf)
        blank = np.full(n, "", dtype=object)
        out["builtup_zone"], out["builtup_distance_m"], out["nearest_builtup"] = (
            blank,
            np.full(n, np.nan),
            blank,
        )
    return np.asarray(bdist, dtype=np.float64)


def _verdict_columns(
    out: dict[str, Any],
    rules: RuleSet,
    industry: npt.NDArray[np.object_],
    kind: npt.NDArray[np.object_],
    pairs: dict[str, pd.DataFrame],
    bdist: npt.NDArray[np.float64],
) -> None:
    """The verdict, the rules that fired (any number of them) and their clauses, as columns
    of ``out`` (name -> array)."""
    n = len(industry)
    site_rules = rules.of_kind("site_overlap", "site_within_distance")
    severity = np.zeros(n, dtype=np.int64)
    fired = np.zeros((n, len(site_rules)), dtype=bool)  # column k: rule k fired (any number)
    factors = (pd.factorize(industry), pd.factorize(kind))  # once, for every rule
    for k, r in enumerate(site_rules):
        hit = _rule_fires(r, factors[0], factors[1], pairs, bdist, n)
        severity = np.maximum(severity, np.where(hit, VERDICTS.index(r.verdict), 0))
        fired[:, k] = hit
    out["verdict"] = np.array(VERDICTS, dtype=object)[severity]
    combos, which = _distinct_rows(fired)  # few distinct combinations
    sets = [[r for k, r in enumerate(site_rules) if c[k]] for c in combos]
    out["rule_ids"] = np.array([";".join(r.id for r in rs) for rs in sets], dtype=object)[which]
    out["clauses"] = np.array(
        ["; ".join(dict.fromkeys(r.clauses for r in rs)) for rs in sets], dtype=object
    )[which]


def _distinct_rows(
    fired: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """The distinct rows of a boolean matrix and each row's position among them (as
    ``np.unique(fired, axis=0, return_inverse=True)``, the rows in another order): up to 62
    columns, each row packed into one integer first (100,000 rows: 3 ms instead of 0.14 s of
    sorting rows as bytes)."""
    if fired.shape[1] > 62:
        combos, which = np.unique(fired, axis=0, return_inverse=True)
        return combos, np.asarray(which).reshape(-1)
    code = fired.astype(np.int64) @ (np.int64(1) << np.arange(fired.shape[1], dtype=np.int64))
    _, first, which = np.unique(code, return_index=True, return_inverse=True)
    return fired[first], np.asarray(which).reshape(-1)


def _project_columns(
    projects: gpd.GeoDataFrame, rules: RuleSet
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Per project: the industry and kind identifiers of the rules' vocabularies, and why the
    rules could not be assessed (``""`` when they could)."""
    n = len(projects)
    industry, ind_status, ind_notes = resolve_industries_noted(projects, rules.industries)
    kind, kind_status = (
        rules.project_kinds.resolve_many(projects["kind"])
        if "kind" in projects
        else (np.full(n, "new", dtype=object), np.full(n, "recognised", dtype=object))
    )
    # No kind given (no field, or a blank cell): a new project, as documented.
    kind = np.where(kind_status == "missing", "new", kind)
    kind_status = np.where(kind_status == "missing", "recognised", kind_status)
    return industry, kind, _unassessed(projects, ind_status, kind_status, ind_notes)


def _check_sites(
    projects: gpd.GeoDataFrame, layers: SiteLayers, rules: RuleSet, threads: int | None
) -> SiteCheckResult:
    crs, pcrs = layers.crs(), projects.crs
    if pcrs is None or not CRS.from_user_input(pcrs).equals(crs):
        raise CRSError(
            f"projects are in {pcrs.name if pcrs else 'no CRS'} but "
            f"the layers in {crs.name}. Fix: load the projects through sxzones "
            "(they are brought to the working CRS)"
        )
    threads = threads or 1
    n = len(projects)
    pg = projects.geometry.to_numpy()
    parea = ellipsoidal_area(pg, crs)
    industry, kind, unassessed = _project_columns(projects, rules)
    cov = _cover(pg, parea, layers, rules, threads)
    # A project partly outside the jurisdiction is assessed on its part inside (the areas
    # and shares reported stay those of the whole parcel).
    ev, earea = pg, parea
    if cov is not None and cov.partial.any():
        ev = cov.inside(pg)
        earea = parea.copy()
        earea[cov.partial] = ellipsoidal_area(ev[cov.partial], crs)
    pairs: dict[str, pd.DataFrame] = {
        role: _overlaps(ev, earea, crs, layers, role, threads, share_of=parea)
        for role in ("control_units", "redline", "zones", "builtup")
        if role in layers.frames
    }
    # The columns in a dict, made into one frame at the end: a column set on a frame costs
    # about 0.1 ms of pandas whatever the rows, most of a single project's check.
    out: dict[str, Any] = {}
    out["project_id"] = projects["project_id"].astype(str).to_numpy()
    out["industry_id"] = industry
    out["kind"] = kind
    out["area_m2"] = np.round(parea, 2)
    cu = pairs.get("control_units")
    shown = str(layers.frames["control_units"].attrs.get("sxzones", {}).get("name", "the layer"))
    outside = _uncovered(cu, parea, n, shown, earea)
    unassessed = np.where(
        outside == "",
        unassessed,
        np.where(unassessed == "", outside, unassessed + "; " + outside),
    )
    out["unit_codes"] = _joined(cu, n, "unit_code")
    out["unit_types"] = _joined(cu, n, "unit_type")
    out["unit_overlap_m2"] = _joined(cu, n, "overlap_m2")
    out["unit_overlap_pct"] = _joined(cu, n, "overlap_pct")
    rl = pairs.get("redline")
    out["redline_ids"] = _joined(rl, n, "redline_id")
    rl_area = _redline_area(rl, ev, layers, crs, n)
    out["redline_overlap_m2"] = np.round(rl_area, 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["redline_overlap_pct"] = np.round(np.where(parea > 0, 100 * rl_area / parea, np.nan), 3)
    segs = segments_of(ev)  # boundary segments of the projects, for both distance queries
    bdist = _distance_columns(out, ev, layers, rules, crs, threads, segs)
    out["zone_ids"] = _joined(pairs.get("zones"), n, "zone_id")
    away = np.zeros(n, dtype=bool)
    if cov is not None:
        out["adcode"], out["county"], out["city"] = cov.adcode, cov.county, cov.city
        away = cov.away
        unassessed = _add_reason(unassessed, away, rules)
    _verdict_columns(out, rules, industry, kind, pairs, bdist)
    if away.any():  # outside the plan's province none of its rules fires (as the firm screen)
        for c in ("rule_ids", "clauses"):
            out[c] = np.where(away, "", np.asarray(out[c], dtype=object))
    # An industry or kind the vocabulary does not know is never "clear": only a conflict
    # that fired anyway stands; outside the plan's province none does.
    conflict = (out["verdict"] == "conflict") & ~away
    out["verdict"] = np.where((unassessed != "") & ~conflict, UNASSESSED, out["verdict"])
    # the part outside the jurisdiction, said (it does not make the rest unassessed)
    out["unassessed_reason"] = _part_outside(unassessed, cov, parea, rules)
    if "geometry_note" in projects:
        out["geometry_note"] = projects["geometry_note"].fillna("").astype(str).to_numpy()
    return SiteCheckResult(_site_table(out, projects, pg), pairs, layers, rules)


def _cover(
    pg: npt.NDArray[np.object_],
    parea: npt.NDArray[np.float64],
    layers: SiteLayers,
    rules: RuleSet,
    threads: int,
) -> Coverage | None:
    """The counties each project covers and its part outside the rules' jurisdiction
    (:func:`sxzones.analyses.counties.county_cover`); None without an admin layer. The
    bundled admin layer reaches 30 km beyond Shanxi: a county is judged once, not per
    project."""
    if "admin" not in layers.frames:
        return None
    table = layers.county_table()
    out_rows = np.append(rules.outside(table["adcode"][:-1]), False)  # last row: no county
    admin = layers.frames["admin"]
    index = layers.index("counties")
    return county_cover(pg, parea, admin, index, table, out_rows, layers.crs(), threads)


def _part_outside(
    why: npt.NDArray[np.object_],
    cov: Coverage | None,
    parea: npt.NDArray[np.float64],
    rules: RuleSet,
) -> npt.NDArray[np.object_]:
    """``why`` with, first, the part of each project partly outside the jurisdiction: how
    much, in which counties, and that the plan does not apply there (that part is not
    assessed; the rest is)."""
    if cov is None or not cov.partial.any() or rules.jurisdiction is None:
        return why
    _, zh, en = rules.jurisdiction
    out = why.copy()
    for k in np.flatnonzero(cov.partial).tolist():
        text = (  # "12,345 m² (33.3 %) of the parcel", "1 of 2 points" (counties.py)
            f"{cov.outside_said[k]} lie outside {en} ({zh}), "
            f"in {cov.outside_names[k]}, where the plan does not apply: that part is not "
            "assessed"
        )
        out[k] = f"{text}; {why[k]}" if why[k] else text
    return out


def _add_reason(
    why: npt.NDArray[np.object_], away: npt.NDArray[np.bool_], rules: RuleSet
) -> npt.NDArray[np.object_]:
    """``why`` with the jurisdiction's reason first where ``away`` (as the firm screen says
    it: the plan does not apply there)."""
    if not away.any() or rules.jurisdiction is None:
        return why
    _, zh, en = rules.jurisdiction
    text = f"outside {en} ({zh}), where the plan applies: it does not apply here"
    out = why.copy()
    out[away] = [f"{text}; {w}" if w else text for w in why[away]]
    return out


def _site_table(
    out: dict[str, Any], projects: gpd.GeoDataFrame, pg: npt.NDArray[np.object_]
) -> gpd.GeoDataFrame:
    """The result's table: the columns ``out`` (name -> array), then the projects' other
    columns, then their geometries; one frame made once (a concatenation and a frame made
    around it cost 2 ms of a single project's check)."""
    skip = (projects.active_geometry_name, "industry")
    columns = dict(out)
    for c in projects.columns:
        if c not in out and c not in skip:
            columns[c] = projects[c]
    columns["geometry"] = from_shapely(pg, crs=projects.crs)
    # the arrays are this check's own; the projects' columns are copied on write (pandas)
    return gpd.GeoDataFrame(columns, index=projects.index, geometry="geometry", copy=False)
