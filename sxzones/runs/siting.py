"""Run the siting screen: candidates and exclusions by role, rasters, outputs, map, figure."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import rasterio
import rasterio.errors
import shapely
from pyproj import CRS

from sxzones import __version__
from sxzones.analyses.siting import Exclusion, RasterCriterion, SitingResult, screen_sites
from sxzones.errors import SxzonesError
from sxzones.geodesy import ellipsoidal_area
from sxzones.i18n import (
    Labels,
    Lang,
    check_lang,
    labels,
    sheet_name,
    translate_frame,
    translate_sheets,
    translate_value,
)
from sxzones.layers import Catalog, LayerReport, read_file
from sxzones.layers.catalog import read_entry, validation_options
from sxzones.layers.readers import RawLayer
from sxzones.maps.sources import report_sources, sources_line
from sxzones.options import SiteOptions, split_crs
from sxzones.options import is_crs as _is_crs
from sxzones.outputs import (
    Publication,
    hash_ahead,
    write_csv,
    write_gpkg,
    write_json,
    write_xlsx,
)
from sxzones.rules import TECHS, RuleSet, load_rules
from sxzones.runs import (
    RunResult,
    add_inputs,
    admin_name,
    coordinate_fields,
    figure_paths,
    find_file,
    is_file,
    load_input,
    load_layer,
    refusing_all_rejected,
)
from sxzones.runs.project_parts import CANDIDATES, merge_parts, parts_counts, validate_parts
from sxzones.runs.provenance import (
    SOURCE_COLUMNS,
    demonstration_warning,
    gpkg_metadata,
    sources_table,
    with_sources,
)
from sxzones.units import as_typed, parse_distance

OUTPUTS = ("eligible_sites.gpkg", "eligible_sites.csv", "eligible_sites.xlsx", "siting.json")
_SETBACK = re.compile(r"^(.*):(\d+(?:\.\d+)?\s*(?:m|km|米|公里|千米)?)$", re.IGNORECASE)


def parse_exclude(
    spec: str, exists: Callable[[str], bool] = lambda name: False
) -> tuple[str, float | None]:
    """``NAME_OR_PATH[@CRS][:SETBACK]`` -> (name or path, setback in metres or None).

    ``exists(name)`` says whether a name is a layer or a file as it stands (then a colon in
    it is part of the name). Otherwise text after the last colon is a setback and must be
    one: ``villages.gpkg:300ft`` or ``water:-200m`` is refused with the syntax.

    Raises
    ------
    SxzonesError
    """
    spec = spec.strip()
    head, at, tail = spec.rpartition("@")
    if at and head and not exists(spec) and _is_crs(tail):
        return spec, None  # PATH@EPSG:4490: the colon is the CRS's
    name, colon, tail = spec.rpartition(":")  # a setback typed full-width (３００ｍ) read too
    m = _SETBACK.match(f"{name}:{as_typed(tail)}") if colon else None
    if m and m.group(1):
        return m.group(1), parse_distance(m.group(2), allow_zero=True)
    name, colon, setback = spec.rpartition(":")
    if colon and name and setback and not exists(spec) and not re.search(r"[/\\]", setback):
        raise SxzonesError(
            f"--exclude {spec!r}: the setback {setback!r} is not a distance. Write "
            "NAME_OR_PATH:SETBACK with a setback of 0 or more metres or kilometres, e.g. "
            "villages.gpkg:300m or water:0.2km"
        )
    return spec, None


def _load_layer(
    name: str, role: str | None, cat: Catalog, flag: str, base: Path | None, **kw: Any
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """A ``--exclude`` or ``--grid`` layer (``NAME_OR_PATH[@CRS]``, see
    :func:`sxzones.runs.load_layer`)."""
    return load_layer(name, role, cat, flag, whose="candidates'", base=base, **kw)


def parse_resource(spec: str) -> tuple[str, float]:
    """``PATH:MIN`` -> (path, minimum)."""
    path, sep, value = spec.rpartition(":")
    try:
        if not sep or not path:
            raise ValueError
        return path, float(as_typed(value))
    except ValueError:
        raise SxzonesError(
            f"--resource {spec!r}: write PATH:MIN, e.g. ghi.tif:1400 (cells below MIN fail)"
        ) from None


def load_candidates(
    opts: SiteOptions, cat: Catalog, rules: RuleSet
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """The candidates of ``--candidates`` (a file, or a catalogue layer of role
    ``candidates``: :func:`catalogue_candidates`), validated, in the working CRS. Rows
    sharing an id (地块编号: the parts of one parcel) with the same kind and state (稳沉,
    封场年份) are one candidate, the union of its parts; otherwise they are rejected, each
    naming the other rows (:mod:`sxzones.runs.project_parts`, as the site check reads a
    project's parts)."""
    name = str(opts.candidates)
    fields = opts.fields_for("candidates")
    mapping, x, y = coordinate_fields(fields)
    mapping = {k: v for k, v in mapping.items() if v}
    if name in cat and cat.entry(name).role == "candidates" and not (x or y or mapping):
        return catalogue_candidates(cat, name, rules)
    if name in cat or not is_file(name, opts.base):  # load_input's refusal
        return load_input(
            name, "candidates", cat, crs=opts.crs, encoding=opts.encoding, fields=fields,
            layer=opts.layer, base=opts.base,
        )  # fmt: skip
    found = find_file(name, opts.base)
    raw = read_file(
        found, crs=opts.crs, encoding=opts.encoding, layer=opts.layer, x=x, y=y, points=False
    )
    return _in_parts(raw, mapping, cat, rules, name=found.name)


def catalogue_candidates(
    cat: Catalog, name: str, rules: RuleSet
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """The catalogue layer ``name`` (role ``candidates``) read as a candidates file is
    (:func:`load_candidates`): validated as its entry says (fields, values, constants, id
    field, provenance), its rows sharing an id one candidate of parts. Read afresh, not from
    the layer cache (the parts are told from the rows as written)."""
    entry = cat.entry(name)
    raw = read_entry(entry)
    return _in_parts(raw, entry.fields, cat, rules, **validation_options(entry))


def _in_parts(
    raw: RawLayer, mapping: dict[str, str], cat: Catalog, rules: RuleSet, **options: Any
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """Candidates as read (``raw``) validated with ``mapping`` (and more of
    ``validate_layer``'s keywords) into the working CRS, their parts made one candidate."""
    cand, rep = validate_parts(raw, mapping, cat.working.crs, cat.study_area, CANDIDATES, **options)
    return merge_parts(cand, rep, rules, CANDIDATES, written=raw.frame), rep


def rows_line(crep: LayerReport, n_sites: int) -> str:
    """The row accounting of the candidates as printed: input rows = screened rows +
    rejected rows, and how many rows were screened as how many candidates given in parts."""
    line = f"input rows {crep.n_read} = screened {crep.n_loaded} + rejected {crep.n_rejected}"
    parts = parts_counts(crep, n_sites, CANDIDATES)
    if parts is not None:
        line += f" ({parts[0]} rows screened as {parts[1]} candidate(s) given in parts)"
    return line


def _source(rep: LayerReport) -> str:
    p = rep.provenance
    return f"{p.source} ({p.version}, {p.status})" if p else rep.name


def _is_file(name: str, base: Path | None) -> bool:
    return is_file(name, base)


def build_exclusions(
    cat: Catalog,
    ruleset: RuleSet,
    tech: str,
    extra: list[str],
    use_rules: bool = True,
    base: Path | None = None,
) -> tuple[list[Exclusion], list[dict[str, str]], list[LayerReport]]:
    """Exclusions of the rules file found in the catalogue by role (in the rules' order),
    then the user's ``NAME_OR_PATH[@CRS][:SETBACK]`` layers. A rule whose role has no layer is
    listed as not assessed. ``NAME`` may also be a rule's reason, to change its setback."""
    overrides: dict[str, float] = {}
    users: list[tuple[str, float]] = []
    reasons = {str(r.params["reason"]) for r in ruleset.of_kind("siting_exclusion")}
    for spec in extra:
        name, setback = parse_exclude(spec, lambda n: n in cat or _is_file(n, base))
        if name in reasons and name not in cat:
            if setback is None:
                raise SxzonesError(f"--exclude {spec!r}: give the new setback, e.g. {name}:200m")
            overrides[name] = setback
        else:
            users.append((name, setback or 0.0))
    out: list[Exclusion] = []
    missing: list[dict[str, str]] = [] if use_rules else turned_off(ruleset, tech)
    reports: list[LayerReport] = []
    if use_rules:
        for rule in ruleset.of_kind("siting_exclusion"):
            if tech not in rule.params["techs"]:
                continue
            role = rule.layer_role
            layer = cat.layer_of_role(role)
            if layer is None:
                missing.append(
                    {
                        "reason": str(rule.params["reason"]),
                        "rule": rule.id,
                        "clause": rule.clauses,
                        "why": f"no layer with role {role!r} in {cat.path.name}",
                    }
                )
                continue
            frame, rep = cat.load_whole(layer)
            reports.append(rep)
            ex = Exclusion.from_rule(rule, frame, tech, layer=layer, source=_source(rep))
            if ex.reason in overrides:
                ex.setback_m = overrides.pop(ex.reason)
            out.append(ex)
    _no_overrides_left(overrides, missing, use_rules)
    for given, setback in users:
        frame, rep = _load_layer(given, None, cat, "--exclude", base)
        name = split_crs(given, "--exclude", lambda n: n in cat or _is_file(n, base))[0]
        if (
            setback <= 0
            and len(frame)
            and not (frame.geometry.geom_type.str.contains("Polygon")).any()
        ):
            raise SxzonesError(
                f"--exclude {given}: a layer of points or lines without a setback excludes no "
                f"land. Fix: give the setback, e.g. --exclude {given}:300m"
            )
        reports.append(rep)
        reason = name if name in cat else Path(name).stem
        _free_reason(reason, name, out)
        out.append(
            Exclusion(
                reason,
                frame,
                setback,
                label_zh="用户排除图层",
                label_en=f"user exclusion ({reason})",
                clause="user layer",
                layer=name,
                source=_source(rep),
            )
        )
    return out, missing, reports


def _no_overrides_left(
    overrides: dict[str, float], missing: list[dict[str, str]], use_rules: bool
) -> None:
    """Refuse the setbacks ``--exclude REASON:SETBACK`` gave to rules that were not applied
    (turned off by ``--no-rule-exclusions``, or without a layer), saying why."""
    if overrides and not use_rules:
        raise SxzonesError(
            f"--exclude {sorted(overrides)}: these are rules' reasons, and the rules' "
            f"exclusions are turned off by {RULES_OFF}, so their setbacks cannot be changed. "
            f"Fix: drop {RULES_OFF} to apply the rules with the new setback, or --exclude the "
            "layer itself (NAME_OR_PATH:SETBACK)"
        )
    if overrides:
        raise SxzonesError(
            f"--exclude {sorted(overrides)}: these rules have no layer here "
            f"({', '.join(m['why'] for m in missing)})"
        )


#: The option that turns the rules file's exclusions off, as the outputs name it.
RULES_OFF = "--no-rule-exclusions"


def turned_off(ruleset: RuleSet, tech: str) -> list[dict[str, str]]:
    """The rules file's exclusions for ``tech`` as not assessed because ``--no-rule-exclusions``
    turned them off (reason, rule, clause, why), in the rules' order: listed in every output
    as the exclusions a layer is missing for are, so a run without them says so."""
    return [
        {
            "reason": str(rule.params["reason"]),
            "rule": rule.id,
            "clause": rule.clauses,
            "why": f"turned off by {RULES_OFF}",
        }
        for rule in ruleset.of_kind("siting_exclusion")
        if tech in rule.params["techs"]
    ]


def rules_off_line(meta: dict[str, Any]) -> str:
    """The warning of a run whose rules' exclusions were turned off ("" otherwise): which
    were not applied and which layers removed land instead, in English."""
    state = meta.get("rule_exclusions") or {}
    if state.get("applied", True):
        return ""
    users = ", ".join(e["layer"] for e in meta["exclusions"]) or "none"
    return (
        f"the plan's exclusions were turned off by {RULES_OFF}: "
        f"{', '.join(state['not_applied']) or 'none'} not applied; only the --exclude layers "
        f"({users}) removed land, so the eligible land and capacity are not the plan's"
    )


def _free_reason(reason: str, name: str, taken: list[Exclusion]) -> None:
    """Refuse a user layer whose reason (its file's name) is already one of ``taken``'s,
    saying which and the ways out: the areas each reason removed are booked by name."""
    clash = next((ex for ex in taken if ex.reason == reason), None)
    if clash is None:
        return
    if clash.rule_id:
        raise SxzonesError(
            f"--exclude {name}: the file's name {reason!r} is the reason of rule "
            f"{clash.rule_id} (its layer {clash.layer!r}), and each reason is booked once. "
            f"Fix: to apply the file as well as that layer, give it another name (e.g. "
            f"{reason}_2026{Path(name).suffix}); to apply it instead, give the layer role "
            f"{reason!r} in catalog.toml in place of {clash.layer!r}, or run with "
            "--no-rule-exclusions and --exclude the other layers you need"
        )
    raise SxzonesError(
        f"--exclude {name}: its file name {reason!r} is also that of --exclude "
        f"{clash.layer}, and each reason is booked once. Fix: rename one of the files"
    )


def _open_raster(path: Path, stack: ExitStack) -> Any:
    """A raster file opened for the screen (closed with ``stack``)."""
    try:
        return stack.enter_context(rasterio.open(path))
    except rasterio.errors.RasterioIOError as exc:
        raise SxzonesError(f"{path}: cannot open as a raster ({exc})") from None


def summary_lines(res: SitingResult) -> list[str]:
    """The totals of a screen as printed: over the union of the candidates, the overlapping
    pairs, the land each raster did not assess with its capacity, and the warnings."""
    s, t = res.sites, res.summary
    tech = res.meta["tech"]
    lines = [
        f"siting screen ({tech}): {len(s)} candidates, {int(s['eligible'].sum())} with eligible "
        f"land; eligible {t['eligible_km2']:.2f} of {t['candidate_km2']:.2f} km² (the union of "
        f"the candidates); capacity {t['capacity_mw']:.1f} MW"
    ]
    pairs = t["overlapping_pairs"]
    if pairs:
        shown = ", ".join(
            f"{p['site_a']}/{p['site_b']} {p['overlap_m2'] / 1e6:.3f} km²" for p in pairs[:5]
        )
        lines.append(
            f"overlapping candidates: {len(pairs)} pair(s), summed areas "
            f"{t['candidate_km2_sum']:.2f} km², capacity {t['capacity_mw_sum']:.1f} MW; "
            f"{shown}{' ... (all in siting.json)' if len(pairs) > 5 else ''}"
        )
    if "not_assessed_km2" in t:
        lines.append(
            f"not assessed by the rasters (no data or outside them): {t['not_assessed_km2']:.2f} "
            f"km² of the eligible land, {t['not_assessed_capacity_mw']:.1f} MW on it"
            + "".join(
                f"; {r['raster']} {r['area_km2']:.2f} km² ({r['capacity_mw']:.1f} MW)"
                for r in t["not_assessed_by_raster"]
            )
        )
    lines += [f"warning: {w}" for w in t["warnings"]]
    return lines


def _with_totals(by_kind: pd.DataFrame, table: pd.DataFrame, t: dict[str, Any]) -> pd.DataFrame:
    """The summary by kind with the land not assessed by rasters (and its capacity), and a
    last row of totals over the union of the candidates."""
    if "unknown_capacity_mw" in table:
        g = table.groupby("kind", sort=True)
        by_kind["not_assessed_km2"] = (g["unknown_m2"].sum() / 1e6).round(3).to_numpy()
        by_kind["not_assessed_mw"] = g["unknown_capacity_mw"].sum().round(1).to_numpy()
    total: dict[str, Any] = {
        "kind": "all (union of candidates)",
        "candidates": len(table),
        "eligible_sites": int(table["eligible"].sum()),
        "candidate_km2": round(t["candidate_km2"], 3),
        "eligible_km2": round(t["eligible_km2"], 3),
        "capacity_mw": round(t["capacity_mw"], 1),
    }
    if "not_assessed_km2" in by_kind:
        total["not_assessed_km2"] = round(t["not_assessed_km2"], 3)
        total["not_assessed_mw"] = round(t["not_assessed_capacity_mw"], 1)
    return pd.concat([by_kind, pd.DataFrame([total])], ignore_index=True)


#: The columns of the exclusions sheet, kept when it has no row.
EXCLUSION_COLUMNS = [
    "reason", "rule", "layer", "setback_m", "features", "clause", "source", "assessed", "why",
]  # fmt: skip


def _exclusion_rows(meta: dict[str, Any]) -> pd.DataFrame:
    """The exclusions sheet: the exclusions applied, then those not assessed (no layer, no
    DEM, turned off by ``--no-rule-exclusions``) with why; the header even without rows."""
    rows = [{**e, "assessed": True} for e in meta["exclusions"]] + [
        {**m, "assessed": False} for m in meta["not_assessed"]
    ]
    frame = pd.DataFrame(rows)
    extra = [c for c in frame.columns if c not in EXCLUSION_COLUMNS]
    return frame.reindex(columns=EXCLUSION_COLUMNS + extra)


def _leads(
    sheets: dict[str, pd.DataFrame],
    sources: pd.DataFrame | None,
    meta: dict[str, Any],
    lang: Lang,
    lab: Labels | None,
) -> dict[str, list[str]]:
    """The sources sheet added to ``sheets`` and the lines atop the summary sheet: a
    demonstration layer's warning (:func:`~sxzones.runs.provenance.with_sources`), then the
    plan's exclusions turned off (:func:`rules_off_line`)."""
    leads = with_sources(sheets, sources, lang, lab)
    off = rules_off_line(meta)
    if off:
        summary = sheet_name("summary", lang, lab=lab)
        zh = f"方案的排除项已由 {RULES_OFF} 关闭，未执行：" + "、".join(
            str(translate_value(r, "reason", "zh", lab=lab))
            for r in meta["rule_exclusions"]["not_applied"]
        )
        text = {"en": [off], "zh": [zh], "both": [zh, off]}[lang]
        leads[summary] = [*leads.get(summary, []), *text]
    return leads


def _json_sources(sources: pd.DataFrame | None) -> list[dict[str, Any]]:
    """siting.json's ``sources``: the sources sheet's rows, canonical names and values."""
    if sources is None:
        return []
    return [
        {k: (None if pd.isna(v) else int(v) if k == "features" else v) for k, v in r.items()}
        for r in sources.to_dict("records")
    ]


def write_siting_outputs(
    res: SitingResult,
    rejects: pd.DataFrame,
    pub: Publication,
    lang: Lang = "en",
    lab: Labels | None = None,
    sources: pd.DataFrame | None = None,
) -> None:
    """Stage the siting outputs in ``pub``: sites, removed parts, turbines and land not
    assessed (GPKG), the sites table (CSV, XLSX with the summary by kind and the exclusions),
    siting.json, rejects. ``lang``: headers, values and sheet names of the CSV and XLSX
    (:mod:`sxzones.i18n`); the GeoPackage and the JSON keep the identifiers. ``sources``:
    the inputs' provenance (:func:`~sxzones.runs.provenance.sources_table`), written as the
    workbook's sources sheet (a demonstration layer's warning atop the summary), the
    GeoPackage layers' metadata and siting.json's ``sources``."""
    sites = res.sites
    table = pd.DataFrame(sites.drop(columns="geometry"))
    by_kind = (
        table.groupby("kind", sort=True)
        .agg(
            candidates=("site_id", "size"),
            eligible_sites=("eligible", "sum"),
            candidate_km2=("candidate_m2", lambda s: round(s.sum() / 1e6, 3)),
            eligible_km2=("eligible_m2", lambda s: round(s.sum() / 1e6, 3)),
            capacity_mw=("capacity_mw", lambda s: round(s.sum(), 1)),
        )
        .reset_index()
    )
    by_kind = _with_totals(by_kind, table, res.summary)
    meta = res.meta
    layers = {"eligible_sites": sites, "removed": res.removed}
    if len(res.turbines):
        layers["turbines"] = res.turbines
    if res.unassessed is not None and len(res.unassessed):
        layers["not_assessed"] = res.unassessed
    gmeta = gpkg_metadata(sources) if sources is not None else None
    if gmeta is not None and rules_off_line(meta):
        gmeta["sxzones_rule_exclusions"] = rules_off_line(meta)
    write_gpkg(
        layers, pub.stage("eligible_sites.gpkg", rows=len(sites)), overwrite=True, metadata=gmeta
    )
    tr = translate_frame(table, lang, lab=lab)
    write_csv(tr, pub.stage("eligible_sites.csv", rows=len(table)), overwrite=True)
    sheets = translate_sheets(
        {"sites": table, "summary": by_kind, "exclusions": _exclusion_rows(meta)},
        lang,
        lab=lab,
        vocabulary={"why": "siting_why"},  # why an exclusion was not assessed
    )
    leads = _leads(sheets, sources, meta, lang, lab)
    write_xlsx(
        sheets, pub.stage("eligible_sites.xlsx", rows=len(table)), overwrite=True, leads=leads
    )
    first = {k: meta[k] for k in ("rule_exclusions",) if k in meta}
    doc = {"sxzones": __version__, **first, **meta, "summary": by_kind.to_dict("records")}
    if sources is not None:
        doc["sources"] = _json_sources(sources)
    write_json(doc, pub.stage("siting.json"), overwrite=True)
    rej = translate_frame(rejects, lang, lab=lab)
    write_csv(rej, pub.stage("rejects.csv", rows=len(rejects)), overwrite=True)


def _rasters(opts: SiteOptions) -> list[tuple[Path, str, float, str]]:
    """The slope criterion of ``--dem`` and the ``--resource PATH:MIN`` minimums, as
    (file, kind, threshold, name): the run opens the files."""
    rasters = []
    if opts.dem:
        rasters.append((find_file(opts.dem, opts.base), "slope", 0.0, "slope"))
    for spec in opts.resources:
        path, minimum = parse_resource(spec)
        p = find_file(path, opts.base)
        rasters.append((p, "minimum", minimum, f"resource_{p.stem}"))
    return rasters


def _optional_layers(
    opts: SiteOptions, cat: Catalog, reports: list[LayerReport]
) -> tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None]:
    """The grid and admin layers when given (admin: the catalogue's by default); their
    reports are appended to ``reports``."""
    found: list[gpd.GeoDataFrame | None] = []
    for role, name in (("grid", opts.grid), ("admin", admin_name(opts.admin, cat))):
        if not name:
            found.append(None)
            continue
        frame, rep = _load_layer(
            name, role, cat, f"--{role}", opts.base, fields=opts.fields_for(role)
        )
        reports.append(rep)
        found.append(frame)
    return found[0], found[1]


def _screen(
    opts: SiteOptions,
    cand: gpd.GeoDataFrame,
    exclusions: list[Exclusion],
    ruleset: RuleSet,
    specs: list[tuple[Path, str, float, str]],
    layers: tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None],
    missing: list[dict[str, str]],
) -> SitingResult:
    """Open the rasters, screen, close them; slope is listed as not assessed without a DEM."""
    g, a = layers
    if opts.engine == "dask":  # tiles of candidates on a cluster; the workers open the rasters
        from sxzones.dask_engine import dask_client, screen_sites_dask

        with dask_client(opts.scheduler) as client:
            res = screen_sites_dask(
                cand, exclusions, ruleset, specs, client=client, tech=opts.tech, grid=g,
                admin=a, not_assessed=missing, as_of_year=opts.as_of_year,
            )  # fmt: skip
    else:
        res = _screen_here(opts, cand, exclusions, ruleset, specs, layers, missing)
    if not opts.dem:
        res.meta["not_assessed"].append(
            {"reason": "slope", "rule": "siting_terrain", "why": "no DEM given (--dem)"}
        )
    return res


def _screen_here(
    opts: SiteOptions,
    cand: gpd.GeoDataFrame,
    exclusions: list[Exclusion],
    ruleset: RuleSet,
    specs: list[tuple[Path, str, float, str]],
    layers: tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None],
    missing: list[dict[str, str]],
) -> SitingResult:
    """The screen in this process: open the rasters, screen, close them."""
    g, a = layers
    with ExitStack() as stack:  # the run opens the rasters; the screen reads them
        rasters = [
            RasterCriterion(_open_raster(path, stack), kind, threshold, name)
            for path, kind, threshold, name in specs
        ]
        res = screen_sites(
            cand,
            exclusions,
            ruleset,
            tech=opts.tech,
            rasters=rasters,
            grid=g,
            admin=a,
            not_assessed=missing,
            as_of_year=opts.as_of_year,
        )
    return res


