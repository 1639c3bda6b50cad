"""Validation of a layer against its role, with an explicit policy.

Policy (every decision is a :class:`Finding` in the file's :class:`LayerReport`):

* **refused** (the whole file; :class:`~sxzones.errors.LayerError`): unreadable, no features,
  required fields missing, or a coordinate mistake that affects most rows (a wrong CRS).
  Required fields are only what an analysis cannot do without; a missing id is the row
  number where the role allows it (built-up areas, red lines, firms, candidates, projects).
* **mapped** (a note): source fields under the usual names agencies write (``行业``,
  ``HJGKDYBM``) read as canonical fields where unambiguous; enumerated values written the
  agency's way (``优先保护单元``) read as canonical ones (catalogue ``values = {...}``).
* **rejected** (the row goes to the rejects table with its reason): NULL or empty geometry,
  wrong geometry type, a required value missing, a value outside the allowed choices, a
  duplicate id (the first occurrence is kept), coordinates that are implausible for the
  declared CRS, or a geometry that repair leaves empty.
* **repaired** (kept, reported): an invalid geometry made valid with ``shapely.make_valid``
  (structure method), keeping the parts of the role's geometry family.

Input rows = loaded rows + rejected rows, always.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from geopandas.array import GeometryArray, from_shapely
from pyproj import CRS, Transformer

from sxzones._util import gc_paused
from sxzones.crs import SHANXI_BOUNDS, check_coordinates, convert_geometries
from sxzones.errors import LayerError, SxzonesError
from sxzones.layers.readers import GEOMETRY_PROBLEM, ROW, RawLayer
from sxzones.layers.schemas import FIELD_NAMES, ROLES, VALUE_WORDS, Provenance, Role
from sxzones.vocab import id_key, normalise

__all__ = ["Finding", "LayerReport", "usual_fields", "validate_layer"]

Kind = Literal["refused", "rejected", "repaired", "note"]


@dataclass(frozen=True)
class Finding:
    """One thing validation found: what, in which rows and field (the user's name), the fix.

    ``rows`` are ``source_row`` numbers: spreadsheet rows for CSV/XLSX (header = row 1),
    feature numbers for GIS files; ``word`` says which (``row``, ``feature``, ``parcel``).
    """

    kind: Kind
    code: str
    message: str
    rows: tuple[int, ...] = ()
    field: str | None = None
    fix: str = ""
    word: str = "row"

    def __str__(self) -> str:
        where = ""
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:8])
            more = f" and {len(self.rows) - 8} more" if len(self.rows) > 8 else ""
            where = f" ({self.word}{'s' if len(self.rows) > 1 else ''} {shown}{more})"
        fld = f" [field {self.field}]" if self.field else ""
        fix = f"; fix: {self.fix}" if self.fix else ""
        return f"{self.kind}: {self.message}{fld}{where}{fix}"


@dataclass
class LayerReport:
    """Everything validation found in one file."""

    name: str
    path: Path
    role: str
    n_read: int
    n_loaded: int = 0
    source_crs: str = ""
    working_crs: str = ""
    provenance: Provenance | None = None
    notes: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    _rejects: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def n_rejected(self) -> int:
        return len(self._rejects)

    @property
    def rejects(self) -> pd.DataFrame:
        """One row per rejected input row: layer, source_row, id, code, field, reason."""
        cols = ["layer", "source_row", "id", "code", "field", "reason"]
        if not self._rejects:
            return pd.DataFrame(columns=cols)
        return pd.DataFrame(self._rejects, columns=cols).sort_values("source_row", kind="stable")

    def summary(self) -> str:
        prov = ""
        if self.provenance:
            p = self.provenance
            prov = f"; {p.status}, {p.source} {p.version}, {p.licence}"
        head = (
            f"{self.name} ({self.role}): {self.n_read} read, {self.n_loaded} loaded, "
            f"{self.n_rejected} rejected; {self.source_crs} -> {self.working_crs}{prov}"
        )
        lines = [head] + [f"  {f}" for f in self.findings]
        return "\n".join(lines)

    __str__ = summary


# shapely type id (+1, so that -1 "missing" is position 0) -> geometry family
_FAMILY_OF_TYPE_ID = np.array(
    [None, "point", "line", "line", "polygon", "point", "line", "polygon", None], dtype=object
)


@lru_cache(maxsize=32)
def _transformer(src_wkt: str, dst_wkt: str) -> Transformer:
    """The transformation of a point layer into the working CRS (its pipeline kept on disk:
    :func:`sxzones.layers.cache.cached_transformer`)."""
    from sxzones.layers.cache import cached_transformer

    return cast(Transformer, cached_transformer(src_wkt, dst_wkt))


#: Reader notes that say how a file was read where the reader chose (an encoding guessed,
#: tabs in a .csv, one layer of several): printed with the layer's findings.
_SAID_READ_NOTES = (
    "text read as",
    "attributes read as GB18030",
    "columns separated by tabs",
    "first of ",
    "header read from row",
    "coordinates read from column",
    "blank rows skipped",
    "geometries read from the WKT column",
    "zip member read",
    "sheet ",
    "point given latitude first",
    "corners given latitude first",
    "coordinates given northing first",
    "pasted corners written northing first",
    "pasted corners read as ",
    "pasted 界址点 lines",
    "pasted lines: ",
    "the file's own column source_row",
    "CAD drawing:",
    "degrees, minutes and seconds combined",
    "KML: ",
    "cells merged down a column",
    "every row ends with an empty field",
    "short total row(s)",
    "界址点 parcels sharing a 地块编号",
    "corners joined in ",
    "corner coordinates read from ",
    "no CRS in the file: read as WGS84",
    "attributes read as UTF-8 although",
    "attributes read as UTF-8 (the .cpg says",
    "web page: table ",
    "geometries read from the WKT text",
    "read by its content:",
)


def read_findings(notes: list[str], word: str) -> list[Finding]:
    """The reader's notes that say how a file was read where the reader chose (see
    :data:`_SAID_READ_NOTES`; a KML's folders), as findings printed with the layer's: code
    ``header_row`` for a header found below title rows, ``read_as`` for the others."""
    return [
        Finding("note", "header_row" if t.startswith("header read") else "read_as", t, word=word)
        for t in notes
        if t.startswith(_SAID_READ_NOTES) or " folders read: " in t
    ]


def _reproject(
    geoms: npt.NDArray[np.object_], source: CRS, crs: CRS
) -> npt.NDArray[np.object_] | GeometryArray:
    """Geometries in ``source`` brought to ``crs`` (``to_crs``), with a fast path for points
    (one vectorised PROJ call)."""
    if (
        len(geoms)
        and bool(np.all(shapely.get_type_id(geoms) == 0))
        and not bool(shapely.has_z(geoms).any())
    ):
        xy = shapely.get_coordinates(geoms)
        x, y = _transformer(source.to_wkt(), crs.to_wkt()).transform(xy[:, 0], xy[:, 1])
        with gc_paused():
            return shapely.points(x, y)
    return from_shapely(geoms, crs=source).to_crs(crs)


def _blank(values: pd.Series) -> np.ndarray:
    """True where a value is missing: NULL, NaN or blank text."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.isna().to_numpy()
    text = values.astype("string").str.strip()
    return (text.isna() | text.isin(["", "nan", "None"])).to_numpy(dtype=bool)


def _first_coords(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first vertex of each geometry (NaN for missing or empty ones)."""
    if bool(np.all(shapely.get_type_id(geoms) <= 0)) and not shapely.is_empty(geoms).any():
        return shapely.get_x(geoms), shapely.get_y(geoms)
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    first = np.full((len(geoms), 2), np.nan)
    if len(index):  # the index runs in geometry order: each geometry's first is where it starts
        pos = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
        first[index[pos]] = coords[pos]
    return first[:, 0], first[:, 1]


#: Geometries checked for validity in two threads from this many on (GEOS releases the GIL).
_VALID_SPLIT = 20_000


def _is_valid(geoms: np.ndarray) -> np.ndarray:
    """``shapely.is_valid``, in two halves at once for many geometries."""
    if len(geoms) < _VALID_SPLIT:
        return shapely.is_valid(geoms)
    from concurrent.futures import ThreadPoolExecutor

    half = len(geoms) // 2
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = list(pool.map(shapely.is_valid, (geoms[:half], geoms[half:])))
    return np.concatenate(parts)


def _keep_family(geoms: np.ndarray, family: str) -> np.ndarray:
    """Keep only the parts of the wanted family from repaired (possibly mixed) geometries."""
    out = geoms.copy()
    ids = {"point": (0, 4), "line": (1, 5), "polygon": (3, 6)}[family]
    for i, g in enumerate(geoms):  # only the few repaired geometries reach here
        if shapely.get_type_id(g) in ids:
            continue
        parts = [p for p in shapely.get_parts(g) if shapely.get_type_id(p) in ids]
        if family == "polygon":
            polys = [q for p in parts for q in shapely.get_parts(p)]
            out[i] = shapely.multipolygons(polys) if polys else shapely.Polygon()
        elif family == "line":
            out[i] = (
                shapely.line_merge(shapely.multilinestrings(parts))
                if parts
                else (shapely.LineString())
            )
        else:
            out[i] = shapely.multipoints(parts) if parts else shapely.Point()
    return out


@dataclass
class _Run:
    """One validation under way: the frame (canonical names), the rows still alive, the
    report, and the user's own name of each canonical field (for messages)."""

    raw: RawLayer
    role: Role
    report: LayerReport
    frame: gpd.GeoDataFrame
    idf: str | None
    names: dict[str, str]
    alive: np.ndarray

    def shown(self, fld: str | None) -> str | None:
        """The user's name of a canonical field."""
        return self.names.get(fld, fld) if fld else fld

    def reject(
        self,
        mask: np.ndarray,
        code: str,
        reason: str,
        fld: str | None = None,
        fix: str = "",
        reasons: pd.Series | None = None,
    ) -> None:
        """Record the live rows under ``mask`` as rejected (each with its id and reason)."""
        m = mask & self.alive
        if not m.any():
            return
        sub = self.frame.loc[m]
        rows = sub[ROW].to_numpy()
        idf = self.idf
        ids = sub[idf].to_numpy() if idf and idf in sub else [None] * len(sub)
        per_row = reasons.loc[m].to_numpy() if reasons is not None else [reason] * len(sub)
        name = self.shown(fld)
        for r, i, why in zip(rows, ids, per_row, strict=True):
            self.report._rejects.append(
                {
                    "layer": self.report.name,
                    "source_row": int(r),
                    "id": None if i is None or pd.isna(i) else str(i),
                    "code": code,
                    "field": name,
                    "reason": why,
                }
            )
        found = Finding(
            "rejected", code, reason, tuple(int(r) for r in rows), name, fix, self.raw.row_word
        )
        self.report.findings.append(found)
        self.alive &= ~m


def _fields_present(frame: pd.DataFrame) -> list[str]:
    skip = (ROW, frame.geometry.name)
    return [str(c) for c in frame.columns if c not in skip]


def _by_key(columns: Iterable[str]) -> dict[str, list[str]]:
    """Column names by their normalised form (:func:`sxzones.vocab.normalise`)."""
    by_key: dict[str, list[str]] = {}
    for c in columns:
        by_key.setdefault(normalise(c), []).append(c)
    return by_key


def _builtin_names(frame: pd.DataFrame, role: Role, taken: set[str]) -> dict[str, str]:
    """Canonical -> source field, from the usual names agencies write (FIELD_NAMES), where
    exactly one candidate is present and the canonical field is not already there."""
    return usual_fields(_fields_present(frame), role, taken)


def usual_fields(columns: list[str], role: Role, taken: Collection[str] = ()) -> dict[str, str]:
    """Canonical field -> the column of ``columns`` that holds it by a usual name
    (:data:`~sxzones.layers.schemas.FIELD_NAMES`: 企业编号, 行业 ...), where exactly one such
    column is present, the canonical name is not a column itself and nothing in ``taken``
    (a mapping's fields and columns) claims it: what validation reads without a mapping."""
    by_key = _by_key(columns)
    out: dict[str, str] = {}
    canon_fields = dict.fromkeys((*role.required, *role.optional, *role.one_of))
    if role.id_field:
        canon_fields[role.id_field] = None
    for canon in canon_fields:
        if canon in columns or canon in taken:
            continue
        words = (canon, *FIELD_NAMES.get(role.name, {}).get(canon, ()))
        hits = list(dict.fromkeys(c for w in words for c in by_key.get(normalise(w), [])))
        hits = [h for h in hits if h not in taken and h not in out.values()]
        if len(hits) == 1:
            out[canon] = hits[0]
    return out


def _refuse_twins(raw: RawLayer, role: Role, taken: set[str]) -> None:
    """Refuse a file holding a canonical field (``industry``) and one of its usual names
    (``行业``) whose values differ on some row, when no mapping chooses: which one the user
    means cannot be known, and reading either silently can be wrong (a coking plant read
    from an ``industry`` column holding ``other``). Equal columns are no doubt; names and ids
    are left alone (``name`` beside ``企业名称`` is a bilingual table)."""
    frame = raw.frame
    by_key = _by_key(_fields_present(frame))
    for canon, words in FIELD_NAMES.get(role.name, {}).items():
        if canon not in frame.columns or canon in taken or canon in ("name", role.id_field):
            continue  # names and ids decide no answer: a bilingual table keeps ``name``
        for twin in dict.fromkeys(c for w in words for c in by_key.get(normalise(w), [])):
            if twin == canon or twin in taken:
                continue
            a = frame[canon].astype("string").fillna("").str.strip()
            b = frame[twin].astype("string").fillna("").str.strip()
            differ = np.flatnonzero((a != b).to_numpy(dtype=bool))
            if len(differ):
                k = differ[0]
                raise LayerError(
                    f"{raw.path}: columns {canon!r} and {twin!r} both name the {canon} and "
                    f"differ ({len(differ)} {raw.row_word}s; {raw.row_word} "
                    f"{frame[ROW].iloc[k]}: {a.iloc[k]!r} against {b.iloc[k]!r}). Fix: choose "
                    f"one: --field {canon}={twin}, or --field {canon}={canon}"
                )


#: 环境管控单元编码: ZH + 6-digit admin code + type digit + serial (GLOSSARY).
_UNIT_CODE = re.compile(r"^ZH\d{6}([123])\d+$")
_UNIT_TYPE_DIGIT = {"1": "priority_protection", "2": "key_control", "3": "general_control"}


def _unit_type_from_code(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, bool]:
    """Control units without a type field: the type digit of codes written the national way
    (ZH14010520001: 2, key control); codes that do not follow it get no type (rejected)."""
    digits = frame["unit_code"].astype("string").str.strip().str.extract(_UNIT_CODE)[0]
    if digits.notna().sum() == 0:
        return frame, False
    frame = frame.copy()
    frame["unit_type"] = digits.map(_UNIT_TYPE_DIGIT).astype(object).where(digits.notna(), None)
    return frame, True


def _map_fields(
    raw: RawLayer,
    role: Role,
    fields: Mapping[str, str],
    constants: Mapping[str, Any],
    id_field: str | None,
) -> tuple[gpd.GeoDataFrame, dict[str, str], str | None]:
    """Rename source fields to canonical ones (given mapping, then the usual names), add the
    constants and the row-number id; refuse when a required field is still missing.

    Returns the frame, canonical -> the user's field name, and the id field."""
    frame = raw.frame
    present = _fields_present(frame)
    missing_src = {canon: src for canon, src in fields.items() if src not in frame.columns}
    if missing_src:
        pairs = ", ".join(f"{c} <- {s!r}" for c, s in missing_src.items())
        raise LayerError(
            f"{raw.path}: the field mapping names source field(s) the file does not have "
            f"({pairs}). Fields present: {present}. Fix: correct the mapping (--field "
            'CANONICAL=SOURCE, or fields = { CANONICAL = "SOURCE" } in the catalogue entry).'
        )
    mapping = {canon: src for canon, src in fields.items() if canon != src}
    _refuse_twins(raw, role, set(fields) | set(fields.values()))
    if clash := [c for c in mapping if c in frame.columns and c not in mapping.values()]:
        # --field industry=行业 beside a column named industry: that column is the user's,
        # kept as input_industry (two columns of one name cannot be told apart)
        frame = frame.rename(columns={c: f"input_{c}" for c in clash})
    builtin = _builtin_names(
        frame.rename(columns={s: c for c, s in mapping.items()}) if mapping else frame,
        role,
        set(mapping) | set(mapping.values()),
    )
    frame = frame.rename(columns={src: canon for canon, src in {**mapping, **builtin}.items()})
    names = {canon: src for canon, src in {**mapping, **builtin}.items()}
    for canon, value in constants.items():
        frame[canon] = value
    if role.name == "control_units" and "unit_type" not in frame and "unit_code" in frame:
        frame, derived = _unit_type_from_code(frame)
        if derived:
            names["unit_type"] = f"type digit of {names.get('unit_code', 'unit_code')}"
    idf = id_field or role.id_field
    if idf and idf not in frame.columns and role.id_from_row and not id_field:
        frame[idf] = frame[ROW].astype(str)
        names[idf] = f"{raw.row_word} number"
    missing = [f for f in role.required if f not in frame.columns]
    if role.one_of and not set(role.one_of) & set(frame.columns):
        missing.append(" or ".join(role.one_of))
    if missing:
        usual = FIELD_NAMES.get(role.name, {}).get(missing[0].split(" or ")[0], ())
        raise LayerError(
            f"{raw.path}: role {role.name!r} requires field(s) {missing}, which are missing. "
            f"Fields present: {present}. Fix: name the field that holds it, "
            f"--field {missing[0].split(' or ')[0]}=SOURCE (or fields = "
            f'{{ {missing[0].split(" or ")[0]} = "SOURCE" }} in the catalogue entry)'
            + (f"; usual names: {', '.join(usual[:6])}" if usual else "")
            + "."
        )
    if idf and idf not in frame.columns:
        raise LayerError(
            f"{raw.path}: id field {idf!r} is missing; fields present: {present}. Fix: name "
            "the id field (--id FIELD, or id_field in the catalogue entry)."
        )
    return frame, names, idf


def _check_geometry(run: _Run) -> None:
    """Reject unbuildable 界址点 parcels, undecodable, NULL, empty or non-finite geometries and
    wrong types."""
    frame, r = run.frame, run.role
    if "jzd_problem" in frame.columns:
        problems = frame["jzd_problem"]
        # a few distinct problems are said in the summary (a file whose only parcel is
        # refused writes no rejects file); many are counted, each in the rejects file
        few = problems.dropna().unique() if problems.nunique() <= 5 else [None]
        for why in few:
            run.reject(
                (problems.notna() if why is None else problems == why).to_numpy(),
                "bad_parcel",
                "界址点 parcel cannot form a polygon" + ("" if why is None else f": {why}"),
                "geometry",
                "check the boundary points of these parcels",
                reasons=problems.astype(str),
            )
    if GEOMETRY_PROBLEM in frame.columns:
        run.reject(
            frame[GEOMETRY_PROBLEM].notna().to_numpy(),
            "bad_geometry",
            "the geometry cannot be decoded",
            "geometry",
            "redraw these features, or export the file again",
            reasons=frame[GEOMETRY_PROBLEM].astype(str),
        )
    coord_cols = run.raw.frame.attrs.get("coordinate_columns")
    if run.raw.xy is not None:  # a table's coordinates, their points not made yet
        x, y = run.raw.xy
        bad = ~(np.isfinite(x) & np.isfinite(y))
        run.reject(
            bad,
            "empty_geometry",
            "coordinates missing or not numbers",
            "/".join(coord_cols),
            "fill in the coordinates or remove the row",
            reasons=_coordinate_texts(frame, coord_cols, bad) if bad.any() else None,
        )
        return  # the other rows are points with finite coordinates, as the role allows
    geoms = frame.geometry.to_numpy()
    wkt = run.raw.frame.attrs.get("wkt_column")
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    run.reject(
        empty,
        "empty_geometry",
        "coordinates missing or not numbers"
        if coord_cols
        else ("WKT missing or not readable" if wkt else "NULL or empty geometry"),
        "/".join(coord_cols) if coord_cols else (str(wkt) if wkt else "geometry"),
        "write the geometry as WKT (POLYGON ((x y, ...)))"
        if wkt
        else "fill in the coordinates or remove the row",
        reasons=_coordinate_texts(frame, coord_cols, empty) if coord_cols and empty.any() else None,
    )
    # A NaN or infinite vertex anywhere: make_valid would drop or move it without a word.
    xy, owner = shapely.get_coordinates(geoms, return_index=True)
    nonfinite = np.zeros(len(frame), dtype=bool)
    nonfinite[owner[~np.isfinite(xy).all(axis=1)]] = True
    run.reject(
        nonfinite,
        "not_finite",
        "coordinates are not finite numbers (NaN or infinity)",
        "geometry",
        "correct or remove these vertices",
    )
    families = _FAMILY_OF_TYPE_ID[shapely.get_type_id(geoms) + 1]
    wrong = run.alive & ~np.isin(families, list(r.geometry))
    if wrong.any():
        types = sorted({str(t) for t in frame.geometry.geom_type[wrong]})
        fix = "split or convert these features, or load the layer under another role"
        if r.name == "projects" and "line" in types[0].lower():
            fix = (  # pipelines, roads, power lines: their land is a corridor
                "check a linear project (pipeline, road, power line) as the polygon of its "
                "corridor: buffer the line by half its right-of-way width (QGIS: Vector > "
                "Geoprocessing Tools > Buffer)"
            )
        if "polygon" in r.geometry and bool(np.all(shapely.is_closed(geoms[wrong]))):
            fix = (  # boundaries digitised as closed lines (边界线)
                "these are closed lines, boundaries: make them polygons (QGIS: Vector > "
                "Geometry Tools > Lines to Polygons)"
            )
        run.reject(
            wrong,
            "wrong_geometry_type",
            f"geometry type {', '.join(types)} is not allowed for role {r.name!r} "
            f"(allowed: {', '.join(sorted(r.geometry))})",
            "geometry",
            fix,
        )


def _one_zone(run: _Run) -> None:
    """A table of zone-prefixed 3-degree Gauss-Krüger coordinates whose rows carry another
    zone than the declared one (Shanxi straddles zones 37 and 38, so a province's table has
    both): each such row is read in the zone its prefix names, by carrying it into the
    declared zone (PROJ, exact to the millimetre between neighbouring zones), with a note.
    Such rows were rejected whichever zone was declared."""
    spec, xy = run.raw.spec, run.raw.xy
    if xy is None or not spec.zone_prefixed or not 25 <= (spec.zone or 0) <= 45:
        return
    epsg = spec.crs.to_epsg() if isinstance(spec.crs, CRS) else CRS(spec.crs).to_epsg()
    if epsg is None:
        return
    x, y = xy
    own = int(spec.zone or 0)
    zones = np.where(np.isfinite(x) & (x >= 1e7), np.floor(x / 1e6), float(own))
    others = [int(z) for z in np.unique(zones) if z != own and 25 <= z <= 45]
    if not others:
        return
    x, y = x.copy(), y.copy()
    target = CRS.from_epsg(epsg)
    for z in others:
        source = CRS.from_epsg(epsg - own + z)
        if f"zone {z}" not in source.name:  # not a run of zone codes: leave them to the checks
            return
        m = zones == z
        x[m], y[m] = _transformer(source.to_wkt(), target.to_wkt()).transform(x[m], y[m])
        run.report.findings.append(
            Finding(
                "note",
                "other_zone",
                f"{int(m.sum())} {run.raw.row_word}(s) carry zone {z} in their eastings: read "
                f"in zone {z} (the prefix names the zone; {spec.name} was declared)",
                tuple(int(v) for v in run.frame[ROW].to_numpy()[m]),
                "geometry",
                word=run.raw.row_word,
            )
        )
    run.raw.xy = (x, y)


def _coordinate_texts(
    frame: pd.DataFrame, cols: tuple[str, ...] | None, bad: npt.NDArray[np.bool_]
) -> pd.Series:
    """Per row, "coordinates missing or not numbers" with the cells as written where they
    are not blank (``'112,55'``, a zero-width space), so the rejects say what to fix."""
    out = pd.Series("coordinates missing or not numbers", index=frame.index, dtype=object)
    if not cols or not set(cols) <= set(frame.columns):
        return out
    pos = np.flatnonzero(bad)
    shown = [
        ", ".join(repr(v) for v in vals if isinstance(v, str) and v.strip())
        for vals in zip(*(frame[c].iloc[pos].tolist() for c in dict.fromkeys(cols)), strict=True)
    ]
    out.iloc[pos] = [
        f"coordinates missing or not numbers ({t})" if t else out.iloc[0] for t in shown
    ]
    return out


def _check_coordinates(run: _Run, study_area: tuple[float, float, float, float] | None) -> None:
    """Coordinates plausible for the declared CRS (and inside the study area, projected ones
    after unprojecting): a mistake in most rows refuses the file."""
    spec = run.raw.spec
    if run.raw.xy is not None:  # NaN where missing, as the first vertex of no point is
        xs, ys = run.raw.xy
    else:
        xs, ys = _first_coords(run.frame.geometry.to_numpy())
    alive_pos = np.flatnonzero(run.alive)
    issues = check_coordinates(xs[alive_pos], ys[alive_pos], spec, study_area=study_area)
    for issue in issues:
        if issue.code == "not_finite":
            continue
        if len(issue.positions) > 0.5 * len(alive_pos) and issue.code != "outside_study_area":
            raise LayerError(
                f"{run.raw.path}: {issue.message} in {len(issue.positions)} of {len(alive_pos)} "
                f"rows; the declared CRS is {spec.name}. Fix: {issue.fix}"
            )
        mask = np.zeros(len(run.frame), dtype=bool)
        mask[alive_pos[list(issue.positions)]] = True
        run.reject(mask, issue.code, issue.message, "geometry", issue.fix)


def _value_words(role: Role, fld: str) -> dict[str, str]:
    """Built-in words for an enumerated field: normalised word -> canonical value."""
    table = dict(VALUE_WORDS.get(role.name, {}).get(fld, {}))
    if role.name == "candidates" and fld == "kind":
        from sxzones.rules import bundled_rules  # the rules' vocabulary of candidate kinds

        try:
            vocab = bundled_rules().candidate_kinds
        except SxzonesError:  # pragma: no cover - the bundled rules are always there
            vocab = None
        for t in vocab.terms.values() if vocab else ():
            table[t.id] = (t.zh, t.en, *t.synonyms)
    out = {normalise(w): canon for canon, words in table.items() for w in words}
    out.update({normalise(c): c for c in role.choices.get(fld, ())})
    return out


def _map_values(run: _Run, values: Mapping[str, Mapping[str, str]]) -> None:
    """Values written the agency's way (``优先保护单元``) turned into canonical ones: the
    given ``values`` mapping first, then the built-in words; reported as a note."""
    for fld in dict.fromkeys([*run.role.choices, *values]):
        if fld not in run.frame.columns:
            continue
        given = {normalise(k): str(v) for k, v in values.get(fld, {}).items()}
        words = {**_value_words(run.role, fld), **given}
        col = run.frame[fld]
        codes, uniques = pd.factorize(col)
        new = [words.get(normalise(u), u) for u in uniques]
        changed = [(str(u), n) for u, n in zip(uniques, new, strict=True) if str(u) != n]
        if not changed:
            continue
        mapped = np.array([*new, None], dtype=object)[codes]
        run.frame[fld] = pd.Series(mapped, index=col.index).where(col.notna(), col)
        shown = ", ".join(f"{a} -> {b}" for a, b in changed[:6])
        run.report.findings.append(
            Finding(
                "note",
                "values_mapped",
                f"{run.shown(fld)}: values read as {shown}" + (" ..." if len(changed) > 6 else ""),
                (),
                run.shown(fld),
                "",
                run.raw.row_word,
            )
        )


def _check_values(run: _Run, values: Mapping[str, Mapping[str, str]]) -> None:
    """Reject rows with a required value missing or an enumerated value not allowed."""
    frame, r = run.frame, run.role
    ids = [run.idf] if run.idf and run.idf not in r.required else []
    for f in (*ids, *r.required):
        run.reject(
            _blank(frame[f]),
            "missing_value",
            f"required field {run.shown(f)!r} is empty",
            f,
            "fill in the value",
        )
    present = [f for f in r.one_of if f in frame.columns]
    if present:
        blank = np.logical_and.reduce([_blank(frame[f]) for f in present])
        run.reject(
            blank,
            "missing_value",
            f"{' and '.join(repr(run.shown(f)) for f in present)} empty",
            present[0],
            "fill in the value",
        )
    _map_values(run, values)
    frame = run.frame
    for f, allowed in r.choices.items():
        if f not in frame.columns:
            continue
        vals = frame[f].astype(str)
        bad = run.alive & ~vals.isin(allowed).to_numpy() & ~_blank(frame[f])
        if bad.any():
            seen = sorted(set(vals[bad]))[0]
            _reject_values(
                run,
                bad,
                f,
                vals,
                str(list(allowed)),
                f"only if a value is one of these under another name, map it in the catalogue "
                f'entry, e.g. values = {{ {f} = {{ "{seen}" = "{allowed[0]}" }} }} if "{seen}" '
                f"means {allowed[0]}; a value that is none of them (another kind of land, not "
                "a class of the plan) is rightly rejected: correct it in the file or leave it "
                "out",
            )
    if r.name == "control_units":
        _note_type_against_code(run)
    if r.name == "candidates":
        _read_candidate_state(run)


#: What tables write for a settled (稳沉) or still settling subsidence area, or an unknown
#: state. 基本稳沉/基本稳定 ("basically settled", the middle class of a subsidence stability
#: assessment, on which building with measures is allowed) is read as settled, with a note.
_SETTLED: dict[str, bool | None] = {
    **dict.fromkeys(("是", "已稳沉", "稳沉", "已稳定", "稳定", "true", "yes", "y", "1"), True),
    **dict.fromkeys(("基本稳沉", "基本稳定"), True),
    **dict.fromkeys(("否", "未稳沉", "不稳沉", "沉降中", "未稳定", "false", "no", "n", "0"), False),
    **dict.fromkeys(("尚未稳沉", "稳沉中", "正在沉降", "仍在沉降", "未完全稳沉"), False),
    **dict.fromkeys(("不详", "未知", "不清楚", "待定", "待查", "unknown"), None),
}
#: A closure year as tables write it: 2019, 2019年, 2019-06, 2019年6月, 2019/6/1, 2019.06.
_YEAR = re.compile(r"^((?:19|20)\d{2})(?:\.0)?(?:年.*|[-/.]\d{1,2}(?:[-/.]\d{1,2})?.*)?$")
#: Chinese digits of a year written out (二〇一九年).
_ZH_DIGITS = str.maketrans("〇零○一二三四五六七八九", "000123456789")


def _read_candidate_state(run: _Run) -> None:
    """``settled`` as True/False/None (是/否, 已稳沉/未稳沉, 不详 ...: :data:`_SETTLED`) and
    ``closure_year`` as a year (2019, 2019年, 2019-06, 二〇一九年); a blank is unknown (None:
    the score's state component drops out). A value not read is unknown too, with a note
    naming its rows, never a rejection: the state only feeds the score, and rejecting the
    row took the candidate's land and capacity out of the totals. Read as text: ``2019年``
    once crashed the screen and ``是`` scored as still settling."""
    frame = run.frame
    if "settled" in frame.columns:
        text = _cell_texts(frame["settled"]).str.lower()
        key = text.str.removesuffix(".0")
        value = key.map(lambda t: _SETTLED.get(t))
        _note_state(run, (text != "") & ~key.isin(list(_SETTLED)), "settled", text,
                    "read as unknown (the state's score component drops out)")  # fmt: skip
        _note_state(run, key.isin(["基本稳沉", "基本稳定"]), "settled", text, "read as settled")
        frame["settled"] = value.astype(object).where(value.notna(), None)
    if "closure_year" in frame.columns:
        text = _cell_texts(frame["closure_year"])
        year = text.map(
            lambda t: int(m.group(1)) if (m := _YEAR.match(t.translate(_ZH_DIGITS))) else None
        )
        _note_state(run, year.isna() & (text != ""), "closure_year", text,
                    "read as unknown: not a year such as 2019, 2019年 or 2019-06")  # fmt: skip
        frame["closure_year"] = year.astype(object).where(year.notna(), None)


def _note_state(run: _Run, mask: pd.Series, f: str, text: pd.Series, how: str) -> None:
    """A note for the live rows under ``mask`` whose value of ``f`` was read as ``how``."""
    m = run.alive & mask.to_numpy(dtype=bool)
    if m.any():
        seen = sorted(set(text[m]))[:5]
        run.report.findings.append(
            Finding(
                "note", "state_read", f"{run.shown(f)!r} value(s) {seen} {how}",
                tuple(int(x) for x in run.frame.loc[m, ROW]), run.shown(f),
                "correct them in the file if they mean otherwise", run.raw.row_word,
            )
        )  # fmt: skip


def _cell_texts(values: pd.Series) -> pd.Series:
    """The cells as stripped text, "" where :func:`_blank`."""
    text = values.astype("string").str.strip().fillna("")
    return text.mask(_blank(values), "")


def _reject_values(
    run: _Run, bad: npt.NDArray[np.bool_], f: str, text: pd.Series, ok: str, fix: str
) -> None:
    """Reject the rows under ``bad`` for their value of field ``f`` (``text``: the values as
    text): each row's reason quotes its own value, the finding lists the first five."""
    if bad.any():
        seen = sorted(set(text[bad]))[:5]
        name = run.shown(f)
        own = text.map(lambda v: f"{name!r} has value(s) {[v]}; allowed: {ok}")
        run.reject(
            bad,
            "bad_value",
            f"{name!r} has value(s) {seen}; allowed: {ok}",
            f,
            fix,
            reasons=own,
        )


def _note_type_against_code(run: _Run) -> None:
    """Say where a unit's type contradicts the type digit of its code written the national
    way (ZH14010710001: 1, priority protection): a type field mapped or coded wrongly would
    turn priority units into general ones, and verdicts with them."""
    frame = run.frame
    if not {"unit_code", "unit_type"} <= set(frame.columns):
        return
    digits = frame["unit_code"].astype("string").str.strip().str.extract(_UNIT_CODE)[0]
    by_code = digits.map(_UNIT_TYPE_DIGIT)
    odd = run.alive & (by_code.notna() & (by_code != frame["unit_type"])).to_numpy(dtype=bool)
    if odd.any():
        k = int(np.flatnonzero(odd)[0])
        run.report.findings.append(
            Finding(
                "note",
                "type_against_code",
                f"{run.shown('unit_type')} contradicts the type digit of "
                f"{run.shown('unit_code')} in {int(odd.sum())} unit(s), e.g. "
                f"{frame['unit_code'].iloc[k]} ({by_code.iloc[k]}) is {frame['unit_type'].iloc[k]}",
                tuple(int(x) for x in frame.loc[odd, ROW]),
                run.shown("unit_type"),
                "check the type field and its mapping (1 priority protection, 2 key control, "
                "3 general control)",
                run.raw.row_word,
            )
        )


def _all_distinct(ids: pd.Series) -> bool:
    """Whether every value (text) differs from every other: sorted by Arrow, no two
    neighbours equal (about three times faster than ``duplicated`` on a million ids)."""
    if len(ids) < 2:
        return True
    try:
        arr = pa.array(ids, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False  # the full check decides
    if arr.null_count or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return False
    ordered = arr.take(pc.sort_indices(arr))
    return not pc.any(pc.equal(ordered.slice(1), ordered.slice(0, len(arr) - 1))).as_py()


def _note_inexact_ids(run: _Run, idf: str) -> None:
    """Say which ids are numbers of 16 or more digits held as floating point (a spreadsheet's
    number cell, a float field): a double keeps 15-17 significant digits, and Excel 15, so a
    统一社会信用代码 typed into a number cell is not the code any more (911401001100012345
    comes back as 911401001100012288)."""
    col = run.frame[idf]
    if pd.api.types.is_float_dtype(col):
        big = np.abs(col.to_numpy(dtype=float, na_value=np.nan)) >= 1e15
    elif col.dtype == object:
        if pd.api.types.infer_dtype(col, skipna=True) in ("string", "empty"):
            return  # text throughout (a CSV's ids): exact; one scan in C, not a Python loop
        big = np.fromiter(
            (
                isinstance(v, float | np.floating | int | np.integer)
                and not isinstance(v, bool)
                and abs(float(v)) >= 1e15
                for v in col.to_numpy()
            ),
            dtype=bool,
            count=len(col),
        )
    else:  # text, or an integer field (exact to 19 digits)
        return
    if big.any():
        run.report.findings.append(
            Finding(
                "note",
                "id_not_exact",
                f"{run.shown(idf)}: numbers of 16 or more digits held as floating point: "
                "their last digits are not the id's (Excel keeps 15)",
                tuple(int(x) for x in run.frame.loc[big, ROW]),
                run.shown(idf),
                "format the column as text in the spreadsheet and enter the ids again",
                run.raw.row_word,
            )
        )


#: Roles whose features are areas the analyses judge against: a repeated id is a part of
#: the same area (a 单元编码 or 红线编号 on each part of a single-part export), never a row to
#: leave out (the part's land would be seen by no rule: a point in it came out ``clear``).
PART_ROLES = frozenset({"control_units", "redline", "builtup", "zones"})


def _check_ids(run: _Run) -> None:
    """Reject repeated ids (the first occurrence is kept)."""
    idf, frame, alive = run.idf, run.frame, run.alive
    if not idf:
        return
    _note_inexact_ids(run, idf)
    ids = frame[idf].astype(str)
    # an id in full width, lower case or with spaces is the same id (the phase-out join
    # compares them so); the parts of an area keep their ids as written
    key = ids if run.role.name in PART_ROLES else id_key(ids)
    if _all_distinct(key):  # the usual case, answered by one hash pass
        return
    dup = alive & key.where(alive).duplicated(keep="first").to_numpy()
    if not dup.any():
        return
    if run.role.name in PART_ROLES:  # parts of one unit stored as rows: each part is land
        run.report.findings.append(
            Finding(
                "note",
                "id_parts",
                f"{int(dup.sum())} feature(s) share their {run.shown(idf)} with another (the "
                "parts of one area stored as rows, as single-part exports write them): each "
                "part is kept and checked; a project touching two parts lists the id twice",
                tuple(int(x) for x in frame.loc[dup, ROW]),
                run.shown(idf),
                "",
                run.raw.row_word,
            )
        )
        return
    sci = ids.str.fullmatch(r"\s*[0-9](?:\.[0-9]+)?[eE]\+?[0-9]+\s*").to_numpy(dtype=bool)
    if sci.any():  # 9.11401E+17: a CSV saved by Excel from number cells
        run.report.findings.append(
            Finding(
                "note",
                "id_not_exact",
                f"{run.shown(idf)}: ids written in scientific notation (e.g. {ids[sci].iloc[0]}): "
                "the spreadsheet saved the numbers rounded, so different ids look the same",
                tuple(int(x) for x in frame.loc[sci, ROW]),
                run.shown(idf),
                "format the column as text in the spreadsheet, enter the ids again and save",
                run.raw.row_word,
            )
        )
    first_row = frame.loc[alive, ROW].groupby(key[alive].to_numpy()).first()
    first_id = ids[alive].groupby(key[alive].to_numpy()).first()
    shown = run.shown(idf)
    written = key.map(first_id).astype(str)
    apart = pd.Series(
        np.where(
            (written != ids).to_numpy(dtype=bool),
            " '" + written + "' written in full-width characters, lower case or with spaces",
            "",
        ),
        index=ids.index,
    )
    reasons = (
        f"duplicate {shown} '"
        + ids
        + f"' (first at {run.raw.row_word} "
        + key.map(first_row).astype("Int64").astype(str)
        + ")"
        + apart.where(apart == "", ": the same id as" + apart)
    )
    run.reject(
        dup,
        "duplicate_id",
        f"duplicate {shown}; the first occurrence is kept",
        idf,
        "give every feature its own id",
        reasons=reasons,
    )


def _repair(run: _Run) -> np.ndarray | None:
    """Invalid geometries made valid on purpose (``make_valid``, structure), and said so.
    None for a table whose points are not made yet (a point is always valid)."""
    frame, r = run.frame, run.role
    if run.raw.xy is not None:
        return None
    geoms = frame.geometry.to_numpy().copy()
    invalid = run.alive & ~_is_valid(geoms)
    if not invalid.any():
        return geoms
    reasons = [shapely.is_valid_reason(g) for g in geoms[invalid]]
    fam = next(iter(r.geometry)) if len(r.geometry) == 1 else "polygon"
    repaired = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
    repaired = _keep_family(repaired, fam)
    geoms[invalid] = repaired
    run.report.findings.append(
        Finding(
            "repaired",
            "invalid_geometry",
            f"invalid geometry repaired with make_valid ({'; '.join(sorted(set(reasons))[:3])})",
            tuple(int(x) for x in frame.loc[invalid, ROW]),
            "geometry",
            "fix the geometry at the source to silence this",
            run.raw.row_word,
        )
    )
    gone = np.zeros(len(frame), dtype=bool)
    gone[np.flatnonzero(invalid)] = shapely.is_empty(repaired)
    run.reject(
        gone, "empty_after_repair", "geometry is empty once repaired", "geometry", "redraw it"
    )
    return geoms


def _drop_z(
    geoms: npt.NDArray[np.object_], rows: pd.Series, report: LayerReport, word: str
) -> npt.NDArray[np.object_]:
    """Heights dropped, with a note naming the rows (``rows``: their ``source_row``): every
    analysis is 2-D, and heights would only reach the outputs half-declared (GeoPackage
    layers declared 2-D)."""
    z = shapely.has_z(geoms)
    if not z.any():
        return geoms
    text = "heights (Z) dropped: zoning and siting are measured in 2-D"
    found = tuple(int(x) for x in rows.to_numpy()[z])
    report.findings.append(Finding("note", "z_dropped", text, found, "geometry", word=word))
    return shapely.force_2d(geoms)  # type: ignore[no-any-return]


def _points_in(
    x: np.ndarray, y: np.ndarray, source: CRS, working_crs: CRS
) -> npt.NDArray[np.object_]:
    """Points of coordinates in ``source`` made in ``working_crs`` (one PROJ call, one
    point per row): the same coordinates as making them first and reprojecting them."""
    tx, ty = _transformer(source.to_wkt(), working_crs.to_wkt()).transform(x, y)
    with gc_paused():
        return shapely.points(tx, ty)


def _datum_note(raw: RawLayer, report: LayerReport) -> None:
    """A note when the data's datum (Xi'an 1980, Beijing 1954) has no published shift."""
    datum = raw.spec.crs.datum.name if raw.spec.crs.datum else ""
    if "Xian" in datum or "Beijing" in datum:
        report.findings.append(
            Finding(
                "note",
                "datum_shift_approximate",
                f"{datum} to CGCS2000 has no published parameters in PROJ; the "
                "shift is approximated (error up to tens of metres)",
                (),
                None,
                "supply CGCS2000 coordinates for threshold decisions",
            )
        )


def _finish(
    run: _Run, geoms: np.ndarray | None, working_crs: CRS, provenance: Provenance | None
) -> gpd.GeoDataFrame:
    """The live rows, de-obfuscated and reprojected to the working CRS, canonical fields
    first; refuses a layer with nothing left. ``geoms`` None: a table's points, made here
    from its coordinates, in the working CRS. The attributes are put in order and the
    geometries made on their own, then one frame is made (a frame per step cost most of
    the validation of a single drawn parcel)."""
    raw, r, report, frame, alive = run.raw, run.role, run.report, run.frame, run.alive
    every = bool(alive.all())
    skip = (frame.geometry.name, GEOMETRY_PROBLEM)
    names = [c for c in frame.columns if c not in skip]
    ids = [r.id_field] if r.id_field else []
    canon = list(dict.fromkeys(c for c in (*ids, *r.required, *r.optional) if c in names))
    rest = [c for c in names if c not in canon and c not in (ROW, "geometry")]
    # a frame of its own, without the geometries, selected as a plain frame (half the cost
    # of a GeoDataFrame's selection), with the attributes a selection carries
    out = pd.DataFrame(frame, copy=False)[[*canon, *rest, ROW]]
    out.attrs = copy.deepcopy(frame.attrs)
    out = out if every else out.loc[alive]
    if geoms is None and raw.xy is not None:
        x, y = (v if every else v[alive] for v in raw.xy)
        source = CRS.from_user_input(raw.spec.crs)
        made: Any = _points_in(x, y, source, working_crs)
        _datum_note(raw, report)
    else:
        made = geoms[alive]  # type: ignore[index]
        if raw.spec.obfuscation:
            made = convert_geometries(made, raw.spec.obfuscation, "wgs84")
            report.notes.append(f"{raw.spec.obfuscation} converted to WGS84 with sxzones.crs")
        _datum_note(raw, report)
        made = _drop_z(made, out[ROW], report, raw.row_word)
        made = _reproject(made, CRS.from_user_input(raw.spec.crs), working_crs)
    if not isinstance(made, GeometryArray):
        made = from_shapely(made, crs=working_crs)
    out["geometry"] = made  # out: a frame of its own (the selection above)
    out = gpd.GeoDataFrame(out, geometry="geometry")
    out.index = pd.RangeIndex(len(out))
    report.n_loaded = len(out)
    if report.n_loaded == 0:
        raise LayerError(f"{raw.path}: no feature passed validation.\n{report.summary()}")
    out.attrs["sxzones"] = {
        "name": report.name,
        "role": r.name,
        "provenance": provenance.as_dict() if provenance else None,
        "source_crs": raw.spec.name,
        "coordinate_columns": raw.frame.attrs.get("coordinate_columns"),
        "fields": dict(run.names),
        "row_word": raw.row_word,
    }
    if report.n_loaded + report.n_rejected != report.n_read:  # pragma: no cover - invariant
        raise RuntimeError("row accounting failed: loaded + rejected != read")
    return out


def _note_unread_code_columns(
    role: Role, frame: pd.DataFrame, names: Mapping[str, str], report: LayerReport, word: str
) -> None:
    """In a layer of firms or projects (roles with an ``industry_code``), name each column
    whose name holds 行业 and 代码 that is not read as the industry code (two such columns:
    neither is chosen; a name not among the usual ones), with the mapping that reads it: its
    codes would otherwise decide nothing, unsaid."""
    if "industry_code" not in (*role.optional, *role.one_of):
        return
    read = names.get("industry_code", "industry_code" if "industry_code" in frame else None)
    for col in _fields_present(frame):
        key = normalise(col)
        if col == "industry_code" or "行业" not in key or "代码" not in key:
            continue
        said = f"; the industry code is read from {read!r}" if read else ""
        report.findings.append(
            Finding(
                "note",
                "field_not_read",
                f"column {col!r} is not read as the industry code (GB/T 4754){said}",
                (),
                col,
                f"if it holds the code to screen by, --field industry_code={col} "
                f'(fields = {{ industry_code = "{col}" }} in a catalogue entry)',
                word,
            )
        )


def validate_layer(
    raw: RawLayer,
    role: str | Role,
    *,
    name: str | None = None,
    working_crs: CRS | int | str,
    fields: Mapping[str, str] | None = None,
    constants: Mapping[str, Any] | None = None,
    values: Mapping[str, Mapping[str, str]] | None = None,
    id_field: str | None = None,
    provenance: Provenance | None = None,
    study_area: tuple[float, float, float, float] | None = SHANXI_BOUNDS,
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """Validate a read layer against a role and bring it into the working CRS.

    Parameters
    ----------
    raw : RawLayer
        From :func:`sxzones.layers.read_file`.
    role : str or Role
        A key of :data:`sxzones.layers.ROLES`.
    working_crs : pyproj.CRS, EPSG code or string
        The metric CRS of the result.
    fields : mapping, optional
        Canonical field -> source field. Fields not mapped are also found under the usual
        names agencies write (:data:`~sxzones.layers.schemas.FIELD_NAMES`) where unambiguous.
    constants : mapping, optional
        Canonical field -> value given to every feature (e.g. ``industry = "steel"``).
    values : mapping, optional
        Canonical field -> {source value -> canonical value}, e.g.
        ``{"unit_type": {"优先保护单元": "priority_protection"}}``; the usual Chinese values
        of enumerated fields are known without it.
    id_field : str, optional
        Overrides the role's id field.

    Returns
    -------
    (GeoDataFrame, LayerReport)
        The loaded rows in ``working_crs`` (canonical fields first, source fields kept,
        ``source_row`` the row as the file shows it) and the report with every finding.

    Raises
    ------
    LayerError
        When the file is refused as a whole.
    """
    r = ROLES[role] if isinstance(role, str) else role
    if raw.xy is not None and (raw.spec.obfuscation or "point" not in r.geometry):
        raw = raw.with_points()  # de-obfuscation and type checks work on the geometries
    working_crs = CRS.from_user_input(working_crs)
    report = LayerReport(
        name or raw.path.stem,
        raw.path,
        r.name,
        len(raw.frame),
        source_crs=raw.spec.name,
        working_crs=f"EPSG:{working_crs.to_epsg()}",
        provenance=provenance,
        notes=list(raw.notes),
    )
    frame, names, idf = _map_fields(raw, r, fields or {}, constants or {}, id_field)
    for text in raw.frame.attrs.get("inferred", []):  # e.g. a 界址点 zone read from eastings
        report.findings.append(Finding("note", "inferred", text, word=raw.row_word))
    report.findings += read_findings(raw.notes, raw.row_word)  # said, not only kept
    for canon, src in names.items():  # said in the report: what was read how
        if src == f"{raw.row_word} number":
            text, code = f"{canon}: the {src} (the file has no id field)", "id_from_row"
        elif src.startswith("type digit of "):
            text = f"{canon}: the {src} (ZH + adcode + 1 priority / 2 key / 3 general + serial)"
            code = "unit_type_from_code"
        elif src != canon and canon not in (fields or {}):
            text, code = f"field {src} read as {canon}", "field_read_as"
        else:
            continue
        report.findings.append(Finding("note", code, text, word=raw.row_word))
    _note_unread_code_columns(r, frame, names, report, raw.row_word)
    run = _Run(raw, r, report, frame, idf, names, np.ones(len(frame), dtype=bool))
    _check_geometry(run)
    _one_zone(run)
    _check_coordinates(run, study_area)
    _check_values(run, values or {})
    _check_ids(run)
    geoms = _repair(run)
    return _finish(run, geoms, working_crs, provenance), report
