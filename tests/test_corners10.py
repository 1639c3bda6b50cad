"""Tenth audit, parcels from corners: a 界址点成果表 whose table's own 边长 rows fit the point
numbers' order and not the rows' (two corner rows swapped by a typist: D1), in projected
coordinates and in degrees, with the order taken written into the files a reviewer keeps
(site_check.csv, site_check.json, the printable report); and corners pasted on the reviewer
page with a numeric point number first or a header line (D13). Areas against pyproj.Geod."""

from __future__ import annotations

import csv
import itertools
import json
import math

import pytest
from click.testing import CliRunner
from pyproj import Geod, Transformer

from sxzones.cli import cli
from sxzones.serve import uploads

#: D1, metres from 38 450 000 E / 4 200 000 N (GK zone 38): a 400 m square with J4 a notch
#: point; the boundary is J1 J2 J3 J4 J5. A typist swapped the J4 and J5 rows; the 边长 rows
#: stayed, the sides in point-number order: 400, 400, 223.61, 223.61, 400.
E0, N0 = 38450000.0, 4200000.0
CORNERS = {"J1": (0, 0), "J2": (400, 0), "J3": (400, 400), "J4": (200, 300), "J5": (0, 400)}
TRUE = ["J1", "J2", "J3", "J4", "J5"]
SWAPPED = ["J1", "J2", "J3", "J5", "J4"]
TO_DEGREES = Transformer.from_crs(4526, 4490, always_xy=True)  # GK zone 38 -> CGCS2000


def _lonlat(k):
    return TO_DEGREES.transform(E0 + CORNERS[k][0], N0 + CORNERS[k][1])


def _geod_area(labels, degrees=False):
    """The ring's area on GRS 1980 (pyproj.Geod); ``degrees``: of the corners as written
    to the table (9 decimals), else as projected."""
    pts = [_lonlat(k) for k in labels]
    if degrees:
        pts = [(round(lon, 9), round(lat, 9)) for lon, lat in pts]
    lon, lat = zip(*pts, strict=True)
    return abs(Geod(ellps="GRS80").polygon_area_perimeter(lon, lat)[0])


def _table(path, rows, sides, degrees=False):
    """The usual layout: each 边长 row below its first corner; ``sides`` the 边长 values
    (None: no 边长 column)."""
    head = ["地块编号", "点号", *(("纬度", "经度") if degrees else ("X", "Y"))]
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow([*head, "边长"] if sides else head)
        for i, k in enumerate([*rows, rows[0]]):
            if degrees:
                lon, lat = _lonlat(k)
                cells = [f"{lat:.9f}", f"{lon:.9f}"]
            else:
                cells = [f"{N0 + CORNERS[k][1]:.3f}", f"{E0 + CORNERS[k][0]:.3f}"]
            w.writerow(["D1", k, *cells, ""] if sides else ["D1", k, *cells])
            if sides and i < len(rows):
                w.writerow(["", "", "", "", f"{sides[i]:.2f}"])
    return path


def _true_sides():
    ring = [*TRUE, TRUE[0]]
    return [math.dist(CORNERS[a], CORNERS[b]) for a, b in itertools.pairwise(ring)]


def _check(tmp_path, table, crs, reports="all"):
    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli,
        ["check", "--project", str(table), "--corners", "--crs", crs, "--industry", "chemical",
         "--reports", reports, "--out", str(out)],
        catch_exceptions=False,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    (doc,) = json.loads((out / "site_check.json").read_text("utf-8"))["projects"]
    with (out / "site_check.csv").open(encoding="utf-8-sig") as f:
        (row,) = list(csv.DictReader(f))
    return res.output, doc, row, out


def test_reference_areas():
    """The parcel the table describes (number order) and the one the rows draw."""
    assert round(_geod_area(TRUE), 2) == 139991.45
    assert round(_geod_area(SWAPPED), 2) == 119992.68
    assert [round(s, 2) for s in _true_sides()] == [400, 400, 223.61, 223.61, 400]


