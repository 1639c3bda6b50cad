"""Eighth audit, tables of parcel corners (界址点成果表) read with ``check --corners``: a parcel
with a hole listed ring by ring (圈号), a total row at the end and the 边长 rows between the
corners of the usual layout. Each read from a real file written here; areas against
pyproj.Geod on the ellipsoid."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Geod, Transformer

from sxzones.cli import cli
from sxzones.layers.corners import read_corners

#: D1 in GK zone 37 (X the northing, Y the zone-prefixed easting): a 2 km square (ring 1,
#: clockwise, J1 repeated to close it) with a 1 km square hole inside (ring 2, J5-J8 counter-
#: clockwise, J5 repeated), as a 界址点成果表 lists a parcel with an enclave.
OUTER = [
    ("J1", 4150105.196, 37590929.217),
    ("J2", 4152105.196, 37590929.217),
    ("J3", 4152105.196, 37592929.217),
    ("J4", 4150105.196, 37592929.217),
]
INNER = [
    ("J5", 4150605.196, 37591429.217),
    ("J6", 4150605.196, 37592429.217),
    ("J7", 4151605.196, 37592429.217),
    ("J8", 4151605.196, 37591429.217),
]


def _ring(points, ring, close=True):
    rows = [["D1", ring, n, f"{x:.3f}", f"{y:.3f}"] for n, x, y in points]
    return [*rows, rows[0]] if close else rows


def _csv(path, rows, header=("地块编号", "圈号", "点号", "X", "Y"), end=""):
    lines = [",".join(header) + end] + [",".join(map(str, r)) + end for r in rows]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _geod_area(poly, crs=4525):
    tr = Transformer.from_crs(crs, 4490, always_xy=True)
    ll = shapely.transform(poly, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
    return abs(Geod(ellps="GRS80").geometry_area_perimeter(shapely.orient_polygons(ll))[0])


def _square(points):
    return shapely.Polygon([(y, x) for _, x, y in points])


#: The parcel as it is: the 2 km square less the 1 km square (about 3.00 km², not 2.25).
HOLED = shapely.Polygon(_square(OUTER).exterior.coords, [_square(INNER).exterior.coords])


def _check(path, out, *extra):
    res = CliRunner().invoke(
        cli,
        ["check", "--project", str(path), "--corners", "--crs", "gk37", "--industry", "pv",
         "--reports", "none", "--out", str(out), *extra],
    )  # fmt: skip
    return res


def _area(out):
    doc = json.loads((out / "site_check.json").read_text("utf-8"))
    return [q["area_m2"] for q in doc["projects"]]


@pytest.mark.parametrize("close", [True, False], ids=["closing_repeats", "no_closing_repeats"])
@pytest.mark.parametrize("restart", [False, True], ids=["numbers_go_on", "numbers_restart"])
def test_ring_column_makes_a_parcel_with_a_hole(tmp_path, close, restart):
    """B5: rings of a 圈号 column were chained into one C-shaped ring (2,249,530.67 m²): now
    ring 1 is the outer ring and ring 2, inside it, its hole, whether point numbers go on
    (J5-J8) or restart (J1-J4) in ring 2, with or without the closing repeats."""
    inner = [(f"J{k + 1}", x, y) for k, (_, x, y) in enumerate(INNER)] if restart else INNER
    p = _csv(tmp_path / "d1.csv", _ring(OUTER, 1, close) + _ring(inner, 2, close))
    res = _check(p, tmp_path / "o")
    assert res.exit_code == 0, res.output
    assert "D1 (8 corners" in res.output and "2 rings: 1 part(s), 1 hole(s))" in res.output
    assert _area(tmp_path / "o") == [pytest.approx(_geod_area(HOLED), rel=1e-7)]
    assert _area(tmp_path / "o")[0] == pytest.approx(2_999_375.78, abs=0.1)
    got = read_corners(p, crs="gk37").frame.geometry.iloc[0]
    assert got.normalize().equals_exact(HOLED.normalize(), 1e-6)


def test_a_table_without_ring_column_is_split_where_a_ring_closes(tmp_path):
    """B5: without a 圈号 column, corners that return to the first one and go on are rings
    (said, with the fix), never chained: the same parcel with its hole."""
    rows = [[r[0], r[2], r[3], r[4]] for r in _ring(OUTER, 1) + _ring(INNER, 2)]
    p = _csv(tmp_path / "d1.csv", rows, header=("地块编号", "点号", "X", "Y"))
    res = _check(p, tmp_path / "o")
    assert res.exit_code == 0, res.output
    assert re.search(
        r"corners joined in 2 rings for parcel D1: its corners return to the first one and go "
        r"on \(rows 2-6, 7-11\).*Give each ring a 圈号",
        res.output,
    ), res.output
    assert _area(tmp_path / "o") == [pytest.approx(_geod_area(HOLED), rel=1e-7)]


def test_rings_apart_are_parts_and_overlapping_rings_are_refused(tmp_path):
    """B5: a ring outside the outer one is a second part of the parcel (as a 界址点 file's
    rings apart are read); a ring that crosses the outer one makes no parcel: refused."""
    apart = [(n, x, y + 3000.0) for n, x, y in INNER]
    p = _csv(tmp_path / "two.csv", _ring(OUTER, 1) + _ring(apart, 2))
    res = _check(p, tmp_path / "o")
    assert res.exit_code == 0, res.output
    assert "2 rings: 2 part(s), 0 hole(s)" in res.output
    both = shapely.MultiPolygon([_square(OUTER), _square(apart)])
    assert _area(tmp_path / "o") == [pytest.approx(_geod_area(both), rel=1e-7)]
    across = [(n, x, y + 1000.0) for n, x, y in INNER]
    p = _csv(tmp_path / "cross.csv", _ring(OUTER, 1) + _ring(across, 2))
    res = _check(p, tmp_path / "o2")
    assert res.exit_code == 2, res.output
    assert "cross.csv: parcel D1: its 2 rings overlap" in res.output and "Fix:" in res.output


def test_a_total_row_at_the_end_is_skipped_with_a_note(tmp_path):
    """B6: a 合计 row ending the table (every line with a trailing comma, as exported from
    Excel) refused the file as "corner rows 12 have no coordinates"; it is skipped, said."""
    rows = _ring(OUTER, 1) + _ring(INNER, 2) + [["合计", "", "", "", ""]]
    p = _csv(tmp_path / "d1.csv", rows, end=",")
    res = _check(p, tmp_path / "o")
    assert res.exit_code == 0, res.output
    assert (
        "skipped, not corners: 1 total row (合计, 总计, 小计) without coordinates (row 12)"
        in res.output
    )
    assert _area(tmp_path / "o") == [pytest.approx(_geod_area(HOLED), rel=1e-7)]


def _side_xlsx(path, tail=()):
    """A 成果表 as usually laid out: a title, then 点号/X/Y/边长 with a row of the side length
    between each two corners (no point number, no coordinates), a 总计 row at the end."""
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["界址点成果表"])
    ws.append(["地块编号", "点号", "X坐标(m)", "Y坐标(m)", "边长(m)"])
    corners = [*OUTER, OUTER[0]]
    for k, (n, x, y) in enumerate(corners):
        ws.append(["D1" if k == 0 else None, n, x, y, None])
        if k < len(corners) - 1:
            ws.append([None, None, None, None, 2000.0])
    for row in tail:
        ws.append(list(row))
    book.save(path)
    return path


def test_side_length_rows_between_corners_are_skipped(tmp_path):
    """B6: the 边长 rows between the corners of the usual layout refused the file; they are
    skipped and counted (rows 4, 6, 8, 10), as is the 总计 row; the parcel is the square."""
    p = _side_xlsx(tmp_path / "d1.xlsx", tail=[["总计", None, None, None, 8000.0]])
    res = _check(p, tmp_path / "o")
    assert res.exit_code == 0, res.output
    assert "D1 (4 corners, rows 3, 5, 7, 9, 11, closing corner left out)" in res.output
    assert "1 total row (合计, 总计, 小计) without coordinates (row 12)" in res.output
    assert "4 边长(m) rows without coordinates (rows 4, 6, 8, 10)" in res.output
    assert _area(tmp_path / "o") == [pytest.approx(_geod_area(_square(OUTER)), rel=1e-7)]


def test_other_rows_without_coordinates_are_still_refused(tmp_path):
    """B6: only total rows and side-length rows are skipped: a corner (a point number) whose
    coordinates are missing still refuses the file, with its row and the fix."""
    p = _side_xlsx(tmp_path / "d1.xlsx", tail=[[None, "J9", None, None, None]])
    res = _check(p, tmp_path / "o")
    assert res.exit_code == 2, res.output
    assert "corner rows 12 have no coordinates" in res.output and "Fix:" in res.output
