"""One run, one set of files: staging, the manifest, the lock, leftovers of killed runs,
--overwrite for files outside --out, and one report file per project."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sxzones import outputs
from sxzones.cli import cli
from sxzones.outputs import LOCK_NAME, STAGING_PREFIX, Publication, write_csv
from sxzones.reports import report_name, report_names

from .conftest import CATALOG

FIRMS = ["firms", "--builtup", "builtup_demonstration", "--catalog", str(CATALOG)]


def _cli(*args: str):
    return CliRunner().invoke(cli, list(args))


def _firms_csv(path: Path, n: int, seed: int = 0) -> Path:
    """``n`` steel firms at seeded random points inside Shanxi (WGS84)."""
    rng = np.random.default_rng(seed)
    pd.DataFrame(
        {
            "firm_id": [f"F{i:07d}" for i in range(n)],
            "name": [f"firm {i}" for i in range(n)],
            "industry": "steel",
            "lon": rng.uniform(111.5, 113.5, n).round(6),
            "lat": rng.uniform(36.5, 38.5, n).round(6),
        }
    ).to_csv(path, index=False)
    return path


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def assert_one_consistent_set(out: Path) -> dict:
    """The folder holds exactly the files its manifest names, with those sizes, hashes and
    row counts, and nothing hidden."""
    doc = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    listed = {f["name"]: f for f in doc["files"]}
    present = {p.name for p in out.iterdir()}
    assert present == {*listed, "manifest.json"}, present
    for name, f in listed.items():
        assert (out / name).stat().st_size == f["size"]
        assert _sha(out / name) == f["sha256"]
    csv = out / "firm_zones.csv"
    if csv.exists():
        rows = len(pd.read_csv(csv, encoding="utf-8-sig"))
        assert listed["firm_zones.csv"]["rows"] == rows
    xlsx = out / "firm_zones.xlsx"
    if csv.exists() and xlsx.exists():
        sheets = pd.read_excel(xlsx, sheet_name=None)
        firm_sheets = [k for k in sheets if k not in ("summary", "sources")]  # sources: layers
        assert sum(len(sheets[k]) for k in firm_sheets) == rows
    return doc


def test_manifest_names_the_run_inputs_rows_and_files(tmp_path):
    firms = _firms_csv(tmp_path / "firms.csv", 40)
    out = tmp_path / "o"
    res = _cli(*FIRMS, "--firms", str(firms), "--crs", "wgs84", "--out", str(out))
    assert res.exit_code == 0, res.output
    doc = assert_one_consistent_set(out)
    assert doc["analysis"] == "firms"
    assert [f["name"] for f in doc["files"]] == [
        "firm_zones.csv",
        "firm_zones.xlsx",
        "firm_zones.gpkg",
        "rejects.csv",
    ]
    assert [f["rows"] for f in doc["files"]] == [40, 40, 40, 0]
    mine = next(i for i in doc["inputs"] if i["role"] == "firms")
    assert mine["sha256"] == _sha(firms)
    assert (mine["rows_read"], mine["loaded"], mine["status"]) == (40, 40, "own")
    assert len(doc["run_id"]) == 16
    # the same command again gives the same bytes, manifest included
    first = {p.name: _sha(p) for p in out.iterdir()}
    res = _cli(*FIRMS, "--firms", str(firms), "--crs", "wgs84", "--out", str(out), "--overwrite")
    assert res.exit_code == 0, res.output
    assert {p.name: _sha(p) for p in out.iterdir()} == first


@pytest.mark.slow
def test_a_killed_run_leaves_no_mixed_folder_and_a_second_run_is_refused(tmp_path):
    """A real `sxzones firms` is killed with SIGKILL while it writes: the folder keeps the
    previous run's complete set; a second run while it works is refused; the next run cleans
    up and leaves one consistent set."""
    out = tmp_path / "o"
    small = _firms_csv(tmp_path / "small.csv", 50)
    res = _cli(*FIRMS, "--firms", str(small), "--crs", "wgs84", "--out", str(out))
    assert res.exit_code == 0, res.output
    before = {p.name: _sha(p) for p in out.iterdir()}
    big = _firms_csv(tmp_path / "big.csv", 60_000, seed=1)
    args = [*FIRMS, "--firms", str(big), "--crs", "wgs84", "--out", str(out), "--overwrite"]
    # the map (after the tables) keeps the run busy long enough to be killed mid-run, however
    # fast the tables are written
    args += ["--map", str(tmp_path / "big.html")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sxzones.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        csv_before = (out / "firm_zones.csv").stat().st_mtime_ns
        while time.monotonic() < deadline and proc.poll() is None:
            staged = list(out.glob(f"{STAGING_PREFIX}*/firm_zones.csv"))
            if staged or (out / "firm_zones.csv").stat().st_mtime_ns != csv_before:
                break  # the CSV is written, the XLSX is being written
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        # a second run into the same folder while the first works: refused, exit 2
        second = _cli(*args)
        assert second.exit_code == 2
        assert "is being written by another sxzones run" in second.output
        assert f"process {proc.pid}" in second.output
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
    # the killed run left the previous set untouched (plus its leftovers, hidden)
    visible = {p.name: _sha(p) for p in out.iterdir() if not p.name.startswith(".")}
    assert visible == before
    assert_one_consistent_set_ignoring_hidden(out)
    assert (out / LOCK_NAME).exists()  # a stale lock: its process is dead
    assert list(out.glob(f"{STAGING_PREFIX}*/firm_zones.csv"))  # killed while it wrote
    # the next run takes the stale lock over, cleans the leftovers, writes one set
    res = _cli(*FIRMS, "--firms", str(small), "--crs", "wgs84", "--out", str(out), "--overwrite")
    assert res.exit_code == 0, res.output
    assert_one_consistent_set(out)


def assert_one_consistent_set_ignoring_hidden(out: Path) -> None:
    doc = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for f in doc["files"]:
        assert _sha(out / f["name"]) == f["sha256"]


def test_leftovers_of_a_killed_run_are_cleaned_by_the_next(tmp_path):
    """A staging folder that was not complete and hidden temporary files of dead writers
    (what SIGKILL leaves) are removed; the old set is never mixed with partial files."""
    firms = _firms_csv(tmp_path / "firms.csv", 30)
    out = tmp_path / "o"
    base = [*FIRMS, "--firms", str(firms), "--crs", "wgs84", "--out", str(out)]
    assert _cli(*base).exit_code == 0
    dead = _dead_pid()
    staging = out / f"{STAGING_PREFIX}{dead}"
    staging.mkdir()
    (staging / "firm_zones.csv").write_text("partial", encoding="utf-8")
    temp = out / f".firm_zones.{dead}.abcd1234.xlsx"
    temp.write_bytes(b"x" * 1000)
    journal = out / f".firm_zones.{dead}.abcd1234.gpkg-journal"
    journal.write_bytes(b"x")
    older = out / ".firm_zones.k2j4_x9q.gpkg"  # what a version before process ids left
    older.write_bytes(b"x" * 1000)
    mine = out / ".notes.txt"  # not ours: stays
    mine.write_text("mine", encoding="utf-8")
    (out / LOCK_NAME).write_text(f"{dead} {os.uname().nodename}\n", encoding="utf-8")
    res = _cli(*base, "--overwrite")
    assert res.exit_code == 0, res.output
    assert not staging.exists() and not temp.exists() and not journal.exists()
    assert not older.exists() and mine.read_text(encoding="utf-8") == "mine"
    assert not (out / LOCK_NAME).exists()
    mine.unlink()
    assert_one_consistent_set(out)


def test_a_complete_staging_folder_of_a_killed_run_is_published_whole(tmp_path, monkeypatch):
    """Killed between staging everything and the last rename: the next run finishes the
    publication (the staged set, manifest last) before it starts."""
    out = tmp_path / "o"
    with Publication(out, "demo", ["a.csv", "b.csv"]) as pub:
        write_csv(pd.DataFrame({"v": [1]}), pub.stage("a.csv", rows=1))
        write_csv(pd.DataFrame({"v": [1]}), pub.stage("b.csv", rows=1))
        pub.publish()
    dead = _dead_pid()
    staging = out / f"{STAGING_PREFIX}{dead}"
    with Publication(out, "demo", ["a.csv", "b.csv"], overwrite=True) as pub:
        write_csv(pd.DataFrame({"v": [2, 2]}), pub.stage("a.csv", rows=2))
        write_csv(pd.DataFrame({"v": [2, 2]}), pub.stage("b.csv", rows=2))
        # stop where a SIGKILL could: everything staged, manifest staged, nothing moved
        with monkeypatch.context() as m:
            m.setattr(outputs, "_finish", lambda out, staging: None)
            pub.publish()
        pub.staging.rename(staging)  # as if its process had another id, now dead
    assert pd.read_csv(out / "a.csv", encoding="utf-8-sig")["v"].tolist() == [1]
    with Publication(out, "demo", ["c.csv"]) as pub:  # the next run, into the same folder
        assert not staging.exists()
        assert pd.read_csv(out / "a.csv", encoding="utf-8-sig")["v"].tolist() == [2, 2]
        assert pd.read_csv(out / "b.csv", encoding="utf-8-sig")["v"].tolist() == [2, 2]
        doc = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        assert [f["rows"] for f in doc["files"]] == [2, 2]


def test_a_live_lock_is_refused_and_a_stale_one_taken_over(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / LOCK_NAME).write_text(f"{holder.pid} {os.uname().nodename}\n", encoding="utf-8")
        res = _cli(*FIRMS, "--firms", "firms", "--out", str(out))
        assert res.exit_code == 2
        assert f"being written by another sxzones run (process {holder.pid}" in res.output
        assert "Traceback" not in res.output
        assert {p.name for p in out.iterdir()} == {LOCK_NAME}
    finally:
        holder.kill()
        holder.wait()
    res = _cli(*FIRMS, "--firms", "firms", "--out", str(out))  # its process is gone now
    assert res.exit_code == 0, res.output
    assert_one_consistent_set(out)


def test_files_outside_out_obey_overwrite(tmp_path):
    """--map, --figure, layers validate --rejects and a recipe's map refuse to replace a file
    without --overwrite (exit 2, nothing written); with it they are replaced."""
    mp = tmp_path / "m.html"
    mp.write_text("mine", encoding="utf-8")
    out = tmp_path / "o"
    res = _cli(*FIRMS, "--firms", "firms", "--out", str(out), "--map", str(mp))
    assert res.exit_code == 2
    assert f"{mp} exists. Fix: pass --overwrite" in res.output
    assert mp.read_text(encoding="utf-8") == "mine" and not out.exists()
    fig = tmp_path / "f.png"
    (tmp_path / "f.pdf").write_text("mine", encoding="utf-8")
    res = _cli(*FIRMS, "--firms", "firms", "--out", str(out), "--figure", str(fig))
    assert res.exit_code == 2
    assert "f.pdf exists" in res.output and not fig.exists() and not out.exists()
    res = _cli(*FIRMS, "--firms", "firms", "--out", str(out), "--map", str(mp), "--overwrite")
    assert res.exit_code == 0, res.output
    assert mp.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    doc = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert [f["name"] for f in doc["external_files"]] == [str(mp)]
    # layers validate --rejects
    csv = tmp_path / "f.csv"
    csv.write_text("firm_id,name,industry,lon,lat\n1,a,steel,112.5,37.8\n", encoding="utf-8")
    rej = tmp_path / "rejects.csv"
    rej.write_text("mine", encoding="utf-8")
    args = ["layers", "validate", str(csv), "--role", "firms", "--crs", "wgs84"]
    res = _cli(*args, "--rejects", str(rej))
    assert res.exit_code == 2 and f"{rej} exists" in res.output
    assert rej.read_text(encoding="utf-8") == "mine"
    assert _cli(*args, "--rejects", str(rej), "--overwrite").exit_code == 0
    assert rej.read_text(encoding="utf-8-sig").startswith("layer,source_row")
    # a recipe received from someone else may not replace a file
    victim = tmp_path / "precious.html"
    victim.write_text("mine", encoding="utf-8")
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        f'analysis = "overview"\ncatalog = "{CATALOG}"\nout = "{tmp_path / "ro"}"\n'
        f'[inputs]\nlayers = ["builtup_demonstration"]\n[options]\nmap = "{victim}"\n',
        encoding="utf-8",
    )
    res = _cli("run", str(recipe))
    assert res.exit_code == 2 and f"{victim} exists" in res.output
    assert victim.read_text(encoding="utf-8") == "mine"


def test_report_names_are_unique_and_stable():
    assert report_name("D1") == "report-D1.html"  # ids that need no cleaning keep their name
    names = report_names(["A/B", "A_B", "A.B", "P1", "p1"])
    assert len(set(names)) == len({n.casefold() for n in names}) == 5
    assert names[1] == "report-A_B.html"
    assert names[0].startswith("report-A_B-") and names[2].startswith("report-A_B-")
    assert report_names(["A/B"]) == [names[0]]  # the same id, the same file, in any batch


def test_colliding_report_ids_get_distinct_reports_and_overwrite_removes_old_ones(tmp_path):
    projects = tmp_path / "p.csv"
    projects.write_text(
        "project_id,industry,lon,lat\n"
        "A/B,pv,112.55,37.87\nA_B,pv,112.56,37.88\nA.B,pv,112.57,37.89\n",
        encoding="utf-8",
    )
    out = tmp_path / "o"
    base = ["check", "--projects", str(projects), "--crs", "wgs84", "--catalog", str(CATALOG)]
    res = _cli(*base, "--out", str(out))
    assert res.exit_code == 0, res.output
    reports = sorted(out.glob("report-*.html"))
    assert len(reports) == 3
    shown = set()
    for r in reports:
        text = r.read_text(encoding="utf-8")
        shown |= {pid for pid in ("A/B", "A_B", "A.B") if f"Site check: {pid}</h1>" in text}
    assert shown == {"A/B", "A_B", "A.B"}
    # without --overwrite: refused; with it, and one project left, the others' reports go
    projects.write_text("project_id,industry,lon,lat\nA_B,pv,112.56,37.88\n", encoding="utf-8")
    assert _cli(*base, "--out", str(out)).exit_code == 2
    res = _cli(*base, "--out", str(out), "--overwrite")
    assert res.exit_code == 0, res.output
    assert [p.name for p in out.glob("report-*.html")] == ["report-A_B.html"]
    assert_one_consistent_set(out)


def test_overwrite_removes_only_the_previous_runs_unchanged_files(tmp_path):
    out = tmp_path / "o"
    with Publication(out, "demo", ["a.csv", "b.csv", "c.csv"]) as pub:
        for name in ("a.csv", "b.csv", "c.csv"):
            write_csv(pd.DataFrame({"v": [1]}), pub.stage(name, rows=1))
        pub.publish()
    (out / "b.csv").write_text("edited by hand", encoding="utf-8")
    with Publication(out, "demo", ["a.csv"], overwrite=True) as pub:
        write_csv(pd.DataFrame({"v": [2]}), pub.stage("a.csv", rows=1))
        pub.publish()
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "b.csv", "manifest.json"]
    assert (out / "b.csv").read_text(encoding="utf-8") == "edited by hand"
    doc = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert [f["name"] for f in doc["files"]] == ["a.csv"] and "replaces" not in doc
