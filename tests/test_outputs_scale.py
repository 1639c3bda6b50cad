"""Default outputs at scale: the XLSX writer (cells as they were given, no live formula, same
bytes for the same tables) and the firm screen's workbook past its documented size (the
summary and the flagged firms, with a note naming the files that hold the full list)."""

from __future__ import annotations

import math
import subprocess
import sys
import zipfile

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import shapely

from sxzones.analyses.firm_zones import screen_firms
from sxzones.outputs import Publication, write_xlsx
from sxzones.rules import load_rules
from sxzones.runs.firms import XLSX_FULL_LIST_MAX, write_firm_outputs
from sxzones.xlsx import column_letter, sheet_titles

from .conftest import CATALOG

WORK = 4546


def test_column_letters():
    assert [column_letter(i) for i in (0, 25, 26, 27, 51, 52, 701, 702)] == [
        "A", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA",
    ]  # fmt: skip


def test_sheet_titles_excel_accepts(tmp_path):
    names = ["a/b:c", "x" * 40, "x" * 35, "", "A/B:C"]
    titles = sheet_titles(names)
    assert titles == ["a_b_c", "x" * 31, "x" * 29 + "~2", "Sheet", "A_B_C~2"]
    frames = {n: pd.DataFrame({"v": [k]}) for k, n in enumerate(names)}
    book = openpyxl.load_workbook(write_xlsx(frames, tmp_path / "t.xlsx"))
    assert book.sheetnames == titles
    assert [book[t]["A2"].value for t in titles] == [0, 1, 2, 3, 4]


