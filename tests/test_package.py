"""The installed product: a wheel built from this tree, installed into a fresh venv outside it.

The wheel is built without build isolation (no download) from a copy of the sources, and
installed with ``--no-deps`` into a new venv that sees the project venv's third-party
packages through a ``.pth`` line (the project's own editable install is not visible there:
``.pth`` files of a directory added that way are not processed). Every command runs with its
working directory in a temporary folder, so nothing of the repository can be found by
accident; the tests check that sxzones, its rules and its catalogue come from the new venv.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod

from .conftest import ROOT

SOURCES = ["sxzones", "layers", "analyses", "pyproject.toml", "setup.py", "MANIFEST.in"]
SOURCES += ["README.md", "LICENSE"]


def _copy_sources(dst: Path, *, derived: bool = True) -> Path:
    """The files a wheel is built from, copied to ``dst`` (a fresh clone's layout)."""
    skip = ["__pycache__", "*.pyc", ".built-stamp"] + ([] if derived else ["derived"])
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=shutil.ignore_patterns(*skip))
        else:
            shutil.copy2(src, dst / name)
    return dst


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))


def _manifest(path: Path, folders: dict[Path, str]) -> dict[str, object]:
    """A run's manifest with its folders named by role and without the run id (a hash
    over the whole manifest, folders included)."""
    text = path.read_text(encoding="utf-8")
    for folder, name in folders.items():
        text = text.replace(str(folder), name)
    doc: dict[str, object] = json.loads(text)
    assert len(str(doc.pop("run_id"))) == 16
    return doc


