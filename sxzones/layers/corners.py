"""Tables of parcel corners (界址点成果表) as parcels.

A 界址点成果表 kept in Excel or CSV lists a parcel's corners one a row: a point number
(点号, 界址点号), the coordinates (X/Y, 纵坐标/横坐标 or 经度/纬度) and often the parcel's
number (地块编号, 宗地号), the first corner repeated at the end to close the ring.
:func:`read_corners` reads such a table as one parcel per parcel number (one parcel when
the table has no such column): each parcel's corners joined in boundary order (the rows'
order, checked against the point numbers and the table's own 边长 rows: :func:`_ordered`;
what was chosen is each parcel's note, :func:`corner_notes`), the closing repeat left
out, a parcel of fewer than three corners or one that crosses itself refused with its
rows. ``sxzones check --corners`` and the reviewer page's "table rows are
the parcel's corners" box both read the table so; :func:`corner_polygon` is also what the
page makes of pasted corners.

X is the northing in Chinese surveying tables (as in 界址点 files): projected coordinates
are oriented by their values as the 界址点 reader orients them (the easting is the value
with the zone prefix, or the one below 1,000,000 against a 7-digit northing), degrees by
the rule that a latitude in China is below its longitude.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sxzones import geodesy
from sxzones.crs import latitude_first
from sxzones.errors import CRSError, LayerError
from sxzones.layers import jzd
from sxzones.layers.readers import (
    _TOTAL_ROW,
    ROW,
    RawLayer,
    coordinate_key,
    coordinate_pair,
    read_file,
    table_columns,
)
from sxzones.vocab import normalise

__all__ = ["CORNERS_NOTE", "corner_notes", "corner_polygon", "join_corners", "read_corners"]

#: Column names of a corner's point number (after :func:`sxzones.vocab.normalise`).
POINT_NUMBER = (
    "点号",
    "界址点号",
    "界址点编号",
    "界址点",
    "拐点号",
    "拐点编号",
    "点名",
    "point",
    "pointid",
)
#: Column names of the parcel a corner belongs to (after :func:`sxzones.vocab.normalise`).
PARCEL_NUMBER = (
    "地块编号", "地块号", "地块代码", "宗地号", "宗地编号", "宗地代码", "parcelid", "projectid",
    "项目编号",
)  # fmt: skip
#: Column names of a corner's ring number (圈号: 1 the outer ring, 2.. holes or more parts).
RING_NUMBER = ("圈号", "环号", "圈", "环", "ring", "ringid", "ringno", "ringnumber")
#: How the name of a side-length column begins (the 边长 rows between corners of a 成果表).
SIDE_LENGTH = ("边长", "距离", "sidelength", "distance", "length")
#: Column pairs whose order a surveying table gives as (X, Y), X the northing by convention
#: (keys of :func:`sxzones.layers.readers.coordinate_key`); oriented by the values.
_WRITTEN_XY = (("x坐标", "y坐标"), ("纵坐标", "横坐标"), ("x", "y"))
#: How the note that says how corners were joined begins (printed with the layer's notes).
CORNERS_NOTE = "corners joined in "


#: Where :func:`join_corners` keeps each parcel's own notes (its frame's ``attrs``).
_NOTES_ATTR = "corner_notes"


def corner_notes(raw: RawLayer) -> dict[int, str]:
    """Each parcel's own notes (how its corners were joined where the table left a choice:
    both orders and their areas, what its 边长 rows say; its rings), by the row of its
    first corner (the parcel's row), as :func:`join_corners` made them: what a project's
    ``geometry_note`` carries into the files a reviewer keeps. Empty for any other layer."""
    return dict(raw.frame.attrs.get(_NOTES_ATTR, {}))


def corner_polygon(points: Sequence[tuple[float, float]]) -> tuple[Any, str | None]:
    """The polygon through ``points`` (x, y) in the order given, closed here (a last point
    repeating the first is the ring's closing point); returns (polygon, None), or (None,
    what is wrong): fewer than 3 distinct corners, or a ring that crosses itself.

    >>> corner_polygon([(0, 0), (1, 0), (1, 1), (0, 0)])[0].area
    0.5
    >>> corner_polygon([(0, 0), (1, 1), (1, 0), (0, 1)])[1]
    'the 4 corners do not make a simple polygon (Self-intersection[0.5 0.5])'
    """
    pts = list(points)
    if len(pts) > 1 and pts[0] == pts[-1]:
        pts = pts[:-1]
    if len(set(pts)) < 3:
        return None, f"{len(set(pts))} distinct corner(s) make no parcel; a parcel needs 3 or more"
    poly = shapely.Polygon([*pts, pts[0]])
    if not poly.is_valid:
        why = shapely.is_valid_reason(poly)
        return None, f"the {len(pts)} corners do not make a simple polygon ({why})"
    return poly, None


def ring_starts(points: Sequence[tuple[float, float]]) -> list[int]:
    """Where each ring begins in corners listed ring after ring without ring numbers: a ring
    closes where a corner repeats its first corner and more corners follow.

    >>> ring_starts([(0, 0), (4, 0), (4, 4), (0, 0), (1, 1), (2, 1), (2, 2)])
    [0, 4]
    """
    starts, start = [0], 0
    for i in range(1, len(points) - 1):
        if i > start + 2 and points[i] == points[start]:
            start = i + 1
            starts.append(start)
    return starts


def rings_polygon(
    rings: Sequence[Sequence[tuple[float, float]]],
) -> tuple[Any, int | None, str | None]:
    """The parcel of ``rings`` (each a ring's corners in order, closed here): (geometry,
    None, None); or (None, the ring's number, what is wrong) for a ring that makes no
    polygon; or (None, None, what is wrong) for rings that overlap. A ring inside another
    is a hole, one apart another part (:func:`sxzones.layers.jzd.parcel_geometry`)."""
    made: dict[str, list[tuple[float, float, int]]] = {}
    for k, ring in enumerate(rings, start=1):
        poly, problem = corner_polygon(ring)
        if poly is None:
            return None, k, problem
        if len(rings) == 1:
            return poly, None, None
        made[f"{k:06d}"] = [(x, y, 0) for x, y in poly.exterior.coords[:-1]]
    geom, _ = jzd.parcel_geometry(jzd.JzdParcel("", "", "", "", None, 0, made))
    if geom is None or not geom.is_valid:
        why = shapely.is_valid_reason(geom) if geom is not None else "no polygon"
        return None, None, f"its {len(rings)} rings overlap ({why})"
    return geom, None, None


def _column(columns: Sequence[Any], words: Sequence[str]) -> Any:
    """The first column whose normalised name is one of ``words`` (in their order)."""
    names = {normalise(c): c for c in reversed(list(columns))}
    return next((names[normalise(w)] for w in words if normalise(w) in names), None)


def _written_pair(columns: Sequence[Any]) -> tuple[Any, Any] | None:
    """The (X, Y) columns of a surveying table, or None where the names say which is the
    longitude (经度/纬度, lon/lat: read as named)."""
    pair = coordinate_pair(columns)
    if pair is not None and (coordinate_key(pair[0]), coordinate_key(pair[1])) != ("x", "y"):
        return None
    keys = {coordinate_key(c): c for c in reversed(list(columns))}
    return next(((keys[a], keys[b]) for a, b in _WRITTEN_XY if a in keys and b in keys), None)


def read_corners(
    path: str | Path,
    *,
    crs: str | None = None,
    encoding: str | None = None,
    layer: str | None = None,
    x: str | None = None,
    y: str | None = None,
    id_field: str | None = None,
) -> RawLayer:
    """A table of parcel corners (CSV or workbook) as parcels: see the module's docstring
    and :func:`join_corners`. ``x``/``y`` name the coordinate columns (then read as named);
    X/Y and 纵坐标/横坐标 columns are oriented by their values, X the northing unless the
    values say otherwise. Coordinates stay in the file's CRS (``crs``).

    Raises
    ------
    LayerError
        Not a table, a parcel of fewer than 3 corners or crossing itself, a corner without
        coordinates, a point number twice with different coordinates.
    """
    p = Path(path)
    if p.suffix.lower() not in (".csv", ".tsv", ".txt", ".xlsx", ".xls", ".xlsm", ".ods"):
        raise LayerError(
            f"{p}: --corners reads a table of corner points (.csv, .xlsx ...), not a "
            f"{p.suffix} file. Fix: leave out --corners (the file's features are the parcels)"
        )
    table = not (x or y or p.suffix.lower() == ".txt")  # a .txt may be a 界址点 file
    written = _written_pair(table_columns(p, encoding, sheet=layer)) if table else None
    if written is not None:
        x, y = written
    raw = read_file(p, crs=crs, encoding=encoding, layer=layer, x=x, y=y)
    if raw.row_word != "row":  # a 界址点 .txt: its parcels are made already
        raise LayerError(
            f"{p}: --corners reads a table of corner points, but this is a 界址点 file "
            "(its parcels are read as they are). Fix: leave out --corners"
        )
    if written is not None:
        raw = _oriented(raw, written)
    return join_corners(raw, id_field)


def _oriented(raw: RawLayer, written: tuple[Any, Any]) -> RawLayer:
    """The corners of columns written (X, Y) as (easting, northing) or (longitude,
    latitude), decided by the values (:func:`sxzones.layers.jzd` orients 界址点 files so)."""
    geoms = raw.frame.geometry.to_numpy()
    xy = shapely.get_coordinates(geoms[~shapely.is_missing(geoms)])
    a, b = (xy[:, 0], xy[:, 1]) if len(xy) else (np.zeros(0), np.zeros(0))
    cx, cy = written
    if len(xy) and bool(np.all(np.abs(xy) > 1000)):
        east_first = jzd.east_first(list(zip(a.tolist(), b.tolist(), strict=True)), raw.path)
        swap = not east_first
        said = "X the northing, as 界址点 tables write it"
        if east_first:
            said = "written easting first (told by the zone prefix)"
    else:
        swap = bool(len(xy)) and bool(np.all(latitude_first(a, b)))
        said = "latitude first (told by the values)" if swap else "longitude first"
    east, north = (cy, cx) if swap else (cx, cy)
    notes = [n for n in raw.notes if not n.startswith("coordinates read from columns")]
    notes.append(f"corner coordinates read from {east} (x) and {north} (y): {said}")
    frame = raw.frame
    if swap:
        frame = frame.set_geometry(shapely.transform(geoms, lambda c: c[:, ::-1]))
        frame.attrs = dict(raw.frame.attrs)
    return replace(raw, frame=frame, notes=notes)


def _number_key(text: Any) -> tuple[Any, ...]:
    """Point numbers in their natural order: J2 before J10, 2 before 10."""
    parts = re.split(r"(\d+)", normalise(text))
    return tuple(int(s) if s.isdigit() else s for s in parts)


def _refuse(path: Path, what: str, fix: str) -> LayerError:
    return LayerError(f"{path}: {what}. Fix: {fix}")


def join_corners(raw: RawLayer, id_field: str | None = None) -> RawLayer:
    """A table of corner points (``raw``, as :func:`~sxzones.layers.read_file` reads it) as
    one parcel per parcel number (``id_field``, else a column of :data:`PARCEL_NUMBER`;
    blank cells under a number belong to it), or one parcel named after the file: corners in
    boundary order (the rows' or the point numbers' of a column of :data:`POINT_NUMBER`,
    as :func:`_ordered` chooses and says; row order without one), a point
    number repeated with the same coordinates (the closing corner) left out. A parcel's
    rings are told by a ring-number column (:data:`RING_NUMBER`, 圈号), else where its
    corners, in row order, return to the first one and go on; a ring inside another is a
    hole, rings apart are parts (as :func:`sxzones.layers.jzd.parcel_geometry` reads a
    界址点 file). A total row (合计, 总计, 小计) and the side-length rows between corners (a
    边长 but no point number nor coordinates) are skipped, counted in a note. Each parcel
    has the row of its first corner, its number as ``parcel_id`` and the table's columns
    whose value is the same on all its corners; how they were joined is said as a note.
    Coordinates stay in the table's CRS (``raw.crs``).

    Raises
    ------
    LayerError
        A corner without coordinates, a point number twice with different coordinates in a
        ring, a ring of fewer than 3 corners or one that crosses itself, rings that overlap
        (file, rows and the fix).
    """
    frame, path = raw.frame, raw.path
    cols = [c for c in frame.columns if c not in (ROW, frame.geometry.name)]
    if id_field is not None and id_field not in cols:
        raise _refuse(
            path, f"no column {id_field!r} for --id; columns are {cols}", "name one of them"
        )
    idcol = id_field or _column(cols, PARCEL_NUMBER)
    pcol, rcol = _column(cols, POINT_NUMBER), _column(cols, RING_NUMBER)
    frame, skipped, sides = _skip_rows(frame, cols, pcol)
    missing = frame[ROW][shapely.is_missing(frame.geometry.to_numpy())].tolist()
    if missing:
        raise _refuse(
            path,
            f"corner rows {_rows(missing)} have no coordinates, so no parcel can be closed",
            "fill in the coordinates of these corners, or remove the rows",
        )
    ids = _parcel_numbers(frame, idcol, path)
    parts, said, notes, by_rows = [], [], list(raw.notes), 0
    per_parcel: dict[int, str] = {}
    order = f"point-number order ({pcol})" if pcol else "row order (no point-number column)"
    for pid in dict.fromkeys(ids):
        group = frame[ids == pid]
        rings, split = _rings(group, rcol, path, pid)
        ctx = _Parcel(path, pid, pcol, order, idcol, getattr(raw.spec, "crs", None), sides)
        poly, n, closing, what = _parcel_polygon(rings, ctx)
        by_rows += what.startswith(", in row order")
        notes += ctx.said
        rows = _rows(sorted(group[ROW].tolist()))
        skip = (idcol, pcol, rcol, *frame.attrs.get("coordinate_columns", ()))
        parts.append(_parcel_row(group, pid, poly, cols, skip))
        left = ", closing corner left out" if closing else ""
        said.append(f"{pid} ({n} corners, rows {rows}{left}{what})")
        if split:
            ctx.said.append(
                f"{CORNERS_NOTE}{len(rings)} rings for parcel {pid}: its corners return to "
                f"the first one and go on (rows {', '.join(_rows(r[ROW].tolist()) for r in rings)}"
                "), so each closed run is a ring, not chained on. Give each ring a 圈号 to say so"
            )
            notes.append(ctx.said[-1])
        if ctx.said:
            per_parcel[parts[-1][ROW]] = "; ".join(ctx.said)
    out = gpd.GeoDataFrame(pd.DataFrame(parts), geometry="geometry", crs=frame.crs)
    if per_parcel:
        out.attrs[_NOTES_ATTR] = per_parcel
    by = f"one parcel per {idcol}" if idcol else "one parcel"
    if by_rows == len(parts):  # every parcel's rows go round it in another order
        order = "row order (the boundary order)"
    elif by_rows:
        order += ", or row order where said"
    note = f"{CORNERS_NOTE}{order}, {by}: {'; '.join(said)}"
    if skipped:
        note += f"; skipped, not corners: {'; '.join(skipped)}"
    return replace(raw, frame=out, notes=[*notes, note], row_word="row", xy=None)


def _skip_rows(
    frame: pd.DataFrame, cols: list[Any], pcol: Any
) -> tuple[pd.DataFrame, list[str], dict[int, float]]:
    """The rows that are corners: a total row (its first filled cell 合计, 总计 or 小计) and
    a side-length row (a 边长 value, no point number) without coordinates are left out,
    and said as a note (rows counted and listed); the side lengths by row."""
    blank = shapely.is_missing(frame.geometry.to_numpy())
    if not blank.any():
        return frame, [], {}
    text = frame[cols].astype("string").apply(lambda c: c.str.strip()).replace("", pd.NA)
    first = text.bfill(axis=1).iloc[:, 0] if cols else pd.Series(pd.NA, index=frame.index)
    total = blank & first.fillna("").str.match(_TOTAL_ROW).to_numpy(dtype=bool)
    side = np.zeros(len(frame), dtype=bool)
    scol = next((c for c in cols if normalise(c).startswith(SIDE_LENGTH)), None)
    if scol is not None:
        nopoint = text[pcol].isna().to_numpy() if pcol is not None else True
        side = blank & ~total & nopoint & text[scol].notna().to_numpy()
    notes = []
    for mask, what in ((total, "total row (合计, 总计, 小计)"), (side, f"{scol} row")):
        if mask.any():
            k = int(mask.sum())
            rows = _rows(frame[ROW][mask].tolist())
            plural = "s" if k > 1 else ""
            notes.append(f"{k} {what}{plural} without coordinates (row{plural} {rows})")
    lengths = pd.to_numeric(text[scol][side] if scol is not None else [], errors="coerce")
    sides = {int(r): float(v) for r, v in zip(frame[ROW][side], lengths, strict=True) if v > 0}
    return frame[~(total | side)], notes, sides


def _rings(group: pd.DataFrame, rcol: Any, path: Path, pid: str) -> tuple[list[pd.DataFrame], bool]:
    """A parcel's corners by ring, rings in the order written: by the ring-number column
    (blank cells under a number belong to it), else split in row order where a corner
    repeats the first corner's coordinates and more corners follow; whether so split."""
    if (
        rcol is not None
        and group[rcol].astype("string").str.strip().replace("", pd.NA).notna().any()
    ):
        ring = _filled_down(group, rcol, path, f"parcel {pid}: its first corner", "ring's")
        ring = ring.map(normalise)
        return [group[ring == r] for r in dict.fromkeys(ring)], False
    xy = [(float(a), float(b)) for a, b in shapely.get_coordinates(group.geometry.to_numpy())]
    starts = ring_starts(xy)
    ends = [*starts[1:], len(group)]
    return [group.iloc[a:b] for a, b in zip(starts, ends, strict=True)], len(starts) > 1


@dataclass
class _Parcel:
    """What joining one parcel's corners needs (file, parcel number, point-number column,
    the order said, parcel-number column, CRS, the table's side lengths by row) and the
    notes it makes."""

    path: Path
    pid: str
    pcol: Any
    order: str
    idcol: Any
    crs: Any
    sides: dict[int, float] = field(default_factory=dict)
    said: list[str] = field(default_factory=list)


def _parcel_polygon(rings: list[pd.DataFrame], ctx: _Parcel) -> tuple[Any, int, bool, str]:
    """A parcel's (multi)polygon from its rings (each in boundary order, :func:`_ordered`,
    its closing corner left out), a ring inside another a hole; returns (geometry, corners,
    whether a closing corner was left out, what the rings made, as the note says it)."""
    path, pid, idcol = ctx.path, ctx.pid, ctx.idcol
    fix = "give every corner of the parcel once, numbered in order around it" + (
        f", each row with its {idcol}" if idcol else ""
    )
    corners, closing, n, row_order = [], False, 0, False
    for k, ring in enumerate(rings, start=1):
        part, closed, by_rows = _ordered(ring, ctx, k if len(rings) > 1 else None)
        xy = shapely.get_coordinates(part.geometry.to_numpy())
        corners.append([(float(a), float(b)) for a, b in xy])
        closing, n, row_order = closing or closed, n + len(part), row_order or by_rows
    geom, bad, problem = rings_polygon(corners)
    order = "row order" if row_order else ctx.order
    if bad is not None:
        which = f"ring {bad} of " if len(rings) > 1 else ""
        rows = _rows(sorted(rings[bad - 1][ROW].tolist()))
        raise _refuse(
            path, f"{which}parcel {pid} (rows {rows}), corners joined in {order}: {problem}", fix
        )
    if geom is None:
        raise _refuse(
            path,
            f"parcel {pid}: {problem}",
            "each further ring must lie inside the outer ring (a hole) or apart from it (another part)",
        )
    how = ", in row order" if row_order else ""
    if len(rings) == 1:
        return geom, n, closing, how
    polys = list(getattr(geom, "geoms", [geom]))
    holes = sum(len(p.interiors) for p in polys)
    return geom, n, closing, f"{how}, {len(rings)} rings: {len(polys)} part(s), {holes} hole(s)"


def _rows(rows: Sequence[int]) -> str:
    """Row numbers as a short text: ``3-7`` for a run, else listed (at most 12)."""
    rows = [int(r) for r in rows]
    if rows == list(range(rows[0], rows[0] + len(rows))) and len(rows) > 2:
        return f"{rows[0]}-{rows[-1]}"
    return ", ".join(map(str, rows[:12])) + (" ..." if len(rows) > 12 else "")


def _parcel_numbers(frame: pd.DataFrame, idcol: Any, path: Path) -> np.ndarray:
    """Each corner's parcel number: the id column with blank cells taking the number
    above (a number written on a parcel's first corner only); the file's name without one."""
    if idcol is None:
        return np.full(len(frame), path.stem, dtype=object)
    text = _filled_down(frame, idcol, path, "the first corner", "parcel's")
    return text.astype(str).to_numpy(dtype=object)


def _filled_down(frame: pd.DataFrame, col: Any, path: Path, first: str, whose: str) -> Any:
    """A column whose blank cells take the value above (a number written on the first row
    of its group only), refused when its first row has none."""
    text = frame[col].astype("string").str.strip().replace("", pd.NA)
    if pd.isna(text.iloc[0]):
        raise _refuse(
            path,
            f"{first} (row {frame[ROW].iloc[0]}) has no {col}",
            f"write the {whose} {col} on its first corner at least",
        )
    return text.ffill()


def _ordered(part: pd.DataFrame, ctx: _Parcel, ring: int | None) -> tuple[pd.DataFrame, bool, bool]:
    """A ring's corners in boundary order, a repeated point number (the closing corner) left
    out; whether one was; whether the rows' order was taken over the point numbers'.

    A 界址点成果表 lists its corners along the boundary (its closing row and 边长 rows follow
    that order), and point numbers need not follow it (a corner added later, numbers kept
    from a neighbouring parcel): where the rows' order and the numbers' make different
    rings, the one whose sides the table's 边长 rows fit (and the other's not) is taken;
    else the rows' order is kept when it makes a simple polygon, else the numbers' (rows
    sorted by another column), said as a note either way (:func:`_boundary_order`); a ring
    that neither makes is refused. Where both go round one ring, 边长 rows that do not fit
    it are said. Without a point-number column: row order."""
    pcol = ctx.pcol
    if pcol is None:
        return part, False, False
    number = part[pcol].map(normalise)
    again = number.duplicated().to_numpy()
    for n in number[again].unique():
        same = part[number == n]
        if not all(g.equals(same.geometry.iloc[0]) for g in same.geometry):
            raise _refuse(
                ctx.path,
                f"parcel {ctx.pid}: point {same[pcol].iloc[0]} appears in rows "
                f"{_rows(same[ROW].tolist())} with different coordinates",
                "number every corner once (the closing corner may repeat the first exactly)",
            )
    rows = part[~again]
    keys = [_number_key(v) for v in rows[pcol]]
    numbered = rows.iloc[sorted(range(len(rows)), key=keys.__getitem__)]
    closed = bool(again.any())
    if _same_ring(number[~again].tolist(), numbered[pcol].map(normalise).tolist()):
        fit = _side_fit(rows, rows, ctx)
        if fit[1]:  # one ring, but the table's 边长 rows do not fit it: an error somewhere
            pid = ctx.pid if ring is None else f"{ctx.pid} (ring {ring})"
            ctx.said.append(
                f"{CORNERS_NOTE}{ctx.order} for parcel {pid} (the rows go round the same "
                f"ring){_sides_said(fit)}. Fix: check these corners' coordinates and the "
                "边长 rows"
            )
        return numbered, closed, False
    chosen = _boundary_order(rows, numbered, ctx, ring)
    return chosen, closed, chosen is rows


def _same_ring(a: list[str], b: list[str]) -> bool:
    """Whether two sequences of distinct point numbers go round one ring (from any corner,
    either way)."""
    if a == b or len(a) < 3:
        return a == b or len(a) < 3
    k = b.index(a[0])
    turned = b[k:] + b[:k]
    return a in (turned, [turned[0], *reversed(turned[1:])])


def _boundary_order(
    rows: pd.DataFrame, numbered: pd.DataFrame, ctx: _Parcel, ring: int | None
) -> pd.DataFrame:
    """Of a ring's corners in row order (``rows``) and in point-number order, those that go
    round the parcel (:func:`_ordered`), with a note in ``ctx.said`` that names both orders
    and their areas on the ellipsoid. The table's own 边长 rows decide where they fit the
    sides of one order and not the other's (:func:`_side_fit`: a typist who swaps two corner
    rows leaves the 边长 rows as they were); else the rows' order is kept where it makes a
    simple polygon.

    Raises
    ------
    LayerError
        Neither order makes a simple polygon.
    """
    pid = ctx.pid if ring is None else f"{ctx.pid} (ring {ring})"
    by_rows, by_rows_bad = corner_polygon(_points(rows))
    by_number, by_number_bad = corner_polygon(_points(numbered))
    went = f"the rows go {_labels(rows, ctx.pcol)}"
    would = f"by point number ({ctx.pcol}) {_labels(numbered, ctx.pcol)}"
    if by_rows is None and by_number is None:
        raise _refuse(
            ctx.path,
            f"parcel {pid} (rows {_rows(sorted(rows[ROW].tolist()))}): the corners make no "
            f"simple polygon: {went} ({by_rows_bad}); {would} ({by_number_bad})",
            "list every corner once, in order around the parcel",
        )
    fit_rows, fit_number = _side_fit(rows, rows, ctx), _side_fit(rows, numbered, ctx)
    if by_number is not None and _fits(fit_number) and not _fits(fit_rows):
        shape = _area(by_rows, ctx.crs) if by_rows is not None else by_rows_bad
        ctx.said.append(
            f"{CORNERS_NOTE}point-number order for parcel {pid}: {would}, "
            f"{_area(by_number, ctx.crs)}, its {fit_number[0]} 边长 rows fit every side; "
            f"{went}, {shape}, and {_misfits(fit_rows)}. The 边长 rows are the table's own "
            "record of the boundary, so the point numbers' order was taken. Fix, if the rows "
            "give the order: correct the 边长 rows"
        )
        return numbered
    if by_rows is not None:
        other = f"would not ({by_number_bad})"
        if by_number is not None:
            other = f"would make another parcel, {_area(by_number, ctx.crs)}"
            if _fits(fit_number):  # and the rows' too
                other += ", whose sides the 边长 rows fit too"
            elif fit_number[0] and fit_rows[1]:
                k, n = len(fit_number[1]), fit_number[0]
                other += f", whose sides {k} of the {n} 边长 rows do not fit either"
        ctx.said.append(
            f"{CORNERS_NOTE}row order for parcel {pid}: {went}, {_area(by_rows, ctx.crs)}; "
            f"{would} {other}. A 界址点成果表 lists its corners along the boundary, so the "
            f"rows' order was kept{_sides_said(fit_rows)}. Fix, if the point numbers give "
            f"the order: sort the rows by {ctx.pcol}"
        )
        return rows
    ctx.said.append(
        f"{CORNERS_NOTE}point-number order for parcel {pid}: {went}: {by_rows_bad}; "
        f"{would}, {_area(by_number, ctx.crs)}{_sides_said(fit_number)}. Fix, if the rows "
        "give the order: correct them"
    )
    return numbered


def _side_fit(rows: pd.DataFrame, ring: pd.DataFrame, ctx: _Parcel) -> tuple[int, list[str]]:
    """What the side-length (边长) rows of the usual layout say of the sides of ``ring`` (a
    ring's corners in one order): (sides checked, those that do not fit, as text). The 边长
    row below the corner at position i of the table's listing (``rows``) is read as the
    side from the i-th corner of ``ring`` to the next: in the rows' own order, the side
    between the rows; in another, what the 边长 rows say where the corner rows were put out
    of order and the 边长 rows kept. Projected corners are compared by grid distance,
    degrees (纬度/经度) by the distance on the ellipsoid (``pyproj.Geod``), to 5 cm (and
    1/10,000 of the side); (0, []) where there are no 边长 rows or no CRS."""
    if not ctx.sides or ctx.crs is None:
        return 0, []
    xy = np.array(_points(ring))
    ahead = np.roll(xy, -1, axis=0)
    if ctx.crs.is_geographic:
        geod = geodesy.geod_of(ctx.crs)
        lengths = geod.inv(xy[:, 0], xy[:, 1], ahead[:, 0], ahead[:, 1])[2]
    else:
        lengths = np.hypot(*(ahead - xy).T)
    labels = [str(v).strip() for v in ring[ctx.pcol]]
    checked, wrong = 0, []
    for i, row in enumerate(rows[ROW].tolist()):
        given = ctx.sides.get(int(row) + 1)
        if given is None:
            continue
        side, j = float(lengths[i]), (i + 1) % len(labels)
        checked += 1
        if abs(given - side) > 0.05 + 1e-4 * side:
            wrong.append(f"row {row + 1} says {given:g}, {labels[i]}-{labels[j]} is {side:.2f}")
    return checked, wrong


def _fits(fit: tuple[int, list[str]]) -> bool:
    """Whether 边长 rows were checked (:func:`_side_fit`) and every one fits."""
    return bool(fit[0]) and not fit[1]


def _misfits(fit: tuple[int, list[str]]) -> str:
    """The 边长 rows that do not fit, as text (the first three named)."""
    return f"{len(fit[1])} of those {fit[0]} sides do not: {'; '.join(fit[1][:3])}"


def _sides_said(fit: tuple[int, list[str]]) -> str:
    """What the 边长 rows say of the order taken (:func:`_side_fit`): that they agree, or
    the first that do not with both lengths; '' where there are none."""
    checked, wrong = fit
    if not checked:
        return ""
    if not wrong:
        return f" (its {checked} 边长 rows agree with it)"
    return f"; but {len(wrong)} of its {checked} 边长 rows do not: {'; '.join(wrong[:3])}"


def _points(part: pd.DataFrame) -> list[tuple[float, float]]:
    """A ring's corners (x, y) in the frame's order."""
    return [(float(a), float(b)) for a, b in shapely.get_coordinates(part.geometry.to_numpy())]


def _labels(part: pd.DataFrame, pcol: Any) -> str:
    """The point numbers of a ring in order, back to the first (at most 12 shown)."""
    labels = [str(v).strip() for v in part[pcol]]
    shown = labels[:12] + (["..."] if len(labels) > 12 else [])
    return " ".join([*shown, labels[0]])


def _area(poly: Any, crs: Any) -> str:
    """A polygon's area on the ellipsoid as text (m², in the table's CRS ``crs``); its area
    in the CRS's units without one."""
    try:
        if crs is None:
            raise CRSError("no CRS")
        if crs.is_geographic:
            area = abs(geodesy.geod_of(crs).geometry_area_perimeter(poly)[0])
        else:
            area = float(geodesy.ellipsoidal_area(np.array([poly], dtype=object), crs)[0])
    except CRSError:  # no CRS, or one without an ellipsoid: the planar area, said so
        return f"area {poly.area:,.6g} (in the table's units)"
    return f"{area:,.2f} m²"


def _parcel_row(
    part: pd.DataFrame, pid: str, poly: Any, cols: list[Any], skip: tuple[Any, ...]
) -> dict[str, Any]:
    """One parcel's row: its first corner's row number, its number, the columns whose value
    is the same on all its corners (a name, a declared area), its polygon."""
    row: dict[str, Any] = {ROW: int(part[ROW].min()), "parcel_id": pid}
    for c in cols:
        if c in skip or c == "parcel_id":
            continue
        if part[c].astype(str).nunique() == 1:
            row[c] = part[c].iloc[0]
    row["geometry"] = poly
    return row
