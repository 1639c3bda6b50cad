"""The firm screen's fast paths give the answers of the plain ones: a table's points made
once in the working CRS, ids checked by sorting, industries resolved as codes, digests
remembered while writing, XLSX rows rendered ahead."""

from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from sxzones.analyses.firm_zones import _industry_codes, resolve_industries
from sxzones.errors import LayerError
from sxzones.layers import read_file, validate_layer
from sxzones.layers.validate import _all_distinct
from sxzones.outputs import _sha256, remember_digest, write_csv
from sxzones.rules import bundled_rules
from sxzones.xlsx import _ahead

# a clean row, a blank and a non-number coordinate, an infinity, a point far outside Shanxi,
# a repeated id and a blank id; spaces around a number
ROWS = """firm_id,name,industry,lon,lat
F1,甲,steel,112.55,37.87
F2,乙,coking,,37.9
F3,丙,cement,112.6,north
F4,丁,steel,inf,37.8
F5,戊,steel,2.35,48.85
F1,己,coking,112.7,37.6
,庚,steel,112.8,37.7
F8,辛,chemical, 112.9 ,37.95
"""


def _both(tmp_path: Path, text: str, role: str, work_crs, crs: str = "wgs84"):
    p = tmp_path / "firms.csv"
    p.write_text(text, encoding="utf-8")
    out = []
    for points in (True, False):
        raw = read_file(p, crs=crs, points=points)
        out.append(validate_layer(raw, role, working_crs=work_crs, name="firms.csv"))
    return out


def _same(a, b) -> None:
    (ga, ra), (gb, rb) = a, b
    pd.testing.assert_frame_equal(ga.drop(columns="geometry"), gb.drop(columns="geometry"))
    assert ga.crs == gb.crs
    np.testing.assert_array_equal(  # bit for bit
        shapely.get_coordinates(ga.geometry.to_numpy()),
        shapely.get_coordinates(gb.geometry.to_numpy()),
    )
    pd.testing.assert_frame_equal(ra.rejects, rb.rejects)
    assert [str(f) for f in ra.findings] == [str(f) for f in rb.findings]
    assert ga.attrs == gb.attrs


def test_table_points_made_once_equal_points_made_first(tmp_path, work_crs):
    made_first, made_once = _both(tmp_path, ROWS, "firms", work_crs)
    _same(made_first, made_once)
    g, rep = made_once
    assert list(g["firm_id"]) == ["F1", "F8"]  # F5 is outside Shanxi: rejected
    assert rep.n_read == 8 and rep.n_loaded + rep.n_rejected == 8
    codes = dict(zip(rep.rejects["source_row"], rep.rejects["code"], strict=True))
    assert codes[3] == codes[4] == codes[5] == "empty_geometry"
    assert codes[7] == "duplicate_id" and codes[8] == "missing_value"
    # the known answer: Taiyuan's point in the working CRS, checked against pyproj directly
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, work_crs, always_xy=True).transform(112.55, 37.87)
    assert shapely.get_coordinates(g.geometry.iloc[:1])[0].tolist() == [x, y]


def test_deferred_points_with_obfuscated_coordinates(tmp_path, work_crs):
    """GCJ-02 coordinates are converted on geometries: the points are made before."""
    _same(*_both(tmp_path, ROWS, "firms", work_crs, crs="gcj02"))


def test_deferred_points_of_a_role_without_points(tmp_path, work_crs):
    """Built-up areas are polygons: every point row is refused as such, the same way."""
    text = "area_id,name,kind,lon,lat\nA1,城,city,112.55,37.87\n"
    errors = []
    for points in (True, False):
        p = tmp_path / "b.csv"
        p.write_text(text, encoding="utf-8")
        with pytest.raises(LayerError) as exc:
            validate_layer(
                read_file(p, crs="wgs84", points=points), "builtup", working_crs=work_crs
            )
        errors.append(str(exc.value))
    assert errors[0] == errors[1] and "geometry type Point is not allowed" in errors[0]


