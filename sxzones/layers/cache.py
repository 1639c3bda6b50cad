"""A disk cache of validated catalogue layers, so that a cold ``sxzones check`` does not read
and validate the same layers again (about 0.5 s of its start).

A layer is cached under a key made of the SHA-256 of its file(s) (a shapefile's sidecar
files too), the catalogue entry as parsed (path, role, CRS, fields, values, filter,
provenance ...), the working CRS, the study area and the sxzones version: a change to any of
them gives another key, so the layer is read and validated again. Entries are pickles of the
validated GeoDataFrame and its :class:`LayerReport` (geometries as WKB), written atomically;
an entry that cannot be read is ignored and rewritten.

Where: ``$SXZONES_CACHE`` (a folder; ``off`` disables the cache), else
``$XDG_CACHE_HOME/sxzones/layers``, else ``~/.cache/sxzones/layers``. The folder is the user's
own, like their layer files: only sxzones writes there.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import geopandas as gpd

    from sxzones.layers.validate import LayerReport

__all__ = ["cache_dir", "cached_load", "cached_transformer", "layer_key"]

#: Bumped when what is stored changes.
_FORMAT = 1
_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")


def cache_dir() -> Path | None:
    """The cache folder, or None when ``SXZONES_CACHE=off``."""
    env = os.environ.get("SXZONES_CACHE", "").strip()
    if env.lower() in ("off", "0", "no", "false"):
        return None
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sxzones" / "layers"


def _files(path: Path) -> list[Path]:
    """The files a layer is read from: a shapefile's sidecars, a File Geodatabase folder's
    files, or the file itself."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    if path.suffix.lower() == ".shp":
        return sorted(
            p for p in path.parent.glob(path.stem + ".*") if p.suffix.lower() in _SIDECARS
        )
    return [path]


def _digest(path: Path) -> str:
    """SHA-256 of the file's content (every time: a file rewritten within the file system's
    time resolution keeps its modification time)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@functools.cache
def _code_digest() -> str:
    """SHA-256 of sxzones' own source files: a layer validated by other code (a checkout
    pulled, a fix installed without a new version number) is validated again, not served
    from the cache as the old code left it. About 5 ms, once per process."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for f in sorted(root.rglob("*.py")):
        h.update(f.relative_to(root).as_posix().encode() + b"\n" + f.read_bytes())
    return h.hexdigest()


def layer_key(path: Path, *parts: Any) -> str:
    """The cache key of a layer read from ``path`` with the settings ``parts`` (their
    ``repr``): SHA-256 over the file contents, the settings, the sxzones version and its
    code."""
    from sxzones import __version__

    h = hashlib.sha256(f"sxzones {__version__} {_code_digest()} cache {_FORMAT}\n".encode())
    for f in _files(path):
        h.update(f"{f.name}:{_digest(f)}\n".encode())
    for part in parts:
        h.update(repr(part).encode("utf-8") + b"\n")
    return h.hexdigest()


def cached_load(
    path: Path,
    parts: tuple[Any, ...],
    load: Callable[[], tuple[gpd.GeoDataFrame, LayerReport]],
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """``load()``, or what it returned before for the same file contents and ``parts``."""
    folder = cache_dir()
    if folder is None:
        return load()
    key = layer_key(path, *parts)
    entry = folder / f"{key}.pickle"
    try:
        with entry.open("rb") as fh:
            stored_key, frame, report = pickle.load(fh)  # the user's own cache folder
        if stored_key == key:
            return frame, report
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError):
        pass  # no entry, or one an older version wrote: read and validate again
    frame, report = load()
    _store(entry, (key, frame, report))
    return frame, report


def _store(entry: Path, value: tuple[Any, ...]) -> None:
    """Write an entry atomically; a cache that cannot be written is no error."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{entry.stem[:16]}.", dir=entry.parent)
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, entry)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _proj_stamp() -> list[Any]:
    """What PROJ's choice of a transformation depends on besides the two CRSs: the versions,
    the database and the grid files it can see, and whether it may fetch grids."""
    import pyproj

    dirs = [Path(pyproj.datadir.get_data_dir()), Path(pyproj.datadir.get_user_data_dir())]
    seen = []
    for d in dirs:
        with contextlib.suppress(OSError):
            seen += sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in d.iterdir())
    return [
        pyproj.__version__,
        pyproj.proj_version_str,
        pyproj.network.is_network_enabled(),
        [str(d) for d in dirs],
        seen,
    ]


def cached_transformer(src_wkt: str, dst_wkt: str) -> Any:
    """``Transformer.from_crs(src, dst, always_xy=True)``, whose search of PROJ's database
    costs about 65 ms of a cold single check, kept as its pipeline text in the cache folder
    (``transforms/``): the same pipeline, so the same coordinates to the bit. Only a pair with
    a single candidate operation is kept (where PROJ would choose among several by place, the
    search is made every time); the key holds the CRSs and :func:`_proj_stamp`."""
    from pyproj import CRS, Transformer
    from pyproj.transformer import TransformerGroup

    def search() -> Any:
        return Transformer.from_crs(CRS.from_wkt(src_wkt), CRS.from_wkt(dst_wkt), always_xy=True)

    folder = cache_dir()
    if folder is None:
        return search()
    stamp = repr([_FORMAT, src_wkt, dst_wkt, _proj_stamp()]).encode("utf-8")
    entry = folder / "transforms" / (hashlib.sha256(stamp).hexdigest() + ".txt")
    with contextlib.suppress(OSError, UnicodeDecodeError):
        text = entry.read_text(encoding="utf-8")
        if text == "several":
            return search()
        with contextlib.suppress(Exception):  # a damaged entry: search again, rewrite it
            return Transformer.from_pipeline(text)
    group = TransformerGroup(CRS.from_wkt(src_wkt), CRS.from_wkt(dst_wkt), always_xy=True)
    single = len(group.transformers) == 1 and not group.unavailable_operations
    found = search()
    _store_text(entry, found.definition if single else "several")
    return found


def _store_text(entry: Path, text: str) -> None:
    """Write ``text`` to ``entry`` atomically; a cache that cannot be written is no error."""
    with contextlib.suppress(OSError):
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, entry)
