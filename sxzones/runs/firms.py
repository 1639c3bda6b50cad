"""Run the firm screen: load, screen, write CSV / XLSX / GPKG / rejects, map."""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sxzones.analyses.firm_zones import screen_firms, summarise, summary_by_city
from sxzones.analyses.nearest import warm_up
from sxzones.errors import SxzonesError
from sxzones.geodesy import to_lonlat
from sxzones.i18n import Labels, Lang, check_lang, labels, translate_frame, translate_sheets
from sxzones.layers import Catalog, LayerReport
from sxzones.maps.sources import report_sources, sources_line
from sxzones.options import FirmOptions
from sxzones.outputs import Publication, write_csv, write_gpkg, write_xlsx
from sxzones.rules import load_rules
from sxzones.runs import RunResult, add_inputs, figure_paths, load_input

XLSX_MAX_ROWS = 1_048_575

#: Columns first in the outputs, in this order; the firm's other fields follow.
LEAD = [
    "firm_id",
    "name",
    "industry",
    "industry_id",
    "industry_status",
    "zone",
    "distance_m",
    "nearest_area_id",
    "nearest_area_name",
    "nearest_area_kind",
    "city",
    "county",
    "adcode",
    "applicable",
    "rule_ids",
    "clauses",
    "asks",
]


