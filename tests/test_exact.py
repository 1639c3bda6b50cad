"""Exact answers on the ellipsoid, checked against pyproj.Geod and local azimuthal projections
(never against the code under test): nearest features at any distance, setbacks in ground
metres along long features, areas in every encoding of a parcel."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import CRS, Geod, Transformer

from sxzones.analyses.nearest import nearest_geodesic

WORK = CRS.from_epsg(4546)  # CGCS2000 / 3-degree Gauss-Krüger CM 111E
GEOD = Geod(ellps="GRS80")
TO_XY = Transformer.from_crs(4490, WORK, always_xy=True)
TO_LL = Transformer.from_crs(WORK, 4490, always_xy=True)


def _aeqd_distance(lon: float, lat: float, geom_work: shapely.Geometry) -> float:
    """Ground distance from (lon, lat) to a working-CRS geometry, in an azimuthal
    equidistant projection centred on the point (distances from its centre are true)."""
    aeqd = CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +ellps=GRS80 +units=m")
    to_aeqd = Transformer.from_crs(WORK, aeqd, always_xy=True)
    dense = shapely.segmentize(geom_work, 50.0)  # straight map edges: curves on the ground
    far = shapely.transform(dense, lambda xy: np.column_stack(to_aeqd.transform(*xy.T)))
    return float(shapely.distance(shapely.Point(0, 0), far))


def test_nearest_beyond_reach_when_a_long_feature_box_covers_the_point():
    """A river belt running diagonally across the province: its box covers the point, but
    the feature itself passes far away; a compact feature 51 km away is the nearest."""
    lon, lat = 111.6, 37.4
    px, py = TO_XY.transform(lon, lat)
    # a thin diagonal belt from 150 km south-west to 150 km north-east of the point, offset
    # 90 km to the north-west of it (its box covers the point)
    d = np.array([1.0, 1.0]) / np.sqrt(2)
    nrm = np.array([-1.0, 1.0]) / np.sqrt(2)
    c = np.array([px, py]) + 90_000 * nrm
    a, b = c - 150_000 * d, c + 150_000 * d
    belt = shapely.buffer(shapely.LineString([a, b]), 500.0, cap_style="flat")
    assert belt.envelope.contains(shapely.Point(px, py))
    # a 1 km square 51 km east of the point (on the ground: k ~ 1.0004 here)
    sq = shapely.box(px + 51_000, py - 500, px + 52_000, py + 500)
    truth = [_aeqd_distance(lon, lat, g) for g in (belt, sq)]
    assert truth[1] < truth[0] and 50_000 < truth[1] < 52_000
    point = np.array([shapely.Point(px, py)], dtype=object)
    for order in ([belt, sq], [sq, belt]):
        res = nearest_geodesic(point, np.array(order, dtype=object), 50_000.0, WORK, 1)
        assert order[int(res.area[0])] is sq
        assert res.distance[0] == pytest.approx(truth[1], abs=0.05)
