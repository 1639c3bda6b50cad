"""Maps: one style system, interactive folium maps, and static figures.

The names below are loaded on first use (PEP 562), so that importing a light submodule
(``sxzones.maps.basemaps``, ``sxzones.maps.sources``) does not import folium: a run without
``--map`` never pays for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sxzones.maps.interactive import MapLayer, build_map, save_map, to_geojson
    from sxzones.maps.style import CATEGORY_COLOURS, LABELS, LayerStyle, label, layer_style

_WHERE = {
    "MapLayer": "interactive",
    "build_map": "interactive",
    "save_map": "interactive",
    "to_geojson": "interactive",
    "CATEGORY_COLOURS": "style",
    "LABELS": "style",
    "LayerStyle": "style",
    "label": "style",
    "layer_style": "style",
}

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


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"sxzones.maps.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
