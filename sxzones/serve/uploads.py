"""Uploads of the web pages: saved under limits, unpacked safely, turned into files the readers
of :mod:`sxzones.layers` take.

Every refusal is an :class:`UploadError` (an :class:`~sxzones.errors.SxzonesError`) whose
message says what was wrong and the fix; the pages show it as text.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import geopandas as gpd
import numpy as np
import shapely
from geopandas.array import from_shapely
from pyproj import CRS
from shapely.errors import GEOSException

from sxzones.errors import LayerError, SxzonesError

if TYPE_CHECKING:
    from sxzones.layers.readers import RawLayer

__all__ = [
    "Limits",
    "UploadError",
    "check_limits",
    "geometry_file",
    "parcel_layer",
    "parse_coordinates",
    "safe_name",
    "save_upload",
    "unpack",
]

#: Suffixes an upload may have (zip: a zipped shapefile or another vector file in a zip).
ACCEPTED = (
    ".txt .jzd .dat .geojson .json .kml .kmz .zip .gpkg .fgb .csv .tsv .xlsx .xlsm .xls .ods "
    ".parquet .tif .tiff .dxf .ovkml"
).split()
_VECTOR = {
    ".gpkg", ".shp", ".geojson", ".json", ".fgb", ".kml", ".kmz", ".ovkml", ".tab", ".parquet",
    ".dxf",
}  # fmt: skip
#: Tables of points (spreadsheets as the readers take them: .xls and .ods too).
TABLES = {".csv", ".tsv", ".xlsx", ".xlsm", ".xls", ".ods"}
_TABLE = TABLES
_CHUNK = 1 << 20


class UploadError(SxzonesError, ValueError):
    """An upload is refused as a whole (too large, unsafe archive, wrong format)."""


@dataclass(frozen=True)
class Limits:
    """Upload limits: bytes of a file (unpacked, for a zip), features, vertices."""

    max_bytes: int = 50 * 1024 * 1024
    max_features: int = 200_000
    max_vertices: int = 2_000_000
    max_members: int = 200


def safe_name(name: str | None, default: str = "upload") -> str:
    """A file name that is safe to create: the last path part, letters, digits, CJK, ``._-``;
    the suffix lower-cased.

    >>> safe_name('../../<img src=x onerror=alert(1)>.GeoJSON')
    'img_src_x_onerror_alert_1.geojson'
    """
    base = re.split(r"[/\\]", name or "")[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    clean = re.sub(r"[^0-9A-Za-z_\-\u4e00-\u9fff]+", "_", stem).strip("_")[:80] or default
    suffix = re.sub(r"[^0-9a-z]", "", suffix.lower())[:10]
    return f"{clean}.{suffix}" if suffix else clean


def too_large(limit: int) -> UploadError:
    """The message for an upload over ``limit`` bytes."""
    return UploadError(
        f"the upload is larger than the limit of {limit / 1024 / 1024:g} MB. Fix: send a "
        "smaller file (split a firm list, simplify parcels), or start the server with a "
        "larger --max-upload-mb"
    )


def save_upload(src: BinaryIO, filename: str | None, folder: Path, limits: Limits) -> Path:
    """Copy an uploaded file into ``folder`` under a safe name, at most ``limits.max_bytes``.

    Raises
    ------
    UploadError
        No file, a suffix the pages do not read, or a file over the limit.
    """
    name = safe_name(filename)
    given = re.split(r"[/\\]", filename or "")[-1][:120]  # as the user named it (refusals)
    suffix = Path(name).suffix
    if not filename:
        raise UploadError("no file was chosen. Fix: choose a file, or paste coordinates")
    if suffix not in ACCEPTED:
        raise UploadError(
            f"{given!r}: files of type {suffix or '(none)'!r} are not read here. "
            f"Fix: upload one of {', '.join(ACCEPTED)} (a shapefile as a .zip of its "
            ".shp, .shx, .dbf, .prj and .cpg)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    total = 0
    with path.open("wb") as out:
        while chunk := src.read(_CHUNK):
            total += len(chunk)
            if total > limits.max_bytes:
                out.close()
                path.unlink()
                raise too_large(limits.max_bytes)
            out.write(chunk)
    if total == 0:
        raise UploadError(f"{given!r} is empty. Fix: choose the right file")
    return path


def _zip_members(zf: zipfile.ZipFile, name: str, limits: Limits) -> list[zipfile.ZipInfo]:
    """The members of a zip to extract, after the checks that refuse a zip bomb."""
    from sxzones.layers.readers import is_zip_litter

    members = [m for m in zf.infolist() if not m.is_dir() and not is_zip_litter(m.filename)]
    if len(members) > limits.max_members:
        raise UploadError(
            f"{name!r} holds {len(members)} files (limit {limits.max_members}). Fix: zip only "
            "the parts of one layer"
        )
    declared = sum(m.file_size for m in members)
    packed = sum(m.compress_size for m in members)
    if declared > limits.max_bytes or (declared > (1 << 20) and declared > 200 * max(packed, 1)):
        raise UploadError(
            f"{name!r} unpacks to {declared / 1024 / 1024:.1f} MB from "
            f"{packed / 1024 / 1024:.2f} MB: refused (limit {limits.max_bytes / 1024 / 1024:g} "
            "MB unpacked; a zip that expands this much is not a layer). Fix: zip the layer's "
            "files only"
        )
    for m in members:
        parts = Path(m.filename.replace("\\", "/")).parts
        if m.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise UploadError(f"{name!r}: the member {m.filename!r} points outside the archive")
    return members


def unpack(path: Path, limits: Limits) -> Path:
    """The vector file inside a zip upload (a shapefile's parts, or one GeoPackage, GeoJSON,
    KML ...), extracted beside it with safe names; the actual bytes extracted are counted
    against the limit too (a zip's declared sizes may lie).

    Raises
    ------
    UploadError
        Not a zip, a zip bomb, a member outside the archive, none or several layers inside.
    """
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UploadError(
            f"{path.name!r} is not a zip archive ({exc}). Fix: re-create it"
        ) from None
    folder = path.with_suffix("")
    folder.mkdir(exist_ok=True)
    total = 0
    seen: dict[str, str] = {}
    with zf:
        for m in _zip_members(zf, path.name, limits):
            target = folder / safe_name(m.filename, "member")
            if target.name in seen:  # p1/parcel.shp and p2/parcel.shp: one would replace the other
                raise UploadError(
                    f"{path.name!r}: {seen[target.name]!r} and {m.filename!r} have the same "
                    "file name: a zip must hold one layer. Fix: zip one parcel's files, or "
                    "put the parcels in one layer"
                )
            seen[target.name] = m.filename
            try:
                with zf.open(m) as src, target.open("wb") as out:
                    while chunk := src.read(_CHUNK):
                        total += len(chunk)
                        if total > limits.max_bytes:
                            raise too_large(limits.max_bytes)
                        out.write(chunk)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as exc:
                raise UploadError(
                    f"{path.name!r}: cannot unpack {m.filename!r} ({exc}). Fix: re-create the "
                    "zip without encryption"
                ) from None
    layers = sorted(p for p in folder.iterdir() if p.suffix in _VECTOR)
    if len(layers) != 1:
        found = ", ".join(p.name for p in layers) or "none"
        raise UploadError(
            f"{path.name!r}: a zip must hold exactly one layer (a shapefile's .shp/.shx/.dbf "
            f"parts, or one .gpkg, .geojson or .kml); found {found}"
        )
    return layers[0]


def _sheet_rows(path: Path, sheet: str | None = None) -> tuple[int, str]:
    """Rows of the sheet named ``sheet`` of a workbook, or of all its sheets when none is
    named or none has that name (the readers may read another sheet than the first, and
    refuse a name the workbook lacks); and which, as the limit's message says it. .xlsx,
    .xlsm and .ods are zips: a bomb is refused before it is opened; .xls is read as it is.

    Raises
    ------
    UploadError
        Not a workbook, or one that unpacks to far more than its size.
    """
    import python_calamine

    try:
        if path.suffix != ".xls":
            with zipfile.ZipFile(path) as zf:
                declared = sum(m.file_size for m in zf.infolist())
            if declared > 20 * path.stat().st_size + (16 << 20):
                raise UploadError(f"{path.name!r} unpacks to {declared / 1e6:.0f} MB: refused")
        book = python_calamine.CalamineWorkbook.from_path(str(path))
        names = [str(n) for n in book.sheet_names]
        chosen = [sheet] if sheet in names else names
        rows = sum(max(int(book.get_sheet_by_name(n).height) - 1, 0) for n in chosen)
        which = f"sheet {sheet!r}" if sheet in names else f"{len(names)} sheet(s)"
        return rows, which
    except (
        zipfile.BadZipFile,
        KeyError,
        OSError,
        ValueError,
        python_calamine.CalamineError,
    ) as exc:
        raise UploadError(
            f"{path.name!r} cannot be read as an Excel workbook ({exc}). Fix: save it again "
            "from Excel as .xlsx, or as CSV"
        ) from None


def _count_table_rows(path: Path, sheet: str | None = None) -> tuple[int, str]:
    """Rows of a CSV/TSV (lines less the header), or of a workbook's sheet (see
    :func:`_sheet_rows`); and which part of the file was counted ('' for a CSV)."""
    from sxzones.layers.readers import workbook_kind

    kind = "text" if path.suffix in (".csv", ".tsv") else workbook_kind(path)
    if kind == "workbook":
        return _sheet_rows(path, sheet)
    mark = b"<tr" if kind == "html" else b"\n"  # a web page's table (导出Excel), or a CSV
    with path.open("rb") as fh:
        lines = sum(chunk.lower().count(mark) for chunk in iter(lambda: fh.read(_CHUNK), b""))
    return max(lines - 1, 0), ""


def _vector_layers(path: Path, layer: str | None) -> tuple[list[str], str]:
    """The layers of a vector file the readers read: every folder of a KML; else the layer
    named ``layer`` (when the file has it; the readers refuse a name it lacks), or the first;
    and which, as the limit's message says it."""
    import pyogrio

    names = [str(x) for x, _ in pyogrio.list_layers(path)]
    if path.suffix in (".kml", ".kmz", ".ovkml"):
        return names, ""
    if layer is not None and layer in names:
        return [layer], f"layer {layer!r}"
    return names[:1], (f"layer {names[0]!r}" if len(names) > 1 else "")


