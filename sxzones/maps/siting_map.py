"""The siting map and figure: candidate lands, their eligible parts, and why the rest is not."""

from __future__ import annotations

from pathlib import Path

import folium
import geopandas as gpd

from sxzones.analyses.siting import SitingResult
from sxzones.i18n import Labels, Lang, check_lang, text, translate_value
from sxzones.maps.basemaps import Basemap
from sxzones.maps.interactive import MapLayer, build_map
from sxzones.maps.style import LayerStyle

SITE_FIELDS = [
    "site_id",
    "name",
    "kind",
    "county",
    "eligible_m2",
    "eligible_share",
    "capacity_mw",
    "turbines",
    "score",
    "main_reason",
    "unknown_m2",
    "clauses",
]
TECH_TITLE = {"pv": "光伏 PV", "wind": "风电 Wind"}


def _eligible(res: SitingResult) -> gpd.GeoDataFrame:
    """The candidates with eligible land (their geometry is the eligible part)."""
    return res.sites[~res.sites.geometry.is_empty]


#: Legend entry of the eligible land a raster did not assess.
UNASSESSED = "栅格未评估 Not assessed by raster (no data)"
UNASSESSED_ZH = "栅格未评估（无数据）"


def _unassessed_text(res: SitingResult) -> str:
    """The land the rasters did not assess, with its capacity, or ''."""
    t = res.summary
    if not t.get("not_assessed_km2"):
        return ""
    return (
        f"Not assessed by rasters (no data or outside them): {t['not_assessed_km2']:.2f} km², "
        f"{t['not_assessed_capacity_mw']:.1f} MW. "
    )


def _off(res: SitingResult) -> list[str]:
    """The plan's exclusions a run turned off (``--no-rule-exclusions``), by reason."""
    state = res.meta.get("rule_exclusions") or {}
    return [] if state.get("applied", True) else list(state.get("not_applied", []))


def _rules_off_text(res: SitingResult, lang: Lang, lab: Labels | None = None) -> str:
    """The note's sentence on the plan's exclusions turned off by ``--no-rule-exclusions``
    (in ``zh`` or English), or ''."""
    off = _off(res)
    if not off:
        return ""
    if lang == "zh":
        named = "、".join(str(translate_value(r, "reason", "zh", lab=lab)) for r in off)
        return f"方案的排除项已由 --no-rule-exclusions 关闭，未执行：{named}。"
    return (
        f"The plan's exclusions were turned off by --no-rule-exclusions: {', '.join(off)} "
        "not applied. "
    )


def _missing(res: SitingResult) -> list[str]:
    """The reasons not assessed for want of a layer or a raster (not those turned off)."""
    off = set(_off(res))
    return [m["reason"] for m in res.meta.get("not_assessed", []) if m["reason"] not in off]


def _note(res: SitingResult, sources: str, lang: Lang = "en", lab: Labels | None = None) -> str:
    missing = ", ".join(_missing(res))
    if lang == "zh":
        return _note_zh(res, sources, lab)
    return (
        "晋环发〔2023〕1号 (十五); 自然资办发〔2023〕12号; TD/T 1075-2023. Areas on the ellipsoid. "
        + _rules_off_text(res, "en")
        + (f"Not assessed (no layer): {missing}. " if missing else "")
        + _unassessed_text(res)
        + sources
    )


def _unassessed_zh(res: SitingResult) -> str:
    """:func:`_unassessed_text` in Chinese."""
    t = res.summary
    if not t.get("not_assessed_km2"):
        return ""
    return (
        f"栅格未评估（无数据或超出范围）：{t['not_assessed_km2']:.2f} 平方千米，"
        f"{t['not_assessed_capacity_mw']:.1f} 兆瓦。"
    )


def _note_zh(res: SitingResult, sources: str, lab: Labels | None) -> str:
    """The map's note in Chinese: clauses, exclusions without a layer, land not assessed by
    rasters, sources."""
    missing = "、".join(str(translate_value(r, "reason", "zh", lab=lab)) for r in _missing(res))
    return (
        text("siting_map_note", "zh", lab=lab)
        + _rules_off_text(res, "zh", lab)
        + (text("not_assessed", "zh", lab=lab, items=missing) if missing else "")
        + _unassessed_zh(res)
        + sources
    )


