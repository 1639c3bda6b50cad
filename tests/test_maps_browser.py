"""Maps in a real browser: Debian's headless Chromium, driven by Selenium, network disabled.

Each map must initialise, draw the expected number of features, raise no JavaScript error,
and show something (a screenshot that is not blank). Skipped only when Chromium and
chromedriver are not installed (``.ci/run`` installs them).
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sxzones.cli import cli

from .conftest import ROOT

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
if os.environ.get("CI") and not (CHROMIUM and DRIVER):  # CI installs them: never skip there
    raise RuntimeError("CI run without chromium/chromedriver: .ci/run must install them")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM and DRIVER),
        reason="needs Debian's chromium and chromium-driver (installed by .ci/run)",
    ),
]

# Counts every feature of every GeoJSON layer folium created (clustered ones included).
COUNT_JS = """
const out = {};
for (const k of Object.keys(window)) {
  const v = window[k];
  if (v && v instanceof L.GeoJSON) { out[k] = v.getLayers().length; }
}
const maps = Object.keys(window).filter(k => window[k] instanceof L.Map);
return {layers: out, maps: maps.length,
        ready: maps.length === 1 && window[maps[0]]._loaded === true};
"""


def chromium(window: str, host_rules: str, *extra: str):
    """Debian's headless Chromium through chromedriver, with no network beyond
    ``host_rules`` and the page's console kept for the tests to read."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        *extra,
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={window}",
        f"--host-resolver-rules={host_rules}",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(DRIVER), options=opts)


@pytest.fixture(scope="module")
def browser():
    # no network at all: every host fails to resolve, as on an offline intranet
    driver = chromium("1200,900", "MAP * ~NOTFOUND", "--disable-quic")
    yield driver
    driver.quit()


def _open(browser, path: Path) -> dict:
    browser.get_log("browser")  # drop what an earlier page logged
    browser.get(path.resolve().as_uri())
    state = browser.execute_script(COUNT_JS)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors
    assert state["maps"] == 1
    assert state["ready"]
    return state


def _not_blank(browser) -> None:
    from PIL import Image

    img = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    colours = img.getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50  # a blank page has one or two colours


@pytest.fixture(scope="module")
def demo_maps(tmp_path_factory):
    """The demo's maps, made by the demo recipes into a temporary folder."""
    out = tmp_path_factory.mktemp("maps")
    runner = CliRunner()
    fz = runner.invoke(
        cli,
        [
            "firms",
            "--firms",
            "firms",
            "--builtup",
            "builtup_demonstration",
            "--out",
            str(out / "firms"),
            "--format",
            "csv",
            "--map",
            str(out / "firm-zones.html"),
        ],
    )
    assert fz.exit_code == 0, fz.output
    recipe = out / "overview.toml"
    recipe.write_text(
        (ROOT / "analyses" / "demo-01-overview.toml")
        .read_text(encoding="utf-8")
        .replace('"../layers/catalog.toml"', f'"{ROOT / "layers" / "catalog.toml"}"')
        .replace('"../out/overview"', f'"{out / "overview"}"')
        .replace('"../maps/shanxi-overview.html"', f'"{out / "shanxi-overview.html"}"'),
        encoding="utf-8",
    )
    ov = runner.invoke(cli, ["run", str(recipe)])
    assert ov.exit_code == 0, ov.output
    sc = runner.invoke(
        cli,
        [
            "check",
            "--projects",
            str(ROOT / "analyses" / "examples" / "projects_demonstration.csv"),
            "--crs",
            "wgs84",
            "--out",
            str(out / "check"),
            "--map",
            str(out / "site-check.html"),
        ],
    )
    assert sc.exit_code == 0, sc.output
    for tech in ("pv", "wind"):
        st = runner.invoke(
            cli,
            [
                "sites",
                "--candidates",
                "candidates_demonstration",
                "--tech",
                tech,
                "--out",
                str(out / f"siting-{tech}"),
                "--map",
                str(out / f"siting-{tech}.html"),
            ],
        )
        assert st.exit_code == 0, st.output
    return out


