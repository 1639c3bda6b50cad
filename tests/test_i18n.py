"""Chinese out (issue 11, item 8): labels, translated tables, sheets, legends and texts."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sxzones import i18n
from sxzones.errors import SxzonesError
from sxzones.layers.schemas import CANDIDATE_KINDS, UNIT_TYPES
from sxzones.layers.validate import LayerReport
from sxzones.maps.firm_map import FIRM_FIELDS
from sxzones.maps.site_map import PROJECT_FIELDS
from sxzones.maps.siting_map import SITE_FIELDS
from sxzones.maps.style import LABELS
from sxzones.rules import DEFAULT_RULES, PROJECT_KINDS, TECHS, VERDICTS, load_rules
from sxzones.runs.firms import LEAD

from .conftest import ROOT


def test_check_lang_accepts_the_three_and_names_them_otherwise() -> None:
    assert [i18n.check_lang(x) for x in ("en", "zh", "both")] == ["en", "zh", "both"]
    with pytest.raises(SxzonesError, match=r"'cn'.*en, zh, both"):
        i18n.check_lang("cn")


def test_labels_read_policy_terms_from_the_rules_file(tmp_path: Path) -> None:
    lab = i18n.labels()
    assert lab.values["kind"]["subsidence"] == "采煤沉陷区"  # [vocabularies.candidate_kinds]
    assert lab.values["kind"]["reconstruction_expansion"] == "改扩建"  # project kinds
    assert lab.values["industry"]["coking"] == "焦化"  # [vocabularies.industries]
    assert lab.values["reason"]["builtup"] == "建成区及退让带"  # label_zh of the rule
    assert lab.values["reason"]["too_small"] == "面积过小"  # not a rule: package data
    # another rules file with other labels: its labels win (nothing copied into i18n.toml)
    text = DEFAULT_RULES.read_text(encoding="utf-8")
    old = '[vocabularies.industries.coking]\nzh = "焦化"'
    assert old in text
    text = text.replace(old, '[vocabularies.industries.coking]\nzh = "炼焦"')
    text = text.replace('label_zh = "水域及退让带"', 'label_zh = "河湖管理范围"')
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    own = i18n.labels(load_rules(path))
    assert own.values["industry"]["coking"] == "炼焦"
    assert own.values["reason"]["water"] == "河湖管理范围"
    assert own.sources["reason"] == "sxzones/i18n.toml + rules.toml"
    data = i18n._package_data()["values"]
    assert "subsidence" not in data["kind"] and "new" not in data["kind"]
    assert "industry" not in data


def test_label_gives_identifier_chinese_or_both() -> None:
    assert i18n.label("zone.inside", "en") == "inside"
    assert i18n.label("zone.inside", "zh") == "建成区内"
    assert i18n.label("zone.within_20km", "both") == "周边20千米内 (within_20km)"
    assert i18n.label("verdict.unassessed", "zh") == "无法研判"
    assert i18n.label("unit_type.general_control", "zh") == "一般管控单元"
    assert i18n.label("industry_status.unrecognised", "both") == "未识别 (unrecognised)"
    assert i18n.label("kind.new", "zh") == "新建"
    assert i18n.label("field.distance_m", "zh") == "距最近建成区距离（米）"
    assert i18n.label("field.removed_redline_m2", "zh") == "排除面积：生态保护红线（平方米）"
    assert i18n.label("sheet.summary", "both") == "汇总 (summary)"
    # no label: the identifier, in every language
    assert i18n.label("field.my_own_column", "zh") == "my_own_column"
    assert i18n.label("industry.炼焦", "both") == "炼焦"


def test_translate_value_patterns_bools_and_missing() -> None:
    assert i18n.translate_value("within_10km", "zone", "zh") == "周边10千米内"
    assert i18n.translate_value("beyond", "zone", "zh", km="10") == "10千米外"
    assert i18n.translate_value("beyond", "zone", "zh") == "筛查距离外"
    assert i18n.translate_value(np.True_, "bool", "zh") == "是"
    assert i18n.translate_value(False, "bool", "both") == "否 (false)"
    assert np.isnan(i18n.translate_value(float("nan"), "verdict", "zh"))
    assert i18n.translate_value("conflict", "verdict", "en") == "conflict"


def test_text_is_chinese_or_todays_bilingual_heading() -> None:
    assert i18n.text("verdict", "zh") == "结论"
    assert i18n.text("verdict", "en") == "结论 Verdict"
    assert i18n.text("verdict", "both") == "结论 Verdict"
    assert i18n.text("firm_map_title", "zh", km="20") == "企业与建成区距离筛查（20 千米）"
    assert i18n.joined("距离范围（示意）", "Distance ring") == "距离范围（示意）Distance ring"


def test_legend_labels_in_english_are_todays_bytes() -> None:
    for key, today in LABELS.items():
        assert i18n.legend_label(key, "en") == today
        assert i18n.legend_label(key, "both") == today
        # the Chinese is today's label up to its English
        assert i18n.legend_label(key, "zh") == re.match(r"(.+?) ?[A-Z]", today).group(1)
    assert i18n.legend_label("within_5km", "zh") == "周边5千米内"
    assert i18n.legend_label("within_5km", "en") == "周边5千米内 Within 5 km"
    assert i18n.legend_label("unassessed", "en") == "无法研判 Not assessed"
    assert i18n.legend_label("unassessed", "zh") == "无法研判"
    assert i18n.legend_label("new", "both") == "新建 (new)"


def _firm_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "firm_id": ["F1", "F2", "F3"],
            "industry": ["钢铁", "炼焦", "steel"],
            "industry_id": ["steel", "炼焦", "steel"],
            "industry_status": ["recognised", "unrecognised", "recognised"],
            "zone": ["inside", "within_20km", "beyond"],
            "applicable": [True, False, False],
            "asks": [
                "搬迁改造或关闭退出 / relocate, retrofit or close | 深度治理，2024-12-31 前 / "
                "deep treatment due 2024-12-31",
                "",
                None,
            ],
            "产能": [1, 2, 3],
        }
    )


def test_translate_frame_english_is_the_same_object() -> None:
    t = _firm_table()
    assert i18n.translate_frame(t, "en") is t


def test_translate_frame_chinese_headers_and_values() -> None:
    t = _firm_table()
    zh = i18n.translate_frame(t, "zh")
    assert list(zh.columns) == [
        "企业编号",
        "行业（原值）",
        "行业",
        "行业识别状态",
        "区位",
        "是否适用规则",
        "要求",
        "产能",
    ]
    assert zh["区位"].tolist() == ["建成区内", "周边20千米内", "20千米外"]
    assert zh["行业"].tolist() == ["钢铁", "炼焦", "钢铁"]  # unrecognised text kept as written
    assert zh["行业识别状态"].tolist() == ["已识别", "未识别", "已识别"]
    assert zh["是否适用规则"].tolist() == ["是", "否", "否"]
    assert zh["要求"].tolist()[:2] == ["搬迁改造或关闭退出 | 深度治理，2024-12-31 前", ""]
    assert zh["要求"].isna().tolist() == [False, False, True]
    assert t["zone"].tolist() == ["inside", "within_20km", "beyond"]  # input not changed


def test_translate_frame_both_and_lists_and_dynamic_headers() -> None:
    t = pd.DataFrame(
        {
            "unit_types": ["general_control;priority_protection", None],
            "verdict": ["conditional", "unassessed"],
            "removed_water_m2": [1.0, 2.0],
            "removed_airports_m2": [0.0, 0.0],
        }
    )
    both = i18n.translate_frame(t, "both")
    assert list(both.columns) == [
        "管控单元类型 (unit_types)",
        "研判结论 (verdict)",
        "排除面积：水域及退让带（平方米） (removed_water_m2)",
        "排除面积：airports（平方米） (removed_airports_m2)",
    ]
    assert both.iloc[0, 0] == "一般管控单元 (general_control);优先保护单元 (priority_protection)"
    assert both.iloc[:, 1].tolist() == ["有条件 (conditional)", "无法研判 (unassessed)"]


def test_translate_frame_summary_sheet_and_header_collisions() -> None:
    summary = pd.DataFrame(
        {
            "city": ["太原市"],
            "industry_id": ["coking"],
            "inside": [1],
            "within_10km": [2],
            "beyond": [3],
        }
    )
    zh = i18n.translate_frame(summary, "zh")
    assert list(zh.columns) == ["地级市", "行业", "建成区内", "周边10千米内", "10千米外"]
    assert zh.iloc[0].tolist() == ["太原市", "焦化", 1, 2, 3]
    # a user's own column already called 区位 stays; ours keeps its identifier beside it
    clash = i18n.translate_frame(pd.DataFrame({"区位": ["x"], "zone": ["inside"]}), "zh")
    assert list(clash.columns) == ["区位", "区位 (zone)"]


def test_sheet_names_fit_excel() -> None:
    assert i18n.sheet_name("summary", "zh") == "汇总"
    assert i18n.sheet_name("within_20km", "zh") == "周边20千米内"
    assert i18n.sheet_name("beyond", "zh", km="20") == "20千米外"
    assert i18n.sheet_name("exclusions", "both") == "排除项 (exclusions)"
    assert i18n.sheet_name("summary", "en") == "summary"
    long = i18n.sheet_name("a/b" * 20, "both")
    assert len(long) <= 31 and "/" not in long


def test_every_output_column_and_policy_value_has_a_chinese_label() -> None:
    lab = i18n.labels()
    rejects = LayerReport("x", Path("x"), "firms", 0).rejects.columns
    for cols in (LEAD, FIRM_FIELDS, PROJECT_FIELDS, SITE_FIELDS, list(rejects)):
        names = [i18n.label(f"field.{c}", "zh", lab=lab) for c in cols]
        assert all(n != c for n, c in zip(names, cols, strict=True)), cols
        assert len(set(names)) == len(names), names
    for vocab, keys in (
        ("verdict", (*VERDICTS, "unassessed")),
        ("kind", (*PROJECT_KINDS, *CANDIDATE_KINDS, "city", "county_town")),
        ("unit_type", UNIT_TYPES),
        ("tech", TECHS),
        ("industry_status", ("recognised", "unrecognised", "missing")),
        ("reason", [str(r.params["reason"]) for r in load_rules().of_kind("siting_exclusion")]),
    ):
        for k in keys:
            assert i18n.label(f"{vocab}.{k}", "zh", lab=lab) != k, (vocab, k)


def test_translate_values_keeps_headers() -> None:
    t = pd.DataFrame({"verdict": ["clear", "conflict"], "builtup_zone": ["beyond", "inside"]})
    zh = i18n.translate_values(t, "zh", km="20")
    assert list(zh.columns) == ["verdict", "builtup_zone"]
    assert zh.to_dict("list") == {
        "verdict": ["无冲突", "冲突"],
        "builtup_zone": ["20千米外", "建成区内"],
    }
    assert i18n.translate_values(t, "en") is t


def test_translate_sheets_names_and_one_distance_for_all() -> None:
    inside = pd.DataFrame({"zone": ["inside"]})
    beyond = pd.DataFrame({"zone": ["beyond"]})
    summary = pd.DataFrame({"city": ["晋中市"], "inside": [1], "within_20km": [0], "beyond": [1]})
    sheets = {"summary": summary, "inside": inside, "beyond": beyond}
    zh = i18n.translate_sheets(sheets, "zh")
    assert list(zh) == ["汇总", "建成区内", "20千米外"]
    assert zh["20千米外"]["区位"].tolist() == ["20千米外"]  # the distance from the summary
    assert list(zh["汇总"].columns) == ["地级市", "建成区内", "周边20千米内", "20千米外"]
    assert i18n.translate_sheets(sheets, "en") == sheets


def _firms_map_html(tmp_path: Path, lang: i18n.Lang) -> str:
    import geopandas as gpd
    import shapely

    from sxzones.maps.interactive import MapLayer, build_map, save_map
    from sxzones.maps.style import LayerStyle

    firms = gpd.GeoDataFrame(
        {
            "name": ["甲钢铁厂", "乙焦化厂"],
            "industry_id": ["steel", "coking"],
            "zone": ["inside", "within_20km"],
            "distance_m": [0.0, 1234.5],
        },
        geometry=[shapely.Point(500000, 4190000), shapely.Point(502000, 4190000)],
        crs=4546,
    )
    fields = ["name", "industry_id", "zone", "distance_m"]
    layer = MapLayer("firms", firms, "firms", fields, LayerStyle(by="zone"), search_field="name")
    m = build_map([layer], title="t", lang=lang)
    return save_map(m, tmp_path / f"{lang}.html").read_text(encoding="utf-8")


def test_map_popups_and_legend_in_chinese(tmp_path: Path) -> None:
    zh = _firms_map_html(tmp_path, "zh")
    # popup and tooltip labels, values, legend entries, layer name, controls
    for s in ('"区位"', '"距最近建成区距离（米）"', '"周边20千米内"', '"焦化"', ">建成区内<"):
        assert s in zh, s
    assert "搜索名称" in zh and "Search by name" not in zh and "全屏" in zh
    assert "Inside built-up area" not in zh and '"within_20km"' not in zh
    # colours still follow the identifiers: inside red, within orange
    assert '"_colour": "#b2182b"' in zh and '"_colour": "#ef8a62"' in zh
    en = _firms_map_html(tmp_path, "en")
    assert '"within_20km"' in en and '"周边20千米内"' not in en
    assert "建成区内 Inside built-up area" in en
    both = _firms_map_html(tmp_path, "both")
    assert '"周边20千米内 (within_20km)"' in both and '"区位 (zone)"' in both


# ----------------------------------------------------------------------------- integration


def _cli(*args: str) -> None:
    from click.testing import CliRunner

    from sxzones.cli import cli

    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output


def test_firm_screen_in_chinese_writes_chinese_headers_values_and_sheets(tmp_path: Path) -> None:
    args = ["firms", "--firms", "firms", "--builtup", "builtup_demonstration"]
    _cli(*args, "--out", str(tmp_path / "en"))
    _cli(*args, "--out", str(tmp_path / "zh"), "--lang", "zh", "--map", str(tmp_path / "m.html"))
    en = pd.read_csv(tmp_path / "en" / "firm_zones.csv", encoding="utf-8-sig")
    zh = pd.read_csv(tmp_path / "zh" / "firm_zones.csv", encoding="utf-8-sig")
    assert list(zh.columns[:7]) == [
        "企业编号",
        "名称",
        "行业（原值）",
        "行业",
        "行业识别状态",
        "区位",
        "距最近建成区距离（米）",
    ]
    assert set(zh["行业识别状态"]) == {"已识别"}  # GEM's steel and coal power plants
    assert "zone" not in zh.columns and "source_row" not in zh.columns
    # the same firms, zone for zone and distance for distance
    zones = {"inside": "建成区内", "within_20km": "周边20千米内", "beyond": "20千米外"}
    assert zh["区位"].tolist() == en["zone"].map(zones).tolist()
    assert zh["距最近建成区距离（米）"].tolist() == en["distance_m"].tolist()
    assert set(zh["行业"]) == {"钢铁", "火电"} and set(en["industry_id"]) == {"steel", "coal_power"}
    assert set(zh["是否适用规则"]) <= {"是", "否"}
    assert zh["企业编号"].tolist() == en["firm_id"].tolist()  # ids untouched
    sheets = pd.read_excel(tmp_path / "zh" / "firm_zones.xlsx", sheet_name=None)
    # in zone order, then where the layers came from
    assert list(sheets) == ["汇总", "建成区内", "周边20千米内", "20千米外", "数据来源"]
    # the demonstration built-up layer: the summary's first line says so, its table below
    assert sheets["汇总"].columns[0].startswith("示范图层，非官方数据：builtup_demonstration")
    sheets["汇总"] = pd.read_excel(tmp_path / "zh" / "firm_zones.xlsx", sheet_name="汇总", header=1)
    assert list(sheets["汇总"].columns) == [
        "省份",  # the province first: firms outside Shanxi apart (audit 11 E5)
        "地级市",
        "行业",
        "行业识别状态",
        "建成区内",
        "周边20千米内",
        "20千米外",
    ]
    n_inside = int((en["zone"] == "inside").sum())
    assert len(sheets["建成区内"]) == n_inside == int(sheets["汇总"]["建成区内"].sum())
    rejects = (tmp_path / "zh" / "rejects.csv").read_text(encoding="utf-8-sig")
    assert rejects.splitlines()[0] == "图层,原始行号,编号,问题代码,字段,原因"
    html = (tmp_path / "m.html").read_text(encoding="utf-8")
    assert "企业与建成区距离筛查（20 千米）" in html and "Firm screen" not in html
    assert '"周边20千米内"' in html and '"within_20km"' not in html


def _check(tmp_path: Path, lang: str) -> Path:
    out = tmp_path / lang
    _cli(
        "check",
        "--projects",
        str(ROOT / "analyses" / "examples" / "projects_demonstration.csv"),
        "--crs",
        "wgs84",
        "--out",
        str(out),
        "--map",
        str(out / "map.html"),
        "--figure",
        str(out / "figure.png"),
        "--lang",
        lang,
    )
    return out


def test_site_check_report_csv_and_map_popups_in_chinese(tmp_path: Path) -> None:
    out = _check(tmp_path, "zh")
    report = (out / "report-D1.html").read_text(encoding="utf-8")
    # D1: a new coking project in Qingxu (Taiyuan region), 4.4 km from the county town
    for s in (
        "<h1>建设项目选址研判: 示例焦化项目（新建）</h1>",  # the name, then its id (issue 16)
        "项目编号: D1 · 报告日期:",
        "行业: <b>焦化</b> · 类型: <b>新建</b>",
        '结论: <span class="verdict">冲突</span>',
        "(周边20千米内)",
        "<th>规则</th><th>结论</th><th>条款</th><th>要求</th></tr>",
        "<td>一般管控单元</td>",
        "<th>重叠面积（平方米）</th>",
        "<td>示范数据</td>",
        "示范图层非官方数据</p>",
    ):
        assert s in report, s
    for s in ("Site check", "Verdict", "Requirement", "Kind", ">new<", "general_control"):
        assert s not in report, s
    table = pd.read_csv(out / "site_check.csv", encoding="utf-8-sig")
    assert table.set_index("项目编号")["研判结论"].to_dict()["D1"] == "冲突"
    assert table.set_index("项目编号")["类型"].to_dict()["D2"] == "产能置换"
    html = (out / "map.html").read_text(encoding="utf-8")
    assert 'aliases = ["项目编号", "行业", "类型", "研判结论"' in html
    assert '"verdict": "冲突"' in html and '"kind": "新建"' in html
    assert "建设项目选址研判" in html and "Site check" not in html
    en_out = _check(tmp_path, "en")
    en = (en_out / "report-D1.html").read_text(encoding="utf-8")
    assert "类型 Kind: <b>new</b>" in en and "<th>要求</th><th>Requirement</th>" in en
    # the static figure: Chinese title and legend draw different pixels from the English
    assert (out / "figure.png").read_bytes() != (en_out / "figure.png").read_bytes()
    assert (out / "figure.pdf").read_bytes().startswith(b"%PDF")


def test_siting_in_chinese_headers_sheets_and_reasons(tmp_path: Path) -> None:
    out = tmp_path / "s"
    _cli(
        "sites",
        "--candidates",
        "candidates_demonstration",
        "--tech",
        "pv",
        "--out",
        str(out),
        "--lang",
        "both",
    )
    sheets = pd.read_excel(out / "eligible_sites.xlsx", sheet_name=None)
    assert list(sheets) == [
        "地块 (sites)",
        "汇总 (summary)",
        "排除项 (exclusions)",
        "数据来源 (sources)",
    ]
    # the summary's first lines: the demonstration layers' warning, in both languages
    sheets["汇总 (summary)"] = pd.read_excel(
        out / "eligible_sites.xlsx", sheet_name="汇总 (summary)", header=2
    )
    ex = sheets["排除项 (exclusions)"]
    assert ex["原因 (reason)"].iloc[0] == "生态保护红线 (redline)"
    assert "否 (false)" in set(ex["是否已评估 (assessed)"])  # farmland etc. have no layer
    sites = sheets["地块 (sites)"]
    assert "排除面积：水域及退让带（平方米） (removed_water_m2)" in sites.columns
    assert (
        sheets["汇总 (summary)"]["类型 (kind)"].iloc[-1]
        == "合计（候选地块并集） (all (union of candidates))"
    )


def test_unrecognised_industries_in_the_chinese_summary_say_how_to_map_them() -> None:
    from sxzones.analyses.firm_zones import summary_by_city

    t = _firm_table().assign(city="晋中市")
    zh = i18n.translate_frame(summary_by_city(t), "zh")
    row = zh[zh["行业识别状态"] == "未识别"].iloc[0]
    assert row["行业"] == "炼焦" and row["周边20千米内"] == 1
    assert row["如何对应"].startswith("在规则文件的 [vocabularies.industries] 中")
    assert zh.loc[zh["行业识别状态"] == "已识别", "行业"].tolist() == ["钢铁"]


def test_every_reject_and_finding_code_has_a_chinese_label() -> None:
    import sxzones.crs
    import sxzones.layers.validate

    src = "".join(
        Path(m.__file__).read_text(encoding="utf-8") for m in (sxzones.crs, sxzones.layers.validate)
    )
    codes = set(re.findall(r'reject\(\s*[^,]+,\s*"([a-z_]+)"', src))
    codes |= set(re.findall(r'CoordinateIssue\(\s*"([a-z_]+)"', src))
    codes |= set(re.findall(r'Finding\(\s*"[a-z]+",\s*"([a-z_]+)"', src))
    codes |= set(re.findall(r'code = [^\n]*"([a-z_]+)"$', src, re.M))
    assert {"empty_geometry", "swapped", "duplicate_id", "id_from_row"} <= codes  # found
    lab = i18n.labels()
    assert sorted(c for c in codes if c not in lab.values["code"]) == []


def test_a_recipe_says_lang_zh(tmp_path: Path) -> None:
    from sxzones.recipes import load_recipe, run_recipe

    recipe = tmp_path / "r.toml"
    recipe.write_text(
        f"""analysis = "check"
