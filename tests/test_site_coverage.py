"""A place the layers do not cover is never "clear": the control units tile the province, so
a project outside every unit (another province, a gap in an agency's layer) was checked
against nothing and came out clear. Known answers on two 10 km unit squares (see
``test_site_check._layers``), areas checked against pyproj.Geod."""

from __future__ import annotations

import json
import re

import pytest
import shapely
from click.testing import CliRunner

from sxzones.analyses.site_check import check_sites
from sxzones.cli import cli

from .test_site_check import RULES, TO_XY, _geod_area, _layers, _projects

X0, Y0 = TO_XY.transform(111.5, 37.0)  # the west unit spans x0-10 km .. x0, y0 .. y0+10 km


def _row(geom, industry="pv"):
    return check_sites(_projects([geom], industry=industry), _layers(X0, Y0), RULES).table.iloc[0]


def test_a_point_outside_every_unit_is_unassessed():
    r = _row(shapely.Point(X0 - 12000, Y0 + 5000))
    assert r["verdict"] == "unassessed"
    assert r["unit_codes"] == ""
    assert "outside every control unit" in r["unassessed_reason"]


def test_a_parcel_half_outside_is_unassessed_with_the_area_outside():
    parcel = shapely.box(X0 - 10500, Y0 + 1000, X0 - 9500, Y0 + 1500)  # west half outside
    r = _row(parcel)
    assert r["verdict"] == "unassessed"
    m = re.search(r"([\d,]+) m² \(([\d.]+) %\) of the parcel lie outside", r["unassessed_reason"])
    assert m, r["unassessed_reason"]
    outside = _geod_area(shapely.box(X0 - 10500, Y0 + 1000, X0 - 10000, Y0 + 1500))
    assert float(m.group(1).replace(",", "")) == pytest.approx(outside, abs=1.0)
    assert float(m.group(2)) == pytest.approx(50.0, abs=0.1)


def test_a_parcel_all_but_a_sliver_inside_is_assessed():
    """0.025 % outside (a 25 cm strip of a 1 km parcel): below 0.1 %, as a unit border
    drawn a little differently would leave."""
    r = _row(shapely.box(X0 - 10000.25, Y0 + 1000, X0 - 9000.25, Y0 + 1500))
    assert r["verdict"] == "clear"
    assert r["unassessed_reason"] == ""


def test_a_conflict_stands_where_part_is_outside():
    """Steel in a parcel half in the red line and partly outside the units: the conflict is
    certain whatever lies outside."""
    parcel = shapely.box(X0 - 6500, Y0 - 500, X0 - 5500, Y0 + 4500)  # south tip outside
    r = _row(parcel, industry="steel")
    assert r["verdict"] == "conflict"
    assert "outside every control unit" in r["unassessed_reason"]


