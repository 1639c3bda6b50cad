"""The equipment screen (晋环发〔2023〕1号 (四), (五), 附表 1) with known answers.

Every table is written by the test (CSV with Chinese headers, GBK CSV, XLSX) and goes
through the real ``sxzones phaseout`` command; the firm screen is joined on files the test
writes too, with distances checked against pyproj.Geod.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from pyproj import Geod

from sxzones.analyses.phaseout import equipment_rules
from sxzones.cli import cli
from sxzones.errors import RulesError
from sxzones.rules import DEFAULT_RULES, load_rules

from .conftest import ROOT
from .test_maps_browser import browser  # noqa: F401 (the fixture)

HEAD = [
    "设备编号",
    "企业代码",
    "设备类型",
    "炭化室高度",
    "有效容积",
    "公称容量",
    "产品",
    "炉型",
    "烧结机型式",
    "超低排放",
    "状态",
    "产能（万吨/年）",
    "投产时间",
    "地市",
]


def _rows(*rows: dict[str, object]) -> pd.DataFrame:
    """Rows keyed by Chinese header (missing keys blank)."""
    return pd.DataFrame([{h: r.get(h, "") for h in HEAD} for r in rows], columns=HEAD)


def _unit(uid: str, kind: str, **kw: object) -> dict[str, object]:
    names = {
        "height": "炭化室高度",
        "volume": "有效容积",
        "t": "公称容量",
        "product": "产品",
        "form": "炉型",
        "sinter": "烧结机型式",
        "ule": "超低排放",
        "status": "状态",
        "cap": "产能（万吨/年）",
        "since": "投产时间",
        "city": "地市",
        "firm": "企业代码",
    }
    row: dict[str, object] = {"设备编号": uid, "企业代码": "F1", "设备类型": kind, "状态": "在产"}
    row.update({names[k]: v for k, v in kw.items()})
    return row


def _run(
    tmp_path: Path,
    table: pd.DataFrame,
    *args: str,
    name: str = "eq.csv",
    encoding: str = "utf-8-sig",
) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    src = tmp_path / name
    if name.endswith(".xlsx"):
        table.to_excel(src, index=False)
    else:
        src.write_bytes(table.to_csv(index=False).encode(encoding))
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli, ["phaseout", "--equipment", str(src), "--out", str(out), "--overwrite", *args]
    )
    assert res.exit_code == 0, res.output
    units = pd.read_csv(out / "phaseout.csv", dtype=str, keep_default_na=False)
    rejects = pd.read_csv(out / "rejects.csv", dtype=str, keep_default_na=False)
    return units.set_index("unit_id"), rejects, out


THRESHOLDS = [
    # (type, size field, value, expected); coke ovens meet ultra-low emission so that only the
    # chamber height decides
    ("焦炉", "height", "4.29", "phase_out"),
    ("焦炉", "height", "4.3", "phase_out"),  # 4.3 m ovens themselves close (附表 1)
    ("焦炉", "height", "4.31", "keep"),
    ("高炉", "volume", "1199", "phase_out"),
    ("高炉", "volume", "1200", "phase_out"),  # 以下 includes the number
    ("高炉", "volume", "1200.5", "keep"),
    ("转炉", "t", "99.9", "phase_out"),
    ("转炉", "t", "100", "phase_out"),
    ("转炉", "t", "101", "keep"),
]


def test_thresholds_both_sides_and_exact_value(tmp_path):
    rows = [_unit(f"U{i}", k, **{f: v}, ule="是") for i, (k, f, v, _) in enumerate(THRESHOLDS)]
    units, rejects, _ = _run(tmp_path, _rows(*rows))
    assert rejects.empty
    got = [units.loc[f"U{i}", "finding"] for i in range(len(THRESHOLDS))]
    assert got == [e for *_, e in THRESHOLDS]
    assert units.loc["U1", "rule_ids"] == "coke_oven_4_3m"
    assert units.loc["U1", "deadline"] == "2023-12-31"  # 附表 1: 2023 年底
    assert "附表 1" in units.loc["U1", "clauses"] and "(四)" in units.loc["U1", "clauses"]
    assert units.loc["U4", "rule_ids"] == "blast_furnace_below_1200m3"
    assert units.loc["U4", "deadline"] == ""  # 逐步淘汰: no date set
    assert units.loc["U7", "rule_ids"] == "converter_below_100t"


def test_inclusive_is_data_in_the_rules_file(tmp_path):
    """inclusive = false (the catalogue reading of 以下) leaves a 1200 m³ furnace in place."""
    text = DEFAULT_RULES.read_text(encoding="utf-8").replace(
        '{ field = "volume_m3", at_most = 1200, unit = "m³", inclusive = true }',
        '{ field = "volume_m3", at_most = 1200, unit = "m³", inclusive = false }',
    )
    rules = tmp_path / "rules.toml"
    rules.write_text(text, encoding="utf-8")
    table = _rows(_unit("A", "高炉", volume=1200), _unit("B", "高炉", volume=1199.99))
    units, _, _ = _run(tmp_path, table, "--rules", str(rules))
    assert units["finding"].to_dict() == {"A": "keep", "B": "phase_out"}


def test_rules_file_states_reading_and_refuses_a_limit_without_unit(tmp_path):
    er = equipment_rules(load_rules())
    conds = {r.id: (r, c) for r, c in er.phaseout}
    rule, (cond,) = conds["coke_oven_4_3m"]
    assert (cond.limit, cond.unit, cond.inclusive) == (4.3, "m", True)
    assert "4.3 m itself included" in rule.params["basis"]
    assert "民法典" in conds["blast_furnace_below_1200m3"][0].params["basis"]
    assert er.cap is not None and er.cap.params["cap"] == 14372.4
    bad = tmp_path / "bad.toml"
    bad.write_text(
        DEFAULT_RULES.read_text(encoding="utf-8").replace(
            'at_most = 100, unit = "t", inclusive = true', "at_most = 100"
        ),
        encoding="utf-8",
    )
    with pytest.raises(RulesError, match="unit and inclusive"):
        equipment_rules(load_rules(bad))


ALL_KINDS = [
    _unit("SM1", "烧结机", sinter="步进式"),
    _unit("SM2", "烧结机", sinter="带式"),
    _unit("SM3", "烧结机"),
    _unit("PS1", "球团竖炉"),
    _unit("FA1", "矿热炉", product="高碳铬铁", form="半封闭"),
    _unit("FA2", "矿热炉", product="硅锰合金", form="全封闭"),
    _unit("FA3", "电炉", product="硅锰"),  # form unknown: unassessed
    _unit("FA4", "矿热炉", product="硅铁"),  # not a listed product: keep, whatever the form
    _unit("FA5", "矿热炉", product="ＮｉＦｅ", form="半封闭式"),  # full-width: NFKC
    _unit("CO1", "焦炉", height=6.0, ule="否"),  # short of ultra-low emission
    _unit("CO2", "焦炉", height=6.0),  # ultra-low emission not given
    _unit("CO3", "焦炉", ule="是"),  # no chamber height
    _unit("CO4", "捣固焦炉", ule="否"),  # no height, but short of ultra-low emission
    _unit("BF1", "高炉"),  # no volume
    _unit("EAF", "电弧炉"),  # a type no rule names
]
EXPECTED = {
    "SM1": "phase_out",
    "SM2": "keep",
    "SM3": "unassessed",
    "PS1": "phase_out",
    "FA1": "phase_out",
    "FA2": "keep",
    "FA3": "unassessed",
    "FA4": "keep",
    "FA5": "phase_out",
    "CO1": "phase_out",
    "CO2": "unassessed",
    "CO3": "unassessed",
    "CO4": "phase_out",
    "BF1": "unassessed",
    "EAF": "keep",
}


@pytest.mark.parametrize(
    ("name", "encoding"), [("eq.csv", "utf-8-sig"), ("eq.csv", "gbk"), ("eq.xlsx", "")]
)
def test_every_listed_kind_chinese_headers_csv_gbk_xlsx(tmp_path, name, encoding):
    units, rejects, _ = _run(tmp_path, _rows(*ALL_KINDS), name=name, encoding=encoding or "utf-8")
    assert rejects.empty
    assert units["finding"].to_dict() == EXPECTED
    assert units.loc["SM3", "missing_fields"] == "sinter_type"
    assert units.loc["FA3", "missing_fields"] == "furnace_form"
    assert units.loc["CO2", "missing_fields"] == "ultra_low_emission"
    assert units.loc["CO3", "missing_fields"] == "chamber_height_m"
    assert units.loc["BF1", "missing_fields"] == "volume_m3"
    assert units.loc["CO4", "rule_ids"] == "coke_oven_not_ultra_low"
    assert units.loc["FA5", "product"] == "nickel_iron"
    assert units.loc["SM1", "rule_ids"] == "sinter_step_type"


def test_unknown_values_rejected_with_reason_and_every_row_accounted(tmp_path):
    table = _rows(
        _unit("OK", "焦炉", height=4.3),
        _unit("T1", "炼丹炉"),  # unknown equipment type: never silently kept
        _unit("H1", "焦炉", height="4.3尺"),  # a number with a unit that does not convert to m
        _unit("S1", "高炉", volume=1000, status="半停"),  # unknown status
        _unit("Y1", "焦炉", height=6, ule="差不多"),  # unknown yes/no
        _unit("D1", "高炉", volume=1000, since="去年"),  # unreadable date
        _unit("OK", "高炉", volume=1000),  # duplicate unit id
        {"设备编号": "", "企业代码": "F1", "设备类型": "高炉"},  # no unit id
    )
    units, rejects, out = _run(tmp_path, table)
    assert list(units.index) == ["OK"]
    assert len(units) + len(rejects) == len(table)
    by_row = rejects.set_index("source_row")  # spreadsheet rows: the header is row 1
    assert by_row.loc["3", "code"] == "unknown_value" and "炼丹炉" in by_row.loc["3", "reason"]
    assert by_row.loc["4", "code"] == "bad_number" and by_row.loc["4", "field"] == "炭化室高度"
    assert by_row.loc["5", "field"] == "状态"
    assert by_row.loc["6", "field"] == "超低排放"
    assert by_row.loc["7", "code"] == "bad_date"
    assert by_row.loc["8", "code"] == "duplicate_id"
    assert by_row.loc["9", "code"] == "missing_value"
    summary = json.loads((out / "phaseout.json").read_text(encoding="utf-8"))
    assert summary["findings"] == {"phase_out": 1, "unassessed": 0, "keep": 0}


def test_missing_required_column_exits_2_with_the_fix(tmp_path):
    src = tmp_path / "eq.csv"
    src.write_text("设备编号,设备类型\nA,焦炉\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["phaseout", "--equipment", str(src), "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "firm_id" in res.output and "--field firm_id=" in res.output
    assert "Traceback" not in res.output
    # --firm-field names the column
    src.write_text("设备编号,厂号,设备类型\nA,F9,焦炉\n", encoding="utf-8")
    res = CliRunner().invoke(
        cli,
        ["phaseout", "--equipment", str(src), "--firm-field", "厂号", "--out", str(tmp_path / "o")],
    )
    assert res.exit_code == 0, res.output
    units = pd.read_csv(tmp_path / "o" / "phaseout.csv", dtype=str)
    assert units.loc[0, "firm_id"] == "F9" and units.loc[0, "finding"] == "unassessed"


def test_coking_capacity_by_city_against_the_cap(tmp_path):
    table = _rows(
        _unit("A", "焦炉", height=6, ule="是", cap=100, city="太原市"),
        _unit("B", "焦炉", height=6, ule="是", cap=50, status="停产", city="太原市"),
        _unit("C", "焦炉", height=6, ule="是", cap=272.4, city="临汾市"),
        *[_unit(f"C{i}", "焦炉", height=6, ule="是", cap=2000, city="临汾市") for i in range(7)],
        _unit("D", "焦炉", height=6, ule="是", cap=999, status="已关停", city="临汾市"),
        _unit("E", "焦炉", height=6, ule="是", city="临汾市"),  # capacity not given
        _unit("F", "高炉", volume=2000, city="太原市"),  # not coking
    )
    _, _, out = _run(tmp_path, table)
    cap = pd.read_csv(out / "coking_capacity.csv").set_index("city")
    assert cap.loc["太原市", "operating"] == 100 and cap.loc["太原市", "idle"] == 50
    assert cap.loc["临汾市", "operating"] == pytest.approx(14272.4)
    assert cap.loc["临汾市", "closed"] == 999 and cap.loc["临汾市", "units_without_capacity"] == 1
    totals = json.loads((out / "phaseout.json").read_text(encoding="utf-8"))["coking_capacity"]
    assert totals["operating_10kt"] == pytest.approx(14372.4)
    assert totals["operating_within_cap"] is True  # exactly the cap: 以内
    assert totals["operating_and_idle_within_cap"] is False
    assert totals["idle_10kt"] == 50 and totals["clause"] == "晋环发〔2023〕1号 (五)"


def test_new_capacity_after_the_rules_date(tmp_path):
    table = _rows(
        _unit("A", "高炉", volume=2000, since="2023-01-11"),
        _unit("B", "高炉", volume=2000, since="2023-01-10"),  # the date itself: not after
        _unit("C", "转炉", t=120, since="2023"),  # a year alone cannot be placed
        _unit("D", "水泥窑", since="2024年3月"),
        _unit("E", "平板玻璃熔窑", product="光伏玻璃", since="2024"),  # PV glass excepted
        _unit("F", "焦炉", height=6, ule="是", since="2024"),  # coking: capped, not banned
        _unit("G", "电弧炉", since="2022-12-31"),
        _unit("H", "电解槽"),  # no date
        _unit("I", "常减压装置", since="2025"),  # a year alone, beside blank dates: still a year
    )
    units, _, _ = _run(tmp_path, table)
    assert units["new_capacity"].to_dict() == {
        "A": "yes",
        "B": "no",
        "C": "unknown",
        "D": "yes",
        "E": "",
        "F": "",
        "G": "no",
        "H": "unknown",
        "I": "yes",
    }
    assert units.loc["A", "new_capacity_rule"] == "no_new_capacity (晋环发〔2023〕1号 (五))"
    assert (
        units.loc["A", "commissioned"] == "2023-01-11"
        and units.loc["D", "commissioned"] == "2024-03"
    )


def _firm_files(tmp_path: Path) -> tuple[Path, Path, float]:
    """A built-up square around (112.50, 37.80) and two coking firms: N1 about 10 km east of
    its edge, N2 about 30 km east. Returns the files and N1's distance on the ellipsoid."""
    lon0, lat0, half = 112.50, 37.80, 0.02
    square = [
        (lon0 - half, lat0 - half),
        (lon0 + half, lat0 - half),
        (lon0 + half, lat0 + half),
        (lon0 - half, lat0 + half),
        (lon0 - half, lat0 - half),
    ]
    builtup = tmp_path / "builtup.geojson"
    builtup.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {
                            "area_id": "B1",
                            "name": "示例城区",
                            "kind": "city",
                            "adcode": "140100",
                        },
                        "geometry": {"type": "Polygon", "coordinates": [square]},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    g = Geod(ellps="GRS80")
    e1, _, _ = g.fwd(lon0 + half, lat0, 90, 10_000)
    e2, _, _ = g.fwd(lon0 + half, lat0, 90, 30_000)
    firms = tmp_path / "firms.csv"
    firms.write_text(
        f"firm_id,name,industry,lon,lat\nN1,近焦化厂,焦化,{e1:.7f},{lat0}\nN2,远焦化厂,焦化,{e2:.7f},{lat0}\n",
        encoding="utf-8",
    )
    return firms, builtup, g.inv(lon0 + half, lat0, e1, lat0)[2]


