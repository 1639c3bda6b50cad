"""The overview analysis: load and validate catalogue layers, summarise, and map them all."""

from __future__ import annotations

import pandas as pd

from sxzones.i18n import check_lang, labels, text, translate_frame
from sxzones.layers import Catalog, LayerReport
from sxzones.maps import MapLayer, build_map, save_map
from sxzones.maps.sources import has_demonstration, report_sources, sources_line
from sxzones.options import OverviewOptions
from sxzones.outputs import Publication, write_csv
from sxzones.runs import RunResult, Say, add_inputs, load_input

#: Popup fields per role, in the order shown.
POPUP_FIELDS: dict[str, list[str]] = {
    "admin": ["name", "adcode", "level"],
    "control_units": ["unit_code", "unit_name", "unit_type", "admission_spatial"],
    "redline": ["redline_id", "name", "category"],
    "builtup": ["area_id", "name", "kind", "adcode"],
    "firms": ["name", "name_en", "industry", "status", "capacity", "capacity_unit", "firm_id"],
    "candidates": ["site_id", "name", "kind", "status", "closure_year"],
    "zones": ["zone_id", "name", "rule_ref"],
    "context": ["name", "status", "mine_id"],
}
SIMPLIFY_M = {"admin": 150.0, "control_units": 150.0, "zones": 150.0}
#: The overview map's note on demonstration layers in English output (today's text).
DEMO_NOTE = "示范图层仅供演示，非官方数据 Demonstration layers are derived by rule, not official. "


def run_overview(opts: OverviewOptions, cat: Catalog, *, say: Say = print) -> RunResult:
    """Validate the layers (default: every catalogue layer), write ``layers_summary.csv`` and
    ``rejects.csv`` to ``opts.out``, and the overview map at ``opts.map_path``; ``say`` gets
    one line per layer. ``opts.lang``: headers, values, layer names and legend in ``en`` (as
    always), ``zh`` or ``both``."""
    lang = check_lang(opts.lang)
    lab = labels() if lang != "en" else None
    names = list(opts.layers) or list(cat.entries)
    files = ["layers_summary.csv", "rejects.csv"]
    external = [opts.map_path]
    with Publication(
        opts.out, "overview", files, external=external, overwrite=opts.overwrite
    ) as pub:
        reports, layers = _load_layers(opts, cat, names, say)
        table = _summary_table(reports)
        shown = translate_frame(table, lang, lab=lab, vocabulary={"status": "provenance"})
        write_csv(shown, pub.stage("layers_summary.csv", rows=len(table)), overwrite=True)
        rejects = [r.rejects for r in reports if r.n_rejected]
        rej = pd.concat(rejects) if rejects else reports[0].rejects
        rej = translate_frame(rej, lang, lab=lab)
        write_csv(rej, pub.stage("rejects.csv", rows=len(rej)), overwrite=True)
        if opts.map_path is not None:
            entries = report_sources(reports)
            note = (
                (DEMO_NOTE if lang == "en" else text("demonstration", lang, lab=lab) + " ")
                if has_demonstration(entries)
                else ""
            ) + sources_line(entries, lang=lang)
            m = build_map(
                layers,
                title=opts.title,
                note=note,
                basemap=opts.map_basemap(),
                lang=lang,
                lab=lab,
            )
            save_map(m, pub.stage_external(opts.map_path), overwrite=True)
        add_inputs(pub, reports)
        outputs = pub.publish()
    summary = (
        f"overview: {len(reports)} layers, {int(table['loaded'].sum())} features loaded, "
        f"{int(table['rejected'].sum())} rejected; working CRS {cat.working.reason}"
    )
    return RunResult.of("overview", pub, outputs, summary)


def _load_layers(
    opts: OverviewOptions, cat: Catalog, names: list[str], say: Say
) -> tuple[list[LayerReport], list[MapLayer]]:
    """Load and validate each named layer; its map layer with popup fields and style."""
    reports: list[LayerReport] = []
    layers: list[MapLayer] = []
    for name in names:
        frame, rep = load_input(name, None, cat, base=opts.base)
        role = cat.entry(name).role if name in cat else "context"
        reports.append(rep)
        search = "name" if role in ("firms", "builtup") else None
        layers.append(
            MapLayer(
                name,
                frame,
                role,
                POPUP_FIELDS.get(role, ["name"]),
                simplify_m=SIMPLIFY_M.get(role, 0.0),
                search_field=search,
            )
        )
        say(f"  {rep.summary().splitlines()[0]}")
    return reports, layers


def _summary_table(reports: list[LayerReport]) -> pd.DataFrame:
    """One row per layer: counts, CRS and provenance."""
    return pd.DataFrame(
        [
            {
                "layer": r.name,
                "role": r.role,
                "features_read": r.n_read,
                "loaded": r.n_loaded,
                "rejected": r.n_rejected,
                "source_crs": r.source_crs,
                "working_crs": r.working_crs,
                "status": r.provenance.status if r.provenance else "",
                "source": r.provenance.source if r.provenance else "",
                "version": r.provenance.version if r.provenance else "",
                "licence": r.provenance.licence if r.provenance else "",
            }
            for r in reports
        ]
    )
