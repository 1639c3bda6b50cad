"""Chinese out: labels of table headers, values, sheet names, map legends, popups and reports.

The labels are data (``sxzones/i18n.toml``) plus what the loaded rules file names (candidate
kinds, siting exclusion reasons, industries): policy labels are read where they live, never
copied here. Three languages:

- ``en`` (the default): today's outputs, byte for byte. Tables keep their identifiers
  (``zone = within_20km``); maps and reports keep their bilingual headings.
- ``zh``: Chinese only (``区位 = 周边20千米内``).
- ``both``: ``中文 (identifier)`` in tables and popups (``区位 (zone) = 周边20千米内
  (within_20km)``); bilingual headings in maps and reports.

A value or header without a label is written as it is (a user's own column, a code such as
``ZH14010520001``): nothing is dropped or guessed.

>>> label("zone.inside", "zh")
'建成区内'
>>> label("field.verdict", "both")
'研判结论 (verdict)'
>>> label("verdict.clear", "en")
'clear'
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import pandas as pd

from sxzones.errors import SxzonesError

if TYPE_CHECKING:
    from sxzones.rules import RuleSet

__all__ = [
    "COLUMN_VOCABULARY",
    "LANGS",
    "Labels",
    "Lang",
    "check_lang",
    "joined",
    "label",
    "labels",
    "legend_label",
    "legend_pairs",
    "sheet_name",
    "text",
    "text_pairs",
    "translate_frame",
    "translate_note",
    "translate_notes",
    "translate_reject",
    "translate_sheets",
    "translate_value",
    "translate_values",
]

Lang = Literal["en", "zh", "both"]
LANGS: tuple[Lang, ...] = ("en", "zh", "both")
DATA = Path(__file__).with_name("i18n.toml")

#: Which vocabulary the values of a column belong to (a column not named here keeps its
#: values). ``status`` is not here: it is a candidate's or a firm's own status in one table
#: and a layer's provenance in another; pass ``vocabulary={"status": "provenance"}``.
COLUMN_VOCABULARY: dict[str, str] = {
    "zone": "zone",
    "builtup_zone": "zone",
    "verdict": "verdict",
    "unit_type": "unit_type",
    "unit_types": "unit_type",
    "kind": "kind",
    "nearest_area_kind": "kind",
    "industry_id": "industry",
    "industry_status": "industry_status",
    "how_to_map": "how_to_map",
    "tech": "tech",
    "reason": "reason",  # a siting exclusion reason, or a rejected row's (translate_reject)
    "main_reason": "reason",
    "clauses": "clause",  # "; "-joined: 晋环发〔2023〕1号 (十五); user layer
    "clause": "clause",
    "code": "code",
    "applicable": "bool",
    "eligible": "bool",
    "assessed": "bool",
    "settled": "bool",
    "role": "role",
    "firm_asks": "asks",
    "finding": "phaseout_finding",  # the equipment screen's unit and firm finding (popups too)
}
#: Columns holding several values joined by ``;`` (one per pair, in order).
MULTI = frozenset({"unit_types", "industry_id"})
_WITHIN = re.compile(r"^within_(\d+(?:\.\d+)?)km$")
_ASK_SEP = re.compile(r"( \| |; )")  # between the asks of several rules (kept by split)
_REMOVED = re.compile(r"^removed_(.+)_m2$")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def check_lang(lang: str) -> Lang:
    """``lang`` if it is one of ``en``, ``zh``, ``both``; otherwise a user error naming them."""
    if lang not in LANGS:
        raise SxzonesError(f"language {lang!r}: choose from {', '.join(LANGS)} (--lang, lang =)")
    return cast(Lang, lang)


@dataclass(frozen=True)
class Labels:
    """Chinese labels: ``fields`` (headers, popup labels), ``values`` by vocabulary,
    ``patterns`` for dynamic headers, ``sheets``, and ``legend`` / ``text`` pairs (zh, en)."""

    fields: dict[str, str]
    values: dict[str, dict[str, str]]
    patterns: dict[str, str]
    sheets: dict[str, str]
    legend: dict[str, tuple[str, str]]
    text: dict[str, tuple[str, str]]
    sources: dict[str, str] = field(default_factory=dict)  # vocabulary -> where it came from
    text_zh: dict[str, str] = field(default_factory=dict)  # Chinese-only forms (``zh_only``)


@lru_cache(maxsize=1)
def _package_data() -> dict[str, Any]:
    with DATA.open("rb") as fh:
        return tomllib.load(fh)


def _pairs(table: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    return {k: (str(v["zh"]), str(v["en"])) for k, v in table.items()}


def text_pairs() -> dict[str, tuple[str, str]]:
    """The (Chinese, English) headings and sentences of maps and reports, by key."""
    return _pairs(_package_data()["text"])


def _text_zh() -> dict[str, str]:
    """Chinese-only forms of texts whose bilingual heading keeps a unit in its English half
    (``重叠面积 Overlap m²`` -> ``重叠面积（平方米）``)."""
    return {k: str(v["zh_only"]) for k, v in _package_data()["text"].items() if "zh_only" in v}


def legend_pairs() -> dict[str, tuple[str, str]]:
    """The (Chinese, English) legend labels of the package data, by key."""
    return _pairs(_package_data()["legend"])


def _rule_vocabularies(rules: RuleSet) -> dict[str, dict[str, str]]:
    """Chinese labels that the rules file holds: its vocabularies' Chinese names of
    industries, project kinds and candidate kinds (``zh``), the ``labels`` of the
    ``siting_candidates`` rule (where the vocabulary has no name) and the exclusion reasons
    (``label_zh``)."""
    out: dict[str, dict[str, str]] = {"kind": {}, "reason": {}, "industry": {}}
    for rule in rules.of_kind("siting_candidates"):
        out["kind"].update({str(k): str(v) for k, v in rule.params.get("labels", {}).items()})
    for rule in rules.of_kind("siting_exclusion"):
        if rule.params.get("label_zh"):
            out["reason"][str(rule.params["reason"])] = str(rule.params["label_zh"])
    for vocab, target in (
        (rules.industries, "industry"),
        (rules.project_kinds, "kind"),
        (rules.candidate_kinds, "kind"),
    ):
        out[target].update({k: t.zh for k, t in vocab.terms.items() if t.zh})
    return out


def labels(rules: RuleSet | None = None) -> Labels:
    """The labels: the package's data, overlaid with what ``rules`` names (default: the
    default rules file).

    >>> labels().values["kind"]["subsidence"]  # from the rules file
    '采煤沉陷区'
    """
    from sxzones.rules import load_rules

    data = _package_data()
    values = {k: dict(v) for k, v in data["values"].items()}
    sources = dict.fromkeys(values, "sxzones/i18n.toml")
    ruleset = rules if rules is not None else load_rules()
    for vocab, found in _rule_vocabularies(ruleset).items():
        if found:
            values.setdefault(vocab, {}).update(found)
            sources[vocab] = f"sxzones/i18n.toml + {ruleset.path.name}"
    return Labels(
        fields=dict(data["fields"]),
        values=values,
        patterns=dict(data["patterns"]),
        sheets=dict(data["sheets"]),
        legend=_pairs(data["legend"]),
        text=_pairs(data["text"]),
        sources=sources,
        text_zh=_text_zh(),
    )


@lru_cache(maxsize=1)
def _default_labels() -> Labels:
    return labels()


def _form(zh: str | None, key: str, lang: Lang) -> str:
    """``key`` (en, or no label), ``zh``, or ``zh (key)``."""
    if lang == "en" or not zh:
        return key
    return zh if lang == "zh" else f"{zh} ({key})"


def _zone_zh(value: str, lab: Labels, km: str | None) -> str | None:
    m = _WITHIN.match(value)
    if m:
        return lab.patterns["within_km"].format(km=m.group(1))
    if value == "beyond" and km is not None:
        return lab.patterns["beyond_km"].format(km=km)
    return lab.values["zone"].get(value)


def translate_value(
    value: Any, vocabulary: str, lang: Lang, *, lab: Labels | None = None, km: str | None = None
) -> Any:
    """One value of a vocabulary in ``lang`` (``km``: the screening distance, for ``beyond``).
    NaN and values without a label come back as they are.

    >>> translate_value("within_10km", "zone", "zh")
    '周边10千米内'
    >>> translate_value(True, "bool", "both")
    '是 (true)'
    """
    if lang == "en" or value is None or (isinstance(value, float) and np.isnan(value)):
        return value
    lab = lab or _default_labels()
    if vocabulary == "bool" and isinstance(value, bool | np.bool_):
        key = "true" if value else "false"
        return _form(lab.values["bool"][key], key, lang)
    key = str(value)
    zh = _zone_zh(key, lab, km) if vocabulary == "zone" else lab.values.get(vocabulary, {}).get(key)
    return _form(zh, key, lang) if zh else value


def label(key: str, lang: Lang, *, lab: Labels | None = None) -> str:
    """The label of ``"field.NAME"``, ``"sheet.NAME"`` or ``"VOCABULARY.VALUE"`` (e.g.
    ``"zone.inside"``, ``"verdict.unassessed"``) in ``lang``: the identifier (``en``), the
    Chinese (``zh``) or ``中文 (identifier)`` (``both``). Unknown keys give the identifier."""
    lab = lab or _default_labels()
    section, _, name = key.partition(".")
    if section == "field":
        return _form(_header_zh(name, lab), name, lang)
    if section == "sheet":
        return _form(lab.sheets.get(name) or _zone_zh(name, lab, None), name, lang)
    return str(translate_value(name, section, lang, lab=lab))


def joined(zh: str, en: str) -> str:
    """``中文 English`` as the maps and reports write it (no space after a closing ``）``)."""
    return zh + ("" if zh.endswith("）") else " ") + en


def text(key: str, lang: Lang, *, lab: Labels | None = None, **fmt: Any) -> str:
    """A heading or sentence of the maps and reports: Chinese (``zh``) or ``中文 English``
    (``en``, ``both``: as today). ``fmt`` fills ``{placeholders}``.

    >>> text("verdict", "zh"), text("verdict", "en")
    ('结论', '结论 Verdict')
    """
    zh, en = (lab.text if lab is not None else text_pairs())[key]
    only = (lab.text_zh if lab is not None else _text_zh()).get(key, zh)
    out = only if lang == "zh" else joined(zh, en)
    return out.format(**fmt) if fmt else out


def legend_label(key: str, lang: Lang, *, lab: Labels | None = None) -> str:
    """A legend entry or layer name: ``中文 English`` as today (``en``; ``both`` also labels
    values that today show their identifier) or its Chinese (``zh``; a value without a legend
    entry takes its table label). Unknown keys give the key.

    >>> legend_label("general_control", "en"), legend_label("general_control", "zh")
    ('一般管控单元 General control', '一般管控单元')
    """
    legend = lab.legend if lab is not None else legend_pairs()
    if key in legend:
        zh, en = legend[key]
        return zh if lang == "zh" else joined(zh, en)
    m = _WITHIN.match(key)
    if m:
        zh = _package_data()["patterns"]["within_km"].format(km=m.group(1))
        return zh if lang == "zh" else f"{zh} Within {m.group(1)} km"
    if key.startswith("resource_"):  # the reason of a --resource raster, by its file name
        name = key[len("resource_") :]
        if lang == "zh":
            return f"资源量低于下限（{name}）"
        return f"资源量低于下限 Resource below minimum ({name})"
    if lang == "en":
        return key
    lab = lab or _default_labels()
    for vocab in ("zone", "verdict", "unit_type", "kind", "industry", "reason", "role"):
        found = lab.values.get(vocab, {}).get(key)
        if found:
            return _form(found, key, lang)
    return key


def _header_zh(col: str, lab: Labels, km: str | None = None) -> str | None:
    """The Chinese header of a column: a field, ``removed_<reason>_m2``, or a zone value
    (the zone columns of the firm summary sheet)."""
    if col in lab.fields:
        return lab.fields[col]
    m = _REMOVED.match(col)
    if m:
        reason = lab.values["reason"].get(m.group(1)) or m.group(1)
        return lab.patterns["removed_reason_m2"].format(reason=reason)
    return _zone_zh(col, lab, km)


def _distance_km(frame: pd.DataFrame) -> str | None:
    """The one screening distance the frame's zones name (``within_20km`` -> ``"20"``)."""
    found = {m.group(1) for c in map(str, frame.columns) if (m := _WITHIN.match(c))}
    for col in ("zone", "builtup_zone"):
        if col in frame.columns:
            for v in pd.unique(frame[col].dropna().astype(str)):
                if m := _WITHIN.match(v):
                    found.add(m.group(1))
    return found.pop() if len(found) == 1 else None


