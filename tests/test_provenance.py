"""The firm screen's and the equipment screen's tables say where their layers came from: a
sources sheet in the workbook, a warning atop the summary when a layer is a demonstration
layer (derived by a script, not official data), the same in the GeoPackage layer's metadata,
and in the printed summary; the CSV keeps its columns (its inputs are in the manifest).

Known answers: the catalogue's provenance of each layer, the SHA-256 of each input file
computed here with hashlib, the rules file's plan and date of issue."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

from sxzones.cli import cli
from sxzones.layers import load_catalog
from sxzones.outputs import Publication
from sxzones.rules import load_rules
from sxzones.runs.firms import write_firm_outputs
from sxzones.runs.provenance import SOURCE_COLUMNS, sources_table

from .conftest import CATALOG, ROOT

DERIVED = ROOT / "layers" / "shanxi" / "derived"
RULES = ROOT / "analyses" / "rules" / "shanxi-2023.toml"
WARN_EN = (
    "Demonstration layer, not official data: builtup_demonstration (builtup). Derived by a "
    "script; see the sources sheet."
)
WARN_ZH = "示范图层，非官方数据：builtup_demonstration（建成区）。由脚本推导，详见“数据来源”表。"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _firms(out: Path, *extra: str, catalog: Path = CATALOG, builtup: str = "builtup_demonstration"):
    res = CliRunner().invoke(
        cli,
        [
            *("firms", "--firms", "firms", "--builtup", builtup, "--catalog", str(catalog)),
            *("--out", str(out), *extra),
        ],
    )
    assert res.exit_code == 0, res.output
    return res


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The firm screen against the demonstration built-up areas (English tables)."""
    out = tmp_path_factory.mktemp("prov") / "en"
    return _firms(out), out


def test_workbook_has_a_sources_sheet_with_each_layer_and_the_rules(demo_run):
    _, out = demo_run
    sheets = pd.read_excel(out / "firm_zones.xlsx", sheet_name=None, dtype=str)
    assert list(sheets) == ["summary", "inside", "within_20km", "beyond", "sources"]
    src = sheets["sources"].fillna("")
    assert list(src.columns) == SOURCE_COLUMNS
    assert src["role"].tolist() == ["firms", "builtup", "admin", "rules"]
    assert src["layer"].tolist() == ["firms", "builtup_demonstration", "admin", "shanxi-2023.toml"]
    assert src["status"].tolist() == ["public", "demonstration", "public", ""]
    cat = load_catalog(CATALOG)
    for _, row in src.iloc[:3].iterrows():  # the catalogue's provenance, word for word
        p = cat.entry(row["layer"]).provenance
        assert (row["source"], row["version"], row["date"], row["licence"], row["notes"]) == (
            p.source, p.version, p.date, p.licence, p.notes,
        )  # fmt: skip
        assert row["sha256"] == _sha(cat.entry(row["layer"]).path)
    demo = src.iloc[1]
    assert demo["notes"] == "demonstration: centres real, shapes invented by rule"
    assert demo["features"] == "161" and src.iloc[0]["features"] == "208"
    rules = src.iloc[3]
    assert rules["source"] == "晋环发〔2023〕1号 山西省减污降碳协同增效实施方案"
    assert rules["version"] == "2023-01-10" and rules["sha256"] == _sha(RULES)
    # the manifest records the same digests: one set of facts
    doc = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert [e["sha256"] for e in doc["inputs"]] == src["sha256"].tolist()


def test_summary_sheet_says_first_that_the_builtup_layer_is_a_demonstration(demo_run):
    _, out = demo_run
    ws = openpyxl.load_workbook(out / "firm_zones.xlsx")["summary"]
    assert ws["A1"].value == WARN_EN and ws["A1"].font.b and ws["B1"].value is None
    # the province first: firms outside Shanxi apart (audit 11 E5)
    assert [c.value for c in ws[2]][:4] == ["province", "city", "industry_id", "industry_status"]
    assert ws.freeze_panes == "A3"  # the warning and the header stay in view
    summary = pd.read_excel(out / "firm_zones.xlsx", sheet_name="summary", header=1)
    assert int(summary[["inside", "within_20km", "beyond"]].to_numpy().sum()) == 208
    for name in ("inside", "within_20km", "beyond", "sources"):  # other sheets: header first
        assert openpyxl.load_workbook(out / "firm_zones.xlsx")[name].freeze_panes == "A2"


