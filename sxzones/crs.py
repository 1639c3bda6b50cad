"""Chinese coordinate reference systems: parsing, GCJ-02 / BD-09, and the metric working CRS.

Users write CRS specs the way Chinese GIS practice names them: ``cgcs2000``, ``gcj02`` (Amap,
Tencent), ``bd09`` (Baidu), ``xian80``, ``beijing54``, and 3-degree Gauss-Krüger zones with
(``gk37``) or without (``cm111``) the zone number prefixed to the easting. :func:`parse_crs`
turns each into a :class:`CRSSpec`.

GCJ-02 and BD-09 are not datums PROJ knows: they are obfuscations of WGS84 longitude and
latitude. The forward functions follow the published algorithm (the same constants every open
implementation uses); the inverses are iterated until the forward map reproduces the input to
better than 1 cm. Outside China the offset is zero, as in the published algorithm.

WGS84 and CGCS2000 agree to within a few decimetres in Shanxi (both are ITRF-aligned), so PROJ
treats the transformation between them as a null shift; sxzones does the same.

>>> spec = parse_crs("gk38")
>>> spec.crs.to_epsg(), spec.zone_prefixed, spec.zone
(4526, True, 38)
>>> lon, lat = wgs84_to_gcj02(116.377817, 39.911954)
>>> round(float(lon), 6), round(float(lat), 6)
(116.384047, 39.913345)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as _PyprojCRSError

from sxzones.errors import CRSError

__all__ = [
    "SHANXI_BOUNDS",
    "CRSSpec",
    "CoordinateIssue",
    "WorkingCRS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "check_coordinates",
    "choose_working_crs",
    "convert_geometries",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "parse_crs",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

Obfuscation = Literal["gcj02", "bd09"]
FloatArray = npt.NDArray[np.float64]

#: Shanxi plus about 30 km, WGS84 lon/lat (min lon, min lat, max lon, max lat): the bounds of
#: the filter mask of the bundled data. The default study area for coordinate checks.
SHANXI_BOUNDS = (109.90, 34.32, 114.92, 41.01)

# Datum name -> (geographic EPSG, first zone-prefixed 3-degree GK EPSG (zone 25),
#                first CM 3-degree GK EPSG (CM 75E)). Checked against the EPSG registry in tests.
_DATUMS: dict[str, tuple[int, int, int]] = {
    "cgcs2000": (4490, 4513, 4534),
    "xian80": (4610, 2349, 2370),
    "beijing54": (4214, 2401, 2422),
}
_DATUM_ALIASES = {
    "cgcs2000": "cgcs2000",
    "cgcs": "cgcs2000",
    "2000": "cgcs2000",
    "xian80": "xian80",
    "xian1980": "xian80",
    "xa80": "xian80",
    "beijing54": "beijing54",
    "beijing1954": "beijing54",
    "bj54": "beijing54",
    # as Chinese users and 界址点 headers name them
    "国家2000": "cgcs2000",
    "2000国家大地坐标系": "cgcs2000",
    "国家2000坐标系": "cgcs2000",
    "2000坐标系": "cgcs2000",
    "cgcs2000坐标系": "cgcs2000",
    "西安80": "xian80",
    "西安1980": "xian80",
    "1980西安坐标系": "xian80",
    "西安80坐标系": "xian80",
    "1980国家大地坐标系": "xian80",
    "北京54": "beijing54",
    "北京1954": "beijing54",
    "1954北京坐标系": "beijing54",
    "北京54坐标系": "beijing54",
}
_SIMPLE = {
    "wgs84": (4326, None),
    "gcj02": (4326, "gcj02"),
    "gcj": (4326, "gcj02"),
    "amap": (4326, "gcj02"),
    "bd09": (4326, "bd09"),
    "baidu": (4326, "bd09"),
    "高德": (4326, "gcj02"),
    "腾讯": (4326, "gcj02"),
    "火星坐标": (4326, "gcj02"),
    "百度": (4326, "bd09"),
    "gps": (4326, None),
}
#: A zone written the Chinese way, after an optional datum: 38带, 3度带38, 西安80:38带.
_ZH_ZONE = re.compile(r"(?:(.+?)[:：])?(?:3度带|三度带)?(\d{2})带?")

ACCEPTED_SPECS = (
    "EPSG:<code> or a bare code (4490, 4326, 4546, ...); "
    "wgs84; cgcs2000 (国家2000); gcj02 (Amap/Tencent web maps, 高德); bd09 (Baidu, 百度); "
    "xian80 (西安80); beijing54 (北京54); "
    "3-degree Gauss-Krüger zones: gk37, gk38 or 38带 (zone number prefixed to the easting, "
    "EPSG:4525/4526) or cm111, cm114 (no prefix, EPSG:4546/4547), optionally after a datum: "
    "xian80:gk37, 西安80:38带, beijing54:cm111"
)


@dataclass(frozen=True)
class CRSSpec:
    """A parsed CRS spec.

    Attributes
    ----------
    name : str
        The canonical spelling (``"gcj02"``, ``"EPSG:4526"``, ...).
    crs : pyproj.CRS
        The CRS the coordinates are in once any web-map obfuscation is removed; for ``gcj02``
        and ``bd09`` this is WGS84 (EPSG:4326).
    obfuscation : {"gcj02", "bd09"} or None
        The web-map offset applied on top of WGS84 longitude and latitude, if any.
    zone_prefixed : bool
        True for Gauss-Krüger CRSs whose easting carries the zone number (38 512 345.6 m).
    zone : int or None
        The 3-degree zone number (prefixed CRSs) or None.
    central_meridian : float or None
        Degrees east, for Gauss-Krüger CRSs.
    """

    name: str
    crs: CRS
    obfuscation: Obfuscation | None = None
    zone_prefixed: bool = False
    zone: int | None = None
    central_meridian: float | None = None
    description: str = field(default="", compare=False)

    @property
    def is_geographic(self) -> bool:
        """True when the numbers are longitude and latitude in degrees."""
        return bool(self.crs.is_geographic)

    @property
    def is_gauss_kruger(self) -> bool:
        return self.central_meridian is not None

    def __str__(self) -> str:
        return self.name


def _gk_info(crs: CRS) -> tuple[bool, int | None, float | None]:
    """Zone prefix, zone number and central meridian of a 3-degree GK CRS (else no info)."""
    name = crs.name or ""
    if "Gauss-Kruger" not in name and "Gauss-Krüger" not in name:
        return False, None, None
    m = re.search(r"zone (\d+)", name)
    cm: float | None = None
    for param in crs.coordinate_operation.params if crs.coordinate_operation else []:
        if "central meridian" in param.name.lower() or "longitude of natural origin" in (
            param.name.lower()
        ):
            cm = float(param.value)
    if m:
        return True, int(m.group(1)), cm
    return False, None, cm


def _from_epsg(code: int, name: str | None = None) -> CRSSpec:
    try:
        crs = CRS.from_epsg(code)
    except _PyprojCRSError as exc:
        raise CRSError(
            f"EPSG:{code} is not in the EPSG registry. Accepted: {ACCEPTED_SPECS}"
        ) from exc
    prefixed, zone, cm = _gk_info(crs)
    return CRSSpec(
        name=name or f"EPSG:{code}",
        crs=crs,
        zone_prefixed=prefixed,
        zone=zone,
        central_meridian=cm,
        description=crs.name,
    )


def parse_crs(spec: str | int | CRS | CRSSpec) -> CRSSpec:
    """Parse a CRS spec as users write it.

    Parameters
    ----------
    spec : str, int, pyproj.CRS or CRSSpec
        See ``ACCEPTED_SPECS``; case and ``-``/``_``/spaces are ignored (``GCJ-02`` works).

    Returns
    -------
    CRSSpec

    Raises
    ------
    CRSError
        For an unknown spec; the message lists what is accepted.

    Examples
    --------
    >>> parse_crs("cm111").crs.to_epsg()
    4546
    >>> parse_crs("xian80:gk37").crs.to_epsg()
    2361
    >>> parse_crs("GCJ-02").obfuscation
    'gcj02'
    """
    if isinstance(spec, CRSSpec):
        return spec
    if isinstance(spec, CRS):
        code = spec.to_epsg()
        if code is not None:
            return _from_epsg(code)
        prefixed, zone, cm = _gk_info(spec)
        return CRSSpec(spec.to_string(), spec, None, prefixed, zone, cm, spec.name)
    if isinstance(spec, bool) or not isinstance(spec, int | str):
        raise CRSError(
            f"CRS spec must be text or an EPSG code, got {spec!r}. Accepted: {ACCEPTED_SPECS}"
        )
    if isinstance(spec, int):
        return _from_epsg(spec)
    raw = spec.strip()
    key = re.sub(r"[\s_\-']", "", raw.lower())
    if m := re.fullmatch(r"(?:epsg:?)?(\d{4,6})", key):
        return _from_epsg(int(m.group(1)))
    if (m := _ZH_ZONE.fullmatch(key)) and ("带" in key or m.group(1)):
        key = f"{m.group(1) + ':' if m.group(1) else ''}gk{m.group(2)}"
    if key in _SIMPLE:
        code, obf = _SIMPLE[key]
        canonical = "wgs84" if obf is None else obf
        base = _from_epsg(code, canonical)
        return CRSSpec(canonical, base.crs, obf, description=f"{canonical} lon/lat")  # type: ignore[arg-type]
    if key in _DATUM_ALIASES:
        datum = _DATUM_ALIASES[key]
        return _from_epsg(_DATUMS[datum][0], datum)
    m = re.fullmatch(r"(?:([^:：]+)[:：])?(gk|cm|zone)(\d{2,3})e?", key)
    if m:
        datum_key, kind, num_s = m.group(1) or "cgcs2000", m.group(2), int(m.group(3))
        if datum_key not in _DATUM_ALIASES:
            raise CRSError(
                f"unknown datum {datum_key!r} in CRS spec {raw!r}; datums: cgcs2000, xian80, "
                f"beijing54. Accepted: {ACCEPTED_SPECS}"
            )
        datum = _DATUM_ALIASES[datum_key]
        _, first_zone, first_cm = _DATUMS[datum]
        if kind in ("gk", "zone") and 25 <= num_s <= 45:
            spec_out = _from_epsg(first_zone + num_s - 25)
            return CRSSpec(f"{datum}:gk{num_s}", *_fields(spec_out))
        is_cm = kind == "cm" or len(m.group(3)) == 3  # gk + two digits is always a zone
        if is_cm and 75 <= num_s <= 135 and num_s % 3 == 0:
            spec_out = _from_epsg(first_cm + (num_s - 75) // 3)
            return CRSSpec(f"{datum}:cm{num_s}", *_fields(spec_out))
        raise CRSError(
            f"CRS spec {raw!r}: a 3-degree Gauss-Krüger zone is 25-45 (gk37) or a central "
            f"meridian 75-135 divisible by 3 (cm111). Shanxi lies in zones 37 and 38 "
            f"(CM 111E, 114E). Accepted: {ACCEPTED_SPECS}"
        )
    raise CRSError(f"unknown CRS spec {raw!r}. Accepted: {ACCEPTED_SPECS}")


#: Latitudes and longitudes of China, degrees: every latitude is below every longitude, so
#: a pair's order is told by the numbers themselves (Google Maps copies latitude first).
CHINA_LAT = (18.0, 54.0)
CHINA_LON = (73.0, 136.0)


def latitude_first(first: npt.ArrayLike, second: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Whether each pair of degrees is written latitude first: the first number a latitude
    of China, the second a longitude of China (never the other way round)."""
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    return (a >= CHINA_LAT[0]) & (a <= CHINA_LAT[1]) & (b >= CHINA_LON[0]) & (b <= CHINA_LON[1])


