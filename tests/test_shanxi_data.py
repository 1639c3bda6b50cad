"""The bundled Shanxi dataset: deterministic build, exact tiling, every source row present."""

from __future__ import annotations

import hashlib
import importlib.util

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from sxzones.layers import load, load_catalog

from .conftest import CATALOG, ROOT

RAW = ROOT / "layers" / "shanxi" / "raw"


def _build_module():
    spec = importlib.util.spec_from_file_location("shanxi_build", ROOT / "layers/shanxi/build.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    mod = _build_module()
    a = tmp_path_factory.mktemp("a")
    b = tmp_path_factory.mktemp("b")
    mod.build(a)
    mod.build(b)
    return a, b


def test_build_is_deterministic_to_the_byte(two_builds):
    a, b = two_builds
    files = sorted(p.name for p in a.iterdir())
    assert files == sorted(p.name for p in b.iterdir())
    # 9 layers + the official-shaped demonstration files (8) + equipment_demonstration.csv
    assert len(files) == 18
    for name in files:
        ha = hashlib.sha256((a / name).read_bytes()).hexdigest()
        hb = hashlib.sha256((b / name).read_bytes()).hexdigest()
        assert ha == hb, name
    # and the same features, attributes and geometries as the bundled build
    for name in files:
        if name.endswith(".gpkg"):
            x = gpd.read_file(a / name)
            y = gpd.read_file(ROOT / "layers/shanxi/derived" / name)
            pd.testing.assert_frame_equal(x.drop(columns="geometry"), y.drop(columns="geometry"))
            assert bool(np.all(shapely.equals_exact(x.geometry.values, y.geometry.values, 0)))


@pytest.fixture(scope="module")
def cat():
    return load_catalog(CATALOG)


def test_control_units_tile_every_county(cat):
    units = load("control_units_demonstration", catalog=cat)
    counties = load("counties", catalog=cat)
    counties = counties[counties["adcode"].str.startswith("14")]
    assert len(counties) == 117
    assert set(units["adcode"]) == set(counties["adcode"])
    union = units.dissolve("adcode").area
    ref = counties.set_index("adcode").area
    rel = ((union - ref).abs() / ref).max()
    assert rel < 1e-3
    # pairwise overlaps under 1 m²
    tree = shapely.STRtree(units.geometry.values)
    i, j = tree.query(units.geometry.values, predicate="intersects")
    keep = i < j
    inter = shapely.area(
        shapely.intersection(units.geometry.values[i[keep]], units.geometry.values[j[keep]])
    )
    assert inter.max() < 1.0
    # codes: ZH + adcode + type digit + serial, type digit matching the type
    digit = units["unit_code"].str[8]
    expect = units["unit_type"].map(
        {"priority_protection": "1", "key_control": "2", "general_control": "3"}
    )
    assert (digit == expect).all()
    assert units["unit_code"].str.fullmatch(r"ZH14\d{4}[123]\d{4}").all()
    assert (units["unit_code"].str[2:8] == units["adcode"]).all()
    for f in ("admission_spatial", "admission_emission", "admission_risk", "admission_resource"):
        assert units[f].str.len().min() > 10


def test_every_plant_and_mine_of_the_sources_is_present(cat):
    firms = load("firms", catalog=cat)
    steel = pd.read_csv(RAW / "gem_steel_plants" / "gist_2025-03_shanxi_plants.csv")
    coal = pd.read_csv(RAW / "gem_coal_plants" / "gcpt_2024-07_shanxi_units.csv")
    assert set(firms.loc[firms["industry"] == "steel", "firm_id"]) == set(steel["plant-id"])
    # documented filter: coal units aggregated to their GEM location (one firm per plant)
    assert set(firms.loc[firms["industry"] == "coal_power", "firm_id"]) == set(
        coal["GEM location ID"]
    )
    in_sx = firms[firms["in_shanxi"]]
    assert (in_sx["industry"] == "steel").sum() == 26
    assert (in_sx["industry"] == "coal_power").sum() == 117
    mines = load("coal_mines", catalog=cat)
    src = pd.read_csv(RAW / "gem_coal_mines" / "gcmt_2024_shanxi_mines.csv")
    assert len(mines) == len(src) == 852
    assert (
        mines["mine_id"]
        .value_counts()
        .sort_index()
        .equals(src["id"].value_counts().sort_index().rename("count").rename_axis("mine_id"))
    )
    fields = load("mine_fields", catalog=cat)
    assert len(fields) == 57


def test_admin_converted_from_gcj02(cat):
    admin = load("admin", catalog=cat)
    assert len(admin) == 208
    assert admin["level"].value_counts().to_dict() == {"county": 196, "city": 11, "province": 1}
    raw = gpd.read_file(RAW / "cnmaps_admin" / "cnmaps_admin_shanxi_gcj02.geojson")
    # the converted province is shifted back by the GCJ-02 offset (hundreds of metres)
    a = admin[admin["level"] == "province"].to_crs(4326).geometry.iloc[0].centroid
    r = raw[raw["level"] == "province"].geometry.iloc[0].centroid
    from pyproj import Geod

    d = Geod(ellps="WGS84").inv(a.x, a.y, r.x, r.y)[2]
    assert 200 < d < 900


def test_demonstration_layers_say_so(cat):
    for name, entry in cat.entries.items():
        if entry.provenance.status == "demonstration":
            assert "demonstration" in name
    bu = load("builtup_demonstration", catalog=cat)
    assert set(bu["status"]) == {"demonstration"}
    assert (bu["kind"] == "city").sum() == 11
    assert (~bu["adcode"].str.startswith("14")).sum() > 0  # towns across the border count
    cand = load("candidates_demonstration", catalog=cat)
    assert set(cand["kind"]) == {
        "abandoned_mine",
        "subsidence",
        "closed_landfill",
        "contaminated_plot",
    }


def test_shipped_data_is_small():
    total = sum(
        p.stat().st_size
        for p in (ROOT / "layers").rglob("*")
        if p.is_file() and "derived" not in p.parts
    )
    assert total < 15 * 1024 * 1024
    for d in (ROOT / "layers" / "shanxi" / "raw").iterdir():
        assert (d / "SOURCE.md").exists(), d


def test_official_shaped_demonstration_files_give_the_same_answers(cat, tmp_path):
    """The permits workbook (Chinese headers, GB/T 4754 codes) against the geometry-only
    built-up layer screens every firm exactly as the canonical layers do; the GBK shapefile
    with pinyin-initial fields and Chinese unit types loads as the canonical units."""
    from sxzones.analyses.firm_zones import screen_firms
    from sxzones.layers import read_file, validate_layer
    from sxzones.rules import load_rules

    derived = ROOT / "layers" / "shanxi" / "derived"
    rules = load_rules()
    work = cat.working.crs
    permits, prep = validate_layer(
        read_file(derived / "permits_demonstration.xlsx", crs="cgcs2000"),
        "firms",
        working_crs=work,
        study_area=cat.study_area,
    )
    bare, _ = validate_layer(
        read_file(derived / "builtup_geometry_only_demonstration.gpkg"),
        "builtup",
        working_crs=work,
    )
    assert prep.n_rejected == 0 and list(bare.columns) == ["area_id", "source_row", "geometry"]
    a = screen_firms(permits, bare, rules, threads=1).set_index("firm_id")
    b = screen_firms(
        load("firms", catalog=cat), load("builtup_demonstration", catalog=cat), rules, threads=1
    ).set_index("firm_id")
    cols = ["zone", "industry_id", "rule_ids"]
    assert a.loc[b.index, cols].astype(str).values.tolist() == b[cols].astype(str).values.tolist()
    assert np.allclose(a.loc[b.index, "distance_m"], b["distance_m"], atol=0.05)
    units, urep = validate_layer(
        read_file(derived / "control_units_gbk_demonstration.shp"),
        "control_units",
        working_crs=work,
    )
    ref = load("control_units_demonstration", catalog=cat)
    assert urep.n_rejected == 0
    assert units["unit_code"].tolist() == ref["unit_code"].tolist()
    assert units["unit_type"].tolist() == ref["unit_type"].tolist()
    assert units["unit_name"].tolist() == ref["unit_name"].tolist()  # GBK read back
