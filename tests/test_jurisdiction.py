"""The plan applies in Shanxi: a firm of a neighbouring province within the layers' reach
(the bundled layers reach 30 km beyond the border) keeps its zone and distance, but no rule of
晋环发〔2023〕1号 applies to it. Its county's adcode (from the admin layer) decides."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from sxzones.analyses.firm_zones import screen_firms, summarise
from sxzones.cli import cli
from sxzones.errors import RulesError
from sxzones.layers import load_catalog
from sxzones.rules import DEFAULT_RULES, load_rules

from .conftest import CATALOG

# a steel works in 信都区 (Xingtai, Hebei), 17 km from its county town; one in 太原 (Shanxi)
CSV = "企业名称,行业,经度,纬度\n河北某钢厂,钢铁,114.10,37.0\n太原某钢厂,钢铁,112.55,37.87\n"


def _run(tmp_path, *extra):
    p = tmp_path / "firms.csv"
    p.write_text(CSV, "utf-8")
    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli,
        [
            "firms", "--firms", str(p), "--crs", "wgs84", "--builtup", "builtup_demonstration",
            "--format", "csv", "--out", str(out), *extra,
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    return res.output, pd.read_csv(out / "firm_zones.csv", encoding="utf-8-sig", dtype=str)


def test_a_firm_of_a_neighbouring_province_gets_no_rule(tmp_path):
    output, t = _run(tmp_path)
    hebei, shanxi = t.iloc[0], t.iloc[1]
    assert (hebei["adcode"], hebei["zone"]) == ("130503", "within_20km")
    assert hebei["applicable"] == "false"
    assert pd.isna(hebei["rule_ids"])
    assert hebei["asks"] == "不在山西省，本方案不适用 / outside Shanxi: the plan does not apply"
    assert (shanxi["applicable"], shanxi["zone"]) == ("true", "inside")
    assert shanxi["rule_ids"] == "relocate_inside_builtup;deep_treatment_20km"
    assert "outside the plan's province: 1 firms keep their zone" in output


def test_without_an_admin_layer_the_province_is_not_checked(tmp_path):
    output, t = _run(tmp_path, "--admin", "")
    assert t["applicable"].tolist() == ["true", "true"]
    assert "no admin layer: city, county and province not checked" in output


def test_bundled_firms_of_neighbouring_provinces():
    """65 of the 208 bundled GEM plants lie in the neighbouring provinces' 30 km band."""
    cat = load_catalog(CATALOG)
    firms, _ = cat.load("firms")
    builtup, _ = cat.load("builtup_demonstration")
    admin, _ = cat.load("admin")
    t = screen_firms(firms, builtup, load_rules(), admin=admin)
    foreign = ~t["adcode"].astype(str).str.startswith("14")
    assert int(foreign.sum()) == 65 == summarise(t).outside
    assert not t.loc[foreign, "applicable"].any()
    assert (t.loc[foreign, "rule_ids"].astype(str) == "").all()
    assert t.loc[~foreign, "applicable"].sum() == 26


def test_a_rules_file_without_jurisdiction_applies_everywhere(tmp_path):
    p = tmp_path / "rules.toml"
    text = DEFAULT_RULES.read_text("utf-8")
    p.write_text("\n".join(ln for ln in text.splitlines() if not ln.startswith("jurisdiction")))
    output, t = _run(tmp_path, "--rules", str(p))
    assert t["applicable"].tolist() == ["true", "true"]
    assert "outside the plan's province" not in output


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('jurisdiction = { adcode_prefix = "1", zh = "山西省", en = "Shanxi" }', "not 2, 4 or 6"),
        ('jurisdiction = { adcode_prefix = 14, zh = "山西省", en = "Shanxi" }', "not 2, 4 or 6"),
        ('jurisdiction = "14"', "write it as jurisdiction = {"),
    ],
)
def test_a_malformed_jurisdiction_is_refused(tmp_path, line, message):
    p = tmp_path / "rules.toml"
    text = DEFAULT_RULES.read_text("utf-8")
    p.write_text(
        "\n".join(line if ln.startswith("jurisdiction") else ln for ln in text.splitlines())
    )
    with pytest.raises(RulesError, match=message):
        load_rules(p)


