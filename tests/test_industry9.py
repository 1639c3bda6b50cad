"""Industry words and codes read together, firm ids compared as the phase-out join compares
them, and distance rules that keep the plan's distance (audit 9: C2, C4, C5, C9).

Every case runs through real files and the command line where the finding was found there;
distances at the 20 km edge are checked against ``pyproj.Geod``.
"""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Geod, Transformer

from sxzones.analyses.firm_zones import (
    resolve_industries,
    resolve_industries_noted,
    screen_firms,
    summarise,
)
from sxzones.cli import cli
from sxzones.layers import read_file, validate_layer
from sxzones.rules import load_rules
from sxzones.vocab import id_key

RULES = load_rules()
VOCAB = RULES.industries
GEOD = Geod(ellps="GRS80")
WORK = 4546
TO_LL = Transformer.from_crs(WORK, 4490, always_xy=True)
TO_XY = Transformer.from_crs(4490, WORK, always_xy=True)
# inside 太原市建成区 (the demonstration layer), in the Taiyuan region
TAIYUAN = ("112.5534", "37.8695")


def _write(path, header, rows, encoding="utf-8"):
    with open(path, "w", newline="", encoding=encoding) as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _rows(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def _firms_cli(tmp_path, path, *extra):
    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli,
        [
            "firms", "--firms", str(path), "--crs", "wgs84", "--builtup", "builtup_demonstration",
            "--format", "csv", "--out", str(out), *extra,
        ],
    )  # fmt: skip
    return res, out


# --- C2: a 行业 and a 行业代码 column that name different industries ---------------------


def test_words_and_code_columns_are_read_as_one_cell_is():
    """The two columns follow the rule a single cell follows (``焦化(3011)``): the same
    industry is read; a code that is a part of the words' industry (有色, 3216 电解铝) is the
    code's; a combined works keeps its industries; different industries are unrecognised
    with a note naming both values; a blank or unknown one leaves the other to decide."""
    frame = pd.DataFrame(
        {
            "industry": ["焦化", "焦化", "化工", "钢铁", "水泥", "有色", "钢铁、焦化", "", "炼焦",
                         "钢铁", "黑色金属冶炼和压延加工业", "焦化(3011)"],
            "industry_code": ["2521", "3011", "2521", "2521.0", "C2614", "3216", "3110", "2521",
                              "", "1310", "C3110", ""],
        }
    )  # fmt: skip
    frame.attrs["sxzones"] = {"fields": {"industry": "行业", "industry_code": "行业代码"}}
    ids, status, notes = resolve_industries_noted(frame, VOCAB)
    assert ids.tolist() == [
        "coking", "", "", "", "", "electrolytic_aluminium", "steel;coking", "coking",
        "coking", "steel", "steel", "",
    ]  # fmt: skip
    assert status.tolist() == [
        "recognised", "unrecognised", "unrecognised", "unrecognised", "unrecognised",
        "recognised", "recognised", "recognised", "recognised", "recognised", "recognised",
        "unrecognised",
    ]  # fmt: skip
    assert notes[1] == (
        "行业 '焦化' (coking) and 行业代码 '3011' (cement, 水泥制造) name different industries: "
        "correct the one that is wrong"
    )
    # the code Excel made a number is read as the code: 钢铁 and 2521 (coking) disagree
    assert notes[3].startswith("行业 '钢铁' (steel) and 行业代码 '2521' (coking, 炼焦)")
    assert "行业代码 'C2614' (chemical" in notes[4]
    assert (
        notes[9]
        == "行业代码 '1310' is not a code the rules list: the industry is read from 行业 '钢铁'"
    )
    assert [n for k, n in enumerate(notes) if k not in (1, 2, 3, 4, 9)] == [""] * 7
    assert resolve_industries(frame, VOCAB)[0].tolist() == ids.tolist()


def test_a_code_excel_made_a_number_is_the_code():
    """A float column (a workbook's number cells: 2521.0) is read as the codes it holds."""
    frame = pd.DataFrame(
        {"industry": ["焦化", "钢铁", None], "industry_code": [2521.0, 3110.0, 4416.0]}
    )
    ids, status, notes = resolve_industries_noted(frame, VOCAB)
    assert ids.tolist() == ["coking", "steel", "pv"]
    assert set(status) == {"recognised"} and set(notes) == {""}


def test_the_code_in_a_cell_beside_a_wider_industry():
    """In one cell too, a code that is a part of the words' industry is read (有色 names
    electrolytic aluminium's parent), and different industries stay unrecognised."""
    assert VOCAB.resolve("有色(3216)") == "electrolytic_aluminium"
    assert VOCAB.resolve("焦化(3011)") is None
    assert VOCAB.resolve("炼焦（2521）") == "coking"


