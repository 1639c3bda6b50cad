"""The disk cache of validated catalogue layers: served again for the same file and entry,
validated again when the file's content or the catalogue entry changes."""

from __future__ import annotations

import pickle
import shutil

import geopandas as gpd
import pytest
from geopandas.testing import assert_geodataframe_equal

from sxzones.layers import load_catalog
from sxzones.layers.cache import cache_dir

from .conftest import ROOT

SRC = ROOT / "layers" / "shanxi" / "derived" / "builtup_demonstration.gpkg"


def _catalog(folder, version: str = "1", where: str = ""):
    text = (
        '[catalog]\nworking_crs = "cm111"\nstudy_area = [109.90, 34.32, 114.92, 41.01]\n'
        '[layers.towns]\npath = "towns.gpkg"\nrole = "builtup"\n'
        + (f'where = "{where}"\n' if where else "")
        + f'provenance = {{ source = "test", licence = "CC0", version = "{version}", '
        'status = "public" }\n'
    )
    (folder / "catalog.toml").write_text(text, encoding="utf-8")
    return load_catalog(folder / "catalog.toml")


def _entries(folder):
    return sorted(folder.glob("*.pickle"))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SXZONES_CACHE", str(tmp_path / "cache"))
    shutil.copyfile(SRC, tmp_path / "towns.gpkg")
    return tmp_path / "cache"


def test_cache_serves_the_validated_layer_again(tmp_path, cache):
    assert cache_dir() == cache
    cat = _catalog(tmp_path)
    first, rep = cat.load("towns")
    assert len(first) == 161 and rep.n_loaded == 161
    (entry,) = _entries(cache)
    # the same file and entry: served from the cache (marked here, so that we can tell)
    with entry.open("rb") as fh:
        key, frame, report = pickle.load(fh)
    frame.attrs["served_from_cache"] = True
    with entry.open("wb") as fh:
        pickle.dump((key, frame, report), fh)
    again, rep2 = _catalog(tmp_path).load("towns")
    assert again.attrs.get("served_from_cache") is True
    assert_geodataframe_equal(again.drop(columns=[]), first, check_like=False)
    assert rep2.n_loaded == rep.n_loaded and rep2.provenance == rep.provenance
    assert again.crs.to_epsg() == 4546


def test_cache_is_invalidated_by_the_file_and_the_entry(tmp_path, cache):
    cat = _catalog(tmp_path)
    cat.load("towns")
    assert len(_entries(cache)) == 1
    # the file changes (one town fewer): read and validated again
    towns = gpd.read_file(tmp_path / "towns.gpkg")
    (tmp_path / "towns.gpkg").unlink()
    towns.iloc[1:].to_file(tmp_path / "towns.gpkg", driver="GPKG")
    changed, _ = _catalog(tmp_path).load("towns")
    assert len(changed) == 160
    assert len(_entries(cache)) == 2
    # the catalogue entry changes (its provenance, then a filter): validated again
    _, rep = _catalog(tmp_path, version="2").load("towns")
    assert rep.provenance is not None and rep.provenance.version == "2"
    assert len(_entries(cache)) == 3
    some, _ = _catalog(tmp_path, version="2", where="kind = 'city'").load("towns")
    assert 0 < len(some) < 160 and set(some["kind"]) == {"city"}
    assert len(_entries(cache)) == 4
    # back to the first file's bytes: its entry is still there and served
    shutil.copyfile(SRC, tmp_path / "towns.gpkg")
    assert len(_catalog(tmp_path).load("towns")[0]) == 161
    assert len(_entries(cache)) == 4


def test_cache_off_and_unreadable_entries(tmp_path, cache, monkeypatch):
    cat = _catalog(tmp_path)
    cat.load("towns")
    (entry,) = _entries(cache)
    entry.write_bytes(b"not a pickle")  # damaged: ignored, rewritten
    assert len(cat.load("towns")[0]) == 161
    assert pickle.loads(entry.read_bytes())[0] == entry.stem
    monkeypatch.setenv("SXZONES_CACHE", "off")
    assert cache_dir() is None
    shutil.rmtree(cache)
    assert len(cat.load("towns")[0]) == 161
    assert not cache.exists()


@pytest.mark.parametrize("src", [4326, 4490, 4214, 4547, "+proj=longlat +ellps=krass +no_defs"])
def test_transformer_pipeline_kept_on_disk_gives_the_same_coordinates(tmp_path, monkeypatch, src):
    """The transformation into the working CRS is found once (PROJ's search: about 65 ms of a
    cold check) and kept as its pipeline text: the kept one transforms to the same bits, a
    damaged entry is searched again and rewritten, and SXZONES_CACHE=off keeps nothing."""
    import numpy as np
    from pyproj import CRS, Transformer

    from sxzones.layers.cache import cached_transformer

    monkeypatch.setenv("SXZONES_CACHE", str(tmp_path))
    a, b = CRS.from_user_input(src).to_wkt(), CRS.from_epsg(4546).to_wkt()
    rng = np.random.default_rng(7)
    if CRS.from_user_input(src).is_geographic:
        x, y = rng.uniform(110.2, 114.6, 2000), rng.uniform(34.6, 40.7, 2000)
    else:
        x, y = rng.uniform(420_000, 560_000, 2000), rng.uniform(3.85e6, 4.5e6, 2000)
    want = Transformer.from_crs(CRS.from_wkt(a), CRS.from_wkt(b), always_xy=True).transform(x, y)
    first = cached_transformer(a, b).transform(x, y)
    (entry,) = (tmp_path / "transforms").iterdir()
    kept = entry.read_text(encoding="utf-8")
    assert kept.startswith("proj=pipeline") or kept.startswith("+proj") or kept == "several"
    again = cached_transformer(a, b).transform(x, y)
    assert np.array_equal(np.asarray(want), np.asarray(first))
    assert np.array_equal(np.asarray(want), np.asarray(again))
    entry.write_text("proj=pipeline step proj=nonsense", encoding="utf-8")
    assert np.array_equal(np.asarray(want), np.asarray(cached_transformer(a, b).transform(x, y)))
    assert entry.read_text(encoding="utf-8") == kept
    monkeypatch.setenv("SXZONES_CACHE", "off")
    shutil.rmtree(tmp_path / "transforms")
    assert np.array_equal(np.asarray(want), np.asarray(cached_transformer(a, b).transform(x, y)))
    assert not (tmp_path / "transforms").exists()