catalog = "{(ROOT / "layers" / "catalog.toml").as_posix()}"
out = "out"
[inputs]
projects = "{(ROOT / "analyses" / "examples" / "projects_demonstration.csv").as_posix()}"
[options]
crs = "wgs84"
reports = "none"
lang = "zh"
""",
        encoding="utf-8",
    )
    run_recipe(load_recipe(recipe))
    table = pd.read_csv(tmp_path / "out" / "site_check.csv", encoding="utf-8-sig")
    assert table.columns[0] == "项目编号"
    assert set(table["研判结论"]) == {"冲突", "有条件", "无冲突"}


def test_equipment_screen_in_chinese(tmp_path: Path) -> None:
    equipment = ROOT / "layers" / "shanxi" / "derived" / "equipment_demonstration.csv"
    args = ["phaseout", "--equipment", str(equipment), "--firms", "firms"]
    _cli(*args, "--builtup", "builtup_demonstration", "--out", str(tmp_path / "en"))
    _cli(
        *args,
        "--builtup",
        "builtup_demonstration",
        "--out",
        str(tmp_path / "zh"),
        "--lang",
        "zh",
        "--map",
        str(tmp_path / "m.html"),
    )
    en = pd.read_csv(tmp_path / "en" / "phaseout.csv", encoding="utf-8-sig")
    zh = pd.read_csv(tmp_path / "zh" / "phaseout.csv", encoding="utf-8-sig")
    assert list(zh.columns[:6]) == [
        "设备编号",
        "企业编号",
        "企业名称",
        "设备类型",
        "类别",
        "判定结果",
    ]
    # names of equipment types and statuses come from the rules file's equipment vocabulary
    types = {"coke_oven": "焦炉", "blast_furnace": "高炉", "converter": "转炉"}
    for ident, zh_name in types.items():
        assert (zh["设备类型"] == zh_name).sum() == (en["equipment_type"] == ident).sum() > 0
    findings = {"phase_out": "须淘汰", "keep": "保留", "unassessed": "无法评估"}
    assert zh["判定结果"].tolist() == en["finding"].map(findings).tolist()
    assert set(zh["状态"].dropna()) <= {"在产", "停产", "已关停"}
    sheets = pd.read_excel(tmp_path / "zh" / "phaseout.xlsx", sheet_name=None)
    assert list(sheets) == ["汇总", "设备", "焦化产能", "新增产能", "企业", "数据来源"]
    # demonstration equipment and built-up layers: the summary's first line says so
    assert sheets["汇总"].columns[0].startswith("示范图层，非官方数据：equipment_demonstration")
    sheets["汇总"] = pd.read_excel(tmp_path / "zh" / "phaseout.xlsx", sheet_name="汇总", header=1)
    assert list(sheets["汇总"].columns[2:5]) == ["须淘汰", "无法评估", "保留"]
    html = (tmp_path / "m.html").read_text(encoding="utf-8")
    assert '"finding": "须淘汰"' in html and "Equipment phase-out screen" not in html


def test_report_coordinate_headings_follow_the_language() -> None:
    """The coordinate table of a report was bilingual ("经度 lon", "环 Ring") even under
    ``--lang zh``; Chinese only now, and today's bilingual headings for ``en``."""
    import shapely
    from pyproj import CRS

    from sxzones.reports import coordinate_table

    parcel = shapely.box(112.5, 37.8, 112.51, 37.81)
    zh = coordinate_table(parcel, CRS.from_epsg(4490), "gcj02", "zh")["head"]
    assert zh == ["点号", "环", "gcj02 经度", "gcj02 纬度", "CGCS2000 经度", "CGCS2000 纬度"]
    gk = coordinate_table(parcel, CRS.from_epsg(4490), "EPSG:4527", "zh")["head"]
    assert gk[2:4] == ["EPSG:4527 东", "EPSG:4527 北"]
    en = coordinate_table(parcel, CRS.from_epsg(4490), "EPSG:4527", "en")["head"]
    assert en == [
        "点号 No.",
        "环 Ring",
        "EPSG:4527 东 E (m)",
        "EPSG:4527 北 N (m)",
        "CGCS2000 经度 lon",
        "CGCS2000 纬度 lat",
    ]


