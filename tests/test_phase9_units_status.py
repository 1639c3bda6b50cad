"""Equipment tables as agencies write them (audit 9 m7, m15, m19), through ``sxzones phaseout``.

* m7: a size written with its unit (4.3米, 4.30 m, 100吨) is read in the field's unit, said;
  another unit converts when certain (4300mm -> 4.3 m, 0.01万吨 -> 100 t); an unknown unit
  stays rejected with its reason.
* m15: a capacity header in another unit or wording (产能(吨/年), 焦炭产能（万吨）) is read and
  converted to 万吨/年, said; a capacity-like column that cannot be read is named with the fix.
* m19: status words 试生产, 长期停产, 停产（环保）, 备用, 在建, 拟建 are read (在建/拟建 as
  ``planned``), none rejected.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from sxzones.cli import cli


def _run(tmp_path: Path, text: str) -> tuple[pd.DataFrame, pd.DataFrame, Path, str]:
    src = tmp_path / "eq.csv"
    src.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli, ["phaseout", "--equipment", str(src), "--out", str(out), "--overwrite"]
    )
    assert res.exit_code == 0, res.output
    units = pd.read_csv(out / "phaseout.csv", dtype=str, keep_default_na=False)
    rejects = pd.read_csv(out / "rejects.csv", dtype=str, keep_default_na=False)
    return units.set_index("unit_id"), rejects.set_index("id"), out, res.output


# the auditor's table (in/equip_units.csv) and three more: other units, converted or not
UNITS_CSV = """设备编号,统一社会信用代码,设备类型,炭化室高度(m),有效容积(m³),公称容量(t),状态
E1,F1,焦炉,4.3米,,,在产
E2,F1,焦炉,4.30 m,,,在产
E3,F2,高炉,,"1,200",,在产
E4,F2,高炉,,"1,260",,在产
E5,F2,转炉,,,100吨,在产
E6,F2,高炉,,１２００,,在产
E7,F2,高炉,,"12,000",,在产
E8,F1,焦炉,4.3,,,停产
E9,F1,焦炉,５.５,,,在产
E10,F1,焦炉,4300mm,,,在产
E11,F2,转炉,,,0.01万吨,在产
E12,F1,焦炉,4.3尺,,,在产
E13,F2,转炉,,,0.1万吨,在产
"""


def test_sizes_written_with_their_unit_are_read_and_4_3m_ovens_phase_out(tmp_path):
    units, rejects, _, output = _run(tmp_path, UNITS_CSV)
    finding = units["finding"].to_dict()
    # m7: the 4.3 m ovens due to close are phase_out, not rejected
    for uid in ("E1", "E2", "E8", "E10"):
        assert finding[uid] == "phase_out" and units.loc[uid, "rule_ids"] == "coke_oven_4_3m"
        assert float(units.loc[uid, "chamber_height_m"]) == 4.3  # 4300 mm exactly 4.3 m
    assert units.loc["E1", "reading_notes"] == (
        "chamber_height_m '4.3米' read as 4.3 m (its unit is the column's)"
    )
    assert "'4.30 m' read as 4.3 m" in units.loc["E2", "reading_notes"]
    assert units.loc["E10", "reading_notes"] == (
        "chamber_height_m '4300mm' read as 4.3 m (converted from mm)"
    )
    # 100 t converters are caught (以下 includes the number); 0.01万吨 is 100 t
    for uid in ("E5", "E11"):
        assert finding[uid] == "phase_out" and units.loc[uid, "rule_ids"] == "converter_below_100t"
        assert float(units.loc[uid, "capacity_t"]) == 100
    assert finding["E3"] == finding["E6"] == "phase_out" and finding["E4"] == "keep"
    assert finding["E9"] == "unassessed"  # 5.5 m: only the ultra-low rule left, not given
    # what cannot be read stays rejected with its reason
    assert sorted(rejects.index) == ["E12", "E13", "E7"]
    assert rejects.loc["E12", "code"] == "bad_number"
    assert rejects.loc["E12", "reason"] == (
        "chamber_height_m '4.3尺': unit '尺' does not convert to m"
    )
    assert rejects.loc["E13", "code"] == "implausible_value"  # 1000 t: not a converter's size
    assert rejects.loc["E13", "reason"] == (
        "capacity_t '0.1万吨' (= 1000 t) is outside the plausible range 1-500"
    )
    assert len(units) + len(rejects) == 13
    assert "numbers written with their unit read in the field's unit" in output


@pytest.mark.parametrize(
    ("header", "values", "said"),
    [
        ("产能(吨/年)", ("1000000", "1500000"), "converted from 吨/年 to 万吨/年"),
        ("焦炭产能（万吨）", ("100", "150"), "万吨 read as 万吨/年 (a capacity is yearly)"),
        ("焦炭产能(t/a)", ("1,000,000", "150万吨"), "converted from t/a to 万吨/年"),
    ],
)
def test_capacity_headers_in_another_unit_are_read_in_10kt_per_year(tmp_path, header, values, said):
    """m15: 太原市's coking capacity is 250 万吨/年 (100 + 150), not 0."""
    text = (
        f"设备编号,统一社会信用代码,设备类型,炭化室高度(m),{header},状态,地市\n"
        f'E1,F1,焦炉,6,"{values[0]}",在产,太原市\nE2,F2,焦炉,6,"{values[1]}",在产,太原市\n'
    )
    units, rejects, out, output = _run(tmp_path, text)
    assert rejects.empty
    assert units["capacity_10kt_per_year"].astype(float).tolist() == [100.0, 150.0]
    cap = pd.read_csv(out / "coking_capacity.csv").set_index("city")
    assert cap.loc["太原市", "operating"] == 250
    assert cap.loc["太原市", "units_without_capacity"] == 0
    summary = json.loads((out / "phaseout.json").read_text(encoding="utf-8"))
    assert summary["coking_capacity"]["operating_10kt"] == 250
    assert f"column '{header}' read as capacity_10kt_per_year: {said}" in output
    assert "without a capacity" not in output


