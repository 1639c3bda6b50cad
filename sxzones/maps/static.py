"""Static map figures for reports (PNG and PDF, matplotlib).

Every figure has a title, a legend, a scale bar, a north arrow pointing to true north (the
Gauss-Krüger grid is turned against the meridians by the convergence at the map's centre),
the CRS it is drawn in, and a sources line. Chinese text needs a CJK font: the first of
:data:`CJK_FONTS` that is installed (``make setup`` / ``.ci/run`` install Debian's
fonts-noto-cjk); without one a :class:`~sxzones.errors.SxzonesError` says how to get it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib
import numpy as np
import shapely
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrow, Patch

from sxzones.errors import SxzonesError
from sxzones.geodesy import map_factors
from sxzones.i18n import Labels, Lang, legend_label
from sxzones.maps.interactive import category_text, colour_of
from sxzones.maps.style import LayerStyle
from sxzones.outputs import write_bytes

__all__ = ["CJK_FONTS", "StaticLayer", "cjk_font", "static_map"]

CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
)


@dataclass
class StaticLayer:
    """A layer of a figure: a frame in the working CRS, its legend name and style."""

    name: str
    frame: gpd.GeoDataFrame
    style: LayerStyle


def counties_layer(admin: gpd.GeoDataFrame | None) -> list[StaticLayer]:
    """The Shanxi counties (adcode 14xxxx) in grey and the province's outline in dark grey,
    as base layers, or nothing without admin."""
    if admin is None:
        return []
    shanxi = admin[admin["adcode"].astype(str).str.startswith("14")]
    counties = shanxi[shanxi["level"] == "county"]
    out = [StaticLayer("counties", counties, LayerStyle("#888888", 0.0, 0.5))]
    province = shanxi[shanxi["level"] == "province"]
    if len(province):
        out.append(StaticLayer("province", province, LayerStyle("#333333", 0.0, 1.4)))
    return out


def cjk_font() -> str:
    """The name of an installed CJK font, or an error naming the fix."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in installed:
            return name
    raise SxzonesError(
        "no CJK font for the Chinese text of static figures. Fix: install one, e.g. on Debian "
        "'apt-get install fonts-noto-cjk' (make setup does this when run as root)"
    )


def _nice(length: float) -> float:
    for v in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
        if v * 1000 >= length:
            return v * 1000.0
    return 1_000_000.0


def _breakable(text: str, lang: Lang) -> str:
    """Chinese text with a space after ``；、，``: matplotlib wraps lines at spaces only."""
    if lang != "zh":
        return text
    return text.replace("；", "； ").replace("、", "、 ").replace("，", "， ")


def static_map(
    layers: Sequence[StaticLayer],
    *,
    title: str,
    sources: str,
    path: str | Path,
    overwrite: bool = True,
    lang: Lang = "en",
    lab: Labels | None = None,
) -> list[Path]:
    """Draw the layers and save ``path`` (.png) and the same name with .pdf, deterministically.
    ``lang``: the legend's labels (:func:`sxzones.i18n.legend_label`).

    Returns the two paths written.
    """
    font = cjk_font()
    crs = layers[0].frame.crs
    # settings for this figure only: no pyplot, no global backend or rcParams changed
    with matplotlib.rc_context({"font.family": [font, "DejaVu Sans"]}):
        fig = Figure(figsize=(8.0, 9.0), dpi=150)
        ax = fig.add_subplot()
        handles: list[Patch | Line2D] = []
        for layer in layers:
            handles += _draw_layer(ax, layer, lang, lab)
        ax.set_aspect("equal")
        ax.set_axis_off()
        # both from the limits before either is drawn (drawing the bar may widen them)
        lims = (*ax.get_xlim(), *ax.get_ylim())
        _scale_bar(ax, lims)
        _north_arrow(ax, crs, lims)
        ax.legend(handles=handles, loc="lower right", fontsize=7, framealpha=0.9)
        ax.set_title(title, fontsize=13)
        fig.text(
            0.02,
            0.015,
            f"{crs.name} (EPSG:{crs.to_epsg()})  ·  {_breakable(sources, lang)}",
            fontsize=6.5,
            color="#444",
            wrap=True,
        )
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        return _save(fig, Path(path), overwrite)