#: Eligible land outside every control unit below this share of a site is not flagged (a
#: unit border drawn a little differently), as in the site check.
OUTSIDE_UNITS_SHARE = 1e-3


def outside_area(
    geoms: npt.NDArray[np.object_], units: npt.NDArray[np.object_], crs: CRS
) -> npt.NDArray[np.float64]:
    """Per geometry of ``geoms``, the area (m², ellipsoidal, to 0.1 m²) outside every
    polygon of ``units`` (both in ``crs``). A geometry wholly within one unit has none (no
    union made); any other is cut by the union of the units it reaches into."""
    tree = shapely.STRtree(units)
    i, j = tree.query(geoms, predicate="intersects")
    outside = np.array(geoms, dtype=object)
    inside = np.zeros(len(geoms), dtype=bool)
    inside[np.unique(tree.query(geoms, predicate="within")[0])] = True
    outside[inside] = shapely.Polygon()
    order = np.argsort(i, kind="stable")
    i, j = i[order], j[order]
    # runs of pairs of one geometry: [edges[k], edges[k + 1])
    edges = np.r_[np.flatnonzero(np.r_[True, i[1:] != i[:-1]]) if len(i) else [], len(i)]
    for a, b in itertools.pairwise(edges.astype(int).tolist()):
        if not inside[i[a]]:
            outside[i[a]] = shapely.difference(geoms[i[a]], shapely.union_all(units[j[a:b]]))
    return np.round(ellipsoidal_area(outside, crs), 1)


