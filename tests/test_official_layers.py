"""An agency's own layers beside or instead of the demonstration ones (an independent check
with official-shaped layers): the official layer is used, an ambiguous choice is refused,
a judged layer is used whole, parts sharing an id are kept, and the admin layer is found by
its role. Known answers on layers the tests write from the bundled ones."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner

from sxzones.cli import cli
from sxzones.errors import CatalogError
from sxzones.layers import load_catalog

from .conftest import CATALOG, ROOT

DERIVED = ROOT / "layers" / "shanxi" / "derived"


def _catalog(tmp_path, extra: str = "", rename: tuple[str, str] | None = None):
    """The bundled catalogue (paths made absolute) with ``extra`` entries appended."""
    text = CATALOG.read_text(encoding="utf-8").replace(
        'path = "shanxi/', f'path = "{(ROOT / "layers" / "shanxi").as_posix()}/'
    )
    if rename:
        text = text.replace(*rename)
    p = tmp_path / "catalog.toml"
    p.write_text(text + extra, encoding="utf-8")
    return p


def _entry(name: str, path, role: str, status: str) -> str:
    return (
        f'\n[layers.{name}]\npath = "{path.as_posix()}"\nrole = "{role}"\n'
        f'provenance = {{ source = "山西省生态环境厅", licence = "restricted", version = "2024", '
        f'status = "{status}" }}\n'
    )


def _redlines(tmp_path, name: str, change=None):
    red = gpd.read_file(DERIVED / "redline_demonstration.gpkg")
    if change is not None:
        red = change(red)
    path = tmp_path / f"{name}.gpkg"
    red.to_file(path, driver="GPKG")
    return path


IN_RL = "112.415,38.115"  # inside the demonstration red line RL140100 (north of Taiyuan)


def test_the_official_layer_is_used_and_an_ambiguous_choice_refused(tmp_path):
    """A red line moved off the point: with the official layer beside the demonstration one,
    the check uses the official (the point is no longer in a red line); two layers of one
    role of which none is official are refused, naming them."""

    def moved(red):
        red = red.copy()
        red["geometry"] = red.geometry.translate(50_000.0, 0.0)  # 50 km east (EPSG:4546)
        return red

    path = _redlines(tmp_path, "rl", moved)
    cat = _catalog(tmp_path, _entry("redline_official", path, "redline", "official"))
    assert load_catalog(cat).layer_of_role("redline") == "redline_official"
    base = ["check", "--project", IN_RL, "--crs", "cgcs2000", "--industry", "chemical"]
    res = CliRunner().invoke(
        cli, [*base, "--catalog", str(cat), "--reports", "none", "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 0, res.output
    t = pd.read_csv(tmp_path / "o" / "site_check.csv", encoding="utf-8-sig", dtype=str)
    assert pd.isna(t.loc[0, "redline_ids"])  # the demonstration layer had it in RL140100
    demo = CliRunner().invoke(cli, [*base, "--reports", "none", "--out", str(tmp_path / "d")])
    assert demo.exit_code == 0, demo.output
    d = pd.read_csv(tmp_path / "d" / "site_check.csv", encoding="utf-8-sig", dtype=str)
    assert d.loc[0, "redline_ids"] == "RL140100"
    two = _catalog(tmp_path, _entry("redline_mine", path, "redline", "public"))
    with pytest.raises(CatalogError, match=r"2 layers have role 'redline' \(redline_demonstration"):
        load_catalog(two).layer_of_role("redline")


def test_a_judged_layer_with_rejected_rows_is_refused(tmp_path):
    """An official unit typed 重点管控单元（工业园区） (no mapping in the catalogue) was left
    out, and a chemical project in it came out clear: the layer is refused whole."""
    cu = gpd.read_file(DERIVED / "control_units_demonstration.gpkg")
    cu.loc[0, "unit_type"] = "重点管控单元（工业园区）"
    path = tmp_path / "cu.gpkg"
    cu.to_file(path, driver="GPKG")
    cat = _catalog(tmp_path, _entry("cu_official", path, "control_units", "official"))
    res = CliRunner().invoke(
        cli,
        ["check", "--project", IN_RL, "--crs", "cgcs2000", "--industry", "chemical",
         "--catalog", str(cat), "--out", str(tmp_path / "o")],
    )  # fmt: skip
    assert res.exit_code == 2
    assert "layer 'cu_official' (control_units): 1 of" in res.output
    assert "重点管控单元（工业园区）" in res.output and "used whole" in res.output
    assert not (tmp_path / "o").exists()


def test_red_line_parts_sharing_an_id_are_all_kept(tmp_path):
    """A red line delivered in several polygons under one 红线编号: each part was rejected
    but the first as a duplicate, and a point inside a dropped part came out clear."""

    def split(red):
        other = red[red["redline_id"] == "RL140100"].copy()
        other["redline_id"] = red["redline_id"].iloc[0]  # RL140100's land under another id
        return pd.concat([red[red["redline_id"] != "RL140100"], other], ignore_index=True)

    path = _redlines(tmp_path, "rl_dup", split)
    cat = _catalog(tmp_path, _entry("redline_official", path, "redline", "official"))
    frame, rep = load_catalog(cat).load_whole("redline_official")
    assert rep.n_rejected == 0 and len(frame) == 12
    assert any(f.code == "id_parts" for f in rep.findings)
    res = CliRunner().invoke(
        cli,
        ["check", "--project", IN_RL, "--crs", "cgcs2000", "--industry", "chemical",
         "--catalog", str(cat), "--reports", "none", "--out", str(tmp_path / "o")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    t = pd.read_csv(tmp_path / "o" / "site_check.csv", encoding="utf-8-sig", dtype=str)
    assert t.loc[0, "verdict"] == "conflict"


def test_the_admin_layer_is_found_by_its_role(tmp_path):
    """An official catalogue names its admin layer otherwise than ``admin``: the firm
    screen's default then checked no province, and a Hebei steel works was told the plan
    applies."""
    cat = _catalog(tmp_path, rename=("[layers.admin]", "[layers.admin_official]"))
    csv = tmp_path / "f.csv"
    csv.write_text("企业名称,行业,经度,纬度\n河北某钢厂,钢铁,114.10,37.0\n", encoding="utf-8")
    res = CliRunner().invoke(
        cli,
        ["firms", "--firms", str(csv), "--crs", "wgs84", "--builtup", "builtup_demonstration",
         "--catalog", str(cat), "--format", "csv", "--out", str(tmp_path / "o")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    t = pd.read_csv(tmp_path / "o" / "firm_zones.csv", encoding="utf-8-sig", dtype=str)
    assert (t.loc[0, "adcode"], t.loc[0, "applicable"]) == ("130503", "false")


def test_a_layer_validated_by_other_code_is_validated_again(monkeypatch):
    """The layer cache's key holds the code's digest: a checkout pulled or a fix installed
    without a new version number validated nothing again (an official layer kept a row the
    new code keeps, or lost one it drops)."""
    from sxzones.layers import cache

    path = DERIVED / "redline_demonstration.gpkg"
    before = cache.layer_key(path, "x")
    monkeypatch.setattr(cache, "_code_digest", lambda: "other code")
    assert cache.layer_key(path, "x") != before


def test_red_lines_in_a_file_geodatabase(tmp_path):
    """自然资源 departments deliver red lines in Esri File Geodatabases (a folder): a
    catalogue entry naming one crashed with a traceback (IsADirectoryError); it is read
    through GDAL's OpenFileGDB driver, and its files hashed for the layer cache."""
    red = gpd.read_file(DERIVED / "redline_demonstration.gpkg")
    gdb = tmp_path / "红线.gdb"
    red.to_file(gdb, driver="OpenFileGDB", layer="STBHHX")
    extra = _entry("redline_official", gdb, "redline", "official").replace(
        'role = "redline"\n', 'role = "redline"\nlayer = "STBHHX"\n'
    )
    frame, rep = load_catalog(_catalog(tmp_path, extra)).load_whole("redline_official")
    assert len(frame) == 12 and rep.n_rejected == 0
    assert sorted(frame["redline_id"]) == sorted(red["redline_id"])


