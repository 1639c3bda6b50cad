"""A spreadsheet's sheet as a frame of its cells, read straight from calamine.

``pandas.read_excel(header=None, dtype=object, engine="calamine")`` gives the cells of a
sheet as they are, but converts them one by one in Python and then passes them through the
text parser: for a 200,000-row list of firms (a million cells) that took 1.2 s beside the
0.8 s calamine needs to parse the sheet. :func:`sheet_cells` gives the same frame (the same
values, types, missing cells and rows; a test holds it equal to pandas' on sheets of every
kind of cell) column by column, and the sheet's merged ranges from the same parse, where
they were read from the sheet's XML a second time.
"""

from __future__ import annotations

import re
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
import python_calamine

from sxzones.errors import SxzonesError

__all__ = ["NA_TEXT", "UnsavedFormulaError", "sheet_cells", "sheet_names", "worksheets"]

#: Cell texts pandas reads as missing by default (its ``na_values``): the reader has always
#: read spreadsheets so, and a cell holding one of them is an empty cell to it.
NA_TEXT = frozenset(
    {
        "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
        "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
    }
)  # fmt: skip


class UnsavedFormulaError(SxzonesError):
    """Formula cells without a saved value: a workbook written by a program (openpyxl, a
    web system's export) and never opened in a spreadsheet, which computes and saves them.
    Not a ``ValueError``: the readers would call it "cannot be read as an Excel workbook"."""


_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
}
_FORMULA = re.compile(rb"<f[\s>/]")  # a formula element: <f>, <f t="shared" .../>
_SAVED = re.compile(rb"<v>[^<]+</v>")
_TEXT_TYPE = re.compile(rb'\bt="(?:str|s|inlineStr)"')
_REF = re.compile(rb'\br="([A-Z]+\d+)"')


def _sheet_xml(book: zipfile.ZipFile, sheet: str | int) -> str | None:
    """The part name of a worksheet (by name or position) of an .xlsx/.xlsm package."""
    wb = ET.fromstring(book.read("xl/workbook.xml"))
    sheets = wb.findall("m:sheets/m:sheet", _NS)
    found = [e for e in sheets if e.get("name") == sheet] if isinstance(sheet, str) else []
    if isinstance(sheet, int) and 0 <= sheet < len(sheets):
        found = [sheets[sheet]]
    if not found:
        return None
    rid = found[0].get(f"{{{_NS['r']}}}id")
    rels = ET.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    target = next((r.get("Target", "") for r in rels if r.get("Id") == rid), "")
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def unsaved_formulas(path: Path, sheet: str | int) -> list[str]:
    """The cells (``C2``) of a sheet that hold a formula and no saved value, in order: a
    spreadsheet saves a formula's value beside it, a program writing the file may not, and
    every reader then sees an empty cell. Only .xlsx/.xlsm packages (the formats programs
    write); a formula whose saved value is the empty text (``t="str"``) is saved.

    The sheet's XML is read a second time only when it holds a formula at all (a search
    for ``<f`` in the decompressed XML, a chunk at a time: about 0.1 s for 200,000 rows)."""
    if not zipfile.is_zipfile(path):
        return []
    with zipfile.ZipFile(path) as book:
        try:
            part = _sheet_xml(book, sheet)
            if part is None or part not in book.namelist():
                return []
            with book.open(part) as fh:
                tail, seen = b"", False
                while chunk := fh.read(1 << 20):
                    if _FORMULA.search(tail + chunk):
                        seen = True
                        break
                    tail = chunk[-2:]
            if not seen:
                return []
            xml = book.read(part)
        except (KeyError, ET.ParseError, zipfile.BadZipFile):
            return []  # calamine read it: its own structure is not ours to judge
    out: list[str] = []
    end = 0
    for m in _FORMULA.finditer(xml):
        if m.start() < end:  # a second <f in one cell (not written; in case)
            continue
        start = xml.rfind(b"<c ", 0, m.start())
        end = xml.find(b"</c>", m.end())
        end = len(xml) if end < 0 else end
        head_end = xml.find(b">", start)
        attrs, inner = xml[start:head_end], xml[head_end:end]
        if _SAVED.search(inner) or (b"<v" in inner and _TEXT_TYPE.search(attrs)):
            continue
        ref = _REF.search(attrs)
        out.append(ref.group(1).decode() if ref else "?")
    return out