def test_read_without_points_keeps_coordinates(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text(ROWS, encoding="utf-8")
    raw = read_file(p, crs="wgs84", points=False)
    assert raw.xy is not None and bool(raw.frame.geometry.isna().all())
    x, y = raw.xy
    assert x[0] == 112.55 and np.isnan(x[1]) and np.isnan(y[2]) and np.isnan(x[3])
    assert x[7] == 112.9  # spaces around a number are no problem
    made = raw.with_points()
    first = read_file(p, crs="wgs84")
    assert made.xy is None and made.frame.attrs == first.frame.attrs
    assert list(shapely.is_missing(made.frame.geometry.to_numpy())) == [
        False, True, True, True, False, False, False, False,
    ]  # fmt: skip
    assert shapely.equals(made.frame.geometry.to_numpy(), first.frame.geometry.to_numpy())[
        ~shapely.is_missing(first.frame.geometry.to_numpy())
    ].all()


@pytest.mark.parametrize(
    ("values", "distinct"),
    [
        (["a", "b", "c"], True),
        (["b", "a", "c", "a"], False),
        (["x"], True),
        ([], True),
        (["1", "01", "1.0"], True),
        (["nan", "nan"], False),
    ],
)
def test_all_distinct(values, distinct):
    assert _all_distinct(pd.Series(values, dtype=object)) is distinct
    assert _all_distinct(pd.Series(values, dtype="string")) is distinct


def test_all_distinct_leaves_nulls_to_the_full_check():
    assert _all_distinct(pd.Series(["a", None], dtype=object)) is False


def test_industry_codes_match_per_row_resolution():
    vocab = bundled_rules().industries
    frame = pd.DataFrame(
        {
            "industry": ["钢铁", "steel", "no such trade", None, "", "焦化", "no such trade"],
            "industry_code": ["", "3110", "3110", "9999", None, "", "2521"],
        }
    )
    ids, status = resolve_industries(frame, vocab)
    for k in range(len(frame)):  # one row at a time: the rule as documented
        i1, s1 = vocab.resolve_many(frame["industry"].iloc[[k]])
        i2, s2 = vocab.resolve_many(frame["industry_code"].iloc[[k]])
        want = (i2[0], s2[0]) if s2[0] == "recognised" else (i1[0], s1[0])
        if s1[0] == "missing" and s2[0] == "unrecognised":
            want = ("", "unrecognised")
        assert (ids[k], status[k]) == want, k
    ind = _industry_codes(frame, vocab)
    names, codes, st = ind.names, ind.ids, ind.status
    assert list(st) == [{"recognised": 0, "unrecognised": 1, "missing": 2}[s] for s in status]
    assert names[0] == "" and list(names[codes]) == list(ids)
    assert status[1] == "recognised" and status[3] == "unrecognised" and status[4] == "missing"


def test_digest_remembered_while_writing_and_forgotten_on_change(tmp_path):
    p = write_csv(pd.DataFrame({"a": range(1000), "b": ["甲"] * 1000}), tmp_path / "t.csv")
    assert _sha256(p) == hashlib.sha256(p.read_bytes()).hexdigest()
    remember_digest(p, "0" * 64)  # what the writer said it wrote
    assert _sha256(p) == "0" * 64
    p.write_bytes(p.read_bytes() + b"x")  # any change: read and hashed again
    assert _sha256(p) == hashlib.sha256(p.read_bytes()).hexdigest()


def test_rows_rendered_ahead_in_order_and_errors_pass_through():
    assert list(_ahead(iter([memoryview(bytes([k])) for k in range(7)]))) == [
        memoryview(bytes([k])) for k in range(7)
    ]

    def broken():
        yield memoryview(b"a")
        raise ValueError("render failed")

    with pytest.raises(ValueError, match="render failed"):
        list(_ahead(broken()))


def test_categorical_text_is_neutralised_in_csv(tmp_path):
    """Area names, counties and rules reach the CSV as categoricals: a name a spreadsheet
    would run as a formula is quoted there too (it was written as it came)."""
    from sxzones.outputs import neutralise_formulas

    frame = pd.DataFrame(
        {
            "nearest_area_name": pd.Categorical(["=HYPERLINK(1)", "城区", None, "-12"]),
            "name": ["@SUM(1)", "甲", "乙", "+3"],
        }
    )
    text = write_csv(frame, tmp_path / "t.csv").read_text(encoding="utf-8-sig")
    assert text.splitlines() == [
        "nearest_area_name,name",
        '"\'=HYPERLINK(1)","\'@SUM(1)"',
        '"城区","甲"',
        ',"乙"',
        '"-12","+3"',  # plain numbers stay as they are
    ]
    out = neutralise_formulas(frame)  # the writer's fallback: the same cells
    assert list(out["nearest_area_name"].iloc[[0, 1, 3]]) == ["'=HYPERLINK(1)", "城区", "-12"]
    assert frame["nearest_area_name"].iloc[0] == "=HYPERLINK(1)"  # the input is not changed


def test_remembered_digests_are_bounded(tmp_path, monkeypatch):
    import sxzones.outputs as outputs

    monkeypatch.setattr(outputs, "_DIGESTS_MAX", 3)
    monkeypatch.setattr(outputs, "_DIGESTS", {})
    paths = []
    for k in range(5):
        p = tmp_path / f"f{k}.txt"
        p.write_text(str(k))
        remember_digest(p, f"{k}" * 64)
        paths.append(p)
    assert len(outputs._DIGESTS) == 3
    assert _sha256(paths[4]) == "4" * 64  # the newest are kept
    assert _sha256(paths[0]) == hashlib.sha256(b"0").hexdigest()  # the oldest, hashed again


def test_county_hits_of_points_equal_intersects_with_points():
    """The county lookup tests points on their coordinates, grouped by county; the answer
    is intersects() pair by pair, on the county borders too (every county's own vertices
    and the midpoints of its edges, shared with its neighbours), in the pairs' order, and
    the lookup gives each point the first county it touches, as before."""
    from sxzones.analyses.nearest import (
        TargetIndex,
        _point_hits,
        county_lookup,
        prepared_copy,
    )
    from sxzones.layers import load_catalog

    admin = load_catalog().load("admin")[0]
    counties = admin[admin["level"] == "county"].geometry.to_numpy()
    rng = np.random.default_rng(7)
    ring = shapely.get_coordinates(shapely.get_exterior_ring(counties[:20]))
    x0, y0, x1, y1 = shapely.total_bounds(counties)
    xy = np.vstack(
        [
            ring[::7],
            (ring[:-1:11] + ring[1::11]) / 2,
            np.column_stack([rng.uniform(x0, x1, 3000), rng.uniform(y0, y1, 3000)]),
        ]
    )
    pts = shapely.points(xy)
    tree = shapely.STRtree(counties)
    pi, pj = tree.query(pts)
    own = prepared_copy(counties)
    got = _point_hits(own.__getitem__, pj, pts[pi])
    want = shapely.intersects(own[pj], pts[pi])
    np.testing.assert_array_equal(got, want)
    assert want.sum() > 1000 and (~want).sum() > 100
    n_border = len(xy) - 3000
    assert set(range(n_border)) <= set(pi[want])  # every point on a border is in its county
    # two areas sharing an edge: a point on it touches both, the lookup says the first
    pair = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], dtype=object)
    on_edge = shapely.points([[1.0, 0.5], [1.0, 0.0], [0.5, 0.5], [3.0, 3.0]])
    qi, qj = shapely.STRtree(pair).query(on_edge)
    got = _point_hits(prepared_copy(pair).__getitem__, qj, on_edge[qi])
    np.testing.assert_array_equal(got, shapely.intersects(pair[qj], on_edge[qi]))
    assert np.bincount(qi[got], minlength=4).tolist() == [2, 2, 1, 0]
    # the whole lookup: the first county each point touches in the query's order
    which, _ = county_lookup(pts, admin, TargetIndex.of(counties), threads=1)
    first = np.full(len(pts), len(counties))
    hit_i, hit_j = pi[want], pj[want]
    u, at = np.unique(hit_i, return_index=True)
    first[u] = hit_j[at]
    np.testing.assert_array_equal(which, first)