def test_join_with_the_firm_screen_both_findings(tmp_path):
    firms, builtup, d1 = _firm_files(tmp_path)
    table = _rows(
        _unit("K1", "焦炉", height=4.3, ule="是", firm="N1"),
        _unit("K2", "焦炉", height=6, ule="是", firm="N1"),
        _unit("K3", "焦炉", height=4.3, ule="是", firm="N2"),
        _unit("K4", "焦炉", height=6, ule="是", firm="N9"),  # firm not in the layer
    )
    units, _, out = _run(
        tmp_path,
        table,
        "--firms",
        str(firms),
        "--crs",
        "wgs84",
        "--builtup",
        str(builtup),
        "--map",
        str(tmp_path / "po.html"),
        "--figure",
        str(tmp_path / "po.png"),
    )
    k1 = units.loc["K1"]
    assert (k1["finding"], k1["rule_ids"]) == ("phase_out", "coke_oven_4_3m")
    assert (k1["firm_zone"], k1["firm_rule_ids"]) == ("within_20km", "deep_treatment_20km")
    assert float(k1["firm_distance_m"]) == pytest.approx(d1, abs=0.05)
    assert k1["firm_name"] == "近焦化厂"
    assert units.loc["K3", "firm_zone"] == "beyond" and units.loc["K3", "firm_rule_ids"] == ""
    assert units.loc["K4", "firm_found"] == "no" and units.loc["K4", "finding"] == "keep"
    firms_sheet = pd.read_excel(out / "phaseout.xlsx", sheet_name="firms").set_index("firm_id")
    assert firms_sheet.loc["N1", "phaseout_findings"] == "K1 coke_oven: coke_oven_4_3m"
    assert firms_sheet.loc["N1", "firm_rule_ids"] == "deep_treatment_20km"
    import pyogrio

    gp = pyogrio.read_dataframe(out / "phaseout.gpkg")
    # every unit; K4's firm has no location: an empty geometry (audit 11 E7), not left out
    assert sorted(gp["unit_id"]) == ["K1", "K2", "K3", "K4"]
    assert gp.set_index("unit_id").geometry.isna().to_dict() == {
        "K1": False, "K2": False, "K3": False, "K4": True
    }  # fmt: skip
    from PIL import Image

    assert len(Image.open(tmp_path / "po.png").convert("RGB").getcolors(1_000_000) or []) > 50
    assert (tmp_path / "po.pdf").stat().st_size > 1000
    html = (tmp_path / "po.html").read_text(encoding="utf-8")
    assert "K1 coke_oven: coke_oven_4_3m" in html and "deep_treatment_20km" in html


