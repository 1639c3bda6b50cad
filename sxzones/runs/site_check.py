"""Run the site check: read the projects, load the zoning layers by role, check, report."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.errors import GEOSException

from sxzones import __version__
from sxzones.analyses.nearest import warm_up
from sxzones.analyses.site_check import SiteCheckResult, SiteLayers, check_sites
from sxzones.crs import parse_crs
from sxzones.errors import SxzonesError
from sxzones.layers import Catalog, read_file, validate_layer
from sxzones.layers.readers import ROW, RawLayer
from sxzones.maps.style import CATEGORY_COLOURS, label
from sxzones.options import REPORTS, CheckOptions
from sxzones.outputs import check_targets, write_csv, write_json, write_text
from sxzones.rules import RuleSet, load_rules
from sxzones.runs import RunResult

ROLES = ("control_units", "redline", "builtup", "zones", "admin")
_LONLAT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*[,，\s]\s*(-?\d+(?:\.\d+)?)\s*$")
#: A --project that ends like a file name (or names a folder) is meant as a file.
_PATHLIKE = re.compile(r"[/\\]|\.[A-Za-z][A-Za-z0-9]{0,7}$", re.ASCII)


def site_layers(cat: Catalog, names: dict[str, str] | None = None) -> SiteLayers:
    """The site-check layers of a catalogue: for each role the named entry, else the first
    entry of that role (``admin``: the whole admin layer)."""
    names = dict(names or {})
    frames, sources = {}, {}
    for role in ROLES:
        name = names.get(role) or cat.layer_of_role(role)
        if name is None:
            continue
        frame, rep = cat.load(name)
        frames[role] = frame
        p = rep.provenance
        sources[role] = {
            "layer": name,
            "features": rep.n_loaded,
            "source": p.source if p else "",
            "version": p.version if p else "",
            "status": p.status if p else "",
            "licence": p.licence if p else "",
        }
    missing = [r for r in ("control_units", "redline", "builtup") if r not in frames]
    if missing:
        raise SxzonesError(
            f"{cat.path}: no layer with role(s) {missing}; a site check needs "
            "control units, red lines and built-up areas"
        )
    return SiteLayers(frames, sources)


def _text_geometry(spec: str, crs: str | None, name: str) -> RawLayer:
    """A project given as ``"lon,lat"`` or WKT in ``crs``.

    Raises
    ------
    SxzonesError
        ``spec`` looks like a file name (no such file), is neither ``lon,lat`` nor WKT, or
        ``crs`` is missing.
    """
    m = _LONLAT.match(spec)
    geom = shapely.Point(float(m.group(1)), float(m.group(2))) if m else None
    if geom is None:
        try:
            geom = shapely.from_wkt(spec)
        except GEOSException as exc:
            if _PATHLIKE.search(spec.strip()):
                raise SxzonesError(
                    f"--project {spec!r}: no such file. Fix: check the path (relative paths "
                    f"start from {Path.cwd()}), or give the geometry as 'lon,lat' or WKT"
                ) from None
            raise SxzonesError(
                f"the project {spec!r} is neither an existing file, nor 'lon,lat', nor WKT "
                f"({exc}). Fix: e.g. --project '112.55,37.87' or 'POLYGON ((...))'"
            ) from exc
    if crs is None:
        raise SxzonesError(
            f"the project {spec!r} is a geometry written as text: give its CRS with --crs "
            "(wgs84 for GPS, gcj02 for Amap/Tencent, bd09 for Baidu, cgcs2000, gk38 ...)"
        )
    frame = gpd.GeoDataFrame({ROW: [1], "project_id": [name]}, geometry=[geom])
    return RawLayer(Path("--project"), frame, parse_crs(crs), [f"geometry given as text in {crs}"])


def _project_fields(raw: RawLayer, fields: dict[str, str]) -> dict[str, str]:
    """The field mapping of a projects file; the id defaults to ``project_id``, then
    ``parcel_id`` (界址点 files), then the row number."""
    cols = raw.frame.columns
    if "project_id" not in fields and "project_id" not in cols:
        if "parcel_id" in cols:  # 界址点 files
            fields["project_id"] = "parcel_id"
        else:
            raw.frame["project_id"] = raw.frame[ROW].astype(str)
    return fields


def read_projects(
    spec: str,
    cat: Catalog,
    *,
    crs: str | None = None,
    industry: str | None = None,
    kind: str | None = None,
    id_field: str | None = None,
    name: str = "P1",
    fields: dict[str, str] | None = None,
    encoding: str | None = None,
) -> tuple[gpd.GeoDataFrame, Any]:
    """Projects from a file, a WKT geometry or ``"lon,lat"``, validated for role ``projects``
    and brought to the working CRS. Geometries given as text need ``crs``.

    ``fields`` maps canonical fields of role ``projects`` (``project_id``, ``industry``,
    ``kind``, ``name``) to the file's own; ``id_field`` is the same as
    ``fields["project_id"]``. ``industry`` and ``kind`` are values for every project."""
    mapping = dict(fields or {})
    if id_field:
        mapping["project_id"] = id_field
    path = Path(spec)
    if path.exists():
        raw = read_file(path, crs=crs, encoding=encoding)
        mapping = _project_fields(raw, mapping)
    else:
        if mapping:
            raise SxzonesError(
                f"the project {spec!r} is not a file: field options ({sorted(mapping)}) apply "
                "to a projects file only"
            )
        raw = _text_geometry(spec, crs, name)
    if industry is not None:
        raw.frame["industry"] = industry
    if kind is not None:
        raw.frame["kind"] = kind
    if "industry" not in raw.frame.columns and "industry" not in mapping:
        raise SxzonesError(
            "the projects have no 'industry' field: give --industry "
            "(steel, coking, cement, chemical, coal_power, pv, wind, ...) or --industry-field"
        )
    projects, report = validate_layer(
        raw,
        "projects",
        name="projects",
        working_crs=cat.working.crs,
        fields=mapping,
        study_area=cat.study_area,
    )
    notes = {}
    for f in report.findings:
        if f.kind == "repaired":
            for r in f.rows:
                notes[r] = f"invalid geometry repaired: {f.message}"
    projects["geometry_note"] = [notes.get(int(r), "") for r in projects[ROW]]
    return projects, report


def _svg(result: SiteCheckResult, pos: int, size: int = 420) -> str:
    """A small self-contained SVG map of one project and what it touches."""
    t = result.table
    g = t.geometry.iloc[pos]
    minx, miny, maxx, maxy = g.buffer(
        max(2000.0, 0.6 * max(g.bounds[2] - g.bounds[0], g.bounds[3] - g.bounds[1]))
    ).bounds
    span = max(maxx - minx, maxy - miny)
    view = shapely.box(minx, miny, minx + span, miny + span)

    def path(geom: shapely.Geometry) -> str:
        parts = []
        for poly in shapely.get_parts(shapely.intersection(geom, view)):
            for ring in [poly.exterior, *poly.interiors] if poly.geom_type == "Polygon" else []:
                xy = np.asarray(ring.coords)
                px = (xy[:, 0] - minx) / span * size
                py = size - (xy[:, 1] - miny) / span * size
                parts.append(
                    "M" + " L".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py, strict=True)) + "Z"
                )
        return " ".join(parts)

    items = []
    layers = result.layers.frames
    for role, col, alpha in (
        ("control_units", "unit_type", 0.35),
        ("redline", None, 0.5),
        ("builtup", None, 0.5),
    ):
        frame = layers.get(role)
        if frame is None:
            continue
        near = frame[frame.intersects(view)]
        for _, row in near.iterrows():
            colour = (
                CATEGORY_COLOURS.get(str(row[col]), "#999")
                if col
                else ("#1a9850" if role == "redline" else "#d6604d")
            )
            d = path(row.geometry)
            if d:
                items.append(
                    f'<path d="{d}" fill="{colour}" fill-opacity="{alpha}" '
                    f'stroke="#444" stroke-width="0.5"/>'
                )
    if g.geom_type in ("Point", "MultiPoint"):
        x = (g.x - minx) / span * size
        y = size - (g.y - miny) / span * size
        items.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="none" stroke="#000" '
            'stroke-width="2.5"/>'
        )
    else:
        items.append(f'<path d="{path(g)}" fill="none" stroke="#000" stroke-width="2.5"/>')
    bar = 1000.0 if span > 3000 else 100.0
    barpx = bar / span * size
    items.append(
        f'<line x1="10" y1="{size - 12}" x2="{10 + barpx:.1f}" y2="{size - 12}" '
        'stroke="#000" stroke-width="3"/>'
        f'<text x="10" y="{size - 18}" font-size="11">{bar / 1000:g} km</text>'
        f'<text x="{size - 20}" y="22" font-size="16" font-weight="bold">N</text>'
        f'<path d="M{size - 15},26 L{size - 20},40 L{size - 10},40 Z" fill="#000"/>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" style="border:1px solid #999;background:#fafafa">'
        + "".join(items)
        + "</svg>"
    )


def report_html(result: SiteCheckResult, pos: int, detail: dict[str, Any]) -> str:
    """A printable, self-contained one-page report (Chinese labels with English)."""
    e = html.escape
    v = detail["verdict"]
    colour = CATEGORY_COLOURS.get(v, "#333")

    def rows(items: list[dict[str, Any]], cols: list[tuple[str, str]]) -> str:
        if not items:
            return "<p>无 None</p>"
        head = "".join(f"<th>{e(h)}</th>" for _, h in cols)
        body = "".join(
            "<tr>"
            + "".join(
                f"<td>{e(str(it.get(k, '') if it.get(k) is not None else ''))}</td>"
                for k, _ in cols
            )
            + "</tr>"
            for it in items
        )
        return f"<table><tr>{head}</tr>{body}</table>"

    units = rows(
        detail["control_units"],
        [
            ("unit_code", "单元编码 Code"),
            ("unit_name", "单元名称 Name"),
            ("unit_type", "类型 Type"),
            ("overlap_m2", "重叠面积 Overlap m²"),
            ("overlap_pct", "占项目 % of project"),
        ],
    )
    reds = rows(
        detail["redline"],
        [
            ("redline_id", "编号 ID"),
            ("name", "名称 Name"),
            ("overlap_m2", "重叠面积 Overlap m²"),
            ("overlap_pct", "占项目 % of project"),
        ],
    )
    fired = rows(
        detail["rules"],
        [
            ("id", "规则 Rule"),
            ("verdict", "结论 Verdict"),
            ("clause", "条款 Clause"),
            ("zh", "要求"),
            ("en", "Requirement"),
        ],
    )
    adm = rows(
        detail["admission_lists"],
        [
            ("unit_code", "单元 Unit"),
            ("admission_spatial", "空间布局约束 Spatial layout"),
            ("admission_emission", "污染物排放管控 Emissions"),
            ("admission_risk", "环境风险防控 Risk"),
            ("admission_resource", "资源开发效率 Resources"),
        ],
    )
    srcs = rows(
        [{"role": r, **s} for r, s in result.layers.sources.items()],
        [
            ("role", "图层 Role"),
            ("layer", "名称 Layer"),
            ("status", "性质 Status"),
            ("source", "来源 Source"),
            ("version", "版本 Version"),
        ],
    )
    b = detail["builtup"]
    note = (
        f'<p class="note">⚠ {e(detail["geometry_note"])}</p>' if detail.get("geometry_note") else ""
    )
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>选址研判 Site check {e(detail["project_id"])}</title>
<style>
body {{ font: 13px/1.45 "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 18px; }}
h1 {{ font-size: 18px; margin: 0 0 6px; }} h2 {{ font-size: 14px; margin: 14px 0 4px; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border: 1px solid #bbb;
padding: 3px 5px; vertical-align: top; text-align: left; }} th {{ background: #eee; }}
.verdict {{ display: inline-block; padding: 3px 10px; color: #fff; background: {colour};
font-weight: bold; }} .note {{ color: #b2182b; }} .grid {{ display: flex; gap: 16px; }}
@media print {{ body {{ margin: 8mm; }} }}
</style></head><body>
<h1>建设项目选址研判 Site check: {e(detail["project_id"])}</h1>
<p>行业 Industry: <b>{e(label(detail["industry"]))}</b> · 类型 Kind: <b>{e(detail["kind"])}</b> ·
{e(detail.get("city") or "")} {e(detail.get("county") or "")} ·
面积 Area: {e(str(detail["area_m2"]))} m² (椭球面 ellipsoidal)</p>
<p>结论 Verdict: <span class="verdict">{e(label(v))}</span></p>{note}
<div class="grid"><div>{_svg(result, pos)}</div><div style="flex:1">
<h2>距离 Distances</h2>
<table><tr><th>最近生态保护红线 Nearest red line</th><td>{e(str(detail["nearest_redline_m"]))} m</td></tr>
<tr><th>最近建成区 Nearest built-up area</th><td>{e(str(b["nearest"]))}: {e(str(b["distance_m"]))} m ({e(label(str(b["zone"])))})</td></tr></table>
<h2>触发规则 Rules that fired</h2>{fired}</div></div>
<h2>环境管控单元 Control units</h2>{units}
<h2>生态保护红线 Ecological red lines</h2>{reds}
<h2>准入清单 Admission lists</h2>{adm}
<h2>数据 Data used</h2>{srcs}
<p style="color:#666">sxzones {e(__version__)} · 规则 Rules: {e(result.rules.path.name)} ·
示范图层非官方数据 Demonstration layers are not official.</p>
</body></html>
"""


