"""Interactive (folium / Leaflet) maps.

Every attribute value that reaches a popup, tooltip or legend is HTML-escaped here, before it
is handed to folium: a firm named ``<img src=x onerror=alert(1)>`` shows as that text.
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from branca.element import MacroElement, Template
from folium import plugins
from jinja2.utils import htmlsafe_json_dumps

from sxzones.crs import convert_geometries
from sxzones.i18n import Labels, Lang, label, legend_label, text, translate_values
from sxzones.maps.basemaps import Basemap, add_basemaps
from sxzones.maps.offline import inline_assets, strip_unused_defaults
from sxzones.maps.style import CATEGORY_COLOURS, LayerStyle, extra_colour, layer_style
from sxzones.outputs import write_text

__all__ = ["MapLayer", "build_map", "save_map", "to_geojson"]


@dataclass
class MapLayer:
    """A layer to draw: its frame (any metric CRS), label, style and popup fields."""

    name: str
    frame: gpd.GeoDataFrame
    role: str = "context"
    fields: Sequence[str] = ()
    style: LayerStyle | None = None
    simplify_m: float = 0.0
    search_field: str | None = None


def category_text(column: Any) -> Any:
    """A column's values as the texts maps colour and list them by; a missing value is the
    empty text (pandas keeps it missing through ``astype(str)``)."""
    return column.astype(object).fillna("").astype(str)


def colour_of(value: str, default: str = "#3388ff") -> str:
    """The category colour of a value; any ``within_<D>km`` zone takes the within colour; a
    value without one gets an :data:`~sxzones.maps.style.EXTRA_COLOURS` colour (so that two
    extra exclusions never share the default); ``default`` for an empty value."""
    if value.startswith("within_"):
        value = "within_20km"
    if value in CATEGORY_COLOURS:
        return CATEGORY_COLOURS[value]
    return extra_colour(value) if value and value not in ("nan", "None") else default


def _clean(v: Any) -> Any:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return round(v, 3)
    if isinstance(v, bool | int):
        return v
    return html.escape(str(v), quote=True)


def _memo_map(fn: Any, values: list[Any]) -> list[Any]:
    """``fn`` of each value, computed once per distinct value (columns repeat theirs)."""
    memo: dict[tuple[type, Any], Any] = {}  # by type too: 1, 1.0 and True are equal keys
    out = []
    for v in values:
        key = (type(v), v)
        try:
            out.append(memo[key])
        except KeyError:
            out.append(memo.setdefault(key, fn(v)))
        except TypeError:  # an unhashable value
            out.append(fn(v))
    return out


def _cleaned(column: Any) -> list[Any]:
    """A column's values for the map (:func:`_clean`: escaped text, rounded numbers)."""
    return _memo_map(_clean, column.tolist())


def to_geojson(
    frame: gpd.GeoDataFrame,
    fields: Sequence[str],
    simplify_m: float = 0.0,
    colour_by: str | None = None,
    gcj02: bool = False,
    lang: Lang = "en",
    lab: Labels | None = None,
) -> dict[str, Any]:
    """GeoJSON (WGS84, 6 decimals) with escaped properties; ``simplify_m`` in the frame's CRS.
    ``gcj02``: coordinates shifted to GCJ-02, to lie on Amap tiles. ``lang``: the language of
    the property values (:mod:`sxzones.i18n`; colours follow the values as they are)."""
    geoms = frame.geometry.to_numpy()
    if simplify_m > 0 and frame.crs is not None and not frame.crs.is_geographic:
        geoms = shapely.simplify(geoms, simplify_m, preserve_topology=True)
    ll = gpd.GeoSeries(geoms, crs=frame.crs).to_crs(4326).to_numpy()
    if gcj02:
        ll = convert_geometries(ll, "wgs84", "gcj02")
    ll = shapely.transform(ll, lambda c: np.round(c, 6))  # ~0.1 m: plenty for display
    shown = translate_values(frame[list(fields)], lang, lab=lab) if fields else None
    names = list(shown.columns) if shown is not None else []
    columns = [_cleaned(shown[c]) for c in names] if shown is not None else []
    if colour_by and colour_by in frame:
        names.append("_colour")
        columns.append(_memo_map(colour_of, category_text(frame[colour_by]).tolist()))
    rows = zip(*columns, strict=True) if columns else iter([()] * len(frame))
    keep = ~(shapely.is_missing(ll) | shapely.is_empty(ll))
    points = (shapely.get_type_id(ll) == 0) & keep
    xy = shapely.get_coordinates(ll[points]).tolist() if points.any() else []
    k = 0
    feats = []
    for g, kept, point, values in zip(ll, keep.tolist(), points.tolist(), rows, strict=True):
        if point:  # as shapely.geometry.mapping writes a point, without its call
            geometry: Any = {"type": "Point", "coordinates": tuple(xy[k])}
            k += 1
        if not kept:
            continue
        if not point:
            geometry = shapely.geometry.mapping(g)
        feats.append(
            {
                "type": "Feature",
                "properties": dict(zip(names, values, strict=True)),
                "geometry": geometry,
            }
        )
    return {"type": "FeatureCollection", "features": feats}


