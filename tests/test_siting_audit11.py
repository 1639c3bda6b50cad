"""Audit 11's siting findings: wind totals over overlapping candidates count the union's
turbines (E9), ``--no-rule-exclusions`` is said in every output (E1), and the siting outputs
carry their sources (E8). Inputs are built here, in the working CRS, with known answers."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Transformer

from sxzones.analyses.siting import screen_sites
from sxzones.cli import cli
from sxzones.rules import load_rules

from .conftest import WORK

RULES = load_rules()
TO_XY = Transformer.from_crs(4490, WORK, always_xy=True)
X0, Y0 = (round(v) for v in TO_XY.transform(111.5, 37.5))  # Lüliang, Shanxi


def _box(x: float, y: float, w: float, h: float) -> shapely.Polygon:
    return shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)


def _overlapping() -> gpd.GeoDataFrame:
    """A and B: 1 km squares (GK plane), B over A's east half; L: a lone square 5 km east."""
    return gpd.GeoDataFrame(
        {"site_id": ["A", "B", "L"], "kind": "subsidence", "settled": True},
        geometry=[_box(0, 0, 1000, 1000), _box(500, 0, 1000, 1000), _box(5000, 0, 1000, 1000)],
        crs=WORK,
    )


def _as_one() -> gpd.GeoDataFrame:
    """The same land, A and B drawn as one candidate (their union, 1.5 km x 1 km)."""
    c = _overlapping()
    return gpd.GeoDataFrame(
        {"site_id": ["AB", "L"], "kind": "subsidence", "settled": True},
        geometry=[shapely.union_all(c.geometry.iloc[:2].to_numpy()), c.geometry.iloc[2]],
        crs=WORK,
    )


def test_wind_total_over_overlapping_candidates_is_the_unions_own_layout():
    """E9. At 800 m spacing a 1 km square holds 2 turbines, the 1.5 km x 1 km union of two
    squares overlapping by half holds 4 ((0,0), (800,0), (400,693), (1200,693) shifted
    inside): the total over A, B and L is 4 + 2 turbines, 30 MW at 5 MW, the total of the
    same land drawn as one candidate; keeping only A's and B's non-clashing turbines gave
    2 + 2 (20 MW)."""
    res = screen_sites(_overlapping(), [], RULES, tech="wind")
    one = screen_sites(_as_one(), [], RULES, tech="wind")
    assert res.sites["turbines"].tolist() == [2, 2, 2]
    assert one.sites["turbines"].tolist() == [4, 2]
    t, u = res.summary, one.summary
    assert float(RULES.get("siting_capacity_wind").params["turbine_mw"]) == 5.0
    assert t["capacity_mw"] == u["capacity_mw"] == 30.0
    assert t["capacity_mw_sum"] == 30.0  # the sites' own layouts, summed: 6 turbines
    assert t["union_layouts"] == [
        {
            "sites": ["A", "B"],
            "turbines": 4,
            "capacity_mw": 20.0,
            "turbines_sum": 4,
            "capacity_mw_sum": 20.0,
        }
    ]
    assert u["union_layouts"] == []
    [w] = [w for w in t["warnings"] if "overlap" in w]
    assert "A+B: 4 turbines, 20.0 MW on their union (their own layouts: 4, 20.0 MW)" in w


def test_wind_total_counts_the_union_where_the_sites_layouts_clash():
    """E9: B 400 m east of A, so that each of B's own turbines is within 800 m of one of
    A's (the old total kept A's 2: 10 MW). The 1.4 km x 1 km union holds 3 (a row of 2 at
    x 266.7 and 1066.7 m, the next row's 666.7 m; 1466.7 m is outside): 15 MW, the total
    of the union drawn as one candidate."""
    c = _overlapping()
    c.loc[1, "geometry"] = _box(400, 0, 1000, 1000)
    res = screen_sites(c.iloc[:2], [], RULES, tech="wind")
    one = screen_sites(
        gpd.GeoDataFrame(
            {"site_id": ["AB"], "kind": "subsidence", "settled": True},
            geometry=[shapely.union_all(c.geometry.iloc[:2].to_numpy())],
            crs=WORK,
        ),
        [],
        RULES,
        tech="wind",
    )
    n = int(one.sites["turbines"].iloc[0])
    assert n == 3
    assert res.summary["capacity_mw"] == one.summary["capacity_mw"] == n * 5.0
    assert res.summary["union_layouts"][0]["turbines"] == n


def _run(args: list[str]) -> str:
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    return res.output


def test_cli_wind_totals_of_overlapping_candidates_match_the_union_drawn_as_one(tmp_path):
    """E9 through the command: siting.json, the workbook's total row and the printed line
    give the union's 30 MW for both files."""
    _overlapping().to_file(tmp_path / "c.gpkg")
    _as_one().to_file(tmp_path / "u.gpkg")
    outs = {}
    for name in ("c", "u"):
        out = tmp_path / f"o-{name}"
        outs[name] = _run(
            ["sites", "--candidates", str(tmp_path / f"{name}.gpkg"), "--tech", "wind",
             "--no-rule-exclusions", "--out", str(out)]
        )  # fmt: skip
        meta = json.loads((out / "siting.json").read_text(encoding="utf-8"))
        assert meta["totals"]["capacity_mw"] == 30.0
        last = pd.read_excel(out / "eligible_sites.xlsx", sheet_name="summary").iloc[-1]
        assert last["capacity_mw"] == pytest.approx(30.0)
    assert "capacity 30.0 MW" in outs["c"] and "capacity 30.0 MW" in outs["u"]
    assert "A+B: 4 turbines, 20.0 MW on their union" in outs["c"]
    layers = [name for name, _ in pyogrio.list_layers(tmp_path / "o-c" / "eligible_sites.gpkg")]
    assert "turbines" in layers
