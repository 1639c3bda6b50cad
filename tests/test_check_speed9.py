"""The site check's shortcuts give the tested answers: control units paired by their cell
grid, and the counties' rectangle clip that GEOS may refuse on a valid sliver."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import CRS

from sxzones.analyses import counties as counties_mod
from sxzones.analyses import site_check as sc
from sxzones.analyses.counties import clipped, county_cover
from sxzones.analyses.nearest import TargetIndex, county_table, held_by
from sxzones.geodesy import ellipsoidal_area
from sxzones.layers import load_catalog
from sxzones.rules import load_rules
from sxzones.runs.site_check import site_layers

from .test_site_check import TO_XY

# A valid sliver polygon (part of a control unit of the bundled layer, CGCS2000 / 3-degree
# Gauss-Kruger CM 114E, metres) and a parcel's box that cuts it to a line: GEOS's rectangle
# clip fails on it ("Invalid number of points in LinearRing found 3").
SLIVER = shapely.from_wkt(
    "POLYGON ((463140.78256506333 4241254.376326686, 463798.48612529575 4241621.52591674, "
    "464645.98262454034 4241745.306085134, 464426.5032062076 4241713.250260261, "
    "463746.1283606473 4241437.777842293, 463544.603707854 4241327.745617878, "
    "463373.48827670125 4241174.648311191, 462443.27069727704 4240126.5011183545, "
    "462381.54855959007 4240042.011068975, 462243.97466724773 4239648.953145796, "
    "462554.3245233906 4240535.643693235, 463140.78256506333 4241254.376326686))"
)
BOX = (462220.00162966043, 4239431.32468686, 462793.18488644855, 4239821.573295001)
GK = CRS.from_epsg(4546)


def test_clipped_keeps_whole_what_geos_cannot_clip():
    assert shapely.is_valid(SLIVER)
    with pytest.raises(shapely.errors.GEOSException, match="LinearRing"):
        shapely.clip_by_rect(SLIVER, *BOX)
    square = shapely.box(0, 0, 10, 10)
    out = clipped(np.array([SLIVER, square], dtype=object), np.array([BOX, (2.0, 2.0, 5.0, 20.0)]))
    assert out[0] is SLIVER  # kept whole: the same intersection
    assert out[1].equals(shapely.box(2, 2, 5, 10))
    parcel = shapely.box(*BOX)
    assert shapely.area(shapely.intersection(parcel, out[0])) == 0.0  # a line only


def test_a_parcel_over_a_sliver_county_is_placed_not_a_crash(monkeypatch):
    """A county whose sliver the parcel's box (widened by 1 m) cuts to a line: the parcel is
    in the other county (the sliver's overlap is a line, no area), no GEOSException."""
    big = shapely.difference(shapely.box(461000, 4238000, 466000, 4243000), SLIVER)
    admin = gpd.GeoDataFrame(
        {
            "adcode": ["140100", "140101", "140102"],
            "name": ["甲市", "甲区", "乙区"],
            "level": ["city", "county", "county"],
        },
        geometry=[shapely.box(461000, 4238000, 466000, 4243000), SLIVER, big],
        crs=GK,
    )
    parcel = shapely.box(*(np.array(BOX) + np.array([1.0, 1.0, -1.0, -1.0])))  # box + 1 m: BOX
    geoms = np.array([parcel], dtype=object)
    parea = ellipsoidal_area(geoms, GK)
    table = county_table(admin)
    index = TargetIndex.of(admin[admin["level"] == "county"].geometry.to_numpy())
    out_rows = np.zeros(len(table["adcode"]), dtype=bool)
    args = (geoms, parea, admin, index, table, out_rows, GK)
    cov = county_cover(*args)
    assert cov.adcode.tolist() == ["140102"] and cov.county.tolist() == ["乙区"]
    assert cov.outside_m2.tolist() == [0.0]
    monkeypatch.setattr(
        counties_mod,
        "clipped",
        lambda gs, bs: np.array(
            [shapely.clip_by_rect(g, *b) for g, b in zip(gs, bs.tolist(), strict=True)],
            dtype=object,
        ),
    )
    with pytest.raises(shapely.errors.GEOSException):  # the path taken: the clip itself fails
        county_cover(*args)


@pytest.fixture(scope="module")
def parcels():
    """6,000 random boxes over central Shanxi, 50 m to 1.5 km a side, with points."""
    rng = np.random.default_rng(19)
    x, y = TO_XY.transform(rng.uniform(111.5, 114.0, 6000), rng.uniform(35.5, 39.5, 6000))
    w, h = rng.uniform(50, 1500, (2, 6000))
    geoms = shapely.box(x, y, x + w, y + h)
    geoms[:20] = shapely.points(x[:20], y[:20])
    return gpd.GeoDataFrame(
        {"project_id": [f"Q{k}" for k in range(6000)], "industry": "pv", "kind": "new"},
        geometry=geoms,
        crs=GK,
    )


def test_control_units_paired_by_their_grid_as_by_the_tests(monkeypatch, parcels):
    """From GRID_POINTS projects, those in cells of one control unit are paired with it
    without predicate tests: the same pairs, areas and shares, in the same order."""
    layers = site_layers(load_catalog())
    rules = load_rules()
    index = layers.index("control_units")
    pg = parcels.geometry.to_numpy()
    held = held_by(pg, shapely.get_type_id(pg) == 3, index)
    assert 3000 < (held >= 0).sum() < 5900  # both paths taken
    monkeypatch.setattr(sc, "GRID_POINTS", 0)
    grid = sc.check_sites(parcels, layers, rules, threads=1)
    monkeypatch.setattr(sc, "HELD_ROLES", ())
    tested = sc.check_sites(parcels, layers, rules, threads=1)
    for role, frame in tested.pairs.items():
        assert frame.equals(grid.pairs[role]), role
    assert tested.table.drop(columns="geometry").equals(grid.table.drop(columns="geometry"))
    cu = grid.pairs["control_units"]
    whole = cu["overlap_pct"].to_numpy() == 100.0
    assert whole.sum() > 3000 and (~whole).sum() > 300  # parcels within one unit, and across


@pytest.mark.parametrize("cols", [1, 5, 62, 63, 70])
def test_distinct_rows_as_numpy_unique(cols):
    """The rules' combinations per project: the same distinct rows as np.unique(axis=0) and
    each row mapped back to its own."""
    rng = np.random.default_rng(cols)
    base = rng.random((7, cols)) < 0.3
    fired = base[rng.integers(0, 7, 5000)]
    combos, which = sc._distinct_rows(fired)
    assert (combos[which] == fired).all()
    ref = np.unique(fired, axis=0)
    assert len(combos) == len(ref)
    assert {r.tobytes() for r in combos} == {r.tobytes() for r in ref}
    assert sc._distinct_rows(np.zeros((0, cols), dtype=bool))[1].shape == (0,)