def check_limits(path: Path, limits: Limits, layer: str | None = None) -> None:
    """Refuse a file with more features or vertices than the limits (before it is analysed):
    the sheet or layer the page's field names (``layer``) is counted, all sheets of a
    workbook when none is named, the first layer of a vector file (as the readers read).

    Unreadable files pass here: the readers then refuse them with their own message.
    """
    import pyogrio

    n, vertices, which = 0, 0, ""
    try:
        if path.suffix in _TABLE:
            n, which = _count_table_rows(path, layer)
            vertices = n
        elif path.suffix in _VECTOR - {".parquet"}:
            names, which = _vector_layers(path, layer)
            # a shapefile's names cut inside a character do not decode: counted as bytes
            kw = {"encoding": "ISO-8859-1"} if path.suffix.lower() == ".shp" else {}
            for name in names:
                n += int(pyogrio.read_info(path, layer=name, **kw).get("features") or 0)
            if n <= limits.max_features:
                for name in names:
                    with warnings.catch_warnings():  # GDAL closes rings, as the readers do
                        warnings.filterwarnings("ignore", "Non closed ring", RuntimeWarning)
                        frame = pyogrio.read_dataframe(path, layer=name, columns=[], **kw)
                    vertices += int(np.sum(shapely.get_num_coordinates(frame.geometry.to_numpy())))
    except UploadError:
        raise
    except (OSError, ValueError, KeyError, pyogrio.errors.DataSourceError, GEOSException):
        return  # the readers refuse it (or its undecodable features) with their own message
    what = f"{path.name!r}" + (f" ({which})" if which else "")
    if n > limits.max_features:
        name = ", name the sheet to read (工作表或图层)" if which.endswith("sheet(s)") else ""
        raise UploadError(
            f"{what} holds {n} features (limit {limits.max_features}). Fix: split it{name}, "
            "or start the server with a larger --max-features"
        )
    if vertices > limits.max_vertices:
        raise UploadError(
            f"{what} holds {vertices} vertices (limit {limits.max_vertices}). Fix: "
            "simplify the geometries, or start the server with a larger --max-vertices"
        )


