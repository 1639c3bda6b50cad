"""The interactive map's page as written: the layers' data written in after folium made the
page (the same text as folium's ``tojson``), styles by colour, and values kept as given."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from jinja2.utils import htmlsafe_json_dumps

from sxzones.maps.interactive import (
    MapLayer,
    _page_json,
    _unescape_non_ascii,
    build_map,
    save_map,
    to_geojson,
)
from sxzones.maps.style import CATEGORY_COLOURS, LayerStyle

WORK = 4546


@pytest.mark.parametrize(
    "value",
    ["太原钢铁", "甲😀厂", "a\u2028b\u2029c", "<script>x</script>", "it's & \"q\"",
     "x\\u4e2d", "lone \ud83d surrogate", "\x01\x7f\x80\x9f", "𠀀 (CJK Ext B)"],
)  # fmt: skip
def test_page_json_is_folium_tojson_as_written_before(value):
    data = {"features": [{"properties": {"name": value, "n": 1.5}}], "b": [None, True]}
    before = _unescape_non_ascii(str(htmlsafe_json_dumps(data, sort_keys=True)))
    assert _page_json(data) == before
    assert "</script" not in _page_json(data)
    assert json.loads(_page_json(data)) == data


def _firms(names: list[str], zones: list[str | None]) -> gpd.GeoDataFrame:
    n = len(names)
    xy = np.column_stack([620_000 + 1000 * np.arange(n), np.full(n, 4_190_000.0)])
    return gpd.GeoDataFrame({"name": names, "zone": zones}, geometry=shapely.points(xy), crs=WORK)


def test_map_writes_values_as_given_and_styles_by_colour(tmp_path):
    """A name that looks like one of folium's element ids (``x_<32 hex digits>``) was
    rewritten by the pass that makes ids stable; the styles are one case per colour (folium
    listed every feature's id), and every feature's style is its zone's colour."""
    odd = "abc_0123456789abcdef0123456789abcdef"
    firms = _firms([odd, "乙", "丙", "丁"], ["inside", "within_20km", "beyond", None])
    layer = MapLayer("firms", firms, "firms", ["name", "zone"], style=LayerStyle(by="zone"))
    page = save_map(build_map([layer], title="t"), tmp_path / "m.html").read_text("utf-8")
    hostile = build_map([layer], title="<script>x</script>")
    assert "<title>&lt;script&gt;x&lt;/script&gt;</title>" in save_map(
        hostile, tmp_path / "h.html"
    ).read_text("utf-8")
    assert odd in page
    assert "<title>t</title>" in page  # the tab shows the map's title, not the file path
    assert '"id": "0"' not in page  # no id given to every feature
    for zone in ("inside", "within_20km", "beyond"):
        assert page.count(f'case "{CATEGORY_COLOURS[zone]}":') == 1
    again = save_map(build_map([layer], title="t"), tmp_path / "n.html").read_bytes()
    assert again == page.encode("utf-8")  # the same map, the same bytes
    gj = to_geojson(firms, ["name", "zone"], colour_by="zone")
    colours = [f["properties"]["_colour"] for f in gj["features"]]
    assert colours == [*(CATEGORY_COLOURS[z] for z in ("inside", "within_20km", "beyond")),
                       "#3388ff"]  # fmt: skip  # a missing value: the default colour
