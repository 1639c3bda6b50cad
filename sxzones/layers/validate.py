"""Validation of a layer against its role, with an explicit policy.

Policy (every decision is a :class:`Finding` in the file's :class:`LayerReport`):

* **refused** (the whole file; :class:`~sxzones.errors.LayerError`): unreadable, no features,
  required fields missing, or a coordinate mistake that affects most rows (a wrong CRS).
* **rejected** (the row goes to the rejects table with its reason): NULL or empty geometry,
  wrong geometry type, a required value missing, a value outside the allowed choices, a
  duplicate id (the first occurrence is kept), coordinates that are implausible for the
  declared CRS, or a geometry that repair leaves empty.
* **repaired** (kept, reported): an invalid geometry made valid with ``shapely.make_valid``
  (structure method), keeping the parts of the role's geometry family.

Input rows = loaded rows + rejected rows, always.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from sxzones._util import gc_paused
from sxzones.crs import SHANXI_BOUNDS, check_coordinates, convert_geometries
from sxzones.errors import LayerError
from sxzones.layers.readers import ROW, RawLayer
from sxzones.layers.schemas import ROLES, Provenance, Role

__all__ = ["Finding", "LayerReport", "validate_layer"]

Kind = Literal["refused", "rejected", "repaired", "note"]


@dataclass(frozen=True)
class Finding:
    """One thing validation found: what, in which rows (1-based source rows) and field, the fix."""

    kind: Kind
    code: str
    message: str
    rows: tuple[int, ...] = ()
    field: str | None = None
    fix: str = ""

    def __str__(self) -> str:
        where = ""
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:8])
            more = f" and {len(self.rows) - 8} more" if len(self.rows) > 8 else ""
            where = f" (row{'s' if len(self.rows) > 1 else ''} {shown}{more})"
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


def _reject(
    report: LayerReport,
    frame: pd.DataFrame,
    mask: np.ndarray,
    code: str,
    reason: str,
    id_field: str | None,
    fld: str | None = None,
    fix: str = "",
    reasons: pd.Series | None = None,
) -> np.ndarray:
    """Record rows under ``mask`` as rejected; return the mask of rows still alive."""
    if not mask.any():
        return ~mask
    sub = frame.loc[mask]
    rows = sub[ROW].to_numpy()
    ids = sub[id_field].to_numpy() if id_field and id_field in sub else [None] * len(sub)
    per_row = reasons.loc[mask].to_numpy() if reasons is not None else [reason] * len(sub)
    for r, i, why in zip(rows, ids, per_row, strict=True):
        report._rejects.append(
            {
                "layer": report.name,
                "source_row": int(r),
                "id": None if i is None or pd.isna(i) else str(i),
                "code": code,
                "field": fld,
                "reason": why,
            }
        )
    report.findings.append(Finding("rejected", code, reason, tuple(int(r) for r in rows), fld, fix))
    return ~mask


# shapely type id (+1, so that -1 "missing" is position 0) -> geometry family
_FAMILY_OF_TYPE_ID = np.array(
    [None, "point", "line", "line", "polygon", "point", "line", "polygon", None], dtype=object
)


@lru_cache(maxsize=32)
def _transformer(src_wkt: str, dst_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(src_wkt), CRS.from_wkt(dst_wkt), always_xy=True)


def _reproject(frame: gpd.GeoDataFrame, crs: CRS) -> gpd.GeoDataFrame:
    """``to_crs``, with a fast path for point layers (one vectorised PROJ call)."""
    geoms = frame.geometry.to_numpy()
    if (
        len(geoms)
        and bool(np.all(shapely.get_type_id(geoms) == 0))
        and not bool(shapely.has_z(geoms).any())
    ):
        xy = shapely.get_coordinates(geoms)
        x, y = _transformer(frame.crs.to_wkt(), crs.to_wkt()).transform(xy[:, 0], xy[:, 1])
        with gc_paused():
            return frame.set_geometry(shapely.points(x, y), crs=crs)
    return frame.to_crs(crs)


def _blank(values: pd.Series) -> np.ndarray:
    """True where a value is missing: NULL, NaN or blank text."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.isna().to_numpy()
    text = values.astype("string").str.strip()
    return (text.isna() | text.isin(["", "nan", "None"])).to_numpy(dtype=bool)


