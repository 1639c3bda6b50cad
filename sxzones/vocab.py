"""Vocabularies: what users write for a value, mapped to the identifier sxzones uses.

A :class:`Vocabulary` knows, for each identifier (``coking``), its Chinese and English names,
the usual synonyms (``焦化``, ``焦炭``), and for industries the codes of 国民经济行业分类
GB/T 4754-2017 (``2521`` 炼焦). Matching is done after :func:`normalise`: Unicode NFKC
(full-width and half-width forms), case folding, and spaces, ``_``, ``-`` and ``·`` ignored.
A value that matches nothing resolves to None, never to a guess: callers mark it
``unrecognised`` (a table) or refuse it (a single command-line value, with the closest known
values).

>>> v = Vocabulary.from_table("industries", {
...     "coking": {"zh": "焦化", "codes": {"2521": "炼焦"}},
...     "steel": {"zh": "钢铁", "synonyms": ["iron and steel"]}})
>>> [v.resolve(t) for t in ("焦化", "Ｃｏｋｉｎｇ", "C2521", "炼焦（2521）", "Iron And Steel", "食品")]
['coking', 'coking', 'coking', 'coking', 'steel', None]
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sxzones.errors import SxzonesError

__all__ = [
    "RECOGNISED",
    "Term",
    "Vocabulary",
    "code_cell",
    "id_key",
    "load_vocabularies",
    "normalise",
]

RECOGNISED, UNRECOGNISED, MISSING = "recognised", "unrecognised", "missing"
_IGNORED = re.compile(r"[\s_\-·・]+")
# A GB/T 4754 code in a value: an optional section letter (A-T), then 2 to 4 digits.
_CODE = re.compile(r"(?<![0-9.])[a-t]?([0-9]{2,4})(?![0-9.])")
#: A quantity in a value (normalised text): ``年产260万吨``, ``320万t/a``, ``100mw``, ``2号``,
#: ``二期`` is words. A number with a unit is a capacity, a count or a label, never a code of
#: GB/T 4754: it is set aside before the code and the words are read (``焦化(年产260万吨)`` is
#: coking, not division 26).
_QUANTITY = re.compile(
    r"(?:年产|年处理|日处理|产能|设计产能|规模|总装机|装机)?[0-9]+(?:\.[0-9]+)?"
    r"(?:万|亿|千|百)?(?:吨|t|kt|mt|gw|mw|kw|千瓦|兆瓦|瓦|wp|kwp|mwp|立方米|平方米|m3|m2|米|m"
    r"|公顷|ha|亩|台|套|座|个|条|号|期|%|元|人)(?:/(?:年|a|d|日|天|h|小时))?(?![a-z])"
)
_BRACKETS = "()[]【】<>《》"
_EMPTY_BRACKETS = re.compile(r"\(\)|\[\]|【】|<>|《》")
_TERM_KEYS = {"zh", "en", "synonyms", "codes", "parent_of", "note"}
VOCABULARIES = ("industries", "project_kinds", "candidate_kinds")


#: Words users append to a vocabulary term that do not change it (longest first):
#: 焦化企业, 钢铁行业, 电解铝厂, 新建项目. The rest must be a known term by itself.
GENERIC_TAILS = ("有限公司", "企业", "行业", "产业", "公司", "项目", "厂")


def normalise(text: object) -> str:
    """The form values are compared in: NFKC, case-folded, without spaces, ``_ - ·``.

    >>> normalise("  Coal_Power ") == normalise("ｃｏａｌ　ｐｏｗｅｒ") == "coalpower"
    True
    """
    return _IGNORED.sub("", unicodedata.normalize("NFKC", str(text)).casefold())


def id_key(ids: pd.Series) -> pd.Series:
    """Ids as they are compared (a list's duplicates, the phase-out join): NFKC (full-width
    ``９１`` is ``91``) in upper case, without the spaces around; and an id that is a
    统一社会信用代码 once spaces and ``_ - ·`` are taken out (18 digits and upper-case letters,
    GB 32100-2015) is that code, as lists typed apart write it spaced or hyphenated. Any
    other id keeps its separators: ``A-12`` and ``A1-2`` are two projects. Values already
    plain (digits and upper-case ASCII letters: nearly all) are kept as they are, found in
    one Arrow pass; only the others are normalised one by one.

    >>> id_key(pd.Series(["91140100MA0A000001", "９１１４０１００ＭＡ０Ａ０００００１",
    ...                   "91140100ma0a000001", " 9114 0100-MA0A000001"])).nunique()
    1
    >>> id_key(pd.Series(["A-12", "A1-2", "a-12", "Ａ-12 "])).tolist()
    ['A-12', 'A1-2', 'A-12', 'A-12']
    """
    text = ids.astype(str)
    arr = pa.array(text, from_pandas=True)  # an Arrow-backed column: no copy
    if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    # ASCII letters and digits, none lower case (two Arrow kernels: a regex costs 4 times)
    plain = pc.fill_null(pc.and_(pc.ascii_is_alnum(arr), pc.equal(pc.ascii_upper(arr), arr)), False)
    odd = ~np.asarray(plain.to_numpy(zero_copy_only=False), dtype=bool)
    if not odd.any():
        return text
    out = text.copy()
    out[odd] = [_id_form(v) for v in text[odd]]
    return out


#: A 统一社会信用代码: 18 digits and upper-case letters (GB 32100-2015).
_CREDIT_CODE = re.compile(r"[0-9A-Z]{18}")


def _id_form(value: str) -> str:
    """:func:`id_key` of one id that is not plain."""
    code = normalise(value).upper()
    if _CREDIT_CODE.fullmatch(code):
        return code
    return unicodedata.normalize("NFKC", value).strip().upper()


#: A GB/T 4754 code cell that a spreadsheet turned into a number: ``2521.0`` (``C2521.0``).
_FLOAT_CODE = re.compile(r"\s*([A-Ta-t]?[0-9]{2,4})\.0+\s*")


def code_cell(value: object) -> object:
    """A 行业代码 cell as the code it holds: a whole number stored as floating point
    (``2521.0``, a spreadsheet's number cell, or the text it was saved as) is the code
    ``2521``; anything else is returned as it is.

    >>> [code_cell(v) for v in (2521.0, "2521.0", "C2521.00", 2521, "2521.5", "C2614")]
    ['2521', '2521', 'C2521', 2521, '2521.5', 'C2614']
    """
    if isinstance(value, float | np.floating) and np.isfinite(value) and float(value).is_integer():
        return f"{int(value):02d}"
    if isinstance(value, str) and (m := _FLOAT_CODE.fullmatch(value)):
        return m.group(1)
    return value


@dataclass(frozen=True)
class Term:
    """One identifier of a vocabulary, with what users write for it."""

    id: str
    zh: str = ""
    en: str = ""
    synonyms: tuple[str, ...] = ()
    codes: dict[str, str] = field(default_factory=dict)
    parent_of: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Vocabulary:
    """Identifiers and the words and codes that name them (see the module docstring)."""

    name: str
    terms: dict[str, Term]
    _words: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    _codes: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_table(cls, name: str, table: Mapping[str, Mapping[str, Any]]) -> Vocabulary:
        """Build from a ``{id: {zh, en, synonyms, codes, parent_of, note}}`` table."""
        terms = {
            str(k): Term(
                str(k),
                str(v.get("zh", "")),
                str(v.get("en", "")),
                tuple(map(str, v.get("synonyms", ()))),
                {str(c): str(n) for c, n in dict(v.get("codes", {})).items()},
                tuple(map(str, v.get("parent_of", ()))),
                str(v.get("note", "")),
            )
            for k, v in table.items()
        }
        vocab = cls(name, terms)
        for t in terms.values():
            for word in (t.id, t.zh, t.en, *t.synonyms, *t.codes.values()):
                if word:
                    vocab._words.setdefault(normalise(word), t.id)
            for code in t.codes:
                vocab._codes[code] = t.id
        return vocab

    def ids(self) -> list[str]:
        """The identifiers, in the order of the file."""
        return list(self.terms)

    def label(self, ident: str) -> str:
        """``焦化 coking`` for ``coking`` (the identifier itself when unknown)."""
        t = self.terms.get(ident)
        return f"{t.zh} {t.id}".strip() if t else ident

    def _by_code(self, digits: str) -> str | None:
        for n in range(len(digits), 1, -1):  # the longest listed prefix
            if digits[:n] in self._codes:
                return self._codes[digits[:n]]
        return None

    def resolve(self, text: object) -> str | None:
        """The identifier ``text`` names, or None. In the industries vocabulary a value
        listing several known terms (``钢铁、焦化``, ``钢铁/焦化``, ``炼焦；炼钢``: a combined
        works) names them all, joined by ``;`` in the order written (see
        :meth:`resolve_one`; :func:`split_ids`); only when every listed part is itself known:
        ``钢铁、食品`` stays unknown. A project or a candidate land has one kind."""
        found = self.resolve_one(text)
        if found is not None or self.name != "industries" or not isinstance(text, str):
            return found
        parts = [p for p in _LIST_SEP.split(normalise(text)) if p]
        if len(parts) < 2:
            return None
        ids = [self.resolve_one(p) for p in parts]
        if any(i is None for i in ids):
            return None
        return ";".join(dict.fromkeys(str(i) for i in ids))

    def resolve_one(self, text: object) -> str | None:
        """The identifier ``text`` names, or None (blank or unknown: never a guess).

        Tried in order: the whole value (identifier, name, synonym, a code's name in the
        standard); the value less a generic word at its end (:data:`GENERIC_TAILS`:
        ``焦化企业`` is ``焦化``) when what is left is itself known; a value that is a code
        (``2521``, ``C2521``); a code inside the value (``炼焦（2521）``, ``2521 炼焦``) when
        the words around it name the same industry or none (:meth:`_by_code_and_words`).
        Quantities (``年产260万吨``, ``100MW``, ``2号``) are set aside first: a number with a
        unit is never read as a code.
        """
        if text is None or (isinstance(text, float) and text != text):
            return None
        key = normalise(text)
        if not key or key in ("nan", "none", "<na>"):
            return None
        found = self._by_words(key)
        if found is not None or not self._codes:
            return found
        if _QUANTITY.search(key):  # quantities set aside: 焦化(年产260万吨), 年产26万吨水泥
            plain = _EMPTY_BRACKETS.sub("", _QUANTITY.sub("", key)).strip(":,")
            return self.resolve_one(plain) if plain else None
        return self._by_code_and_words(key)

    def _by_words(self, key: str) -> str | None:
        """The identifier a normalised value names by its words (or a generic tail)."""
        if key in self._words:
            return self._words[key]
        for tail in GENERIC_TAILS:  # 焦化企业, 钢铁行业, 电解铝厂, 新建项目: the word before it
            if key.endswith(tail) and key[: -len(tail)] in self._words:
                return self._words[key[: -len(tail)]]
        return None

    def _by_code_and_words(self, key: str) -> str | None:
        """A value holding one GB/T 4754 code (``C2521``, ``炼焦(2521)``, ``2521炼焦``): the
        code's industry, when the words beside it name the same industry or none; None when
        they name another (``焦化(3011)``: coking and cement, one of them a typing error),
        when the number is not written as a code (two or three digits among words, not in
        brackets: ``06高炉``), or when there are several numbers."""
        codes = list(_CODE.finditer(key))
        if len(codes) != 1 or re.search(r"[0-9]", _CODE.sub("", key)):
            return None
        m = codes[0]
        words = (key[: m.start()] + key[m.end() :]).strip(_BRACKETS + ":,")
        before, after = key[m.start() - 1 : m.start()], key[m.end() : m.end() + 1]
        bracketed = bool(before and after) and before in "([【" and after in ")]】"
        if not words or bracketed or len(m.group(1)) == 4 or m.group(0)[0].isalpha():
            by_code = self._by_code(m.group(1))
        else:
            return None  # 06高炉: a number among words that is not written as a code
        by_words = self._by_words(_EMPTY_BRACKETS.sub("", words)) if words else None
        if by_code is None:
            return by_words  # an unlisted code beside known words: the words
        return by_code if by_words is None else self.agree(by_words, by_code)

    def agree(self, by_words: str, by_code: str) -> str | None:
        """What an industry named in words and one named by a code are together (a cell
        ``炼焦（2521）``, or a 行业 column beside a 行业代码 column): the same industry; the
        words' combined works when the code is one of its industries (``钢铁、焦化`` and
        3110: ``steel;coking``); the code's industry when the words name a wider one of which
        it is a part (``有色`` and 3216: ``electrolytic_aluminium``, ``parent_of``); None when
        they name different industries (焦化 and 3011, cement): one of them is a typing error,
        and which one cannot be known.

        >>> v = Vocabulary.from_table("industries", {
        ...     "coking": {"codes": {"2521": "炼焦"}}, "cement": {"codes": {"3011": "水泥制造"}},
        ...     "nonferrous": {"parent_of": ["aluminium"]}, "aluminium": {}})
        >>> [v.agree(*p) for p in (("coking", "coking"), ("cement;coking", "coking"),
        ...                        ("nonferrous", "aluminium"), ("coking", "cement"))]
        ['coking', 'cement;coking', 'aluminium', None]
        """
        if by_code in split_ids(by_words):
            return by_words
        if by_code in self.expand(split_ids(by_words)):  # the words' industries, all below
            return by_code
        return None

    def code_name(self, code: object) -> str:
        """The name in the standard of the code a value holds (``水泥制造`` for 3011, C3011),
        by the longest listed prefix; ``""`` when the value holds no listed code."""
        m = _CODE.search(normalise(code_cell(code)))
        if m is None:
            return ""
        digits = m.group(1)
        for n in range(len(digits), 1, -1):
            for t in self.terms.values():
                if digits[:n] in t.codes:
                    return t.codes[digits[:n]]
        return ""

    def closest(self, text: object, n: int = 5) -> list[str]:
        """Known values nearest to ``text`` (identifiers and Chinese names), for messages."""
        key = normalise(text)
        names = {normalise(w): w for t in self.terms.values() for w in (t.id, t.zh, t.en) if w}
        near = difflib.get_close_matches(key, list(names), n=n, cutoff=0.5)
        by_syn = difflib.get_close_matches(key, list(self._words), n=n, cutoff=0.6)
        out = [names[k] for k in near] + [self._words[k] for k in by_syn]
        return list(dict.fromkeys(out))[:n]

    def require(self, text: object, what: str) -> str:
        """The identifier ``text`` names; else :class:`SxzonesError` with the closest values.

        >>> Vocabulary.from_table("industries", {"steel": {"zh": "钢铁"}}).require(
        ...     "steeel", "--industry")
        Traceback (most recent call last):
        ...
        sxzones.errors.SxzonesError: --industry 'steeel' is not a known industry; closest: steel. ...
        """
        found = self.resolve(text)
        if found is not None:
            return found
        near = self.closest(text)
        singular = {"industries": "industry", "project_kinds": "project kind"}.get(
            self.name, self.name.rstrip("s").replace("_", " ")
        )
        raise SxzonesError(
            f"{what} {str(text)!r} is not a known {singular}; "
            f"closest: {', '.join(near) if near else '(none)'}. "
            f"Known: {', '.join(self.label(i) for i in self.terms)}. Fix: write one of these "
            f"(identifier, Chinese name{', or GB/T 4754 code' if self._codes else ''}), or add "
            f"the value to the synonyms under [vocabularies.{self.name}] in the rules file"
        )

    def expand(self, values: Iterable[str]) -> tuple[str, ...]:
        """Identifiers of ``values`` (identifiers, names or codes) with their children."""
        out: list[str] = []
        todo = [self.resolve(v) or str(v) for v in values]
        while todo:
            ident = todo.pop(0)
            if ident not in out:
                out.append(ident)
                t = self.terms.get(ident)
                todo += list(t.parent_of) if t else []
        return tuple(out)

    def resolve_many(
        self, values: pd.Series
    ) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
        """Identifiers (``""`` where none) and statuses (``recognised`` / ``unrecognised`` /
        ``missing``) of a column, resolving each distinct value once."""
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        found = [self.resolve(u) for u in uniques]
        blank = [normalise(u) in ("", "nan", "none", "<na>") for u in uniques]
        ids = np.array([f or "" for f in found] + [""], dtype=object)
        status = np.array(
            [
                MISSING if b else (RECOGNISED if f is not None else UNRECOGNISED)
                for f, b in zip(found, blank, strict=True)
            ]
            + [MISSING],
            dtype=object,
        )
        return ids[codes], status[codes]  # code -1 (NULL) takes the last: missing


#: Separators of a value that lists several terms (``钢铁、焦化``); normalised text (full-width
#: punctuation already half-width).
_LIST_SEP = re.compile(r"\s*[、,;/+|和及与]\s*")


def split_ids(ident: str) -> list[str]:
    """The identifiers of a resolved value: ``steel;coking`` -> ``["steel", "coking"]``."""
    return ident.split(";") if ident else []


def load_vocabularies(
    table: Any, raw_rules: list[dict[str, Any]]
) -> tuple[dict[str, Vocabulary], list[str]]:
    """The ``[vocabularies]`` of a rules file, with their problems. A file without them gets
    vocabularies of the bare identifiers its rules name (so small rules files stay small)."""
    problems: list[str] = []
    table = table if isinstance(table, dict) else {}
    if extra := sorted(set(table) - set(VOCABULARIES)):
        problems.append(f"[vocabularies]: unknown {extra}; allowed: {list(VOCABULARIES)}")
    out: dict[str, Vocabulary] = {}
    for name in VOCABULARIES:
        entries = table.get(name)
        if entries is None:
            named = {str(i) for r in raw_rules for i in r.get(name, []) or []}
            entries = {i: {} for i in sorted(named)}
        for ident, entry in entries.items():
            if not isinstance(entry, dict):
                problems.append(f"[vocabularies.{name}.{ident}] must be a table")
            elif bad := sorted(set(entry) - _TERM_KEYS):
                problems.append(
                    f"[vocabularies.{name}.{ident}]: unknown key(s) {bad}; "
                    f"allowed: {sorted(_TERM_KEYS)}"
                )
            elif any(not re.fullmatch(r"[0-9]{2,4}", str(c)) for c in entry.get("codes", {})):
                problems.append(
                    f"[vocabularies.{name}.{ident}]: codes are GB/T 4754 codes of 2 to 4 digits"
                )
        good = {k: v for k, v in entries.items() if isinstance(v, dict)}
        out[name] = Vocabulary.from_table(name, good)
        problems += _clashes(out[name])
    return out, problems


def _clashes(vocab: Vocabulary) -> list[str]:
    """A word or code listed under two identifiers (the first would win silently)."""
    seen: dict[str, str] = {}
    out = []
    for t in vocab.terms.values():
        words = {normalise(w) for w in (t.id, t.zh, t.en, *t.synonyms, *t.codes.values()) if w}
        for w in sorted(words | set(t.codes)):
            if w in seen and seen[w] != t.id:
                out.append(f"[vocabularies.{vocab.name}]: {w!r} is under both {seen[w]} and {t.id}")
            seen.setdefault(w, t.id)
        for child in t.parent_of:
            if child not in vocab.terms:
                out.append(f"[vocabularies.{vocab.name}.{t.id}]: parent_of {child!r} is unknown")
    return out
