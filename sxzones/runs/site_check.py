"""Run the site check: read the projects, load the zoning layers by role, check, report."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.errors import GEOSException

from sxzones import __version__
from sxzones.analyses.nearest import warm_up
from sxzones.analyses.site_check import SiteCheckResult, SiteLayers, check_sites
from sxzones.crs import parse_crs
from sxzones.errors import SxzonesError
from sxzones.layers import Catalog, LayerReport, read_file, validate_layer
from sxzones.layers.readers import ROW, RawLayer
from sxzones.maps.basemaps import Basemap, recipe_basemap
from sxzones.maps.sources import report_sources, sources_line
from sxzones.outputs import Publication, write_csv, write_json, write_text
from sxzones.reports import report_names, site_check_report
from sxzones.rules import RuleSet, load_rules
from sxzones.runs import RunResult, Say, add_inputs, figure_paths

if TYPE_CHECKING:
    from sxzones.recipes import Recipe

ROLES = ("control_units", "redline", "builtup", "zones", "admin")
_LONLAT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*[,，\s]\s*(-?\d+(?:\.\d+)?)\s*$")
CHECK_OPTIONS = frozenset(
    {
        "crs",
        "industry",
        "kind",
        "id_field",
        "map",
        "figure",
        "basemap",
        "embed_tianditu_key",
        "reports",
    }
)
REPORTS = ("all", "flagged", "none")


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


def read_projects(
    spec: str,
    cat: Catalog,
    *,
    crs: str | None = None,
    industry: str | None = None,
    kind: str | None = None,
    id_field: str | None = None,
    name: str = "P1",
) -> tuple[gpd.GeoDataFrame, Any]:
    """Projects from a file, a WKT geometry or ``"lon,lat"``, validated for role ``projects``
    and brought to the working CRS. Geometries given as text need ``crs``."""
    path = Path(spec)
    if path.exists():
        raw = read_file(path, crs=crs)
        cols = raw.frame.columns
        fields: dict[str, str] = {}
        if id_field:
            fields["project_id"] = id_field
        elif "project_id" not in cols:
            if "parcel_id" in cols:  # 界址点 files
                fields["project_id"] = "parcel_id"
            else:
                raw.frame["project_id"] = raw.frame[ROW].astype(str)
    else:
        if crs is None:
            raise SxzonesError(
                f"the project {spec!r} is a geometry written as text: give its CRS with --crs "
                "(wgs84 for GPS, gcj02 for Amap/Tencent, bd09 for Baidu, cgcs2000, gk38 ...)"
            )
        m = _LONLAT.match(spec)
        if m:
            geom = shapely.Point(float(m.group(1)), float(m.group(2)))
        else:
            try:
                geom = shapely.from_wkt(spec)
            except GEOSException as exc:
                raise SxzonesError(
                    f"the project {spec!r} is neither an existing file, nor 'lon,lat', nor WKT "
                    f"({exc}). Fix: e.g. --project '112.55,37.87' or 'POLYGON ((...))'"
                ) from exc
        frame = gpd.GeoDataFrame({ROW: [1], "project_id": [name]}, geometry=[geom])
        raw = RawLayer(
            Path("--project"), frame, parse_crs(crs), [f"geometry given as text in {crs}"]
        )
        fields = {}
    if industry is not None:
        raw.frame["industry"] = industry
    if kind is not None:
        raw.frame["kind"] = kind
    if "industry" not in raw.frame.columns:
        raise SxzonesError(
            "the projects have no 'industry' field: give --industry "
            "(steel, coking, cement, chemical, coal_power, pv, wind, ...)"
        )
    projects, report = validate_layer(
        raw,
        "projects",
        name="projects",
        working_crs=cat.working.crs,
        fields=fields,
        study_area=cat.study_area,
    )
    notes = {}
    for f in report.findings:
        if f.kind == "repaired":
            for r in f.rows:
                notes[r] = f"invalid geometry repaired: {f.message}"
    projects["geometry_note"] = [notes.get(int(r), "") for r in projects[ROW]]
    return projects, report


def write_check_outputs(
    result: SiteCheckResult,
    details: list[dict[str, Any]],
    prep: LayerReport,
    cat: Catalog,
    reports: str,
    pub: Publication,
) -> None:
    """Stage ``site_check.json``, ``site_check.csv``, ``rejects.csv`` and the printable
    reports (``reports``: all, flagged or none) in ``pub``."""
    doc = {
        "generated_by": f"sxzones {__version__}",
        "rules": {
            "file": result.rules.path.name,
            **{k: str(v) for k, v in result.rules.document.items()},
        },
        "working_crs": f"EPSG:{cat.working.crs.to_epsg()}",
        "layers": result.layers.sources,
        "input": {"rows": prep.n_read, "checked": prep.n_loaded, "rejected": prep.n_rejected},
        "projects": details,
    }
    write_json(doc, pub.stage("site_check.json", rows=len(details)), overwrite=True)
    table = pd.DataFrame(result.table.drop(columns="geometry"))
    write_csv(table, pub.stage("site_check.csv", rows=len(table)), overwrite=True)
    write_csv(prep.rejects, pub.stage("rejects.csv", rows=prep.n_rejected), overwrite=True)
    files = report_names([str(d["project_id"]) for d in details])
    for pos, (d, name) in enumerate(zip(details, files, strict=True)):
        if reports == "none" or (reports == "flagged" and d["verdict"] == "clear"):
            continue
        html = site_check_report(result, pos, d, __version__)
        write_text(html, pub.stage(name), overwrite=True)


def run_check(
    projects_spec: str,
    cat: Catalog,
    *,
    out: Path,
    rules: str | Path | None = None,
    crs: str | None = None,
    industry: str | None = None,
    kind: str | None = None,
    id_field: str | None = None,
    overwrite: bool = False,
    map_path: Path | None = None,
    figure_path: Path | None = None,
    basemap: Basemap | None = None,
    reports: str = "all",
    say: Say = print,
) -> RunResult:
    """Read, check, and write ``site_check.json``, ``site_check.csv``, ``rejects.csv`` and
    ``report-<id>.html`` per project (and an interactive map at ``map_path``).

    ``reports``: ``all`` (a report per project), ``flagged`` (only projects whose verdict is
    conflict or conditional: a batch of 10,000 parcels otherwise writes 10,000 files, about
    20 ms each) or ``none``."""
    if reports not in REPORTS:
        raise SxzonesError(f"reports {reports!r}: choose from {', '.join(REPORTS)}")
    warm_up()  # the compiled distance kernels load while the projects and layers are read
    names = ["site_check.json", "site_check.csv", "rejects.csv"]
    external = [map_path, *figure_paths(figure_path)]
    with Publication(
        out, "check", names, external=external, overwrite=overwrite, owned=("report-*.html",)
    ) as pub:
        ruleset: RuleSet = load_rules(rules)
        projects, prep = read_projects(
            projects_spec, cat, crs=crs, industry=industry, kind=kind, id_field=id_field
        )
        layers = site_layers(cat)
        result = check_sites(projects, layers, ruleset)
        details = result.details()
        write_check_outputs(result, details, prep, cat, reports, pub)
        sources = sources_line([*layers.sources.values(), *report_sources([prep])])
        if map_path is not None:
            from sxzones.maps.interactive import save_map
            from sxzones.maps.site_map import site_check_map

            m = site_check_map(result, basemap, sources=sources)
            save_map(m, pub.stage_external(map_path), overwrite=True)
        if figure_path is not None:
            from sxzones.maps.site_map import site_check_figure

            fig = pub.stage_external(figure_paths(figure_path)[0])
            site_check_figure(result, fig, sources=sources)
        add_inputs(pub, [prep], ruleset.path)
        written = pub.publish()
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
    return RunResult("check", written, summary, manifest=pub.manifest)


def run_check_recipe(
    recipe: Recipe, cat: Catalog, out: Path, overwrite: bool, say: Say
) -> RunResult:
    o = recipe.options
    spec = recipe.inputs["projects"]
    p = recipe.resolve(spec)
    return run_check(
        str(p) if p.exists() else spec,
        cat,
        out=out,
        rules=recipe.rules,
        crs=o.get("crs"),
        industry=o.get("industry"),
        kind=o.get("kind"),
        id_field=o.get("id_field"),
        overwrite=overwrite,
        map_path=recipe.option_path("map"),
        figure_path=recipe.option_path("figure"),
        basemap=recipe_basemap(o),
        reports=str(o.get("reports", "all")),
        say=say,
    )
