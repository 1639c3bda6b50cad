"""What the server loads once at start and shares, read-only, between requests.

The catalogue's layers are read and validated once (:class:`PreloadedCatalog`); each request
gets its own copy of a frame, so that no request can change what another one sees. Each
request works in its own folder under the server's temporary folder; only the most recent
results are kept (for their downloads), and the whole folder goes when the server stops
(:meth:`ServeState.close`: the application's lifespan, and ``sxzones serve`` on Ctrl-C or
SIGTERM). The folder is named after the server's process id
(``sxzones-serve-<pid>-<random>``): a server starting removes the folders of servers that are
no longer running (killed with SIGKILL, or by the machine's shutdown), never another running
server's (:func:`sweep_stale`).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import orjson
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from sxzones.analyses.site_check import SiteLayers
from sxzones.errors import SxzonesError
from sxzones.layers import Catalog, LayerReport, load_catalog
from sxzones.rules import RuleSet, load_rules
from sxzones.serve.uploads import Limits

__all__ = [
    "PREFIX",
    "Job",
    "PreloadedCatalog",
    "ServeState",
    "make_root",
    "open_state",
    "sweep_stale",
]

#: Columns of the layers drawn on the site check's map.
SHOWN = {
    "control_units": ["unit_code", "unit_name", "unit_type"],
    "redline": ["redline_id", "name"],
}
#: Results kept for download (older ones are removed), and for how long (seconds).
KEEP_JOBS = 64
KEEP_SECONDS = 4 * 3600.0
#: How a server's temporary folder is named: this, its process id, ``-``, a random part.
PREFIX = "sxzones-serve-"
_OWNED = re.compile(rf"^{PREFIX}(\d+)-[a-z0-9_]+$")


def _running(pid: int) -> bool:
    """Whether a process ``pid`` exists (of any user: one not ours may not be signalled)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, and is another user's
        return True
    return True


def sweep_stale(tmp: Path | None = None) -> list[Path]:
    """Remove the temporary folders that servers which are no longer running left in
    ``tmp`` (default: the system's temporary folder): a server killed with SIGKILL (or by
    the machine's shutdown) cannot remove its own. Only folders named ``sxzones-serve-<pid>-
    <random>`` of this user whose process ``<pid>`` does not exist go; a running server's
    folder, another user's, and folders named otherwise (by earlier versions: their owner
    cannot be told) stay. Returns the folders removed. POSIX only: on Windows ``os.kill``
    would end the process it asks about, so nothing is removed there."""
    base = Path(tmp or tempfile.gettempdir())
    gone: list[Path] = []
    if os.name != "posix":
        return gone
    try:
        entries = list(base.glob(f"{PREFIX}*"))
    except OSError:
        return gone
    for folder in entries:
        m = _OWNED.match(folder.name)
        if m is None or int(m.group(1)) == os.getpid() or _running(int(m.group(1))):
            continue
        try:
            if not folder.is_dir() or folder.is_symlink() or folder.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        gone.append(folder)
    return gone


def make_root() -> Path:
    """A new server's temporary folder (``sxzones-serve-<pid>-<random>``), after removing
    those of servers no longer running (:func:`sweep_stale`)."""
    sweep_stale()
    return Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))


