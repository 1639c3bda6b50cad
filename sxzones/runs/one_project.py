"""One plain project validated without the general validation's frames.

A site check of one drawn, pasted or typed project spent a quarter of its time in
:func:`sxzones.layers.validate_layer`, building and renaming pandas frames for one row in
which nothing is found. :func:`plain_project` gives what ``validate_layer`` gives for such a
project (the frame, column for column and type for type, and the report), made at once; it
answers None for anything else (a field to map, a missing or blank id, a geometry to
repair, reject or convert from a datum without published shifts, heights, a coordinate
the checks question), which the general validation then handles. ``tests/test_serve_fast.py``
holds the two equal on points and parcels in every CRS of the pages.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from geopandas.array import from_shapely
from pyproj import CRS

from sxzones.crs import SHANXI_BOUNDS, check_coordinates, convert_geometries
from sxzones.layers import ROLES, LayerReport
from sxzones.layers.cache import cached_transformer
from sxzones.layers.readers import ROW, RawLayer
from sxzones.layers.schemas import FIELD_NAMES
from sxzones.layers.validate import read_findings
from sxzones.vocab import normalise

__all__ = ["plain_project"]

#: The columns a plain project may have besides its geometry, in the order validation puts
#: them (the role's id and optional fields first, then the others, then the row number).
ORDER = ("project_id", "name", "industry", "kind", "declared_area", ROW)


def _plain_geometry(geom: Any) -> bool:
    """A 2-D point or polygon, not empty, finite, valid: nothing for validation to say."""
    return (
        shapely.get_type_id(geom) in (0, 3)
        and not shapely.is_empty(geom)
        and not shapely.has_z(geom)
        and bool(np.isfinite(shapely.get_coordinates(geom)).all())
        and bool(shapely.is_valid(geom))
    )


def _usual_names_free(columns: list[str]) -> bool:
    """No column is a usual name of a projects field the frame lacks (validation would read
    it as that field and say so)."""
    given = {normalise(c) for c in columns}
    for canon, words in FIELD_NAMES.get("projects", {}).items():
        if canon not in columns and any(normalise(w) in given for w in (canon, *words)):
            return False
    return True


def plain_project(
    raw: RawLayer,
    working_crs: CRS,
    constants: dict[str, str],
    study_area: tuple[float, float, float, float] | None = SHANXI_BOUNDS,
) -> tuple[gpd.GeoDataFrame, LayerReport] | None:
    """``validate_layer(raw, "projects", name="projects", ...)`` of a one-feature layer whose
    columns are ``project_id`` and optionally ``name`` and ``declared_area``, with the
    ``constants`` (``industry``, ``kind``) set on it, plus the ``geometry_note`` column
    (blank) that :func:`sxzones.runs.site_check.read_projects` adds; None when the layer is
    not that plain (the general validation decides then). ``raw`` is not changed.

    Returns
    -------
    (GeoDataFrame, LayerReport) or None
        The project in ``working_crs`` (a projected CRS) and the report, as validation
        gives them.
    """
    frame = raw.frame
    columns = [str(c) for c in frame.columns if c != frame.geometry.name]
    given = [*columns, *(c for c in constants if c not in columns)]
    if (
        len(frame) != 1
        or raw.xy is not None
        or frame.attrs
        or set(given) - set(ORDER)
        or "project_id" not in columns
        or ROW not in columns
        or "industry" not in given
        or not _usual_names_free(given)
    ):
        return None
    pid = frame["project_id"].iloc[0]
    if not isinstance(pid, str) or pid.strip() in ("", "nan", "None"):
        return None
    geom = frame.geometry.iloc[0]
    spec = raw.spec
    datum = spec.crs.datum.name if spec.crs.datum else ""
    if not _plain_geometry(geom) or "Xian" in datum or "Beijing" in datum:
        return None
    x, y = shapely.get_coordinates(geom)[0]
    if check_coordinates(np.array([x]), np.array([y]), spec, study_area=study_area):
        return None
    return _made(raw, geom, working_crs, constants, given)


def _made(
    raw: RawLayer, geom: Any, working_crs: CRS, constants: dict[str, str], given: list[str]
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """The validated frame and report of a plain project (see :func:`plain_project`)."""
    spec, frame = raw.spec, raw.frame
    report = LayerReport(
        "projects",
        raw.path,
        "projects",
        1,
        source_crs=spec.name,
        working_crs=f"EPSG:{working_crs.to_epsg()}",
        notes=list(raw.notes),
    )
    report.findings += read_findings(raw.notes, raw.row_word)
    geoms = np.array([geom], dtype=object)
    if spec.obfuscation:
        geoms = convert_geometries(geoms, spec.obfuscation, "wgs84")
        report.notes.append(f"{spec.obfuscation} converted to WGS84 with sxzones.crs")
    source = CRS.from_user_input(spec.crs)
    if shapely.get_type_id(geoms[0]) == 0:  # as validation's points: one PROJ call
        xy = shapely.get_coordinates(geoms)
        tr = cached_transformer(source.to_wkt(), working_crs.to_wkt())
        px, py = tr.transform(xy[:, 0], xy[:, 1])
        made = from_shapely(shapely.points(px, py), crs=working_crs)
    else:
        made = from_shapely(geoms, crs=source).to_crs(working_crs)
    data: dict[str, Any] = {}
    for c in ORDER:
        if c in constants:
            data[c] = [constants[c]]
        elif c in given:
            data[c] = frame[c].array
    data["geometry"] = made
    data["geometry_note"] = [""]
    out = gpd.GeoDataFrame(data, index=pd.RangeIndex(1), geometry="geometry")
    out.attrs["sxzones"] = {
        "name": "projects",
        "role": ROLES["projects"].name,
        "provenance": None,
        "source_crs": spec.name,
        "coordinate_columns": None,
        "fields": {},
        "row_word": raw.row_word,
    }
    report.n_loaded = 1
    return out, report
