"""A site check's ``geometry_note`` in Chinese under ``--lang zh`` (the CSV cell and the
printable report): the parts of a project, blank cells filled or read as new, how a 界址点
table's corners were joined, a repaired geometry, the Xi'an 1980 caveat and the 100 m
margins; English unchanged. Each test runs the check on a small file and reads the cell."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner

from sxzones.cli import cli
from sxzones.i18n import translate_note, translate_reject

#: Two parts of P5 (化工 and chemical agree), the second with a blank 建设性质; one project
#: whose kind is blank; a bow-tie parcel that repair makes valid.
PARTS = (
    "项目编号,行业,建设性质,WKT\n"
    'P5,化工,新建,"POLYGON((112.30 37.93,112.305 37.93,112.305 37.935,112.30 37.935,'
    '112.30 37.93))"\n'
    'P5,chemical,,"POLYGON((112.31 37.93,112.315 37.93,112.315 37.935,112.31 37.935,'
    '112.31 37.93))"\n'
    'K1,焦化,,"POLYGON((112.40 37.93,112.405 37.93,112.405 37.935,112.40 37.935,'
    '112.40 37.93))"\n'
    'B1,化工,新建,"POLYGON((112.30 37.90,112.305 37.905,112.305 37.90,112.30 37.905,'
    '112.30 37.90))"\n'
)
#: A 界址点成果表 whose rows list J5 before J4; its 边长 rows fit the point numbers' order.
SWAPPED = (
    "\ufeff地块编号,点号,X,Y,边长\n"
    "D1,J1,4200000.000,38450000.000,\n,,,,400.00\n"
    "D1,J2,4200000.000,38450400.000,\n,,,,400.00\n"
    "D1,J3,4200400.000,38450400.000,\n,,,,223.61\n"
    "D1,J5,4200400.000,38450000.000,\n,,,,223.61\n"
    "D1,J4,4200300.000,38450200.000,\n,,,,400.00\n"
    "D1,J1,4200000.000,38450000.000,\n"
)


def _check(tmp_path: Path, name: str, text: str, *args: str, lang: str = "zh") -> Path:
    src = tmp_path / name
    src.write_text(text, encoding="utf-8")
    out = tmp_path / f"out-{lang}-{name}"
    res = CliRunner().invoke(
        cli,
        ["check", "--projects", str(src), "--out", str(out), "--lang", lang, *args],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    return out


def _notes(out: Path, lang: str = "zh") -> dict[str, str]:
    """Each project's note in the CSV, by its id."""
    pid, note = ("项目编号", "几何说明") if lang == "zh" else ("project_id", "geometry_note")
    with (out / "site_check.csv").open(encoding="utf-8-sig", newline="") as fh:
        return {r[pid]: r[note] for r in csv.DictReader(fh)}


def test_parts_blank_kind_and_repair_in_chinese(tmp_path: Path) -> None:
    out = _check(tmp_path, "parts.csv", PARTS, "--crs", "cgcs2000")
    notes = _notes(out)
    assert notes["P5"] == (
        "同一项目的 2 个部分（第 2、3 行）；第 3 行：建设性质为空：按新建研判（最严格的读法）"
    )
    assert notes["K1"] == "建设性质为空：按新建研判（最严格的读法）"
    assert notes["B1"] == "几何无效，已用 make_valid 修复（自相交[112.3025 37.9025]）"
    report = (out / "report-P5.html").read_text(encoding="utf-8")
    assert notes["P5"] in report and "one project of" not in report
    en = _notes(_check(tmp_path, "parts.csv", PARTS, "--crs", "cgcs2000", lang="en"), "en")
    assert en["P5"] == (
        "one project of 2 parts (rows 2 and 3); row 3: 建设性质 blank: checked as new (新建), "
        "the strictest reading"
    )
    assert en["B1"] == (
        "invalid geometry repaired: invalid geometry repaired with make_valid "
        "(Self-intersection[112.3025 37.9025])"
    )


