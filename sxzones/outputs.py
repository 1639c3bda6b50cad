"""Atomic, deterministic writing of outputs: CSV, XLSX, GeoPackage, GeoJSON, JSON, HTML.

Every writer writes to a temporary file in the destination folder and renames it into place,
so a reader never sees half a file and an interrupted run leaves the old file intact. The same
inputs give the same bytes: GeoPackage timestamps are pinned (GDAL's ``OGR_CURRENT_DATE``),
XLSX document dates and zip entry times are fixed.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyogrio

from sxzones.errors import OutputError

__all__ = [
    "atomic_path",
    "check_targets",
    "write_bytes",
    "write_csv",
    "write_gpkg",
    "write_json",
    "write_text",
    "write_xlsx",
]

_FIXED_DATE = "2000-01-01T00:00:00Z"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def check_targets(paths: list[Path], overwrite: bool) -> None:
    """Refuse, before any work starts, to replace outputs that exist (unless ``overwrite``)."""
    if overwrite:
        return
    for path in paths:
        if path.exists():
            raise OutputError(
                f"{path} exists. Fix: pass --overwrite, or choose another --out folder"
            )


@contextmanager
def atomic_path(path: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds."""
    dest = Path(path)
    check_targets([dest], overwrite)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=dest.suffix, dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.unlink()  # writers such as GDAL want to create the file themselves
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(data: bytes, path: str | Path, overwrite: bool) -> Path:
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(text: str, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write UTF-8 text atomically."""
    return write_bytes(text.encode("utf-8"), path, overwrite)


def write_json(data: Any, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write JSON (UTF-8, Chinese kept readable, keys in the given order) atomically."""
    text = json.dumps(data, ensure_ascii=False, indent=2, default=_json_default) + "\n"
    return write_text(text, path, overwrite=overwrite)


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, datetime):
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} as JSON")


def write_csv(
    frame: pd.DataFrame, path: str | Path, *, overwrite: bool = False, bom: bool = True
) -> Path:
    """Write CSV, UTF-8 with a byte-order mark by default so that Excel shows Chinese."""
    frame = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow([str(c) for c in frame.columns])
    head = (b"\xef\xbb\xbf" if bom else b"") + header.getvalue().encode("utf-8")
    try:  # Arrow's writer: an order of magnitude faster than pandas on large tables
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        body = frame.to_csv(index=False, header=False, lineterminator="\n").encode("utf-8")
        return write_bytes(head + body, path, overwrite)
    opts = pacsv.WriteOptions(quoting_style="needed", include_header=False)

    def render(part: pa.Table) -> bytes:
        sink = io.BytesIO()
        pacsv.write_csv(part, sink, write_options=opts)
        return sink.getvalue()

    # Row chunks are rendered in threads (Arrow releases the GIL) and written in order.
    step = 250_000
    parts = [table.slice(k, step) for k in range(0, max(len(table), 1), step)]
    with atomic_path(path, overwrite=overwrite) as tmp, tmp.open("wb") as fh:
        fh.write(head)
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            for chunk in pool.map(render, parts):
                fh.write(chunk)
    return Path(path)


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip (XLSX) with fixed entry times, so equal content gives equal bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = info.external_attr
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time here
                data = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)",
                    rb"\g<1>2000-01-01T00:00:00Z\g<2>",
                    data,
                )
            dst.writestr(zi, data)
    return out.getvalue()


def write_xlsx(
    sheets: Mapping[str, pd.DataFrame], path: str | Path, *, overwrite: bool = False
) -> Path:
    """Write one sheet per frame (names cut to Excel's 31 characters), deterministically."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, frame in sheets.items():
            pd.DataFrame(frame.drop(columns="geometry", errors="ignore")).to_excel(
                xw, sheet_name=name[:31], index=False
            )
        book = xw.book
        fixed = datetime(2000, 1, 1)
        book.properties.created = fixed
        book.properties.modified = fixed
        book.properties.creator = "sxzones"
    return write_bytes(_normalise_zip(buf.getvalue()), path, overwrite)


@contextmanager
def _gdal_options(options: Mapping[str, str | None]) -> Iterator[None]:
    old = {k: pyogrio.get_gdal_config_option(k) for k in options}
    pyogrio.set_gdal_config_options(dict(options))
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(old)


def write_gpkg(
    layers: Mapping[str, gpd.GeoDataFrame] | gpd.GeoDataFrame,
    path: str | Path,
    *,
    overwrite: bool = False,
    layer: str | None = None,
) -> Path:
    """Write one or more layers to a GeoPackage atomically, with pinned timestamps."""
    items = {layer or Path(path).stem: layers} if isinstance(layers, gpd.GeoDataFrame) else layers
    with (
        atomic_path(path, overwrite=overwrite) as tmp,
        _gdal_options({"OGR_CURRENT_DATE": _FIXED_DATE}),
    ):
        for name, frame in items.items():
            pyogrio.write_dataframe(
                frame, tmp, layer=name, driver="GPKG", append=tmp.exists(), SPATIAL_INDEX="YES"
            )
    return Path(path)