_LEGEND = """
{% macro html(this, kwargs) %}
<div id="sx-legend" style="position: fixed; bottom: 28px; right: 10px; z-index: 9999;
  background: rgba(255,255,255,0.92); padding: 8px 10px; border: 1px solid #999;
  border-radius: 4px; font: 12px/1.4 sans-serif; max-height: 45%; overflow-y: auto;">
  <div style="font-weight: bold; margin-bottom: 4px;">{{ this.title }}</div>
  {% for colour, text in this.items %}
  <div><span style="display:inline-block;width:12px;height:12px;background:{{ colour }};
    border:1px solid #555;margin-right:6px;vertical-align:middle;"></span>{{ text }}</div>
  {% endfor %}
  {% if this.note %}<div style="margin-top:4px;color:#555;max-width:280px;">{{ this.note }}</div>{% endif %}
</div>
{% endmacro %}
"""


class Legend(MacroElement):  # type: ignore[misc]
    """A fixed legend box; every text is escaped."""

    def __init__(self, title: str, items: Sequence[tuple[str, str]], note: str = "") -> None:
        super().__init__()
        self._name = "Legend"
        self.title = html.escape(title)
        self.items = [(html.escape(c), html.escape(t)) for c, t in items]
        self.note = html.escape(note)
        self._template = Template(_LEGEND)


def _style_of(style: LayerStyle, colour: str) -> dict[str, Any]:
    """The Leaflet path style of a feature drawn in ``colour``."""
    return {
        "color": colour,
        "fillColor": colour,
        "weight": style.weight,
        "fillOpacity": style.fill_opacity,
    }


def _style_fn(style: LayerStyle) -> Any:
    def fn(feature: dict[str, Any]) -> dict[str, Any]:
        return _style_of(style, feature["properties"].get("_colour", style.color))

    return fn


class _ColourGeoJson(folium.GeoJson):  # type: ignore[misc]
    """folium's GeoJson layer, styled by each feature's ``_colour`` (:func:`to_geojson`).

    folium maps styles to features one by one: it calls the style function for every
    feature, gives every feature an id and writes a JavaScript ``switch`` listing every id
    under its style. At 100,000 firms that script was 37 MB, compiled as a template (2.4 s)
    after 1.2 s of styling. Here the switch is on the colour: one case per colour, the
    layer's own colour by default; the same style reaches every feature.
    """

    def __init__(self, data: dict[str, Any], *, layer_style: LayerStyle, **kwargs: Any) -> None:
        self._sx_style = layer_style
        super().__init__(data, style_function=_style_fn(layer_style), **kwargs)

    def find_identifier(self) -> str:
        return "feature.properties._colour"

    def render(self, **kwargs: Any) -> Any:
        st = self._sx_style
        key = folium.features.GeoJsonStyleMapper._to_key
        colours = {f["properties"].get("_colour") for f in self.data["features"]}
        self.style_map = {key(_style_of(st, c)): [c] for c in sorted(colours - {None})}
        self.style_map["default"] = key(_style_of(st, st.color))
        self.parent_map = folium.utilities.get_obj_in_upper_tree(self, folium.Map)  # type: ignore[assignment]
        blobs = getattr(self.get_root(), "_sx_blobs", None)
        if blobs is not None:  # saved by save_map: the data is written into the page after
            token = f"sxzones-geojson-{len(blobs)}"
            blobs[token] = self.data
            self._template = _TokenScript(folium.GeoJson._template, token)
        try:
            return super(folium.GeoJson, self).render(**kwargs)  # folium's mapping skipped
        finally:
            self.__dict__.pop("_template", None)


class _TokenScript:
    """A GeoJson layer's template whose script writes ``token`` (a JSON string) where the
    layer's data goes. branca compiles every rendered script as a template once more: with
    the data in it, 35 MB at 100,000 firms, that took 2.2 s."""

    def __init__(self, template: Any, token: str) -> None:
        script = template.module.__dict__["script"]

        def with_token(this: Any, kwargs: Any) -> Any:
            data, this.data = this.data, token
            try:
                return script(this, kwargs)
            finally:
                this.data = data

        self.module = SimpleNamespace(script=with_token)


