"""Ninth audit, parcels from corners: a 界址点成果表 whose corners are renumbered (rows in
boundary order, point numbers not: C1), a 界址点 file whose 界址点数 disagrees with its lines
(a following parcel's header missing: C17), pasted 界址点 lines without the zone prefix on
the reviewer page (C6) and a --project point written northing first (m10). Each from a
real file or request; areas against pyproj.Geod on the ellipsoid."""

from __future__ import annotations

import json

import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Geod, Transformer

from sxzones.cli import cli
from sxzones.serve import uploads

#: D1, metres from 38 450 000 E / 4 200 000 N (GK zone 38): a 400 m square with a notch
#: cut into its north side at J5, a corner added later, so the rows go J1 J2 J3 J5 J4 (the
#: boundary) while the numbers go J1 J2 J3 J4 J5 (another parcel, notched on the west).
E0, N0 = 38450000.0, 4200000.0
CORNERS = {"J1": (0, 0), "J2": (400, 0), "J3": (400, 400), "J4": (0, 400), "J5": (200, 300)}
BOUNDARY = ["J1", "J2", "J3", "J5", "J4"]


def _geod_area(labels, crs=4526, east0=E0):
    tr = Transformer.from_crs(crs, 4490, always_xy=True)
    east = [east0 + CORNERS[k][0] for k in labels]
    lon, lat = tr.transform(east, [N0 + CORNERS[k][1] for k in labels])
    return abs(Geod(ellps="GRS80").polygon_area_perimeter(lon, lat)[0])


#: The parcel as the rows draw it, and as the point numbers would (pyproj.Geod, GRS 1980).
RIGHT, WRONG = _geod_area(BOUNDARY), _geod_area(sorted(CORNERS))


def _invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _row(k):
    return [f"{N0 + CORNERS[k][1]:.3f}", f"{E0 + CORNERS[k][0]:.3f}"]


def _csv(path, order, labels=None):
    """D1's corners in ``order`` (and closed), each named ``labels[i]`` (its key if none)."""
    named = list(zip(labels or order, order, strict=True))
    rows = ["地块编号,点号,X,Y"] + [",".join(["D1", n, *_row(k)]) for n, k in [*named, named[0]]]
    path.write_text("\n".join(rows) + "\n", "utf-8-sig")
    return path


def _xlsx(path, order=BOUNDARY):
    """The usual 成果表: a title, 宗地号 row, merged 地块编号, 边长 rows between corners, 合计."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["界址点成果表"])
    ws.merge_cells("A1:E1")
    ws.append(["宗地号：D1", None, None, "面积：", None])
    ws.append(["地块编号", "点号", "X(m)", "Y(m)", "边长(m)"])
    ring = [*order, order[0]]
    for i, k in enumerate(ring):
        ws.append(["D1" if i == 0 else None, k, *_row(k), None])
        if i < len(ring) - 1:
            (a, b), (c, d) = CORNERS[k], CORNERS[ring[i + 1]]
            ws.append([None, None, None, None, round(((a - c) ** 2 + (b - d) ** 2) ** 0.5, 2)])
    ws.merge_cells(start_row=4, start_column=1, end_row=ws.max_row, end_column=1)
    ws.append(["合计", None, None, None, None])
    wb.save(path)
    return path


def _check(tmp_path, *args):
    out = tmp_path / "o"
    res = _invoke("check", *args, "--industry", "chemical", "--reports", "none", "--out", str(out))
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "site_check.json").read_text("utf-8"))
    return res.output, {q["project_id"]: q for q in doc["projects"]}


@pytest.mark.parametrize("make", [_csv, _xlsx], ids=["csv", "xlsx"])
def test_renumbered_corners_keep_the_rows_boundary_order(tmp_path, make):
    """C1: rows in boundary order with J5 between J3 and J4 were joined J1..J5 by number:
    119,992.69 m², another parcel, no word. The rows' order is kept (139,991.45 m², as the
    界址点 txt of the same corners reads), and the output says so with both areas."""
    assert (round(RIGHT, 2), round(WRONG, 2)) == (139991.45, 119992.68)
    p = make(tmp_path / f"corners.{'csv' if make is _csv else 'xlsx'}", BOUNDARY)
    output, got = _check(tmp_path, "--project", str(p), "--corners", "--crs", "gk38")
    assert got["D1"]["area_m2"] == pytest.approx(RIGHT, abs=0.01)
    said = (
        "corners joined in row order for parcel D1: the rows go J1 J2 J3 J5 J4 J1, 139,991.45 m²;"
        " by point number (点号) J1 J2 J3 J4 J5 J1 would make another parcel, 119,992.6"
    )
    assert said in output and "Fix, if the point numbers give the order: sort the rows" in output
    assert "corners joined in row order (the boundary order), one parcel per 地块编号" in output
    if make is _xlsx:  # the 边长 rows between the corners confirm the rows' order
        assert "so the rows' order was kept (its 5 边长 rows agree with it)." in output
    # the same corners as a 界址点 file: the same parcel
    txt = tmp_path / "d1.txt"
    lines = [f"{k},1,{','.join(_row(k))}" for k in [*BOUNDARY, "J1"]]
    head = "[属性描述]\n坐标系=2000国家大地坐标系\n带号=38\n[地块坐标]\n6,13.9991,D1,厂区,面,,,,@\n"
    txt.write_text(head + "\n".join(lines) + "\n", "utf-8")
    _, jzd = _check(tmp_path / "t", "--project", str(txt))
    assert jzd["D1"]["area_m2"] == got["D1"]["area_m2"]


def test_rows_kept_where_the_numbers_would_cross(tmp_path):
    """C1: rows round the boundary whose numbers, in order, would cross: the rows' order,
    said with the reason the numbers' is not taken."""
    from sxzones.layers.corners import read_corners

    p = _csv(tmp_path / "c.csv", BOUNDARY, ["J1", "J2", "J4", "J5", "J3"])
    raw = read_corners(p, crs="gk38")
    ring = [(E0 + x, N0 + y) for x, y in (CORNERS[k] for k in BOUNDARY)]
    assert raw.frame.geometry.iloc[0].normalize().equals(shapely.Polygon(ring).normalize())
    (said,) = [n for n in raw.notes if "row order for parcel" in n]
    assert said.startswith(
        "corners joined in row order for parcel D1: the rows go J1 J2 J4 J5 J3 J1, 139,991.45 m²;"
        " by point number (点号) J1 J2 J3 J4 J5 J1 would not (the 5 corners do not make a simple"
    )