def test_xlsx_cells_round_trip(tmp_path):
    frame = pd.DataFrame(
        {
            "text": ["太原 & <钢铁>", "  lead and trail  ", "a\x01b", None, "=SUM(A1)", "-3.5"],
            "num": [1.5, -0.0, math.nan, math.inf, 1e-7, 123456789012.25],
            "int": [1, 2, 3, 4, 5, -6],
            "flag": [True, False, True, False, True, False],
            "obj": [{"k": 1}, 2, "x", None, 3.5, (1, 2)],
            "geometry": [None] * 6,  # left out
        }
    )
    path = write_xlsx({"s" * 40: frame}, tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(path)["s" * 31]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("text", "num", "int", "flag", "obj")
    # a control character XML cannot hold shows as U+FFFD (the CSV keeps it)
    assert [r[0] for r in rows[1:]] == [
        "太原 & <钢铁>", "  lead and trail  ", "a\ufffdb", None, "=SUM(A1)", "-3.5",
    ]  # fmt: skip
    assert [r[1] for r in rows[1:]] == [1.5, 0, None, "inf", 1e-7, 123456789012.25]
    assert [r[2] for r in rows[1:]] == [1, 2, 3, 4, 5, -6]
    assert [r[3] for r in rows[1:]] == [True, False, True, False, True, False]
    assert [r[4] for r in rows[1:]] == ["{'k': 1}", "2", "x", None, "3.5", "(1, 2)"]
    assert ws["A6"].data_type == "s" and ws["A6"].quotePrefix  # text, never a formula
    assert not ws["A7"].quotePrefix  # a plain number written as text stays as it is
    assert ws["A1"].font.b  # header bold
    assert ws.freeze_panes == "A2"


def _screen(n_side: int) -> gpd.GeoDataFrame:
    """A real firm screen: a grid of firms around one hexagonal built-up area near Taiyuan,
    some inside, some within 20 km, some beyond."""
    cx, cy = 620_000.0, 4_190_000.0
    t = np.arange(6) * np.pi / 3
    area = shapely.Polygon(np.column_stack([cx + 3000 * np.cos(t), cy + 3000 * np.sin(t)]))
    builtup = gpd.GeoDataFrame(
        {"area_id": ["A0"], "name": ["城区"], "kind": ["city"]}, geometry=[area], crs=WORK
    )
    g = np.linspace(-40_000, 40_000, n_side)
    xy = np.array([(cx + dx, cy + dy) for dx in g for dy in g])
    firms = gpd.GeoDataFrame(
        {"firm_id": [f"F{i}" for i in range(len(xy))], "name": "厂", "industry": "steel"},
        geometry=shapely.points(xy),
        crs=WORK,
    )
    return screen_firms(firms, builtup, load_rules())


def _write(result, out, formats, **kw):
    names = [f"firm_zones.{f}" for f in formats] + ["rejects.csv"]
    with Publication(out, "firms", names) as pub:
        write_firm_outputs(result, pd.DataFrame({"source_row": []}), pub, formats, **kw)
        pub.publish()


def test_workbook_past_its_size_holds_summary_and_flagged_firms(tmp_path):
    result = _screen(9)  # 81 firms
    zones = result["zone"].value_counts().to_dict()
    assert set(zones) == {"inside", "within_20km", "beyond"}
    assert XLSX_FULL_LIST_MAX == 100_000  # the documented size (README)
    fmts = ["csv", "xlsx", "gpkg"]
    _write(result, tmp_path / "cut", fmts, xlsx_full_max=80)
    _write(result, tmp_path / "full", fmts, xlsx_full_max=81)
    full = pd.read_excel(tmp_path / "full" / "firm_zones.xlsx", sheet_name=None)
    assert list(full) == ["summary", "inside", "within_20km", "beyond"]  # in zone order
    assert sum(len(full[z]) for z in zones) == 81
    cut = pd.read_excel(tmp_path / "cut" / "firm_zones.xlsx", sheet_name=None)
    flagged = ["inside", "within_20km"]
    assert list(cut) == ["note", "summary", *flagged]
    assert {z: len(cut[z]) for z in flagged} == {z: zones[z] for z in flagged}
    note = " ".join(cut["note"]["note"])
    assert "firm_zones.csv and firm_zones.gpkg" in note and "of 81 firms" in note
    assert "80 firms" in note  # the size past which the workbook is a report
    assert cut["summary"].equals(full["summary"])  # the summary counts every firm
    # the full list is in the other files, whatever the workbook holds
    csv = pd.read_csv(tmp_path / "cut" / "firm_zones.csv", encoding="utf-8-sig")
    assert len(csv) == 81
    assert pyogrio.read_info(tmp_path / "cut" / "firm_zones.gpkg")["features"] == 81
    # no other file holds the full list: the workbook keeps it
    _write(result, tmp_path / "only", ["xlsx"], xlsx_full_max=80)
    only = pd.read_excel(tmp_path / "only" / "firm_zones.xlsx", sheet_name=None)
    assert "note" not in only and sum(len(only[z]) for z in zones) == 81


def test_workbook_report_in_chinese(tmp_path):
    result = _screen(9)
    _write(result, tmp_path / "zh", ["csv", "xlsx", "gpkg"], xlsx_full_max=80, lang="zh")
    book = pd.read_excel(tmp_path / "zh" / "firm_zones.xlsx", sheet_name=None)
    assert list(book)[:2] == ["说明", "汇总"] and len(book) == 4  # note, summary, 2 flagged
    note = " ".join(book["说明"]["说明"])
    assert "firm_zones.csv、firm_zones.gpkg" in note and "81 家企业" in note
    flagged = (result["zone"] != "beyond").sum()
    assert sum(len(f) for f in list(book.values())[2:]) == flagged


def test_workbook_is_deterministic(tmp_path):
    result = _screen(7)
    for name in ("a", "b"):
        _write(result, tmp_path / name, ["csv", "xlsx", "gpkg"], xlsx_full_max=10)
    for name in ("firm_zones.xlsx", "firm_zones.gpkg", "firm_zones.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    with zipfile.ZipFile(tmp_path / "a" / "firm_zones.xlsx") as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = zf.read("docProps/core.xml").decode()
    assert "2000-01-01T00:00:00Z" in core and "sxzones" in core


def test_firm_screen_without_a_map_imports_no_map_library(tmp_path):
    """Fixed cost: a whole `sxzones firms` process without --map or --figure never imports
    folium, branca or matplotlib (about 0.25 s of start-up)."""
    code = (
        "import sys\n"
        "from sxzones.cli import main\n"
        "sys.argv = ['sxzones', '--quiet', 'firms', '--firms', 'firms', '--builtup', "
        "'builtup_demonstration', '--catalog', sys.argv[1], '--out', sys.argv[2]]\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print(sorted(m for m in ('folium', 'branca', 'matplotlib') if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(CATALOG), str(tmp_path / "o")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "o" / "firm_zones.xlsx").exists()


def test_xlsx_rows_written_in_pieces_read_back_whole(tmp_path, monkeypatch):
    """Large sheets are rendered a piece at a time (a few million cells each); here pieces
    of four rows: row numbers, shared strings and inline text run on across the pieces."""
    from sxzones import xlsx

    monkeypatch.setattr(xlsx, "_CHUNK_CELLS", 12)  # 3 columns: 4 rows a piece
    frame = pd.DataFrame(
        {
            "zone": ["inside"] * 4 + ["beyond"] * 4 + ["inside"] * 4,  # shared strings
            "id": [f"F{i}" for i in range(12)],  # unique: inline strings
            "d": [i / 4 for i in range(12)],
        }
    )
    book = openpyxl.load_workbook(write_xlsx({"s": frame}, tmp_path / "t.xlsx"))
    rows = list(book["s"].iter_rows(values_only=True))
    assert rows[1:] == list(frame.itertuples(index=False, name=None))
    assert [c.coordinate for c in book["s"]["C"]][-1] == "C13"
    with zipfile.ZipFile(tmp_path / "t.xlsx") as zf:
        sst = zf.read("xl/sharedStrings.xml").decode()
    assert sst.count("<si>") == 2  # "inside" stored once, though in two pieces


def test_sheets_deflated_by_isal_and_read_by_any_zip_reader(tmp_path):
    """The sheet entries are ISA-L's deflate at level 1 (the known answer: the stored bytes
    are isal's stream of the sheet's XML), and zip, openpyxl and calamine read them."""
    from isal import isal_zlib
    from python_calamine import CalamineWorkbook

    frame = pd.DataFrame({"zone": ["inside", "beyond"] * 500, "d": np.arange(1000) / 8})
    path = write_xlsx({"s": frame}, tmp_path / "t.xlsx")
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None  # every entry's CRC checks
        info = zf.getinfo("xl/worksheets/sheet1.xml")
        xml = zf.read(info)
    raw = path.read_bytes()
    head = info.header_offset  # the local header: 30 bytes, the name, its own extra field
    start = head + 30 + int.from_bytes(raw[head + 26 : head + 28], "little")
    start += int.from_bytes(raw[head + 28 : head + 30], "little")
    co = isal_zlib.compressobj(1, isal_zlib.DEFLATED, -15)
    assert raw[start : start + info.compress_size] == co.compress(xml) + co.flush()
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("s").to_python()
    assert rows[1] == ["inside", 0.0] and rows[-1] == ["beyond", 999 / 8] and len(rows) == 1001


def _children() -> set[int]:
    """The processes this one forked that are still there (zombies too)."""
    import glob
    import os

    pids: set[int] = set()
    for f in glob.glob(f"/proc/{os.getpid()}/task/*/children"):
        with open(f, encoding="ascii") as fh:
            pids |= {int(p) for p in fh.read().split()}
    return pids


def test_gpkg_written_in_a_forked_process_has_the_same_bytes(tmp_path):
    """Large screens write their GeoPackage in a forked process (GDAL holds the GIL while it
    writes): the files are the same bytes as those written on a thread, no child is left."""
    import os

    import pytest

    from sxzones.outputs import FORK_MIN_ROWS, can_fork

    assert FORK_MIN_ROWS == 50_000 and can_fork()  # Linux: the path users run at scale
    result = _screen(9)
    fmts = ["csv", "xlsx", "gpkg"]
    before = _children()  # (other tests may have left processes of their own)
    _write(result, tmp_path / "thread", fmts, fork_min_rows=10**9)
    _write(result, tmp_path / "fork", fmts, fork_min_rows=1)
    for name in ("firm_zones.gpkg", "firm_zones.xlsx", "firm_zones.csv", "manifest.json"):
        assert (tmp_path / "fork" / name).read_bytes() == (tmp_path / "thread" / name).read_bytes()
    assert pyogrio.read_info(tmp_path / "fork" / "firm_zones.gpkg")["features"] == 81
    # a fork refused (a process of many GB: the kernel will not promise a copy): on a thread
    import errno

    def no_fork() -> int:
        raise OSError(errno.ENOMEM, "Cannot allocate memory")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "fork", no_fork)
        _write(result, tmp_path / "nofork", fmts, fork_min_rows=1)
    gpkg = (tmp_path / "nofork" / "firm_zones.gpkg").read_bytes()
    assert gpkg == (tmp_path / "thread" / "firm_zones.gpkg").read_bytes()
    # never from another thread (a web server's worker: its other threads may be in GDAL)
    from concurrent.futures import ThreadPoolExecutor

    from sxzones.outputs import gpkg_in_child

    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(gpkg_in_child, result, tmp_path / "t.gpkg", layer="t", min_rows=1)
        assert (
            job.result() is None and gpkg_in_child(result, tmp_path / "t.gpkg", layer="t") is None
        )
    assert _children() <= before  # every child this test forked was reaped


def test_child_job_value_error_and_death(tmp_path):
    """A forked job's value comes back; its error is raised in the parent as raised; a child
    killed (as by the kernel's out-of-memory killer) is a clear OutputError; a cancelled
    child is stopped and reaped."""
    import os
    import signal
    import time

    import pytest

    from sxzones.errors import OutputError
    from sxzones.outputs import ChildJob

    assert ChildJob(lambda: {"rows": 81, "pid": os.getpid()}).result()["rows"] == 81
    assert ChildJob(lambda: os.getpid()).result() != os.getpid()  # it ran in another process

    def refuse() -> None:
        raise OutputError("cannot write x.gpkg: No space left on device. Fix: free some space")

    with pytest.raises(OutputError, match="No space left on device"):
        ChildJob(refuse).result()

    def unpicklable() -> None:
        raise ValueError(lambda: None)

    with pytest.raises(OutputError, match="ValueError"):
        ChildJob(unpicklable).result()

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(OutputError, match="stopped by signal 9.*memory"):
        ChildJob(die).result()

    slow = ChildJob(lambda: time.sleep(60))
    pid = slow.pid
    slow.cancel()
    assert slow.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stopped and reaped: no such process
