"""The fast paths of the site check give what the slow ones gave: report coordinates, the
report's map, compiled templates, prepared copies of a few units, and the layer cache."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import CRS, Transformer

from sxzones.analyses.nearest import TargetIndex
from sxzones.layers import load_catalog
from sxzones.reports import coordinate_table, environment
from sxzones.runs.site_check import site_layers

from .conftest import CATALOG, WORK


@pytest.fixture(scope="module")
def shanxi():
    cat = load_catalog(CATALOG)
    return cat, site_layers(cat)


def _parcel() -> shapely.Polygon:
    x, y = Transformer.from_crs(4490, WORK, always_xy=True).transform(112.55, 37.87)
    return shapely.Polygon([(x, y), (x + 812.3, y + 11.7), (x + 790.1, y + 640.2), (x, y + 600)])


@pytest.mark.parametrize("given", ["wgs84", "gcj02", "bd09", "EPSG:4526", "EPSG:2383", "4547"])
def test_report_coordinates_equal_a_fresh_transformation(given):
    """The coordinate table goes back to the given CRS through the inverse of validation's
    transformation; the figures equal those of a transformation made for that direction."""
    from sxzones.crs import parse_crs, wgs84_to_bd09, wgs84_to_gcj02

    geom = _parcel()
    table = coordinate_table(geom, WORK, given)
    spec = parse_crs(given)
    xy = shapely.get_coordinates(geom)[:-1]
    gx, gy = Transformer.from_crs(WORK, spec.crs, always_xy=True).transform(xy[:, 0], xy[:, 1])
    if spec.obfuscation:
        gx, gy = (wgs84_to_gcj02 if spec.obfuscation == "gcj02" else wgs84_to_bd09)(gx, gy)
    fmt = "{:.7f}" if spec.crs.is_geographic else "{:.3f}"
    assert [r[2] for r in table["rows"]] == [fmt.format(v) for v in gx]
    assert [r[3] for r in table["rows"]] == [fmt.format(v) for v in gy]
    assert len(table["rows"]) == 4 and table["head"][-1] == "CGCS2000 纬度 lat"


def test_report_map_takes_the_same_layer_rows_through_the_index(shanxi):
    """The report's map selects the features around the project through the layer's STRtree:
    the same rows, in the same order, as testing every feature."""
    _, lay = shanxi
    rng = np.random.default_rng(2)
    frame = lay.frames["control_units"]
    x0, y0, x1, y1 = frame.total_bounds
    for x, y in zip(rng.uniform(x0, x1, 25), rng.uniform(y0, y1, 25), strict=True):
        view = shapely.box(x, y, x + 4000, y + 4000)
        for role in ("control_units", "redline", "builtup"):
            f = lay.frames[role]
            hit = np.sort(lay.index(role).tree.query(view, predicate="intersects"))
            np.testing.assert_array_equal(hit, np.flatnonzero(f.intersects(view).to_numpy()))


def test_prepared_copies_of_a_few_units_answer_as_the_whole_layer(shanxi):
    _, lay = shanxi
    geoms = lay.frames["control_units"].geometry.to_numpy()
    few, whole = TargetIndex.of(geoms), TargetIndex.of(geoms)
    whole.prepared  # noqa: B018  (built: taken from it)
    b = few.bounds[7]
    pts = shapely.points(np.random.default_rng(4).uniform(b[:2], b[2:], (60, 2)))
    j = np.array([7, 7, 3, 7, 3, 11] * 10)
    a = shapely.intersects(few.prepared_at(j), pts)
    assert few._prepared is None  # only the three units were copied and prepared
    np.testing.assert_array_equal(a, shapely.intersects(whole.prepared_at(j), pts))
    np.testing.assert_array_equal(a, shapely.intersects(geoms[j], pts))
    assert a.any() and not a.all()


def test_compiled_templates_are_kept_and_give_the_same_page(tmp_path, monkeypatch):
    monkeypatch.setenv("SXZONES_CACHE", str(tmp_path / "cache"))
    environment.cache_clear()
    try:
        first = (
            environment()
            .get_template("site_map.svg.j2")
            .render(size=10, areas=[], points=[], outline=None, bar_px="1", bar_km="1")
        )
        kept = list((tmp_path / "cache" / "templates").glob("__jinja2_*.cache"))
        assert len(kept) == 1
        environment.cache_clear()  # a new process: the template is loaded, not compiled
        again = (
            environment()
            .get_template("site_map.svg.j2")
            .render(size=10, areas=[], points=[], outline=None, bar_px="1", bar_km="1")
        )
        assert again == first and "<svg" in first
        # a cache folder that cannot be written is no error
        (tmp_path / "ro").write_text("a file where the folder would be", encoding="utf-8")
        monkeypatch.setenv("SXZONES_CACHE", str(tmp_path / "ro"))
        environment.cache_clear()
        assert (
            environment()
            .get_template("site_map.svg.j2")
            .render(size=10, areas=[], points=[], outline=None, bar_px="1", bar_km="1")
            == first
        )
    finally:
        environment.cache_clear()


def test_layer_cache_key_follows_the_working_crs_and_study_area(tmp_path, monkeypatch):
    """Besides the file and the entry (tests/test_layer_cache.py), the catalogue's working CRS
    and study area are in the key: changing either validates the layer again."""
    import shutil

    from .conftest import ROOT

    monkeypatch.setenv("SXZONES_CACHE", str(tmp_path / "cache"))
    shutil.copyfile(
        ROOT / "layers" / "shanxi" / "derived" / "redline_demonstration.gpkg", tmp_path / "r.gpkg"
    )

    def catalog(crs: str, area: str):
        (tmp_path / "catalog.toml").write_text(
            f'[catalog]\nworking_crs = "{crs}"\nstudy_area = [{area}]\n'
            '[layers.r]\npath = "r.gpkg"\nrole = "redline"\n'
            'provenance = { source = "t", licence = "CC0", version = "1", status = "public" }\n',
            encoding="utf-8",
        )
        return load_catalog(tmp_path / "catalog.toml")

    a, _ = catalog("cm111", "109.90, 34.32, 114.92, 41.01").load("r")
    b, _ = catalog("cm114", "109.90, 34.32, 114.92, 41.01").load("r")
    catalog("cm111", "109.80, 34.32, 114.92, 41.01").load("r")
    assert len(list((tmp_path / "cache").glob("*.pickle"))) == 3
    assert a.crs != b.crs and CRS(b.crs).equals(CRS.from_epsg(4547))


def test_a_damaged_compiled_template_is_compiled_again(tmp_path, monkeypatch):
    monkeypatch.setenv("SXZONES_CACHE", str(tmp_path))
    environment.cache_clear()
    try:
        args = {"size": 10, "areas": [], "points": [], "outline": None, "bar_px": "1"}
        first = environment().get_template("site_map.svg.j2").render(**args, bar_km="1")
        (kept,) = (tmp_path / "templates").glob("__jinja2_*.cache")
        data = kept.read_bytes()
        from jinja2.bccache import bc_magic

        kept.write_bytes(bc_magic + b"\x80garbage")  # the magic kept, the rest damaged
        environment.cache_clear()
        again = environment().get_template("site_map.svg.j2").render(**args, bar_km="1")
        assert again == first
        assert kept.read_bytes() == data  # compiled again and rewritten
    finally:
        environment.cache_clear()


def _details_reference(result) -> list[dict]:
    """details() as it was built before (a record per row through pandas): the reference."""
    import pandas as pd

    from sxzones.analyses.site_check import FIELDS, _num, _plain

    n = len(result.table)
    found = {}
    for role in ("control_units", "redline", "zones"):
        lists = [[] for _ in range(n)]
        p = result.pairs.get(role)
        if p is not None and len(p):
            cols = [c for c in p.columns if c not in ("project", "layer_row")]
            for proj, rec in zip(p["project"].tolist(), p[cols].to_dict("records"), strict=True):
                lists[proj].append({k: _plain(v) for k, v in rec.items()})
        found[role] = lists
    rule_text = {
        r.id: {"id": r.id, "clause": r.clauses, "verdict": r.verdict, "zh": r.zh, "en": r.en}
        for r in result.rules.rules
    }
    admission = [c for c in FIELDS["control_units"] if c.startswith("admission")]
    out = []
    records = pd.DataFrame(result.table.drop(columns="geometry")).to_dict("records")
    for pos, row in enumerate(records):
        d = {
            "project_id": str(row["project_id"]),
            "industry": row["industry_id"],
            "kind": row["kind"],
            "verdict": row["verdict"],
            "city": row.get("city", ""),
            "county": row.get("county", ""),
            "area_m2": _num(row["area_m2"]),
            "nearest_redline_m": _num(row["nearest_redline_m"]),
            "nearest_redline": row.get("nearest_redline", ""),
            "builtup": {
                "zone": row["builtup_zone"],
                "distance_m": _num(row["builtup_distance_m"]),
                "nearest": row["nearest_builtup"],
            },
            "geometry_note": row.get("geometry_note", ""),
            "unassessed_reason": row.get("unassessed_reason", ""),
        }
        for role in ("control_units", "redline", "zones"):
            d[role] = found[role][pos]
        d["rules"] = [dict(rule_text[x]) for x in str(row["rule_ids"]).split(";") if x]
        d["admission_lists"] = [
            {"unit_code": u["unit_code"], **{k: u.get(k, "") for k in admission}}
            for u in d["control_units"]
        ]
        out.append(d)
    return out


def _batch(n: int, seed: int = 8):
    """``n`` parcels and points over Shanxi and beyond its border, of known and unknown
    industries and kinds, some without any."""
    import geopandas as gpd

    rng = np.random.default_rng(seed)
    x, y = Transformer.from_crs(4490, WORK, always_xy=True).transform(
        rng.uniform(110.0, 114.8, n), rng.uniform(34.4, 40.9, n)
    )
    side = rng.uniform(50, 3000, n)
    geoms = np.where(
        rng.random(n) < 0.2, shapely.points(x, y), shapely.box(x, y, x + side, y + side)
    )
    return gpd.GeoDataFrame(
        {
            "project_id": [f"项目-{i}" for i in range(n)],
            "industry": rng.choice(["steel", "pv", "焦化", "cement", "wind", "teapots", None], n),
            "kind": rng.choice(["new", "capacity_replacement", "expansion", None, "odd"], n),
            "geometry_note": np.where(rng.random(n) < 0.05, "invalid geometry repaired", ""),
        },
        geometry=geoms,
        crs=WORK,
    )


def test_details_equal_the_record_by_record_reference(shanxi):
    import json

    from sxzones.analyses.site_check import check_sites
    from sxzones.rules import load_rules

    _, lay = shanxi
    result = check_sites(_batch(1500), lay, load_rules(), threads=1)
    new, ref = result.details(), _details_reference(result)
    assert new == ref
    assert json.dumps(new, ensure_ascii=False) == json.dumps(ref, ensure_ascii=False)
    verdicts = {d["verdict"] for d in new}
    assert verdicts == {"conflict", "conditional", "clear", "unassessed"}
    assert any(d["city"] == "" for d in new) and any(len(d["control_units"]) > 1 for d in new)


def test_a_large_batch_loads_the_kernels_before_its_chunks(shanxi, monkeypatch):
    """check_sites splits a large batch into chunks, each below the size from which the
    distances load the compiled kernels: the batch loads them itself (the API at 100,000
    parcels took 4.7 s in the numpy path instead of 1.6 s)."""
    import sxzones.analyses.site_check as sc
    from sxzones.rules import load_rules

    _, lay = shanxi
    calls: list[int] = []
    monkeypatch.setattr(sc, "warm_up", lambda: calls.append(1))
    monkeypatch.setattr(sc, "kernels_loaded", lambda: False)  # as in a fresh process
    n = 2 * sc.CHUNK
    monkeypatch.setattr(sc, "KERNEL_INPUTS", n)
    sc.check_sites(_batch(n), lay, load_rules(), threads=2)
    assert calls == [1]
    monkeypatch.setattr(sc, "KERNEL_INPUTS", n + 1)
    sc.check_sites(_batch(n), lay, load_rules(), threads=2)
    assert calls == [1]
