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
(38 512 000.0 is 512 000.0 m in zone 38). A ring inside another is a hole (inside two, an
island in it), whatever its number; rings apart are parts of a multi-part parcel.

As tools in the wild write them, also read:

* an empty ``带号=``: the zone is the prefix of the eastings (said in the notes); a
  ``带号`` with eastings that do not carry it: the zone's central meridian (said too);
* east-first coordinates (Y before X): unambiguous because the zone-prefixed easting has
  8 integer digits (or, without a prefix, 6 against the northing's 7); read and said;
* 6-degree zones (``几度分带=6``, ``分带=6度带``; zones 13-23), and ``分带=3度带``; with no width
  given, the zone number tells it (13-23: 6-degree, 25-45: 3-degree);
* an ``[扩展信息]`` section (ignored, as any other section);
* a plain point list, one point a line, ``点号,X,Y`` or ``点号,圈号,X,Y`` (an optional
  header line, commas, tabs or spaces): one parcel named after the file, whose CRS is given
  by the caller (``--crs``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import shapely

from sxzones.crs import CRSSpec, parse_crs
from sxzones.errors import LayerError

__all__ = [
    "JzdParcel",
    "axis_order",
    "east_first",
    "is_jzd_text",
    "is_point_list",
    "parse_jzd",
    "parse_point_list",
]

_DATUM_WORDS = [
    ("2000", "cgcs2000"),
    ("西安", "xian80"),
    ("80", "xian80"),
    ("北京", "beijing54"),
    ("54", "beijing54"),
]
# First EPSG code of the zone-prefixed 6-degree Gauss-Krüger CRSs (zone 13), per datum.
_GK6_FIRST = {"cgcs2000": 4491, "xian80": 2327, "beijing54": 21413}
_SPLIT = re.compile(r"\s*[,，\t]\s*|\s+")


@dataclass
class JzdParcel:
    parcel_id: str
    name: str
    use: str
    land_class: str
    declared_area: float | None
    line: int  # line of the header in the file (1-based)
    rings: dict[str, list[tuple[float, float, int]]]  # ring -> [(first, second, line)] as written
    points: int | None = None  # the header's 界址点数, when it gives one
    problem: str | None = None  # why the lines make no parcel (:func:`count_problem`)


def is_jzd_text(text: str) -> bool:
    """True when the text looks like a 界址点 file (has a [地块坐标] section)."""
    return "[地块坐标]" in text


def _point_cells(line: str) -> list[str] | None:
    """``[label, ring, x, y]`` of a point-list line, or None when it is not one."""
    cells = [c for c in _SPLIT.split(line.strip()) if c]
    if len(cells) not in (3, 4):
        return None
    try:
        float(cells[-1]), float(cells[-2])
    except ValueError:
        return None
    if len(cells) == 4 and not re.fullmatch(r"\d+", cells[1]):
        return None
    return [cells[0], cells[1] if len(cells) == 4 else "1", cells[-2], cells[-1]]


def is_point_list(text: str) -> bool:
    """True when every line (but an optional header) is ``点号,[圈号,]X,Y`` and there are 3+."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if lines and _point_cells(lines[0]) is None:
        lines = lines[1:]  # a header such as 点号,X,Y
    return len(lines) >= 3 and all(_point_cells(ln) is not None for ln in lines)


def read_text(path: Path, encoding: str | None) -> tuple[str, str]:
    """Read a text file as UTF-8 (with or without BOM), UTF-16 (with its byte-order mark, as
    Windows Notepad saves "Unicode") or, failing those, GB18030."""
    data = path.read_bytes()
    utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff")
    encodings = [encoding] if encoding else ["utf-16"] if utf16 else ["utf-8-sig", "gb18030"]
    for enc in encodings:
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    what = f"not {encoding}" if encoding else "neither UTF-8, UTF-16 nor GB18030"
    raise LayerError(f"{path}: the text is {what}. Fix: pass the right encoding (--encoding)")


def _width(props: dict[str, str], zone: int | None, path: Path) -> int:
    """The zone width (3 or 6 degrees): 几度分带 / 分带, else from the zone number."""
    text = props.get("几度分带", "") or props.get("分带", "")
    m = re.search(r"\d+", text)
    if m:
        width = int(m.group())
    elif zone is not None:
        width = 6 if zone <= 23 else 3
    else:
        width = 3
    if width not in (3, 6):
        raise LayerError(
            f"{path}: 几度分带={text}: zones are 3 or 6 degrees wide. Fix: correct the header, "
            "or pass the CRS explicitly (--crs EPSG:...)"
        )
    return width


def _spec_from_header(
    props: dict[str, str],
    path: Path,
    eastings: list[float],
    notes: list[str],
    declared: bool = False,
) -> CRSSpec | None:
    """The CRS the header declares; an empty 带号 takes the zone from the eastings' prefix.
    A blank 坐标系 is CGCS2000, said as a note; one naming none of the national systems (a
    city's 独立坐标系) is refused unless the CRS was given (``declared``)."""
    system = props.get("坐标系", "").strip()
    zone_s = props.get("带号", "").strip()
    if not system and not zone_s:
        return None
    datum = next((d for word, d in _DATUM_WORDS if word in system), None)
    if datum is None and system:
        if declared:
            notes.append(f"界址点 坐标系={system}: not used, the coordinates are read as given")
            return None
        raise LayerError(
            f"{path}: 坐标系={system} is none of the national systems (2000国家大地坐标系, "
            "1980西安坐标系, 1954北京坐标系): a local (独立) system has its own origin and "
            "parameters, and read as CGCS2000 every point would be off. Fix: convert the file "
            "to 2000国家大地坐标系, or give the file's CRS (--crs EPSG:...)"
        )
    if datum is None:
        datum = "cgcs2000"
        notes.append("界址点 坐标系 is blank: read as 2000国家大地坐标系 (CGCS2000)")
    if zone_s:
        zone = int(float(zone_s))
    else:
        prefixed = [e for e in eastings if e >= 1e7]
        if not prefixed:
            return None  # no zone anywhere: the caller gives the CRS
        zones = sorted({int(e // 1e6) for e in prefixed})
        if len(zones) > 1:
            raise LayerError(f"{path}: 带号 is empty and the eastings carry zones {zones}")
        zone = zones[0]
        notes.append(f"界址点 带号 is empty: zone {zone} read from the eastings' prefix")
    width = _width(props, zone, path)
    if zone_s and eastings and max(abs(e) for e in eastings) < 1e7:
        # 带号 in the header, eastings without it (as many survey programs write them)
        cm = 3 * zone if width == 3 else 6 * zone - 3
        notes.append(
            f"界址点 带号={zone} with eastings that do not carry it: read on zone {zone}'s "
            f"central meridian, {cm}°E"
        )
        return parse_crs(f"{datum}:cm{cm}")
    if width == 6:
        if not 13 <= zone <= 23:
            raise LayerError(f"{path}: 6-degree zone {zone}: China lies in zones 13-23")
        code = _GK6_FIRST[datum] + zone - 13
        notes.append(f"6-degree Gauss-Krüger zone {zone} (EPSG:{code})")
        return parse_crs(f"EPSG:{code}")
    return parse_crs(f"{datum}:gk{zone}")


def axis_order(pairs: list[tuple[float, float]]) -> bool | None:
    """Which value of projected (Gauss-Krüger) pairs is the easting, told by the values: True
    when every pair is written easting first, False when every one is northing first (X, Y
    as surveyors write them), None when the values do not tell (no pairs, mixed, or neither
    value looks like an easting). The easting is the value with the zone prefix (8 integer
    digits), or without one the value below 1,000,000 against a 7-digit northing.

    >>> axis_order([(4200000.0, 38450000.0)]), axis_order([(450000.0, 4200000.0)])
    (False, True)
    >>> axis_order([(4200000.0, 4300000.0)]) is None
    True
    """

    def is_easting(v: float) -> bool:
        return abs(v) >= 1e7 or abs(v) < 1e6

    first = {(is_easting(a) and not is_easting(b)) for a, b in pairs}
    second = {(is_easting(b) and not is_easting(a)) for a, b in pairs}
    if first == {True}:
        return True
    if second == {True}:
        return False
    return None


def east_first(pairs: list[tuple[float, float]], path: Path | str) -> bool:
    """Whether the points are written easting first (:func:`axis_order`); X (northing)
    first when there are none. One rule for 界址点 files, tables of corners (X/Y columns),
    pasted 界址点 lines and ``--project X,Y``.

    Raises
    ------
    LayerError
        The values do not tell: mixed orders, or neither value looks like an easting.
    """
    order = axis_order(pairs)
    if order is not None or not pairs:
        return bool(order)
    raise LayerError(
        f"{path}: the points mix northing-first and easting-first order (or neither value "
        "looks like a Gauss-Krüger easting). Fix: write X (northing), Y (easting) on every line"
    )


def _orient(parcels: list[JzdParcel], path: Path, notes: list[str]) -> list[float]:
    """Put every point as (easting, northing); returns the eastings."""
    pairs = [(a, b) for p in parcels for ring in p.rings.values() for a, b, _ in ring]
    swap = not east_first(pairs, path)
    if not swap:
        notes.append("界址点 coordinates are written easting first (Y, X): read by the zone prefix")
    for p in parcels:
        for ring in p.rings.values():
            ring[:] = [((b, a) if swap else (a, b)) + (ln,) for a, b, ln in ring]
    return [e for p in parcels for ring in p.rings.values() for e, _, _ in ring]


def _number(cell: str) -> float | None:
    """A header cell as a number, None when blank or not one."""
    try:
        return float(cell) if cell else None
    except ValueError:
        return None


def _parcel_header(cells: list[str], lineno: int, n: int) -> JzdParcel:
    area = _number(cells[1]) if len(cells) > 1 else None
    count = _number(cells[0])
    return JzdParcel(
        parcel_id=cells[2] if len(cells) > 2 and cells[2] else f"parcel{n + 1}",
        name=cells[3] if len(cells) > 3 else "",
        use=cells[6] if len(cells) > 6 else "",
        land_class=cells[7] if len(cells) > 7 else "",
        declared_area=area,
        line=lineno,
        rings={},
        points=int(count) if count is not None and count.is_integer() and count > 0 else None,
    )


def parse_jzd(
    path: Path,
    *,
    encoding: str | None = None,
    notes: list[str] | None = None,
    declared: bool = False,
) -> tuple[list[JzdParcel], CRSSpec | None]:
    """Parse a 界址点 file into parcels (points as easting, northing); returns the parcels
    and the CRS its header declares. What was inferred goes to ``notes``. ``declared``: the
    user gave the CRS, which then stands for a 坐标系 sxzones does not know (a local one).

    Raises
    ------
    LayerError
        Naming the line and what is wrong with it.
    """
    text, _ = read_text(path, encoding)
    notes = notes if notes is not None else []
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
            continue  # [扩展信息] and any other section
        cells = [c.strip() for c in re.split(r"[,，]", line)]
        if cells[-1] == "@":
            current = _parcel_header(cells, lineno, len(parcels))
            parcels.append(current)
        elif current is None:
            errors.append(f"line {lineno}: a point before any parcel header (a line ending in @)")
        elif len(cells) < 4:
            errors.append(
                f"line {lineno}: expected 点号,圈号,X,Y (label, ring, northing, easting); got {line!r}"
            )
        else:
            try:
                a, b = float(cells[2]), float(cells[3])
            except ValueError:
                errors.append(
                    f"line {lineno}: X and Y must be numbers; got {cells[2]!r}, {cells[3]!r}"
                )
                continue
            current.rings.setdefault(cells[1] or "1", []).append((a, b, lineno))
    if section == "" and not parcels:
        raise LayerError(f"{path}: not a 界址点 file: no [地块坐标] section")
    if errors:
        raise LayerError(f"{path}: {len(errors)} malformed line(s):\n  " + "\n  ".join(errors[:20]))
    eastings = _orient(parcels, path, notes)
    for p in parcels:
        p.problem = count_problem(p)
    return parcels, _spec_from_header(props, path, eastings, notes, declared)


def parse_point_list(
    path: Path, *, encoding: str | None = None, notes: list[str] | None = None
) -> list[JzdParcel]:
    """A plain point list (``点号,[圈号,]X,Y`` lines) as one parcel named after the file."""
    text, _ = read_text(path, encoding)
    notes = notes if notes is not None else []
    parcel = JzdParcel(path.stem, "", "", "", None, 1, {})
    for lineno, raw in enumerate(text.splitlines(), start=1):
        cells = _point_cells(raw) if raw.strip() else None
        if cells is None:
            continue  # blank or the header line
        parcel.rings.setdefault(cells[1], []).append((float(cells[2]), float(cells[3]), lineno))
    notes.append(f"plain 界址点 point list read as one parcel ({path.stem})")
    _orient([parcel], path, notes)
    parcel.problem = _goes_on(parcel, headed=False)
    return [parcel]


def _lines(lines: list[int]) -> str:
    """Line numbers as ``6-14`` (a run) or listed."""
    if len(lines) > 1 and lines == list(range(lines[0], lines[0] + len(lines))):
        return f"{lines[0]}-{lines[-1]}"
    return ", ".join(map(str, lines))


def _goes_on(parcel: JzdParcel, headed: bool = True) -> str | None:
    """What is wrong when a ring returns to its first point and more points follow under
    the same 圈号 (a following parcel whose header line is missing, or a ring without its
    own 圈号): None when no ring does. ``headed``: the parcel has a header line (not a
    plain point list)."""
    for ring_id, ring in parcel.rings.items():
        first = ring[0][:2]
        back = next((k for k in range(3, len(ring) - 1) if ring[k][:2] == first), None)
        if back is None:
            continue
        rest = [ln for _, _, ln in ring[back + 1 :]]
        said = (
            f"ring {ring_id} returns to its first point at line {ring[back][2]} and goes on "
            f"(lines {_lines(rest)})"
        )
        if not headed:
            return (
                f"{said}: another ring or parcel? Fix: give each ring its own 圈号 "
                "(点号,圈号,X,Y), one parcel a file"
            )
        return (
            f"{said}: a following parcel's header line missing, or a ring without its own "
            "圈号? Fix: add the header line (界址点数,面积,地块编号,...,@) before the next "
            "parcel's points, or give each ring its own 圈号"
        )
    return None


def count_problem(parcel: JzdParcel) -> str | None:
    """What is wrong with a parcel whose header's 界址点数 (``parcel.points``) is neither the
    number of its point lines nor that number without the closing repeats (each ring's last
    point repeating its first; writers count either way), or whose ring returns to its first
    point and goes on: None when all agree (or the header gives no count)."""
    lines = [ln for ring in parcel.rings.values() for _, _, ln in ring]
    closing = sum(len(r) > 1 and r[0][:2] == r[-1][:2] for r in parcel.rings.values())
    wrong = parcel.points is not None and parcel.points not in (len(lines), len(lines) - closing)
    goes_on = _goes_on(parcel)
    if not wrong:
        return goes_on
    said = (
        f"{parcel.parcel_id}: the header (line {parcel.line}) says 界址点数 {parcel.points}, but "
        f"{len(lines)} point line(s) follow" + (f" (lines {_lines(lines)})" if lines else "")
    )
    if goes_on:
        return f"{said}; {goes_on}"
    return (
        f"{said}. Fix: correct 界址点数, or give the parcel's points only (a following "
        "parcel needs its own header line ending in @)"
    )


def parcel_geometry(parcel: JzdParcel) -> tuple[shapely.Geometry | None, str | None]:
    """Build the parcel's (multi)polygon; returns (geometry, problem). A ring inside an odd
    number of the others is a hole of the smallest ring around it, whatever its number (a
    hole numbered before its outer ring was refused as "empty once repaired"); the others
    are outer rings, in the order of their numbers. A parcel whose points disagree with its
    header's 界址点数, or whose ring closes and goes on, has no polygon (its ``problem``,
    :func:`count_problem`)."""
    if parcel.problem is not None:
        return None, parcel.problem
    rings: list[tuple[str, shapely.Geometry]] = []
    for ring_id in sorted(parcel.rings, key=lambda r: (len(r), r)):
        pts = [(e, n) for e, n, _ in parcel.rings[ring_id]]  # (easting, northing)
        if len(pts) > 1 and pts[0] == pts[-1]:
            pts = pts[:-1]
        if len(pts) < 3:
            return None, f"ring {ring_id} has {len(pts)} distinct points; a ring needs 3 or more"
        rings.append((ring_id, shapely.Polygon(pts)))
    if not rings:
        return None, "no boundary points"
    inside = [
        [k for k, (_, other) in enumerate(rings) if k != j and other.contains(ring)]
        for j, (_, ring) in enumerate(rings)
    ]
    holes: dict[int, list[shapely.Geometry]] = {}
    shells = [j for j, around in enumerate(inside) if len(around) % 2 == 0]
    for j, around in enumerate(inside):
        if len(around) % 2:
            parent = min(around, key=lambda k: rings[k][1].area)
            holes.setdefault(parent, []).append(rings[j][1])
    polys = [
        shapely.Polygon(rings[j][1].exterior.coords, [h.exterior.coords for h in holes.get(j, [])])
        for j in shells
    ]
    return (polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)), None