def _reason_value(value: Any, lang: Lang, lab: Labels) -> Any:
    """A ``reason`` value: a siting exclusion reason's label, else a rejected row's reason
    (:func:`translate_reject`)."""
    said = translate_value(value, "reason", lang, lab=lab)
    if said is value and isinstance(value, str):
        return translate_reject(value, lang, lab=lab)
    return said


def _why_value(value: Any, lang: Lang, lab: Labels) -> Any:
    """Why a siting exclusion was not assessed: the words of ``[values.siting_why]``, else
    by the patterns of ``[[geometry_notes]]`` (a role missing from the catalogue names the
    role and the catalogue file)."""
    said = translate_value(value, "siting_why", lang, lab=lab)
    if said is value and isinstance(value, str):
        return translate_note(value, lang, lab=lab)
    return said


def _translate_column(
    s: pd.Series, col: str, vocab: str, lang: Lang, lab: Labels, km: str | None
) -> pd.Series:
    """The values of one column in ``lang`` (each distinct value looked up once)."""
    if vocab == "asks":  # "深度治理，2024-12-31 前 / deep treatment due 2024-12-31 | ..."
        if lang != "zh":
            return s
        return s.map(
            lambda v: (
                "".join(p.split(" / ")[0] for p in _ASK_SEP.split(v)) if isinstance(v, str) else v
            )
        )
    uniq = pd.unique(s.dropna())
    if vocab == "clause":  # "; "-joined clauses, some parts words (user layer)
        said = lab.values.get("clause", {})
        table = {
            v: "; ".join(_form(said.get(p), p, lang) for p in v.split("; "))
            for v in uniq
            if isinstance(v, str)
        }
    elif vocab == "reason":  # an exclusion reason's label, else a rejected row's reason
        table = {v: _reason_value(v, lang, lab) for v in uniq}
    elif vocab == "siting_why":  # its words ([values.siting_why]), else [[geometry_notes]]
        table = {v: _why_value(v, lang, lab) for v in uniq}
    elif col in MULTI:
        table = {
            v: ";".join(str(translate_value(x, vocab, lang, lab=lab, km=km)) for x in v.split(";"))
            for v in uniq
            if isinstance(v, str)
        }
    else:
        table = {v: translate_value(v, vocab, lang, lab=lab, km=km) for v in uniq}
    if all(table.get(v, v) is v for v in uniq):
        return s
    return s.map(lambda v: table.get(v, v), na_action="ignore").astype(object)