def kml_to_geojson(path: Path) -> Path:
    """A KML or KMZ file (WGS84 by the KML standard; every folder, as the readers read it)
    written as GeoJSON beside it, each placemark a project named by its Name."""
    from sxzones.layers.readers import GEOMETRY_PROBLEM, read_file

    try:
        frame = read_file(path).frame
    except SxzonesError as exc:
        raise UploadError(str(exc)) from None
    frame = frame.rename(columns={c: c.lower() for c in frame.columns if c in ("Name",)})
    keep = [c for c in frame.columns if c in ("name", "geometry", GEOMETRY_PROBLEM)]
    frame = frame[keep]
    if "name" in frame.columns:
        frame["project_id"] = frame["name"].fillna("").astype(str)
        frame.loc[frame["project_id"] == "", "project_id"] = [
            f"P{i + 1}" for i in np.flatnonzero(frame["project_id"] == "")
        ]
    out = path.with_name(path.name + ".geojson")  # messages name the file sent: p.kmz.geojson
    frame.geometry = shapely.force_2d(frame.geometry.to_numpy())
    out.write_text(frame.to_json(drop_id=True), encoding="utf-8")
    return out


_NUMBER = r"-?\d+(?:\.\d+)?"
_DEGREE_SIGNS = re.compile(r"[°度′″'\"分秒]")
_FIELD_SEP = re.compile(r"\s*[,;\t]\s*|\s+")