def test_side_lengths_choose_the_point_numbers_order(tmp_path):
    """D1: the rows J1 J2 J3 J5 J4 gave 119,992.68 m² though all five 边长 rows fit the
    point numbers' order: that order is taken (139,991.45 m² = Geod), and the note naming
    both orders, both areas and the 边长 rows that do not fit is in the csv's
    geometry_note, the json and the printable report, printed once on stdout."""
    p = _table(tmp_path / "swap.csv", SWAPPED, _true_sides())
    output, doc, row, out = _check(tmp_path, p, "gk38")
    assert doc["area_m2"] == pytest.approx(_geod_area(TRUE), abs=0.01)
    said = (
        "corners joined in point-number order for parcel D1: by point number (点号) J1 J2 J3 "
        "J4 J5 J1, 139,991.45 m², its 5 边长 rows fit every side; the rows go J1 J2 J3 J5 J4 "
        "J1, 119,992.69 m², and 2 of those 5 sides do not: row 7 says 223.61, J3-J5 is "
        "400.00; row 11 says 400, J4-J1 is 360.56. The 边长 rows are the table's own record "
        "of the boundary, so the point numbers' order was taken. Fix, if the rows give the "
        "order: correct the 边长 rows"
    )
    assert row["geometry_note"] == said
    assert doc["geometry_note"] == said
    report = (out / "report-D1.html").read_text("utf-8")
    assert "corners joined in point-number order for parcel D1" in report
    assert "119,992.69 m²" in report and "139,991.45 m²" in report
    assert output.count("its 5 边长 rows fit every side") == 1


def test_side_lengths_in_degrees_are_measured_on_the_ellipsoid(tmp_path):
    """D1: the same table as 纬度/经度 (CGCS2000): the 边长 rows were not compared at all;
    they are, as distances on the ellipsoid, and choose the point numbers' order."""
    p = _table(tmp_path / "deg.csv", SWAPPED, _true_sides(), degrees=True)
    _, doc, row, _ = _check(tmp_path, p, "cgcs2000", reports="none")
    assert doc["area_m2"] == pytest.approx(_geod_area(TRUE, degrees=True), abs=0.01)
    assert round(doc["area_m2"]) == 139991
    note = row["geometry_note"]
    assert note.startswith("corners joined in point-number order for parcel D1: by point ")
    assert "its 5 边长 rows fit every side" in note
    assert "2 of those 5 sides do not: row 7 says 223.61, J3-J5 is 399.9" in note


def test_rows_kept_and_said_in_the_files_without_side_lengths(tmp_path):
    """D1: a table without 边长 rows keeps the current rule (the rows' order where it makes a
    simple polygon), and says the choice in geometry_note (it was on stdout only)."""
    p = _table(tmp_path / "renum.csv", TRUE, None)
    p.write_text(p.read_text("utf-8-sig").replace("J4", "Jx").replace("J5", "J4").replace(
        "Jx", "J5"), "utf-8-sig")  # fmt: skip
    _, doc, row, _ = _check(tmp_path, p, "gk38", reports="none")
    assert doc["area_m2"] == pytest.approx(_geod_area(TRUE), abs=0.01)
    assert row["geometry_note"].startswith(
        "corners joined in row order for parcel D1: the rows go J1 J2 J3 J5 J4 J1, 139,991.45 m²;"
        " by point number (点号) J1 J2 J3 J4 J5 J1 would make another parcel, 119,992.69 m². "
    )
    assert doc["geometry_note"] == row["geometry_note"]