def test_firm_screen_of_thousands_of_firms_loads_no_compiled_code(tmp_path):
    """A screen of 5,000 firms measures its distances without numba (loading it cost about
    0.5 s of a 10,000-firm run): the bounded numpy path, the same CSV as with the compiled
    kernels warmed up first."""
    import subprocess
    import sys

    rng = np.random.default_rng(11)
    n = 5000
    firms = pd.DataFrame(
        {
            "firm_id": [f"F{k:05d}" for k in range(n)],
            "industry": rng.choice(["steel", "coking", "cement"], n),
            "lon": np.round(rng.uniform(111.0, 114.0, n), 6),
            "lat": np.round(rng.uniform(35.5, 39.5, n), 6),
        }
    )
    firms.to_csv(tmp_path / "firms.csv", index=False)

    def run(out: str, warm: bool) -> str:
        code = (
            "import sys; from sxzones.cli import main\n"
            + ("from sxzones.analyses.nearest import warm_up; warm_up().join()\n" if warm else "")
            + "try:\n"
            f"    main(['-q', 'firms', '--firms', 'firms.csv', '--crs', 'wgs84', '--builtup',"
            f" 'builtup_demonstration', '--format', 'csv', '--out', {out!r}])\n"
            "except SystemExit as e:\n"
            "    assert not e.code, e.code\n"
            "print(','.join(sorted({m.split('.')[0] for m in sys.modules} & {'numba', 'llvmlite'})))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
        )
        return done.stdout.strip()

    assert run("plain", warm=False) == ""
    assert run("warm", warm=True) == "llvmlite,numba"
    plain = (tmp_path / "plain" / "firm_zones.csv").read_bytes()
    assert plain == (tmp_path / "warm" / "firm_zones.csv").read_bytes()
    assert plain.count(b"within_20km") > 100 and plain.count(b"inside") > 0


