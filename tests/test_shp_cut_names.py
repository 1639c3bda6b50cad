"""Shapefile field names cut to a .dbf's 10 bytes (audit 11, E13 and E14).

A dBase field name holds at most 10 bytes, so every GIS cuts longer names when it saves a
shapefile: in GBK 统一社会信用代码 becomes 统一社会信 (5 characters), 项目建设性质 becomes
项目建设性; in UTF-8 (QGIS, geopandas) a 4-character name is 12 bytes and GDAL keeps 3
characters and the first byte of the fourth (地块编 + 0xE5), which no reader decodes.

* E14: the cut forms of the usual names are read as their fields (the credit code as the
  firm id, so a repeated code is rejected as a duplicate and phase-out units find their
  firm; 项目建设性 as the project kind, so a 产能置换 coking project in the Taiyuan region is
  ``conditional``, as the same rows in a CSV), said in a note;
* E13: a UTF-8 shapefile with names cut inside a character is read (the cut character
  dropped, said), its text whole; a cut that could be two fields is refused, naming both and
  the ``--field`` fix.

The shapefiles are written here by GDAL (pyogrio) with the encoding set, so the names are cut
as GDAL cuts them; the stored header bytes are asserted, the answers known.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from sxzones.cli import cli
from sxzones.layers import read_file
from sxzones.layers.readers import _dbf_names
from sxzones.layers.schemas import ROLES
from sxzones.layers.validate import cut_headers, usual_fields

#: Three firms; 甲 and 乙 share one credit code (a duplicate of a permit list).
CODE_A, CODE_B = "91140100MA0A000001", "91140100MA0A000002"


def _write(frame: dict[str, list[object]], geoms: list[object], path: Path, enc: str) -> Path:
    """A shapefile written by GDAL in ``enc`` (names cut as GDAL cuts them), CGCS2000."""
    gdf = gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:4490")
    with warnings.catch_warnings():  # GDAL says each name it cuts ("laundered"), in bytes
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.write_dataframe(gdf, path, encoding=enc)
    return path


def _firms(tmp_path: Path, enc: str) -> Path:
    pts = [shapely.Point(112.60, 37.75), shapely.Point(112.61, 37.75), shapely.Point(112.62, 37.76)]
    cols = {
        "统一社会信用代码": [CODE_A, CODE_A, CODE_B],
        "企业名称": ["甲焦化", "乙焦化", "丙焦化"],
        "行业": ["焦化", "焦化", "焦化"],
    }
    return _write(cols, pts, tmp_path / f"企业_{enc}.shp", enc)


def _builtup(tmp_path: Path) -> Path:
    """One built-up area 5 km west of the firms (112.50-112.55 E, 37.73-37.78 N)."""
    path = tmp_path / "bu.gpkg"
    box = shapely.box(112.50, 37.73, 112.55, 37.78)
    gdf = gpd.GeoDataFrame({"name": ["某城区"], "kind": ["city"]}, geometry=[box], crs=4490)
    pyogrio.write_dataframe(gdf, path)
    return path


def _projects(tmp_path: Path, enc: str) -> Path:
    """The auditor's two coking projects in the Taiyuan region: Q1 产能置换, Q2 新建."""
    cols = {
        "项目编号": ["Q1", "Q2"],
        "项目名称": ["焦化置换", "焦化新建"],
        "所属行业": ["焦化", "焦化"],
        "项目建设性质": ["产能置换", "新建"],
    }
    pts = [shapely.Point(112.30, 37.56), shapely.Point(112.31, 37.56)]
    return _write(cols, pts, tmp_path / f"项目_{enc}.shp", enc)


def _cli(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.output


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)


# ---- the header bytes GDAL writes ----------------------------------------------------------