def _fields(s: CRSSpec) -> tuple[CRS, None, bool, int | None, float | None, str]:
    return (s.crs, None, s.zone_prefixed, s.zone, s.central_meridian, s.description)


# --------------------------------------------------------------------------- GCJ-02 / BD-09
_A = 6378245.0  # Krasovsky 1940 semi-major axis used by the published GCJ-02 algorithm
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0


def _out_of_china(lon: FloatArray, lat: FloatArray) -> npt.NDArray[np.bool_]:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta_lat(x: FloatArray, y: FloatArray) -> FloatArray:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _delta_lon(x: FloatArray, y: FloatArray) -> FloatArray:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _arrays(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    lo = np.asarray(lon, dtype=np.float64)
    la = np.asarray(lat, dtype=np.float64)
    return np.broadcast_arrays(lo, la)  # type: ignore[return-value]


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """WGS84 longitude/latitude (degrees) to GCJ-02, vectorised; zero offset outside China."""
    lo, la = _arrays(lon, lat)
    dlat = _delta_lat(lo - 105.0, la - 35.0)
    dlon = _delta_lon(lo - 105.0, la - 35.0)
    radlat = la / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    out = _out_of_china(lo, la)
    return np.where(out, lo, lo + dlon), np.where(out, la, la + dlat)


def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 to BD-09 (Baidu), vectorised, as in the published algorithm."""
    x, y = _arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _invert(
    forward: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    tol_deg: float,
    max_iter: int = 50,
) -> tuple[FloatArray, FloatArray]:
    """Invert a near-identity map by fixed-point iteration: x <- x - (f(x) - target)."""
    tlo, tla = _arrays(lon, lat)
    lo, la = tlo.copy(), tla.copy()
    for _ in range(max_iter):
        flo, fla = forward(lo, la)
        elo, ela = flo - tlo, fla - tla
        lo = lo - elo
        la = la - ela
        if not np.any((np.abs(elo) > tol_deg) | (np.abs(ela) > tol_deg)):
            break
    return lo, la


# 1e-8 degree is 1.1 mm of latitude: comfortably better than the 0.05 m asked of the inverse.
_TOL_DEG = 1e-8


def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 to WGS84, iterated until the forward map reproduces the input within ~1 mm."""
    return _invert(wgs84_to_gcj02, lon, lat, _TOL_DEG)


def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """BD-09 to GCJ-02, iterated to the same tolerance (exact inverse of :func:`gcj02_to_bd09`)."""
    return _invert(gcj02_to_bd09, lon, lat, _TOL_DEG)


def wgs84_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """WGS84 to BD-09 through GCJ-02."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """BD-09 to WGS84 through GCJ-02."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_CONVERTERS: dict[
    tuple[str, str], Callable[[npt.ArrayLike, npt.ArrayLike], tuple[FloatArray, FloatArray]]
] = {
    ("wgs84", "gcj02"): wgs84_to_gcj02,
    ("gcj02", "wgs84"): gcj02_to_wgs84,
    ("gcj02", "bd09"): gcj02_to_bd09,
    ("bd09", "gcj02"): bd09_to_gcj02,
    ("wgs84", "bd09"): wgs84_to_bd09,
    ("bd09", "wgs84"): bd09_to_wgs84,
}


