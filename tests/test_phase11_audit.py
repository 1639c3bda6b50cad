"""Audit 11's phase-out findings, each against its known answer.

* E17: a size a spreadsheet computed (=4.4-0.1 is stored 4.3000000000000007, shown 4.3) is
  read, compared with the plan's limits and written at the 15 significant digits the
  spreadsheet shows: a 4.3 m coke oven, ``phase_out``, as the same oven typed 4.30.
* E7: a unit whose firm is not in ``--firms`` is in every output: phaseout.gpkg with an
  empty geometry, the workbook's firms sheet, the map's note; the warning says so.
* E16: a Hebei firm's coke oven is listed apart and its capacity kept out of Shanxi's total
  against the cap, named by its province, not "(unknown)".
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

import sxzones
from sxzones.cli import cli
from sxzones.layers.equipment import as_written

HEAD = "设备编号,统一社会信用代码,设备类型,炭化室高度（米）,有效容积（立方米）,公称容量（吨）,产能（万吨/年）,超低排放,状态,投产时间\n"
#: Two firms in 清徐县 (太原市, Shanxi) and one in 井陉县 (石家庄市, Hebei), WGS84.
FIRMS = (
    "统一社会信用代码,企业名称,行业,经度,纬度\n"
    "SX1,清徐焦化,焦化,112.30,37.55\n"
    "SX2,清徐钢铁,钢铁,112.32,37.56\n"
    "HEBEI1,井陉焦化,焦化,114.10,38.03\n"
)


def _phaseout(tmp_path: Path, equipment: Path, *args: str) -> tuple[str, Path]:
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli, ["phaseout", "--equipment", str(equipment), "--out", str(out), *args]
    )
    assert res.exit_code == 0, res.output
    return res.output, out


def _units(out: Path) -> pd.DataFrame:
    t = pd.read_csv(out / "phaseout.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return t.set_index("unit_id")


# --- E17 -------------------------------------------------------------------------------


def test_a_computed_4_3m_height_in_a_workbook_is_the_4_3m_class(tmp_path):
    """openpyxl writes the float Excel holds for =4.4-0.1 (4.300000000000001): the oven is
    4.3 m, phase_out, written 4.3, the reading said; 4.3001 m stays keep. The same at the
    other limits: 1200.000000000001 m³ and 100.0000000000001 t (16 digits) are 1200 and 100
    (以下 includes the number), 1200.5 m³ is not."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["设备编号", "统一社会信用代码", "设备类型", "炭化室高度（米）", "有效容积（立方米）",
               "公称容量（吨）", "超低排放", "状态"])  # fmt: skip
    ws.append(["K1", "F1", "焦炉", 4.4 - 0.1, None, None, "是", "在产"])
    ws.append(["K2", "F1", "焦炉", 4.30, None, None, "是", "在产"])
    ws.append(["K3", "F1", "焦炉", 4.3001, None, None, "是", "在产"])
    ws.append(["B1", "F1", "高炉", None, 1200.000000000001, None, "是", "在产"])
    ws.append(["B2", "F1", "高炉", None, 1200.5, None, "是", "在产"])
    ws.append(["C1", "F1", "转炉", None, None, 100.0000000000001, "是", "在产"])
    p = tmp_path / "equip.xlsx"
    wb.save(p)
    assert repr(openpyxl.load_workbook(p).active["D2"].value) == "4.300000000000001"
    cells = openpyxl.load_workbook(p).active
    assert repr(cells["E5"].value) == "1200.000000000001"  # 16 digits: openpyxl keeps as many
    assert repr(cells["F7"].value) == "100.0000000000001"
    output, out = _phaseout(tmp_path, p)
    u = _units(out)
    assert u["finding"].to_dict() == {
        "K1": "phase_out", "K2": "phase_out", "K3": "keep",
        "B1": "phase_out", "B2": "keep", "C1": "phase_out",
    }  # fmt: skip
    assert u.loc["K1", "rule_ids"] == "coke_oven_4_3m"
    assert (u.loc["K1", "chamber_height_m"], u.loc["B1", "volume_m3"]) == ("4.3", "1200")
    assert u.loc["C1", "capacity_t"] == "100" and u.loc["K3", "chamber_height_m"] == "4.3001"
    assert u.loc["K1", "reading_notes"] == (
        "chamber_height_m 4.300000000000001 read as 4.3 m (15 significant digits, as a "
        "spreadsheet shows it)"
    )
    assert u.loc["K2", "reading_notes"] == "" and u.loc["K3", "reading_notes"] == ""
    assert "numbers read at the precision a spreadsheet shows: chamber_height_m" in output