def test_gdal_cuts_the_names_as_the_audit_says(tmp_path: Path) -> None:
    gbk = _dbf_names(_firms(tmp_path, "GBK").with_suffix(".dbf"))
    assert [n.decode("gbk") for n in gbk] == ["统一社会信", "企业名称", "行业"]
    utf8 = _dbf_names(_firms(tmp_path, "UTF-8").with_suffix(".dbf"))
    assert utf8[0] == "统一社会信用代码".encode()[:10] and utf8[0][-1:] == b"\xe4"
    assert utf8[1] == "企业名称".encode()[:10]


def test_cut_forms_of_the_usual_names() -> None:
    firms = ROLES["firms"]
    assert usual_fields(["统一社会信", "企业名称", "行业"], firms) == {
        "firm_id": "统一社会信",
        "name": "企业名称",
        "industry": "行业",
    }
    assert usual_fields(["统一社", "企业名", "行业"], firms)["firm_id"] == "统一社"
    assert usual_fields(["项目建设性"], ROLES["projects"]) == {"kind": "项目建设性"}
    assert usual_fields(["industry_c"], firms) == {"industry_code": "industry_c"}
    # 行业类 is 行业类别 or 行业类别代码 cut in UTF-8: not read (refused by validation)
    assert cut_headers(["行业类"], firms)["行业类"] == {
        "industry": "行业类别",
        "industry_code": "行业类别代码",
    }
    assert "industry" not in usual_fields(["行业类"], firms)
    assert usual_fields(["行业类"], firms, taken={"industry"}) == {"industry_code": "行业类"}


# ---- E14: GBK ------------------------------------------------------------------------------


def test_gbk_cut_credit_code_is_the_firm_id_and_a_repeat_is_rejected(tmp_path: Path) -> None:
    out = tmp_path / "o"
    firms, bu = _firms(tmp_path, "GBK"), _builtup(tmp_path)
    code, output = _cli("firms", "--firms", str(firms), "--builtup", str(bu), "--out", str(out))
    assert code == 0, output
    assert "字段 统一社会信 读作 统一社会信用代码（shapefile 字段名限 10 字节）" in output
    assert "field 统一社会信 read as firm_id" in output
    assert "firm_id: the feature number" not in output
    firms = _csv(out / "firm_zones.csv")
    assert firms["firm_id"].tolist() == [CODE_A, CODE_B]  # 乙 shares 甲's code
    assert firms["name"].tolist() == ["甲焦化", "丙焦化"]
    rejects = _csv(out / "rejects.csv")
    assert rejects[["source_row", "id"]].values.tolist() == [["2", CODE_A]]
    assert "duplicate" in rejects["reason"].iloc[0]


def test_gbk_phaseout_units_find_their_firm(tmp_path: Path) -> None:
    equipment = tmp_path / "equip.csv"
    equipment.write_text(
        "设备编号,统一社会信用代码,设备类型,炭化室高度（米）,产能（万吨/年）,状态\n"
        f"K1,{CODE_A},焦炉,4.3,60,在产\nK2,{CODE_B},焦炉,6.0,100,在产\n",
        "utf-8",
    )
    firms = _firms(tmp_path, "GBK")
    out = tmp_path / "po"
    code, output = _cli(
        "phaseout", "--equipment", str(equipment), "--firms", str(firms),
        "--builtup", str(_builtup(tmp_path)), "--out", str(out),
    )  # fmt: skip
    assert code == 0, output
    units = _csv(out / "phaseout.csv").set_index("unit_id")
    assert units["firm_found"].to_dict() == {"K1": "yes", "K2": "yes"}
    assert units.loc["K1", "finding"] == "phase_out"
    assert units["firm_zone"].to_dict() == {"K1": "within_20km", "K2": "within_20km"}
    assert units["firm_name"].to_dict() == {"K1": "甲焦化", "K2": "丙焦化"}


