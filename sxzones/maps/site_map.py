"""The site-check map: projects coloured by verdict, with the units and red lines they touch."""

from __future__ import annotations

from pathlib import Path

import folium

from sxzones.analyses.site_check import SiteCheckResult
from sxzones.i18n import Labels, check_lang, text, translate_value
from sxzones.maps.basemaps import Basemap
from sxzones.maps.interactive import MapLayer, build_map
from sxzones.maps.style import LayerStyle

PROJECT_FIELDS = [
    "project_id",
    "industry_id",
    "kind",
    "verdict",
    "rule_ids",
    "clauses",
    "unit_codes",
    "builtup_zone",
    "builtup_distance_m",
]


def site_check_map(
    result: SiteCheckResult,
    basemap: Basemap | None = None,
    *,
    sources: str,
    lang: str = "en",
    lab: Labels | None = None,
) -> folium.Map:
    """Interactive map of a site check: the touched control units (by type), red lines,
    zones, built-up areas, and the projects coloured by verdict with their findings.
    ``sources``: the sources line of the layers used (:func:`sxzones.maps.sources.sources_line`).
    ``lang``: legend, popups and texts (:mod:`sxzones.i18n`).
    """
    frames = result.layers.frames
    layers = []
    units = result.pairs.get("control_units")
    if units is not None and len(units):
        touched = frames["control_units"].iloc[sorted(set(units["layer_row"]))]
        layers.append(
            MapLayer(
                "control_units_demonstration",
                touched,
                "control_units",
                ["unit_code", "unit_name", "unit_type", "admission_spatial"],
                style=LayerStyle(by="unit_type", fill_opacity=0.35, weight=0.8),
                simplify_m=20.0,
            )
        )
    for role, name, fields in (
        ("redline", "redline_demonstration", ["redline_id", "name", "category"]),
        ("zones", "taiyuan_region_demonstration", ["zone_id", "name", "zone"]),
        ("builtup", "builtup_demonstration", ["area_id", "name", "kind"]),
    ):
        if role in frames and len(frames[role]):
            layers.append(MapLayer(name, frames[role], role, fields, simplify_m=50.0))
    layers.append(
        MapLayer(
            "projects",
            result.table,
            "projects",
            PROJECT_FIELDS,
            style=LayerStyle(by="verdict", fill_opacity=0.7, weight=2.0, radius=8.0),
            search_field="project_id",
        )
    )
    lg = check_lang(lang)
    title = "建设项目选址研判 Site check"
    note = f"选址研判 Site check. 晋环发〔2023〕1号 (四), (五), (十二), (十三). {sources}"
    if lg == "zh":
        title = text("site_map_title", lg, lab=lab)
        note = text("site_map_note", lg, lab=lab) + sources
    return build_map(
        layers, title=title, note=note, focus="projects", basemap=basemap, lang=lg, lab=lab
    )


def site_check_figure(
    result: SiteCheckResult,
    path: str | Path,
    *,
    sources: str,
    lang: str = "en",
    lab: Labels | None = None,
) -> list[Path]:
    """Static figure (PNG + PDF) of a site check for reports: the projects by verdict, the
    control units they touch (by type), red lines and built-up areas, over the counties;
    ``sources`` and ``lang`` as for the map."""
    from sxzones.maps.static import StaticLayer, counties_layer, static_map

    frames = result.layers.frames
    layers = counties_layer(frames.get("admin"))
    units = result.pairs.get("control_units")
    if units is not None and len(units):
        touched = frames["control_units"].iloc[sorted(set(units["layer_row"]))]
        layers.append(
            StaticLayer(
                "control_units", touched, LayerStyle(by="unit_type", fill_opacity=0.4, weight=0.3)
            )
        )
    layers.append(StaticLayer("redline", frames["redline"], LayerStyle("#1a9850", 0.5, 0.3)))
    layers.append(StaticLayer("builtup", frames["builtup"], LayerStyle("#d6604d", 0.6, 0.3)))
    layers.append(
        StaticLayer("projects", result.table, LayerStyle(by="verdict", radius=7.0, weight=1.5))
    )
    counts = result.table["verdict"].value_counts()
    verdicts = ("conflict", "conditional", "clear", "unassessed")
    lg = check_lang(lang)
    if lg == "zh":
        title = f"{text('site_map_title', lg, lab=lab)} — " + "，".join(
            f"{translate_value(k, 'verdict', lg, lab=lab)} {int(counts.get(k, 0))}"
            for k in verdicts
        )
        cited = f"{sources}。晋环发〔2023〕1号（四）、（五）、（十二）、（十三）"
    else:
        title = "建设项目选址研判 Site check — " + ", ".join(
            f"{k} {int(counts.get(k, 0))}" for k in verdicts
        )
        cited = f"{sources}. 晋环发〔2023〕1号 (四), (五), (十二), (十三)"
    return static_map(layers, title=title, sources=cited, path=path, lang=lg, lab=lab)
