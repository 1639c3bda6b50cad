"""``site_check.json`` written column by column: the bytes of ``json.dumps(doc,
ensure_ascii=False, indent=2)`` without a Python dict per project.

The projects of a batch are the bulk of the document (100,000 parcels: about 215 MB, most of
it the admission lists of the touched control units). Building
:meth:`sxzones.analyses.site_check.SiteCheckResult.details` (a dict per project and per
finding, 1.1 s at 100,000) and encoding it (0.3 s) cost more than the check's writing of
every other output. Here each field of the findings is encoded once per distinct value (a
unit's admission text once per unit, not once per parcel), numbers are formatted a column
at a time, and each project's text is joined from these columns by Arrow's string kernels,
block by block in worker threads (the kernels release the GIL). The block texts are written
in order, hashed on the way for the manifest.

The text is the one :meth:`details` gives to ``json.dumps(..., ensure_ascii=False,
indent=2)`` (two-space indentation, keys in the same order, numbers rounded to centimetres
by Python's ``round``), with one difference kept from the writer it replaces: a value that
is not a number (NaN, an empty text cell) is written ``null``, as valid JSON must. The
indentation is kept although a compact document would be a fifth smaller (writing,
hashing and removing it about 0.1 s faster at 100,000): the published bytes stay those of
earlier versions, and a reader can diff two runs' documents line by line.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any, Union

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sxzones.analyses.site_check import FIELDS, SiteCheckResult
from sxzones.analyses.site_check import _plain as plain  # the details' rounding
from sxzones.outputs import _json_default, atomic_path, remember_digest

__all__ = ["float_texts", "project_blocks", "write_check_json"]

_L = pa.large_string()
#: Projects per block of text (about 2 KB each): blocks are built in parallel, written in order.
BLOCK = 2_000
#: The roles whose findings a project lists, in the document's order.
ROLES = ("control_units", "redline", "zones")
_ADMISSION = [c for c in FIELDS["control_units"] if c.startswith("admission")]
#: Two decimals of ``k % 100`` as ``repr`` writes them after the point: 0 -> "0", 50 -> "5".
_FRACTIONS = pa.array(["0"] + [f"{k:02d}".rstrip("0") for k in range(1, 100)], _L)


def _lit(text: str) -> pa.Scalar:
    return pa.scalar(text, _L)


def _join(*parts: pa.Array | pa.Scalar | str) -> pa.Array:
    """Element-wise concatenation of text arrays and literals (no separator)."""
    args = [_lit(p) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*args, _lit(""))


def encode(value: Any) -> str:
    """One value as JSON text, as ``json.dumps(value, ensure_ascii=False)`` writes it, except
    that NaN and infinities are ``null``."""
    if isinstance(value, str):
        return str(encode_basestring(value))
    if value is None:
        return "null"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return float.__repr__(value) if math.isfinite(value) else "null"
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def float_texts(values: npt.ArrayLike) -> pa.Array:
    """``repr(round(v, 2))`` of each float (``null`` where not finite), a column at a time.

    A value already at whole centimetres (``np.round(v, 2) == v``, the nearest double to
    ``k / 100``) below 1e13 in magnitude is its own Python ``round`` and its ``repr`` is the
    decimal ``k / 100`` without trailing zeros (one kept after the point): that text is made
    from the integer ``k`` by Arrow. The others (more decimals, huge) go through Python.
    """
    a = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(a)
    with np.errstate(invalid="ignore", over="ignore"):
        fast = finite & (np.abs(a) < 1e13) & (np.round(a, 2) == a)
        k = np.rint(np.where(fast, np.abs(a), 0.0) * 100.0).astype(np.int64)
    sign = pc.if_else(pa.array(np.signbit(a)), _lit("-"), _lit(""))
    whole = pc.cast(pa.array(k // 100), _L)
    text = _join(sign, whole, ".", _FRACTIONS.take(pa.array(k % 100)))
    other = ~fast
    if other.any():
        fix = [
            float.__repr__(round(v, 2)) if math.isfinite(v) else "null" for v in a[other].tolist()
        ]
        text = pc.replace_with_mask(text, pa.array(other), pa.array(fix, _L))
    return text


def _texts(values: Sequence[Any], rounded: bool) -> pa.Array:
    """Each value encoded (after :func:`plain` when ``rounded``)."""
    conv = plain if rounded else (lambda v: v)
    return pa.array([encode(conv(v)) for v in values], _L)


@dataclass(frozen=True)
class Texts:
    """A column as JSON texts: ``values`` per row, or (few distinct texts) each distinct
    text once in ``values`` and each row's position in it in ``codes``."""

    values: pa.Array
    codes: npt.NDArray[np.int64] | None = None

    def rows(self, lo: int, hi: int) -> pa.Array:
        """The texts of rows ``lo:hi`` (made here from the distinct ones: a block at a time,
        so that the long texts copied into it are copied while they are in the cache)."""
        if self.codes is None:
            return self.values.slice(lo, hi - lo)
        return self.values.take(pa.array(self.codes[lo:hi]))

    def reorder(self, order: npt.NDArray[np.int64]) -> Texts:
        if self.codes is None:
            return Texts(self.values.take(pa.array(order)))
        return Texts(self.values, self.codes[order])