def test_gbk_cut_kind_makes_the_capacity_swap_conditional(tmp_path: Path) -> None:
    """Q1 (焦化, 产能置换, Taiyuan region) read as new was ``conflict`` (clause 五)."""
    shp = _projects(tmp_path, "GBK")
    assert _dbf_names(shp.with_suffix(".dbf"))[3].decode("gbk") == "项目建设性"
    code, output = _cli(
        "check", "--projects", str(shp), "--reports", "none", "--out", str(tmp_path / "o")
    )
    assert code == 0, output
    assert "字段 项目建设性 读作 项目建设性质" in output
    assert "no project kind given" not in output
    verdicts = _csv(tmp_path / "o" / "site_check.csv").set_index("project_id")["verdict"]
    assert verdicts.to_dict() == {"Q1": "conditional", "Q2": "conflict"}
    # the same rows as a CSV, the column in full: the same answer
    csv = tmp_path / "p.csv"
    csv.write_text(
        "项目编号,项目名称,所属行业,项目建设性质,WKT\n"
        "Q1,焦化置换,焦化,产能置换,POINT (112.3 37.56)\nQ2,焦化新建,焦化,新建,POINT (112.31 37.56)\n",
        "utf-8",
    )
    code, output = _cli(
        "check", "--projects", str(csv), "--crs", "cgcs2000", "--reports", "none",
        "--out", str(tmp_path / "c"),
    )  # fmt: skip
    assert code == 0, output
    same = _csv(tmp_path / "c" / "site_check.csv").set_index("project_id")["verdict"]
    assert same.to_dict() == verdicts.to_dict()


# ---- E13: UTF-8, names cut inside a character ----------------------------------------------


@pytest.mark.parametrize("cpg", [True, False])
def test_utf8_cut_names_are_read_without_the_cut_character(tmp_path: Path, cpg: bool) -> None:
    """With its .cpg, and without (the text is sniffed: the cut names no longer make it
    GB18030)."""
    shp = _firms(tmp_path, "UTF-8")
    if not cpg:
        shp.with_suffix(".cpg").unlink()
    raw = read_file(shp)
    assert ("attributes read as UTF-8 (no .cpg)" in raw.notes) is not cpg
    assert [c for c in raw.frame.columns if c not in ("geometry", "source_row")] == [
        "统一社",
        "企业名",
        "行业",
    ]
    assert raw.frame["企业名"].tolist() == ["甲焦化", "乙焦化", "丙焦化"]
    assert raw.frame["统一社"].tolist() == [CODE_A, CODE_A, CODE_B]
    note = next(n for n in raw.notes if n.startswith("field names cut inside a character"))
    assert "统一社\\xe4 as 统一社" in note and "企业名\\xe7 as 企业名" in note


def test_utf8_firms_are_screened_by_their_credit_code(tmp_path: Path) -> None:
    out = tmp_path / "o"
    firms, bu = _firms(tmp_path, "UTF-8"), _builtup(tmp_path)
    code, output = _cli("firms", "--firms", str(firms), "--builtup", str(bu), "--out", str(out))
    assert code == 0, output
    assert "字段 统一社 读作 统一社会信用代码" in output
    firms = _csv(out / "firm_zones.csv")
    assert firms["firm_id"].tolist() == [CODE_A, CODE_B]
    assert firms["name"].tolist() == ["甲焦化", "丙焦化"]
    assert _csv(out / "rejects.csv")["id"].tolist() == [CODE_A]