#: The site check's reasons for ``unassessed`` (sxzones.analyses.site_check) and the firm
#: screen's ``industry_note`` (sxzones.analyses.firm_zones), in Chinese.
_REASONS_ZH = [
    (
        re.compile(r"^outside (.+) \((.+)\), where the plan applies: it does not apply here$"),
        lambda m: f"不在{m[2]}，本方案在此不适用",
    ),
    (
        re.compile(
            r"^([\d,.]+) m² \(([\d.]+) %\) of the parcel lie outside (.+) \((.+)\), in (.+), "
            r"where the plan does not apply: that part is not assessed$"
        ),
        lambda m: (
            f"地块有 {m[1]} 平方米（{m[2]}%）位于{m[4]}之外（{m[5]}），本方案在该部分不适用，该部分未研判"
        ),
    ),
    (  # a multipoint's points, a line's length, a collection's parts (counties.py)
        re.compile(
            r"^(.+) lie outside (.+) \((.+)\), in (.+), "
            r"where the plan does not apply: that part is not assessed$"
        ),
        lambda m: (
            f"{_outside_part_zh(m[1])}位于{m[3]}之外（{m[4]}），本方案在该部分不适用，该部分未研判"
        ),
    ),
    (re.compile(r"^no (.+) given$"), lambda m: f"未给出{m[1]}"),
    (
        re.compile(
            r"^(.+) '(.*)' is not in the rules' vocabulary \(map it under "
            r"\[vocabularies\.(\w+)\] in the rules file\)$"
        ),
        lambda m: f"{m[1]}“{m[2]}”不在规则词表中（可在规则文件的 [vocabularies.{m[3]}] 中对应）",
    ),
    (
        re.compile(
            r"^(.+) '(.*)' \((.+)\) and (.+) '(.*)' \((.+)\) name different industries: "
            r"correct the one that is wrong$"
        ),
        lambda m: (
            f"{m[1]}“{m[2]}”（{m[3]}）与{m[4]}“{m[5]}”（{m[6]}）所指行业不同：请更正有误的一项"
        ),
    ),
    (
        re.compile(
            r"^(.+) '(.*)' is not a code the rules list: the industry is read from (.+) '(.*)'$"
        ),
        lambda m: f"{m[1]}“{m[2]}”不是规则所列的代码：行业按{m[3]}“{m[4]}”读取",
    ),
    (
        re.compile(r"^outside every control unit of (.+): the layers do not cover it$"),
        lambda m: f"位于 {m[1]} 的所有环境管控单元之外：图层未覆盖此处",
    ),
    (
        re.compile(
            r"^([\d,.]+) m² \(([\d.]+) %\) of the parcel lie outside every control unit of "
            r"(.+): the layers do not cover that part$"
        ),
        lambda m: (
            f"地块有 {m[1]} 平方米（{m[2]}%）位于 {m[3]} 的所有环境管控单元之外：图层未覆盖该部分"
        ),
    ),
]