def test_unassessed_reasons_in_chinese(tmp_path):
    """A zh site check gave its reasons for `unassessed` in English (in the table and the
    printable report): each reason the check writes is now in Chinese; ``both`` keeps the
    English beside it."""
    from click.testing import CliRunner

    from sxzones.cli import cli
    from sxzones.i18n import translate_reason

    reasons = {
        "outside Shanxi (山西省), where the plan applies: it does not apply here":
            "不在山西省，本方案在此不适用",
        "no 行业 given": "未给出行业",
        "行业 '铸造' is not in the rules' vocabulary (map it under [vocabularies.industries] "
        "in the rules file)": "行业“铸造”不在规则词表中（可在规则文件的 [vocabularies.industries] 中对应）",
        "outside every control unit of cu: the layers do not cover it":
            "位于 cu 的所有环境管控单元之外：图层未覆盖此处",
        "1,234 m² (2.5 %) of the parcel lie outside every control unit of cu: the layers do "
        "not cover that part": "地块有 1,234 平方米（2.5%）位于 cu 的所有环境管控单元之外：图层未覆盖该部分",
    }  # fmt: skip
    for en, zh in reasons.items():
        assert translate_reason(en, "zh") == zh
        assert translate_reason(en, "both") == f"{zh} ({en})"
    assert translate_reason("something new", "zh") == "something new"  # kept as written
    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli,
        ["check", "--project", "114.3,37.0", "--crs", "cgcs2000", "--industry", "coking",
         "--lang", "zh", "--reports", "all", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "site_check.csv", encoding="utf-8-sig")
    assert table["无法研判原因"].iloc[0].startswith("不在山西省，本方案在此不适用；")
    assert "不在山西省，本方案在此不适用" in (out / "report-P1.html").read_text(encoding="utf-8")
