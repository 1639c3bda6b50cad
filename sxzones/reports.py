"""Printable reports, rendered from the Jinja2 templates in ``sxzones/templates``.

The templates hold the markup; this module prepares the values (numbers formatted, labels
translated) and renders them with autoescape on, so a project, unit or rule text containing
``<script>`` shows as that text. The templates are package data, found with
:mod:`importlib.resources` wherever sxzones is installed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import cache
from typing import Any

import jinja2
import numpy as np
import shapely
from markupsafe import Markup

from sxzones.analyses.site_check import SiteCheckResult
from sxzones.maps.sources import has_demonstration
from sxzones.maps.style import CATEGORY_COLOURS, label

__all__ = ["report_name", "report_names", "site_check_report", "site_map_svg"]


@cache
def environment() -> jinja2.Environment:
    """The templates of the package, with autoescape on for every template."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("sxzones", "templates"),
        autoescape=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
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
        near = frame[frame.intersects(view)]
        geoms = shapely.intersection(near.geometry.to_numpy(), view)
        keys = near[col].astype(str).tolist() if col else [""] * len(near)
        default = "#1a9850" if role == "redline" else "#d6604d"
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


def _table(items: Sequence[dict[str, Any]], cols: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {
        "head": [h for _, h in cols],
        "rows": [
            [str(it.get(k, "") if it.get(k) is not None else "") for k, _ in cols] for it in items
        ],
    }


#: (field, column heading) of the report's tables
_RULES = [
    ("id", "规则 Rule"),
    ("verdict", "结论 Verdict"),
    ("clause", "条款 Clause"),
    ("zh", "要求"),
    ("en", "Requirement"),
]
_UNITS = [
    ("unit_code", "单元编码 Code"),
    ("unit_name", "单元名称 Name"),
    ("unit_type", "类型 Type"),
    ("overlap_m2", "重叠面积 Overlap m²"),
    ("overlap_pct", "占项目 % of project"),
]
_REDLINES = [
    ("redline_id", "编号 ID"),
    ("name", "名称 Name"),
    ("overlap_m2", "重叠面积 Overlap m²"),
    ("overlap_pct", "占项目 % of project"),
]
_ADMISSION = [
    ("unit_code", "单元 Unit"),
    ("admission_spatial", "空间布局约束 Spatial layout"),
    ("admission_emission", "污染物排放管控 Emissions"),
    ("admission_risk", "环境风险防控 Risk"),
    ("admission_resource", "资源开发效率 Resources"),
]
_SOURCES = [
    ("role", "图层 Role"),
    ("layer", "名称 Layer"),
    ("status", "性质 Status"),
    ("source", "来源 Source"),
    ("version", "版本 Version"),
]


def site_check_report(
    result: SiteCheckResult, pos: int, detail: dict[str, Any], version: str
) -> str:
    """A printable, self-contained one-page report of project ``pos`` (Chinese labels with
    English): verdict, distances (ellipsoidal metres), rules that fired with their clauses,
    control units and red lines touched (overlaps in m² on the ellipsoid), admission lists,
    and the data used with their sources."""
    sources = [{"role": r, **s} for r, s in result.layers.sources.items()]
    b = detail["builtup"]
    return (
        environment()
        .get_template("site_check_report.html.j2")
        .render(
            project_id=detail["project_id"],
            colour=CATEGORY_COLOURS.get(detail["verdict"], "#333"),
            industry=label(detail["industry"]),
            kind=detail["kind"],
            city=detail.get("city") or "",
            county=detail.get("county") or "",
            area_m2=str(detail["area_m2"]),
            verdict=label(detail["verdict"]),
            note="; ".join(
                str(x) for x in (detail.get("geometry_note"), detail.get("unassessed_reason")) if x
            ),
            svg=site_map_svg(result, pos),
            nearest_redline_m=str(detail["nearest_redline_m"]),
            builtup={
                "nearest": str(b["nearest"]),
                "distance_m": str(b["distance_m"]),
                "zone": label(str(b["zone"])),
            },
            rules=_table(detail["rules"], _RULES),
            units=_table(detail["control_units"], _UNITS),
            redlines=_table(detail["redline"], _REDLINES),
            admission=_table(detail["admission_lists"], _ADMISSION),
            sources=_table(sources, _SOURCES),
            version=version,
            rules_file=result.rules.path.name,
            demonstration=has_demonstration(sources),
        )
    )


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