def _env() -> dict[str, str]:
    """This environment without anything that would point Python at the repository."""
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "SXZONES_CATALOG", "VIRTUAL_ENV"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _run(args: list[str | Path], cwd: Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=300
    )
    if ok and proc.returncode != 0:
        pytest.fail(f"{args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def _build_wheel(src: Path, dist: Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    return _run([*pip, "--no-index", "-q", "-w", dist, src], cwd=src.parent, ok=ok)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Build the wheel, make a fresh venv, install the wheel there; return the paths."""
    tmp = tmp_path_factory.mktemp("installed")
    src = _copy_sources(tmp / "src")
    _build_wheel(src, tmp / "dist")
    (wheel,) = (tmp / "dist").glob("sxzones-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp)
    py = venv / "bin" / "python"
    purelib = _run([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp)
    Path(purelib.stdout.strip(), "_project_deps.pth").write_text(
        sysconfig.get_path("purelib") + "\n", encoding="utf-8"
    )
    pip = [sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index"]
    _run([*pip, "-q", wheel], cwd=tmp)
    shutil.rmtree(src)  # nothing of the sources left beside the install
    work = tmp / "work"
    work.mkdir()
    return {"tmp": tmp, "wheel": wheel, "venv": venv, "py": py, "work": work}


def test_wheel_ships_data_licences_and_no_sources_of_the_build(installed: dict[str, Path]) -> None:
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    bundle = "sxzones/_bundled/"
    for need in [
        "layers/catalog.toml",
        "layers/shanxi/derived/admin.gpkg",
        "layers/shanxi/derived/control_units_demonstration.gpkg",
        "layers/shanxi/derived/permits_demonstration.xlsx",  # named by a recipe, by path
        "layers/shanxi/raw/natural_earth_rivers/ne_10m_rivers_shanxi.geojson",
        "layers/shanxi/raw/cnmaps_admin/SOURCE.md",
        "analyses/rules/shanxi-2023.toml",
        "analyses/demo-02-firm-zones.toml",
        "analyses/examples/projects_demonstration.csv",
    ]:
        assert bundle + need in names, need
    sources = sorted(p.parent.name for p in (ROOT / "layers/shanxi/raw").glob("*/SOURCE.md"))
    assert sorted(n.split("/")[-2] for n in names if n.endswith("/SOURCE.md")) == sorted(
        sources * 2  # beside the data and in the dist-info's licences
    )
    lic = "sxzones-0.1.0.dist-info/licenses/"
    assert lic + "LICENSE" in names
    assert lic + "sxzones/maps/vendor/leaflet/LICENSE" in names
    assert "sxzones/maps/vendor/leaflet/LICENSE" in names
    # The raw extracts only the build script reads are not shipped.
    assert bundle + "layers/shanxi/raw/cnmaps_admin/cnmaps_admin_shanxi_gcj02.geojson" not in names
    assert not any(n.endswith("build.py") for n in names)


def test_installed_package_uses_its_own_data_and_one_version(installed: dict[str, Path]) -> None:
    code = (
        "import json, sxzones, importlib.metadata as m\n"
        "from sxzones._util import bundled_root\n"
        "print(json.dumps([sxzones.__file__, sxzones.__version__, m.version('sxzones'),"
        " str(bundled_root()), str(sxzones.load_rules().path),"
        " str(sxzones.load_catalog().path)]))"
    )
    out = json.loads(_run([installed["py"], "-c", code], installed["work"]).stdout)
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert out[1] == out[2] == version
    for path in (out[0], out[3], out[4], out[5]):
        assert Path(path).is_relative_to(installed["venv"]), path
    assert out[3].endswith("sxzones/_bundled")


def test_installed_demo_writes_where_told_same_bytes_as_checkout(
    installed: dict[str, Path], tmp_path: Path
) -> None:
    from sxzones.demo import run_demo

    proc = _run([installed["venv"] / "bin" / "sxzones", "demo"], installed["work"])
    got = installed["work"] / "sxzones-demo"  # the default folder, in the working directory
    assert "Demo finished" in proc.stdout
    run_demo(tmp_path, say=lambda _: None)  # the same demo from the checkout
    files = sorted(
        p.relative_to(tmp_path)
        for p in tmp_path.rglob("*")
        if p.is_file() and p.suffix in {".csv", ".json", ".html", ".png", ".xlsx"}
    )
    assert len(files) > 20
    bundle = next(installed["venv"].rglob("_bundled"))
    for rel in files:
        if rel.parts[0] == "recipes":
            continue  # these name the data's folder, which differs
        if rel.name == "manifest.json":  # names the input files and the output folder
            a = _manifest(got / rel, {bundle: "DATA", got: "OUT", Path(got.name): "OUT"})
            assert a == _manifest(tmp_path / rel, {ROOT: "DATA", tmp_path: "OUT"}), rel
            continue
        assert (got / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel
    rows = _rows(got / "out/site-check/site_check.csv")
    assert [(r["project_id"], r["verdict"]) for r in rows] == [
        ("D1", "conflict"),
        ("D2", "conditional"),
        ("D3", "clear"),
        ("D4", "conflict"),
    ]
    recipe = (got / "recipes" / "demo-03-site-check.toml").read_text(encoding="utf-8")
    assert str(installed["venv"]) in recipe  # the data: from the install
    assert 'out = "../out/site-check"' in recipe  # the outputs: beside the copy
    # Nothing written inside the installed package.
    assert not (bundle / "out").exists() and not (bundle / "maps").exists()


def test_installed_commands_on_the_users_own_files(installed: dict[str, Path]) -> None:
    work, bin_ = installed["work"], installed["venv"] / "bin"
    (work / "firms.csv").write_text(
        "firm_id,name,industry,lon,lat\nA,示例钢厂,钢铁,112.55,37.87\nB,远处焦化,coking,111.0,39.5\n",
        encoding="utf-8",
    )
    ring = [[112.10, 38.30], [112.12, 38.30], [112.12, 38.32], [112.10, 38.32], [112.10, 38.30]]
    feature = {"type": "Feature", "properties": {"site_id": "S1", "kind": "abandoned_mine"}}
    feature["geometry"] = {"type": "Polygon", "coordinates": [ring]}
    (work / "cand.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": [feature]}), encoding="utf-8"
    )

    def sx(command: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        return _run([bin_ / "sxzones", *command.split()], work, ok=ok)

    sx("firms --firms firms.csv --crs wgs84 --builtup builtup_demonstration --out f")
    firms = _rows(work / "f/firm_zones.csv")
    assert [(r["firm_id"], r["industry_id"], r["zone"]) for r in firms] == [
        ("A", "steel", "inside"),
        ("B", "coking", "within_20km"),
    ]
    assert float(firms[1]["distance_m"]) == pytest.approx(18774.87, abs=0.01)
    sx("check --project 112.30,37.56 --crs wgs84 --industry coking --kind new --out c")
    checked = json.loads((work / "c/site_check.json").read_text(encoding="utf-8"))
    assert [p["verdict"] for p in checked["projects"]] == ["conflict"]  # as demo project D1
    sx("sites --candidates cand.geojson --tech pv --out s")
    (site,) = _rows(work / "s/eligible_sites.csv")
    lons, lats = zip(*ring, strict=True)
    area = abs(Geod(ellps="GRS80").polygon_area_perimeter(lons, lats)[0])
    assert float(site["candidate_m2"]) == pytest.approx(area, rel=1e-4)
    assert site["eligible"] == "true"
    bad = sx("firms --firms nope.csv --builtup builtup_demonstration --out x", ok=False)
    assert bad.returncode == 2 and "nope.csv" in bad.stderr and "Traceback" not in bad.stderr


def test_wheel_refused_before_the_layers_are_built(tmp_path: Path) -> None:
    src = _copy_sources(tmp_path / "src", derived=False)
    proc = _build_wheel(src, tmp_path / "dist", ok=False)
    assert proc.returncode != 0
    assert "make layers" in proc.stdout + proc.stderr
    assert not list(tmp_path.rglob("*.whl"))


def test_import_is_light_and_every_export_resolves() -> None:
    code = (
        "import sys, sxzones\n"
        "heavy = [m for m in ('geopandas', 'numba', 'pyproj', 'rasterio') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env())
    assert out.stdout.strip() == "[]", out.stderr
    import sxzones
    import sxzones.analyses

    for name in sxzones.__all__:
        assert getattr(sxzones, name) is not None, name
    assert sxzones.screen_firms is sxzones.analyses.screen_firms
    assert {"screen_firms", "check_sites", "screen_sites", "read_file", "validate_layer"} <= set(
        sxzones.__all__
    ) and {"load_catalog", "load_rules"} <= set(dir(sxzones))
    with pytest.raises(AttributeError, match="has no attribute 'screen_firm'"):
        _ = sxzones.screen_firm  # type: ignore[attr-defined]


def test_analyses_all_lists_every_public_function_and_class() -> None:
    import importlib
    import inspect

    import sxzones.analyses as analyses

    assert analyses.__all__ == sorted(analyses.__all__)
    for mod in ("firm_zones", "site_check", "siting", "phaseout"):
        module = importlib.import_module(f"sxzones.analyses.{mod}")
        public = {
            n
            for n in module.__all__
            if (inspect.isfunction(o := getattr(module, n)) or inspect.isclass(o))
            and o.__module__ == module.__name__
        }
        assert public <= set(analyses.__all__), (mod, public - set(analyses.__all__))
    for name in analyses.__all__:
        assert getattr(analyses, name).__module__.startswith("sxzones.analyses."), name


def test_screen_firms_names_the_parameter_of_the_wrong_type() -> None:
    import geopandas as gpd
    import pandas as pd
    import shapely

    import sxzones

    box = shapely.box(500000, 4000000, 501000, 4001000)
    bu = gpd.GeoDataFrame({"area_id": ["A"], "name": ["城区"]}, geometry=[box], crs=4546)
    firms = gpd.GeoDataFrame(
        {"firm_id": ["1"], "name": ["a"], "industry": ["steel"]},
        geometry=[shapely.Point(500500, 4000500)],
        crs=4546,
    )
    rules = sxzones.load_rules()
    cases = [
        ((pd.DataFrame(firms.drop(columns="geometry")), bu, rules), {}, "firms must be GeoDataFrame, got DataFrame"),
        ((firms, {"builtup": bu}, rules), {}, "builtup must be GeoDataFrame, got dict"),
        ((firms, bu, None), {}, r"rules must be RuleSet, got None\. Fix: pass sxzones\.load_rules\(\)"),
        ((firms, bu, rules), {"distance_m": "20km"}, "distance_m must be a number of metres or None, got str"),
        ((firms, bu, rules), {"threads": True}, "threads must be an integer or None, got bool"),
        ((firms, bu, rules), {"admin": "admin.gpkg"}, "admin must be GeoDataFrame or None, got str"),
    ]  # fmt: skip
    for args, kwargs, message in cases:
        with pytest.raises(TypeError, match=r"^screen_firms\(\): " + message):
            sxzones.screen_firms(*args, **kwargs)
    ok = sxzones.screen_firms(firms, bu, rules, distance_m=np.float32(20000), threads=np.int64(1))
    assert ok["zone"].tolist() == ["inside"]


def test_readme_quick_start_commands_run_as_typed(tmp_path: Path) -> None:
    """The ``.venv/bin/sxzones`` lines of the README's quick start, in a folder of their own."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = text[text.index("## Quick start") : text.index("## Install")]
    lines = [ln.split("  #")[0].strip() for ln in quick.splitlines()]
    commands = [ln for ln in lines if ln.startswith(".venv/bin/sxzones ")]
    assert len(commands) >= 2
    sxzones = Path(sys.executable).parent / "sxzones"
    for command in commands:
        args = shlex.split(command.removeprefix(".venv/bin/sxzones "))
        proc = _run([sxzones, *args], tmp_path)
        assert proc.stdout.strip(), command
    assert "## Install" in text and "make demo" in quick and ". .venv/bin/activate" in quick