def _apply_mapping(
    frame: gpd.GeoDataFrame,
    fields: Mapping[str, str],
    constants: Mapping[str, Any],
    role: Role,
    path: Path,
) -> gpd.GeoDataFrame:
    present = [c for c in frame.columns if c not in (ROW, frame.geometry.name)]
    missing_src = {canon: src for canon, src in fields.items() if src not in frame.columns}
    if missing_src:
        pairs = ", ".join(f"{c} <- {s!r}" for c, s in missing_src.items())
        raise LayerError(
            f"{path}: the field mapping names source field(s) the file does not have ({pairs}). "
            f"Fields present: {present}. Fix: correct the mapping in the catalogue (or --field CANONICAL=SOURCE)."
        )
    renamed = frame.rename(columns={src: canon for canon, src in fields.items() if canon != src})
    for canon, value in constants.items():
        renamed[canon] = value
    missing = [f for f in role.required if f not in renamed.columns]
    if missing:
        raise LayerError(
            f"{path}: role {role.name!r} requires field(s) {missing}, which are missing. "
            f"Fields present: {present}. Fix: add them, or map existing fields to them in the "
            f'catalogue, e.g. [layers.<name>.fields] {missing[0]} = "<source field>", or '
            f"with --field {missing[0]}=<source field>."
        )
    return renamed


