"""An agency's own data as it comes (issue 11): Chinese vocabularies, official field names and
values, never a silent "clear". Known answers on official-shaped files the tests write."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from sxzones.analyses.firm_zones import screen_firms, summarise, summary_by_city
from sxzones.cli import cli
from sxzones.errors import LayerError, RulesError, SxzonesError
from sxzones.layers import ROLES, load_catalog, read_file, validate_layer
from sxzones.rules import load_rules

from .conftest import CATALOG

RULES = load_rules()
# A 1 km parcel inside the demonstration red line RL140100 (north of Taiyuan), CGCS2000.
IN_RL140100 = "POLYGON ((112.41 38.11, 112.42 38.11, 112.42 38.12, 112.41 38.12, 112.41 38.11))"


# ----------------------------------------------------------------------------- vocabularies
@pytest.mark.parametrize(
    ("text", "ident"),
    [
        ("光伏", "pv"),
        ("风电", "wind"),
        ("焦化", "coking"),
        ("炼焦", "coking"),  # the name of GB/T 4754-2017 class 2521
        ("2521", "coking"),
        ("C2521", "coking"),  # with the section letter
        ("炼焦（2521）", "coking"),
        ("水泥制造", "cement"),
        ("平板玻璃", "flat_glass"),
        ("3041", "flat_glass"),
        ("3110", "steel"),
        ("钢铁", "steel"),
        ("Ｓｔｅｅｌ", "steel"),  # full-width
        (" iron and steel ", "steel"),
        ("coal power", "coal_power"),
        ("coal_power", "coal_power"),
        ("2614", "chemical"),  # division 26 as a whole
        ("3216", "electrolytic_aluminium"),  # the longest listed prefix wins over 32
        ("3211", "nonferrous"),
        ("4416", "pv"),
        ("焦化企业", "coking"),  # a generic word at the end (GENERIC_TAILS)
        ("钢铁行业", "steel"),
        ("电解铝厂", "electrolytic_aluminium"),
        ("化工有限公司", "chemical"),
        ("兰炭", "coking"),  # semi-coke, in 2521
        ("独立焦化", "coking"),
        ("铜冶炼", "nonferrous"),  # the names of division 32's classes (3211 ...)
        ("硅冶炼", "nonferrous"),
        ("氮肥制造", "chemical"),  # and of division 26's common classes
        ("电石", "chemical"),
        ("玻璃厂", None),  # 玻璃 alone is not flat glass: still unknown
        ("水泥制品企业", None),  # concrete products are not cement making
        ("企业", None),
        ("steeel", None),
        ("食品制造", None),
        ("311", None),  # a group code not listed
        # quantities are never codes (permit tables write capacities beside the industry)
        ("焦化（年产260万吨）", "coking"),  # not division 26 (chemical)
        ("钢铁 320万吨", "steel"),  # not division 32 (non-ferrous)
        ("年产26万吨水泥", "cement"),
        ("光伏 100MW", "pv"),
        ("焦化 2号", "coking"),
        ("06号高炉 钢铁", None),  # 高炉钢铁 is no known term: unrecognised, not coal mining
        ("32号", None),
        ("焦化320", None),  # two or three digits among words, not in brackets: no code
        # words and a code that name different industries: unrecognised, not the code's
        ("炼焦 3110", None),
        ("焦化(3011)", None),
        ("2521 炼焦", "coking"),  # the same industry twice
        ("某焦化公司（C2521）", "coking"),
        ("", None),
    ],
)
def test_industries_resolve(text, ident):
    assert RULES.industries.resolve(text) == ident


def test_kinds_resolve():
    pk, ck = RULES.project_kinds, RULES.candidate_kinds
    assert [pk.resolve(t) for t in ("新建项目", "扩建", "改扩建", "迁建", "产能置换", "new")] == [
        "new",
        "expansion",
        "reconstruction_expansion",
        "relocation",
        "capacity_replacement",
        "new",
    ]
    got = [ck.resolve(t) for t in ("废弃矿山", "采煤沉陷区", "已封场垃圾填埋场", "污染地块")]
    assert got == ["abandoned_mine", "subsidence", "closed_landfill", "contaminated_plot"]


def test_require_names_the_closest_values():
    with pytest.raises(SxzonesError, match=r"'steeel' is not a known industry; closest: steel"):
        RULES.industries.require("steeel", "--industry")
    with pytest.raises(SxzonesError, match=r"closest: 新建"):
        RULES.project_kinds.require("新建项目x", "--kind")


def test_rules_name_industries_by_code_and_group(tmp_path):
    """A rule may name a GB/T 4754 code (it stands for its industry); an industry covers its
    children (nonferrous covers electrolytic aluminium); unknown names are refused."""
    assert "electrolytic_aluminium" in RULES.get("relocate_inside_builtup").industries
    text = RULES.path.read_text(encoding="utf-8").replace(
        'industries = ["steel", "coking"]\ndistance_m', 'industries = ["3110", "2521"]\ndistance_m'
    )
    p = tmp_path / "r.toml"
    p.write_text(text, encoding="utf-8")
    assert load_rules(p).get("deep_treatment_20km").industries == ("steel", "coking")
    p.write_text(text.replace('"3110", "2521"', '"3110", "食品"'), encoding="utf-8")
    with pytest.raises(RulesError, match=r"industries \['食品'\] unknown"):
        load_rules(p)
    p.write_text(text + '\n[vocabularies.industries.x]\nzh = "钢铁"\n', encoding="utf-8")
    with pytest.raises(RulesError, match="'钢铁' is under both steel and x"):
        load_rules(p)


# ----------------------------------------------------------------------------- firm screen
def _builtup_geometry_only(tmp_path):
    """A built-up layer with polygons and nothing else (CGCS2000 lon/lat)."""
    p = tmp_path / "建成区.gpkg"
    sq = shapely.box(112.50, 37.80, 112.52, 37.82)
    gpd.GeoDataFrame(geometry=[sq], crs=4490).to_file(p)
    return p


def _permits_xlsx(tmp_path):
    """A permits workbook as agencies keep it: Chinese headers, GB/T 4754 codes, names."""
    p = tmp_path / "排污许可.xlsx"
    rows = [
        ("91140100A1", "甲焦化厂", "炼焦", "2521", 112.51, 37.81),
        ("91140100A2", "乙水泥厂", "水泥制造", "3011", 112.511, 37.811),
        ("91140100A3", "丙玻璃厂", "平板玻璃", "3041", 112.512, 37.812),
        ("91140100A4", "丁食品厂", "食品制造", "", 112.513, 37.813),
        ("91140100A5", "戊钢厂", "", "3120", 112.60, 37.81),  # 7 km east: within 20 km
        ("91140100A1", "重复", "炼焦", "2521", 112.51, 37.81),  # duplicate id
        ("91140100A7", "己厂", "", "", 112.514, 37.814),  # no industry at all
    ]
    cols = ["统一社会信用代码", "企业名称", "行业", "行业代码", "经度", "纬度"]
    pd.DataFrame(rows, columns=cols).to_excel(p, index=False)
    return p


def test_permits_xlsx_with_chinese_headers_and_codes(tmp_path, work_crs):
    raw = read_file(_permits_xlsx(tmp_path), crs="cgcs2000")
    firms, rep = validate_layer(raw, "firms", working_crs=work_crs)
    bu, _ = validate_layer(
        read_file(_builtup_geometry_only(tmp_path)), "builtup", working_crs=work_crs
    )
    assert "field 统一社会信用代码 read as firm_id" in rep.summary()
    assert "field 行业代码 read as industry_code" in rep.summary()
    # messages speak the user's file: Excel's row 7 (header = row 1), the user's field name
    assert rep.rejects[["source_row", "field", "reason"]].values.tolist() == [
        [7, "统一社会信用代码", "duplicate 统一社会信用代码 '91140100A1' (first at row 2)"],
        [8, "行业", "'行业' and '行业代码' empty"],
    ]
    assert bu["area_id"].tolist() == ["1"]
    out = screen_firms(firms, bu, RULES, threads=1).set_index("firm_id")
    assert out.loc["91140100A1", "industry_id"] == "coking"
    assert out.loc["91140100A1", "rule_ids"] == "relocate_inside_builtup;deep_treatment_20km"
    assert out.loc["91140100A2", "rule_ids"] == "relocate_inside_builtup"
    # flat glass is recognised; the bundled rules (clause 四: steel, coking, cement,
    # chemical ...) do not name it, so no rule applies, knowingly
    assert out.loc["91140100A3", ["industry_id", "industry_status", "rule_ids"]].tolist() == [
        "flat_glass",
        "recognised",
        "",
    ]
    assert out.loc["91140100A4", ["industry_id", "industry_status"]].tolist() == [
        "",
        "unrecognised",
    ]
    assert out.loc["91140100A5", ["industry_id", "zone"]].tolist() == ["steel", "within_20km"]
    assert out.loc["91140100A5", "rule_ids"] == "deep_treatment_20km"
    s = summarise(out)
    assert s.by_status == {"recognised": 4, "unrecognised": 1, "missing": 0}
    assert s.unrecognised == {"食品制造": 1}
    assert "unrecognised industries, not screened against the rules: '食品制造' (1)" in str(s)
    assert "[vocabularies.industries]" in str(s)
    table = summary_by_city(out)
    row = table[table["industry_status"] == "unrecognised"].iloc[0]
    assert row["industry_id"] == "食品制造" and row["inside"] == 1


def test_firms_without_name_or_id_use_the_row(tmp_path, work_crs):
    csv = tmp_path / "f.csv"
    csv.write_text("行业,lon,lat\n焦化,112.51,37.81\n钢铁,112.6,37.81\n", encoding="utf-8")
    firms, rep = validate_layer(read_file(csv, crs="cgcs2000"), "firms", working_crs=work_crs)
    assert firms["firm_id"].tolist() == ["2", "3"]  # spreadsheet rows
    assert "firm_id: the row number (the file has no id field)" in rep.summary()


def test_firm_cli_counts_unrecognised(tmp_path):
    xlsx = _permits_xlsx(tmp_path)
    bu = _builtup_geometry_only(tmp_path)
    res = CliRunner().invoke(
        cli,
        [
            "firms",
            "--firms",
            str(xlsx),
            "--crs",
            "cgcs2000",
            "--builtup",
            str(bu),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "industry: recognised 4, unrecognised 1, missing 0" in res.output
    assert "'食品制造' (1)" in res.output
    table = pd.read_csv(tmp_path / "out" / "firm_zones.csv", encoding="utf-8-sig", dtype=str)
    assert table.set_index("firm_id").loc["91140100A4", "industry_status"] == "unrecognised"
    summary = pd.read_excel(tmp_path / "out" / "firm_zones.xlsx", sheet_name="summary")
    assert "unrecognised" in summary["industry_status"].tolist()


# ----------------------------------------------------------------------------- control units
def test_gbk_shapefile_of_control_units_with_pinyin_fields(tmp_path, work_crs):
    p = tmp_path / "环境管控单元.shp"
    units = gpd.GeoDataFrame(
        {
            "HJGKDYBM": ["ZH14010510001", "ZH14010520001", "ZH14010530001", "ZH14010530002"],
            "HJGKDYMC": ["太原西山优先保护单元", "太原重点管控单元", "一般单元", "坏单元"],
            "GKDYFL": ["优先保护单元", "重点管控单元", "一般管控单元", "特别单元"],
            "XZQDM": ["140105"] * 4,
        },
        geometry=[shapely.box(112.0 + i / 100, 37.8, 112.01 + i / 100, 37.81) for i in range(4)],
        crs=4490,
    )
    units.to_file(p, encoding="GBK")
    raw = read_file(p)
    assert raw.frame["HJGKDYMC"].iloc[0] == "太原西山优先保护单元"  # GBK read back
    g, rep = validate_layer(raw, "control_units", working_crs=work_crs)
    assert g["unit_type"].tolist() == ["priority_protection", "key_control", "general_control"]
    assert g["unit_code"].tolist() == ["ZH14010510001", "ZH14010520001", "ZH14010530001"]
    assert g["adcode"].tolist() == ["140105"] * 3
    assert "field GKDYFL read as unit_type" in rep.summary()
    bad = rep.rejects.iloc[0]
    assert (bad["source_row"], bad["field"], bad["code"]) == (4, "GKDYFL", "bad_value")
    assert "'GKDYFL' has value(s) ['特别单元']" in bad["reason"]
    assert "(feature 4)" in rep.summary()
    assert 'values = { unit_type = { "特别单元" = "priority_protection" } }' in rep.summary()
    # a catalogue (or caller) value mapping settles the fourth
    g2, rep2 = validate_layer(
        read_file(p),
        "control_units",
        working_crs=work_crs,
        values={"unit_type": {"特别单元": "key_control"}},
    )
    assert g2["unit_type"].tolist()[-1] == "key_control" and rep2.n_rejected == 0


def test_catalogue_values_mapping(tmp_path):
    p = tmp_path / "units.gpkg"
    gpd.GeoDataFrame(
        {"BM": ["U1"], "LX": ["保护"]}, geometry=[shapely.box(112, 37.8, 112.01, 37.81)], crs=4490
    ).to_file(p)
    cat = tmp_path / "catalog.toml"
    cat.write_text(
        f'[layers.units]\npath = "{p.as_posix()}"\nrole = "control_units"\n'
        'fields = { unit_code = "BM", unit_type = "LX" }\n'
        'values = { unit_type = { "保护" = "priority_protection" } }\n'
        'provenance = { source = "test", licence = "CC0", version = "1", status = "official" }\n',
        encoding="utf-8",
    )
    g = load_catalog(cat).load("units")[0]
    assert g["unit_type"].tolist() == ["priority_protection"]
    cat.write_text(cat.read_text(encoding="utf-8").replace("values = {", "values = { x = 1, "))
    with pytest.raises(SxzonesError, match="values must be a table of tables"):
        load_catalog(cat)


def test_candidate_kinds_in_chinese(tmp_path, work_crs):
    p = tmp_path / "c.gpkg"
    gpd.GeoDataFrame(
        {
            "地块编号": ["C1", "C2", "C3"],
            "地块类型": ["废弃矿山", "采煤沉陷区受损土地", "矿山废弃地"],
        },
        geometry=[
            shapely.box(112, 37.8, 112.01, 37.81),
            shapely.box(112.1, 37.8, 112.11, 37.81),
            shapely.box(112.2, 37.8, 112.21, 37.81),
        ],
        crs=4490,
    ).to_file(p)
    g, _ = validate_layer(read_file(p), "candidates", working_crs=work_crs)
    assert g[["site_id", "kind"]].values.tolist() == [
        ["C1", "abandoned_mine"],
        ["C2", "subsidence"],
        ["C3", "abandoned_mine"],
    ]


# ----------------------------------------------------------------------------- site check
def _check(tmp_path, *args):
    return CliRunner().invoke(
        cli, ["check", *args, "--out", str(tmp_path / "o"), "--reports", "none"]
    )


@pytest.mark.parametrize("industry", ["pv", "光伏", "风电", "平板玻璃", "Ｐｖ"])
def test_red_line_parcel_conflicts_whatever_the_industry_is_called(tmp_path, industry):
    res = _check(tmp_path, "--project", IN_RL140100, "--crs", "cgcs2000", "--industry", industry)
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "o" / "site_check.json").read_text(encoding="utf-8"))
    p = doc["projects"][0]
    assert p["verdict"] == "conflict"
    assert "site_redline" in [r["id"] for r in p["rules"]]
    assert [r["redline_id"] for r in p["redline"]] == ["RL140100"]


def test_unknown_industry_value_is_a_user_error(tmp_path):
    res = _check(tmp_path, "--project", IN_RL140100, "--crs", "cgcs2000", "--industry", "steeel")
    assert res.exit_code == 2
    assert "'steeel' is not a known industry; closest: steel" in res.output
    assert not (tmp_path / "o" / "site_check.json").exists()


def test_batch_gpkg_with_a_chinese_industry_column(tmp_path):
    p = tmp_path / "项目.gpkg"
    poly = shapely.from_wkt(IN_RL140100)
    gpd.GeoDataFrame(
        {
            "项目编号": ["X1", "X2", "X3"],
            "行业": ["光伏", "食品制造", ""],
            "建设性质": ["新建"] * 3,
        },
        geometry=[poly, poly, poly],
        crs=4490,
    ).to_file(p)
    res = _check(tmp_path, "--projects", str(p))
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "o" / "site_check.csv", encoding="utf-8-sig").set_index(
        "project_id"
    )
    assert table.loc["X1", "verdict"] == "conflict"
    assert table.loc["X1", "industry_id"] == "pv"
    assert table.loc["X2", "verdict"] == "unassessed"  # never "clear"
    assert "行业 '食品制造' is not in the rules' vocabulary" in table.loc["X2", "unassessed_reason"]
    assert table.loc["X3", "verdict"] == "unassessed"
    assert "no 行业 given" in table.loc["X3", "unassessed_reason"]
    assert "unassessed 2" in res.output
    out = str(tmp_path / "r")
    res = CliRunner().invoke(cli, ["check", "--projects", str(p), "--out", out])
    assert res.exit_code == 0, res.output
    report = (tmp_path / "r" / "report-X2.html").read_text(encoding="utf-8")
    assert "无法研判 Not assessed" in report
    assert "食品制造" in report and "is not in the rules" in report


def test_kinds_in_chinese_and_an_unknown_kind_is_unassessed_not_clear():
    cat = load_catalog(CATALOG)
    from sxzones.analyses.site_check import check_sites
    from sxzones.runs.site_check import read_projects, site_layers

    lay = site_layers(cat)
    p, _ = read_projects("112.30,37.56", cat, crs="wgs84", industry="焦化", kind="新建")
    assert check_sites(p, lay, RULES, threads=1).table.iloc[0]["verdict"] == "conflict"
    p, _ = read_projects("112.30,37.56", cat, crs="wgs84", industry="焦化", kind="产能置换")
    assert check_sites(p, lay, RULES, threads=1).table.iloc[0]["verdict"] == "conditional"
    p, _ = read_projects("112.30,37.56", cat, crs="wgs84", industry="pv", kind="技改?")
    t = check_sites(p, lay, RULES, threads=1).table.iloc[0]
    assert t["verdict"] == "unassessed"
    assert "kind '技改?' is not in the rules' vocabulary" in t["unassessed_reason"]


def test_a_table_of_points_is_not_one_project(tmp_path):
    csv = tmp_path / "points.csv"
    csv.write_text(
        "点号,lon,lat\nJ1,112.41,38.11\nJ2,112.42,38.11\nJ3,112.42,38.12\n", encoding="utf-8"
    )
    res = _check(tmp_path, "--project", str(csv), "--crs", "cgcs2000", "--industry", "pv")
    assert res.exit_code == 2
    assert "--project takes one project, but this table has 3 rows of points" in res.output
    assert "use --projects" in res.output


# ----------------------------------------------------------------------------- 界址点 files
_SQUARE_NE = [(4192000.0, 38512000.0), (4192000.0, 38512100.0), (4192100.0, 38512100.0)]
_SQUARE_NE += [(4192100.0, 38512000.0)]


def _jzd(header: str, points: list[tuple[float, float]], east_first: bool = False) -> str:
    lines = [
        f"J{i + 1},1,{b:.3f},{a:.3f}" if east_first else f"J{i + 1},1,{a:.3f},{b:.3f}"
        for i, (a, b) in enumerate(points)
    ]
    return f"{header}[地块坐标]\n4,1.0,P1,甲,面,,工业用地,,@\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("header", "east_first", "epsg", "note"),
    [
        ("[属性描述]\n坐标系=2000国家大地坐标系\n带号=38\n", False, 4526, None),
        ("[属性描述]\n坐标系=2000国家大地坐标系\n带号=\n", False, 4526, "zone 38 read from"),
        ("[属性描述]\n坐标系=2000国家大地坐标系\n带号=38\n", True, 4526, "easting first"),
        ("[属性描述]\n坐标系=2000国家大地坐标系\n分带=3度带\n带号=38\n", False, 4526, None),
        (
            "[属性描述]\n坐标系=2000国家大地坐标系\n带号=38\n[扩展信息]\n测量单位=某院\n",
            False,
            4526,
            None,
        ),
    ],
)
def test_jzd_variants(tmp_path, header, east_first, epsg, note):
    p = tmp_path / "p.txt"
    p.write_bytes(_jzd(header, _SQUARE_NE, east_first).encode("gbk"))
    raw = read_file(p)
    assert raw.spec.crs.to_epsg() == epsg
    g = raw.frame.geometry.iloc[0]
    assert g.area == pytest.approx(10000.0)
    assert (38512000.0, 4192000.0) in list(g.exterior.coords)  # (easting, northing)
    if note:
        assert any(note in n for n in raw.notes), raw.notes


@pytest.mark.parametrize(
    ("system", "epsg"),
    [("1980西安坐标系", 2362), ("西安80", 2362), ("1954北京坐标系", 2414), ("", 4526)],
)
def test_jzd_datum_from_the_header(tmp_path, system, epsg):
    """Xian 1980 and Beijing 1954 3-degree zone 38 (EPSG:2362, 2414); a blank 坐标系 is
    CGCS2000, said as a note."""
    p = tmp_path / "p.txt"
    p.write_bytes(_jzd(f"[属性描述]\n坐标系={system}\n带号=38\n", _SQUARE_NE).encode("gbk"))
    raw = read_file(p)
    assert raw.spec.crs.to_epsg() == epsg
    blank = "界址点 坐标系 is blank: read as 2000国家大地坐标系 (CGCS2000)"
    assert (blank in raw.notes) == (system == "")


@pytest.mark.parametrize("system", ["太原市独立坐标系", "WGS84坐标系", "地方坐标系"])
def test_jzd_local_system_is_refused_unless_the_crs_is_given(tmp_path, system):
    """A city's 独立坐标系 was read as CGCS2000 without a word."""
    p = tmp_path / "p.txt"
    p.write_bytes(_jzd(f"[属性描述]\n坐标系={system}\n带号=38\n", _SQUARE_NE).encode("gbk"))
    with pytest.raises(LayerError, match=f"坐标系={system} is none of the national systems"):
        read_file(p)
    raw = read_file(p, crs="EPSG:4526")
    assert raw.spec.crs.to_epsg() == 4526
    assert f"界址点 坐标系={system}: not used, the coordinates are read as given" in raw.notes


