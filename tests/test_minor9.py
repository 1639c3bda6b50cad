"""Audit 9's minor findings m1, m2, m4, m9 and m21: rejects in Chinese, no ``nan`` text in the
tables, the jurisdiction as an object, formula cells without a saved value, ``--reports
flagged`` and full-width option values."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from sxzones.cli import cli
from sxzones.i18n import translate_frame, translate_reject
from sxzones.layers.sheets import unsaved_formulas
from sxzones.runs.siting import parse_exclude, parse_resource
from sxzones.units import parse_degrees, parse_distance

#: Texts a table must never hold where a number is missing (pandas' and numpy's forms).
NOT_A_VALUE = {"nan", "NaN", "-nan", "inf", "-inf", "<NA>", "None", "NaT"}
SHANXI = {"adcode_prefix": "14", "zh": "山西省", "en": "Shanxi"}


def _cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _ok(*args: str) -> Result:
    res = _cli(*args)
    assert res.exit_code == 0, res.output
    return res


def _csv_cells(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _no_missing_text(out: Path) -> None:
    """No cell of any CSV or XLSX under ``out`` holds ``nan``/``inf``/``<NA>`` as text (a
    missing number is blank), checked cell by cell."""
    tables = sorted(out.glob("*.csv")) + sorted(out.glob("*.xlsx"))
    assert tables
    for p in tables:
        if p.suffix == ".csv":
            cells = [(p.name, k, v) for row in _csv_cells(p) for k, v in row.items()]
        else:
            book = openpyxl.load_workbook(p, read_only=True)
            cells = [
                (f"{p.name}/{ws.title}", "", c)
                for ws in book.worksheets
                for row in ws.iter_rows(values_only=True)
                for c in row
            ]
            book.close()
        bad = [c for c in cells if isinstance(c[2], str) and c[2].strip() in NOT_A_VALUE]
        assert not bad, bad[:5]


def _reason(out: Path, rejects: str = "rejects.csv") -> list[str]:
    return [r["原因"] for r in _csv_cells(out / rejects)]


# ---- m2, m9, m1 (check): a point project, an unassessed one, a rejected row ----------------


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``check --reports flagged --lang zh``: D1 a coking project 4.4 km from Qingxu's town
    (conflict), D3 a PV project in Changzhi (clear), X1 a point in Zhengzhou, Henan (outside
    every control unit: unassessed), B1 with a longitude 'abc' (rejected)."""
    tmp = tmp_path_factory.mktemp("check")
    src = tmp / "projects.csv"
    src.write_text(
        "project_id,industry,kind,lon,lat\n"
        "D1,coking,new,112.30,37.56\n"
        "D3,pv,new,113.05,36.20\n"
        "X1,pv,new,113.65,34.76\n"
        "B1,pv,new,abc,36.20\n",
        encoding="utf-8",
    )
    out = tmp / "o"
    _ok("check", "--projects", str(src), "--crs", "wgs84", "--out", str(out),
        "--reports", "flagged", "--lang", "zh")  # fmt: skip
    return out


def test_a_point_projects_shares_of_area_are_blank_not_nan(checked: Path) -> None:
    rows = {r["项目编号"]: r for r in _csv_cells(checked / "site_check.csv")}
    assert rows["D1"]["管控单元编码"] == "ZH14012130001"
    assert rows["D1"]["与管控单元重叠面积（平方米）"] == "0.0"  # a point: no area
    assert rows["D1"]["管控单元重叠占项目比例（%）"] == ""  # was "nan"
    assert rows["D1"]["生态保护红线重叠占项目比例（%）"] == ""
    _no_missing_text(checked)


def test_site_check_json_jurisdiction_is_an_object(checked: Path) -> None:
    doc = json.loads((checked / "site_check.json").read_text(encoding="utf-8"))
    assert doc["rules"]["jurisdiction"] == SHANXI  # was "{'adcode_prefix': '14', ...}"
    assert doc["rules"]["issued"] == "2023-01-10"  # the other values as before: text


def test_reports_flagged_writes_conflicts_and_unassessed_not_clear(checked: Path) -> None:
    verdicts = {r["项目编号"]: r["研判结论"] for r in _csv_cells(checked / "site_check.csv")}
    assert verdicts == {"D1": "冲突", "D3": "无冲突", "X1": "无法研判"}
    assert sorted(p.name for p in checked.glob("report-*.html")) == [
        "report-D1.html",
        "report-X1.html",
    ]
    res = _ok("check", "--help")
    helptext = " ".join(res.output.split())
    assert "flagged: conflict, conditional or unassessed" in helptext


def test_check_rejects_in_chinese(checked: Path) -> None:
    assert _reason(checked) == ["坐标缺失或不是数字（'abc', '36.20'）"]