def test_the_17_digits_excel_writes_in_a_csv_are_read_as_shown(tmp_path):
    """A CSV saved with the 17 digits of the cell's XML (4.3000000000000007) is the 4.3 m
    oven typed 4.30; a height written to 11 digits (4.3000000001) is not 4.3: decided as
    written."""
    p = tmp_path / "equip.csv"
    p.write_text(
        HEAD
        + "K1,F1,焦炉,4.3000000000000007,,,60,是,在产,2010\n"
        + "K2,F1,焦炉,4.30,,,60,是,在产,2010\n"
        + "K3,F1,焦炉,4.3000000001,,,60,是,在产,2010\n",
        encoding="utf-8",
    )
    _, out = _phaseout(tmp_path, p)
    u = _units(out)
    assert u["finding"].to_dict() == {"K1": "phase_out", "K2": "phase_out", "K3": "keep"}
    assert u["chamber_height_m"].to_dict() == {"K1": "4.3", "K2": "4.3", "K3": "4.3000000001"}
    zh = tmp_path / "zh"
    res = CliRunner().invoke(
        cli, ["phaseout", "--equipment", str(p), "--out", str(zh), "--lang", "zh"]
    )
    assert res.exit_code == 0, res.output
    t = pd.read_csv(zh / "phaseout.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert t.set_index("设备编号").loc["K1", "读取说明"] == (
        "炭化室高度（米）的值 4.300000000000001 按电子表格显示的 15 位有效数字读作 4.3 m"
    )


def test_assess_units_compares_as_written():
    """A library caller's frame (not read through the table reader) is compared at the same
    precision."""
    er = sxzones.equipment_rules(sxzones.load_rules())
    units = pd.DataFrame(
        {
            "unit_id": ["K1", "K2"],
            "firm_id": ["F", "F"],
            "equipment_type": ["coke_oven", "coke_oven"],
            "chamber_height_m": [4.4 - 0.1, 4.31],
            "ultra_low_emission": ["yes", "yes"],
        }
    )
    assert sxzones.assess_units(units, er)["finding"].tolist() == ["phase_out", "keep"]
    assert as_written([4.4 - 0.1, 1199.99, np.nan])[:2].tolist() == [4.3, 1199.99]
    assert np.isnan(as_written([np.nan])[0])


# --- E7 --------------------------------------------------------------------------------


