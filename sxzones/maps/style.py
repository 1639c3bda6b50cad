"""One style system for every map: colours and bilingual labels (中文 / English)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

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

#: Bilingual labels shown in legends and layer switchers.
LABELS: dict[str, str] = {
    "admin": "行政区划 Administrative boundaries",
    "counties": "县级行政区 Counties",
    "province": "省界 Province boundary",
    "firms": "企业 Firms",
    "coal_mines": "煤矿 Coal mines",
    "mine_fields": "矿区范围 Mine fields",
    "rivers": "河流 Rivers",
    "places": "居民点 Places",
    "builtup": "建成区 Built-up areas",
    "distance_ring": "距离范围（示意）Distance ring (display only)",
    "projects": "建设项目 Projects",
    "builtup_demonstration": "建成区（示范）Built-up areas (demonstration)",
    "redline_demonstration": "生态保护红线（示范）Ecological red lines (demonstration)",
    "control_units_demonstration": "环境管控单元（示范）Control units (demonstration)",
    "candidates_demonstration": "光伏风电候选用地（示范）PV/wind candidate lands (demonstration)",
    "taiyuan_region_demonstration": "太原及周边区域（示范）Taiyuan region (demonstration)",
    "priority_protection": "优先保护单元 Priority protection",
    "key_control": "重点管控单元 Key control",
    "general_control": "一般管控单元 General control",
    "inside": "建成区内 Inside built-up area",
    "within_20km": "周边20千米内 Within 20 km",
    "beyond": "20千米外 Beyond 20 km",
    "not_applicable": "不适用 Not applicable",
    "abandoned_mine": "废弃矿山 Abandoned mine",
    "subsidence": "采煤沉陷区 Subsidence land",
    "closed_landfill": "已封场垃圾填埋场 Closed landfill",
    "contaminated_plot": "污染地块 Contaminated plot",
    "eligible_sites": "可用用地 Eligible land",
    "removed": "排除部分 Excluded parts",
    "turbines": "风机机位 Turbine positions",
    "candidates": "候选用地 Candidate lands",
    "redline": "生态保护红线 Ecological red line",
    "protected_area": "自然保护地 Protected area",
    "basic_farmland": "永久基本农田 Permanent basic farmland",
    "basic_grassland": "基本草原 Basic grassland",
    "water": "水域及退让带 Water and setback",
    "slope": "坡度超限 Too steep",
    "too_small": "面积过小 Too small",
    "steel": "钢铁 Steel",
    "coking": "焦化 Coking",
    "cement": "水泥 Cement",
    "chemical": "化工 Chemical",
    "coal_power": "火电 Coal power",
    "conflict": "冲突 Conflict",
    "conditional": "有条件 Conditional",
    "clear": "无冲突 Clear",
    "unassessed": "无法研判 Not assessed",
}


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
    if key.startswith("resource_") and key not in LABELS:  # a --resource raster's reason
        return f"资源量低于下限 Resource below minimum ({key[len('resource_') :]})"
    if key.startswith("within_") and key.endswith("km") and key not in LABELS:
        km = key[len("within_") : -2]
        return f"周边{km}千米内 Within {km} km"
    return LABELS.get(key, key)


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
