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
4. Distance 0 (the firm touches or lies in the area) is ``inside``; at most the report's
   distance is ``within_<D>km``; otherwise ``beyond``, all on the distance as written (to
   the centimetre, :func:`written_distance`). A distance rule names the firms
   within its own distance (clause 十三: 20 km), whatever ring the report draws.

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
import re
from collections.abc import Mapping, Sequence
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
from sxzones.analyses.nearest import (
    Nearest,
    categorical_take,
    county_lookup,
    nearest_geodesic,
)
from sxzones.errors import CRSError, LayerError
from sxzones.rules import Rule, RuleSet, Vocabulary, bundled_rules
from sxzones.vocab import code_cell, split_ids

__all__ = [
    "FirmScreenSummary",
    "normalise_industry",
    "resolve_industries",
    "resolve_industries_noted",
    "screen_firms",
    "summarise",
]

INSIDE = "inside"
#: Whether a firm's industry is known to the rules' vocabulary.
STATUSES = ("recognised", "unrecognised", "missing")
BEYOND = "beyond"


def written_distance(distance_m: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Distances (metres) as the outputs write them, to the centimetre: the zone and the
    rules are decided on these, so that a table never shows ``beyond`` beside 20000.0 or
    ``within_20km`` beside 0.0 ("within 20 km" reads as at most 20,000.00 m written; a
    point within 5 mm of an area is on it).

    >>> written_distance(np.array([20000.004, 20000.006, 0.004])).tolist()
    [20000.0, 20000.01, 0.0]
    """
    return np.asarray(np.round(np.asarray(distance_m, dtype=np.float64), 2), dtype=np.float64)


def zone_label(distance_m: float) -> str:
    """``within_20km`` for 20,000 m."""
    return f"within_{distance_m / 1000:g}km"


@dataclass(frozen=True)
class Industries:
    """Firms' or projects' industries as codes (no string per row).

    Attributes
    ----------
    names : ndarray of str
        The identifiers, ``""`` first.
    ids : ndarray of intp
        Each row's identifier, a position in ``names``.
    status : ndarray of int8
        Each row's status, a position in :data:`STATUSES`.
    notes : ndarray of str
        Why an industry column was not read as written, ``""`` first: a 行业 and a 行业代码
        naming different industries, or a code the rules do not list beside known words.
    note : ndarray of intp
        Each row's note, a position in ``notes``.
    """

    names: npt.NDArray[np.object_]
    ids: npt.NDArray[np.intp]
    status: npt.NDArray[np.int8]
    notes: npt.NDArray[np.object_]
    note: npt.NDArray[np.intp]


_REC, _UNREC, _MISSING = (STATUSES.index(s) for s in STATUSES)


def _resolved_column(
    frame: pd.DataFrame, col: str, vocabulary: Vocabulary
) -> tuple[npt.NDArray[np.intp], list[object], list[str], list[int]]:
    """A column's codes into its distinct values (-1 blank), those values as written, their
    identifiers and statuses: each distinct value resolved once. A code a spreadsheet made a
    number (``2521.0``) is read as the code (:func:`~sxzones.vocab.code_cell`)."""
    codes, uniques = pd.factorize(frame[col], use_na_sentinel=True)
    raw = list(np.asarray(uniques, dtype=object))
    read = [code_cell(u) for u in raw] if col == "industry_code" else raw
    ids, st = vocabulary.resolve_many(pd.Series(read, dtype=object))
    return codes, raw, [str(i) for i in ids], [STATUSES.index(str(x)) for x in st]


def _industry_codes(
    frame: pd.DataFrame, vocabulary: Vocabulary, shown: Mapping[str, str] | None = None
) -> Industries:
    """:func:`resolve_industries` as codes (:class:`Industries`). With both an ``industry``
    and an ``industry_code`` column, each distinct pair is decided once
    (:func:`_pair_industry`); ``shown``: canonical field -> the user's column name, for the
    notes (default: ``attrs["sxzones"]["fields"]`` of ``frame``)."""
    cols = [c for c in ("industry", "industry_code") if c in frame.columns]
    n = len(frame)
    if not cols:
        empty = np.zeros(n, dtype=np.intp)
        missing = np.full(n, _MISSING, dtype=np.int8)
        return Industries(np.array([""], dtype=object), empty, missing, np.array([""]), empty)
    shown = shown if shown is not None else _fields_shown(frame)
    parts = [_resolved_column(frame, c, vocabulary) for c in cols]
    if len(parts) == 1:  # one column: its values decide
        codes, raw, ids, st = parts[0]
        table = [(i, s, "") for i, s in zip(ids, st, strict=True)] + [("", _MISSING, "")]
        key = np.where(codes >= 0, codes, len(raw))
    else:
        (tc, traw, tid, tst), (cc, craw, cid, cst) = parts
        width = len(craw) + 1
        key = (tc + 1).astype(np.int64) * width + (cc + 1)
        cells = [(None, "", _MISSING), *zip(traw, tid, tst, strict=True)]
        codes_ = [(None, "", _MISSING), *zip(craw, cid, cst, strict=True)]
        present, key = _dense(key, len(cells) * width)
        table = [
            _pair_industry(cells[k // width], codes_[k % width], vocabulary, shown) for k in present
        ]
    names = list(dict.fromkeys(["", *(t[0] for t in table)]))
    notes = list(dict.fromkeys(["", *(t[2] for t in table)]))
    t_id = np.array([names.index(t[0]) for t in table], dtype=np.intp)
    t_st = np.array([t[1] for t in table], dtype=np.int8)
    t_note = np.array([notes.index(t[2]) for t in table], dtype=np.intp)
    return Industries(
        np.array(names, dtype=object),
        t_id[key],
        t_st[key],
        np.array(notes, dtype=object),
        t_note[key],
    )


def _dense(
    key: npt.NDArray[np.int64], size: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]]:
    """The distinct values of ``key`` (all in ``[0, size)``), sorted, and each row's
    position among them: by counting when ``size`` is small beside the rows (O(n)), else
    by sorting."""
    if size <= 4 * len(key) + 4096:
        seen = np.bincount(key, minlength=size) > 0
        return np.flatnonzero(seen), (np.cumsum(seen) - 1)[key]
    present, inverse = np.unique(key, return_inverse=True)
    return present, np.asarray(inverse, dtype=np.intp).reshape(-1)


def _fields_shown(frame: pd.DataFrame) -> dict[str, str]:
    """Canonical field -> the column name the user's file gives it (validation's
    ``attrs``), for messages."""
    got = (frame.attrs.get("sxzones") or {}).get("fields") or {}
    return {str(k): str(v) for k, v in got.items()}


def _pair_industry(
    words: tuple[object, str, int],
    code: tuple[object, str, int],
    vocabulary: Vocabulary,
    shown: Mapping[str, str],
) -> tuple[str, int, str]:
    """The identifier, status and note of a row whose ``industry`` is ``words`` and whose
    ``industry_code`` is ``code`` (each: the value as written, its identifier, its status),
    by the rule a single cell follows (:meth:`~sxzones.vocab.Vocabulary.agree`): the same
    industry, or one a part of the other, is read; different industries leave the row
    unrecognised, with a note naming both values; one of them blank or not known, the
    other decides (a code the rules do not list beside known words: the words, said in the
    note)."""
    (w_raw, w_id, w_st), (c_raw, c_id, c_st) = words, code
    wf, cf = shown.get("industry", "industry"), shown.get("industry_code", "industry_code")
    if w_st == _REC and c_st == _REC:
        both = vocabulary.agree(w_id, c_id)
        if both is not None:
            return both, _REC, ""
        c_name = vocabulary.code_name(c_raw)
        return (
            "",
            _UNREC,
            f"{wf} {str(w_raw).strip()!r} ({w_id}) and {cf} {_code_text(c_raw)!r} "
            f"({c_id}{', ' + c_name if c_name else ''}) name different industries: "
            "correct the one that is wrong",
        )
    if w_st == _REC:
        note = (
            f"{cf} {_code_text(c_raw)!r} is not a code the rules list: the industry is read "
            f"from {wf} {str(w_raw).strip()!r}"
            if c_st == _UNREC
            else ""
        )
        return w_id, _REC, note
    if c_st == _REC:
        return c_id, _REC, ""
    return "", min(w_st, c_st), ""  # unrecognised before missing


def _code_text(value: object) -> str:
    """A code cell as the user wrote it (a number cell without its ``.0``)."""
    return str(code_cell(value)).strip()


def resolve_industries(
    frame: pd.DataFrame, vocabulary: Vocabulary
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Industry identifiers and statuses of firms or projects, from the rules' vocabulary.

    An ``industry`` (words) and an ``industry_code`` (GB/T 4754) column are read together
    as a single cell holding both is (``炼焦（2521）``): the same industry, or the code a
    part of the words' industry, is read; different industries (焦化 and 3011, cement) are
    ``unrecognised`` (:func:`resolve_industries_noted` says why); one blank or unknown, the other
    decides. Statuses: ``recognised``, ``unrecognised`` (no rule can be said to apply or
    not), ``missing``.
    """
    ind = _industry_codes(frame, vocabulary)
    return ind.names[ind.ids], np.array(STATUSES, dtype=object)[ind.status]


