"""The siting screen's candidates given in parts (audit 9 m12).

A parcel drawn in two pieces is two rows sharing a 地块编号: the second was rejected as a
duplicate and its land left the totals, with a fix ("give every feature its own id") that is
wrong for a parcel code. Rows sharing an id with the same kind are now one candidate (the
union of its parts, its eligible area and capacity from all of them), said as a note; with
another kind both rows are rejected, each naming the other; the rows add up.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Geod

from sxzones.cli import cli

from .conftest import CATALOG

GEOD = Geod(ellps="GRS80")


def _square(lon: float, lat: float, d: float = 0.01) -> str:
    return f"POLYGON(({lon} {lat},{lon + d} {lat},{lon + d} {lat + d},{lon} {lat + d},{lon} {lat}))"


# 忻州市五寨县, away from every exclusion of the demonstration layers (all land eligible)
K1A, K1B = _square(111.90, 38.75), _square(111.95, 38.75)
K2A, K2B = _square(111.90, 38.70), _square(111.95, 38.70)
K3 = _square(111.80, 38.70)
K4 = _square(111.85, 38.70)
CSV = (
    "地块编号,地块类型,WKT\n"
    f'K1,采煤沉陷区,"{K1A}"\nK1,采煤沉陷区,"{K1B}"\n'
    f'K2,采煤沉陷区,"{K2A}"\nK2,废弃矿山,"{K2B}"\n'
    f'K3,废弃矿山,"{K3}"\n'
    f'K4,废弃矿山,"{K4}"\nK4,废弃矿山,"POLYGON((bad))"\n'
)


def _geod_area(wkt: str) -> float:
    lon, lat = shapely.from_wkt(wkt).exterior.xy
    return abs(GEOD.polygon_area_perimeter(lon, lat)[0])


def _sites(tmp_path: Path, text: str, *extra: str, out: str = "o") -> tuple[str, Path]:
    p = tmp_path / "cand.csv"
    p.write_text(text, "utf-8")
    res = CliRunner().invoke(
        cli,
        ["sites", "--candidates", str(p), "--crs", "cgcs2000", "--tech", "pv", "--catalog",
         str(CATALOG), "--out", str(tmp_path / out), *extra],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    return res.output, tmp_path / out


def _table(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "eligible_sites.csv", encoding="utf-8-sig").set_index("site_id")


def _rejects(out: Path) -> pd.DataFrame:
    rej = pd.read_csv(out / "rejects.csv", encoding="utf-8-sig", dtype=str)
    return rej.set_index("source_row")


def test_parts_sharing_a_parcel_code_are_one_candidate(tmp_path: Path) -> None:
    """K1's two pieces: one candidate whose land (pyproj.Geod) and capacity are both
    pieces'; the note names the rows; the rows add up (7 = 3 screened + 4 rejected)."""
    said, out = _sites(tmp_path, CSV)
    t = _table(out)
    assert sorted(t.index) == ["K1", "K3"]
    both = _geod_area(K1A) + _geod_area(K1B)
    assert t.loc["K1", "candidate_m2"] == pytest.approx(both, abs=0.2)
    assert t.loc["K1", "eligible_m2"] == pytest.approx(both, abs=0.2)
    one = t.loc["K3", "eligible_m2"] / t.loc["K3", "capacity_mw"]  # m² per MW, the rules'
    assert t.loc["K1", "capacity_mw"] == pytest.approx(both / one, abs=0.02)
    assert t.loc["K1", "capacity_mw"] > 1.9 * t.loc["K3", "capacity_mw"]
    assert "input rows 7 = screened 3 + rejected 4 (2 rows screened as 1 candidate(s)" in said
    assert "K1 (rows 2 and 3)" in said and "give every feature its own id" not in said
    doc = json.loads((out / "siting.json").read_text("utf-8"))
    assert doc["candidates"]["rows"] == 7
    assert {k: doc["candidates"][k] for k in ("screened", "rejected")} == {
        "screened": 3,
        "rejected": 4,
    }
    assert (doc["candidates"]["candidates"], doc["candidates"]["rows_in_parts"]) == (2, 2)


def test_parts_of_another_kind_or_a_rejected_part_are_rejected(tmp_path: Path) -> None:
    """K2's pieces disagree on the kind: both rejected, each naming the other row and both
    kinds; K4's second piece has no geometry: its first is rejected too (no candidate
    screened on part of its land)."""
    said, out = _sites(tmp_path, CSV)
    rej = _rejects(out)
    assert sorted(rej.index, key=int) == ["4", "5", "7", "8"]
    assert set(rej.loc[["4", "5"], "code"]) == {"candidate_parts_differ"}
    assert "地块编号 'K2' is also given on row 5" in rej.loc["4", "reason"]
    assert "地块编号 'K2' is also given on row 4" in rej.loc["5", "reason"]
    assert (
        "地块类型 differs (row 4: 采煤沉陷区 (subsidence), row 5: 废弃矿山 (abandoned_mine))"
        in rej.loc["5", "reason"]
    )
    assert "give them the same kind and state (settled, closure year)" in rej.loc["5", "reason"]
    assert rej.loc["7", "code"] == "candidate_part_rejected" and "row 8" in rej.loc["7", "reason"]
    assert "rejected: 地块编号 'K2' on 2 rows that cannot be one candidate" in said