def test_a_unit_whose_firm_is_not_in_firms_is_in_every_output(tmp_path):
    """KX's firm MISSING1 is not in --firms: 3 units, 2 phase_out in the CSV, the JSON and
    the GeoPackage alike (KX with an empty geometry, said in the layer's metadata); the
    workbook's firms sheet lists MISSING1; the map names KX in its note; the warning says
    the unit has no location and where it is."""
    firms = tmp_path / "firms.csv"
    firms.write_text(FIRMS, encoding="utf-8")
    p = tmp_path / "equip.csv"
    p.write_text(
        HEAD
        + "K1,SX1,焦炉,4.3,,,60,是,在产,2010\n"
        + "K2,SX1,焦炉,6,,,100,是,在产,2010\n"
        + "KX,MISSING1,焦炉,4.3,,,90,是,在产,2010\n",
        encoding="utf-8",
    )
    html = tmp_path / "map.html"
    output, out = _phaseout(
        tmp_path, p, "--firms", str(firms), "--crs", "wgs84", "--map", str(html)
    )
    assert _units(out)["finding"].value_counts().to_dict() == {"phase_out": 2, "keep": 1}
    doc = json.loads((out / "phaseout.json").read_text(encoding="utf-8"))
    assert doc["findings"] == {"phase_out": 2, "unassessed": 0, "keep": 1}
    gp = pyogrio.read_dataframe(out / "phaseout.gpkg").set_index("unit_id")
    assert gp["finding"].to_dict() == {"K1": "phase_out", "K2": "keep", "KX": "phase_out"}
    assert gp.geometry.isna().to_dict() == {"K1": False, "K2": False, "KX": True}
    meta = pyogrio.read_info(out / "phaseout.gpkg")["layer_metadata"]
    assert meta["sxzones_unlocated"] == (
        "1 unit(s) whose firm is not in --firms have no location: empty geometry (KX)"
    )
    sheet = pd.read_excel(out / "phaseout.xlsx", sheet_name="firms").set_index("firm_id")
    assert sheet.loc["MISSING1", "finding"] == "phase_out"
    assert sheet.loc["MISSING1", "phaseout_findings"] == "KX coke_oven: coke_oven_4_3m"
    page = html.read_text(encoding="utf-8")
    assert "Not on the map: 1 unit(s) whose firm is not in --firms" in page
    assert "KX (MISSING1, phase_out)" in page
    assert (
        "warning: 1 unit(s) whose firm is not in --firms (KX): they carry no firm-screen "
        "finding and have no location: in the tables, in phaseout.gpkg with an empty geometry"
    ) in output


def test_every_unit_unlocated_still_makes_the_geopackage(tmp_path):
    """No unit's firm is in --firms: the GeoPackage holds both units, each without a
    geometry (not an empty file, not a failure)."""
    firms = tmp_path / "firms.csv"
    firms.write_text(FIRMS, encoding="utf-8")
    p = tmp_path / "equip.csv"
    p.write_text(
        HEAD + "K1,NONE1,焦炉,4.3,,,60,是,在产,2010\nK2,NONE2,焦炉,6,,,60,是,在产,2010\n",
        encoding="utf-8",
    )
    output, out = _phaseout(tmp_path, p, "--firms", str(firms), "--crs", "wgs84")
    gp = pyogrio.read_dataframe(out / "phaseout.gpkg")
    assert sorted(gp["unit_id"]) == ["K1", "K2"] and bool(gp.geometry.isna().all())
    assert "warning: 2 unit(s) whose firm is not in --firms (K1, K2)" in output


# --- E16 -------------------------------------------------------------------------------