def test_firms_contradiction_unrecognised_and_counted(tmp_path):
    """The auditor's table (code_contra3.csv): 焦化/3011 was cement, 化工/2521 coking, 钢铁/2521.0
    steel, 水泥/C2614 chemical, all recognised. Each is now unrecognised, named by no rule,
    with the note in the table and the summary; 焦化/2521 stays coking, named by clause 四."""
    p = _write(
        tmp_path / "code_contra3.csv",
        ["统一社会信用代码", "企业名称", "行业", "行业代码", "经度", "纬度"],
        [
            ["Y1", "某焦化", "焦化", "3011", *TAIYUAN],
            ["Y2", "某化工", "化工", "2521", *TAIYUAN],
            ["Y3", "某钢铁", "钢铁", "2521.0", *TAIYUAN],
            ["Y4", "某水泥", "水泥", "C2614", *TAIYUAN],
            ["Y5", "某焦化", "焦化(3011)", "", *TAIYUAN],
            ["Y6", "某焦化", "焦化", "2521.0", *TAIYUAN],
        ],
    )
    res, out = _firms_cli(tmp_path, p)
    assert res.exit_code == 0, res.output
    rows = {r["firm_id"]: r for r in _rows(out / "firm_zones.csv")}
    for fid in ("Y1", "Y2", "Y3", "Y4", "Y5"):
        assert rows[fid]["industry_status"] == "unrecognised", fid
        assert rows[fid]["industry_id"] == "" and rows[fid]["rule_ids"] == "", fid
    assert rows["Y1"]["industry_note"] == (
        "行业 '焦化' (coking) and 行业代码 '3011' (cement, 水泥制造) name different industries: "
        "correct the one that is wrong"
    )
    assert rows["Y6"]["industry_id"] == "coking" and rows["Y6"]["industry_note"] == ""
    assert rows["Y6"]["rule_ids"] == "relocate_inside_builtup;deep_treatment_20km"
    assert "industry: recognised 1, unrecognised 5, missing 0" in res.output
    assert "1 firm(s): 行业 '焦化' (coking) and 行业代码 '3011' (cement, 水泥制造)" in res.output
    assert "'焦化(3011)' (1)" in res.output  # the in-cell case, as before
    res, out = _firms_cli(tmp_path, p, "--lang", "zh", "--overwrite")
    assert res.exit_code == 0, res.output
    zh = _rows(out / "firm_zones.csv")[0]
    assert zh["行业说明"] == (
        "行业“焦化”（coking）与行业代码“3011”（cement, 水泥制造）所指行业不同：请更正有误的一项"
    )


def test_summary_sheet_says_how_to_correct_a_contradiction(tmp_path):
    from sxzones.analyses.firm_zones import summary_by_city

    bu = _square_builtup()
    f = _points([[500500.0, 4000500.0], [500600.0, 4000500.0]], ["焦化", "焦化"])
    f["industry_code"] = ["4416", "2521"]
    sheet = summary_by_city(screen_firms(f, bu, RULES, threads=1))
    bad = sheet[sheet["industry_status"] == "unrecognised"]
    assert len(bad) == 1 and "name different industries" in bad["industry_id"].iloc[0]
    assert bad["how_to_map"].iloc[0] == (
        "correct the industry or its code in the file: they name different industries"
    )


def _check_cli(tmp_path, path, *extra):
    out = tmp_path / "oc"
    res = CliRunner().invoke(
        cli,
        ["check", "--projects", str(path), "--crs", "wgs84", "--out", str(out),
         "--reports", "none", *extra],
    )  # fmt: skip
    return res, out


