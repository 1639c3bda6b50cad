"""The equipment screen on equipment lists laid out as agencies lay them out (audit 7):
quantities merged over a firm's units, one sheet per industry and hidden template sheets,
headers over two rows, unit numbers per firm, usual words. Every workbook or CSV is written
by the test and read through the real ``sxzones phaseout`` command (calamine reader)."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
from click.testing import CliRunner

from sxzones.cli import cli


def _phaseout(src: Path, out: Path, *args: str, code: int = 0) -> str:
    res = CliRunner().invoke(
        cli, ["phaseout", "--equipment", str(src), "--out", str(out), "--overwrite", *args]
    )
    assert res.exit_code == code, res.output
    return res.output


def _units(out: Path) -> pd.DataFrame:
    t = pd.read_csv(out / "phaseout.csv", dtype=str, keep_default_na=False)
    return t.set_index("unit_id")


def test_capacity_merged_over_a_firms_ovens_is_counted_once(tmp_path):
    """A firm's 产能 written once, merged down over its ovens (the usual coking-list layout):
    filled into every oven it was 4×200 + 2×100 = 1000 against the provincial cap; it is the
    group's total, counted once (300), said per unit and in the summary. A volume merged over
    two blast furnaces (each's or their sum?) is read as no unit's: unassessed, with the note.
    A chamber height merged over ovens is each oven's (a height has no total). The firm
    names and codes merged the same way are still filled."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(
        "单位名称 统一社会信用代码 产能(万吨/年) 设备编号 设备类型 炭化室高度 有效容积 超低排放 状态".split()
    )
    rows = [
        ["甲焦化", "F1", 200, "JL-1", "焦炉", 6.0, None, "是", "在产"],
        [None, None, None, "JL-2", "焦炉", None, None, "是", "在产"],
        [None, None, None, "JL-3", "焦炉", None, None, "是", "在产"],
        [None, None, None, "JL-4", "焦炉", None, None, "是", "在产"],
        ["乙焦化", "F2", 100, "YL-1", "焦炉", 4.3, None, "是", "在产"],
        [None, None, None, "YL-2", "焦炉", None, None, "是", "已关停"],
        ["丙钢铁", "F3", None, "GL-1", "高炉", None, 1080, "是", "在产"],
        [None, None, None, "GL-2", "高炉", None, None, "是", "在产"],
    ]
    for r in rows:
        ws.append(r)
    for a, b, cols in [(2, 5, "ABCF"), (6, 7, "ABCF"), (8, 9, "ABG")]:
        for col in cols:
            ws.merge_cells(f"{col}{a}:{col}{b}")
    src = tmp_path / "coking.xlsx"
    wb.save(src)
    out = tmp_path / "out"
    said = _phaseout(src, out)
    u = _units(out)
    assert u.loc["JL-1", "capacity_10kt_per_year"] == "200"
    assert [u.loc[k, "capacity_10kt_per_year"] for k in ("JL-2", "JL-3", "JL-4")] == [""] * 3
    assert set(u.loc[["JL-1", "JL-2", "JL-3", "JL-4"], "capacity_counted_on"]) == {"JL-1"}
    assert "counted once, on unit JL-1" in u.loc["JL-3", "reading_notes"]
    assert u.loc["JL-2", "firm_id"] == "F1"  # names and codes: filled
    assert u.loc["JL-4", "chamber_height_m"] == "6"  # a height: each oven's
    assert u.loc["YL-2", "finding"] == "phase_out"  # 4.3 m, merged: each oven's
    cap = pd.read_csv(out / "coking_capacity.csv")
    # 甲 200 operating; 乙's 100 covers an operating and a closed oven: whose status? unknown
    assert cap.loc[0, "operating"] == 200 and cap.loc[0, "status_unknown"] == 100
    assert cap.loc[0, "units_without_capacity"] == 0
    totals = json.loads((out / "phaseout.json").read_text())["coking_capacity"]
    assert totals["operating_10kt"] == 200 and totals["units_in_capacity_groups"] == 6
    assert "coking capacity (万吨/年): operating 200," in said
    assert "6 coke oven(s) share a capacity written once for their group" in said
    assert "产能(万吨/年) 200 is written once over rows 2-5 (4 units)" in said
    # the volume merged over two furnaces: neither's; unassessed, not kept, not phased out
    assert [u.loc[k, "finding"] for k in ("GL-1", "GL-2")] == ["unassessed", "unassessed"]
    assert (
        u.loc["GL-2", "volume_m3"] == ""
        and "each unit's or their total" in (u.loc["GL-2", "reading_notes"])
    )
    assert "有效容积 1080 is written once over rows 8-9" in said


