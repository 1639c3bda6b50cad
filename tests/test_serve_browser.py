"""``sxzones serve`` in a real browser: uvicorn on 127.0.0.1 (a free port, in a thread) and
Debian's headless Chromium driven by Selenium, with every other host unreachable.

A reviewer uploads a parcel and reads the verdict; an inspector uploads a firm list and
downloads the CSV, which must be the bytes ``sxzones firms`` writes; hostile uploads are
refused on the page with the readers' message, and HTML in names stays text.
"""

from __future__ import annotations

import base64
import os
import re
import socket
import threading
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner

from sxzones.cli import cli
from sxzones.options import ServeOptions

from .test_maps_browser import CHROMIUM, DRIVER, chromium

pytest.importorskip("uvicorn")

if os.environ.get("CI") and not (CHROMIUM and DRIVER):  # CI installs them: never skip there
    raise RuntimeError("CI run without chromium/chromedriver: .ci/run must install them")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM and DRIVER),
        reason="needs Debian's chromium and chromium-driver (installed by .ci/run)",
    ),
]

FIRMS_CSV = (
    "firm_id,name,industry,lon,lat\n"
    "F1,太原钢铁厂,钢铁,112.55,37.87\n"
    "F2,清徐焦化,coking,112.30,37.56\n"
    "F3,远处钢厂,steel,110.70,38.90\n"
)
SQUARE = [(112.30, 37.56), (112.31, 37.56), (112.31, 37.57), (112.30, 37.57)]


@pytest.fixture(scope="module")
def server():
    import uvicorn

    from sxzones.serve import create_app

    app, state = create_app(ServeOptions(max_upload_mb=1))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)
    state.close()