def convert_geometries(
    geometries: npt.ArrayLike, src: Literal["wgs84", "gcj02", "bd09"], dst: str
) -> npt.NDArray[np.object_]:
    """Convert whole geometries (points, lines, polygons, multi-parts) between lon/lat datums.

    All coordinates of all geometries go through one vectorised call; Z values are kept.

    >>> g = convert_geometries([shapely.Point(116.377817, 39.911954)], "wgs84", "gcj02")[0]
    >>> round(g.x, 6), round(g.y, 6)
    (116.384047, 39.913345)
    """
    if src == dst:
        return np.asarray(geometries, dtype=object)
    try:
        func = _CONVERTERS[(src, dst)]
    except KeyError:
        raise CRSError(
            f"no conversion from {src!r} to {dst!r}; choose among wgs84, gcj02, bd09"
        ) from None

    def _apply(xy: FloatArray) -> FloatArray:
        lo, la = func(xy[:, 0], xy[:, 1])
        out = xy.copy()
        out[:, 0], out[:, 1] = lo, la
        return out

    # include_z=None keeps each geometry's own dimensionality (Z values pass through).
    return shapely.transform(np.asarray(geometries, dtype=object), _apply, include_z=None)


# --------------------------------------------------------------------------- working CRS
@dataclass(frozen=True)
class WorkingCRS:
    """The metric CRS an analysis measures in, and why it was chosen."""

    crs: CRS
    reason: str
    max_scale_error: float  # largest |k - 1| of the projection over the data's extent

    @property
    def epsg(self) -> int | None:
        return self.crs.to_epsg()


