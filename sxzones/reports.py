"""Printable reports, rendered from the Jinja2 templates in ``sxzones/templates``.

The templates hold the markup; this module prepares the values (numbers formatted, labels
translated) and renders them with autoescape on, so a project, unit or rule text containing
``<script>`` shows as that text. The templates are package data, found with
:mod:`importlib.resources` wherever sxzones is installed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import pickle
import re
from collections.abc import Sequence
from functools import cache
from typing import Any

import jinja2
import numpy as np
import numpy.typing as npt
import shapely
from markupsafe import Markup
from pyproj import CRS, Transformer

from sxzones.analyses.site_check import SiteCheckResult
from sxzones.i18n import (
    Labels,
    Lang,
    check_lang,
    legend_label,
    text,
    text_pairs,
    translate_note,
    translate_reason,
    translate_value,
)
from sxzones.maps.sources import has_demonstration
from sxzones.maps.style import CATEGORY_COLOURS

__all__ = [
    "coordinate_table",
    "report_date",
    "report_name",
    "report_names",
    "site_check_report",
    "site_map_svg",
]

#: Vertices listed in a report's coordinate table (the outputs hold the whole geometry).
MAX_LISTED = 100


class _TemplateCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept beside the layer cache (``templates/`` in
    :func:`sxzones.layers.cache.cache_dir`), so that a process does not compile them again
    (about 30 ms for the report's two). Jinja2 keys each entry by the template's name and
    checks its source's checksum: an edited template is compiled again. A folder that cannot
    be read or written is no error."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError, pickle.UnpicklingError):
            bucket.reset()  # unreadable or damaged: compiled again (and rewritten)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            os.makedirs(self.directory, exist_ok=True)
            super().dump_bytecode(bucket)


@cache
def environment() -> jinja2.Environment:
    """The templates of the package, with autoescape on for every template."""
    from sxzones.layers.cache import cache_dir

    folder = cache_dir()
    return jinja2.Environment(
        loader=jinja2.PackageLoader("sxzones", "templates"),
        autoescape=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        bytecode_cache=_TemplateCache(str(folder / "templates")) if folder else None,
    )


def _pixels(
    geom: shapely.Geometry, minx: float, miny: float, span: float, size: int, lines: bool = False
) -> str:
    """SVG path data of the polygons (rings closed with Z) of ``geom`` (and its lines, with
    ``lines``), in pixels of a ``size`` square showing ``span`` metres from (minx, miny)."""
    parts = []
    for part in shapely.get_parts(geom):
        if part.geom_type == "Polygon":
            rings, close = [part.exterior, *part.interiors], "Z"
        elif part.geom_type == "LineString" and lines:
            rings, close = [part], ""
        else:
            continue
        for ring in rings:
            xy = np.asarray(ring.coords)[:, :2]
            if not len(xy):
                continue
            px = (xy[:, 0] - minx) / span * size
            py = size - (xy[:, 1] - miny) / span * size
            parts.append(
                "M" + " L".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py, strict=True)) + close
            )
    return " ".join(parts)


def site_map_svg(result: SiteCheckResult, pos: int, size: int = 420) -> Markup:
    """A small self-contained SVG map of project ``pos`` and the control units, red lines and
    built-up areas around it (a square view of at least 4 km, in the working CRS; a 1 km or
    100 m scale bar; north up, as the Gauss-Krüger grid is within 2° of true north here)."""
    g = result.table.geometry.iloc[pos]
    minx, miny, maxx, maxy = g.buffer(
        max(2000.0, 0.6 * max(g.bounds[2] - g.bounds[0], g.bounds[3] - g.bounds[1]))
    ).bounds
    span = max(maxx - minx, maxy - miny)
    view = shapely.box(minx, miny, minx + span, miny + span)
    areas = []
    for role, col, alpha in (
        ("control_units", "unit_type", 0.35),
        ("redline", None, 0.5),
        ("builtup", None, 0.5),
    ):
        frame = result.layers.frames.get(role)
        if frame is None:
            continue
        hit = np.sort(result.layers.index(role).tree.query(view, predicate="intersects"))
        near = frame.iloc[hit]  # as frame[frame.intersects(view)], through the layer's index
        geoms = shapely.intersection(near.geometry.to_numpy(), view)
        keys = near[col].astype(str).tolist() if col else [""] * len(near)
        default = CATEGORY_COLOURS["redline" if role == "redline" else "builtup"]
        for geom, key in zip(geoms, keys, strict=True):
            d = _pixels(geom, minx, miny, span, size)
            if d:
                colour = CATEGORY_COLOURS.get(key, "#999") if col else default
                areas.append({"d": d, "colour": colour, "alpha": alpha})
    points = (
        [
            (f"{(x - minx) / span * size:.1f}", f"{size - (y - miny) / span * size:.1f}")
            for x, y in shapely.get_coordinates(g)
        ]
        if g.geom_type in ("Point", "MultiPoint")
        else []
    )
    outline = (
        None if points else _pixels(shapely.intersection(g, view), minx, miny, span, size, True)
    )
    bar = 1000.0 if span > 3000 else 100.0
    svg = (
        environment()
        .get_template("site_map.svg.j2")
        .render(
            size=size,
            areas=areas,
            points=points,
            outline=outline,
            bar_px=f"{10 + bar / span * size:.1f}",
            bar_km=f"{bar / 1000:g}",
        )
    )
    return Markup(svg.rstrip("\n"))  # rendered with autoescape above


#: (field, heading key of ``sxzones/i18n.toml`` [text]) of the report's tables; the headings
#: are ``中文 English`` (en, both) or Chinese (zh)
_RULES = [("id", "rule"), ("verdict", "verdict"), ("clause", "clause")]
_UNITS = [
    ("unit_code", "unit_code"),
    ("unit_name", "unit_name"),
    ("unit_type", "unit_type"),
    ("overlap_m2", "overlap_m2"),
    ("overlap_pct", "overlap_pct"),
]
_REDLINES = [
    ("redline_id", "redline_id"),
    ("name", "name"),
    ("overlap_m2", "overlap_m2"),
    ("overlap_pct", "overlap_pct"),
]
_ADMISSION = [
    ("unit_code", "unit"),
    ("admission_spatial", "admission_spatial"),
    ("admission_emission", "admission_emission"),
    ("admission_risk", "admission_risk"),
    ("admission_resource", "admission_resource"),
]
_SOURCES = [
    ("role", "role"),
    ("layer", "layer"),
    ("status", "status"),
    ("source", "source"),
    ("version", "version"),
]
#: The vocabulary of a table column's values (:func:`sxzones.i18n.translate_value`)
_VALUES = {"verdict": "verdict", "unit_type": "unit_type", "role": "role", "status": "provenance"}
#: The headings and sentences of the report (keys of ``sxzones/i18n.toml`` [text])
_TEXTS = (
    "none report_title report_heading industry kind area ellipsoidal verdict distances "
    "nearest_redline nearest_builtup rules_fired control_units redlines admission_lists "
    "data_used rules not_official project_no report_date area_computed area_declared "
    "area_difference hectares coordinates"
).split()


def _table(
    items: Sequence[dict[str, Any]],
    cols: Sequence[tuple[str, str]],
    lang: Lang = "en",
    lab: Labels | None = None,
) -> dict[str, Any]:
    """Headings and cells of a report table in ``lang``; ``cols``: (field, heading key)."""

    def cell(k: str, v: Any) -> str:
        if v is None:
            return ""
        return str(translate_value(v, _VALUES[k], lang, lab=lab) if k in _VALUES else v)

    return {
        "head": [text(h, lang, lab=lab) for _, h in cols],
        "rows": [[cell(k, it.get(k, "")) for k, _ in cols] for it in items],
    }


def _rules_table(rules: Sequence[dict[str, Any]], lang: Lang, lab: Labels | None) -> dict[str, Any]:
    """The rules that fired: rule, verdict, clause, then the requirement in Chinese and (en,
    both) in English, each in its own column."""
    t = _table(rules, _RULES, lang, lab)
    zh, en = text_pairs()["requirement"]
    t["head"] += [zh] if lang == "zh" else [zh, en]
    for row, it in zip(t["rows"], rules, strict=True):
        row += [str(it.get(k) or "") for k in (("zh",) if lang == "zh" else ("zh", "en"))]
    return t


def report_date() -> str:
    """The report's date (ISO): ``$SOURCE_DATE_EPOCH`` when set (reproducible builds),
    else today, so that a day's reruns give the same bytes."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date().isoformat()
    return dt.date.today().isoformat()


