"""Run the equipment screen: read the units, join their firms (and the firm screen), assess,
write CSV / XLSX / GPKG / capacity / JSON / rejects, map."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sxzones.analyses.phaseout import (
    EquipmentRules,
    assess_units,
    coking_capacity,
    equipment_rules,
    summary_by_city_type,
)
from sxzones.i18n import Labels, Lang, check_lang, labels, sheet_name, translate_frame
from sxzones.layers import Catalog, LayerReport
from sxzones.layers.equipment import GROUP_TOTAL, VOCAB_FIELDS, read_equipment
from sxzones.options import PhaseoutOptions
from sxzones.outputs import Publication, write_csv, write_gpkg, write_json, write_xlsx
from sxzones.rules import RuleSet, load_rules
from sxzones.runs import (
    RunResult,
    add_inputs,
    figure_paths,
    find_file,
    load_input,
    refusing_all_rejected,
)
from sxzones.runs.firms import load_admin, load_builtup
from sxzones.runs.provenance import (
    demonstration_warning,
    gpkg_metadata,
    sources_table,
    with_sources,
)

OUTPUT_NAMES = {"csv": "phaseout.csv", "xlsx": "phaseout.xlsx", "gpkg": "phaseout.gpkg"}
#: Columns first in the unit table, in this order; the table's other columns follow.
LEAD = [
    "unit_id",
    "firm_id",
    "firm_name",
    "equipment_type",
    "category",
    "finding",
    "rule_ids",
    "clauses",
    "deadline",
    "asks",
    "missing_fields",
    "reading_notes",
    "new_capacity",
    "new_capacity_rule",
    "status",
    "chamber_height_m",
    "volume_m3",
    "capacity_t",
    "capacity_10kt_per_year",
    "capacity_counted_on",
    "product",
    "furnace_form",
    "sinter_type",
    "ultra_low_emission",
    "commissioned",
    "city",
    "county",
    "adcode",
    "province",
    "in_jurisdiction",
    "firm_found",
    "firm_zone",
    "firm_distance_m",
    "firm_rule_ids",
    "firm_clauses",
    "firm_asks",
]
#: Firm-screen columns carried onto each unit (as firm_<name> unless city/county/name).
_FIRM_COLS = {
    "name": "firm_name",
    "city": "city",
    "county": "county",
    "adcode": "adcode",
    "zone": "firm_zone",
    "distance_m": "firm_distance_m",
    "rule_ids": "firm_rule_ids",
    "clauses": "firm_clauses",
    "asks": "firm_asks",
}


def _firm_table(
    opts: PhaseoutOptions, cat: Catalog, ruleset: RuleSet
) -> tuple[
    gpd.GeoDataFrame | None, gpd.GeoDataFrame | None, gpd.GeoDataFrame | None, list[LayerReport]
]:
    """The firms (screened when a built-up layer is given; city and county from the admin
    layer), the built-up areas and the admin layer; None when not given."""
    if not opts.firms:
        return None, None, None, []
    f, frep = load_input(
        opts.firms, "firms", cat, crs=opts.crs, fields=opts.fields_for("firms"), base=opts.base
    )
    reports = [frep]
    a = None
    if (loaded := load_admin(opts, cat)) is not None:
        a, arep = loaded
        reports.append(arep)
    if opts.builtup:
        from sxzones.analyses.firm_zones import screen_firms

        b, brep = load_builtup(opts.builtup, opts, cat)
        reports.append(brep)
        return screen_firms(f, b, ruleset, admin=a), b, a, reports
    if a is not None:
        from sxzones.analyses.nearest import county_lookup

        g = f.geometry.to_numpy()
        pts = g if bool(np.all(shapely.get_type_id(g) == 0)) else shapely.point_on_surface(g)
        which, table = county_lookup(pts, a)
        cols = ("city", "county", "adcode")
        f = f.assign(**{c: np.asarray(table[c], dtype=object)[which] for c in cols})
    return f, None, a, reports


def _id_key(ids: pd.Series) -> pd.Series:
    """Firm ids as they are compared: NFKC (full-width ９１ -> 91), upper case, no spaces. A
    统一社会信用代码 has digits and upper-case letters only (GB 32100-2015), and an equipment
    table typed apart from the firm list writes it in lower case or full width. The firm
    screen's duplicate ids are found by the same comparison (:func:`sxzones.vocab.id_key`)."""
    from sxzones.vocab import id_key

    return id_key(ids)


