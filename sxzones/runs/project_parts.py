"""Projects given in parts: rows of a projects file that share a project id.

A project built in phases (一期, 二期) or on parcels apart is often listed one row per parcel
under one 项目编号. Validation keeps the first row of an id and rejects the others as
duplicates, and the project was reported ``clear`` on its first parcel alone while its second
lay in a built-up area (an independent check found it so). Here rows sharing an id with the
same industry and kind are one project: the union of its parts (in the working CRS), its
verdict from all of them, said as a note, as 界址点 parcels sharing a 地块编号 already are.
Rows sharing an id with a different industry or kind cannot be one project: each is rejected
with a reason naming the other rows, and so is every part of a project one of whose parts
was rejected for another reason (no verdict for an id while part of its land is unchecked).

Input rows = checked rows + rejected rows still holds: the parts of a project are checked
rows, and the summary says how many rows made how many projects.

The siting screen's candidates are read the same way (:data:`CANDIDATES`): parts of a
parcel sharing a 地块编号 with the same kind (and state: 稳沉, 封场年份) are one candidate, the
union of its parts; with another kind they are rejected, each naming the other rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from geopandas.array import from_shapely
from pyproj import CRS

from sxzones.analyses.firm_zones import resolve_industries
from sxzones.errors import LayerError
from sxzones.layers import LayerReport, validate_layer
from sxzones.layers.readers import ROW, RawLayer
from sxzones.layers.schemas import ROLES
from sxzones.layers.validate import Finding
from sxzones.rules import RuleSet
from sxzones.vocab import MISSING, RECOGNISED, id_key, normalise

__all__ = [
    "CANDIDATES",
    "PARTS_CODE",
    "PROJECTS",
    "PartsOf",
    "merge_parts",
    "parts_counts",
    "validate_parts",
]

#: The code of the note that says which rows were checked as parts of one project.
PARTS_CODE = "project_parts"


@dataclass(frozen=True)
class PartsOf:
    """What the rows sharing an id are parts of, and the words that say it.

    Attributes
    ----------
    role : str
        The role the rows are validated for (a key of :data:`sxzones.layers.ROLES`).
    noun : str
        What one id names (``project``, ``candidate``): in the codes (``{noun}_parts``,
        ``{noun}_parts_differ``, ``{noun}_part_rejected``) and the messages.
    verb : str
        What is done with it (``checked``, ``screened``).
    agree : tuple of str
        The fields the parts must agree on (as validation reads them); for projects the
        industry and kind as the rules' vocabularies read them (:func:`_signatures`).
    agree_said : str
        Those fields in words, for the messages.
    """

    role: str
    noun: str
    verb: str
    agree: tuple[str, ...]
    agree_said: str

    @property
    def id_col(self) -> str:
        """The canonical id field of the role (``project_id``, ``site_id``)."""
        return str(ROLES[self.role].id_field)


#: A site check's projects: parts agree on the industry and the kind (新建, 迁建 ...).
PROJECTS = PartsOf("projects", "project", "checked", (), "industry and kind")
#: The siting screen's candidates: parts agree on the kind and the state the score reads.
CANDIDATES = PartsOf(
    "candidates",
    "candidate",
    "screened",
    ("kind", "settled", "closure_year"),
    "kind and state (settled, closure year)",
)


def validate_parts(
    raw: RawLayer,
    mapping: dict[str, str],
    working_crs: CRS | int | str,
    study_area: tuple[float, float, float, float] | None,
    of: PartsOf = PROJECTS,
    name: str | None = None,
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """``validate_layer(raw, of.role, ...)``, with every row whose id repeats an earlier
    row's validated as a row of its own (not rejected as a duplicate): its id is made unique
    for validation (``XM01 (part at row 3)``) and given back after, in the rows and in
    the rejects. :func:`merge_parts` then makes the parts one project (or candidate).

    The file is validated a second time only when some id repeats (the usual file, one row
    per project, is validated once). ``working_crs``: the projected CRS of the result;
    ``name``: the layer's name in the report (default ``of.role``)."""

    def validate(layer: RawLayer) -> tuple[gpd.GeoDataFrame, LayerReport]:
        return validate_layer(
            layer,
            of.role,
            name=name or of.role,
            working_crs=working_crs,
            fields=mapping,
            study_area=study_area,
        )

    projects, report = validate(raw)
    dups = [r for r in report._rejects if r["code"] == "duplicate_id"]
    col = dups[0]["field"] if dups else None
    if col is None or col not in raw.frame.columns:
        return projects, report
    frame = raw.frame.copy()
    rows = frame[ROW].to_numpy()
    part = np.isin(rows, [int(r["source_row"]) for r in dups])
    ids = frame[col].astype(object)
    given = {int(r): str(v) for r, v in zip(rows[part], ids[part], strict=True)}
    tagged = ids.copy()
    tagged[part] = [f"{v} (part at row {r})" for r, v in given.items()]
    frame[col] = tagged
    projects, report = validate(replace(raw, frame=frame))
    back = projects[ROW].isin(given).to_numpy()
    if back.any():
        pid = np.array(projects[of.id_col].astype(object).to_numpy(), dtype=object)
        pid[back] = [given[int(r)] for r in projects.loc[back, ROW]]
        projects[of.id_col] = pid
    for rej in report._rejects:
        if int(rej["source_row"]) in given:
            rej["id"] = given[int(rej["source_row"])]
    return projects, report