def _pasted_line(line: str, i: int, numbered: int = 0) -> tuple[float, float, bool, int | None]:
    """One pasted corner: (first, second, written as 界址点 ``点号[,圈号],X,Y``, its 圈号 or
    None). A line may
    be ``x,y`` or ``x y``, ``x,y,height`` (KML), ``x,y label``, degrees-minutes-seconds
    (``112°29′24″,38°3′16″``), or ``J1[,1],X,Y[,边长]`` as 界址点 listings give them;
    ``numbered``: the lines are ``点号,X,Y`` (3) or ``点号,圈号,X,Y`` (4) with a numeric
    point number (:func:`_point_numbered`); a line of another form among them is refused.
    Numbers followed by a word are a pair and its label; a word between numbers
    (``2,1,abc,450400``) is refused, not skipped."""
    from sxzones.layers.dms import parse_dms_pair

    if _DEGREE_SIGNS.search(line):  # degrees-minutes-seconds: two values, as --project takes
        xy = parse_dms_pair(line)
        if xy is not None:
            return xy[0], xy[1], False, None
        raise UploadError(
            f"pasted coordinates, line {i}: {line[:60]!r} is not a pair of degrees, minutes "
            "and seconds. Fix: e.g. 112°29′24″,38°3′16″"
        )
    cells = [c for c in _FIELD_SEP.split(line) if c]
    if numbered and len(cells) == numbered and all(re.fullmatch(_NUMBER, c) for c in cells):
        ring = int(cells[1]) if numbered == 4 else None
        return float(cells[-2]), float(cells[-1]), True, ring
    labelled = bool(cells) and re.fullmatch(_NUMBER, cells[0]) is None
    numbers = [float(c) for c in cells if re.fullmatch(_NUMBER, c)]
    if labelled and len(numbers) >= 2:
        # 点号,X,Y / 点号,圈号,X,Y (a small ring number first) / a side length after
        ring = len(numbers) >= 3 and numbers[0].is_integer() and abs(numbers[0]) < 1000
        rest = numbers[1:] if ring else numbers
        return rest[0], rest[1], True, int(numbers[0]) if ring else None
    lead = next((k for k, c in enumerate(cells) if re.fullmatch(_NUMBER, c) is None), len(cells))
    if len(numbers) >= 2 and not labelled and not numbered and lead == len(numbers):
        return numbers[0], numbers[1], False, None  # x,y[,height][ label]: numbers first
    raise UploadError(
        f"pasted coordinates, line {i}: {line[:60]!r} is not an x,y pair. Fix: one "
        "pair per line, e.g. 112.55,37.87"
    )


def parse_coordinates(text: str) -> list[tuple[float, float]]:
    """Pasted coordinates, one corner per line, in order (see :func:`read_pasted`).

    Raises
    ------
    UploadError
        No pair, or a line with something other than a corner.

    >>> parse_coordinates("112.5, 37.8\\n112.6 37.8\\n112.6,37.9")
    [(112.5, 37.8), (112.6, 37.8), (112.6, 37.9)]
    """
    return read_pasted(text)[0]


