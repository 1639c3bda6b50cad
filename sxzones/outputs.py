"""Atomic, deterministic writing of outputs: CSV, XLSX, GeoPackage, GeoJSON, JSON, HTML, and
the publication of a run's files as one set.

Every writer writes to a temporary file in the destination folder (named with the writer's
process id, so a later run can remove what a killed writer left) and renames it into place, so
a reader never sees half a file. The same inputs give the same bytes: GeoPackage timestamps are
pinned (GDAL's ``OGR_CURRENT_DATE``), XLSX document dates and zip entry times are fixed.

A run writes through a :class:`Publication`: a lock on the output folder, a hidden staging
folder, then every file moved into place and ``manifest.json`` written last. Text cells that a
spreadsheet would run as formulas are written as text in XLSX and quoted in CSV.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import glob
import hashlib
import io
import json
import os
import pickle
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyogrio
import pyogrio.errors

from sxzones._util import gdal_options
from sxzones.errors import OutputError

__all__ = [
    "ChildJob",
    "Publication",
    "atomic_path",
    "check_targets",
    "neutralise_formulas",
    "refuse_inputs",
    "write_bytes",
    "write_csv",
    "write_gpkg",
    "write_json",
    "write_text",
    "write_xlsx",
]

_FIXED_DATE = "2000-01-01T00:00:00Z"


def check_targets(paths: list[Path], overwrite: bool, where: str = "--out folder") -> None:
    """Refuse, before any work starts, to replace outputs that exist (unless ``overwrite``)."""
    if overwrite:
        return
    for path in paths:
        if path.exists():
            raise OutputError(f"{path} exists. Fix: pass --overwrite, or choose another {where}")


@contextmanager
def atomic_path(path: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds."""
    dest = Path(path)
    check_targets([dest], overwrite)
    dest.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(dest.parent, dest.stem)
    try:
        # the writer's pid is in the name, so a later run can tell a dead writer's leftover
        fd, tmp = tempfile.mkstemp(
            prefix=f".{dest.stem}.{os.getpid()}.", suffix=dest.suffix, dir=dest.parent
        )
    except OSError as exc:
        raise write_error(dest, exc) from exc
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.unlink()  # writers such as GDAL want to create the file themselves
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    except OSError as exc:
        if isinstance(exc, OutputError):
            raise
        raise write_error(dest, exc) from exc
    finally:
        for leftover in tmp_path.parent.glob(glob.escape(tmp_path.name) + "*"):
            leftover.unlink(missing_ok=True)  # the file, and journals GDAL left beside it


def write_error(path: Path, exc: OSError) -> OutputError:
    """An :class:`OutputError` naming the file that could not be written, and why."""
    why = exc.strerror or str(exc)
    hint = {
        errno.ENOSPC: "free some space or choose a folder on another disk",
        errno.EDQUOT: "free some space or choose a folder on another disk",
        errno.EFBIG: "the file is larger than this file system allows; choose another folder",
        errno.EROFS: "the file system is read-only; choose another folder",
        errno.EACCES: "you may not write there; choose another folder",
        errno.EPERM: "you may not write there; choose another folder",
    }.get(exc.errno or 0, "check the folder and try again")
    return OutputError(f"cannot write {path}: {why}. Fix: {hint}")


