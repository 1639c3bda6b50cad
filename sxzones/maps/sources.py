"""The sources line of maps, figures and reports, from the layers a run actually used."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sxzones.layers import LayerReport

__all__ = ["OWN_FILE", "has_demonstration", "report_sources", "sources_line"]

#: How a user's own file (no catalogue provenance) is named in a sources line.
OWN_FILE = "用户自有数据 user's own file"


def report_sources(reports: Iterable[LayerReport]) -> list[dict[str, str]]:
    """One entry per layer read: its name, source, licence and status. A catalogue layer
    carries its provenance; a file given by path is marked as the user's own, by file name."""
    out = []
    for rep in reports:
        p = rep.provenance
        if p is None:
            name = Path(rep.path).name if str(rep.path) else rep.name
            out.append({"layer": name, "source": name, "licence": "", "status": "own"})
        else:
            out.append(
                {"layer": rep.name, "source": p.source, "licence": p.licence, "status": p.status}
            )
    return out


def sources_line(entries: Iterable[Mapping[str, Any]], *, lang: str = "en") -> str:
    """``Sources 数据来源: A (CC BY 4.0); B (MIT); 示范图层 demonstration layers (derived by
    rule, not official): x, y; 用户自有数据 user's own files: permits.xlsx``: each distinct
    source once, in the order used. ``lang="zh"``: the same in Chinese only
    (``数据来源：A (CC BY 4.0)；示范图层（按规则推导，非官方）：x、y``)."""
    public: list[str] = []
    demo: list[str] = []
    own: list[str] = []
    for e in entries:
        status = str(e.get("status", ""))
        if status == "own":
            bucket, text = own, str(e["layer"])
        elif status == "demonstration":
            bucket, text = demo, str(e["layer"])
        else:
            licence = str(e.get("licence") or "")
            source = str(e.get("source") or e.get("layer", ""))
            bucket, text = public, source + (f" ({licence})" if licence else "")
        if text and text not in bucket:
            bucket.append(text)
    if lang == "zh":
        parts = list(public)
        if demo:
            parts.append("示范图层（按规则推导，非官方）：" + "、".join(demo))
        if own:
            parts.append("用户自有数据：" + "、".join(own))
        return "数据来源：" + ("；".join(parts) if parts else "无")
    parts = list(public)
    if demo:
        parts.append(
            "示范图层 demonstration layers (derived by rule, not official): " + ", ".join(demo)
        )
    if own:
        parts.append(f"{OWN_FILE}s: " + ", ".join(own))
    return "Sources 数据来源: " + ("; ".join(parts) if parts else "none")


def has_demonstration(entries: Iterable[Mapping[str, Any]]) -> bool:
    """Whether any layer used is a demonstration layer (derived by rule, not official)."""
    return any(str(e.get("status", "")) == "demonstration" for e in entries)
