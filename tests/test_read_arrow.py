"""GeoPackages are read through Arrow: the same frame as the feature-by-feature reader."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from sxzones.layers import read_file
from sxzones.layers.readers import _read_geometries


def _frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["P1", "P2", "地块3", None],
            "n": pd.array([1, None, 3, 4], dtype="Int64"),
            "i": [1, 2, 3, 4],
            "i16": np.array([1, 2, 3, 4], dtype=np.int16),
            "f": [1.5, np.nan, 2.0, -0.0],
            "f32": np.array([1.5, np.nan, 2, 3], dtype=np.float32),
            "b": [True, False, True, False],
            "bnull": pd.array([True, None, False, None], dtype="boolean"),
            "ballnull": pd.array([None, None, None, None], dtype="boolean"),
            "snull": pd.Series([None, None, None, None], dtype=object),
            "d": [dt.date(2020, 1, 1), None, dt.date(2021, 2, 3), dt.date(2022, 3, 4)],
            "t": pd.to_datetime(["2020-01-01 10:00:00", None, "2021-01-01 00:00:01", None]),
            "blob": [b"ab", None, b"c", b""],
        },
        geometry=[
            shapely.box(0, 0, 1, 1),
            shapely.Polygon(),
            None,
            shapely.Polygon([(0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 0, 1)]),
        ],
        crs=4490,
    )


def test_gpkg_through_arrow_equals_the_feature_reader(tmp_path):
    path = tmp_path / "types.gpkg"
    pyogrio.write_dataframe(_frame(), path, layer="t")
    fast = _read_geometries(path, None, None, None)
    slow = pyogrio.read_dataframe(path)
    pd.testing.assert_frame_equal(fast, slow)
    assert fast["bnull"].iloc[[0, 2]].tolist() == [1.0, 0.0] and np.isnan(fast["bnull"].iloc[1])
    assert fast["snull"].tolist() == [None] * 4
    where = _read_geometries(path, None, None, "i > 2")
    pd.testing.assert_frame_equal(where, pyogrio.read_dataframe(path, where="i > 2"))


def test_attribute_table_gpkg_and_read_file(tmp_path):
    path = tmp_path / "attrs.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"x": [1, 2], "s": ["a", None]}), path)
    pd.testing.assert_frame_equal(
        _read_geometries(path, None, None, None), pyogrio.read_dataframe(path)
    )
    pts = tmp_path / "pts.gpkg"
    gpd.GeoDataFrame(
        {"project_id": ["A", "B"]}, geometry=shapely.points([(1, 2), (3, 4)]), crs=4490
    ).to_file(pts)
    raw = read_file(pts)
    assert raw.frame["project_id"].tolist() == ["A", "B"] and len(raw.frame) == 2


@pytest.mark.parametrize("encoding", [None, "utf-8"])
def test_gpkg_with_an_encoding_given_reads_the_same(tmp_path, encoding):
    path = tmp_path / "e.gpkg"
    pyogrio.write_dataframe(_frame(), path)
    pd.testing.assert_frame_equal(
        _read_geometries(path, None, encoding, None), pyogrio.read_dataframe(path)
    )