def test_rows_that_cross_are_joined_by_number_and_said(tmp_path):
    """C1: rows sorted by another column (they cross in row order) while the numbers go round
    the parcel: joined in point-number order, said; unchanged where both orders agree."""
    p = _csv(tmp_path / "c.csv", ["J1", "J3", "J2", "J5", "J4"])
    output, got = _check(tmp_path, "--project", str(p), "--corners", "--crs", "gk38")
    assert got["D1"]["area_m2"] == pytest.approx(WRONG, abs=0.01)  # the numbers' parcel
    assert (
        "corners joined in point-number order for parcel D1: the rows go J1 J3 J2 J5 J4 J1: "
        "the 5 corners do not make a simple polygon (Self-intersection"
    ) in output
    assert "by point number (点号) J1 J2 J3 J4 J5 J1, 119,992.6" in output
    q = _csv(tmp_path / "q.csv", ["J3", "J2", "J1", "J5", "J4"])  # the boundary, reversed
    output, got = _check(tmp_path / "q", "--project", str(q), "--corners", "--crs", "gk38")
    assert got["D1"]["area_m2"] == pytest.approx(WRONG, abs=0.01)
    assert "row order" not in output


def test_corners_that_cross_in_both_orders_are_refused(tmp_path):
    """C1: neither the rows' order nor the numbers' makes a parcel: refused, both named."""
    p = _csv(tmp_path / "x.csv", ["J1", "J3", "J2", "J5", "J4"], ["J1", "J2", "J3", "J5", "J4"])
    res = _invoke("check", "--project", str(p), "--corners", "--crs", "gk38", "--industry",
                  "pv", "--out", str(tmp_path / "o"))  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "x.csv: parcel D1 (rows 2-6): the corners make no simple polygon: the rows go J1 " in (
        res.output
    )
    assert "by point number (点号) J1 J2 J3 J4 J5 J1 (the 5 corners do not make" in res.output


def test_reviewer_page_reads_renumbered_corners_as_the_command(tmp_path):
    """C1: the page's "table rows are parcel corners" upload gave 119,992.68 m² too."""
    from starlette.testclient import TestClient

    from sxzones.options import ServeOptions
    from sxzones.serve import create_app

    p = _xlsx(tmp_path / "corners.xlsx")
    app, state = create_app(ServeOptions())
    try:
        with TestClient(app, base_url="http://127.0.0.1:8765") as client:
            form = {"crs": "gk38", "industry": "chemical", "vertices": "on"}
            res = client.post("/api/check", data=form, files={"file": ("c.xlsx", p.read_bytes())})
            pasted = "\n".join(
                f"{k},1,{N0 + CORNERS[k][1]:.3f},{450000 + CORNERS[k][0]:.3f}"
                for k in [*BOUNDARY, "J1"]
            )
            form = {"coords": pasted, "crs": "cm114", "industry": "chemical"}
            res_cm = client.post("/api/check", data=form)
    finally:
        state.close()
    (d1,) = res.json()["document"]["projects"]
    assert d1["area_m2"] == pytest.approx(RIGHT, abs=0.01)
    assert "corners joined in row order for parcel D1" in res.json()["summary"]
    # C6: 界址点 lines without the zone prefix (CRS given as a central meridian) were refused
    # "swap the columns"; read as the command reads the same 界址点 file
    assert res_cm.status_code == 200, res_cm.text
    (cm,) = res_cm.json()["document"]["projects"]
    assert cm["area_m2"] == pytest.approx(_geod_area(BOUNDARY, 4546, 450000.0), abs=0.01)
    assert cm["area_m2"] == pytest.approx(139991.45, abs=0.01)
    assert "pasted 界址点 lines read as 点号,X,Y (X the northing)" in res_cm.json()["summary"]