def _outside_units(res: SitingResult, cat: Catalog) -> None:
    """Per site, the eligible land outside every control unit of the catalogue
    (``outside_units_m2``, ellipsoidal), and a warning when some site has more than 0.1 %
    of its eligible land there. The units tile the province: outside them (another
    province, a gap in the layer) red lines and priority-protection units are not known, so
    that land was not checked against them."""
    name = cat.layer_of_role("control_units")
    s = res.sites
    if name is None or not len(s):
        return
    units, _ = cat.load(name)
    crs = CRS.from_user_input(s.crs)
    area = outside_area(s.geometry.to_numpy(), units.to_crs(crs).geometry.to_numpy(), crs)
    s["outside_units_m2"] = area
    eligible = s["eligible_m2"].to_numpy(dtype=float)
    flagged = (area > 1.0) & (area > OUTSIDE_UNITS_SHARE * eligible)
    if flagged.any():
        ids = ", ".join(str(v) for v in s.loc[flagged, "site_id"].head(5))
        res.meta.setdefault("totals", {}).setdefault("warnings", []).append(
            f"{int(flagged.sum())} site(s) ({ids}{' ...' if flagged.sum() > 5 else ''}) have "
            f"{area[flagged].sum() / 1e6:.2f} km² of eligible land outside every control unit "
            f"of {name} (outside_units_m2): red lines and priority-protection units are not "
            "known there, so that land was not checked against them"
        )


