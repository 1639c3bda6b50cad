"""Basemaps: none (offline, the default), OpenStreetMap, Tianditu (天地图) and Amap (高德).

* **none**: no tiles, and no tile layer to switch on: the map never reaches the network.
* **osm**: OpenStreetMap tiles, shown.
* **tianditu**: Tianditu vector tiles and labels (CGCS2000, which agrees with WGS84 to well
  under a metre, so overlays need no shift). Tianditu needs a key. The key is **never written
  into the file** unless asked (``embed_key=True``, CLI ``--embed-tianditu-key``), in which
  case it is taken from the environment variable :data:`TIANDITU_ENV`. Otherwise the page
  reads it when opened, from the address (``siting-pv.html#tk=YOUR_KEY``) or from the
  browser's local storage, where a key given once is kept.
* **amap**: Amap tiles, which are drawn in GCJ-02. Every overlay is shifted from WGS84 to
  GCJ-02 (:func:`sxzones.crs.convert_geometries`) so that it lines up with them; the legend
  says so. OpenStreetMap and Tianditu are not offered on such a map (they would be off by
  the GCJ-02 offset, 100-700 m).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sxzones.errors import SxzonesError

if TYPE_CHECKING:  # folium is imported when a map is drawn, not when options are checked
    import folium

__all__ = ["BASEMAPS", "TIANDITU_ENV", "Basemap", "add_basemaps", "recipe_basemap"]

BASEMAPS = ("none", "osm", "tianditu", "amap")
TIANDITU_ENV = "SXZONES_TIANDITU_KEY"
_TDT = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
    "&TILECOL={{x}}&tk={{tk}}"
)
_AMAP = (
    "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
    "&x={x}&y={y}&z={z}"
)


@dataclass(frozen=True)
class Basemap:
    """Which basemap a map shows, and whether a Tianditu key may be written into it."""

    kind: str = "none"
    embed_key: bool = False

    def __post_init__(self) -> None:
        if self.kind not in BASEMAPS:
            raise SxzonesError(f"basemap {self.kind!r} unknown; choose from {', '.join(BASEMAPS)}")
        if self.embed_key and self.kind != "tianditu":
            raise SxzonesError("--embed-tianditu-key goes with --basemap tianditu")

    @property
    def gcj02(self) -> bool:
        """True when overlays must be shifted to GCJ-02 (Amap tiles)."""
        return self.kind == "amap"

    @property
    def note(self) -> str:
        if self.kind == "amap":
            return "图层已偏移至 GCJ-02 以对齐高德底图 Overlays shifted to GCJ-02 to match Amap tiles. "
        if self.kind == "tianditu" and not self.embed_key:
            return (
                "天地图需密钥：在地址后加 #tk=您的密钥 Tianditu: add #tk=YOUR_KEY to the address. "
            )
        return ""


_KEY_JS = """
{% macro script(this, kwargs) %}
(function () {
  var layers = [{{ this.layers }}];
  function apply() {
    var key = null;
    var m = /[#&]tk=([0-9A-Za-z]+)/.exec(window.location.hash);
    if (m) { key = m[1]; }
    try {
      if (key) { window.localStorage.setItem("sxzones.tianditu_key", key); }
      else { key = window.localStorage.getItem("sxzones.tianditu_key"); }
    } catch (e) { /* file:// pages may have no storage */ }
    layers.forEach(function (l) {
      if (key && l.options.tk !== key && !l.options.embedded) {
        l.options.tk = key;
        l.redraw();
      }
      if (l.options.tk && !{{ this.map }}.hasLayer(l)) { l.addTo({{ this.map }}); }
    });
  }
  apply();
  window.addEventListener("hashchange", apply);
})();
{% endmacro %}
"""


def _tianditu_key(map_name: str, layer_names: list[str]) -> Any:
    """The element that gives the Tianditu layers the key from the address or local
    storage, then shows them."""
    from branca.element import MacroElement, Template

    element: Any = MacroElement()
    element._name = "TiandituKey"
    element.map = map_name
    element.layers = ", ".join(layer_names)
    element._template = Template(_KEY_JS)
    return element


def recipe_basemap(options: dict[str, object]) -> Basemap:
    """The basemap a recipe's ``[options]`` ask for (``basemap``, ``embed_tianditu_key``)."""
    return Basemap(str(options.get("basemap", "none")), bool(options.get("embed_tianditu_key")))


def add_basemaps(m: folium.Map, basemap: Basemap) -> None:
    """Add the tile layers of ``basemap`` to ``m`` (before the overlays)."""
    import folium

    if basemap.kind == "amap":
        folium.TileLayer(
            _AMAP,
            attr="&copy; 高德地图 AutoNavi (GCJ-02)",
            name="高德地图 Amap (GCJ-02)",
            subdomains="1234",
            max_zoom=18,
        ).add_to(m)
        return
    if basemap.kind == "none":  # offline: nothing that would fetch tiles
        return
    folium.TileLayer("OpenStreetMap", name="OpenStreetMap", show=basemap.kind == "osm").add_to(m)
    if basemap.kind != "tianditu":
        return
    key = ""
    if basemap.embed_key:
        key = os.environ.get(TIANDITU_ENV, "").strip()
        if not key:
            raise SxzonesError(
                f"--embed-tianditu-key: set the key in the environment variable {TIANDITU_ENV}"
            )
    names = []
    for layer, label in (("vec", "天地图 Tianditu"), ("cva", "天地图注记 Tianditu labels")):
        extra: dict[str, object] = {"tk": key, "embedded": True} if key else {}
        tl = folium.TileLayer(
            _TDT.format(s="{s}", layer=layer),
            attr="&copy; 天地图 Tianditu (CGCS2000)",
            name=label,
            subdomains="01234567",
            max_zoom=18,
            overlay=layer == "cva",
            show=False,  # shown by the key script once a key is known
            **extra,  # type: ignore[arg-type]
        )
        tl.add_to(m)
        names.append(tl.get_name())
    m.add_child(_tianditu_key(m.get_name(), names))