def test_check_contradiction_is_unassessed_with_its_reason(tmp_path):
    """proj_code_contra.csv: Q3 焦化 coded 4416 (solar) in downtown 太原 was ``clear`` (read as
    PV from its code); now ``unassessed`` with the reason naming both. Q4 焦化/2521 agrees:
    ``conflict`` as before (a new coking plant inside a built-up area)."""
    p = _write(
        tmp_path / "proj_code_contra.csv",
        ["项目编号", "行业", "行业代码", "经度", "纬度"],
        [
            ["Q1", "化工", "2521", *TAIYUAN],
            ["Q2", "光伏", "2521", *TAIYUAN],
            ["Q3", "焦化", "4416", *TAIYUAN],
            ["Q4", "焦化", "2521", *TAIYUAN],
        ],
    )
    res, out = _check_cli(tmp_path, p)
    assert res.exit_code == 0, res.output
    rows = {r["project_id"]: r for r in _rows(out / "site_check.csv")}
    assert [rows[q]["verdict"] for q in ("Q1", "Q2", "Q3", "Q4")] == [
        "unassessed", "unassessed", "unassessed", "conflict",
    ]  # fmt: skip
    reason = (
        "行业 '焦化' (coking) and 行业代码 '4416' (pv, 太阳能发电) name different industries: "
        "correct the one that is wrong"
    )
    assert rows["Q3"]["unassessed_reason"] == reason
    assert f"Q3: unassessed; {reason}" in res.output
    assert "unassessed 3" in res.output
    res, out = _check_cli(tmp_path, p, "--lang", "zh", "--overwrite")
    assert res.exit_code == 0, res.output
    zh = _rows(out / "site_check.csv")[2]
    assert (
        "行业“焦化”（coking）与行业代码“4416”（pv, 太阳能发电）所指行业不同：请更正有误的一项"
        in (zh.values())
    )


# --- C5: 国民经济行业代码 and its kin ---------------------------------------------------


@pytest.mark.parametrize(
    "name", ["国民经济行业代码", "国民经济行业分类代码", "行业分类代码", "所属行业代码"]
)
def test_code_column_names_are_read(tmp_path, name):
    p = _write(tmp_path / "f.csv", ["企业名称", "行业类别", name, "经度", "纬度"],
               [["甲", "", "2521", *TAIYUAN], ["乙", "焦化", "C2521", *TAIYUAN]])  # fmt: skip
    f, rep = validate_layer(read_file(p, crs="wgs84"), "firms", working_crs=WORK)
    assert f["industry_code"].tolist() == ["2521", "C2521"]
    assert rep.n_rejected == 0
    assert f"field {name} read as industry_code" in rep.summary()


def test_a_firm_with_only_its_code_is_screened_by_it(tmp_path):
    """code_contra.csv: X3 (行业类别 empty, 国民经济行业代码 2521) was rejected "'行业类别' empty";
    X1 化工 with 2521 had its code ignored (the text won, the code column unread)."""
    p = _write(
        tmp_path / "code_contra.csv",
        ["统一社会信用代码", "企业名称", "行业类别", "国民经济行业代码", "经度", "纬度"],
        [["X1", "某化工", "化工", "2521", *TAIYUAN], ["X3", "某焦化", "", "2521", *TAIYUAN]],
    )
    res, out = _firms_cli(tmp_path, p)
    assert res.exit_code == 0, res.output
    rows = {r["firm_id"]: r for r in _rows(out / "firm_zones.csv")}
    assert rows["X3"]["industry_id"] == "coking" and rows["X3"]["zone"] == "inside"
    assert rows["X3"]["rule_ids"] == "relocate_inside_builtup;deep_treatment_20km"
    assert rows["X1"]["industry_status"] == "unrecognised"
    assert _rows(out / "rejects.csv") == []
    assert "input rows 2 = screened 2 + rejected 0" in res.output


def test_an_unread_code_column_is_named_with_its_fix(tmp_path):
    """Two code columns (neither chosen), or a name not among the usual ones: each is named
    in a note with the mapping that reads it; with the mapping, the code is read."""
    p = _write(tmp_path / "two.csv", ["行业", "行业代码", "国民经济行业代码", "经度", "纬度"],
               [["焦化", "2521", "4416", *TAIYUAN]])  # fmt: skip
    _, rep = validate_layer(read_file(p, crs="wgs84"), "firms", working_crs=WORK)
    text = rep.summary()
    for col in ("行业代码", "国民经济行业代码"):
        assert f"column {col!r} is not read as the industry code (GB/T 4754)" in text
        assert f"--field industry_code={col}" in text
    p = _write(tmp_path / "odd.csv", ["行业", "行业代码（2017版）", "经度", "纬度"],
               [["焦化", "4416", *TAIYUAN]])  # fmt: skip
    res, out = _firms_cli(tmp_path, p)
    assert res.exit_code == 0, res.output
    assert "column '行业代码（2017版）' is not read as the industry code" in res.output
    assert "--field industry_code=行业代码（2017版）" in res.output
    res, out = _firms_cli(tmp_path, p, "--field", "industry_code=行业代码（2017版）", "--overwrite")
    assert res.exit_code == 0, res.output
    assert _rows(out / "firm_zones.csv")[0]["industry_status"] == "unrecognised"  # 焦化 vs 4416
    assert "is not read as the industry code" not in res.output