def test_kernels_warmed_only_for_large_firm_files(tmp_path, monkeypatch):
    """The compiled kernels load with the inputs only for firm files of WARM_UP_BYTES or
    more, a catalogue layer's file included (the bundled plants are a few hundred)."""
    from sxzones.layers import load_catalog
    from sxzones.options import FirmOptions
    from sxzones.runs import firms as run

    cat = load_catalog()
    small = tmp_path / "small.csv"
    small.write_text(ROWS, encoding="utf-8")

    def opts(name: str) -> FirmOptions:
        return FirmOptions(firms=name, builtup="builtup_demonstration", out=tmp_path / "o")

    assert not run._many_firms(opts(str(small)), cat)
    assert not run._many_firms(opts("firms"), cat)
    monkeypatch.setattr(run, "WARM_UP_BYTES", small.stat().st_size)
    assert run._many_firms(opts(str(small)), cat)
    monkeypatch.setattr(run, "WARM_UP_BYTES", cat.entry("firms").path.stat().st_size)
    assert run._many_firms(opts("firms"), cat)
    assert not run._many_firms(opts(str(tmp_path / "missing.csv")), cat)


def _county_lookup_both(pts, admin, monkeypatch):
    """county_lookup of ``pts`` with the cell grid (forced on) and without it."""
    from sxzones.analyses import nearest

    monkeypatch.setattr(nearest, "GRID_POINTS", 1)
    with_grid, _ = nearest.county_lookup(pts, admin, threads=2)
    monkeypatch.setattr(nearest, "GRID_POINTS", 10**12)
    without, _ = nearest.county_lookup(pts, admin, threads=2)
    return with_grid, without