def choose_working_crs(bounds_lonlat: tuple[float, float, float, float]) -> WorkingCRS:
    """Choose the CGCS2000 3-degree Gauss-Krüger CRS for data with these lon/lat bounds.

    The central meridian nearest the centre of the extent is chosen and the easting carries no
    zone prefix (EPSG:4534-4554), so that eastings of data from the neighbouring zone stay
    plain numbers. The reason names the largest scale error over the extent: Gauss-Krüger
    lengths grow by about ``(Δλ·cos φ)² / 2`` away from the central meridian. Analyses that
    decide a threshold refine borderline distances on the ellipsoid, so this error never
    changes an answer; it is stated so that users know what planar numbers mean.

    >>> w = choose_working_crs(SHANXI_BOUNDS)
    >>> w.epsg
    4546
    """
    minx, miny, maxx, maxy = bounds_lonlat
    if not (73.0 <= minx <= maxx <= 136.0 and 3.0 <= miny <= maxy <= 54.0):
        raise CRSError(
            f"data extent {bounds_lonlat} (lon/lat) is not within China; CGCS2000 Gauss-Krüger "
            "zones cover 73-136°E, 3-54°N. Check the declared CRS of the input."
        )
    centre = (minx + maxx) / 2.0
    cm = int(round(centre / 3.0) * 3)
    cm = min(max(cm, 75), 135)
    code = 4534 + (cm - 75) // 3
    dl = math.radians(max(abs(minx - cm), abs(maxx - cm)))
    phi = math.radians(min(abs(miny), abs(maxy)))
    k = (dl * math.cos(phi)) ** 2 / 2.0
    crs = CRS.from_epsg(code)
    reason = (
        f"{crs.name} (EPSG:{code}): the 3-degree Gauss-Krüger central meridian nearest the "
        f"centre of the data ({centre:.2f}°E); the data span {minx:.2f}-{maxx:.2f}°E, so planar "
        f"lengths are at most {k * 1000:.2f}‰ long ({k * 20000:.0f} m over 20 km). Threshold "
        f"distances are computed on the ellipsoid, areas on the ellipsoid where they decide."
    )
    return WorkingCRS(crs, reason, k)


