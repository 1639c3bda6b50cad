"""The equipment table (role ``equipment``): read, map headers, resolve values, reject.

An equipment table is a CSV/TSV/XLSX file with one row per unit; it has no geometry of its
own (units are placed at their firm's location by the run). Headers may be the canonical
field names, the Chinese headers the rules file lists (设备编号, 企业代码 / 统一社会信用代码,
设备类型, 炭化室高度, 有效容积, 公称容量, 产品, 炉型, 超低排放, 状态 ...), or any field
mapped with ``--field CANONICAL=SOURCE``. Values of enumerated fields are resolved through
the rules' vocabularies (焦炉 -> ``coke_oven``, 半封闭 -> ``semi_closed``).

Rows are rejected, each with its reason (the value quoted), into the same rejects table as
every layer: a missing unit id, firm id or equipment type; an equipment type or status the
vocabulary does not know; a product, furnace form, sinter type or yes/no value the vocabulary
does not know, a size that is not a plausible non-negative number, or a commissioning date
that cannot be read, where a rule that applies to the unit needs the field (elsewhere the
unit is kept, the field unknown, said in ``reading_notes``); a unit number given twice for
one firm. A size left empty is kept (the unit is then ``unassessed`` by rules that need it).
Input rows = loaded rows + rejected rows.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import python_calamine

from sxzones.errors import LayerError, NoFeatureError
from sxzones.layers.readers import (
    HEADER_SEARCH_ROWS,
    ROW,
    _check_file,
    _read_table,
    blank_note,
    blank_rows,
)
from sxzones.layers.schemas import Provenance
from sxzones.layers.sheets import sheet_cells, worksheets
from sxzones.layers.validate import Finding, LayerReport, read_findings

if TYPE_CHECKING:
    from sxzones.analyses.phaseout import EquipmentRules

__all__ = [
    "GROUP_TOTAL",
    "NUMERIC_FIELDS",
    "SIGNIFICANT_DIGITS",
    "UNITS",
    "VOCAB_FIELDS",
    "as_written",
    "read_equipment",
]

_TABLES = {".csv", ".tsv", ".xlsx", ".xls", ".xlsm", ".ods"}
_BOOKS = {".xlsx", ".xls", ".xlsm", ".ods"}
#: Provenance of a table named ``*_demonstration`` (the bundled one is made by
#: layers/shanxi/build_equipment.py): units invented by rule for real plants.
DEMONSTRATION = Provenance(
    source="units derived by rule from GEM steel and coal-power plants (build_equipment.py)",
    licence="CC BY 4.0",
    version="sxzones 0.1.0",
    status="demonstration",
    notes="demonstration: derived by rule, not official",
)
REQUIRED = ("unit_id", "firm_id", "equipment_type")
#: Size fields (numbers; a missing one makes a rule that needs it unknown).
NUMERIC_FIELDS = ("chamber_height_m", "volume_m3", "capacity_t", "capacity_10kt_per_year")
#: Enumerated field -> the vocabulary of the rules file that resolves its values.
VOCAB_FIELDS = {
    "equipment_type": "types",
    "product": "products",
    "furnace_form": "furnace_forms",
    "sinter_type": "sinter_types",
    "status": "statuses",
    "ultra_low_emission": "yes_no",
}
#: Size fields that are one unit's own size: a value merged over several units' rows may be
#: each unit's or their total, so it is read as no unit's (a rule that needs it cannot assess
#: them). Chamber height is a dimension with no total reading: filled, as names are.
GROUP_AMBIGUOUS = ("volume_m3", "capacity_t")
#: The additive quantity: a value merged over several units is the group's total, counted
#: once (on the group's first unit; the others name it in ``capacity_counted_on``).
GROUP_TOTAL = "capacity_10kt_per_year"
#: Per size field: its unit as said in messages, and the units a value or a header may be
#: written in (normalised: NFKC, case-folded, no spaces) with the factor to the field's unit.
#: Only conversions that are certain: a length, a mass; a capacity is yearly by nature (万吨
#: and 吨 in a capacity are 万吨/年 and 吨/年, said).
UNITS: dict[str, tuple[str, dict[str, float]]] = {
    "chamber_height_m": (
        "m",
        {"m": 1.0, "米": 1.0, "公尺": 1.0, "cm": 0.01, "厘米": 0.01, "mm": 0.001, "毫米": 0.001},
    ),
    "volume_m3": ("m³", {"m3": 1.0, "立方米": 1.0, "立方": 1.0, "方": 1.0}),
    "capacity_t": (
        "t",
        {"t": 1.0, "吨": 1.0, "kg": 0.001, "千克": 0.001, "公斤": 0.001, "万吨": 1e4, "万t": 1e4},
    ),
    "capacity_10kt_per_year": (
        "万吨/年",
        {
            **dict.fromkeys(["万吨/年", "万t/a", "万t/年", "万吨/a", "万吨", "万t"], 1.0),
            **dict.fromkeys(["吨/年", "t/a", "t/年", "吨/a", "吨", "t"], 1e-4),
            **dict.fromkeys(["百万吨/年", "mt/a", "百万吨"], 100.0),
        },
    ),
}
#: The precision sizes are read, compared with the plan's limits and written at: the 15
#: significant digits a spreadsheet keeps and shows. A cell computed as =4.4-0.1 holds the
#: binary 4.3000000000000007, which Excel shows (and the plan means) as 4.3: read as 4.3, a
#: 4.3 m oven. A value within half a unit of the 15th digit of a limit is the limit, decided
#: as written (4.3 ≤ 4.3 holds); 4.31 or 4.3000001 are not.
SIGNIFICANT_DIGITS = 15
#: A number followed by a word (``4.3米``, ``4.30 m``, ``0.1万吨``): the word read as its unit.
_NUMBER_UNIT = re.compile(r"^([+]?(?:\d+(?:\.\d*)?|\.\d+))\s*(\D.*)$")
#: A header ending in a bracketed word (``产能(吨/年)``, ``焦炭产能（万吨）`` after NFKC).
_HEADER_UNIT = re.compile(r"^(.+?)\s*[(\[]\s*([^()\[\]]+?)\s*[)\]]$")
_DATE = re.compile(
    r"^(\d{4})(?:\s*年|\s*[-/.年]\s*(\d{1,2})(?:\s*[-/.月]\s*(\d{1,2}))?\s*[日月]?)?$"
)


def _known_headers(er: EquipmentRules, fields: Mapping[str, str] | None) -> frozenset[str]:
    """Every header an equipment table's header row may hold (normalised): the canonical
    fields, the rules' headers and the columns of a field mapping."""
    from sxzones.vocab import normalise

    names = [*REQUIRED, "commissioned", "city", "firm_name", *er.headers]
    names += [h for hs in er.headers.values() for h in hs]
    names += [v for v in (fields or {}).values() if v]
    return frozenset(normalise(str(n)) for n in names)


