"""Read the files Shanxi's agencies and firms hold, through real GDAL drivers.

Every reader returns a :class:`RawLayer`: a GeoDataFrame in the file's own coordinates, a
``source_row`` column (the number messages use: for CSV/XLSX the row as a spreadsheet shows
it, the header being row 1, so the first data row is 2; for GIS files the 1-based feature
number; for 界址点 files the parcel number),
the CRS the coordinates are in, and notes on what was decided while reading (encoding, CRS).
Nothing is reprojected or validated here; :mod:`sxzones.layers.validate` does that.
"""

from __future__ import annotations

import codecs
import csv
import html.parser
import itertools
import re
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyogrio
import pyogrio.errors
import pyproj
import python_calamine
import shapely
from geopandas.array import GeometryArray
from shapely.errors import GEOSException

from sxzones._util import gc_paused, gdal_options
from sxzones.crs import CRSSpec, latitude_first, parse_crs
from sxzones.errors import CRSError, LayerError
from sxzones.layers import jzd
from sxzones.layers.sheets import sheet_cells, worksheets

__all__ = ["COORDINATE_COLUMNS", "RawLayer", "read_file", "refuse_several_parcels"]

ROW = "source_row"

#: Coordinate column pairs recognised in tables, in order of preference, compared after
#: :func:`coordinate_key` (case, spaces and a unit in brackets ignored: ``经度（°）``,
#: ``Lon (E)``). ``X坐标``/``Y坐标`` are not among them on purpose: in surveying tables X is the
#: northing, in GIS tables the easting; such columns are named with ``--field x=.. y=..``.
COORDINATE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("lon", "lat"),
    ("lng", "lat"),
    ("longitude", "latitude"),
    ("经度", "纬度"),
    ("东经", "北纬"),
    ("中心经度", "中心纬度"),
    ("中心点经度", "中心点纬度"),
    ("厂址经度", "厂址纬度"),
    ("经度坐标", "纬度坐标"),
    ("x", "y"),
    ("easting", "northing"),
    ("东坐标", "北坐标"),
)
_COORDINATE_NAMES = frozenset(n for pair in COORDINATE_COLUMNS for n in pair)
#: Pairs read without a note; any other pair is said (``coordinates read from columns ..``).
_PLAIN_PAIRS = frozenset(
    [("lon", "lat"), ("lng", "lat"), ("longitude", "latitude"), ("经度", "纬度"), ("x", "y")]
)
#: Column names (after :func:`coordinate_key`) whose axis order a table does not say.
_AMBIGUOUS_XY = (("x坐标", "y坐标"), ("横坐标", "纵坐标"))
_UNIT = re.compile(r"[（(\[【][^（(\[【]*[）)\]】]$")


#: Words before or after a coordinate name that say where the numbers come from
#: (``百度经度``, ``gcj_lng``, ``lat_wgs84``); the CRS they name is checked against the declared
#: one (:func:`_check_header_crs`).
_SOURCE_WORD = r"(?:百度|高德|腾讯|火星|gcj-?02|gcj|bd-?09|bd|baidu|wgs-?84|wgs|gps|cgcs-?2000)"
_SOURCE_PREFIX = re.compile(rf"^{_SOURCE_WORD}[_\-]?")
_SOURCE_SUFFIX = re.compile(rf"[_\-]?{_SOURCE_WORD}$")


def coordinate_key(name: Any) -> str:
    """A column name as coordinate columns are recognised: lower case, without spaces,
    without a trailing unit in brackets (``经度（°）`` -> ``经度``, ``Lat (N)`` -> ``lat``) and
    without a word naming the coordinates' source (``百度经度`` -> ``经度``, ``gcj_lng`` ->
    ``lng``) where what is left is a coordinate name."""
    key = re.sub(r"\s+", "", str(name)).lower()
    key = _UNIT.sub("", key) or key
    key = re.sub(r"(?:[:：]|/°|°|_[en])$", "", key) or key  # 经度：, 经度/°, 经度_E
    for source in (_SOURCE_PREFIX, _SOURCE_SUFFIX):
        bare = source.sub("", key)
        if bare != key and bare in _COORDINATE_NAMES:
            return bare
    return key


#: The unit in brackets of a coordinate column split into degrees, minutes and seconds
#: (``经度(度)``, ``经度(分)``, ``经度(秒)``; the sub-header 度|分|秒 of a two-row header).
_DMS_UNITS = {
    "度": "d", "°": "d", "deg": "d", "degree": "d", "degrees": "d",
    "分": "m", "′": "m", "'": "m", "min": "m", "minute": "m", "minutes": "m",
    "秒": "s", "″": "s", '"': "s", "sec": "s", "second": "s", "seconds": "s",
}  # fmt: skip


def _dms_unit(name: Any) -> str | None:
    """``d``, ``m`` or ``s`` for a column named with a degree, minute or second unit in
    brackets (``经度(分)``); None otherwise."""
    m = _UNIT.search(re.sub(r"\s+", "", str(name)).lower())
    return _DMS_UNITS.get(m.group(0)[1:-1]) if m else None


def coordinate_pair(names: Iterable[Any]) -> tuple[Any, Any] | None:
    """The first pair of :data:`COORDINATE_COLUMNS` among ``names`` (the names as given)."""
    keys: dict[str, Any] = {}
    for n in names:
        if _dms_unit(n) not in ("m", "s"):  # 经度(分) is the minutes of 经度(度)
            keys.setdefault(coordinate_key(n), n)
    for cx, cy in COORDINATE_COLUMNS:
        if cx in keys and cy in keys:
            return keys[cx], keys[cy]
    return None


_VECTOR = {
    ".gpkg": "GPKG",
    ".shp": "ESRI Shapefile",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".fgb": "FlatGeobuf",
    ".kml": "KML",
    ".kmz": "KMZ (zipped KML)",
    ".ovkml": "KML (奥维互动地图)",
    ".tab": "MapInfo TAB",
    ".dxf": "AutoCAD DXF",
    ".mif": "MapInfo MIF",
    ".gdb": "Esri File Geodatabase (a folder)",
}
#: Formats whose layers are folders of one dataset (a KML's folders): all are read.
_ALL_LAYERS = {".kml", ".kmz", ".ovkml"}
_EXCEL = {".xlsx", ".xls", ".xlsm", ".ods"}
_TABLE = {".csv", ".tsv", *_EXCEL}
_TEXT_TABLES = {".csv", ".tsv", ".txt"}
#: Spreadsheets are read with calamine (Rust): the old .xls that agencies still send, .ods,
#: and .xlsx about 7x faster than openpyxl (100,000 rows: 1.7 s against 12 s), same values;
#: straight from calamine, not through pandas, since (:mod:`sxzones.layers.sheets`).
_PARQUET = {".parquet", ".geoparquet"}
_JZD = {".txt", ".jzd", ".dat"}
_SHP_PARTS = (".shp", ".shx", ".dbf")
# Formats whose CRS is implicit (GeoJSON is WGS84 by RFC 7946), so a declared spec overrides it.
# KML is WGS84 by the OGC standard, yet apps in China write GCJ-02 into it too.
_IMPLICIT_CRS = {".geojson", ".json", ".kml", ".kmz", ".ovkml"}

# Version bytes of dBase tables (byte 0 of the .dbf header): III, IV, FoxPro, Visual FoxPro.
_DBF_VERSIONS = {0x02, 0x03, 0x04, 0x05, 0x30, 0x31, 0x32, 0x43, 0x63, 0x83, 0x8B, 0xCB, 0xF5, 0xFB}

# dBase language-driver ids of Chinese code pages (byte 29 of the .dbf header).
_LDID_GBK = {0x4D, 0x7A}


@dataclass
class RawLayer:
    """A file as read: features in the file's own coordinates, before any validation."""

    path: Path
    frame: gpd.GeoDataFrame
    spec: CRSSpec
    notes: list[str] = field(default_factory=list)
    encoding: str | None = None
    #: What ``source_row`` counts, for messages: ``row`` (tables), ``feature``, ``parcel``.
    row_word: str = "feature"
    #: A table read with ``points=False``: the x and y of every row (NaN where a value is
    #: missing or not a finite number); the frame's geometry is empty until
    #: :func:`sxzones.layers.validate_layer` makes the points, once, in the working CRS.
    xy: tuple[np.ndarray, np.ndarray] | None = None

    def with_points(self) -> RawLayer:
        """This layer with the points of its coordinates made (in the file's CRS), as
        ``read_file`` makes them by default; itself when they are made already."""
        if self.xy is None:
            return self
        frame = self.frame.set_geometry(_make_points(*self.xy))
        frame.attrs = dict(self.frame.attrs)
        return replace(self, frame=frame, xy=None)


#: What a zip may hold: one dataset of these (a shapefile with its parts, a GeoPackage ...).
_ZIPPABLE = (".shp", ".gpkg", ".geojson", ".json", ".fgb", ".kml", ".tab", ".mif", ".dxf", ".csv", ".xlsx",
             ".xls", ".txt")  # fmt: skip
#: Unpacked bytes a zip may hold, and the most it may unpack to per byte packed.
ZIP_MAX_BYTES = 4 << 30
ZIP_MAX_RATIO = 200


def _member_name(m: zipfile.ZipInfo) -> str:
    """A member's file name (no folders), its Chinese read as GBK when the zip does not say
    UTF-8 (zips made by Windows in China)."""
    name = m.filename.replace("\\", "/").rsplit("/", 1)[-1]
    if not m.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("gbk")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name


def is_zip_litter(name: str) -> bool:
    """Members a zip tool adds that are no data: macOS's ``__MACOSX/`` and ``._*``
    (AppleDouble) files, ``.DS_Store``, Windows' ``Thumbs.db``: every GIS tool skips them
    (a zip made by a Mac was refused as holding two layers)."""
    parts = name.replace("\\", "/").split("/")
    return (
        "__MACOSX" in parts[:-1]
        or parts[-1].startswith("._")
        or parts[-1] in (".DS_Store", "Thumbs.db", "desktop.ini")
    )


def _unzip_dataset(path: Path, folder: Path) -> tuple[Path, str]:
    """Extract the one dataset of the zip ``path`` into ``folder`` (members without their
    folders; a zip bomb refused); return its main file and its name in the zip."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _refuse(path, f"is not a zip archive ({exc})", "create it again") from None
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir() and not is_zip_litter(m.filename)]
        size = sum(m.file_size for m in members)
        if size > ZIP_MAX_BYTES or size > ZIP_MAX_RATIO * max(path.stat().st_size, 1) + (64 << 20):
            raise _refuse(path, f"unpacks to {size / 1e6:,.0f} MB", "send the files unzipped")
        names = [_member_name(m) for m in members]
        main = [n for n in names if Path(n).suffix.lower() in _ZIPPABLE]
        if len(main) != 1:
            raise _refuse(
                path,
                f"a zip must hold one layer; it holds {', '.join(main) or 'none'}",
                "zip one shapefile (.shp, .shx, .dbf, .prj, .cpg), GeoPackage, KML or table",
            )
        for m, n in zip(members, names, strict=True):
            try:
                with zf.open(m) as src, (folder / n).open("wb") as out:
                    shutil.copyfileobj(src, out)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError) as exc:
                raise _refuse(
                    path, f"cannot unpack {n} ({exc})", "zip it without a password"
                ) from None
    return folder / main[0], main[0]


def _read_zip(path: Path, **kw: Any) -> RawLayer:
    """The one dataset a zip holds (agencies send shapefiles zipped), read as it would be
    unzipped; messages and the layer name the zip."""
    with tempfile.TemporaryDirectory(prefix="sxzones-zip-") as tmp:
        inner, name = _unzip_dataset(path, Path(tmp))
        try:
            raw = read_file(inner, **kw)
        except (LayerError, CRSError) as exc:
            text = str(exc).replace(str(inner.with_suffix("")), f"{path}:{inner.stem}")
            raise type(exc)(text.replace(tmp, str(path))) from None
    raw.notes.insert(0, f"zip member read: {name}")
    return replace(raw, path=path)


def _refuse(path: Path, what: str, fix: str) -> LayerError:
    return LayerError(f"{path}: {what}. Fix: {fix}")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise _refuse(
            path,
            "no such file",
            "check the path (relative paths are relative to the catalogue or the current folder)",
        )
    if path.is_file() and path.stat().st_size == 0:
        raise _refuse(path, "the file is empty (0 bytes)", "export the layer again")
    if path.is_file() and path.stat().st_size <= 16 and path.suffix.lower() in _TEXT_TABLES:
        with path.open("rb") as fh:
            head = fh.read()
        for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
            head = head.removeprefix(bom)
        if not head.replace(b"\x00", b"").strip():
            raise _refuse(
                path, "the file holds no text (a byte-order mark at most)", "export the table again"
            )


def _shapefile_encoding(path: Path, encoding: str | None, notes: list[str]) -> str | None:
    """The encoding to read a shapefile's attributes with: explicit, then .cpg, then sniffed."""
    if encoding:
        _check_given_encoding(path, encoding)
        notes.append(f"attributes read as {encoding} (given)")
        return encoding
    cpg = path.with_suffix(".cpg")
    if cpg.exists():
        said = cpg.read_text(encoding="ascii", errors="replace").strip()
        return _check_cpg(path, said, notes)
    dbf = path.with_suffix(".dbf")
    with dbf.open("rb") as fh:
        header = fh.read(32)
    if len(header) == 32 and header[29] in _LDID_GBK:
        notes.append("attributes read as GB18030 (the .dbf language driver says GBK; no .cpg)")
        return "GB18030"
    return _sniffed_encoding(path, notes, "no .cpg")


