"""Run the site check: read the projects, load the zoning layers by role, check, report."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.errors import GEOSException

from sxzones import __version__
from sxzones._util import is_existing_path
from sxzones.analyses.nearest import warm_up
from sxzones.analyses.site_check import SiteCheckResult, SiteLayers, check_sites
from sxzones.crs import latitude_first, parse_crs
from sxzones.errors import SxzonesError
from sxzones.i18n import Labels, Lang, check_lang, labels, translate_frame
from sxzones.layers import Catalog, LayerReport, read_file
from sxzones.layers.readers import ROW, RawLayer, geometry_from_wkt, refuse_several_parcels
from sxzones.layers.schemas import ROLES as LAYER_ROLES
from sxzones.layers.validate import Finding, _blank, usual_fields
from sxzones.maps.sources import report_sources, sources_line
from sxzones.options import REPORTS, CheckOptions
from sxzones.outputs import Publication, hash_ahead, write_csv, write_text
from sxzones.rules import RuleSet, bundled_rules, load_rules
from sxzones.runs import (
    RunResult,
    add_inputs,
    coordinate_fields,
    figure_paths,
    refusing_all_rejected,
)
from sxzones.runs.datum_margin import datum_caveats, datum_of, flag_margins, project_caveat
from sxzones.runs.one_project import plain_project
from sxzones.runs.project_parts import merge_parts, parts_counts, validate_parts
from sxzones.runs.provenance import layer_source
from sxzones.vocab import Vocabulary

ROLES = ("control_units", "redline", "builtup", "zones", "admin")
_LONLAT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*[,，\s]\s*(-?\d+(?:\.\d+)?)\s*$")
#: A --project that ends like a file name (or names a folder) is meant as a file.
_PATHLIKE = re.compile(r"[/\\]|\.[A-Za-z][A-Za-z0-9]{0,7}$", re.ASCII)


def site_layers(cat: Catalog, names: dict[str, str] | None = None) -> SiteLayers:
    """The site-check layers of a catalogue: for each role the named entry, else the first
    entry of that role (``admin``: the whole admin layer)."""
    names = dict(names or {})
    frames, sources, reports = {}, {}, {}
    for role in ROLES:
        name = names.get(role) or cat.layer_of_role(role)
        if name is None:
            continue
        frame, rep = cat.load_whole(name)  # a row left out would be land no rule sees
        frames[role] = frame
        # caveats are said in the summary and site_check.json, not only by layers validate
        sources[role] = layer_source(name, rep)
        reports[role] = rep
    missing = [r for r in ("control_units", "redline", "builtup") if r not in frames]
    if missing:
        raise SxzonesError(
            f"{cat.path}: no layer with role(s) {missing}; a site check needs "
            "control units, red lines and built-up areas"
        )
    return SiteLayers(frames, sources, reports)


def _dms_point(spec: str) -> shapely.Point | None:
    """``"112°30′15″,37°48′"`` (degrees-minutes-seconds, any comma between): the point, or
    None when ``spec`` is not two such values."""
    from sxzones.layers.dms import parse_dms_pair

    xy = parse_dms_pair(spec)
    return None if xy is None else shapely.Point(*xy)


def _text_geometry(spec: str, crs: str | None, name: str) -> RawLayer:
    """A project given as ``"lon,lat"`` or WKT in ``crs``.

    Raises
    ------
    SxzonesError
        ``spec`` looks like a file name (no such file), is neither ``lon,lat`` nor WKT, or
        ``crs`` is missing.
    """
    m = _LONLAT.match(spec)
    geom = shapely.Point(float(m.group(1)), float(m.group(2))) if m else _dms_point(spec)
    read: list[str] = []
    if geom is None:
        try:  # as a WKT cell is read: EWKT's SRID= prefix, an open ring closed
            geom, srid, read = geometry_from_wkt(spec)
            if srid is not None and crs is not None and parse_crs(crs).crs != CRS(srid):
                raise SxzonesError(
                    f"the project {spec!r} declares {srid} but --crs {crs} was given. Fix: "
                    "drop --crs (the SRID= prefix says the CRS) or correct the prefix"
                )
            crs = crs or srid
        except GEOSException as exc:
            if _PATHLIKE.search(spec.strip()):
                raise SxzonesError(
                    f"--project {spec!r}: no such file. Fix: check the path (relative paths "
                    f"start from {Path.cwd()}), or give the geometry as 'lon,lat' or WKT"
                ) from None
            raise SxzonesError(
                f"the project {spec!r} is neither an existing file, nor 'lon,lat', nor WKT "
                f"({exc}). Fix: e.g. --project '112.55,37.87', '112°33′,37°52′' or "
                "'POLYGON ((...))'"
            ) from exc
    if crs is None:
        raise SxzonesError(
            f"the project {spec!r} is a geometry written as text: give its CRS with --crs "
            "(wgs84 for GPS, gcj02 for Amap/Tencent, bd09 for Baidu, cgcs2000, gk38 ...)"
        )
    spec_crs = parse_crs(crs)
    text = [f"geometry given as text in {crs}", *read]
    if not spec_crs.crs.is_geographic:
        geom = _northing_first(geom, text)
    if isinstance(geom, shapely.Point) and not geom.is_empty and spec_crs.crs.is_geographic:
        lat, lon = geom.x, geom.y
        if latitude_first(lat, lon):  # in China a latitude is below a longitude
            geom = shapely.Point(lon, lat)
            text.append(
                f"point given latitude first (as Google Maps copies it): read as {lon:g}, {lat:g}"
            )
    frame = gpd.GeoDataFrame({ROW: [1], "project_id": [name]}, geometry=[geom])
    return RawLayer(Path("--project"), frame, spec_crs, text, row_word="row")


def _northing_first(geom: Any, text: list[str]) -> Any:
    """A projected geometry given as text with every pair northing first (X, Y as surveyors
    write them: ``4200000,38450000``) as easting, northing, said in ``text``; as written
    when the values do not say so (the rule of 界址点 files,
    :func:`sxzones.layers.jzd.axis_order`: the easting carries the zone prefix, or has 6
    digits against the northing's 7)."""
    from sxzones.layers.jzd import axis_order

    xy = shapely.get_coordinates(geom)
    if not len(xy) or axis_order([(float(a), float(b)) for a, b in xy]) is not False:
        return geom
    swapped = shapely.transform(geom, lambda c: c[:, ::-1])
    first = shapely.get_coordinates(swapped)[0]
    text.append(
        f"coordinates given northing first (X, Y as surveyors write them; told by the values): "
        f"read as easting {first[0]:.3f}, northing {first[1]:.3f}"
    )
    return swapped


def _project_fields(raw: RawLayer, fields: dict[str, str]) -> dict[str, str]:
    """The field mapping of a projects file; the id defaults to ``project_id``, then
    ``parcel_id`` (界址点 files), then the usual names (项目编号 ...), then the row number
    (the last two found by validation)."""
    cols = raw.frame.columns
    if "project_id" not in fields and "project_id" not in cols and "parcel_id" in cols:
        fields["project_id"] = "parcel_id"  # 界址点 files
    return fields


def read_projects(
    spec: str,
    cat: Catalog,
    *,
    crs: str | None = None,
    industry: str | None = None,
    kind: str | None = None,
    id_field: str | None = None,
    name: str = "P1",
    fields: dict[str, str] | None = None,
    encoding: str | None = None,
    layer: str | None = None,
    single: bool = False,
    raw: RawLayer | None = None,
    corners: bool = False,
    rules: RuleSet | None = None,
) -> tuple[gpd.GeoDataFrame, Any]:
    """Projects from a file, a WKT geometry or ``"lon,lat"``, validated for role ``projects``
    and brought to the working CRS. Geometries given as text need ``crs``.

    ``fields`` maps canonical fields of role ``projects`` (``project_id``, ``industry``,
    ``kind``, ``name``) to the file's own; ``id_field`` is the same as
    ``fields["project_id"]``. ``industry`` and ``kind`` are values for every project.
    ``layer``: the GeoPackage layer or workbook sheet to read. ``single``: the spec is one
    project (``--project``), so a table of points is refused (each row would be a project
    of its own). ``raw``: the file ``spec`` as read already
    (a server makes a drawn parcel's in memory as it writes the file). ``corners``: the
    file is a table of parcel corners (:func:`sxzones.layers.corners.read_corners`), one
    parcel per parcel number (``id_field`` names the column). ``rules``: the run's rules,
    whose vocabularies compare ``industry`` and ``kind`` with a file's own columns and the
    parts of a project (default: the bundled rules).

    Rows sharing a project id with the same industry and kind are one project, the union of
    its parts (:mod:`sxzones.runs.project_parts`); a blank kind cell is said."""
    mapping, x, y = coordinate_fields(fields)
    if id_field:
        mapping["project_id"] = id_field
    path = Path(spec)
    pins: list[dict[str, Any]] = []
    if corners and raw is None:
        raw = _read_corners(path, crs, encoding, layer, x, y, mapping.pop("project_id", None))
        if single and len(raw.frame) > 1:
            raise SxzonesError(
                f"{path}: --project takes one project, but the corners make "
                f"{len(raw.frame)} parcels ({', '.join(raw.frame['parcel_id'][:5])} ...). "
                "Fix: use --projects (one project per parcel)"
            )
    if raw is not None or is_existing_path(path):
        if raw is None:
            raw = read_file(path, crs=crs, encoding=encoding, layer=layer, x=x, y=y)
        mapping = _project_fields(raw, mapping)
        if single:
            raw, pins = _pins_left_out(raw)
            refuse_several_parcels(raw, mapping.get("project_id"))
        if single and raw.frame.attrs.get("coordinate_columns") and len(raw.frame) > 1:
            raise SxzonesError(
                f"{path}: --project takes one project, but this table has {len(raw.frame)} "
                "rows of points (each row would be a project of its own). Fix: if the rows "
                "are a parcel's corners (界址点成果表), add --corners; to check every row as "
                "a project, use --projects"
            )
    else:
        if mapping or x:
            raise SxzonesError(
                f"the project {spec!r} is not a file: field options ({sorted(mapping)}) apply "
                "to a projects file only"
            )
        raw = _text_geometry(spec, crs, name)
    vocabs = rules if rules is not None else bundled_rules()
    filled: list[_Filled] = []  # a file's blank industry or kind cells the value given fills
    if raw.path.name:  # a file: its own industry and kind columns stand
        if industry is not None:
            filled.append(_over_column(raw, mapping, "industry", industry, vocabs.industries))
        if kind is not None:
            filled.append(_over_column(raw, mapping, "kind", kind, vocabs.project_kinds))
    constants = {k: v for k, v in (("industry", industry), ("kind", kind)) if v is not None}
    if not mapping:  # one drawn, pasted or typed project: made at once when nothing is found
        working = CRS.from_user_input(cat.working.crs)
        plain = plain_project(raw, working, constants, cat.study_area)
        if plain is not None:
            _reject_pins(plain[1], pins, raw.row_word)
            return _say_default_kind(*plain)
    if industry is not None:  # given for every project: it is the field (a 行业 column too)
        raw.frame["industry"] = industry
        mapping["industry"] = "industry"
    if kind is not None:
        raw.frame["kind"] = kind
        mapping["kind"] = "kind"
    projects, report = validate_parts(raw, mapping, cat.working.crs, cat.study_area)
    if not {"industry", "industry_code"} & set(projects.columns):
        raise SxzonesError(
            f"{raw.path}: the projects have no industry field: give --industry (steel, "
            "coking, cement, pv, wind, 光伏, 焦化, 2521 ...) or --industry-field"
        )
    _say_default_kind(projects, report)
    said = [_note_filled(f, report, raw.row_word) for f in filled if f.rows]
    if kind is None:
        said.append(_note_blank_kinds(projects, report, raw, mapping))
    if corners:  # how a table's corners were joined: in the files a reviewer keeps
        from sxzones.layers.corners import corner_notes

        said.append(corner_notes(raw))
    _geometry_notes(projects, report, said)
    projects = merge_parts(projects, report, vocabs, written=raw.frame)
    _reject_pins(report, pins, raw.row_word, len(projects))
    return projects, report


def _geometry_notes(
    projects: gpd.GeoDataFrame, report: LayerReport, said: list[dict[int, str]] | None = None
) -> None:
    """The ``geometry_note`` column, the project's notes (in the CSV, site_check.json and
    the printable report): what repair did to its geometry, then ``said`` (per source row,
    a note: a blank 建设性质 read as new, a blank cell filled by ``--kind`` ...)."""
    notes: dict[int, list[str]] = {}
    for f in report.findings:
        if f.kind == "repaired":
            for r in f.rows:
                notes[r] = [f"invalid geometry repaired: {f.message}"]
    for per_row in said or []:
        for r, note in per_row.items():
            notes.setdefault(r, []).append(note)
    if not notes:  # most files: no note (100,000 rows: 40 ms of joins of nothing)
        projects["geometry_note"] = np.full(len(projects), "", dtype=object)
        return
    projects["geometry_note"] = ["; ".join(notes.get(int(r), ())) for r in projects[ROW]]


def _read_corners(
    path: Path,
    crs: str | None,
    encoding: str | None,
    layer: str | None,
    x: str | None,
    y: str | None,
    id_field: str | None,
) -> RawLayer:
    """``--corners``: the file as a table of parcel corners, one parcel per parcel number."""
    from sxzones.layers.corners import read_corners

    if not is_existing_path(path):
        raise SxzonesError(
            f"--corners reads a table of corner points, but {str(path)!r} is not a file. "
            "Fix: give the table's path, or leave out --corners"
        )
    return read_corners(path, crs=crs, encoding=encoding, layer=layer, x=x, y=y, id_field=id_field)


def _pins_left_out(raw: RawLayer) -> tuple[RawLayer, list[dict[str, Any]]]:
    """``--project`` is one project: a file holding a parcel and a pin beside it (Google
    Earth's placemark at the gate or on the name) is the parcel; the pins are left out (each
    with its row and name, rejected by :func:`_reject_pins`), where they were checked as
    projects of their own. The layer unchanged (and no pins) when it holds no polygon or no
    point."""
    frame = raw.frame
    kinds = shapely.get_type_id(frame.geometry.to_numpy())
    pins, parcels = np.isin(kinds, (0, 4)), np.isin(kinds, (3, 6))
    if not pins.any() or not parcels.any():
        return raw, []
    name = "Name" if "Name" in frame.columns else "name" if "name" in frame.columns else None
    left = [
        {"row": int(r), "name": n if isinstance(n, str) and n else None}
        for r, n in zip(
            frame.loc[pins, ROW],
            frame.loc[pins, name] if name else [None] * int(pins.sum()),
            strict=True,
        )
    ]
    kept = frame[~pins].copy()
    kept.attrs = dict(frame.attrs)
    return replace(raw, frame=kept), left


def _reject_pins(
    report: LayerReport, pins: list[dict[str, Any]], word: str, n: int | None = None
) -> None:
    """The pins :func:`_pins_left_out` took from a ``--project`` file, as rejected rows of
    ``report`` (counted among the rows read: every row is checked or rejected)."""
    if not pins:
        return
    reason = "a point beside the parcel, not checked: --project is one project"
    for pin in pins:
        report._rejects.append(
            {
                "layer": report.name,
                "source_row": pin["row"],
                "id": pin["name"],
                "code": "pin_left_out",
                "field": "geometry",
                "reason": reason,
            }
        )
    report.n_read += len(pins)
    shown = ", ".join(f"{p['row']}" + (f" ({p['name']})" if p["name"] else "") for p in pins)
    fix = (
        'to check a point too, give it alone (--project "lon,lat"); to check every feature '
        "as a project, use --projects"
    )
    rows = tuple(p["row"] for p in pins)
    n = report.n_loaded if n is None else n  # n: the projects (parts sharing an id are one)
    checked = (
        "the parcel checked"
        if n <= 1
        else f"the {n} parcels checked, each as a project (for one project, join them into "
        "one multipart feature)"
    )  # a file of 一期 and 二期 beside a pin: not "the parcel"
    said = f"{checked}, {word} {shown} left out: {reason}. Fix: {fix}"
    report.findings += [
        Finding("rejected", "pin_left_out", reason, rows, "geometry", fix, word),
        Finding("note", "pin_left_out", said, word=word),
    ]


def _file_column(raw: RawLayer, mapping: dict[str, str], canon: str) -> str | None:
    """The column of a projects file that validation reads as ``canon`` (``industry``,
    ``kind``): the one a field option names, the canonical name itself, else the usual name
    (行业, 建设性质 ...); for ``industry`` a code column (行业代码) when there is no name
    column. None when the file has none."""
    cols = [str(c) for c in raw.frame.columns]
    col = mapping.get(canon) or (canon if canon in cols else None)
    if col is None:
        found = usual_fields(cols, LAYER_ROLES["projects"], taken=mapping)
        col = found.get(canon) or (found.get("industry_code") if canon == "industry" else None)
    return col if col is not None and col in raw.frame.columns else None


@dataclass(frozen=True)
class _Filled:
    """A value given for every project (``--industry``, ``--kind``) over a projects file's
    own column of that field: the rows whose cell is blank, which the value fills (see
    :func:`_over_column`)."""

    canon: str  #: ``industry`` or ``kind``
    column: str  #: the file's column (行业, 建设性质 ...)
    shown: str  #: the value given, as the messages show it (``迁建 relocation``)
    rows: tuple[int, ...]  #: source rows whose cell is blank
    same: int  #: rows whose cell gives the value given themselves


def _over_column(
    raw: RawLayer, mapping: dict[str, str], canon: str, given: str, vocab: Vocabulary
) -> _Filled:
    """Refuse ``--industry`` (``--kind``) over a projects file whose own industry (kind)
    column gives another value for some project: the option would replace it. A coking
    project inside a built-up area was checked as PV, ``clear``; a new coking plant in the
    Taiyuan region given ``--kind 迁建`` went ``conflict`` -> ``conditional`` (independent
    checks found both). The same value everywhere passes; blank cells are filled with the
    value given, and returned to be said (:func:`_note_filled`): three blank 建设性质 cells
    read as 迁建 without a word had turned three coking projects ``conditional``."""
    col = _file_column(raw, mapping, canon)
    want = vocab.resolve(given) or given
    shown = vocab.label(want) if vocab.resolve(given) else given  # the page gives the id
    if col is None:
        return _Filled(canon, canon, shown, (), 0)
    values = raw.frame[col]
    blank = _blank(values)
    counts = values[~blank].astype(str).str.strip().value_counts()  # once per value
    other = [(v, int(n)) for v, n in counts.items() if (vocab.resolve(v) or v) != want]
    if not other:
        rows = tuple(int(r) for r in raw.frame.loc[blank, ROW])
        return _Filled(canon, col, shown, rows, int((~blank).sum()))
    said = ", ".join(f"{v} ({n})" for v, n in other[:4])
    said += f" and {len(other) - 4} more" if len(other) > 4 else ""
    if canon == "industry":
        raise SxzonesError(
            f"{raw.path}: --industry {given} would replace the file's own {col!r} column, "
            f"which gives other industries: {said}. Fix: drop --industry to check each "
            f"project as its {col!r} says, or remove that column from the file to check "
            f"them all as {given}"
        )
    raise SxzonesError(
        f"{raw.path}: the kind {shown} given for every project (--kind, a recipe's kind, "
        f"or the reviewer page's 项目类型) would replace the file's own {col!r} column, which "
        f"gives other kinds: {said}. Fix: leave the kind out (on the page: 项目类型 "
        f"'取自文件或新建') to check each project as its {col!r} says, or remove that column "
        f"from the file to check them all as {shown}"
    )


def _note_filled(filled: _Filled, report: LayerReport, word: str) -> dict[int, str]:
    """Say which blank cells of the file's industry (kind) column the value given for every
    project filled: a note in ``report`` (printed, with the rows) and, per row, the note
    its project carries (returned: in the CSV, site_check.json and the report)."""
    what = "industry" if filled.canon == "industry" else "kind"
    given = (
        "--industry, a recipe's industry or the page's 行业"
        if what == "industry"
        else "--kind, a recipe's kind or the page's 项目类型"
    )
    n = len(filled.rows)
    report.findings.append(
        Finding(
            "note",
            f"{filled.canon}_given_blank",
            f"the {what} {filled.shown} given for every project ({given}) fills {n} blank "
            f"{filled.column} cell{'s' if n > 1 else ''}: checked as {filled.shown}; the "
            f"other {filled.same} {word}(s) give it themselves",
            filled.rows,
            filled.column,
            f"where such a project's {what} is not {filled.shown}, fill in its {filled.column}",
            word,
        )
    )
    note = f"{filled.column} blank: checked as {filled.shown}, the {what} given for every project"
    return dict.fromkeys(filled.rows, note)


def _note_blank_kinds(
    projects: gpd.GeoDataFrame, report: LayerReport, raw: RawLayer, mapping: dict[str, str]
) -> dict[int, str]:
    """Say which projects have a blank cell in the file's kind column (建设性质): each is
    checked as new (新建), as a file without the column is (the analysis reads a blank kind
    so, :func:`sxzones.analyses.site_check.check_sites`), which is the strictest reading:
    clause 五's ban on new steel, coking and cement in the Taiyuan region applies to it. A
    blank cell was checked so without a word, then said on the screen only: each
    such project's note says it too (returned per source row), so that the CSV, the JSON
    and the printable report a reviewer keeps say it."""
    if "kind" not in projects.columns:
        return {}
    blank = _blank(projects["kind"])
    if not blank.any():
        return {}
    col = _file_column(raw, mapping, "kind") or "kind"
    rows = tuple(int(r) for r in projects.loc[blank, ROW])
    report.findings.append(
        Finding(
            "note",
            "kind_blank",
            f"{len(rows)} project(s) with a blank {col}: each checked as new (新建), the "
            "strictest reading (clause 五's ban on new steel, coking and cement in the "
            "Taiyuan region applies)",
            rows,
            col,
            f"fill in the {col} (扩建, 迁建, 产能置换 ...) where the project is not new",
            raw.row_word,
        )
    )
    return dict.fromkeys(rows, f"{col} blank: checked as new (新建), the strictest reading")


def _say_default_kind(
    projects: gpd.GeoDataFrame, report: LayerReport
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """Say in ``report`` when the projects have no kind: each is checked as new (新建), and a
    产能置换 project would be judged as one."""
    if "kind" not in projects.columns:
        report.findings.append(
            Finding(
                "note",
                "kind_default",
                "no project kind given: every project is checked as new (新建). Give --kind, "
                "or name the file's kind column with --kind-field",
            )
        )
    return projects, report


def check_document(
    result: SiteCheckResult, details: list[dict[str, Any]], prep: LayerReport, cat: Catalog
) -> dict[str, Any]:
    """The document written as ``site_check.json``: rules, layers, input counts, projects."""
    return {
        "generated_by": f"sxzones {__version__}",
        "rules": {
            "file": result.rules.path.name,
            **{k: _json_value(v) for k, v in result.rules.document.items()},
        },
        "working_crs": f"EPSG:{cat.working.crs.to_epsg()}",
        "layers": result.layers.sources,
        "input": _input_counts(prep, len(result.table)),
        "projects": details,
    }


def _json_value(value: Any) -> Any:
    """A value of the rules' ``[document]`` for the JSON: a table an object (``jurisdiction``:
    ``{"adcode_prefix": "14", "zh": "山西省", "en": "Shanxi"}``, as siting.json writes it), a
    list a list, anything else its text (a TOML date as ``2023-01-10``)."""
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return str(value)


def _input_counts(prep: LayerReport, n_projects: int) -> dict[str, Any]:
    """The JSON's ``input``: rows read, checked and rejected; when rows sharing a project id
    were checked as one project, ``projects`` (checked) and ``rows_in_parts``; when the
    projects' datum has no published shift to CGCS2000, its ``caveats`` (as the layers');
    then the ``findings`` of reading the projects (notes, rejected rows with their reasons,
    blank cells filled, repairs: what the summary prints, kept with the answer)."""
    out: dict[str, Any] = {
        "rows": prep.n_read,
        "checked": prep.n_loaded,
        "rejected": prep.n_rejected,
    }
    parts = parts_counts(prep, n_projects)
    if parts is not None:
        out["projects"] = n_projects
        out["rows_in_parts"] = parts[0]
    caveats = datum_caveats(prep)
    if caveats:
        out["caveats"] = caveats
    if prep.findings:
        out["findings"] = [_finding_json(f) for f in prep.findings]
    return out


def _finding_json(f: Finding) -> dict[str, Any]:
    """A finding of reading the projects as the JSON's ``input.findings`` keeps it: ``kind``
    (note, rejected, repaired), ``code``, ``message`` (as the summary prints it), and where
    the finding has them its ``rows`` (source rows, ``word`` says of what: row, feature,
    parcel), ``field`` (the file's column) and ``fix``."""
    out: dict[str, Any] = {"kind": f.kind, "code": f.code, "message": f.message}
    if f.rows:
        out["rows"] = [int(r) for r in f.rows]
        out["word"] = f.word
    if f.field:
        out["field"] = f.field
    if f.fix:
        out["fix"] = f.fix
    return out


def write_check_outputs(
    run: CheckRun,
    cat: Catalog,
    reports: str,
    pub: Publication,
    lang: Lang = "en",
    lab: Labels | None = None,
) -> None:
    """Stage ``site_check.json``, ``site_check.csv``, ``rejects.csv`` and the printable
    reports (``reports``: all, flagged or none) in ``pub``; the CSV and the reports in
    ``lang`` (:mod:`sxzones.i18n`; the JSON keeps the identifiers).

    The JSON's projects are encoded from the result's columns
    (:func:`sxzones.runs.site_json.write_check_json`, the bytes of ``json.dumps`` of
    :meth:`SiteCheckResult.details`); the per-project findings as Python objects are built
    only for the printable reports. The JSON is made in a thread while the CSVs are written
    (both spend their time in Arrow, which releases the GIL)."""
    from sxzones.runs.site_json import write_check_json

    result, prep = run.result, run.prep
    n = len(result.table)
    doc = check_document(result, [], prep, cat)
    with ThreadPoolExecutor(max_workers=1) as pool:
        done = pool.submit(write_check_json, doc, result, pub.stage("site_check.json", rows=n))
        table = pd.DataFrame(result.table.drop(columns="geometry"))
        tr = translate_frame(table, lang, lab=lab)
        write_csv(tr, pub.stage("site_check.csv", rows=len(table)), overwrite=True)
        rej = translate_frame(prep.rejects, lang, lab=lab)
        write_csv(rej, pub.stage("rejects.csv", rows=prep.n_rejected), overwrite=True)
        done.result()
    if reports == "none":
        return
    from sxzones.reports import report_names, site_check_report  # Jinja2: only for reports

    details = run.details
    files = report_names([str(d["project_id"]) for d in details])
    for pos, (d, name) in enumerate(zip(details, files, strict=True)):
        if reports == "flagged" and d["verdict"] == "clear":
            continue
        html = site_check_report(
            result,
            pos,
            d,
            __version__,
            lang=lang,
            lab=lab,
            given_crs=prep.source_crs or None,
            datum=datum_of(prep),
        )
        write_text(html, pub.stage(name), overwrite=True)


#: A projects file at least this large (bytes) is likely a batch whose distances need the
#: compiled kernels (:data:`sxzones.analyses.nearest.TINY_WORK`): they load in a background
#: thread while it is read. A GeoPackage of 10,000 parcels is about 2.2 MB, of 100,000 about
#: 22 MB; loading them costs more than it saves below some tens of thousands of parcels
#: (measured on 2 cores: 1,000 parcels 1.0 s without, 1.5 s with; 10,000 1.5 s against
#: 1.8 s), and :func:`sxzones.analyses.site_check.check_sites` loads them itself from
#: :data:`~sxzones.analyses.nearest.KERNEL_INPUTS` projects.
WARM_UP_BYTES = 16 << 20


def _large_file(spec: str) -> bool:
    """Whether ``spec`` names a file (or folder) of at least :data:`WARM_UP_BYTES`."""
    try:
        p = Path(spec)
        return is_existing_path(p) and (p.is_dir() or p.stat().st_size >= WARM_UP_BYTES)
    except (OSError, ValueError):
        return False


def _project_spec(opts: CheckOptions) -> str:
    """The project(s) as given; a recipe's relative path is looked up beside the recipe."""
    spec = opts.spec
    if opts.base is not None and opts.projects is not None:
        p = Path(os.path.normpath(opts.base / spec))
        return str(p) if is_existing_path(p) else spec
    return spec


def _check(
    opts: CheckOptions, projects: gpd.GeoDataFrame, layers: SiteLayers, rules: RuleSet
) -> SiteCheckResult:
    """The check on the engine the options name (the same result either way)."""
    if opts.engine != "dask":
        return check_sites(projects, layers, rules)
    from sxzones.dask_engine import check_sites_dask, dask_client

    with dask_client(opts.scheduler) as client:
        return check_sites_dask(projects, layers, rules, client=client)


@dataclass
class CheckRun:
    """A site check computed and not yet written: what :func:`write_check_run` writes."""

    projects: gpd.GeoDataFrame
    prep: LayerReport
    layers: SiteLayers
    result: SiteCheckResult
    ruleset: RuleSet

    @cached_property
    def details(self) -> list[dict[str, Any]]:
        """Every finding per project as plain data (:meth:`SiteCheckResult.details`), built
        on first use: a batch written without printable reports never needs them."""
        return self.result.details()


def check_rules(opts: CheckOptions) -> RuleSet:
    """The rules of the options, with ``--industry`` and ``--kind`` checked against their
    vocabularies (one value for every project: a typo is a user error)."""
    if opts.reports not in REPORTS:
        raise SxzonesError(f"reports {opts.reports!r}: choose from {', '.join(REPORTS)}")
    ruleset: RuleSet = load_rules(opts.rules)
    if opts.industry is not None:
        ruleset.industries.require(opts.industry, "--industry")
    if opts.kind is not None:
        ruleset.project_kinds.require(opts.kind, "--kind")
    return ruleset


def compute_check(
    opts: CheckOptions,
    cat: Catalog,
    ruleset: RuleSet,
    *,
    layers: SiteLayers | None = None,
    raw: RawLayer | None = None,
) -> CheckRun:
    """Read and check the projects of ``opts`` (nothing written; ``raw``: the projects file
    as read already, see :func:`read_projects`)."""
    projects, prep = read_projects(
        _project_spec(opts),
        cat,
        crs=opts.crs,
        industry=opts.industry,
        kind=opts.kind,
        fields=opts.fields_for("projects"),
        encoding=opts.encoding,
        layer=opts.layer,
        single=opts.project is not None,
        raw=raw,
        corners=opts.corners,
        rules=ruleset,
    )
    layers = layers if layers is not None else site_layers(cat)
    result = _check(opts, projects, layers, ruleset)
    flag_margins(result, prep, ruleset)  # a datum with no published shift: said per project
    return CheckRun(projects, prep, layers, result, ruleset)


def write_check_run(opts: CheckOptions, cat: Catalog, run: CheckRun, pub: Publication) -> None:
    """Stage the outputs of a computed check in ``pub`` (tables, reports, map, figure)."""
    lang = check_lang(opts.lang)
    lab = labels(run.ruleset) if lang != "en" else None
    write_check_outputs(run, cat, opts.reports, pub, lang, lab)
    used = [*run.layers.sources.values(), *report_sources([run.prep])]
    _write_check_maps(opts, pub, run.result, sources_line(used, lang=lang), lab)


def check_publication(opts: CheckOptions) -> Publication:
    """The (not yet entered) publication of a site check's outputs in ``opts.out``."""
    names = ["site_check.json", "site_check.csv", "rejects.csv"]
    external = [opts.map_path, *figure_paths(opts.figure_path)]
    return Publication(
        opts.out,
        "check",
        names,
        external=external,
        overwrite=opts.overwrite,
        owned=("report-*.html",),
    )


def run_check(opts: CheckOptions, cat: Catalog, *, layers: SiteLayers | None = None) -> RunResult:
    """Read, check, and write ``site_check.json``, ``site_check.csv``, ``rejects.csv`` and
    ``report-<id>.html`` per project (and an interactive map at ``opts.map_path``).

    ``layers``: the catalogue's site layers when the caller keeps them (a server: their
    spatial indexes are built once; one :class:`SiteLayers` per thread), else loaded here.

    ``opts.reports``: ``all`` (a report per project), ``flagged`` (only projects whose verdict
    is conflict or conditional: a batch of 10,000 parcels otherwise writes 10,000 files, about
    20 ms each) or ``none``. ``opts.lang``: the language of the CSV, reports and map."""
    if opts.projects is not None and _large_file(_project_spec(opts)):
        warm_up()  # the compiled distance kernels load while the projects and layers are read
    ruleset = check_rules(opts)
    hash_ahead([Path(cat.entry(n).path) for n in _layer_names(cat)])  # while the check works
    lang = check_lang(opts.lang)
    lab = labels(ruleset) if lang != "en" else None
    # a file of projects every row of which is rejected: rejects.csv holds them all (one
    # project given with --project is refused on the screen, as it was)
    roles = ["projects"] if opts.projects is not None else []
    with check_publication(opts) as pub:
        with refusing_all_rejected(pub, roles, ruleset.path, lang=lang, lab=lab):
            run = compute_check(opts, cat, ruleset, layers=layers)
        write_check_run(opts, cat, run, pub)
        check_inputs(pub, run)
        written = pub.publish()
    return RunResult.of("check", pub, written, check_summary(run))


def check_inputs(pub: Publication, run: CheckRun) -> None:
    """Record a check's inputs in its manifest: the projects, each layer the check read
    (control units, red lines, built-up areas, zones, admin: file(s), SHA-256, rows) and
    the rules file."""
    add_inputs(pub, [run.prep, *run.layers.reports.values()], run.ruleset.path)


def _layer_names(cat: Catalog) -> list[str]:
    """The catalogue layers :func:`site_layers` reads by default (one per role held)."""
    return [n for n in (cat.layer_of_role(r) for r in ROLES) if n is not None]


def check_summary(run: CheckRun) -> str:
    """The run's summary: counts by verdict, input rows, notes, the first ten projects.

    Counted over the verdicts as a list and the first ten rows taken as lists (pandas'
    value counts and a row slice cost 0.8 ms, most of a served single check's summary)."""
    prep, table = run.prep, run.result.table
    verdicts = table["verdict"].tolist()
    counts = Counter(verdicts)
    summary = (
        f"site check: {len(table)} project(s): "
        + ", ".join(
            f"{k} {counts.get(k, 0)}" for k in ("conflict", "conditional", "clear", "unassessed")
        )
        + f"; input rows {prep.n_read} = checked {prep.n_loaded} + rejected "
        f"{prep.n_rejected}" + _parts_said(prep, len(table))
    )
    # notes and rejected rows with their reasons, as the firm and siting screens print them
    summary += "".join(f"\n  {f}" for f in prep.findings if f.kind in ("note", "rejected"))
    for src in run.layers.sources.values():
        summary += "".join(f"\n  layer {src['layer']}: {c}" for c in src.get("caveats", []))
    summary += _declared_warning(table)
    datum = datum_of(prep)
    said = project_caveat(datum) if datum else None  # in the notes above: once
    printed = [f.message for f in prep.findings if f.kind == "note"]  # a corner order: once
    for pid, verdict, rules, note, why in zip(
        _first_texts(table, "project_id"),
        verdicts[:10],
        _first_texts(table, "rule_ids"),
        _first_texts(table, "geometry_note"),
        _first_texts(table, "unassessed_reason"),
        strict=True,
    ):
        ids = [x for x in str(rules).split(";") if x]
        if said and note:
            note = "; ".join(p for p in str(note).split("; ") if p != said)
        if note and any(m in str(note) for m in printed):
            for m in printed:
                note = str(note).replace(m, "")
            note = "; ".join(p for p in str(note).split("; ") if p.strip())
        summary += (
            f"\n  {pid}: {verdict}"
            + (f" ({', '.join(ids)})" if ids else "")
            + (f"; {note}" if note else "")
            + (f"; {why}" if why else "")
        )
    return summary


#: A declared area (界址点 files, the page's field; hectares) this far from the computed one
#: is warned of: a typing error, a wrong unit (亩, m²) or the wrong parcel.
DECLARED_TOLERANCE = 0.05


def _declared_warning(table: pd.DataFrame) -> str:
    """A summary line naming the projects whose declared area differs from the computed
    (ellipsoidal) one by more than :data:`DECLARED_TOLERANCE` ("" when none): the printable
    report showed both, the summary said nothing of 1 ha declared for 389.6 ha."""
    if "declared_area" not in table.columns:
        return ""
    declared = pd.to_numeric(table["declared_area"], errors="coerce").to_numpy(float) * 1e4
    computed = table["area_m2"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        off = (declared > 0) & (np.abs(computed - declared) > DECLARED_TOLERANCE * declared)
    if not off.any():
        return ""
    k = np.flatnonzero(off)
    shown = "; ".join(
        f"{table['project_id'].iloc[i]} (declared {declared[i] / 1e4:g} ha, computed "
        f"{computed[i] / 1e4:.4f} ha)"
        for i in k[:5]
    )
    return (
        f"\n  warning: {len(k)} project(s) whose declared area differs from the computed one "
        f"by more than {DECLARED_TOLERANCE:.0%}: {shown}{' ...' if len(k) > 5 else ''}; check "
        "the unit (hectares) and the parcel"
    )


def _parts_said(prep: LayerReport, n_projects: int) -> str:
    """`` (5 rows checked as 2 projects given in parts)`` when rows sharing a project id
    were checked as one project each ("" otherwise): the row accounting then counts rows,
    the verdicts projects."""
    parts = parts_counts(prep, n_projects)
    if parts is None:
        return ""
    rows, projects = parts
    return f" ({rows} rows checked as {projects} project(s) given in parts)"


def _first_texts(frame: pd.DataFrame, col: str, k: int = 10) -> list[Any]:
    """The first ``k`` values of a column (as the findings give them), or blanks when there
    is none."""
    n = min(k, len(frame))
    return frame[col].array[:n].tolist() if col in frame.columns else [""] * n


def _write_check_maps(
    opts: CheckOptions,
    pub: Publication,
    result: SiteCheckResult,
    sources: str,
    lab: Labels | None = None,
) -> None:
    """Stage the interactive map (in ``opts.lang``) and the static figure the options ask
    for."""
    if opts.map_path is not None:
        from sxzones.maps.interactive import save_map
        from sxzones.maps.site_map import site_check_map

        cmap = site_check_map(result, opts.map_basemap(), sources=sources, lang=opts.lang, lab=lab)
        save_map(cmap, pub.stage_external(opts.map_path), overwrite=True)
    if opts.figure_path is not None:
        from sxzones.maps.site_map import site_check_figure

        fig = pub.stage_external(figure_paths(opts.figure_path)[0])
        site_check_figure(result, fig, sources=sources, lang=opts.lang, lab=lab)