@pytest.fixture(scope="module")
def browser():
    # only this server: every other host fails to resolve
    driver = chromium("1300,1000", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
    yield driver
    driver.quit()


def _open(browser, url: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return document.body.dataset.ready === '1'")
    )


def _wait(browser, script: str, timeout: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(lambda d: d.execute_script(script))


def _js_errors(browser) -> list[dict]:
    """SEVERE console entries other than the refused requests (400/413) we provoke."""
    return [
        e
        for e in browser.get_log("browser")
        if e["level"] == "SEVERE" and "status of 4" not in e["message"]
    ]


def _upload(browser, field: str, path: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, field).send_keys(str(path))


def _submit(browser) -> None:
    from selenium.webdriver.common.by import By

    browser.execute_script("document.getElementById('message').hidden = true;")
    browser.find_element(By.ID, "run").click()


def _select(browser, field: str, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.ID, field)).select_by_value(value)


def test_reviewer_uploads_a_parcel_and_reads_the_verdict(server, browser, tmp_path):
    frame = gpd.GeoDataFrame(
        {"project_id": ["<img src=x onerror=alert(1)>"]},
        geometry=[shapely.Polygon(SQUARE)],
        crs=4326,
    )
    path = tmp_path / "parcel.geojson"
    frame.to_file(path)
    _open(browser, server + "/")
    _upload(browser, "file", path)
    _select(browser, "industry", "coking")
    _submit(browser)
    verdict = _wait(
        browser, "const v = document.querySelector('[data-verdict]'); return v && v.dataset.verdict"
    )
    assert verdict == "conflict"
    # the HTML in the id is shown as text, not run or parsed
    assert browser.execute_script("return document.querySelectorAll('#result img').length") == 0
    h2 = browser.execute_script("return document.querySelector('#result h2').textContent")
    assert h2.startswith("<img src=x onerror=alert(1)>")
    # the project is drawn on the map, the report link is there
    n = browser.execute_script(
        "return document.querySelectorAll('.leaflet-overlay-pane path').length"
    )
    assert n > 0
    links = browser.execute_script(
        "return Array.from(document.querySelectorAll('.downloads a')).map(a => a.dataset.name)"
    )
    assert {"site_check.json", "site_check.csv", "site_check.gpkg"} <= set(links)
    assert _js_errors(browser) == []


def test_reviewer_pastes_coordinates(server, browser):
    from selenium.webdriver.common.by import By

    _open(browser, server + "/")
    browser.find_element(By.ID, "coords").send_keys("113.05,36.20")
    _select(browser, "crs", "wgs84")
    _select(browser, "industry", "pv")
    _submit(browser)
    verdict = _wait(
        browser, "const v = document.querySelector('[data-verdict]'); return v && v.dataset.verdict"
    )
    assert verdict in ("clear", "conditional", "conflict")
    assert _js_errors(browser) == []


def test_inspector_downloads_the_cli_csv(server, browser, tmp_path):
    path = tmp_path / "firms.csv"
    path.write_text(FIRMS_CSV, encoding="utf-8")
    r = CliRunner().invoke(
        cli,
        ["firms", "--firms", str(path), "--builtup", "builtup_demonstration", "--crs", "wgs84",
         "--out", str(tmp_path / "cli")],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    _open(browser, server + "/inspector")
    _upload(browser, "file", path)
    _wait(browser, "return document.querySelectorAll('#mapping select').length > 0")
    _select(browser, "crs", "wgs84")
    _submit(browser)
    href = _wait(
        browser,
        "const a = document.querySelector('.downloads a[data-name=\"firm_zones.csv\"]');"
        "return a && a.href",
    )
    data = browser.execute_async_script(
        "const done = arguments[1];"
        "fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => {"
        "  let s = ''; new Uint8Array(b).forEach(c => s += String.fromCharCode(c));"
        "  done(btoa(s)); });",
        href,
    )
    assert base64.b64decode(data) == (tmp_path / "cli" / "firm_zones.csv").read_bytes()
    rows = browser.execute_script("return document.querySelectorAll('#result .scroll tr').length")
    assert rows == 4  # header + 3 firms
    assert _js_errors(browser) == []


def _bomb(tmp_path: Path) -> Path:
    p = tmp_path / "bomb.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.geojson", b"0" * (30 * 1024 * 1024))
    return p


@pytest.mark.parametrize(
    ("name", "make", "match"),
    [
        ("big.geojson", lambda p: p.write_bytes(b" " * (2 * 1024 * 1024)), "larger than the limit"),
        ("bomb.zip", None, "unpacks to 30.0 MB"),
        ("notes.pdf", lambda p: p.write_bytes(b"%PDF-1.4\n"), "are not read here"),
        ("parcel.gpkg", lambda p: p.write_bytes(b"<html>not a gpkg</html>"), "cannot be read"),
    ],
)
def test_hostile_uploads_are_refused_on_the_page(server, browser, tmp_path, name, make, match):
    path = _bomb(tmp_path) if make is None else tmp_path / name
    if make is not None:
        make(path)
    _open(browser, server + "/")
    _upload(browser, "file", path)
    _select(browser, "industry", "pv")
    _submit(browser)
    msg = _wait(
        browser,
        "const m = document.getElementById('message'); return !m.hidden && m.textContent",
    )
    assert match in msg and "Traceback" not in msg and "internal error" not in msg
    assert browser.execute_script("return document.querySelectorAll('#result *').length") == 0
    assert _js_errors(browser) == []


def test_planner_shows_eligible_land(server, browser):
    _open(browser, server + "/planner")
    _select(browser, "tech", "pv")
    _submit(browser)
    title = _wait(
        browser, "const h = document.querySelector('#result h2'); return h && h.textContent"
    )
    assert "MW" in title and "km²" in title
    assert _js_errors(browser) == []


def test_printed_report_fits_a4_portrait(server, browser):
    """The report of a project with rules (long Chinese requirement texts), laid out for
    print at A4 width (210 mm = 794 CSS px): nothing wider than the page, and the requirement
    column wide enough to read (about two characters before the fix)."""
    from selenium.webdriver.common.by import By

    _open(browser, server + "/")
    browser.find_element(By.ID, "coords").send_keys("112.30,37.56")
    _select(browser, "crs", "wgs84")
    _select(browser, "industry", "coking")
    _submit(browser)
    href = _wait(
        browser,
        "const a = Array.from(document.querySelectorAll('.downloads a'))"
        ".find(a => a.dataset.name.startsWith('report-')); return a && a.href",
    )
    browser.set_window_size(794, 1123)
    try:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        browser.get(href)
        layout = browser.execute_script(
            "const th = Array.from(document.querySelectorAll('table.rules th'));"
            "const zh = th.find(h => h.textContent === '要求');"
            "return {page: document.documentElement.clientWidth,"
            " wide: document.documentElement.scrollWidth,"
            " zh: zh ? zh.getBoundingClientRect().width : 0,"
            " rows: document.querySelectorAll('table.rules tbody tr').length,"
            " coords: document.querySelectorAll('table.coords tbody tr').length}"
        )
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        browser.set_window_size(1300, 1000)
    assert layout["rows"] == 2 and layout["coords"] == 1
    assert layout["wide"] <= layout["page"], layout
    assert layout["zh"] >= 110, layout  # about 9 Chinese characters at 11-13 px


def test_reviewer_draws_a_parcel(server, browser):
    """A polygon drawn with Leaflet.draw's tool (real mouse clicks on the map) is checked."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    _open(browser, server + "/")
    _select(browser, "industry", "pv")
    browser.find_element(By.CSS_SELECTOR, ".leaflet-draw-draw-polygon").click()
    mp = browser.find_element(By.ID, "map")
    w, h = mp.size["width"], mp.size["height"]
    corners = [(0.45, 0.45), (0.55, 0.45), (0.55, 0.55), (0.45, 0.55)]
    for fx, fy in corners:
        x, y = int((fx - 0.5) * w), int((fy - 0.5) * h)
        ActionChains(browser).move_to_element_with_offset(mp, x, y).click().perform()
        time.sleep(0.3)
    browser.find_element(By.CSS_SELECTOR, ".leaflet-draw-actions a[title='Finish drawing']").click()
    drawn = browser.execute_script("return JSON.parse(document.getElementById('geojson').value)")
    assert drawn["type"] == "Polygon" and len(drawn["coordinates"][0]) == 5
    _submit(browser)
    verdict = _wait(
        browser, "const v = document.querySelector('[data-verdict]'); return v && v.dataset.verdict"
    )
    assert verdict in ("clear", "conditional", "conflict")
    area = browser.execute_script("return document.querySelector('#result section p').textContent")
    assert re.search(r"Area [1-9][\d.]* m²", area), area
    assert _js_errors(browser) == []