def test_outputs_deterministic(tmp_path):
    table = _rows(*ALL_KINDS)
    _, _, out = _run(tmp_path, table)
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    _, _, out2 = _run(tmp_path, table)
    assert {p.name: p.read_bytes() for p in out2.iterdir()} == first


def test_demonstration_table_and_demo_recipe(tmp_path):
    src = ROOT / "layers" / "shanxi" / "derived" / "equipment_demonstration.csv"
    raw = pd.read_csv(src, dtype=str)
    assert raw["数据说明"].str.startswith("demonstration: derived by rule").all()
    recipe = tmp_path / "demo.toml"
    recipe.write_text(
        (ROOT / "analyses" / "demo-06-phaseout.toml")
        .read_text(encoding="utf-8")
        .replace('"../layers/catalog.toml"', f'"{ROOT / "layers" / "catalog.toml"}"')
        .replace('"../layers/shanxi/derived/', f'"{ROOT / "layers" / "shanxi" / "derived"}/')
        .replace('"rules/', f'"{ROOT / "analyses" / "rules"}/')
        .replace('"../out/phaseout"', f'"{tmp_path / "out"}"')
        .replace('"../maps/phaseout.html"', f'"{tmp_path / "phaseout.html"}"')
        .replace('"../maps/phaseout.png"', f'"{tmp_path / "phaseout.png"}"'),
        encoding="utf-8",
    )
    res = CliRunner().invoke(cli, ["run", str(recipe)])
    assert res.exit_code == 0, res.output
    units = pd.read_csv(tmp_path / "out" / "phaseout.csv", dtype=str)
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv", dtype=str)
    assert len(units) + len(rejects[rejects["layer"] == src.name]) == len(raw)
    assert set(units["finding"]) <= {"phase_out", "keep", "unassessed"}
    assert (units["finding"] == "phase_out").sum() > 0
    assert (units["equipment_type"] == "coal_power_unit").sum() > 100
    assert (tmp_path / "phaseout.html").stat().st_size > 10_000
    assert (tmp_path / "phaseout.png").exists() and (tmp_path / "phaseout.pdf").exists()