def _sniffed_encoding(path: Path, notes: list[str], why: str) -> str:
    """UTF-8 where all the attribute text decodes so, else GB18030 (a superset of GBK, the
    encoding of most Chinese shapefiles); ``why`` says in the note why it was sniffed."""
    try:
        pyogrio.read_dataframe(path, read_geometry=False, encoding="UTF-8")
    except UnicodeDecodeError:
        notes.append(f"attributes read as GB18030 ({why}; the text is not UTF-8)")
        return "GB18030"
    notes.append(f"attributes read as UTF-8 ({why})")
    return "UTF-8"


#: The usual spellings of a .cpg (upper case, without ``ANSI``/``OEM``, spaces, hyphens
#: and underscores) and the encoding read for each (GBK and GB2312 as GB18030, their
#: superset); names GDAL's own .cpg reading does not all know (65001, 950, 8859-1).
_CPG_NAMES = {
    **dict.fromkeys(("65001", "UTF8"), "UTF-8"),
    **dict.fromkeys(("936", "GBK", "CP936", "GB2312", "GB18030", "54936", "20936"), "GB18030"),
    **dict.fromkeys(("950", "BIG5", "CP950"), "BIG5"),
    **dict.fromkeys(("88591", "ISO88591", "LATIN1", "28591", "CP819"), "ISO-8859-1"),
    **dict.fromkeys(("1252", "CP1252", "WINDOWS1252"), "CP1252"),
}


def _cpg_codec(said: str) -> str | None:
    """The encoding a .cpg names in one of its usual spellings (``936``, ``ANSI 936``,
    ``CP936``, ``GBK``, ``65001``, ``UTF-8``, ``950``, ``8859-1``, ``1252``...), else one
    Python knows by that name (``CP1251``); None for ``System`` (the writer's system code
    page, unknown here) or a name not known at all."""
    key = re.sub(r"^(?:ANSI|OEM)\s*", "", said.strip(), flags=re.IGNORECASE)
    key = re.sub(r"[\s_-]", "", key).upper()
    if key in _CPG_NAMES:
        return _CPG_NAMES[key]
    if key in ("", "SYSTEM", "DEFAULT"):
        return None
    try:
        return codecs.lookup(f"cp{key}" if key.isdigit() else said.strip()).name
    except LookupError:
        return None


def _dbf_texts(dbf: Path, limit: int = 1 << 20) -> list[tuple[int, str, bytes]]:
    """The non-ASCII values of a .dbf's text (C) fields among its first ``limit`` bytes of
    records: (record number from 1, field name, bytes without the padding)."""
    with dbf.open("rb") as fh:
        head = fh.read(32)
        head_len = int.from_bytes(head[8:10], "little")
        rec_len = int.from_bytes(head[10:12], "little")
        desc = fh.read(max(head_len - 32, 0))
        body = fh.read(limit - limit % rec_len if rec_len else 0)
    fields, pos = [], 1  # byte 0 of a record is its deletion flag
    for k in range(0, len(desc) - 31, 32):
        if desc[k] == 0x0D:
            break
        name = desc[k : k + 11].split(b"\0")[0].decode("ascii", "replace")
        width = desc[k + 16]
        if desc[k + 11 : k + 12] == b"C":
            fields.append((name, pos, width))
        pos += width
    out = []
    for r in range(len(body) // rec_len if rec_len else 0):
        rec = body[r * rec_len : (r + 1) * rec_len]
        for name, start, width in fields:
            value = rec[start : start + width].rstrip(b" \0")
            if not value.isascii():
                out.append((r + 1, name, value))
    return out


def _decodes(values: list[tuple[int, str, bytes]], codec: str) -> tuple[int, str] | None:
    """The first (record, field) of ``values`` that ``codec`` cannot decode, or None."""
    for rec, name, value in values:
        try:
            value.decode(codec)
        except UnicodeDecodeError:
            return rec, name
    return None


def _chinese(values: list[tuple[int, str, bytes]], codec: str = "utf-8") -> bool:
    """Whether text decoded with ``codec`` is Chinese: most of its non-ASCII characters are
    CJK ideographs or full-width punctuation (GBK bytes that happen to be valid UTF-8 are
    not, nor GBK read as a Western code page)."""
    chars = [c for _, _, v in values for c in v.decode(codec) if not c.isascii()]
    han = sum("\u4e00" <= c <= "\u9fff" or "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef"
              for c in chars)  # fmt: skip
    return bool(chars) and han >= 0.8 * len(chars)


def _check_given_encoding(path: Path, encoding: str) -> None:
    """Refuse a given encoding that a shapefile's text is not in (GDAL would garble the
    names, warning once a process): UTF-8 Chinese text given as a Chinese code page, or
    text the encoding cannot decode (named by record and field)."""
    codec = codecs.lookup(encoding).name
    values = _dbf_texts(path.with_suffix(".dbf"))
    chinese = {"gbk", "gb2312", "gb18030", "cp936", "big5", "cp950"}
    if codec in chinese and _decodes(values, "utf-8") is None and _chinese(values):
        raise _refuse(
            path,
            f"the attribute text is UTF-8, not {encoding}: read as {encoding}, every Chinese "
            "name would be garbled",
            "drop --encoding (a .dbf in UTF-8 or GBK is recognised by itself)",
        )
    if (bad := _decodes(values, codec)) is not None:
        raise _refuse(
            path,
            f"the attribute text is not {encoding} (record {bad[0]}, field {bad[1]})",
            "pass the encoding the file was written in, e.g. --encoding GB18030 or "
            "--encoding UTF-8, or drop --encoding",
        )


def _simplified_share(values: list[tuple[int, str, bytes]], codec: str) -> float:
    """The share of ideographs in text decoded with ``codec`` that are among the 3,755 common
    simplified characters (GB2312 level 1): nearly all in Shanxi's names read right, few in
    GBK bytes read as Big5 (or Big5 as GBK)."""
    han = [c for _, _, v in values for c in v.decode(codec) if "\u4e00" <= c <= "\u9fff"]
    common = 0
    for c in han:
        try:
            common += 0xB0 <= c.encode("gb2312")[0] <= 0xD7
        except UnicodeEncodeError:
            pass
    return common / len(han) if han else 0.0


def _check_cpg(path: Path, said: str, notes: list[str]) -> str:
    """The encoding to read a shapefile with, its .cpg checked against its text (a .cpg
    copied beside an export of another encoding, or a spelling GDAL does not know, such as
    65001 or 950, garbled every name without a word): the .cpg's where the text is in it;
    UTF-8 for text that is Chinese in UTF-8; GB18030 for text that is Chinese in GBK;
    sniffed for ``System`` or a name unknown here. Each said in ``notes``; refused when
    the text is in none of these."""
    codec = _cpg_codec(said)
    if codec is None:
        return _sniffed_encoding(path, notes, f"the .cpg says {said or 'nothing'}")
    values = _dbf_texts(path.with_suffix(".dbf"))
    utf8 = _decodes(values, "utf-8") is None
    if not values or (codec == "UTF-8" and utf8):
        notes.append(f"attributes read as {said} (.cpg)")
        return codec
    if utf8 and _chinese(values):
        notes.append(
            f"attributes read as UTF-8 although the .cpg says {said}: the text is UTF-8 "
            f"(read as {said}, every Chinese name would be garbled)"
        )
        return "UTF-8"
    bad = _decodes(values, codec)
    gbk_family = codec == "GB18030"
    gbk = _decodes(values, "gb18030") is None and _chinese(values, "gb18030")
    if codec == "BIG5" and bad is None and gbk:  # both decode: the common characters decide
        if _simplified_share(values, "gb18030") > _simplified_share(values, "big5"):
            bad = (0, "")
    if bad is None and (gbk_family or _chinese(values, codec)):
        notes.append(f"attributes read as {said} (.cpg)")
        return codec
    if _decodes(values, "gb18030") is None and (gbk_family or gbk):
        why = "a subset of it" if gbk_family else "the text is Chinese in GBK"
        notes.append(f"attributes read as GB18030 (the .cpg says {said}; {why})")
        return "GB18030"
    if bad is None:
        notes.append(f"attributes read as {said} (.cpg)")
        return codec  # text in the .cpg's code page, not Chinese: as it says
    where = f" (record {bad[0]}, field {bad[1]})" if bad and bad[0] else ""
    raise _refuse(
        path,
        f"the attribute text is not {said}, as its .cpg says{where}, nor UTF-8 nor GBK",
        "pass the encoding the file was written in, e.g. --encoding GB18030 or "
        "--encoding UTF-8 (or correct the .cpg)",
    )


def _check_shapefile(path: Path) -> None:
    """Refuse a shapefile whose parts do not hold the same features: a random or damaged part,
    a .shp cut short (GDAL would read the shapes past the cut as NULL geometries) or a .dbf
    from another export (GDAL would pair attributes and shapes by position)."""
    shp, shx, dbf = (path.with_suffix(e) for e in _SHP_PARTS)
    shp_size, shx_size = shp.stat().st_size, shx.stat().st_size
    magic = bytes.fromhex("0000270a")
    for part, size in ((shp, shp_size), (shx, shx_size)):
        with part.open("rb") as fh:
            head = fh.read(4)
        if size < 100 or head != magic:
            raise _refuse(part, "is not a shapefile part (no shapefile header)", "export again")
    if (shx_size - 100) % 8:
        raise _refuse(shx, "is damaged (its size is not a whole number of records)", "export again")
    index = np.frombuffer(shx.read_bytes()[100:], dtype=">i4").reshape(-1, 2).astype(np.int64)
    ends = index[:, 0] * 2 + 8 + index[:, 1] * 2
    beyond = np.flatnonzero((ends > shp_size) | (index[:, 0] < 50) | (index[:, 1] < 0))
    if len(beyond):
        raise _refuse(
            shp,
            f"is cut short or damaged: shape {beyond[0] + 1} of {len(index)} (feature "
            f"{beyond[0] + 1}) lies beyond its {shp_size} bytes",
            "copy the complete file again",
        )
    with dbf.open("rb") as fh:
        head = fh.read(12)
    if len(head) < 12:
        raise _refuse(dbf, "is not a dBase table (no header)", "copy the complete file again")
    n_dbf = int.from_bytes(head[4:8], "little")
    head_len, rec_len = int.from_bytes(head[8:10], "little"), int.from_bytes(head[10:12], "little")
    if head[0] not in _DBF_VERSIONS or head_len < 33 or rec_len < 1:
        raise _refuse(dbf, "is not a dBase table (no valid header)", "copy the complete file again")
    if n_dbf != len(index):
        raise _refuse(
            dbf,
            f"holds {n_dbf} records but the .shp/.shx hold {len(index)} shapes; attributes "
            "cannot be paired with shapes",
            "copy the .shp, .shx and .dbf of one export together",
        )
    complete = (dbf.stat().st_size - head_len) // rec_len if rec_len else 0
    if complete < n_dbf:
        raise _refuse(
            dbf,
            f"is cut short: record {complete + 1} of {n_dbf} (feature {complete + 1}) is incomplete",
            "copy the complete file again",
        )


#: Words in coordinate column names that say where the numbers come from (``经度(高德)``,
#: ``lng_bd09``): web-map offsets (GCJ-02, BD-09) or plain longitude/latitude (None).
_HEADER_CRS: tuple[tuple[str, str | None], ...] = (
    ("高德", "gcj02"),
    ("gcj", "gcj02"),
    ("火星", "gcj02"),
    ("腾讯", "gcj02"),
    ("百度", "bd09"),
    ("bd09", "bd09"),
    ("baidu", "bd09"),
    ("wgs", None),
    ("gps", None),
    ("cgcs", None),
    ("2000", None),
)


def _check_header_crs(path: Path, columns: Sequence[Any], declared: Any) -> None:
    """Refuse a declared CRS that the coordinate columns' own names contradict
    (``经度(高德)`` read as ``--crs wgs84``: every point 300-600 m off), and name the CRS
    when none was given and the names say it. ``columns``: the two columns, or the one
    holding both."""
    text = " ".join(str(c) for c in columns).lower()
    shown = ", ".join(str(c) for c in columns)
    said = {(word, family) for word, family in _HEADER_CRS if word in text}
    families = {f for _, f in said}
    if len(families) != 1:
        return
    family = families.pop()
    word = next(w for w, _ in said)
    named = {"gcj02": "--crs gcj02", "bd09": "--crs bd09", None: "--crs wgs84 or cgcs2000"}
    if declared is None:
        raise CRSError(
            f"{path}: the file declares no CRS and none was given; the columns "
            f"{shown} name {word!r}. Fix: pass {named[family]}"
        )
    spec = parse_crs(declared)
    if spec.obfuscation != family:
        raise CRSError(
            f"{path}: the columns {shown} name {word!r}, but the coordinates "
            f"were declared {spec.name}: read so, every point would be hundreds of metres "
            f"off. Fix: pass {named[family]}, or rename the columns if the name is wrong"
        )


def _resolve_spec(
    path: Path, file_crs: Any, declared: str | CRSSpec | None, notes: list[str]
) -> CRSSpec:
    """The CRS the coordinates are in: ``declared`` (``--crs``), refused where the file's
    own declaration contradicts it; else the file's. A GeoJSON without a ``crs`` member and
    a KML declare nothing: GDAL names WGS84 for them (EPSG:4979 for one with heights), and
    web apps write GCJ-02 or BD-09 into them too."""
    if declared is not None:
        spec = parse_crs(declared)
        if file_crs is not None and _declares(path, file_crs):
            fspec = parse_crs(file_crs)
            if not fspec.crs.equals(spec.crs) or spec.obfuscation:
                own = (
                    "its crs member"
                    if path.suffix.lower() in _IMPLICIT_CRS
                    else "the SRID= of its WKT"
                    if path.suffix.lower() in _TABLE
                    else "its .prj"
                )
                raise CRSError(
                    f"{path}: the file declares {fspec.name} ({fspec.description}) but "
                    f"{spec.name} was given. Fix: drop the CRS option to use the file's own, or "
                    f"correct the file ({own}) if it is wrong."
                )
        notes.append(f"coordinates read as {spec.name} (given)")
        return spec
    if file_crs is None:
        raise CRSError(
            f"{path}: the file declares no CRS and none was given. Fix: pass one, e.g. "
            "--crs cgcs2000, --crs gcj02 (web maps), --crs gk38 (zone-prefixed eastings)"
        )
    spec = parse_crs(file_crs)
    suffix = path.suffix.lower()
    if suffix in _IMPLICIT_CRS and (
        _geojson_crs_member(path) is None if suffix in (".geojson", ".json") else True
    ):
        notes.append(IMPLIED_WGS84)
    else:
        notes.append(f"coordinates read as {spec.name} (declared by the file)")
    return spec


#: The note of a GeoJSON without a ``crs`` member (or a KML) read without a CRS given.
IMPLIED_WGS84 = (
    "no CRS in the file: read as WGS84 longitude/latitude, as GeoJSON (RFC 7946) and KML "
    "are; coordinates from a web map (高德, 腾讯: gcj02; 百度: bd09) need that CRS given "
    "(--crs gcj02 or bd09; on the page, 坐标系)"
)


def _declares(path: Path, file_crs: Any) -> bool:
    """Whether a file's CRS is its author's declaration that a contradicting ``--crs`` must
    not override silently (as a .prj is not). A GeoJSON or KML declares one only through a
    ``crs`` member naming a CRS other than WGS84 (``EPSG::4490``, a projected one): GDAL
    names WGS84 for every file without one (EPSG:4979 when the coordinates have heights),
    and apps write GCJ-02 into them, or into files whose member says WGS84."""
    if path.suffix.lower() not in _IMPLICIT_CRS:
        return True
    if path.suffix.lower() in (".geojson", ".json") and _geojson_crs_member(path) is None:
        return False
    try:
        crs = pyproj.CRS.from_user_input(file_crs)
        wgs84 = pyproj.CRS.from_epsg(4326)
        return not (crs.to_2d() if crs.is_geographic else crs).equals(wgs84, ignore_axis_order=True)
    except pyproj.exceptions.CRSError:
        return True


def _geojson_crs_member(path: Path) -> str | None:
    """The CRS a GeoJSON's ``crs`` member names, looked for in its first and last 64 KiB
    (where writers put it: before or after the features); None without one."""
    with path.open("rb") as f:
        head = f.read(1 << 16)
        size = f.seek(0, 2)
        f.seek(max(size - (1 << 16), len(head)))
        tail = f.read()
    m = _GEOJSON_CRS.search(head) or _GEOJSON_CRS.search(tail)
    return None if m is None else m.group(1).decode("utf-8", "replace")


#: The ``crs`` member of a (pre-RFC 7946) GeoJSON file, among its first bytes.
_GEOJSON_CRS = re.compile(rb'"crs"\s*:\s*\{[^{}]*"properties"\s*:\s*\{[^{}]*"name"\s*:\s*"([^"]+)"')


def _check_geojson_crs(path: Path) -> None:
    """Refuse a GeoJSON whose ``crs`` member names a CRS that cannot be resolved: GDAL falls
    back to WGS84 without a word, so projected coordinates would be read as degrees."""
    name = _geojson_crs_member(path)
    if name is None:
        return
    try:
        pyproj.CRS.from_user_input(name)
    except pyproj.exceptions.CRSError:
        raise _refuse(
            path,
            f"its crs member names {name!r}, which is not a known CRS (GDAL would read the "
            "coordinates as WGS84 lon/lat without saying so)",
            "correct the crs member (e.g. urn:ogc:def:crs:EPSG::4490), or remove it and pass "
            "the CRS, e.g. --crs cgcs2000",
        ) from None


#: The CAD columns of a DXF kept with its parcels (the others are drawing bookkeeping).
_DXF_KEEP = ("Layer", "EntityHandle", "Text")


def closed_lines_as_polygons(
    geoms: npt.NDArray[np.object_],
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.bool_]]:
    """The geometries with every closed line (4 or more points, the last the first: a
    boundary drawn as a line in CAD or Google Earth) made a polygon, and which they were."""
    lines = shapely.get_type_id(geoms) == 1
    closed = np.zeros(len(geoms), dtype=bool)
    closed[lines] = shapely.is_closed(geoms[lines]) & (
        shapely.get_num_coordinates(geoms[lines]) >= 4
    )
    if not closed.any():
        return geoms, closed
    out = geoms.copy()
    coords, index = shapely.get_coordinates(geoms[closed], return_index=True)
    out[closed] = shapely.polygons(shapely.linearrings(coords, indices=index))
    return out, closed


