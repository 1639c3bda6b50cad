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
2. The exact planar nearest points of each firm's best-bound pair, then only of the pairs
   whose bound could still come within the CRS's scale range of that distance (few: most
   pairs are pruned without touching their vertices), point to boundary segment, by one of
   the interchangeable paths of :mod:`sxzones.analyses.nearest` (numpy, or compiled kernels
   for large inputs: the same points).
3. Pairs that may be the nearest on the ground are measured on the ellipsoid (``pyproj.Geod``)
   between their nearest points; the smallest is the firm's distance. Its error is second
   order in the projection's scale variation: far below 1 m within 25 km. Firms with nothing
   within reach are resolved against all areas with the same pruning.
4. Distance 0 (the firm touches or lies in the area) is ``inside``; at most the rule's
   distance is ``within_<D>km``; otherwise ``beyond``.

The heavy steps run on chunks of firms in threads (shapely releases the GIL).

Example (a firm inside an area and one 10 km east of it)::

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

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from numbers import Integral, Real

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS

from sxzones._util import check_type
from sxzones.analyses.nearest import categorical_take, county_lookup, nearest_geodesic
from sxzones.errors import CRSError, LayerError
from sxzones.rules import Rule, RuleSet, Vocabulary, bundled_rules
from sxzones.vocab import split_ids

__all__ = [
    "FirmScreenSummary",
    "normalise_industry",
    "resolve_industries",
    "screen_firms",
    "summarise",
]

INSIDE = "inside"
#: Whether a firm's industry is known to the rules' vocabulary.
STATUSES = ("recognised", "unrecognised", "missing")
BEYOND = "beyond"


def zone_label(distance_m: float) -> str:
    """``within_20km`` for 20,000 m."""
    return f"within_{distance_m / 1000:g}km"


def _industry_codes(
    frame: pd.DataFrame, vocabulary: Vocabulary
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.intp], npt.NDArray[np.int8]]:
    """:func:`resolve_industries` as codes: the identifiers (``""`` first), each row's code
    into them, and each row's status as a position in :data:`STATUSES`. Each distinct
    value is resolved once; no string is made per row."""
    n = len(frame)
    names: dict[str, int] = {"": 0}
    ids = np.zeros(n, dtype=np.intp)
    status = np.full(n, STATUSES.index("missing"), dtype=np.int8)
    rec, unrec = STATUSES.index("recognised"), STATUSES.index("unrecognised")
    for col in ("industry", "industry_code"):  # the code last: it wins where it resolves
        if col not in frame.columns:
            continue
        codes, uniques = pd.factorize(frame[col], use_na_sentinel=True)
        i, st = vocabulary.resolve_many(pd.Series(np.asarray(uniques, dtype=object)))
        u_id = np.array([names.setdefault(str(x), len(names)) for x in i] + [0], dtype=np.intp)
        u_st = np.array([STATUSES.index(str(x)) for x in st] + [2], dtype=np.int8)
        col_id, col_st = u_id[codes], u_st[codes]  # code -1 (NULL) takes the last: missing
        take = (col_st == rec) | ((col_st == unrec) & (status == STATUSES.index("missing")))
        ids = np.where(col_st == rec, col_id, ids)
        status = np.where(take, col_st, status)
    return np.array(list(names), dtype=object), ids, status


