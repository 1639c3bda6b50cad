"""Clause 十三's 20 km ring: drawn around every built-up area (county towns included, the
rules file's stated reading), and around city areas only when the catalogue's entry selects
them (the way the rules file says to apply the text's 城市建成区 alone)."""

from __future__ import annotations

import re

import pandas as pd
from click.testing import CliRunner

from sxzones.cli import cli
from tests.conftest import CATALOG, ROOT


def _catalog(tmp_path):
    """The bundled catalogue (paths made absolute) plus the cities of the demonstration
    built-up areas."""
    text = CATALOG.read_text(encoding="utf-8").replace(
        'path = "shanxi/', f'path = "{(ROOT / "layers" / "shanxi").as_posix()}/'
    )
    text += (
        "\n[layers.builtup_cities_demonstration]\n"
        f'path = "{(ROOT / "layers/shanxi/derived/builtup_demonstration.gpkg").as_posix()}"\n'
        'role = "builtup"\nwhere = "kind = \'city\'"\n'
        'description = "the demonstration built-up areas of cities only"\n'
        'provenance = { source = "layers/shanxi/build.py", licence = "CC BY 4.0", '
        'version = "test", status = "demonstration", date = "2026-11-29" }\n'
    )
    p = tmp_path / "catalog.toml"
    p.write_text(text, encoding="utf-8")
    return p


def _named(tmp_path, builtup: str) -> tuple[int, pd.DataFrame]:
    out = tmp_path / builtup
    res = CliRunner().invoke(
        cli,
        [
            "firms", "--firms", "firms", "--builtup", builtup, "--format", "csv",
            "--catalog", str(_catalog(tmp_path)), "--out", str(out),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    m = re.search(r"named by a rule: inside \d+, within_20km (\d+)", res.output)
    assert m, res.output
    return int(m.group(1)), pd.read_csv(out / "firm_zones.csv", encoding="utf-8-sig", dtype=str)


def test_the_ring_of_thirteen_is_drawn_around_county_towns_too_unless_cities_are_chosen(tmp_path):
    every, t_all = _named(tmp_path, "builtup_demonstration")
    cities, t_city = _named(tmp_path, "builtup_cities_demonstration")
    assert (every, cities) == (25, 9)  # 16 named only through a county town
    assert set(t_city["nearest_area_kind"].dropna()) == {"city"}
    near_town = t_all[t_all["nearest_area_kind"] == "county_town"]
    assert len(near_town) > 0
