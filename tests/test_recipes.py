"""Recipes: checked whole before any work starts; the demo recipe runs end to end."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from sxzones.cli import cli
from sxzones.errors import RecipeError
from sxzones.recipes import load_recipe, run_recipe

from .conftest import CATALOG, ROOT


def _recipe(tmp_path, body: str):
    p = tmp_path / "r.toml"
    p.write_text(f'catalog = "{CATALOG}"\n' + body, encoding="utf-8")
    return p


def test_unknown_keys_everywhere_are_reported_together(tmp_path):
    p = _recipe(
        tmp_path,
        'analysis = "overview"\nout = "o"\ncolour = 1\n'
        '[inputs]\nlayers = ["admin"]\nfirms = "x"\n[options]\nzoom = 3\n',
    )
    with pytest.raises(RecipeError) as exc:
        load_recipe(p)
    msg = str(exc.value)
    assert "unknown key(s) ['colour']" in msg
    assert "[inputs] unknown key(s) ['firms']" in msg
    assert "[options] unknown key(s) ['zoom']" in msg


def test_unknown_analysis_and_missing_out(tmp_path):
    p = _recipe(tmp_path, 'analysis = "magic"\n')
    with pytest.raises(
        RecipeError,
        match=r"analysis 'magic' is not one of \['check', 'firms', 'overview', 'phaseout', 'sites'\]",
    ):
        load_recipe(p)


def test_missing_layer_fails_before_any_work(tmp_path):
    out = tmp_path / "o"
    p = _recipe(
        tmp_path,
        f'analysis = "overview"\nout = "{out}"\n'
        '[inputs]\nlayers = ["admin", "farmland_official"]\n',
    )
    with pytest.raises(RecipeError, match="'farmland_official' is neither a layer of"):
        load_recipe(p)
    assert not out.exists()


def test_cli_run_bad_recipe_exits_2(tmp_path):
    p = _recipe(tmp_path, 'analysis = "overview"\nout = "o"\nextra = 1\n')
    res = CliRunner().invoke(cli, ["run", str(p)])
    assert res.exit_code == 2
    assert "unknown key(s) ['extra']" in res.output


def test_overview_recipe_runs_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "o"
    mp = tmp_path / "m.html"
    p = _recipe(
        tmp_path,
        f'analysis = "overview"\nout = "{out}"\n'
        f'[inputs]\nlayers = ["builtup_demonstration", "firms"]\n'
        f'[options]\nmap = "{mp}"\n',
    )
    res = run_recipe(load_recipe(p), say=lambda s: None)
    table = pd.read_csv(out / "layers_summary.csv", encoding="utf-8-sig")
    assert table["layer"].tolist() == ["builtup_demonstration", "firms"]
    assert table["loaded"].tolist() == [161, 208]
    assert mp.exists()
    assert len(res.outputs) == 3
    again = CliRunner().invoke(cli, ["run", str(p)])
    assert again.exit_code == 2
    assert "exists. Fix: pass --overwrite" in again.output
    assert CliRunner().invoke(cli, ["run", str(p), "--overwrite"]).exit_code == 0


def test_overview_recipe_in_chinese(tmp_path):
    """``lang = "zh"`` in an overview recipe: Chinese summary headers and provenance values,
    and a map whose legend and note are in Chinese only."""
    out = tmp_path / "o"
    mp = tmp_path / "m.html"
    p = _recipe(
        tmp_path,
        f'analysis = "overview"\nout = "{out}"\n'
        f'[inputs]\nlayers = ["builtup_demonstration", "firms"]\n'
        f'[options]\nmap = "{mp}"\nlang = "zh"\n',
    )
    run_recipe(load_recipe(p), say=lambda s: None)
    table = pd.read_csv(out / "layers_summary.csv", encoding="utf-8-sig")
    assert table["图层"].tolist() == ["builtup_demonstration", "firms"]
    assert table["载入要素数"].tolist() == [161, 208]
    assert table["状态"].tolist() == ["示范数据", "公开数据"]
    assert table["图层角色"].iloc[0] != "builtup"
    html = mp.read_text(encoding="utf-8")
    assert "示范图层按规则推导，非官方数据。" in html
    assert "Demonstration layers are derived" not in html
    assert "数据来源" in html


def test_demo_recipes_are_valid():
    for path in sorted((ROOT / "analyses").glob("demo-*.toml")):
        assert load_recipe(path).analysis


def test_recipe_saved_by_notepad_with_a_bom_is_read(tmp_path):
    """Windows Notepad saves UTF-8 with a byte-order mark: a recipe (and a rules or catalogue
    file) so saved was refused as "not valid TOML (at line 1, column 1)"."""
    p = tmp_path / "r.toml"
    p.write_bytes(
        "\ufeff".encode()
        + f'catalog = "{CATALOG}"\n# 概览\nanalysis = "overview"\nout = "o"\n'.encode()
    )
    assert load_recipe(p).analysis == "overview"
    rules = tmp_path / "rules.toml"
    from sxzones.rules import DEFAULT_RULES, load_rules

    rules.write_bytes(b"\xef\xbb\xbf" + DEFAULT_RULES.read_bytes())

    assert len(load_rules(rules).rules) == len(load_rules().rules)
