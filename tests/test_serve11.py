"""The reviewer page, session 11: corners pasted as a 界址点成果表's rows with a numeric point
number and a ring number (``1,1,X,Y``: 点号, 圈号, X, Y), and a DXF drawing uploaded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pyproj import Geod, Transformer

from sxzones.options import ServeOptions
from sxzones.serve import create_app

N0, E0 = 4200000.0, 450000.0  # CGCS2000 3-degree zone CM 114E (cm114): 阳泉市 area
OUTER = [(0, 0), (400, 0), (400, 400), (0, 400)]  # (east, north) offsets, metres
HOLE = [(100, 100), (100, 300), (300, 300), (300, 100)]
GEOD = Geod(ellps="GRS80")
TO_DEG = Transformer.from_crs(4546, 4490, always_xy=True)


def _geod_area(ring: list[tuple[int, int]]) -> float:
    lon, lat = TO_DEG.transform([E0 + e for e, _ in ring], [N0 + n for _, n in ring])
    return abs(GEOD.polygon_area_perimeter(lon, lat)[0])


def _rows(sep: str = ",") -> list[str]:
    """点号,圈号,X,Y rows (X the northing), each ring closed by repeating its first point."""
    out, n = [], 1
    for ring_no, ring in ((1, OUTER), (2, HOLE)):
        first = n
        for e, north in ring:
            out.append(sep.join([str(n), str(ring_no), f"{N0 + north:.3f}", f"{E0 + e:.3f}"]))
            n += 1
        e, north = ring[0]
        out.append(sep.join([str(first), str(ring_no), f"{N0 + north:.3f}", f"{E0 + e:.3f}"]))
    return out


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    from starlette.testclient import TestClient

    app, state = create_app(ServeOptions())
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        yield c
    state.close()


@pytest.mark.parametrize(
    "text",
    ["\n".join(_rows()), "点号\t圈号\tX\tY\n" + "\n".join(_rows("\t"))],
    ids=["commas", "tabs_with_header"],
)
def test_pasted_point_ring_x_y_rows_make_the_parcel_with_its_hole(client: Any, text: str) -> None:
    """``1,1,X,Y`` rows were read as x = 1, y = 1 and refused 'do not make a simple
    polygon'. Read as 点号, 圈号, X (the northing), Y: ring 2 is the hole of ring 1, the
    parcel's area the outer square's less the hole's (pyproj.Geod), and the reading said."""
    res = client.post("/api/check", data={"coords": text, "crs": "cm114", "industry": "chemical"})
    assert res.status_code == 200, res.text
    (project,) = res.json()["document"]["projects"]
    expected = _geod_area(OUTER) - _geod_area(HOLE)
    assert project["area_m2"] == pytest.approx(expected, abs=0.01)
    assert round(expected) == 119993  # 120,000 m² on the grid, less its scale there
    summary = res.json()["summary"]
    assert (
        "pasted lines: the first column (1 2 3 4 5 6 ...) read as the corners' point numbers "
        "(点号), the second as their ring numbers (圈号), the other two as their coordinates"
    ) in summary
    assert "pasted 界址点 lines read as 点号,X,Y (X the northing)" in summary
    assert "pasted corners read as 2 rings by their 圈号" in summary


@pytest.mark.parametrize(
    ("bad", "line"),
    [("2,1,abc,450400.000", 2), ("2,1,4200000.000", 2)],
    ids=["word_between_numbers", "no_y"],
)
def test_a_bad_line_among_point_ring_rows_is_refused_by_its_line(
    client: Any, bad: str, line: int
) -> None:
    """A line that is not 点号,圈号,X,Y among such rows is refused with the pasted lines'
    usual text, naming it (the word was skipped and the line read as x = 2, y = 1)."""
    rows = _rows()
    rows[line - 1] = bad
    res = client.post(
        "/api/check", data={"coords": "\n".join(rows), "crs": "cm114", "industry": "chemical"}
    )
    assert res.status_code == 400
    assert res.json()["error"] == (
        f"pasted coordinates, line {line}: {bad!r} is not an x,y pair. Fix: one pair per "
        "line, e.g. 112.55,37.87"
    )