def test_geopackage_layer_metadata_carries_the_same_sources(demo_run):
    _, out = demo_run
    meta = pyogrio.read_info(out / "firm_zones.gpkg", layer="firm_zones")["layer_metadata"]
    assert meta["DESCRIPTION"] == WARN_EN
    assert meta["sxzones_demonstration"] == "builtup_demonstration"
    sheet = pd.read_excel(out / "firm_zones.xlsx", sheet_name="sources", dtype=str).fillna("")
    rows = json.loads(meta["sxzones_sources"])
    assert [r["layer"] for r in rows] == sheet["layer"].tolist()
    assert [r["status"] for r in rows] == sheet["status"].tolist()
    assert [r["sha256"] for r in rows] == sheet["sha256"].tolist()
    assert [r["features"] for r in rows] == [208, 161, 208, None]
    with sqlite3.connect(out / "firm_zones.gpkg") as db:  # what QGIS shows as the abstract
        (desc,) = db.execute("SELECT description FROM gpkg_contents").fetchone()
    assert desc == WARN_EN
    assert len(gpd.read_file(out / "firm_zones.gpkg")) == 208  # the features as before


def test_csv_keeps_its_columns_and_the_manifest_and_summary_name_the_demonstration(demo_run):
    res, out = demo_run
    text = (out / "firm_zones.csv").read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("firm_id,name,industry,industry_id,")
    assert "demonstration" not in text and len(text.splitlines()) == 209
    doc = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    builtup = next(e for e in doc["inputs"] if e["role"] == "builtup")
    assert (builtup["name"], builtup["status"]) == ("builtup_demonstration", "demonstration")
    assert "firm_zones.csv" in [f["name"] for f in doc["files"]]
    assert (
        "warning: demonstration layer, not official data (derived by a script): "
        "builtup_demonstration (builtup)" in res.output
    )