def _feature_group(
    layer: MapLayer,
    st: LayerStyle,
    basemap: Basemap,
    cluster_over: int,
    lang: Lang = "en",
    lab: Labels | None = None,
) -> tuple[folium.FeatureGroup, folium.GeoJson]:
    """One layer as a feature group holding its GeoJSON (points over ``cluster_over`` in a
    marker cluster), with a tooltip of the first three fields and a popup of all; names,
    field labels and values in ``lang``."""
    fields = [f for f in layer.fields if f in layer.frame.columns]
    gj = to_geojson(layer.frame, fields, layer.simplify_m, st.by, basemap.gcj02, lang, lab)
    if not gj["features"]:
        fields = []  # folium refuses tooltips and popups on a layer with no features
    name = legend_label(layer.name, lang, lab=lab)
    fg = folium.FeatureGroup(name=html.escape(name), show=st.show)
    aliases = [label(f"field.{f}", lang, lab=lab) for f in fields]
    tooltip = (
        folium.GeoJsonTooltip(
            fields=fields[:3], aliases=[a + ":" for a in aliases[:3]], sticky=True
        )
        if fields
        else None
    )
    popup = (
        folium.GeoJsonPopup(fields=fields, aliases=aliases if lang != "en" else None)
        if fields
        else None
    )
    is_points = set(layer.frame.geom_type.dropna()) <= {"Point", "MultiPoint"}
    kwargs: dict[str, Any] = {}
    if is_points:
        kwargs["marker"] = folium.CircleMarker(radius=st.radius, fill=True, fill_opacity=0.85)
    gjl = _ColourGeoJson(gj, layer_style=st, name=name, tooltip=tooltip, popup=popup, **kwargs)
    if is_points and len(gj["features"]) > cluster_over:
        # one GeoJSON layer inside the cluster group: no per-marker objects in the page
        mc = plugins.MarkerCluster(name=name)
        gjl.add_to(mc)
        mc.add_to(fg)
    else:
        gjl.add_to(fg)
    return fg, gjl


def build_map(
    layers: Sequence[MapLayer],
    *,
    title: str,
    note: str = "",
    cluster_over: int = 300,
    focus: str | None = None,
    focus_pad_m: float = 3000.0,
    basemap: Basemap | None = None,
    lang: Lang = "en",
    lab: Labels | None = None,
) -> folium.Map:
    """A map with every layer, a layer switcher, legend, scale bar, measuring tool, full-screen
    button, search by name, and marker clustering for point layers over ``cluster_over``.
    The view fits every layer, or the layer named ``focus`` padded by ``focus_pad_m``.
    ``basemap``: see :mod:`sxzones.maps.basemaps` (default none: offline). ``lang``: layer
    names, legend, popup labels and values in ``en`` (as always), ``zh`` or ``both``."""
    basemap = basemap or Basemap()
    bounds = None
    m = strip_unused_defaults(folium.Map(tiles=None, control_scale=False, prefer_canvas=True))
    m.get_root().title = html.escape(title)  # type: ignore[attr-defined]  # the tab's name
    m.add_child(MetricScale())  # Leaflet's own scale shows miles and feet too
    # With no basemap shown (offline), nothing else gives the map a zoom range, and marker
    # clustering refuses to start without one ("Map has no maxZoom specified").
    m.options["maxZoom"] = 18
    m.options["minZoom"] = 4
    add_basemaps(m, basemap)
    legend: list[tuple[str, str]] = []
    search_target = None
    for layer in layers:
        st = layer.style or layer_style(layer.role, layer.name)
        fg, gjl = _feature_group(layer, st, basemap, cluster_over, lang, lab)
        name = legend_label(layer.name, lang, lab=lab)
        if layer.search_field and search_target is None:
            search_target = (gjl, layer.search_field)
        fg.add_to(m)
        if st.by and st.by in layer.frame:
            for v in sorted(set(category_text(layer.frame[st.by]))):
                legend.append((colour_of(v, st.color), legend_label(v, lang, lab=lab)))
        else:
            legend.append((st.color, name))
        b = _lonlat_bounds(layer.frame, 0.0)
        if b is not None:
            bounds = (
                b
                if bounds is None
                else np.r_[np.minimum(bounds[:2], b[:2]), np.maximum(bounds[2:], b[2:])]
            )
    if search_target is not None:
        plugins.Search(
            layer=search_target[0],
            search_label=search_target[1],
            placeholder=text("search", lang, lab=lab),
            collapsed=False,
        ).add_to(m)
    plugins.Fullscreen(title=text("full_screen", lang, lab=lab)).add_to(m)
    plugins.MeasureControl(primary_length_unit="kilometers", primary_area_unit="hectares").add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    items = list(dict.fromkeys(legend))  # first occurrence of each entry, in order
    m.get_root().add_child(Legend(title, items, basemap.note + note))
    target = next((ly for ly in layers if ly.name == focus), None)
    if target is not None and len(target.frame):
        fb = _lonlat_bounds(target.frame, focus_pad_m)
        bounds = fb if fb is not None else bounds
    if bounds is not None:
        m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return m