# ---- m1, m2 (firms), m21 --------------------------------------------------------------------


FIRMS = "企业名称,行业,经度,纬度\nA,焦化,112.55,37.87\nB,焦化,abc,37.80\nC,钢铁,112.60,37.90\n"


def test_firms_rejects_in_chinese_and_no_nan_in_the_tables(tmp_path: Path) -> None:
    src = tmp_path / "firms.csv"
    src.write_text(FIRMS, encoding="utf-8")
    for lang in ("zh", "both"):
        _ok("firms", "--firms", str(src), "--crs", "wgs84", "--builtup",
            "builtup_demonstration", "--out", str(tmp_path / lang), "--lang", lang)  # fmt: skip
        _no_missing_text(tmp_path / lang)
    assert _reason(tmp_path / "zh") == ["坐标缺失或不是数字（'abc', '37.80'）"]
    both = _csv_cells(tmp_path / "both" / "rejects.csv")[0]["原因 (reason)"]
    assert both == (
        "坐标缺失或不是数字（'abc', '37.80'） (coordinates missing or not numbers ('abc', '37.80'))"
    )


def test_full_width_distance_is_read_as_typed(tmp_path: Path) -> None:
    """``--distance ２０ｋｍ`` as a Chinese input method types it: the same screen as 20km."""
    src = tmp_path / "firms.csv"
    src.write_text(FIRMS, encoding="utf-8")
    for name, distance in (("half", "20km"), ("full", "２０ｋｍ")):
        _ok("firms", "--firms", str(src), "--crs", "wgs84", "--builtup",
            "builtup_demonstration", "--out", str(tmp_path / name),
            f"--distance={distance}")  # fmt: skip
    half = (tmp_path / "half" / "firm_zones.csv").read_bytes()
    assert half == (tmp_path / "full" / "firm_zones.csv").read_bytes()
    assert b"within_20km" in half or b"inside" in half


@pytest.mark.parametrize(
    ("text", "metres"),
    [
        ("２０ｋｍ", 20000.0),
        ("２０　ＫＭ", 20000.0),
        ("２０公里", 20000.0),
        ("５００ｍ", 500.0),
        ("０．５ｋｍ", 500.0),
    ],
)
def test_full_width_distances(text: str, metres: float) -> None:
    assert parse_distance(text) == metres


def test_full_width_slope_setback_and_resource() -> None:
    assert parse_degrees("０．５") == 0.5
    assert parse_degrees("２５度") == 25.0
    assert parse_exclude("villages.gpkg:３００ｍ") == ("villages.gpkg", 300.0)
    assert parse_resource("ghi.tif:１４００") == ("ghi.tif", 1400.0)
    with pytest.raises(Exception, match="has no unit"):
        parse_distance("２０")  # no unit is still refused


# ---- m1, m2 (sites, phaseout, layers) -------------------------------------------------------


def test_sites_rejects_and_user_layer_clause_in_chinese(tmp_path: Path) -> None:
    src = tmp_path / "cand.csv"
    src.write_text(
        "地块编号,地块类型,WKT\n"
        'K1,采煤沉陷区,"POLYGON((111.90 38.75,111.91 38.75,111.91 38.76,111.90 38.76,'
        '111.90 38.75))"\n'
        'K2,煤矸石山,"POLYGON((111.95 38.75,111.96 38.75,111.96 38.76,111.95 38.76,'
        '111.95 38.75))"\n',
        encoding="utf-8",
    )
    out = tmp_path / "s"
    _ok("sites", "--candidates", str(src), "--crs", "wgs84", "--tech", "pv", "--out", str(out),
        "--lang", "zh")  # fmt: skip
    assert _reason(out) == [
        "“地块类型”的值 ['煤矸石山'] 不在允许值中；允许的值：['abandoned_mine', 'subsidence', "
        "'closed_landfill', 'contaminated_plot']"
    ]
    _no_missing_text(out)
    doc = json.loads((out / "siting.json").read_text(encoding="utf-8"))
    assert doc["jurisdiction"] == SHANXI  # the same shape as site_check.json's
    clauses = pd.DataFrame({"clauses": ["晋环发〔2023〕1号 (十五); user layer"]})
    assert translate_frame(clauses, "zh").iloc[0, 0] == "晋环发〔2023〕1号 (十五); 用户排除图层"
    both = translate_frame(clauses, "both").iloc[0, 0]
    assert both == "晋环发〔2023〕1号 (十五); 用户排除图层 (user layer)"