def test_side_lengths_that_fit_neither_order_keep_the_rows(tmp_path):
    """D1: 边长 rows that fit neither order (a table with an error somewhere) do not decide:
    the rows' order is kept, as before, and the note says neither fits."""
    p = _table(tmp_path / "neither.csv", SWAPPED, [400, 400, 300, 223.61, 400])
    _, doc, row, _ = _check(tmp_path, p, "gk38", reports="none")
    assert doc["area_m2"] == pytest.approx(_geod_area(SWAPPED), abs=0.01)
    note = row["geometry_note"]
    assert (
        "would make another parcel, 139,991.45 m², whose sides 1 of the 5 边长 rows do not fit"
        in (note)
    )
    assert "so the rows' order was kept; but 2 of its 5 边长 rows do not: row 7 says 300" in note


def test_side_lengths_that_fit_the_rows_keep_them(tmp_path):
    """D1: 边长 rows of the rows' own ring confirm the rows' order (the renumbered table)."""
    ring = [*SWAPPED, SWAPPED[0]]
    sides = [math.dist(CORNERS[a], CORNERS[b]) for a, b in itertools.pairwise(ring)]
    p = _table(tmp_path / "rows.csv", SWAPPED, sides)
    _, doc, row, _ = _check(tmp_path, p, "gk38", reports="none")
    assert doc["area_m2"] == pytest.approx(_geod_area(SWAPPED), abs=0.01)
    assert "so the rows' order was kept (its 5 边长 rows agree with it)." in row["geometry_note"]


def test_side_lengths_that_do_not_fit_the_one_ring_are_said(tmp_path):
    """Rows and numbers going round the same ring: a 边长 row that does not fit its side is
    an error in the table, named in geometry_note (it passed without a word)."""
    sides = _true_sides()
    sides[1] = 380.0
    p = _table(tmp_path / "one.csv", TRUE, sides)
    _, doc, row, _ = _check(tmp_path, p, "gk38", reports="none")
    assert doc["area_m2"] == pytest.approx(_geod_area(TRUE), abs=0.01)
    assert row["geometry_note"] == (
        "corners joined in point-number order (点号) for parcel D1 (the rows go round the same "
        "ring); but 1 of its 5 边长 rows do not: row 5 says 380, J2-J3 is 400.00. Fix: check "
        "these corners' coordinates and the 边长 rows"
    )


# --- D13: pasted corners with a numeric point number, and a header line -------------------

_PASTED = "\n".join(
    f"{n},{N0 + CORNERS[k][1]:.3f},{450000 + CORNERS[k][0]:.3f}"
    for n, k in enumerate([*TRUE, "J1"], start=1)
).replace("\n6,", "\n1,")  # the closing corner repeats point 1


@pytest.mark.parametrize(
    ("text", "notes"),
    [
        (_PASTED, ["the first column (1 2 3 4 5) read as the corners' point numbers (点号)"]),
        (
            "点号,X,Y\n" + _PASTED,
            [
                "pasted lines: line 1, '点号,X,Y', skipped as a header",
                "the first column (1 2 3 4 5)",
            ],
        ),
        ("序号 X坐标 Y坐标\n" + _PASTED.replace(",", " "), ["skipped as a header"]),
    ],
    ids=["numbers", "header", "spaces_header"],
)
def test_pasted_numeric_point_numbers_are_point_numbers(text, notes):
    """D13: ``1,4200000,450000`` was read as x = 1, y = 4200000 and refused 'not a simple
    polygon'; a copied header line refused 'not an x,y pair'. Read as 点号,X,Y, oriented
    by the 界址点 rule (X the northing: no zone prefix, 7 digits), said."""
    pts, said = uploads.read_pasted(text)
    assert pts[:5] == [(450000 + CORNERS[k][0], N0 + CORNERS[k][1]) for k in TRUE]
    assert pts[5] == pts[0]
    assert "pasted 界址点 lines read as 点号,X,Y (X the northing)" in said
    for n in notes:
        assert any(n in s for s in said), said


def test_pasted_numeric_point_numbers_in_degrees():
    """D13: ``1,112.30,37.90`` was refused 'values such as (1.0, 112.3) are metres'."""
    pts, said = uploads.read_pasted("1,112.30,37.90\n2,112.31,37.90\n3,112.31,37.91")
    assert pts == [(112.30, 37.90), (112.31, 37.90), (112.31, 37.91)]
    assert said == [
        "pasted lines: the first column (1 2 3) read as the corners' point numbers (点号), the "
        "other two as their coordinates"
    ]