def run_sites(opts: SiteOptions, cat: Catalog) -> RunResult:
    """Load candidates, exclusions and rasters; screen; write outputs, map and figure.

    ``opts.lang``: the language of the CSV, XLSX and map (:mod:`sxzones.i18n`)."""
    t0 = time.perf_counter()
    out, tech, candidates = opts.out, opts.tech, opts.candidates
    if tech not in TECHS:
        raise SxzonesError(f"--tech {tech!r}: choose from {', '.join(TECHS)}")
    external = [opts.map_path, *figure_paths(opts.figure_path)]
    names = [*OUTPUTS, "rejects.csv"]
    with Publication(out, "sites", names, external=external, overwrite=opts.overwrite) as pub:
        ruleset = load_rules(opts.rules)
        specs = _rasters(opts)
        # the manifest's hashes of the rasters (a province's DEM: 0.35 s for 600 MB),
        # computed while the layers are read and the screen runs
        hash_ahead([path for path, *_ in specs] + [Path(ruleset.path)])
        if opts.max_slope is not None:  # --max-slope: the limit for this technology
            ruleset = ruleset.with_slope_limit(tech, float(opts.max_slope))
        lang = check_lang(opts.lang)
        lab = labels(ruleset) if lang != "en" else None
        with refusing_all_rejected(pub, ["candidates"], ruleset.path, lang=lang, lab=lab):
            cand, crep = load_candidates(opts, cat, ruleset)
        exclusions, missing, reports = build_exclusions(
            cat, ruleset, tech, list(opts.exclude), opts.rule_exclusions, opts.base
        )
        g, a = _optional_layers(opts, cat, reports)
        t_load = time.perf_counter()
        res = _screen(opts, cand, exclusions, ruleset, specs, (g, a), missing)
        _outside_units(res, cat)
        res.meta["candidates"] = {
            "layer": str(candidates),
            "source": _source(crep),
            **_candidate_counts(crep, len(cand)),
        }
        t_screen = time.perf_counter()
        # every rejected row of every layer read, not only the candidates': a red-line polygon
        # refused by validation would otherwise leave its land eligible without a word
        parts = [crep.rejects] + [r.rejects for r in reports if r.n_rejected]
        rejects = pd.concat(parts, ignore_index=True) if len(parts) > 1 else crep.rejects
        _rule_exclusions(res, opts, ruleset, pub)
        add_inputs(pub, [crep, *reports], ruleset.path)  # first: the tables name the digests
        for path, kind, threshold, name in specs:
            pub.add_input("raster", name, path, kind=kind, threshold=threshold)
        prov = siting_sources([crep, *reports], ruleset, pub.inputs)
        write_siting_outputs(res, rejects, pub, lang, lab, prov)
        sources = sources_line(report_sources([crep, *reports]), lang=lang)
        _write_siting_maps(opts, pub, res, cand, a, sources, lab)
        written = pub.publish()
    t_end = time.perf_counter()
    s = res.sites
    lines = [
        *summary_lines(res),
        rows_line(crep, len(cand)),
        f"rows rejected in the exclusion and grid layers (in rejects.csv): "
        f"{sum(r.n_rejected for r in reports)}",
        "removed by reason (km²"
        + (
            ", summed over the candidates: land where they overlap counts once for each)"
            if res.summary["overlapping_pairs"]
            else ")"
        )
        + ": "
        + ", ".join(f"{r} {s[f'removed_{r}_m2'].sum() / 1e6:.2f}" for r in res.meta["reasons"]),
        not_assessed_line(res.meta["not_assessed"]),
        *demonstration_warning(prov),
        f"time: load {t_load - t0:.2f} s, screen {t_screen - t_load:.2f} s, "
        f"write {t_end - t_screen:.2f} s",
    ]
    # the candidates' findings in full (rejected and repaired rows: README, validation
    # policy); for the other layers the head line (their rejects are in rejects.csv)
    lines += [f"  {x}" for x in crep.summary().splitlines()]
    for r in reports:  # and what was repaired in them: it changes the land they remove
        lines += [f"  {x}" for x in r.summary().splitlines()[:1]]
        lines += [f"    {f}" for f in r.findings if f.kind == "repaired"]
    return RunResult.of("sites", pub, written, "\n".join(lines))