def test_a_where_naming_a_field_the_file_lacks_is_a_clear_error(tmp_path):
    """The Taiyuan region's `where = "adcode IN (…)"` kept when the admin entry points at
    an official file whose field is 行政区划代码: a traceback (no such column) before."""
    admin = gpd.read_file(DERIVED / "admin.gpkg").rename(columns={"adcode": "行政区划代码"})
    path = tmp_path / "admin_zh.gpkg"
    admin.to_file(path, driver="GPKG")
    text = CATALOG.read_text(encoding="utf-8")
    start = text.index("[layers.taiyuan_region_demonstration]")
    entry = text[start : text.index("\n\n", start)]
    old_path = entry.split('path = "', 1)[1].split('"', 1)[0]
    cat = (
        _catalog(tmp_path)
        .read_text(encoding="utf-8")
        .replace(
            entry.replace(old_path, f"{(ROOT / 'layers').as_posix()}/{old_path}"),
            entry.replace(old_path, path.as_posix()),
        )
    )
    (tmp_path / "catalog.toml").write_text(cat, encoding="utf-8")
    res = CliRunner().invoke(
        cli,
        ["check", "--project", IN_RL, "--crs", "cgcs2000", "--industry", "coking",
         "--catalog", str(tmp_path / "catalog.toml"), "--out", str(tmp_path / "o")],
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert (
        "cannot be applied to it (no such column: adcode); its fields: 行政区划代码" in res.output
    )


def test_admission_columns_cut_to_a_shapefiles_ten_bytes_are_read(tmp_path):
    """A shapefile's field names hold 10 bytes: 空间布局约束 arrives as 空间布局约 (GBK), and the
    unit's admission list was left unread, printed empty in the report."""
    from sxzones.layers import read_file, validate_layer

    cu = gpd.read_file(DERIVED / "control_units_demonstration.gpkg").head(3)
    cut = cu.rename(
        columns={"unit_code": "单元编码", "unit_name": "单元名称", "unit_type": "单元类型",
                 "admission_spatial": "空间布局约", "admission_emission": "污染物排放",
                 "admission_risk": "环境风险防", "admission_resource": "资源利用效"}
    )  # fmt: skip
    path = tmp_path / "cu.shp"
    cut.to_file(path, encoding="GBK")
    frame, _ = validate_layer(read_file(path), "control_units", working_crs=4546)
    for c in ("admission_spatial", "admission_emission", "admission_risk", "admission_resource"):
        assert frame[c].tolist() == cu[c].tolist(), c


def test_usual_level_and_kind_words_of_official_layers(tmp_path):
    """An admin layer whose districts are 市辖区 (the usual word) had those rows rejected, and
    a built-up area typed 中心城区建成区 was left out: both are read."""
    from sxzones.layers import read_file, validate_layer

    admin = gpd.read_file(DERIVED / "admin.gpkg").head(20)
    admin["级别"] = admin["level"].map({"province": "省", "city": "地级市", "county": "市辖区"})
    path = tmp_path / "admin.gpkg"
    admin.drop(columns="level").to_file(path, driver="GPKG")
    frame, rep = validate_layer(read_file(path), "admin", working_crs=4546)
    assert rep.n_rejected == 0 and frame["level"].tolist() == admin["level"].tolist()
    bu = gpd.read_file(DERIVED / "builtup_demonstration.gpkg").head(2)
    bu["类型"] = ["中心城区建成区", "县城建成区"]
    path = tmp_path / "bu.gpkg"
    bu.drop(columns="kind").to_file(path, driver="GPKG")
    frame, rep = validate_layer(read_file(path), "builtup", working_crs=4546)
    assert rep.n_rejected == 0 and frame["kind"].tolist() == ["city", "county_town"]


def test_a_catalogue_mapping_to_a_word_that_is_no_value_is_refused(tmp_path):
    """values = { unit_type = { "…（工业园区）" = "key" } }: 'key' is not a unit type, and the
    row was rejected with a fix telling to map 'key' (in the file, which has no such value)."""
    cu = gpd.read_file(DERIVED / "control_units_demonstration.gpkg").head(2)
    path = tmp_path / "cu.gpkg"
    cu.to_file(path, driver="GPKG")
    extra = _entry("cu_official", path, "control_units", "official").replace(
        'role = "control_units"\n',
        'role = "control_units"\nvalues = { unit_type = { "重点管控单元（工业园区）" = "key" } }\n',
    )
    with pytest.raises(
        CatalogError, match=r"values.unit_type maps '重点管控单元（工业园区）' to 'key'"
    ):
        load_catalog(_catalog(tmp_path, extra))


def test_check_says_a_judged_layers_datum_caveat(tmp_path):
    """Red lines on the Xi'an 1980 datum: the caveat (the shift to CGCS2000 approximated,
    tens of metres) was said by layers validate only, not by the check that used them."""
    red = gpd.read_file(DERIVED / "redline_demonstration.gpkg").to_crs(2381)  # Xi'an 80 CM 111E
    path = tmp_path / "rl_xian80.gpkg"
    red.to_file(path, driver="GPKG")
    cat = _catalog(tmp_path, _entry("redline_official", path, "redline", "official"))
    res = CliRunner().invoke(
        cli,
        ["check", "--project", IN_RL, "--crs", "cgcs2000", "--industry", "chemical",
         "--catalog", str(cat), "--reports", "none", "--out", str(tmp_path / "o")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "layer redline_official:" in res.output and "tens of metres" in res.output
    import json

    doc = json.loads((tmp_path / "o" / "site_check.json").read_text(encoding="utf-8"))
    assert any("tens of metres" in c for c in doc["layers"]["redline"]["caveats"])