#: Characters ``json.dumps`` escapes in a text (``ensure_ascii=False``).
_ESCAPED = r'["\\\x00-\x1f]'


def string_texts(values: pa.Array) -> pa.Array:
    """Arrow texts (no nulls) as JSON strings: quoted, and those with a character to escape
    (a quote, a backslash, a control character) through :func:`encode`."""
    values = values.cast(_L)
    text = _join('"', values, '"')
    escape = pc.match_substring_regex(values, _ESCAPED)
    if pc.any(escape).as_py():
        fix = [encode(v) for v in values.filter(escape).to_pylist()]
        text = pc.replace_with_mask(text, escape, pa.array(fix, _L))
    return text


def _coded(texts: pa.Array, codes: npt.ArrayLike) -> Texts:
    """Distinct values' texts with each row's code; code -1 (missing): ``null``."""
    c = np.asarray(codes, dtype=np.int64)
    values = pa.concat_arrays([texts.cast(_L), pa.array(["null"], _L)])
    return Texts(values, np.where(c < 0, len(texts), c))


def column_texts(s: pd.Series, rounded: bool) -> Texts:
    """A column's values as JSON texts, each distinct text or category encoded once.

    ``rounded``: the values as :func:`plain` makes them (findings of the pairs, the areas and
    distances); else as they are (texts of the projects)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories
        texts = (
            string_texts(pa.array(cats.array))
            if isinstance(cats.dtype, pd.StringDtype) and not cats.isna().any()
            else _texts(cats.tolist(), rounded)
        )
        return _coded(texts, s.cat.codes.to_numpy())
    if s.dtype == np.float64 and rounded:
        return Texts(float_texts(s.to_numpy()))
    if isinstance(s.dtype, pd.StringDtype):  # Arrow finds the distinct texts
        arr = pa.array(s.array)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        d = pc.dictionary_encode(arr)
        codes = pc.fill_null(d.indices, -1).to_numpy(zero_copy_only=False)
        return _coded(string_texts(d.dictionary), codes)
    if s.dtype == object:
        codes, uniques = pd.factorize(s)  # None and NaN: code -1 (null)
        if all(type(u) is str for u in uniques):
            return _coded(_texts(list(uniques), rounded), codes)
    return Texts(_texts(s.tolist(), rounded))


def _nested(value: Any, depth: int) -> str:
    """``value`` as ``json.dumps(..., indent=2)`` writes it at nesting ``depth``."""
    text = json.dumps(value, ensure_ascii=False, indent=2, default=_json_default)
    return text.replace("\n", "\n" + "  " * depth)


def _flag(mask: npt.NDArray[np.bool_], yes: str, no: str = "") -> Texts:
    """``yes`` where ``mask``, else ``no``."""
    return Texts(pa.array([no, yes], _L), mask.astype(np.int64))


#: A run of literals and columns of at most this many distinct texts is merged into one
#: column (each distinct combination written once), if it has few distinct combinations.
FEW = 4096

Part = Union[str, Texts, "_Role"]


def _combined(run: list[str | Texts], n: int) -> list[str | Texts]:
    """``run`` (literals and few-valued columns, one after the other) as one column of the
    distinct combinations; ``run`` itself when they are many (one text per row would be
    made in Python)."""
    cols = [p for p in run if isinstance(p, Texts)]
    if not cols:
        return ["".join(p for p in run if isinstance(p, str))]
    sizes = [len(c.values) for c in cols]
    if math.prod(sizes) >= 2**62:
        return run
    key = np.zeros(n, dtype=np.int64)
    for c, size in zip(cols, sizes, strict=True):
        key = key * size + c.codes  # type: ignore[operator]
    uniq, inverse = _unique(key, math.prod(sizes))
    if len(uniq) > max(FEW, n // 8):
        return run
    ranked, k = [], 0
    for p in run:
        ranked.append((k, p))
        k += not isinstance(p, str)
    digits = []
    rest = uniq
    for size in reversed(sizes):
        rest, d = np.divmod(rest, size)
        digits.append(d.tolist())
    digits.reverse()
    values = [c.values.to_pylist() for c in cols]
    texts = []
    for combo in zip(*digits, strict=True):
        it = iter(combo)
        texts.append("".join(p if isinstance(p, str) else values[k][next(it)] for k, p in ranked))
    return [Texts(pa.array(texts, _L), inverse)]


def _unique(key: npt.NDArray[np.int64], size: int) -> tuple[npt.NDArray[np.int64], Any]:
    """The distinct keys (sorted) and each row's position among them; keys below ``size``
    (counted, not sorted, when ``size`` is small)."""
    if size > 4 * len(key) + 65536:
        uniq, inverse = np.unique(key, return_inverse=True)
        return uniq, inverse.reshape(-1).astype(np.int64)
    seen = np.zeros(size, dtype=bool)
    seen[key] = True
    rank = np.cumsum(seen) - 1
    return np.flatnonzero(seen), rank[key].astype(np.int64)


def merged(parts: Sequence[Part], n: int) -> list[Part]:
    """``parts`` of ``n`` rows with each run of literals and few-valued columns merged
    (:func:`_combined`): fewer, longer pieces to join per row."""
    out: list[Part] = []
    run: list[str | Texts] = []
    for p in parts:
        if isinstance(p, str) or (
            isinstance(p, Texts) and p.codes is not None and len(p.values) <= FEW
        ):
            run.append(p)
            continue
        out += _combined(run, n) if run else []
        run = []
        out.append(p)
    return out + (_combined(run, n) if run else [])


def _rows(parts: Sequence[Part], lo: int, hi: int) -> pa.Array:
    """The text of rows ``lo:hi``: ``parts`` materialised there and joined."""
    args = [
        p if isinstance(p, str) else p.rows(lo, hi) if isinstance(p, Texts) else p.lists(lo, hi)
        for p in parts
    ]
    if len(args) == 1 and not isinstance(args[0], str):
        return args[0]
    return _join(*args)


@dataclass
class _Role:
    """One role's findings: the parts of each pair's object (in project order; the first of
    a project opens its list, the last closes it), and where each project's pairs start."""

    parts: list[Part]
    starts: npt.NDArray[np.int64]

    def lists(self, lo: int, hi: int) -> pa.Array:
        """The lists of projects ``lo:hi`` without their opening and closing when empty
        (``""``: the project's parts write ``[]``)."""
        off = self.starts[lo : hi + 1]
        a, b = int(off[0]), int(off[-1])
        items = _rows(self.parts, a, b) if b > a else pa.array([], _L)
        lists = pa.LargeListArray.from_arrays(pa.array(off - a), items)
        return pc.binary_join(lists, _lit(",\n"))

    def empty(self) -> Texts:
        """``[]`` for the projects without pairs."""
        return _flag(np.diff(self.starts) == 0, "[]")