def test_one_candidate_per_id_is_read_as_before(tmp_path: Path) -> None:
    """A file without repeated ids: no parts said, the accounting line as before."""
    said, out = _sites(tmp_path, f'地块编号,地块类型,WKT\nK3,废弃矿山,"{K3}"\n')
    assert "input rows 1 = screened 1 + rejected 0\n" in said
    assert "given in parts" not in said
    doc = json.loads((out / "siting.json").read_text("utf-8"))
    assert doc["candidates"]["rows"] == 1 and "rows_in_parts" not in doc["candidates"]


def test_candidates_in_parts_on_the_dask_engine_equal_local(tmp_path: Path) -> None:
    """``--engine dask`` reads the candidates as the local engine does: same table, same
    rejects, same accounting."""
    pytest.importorskip("distributed")
    pytest.importorskip("dask_geopandas")
    _, out = _sites(tmp_path, CSV)
    said_d, out_d = _sites(tmp_path, CSV, "--engine", "dask", out="od")
    for name in ("eligible_sites.csv", "rejects.csv"):
        assert (out / name).read_bytes() == (out_d / name).read_bytes(), name
    assert "input rows 7 = screened 3 + rejected 4" in said_d


# A multipart project: one part in 万柏林区 (太原市), one in 城区 (阳泉市), 城区 the larger share;
# W1 across 万柏林区 and 晋源区 (both 太原市); S1 a point in 杏花岭区 (太原市)
M1 = (
    "MULTIPOLYGON(((112.30 37.90,112.305 37.90,112.305 37.905,112.30 37.905,112.30 37.90)),"
    "((113.58 37.86,113.585 37.86,113.585 37.865,113.58 37.865,113.58 37.86)))"
)
W1 = "POLYGON((112.455 37.805,112.47 37.805,112.47 37.812,112.455 37.812,112.455 37.805))"
PROJECTS = f'项目编号,行业,WKT\nM1,化工,"{M1}"\nW1,光伏,"{W1}"\nS1,光伏,POINT(112.55 37.87)\n'


def _place_lines(tmp_path: Path, lang: str) -> tuple[dict[str, str], dict[str, str]]:
    """Per project, the place in the report's line of industry, kind and place; and the
    counties of site_check.json."""
    p = tmp_path / "projects.csv"
    p.write_text(PROJECTS, "utf-8")
    out = tmp_path / lang
    res = CliRunner().invoke(
        cli,
        ["check", "--projects", str(p), "--crs", "cgcs2000", "--catalog", str(CATALOG),
         "--lang", lang, "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    lines = {}
    for pid in ("M1", "W1", "S1"):
        html = (out / f"report-{pid}.html").read_text("utf-8")
        (line,) = [x for x in html.splitlines() if x.startswith("<p>") and "<b>" in x]
        lines[pid] = line.rsplit(" · ", 1)[1].removesuffix("</p>")
    doc = json.loads((out / "site_check.json").read_text("utf-8"))
    return lines, {d["project_id"]: d["county"] for d in doc["projects"]}


@pytest.mark.parametrize(
    ("lang", "m1", "w1"),
    [
        ("zh", "阳泉市城区；太原市万柏林区", "太原市{}；太原市{}"),
        ("en", "阳泉市 城区; 太原市 万柏林区", "太原市 {}; 太原市 {}"),
    ],
)
def test_the_report_pairs_each_county_with_its_city(
    tmp_path: Path, lang: str, m1: str, w1: str
) -> None:
    """audit 9 C11's follow-up: the place line read "阳泉市; 太原市 城区; 万柏林区" (the cities,
    then the counties); each county now follows its own city, the larger share first (the
    table's order), and a project in one county reads as before."""
    lines, counties = _place_lines(tmp_path, lang)
    assert lines["M1"] == m1
    first, second = counties["W1"].split("; ")
    assert {first, second} == {"万柏林区", "晋源区"}
    assert lines["W1"] == w1.format(first, second)
    assert lines["S1"] == "太原市 杏花岭区"  # one county: `{{ city }} {{ county }}`, as before


def test_parts_in_another_state_are_rejected(tmp_path: Path) -> None:
    """The score reads a subsidence parcel's 稳沉 state: pieces of one id, one settled and
    one still settling, are not silently given the first's; both rejected, values shown."""
    text = f'地块编号,地块类型,是否稳沉,WKT\nK5,采煤沉陷区,是,"{K1A}"\nK5,采煤沉陷区,否,"{K1B}"\n'
    text += f'K3,废弃矿山,,"{K3}"\n'
    said, out = _sites(tmp_path, text)
    rej = _rejects(out)
    assert sorted(rej.index) == ["2", "3"]
    assert set(rej["code"]) == {"candidate_parts_differ"}
    assert "是否稳沉 differs (row 2: 是 (True), row 3: 否 (False))" in rej.loc["2", "reason"]
    assert "input rows 3 = screened 1 + rejected 2\n" in said
    assert list(_table(out).index) == ["K3"]


def test_an_id_written_another_way_is_the_same_parcel(tmp_path: Path) -> None:
    """Validation compares ids in full width and lower case as one (k1 is K1): so do the
    parts, said with both writings; before, K1 and k1 became two candidates unsaid."""
    said, out = _sites(
        tmp_path, f'地块编号,地块类型,WKT\nK1,采煤沉陷区,"{K1A}"\nｋ1,采煤沉陷区,"{K1B}"\n'
    )
    t = _table(out)
    assert list(t.index) == ["K1"]
    assert t.loc["K1", "candidate_m2"] == pytest.approx(_geod_area(K1A) + _geod_area(K1B), abs=0.2)
    assert "K1 (also written 'ｋ1') (rows 2 and 3)" in said
    assert "input rows 2 = screened 2 + rejected 0 (2 rows screened as 1 candidate(s)" in said