def merge_parts(
    projects: gpd.GeoDataFrame,
    report: LayerReport,
    rules: RuleSet,
    of: PartsOf = PROJECTS,
    written: pd.DataFrame | None = None,
) -> gpd.GeoDataFrame:
    """The validated ``projects`` with the rows sharing a project id made one project each:
    the union of the parts' geometries, the first part's row and attributes, the names
    joined, declared areas (hectares) added when every part declares one, and a
    ``geometry_note`` naming the rows. Parts that disagree on the industry or kind (as the
    rules' vocabularies read them: 化工 and chemical agree), or are points (the check's
    distances are a parcel's or a point's, not several points') or a point beside a parcel,
    are rejected, each naming the other rows; so are the checked parts of a project one of
    whose parts was rejected. Said in ``report`` (a note, and the rejected rows).

    ``of``: what the rows are (:data:`PROJECTS`, :data:`CANDIDATES`: candidates' parts
    agree on the fields of ``of.agree`` as validation read them). Geometries in the working
    (projected) CRS; the union is made there. ``written``: the file's rows as read (with
    :data:`ROW`), to show a differing value as written beside the one read (``废弃矿山
    (abandoned_mine)``)."""
    info = projects.attrs.get("sxzones", {})
    names: dict[str, str] = dict(info.get("fields") or {})
    # the messages name the id field as "project_id" is named: a candidate's is its site_id's
    names.setdefault("project_id", names.get(of.id_col, of.id_col))
    word = str(info.get("row_word") or "row")
    # ids compared as validation compares them (Ｋ1, k1 and K1 are one id), said as written
    ids = projects[of.id_col].astype(str)
    key = id_key(ids).to_numpy()
    rejected = _with_rejected_part(key, projects, report, names, word, of)
    shared = pd.Series(key).duplicated(keep=False).to_numpy() & ~rejected
    if not shared.any():
        return _drop(projects, rejected, report, of=of)
    signs = _signatures(projects, rules, of)
    geoms = projects.geometry.to_numpy().copy()
    family = np.isin(shapely.get_type_id(geoms), (0, 4))  # points; else parcels
    absorbed = np.zeros(len(projects), dtype=bool)
    merged: list[tuple[str, list[int]]] = []
    notes = (
        np.array(projects["geometry_note"].to_numpy(), dtype=object)
        if "geometry_note" in projects
        else None
    )
    rows = projects[ROW].to_numpy()
    for _, at in pd.Series(np.flatnonzero(shared)).groupby(key[shared], sort=False):
        pos = at.to_numpy()
        pid, alias = _written(ids.to_numpy()[pos])
        why = _disagree(pos, signs, family, projects, names, written)
        if why:
            _reject_parts(pos, (pid, alias), why, projects, report, names, word, of)
            rejected[pos] = True
            continue
        geoms[pos[0]] = shapely.union_all(geoms[pos])
        absorbed[pos[1:]] = True
        merged.append((pid + alias, [int(r) for r in rows[pos]]))
        if notes is not None:
            said = f"one {of.noun} of {len(pos)} parts ({word}s {_listed(rows[pos])})"
            notes[pos[0]] = "; ".join([said, *(str(n) for n in notes[pos] if n)])
    out = projects.copy()
    out[out.geometry.name] = from_shapely(geoms, crs=projects.crs)
    if notes is not None:
        out["geometry_note"] = notes
    _merge_attributes(out, merged)
    if merged:
        _say_merged(report, merged, names, word, of)
    return _drop(out, rejected | absorbed, report, n_rejected=int(rejected.sum()), of=of)


