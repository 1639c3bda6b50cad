"""Audit 11's E18, E12 and E6 for the site check, the siting screen and the phase-out
screen: a file whose every row is rejected leaves rejects.csv with each row and its reason
(exit 2, the commonest reasons and their fix); ``sites --lang zh`` writes the exclusions
sheet's "not assessed" reason and the raster resolution in Chinese; ``--overwrite`` says
which of the previous run's files it removed, for every command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from click.testing import CliRunner
from pyproj import Transformer
from rasterio.transform import from_origin

from sxzones.cli import cli
from sxzones.i18n import translate_note
from sxzones.runs import RunResult

from .conftest import CATALOG

EQUIPMENT_HEAD = (
    "设备编号,统一社会信用代码,企业名称,设备类型,炭化室高度（米）,有效容积（立方米）,"
    "公称容量（吨）,产能（万吨/年）,超低排放,状态,投产时间,产品,炉型\n"
)
SQUARE = "POLYGON ((112.5 37.8, 112.502 37.8, 112.502 37.802, 112.5 37.802, 112.5 37.8))"


def _invoke(*args: str):
    return CliRunner().invoke(cli, [args[0], "--catalog", str(CATALOG), *args[1:]])


def _said(res) -> str:
    return " ".join(res.output.split())


# E18 ------------------------------------------------------------------------------------


def _all_bad(kind: str, t: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """A command on a file every row of which is rejected, and its rejects as (row, reason)."""
    if kind == "check":
        p = t / "p.csv"
        p.write_text(
            "项目编号,项目名称,行业,建设性质,WKT\nB1,甲,风电,新建,POLYGON EMPTY\n"
            'B2,乙,风电,新建,\nB3,丙,风电,新建,"POLYGON ((112.1 37.6, 112.2 37.6"\n',
            "utf-8",
        )
        why = "WKT missing or not readable"
        return ["check", "--projects", str(p), "--crs", "cgcs2000"], [
            ("2", why),
            ("3", why),
            ("4", why),
        ]
    if kind == "sites":
        p = t / "c.csv"
        p.write_text("地块编号,地块类型,WKT\nC1,废弃矿山,POLYGON EMPTY\nC2,废弃矿山,\n", "utf-8")
        why = "WKT missing or not readable"
        args = ["sites", "--candidates", str(p), "--crs", "cgcs2000", "--tech", "pv"]
        return args, [("2", why), ("3", why)]
    if kind == "phaseout-firms":  # the equipment is good, the firm list is not
        (t / "e.csv").write_text(
            EQUIPMENT_HEAD + "K1,F1,甲,焦炉,4.3,,,60,是,在产,2010,,\n", "utf-8"
        )
        p = t / "f.csv"
        p.write_text(
            "统一社会信用代码,企业名称,行业,经度,纬度\nF1,甲,焦化,,\nF2,乙,焦化,,\n", "utf-8"
        )
        why = "coordinates missing or not numbers"
        args = ["phaseout", "--firms", str(p), "--equipment", str(t / "e.csv"), "--crs", "wgs84"]
        return args, [("2", why), ("3", why)]
    p = t / "e.csv"
    p.write_text(
        EQUIPMENT_HEAD + "K1,F1,甲,,4.3,,,60,是,在产,2010,,\n"
        "K2,F1,甲,,4.3,,,60,是,在产,2010,,\nK3,F1,甲,焦炉,abc,,,60,是,在产,2010,,\n",
        "utf-8",
    )
    return ["phaseout", "--equipment", str(p)], [
        ("2", "required field 'equipment_type' is empty"),
        ("3", "required field 'equipment_type' is empty"),
        ("4", "chamber_height_m 'abc' is not a non-negative number"),
    ]


@pytest.mark.parametrize("kind", ["check", "sites", "phaseout", "phaseout-firms"])
def test_a_file_whose_every_row_is_rejected_writes_them_all_to_rejects(tmp_path, kind):
    """Exit 2 with no traceback; the message names the file, how many rows, the commonest
    reason with its fix, and rejects.csv, which holds every row with its reason; the folder
    holds the rejects and their manifest only."""
    args, want = _all_bad(kind, tmp_path)
    out = tmp_path / "o"
    res = _invoke(*args, "--out", str(out))
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    text = _said(res)
    n, name = len(want), Path(args[2]).name
    done = {"check": "checked", "sites": "screened"}.get(kind, "assessed")
    assert (
        f"{name}: no feature passed validation: all {n} rows were rejected, so nothing was {done}."
        in text
    )
    head = {
        "check": f"WKT missing or not readable [field WKT] ({n} rows; fix: write the geometry "
        "as WKT (POLYGON ((x y, ...))))",
        "sites": f"WKT missing or not readable [field WKT] ({n} rows; fix: write the geometry "
        "as WKT (POLYGON ((x y, ...))))",
        "phaseout-firms": "coordinates missing or not numbers [field 经度/纬度] (2 rows; fix: "
        "fill in the coordinates or remove the row)",
        "phaseout": "required field 'equipment_type' is empty [field 设备类型] (2 rows; fix: "
        "fill in the value); chamber_height_m is not a non-negative number in a unit that "
        "converts to m [field 炭化室高度（米）] (1 row; fix: write the number in m",
    }[kind]
    assert f"Commonest reasons: {head}" in text
    assert f"is in {out / 'rejects.csv'}. Fix: " in text
    rej = pd.read_csv(out / "rejects.csv", encoding="utf-8-sig", dtype=str)
    assert list(zip(rej["source_row"], rej["reason"], strict=True)) == want
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "rejects.csv"]


def test_candidates_all_rejected_as_parts_write_them_all_to_rejects(tmp_path):
    """Rows that pass validation but not as parts (an id on two kinds; a part beside a
    rejected one) leave no candidate: refused as validation refuses, every row in rejects."""
    sq = "POLYGON (({x} 37.8, {y} 37.8, {y} 37.802, {x} 37.802, {x} 37.8))"
    rows = [
        ("C1", "废弃矿山", "是", sq.format(x=112.5, y=112.502)),
        ("C1", "污染地块", "是", sq.format(x=112.6, y=112.602)),
        ("C2", "废弃矿山", "是", sq.format(x=112.7, y=112.702)),
        ("C2", "废弃矿山", "是", ""),
        ("C3", "废弃矿山", "是", sq.format(x=112.8, y=112.802)),
        ("C3", "废弃矿山", "是", "POINT (112.9 37.8)"),
        ("C3", "废弃矿山", "是", ""),
    ]
    p = tmp_path / "c.csv"
    pd.DataFrame(rows, columns=["地块编号", "地块类型", "是否稳沉", "WKT"]).to_csv(p, index=False)
    out = tmp_path / "o"
    args = ["sites", "--candidates", str(p), "--crs", "cgcs2000", "--tech", "pv", "--out"]
    res = _invoke(*args, str(out), "--lang", "zh")
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert "c.csv: no feature passed validation: all 7 rows were rejected" in _said(res)
    rej = pd.read_csv(out / "rejects.csv", encoding="utf-8-sig", dtype=str)
    assert rej["原始行号"].tolist() == ["2", "3", "4", "5", "6", "7", "8"]
    # the rejected parts in order, the first one's reason
    assert rej["原因"].iloc[4] == (
        "地块编号“C3”的另一部分（第 7、8 行）已被剔除（几何类型 Point 不适用于“candidates”图层"
        "（允许：polygon））：不能只凭部分用地研判该候选地块。请更正第 7、8 行"
    )
    assert rej["原因"].tolist()[2:4] == [
        "地块编号“C2”的另一部分（第 5 行）已被剔除（WKT 缺失或无法读取）：不能只凭部分用地研判"
        "该候选地块。请更正第 5 行",
        "WKT 缺失或无法读取",
    ]
    assert (
        rej["原因"].iloc[0].startswith("地块编号“C1”还出现在第 3 行，以上各行不能构成同一候选地块")
    )


def test_all_rejected_rejects_are_written_in_the_language_asked(tmp_path):
    args, want = _all_bad("check", tmp_path)
    res = _invoke(*args, "--out", str(tmp_path / "o"), "--lang", "zh")
    assert res.exit_code == 2, res.output
    rej = pd.read_csv(tmp_path / "o" / "rejects.csv", encoding="utf-8-sig", dtype=str)
    assert rej["原始行号"].tolist() == [r for r, _ in want]
    assert set(rej["原因"]) == {"WKT 缺失或无法读取"}


def test_one_project_given_with_project_is_still_refused_on_the_screen_only(tmp_path):
    """--project (one project, no file of rows): nothing written, as before."""
    out = tmp_path / "o"
    res = _invoke(
        "check", "--project", "POINT EMPTY", "--crs", "wgs84", "--industry", "pv", "--out",
        str(out),
    )  # fmt: skip
    assert res.exit_code == 2 and "no feature passed validation" in res.output
    assert not out.exists()


# E12 ------------------------------------------------------------------------------------


def _dem(path: Path) -> Path:
    """A flat 40 x 40 DEM of 30 m cells (UTM 49N) around the candidate."""
    x, y = Transformer.from_crs(4490, 32649, always_xy=True).transform(112.5, 37.8)
    with rasterio.open(
        path, "w", driver="GTiff", width=40, height=40, count=1, dtype="float32",
        crs="EPSG:32649", transform=from_origin(x - 600, y + 600, 30, 30), nodata=-9999.0,
    ) as ds:  # fmt: skip
        ds.write(np.full((40, 40), 1000.0, dtype=np.float32), 1)
    return path


def _sites_zh_en(t: Path) -> dict[str, Path]:
    cand = t / "c.csv"
    cand.write_text(f'地块编号,地块类型,是否稳沉,WKT\nC1,废弃矿山,是,"{SQUARE}"\n', "utf-8")
    dem = _dem(t / "dem.tif")
    outs = {}
    for lang in ("en", "zh"):
        outs[lang] = t / f"o-{lang}"
        res = _invoke(
            "sites", "--candidates", str(cand), "--crs", "cgcs2000", "--tech", "pv", "--dem",
            str(dem), "--out", str(outs[lang]), "--lang", lang,
        )  # fmt: skip
        assert res.exit_code == 0, res.output
    return outs


def test_sites_zh_writes_why_not_assessed_and_the_raster_in_chinese(tmp_path):
    outs = _sites_zh_en(tmp_path)
    cat = CATALOG.name
    en = pd.read_excel(outs["en"] / "eligible_sites.xlsx", sheet_name=None, engine="openpyxl")
    zh = pd.read_excel(outs["zh"] / "eligible_sites.xlsx", sheet_name=None, engine="openpyxl")
    why_en = en["exclusions"].dropna(subset=["why"]).set_index("reason")["why"].to_dict()
    assert why_en["basic_farmland"] == f"no layer with role 'farmland' in {cat}"  # English as was
    why_zh = zh["排除项"].dropna(subset=["未评估原因"]).set_index("原因")["未评估原因"].to_dict()
    assert why_zh["永久基本农田"] == f"{cat} 中没有角色为 farmland（永久基本农田）的图层"
    assert why_zh["基本草原"] == f"{cat} 中没有角色为 grassland（基本草原）的图层"
    assert why_zh["自然保护地"] == f"{cat} 中没有角色为 protected_areas（自然保护地）的图层"
    # the DEM's cell size in metres on the ground (30 m cells of UTM 49N, read in the
    # working CRS): the raster's name in Chinese, the number as the English table has it
    t_en = pd.read_csv(outs["en"] / "eligible_sites.csv", encoding="utf-8-sig", dtype=str)
    t_zh = pd.read_csv(outs["zh"] / "eligible_sites.csv", encoding="utf-8-sig", dtype=str)
    res_en = t_en.loc[0, "raster_resolution_m"]
    assert res_en.startswith("slope ") and float(res_en.split()[1]) == pytest.approx(30, abs=0.1)
    assert t_zh.loc[0, "栅格分辨率（米）"] == "坡度（DEM）" + res_en.split()[1]
    assert zh["地块"].loc[0, "栅格分辨率（米）"] == "坡度（DEM）" + res_en.split()[1]


def test_siting_cells_by_the_note_patterns_in_each_language():
    why = "no layer with role 'farmland' in catalog.toml"
    assert translate_note(why, "en") == why
    assert translate_note(why, "zh") == "catalog.toml 中没有角色为 farmland（永久基本农田）的图层"
    assert translate_note(why, "both") == (
        f"catalog.toml 中没有角色为 farmland（永久基本农田）的图层 ({why})"
    )
    two = "slope 30.012; resource_ghi 1000"
    assert translate_note(two, "zh") == "坡度（DEM）30.012；资源栅格 ghi 1000"
    assert translate_note("a role nobody knows", "zh") == "a role nobody knows"


# E6 -------------------------------------------------------------------------------------


def _e6_args(kind: str, t: Path) -> list[str]:
    if kind == "check":
        return ["check", "--project", "POINT (112.5 37.8)", "--crs", "cgcs2000", "--industry", "pv"]
    if kind == "sites":
        (t / "c.csv").write_text(
            f'地块编号,地块类型,是否稳沉,WKT\nC1,废弃矿山,是,"{SQUARE}"\n', "utf-8"
        )
        return ["sites", "--candidates", str(t / "c.csv"), "--crs", "cgcs2000", "--tech", "pv"]
    (t / "e.csv").write_text(EQUIPMENT_HEAD + "K1,F1,甲,焦炉,4.3,,,60,是,在产,2010,,\n", "utf-8")
    (t / "f.csv").write_text(
        "统一社会信用代码,企业名称,行业,经度,纬度\nF1,甲,焦化,112.5,37.8\n", "utf-8"
    )
    return ["phaseout", "--equipment", str(t / "e.csv"), "--firms", str(t / "f.csv"), "--crs",
            "cgcs2000"]  # fmt: skip


@pytest.mark.parametrize("kind", ["check", "sites", "phaseout"])
def test_overwrite_says_it_removed_the_previous_runs_map(tmp_path, kind):
    args, out = _e6_args(kind, tmp_path), tmp_path / "o"
    res = _invoke(*args, "--out", str(out), "--map", str(out / "map.html"))
    assert res.exit_code == 0, res.output
    assert (out / "map.html").is_file() and "  removed " not in res.output
    res = _invoke(*args, "--out", str(out), "--overwrite")  # no map this time
    assert res.exit_code == 0, res.output
    assert not (out / "map.html").exists()
    line = f"  removed {out / 'map.html'} (the previous run's; this run does not write it)"
    assert line in res.output.splitlines()


def test_a_batchs_many_removed_files_are_said_in_one_line(tmp_path):
    removed = [tmp_path / f"report-P{i:02d}.html" for i in range(30)]
    said = str(RunResult("check", [], "", removed=removed)).splitlines()
    assert said[0] == (f"  removed {removed[0]} (the previous run's; this run does not write it)")
    assert len(said) == 11
    assert said[-1] == (
        f"  removed 20 more of the previous run's files in {tmp_path} "
        "(this run does not write them)"
    )
    short = str(RunResult("check", [], "", removed=removed[:12])).splitlines()
    assert len(short) == 12