def pasted_rings(text: str) -> tuple[list[list[tuple[float, float]]], list[str]]:
    """Pasted corners as rings (x, y in order), and what was read so: by the 圈号 of 界址点
    lines (``J1,1,X,Y``, ``J5,2,X,Y``: ring 2 a hole or another part), else split where a
    corner repeats the first corner of its ring and more corners follow. One ring for the
    usual list of corners; a parcel with a hole was chained into one ring before."""
    points, notes, ring_ids = _read_pasted(text)
    rings: list[list[tuple[float, float]]] = []
    if any(r is not None for r in ring_ids):
        ids: list[int | None] = []
        for r in ring_ids:  # a corner without a 圈号 is in the ring above it
            ids.append(r if r is not None else (ids[-1] if ids else None))
        for r in dict.fromkeys(ids):
            rings.append([p for p, q in zip(points, ids, strict=True) if q == r])
        if len(rings) > 1:
            notes.append(f"pasted corners read as {len(rings)} rings by their 圈号")
        return rings, notes
    from sxzones.layers.corners import ring_starts

    starts = ring_starts(points)
    ends = [*starts[1:], len(points)]
    rings = [points[a:b] for a, b in zip(starts, ends, strict=True)]
    if len(rings) > 1:
        notes.append(
            f"pasted corners read as {len(rings)} rings: a ring closes where a corner repeats "
            "its first, and more corners follow"
        )
    return rings, notes


def read_pasted(text: str) -> tuple[list[tuple[float, float]], list[str]]:
    """Pasted corners as (x, y) in order, and what was read so. Full-width digits and
    punctuation are read (NFKC); 界址点 lines (``J1,1,X,Y``: X the northing) are read as
    easting, northing; degrees with every latitude first (as Google Maps copies them) are
    read as longitude, latitude. The :func:`sxzones.crs.latitude_first` rule of ``--project``.
    """
    points, notes, _ = _read_pasted(text)
    return points, notes


def _read_pasted(text: str) -> tuple[list[tuple[float, float]], list[str], list[int | None]]:
    """:func:`read_pasted`, and each corner's 圈号 (None where not written)."""
    from sxzones.crs import latitude_first

    out: list[tuple[float, float]] = []
    jzd = []
    rings: list[int | None] = []
    lines = [
        (i, line.strip())
        for i, line in enumerate(unicodedata.normalize("NFKC", text).splitlines(), start=1)
        if line.strip() and not line.strip().startswith("#")
    ]
    notes: list[str] = []
    if lines and _is_header(lines[0][1]):
        notes.append(
            f"pasted lines: line {lines[0][0]}, {lines[0][1][:60]!r}, skipped as a header (the "
            "axis order is read from the values)"
        )
        lines = lines[1:]
    numbered = _point_numbered(lines, notes)
    for i, line in lines:
        a, b, labelled, ring = _pasted_line(line, i, numbered)
        out.append((a, b))
        jzd.append(labelled)
        rings.append(ring)
    if not out:
        raise UploadError("no coordinates were pasted. Fix: one x,y pair per line")
    first, second = np.array(out).T
    projected = bool(np.all(np.abs(first) > 1000))
    if projected:
        out = _oriented(out, all(jzd), notes)
    elif bool(np.all(latitude_first(first, second))):
        out = [(b, a) for a, b in out]
        notes.append("corners given latitude first (as Google Maps copies them): read as "
                     "longitude, latitude")  # fmt: skip
    return out, notes, rings


def _is_header(line: str) -> bool:
    """Whether a pasted first line is a header copied with the rows (``点号,X,Y``, ``经度
    纬度``): no digit in it, and a cell naming a coordinate or a point number."""
    if re.search(r"\d", line):
        return False
    from sxzones.layers.corners import POINT_NUMBER
    from sxzones.layers.readers import _COORDINATE_NAMES, coordinate_key
    from sxzones.vocab import normalise

    cells = [c for c in _FIELD_SEP.split(line) if c]
    names = {*_COORDINATE_NAMES, "x坐标", "y坐标", "纵坐标", "横坐标"}
    numbers = {normalise(w) for w in (*POINT_NUMBER, "序号", "编号", "no")}
    return any(coordinate_key(c) in names or normalise(c) in numbers for c in cells)