def test_pasted_degree_header_is_skipped():
    """D13: a header naming degrees (经度（°）: its 度 and ° are not degrees-minutes-seconds)."""
    pts, said = uploads.read_pasted("经度（°）,纬度（°）\n112.49,38.05\n112.5,38.05\n112.5,38.06")
    assert pts == [(112.49, 38.05), (112.5, 38.05), (112.5, 38.06)]
    assert said == [
        "pasted lines: line 1, '经度(°),纬度(°)', skipped as a header (the axis order is read "
        "from the values)"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "450000,4200000,1200\n450400,4200000,1210\n450400,4200400,1190",  # x,y,height
        "112.49,38.05,1200\n112.5,38.05,1200\n112.5,38.06,1200",  # KML with a height
    ],
)
def test_pasted_triples_that_are_not_point_numbers_stay_xy_height(text):
    """A height after x,y is not a point number before them."""
    pts, said = uploads.read_pasted(text)
    first = [tuple(float(v) for v in line.split(",")[:2]) for line in text.splitlines()]
    assert pts == first
    assert not any("point numbers" in s for s in said)


def test_pasted_header_alone_or_unknown_first_line_is_refused():
    """A header without rows is no parcel; a first line that names no coordinate is not
    taken for a header."""
    with pytest.raises(uploads.UploadError, match="no coordinates were pasted"):
        uploads.read_pasted("点号,X,Y")
    with pytest.raises(uploads.UploadError, match=r"line 1: 'hello world' is not an x,y pair"):
        uploads.read_pasted("hello world\n" + _PASTED)


def test_reviewer_page_reads_numbered_pasted_corners(tmp_path):
    """D13 on the page: the request of the audit (cm114, no zone prefix) gives the parcel of
    the corners, 139,991.45 m² (= Geod), and says how the lines were read. D1 on the page:
    the swapped table uploaded as corners gives the parcel its 边长 rows fit, the note in the
    document's geometry_note."""
    from starlette.testclient import TestClient

    from sxzones.options import ServeOptions
    from sxzones.serve import create_app

    table = _table(tmp_path / "swap.csv", SWAPPED, _true_sides()).read_bytes()
    app, state = create_app(ServeOptions())
    try:
        with TestClient(app, base_url="http://127.0.0.1:8765") as client:
            form = {"coords": "点号,X,Y\n" + _PASTED, "crs": "cm114", "industry": "chemical"}
            res = client.post("/api/check", data=form)
            form = {"crs": "gk38", "industry": "chemical", "vertices": "on"}
            up = client.post("/api/check", data=form, files={"file": ("swap.csv", table)})
    finally:
        state.close()
    assert up.status_code == 200, up.text
    (swap,) = up.json()["document"]["projects"]
    assert swap["area_m2"] == pytest.approx(_geod_area(TRUE), abs=0.01)
    assert swap["geometry_note"].startswith("corners joined in point-number order for parcel D1")
    assert res.status_code == 200, res.text
    (d1,) = res.json()["document"]["projects"]
    tr = Transformer.from_crs(4546, 4490, always_xy=True)  # CGCS2000 3-degree CM 114E
    lon, lat = tr.transform(
        [450000 + CORNERS[k][0] for k in TRUE], [N0 + CORNERS[k][1] for k in TRUE]
    )
    geod = abs(Geod(ellps="GRS80").polygon_area_perimeter(lon, lat)[0])
    assert d1["area_m2"] == pytest.approx(geod, abs=0.01)
    assert round(geod, 2) == 139991.45
    summary = res.json()["summary"]
    assert "pasted lines: line 1, '点号,X,Y', skipped as a header" in summary
    assert "the first column (1 2 3 4 5) read as the corners' point numbers (点号)" in summary