_OUTSIDE_PARTS_ZH = [
    (re.compile(r"^(\d+) of (\d+) points$"), lambda m: f"{m[2]} 个点中有 {m[1]} 个"),
    (
        re.compile(r"^([\d,]+) m \(([\d.]+) %\) of the line$"),
        lambda m: f"线有 {m[1]} 米（{m[2]}%）",
    ),
    (
        re.compile(r"^([\d,]+) m² \(([\d.]+) %\) of the parcel$"),
        lambda m: f"地块有 {m[1]} 平方米（{m[2]}%）",
    ),
]


def _outside_part_zh(text: str) -> str:
    """ "1 of 2 points and 1,234 m (40.0 %) of the line" in Chinese (a part it does not know
    stays as written)."""
    out = []
    for part in text.split(" and "):
        zh = next((fn(m) for rx, fn in _OUTSIDE_PARTS_ZH if (m := rx.match(part))), part)
        out.append(zh)
    return "、".join(out)


def translate_reason(text: str, lang: Lang) -> str:
    """A site check's ``unassessed_reason`` (``;``-joined parts) in ``lang``: each part the
    check writes, in Chinese (``zh``) or Chinese then English (``both``); a part it does not
    know stays as written.

    >>> translate_reason("no 行业 given; outside every control unit of cu: the layers do "
    ...                  "not cover it", "zh")
    '未给出行业；位于 cu 的所有环境管控单元之外：图层未覆盖此处'
    """
    if lang == "en" or not text:
        return text
    parts = []
    for part in text.split("; "):
        zh = next((fn(m) for rx, fn in _REASONS_ZH if (m := rx.match(part))), None)
        parts.append(part if zh is None else zh if lang == "zh" else f"{zh} ({part})")
    return "；".join(parts) if lang == "zh" else "; ".join(parts)


