"""The reviewer page's pasted corners and zipped uploads, as reviewers have them: degrees,
minutes and seconds, full-width digits, KML triples, 界址点 listings (X the northing),
latitude first as Google Maps copies it; zips from a Mac, and zips of several parcels with
the same file names (one replaced the other without a word)."""

from __future__ import annotations

import zipfile

import geopandas as gpd
import pytest
import shapely

from sxzones.options import ServeOptions
from sxzones.serve import create_app, uploads
from sxzones.serve.uploads import Limits, UploadError, read_pasted


@pytest.fixture(scope="module")
def client():
    from starlette.testclient import TestClient

    app, state = create_app(ServeOptions())
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        yield c
    state.close()


SQUARE = [(112.49, 38.05), (112.5, 38.05), (112.5, 38.06)]


@pytest.mark.parametrize(
    "text",
    [
        "112.49,38.05\n112.5,38.05\n112.5,38.06",
        "１１２．４９，３８．０５\n１１２．５，３８．０５\n１１２．５，３８．０６",  # full width
        "112.49,38.05,0\n112.5,38.05,0\n112.5,38.06,0",  # KML: a height after
        "112.49,38.05 J1\n112.5,38.05 J2\n112.5,38.06 J3",  # a label after
        "112°29′24″,38°3′0″\n112°30′,38°3′\n112°30′,38°3′36″",  # degrees, minutes, seconds
    ],
)
def test_pasted_corners_as_written(text):
    pts, notes = read_pasted(text)
    assert [c for p in pts for c in p] == pytest.approx([c for p in SQUARE for c in p], abs=1e-9)
    assert notes == []


def test_pasted_latitude_first_is_read_and_said():
    pts, notes = read_pasted("38.05,112.49\n38.05,112.5\n38.06,112.5")
    assert pts == SQUARE
    assert notes and notes[0].startswith("corners given latitude first")


@pytest.mark.parametrize(
    "text",
    [
        "J1,1,4214594.557,37630789.081\nJ2,1,4216814.693,37630753.473\nJ3,1,4216786.727,37628998.460",
        "J1,4214594.557,37630789.081,2220.5\nJ2,4216814.693,37630753.473,1755.2\n"
        "J3,4216786.727,37628998.460,10.0",  # 成果表 with a side length after
    ],
)
def test_pasted_jzd_listing_x_is_the_northing(text):
    pts, notes = read_pasted(text)
    assert pts[0] == (37630789.081, 4214594.557)
    assert notes == ["pasted 界址点 lines read as 点号,X,Y (X the northing)"]


def test_pasted_nonsense_names_its_line():
    with pytest.raises(UploadError, match=r"line 2: 'abc' is not an x,y pair"):
        read_pasted("112.5,38\nabc")


def _shp(folder, x):
    folder.mkdir(parents=True)
    gpd.GeoDataFrame(
        {"project_id": [f"X{x}"]}, geometry=[shapely.box(112 + x, 38, 112.01 + x, 38.01)], crs=4490
    ).to_file(folder / "parcel.shp")
    return sorted(folder.glob("parcel.*"))


def test_zip_of_two_parcels_with_one_name_is_refused(tmp_path):
    z = tmp_path / "two.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for k in (1, 2):
            for f in _shp(tmp_path / f"p{k}", k / 10):
                zf.write(f, f"p{k}/{f.name}")
    with pytest.raises(UploadError, match=r"'p1/parcel.cpg' and 'p2/parcel.cpg' have the same"):
        uploads.unpack(z, Limits())


def test_zip_made_on_a_mac_is_unpacked(tmp_path):
    z = tmp_path / "mac.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in _shp(tmp_path / "p", 0.1):
            zf.write(f, f"项目/{f.name}")
            zf.writestr(f"__MACOSX/项目/._{f.name}", b"\x00\x05\x16\x07 AppleDouble")
    main = uploads.unpack(z, Limits())
    assert main.name == "parcel.shp"
    assert gpd.read_file(main)["project_id"].tolist() == ["X0.1"]