PROPS_JS = """
const out = [];
for (const k of Object.keys(window)) {
  const v = window[k];
  if (v && v instanceof L.GeoJSON) {
    v.eachLayer(l => out.push(l.feature.properties));
  }
}
return out;
"""


@pytest.mark.browser
@pytest.mark.skipif(
    not (shutil.which("chromium") and shutil.which("chromedriver")),
    reason="needs Debian's chromium and chromium-driver (installed by .ci/run)",
)
def test_map_in_headless_chromium_shows_both_findings(tmp_path, browser):  # noqa: F811
    from .test_maps_browser import _not_blank, _open

    firms, builtup, _ = _firm_files(tmp_path)
    table = _rows(
        _unit("K1", "焦炉", height=4.3, ule="是", firm="N1"),
        _unit("K3", "焦炉", height=6, ule="是", firm="N2"),
    )
    html = tmp_path / "po.html"
    _run(
        tmp_path,
        table,
        "--firms",
        str(firms),
        "--crs",
        "wgs84",
        "--builtup",
        str(builtup),
        "--map",
        str(html),
    )
    state = _open(browser, html)
    assert sorted(state["layers"].values()) == [1, 1, 2]  # built-up, ringed firm, firms
    props = browser.execute_script(PROPS_JS)
    n1 = [p for p in props if p.get("firm_id") == "N1"]
    assert len(n1) == 2  # the firm layer and the ring of firms with units to phase out
    assert all(p["zone"] == "within_20km" and p["finding"] == "phase_out" for p in n1)
    assert all(p["phaseout_findings"] == "K1 coke_oven: coke_oven_4_3m" for p in n1)
    assert all(p["firm_rule_ids"] == "deep_treatment_20km" for p in n1)
    n2 = [p for p in props if p.get("firm_id") == "N2"]
    assert [(p["zone"], p["finding"]) for p in n2] == [("beyond", "keep")]
    _not_blank(browser)


