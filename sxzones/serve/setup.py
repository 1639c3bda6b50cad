"""What the pages offer: vocabularies with Chinese names, CRS choices with their hints, the
layers drawn under every map (in WGS84, simplified for display only), siting defaults from the
rules, and the data versions. Computed once per server (``state.cache``)."""

from __future__ import annotations

from typing import Any

from sxzones.maps.style import CATEGORY_COLOURS, label
from sxzones.rules import TECHS
from sxzones.serve.state import ServeState

__all__ = ["data_versions", "page_title", "setup_document"]

#: CRS choices of the pages with the hint that helps choose (the readers check coordinates
#: against the choice and name a likely mistake).
CRS_CHOICES: tuple[tuple[str, str], ...] = (
    ("wgs84", "WGS84 经纬度：GPS、奥维、谷歌地球 (GPS, Google Earth)"),
    ("gcj02", "GCJ-02 经纬度：高德、腾讯地图取点 (Amap, Tencent)"),
    ("bd09", "BD-09 经纬度：百度地图取点 (Baidu)"),
    ("cgcs2000", "CGCS2000 经纬度 (EPSG:4490)"),
    ("gk38", "CGCS2000 3° 高斯-克吕格，带号在 X 坐标前 (GK 3° zone, zone prefix)"),
    ("cm111", "CGCS2000 3° 高斯-克吕格，中央经线 111°，无带号 (CM 111°)"),
    ("cm114", "CGCS2000 3° 高斯-克吕格，中央经线 114°，无带号 (CM 114°)"),
    ("xian80", "西安80 经纬度 (Xi'an 1980)"),
)
_TITLES = {
    "reviewer": "建设项目选址研判 Site check",
    "inspector": "企业分区筛查 Firm screen",
    "planner": "光伏风电选址 PV and wind siting",
}


def page_title(page: str) -> str:
    return _TITLES.get(page, "sxzones")


def vocabulary(state: ServeState, name: str) -> list[dict[str, str]]:
    """The terms of a vocabulary of the rules file (``industries``, ``project_kinds``,
    ``candidate_kinds``) in the file's order, labelled ``中文 English``."""
    vocab = getattr(state.ruleset, name)
    return [{"id": t.id, "label": f"{t.zh} {t.en or t.id}".strip()} for t in vocab.terms.values()]


def _backdrop(state: ServeState) -> dict[str, Any]:
    """Admin outlines, built-up areas, red lines and control units in WGS84 (simplified to
    50 m, for display only: results always come from the full layers)."""
    from sxzones.serve.work import _features

    cat = state.catalog
    out: dict[str, Any] = {}
    for role, cols in (
        ("admin", ["name", "level"]),
        ("control_units", ["unit_code", "unit_name", "unit_type"]),
        ("redline", ["redline_id", "name"]),
        ("builtup", ["area_id", "name"]),
    ):
        name = cat.layer_of_role(role)
        if name is None:
            continue
        frame, _ = cat.load(name)
        if role == "admin" and "level" in frame.columns:
            frame = frame[frame["level"].astype(str).isin(["province", "city", "county"])]
        out[role] = {"name": name, "label": label(name), "data": _features(frame, cols, 50.0)}
    return out


def _siting(state: ServeState) -> dict[str, Any]:
    """Candidate kinds, exclusion reasons with their setbacks per technology and whether
    their layer is here, and the slope limits, from the rules."""
    rs, cat = state.ruleset, state.catalog
    listed = {k for r in rs.of_kind("siting_candidates") for k in r.params["candidate_kinds"]}
    kinds = [k for k in vocabulary(state, "candidate_kinds") if k["id"] in listed]
    reasons = [
        {
            "reason": r.params["reason"],
            "label": f"{r.params.get('label_zh', '')} {r.params.get('label_en', '')}".strip(),
            "setback_m": {t: r.for_tech("setback_m", t) for t in TECHS},
            "assessed": cat.layer_of_role(r.layer_role or r.params.get("layer_role", ""))
            is not None,
            "clause": r.clauses,
        }
        for r in rs.of_kind("siting_exclusion")
    ]
    terrain = rs.of_kind("siting_terrain")
    slope = {t: terrain[0].for_tech("max_slope_deg", t) for t in TECHS} if terrain else {}
    return {"techs": list(TECHS), "kinds": kinds, "reasons": reasons, "max_slope_deg": slope}


def data_versions(state: ServeState) -> list[dict[str, str]]:
    """Each catalogue layer the pages use, with its source, version and status."""
    out = []
    for name, e in state.catalog.entries.items():
        if e.role in ("control_units", "redline", "builtup", "zones", "admin", "candidates"):
            p = e.provenance
            out.append(
                {"layer": name, "source": p.source, "version": p.version, "status": p.status}
            )
    return out


def setup_document(state: ServeState) -> dict[str, Any]:
    """Everything the pages need to draw their choices and maps (cached)."""
    if "setup" not in state.cache:
        state.cache["setup"] = {
            "industries": vocabulary(state, "industries"),
            "kinds": vocabulary(state, "project_kinds"),
            "crs": [{"id": c, "label": h} for c, h in CRS_CHOICES],
            "colours": CATEGORY_COLOURS,
            "labels": {k: label(k) for k in CATEGORY_COLOURS},
            "layers": _backdrop(state),
            "siting": _siting(state),
            "builtup": state.catalog.layer_of_role("builtup"),
            "rules": state.ruleset.path.name,
            "data": data_versions(state),
        }
    return state.cache["setup"]