def test_same_inputs_same_workbook_and_geopackage_bytes(demo_run, tmp_path):
    _, out = demo_run
    _firms(tmp_path / "again")
    for name in ("firm_zones.xlsx", "firm_zones.gpkg", "firm_zones.csv"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name


def test_chinese_and_bilingual_workbooks(tmp_path):
    _firms(tmp_path / "zh", "--lang", "zh", "--format", "xlsx")
    book = pd.read_excel(tmp_path / "zh" / "firm_zones.xlsx", sheet_name=None, header=None)
    assert list(book)[-1] == "数据来源" and book["汇总"].iloc[0, 0] == WARN_ZH
    src = pd.read_excel(tmp_path / "zh" / "firm_zones.xlsx", sheet_name="数据来源")
    assert list(src.columns[:5]) == ["图层角色", "图层", "状态", "来源", "版本"]
    assert src["状态"].tolist()[:3] == ["公开数据", "示范数据", "公开数据"]
    assert src["图层角色"].tolist() == ["企业", "建成区", "行政区划", "规则文件"]
    _firms(tmp_path / "both", "--lang", "both", "--format", "xlsx")
    book = pd.read_excel(tmp_path / "both" / "firm_zones.xlsx", sheet_name=None, header=None)
    assert list(book)[-1] == "数据来源 (sources)"
    assert book["汇总 (summary)"].iloc[:2, 0].tolist() == [WARN_ZH, WARN_EN]


def _official_catalog(tmp_path: Path) -> Path:
    """The bundled built-up areas as an agency's own official layer, beside the bundled
    firms and admin layers."""
    path = tmp_path / "builtup_2024.gpkg"
    path.write_bytes((DERIVED / "builtup_demonstration.gpkg").read_bytes())
    cat = tmp_path / "catalog.toml"
    cat.write_text(
        '[catalog]\nworking_crs = "cm111"\nstudy_area = [109.90, 34.32, 114.92, 41.01]\n'
        f'[layers.firms]\npath = "{(DERIVED / "firms.gpkg").as_posix()}"\nrole = "firms"\n'
        'provenance = { source = "GEM", licence = "CC BY 4.0", version = "1", status = "public" }\n'
        f'[layers.admin]\npath = "{(DERIVED / "admin.gpkg").as_posix()}"\nrole = "admin"\n'
        'provenance = { source = "cnmaps", licence = "MIT", version = "1.1.2", status = "public" }\n'
        f'[layers.builtup_official]\npath = "{path.as_posix()}"\nrole = "builtup"\n'
        'provenance = { source = "山西省自然资源厅", licence = "restricted", version = "2024", '
        'status = "official", date = "2024-06-30" }\n',
        encoding="utf-8",
    )
    return cat


def test_official_layers_get_no_warning_and_their_source(tmp_path):
    cat = _official_catalog(tmp_path)
    res = _firms(tmp_path / "o", catalog=cat, builtup="builtup_official")
    assert "demonstration" not in res.output
    ws = openpyxl.load_workbook(tmp_path / "o" / "firm_zones.xlsx")["summary"]
    assert ws["A1"].value == "province" and ws.freeze_panes == "A2"  # the header first
    src = pd.read_excel(tmp_path / "o" / "firm_zones.xlsx", sheet_name="sources", dtype=str)
    row = src[src["role"] == "builtup"].iloc[0]
    assert (row["layer"], row["status"], row["source"], row["version"], row["date"]) == (
        "builtup_official", "official", "山西省自然资源厅", "2024", "2024-06-30",
    )  # fmt: skip
    assert row["sha256"] == _sha(tmp_path / "builtup_2024.gpkg")
    meta = pyogrio.read_info(tmp_path / "o" / "firm_zones.gpkg", layer="firm_zones")
    assert "sxzones_demonstration" not in meta["layer_metadata"]
    assert meta["layer_metadata"]["DESCRIPTION"] == (
        "Sources: firms (firms, public); builtup_official (builtup, official); "
        "admin (admin, public)"
    )


def test_own_firm_file_in_xian80_names_its_file_digest_and_datum_caveat(tmp_path):
    """A user's firm list (status own) in Xi'an 1980 degrees: its row gives the file, its
    digest and the approximate datum shift validation noted."""
    p = tmp_path / "企业.csv"
    pd.DataFrame(
        {"name": ["太原钢铁"], "industry": ["钢铁"], "lon": [112.55], "lat": [37.87]}
    ).to_csv(p, index=False)
    res = CliRunner().invoke(
        cli,
        [
            *("firms", "--firms", str(p), "--crs", "EPSG:4610"),
            *("--builtup", "builtup_demonstration", "--catalog", str(CATALOG)),
            *("--format", "xlsx", "--out", str(tmp_path / "o")),
        ],
    )
    assert res.exit_code == 0, res.output
    src = pd.read_excel(tmp_path / "o" / "firm_zones.xlsx", sheet_name="sources", dtype=str)
    row = src.fillna("").iloc[0]
    assert (row["role"], row["layer"], row["status"], row["source"]) == (
        "firms", "企业.csv", "own", "",
    )  # fmt: skip
    assert row["sha256"] == _sha(p)
    assert "Xian 1980 to CGCS2000 has no published parameters" in row["caveats"]
    assert src.fillna("").iloc[1]["caveats"] == ""  # the built-up layer: none


def test_forked_geopackage_writer_writes_the_same_metadata(tmp_path):
    """The GeoPackage of a large screen is written in a forked process: the same bytes, the
    same metadata, as on a thread."""
    cat = load_catalog(CATALOG)
    firms, frep = cat.load("firms")
    _, brep = cat.load_whole("builtup_demonstration")
    rules = load_rules()
    table = sources_table([frep, brep], rules, [])
    result = gpd.GeoDataFrame(
        {"firm_id": firms["firm_id"], "zone": "beyond"}, geometry=firms.geometry, crs=firms.crs
    )
    for name, fork_at in (("thread", 10**9), ("fork", 1)):
        with Publication(tmp_path / name, "firms", ["firm_zones.gpkg", "rejects.csv"]) as pub:
            write_firm_outputs(
                result, frep.rejects, pub, ["gpkg"], fork_min_rows=fork_at, sources=table
            )
            pub.publish()
    a, b = (tmp_path / n / "firm_zones.gpkg" for n in ("thread", "fork"))
    assert a.read_bytes() == b.read_bytes()
    meta = pyogrio.read_info(b, layer="firm_zones")["layer_metadata"]
    assert meta["sxzones_demonstration"] == "builtup_demonstration"
    assert [r["sha256"] for r in json.loads(meta["sxzones_sources"])] == ["", "", ""]  # none given


def test_phaseout_workbook_and_geopackage_name_the_demonstration_layers(tmp_path):
    equipment = DERIVED / "equipment_demonstration.csv"
    out = tmp_path / "po"
    res = CliRunner().invoke(
        cli,
        [
            *("phaseout", "--equipment", str(equipment), "--firms", "firms"),
            *("--builtup", "builtup_demonstration", "--catalog", str(CATALOG), "--out", str(out)),
        ],
    )
    assert res.exit_code == 0, res.output
    named = "equipment_demonstration.csv (equipment), builtup_demonstration (builtup)"
    assert f"warning: demonstration layers, not official data (derived by a script): {named}" in (
        res.output
    )
    book = pd.read_excel(out / "phaseout.xlsx", sheet_name=None, header=None, dtype=str)
    assert list(book) == ["summary", "units", "coking_capacity", "new_capacity", "firms", "sources"]
    warn = (
        f"Demonstration layers, not official data: {named}. Derived by scripts; see the "
        "sources sheet."
    )
    assert book["summary"].iloc[0, 0] == warn and book["summary"].iloc[1, 0] == "city"
    src = pd.read_excel(out / "phaseout.xlsx", sheet_name="sources", dtype=str).fillna("")
    assert src["role"].tolist() == ["equipment", "firms", "admin", "builtup", "rules"]
    assert src["status"].tolist() == ["demonstration", "public", "public", "demonstration", ""]
    assert src.loc[0, "sha256"] == _sha(equipment) and src.loc[4, "sha256"] == _sha(RULES)
    meta = pyogrio.read_info(out / "phaseout.gpkg", layer="phaseout")["layer_metadata"]
    assert meta["DESCRIPTION"] == warn
    assert meta["sxzones_demonstration"] == "equipment_demonstration.csv;builtup_demonstration"


def test_dask_engine_writes_the_sources_sheet_too(tmp_path):
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("dask_geopandas")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        _firms(tmp_path / "d", "--engine", "dask", "--scheduler", cluster.scheduler_address)
    ws = openpyxl.load_workbook(tmp_path / "d" / "firm_zones.xlsx")
    assert ws.sheetnames[-1] == "sources" and ws["summary"]["A1"].value == WARN_EN
    meta = pyogrio.read_info(tmp_path / "d" / "firm_zones.gpkg", layer="firm_zones")
    assert meta["layer_metadata"]["DESCRIPTION"] == WARN_EN


def test_xlsx_lead_lines_sit_above_the_header_and_unknown_sheets_are_refused(tmp_path):
    from sxzones.xlsx import write_xlsx_file

    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    write_xlsx_file({"s": frame, "t": frame}, tmp_path / "l.xlsx", {"s": ["one", "=two"]})
    wb = openpyxl.load_workbook(tmp_path / "l.xlsx")
    assert [[c.value for c in r] for r in wb["s"].iter_rows()] == [
        ["one", None], ["=two", None], ["a", "b"], [1, "x"], [2, "y"],
    ]  # fmt: skip
    assert wb["s"]["A2"].quotePrefix and wb["s"].freeze_panes == "A4"
    assert [c.value for c in wb["t"][1]] == ["a", "b"]
    with pytest.raises(ValueError, match=r"lead lines for sheets \['u'\]"):
        write_xlsx_file({"s": frame}, tmp_path / "m.xlsx", {"u": ["x"]})


def test_a_report_workbook_keeps_the_warning_on_its_summary(tmp_path):
    """Past the full-list limit the workbook is a report (note, summary, flagged firms): the
    summary still says first that the built-up layer is a demonstration, the sources last."""
    cat = load_catalog(CATALOG)
    firms, frep = cat.load("firms")
    _, brep = cat.load_whole("builtup_demonstration")
    table = sources_table([frep, brep], load_rules(), [])
    zones = ["inside" if k % 4 == 0 else "beyond" for k in range(len(firms))]
    result = gpd.GeoDataFrame(
        {"firm_id": firms["firm_id"], "zone": zones, "city": "太原市", "industry_id": "steel"},
        geometry=firms.geometry,
        crs=firms.crs,
    )
    names = ["firm_zones.csv", "firm_zones.xlsx", "rejects.csv"]
    with Publication(tmp_path / "r", "firms", names) as pub:
        write_firm_outputs(
            result, frep.rejects, pub, ["csv", "xlsx"], xlsx_full_max=10, sources=table
        )
        pub.publish()
    wb = openpyxl.load_workbook(tmp_path / "r" / "firm_zones.xlsx")
    assert wb.sheetnames == ["note", "summary", "inside", "sources"]
    assert wb["summary"]["A1"].value == WARN_EN and wb["summary"]["A2"].value == "city"
    assert wb["inside"].max_row == 1 + len(firms[::4])  # header and the flagged firms
