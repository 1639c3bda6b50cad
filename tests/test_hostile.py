"""A corpus of hostile inputs, written by the tests, run through the real command line.

Every case writes its own files into a fresh folder (randomness from a fixed seed), runs one
``sxzones`` command (in this process with click's runner, or as a real subprocess for a few
cases) from that folder, and asserts the documented behaviour:

``refused``
    The input cannot be used as a whole (README, "Data validation policy": unreadable, no
    features, fields missing, coordinates that do not fit the declared CRS; a bad option or
    recipe value; an output that cannot be written). Exit status 2; one message on stderr
    that names the file (and the row and field where one is at fault); no traceback; and no
    output at all: not a file is added to the folder the command ran in.
``rejected``
    Only some rows are bad (NULL/empty geometry, non-finite coordinates, wrong geometry
    type, missing or disallowed value, duplicate id). Exit status 0; each bad row is in
    ``rejects.csv`` with its row, field, code and reason, and nothing else is.
``repaired``
    An invalid geometry (bow-tie, hole outside its shell) is repaired with
    ``shapely.make_valid`` and reported with its row. Exit status 0.
``ok``
    Hostile-looking but valid (3-D coordinates: the height is not used by a 2-D zoning
    analysis; MultiPoint projects; a siting map with nothing excluded). Exit status 0 and the
    outputs named by the case exist.

Rows are numbered as users see them: a table's header is row 1, so its first data row is
row 2; features of vector files count from 1; 界址点 files by line.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from sxzones.cli import cli

from .conftest import CATALOG, JZD_TWO_PARCELS

SEED = 20231

# --- inputs --------------------------------------------------------------------------------

FIRMS_CSV = (
    "firm_id,name,industry,lon,lat\n"
    "F1,甲钢铁厂,steel,112.55,37.87\n"
    "F2,乙焦化厂,coking,112.30,37.56\n"
    "F3,丙水泥厂,cement,111.52,36.08\n"
)
PROJECTS_CSV = "project_id,name,industry,kind,lon,lat\nD1,示例,pv,new,113.05,36.20\n"


def _rng(tag: str) -> random.Random:
    return random.Random(f"{SEED}-{tag}")


def _random_bytes(tag: str, n: int = 4096) -> bytes:
    return _rng(tag).randbytes(n)


def _square(x: float, y: float, d: float = 0.01) -> list[list[float]]:
    return [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]


def _bowtie(x: float, y: float, d: float = 0.01) -> list[list[float]]:
    return [[x, y], [x + d, y + d], [x + d, y], [x, y + d], [x, y]]


def _feature(props: dict[str, object], geometry: dict[str, object] | None) -> dict[str, object]:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _geojson(path: Path, features: list[dict[str, object]]) -> Path:
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
        encoding="utf-8",
    )
    return path


def _polygon(rings: list[list[list[float]]]) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": rings}


def _point(x: float, y: float, *z: float) -> dict[str, object]:
    return {"type": "Point", "coordinates": [x, y, *z]}


def _candidates(path: Path, geoms: list[dict[str, object]], kinds: list[str] | None = None) -> Path:
    kinds = kinds or ["subsidence"] * len(geoms)
    feats = [
        _feature({"site_id": f"S{i + 1}", "kind": k}, g)
        for i, (g, k) in enumerate(zip(geoms, kinds, strict=True))
    ]
    return _geojson(path, feats)


def _projects(path: Path, geoms: list[dict[str, object]]) -> Path:
    feats = [
        _feature({"project_id": f"P{i + 1}", "industry": "pv", "kind": "new"}, g)
        for i, g in enumerate(geoms)
    ]
    return _geojson(path, feats)


def _firms_frame(geoms: list[shapely.Geometry], crs: object = 4326) -> gpd.GeoDataFrame:
    n = len(geoms)
    return gpd.GeoDataFrame(
        {
            "firm_id": [f"F{i + 1}" for i in range(n)],
            "name": [f"企业{i + 1}" for i in range(n)],
            "industry": ["steel"] * n,
        },
        geometry=geoms,
        crs=crs,
    )


def _good_points(n: int = 3) -> list[shapely.Geometry]:
    return [shapely.Point(112.55 - 0.2 * i, 37.87 - 0.1 * i) for i in range(n)]


def _nan_triangle() -> shapely.Geometry:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # shapely says so; that is the point
        return shapely.Polygon([(112.6, 37.8), (np.nan, 37.8), (112.61, 37.81), (112.6, 37.8)])


def _shapefile(path: Path, frame: gpd.GeoDataFrame, encoding: str = "UTF-8") -> Path:
    frame.to_file(path, driver="ESRI Shapefile", encoding=encoding)
    return path


def _xlsx(path: Path, table: pd.DataFrame) -> Path:
    table.to_excel(path, index=False)
    return path


def _truncate(path: Path, fraction: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def _recipe(path: Path, body: str) -> Path:
    path.write_text(f'catalog = "{CATALOG}"\n{body}', encoding="utf-8")
    return path


FIRMS_RECIPE = """analysis = "firms"
out = "out"
[inputs]
firms = "firms.csv"
builtup = "builtup_demonstration"
[options]
crs = "wgs84"
"""

# --- the cases -----------------------------------------------------------------------------

Build = Callable[[Path], list[str]]


@dataclass(frozen=True)
class Case:
    """One hostile input: how to write it and run it, and what must happen."""

    id: str
    build: Build
    expect: str  # refused | rejected | repaired | ok
    why: str
    says: tuple[str, ...] = ()  # refused/repaired: what the message names (case-insensitive)
    rejects: tuple[tuple[int, str, str], ...] = ()  # rejected: (row, field, code)
    outputs: tuple[str, ...] = ()  # ok: files that must exist (relative to the run folder)
    proc: bool = False  # run as a real subprocess
    check: Callable[[Path], None] | None = None  # ok: further assertions on the outputs
    fsize: int | None = None  # subprocess: largest file it may write (bytes), as a full disk


CASES: list[Case] = []


def case(
    id: str,
    expect: str,
    why: str,
    *,
    says: tuple[str, ...] = (),
    rejects: tuple[tuple[int, str, str], ...] = (),
    outputs: tuple[str, ...] = (),
    proc: bool = False,
    check: Callable[[Path], None] | None = None,
    fsize: int | None = None,
) -> Callable[[Build], Build]:
    def register(build: Build) -> Build:
        CASES.append(Case(id, build, expect, why, says, rejects, outputs, proc, check, fsize))
        return build

    return register


def _validate(path: Path, *extra: str) -> list[str]:
    return ["layers", "validate", str(path.name), "--catalog", str(CATALOG), *extra]


def _firms(path: Path | str, *extra: str, crs: str | None = "wgs84") -> list[str]:
    args = ["firms", "--catalog", str(CATALOG), "--firms", str(path)]
    args += ["--builtup", "builtup_demonstration", "--out", "out", *extra]
    return args + (["--crs", crs] if crs else [])


def _check(*extra: str) -> list[str]:
    return ["check", "--catalog", str(CATALOG), "--industry", "pv", "--out", "out", *extra]


def _sites(path: Path | str, *extra: str) -> list[str]:
    return [
        "sites",
        "--catalog",
        str(CATALOG),
        "--candidates",
        str(path),
        "--tech",
        "pv",
        "--out",
        "out",
        *extra,
    ]


# Empty files (0 bytes) of each format: refused as a whole ("cannot be read").


@case("validate-empty-csv", "refused", "0-byte CSV", says=("f.csv", "empty"))
def _(t: Path) -> list[str]:
    (t / "f.csv").write_bytes(b"")
    return _validate(t / "f.csv", "--role", "firms", "--crs", "wgs84")


@case("validate-empty-xlsx", "refused", "0-byte XLSX", says=("f.xlsx", "empty"))
def _(t: Path) -> list[str]:
    (t / "f.xlsx").write_bytes(b"")
    return _validate(t / "f.xlsx", "--role", "firms", "--crs", "wgs84")


@case("firms-empty-geojson", "refused", "0-byte GeoJSON", says=("f.geojson", "empty"))
def _(t: Path) -> list[str]:
    (t / "f.geojson").write_bytes(b"")
    return _firms(t / "f.geojson", crs=None)


@case(
    "firms-geojson-unknown-crs",
    "refused",
    "a GeoJSON crs member naming no known CRS (GDAL reads it as WGS84 without a word)",
    says=("f.geojson", "EPSG::999999"),
)
def _(t: Path) -> list[str]:
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::999999"}},
        "features": [_feature({"firm_id": "A", "industry": "steel"}, _point(112.5, 37.8))],
    }
    (t / "f.geojson").write_text(json.dumps(doc), encoding="utf-8")
    return _firms(t / "f.geojson", crs=None)


@case("sites-empty-gpkg", "refused", "0-byte GeoPackage", says=("c.gpkg", "empty"))
def _(t: Path) -> list[str]:
    (t / "c.gpkg").write_bytes(b"")
    return _sites(t / "c.gpkg")


@case("validate-empty-shp-set", "refused", "0-byte .shp/.shx/.dbf", says=("s.shp", "empty"))
def _(t: Path) -> list[str]:
    for ext in (".shp", ".shx", ".dbf"):
        (t / f"s{ext}").write_bytes(b"")
    return _validate(t / "s.shp", "--crs", "wgs84")


@case("check-empty-jzd", "refused", "0-byte 界址点 file", says=("p.txt", "empty"))
def _(t: Path) -> list[str]:
    (t / "p.txt").write_bytes(b"")
    return _check("--project", "p.txt")


@case("run-empty-recipe", "refused", "0-byte recipe", says=("r.toml", "out"))
def _(t: Path) -> list[str]:
    (t / "r.toml").write_bytes(b"")
    return ["run", "r.toml"]


@case(
    "validate-geojson-no-features",
    "refused",
    "a FeatureCollection with no features holds nothing to validate",
    says=("f.geojson", "no features"),
)
def _(t: Path) -> list[str]:
    _geojson(t / "f.geojson", [])
    return _validate(t / "f.geojson")


@case(
    "firms-csv-header-only",
    "refused",
    "a CSV with a header and no rows holds no firms",
    says=("f.csv", "no features"),
)
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text(FIRMS_CSV.splitlines()[0] + "\n", encoding="utf-8")
    return _firms(t / "f.csv")


# Random bytes under each format's name: refused as a whole.


@case("validate-blank-lines-csv", "refused", "a CSV of blank lines: no header", says=("f.csv",))
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text("\n\n\n", encoding="utf-8")
    return _validate(t / "f.csv", "--role", "firms", "--crs", "wgs84")


@case("validate-random-csv", "refused", "random bytes named .csv", says=("f.csv",))
def _(t: Path) -> list[str]:
    (t / "f.csv").write_bytes(_random_bytes("csv"))
    return _validate(t / "f.csv", "--role", "firms", "--crs", "wgs84")


@case(
    "validate-random-csv-rejects-not-written",
    "refused",
    "--rejects of a refused file: nothing is written",
    says=("f.csv",),
)
def _(t: Path) -> list[str]:
    (t / "f.csv").write_bytes(_random_bytes("csv2"))
    return _validate(t / "f.csv", "--role", "firms", "--crs", "wgs84", "--rejects", "r.csv")


@case("firms-random-xlsx", "refused", "random bytes named .xlsx", says=("f.xlsx",))
def _(t: Path) -> list[str]:
    (t / "f.xlsx").write_bytes(_random_bytes("xlsx"))
    return _firms(t / "f.xlsx")


@case(
    "firms-random-zip-as-xlsx",
    "refused",
    "a zip archive that is not a workbook, named .xlsx",
    says=("f.xlsx",),
)
def _(t: Path) -> list[str]:
    with zipfile.ZipFile(t / "f.xlsx", "w") as z:
        z.writestr("hello.txt", _random_bytes("zip", 512))
    return _firms(t / "f.xlsx")


@case("validate-random-geojson", "refused", "random bytes named .geojson", says=("f.geojson",))
def _(t: Path) -> list[str]:
    (t / "f.geojson").write_bytes(_random_bytes("geojson"))
    return _validate(t / "f.geojson")


@case("sites-random-gpkg", "refused", "random bytes named .gpkg", says=("c.gpkg",))
def _(t: Path) -> list[str]:
    (t / "c.gpkg").write_bytes(_random_bytes("gpkg"))
    return _sites(t / "c.gpkg")


@case(
    "validate-random-shp-set",
    "refused",
    "random .shp/.shx/.dbf (issue 12: traceback)",
    says=("s.shp",),
    proc=True,
)
def _(t: Path) -> list[str]:
    for ext in (".shp", ".shx", ".dbf"):
        (t / f"s{ext}").write_bytes(_random_bytes(f"shp{ext}"))
    return _validate(t / "s.shp", "--crs", "wgs84")


@case("firms-random-shp-set", "refused", "random shapefile set as firms", says=("s.shp",))
def _(t: Path) -> list[str]:
    for ext in (".shp", ".shx", ".dbf"):
        (t / f"s{ext}").write_bytes(_random_bytes(f"fshp{ext}"))
    return _firms(t / "s.shp")


@case("validate-random-dbf", "refused", "a good .shp/.shx with a random .dbf", says=("s.dbf",))
def _(t: Path) -> list[str]:
    _shapefile(t / "s.shp", _firms_frame(_good_points()))
    (t / "s.dbf").write_bytes(_random_bytes("dbf"))
    return _validate(t / "s.shp", "--role", "firms")


@case("check-random-jzd", "refused", "random bytes named .txt", says=("p.txt",))
def _(t: Path) -> list[str]:
    (t / "p.txt").write_bytes(_random_bytes("txt"))
    return _check("--project", "p.txt")


@case(
    "run-binary-recipe",
    "refused",
    "random bytes as a recipe (issue 12: traceback)",
    says=("r.toml",),
    proc=True,
)
def _(t: Path) -> list[str]:
    (t / "r.toml").write_bytes(_random_bytes("toml"))
    return ["run", "r.toml"]


@case("firms-random-builtup", "refused", "random bytes as the built-up layer", says=("b.gpkg",))
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text(FIRMS_CSV, encoding="utf-8")
    (t / "b.gpkg").write_bytes(_random_bytes("builtup"))
    return [
        "firms",
        "--catalog",
        str(CATALOG),
        "--firms",
        "f.csv",
        "--crs",
        "wgs84",
        "--builtup",
        "b.gpkg",
        "--out",
        "out",
    ]


@case("sites-random-exclude", "refused", "random bytes as an --exclude layer", says=("x.gpkg",))
def _(t: Path) -> list[str]:
    _candidates(t / "c.geojson", [_polygon([_square(112.5, 37.8)])])
    (t / "x.gpkg").write_bytes(_random_bytes("exclude"))
    return _sites(t / "c.geojson", "--exclude", "x.gpkg:200m")


@case("sites-random-dem", "refused", "random bytes as the DEM", says=("dem.tif",))
def _(t: Path) -> list[str]:
    _candidates(t / "c.geojson", [_polygon([_square(112.5, 37.8)])])
    (t / "dem.tif").write_bytes(_random_bytes("dem"))
    return _sites(t / "c.geojson", "--dem", "dem.tif")


@case("sites-empty-resource", "refused", "a 0-byte resource raster", says=("ghi.tif",))
def _(t: Path) -> list[str]:
    _candidates(t / "c.geojson", [_polygon([_square(112.5, 37.8)])])
    (t / "ghi.tif").write_bytes(b"")
    return _sites(t / "c.geojson", "--resource", "ghi.tif:1400")


# Truncated files of each format.


@case(
    "firms-truncated-csv",
    "refused",
    "a CSV cut in its last row: the row is named",
    says=("f.csv", "row 4"),
)
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text(FIRMS_CSV[: FIRMS_CSV.rindex(",") - 3], encoding="utf-8")
    return _firms(t / "f.csv")


@case(
    "validate-ragged-csv-row",
    "refused",
    "an unquoted comma in a name gives row 3 a sixth column: the row is named",
    says=("f.csv", "row 3"),
)
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text(FIRMS_CSV.replace("乙焦化厂", "乙,焦化厂"), encoding="utf-8")
    return _validate(t / "f.csv", "--role", "firms", "--crs", "wgs84")


@case(
    "firms-truncated-xlsx",
    "refused",
    "an XLSX cut in half (a broken zip)",
    says=("f.xlsx",),
    proc=True,
)
def _(t: Path) -> list[str]:
    _xlsx(t / "f.xlsx", pd.read_csv(io.StringIO(FIRMS_CSV)))
    _truncate(t / "f.xlsx")
    return _firms(t / "f.xlsx")


@case("validate-truncated-geojson", "refused", "a GeoJSON cut in half", says=("f.geojson",))
def _(t: Path) -> list[str]:
    _projects(t / "f.geojson", [_polygon([_square(112.5 + i / 10, 37.8)]) for i in range(5)])
    _truncate(t / "f.geojson")
    return _validate(t / "f.geojson", "--role", "projects")


@case("sites-truncated-gpkg", "refused", "a GeoPackage cut in half", says=("c.gpkg",))
def _(t: Path) -> list[str]:
    frame = gpd.GeoDataFrame(
        {"site_id": [f"S{i}" for i in range(50)], "kind": ["subsidence"] * 50},
        geometry=[shapely.box(112 + i / 100, 37.5, 112.005 + i / 100, 37.505) for i in range(50)],
        crs=4326,
    )
    frame.to_file(t / "c.gpkg", driver="GPKG")
    _truncate(t / "c.gpkg")
    return _sites(t / "c.gpkg")


@case(
    "validate-truncated-shp",
    "refused",
    "a .shp cut in half: features past the cut cannot be read (never silently dropped)",
    says=("s.shp",),
)
def _(t: Path) -> list[str]:
    geoms = [shapely.box(112 + i / 100, 37.5, 112.005 + i / 100, 37.505) for i in range(20)]
    _shapefile(t / "s.shp", _firms_frame(geoms))
    _truncate(t / "s.shp")
    return _validate(t / "s.shp", "--role", "firms")


@case(
    "validate-truncated-dbf",
    "refused",
    "a .dbf cut in half: attributes of later rows are missing",
    says=("s.",),
)
def _(t: Path) -> list[str]:
    _shapefile(t / "s.shp", _firms_frame(_good_points(20)))
    _truncate(t / "s.dbf")
    return _validate(t / "s.shp", "--role", "firms")


@case(
    "validate-mismatched-shp-dbf",
    "refused",
    "a .dbf with 5 records beside a .shp with 3 shapes: which attribute belongs to which?",
    says=("s.",),
)
def _(t: Path) -> list[str]:
    _shapefile(t / "s.shp", _firms_frame(_good_points(3)))
    _shapefile(t / "other.shp", _firms_frame(_good_points(5)))
    shutil.copy(t / "other.dbf", t / "s.dbf")
    for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        (t / f"other{ext}").unlink(missing_ok=True)
    return _validate(t / "s.shp", "--role", "firms")


@case(
    "validate-shp-missing-shx",
    "refused",
    "a shapefile without its .shx",
    says=("s.shp", ".shx"),
)
def _(t: Path) -> list[str]:
    _shapefile(t / "s.shp", _firms_frame(_good_points()))
    (t / "s.shx").unlink()
    return _validate(t / "s.shp", "--role", "firms")


@case(
    "check-truncated-jzd",
    "refused",
    "a 界址点 file cut in a point line: the line is named",
    says=("p.txt", "line 24"),
)
def _(t: Path) -> list[str]:
    text = JZD_TWO_PARCELS.rstrip("\n")
    (t / "p.txt").write_bytes(text[: text.rindex(",")].encode("gbk"))
    return _check("--project", "p.txt")


@case(
    "run-truncated-recipe",
    "refused",
    "a recipe cut inside a string",
    says=("r.toml", "TOML"),
)
def _(t: Path) -> list[str]:
    _recipe(t / "r.toml", FIRMS_RECIPE)
    text = (t / "r.toml").read_text(encoding="utf-8")
    (t / "r.toml").write_text(text[: text.index("firms.csv") + 3], encoding="utf-8")
    return ["run", "r.toml"]


# Bad encodings.


@case(
    "firms-gbk-csv-read-as-utf8",
    "refused",
    "a GBK CSV with --encoding utf-8: the encoding given is named",
    says=("f.csv", "utf-8"),
)
def _(t: Path) -> list[str]:
    (t / "f.csv").write_bytes(FIRMS_CSV.encode("gbk"))
    return _firms(t / "f.csv", "--encoding", "utf-8")


@case(
    "firms-utf8-csv-read-as-gbk",
    "refused",
    "a UTF-8 CSV with --encoding gbk: the encoding given is named",
    says=("f.csv", "gbk"),
)
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text(FIRMS_CSV, encoding="utf-8")
    return _firms(t / "f.csv", "--encoding", "gbk")


@case(
    "firms-unknown-encoding",
    "refused",
    "--encoding names no encoding",
    says=("f.csv", "klingon"),
)
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text(FIRMS_CSV, encoding="utf-8")
    return _firms(t / "f.csv", "--encoding", "klingon")


@case(
    "validate-gbk-shp-cpg-says-utf8",
    "repaired",
    "a GBK .dbf whose .cpg says UTF-8: read as GB18030, said (as a .cpg of 1252 beside it)",
    says=("attributes read as GB18030 (the .cpg says UTF-8",),
)
def _(t: Path) -> list[str]:
    _shapefile(t / "s.shp", _firms_frame(_good_points()), encoding="GBK")
    (t / "s.cpg").write_text("UTF-8")
    return _validate(t / "s.shp", "--role", "firms")


@case(
    "check-gbk-jzd-read-as-utf8",
    "refused",
    "a GBK 界址点 file with --encoding utf-8 is not readable as UTF-8",
    says=("p.txt", "utf-8"),
)
def _(t: Path) -> list[str]:
    (t / "p.txt").write_bytes(JZD_TWO_PARCELS.encode("gbk"))
    return ["layers", "validate", "p.txt", "--role", "projects", "--encoding", "utf-8"]


@case(
    "run-gbk-recipe",
    "refused",
    "a recipe saved as GBK (TOML is UTF-8)",
    says=("r.toml", "utf-8"),
)
def _(t: Path) -> list[str]:
    text = f'catalog = "{CATALOG}"\ntitle = "企业筛查"\n{FIRMS_RECIPE}'
    (t / "r.toml").write_bytes(text.encode("gbk"))
    return ["run", "r.toml"]


# Non-finite and implausible coordinates.


@case(
    "firms-nan-coordinate",
    "rejected",
    "a NaN longitude is a row with no coordinates: rejected with its row",
    rejects=((3, "lon/lat", "empty_geometry"),),
)
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text(FIRMS_CSV.replace("112.30", "NaN"), encoding="utf-8")
    return _firms(t / "f.csv")


@case(
    "firms-inf-coordinate",
    "rejected",
    "inf and -inf coordinates are not numbers on the ground: rejected with their rows",
    rejects=((2, "lon/lat", "empty_geometry"), (4, "lon/lat", "empty_geometry")),
)
def _(t: Path) -> list[str]:
    text = FIRMS_CSV.replace("112.55", "inf").replace("36.08", "-inf")
    (t / "f.csv").write_text(text, encoding="utf-8")
    return _firms(t / "f.csv")


@case(
    "firms-xlsx-nan-and-text-coordinates",
    "rejected",
    "an XLSX with NaN and text in coordinate cells: rejected with their spreadsheet rows",
    rejects=((3, "lon/lat", "empty_geometry"), (4, "lon/lat", "empty_geometry")),
)
def _(t: Path) -> list[str]:
    table = pd.read_csv(io.StringIO(FIRMS_CSV), dtype=object)
    table.loc[1, "lon"] = "NaN"
    table.loc[2, "lat"] = "三十六"
    _xlsx(t / "f.xlsx", table)
    return _firms(t / "f.xlsx")


@case(
    "firms-all-nan",
    "refused",
    "no firm has coordinates: nothing passes validation; rejects.csv lists every row with its "
    "reason (audit 11 E18)",
    says=("f.csv", "lon/lat", "all 3 rows were rejected", "out/rejects.csv"),
    rejects=(
        (2, "lon/lat", "empty_geometry"),
        (3, "lon/lat", "empty_geometry"),
        (4, "lon/lat", "empty_geometry"),
    ),
    outputs=("out/rejects.csv", "out/manifest.json"),
)
def _(t: Path) -> list[str]:
    lines = FIRMS_CSV.splitlines()
    body = [",".join([*line.split(",")[:3], "nan", "nan"]) for line in lines[1:]]
    (t / "f.csv").write_text("\n".join([lines[0], *body]) + "\n", encoding="utf-8")
    return _firms(t / "f.csv")


@case(
    "sites-nan-vertex-gpkg",
    "rejected",
    "a candidate polygon with a NaN vertex cannot be measured: rejected, never repaired",
    rejects=((2, "geometry", "not_finite"),),
)
def _(t: Path) -> list[str]:
    geoms = [
        shapely.box(112.5, 37.8, 112.51, 37.81),
        _nan_triangle(),
        shapely.box(112.7, 37.8, 112.71, 37.81),
    ]
    gpd.GeoDataFrame(
        {"site_id": ["S1", "S2", "S3"], "kind": ["subsidence"] * 3}, geometry=geoms, crs=4326
    ).to_file(t / "c.gpkg", driver="GPKG")
    return _sites(t / "c.gpkg")


@case(
    "firms-inf-point-gpkg",
    "rejected",
    "a GeoPackage point at infinity: rejected with its row",
    rejects=((2, "geometry", "not_finite"),),
)
def _(t: Path) -> list[str]:
    geoms = _good_points()
    geoms[1] = shapely.Point(np.inf, 37.8)
    _firms_frame(geoms).to_file(t / "f.gpkg", driver="GPKG")
    return _firms(t / "f.gpkg", crs=None)


@case(
    "firms-degrees-under-cm111",
    "refused",
    "--crs cm111 on lon/lat (issue 12: every firm on the equator, exit 0)",
    says=("f.csv",),
)
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text(FIRMS_CSV, encoding="utf-8")
    return _firms(t / "f.csv", crs="cm111")


@case(
    "validate-prj-4546-holding-degrees",
    "refused",
    "a .prj saying EPSG:4546 over lon/lat (issue 12)",
    says=("s.shp",),
)
def _(t: Path) -> list[str]:
    _shapefile(t / "s.shp", _firms_frame(_good_points(), crs=4546))
    return _validate(t / "s.shp", "--role", "firms")


@case(
    "sites-prj-4546-holding-degrees",
    "refused",
    "candidate polygons in degrees under a .prj saying EPSG:4546",
    says=("c.shp",),
)
def _(t: Path) -> list[str]:
    frame = gpd.GeoDataFrame(
        {"site_id": ["S1", "S2"], "kind": ["subsidence"] * 2},
        geometry=[shapely.box(112.5, 37.8, 112.51, 37.81), shapely.box(112.6, 37.8, 112.61, 37.81)],
        crs=4546,
    )
    _shapefile(t / "c.shp", frame)
    return _sites(t / "c.shp")


@case(
    "check-lonlat-under-cm111",
    "refused",
    "a 'lon,lat' project declared cm111",
    says=("--project",),
)
def _(t: Path) -> list[str]:
    return _check("--project", "112.55,37.87", "--crs", "cm111")


@case(
    "firms-metres-under-wgs84",
    "refused",
    "Gauss-Krüger metres declared as WGS84 lon/lat",
    says=("f.csv",),
)
def _(t: Path) -> list[str]:
    text = "firm_id,name,industry,x,y\nF1,a,steel,512000,4192000\nF2,b,steel,513000,4193000\n"
    (t / "f.csv").write_text(text, encoding="utf-8")
    return _firms(t / "f.csv")


@case(
    "sites-geojson-holding-gk-metres",
    "refused",
    "a GeoJSON (WGS84 by definition) whose coordinates are zone-38 metres",
    says=("c.geojson",),
)
def _(t: Path) -> list[str]:
    ring = [[38512000.0 + dx, 4192000.0 + dy] for dx, dy in [(0, 0), (500, 0), (500, 500), (0, 0)]]
    _candidates(t / "c.geojson", [_polygon([ring]), _polygon([ring])])
    return _sites(t / "c.geojson")


@case(
    "firms-lat-lon-swapped",
    "refused",
    "every firm given as lat,lon in the lon,lat columns",
    says=("f.csv",),
)
def _(t: Path) -> list[str]:
    text = FIRMS_CSV.replace("lon,lat", "lat,lon")
    (t / "f.csv").write_text(text, encoding="utf-8")
    return _firms(t / "f.csv")


@case(
    "firms-distance-inf",
    "refused",
    "--distance inf (issue 12: accepted as 'within_infkm')",
    says=("distance 'inf'",),
    proc=True,
)
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text(FIRMS_CSV, encoding="utf-8")
    return _firms(t / "f.csv", "--distance", "inf")


@case("firms-distance-nan", "refused", "--distance nan", says=("distance 'nan'",))
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text(FIRMS_CSV, encoding="utf-8")
    return _firms(t / "f.csv", "--distance", "nan")


@case("firms-distance-negative", "refused", "--distance -5km", says=("distance '-5km'",))
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text(FIRMS_CSV, encoding="utf-8")
    return _firms(t / "f.csv", "--distance=-5km")


@case(
    "sites-exclude-infinite-setback",
    "refused",
    "an --exclude setback of 1e999 m (infinite)",
    says=("1e999",),
)
def _(t: Path) -> list[str]:
    _candidates(t / "c.geojson", [_polygon([_square(112.5, 37.8)])])
    return _sites(t / "c.geojson", "--exclude", "water:1e999m")


# Geometries: bow-ties, holes outside shells, mixed, 3-D, empty, MultiPoint.


@case(
    "check-bowtie-project",
    "repaired",
    "a bow-tie parcel is repaired with make_valid and reported with its row (README)",
    says=("repaired", "P2"),
)
def _(t: Path) -> list[str]:
    _projects(
        t / "p.geojson", [_polygon([_square(113.05, 36.2)]), _polygon([_bowtie(113.1, 36.2)])]
    )
    return _check("--projects", "p.geojson")


@case(
    "sites-bowtie-candidate",
    "repaired",
    "a bow-tie candidate is repaired and reported with its row (README)",
    says=("repaired", r"re:(rows?|features?) 2\b"),
)
def _(t: Path) -> list[str]:
    _candidates(
        t / "c.geojson", [_polygon([_square(112.5, 37.8)]), _polygon([_bowtie(112.6, 37.8)])]
    )
    return _sites(t / "c.geojson")


@case(
    "validate-hole-outside-shell",
    "repaired",
    "a hole outside its shell is repaired and reported with its row (README)",
    says=("repaired", r"re:(rows?|features?) 2\b"),
)
def _(t: Path) -> list[str]:
    shell, hole = _square(112.5, 37.8), _square(112.7, 37.8)
    _projects(t / "p.geojson", [_polygon([_square(112.4, 37.8)]), _polygon([shell, hole])])
    return _validate(t / "p.geojson", "--role", "projects")


@case(
    "check-wkt-hole-outside-shell",
    "repaired",
    "a WKT parcel whose hole lies outside it: repaired and reported",
    says=("repaired",),
)
def _(t: Path) -> list[str]:
    wkt = (
        "POLYGON ((113.05 36.2, 113.06 36.2, 113.06 36.21, 113.05 36.21, 113.05 36.2), "
        "(113.2 36.2, 113.21 36.2, 113.21 36.21, 113.2 36.2))"
    )
    return _check("--project", wkt, "--crs", "wgs84")


@case(
    "firms-mixed-geometry-types",
    "rejected",
    "points, a line and a collection among firms: the non-point/polygon rows are rejected",
    rejects=((2, "geometry", "wrong_geometry_type"), (4, "geometry", "wrong_geometry_type")),
)
def _(t: Path) -> list[str]:
    line = {"type": "LineString", "coordinates": [[112.3, 37.5], [112.4, 37.6]]}
    coll = {"type": "GeometryCollection", "geometries": [_point(112.3, 37.5)]}
    geoms = [_point(112.55, 37.87), line, _polygon([_square(112.3, 37.56)]), coll]
    feats = [
        _feature({"firm_id": f"F{i + 1}", "name": "x", "industry": "steel"}, g)
        for i, g in enumerate(geoms)
    ]
    _geojson(t / "f.geojson", feats)
    return _firms(t / "f.geojson", crs=None)


@case(
    "sites-mixed-geometry-types",
    "rejected",
    "a point among candidate polygons is rejected with its row",
    rejects=((2, "geometry", "wrong_geometry_type"),),
)
def _(t: Path) -> list[str]:
    _candidates(t / "c.geojson", [_polygon([_square(112.5, 37.8)]), _point(112.6, 37.8)])
    return _sites(t / "c.geojson")


@case(
    "sites-only-points",
    "refused",
    "candidates that are all points: nothing passes validation; rejects.csv lists every "
    "feature with its reason (audit 11 E18)",
    says=("c.geojson", "geometry", "all 2 features were rejected", "out/rejects.csv"),
    rejects=((1, "geometry", "wrong_geometry_type"), (2, "geometry", "wrong_geometry_type")),
    outputs=("out/rejects.csv", "out/manifest.json"),
)
def _(t: Path) -> list[str]:
    _candidates(t / "c.geojson", [_point(112.5, 37.8), _point(112.6, 37.8)])
    return _sites(t / "c.geojson")


@case(
    "firms-3d-points",
    "ok",
    "3-D points: the height plays no part in 2-D zoning; every firm is screened",
    outputs=("out/firm_zones.csv", "out/firm_zones.gpkg"),
)
def _(t: Path) -> list[str]:
    feats = [
        _feature({"firm_id": f"F{i}", "name": "x", "industry": "steel"}, _point(x, y, 800.0))
        for i, (x, y) in enumerate([(112.55, 37.87), (112.30, 37.56)])
    ]
    _geojson(t / "f.geojson", feats)
    return _firms(t / "f.geojson", crs=None)


@case(
    "sites-3d-polygons",
    "ok",
    "3-D candidate polygons: areas are on the ellipsoid, the height is not used",
    outputs=("out/eligible_sites.csv",),
)
def _(t: Path) -> list[str]:
    ring = [[x, y, 900.0] for x, y in _square(112.5, 37.8)]
    _candidates(t / "c.geojson", [_polygon([ring])])
    return _sites(t / "c.geojson")


@case(
    "check-3d-wkt",
    "ok",
    "a POLYGON Z project",
    outputs=("out/site_check.csv",),
)
def _(t: Path) -> list[str]:
    wkt = "POLYGON Z ((113.05 36.2 900, 113.06 36.2 900, 113.06 36.21 900, 113.05 36.2 900))"
    return _check("--project", wkt, "--crs", "wgs84")


@case(
    "check-long-wkt",
    "ok",
    "a WKT parcel longer than a file name may be (it was an OSError from Path.exists)",
    outputs=("out/site_check.csv",),
)
def _(t: Path) -> list[str]:
    ring = [
        (113.05 + 0.01 * math.cos(k / 80 * math.tau), 36.2 - 0.01 * math.sin(k / 80 * math.tau))
        for k in range(80)
    ]
    wkt = "POLYGON ((" + ", ".join(f"{x:.9f} {y:.9f}" for x, y in [*ring, ring[0]]) + "))"
    assert len(wkt) > 2_000  # past the 255-byte name limit of the file system
    return _check("--project", wkt, "--crs", "wgs84")


@case(
    "check-point-empty",
    "refused",
    "--project 'POINT EMPTY' (issue 12: traceback): nothing to check",
    says=("--project", "empty"),
    proc=True,
)
def _(t: Path) -> list[str]:
    return _check("--project", "POINT EMPTY", "--crs", "wgs84")


@case(
    "check-polygon-empty",
    "refused",
    "--project 'POLYGON EMPTY': nothing to check",
    says=("--project", "empty"),
)
def _(t: Path) -> list[str]:
    return _check("--project", "POLYGON EMPTY", "--crs", "wgs84")


@case(
    "firms-empty-point-row",
    "rejected",
    "a GeoPackage firm at POINT EMPTY beside good ones: rejected with its row",
    rejects=((2, "geometry", "empty_geometry"),),
)
def _(t: Path) -> list[str]:
    geoms = _good_points()
    geoms[1] = shapely.Point()
    _firms_frame(geoms).to_file(t / "f.gpkg", driver="GPKG")
    return _firms(t / "f.gpkg", crs=None)


@case(
    "check-null-geometry-row",
    "rejected",
    "a project without geometry beside a good one: rejected with its row",
    rejects=((2, "geometry", "empty_geometry"),),
)
def _(t: Path) -> list[str]:
    _projects(t / "p.geojson", [_polygon([_square(113.05, 36.2)]), None])
    return _check("--projects", "p.geojson")


@case(
    "check-multipoint-wkt",
    "ok",
    "a MultiPoint project (issue 12: traceback in the report map)",
    outputs=("out/site_check.csv", "out/report-P1.html"),
)
def _(t: Path) -> list[str]:
    return _check("--project", "MULTIPOINT ((113.05 36.2), (113.06 36.21))", "--crs", "wgs84")


@case(
    "check-multipoint-file",
    "ok",
    "MultiPoint projects in a file, with the interactive map",
    outputs=("out/site_check.csv", "out/report-P1.html", "m.html"),
)
def _(t: Path) -> list[str]:
    mp = {"type": "MultiPoint", "coordinates": [[113.05, 36.2], [113.06, 36.21]]}
    _projects(t / "p.geojson", [mp, _point(112.3, 37.56)])
    return _check("--projects", "p.geojson", "--map", "m.html")


@case(
    "sites-map-nothing-excluded",
    "ok",
    "a siting map where nothing was excluded (issue 12: folium AssertionError)",
    outputs=("out/eligible_sites.csv", "m.html"),
)
def _(t: Path) -> list[str]:
    _candidates(t / "c.geojson", [_polygon([_square(113.05, 36.2)])])
    return _sites(t / "c.geojson", "--no-rule-exclusions", "--map", "m.html")


# Values: missing fields, blanks, bad choices, duplicates.


@case(
    "firms-missing-industry-column",
    "refused",
    "no industry column: a required field is missing",
    says=("f.csv", "industry"),
)
def _(t: Path) -> list[str]:
    text = "\n".join(
        ",".join(c for i, c in enumerate(r.split(",")) if i != 2) for r in FIRMS_CSV.splitlines()
    )
    (t / "f.csv").write_text(text + "\n", encoding="utf-8")
    return _firms(t / "f.csv")


@case(
    "firms-id-field-absent",
    "refused",
    "--id names a column the file does not have",
    says=("f.csv", "统一社会信用代码"),
)
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text(FIRMS_CSV, encoding="utf-8")
    return _firms(t / "f.csv", "--id", "统一社会信用代码")


@case(
    "firms-blank-id-and-duplicate",
    "rejected",
    "a blank id and a duplicate id: both rejected with row and field",
    rejects=((3, "firm_id", "missing_value"), (4, "firm_id", "duplicate_id")),
)
def _(t: Path) -> list[str]:
    text = FIRMS_CSV.replace("F2,", ",").replace("F3,", "F1,")
    (t / "f.csv").write_text(text, encoding="utf-8")
    return _firms(t / "f.csv")


@case(
    "sites-bad-kind",
    "rejected",
    "a candidate of an unknown kind is rejected with its row and field",
    rejects=((2, "kind", "bad_value"),),
)
def _(t: Path) -> list[str]:
    geoms = [_polygon([_square(112.5, 37.8)]), _polygon([_square(112.6, 37.8)])]
    _candidates(t / "c.geojson", geoms, ["subsidence", "volcano"])
    return _sites(t / "c.geojson")


@case(
    "check-projects-without-industry",
    "refused",
    "projects with no industry field and no --industry",
    says=("p.csv", "industry"),
)
def _(t: Path) -> list[str]:
    (t / "p.csv").write_text("project_id,lon,lat\nA,113.05,36.2\n", encoding="utf-8")
    return [
        "check",
        "--catalog",
        str(CATALOG),
        "--projects",
        "p.csv",
        "--crs",
        "wgs84",
        "--out",
        "out",
    ]


@case(
    "validate-all-null-geometries",
    "refused",
    "a GeoJSON whose features all lack geometry",
    says=("f.geojson", "geometry"),
)
def _(t: Path) -> list[str]:
    _projects(t / "f.geojson", [None, None])
    return _validate(t / "f.geojson", "--role", "projects")


@case(
    "sites-bad-resource-spec",
    "refused",
    "--resource without a number",
    says=("--resource", "ghi.tif:abc"),
)
def _(t: Path) -> list[str]:
    _candidates(t / "c.geojson", [_polygon([_square(112.5, 37.8)])])
    return _sites(t / "c.geojson", "--resource", "ghi.tif:abc")


@case(
    "validate-duplicate-columns",
    "refused",
    "a CSV with two columns named lon: which one holds the longitude?",
    says=("f.csv", "lon"),
)
def _(t: Path) -> list[str]:
    text = "firm_id,name,industry,lon,lon,lat\nF1,a,steel,112.55,1,37.87\n"
    (t / "f.csv").write_text(text, encoding="utf-8")
    return _validate(t / "f.csv", "--role", "firms", "--crs", "wgs84")


def _all_written(t: Path) -> None:
    for name in ("firm_zones.csv", "firm_zones.xlsx", "firm_zones.gpkg", "rejects.csv"):
        assert (t / "out" / name).is_file(), name
    import openpyxl

    wb = openpyxl.load_workbook(t / "out" / "firm_zones.xlsx")
    values = {c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row}
    assert "甲\ufffd钢\ufffd铁\ufffd厂" in values  # each control character shows as U+FFFD


@case(
    "firms-control-characters-in-names",
    "ok",
    "NUL and other control characters in a name: every output is written (XLSX refuses them raw)",
    check=_all_written,
)
def _(t: Path) -> list[str]:
    text = FIRMS_CSV.replace("甲钢铁厂", "甲\x00钢\x01铁\x1b厂")
    (t / "f.csv").write_text(text, encoding="utf-8")
    return _firms(t / "f.csv")


@case(
    "sites-ring-of-two-points",
    "rejected",
    "a GeoJSON polygon whose ring has two points cannot be decoded: rejected with its row",
    rejects=((1, "geometry", "bad_geometry"),),
)
def _(t: Path) -> list[str]:
    bad = _polygon([[[112.5, 37.8], [112.6, 37.8]]])
    _candidates(t / "c.geojson", [bad, _polygon([_square(112.6, 37.8)])])
    return _sites(t / "c.geojson")


@case(
    "sites-unclosed-ring",
    "rejected",
    "a GeoJSON ring of three points, not closed (RFC 7946 wants it closed): GEOS cannot build "
    "it, so the row is rejected with its reason; the good candidate is screened",
    rejects=((2, "geometry", "bad_geometry"),),
)
def _(t: Path) -> list[str]:
    ring = _square(113.05, 36.2)[:3]
    _candidates(t / "c.geojson", [_polygon([_square(113.1, 36.2)]), _polygon([ring])])
    return _sites(t / "c.geojson", "--no-rule-exclusions")


@case(
    "validate-garbage-prj",
    "refused",
    "a .prj that is not a CRS definition (the message named the .shp; now the .prj)",
    says=("s.prj", "is not a CRS definition", "--crs"),
)
def _(t: Path) -> list[str]:
    _shapefile(t / "s.shp", _firms_frame(_good_points()))
    (t / "s.prj").write_text('PROJCS["garbage", nonsense', encoding="utf-8")
    return _validate(t / "s.shp", "--role", "firms")


# Recipes with values of the wrong type.


@case("run-recipe-out-int", "refused", "out = 5 (issue 12: traceback)", says=("r.toml", "out"))
def _(t: Path) -> list[str]:
    _recipe(t / "r.toml", FIRMS_RECIPE.replace('out = "out"', "out = 5"))
    (t / "firms.csv").write_text(FIRMS_CSV, encoding="utf-8")
    return ["run", "r.toml"]


@case(
    "run-recipe-map-true",
    "refused",
    "[options] map = true (issue 12: traceback)",
    says=("r.toml", "map"),
    proc=True,
)
def _(t: Path) -> list[str]:
    _recipe(t / "r.toml", FIRMS_RECIPE + "map = true\n")
    (t / "firms.csv").write_text(FIRMS_CSV, encoding="utf-8")
    return ["run", "r.toml"]


@case(
    "run-recipe-inputs-string",
    "refused",
    'inputs = "x" (issue 12: traceback)',
    says=("r.toml", "inputs"),
)
def _(t: Path) -> list[str]:
    body = 'analysis = "firms"\nout = "out"\ninputs = "x"\n'
    _recipe(t / "r.toml", body)
    return ["run", "r.toml"]


@case(
    "run-recipe-options-list",
    "refused",
    "options = [1, 2]: a table was expected",
    says=("r.toml", "options"),
)
def _(t: Path) -> list[str]:
    body = FIRMS_RECIPE.split("[options]")[0] + "\n"
    text = body.replace('analysis = "firms"', 'analysis = "firms"\noptions = [1, 2]')
    _recipe(t / "r.toml", text)
    (t / "firms.csv").write_text(FIRMS_CSV, encoding="utf-8")
    return ["run", "r.toml"]


@case(
    "run-recipe-input-int",
    "refused",
    "[inputs] firms = 7: a layer name or path was expected",
    says=("r.toml", "firms"),
)
def _(t: Path) -> list[str]:
    _recipe(t / "r.toml", FIRMS_RECIPE.replace('firms = "firms.csv"', "firms = 7"))
    return ["run", "r.toml"]


@case(
    "run-recipe-formats-int",
    "refused",
    "[options] formats = 5",
    says=("r.toml", "formats"),
)
def _(t: Path) -> list[str]:
    _recipe(t / "r.toml", FIRMS_RECIPE + "formats = 5\n")
    (t / "firms.csv").write_text(FIRMS_CSV, encoding="utf-8")
    return ["run", "r.toml"]


@case(
    "run-recipe-distance-inf",
    "refused",
    'distance = "inf" in a recipe',
    says=("inf",),
)
def _(t: Path) -> list[str]:
    _recipe(t / "r.toml", FIRMS_RECIPE + 'distance = "inf"\n')
    (t / "firms.csv").write_text(FIRMS_CSV, encoding="utf-8")
    return ["run", "r.toml"]


@case(
    "run-recipe-catalog-int",
    "refused",
    "catalog = 3",
    says=("r.toml", "catalog"),
)
def _(t: Path) -> list[str]:
    (t / "r.toml").write_text("catalog = 3\n" + FIRMS_RECIPE, encoding="utf-8")
    (t / "firms.csv").write_text(FIRMS_CSV, encoding="utf-8")
    return ["run", "r.toml"]


@case(
    "run-recipe-random-input",
    "refused",
    "a recipe whose firms file is random bytes: the firms file is named",
    says=("firms.csv",),
)
def _(t: Path) -> list[str]:
    _recipe(t / "r.toml", FIRMS_RECIPE)
    (t / "firms.csv").write_bytes(_random_bytes("recipe-input"))
    return ["run", "r.toml"]


@case(
    "run-recipe-out-is-a-file",
    "refused",
    "a recipe whose out folder is an existing file",
    says=("out",),
)
def _(t: Path) -> list[str]:
    _recipe(t / "r.toml", FIRMS_RECIPE)
    (t / "firms.csv").write_text(FIRMS_CSV, encoding="utf-8")
    (t / "out").write_text("not a folder")
    return ["run", "r.toml"]


@case(
    "firms-disk-full",
    "refused",
    "the disk fills while the outputs are written (a 60 kB file-size limit): nothing is left",
    says=("firm_zones.gpkg", "file-size limit"),
    proc=True,
    fsize=60_000,
)
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text(FIRMS_CSV, encoding="utf-8")
    return _firms(t / "f.csv")


# Files outside --out that exist: replaced only with --overwrite (issue 12).


@case(
    "firms-map-exists",
    "refused",
    "--map onto an existing file without --overwrite (issue 12: replaced)",
    says=("m.html", "--overwrite"),
)
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text(FIRMS_CSV, encoding="utf-8")
    (t / "m.html").write_text("<p>someone's map</p>", encoding="utf-8")
    return _firms(t / "f.csv", "--map", "m.html")


@case(
    "check-figure-exists",
    "refused",
    "--figure onto an existing file without --overwrite (issue 12: replaced)",
    says=("fig.png", "--overwrite"),
)
def _(t: Path) -> list[str]:
    (t / "fig.png").write_bytes(b"someone's figure")
    return _check("--project", "113.05,36.2", "--crs", "wgs84", "--figure", "fig.png")


@case(
    "check-project-dms",
    "ok",
    "--project in degrees-minutes-seconds with a full-width comma, as typed from a permit",
    says=("1 project(s)", "conflict 1"),
)
def _(t: Path) -> list[str]:
    return [
        "check",
        "--catalog",
        str(CATALOG),
        "--industry",
        "steel",
        "--out",
        "out",
        "--project",
        "112°30′，37°48′N",
        "--crs",
        "wgs84",
    ]


@case(
    "check-project-dms-61-minutes",
    "refused",
    "--project '112°61′,37°48′': 61 minutes is not a coordinate",
    says=("112°61′", "'112°33′,37°52′'"),
)
def _(t: Path) -> list[str]:
    return _check("--project", "112°61′,37°48′", "--crs", "wgs84")


@case(
    "check-map-none",
    "refused",
    "--map none, meant as 'no map', wrote a map to a file called none",
    says=("--map 'none'", ".html", "leave --map out"),
)
def _(t: Path) -> list[str]:
    return _check("--project", "113.05,36.2", "--crs", "wgs84", "--map", "none")


@case(
    "firms-figure-txt",
    "refused",
    "--figure fig.txt: the figure is PNG (and PDF)",
    says=("--figure 'fig.txt'", ".png or .pdf"),
)
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text(FIRMS_CSV, encoding="utf-8")
    return [*_firms(t / "f.csv"), "--figure", "fig.txt"]


@case(
    "check-kml-two-folders",
    "ok",
    "a KML (Google Earth, 奥维) with placemarks in two folders: every placemark is a project",
    says=("2 project(s)", "2 folders read"),
)
def _(t: Path) -> list[str]:
    placemark = (
        "<Placemark><name>{n}</name><Polygon><outerBoundaryIs><LinearRing><coordinates>"
        "{x},36.2 {x1},36.2 {x1},36.21 {x},36.21 {x},36.2</coordinates></LinearRing>"
        "</outerBoundaryIs></Polygon></Placemark>"
    )
    folders = "".join(
        f"<Folder><name>{f}</name>{placemark.format(n=n, x=x, x1=x + 0.01)}</Folder>"
        for f, n, x in (("一期", "甲地块", 113.05), ("二期", "乙地块", 113.07))
    )
    (t / "p.kml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">'
        f"<Document>{folders}</Document></kml>",
        encoding="utf-8",
    )
    return _check("--projects", "p.kml")  # --project is one project: several are refused


@case(
    "run-recipe-map-exists",
    "refused",
    "a recipe whose map is an existing file elsewhere, without --overwrite (issue 12)",
    says=("precious.html", "--overwrite"),
)
def _(t: Path) -> list[str]:
    (t / "elsewhere").mkdir()
    (t / "elsewhere" / "precious.html").write_text("keep me", encoding="utf-8")
    _recipe(t / "r.toml", FIRMS_RECIPE + 'map = "elsewhere/precious.html"\n')
    (t / "firms.csv").write_text(FIRMS_CSV, encoding="utf-8")
    return ["run", "r.toml"]


@case(
    "validate-rejects-exists",
    "refused",
    "layers validate --rejects onto an existing file without --overwrite (issue 12: replaced)",
    says=("r.csv", "--overwrite"),
)
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text(FIRMS_CSV.replace("112.30", "nan"), encoding="utf-8")
    (t / "r.csv").write_text("keep me", encoding="utf-8")
    return _validate(t / "f.csv", "--role", "firms", "--crs", "wgs84", "--rejects", "r.csv")


# Hostile text in cells and ids.

FORMULAS = ('=HYPERLINK("http://x.invalid","点我")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3")


def _no_live_formulas(t: Path) -> None:
    with (t / "out" / "firm_zones.csv").open(encoding="utf-8-sig", newline="") as fh:
        names = [r["name"] for r in csv.DictReader(fh)]
    assert len(names) == len(FORMULAS), names
    assert not [n for n in names if n[:1] in "=+-@\t\r"], names
    import openpyxl

    wb = openpyxl.load_workbook(t / "out" / "firm_zones.xlsx")
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert not [c.value for c in cells if c.data_type == "f"], "live formulas in the XLSX"


@case(
    "firms-formula-injection",
    "ok",
    "firm names that are spreadsheet formulas are written as text (issue 12: live formulas)",
    outputs=("out/firm_zones.csv", "out/firm_zones.xlsx"),
    check=_no_live_formulas,
)
def _(t: Path) -> list[str]:
    rows = [
        f'F{i},"{n.replace(chr(34), chr(34) * 2)}",steel,112.55,37.87'
        for i, n in enumerate(FORMULAS)
    ]
    (t / "f.csv").write_text(FIRMS_CSV.splitlines()[0] + "\n" + "\n".join(rows) + "\n", "utf-8")
    return _firms(t / "f.csv")


def _one_report_per_project(t: Path) -> None:
    reports = sorted(p.name for p in (t / "out").glob("report-*.html"))
    assert len(reports) == 3, reports


@case(
    "check-colliding-report-names",
    "ok",
    "ids A/B, A_B and A.B: three projects, three reports (issue 12: one replaced another)",
    check=_one_report_per_project,
)
def _(t: Path) -> list[str]:
    rows = [f"{pid},x,pv,new,113.05,36.2" for pid in ("A/B", "A_B", "A.B")]
    (t / "p.csv").write_text(PROJECTS_CSV.splitlines()[0] + "\n" + "\n".join(rows) + "\n", "utf-8")
    return [
        "check",
        "--catalog",
        str(CATALOG),
        "--projects",
        "p.csv",
        "--crs",
        "wgs84",
        "--out",
        "out",
    ]


# Output folders that cannot be written.

LOCKED: list[Path] = []


def _lock(path: Path) -> None:
    """Make a folder unwritable, for root too (the immutable attribute) where possible."""
    path.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:  # pragma: no cover - no way to deny root
            pytest.skip("running as root without chattr: a folder cannot be made read-only")
        done = subprocess.run(["chattr", "+i", str(path)], check=False, capture_output=True)
        if done.returncode != 0:  # pragma: no cover - a file system without the attribute
            pytest.skip(f"chattr +i is not supported here: {done.stderr.decode().strip()}")
    else:
        path.chmod(0o555)
    LOCKED.append(path)


def _unlock_all() -> None:
    while LOCKED:
        p = LOCKED.pop()
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(p)], check=True)
        else:
            p.chmod(0o755)


@case("firms-out-is-a-file", "refused", "--out names an existing file", says=("out",))
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text(FIRMS_CSV, encoding="utf-8")
    (t / "out").write_text("not a folder")
    return _firms(t / "f.csv")


@case(
    "check-out-under-a-file",
    "refused",
    "--out inside a path whose parent is a file",
    says=("out",),
)
def _(t: Path) -> list[str]:
    (t / "out").write_text("not a folder")
    return [
        "check",
        "--catalog",
        str(CATALOG),
        "--industry",
        "pv",
        "--out",
        "out/check",
        "--project",
        "113.05,36.2",
        "--crs",
        "wgs84",
    ]


@case(
    "firms-out-read-only",
    "refused",
    "a read-only --out folder (issue 12: traceback)",
    says=("out",),
)
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text(FIRMS_CSV, encoding="utf-8")
    _lock(t / "out")
    return _firms(t / "f.csv")


@case(
    "sites-out-read-only",
    "refused",
    "a read-only --out folder for the siting screen",
    says=("out",),
    proc=True,
)
def _(t: Path) -> list[str]:
    _candidates(t / "c.geojson", [_polygon([_square(112.5, 37.8)])])
    _lock(t / "out")
    return _sites(t / "c.geojson")


@case(
    "check-out-read-only",
    "refused",
    "a read-only --out folder for the site check",
    says=("out",),
)
def _(t: Path) -> list[str]:
    _lock(t / "out")
    return _check("--project", "113.05,36.2", "--crs", "wgs84")


@case(
    "firms-map-in-read-only-folder",
    "refused",
    "--map into a read-only folder: refused, and no tables are left behind",
    says=("maps",),
)
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text(FIRMS_CSV, encoding="utf-8")
    _lock(t / "maps")
    return _firms(t / "f.csv", "--map", "maps/f.html")


@case(
    "validate-rejects-in-read-only-folder",
    "refused",
    "--rejects into a read-only folder",
    says=("ro",),
)
def _(t: Path) -> list[str]:
    (t / "f.csv").write_text(FIRMS_CSV.replace("112.30", "nan"), encoding="utf-8")
    _lock(t / "ro")
    return _validate(t / "f.csv", "--role", "firms", "--crs", "wgs84", "--rejects", "ro/r.csv")


# The equipment phase-out screen: a table of units with numbers in named units.

EQUIPMENT_CSV = (
    "设备编号,企业代码,设备类型,炭化室高度（米）,产能（万吨/年）,状态,地市\n"
    "K1,F1,焦炉,4.3,60,在产,太原市\n"
    "K2,F1,焦炉,5.5,60,在产,太原市\n"
    "K3,F1,焦炉,6,100,在产,太原市\n"
)


def _phaseout(path: Path | str, *extra: str) -> list[str]:
    return ["phaseout", "--catalog", str(CATALOG), "--equipment", str(path), "--out", "out", *extra]


@case(
    "phaseout-nan-inf-negative-text-heights",
    "rejected",
    "chamber heights NaN, inf, -5 and 四米三: each row rejected with its row and field",
    rejects=(
        (2, "炭化室高度（米）", "bad_number"),
        (3, "炭化室高度（米）", "implausible_value"),
        (4, "炭化室高度（米）", "bad_number"),
        (5, "炭化室高度（米）", "bad_number"),
    ),
)
def _(t: Path) -> list[str]:
    head, *rows = EQUIPMENT_CSV.splitlines()
    bad = [
        rows[0].replace(",4.3,", f",{v},").replace("K1", f"B{i}")
        for i, v in enumerate(["NaN", "inf", "-5", "四米三"])
    ]
    (t / "eq.csv").write_text("\n".join([head, *bad, *rows]) + "\n", encoding="utf-8")
    return _phaseout("eq.csv")


@case(
    "phaseout-duplicate-unit",
    "rejected",
    "a unit id given twice: the second is rejected with its row",
    rejects=((5, "设备编号", "duplicate_id"),),
)
def _(t: Path) -> list[str]:
    (t / "eq.csv").write_text(EQUIPMENT_CSV + "K2,F1,焦炉,4.3,60,在产,太原市\n", encoding="utf-8")
    return _phaseout("eq.csv")


@case("phaseout-empty-table", "refused", "a 0-byte equipment table", says=("eq.csv", "empty"))
def _(t: Path) -> list[str]:
    (t / "eq.csv").write_bytes(b"")
    return _phaseout("eq.csv")


@case("phaseout-random-xlsx", "refused", "random bytes as the equipment XLSX", says=("eq.xlsx",))
def _(t: Path) -> list[str]:
    (t / "eq.xlsx").write_bytes(_random_bytes("equipment"))
    return _phaseout("eq.xlsx")


@case(
    "phaseout-gbk-read-as-utf8",
    "refused",
    "a GBK equipment table with --encoding utf-8",
    says=("eq.csv", "utf-8"),
)
def _(t: Path) -> list[str]:
    (t / "eq.csv").write_bytes(EQUIPMENT_CSV.encode("gbk"))
    return _phaseout("eq.csv", "--encoding", "utf-8")


@case(
    "phaseout-no-type-column",
    "refused",
    "no 设备类型 column: what kind of unit is each row?",
    says=("eq.csv", "type"),
)
def _(t: Path) -> list[str]:
    text = EQUIPMENT_CSV.replace("设备类型", "备注")
    (t / "eq.csv").write_text(text, encoding="utf-8")
    return _phaseout("eq.csv")


@case(
    "run-phaseout-recipe-equipment-int",
    "refused",
    "a phase-out recipe whose equipment is 5",
    says=("r.toml", "equipment"),
)
def _(t: Path) -> list[str]:
    _recipe(t / "r.toml", 'analysis = "phaseout"\nout = "out"\n[inputs]\nequipment = 5\n')
    return ["run", "r.toml"]


# --- running -------------------------------------------------------------------------------


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    warned: list[str] = field(default_factory=list)


def _in_process(args: list[str]) -> Outcome:
    """The command in this process; an exception escaping the CLI fails the test with it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = CliRunner().invoke(cli, args, catch_exceptions=False)
    warned = [f"{w.category.__name__}: {w.message}" for w in caught]
    return Outcome(res.exit_code, res.stdout, res.stderr, warned)