# --- C4: ids in full width, lower case or with spaces --------------------------------------


def test_firm_ids_compared_as_the_phaseout_join_compares_them(tmp_path):
    """firms_agency_gbk.csv: row 29 is row 2's 统一社会信用代码 in full-width characters; row 4
    is row 3's in lower case with a space. Both were firms of their own (a double count)."""
    p = _write(
        tmp_path / "firms.csv",
        ["统一社会信用代码", "企业名称", "行业", "经度", "纬度"],
        [
            ["91140100MA0A000001", "甲焦化", "焦化", *TAIYUAN],
            ["91140100MA0A000003", "丙钢铁", "钢铁", *TAIYUAN],
            ["91140100ma0a 000003", "丙钢铁（重复）", "钢铁", *TAIYUAN],
            ["91140100MA0A000027", "戊钢铁", "钢铁", *TAIYUAN],
            ["９１１４０１００ＭＡ０Ａ０００００１", "甲焦化（重复）", "焦化", *TAIYUAN],
        ],
        encoding="gbk",
    )
    res, out = _firms_cli(tmp_path, p)
    assert res.exit_code == 0, res.output
    assert [r["firm_id"] for r in _rows(out / "firm_zones.csv")] == [
        "91140100MA0A000001", "91140100MA0A000003", "91140100MA0A000027",
    ]  # fmt: skip
    rej = _rows(out / "rejects.csv")
    assert [(r["source_row"], r["code"]) for r in rej] == [
        ("4", "duplicate_id"),
        ("6", "duplicate_id"),
    ]
    assert rej[1]["reason"] == (
        "duplicate 统一社会信用代码 '９１１４０１００ＭＡ０Ａ０００００１' (first at row 2): the same id "
        "as '91140100MA0A000001' written in full-width characters, lower case or with spaces"
    )
    assert "(first at row 3)" in rej[0]["reason"]
    assert "input rows 5 = screened 3 + rejected 2" in res.output


def test_one_comparison_for_every_id():
    """The firm screen, the phase-out join and the equipment table compare ids by one
    function (vocab.id_key)."""
    from sxzones.runs.phaseout import _id_key

    ids = pd.Series(
        ["91140100MA0A000001", "９１１４０１００ＭＡ０Ａ０００００１", "91140100ma0a000001", "X-1"]
    )
    assert id_key(ids).tolist() == ["91140100MA0A000001"] * 3 + [
        "X-1"
    ]  # not a credit code: "-" kept
    assert _id_key(ids).tolist() == id_key(ids).tolist()


def test_project_and_candidate_ids_use_the_same_comparison(tmp_path):
    p = _write(tmp_path / "p.csv", ["项目编号", "行业", "经度", "纬度"],
               [["xm-001", "光伏", *TAIYUAN], ["ＸＭ－００１", "光伏", "112.56", "37.87"]])  # fmt: skip
    _, rep = validate_layer(read_file(p, crs="wgs84"), "projects", working_crs=WORK)
    assert rep.rejects["code"].tolist() == ["duplicate_id"]
    assert "(first at row 2): the same id as 'xm-001'" in rep.rejects["reason"].iloc[0]
    ring = "POLYGON((112.495 38.0, 112.5 38.0, 112.5 38.005, 112.495 38.005, 112.495 38.0))"
    q = _write(tmp_path / "c.csv", ["地块编号", "地块类型", "WKT"],
               [["DK1", "废弃矿山", ring], ["dk1", "废弃矿山", ring]])  # fmt: skip
    _, rep = validate_layer(read_file(q, crs="cgcs2000"), "candidates", working_crs=WORK)
    assert rep.rejects["code"].tolist() == ["duplicate_id"]


# --- C9: the rules keep the plan's distance whatever ring --distance draws ---------------


def _square_builtup():
    import geopandas as gpd

    return gpd.GeoDataFrame(
        {"area_id": ["A"], "name": ["城区"], "kind": ["city"]},
        geometry=[shapely.box(500000, 4000000, 501000, 4001000)],
        crs=WORK,
    )


def _points(xy, industries):
    import geopandas as gpd

    n = len(xy)
    return gpd.GeoDataFrame(
        {"firm_id": [f"F{i}" for i in range(n)], "name": ["f"] * n, "industry": industries},
        geometry=shapely.points(np.asarray(xy)),
        crs=WORK,
    )