@pytest.mark.parametrize(
    ("text", "pairs", "note"),
    [
        (  # C6: no zone prefix: the 7-digit value is the northing
            "J1,1,4200000,450000\nJ2,1,4200000,450400\nJ3,1,4200400,450400",
            [(450000.0, 4200000.0), (450400.0, 4200000.0), (450400.0, 4200400.0)],
            "pasted 界址点 lines read as 点号,X,Y (X the northing)",
        ),
        (  # written easting first: the zone prefix tells
            "J1,38450000,4200000\nJ2,38450400,4200000\nJ3,38450400,4200400",
            [(38450000.0, 4200000.0), (38450400.0, 4200000.0), (38450400.0, 4200400.0)],
            "pasted 界址点 lines written easting first (Y, X): read by the zone prefix",
        ),
        (  # m10 on the page: pairs without labels, northing first
            "4200000,38450000\n4200000,38450400\n4200400,38450400",
            [(38450000.0, 4200000.0), (38450400.0, 4200000.0), (38450400.0, 4200400.0)],
            "pasted corners written northing first (X, Y as surveyors write them)",
        ),
    ],
    ids=["jzd_no_prefix", "jzd_east_first", "plain_north_first"],
)
def test_pasted_projected_corners_are_oriented_as_jzd_files(text, pairs, note):
    """C6: one rule for 界址点 files and pasted lines (jzd.east_first / axis_order)."""
    got, notes = uploads.read_pasted(text)
    assert got == pairs
    assert len(notes) == 1 and notes[0].startswith(note)


def test_pasted_jzd_lines_that_do_not_tell_are_refused():
    """Both values 7-digit: the order cannot be told; refused as the command refuses it."""
    with pytest.raises(uploads.UploadError, match="mix northing-first and easting-first"):
        uploads.read_pasted("J1,4200000,4300000\nJ2,4200000,4300400\nJ3,4200400,4300400")


def test_project_point_written_northing_first_is_read_and_said(tmp_path):
    """m10: --project "4200000,38450000" --crs gk38 (X, Y as surveyors write them) was
    refused "swap the columns"; the zone prefix makes the order certain: read, said, and
    the same answer as easting first. Values that do not tell are still refused."""
    north, got = _check(tmp_path / "n", "--project", "4200000,38450000", "--crs", "gk38")
    assert "coordinates given northing first (X, Y as surveyors write them; told by the " in north
    assert "read as easting 38450000.000, northing 4200000.000" in north
    east, want = _check(tmp_path / "e", "--project", "38450000,4200000", "--crs", "gk38")
    assert "northing first" not in east
    assert got == want
    res = _invoke("check", "--project", "4200000,4300000", "--crs", "gk38", "--industry", "pv",
                  "--out", str(tmp_path / "x"))  # fmt: skip
    assert res.exit_code == 2


JZD_HEAD = "[属性描述]\n坐标系=2000国家大地坐标系\n带号=38\n[地块坐标]\n"


def _square_lines(n0, labels=("J1", "J2", "J3", "J4", "J1")):
    pts = {"J1": (0, 0), "J2": (0, 400), "J3": (400, 400), "J4": (400, 0)}
    return [f"{k},1,{n0 + pts[k][0]:.3f},{E0 + pts[k][1]:.3f}" for k in labels]


