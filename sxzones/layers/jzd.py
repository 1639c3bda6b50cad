"""界址点 (parcel boundary-point) coordinate files, as exchanged in Chinese land administration.

The common layout (the land-survey exchange text format)::

    [属性描述]
    坐标系=2000国家大地坐标系
    几度分带=3
    带号=38
    [地块坐标]
    5,1.0000,1,甲地块,面,,工业用地,,@       <- parcel header: points, area, id, name, shape, ...
    J1,1,4192000.000,38512000.000           <- point: label, ring number, X (northing), Y (easting)
    ...

X is the **northing** and Y the **easting**, which carries the zone number in front
(38 512 000.0 is 512 000.0 m in zone 38). Ring 1 is the outer ring; further ring numbers are
holes when they lie inside an earlier ring, else further parts of a multi-part parcel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import shapely

from sxzones.crs import CRSSpec, parse_crs
from sxzones.errors import LayerError

__all__ = ["JzdParcel", "is_jzd_text", "parse_jzd"]

_DATUM_WORDS = [
    ("2000", "cgcs2000"),
    ("西安", "xian80"),
    ("80", "xian80"),
    ("北京", "beijing54"),
    ("54", "beijing54"),
]


@dataclass
class JzdParcel:
    parcel_id: str
    name: str
    use: str
    land_class: str
    declared_area: float | None
    line: int  # line of the header in the file (1-based)
    rings: dict[str, list[tuple[float, float, int]]]  # ring -> [(easting, northing, line)]


def is_jzd_text(text: str) -> bool:
    """True when the text looks like a 界址点 file (has a [地块坐标] section)."""
    return "[地块坐标]" in text


def read_text(path: Path, encoding: str | None) -> tuple[str, str]:
    """Read a text file as UTF-8 (with or without BOM) or, failing that, GB18030."""
    data = path.read_bytes()
    encodings = [encoding] if encoding else ["utf-8-sig", "gb18030"]
    for enc in encodings:
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    raise LayerError(
        f"{path}: the text is neither UTF-8 nor GB18030 ({encoding or 'auto'}); pass the right "
        "encoding (--encoding)"
    )


def _spec_from_header(props: dict[str, str], path: Path) -> CRSSpec | None:
    system = props.get("坐标系", "")
    zone_s = props.get("带号", "").strip()
    width = props.get("几度分带", "3").strip() or "3"
    if not system and not zone_s:
        return None
    datum = "cgcs2000"
    for word, d in _DATUM_WORDS:
        if word in system:
            datum = d
            break
    if not zone_s:
        return None
    if width != "3":
        raise LayerError(
            f"{path}: 几度分带={width}: only 3-degree Gauss-Krüger zones are supported; pass the "
            "CRS explicitly (--crs EPSG:...)"
        )
    return parse_crs(f"{datum}:gk{int(zone_s)}")


def parse_jzd(path: Path, *, encoding: str | None = None) -> tuple[list[JzdParcel], CRSSpec | None]:
    """Parse a 界址点 file into parcels; returns the parcels and the CRS its header declares.

    Raises
    ------
    LayerError
        Naming the line and what is wrong with it.
    """
    text, _ = read_text(path, encoding)
    props: dict[str, str] = {}
    parcels: list[JzdParcel] = []
    section = ""
    current: JzdParcel | None = None
    errors: list[str] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line
            continue
        if section == "[属性描述]":
            if "=" in line:
                k, _, v = line.partition("=")
                props[k.strip()] = v.strip()
            continue
        if section != "[地块坐标]":
            continue
        cells = [c.strip() for c in re.split(r"[,，]", line)]
        if cells[-1] == "@":
            area: float | None
            try:
                area = float(cells[1]) if cells[1] else None
            except ValueError:
                area = None
            current = JzdParcel(
                parcel_id=cells[2] if len(cells) > 2 and cells[2] else f"parcel{len(parcels) + 1}",
                name=cells[3] if len(cells) > 3 else "",
                use=cells[6] if len(cells) > 6 else "",
                land_class=cells[7] if len(cells) > 7 else "",
                declared_area=area,
                line=lineno,
                rings={},
            )
            parcels.append(current)
            continue
        if current is None:
            errors.append(f"line {lineno}: a point before any parcel header (a line ending in @)")
            continue
        if len(cells) < 4:
            errors.append(
                f"line {lineno}: expected 点号,圈号,X,Y (label, ring, northing, easting); got {line!r}"
            )
            continue
        try:
            northing, easting = float(cells[2]), float(cells[3])
        except ValueError:
            errors.append(f"line {lineno}: X and Y must be numbers; got {cells[2]!r}, {cells[3]!r}")
            continue
        current.rings.setdefault(cells[1] or "1", []).append((easting, northing, lineno))
    if section == "" and not parcels:
        raise LayerError(f"{path}: not a 界址点 file: no [地块坐标] section")
    if errors:
        raise LayerError(f"{path}: {len(errors)} malformed line(s):\n  " + "\n  ".join(errors[:20]))
    return parcels, _spec_from_header(props, path)


def parcel_geometry(parcel: JzdParcel) -> tuple[shapely.Geometry | None, str | None]:
    """Build the parcel's (multi)polygon; returns (geometry, problem)."""
    exteriors: list[list[shapely.Geometry]] = []  # [shell, holes...]
    for ring_id in sorted(parcel.rings, key=lambda r: (len(r), r)):
        pts = [(e, n) for e, n, _ in parcel.rings[ring_id]]
        if len(pts) > 1 and pts[0] == pts[-1]:
            pts = pts[:-1]
        if len(pts) < 3:
            return None, f"ring {ring_id} has {len(pts)} distinct points; a ring needs 3 or more"
        ring = shapely.Polygon(pts)
        for part in exteriors:
            if part[0].contains(shapely.point_on_surface(ring)):
                part.append(ring)
                break
        else:
            exteriors.append([ring])
    if not exteriors:
        return None, "no boundary points"
    polys = [
        shapely.Polygon(p[0].exterior.coords, [h.exterior.coords for h in p[1:]]) for p in exteriors
    ]
    return (polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)), None