@pytest.mark.parametrize("builtup", [True, False], ids=["firm-screen", "admin-only"])
def test_a_hebei_firms_coking_capacity_is_not_shanxis(tmp_path, builtup):
    """SX1 (清徐县) runs 60 + 100 万吨/年 operating and 40 idle, HEBEI1 (井陉县, 河北省) 500
    operating: Shanxi's total against the cap is 160 operating, 40 idle (hand sums); Hebei's
    500 is a row of its own, 河北省, against_cap no, and in the totals apart. The unit says
    its province and in_jurisdiction no; the summary says the capacity is not counted. With
    the firm screen and with the admin layer alone."""
    firms = tmp_path / "firms.csv"
    firms.write_text(FIRMS, encoding="utf-8")
    p = tmp_path / "equip.csv"
    p.write_text(
        HEAD
        + "K1,SX1,焦炉,6,,,60,是,在产,2010\n"
        + "K2,SX1,焦炉,6,,,100,是,在产,2010\n"
        + "K3,SX1,焦炉,6,,,40,是,停产,2010\n"
        + "HB1,HEBEI1,焦炉,4.3,,,500,是,在产,2010\n",
        encoding="utf-8",
    )
    args = ["--firms", str(firms), "--crs", "wgs84"]
    output, out = _phaseout(
        tmp_path, p, *args, *(["--builtup", "builtup_demonstration"] if builtup else [])
    )
    cap = pd.read_csv(out / "coking_capacity.csv", encoding="utf-8-sig").set_index("city")
    assert cap.index.tolist() == ["太原市", "河北省"]
    assert cap.loc["太原市", ["against_cap", "operating", "idle", "units"]].tolist() == [
        "yes", 160, 40, 3
    ]  # fmt: skip
    assert cap.loc["河北省", ["against_cap", "operating", "units"]].tolist() == ["no", 500, 1]
    totals = json.loads((out / "phaseout.json").read_text(encoding="utf-8"))["coking_capacity"]
    assert (totals["operating_10kt"], totals["idle_10kt"]) == (160, 40)
    assert totals["operating_and_idle_10kt"] == 200
    assert totals["operating_share_of_cap"] == round(160 / 14372.4, 6)
    assert totals["outside_jurisdiction_operating_10kt"] == 500
    assert totals["outside_jurisdiction_units"] == 1
    assert totals["outside_jurisdiction_provinces"] == ["河北省"]
    u = _units(out)
    assert u.loc["HB1", ["province", "in_jurisdiction", "county"]].tolist() == [
        "河北省", "no", "井陉县"
    ]  # fmt: skip
    assert u.loc["K1", ["province", "in_jurisdiction", "city"]].tolist() == [
        "山西省", "yes", "太原市"
    ]  # fmt: skip
    assert "coking capacity (万吨/年): operating 160, idle 40" in output
    assert "warning: 1 unit(s) belong to firms outside the plan's province (HB1" in output
    assert (
        "coking capacity outside the plan's province (河北省), not counted against the cap: "
        "operating 500, idle 0 (1 coke oven(s); coking_capacity.csv against_cap no)"
    ) in output
    summary = pd.read_excel(out / "phaseout.xlsx", sheet_name="summary", header=None)
    cities = summary[0].astype(str).tolist()  # a demonstration line may come first
    assert "河北省" in cities and "(unknown)" not in cities


def test_capacity_outside_named_in_chinese_tables(tmp_path):
    """--lang zh: the capacity table's against_cap column in Chinese (是 / 否)."""
    firms = tmp_path / "firms.csv"
    firms.write_text(FIRMS, encoding="utf-8")
    p = tmp_path / "equip.csv"
    p.write_text(
        HEAD + "K1,SX1,焦炉,6,,,60,是,在产,2010\nHB1,HEBEI1,焦炉,6,,,500,是,在产,2010\n",
        encoding="utf-8",
    )
    _, out = _phaseout(tmp_path, p, "--firms", str(firms), "--crs", "wgs84", "--lang", "zh")
    cap = pd.read_csv(out / "coking_capacity.csv", encoding="utf-8-sig")
    assert cap["是否计入全省总产能"].tolist() == ["是", "否"]
    assert cap["在产（万吨/年）"].tolist() == [60, 500]


def test_without_an_admin_layer_the_province_is_said_not_judged(tmp_path):
    """--admin '': no county, so no province to judge; the run says so, and every coke oven
    counts against the cap (60 + 500), none is silently taken for Shanxi's or not."""
    firms = tmp_path / "firms.csv"
    firms.write_text(FIRMS, encoding="utf-8")
    p = tmp_path / "equip.csv"
    p.write_text(
        HEAD + "K1,SX1,焦炉,6,,,60,是,在产,2010\nHB1,HEBEI1,焦炉,6,,,500,是,在产,2010\n",
        encoding="utf-8",
    )
    output, out = _phaseout(tmp_path, p, "--firms", str(firms), "--crs", "wgs84", "--admin", "")
    assert "note: 2 unit(s) whose firm's province was not judged (no admin layer" in output
    assert "outside the plan's province" not in output
    totals = json.loads((out / "phaseout.json").read_text(encoding="utf-8"))["coking_capacity"]
    assert (totals["operating_10kt"], totals["outside_jurisdiction_units"]) == (560, 0)
    assert _units(out)["in_jurisdiction"].tolist() == ["", ""]