def test_layers_validate_role_equipment(tmp_path):
    src = tmp_path / "eq.csv"
    _rows(_unit("A", "焦炉", height=4.3), _unit("B", "炼丹炉")).to_csv(src, index=False)
    rej = tmp_path / "rejects.csv"
    res = CliRunner().invoke(
        cli, ["layers", "validate", str(src), "--role", "equipment", "--rejects", str(rej)]
    )
    assert res.exit_code == 0, res.output
    assert "2 read, 1 loaded, 1 rejected" in res.output
    assert pd.read_csv(rej)["id"].tolist() == ["B"]


def test_implausible_sizes_rejected_not_kept(tmp_path):
    """430 (centimetres) in the chamber height would pass 4.3 m as `keep`: it is rejected."""
    table = _rows(_unit("CM", "焦炉", height=430, ule="是"), _unit("OK", "焦炉", height=4.3))
    units, rejects, _ = _run(tmp_path, table)
    assert list(units.index) == ["OK"]
    assert rejects.loc[0, "code"] == "implausible_value" and rejects.loc[0, "id"] == "CM"


def test_own_headers_mapped_with_field_and_id(tmp_path):
    """A table with its own column names: --id, --firm-field and --field CANONICAL=SOURCE."""
    src = tmp_path / "own.csv"
    src.write_text("编号,厂,类型,炉容\nA,F1,高炉,1200\nB,F1,高炉,1300\n", encoding="utf-8")
    out = tmp_path / "out"
    args = [
        "phaseout",
        "--equipment",
        str(src),
        "--id",
        "编号",
        "--firm-field",
        "厂",
        "--field",
        "equipment_type=类型",
        "--field",
        "volume_m3=炉容",
        "--out",
        str(out),
    ]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    units = pd.read_csv(out / "phaseout.csv", dtype=str).set_index("unit_id")
    assert units["finding"].to_dict() == {"A": "phase_out", "B": "keep"}
    bad = CliRunner().invoke(cli, [*args[:-2], "--field", "volume=炉容", "--out", str(out)])
    assert bad.exit_code == 2 and "volume_m3" in bad.output  # did you mean ...


