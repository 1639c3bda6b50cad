"""The equipment-screen map: firms coloured by their firm-screen zone, firms that run units
the phase-out list names ringed, every popup showing both findings."""

from __future__ import annotations

from pathlib import Path

import folium
import geopandas as gpd

from sxzones.i18n import Labels, check_lang
from sxzones.maps.basemaps import Basemap
from sxzones.maps.interactive import MapLayer, build_map
from sxzones.maps.style import LayerStyle

__all__ = ["phaseout_figure", "phaseout_map"]

FIELDS = [
    "name",
    "zone",
    "finding",
    "phaseout_findings",
    "distance_m",
    "firm_rule_ids",
    "firm_clauses",
    "phaseout_clauses",
    "units",
    "phase_out_units",
    "unassessed_units",
    "firm_id",
]


def phaseout_map(
    firms: gpd.GeoDataFrame,
    builtup: gpd.GeoDataFrame | None,
    basemap: Basemap | None = None,
    *,
    sources: str,
    lang: str = "en",
    lab: Labels | None = None,
) -> folium.Map:
    """Interactive map of the equipment screen.

    Parameters
    ----------
    firms : GeoDataFrame
        One row per firm with units (:func:`sxzones.runs.phaseout.firm_findings`), in the
        working CRS: ``zone`` (from the firm screen, '' without one), ``finding`` and
        ``phaseout_findings``.
    builtup : GeoDataFrame or None
        Built-up areas, drawn when the firm screen was joined.
    sources : str
        The sources line of the layers used (:func:`sxzones.maps.sources.sources_line`).
    lang, lab : str, Labels
        Language of the layer names, legend and popups (:mod:`sxzones.i18n`).
    """
    layers = []
    if builtup is not None:
        layers.append(
            MapLayer("builtup", builtup, "builtup", ["area_id", "name", "kind"], search_field=None)
        )
    zoned = firms.assign(zone=firms["zone"].astype(str).replace("", "not_applicable"))
    layers.append(
        MapLayer(
            "firms",
            zoned,
            "firms",
            FIELDS,
            style=LayerStyle(by="zone", radius=6.0),
            search_field="name",
        )
    )
    flagged = zoned[zoned["finding"] == "phase_out"]
    if len(flagged):
        layers.append(
            MapLayer(
                "须淘汰设备的企业 Firms running units to phase out",
                flagged,
                "firms",
                FIELDS,
                style=LayerStyle("#000000", 0.0, 3.0, radius=11.0),
                search_field=None,
            )
        )
    note = (
        "圆圈颜色为企业与建成区距离筛查结果，黑圈为有须淘汰设备的企业 Colour: firm screen zone; "
        "black ring: firm runs units the phase-out list names. 晋环发〔2023〕1号 (四), (五), "
        "(十三), 附表 1. " + sources
    )
    lg = check_lang(lang)
    title = "设备淘汰筛查" if lg == "zh" else "设备淘汰筛查 Equipment phase-out screen"
    return build_map(layers, title=title, note=note, basemap=basemap, lang=lg, lab=lab)


def phaseout_figure(
    firms: gpd.GeoDataFrame,
    builtup: gpd.GeoDataFrame | None,
    admin: gpd.GeoDataFrame | None,
    path: str | Path,
    *,
    sources: str,
    lang: str = "en",
    lab: Labels | None = None,
) -> list[Path]:
    """Static figure (PNG + PDF) of the equipment screen: firms by zone, firms running units
    to phase out ringed; ``sources`` as for the map."""
    from sxzones.maps.static import StaticLayer, counties_layer, static_map

    layers = counties_layer(admin)
    if builtup is not None:
        layers.append(StaticLayer("builtup", builtup, LayerStyle("#d6604d", 0.6, 0.5)))
    zoned = firms.assign(zone=firms["zone"].astype(str).replace("", "not_applicable"))
    layers.append(StaticLayer("firms", zoned, LayerStyle(by="zone", radius=5.0)))
    flagged = zoned[zoned["finding"] == "phase_out"]
    if len(flagged):
        ring = LayerStyle("#000000", 0.0, 1.5, radius=9.0)
        layers.append(
            StaticLayer("须淘汰设备的企业 Firms running units to phase out", flagged, ring)
        )
    lg = check_lang(lang)
    return static_map(
        layers,
        title="设备淘汰筛查" if lg == "zh" else "设备淘汰筛查 Equipment phase-out screen",
        sources=f"{sources}. 晋环发〔2023〕1号 (四), (五), 附表 1",
        path=path,
        lang=lg,
        lab=lab,
    )
