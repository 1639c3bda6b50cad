"""The site check as audit 10 found it: a value given for every project filled a file's
blank 行业 or 建设性质 cells without a word (D4: three new coking plants ``conflict`` ->
``conditional``); a blank 建设性质 read as new was said on the terminal only (D5); rows
sharing an id with a rejected row were told to correct that row, then refused as points of
other industries (D10); ``P8 `` and ``P8`` were two projects looking the same (D9); and
``--project``'s several polygons were named "feature 1 / 2", not by their 项目编号 (D21).

Known answers: the verdicts of the bundled demonstration layers at a point of the Taiyuan
region 11 km from 太原市建成区 (a coking plant: ``conflict`` when new, clause 五's ban;
``conditional`` when relocated, clause 十三), and areas against :class:`pyproj.Geod`.
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

#: Five coking plants at one point of the Taiyuan region (the auditor's kinds_mixblank.csv):
#: 建设性质 blank on rows 2, 4 and 6, 迁建 on rows 3 and 5.
MIXBLANK = (
    "项目编号,行业,建设性质,经度,纬度\n"
    "K1,焦化,,112.484,38.06\nK2,焦化,迁建,112.484,38.06\nK3,焦化,,112.484,38.06\n"
    "K4,焦化,迁建,112.484,38.06\nK5,焦化,,112.484,38.06\n"
)
FILLED = "建设性质 blank: checked as 迁建 relocation, the kind given for every project"


def _check(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["check", *args])
    return res.exit_code, res.output


def _table(out: Path) -> pd.DataFrame:
    return pd.read_csv(
        out / "site_check.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False
    ).set_index("project_id")


def _rejects(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "rejects.csv", encoding="utf-8-sig", dtype=str).set_index("source_row")


def _doc_notes(out: Path) -> dict[str, str]:
    doc = json.loads((out / "site_check.json").read_text("utf-8"))
    return {p["project_id"]: p["geometry_note"] for p in doc["projects"]}


# ---- D4: a value given for every project over a file's blank cells ------------------------


def test_kind_given_fills_blank_cells_and_says_so_in_every_output(tmp_path: Path) -> None:
    """``--kind 迁建`` over K1-K5: the blanks K1, K3, K5 are checked as 迁建
    (``conditional``, as the option asks), said on the terminal with their rows and in each
    filled project's note in the CSV, site_check.json and the printable report; K2 and K4,
    which give 迁建 themselves, carry no note. Without ``--kind`` the blanks are new:
    ``conflict`` (clause 五), each said as such."""
    p = tmp_path / "kinds_mixblank.csv"
    p.write_text(MIXBLANK, "utf-8")
    out = tmp_path / "o"
    code, said = _check("--projects", str(p), "--crs", "wgs84", "--kind", "迁建",
                        "--out", str(out))  # fmt: skip
    assert code == 0, said
    line = next(x for x in said.splitlines() if "given for every project" in x)
    assert "fills 3 blank 建设性质 cells" in line and "the other 2 row(s) give it" in line
    assert "(rows 2, 4, 6)" in line
    t = _table(out)
    assert set(t["verdict"]) == {"conditional"}
    assert set(t["kind"]) == {"relocation"}
    notes = t["geometry_note"].to_dict()
    assert notes == {"K1": FILLED, "K2": "", "K3": FILLED, "K4": "", "K5": FILLED}
    assert _doc_notes(out) == notes
    assert FILLED in (out / "report-K3.html").read_text("utf-8")
    assert FILLED not in (out / "report-K2.html").read_text("utf-8")
    code, said = _check("--projects", str(p), "--crs", "wgs84", "--reports", "none",
                        "--out", str(tmp_path / "n"))  # fmt: skip
    assert code == 0, said
    t = _table(tmp_path / "n")
    assert t["verdict"].to_dict() == {
        "K1": "conflict", "K2": "conditional", "K3": "conflict", "K4": "conditional",
        "K5": "conflict",
    }  # fmt: skip


def test_industry_given_fills_a_blank_cell_and_says_so(tmp_path: Path) -> None:
    """``--industry 焦化`` over I1 (焦化) and I2 (blank 行业): I2 is checked as coking,
    ``conflict``, and its note says the industry came from the option; without it I2 is
    ``unassessed`` (no 行业). A differing 行业 is still refused."""
    p = tmp_path / "ind_blank.csv"
    p.write_text("项目编号,行业,经度,纬度\nI1,焦化,112.484,38.06\nI2,,112.484,38.06\n", "utf-8")
    out = tmp_path / "o"
    code, said = _check("--projects", str(p), "--crs", "wgs84", "--industry", "焦化",
                        "--reports", "none", "--out", str(out))  # fmt: skip
    assert code == 0, said
    assert any("fills 1 blank 行业 cell:" in x and "(row 3)" in x for x in said.splitlines())
    t = _table(out)
    assert t.loc["I2", "verdict"] == "conflict"
    note = "行业 blank: checked as 焦化 coking, the industry given for every project"
    assert t.loc["I2", "geometry_note"] == note and t.loc["I1", "geometry_note"] == ""
    assert _doc_notes(out)["I2"] == note
    code, said = _check("--projects", str(p), "--crs", "wgs84", "--reports", "none",
                        "--out", str(tmp_path / "n"))  # fmt: skip
    assert code == 0, said
    assert _table(tmp_path / "n").loc["I2", "verdict"] == "unassessed"
    q = tmp_path / "ind_other.csv"
    q.write_text("项目编号,行业,经度,纬度\nI1,水泥,112.484,38.06\nI2,,112.484,38.06\n", "utf-8")
    code, said = _check("--projects", str(q), "--crs", "wgs84", "--industry", "焦化",
                        "--out", str(tmp_path / "r"))  # fmt: skip
    assert code == 2 and "水泥 (1)" in said and "Traceback" not in said


def test_page_and_recipe_fill_blank_kinds_as_the_command(tmp_path: Path) -> None:
    """The page's 项目类型 and a recipe's ``kind`` over the same file: the same verdicts and
    notes as ``--kind``."""
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from sxzones.options import ServeOptions
    from sxzones.serve import create_app

    p = tmp_path / "kinds_mixblank.csv"
    p.write_text(MIXBLANK, "utf-8")
    recipe = tmp_path / "check.toml"
    recipe.write_text(
        f'analysis = "check"\nout = "o"\n[inputs]\nprojects = "{p.name}"\n'
        '[options]\ncrs = "wgs84"\nkind = "迁建"\nreports = "none"\n',
        "utf-8",
    )
    res = CliRunner().invoke(cli, ["run", str(recipe)])
    assert res.exit_code == 0, res.output
    assert "fills 3 blank 建设性质 cells" in res.output
    assert _table(tmp_path / "o").loc["K5", "geometry_note"] == FILLED
    app, state = create_app(ServeOptions(max_upload_mb=2, max_features=1000))
    try:
        with TestClient(app, base_url="http://127.0.0.1:8765") as client:
            r = client.post(
                "/api/check",
                data={"crs": "wgs84", "kind": "relocation"},
                files={"file": ("kinds_mixblank.csv", p.read_bytes())},
            )
            assert r.status_code == 200, r.text
            body = r.json()
            got = {
                d["project_id"]: (d["verdict"], d["geometry_note"])
                for d in body["document"]["projects"]
            }
            assert got == {
                "K1": ("conditional", FILLED), "K2": ("conditional", ""),
                "K3": ("conditional", FILLED), "K4": ("conditional", ""),
                "K5": ("conditional", FILLED),
            }  # fmt: skip
            assert "fills 3 blank 建设性质 cells" in body["summary"]
    finally:
        state.close()


# ---- D5: a blank 建设性质 read as new ---------------------------------------------------


def test_blank_kind_read_as_new_is_in_the_csv_json_and_report(tmp_path: Path) -> None:
    """K3's blank 建设性质 is checked as new (``conflict``, clause 五): its note says so in
    the CSV, site_check.json and its printable report; K2 (迁建) has none."""
    p = tmp_path / "k.csv"
    p.write_text(
        "项目编号,行业,建设性质,经度,纬度\nK2,焦化,迁建,112.484,38.06\nK3,焦化,,112.484,38.06\n",
        "utf-8",
    )
    out = tmp_path / "o"
    code, said = _check("--projects", str(p), "--crs", "wgs84", "--out", str(out))
    assert code == 0, said
    note = "建设性质 blank: checked as new (新建), the strictest reading"
    t = _table(out)
    assert (t.loc["K3", "kind"], t.loc["K3", "verdict"]) == ("new", "conflict")
    assert t.loc["K3", "geometry_note"] == note and t.loc["K2", "geometry_note"] == ""
    assert _doc_notes(out) == {"K2": "", "K3": note}
    assert note in (out / "report-K3.html").read_text("utf-8")
    assert "K3: conflict (site_taiyuan_region_ban" in said and note in said


# ---- D9: ids written apart ----------------------------------------------------------------


def _square(lon: float, lat: float, d: float = 0.005) -> str:
    return (
        f'"POLYGON(({lon} {lat},{lon + d} {lat},{lon + d} {lat + d},{lon} {lat + d},{lon} {lat}))"'
    )


def _geod_area(wkt: str) -> float:
    lon, lat = shapely.from_wkt(wkt.strip('"')).exterior.xy
    area, _ = Geod(ellps="GRS80").polygon_area_perimeter(lon, lat)
    return abs(area)


def test_ids_apart_by_a_space_or_case_are_one_project_of_parts(tmp_path: Path) -> None:
    """``P8 `` and ``P8``, ``p7`` and ``P7`` (the auditor's parts_mix.csv): one project of
    two parts each (area = the two parcels', Geod), the other writing said in the note;
    an id written alike stays one project too."""
    a, b = _square(112.30, 37.96), _square(112.31, 37.96)
    c, d = _square(112.30, 37.95), _square(112.31, 37.95)
    p = tmp_path / "parts.csv"
    p.write_text(
        f"项目编号,项目名称,行业,建设性质,WKT\nP8 ,space,化工,新建,{a}\nP8,space b,化工,新建,{b}\n"
        f"p7,case,化工,新建,{c}\nP7,case b,化工,新建,{d}\n",
        "utf-8",
    )
    out = tmp_path / "o"
    code, said = _check("--projects", str(p), "--crs", "wgs84", "--reports", "none",
                        "--out", str(out))  # fmt: skip
    assert code == 0, said
    assert "input rows 4 = checked 4 + rejected 0 (4 rows checked as 2 project(s)" in said
    t = _table(out)
    assert len(t) == 2 and sorted(t.index.str.strip().str.upper()) == ["P7", "P8"]
    row = t.loc["P8 "]
    assert (
        row["geometry_note"]
        == "one project of 2 parts (rows 2 and 3; 项目编号 'P8 ' (also written 'P8'))"
    )
    assert float(row["area_m2"]) == pytest.approx(_geod_area(a) + _geod_area(b), abs=0.05)
    assert "'p7' (also written 'P7')" in t.loc["p7", "geometry_note"]
    assert pd.read_csv(out / "rejects.csv").empty


# ---- D10: a rejected row beside rows that cannot be its project's parts -------------------


def test_a_rejected_part_that_agrees_or_differs(tmp_path: Path) -> None:
    """Q1: 化工 parcel (row 2) beside a 化工 row with a broken WKT (row 3): they agree, so
    row 2 is rejected as "another part was rejected … correct row 3". R1: a 化工 parcel
    (row 4) beside a 焦化 row with a broken WKT (row 5): the 行业 differs, said first with
    both rows' values; row 5's own reason names the shared id. P1 (the auditor's D10): row
    6 (焦化, an empty point) rejected beside points of 化工 and 风电 (rows 7, 8): refused as
    points of other industries, every row's 行业 shown, not "correct row 6". X1 is checked."""
    good = _square(112.30, 37.91)
    p = tmp_path / "p.csv"
    p.write_text(
        "项目编号,行业,建设性质,WKT\n"
        f'Q1,化工,新建,{good}\nQ1,化工,新建,"POLYGON((112.31 37.91,112.315 37.91))x"\n'
        f'R1,化工,新建,{good}\nR1,焦化,新建,"POLYGON((bad))"\n'
        'P1,焦化,新建,"POINT EMPTY"\nP1,化工,扩建,"POINT(111.40 38.45)"\n'
        'P1,风电,,"POINT(113.79 35.44)"\n'
        f"X1,化工,新建,{_square(112.30, 37.93)}\n",
        "utf-8",
    )
    out = tmp_path / "o"
    code, said = _check("--projects", str(p), "--crs", "wgs84", "--reports", "none",
                        "--out", str(out))  # fmt: skip
    assert code == 0, said
    assert list(_table(out).index) == ["X1"]
    rej = _rejects(out)
    assert rej.loc["2", "code"] == "project_part_rejected"
    assert "Fix: correct row 3" in rej.loc["2", "reason"]
    assert rej.loc["4", "code"] == "project_parts_differ"
    assert "行业 differs (row 4: 化工, row 5: 焦化)" in rej.loc["4", "reason"]
    assert "row 5 needs its own correction too" in rej.loc["4", "reason"]
    assert "besides, 项目编号 'R1' is also given on row 4" in rej.loc["5", "reason"]
    for r in ("7", "8"):
        assert rej.loc[r, "code"] == "project_parts_differ", rej.loc[r, "reason"]
        assert "行业 differs (row 6: 焦化, row 7: 化工, row 8: 风电)" in rej.loc[r, "reason"]
    assert "input rows 8 = checked 1 + rejected 7" in said


def test_a_point_table_row_without_coordinates_beside_a_point_of_its_id(tmp_path: Path) -> None:
    """A table of points: P1 on row 2 (no 经度) and row 3, both 焦化 新建. Corrected, row 2
    would be a second point of P1, refused as points: that is said first; A1 is checked."""
    p = tmp_path / "pts.csv"
    p.write_text(
        "项目编号,行业,建设性质,经度,纬度\nP1,焦化,新建,,37.04\nP1,焦化,新建,111.40,38.45\n"
        "A1,光伏,新建,112.8,37.2\n",
        "utf-8",
    )
    out = tmp_path / "o"
    code, said = _check("--projects", str(p), "--crs", "wgs84", "--reports", "none",
                        "--out", str(out))  # fmt: skip
    assert code == 0, said
    rej = _rejects(out)
    assert rej.loc["3", "code"] == "project_parts_differ"
    assert "points, and a project's site is not several points" in rej.loc["3", "reason"]
    assert list(_table(out).index) == ["A1"]


# ---- D21: --project's several polygons named by their 项目编号 -----------------------------


def test_project_of_several_polygons_names_their_ids(tmp_path: Path) -> None:
    """Two parcels A and B (项目编号, 项目名称) given as one --project: refused, each named by
    its 项目编号 and name with its area."""
    sq = [shapely.from_wkt(_square(112.30 + k / 100, 37.90).strip('"')) for k in range(2)]
    feats = [
        {
            "type": "Feature",
            "properties": {"项目编号": pid, "项目名称": name, "行业": "化工"},
            "geometry": shapely.geometry.mapping(g),
        }
        for pid, name, g in zip(("A", "B"), ("一号地", "二号地"), sq, strict=True)
    ]
    p = tmp_path / "two.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    code, said = _check("--project", str(p), "--out", str(tmp_path / "o"))
    assert code == 2, said
    assert "feature 1 (项目编号 A, 一号地, 244,046 m²); feature 2 (项目编号 B, 二号地" in said
    assert "Traceback" not in said