def _point_numbered(lines: list[tuple[int, str]], notes: list[str]) -> int:
    """How many columns pasted lines have when they are a 成果表's rows with a numeric point
    number (0 when they are not): 3 for ``点号,X,Y`` (序号 or 界址点号 copied:
    ``1,4200000,450000``), 4 for ``点号,圈号,X,Y`` (``1,1,4200000,450000``, as 界址点 rows
    and point lists write them: :func:`sxzones.layers.jzd.is_point_list`), said in
    ``notes``. Such lines were read as x = the point number, y = X (or the 圈号), and
    refused with a wrong reason. Three columns: every line three numbers (``x,y,height``
    of KML never has a whole-number x below 100,000 with two coordinates after it). Four
    columns: most lines (and 3 or more) four numbers; a line that is not is refused by
    :func:`_pasted_line`. In both, the point number a whole number, all different within a
    ring but for a closing repeat of its first (1 2 3 4 1), the 圈号 a whole number below
    1,000, the last two coordinates (both beyond 1,000, or degrees in China)."""
    rows = [[c for c in _FIELD_SEP.split(line) if c] for _, line in lines]
    if len(rows) < 3 or any(_DEGREE_SIGNS.search(line) for _, line in lines):
        return 0
    numeric = [r for r in rows if all(re.fullmatch(_NUMBER, c) for c in r)]
    four = [r for r in numeric if len(r) == 4]
    if len(four) >= 3 and 2 * len(four) > len(rows):
        width, rows = 4, four
    elif all(len(r) == 3 for r in numeric) and len(numeric) == len(rows):
        width = 3
    else:
        return 0
    rings = [r[1] if width == 4 else "1" for r in rows]
    if width == 4 and not all(re.fullmatch(r"\d{1,3}", g) for g in rings):
        return 0
    first, body = [float(r[0]) for r in rows], []
    for g in dict.fromkeys(rings):  # each ring's point numbers, its closing repeat left out
        mine = [v for v, q in zip(first, rings, strict=True) if q == g]
        mine = mine[:-1] if len(mine) > 3 and mine[-1] == mine[0] else mine
        if not all(v.is_integer() and 0 <= v < 100_000 for v in mine) or len(set(mine)) < len(mine):
            return 0
        body += mine
    for r in rows:
        a, b = abs(float(r[-2])), abs(float(r[-1]))
        if not (min(a, b) > 1000 or (15 <= min(a, b) <= 55 and 70 <= max(a, b) <= 140)):
            return 0
    rising = body == [body[0] + k for k in range(len(body))]
    shown = " ".join(f"{v:g}" for v in body[:6]) + (" ..." if len(body) > 6 else "")
    notes.append(
        f"pasted lines: the first column ({shown}) read as the corners' point numbers (点号), "
        + ("the second as their ring numbers (圈号), " if width == 4 else "")
        + (
            "the other two as their coordinates"
            if rising
            else "not rising: the corners joined in the order pasted"
        )
    )
    return width


def _oriented(
    points: list[tuple[float, float]], labelled: bool, notes: list[str]
) -> list[tuple[float, float]]:
    """Projected pasted corners as (easting, northing), oriented by the rule of 界址点 files
    (:func:`sxzones.layers.jzd.east_first`: the easting carries the zone prefix, or is the
    6-digit value against a 7-digit northing), said in ``notes``. 界址点 lines (``J1,1,X,Y``)
    whose values do not tell are refused as the command refuses such a file; other pairs
    are read as written (easting first) unless the values say northing first.

    Raises
    ------
    UploadError
        界址点 lines mixing both orders, or with no value that looks like an easting.
    """
    from sxzones.layers import jzd

    if labelled:
        try:
            swap = not jzd.east_first(points, "pasted coordinates")
        except LayerError as exc:
            raise UploadError(
                f"{exc}; or paste them as easting,northing pairs without the point numbers "
                "(read as written)"
            ) from None
        notes.append(
            "pasted 界址点 lines read as 点号,X,Y (X the northing)"
            if swap
            else "pasted 界址点 lines written easting first (Y, X): read by the zone prefix"
        )
    else:
        swap = jzd.axis_order(points) is False
        if swap:
            notes.append(
                "pasted corners written northing first (X, Y as surveyors write them): read "
                "by the values (the easting carries the zone prefix, or has 6 digits against "
                "the northing's 7)"
            )
    return [(b, a) for a, b in points] if swap else points