#: The parts of an equipment unit's ``reading_notes`` (sxzones.layers.equipment), in Chinese:
#: (pattern, Chinese form with the pattern's groups and a field's label). A part ends at
#: ``; `` or the end; the unknown-value parts hold a ``; `` of their own.
_UNKNOWN = r": no rule for this unit needs it; read as unknown"
_NOTES_ZH = [
    (rf"(\w+) (.+?) is not a non-negative number{_UNKNOWN}", "{f}的值 {1} 不是非负数"),
    (
        rf"(\w+) (.+?) is outside the plausible range ([\d.e+]+)-([\d.e+inf]+){_UNKNOWN}",
        "{f}的值 {1} 超出合理范围 {2}-{3}",
    ),
    (rf"(\w+) (.+?) is not a date or year{_UNKNOWN}", "{f}的值 {1} 不是日期或年份"),
    (rf"(\w+) (.+?) is not in the vocabulary{_UNKNOWN}", "{f}的值 {1} 不在规则词表中"),
    (
        r"(.+?) making (.+?): read as (.+?) \((\w+)\), as no (\w+) makes (.+?)",
        "{0}生产{1}：按{2}（{3}）读取，因{0}不生产{1}",
    ),
    (
        r"(.+?) (.+?) is written once over rows (\d+)-(\d+) \((\d+) units\): read as their "
        r"total, counted once, on unit (.+?)",
        "{0} {1} 在第 {2}-{3} 行合并填写（{4} 台设备）：按其合计读取，只计一次，计入设备 {5}",
    ),
    (
        r"(.+?) (.+?) is written once over rows (\d+)-(\d+) \((\d+) units\): each unit's or "
        r"their total\? Not read \(unknown for every one\)",
        "{0} {1} 在第 {2}-{3} 行合并填写（{4} 台设备）：无法判断是各台的值还是合计，未读取（各台均按未知处理）",
    ),
    (
        r"(\w+) (.+?) read as (\S+) (\S+) \(its unit is the column's\)",
        "{f}的值 {1} 按 {2} {3} 读取",
    ),
    (
        r"(\w+) (.+?) read as (\S+) (\S+) \(converted from (.+?)\)",
        "{f}的值 {1} 由 {4} 换算为 {2} {3}",
    ),
    (
        r"(\w+) (.+?) read as (\S+) (\S+) \(its own unit, not the column's (.+?)\)",
        "{f}的值 {1} 按其自带单位读作 {2} {3}（该列单位为 {4}）",
    ),
    (
        r"(\w+) (\S+) read as (\S+) (\S+) \((\d+) significant digits, as a spreadsheet shows it\)",
        "{f}的值 {1} 按电子表格显示的 {4} 位有效数字读作 {2} {3}",
    ),
    (
        r"status (.+?) read as (\w+) \((.+?), the reason (.+?)\)",
        "状态 {0} 按 {2} 读取（{1}），原因：{3}",
    ),
    (
        r"firm code (.+?) is in scientific notation: the code is mangled and joins no firm",
        "企业代码 {0} 为科学计数法：代码已失真，无法与企业对应",
    ),
]
_NOTES_RX = [(re.compile(rx + r"(?=; |$)"), zh) for rx, zh in _NOTES_ZH]