#: A DXF header's code page (``$DWGCODEPAGE`` then group 3 and its value).
_DWGCODEPAGE = re.compile(rb"\$DWGCODEPAGE\s*\r?\n\s*3\s*\r?\n\s*(\S+)")


def _dxf_recode(
    frame: gpd.GeoDataFrame, path: Path, encoding: str | None, notes: list[str]
) -> gpd.GeoDataFrame:
    """A drawing's layer names and texts in their real encoding where GDAL read them as
    Latin-1: a DXF declaring no code page, or ANSI_1252 (GDAL's own writer declares it and
    writes UTF-8), whose text is Chinese in UTF-8 or GBK (``用地红线`` came out as
    Latin-1 garble, and could not be chosen with ``--layer``). ``encoding``: given;
    else UTF-8, then GB18030, where the text is Chinese read so."""
    with path.open("rb") as fh:
        m = _DWGCODEPAGE.search(fh.read(1 << 16))
    page = m.group(1).decode("ascii", "replace").upper() if m else None
    if page not in (None, "ANSI_1252") and encoding is None:
        return frame
    cols = [c for c in ("Layer", "Text") if c in frame.columns]
    values = {v for c in cols for v in frame[c].dropna() if isinstance(v, str) and not v.isascii()}
    try:
        raw = {v: v.encode("latin-1") for v in values}
    except UnicodeEncodeError:
        return frame  # not text GDAL read byte for byte
    for codec in [encoding] if encoding else ["utf-8", "gb18030"]:
        try:
            text = {v: b.decode(codec) for v, b in raw.items()}
        except UnicodeDecodeError:
            continue
        if text and (encoding or _chinese([(0, "", t.encode("utf-8")) for t in text.values()])):
            frame = frame.copy()
            for c in cols:
                frame[c] = frame[c].replace(text)
            notes.append(
                f"CAD drawing: layer names and texts read as {codec} (the drawing declares "
                f"{page or 'no code page'})"
            )
            return frame
    return frame


def _cad_layer(
    frame: gpd.GeoDataFrame, cad_layer: str | None, path: Path, notes: list[str]
) -> gpd.GeoDataFrame:
    """The entities of one CAD layer (``--layer 用地红线``); all without one. A layer the
    drawing does not have is refused with its layers."""
    if cad_layer is None:
        return frame
    names = frame["Layer"].astype("string").fillna("") if "Layer" in frame.columns else None
    if names is None or not (names == cad_layer).any():
        have = ", ".join(dict.fromkeys(names.tolist())) if names is not None else "none"
        raise _refuse(
            path,
            f"the drawing has no CAD layer {cad_layer!r}; its layers: {have}",
            "name one of these with --layer (the layer the red line is drawn on)",
        )
    notes.append(f"CAD drawing: layer {cad_layer} read (chosen with --layer)")
    return frame[(names == cad_layer).to_numpy(dtype=bool)].reset_index(drop=True)


def _dxf_parcels(frame: gpd.GeoDataFrame, path: Path, notes: list[str]) -> gpd.GeoDataFrame:
    """The parcels of a CAD drawing (红线图): closed polylines as polygons (CAD draws a
    boundary as a closed line), polygons as they are; open lines, texts and points of the
    drawing are left out, counted in a note. A DXF declares no CRS: give it (``--crs gk38``).
    """
    g, closed = closed_lines_as_polygons(frame.geometry.to_numpy())
    polys = ~closed & np.isin(shapely.get_type_id(g), (3, 6))
    twins = np.zeros(len(g), dtype=bool)  # a hatch (fill) drawn on a closed polyline
    if polys.any() and closed.any():
        lines_as_polys, fills = g[closed], g[polys]
        i, j = shapely.STRtree(lines_as_polys).query(fills, predicate="covers")
        same = shapely.equals(fills[i], lines_as_polys[j])
        twins[np.flatnonzero(polys)[np.unique(i[same])]] = True
    keep = closed | (polys & ~twins)
    if not keep.any():
        raise _refuse(
            path,
            f"the drawing holds no closed polyline or polygon ({len(g)} entities)",
            "draw the parcel's boundary as one closed polyline, or export it as a shapefile",
        )
    skipped = int((~keep & ~twins).sum())
    notes.append(
        f"CAD drawing: {int(closed.sum())} closed polyline(s)"
        + (
            f" and {int((polys & ~twins).sum())} polygon(s) (hatches)"
            if (polys & ~twins).any()
            else ""
        )
        + " read as parcels"
        + (f"; {int(twins.sum())} hatch(es) on those polylines left out" if twins.any() else "")
        + (f"; {skipped} other entities (open lines, texts, points) left out" if skipped else "")
    )
    cols = [c for c in _DXF_KEEP if c in frame.columns]
    return gpd.GeoDataFrame(frame.loc[keep, cols].reset_index(drop=True), geometry=g[keep])


#: Cell texts that name nothing (a blank id or name is not shown).
_NONE = frozenset({"", "nan", "None", "<NA>"})


def refuse_several_parcels(raw: RawLayer, id_field: str | None = None) -> None:
    """Refuse a file given as one project (``check --project``) that holds several polygons
    (a 红线图 whose every closed polyline was checked as a project: the drawing's frame, a
    building), listing them with their id (项目编号), name, CAD layer and area (m², on the
    ellipsoid), and the fix; unless every one has the same id (the parts of one multipart project), or
    the file is a 界址点 file, whose every parcel is declared one (地块编号 and 界址点数 in
    its header): those stay checked parcel by parcel, as before.
    ``id_field``: the column of the projects' id (mapped, ``project_id`` or a usual name)."""
    from sxzones.geodesy import ellipsoidal_area
    from sxzones.layers.schemas import ROLES
    from sxzones.layers.validate import usual_fields

    frame = raw.frame
    geoms = frame.geometry.to_numpy()
    polys = np.isin(shapely.get_type_id(geoms), (3, 6))
    if polys.sum() <= 1 or raw.row_word == "parcel":
        return
    cols = [str(c) for c in frame.columns]
    if id_field is None:
        id_field = "project_id" if "project_id" in cols else None
        id_field = id_field or usual_fields(cols, ROLES["projects"]).get("project_id")
    if id_field in frame.columns:
        ids = frame.loc[polys, id_field].astype("string").str.strip()
        if ids.notna().all() and (ids != "").all() and ids.nunique() == 1:
            return  # the parts of one project
    if raw.spec.crs.is_geographic:  # lon/lat (a GCJ-02 offset changes an area by < 1e-5)
        geod = raw.spec.crs.get_geod() or pyproj.Geod(ellps="WGS84")
        areas = [abs(geod.geometry_area_perimeter(g)[0]) for g in geoms[polys]]
    else:
        areas = list(ellipsoidal_area(geoms[polys], raw.spec.crs))
    words = {"Layer": "layer ", "folder": "folder ", "Name": "", "name": ""}
    if id_field is not None and id_field in frame.columns:  # 项目编号 A, its 项目名称
        name = usual_fields(cols, ROLES["projects"], taken={"project_id": id_field}).get("name")
        words = {id_field: f"{id_field} ", **({name: ""} if name else {}), **words}
    labels = [c for c in dict.fromkeys(words) if c in frame.columns]
    shown = []
    for k, area in zip(np.flatnonzero(polys), areas, strict=True):
        said = [
            f"{words[c]}{str(v).strip()}"
            for c in labels
            if (v := frame[c].iloc[k]) is not None and str(v).strip() not in _NONE
        ]
        shown.append(
            f"{raw.row_word} {frame[ROW].iloc[k]} ({', '.join([*said, f'{area:,.0f} m²'])})"
        )
    more = f" and {len(shown) - 10} more" if len(shown) > 10 else ""
    if "Layer" in labels:
        layers = ", ".join(dict.fromkeys(str(v) for v in frame.loc[polys, "Layer"]))
        fix = (
            f"choose the red line's CAD layer with --layer (its layers: {layers}) or, on "
            "the reviewer page, in the 工作表或图层 Sheet or layer field; or export the red "
            "line alone"
        )
        batch = " (on the reviewer page, tick 'DXF 图中每个闭合多段线为一个项目')"
    else:
        fix, batch = "keep the project's parcel alone in the file", ""
    raise _refuse(
        raw.path,
        f"--project is one project, but the file holds {len(shown)} polygons: "
        f"{'; '.join(shown[:10])}{more}",
        f"{fix}; give the parts of one project one id (项目编号) or make them one multipart "
        f"feature; to check every polygon as a project of its own, use --projects{batch}",
    )