def _cell(value: Any) -> Any:
    """One cell as pandas gives it: a whole float as an int, a date as a datetime."""
    if type(value) is float:
        return int(value) if value.is_integer() else value
    if type(value) is date:
        return datetime(value.year, value.month, value.day)
    return value


def _column(values: np.ndarray) -> np.ndarray:
    """One column's cells: converted (:func:`_cell`) where any is not text, the texts of
    :data:`NA_TEXT` as missing (NaN)."""
    kinds = set(map(type, values))
    arr = np.empty(len(values), dtype=object)
    arr[:] = values if kinds <= {str} else [_cell(v) for v in values]
    if str in kinds:
        missing = pd.Series(arr, dtype=object, copy=False).isin(NA_TEXT).to_numpy()
        arr[missing] = np.nan
    return arr


def sheet_names(path: Path) -> list[str]:
    """The names of a workbook's sheets, in order."""
    return [str(n) for n in python_calamine.CalamineWorkbook.from_path(str(path)).sheet_names]


def worksheets(path: Path) -> tuple[list[str], list[str]]:
    """The names of a workbook's worksheets, in order, and those of them that are hidden (a
    填表说明 template with an example row): the readers choose among the visible ones."""
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    meta = [m for m in book.sheets_metadata if m.typ == python_calamine.SheetTypeEnum.WorkSheet]
    hidden = [str(m.name) for m in meta if m.visible != python_calamine.SheetVisibleEnum.Visible]
    return [str(m.name) for m in meta], hidden


def sheet_cells(
    path: Path, sheet: str | int, nrows: int | None = None
) -> tuple[pd.DataFrame, list[tuple[int, int, int, int]]]:
    """A sheet (by name or position) as a frame of its cells, no header, columns numbered
    from 0, every cell as ``pandas.read_excel(header=None, dtype=object)`` gives it; and its
    merged ranges as 0-based (first row, first column, last row, last column).

    Raises
    ------
    ValueError
        No sheet of that name or position.
    python_calamine.CalamineError, python_calamine.PasswordError
        The workbook cannot be read.
    UnsavedFormulaError
        Formula cells without a saved value (:func:`unsaved_formulas`), the whole sheet
        read: their rows would be read with empty cells ("coordinates missing").
    """
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    if isinstance(sheet, str):
        if sheet not in book.sheet_names:
            raise ValueError(f"Worksheet named '{sheet}' not found")
        data = book.get_sheet_by_name(sheet)
    else:
        if not 0 <= sheet < len(book.sheet_names):
            raise ValueError(f"Worksheet index {sheet} is invalid")
        data = book.get_sheet_by_index(sheet)
    rows = data.to_python(skip_empty_area=False, nrows=nrows)
    # the whole sheet read (not the header search's first rows), with an empty cell: is
    # it a formula without its value?
    if nrows is None and any("" in r for r in rows):
        unsaved = unsaved_formulas(path, sheet)
        if unsaved:
            shown = ", ".join(unsaved[:5]) + (
                f" and {len(unsaved) - 5} more" if len(unsaved) > 5 else ""
            )
            raise UnsavedFormulaError(
                f"{path}: sheet {data.name!r}, cell(s) {shown}: a formula with no saved value "
                "(the workbook was written by a program and never opened), read as an empty "
                "cell. Fix: open and save it in Excel/WPS (the formulas are then computed and "
                "saved), then run again"
            )
    merged = [(r0, c0, r1, c1) for (r0, c0), (r1, c1) in data.merged_cell_ranges or []]
    if not rows or not rows[0]:
        return pd.DataFrame(), merged
    width = max(len(r) for r in rows)
    if any(len(r) != width for r in rows):  # calamine's rows are of one width; in case not
        rows = [[*r, *[""] * (width - len(r))] for r in rows]
    grid = np.array(rows, dtype=object)  # the cells as they are, no conversion
    for k in range(grid.shape[1]):  # a column at a time (zip(*rows) took 0.25 s at 200,000)
        grid[:, k] = _column(grid[:, k])
    return pd.DataFrame(grid, dtype=object), merged