def test_firms_without_builtup_give_city_for_capacity(tmp_path):
    """--firms alone: units placed at their firm, city from the admin layer (Taiyuan's
    centre and Datong's), coking capacity by those cities."""
    firms = tmp_path / "firms.csv"
    firms.write_text(
        "firm_id,name,industry,lon,lat\nT,太原焦化,焦化,112.549,37.857\nD,大同焦化,焦化,113.300,40.076\n",
        encoding="utf-8",
    )
    table = _rows(
        _unit("A", "焦炉", height=6, ule="是", cap=100, firm="T"),
        _unit("B", "焦炉", height=6, ule="是", cap=60, firm="D", status="停产"),
    )
    units, _, out = _run(tmp_path, table, "--firms", str(firms), "--crs", "wgs84")
    assert units["city"].to_dict() == {"A": "太原市", "B": "大同市"}
    assert "firm_zone" not in units.columns  # no firm screen without --builtup
    cap = pd.read_csv(out / "coking_capacity.csv").set_index("city")
    assert (cap.loc["太原市", "operating"], cap.loc["大同市", "idle"]) == (100, 60)


def test_lang_zh_tables_in_chinese(tmp_path):
    table = _rows(
        _unit("A", "焦炉", height=4.3, ule="是", cap=100, city="太原市"),
        _unit("B", "高炉", since="2024"),
    )
    src = tmp_path / "eq.csv"
    table.to_csv(src, index=False)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli, ["phaseout", "--equipment", str(src), "--out", str(out), "--lang", "zh"]
    )
    assert res.exit_code == 0, res.output
    units = pd.read_csv(out / "phaseout.csv", dtype=str).set_index("设备编号")
    assert units.loc["A", "判定结果"] == "须淘汰" and units.loc["B", "判定结果"] == "无法评估"
    assert units.loc["A", "设备类型"] == "焦炉" and units.loc["A", "状态"] == "在产"
    assert units.loc["B", "是否新增产能"] == "是" and units.loc["A", "类别"] == "焦化"
    assert units.loc["A", "要求"] == "关停退出，2023-12-31 前"
    sheets = pd.read_excel(out / "phaseout.xlsx", sheet_name=None)
    assert list(sheets) == ["汇总", "设备", "焦化产能", "新增产能", "企业", "数据来源"]
    cap = pd.read_csv(out / "coking_capacity.csv")
    assert cap.loc[0, "在产（万吨/年）"] == 100


