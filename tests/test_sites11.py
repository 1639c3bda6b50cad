"""The siting screen's candidates from a catalogue layer given in parts.

Rows of a candidates file sharing a 地块编号 were made one candidate of parts (audit 9 m12),
but a catalogue layer of role ``candidates`` (an agency's own 候选地块 layer named in its
catalogue) still rejected the second part as a duplicate and left its land out of the
totals. The catalogue layer is now read through the same parts reading as a file.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Geod

from sxzones.cli import cli

from .conftest import CATALOG, ROOT

GEOD = Geod(ellps="GRS80")


def _square(lon: float, lat: float, d: float = 0.01) -> str:
    return f"POLYGON(({lon} {lat},{lon + d} {lat},{lon + d} {lat + d},{lon} {lat + d},{lon} {lat}))"


# 忻州市五寨县, away from every exclusion of the demonstration layers (all land eligible)
K1A, K1B = _square(111.90, 38.75), _square(111.95, 38.75)
K2A, K2B = _square(111.90, 38.70), _square(111.95, 38.70)
K3 = _square(111.80, 38.70)
ROWS = [
    ("K1", "采煤沉陷区", K1A),
    ("K1", "采煤沉陷区", K1B),
    ("K2", "采煤沉陷区", K2A),
    ("K2", "废弃矿山", K2B),
    ("K3", "废弃矿山", K3),
]


def _geod_area(wkt: str) -> float:
    lon, lat = shapely.from_wkt(wkt).exterior.xy
    return abs(GEOD.polygon_area_perimeter(lon, lat)[0])


def _catalogue(tmp_path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """The bundled catalogue (its paths made absolute) and a county's own candidates layer
    ``plots`` (a GeoPackage in CGCS2000 degrees, its fields named in the entry)."""
    gpkg = tmp_path / "候选地块.gpkg"
    gpd.GeoDataFrame(
        {"地块编号": [r[0] for r in rows], "地块类型": [r[1] for r in rows]},
        geometry=[shapely.from_wkt(r[2]) for r in rows],
        crs="EPSG:4490",
    ).to_file(gpkg, layer="plots")
    text = CATALOG.read_text("utf-8").replace(
        'path = "shanxi/', f'path = "{(ROOT / "layers" / "shanxi").as_posix()}/'
    )
    text += (
        f'\n[layers.plots]\npath = "{gpkg.as_posix()}"\nrole = "candidates"\n'
        'fields = { site_id = "地块编号", kind = "地块类型" }\n'
        'provenance = { source = "某县自然资源局", licence = "restricted", version = "2026", '
        'status = "official" }\n'
    )
    cat = tmp_path / "catalog.toml"
    cat.write_text(text, "utf-8")
    return cat


def _sites(tmp_path: Path, rows: list[tuple[str, str, str]]) -> tuple[str, Path]:
    cat = _catalogue(tmp_path, rows)
    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli,
        ["sites", "--candidates", "plots", "--tech", "pv", "--catalog", str(cat),
         "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    return res.output, out


def test_catalogue_candidates_sharing_an_id_are_one_candidate(tmp_path: Path) -> None:
    """K1's two features in the catalogue layer: one candidate whose land (pyproj.Geod) is
    both pieces', said in the accounting line, the note and siting.json as for a file; K2's
    pieces of two kinds both rejected, each naming the other (5 = 3 screened + 2 rejected)."""
    said, out = _sites(tmp_path, ROWS)
    t = pd.read_csv(out / "eligible_sites.csv", encoding="utf-8-sig").set_index("site_id")
    assert sorted(t.index) == ["K1", "K3"]
    both = _geod_area(K1A) + _geod_area(K1B)
    assert t.loc["K1", "candidate_m2"] == pytest.approx(both, abs=0.2)
    assert t.loc["K1", "eligible_m2"] == pytest.approx(both, abs=0.2)
    assert t.loc["K1", "capacity_mw"] > 1.9 * t.loc["K3", "capacity_mw"]
    assert "input rows 5 = screened 3 + rejected 2 (2 rows screened as 1 candidate(s)" in said
    assert "screened as 1 candidate(s), each the union of its parts" in said
    assert "K1 (features 1 and 2)" in said
    assert "duplicate" not in said and "give every feature its own id" not in said
    assert t.loc["K1", "parts"] == 2
    doc = json.loads((out / "siting.json").read_text("utf-8"))
    assert (doc["candidates"]["rows"], doc["candidates"]["screened"]) == (5, 3)
    assert (doc["candidates"]["candidates"], doc["candidates"]["rows_in_parts"]) == (2, 2)
    rej = pd.read_csv(out / "rejects.csv", encoding="utf-8-sig", dtype=str).set_index("source_row")
    assert sorted(rej.index) == ["3", "4"]
    assert set(rej["code"]) == {"candidate_parts_differ"}
    assert "地块编号 'K2' is also given on feature 4" in rej.loc["3", "reason"]
    assert "废弃矿山 (abandoned_mine)" in rej.loc["3", "reason"]


def test_catalogue_candidates_one_per_id_as_before(tmp_path: Path) -> None:
    """A catalogue layer without repeated ids: no parts said, nothing rejected."""
    said, out = _sites(tmp_path, [ROWS[0], ROWS[4]])
    assert "input rows 2 = screened 2 + rejected 0\n" in said
    assert "given in parts" not in said
    doc = json.loads((out / "siting.json").read_text("utf-8"))
    assert "rows_in_parts" not in doc["candidates"]
    t = pd.read_csv(out / "eligible_sites.csv", encoding="utf-8-sig").set_index("site_id")
    assert t.loc["K1", "candidate_m2"] == pytest.approx(_geod_area(K1A), abs=0.1)


def test_planner_page_kinds_keep_a_catalogue_candidates_parts(tmp_path: Path) -> None:
    """The planner page, some kinds ticked, writes the catalogue's candidates of those kinds
    to a file: it took them from the layer as validated, the second part of K1 rejected as
    a duplicate (K1 screened on half its land) and K2's first part kept alone though its
    parts disagree. Now from the parts reading: K1 whole (both pieces, pyproj.Geod), K2 not
    screened."""
    from starlette.testclient import TestClient

    from sxzones.options import ServeOptions
    from sxzones.serve import create_app

    cat = _catalogue(tmp_path, ROWS)
    app, state = create_app(ServeOptions(), cat)
    try:
        with TestClient(app, base_url="http://127.0.0.1:8765") as client:
            res = client.post("/api/sites", data={"tech": "pv", "kinds": "subsidence"})
    finally:
        state.close()
    assert res.status_code == 200, res.text
    rows = {r["site_id"]: r for r in res.json()["table"]}
    assert sorted(rows) == ["K1"]
    both = _geod_area(K1A) + _geod_area(K1B)
    assert float(rows["K1"]["candidate_m2"]) == pytest.approx(both, abs=0.2)