def _role_texts(p: pd.DataFrame | None, n: int, names: Sequence[str] | None = None) -> _Role:
    """The pairs of one role as the objects of its list (``names``: these fields only, a
    missing one as ``""``; default every field but the positions)."""
    if p is None or not len(p):
        return _Role([], np.zeros(n + 1, dtype=np.int64))
    proj = p["project"].to_numpy().astype(np.int64)
    cols = list(names or [c for c in p.columns if c not in ("project", "layer_row")])
    empty = Texts(pa.array(['""'], _L), np.zeros(len(p), dtype=np.int64))
    values = [column_texts(p[c], rounded=True) if c in p else empty for c in cols]
    if not bool(np.all(proj[1:] >= proj[:-1])):  # pairs in project order, else as found
        order = np.argsort(proj, kind="stable")
        values, proj = [v.reorder(order) for v in values], proj[order]
    first = np.r_[True, proj[1:] != proj[:-1]]
    last = np.r_[proj[1:] != proj[:-1], True]
    parts: list[Part] = [_flag(first, "[\n"), " " * 8 + "{\n"]
    for k, (name, col) in enumerate(zip(cols, values, strict=True)):
        parts += [("" if k == 0 else ",\n") + " " * 10 + encode(name) + ": ", col]
    parts += ["\n" + " " * 8 + "}", _flag(last, "\n      ]")]
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(proj, minlength=n), out=starts[1:])
    return _Role(merged(parts, len(p)), starts)