#: How to choose a layer or a sheet, in messages.
CHOOSE_LAYER = (
    "--layer NAME on the command line (on the web pages, the 工作表或图层 Sheet or layer "
    "field), layer = .. in a catalogue entry or recipe"
)


def _only_layer(path: Path) -> str | None:
    """The one layer with geometries of a GeoPackage (None: the driver's default). Several
    are refused, named with their geometry types and feature counts: which one holds the
    projects cannot be known (the first was once read: a reference point instead of the
    parcel beside it)."""
    layers = [(str(n), str(t)) for n, t in pyogrio.list_layers(path) if t is not None]
    if len(layers) <= 1:
        return layers[0][0] if layers else None
    shown = ", ".join(
        f"{n} ({t}, {pyogrio.read_info(path, layer=n)['features']} features)" for n, t in layers
    )
    raise _refuse(
        path, f"the GeoPackage holds {len(layers)} layers: {shown}", f"choose one: {CHOOSE_LAYER}"
    )


def _read_vector(
    path: Path,
    layer: str | int | None,
    encoding: str | None,
    notes: list[str],
    where: str | None = None,
) -> tuple[gpd.GeoDataFrame, Any]:
    suffix = path.suffix.lower()
    if suffix == ".shp":
        missing = [p for p in _SHP_PARTS if not path.with_suffix(p).exists()]
        if missing:
            raise _refuse(
                path,
                f"the shapefile is missing its part(s) {', '.join(missing)}",
                "copy all parts (.shp, .shx, .dbf, .prj, .cpg) together",
            )
        _check_shapefile(path)
    if suffix in (".geojson", ".json"):
        _check_geojson_crs(path)
    if layer is not None and suffix != ".dxf":  # a .dxf's --layer may name a CAD layer
        _check_layer_name(path, layer)
    try:
        if suffix == ".shp":
            encoding = _shapefile_encoding(path, encoding, notes)
        if suffix == ".gpkg" and layer is None:
            layer = _only_layer(path)
        cad_layer = None
        if suffix == ".dxf" and layer is not None:  # a CAD layer, unless GDAL's own name
            listed = [str(n) for n, _ in pyogrio.list_layers(path)]
            cad_layer, layer = (None, layer) if str(layer) in listed else (str(layer), None)
        with _unconverted_text_refused(path, encoding):
            if suffix in _ALL_LAYERS and layer is None:
                frame = _read_folders(path, encoding, where, notes)
            else:
                frame = _read_geometries(path, layer, encoding, where)
        if suffix == ".dxf":
            frame = _dxf_recode(frame, path, encoding, notes)
            frame = _dxf_parcels(_cad_layer(frame, cad_layer, path, notes), path, notes)
    except UnicodeDecodeError as exc:
        raise _refuse(
            path,
            f"attribute text is not {encoding or 'UTF-8'} ({exc.reason})",
            "pass the encoding, e.g. --encoding GB18030",
        ) from exc
    except (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyogrio.errors.FieldError,
    ) as exc:
        if suffix == ".shp":
            _check_prj(path, exc)
        raise _refuse(
            path,
            f"cannot be read as {_VECTOR.get(suffix, 'a vector file')} ({exc})",
            "check that the file is complete and really of that format",
        ) from exc
    return frame, frame.crs


def _check_layer_name(path: Path, layer: str | int) -> None:
    """Refuse a layer the file does not have, naming the layers it has (GDAL's "could not be
    opened" read as a damaged file: "check that the file is complete")."""
    try:
        names = [str(n) for n, _ in pyogrio.list_layers(path)]
    except (pyogrio.errors.DataSourceError, OSError):
        return  # the reader says why the file cannot be read
    if str(layer) in names or (isinstance(layer, int) and 0 <= layer < len(names)):
        return
    fix = (
        "leave out --layer (the file has one layer)"
        if len(names) == 1
        else "name one of these with --layer (on the web pages: 工作表或图层)"
    )
    raise _refuse(
        path,
        f"the file has no layer {layer!r}; its layer(s): {', '.join(map(repr, names))}",
        fix,
    )


def _refuse_layer_of(path: Path, layer: str | int) -> None:
    """Refuse ``--layer`` for a file that has no layers (it was ignored without a word)."""
    suffix = path.suffix.lower()
    kind = {".csv": "CSV table", ".tsv": "TSV table"}.get(suffix) or (
        "GeoParquet file" if suffix in _PARQUET else f"{suffix} file (a 界址点 list or a table)"
    )
    raise _refuse(
        path,
        f"--layer {layer!r} was given, but a {kind} has no layers",
        "leave out --layer (it names a layer of a GeoPackage, KML or DXF, or a sheet of a "
        "workbook)",
    )


#: GDAL's warning that attribute text did not convert from the file's encoding.
_UNCONVERTED = "One or several characters couldn't be converted correctly"


@contextmanager
def _unconverted_text_refused(path: Path, encoding: str | None) -> Iterator[None]:
    """GDAL's warning that attribute text could not be converted from the file's encoding
    (a raw library line on stderr, said once a process, while the garbled names went on to
    every output) made a refusal with the fix; other warnings pass on as they were."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("always", _UNCONVERTED, RuntimeWarning)
        yield
    unconverted = [w for w in caught if str(w.message).startswith(_UNCONVERTED)]
    for w in caught:
        if w not in unconverted:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if unconverted:
        cpg = path.with_suffix(".cpg")
        said = encoding or (cpg.read_text(errors="replace").strip() if cpg.exists() else "")
        raise _refuse(
            path,
            f"some attribute text is not {said or 'in the encoding GDAL assumed'} "
            f"(GDAL: {str(unconverted[0].message).split('.')[0]}); read so, names would "
            "be garbled",
            "pass the encoding the file was written in, e.g. --encoding UTF-8 or "
            "--encoding GB18030 (or correct its .cpg)",
        )


def _check_prj(path: Path, exc: Exception) -> None:
    """When GDAL cannot read a shapefile, name its ``.prj`` if that is what it could not
    read: a ``.prj`` that is not a CRS definition (the shapes may be fine)."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError as ProjCRSError

    prj = path.with_suffix(".prj")
    if not prj.is_file():
        return
    try:
        CRS.from_user_input(prj.read_text(encoding="utf-8", errors="replace").strip())
    except ProjCRSError:
        raise _refuse(
            prj,
            f"is not a CRS definition (GDAL: {str(exc).splitlines()[0]})",
            "replace it with the .prj from the data's provider, or delete it and give the "
            "CRS with --crs (e.g. --crs gk38)",
        ) from exc


#: Column of a read layer naming why a feature's geometry could not be built (validation
#: rejects those rows with the reason); 界址点 parcels and undecodable GIS geometries.
GEOMETRY_PROBLEM = "geometry_problem"


def _read_geometries(
    path: Path, layer: str | int | None, encoding: str | None, where: str | None
) -> gpd.GeoDataFrame:
    """``pyogrio.read_dataframe``; a geometry that cannot be decoded (a ring of two points)
    becomes a row with no geometry and its reason in :data:`GEOMETRY_PROBLEM`, rather than
    failing the whole file with a decoder exception."""
    kw: dict[str, Any] = {"layer": layer, "encoding": encoding, "where": where}
    # NaN vertices make shapely warn while decoding (validation rejects those rows); GDAL
    # warns of rings that are not closed, and closes them (as 界址点 parcels are closed)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Non closed ring detected", RuntimeWarning)
        try:
            if path.suffix.lower() == ".gpkg" and encoding is None:
                return _read_gpkg(path, kw)
            return pyogrio.read_dataframe(path, **kw)
        except (OSError, pyogrio.errors.DataLayerError) as exc:
            if not where:
                raise
            fields = [str(f) for f in pyogrio.read_info(path, layer=layer)["fields"]]
            raise _refuse(
                path,
                f"the selection where {where!r} cannot be applied to it ({exc}); its fields: "
                f"{', '.join(fields)}",
                "name one of these fields in the catalogue entry's where (the official "
                "file's own name, e.g. 行政区划代码 for adcode)",
            ) from exc
        except GEOSException:
            frame = pyogrio.read_dataframe(path, on_invalid="ignore", **kw)
            _, _, wkb, _ = pyogrio.raw.read(path, columns=[], **kw)
    lost = np.array([w is not None for w in wkb]) & frame.geometry.isna().to_numpy()
    reason = "the geometry cannot be decoded (too few points for its type, or a ring not closed)"
    frame[GEOMETRY_PROBLEM] = [reason if x else None for x in lost]
    return frame


def _read_gpkg(path: Path, kw: dict[str, Any]) -> gpd.GeoDataFrame:
    """A GeoPackage read through Arrow (twice as fast: 100,000 parcels in 0.24 s instead of
    0.48 s), with the columns the feature-by-feature reader gives: the few whose Arrow
    conversion differs (a boolean field with NULLs: True / None instead of 1.0 / NaN; a
    field NULL in every row) are read again feature by feature."""
    frame = pyogrio.read_dataframe(path, use_arrow=True, **kw)
    again = [
        c
        for c in frame.columns
        if not isinstance(frame[c].dtype, gpd.array.GeometryDtype)
        and (frame[c].dtype == object or not frame[c].notna().any())
    ]
    if again and len(frame):
        cols = pyogrio.read_dataframe(path, columns=again, read_geometry=False, **kw)
        for c in again:
            frame[c] = cols[c].set_axis(frame.index)
    return frame


def _closed_paths(frame: gpd.GeoDataFrame, notes: list[str]) -> gpd.GeoDataFrame:
    """A KML folder with its closed paths as polygons: a red line drawn with Google Earth's
    Path tool ends where it starts (as a CAD drawing's closed polyline does), and such a
    parcel was refused as a LineString."""
    g, closed = closed_lines_as_polygons(frame.geometry.to_numpy())
    if not closed.any():
        return frame
    notes.append(f"KML: {int(closed.sum())} closed path(s) read as polygons")
    return gpd.GeoDataFrame(frame.drop(columns=frame.geometry.name), geometry=g, crs=frame.crs)


def _drop_overlays(frame: gpd.GeoDataFrame, notes: list[str]) -> gpd.GeoDataFrame:
    """A KML folder without its image overlays (GroundOverlay: a scanned drawing or map laid
    on the globe, which GDAL returns as the picture's footprint polygon, with the image in
    ``icon``): a footprint is no parcel (one became a 9,814 km² project)."""
    frame = _closed_paths(frame, notes)
    if "icon" not in frame.columns:
        return frame
    icon = frame["icon"].astype("string").fillna("").str.strip() != ""
    if not icon.any():
        return frame
    notes.append(f"KML: {int(icon.sum())} image overlay(s) (GroundOverlay) left out")
    return frame.loc[~icon.to_numpy()].reset_index(drop=True)


def _read_folders(
    path: Path, encoding: str | None, where: str | None, notes: list[str]
) -> gpd.GeoDataFrame:
    """Every folder (layer) of a KML/KMZ, in file order, with the folder's name in a
    ``folder`` column when there are several: reading only the first folder would lose the
    placemarks of the others."""
    # KML field names as written (<Data name="行业">): GDAL's LIBKML driver otherwise turns
    # every non-ASCII name into underscores, and the file was refused as missing its fields
    with gdal_options({"LIBKML_LAUNDER_FIELD_NAMES": "NO"}):
        names = [str(n) for n, _ in pyogrio.list_layers(path)]
        read = [
            (n, _drop_overlays(_read_geometries(path, n, encoding, where), notes)) for n in names
        ]
    parts = [(n, f) for n, f in read if len(f)]
    if not read:  # a document without placemarks: refused as holding no features
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=4326))
    if len(parts) <= 1:
        return (parts or read)[0][1]
    for name, part in parts:
        part.insert(0, "folder", name)
    notes.append(f"{len(parts)} folders read: {', '.join(n for n, _ in parts)}")
    frames = [f for _, f in parts]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)


def _find_columns(columns: list[str], x: str | None, y: str | None, path: Path) -> tuple[str, str]:
    if x or y:
        missing = [c for c in (x, y) if c is None or c not in columns]
        if missing:
            raise _refuse(
                path,
                f"coordinate column(s) {missing} not found; columns are {columns}",
                "name existing columns: --field x=COLUMN --field y=COLUMN (x = .., y = .. in "
                "a catalogue entry)",
            )
        return x, y  # type: ignore[return-value]
    if pair := coordinate_pair(columns):
        _refuse_rivals(columns, pair, path)
        return pair
    pairs = ", ".join(f"{a}/{b}" for a, b in COORDINATE_COLUMNS)
    keys = {coordinate_key(c): c for c in columns}
    for ax, ay in _AMBIGUOUS_XY:
        if ax in keys and ay in keys:
            cx, cy = keys[ax], keys[ay]
            raise _refuse(
                path,
                f"columns {cx} and {cy} do not say which holds the easting; columns are {columns}",
                f"name them: in surveying tables (国土, 测绘) X is the northing: --field "
                f"x={cy} --field y={cx}; in GIS tables X is the easting or longitude: "
                f"--field x={cx} --field y={cy}",
            )
    raise _refuse(
        path,
        f"no coordinate columns found; columns are {columns}",
        f"name the columns {pairs} (any case), or name yours: --field x=COLUMN --field "
        "y=COLUMN (x = .., y = .. in a catalogue entry)",
    )


