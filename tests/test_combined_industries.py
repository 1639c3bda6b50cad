"""A combined works (钢焦联合企业) is written with both industries in one cell: ``钢铁、焦化``,
``钢铁/焦化``. It was 'unrecognised' with a fix that could not work (one value cannot be the
synonym of two industries); now every industry listed is named and the rules of each apply."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from sxzones.cli import cli
from sxzones.rules import load_rules

RULES = load_rules()


@pytest.mark.parametrize(
    ("text", "ident"),
    [
        ("钢铁、焦化", "steel;coking"),
        ("钢铁，焦化", "steel;coking"),
        ("钢铁/焦化", "steel;coking"),
        ("炼焦；炼钢", "coking;steel"),
        ("钢铁和焦化", "steel;coking"),
        ("钢铁 + 焦化", "steel;coking"),
        ("2521、3120", "coking;steel"),
        ("焦化、焦化", "coking"),
        ("钢铁、食品", None),  # one part unknown: the whole stays unknown
        ("黑色金属冶炼和压延加工业", None),  # 和 inside a name splits into unknown parts
        ("有色金属冶炼和压延加工业", "nonferrous"),  # the whole name is known first
    ],
)
def test_industries_listed_in_one_value(text, ident):
    assert RULES.industries.resolve(text) == ident


@pytest.mark.parametrize("text", ["新建、扩建", "废弃矿山、采煤沉陷区"])
def test_a_kind_is_one_kind(text):
    assert RULES.project_kinds.resolve(text) is None
    assert RULES.candidate_kinds.resolve(text) is None


def test_firm_screen_applies_the_rules_of_each_industry(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text(
        "企业名称,行业,经度,纬度\n钢焦联合,钢铁、焦化,112.55,37.87\n"
        "某食品钢铁,钢铁、食品,112.55,37.87\n",
        "utf-8",
    )
    res = CliRunner().invoke(
        cli,
        [
            "firms", "--firms", str(p), "--crs", "wgs84", "--builtup", "builtup_demonstration",
            "--format", "csv", "--lang", "both", "--out", str(tmp_path / "o"),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "industry: recognised 1, unrecognised 1, missing 0" in res.output
    t = pd.read_csv(tmp_path / "o" / "firm_zones.csv", encoding="utf-8-sig", dtype=str)
    assert t.iloc[0]["行业 (industry_id)"] == "钢铁 (steel);焦化 (coking)"
    assert t.iloc[0]["规则编号 (rule_ids)"] == "relocate_inside_builtup;deep_treatment_20km"
    assert t.iloc[1]["行业识别状态 (industry_status)"] == "未识别 (unrecognised)"


def test_site_check_of_a_combined_project(tmp_path):
    """At 太钢 (inside Taiyuan's built-up area, in the Taiyuan region): the coking and steel
    bans both fire, as for steel alone."""
    res = CliRunner().invoke(
        cli,
        [
            "check", "--project", "112.55,37.87", "--crs", "wgs84", "--industry", "钢铁、焦化",
            "--reports", "none", "--out", str(tmp_path / "o"),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    p = json.loads((tmp_path / "o" / "site_check.json").read_text("utf-8"))["projects"][0]
    assert p["industry"] == "steel;coking"
    assert p["verdict"] == "conflict"
    assert {r["id"] for r in p["rules"]} == {
        "site_taiyuan_region_ban",
        "site_inside_builtup",
        "site_within_20km_deep_treatment",
    }