def test_jzd_parcel_whose_count_disagrees_is_rejected_with_its_lines(tmp_path):
    """C17: D1's header says 4 points; its square and then a triangle 100 km north whose
    header line is missing follow (9 lines): it was one parcel of two parts (239,985 m²),
    said only as "invalid geometry repaired". Now D1 is rejected with the header's count,
    the lines and the fix; D2 (closing repeat counted or not) is checked."""
    lines = [*_square_lines(N0), *_square_lines(N0 + 100000, ("J1", "J2", "J3", "J1"))]
    d2 = _square_lines(N0 + 2000)
    text = f"{JZD_HEAD}4,,D1,厂区,面,,工业用地,,@\n" + "\n".join(lines) + "\n"
    text += "4,,D2,二厂,面,,工业用地,,@\n" + "\n".join(d2) + "\n"
    p = tmp_path / "two.txt"
    p.write_text(text, "gbk")
    out = tmp_path / "o"
    res = _invoke("check", "--projects", str(p), "--industry", "chemical", "--reports", "none",
                  "--out", str(out))  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "input rows 2 = checked 1 + rejected 1" in res.output
    doc = json.loads((out / "site_check.json").read_text("utf-8"))
    assert [q["project_id"] for q in doc["projects"]] == ["D2"]
    rej = pd.read_csv(out / "rejects.csv", encoding="utf-8-sig", dtype=str)
    assert rej[["source_row", "id"]].values.tolist() == [["1", "D1"]]
    assert (
        rej["reason"]
        .iloc[0]
        .startswith(
            "D1: the header (line 5) says 界址点数 4, but 9 point line(s) follow (lines 6-14); "
            "ring 1 returns to its first point at line 10 and goes on (lines 11-14): a following "
            "parcel's header line missing"
        )
    )
    # the only parcel: refused (exit 2), its problem in the message
    one = tmp_path / "one.txt"
    one.write_text(text.split("4,,D2")[0], "gbk")
    res = _invoke("check", "--project", str(one), "--industry", "chemical", "--out",
                  str(tmp_path / "o1"))  # fmt: skip
    assert res.exit_code == 2
    assert "one.txt: no feature passed validation" in res.output
    assert "D1: the header (line 5) says 界址点数 4, but 9 point line(s) follow" in res.output


@pytest.mark.parametrize(("count", "ok"), [(4, True), (5, True), (6, False), (3, False)])
def test_jzd_count_with_or_without_the_closing_point(tmp_path, count, ok):
    """界址点数 counts the closing repeat or not (writers do both): 4 and 5 are a closed
    square's; 6 or 3 refuse it, saying the count and the lines."""
    p = tmp_path / "d.txt"
    p.write_text(
        f"{JZD_HEAD}{count},16.0,D1,厂区,面,,,,@\n" + "\n".join(_square_lines(N0)), "utf-8"
    )
    from sxzones.layers.readers import read_file

    frame = read_file(p).frame
    problem = frame["jzd_problem"].iloc[0]
    if ok:
        assert problem is None
        assert frame.geometry.iloc[0].area == pytest.approx(160000.0)
    else:
        assert problem == (
            f"D1: the header (line 5) says 界址点数 {count}, but 5 point line(s) follow (lines "
            "6-10). Fix: correct 界址点数, or give the parcel's points only (a following parcel "
            "needs its own header line ending in @)"
        )


def test_geod_reference_is_the_rows_ring():
    """The reference areas themselves: the rows' ring is the square less the notch."""
    ring = shapely.Polygon([CORNERS[k] for k in BOUNDARY])
    assert ring.is_valid and ring.area == pytest.approx(160000 - 20000)
    assert np.isclose(RIGHT / ring.area, 1.0, atol=1e-3)


def test_two_parcels_one_renumbered_say_which(tmp_path):
    """C1: of two parcels, only the renumbered one is joined in row order, and the summary
    says the others are in point-number order."""
    from sxzones.layers.corners import read_corners

    p = _csv(tmp_path / "two.csv", BOUNDARY)
    d2 = [f"D2,K{k + 1},{N0 + 2000 + y:.3f},{E0 + x:.3f}" for k, (x, y) in enumerate(
        [(0, 0), (100, 0), (100, 100), (0, 100)]
    )]  # fmt: skip
    p.write_text(p.read_text("utf-8-sig") + "\n".join(d2) + "\n", "utf-8")
    raw = read_corners(p, crs="gk38")
    assert raw.frame.geometry.area.round(3).tolist() == [140000.0, 10000.0]
    (summary,) = [n for n in raw.notes if "one parcel per 地块编号" in n]
    assert summary.startswith(
        "corners joined in point-number order (点号), or row order where said, one parcel per "
        "地块编号: D1 (5 corners, rows 2-7, closing corner left out, in row order); D2 (4 corners"
    )


def test_side_lengths_that_disagree_with_the_rows_are_named(tmp_path):
    """C1: a 边长 row that does not match the side of the rows' ring is named with both
    lengths (the table holds an error somewhere), beside the order taken."""
    from sxzones.layers.corners import read_corners

    p = _xlsx(tmp_path / "c.xlsx")
    wb = openpyxl.load_workbook(p)
    wb.active["E9"] = 300  # the side J3-J5 (223.61 m) below J3's row 8
    wb.save(p)
    (said,) = [n for n in read_corners(p, crs="gk38").notes if "row order for parcel" in n]
    assert "so the rows' order was kept; but 1 of its 5 边长 rows do not: row 9 says 300, " in said
    assert "J3-J5 is 223.61. Fix, if the point numbers give the order" in said