def _names_headers(rows: list[list[Any]], header_names: frozenset[str]) -> bool:
    """Whether one of a sheet's first rows names two equipment headers."""
    from sxzones.vocab import normalise

    return any(
        sum(normalise(str(c)) in header_names for c in r if c is not None and str(c).strip()) >= 2
        for r in rows
    )


def _two_row_header(
    table: pd.DataFrame, header_row: int, known: frozenset[str], notes: list[str]
) -> tuple[pd.DataFrame, int]:
    """A header over two rows (主要参数 merged over 炭化室高度 | 有效容积 | 公称容量, the other
    headers merged down both rows): when the first row under the header names two equipment
    headers too, it is the header's lower row; each column takes its lower name, or the
    upper where the lower is blank. Said in ``notes`` with the group names set aside.
    Returns the table without that row and the header's last row (1-based)."""
    from pandas.io.common import dedup_names

    if table.empty or not _names_headers([list(table.iloc[0])], known):
        return table, header_row
    below = list(table.iloc[0])
    blank = _blank(pd.Series(below, dtype=object))
    names = [
        c if b else str(v).strip() for c, v, b in zip(table.columns, below, blank, strict=True)
    ]
    groups: dict[str, list[str]] = {}  # an upper name over the lower names it spans
    owner = ""
    for c, v, b in zip(table.columns, names, blank, strict=True):
        owner = owner if str(c).startswith("Unnamed: ") else str(c).strip()
        if not b and v != str(c).strip() and owner:
            groups.setdefault(owner, []).append(v)
    over = "; ".join(f"{k} over {', '.join(v)}" for k, v in groups.items()) or "lower names"
    notes.append(
        f"header read from rows {header_row} and {header_row + 1} (a header over two rows: "
        f"{over}; columns without a name below named above)"
    )
    out = table.iloc[1:].reset_index(drop=True)  # rows numbered from the header's last
    out.columns = pd.Index(dedup_names(names, False))
    return out, header_row + 1


def _choose_sheet(
    p: Path, sheet: str | None, header_names: frozenset[str], notes: list[str]
) -> str | None:
    """The sheet of a workbook to read, said in ``notes``: ``sheet`` (``--layer``) when
    given; otherwise the one visible sheet whose first rows carry equipment headers (a
    hidden sheet, e.g. a 填表说明 template with an example row, is skipped). Several such
    sheets (one per industry or city) are refused, naming them: reading one would leave the
    others' units out of every finding and total, with no word. None for a text table.

    Raises
    ------
    LayerError
        ``--layer`` given for a CSV, a sheet the workbook does not have, or several sheets
        holding equipment tables.
    """
    if p.suffix.lower() not in _BOOKS:
        if sheet:
            raise LayerError(
                f"{p}: --layer {sheet!r} names a sheet; a text table has none. Fix: drop --layer"
            )
        return None
    try:
        names, hidden = worksheets(p)
    except (python_calamine.CalamineError, OSError, ValueError):
        return sheet  # the reader says why it cannot be read
    shown = ", ".join(map(repr, names))
    if sheet:
        if sheet not in names:
            raise LayerError(f"{p}: no sheet {sheet!r}. Fix: --layer one of {shown}")
        notes.append(f"sheet {sheet!r} read (--layer){' (a hidden sheet)' * (sheet in hidden)}")
        return sheet
    visible = [n for n in names if n not in hidden]

    def holds_table(name: str) -> bool:
        top, _ = sheet_cells(p, name, nrows=HEADER_SEARCH_ROWS)
        return _names_headers([list(r) for r in top.itertuples(index=False)], header_names)

    # one visible sheet: not parsed twice (a sheet is parsed whole to give its first rows)
    holding = visible if len(visible) == 1 else [n for n in visible if holds_table(n)]
    if len(holding) > 1:
        raise LayerError(
            f"{p}: {len(holding)} sheets hold equipment tables ({', '.join(map(repr, holding))}); "
            f"one is read per run. Fix: choose one with --layer NAME (run once per sheet), or "
            f"copy the rows of all into one sheet"
        )
    chosen = (holding or visible or names)[0]
    skipped = f"; hidden sheet(s) skipped: {', '.join(map(repr, hidden))}" if hidden else ""
    others = [n for n in visible if n != chosen]
    rest = f"; other sheet(s) without equipment headers: {', '.join(map(repr, others))}"
    notes.append(
        f"sheet {chosen!r} read (sheet {names.index(chosen) + 1} of {len(names)})"
        f"{skipped}{rest if others else ''}"
    )
    return chosen


