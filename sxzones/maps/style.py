"""One style system for every map: colours and bilingual labels (中文 / English)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from sxzones.i18n import joined, legend_label, legend_pairs

__all__ = [
    "CATEGORY_COLOURS",
    "EXTRA_COLOURS",
    "LABELS",
    "LayerStyle",
    "extra_colour",
    "label",
    "layer_style",
]

#: Colours by enumerated value (unit types, zones, candidate kinds, industries, roles).
CATEGORY_COLOURS: dict[str, str] = {
    # 三线一单 unit types
    "priority_protection": "#1a9850",
    "key_control": "#d73027",
    "general_control": "#fee08b",
    # firm-screen zones
    "inside": "#b2182b",
    "within_20km": "#ef8a62",
    "beyond": "#4d9221",
    "not_applicable": "#999999",
    # candidate kinds (clause 十五)
    "abandoned_mine": "#8c510a",
    "subsidence": "#bf812d",
    "closed_landfill": "#762a83",
    "contaminated_plot": "#c51b7d",
    # siting: eligible land and the reasons land was removed
    "eligible": "#1b7837",
    "redline": "#e7298a",  # not green: priority units are; not blue: water and context are
    "protected_area": "#5aae61",
    "basic_farmland": "#dfc27d",
    "basic_grassland": "#a6d96a",
    "water": "#2166ac",
    "builtup": "#d6604d",
    "slope": "#543005",  # abandoned mines have #8c510a
    "too_small": "#bababa",
    # industries
    "steel": "#3f007d",
    "coking": "#67000d",
    "cement": "#737373",
    "chemical": "#08519c",
    "coal_power": "#252525",
    # verdicts
    "conflict": "#b2182b",
    "conditional": "#f4a582",
    "clear": "#1b7837",
    "unassessed": "#762a83",  # an industry or kind the rules' vocabulary does not know
}

#: Bilingual labels shown in legends and layer switchers (``中文 English``); the data is in
#: ``sxzones/i18n.toml`` (``[legend]``), beside the Chinese-only labels of ``--lang zh``.
LABELS: dict[str, str] = {k: joined(zh, en) for k, (zh, en) in legend_pairs().items()}


#: Colours of values that have none of their own (an extra exclusion layer such as villages,
#: a resource raster): picked by a checksum of the value, none of them a category colour.
EXTRA_COLOURS: tuple[str, ...] = (
    "#ff7f00",
    "#6a3d9a",
    "#01665e",
    "#e6ab02",
    "#7570b3",
    "#66a61e",
    "#a6761d",
    "#1f78b4",
    "#b15928",
    "#80cdc1",
    "#fb9a99",
    "#984ea3",
)


def extra_colour(value: str) -> str:
    """The colour of a value without a category colour (the same value, the same colour)."""
    return EXTRA_COLOURS[zlib.crc32(value.encode("utf-8")) % len(EXTRA_COLOURS)]


def label(key: str) -> str:
    """The bilingual label of a key, or the key itself."""
    return legend_label(key, "en")


@dataclass(frozen=True)
class LayerStyle:
    """How a layer is drawn: stroke/fill colour, or a field whose values pick the colour."""

    color: str = "#3388ff"
    fill_opacity: float = 0.25
    weight: float = 1.0
    by: str | None = None  # categorical field -> CATEGORY_COLOURS
    show: bool = True
    radius: float = 5.0  # points


_ROLE_STYLES: dict[str, LayerStyle] = {
    "admin": LayerStyle("#555555", 0.0, 1.0),
    "control_units": LayerStyle(by="unit_type", fill_opacity=0.35, weight=0.5, show=False),
    "redline": LayerStyle(CATEGORY_COLOURS["redline"], 0.45, 1.0),
    "builtup": LayerStyle("#d6604d", 0.5, 1.0),
    "firms": LayerStyle(by="industry", radius=6.0),
    "candidates": LayerStyle(by="kind", fill_opacity=0.6),
    "zones": LayerStyle("#5e3c99", 0.12, 2.0, show=False),
    "context": LayerStyle("#4d4d4d", 0.1, 1.0, show=False),  # not water's blue
}


def layer_style(role: str, name: str = "") -> LayerStyle:
    """The default style of a role (rivers and places get their own)."""
    if name == "rivers":
        return LayerStyle("#2166ac", 0.0, 2.0)
    if name == "places":
        return LayerStyle("#444444", 0.8, 1.0, show=False, radius=3.0)
    return _ROLE_STYLES.get(role, LayerStyle())
