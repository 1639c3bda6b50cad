"""Run the firm screen: load, screen, write CSV / XLSX / GPKG / rejects, map."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sxzones.analyses.firm_zones import screen_firms, summarise, summary_by_city
from sxzones.analyses.nearest import warm_up
from sxzones.errors import SxzonesError
from sxzones.geodesy import to_lonlat
from sxzones.layers import Catalog, LayerReport
from sxzones.maps.basemaps import Basemap, recipe_basemap
from sxzones.maps.sources import report_sources, sources_line
from sxzones.outputs import Publication, write_csv, write_gpkg, write_xlsx
from sxzones.rules import load_rules
from sxzones.runs import RunResult, Say, add_inputs, figure_paths, load_input

if TYPE_CHECKING:
    from sxzones.recipes import Recipe

FORMATS = ("csv", "xlsx", "gpkg")
FIRM_OPTIONS = frozenset(
    {
        "figure",
        "distance",
        "formats",
        "map",
        "crs",
        "id_field",
        "industry_field",
        "name_field",
        "encoding",
        "basemap",
        "embed_tianditu_key",
    }
)
XLSX_MAX_ROWS = 1_048_575

#: Columns first in the outputs, in this order; the firm's other fields follow.
LEAD = [
    "firm_id",
    "name",
    "industry",
    "industry_id",
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


def parse_distance(text: str | float | int, *, allow_zero: bool = False) -> float:
    """``"20km"``, ``"20 km"``, ``"20000m"``, ``"20000"`` -> metres (``allow_zero``: a
    setback of 0 is fine, a screening distance is not)."""
    if isinstance(text, int | float):
        v = float(text)
    else:
        s = str(text).strip().lower().replace(" ", "")
        try:
            if s.endswith("km"):
                v = float(s[:-2]) * 1000.0
            elif s.endswith("m"):
                v = float(s[:-1])
            else:
                v = float(s)
        except ValueError:
            raise SxzonesError(f"distance {text!r}: write it as 20km or 20000m") from None
    if not (v >= 0 if allow_zero else v > 0):
        raise SxzonesError(f"distance {text!r} must be {'0 or more' if allow_zero else 'positive'}")
    return v


def parse_formats(text: str | list[str]) -> list[str]:
    items = [f.strip().lower() for f in (text.split(",") if isinstance(text, str) else text)]
    bad = [f for f in items if f not in FORMATS]
    if bad or not items:
        raise SxzonesError(f"format(s) {bad or items} unknown; choose from {', '.join(FORMATS)}")
    return items


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
) -> None:
    """Stage the screen's outputs in ``pub``. Point firms get CGCS2000 lon/lat columns unless
    ``add_lonlat`` is false (tables keep the coordinate columns they came with)."""
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
            write_csv(table, path, overwrite=True)
        elif f == "xlsx":
            sheets: dict[str, pd.DataFrame] = {"summary": summary_by_city(table)}
            for z, part in table.groupby("zone", sort=False):
                sheets[str(z)] = part
            write_xlsx(sheets, path, overwrite=True)
        else:
            write_gpkg(result, path, overwrite=True, layer="firm_zones")
    write_csv(rejects, pub.stage("rejects.csv", rows=len(rejects)), overwrite=True)


def run_firms(
    firms: str | Path,
    builtup: str | Path,
    cat: Catalog,
    *,
    out: Path,
    rules: str | Path | None = None,
    admin: str | Path | None = "admin",
    crs: str | None = None,
    id_field: str | None = None,
    industry_field: str | None = None,
    name_field: str | None = None,
    encoding: str | None = None,
    distance: str | float | None = None,
    formats: list[str] | None = None,
    map_path: Path | None = None,
    figure_path: Path | None = None,
    basemap: Basemap | None = None,
    overwrite: bool = False,
    say: Say = print,
    base: Path | None = None,
) -> RunResult:
    """Load the inputs, screen the firms, write the outputs and (optionally) the map."""
    t0 = time.perf_counter()
    warm_up()  # the compiled kernels load while the inputs are read
    fmts = formats or list(FORMATS)
    external = [map_path, *figure_paths(figure_path)]
    with Publication(
        out, "firms", output_names(fmts), external=external, overwrite=overwrite
    ) as pub:
        ruleset = load_rules(rules)
        d = parse_distance(distance) if distance is not None else None
        fields = {
            "firm_id": id_field or "",
            "industry": industry_field or "",
            "name": name_field or "",
        }
        f, frep = load_input(
            firms, "firms", cat, crs=crs, fields=fields, encoding=encoding, base=base
        )
        b, brep = load_input(builtup, "builtup", cat, base=base)
        reports: list[LayerReport] = [frep, brep]
        a = None
        if admin and (str(admin) != "admin" or "admin" in cat):
            a, arep = load_input(admin, "admin", cat, base=base)
            reports.append(arep)
        t_load = time.perf_counter()
        result = screen_firms(f, b, ruleset, distance_m=d, admin=a)
        t_screen = time.perf_counter()
        source_xy = (f.attrs.get("sxzones") or {}).get("coordinate_columns")
        write_firm_outputs(result, frep.rejects, pub, fmts, add_lonlat=not source_xy)
        sources = sources_line(report_sources(reports))
        if map_path is not None:
            from sxzones.maps.firm_map import firm_zones_map
            from sxzones.maps.interactive import save_map

            dist = float(result.attrs["distance_m"])
            m = firm_zones_map(result, b, dist, basemap, sources=sources)
            save_map(m, pub.stage_external(map_path), overwrite=True)
        if figure_path is not None:
            from sxzones.maps.firm_map import firm_zones_figure

            fig = pub.stage_external(figure_paths(figure_path)[0])
            firm_zones_figure(result, b, a, float(result.attrs["distance_m"]), fig, sources=sources)
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


def run_firms_recipe(
    recipe: Recipe, cat: Catalog, out: Path, overwrite: bool, say: Say
) -> RunResult:
    o: dict[str, Any] = recipe.options
    return run_firms(
        recipe.inputs["firms"],
        recipe.inputs["builtup"],
        cat,
        out=out,
        rules=recipe.rules,
        admin=recipe.inputs.get("admin", "admin"),
        crs=o.get("crs"),
        id_field=o.get("id_field"),
        industry_field=o.get("industry_field"),
        name_field=o.get("name_field"),
        encoding=o.get("encoding"),
        distance=o.get("distance"),
        formats=parse_formats(o["formats"]) if "formats" in o else None,
        map_path=recipe.option_path("map"),
        figure_path=recipe.option_path("figure"),
        basemap=recipe_basemap(o),
        overwrite=overwrite,
        say=say,
        base=recipe.path.parent,
    )
