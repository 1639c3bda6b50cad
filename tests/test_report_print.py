"""The printable site-check report: name, date, data versions, the parcel's coordinates in
the CRS it was given in and in CGCS2000, declared beside computed area (issue 16, item 5).

Known answers: the 界址点 file's own coordinates come back to the millimetre, CGCS2000
longitudes and latitudes match an independent pyproj transform, the declared 0.96 ha sits
beside the ellipsoidal area.
"""

from __future__ import annotations

import re

import numpy as np
from click.testing import CliRunner
from pyproj import Transformer

from sxzones.cli import cli

from .conftest import JZD_TWO_PARCELS


def _cells(html: str, row: str) -> list[str]:
    m = re.search(rf"<tr><td>{row}</td>(.*?)</tr>", html)
    assert m, row
    return re.findall(r"<td>(.*?)</td>", m.group(1))


def _check(tmp_path, *args: str) -> None:
    res = CliRunner().invoke(cli, ["check", *args, "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output


def test_report_of_a_jzd_parcel(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1704153600")  # 2024-01-02
    p = tmp_path / "parcels.txt"
    p.write_bytes(JZD_TWO_PARCELS.encode("gbk"))
    _check(tmp_path, "--project", str(p), "--industry", "pv")
    html = (tmp_path / "out" / "report-P-001.html").read_text(encoding="utf-8")
    assert "Site check: 甲地块</h1>" in html and "项目编号 ID: P-001" in html
    assert "报告日期 Date: 2024-01-02" in html
    assert "(晋环发〔2023〕1号 2023-01-10)" in html  # the rules' document and date
    assert "<td>admin</td><td>admin</td><td>public</td>" in html  # sources with versions
    assert "1.1.2" in html
    # declared (界址点 header: 0.96 ha) beside computed (ellipsoidal) area
    assert "9,600.00 m² (0.96 公顷 ha)" in html
    computed = re.search(r"Computed \(ellipsoidal\)</th><td>([\d,.]+) m²", html)
    assert computed and 9590 < float(computed.group(1).replace(",", "")) < 9610
    # the coordinates as given (zone 38, easting with the zone prefix) and in CGCS2000
    assert "EPSG:4526 东 E (m)" in html
    j1 = _cells(html, "J1")
    assert j1[:3] == ["1-外1", "38512000.000", "4192000.000"]
    lon, lat = Transformer.from_crs(4526, 4490, always_xy=True).transform(38512000.0, 4192000.0)
    assert np.isclose(float(j1[3]), lon, atol=2e-7) and np.isclose(float(j1[4]), lat, atol=2e-7)
    assert _cells(html, "J5")[0] == "1-内2"  # the hole's first vertex
    assert "J9" not in html  # 4 + 4 vertices, closing ones left out


def test_report_coordinates_in_gcj02_and_no_declared_area(tmp_path):
    _check(tmp_path, "--project", "112.30,37.56", "--crs", "gcj02", "--industry", "coking")
    html = (tmp_path / "out" / "report-P1.html").read_text(encoding="utf-8")
    j1 = _cells(html, "J1")
    assert j1[1:3] == ["112.3000000", "37.5600000"]  # back to the GCJ-02 as given
    assert 112.29 < float(j1[3]) < 112.30  # WGS84/CGCS2000 lies west of GCJ-02 here
    assert "申报面积" not in html  # nothing declared: no declared row
    # A4 portrait: the page is set for it and the rules table is full width
    assert "size: A4 portrait" in html
    assert '<h2>触发规则 Rules that fired</h2><table class="rules">' in html
