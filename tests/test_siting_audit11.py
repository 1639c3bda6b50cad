"""Audit 11's siting findings: wind totals over overlapping candidates count the union's
turbines (E9), ``--no-rule-exclusions`` is said in every output (E1), and the siting outputs
carry their sources (E8). Inputs are built here, in the working CRS, with known answers."""

from __future__ import annotations

import html as html_module
import json
from pathlib import Path

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
        summary = pd.read_excel(out / "eligible_sites.xlsx", sheet_name="summary", header=1)
        last = summary.iloc[-1]
        assert last["capacity_mw"] == pytest.approx(30.0)
    assert "capacity 30.0 MW" in outs["c"] and "capacity 30.0 MW" in outs["u"]
    assert "A+B: 4 turbines, 20.0 MW on their union" in outs["c"]
    layers = [name for name, _ in pyogrio.list_layers(tmp_path / "o-c" / "eligible_sites.gpkg")]
    assert "turbines" in layers


OFF = (
    "redline, priority_protection, protected_area, basic_farmland, basic_grassland, water, builtup"
)


def test_no_rule_exclusions_is_said_in_every_output(tmp_path):
    """E1. With --no-rule-exclusions the seven exclusions of the plan for PV (in the rules'
    order) are listed as turned off by it in the printed summary, siting.json, the
    workbook (summary's first line, exclusions sheet), the GeoPackage's metadata, the
    manifest's options, the map's note and the figure's title and footer; without it, the
    outputs say the rules' exclusions were applied."""
    from sxzones.maps.siting_map import figure_texts
    from sxzones.runs.siting import RULES_OFF

    _overlapping().to_file(tmp_path / "c.gpkg")
    out, html = tmp_path / "o", tmp_path / "m.html"
    printed = _run(
        ["sites", "--candidates", str(tmp_path / "c.gpkg"), "--tech", "pv",
         "--no-rule-exclusions", "--out", str(out), "--map", str(html)]
    )  # fmt: skip
    line = f"the plan's exclusions were turned off by {RULES_OFF}: {OFF} not applied"
    assert f"warning: {line}; only the --exclude layers (none) removed land" in printed
    assert f"not assessed: {OFF} (turned off by {RULES_OFF}); slope (no DEM given" in printed
    meta = json.loads((out / "siting.json").read_text(encoding="utf-8"))
    assert list(meta)[:2] == ["sxzones", "rule_exclusions"]
    assert meta["rule_exclusions"] == {
        "applied": False,
        "turned_off_by": "--no-rule-exclusions",
        "not_applied": OFF.split(", "),
    }
    assert meta["totals"]["warnings"][0].startswith(line)
    book = pd.read_excel(out / "eligible_sites.xlsx", sheet_name=None, header=None)
    assert str(book["summary"].iloc[0, 0]).startswith(line)
    assert book["summary"].iloc[1, 0] == "kind"
    ex = pd.read_excel(out / "eligible_sites.xlsx", sheet_name="exclusions")
    assert list(ex.columns[:9]) == [
        "reason", "rule", "layer", "setback_m", "features", "clause", "source", "assessed", "why",
    ]  # fmt: skip
    assert ex["reason"].tolist() == [*OFF.split(", "), "slope"]
    assert ex["why"].tolist()[:7] == [f"turned off by {RULES_OFF}"] * 7
    assert not ex["assessed"].any()
    info = pyogrio.read_info(out / "eligible_sites.gpkg", layer="eligible_sites")
    assert info["layer_metadata"]["sxzones_rule_exclusions"].startswith(line)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["options"]["tech"] == "pv"
    assert manifest["options"]["rule_exclusions"] is False
    assert manifest["options"]["rule_exclusions_note"].startswith(line)
    note = f"The plan's exclusions were turned off by --no-rule-exclusions: {OFF} not applied."
    page = html_module.unescape(html.read_text(encoding="utf-8"))
    assert note in page and "Not assessed (no layer): slope." in page

    from sxzones.analyses.siting import SitingResult

    res = SitingResult(
        gpd.GeoDataFrame(geometry=[]), None, gpd.GeoDataFrame(geometry=[]), meta, None
    )  # type: ignore[arg-type]
    title, footer = figure_texts(res, "Sources: c.gpkg")
    assert title.endswith("(plan's exclusions off)") and footer.startswith(note)
    title, footer = figure_texts(res, "来源", "zh")
    assert title.endswith("（未执行方案排除项）")
    assert footer.startswith("方案的排除项已由 --no-rule-exclusions 关闭，未执行：生态保护红线、")

    # with the rules' exclusions: said applied, nothing turned off
    on = tmp_path / "on"
    printed = _run(["sites", "--candidates", str(tmp_path / "c.gpkg"), "--tech", "pv",
                    "--out", str(on)])  # fmt: skip
    assert RULES_OFF not in printed
    meta = json.loads((on / "siting.json").read_text(encoding="utf-8"))
    assert meta["rule_exclusions"] == {"applied": True}
    assert json.loads((on / "manifest.json").read_text(encoding="utf-8"))["options"] == {
        "tech": "pv",
        "rule_exclusions": True,
    }