def translate_notes(text: str, lang: Lang, *, lab: Labels | None = None) -> str:
    """An equipment unit's ``reading_notes`` (``; ``-joined parts) in ``lang``: each part the
    reader writes, in Chinese (``zh``; the unknown-value parts add that no rule for the unit
    needs the field, read as unknown) or Chinese then English (``both``); a part it does not
    know stays as written.

    >>> translate_notes("commissioned '去年' is not a date or year: no rule for this unit "
    ...                 "needs it; read as unknown", "zh")
    "投产时间的值 '去年' 不是日期或年份：本设备适用的规则均不需要该字段，按未知读取"
    """
    if lang == "en" or not text:
        return text
    lab = lab or _default_labels()
    parts: list[str] = []
    pos = 0
    while pos < len(text):
        found = next(((m, zh) for rx, zh in _NOTES_RX if (m := rx.match(text, pos))), None)
        if found is None:  # a part it does not know: as written, up to the next part
            end = text.find("; ", pos)
            end = len(text) if end < 0 else end
            parts.append(text[pos:end])
        else:
            m, zh = found
            end, g = m.end(), m.groups()
            said = zh.format(*g, f=lab.fields.get(g[0], g[0]))
            if m.group(0).endswith(_UNKNOWN):
                said += "：本设备适用的规则均不需要该字段，按未知读取"
            parts.append(said if lang == "zh" else f"{said} ({m.group(0)})")
        pos = end + 2
    return "；".join(parts) if lang == "zh" else "; ".join(parts)


#: Row words of the readers (``row``, ``feature``, ``parcel``) after "第 N".
_ROW_WORDS_ZH = {"row": "行", "feature": "个要素", "parcel": "个地块"}
#: Where a pattern's match may end in a ``; ``-joined note (:func:`translate_note`).
_PART_END = r"(?=; |$)"
#: "row 2: " in a list of rows and their values (the parts' reasons).
_ROWS_SAID = re.compile(r"\b(row|feature|parcel) (\d+): ")


@lru_cache(maxsize=4)
def _patterns(table: str, suffix: str = "") -> tuple[tuple[re.Pattern[str], str], ...]:
    """A pattern table of ``i18n.toml`` (``reject_reasons``, ``geometry_notes``): (English
    pattern, with ``suffix`` appended, and its Chinese form)."""
    return tuple((re.compile(r["en"] + suffix), str(r["zh"])) for r in _package_data()[table])


def _reject_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """The ``[[reject_reasons]]`` of ``i18n.toml``: (whole-reason pattern, Chinese form)."""
    return _patterns("reject_reasons")


class _Groups(Mapping[str, str]):
    """The named forms of a match's groups a Chinese form may use, made when asked for:
    ``f0`` a field's label, ``w0`` a row word, ``t0`` the group read as notes, ``l0`` a list
    of rows, ``d0`` a datum, ``u0`` a control unit's type, ``o0`` a layer's role, ``n0`` a project or candidate,
    ``j0`` the group read as a rejected row's reason, ``r0`` rows and their values (see
    ``i18n.toml``)."""

    def __init__(self, groups: list[str], lab: Labels) -> None:
        self.groups, self.lab = groups, lab

    def __getitem__(self, key: str) -> str:
        x, lab = self.groups[int(key[1:])], self.lab
        form = key[0]
        if form == "f":
            return lab.fields.get(x, x)
        if form == "w":
            return _ROW_WORDS_ZH.get(x, x)
        if form == "t":
            return _note_zh(x, lab)
        if form == "l":
            return (
                re.sub(r" and (\d+) more$", r" 等（另 \1 个）", x)
                .replace(", ", "、")
                .replace(" and ", "、")
            )
        if form == "d":
            return lab.values.get("datum", {}).get(x, x)
        if form == "u":
            return lab.values.get("unit_type", {}).get(x, x)
        if form == "o":  # a layer's role: as written in the catalogue, and its label
            said = lab.values.get("role", {}).get(x)
            return f"{x}（{said}）" if said else x
        if form == "n":
            return lab.values.get("noun", {}).get(x, x)
        if form == "j":
            return translate_reject(x, "zh", lab=lab)
        if form == "r":  # "row 2: 化工, row 3: 焦化 and 2 more"
            said = _ROWS_SAID.sub(lambda m: f"第 {m[2]} {_ROW_WORDS_ZH[m[1]]}：", x)
            return re.sub(r" and (\d+) more$", r" 等（另 \1 个）", said).replace(", 第", "，第")
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _filled(zh: str, m: re.Match[str], lab: Labels) -> str:
    """A pattern's Chinese form ``zh`` with the groups of ``m``."""
    g = [x or "" for x in m.groups()]
    return string.Formatter().vformat(zh, g, _Groups(g, lab))


