"""The firm-screen map: built-up areas with their distance zones, firms coloured by zone."""

from __future__ import annotations

from pathlib import Path

import folium
import geopandas as gpd
import shapely

from sxzones.i18n import Labels, check_lang, text
from sxzones.maps.basemaps import Basemap
from sxzones.maps.interactive import MapLayer, build_map
from sxzones.maps.style import LayerStyle

#: Popup fields of a firm (the tooltip shows the first three). The industry's status and
#: whether the plan applies are shown, so that an unrecognised industry or a firm outside
#: Shanxi does not look like "no rule applies" (an independent check found it so).
FIRM_FIELDS = [
    "name",
    "industry_id",
    "zone",
    "industry_status",
    "industry",
    "applicable",
    "distance_m",
    "nearest_area_name",
    "clauses",
    "firm_id",
]


def firm_zones_map(
    result: gpd.GeoDataFrame,
    builtup: gpd.GeoDataFrame,
    distance_m: float,
    basemap: Basemap | None = None,
    *,
    sources: str,
    lang: str = "en",
    lab: Labels | None = None,
) -> folium.Map:
    """Interactive map of a firm screen.

    The distance ring is drawn for orientation only (a 256-gon in the working CRS); every
    firm's zone comes from its exact ellipsoidal distance, shown in its popup. ``sources``:
    the sources line of the layers used (:func:`sxzones.maps.sources.sources_line`).
    ``lang``: legend, popups and texts in ``en`` (bilingual headings, as always), ``zh`` or
    ``both`` (:mod:`sxzones.i18n`).
    """
    lg, km = check_lang(lang), f"{distance_m / 1000:g}"
    ring_name = (
        text("firm_ring", lg, lab=lab, km=km)
        if lg == "zh"
        else f"建成区周边 {km} 千米 / within {km} km (display only)"
    )
    ring = gpd.GeoDataFrame(
        {"name": [ring_name]},
        geometry=[shapely.union_all(builtup.geometry.buffer(distance_m, quad_segs=64))],
        crs=builtup.crs,
    )
    layers = [
        MapLayer(
            "distance_ring",
            ring,
            "context",
            ["name"],
            style=LayerStyle("#ef8a62", 0.08, 1.0),
            simplify_m=20.0,
        ),
        MapLayer(
            "builtup", builtup, "builtup", ["area_id", "name", "kind", "adcode"], search_field=None
        ),
        MapLayer(
            "firms",
            result,
            "firms",
            FIRM_FIELDS,
            style=LayerStyle(by="zone", radius=6.0),
            search_field="name",
        ),
    ]
    title = f"企业与建成区距离筛查 Firm screen ({km} km)"
    note = (
        "距离为椭球面精确距离 Distances are exact on the ellipsoid; the ring is for "
        f"orientation only. 晋环发〔2023〕1号 (四), (十三). {sources}"
    )
    if lg == "zh":
        title = text("firm_map_title", lg, lab=lab, km=km)
        note = f"{text('firm_map_note', lg, lab=lab)}{sources}"
    return build_map(layers, title=title, note=note, basemap=basemap, lang=lg, lab=lab)


def firm_zones_figure(
    result: gpd.GeoDataFrame,
    builtup: gpd.GeoDataFrame,
    admin: gpd.GeoDataFrame | None,
    distance_m: float,
    path: str | Path,
    *,
    sources: str,
    lang: str = "en",
    lab: Labels | None = None,
) -> list[Path]:
    """Static figure (PNG + PDF) of a firm screen for reports; ``sources`` and ``lang`` as for
    the map."""
    from sxzones.maps.static import StaticLayer, counties_layer, static_map

    layers = counties_layer(admin)
    layers.append(StaticLayer("builtup", builtup, LayerStyle("#d6604d", 0.6, 0.5)))
    layers.append(StaticLayer("firms", result, LayerStyle(by="zone", radius=6.0)))
    lg, km = check_lang(lang), f"{distance_m / 1000:g}"
    if lg == "zh":
        title = text("firm_map_title", lg, lab=lab, km=km)
        cited = f"{sources}。晋环发〔2023〕1号（四）、（十三）"
    else:
        title = f"企业与建成区距离筛查 Firm screen ({km} km)"
        cited = f"{sources}. 晋环发〔2023〕1号 (四), (十三)"
    return static_map(layers, title=title, sources=cited, path=path, lang=lg, lab=lab)