def _draw_layer(
    ax: Any, layer: StaticLayer, lang: Lang, lab: Labels | None
) -> list[Patch | Line2D]:
    """Draw one layer (points, lines or polygons; one colour per value of ``style.by``) and
    return its legend handles."""
    f, st = layer.frame, layer.style
    if not len(f):
        return []
    handles: list[Patch | Line2D] = []
    kinds = set(shapely.get_type_id(f.geometry.to_numpy()).tolist())
    by = category_text(f[st.by]) if st.by and st.by in f else None
    groups = [(v, f[by == v]) for v in sorted(set(by))] if by is not None else [(layer.name, f)]
    for key, part in groups:
        colour = colour_of(key, st.color) if st.by else st.color
        label = legend_label(key, lang, lab=lab)
        if kinds <= {0, 4}:
            xy = shapely.get_coordinates(part.geometry.to_numpy())
            ax.scatter(
                xy[:, 0],
                xy[:, 1],
                s=st.radius * 3,
                c=colour,
                edgecolors="#222",
                linewidths=0.3,
                zorder=4,
            )
            handles.append(Line2D([], [], marker="o", ls="", color=colour, mec="#222", label=label))
        elif kinds <= {1, 5}:
            part.plot(ax=ax, color=colour, linewidth=st.weight, zorder=3)
            handles.append(Line2D([], [], color=colour, lw=2, label=label))
        else:
            part.plot(
                ax=ax,
                facecolor=colour if st.fill_opacity > 0 else "none",
                edgecolor=colour if st.fill_opacity == 0 else "#555",
                alpha=max(st.fill_opacity, 0.9) if st.fill_opacity == 0 else None,
                linewidth=max(st.weight * 0.5, 0.2),
                zorder=2,
            )
            handles.append(
                Patch(
                    facecolor=colour if st.fill_opacity > 0 else "none",
                    edgecolor=colour,
                    label=label,
                )
            )
    return handles


def _scale_bar(ax: Any, lims: tuple[float, float, float, float]) -> None:
    """Scale bar (lower left): planar metres in the Gauss-Krüger CRS, within 1.6 per mille of
    ground metres over Shanxi."""
    x0, x1, y0, y1 = lims
    width = x1 - x0
    bar = _nice(width / 5)
    bx, by = x0 + 0.04 * width, y0 + 0.04 * (y1 - y0)
    ax.plot([bx, bx + bar], [by, by], color="black", lw=3, solid_capstyle="butt", zorder=6)
    ax.text(
        bx + bar / 2,
        by + 0.012 * (y1 - y0),
        f"{bar / 1000:g} km",
        ha="center",
        va="bottom",
        fontsize=9,
        zorder=6,
    )


def _north_arrow(ax: Any, crs: Any, lims: tuple[float, float, float, float]) -> None:
    """North arrow (upper right), turned by the meridian convergence at the centre."""
    x0, x1, y0, y1 = lims
    width = x1 - x0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    gamma = float(np.asarray(map_factors([cx], [cy], crs).meridian_convergence)[0])
    ang = np.radians(90.0 + gamma)
    ax_len = 0.07 * (y1 - y0)
    ox, oy = x1 - 0.06 * width, y1 - 0.14 * (y1 - y0)
    ax.add_patch(
        FancyArrow(
            ox,
            oy,
            ax_len * np.cos(ang),
            ax_len * np.sin(ang),
            width=0.012 * width,
            head_width=0.035 * width,
            head_length=0.03 * (y1 - y0),
            color="black",
            zorder=6,
            length_includes_head=True,
        )
    )
    ax.text(
        ox + 1.25 * ax_len * np.cos(ang),
        oy + 1.25 * ax_len * np.sin(ang),
        "N",
        ha="center",
        va="center",
        fontsize=12,
        fontweight="bold",
        zorder=6,
    )


def _save(fig: Figure, path: Path, overwrite: bool) -> list[Path]:
    """``path`` as PNG and the same name as PDF, without dates or software names (same figure,
    same bytes)."""
    out = []
    for target, fmt, meta in (
        (path.with_suffix(".png"), "png", {"Software": None}),
        (
            path.with_suffix(".pdf"),
            "pdf",
            {"Creator": None, "Producer": None, "CreationDate": None},
        ),
    ):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, metadata=meta)
        out.append(write_bytes(buf.getvalue(), target, overwrite))
    return out