def _rules_texts(result: SiteCheckResult) -> Texts:
    """Each project's ``rules`` list (one text per distinct set of rule ids)."""
    rule_text = {
        r.id: {"id": r.id, "clause": r.clauses, "verdict": r.verdict, "zh": r.zh, "en": r.en}
        for r in result.rules.rules
    }
    ids = pd.Series([str(v) for v in result.table["rule_ids"].tolist()], dtype=object)
    codes, uniques = pd.factorize(ids)
    texts = [_nested([rule_text[x] for x in u.split(";") if x], 3) for u in uniques]
    return Texts(pa.array(texts, _L), np.asarray(codes, dtype=np.int64))


def _project_columns(result: SiteCheckResult) -> dict[str, Texts]:
    """The projects' own fields as JSON texts, by key of the document."""
    t, n = result.table, len(result.table)

    def raw(name: str, default: str | None = None) -> Texts:
        if name not in t.columns and default is not None:
            return Texts(pa.array([default], _L), np.zeros(n, dtype=np.int64))
        return column_texts(t[name], rounded=False)

    def number(name: str) -> Texts:
        s = t[name]
        if s.dtype == np.float64:
            return Texts(float_texts(s.to_numpy()))
        return Texts(
            pa.array([encode(None if v is None else plain(float(v))) for v in s.tolist()], _L)
        )

    pid = t["project_id"]
    if not isinstance(pid.dtype, pd.StringDtype):
        pid = pd.Series([str(v) for v in pid.tolist()], dtype=object)
    return {
        "project_id": column_texts(pid, rounded=False),
        "industry": raw("industry_id"),
        "kind": raw("kind"),
        "verdict": raw("verdict"),
        "city": raw("city", '""'),
        "county": raw("county", '""'),
        "area_m2": number("area_m2"),
        "nearest_redline_m": number("nearest_redline_m"),
        "nearest_redline": raw("nearest_redline", '""'),
        "zone": raw("builtup_zone"),
        "distance_m": number("builtup_distance_m"),
        "nearest": raw("nearest_builtup"),
        "geometry_note": raw("geometry_note", '""'),
        "unassessed_reason": raw("unassessed_reason", '""'),
        "rules": _rules_texts(result),
    }


def _document_parts(result: SiteCheckResult) -> list[Part]:
    """The parts of each project's text: ``"\\n    {...},"`` (two-space indentation)."""
    c = _project_columns(result)
    n = len(result.table)
    roles = {r: _role_texts(result.pairs.get(r), n) for r in ROLES}
    admission = ["unit_code", *_ADMISSION]
    roles["admission_lists"] = _role_texts(result.pairs.get("control_units"), n, admission)
    parts: list[Part] = [
        '\n    {\n      "project_id": ', c["project_id"],
        ',\n      "industry": ', c["industry"],
        ',\n      "kind": ', c["kind"],
        ',\n      "verdict": ', c["verdict"],
        ',\n      "city": ', c["city"],
        ',\n      "county": ', c["county"],
        ',\n      "area_m2": ', c["area_m2"],
        ',\n      "nearest_redline_m": ', c["nearest_redline_m"],
        ',\n      "nearest_redline": ', c["nearest_redline"],
        ',\n      "builtup": {\n        "zone": ', c["zone"],
        ',\n        "distance_m": ', c["distance_m"],
        ',\n        "nearest": ', c["nearest"],
        '\n      },\n      "geometry_note": ', c["geometry_note"],
        ',\n      "unassessed_reason": ', c["unassessed_reason"],
    ]  # fmt: skip
    for key in ("control_units", "redline", "zones", "rules", "admission_lists"):
        parts.append(f',\n      "{key}": ')
        if key == "rules":
            parts.append(c["rules"])
        else:
            parts += [roles[key].empty(), roles[key]]
    return merged([*parts, "\n    },"], n)