def _edge_firms():
    """Coking firms 19,999.7 m and 20,000.3 m on the ground from a hexagon's vertices
    (along the outward bisector, zone 38 east of CM 114 where planar metres are off), and one
    inside; their distances checked with pyproj.Geod."""
    import geopandas as gpd

    lon, lat = 114.2, 37.6
    cx, cy = TO_XY.transform(lon, lat)
    t = np.arange(6) * np.pi / 3
    poly = shapely.Polygon(np.column_stack([cx + 2000 * np.cos(t), cy + 2000 * np.sin(t)]))
    vx, vy = np.asarray(poly.exterior.coords[:6]).T
    vlon, vlat = TO_LL.transform(vx, vy)
    az = GEOD.inv(np.full(6, lon), np.full(6, lat), vlon, vlat)[0]
    xy = [[cx, cy]]
    for dist in (19_999.7, 20_000.3):
        flon, flat, _ = GEOD.fwd(vlon, vlat, az, np.full(6, dist))
        check = GEOD.inv(vlon, vlat, flon, flat)[2]
        np.testing.assert_allclose(check, dist, atol=1e-6)
        xy += np.column_stack(TO_XY.transform(flon, flat)).tolist()
    bu = gpd.GeoDataFrame(
        {"area_id": ["A"], "name": ["城区"], "kind": ["city"]}, geometry=[poly], crs=WORK
    )
    return _points(xy, ["焦化"] * 13), bu


@pytest.mark.parametrize(
    ("distance_m", "zones"),
    [
        (None, ["inside"] + ["within_20km"] * 6 + ["beyond"] * 6),
        (50_000.0, ["inside"] + ["within_50km"] * 12),
        (20.0, ["inside"] + ["beyond"] * 12),
    ],
)
def test_rule_distance_is_the_plans_whatever_the_ring(distance_m, zones):
    """Clause 十三's rule names the firms within 20 km (19,999.7 m: yes; 20,000.3 m: no)
    with the default ring, a 50 km ring and a 20 m ring alike; only the zone follows the
    ring. Distances agree with pyproj.Geod to 5 cm."""
    firms, bu = _edge_firms()
    out = screen_firms(firms, bu, RULES, distance_m=distance_m, threads=1)
    np.testing.assert_allclose(
        out["distance_m"].to_numpy()[1:], [19_999.7] * 6 + [20_000.3] * 6, atol=0.05
    )
    assert out["zone"].astype(str).tolist() == zones
    both = "relocate_inside_builtup;deep_treatment_20km"
    assert out["rule_ids"].astype(str).tolist() == ([both] + ["deep_treatment_20km"] * 6 + [""] * 6)
    text = str(summarise(out))
    if distance_m is None:
        assert "rules keep their own distances" not in text
    else:
        km = f"{distance_m / 1000:g}"
        assert (
            f"note: the {km} km ring (--distance) is drawn for the report (zone within_{km}km); "
            "the plan's rules keep their own distances: deep_treatment_20km (晋环发〔2023〕1号 "
            "(十三); 晋环发〔2023〕1号 附表 7) names the firms within 20 km"
        ) in text


def test_cli_distance_help_and_note(tmp_path):
    res = CliRunner().invoke(cli, ["firms", "--help"])
    assert "The plan's rules keep their own distances" in " ".join(res.output.split())
    p = _write(tmp_path / "beyond.csv", ["企业名称", "行业", "经度", "纬度"],
               [["ID000020", "coking", "111.474938", "38.512467"]])  # fmt: skip
    res, out = _firms_cli(tmp_path, p, "--distance", "50km", "--crs", "cgcs2000")
    assert res.exit_code == 0, res.output
    row = _rows(out / "firm_zones.csv")[0]
    assert row["zone"] == "within_50km" and row["rule_ids"] == ""  # 23.2 km: not 十三's
    assert float(row["distance_m"]) == pytest.approx(23_214.47, abs=0.05)
    assert "names the firms within 20 km" in res.output


def test_project_ids_that_differ_by_a_hyphen_are_two_projects(tmp_path):
    """A-12 and A1-2 are two projects (only a 统一社会信用代码 is compared without its
    separators); a-12 in lower case is A-12 again."""
    p = _write(tmp_path / "p.csv", ["项目编号", "行业", "经度", "纬度"],
               [["A-12", "光伏", *TAIYUAN], ["A1-2", "光伏", "112.56", "37.87"],
                ["a-12", "光伏", "112.57", "37.88"]])  # fmt: skip
    _, rep = validate_layer(read_file(p, crs="wgs84"), "projects", working_crs=WORK)
    assert rep.rejects["code"].tolist() == ["duplicate_id"]
    assert "(first at row 2)" in rep.rejects["reason"].iloc[0]