def _book(path: Path, sheets: dict[str, list[list[object]]], hidden: tuple[str, ...] = ()) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
        if name in hidden:
            ws.sheet_state = "hidden"
    wb.active = next(k for k, n in enumerate(sheets) if n not in hidden)  # a visible one
    wb.save(path)
    return path


_HEAD = ["设备编号", "企业代码", "设备类型", "炭化室高度", "有效容积", "超低排放", "状态"]


def test_one_sheet_per_industry_refused_naming_them_then_read_with_layer(tmp_path):
    """A workbook with one sheet per industry (焦化, 钢铁): reading the first left the 450 m³
    blast furnace out with no word. It is refused naming both sheets and the fix (exit 2);
    --layer chooses one, said as read (also by `layers validate --role equipment`)."""
    src = _book(
        tmp_path / "units.xlsx",
        {
            "焦化": [_HEAD, ["J1", "F1", "焦炉", 4.3, None, "是", "在产"]],
            "钢铁": [_HEAD, ["G1", "F2", "高炉", None, 450, "是", "在产"]],
        },
    )
    said = _phaseout(src, tmp_path / "o1", code=2)
    assert "2 sheets hold equipment tables ('焦化', '钢铁')" in said and "--layer" in said
    assert "Traceback" not in said
    said = _phaseout(src, tmp_path / "o2", "--layer", "钢铁")
    assert "sheet '钢铁' read (--layer)" in said
    u = _units(tmp_path / "o2")
    assert list(u.index) == ["G1"] and u.loc["G1", "finding"] == "phase_out"
    said = _phaseout(src, tmp_path / "o3", "--layer", "水泥", code=2)
    assert "no sheet '水泥'" in said and "'焦化', '钢铁'" in said
    res = CliRunner().invoke(
        cli, ["layers", "validate", str(src), "--role", "equipment", "--layer", "焦化"]
    )
    assert res.exit_code == 0 and "sheet '焦化' read (--layer)" in res.output


def test_hidden_template_sheet_skipped_and_the_sheet_read_is_said(tmp_path):
    """A hidden first sheet 填表说明 with an example row (示例, a 6 m oven) before the visible
    list: the example was reported and the two 4.3 m ovens to close were not read. Hidden
    sheets are skipped; the run says which sheet it read and what it skipped."""
    src = _book(
        tmp_path / "units.xlsx",
        {
            "填表说明": [
                ["请按下例填写"],
                _HEAD,
                ["示例", "示例企业", "焦炉", 6, None, "是", "在产"],
            ],
            "设备清单": [
                _HEAD,
                ["J1", "F1", "焦炉", 4.3, None, "是", "在产"],
                ["J2", "F1", "焦炉", 4.3, None, "是", "在产"],
            ],
            "说明": [["本表由市局汇总"]],
        },
        hidden=("填表说明",),
    )
    said = _phaseout(src, tmp_path / "o")
    assert (
        "sheet '设备清单' read (sheet 2 of 3); hidden sheet(s) skipped: '填表说明'; other "
        "sheet(s) without equipment headers: '说明'" in said
    )
    u = _units(tmp_path / "o")
    assert list(u.index) == ["J1", "J2"] and set(u["finding"]) == {"phase_out"}