def _refuse_rivals(columns: list[str], pair: tuple[Any, Any], path: Path) -> None:
    """Refuse a table with more than one pair of coordinate columns (``经度/纬度`` beside
    ``百度经度/百度纬度``, ``经度(高德)``): which pair the declared CRS is for cannot be known,
    and the pair read first put points a kilometre off without a word."""
    keys = {coordinate_key(c) for c in pair}
    rivals = [
        c
        for c in columns
        if c not in pair and coordinate_key(c) in keys and _dms_unit(c) not in ("m", "s")
    ]
    if rivals:
        raise _refuse(
            path,
            f"more than one pair of coordinate columns: {', '.join(map(str, pair))} and "
            f"{', '.join(map(str, rivals))}",
            f"choose one pair and give its CRS: --field x={pair[0]} --field y={pair[1]} "
            "--crs ... (x = .., y = .. in a catalogue entry)",
        )


def _read_table(
    path: Path,
    x: str | None,
    y: str | None,
    sheet: str | int | None,
    encoding: str | None,
    notes: list[str],
    *,
    header_names: frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """A CSV/TSV or spreadsheet as text columns, the header found below any title rows (by
    its coordinate columns, or by two of ``header_names``: normalised header names of a
    table without coordinates, see :func:`_header_row`)."""
    suffix = path.suffix.lower()
    kind = workbook_kind(path) if suffix in _EXCEL else "text"
    if kind == "html":
        notes.append(
            f"read by its content: the {suffix} is a web page's table (HTML, as web systems "
            "export 导出Excel), not a workbook"
        )
        return _html_table(path, x, y, encoding, header_names, notes)
    if kind == "text" and suffix in _EXCEL:
        notes.append(f"read by its content: the {suffix} is a text table (CSV), not a workbook")
    if kind == "workbook":
        first: list[str] = []
        names = _visible_sheets(path, notes) if sheet is None else []
        start: str | int = sheet if sheet is not None else (names[0] if names else 0)
        table = _sheet_table(_excel_sheet(path, start, first), x, y, header_names, first)
        if sheet is None and not header_names and _locatable(table.columns, x, y):
            _refuse_other_sheets(path, names, x, y)
        if sheet is None and not header_names and not _locatable(table.columns, x, y):
            # a workbook whose first sheet is its instructions (填表说明): the first sheet
            # that has coordinate columns
            for k, name in enumerate(names[1:], start=2):
                own: list[str] = []
                other = _sheet_table(_excel_sheet(path, name, own), x, y, header_names, own)
                if _locatable(other.columns, x, y):
                    notes += own
                    notes.append(
                        f"sheet {name!r} read (sheet {k}): the first, {names[0]!r}, has no "
                        "coordinate columns"
                    )
                    return other
        notes += first
        return table
    if encoding is None and _utf16_bom(path):  # Excel's "Unicode text" export
        encoding = "utf-16"
        notes.append("text read as UTF-16 (it begins with a UTF-16 byte-order mark)")
    sep = "\t" if suffix == ".tsv" else _sniff_tab(path, encoding or "utf-8", notes)
    if encoding and _garbles_utf8(path, encoding):
        raise _refuse(
            path,
            f"the text is UTF-8, not {encoding}: read as {encoding}, every Chinese character "
            "would be garbled",
            "drop --encoding (UTF-8 and GB18030 are recognised by themselves)",
        )
    for enc in [encoding] if encoding else ["utf-8", "gb18030"]:
        try:
            table = _read_csv_arrow(path, sep, enc, x, y, header_names)
        except UnicodeDecodeError:
            if enc == "utf-8" and not encoding:
                _refuse_mixed_encodings(path)
            continue
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) or "utf8" in str(exc).lower():
                continue
            lenient = _read_csv_ragged(path, sep, enc, x, y, header_names, notes)
            if lenient is not None:
                return lenient
            raise _refuse(
                path,
                f"malformed CSV{_ragged_row(path, sep, enc)} ({exc})",
                "check quoting and the number of columns on that line",
            ) from exc
        if enc not in ("utf-8", "utf-16"):
            notes.append(f"text read as {enc}")
        if (skip := int(table.attrs["header_row"]) - 1) > 0:
            with path.open("r", encoding="utf-8-sig" if enc == "utf-8" else enc) as fh:
                _note_titles(csv.reader(itertools.islice(fh, skip), delimiter=sep), skip, notes)
        return table
    what = f"the text is not {encoding}" if encoding else "the text is neither UTF-8 nor GB18030"
    raise _refuse(path, what, "pass the file's encoding, e.g. --encoding GB18030")


def workbook_kind(path: Path) -> str:
    """What a file named as a workbook holds, by its first bytes: ``workbook`` (an Excel
    .xls, or a zip: .xlsx, .ods; anything not recognised, for the workbook reader to
    refuse), ``html`` (a web page with a table: what many web systems export as
    导出Excel) or ``text`` (a CSV renamed .xls)."""
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    if head.startswith((b"\xd0\xcf\x11\xe0", b"PK\x03\x04")) or b"\0" in head[:4096]:
        return "workbook"
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith(b"<") and b"<table" in head.lower():
        return "html"
    if start.startswith((b"<html", b"<!doctype html", b"<?xml")) and b"<html" in head.lower():
        return "html"  # a web page without a table: refused as such, not read as a CSV
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "text"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
        return "text"
    except UnicodeDecodeError:
        return "workbook"


#: One HTML table cell: its text, rows spanned, columns spanned.
_HtmlCell = tuple[str, int, int]


def _span(attrs: list[tuple[str, str | None]], name: str) -> int:
    """A cell's ``rowspan``/``colspan`` (1 where absent or not a sensible number)."""
    value = (dict(attrs).get(name) or "1").strip()
    return int(value) if value.isdigit() and 0 < int(value) < 1000 else 1