def _ordered(result: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    lead = [c for c in LEAD if c in result.columns]
    rest = [c for c in result.columns if c not in lead and c not in ("geometry", "source_row")]
    tail = ["source_row"] if "source_row" in result.columns else []
    return result[[*lead, *rest, *tail, "geometry"]]


OUTPUT_NAMES = {"csv": "firm_zones.csv", "xlsx": "firm_zones.xlsx", "gpkg": "firm_zones.gpkg"}


def output_names(formats: list[str]) -> list[str]:
    """The files a firm screen writes in its output folder, in order."""
    return [OUTPUT_NAMES[f] for f in formats] + ["rejects.csv"]


def write_firm_outputs(
    result: gpd.GeoDataFrame,
    rejects: pd.DataFrame,
    pub: Publication,
    formats: list[str],
    add_lonlat: bool = True,
    lang: Lang = "en",
    lab: Labels | None = None,
) -> None:
    """Stage the screen's outputs in ``pub``. Point firms get CGCS2000 lon/lat columns unless
    ``add_lonlat`` is false (tables keep the coordinate columns they came with). ``lang``:
    headers, values and sheet names of the CSV and XLSX (:mod:`sxzones.i18n`); the GeoPackage
    keeps the canonical names."""
    if "xlsx" in formats and len(result) > XLSX_MAX_ROWS:
        raise SxzonesError(
            f"{len(result)} firms exceed Excel's {XLSX_MAX_ROWS} rows; use --format csv,gpkg"
        )
    result = _ordered(result)
    pts = result.geometry.to_numpy()
    table = pd.DataFrame(result.drop(columns="geometry"))
    if add_lonlat and len(pts) and bool(np.all(shapely.get_type_id(pts) == 0)):  # add lon/lat
        xy = shapely.get_coordinates(pts)
        lon, lat = to_lonlat(xy[:, 0], xy[:, 1], result.crs)
        table["lon_cgcs2000"] = np.round(lon, 7)
        table["lat_cgcs2000"] = np.round(lat, 7)
    for f in formats:
        path = pub.stage(OUTPUT_NAMES[f], rows=len(table))
        if f == "csv":
            write_csv(translate_frame(table, lang, lab=lab), path, overwrite=True)
        elif f == "xlsx":
            sheets: dict[str, pd.DataFrame] = {"summary": summary_by_city(table)}
            for z, part in table.groupby("zone", sort=False):
                sheets[str(z)] = part
            write_xlsx(translate_sheets(sheets, lang, lab=lab), path, overwrite=True)
        else:
            write_gpkg(result, path, overwrite=True, layer="firm_zones")
    rej = translate_frame(rejects, lang, lab=lab)
    write_csv(rej, pub.stage("rejects.csv", rows=len(rejects)), overwrite=True)


def _load_firm_inputs(
    opts: FirmOptions, cat: Catalog
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame | None, list[LayerReport]]:
    """The firms, built-up areas and (when there is one) admin layer, validated; their
    reports in that order."""
    f, frep = load_input(
        opts.firms,
        "firms",
        cat,
        crs=opts.crs,
        fields=opts.fields_for("firms"),
        encoding=opts.encoding,
        base=opts.base,
    )
    b, brep = load_input(
        opts.builtup, "builtup", cat, fields=opts.fields_for("builtup"), base=opts.base
    )
    reports: list[LayerReport] = [frep, brep]
    a = None
    admin = opts.admin
    if admin and (str(admin) != "admin" or "admin" in cat):
        a, arep = load_input(admin, "admin", cat, fields=opts.fields_for("admin"), base=opts.base)
        reports.append(arep)
    return f, b, a, reports


def run_firms(opts: FirmOptions, cat: Catalog) -> RunResult:
    """Load the inputs, screen the firms, write the outputs and (optionally) the map.

    Parameters
    ----------
    opts : FirmOptions
        Inputs, field mappings, distance, outputs; ``opts.lang`` the language of the tables
        and the map (:mod:`sxzones.i18n`).
    cat : Catalog
        Catalogue of the layers named in ``opts`` (and of the working CRS).
    """
    t0 = time.perf_counter()
    warm_up()  # the compiled kernels load while the inputs are read
    fmts = list(opts.formats)
    names, external = output_names(fmts), [opts.map_path, *figure_paths(opts.figure_path)]
    with Publication(opts.out, "firms", names, external=external, overwrite=opts.overwrite) as pub:
        ruleset = load_rules(opts.rules)
        f, b, a, reports = _load_firm_inputs(opts, cat)
        frep, brep = reports[0], reports[1]
        t_load = time.perf_counter()
        result = screen_firms(f, b, ruleset, distance_m=opts.distance_m, admin=a)
        t_screen = time.perf_counter()
        source_xy = (f.attrs.get("sxzones") or {}).get("coordinate_columns")
        lang = check_lang(opts.lang)
        lab = labels(ruleset) if lang != "en" else None
        write_firm_outputs(
            result, frep.rejects, pub, fmts, add_lonlat=not source_xy, lang=lang, lab=lab
        )
        sources = sources_line(report_sources(reports), lang=lang)
        _write_firm_maps(opts, pub, result, b, a, sources, lab)
        add_inputs(pub, reports, ruleset.path)
        written = pub.publish()
    t_end = time.perf_counter()
    s = summarise(result)
    lines = [
        str(s),
        f"input rows {frep.n_read} = screened {len(result)} + rejected {frep.n_rejected}",
        f"built-up areas: {len(b)} ({brep.provenance.status if brep.provenance else 'file'}); "
        f"rules: {ruleset.path.name}",
        f"time: load {t_load - t0:.2f} s, screen {t_screen - t_load:.2f} s, "
        f"write {t_end - t_screen:.2f} s",
    ]
    for r in reports:
        lines += [f"  {x}" for x in r.summary().splitlines()[1:]]
    return RunResult("firms", written, "\n".join(lines), manifest=pub.manifest)


def _write_firm_maps(
    opts: FirmOptions,
    pub: Publication,
    result: gpd.GeoDataFrame,
    builtup: gpd.GeoDataFrame,
    admin: gpd.GeoDataFrame | None,
    sources: str,
    lab: Labels | None = None,
) -> None:
    """Stage the interactive map (in ``opts.lang``) and the static figure the options ask
    for."""
    dist = float(result.attrs["distance_m"])
    if opts.map_path is not None:
        from sxzones.maps.firm_map import firm_zones_map
        from sxzones.maps.interactive import save_map

        m = firm_zones_map(
            result, builtup, dist, opts.map_basemap(), sources=sources, lang=opts.lang, lab=lab
        )
        save_map(m, pub.stage_external(opts.map_path), overwrite=True)
    if opts.figure_path is not None:
        from sxzones.maps.firm_map import firm_zones_figure

        fig = pub.stage_external(figure_paths(opts.figure_path)[0])
        firm_zones_figure(
            result, builtup, admin, dist, fig, sources=sources, lang=opts.lang, lab=lab
        )