def test_jzd_six_degree_zone(tmp_path):
    # zone 19 (CM 111E), zone-prefixed eastings: 19 512 000
    pts = [(4192000.0, 19512000.0), (4192000.0, 19512100.0), (4192100.0, 19512100.0)]
    p = tmp_path / "p6.txt"
    p.write_text(_jzd("[属性描述]\n坐标系=2000国家大地坐标系\n几度分带=6\n带号=19\n", pts), "utf-8")
    raw = read_file(p)
    assert raw.spec.crs.to_epsg() == 4497  # CGCS2000 / Gauss-Kruger zone 19
    p.write_text(_jzd("[属性描述]\n坐标系=2000国家大地坐标系\n带号=\n", pts), "utf-8")
    assert read_file(p).spec.crs.to_epsg() == 4497  # width from the zone number


def test_plain_point_list_is_one_parcel(tmp_path, work_crs):
    p = tmp_path / "地块.txt"
    text = "点号,X,Y\n" + "\n".join(f"J{i},{a},{b}" for i, (a, b) in enumerate(_SQUARE_NE, 1))
    p.write_text(text + "\n", encoding="utf-8")
    raw = read_file(p, crs="gk38")
    assert len(raw.frame) == 1
    assert raw.frame.geometry.iloc[0].area == pytest.approx(10000.0)
    assert raw.frame["parcel_id"].tolist() == ["地块"]
    g, _ = validate_layer(raw, "projects", working_crs=work_crs)
    assert g["project_id"].tolist() == ["地块"]
    # rings: 圈号 2 inside ring 1 is a hole
    hole = [(4192040, 38512040), (4192040, 38512060), (4192060, 38512060), (4192060, 38512040)]
    lines = [f"J{i},1,{a},{b}" for i, (a, b) in enumerate(_SQUARE_NE, 1)]
    lines += [f"K{i},2,{a},{b}" for i, (a, b) in enumerate(hole, 1)]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert read_file(p, crs="gk38").frame.geometry.iloc[0].area == pytest.approx(9600.0)