def _safe_id(pid: str) -> str:
    return re.sub(r"[^0-9A-Za-z_\-\u4e00-\u9fff]", "_", pid)[:80] or "project"


def _project_spec(opts: CheckOptions) -> str:
    """The project(s) as given; a recipe's relative path is looked up beside the recipe."""
    spec = opts.spec
    if opts.base is not None and opts.projects is not None:
        p = Path(os.path.normpath(opts.base / spec))
        return str(p) if p.exists() else spec
    return spec


def run_check(opts: CheckOptions, cat: Catalog, *, layers: SiteLayers | None = None) -> RunResult:
    """Read, check, and write ``site_check.json``, ``site_check.csv``, ``rejects.csv`` and
    ``report-<id>.html`` per project (and an interactive map at ``opts.map_path``).

    ``layers``: the catalogue's site layers when the caller keeps them (a server: their
    spatial indexes are built once; one :class:`SiteLayers` per thread), else loaded here.

    ``opts.reports``: ``all`` (a report per project), ``flagged`` (only projects whose verdict
    is conflict or conditional: a batch of 10,000 parcels otherwise writes 10,000 files, about
    20 ms each) or ``none``. ``opts.lang`` is carried for the translated outputs."""
    out, overwrite, reports = opts.out, opts.overwrite, opts.reports
    if reports not in REPORTS:
        raise SxzonesError(f"reports {reports!r}: choose from {', '.join(REPORTS)}")
    warm_up()  # the compiled distance kernels load while the projects and layers are read
    check_targets([out / "site_check.json", out / "site_check.csv", out / "rejects.csv"], overwrite)
    ruleset: RuleSet = load_rules(opts.rules)
    projects, prep = read_projects(
        _project_spec(opts),
        cat,
        crs=opts.crs,
        industry=opts.industry,
        kind=opts.kind,
        fields=opts.fields_for("projects"),
        encoding=opts.encoding,
    )
    layers = layers if layers is not None else site_layers(cat)
    result = check_sites(projects, layers, ruleset)
    details = result.details()
    doc = {
        "generated_by": f"sxzones {__version__}",
        "rules": {"file": ruleset.path.name, **{k: str(v) for k, v in ruleset.document.items()}},
        "working_crs": f"EPSG:{cat.working.crs.to_epsg()}",
        "layers": layers.sources,
        "input": {"rows": prep.n_read, "checked": prep.n_loaded, "rejected": prep.n_rejected},
        "projects": details,
    }
    written = [
        write_json(doc, out / "site_check.json", overwrite=True),
        write_csv(
            pd.DataFrame(result.table.drop(columns="geometry")),
            out / "site_check.csv",
            overwrite=True,
        ),
        write_csv(prep.rejects, out / "rejects.csv", overwrite=True),
    ]
    for pos, d in enumerate(details):
        if reports == "none" or (reports == "flagged" and d["verdict"] == "clear"):
            continue
        written.append(
            write_text(
                report_html(result, pos, d),
                out / f"report-{_safe_id(d['project_id'])}.html",
                overwrite=True,
            )
        )
    if opts.map_path is not None:
        from sxzones.maps.interactive import save_map
        from sxzones.maps.site_map import site_check_map

        cmap = site_check_map(result, opts.map_basemap())
        written.append(save_map(cmap, opts.map_path, overwrite=True))
    if opts.figure_path is not None:
        from sxzones.maps.site_map import site_check_figure

        written.extend(site_check_figure(result, opts.figure_path))
    counts = result.table["verdict"].value_counts().to_dict()
    summary = (
        f"site check: {len(details)} project(s): "
        + ", ".join(f"{k} {counts.get(k, 0)}" for k in ("conflict", "conditional", "clear"))
        + f"; input rows {prep.n_read} = checked {prep.n_loaded} + rejected "
        f"{prep.n_rejected}"
    )
    for d in details[:10]:
        summary += (
            f"\n  {d['project_id']}: {d['verdict']}"
            + (f" ({', '.join(r['id'] for r in d['rules'])})" if d["rules"] else "")
            + (f"; {d['geometry_note']}" if d.get("geometry_note") else "")
        )
    return RunResult("check", written, summary)