def resolve_industries(
    frame: pd.DataFrame, vocabulary: Vocabulary
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Industry identifiers and statuses of firms or projects, from the rules' vocabulary.

    A GB/T 4754 code in ``industry_code`` wins over the ``industry`` text when it is known;
    otherwise the text decides. Statuses: ``recognised``, ``unrecognised`` (a value the
    vocabulary does not know: no rule can be said to apply or not), ``missing``.
    """
    names, ids, status = _industry_codes(frame, vocabulary)
    return names[ids], np.array(STATUSES, dtype=object)[status]


def normalise_industry(values: pd.Series, vocabulary: Vocabulary | None = None) -> pd.Series:
    """Industry identifiers of ``values`` (``""`` where the vocabulary knows none; default
    vocabulary: the bundled rules')."""
    vocab = vocabulary if vocabulary is not None else bundled_rules().industries
    ids, _ = vocab.resolve_many(values)
    return pd.Series(ids, index=values.index)


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


def _check_arguments(
    firms: object,
    builtup: object,
    rules: object,
    admin: object,
    distance_m: object,
    report_within_m: object,
    threads: object,
) -> None:
    """A clear TypeError naming the parameter, instead of an AttributeError further on."""
    where = "screen_firms"
    frame = (
        "Fix: pass a GeoDataFrame in the working CRS: sxzones.load_catalog().load(name)[0], "
        "or sxzones.validate_layer(sxzones.read_file(path), role, working_crs=...)[0]."
    )
    check_type(firms, "firms", gpd.GeoDataFrame, where=where, fix=frame)
    check_type(builtup, "builtup", gpd.GeoDataFrame, where=where, fix=frame)
    check_type(admin, "admin", gpd.GeoDataFrame, where=where, optional=True, fix=frame)
    rules_fix = "Fix: pass sxzones.load_rules() (the bundled Shanxi rules) or load_rules(path)."
    check_type(rules, "rules", RuleSet, where=where, fix=rules_fix)
    for name, value in (("distance_m", distance_m), ("report_within_m", report_within_m)):
        fix = "Fix: metres as a number, e.g. 20000.0 (the command line is what reads '20km')."
        check_type(
            value, name, Real, where=where, optional=True, what="a number of metres", fix=fix
        )
    check_type(threads, "threads", Integral, where=where, optional=True, what="an integer")


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
        Role ``firms`` (``firm_id``, ``industry`` and/or ``industry_code``; ``name``
        optional), points or site polygons, in a
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
        ``industry_id`` and ``industry_status`` (``recognised`` / ``unrecognised`` /
        ``missing``: an unrecognised industry is never "no rule applies"),
        ``applicable``, ``rule_ids``, ``clauses``, ``asks``, then the firm's own fields.

    Raises
    ------
    TypeError
        When an argument has the wrong type (a DataFrame, no rules ...), naming the parameter.
    CRSError
        When the CRSs differ or are geographic.
    """
    _check_arguments(firms, builtup, rules, admin, distance_m, report_within_m, threads)
    crs = _check_inputs(firms, builtup)
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
    with ThreadPoolExecutor(max_workers=1) as pool:  # counties found meanwhile (GEOS, nogil)
        counties = pool.submit(_counties, fg, admin) if admin is not None else None
        near = nearest_geodesic(fg, ag, max(report_within_m, d), crs, threads, thresholds=(d,))
        places = counties.result() if counties is not None else None
    within = zone_label(d)
    zone_code = np.where(near.distance == 0, 0, np.where(near.distance <= d, 1, 2))
    # Repetitive text columns are categoricals built from codes: no per-row strings.
    out = pd.DataFrame(index=firms.index)
    out["zone"] = pd.Categorical.from_codes(zone_code, categories=[INSIDE, within, BEYOND])
    out["distance_m"] = np.round(near.distance, 2)
    _place_columns(out, builtup, near.area, places)
    names, ids, status = _industry_codes(firms, rules.industries)
    out["industry_id"] = names[ids]
    out["industry_status"] = pd.Categorical.from_codes(status, categories=list(STATUSES))
    _apply_rules(out, names, ids, zone_code, within, inside_rules, dist_rules)
    _outside_jurisdiction(out, rules)
    keep = [c for c in firms.columns if c not in out.columns and c != firms.geometry.name]
    result = pd.concat([out, firms[keep]], axis=1)
    screened = gpd.GeoDataFrame(result, geometry=firms.geometry.to_numpy(), crs=firms.crs)
    screened.attrs["distance_m"] = d
    return screened


def _check_inputs(firms: gpd.GeoDataFrame, builtup: gpd.GeoDataFrame) -> CRS:
    """The common projected CRS, after checking the fields the screen cannot do without."""
    crs = _check_crs(firms, builtup)
    if not {"industry", "industry_code"} & set(firms.columns):
        raise LayerError(
            "firms need an 'industry' field (or 'industry_code', GB/T 4754); fields present: "
            f"{[c for c in firms.columns if c != firms.geometry.name]}"
        )
    if "area_id" not in builtup.columns:
        raise LayerError("built-up areas need an 'area_id' field (sxzones.layers numbers them)")
    return crs


def _counties(
    fg: npt.NDArray[np.object_], admin: gpd.GeoDataFrame
) -> tuple[npt.NDArray[np.int64], dict[str, npt.NDArray[np.object_]]]:
    """Each firm's row in a table of adcode, county and city (:func:`county_lookup`), by its
    point (a site polygon's point on its surface)."""
    pts = fg if bool(np.all(shapely.get_type_id(fg) == 0)) else shapely.point_on_surface(fg)
    return county_lookup(pts, admin)


def _place_columns(
    out: pd.DataFrame,
    builtup: gpd.GeoDataFrame,
    nearest: npt.NDArray[np.int64],
    places: tuple[npt.NDArray[np.int64], dict[str, npt.NDArray[np.object_]]] | None,
) -> None:
    """The nearest area's id (and name and kind where the layer has them), and the firm's
    city and county (``places``: :func:`_counties`, None without an admin layer)."""
    for col, src in (
        ("nearest_area_id", "area_id"),
        ("nearest_area_name", "name"),
        ("nearest_area_kind", "kind"),
    ):
        if src in builtup.columns:
            out[col] = categorical_take(builtup[src].to_numpy(), nearest)
    if places is not None:
        which, table = places
        for col in ("adcode", "county", "city"):
            out[col] = categorical_take(table[col], which)


def _names(rule: Rule, industries: list[str]) -> bool:
    """Whether ``rule`` names one of ``industries``."""
    return any(i in rule.industries for i in industries)


def _apply_rules(
    out: pd.DataFrame,
    ind_names: npt.NDArray[np.object_],
    ind_code: npt.NDArray[np.intp],
    zone_code: npt.NDArray[np.int64],
    within: str,
    inside_rules: Sequence[Rule],
    dist_rules: Sequence[Rule],
) -> None:
    """Fill applicable, rule_ids, clauses and asks, once per (industry, zone) combination
    (industries as codes into ``ind_names``)."""
    named = {i for r in (*inside_rules, *dist_rules) for i in r.industries}
    key = ind_code * 3 + zone_code
    present = np.bincount(key, minlength=len(ind_names) * 3) > 0  # O(n), not a sort
    combo = np.flatnonzero(present)
    codes = (np.cumsum(present) - 1)[key]
    zones = (INSIDE, within, BEYOND)
    rows = []
    for c in combo:
        # a combined works (steel;coking) is named by the rules of each of its industries
        ind, z = split_ids(str(ind_names[c // 3])), zones[c % 3]
        fired = [r for r in inside_rules if _names(r, ind) and z == INSIDE]
        fired += [r for r in dist_rules if _names(r, ind) and z in (INSIDE, within)]
        rows.append(
            (
                any(i in named for i in ind),
                ";".join(r.id for r in fired),
                ";".join(r.clauses for r in fired),
                " | ".join(r.asks() for r in fired),
            )
        )
    out["applicable"] = np.array([r[0] for r in rows], dtype=bool)[codes]
    for k, col in enumerate(("rule_ids", "clauses", "asks"), start=1):
        out[col] = categorical_take(np.array([r[k] for r in rows], dtype=object), codes)


def outside_asks(rules: RuleSet) -> str | None:
    """The ``asks`` of a firm outside the rules' jurisdiction (None: the file names none)."""
    j = rules.jurisdiction
    return None if j is None else f"不在{j[1]}，本方案不适用 / outside {j[2]}{_OUTSIDE_TAIL}"


_OUTSIDE_TAIL = ": the plan does not apply"


def outside_plan(asks: pd.Series) -> npt.NDArray[np.bool_]:
    """Which rows of an ``asks`` column (a firm's, or an equipment unit's ``firm_asks``) are
    those of a firm outside the rules' jurisdiction (:func:`outside_asks`); each distinct
    text is looked at once, not a string per row (a million firms)."""
    values = pd.Categorical(asks)
    away = [str(c).endswith(_OUTSIDE_TAIL) for c in values.categories]
    return np.array([*away, False], dtype=bool)[values.codes]  # code -1 (missing): not


def _outside_jurisdiction(out: pd.DataFrame, rules: RuleSet) -> None:
    """Firms whose county's adcode is not the jurisdiction's (a neighbouring province's
    firm within reach of the layers) keep their zone, but no rule of the plan applies:
    ``applicable`` false, no rule, ``asks`` says why. A firm outside every county of the
    admin layer (adcode blank) is not judged: its place is unknown, and the rules stay."""
    asks = outside_asks(rules)
    if asks is None or "adcode" not in out.columns:
        return
    adcode = pd.Categorical(out["adcode"])
    foreign = rules.outside(adcode.categories)
    codes = np.asarray(adcode.codes)
    mask = (codes >= 0) & foreign[np.maximum(codes, 0)]
    if not mask.any():
        return
    out["applicable"] = out["applicable"].to_numpy(dtype=bool) & ~mask
    for col, text in (("rule_ids", ""), ("clauses", ""), ("asks", asks)):
        values = pd.Categorical(out[col])
        if text not in values.categories:  # sorted, as categorical_take makes them
            values = values.set_categories(sorted([*values.categories, text]))
        values[mask] = text
        out[col] = values


@dataclass(frozen=True)
class FirmScreenSummary:
    n_firms: int
    by_zone: dict[str, int]
    by_zone_applicable: dict[str, int]
    distance_m: float
    by_status: dict[str, int] = field(default_factory=dict)
    #: Unrecognised industry values, most frequent first, with their counts.
    unrecognised: dict[str, int] = field(default_factory=dict)
    #: Firms in a county outside the rules' jurisdiction (no rule applies), and firms outside
    #: every county of the admin layer (None: no admin layer, places not checked).
    outside: int = 0
    no_county: int | None = None
    #: Firms a rule names (``rule_ids`` given), by zone: the inspectors' workload. Firms of an
    #: industry the plan covers beyond the distance are in ``by_zone_applicable`` but named
    #: by no rule.
    by_zone_named: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        zones = ", ".join(f"{k} {v}" for k, v in self.by_zone.items())
        app = ", ".join(f"{k} {v}" for k, v in self.by_zone_applicable.items())
        named = ", ".join(f"{k} {v}" for k, v in self.by_zone_named.items() if v)
        text = (
            f"firm screen ({self.distance_m / 1000:g} km): {self.n_firms} firms: {zones}; "
            f"industry in the plan: {app}; named by a rule: {named or 'none'}"
        )
        if self.by_status:
            text += "\nindustry: " + ", ".join(f"{k} {v}" for k, v in self.by_status.items())
        if self.outside:
            text += (
                f"\noutside the plan's province: {self.outside} firms keep their zone, but no "
                "rule of the plan applies to them (asks says so)"
            )
        if self.no_county:
            text += (
                f"\n  {self.no_county} firms lie outside every county of the admin layer: "
                "city and county blank, province not checked"
            )
        elif self.no_county is None:
            text += "\n  no admin layer: city, county and province not checked"
        if self.unrecognised:
            top = list(self.unrecognised.items())
            shown = ", ".join(f"{k!r} ({v})" for k, v in top[:10])
            more = f" and {len(top) - 10} more" if len(top) > 10 else ""
            text += (
                f"\n  unrecognised industries, not screened against the rules: {shown}{more}. "
                "Fix: add each value to the synonyms of its industry under "
                "[vocabularies.industries] in the rules file (or use GB/T 4754 codes)"
            )
        return text


def summarise(result: pd.DataFrame) -> FirmScreenSummary:
    zones = result["zone"].value_counts()
    app = result.loc[result["applicable"], "zone"].value_counts()
    order = [
        z
        for z in (INSIDE, *sorted(z for z in zones.index if z.startswith("within")), BEYOND)
        if z in zones.index
    ]
    by_status: dict[str, int] = {}
    unrec: dict[str, int] = {}
    if "industry_status" in result.columns:
        counts = result["industry_status"].value_counts()  # no string per row
        by_status = {k: int(counts.get(k, 0)) for k in STATUSES}
        raw = [c for c in ("industry", "industry_code") if c in result.columns]
        if raw and by_status["unrecognised"]:
            which = (result["industry_status"] == "unrecognised").to_numpy(dtype=bool)
            vals = result.loc[which, raw[0]].astype(str).str.strip()
            unrec = {str(k): int(v) for k, v in vals.value_counts().items()}
    outside = int(outside_plan(result["asks"]).sum()) if "asks" in result.columns else 0
    no_county = None
    if "adcode" in result.columns:
        no_county = int(result["adcode"].value_counts().get("", 0))  # no string per row
    named = result.loc[_has_rule(result), "zone"].value_counts()
    return FirmScreenSummary(
        len(result),
        {z: int(zones[z]) for z in order},
        {z: int(app.get(z, 0)) for z in order},
        float(result.attrs.get("distance_m", 20000.0)),
        by_status,
        unrec,
        outside,
        no_county,
        {z: int(named.get(z, 0)) for z in order},
    )


def _has_rule(result: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Per firm, whether a rule names it (``rule_ids`` not blank), a category at a time."""
    if "rule_ids" not in result.columns:
        return np.zeros(len(result), dtype=bool)
    ids = pd.Categorical(result["rule_ids"])
    given = np.array([str(c).strip() != "" for c in ids.categories] + [False], dtype=bool)
    codes = np.asarray(ids.codes)
    return given[np.where(codes >= 0, codes, len(ids.categories))]


def summary_by_city(result: pd.DataFrame) -> pd.DataFrame:
    """Counts by city, industry and zone (the XLSX summary sheet). Unrecognised and missing
    industries are rows of their own, under the value as written (``industry_status``)."""
    t = pd.DataFrame(result.drop(columns="geometry", errors="ignore"))
    if "industry_status" in t.columns:
        st = t["industry_status"].astype(str)
        written = t["industry"].astype(str) if "industry" in t.columns else ""
        t["industry_id"] = np.where(st == "recognised", t["industry_id"], written)
        t["industry_status"] = st
    cols = [c for c in ("city", "industry_id", "industry_status") if c in t.columns]
    out = t.groupby([*cols, "zone"], dropna=False).size().unstack("zone", fill_value=0)
    out = out.reset_index()
    if "industry_status" in out.columns and (out["industry_status"] == "unrecognised").any():
        out["how_to_map"] = np.where(
            out["industry_status"] == "unrecognised",
            "add it to the synonyms of its industry under [vocabularies.industries] in the "
            "rules file, or give a GB/T 4754 code",
            "",
        )
    return out