def test_point_list_needs_a_crs(tmp_path):
    p = tmp_path / "pts.txt"
    p.write_text("J1,4192000,38512000\nJ2,4192000,38512100\nJ3,4192100,38512100\n", "utf-8")
    with pytest.raises(SxzonesError, match="declares no CRS and none was given"):
        read_file(p)


def test_layers_validate_accepts_a_jzd_file_as_projects(jzd_file):
    res = CliRunner().invoke(cli, ["layers", "validate", str(jzd_file), "--role", "projects"])
    assert res.exit_code == 0, res.output
    assert "parcels.txt (projects): 2 read, 2 loaded, 0 rejected" in res.output


def test_several_parcels_are_several_projects(jzd_file, tmp_path):
    res = _check(tmp_path, "--project", str(jzd_file), "--industry", "光伏")
    assert res.exit_code == 0, res.output
    assert "site check: 2 project(s)" in res.output


def test_layer_error_for_missing_industry_names_the_option(tmp_path, work_crs):
    csv = tmp_path / "f.csv"
    csv.write_text("企业名称,lon,lat\na,112.5,37.8\n", encoding="utf-8")
    with pytest.raises(LayerError, match=r"--field industry=SOURCE .*usual names: 行业"):
        validate_layer(read_file(csv, crs="wgs84"), "firms", working_crs=work_crs)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_canonical_field_of_every_role_can_be_mapped(tmp_path, work_crs, role):
    """Item 3 of issue 11: ``fields`` (``--field CANONICAL=SOURCE``, catalogue ``fields``)
    works for every role and every canonical field."""
    r = ROLES[role]
    canon = list(dict.fromkeys([*([r.id_field] if r.id_field else []), *r.required, *r.optional]))
    canon += [f for f in r.one_of if f not in canon]
    # values read as they are (a typed value is given as it reads: settled, closure year)
    typed = {"settled": True, "closure_year": 2019}
    row = {
        f"SRC{i}": r.choices[f][0] if f in r.choices else typed.get(f, f"v{i}")
        for i, f in enumerate(canon)
    }
    geom = shapely.box(112, 37.8, 112.01, 37.81) if "polygon" in r.geometry else None
    geom = geom or shapely.Point(112, 37.8)
    p = tmp_path / "layer.gpkg"
    gpd.GeoDataFrame([{**row, "geometry": geom}], crs=4490).to_file(p)
    fields = {f: f"SRC{i}" for i, f in enumerate(canon)}
    g, rep = validate_layer(read_file(p), role, working_crs=work_crs, fields=fields)
    assert rep.n_rejected == 0
    assert [g.loc[0, f] for f in canon] == [row[fields[f]] for f in canon]