# --------------------------------------------------------------------------- diagnostics
@dataclass(frozen=True)
class CoordinateIssue:
    """A likely mistake in coordinates: what, where (0-based positions), and the fix."""

    code: Literal[
        "swapped",
        "projected_as_degrees",
        "prefix_without_zone",
        "missing_prefix",
        "wrong_zone",
        "outside_study_area",
        "not_finite",
        "degrees_as_projected",
    ]
    message: str
    fix: str
    positions: tuple[int, ...]


def _first(mask: npt.NDArray[np.bool_]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.flatnonzero(mask))


def check_coordinates(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    spec: str | int | CRS | CRSSpec,
    *,
    study_area: tuple[float, float, float, float] | None = SHANXI_BOUNDS,
    margin_deg: float = 1.0,
) -> list[CoordinateIssue]:
    """Name the common coordinate mistakes, without changing anything.

    Parameters
    ----------
    x, y : array-like
        Coordinates as given (longitude and latitude for geographic specs; easting and northing
        for projected ones).
    spec : CRS spec
        The CRS the user declared.
    study_area : (minlon, minlat, maxlon, maxlat) or None
        WGS84 bounds; points more than ``margin_deg`` outside are reported (projected
        coordinates are taken to longitude and latitude first). None skips that check.

    Returns
    -------
    list of CoordinateIssue
        Empty when nothing looks wrong.

    Examples
    --------
    >>> [i.code for i in check_coordinates([37.8], [112.5], "wgs84")]
    ['swapped']
    >>> [i.code for i in check_coordinates([38512345.0], [4192345.0], "cm114")]
    ['prefix_without_zone']
    >>> [i.code for i in check_coordinates([112.5], [37.8], "cm111")]
    ['degrees_as_projected']
    """
    s = parse_crs(spec)
    xa = np.atleast_1d(np.asarray(x, dtype=np.float64))
    ya = np.atleast_1d(np.asarray(y, dtype=np.float64))
    issues: list[CoordinateIssue] = []
    bad = ~(np.isfinite(xa) & np.isfinite(ya))
    if bad.any():
        issues.append(
            CoordinateIssue(
                "not_finite",
                "coordinates are missing or not numbers",
                "fill in or remove these rows",
                _first(bad),
            )
        )
    ok = ~bad
    if s.is_geographic:
        issues += _geographic_issues(xa, ya, s, ok)
    else:
        issues += _projected_issues(xa, ya, s, ok)
    if study_area is not None:
        flagged = np.zeros(len(xa), dtype=bool)
        for i in issues:
            flagged[list(i.positions)] = True
        issues += _outside_issues(xa, ya, s, ok & ~flagged, study_area, margin_deg)
    return issues