def test_county_grid_places_points_as_the_exact_lookup(monkeypatch):
    """Shanxi's counties: points on every county border (vertices, edge midpoints, points a
    millimetre off the edges) and points spread over and around the province get the same
    county (or none) with the cell grid as tested one by one, and the grid places most of
    the spread points by their cell alone."""
    from sxzones.analyses.nearest import CellGrid, TargetIndex
    from sxzones.layers import load_catalog

    admin = load_catalog().load("admin")[0]
    counties = admin[admin["level"] == "county"].geometry.to_numpy()
    edge = shapely.get_coordinates(shapely.boundary(counties))
    rng = np.random.default_rng(3)
    x0, y0, x1, y1 = shapely.total_bounds(counties)
    spread = np.column_stack(
        [rng.uniform(x0 - 5000, x1 + 5000, 60_000), rng.uniform(y0 - 5000, y1 + 5000, 60_000)]
    )
    mid = (edge[:-1:5] + edge[1::5]) / 2
    xy = np.vstack([edge[::3], mid, mid + 0.001, mid - 0.001, spread])
    with_grid, without = _county_lookup_both(shapely.points(xy), admin, monkeypatch)
    np.testing.assert_array_equal(with_grid, without)
    grid = CellGrid.of(TargetIndex.of(counties))
    assert grid is not None
    placed = grid.place(shapely.points(spread))
    assert placed is not None and (placed != CellGrid.CROSSED).mean() > 0.85
    assert (placed == CellGrid.NONE).sum() > 1000 and len(np.unique(placed)) > 100
    n_blank = len(counties)  # the table's blank row: outside every county
    assert (without == n_blank).sum() > 1000 and len(np.unique(without)) == len(counties) + 1


def test_county_grid_with_overlaps_holes_and_other_geometries(monkeypatch):
    """Overlapping counties (a point in both takes the first, as without the grid), a county
    with a hole and a multipolygon; points that are not all points go without the grid."""
    from sxzones.analyses.nearest import CellGrid, TargetIndex

    outer = shapely.Polygon(
        [(0, 0), (20_000, 0), (20_000, 20_000), (0, 20_000)],
        [[(5_000, 5_000), (9_000, 5_000), (9_000, 9_000), (5_000, 9_000)]],
    )
    geoms = [
        outer,
        shapely.box(15_000, 15_000, 30_000, 30_000),  # overlaps outer's corner
        shapely.MultiPolygon(
            [shapely.box(40_000, 0, 45_000, 5_000), shapely.box(6_000, 6_000, 8_000, 8_000)]
        ),
    ]
    admin = gpd.GeoDataFrame(
        {
            "adcode": ["140100", "140101", "140102", "140103"],
            "name": ["市", "甲县", "乙县", "丙县"],
            "level": ["city", "county", "county", "county"],
        },
        geometry=[shapely.box(0, 0, 50_000, 50_000), *geoms],
        crs=4546,
    )
    rng = np.random.default_rng(4)
    xy = np.vstack([rng.uniform(-2_000, 50_000, (40_000, 2)), [[15_000, 15_000], [5_000, 7_000]]])
    pts = shapely.points(xy)
    with_grid, without = _county_lookup_both(pts, admin, monkeypatch)
    np.testing.assert_array_equal(with_grid, without)
    assert set(np.unique(without)) == {0, 1, 2, 3}
    grid = CellGrid.of(TargetIndex.of(np.array(geoms, dtype=object)))
    assert grid is not None
    overlap = grid.place(shapely.points([[17_000, 17_000], [7_000, 7_000], [2_000, 2_000]]))
    assert overlap is not None
    assert overlap.tolist() == [CellGrid.CROSSED, 2, 0]  # in both; in the hole's island
    assert grid.place(np.array([shapely.box(0, 0, 1, 1)], dtype=object)) is None
    assert CellGrid.of(TargetIndex.of(np.array([shapely.Point(0, 0)], dtype=object))) is None
