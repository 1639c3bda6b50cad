"""Self-contained maps: every script and style a folium map references is inlined from the
pinned copies in ``vendor/`` (with their licences), images as data URIs.

A map saved this way opens on a machine with no internet. A reference to anything that is not
bundled is an error, so that no map silently depends on a CDN.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import folium

from sxzones.errors import SxzonesError

__all__ = ["inline_assets", "strip_unused_defaults"]

VENDOR = Path(__file__).resolve().parent / "vendor"

#: (package marker in the URL, file name in the URL) -> bundled file
ASSETS: dict[tuple[str, str], str] = {
    ("leaflet@", "leaflet.js"): "leaflet/leaflet.js",
    ("leaflet@", "leaflet.css"): "leaflet/leaflet.css",
    ("markercluster", "leaflet.markercluster.js"): "leaflet.markercluster/leaflet.markercluster.js",
    ("markercluster", "MarkerCluster.css"): "leaflet.markercluster/MarkerCluster.css",
    ("markercluster", "MarkerCluster.Default.css"): (
        "leaflet.markercluster/MarkerCluster.Default.css"
    ),
    ("leaflet-measure", "leaflet-measure.min.js"): "leaflet-measure/leaflet-measure.min.js",
    ("leaflet-measure", "leaflet-measure.min.css"): "leaflet-measure/leaflet-measure.css",
    ("leaflet-search", "leaflet-search.min.js"): "leaflet-search/leaflet-search.min.js",
    ("leaflet-search", "leaflet-search.min.css"): "leaflet-search/leaflet-search.min.css",
    ("fullscreen", "Control.FullScreen.min.js"): "leaflet.fullscreen/Control.FullScreen.js",
    ("fullscreen", "Control.FullScreen.css"): "leaflet.fullscreen/Control.FullScreen.css",
}
_MIME = {".png": "image/png", ".gif": "image/gif", ".svg": "image/svg+xml", ".jpg": "image/jpeg"}
_SCRIPT = re.compile(r'<script src="([^"]+)"></script>')
_LINK = re.compile(r'<link rel="stylesheet" href="([^"]+)"\s*/>')


def strip_unused_defaults(m: folium.Map) -> folium.Map:
    """Keep only Leaflet among folium's default assets (the maps use no jQuery, Bootstrap or
    icon fonts), so that there is less to inline."""
    m.default_js = [(n, u) for n, u in m.default_js if n == "leaflet"]
    m.default_css = [(n, u) for n, u in m.default_css if n == "leaflet_css"]
    return m


def _bundled(url: str) -> Path:
    name = url.rsplit("/", 1)[-1]
    for (marker, fname), rel in ASSETS.items():
        if fname == name and marker in url:
            return VENDOR / rel
    raise SxzonesError(
        f"the map references {url}, which is not bundled in sxzones/maps/vendor; a saved "
        "map must open offline. Fix: vendor the asset (see vendor/README.md) or drop the "
        "plugin that needs it"
    )


def _data_uris(css: str, base: Path) -> str:
    def repl(mo: re.Match[str]) -> str:
        ref = mo.group(1).strip("'\"")
        if ref.startswith(("data:", "#")):
            return mo.group(0)
        path = (base / ref).resolve()
        if not path.exists():  # some packages point one folder up: use their own images/
            path = base / "images" / Path(ref).name
        mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"url(data:{mime};base64,{data})"

    return re.sub(r"url\(([^)]+)\)", repl, css)


def inline_assets(html: str) -> str:
    """Replace every external ``<script src>`` and stylesheet ``<link>`` by its bundled copy.

    Raises
    ------
    SxzonesError
        For a reference to an asset that is not bundled.
    """

    def script(mo: re.Match[str]) -> str:
        code = _bundled(mo.group(1)).read_text(encoding="utf-8").replace("</script", "<\\/script")
        return f"<script>{code}</script>"

    def link(mo: re.Match[str]) -> str:
        path = _bundled(mo.group(1))
        css = _data_uris(path.read_text(encoding="utf-8"), path.parent)
        return f"<style>{css}</style>"

    return _LINK.sub(link, _SCRIPT.sub(script, html))