def _as_process(args: list[str], cwd: Path, fsize: int | None = None) -> Outcome:
    env = {**os.environ, "PYTHONWARNINGS": "default"}

    def limit() -> None:  # a write past fsize bytes fails with EFBIG (Python ignores SIGXFSZ)
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    proc = subprocess.run(
        [sys.executable, "-m", "sxzones.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        preexec_fn=limit,
    )
    warned = [line for line in proc.stderr.splitlines() if "Warning:" in line]
    return Outcome(proc.returncode, proc.stdout, proc.stderr, warned)


def _files(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()
    }


def _rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _row_of(rec: dict[str, str]) -> int:
    return int(rec.get("row") or rec["source_row"])


_MAIN_OUTPUT = {
    "firms": ("out/firm_zones.csv",),
    "check": ("out/site_check.csv",),
    "sites": ("out/eligible_sites.csv",),
    "phaseout": ("out/phaseout.csv",),
    "layers": (),
}


def _assert_says(says: tuple[str, ...], text: str) -> None:
    """Each item is in the text (case-insensitive); ``re:`` items are regular expressions."""
    for s in says:
        pattern = s[3:] if s.startswith("re:") else re.escape(s)
        assert re.search(pattern, text, re.IGNORECASE), f"{s!r} not in: {text}"


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_hostile_input(c: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    try:
        args = c.build(tmp_path)
        before = _files(tmp_path)
        out = _as_process(args, tmp_path, c.fsize) if c.proc else _in_process(args)
    finally:
        _unlock_all()
    both = out.stdout + out.stderr
    assert "Traceback" not in both, both
    assert not out.warned, out.warned
    if c.expect == "refused":
        assert out.code == 2, both
        msg = out.stderr.strip()
        assert msg, f"no message on stderr; stdout: {out.stdout}"
        assert msg.count("Error:") + msg.count("REFUSED") == 1, msg
        _assert_says(c.says, msg)
        # nothing left behind but what the case names: the rejects of a file whose every
        # row is rejected, with their manifest
        after = {k: v for k, v in _files(tmp_path).items() if k not in c.outputs}
        assert after == before, "a refused run left files behind"
        assert all((tmp_path / o).is_file() for o in c.outputs), c.outputs
        if c.rejects:
            recs = _rejects(tmp_path / "out" / "rejects.csv")
            got = sorted((_row_of(r), r["field"], r["code"]) for r in recs)
            assert got == sorted(c.rejects), recs
        return
    assert out.code == 0, both
    assert not out.stderr.strip(), out.stderr
    if c.expect == "rejected":
        recs = _rejects(tmp_path / "out" / "rejects.csv")
        got = sorted((_row_of(r), r["field"], r["code"]) for r in recs)
        assert got == sorted(c.rejects), recs
        assert all(r["reason"].strip() for r in recs), recs
        # input rows = analysed rows + rejected rows, as the summary says
        counts = re.search(r"input rows (\d+) = \w+ (\d+) \+ rejected (\d+)", out.stdout)
        assert counts, out.stdout
        n, kept, rejected = map(int, counts.groups())
        assert (n, rejected) == (kept + len(c.rejects), len(c.rejects)), counts.group(0)
    elif c.expect == "repaired":
        text = out.stdout
        if (tmp_path / "out" / "site_check.csv").exists():
            text += (tmp_path / "out" / "site_check.csv").read_text(encoding="utf-8-sig")
        _assert_says(c.says, text)
    else:
        assert c.expect == "ok", c.expect
    if c.check is not None:
        c.check(tmp_path)
    for o in c.outputs or _MAIN_OUTPUT[args[0]]:
        assert (tmp_path / o).is_file(), f"{o} not written; {both}"


def test_the_corpus_is_large_and_covers_every_command() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)
    prefixes = {c.id.split("-")[0] for c in CASES}
    assert prefixes == {"validate", "firms", "check", "sites", "run", "phaseout"}
    assert {c.expect for c in CASES} == {"refused", "rejected", "repaired", "ok"}