def join_firms(units: pd.DataFrame, firms: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Units with their firm's name, city, county and firm-screen findings, placed at the
    firm's location (working CRS); ``firm_found`` says whether the firm was in the layer.
    A unit's own city (a ``city`` column of the table) wins over its firm's."""
    out = units.copy()
    for col in ("city", "county", "status", "firm_name"):
        if col not in out.columns:
            out[col] = None
    if firms is None:
        out["firm_found"] = ""
        return gpd.GeoDataFrame(out, geometry=[None] * len(out))
    f = pd.DataFrame(firms).assign(firm_id=_id_key(firms["firm_id"]))
    f = f.drop_duplicates("firm_id").set_index("firm_id")
    geoms = np.asarray(f[firms.geometry.name].to_numpy(), dtype=object)
    pos = f.index.get_indexer(_id_key(out["firm_id"]))
    found = pos >= 0
    out["firm_found"] = np.where(found, "yes", "no")
    for src, dst in _FIRM_COLS.items():
        if src not in f.columns:
            continue
        vals = np.asarray(f[src].astype(object), dtype=object)
        joined = np.full(len(out), None, dtype=object)
        joined[found] = vals[pos[found]]
        if dst in out.columns and dst in ("city", "firm_name"):
            own = out[dst].astype("string").str.strip().fillna("")
            mine = (own != "").to_numpy(dtype=bool)
            joined = np.where(mine, out[dst].to_numpy(dtype=object), joined)
        out[dst] = joined
    g = np.full(len(out), None, dtype=object)
    g[found] = geoms[pos[found]]
    return gpd.GeoDataFrame(out, geometry=list(g), crs=firms.crs)


def place_in_jurisdiction(
    result: gpd.GeoDataFrame, admin: gpd.GeoDataFrame | None, ruleset: RuleSet
) -> gpd.GeoDataFrame:
    """Units with their firm's ``province`` (the admin layer's name of the province whose
    code begins the firm's county code) and ``in_jurisdiction``: ``yes`` / ``no`` whether
    that county is in the rules' jurisdiction, ``""`` where it is not judged (no admin
    layer, a firm not found or outside every county, a rules file naming no jurisdiction),
    as the firm screen judges firms (:meth:`sxzones.rules.RuleSet.outside`)."""
    code = result.get("adcode", pd.Series(None, index=result.index, dtype=object))
    code = code.fillna("").astype(str).str.strip()
    names: dict[str, str] = {}
    if admin is not None and {"adcode", "level", "name"} <= set(admin.columns):
        a = pd.DataFrame(admin.drop(columns=admin.geometry.name)).astype({"adcode": str})
        prov = a[a["level"] == "province"]
        names = dict(zip(prov["adcode"].str[:2], prov["name"].astype(str), strict=True))
        if "province" in a:  # the bundled layer names every county's province
            named = a[a["province"].fillna("").astype(str) != ""]
            names |= dict(zip(named["adcode"].str[:2], named["province"].astype(str), strict=True))
    uniq, inv = np.unique(code.to_numpy(dtype=str), return_inverse=True)
    away = ruleset.outside(uniq)[inv]
    judged = (code != "").to_numpy() & (ruleset.jurisdiction is not None)
    return result.assign(
        adcode=code.to_numpy(dtype=object),
        province=np.array([names.get(c[:2], "") if c else "" for c in code], dtype=object),
        in_jurisdiction=np.where(judged, np.where(away, "no", "yes"), ""),
    )


def finding_names(er: EquipmentRules, lang: Lang) -> dict[str, str]:
    """How equipment types and phase-out rules are named in ``phaseout_findings``: by their
    identifiers in English; in Chinese by the type's name and the rule's sentence (the ids
    were shown on Chinese maps)."""
    if lang != "zh":
        return {}
    names = {k: v["zh"] for k, v in er.labels.get("types", {}).items() if v.get("zh")}
    return names | {r.id: r.zh.rstrip("。") for r, _ in er.phaseout if r.zh}


def firm_findings(
    result: gpd.GeoDataFrame, names: dict[str, str] | None = None
) -> gpd.GeoDataFrame:
    """One row per firm that has units: the firm screen's zone and rules beside the units'
    phase-out findings (``phaseout_findings``: unit ids, types and rules, named by
    ``names`` where it has them: :func:`finding_names`), for the XLSX ``firms`` sheet and
    the map (which draws those with a location; a firm not in ``--firms`` has none)."""
    nm = names or {}
    zh = bool(nm)
    rows = []
    for fid, g in result.groupby("firm_id", sort=True):
        po = g[g["finding"] == "phase_out"]
        un = g[g["finding"] == "unassessed"]
        first = g.iloc[0]
        rows.append(
            {
                "firm_id": fid,
                "name": first.get("firm_name", ""),
                "zone": first.get("firm_zone", "") or "",
                "distance_m": first.get("firm_distance_m", None),
                "firm_rule_ids": first.get("firm_rule_ids", "") or "",
                "firm_clauses": first.get("firm_clauses", "") or "",
                "units": len(g),
                "phase_out_units": len(po),
                "unassessed_units": len(un),
                "phaseout_findings": ("；" if zh else "; ").join(
                    f"{u} {nm.get(t, t)}{'：' if zh else ': '}"
                    + ("，" if zh else ";").join(nm.get(x, x) for x in r.split(";"))
                    for u, t, r in zip(po.unit_id, po.equipment_type, po.rule_ids, strict=True)
                ),
                "phaseout_clauses": "; ".join(dict.fromkeys(po["clauses"])),
                "finding": "phase_out" if len(po) else "unassessed" if len(un) else "keep",
                "geometry": first.geometry,
            }
        )
    cols = ["firm_id", "name", "zone", "finding", "geometry"]
    if not rows:
        return gpd.GeoDataFrame(columns=cols, geometry="geometry", crs=result.crs)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=result.crs)


def unplaced_note(result: gpd.GeoDataFrame, limit: int = 20) -> str:
    """The note of the map and figure naming the units that have no location (their firm
    is not in ``--firms``): ``""`` when every unit has one. Bilingual, as the map's note."""
    lost = result[result.geometry.isna()]
    if lost.empty:
        return ""
    head = lost.head(limit)
    named = ", ".join(
        f"{u} ({f}, {x})"
        for u, f, x in zip(head["unit_id"], head["firm_id"], head["finding"], strict=True)
    )
    if len(lost) > limit:
        named += f" … (+{len(lost) - limit}: phaseout.csv, firm_found no)"
    return (
        f"未上图：{len(lost)} 台设备的企业不在企业图层中，无位置 Not on the map: {len(lost)} "
        "unit(s) whose firm is not in --firms, so without a location (in the tables, and in "
        f"phaseout.gpkg with an empty geometry): {named}."
    )


