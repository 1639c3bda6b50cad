"""Projects given in a datum with no published shift to CGCS2000 (Xi'an 1980, Beijing 1954).

PROJ has no parameters for these datums: the shift is approximated (the ellipsoid change
only), while the real difference in Shanxi is tens of metres. The caveat was printed to the
terminal only, and a verdict decided by a distance within that error of a threshold (20 km
from a built-up area, a red line a few tens of metres away) was given without a word. Here
the caveat goes with the answer (``site_check.json`` ``input.caveats``, the printable
report next to the coordinates, each project's ``geometry_note`` in the CSV), and a project
whose verdict could change if it moved by :data:`MARGIN_M` in any direction is flagged:
"within the Xian 1980 approximation (100 m) of ...: confirm with CGCS2000 coordinates".

A shift of at most ``M`` metres changes a rule's outcome only when

* ``site_within_distance``: the distance ``d`` (ellipsoidal) lies within ``M`` of the rule's
  distance ``T``: ``|d - T| <= M``;
* ``site_overlap``, not fired: a feature the rule looks at lies within ``M`` of the project;
* ``site_overlap``, fired: the project does not reach the union of the touched features
  shrunk by ``M`` (it lies in them by less than ``M``), in the working CRS (metres).

The last test may flag a project lying across a feature narrower than ``2 M`` (a river's red
line): said, never missed. Only rules that apply to the project's industry and kind count.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from sxzones.analyses.site_check import SiteCheckResult
from sxzones.layers import LayerReport
from sxzones.rules import Rule, RuleSet
from sxzones.vocab import split_ids

__all__ = ["MARGIN_M", "datum_caveats", "datum_of", "flag_margins", "project_caveat"]

#: The error stated for the approximated shift (metres): "up to tens of metres" in Shanxi,
#: taken as 100 m so that a flagged verdict is one a correct shift could change.
MARGIN_M = 100.0

#: The code of validation's note on a datum without a published shift.
DATUM_CODE = "datum_shift_approximate"

#: What each layer role's features are, for the flag's text.
_WHAT = {
    "redline": "a red line",
    "builtup": "a built-up area",
    "zones": "zone {v}",
    "control_units": "a {v} unit",
}


def datum_of(prep: LayerReport) -> str | None:
    """The projects' datum when its shift to CGCS2000 is approximated (``Xian 1980``), from
    validation's note; None otherwise."""
    note = next((f for f in prep.findings if f.code == DATUM_CODE), None)
    if note is None:
        return None
    return note.message.split(" to CGCS2000", 1)[0].strip() or "the datum"


def datum_caveats(prep: LayerReport) -> list[str]:
    """The projects' datum caveat as the JSON's ``input.caveats`` (empty: none)."""
    datum = datum_of(prep)
    if datum is None:
        return []
    return [
        f"the projects' coordinates are in {datum}, which has no published parameters to "
        "CGCS2000 in PROJ: the shift is approximated (error up to tens of metres). A verdict "
        f"within {MARGIN_M:g} m of a threshold is flagged in its project's geometry_note: "
        "confirm it with CGCS2000 coordinates"
    ]


def project_caveat(datum: str) -> str:
    """The caveat each project's ``geometry_note`` carries."""
    return f"{datum} coordinates: the shift to CGCS2000 is approximated (up to tens of metres)"


def flag_margins(result: SiteCheckResult, prep: LayerReport, rules: RuleSet) -> None:
    """Put the datum caveat, and the thresholds each verdict lies within :data:`MARGIN_M`
    of, into ``result.table["geometry_note"]`` when the projects' datum is approximated;
    nothing otherwise."""
    datum = datum_of(prep)
    if datum is None:
        return
    table = result.table
    n = len(table)
    flags: list[list[str]] = [[] for _ in range(n)]
    fired = [set(str(r).split(";")) for r in table["rule_ids"].tolist()]
    for rule in rules.of_kind("site_overlap", "site_within_distance"):
        applies = _applies(rule, table)
        did = np.array([rule.id in f for f in fired], dtype=bool)
        for k, said in _rule_flags(rule, result, applies, did):
            flags[k].append(said)
    for k, said in _border_flags(result, rules):
        flags[k].append(said)
    old = table["geometry_note"].fillna("").astype(str).tolist() if "geometry_note" in table else []
    notes = []
    for k in range(n):
        parts = [project_caveat(datum)]
        if flags[k]:
            parts.append(
                f"within the {datum} approximation ({MARGIN_M:g} m) of: "
                + "; ".join(flags[k])
                + ": confirm with CGCS2000 coordinates"
            )
        if old and old[k]:
            parts.append(old[k])
        notes.append("; ".join(parts))
    table["geometry_note"] = np.array(notes, dtype=object)


