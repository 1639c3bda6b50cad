"""The reviewer page, session 11: corners pasted as a 界址点成果表's rows with a numeric point
number and a ring number (``1,1,X,Y``: 点号, 圈号, X, Y), and a DXF drawing uploaded."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
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


def test_an_uploaded_dxf_is_one_project_as_check_project_reads_it(
    client: Any, tmp_path: Path
) -> None:
    """A 红线图.dxf (the red line, a building inside, the drawing frame around) was checked
    as three projects, the frame one of them. The page reads a DXF as ``check --project``
    does: refused with the command's own text (each polygon's CAD layer and area, the
    layers to choose from and where on the page), the path aside; with 用地红线 in the
    工作表或图层 field the red line alone is the project, its area the drawn one's (a 400 m
    square and a half disc of radius 200 m); with the page's box ticked every closed
    polyline is a project, as ``--projects``."""
    from .test_readers9 import _check, _redline_plan

    p = _redline_plan(tmp_path / "红线图.dxf")
    form = {"crs": "gk38", "industry": "chemical"}

    def post(**more: str) -> Any:
        return client.post(
            "/api/check", data={**form, **more}, files={"file": (p.name, p.read_bytes())}
        )

    res = post()
    assert res.status_code == 400, res.text
    said = res.json()["error"]
    assert said.startswith("红线图.dxf: --project is one project, but the file holds 3 polygons")
    assert "feature 3 (layer 图框, 1,199,9" in said and "feature 2 (layer 建筑, 8,000 m²)" in said
    assert (
        "Fix: choose the red line's CAD layer with --layer (its layers: 用地红线, 建筑, 图框) "
        "or, on the reviewer page, in the 工作表或图层 Sheet or layer field; or export the "
        "red line alone"
    ) in said
    assert "tick 'DXF 图中每个闭合多段线为一个项目'" in said
    cli = _check("--project", str(p), "--out", str(tmp_path / "o"))
    assert cli.exit_code == 2
    assert said.partition(": ")[2] in " ".join(cli.output.split())

    res = post(layer="用地红线")
    assert res.status_code == 200, res.text
    (project,) = res.json()["document"]["projects"]
    planar = 400 * 400 + math.pi * 200**2 / 2
    assert project["area_m2"] == pytest.approx(planar, rel=1e-3)
    assert "--project '红线图.dxf'" in res.json()["command"]
    assert "--layer '用地红线'" in res.json()["command"]

    res = post(dxf_projects="on")
    assert res.status_code == 200, res.text
    assert len(res.json()["document"]["projects"]) == 3
    assert "--projects '红线图.dxf'" in res.json()["command"]
