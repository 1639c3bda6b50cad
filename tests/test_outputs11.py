"""Audit 11's output findings (E19, E4, E5, E18, E15, E6): the firm screen's tables agree
with themselves at the 20 km line and on the line of an area, say where the plan's
province was not checked, list out-of-province firms apart, keep every rejected row of a
file whose every row is rejected, leave missing XLSX cells blank, and hold only the run's
own files after ``--overwrite``."""

from __future__ import annotations

import zipfile

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Geod

from sxzones.analyses.site_check import SiteLayers, check_sites
from sxzones.cli import cli
from sxzones.rules import load_rules

GEOD = Geod(ellps="GRS80")  # CGCS2000's ellipsoid
W, E, S, N = 112.00, 112.02, 37.50, 37.52  # a 1.8 km x 2.2 km built-up square (lon/lat)


def _square() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"area_id": ["BU1"], "name": ["测试建成区"], "kind": ["city"]},
        geometry=[shapely.box(W, S, E, N)],
        crs=4490,
    )


def _places() -> dict[str, tuple[float, float]]:
    """Points placed on the ellipsoid from the square's NE vertex (45°, so the vertex is the
    nearest point) and its east edge: a few millimetres either side of 20 km and of 0."""
    out = {}
    for d in (20_000.003, 20_000.007):
        lon, lat, _ = GEOD.fwd(E, N, 45.0, d)
        out[f"NE{d}"] = (lon, lat)
    for d in (0.003, 0.007):
        lon, lat, _ = GEOD.fwd(E, (S + N) / 2, 90.0, d)
        out[f"EO{d}"] = (lon, lat)
    return out


def _firms_csv(path, places):
    rows = [
        {
            "统一社会信用代码": k,
            "企业名称": k,
            "行业": "焦化",
            "经度": f"{x:.11f}",
            "纬度": f"{y:.11f}",
        }
        for k, (x, y) in places.items()
    ]
    pd.DataFrame(rows).to_csv(path, index=False, encoding="utf-8")


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


# E19 ------------------------------------------------------------------------------------