#: The file name of a drawn or pasted parcel (:func:`geometry_file`).
PARCEL_FILE = "project.geojson"


def geometry_file(
    geometry: Any,
    folder: Path,
    project_id: str,
    name: str = "",
    declared_ha: float | None = None,
) -> Path:
    """One project (a shapely geometry in the coordinates the user gave) as a GeoJSON file
    with its id, name and declared area in hectares (as 界址点 files give it); the CRS is
    declared when it is read (``--crs``)."""
    props: dict[str, Any] = {"project_id": project_id, "name": name or project_id}
    if declared_ha is not None:
        props["declared_area"] = declared_ha
    feature = {
        "type": "Feature",
        "properties": props,
        "geometry": json.loads(shapely.to_geojson(geometry)),
    }
    path = folder / PARCEL_FILE
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": [feature]}, ensure_ascii=False),
        encoding="utf-8",
    )
    return path


@functools.cache
def _geojson_crs() -> CRS:
    """The CRS GDAL gives a GeoJSON file (RFC 7946: WGS84), made once."""
    return CRS.from_user_input("EPSG:4326")


def parcel_layer(
    path: Path,
    geometry: Any,
    project_id: str,
    name: str = "",
    declared_ha: float | None = None,
    crs: str | None = None,
) -> RawLayer | None:
    """The file :func:`geometry_file` wrote for these arguments, as ``read_file(path,
    crs=crs)`` reads it, made in memory (GDAL opening a GeoJSON of one feature costs more
    than the rest of a point's check): the same frame (columns, types, coordinates as the
    file writes them), CRS, notes and row word (``tests/test_serve_fast.py`` holds them
    equal). None where the file is to be read after all: no CRS given (the file's own is
    then said), or a geometry other than a 2-D point or polygon."""
    if crs is None or shapely.get_type_id(geometry) not in (0, 3) or shapely.has_z(geometry):
        return None
    from sxzones.crs import parse_crs
    from sxzones.layers.readers import ROW, RawLayer

    spec = parse_crs(crs)
    columns: dict[str, Any] = {
        ROW: np.array([1], dtype=np.int64),
        "project_id": [project_id],
        "name": [name or project_id],
    }
    if declared_ha is not None:
        columns["declared_area"] = np.array([declared_ha], dtype=np.float64)
    geom = shapely.from_geojson(shapely.to_geojson(geometry))  # the file's coordinates
    columns["geometry"] = from_shapely(np.array([geom], dtype=object), crs=_geojson_crs())
    frame = gpd.GeoDataFrame(columns, geometry="geometry")
    notes = [f"coordinates read as {spec.name} (given)"]
    return RawLayer(path, frame, spec, notes, None, "feature", None)


def points_to_geometry(points: list[tuple[float, float]]) -> Any:
    """One pair: a point; three or more: the polygon through them in order (closed here).

    Raises
    ------
    UploadError
        Two pairs, or a polygon that crosses itself.
    """
    return rings_to_geometry([points])


def rings_to_geometry(rings: list[list[tuple[float, float]]]) -> Any:
    """The parcel of pasted rings (:func:`pasted_rings`): one pair a point; each ring the
    polygon through its corners in order; a ring inside another a hole, one apart another
    part (as a table of corners and a 界址点 file's rings are read).

    Raises
    ------
    UploadError
        Two pairs, a ring that crosses itself, or rings that overlap.
    """
    from sxzones.layers.corners import rings_polygon

    if len(rings) == 1 and len(rings[0]) == 1:
        return shapely.Point(rings[0][0])
    if len(rings) == 1 and len(rings[0]) == 2:
        raise UploadError("two points make no parcel. Fix: give one point, or 3 or more corners")
    geom, bad, problem = rings_polygon(rings)  # as a table of corners is joined (--corners)
    if bad is not None:
        which = f"ring {bad}: " if len(rings) > 1 else ""
        raise UploadError(f"{which}{problem}. Fix: list the corners in order around the parcel")
    if geom is None:
        raise UploadError(
            f"the pasted rings: {problem}. Fix: give each ring its 圈号, the outer ring first"
        )
    return geom