def test_a_capacity_column_that_cannot_be_read_is_named_with_the_fix(tmp_path):
    text = (
        "设备编号,统一社会信用代码,设备类型,炭化室高度(m),焦炭产能(万吨/月),状态,地市\n"
        "E1,F1,焦炉,6,10,在产,太原市\n"
    )
    _, _, out, output = _run(tmp_path, text)
    assert (
        "1 coke oven(s) without a capacity (column(s) '焦炭产能(万吨/月)' not read: see the "
        "notes below)" in output
    )
    assert (
        "column '焦炭产能(万吨/月)' looks like capacity_10kt_per_year (万吨/年) but is not read"
        in (output)
    )
    assert "--field capacity_10kt_per_year=焦炭产能(万吨/月)" in output
    cap = pd.read_csv(out / "coking_capacity.csv").set_index("city")
    assert cap.loc["太原市", "units_without_capacity"] == 1


STATUS = {  # the auditor's in/equip_status.csv: written status -> identifier
    "在产": "operating",
    "停产": "idle",
    "停产整治": "idle",
    "已关停": "closed",
    "关停": "closed",
    "已拆除": "closed",
    "拆除": "closed",
    "淘汰": "closed",
    "已淘汰": "closed",
    "在建": "planned",
    "拟建": "planned",
    "试生产": "operating",
    "正常生产": "operating",
    "运行": "operating",
    "备用": "idle",
    "封存": "idle",
    "长期停产": "idle",
    "停产（环保）": "idle",
    "生产": "operating",
}


def test_status_words_are_read_and_every_4_3m_oven_stays_on_the_list(tmp_path):
    """m19: no status word of the list is refused; every 4.3 m oven is phase_out."""
    rows = [f"E{i},F1,焦炉,4.3,{s},太原市,{10 * i}" for i, s in enumerate(STATUS, 1)]
    head = "设备编号,统一社会信用代码,设备类型,炭化室高度,状态,地市,产能(万吨/年)\n"
    units, rejects, out, _ = _run(tmp_path, head + "\n".join(rows) + "\n")
    assert rejects.empty
    assert [units.loc[f"E{i}", "status"] for i in range(1, 20)] == list(STATUS.values())
    assert set(units["finding"]) == {"phase_out"}
    assert units.loc["E18", "reading_notes"] == (
        "status '停产（环保）' read as idle (停产, the reason 环保)"
    )
    cap = pd.read_csv(out / "coking_capacity.csv").set_index("city").loc["太原市"]
    by = {
        k: sum(10 * i for i, s in enumerate(STATUS, 1) if STATUS[s] == k) for k in STATUS.values()
    }
    assert cap["planned"] == by["planned"] == 100 + 110  # 在建, 拟建: apart, not against the cap
    assert cap["operating"] == by["operating"] and cap["idle"] == by["idle"]
    assert cap["closed"] == by["closed"] and cap["status_unknown"] == 0
    summary = json.loads((out / "phaseout.json").read_text(encoding="utf-8"))
    assert summary["coking_capacity"]["planned_10kt"] == 210
    assert summary["coking_capacity"]["operating_and_idle_10kt"] == by["operating"] + by["idle"]


def test_a_planned_unit_of_a_banned_category_is_new_capacity(tmp_path):
    """在建/拟建 steel is new capacity (五) whatever its date; an operating one by its date."""
    text = (
        "设备编号,企业代码,设备类型,有效容积,状态,投产时间\n"
        "B1,F1,高炉,1500,在建,\nB2,F1,高炉,1500,拟建,2020-01-01\nB3,F1,高炉,1500,在产,2020-01-01\n"
    )
    units, rejects, _, _ = _run(tmp_path, text)
    assert rejects.empty
    assert units["new_capacity"].to_dict() == {"B1": "yes", "B2": "yes", "B3": "no"}
    assert units.loc["B1", "new_capacity_rule"] == "no_new_capacity (晋环发〔2023〕1号 (五))"
    assert units.loc["B1", "status"] == "planned"


def test_a_bracketed_word_that_is_no_status_stays_rejected(tmp_path):
    text = "设备编号,企业代码,设备类型,炭化室高度,状态\nE1,F1,焦炉,4.3,半停（环保）\n"
    _, rejects, _, _ = _run(tmp_path, text + "E2,F1,焦炉,4.3,在产\n")
    assert rejects.loc["E1", "code"] == "unknown_value" and rejects.loc["E1", "field"] == "状态"


def test_a_height_header_in_millimetres_is_converted_to_metres(tmp_path):
    """炭化室高度(mm): 4300 is the 4.3 m oven (phase_out), 6000 a 6 m one (not caught)."""
    text = (
        "设备编号,企业代码,设备类型,炭化室高度(mm),超低排放,状态\n"
        "K1,F1,焦炉,4300,是,在产\nK2,F1,焦炉,6000,是,在产\nK3,F1,焦炉,4.3 m,是,在产\n"
    )
    units, rejects, _, output = _run(tmp_path, text)
    assert rejects.empty
    assert units["finding"].to_dict() == {"K1": "phase_out", "K2": "keep", "K3": "phase_out"}
    assert units["chamber_height_m"].astype(float).tolist() == [4.3, 6.0, 4.3]
    assert "converted from mm to m (x 0.001)" in output
    assert units.loc["K3", "reading_notes"] == (
        "chamber_height_m '4.3 m' read as 4.3 m (its own unit, not the column's mm)"
    )