def test_firm_zone_is_decided_on_the_distance_as_written(tmp_path):
    """3 mm past 20 km is written 20000.0 and is within 20 km; 7 mm past is 20000.01 and
    beyond; 3 mm off an edge is written 0.0 and is inside; 7 mm off is 0.01 and within."""
    places = _places()
    for k, (x, y) in places.items():  # the placements themselves, by Geod
        want = float(k[2:])
        ref = (E, N) if k.startswith("NE") else (E, (S + N) / 2)
        assert GEOD.inv(*ref, x, y)[2] == pytest.approx(want, abs=1e-6)
    _square().to_file(tmp_path / "bu.gpkg")
    _firms_csv(tmp_path / "f.csv", places)
    res = _invoke(
        "firms", "--firms", str(tmp_path / "f.csv"), "--crs", "cgcs2000",
        "--builtup", str(tmp_path / "bu.gpkg"), "--out", str(tmp_path / "o"), "--admin", "",
        "--format", "csv,gpkg",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    t = pd.read_csv(tmp_path / "o" / "firm_zones.csv", encoding="utf-8-sig", dtype=str)
    got = dict(
        zip(t["firm_id"], zip(t["zone"], t["distance_m"].astype(float), strict=True), strict=True)
    )
    assert got == {
        "NE20000.003": ("within_20km", 20000.0),
        "NE20000.007": ("beyond", 20000.01),
        "EO0.003": ("inside", 0.0),
        "EO0.007": ("within_20km", 0.01),
    }
    # the rule of clause 十三 follows the zone: the firm within 20 km written is named
    rules = dict(zip(t["firm_id"], t["rule_ids"].fillna(""), strict=True))
    assert rules["NE20000.003"] == "deep_treatment_20km"
    assert rules["NE20000.007"] == ""
    assert rules["EO0.003"] == "relocate_inside_builtup;deep_treatment_20km"
    g = gpd.read_file(tmp_path / "o" / "firm_zones.gpkg")
    assert g.set_index("firm_id")["zone"].to_dict() == {k: v[0] for k, v in got.items()}


def test_site_check_zone_is_decided_on_the_distance_as_written():
    """The site check's built-up zone (``_distance_columns``) likewise: 3 mm past 20 km is
    within, 7 mm past is beyond, 3 mm off the edge is inside."""
    places = _places()
    bu = _square().to_crs(4546)
    pts = gpd.GeoSeries([shapely.Point(*places[k]) for k in places], crs=4490).to_crs(4546)
    projects = gpd.GeoDataFrame(
        {"project_id": list(places), "industry": ["coking"] * 4, "kind": ["new"] * 4},
        geometry=pts.to_numpy(),
        crs=4546,
    )
    units = gpd.GeoDataFrame(
        {"unit_code": ["U1"], "unit_type": ["general_control"]},
        geometry=[shapely.box(W - 1, S - 1, W - 0.9, S - 0.9)],
        crs=4490,
    ).to_crs(4546)  # far from every project
    layers = SiteLayers({"builtup": bu, "control_units": units})
    t = check_sites(projects, layers, load_rules()).table
    got = dict(
        zip(
            t["project_id"],
            zip(t["builtup_zone"], t["builtup_distance_m"].astype(float), strict=True),
            strict=True,
        )
    )
    assert got == {
        "NE20000.003": ("within_20km", 20000.0),
        "NE20000.007": ("beyond", 20000.01),
        "EO0.003": ("inside", 0.0),
        "EO0.007": ("within_20km", 0.01),
    }


# E4, E5 ---------------------------------------------------------------------------------

# a steel works in 信都区 (Xingtai, Hebei), 17 km from its county town; one in 太原 (Shanxi)
TWO = "企业名称,行业,经度,纬度\n河北某钢厂,钢铁,114.10,37.0\n太原某钢厂,钢铁,112.55,37.87\n"


def _two_firms(tmp_path):
    import sxzones

    p = tmp_path / "two.csv"
    p.write_text(TWO, "utf-8")
    catalog = sxzones.load_catalog()
    raw = sxzones.read_file(p, crs="wgs84")
    firms, _ = sxzones.validate_layer(raw, "firms", working_crs=catalog.working.crs)
    builtup, _ = catalog.load("builtup_demonstration")
    admin, _ = catalog.load("admin")
    return firms, builtup, admin


def test_api_without_admin_says_in_every_row_that_the_province_was_not_checked(tmp_path):
    from sxzones.analyses.firm_zones import NO_ADMIN, screen_firms

    firms, builtup, admin = _two_firms(tmp_path)
    rules = load_rules()
    bare = screen_firms(firms, builtup, rules, threads=1)
    assert bare["province"].astype(str).tolist() == [NO_ADMIN, NO_ADMIN]
    assert NO_ADMIN == "未核查：未提供行政区划图层 / not checked: no admin layer"
    assert bare.attrs["province_checked"] is False
    checked = screen_firms(firms, builtup, rules, admin=admin, threads=1)
    assert checked["province"].astype(str).tolist() == ["河北省", "山西省"]
    assert checked["applicable"].tolist() == [False, True]
    assert checked.attrs["province_checked"] is True
    # zones and distances do not depend on it
    assert bare["zone"].astype(str).tolist() == checked["zone"].astype(str).tolist()


def test_workbook_summary_lists_out_of_province_firms_apart(tmp_path):
    p = tmp_path / "two.csv"
    p.write_text(TWO, "utf-8")
    res = _invoke(
        "firms", "--firms", str(p), "--crs", "wgs84", "--builtup", "builtup_demonstration",
        "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    s = pd.read_excel(tmp_path / "o" / "firm_zones.xlsx", sheet_name="summary", header=1)
    rows = s[["province", "city", "industry_id", "inside", "within_20km"]].values.tolist()
    assert rows == [
        ["山西省", "太原市", "steel", 1, 0],
        ["河北省", "山西省外 / outside Shanxi", "steel", 0, 1],
    ]
    t = pd.read_csv(tmp_path / "o" / "firm_zones.csv", encoding="utf-8-sig", dtype=str)
    assert t["province"].tolist() == ["河北省", "山西省"]


# E18 ------------------------------------------------------------------------------------


def test_a_file_whose_every_row_is_rejected_writes_them_all_to_rejects(tmp_path):
    """Three firms, 行业 blank in each: exit 2, the message names the commonest reason with
    its fix and the rejects file, and rejects.csv lists the three rows; with --overwrite
    over a good run, the earlier run's tables go (the folder holds this run's files only)."""
    _square().to_file(tmp_path / "bu.gpkg")
    good = tmp_path / "good.csv"
    _firms_csv(good, _places())
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "企业名称,行业,经度,纬度\n甲,,112.1,37.6\n乙,,112.2,37.6\n丙,焦化,,37.6\n", "utf-8"
    )
    out = tmp_path / "o"
    common = ["--crs", "cgcs2000", "--builtup", str(tmp_path / "bu.gpkg"), "--out", str(out)]
    assert _invoke("firms", "--firms", str(good), *common).exit_code == 0
    res = _invoke("firms", "--firms", str(bad), *common, "--overwrite")
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "bad.csv: no feature passed validation: all 3 rows were rejected" in text
    assert "Commonest reasons: '行业' empty [field 行业] (2 rows; fix: fill in the value)" in text
    assert f"is in {out / 'rejects.csv'}. Fix: fill in the value" in text
    assert "Traceback" not in res.output
    rej = pd.read_csv(out / "rejects.csv", encoding="utf-8-sig", dtype=str)
    assert rej["source_row"].tolist() == ["2", "3", "4"]
    assert rej["reason"].tolist()[:2] == ["'行业' empty", "'行业' empty"]
    assert rej["field"].tolist()[2] == "经度/纬度"
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "rejects.csv"]