def _ordered(result: pd.DataFrame) -> pd.DataFrame:
    lead = [c for c in LEAD if c in result.columns]
    rest = [c for c in result.columns if c not in lead and c not in ("geometry", "source_row")]
    return result[[*lead, *rest, "source_row"]]


def _table(result: gpd.GeoDataFrame) -> pd.DataFrame:
    """The unit table as written: ordered, dates as ISO text, no geometry."""
    t = _ordered(pd.DataFrame(result.drop(columns="geometry")))
    if "commissioned" in t:
        t = t.assign(commissioned=t["commissioned"].map(_date_text))
    return t.astype({c: object for c in t.columns if t[c].dtype == bool})


def _date_text(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, tuple):
        return f"{v[0]:04d}-{v[1]:02d}"
    return v.isoformat() if hasattr(v, "isoformat") else str(v)


def output_names(formats: list[str]) -> list[str]:
    """The files an equipment screen writes in its output folder, in order."""
    extra = ["coking_capacity.csv", "phaseout.json", "rejects.csv"]
    return [OUTPUT_NAMES[f] for f in formats] + extra


#: Which vocabulary the values of a column belong to, for --lang (sxzones.i18n).
VOCABULARY = {
    "finding": "phaseout_finding",
    "equipment_type": "equipment_type",
    "category": "industry",
    "product": "product",
    "furnace_form": "furnace_form",
    "sinter_type": "sinter_type",
    "ultra_low_emission": "yes_no",
    "new_capacity": "yes_no",
    "firm_found": "yes_no",
    "in_jurisdiction": "yes_no",
    "against_cap": "yes_no",
    "status": "equipment_status",
    "firm_zone": "zone",
}


