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


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1200,900",
        # no network at all: every host fails to resolve, as on an offline intranet
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
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


def _firm_map(tmp_path: Path, firms_csv: Path) -> Path:
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
        ],
    )
    assert res.exit_code == 0, res.output
    return mp


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