def test_exclusions_sheet_keeps_its_header_without_rows(tmp_path):
    """E1: a screen with nothing excluded and nothing left out still writes the sheet's
    header (it had none: an empty sheet)."""
    from sxzones.outputs import write_xlsx
    from sxzones.runs.siting import EXCLUSION_COLUMNS, _exclusion_rows

    frame = _exclusion_rows({"exclusions": [], "not_assessed": []})
    assert list(frame.columns) == EXCLUSION_COLUMNS and frame.empty
    write_xlsx({"exclusions": frame}, tmp_path / "x.xlsx")
    back = pd.read_excel(tmp_path / "x.xlsx", sheet_name="exclusions")
    assert list(back.columns) == EXCLUSION_COLUMNS and back.empty


def _sha256(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_siting_outputs_carry_their_sources_and_the_demonstration_warning(tmp_path):
    """E8. On the bundled demonstration layers the printed summary warns, the summary sheet's
    first line says so, the workbook has the sources sheet (role, layer, status, source,
    version, date, licence, features, SHA-256 ... and the rules file last), each GeoPackage
    layer carries the sources as metadata, and siting.json lists them: the same mechanism
    and wording as the firm screen's."""
    from sxzones.runs.provenance import SOURCE_COLUMNS

    out = tmp_path / "o"
    printed = _run(
        ["sites", "--candidates", "candidates_demonstration", "--tech", "pv", "--out", str(out)]
    )
    demo = (
        "candidates_demonstration (candidates), redline_demonstration (redline), "
        "control_units_demonstration (control_units), builtup_demonstration (builtup)"
    )
    assert (
        f"warning: demonstration layers, not official data (derived by a script): {demo}" in printed
    )
    book = pd.read_excel(out / "eligible_sites.xlsx", sheet_name=None, header=None)
    assert list(book) == ["sites", "summary", "exclusions", "sources"]
    assert book["summary"].iloc[0, 0] == (
        f"Demonstration layers, not official data: {demo}. Derived by scripts; see the "
        "sources sheet."
    )
    src = pd.read_excel(out / "eligible_sites.xlsx", sheet_name="sources", dtype=str)
    assert list(src.columns) == SOURCE_COLUMNS
    by_layer = src.set_index("layer")
    assert by_layer.loc["candidates_demonstration", "status"] == "demonstration"
    assert by_layer.loc["candidates_demonstration", "features"] == "91"
    assert by_layer.loc["admin", "status"] == "public"
    assert src["role"].iloc[-1] == "rules" and src["layer"].iloc[-1] == "shanxi-2023.toml"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for e in manifest["inputs"]:  # the sheet's SHA-256 is the manifest's, input by input
        digest = e.get("sha256") or e.get("sha256_of_files")
        row = src[(src["role"] == e["role"]) & (src["layer"] == e["name"])]
        assert row["sha256"].tolist() == [digest], e["name"]
    rules = next(e for e in manifest["inputs"] if e["role"] == "rules")
    assert src["sha256"].iloc[-1] == _sha256(Path(rules["file"]))
    for layer in ("eligible_sites", "removed"):
        md = pyogrio.read_info(out / "eligible_sites.gpkg", layer=layer)["layer_metadata"]
        assert md["DESCRIPTION"].startswith(f"Demonstration layers, not official data: {demo}")
        assert md["sxzones_demonstration"] == (
            "candidates_demonstration;redline_demonstration;control_units_demonstration;"
            "builtup_demonstration"
        )
        assert [r["layer"] for r in json.loads(md["sxzones_sources"])] == src["layer"].tolist()
    meta = json.loads((out / "siting.json").read_text(encoding="utf-8"))
    assert [(r["role"], r["layer"], r["status"]) for r in meta["sources"]] == list(
        zip(src["role"], src["layer"], src["status"].fillna(""), strict=True)
    )


def test_siting_sources_name_the_dem_with_its_sha256(tmp_path):
    """E8: a DEM is a row of the sources sheet (role raster, its file's name, status own,
    its SHA-256); a run on the user's own files and public layers prints no demonstration
    warning, and its summary's only first line is the rules' exclusions turned off."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    _overlapping().to_file(tmp_path / "c.gpkg")
    dem = tmp_path / "dem.tif"
    with rasterio.open(
        dem, "w", driver="GTiff", width=300, height=100, count=1, dtype="float32",
        crs=WORK.to_wkt(), transform=from_origin(X0 - 1000, Y0 + 2000, 30.0, 30.0),
    ) as ds:  # fmt: skip
        ds.write(np.full((1, 100, 300), 900.0, np.float32))
    out = tmp_path / "o"
    printed = _run(
        ["sites", "--candidates", str(tmp_path / "c.gpkg"), "--tech", "pv",
         "--no-rule-exclusions", "--dem", str(dem), "--out", str(out)]
    )  # fmt: skip
    assert "warning: demonstration" not in printed
    src = pd.read_excel(out / "eligible_sites.xlsx", sheet_name="sources", dtype=str)
    assert src["role"].tolist() == ["candidates", "admin", "raster", "rules"]
    raster = src.iloc[2]
    assert (raster["layer"], raster["status"], raster["source"]) == ("slope", "own", "dem.tif")
    assert raster["sha256"] == _sha256(dem)
    assert raster["notes"] == "slope from this DEM"
    assert src.iloc[0]["sha256"] == _sha256(tmp_path / "c.gpkg")
    summary = pd.read_excel(out / "eligible_sites.xlsx", sheet_name="summary", header=None)
    assert str(summary.iloc[0, 0]).startswith("the plan's exclusions were turned off")
    assert summary.iloc[1, 0] == "kind"
    md = pyogrio.read_info(out / "eligible_sites.gpkg", layer="eligible_sites")["layer_metadata"]
    assert md["DESCRIPTION"] == (
        "Sources: c.gpkg (candidates, own); admin (admin, public); slope (raster, own)"
    )
    assert "sxzones_demonstration" not in md


def test_a_rules_setback_with_the_rules_turned_off_is_refused_with_the_way_out(tmp_path):
    """E1: ``--exclude water:200m`` changes a rule's setback; with ``--no-rule-exclusions``
    there is no rule to change: refused (exit 2) naming the option and both fixes."""
    _overlapping().to_file(tmp_path / "c.gpkg")
    res = CliRunner().invoke(
        cli,
        ["sites", "--candidates", str(tmp_path / "c.gpkg"), "--tech", "pv",
         "--no-rule-exclusions", "--exclude", "water:200m", "--out", str(tmp_path / "o")],
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "--exclude ['water']: these are rules' reasons" in res.output
    assert "turned off by --no-rule-exclusions" in res.output
    assert "Fix: drop --no-rule-exclusions" in res.output
    assert not (tmp_path / "o").exists()


def test_no_rule_exclusions_in_chinese(tmp_path):
    """E1 under --lang zh: the summary sheet's first line and the exclusions sheet's why."""
    _overlapping().to_file(tmp_path / "c.gpkg")
    out = tmp_path / "o"
    _run(
        ["sites", "--candidates", str(tmp_path / "c.gpkg"), "--tech", "pv",
         "--no-rule-exclusions", "--out", str(out), "--lang", "zh"]
    )  # fmt: skip
    book = pd.read_excel(out / "eligible_sites.xlsx", sheet_name=None, header=None)
    assert list(book) == ["地块", "汇总", "排除项", "数据来源"]
    assert book["汇总"].iloc[0, 0] == (
        "方案的排除项已由 --no-rule-exclusions 关闭，未执行：生态保护红线、优先保护单元、"
        "自然保护地、永久基本农田、基本草原、水域及退让带、建成区及退让带"
    )
    ex = pd.read_excel(out / "eligible_sites.xlsx", sheet_name="排除项")
    assert ex["未评估原因"].tolist() == ["已由 --no-rule-exclusions 关闭"] * 7 + [
        "未给出 DEM（--dem）"
    ]
    assert set(ex["是否已评估"]) == {"否"}
