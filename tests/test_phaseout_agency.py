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
    ws.append(["单位名称", "统一社会信用代码", "产能(万吨/年)", "设备编号", "设备类型",
               "炭化室高度", "有效容积", "超低排放", "状态"])  # fmt: skip
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
    assert u.loc["GL-2", "volume_m3"] == "" and "each unit's or their total" in (
        u.loc["GL-2", "reading_notes"]
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
    wb.active = [k for k, n in enumerate(sheets) if n not in hidden][0]  # a visible one
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
            "填表说明": [["请按下例填写"], _HEAD, ["示例", "示例企业", "焦炉", 6, None, "是", "在产"]],
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