def test_firm_map_in_browser(browser, demo_maps):
    state = _open(browser, demo_maps / "firm-zones.html")
    counts = sorted(state["layers"].values())
    firms = len(pd.read_csv(demo_maps / "firms" / "firm_zones.csv", encoding="utf-8-sig"))
    assert counts == sorted([1, 161, firms])  # ring, built-up areas, firms
    assert browser.find_elements("css selector", ".leaflet-control-layers")
    assert browser.find_elements("css selector", ".leaflet-control-scale")
    assert browser.find_elements("css selector", ".leaflet-control-measure")
    assert browser.find_elements("css selector", ".leaflet-control-search")
    assert browser.find_elements("css selector", "#sx-legend")
    _not_blank(browser)


def test_overview_map_in_browser(browser, demo_maps):
    state = _open(browser, demo_maps / "shanxi-overview.html")
    summary = pd.read_csv(demo_maps / "overview" / "layers_summary.csv", encoding="utf-8-sig")
    assert sorted(state["layers"].values()) == sorted(summary["loaded"].tolist())
    # coal mines (852) and places (383) are clustered (the layers are off until switched on)
    assert (
        browser.execute_script(
            "return Object.values(window).filter(v => v instanceof L.MarkerClusterGroup).length"
        )
        == 2
    )
    _not_blank(browser)


def test_site_check_map_in_browser(browser, demo_maps):
    state = _open(browser, demo_maps / "site-check.html")
    table = pd.read_csv(demo_maps / "check" / "site_check.csv", encoding="utf-8-sig")
    assert len(table) in state["layers"].values()  # one feature per project
    touched = {u for codes in table["unit_codes"].astype(str) for u in codes.split(";")}
    assert len(touched) in state["layers"].values()  # exactly the units the projects touch
    assert sorted(state["layers"].values()) == sorted([len(table), len(touched), 12, 31, 161])
    assert browser.find_elements("css selector", "#sx-legend")
    _not_blank(browser)


@pytest.mark.parametrize("tech", ["pv", "wind"])
def test_siting_map_in_browser(browser, demo_maps, tech):
    import geopandas as gpd

    state = _open(browser, demo_maps / f"siting-{tech}.html")
    gpkg = demo_maps / f"siting-{tech}" / "eligible_sites.gpkg"
    sites = gpd.read_file(gpkg, layer="eligible_sites")
    removed = gpd.read_file(gpkg, layer="removed")
    expected = [len(sites), len(removed), int((~sites.geometry.is_empty).sum())]
    if tech == "wind":
        expected.append(len(gpd.read_file(gpkg, layer="turbines")))
    admin = gpd.read_file(ROOT / "layers" / "shanxi" / "derived" / "admin.gpkg")
    shanxi = admin[admin["adcode"].astype(str).str.startswith("14")]
    expected += [int((shanxi["level"] == "county").sum()), 1]  # county and province outlines
    assert sorted(state["layers"].values()) == sorted(expected)
    assert browser.find_elements("css selector", ".leaflet-control-search")
    assert browser.find_elements("css selector", "#sx-legend")
    _not_blank(browser)


def _firm_map(tmp_path: Path, firms_csv: Path, *extra: str) -> Path:
    """Screen a WGS84 firms CSV against the bundled built-up areas; return its map."""
    mp = tmp_path / "m.html"
    res = CliRunner().invoke(
        cli,
        [
            "firms",
            "--firms",
            str(firms_csv),
            "--crs",
            "wgs84",
            "--builtup",
            "builtup_demonstration",
            "--out",
            str(tmp_path / "o"),
            "--format",
            "csv",
            "--map",
            str(mp),
            *extra,
        ],
    )
    assert res.exit_code == 0, res.output
    return mp


def _popup_of(browser, firm_id: str) -> str:
    """Open the popup of firm ``firm_id`` (of the two-firm layer) and read it as text."""
    return browser.execute_script(
        """
        for (const k of Object.keys(window)) {
          const v = window[k];
          if (v instanceof L.GeoJSON && v.getLayers().length === 2) {
            const lyr = v.getLayers().find(l => l.feature.properties.firm_id === arguments[0]);
            lyr.fire('click', {latlng: lyr.getLatLng()}, true);  // propagate to the group
            return v.getPopup().getElement().innerText;
          }
        }
        return null;""",
        firm_id,
    )