def output_labels(ruleset: RuleSet, er: EquipmentRules) -> Labels:
    """The i18n labels with the Chinese names of the equipment vocabularies (from the rules
    file: equipment types, products, furnace forms, sinter types)."""
    lab = labels(ruleset)
    for col in ("equipment_type", "product", "furnace_form", "sinter_type"):
        vocab = VOCAB_FIELDS[col]
        names = {k: v["zh"] for k, v in er.labels.get(vocab, {}).items() if v.get("zh")}
        lab.values.setdefault(col, {}).update(names)
    return lab


def write_outputs(
    result: gpd.GeoDataFrame,
    capacity: pd.DataFrame,
    totals: dict[str, Any],
    rejects: pd.DataFrame,
    pub: Publication,
    formats: list[str],
    lang: Lang = "en",
    lab: Labels | None = None,
    names: dict[str, str] | None = None,
    sources: pd.DataFrame | None = None,
) -> None:
    """Stage phaseout.csv / .xlsx / .gpkg (every unit; one whose firm has no location with
    an empty geometry), coking_capacity.csv, phaseout.json and rejects.csv in ``pub``. ``lang``: headers, values
    and sheet names of the CSV and XLSX (:mod:`sxzones.i18n`); the GeoPackage and the JSON
    keep the identifiers. ``sources``: the inputs' provenance
    (:func:`~sxzones.runs.provenance.sources_table`), the workbook's last sheet (with a
    demonstration layer's warning atop the summary) and the GeoPackage layer's metadata."""
    table = _table(result)
    meta = gpkg_metadata(sources) if sources is not None else None

    def tr(frame: pd.DataFrame) -> pd.DataFrame:
        return translate_frame(frame, lang, lab=lab, vocabulary=VOCABULARY)

    for f in formats:
        path = pub.stage(OUTPUT_NAMES[f], rows=len(table))
        if f == "csv":
            write_csv(tr(table), path, overwrite=True)
        elif f == "xlsx":
            _write_workbook(table, capacity, result, path, lang, lab, names, sources)
        else:  # every unit: one whose firm has no location with an empty geometry
            g = gpd.GeoDataFrame(table, geometry=result.geometry.to_numpy(), crs=result.crs)
            write_gpkg(g, path, overwrite=True, layer="phaseout", metadata=_gpkg_meta(meta, g))
    write_csv(tr(capacity), pub.stage("coking_capacity.csv", rows=len(capacity)), overwrite=True)
    counts = table["finding"].value_counts().reindex(["phase_out", "unassessed", "keep"])
    summary = {
        "findings": {k: int(v) for k, v in counts.fillna(0).items()},
        "new_capacity_units": int((table["new_capacity"] == "yes").sum()),
        "coking_capacity": totals,
    }
    write_json(summary, pub.stage("phaseout.json"), overwrite=True)
    write_csv(tr(rejects), pub.stage("rejects.csv", rows=len(rejects)), overwrite=True)


def _gpkg_meta(meta: dict[str, str] | None, units: gpd.GeoDataFrame) -> dict[str, str] | None:
    """The GeoPackage layer's metadata (:func:`~sxzones.runs.provenance.gpkg_metadata`) with
    ``sxzones_unlocated``: how many units have an empty geometry, and why."""
    lost = units[units.geometry.isna()]
    if lost.empty:
        return meta
    shown = ", ".join(map(str, lost["unit_id"].head(20))) + (" ..." if len(lost) > 20 else "")
    return (meta or {}) | {
        "sxzones_unlocated": f"{len(lost)} unit(s) whose firm is not in --firms have no "
        f"location: empty geometry ({shown})"
    }