def test_coking_capacity_of_units_without_city_or_status_columns():
    """A library caller's assess_units result without city or status columns: the capacity
    counts as (unknown) city and unknown status, not a KeyError."""
    import sxzones

    rules = sxzones.load_rules()
    er = sxzones.equipment_rules(rules)
    units = pd.DataFrame(
        {
            "unit_id": ["A", "B"],
            "equipment_type": ["coke_oven", "blast_furnace"],
            "capacity_10kt_per_year": [120.5, np.nan],
        }
    )
    table, totals = sxzones.coking_capacity(units, er)
    row = table.set_index("city").loc["(unknown)"]
    assert row["status_unknown"] == pytest.approx(120.5) and row["operating"] == 0
    assert int(row["units"]) == 1 and totals["operating_10kt"] == 0


@pytest.mark.parametrize("suffix", [".csv", ".xls"])
def test_equipment_table_with_a_title_row(tmp_path, suffix):
    """An equipment list with its title above the header (as agencies send them; .xls too):
    the header is found by the equipment headers, said as a note, and rows keep the numbers
    the spreadsheet shows."""
    from sxzones.layers.equipment import read_equipment

    src = ROOT / "layers" / "shanxi" / "derived" / "equipment_demonstration.csv"
    units = pd.read_csv(src, dtype=str, encoding="utf-8-sig").head(4).fillna("")
    # a status every unit needs (a capacity a coal unit does not need is kept, unknown)
    units.iloc[2, list(units.columns).index("状态")] = "abc"
    rows = [["晋中市重点行业设备清单"], [], list(units.columns), *units.values.tolist()]
    p = tmp_path / f"units{suffix}"
    if suffix == ".csv":
        width = len(units.columns)
        rows = [r + [""] * (width - len(r)) for r in rows]
        pd.DataFrame(rows).to_csv(p, index=False, header=False, encoding="gbk")
    else:
        import xlwt

        book = xlwt.Workbook(encoding="utf-8")
        sheet = book.add_sheet("设备")
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                sheet.write(i, j, v)
        book.save(str(p))
    frame, report = read_equipment(p, equipment_rules(load_rules()))
    assert frame["source_row"].tolist() == [4, 5, 7]
    assert report.rejects["source_row"].tolist() == [6]
    said = [f.message for f in report.findings if f.code == "header_row"]
    assert said and said[0].startswith("header read from row 3")
    assert "晋中市重点行业设备清单" in said[0]