def parts_counts(
    report: LayerReport, n_projects: int, of: PartsOf = PROJECTS
) -> tuple[int, int] | None:
    """(rows, projects) of the projects given in parts (checked rows that made fewer
    projects), from the note :func:`merge_parts` leaves in ``report``; None when there is
    none. ``n_projects``: the projects checked (the result's rows); ``of``: what they are
    (:data:`CANDIDATES`: rows and candidates screened)."""
    note = next((f for f in report.findings if f.code == _code(of, "parts")), None)
    if note is None:
        return None
    rows = len(note.rows)
    return rows, rows - (report.n_loaded - n_projects)


def _code(of: PartsOf, what: str) -> str:
    """A code of ``of``'s parts: ``project_parts``, ``candidate_parts_differ`` ..."""
    return f"{of.noun}_{what}"


_Signs = list[tuple[npt.NDArray[np.object_], tuple[str, ...]]]


def _signatures(projects: gpd.GeoDataFrame, rules: RuleSet, of: PartsOf) -> _Signs:
    """Per field the parts must agree on, each row's value as read, with the columns that
    show it: for projects (``of.agree`` empty) the industry and the kind (:func:`_project_
    signatures`); else the fields of ``of.agree`` the rows have, as validation read them."""
    if not of.agree:
        industry, kind = _project_signatures(projects, rules)
        return [(industry, ("industry", "industry_code")), (kind, ("kind",))]
    return [
        (np.array([str(v) for v in projects[c].astype(object)], dtype=object), (c,))
        for c in of.agree
        if c in projects
    ]


