"""Run the firm screen: load, screen, write CSV / XLSX / GPKG / rejects, map."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sxzones._util import gc_paused, is_existing_path
from sxzones.analyses.firm_zones import (
    BEYOND,
    outside_plan,
    screen_firms,
    summarise,
    summary_by_city,
)
from sxzones.analyses.nearest import county_lookup, warm_up
from sxzones.errors import SxzonesError
from sxzones.geodesy import to_lonlat
from sxzones.i18n import (
    Labels,
    Lang,
    check_lang,
    labels,
    translate_frame,
    translate_sheets,
)
from sxzones.layers import Catalog, LayerReport
from sxzones.maps.sources import report_sources, sources_line
from sxzones.options import FirmOptions, PhaseoutOptions
from sxzones.outputs import (
    Publication,
    gpkg_in_child,
    hash_ahead,
    write_csv,
    write_gpkg,
    write_xlsx,
)
from sxzones.rules import RuleSet, load_rules
from sxzones.runs import (
    RunResult,
    add_inputs,
    admin_name,
    figure_paths,
    load_input,
    load_layer,
    refusing_all_rejected,
)
from sxzones.runs.provenance import (
    demonstration_warning,
    gpkg_metadata,
    sources_table,
    with_sources,
)

XLSX_MAX_ROWS = 1_048_575
#: Past this many firms the workbook is a report: the summary and the flagged firms (inside a
#: built-up area or within the distance), with a note naming the files that hold the full list
#: (the CSV, the GeoPackage), so that it opens quickly. Up to it, every firm is in it.
XLSX_FULL_LIST_MAX = 100_000

#: Columns first in the outputs, in this order; the firm's other fields follow.
LEAD = [
    "firm_id",
    "name",
    "industry",
    "industry_id",
    "industry_status",
    "industry_note",
    "zone",
    "distance_m",
    "nearest_area_id",
    "nearest_area_name",
    "nearest_area_kind",
    "nearest_area_note",
    "province",
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
    *,
    xlsx_full_max: int = XLSX_FULL_LIST_MAX,
    fork_min_rows: int | None = None,
    sources: pd.DataFrame | None = None,
) -> None:
    """Stage the screen's outputs in ``pub``. Point firms get CGCS2000 lon/lat columns unless
    ``add_lonlat`` is false (tables keep the coordinate columns they came with). ``lang``:
    headers, values and sheet names of the CSV and XLSX (:mod:`sxzones.i18n`); the GeoPackage
    keeps the canonical names. Past ``xlsx_full_max`` firms, the XLSX holds the summary and
    the flagged firms only (:func:`firm_workbook`). The files are written in parallel: the CSV
    and the XLSX on threads (their writers release the GIL for most of their work), the
    GeoPackage of ``fork_min_rows`` firms or more (by default
    :data:`~sxzones.outputs.FORK_MIN_ROWS`) in a forked process (GDAL's write holds the
    GIL; :class:`~sxzones.outputs.ChildJob`). ``sources``: the layers' provenance
    (:func:`~sxzones.runs.provenance.sources_table`), written as the workbook's sources sheet
    (with a demonstration layer's warning atop the summary) and as the GeoPackage layer's
    metadata; the CSV's columns stay as they are (the manifest names its inputs)."""
    full_elsewhere = [OUTPUT_NAMES[f] for f in formats if f != "xlsx"]
    if "xlsx" in formats and len(result) > XLSX_MAX_ROWS and not full_elsewhere:
        raise SxzonesError(
            f"{len(result)} firms exceed Excel's {XLSX_MAX_ROWS} rows; use --format csv,xlsx"
        )
    result = _ordered(result)
    jobs, child = [], None
    meta = gpkg_metadata(sources) if sources is not None else None
    if "gpkg" in formats:  # first, in a forked process when large: GDAL holds the GIL
        path = pub.stage(OUTPUT_NAMES["gpkg"], rows=len(result))
        child = gpkg_in_child(
            result, path, layer="firm_zones", min_rows=fork_min_rows, metadata=meta
        )
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
            jobs.append(
                partial(write_csv, translate_frame(table, lang, lab=lab), path, overwrite=True)
            )
        elif f == "xlsx":  # the workbook's sheets are made in the job too
            limit = xlsx_full_max if full_elsewhere else XLSX_MAX_ROWS
            job = partial(_write_workbook, table, limit, full_elsewhere, lang, lab, path, sources)
            jobs.append(job)
        elif child is None:
            jobs.append(
                partial(write_gpkg, result, path, overwrite=True, layer="firm_zones", metadata=meta)
            )
    rejects_path = pub.stage("rejects.csv", rows=len(rejects))
    rej = translate_frame(rejects, lang, lab=lab)
    jobs.append(partial(write_csv, rej, rejects_path, overwrite=True))
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for future in [pool.submit(job) for job in jobs]:
                future.result()
        if child is not None:
            child.result()
    finally:
        if child is not None:
            child.cancel()  # after an error or an interrupt here: stop the child, reap it


def _write_workbook(
    table: pd.DataFrame,
    limit: int,
    full_elsewhere: list[str],
    lang: Lang,
    lab: Labels | None,
    path: Path,
    sources: pd.DataFrame | None = None,
) -> Path:
    """Make the workbook's sheets (:func:`firm_workbook`, then the ``sources`` sheet when
    given, with a demonstration layer's warning atop the summary) and write them: one job,
    so that the other files are written meanwhile."""
    sheets = translate_sheets(firm_workbook(table, limit, full_elsewhere, lang), lang, lab=lab)
    leads = with_sources(sheets, sources, lang, lab)
    return write_xlsx(sheets, path, overwrite=True, leads=leads)


def firm_workbook(
    table: pd.DataFrame, full_max: int, full_list_in: list[str], lang: Lang = "en"
) -> dict[str, pd.DataFrame]:
    """The sheets of the firm screen's XLSX: ``summary`` (by city, industry and zone), then a
    sheet per zone with its firms.

    Past ``full_max`` firms (or Excel's sheet limit), the workbook is a report: a ``note``
    sheet first saying where the full list is (``full_list_in``, files beside it), the
    summary, and the flagged zones only (inside, within the distance); a zone with more firms
    than a sheet holds shows the first :data:`XLSX_MAX_ROWS` and the note says so (in
    Chinese too when ``lang`` is ``zh`` or ``both``).

    Examples
    --------
    >>> t = pd.DataFrame({"firm_id": ["a", "b", "c"], "zone": ["inside", "beyond", "beyond"],
    ...                   "city": "太原市", "industry_id": "steel"})
    >>> list(firm_workbook(t, 2, ["firm_zones.csv"]))
    ['note', 'summary', 'inside']
    >>> list(firm_workbook(t, 3, ["firm_zones.csv"]))
    ['summary', 'inside', 'beyond']
    >>> t2 = t.assign(zone=["beyond", "within_10km", "inside"])  # in zone order, not as found
    >>> list(firm_workbook(t2, 3, ["firm_zones.csv"]))
    ['summary', 'inside', 'within_10km', 'beyond']
    """
    sheets: dict[str, pd.DataFrame] = {"summary": summary_by_city(table)}
    parts = {str(z): part for z, part in table.groupby("zone", sort=False, observed=True)}
    rank = {"inside": 0, BEYOND: 2}  # inside, within the distance, beyond: not as found
    parts = dict(sorted(parts.items(), key=lambda kv: rank.get(kv[0], 1)))
    if len(table) <= min(full_max, XLSX_MAX_ROWS):
        return sheets | parts
    flagged = {z: p for z, p in parts.items() if z != BEYOND}
    n_flagged = sum(len(p) for p in flagged.values())
    notes = _notes(len(table), n_flagged, full_list_in, full_max, lang)
    for z, part in flagged.items():
        if len(part) > XLSX_MAX_ROWS:
            notes += _cut_note(z, len(part), full_list_in, lang)
            flagged[z] = part.iloc[:XLSX_MAX_ROWS]
    title = {"en": "note", "zh": "说明"}.get(lang, "说明 (note)")
    return {title: pd.DataFrame({title: notes})} | sheets | flagged


def _notes(n: int, flagged: int, files: list[str], full_max: int, lang: Lang) -> list[str]:
    """The note sheet's lines of a workbook that holds the flagged firms only."""
    where, where_zh = " and ".join(files), "、".join(files)
    en = [
        f"This workbook holds the summary and the {flagged:,} flagged firms (inside a "
        f"built-up area or within the screening distance) of {n:,} firms.",
        f"The full list of all {n:,} firms is in {where}, beside this file.",
        f"A workbook holds every firm up to {full_max:,} firms.",
    ]
    zh = [
        f"本工作簿含汇总及 {n:,} 家企业中需关注的 {flagged:,} 家（位于建成区内或筛查距离内）。",
        f"全部 {n:,} 家企业的完整名单见同一文件夹中的 {where_zh}。",
        f"企业数不超过 {full_max:,} 家时，工作簿列出全部企业。",
    ]
    return en if lang == "en" else zh if lang == "zh" else [*zh, *en]


def _cut_note(zone: str, n: int, files: list[str], lang: Lang) -> list[str]:
    where, where_zh = " and ".join(files), "、".join(files)
    en = (
        f"Sheet {zone} shows the first {XLSX_MAX_ROWS:,} of its {n:,} firms (a sheet holds "
        f"no more); all of them are in {where}."
    )
    zh = f"{zone} 表仅列出 {n:,} 家中的前 {XLSX_MAX_ROWS:,} 家（一张表最多容纳此数）；全部见 {where_zh}。"
    return [en] if lang == "en" else [zh] if lang == "zh" else [zh, en]


def load_builtup(
    spec: str, opts: FirmOptions | PhaseoutOptions, cat: Catalog
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """The built-up areas ``--builtup`` names (a catalogue layer or a file), validated with
    the options' field mapping: the firm screen's, and the phase-out's when it screens the
    firms too."""
    return load_layer(
        spec,
        "builtup",
        cat,
        "--builtup",
        whose="firms'",
        fields=opts.fields_for("builtup"),
        base=opts.base,
    )


def load_admin(
    opts: FirmOptions | PhaseoutOptions, cat: Catalog
) -> tuple[gpd.GeoDataFrame, LayerReport] | None:
    """The admin layer ``--admin`` names (default: the catalogue's), validated; None when
    there is none (``--admin ''`` or no such layer)."""
    name = admin_name(opts.admin, cat)
    if name is None:
        return None
    fields = opts.fields_for("admin")
    return load_layer(name, "admin", cat, "--admin", whose="firms'", fields=fields, base=opts.base)


def _load_firm_inputs(
    opts: FirmOptions, cat: Catalog
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame | None, list[LayerReport]]:
    """The firms, built-up areas and (when there is one) admin layer, validated; their
    reports in that order. The built-up and admin layers are read in another thread while
    the firms are (GDAL and Arrow release the GIL while they read)."""

    with ThreadPoolExecutor(max_workers=1) as pool:
        later_b = pool.submit(load_builtup, opts.builtup, opts, cat)
        later_a = pool.submit(load_admin, opts, cat)
        f, frep = load_input(
            opts.firms,
            "firms",
            cat,
            crs=opts.crs,
            fields=opts.fields_for("firms"),
            encoding=opts.encoding,
            layer=opts.layer,
            base=opts.base,
        )
        b, brep = later_b.result()
        loaded_admin = later_a.result()
    reports: list[LayerReport] = [frep, brep]
    a = None
    if loaded_admin is not None:
        a, arep = loaded_admin
        reports.append(arep)
    return f, b, a, reports


#: Firm files of at least this many bytes (about 80,000 rows of CSV) start loading the
#: compiled nearest-point kernels while they are read. Smaller screens are measured in numpy
#: (:mod:`sxzones.analyses.nearest`: the few boundary segments within each firm's GEOS
#: distance), which costs less than loading the kernels (about 0.5 s of a core, and the
#: interpreter's lock taken from the reading meanwhile).
WARM_UP_BYTES = 4_000_000


def _many_firms(opts: FirmOptions, cat: Catalog) -> bool:
    """Whether the firm list is large enough for the compiled kernels, by its file's size
    (a catalogue layer's file too: the bundled GEM plants are a few hundred)."""
    name = str(opts.firms)
    tries = [cat.entry(name).path] if name in cat else []
    tries += [opts.base / name] if opts.base is not None else []
    for path in [*tries, Path(name)]:
        if is_existing_path(path):
            return path.stat().st_size >= WARM_UP_BYTES
    return False


def _cities_without_builtup(
    result: pd.DataFrame, builtup: gpd.GeoDataFrame, admin: gpd.GeoDataFrame | None
) -> list[str]:
    """A warning when firms lie in cities where the built-up layer has no area (a layer of
    one city's built-up area, used for a province's firms): a built-up area the layer does
    not hold may be near them, so their zone there was not checked against it. Firms the
    plan does not apply to (another province) are left out."""
    if admin is None or "city" not in result.columns or not len(builtup):
        return []
    reps = shapely.point_on_surface(builtup.geometry.to_numpy())
    which, table = county_lookup(reps, admin)
    held = {str(c) for c in np.asarray(table["city"], dtype=object)[which] if str(c)}
    ours = ~outside_plan(result["asks"]) if "asks" in result.columns else np.ones(len(result), bool)
    city = pd.Categorical(result["city"])  # by categories, not a string per firm
    counts = np.bincount(city.codes[ours & (city.codes >= 0)], minlength=len(city.categories))
    missing = {
        str(c): int(n)
        for c, n in zip(city.categories, counts, strict=True)
        if n and str(c) and str(c) not in held
    }
    if not missing:
        return []
    shown = ", ".join(f"{c} {n}" for c, n in list(missing.items())[:8])
    shown += " ..." if len(missing) > 8 else ""
    return [
        f"warning: {sum(missing.values())} firms lie in cities where the built-up layer has no "
        f"area ({shown}): a built-up area the layer does not hold may be near them, so their "
        "zone there was not checked against it"
    ]


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
    if _many_firms(opts, cat):
        warm_up()  # the compiled kernels load while the inputs are read
    fmts = list(opts.formats)
    names, external = output_names(fmts), [opts.map_path, *figure_paths(opts.figure_path)]
    # No cyclic collection during the run: each full one visits every firm's point (three
    # passes of a million objects, about 0.2 s); the run's frames and arrays are freed by
    # their reference counts, and what cycles it leaves are collected after it.
    with (
        gc_paused(),
        Publication(opts.out, "firms", names, external=external, overwrite=opts.overwrite) as pub,
    ):
        ruleset = load_rules(opts.rules)
        lang = check_lang(opts.lang)
        lab = labels(ruleset) if lang != "en" else None
        # every firm rejected: rejects.csv holds them all
        with refusing_all_rejected(pub, ["firms"], ruleset.path, lang=lang, lab=lab):
            f, b, a, reports = _load_firm_inputs(opts, cat)
        frep, brep = reports[0], reports[1]
        # the manifest's input hashes, computed while the screen runs
        hashing = hash_ahead([Path(r.path) for r in reports if str(r.path)] + [Path(ruleset.path)])
        t_load = time.perf_counter()
        result = _screen(opts, f, b, ruleset, a)
        t_screen = time.perf_counter()
        source_xy = (f.attrs.get("sxzones") or {}).get("coordinate_columns")
        hashing.join()  # the tables name each input's digest, as the manifest does
        add_inputs(pub, reports, ruleset.path)
        prov = sources_table(reports, ruleset, pub.inputs)
        write_firm_outputs(
            result,
            frep.rejects,
            pub,
            fmts,
            add_lonlat=not source_xy,
            lang=lang,
            lab=lab,
            sources=prov,
        )
        sources = sources_line(report_sources(reports), lang=lang)
        _write_firm_maps(opts, pub, result, b, a, sources, lab)
        written = pub.publish()
    t_end = time.perf_counter()
    s = summarise(result)
    lines = [
        str(s),
        *_cities_without_builtup(result, b, a),
        f"input rows {frep.n_read} = screened {len(result)} + rejected {frep.n_rejected}",
        f"built-up areas: {len(b)} ({brep.provenance.status if brep.provenance else 'file'}); "
        f"rules: {ruleset.path.name}",
        *demonstration_warning(prov),
        f"time: load {t_load - t0:.2f} s, screen {t_screen - t_load:.2f} s, "
        f"write {t_end - t_screen:.2f} s",
    ]
    for r in reports:
        lines += [f"  {x}" for x in r.summary().splitlines()[1:]]
    return RunResult.of("firms", pub, written, "\n".join(lines))


def _screen(
    opts: FirmOptions,
    firms: gpd.GeoDataFrame,
    builtup: gpd.GeoDataFrame,
    rules: RuleSet,
    admin: gpd.GeoDataFrame | None,
) -> gpd.GeoDataFrame:
    """The screen on the engine the options name (the same rows either way)."""
    if opts.engine != "dask":
        return screen_firms(firms, builtup, rules, distance_m=opts.distance_m, admin=admin)
    from sxzones.dask_engine import dask_client, screen_firms_dask

    with dask_client(opts.scheduler) as client:
        return screen_firms_dask(
            firms, builtup, rules, client=client, distance_m=opts.distance_m, admin=admin
        )


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