@cache
def _transformer(src: CRS, dst: CRS) -> Transformer:
    """A longitude-first transformer, made once per pair (making one takes ~20 ms)."""
    return Transformer.from_crs(src, dst, always_xy=True)


def _back_to(
    given: CRS, working: CRS, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Working-CRS coordinates back in the CRS the input was given in: the inverse of the
    transformation that brought the input in (the one validation made and keeps, so a
    second search of PROJ's database, about 70 ms between WGS84 and CGCS2000, is saved)."""
    from sxzones.layers.validate import _transformer as forward

    gx, gy = forward(given.to_wkt(), working.to_wkt()).transform(x, y, direction="INVERSE")
    return np.asarray(gx), np.asarray(gy)


def _vertices(geom: shapely.Geometry) -> list[tuple[str, float, float]]:
    """(ring label, x, y) of every vertex: a point, or each ring of each polygon (outer
    rings ``外1``, holes ``内1``), the closing vertex left out."""
    out: list[tuple[str, float, float]] = []
    for k, part in enumerate(shapely.get_parts(geom), start=1):
        if part.geom_type == "Point":
            out.append((f"{k}", part.x, part.y))
            continue
        rings = (
            [("外", part.exterior), *[("内", r) for r in part.interiors]]
            if part.geom_type == "Polygon"
            else [("线", part)]
        )
        for j, (kind, ring) in enumerate(rings, start=1):
            xy = np.asarray(ring.coords)[:, :2]
            if part.geom_type == "Polygon" and len(xy) > 1:
                xy = xy[:-1]
            out += [(f"{k}-{kind}{j}", float(x), float(y)) for x, y in xy]
    return out


def coordinate_table(
    geom: shapely.Geometry,
    working: CRS,
    given: str | None,
    lang: Lang = "en",
    lab: Labels | None = None,
) -> dict[str, Any]:
    """The parcel's vertices in the CRS it was given in (``given``: a spec such as
    ``gcj02`` or ``EPSG:4526``; None or unknown: only CGCS2000) and in CGCS2000 longitude
    and latitude (EPSG:4490), from the geometry in the working CRS. Degrees to 7 decimals
    (about 1 cm), metres to 3; at most :data:`MAX_LISTED` vertices. Headings in ``lang``
    (``zh``: Chinese only; ``en``, ``both``: ``中文 English``)."""
    from sxzones.crs import parse_crs, wgs84_to_bd09, wgs84_to_gcj02
    from sxzones.errors import CRSError

    verts = _vertices(geom)
    shown = verts[:MAX_LISTED]
    x = np.array([v[1] for v in shown])
    y = np.array([v[2] for v in shown])
    lon, lat = _transformer(CRS(working), CRS.from_epsg(4490)).transform(x, y)
    head = [text("coord_no", lang, lab=lab), text("coord_ring", lang, lab=lab)]
    cols: list[list[str]] = []
    try:
        spec = parse_crs(given) if given else None
    except CRSError:
        spec = None
    if spec is not None and not spec.crs.equals(CRS.from_epsg(4490)):
        gx, gy = _back_to(spec.crs, CRS(working), x, y)
        if spec.obfuscation is not None:
            convert = wgs84_to_gcj02 if spec.obfuscation == "gcj02" else wgs84_to_bd09
            gx, gy = convert(gx, gy)
        geographic = spec.crs.is_geographic
        fmt = "{:.7f}" if geographic else "{:.3f}"
        keys = ("coord_lon", "coord_lat") if geographic else ("coord_east", "coord_north")
        head += [text(k, lang, lab=lab, crs=spec.name) for k in keys]
        cols += [[fmt.format(v) for v in gx], [fmt.format(v) for v in gy]]
    head += [text(k, lang, lab=lab, crs="CGCS2000") for k in ("coord_lon", "coord_lat")]
    cols += [[f"{v:.7f}" for v in lon], [f"{v:.7f}" for v in lat]]
    rows = [[f"J{i + 1}", shown[i][0], *(c[i] for c in cols)] for i in range(len(shown))]
    more = len(verts) - len(shown)
    return {"head": head, "rows": rows, "more": more, "given": spec.name if spec else ""}


def _areas(detail: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """The computed area and, when the input declares one (界址点 files: hectares), the
    declared area beside it with the difference."""
    computed = float(detail["area_m2"] or 0.0)
    out: dict[str, Any] = {
        "m2": f"{computed:,.2f}",
        "ha": f"{computed / 1e4:.4f}",
        "declared": None,
    }
    declared = row.get("declared_area")
    try:
        ha = float(declared) if declared not in (None, "") else float("nan")
    except (TypeError, ValueError):
        ha = float("nan")
    if np.isfinite(ha) and ha > 0:
        diff = computed - ha * 1e4
        out["declared"] = {
            "ha": f"{ha:g}",
            "m2": f"{ha * 1e4:,.2f}",
            "diff_m2": f"{diff:+,.2f}",
            "diff_pct": f"{100 * diff / (ha * 1e4):+.4f}",
        }
    return out


def site_check_report(
    result: SiteCheckResult,
    pos: int,
    detail: dict[str, Any],
    version: str,
    *,
    lang: str = "en",
    lab: Labels | None = None,
    given_crs: str | None = None,
    datum: str | None = None,
) -> str:
    """A printable, self-contained report of project ``pos`` for A4 portrait: name, date,
    verdict, computed (ellipsoidal) and declared areas, distances (ellipsoidal metres), rules
    that fired with their clauses, control units and red lines touched (overlaps in m² on the
    ellipsoid), admission lists, the parcel's coordinates in ``given_crs`` (the CRS it was
    given in) and CGCS2000, and the data used with their sources and versions. ``lang``:
    ``en`` (Chinese headings with English, values as identifiers, as always), ``zh``
    (Chinese only) or ``both`` (bilingual headings, values ``中文 (id)``). ``datum``: the
    given coordinates' datum when its shift to CGCS2000 is approximated (Xian 1980): said
    next to the coordinates."""
    lg = check_lang(lang)
    sources = [{"role": r, **s} for r, s in result.layers.sources.items()]
    b = detail["builtup"]
    row = result.table.iloc[pos]
    name = str(row.get("name") or "") if "name" in result.table.columns else ""
    coords = coordinate_table(result.table.geometry.iloc[pos], result.table.crs, given_crs, lg, lab)
    return (
        environment()
        .get_template("site_check_report.html.j2")
        .render(
            x={k: text(k, lg, lab=lab) for k in _TEXTS},
            more_vertices=text("more_vertices", lg, lab=lab, n=coords["more"]),
            project_id=detail["project_id"],
            name=name if name and name != str(detail["project_id"]) else "",
            date=report_date(),
            areas=_areas(detail, dict(row)),
            coordinates=coords,
            datum_caveat=text("coord_datum_caveat", lg, lab=lab, datum=datum) if datum else "",
            rules_version=" ".join(
                str(result.rules.document.get(k, "")) for k in ("id", "issued")
            ).strip(),
            colour=CATEGORY_COLOURS.get(detail["verdict"], "#333"),
            industry=legend_label(str(detail["industry"]), lg, lab=lab),
            kind=translate_value(detail["kind"], "kind", lg, lab=lab),
            place=_place(result, pos, detail, lg),
            area_m2=str(detail["area_m2"]),
            verdict=legend_label(detail["verdict"], lg, lab=lab),
            note="; ".join(
                str(x)
                for x in (
                    translate_note(str(detail.get("geometry_note") or ""), lg, lab=lab),
                    translate_reason(str(detail.get("unassessed_reason") or ""), lg),
                )
                if x
            ),
            svg=site_map_svg(result, pos),
            nearest_redline_m=str(detail["nearest_redline_m"]),
            builtup={
                "nearest": str(b["nearest"]),
                "distance_m": str(b["distance_m"]),
                "zone": legend_label(str(b["zone"]), lg, lab=lab),
            },
            rules=_rules_table(detail["rules"], lg, lab),
            units=_table(detail["control_units"], _UNITS, lg, lab),
            redlines=_table(detail["redline"], _REDLINES, lg, lab),
            admission=_table(detail["admission_lists"], _ADMISSION, lg, lab),
            sources=_table(sources, _SOURCES, lg, lab),
            version=version,
            rules_file=result.rules.path.name,
            demonstration=has_demonstration(sources),
        )
    )


def _place(result: SiteCheckResult, pos: int, detail: dict[str, Any], lang: Lang) -> str:
    """The report's place line: ``city county`` (as the table gives them) for a project in
    one county; for one over several counties (``county`` and ``adcode`` listing them, the
    largest share first) each county after its own city, as the admin layer pairs them by
    adcode: ``阳泉市城区；太原市万柏林区`` (zh), ``阳泉市 城区; 太原市 万柏林区`` (en, both).
    The table's ``city`` lists each city once, so it cannot be paired by position; when a
    county is not found in the admin layer the line is the table's, as before."""
    city, county = str(detail.get("city") or ""), str(detail.get("county") or "")
    counties = county.split("; ")
    plain = f"{city} {county}"
    table = result.table
    if len(counties) < 2 or "adcode" not in table.columns or "admin" not in result.layers.frames:
        return plain
    codes = str(table["adcode"].iloc[pos]).split(";")
    known = result.layers.county_table()
    city_of = {
        str(a): (str(n), str(c))
        for a, n, c in zip(known["adcode"], known["county"], known["city"], strict=True)
    }
    pairs = [city_of.get(a.strip()) for a in codes]
    if len(codes) != len(counties) or any(
        p is None or p[0] != c for p, c in zip(pairs, counties, strict=True)
    ):
        return plain
    if lang == "zh":
        return "；".join(f"{p[1]}{p[0]}" for p in pairs if p)
    return "; ".join(f"{p[1]} {p[0]}".strip() for p in pairs if p)


_UNSAFE = re.compile(r"[^0-9A-Za-z_\-\u4e00-\u9fff]")


def report_name(project_id: str) -> str:
    """The report file of a project: ``report-<id>.html``. Characters a file name cannot
    hold become ``_``; when that (or cutting to 80 characters) changed the id, 8 hex digits
    of the raw id's SHA-256 follow, so ``A/B``, ``A_B`` and ``A.B`` get distinct files."""
    pid = str(project_id)
    clean = _UNSAFE.sub("_", pid)[:80] or "project"
    if clean != pid:
        clean += "-" + hashlib.sha256(pid.encode("utf-8")).hexdigest()[:8]
    return f"report-{clean}.html"


def report_names(project_ids: Sequence[str]) -> list[str]:
    """:func:`report_name` of each project; names that still collide on a file system that
    ignores case (``P1``, ``p1``) get the hash too."""
    names = [report_name(p) for p in project_ids]
    folded: dict[str, int] = {}
    for n in names:
        folded[n.casefold()] = folded.get(n.casefold(), 0) + 1
    return [
        n
        if folded[n.casefold()] == 1 or n.endswith(_suffix(p))
        else n[: -len(".html")] + _suffix(p)
        for n, p in zip(names, project_ids, strict=True)
    ]


def _suffix(pid: str) -> str:
    return "-" + hashlib.sha256(str(pid).encode("utf-8")).hexdigest()[:8] + ".html"