def _reject_zh(text: str, lab: Labels) -> str | None:
    """The Chinese of one reason (or part) the validators write; None if no pattern fits."""
    for rx, zh in _reject_patterns():
        m = rx.fullmatch(text)
        if m:
            return _filled(zh, m, lab)
    return None


def _note_zh(text: str, lab: Labels) -> str:
    """``; ``-joined notes in Chinese: at each note's start the first pattern of
    ``[[geometry_notes]]`` that matches up to a ``; `` or the end (a note may hold ``; `` of
    its own); a note that none fits stays as written, up to the next ``; ``."""
    parts: list[str] = []
    pos = 0
    patterns = _patterns("geometry_notes", _PART_END)
    while pos < len(text):
        found: tuple[re.Match[str], str] | None = None
        for rx, zh in patterns:
            m = rx.match(text, pos)
            if m:
                found = (m, zh)
                break
        if found is None:
            end = text.find("; ", pos)
            end = len(text) if end < 0 else end
            parts.append(text[pos:end])
        else:
            end = found[0].end()
            parts.append(_filled(found[1], found[0], lab))
        pos = end + 2
    return "；".join(parts)


def translate_note(text: str, lang: Lang, *, lab: Labels | None = None) -> str:
    """A site check's ``geometry_note`` (the project's ``; ``-joined notes: its parts, a blank
    cell filled, how its corners were joined, a datum's caveat ...) in ``lang``: Chinese
    (``zh``) or Chinese then the English in brackets (``both``), by the patterns of
    ``[[geometry_notes]]`` in ``i18n.toml``; a note no pattern fits stays as written.

    >>> translate_note("one project of 2 parts (rows 2 and 3); row 3: 建设性质 blank: "
    ...                "checked as new (新建), the strictest reading", "zh")
    '同一项目的 2 个部分（第 2、3 行）；第 3 行：建设性质为空：按新建研判（最严格的读法）'
    """
    if lang == "en" or not text:
        return text
    zh = _note_zh(text, lab or _default_labels())
    if lang == "zh" or zh == text:
        return zh
    return f"{zh} ({text})"


def translate_reject(text: str, lang: Lang, *, lab: Labels | None = None) -> str:
    """A rejected row's ``reason`` (rejects.csv) in ``lang``: the whole reason by the patterns
    of ``[[reject_reasons]]`` in ``i18n.toml``, or failing that each ``; ``-separated part;
    in Chinese (``zh``) or Chinese then English (``both``). A reason or part that no pattern
    fits stays as written.

    >>> translate_reject("coordinates missing or not numbers ('abc', '37.8')", "zh")
    "坐标缺失或不是数字（'abc', '37.8'）"
    >>> translate_reject("required field '统一社会信用代码' is empty", "both")
    "必填字段“统一社会信用代码”为空 (required field '统一社会信用代码' is empty)"
    """
    if lang == "en" or not text:
        return text
    lab = lab or _default_labels()
    whole = _reject_zh(text, lab)
    if whole is not None:
        return whole if lang == "zh" else f"{whole} ({text})"
    parts = text.split("; ")
    if len(parts) == 1:
        return text
    said = [_reject_zh(p, lab) for p in parts]
    if all(z is None for z in said):
        return text
    out = [
        p if z is None else z if lang == "zh" else f"{z} ({p})"
        for p, z in zip(parts, said, strict=True)
    ]
    return "；".join(out) if lang == "zh" else "; ".join(out)