def siting_map(
    res: SitingResult,
    candidates: gpd.GeoDataFrame,
    basemap: Basemap | None = None,
    *,
    sources: str,
    lang: str = "en",
    lab: Labels | None = None,
    admin: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """Interactive siting map: province and county outlines (from ``admin``, when given),
    candidates by kind, excluded parts by reason, eligible land with area, capacity and
    score, and (wind) turbine positions. ``sources``: the sources line of the layers used
    (:func:`sxzones.maps.sources.sources_line`). ``lang``: legend, popups and texts
    (:mod:`sxzones.i18n`)."""
    tech, lg = res.meta["tech"], check_lang(lang)
    layers = [
        *_outlines(admin),
        MapLayer(
            "candidates",
            candidates,
            "candidates",
            ["site_id", "name", "kind", "status"],
            style=LayerStyle(by="kind", fill_opacity=0.1, weight=1.5),
            simplify_m=2.0,
        ),
        MapLayer(
            "removed",
            res.removed,
            "context",
            ["site_id", "reason", "area_m2"],
            style=LayerStyle(by="reason", fill_opacity=0.55, weight=0.5),
            simplify_m=2.0,
        ),
        MapLayer(
            "eligible_sites",
            _eligible(res),
            "candidates",
            SITE_FIELDS,
            style=LayerStyle("#1b7837", 0.7, 1.0),
            simplify_m=2.0,
            search_field="name" if "name" in res.sites.columns else "site_id",
        ),
    ]
    layers = [m for m in layers if len(m.frame)]  # nothing removed: no empty layer (folium)
    if res.unassessed is not None and len(res.unassessed):
        layers.append(
            MapLayer(
                UNASSESSED_ZH if lg == "zh" else UNASSESSED,
                res.unassessed,
                "context",
                ["site_id", "raster", "area_m2"],
                style=LayerStyle("#7f7f7f", 0.6, 1.0),
                simplify_m=2.0,
            )
        )
    if len(res.turbines):
        layers.append(
            MapLayer(
                "turbines",
                res.turbines,
                "context",
                ["site_id", "turbine", "rated_mw"],
                style=LayerStyle("#000000", 0.9, 1.0, radius=3.0),
            )
        )
    title = f"候选用地光伏风电选址 Siting screen: {TECH_TITLE[tech]}"
    if lg == "zh":
        tech_zh = str(translate_value(tech, "tech", lg, lab=lab))
        title = text("siting_map_title", lg, lab=lab, tech=tech_zh)
    note = _note(res, sources, lg, lab)
    focus = "candidates" if len(candidates) else None  # the view of the candidates, as before
    return build_map(layers, title=title, note=note, basemap=basemap, lang=lg, lab=lab, focus=focus)


def _outlines(admin: gpd.GeoDataFrame | None) -> list[MapLayer]:
    """The province and county outlines of Shanxi (adcode 14xxxx) as map layers."""
    from sxzones.maps.static import counties_layer

    return [
        MapLayer(
            s.name,
            s.frame,
            "admin",
            [c for c in ("name", "adcode") if c in s.frame],
            style=LayerStyle(s.style.color, 0.0, s.style.weight),
            simplify_m=50.0,
        )
        for s in counties_layer(admin)
    ]


def siting_figure(
    res: SitingResult,
    candidates: gpd.GeoDataFrame,
    admin: gpd.GeoDataFrame | None,
    path: str | Path,
    *,
    sources: str,
    lang: str = "en",
    lab: Labels | None = None,
) -> list[Path]:
    """Static figure (PNG + PDF) of a siting screen for reports; ``sources`` and ``lang`` as
    for the map."""
    from sxzones.maps.static import StaticLayer, counties_layer, static_map

    layers = counties_layer(admin)
    # candidate lands are small at province scale: draw outlines thick enough to see
    layers.append(StaticLayer("candidates", candidates, LayerStyle(by="kind", fill_opacity=0.3)))
    layers.append(
        StaticLayer("removed", res.removed, LayerStyle(by="reason", fill_opacity=0.8, weight=0.2))
    )
    layers.append(StaticLayer("eligible_sites", _eligible(res), LayerStyle("#1b7837", 0.9, 0.3)))
    if res.unassessed is not None and len(res.unassessed):
        name = UNASSESSED_ZH if lang == "zh" else UNASSESSED
        layers.append(StaticLayer(name, res.unassessed, LayerStyle("#7f7f7f", 0.9, 0.3)))
    if len(res.turbines):
        layers.append(StaticLayer("turbines", res.turbines, LayerStyle("#000000", 0.9, radius=0.7)))
    lg = check_lang(lang)
    title, cited = figure_texts(res, sources, lg, lab)
    return static_map(layers, title=title, sources=cited, path=path, lang=lg, lab=lab)


def figure_texts(
    res: SitingResult, sources: str, lang: Lang = "en", lab: Labels | None = None
) -> tuple[str, str]:
    """The static figure's title (eligible km², MW; "plan's exclusions off" when
    ``--no-rule-exclusions`` turned them off) and its footer (the exclusions turned off,
    the land the rasters did not assess, the sources, the clause), in ``lang``."""
    t, tech, lg = res.summary, res.meta["tech"], lang
    title = (
        f"候选用地光伏风电选址 Siting screen: {TECH_TITLE[tech]} — "
        f"{t['eligible_km2']:.1f} km², {t['capacity_mw']:.0f} MW"
    )
    off = bool(_off(res))
    title += " (plan's exclusions off)" if off else ""
    cited = (
        _rules_off_text(res, "en") + _unassessed_text(res) + f"{sources}. 晋环发〔2023〕1号 (十五)"
    )
    if lg == "zh":
        tech_zh = str(translate_value(tech, "tech", lg, lab=lab))
        title = (
            f"{text('siting_map_title', lg, lab=lab, tech=tech_zh)} — "
            f"{t['eligible_km2']:.1f} 平方千米，{t['capacity_mw']:.0f} 兆瓦"
            + ("（未执行方案排除项）" if off else "")
        )
        cited = (
            _rules_off_text(res, "zh", lab)
            + _unassessed_zh(res)
            + f"{sources}。晋环发〔2023〕1号（十五）"
        )
    return title, cited