@pytest.mark.parametrize("encoding", [None, "UTF-8", "GB18030"])
def test_utf8_candidates_are_read_by_sites(tmp_path: Path, encoding: str | None) -> None:
    """No option read the file: --encoding GB18030 said "drop --encoding", which said "pass
    --encoding GB18030". Without it (or with UTF-8) it is read; GB18030 is refused, with the
    fix that now reads it."""
    box = shapely.box(112.600, 38.400, 112.612, 38.409)
    cols = {
        "地块编号": ["C1", "C2"],
        "地块类型": ["废弃矿山", "已封场垃圾填埋场"],
        "权属单位": ["某某煤矿", "某某环卫"],
    }
    shp = _write(
        cols, [box, shapely.box(112.62, 38.40, 112.632, 38.409)], tmp_path / "c.shp", "UTF-8"
    )
    out = tmp_path / "o"
    args = ["sites", "--candidates", str(shp), "--tech", "pv", "--no-rule-exclusions"]
    code, output = _cli(*args, *(["--encoding", encoding] if encoding else []), "--out", str(out))
    if encoding == "GB18030":
        assert code == 2 and "Traceback" not in output
        assert "the attribute text is UTF-8, not GB18030" in output and "drop --encoding" in output
        return
    assert code == 0, output
    assert "字段 地块编 读作 地块编号" in output and "字段 地块类 读作 地块类型" in output
    sites = _csv(out / "eligible_sites.csv").set_index("site_id")
    assert sites["kind"].to_dict() == {"C1": "abandoned_mine", "C2": "closed_landfill"}
    assert sites["权属单"].to_dict() == {"C1": "某某煤矿", "C2": "某某环卫"}


def test_utf8_projects_cut_industry_is_refused_naming_both_then_read(tmp_path: Path) -> None:
    """所属行 is 所属行业 or 所属行业代码 cut in UTF-8: refused, naming both and --field; so
    told, the check runs and reads 项目建 as the kind (Q1 conditional)."""
    shp = _projects(tmp_path, "UTF-8")
    base = ["check", "--projects", str(shp), "--reports", "none"]
    code, output = _cli(*base, "--out", str(tmp_path / "a"))
    assert code == 2, output
    assert "Traceback" not in output and not (tmp_path / "a").exists()
    assert "'所属行'" in output and "所属行业 (industry) or 所属行业代码 (industry_code)" in output
    assert "--field industry=所属行 or --field industry_code=所属行" in output
    code, output = _cli(*base, "--field", "industry=所属行", "--out", str(tmp_path / "b"))
    assert code == 0, output
    assert "字段 项目建 读作 项目建设性质" in output
    verdicts = _csv(tmp_path / "b" / "site_check.csv").set_index("project_id")["verdict"]
    assert verdicts.to_dict() == {"Q1": "conditional", "Q2": "conflict"}


def test_layers_validate_reads_a_utf8_cut_shapefile(tmp_path: Path) -> None:
    shp = _firms(tmp_path, "UTF-8")
    code, output = _cli("layers", "validate", str(shp), "--role", "firms")
    assert code == 0, output
    assert "3 read, 2 loaded, 1 rejected" in output
    assert "field names cut inside a character" in output


def test_the_upload_limit_counts_a_utf8_cut_shapefile(tmp_path: Path) -> None:
    """The page's feature limit read the names and let the file through uncounted."""
    from sxzones.serve.uploads import Limits, UploadError, check_limits

    with pytest.raises(UploadError, match="holds 3 features \\(limit 2\\)"):
        check_limits(_firms(tmp_path, "UTF-8"), Limits(max_features=2))


def test_a_mapping_by_the_whole_name_finds_the_cut_field(tmp_path: Path) -> None:
    """``--field firm_id=统一社会信用代码`` (or a catalogue's fields) over a GBK .dbf that holds
    统一社会信: the mapping is read from that column, said; it was refused as missing."""
    out = tmp_path / "o"
    firms, bu = _firms(tmp_path, "GBK"), _builtup(tmp_path)
    code, output = _cli(
        "firms", "--firms", str(firms), "--builtup", str(bu), "--out", str(out),
        "--field", "firm_id=统一社会信用代码", "--field", "name=企业名称",
    )  # fmt: skip
    assert code == 0, output
    assert "字段 统一社会信 读作 统一社会信用代码（shapefile 字段名限 10 字节）" in output
    assert "字段 企业名称 读作" not in output  # whole: nothing to say
    assert _csv(out / "firm_zones.csv")["firm_id"].tolist() == [CODE_A, CODE_B]