def _project_signatures(
    projects: gpd.GeoDataFrame, rules: RuleSet
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Per row, the industry and the kind as the check reads them: the vocabulary's
    identifier, or the text as written (normalised) where the vocabulary knows none; a
    blank kind is new (新建), as the check reads it."""
    n = len(projects)

    def text(col: str) -> npt.NDArray[np.object_]:
        if col not in projects:
            return np.full(n, "", dtype=object)
        return np.array([normalise(v) for v in projects[col].astype(str)], dtype=object)

    ids, status = resolve_industries(projects, rules.industries)
    written = text("industry") + "|" + text("industry_code")
    industry = np.where(status == RECOGNISED, ids, "?" + written)
    if "kind" not in projects:
        return industry, np.full(n, "new", dtype=object)
    kids, kstatus = rules.project_kinds.resolve_many(projects["kind"])
    kind = np.where(
        kstatus == MISSING, "new", np.where(kstatus == RECOGNISED, kids, "?" + text("kind"))
    )
    return industry, kind


def _shown_value(
    projects: gpd.GeoDataFrame,
    col: str,
    k: int,
    source: str | None = None,
    written: pd.DataFrame | None = None,
) -> str:
    """A row's value of ``col`` (``blank`` for an empty cell); with the file's rows as read
    (``written``) and the column ``col`` was read from (``source``), the value as written
    followed by the one read when they differ: ``废弃矿山 (abandoned_mine)``."""

    def shown(v: Any) -> str:
        return "" if v is None or (isinstance(v, float) and v != v) else str(v).strip()

    if col not in projects:
        return "blank"
    text = shown(projects[col].iloc[k])
    if written is not None and source in written.columns:
        raw = written.loc[written[ROW] == projects[ROW].iloc[k], source]
        given = shown(raw.iloc[0]) if len(raw) else text
        if given != text:
            return f"{given or 'blank'} ({text or 'blank'})"
    return text or "blank"


def _disagree(
    pos: npt.NDArray[np.intp],
    signs: _Signs,
    family: npt.NDArray[np.bool_],
    projects: gpd.GeoDataFrame,
    names: dict[str, str],
    written: pd.DataFrame | None = None,
) -> str:
    """How the parts at ``pos`` disagree ("" when they are one project's parts): the
    fields that differ with each part's value (as written, see :func:`_shown_value`), or a
    point beside a parcel."""
    said = []
    for sig, cols in signs:
        if len(set(sig[pos])) > 1:
            for col in (c for c in cols if c in projects):
                values = ", ".join(
                    f"row {projects[ROW].iloc[k]}: "
                    + _shown_value(projects, col, k, names.get(col), written)
                    for k in pos
                )
                said.append(f"{names.get(col, col)} differs ({values})")
    if len(set(family[pos])) > 1:
        said.append("a point and a parcel")
    elif family[pos].all():  # a multipoint's distances are not a site's: never made
        said.append("points, and a project's site is not several points")
    return "; ".join(said)


def _reject_parts(
    pos: npt.NDArray[np.intp],
    pid: tuple[str, str],
    why: str,
    projects: gpd.GeoDataFrame,
    report: LayerReport,
    names: dict[str, str],
    word: str,
    of: PartsOf = PROJECTS,
) -> None:
    """Reject the parts at ``pos`` of id ``pid`` (as the first part writes it, and the
    other ways the parts write it: :func:`_written`), which cannot be one project."""
    idname = names.get("project_id", "project_id")
    rows = [int(r) for r in projects[ROW].iloc[pos]]
    given = dict(zip(rows, projects[of.id_col].iloc[pos].astype(str), strict=True))
    shown = f"'{pid[0]}'{pid[1]}"
    n = of.noun
    fix = (
        f"if the {word}s are parts of one {n}, give them the same {of.agree_said}"
        + (" (and its parcels, not points)" if of is PROJECTS else "")
        + f"; if they are different {n}s, give each its own {idname}"
    )
    for r in rows:
        others = _listed([x for x in rows if x != r])
        report._rejects.append(
            {
                "layer": report.name,
                "source_row": r,
                "id": given[r],
                "code": _code(of, "parts_differ"),
                "field": idname,
                "reason": f"{idname} {shown} is also given on {word} {others}, and the {word}s "
                f"cannot be one {n}: {why}. Fix: {fix}",
            }
        )
    report.findings.append(
        Finding(
            "rejected",
            _code(of, "parts_differ"),
            f"{idname} {shown} on {len(rows)} {word}s that cannot be one {n} ({why}): "
            f"none of them is {of.verb}",
            tuple(rows),
            idname,
            fix,
            word,
        )
    )


def _written(ids: npt.NDArray[np.object_]) -> tuple[str, str]:
    """An id as its first part writes it, and the other ways its parts write it for the
    messages (`` (also written 'k1')``; "" when they all write it alike)."""
    others = [str(v) for v in dict.fromkeys(ids[1:]) if v != ids[0]]
    also = "', '".join(others)
    return str(ids[0]), (f" (also written '{also}')" if others else "")


def _with_rejected_part(
    key: npt.NDArray[np.object_],
    projects: gpd.GeoDataFrame,
    report: LayerReport,
    names: dict[str, str],
    word: str,
    of: PartsOf = PROJECTS,
) -> npt.NDArray[np.bool_]:
    """Reject the checked rows of an id one of whose other rows validation rejected (a
    parcel without coordinates, an empty geometry ...): the project would be judged on part
    of its land. Returns the rows so rejected."""
    gone: dict[str, list[dict[str, Any]]] = {}
    for rej in report._rejects:
        if rej.get("id") not in (None, "") and rej["code"] != "missing_value":
            gone.setdefault(id_key(pd.Series([str(rej["id"])])).iloc[0], []).append(rej)
    out = np.zeros(len(key), dtype=bool)
    if not gone:
        return out
    out = np.isin(key, list(gone))
    if not out.any():
        return out
    idname = names.get("project_id", "project_id")
    rows = projects[ROW].to_numpy()
    for k in np.flatnonzero(out):
        parts = gone[str(key[k])]
        where = _listed([int(p["source_row"]) for p in parts])
        report._rejects.append(
            {
                "layer": report.name,
                "source_row": int(rows[k]),
                "id": str(key[k]),
                "code": _code(of, "part_rejected"),
                "field": idname,
                "reason": f"another part of {idname} '{key[k]}' ({word} {where}) was rejected "
                f"({parts[0]['reason']}): the {of.noun} is not {of.verb} on part of its land. "
                f"Fix: correct {word} {where}",
            }
        )
    report.findings.append(
        Finding(
            "rejected",
            _code(of, "part_rejected"),
            f"parts of a {of.noun} another part of which was rejected ({idname} "
            f"{', '.join(sorted({str(x) for x in key[out]})[:5])}): not {of.verb} on part of "
            "its land",
            tuple(int(r) for r in rows[out]),
            idname,
            "correct the rejected part",
            word,
        )
    )
    return out


def _merge_attributes(out: gpd.GeoDataFrame, merged: list[tuple[str, list[int]]]) -> None:
    """The first part's row of each merged project given the parts' names (joined with
    、) and their declared areas added (hectares; blank unless every part declares one)."""
    if not merged:
        return
    at = {int(r): k for k, r in enumerate(out[ROW].to_numpy())}
    for col in ("name", "declared_area"):
        if col not in out:
            continue
        values = np.array(out[col].astype(object).to_numpy(), dtype=object)
        for _, rows in merged:
            parts = [values[at[r]] for r in rows]
            values[at[rows[0]]] = _joined(parts) if col == "name" else _added(parts)
        out[col] = values


def _joined(names: list[Any]) -> Any:
    """Distinct non-blank names joined with 、 (the first when there is one)."""
    kept = [str(n).strip() for n in names if n is not None and str(n).strip() not in ("", "nan")]
    return "、".join(dict.fromkeys(kept)) if kept else names[0]


def _added(areas: list[Any]) -> Any:
    """The sum of declared areas, or NaN when some part declares none."""
    values = pd.to_numeric(pd.Series(areas, dtype=object), errors="coerce")
    return float(values.sum()) if values.notna().all() else np.nan


def _say_merged(
    report: LayerReport,
    merged: list[tuple[str, list[int]]],
    names: dict[str, str],
    word: str,
    of: PartsOf = PROJECTS,
) -> None:
    """The note naming the projects (or candidates) given in parts and their rows."""
    idname = names.get("project_id", "project_id")
    shown = "; ".join(f"{pid} ({word}s {_listed(rows)})" for pid, rows in merged[:5])
    more = f" and {len(merged) - 5} more" if len(merged) > 5 else ""
    n_rows = sum(len(rows) for _, rows in merged)
    report.findings.append(
        Finding(
            "note",
            _code(of, "parts"),
            f"{n_rows} {word}s share a {idname} with the same {of.agree_said}: {of.verb} as "
            f"{len(merged)} {of.noun}(s), each the union of its parts with its "
            + ("verdict" if of is PROJECTS else "eligible land and capacity")
            + f" from all of them: {shown}{more}",
            tuple(r for _, rows in merged for r in rows),
            idname,
            f"if they are different {of.noun}s, give each its own {idname}",
            word,
        )
    )


def _drop(
    projects: gpd.GeoDataFrame,
    mask: npt.NDArray[np.bool_],
    report: LayerReport,
    n_rejected: int = -1,
    of: PartsOf = PROJECTS,
) -> gpd.GeoDataFrame:
    """``projects`` without the rows under ``mask`` (rejected or absorbed into another
    part); the report's checked rows less the rejected ones (``n_rejected``; -1: all of
    ``mask``). Refused when no project is left, as validation refuses."""
    if not mask.any():
        return projects
    report.n_loaded -= int(mask.sum()) if n_rejected < 0 else n_rejected
    out = projects.loc[~mask].copy()
    out.index = pd.RangeIndex(len(out))
    if len(out) == 0:
        raise LayerError(f"{report.path}: no {of.noun} passed validation.\n{report.summary()}")
    return out


def _listed(rows: Any) -> str:
    """Row numbers for a message: ``2, 3 and 7``."""
    r = [str(int(x)) for x in rows]
    return r[0] if len(r) == 1 else ", ".join(r[:-1]) + " and " + r[-1]