def test_phaseout_rejects_in_chinese(tmp_path: Path) -> None:
    src = tmp_path / "equipment.csv"
    src.write_text(
        "设备编号,统一社会信用代码,设备类型,炭化室高度(m),状态\n"
        "E1,F1,焦炉,4.3,在产\nE2,F1,焦炉,4.3,乱写的状态\nE3,F1,焦炉,abc,在产\n",
        encoding="utf-8",
    )
    out = tmp_path / "p"
    _ok("phaseout", "--equipment", str(src), "--out", str(out), "--lang", "zh")
    rows = _csv_cells(out / "rejects.csv")
    assert [(r["编号"], r["问题代码"], r["原因"]) for r in rows] == [
        ("E2", "取值不在规则词表中", "状态的值 '乱写的状态' 不在规则词表中"),
        ("E3", "数值无效", "炭化室高度（米）的值 'abc' 不是非负数"),
    ]


def test_layers_validate_rejects_in_chinese(tmp_path: Path) -> None:
    src = tmp_path / "firms.csv"
    src.write_text(FIRMS, encoding="utf-8")
    rej = tmp_path / "rejects.csv"
    _ok("layers", "validate", str(src), "--crs", "wgs84", "--role", "firms", "--rejects",
        str(rej), "--lang", "zh")  # fmt: skip
    assert [r["原因"] for r in _csv_cells(rej)] == ["坐标缺失或不是数字（'abc', '37.80'）"]


@pytest.mark.parametrize(
    ("reason", "zh"),
    [
        ("coordinates missing or not numbers", "坐标缺失或不是数字"),
        (
            "values such as (4200000.0, 38450000.0) are metres, not degrees, but the declared "
            "CRS cgcs2000 is geographic",
            "数值如（4200000.0, 38450000.0）是米而不是度，但声明的坐标系 cgcs2000 是地理坐标（经纬度）",
        ),
        ("'行业' empty", "“行业”为空"),
        ("'行业' and '行业类别' empty", "“行业”和“行业类别”均为空"),
        (
            "longitude and latitude look swapped: (37.8, 112.5) has a latitude-sized first "
            "value and a longitude-sized second value",
            "经纬度疑似颠倒：（37.8, 112.5）第一个值像纬度，第二个值像经度",
        ),
        (
            "duplicate 统一社会信用代码 'ID7' (first at row 3)",
            "统一社会信用代码“ID7”重复（首次出现在第 3 行），保留首次出现的一条",
        ),
        (
            "duplicate 地块编号 'K1' (first at feature 2)",
            "地块编号“K1”重复（首次出现在第 2 个要素），保留首次出现的一条",
        ),
        ("required field '统一社会信用代码' is empty", "必填字段“统一社会信用代码”为空"),
        ("WKT missing or not readable", "WKT 缺失或无法读取"),
        (
            "capacity_10kt_per_year '9999' is outside the plausible range 1-1000",
            "产能（万吨/年）的值 '9999' 超出合理范围 1-1000",
        ),
        ("status '试生产' is not in the vocabulary", "状态的值 '试生产' 不在规则词表中"),
        ("a reason no pattern knows", "a reason no pattern knows"),  # as written
        ("unknown part; WKT missing or not readable", "unknown part；WKT 缺失或无法读取"),
    ],
)
def test_the_frequent_reject_reasons_in_chinese(reason: str, zh: str) -> None:
    assert translate_reject(reason, "zh") == zh
    assert translate_reject(reason, "en") == reason


# ---- m4: formula cells without a saved value --------------------------------------------


def _formula_book(path: Path) -> None:
    """A workbook as a script writes it (openpyxl): formulas, no saved values."""
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = "企业"
    ws.append(["企业名称", "行业", "经度", "纬度"])
    ws.append(["A", "焦化", "=112+33/60+12.5/3600", "=37+52/60"])
    ws.append(["B", "焦化", 112.5, 37.8])
    ws.append(["C", "焦化", 112.6, '=IF(1=1,"",0)'])
    book.save(path)