def test_a_built_up_layer_of_one_city_for_the_provinces_firms(tmp_path):
    """Taiyuan's built-up area alone, used for the bundled firms: firms of other cities came
    out 'beyond' without a word, though a city the layer does not hold may be near them."""
    cat = load_catalog(CATALOG)
    b, _ = cat.load("builtup_demonstration")
    one = tmp_path / "taiyuan.gpkg"
    b[b["name"].str.startswith("太原")].to_file(one)
    res = CliRunner().invoke(
        cli,
        ["firms", "--firms", "firms", "--builtup", str(one), "--format", "csv",
         "--out", str(tmp_path / "o")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if x.startswith("warning: "))
    assert "firms lie in cities where the built-up layer has no area" in line
    assert "大同市 14" in line and "太原市" not in line
    t = pd.read_csv(tmp_path / "o" / "firm_zones.csv", encoding="utf-8-sig", dtype=str)
    inside_shanxi = ~t["asks"].fillna("").str.endswith("the plan does not apply")
    others = inside_shanxi & (t["city"] != "太原市") & t["city"].notna()
    assert f"warning: {int(others.sum())} firms" in line
    whole = CliRunner().invoke(
        cli,
        ["firms", "--firms", "firms", "--builtup", "builtup_demonstration", "--format", "csv",
         "--out", str(tmp_path / "o2")],
    )  # fmt: skip
    assert whole.exit_code == 0 and "cities where the built-up layer has no area" not in (
        whole.output
    )


def test_equipment_of_a_firm_in_a_neighbouring_province(tmp_path):
    """An equipment table's unit whose firm lies outside Shanxi: its finding follows the
    equipment rules, and the summary warns that the plan sets them for Shanxi."""
    cat = load_catalog(CATALOG)
    firms, _ = cat.load("firms")
    builtup, _ = cat.load("builtup_demonstration")
    admin, _ = cat.load("admin")
    t = screen_firms(firms, builtup, load_rules(), admin=admin)
    away = t.loc[~t["adcode"].astype(str).str.startswith("14"), "firm_id"].iloc[0]
    home = t.loc[t["adcode"].astype(str).str.startswith("14"), "firm_id"].iloc[0]
    p = tmp_path / "units.csv"
    p.write_text(
        f"设备编号,企业代码,设备类型,公称容量（吨）,状态\nE1,{away},转炉,100,在产\n"
        f"E2,{home},转炉,100,在产\n",
        "utf-8",
    )
    res = CliRunner().invoke(
        cli,
        [
            "phaseout", "--equipment", str(p), "--firms", "firms", "--builtup",
            "builtup_demonstration", "--out", str(tmp_path / "o"),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "warning: 1 unit(s) belong to firms outside the plan's province" in res.output


def test_a_site_in_a_neighbouring_province_fires_no_rule(tmp_path):
    """A coking project in 信都区 (Hebei) within 20 km of its county town: the site check
    said `unassessed` (the plan does not apply there) but still listed the 20 km rule of
    clause 十三 as fired, in the table and the report; as for the firm screen, no rule of the
    plan fires outside Shanxi. A Shanxi project keeps its rule."""
    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli,
        ["check", "--projects", str(_projects(tmp_path)), "--crs", "cgcs2000", "--industry",
         "coking", "--reports", "all", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    t = pd.read_csv(out / "site_check.csv", encoding="utf-8-sig", dtype=str).set_index("project_id")
    assert t.loc["HB", "verdict"] == "unassessed" and pd.isna(t.loc["HB", "rule_ids"])
    assert t.loc["HB", "builtup_zone"] == "within_20km"  # the distance still stands
    assert "site_within_20km_deep_treatment" in t.loc["SX", "rule_ids"]
    report = (out / "report-HB.html").read_text(encoding="utf-8")
    assert "site_within_20km_deep_treatment" not in report


def _projects(tmp_path):
    p = tmp_path / "projects.csv"
    p.write_text("项目编号,经度,纬度\nHB,114.3,37.0\nSX,112.484,38.06\n", encoding="utf-8")
    return p
