"""Raster criteria for the siting screen, read window by window in the working CRS.

A criterion holds a raster the caller opened (``rasterio.open``: the caller closes it) or a
2-D array with its transform and CRS; no analysis opens a file. When the raster's CRS is not
the working CRS it is seen through a GDAL warped VRT in the working CRS (bilinear for
elevation, nearest for other values), so every window is on a north-up grid in metres of the
working CRS; the slope of such a DEM is taken on its own cells and then resampled
(:func:`slope_tile`, :mod:`sxzones.analyses.slope`). Windows cover one candidate at a time
and are cut into tiles of at most ``TILE`` x ``TILE`` cells, so memory stays bounded
whatever the raster's size (a province at 30 m is about 290 million cells); the windows of
a chunk of neighbouring candidates may be cut from one :class:`Strip` read at once (at most
``STRIP_CELLS`` cells).

Nodata is *unknown*, never excluded: the masks returned here keep "fails the criterion" and
"no data" apart. A band that declares no no-data value but holds the values tools write for
it (-9999, -32768, -99999, -3.4e38; for a DEM any elevation below -500 m, which no land
has) is read with those cells as no data, and :attr:`RasterCriterion.notes`
says how many there are and how to declare the value. A band's GDAL scale and offset are
applied (values = stored x scale + offset). A raster of several bands, or a colour image,
is refused: it is a picture, not values. Cells of a warped grid whose footprint leaves the
source raster are no data (nearest resampling would give them the value of the edge cell).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.features
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio._err import CPLE_BaseError
from rasterio.enums import ColorInterp, MaskFlags, Resampling
from rasterio.errors import RasterioError
from rasterio.io import DatasetReaderBase, MemoryFile
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from sxzones.errors import CRSError, SxzonesError

__all__ = [
    "KINDS",
    "STRIP_CELLS",
    "TILE",
    "RasterCriterion",
    "Strip",
    "Tile",
    "centres_in",
    "horn_slope",
    "polygons_of",
    "polygons_of_many",
    "slope_tile",
]

#: Largest tile edge in cells: a float32 tile is at most 16 MB.
TILE = 2048
F32 = npt.NDArray[np.float32]
#: Kinds of raster criteria.
KINDS = ("slope", "minimum")
#: Values tools write for "no data" (ASCII grids, many exports) without always declaring it.
SENTINELS = (-9999.0, -32768.0, -99999.0)
#: Elevations (m) below which a DEM's cells are not terrain: no land lies below the Dead
#: Sea's shore (-430 m).
LOWEST_ELEVATION = -500.0
#: Colour interpretations of an image band (a map picture), not of values.
_IMAGE_BANDS = {
    ColorInterp.red,
    ColorInterp.green,
    ColorInterp.blue,
    ColorInterp.alpha,
    ColorInterp.palette,
}


@dataclass
class RasterCriterion:
    """A raster the siting screen applies.

    ``source``: an opened rasterio dataset (``rasterio.open(path)``; the caller keeps it open
    during the screen and closes it), or a 2-D array of values with its ``transform``
    (``affine.Affine``, north up) and ``crs`` (anything ``pyproj.CRS`` takes); ``nodata`` is
    the array's no-data value (NaN always is). ``kind``: ``"slope"`` (a DEM in metres;
    cells steeper than ``threshold`` degrees fail; 0: the rules' slope limit) or
    ``"minimum"`` (a resource raster such as irradiance or wind speed; cells below
    ``threshold`` fail). ``name`` is the reason reported for the cells that fail.
    """

    source: Any
    kind: str
    threshold: float
    name: str
    transform: Affine | None = None
    crs: Any = None
    nodata: float | None = None
    _ds: Any = field(default=None, repr=False)
    _own: list[Any] = field(default_factory=list, repr=False)
    _path: str | None = field(default=None, repr=False)
    _warp: dict[str, Any] | None = field(default=None, repr=False)
    #: What a reader of the results must know about the raster (undeclared no data).
    notes: list[str] = field(default_factory=list, repr=False)
    _scale: tuple[float, float] = field(default=(1.0, 0.0), repr=False)
    _undeclared: bool = field(default=False, repr=False)
    _edge: Any = field(default=None, repr=False)
    _max: list[float] = field(default_factory=list, repr=False)
    _lock: Any = field(default_factory=threading.Lock, repr=False)

    def check(self, where: str = "raster") -> None:
        """Raise a clear error when the criterion cannot be used (``where`` names it)."""
        if self.kind not in KINDS:
            raise SxzonesError(f"{where}.kind {self.kind!r}: choose from {list(KINDS)}")
        if isinstance(self.source, np.ndarray):
            if self.source.ndim != 2:
                raise TypeError(f"{where}.source: a 2-D array, not {self.source.ndim}-D")
            if not isinstance(self.transform, Affine) or self.crs is None:
                raise TypeError(
                    f"{where}: an array needs its transform (affine.Affine) and crs, e.g. "
                    "RasterCriterion(z, 'slope', 0.0, 'slope', transform=t, crs=4546)"
                )
        elif not isinstance(self.source, DatasetReaderBase):
            raise TypeError(
                f"{where}.source must be an opened rasterio dataset or a 2-D array, not "
                f"{type(self.source).__name__} (open files with rasterio.open: the screen "
                "opens none)"
            )

    @property
    def label(self) -> str:
        """The raster's name for messages: its path, or ``array``."""
        return "array" if isinstance(self.source, np.ndarray) else str(self.source.name)

    def open(self, crs: CRS) -> None:
        """See the raster on a grid of the working CRS (a warped VRT when needed)."""
        if self._ds is not None:
            return
        src = self._dataset()
        if src.crs is None:
            raise CRSError(
                f"{self.label}: the raster has no CRS; set one (gdal_edit.py -a_srs EPSG:4546)"
            )
        t = src.transform
        if t.b != 0 or t.d != 0 or t.e >= 0:
            raise SxzonesError(f"{self.label}: only north-up rasters are read (no rotation)")
        _refuse_images(src, self.label, self.kind)
        self._scale = (float(src.scales[0]), float(src.offsets[0]))
        self.notes, self._max = [], []
        n, found = _count_undeclared(src, self.kind, self._scale)
        self._undeclared = n > 0
        if n:
            self.notes.append(_undeclared_note(self.label, self.kind, n, found))
        datum = getattr(CRS.from_user_input(src.crs).datum, "name", "") or ""
        if "Xian" in datum or "Beijing" in datum:  # as vector layers are noted (validation)
            self.notes.append(
                f"{self.label}: {datum} to CGCS2000 has no published parameters in PROJ; the "
                "shift is approximated (error up to tens of metres): supply the raster in "
                "CGCS2000 for decisions near a threshold"
            )
        if CRS.from_user_input(src.crs) == crs:
            self._ds = src
        else:
            method = Resampling.bilinear if self.kind == "slope" else Resampling.nearest
            self._warp = {"crs": crs.to_wkt(), "resampling": method}
            self._ds = WarpedVRT(src, **self._warp)
            self._own.append(self._ds)
            if self.kind == "minimum":  # a warped DEM's slope is taken on its own cells
                self._edge = (Transformer.from_crs(crs, src.crs, always_xy=True), src.bounds)
        self._path = _reopenable(src)

    def values(self, raw: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Stored values (NaN: no data) as the raster's values: undeclared no-data values
        as NaN, then the band's scale and offset applied (float; ``raw`` may be changed)."""
        if self._undeclared:
            raw = raw.astype(np.float64) if raw.dtype.kind != "f" else raw
            raw[_undeclared_cells(raw, self.kind, self._scale)] = np.nan
        scale, offset = self._scale
        if scale != 1.0 or offset != 0.0:
            raw = raw * raw.dtype.type(scale) + raw.dtype.type(offset)
        return raw

    def seen(self, vals: npt.NDArray[np.floating[Any]]) -> None:
        """Note the largest known value read (for :meth:`record`); thread-safe."""
        if np.isnan(vals).all():
            return
        top = float(np.nanmax(vals))
        with self._lock:
            self._max[:] = [max([*self._max, top])]

    def record(self) -> dict[str, Any]:
        """What the screen must say of the raster (``siting.json``'s ``raster_checks``):
        label, kind, threshold, the largest value read over the candidates (None: none
        known), and its :attr:`notes`."""
        top = self._max[0] if self._max else None
        return {"raster": self.label, "kind": self.kind, "threshold": self.threshold,
                "max_read": top, "notes": list(self.notes)}  # fmt: skip

    def reopenable(self) -> bool:
        """Whether :meth:`reopen` can give a worker thread its own handle (a file or an
        in-memory raster opened for reading)."""
        return self._path is not None

    def reopen(self, stack: ExitStack) -> Any:
        """A new handle on the raster as :meth:`open` sees it (warped the same way), for one
        worker thread: rasterio datasets must not be shared between threads. Closed with
        ``stack``."""
        src = stack.enter_context(rasterio.open(self._path, sharing=False))
        if self._warp is None:
            return src
        return stack.enter_context(WarpedVRT(src, **self._warp))

    def _dataset(self) -> Any:
        """The source as a dataset: itself, or the array in memory (no file)."""
        if not isinstance(self.source, np.ndarray):
            return self.source
        z = np.asarray(self.source, dtype=np.float32)
        if self.nodata is not None:
            z = np.where(z == np.float32(self.nodata), np.float32(np.nan), z)
        mem = MemoryFile()
        with mem.open(
            driver="GTiff",
            width=z.shape[1],
            height=z.shape[0],
            count=1,
            dtype="float32",
            crs=CRS.from_user_input(self.crs).to_wkt(),
            transform=self.transform,
            nodata=float("nan"),
        ) as w:
            w.write(z, 1)
        ds = mem.open()  # read-only: worker threads open their own handles on it
        self._own += [ds, mem]
        return ds

    def close(self) -> None:
        """Let go of what :meth:`open` made (never the caller's dataset)."""
        for obj in reversed(self._own):
            obj.close()
        self._own.clear()
        self._ds = self._edge = None
        self._path = self._warp = None

    @property
    def resolution(self) -> tuple[float, float]:
        """Cell size (x, y) in working-CRS metres."""
        return abs(self._ds.transform.a), abs(self._ds.transform.e)

    def tiles(
        self, bounds: tuple[float, float, float, float], pad: int, ds: Any = None
    ) -> Iterator[Tile]:
        """The tiles covering ``bounds``, each read with ``pad`` extra cells on every side
        (for the slope's 3 x 3 kernel); cells outside the raster are NaN. ``ds``: the handle
        to read through (a worker thread's own, from :meth:`reopen`; default the one
        :meth:`open` made)."""
        ds = self._ds if ds is None else ds
        t: Affine = ds.transform
        r0, r1, c0, c1 = _cells_of(bounds, t)
        for rr in range(r0, r1, TILE):
            for cc in range(c0, c1, TILE):
                h, w = min(TILE, r1 - rr), min(TILE, c1 - cc)
                z = self.values(_read(ds, rr - pad, cc - pad, h + 2 * pad, w + 2 * pad))
                if self._edge is not None:
                    z[_leaves(self._edge, t, rr - pad, cc - pad, z.shape)] = np.nan
                yield Tile(z, t, rr, cc, pad)

    def strip(
        self,
        ds: Any,
        boxes: list[tuple[float, float, float, float]],
        pad: int,
        scratch: dict[str, Any] | None = None,
    ) -> Any:
        """``ds``, or a :class:`Strip` of it: the windows of ``boxes`` (with ``pad`` cells
        around) read a few at once, when together they have at most :data:`STRIP_CELLS`
        cells and the raster is read without a mask band of its own and without warping.
        Windows on the same or neighbouring columns of storage blocks are read in one part
        (:func:`_strip_parts`: no block between them that none of them needs); the tiles of
        the boxes are then cut from the parts: the same cells, one read through GDAL for a
        chunk of neighbouring candidates instead of one per candidate (a worker thread waits
        for the interpreter once per part, not once per candidate). A strip that cannot be
        read is not made (each candidate's own read then says what is wrong). ``scratch``:
        the calling thread's own, where the strip's memory is kept for its next strip (no
        new pages for every chunk); valid until that next strip."""
        if not boxes or _masked_read(ds) or getattr(ds, "src_dataset", None) is not None:
            return ds
        parts = _strip_parts(ds, [_cells_of(b, ds.transform) for b in boxes], pad)
        sizes = [(r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in parts]
        if not parts or sum(sizes) > STRIP_CELLS:
            return ds
        dtype = np.dtype(ds.dtypes[0])
        mem = (scratch or {}).get("strip")
        if mem is None or mem.nbytes < sum(sizes) * dtype.itemsize:
            mem = np.empty(sum(sizes) * dtype.itemsize, np.uint8)
            if scratch is not None:
                scratch["strip"] = mem
        read, at = [], 0
        try:
            for (r0, r1, c0, c1), n in zip(parts, sizes, strict=True):
                values = mem[at : at + n * dtype.itemsize].view(dtype).reshape(r1 - r0, c1 - c0)
                ds.read(1, window=Window(c0, r0, c1 - c0, r1 - r0), out=values)
                read.append((r0, c0, values))
                at += n * dtype.itemsize
        except (RasterioError, CPLE_BaseError):
            return ds
        return Strip(ds, read)

    def band_bytes(self) -> int:
        """Bytes of one row of the raster's storage blocks once decompressed (as GDAL's
        block cache holds them; of the file under a warped view)."""
        src = getattr(self._ds, "src_dataset", self._ds)
        shapes = getattr(src, "block_shapes", None) or [(1, src.width)]
        return int(shapes[0][0]) * int(src.width) * np.dtype(src.dtypes[0]).itemsize

    def block_rows(self) -> int:
        """Rows of the raster's storage blocks (1 when it is not read in blocks), so that the
        screen can take candidates band by band and decompress each block about once."""
        shapes = getattr(self._ds, "block_shapes", None)
        return max(1, int(shapes[0][0])) if shapes else 1


def _reopenable(src: Any) -> str | None:
    """The name :func:`rasterio.open` opens ``src`` again by, or None when it cannot (a
    dataset being written, or a name that does not open)."""
    if getattr(src, "mode", "r") != "r" or not getattr(src, "name", ""):
        return None
    try:
        with rasterio.open(src.name, sharing=False) as again:
            same = again.shape == src.shape and again.transform == src.transform
    except (RasterioError, CPLE_BaseError, OSError):
        return None
    return str(src.name) if same else None


def _refuse_images(src: Any, label: str, kind: str) -> None:
    """Refuse a raster of several bands or a colour-image band: band 1 of a map picture is
    not elevations (nor irradiance), and reading it gives an answer without a word."""
    what = "elevations" if kind == "slope" else "values"
    interp = list(src.colorinterp or ())
    # values with an alpha band (gdalwarp -dstalpha): the alpha is band 1's mask, not colour,
    # where GDAL reads it so (bytes and 16-bit integers); of floats it is not read at all
    with_alpha = src.count == 2 and interp[1:] == [ColorInterp.alpha]
    if with_alpha and MaskFlags.alpha not in src.mask_flag_enums[0]:
        raise SxzonesError(
            f"{label}: band 2 is an alpha band of {src.dtypes[0]}, which GDAL does not read as "
            f"the mask of the {what}: the cells it hides would be read as {what}. Fix: write "
            "the hidden cells as no data instead, e.g. gdalwarp -dstnodata -9999 (not "
            "-dstalpha), or gdal_translate -b 1 -a_nodata VALUE if they hold one value"
        )
    if (src.count > 1 and not with_alpha) or set(interp[:1]) & _IMAGE_BANDS:
        names = ", ".join(c.name for c in src.colorinterp or ())
        raise SxzonesError(
            f"{label}: {src.count} band(s) of {src.dtypes[0]} ({names}): an image, not "
            f"{what}. Fix: give a raster of one band holding the {what} "
            + (
                "in metres (a DEM such as SRTM, ASTER GDEM or a survey grid)"
                if kind == "slope"
                else "(the resource product itself)"
            )
            + ", not a map picture; a DEM of several bands: gdal_translate -b 1 FILE OUT.tif"
        )


def _undeclared_cells(
    raw: npt.NDArray[Any], kind: str, scale: tuple[float, float]
) -> npt.NDArray[np.bool_]:
    """Cells of stored values ``raw`` holding a usual no-data value: the :data:`SENTINELS`,
    values beyond +-1e30 (-3.4e38, float32's lowest, and the like), and for a DEM
    (``kind`` ``"slope"``) elevations below :data:`LOWEST_ELEVATION` once scaled. (No upper
    bound: a synthetic tilted plane may rise past any real summit and is still a surface.)"""
    bad = np.isin(raw, SENTINELS)
    if raw.dtype.kind == "f":
        bad |= np.abs(raw) > 1e30
    if kind == "slope":
        bad |= raw * scale[0] + scale[1] < LOWEST_ELEVATION
    return bad


#: Cells scanned at once when counting undeclared no-data values.
_SCAN_CELLS = 1 << 22


def _count_undeclared(src: Any, kind: str, scale: tuple[float, float]) -> tuple[int, list[float]]:
    """How many cells of band 1 hold a usual no-data value when the band declares none (no
    no-data value, no mask), and the first few such values; ``(0, [])`` when it declares
    one. The whole band is read once, a few million cells at a time."""
    if src.nodata is not None or set(src.mask_flag_enums[0]) != {MaskFlags.all_valid}:
        return 0, []
    n, found = 0, set[float]()
    step = max(1, _SCAN_CELLS // max(1, src.width))
    for r0 in range(0, src.height, step):
        win = Window(0, r0, src.width, min(step, src.height - r0))
        raw = src.read(1, window=win)
        bad = _undeclared_cells(raw, kind, scale)
        k = int(bad.sum())
        if k:
            n += k
            if len(found) < 3:
                found |= set(np.unique(raw[bad])[:3].tolist())
    return n, sorted(found)[:3]


def _undeclared_note(label: str, kind: str, n: int, found: list[float]) -> str:
    """The note for ``n`` cells of undeclared no-data values ``found`` in raster ``label``."""
    vals = ", ".join(f"{v:g}" for v in found)
    what = "elevations no land has" if kind == "slope" else "usual no-data values"
    return (
        f"{label}: {n} cell(s) hold {vals} ({what}) and the raster declares no nodata value: "
        "read as no data (their land is reported as unknown_m2, not scored). To declare it: "
        f"gdal_edit.py -a_nodata {found[0]:g} {label}"
    )


def _leaves(
    edge: tuple[Transformer, Any], t: Affine, row: int, col: int, shape: tuple[int, int]
) -> npt.NDArray[np.bool_]:
    """Cells ``row``, ``col`` (``shape``) of the working grid ``t`` with a corner outside
    the source raster's extent (``edge``: working CRS -> source CRS, and the source's
    bounds): nearest resampling gives them the edge cell's value, though part of their
    ground lies where the raster says nothing. The edge between corners is taken as
    straight (within a cell it is, to far under a cell's size)."""
    to_src, b = edge
    h, w = shape
    xs = t.c + t.a * (col + np.arange(w + 1))
    ys = t.f + t.e * (row + np.arange(h + 1))
    gx, gy = np.meshgrid(xs, ys)
    sx, sy = to_src.transform(gx, gy)
    ok = (sx >= b.left) & (sx <= b.right) & (sy >= b.bottom) & (sy <= b.top)
    return ~(ok[:-1, :-1] & ok[1:, :-1] & ok[:-1, 1:] & ok[1:, 1:])


def _cells_of(bounds: tuple[float, float, float, float], t: Affine) -> tuple[int, int, int, int]:
    """The rows ``r0:r1`` and columns ``c0:c1`` of the cells of grid ``t`` covering
    ``bounds`` (at least one cell each way; they may lie outside the raster)."""
    minx, miny, maxx, maxy = bounds
    c0 = math.floor((minx - t.c) / t.a)
    c1 = math.ceil((maxx - t.c) / t.a)
    r0 = math.floor((maxy - t.f) / t.e)
    r1 = max(math.ceil((miny - t.f) / t.e), r0 + 1)
    return r0, r1, c0, max(c1, c0 + 1)


#: Most cells of a :class:`Strip` (16 Mi: 64 MB of float32 per worker thread).
STRIP_CELLS = 1 << 24


class Strip:
    """Windows of band 1 read at once in front of the dataset ``ds`` (``parts``: top-left
    row, column and values of each): a plain read of a window inside one of them is a slice
    of it (the same cells), any other read goes to ``ds``, and every other attribute is
    ``ds``'s."""

    def __init__(self, ds: Any, parts: list[tuple[int, int, npt.NDArray[Any]]]) -> None:
        self._src, self.parts = ds, parts

    def __getattr__(self, name: str) -> Any:
        return getattr(self._src, name)

    def read(self, indexes: int, window: Window | None = None, **kw: Any) -> Any:
        """Band ``indexes`` over ``window``, from the part that holds the window."""
        if indexes == 1 and window is not None and not kw:
            h, w = int(window.height), int(window.width)
            for row, col, values in self.parts:
                r0, c0 = int(window.row_off) - row, int(window.col_off) - col
                if 0 <= r0 and r0 + h <= values.shape[0] and 0 <= c0 and c0 + w <= values.shape[1]:
                    return values[r0 : r0 + h, c0 : c0 + w]
        return self._src.read(indexes, window=window, **kw)


def _strip_parts(
    ds: Any, cells: list[tuple[int, int, int, int]], pad: int
) -> list[tuple[int, int, int, int]]:
    """The windows ``cells`` (rows ``r0:r1``, columns ``c0:c1``) grown by ``pad`` and cut to
    the raster, gathered into parts: windows whose columns of storage blocks overlap or
    touch share one (rows and columns spanning them all), so that a part holds no column
    of blocks none of its windows needs."""
    shapes = getattr(ds, "block_shapes", None)
    bw = max(1, int(shapes[0][1])) if shapes else 1
    wins = sorted(
        (max(c0 - pad, 0), min(c1 + pad, ds.width), max(r0 - pad, 0), min(r1 + pad, ds.height))
        for r0, r1, c0, c1 in cells
    )
    parts: list[list[int]] = []
    for c0, c1, r0, r1 in wins:
        if c1 <= c0 or r1 <= r0:
            continue  # outside the raster: nothing to read
        if parts and c0 // bw <= (parts[-1][3] - 1) // bw + 1:
            p = parts[-1]
            p[0], p[1], p[3] = min(p[0], r0), max(p[1], r1), max(p[3], c1)
        else:
            parts.append([r0, r1, c0, c1])
    return [(r0, r1, c0, c1) for r0, r1, c0, c1 in parts]


def _masked_read(ds: Any) -> bool:
    """Whether band 1 is read with its mask (a mask band of its own, or doubles: GDAL's
    no-data test is approximate there), not by its no-data value."""
    flags = ds.mask_flag_enums[0]
    return ds.dtypes[0] == "float64" or not set(flags) <= {MaskFlags.nodata, MaskFlags.all_valid}


def _read(ds: Any, row: int, col: int, h: int, w: int) -> F32:
    """Cells ``row``, ``col`` (h x w) of band 1 as float32, NaN for no data and outside."""
    out = np.full((h, w), np.nan, dtype=np.float32)
    r0, c0 = max(row, 0), max(col, 0)
    r1, c1 = min(row + h, ds.height), min(col + w, ds.width)
    if r1 <= r0 or c1 <= c0:
        return out
    win = Window(c0, r0, c1 - c0, r1 - r0)
    dst = out[r0 - row : r1 - row, c0 - col : c1 - col]
    if _masked_read(ds):
        dst[...] = np.ma.filled(ds.read(1, window=win, masked=True).astype(np.float32), np.nan)
        return out
    a = ds.read(1, window=win)  # the no-data value itself marks the cells: no mask to read
    dst[...] = a
    nd = _nodata_as(ds.nodata, a.dtype) if MaskFlags.nodata in ds.mask_flag_enums[0] else None
    if nd is not None:
        dst[a == nd] = np.nan
    return out


def _nodata_as(nodata: float | None, dtype: np.dtype[Any]) -> Any:
    """The no-data value in the raster's type, or None when no cell can hold it (NaN: the
    cells are NaN already; an integer raster's value out of range or with a fraction)."""
    if nodata is None or math.isnan(nodata):
        return None
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        ok = float(nodata).is_integer() and info.min <= nodata <= info.max
        return dtype.type(int(nodata)) if ok else None
    return dtype.type(nodata)


@dataclass
class Tile:
    """Values of one tile (NaN = no data) with ``pad`` cells of margin."""

    values: F32
    base: Affine
    row: int
    col: int
    pad: int

    @property
    def transform(self) -> Affine:
        """Transform of the unpadded tile."""
        return self.base @ Affine.translation(self.col, self.row)

    @property
    def inner(self) -> F32:
        p = self.pad
        return self.values[p : self.values.shape[0] - p, p : self.values.shape[1] - p]


def slope_tile(
    t: Tile,
    ds: Any,
    dx: float,
    dy: float,
    values: Callable[[npt.NDArray[Any]], npt.NDArray[Any]] | None = None,
) -> F32:
    """Slope in degrees of the inner cells of tile ``t`` of a DEM read through ``ds``:
    Horn's method on the tile when the DEM is in the working CRS (``dx``, ``dy``: cell sizes
    in ground metres); on the DEM's own cells, then resampled, when ``ds`` warps it (a
    warped DEM's slope is not exact: :mod:`sxzones.analyses.slope`). ``values``: stored
    values to elevations there (:meth:`RasterCriterion.values`; the tile has them already)."""
    src = getattr(ds, "src_dataset", None)
    if src is None:
        return horn_slope(t.values, dx, dy)
    from sxzones.analyses.slope import native_slope

    return native_slope(src, t.transform, t.inner.shape, CRS.from_user_input(ds.crs), values)


def horn_slope(z: F32, dx: float, dy: float) -> F32:
    """Slope in degrees by Horn's method (as ``gdaldem slope``) for the inner cells of a
    padded grid; ``dx``, ``dy`` are cell sizes in ground metres. NaN where any of the nine
    cells is NaN (unknown, not flat)."""
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8.0 * dx)
    dzdy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8.0 * dy)
    centre = z[1:-1, 1:-1]
    s = np.degrees(np.arctan(np.hypot(dzdx, dzdy))).astype(np.float32)
    s[np.isnan(centre)] = np.nan
    return s


def polygons_of(mask: npt.NDArray[np.bool_], transform: Affine) -> shapely.Geometry | None:
    """The cells where ``mask`` is true as one (multi)polygon, or None when there are none."""
    if not mask.any():
        return None
    if mask.all():
        h, w = mask.shape
        x0, y0 = transform @ (0, 0)
        x1, y1 = transform @ (w, h)
        return shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    shapes = rasterio.features.shapes(
        mask.view(np.uint8), mask=mask, transform=transform, connectivity=4
    )
    polys = [_polygon(g["coordinates"]) for g, _ in shapes]
    return shapely.coverage_union_all(np.array(polys, dtype=object))  # cells never overlap


#: Largest tile edge (cells) polygonised together with others in :func:`polygons_of_many`.
_STACK_EDGE = 512


def polygons_of_many(
    masks: list[npt.NDArray[np.bool_]], transforms: list[Affine]
) -> list[shapely.Geometry | None]:
    """:func:`polygons_of` for many masks (tiles of several candidates), small ones
    polygonised together in one call: they are set side by side with a column of false
    cells between them, and each polygon is brought back to its own tile's coordinates
    (``c + a * column``, ``f + e * row``: the arithmetic GDAL does with a tile's own
    transform, so the polygons are the same). Memory: the small masks once more, as bytes."""
    out: list[shapely.Geometry | None] = [None] * len(masks)
    small = []
    for j, m in enumerate(masks):
        if not m.any():
            continue
        if m.all() or max(m.shape) > _STACK_EDGE:
            out[j] = polygons_of(m, transforms[j])
        else:
            small.append(j)
    if not small:
        return out
    widths = np.array([masks[j].shape[1] + 1 for j in small])
    starts = np.concatenate([[0], np.cumsum(widths)[:-1]])
    stack = np.zeros((max(masks[j].shape[0] for j in small), int(widths.sum())), np.uint8)
    for j, x0 in zip(small, starts.tolist(), strict=True):
        h, w = masks[j].shape
        stack[:h, x0 : x0 + w] = masks[j]
    found: dict[int, list[shapely.Polygon]] = {}
    # column + 1, row + 1: whole numbers, exact (an identity transform is warned about)
    one = Affine.translation(1, 1)
    for g, _ in rasterio.features.shapes(stack, stack.view(bool), 4, one):
        rings = g["coordinates"]
        k = int(np.searchsorted(starts, rings[0][0][0] - 1, side="right")) - 1
        t = transforms[small[k]]
        moved = [
            np.column_stack([t.c + (a[:, 0] - 1 - starts[k]) * t.a, t.f + (a[:, 1] - 1) * t.e])
            for a in (np.asarray(r, dtype=np.float64) for r in rings)
        ]
        found.setdefault(k, []).append(_polygon(moved))
    for k, polys in found.items():
        out[small[k]] = shapely.coverage_union_all(np.array(polys, dtype=object))
    return out


def _polygon(rings: list[Any]) -> shapely.Polygon:
    """A GeoJSON polygon's rings (shell first) as a shapely polygon, the coordinates taken
    as arrays (quicker than :func:`shapely.geometry.shape`; the same polygon)."""
    shell, *holes = (np.asarray(r, dtype=np.float64) for r in rings)
    return shapely.Polygon(shell, [shapely.linearrings(h) for h in holes] or None)


def centres_in(
    geom: shapely.Geometry, shape: tuple[int, int], transform: Affine
) -> npt.NDArray[np.bool_]:
    """The cells of a grid (``shape``: rows, columns; ``transform``: north up, working CRS)
    whose centres lie in the polygons of ``geom``, with numpy: what GDAL's rasterisation
    without ``all_touched`` burns (``rasterio.features.geometry_mask(..., invert=True)``),
    by its own rules and arithmetic, without a GDAL dataset and environment per call.

    GDAL's rules: the coordinates go to cells by the inverse transform; on each row of cell
    centres, every edge that is not horizontal and spans it (lower end included) crosses it
    at ``x``, rounded to the cell ``floor(x + 0.5)``; the cells between the sorted crossings,
    pair by pair, are in (even-odd: holes and several parts are handled). A horizontal edge
    lying on a row of centres, walked east to west, puts its cells in too."""
    h, w = shape
    parts = shapely.get_parts(geom)
    rings = shapely.get_rings(parts[shapely.get_type_id(parts) == 3])
    # GDAL burns as if every ring ran clockwise on the map (east to west along its south side)
    ccw = shapely.is_ccw(rings)
    rings[ccw] = shapely.reverse(rings[ccw])
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    inside = np.zeros(shape, dtype=bool)
    if len(xy) < 2:
        return inside
    inv0, inv1 = -transform.c / transform.a, 1.0 / transform.a  # GDALInvGeoTransform
    inv3, inv5 = -transform.f / transform.e, 1.0 / transform.e
    px, py = inv0 + xy[:, 0] * inv1, inv3 + xy[:, 1] * inv5
    same = ring[1:] == ring[:-1]
    xa, ya, xb, yb = px[:-1][same], py[:-1][same], px[1:][same], py[1:][same]
    _flat_edges(inside, xa, ya, xb, yb)
    up = ya < yb  # each edge from its lower end (in rows) to its upper one
    x1, y1 = np.where(up, xa, xb), np.where(up, ya, yb)
    x2, y2 = np.where(up, xb, xa), np.where(up, yb, ya)
    slanted = y1 != y2
    x1, y1, x2, y2 = x1[slanted], y1[slanted], x2[slanted], y2[slanted]
    first = np.clip(np.ceil(y1 - 0.5), 0, h).astype(np.int64)  # rows r with y1 <= r + 0.5
    stop = np.clip(np.ceil(y2 - 0.5), 0, h).astype(np.int64)  # and r + 0.5 < y2
    n = np.maximum(stop - first, 0)
    if n.sum() == 0:
        return inside
    e = np.repeat(np.arange(len(n)), n)
    r = first[e] + (np.arange(len(e)) - np.repeat(np.cumsum(n) - n, n))
    dy = r + 0.5
    xc = (dy - y1[e]) * (x2[e] - x1[e]) / (y2[e] - y1[e]) + x1[e]
    k = np.clip(np.floor(xc + 0.5), 0, w).astype(np.int64)
    toggle = np.bincount(r * (w + 1) + k, minlength=h * (w + 1)).reshape(h, w + 1)
    inside |= (np.cumsum(toggle, axis=1)[:, :w] & 1).astype(bool)
    return inside


def _flat_edges(
    inside: npt.NDArray[np.bool_],
    xa: npt.NDArray[np.float64],
    ya: npt.NDArray[np.float64],
    xb: npt.NDArray[np.float64],
    yb: npt.NDArray[np.float64],
) -> None:
    """GDAL's rule for horizontal edges on a row of cell centres (cell units): walked east to
    west, their cells ``floor(x + 0.5)`` from the west end up to the east end's, excluded,
    are in."""
    h, w = inside.shape
    flat = (ya == yb) & (xa > xb) & (ya - 0.5 == np.floor(ya - 0.5))
    for x_east, x_west, y in zip(xa[flat], xb[flat], ya[flat], strict=True):
        row = int(y - 0.5)
        lo, hi = math.floor(x_west + 0.5), math.floor(x_east + 0.5)
        if 0 <= row < h and lo < w and hi > 0:
            inside[row, max(lo, 0) : min(hi, w)] = True