def test_chinese_popup_in_browser(browser, tmp_path):
    csv = tmp_path / "f.csv"
    csv.write_text(
        "firm_id,name,industry,lon,lat\nX1,甲焦化厂,炼焦,112.55,37.87\nX2,乙钢厂,钢铁,112.6,37.9\n",
        encoding="utf-8",
    )
    _open(browser, _firm_map(tmp_path, csv, "--lang", "zh"))
    text = _popup_of(browser, "X1")
    assert "甲焦化厂" in text and "行业" in text and "焦化" in text and "区位" in text
    assert "industry_id" not in text and "coking" not in text
    assert "行业识别状态" in text and "是否适用规则" in text and "炼焦" in text  # the value given
    legend = browser.find_element("css selector", "#sx-legend").text
    assert "企业与建成区距离筛查（20 千米）" in legend and "Firm screen" not in legend


def test_hostile_firm_name_shows_as_text(browser, tmp_path):
    csv = tmp_path / "f.csv"
    csv.write_text(
        "firm_id,name,industry,lon,lat\n"
        "X1,<img src=x onerror=alert(1)>,steel,112.55,37.87\n"
        "X2,<script>alert(2)</script>,coking,112.6,37.9\n",
        encoding="utf-8",
    )
    mp = _firm_map(tmp_path, csv)
    _open(browser, mp)
    assert browser.execute_script("return document.querySelectorAll('img[src=\"x\"]').length") == 0
    # open the first firm's popup and read it back as text
    text = browser.execute_script("""
        for (const k of Object.keys(window)) {
          const v = window[k];
          if (v instanceof L.GeoJSON && v.getLayers().length === 2) {
            const lyr = v.getLayers()[0];
            lyr.fire('click', {latlng: lyr.getLatLng()}, true);  // propagate to the group
            return v.getPopup().getElement().innerText;
          }
        }
        return null;""")
    assert "<img src=x onerror=alert(1)>" in text
    assert browser.execute_script("return document.querySelectorAll('img[src=\"x\"]').length") == 0


def test_ten_thousand_firm_map_is_small(browser, tmp_path):
    rng = np.random.default_rng(7)
    n = 10_000
    pd.DataFrame(
        {
            "firm_id": [f"F{i}" for i in range(n)],
            "name": [f"企业{i}" for i in range(n)],
            "industry": rng.choice(["steel", "coking", "cement"], n),
            "lon": rng.uniform(110.8, 113.8, n),
            "lat": rng.uniform(35.2, 39.8, n),
        }
    ).to_csv(tmp_path / "f.csv", index=False)
    mp = _firm_map(tmp_path, tmp_path / "f.csv")
    assert mp.stat().st_size < 5 * 1024 * 1024
    state = _open(browser, mp)
    assert n in state["layers"].values()
    assert browser.find_elements("css selector", ".marker-cluster")


CHECK_ONE = ["check", "--project", "112.55,37.87", "--crs", "wgs84", "--industry", "pv"]