def test_year_with_nian_usual_words_and_asks_said_once(tmp_path):
    """The audit's agency sheet (title row, firm cells merged): 投产时间 `2008年` rejected the
    one 4.3 m oven that must close by 2023-12-31; 热回收焦炉, 步进式烧结机 (the type word
    after the sinter type), 球团 for a 竖炉, 停产整治 and the header 焦炭产能(万吨/年) were
    refused; a closed 4.3 m oven short of ultra-low emission repeated its `asks`."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["2023年重点行业设备清单"])
    head = "单位名称 统一社会信用代码 设备编号 设备名称 炭化室高度(m) 焦炭产能(万吨/年) 产品"
    ws.append([*head.split(), "烧结机型式", "是否超低排放", "运行状态", "投产时间"])
    for r in [
        ["甲焦化", "F1", "JL-1", "焦炉", 4.3, 60, None, None, "是", "在产", "2008年"],
        [None, None, "JL-5", "热回收焦炉", 5.5, 40, None, None, "是", "停产整治", "2019"],
        [None, None, "JL-6", "焦炉", 4.3, 50, None, None, "否", "已关停", "2005"],
        ["丙钢铁", "F3", "SJ-1", "烧结机", None, None, None, "步进式烧结机", "是", "在产", "2009"],
        [None, None, "QT-1", "竖炉", None, None, "球团", None, "是", "在产", "2009"],
    ]:
        ws.append(r)
    for col in "AB":
        ws.merge_cells(f"{col}3:{col}5")
        ws.merge_cells(f"{col}6:{col}7")
    src = tmp_path / "agency.xlsx"
    wb.save(src)
    out = tmp_path / "o"
    said = _phaseout(src, out)
    assert "input rows 5 = assessed 5 + rejected 0" in said
    u = _units(out)
    assert u.loc["JL-1", "finding"] == "phase_out" and u.loc["JL-1", "commissioned"] == "2008"
    assert u.loc["JL-1", "deadline"] == "2023-12-31"
    assert u.loc["JL-5", "equipment_type"] == "coke_oven" and u.loc["JL-5", "status"] == "idle"
    assert u.loc["SJ-1", "sinter_type"] == "stepping" and u.loc["SJ-1", "finding"] == "phase_out"
    assert u.loc["QT-1", "product"] == "pellet" and u.loc["QT-1", "finding"] == "phase_out"
    assert u.loc["JL-6", "rule_ids"] == "coke_oven_4_3m;coke_oven_not_ultra_low"
    assert u.loc["JL-6", "asks"] == "关停退出，2023-12-31 前 / close due 2023-12-31"
    cap = json.loads((out / "phaseout.json").read_text())["coking_capacity"]
    assert cap["operating_10kt"] == 60 and cap["idle_10kt"] == 40
    assert cap["units_without_capacity"] == 0


def test_a_field_no_rule_needs_keeps_the_unit_with_a_note(tmp_path):
    """A value that cannot be read rejects a unit only where a rule that applies to it needs
    the field: a coke oven's 投产时间 (coking is not under the new-capacity ban) or a
    blast furnace's 炭化室高度 are read as unknown, said in reading_notes with the value; a
    blast furnace's unreadable 投产时间 (the ban needs it) still rejects it, the value quoted."""
    src = tmp_path / "u.csv"
    src.write_text(
        "设备编号,企业代码,设备类型,炭化室高度,有效容积,超低排放,状态,投产时间\n"
        "K1,F1,焦炉,4.3,,是,在产,二〇〇八年\n"
        "B1,F1,高炉,—,1000,是,在产,2010\n"
        "B2,F1,高炉,,1000,是,在产,去年\n",
        encoding="utf-8",
    )
    out = tmp_path / "o"
    said = _phaseout(src, out)
    u = _units(out)
    assert list(u.index) == ["K1", "B1"]
    assert u.loc["K1", "finding"] == "phase_out" and u.loc["K1", "commissioned"] == ""
    assert u.loc["K1", "reading_notes"] == (
        "commissioned '二〇〇八年' is not a date or year: no rule for this unit needs it; "
        "read as unknown"
    )
    assert u.loc["B1", "finding"] == "phase_out" and u.loc["B1", "chamber_height_m"] == ""
    assert "chamber_height_m '—' is not a non-negative number" in u.loc["B1", "reading_notes"]
    rejects = pd.read_csv(out / "rejects.csv", dtype=str)
    assert rejects["id"].tolist() == ["B2"] and rejects.loc[0, "code"] == "bad_date"
    assert rejects.loc[0, "reason"] == "commissioned '去年' is not a date or year"
    assert "no rule for these units needs it; read as unknown [field 投产时间] (row 2)" in said