def test_a_pv_project_in_hebei_is_not_clear(tmp_path):
    """114.10 E, 37.00 N lies in 信都区 (Xingtai, Hebei), inside the study area's bounding
    box but outside Shanxi's control units: it was 'clear'."""
    res = CliRunner().invoke(
        cli,
        [
            "check", "--project", "114.10,37.0", "--crs", "wgs84", "--industry", "pv",
            "--reports", "none", "--out", str(tmp_path / "o"),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "clear 0, unassessed 1" in res.output
    doc = json.loads((tmp_path / "o" / "site_check.json").read_text(encoding="utf-8"))
    p = doc["projects"][0]
    assert p["verdict"] == "unassessed"
    assert p["county"] == "信都区"
    assert "outside every control unit of control_units_demonstration" in p["unassessed_reason"]


def test_siting_land_outside_every_unit_is_flagged(tmp_path):
    """A candidate beyond the admin layer (H2, east of Xingtai) was eligible in full, checked
    against no red line or unit: its land outside the units is counted per site and warned
    of; a Shanxi candidate's is 0. A candidate in Hebei's 信都区 (H1), within the admin layer,
    is outside the plan's jurisdiction and not eligible at all (it was flagged here as H2
    is, before the screen applied the jurisdiction)."""
    import pandas as pd

    def square(lon, lat):
        ring = [[lon, lat], [lon + 0.02, lat], [lon + 0.02, lat + 0.02], [lon, lat + 0.02]]
        return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}

    feats = [
        {"type": "Feature", "properties": {"site_id": sid, "kind": "废弃矿山"}, "geometry": g}
        for sid, g in (
            ("H1", square(114.10, 37.00)),
            ("S1", square(112.10, 37.00)),
            ("H2", square(114.60, 37.00)),
        )
    ]
    p = tmp_path / "c.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    res = CliRunner().invoke(
        cli, ["sites", "--candidates", str(p), "--tech", "pv", "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 0, res.output
    assert "warning: 1 site(s) (H2) have 3.95 km² of eligible land outside every control unit" in (
        res.output
    )
    t = pd.read_csv(tmp_path / "o" / "eligible_sites.csv", encoding="utf-8-sig").set_index(
        "site_id"
    )
    assert t.loc["H2", "outside_units_m2"] == pytest.approx(t.loc["H2", "eligible_m2"], abs=1)
    assert t.loc["H1", "main_reason"] == "outside_plan" and t.loc["H1", "eligible_m2"] == 0
    assert t.loc["S1", "outside_units_m2"] == 0
    doc = json.loads((tmp_path / "o" / "siting.json").read_text("utf-8"))
    assert any("outside every control unit" in w for w in doc["totals"]["warnings"])


def test_outside_area_of_sites_against_units_is_the_geodesic_area():
    """outside_area: a site within one unit has none (no union made), one across two units
    none, one half beyond the units half its ground area (pyproj.Geod), one beyond all of
    them its whole area, one touching a unit's edge from outside its whole area."""
    import numpy as np
    from pyproj import CRS, Geod, Transformer

    from sxzones.runs.siting import outside_area

    crs = CRS.from_epsg(4546)
    x0, y0 = 600_000.0, 4_200_000.0
    units = np.array(
        [
            shapely.box(x0, y0, x0 + 5000, y0 + 5000),
            shapely.box(x0 + 5000, y0, x0 + 10_000, y0 + 5000),
        ]
    )
    sites = np.array(
        [
            shapely.box(x0 + 1000, y0 + 1000, x0 + 2000, y0 + 2000),  # within unit 1
            shapely.box(x0 + 4500, y0 + 1000, x0 + 5500, y0 + 2000),  # across units 1 and 2
            shapely.box(x0 - 500, y0 + 1000, x0 + 500, y0 + 2000),  # half outside
            shapely.box(x0 - 3000, y0 + 1000, x0 - 2000, y0 + 2000),  # outside
            shapely.box(x0 - 1000, y0 + 1000, x0, y0 + 2000),  # touches unit 1's west edge
        ]
    )
    to_geo = Transformer.from_crs(crs, 4490, always_xy=True)
    geod = Geod(ellps="GRS80")

    def ground(g):
        lon, lat = to_geo.transform(*np.asarray(g.exterior.coords).T)
        return abs(geod.polygon_area_perimeter(lon, lat)[0])

    got = outside_area(sites, units, crs)
    want = [0.0, 0.0, ground(shapely.box(x0 - 500, y0 + 1000, x0, y0 + 2000))]
    want += [ground(sites[3]), ground(sites[4])]
    assert got[:2].tolist() == [0.0, 0.0]
    assert got[2:] == pytest.approx(want[2:], abs=0.2)
    assert 499_000 < got[2] < 501_000  # half a square kilometre, near the scale factor 1


def test_outside_area_with_no_unit_reached_is_the_whole_area():
    """No site reaches a unit (and no site at all): each site's whole area, no error."""
    import numpy as np
    from pyproj import CRS

    from sxzones.runs.siting import outside_area

    crs = CRS.from_epsg(4546)
    units = np.array([shapely.box(600_000, 4_200_000, 601_000, 4_201_000)])
    far = np.array([shapely.box(700_000, 4_200_000, 700_100, 4_200_100)])
    got = outside_area(far, units, crs)
    assert got[0] == pytest.approx(10_000, rel=2e-3)  # 100 m x 100 m, scale factor near 1
    assert outside_area(np.array([], dtype=object), units, crs).tolist() == []