def test_an_id_written_two_ways_in_chinese() -> None:
    note = "one project of 2 parts (rows 14 and 15; 项目编号 'p7' (also written 'P7'))"
    assert (
        translate_note(note, "zh")
        == "同一项目的 2 个部分（第 14、15 行；项目编号“p7”，又写作“P7”）"
    )
    assert translate_note(note, "both").endswith(f" ({note})")
    assert translate_note(note, "en") == note


def test_blank_cells_filled_by_kind_and_industry_in_chinese(tmp_path: Path) -> None:
    text = "项目编号,行业,建设性质,经度,纬度\nK1,焦化,,112.484,38.06\nK2,,迁建,112.484,38.06\n"
    out = _check(tmp_path, "kinds.csv", text, "--crs", "cgcs2000", "--kind", "迁建",
                 "--industry", "焦化")  # fmt: skip
    notes = _notes(out)
    assert notes["K1"] == "建设性质为空：按对所有项目统一给定的建设性质“迁建”研判"
    assert notes["K2"] == "行业为空：按对所有项目统一给定的行业“焦化”研判"


def test_corner_order_in_chinese(tmp_path: Path) -> None:
    args = ("--corners", "--crs", "gk38", "--industry", "焦化")
    notes = _notes(_check(tmp_path, "swap.csv", SWAPPED, *args))
    assert notes["D1"] == (
        "界址点按点号顺序连接（地块 D1）：按点号（点号）为 J1 J2 J3 J4 J5 J1，139,991.45 平方米，"
        "其 5 条边长行与各边均相符；按行序为 J1 J2 J3 J5 J4 J1，119,992.69 平方米，而这 5 条边中有 "
        "2 条不符：第 7 行记为 223.61，J3-J5 实为 400.00；第 11 行记为 400，J4-J1 实为 360.56。"
        "边长行是成果表自身对边界的记录，故采用点号顺序。如行序才是正确顺序，请更正边长行"
    )
    en = _notes(_check(tmp_path, "swap.csv", SWAPPED, *args, lang="en"), "en")
    assert en["D1"].startswith("corners joined in point-number order for parcel D1: by point")


def test_rows_order_kept_in_chinese() -> None:
    note = (
        "corners joined in row order for parcel D1: the rows go J1 J2 J3 J5 J4 J1, "
        "139,991.45 m²; by point number (点号) J1 J2 J3 J4 J5 J1 would make another parcel, "
        "119,992.69 m². A 界址点成果表 lists its corners along the boundary, so the rows' order "
        "was kept. Fix, if the point numbers give the order: sort the rows by 点号"
    )
    assert translate_note(note, "zh") == (
        "界址点按行序连接（地块 D1）：按行序为 J1 J2 J3 J5 J4 J1，139,991.45 平方米；按点号（点号）"
        "为 J1 J2 J3 J4 J5 J1，将构成另一地块，119,992.69 平方米。界址点成果表沿边界顺序列出界址点，"
        "故保留行序。如点号给出的才是顺序，请按点号排序"
    )


def test_xian80_caveat_and_margins_in_chinese(tmp_path: Path) -> None:
    # 20 m outside the red line and 20 m inside it (R20), in Xi'an 1980 degrees
    text = "项目编号,行业,经度,纬度\nR-20,化工,110.50650133,38.19725880\nR20,化工,110.50695795,38.19726071\n"
    notes = _notes(_check(tmp_path, "rl.csv", text, "--crs", "xian80"))
    caveat = "西安1980坐标：转换到 CGCS2000 为近似值（误差可达数十米）"
    border = "本方案适用的山西省边界，相距不足 100 米"
    assert notes["R-20"] == (
        f"{caveat}；在西安1980近似误差（100 米）范围内的：生态保护红线，相距不足 100 米"
        f"（site_redline）；优先保护单元，相距不足 100 米（site_priority_unit_heavy）；{border}"
        "：请以 CGCS2000 坐标核实"
    )
    assert notes["R20"] == (
        f"{caveat}；在西安1980近似误差（100 米）范围内的：位于生态保护红线内，深入不足 100 米"
        "（site_redline）；位于优先保护单元内，深入不足 100 米（site_priority_unit_heavy）；"
        f"{border}：请以 CGCS2000 坐标核实"
    )


