"""Sources on maps, figures and reports come from the layers a run used; reports are rendered
from templates with autoescape."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from sxzones.cli import cli
from sxzones.layers import LayerReport, Provenance
from sxzones.maps.sources import report_sources, sources_line

from .conftest import CATALOG


def _cli(*args: str):
    return CliRunner().invoke(cli, [*args, "--catalog", str(CATALOG)], catch_exceptions=False)


def test_sources_line_from_reports():
    gem = Provenance("Global Energy Monitor: GIST", "CC BY 4.0", "2025-03", "public")
    demo = Provenance("derived by build.py", "CC BY 4.0", "0.1.0", "demonstration")
    reports = [
        LayerReport("permits.xlsx", Path("/data/permits.xlsx"), "firms", 3),
        LayerReport("builtup_demonstration", Path("b.gpkg"), "builtup", 3, provenance=demo),
        LayerReport("firms", Path("f.gpkg"), "firms", 3, provenance=gem),
        LayerReport("firms", Path("f.gpkg"), "firms", 3, provenance=gem),
    ]
    assert sources_line(report_sources(reports)) == (
        "Sources 数据来源: Global Energy Monitor: GIST (CC BY 4.0); 示范图层 demonstration "
        "layers (derived by rule, not official): builtup_demonstration; 用户自有数据 user's "
        "own files: permits.xlsx"
    )


def test_firm_map_from_a_users_permits_file_names_that_file_not_gem(tmp_path):
    permits = tmp_path / "permits.csv"
    pd.DataFrame(
        {"firm_id": ["A1", "A2"], "name": ["甲", "乙"], "industry": "steel",
         "lon": [112.55, 112.9], "lat": [37.87, 37.5]}
    ).to_csv(permits, index=False)  # fmt: skip
    mp = tmp_path / "m.html"
    res = _cli(
        "firms", "--firms", str(permits), "--crs", "wgs84", "--builtup",
        "builtup_demonstration", "--out", str(tmp_path / "o"), "--map", str(mp),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    text = mp.read_text(encoding="utf-8")
    assert "用户自有数据 user&#x27;s own files: permits.csv" in text
    assert "demonstration layers (derived by rule, not official): builtup_demonstration" in text
    assert "GEM" not in text and "Global Energy Monitor" not in text


def test_report_shows_html_in_names_as_text(tmp_path):
    projects = tmp_path / "p.csv"
    evil = '<script>alert("x")</script>'
    projects.write_text(
        f'project_id,industry,lon,lat\n"{evil.replace(chr(34), chr(34) * 2)}",pv,112.55,37.87\n',
        encoding="utf-8",
    )
    out = tmp_path / "o"
    res = _cli("check", "--projects", str(projects), "--crs", "wgs84", "--out", str(out))
    assert res.exit_code == 0, res.output
    (report,) = out.glob("report-*.html")
    text = report.read_text(encoding="utf-8")
    assert "<script>" not in text
    assert "Site check: &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</h1>" in text
    digest = hashlib.sha256(evil.encode("utf-8")).hexdigest()[:8]
    assert report.name == f"report-_script_alert__x____script_-{digest}.html"