def _check_map(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> Path:
    mp = tmp_path / "check.html"
    res = CliRunner(env=env).invoke(
        cli,
        [*CHECK_ONE, "--out", str(tmp_path / "o"), "--map", str(mp), *extra],
    )
    assert res.exit_code == 0, res.output
    return mp


def _open_offline(browser, url: str) -> None:
    """Open a page whose tiles cannot load here (no network): only those errors are allowed."""
    browser.get_log("browser")
    browser.get(url)
    state = browser.execute_script(COUNT_JS)
    errors = [
        e
        for e in browser.get_log("browser")
        if e["level"] == "SEVERE" and "ERR_NAME_NOT_RESOLVED" not in e["message"]
    ]
    assert errors == [], errors
    assert state["ready"]


TDT_JS = """
const t = Object.values(window).filter(v => v instanceof L.TileLayer && v._url.includes('tianditu'));
const m = Object.values(window).find(v => v instanceof L.Map);
return t.map(l => [l.options.tk || null, m.hasLayer(l)]);
"""


def test_tianditu_key_is_never_written_unless_asked(browser, tmp_path):
    env = {"SXZONES_TIANDITU_KEY": "0123456789abcdef0123456789abcdef"}
    mp = _check_map(tmp_path, "--basemap", "tianditu", env=env)
    text = mp.read_text(encoding="utf-8")
    assert "0123456789abcdef" not in text and "tianditu.gov.cn" in text
    assert "#tk=" in text  # the legend says how to give the key
    _open_offline(browser, mp.resolve().as_uri())
    assert browser.execute_script(TDT_JS) == [[None, False], [None, False]]  # no key: not shown
    # the key given in the address reaches both layers, which are then shown
    browser.get("about:blank")
    _open_offline(browser, mp.resolve().as_uri() + "#tk=fedcba9876543210")
    assert browser.execute_script(TDT_JS) == [["fedcba9876543210", True]] * 2
    # asked: the key from the environment is written into the file
    mp2 = _check_map(tmp_path / "b", "--basemap", "tianditu", "--embed-tianditu-key", env=env)
    assert "0123456789abcdef0123456789abcdef" in mp2.read_text(encoding="utf-8")


def test_embedding_a_missing_tianditu_key_is_a_clear_error(tmp_path):
    res = CliRunner(env={"SXZONES_TIANDITU_KEY": ""}).invoke(
        cli,
        [
            *CHECK_ONE,
            "--out",
            str(tmp_path / "o"),
            "--map",
            str(tmp_path / "m.html"),
            "--basemap",
            "tianditu",
            "--embed-tianditu-key",
        ],
    )
    assert res.exit_code == 2
    assert "SXZONES_TIANDITU_KEY" in res.output


def test_amap_basemap_shifts_overlays_to_gcj02(browser, tmp_path):
    from sxzones.crs import wgs84_to_gcj02

    mp = _check_map(tmp_path, "--basemap", "amap")
    assert "autonavi.com" in mp.read_text(encoding="utf-8")
    _open_offline(browser, mp.resolve().as_uri())
    latlng = browser.execute_script(
        """
        const g = Object.values(window).filter(v => v instanceof L.GeoJSON)
          .map(v => v.getLayers()).find(ls => ls.length === 1 && ls[0].getLatLng);
        const p = g[0].getLatLng(); return [p.lng, p.lat];
        """
    )
    glon, glat = wgs84_to_gcj02(np.array([112.55]), np.array([37.87]))
    assert latlng == pytest.approx([float(glon[0]), float(glat[0])], abs=2e-6)
    assert abs(latlng[0] - 112.55) > 1e-3  # the shift is real (hundreds of metres)
    osm = browser.execute_script(
        "return Object.values(window).filter(v => v instanceof L.TileLayer"
        " && v._url.includes('openstreetmap')).length"
    )
    assert osm == 0  # WGS84 tiles would not line up with GCJ-02 overlays


def test_firm_markers_take_their_zone_colour(browser, tmp_path):
    """Each firm's marker is drawn in its zone's colour (the style is chosen by colour in the
    page, one case per colour)."""
    from sxzones.maps.style import CATEGORY_COLOURS

    csv = tmp_path / "f.csv"
    csv.write_text(
        "firm_id,name,industry,lon,lat\nA,甲,steel,112.55,37.87\nB,乙,coking,112.75,37.95\n"
        "C,丙,cement,110.45,35.75\n",
        encoding="utf-8",
    )
    mp = _firm_map(tmp_path, csv)
    _open(browser, mp)
    drawn = browser.execute_script("""
        for (const k of Object.keys(window)) {
          const v = window[k];
          if (v instanceof L.GeoJSON && v.getLayers().length === 3) {
            return v.getLayers().map(l => [l.feature.properties.firm_id, l.options.fillColor,
                                           l.options.color]);
          }
        }
        return null;""")
    table = pd.read_csv(tmp_path / "o" / "firm_zones.csv", encoding="utf-8-sig")
    zones = dict(zip(table["firm_id"], table["zone"], strict=True))
    assert len(set(zones.values())) >= 2  # more than one colour to tell apart
    want = {
        z: CATEGORY_COLOURS[z if not z.startswith("within_") else "within_20km"]
        for z in zones.values()
    }
    assert sorted(drawn) == sorted([f, want[z], want[z]] for f, z in zones.items())


def test_unrecognised_industry_shows_on_the_map(browser, tmp_path):
    """A firm whose industry the rules do not know is said so in its popup, with the value
    given: not an empty industry that looks like "no rule applies"."""
    csv = tmp_path / "f.csv"
    csv.write_text(
        "firm_id,name,industry,lon,lat\nX1,甲铸造厂,铸造,112.55,37.87\nX2,乙钢厂,钢铁,112.6,37.9\n",
        encoding="utf-8",
    )
    _open(browser, _firm_map(tmp_path, csv, "--lang", "zh"))
    text = _popup_of(browser, "X1")
    assert "甲铸造厂" in text and "铸造" in text and "未识别" in text
