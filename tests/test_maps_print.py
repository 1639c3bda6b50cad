"""Maps and figures a reviewer would print (issue 16, item 8): legend colours distinct, labels
not raw ids, province and county outlines on siting maps and figures, the wind figure's
turbines, metric scale bars only, offline maps with no tile layer."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from sxzones.cli import cli
from sxzones.maps.interactive import colour_of
from sxzones.maps.style import CATEGORY_COLOURS, label, layer_style


def _distinct(entries: dict[str, str]) -> None:
    by_colour: dict[str, list[str]] = {}
    for key, colour in entries.items():
        by_colour.setdefault(colour.lower(), []).append(key)
    shared = {c: ks for c, ks in by_colour.items() if len(ks) > 1}
    assert shared == {}, shared


def test_siting_legend_colours_are_distinct():
    kinds = ["abandoned_mine", "subsidence", "closed_landfill", "contaminated_plot"]
    reasons = [
        "redline",
        "priority_protection",
        "protected_area",
        "basic_farmland",
        "basic_grassland",
        "water",
        "builtup",
        "slope",
        "too_small",
        "villages",  # an --exclude layer of the user's
        "resource_ghi",  # a --resource raster
        "resource_wind_speed",
    ]
    entries = {k: colour_of(k) for k in [*kinds, *reasons, "eligible"]}
    entries["counties"] = "#888888"
    entries["turbines"] = "#000000"
    _distinct(entries)


def test_site_check_and_overview_legend_colours_are_distinct():
    units = ["priority_protection", "key_control", "general_control"]
    entries = {u: colour_of(u) for u in units}
    for role in ("redline", "builtup", "admin", "zones", "context"):
        entries[role] = layer_style(role).color
    entries["rivers"] = layer_style("context", "rivers").color
    _distinct(entries)
    assert CATEGORY_COLOURS["redline"] == layer_style("redline").color  # one red-line colour


def test_legend_labels_are_not_raw_ids():
    assert label("resource_ghi") == "资源量低于下限 Resource below minimum (ghi)"
    assert label("province").startswith("省界")
    assert label("redline") != "redline"


@pytest.fixture(scope="module")
def wind(tmp_path_factory):
    out = tmp_path_factory.mktemp("wind")
    r = CliRunner().invoke(
        cli,
        ["sites", "--candidates", "candidates_demonstration", "--tech", "wind", "--out",
         str(out / "o"), "--map", str(out / "wind.html")],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    return out


def test_siting_map_outlines_metric_scale_offline(wind):
    html = (wind / "wind.html").read_text(encoding="utf-8")
    assert "L.control.scale({metric: true, imperial: false})" in html
    assert "L.control.scale()" not in html  # Leaflet's default shows miles and feet
    assert "省界 Province boundary" in html and "县级行政区 Counties" in html
    assert "openstreetmap" not in html.lower()  # no tile layer at all on an offline map
    assert not re.search(r"https?://[^\"' ]+\.(png|jpg|js|css)", html)


def test_wind_figure_draws_turbines_and_outlines(monkeypatch, tmp_path):
    import sxzones.maps.static as static

    seen: list[str] = []
    real = static.static_map

    def spy(layers, **kw):
        seen.extend(ly.name for ly in layers if len(ly.frame))
        return real(layers, **kw)

    monkeypatch.setattr(static, "static_map", spy)
    r = CliRunner().invoke(
        cli,
        ["sites", "--candidates", "candidates_demonstration", "--tech", "wind", "--out",
         str(tmp_path / "o"), "--figure", str(tmp_path / "wind.png")],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert {"counties", "province", "turbines", "eligible_sites"} <= set(seen)
    assert (tmp_path / "wind.png").stat().st_size > 10_000
