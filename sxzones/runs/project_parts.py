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
from sxzones.errors import NoFeatureError
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
    **options: Any,
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """``validate_layer(raw, of.role, ...)``, with every row whose id repeats an earlier
    row's validated as a row of its own (not rejected as a duplicate): its id is made unique
    for validation (``XM01 (part at row 3)``) and given back after, in the rows and in
    the rejects. :func:`merge_parts` then makes the parts one project (or candidate).

    The file is validated a second time only when some id repeats (the usual file, one row
    per project, is validated once). ``working_crs``: the projected CRS of the result;
    ``name``: the layer's name in the report (default ``of.role``); ``options``: more of
    :func:`~sxzones.layers.validate_layer`'s keywords (a catalogue entry's constants, values,
    id field and provenance: :func:`sxzones.layers.catalog.validation_options`)."""

    def validate(layer: RawLayer) -> tuple[gpd.GeoDataFrame, LayerReport]:
        return validate_layer(
            layer,
            of.role,
            name=name or of.role,
            working_crs=working_crs,
            fields=mapping,
            study_area=study_area,
            **options,
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
    gone = _gone_parts(report)
    hit = np.isin(key, list(gone)) if gone else np.zeros(len(key), dtype=bool)
    shared = pd.Series(key).duplicated(keep=False).to_numpy()
    if not (shared | hit).any():
        return projects
    signs = _signatures(projects, rules, of)
    geoms = projects.geometry.to_numpy().copy()
    family = np.isin(shapely.get_type_id(geoms), (0, 4))  # points; else parcels
    lost = _Lost(gone, written, rules, of, bool(info.get("coordinate_columns")))
    rejected = _with_rejected_part(key, hit, signs, family, projects, report, names, word, lost)
    shared = shared & ~rejected
    if not shared.any():
        return _drop(projects, rejected, report, of=of)
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
        why = _disagree(pos, signs, family, projects, names, written, word)
        if why:
            _reject_parts(pos, (pid, alias), why, projects, report, names, word, of)
            rejected[pos] = True
            continue
        geoms[pos[0]] = shapely.union_all(geoms[pos])
        absorbed[pos[1:]] = True
        merged.append((pid + alias, [int(r) for r in rows[pos]]))
        if notes is not None:
            said = f"one {of.noun} of {len(pos)} parts ({word}s {_listed(rows[pos], None)}"
            said += f"; {names['project_id']} '{pid}'{alias})" if alias else ")"
            parts = zip(rows[pos], notes[pos], strict=True)  # each part's note, its row named
            notes[pos[0]] = "; ".join([said, *(f"{word} {r}: {n}" for r, n in parts if n)])
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


@dataclass(frozen=True)
class _Lost:
    """The rows validation rejected that carry an id (:func:`_gone_parts`: id key -> their
    reject records), and what tells whether they could be one project (or candidate) with
    the checked rows of their id: the file's rows as read (``written``, for the industry
    and kind they give), the rules, and whether every row of the file is a point (a table
    of coordinates: a row rejected for its coordinates is a point once corrected)."""

    gone: dict[str, list[dict[str, Any]]]
    written: pd.DataFrame | None
    rules: RuleSet
    of: PartsOf
    points: bool


@dataclass(frozen=True)
class _Extra:
    """Rejected rows of an id beside its checked parts (:func:`_disagree`): their row
    numbers, per signature of :func:`_signatures` their values (none where not known), the
    values as written per canonical field, and whether they are points."""

    rows: list[int]
    signs: list[npt.NDArray[np.object_]]
    shown: dict[str, list[str]]
    points: bool


def _extra(lost: _Lost, parts: list[dict[str, Any]], names: dict[str, str]) -> _Extra:
    """What the rejected ``parts`` of an id (reject records) give, for :func:`_disagree`:
    for projects the industry and kind their cells give, read as the check reads them."""
    rows = sorted({int(p["source_row"]) for p in parts})
    w = lost.written
    if w is None or lost.of is not PROJECTS or ROW not in w.columns:
        return _Extra(rows, [], {}, lost.points)
    at = w.set_index(ROW).reindex(rows)
    cells = {
        c: at[names.get(c, c)].astype(object).to_numpy()
        for c in ("industry", "industry_code", "kind")
        if names.get(c, c) in at.columns
    }
    if not cells:
        return _Extra(rows, [], {}, lost.points)
    frame = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in cells.items()})
    industry, kind = _project_signatures(frame, lost.rules)
    shown = {
        c: [("" if pd.isna(v) else str(v).strip()) or "blank" for v in values]
        for c, values in cells.items()
    }
    return _Extra(rows, [industry, kind], shown, lost.points)


