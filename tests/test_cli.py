"""The command line through click's runner and as a real subprocess."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from sxzones.cli import cli

from .conftest import CATALOG


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _subprocess(*args: str) -> subprocess.CompletedProcess[str]:
    """The command as a real process (``python -m sxzones.cli``)."""
    return subprocess.run(
        [sys.executable, "-m", "sxzones.cli", *args], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    "cmd",
    [
        [],
        ["layers"],
        ["layers", "list"],
        ["layers", "validate"],
        ["firms"],
        ["check"],
        ["sites"],
        ["run"],
    ],
)
def test_help_on_every_command(cmd):
    res = _run(*cmd, "--help")
    assert res.exit_code == 0
    assert "Usage:" in res.output


def test_validate_a_file_by_path(jzd_file):
    res = _run("layers", "validate", str(jzd_file), "--role", "context")
    assert res.exit_code == 0, res.output
    assert "parcels.txt (context): 2 read, 2 loaded, 0 rejected; EPSG:4526 -> EPSG:4546" in (
        res.output
    )


def test_rejects_are_written(tmp_path):
    csv = tmp_path / "f.csv"
    csv.write_text(
        "firm_id,name,industry,lon,lat\n1,a,steel,112.5,37.8\n1,b,steel,112.6,37.9\n",
        encoding="utf-8",
    )
    out = tmp_path / "rejects.csv"
    res = _run(
        "layers", "validate", str(csv), "--role", "firms", "--crs", "wgs84", "--rejects", str(out)
    )
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8-sig")
    assert "duplicate firm_id '1' (first at row 2)" in text  # the row Excel shows
    assert text.splitlines()[0] == "layer,source_row,id,code,field,reason"


def test_rejects_in_chinese(tmp_path):
    """``layers validate --lang zh --rejects``: the rejects table in Chinese, as every
    command's rejects.csv under ``--lang zh``."""
    csv = tmp_path / "f.csv"
    csv.write_text(
        "firm_id,name,industry,lon,lat\n1,a,steel,112.5,37.8\n1,b,steel,112.6,37.9\n",
        encoding="utf-8",
    )
    out = tmp_path / "rejects.csv"
    args = ["layers", "validate", str(csv), "--role", "firms", "--crs", "wgs84"]
    res = _run(*args, "--rejects", str(out), "--lang", "zh")
    assert res.exit_code == 0, res.output
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "图层,原始行号,编号,问题代码,字段,原因"
    assert lines[1].startswith('"f.csv",3,"1","编号重复","firm_id",')  # the code translated
    assert _run(*args, "--lang", "cn").exit_code == 2


def test_user_error_exits_2_with_file_and_fix_no_traceback(tmp_path):
    csv = tmp_path / "f.csv"
    csv.write_text("name,lon,lat\na,112.5,37.8\n", encoding="utf-8")
    proc = _subprocess("layers", "validate", str(csv), "--role", "firms", "--crs", "wgs84")
    assert proc.returncode == 2
    assert "f.csv" in proc.stderr
    assert "requires field(s) ['industry or industry_code']" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_crs_exits_2(tmp_path):
    csv = tmp_path / "f.csv"
    csv.write_text("name,lon,lat\na,112.5,37.8\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["layers", "validate", str(csv), "--crs", "mars"])
    assert res.exit_code == 2
    assert "unknown CRS spec 'mars'. Accepted:" in res.output


def test_debug_shows_the_traceback(tmp_path):
    csv = tmp_path / "f.csv"
    csv.write_text("name,lon,lat\na,112.5,37.8\n", encoding="utf-8")
    proc = _subprocess("--debug", "layers", "validate", str(csv), "--crs", "mars")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr
    assert "CRSError" in proc.stderr


def test_bad_role_is_a_usage_error(jzd_file):
    res = CliRunner().invoke(cli, ["layers", "validate", str(jzd_file), "--role", "farms"])
    assert res.exit_code == 2
    assert "'farms'; roles:" in res.output


def test_layers_list_names_every_layer():
    res = _run("layers", "list", "--catalog", str(CATALOG))
    assert res.exit_code == 0
    for name in ("admin", "firms", "builtup_demonstration", "control_units_demonstration"):
        assert name in res.output


def test_quick_exit_loses_nothing(tmp_path):
    """The command ends with os._exit after publishing (the interpreter's teardown cost a
    quarter of a small run): the printout and every output are complete and the same as with
    the usual exit, and the status is kept, 0 and 2 alike."""
    import hashlib
    import json
    import os

    args = ["firms", "--firms", "firms", "--builtup", "builtup_demonstration", "--overwrite"]
    runs = {}
    for quick in ("1", "0"):
        out = tmp_path / f"q{quick}"
        env = {**os.environ, "SXZONES_QUICK_EXIT": quick}
        proc = subprocess.run(
            [sys.executable, "-m", "sxzones.cli", *args, "--out", str(out)],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.rstrip().endswith(f"manifest {out / 'manifest.json'}")
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        files = sorted(p.name for p in out.iterdir())
        assert files == [
            "firm_zones.csv",
            "firm_zones.gpkg",
            "firm_zones.xlsx",
            "manifest.json",
            "rejects.csv",
        ]
        runs[quick] = {
            f: hashlib.sha256((out / f).read_bytes()).hexdigest()
            for f in files
            if f != "manifest.json"
        }
        assert manifest["analysis"] == "firms"
        bad = subprocess.run(
            [sys.executable, "-m", "sxzones.cli", *args, "--out", str(out), "--distance", "far"],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        assert bad.returncode == 2 and "far" in bad.stderr and "Traceback" not in bad.stderr
    assert runs["1"] == runs["0"]
