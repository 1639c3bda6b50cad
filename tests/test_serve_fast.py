"""The served site check's own small-input paths give what the general ones give.

A drawn or pasted parcel is made in memory as the readers read its file
(:func:`sxzones.serve.uploads.parcel_layer`); the map's features and the page's JSON are made
without pandas. Known answers: ``read_file`` of the same file, and the command's outputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from sxzones.layers import read_file
from sxzones.serve import uploads

pytest.importorskip("starlette")


def _parcels() -> list[tuple[object, str, str, float | None, str]]:
    """(geometry, project id, name, declared ha, crs): points and polygons as pasted or drawn,
    with coordinates of many digits, in several CRSs."""
    rng = np.random.default_rng(7)
    out: list[tuple[object, str, str, float | None, str]] = []
    for k in range(30):
        x, y = rng.uniform(110.3, 114.5), rng.uniform(34.6, 40.7)
        if k % 3 == 0:
            geom = shapely.Point(x, y)
        else:
            d = rng.uniform(0.001, 0.05, 4)
            ring = [(x, y), (x + d[0], y), (x + d[1], y + d[2]), (x - d[3], y + d[3])]
            geom = shapely.Polygon(ring if k % 2 else ring[::-1])  # either orientation
        name = ["", "示例光伏地块", "<b>x</b> & 'y'"][k % 3]
        declared = None if k % 4 else round(float(rng.uniform(0.1, 30)), 4)
        crs = ["wgs84", "gcj02", "bd09", "cgcs2000"][k % 4]
        out.append((geom, name or "P1", name, declared, crs))
    hole = shapely.Polygon(
        [(112.0, 37.0), (112.1, 37.0), (112.1, 37.1), (112.0, 37.1)],
        [[(112.02, 37.02), (112.05, 37.02), (112.05, 37.05)]],
    )
    out.append((hole, "P1", "", 3.5, "wgs84"))
    projected = shapely.Point(38512000.123456, 4192000.987654)
    out.append((projected, "P1", "", None, "gk38"))
    return out


@pytest.mark.parametrize("case", range(32))
def test_parcel_layer_is_read_file_of_the_file(tmp_path: Path, case: int) -> None:
    geom, pid, name, declared, crs = _parcels()[case]
    path = uploads.geometry_file(geom, tmp_path, pid, name, declared)
    made = uploads.parcel_layer(path, geom, pid, name, declared, crs)
    read = read_file(path, crs=crs)
    assert made is not None
    pd.testing.assert_frame_equal(
        pd.DataFrame(made.frame.drop(columns="geometry")),
        pd.DataFrame(read.frame.drop(columns="geometry")),
        check_exact=True,
    )
    assert list(made.frame.columns) == list(read.frame.columns)
    assert made.frame.geometry.name == read.frame.geometry.name
    assert made.frame.crs == read.frame.crs
    a, b = made.frame.geometry.to_numpy(), read.frame.geometry.to_numpy()
    assert shapely.equals_exact(a, b, tolerance=0).all()  # the same doubles, vertex by vertex
    assert np.array_equal(shapely.get_coordinates(a), shapely.get_coordinates(b))
    assert made.frame.attrs == read.frame.attrs
    assert (made.path, made.spec, made.notes, made.encoding, made.row_word, made.xy) == (
        read.path,
        read.spec,
        read.notes,
        read.encoding,
        read.row_word,
        read.xy,
    )


def test_parcel_layer_reads_the_file_when_unsure(tmp_path: Path) -> None:
    """No CRS given (the file's own is then said), a line, a multipolygon, heights: None."""
    square = shapely.box(112.0, 37.0, 112.1, 37.1)
    path = uploads.geometry_file(square, tmp_path, "P1")
    assert uploads.parcel_layer(path, square, "P1", crs=None) is None
    for geom in (
        shapely.LineString([(112, 37), (112.1, 37.1)]),
        shapely.MultiPolygon([square]),
        shapely.Point(112.0, 37.0, 900.0),
    ):
        assert uploads.parcel_layer(path, geom, "P1", crs="wgs84") is None
    assert uploads.parcel_layer(path, square, "P1", crs="wgs84") is not None


def test_parcel_layer_refuses_a_bad_crs_as_the_reader_does(tmp_path: Path) -> None:
    from sxzones.errors import SxzonesError

    point = shapely.Point(112.0, 37.0)
    path = uploads.geometry_file(point, tmp_path, "P1")
    with pytest.raises(SxzonesError) as made:
        uploads.parcel_layer(path, point, "P1", crs="nonsense")
    with pytest.raises(SxzonesError) as read:
        read_file(path, crs="nonsense")
    assert str(made.value) == str(read.value)
    assert json.loads(path.read_text(encoding="utf-8"))["features"][0]["properties"] == {
        "project_id": "P1",
        "name": "P1",
    }


@pytest.fixture(scope="module")
def served():
    from starlette.testclient import TestClient

    from sxzones.options import ServeOptions
    from sxzones.serve import create_app

    app, state = create_app(ServeOptions(workers=0))
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        yield client, state
    state.close()


def test_a_check_without_downloads_writes_nothing(served) -> None:
    """A pasted point's check makes no folder (the parcel's file waits for the downloads)."""
    client, state = served
    form = {"coords": "112.30,37.56", "crs": "wgs84", "industry": "coking"}
    res = client.post("/api/check", data=form).json()
    assert res["document"]["projects"][0]["verdict"] == "conflict"
    assert not (state.root / res["job"]).exists()


def test_the_manifest_hashes_the_parcel_file_written_with_the_downloads(served, tmp_path):
    """The downloads of a pasted parcel: the manifest names and hashes its GeoJSON, the bytes
    geometry_file writes for the same corners, name and declared area; the file is gone
    afterwards, as an upload is."""
    import hashlib

    client, state = served
    corners = [(112.80, 37.20), (112.81, 37.20), (112.81, 37.21), (112.80, 37.21)]
    form = {
        "coords": "\n".join(f"{x},{y}" for x, y in corners),
        "crs": "gcj02",
        "industry": "pv",
        "name": "示例光伏地块",
        "declared_ha": "96",
    }
    res = client.post("/api/check", data=form).json()
    manifest = json.loads(client.get(f"/download/{res['job']}/manifest.json").content)
    projects = next(i for i in manifest["inputs"] if i["role"] == "projects")
    want = uploads.geometry_file(
        uploads.points_to_geometry(corners), tmp_path, "示例光伏地块", "示例光伏地块", 96.0
    )
    assert projects["sha256"] == hashlib.sha256(want.read_bytes()).hexdigest()
    assert Path(projects["file"]).name == uploads.PARCEL_FILE
    assert projects["rows_read"] == projects["loaded"] == 1
    layers = ["control_units", "redline", "builtup", "zones", "admin"]  # read by the check too
    assert [i["role"] for i in manifest["inputs"]] == ["projects", *layers, "rules"]
    folder = state.root / res["job"]
    assert (folder / "out" / "site_check.csv").is_file() and not (folder / "in").exists()


def test_only_drawn_or_pasted_checks_take_the_thread_of_single_checks() -> None:
    """A worker runs a check without an uploaded file on its thread of single checks; an
    uploaded file (any number of projects), the other analyses and downloads go elsewhere."""
    from sxzones.serve.workers import is_quick

    pasted = {"coords": "112.30,37.56", "crs": "wgs84", "industry": "coking"}
    assert is_quick(1, "check", (pasted, {}))
    assert is_quick(2, "check", ({"geojson": '{"type": "Point", "coordinates": [112, 37]}'}, {}))
    assert not is_quick(3, "check", ({"crs": "wgs84"}, {"file": ("/tmp/x", "parcels.gpkg")}))
    assert not is_quick(4, "firms", ({"crs": "wgs84"}, {"file": ("/tmp/x", "firms.csv")}))
    assert not is_quick(5, "sites", ({"tech": "pv"}, {}))
    assert not is_quick(6, "file", ("w0-abc", "site_check.csv"))


def _summary_by_pandas(run) -> str:  # type: ignore[no-untyped-def]
    """check_summary as it was written with pandas' value counts and a row slice (the
    reference the list-based one must equal)."""
    prep, table = run.prep, run.result.table
    counts = table["verdict"].value_counts().to_dict()
    verdicts = ("conflict", "conditional", "clear", "unassessed")
    summary = (
        f"site check: {len(table)} project(s): "
        + ", ".join(f"{k} {counts.get(k, 0)}" for k in verdicts)
        + f"; input rows {prep.n_read} = checked {prep.n_loaded} + rejected {prep.n_rejected}"
    )
    # notes and rejected rows with their reasons (the rejected ones printed since audit 9 m13)
    summary += "".join(f"\n  {f}" for f in prep.findings if f.kind in ("note", "rejected"))
    first = table.iloc[:10]

    def col(c: str) -> list[object]:
        return first[c].tolist() if c in first.columns else [""] * len(first)

    for pid, verdict, rules, note, why in zip(
        col("project_id"),
        col("verdict"),
        col("rule_ids"),
        col("geometry_note"),
        col("unassessed_reason"),
        strict=True,
    ):
        ids = [x for x in str(rules).split(";") if x]
        summary += (
            f"\n  {pid}: {verdict}"
            + (f" ({', '.join(ids)})" if ids else "")
            + (f"; {note}" if note else "")
            + (f"; {why}" if why else "")
        )
    return summary


@pytest.mark.parametrize("count", [1, 3, 14])
def test_the_summary_is_the_pandas_one(tmp_path: Path, count: int) -> None:
    """check_summary of a batch with every verdict (an industry the rules do not know, a
    point outside the province, a repaired bow-tie parcel) equals the pandas-written one."""
    import geopandas as gpd

    from sxzones.layers import load_catalog
    from sxzones.options import CheckOptions
    from sxzones.runs.site_check import check_rules, check_summary, compute_check

    points = [(112.30, 37.56), (113.05, 36.20), (111.52, 36.08), (112.55, 37.87)]
    points += [(110.80, 36.50), (111.40, 39.40), (112.2388, 39.7818), (116.40, 39.90)]
    points += [(112.45, 38.90), (110.60, 35.50), (113.20, 38.70), (111.457, 34.8414)]
    geoms: list[object] = [shapely.Point(p) for p in points]
    bowtie = shapely.Polygon([(112.0, 37.0), (112.1, 37.1), (112.1, 37.0), (112.0, 37.1)])
    geoms[1:1] = [bowtie, shapely.box(112.80, 37.20, 112.81, 37.21)]
    inds = ["coking", "pv", "食品制造", "steel", "cement", "wind", "coking"]
    frame = gpd.GeoDataFrame(
        {
            "project_id": [f"X{k}" for k in range(len(geoms))],
            "industry": [inds[k % len(inds)] for k in range(len(geoms))],
        },
        geometry=geoms,
        crs=4326,
    ).iloc[:count]
    path = tmp_path / "projects.geojson"
    frame.to_file(path, driver="GeoJSON")
    opts = CheckOptions(projects=str(path), out=tmp_path / "out", reports="none")
    run = compute_check(opts, load_catalog(), check_rules(opts))
    assert check_summary(run) == _summary_by_pandas(run)
    if count == 14:
        verdicts = set(run.result.table["verdict"])
        assert {"conflict", "clear", "unassessed"} <= verdicts, verdicts
        assert run.prep.n_read == 14 and run.prep.n_rejected == 1  # Beijing: outside Shanxi
        assert "repaired" in check_summary(run)


def test_a_rule_on_a_missing_field_is_refused_when_no_project_is_of_its_industries(
    tmp_path: Path,
) -> None:
    """A site rule names a field the layer lacks: refused even when no project is of the
    rule's industries (the rule's pairs are then not read)."""
    from sxzones.analyses.site_check import check_sites
    from sxzones.errors import LayerError
    from sxzones.layers import load_catalog
    from sxzones.rules import load_rules
    from sxzones.runs.site_check import read_projects, site_layers

    rules = load_rules(None)
    text = rules.path.read_text(encoding="utf-8")
    old = 'where = { unit_type = "priority_protection" }\nindustries = ["pv", "wind"]'
    assert old in text
    bad = tmp_path / rules.path.name
    bad.write_text(text.replace(old, old.replace("unit_type", "no_such_field")), "utf-8")
    cat = load_catalog()
    projects, _ = read_projects("112.30,37.56", cat, crs="wgs84", industry="coking")
    layers = site_layers(cat)
    assert check_sites(projects, layers, rules).table["verdict"].tolist() == ["conflict"]
    with pytest.raises(LayerError, match="no_such_field"):
        check_sites(projects, layers, load_rules(bad))


def _general(monkeypatch: pytest.MonkeyPatch, call):  # type: ignore[no-untyped-def]
    """``call()`` with the plain project's shortcut turned off (every project validated by
    ``validate_layer``)."""
    import sxzones.runs.site_check as rs

    with monkeypatch.context() as m:
        m.setattr(rs, "plain_project", lambda *a, **k: None)
        return call()


def _same_projects(a, b) -> None:  # type: ignore[no-untyped-def]
    """Two validated project frames (and reports) are the same: columns, types, values,
    coordinates to the bit, CRS, index and attributes."""
    (fa, ra), (fb, rb) = a, b
    assert list(fa.columns) == list(fb.columns)
    pd.testing.assert_frame_equal(
        pd.DataFrame(fa.drop(columns="geometry")),
        pd.DataFrame(fb.drop(columns="geometry")),
        check_exact=True,
    )
    assert fa.geometry.name == fb.geometry.name and fa.crs == fb.crs
    assert fa.index.equals(fb.index) and type(fa.index) is type(fb.index)
    ga, gb = fa.geometry.to_numpy(), fb.geometry.to_numpy()
    assert np.array_equal(shapely.get_coordinates(ga), shapely.get_coordinates(gb))
    assert shapely.equals_exact(ga, gb, tolerance=0).all()
    assert fa.attrs == fb.attrs
    assert vars(ra) == vars(rb)


def _text_cases() -> list[tuple[str, str, bool]]:
    """(--project text, CRS, whether the shortcut takes it)."""
    square = "POLYGON ((112.5 37.8, 112.52 37.8, 112.52 37.82, 112.5 37.82, 112.5 37.8))"
    bowtie = "POLYGON ((112.0 37.0, 112.1 37.1, 112.1 37.0, 112.0 37.1, 112.0 37.0))"
    return [
        ("112.55,37.87", "wgs84", True),
        ("37.87,112.55", "wgs84", True),  # latitude first: read swapped, said
        ("112°33′15″,37°52′", "gcj02", True),
        (square, "bd09", True),
        (square, "cgcs2000", True),
        ("POINT (38512000.5 4192000.25)", "gk38", True),
        ("116.40,39.90", "wgs84", False),  # Beijing: outside the study area
        ("112.55,37.87", "xian80", False),  # a datum shift without published parameters
        (bowtie, "wgs84", False),  # repaired by validation
        ("POINT Z (112.5 37.8 900)", "wgs84", False),  # heights dropped by validation
        ("POINT EMPTY", "wgs84", False),
        ("LINESTRING (112.5 37.8, 112.6 37.9)", "wgs84", False),
    ]


@pytest.mark.parametrize("case", range(12))
def test_a_typed_project_is_validated_as_validate_layer_does(
    monkeypatch: pytest.MonkeyPatch, case: int
) -> None:
    """``--project`` text: the shortcut's frame and report are validate_layer's, or the
    shortcut steps aside (and the general validation answers, or refuses)."""
    from sxzones.errors import SxzonesError
    from sxzones.layers import load_catalog
    from sxzones.runs import one_project
    from sxzones.runs.site_check import _text_geometry, read_projects

    spec, crs, plain = _text_cases()[case]
    cat = load_catalog()
    kind = "expansion" if case % 2 else None
    raw = _text_geometry(spec, crs, "P1")
    working = cat.working.crs
    taken = one_project.plain_project(raw, working, {"industry": "coking"}, cat.study_area)
    assert (taken is not None) == plain

    def outcome(call):  # type: ignore[no-untyped-def]
        try:
            return call()
        except SxzonesError as exc:  # refused: the message
            return str(exc)

    def lean():  # type: ignore[no-untyped-def]
        return read_projects(spec, cat, crs=crs, industry="coking", kind=kind)

    want = outcome(lambda: _general(monkeypatch, lean))
    if isinstance(want, str):
        assert outcome(lean) == want
        return
    _same_projects(lean(), want)


@pytest.mark.parametrize("case", range(32))
def test_a_drawn_or_pasted_parcel_is_validated_as_validate_layer_does(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, case: int
) -> None:
    """Parcels made in memory (and read from their file, as the command reads them), in
    every CRS of the pages, with names and declared areas: the same frame and report."""
    from sxzones.layers import load_catalog
    from sxzones.runs.site_check import read_projects

    geom, pid, name, declared, crs = _parcels()[case]
    path = uploads.geometry_file(geom, tmp_path, pid, name, declared)
    cat = load_catalog()
    industry = ["pv", "coking", "食品制造"][case % 3]
    kind = [None, "new", "capacity_replacement"][case % 3]

    def read(raw: bool):  # type: ignore[no-untyped-def]
        made = uploads.parcel_layer(path, geom, pid, name, declared, crs) if raw else None
        return read_projects(
            str(path), cat, crs=crs, industry=industry, kind=kind, single=True, raw=made
        )

    from sxzones.runs.one_project import plain_project

    made = uploads.parcel_layer(path, geom, pid, name, declared, crs)
    assert plain_project(made, cat.working.crs, {"industry": industry}, cat.study_area)
    for raw in (True, False):
        _same_projects(read(raw), _general(monkeypatch, lambda: read(raw)))  # noqa: B023


@pytest.mark.parametrize("spec", ["112.30,37.56", "112.4573,38.0593", "111.457,34.8414"])
def test_a_check_of_a_plain_project_is_the_general_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, spec: str
) -> None:
    """The whole check of a typed point (the shortcut taken) equals the check of the same
    point validated by validate_layer: table, pairs and findings."""
    from sxzones.layers import load_catalog
    from sxzones.options import CheckOptions
    from sxzones.runs.site_check import check_rules, compute_check

    cat = load_catalog()
    opts = CheckOptions(project=spec, crs="wgs84", industry="coking", out=tmp_path / "o")
    ruleset = check_rules(opts)
    got = compute_check(opts, cat, ruleset)
    want = _general(monkeypatch, lambda: compute_check(opts, cat, ruleset))
    pd.testing.assert_frame_equal(
        pd.DataFrame(got.result.table.drop(columns="geometry")),
        pd.DataFrame(want.result.table.drop(columns="geometry")),
        check_exact=True,
    )
    assert got.details == want.details
    assert got.details[0]["verdict"] in ("conflict", "conditional", "clear")
    for role, pairs in want.result.pairs.items():
        pd.testing.assert_frame_equal(got.result.pairs[role], pairs, check_exact=True)