def _first_coords(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first vertex of each geometry (NaN for missing or empty ones)."""
    if bool(np.all(shapely.get_type_id(geoms) <= 0)):  # points (and missing): direct
        return shapely.get_x(geoms), shapely.get_y(geoms)
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    first = np.full((len(geoms), 2), np.nan)
    if len(index):
        _, pos = np.unique(index, return_index=True)
        first[index[pos]] = coords[pos]
    return first[:, 0], first[:, 1]


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


def validate_layer(
    raw: RawLayer,
    role: str | Role,
    *,
    name: str | None = None,
    working_crs: CRS | int | str,
    fields: Mapping[str, str] | None = None,
    constants: Mapping[str, Any] | None = None,
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
        Canonical field -> source field.
    constants : mapping, optional
        Canonical field -> value given to every feature (e.g. ``industry = "steel"``).
    id_field : str, optional
        Overrides the role's id field.

    Returns
    -------
    (GeoDataFrame, LayerReport)
        The loaded rows in ``working_crs`` (canonical fields first, source fields kept,
        ``source_row`` the 1-based row in the file) and the report with every finding.

    Raises
    ------
    LayerError
        When the file is refused as a whole.
    """
    r = ROLES[role] if isinstance(role, str) else role
    working_crs = CRS.from_user_input(working_crs)
    label = name or raw.path.stem
    report = LayerReport(
        label,
        raw.path,
        r.name,
        len(raw.frame),
        source_crs=raw.spec.name,
        working_crs=f"EPSG:{working_crs.to_epsg()}",
        provenance=provenance,
        notes=list(raw.notes),
    )
    frame = _apply_mapping(raw.frame, fields or {}, constants or {}, r, raw.path)
    idf = id_field or r.id_field
    if idf and idf not in frame.columns:
        raise LayerError(
            f"{raw.path}: id field {idf!r} is missing; fields present: "
            f"{[c for c in frame.columns if c != frame.geometry.name]}. Fix: map or name the id "
            "field (--id FIELD)."
        )
    alive = np.ones(len(frame), dtype=bool)

    def reject(
        mask: np.ndarray,
        code: str,
        reason: str,
        fld: str | None = None,
        fix: str = "",
        reasons: pd.Series | None = None,
    ) -> None:
        nonlocal alive
        m = mask & alive
        alive &= _reject(report, frame, m, code, reason, idf, fld, fix, reasons)

    if "jzd_problem" in frame.columns:
        bad = frame["jzd_problem"].notna().to_numpy()
        reject(
            bad,
            "bad_parcel",
            "界址点 parcel cannot form a polygon",
            "geometry",
            "check the boundary points of these parcels",
            reasons=frame["jzd_problem"].astype(str),
        )
    geoms = frame.geometry.to_numpy()
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    coord_cols = raw.frame.attrs.get("coordinate_columns")
    reject(
        empty,
        "empty_geometry",
        "coordinates missing or not numbers" if coord_cols else "NULL or empty geometry",
        "/".join(coord_cols) if coord_cols else "geometry",
        "fill in the coordinates or remove the row",
    )

    families = _FAMILY_OF_TYPE_ID[shapely.get_type_id(geoms) + 1]
    wrong = alive & ~np.isin(families, list(r.geometry))
    if wrong.any():
        types = sorted({str(t) for t in frame.geometry.geom_type[wrong]})
        reject(
            wrong,
            "wrong_geometry_type",
            f"geometry type {', '.join(types)} is not allowed for role {r.name!r} "
            f"(allowed: {', '.join(sorted(r.geometry))})",
            "geometry",
            "split or convert these features, or load the layer under another role",
        )

    # Coordinate plausibility for the declared CRS.
    xs, ys = _first_coords(geoms)
    issues = check_coordinates(
        xs[alive], ys[alive], raw.spec, study_area=study_area if raw.spec.is_geographic else None
    )
    alive_pos = np.flatnonzero(alive)
    for issue in issues:
        if issue.code == "not_finite":
            continue
        if len(issue.positions) > 0.5 * len(alive_pos) and issue.code != "outside_study_area":
            raise LayerError(
                f"{raw.path}: {issue.message} in {len(issue.positions)} of {len(alive_pos)} rows; "
                f"the declared CRS is {raw.spec.name}. Fix: {issue.fix}"
            )
        mask = np.zeros(len(frame), dtype=bool)
        mask[alive_pos[list(issue.positions)]] = True
        reject(mask, issue.code, issue.message, "geometry", issue.fix)

    for f in r.required:
        if f == frame.geometry.name:
            continue
        reject(
            alive & _blank(frame[f]),
            "missing_value",
            f"required field {f!r} is empty",
            f,
            "fill in the value",
        )
    for f, allowed in r.choices.items():
        if f in frame.columns:
            vals = frame[f].astype(str)
            bad = alive & ~vals.isin(allowed).to_numpy() & ~_blank(frame[f])
            if bad.any():
                seen = sorted(set(vals[bad]))[:5]
                reject(
                    bad,
                    "bad_value",
                    f"{f!r} has value(s) {seen}; allowed: {list(allowed)}",
                    f,
                    "correct the values or map them in the catalogue",
                )
    if idf:
        ids = frame[idf].astype(str)
        dup = alive & ids.where(alive).duplicated(keep="first").to_numpy()
        if dup.any():
            first_row = frame.loc[alive, ROW].groupby(ids[alive].to_numpy()).first()
            reasons = (
                f"duplicate {idf} '"
                + ids
                + "' (first at row "
                + ids.map(first_row).astype("Int64").astype(str)
                + ")"
            )
            reject(
                dup,
                "duplicate_id",
                f"duplicate {idf}; the first occurrence is kept",
                idf,
                "give every feature its own id",
                reasons=reasons,
            )

    # Repair invalid geometries on purpose, and say which.
    geoms = frame.geometry.to_numpy().copy()
    invalid = alive & ~shapely.is_valid(geoms)
    if invalid.any():
        reasons = [shapely.is_valid_reason(g) for g in geoms[invalid]]
        fam = next(iter(r.geometry)) if len(r.geometry) == 1 else "polygon"
        repaired = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
        repaired = _keep_family(repaired, fam)
        geoms[invalid] = repaired
        report.findings.append(
            Finding(
                "repaired",
                "invalid_geometry",
                f"invalid geometry repaired with make_valid ({'; '.join(sorted(set(reasons))[:3])})",
                tuple(int(x) for x in frame.loc[invalid, ROW]),
                "geometry",
                "fix the geometry at the source to silence this",
            )
        )
        gone = np.zeros(len(frame), dtype=bool)
        gone[np.flatnonzero(invalid)] = shapely.is_empty(repaired)
        reject(
            gone,
            "empty_after_repair",
            "geometry is empty once repaired",
            "geometry",
            "redraw the feature",
        )

    out = frame.loc[alive].copy()
    out = gpd.GeoDataFrame(out.drop(columns=frame.geometry.name), geometry=geoms[alive], crs=None)
    if raw.spec.obfuscation:
        out.geometry = convert_geometries(out.geometry.to_numpy(), raw.spec.obfuscation, "wgs84")
        report.notes.append(f"{raw.spec.obfuscation} converted to WGS84 with sxzones.crs")
    out = out.set_crs(raw.spec.crs, allow_override=True)
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
    out = _reproject(out, working_crs)
    canon = [c for c in (*r.required, *r.optional) if c in out.columns]
    rest = [c for c in out.columns if c not in canon and c not in (ROW, "geometry")]
    out = out[[*canon, *rest, ROW, "geometry"]]
    out.index = pd.RangeIndex(len(out))
    report.n_loaded = len(out)
    if report.n_loaded == 0:
        raise LayerError(f"{raw.path}: no feature passed validation.\n{report.summary()}")
    out.attrs["sxzones"] = {
        "name": label,
        "role": r.name,
        "provenance": provenance.as_dict() if provenance else None,
        "source_crs": raw.spec.name,
        "coordinate_columns": coord_cols,
    }
    if report.n_loaded + report.n_rejected != report.n_read:  # pragma: no cover - invariant
        raise RuntimeError("row accounting failed: loaded + rejected != read")
    return out, report