_TEMP = re.compile(r"^\.(?P<stem>.+)\.(?P<pid>\d+)\.[a-z0-9_]{8}(?:\.[^/]*)?$")


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (another user's counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temps(folder: Path, stem: str | None = None) -> list[Path]:
    """Remove the hidden temporary files that writers killed mid-write left in ``folder``
    (only those whose writer's process is gone; ``stem``: only those of that output)."""
    removed: list[Path] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        m = _TEMP.match(name)
        if m is None or (stem is not None and m.group("stem") != stem):
            continue
        if pid_alive(int(m.group("pid"))):
            continue
        path = folder / name
        if path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


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


#: A text cell starting with one of these is run as a formula by spreadsheet programs.
_FORMULA_START = r"[=+\-@\t\r]"
#: ... unless it is a plain number (``-12.5``, ``+3``): that is no formula, and stays as it is.
_PLAIN_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"


def formula_cells(column: pd.Series) -> npt.NDArray[np.bool_] | None:
    """Which text cells of a column a spreadsheet would take for a formula (OWASP's list:
    ``=``, ``+``, ``-``, ``@``, tab, carriage return; plain numbers excepted). None when no
    cell is (numeric columns never are)."""
    if column.dtype != object and not pd.api.types.is_string_dtype(column.dtype):
        return None
    try:
        text = column.str
    except AttributeError:  # an object column holding no text at all
        return None
    starts = text.match(_FORMULA_START, na=False).to_numpy(dtype=bool)
    if not starts.any():
        return None
    return starts & ~text.fullmatch(_PLAIN_NUMBER, na=False).to_numpy(dtype=bool)


_FORMULA_RE = re.compile(_FORMULA_START)
_NUMBER_RE = re.compile(_PLAIN_NUMBER)


def _is_formula_text(value: str) -> bool:
    return bool(_FORMULA_RE.match(value)) and _NUMBER_RE.fullmatch(value) is None


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _neutralised(col: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray | None:
    """Text cells a spreadsheet would run as formulas, quoted; None when there are none."""
    starts = pc.match_substring_regex(col, "^" + _FORMULA_START)
    if not pc.any(starts).as_py():
        return None
    number = pc.match_substring_regex(col, "^" + _PLAIN_NUMBER + "$")
    mask = pc.and_kleene(starts, pc.invert(number))
    quote = pa.scalar("'", type=col.type)
    quoted = pc.binary_join_element_wise(quote, col, pa.scalar("", type=col.type))
    return pc.if_else(mask, quoted, col)


def _neutralise_arrow(table: pa.Table) -> pa.Table:
    """:func:`neutralise_formulas` on an Arrow table (vectorised: ~20 ms per million cells).
    Categorical text (dictionary arrays: area names, counties) is neutralised in its
    dictionary, once per distinct value."""
    for pos, field in enumerate(table.schema):
        col = table.column(pos)
        if _is_text(field.type):
            fixed = _neutralised(col)
            if fixed is not None:
                table = table.set_column(pos, field, fixed)
        elif pa.types.is_dictionary(field.type) and _is_text(field.type.value_type):
            chunks = []
            for chunk in col.chunks:
                values = _neutralised(chunk.dictionary)
                chunks.append(
                    chunk
                    if values is None
                    else pa.DictionaryArray.from_arrays(chunk.indices, values)
                )
            if any(a is not b for a, b in zip(chunks, col.chunks, strict=True)):
                table = table.set_column(pos, field, pa.chunked_array(chunks, field.type))
    return table


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` in which text cells (and column names) that a spreadsheet would run
    as formulas start with a single quote, as OWASP advises for CSV files. Numbers, numeric
    columns and other text are unchanged; ``frame`` itself is not modified."""
    out = frame
    for pos in range(frame.shape[1]):
        column = frame.iloc[:, pos]
        if isinstance(column.dtype, pd.CategoricalDtype):  # categorical text too
            column = column.astype(object)
        mask = formula_cells(column)
        if mask is None:
            continue
        if out is frame:
            out = frame.copy()
        col = column.copy()
        col[mask] = "'" + col[mask].astype(str)
        out.isetitem(pos, col)
    renamed = ["'" + str(c) if _is_formula_text(str(c)) else c for c in out.columns]
    if renamed != list(out.columns):
        out = out.set_axis(renamed, axis=1)
    return out


def write_csv(
    frame: pd.DataFrame, path: str | Path, *, overwrite: bool = False, bom: bool = True
) -> Path:
    """Write CSV, UTF-8 with a byte-order mark by default so that Excel shows Chinese.

    Text cells a spreadsheet would run as formulas are neutralised with a leading ``'``
    (:func:`neutralise_formulas`)."""
    frame = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    header = io.StringIO()
    names = [str(c) for c in frame.columns]
    csv.writer(header, lineterminator="\n").writerow(
        ["'" + c if _is_formula_text(c) else c for c in names]
    )
    head = (b"\xef\xbb\xbf" if bom else b"") + header.getvalue().encode("utf-8")
    try:  # Arrow's writer: an order of magnitude faster than pandas on large tables
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        body = neutralise_formulas(frame).to_csv(index=False, header=False, lineterminator="\n")
        return write_bytes(head + body.encode("utf-8"), path, overwrite)
    opts = pacsv.WriteOptions(quoting_style="needed", include_header=False)

    def render(part: pa.Table) -> bytes:
        sink = io.BytesIO()
        pacsv.write_csv(_neutralise_arrow(part), sink, write_options=opts)
        return sink.getvalue()

    # Row chunks are neutralised and rendered in threads (Arrow releases the GIL) and written
    # in order, hashed on the way for the manifest in a thread of its own, beside the writes
    # (hashlib and file writes release the GIL too).
    step = 100_000
    parts = [table.slice(k, step) for k in range(0, max(len(table), 1), step)]
    digest = hashlib.sha256(head)
    with atomic_path(path, overwrite=overwrite) as tmp:
        with tmp.open("wb") as fh, ThreadPoolExecutor(max_workers=1) as hasher:
            fh.write(head)
            with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
                hashed = [
                    hasher.submit(digest.update, c) for c in _written(pool, render, parts, fh)
                ]
            for h in hashed:
                h.result()
        remember_digest(tmp, digest.hexdigest())
    return Path(path)


def _written(
    pool: ThreadPoolExecutor,
    render: Callable[[pa.Table], bytes],
    parts: list[pa.Table],
    fh: Any,
) -> Iterator[bytes]:
    """Each part rendered by ``pool``, in order, once it is written to ``fh``."""
    for chunk in pool.map(render, parts):
        fh.write(chunk)
        yield chunk


def write_xlsx(
    sheets: Mapping[str, pd.DataFrame],
    path: str | Path,
    *,
    overwrite: bool = False,
    leads: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """Write one sheet per frame (names cut to Excel's 31 characters), deterministically.

    Text cells (and headers) that a spreadsheet would run as formulas are stored as text with
    Excel's quote prefix, so that editing them keeps them text; their content is unchanged.
    ``leads``: lines above a sheet's header, by sheet name (a demonstration layer's warning).
    The writer is :func:`sxzones.xlsx.write_xlsx_file` (vectorised: about 100 times faster
    than pandas with openpyxl)."""
    from sxzones.xlsx import write_xlsx_file

    with atomic_path(path, overwrite=overwrite) as tmp:
        write_xlsx_file(sheets, tmp, leads)
    return Path(path)


def gpkg_columns(columns: list[str], geometry: str) -> dict[str, str]:
    """New names for the columns a GeoPackage cannot hold as they are: ``fid`` (any case:
    ArcGIS and QGIS exports carry one; it names the table's key) and ``geom`` beside the
    geometry become ``input_fid``, ``input_geom``; a name equal to an earlier one but for case
    (``Name`` after ``name``, from merged exports) gets ``_2``, ``_3`` (SQLite's names ignore
    case). The CSV keeps the names as they are.

    >>> gpkg_columns(["FID", "name", "Name", "geom"], "geometry")
    {'FID': 'input_FID', 'Name': 'Name_2', 'geom': 'input_geom'}
    """
    out: dict[str, str] = {}
    seen: set[str] = {geometry.lower()}
    for c in columns:
        if c == geometry:
            continue
        new = f"input_{c}" if c.lower() in ("fid", "geom", "geometry") else c
        k = 2
        while new.lower() in seen:
            new, k = f"{c}_{k}", k + 1
        seen.add(new.lower())
        if new != c:
            out[c] = new
    return out


def _write_layer(
    frame: gpd.GeoDataFrame, path: Path, name: str, metadata: Mapping[str, str] | None = None
) -> None:
    """One layer into a GeoPackage through Arrow (2-3 times faster), or feature by feature
    when Arrow cannot hold a column (mixed Python objects). Columns a GeoPackage cannot hold
    as named are renamed (:func:`gpkg_columns`). ``metadata``: the layer's metadata items
    (GDAL keeps them in ``gpkg_metadata``; ``DESCRIPTION`` is ``gpkg_contents.description``)."""
    if renamed := gpkg_columns([str(c) for c in frame.columns], str(frame.geometry.name)):
        frame = frame.rename(columns=renamed)
    kw: dict[str, Any] = {"layer": name, "driver": "GPKG", "SPATIAL_INDEX": "YES"}
    if metadata:
        kw["layer_metadata"] = dict(metadata)
    try:
        pyogrio.write_dataframe(frame, path, append=path.exists(), use_arrow=True, **kw)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pyogrio.write_dataframe(frame, path, append=path.exists(), **kw)


def write_gpkg(
    layers: Mapping[str, gpd.GeoDataFrame] | gpd.GeoDataFrame,
    path: str | Path,
    *,
    overwrite: bool = False,
    layer: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write one or more layers to a GeoPackage atomically, with pinned timestamps;
    ``metadata``: metadata items of every layer written (:func:`_write_layer`; read back by
    ``pyogrio.read_info(path, layer=...)["layer_metadata"]``)."""
    items = {layer or Path(path).stem: layers} if isinstance(layers, gpd.GeoDataFrame) else layers
    with (
        atomic_path(path, overwrite=overwrite) as tmp,
        gdal_options({"OGR_CURRENT_DATE": _FIXED_DATE}),
    ):
        for name, frame in items.items():
            try:
                _write_layer(frame, tmp, name, metadata)
            except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
                # GDAL says "database or disk is full" (or similar) without an errno
                free = shutil.disk_usage(Path(tmp).parent).free
                why = "No space left on device" if free < (1 << 20) else str(exc).splitlines()[0]
                raise OutputError(
                    f"cannot write {path}: {why}. Fix: free some space or choose a folder on "
                    "another disk"
                    if free < (1 << 20)
                    else f"cannot write {path}: GDAL could not finish the file ({why}); a "
                    "full disk, a quota or a file-size limit stops it so. Fix: check the "
                    "folder's free space and limits, or choose another folder, and try again"
                ) from exc
    return Path(path)


#: From this many rows, :func:`gpkg_in_child` writes a GeoPackage in a forked process: GDAL
#: then writes on one core while the run's other files are written on the other. Below it, the
#: fork (tens of milliseconds for a large process) is not worth it.
FORK_MIN_ROWS = 50_000


def can_fork() -> bool:
    """Whether writers may run in a forked copy of this process: on Linux (macOS frameworks
    are not safe after a fork, and Windows has none), and when called on the main thread. A
    run on another thread (a web server's worker) may have threads beside it inside GDAL,
    whose locks a child would find held for ever; the CLI and a script run on the main
    thread, where the only other thread is the run's own input hashing."""
    return (
        sys.platform == "linux"
        and hasattr(os, "fork")
        and threading.current_thread() is threading.main_thread()
    )


class ChildJob:
    """A job run by a forked copy of this process; :meth:`result` waits for it.

    pyogrio holds the GIL for the whole of a GeoPackage write (a pure-Python thread beside it
    runs at half speed, and the XLSX writer's many short Arrow and zlib calls stall behind
    it), so a thread cannot overlap it with the other writers. A forked child can: it shares
    the parent's memory (copy on write), needs no imports and no copy of the data, and
    reports back through a pipe. The job must leave its result on disk (an atomic write) and
    return something small: its return value, or the exception it raised, is pickled back.

    Fork only where no other thread of this process is inside GDAL or holds a lock the job
    needs: before the run's writer threads start (the input hashing thread may run; it only
    reads files). The child leaves with ``os._exit``, so neither the parent's ``atexit``
    handlers nor its buffered output run twice.

    Examples
    --------
    >>> job = ChildJob(lambda: 6 * 7)
    >>> job.result()
    42
    """

    def __init__(self, job: Callable[[], Any]) -> None:
        read, write = os.pipe()
        try:
            with warnings.catch_warnings():  # Python 3.12+ warns of a fork with threads alive
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            raise
        if pid == 0:  # the child: run the job, send its outcome, leave at once
            os.close(read)
            _run_child(job, write)
        os.close(write)
        self.pid: int | None = pid
        self._read = read

    def result(self) -> Any:
        """Wait for the child; return the job's value or raise its exception."""
        if self.pid is None:
            raise RuntimeError("the child's result was taken already")
        try:
            with os.fdopen(self._read, "rb") as fh:
                data = fh.read()
            _, status = os.waitpid(self.pid, 0)
        except BaseException:
            self.cancel()
            raise
        self.pid = None
        if not data:
            why = (
                f"it was stopped by signal {os.WTERMSIG(status)}"
                if os.WIFSIGNALED(status)
                else f"it exited with status {os.waitstatus_to_exitcode(status)}"
            )
            raise OutputError(
                f"the process writing an output ended without finishing ({why}); a lack of "
                "memory stops it so. Fix: free some memory, or write fewer formats (--format)"
            )
        ok, value = pickle.loads(data)
        if ok:
            return value
        raise value

    def cancel(self) -> None:
        """Stop the child and reap it (after an error or an interrupt in the parent)."""
        if self.pid is None:
            return
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.waitpid(self.pid, 0)
        with contextlib.suppress(OSError):
            os.close(self._read)
        self.pid = None


def _run_child(job: Callable[[], Any], write: int) -> NoReturn:
    """The forked child's whole life: run ``job``, pickle its outcome into ``write``, exit."""
    code = 1
    try:
        try:
            outcome: tuple[bool, Any] = (True, job())
        except BaseException as exc:  # every outcome goes back to the parent
            outcome = (False, exc)
        try:
            data = pickle.dumps(outcome)
        except Exception as exc:  # an unpicklable value or exception
            data = pickle.dumps((False, OutputError(f"{outcome[1]!r} ({exc})")))
        with os.fdopen(write, "wb") as fh:
            fh.write(data)
        code = 0
    finally:
        os._exit(code)


def gpkg_in_child(
    frame: gpd.GeoDataFrame,
    path: Path,
    *,
    layer: str,
    min_rows: int | None = None,
    metadata: Mapping[str, str] | None = None,
) -> ChildJob | None:
    """Start writing ``frame`` as a one-layer GeoPackage (:func:`write_gpkg`, same bytes) in a
    forked process, or return None when it is too small for that to pay (``min_rows``, by
    default :data:`FORK_MIN_ROWS`), this process may not fork (:func:`can_fork`) or the fork
    fails (a process of many GB where the kernel will not promise the memory of a copy):
    then write it on a thread."""
    if len(frame) < (FORK_MIN_ROWS if min_rows is None else min_rows) or not can_fork():
        return None
    try:
        return ChildJob(
            lambda: write_gpkg(frame, path, overwrite=True, layer=layer, metadata=metadata)
        )
    except OSError:  # no memory to account a copy of a very large process: on a thread
        return None


def refuse_inputs(targets: list[Path], inputs: list[Path]) -> None:
    """Refuse outputs that would replace one of the run's inputs: ``--overwrite`` replaces
    earlier outputs, never the data a run reads (a firm list named ``firm_zones.csv`` in the
    ``--out`` folder was replaced by the screen of itself)."""
    for t in targets:
        for i in inputs:
            try:
                same = t.exists() and os.path.samefile(t, i)
            except OSError:
                same = False
            if same:
                raise OutputError(
                    f"the output {t} would replace the run's input {i}. Fix: choose another "
                    "--out folder (or output path), or move the input"
                )


# --- one run, one set of files ---------------------------------------------------------------

LOCK_NAME = ".sxzones.lock"
#: Errors that only writing raises: reported as such (the file and the fix), not as a crash.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}
STAGING_PREFIX = ".sxzones-staging-"
MANIFEST_NAME = "manifest.json"
_REPLACES = ".replaces.json"


#: SHA-256 digests known without reading the file again: computed while it was written (or
#: hashed ahead in another thread), keyed by the file's identity and state (device, inode,
#: size, modification time in ns), which a rename keeps and any change alters.
_DIGESTS: dict[tuple[int, int, int, int], str] = {}
_DIGESTS_LOCK = threading.Lock()


def _identity(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


#: Digests kept at most (a long-running server writes many files): the oldest go first.
_DIGESTS_MAX = 4096


def _keep_digest(key: tuple[int, int, int, int], digest: str) -> None:
    with _DIGESTS_LOCK:
        _DIGESTS[key] = digest
        while len(_DIGESTS) > _DIGESTS_MAX:
            del _DIGESTS[next(iter(_DIGESTS))]


def remember_digest(path: Path, digest: str) -> None:
    """Record the SHA-256 of ``path`` as it is now (its writer hashed what it wrote)."""
    _keep_digest(_identity(path), digest)


def run_id(manifest: Mapping[str, Any]) -> str:
    """A manifest's ``run_id``: the first 16 hex digits of the SHA-256 of the manifest with
    its ``run_id`` blank (keys sorted): the same inputs, files and options, the same id."""
    text = json.dumps({**manifest, "run_id": ""}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, as the manifest records it (kept for the file as it is:
    device, inode, size and modification time; a writer that hashed what it wrote leaves
    its digest here, :func:`remember_digest`)."""
    return _sha256(path)


def _sha256(path: Path) -> str:
    key = _identity(path)
    with _DIGESTS_LOCK:
        known = _DIGESTS.get(key)
    if known is not None:
        return known
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)  # releases the GIL: other threads work meanwhile
    digest = h.hexdigest()
    _keep_digest(key, digest)
    return digest


def layer_files(path: Path) -> list[Path]:
    """The files a layer at ``path`` is read from, by name: a shapefile's sidecars (the
    ``.dbf`` holds its fields), a File Geodatabase folder's files, else the file itself
    (none when ``path`` is neither a file nor a folder: an input held in memory)."""
    from sxzones.layers.cache import _files  # the layer cache's key covers the same files

    if not (path.is_file() or path.is_dir()):
        return []
    return [f for f in _files(path) if f.is_file()]


def files_digest(path: Path, files: Sequence[Mapping[str, Any]]) -> str:
    """The SHA-256 of a layer of several files: of the lines ``<sha256>  <name>`` (``name``
    relative to the layer's folder, ``/``-separated), sorted by name, each ending in a
    newline: what ``sha256sum`` prints for those files, run in that folder (e.g.
    ``sha256sum 建成区.dbf 建成区.prj 建成区.shp 建成区.shx | sha256sum``).

    >>> files = [{"file": "b.dbf", "sha256": "01"}, {"file": "a.shp", "sha256": "02"}]
    >>> files_digest(Path("a.shp"), files)[:12]
    '4e1cde97d55e'
    """
    names = [
        Path(f["file"]).relative_to(path).as_posix() if path.is_dir() else Path(f["file"]).name
        for f in files
    ]
    lines = sorted(zip(names, (str(f["sha256"]) for f in files), strict=True))
    text = "".join(f"{digest}  {name}\n" for name, digest in lines)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_ahead(paths: list[Path]) -> threading.Thread:
    """Hash input files for the manifest in a background thread (hashing releases the GIL,
    so it overlaps the run instead of adding to its end); returns the thread."""

    def run() -> None:
        for p in paths:
            with contextlib.suppress(OSError):
                for f in layer_files(p):  # a shapefile's sidecars too
                    _sha256(f)

    t = threading.Thread(target=run, name="sxzones-hash-inputs", daemon=True)
    t.start()
    return t


def _prepare_folder(out: Path) -> bool:
    """Make the output folder, or say clearly why it cannot be one; whether it was made."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file, not a folder. Fix: choose a folder")
    made = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot make the output folder {out}: {exc.strerror or exc}. "
            "Fix: choose a folder you may write in"
        ) from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(
            f"cannot write in the output folder {out}: permission denied. "
            "Fix: choose a folder you may write in"
        )
    return made


def _read_lock(path: Path) -> tuple[int, str]:
    try:
        text = path.read_text(encoding="utf-8").split()
        return int(text[0]), text[1] if len(text) > 1 else ""
    except (OSError, ValueError, IndexError):
        return 0, ""


def acquire_lock(out: Path) -> Path:
    """Take ``out``'s lock file (created exclusively, holding this process's id and host);
    a lock left by a process that no longer runs is taken over.

    Raises
    ------
    OutputError
        Another run on this machine (or on another host) holds the folder.
    """
    path = out / LOCK_NAME
    me = f"{os.getpid()} {socket.gethostname()}\n"
    for _ in range(5):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            pid, host = _read_lock(path)
            if pid == 0:  # being written this instant, or garbage: look again shortly
                time.sleep(0.05)
                pid, host = _read_lock(path)
            foreign = bool(host) and host != socket.gethostname()
            if foreign or pid_alive(pid):
                raise OutputError(
                    f"{out} is being written by another sxzones run (process {pid}"
                    f"{' on ' + host if foreign else ''}; lock file {path}). Fix: wait for it "
                    "to finish or choose another --out folder; if no such run is going on, "
                    "delete the lock file"
                ) from None
            # stale: move it aside under a unique name (atomic), then retry the exclusive create
            grave = path.with_name(f"{LOCK_NAME}.stale-{os.getpid()}")
            try:
                os.replace(path, grave)
            except FileNotFoundError:
                continue
            grave.unlink(missing_ok=True)
            continue
        except OSError as exc:
            raise OutputError(
                f"cannot write in the output folder {out}: {exc.strerror or exc}. "
                "Fix: choose a folder you may write in"
            ) from exc
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(me)
        return path
    raise OutputError(f"could not take the lock {path}. Fix: try again")


def release_lock(path: Path) -> None:
    """Remove our lock file (only if it is still ours)."""
    if _read_lock(path)[0] == os.getpid():
        path.unlink(missing_ok=True)


def _own_name(name: str) -> bool:
    """A manifest's file name is used only if it is a plain name inside the folder."""
    return bool(name) and name == Path(name).name and name not in (".", "..", LOCK_NAME)


class Publication:
    """One run's outputs: staged, then published together, with a manifest written last.

    Files are written into a hidden staging folder inside ``out`` (files outside ``out``,
    such as maps and figures, too); :meth:`publish` moves them into place one by one, removes
    the files the previous run listed that this run does not write (its reports), and writes
    ``manifest.json`` last. A lock file refuses a second run into the same folder while this
    one works. On entry, leftovers of a run that was killed are cleaned: a staging folder that
    was complete (its manifest written) is published, one that was not is removed, and
    hidden temporary files of dead writers are deleted. So a killed run leaves the previous
    set of files, or (after the next run starts) its own complete set, never a mix.

    Parameters
    ----------
    out
        The output folder.
    analysis
        The analysis name, written into the manifest.
    names
        The files the run writes in ``out``; existing ones are refused unless ``overwrite``.
    external
        Files written outside ``out`` (maps, figures); the same rule.
    overwrite
        Replace files that exist, and remove the files of the previous run in ``out``.
    owned
        Glob patterns of files in ``out`` that runs of this analysis write (``report-*.html``):
        refused like ``names``, and removed on overwrite even without a manifest.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> folder = Path(tempfile.mkdtemp()) / "out"
    >>> with Publication(folder, "demo", ["t.csv"]) as pub:
    ...     _ = write_csv(pd.DataFrame({"a": [1, 2]}), pub.stage("t.csv", rows=2))
    ...     written = pub.publish()
    >>> sorted(p.name for p in folder.iterdir())
    ['manifest.json', 't.csv']
    """

    def __init__(
        self,
        out: str | Path,
        analysis: str,
        names: list[str],
        *,
        external: list[Path | None] | None = None,
        overwrite: bool = False,
        owned: tuple[str, ...] = (),
    ) -> None:
        self.out = Path(out)
        self.analysis = analysis
        self.names = list(names)
        self.external = [Path(p) for p in external or [] if p is not None]
        self.overwrite = overwrite
        self.owned = owned
        self.inputs: list[dict[str, Any]] = []
        #: the options that change what the outputs mean, for the manifest (none: no key)
        self.options: dict[str, Any] = {}
        self.staging = self.out / f"{STAGING_PREFIX}{os.getpid()}"
        self._rows: dict[str, int] = {}
        self._ext_dirs: dict[Path, Path] = {}
        self._ext_given: dict[Path, tuple[str, list[str]]] = {}
        self._lock: Path | None = None
        self._published = False
        self._made = False
        #: the previous run's files in ``out`` that this one did not write, removed by
        #: :meth:`publish` (with ``overwrite``): for the run to say so
        self.removed: list[Path] = []

    # -- entering: folder, lock, leftovers, targets
    def __enter__(self) -> Publication:
        self._made = _prepare_folder(self.out)
        self._lock = acquire_lock(self.out)
        try:
            self._recover()
            self._check()
            self.staging.mkdir()
        except BaseException:
            self._close(failed=True)
            raise
        return self

    def _recover(self) -> None:
        for leftover in sorted(self.out.glob(STAGING_PREFIX + "*")):
            if leftover.is_dir() and (leftover / MANIFEST_NAME).is_file():
                _finish(self.out, leftover)  # a killed run had staged everything: publish
            shutil.rmtree(leftover, ignore_errors=True)
        clean_stale_temps(self.out)
        for name in self.names:  # temporary files of older versions had no process id
            stem, suffix = Path(name).stem, Path(name).suffix
            old = re.compile(rf"^\.{re.escape(stem)}\.[a-z0-9_]{{8}}{re.escape(suffix)}$")
            for path in self.out.iterdir():
                if old.match(path.name) and path.is_file():
                    path.unlink(missing_ok=True)
        for path in self.external:
            clean_stale_temps(path.parent, path.stem)

    def _check(self) -> None:
        if self.overwrite:
            return
        taken = [self.out / n for n in self.names]
        for pattern in self.owned:
            taken += sorted(self.out.glob(pattern))
        check_targets(taken, False)
        check_targets(self.external, False, where="path")

    # -- while the run works
    def stage(self, name: str, *, rows: int | None = None) -> Path:
        """The path to write output ``name`` (a file in ``out``) to; ``rows``: its row count,
        for the manifest."""
        if not _own_name(name):
            raise OutputError(f"output name {name!r} is not a plain file name")
        if rows is not None:
            self._rows[name] = int(rows)
        return self.staging / name

    def stage_external(self, path: str | Path) -> Path:
        """The path to write a file that belongs outside ``out`` (a map, a figure) to; it is
        moved to ``path`` when the run is published. Files written beside it (a figure's PDF)
        go to ``path``'s folder too."""
        dest = Path(path)
        folder = self._ext_dirs.get(dest.parent.resolve())
        if folder is None:
            folder = self.staging / f"external-{len(self._ext_dirs)}"
            folder.mkdir()
            (folder / ".destination").write_text(str(dest.parent.resolve()), encoding="utf-8")
            self._ext_dirs[dest.parent.resolve()] = folder
            self._ext_given[folder] = (str(dest.parent), [])
        self._ext_given[folder][1].append(dest.name)
        return folder / dest.name

    def add_input(self, role: str, name: str, path: Path | None, **counts: Any) -> None:
        """Record an input of the run, its file(s) hashed for the manifest: one file gives
        ``file``, ``size`` and ``sha256``; a layer of several files (a shapefile's
        ``.shp``, ``.shx``, ``.dbf``, ``.prj``, ``.cpg`` ...; a File Geodatabase folder)
        gives ``file`` (the path as given), ``files`` (each file's ``file``, ``size`` and
        ``sha256``, by name) and ``sha256_of_files`` (:func:`files_digest` of them)."""
        entry: dict[str, Any] = {"role": role, "name": name}
        parts = layer_files(Path(path)) if path is not None else []
        if len(parts) == 1 and parts[0] == Path(path or ""):
            entry |= {"file": str(path), "size": parts[0].stat().st_size}
            entry["sha256"] = _sha256(parts[0])
        elif parts:
            files = [
                {"file": str(f), "size": f.stat().st_size, "sha256": _sha256(f)} for f in parts
            ]
            entry |= {"file": str(path), "files": files}
            entry["sha256_of_files"] = files_digest(Path(path or ""), files)
        self.inputs.append(entry | counts)

    # -- publishing
    def publish(self) -> list[Path]:
        """Move every staged file into place and write the manifest last.

        Returns
        -------
        list of Path
            The published files, outputs in ``out`` in the order staged, then external ones.
        """
        files = [p for p in sorted(self.staging.iterdir()) if p.is_file() and p.name[0] != "."]
        order = {n: k for k, n in enumerate(self.names)}
        files.sort(key=lambda p: (order.get(p.name, len(order)), p.name))
        keep = {p.name for p in files}
        inside = self._ext_dirs.get(self.out.resolve())  # a map or figure put in ``out``
        if inside is not None:
            keep |= {p.name for p in inside.iterdir() if p.name != ".destination"}
        refuse_inputs(
            [self.out / p.name for p in files]
            + [Path(self._ext_given[f][0]) / n for f in self._ext_dirs.values() for n in
               self._ext_given[f][1]],
            [Path(f["file"]) for e in self.inputs for f in e.get("files", [e]) if "file" in f],
        )  # fmt: skip
        previous = _previous_files(self.out, self.owned, keep) if self.overwrite else []
        with ThreadPoolExecutor(max_workers=2) as pool:  # hashing releases the GIL
            entries = list(pool.map(lambda p: _describe(p, p.name, self._rows.get(p.name)), files))
        ext: list[dict[str, Any]] = []
        for folder in self._ext_dirs.values():
            given, asked = self._ext_given[folder]
            rank = {n: k for k, n in enumerate(asked)}
            staged = [p for p in folder.iterdir() if p.name != ".destination"]
            staged.sort(key=lambda p: (rank.get(p.name, len(rank)), p.name))
            ext += [_describe(p, str(Path(given) / p.name), None) for p in staged]
        names = {e["name"] for e in entries}
        doc = {
            "sxzones": _version(),
            "analysis": self.analysis,
            "run_id": "",
            **({"options": self.options} if self.options else {}),
            "inputs": self.inputs,
            "files": entries,
            "external_files": ext,
        }
        doc["run_id"] = run_id(doc)
        # what to remove of the previous run: kept beside the staged manifest (not in it, so
        # the same command gives the same manifest whatever the folder held before)
        replaces = sorted(n for n in previous if n not in names)
        self.removed = [self.out / n for n in replaces]
        write_json(replaces, self.staging / _REPLACES, overwrite=True)
        write_json(doc, self.staging / MANIFEST_NAME, overwrite=True)  # staged complete
        _finish(self.out, self.staging)
        self._published = True
        return [self.out / e["name"] for e in entries] + [Path(e["name"]) for e in ext]

    @property
    def manifest(self) -> Path:
        return self.out / MANIFEST_NAME

    def _close(self, failed: bool) -> None:
        """Remove the staging folder and the lock; after a failure, also the output folder
        if this run made it (so a failed run leaves nothing)."""
        try:
            if self.staging.exists():
                shutil.rmtree(self.staging, ignore_errors=True)
        finally:
            if self._lock is not None:
                release_lock(self._lock)
                self._lock = None
        if failed and self._made:
            with contextlib.suppress(OSError):
                self.out.rmdir()  # only if empty

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        staged = {str(f): given for f, (given, _) in self._ext_given.items()}
        self._close(failed=exc is not None or not self._published)
        if isinstance(exc, OutputError):
            text = str(exc)
            for folder, given in staged.items():  # name the file the user asked for
                text = text.replace(folder, given)
            text = text.replace(str(self.staging), str(self.out))
            if text != str(exc):
                raise OutputError(text) from exc
        elif isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
            raise write_error(Path(exc.filename or self.out), exc) from exc


def _version() -> str:
    from sxzones import __version__

    return __version__


def _describe(path: Path, name: str, rows: int | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "size": path.stat().st_size, "sha256": _sha256(path)}
    if rows is not None:
        entry["rows"] = rows
    return entry


def _previous_files(out: Path, owned: tuple[str, ...], keep: set[str]) -> list[str]:
    """The files of ``out`` that the previous run wrote and this one does not (``keep``):
    those its manifest lists, if still exactly as it wrote them (same SHA-256: a file edited
    since, or named by a manifest that is not ours, stays), and those matching the analysis's
    own patterns (``report-*.html``)."""
    names: set[str] = set()
    try:
        doc = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
        listed = {str(f.get("name", "")): f.get("sha256") for f in doc.get("files", [])}
        listed = _external_inside(doc.get("external_files", [])) | listed
    except (OSError, ValueError, AttributeError, TypeError):
        listed = {}
    for name, digest in listed.items():
        path = out / name
        if name in keep or not _own_name(name) or not path.is_file():
            continue
        if _sha256(path) == digest:
            names.add(name)
    for pattern in owned:
        names |= {p.name for p in out.glob(pattern) if p.is_file()}
    return sorted(n for n in names - keep if _own_name(n) and n != MANIFEST_NAME)


def _external_inside(listed: list[dict[str, Any]]) -> dict[str, Any]:
    """The previous run's maps and figures (``external_files``, paths as given): name ->
    SHA-256. One of them still in ``out`` with those very bytes (the run put it there, or
    the folder was copied with it) is that run's, and goes when this one does not write it
    (audit 11 E6)."""
    return {Path(str(f.get("name", ""))).name: f.get("sha256") for f in listed}


def _finish(out: Path, staging: Path) -> None:
    """Publish a complete staging folder: files bound for another file system are first
    copied beside their destination (where a full disk shows, before anything is replaced);
    then the old manifest goes (a folder without one is not a finished set), every file is
    renamed into place, the previous run's other files are removed, and the manifest comes
    last."""
    try:
        replaces = json.loads((staging / _REPLACES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        replaces = []
    moves = [(p, out / p.name) for p in sorted(staging.iterdir()) if p.is_file()]
    moves = [m for m in moves if m[0].name != MANIFEST_NAME and m[0].name[0] != "."]
    ready: list[Path] = []
    try:
        for folder in sorted(staging.iterdir()):
            if folder.is_dir() and (folder / ".destination").is_file():
                dest = Path((folder / ".destination").read_text(encoding="utf-8"))
                for f in sorted(folder.iterdir()):
                    if f.name != ".destination":
                        moves.append((_beside(f, dest / f.name, ready), dest / f.name))
    except BaseException:
        for tmp in ready:
            tmp.unlink(missing_ok=True)
        raise
    (out / MANIFEST_NAME).unlink(missing_ok=True)
    for src, dest in moves:
        os.replace(src, dest)
    for name in replaces if isinstance(replaces, list) else []:
        if _own_name(str(name)) and (out / name).is_file():
            (out / name).unlink()
    os.replace(staging / MANIFEST_NAME, out / MANIFEST_NAME)


def _beside(src: Path, dest: Path, made: list[Path]) -> Path:
    """``src`` itself when it can be renamed onto ``dest`` (same file system), else a copy in
    a hidden temporary file beside ``dest`` (appended to ``made``)."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if os.stat(src).st_dev == os.stat(dest.parent).st_dev:
            # may we write there? asked before anything is moved, or a read-only folder for
            # the map would stop the publication half done (tables in place, no manifest)
            fd, probe = tempfile.mkstemp(prefix=f".{dest.stem}.{os.getpid()}.", dir=dest.parent)
            os.close(fd)
            os.unlink(probe)
            return src
        fd, name = tempfile.mkstemp(
            prefix=f".{dest.stem}.{os.getpid()}.", suffix=dest.suffix, dir=dest.parent
        )
        os.close(fd)
        made.append(Path(name))
        shutil.copyfile(src, name)
    except OSError as exc:
        raise write_error(dest, exc) from exc
    return Path(name)