class _TableCells(html.parser.HTMLParser):
    """The cells of every table of an HTML page, row by row, tables in the order they
    open; a table nested in another's cell is a table of its own (its text is not the
    outer cell's)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[_HtmlCell]]] = []
        self.open: list[int] = []  # indices in self.tables of the tables open, innermost last
        self.cells: dict[int, tuple[list[str], int, int]] = {}  # open cell of each table

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
            self.open.append(len(self.tables) - 1)
        elif not self.open:
            return
        elif tag == "tr":
            self._close_cell()
            self.tables[self.open[-1]].append([])
        elif tag in ("td", "th"):
            self._close_cell()
            if not self.tables[self.open[-1]]:  # a cell before any <tr>
                self.tables[self.open[-1]].append([])
            self.cells[self.open[-1]] = ([], _span(attrs, "rowspan"), _span(attrs, "colspan"))

    def _close_cell(self) -> None:
        if self.open and (cell := self.cells.pop(self.open[-1], None)) is not None:
            text, rows, cols = cell
            self.tables[self.open[-1]][-1].append((" ".join("".join(text).split()), rows, cols))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th", "tr"):
            self._close_cell()
        elif tag == "table" and self.open:
            self._close_cell()
            self.open.pop()

    def handle_data(self, data: str) -> None:
        if self.open and self.open[-1] in self.cells:
            self.cells[self.open[-1]][0].append(data)


def _html_grid(rows: list[list[_HtmlCell]], notes: list[str]) -> pd.DataFrame:
    """An HTML table's cells on a grid as a sheet is read: a cell spanning columns in its
    first column (the others blank, as a workbook's merged cell is read), one spanning rows
    filled down its first column (said, and kept in ``attrs["merged_down"]`` as
    :func:`_fill_merged_down` keeps a workbook's), so the cells after it keep their columns."""
    grid: dict[tuple[int, int], str] = {}
    ranges: list[tuple[int, int, int, int]] = []
    height = len(rows)
    for r, cells in enumerate(rows):
        c = 0
        for text, down, across in cells:
            while (r, c) in grid:
                c += 1
            last = min(r + down, height) - 1
            for j in range(c, c + across):
                grid[(r, j)] = text if j == c else ""
                for k in range(r + 1, last + 1):
                    grid[(k, j)] = ""
            if last > r:
                ranges.append((r, c, last, c))
            c += across
    width = 1 + max((j for _, j in grid), default=-1)
    raw = pd.DataFrame(
        [[grid.get((r, j), "") for j in range(width)] for r in range(height)], dtype=object
    )
    _fill_merged_down(raw, ranges, notes)
    return raw


def _html_tables(path: Path, encoding: str | None) -> list[list[list[_HtmlCell]]]:
    """The tables of an HTML page (rows of cells; tables without a cell left out), the page
    decoded as given, as its ``charset`` says, else UTF-8, else GB18030. Refused where the
    page holds no table (what a web system exports for an empty query)."""
    data = path.read_bytes()
    m = re.search(rb"charset\s*=\s*[\"']?([A-Za-z0-9_\-]+)", data[:4096], re.IGNORECASE)
    tries = [encoding] if encoding else []
    tries += [m.group(1).decode("ascii")] if m else []
    for enc in [*tries, "utf-8", "gb18030"]:
        try:
            text = data.decode(enc)
            break
        except (UnicodeDecodeError, LookupError):
            continue
    else:
        raise _refuse(path, "the web page is neither UTF-8 nor GB18030", "--encoding ...")
    parser = _TableCells()
    parser.feed(text)
    parser.close()
    tables = [[r for r in t if r] for t in parser.tables]
    tables = [t for t in tables if t]
    if not tables:
        raise _refuse(
            path,
            "a web page with no table (an empty export?)",
            "export the list again as .xlsx or .csv",
        )
    return tables


def _html_table(
    path: Path,
    x: str | None,
    y: str | None,
    encoding: str | None,
    header_names: frozenset[str],
    notes: list[str],
) -> pd.DataFrame:
    """The table of an HTML page that holds the header the reader needs (coordinate columns,
    or two of ``header_names``), else its largest; which one said where the page has
    several (a query-conditions table above the list, or a layout table around it)."""
    from sxzones.vocab import normalise

    tables = _html_tables(path, encoding)
    read = []
    for rows in tables:
        own: list[str] = []
        table = _sheet_table(_html_grid(rows, own), x, y, header_names, own)
        found = _locatable(table.columns, x, y) or (
            bool(header_names)
            and len({normalise(str(c).strip()) for c in table.columns} & header_names) >= 2
        )
        read.append((found, sum(len(r) for r in rows), table, own))
    k = next((i for i, t in enumerate(read) if t[0]), None)
    why = "the one with the columns needed"
    if k is None:
        k = max(range(len(read)), key=lambda i: read[i][1])
        why = "the largest; none has the columns needed"
    notes += read[k][3]
    if len(read) > 1:
        notes.append(f"web page: table {k + 1} of its {len(read)} read ({why})")
    return read[k][2]


def _visible_sheets(path: Path, notes: list[str]) -> list[str]:
    """A workbook's visible worksheets, in order; the hidden ones (a 填表说明 template with
    an example row, read as data before) said as skipped, as the equipment reader does."""
    try:
        names, hidden = worksheets(path)
    except (python_calamine.CalamineError, OSError, ValueError):
        return []  # the reader says why the workbook cannot be read
    if hidden:
        notes.append(f"hidden sheet(s) skipped: {', '.join(map(repr, hidden))}")
    return [n for n in names if n not in hidden]


def _refuse_other_sheets(path: Path, names: list[str], x: str | None, y: str | None) -> None:
    """Refuse a workbook in which more than one visible sheet (``names``, the first the one
    read) has coordinate columns (one sheet per city): reading the first would leave the
    others' rows out of every count."""
    if len(names) < 2:
        return
    located = [names[0]]
    for name in names[1:]:
        top, _ = sheet_cells(path, name, nrows=HEADER_SEARCH_ROWS)
        rows = [list(r) for r in top.itertuples(index=False)]
        if rows and _locatable(_header_names(rows, _header_row(rows, x, y)), x, y):
            located.append(name)
    if len(located) > 1:
        raise _refuse(
            path,
            f"{len(located)} sheets have coordinate columns ({', '.join(located)}); only one "
            "is read",
            f"choose one: {CHOOSE_LAYER}; or copy the rows of all into one sheet",
        )


def _refuse_mixed_encodings(path: Path) -> None:
    """Refuse a text file whose lines are partly UTF-8 (with Chinese) and partly not (GBK:
    lists pasted together from two sources): read whole as GB18030, every UTF-8 name came
    out garbled, and the summary then advised adding the garble to the vocabulary."""
    good: list[int] = []
    bad: list[int] = []
    with path.open("rb") as fh:  # every line up to 20,000 with Chinese, then one in 100
        for k, line in enumerate(fh, start=1):
            if line.isascii() or (len(good) + len(bad) >= 20_000 and k % 100):
                continue
            try:
                line.decode("utf-8")
                good.append(k)
            except UnicodeDecodeError:
                bad.append(k)
            if len(good) > 2 and len(bad) > 2:
                break
    if good and bad:
        raise _refuse(
            path,
            f"the lines mix encodings: line(s) {', '.join(map(str, bad[:3]))} are not UTF-8 "
            f"(GBK?), line(s) {', '.join(map(str, good[:3]))} are UTF-8; read either way, "
            "some names would be garbled",
            "save the file again in one encoding (e.g. open it in Excel and save as CSV UTF-8)",
        )


def _excel_sheet(path: Path, sheet: str | int, notes: list[str] | None = None) -> pd.DataFrame:
    """One sheet of a workbook, every cell as it is, no header; cells merged down a column
    (行业 merged over the firms of one industry) all hold the merged value, said in
    ``notes`` (a reader gives it to the first cell only: the others were rejected as empty)."""
    try:
        raw, merged = sheet_cells(path, sheet)
        if notes is not None:
            _fill_merged_down(raw, merged, notes)
        return raw
    except python_calamine.PasswordError as exc:
        raise _refuse(
            path, "the workbook is password-protected", "save a copy without a password"
        ) from exc
    except (
        ValueError,
        OSError,
        KeyError,
        zipfile.BadZipFile,
        python_calamine.CalamineError,
    ) as exc:
        raise _refuse(
            path, f"cannot be read as an Excel workbook ({exc})", "save it again as .xlsx"
        ) from exc


def _fill_merged_down(
    raw: pd.DataFrame, ranges: list[tuple[int, int, int, int]], notes: list[str]
) -> None:
    """Give every cell of a range merged down one column the range's value (in place); the
    ranges filled are kept in ``raw.attrs["merged_down"]`` as (column, first row, last row),
    0-based, for readers to whom a quantity is not a name (a firm's 产能 merged over its
    ovens is the firm's, not each oven's: see :func:`sxzones.layers.equipment`)."""
    filled = 0
    done: list[tuple[int, int, int]] = []
    for r0, c0, r1, c1 in ranges:
        if c0 != c1 or r1 <= r0 or c0 >= raw.shape[1] or r0 >= len(raw):
            continue
        value = raw.iat[r0, c0]
        if value is None or (isinstance(value, float) and value != value):
            continue
        raw.iloc[r0 + 1 : r1 + 1, c0] = value
        filled += min(r1, len(raw) - 1) - r0
        done.append((c0, r0, min(r1, len(raw) - 1)))
    raw.attrs["merged_down"] = done
    if filled:
        notes.append(f"cells merged down a column filled with their value: {filled} cell(s)")


def _locatable(columns: Iterable[Any], x: str | None, y: str | None) -> bool:
    """Whether a table with ``columns`` says where its rows are: the named x and y, a pair
    of coordinate columns (or X坐标/Y坐标, refused later with both readings), or WKT."""
    cols = [str(c) for c in columns]
    if x or y:
        return {n for n in (x, y) if n} <= set(cols)
    keys = {coordinate_key(c) for c in cols}
    ambiguous = any({a, b} <= keys for a, b in _AMBIGUOUS_XY)
    return bool(coordinate_pair(cols)) or ambiguous or _wkt_column(cols) is not None


def _note_titles(rows: Iterable[Sequence[Any]], skip: int, notes: list[str]) -> None:
    """Say that the header was read from row ``skip + 1`` and what the rows above it hold."""
    if skip <= 0:
        return
    texts = [
        [t for c in cells if c is not None and (t := str(c).strip()) not in ("", "nan")]
        for cells in itertools.islice(rows, skip)
    ]  # a title merged across the columns said once, not once per column
    above = [" ".join(t for t, _ in itertools.groupby(row)) for row in texts]
    titles = "; ".join(t for t in above if t) or "empty"
    notes.append(
        f"header read from row {skip + 1} (an empty header cell takes the name above it); "
        f"the row(s) above it are not data ({titles})"
    )


def _utf16_bom(path: Path) -> bool:
    """Whether the file begins with a UTF-16 byte-order mark (Excel's "Unicode text")."""
    with path.open("rb") as fh:
        return fh.read(2) in (b"\xff\xfe", b"\xfe\xff")


def _sniff_tab(path: Path, encoding: str, notes: list[str]) -> str:
    """``,`` unless the first line holds tabs and no comma (a tab-separated file named .csv or
    .txt, as Excel's "Unicode text" is): then a tab, said as a note."""
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    # tabs and commas are single ASCII bytes in UTF-8 and GBK/GB18030 (never a trail byte)
    wide = encoding.lower().replace("_", "-").startswith("utf-16")
    first = (head.decode(encoding, "ignore") if wide else head.decode("latin-1")).split("\n")[0]
    if "\t" in first and "," not in first:
        notes.append("columns separated by tabs")
        return "\t"
    return ","


def _ragged_row(path: Path, sep: str, encoding: str) -> str:
    """Where a CSV that Arrow refused goes wrong: ``": row N has K of M columns"`` (rows as a
    spreadsheet shows them, the header being row 1), or ``""`` if no row is ragged."""
    with path.open(
        "r", encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline=""
    ) as fh:
        rows = csv.reader(fh, delimiter=sep)
        try:
            width = len(next(rows, []))
            for n, cells in enumerate(rows, start=2):
                if cells and len(cells) != width:
                    return f": row {n} has {len(cells)} of {width} columns"
        except (csv.Error, UnicodeDecodeError):
            return ""
    return ""


#: The first cell of a total row (合计, 总计, 小计; "合 计" as centred in a sheet).
_TOTAL_ROW = re.compile(r"^\s*(?:合\s*计|总\s*计|小\s*计)")


def _read_csv_ragged(
    path: Path,
    sep: str,
    encoding: str,
    x: str | None,
    y: str | None,
    header_names: frozenset[str],
    notes: list[str],
) -> pd.DataFrame | None:
    """A CSV Arrow refused for rows of another width, read after all where the extra or
    missing cells carry nothing: an empty last field on every data row (a trailing comma,
    as some exports write every line) is not data and is left out; a short total row
    (合计, 总计, 小计, as spreadsheets end a list) is padded with blanks, to be rejected as a
    row with its reason like the same row in a workbook. Both said as notes. None for any
    other ragged row (the file is refused as before). Every column as text, blank lines kept
    as rows (as :func:`_read_csv_arrow` gives them)."""
    with path.open(
        "r", encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline=""
    ) as fh:
        try:
            rows = list(csv.reader(fh, delimiter=sep))
        except csv.Error:
            return None
    if not rows:  # a byte-order mark alone: no header to read (refused by the caller)
        return None
    skip = _header_row(rows[:HEADER_SEARCH_ROWS], x, y, header_names)
    if skip >= len(rows):
        return None
    header = _header_names(rows, skip)
    width, body = len(header), rows[skip + 1 :]
    if not width or len(set(header)) != width:
        return None
    data = [r for r in body if r and not _TOTAL_ROW.match(r[0])]
    trailing = bool(data) and all(len(r) == width + 1 and r[-1].strip() == "" for r in data)
    if not trailing and any(len(r) != width for r in data):
        return None
    cells, totals = [], []
    for n, r in enumerate(body, start=skip + 2):
        if r and _TOTAL_ROW.match(r[0]) and len(r) != width:
            if len(r) > width + trailing or any(c.strip() for c in r[width:]):
                return None
            if len(r) < width:
                totals.append(f"{n} ({r[0].strip()}, {len(r)} of {width} columns)")
        cells.append((r[:width] + [""] * width)[:width])
    if trailing:
        notes.append("every row ends with an empty field (a trailing comma): read without it")
    if totals:
        notes.append(
            f"short total row(s) read with blanks for their missing cells: row(s) "
            f"{', '.join(totals)}"
        )
    out = pd.DataFrame(cells, columns=header, dtype=object).astype(str)
    out.attrs["header_row"] = skip + 1
    return out


def _garbles_utf8(path: Path, encoding: str, probe: int = 1 << 20) -> bool:
    """True when ``encoding`` is a Chinese code page but the file's first MiB is UTF-8 holding
    non-ASCII text (GBK text is practically never valid UTF-8)."""
    if codecs.lookup(encoding).name not in {"gbk", "gb2312", "gb18030", "cp936", "big5"}:
        return False
    with path.open("rb") as fh:
        head = fh.read(probe)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return not head.isascii()


def _read_csv_arrow(
    path: Path,
    sep: str,
    encoding: str,
    x: str | None = None,
    y: str | None = None,
    header_names: frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """Every column as text (ids such as 0012 stay intact; numbers are parsed where used),
    with Arrow's multi-threaded parser. A UTF-8 byte-order mark is skipped. Title lines above
    the header are skipped (see :func:`_header_row`; ``attrs["header_row"]``: the header's
    line, 1-based)."""
    with path.open(
        "r", encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline=""
    ) as fh:
        top = list(itertools.islice(csv.reader(fh, delimiter=sep), HEADER_SEARCH_ROWS))
    skip = _header_row(top, x, y, header_names)
    if any("\n" in c or "\r" in c for row in top[:skip] for c in row):
        skip = 0  # a title cell over several lines: lines and rows differ; keep row 1
    header = _header_names(top, skip) if top else []
    if not header:
        raise pa.ArrowInvalid("the file has no header line")
    if "" in header and header.count("") > 1:  # a header over two rows, merged cells above
        empty = [str(k + 1) for k, c in enumerate(header) if c == ""]
        raise _refuse(
            path,
            f"the header (row {skip + 1}) has {len(empty)} empty cells (columns "
            f"{', '.join(empty[:8])}; a header over two rows)",
            "give every column one name in one header row, e.g. 经度(度), 经度(分), 经度(秒) "
            "(or save the sheet as .xlsx, where a two-row 度|分|秒 header is read)",
        )
    if dups := sorted({c for c in header if header.count(c) > 1}):
        raise _refuse(
            path,
            f"column(s) {dups} appear more than once in the header (row {skip + 1})",
            "rename or remove the extra column(s)",
        )
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(
            encoding=encoding,
            skip_rows=skip + 1 if skip else 0,
            column_names=header if skip else None,
        ),
        # blank lines are rows (skipped with a note later): the rows keep Excel's numbers
        parse_options=pacsv.ParseOptions(delimiter=sep, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False
        ),
    )
    out = table.to_pandas()
    out.attrs["header_row"] = skip + 1
    return out


def table_columns(
    path: Path, encoding: str | None = None, sheet: str | int | None = None
) -> list[str]:
    """The columns of a CSV/TSV or spreadsheet as :func:`read_file` reads it (encoding,
    separator, header below title rows, merged header cells), without the unnamed ones: what
    a page offers for mapping fields.

    Raises
    ------
    LayerError
        The file cannot be read as a table.
    """
    table = _read_table(Path(path), None, None, sheet, encoding, [])
    names = (str(c).strip() for c in table.columns)
    return [n for n in names if n and not n.startswith("Unnamed: ")]


def _sheet_table(
    raw: pd.DataFrame,
    x: str | None,
    y: str | None,
    header_names: frozenset[str],
    notes: list[str],
) -> pd.DataFrame:
    """A sheet read whole without a header (the sheet is parsed once: reading its first rows
    apart costs half a full read) as a table: the header row found by :func:`_header_row`,
    its empty cells named from the rows above (:func:`_header_names`) or ``Unnamed: j``,
    repeated names numbered as pandas numbers them (``名称``, ``名称.1``)."""
    from pandas.io.common import dedup_names

    top = [list(r) for r in raw.head(HEADER_SEARCH_ROWS).itertuples(index=False)]
    skip = _header_row(top, x, y, header_names) if top else 0
    above = _header_names(top, skip) if skip else []

    def blank(v: Any) -> bool:
        return v is None or (isinstance(v, float) and v != v) or v == ""

    head = list(raw.iloc[skip]) if len(raw) else []
    names = [
        (above[j] if j < len(above) and above[j] else f"Unnamed: {j}") if blank(v) else v
        for j, v in enumerate(head)
    ]
    _note_titles(top, skip, notes)
    below = _dms_subheader(names, list(raw.iloc[skip + 1]) if len(raw) > skip + 1 else [])
    if below is not None:  # 经度 merged over 度|分|秒: one name per column, the row is header
        names, skip = below, skip + 1
        notes.append(f"header read from rows {skip} and {skip + 1} (degrees|minutes|seconds)")
    table = raw.iloc[skip + 1 :].reset_index(drop=True)
    table.columns = pd.Index(dedup_names(names, False)) if names else table.columns
    table.attrs["header_row"] = skip + 1
    table.attrs["merged_down"] = [  # (column name, first row, last row) as the sheet numbers
        (table.columns[c], r0 + 1, r1 + 1)
        for c, r0, r1 in raw.attrs.get("merged_down", [])
        if r0 > skip and c < len(table.columns)
    ]
    return table


def _dms_subheader(names: list[Any], cells: list[Any]) -> list[Any] | None:
    """The names of a header over two rows whose second row splits coordinate columns into
    度 | 分 | 秒 under a merged cell (``经度`` over three columns): ``经度(度)``, ``经度(分)``,
    ``经度(秒)``; None when the row below the header is no such sub-header."""
    units = [_DMS_UNITS.get(str(c).strip().lower()) if c is not None else None for c in cells]
    if sum(u in ("m", "s") for u in units) < 2:
        return None
    out, owner = list(names), None
    for j, name in enumerate(names):
        text = str(name)
        if not text.startswith("Unnamed: "):
            owner = text if coordinate_key(text) in _COORDINATE_NAMES else None
        unit = units[j] if j < len(units) else None
        if unit is not None and owner is not None:
            out[j] = f"{owner}({str(cells[j]).strip()})"
        elif unit is not None:
            return None  # 度/分/秒 under a column that is no coordinate: not this layout
    return out


def _header_names(rows: Sequence[Sequence[Any]], skip: int) -> list[str]:
    """The names of row ``skip`` (0-based), an empty cell named from the nearest cell above
    it that holds text: a header over two rows with merged cells (单位名称 spanning both rows
    over 经度 | 纬度) names every column."""

    def cell(r: int, j: int) -> str:
        row = rows[r]
        v = row[j] if j < len(row) else None
        return "" if v is None or (isinstance(v, float) and v != v) else str(v).strip()

    names = []
    for j in range(len(rows[skip])):
        name = cell(skip, j)
        for r in range(skip - 1, -1, -1):
            if name:
                break
            name = cell(r, j)
        names.append(name if name or not skip else cell(skip, j))
    return names if skip else [str(c) for c in rows[0]]


#: How many rows at the top of a table may hold titles above the header.
HEADER_SEARCH_ROWS = 10


def _header_row(
    rows: Sequence[Sequence[Any]],
    x: str | None,
    y: str | None,
    header_names: frozenset[str] = frozenset(),
) -> int:
    """The header's index among the first rows of a table: 0 when row 1 names coordinate
    columns (``x``/``y``, or a pair of :data:`COORDINATE_COLUMNS`) or no row does, otherwise
    the first row that does (agency spreadsheets often put a title such as
    ``XX市重点排污单位名录`` above the header). With ``header_names`` (a table without
    coordinates, e.g. equipment), a row naming two of them (after
    :func:`sxzones.vocab.normalise`) is the header."""
    from sxzones.vocab import normalise

    def names_pair(cells: Sequence[Any]) -> bool:
        names = {str(c).strip() for c in cells if c is not None and str(c).strip()}
        if header_names:
            return sum(normalise(n) in header_names for n in names) >= 2
        if x or y:
            return {n for n in (x, y) if n} <= names
        keys = {coordinate_key(n) for n in names}
        return any({cx, cy} <= keys for cx, cy in (*COORDINATE_COLUMNS, *_AMBIGUOUS_XY))

    for k, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if names_pair(cells):
            return k
    return 0


def _numbers(values: pd.Series) -> np.ndarray:
    """Text to float64; degrees-minutes-seconds (``112°33′15.6″``, ``112度33分``, see
    :mod:`sxzones.layers.dms`) read as degrees; blanks and non-numbers become NaN (rejected
    later, with their row)."""
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=float, na_value=np.nan)
    text = pa.array(values.astype("string"), type=pa.string())
    if text.null_count == 0:
        try:  # plain numbers throughout (the usual case): one cast
            return pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:
            pass  # blanks, spaces or text among them: trimmed, blanks as NaN, below
    text = pc.utf8_trim_whitespace(pc.replace_substring_regex(text, "[\u200b-\u200d\ufeff]", ""))
    try:
        return pc.cast(pc.if_else(pc.equal(text, ""), None, text), pa.float64()).to_numpy(
            zero_copy_only=False
        )
    except pa.ArrowInvalid:  # some cell is not a number: parse leniently, NaN for those
        cells = pd.Series(text.to_pandas())
        out = pd.to_numeric(cells, errors="coerce").to_numpy(float, copy=True)
        bad = np.flatnonzero(np.isnan(out))
        if len(bad):
            from sxzones.layers.dms import parse_dms

            out[bad] = parse_dms(cells.iloc[bad])
        bad = np.flatnonzero(np.isnan(out))
        if len(bad):  # Excel's thousands separators: 4,194,059.80 (commas every 3 digits)
            text = cells.iloc[bad].astype("string")
            grouped = text.str.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", na=False)
            if grouped.any():
                plain = pd.to_numeric(text[grouped].str.replace(",", ""), errors="coerce")
                out[bad[grouped.to_numpy(dtype=bool)]] = plain.to_numpy(dtype=float)
        return out


def _make_points(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Points of finite coordinate pairs; None where either is missing or not finite."""
    ok = np.isfinite(xs) & np.isfinite(ys)
    with gc_paused():
        geoms = shapely.points(np.where(ok, xs, 0.0), np.where(ok, ys, 0.0))
    geoms[~ok] = None
    return geoms


def blank_rows(table: pd.DataFrame, candidates: np.ndarray | None = None) -> np.ndarray:
    """Positions of the rows (among ``candidates``, a mask: e.g. the rows without
    coordinates) whose every cell is empty: blank lines and rows of a sheet, skipped with a
    note (:func:`blank_note`)."""
    idx = np.arange(len(table)) if candidates is None else np.flatnonzero(candidates)
    if not len(idx):
        return idx
    part = table.iloc[idx].astype("string")
    empty = part.isna() | (part.apply(lambda c: c.str.strip()) == "")
    return idx[empty.all(axis=1).to_numpy(dtype=bool)]


def blank_note(blank: Sequence[int] | np.ndarray, header_row: int) -> str:
    """The note for skipped blank rows (positions below the header, 0-based), by the row
    numbers the spreadsheet shows."""
    nums = ", ".join(str(int(b) + header_row + 1) for b in blank[:10])
    more = f" and {len(blank) - 10} more" if len(blank) > 10 else ""
    return f"blank rows skipped: {len(blank)} (row {nums}{more})"


#: Names of a table column that holds geometries as WKT (QGIS's and ArcGIS's CSV exports),
#: compared lower-case, used when the table has no coordinate columns.
_WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom", "shape", "几何", "空间信息")


def _wkt_column(columns: Iterable[Any]) -> Any:
    """The column of ``columns`` named as a WKT column, or None."""
    return next((c for c in columns if str(c).strip().lower() in _WKT_COLUMNS), None)


#: Names of one column holding both coordinates (``112.553456,37.871234``), compared as
#: :func:`coordinate_key` makes them, used when a table has no pair of coordinate columns.
_PAIR_COLUMNS = ("经纬度", "经纬度坐标", "坐标", "中心点坐标", "位置坐标", "lnglat", "lonlat",
                 "lng,lat", "lon,lat", "coordinates")  # fmt: skip


def _pair_column(columns: Iterable[Any]) -> Any:
    """The column of ``columns`` named as one holding both coordinates, or None."""
    return next((c for c in columns if coordinate_key(c) in _PAIR_COLUMNS), None)


def _split_pair(table: pd.DataFrame, col: Any) -> tuple[pd.DataFrame, str, str, str]:
    """The table with the two numbers of ``col`` as columns ``col (x)`` and ``col (y)``.
    Degrees written latitude first (as Google Maps gives them) are told by their size
    (:func:`sxzones.crs.latitude_first`, most rows); other numbers keep their order (x, y). Returns the table, the x and y columns and the order read."""
    text = table[col].astype("string").str.strip()
    parts = text.str.split(r"\s*[,，;；]\s*|\s+", n=1, regex=True, expand=True)
    a = _numbers(parts[0])
    b = _numbers(parts[1]) if parts.shape[1] > 1 else np.full(len(table), np.nan)
    ok = np.isfinite(a) & np.isfinite(b)
    degrees = ok.any() and bool(np.all(np.abs(np.r_[a[ok], b[ok]]) <= 180))
    lat_first = degrees and bool(latitude_first(a[ok], b[ok]).mean() > 0.5)  # most rows
    xs, ys = (b, a) if lat_first else (a, b)
    cx, cy = f"{col} (x)", f"{col} (y)"
    out = table.copy()
    out[cx] = pd.array(np.where(np.isfinite(xs), xs, np.nan), dtype="Float64")
    out[cy] = pd.array(np.where(np.isfinite(ys), ys, np.nan), dtype="Float64")
    order = (
        "latitude first, as Google Maps writes them"
        if lat_first
        else ("longitude first" if degrees else "x first, then y")
    )
    return out, cx, cy, order


#: PostGIS's EWKT prefix (``SRID=4490;POLYGON(...)``, as ``ST_AsEWKT`` writes it).
_EWKT_SRID = re.compile(r"^\s*SRID\s*=\s*(\d+)\s*;\s*", re.IGNORECASE)
#: The coordinate list of one ring (innermost brackets) of a WKT polygon.
_WKT_RING = re.compile(r"\(([^()]+)\)")


def _close_rings(text: str) -> str | None:
    """A WKT polygon or multipolygon with every ring that does not end where it starts
    closed (its first point repeated at its end); None when no ring was open or the text
    is no polygon."""
    if not re.match(r"\s*(?:MULTI)?POLYGON\b", text, re.IGNORECASE):
        return None
    opened = False

    def close(m: re.Match[str]) -> str:
        nonlocal opened
        pts = [p.strip() for p in m.group(1).split(",")]
        if len(pts) >= 3 and pts[0].split() != pts[-1].split():
            opened = True
            pts.append(pts[0])
        return f"({', '.join(pts)})"

    closed = _WKT_RING.sub(close, text)
    return closed if opened else None


def geometry_from_wkt(text: str) -> tuple[Any, str | None, list[str]]:
    """One geometry written as WKT, read as a WKT cell of a table is read: PostGIS's
    ``SRID=4490;`` prefix (EWKT) taken as the CRS it declares, a polygon ring not closed
    (its first point not repeated at the end) closed.

    Parameters
    ----------
    text : str
        WKT or EWKT, e.g. ``SRID=4490;POINT(112.55 37.87)``; coordinates in the CRS the
        prefix declares, or one given elsewhere.

    Returns
    -------
    geometry, crs, notes
        The shapely geometry; ``EPSG:n`` from an SRID prefix, else None; what was read
        beyond the text as written (the prefix, a ring closed).

    Raises
    ------
    shapely.errors.GEOSException
        When the text is no WKT, even with its rings closed.
    """
    notes: list[str] = []
    m = _EWKT_SRID.match(text)
    crs = f"EPSG:{m.group(1)}" if m else None
    body = text[m.end() :] if m else text
    if crs:
        notes.append(f"geometries read from the WKT text: its SRID= prefix declares {crs}")
    try:
        return shapely.from_wkt(body), crs, notes
    except GEOSException:
        fixed = _close_rings(body)
        if fixed is None:
            raise
        notes.append(
            "geometries read from the WKT text: a polygon ring not closed (the first point "
            "not repeated at the end) closed"
        )
        return shapely.from_wkt(fixed), crs, notes


def _geometries_from_wkt(table: pd.DataFrame, col: Any, path: Path) -> gpd.GeoDataFrame:
    """The table with its WKT column made the geometry (None where the text is blank or not
    WKT: rejected by validation with its row); blank rows are skipped, their places kept.
    PostGIS's ``SRID=4490;`` prefix is read (one SRID for the file: ``attrs["wkt_srid"]``,
    the file's CRS; several are refused); a polygon ring not closed (first point not
    repeated at the end) is closed, its rows said in ``attrs["wkt_closed"]``."""
    text = table[col].astype("string").str.strip().fillna("")
    srid = text.str.extract(_EWKT_SRID, expand=False).dropna()
    if srid.nunique() > 1:
        raise _refuse(
            path,
            f"the WKT column {col} carries several SRIDs ({', '.join(sorted(set(srid)))})",
            "give one CRS per file: split it by SRID",
        )
    cells = text.str.replace(_EWKT_SRID, "", regex=True).to_numpy(dtype=object)
    geoms = shapely.from_wkt(np.where(cells == "", None, cells), on_invalid="ignore")
    closed = []
    for k in np.flatnonzero(shapely.is_missing(geoms) & (cells != "")):
        fixed = _close_rings(str(cells[k]))
        if fixed is not None and (g := shapely.from_wkt(fixed, on_invalid="ignore")) is not None:
            geoms[k] = g
            closed.append(int(k))
    missing = shapely.is_missing(geoms)
    blank = blank_rows(table, missing)
    keep = np.ones(len(table), bool)
    keep[blank] = False
    frame = gpd.GeoDataFrame(table.drop(columns=[col])[keep], geometry=geoms[keep])
    frame.attrs["blank_rows"] = tuple(int(b) for b in blank)
    frame.attrs["wkt_column"] = str(col)
    frame.attrs["wkt_closed"] = tuple(closed)
    if len(srid):
        frame.attrs["wkt_srid"] = f"EPSG:{srid.iloc[0]}"
    return frame


def _points_from_table(
    table: pd.DataFrame, path: Path, x: str | None, y: str | None, make: bool = True
) -> tuple[gpd.GeoDataFrame, tuple[np.ndarray, np.ndarray]]:
    """The table with a point per row (None where the coordinates are missing or not
    numbers) and its coordinates; with ``make`` false, the geometry is left empty (the
    points cost about 0.4 s per million rows, and are made once, in the working CRS, by
    validation)."""
    cx, cy = _find_columns([str(c) for c in table.columns], x, y, path)
    (xs, x_parts), (ys, y_parts) = _dms_numbers(table, cx, path), _dms_numbers(table, cy, path)
    ok = np.isfinite(xs) & np.isfinite(ys)
    if len(blank := blank_rows(table, ~ok)):  # the index keeps the rows' places
        keep = np.ones(len(table), bool)
        keep[blank] = False
        table, xs, ys, ok = table[keep], xs[keep], ys[keep], ok[keep]
    xs, ys = np.where(ok, xs, np.nan), np.where(ok, ys, np.nan)
    geoms = _make_points(xs, ys) if make else GeometryArray(np.full(len(table), None, object))
    # the coordinate columns stay, as given: outputs show users their own numbers
    frame = gpd.GeoDataFrame(table, geometry=geoms)
    frame.attrs["coordinate_columns"] = (cx, cy)
    frame.attrs["blank_rows"] = tuple(int(b) for b in blank)
    if x_parts or y_parts:
        frame.attrs["dms_columns"] = (*x_parts, *y_parts)
    return frame, (xs, ys)


def _dms_numbers(table: pd.DataFrame, col: str, path: Path) -> tuple[np.ndarray, list[str]]:
    """The numbers of a coordinate column (:func:`_numbers`), with its minutes and seconds
    added where the table splits it into ``经度(度)``, ``经度(分)``, ``经度(秒)``; and those
    columns. A row whose degrees are not whole, or whose minutes or seconds are blank or
    outside [0, 60), gets NaN (rejected with its row)."""
    key = coordinate_key(col)
    parts: dict[str, str] = {}
    for c in map(str, table.columns):
        if (unit := _dms_unit(c)) in ("m", "s") and coordinate_key(c) == key:
            if unit in parts:
                raise _refuse(
                    path,
                    f"columns {parts[unit]} and {c} both hold the "
                    f"{'minutes' if unit == 'm' else 'seconds'} of {col}",
                    "keep one of them",
                )
            parts[unit] = c
    deg = _numbers(table[col])
    if not parts:
        return deg, []
    out = deg.copy()
    ok = np.isfinite(deg) & (deg == np.trunc(deg)) & (deg >= 0)
    for unit, scale in (("m", 60.0), ("s", 3600.0)):
        if unit in parts:
            v = _numbers(table[parts[unit]])
            ok &= (v >= 0) & (v < 60)
            out = out + np.where(np.isfinite(v), v, 0.0) / scale
    return np.where(ok, out, np.nan), [parts[u] for u in ("m", "s") if u in parts]


def _read_parquet(path: Path) -> gpd.GeoDataFrame:
    try:
        return gpd.read_parquet(path)
    except (ValueError, OSError) as exc:
        raise _refuse(
            path,
            f"cannot be read as GeoParquet ({exc})",
            "check that it is a GeoParquet file (with geo metadata)",
        ) from exc


def _text_table(
    path: Path, encoding: str | None, x: str | None, y: str | None, notes: list[str]
) -> bool:
    """Whether a ``.txt`` is a table of points, not a 界址点 file: no 界址点 section or point
    lines, and a header naming coordinate columns (Excel's "Unicode text" export is always a
    ``.txt``: UTF-16, tab-separated)."""
    if path.suffix.lower() != ".txt":
        return False
    text, _ = jzd.read_text(path, encoding)
    if jzd.is_jzd_text(text) or jzd.is_point_list(text):
        return False
    lines = text.lstrip("\ufeff").splitlines()[:HEADER_SEARCH_ROWS]  # the header, as decoded
    sep = "\t" if lines and "\t" in lines[0] else ","
    rows = list(csv.reader(lines, delimiter=sep))
    found = bool(rows) and _locatable(_header_names(rows, _header_row(rows, x, y)), x, y)
    if found:
        notes.append("a .txt read as a table: its header names coordinate columns")
    return found


def _read_jzd(
    path: Path, encoding: str | None, notes: list[str], declared: bool = False
) -> tuple[gpd.GeoDataFrame, Any]:
    """A 界址点 exchange file (parcels) or a plain point list (one parcel); ``declared``: the
    user gave the CRS (see :func:`sxzones.layers.jzd.parse_jzd`)."""
    text, _ = jzd.read_text(path, encoding)
    if not (jzd.is_jzd_text(text) or jzd.is_point_list(text)):
        raise _refuse(
            path,
            "a text file with neither a [地块坐标] section nor 点号,X,Y lines is not a 界址点 file",
            "give the exchange format ([属性描述], [地块坐标]) or one point a line as "
            "点号,X,Y (X the northing) or 点号,圈号,X,Y; for tables of points use .csv",
        )
    header_spec = None
    inferred: list[str] = []  # what was read from the coordinates themselves: said to the user
    if jzd.is_jzd_text(text):
        parcels, header_spec = jzd.parse_jzd(
            path, encoding=encoding, notes=inferred, declared=declared
        )
    else:
        parcels = jzd.parse_point_list(path, encoding=encoding, notes=inferred)
    notes += inferred
    rows = []
    for p in parcels:
        geom, problem = jzd.parcel_geometry(p)
        rows.append(
            {
                "parcel_id": p.parcel_id,
                "name": p.name,
                "use": p.use,
                "land_class": p.land_class,
                "declared_area": p.declared_area,
                "header_line": p.line,
                "jzd_problem": problem,
                "geometry": geom,
            }
        )
    if header_spec is not None:
        notes.append(f"界址点 header declares {header_spec.name}")
    frame = _join_jzd_parts(gpd.GeoDataFrame(rows, geometry="geometry"), notes)
    frame.attrs["inferred"] = inferred
    return frame, (header_spec.crs if header_spec else None)


def _join_jzd_parts(frame: gpd.GeoDataFrame, notes: list[str]) -> gpd.GeoDataFrame:
    """界址点 parcels that share a 地块编号 joined into one multipart parcel (some survey
    programs write each part of a parcel under a header of its own, with the same number;
    the second part was rejected as a duplicate id and the parcel checked on its first part
    only): the union of their geometries, the sum of their declared areas (hectares), their
    distinct names, uses and land classes joined with 、, any part's problem kept. The joined
    parcel keeps the first part's index (its parcel number); the joins are said as a note."""
    ids = frame["parcel_id"]
    if not ids.duplicated().any():
        return frame
    keep, said = [], []
    for pid, part in frame.groupby("parcel_id", sort=False):
        first = part.index[0]
        keep.append(first)
        if len(part) == 1:
            continue
        geoms = [g for g in part.geometry if g is not None]
        frame.loc[first, "geometry"] = shapely.union_all(geoms) if geoms else None
        for col in ("name", "use", "land_class"):
            texts = dict.fromkeys(str(v) for v in part[col] if isinstance(v, str) and v)
            frame.loc[first, col] = "、".join(texts)
        areas = part["declared_area"].dropna()
        frame.loc[first, "declared_area"] = float(areas.sum()) if len(areas) else None
        problems = [
            f"part at line {ln}: {pr}"
            for ln, pr in zip(part["header_line"], part["jzd_problem"], strict=True)
            if isinstance(pr, str)
        ]
        frame.loc[first, "jzd_problem"] = "; ".join(problems) if problems else None
        lines = ", ".join(str(ln) for ln in part["header_line"])
        said.append(f"{pid} ({len(part)} parts, header lines {lines})")
    notes.append(
        f"界址点 parcels sharing a 地块编号 joined as one multipart parcel each: {'; '.join(said)}"
    )
    return frame.loc[sorted(keep)]


def _read_table_layer(
    p: Path,
    x: str | None,
    y: str | None,
    sheet: str | int | None,
    encoding: str | None,
    notes: list[str],
    crs: str | CRSSpec | None,
    points: bool,
) -> tuple[gpd.GeoDataFrame, tuple[np.ndarray, np.ndarray] | None, int]:
    """A CSV/TSV or spreadsheet as a layer: its rows located by a pair of coordinate columns
    (named or found), by one column holding both, or by a WKT column; blank rows skipped.
    Returns the frame, the coordinates (tables of points) and the header's row."""
    table = _read_table(p, x, y, sheet, encoding, notes)
    header_row = int(table.attrs.get("header_row", 1))
    xy = None
    wkt = None if x or coordinate_pair(table.columns) else _wkt_column(table.columns)
    both = None if x or wkt is not None else _pair_column(table.columns)
    if wkt is not None:  # a QGIS or ArcGIS export of polygons: WKT in one column
        frame = _geometries_from_wkt(table, wkt, p)
        notes.append(f"geometries read from the WKT column {wkt}")
        if closed := frame.attrs.pop("wkt_closed", ()):
            rows = ", ".join(str(k + header_row + 1) for k in closed[:10])
            notes.append(
                f"geometries read from the WKT column {wkt}: polygon ring(s) not closed (the "
                f"first point not repeated at the end) closed in {len(closed)} row(s): {rows}"
            )
    elif both is not None:  # "112.553456,37.871234" as a map's coordinate picker gives
        _check_header_crs(p, (both,), crs)
        table, x, y, order = _split_pair(table, both)
        frame, xy = _points_from_table(table, p, x, y, make=points)
        notes.append(f"coordinates read from column {both} ({order})")
    else:
        frame, xy = _points_from_table(table, p, x, y, make=points)
        cx, cy = frame.attrs["coordinate_columns"]
        _check_header_crs(p, (cx, cy), crs)
        if x or (str(cx).lower(), str(cy).lower()) not in _PLAIN_PAIRS:
            notes.append(f"coordinates read from columns {cx} (x) and {cy} (y)")
    if dms := frame.attrs.pop("dms_columns", ()):
        notes.append(
            f"degrees, minutes and seconds combined: {', '.join(map(str, dms))} added to the "
            "degrees of the coordinate columns"
        )
    if blank := frame.attrs.pop("blank_rows", ()):
        notes.append(blank_note(blank, header_row))
    return frame, xy, header_row


def read_file(
    path: str | Path,
    *,
    crs: str | CRSSpec | None = None,
    layer: str | int | None = None,
    encoding: str | None = None,
    x: str | None = None,
    y: str | None = None,
    sheet: str | int | None = None,
    where: str | None = None,
    points: bool = True,
) -> RawLayer:
    """Read a vector or table file into a :class:`RawLayer`.

    Parameters
    ----------
    path : path
        GeoPackage, Shapefile, GeoJSON, FlatGeobuf, GeoParquet, CSV/TSV/XLSX with coordinate
        columns, or a 界址点 text file (``.txt``, detected by its ``[地块坐标]`` section).
    crs : CRS spec, optional
        The CRS of the coordinates. Required for tables; overrides GeoJSON's implied WGS84 (for
        example ``gcj02`` for boundaries from Amap); for other formats it must agree with the
        file's own declaration.
    layer : str or int, optional
        GeoPackage layer, or the sheet of a workbook (as ``sheet``).
    encoding : str, optional
        Text encoding of attributes (shapefiles, CSV, 界址点 files). Default: ``.cpg`` or the
        .dbf language driver, else UTF-8 with a fall-back to GB18030.
    x, y : str, optional
        Coordinate columns of a table; default: the first pair of :data:`COORDINATE_COLUMNS`.
    where : str, optional
        An attribute filter in OGR SQL (vector formats only), e.g. ``"level = 'county'"``.
        Source rows are then numbered among the selected features.
    points : bool
        For tables: make the point geometries (in the file's CRS). False leaves them to
        :func:`~sxzones.layers.validate_layer`, which makes them once, in the working CRS,
        from :attr:`RawLayer.xy` (faster for large tables; ``RawLayer.with_points()`` makes
        them here after all).

    Raises
    ------
    LayerError
        When the file as a whole cannot be used; the message names the file and the fix.
    CRSError
        When no CRS is known or the declared one contradicts the file.
    """
    p = Path(path)
    _check_file(p)
    if layer is not None and sheet is None and p.suffix.lower() in _EXCEL:
        sheet, layer = layer, None  # --layer names a workbook's sheet
    if p.suffix.lower() == ".zip":
        kw = {"crs": crs, "layer": layer, "encoding": encoding, "x": x, "y": y}
        return _read_zip(p, sheet=sheet, where=where, points=points, **kw)
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise _refuse(
                p, f"unknown encoding {encoding!r}", "use e.g. UTF-8 or GB18030"
            ) from None
    notes: list[str] = []
    suffix = p.suffix.lower()
    if (x or y) and suffix not in _TABLE:
        raise _refuse(
            p,
            f"coordinate columns ({x}, {y}) were named, but a {suffix} file has its own geometry",
            "leave out --field x=.. y=.. (they name the columns of a .csv or .xlsx table)",
        )
    if layer is not None and suffix not in _VECTOR:
        _refuse_layer_of(p, layer)
    file_crs: Any = None
    xy = None
    header_row = 1
    table = False
    if suffix in _VECTOR:
        frame, file_crs = _read_vector(p, layer, encoding, notes, where)
        if where:
            notes.append(f"selected with where: {where}")
    elif where:
        raise _refuse(
            p,
            "a where filter works on vector formats only",
            "convert the table to GeoPackage, or filter it before loading",
        )
    elif suffix in _PARQUET:
        frame = _read_parquet(p)
        file_crs = frame.crs
    elif suffix in _TABLE or _text_table(p, encoding, x, y, notes):
        frame, xy, header_row = _read_table_layer(p, x, y, sheet, encoding, notes, crs, points)
        table = True
        if (file_crs := frame.attrs.pop("wkt_srid", None)) is not None:
            notes.append(f"geometries read from the WKT column: its SRID= prefix (PostGIS) "
                         f"declares {file_crs}")  # fmt: skip
    elif suffix in _JZD:
        frame, file_crs = _read_jzd(p, encoding, notes, declared=crs is not None)
    else:
        raise _refuse(
            p,
            f"unknown file type {suffix!r}",
            "use .gpkg, .shp, .geojson, .fgb, .kml, .kmz, .ovkml, .tab, .dxf, .parquet, .csv, .xlsx, "
            "a 界址点 .txt, or a .zip of one of them",
        )
    if len(frame) == 0:
        raise _refuse(p, "holds no features", "check that the right file or layer was given")
    spec = _resolve_spec(p, file_crs, crs, notes)
    # a spreadsheet's first data row is row 2, or the row under a header below titles; a
    # table's index keeps the places of the blank rows it skipped
    first = header_row + 1 if table else 1
    # a 界址点 file's parcels joined by 地块编号 keep their first part's number
    rows = frame.index.to_numpy() + first if table or suffix in _JZD else None
    frame = frame.reset_index(drop=True)
    if ROW in frame.columns:  # an output of sxzones read again: its rows keep their numbers
        kept = f"input_{ROW}"
        frame = frame.rename(columns={ROW: kept})
        notes.append(
            f"the file's own column {ROW} is kept as {kept} ({ROW} numbers the rows of this file)"
        )
    frame.insert(0, ROW, np.arange(first, len(frame) + first) if rows is None else rows)
    word = "row" if suffix in _TABLE else ("parcel" if suffix in _JZD else "feature")
    return RawLayer(p, frame, spec, notes, encoding, word, None if points else xy)