def _geographic_issues(
    xa: FloatArray, ya: FloatArray, s: CRSSpec, ok: npt.NDArray[np.bool_]
) -> list[CoordinateIssue]:
    """Swapped longitude and latitude; metres declared as degrees."""
    issues: list[CoordinateIssue] = []
    swapped = ok & (xa >= 3) & (xa <= 54) & (ya >= 73) & (ya <= 136)
    if swapped.any():
        issues.append(
            CoordinateIssue(
                "swapped",
                f"longitude and latitude look swapped: ({xa[swapped][0]}, {ya[swapped][0]}) has a "
                "latitude-sized first value and a longitude-sized second value",
                "swap the columns, or name them lon/lat (经度/纬度) explicitly",
                _first(swapped),
            )
        )
    proj_like = ok & ~swapped & ((np.abs(xa) > 180) | (np.abs(ya) > 90))
    if proj_like.any():
        big, big_y = xa[proj_like], ya[proj_like]
        mercator = 1.1e7 < np.nanmedian(big) < 1.5e7 and 2.5e6 < np.nanmedian(big_y) < 6.5e6
        hint = (
            "these look like Web Mercator metres (Baidu's BD09MC or EPSG:3857: x about "
            "12 500 000 in Shanxi), no Gauss-Krüger zone: convert them to longitude and "
            "latitude first (BD09MC to BD-09, then --crs bd09)"
            if mercator
            else "the eastings carry a zone number (e.g. 38 512 345): declare gk37 or gk38"
            if np.nanmedian(big) > 1e7
            else "declare the projected CRS, e.g. cm111 or cm114 (CGCS2000 Gauss-Krüger)"
        )
        issues.append(
            CoordinateIssue(
                "projected_as_degrees",
                f"values such as ({xa[proj_like][0]:.1f}, {ya[proj_like][0]:.1f}) are metres, "
                f"not degrees, but the declared CRS {s.name} is geographic",
                hint,
                _first(proj_like),
            )
        )
    return issues


def _outside_issues(
    xa: FloatArray,
    ya: FloatArray,
    s: CRSSpec,
    ok: npt.NDArray[np.bool_],
    study_area: tuple[float, float, float, float],
    margin_deg: float,
) -> list[CoordinateIssue]:
    """Points far outside the study area (lon/lat; projected points are unprojected)."""
    lon, lat = xa, ya
    if not s.is_geographic and ok.any():
        tf = Transformer.from_crs(s.crs, s.crs.geodetic_crs or 4326, always_xy=True)
        lon, lat = np.full(len(xa), np.nan), np.full(len(xa), np.nan)
        lon[ok], lat[ok] = tf.transform(xa[ok], ya[ok], errcheck=False)
    a, b, c, d = study_area
    m = margin_deg
    with np.errstate(invalid="ignore"):
        inside = (lon >= a - m) & (lon <= c + m) & (lat >= b - m) & (lat <= d + m)
    far = ok & ~inside
    if not far.any():
        return []
    where = (
        f"({xa[far][0]}, {ya[far][0]})"
        if s.is_geographic
        else f"({xa[far][0]:.1f}, {ya[far][0]:.1f}) (lon/lat {lon[far][0]:.3f}, {lat[far][0]:.3f})"
    )
    return [
        CoordinateIssue(
            "outside_study_area",
            f"points such as {where} lie far outside the study area {study_area} (lon/lat) "
            f"under the declared CRS {s.name}",
            "check the declared CRS and the coordinate columns",
            _first(far),
        )
    ]