def _disagree(
    pos: npt.NDArray[np.intp],
    signs: _Signs,
    family: npt.NDArray[np.bool_],
    projects: gpd.GeoDataFrame,
    names: dict[str, str],
    written: pd.DataFrame | None = None,
    word: str = "row",
    extra: _Extra | None = None,
) -> str:
    """How the parts at ``pos`` disagree ("" when they are one project's parts): the
    fields that differ with each part's value (as written, see :func:`_shown_value`), or a
    point beside a parcel, or points. ``extra``: the id's rows validation rejected, compared
    where their cells tell (:func:`_extra`)."""
    said = []
    rows = [int(r) for r in projects[ROW].iloc[pos]]
    for j, (sig, cols) in enumerate(signs):
        more: Any = extra.signs[j] if extra is not None and j < len(extra.signs) else []
        if len({*sig[pos], *more}) < 2:
            continue
        for col in (c for c in cols if c in projects):
            shown = [
                (r, _shown_value(projects, col, k, names.get(col), written))
                for r, k in zip(rows, pos, strict=True)
            ]
            if len(more) and extra is not None:
                shown += list(zip(extra.rows, extra.shown.get(col, []), strict=False))
            shown.sort()
            values = ", ".join(f"{word} {r}: {v}" for r, v in shown[:_MOST])
            values += f" and {len(shown) - _MOST} more" if len(shown) > _MOST else ""
            said.append(f"{names.get(col, col)} differs ({values})")
    fam = [*family[pos], *([True] * len(extra.rows) if extra is not None and extra.points else [])]
    if len(set(fam)) > 1:
        said.append("a point and a parcel")
    elif all(fam) and len(fam) > 1:  # a multipoint's distances are not a site's: never made
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
    lost: list[dict[str, Any]] | None = None,
) -> None:
    """Reject the parts at ``pos`` of id ``pid`` (as the first part writes it, and the
    other ways the parts write it: :func:`_written`), which cannot be one project.
    ``lost``: the reject records of the id's rows validation rejected; they are named
    among the rows of the id, and their own reasons told that the id is shared."""
    idname = names.get("project_id", "project_id")
    rows = [int(r) for r in projects[ROW].iloc[pos]]
    gone = sorted({int(p["source_row"]) for p in lost or []})
    given = dict(zip(rows, projects[of.id_col].iloc[pos].astype(str), strict=True))
    shown = f"'{pid[0]}'{pid[1]}"
    n = of.noun
    fix = (
        f"if the {word}s are parts of one {n}, give them the same {of.agree_said}"
        + (" (and its parcels, not points)" if of is PROJECTS else "")
        + f"; if they are different {n}s, give each its own {idname}"
        + (
            f" ({_on(word, gone)} need{'s' if len(gone) == 1 else ''} its own correction too)"
            if gone
            else ""
        )
    )
    for rej in lost or []:  # the rejected row's fix alone would lead to this refusal
        others = _on(word, sorted({*rows, *gone} - {int(rej["source_row"])}))
        rej["reason"] = (
            f"{rej['reason']}; besides, {idname} {shown} is also given on {others}, "
            f"and the {word}s cannot be one {n} ({why}): if they are different {n}s, give "
            f"each its own {idname}"
        )
    for r in rows:
        others = _on(word, sorted({*rows, *gone} - {r}))
        report._rejects.append(
            {
                "layer": report.name,
                "source_row": r,
                "id": given[r],
                "code": _code(of, "parts_differ"),
                "field": idname,
                "reason": f"{idname} {shown} is also given on {others}, and the {word}s "
                f"cannot be one {n}: {why}. Fix: {fix}",
            }
        )
    report.findings.append(
        Finding(
            "rejected",
            _code(of, "parts_differ"),
            f"{idname} {shown} on {len(rows) + len(gone)} {word}s that cannot be one {n} "
            f"({why}): none of them is {of.verb}",
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


def _gone_parts(report: LayerReport) -> dict[str, list[dict[str, Any]]]:
    """The rows validation rejected that carry an id (a blank id is no project's part), by
    the id as compared (:func:`sxzones.vocab.id_key`)."""
    gone: dict[str, list[dict[str, Any]]] = {}
    for rej in report._rejects:
        if rej.get("id") not in (None, "") and rej["code"] != "missing_value":
            gone.setdefault(id_key(pd.Series([str(rej["id"])])).iloc[0], []).append(rej)
    return gone


def _with_rejected_part(
    key: npt.NDArray[np.object_],
    hit: npt.NDArray[np.bool_],
    signs: _Signs,
    family: npt.NDArray[np.bool_],
    projects: gpd.GeoDataFrame,
    report: LayerReport,
    names: dict[str, str],
    word: str,
    lost: _Lost,
) -> npt.NDArray[np.bool_]:
    """Reject the checked rows (``hit``) of an id one of whose other rows validation
    rejected (a parcel without coordinates, an empty geometry ...): the project would be
    judged on part of its land. Where the rows could not be one project anyway (industries
    or kinds that differ, points: :func:`_disagree`, the rejected rows' cells compared
    too), that is the reason given first, as correcting the rejected row alone would only
    lead to that refusal (audit: 24 rows told to correct row 2, then refused as points of
    other industries). Returns the rows so rejected."""
    out = hit.copy()
    if not out.any():
        return out
    of = lost.of
    idname = names.get("project_id", "project_id")
    rows = projects[ROW].to_numpy()
    ids = projects[of.id_col].astype(str).to_numpy()
    agree = np.zeros(len(key), dtype=bool)
    for k_id, at in pd.Series(np.flatnonzero(hit)).groupby(key[hit], sort=False):
        pos, parts = at.to_numpy(), lost.gone[str(k_id)]
        why = _disagree(pos, signs, family, projects, names, lost.written, word,
                        _extra(lost, parts, names))  # fmt: skip
        if why:
            pid, alias = _written(ids[pos])
            _reject_parts(pos, (pid, alias), why, projects, report, names, word, of, parts)
            continue
        agree[pos] = True
        where = _on(word, sorted({int(p["source_row"]) for p in parts}))  # "rows 7 and 8"
        first = min(parts, key=lambda p: int(p["source_row"]))  # the reason of the first
        for k in pos:
            report._rejects.append(
                {
                    "layer": report.name,
                    "source_row": int(rows[k]),
                    "id": ids[k],
                    "code": _code(of, "part_rejected"),
                    "field": idname,
                    "reason": f"another part of {idname} '{ids[k]}' ({where}) was "
                    f"rejected ({first['reason']}): the {of.noun} is not {of.verb} on part "
                    f"of its land. Fix: correct {where}",
                }
            )
    if agree.any():
        report.findings.append(
            Finding(
                "rejected",
                _code(of, "part_rejected"),
                f"parts of a {of.noun} another part of which was rejected ({idname} "
                f"{', '.join(sorted({str(x) for x in ids[agree]})[:5])}): not {of.verb} on "
                "part of its land",
                tuple(int(r) for r in rows[agree]),
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
    shown = "; ".join(f"{pid} ({word}s {_listed(rows, None)})" for pid, rows in merged[:5])
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
        raise NoFeatureError(
            f"{report.path}: no {of.noun} passed validation.\n{report.summary()}", report
        )
    return out


#: At most this many rows (or values) are listed in one message about the parts of an id:
#: a thousand rows sharing one id would otherwise make a reason of a thousand rows per row.
_MOST = 10


def _listed(rows: Any, most: int | None = _MOST) -> str:
    """Row numbers for a message: ``2, 3 and 7`` (beyond ``most``: ``2, 3 ... and 40
    more``; None: all)."""
    r = [str(int(x)) for x in rows]
    if most is not None and len(r) > most:
        return ", ".join(r[:most]) + f" and {len(r) - most} more"
    return r[0] if len(r) == 1 else ", ".join(r[:-1]) + " and " + r[-1]


def _on(word: str, rows: list[int]) -> str:
    """``row 3`` or ``rows 2, 3 and 7``."""
    return f"{word}{'s' if len(rows) > 1 else ''} {_listed(rows)}"