class MetricScale(MacroElement):  # type: ignore[misc]
    """A scale bar in metres and kilometres only."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "L.control.scale({metric: true, imperial: false}).addTo({{ this._parent.get_name() }});"
        "{% endmacro %}"
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "MetricScale"


def _lonlat_bounds(frame: gpd.GeoDataFrame, pad_m: float) -> npt.NDArray[np.float64] | None:
    """WGS84 bounds of a frame's (padded) bounding box: only the box is reprojected,
    densified so that its curved edges are covered. None for a frame with no geometry."""
    minx, miny, maxx, maxy = frame.total_bounds
    if not np.isfinite([minx, miny, maxx, maxy]).all():
        return None
    pad = max(pad_m, 1.0)  # a single point has a box of no size
    box = shapely.segmentize(
        shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad),
        max(maxx - minx, maxy - miny, 2 * pad) / 16,
    )
    return np.asarray(gpd.GeoSeries([box], crs=frame.crs).to_crs(4326).total_bounds)


def save_map(
    m: folium.Map, path: str | Path, *, overwrite: bool = True, offline: bool = True
) -> Path:
    """Save atomically, as one self-contained HTML file (``offline``: every script and style
    inlined from the bundled copies). Folium's random element ids are replaced by stable ones,
    so the same map gives the same bytes."""
    root = m.get_root()
    root._sx_blobs = {}  # type: ignore[attr-defined]  # the layers' GeoJSON, written in after
    try:
        text = root.render()
    finally:
        blobs = root.__dict__.pop("_sx_blobs")
    if offline:
        text = inline_assets(text)
    text = _unescape_non_ascii(_stable_ids(text))
    for token, data in blobs.items():
        text = text.replace(f'"{token}"', _page_json(data), 1)
    return write_text(text, path, overwrite=overwrite)


_ESCAPED = re.compile("[\x7f\ud800-\udfff\u2028\u2029\U00010000-\U0010ffff]")


def _page_json(data: Any) -> str:
    """``data`` as JSON for a script in the page, as folium's ``tojson`` and
    :func:`_unescape_non_ascii` gave it (the same text): keys sorted, ``<``, ``>``, ``&``
    and ``'`` escaped so that no text closes the script, other characters as UTF-8 except
    DEL, surrogates, U+2028/U+2029 and characters beyond the BMP (as surrogate pairs)."""

    def escape(mo: re.Match[str]) -> str:
        return json.dumps(mo.group(0))[1:-1]  # \uXXXX, or a pair of them

    text = htmlsafe_json_dumps(
        data, dumps=functools.partial(json.dumps, ensure_ascii=False), sort_keys=True
    )
    return _ESCAPED.sub(escape, str(text))


_UESC = re.compile(r"(?<!\\)((?:\\\\)*)\\u([0-9a-fA-F]{4})")


def _unescape_non_ascii(text: str) -> str:
    """Write non-ASCII characters of folium's JSON as UTF-8 (3 bytes) instead of ``\\uXXXX``
    escapes (6 bytes): Chinese labels halve in size. ASCII escapes (``<``, ``>``, ``&``, which
    keep data from closing a script), surrogates and U+2028/U+2029 stay escaped."""

    def repl(mo: re.Match[str]) -> str:
        code = int(mo.group(2), 16)
        if code < 0x80 or 0xD800 <= code <= 0xDFFF or code in (0x2028, 0x2029):
            return mo.group(0)
        return mo.group(1) + chr(code)

    return _UESC.sub(repl, text)


def _stable_ids(text: str) -> str:
    ids: dict[str, str] = {}

    def repl(mo: re.Match[str]) -> str:
        key = mo.group(0)
        if key not in ids:
            ids[key] = f"{mo.group(1)}_{len(ids):05d}"
        return ids[key]

    # no boundary after the id: folium also writes names such as geo_json_<id>searchControl
    return re.sub(r"\b([a-z_]+)_([0-9a-f]{32})", repl, text)
