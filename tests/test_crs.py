"""sxzones.crs against published reference pairs, pyproj and round trips."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Geod, Transformer

from sxzones import crs as sc
from sxzones.cli import cli
from sxzones.crs import check_coordinates, parse_crs
from sxzones.errors import CRSError

GEOD = Geod(ellps="WGS84")

# googollee/eviltransform python/test.py: (wgsLat, wgsLng, gcjLat, gcjLng)
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),
]


def _metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM)
def test_wgs84_to_gcj02_matches_published_pairs(wlat, wlon, glat, glon):
    lon, lat = sc.wgs84_to_gcj02(wlon, wlat)
    assert lon == pytest.approx(glon, abs=1e-6)
    assert lat == pytest.approx(glat, abs=1e-6)


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM)
def test_gcj02_to_wgs84_inverse_within_5cm(wlat, wlon, glat, glon):
    lon, lat = sc.gcj02_to_wgs84(glon, glat)
    assert _metres(lon, lat, wlon, wlat) < 0.05


def test_bd09_matches_coordtransform_reference():
    # wandergis/coordtransform README: gcj02tobd09(116.404, 39.915), bd09togcj02(116.404, 39.915)
    lon, lat = sc.gcj02_to_bd09(116.404, 39.915)
    assert (lon, lat) == pytest.approx((116.41036949371029, 39.92133699351022), abs=1e-9)
    lon, lat = sc.bd09_to_gcj02(116.404, 39.915)
    # the published closed-form inverse; ours is iterated and agrees to well under 5 cm
    assert _metres(lon, lat, 116.39762729119315, 39.90865673957631) < 0.05
    flon, flat = sc.gcj02_to_bd09(lon, lat)
    assert _metres(flon, flat, 116.404, 39.915) < 0.002


china = st.tuples(st.floats(73.7, 134.9), st.floats(18.2, 53.4))


@settings(max_examples=200, deadline=None)
@given(china)
def test_round_trips_within_5cm(pt):
    lon, lat = pt
    g = sc.wgs84_to_gcj02(lon, lat)
    assert _metres(*sc.gcj02_to_wgs84(*g), lon, lat) < 0.05
    b = sc.wgs84_to_bd09(lon, lat)
    assert _metres(*sc.bd09_to_wgs84(*b), lon, lat) < 0.05
    # and the offsets are the real thing: tens to hundreds of metres in China
    assert 1.0 < _metres(*g, lon, lat) < 1000.0


def test_vectorised_and_zero_offset_outside_china():
    lon = np.array([112.5, -74.0, 2.35])
    lat = np.array([37.8, 40.7, 48.85])
    glon, glat = sc.wgs84_to_gcj02(lon, lat)
    assert glon.shape == (3,)
    assert glon[0] != lon[0]
    assert glon[1:] == pytest.approx(lon[1:], abs=0)
    assert glat[1:] == pytest.approx(lat[1:], abs=0)
    wlon, _ = sc.gcj02_to_wgs84(lon, lat)
    assert wlon[1:] == pytest.approx(lon[1:], abs=0)


def test_convert_whole_geometries_keeps_structure_and_z():
    poly = shapely.Polygon(
        [(112, 37), (113, 37), (113, 38), (112, 38)],
        [[(112.4, 37.4), (112.6, 37.4), (112.6, 37.6), (112.4, 37.6)]],
    )
    multi = shapely.MultiLineString([[(112, 37), (112.1, 37.1)], [(111, 36), (111.2, 36)]])
    pz = shapely.Point(112.5, 37.8, 900.0)
    out = sc.convert_geometries([poly, multi, pz, None], "wgs84", "gcj02")
    assert out[0].geom_type == "Polygon" and len(out[0].interiors) == 1
    assert out[1].geom_type == "MultiLineString" and len(out[1].geoms) == 2
    assert out[2].has_z and out[2].z == 900.0
    assert out[3] is None
    ex, ey = sc.wgs84_to_gcj02(112.4, 37.4)
    assert out[0].interiors[0].coords[0] == pytest.approx((float(ex), float(ey)))
    back = sc.convert_geometries(out, "gcj02", "wgs84")
    assert shapely.equals_exact(back[0], poly, tolerance=1e-8)


@pytest.mark.parametrize(
    ("spec", "epsg", "prefixed", "cm"),
    [
        ("EPSG:4490", 4490, False, None),
        ("4326", 4326, False, None),
        ("cgcs2000", 4490, False, None),
        ("wgs84", 4326, False, None),
        ("gcj02", 4326, False, None),
        ("bd09", 4326, False, None),
        ("xian80", 4610, False, None),
        ("beijing54", 4214, False, None),
        ("gk37", 4525, True, 111.0),
        ("gk38", 4526, True, 114.0),
        ("cm111", 4546, False, 111.0),
        ("cm114", 4547, False, 114.0),
        ("EPSG:4525", 4525, True, 111.0),
        ("xian80:gk37", 2361, True, 111.0),
        ("beijing54:cm114", 2435, False, 114.0),
        ("GCJ-02", 4326, False, None),
    ],
)
def test_parse_specs(spec, epsg, prefixed, cm):
    s = sc.parse_crs(spec)
    assert s.crs.to_epsg() == epsg
    assert s.zone_prefixed is prefixed
    assert s.central_meridian == cm


def test_obfuscated_specs_are_marked():
    assert sc.parse_crs("gcj02").obfuscation == "gcj02"
    assert sc.parse_crs("bd09").obfuscation == "bd09"
    assert sc.parse_crs("wgs84").obfuscation is None


@pytest.mark.parametrize("bad", ["utm50", "gk99", "cm112", "mars84", "EPSG:99999", "foo:gk37"])
def test_unknown_spec_lists_what_is_accepted(bad):
    with pytest.raises(CRSError, match="Accepted"):
        sc.parse_crs(bad)


@pytest.mark.parametrize("zone", range(25, 46))
def test_zone_tables_match_epsg_registry(zone):
    cm = zone * 3
    for datum in ("cgcs2000", "xian80", "beijing54"):
        pre = sc.parse_crs(f"{datum}:gk{zone}")
        assert f"zone {zone}" in pre.crs.name
        plain = sc.parse_crs(f"{datum}:cm{cm}")
        assert f"CM {cm}E" in plain.crs.name


def test_gauss_kruger_against_pyproj_and_zone_prefix():
    lon, lat = 113.2, 36.1  # zone 38 (CM 114E)
    e_pre, n_pre = Transformer.from_crs(4490, sc.parse_crs("gk38").crs, always_xy=True).transform(
        lon, lat
    )
    e, n = Transformer.from_crs(4490, CRS.from_epsg(4547), always_xy=True).transform(lon, lat)
    assert e_pre == pytest.approx(38_000_000 + e, abs=1e-6)
    assert n_pre == pytest.approx(n, abs=1e-6)
    # and the inverse brings the same point back
    back = Transformer.from_crs(4526, 4490, always_xy=True).transform(e_pre, n_pre)
    assert back == pytest.approx((lon, lat), abs=1e-9)


def test_working_crs_for_shanxi():
    w = sc.choose_working_crs(sc.SHANXI_BOUNDS)
    assert w.epsg == 4546
    assert "CM 111E" in w.reason
    assert "ellipsoid" in w.reason
    assert 0.001 < w.max_scale_error < 0.002  # 3.9° from the CM at 34°N
    east = sc.choose_working_crs((113.5, 35.0, 114.5, 36.0))
    assert east.epsg == 4547


def test_working_crs_refuses_outside_china():
    with pytest.raises(CRSError, match="not within China"):
        sc.choose_working_crs((-10.0, 40.0, 2.0, 50.0))


@pytest.mark.parametrize(
    ("x", "y", "spec", "code"),
    [
        ([37.8], [112.5], "wgs84", "swapped"),
        ([512345.0], [4192345.0], "cgcs2000", "projected_as_degrees"),
        ([38512345.0], [4192345.0], "cm114", "prefix_without_zone"),
        ([512345.0], [4192345.0], "gk38", "missing_prefix"),
        ([37512345.0], [4192345.0], "gk38", "wrong_zone"),
        ([4192345.0], [38512345.0], "gk38", "swapped"),
        ([4192345.0], [512345.0], "cm114", "swapped"),
        ([120.1], [30.3], "wgs84", "outside_study_area"),
        ([float("nan")], [37.0], "wgs84", "not_finite"),
    ],
)
def test_coordinate_mistakes_are_named(x, y, spec, code):
    issues = sc.check_coordinates(x, y, spec)
    assert [i.code for i in issues] == [code]
    assert issues[0].fix
    assert issues[0].positions == (0,)


def test_good_coordinates_raise_nothing():
    assert sc.check_coordinates([112.5, 111.0], [37.8, 35.5], "wgs84") == []
    assert sc.check_coordinates([38512345.0], [4192345.0], "gk38") == []
    assert sc.check_coordinates([512345.0], [4192345.0], "cm114") == []


# ------------------------------------------------- coordinates that cannot lie in the study area
def _lonlat_firms() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"firm_id": ["F1", "F2", "F3"], "name": ["a", "b", "c"], "industry": ["steel"] * 3},
        geometry=gpd.points_from_xy([112.55, 112.60, 111.90], [37.87, 37.80, 36.10]),
    )


def _firms_cli(tmp_path, path, *extra):
    return CliRunner().invoke(
        cli,
        [
            "firms",
            "--firms",
            str(path),
            "--builtup",
            "builtup_demonstration",
            "--out",
            str(tmp_path / "out"),
            *extra,
        ],
    )


def test_shapefile_declaring_gauss_kruger_but_holding_degrees_is_refused(tmp_path):
    """A .prj saying EPSG:4546 over lon/lat numbers put every firm near the equator,
    'beyond' every built-up area, with exit status 0."""
    path = tmp_path / "firms.shp"
    _lonlat_firms().set_crs(4546).to_file(path)
    res = _firms_cli(tmp_path, path)
    assert res.exit_code == 2, res.output
    assert "firms.shp" in res.output
    assert "look like lon/lat degrees: give --crs wgs84/cgcs2000" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "out" / "firm_zones.csv").exists()


def test_crs_option_cm111_on_degrees_is_refused(tmp_path):
    path = tmp_path / "firms.csv"
    path.write_text(
        "firm_id,name,industry,x,y\nF1,a,steel,112.55,37.87\nF2,b,steel,112.60,37.80\n",
        encoding="utf-8",
    )
    res = _firms_cli(tmp_path, path, "--crs", "cm111")
    assert res.exit_code == 2, res.output
    assert "firms.csv" in res.output
    assert "look like lon/lat degrees: give --crs wgs84/cgcs2000" in res.output
    good = _firms_cli(tmp_path, path, "--crs", "wgs84")
    assert good.exit_code == 0, good.output


def test_projected_points_outside_the_study_area_are_named():
    # Gauss-Krüger CM 111E numbers declared under CM 105E lie 6 degrees west, outside Shanxi
    x, y = Transformer.from_crs(4490, 4546, always_xy=True).transform(112.5, 37.8)
    assert check_coordinates([x], [y], "cm111") == []
    issues = check_coordinates([x], [y], "EPSG:4544")  # CGCS2000 / 3-degree GK CM 105E
    assert [i.code for i in issues] == ["outside_study_area"]
    assert "lon/lat 106." in issues[0].message


@pytest.mark.parametrize(
    ("spec", "epsg", "obfuscation"),
    [
        ("国家2000", 4490, None),
        ("2000国家大地坐标系", 4490, None),
        ("西安80", 4610, None),
        ("1954北京坐标系", 4214, None),
        ("高德", 4326, "gcj02"),
        ("火星坐标", 4326, "gcj02"),
        ("百度", 4326, "bd09"),
        ("EPSG 4490", 4490, None),
        ("38带", 4526, None),
        ("3度带37", 4525, None),
        ("西安80:38带", 2362, None),
        ("北京54：gk38", 2414, None),
        ("国家2000:cm114", 4547, None),
    ],
)
def test_crs_named_the_chinese_way(spec, epsg, obfuscation):
    """What users type into --crs (and the page's box): 国家2000, 西安80, 高德, 38带 ..."""
    s = parse_crs(spec)
    assert (s.crs.to_epsg(), s.obfuscation) == (epsg, obfuscation)


def test_a_bare_zone_number_is_not_a_crs():
    with pytest.raises(CRSError, match="unknown CRS spec '38'"):
        parse_crs("38")