def test_a_note_no_pattern_fits_stays_as_written() -> None:
    assert translate_note("something new; 建设性质 blank: checked as new (新建), the "
                          "strictest reading", "zh") == (
        "something new；建设性质为空：按新建研判（最严格的读法）"
    )  # fmt: skip


#: Q1's rows name different industries (row 3's WKT unreadable too); Q2's second part is
#: unreadable; Z9 is checked.
PARTS_REJECTED = (
    "项目编号,行业,建设性质,WKT\n"
    'Q1,化工,新建,"POLYGON((112.30 37.90,112.305 37.90,112.305 37.905,112.30 37.905,'
    '112.30 37.90))"\n'
    'Q1,焦化,新建,"POLYGON((112.31"\n'
    'Q1,化工,新建,"POLYGON((112.32 37.90,112.325 37.90,112.325 37.905,112.32 37.905,'
    '112.32 37.90))"\n'
    'Q2,化工,新建,"POLYGON((112.30 37.92,112.305 37.92,112.305 37.925,112.30 37.925,'
    '112.30 37.92))"\n'
    'q2,化工,新建,"POLYGON((112.31 37.92"\n'
    'Z9,化工,新建,"POLYGON((112.40 37.90,112.405 37.90,112.405 37.905,112.40 37.905,'
    '112.40 37.90))"\n'
)


def test_parts_rejected_reasons_in_chinese(tmp_path: Path) -> None:
    out = _check(tmp_path, "q.csv", PARTS_REJECTED, "--crs", "cgcs2000")
    with (out / "rejects.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = {int(r["原始行号"]): r for r in csv.DictReader(fh)}
    differ = "行业不同（第 2 行：化工，第 3 行：焦化，第 4 行：化工）"
    assert rows[2]["原因"] == (
        f"项目编号“Q1”还出现在第 3、4 行，以上各行不能构成同一项目：{differ}。如为同一项目的"
        "各部分，请使其行业和建设性质一致（并给出地块而不是点）；如为不同项目，请各给独立的"
        "项目编号（第 3 行也须另行更正）"
    )
    assert rows[3]["原因"] == (
        f"WKT 缺失或无法读取；此外，项目编号“Q1”还出现在第 2、4 行，以上各行不能构成同一项目"
        f"（{differ}）：如为不同项目，请各给独立的项目编号"
    )
    assert rows[5]["原因"] == (
        "项目编号“Q2”的另一部分（第 6 行）已被剔除（WKT 缺失或无法读取）：不能只凭部分用地"
        "研判该项目。请更正第 6 行"
    )
    assert rows[5]["问题代码"] == "同一编号的另一部分被剔除，本部分不单独研判"


def test_points_and_a_point_beside_a_parcel_in_chinese() -> None:
    fix = (
        "Fix: if the rows are parts of one project, give them the same industry and kind (and "
        "its parcels, not points); if they are different projects, give each its own 项目编号"
    )
    points = (
        "项目编号 'P1' is also given on row 3, and the rows cannot be one project: points, and "
        f"a project's site is not several points. {fix}"
    )
    mixed = (
        "项目编号 'p4' (also written 'P4') is also given on row 9, and the rows cannot be one "
        f"project: a point and a parcel. {fix}"
    )
    tail = "如为同一项目的各部分，请使其行业和建设性质一致（并给出地块而不是点）；如为不同项目，请各给独立的项目编号"
    assert translate_reject(points, "zh") == (
        f"项目编号“P1”还出现在第 3 行，以上各行不能构成同一项目：均为点，而项目的用地不是多个点。{tail}"
    )
    assert translate_reject(mixed, "zh") == (
        f"项目编号“p4”（又写作“P4”）还出现在第 9 行，以上各行不能构成同一项目：既有点又有地块。{tail}"
    )
    assert translate_reject(points, "en") == points
