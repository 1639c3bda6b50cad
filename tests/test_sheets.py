"""Sheets read straight from calamine (:mod:`sxzones.layers.sheets`) hold the same cells as
``pandas.read_excel(header=None, dtype=object)``, which the reader used before: values,
types, missing cells and rows, on sheets of every kind of cell."""

from __future__ import annotations

import datetime as dt

import numpy as np
import openpyxl
import pandas as pd
import pytest

from sxzones.layers.sheets import NA_TEXT, sheet_cells, sheet_names
from sxzones.outputs import write_xlsx


def _pandas(path, sheet, nrows=None):
    return pd.read_excel(
        path, sheet_name=sheet, header=None, dtype=object, engine="calamine", nrows=nrows
    )


def _same(path, sheet, nrows=None):
    fast, _ = sheet_cells(path, sheet, nrows)
    slow = _pandas(path, sheet, nrows)
    pd.testing.assert_frame_equal(fast, slow)
    kinds = fast.map(lambda v: type(v).__name__)  # not only equal: the same types
    assert kinds.equals(slow.map(lambda v: type(v).__name__))
    return fast


@pytest.fixture
def book(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "企业"
    ws.append(["山西省重点企业名单"])  # a title row
    ws.append([None, "企业名称", "行业", "经度", "纬度", "投产", "时刻", "在产", "编号"])
    rows = [
        [None, "太钢", "钢铁", 112.55, 37.87, dt.datetime(2019, 6, 1), dt.time(8, 30), True, 3.0],
        [None, "NA", "焦化", 112, 38, dt.date(2020, 1, 2), None, False, 12345678901],
        [None, None, None, None, None, None, None, None, None],  # a blank row between
        [None, " ", "null", "112.6", "37.9", "2021年", "", "是", "007"],
        [None, *sorted(NA_TEXT)[:8]],
        [None, *sorted(NA_TEXT)[8:16]],
        [None, *sorted(NA_TEXT)[16:], -0.0, 1e-7, float(2**53), "=1+2", "  lead", "x\ny"],
    ]
    for r in rows:
        ws.append(r)
    ws.merge_cells("C3:C4")
    # "=1+2" as text (openpyxl would write a formula with no saved value, which the reader
    # refuses: tests/test_minor9.py)
    ws.cell(row=9, column=8).data_type = "s"
    one = wb.create_sheet("一列")  # one column, blank rows kept
    for v in ["行业", "钢铁", None, " ", "焦化", "NA", 3, None]:
        one.append([v])
    wb.create_sheet("空")
    late = wb.create_sheet("late")  # data starting at C5
    late["C5"], late["D5"], late["C6"], late["D7"] = "x", "y", 1.5, "z"
    path = tmp_path / "b.xlsx"
    wb.save(path)
    return path


def test_sheet_cells_equal_pandas_read_excel(book):
    assert sheet_names(book) == ["企业", "一列", "空", "late"]
    cells = _same(book, 0)
    assert cells.shape == (9, 10)
    assert cells.iat[2, 2] == "钢铁" and cells.iat[3, 1] != cells.iat[3, 1]  # "NA": missing
    assert cells.iat[3, 8] == 12345678901 and type(cells.iat[3, 8]) is int
    assert cells.iat[2, 8] == 3 and type(cells.iat[2, 8]) is int  # a whole float
    for sheet in ("企业", "一列", "空", "late", 1, 3):
        _same(book, sheet)
    for nrows in (1, 3, 50):
        _same(book, 0, nrows)
    assert _same(book, "一列")[0].tolist()[-3:] == ["焦化", np.nan, 3]


def test_sheet_cells_merged_ranges_and_missing_sheets(book):
    _, merged = sheet_cells(book, "企业")
    assert merged == [(2, 2, 3, 2)]  # C3:C4, 0-based
    with pytest.raises(ValueError, match="Worksheet named '无' not found"):
        sheet_cells(book, "无")
    with pytest.raises(ValueError, match="index 7"):
        sheet_cells(book, 7)


def test_sheet_cells_of_a_large_written_workbook(tmp_path):
    """A workbook as sxzones and other tools write it: shared and inline strings, numbers."""
    rng = np.random.default_rng(7)
    n = 3000
    frame = pd.DataFrame(
        {
            "企业编号": [f"F{i:05d}" for i in range(n)],
            "行业": rng.choice(["钢铁", "焦化", "水泥", "NA", ""], n),
            "经度": rng.uniform(110, 114, n).round(6),
            "纬度": rng.uniform(34, 40, n).round(6),
            "产能": rng.integers(0, 500, n),
        }
    )
    path = write_xlsx({"firms": frame}, tmp_path / "f.xlsx")
    cells = _same(path, 0)
    assert len(cells) == n + 1 and cells.iat[0, 1] == "行业"