def _border_flags(result: SiteCheckResult, rules: RuleSet) -> list[tuple[int, str]]:
    """(project position, text) for each project that lies within :data:`MARGIN_M` (working
    CRS, metres) both of a county inside the rules' jurisdiction and of one outside it (the
    admin layer's counties, judged by their adcodes): a shift of that much could move it
    across the province's border, which decides whether the plan applies at all (an
    ``unassessed`` project outside, audit 10 D12). None without an admin layer or a
    jurisdiction."""
    frame = result.layers.frames.get("admin")
    if frame is None or rules.jurisdiction is None or "adcode" not in frame:
        return []
    counties = frame[frame["level"].astype(str) == "county"] if "level" in frame else frame
    out_rows = rules.outside(counties["adcode"].astype(str).to_numpy())
    cg = counties.geometry.to_numpy()
    geoms = result.table.geometry.to_numpy()
    near = []
    for sel in (out_rows, ~out_rows):
        if not sel.any():
            return []
        hit = shapely.STRtree(cg[sel]).query(geoms, predicate="dwithin", distance=MARGIN_M)
        near.append(set(hit[0].tolist()))
    _, zh, en = rules.jurisdiction
    text = f"the border of {en} ({zh}), where the plan applies, less than {MARGIN_M:g} m away"
    return [(k, text) for k in sorted(near[0] & near[1])]


def _applies(rule: Rule, table: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Per project, whether the rule applies to its industry (any of a combined works')
    and kind."""
    ok = np.array(
        [any(p in rule.industries for p in split_ids(str(i))) for i in table["industry_id"]],
        dtype=bool,
    )
    if rule.project_kinds:
        ok &= table["kind"].astype(str).isin(rule.project_kinds).to_numpy()
    return ok


def _rule_flags(
    rule: Rule, result: SiteCheckResult, applies: npt.NDArray[np.bool_], did: npt.NDArray[np.bool_]
) -> list[tuple[int, str]]:
    """(project position, text) for each project whose outcome of ``rule`` a shift of
    :data:`MARGIN_M` could change."""
    table = result.table
    if rule.kind == "site_within_distance":
        if "builtup_distance_m" not in table:
            return []
        limit = float(rule.distance_m or 0.0)
        d = table["builtup_distance_m"].to_numpy(dtype=float)
        near = applies & (d > 0) & (np.abs(d - limit) <= MARGIN_M)
        names = table["nearest_builtup"].astype(str).to_numpy()
        return [
            (int(k), f"{limit / 1000:g} km ({rule.id}: {d[k]:,.2f} m from {names[k]})")
            for k in np.flatnonzero(near)
        ]
    frame = result.layers.frames.get(rule.layer_role)
    if frame is None or not applies.any():
        return []
    sel = np.ones(len(frame), dtype=bool)
    for col, v in rule.where.items():
        sel &= frame[col].astype(str).to_numpy() == v if col in frame else False
    feats = frame.geometry.to_numpy()[sel]
    if not len(feats):
        return []
    what = _WHAT.get(rule.layer_role, "a feature of {v}").format(
        v=", ".join(rule.where.values()) or rule.layer_role
    )
    tree = shapely.STRtree(feats)
    geoms = table.geometry.to_numpy()
    out: list[tuple[int, str]] = []
    outside = np.flatnonzero(applies & ~did)
    if len(outside):
        hit = tree.query(geoms[outside], predicate="dwithin", distance=MARGIN_M)
        for k in np.unique(outside[hit[0]]):
            out.append((int(k), f"{what} less than {MARGIN_M:g} m away ({rule.id})"))
    for k in np.flatnonzero(applies & did):
        touched = feats[tree.query(geoms[k], predicate="intersects")]
        core = shapely.union_all(touched).buffer(-MARGIN_M)
        if not shapely.intersects(geoms[k], core):
            out.append((int(k), f"{what} it lies in by less than {MARGIN_M:g} m ({rule.id})"))
    return out