def _write_workbook(
    table: pd.DataFrame,
    capacity: pd.DataFrame,
    result: gpd.GeoDataFrame,
    path: Path,
    lang: Lang,
    lab: Labels | None,
    names: dict[str, str] | None,
    sources: pd.DataFrame | None,
) -> None:
    """phaseout.xlsx: summary, units, coking capacity, new capacity and firms, then (when
    given) the ``sources`` sheet, with a demonstration layer's warning atop the summary."""
    sheets = {
        "summary": summary_by_city_type(table),
        "units": table,
        "coking_capacity": capacity,
        "new_capacity": table[table["new_capacity"] == "yes"],
        "firms": pd.DataFrame(firm_findings(result, names).drop(columns="geometry")),
    }
    named = {
        sheet_name(k, lang, lab=lab): translate_frame(v, lang, lab=lab, vocabulary=VOCABULARY)
        for k, v in sheets.items()
    }
    write_xlsx(named, path, overwrite=True, leads=with_sources(named, sources, lang, lab))


def _summary(result: pd.DataFrame, totals: dict[str, Any], reports: list[LayerReport]) -> str:
    c = result["finding"].value_counts()
    er = reports[0]
    lines = [
        f"units: {len(result)}: phase_out {c.get('phase_out', 0)}, unassessed "
        f"{c.get('unassessed', 0)}, keep {c.get('keep', 0)}; new capacity "
        f"{int((result['new_capacity'] == 'yes').sum())}",
        f"input rows {er.n_read} = assessed {len(result)} + rejected {er.n_rejected}",
        f"coking capacity (万吨/年): operating {totals['operating_10kt']:g}, idle "
        f"{totals['idle_10kt']:g}, cap {totals['cap_10kt']:g} ({totals['clause']})",
    ]
    if n := totals.get("units_in_capacity_groups", 0):
        lines.append(
            f"  {n} coke oven(s) share a capacity written once for their group (merged cells): "
            "counted once per group (capacity_counted_on)"
        )
    if totals.get("planned_10kt"):
        lines.append(f"  planned or under construction (在建/拟建): {totals['planned_10kt']:g}")
    if totals["units_without_capacity"]:
        unread = [
            f.field
            for f in er.findings
            if f.code == "column_not_read" and f"like {GROUP_TOTAL}" in f.message
        ]
        why = f" (column(s) {', '.join(map(repr, unread))} not read: see the notes below)"
        lines.append(
            f"  {totals['units_without_capacity']} coke oven(s) without a capacity"
            + (why if unread else "")
        )
    if "firm_found" in result.columns and (lost := result["firm_found"] == "no").any():
        shown = ", ".join(map(str, result.loc[lost, "unit_id"].head(5)))
        lines.append(
            f"warning: {int(lost.sum())} unit(s) whose firm is not in --firms ({shown}"
            f"{' ...' if lost.sum() > 5 else ''}): they carry no firm-screen finding and "
            "have no location: in the tables, in phaseout.gpkg with an empty geometry, named "
            "in the map's note, not drawn. Fix: add their firms to --firms, or correct the firms' "
            "rows in rejects.csv"
        )
    lines += _outside_lines(result, totals)
    for r in reports:
        lines += [f"  {x}" for x in r.summary().splitlines()]
    return "\n".join(lines)


def _outside_lines(result: pd.DataFrame, totals: dict[str, Any]) -> list[str]:
    """The summary's warning on units of firms outside the plan's province
    (``in_jurisdiction`` no, :func:`place_in_jurisdiction`) and their capacity kept apart;
    a note on located units whose province could not be judged."""
    blank = pd.Series("", index=result.index, dtype=object)
    where = result.get("in_jurisdiction", blank).fillna("").astype(str)
    found = (result.get("firm_found", blank) == "yes").to_numpy(dtype=bool)
    lines = []
    if m := int((found & (where == "").to_numpy(dtype=bool)).sum()):
        lines.append(
            f"note: {m} unit(s) whose firm's province was not judged (no admin layer, a firm "
            "outside its counties, or a rules file naming no jurisdiction): their coke ovens "
            "count against the cap"
        )
    away = (where == "no").to_numpy(dtype=bool)
    if not (n := int(away.sum())):
        return lines
    shown = ", ".join(map(str, result.loc[away, "unit_id"].head(5))) + (" ..." if n > 5 else "")
    lines.append(
        f"warning: {n} unit(s) belong to firms outside the plan's province ({shown}; "
        "in_jurisdiction no): their findings follow the equipment rules, which the plan sets "
        "for Shanxi; check the firms' locations"
    )
    if k := totals.get("outside_jurisdiction_units", 0):
        provinces = ", ".join(totals["outside_jurisdiction_provinces"])
        lines.append(
            f"  coking capacity outside the plan's province ({provinces}), not counted against "
            f"the cap: operating {totals['outside_jurisdiction_operating_10kt']:g}, idle "
            f"{totals['outside_jurisdiction_idle_10kt']:g} ({k} coke oven(s); "
            "coking_capacity.csv against_cap no)"
        )
    return lines