def test_unit_numbers_are_per_firm(tmp_path):
    """Agency lists number units per firm (1#焦炉 at every firm): the second firm's ovens were
    rejected as duplicates (phase-out ovens and half the capacity left out). A duplicate is
    one within a firm, named with the row of the first."""
    src = tmp_path / "u.csv"
    src.write_text(
        "企业代码,企业名称,设备编号,设备类型,炭化室高度,超低排放,状态,产能(万吨/年)\n"
        "F1,甲焦化,1#焦炉,焦炉,4.3,是,在产,60\n"
        "F1,甲焦化,2#焦炉,焦炉,6,是,在产,100\n"
        "F2,乙焦化,1#焦炉,焦炉,4.3,是,在产,60\n"
        "F2,乙焦化,2#焦炉,焦炉,6,否,在产,100\n"
        "f1,甲焦化,2#焦炉,焦炉,6,是,在产,100\n",
        encoding="utf-8",
    )
    out = tmp_path / "o"
    said = _phaseout(src, out)
    assert "input rows 5 = assessed 4 + rejected 1" in said
    t = pd.read_csv(out / "phaseout.csv", dtype=str, keep_default_na=False)
    assert list(zip(t["firm_id"], t["unit_id"], t["finding"], strict=True)) == [
        ("F1", "1#焦炉", "phase_out"),
        ("F1", "2#焦炉", "keep"),
        ("F2", "1#焦炉", "phase_out"),
        ("F2", "2#焦炉", "phase_out"),
    ]
    assert (
        json.loads((out / "phaseout.json").read_text())["coking_capacity"]["operating_10kt"] == 320
    )
    rejects = pd.read_csv(out / "rejects.csv", dtype=str)
    assert rejects.loc[0, "source_row"] == "6" and rejects.loc[0, "code"] == "duplicate_id"
    assert rejects.loc[0, "reason"] == (
        "unit_id '2#焦炉' of firm 'f1' is on row 3 already; the first is kept"
    )