def _saved(src: Path, dst: Path, values: dict[str, bytes]) -> None:
    """``src`` as a spreadsheet saves it: each formula cell with its value."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename.startswith("xl/worksheets/"):
                for ref, v in values.items():
                    data = re.sub(
                        rb'(<c r="'
                        + ref.encode()
                        + rb'"[^>]*?)(/?)>(<f>.*?</f>)(<v\s*/>|<v></v>)?',
                        lambda m, v=v: m.group(1) + b">" + m.group(3) + b"<v>" + v + b"</v>",
                        data,
                    )
            zout.writestr(item, data)


def test_formula_cells_without_saved_values_are_named_with_the_fix(tmp_path: Path) -> None:
    src = tmp_path / "firms.xlsx"
    _formula_book(src)
    assert unsaved_formulas(src, "企业") == ["C2", "D2", "D4"]
    out = tmp_path / "o"
    res = _cli("firms", "--firms", str(src), "--crs", "wgs84", "--builtup",
               "builtup_demonstration", "--out", str(out))  # fmt: skip
    assert res.exit_code == 2, res.output
    said = " ".join(res.output.split())
    assert (
        "sheet '企业', cell(s) C2, D2, D4: a formula with no saved value (the workbook was " in said
    )
    assert "written by a program and never opened)" in said
    assert "Fix: open and save it in Excel/WPS" in said
    assert "coordinates missing" not in said and "Traceback" not in said
    assert not out.exists()


def test_formula_cells_with_saved_values_are_read(tmp_path: Path) -> None:
    src = tmp_path / "script.xlsx"
    _formula_book(src)
    dst = tmp_path / "saved.xlsx"
    _saved(src, dst, {"C2": b"112.55347222", "D2": b"37.866666667", "D4": b"37.9"})
    assert unsaved_formulas(dst, "企业") == []
    assert unsaved_formulas(dst, 0) == []
    out = tmp_path / "o"
    _ok("firms", "--firms", str(dst), "--crs", "wgs84", "--builtup", "builtup_demonstration",
        "--out", str(out))  # fmt: skip
    rows = _csv_cells(out / "firm_zones.csv")
    assert [r["name"] for r in rows] == ["A", "B", "C"]
    assert _csv_cells(out / "rejects.csv") == []


def test_a_formula_saved_as_empty_text_is_saved(tmp_path: Path) -> None:
    """Excel saves ``=IF(...,"",...)`` as ``t="str"`` with an empty value: that is a value."""
    src = tmp_path / "script.xlsx"
    _formula_book(src)
    with zipfile.ZipFile(src) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    sheet = re.sub(
        rb'<c r="D4"([^>]*)>(<f>.*?</f>)(<v\s*/>|<v></v>)?', rb'<c r="D4" t="str">\2<v></v>', sheet
    )
    dst = tmp_path / "str.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = sheet if item.filename == "xl/worksheets/sheet1.xml" else zin.read(item)
            zout.writestr(item, data)
    assert unsaved_formulas(dst, "企业") == ["C2", "D2"]


def test_no_nan_text_in_any_table_of_the_three_screens(tmp_path: Path) -> None:
    """Firms outside the province, of an unknown industry and beyond every built-up area;
    parcels over three control units, outside every unit, and a point; candidates outside
    the province and a landfill (wind): no cell of any CSV or XLSX says nan/inf/<NA>."""
    firms = tmp_path / "firms.csv"
    firms.write_text(
        "企业名称,行业,经度,纬度\nA,焦化,112.55,37.87\nH,焦化,113.65,34.76\nU,卖菜,112.60,37.90\n"
        "M,火电,111.0,40.5\n",
        encoding="utf-8",
    )
    _ok("firms", "--firms", str(firms), "--crs", "wgs84", "--builtup", "builtup_demonstration",
        "--out", str(tmp_path / "f"))  # fmt: skip
    projects = tmp_path / "projects.csv"
    projects.write_text(
        "project_id,industry,kind,WKT\n"
        'P1,coking,new,"POLYGON((112.28 37.55,112.35 37.55,112.35 37.60,112.28 37.60,'
        '112.28 37.55))"\n'
        'P2,pv,new,"POLYGON((113.60 34.70,113.62 34.70,113.62 34.72,113.60 34.72,113.60 34.70))"\n'
        'P3,pv,new,"POINT(112.3 37.56)"\n',
        encoding="utf-8",
    )
    _ok("check", "--projects", str(projects), "--crs", "wgs84", "--out", str(tmp_path / "c"),
        "--reports", "none")  # fmt: skip
    rows = {r["project_id"]: r for r in _csv_cells(tmp_path / "c" / "site_check.csv")}
    assert rows["P1"]["unit_overlap_pct"] == "0.859;95.741;3.4"  # three units, joined
    assert rows["P2"]["unit_overlap_pct"] == "" and rows["P3"]["unit_overlap_pct"] == ""
    cands = tmp_path / "cands.csv"
    cands.write_text(
        "地块编号,地块类型,WKT\n"
        'K1,采煤沉陷区,"POLYGON((111.90 38.75,111.91 38.75,111.91 38.76,111.90 38.76,'
        '111.90 38.75))"\n'
        'K9,废弃矿山,"POLYGON((113.60 34.70,113.62 34.70,113.62 34.72,113.60 34.72,113.60 34.70))"\n'
        'K5,已封场垃圾填埋场,"POLYGON((112.50 37.80,112.51 37.80,112.51 37.81,112.50 37.81,'
        '112.50 37.80))"\n',
        encoding="utf-8",
    )
    _ok("sites", "--candidates", str(cands), "--crs", "wgs84", "--tech", "wind", "--out",
        str(tmp_path / "s"))  # fmt: skip
    for sub in ("f", "c", "s"):
        _no_missing_text(tmp_path / sub)
