"""Every validation finding triggered, with its message and rows asserted."""

from __future__ import annotations

import re

import geopandas as gpd
import pytest
import shapely

from sxzones.errors import LayerError
from sxzones.layers import read_file, validate_layer
from sxzones.layers.schemas import Provenance

SQ = shapely.box(112.0, 37.0, 112.01, 37.01)
BOWTIE = shapely.Polygon([(112.0, 37.0), (112.01, 37.01), (112.01, 37.0), (112.0, 37.01)])


def _layer(tmp_path, rows, crs=4490, name="b.gpkg"):
    p = tmp_path / name
    gpd.GeoDataFrame(rows, crs=crs).to_file(p)
    return read_file(p)


def _builtup(**over):
    base = {"area_id": "A1", "name": "太原", "kind": "city", "adcode": "140100", "geometry": SQ}
    base.update(over)
    return base


def test_clean_layer_loads_in_working_crs_with_provenance(tmp_path, work_crs):
    prov = Provenance("test", "CC0", "1", "demonstration")
    g, rep = validate_layer(
        _layer(tmp_path, [_builtup()]), "builtup", working_crs=work_crs, provenance=prov, name="bu"
    )
    assert g.crs.to_epsg() == 4546
    assert list(g.columns[:4]) == ["area_id", "name", "kind", "adcode"]
    assert g.attrs["sxzones"]["provenance"]["status"] == "demonstration"
    assert rep.n_read == rep.n_loaded == 1
    assert rep.findings == []
    assert rep.summary().startswith("bu (builtup): 1 read, 1 loaded, 0 rejected")


def test_every_row_finding_is_reported_with_rows(tmp_path, work_crs):
    rows = [
        _builtup(),  # 1 ok
        _builtup(area_id="A2", geometry=None),  # 2 NULL geometry
        _builtup(area_id="A3", geometry=shapely.Polygon()),  # 3 empty geometry
        _builtup(area_id="A4", geometry=shapely.Point(112, 37)),  # 4 wrong type
        _builtup(area_id="", name=""),  # 5 missing id (an empty name is fine: optional)
        _builtup(area_id="A6", kind="village"),  # 6 bad choice
        _builtup(area_id="A1"),  # 7 duplicate id of row 1
        _builtup(area_id="A8", geometry=BOWTIE),  # 8 invalid -> repaired
    ]
    g, rep = validate_layer(_layer(tmp_path, rows), "builtup", working_crs=work_crs)
    rej = rep.rejects.set_index("source_row")
    assert rej.loc[2, "code"] == "empty_geometry"
    assert rej.loc[3, "code"] == "empty_geometry"
    assert rej.loc[4, "code"] == "wrong_geometry_type"
    assert "Point is not allowed for role 'builtup'" in rej.loc[4, "reason"]
    assert rej.loc[5, "code"] == "missing_value" and rej.loc[5, "field"] == "area_id"
    assert rej.loc[6, "code"] == "bad_value"
    assert "['village']; allowed: ['city', 'county_town']" in rej.loc[6, "reason"]
    # a built-up area's id on two features: parts of one area (kept, said), not a row to drop
    assert 7 not in rej.index
    parts = [f for f in rep.findings if f.code == "id_parts"]
    assert len(parts) == 1 and parts[0].rows == (7,)
    assert sorted(g["source_row"]) == [1, 7, 8]
    repaired = [f for f in rep.findings if f.kind == "repaired"]
    assert len(repaired) == 1 and repaired[0].rows == (8,)
    assert "Self-intersection" in repaired[0].message
    assert g.set_index("source_row").geometry.loc[8].is_valid
    assert g.set_index("source_row").geometry.loc[8].geom_type == "MultiPolygon"
    # every input row is accounted for
    assert rep.n_loaded + rep.n_rejected == rep.n_read == 8


def test_missing_required_fields_named_with_present_fields(tmp_path, work_crs):
    raw = _layer(tmp_path, [{"id": "x", "mc": "太原", "geometry": SQ}])
    with pytest.raises(
        LayerError,
        match=r"requires field\(s\) \['unit_code', 'unit_type'\].*Fields present: "
        r"\['id', 'mc'\]. Fix: name the field that holds it, --field unit_code=SOURCE "
        r"\(or fields = \{ unit_code = \"SOURCE\" \} in the catalogue entry\); usual names: "
        r"HJGKDYBM",
    ):
        validate_layer(raw, "control_units", working_crs=work_crs)


def test_builtup_needs_geometry_only(tmp_path, work_crs):
    """Item 4 of issue 11: polygons and nothing else are a built-up layer; the id is the
    feature number."""
    raw = _layer(tmp_path, [{"x": 1, "geometry": SQ}, {"x": 2, "geometry": SQ}])
    g, rep = validate_layer(raw, "builtup", working_crs=work_crs)
    assert g["area_id"].tolist() == ["1", "2"]
    assert "area_id: the feature number (the file has no id field)" in rep.summary()


def test_field_mapping_and_constants(tmp_path, work_crs):
    raw = _layer(tmp_path, [{"BM": "A1", "MC": "太原", "XZQ": "140100", "geometry": SQ}])
    g, _ = validate_layer(
        raw,
        "builtup",
        working_crs=work_crs,
        fields={"area_id": "BM", "name": "MC", "adcode": "XZQ"},
        constants={"kind": "city"},
    )
    assert g.loc[0, ["area_id", "name", "kind", "adcode"]].tolist() == [
        "A1",
        "太原",
        "city",
        "140100",
    ]
    with pytest.raises(LayerError, match=r"does not have \(area_id <- 'NOPE'\)"):
        validate_layer(raw, "builtup", working_crs=work_crs, fields={"area_id": "NOPE"})


