"""A project of several points or lines is as near a built-up area as its nearest part: a
multipoint's parts had been taken for polygon rings (none found, no segment), and every
multipoint, line or collection came out 'inside', 0 m from the first area."""

from __future__ import annotations

import functools

import geopandas as gpd
import pytest
import shapely
from pyproj import Transformer

from sxzones.analyses.site_check import check_sites
from sxzones.layers import load_catalog
from sxzones.rules import load_rules
from sxzones.runs.site_check import site_layers

TO_GK = Transformer.from_crs(4326, 4546, always_xy=True)
# 12.0 km from 太原市建成区, and 5.7 km from 榆社县县城建成区 (the bundled demonstration layer)
A = shapely.Point(*TO_GK.transform(112.484, 38.06))
B = shapely.Point(*TO_GK.transform(113.0, 37.0))


@functools.cache
def _layers():
    return site_layers(load_catalog())


def _row(geom: shapely.Geometry) -> dict:
    projects = gpd.GeoDataFrame(
        {"project_id": ["P"], "industry": ["coking"], "kind": ["new"]}, geometry=[geom], crs=4546
    )
    return check_sites(projects, _layers(), load_rules()).table.iloc[0].to_dict()


def _dist(geom: shapely.Geometry) -> float:
    return float(_row(geom)["builtup_distance_m"])


def _dash(p: shapely.Point) -> shapely.LineString:
    return shapely.LineString([p, shapely.Point(p.x + 100, p.y)])


@pytest.mark.parametrize(
    ("geom", "parts"),
    [
        (shapely.MultiPoint([A, B]), [A, B]),
        (shapely.MultiLineString([_dash(A), _dash(B)]), [_dash(A), _dash(B)]),
        (shapely.GeometryCollection([A, _dash(B)]), [A, _dash(B)]),
    ],
    ids=["multipoint", "multilinestring", "collection"],
)
def test_a_multipart_project_is_as_near_as_its_nearest_part(geom, parts):
    alone = [_dist(p) for p in parts]
    assert min(alone) > 5_000  # neither part is inside a built-up area
    row = _row(geom)
    assert row["builtup_zone"] == "within_20km"
    assert float(row["builtup_distance_m"]) == pytest.approx(min(alone), abs=0.01)


def test_a_line_across_a_built_up_area_is_inside():
    line = shapely.LineString([A, B])
    assert _layers().frames["builtup"].geometry.intersects(line).any()
    assert _row(line)["builtup_zone"] == "inside"
