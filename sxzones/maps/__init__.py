"""Maps: one style system, interactive folium maps, and (later) static figures."""

from __future__ import annotations

from sxzones.maps.interactive import MapLayer, build_map, save_map, to_geojson
from sxzones.maps.style import CATEGORY_COLOURS, LABELS, LayerStyle, label, layer_style

__all__ = [
    "CATEGORY_COLOURS",
    "LABELS",
    "LayerStyle",
    "MapLayer",
    "build_map",
    "label",
    "layer_style",
    "save_map",
    "to_geojson",
]