def _map_headers(
    table: pd.DataFrame, fields: Mapping[str, str], er: EquipmentRules, path: Path
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rename the table's columns to canonical fields: explicit mapping first, then the
    canonical names and the rules' headers (NFKC, case and spaces ignored). Returns the
    renamed table and canonical -> the user's column name."""
    from sxzones.vocab import normalise

    present = [c for c in table.columns if c != ROW]
    if missing := {c: s for c, s in fields.items() if s not in table.columns}:
        pairs = ", ".join(f"{c} <- {s!r}" for c, s in missing.items())
        raise LayerError(
            f"{path}: the field mapping names field(s) the file does not have ({pairs}). "
            f"Fields present: {present}. Fix: correct --field CANONICAL=SOURCE."
        )
    rename = {s: c for c, s in fields.items()}
    by_norm = {normalise(c): c for c in present if c not in rename}
    for canon in [*REQUIRED, *er.headers, "commissioned", "city", "firm_name"]:
        if canon in rename.values():
            continue
        for h in (canon, *er.headers.get(canon, ())):
            src = by_norm.get(normalise(h))
            if src is not None and src not in rename:
                rename[src] = canon
                break
    _map_unit_headers(present, rename, er)
    out = table.rename(columns=rename)
    if absent := [f for f in REQUIRED if f not in out.columns]:
        raise LayerError(
            f"{path}: an equipment table needs {list(REQUIRED)}; {absent} not found. Fields "
            f"present: {present}. Fix: name the columns (e.g. 设备编号, 企业代码, 设备类型) or "
            f"map them: --field {absent[0]}=<column>."
        )
    return out, {c: s for s, c in rename.items()}


def _split_unit(header: object) -> tuple[str, str | None]:
    """A header's name and the unit in brackets at its end (``产能(吨/年)`` -> 产能, 吨/年;
    full-width brackets read after NFKC); None when it has none."""
    import unicodedata

    text = unicodedata.normalize("NFKC", str(header)).strip()
    m = _HEADER_UNIT.match(text)
    return (m.group(1), m.group(2)) if m else (text, None)


def _bases(er: EquipmentRules, fld: str) -> set[str]:
    """The names of a size field's headers without their units (normalised)."""
    from sxzones.vocab import normalise

    return {normalise(_split_unit(h)[0]) for h in (fld, *er.headers.get(fld, ()))}


def _map_unit_headers(present: list[Any], rename: dict[Any, str], er: EquipmentRules) -> None:
    """Map (in place) a size field not yet found to a column whose name is one of the field's
    headers with another unit in brackets that converts to the field's unit (产能(吨/年),
    焦炭产能（万吨）, 有效容积(立方)); the conversion is said by :func:`_header_units`."""
    from sxzones.vocab import normalise

    for fld, (_, table) in UNITS.items():
        if fld in rename.values():
            continue
        bases = _bases(er, fld)
        for c in present:
            base, unit = _split_unit(c)
            if c not in rename and unit and normalise(base) in bases and normalise(unit) in table:
                rename[c] = fld
                break


def _header_units(names: Mapping[str, str]) -> dict[str, tuple[str, float]]:
    """Size field -> (the unit its column's header gives, the factor to the field's unit),
    for the columns whose header names a unit sxzones converts."""
    from sxzones.vocab import normalise

    out = {}
    for fld, (_, table) in UNITS.items():
        unit = _split_unit(names[fld])[1] if fld in names else None
        if unit and normalise(unit) in table:
            out[fld] = (unit, table[normalise(unit)])
    return out


def _say_header_units(
    names: Mapping[str, str], er: EquipmentRules, report: LayerReport, columns: list[str]
) -> None:
    """Say in ``report`` a size column read in another unit (converted) or a capacity in
    万吨 (read as 万吨/年), and name the columns that look like a size field or a capacity
    but are not read, with the ``--field`` fix."""
    from sxzones.vocab import normalise

    for fld, (unit, factor) in _header_units(names).items():
        canon = UNITS[fld][0]
        yearly = fld == GROUP_TOTAL and not re.search(r"/(年|a)$", normalise(unit))
        if factor == 1.0 and not yearly:
            continue
        how = f"converted from {unit} to {canon} (x {factor:g})" if factor != 1.0 else ""
        how = how or f"{unit} read as {canon} (a capacity is yearly)"
        text = f"column {names[fld]!r} read as {fld}: {how}"
        report.notes.append(text)
        report.findings.append(Finding("note", "unit_converted", text, (), names[fld]))
    read = set(names.values())
    for c in columns:
        n, base = normalise(c), normalise(_split_unit(c)[0])
        like = next((f for f in UNITS if base in _bases(er, f)), None)
        if c in read or "率" in n or not (like or "产能" in n or "capacity" in n):
            continue
        fld = like or GROUP_TOTAL
        canon, table = UNITS[fld]
        now = f"; {fld} is read from {names[fld]!r}" if fld in names else ""
        text = f"column {c!r} looks like {fld} ({canon}) but is not read{now}"
        fix = (
            f"write its values in {canon} (or give a unit sxzones converts in its header: "
            f"{', '.join(sorted(table))}) and map it: --field {fld}={c}"
        )
        report.notes.append(f"{text}; fix: {fix}")
        report.findings.append(Finding("note", "column_not_read", text, (), c, fix))


def _blank(values: pd.Series) -> np.ndarray:
    text = values.astype("string").str.strip()
    return (text.isna() | text.isin(["", "nan", "None", "NaT"])).to_numpy(dtype=bool)


def _parse_date(value: Any) -> dt.date | tuple[int, int] | int | None:
    """A commissioning date: a date, (year, month) for a month alone, or a year alone (an
    int); None when unreadable."""
    if isinstance(value, dt.datetime | pd.Timestamp):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    m = _DATE.match(str(value).strip())
    if not m:
        return None
    y, mo, d = (int(g) if g else None for g in m.groups())
    if y is None or (mo is not None and not 1 <= mo <= 12):
        return None
    if mo is None:
        return y
    if d is None:
        return (y, mo)
    try:
        return dt.date(y, mo, d)
    except ValueError:
        return None


def _needed(er: EquipmentRules, types: pd.Series, fld: str) -> np.ndarray:
    """Per unit: whether ``fld`` is read by a rule that applies to the unit's type (a
    phase-out condition, the new-capacity ban's date or excepted products, the coking cap's
    capacity). The type and the status are needed for every unit: the status says whether
    a finding is done (closed) or still to do."""
    t = types.astype(str).to_numpy()
    if fld in ("equipment_type", "status"):
        return np.ones(len(t), dtype=bool)
    need = np.zeros(len(t), dtype=bool)
    for rule, conds in er.phaseout:
        if any(c.field == fld for c in conds):
            need |= np.isin(t, list(rule.params["equipment_types"]))
    ban = er.ban
    if ban is not None and (
        fld == "commissioned" or (fld == "product" and ban.params.get("except_products"))
    ):
        need |= pd.Series(t).map(er.categories).isin(ban.params["categories"]).to_numpy()
    if er.cap is not None and fld == str(er.cap.params["field"]):
        need |= np.isin(t, list(er.cap.params["equipment_types"]))
    return need


def _strip_type_word(er: EquipmentRules, vocab: str, value: Any) -> str | None:
    """A value written with the equipment type after it (步进式烧结机 in 烧结机型式, 半封闭电炉
    in 炉型): the identifier of what is left, or None."""
    from sxzones.vocab import normalise

    text = normalise(str(value))
    terms = er.vocab["types"].terms.values()
    words = sorted({normalise(w) for t in terms for w in (t.zh, *t.synonyms)}, key=len)[::-1]
    for w in words:
        if w and text.endswith(w) and len(text) > len(w):
            return er.resolve(vocab, text[: -len(w)])
    return None


def _status_with_reason(
    frame: pd.DataFrame, ids: pd.Series, blank: np.ndarray, er: EquipmentRules
) -> None:
    """A status with its reason in brackets (停产（环保）, 停产(检修)) read as the status
    before the brackets, said in the rows' reading_notes (in place)."""
    for i in np.flatnonzero(~blank & ids.isna().to_numpy()):
        base, why = _split_unit(frame["status"].iloc[i])
        ident = er.resolve("statuses", base) if why else None
        if ident is None:
            continue
        ids.iloc[i] = ident
        said = f"status {frame['status'].iloc[i]!r} read as {ident} ({base}, the reason {why})"
        old = frame["reading_notes"].iloc[i]
        frame.iloc[i, frame.columns.get_loc("reading_notes")] = f"{old}; {said}" if old else said


def _resolve_vocab(frame: pd.DataFrame, er: EquipmentRules, check: Any) -> dict[str, pd.Series]:
    """Enumerated fields resolved to identifiers (a trailing type word tolerated); an unknown
    value rejects the unit where a rule needs the field, else is read as unknown, said."""
    resolved: dict[str, pd.Series] = {}
    for fld, vocab in VOCAB_FIELDS.items():
        if fld not in frame:
            continue
        blank = _blank(frame[fld])
        ids = frame[fld].map(lambda v, vocab=vocab: er.resolve(vocab, v))
        if fld != "equipment_type" and (miss := ~blank & ids.isna().to_numpy()).any():
            ids[miss] = [_strip_type_word(er, vocab, v) for v in frame.loc[miss, fld]]
        if fld == "status":
            _status_with_reason(frame, ids, blank, er)
        bad = ~blank & ids.isna().to_numpy()
        reasons = f"{fld} " + frame[fld].astype(str).map(repr) + " is not in the vocabulary"
        loose = check(
            bad,
            "unknown_value",
            f"{fld} not in the rules' vocabulary",
            fld,
            f"write one of {', '.join(er.known(vocab))} (or add a synonym to the rules file)",
            reasons,
            resolved.get("equipment_type"),
        )
        resolved[fld] = ids.where(~blank & ~loose, None)
    return resolved


def _retype(frame: pd.DataFrame, resolved: dict[str, pd.Series], er: EquipmentRules) -> None:
    """A unit whose product only another kind makes read as that kind (rules file
    ``retype``: an 电弧炉 making 硅锰 is a ferroalloy furnace, never a steel arc furnace
    kept), said in its reading_notes (in place)."""
    if "product" not in resolved:
        return
    types, products = resolved["equipment_type"], resolved["product"]
    for t, prods, to in er.retype:
        hit = ((types == t) & products.isin(prods)).to_numpy(dtype=bool)
        if not hit.any():
            continue
        types[hit] = to
        zh = {k: v.get("zh", k) for k, v in er.labels["types"].items()}
        made = products[hit].map(lambda p: er.labels["products"][p].get("zh", p))
        said = f"{zh[t]} making " + made + f": read as {zh[to]} ({to}), as no {t} makes " + made
        old = frame.loc[hit, "reading_notes"]
        frame.loc[hit, "reading_notes"] = [
            f"{o}; {w}" if o else w for o, w in zip(old, said, strict=True)
        ]


def _numbers(
    fld: str, raw: pd.Series, blank: np.ndarray, head: tuple[str, float] | None
) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """A size column as numbers in the field's unit: a bare number in the header's unit
    (converted when it is another), a number written with a unit (``4.3米``, ``4300mm``,
    ``0.1万吨``) converted from that unit. Conversions are decimal (4300 mm is 4.3 m, not
    4.300000000000001), and every number is taken to :data:`SIGNIFICANT_DIGITS` significant
    digits (:func:`as_written`). Returns the numbers (NaN: not read), a note per value read
    with its unit (``""`` elsewhere), the unit word of a value whose unit is not known, and a
    note per value the rounding changed."""
    from decimal import Decimal

    from sxzones.vocab import normalise

    def scale(v: Any, f: float) -> float:
        return float(Decimal(str(v)) * Decimal(str(f))) if np.isfinite(float(v)) else float(v)

    text = (  # full-width digits (４．３) read as typed: NFKC, as coordinates are
        raw.astype("string").str.normalize("NFKC").str.strip().str.replace(",", "", regex=False)
    )
    num = pd.to_numeric(text.where(~blank), errors="coerce").astype(float)
    if head is not None and head[1] != 1.0:
        num = num.map(lambda v: scale(v, head[1]))
    canon, table = UNITS[fld]
    said = pd.Series("", index=raw.index, dtype=object)
    odd = said.copy()
    for i in np.flatnonzero(~blank & num.isna().to_numpy()):
        m = _NUMBER_UNIT.match(str(text.iloc[i]))
        if not m:
            continue
        factor = table.get(normalise(m.group(2)))
        if factor is None:
            odd.iloc[i] = m.group(2).strip()
            continue
        num.iloc[i] = value = scale(m.group(1), factor)
        own = factor == (head[1] if head else 1.0)
        how = "its unit is the column's" if own else f"converted from {m.group(2).strip()}"
        if head and not own and factor == 1.0:  # 4.3 m in a column of mm: the value's unit
            how = f"its own unit, not the column's {head[0]}"
        said.iloc[i] = f"{fld} {raw.iloc[i]!r} read as {value:g} {canon} ({how})"
    exact = num.to_numpy(dtype=float)
    num = pd.Series(as_written(exact), index=raw.index)
    shown = pd.Series("", index=raw.index, dtype=object)
    for i in np.flatnonzero(np.isfinite(exact) & (exact != num.to_numpy())):
        shown.iloc[i] = (
            f"{fld} {float(exact[i])!r} read as {float(num.iloc[i])!r} {canon} ({SIGNIFICANT_DIGITS} "
            "significant digits, as a spreadsheet shows it)"
        )
    return num, said, odd, shown


def as_written(values: Any) -> npt.NDArray[np.float64]:
    """Numbers to :data:`SIGNIFICANT_DIGITS` significant digits, as a spreadsheet shows them
    (decimal rounding of the shortest repr: 4.3000000000000007 -> 4.3, 1199.99 stays); NaN
    and infinities unchanged. Units are the values' own.

    >>> as_written([4.4 - 0.1, 1199.99, float("nan")]).tolist()[:2]
    [4.3, 1199.99]
    """
    out = np.array(values, dtype=float, copy=True).reshape(-1)
    fin = np.isfinite(out)
    out[fin] = [float(f"{v:.{SIGNIFICANT_DIGITS}g}") for v in out[fin]]
    return out


def _resolve_numbers(
    frame: pd.DataFrame,
    er: EquipmentRules,
    check: Any,
    types: pd.Series,
    names: Mapping[str, str],
    report: LayerReport,
) -> dict[str, pd.Series]:
    """Size fields as numbers in the fields' units (:func:`_numbers`; values read with a
    unit said in reading_notes and ``report``); a value that is no number, has a unit that
    does not convert, or is out of the plausible range, rejects the unit where a rule needs
    the field, else is read as unknown, said."""
    resolved: dict[str, pd.Series] = {}
    heads = _header_units(names)
    for fld in NUMERIC_FIELDS:
        if fld not in frame:
            continue
        blank = _blank(frame[fld])
        num, said, odd, shown = _numbers(fld, frame[fld], blank, heads.get(fld))
        canon = UNITS[fld][0]
        bad = ~blank & (num.isna() | (num < 0)).to_numpy(dtype=bool)
        quoted = f"{fld} " + frame[fld].astype(str).map(repr)
        why = quoted + " is not a non-negative number"
        why[odd != ""] = quoted + ": unit " + odd.map(repr) + f" does not convert to {canon}"
        loose = check(
            bad,
            "bad_number",
            f"{fld} is not a non-negative number in a unit that converts to {canon}",
            fld,
            f"write the number in {canon} (4.3, 4.3米, 4300mm are read: {', '.join(UNITS[fld][1])})",
            why,
            types,
        )
        low, high = er.plausible.get(fld, (0.0, np.inf))
        odd_range = ~blank & ~bad & ((num < low) | (num > high)).fillna(False).to_numpy(dtype=bool)
        read_as = num.map(lambda v, c=canon: f" (= {v:g} {c})")
        loose |= check(
            odd_range,
            "implausible_value",
            f"{fld} outside the plausible range {low:g}-{high:g} (rules file)",
            fld,
            "check the unit (metres, m³, t, 万吨/年) and the value",
            quoted
            + read_as.where(said != "", "")
            + f" is outside the plausible range {low:g}-{high:g}",
            types,
        )
        _say_units(frame, said.where(~bad & ~odd_range, ""), names.get(fld, fld), report)
        _say_units(
            frame,
            shown.where(~bad & ~odd_range, ""),
            names.get(fld, fld),
            report,
            ("precision_read", "numbers read at the precision a spreadsheet shows: "),
        )
        resolved[fld] = num.where(~loose)
    if "commissioned" in frame:
        resolved["commissioned"] = _resolve_date(frame, check, types)
    return resolved


def _resolve_date(frame: pd.DataFrame, check: Any, types: pd.Series) -> pd.Series:
    """The commissioning dates (:func:`_parse_date`); one that cannot be read rejects the
    unit where a rule needs it, else is read as unknown, said."""
    blank = _blank(frame["commissioned"])
    parsed = [
        None if b else _parse_date(v) for v, b in zip(frame["commissioned"], blank, strict=True)
    ]
    when = pd.Series(parsed, index=frame.index, dtype=object)  # years stay ints
    check(
        ~blank & when.isna().to_numpy(),
        "bad_date",
        "commissioned is not a date or year",
        "commissioned",
        "write 2023-05-01, 2023年5月, 2023年 or 2023",
        "commissioned " + frame["commissioned"].astype(str).map(repr) + " is not a date or year",
        types,
    )
    return when


def _say_units(
    frame: pd.DataFrame,
    said: pd.Series,
    column: str,
    report: LayerReport,
    how: tuple[str, str] = (
        "unit_read",
        "numbers written with their unit read in the field's unit: ",
    ),
) -> None:
    """Add the notes of values read with their unit (or, by ``how``: the finding's code and
    lead, another reading of numbers) to the rows' reading_notes and as one finding of
    ``report`` (in place)."""
    hit = (said != "").to_numpy(dtype=bool)
    if not hit.any():
        return
    old = frame.loc[hit, "reading_notes"]
    frame.loc[hit, "reading_notes"] = [
        f"{o}; {w}" if o else w for o, w in zip(old, said[hit], strict=True)
    ]
    rows = tuple(int(r) for r in frame.loc[hit, ROW])
    text = how[1] + "; ".join(said[hit].head(3))
    report.findings.append(Finding("note", how[0], text, rows, column))


def _merged_quantities(
    frame: pd.DataFrame,
    merged: list[tuple[Any, int, int]],
    names: dict[str, str],
    report: LayerReport,
) -> None:
    """Undo the fill of quantities merged down over several units (in place): a 产能 written
    once for a firm's ovens is the group's total, kept on the first unit only and counted
    once (``capacity_counted_on`` names that unit on every unit of the group); a volume or a
    nominal capacity merged so is read as no unit's. Each is said in ``reading_notes`` and
    as a finding of ``report``. ``merged``: (column, first row, last row) as the sheet
    numbers them."""
    source = {s: c for c, s in names.items()}
    rows = frame[ROW].to_numpy()
    for col, first, last in merged:
        fld = source.get(col)
        inside = frame.index[(rows >= first) & (rows <= last)]
        if fld not in (*GROUP_AMBIGUOUS, GROUP_TOTAL) or len(inside) < 2:
            continue
        value, ids = frame.at[inside[0], fld], frame.loc[inside, "unit_id"].astype(str)
        head = f"{col} {value} is written once over rows {first}-{last} ({len(inside)} units"
        if fld == GROUP_TOTAL:
            if "capacity_counted_on" not in frame:
                frame["capacity_counted_on"] = ""
            frame.loc[inside[1:], fld] = None
            frame.loc[inside, "capacity_counted_on"] = ids.iloc[0]
            text = f"{head}): read as their total, counted once, on unit {ids.iloc[0]}"
            fix = "write each unit's capacity on its own row if the figure is not the total"
        else:
            frame.loc[inside, fld] = None
            text = f"{head}): each unit's or their total? Not read (unknown for every one)"
            fix = "write each unit's value on its own row (unmerge the cells)"
        frame.loc[inside, "reading_notes"] = [
            f"{n}; {text}" if n else text for n in frame.loc[inside, "reading_notes"]
        ]
        span = tuple(int(r) for r in frame.loc[inside, ROW])
        report.findings.append(Finding("note", "merged_quantity", text, span, col, fix, "row"))


def _check_rows(
    frame: pd.DataFrame, report: LayerReport, er: EquipmentRules, names: dict[str, str]
) -> pd.DataFrame:
    """The rows that pass, values resolved; the others recorded in ``report`` as rejected,
    each with its spreadsheet row, unit id, the user's column name and the reason."""
    alive = np.ones(len(frame), dtype=bool)

    def reject(
        mask: np.ndarray,
        code: str,
        reason: str,
        fld: str | None = None,
        fix: str = "",
        reasons: pd.Series | None = None,
    ) -> None:
        m = mask & alive
        if not m.any():
            return
        shown = names.get(fld, fld) if fld else None
        sub = frame.loc[m]
        why = reasons.loc[m].to_numpy() if reasons is not None else [reason] * len(sub)
        for r, i, w in zip(sub[ROW], sub["unit_id"], why, strict=True):
            report._rejects.append(
                {
                    "layer": report.name,
                    "source_row": int(r),
                    "code": code,
                    "field": shown,
                    "id": None if _blank(pd.Series([i]))[0] else str(i).strip(),
                    "reason": w,
                }
            )
        rows = tuple(int(r) for r in sub[ROW])
        report.findings.append(Finding("rejected", code, reason, rows, shown, fix, "row"))
        alive[m] = False

    for f in REQUIRED:
        reject(
            _blank(frame[f]),
            "missing_value",
            f"required field {f!r} is empty",
            f,
            "fill in the value",
        )

    def check(
        bad: np.ndarray,
        code: str,
        reason: str,
        fld: str,
        fix: str,
        reasons: pd.Series,
        types: pd.Series | None,
    ) -> np.ndarray:
        """Reject the bad rows where a rule needs ``fld``; the others keep the field as
        unknown, said in their reading_notes. Returns the rows kept so."""
        need = np.ones(len(frame), bool) if types is None else _needed(er, types, fld)
        reject(bad & need, code, reason, fld, fix, reasons)
        loose = bad & ~need & alive
        if loose.any():
            why = reasons[loose] + ": no rule for this unit needs it; read as unknown"
            old = frame.loc[loose, "reading_notes"]
            frame.loc[loose, "reading_notes"] = [
                f"{o}; {w}" if o else w for o, w in zip(old, why, strict=True)
            ]
            rows = tuple(int(r) for r in frame.loc[loose, ROW])
            text = f"{reason}: no rule for these units needs it; read as unknown"
            shown = names.get(fld, fld)
            report.findings.append(Finding("note", code, text, rows, shown, fix, "row"))
        return loose

    resolved = _resolve_vocab(frame, er, check)
    _retype(frame, resolved, er)
    resolved |= _resolve_numbers(frame, er, check, resolved["equipment_type"], names, report)
    ids = frame["unit_id"].astype(str).str.strip()
    firms = frame["firm_id"].astype(str).str.strip()
    _duplicates(frame, ids, firms, alive, reject)
    _mangled_codes(frame, firms, alive, report, names.get("firm_id", "firm_id"))
    out = frame.assign(**resolved, unit_id=ids, firm_id=firms)
    return out.loc[alive].reset_index(drop=True)


_SCIENTIFIC = r"\d(?:\.\d+)?[eE][+]?\d+"


def _mangled_codes(
    frame: pd.DataFrame, firms: pd.Series, alive: np.ndarray, report: LayerReport, shown: str
) -> None:
    """Say firm codes written in scientific notation (``9.11401E+17``: an 18-digit 统一社会信用代码
    that Excel showed as a number and saved so): the code is lost and joins no firm. The
    units are kept (their findings do not need the firm), said in reading_notes."""
    bad = firms.str.fullmatch(_SCIENTIFIC).fillna(False).to_numpy(dtype=bool) & alive
    if not bad.any():
        return
    text = "firm code {} is in scientific notation: the code is mangled and joins no firm"
    old = frame.loc[bad, "reading_notes"]
    frame.loc[bad, "reading_notes"] = [
        f"{o}; {w}" if o else w
        for o, w in zip(old, firms[bad].map(lambda v: text.format(repr(v))), strict=True)
    ]
    rows = tuple(int(r) for r in frame.loc[bad, ROW])
    fix = (
        "in Excel set the column's format to Text, type the codes again (or take them from "
        "the source list) and save; a CSV opened and saved by Excel loses them so"
    )
    seen = list(dict.fromkeys(firms[bad]))
    what = text.format(", ".join(map(repr, seen[:3])) + (" ..." if len(seen) > 3 else ""))
    report.findings.append(Finding("note", "mangled_code", what, rows, shown, fix, "row"))


def _duplicates(
    frame: pd.DataFrame, ids: pd.Series, firms: pd.Series, alive: np.ndarray, reject: Any
) -> None:
    """Reject a unit number given twice for one firm (unit numbers are per firm in agency
    lists: 1#焦炉 at every firm), naming the row of the first, which is kept."""
    from sxzones.vocab import id_key

    key = id_key(firms) + "\x00" + ids
    live = key.where(alive)
    dup = alive & live.duplicated(keep="first").to_numpy()
    if not dup.any():
        return
    first = frame[ROW].groupby(live).transform("first")
    unit = "unit_id " + ids.map(repr) + " of firm " + firms.map(repr)
    reasons = (
        unit + " is on row " + first.astype("Int64").astype(str) + " already; the first is kept"
    )
    reject(
        dup,
        "duplicate_id",
        "duplicate unit_id within a firm; the first occurrence is kept",
        "unit_id",
        "give every unit of a firm its own number",
        reasons,
    )


def _load_table(
    p: Path, known: frozenset[str], sheet: str | None, encoding: str | None, notes: list[str]
) -> tuple[pd.DataFrame, list[tuple[Any, int, int]]]:
    """The table of units as text, ``source_row`` numbered as the sheet shows (header found
    below titles or over two rows, blank rows skipped, all said in ``notes``), and the
    ranges merged down a column that the reader filled (column, first row, last row)."""
    chosen = _choose_sheet(p, sheet, known, notes)
    table = _read_table(p, None, None, chosen, encoding, notes, header_names=known)
    table = table.reset_index(drop=True)
    header_row = int(table.attrs.get("header_row", 1))
    merged = list(table.attrs.get("merged_down", []))
    table, header_row = _two_row_header(table, header_row, known, notes)
    if len(blank := blank_rows(table)):  # skipped; the others keep the sheet's row numbers
        notes.append(blank_note(blank, header_row))
        table = table.drop(index=blank)
    if table.empty:
        raise LayerError(f"{p}: holds no rows. Fix: check that the right file was given")
    table.insert(0, ROW, table.index.to_numpy() + header_row + 1)  # spreadsheet rows
    return table.reset_index(drop=True), merged


def read_equipment(
    path: str | Path,
    er: EquipmentRules,
    *,
    fields: Mapping[str, str] | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
) -> tuple[pd.DataFrame, LayerReport]:
    """Read and validate an equipment table.

    Parameters
    ----------
    path : path
        CSV / TSV (UTF-8 with or without BOM, or GB18030/GBK, detected) or XLSX.
    er : EquipmentRules
        Vocabularies and recognised headers (:func:`sxzones.analyses.phaseout.equipment_rules`).
    fields : mapping, optional
        Canonical field -> source column (``--field``, ``--id``, ``--firm-field``).
    encoding : str, optional
        Text encoding of a CSV.
    sheet : str, optional
        The sheet of a workbook to read (``--layer``); by default the one visible sheet
        carrying equipment headers (several are refused).

    Returns
    -------
    (DataFrame, LayerReport)
        One row per loaded unit: canonical fields resolved (identifiers, numbers in the
        fields' units, dates), the file's other columns kept, ``source_row`` (1-based data
        row); and the report with every rejected row.

    Raises
    ------
    LayerError
        Unreadable file, not a table, no rows, required columns missing, no row passes,
        or several sheets hold equipment tables and none was chosen.
    """
    p = Path(path)
    if p.suffix.lower() not in _TABLES:
        raise LayerError(f"{p}: an equipment table must be .csv, .tsv, .xlsx, .xls or .ods")
    if not p.is_file():
        raise LayerError(f"{p}: no such file")
    _check_file(p)  # a 0-byte table: said as such, not as a CSV without a header
    notes: list[str] = []
    table, merged = _load_table(p, _known_headers(er, fields), sheet, encoding, notes)
    frame, names = _map_headers(table, {k: v for k, v in (fields or {}).items() if v}, er, p)
    frame["reading_notes"] = ""
    report = LayerReport(
        p.name,
        p,
        "equipment",
        len(frame),
        source_crs="(table)",
        working_crs="(none)",
        provenance=DEMONSTRATION if p.stem.endswith("_demonstration") else None,
        notes=notes,
    )
    report.findings += read_findings(notes, "row")  # title rows, an encoding guessed ...
    if renamed := [f"{s} -> {c}" for c, s in names.items() if s != c]:
        report.notes.append("headers: " + "; ".join(renamed))
    _say_header_units(names, er, report, [str(c) for c in table.columns if c != ROW])
    _merged_quantities(frame, merged, names, report)
    out = _check_rows(frame, report, er, names)
    out["category"] = out["equipment_type"].map(er.categories)
    report.n_loaded = len(out)
    if report.n_loaded == 0:
        raise NoFeatureError(f"{p}: no row passed validation.\n{report.summary()}", report)
    if report.n_loaded + report.n_rejected != report.n_read:  # pragma: no cover - invariant
        raise RuntimeError("row accounting failed: loaded + rejected != read")
    return out, report