def _rule_exclusions(
    res: SitingResult, opts: SiteOptions, rules: RuleSet, pub: Publication
) -> None:
    """Whether the rules file's exclusions were applied, in siting.json
    (``rule_exclusions``), the manifest's ``options`` and, when ``--no-rule-exclusions``
    turned them off, first among the totals' warnings (printed, in siting.json)."""
    if opts.rule_exclusions:
        res.meta["rule_exclusions"] = {"applied": True}
    else:
        res.meta["rule_exclusions"] = {
            "applied": False,
            "turned_off_by": RULES_OFF,
            "not_applied": [m["reason"] for m in turned_off(rules, opts.tech)],
        }
        res.meta["totals"]["warnings"].insert(0, rules_off_line(res.meta))
    pub.options.update(tech=opts.tech, rule_exclusions=bool(opts.rule_exclusions))
    if not opts.rule_exclusions:
        pub.options["rule_exclusions_note"] = rules_off_line(res.meta)


def siting_sources(
    reports: list[LayerReport], rules: RuleSet, inputs: list[dict[str, Any]]
) -> pd.DataFrame:
    """The sources sheet of a siting run (:func:`~sxzones.runs.provenance.sources_table`:
    the layers read, then the rules file), with a row per raster (``--dem``, ``--resource``)
    before the rules': its file, status ``own``, its SHA-256 as the manifest records it,
    and what it screened in ``notes``."""
    table = sources_table(reports, rules, inputs)
    blank = dict.fromkeys(SOURCE_COLUMNS, "") | {"features": None}
    rows = [
        blank
        | {
            "role": "raster",
            "layer": e["name"],
            "status": "own",
            "source": Path(str(e.get("file", ""))).name,
            "sha256": str(e.get("sha256") or e.get("sha256_of_files") or ""),
            "notes": (
                "slope from this DEM"
                if e.get("kind") == "slope"
                else f"cells below {e.get('threshold', 0):g} fail"
            ),
        }
        for e in inputs
        if e.get("role") == "raster"
    ]
    if not rows:
        return table
    extra = pd.DataFrame(rows, columns=SOURCE_COLUMNS).astype({"features": "Int64"})
    return pd.concat([table.iloc[:-1], extra, table.iloc[-1:]], ignore_index=True)