def test_projects_field_mapping(tmp_path):
    cat = load_catalog(CATALOG)
    from sxzones.runs.site_check import read_projects

    p = tmp_path / "p.gpkg"
    poly = shapely.from_wkt(IN_RL140100)
    gpd.GeoDataFrame(
        {"编码": ["Q1"], "产业": ["光伏"], "类别": ["新建"]}, geometry=[poly], crs=4490
    ).to_file(p)
    projects, _ = read_projects(
        str(p), cat, fields={"project_id": "编码", "industry": "产业", "kind": "类别"}
    )
    t = check_sites_table(projects, cat)
    assert t[["project_id", "industry_id", "kind", "verdict"]].values.tolist() == [
        ["Q1", "pv", "new", "conflict"]
    ]


def check_sites_table(projects, cat):
    from sxzones.analyses.site_check import check_sites
    from sxzones.runs.site_check import site_layers

    return check_sites(projects, site_layers(cat), RULES, threads=1).table


def test_a_project_path_that_does_not_exist_says_so(tmp_path):
    res = _check(tmp_path, "--project", str(tmp_path / "地块.txt"), "--industry", "pv")
    assert res.exit_code == 2
    assert "地块.txt': no such file" in res.output
    assert "--crs" not in res.output


def test_site_check_with_a_geometry_only_builtup_layer(tmp_path, work_crs):
    from sxzones.analyses.site_check import SiteLayers, check_sites

    cat = load_catalog(CATALOG)
    bu, _ = validate_layer(
        read_file(_builtup_geometry_only(tmp_path)), "builtup", working_crs=work_crs
    )
    units, _ = cat.load("control_units_demonstration")
    red, _ = cat.load("redline_demonstration")
    lay = SiteLayers({"control_units": units, "redline": red, "builtup": bu})
    from sxzones.runs.site_check import read_projects

    p, _ = read_projects("112.51,37.81", cat, crs="cgcs2000", industry="炼焦", kind="新建")
    t = check_sites(p, lay, RULES, threads=1).table.iloc[0]
    assert (t["builtup_zone"], t["nearest_builtup"], t["verdict"]) == ("inside", "1", "conflict")
    assert "site_inside_builtup" in t["rule_ids"]