# E15 ------------------------------------------------------------------------------------


def test_xlsx_writes_no_cell_for_missing_or_empty_values(tmp_path):
    """A beyond firm's rule_ids, clauses and asks are empty: no cell at all (openpyxl reads
    None; the sheet XML holds no empty inline string), where a value is, a cell."""
    import openpyxl

    _square().to_file(tmp_path / "bu.gpkg")
    _firms_csv(tmp_path / "f.csv", _places())
    res = _invoke(
        "firms", "--firms", str(tmp_path / "f.csv"), "--crs", "cgcs2000",
        "--builtup", str(tmp_path / "bu.gpkg"), "--out", str(tmp_path / "o"), "--admin", "",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    path = tmp_path / "o" / "firm_zones.xlsx"
    ws = openpyxl.load_workbook(path)["beyond"]
    head = [c.value for c in ws[1]]
    row = {h: c.value for h, c in zip(head, ws[2], strict=False)}
    assert row["firm_id"] == "NE20000.007"
    assert row["rule_ids"] is None and row["clauses"] is None and row["asks"] is None
    assert row["nearest_area_note"] is None if "nearest_area_note" in row else True
    assert row["zone"] == "beyond"
    with zipfile.ZipFile(path) as z:
        xml = b"".join(z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))
    assert b"<t></t>" not in xml and b'<t xml:space="preserve"></t>' not in xml
    # the writer itself: "" and None alike give no cell; " " is kept
    from sxzones.xlsx import write_xlsx_file

    frame = pd.DataFrame({"a": ["x", "", None, " "] * 3})
    write_xlsx_file({"s": frame}, tmp_path / "w.xlsx")
    col = [c.value for c in openpyxl.load_workbook(tmp_path / "w.xlsx")["s"]["A"]]
    assert col == ["a", "x", None, None, " "] * 1 + ["x", None, None, " "] * 2


# E6 -------------------------------------------------------------------------------------


def test_overwrite_removes_the_previous_runs_map_in_out_and_says_so(tmp_path):
    _square().to_file(tmp_path / "bu.gpkg")
    _firms_csv(tmp_path / "f.csv", _places())
    out = tmp_path / "o"
    common = ["firms", "--firms", str(tmp_path / "f.csv"), "--crs", "cgcs2000"]
    common += ["--builtup", str(tmp_path / "bu.gpkg"), "--out", str(out), "--format", "csv"]
    res = _invoke(*common, "--map", str(out / "map.html"))
    assert res.exit_code == 0, res.output
    assert (out / "map.html").is_file()
    # the same run with its map again keeps it (it is this run's)
    res = _invoke(*common, "--map", str(out / "map.html"), "--overwrite")
    assert res.exit_code == 0 and (out / "map.html").is_file(), res.output
    assert "removed" not in res.output
    res = _invoke(*common, "--overwrite")  # no map this time
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == [
        "firm_zones.csv",
        "manifest.json",
        "rejects.csv",
    ]
    assert (
        f"removed {out / 'map.html'} (the previous run's; this run does not write it)" in res.output
    )
    # a map edited since (not the previous run's bytes) is left alone
    res = _invoke(*common, "--map", str(out / "map.html"), "--overwrite")
    (out / "map.html").write_text("edited", "utf-8")
    res = _invoke(*common, "--overwrite")
    assert (out / "map.html").read_text("utf-8") == "edited"