@dataclass(frozen=True)
class PreloadedCatalog(Catalog):
    """A catalogue whose layers were loaded once; :meth:`load` returns a copy of the frame
    (the geometries themselves are immutable) and of the report."""

    frames: dict[str, tuple[gpd.GeoDataFrame, LayerReport]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def of(cls, cat: Catalog) -> PreloadedCatalog:
        """Load every layer of ``cat``."""
        base = {f.name: getattr(cat, f.name) for f in dataclasses.fields(Catalog)}
        pre = cls(**base)
        for name in cat.entries:
            pre.frames[name] = Catalog.load(cat, name)
        return pre

    def load(self, name: str) -> tuple[gpd.GeoDataFrame, LayerReport]:
        if name not in self.frames:
            return super().load(name)
        frame, report = self.frames[name]
        return frame.copy(), copy.copy(report)


#: Tolerance (metres of the working CRS) of the layers' outlines drawn on the map.
SHOWN_TOLERANCE_M = 5.0


@functools.cache
def to_wgs84(crs: CRS) -> Transformer:
    """A transformer to WGS84 longitude and latitude, made once per CRS."""
    return Transformer.from_crs(crs, 4326, always_xy=True)


def features(
    geoms: Any, columns: dict[str, Any], crs: CRS, rows: Any, tolerance_m: float
) -> list[dict[str, Any]]:
    """GeoJSON features (dicts) of the rows at positions ``rows`` in WGS84, with ``columns``
    (name -> array) as properties (geometries simplified by ``tolerance_m`` metres of the
    working CRS, for display only)."""
    part = geoms[rows]
    if tolerance_m:
        part = shapely.simplify(part, tolerance_m, preserve_topology=True)
    tr = to_wgs84(crs)
    part = shapely.transform(part, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    return [
        {
            "type": "Feature",
            "properties": {c: v[r] for c, v in columns.items()},
            "geometry": json.loads(shapely.to_geojson(g)),
        }
        for r, g in zip(rows, part, strict=True)
    ]


@dataclass(frozen=True)
class Shown:
    """A layer as the pages draw it: some columns as plain arrays, and each row as a GeoJSON
    feature in WGS84 (outline simplified by :data:`SHOWN_TOLERANCE_M`), encoded as JSON once
    from the loaded frame, so that a request picks a few rows without pandas, geometry or
    encoding (a control unit's outline is most of a site check's answer)."""

    columns: dict[str, npt.NDArray[np.object_]]
    features: tuple[orjson.Fragment, ...]
    #: Per value of the key column (its text), the rows that hold it, in order.
    rows: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, frame: gpd.GeoDataFrame, columns: list[str]) -> Shown:
        """The layer ``frame`` with ``columns``; the first column is the key a request asks
        for rows by (:attr:`rows`)."""
        cols = {}
        for c in columns:
            if c in frame.columns:
                values = np.array([_plain(v) for v in frame[c].tolist()], dtype=object)
                values.setflags(write=False)
                cols[c] = values
        every = np.arange(len(frame))
        made = features(frame.geometry.to_numpy(), cols, CRS(frame.crs), every, SHOWN_TOLERANCE_M)
        rows: dict[str, list[int]] = {}
        for k, v in enumerate(cols.get(columns[0], ())):
            rows.setdefault(str(v), []).append(k)
        encoded = tuple(orjson.Fragment(orjson.dumps(f)) for f in made)
        return cls(cols, encoded, {v: tuple(r) for v, r in rows.items()})


def _plain(v: Any) -> Any:
    """A cell as JSON has it: None for a missing value, numbers as Python numbers."""
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    return v.item() if hasattr(v, "item") else v


@dataclass
class Job:
    """One request's folder; ``id`` names its downloads.

    ``writer`` (set by the request) writes the outputs into ``folder / "out"`` when one of
    them is first downloaded, from the result the request kept; ``names`` are the files it
    writes. A job without a writer wrote its outputs during the request."""

    id: str
    folder: Path
    writer: Callable[[], None] | None = None
    names: frozenset[str] = frozenset()
    created: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def file(self, name: str) -> Path | None:
        """The output ``name``, written first if the job writes lazily (once, under the
        job's lock: concurrent downloads wait for the one writer)."""
        if self.writer is not None and name not in self.names:
            return None
        with self.lock:
            if self.writer is not None:
                self.writer()
                self.writer = None  # the kept result goes with it
        path = self.folder / "out" / name
        return path if path.is_file() else None


@dataclass
class ServeState:
    """The server's shared, read-only state and its job folders."""

    catalog: PreloadedCatalog
    rules_path: Path | None
    ruleset: RuleSet
    limits: Limits
    token: str | None
    root: Path
    #: Host names the Host header may carry (None: any). A server on this machine only
    #: answers to its own names, so that a web page elsewhere cannot reach it through a
    #: name it controls (DNS rebinding).
    hosts: frozenset[str] | None = None
    #: Prefix of this process's job ids (a worker process's number, for the routing).
    prefix: str = ""
    _jobs: OrderedDict[str, Job] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    cache: dict[str, Any] = field(default_factory=dict)
    _local: threading.local = field(default_factory=threading.local)
    #: The worker processes that run the analyses (None: this process's threads run them).
    workers: Any = None
    #: The control units and red lines as the site check's map draws them.
    shown: dict[str, Shown] = field(default_factory=dict)

    def site_layers(self) -> SiteLayers:
        """This thread's site-check layers: the preloaded frames, with spatial indexes and
        prepared geometries built by this thread on its first call and kept (GEOS prepared
        geometries must not be shared between threads)."""
        layers = getattr(self._local, "site_layers", None)
        if layers is None:
            from sxzones.runs.site_check import site_layers

            layers = site_layers(self.catalog)
            layers.warm()
            self._local.site_layers = layers
        return layers

    def frame(self, role: str) -> gpd.GeoDataFrame:
        """The preloaded frame of the catalogue's first layer of ``role``, shared: read it,
        never change it."""
        return self.catalog.frames[str(self.catalog.layer_of_role(role))][0]

    @contextmanager
    def job(self, keep: bool = True) -> Iterator[Job]:
        """A fresh job and its folder, made by what first writes into it (its ``in/``
        subfolder, its outputs; a site check whose downloads are never asked for writes
        nothing: making and removing folders cost a millisecond of CPU and several of disk).
        The uploads in ``in/`` are removed when the block ends; with ``keep`` the outputs
        stay for download (the oldest go beyond :data:`KEEP_JOBS` or
        :data:`KEEP_SECONDS`), otherwise everything goes."""
        jid = self.prefix + secrets.token_urlsafe(12)
        folder = self.root / jid
        try:
            job = Job(jid, folder)
            yield job
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        shutil.rmtree(folder / "in", ignore_errors=True)
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
            return
        with self._lock:
            self._jobs[jid] = job
            self._expire()

    def _expire(self) -> None:
        """Drop the oldest jobs beyond the count or the age (holding ``_lock``)."""
        now = time.monotonic()
        while self._jobs:
            oldest = next(iter(self._jobs.values()))
            if len(self._jobs) <= KEEP_JOBS and now - oldest.created <= KEEP_SECONDS:
                break
            self._jobs.popitem(last=False)
            shutil.rmtree(oldest.folder, ignore_errors=True)

    def job_file(self, jid: str, name: str) -> Path | None:
        """A file of a kept job by id and file name, written now if the job writes its
        outputs lazily (None when there is no such file)."""
        with self._lock:
            self._expire()
            job = self._jobs.get(jid)
        if job is None or "/" in name or "\\" in name or name.startswith("."):
            return None
        return job.file(name)

    def close(self) -> None:
        """Stop the worker processes and remove every job folder."""
        workers, self.workers = self.workers, None
        if workers is not None:
            workers.close()
        shutil.rmtree(self.root, ignore_errors=True)


def open_state(
    catalog: str | Path | None, rules: Path | None, limits: Limits, token: str | None
) -> ServeState:
    """Load the catalogue's layers and the rules (once), and make the temporary folder.

    Raises
    ------
    SxzonesError
        The catalogue or rules cannot be loaded, or lack the layers the pages need.
    """
    cat = PreloadedCatalog.of(load_catalog(catalog))
    ruleset = load_rules(rules)
    for role in ("control_units", "redline", "builtup"):
        if cat.layer_of_role(role) is None:
            raise SxzonesError(
                f"{cat.path}: no layer of role {role!r}; the pages need control units, red "
                "lines and built-up areas"
            )
    state = ServeState(cat, rules, ruleset, limits, token, make_root())
    try:
        for role, columns in SHOWN.items():
            state.shown[role] = Shown.of(state.frame(role), columns)
    except BaseException:
        state.close()
        raise
    return state
