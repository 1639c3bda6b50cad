"""The catalogue: parsing, errors, and the bundled Shanxi catalogue as a whole."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from sxzones.cli import cli
from sxzones.errors import CatalogError
from sxzones.layers import load, load_catalog

from .conftest import CATALOG

PROV = 'provenance = { source = "s", licence = "l", version = "1", status = "public" }'


def _cat(tmp_path, body: str):
    p = tmp_path / "catalog.toml"
    p.write_text(body, encoding="utf-8")
    return p


def test_unknown_keys_and_missing_provenance_are_named(tmp_path):
    p = _cat(
        tmp_path,
        f'[layers.a]\npath = "a.gpkg"\nrole = "builtup"\ncolour = "red"\n{PROV}\n'
        '[layers.b]\npath = "b.gpkg"\nrole = "builtup"\n',
    )
    with pytest.raises(CatalogError) as exc:
        load_catalog(p)
    msg = str(exc.value)
    assert "[layers.a]: unknown key(s) ['colour']" in msg
    assert "[layers.b]: missing key 'provenance'" in msg


def test_unknown_role_and_demonstration_name_rule(tmp_path):
    p = _cat(
        tmp_path,
        f'[layers.a]\npath = "a.gpkg"\nrole = "farms"\n{PROV}\n'
        '[layers.b]\npath = "b.gpkg"\nrole = "redline"\nprovenance = { source = '
        '"s", licence = "l", version = "1", status = "demonstration" }\n',
    )
    with pytest.raises(CatalogError) as exc:
        load_catalog(p)
    assert "unknown role 'farms'" in str(exc.value)
    assert "a demonstration layer says so in its name" in str(exc.value)


def test_missing_layer_name_lists_layers():
    cat = load_catalog(CATALOG)
    with pytest.raises(CatalogError, match="no layer named 'nope'. Layers: admin, "):
        load("nope", catalog=cat)


def test_missing_file_says_how_to_build(tmp_path):
    p = _cat(tmp_path, f'[layers.a]\npath = "a.gpkg"\nrole = "builtup"\n{PROV}\n')
    with pytest.raises(CatalogError, match="does not exist.*make layers"):
        load("a", catalog=p)


def test_bundled_catalogue_loads_in_working_crs_with_provenance():
    cat = load_catalog(CATALOG)
    assert cat.working.crs.to_epsg() == 4546
    bu = load("builtup_demonstration", catalog=cat)
    assert bu.crs.to_epsg() == 4546
    assert bu.attrs["sxzones"]["provenance"]["status"] == "demonstration"
    admin = load("admin", catalog=cat)
    assert admin.attrs["sxzones"]["provenance"]["licence"] == "MIT"


def test_whole_bundled_catalogue_validates_without_rejections():
    res = CliRunner().invoke(cli, ["layers", "validate", "--catalog", str(CATALOG)])
    assert res.exit_code == 0, res.output
    assert "13 layer(s) valid, 0 refused, 0 row(s) rejected." in res.output
    assert "firms (firms): 208 read, 208 loaded, 0 rejected; EPSG:4490 -> EPSG:4546" in res.output


def test_taiyuan_region_is_a_where_line_of_the_catalogue():
    cat = load_catalog(CATALOG)
    entry = cat.entry("taiyuan_region_demonstration")
    assert entry.where is not None and entry.where.startswith("adcode IN (")
    zone = load("taiyuan_region_demonstration", catalog=cat)
    assert len(zone) == 31
    assert "140100" in set(zone["zone_id"])
    assert set(zone["zone"]) == {"taiyuan_region"}