def test_swapped_rows_rejected_and_systematic_swap_refused(tmp_path, work_crs):
    csv = tmp_path / "f.csv"
    csv.write_text(
        "firm_id,name,industry,lon,lat\n1,a,steel,112.5,37.8\n2,b,steel,112.6,37.9\n"
        "3,c,steel,37.7,112.4\n",
        encoding="utf-8",
    )
    _, rep = validate_layer(read_file(csv, crs="wgs84"), "firms", working_crs=work_crs)
    assert rep.rejects["source_row"].tolist() == [4]  # the row Excel shows (header = 1)
    assert rep.rejects["code"].tolist() == ["swapped"]
    allswap = tmp_path / "g.csv"
    allswap.write_text("firm_id,name,industry,lon,lat\n1,a,steel,37.8,112.5\n", encoding="utf-8")
    with pytest.raises(LayerError, match="look swapped.* in 1 of 1 rows.*Fix: swap the columns"):
        validate_layer(read_file(allswap, crs="wgs84"), "firms", working_crs=work_crs)


def test_projected_numbers_declared_as_degrees_refused(tmp_path, work_crs):
    csv = tmp_path / "f.csv"
    csv.write_text("firm_id,name,industry,x,y\n1,a,steel,38512345,4192345\n", encoding="utf-8")
    with pytest.raises(LayerError, match="are metres, not degrees.*declare gk37 or gk38"):
        validate_layer(read_file(csv, crs="cgcs2000"), "firms", working_crs=work_crs)


def test_zone_prefix_without_zoned_crs_refused(tmp_path, work_crs):
    csv = tmp_path / "f.csv"
    csv.write_text("firm_id,name,industry,x,y\n1,a,steel,38512345,4192345\n", encoding="utf-8")
    with pytest.raises(LayerError, match="carry the zone number 38.*declare gk38"):
        validate_layer(read_file(csv, crs="cm114"), "firms", working_crs=work_crs)
    g, _ = validate_layer(read_file(csv, crs="gk38"), "firms", working_crs=work_crs)
    assert len(g) == 1


def test_far_outside_rows_rejected_and_missing_coordinates(tmp_path, work_crs):
    csv = tmp_path / "f.csv"
    csv.write_text(
        "firm_id,name,industry,lon,lat\n1,a,steel,112.5,37.8\n2,b,steel,121.5,31.2\n"
        "3,c,steel,,\n4,d,steel,112.4,37.7\n",
        encoding="utf-8",
    )
    g, rep = validate_layer(read_file(csv, crs="wgs84"), "firms", working_crs=work_crs)
    rej = rep.rejects.set_index("source_row")  # spreadsheet rows: the header is row 1
    assert rej.loc[3, "code"] == "outside_study_area"
    assert rej.loc[4, "code"] == "empty_geometry"
    assert rej.loc[4, "field"] == "lon/lat"
    assert rej.loc[4, "reason"] == "coordinates missing or not numbers"
    assert "(row 4)" in str(next(f for f in rep.findings if f.code == "empty_geometry"))
    assert g["firm_id"].tolist() == ["1", "4"]


def test_xian80_is_loaded_with_a_datum_note(tmp_path, work_crs):
    raw = _layer(tmp_path, [_builtup()], crs=4610)
    _, rep = validate_layer(raw, "builtup", working_crs=work_crs)
    assert [f.code for f in rep.findings] == ["datum_shift_approximate"]


def test_nothing_valid_is_refused(tmp_path, work_crs):
    raw = _layer(tmp_path, [_builtup(area_id="")])
    with pytest.raises(LayerError, match="no feature passed validation"):
        validate_layer(raw, "builtup", working_crs=work_crs)


def test_bad_jzd_parcel_rejected(tmp_path, work_crs):
    p = tmp_path / "p.txt"
    p.write_text(
        "[属性描述]\n坐标系=2000国家大地坐标系\n带号=38\n[地块坐标]\n"
        "3,1,P1,a,面,,,,@\nJ1,1,4192000,38512000\nJ2,1,4192000,38512100\n"
        "J3,1,4192100,38512100\n"
        "2,1,P2,b,面,,,,@\nK1,1,4192000,38512000\nK2,1,4192000,38512100\n",
        encoding="utf-8",
    )
    g, rep = validate_layer(
        read_file(p), "projects", working_crs=work_crs, fields={"project_id": "parcel_id"}
    )
    assert g["project_id"].tolist() == ["P1"]
    assert rep.rejects["reason"].tolist() == [
        "ring 1 has 2 distinct points; a ring needs 3 or more"
    ]


def test_boundaries_drawn_as_closed_lines_get_their_fix(tmp_path, work_crs):
    """Built-up areas digitised as closed boundary lines (边界线): refused, with how to make
    them polygons; open lines keep the general fix."""
    ring = shapely.box(112.5, 37.8, 112.6, 37.9).boundary
    for geom, fix in (
        (ring, "these are closed lines, boundaries: make them polygons"),
        (shapely.LineString([(112.5, 37.8), (112.6, 37.9)]), "split or convert these features"),
    ):
        p = tmp_path / "b.gpkg"
        gpd.GeoDataFrame({"area_id": ["B1"]}, geometry=[geom], crs=4490).to_file(p)
        with pytest.raises(LayerError, match=re.escape(fix)):
            validate_layer(read_file(p), "builtup", working_crs=work_crs)