def _block(parts: list[Part], lo: int, hi: int, last: bool) -> pa.Buffer:
    """The text of projects ``lo:hi``: ``"\\n    {...},"`` each, the last of all without
    its comma."""
    t = _rows(parts, lo, hi)
    offsets = np.frombuffer(t.buffers()[1], dtype=np.int64)[t.offset : t.offset + len(t) + 1]
    start, end = int(offsets[0]), int(offsets[-1]) - (1 if last else 0)  # the last: no comma
    return t.buffers()[2].slice(start, end - start)


def project_blocks(
    result: SiteCheckResult, *, threads: int | None = None
) -> Iterator[pa.Buffer | bytes]:
    """The text of the ``projects`` list of ``site_check.json`` (after its ``[``), block by
    block in order: ``"\\n    {...},\\n    {...}"`` then ``"\\n  ]"``; ``"]"`` alone for no
    projects. Blocks are built by up to ``threads`` workers."""
    n = len(result.table)
    if n == 0:
        yield b"]"
        return
    parts = _document_parts(result)
    bounds = [(lo, min(lo + BLOCK, n)) for lo in range(0, n, BLOCK)]
    workers = max(1, min(threads or min(4, os.cpu_count() or 1), len(bounds)))
    with ThreadPoolExecutor(max_workers=workers) as pool:  # at most 2 blocks ahead each
        pending: deque[Future[pa.Buffer]] = deque()
        for lo, hi in bounds:
            pending.append(pool.submit(_block, parts, lo, hi, hi == n))
            if len(pending) > 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    yield b"\n  ]"


#: Stands for the projects in the rest of the document while that is encoded.
_HOLE = "\x00sxzones: the projects\x00"


def write_check_json(doc: dict[str, Any], result: SiteCheckResult, path: Path) -> Path:
    """Write ``site_check.json`` atomically, its projects made from ``result``.

    Parameters
    ----------
    doc : dict
        The document but its projects (:func:`sxzones.runs.site_check.check_document`);
        ``projects`` is its last key.
    result : SiteCheckResult
        The check whose findings are the projects (:func:`project_blocks`).
    path : Path
        Where to write (replaced if it exists); its SHA-256 is remembered for the manifest.

    Returns
    -------
    Path
        ``path``, holding the bytes :func:`sxzones.outputs.write_json` writes for ``doc``
        with ``result.details()`` as its projects (a NaN among them written ``null``).
    """
    rest = json.dumps(
        {**doc, "projects": _HOLE}, ensure_ascii=False, indent=2, default=_json_default
    )
    head, tail = rest.split(json.dumps(_HOLE), 1)
    digest = hashlib.sha256()
    with (
        atomic_path(path, overwrite=True) as tmp,
        ThreadPoolExecutor(max_workers=1) as hasher,  # hashing beside writing: both free the GIL
    ):
        hashed: deque[Future[None]] = deque()
        with tmp.open("wb") as fh:
            for chunk in chain(
                [head.encode("utf-8") + b"["],
                project_blocks(result),
                [(tail + "\n").encode("utf-8")],
            ):
                hashed.append(hasher.submit(digest.update, chunk))  # in order: one worker
                fh.write(chunk)
                while len(hashed) > 4:
                    hashed.popleft().result()
        while hashed:
            hashed.popleft().result()
        remember_digest(tmp, digest.hexdigest())
    return path