def resolve_industries_noted(
    frame: pd.DataFrame, vocabulary: Vocabulary
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """:func:`resolve_industries`, and per row why its industry columns were not read as
    written (``""`` when they were): a 行业 and a 行业代码 naming different industries (the
    row ``unrecognised``), or a code the rules do not list beside known words."""
    ind = _industry_codes(frame, vocabulary)
    statuses = np.array(STATUSES, dtype=object)[ind.status]
    return ind.names[ind.ids], statuses, ind.notes[ind.note]


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
        The ring drawn for the report (metres on the ground; default: the largest
        ``distance_m`` of the distance rules): zone ``within_<D>km``. The rules keep their
        own distances: clause 十三's 20 km rule names the firms within 20 km whatever this
        is (``attrs["rule_distance_m"]`` says them; the summary notes a difference).
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
    # each rule keeps its own distance, whatever ring ``distance_m`` draws for the report
    reach = {r.id: float(r.distance_m or d) for r in dist_rules}
    thresholds = tuple(sorted({d, *reach.values()}))
    fg = firms.geometry.to_numpy()
    ag = builtup.geometry.to_numpy()
    with ThreadPoolExecutor(max_workers=1) as pool:  # counties found meanwhile (GEOS, nogil)
        counties = pool.submit(_counties, fg, admin) if admin is not None else None
        widest = max(report_within_m, *thresholds)
        near = nearest_geodesic(fg, ag, widest, crs, threads, thresholds=thresholds)
        places = counties.result() if counties is not None else None
    within = zone_label(d)
    # zone and rules are decided on the distance as written (to the centimetre): a firm a
    # few micrometres past 20 km reads 20000.0 and is within it, one on the line reads 0.0
    # and is inside (audit 11 E19)
    dist = written_distance(near.distance)
    zone_code = np.where(dist == 0, 0, np.where(dist <= d, 1, 2))
    # Repetitive text columns are categoricals built from codes: no per-row strings.
    out = pd.DataFrame(index=firms.index)
    out["zone"] = pd.Categorical.from_codes(zone_code, categories=[INSIDE, within, BEYOND])
    out["distance_m"] = dist
    _place_columns(out, builtup, near.area, places)
    _province_column(out, admin, places, rules)
    ind = _industry_columns(out, firms, rules.industries)
    band = _bands(dist, thresholds)
    _apply_rules(out, ind, band, thresholds, inside_rules, dist_rules, reach)
    _outside_jurisdiction(out, rules)
    fired = (inside_rules, dist_rules, reach)
    _foreign_area_note(out, fg, builtup, near, rules, admin, crs, threads, widest, fired)
    keep = [c for c in firms.columns if c not in out.columns and c != firms.geometry.name]
    result = pd.concat([out, firms[keep]], axis=1)
    screened = gpd.GeoDataFrame(result, geometry=firms.geometry.to_numpy(), crs=firms.crs)
    screened.attrs["distance_m"] = d
    # whether each firm's province was looked up (an admin layer given): E4
    screened.attrs["province_checked"] = admin is not None
    screened.attrs["rule_distance_m"] = {
        r.id: {"distance_m": reach[r.id], "clauses": r.clauses} for r in dist_rules
    }
    return screened


def _industry_columns(out: pd.DataFrame, firms: pd.DataFrame, vocabulary: Vocabulary) -> Industries:
    """Fill ``industry_id``, ``industry_status`` and, for firms with both an ``industry`` and
    an ``industry_code`` column (only two columns make a note), ``industry_note``."""
    ind = _industry_codes(firms, vocabulary)
    out["industry_id"] = ind.names[ind.ids]
    out["industry_status"] = pd.Categorical.from_codes(ind.status, categories=list(STATUSES))
    if {"industry", "industry_code"} <= set(firms.columns):
        out["industry_note"] = categorical_take(ind.notes, ind.note)
    return ind


def _bands(
    distance: npt.NDArray[np.float64], thresholds: tuple[float, ...]
) -> npt.NDArray[np.int64]:
    """Each firm's band among the distances (metres, ascending) that decide something: 0
    inside (distance 0), ``k`` when within ``thresholds[k - 1]`` but not a smaller one,
    ``len(thresholds) + 1`` beyond them all. A firm exactly at a distance is within it."""
    b = 1 + np.searchsorted(np.asarray(thresholds, dtype=float), distance, side="left")
    return np.where(distance == 0, 0, b).astype(np.int64)


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


#: GB/T 2260 provinces by the first two digits of an administrative code: the province of a
#: county the admin layer places but names no province for.
PROVINCES = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省", "31": "上海市", "32": "江苏省",
    "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区",
    "46": "海南省", "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省",
    "54": "西藏自治区", "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区", "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}  # fmt: skip

#: ``province`` of a firm whose province was not looked up (no admin layer) or could not be
#: (outside every county of the admin layer): its rules are the plan's, unchecked (E4).
NO_ADMIN = "未核查：未提供行政区划图层 / not checked: no admin layer"
NO_COUNTY = (
    "未核查：不在行政区划图层的任何县内 / not checked: outside every county of the admin layer"
)


def _province_column(
    out: pd.DataFrame,
    admin: gpd.GeoDataFrame | None,
    places: tuple[npt.NDArray[np.int64], dict[str, npt.NDArray[np.object_]]] | None,
    rules: RuleSet,
) -> None:
    """``province``: the province of the firm's county (the admin layer's ``province``
    field, else its province row, else GB/T 2260 by the code's first two digits); where it
    was not looked up, a text saying so (:data:`NO_ADMIN`, :data:`NO_COUNTY`), so that a
    table read without the summary says the plan's rules were given unchecked. No column
    when there is no admin layer and the rules name no jurisdiction."""
    if places is None or admin is None:
        if rules.jurisdiction is not None:
            out["province"] = pd.Categorical.from_codes(
                np.zeros(len(out), dtype=np.int64), categories=[NO_ADMIN]
            )
        return
    which, table = places
    codes = np.asarray(table["adcode"], dtype=object)
    by_code: dict[str, str] = {}
    names = dict(zip(admin["adcode"].astype(str), admin["name"].astype(str), strict=True))
    if "province" in admin.columns:
        given = admin["province"].fillna("").astype(str).str.strip()
        by_code = {k: v for k, v in zip(admin["adcode"].astype(str), given, strict=True) if v}
    prov = [
        (by_code.get(c) or names.get(c[:2] + "0000") or PROVINCES.get(c[:2], ""))
        if c
        else NO_COUNTY
        for c in map(str, codes)
    ]
    out["province"] = categorical_take(np.asarray(prov, dtype=object), which)


def _names(rule: Rule, industries: list[str]) -> bool:
    """Whether ``rule`` names one of ``industries``."""
    return any(i in rule.industries for i in industries)


def _apply_rules(
    out: pd.DataFrame,
    ind: Industries,
    band: npt.NDArray[np.int64],
    thresholds: tuple[float, ...],
    inside_rules: Sequence[Rule],
    dist_rules: Sequence[Rule],
    reach: Mapping[str, float],
) -> None:
    """Fill applicable, rule_ids, clauses and asks, once per (industry, band) combination
    (:func:`_bands`). A distance rule names the firms within its own distance (``reach``,
    metres), not within the ring the report draws."""
    named = {i for r in (*inside_rules, *dist_rules) for i in r.industries}
    nb = len(thresholds) + 2
    key = ind.ids.astype(np.int64) * nb + band
    present = np.bincount(key, minlength=len(ind.names) * nb) > 0  # O(n), not a sort
    combo = np.flatnonzero(present)
    codes = (np.cumsum(present) - 1)[key]
    rows = []
    for c in combo:
        # a combined works (steel;coking) is named by the rules of each of its industries
        i_names, b = split_ids(str(ind.names[c // nb])), int(c % nb)
        # the farthest a firm of this band can be: 0 inside, its threshold, or past them all
        far = 0.0 if b == 0 else thresholds[b - 1] if b <= len(thresholds) else np.inf
        fired = [r for r in inside_rules if _names(r, i_names) and b == 0]
        fired += [r for r in dist_rules if _names(r, i_names) and far <= reach[r.id]]
        rows.append(
            (
                any(i in named for i in i_names),
                ";".join(r.id for r in fired),
                ";".join(r.clauses for r in fired),
                " | ".join(r.asks() for r in fired),
            )
        )
    out["applicable"] = np.array([r[0] for r in rows], dtype=bool)[codes]
    for k, col in enumerate(("rule_ids", "clauses", "asks"), start=1):
        out[col] = categorical_take(np.array([r[k] for r in rows], dtype=object), codes)


def _areas_outside(
    builtup: gpd.GeoDataFrame, rules: RuleSet, admin: gpd.GeoDataFrame | None
) -> npt.NDArray[np.bool_] | None:
    """Per built-up area, whether it lies outside the rules' jurisdiction: by its own
    ``adcode``, else (blank or no such field) by the county of its point on the surface in
    the admin layer; None when the rules name no jurisdiction or nothing tells."""
    if rules.jurisdiction is None:
        return None
    n = len(builtup)
    codes = np.full(n, "", dtype=object)
    if "adcode" in builtup.columns:
        codes = builtup["adcode"].fillna("").astype(str).str.strip().to_numpy(dtype=object)
    blank = np.flatnonzero(codes == "")
    if len(blank) and admin is not None:
        pts = shapely.point_on_surface(builtup.geometry.to_numpy()[blank])
        which, table = county_lookup(pts, admin)
        codes[blank] = table["adcode"][which]
    elif len(blank) == n:
        return None
    uniq, inv = np.unique(codes.astype(str), return_inverse=True)
    return rules.outside(uniq)[inv]


def _foreign_area_note(
    out: pd.DataFrame,
    fg: npt.NDArray[np.object_],
    builtup: gpd.GeoDataFrame,
    near: Nearest,
    rules: RuleSet,
    admin: gpd.GeoDataFrame | None,
    crs: CRS,
    threads: int,
    widest: float,
    fired: tuple[Sequence[Rule], Sequence[Rule], Mapping[str, float]],
) -> None:
    """``nearest_area_note`` (with a jurisdiction): where a rule names a firm through a
    built-up area outside the jurisdiction (clause 十三's ring is drawn around every area of
    the layer, a neighbouring province's county towns included: a reading, stated in the
    rules file) and the nearest area inside it would not (farther than that rule's
    distance), which rules, and the nearest area inside with its distance (m, ellipsoidal);
    blank elsewhere. Which firms are named is left as it is."""
    if rules.jurisdiction is None:
        return
    texts: dict[int, str] = {}
    away = _areas_outside(builtup, rules, admin)
    named = _has_rule(out)
    k = np.flatnonzero(named & (near.area >= 0)) if away is not None else np.zeros(0, int)
    k = k[away[near.area[k]]] if len(k) and away is not None else k[:0]
    if len(k) and away is not None:
        inside = np.flatnonzero(~away)
        d2, a2 = np.full(len(k), np.inf), np.full(len(k), -1)
        if len(inside):
            got = nearest_geodesic(fg[k], builtup.geometry.to_numpy()[inside], widest, crs, 1)
            ok = got.area >= 0
            d2[ok], a2[ok] = written_distance(got.distance[ok]), inside[got.area[ok]]
        names = builtup["name"].astype(str).to_numpy() if "name" in builtup else None
        ids = out["rule_ids"].astype(str).to_numpy()
        for m, i in enumerate(k.tolist()):
            texts[i] = _foreign_text(
                i, d2[m], int(a2[m]), ids[i], near, names, rules, fired, widest
            )
    cats = sorted({"", *texts.values()})  # a categorical: no string per row (10 M firms)
    codes = np.zeros(len(out), dtype=np.int64)
    for i, t in texts.items():
        codes[i] = cats.index(t)
    out["nearest_area_note"] = pd.Categorical.from_codes(codes, categories=cats)


def _foreign_text(
    i: int,
    d2: float,
    a2: int,
    ids: str,
    near: Nearest,
    names: npt.NDArray[np.object_] | None,
    rules: RuleSet,
    fired: tuple[Sequence[Rule], Sequence[Rule], Mapping[str, float]],
    widest: float,
) -> str:
    """The note of firm ``i`` named through an area outside the jurisdiction (``d2``,
    ``a2``: the nearest area inside and its distance, m; -1 none within ``widest``), blank
    when the area inside names it by the same rules."""
    inside_rules, dist_rules, reach = fired
    limit = {r.id: 0.0 for r in inside_rules} | {r.id: reach[r.id] for r in dist_rules}
    lost = [r for r in ids.split(";") if r in limit and d2 > limit[r]]
    if not lost:
        return ""
    _, zh, en = rules.jurisdiction or ("", "", "")
    area = str(names[near.area[i]]) if names is not None else f"area {near.area[i]}"
    name2 = str(names[a2]) if names is not None else f"area {a2}"
    other = f"{name2} at {d2:,.2f} m" if a2 >= 0 else f"none within {widest / 1000:g} km"
    other_zh = f"{name2}（{d2:,.2f} 米）" if a2 >= 0 else f"{widest / 1000:g} 千米内没有"
    return (
        f"仅因{zh}以外的建成区{area}而列入（{', '.join(lost)}）；{zh}内最近的建成区：{other_zh}。"
        "20 千米范围围绕图层中的全部建成区划定（一种理解，见规则文件） / "
        f"named only through a built-up area outside {en} ({zh}): {area} "
        f"({', '.join(lost)}), the nearest in {en}: {other}. The ring is drawn around every "
        "area of the layer (a reading: see the rules file)"
    )


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
    #: Why industry columns were not read as written (a 行业 and a 行业代码 naming different
    #: industries: unrecognised; a code the rules do not list: the words read), with counts.
    industry_notes: dict[str, int] = field(default_factory=dict)
    #: The distance rules' own distances (rule id -> metres, clauses): they name the firms
    #: within these, whatever ``distance_m`` (the report's ring) is.
    rule_distance_m: dict[str, tuple[float, str]] = field(default_factory=dict)
    #: Firms a rule names only through a built-up area outside the jurisdiction
    #: (``nearest_area_note``; audit 10 D6).
    named_abroad: int = 0

    def __str__(self) -> str:
        zones = ", ".join(f"{k} {v}" for k, v in self.by_zone.items())
        app = ", ".join(f"{k} {v}" for k, v in self.by_zone_applicable.items())
        named = ", ".join(f"{k} {v}" for k, v in self.by_zone_named.items() if v)
        text = (
            f"firm screen ({self.distance_m / 1000:g} km): {self.n_firms} firms: {zones}; "
            f"industry in the plan: {app}; named by a rule: {named or 'none'}"
        )
        text += self._rule_distance_note()
        if self.by_status:
            text += "\nindustry: " + ", ".join(f"{k} {v}" for k, v in self.by_status.items())
        text += self._industry_note_lines()
        if self.named_abroad:
            text += (
                f"\nnamed only through a built-up area outside the plan's province: "
                f"{self.named_abroad} firms (nearest_area_note names the area and the nearest "
                "inside; the ring is drawn around every area of the layer, a reading: see the "
                "rules file)"
            )
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

    def _rule_distance_note(self) -> str:
        """A note when the ring drawn differs from a distance rule's own distance."""
        other = {
            k: v for k, v in self.rule_distance_m.items() if abs(v[0] - self.distance_m) > 1e-6
        }
        if not other:
            return ""
        said = "; ".join(
            f"{k} ({c}) names the firms within {m / 1000:g} km" for k, (m, c) in other.items()
        )
        return (
            f"\nnote: the {self.distance_m / 1000:g} km ring (--distance) is drawn for the "
            f"report (zone within_{self.distance_m / 1000:g}km); the plan's rules keep their "
            f"own distances: {said}"
        )

    def _industry_note_lines(self) -> str:
        """The industry notes, the most frequent first (ten at most)."""
        if not self.industry_notes:
            return ""
        top = list(self.industry_notes.items())
        lines = [f"\n  {v} firm(s): {k}" for k, v in top[:10]]
        more = [f"\n  and {len(top) - 10} more such notes"] if len(top) > 10 else []
        return "".join(lines + more)


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
        noted = _noted(result)
        if raw and by_status["unrecognised"]:
            which = (result["industry_status"] == "unrecognised").to_numpy(dtype=bool)
            vals = result.loc[which & ~noted, raw[0]].astype(str).str.strip()
            unrec = {str(k): int(v) for k, v in vals.value_counts().items()}
    notes = result["industry_note"].value_counts() if "industry_note" in result else None
    by_note = (
        {str(k): int(v) for k, v in notes.items() if v and str(k)} if notes is not None else {}
    )
    rule_d = {
        str(k): (float(v["distance_m"]), str(v["clauses"]))
        for k, v in (result.attrs.get("rule_distance_m") or {}).items()
    }
    outside = int(outside_plan(result["asks"]).sum()) if "asks" in result.columns else 0
    no_county = None
    if "adcode" in result.columns:
        no_county = int(result["adcode"].value_counts().get("", 0))  # no string per row
    named = result.loc[_has_rule(result), "zone"].value_counts()
    abroad = 0
    if "nearest_area_note" in result.columns:
        abroad = len(result) - int(result["nearest_area_note"].value_counts().get("", 0))
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
        by_note,
        rule_d,
        abroad,
    )


def _noted(result: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Per firm, whether its industry has a note (``industry_note`` not blank)."""
    if "industry_note" not in result.columns:
        return np.zeros(len(result), dtype=bool)
    notes = pd.Categorical(result["industry_note"])
    given = np.array([str(c) != "" for c in notes.categories] + [False], dtype=bool)
    codes = np.asarray(notes.codes)
    return given[np.where(codes >= 0, codes, len(notes.categories))]


def _has_rule(result: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Per firm, whether a rule names it (``rule_ids`` not blank), a category at a time."""
    if "rule_ids" not in result.columns:
        return np.zeros(len(result), dtype=bool)
    ids = pd.Categorical(result["rule_ids"])
    given = np.array([str(c).strip() != "" for c in ids.categories] + [False], dtype=bool)
    codes = np.asarray(ids.codes)
    return given[np.where(codes >= 0, codes, len(ids.categories))]


def _outside_apart(t: pd.DataFrame) -> npt.NDArray[np.int64] | None:
    """Set firms outside the plan's province apart in the summary (audit 11 E5): their
    ``city`` becomes ``山西省外 / outside Shanxi`` (their ``province`` column names theirs);
    returns each row's rank (0 the province's own firms, 1 those outside it, 2 those whose
    province was not checked), or None without a ``province`` column. By categories, not a
    string per firm (millions of firms)."""
    if "province" not in t.columns:
        return None
    prov = pd.Categorical(t["province"])
    unchecked = np.array([str(c) in (NO_ADMIN, NO_COUNTY) for c in prov.categories] + [False])
    codes = np.asarray(prov.codes)
    rank = np.where(unchecked[np.where(codes >= 0, codes, len(prov.categories))], 2, 0)
    if "asks" in t.columns:
        away = outside_plan(t["asks"])
        if away.any():
            rank[away] = 1
            label = _outside_city(str(t["asks"].to_numpy()[np.flatnonzero(away)[0]]))
            given = t["city"] if "city" in t.columns else pd.Series("", index=t.index)
            city = pd.Categorical(given)
            if label not in city.categories:
                city = city.add_categories([label])
            city[away] = label
            t["city"] = city
    return rank.astype(np.int64)


def _outside_city(asks: str) -> str:
    """``山西省外 / outside Shanxi`` from a firm's ``asks`` outside the plan's province
    (:func:`outside_asks`)."""
    m = re.match(r"不在(.+?)，本方案不适用 / outside (.+?)" + re.escape(_OUTSIDE_TAIL), asks)
    return f"{m.group(1)}外 / outside {m.group(2)}" if m else "省外 / outside the province"


def summary_by_city(result: pd.DataFrame) -> pd.DataFrame:
    """Counts by province, city, industry and zone (the XLSX summary sheet): the plan's
    province first, then the firms outside it under ``<province>外 / outside ...`` (by their
    own province), then those whose province was not checked. Unrecognised and missing
    industries are rows of their own, under the value as written (``industry_status``)."""
    t = pd.DataFrame(result.drop(columns="geometry", errors="ignore"))
    if "industry_status" in t.columns:
        st = t["industry_status"].astype(str)
        written = t["industry"].astype(str) if "industry" in t.columns else ""
        t["industry_id"] = np.where(st == "recognised", t["industry_id"], written)
        t["industry_status"] = st
        if "industry_note" in t.columns:  # 行业 and 行业代码 apart: the note says both
            note = t["industry_note"].astype(str)
            t["industry_id"] = np.where(
                (st == "unrecognised") & (note != ""), note, t["industry_id"]
            )
    rank = _outside_apart(t)
    cols = [c for c in ("province", "city", "industry_id", "industry_status") if c in t.columns]
    if rank is not None:
        cols = ["_rank", *cols]
        t["_rank"] = rank
    out = t.groupby([*cols, "zone"], dropna=False, observed=True).size()
    out = out.unstack("zone", fill_value=0).reset_index()
    out = out.drop(columns="_rank", errors="ignore")
    if "industry_status" in out.columns and (out["industry_status"] == "unrecognised").any():
        unrec = out["industry_status"] == "unrecognised"
        apart = out["industry_id"].astype(str).str.contains("name different industries")
        out["how_to_map"] = np.where(
            unrec & apart,
            "correct the industry or its code in the file: they name different industries",
            np.where(
                unrec,
                "add it to the synonyms of its industry under [vocabularies.industries] in "
                "the rules file, or give a GB/T 4754 code",
                "",
            ),
        )
    return out