def test_firm_page_shows_values_as_given(client):
    """The page's table was read back from the CSV, whose formula-like texts carry a ``'``
    for spreadsheets: the page showed ``'=1+2`` and an id search for ``=1+2`` found nothing.
    The CSV download keeps the quote."""
    csv = "firm_id,name,industry,lon,lat\n=1+2,+86-351-1234567,钢铁,112.55,37.87\n-3,'x,钢铁,112.55,37.87\n"
    res = client.post(
        "/api/firms", data={"crs": "wgs84"}, files={"file": ("f.csv", csv.encode())}
    ).json()
    rows = {r["firm_id"]: r["name"] for r in res["table"]}
    assert rows == {"=1+2": "+86-351-1234567", "-3": "'x"}
    got = client.get(f"/download/{res['job']}/firm_zones.csv").content.decode("utf-8-sig")
    assert '"\'=1+2"' in got


def test_planner_kinds_are_not_ignored_for_an_uploaded_file(client):
    """The kind tick-boxes were ignored for an uploaded candidates file: land of unticked
    kinds was screened and totalled without a word. Now said; all ticked, the file runs."""
    gj = gpd.GeoDataFrame(
        {"site_id": ["S1"], "kind": ["废弃矿山"]},
        geometry=[shapely.box(112.49, 38.0, 112.495, 38.005)],
        crs=4490,
    ).to_json()
    files = {"file": ("c.geojson", gj.encode())}
    r = client.post("/api/sites", data={"tech": "pv", "kinds": "abandoned_mine"}, files=files)
    assert r.status_code == 400 and "an uploaded file is screened whole" in r.json()["error"]
    every = ",".join(k["id"] for k in client.get("/api/setup").json()["siting"]["kinds"])
    r = client.post("/api/sites", data={"tech": "pv", "kinds": every}, files=files)
    assert r.status_code == 200, r.text


def test_firm_columns_found_by_their_usual_names(client):
    """The page offered to map 企业编号, 企业名称 and 行业 although the screen reads them by
    name: they are reported as found now."""
    text = "企业编号,企业名称,行业,经度,纬度\nF1,太钢,钢铁,112.55,37.87\n"
    cols = client.post("/api/firms/columns", files={"file": ("f.csv", text.encode())}).json()
    assert set(cols["found"]) == {"firm_id", "name", "industry", "x", "y"}


def test_pasted_parcel_with_a_hole(client):
    """界址点 lines with a 圈号 (ring 2 a hole), as the reviewer pastes a parcel around an
    enclave: the rings were chained into one, a different parcel. The area is the outer
    ring's less the hole's (pyproj.Geod), the same without the 圈号 where ring 1 closes."""
    from pyproj import Geod, Transformer

    to_ll = Transformer.from_crs(4525, 4490, always_xy=True)  # GK zone 37, zone-prefixed

    def ll(ring):
        return [to_ll.transform(e, n) for e, n in ring]

    outer = [(37500000, 4200000), (37502000, 4200000), (37502000, 4202000), (37500000, 4202000)]
    hole = [(37500500, 4200500), (37501500, 4200500), (37501500, 4201500), (37500500, 4201500)]
    poly = shapely.orient_polygons(
        shapely.segmentize(shapely.Polygon(ll(outer), [ll(hole)]), 0.0005)
    )
    want = abs(Geod(ellps="GRS80").geometry_area_perimeter(poly)[0])
    ringed = "\n".join(
        f"J{k},{r},{n},{e}" for r, ring in ((1, outer), (2, hole)) for k, (e, n) in enumerate(ring)
    )
    closed = "\n".join(f"J{k},{n},{e}" for k, (e, n) in enumerate([*outer, outer[0], *hole]))
    for text in (ringed, closed):
        res = client.post("/api/check", data={"coords": text, "crs": "gk37", "industry": "pv"})
        assert res.status_code == 200, res.text
        area = res.json()["document"]["projects"][0]["area_m2"]
        assert area == pytest.approx(want, abs=1.0)
    rings, notes = uploads.pasted_rings(ringed)
    assert len(rings) == 2 and "2 rings by their 圈号" in notes[-1]