def translate_values(
    frame: pd.DataFrame,
    lang: Lang,
    *,
    lab: Labels | None = None,
    vocabulary: Mapping[str, str] | None = None,
    km: str | None = None,
) -> pd.DataFrame:
    """A copy of ``frame`` whose values are in ``lang`` (headers unchanged); ``en``: ``frame``.

    The columns of :data:`COLUMN_VOCABULARY` (updated with ``vocabulary``), ``;``-lists in
    ``unit_types``, and ``asks`` (its Chinese half, ``zh`` only). ``km``: the screening
    distance for ``beyond`` (default: the one the frame's ``within_<D>km`` zones name)."""
    if lang == "en":
        return frame
    lab = lab or _default_labels()
    # nearest_area_note is "zh / en" as asks is (firm_zones._foreign_text)
    vocab = {**COLUMN_VOCABULARY, "asks": "asks", "nearest_area_note": "asks", **(vocabulary or {})}
    km = km or _distance_km(frame)
    out = frame.copy()
    for col in out.columns:
        v = vocab.get(str(col))
        if v is not None:
            out[col] = _translate_column(out[col], str(col), v, lang, lab, km)
        elif str(col) in ("unassessed_reason", "industry_note"):
            out[col] = [translate_reason(x, lang) if isinstance(x, str) else x for x in out[col]]
        elif str(col) in ("geometry_note", "raster_resolution_m"):
            said = {v: translate_note(v, lang, lab=lab) for v in pd.unique(out[col].dropna())}
            out[col] = out[col].map(said.get, na_action="ignore").fillna(out[col])
        elif str(col) == "reading_notes":
            said = {v: translate_notes(v, lang, lab=lab) for v in pd.unique(out[col].dropna())}
            out[col] = out[col].map(said.get, na_action="ignore").fillna(out[col])
    return out


def translate_frame(
    frame: pd.DataFrame,
    lang: Lang,
    *,
    lab: Labels | None = None,
    vocabulary: Mapping[str, str] | None = None,
    km: str | None = None,
) -> pd.DataFrame:
    """A copy of ``frame`` with Chinese headers and values (``zh``) or ``中文 (identifier)``
    (``both``); ``en`` returns ``frame`` itself, untouched.

    Values as :func:`translate_values`. Headers: the ``fields`` labels, ``removed_<reason>_m2``,
    and zone values (summary sheets). Columns and values without a label keep their text; a
    translated header that would repeat another keeps its identifier in brackets. The geometry
    column keeps its name.

    >>> df = pd.DataFrame({"zone": ["inside", "within_20km", "beyond"]})
    >>> translate_frame(df, "zh").to_dict("list")
    {'区位': ['建成区内', '周边20千米内', '20千米外']}
    """
    if lang == "en":
        return frame
    lab = lab or _default_labels()
    km = km or _distance_km(frame)
    out = translate_values(frame, lang, lab=lab, vocabulary=vocabulary, km=km)
    geom = getattr(frame, "_geometry_column_name", None)
    cols = [str(c) for c in out.columns]
    names = [c if c == geom else _form(_header_zh(c, lab, km), c, lang) for c in cols]
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    out.columns = pd.Index(
        [f"{n} ({c})" if seen[n] > 1 and n != c else n for n, c in zip(names, cols, strict=True)]
    )
    return out


def translate_sheets(
    sheets: Mapping[str, pd.DataFrame],
    lang: Lang,
    *,
    lab: Labels | None = None,
    vocabulary: Mapping[str, str] | None = None,
) -> dict[str, pd.DataFrame]:
    """XLSX sheets in ``lang``: names by :func:`sheet_name`, frames by :func:`translate_frame`,
    with one screening distance for all (``beyond`` -> ``20千米外``); ``en``: as given."""
    if lang == "en":
        return dict(sheets)
    lab = lab or _default_labels()
    kms = {k for f in sheets.values() if (k := _distance_km(f))}
    kms |= {m.group(1) for name in sheets if (m := _WITHIN.match(name))}
    km = kms.pop() if len(kms) == 1 else None
    return {
        sheet_name(name, lang, lab=lab, km=km): translate_frame(
            f, lang, lab=lab, km=km, vocabulary=vocabulary
        )
        for name, f in sheets.items()
    }


def sheet_name(name: str, lang: Lang, *, lab: Labels | None = None, km: str | None = None) -> str:
    """An XLSX sheet name in ``lang``: ``summary`` -> ``汇总``, a zone sheet -> its zone label;
    cut to Excel's 31 characters, without the characters Excel refuses (``[]:*?/\\``)."""
    if lang == "en":
        return name
    lab = lab or _default_labels()
    zh = lab.sheets.get(name) or _zone_zh(name, lab, km)
    return _SHEET_BAD.sub("_", _form(zh, name, lang))[:31]