def not_assessed_line(items: list[dict[str, str]]) -> str:
    """The printed line of what was not assessed: the reasons, those with one why together,
    in order (``not assessed: none`` only when nothing was left out).

    >>> not_assessed_line([{"reason": "a", "why": "off"}, {"reason": "b", "why": "off"},
    ...                    {"reason": "slope", "why": "no DEM"}])
    'not assessed: a, b (off); slope (no DEM)'
    """
    groups: dict[str, list[str]] = {}
    for m in items:
        groups.setdefault(m["why"], []).append(m["reason"])
    said = "; ".join(f"{', '.join(r)} ({why})" for why, r in groups.items())
    return f"not assessed: {said or 'none'}"


def _candidate_counts(crep: LayerReport, n_sites: int) -> dict[str, int]:
    """siting.json's candidate rows: read, screened, rejected; with ``candidates`` (the
    sites screened) and ``rows_in_parts`` when rows sharing an id were one candidate."""
    out = {"rows": crep.n_read, "screened": crep.n_loaded, "rejected": crep.n_rejected}
    parts = parts_counts(crep, n_sites, CANDIDATES)
    if parts is not None:
        out["candidates"] = n_sites
        out["rows_in_parts"] = parts[0]
    return out


def _write_siting_maps(
    opts: SiteOptions,
    pub: Publication,
    res: SitingResult,
    cand: gpd.GeoDataFrame,
    admin: gpd.GeoDataFrame | None,
    sources: str,
    lab: Labels | None = None,
) -> None:
    """Stage the interactive map (in ``opts.lang``) and the static figure the options ask
    for."""
    if opts.map_path is not None:
        from sxzones.maps.interactive import save_map
        from sxzones.maps.siting_map import siting_map

        smap = siting_map(
            res, cand, opts.map_basemap(), sources=sources, lang=opts.lang, lab=lab, admin=admin
        )
        save_map(smap, pub.stage_external(opts.map_path), overwrite=True)
    if opts.figure_path is not None:
        from sxzones.maps.siting_map import siting_figure

        fig = pub.stage_external(figure_paths(opts.figure_path)[0])
        siting_figure(res, cand, admin, fig, sources=sources, lang=opts.lang, lab=lab)
