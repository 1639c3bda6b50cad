"""Inputs and folders that used to end in a traceback with exit status 1: through the real
CLI, each gives exit status 2, one message naming the file, no traceback, no partial output."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from sxzones import outputs
from sxzones.cli import cli

from .conftest import CATALOG

FIRMS = ["firms", "--firms", "firms", "--builtup", "builtup_demonstration"]


def _cli(*args: str):
    # catch_exceptions=False: an exception that is not a clean user error fails the test
    return CliRunner().invoke(cli, [*args, "--catalog", str(CATALOG)], catch_exceptions=False)


def _mount(where: Path, options: str) -> Iterator[Path]:
    """A small tmpfs at ``where`` (root only); skipped where it cannot be mounted."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small file system needs root")
    where.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode(errors='replace')}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 96 KiB file system: the firm screen's GeoPackage does not fit."""
    yield from _mount(tmp_path / "small", "size=96k")


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    yield from _mount(tmp_path / "ro", "ro,size=64k")


def test_point_empty_project_is_refused(tmp_path):
    out = tmp_path / "o"
    proc = subprocess.run(
        [sys.executable, "-m", "sxzones.cli", "check", "--project", "POINT EMPTY", "--crs",
         "wgs84", "--industry", "pv", "--out", str(out), "--catalog", str(CATALOG)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "--project: no feature passed validation" in proc.stderr
    assert "NULL or empty geometry [field geometry] (row 1)" in proc.stderr
    assert not out.exists()


def test_multipoint_project_gets_its_report_map_and_figure(tmp_path):
    out = tmp_path / "o"
    res = _cli(
        "check", "--project", "MULTIPOINT ((112.55 37.87), (112.57 37.88))", "--crs", "wgs84",
        "--industry", "pv", "--out", str(out), "--map", str(tmp_path / "m.html"),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    report = (out / "report-P1.html").read_text(encoding="utf-8")
    assert len(re.findall(r'<circle cx="[\d.]+" cy="[\d.]+" r="6"', report)) == 2
    assert (tmp_path / "m.html").exists()


def test_siting_map_where_nothing_was_excluded(tmp_path):
    out = tmp_path / "o"
    res = _cli(
        "sites", "--candidates", "candidates_demonstration", "--tech", "pv",
        "--no-rule-exclusions", "--out", str(out), "--map", str(tmp_path / "m.html"),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "eligible_sites.csv", encoding="utf-8-sig")
    assert len(table) == 91 and table["removed_m2"].sum() == 0  # nothing excluded
    assert (table["eligible_m2"] == table["candidate_m2"]).all()
    assert "候选用地光伏风电选址" in (tmp_path / "m.html").read_text(encoding="utf-8")


def test_output_folder_that_is_a_file(tmp_path):
    afile = tmp_path / "taken"
    afile.write_text("mine", encoding="utf-8")
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        f'analysis = "firms"\ncatalog = "{CATALOG}"\nout = "{afile}"\n'
        '[inputs]\nfirms = "firms"\nbuiltup = "builtup_demonstration"\n',
        encoding="utf-8",
    )
    res = CliRunner().invoke(cli, ["run", str(recipe)], catch_exceptions=False)
    assert res.exit_code == 2
    assert (
        res.output.strip() == f"Error: --out {afile} is a file, not a folder. Fix: choose a folder"
    )
    assert afile.read_text(encoding="utf-8") == "mine"


def test_read_only_output_folder(read_only):
    out = read_only / "o"
    res = _cli(*FIRMS, "--out", str(out))
    assert res.exit_code == 2
    assert res.output.strip() == (
        f"Error: cannot make the output folder {out}: Read-only file system. "
        "Fix: choose a folder you may write in"
    )
    assert list(read_only.iterdir()) == []


def test_read_only_folder_for_non_root(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; see test_read_only_output_folder")
    out = tmp_path / "o"
    out.mkdir()
    out.chmod(0o555)
    try:
        res = _cli(*FIRMS, "--out", str(out))
    finally:
        out.chmod(0o755)
    assert res.exit_code == 2
    assert f"cannot write in the output folder {out}: permission denied" in res.output
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("forked", [False, True])
def test_disk_full_while_writing_outputs(full_disk, forked, monkeypatch):
    if forked:  # the GeoPackage written in a forked process, as for large screens
        monkeypatch.setattr(outputs, "FORK_MIN_ROWS", 1)
    out = full_disk / "o"
    res = _cli(*FIRMS, "--out", str(out))
    assert res.exit_code == 2
    msg = res.output.strip()
    assert msg.count("\n") == 0, msg
    assert re.fullmatch(
        rf"Error: cannot write {re.escape(str(out))}/firm_zones\.(gpkg|xlsx|csv): No space left "
        r"on device\. Fix: free some space or choose a folder on another disk",
        msg,
    ), msg
    assert list(full_disk.iterdir()) == []  # no partial output, no hidden leftovers


def test_disk_full_while_writing_the_map(full_disk, tmp_path):
    out = tmp_path / "o"
    mp = full_disk / "m.html"
    res = _cli(*FIRMS, "--out", str(out), "--map", str(mp))
    assert res.exit_code == 2
    assert res.output.strip() == (
        f"Error: cannot write {mp}: No space left on device. Fix: free some space or choose a "
        "folder on another disk"
    )
    assert not out.exists()
    assert list(full_disk.iterdir()) == []