def _projected_issues(
    xa: FloatArray, ya: FloatArray, s: CRSSpec, ok: npt.NDArray[np.bool_]
) -> list[CoordinateIssue]:
    """Degrees declared as metres; for Gauss-Krüger: swapped axes and zone prefixes."""
    issues: list[CoordinateIssue] = []
    degrees = ok & (np.abs(xa) <= 180) & (np.abs(ya) <= 90)
    if degrees.any():
        # a projected CRS in metres cannot put anything of China within 180 m of its origin
        issues.append(
            CoordinateIssue(
                "degrees_as_projected",
                f"values such as ({xa[degrees][0]}, {ya[degrees][0]}) look like lon/lat "
                f"degrees, but the declared CRS {s.name} is projected (metres)",
                "these look like lon/lat degrees: give --crs wgs84/cgcs2000 (gcj02 for "
                "Amap/Tencent, bd09 for Baidu), or correct the file's .prj",
                _first(degrees),
            )
        )
    if s.is_gauss_kruger:
        issues += _gk_issues(xa, ya, s, ok & ~degrees)
    return issues


def _gk_issues(
    xa: FloatArray, ya: FloatArray, s: CRSSpec, ok: npt.NDArray[np.bool_]
) -> list[CoordinateIssue]:
    """Gauss-Krüger: swapped easting and northing, zone prefixes missing, extra or wrong."""
    issues: list[CoordinateIssue] = []
    # GK northings in China are 0.3-6.1 million metres; eastings 0.2-0.8 million (+ zone).
    swapped = ok & (xa > 1e6) & (xa < 6.5e6) & (((ya > 1e5) & (ya < 9e5)) | (ya > 1e7))
    if swapped.any():
        issues.append(
            CoordinateIssue(
                "swapped",
                f"easting and northing look swapped: ({xa[swapped][0]:.1f}, {ya[swapped][0]:.1f}); "
                "in surveying (界址点) files X is the northing and Y the easting",
                "swap the columns (X -> northing, Y -> easting)",
                _first(swapped),
            )
        )
    rest = ok & ~swapped
    if s.zone_prefixed:
        nopre = rest & (xa < 1e7)
        if nopre.any():
            issues.append(
                CoordinateIssue(
                    "missing_prefix",
                    f"eastings such as {xa[nopre][0]:.1f} carry no zone number, but {s.name} "
                    "expects one (e.g. 38 512 345)",
                    f"declare cm{int(s.central_meridian or 0)} instead",
                    _first(nopre),
                )
            )
        zones = np.floor(xa / 1e6)
        wrong = rest & (xa >= 1e7) & (zones != s.zone)
        if wrong.any():
            z = int(zones[wrong][0])
            issues.append(
                CoordinateIssue(
                    "wrong_zone",
                    f"eastings such as {xa[wrong][0]:.1f} carry zone {z}, but {s.name} is zone "
                    f"{s.zone}",
                    f"declare gk{z}",
                    _first(wrong),
                )
            )
    else:
        pre = rest & (xa >= 1e7)
        if pre.any():
            z = int(np.floor(xa[pre][0] / 1e6))
            issues.append(
                CoordinateIssue(
                    "prefix_without_zone",
                    f"eastings such as {xa[pre][0]:.1f} carry the zone number {z}, but {s.name} "
                    "has no zone prefix",
                    f"declare gk{z} (zone-prefixed eastings)",
                    _first(pre),
                )
            )
    return issues