def test_a_blank_kind_is_a_new_project():
    cat = load_catalog(CATALOG)
    from sxzones.runs.site_check import read_projects

    p, _ = read_projects("112.30,37.56", cat, crs="wgs84", industry="焦化", kind="")
    t = check_sites_table(p, cat).iloc[0]
    assert (t["kind"], t["verdict"]) == ("new", "conflict")
    assert t["unassessed_reason"] == ""


def test_kind_in_chinese_on_the_command_line(tmp_path):
    args = ["--project", "112.30,37.56", "--crs", "wgs84", "--industry", "焦化"]
    res = _check(tmp_path, *args, "--kind", "新建")
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "o" / "site_check.json").read_text(encoding="utf-8"))
    assert (doc["projects"][0]["kind"], doc["projects"][0]["verdict"]) == ("new", "conflict")
    bad = _check(tmp_path, *args, "--kind", "新见", "--overwrite")
    assert bad.exit_code == 2
    assert "--kind '新见' is not a known project kind; closest: 新建" in bad.output


def test_what_was_read_from_the_coordinates_is_said(tmp_path):
    p = tmp_path / "东在前.txt"
    header = "[属性描述]\n坐标系=2000国家大地坐标系\n带号=\n"
    p.write_bytes(_jzd(header, _SQUARE_NE, east_first=True).encode("gbk"))
    res = _check(tmp_path, "--project", str(p), "--industry", "光伏")
    assert res.exit_code == 0, res.output
    assert "note: 界址点 带号 is empty: zone 38 read from the eastings' prefix" in res.output
    assert "written easting first (Y, X): read by the zone prefix" in res.output
    val = CliRunner().invoke(cli, ["layers", "validate", str(p), "--role", "projects"])
    assert val.exit_code == 0, val.output
    assert "easting first" in val.output