def test_an_id_column_under_a_name_not_known_is_named_in_the_note(tmp_path: Path) -> None:
    """ "the file has no id field" was said of a file holding the credit codes under another
    name (信用代码号): the note names that column and the --field that reads it."""
    p = tmp_path / "f.csv"
    p.write_text(
        f"信用代码号,企业名称,行业,经度,纬度\n{CODE_A},甲焦化,焦化,112.60,37.75\n"
        f"{CODE_B},乙焦化,焦化,112.61,37.75\n",
        "utf-8",
    )
    bu, out = _builtup(tmp_path), tmp_path / "o"
    base = ["firms", "--firms", str(p), "--builtup", str(bu), "--crs", "cgcs2000"]
    code, output = _cli(*base, "--out", str(out))
    assert code == 0, output
    assert (
        "firm_id: the row number (the file has no id field it reads; column 信用代码号 holds "
        "统一社会信用代码: --field firm_id=信用代码号 reads them as the id)"
    ) in output
    assert _csv(out / "firm_zones.csv")["firm_id"].tolist() == ["2", "3"]  # rows as shown
    code, output = _cli(*base, "--field", "firm_id=信用代码号", "--out", str(tmp_path / "m"))
    assert code == 0, output
    assert _csv(tmp_path / "m" / "firm_zones.csv")["firm_id"].tolist() == [CODE_A, CODE_B]


def test_two_mapped_names_cut_alike_are_not_read_from_one_column(tmp_path: Path) -> None:
    """环境管控单元编码 and 环境管控单元名称 are both 环境管控单 in a GBK .dbf (GDAL names the second
    环境管控_1): a mapping naming them in full reads neither from that column."""
    from sxzones.layers.validate import _cut_sources

    cols = ["环境管控单", "环境管控_1"]
    both = {"unit_code": "环境管控单元编码", "unit_name": "环境管控单元名称"}
    units, firms = ROLES["control_units"], ROLES["firms"]
    assert _cut_sources(cols, both, units) == both  # refused as missing, naming the mapping
    # nor one: 环境管控单 may be the 名称 (the role's usual names cut alike)
    one = {"unit_code": "环境管控单元编码"}
    assert _cut_sources(cols, one, units) == one
    code = {"firm_id": "统一社会信用代码"}
    assert _cut_sources(["统一社会信", "行业"], code, firms) == {"firm_id": "统一社会信"}


def test_a_whole_word_that_is_also_a_cut_is_not_refused_outside_a_shapefile(
    tmp_path: Path,
) -> None:
    """建成区 is 建成区名称 or 建成区类型 cut in UTF-8, and a whole word in a CSV: a CSV is read
    (the column not taken for either); the same column in a shapefile is refused."""
    from sxzones.errors import LayerError
    from sxzones.layers import validate_layer

    box = "POLYGON ((112.5 37.7, 112.55 37.7, 112.55 37.75, 112.5 37.75, 112.5 37.7))"
    csv = tmp_path / "bu.csv"
    csv.write_text(f'建成区,WKT\n某城区,"{box}"\n', "utf-8")
    frame, report = validate_layer(read_file(csv, crs="cgcs2000"), "builtup", working_crs=4546)
    assert len(frame) == 1 and "read as name" not in report.summary()
    assert frame["建成区"].tolist() == ["某城区"]
    shp = _write({"建成区名称": ["某城区"]}, [shapely.from_wkt(box)], tmp_path / "bu.shp", "UTF-8")
    raw = read_file(shp)
    assert list(raw.frame.columns)[1] == "建成区" and raw.dbf
    with pytest.raises(LayerError, match="建成区名称 \\(name\\) or 建成区类型 \\(kind\\)"):
        validate_layer(raw, "builtup", working_crs=4546)
