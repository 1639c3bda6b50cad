"""The land-use reviewer's site check, as an independent audit found it (audit 9): a kind
given for every project replaced a file's own 建设性质 without a word (C16), a blank
建设性质 was checked as new unsaid (m18), the second parcel of a project given in two rows
was rejected as a duplicate and the project reported ``clear`` on its first (C13), the
rejected rows were never printed (m13), and a project in Xi'an 1980 had its datum caveat on
the terminal only (C14).

Known answers: the verdicts of the bundled demonstration layers (a coking plant in the
Taiyuan region: ``conflict`` when new, ``conditional`` when relocated; a chemical parcel
inside 阳泉市建成区: ``conflict``), areas against :class:`pyproj.Geod`, distances built
in the working CRS at a chosen offset from a layer's feature.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Geod, Transformer
from shapely.ops import nearest_points

from sxzones.cli import cli
from sxzones.layers import load_catalog
from sxzones.runs.site_check import site_layers

#: 19 coking projects at one point of the Taiyuan region, 11 km from 太原市建成区 (the
#: auditor's in/kinds.csv): 建设性质 as agencies write it, and one blank.
KINDS = [
    "新建", "技改", "技术改造", "改造升级", "新建（一期）", "续建", "产能置换", "等量置换",
    "减量置换", "新建(产能置换)", "迁建", "退城入园", "整体搬迁", "升级改造", "扩建", "改扩建",
    "新建、扩建", "其他", "",
]  # fmt: skip


def _kinds_csv(tmp_path: Path) -> Path:
    p = tmp_path / "kinds.csv"
    rows = [f"K{k + 1},焦化,{kind},112.484,38.06" for k, kind in enumerate(KINDS)]
    p.write_text("项目编号,行业,建设性质,经度,纬度\n" + "\n".join(rows) + "\n", "utf-8")
    return p


def _check(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["check", *args])
    return res.exit_code, res.output


def _table(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "site_check.csv", encoding="utf-8-sig", dtype=str).set_index(
        "project_id"
    )


# ---- C16, m18: the file's own kind column ----------------------------------------------


def test_kind_over_a_files_own_kind_column_is_refused(tmp_path: Path) -> None:
    """``--kind 迁建`` made the new plant K1 ``conditional``: refused, naming the values."""
    csv = _kinds_csv(tmp_path)
    base = ["--projects", str(csv), "--crs", "wgs84", "--reports", "none"]
    code, out = _check(*base, "--kind", "迁建", "--out", str(tmp_path / "a"))
    assert code == 2, out
    assert "would replace the file's own '建设性质' column" in out
    assert "新建 (1)" in out and "技改 (1)" in out and "Traceback" not in out
    assert not (tmp_path / "a").exists()
    code, out = _check(*base, "--out", str(tmp_path / "b"))
    assert code == 0, out
    t = _table(tmp_path / "b")
    assert t.loc["K1", "verdict"] == "conflict"  # 新建 in the Taiyuan region: clause 五
    assert t.loc["K11", "verdict"] == "conditional"  # 迁建
    assert t.loc["K2", "verdict"] == "unassessed"  # 技改: not in the vocabulary


def test_the_same_kind_everywhere_passes(tmp_path: Path) -> None:
    p = tmp_path / "same.csv"
    p.write_text(
        "项目编号,行业,建设性质,经度,纬度\nR1,焦化,迁建,112.484,38.06\nR2,焦化,,112.49,38.06\n",
        "utf-8",
    )
    code, out = _check(
        "--projects", str(p), "--crs", "wgs84", "--reports", "none", "--kind", "relocation",
        "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == 0, out
    assert set(_table(tmp_path / "o")["verdict"]) == {"conditional"}


def test_recipe_kind_over_the_files_column_is_refused(tmp_path: Path) -> None:
    csv = _kinds_csv(tmp_path)
    recipe = tmp_path / "check.toml"
    recipe.write_text(
        f'analysis = "check"\nout = "o"\n[inputs]\nprojects = "{csv.name}"\n'
        '[options]\ncrs = "wgs84"\nkind = "迁建"\nreports = "none"\n',
        "utf-8",
    )
    res = CliRunner().invoke(cli, ["run", str(recipe)])
    assert res.exit_code == 2, res.output
    assert "would replace the file's own '建设性质' column" in res.output


def test_blank_kind_cell_is_said(tmp_path: Path) -> None:
    """K19's blank 建设性质 was checked as new with no word: a note names its row."""
    code, out = _check(
        "--projects", str(_kinds_csv(tmp_path)), "--crs", "wgs84", "--reports", "none",
        "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == 0, out
    line = next(x for x in out.splitlines() if "blank 建设性质" in x)
    assert "checked as new (新建)" in line and "(row 20)" in line
    t = _table(tmp_path / "o")
    assert (t.loc["K19", "kind"], t.loc["K19", "verdict"]) == ("new", "conflict")


# ---- C13, m13: rows sharing a project id ---------------------------------------------------

PHASE1 = "POLYGON((112.30 37.90,112.305 37.90,112.305 37.905,112.30 37.905,112.30 37.90))"
PHASE2 = "POLYGON((113.58 37.86,113.585 37.86,113.585 37.865,113.58 37.865,113.58 37.86))"


def _geod_area(wkt: str) -> float:
    lon, lat = shapely.from_wkt(wkt).exterior.xy
    area, _ = Geod(ellps="GRS80").polygon_area_perimeter(lon, lat)
    return abs(area)


def test_rows_sharing_an_id_are_one_project(tmp_path: Path) -> None:
    """XM01's 二期 lies inside 阳泉市建成区: the project is ``conflict``, not ``clear`` on its
    一期 alone; its area is the two parcels' (Geod)."""
    p = tmp_path / "dupid.csv"
    p.write_text(
        f'项目编号,项目名称,行业,WKT\nXM01,某化工项目（一期）,化工,"{PHASE1}"\n'
        f'XM01,某化工项目（二期）,化工,"{PHASE2}"\n',
        "utf-8",
    )
    out = tmp_path / "o"
    code, said = _check("--projects", str(p), "--crs", "cgcs2000", "--out", str(out))
    assert code == 0, said
    assert "input rows 2 = checked 2 + rejected 0 (2 rows checked as 1 project(s)" in said
    assert "XM01 (rows 2 and 3)" in said
    t = _table(out)
    assert list(t.index) == ["XM01"]
    row = t.loc["XM01"]
    assert (row["verdict"], row["rule_ids"], row["builtup_zone"]) == (
        "conflict",
        "site_inside_builtup",
        "inside",
    )
    assert row["name"] == "某化工项目（一期）、某化工项目（二期）"
    assert "one project of 2 parts" in row["geometry_note"]
    expected = _geod_area(PHASE1) + _geod_area(PHASE2)
    assert float(row["area_m2"]) == pytest.approx(expected, abs=0.02)
    doc = json.loads((out / "site_check.json").read_text("utf-8"))
    findings = doc["input"].pop("findings")
    assert doc["input"] == {
        "rows": 2,
        "checked": 2,
        "rejected": 0,
        "projects": 1,
        "rows_in_parts": 2,
    }
    parts = [f for f in findings if f["code"] == "project_parts"]
    assert len(parts) == 1 and parts[0]["rows"] == [2, 3] and parts[0]["kind"] == "note"
    assert (out / "report-XM01.html").exists()
    assert pd.read_csv(out / "rejects.csv").empty


def test_parts_that_disagree_or_lost_a_part_are_rejected(tmp_path: Path) -> None:
    """Different 行业 under one id: both rows rejected, each naming the other; 化工 and
    chemical agree; a project one of whose parts is rejected gets no verdict; every rejected
    row is printed with its reason (m13) and the rows add up."""
    p = tmp_path / "dup2.csv"
    p.write_text(
        "项目编号,项目名称,行业,建设性质,WKT\n"
        f'XM01,一期,化工,新建,"{PHASE1}"\nXM01,二期,焦化,新建,"{PHASE2}"\n'
        f'XM02,甲,化工,,"{PHASE1}"\nXM02,乙,chemical,新建,"{PHASE2}"\n'
        f'XM03,丙,化工,新建,"{PHASE1}"\nXM03,丁,化工,新建,"POLYGON((bad))"\n'
        f'XM05,庚,化工,新建,"{PHASE1}"\nXM05,辛,化工,迁建,"{PHASE2}"\n',
        "utf-8",
    )
    out = tmp_path / "o"
    code, said = _check("--projects", str(p), "--crs", "cgcs2000", "--reports", "none",
                        "--out", str(out))  # fmt: skip
    assert code == 0, said
    assert "input rows 8 = checked 2 + rejected 6 (2 rows checked as 1 project(s)" in said
    assert list(_table(out).index) == ["XM02"]
    rej = pd.read_csv(out / "rejects.csv", encoding="utf-8-sig", dtype=str).set_index("source_row")
    assert sorted(rej.index, key=int) == ["2", "3", "6", "7", "8", "9"]
    assert rej.loc["2", "code"] == "project_parts_differ"
    assert "also given on row 3" in rej.loc["2", "reason"]
    assert "row 2: 化工, row 3: 焦化" in rej.loc["3", "reason"]
    assert "row 8: 新建, row 9: 迁建" in rej.loc["9", "reason"]
    assert rej.loc["6", "code"] == "project_part_rejected" and "row 7" in rej.loc["6", "reason"]
    assert rej.loc["7", "code"] == "empty_geometry"
    for line in ("rejected: WKT missing or not readable", "rejected: 项目编号 'XM01' on 2 rows",
                 "rejected: 项目编号 'XM05' on 2 rows", "rejected: parts of a project"):  # fmt: skip
        assert any(x.strip().startswith(line) for x in said.splitlines()), line


def test_points_sharing_an_id_are_rejected_and_printed(tmp_path: Path) -> None:
    """Two points under one id are not one site (a multipoint's distances came out 0 m from
    a built-up area neither point is in): both rejected with the reason; every rejected row
    is printed with its reason (m13)."""
    p = tmp_path / "pts.csv"
    p.write_text(
        "项目编号,行业,经度,纬度\nA1,光伏,112.8,37.2\nA2,光伏,,\n"
        "P1,焦化,112.484,38.06\nP1,焦化,113.0,37.0\n",
        "utf-8",
    )
    code, said = _check("--projects", str(p), "--crs", "wgs84", "--reports", "none",
                        "--out", str(tmp_path / "o"))  # fmt: skip
    assert code == 0, said
    lines = [x.strip() for x in said.splitlines()]
    assert any(x.startswith("rejected: coordinates") and "(row 3)" in x for x in lines), said
    assert any(x.startswith("rejected: 项目编号 'P1'") and "points" in x for x in lines), said
    assert "input rows 4 = checked 1 + rejected 3" in said
    assert list(_table(tmp_path / "o").index) == ["A1"]


# ---- C14: a project in Xi'an 1980 ----------------------------------------------------------

X80 = "EPSG:2362"  # Xian 1980 / 3-degree Gauss-Kruger zone 38


def _layers():
    cat = load_catalog()
    return cat, site_layers(cat)


def _offset(feature: shapely.Geometry, towards: shapely.Point, metres: float) -> shapely.Point:
    """The point ``metres`` from ``feature``'s nearest boundary point, towards ``towards``
    (negative: into the feature), in the working CRS."""
    n = nearest_points(feature.boundary, towards)[0]
    v = np.array([towards.x - n.x, towards.y - n.y])
    v /= np.linalg.norm(v)
    return shapely.Point(n.x + v[0] * metres, n.y + v[1] * metres)


def _as_x80(p: shapely.Point, working: object) -> str:
    t = Transformer.from_crs(working, X80, always_xy=True)
    x, y = t.transform(p.x, p.y)
    return f"{x:.3f},{y:.3f}"


@pytest.mark.parametrize(
    ("metres", "verdict", "flagged"),
    [(20_050.0, "clear", True), (19_950.0, "conditional", True), (20_300.0, "clear", False)],
)
def test_xian80_caveat_goes_with_the_answer_and_a_near_threshold_is_flagged(
    tmp_path: Path, metres: float, verdict: str, flagged: bool
) -> None:
    """A new coking plant 20,050 m, 19,950 m and 20,300 m (working CRS) south-west of
    吕梁市建成区, given in Xi'an 1980 longitude and latitude: clause 十三's 20 km rule fires
    only at 19,950 m; the first two are flagged as within the approximation of 20 km, the
    third not. The caveat is in site_check.json, the CSV's note and the report beside the
    coordinates. The same point in CGCS2000 carries neither."""
    _, layers = _layers()
    bu = layers.frames["builtup"]
    town = bu[bu["name"] == "吕梁市建成区"].geometry.iloc[0]
    c = town.centroid
    away = shapely.Point(
        c.x + 80_000 * np.cos(np.radians(120)), c.y + 80_000 * np.sin(np.radians(120))
    )
    p = _offset(town, away, metres)
    assert bu.distance(p).min() == pytest.approx(metres, abs=0.01)  # 吕梁市建成区 the nearest
    lon, lat = Transformer.from_crs(bu.crs, "EPSG:4610", always_xy=True).transform(p.x, p.y)
    out = tmp_path / "x80"
    code, said = _check("--project", f"{lon:.9f},{lat:.9f}", "--crs", "xian80",
                        "--industry", "coking", "--out", str(out))  # fmt: skip
    assert code == 0, said
    row = _table(out).iloc[0]
    d = float(row["builtup_distance_m"])
    assert abs(d - metres) < 30 and row["nearest_builtup"] == "吕梁市建成区"
    assert row["verdict"] == verdict, said
    note = row["geometry_note"]
    assert note.startswith("Xian 1980 coordinates: the shift to CGCS2000 is approximated")
    flag = "within the Xian 1980 approximation (100 m) of: 20 km (site_within_20km_deep_treatment"
    assert (flag in note) is flagged and (flag in said) is flagged
    assert note.endswith("confirm with CGCS2000 coordinates") is flagged
    doc = json.loads((out / "site_check.json").read_text("utf-8"))
    assert "Xian 1980" in doc["input"]["caveats"][0]
    assert doc["projects"][0]["geometry_note"] == note
    html = (out / "report-P1.html").read_text("utf-8")
    coords = html.index(" · CGCS2000)</h2>")  # the coordinates' heading: given CRS and CGCS2000
    assert html.index("no published parameters to CGCS2000", coords) < html.index("<table", coords)
    same = tmp_path / "cgcs"
    code, said = _check("--project", f"{p.x:.3f},{p.y:.3f}", "--crs", f"EPSG:{bu.crs.to_epsg()}",
                        "--industry", "coking", "--out", str(same))  # fmt: skip
    assert code == 0, said
    assert _table(same).iloc[0]["verdict"] == verdict
    assert pd.isna(_table(same).iloc[0]["geometry_note"])
    assert "caveats" not in json.loads((same / "site_check.json").read_text("utf-8"))["input"]
    assert "no published parameters" not in (same / "report-P1.html").read_text("utf-8")


@pytest.mark.parametrize(
    ("metres", "flagged", "verdict"),
    [(50.0, "a red line less than 100 m away (site_redline)", "clear"),
     (-50.0, "a red line it lies in by less than 100 m (site_redline)", "conflict"),
     (-400.0, None, "conflict")],
)  # fmt: skip
def test_xian80_red_line_within_the_error_is_flagged(
    tmp_path: Path, metres: float, flagged: str | None, verdict: str
) -> None:
    """A PV point 50 m outside, 50 m inside and 400 m inside a red line, in Xi'an 1980."""
    _, layers = _layers()
    rl = layers.frames["redline"]
    big = rl.geometry.iloc[int(rl.geometry.area.argmax())]
    inner = big.representative_point()
    edge = nearest_points(big.boundary, inner)[0]
    v = np.array([inner.x - edge.x, inner.y - edge.y])
    v /= np.linalg.norm(v)
    p = shapely.Point(edge.x - v[0] * metres, edge.y - v[1] * metres)
    assert rl.distance(p).min() == pytest.approx(max(metres, 0), abs=0.01)
    if metres < 0:
        assert big.boundary.distance(p) == pytest.approx(-metres, abs=0.5)
    out = tmp_path / "o"
    code, said = _check("--project", _as_x80(p, rl.crs), "--crs", X80, "--industry", "pv",
                        "--reports", "none", "--out", str(out))  # fmt: skip
    assert code == 0, said
    row = _table(out).iloc[0]
    assert row["verdict"] == verdict, said
    note = row["geometry_note"]
    assert note.startswith("Xian 1980 coordinates")
    if flagged is None:
        assert "approximation (100 m) of" not in note
    else:
        assert flagged in note


# ---- the reviewer page ---------------------------------------------------------------------


def test_page_kind_select_over_an_uploaded_file_is_refused_and_parts_merged(
    tmp_path: Path,
) -> None:
    """The page's 项目类型 select over an upload with its own 建设性质: a clear message (400,
    not a verdict); an upload of 一期/二期 rows: one project, ``conflict``, as the command."""
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from sxzones.options import ServeOptions
    from sxzones.serve import create_app

    app, state = create_app(ServeOptions(max_upload_mb=2, max_features=1000))
    try:
        with TestClient(app, base_url="http://127.0.0.1:8765") as client:
            kinds = _kinds_csv(tmp_path).read_bytes()
            r = client.post(
                "/api/check",
                data={"crs": "wgs84", "kind": "relocation"},
                files={"file": ("kinds.csv", kinds)},
            )
            assert r.status_code == 400
            error = r.json()["error"]
            assert "would replace the file's own '建设性质' column" in error
            assert "迁建 relocation" in error and "项目类型" in error
            ok = client.post(
                "/api/check", data={"crs": "wgs84"}, files={"file": ("kinds.csv", kinds)}
            )
            assert ok.status_code == 200
            verdicts = {p["project_id"]: p["verdict"] for p in ok.json()["document"]["projects"]}
            assert verdicts["K1"] == "conflict" and verdicts["K11"] == "conditional"
            dup = f'项目编号,项目名称,行业,WKT\nXM01,一期,化工,"{PHASE1}"\nXM01,二期,化工,"{PHASE2}"\n'
            res = client.post(
                "/api/check",
                data={"crs": "cgcs2000"},
                files={"file": ("dup.csv", dup.encode())},
            ).json()
            assert [(p["project_id"], p["verdict"]) for p in res["document"]["projects"]] == [
                ("XM01", "conflict")
            ]
            assert res["document"]["input"]["rows_in_parts"] == 2
    finally:
        state.close()


JZD_X80 = """[属性描述]
格式版本号=1.01
坐标系=1980西安坐标系
几度分带=3
投影类型=高斯克吕格
计量单位=米
带号=38
[地块坐标]
5,59.9965,1,厂区,面,,工业用地,,@
J1,1,4241718.716,38450564.074
J2,1,4241718.716,38451564.074
J3,1,4242318.716,38451564.074
J4,1,4242318.716,38450564.074
J1,1,4241718.716,38450564.074
"""


def test_xian80_jzd_file_caveat_in_json_csv_and_report(tmp_path: Path) -> None:
    """The auditor's 界址点 file declaring 1980西安坐标系 (GBK, as survey programs write
    it): the caveat was on the terminal only. Half the parcel lies in a red line (about
    300 m deep) and the nearest built-up area is 20.65 km away: nothing near a threshold,
    so the caveat is given and no verdict flagged."""
    p = tmp_path / "jzd_x80.txt"
    p.write_bytes(JZD_X80.encode("gbk"))
    out = tmp_path / "o"
    code, said = _check("--project", str(p), "--industry", "chemical", "--out", str(out),
                        "--lang", "zh")  # fmt: skip
    assert code == 0, said
    doc = json.loads((out / "site_check.json").read_text("utf-8"))
    assert doc["input"]["caveats"] and "Xian 1980" in doc["input"]["caveats"][0]
    project = doc["projects"][0]
    assert project["verdict"] == "conflict"
    assert project["geometry_note"].startswith("Xian 1980 coordinates")
    assert "approximation (100 m) of" not in project["geometry_note"]
    csv = pd.read_csv(out / "site_check.csv", encoding="utf-8-sig", dtype=str)
    # --lang zh: the CSV's note in Chinese (the JSON keeps the English, as its identifiers)
    assert csv.loc[0, "几何说明"] == "西安1980坐标：转换到 CGCS2000 为近似值（误差可达数十米）"
    html = (out / "report-1.html").read_text("utf-8")
    coords = html.index("(EPSG:2362 · CGCS2000)</h2>")
    caveat = html.index("坐标为 Xian 1980：转换至 CGCS2000 无公开参数", coords)
    assert caveat < html.index("<table", coords)