def test_unit_type_from_the_national_unit_code(tmp_path, work_crs):
    """No type field: the type digit of ZH + adcode + digit + serial codes gives it; a code
    that does not follow the rule is rejected with its row, never guessed."""
    p = tmp_path / "u.gpkg"
    boxes = [shapely.box(112 + i / 100, 37.8, 112.01 + i / 100, 37.81) for i in range(4)]
    codes = ["ZH14010510001", "ZH14010520001", "ZH14010530001", "U-4"]
    gpd.GeoDataFrame({"HJGKDYBM": codes}, geometry=boxes, crs=4490).to_file(p)
    g, rep = validate_layer(read_file(p), "control_units", working_crs=work_crs)
    assert g["unit_type"].tolist() == ["priority_protection", "key_control", "general_control"]
    assert "unit_type: the type digit of HJGKDYBM" in rep.summary()
    assert rep.rejects[["source_row", "code"]].values.tolist() == [[4, "missing_value"]]


def test_ids_typed_into_number_cells_are_said_to_be_inexact(tmp_path, work_crs):
    """A 统一社会信用代码 typed into an Excel number cell is a double: 911401001100012345 comes
    back as 911401001100012288. Said, with the rows; text cells and integer fields are exact."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["统一社会信用代码", "行业", "经度", "纬度"])
    ws.append([911401001100012345, "钢铁", 112.55, 37.87])
    ws.append(["91140100110001234X", "焦化", 112.30, 37.56])
    ws.append([140100, "焦化", 112.31, 37.56])
    ws.append([911401001100012399, "焦化", 112.32, 37.56])
    wb.save(tmp_path / "f.xlsx")
    raw = read_file(tmp_path / "f.xlsx", crs="wgs84")
    g, rep = validate_layer(raw, "firms", working_crs=work_crs)
    found = [f for f in rep.findings if f.code == "id_not_exact"]
    assert len(found) == 1 and found[0].rows == (2, 5)
    assert str(g.loc[0, "firm_id"]) == "911401001100012288"  # what the cell holds
    p = tmp_path / "f.gpkg"
    gpd.GeoDataFrame(
        {"firm_id": [911401001100012345], "industry": ["钢铁"]},
        geometry=[shapely.Point(112.55, 37.87)],
        crs=4490,
    ).to_file(p)
    g, rep = validate_layer(read_file(p), "firms", working_crs=work_crs)
    assert not [f for f in rep.findings if f.code == "id_not_exact"]
    assert str(g.loc[0, "firm_id"]) == "911401001100012345"


def test_ids_in_scientific_notation_are_said(tmp_path, work_crs):
    """A CSV that Excel saved from number cells holds 9.11401E+17: every firm of the same
    prefix has the same id. The duplicates are rejected as before, and the note says why."""
    p = tmp_path / "f.csv"
    p.write_text(
        "统一社会信用代码,行业,经度,纬度\n9.11401E+17,钢铁,112.55,37.87\n9.11401E+17,焦化,112.3,37.56\n"
        "91140100110001234X,焦化,112.31,37.56\n",
        "utf-8",
    )
    g, rep = validate_layer(read_file(p, crs="wgs84"), "firms", working_crs=work_crs)
    assert len(g) == 2 and rep.n_rejected == 1
    note = next(f for f in rep.findings if f.code == "id_not_exact")
    assert note.rows == (2, 3) and "scientific notation (e.g. 9.11401E+17)" in note.message


@pytest.mark.parametrize("types", [["1", "2", "3"], ["01", "02", "03"], ["优先", "重点", "一般"]])
def test_unit_types_as_class_codes(tmp_path, work_crs, types):
    """分类 written as the national class codes (1 priority protection, 2 key control,
    3 general control: the digit the unit codes carry) or abbreviated: read, with a note."""
    p = tmp_path / "cu.gpkg"
    gpd.GeoDataFrame(
        {"HJGKDYBM": ["ZH14010710001", "ZH14010720001", "ZH14010730001"], "GKDYFL": types},
        geometry=[shapely.box(112 + i * 0.1, 37.8, 112.09 + i * 0.1, 37.9) for i in range(3)],
        crs=4490,
    ).to_file(p)
    g, rep = validate_layer(
        read_file(p),
        "control_units",
        working_crs=work_crs,
        fields={"unit_code": "HJGKDYBM", "unit_type": "GKDYFL"},
    )
    assert g["unit_type"].tolist() == ["priority_protection", "key_control", "general_control"]
    assert any(f.code == "values_mapped" for f in rep.findings)


def test_unit_type_against_the_code(tmp_path, work_crs):
    """A type field read 1 = general (an agency's own coding, or a wrong mapping) contradicts
    the national codes' digit: said, with the units."""
    p = tmp_path / "cu.gpkg"
    gpd.GeoDataFrame(
        {"HJGKDYBM": ["ZH14010710001", "ZH14010730001"], "LX": ["一般管控单元", "一般管控单元"]},
        geometry=[shapely.box(112 + i * 0.1, 37.8, 112.09 + i * 0.1, 37.9) for i in range(2)],
        crs=4490,
    ).to_file(p)
    _, rep = validate_layer(
        read_file(p),
        "control_units",
        working_crs=work_crs,
        fields={"unit_code": "HJGKDYBM", "unit_type": "LX"},
    )
    note = next(f for f in rep.findings if f.code == "type_against_code")
    assert note.rows == (1,)
    assert "ZH14010710001 (priority_protection) is general_control" in note.message


def test_a_point_pasted_latitude_first(tmp_path):
    """Google Maps copies '37.87, 112.55' (latitude first): in China a latitude (18-54) is
    always below a longitude (73-136), so the order is told and said, not refused."""
    res = _check(tmp_path, "--project", "37.87, 112.55", "--crs", "wgs84", "--industry", "pv")
    assert res.exit_code == 0, res.output
    assert "point given latitude first (as Google Maps copies it): read as 112.55, 37.87" in (
        res.output
    )
    doc = json.loads((tmp_path / "o" / "site_check.json").read_text(encoding="utf-8"))
    assert doc["projects"][0]["county"] == "杏花岭区"


def test_an_output_of_sxzones_read_again(tmp_path, work_crs):
    """A validated layer saved (or eligible_sites.gpkg, firm_zones.gpkg) has a source_row
    column: reading it again crashed with pandas' 'cannot insert source_row, already exists'."""
    cat = load_catalog(CATALOG)
    b, _ = cat.load("builtup_demonstration")
    b.head(3).to_file(tmp_path / "b.gpkg")
    raw = read_file(tmp_path / "b.gpkg")
    assert raw.frame["source_row"].tolist() == [1, 2, 3]
    assert raw.frame["input_source_row"].tolist() == b["source_row"].head(3).tolist()
    g, rep = validate_layer(raw, "builtup", working_crs=work_crs)
    assert len(g) == 3 and any("kept as input_source_row" in f.message for f in rep.findings)


def test_site_check_reads_capacity_beside_the_industry(tmp_path):
    """A permit table writes the capacity in the industry cell. ``焦化（年产260万吨）`` was read as
    GB/T 4754 division 26 (chemical) and a new coking plant in the Taiyuan region came out
    ``clear``; a code that contradicts the words is unrecognised, hence ``unassessed``."""
    p = tmp_path / "projects.csv"
    p.write_text(
        "项目编号,行业,建设性质,经度,纬度\n"
        "P01,焦化（年产260万吨）,新建,112.484,38.06\nP02,焦化,新建,112.484,38.06\n"
        "P03,焦化(3011),新建,112.484,38.06\n",
        "utf-8",
    )
    res = CliRunner().invoke(
        cli,
        [
            "check", "--projects", str(p), "--crs", "cgcs2000", "--industry-field", "行业",
            "--kind-field", "建设性质", "--reports", "none", "--out", str(tmp_path / "o"),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "o" / "site_check.json").read_text("utf-8"))
    got = {d["project_id"]: (d["industry"], d["verdict"]) for d in doc["projects"]}
    assert got["P01"] == got["P02"] == ("coking", "conflict")
    assert got["P03"][1] == "unassessed"