def _write_maps(
    opts: PhaseoutOptions,
    pub: Publication,
    firms: gpd.GeoDataFrame,
    builtup: gpd.GeoDataFrame | None,
    admin: gpd.GeoDataFrame | None,
    reports: list[LayerReport],
    lab: Labels | None = None,
    note: str = "",
) -> None:
    """Stage the interactive map and the static figure the options ask for (in
    ``opts.lang``): the firms with a location; ``note`` (:func:`unplaced_note`) before the
    sources line names the units that have none."""
    from sxzones.maps.sources import report_sources, sources_line

    lang = check_lang(opts.lang)
    sources = " ".join(filter(None, [note, sources_line(report_sources(reports), lang=lang)]))
    firms = firms[firms.geometry.notna()]
    if opts.map_path is not None:
        from sxzones.maps.interactive import save_map
        from sxzones.maps.phaseout_map import phaseout_map

        m = phaseout_map(firms, builtup, opts.map_basemap(), sources=sources, lang=lang, lab=lab)
        save_map(m, pub.stage_external(opts.map_path), overwrite=True)
    if opts.figure_path is not None:
        from sxzones.maps.phaseout_map import phaseout_figure

        fig = pub.stage_external(figure_paths(opts.figure_path)[0])
        phaseout_figure(firms, builtup, admin, fig, sources=sources, lang=lang, lab=lab)


def run_phaseout(opts: PhaseoutOptions, cat: Catalog) -> RunResult:
    """Read the equipment table, join the firms (and the firm screen), assess every unit,
    total coking capacity, write the outputs and (optionally) the map.

    Parameters
    ----------
    opts : PhaseoutOptions
        Inputs, field mappings, outputs.
    cat : Catalog
        Catalogue of the firm, built-up and admin layers named in ``opts`` (working CRS).
    """
    fmts = [f for f in opts.formats if f != "gpkg" or opts.firms]  # gpkg: firms' locations
    with Publication(
        opts.out,
        "phaseout",
        output_names(fmts),
        external=[opts.map_path, *figure_paths(opts.figure_path)],
        overwrite=opts.overwrite,
    ) as pub:
        ruleset = load_rules(opts.rules)
        er = equipment_rules(ruleset)
        path = find_file(opts.equipment, opts.base)
        lang = check_lang(opts.lang)
        lab = output_labels(ruleset, er) if lang != "en" else None
        # an equipment table (or a firm list) whose every row is rejected: rejects.csv
        with refusing_all_rejected(pub, ["equipment", "firms"], ruleset.path, lang=lang, lab=lab):
            units, erep = read_equipment(
                path,
                er,
                fields=opts.fields_for("equipment"),
                encoding=opts.encoding,
                sheet=opts.layer,
            )
            firms, builtup, admin, reports = _firm_table(opts, cat, ruleset)
        reports = [erep, *reports]
        result = place_in_jurisdiction(join_firms(assess_units(units, er), firms), admin, ruleset)
        capacity, totals = coking_capacity(result, er)
        rejects = pd.concat([r.rejects for r in reports if r.n_rejected] or [erep.rejects])
        names = finding_names(er, lang)
        add_inputs(pub, reports, ruleset.path)  # first: the tables name the inputs' digests
        prov = sources_table(reports, ruleset, pub.inputs)
        write_outputs(result, capacity, totals, rejects, pub, fmts, lang, lab, names, prov)
        findings = firm_findings(result, names)
        note = unplaced_note(result)
        _write_maps(opts, pub, findings, builtup, admin, reports, lab, note)
        written = pub.publish()
    summary = "\n".join([_summary(result, totals, reports), *demonstration_warning(prov)])
    return RunResult.of("phaseout", pub, written, summary)