def test_two_row_header_group_over_sizes(tmp_path):
    """主要参数 merged over 炭化室高度(m) | 有效容积(m³) | 公称容量(t), the other headers merged
    down both rows: the sub-header row was rejected as a unit and every unit came out
    unassessed 'missing' sizes the sheet holds. The header is read over both rows, said."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["设备编号", "企业代码", "设备类型", "主要参数", None, None, "状态"])
    ws.append([None, None, None, "炭化室高度(m)", "有效容积(m³)", "公称容量(t)", None])
    for r in [
        ["J1", "F1", "焦炉", 4.3, None, None, "在产"],
        ["G1", "F1", "高炉", None, 1000, None, "在产"],
        ["Z1", "F1", "转炉", None, None, 80, "在产"],
    ]:
        ws.append(r)
    ws.merge_cells("D1:F1")
    for col in "ABCG":
        ws.merge_cells(f"{col}1:{col}2")
    src = tmp_path / "two.xlsx"
    wb.save(src)
    out = tmp_path / "o"
    said = _phaseout(src, out)
    assert "input rows 3 = assessed 3 + rejected 0" in said
    assert (
        "header read from rows 1 and 2 (a header over two rows: 主要参数 over 炭化室高度(m), "
        "有效容积(m³), 公称容量(t)" in said
    )
    u = _units(out)
    assert u["finding"].tolist() == ["phase_out"] * 3
    assert u["source_row"].tolist() == ["3", "4", "5"]
    assert (u.loc["G1", "volume_m3"], u.loc["Z1", "capacity_t"]) == ("1000", "80")


def test_arc_furnace_making_a_ferroalloy_is_a_ferroalloy_furnace(tmp_path):
    """Clause 四 closes semi-closed 硅锰/镍铁/高碳铬铁/高碳锰铁 电炉; ferroalloy lists often type
    them 电弧炉, and the unit came out a steel arc furnace, `keep`. A steel arc furnace makes
    no ferroalloy: such a unit is read as a ferroalloy furnace (rules file ``retype``), said;
    埋弧炉 / 埋弧电炉 are ferroalloy furnaces; an arc furnace with no product stays steel."""
    src = tmp_path / "fa.csv"
    src.write_text(
        "设备编号,企业代码,设备类型,产品,炉型,状态\n"
        "E1,F,电弧炉,硅锰,半封闭,在产\n"
        "E2,F,电弧炉,高碳铬铁,全封闭,在产\n"
        "E3,F,电弧炉,,,在产\n"
        "M1,F,埋弧炉,镍铁,半封闭,在产\n"
        "M2,F,埋弧电炉,高碳锰铁,,在产\n",
        encoding="utf-8",
    )
    out = tmp_path / "o"
    _phaseout(src, out)
    u = _units(out)
    assert u["equipment_type"].to_dict() == {
        "E1": "ferroalloy_furnace",
        "E2": "ferroalloy_furnace",
        "E3": "electric_arc_furnace",
        "M1": "ferroalloy_furnace",
        "M2": "ferroalloy_furnace",
    }
    assert u["finding"].to_dict() == {
        "E1": "phase_out",
        "E2": "keep",  # closed: not the semi-closed furnaces the clause names
        "E3": "keep",
        "M1": "phase_out",
        "M2": "unassessed",  # the furnace form is not given
    }
    assert u.loc["E1", "category"] == "ferroalloy" and u.loc["E1", "rule_ids"] == (
        "ferroalloy_semi_closed"
    )
    assert u.loc["E1", "reading_notes"] == (
        "电弧炉 making 硅锰: read as 矿热炉 (ferroalloy_furnace), as no electric_arc_furnace "
        "makes 硅锰"
    )


def test_zh_map_popups_and_firms_sheet_name_types_and_rules_in_chinese(tmp_path):
    """`--lang zh`: the map's popups and the XLSX 企业 sheet said "JL-2 coke_oven:
    coke_oven_not_ultra_low" (identifiers); they name the type and the rule in Chinese."""
    firms = tmp_path / "firms.csv"
    firms.write_text("firm_id,name,industry,lon,lat\nN1,焦化厂,焦化,112.6,37.8\n", encoding="utf-8")
    src = tmp_path / "u.csv"
    src.write_text(
        "设备编号,企业代码,设备类型,炭化室高度,超低排放,状态\n"
        "K1,N1,焦炉,4.3,否,在产\nK2,N1,焦炉,6,是,在产\n",
        encoding="utf-8",
    )
    out, page = tmp_path / "o", tmp_path / "po.html"
    _phaseout(src, out, "--firms", str(firms), "--crs", "wgs84", "--lang", "zh", "--map", str(page))
    said = (
        "K1 焦炉：2023 年底前全面关停退出炭化室高度 4.3 米焦炉，"
        "2023 年底前全面关停退出达不到超低排放要求的其他焦炉"
    )
    sheet = pd.read_excel(out / "phaseout.xlsx", sheet_name="企业")
    assert sheet.iloc[0].tolist().count(said) == 1
    html = page.read_text(encoding="utf-8")
    assert said in html and "coke_oven_not_ultra_low" not in html


def test_firm_code_in_scientific_notation_is_said_mangled(tmp_path):
    """An equipment CSV saved by Excel writes an 18-digit 统一社会信用代码 as 9.11401E+17: the
    units joined no firm, said only as 'firm not in --firms'. The code is said mangled, with
    the rows and the fix; the units are kept (their findings do not need the firm)."""
    src = tmp_path / "sci.csv"
    src.write_bytes(
        "设备编号,统一社会信用代码,设备类型,炭化室高度,超低排放,状态\n"
        "A1,9.11401E+17,焦炉,5.5,是,在产\nB1,9.11401E+17,焦炉,4.3,是,在产\n"
        "C1,911401001234567890,焦炉,6,是,在产\n".encode("gbk")
    )
    out = tmp_path / "o"
    said = _phaseout(src, out)
    assert (
        "note: firm code '9.11401E+17' is in scientific notation: the code is mangled and "
        "joins no firm [field 统一社会信用代码] (rows 2, 3); fix: in Excel set the column's "
        "format to Text" in said
    )
    u = _units(out)
    assert u["finding"].to_dict() == {"A1": "keep", "B1": "phase_out", "C1": "keep"}
    assert "scientific notation" in u.loc["B1", "reading_notes"]
    assert u.loc["C1", "reading_notes"] == ""
