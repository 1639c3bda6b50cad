"""The inspectors' equipment screen (晋环发〔2023〕1号 clauses 四 and 五, 附表 1).

Pure functions over an equipment table (one row per unit, fields already resolved to the
rules' identifiers by :func:`sxzones.layers.equipment.read_equipment`):

* :func:`assess_units`: each unit's finding, ``phase_out`` / ``keep`` / ``unassessed``. A
  phase-out rule fires when every one of its conditions holds; a condition on a field the
  unit does not give is unknown, and a unit that no rule flags but some rule could not
  assess is ``unassessed`` (never ``keep``). The new-capacity flag of clause 五 is added.
* :func:`coking_capacity`: coking capacity by city, operating and idle apart, against the
  provincial cap.

The vocabularies, thresholds (limit, unit, inclusive), the cap and the date after which a
unit is new capacity are in the rules file (:class:`EquipmentRules`).

>>> from sxzones.rules import load_rules
>>> er = equipment_rules(load_rules())
>>> er.resolve("types", "焦炉"), er.resolve("products", "高碳铬铁")
('coke_oven', 'hc_ferrochrome')
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sxzones.errors import RulesError
from sxzones.layers.equipment import NUMERIC_FIELDS, VOCAB_FIELDS, as_written
from sxzones.rules import Rule, RuleSet
from sxzones.vocab import Vocabulary, normalise

__all__ = [
    "NUMERIC_FIELDS",
    "VOCAB_FIELDS",
    "Condition",
    "EquipmentRules",
    "assess_units",
    "coking_capacity",
    "equipment_rules",
    "normalise",
    "summary_by_city_type",
]

FINDINGS = ("phase_out", "unassessed", "keep")
_COMPARE: dict[str, tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]] = {
    # name -> (inclusive, exclusive) comparison of value with limit
    "at_most": (operator.le, operator.lt),
    "below": (operator.le, operator.lt),
    "at_least": (operator.ge, operator.gt),
    "above": (operator.ge, operator.gt),
}


@dataclass(frozen=True)
class Condition:
    """One condition of a phase-out rule: a number against a limit, or a value in a set."""

    field: str
    op: str = ""  # at_most / below / at_least / above, or "" for ``values``
    limit: float = 0.0
    unit: str = ""
    inclusive: bool = True
    values: tuple[str, ...] = ()

    def holds(self, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """(known, holds) per unit: known is False where the field is missing. A number is
        compared as written to 15 significant digits (:func:`~sxzones.layers.equipment.
        as_written`): a spreadsheet's 4.3000000000000007 is the 4.3 it shows, a 4.3 m oven."""
        if self.op:
            num = as_written(pd.to_numeric(values, errors="coerce").to_numpy(float))
            known = np.isfinite(num)
            cmp = _COMPARE[self.op][0 if self.inclusive else 1]
            with np.errstate(invalid="ignore"):
                return known, known & cmp(num, self.limit)
        text = values.astype("string")
        known = (text.notna() & (text != "") & (text != "unknown")).to_numpy(dtype=bool)
        return known, known & text.isin(self.values).fillna(False).to_numpy(dtype=bool)

    def __str__(self) -> str:
        if self.op:
            sign = {"at_most": "≤", "below": "≤", "at_least": "≥", "above": "≥"}[self.op]
            if not self.inclusive:
                sign = {"≤": "<", "≥": ">"}[sign]
            return f"{self.field} {sign} {self.limit:g} {self.unit}".strip()
        return f"{self.field} in {list(self.values)}"


@dataclass(frozen=True)
class EquipmentRules:
    """The equipment part of a rules file: vocabularies, phase-out rules, cap and ban."""

    vocab: dict[str, Vocabulary]  # types, products, furnace_forms, ... (sxzones.vocab)
    labels: dict[str, dict[str, dict[str, str]]]  # vocabulary -> id -> {zh, en, category}
    headers: dict[str, tuple[str, ...]]  # canonical field -> recognised headers
    phaseout: tuple[tuple[Rule, tuple[Condition, ...]], ...]
    cap: Rule | None = None
    ban: Rule | None = None
    ban_after: dt.date | None = None
    source: str = ""
    categories: dict[str, str] = field(default_factory=dict)  # type -> category
    plausible: dict[str, tuple[float, float]] = field(default_factory=dict)  # size field range
    #: (type, products, read as type): a unit of ``type`` making one of ``products``
    retype: tuple[tuple[str, frozenset[str], str], ...] = ()

    def resolve(self, vocabulary: str, value: object) -> str | None:
        """The identifier a written value stands for (None: not in the vocabulary)."""
        v = self.vocab.get(vocabulary)
        return None if v is None else v.resolve(value)

    def known(self, vocabulary: str) -> list[str]:
        """The identifiers of a vocabulary, with their Chinese names, for messages."""
        return [f"{k} ({v.get('zh', '')})" for k, v in self.labels.get(vocabulary, {}).items()]


def _vocabulary(rule: Rule, name: str) -> tuple[Vocabulary, dict[str, dict[str, str]]]:
    """One vocabulary of the equipment_vocabulary rule (a list of ``{id, zh, en, synonyms,
    category}``) and its labels; a word standing for two identifiers is refused."""
    table: dict[str, dict[str, Any]] = {}
    seen: dict[str, str] = {}
    for e in rule.params.get(name, []):
        if not isinstance(e, dict) or "id" not in e:
            raise RulesError(f"rule {rule.id}: every entry of {name} needs an id, got {e!r}")
        ident = str(e["id"])
        table[ident] = {k: e[k] for k in ("zh", "en", "synonyms") if k in e}
        for s in [ident, e.get("zh", ""), e.get("en", ""), *e.get("synonyms", [])]:
            key = normalise(s)
            if key and seen.setdefault(key, ident) != ident:
                raise RulesError(
                    f"rule {rule.id}: {s!r} stands for both {seen[key]!r} and {ident!r} in {name}"
                )
    labels = {
        k: {f: str(e[f]) for f in ("zh", "en", "category") if f in e}
        for e in rule.params.get(name, [])
        for k in [str(e["id"])]
    }
    return Vocabulary.from_table(name, table), labels


def _conditions(rule: Rule, vocab_ids: dict[str, set[str]]) -> tuple[Condition, ...]:
    """The ``when`` conditions of a phase-out rule, checked against the vocabularies."""
    out = []
    for c in rule.params.get("when", []):
        where = f"rule {rule.id}: condition {c!r}"
        fld = c.get("field") if isinstance(c, dict) else None
        ops = [k for k in _COMPARE if k in c] if isinstance(c, dict) else []
        if fld in NUMERIC_FIELDS and len(ops) == 1 and isinstance(c[ops[0]], int | float):
            if not isinstance(c.get("inclusive"), bool) or not c.get("unit"):
                raise RulesError(f"{where}: a limit needs its unit and inclusive = true/false")
            out.append(Condition(fld, ops[0], float(c[ops[0]]), str(c["unit"]), c["inclusive"]))
        elif fld in VOCAB_FIELDS and isinstance(c.get("in"), list):
            unknown = set(map(str, c["in"])) - vocab_ids[VOCAB_FIELDS[fld]]
            if unknown:
                raise RulesError(f"{where}: {sorted(unknown)} not in the vocabulary")
            out.append(Condition(fld, values=tuple(map(str, c["in"]))))
        else:
            raise RulesError(
                f"{where}: write {{ field = <size field>, at_most = N, unit = .., inclusive = "
                f"true }} or {{ field = <enumerated field>, in = [..] }}; size fields "
                f"{list(NUMERIC_FIELDS)}, enumerated {list(VOCAB_FIELDS)}"
            )
    return tuple(out)


def equipment_rules(ruleset: RuleSet) -> EquipmentRules:
    """The equipment rules of a rules file.

    Raises
    ------
    RulesError
        No equipment_vocabulary rule, a synonym standing for two identifiers, a condition
        that names an unknown field or value, a rule naming an unknown equipment type.
    """
    vocab_rules = ruleset.of_kind("equipment_vocabulary")
    if len(vocab_rules) != 1:
        raise RulesError(
            f"{ruleset.path}: the equipment screen needs exactly one equipment_vocabulary rule "
            f"(found {len(vocab_rules)})"
        )
    vr = vocab_rules[0]
    vocab, labels = {}, {}
    for name in ("types", "products", "furnace_forms", "sinter_types", "statuses", "yes_no"):
        vocab[name], labels[name] = _vocabulary(vr, name)
    ids = {k: set(v) for k, v in labels.items()}
    phaseout = []
    for r in ruleset.of_kind("equipment_phaseout"):
        if bad := sorted(set(r.params["equipment_types"]) - ids["types"]):
            raise RulesError(f"{ruleset.path}: rule {r.id}: equipment types {bad} unknown")
        phaseout.append((r, _conditions(r, ids)))
    caps, bans = ruleset.of_kind("capacity_cap"), ruleset.of_kind("new_capacity_ban")
    ban = bans[0] if bans else None
    after = ban.params["after"] if ban else None
    if ban is not None and not isinstance(after, dt.date):
        raise RulesError(f"{ruleset.path}: rule {ban.id}: after must be a date, not {after!r}")
    headers = {k: tuple(map(str, v)) for k, v in vr.params.get("headers", {}).items()}
    cats = {k: v.get("category", "") for k, v in labels["types"].items()}
    known = set(ruleset.industries.ids())
    if bad := sorted({c for c in cats.values() if c not in known}):
        raise RulesError(f"{ruleset.path}: equipment categories {bad} are not industries")
    plausible = {}
    for k, v in vr.params.get("plausible", {}).items():
        if k not in NUMERIC_FIELDS or not (isinstance(v, list) and len(v) == 2 and v[0] <= v[1]):
            raise RulesError(f"{ruleset.path}: plausible.{k}: a size field and [low, high]")
        plausible[k] = (float(v[0]), float(v[1]))
    retype = []
    for e in vr.params.get("retype", []):
        t, to, prods = e.get("type"), e.get("to"), set(map(str, e.get("products", [])))
        if t not in ids["types"] or to not in ids["types"] or not prods <= ids["products"]:
            raise RulesError(f"{ruleset.path}: retype {e!r}: unknown type or product")
        retype.append((str(t), frozenset(prods), str(to)))
    return EquipmentRules(
        vocab,
        labels,
        headers,
        tuple(phaseout),
        caps[0] if caps else None,
        ban,
        after,
        str(ruleset.path),
        cats,
        plausible,
        tuple(retype),
    )


def _evaluate(
    units: pd.DataFrame, er: EquipmentRules
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, list[str]]]:
    """Per phase-out rule: where it fires, where it cannot be assessed, and which fields it
    missed per unit."""
    fires: dict[str, np.ndarray] = {}
    unknown: dict[str, np.ndarray] = {}
    missing: dict[str, list[str]] = {}
    types = units["equipment_type"].astype(str).to_numpy()
    for rule, conds in er.phaseout:
        applies = np.isin(types, list(rule.params["equipment_types"]))
        all_hold = applies.copy()
        any_fails = np.zeros(len(units), dtype=bool)
        miss = [""] * len(units)
        for c in conds:
            col = units[c.field] if c.field in units else pd.Series([None] * len(units))
            known, holds = c.holds(col.reset_index(drop=True))
            all_hold &= holds
            any_fails |= applies & known & ~holds
            for i in np.flatnonzero(applies & ~known):
                miss[i] = f"{miss[i]},{c.field}" if miss[i] else c.field
        fires[rule.id] = all_hold
        unknown[rule.id] = applies & ~all_hold & ~any_fails
        missing[rule.id] = miss
    return fires, unknown, missing


def _new_capacity(units: pd.DataFrame, er: EquipmentRules) -> pd.Series:
    """yes / no / unknown for units of a banned category ('' for the others); a unit in
    status ``planned`` (在建/拟建, not commissioned yet) is new capacity whatever its
    commissioning date says."""
    out = pd.Series([""] * len(units), index=units.index, dtype=object)
    if er.ban is None or er.ban_after is None:
        return out
    cats = units["equipment_type"].map(er.categories)
    banned = cats.isin(er.ban.params["categories"])
    if "product" in units:
        banned &= ~units["product"].isin(er.ban.params.get("except_products", []))
    after = er.ban_after
    planned = units["status"] == "planned" if "status" in units else banned & False
    out[banned & planned] = "yes"
    for i in units.index[banned & ~planned]:
        c = units.at[i, "commissioned"] if "commissioned" in units else None
        if isinstance(c, float) and c.is_integer():  # a year that passed through a float column
            c = int(c)
        if isinstance(c, dt.date):
            out[i] = "yes" if c > after else "no"
        elif isinstance(c, tuple):  # a month alone
            m = (after.year, after.month)
            out[i] = "yes" if c > m else "no" if c < m else "unknown"
        elif isinstance(c, int | np.integer) and not isinstance(c, bool):
            out[i] = "yes" if c > after.year else "no" if c < after.year else "unknown"
        else:
            out[i] = "unknown"
    return out


def assess_units(units: pd.DataFrame, er: EquipmentRules) -> pd.DataFrame:
    """Each unit's phase-out finding and new-capacity flag.

    Parameters
    ----------
    units : DataFrame
        One row per unit with ``unit_id``, ``firm_id``, ``equipment_type`` (identifiers of the
        rules' vocabulary) and any of the size fields (numbers; metres, m³, tonnes, 万吨/年)
        and enumerated fields (identifiers); ``commissioned`` a date or a year.
    er : EquipmentRules

    Returns
    -------
    DataFrame
        ``units`` with ``finding`` (phase_out / keep / unassessed), ``rule_ids``, ``clauses``,
        ``deadline`` (ISO date, the earliest of the fired rules; '' when none sets one),
        ``asks``, ``missing_fields`` (what an unassessed unit lacks), ``new_capacity``
        (yes / no / unknown; '' for categories not banned) and ``new_capacity_rule``.
    """
    fires, unknown, missing = _evaluate(units, er)
    rules = {r.id: r for r, _ in er.phaseout}
    n = len(units)
    ids, clauses, asks, deadline, miss = ([""] * n for _ in range(5))
    finding = np.full(n, "keep", dtype=object)
    for i in range(n):
        fired = [rid for rid in rules if fires[rid][i]]
        if fired:
            finding[i] = "phase_out"
            ids[i] = ";".join(fired)
            clauses[i] = "; ".join(dict.fromkeys(c for r in fired for c in [rules[r].clauses]))
            asks[i] = "; ".join(dict.fromkeys(rules[r].asks() for r in fired))  # said once
            dates = [d for r in fired if (d := rules[r].deadline) is not None]
            deadline[i] = min(dates).isoformat() if dates else ""
            continue
        open_ = [rid for rid in rules if unknown[rid][i]]
        if open_:
            finding[i] = "unassessed"
            ids[i] = ";".join(open_)
            clauses[i] = "; ".join(dict.fromkeys(rules[r].clauses for r in open_))
            miss[i] = ",".join(dict.fromkeys(f for r in open_ for f in missing[r][i].split(",")))
    out = units.copy()
    out["finding"] = finding
    out["rule_ids"], out["clauses"], out["deadline"] = ids, clauses, deadline
    out["asks"], out["missing_fields"] = asks, miss
    out["new_capacity"] = _new_capacity(units, er).to_numpy()
    ban = er.ban
    out["new_capacity_rule"] = np.where(
        out["new_capacity"] == "yes", f"{ban.id} ({ban.clause})" if ban else "", ""
    )
    return out


def coking_capacity(result: pd.DataFrame, er: EquipmentRules) -> tuple[pd.DataFrame, dict]:
    """Coking capacity (万吨/年) by city, operating and idle apart, against the cap.

    A unit whose firm lies outside the plan's province (``in_jurisdiction`` ``no``: a
    neighbouring province's plant in the firm list) is not the province's capacity: it is
    listed apart, one row per province (``province``), ``against_cap`` ``no``, and left out
    of every total against the cap.

    Returns
    -------
    (DataFrame, dict)
        One row per city (``(unknown)`` where neither the unit nor its firm gives one), then
        one per province outside the jurisdiction: ``against_cap`` (yes / no),
        ``operating``, ``idle``, ``closed``, ``planned`` (在建/拟建: counted apart, not
        against the cap), ``status_unknown`` capacities, and ``units_without_capacity``;
        and the totals with the cap, the rule and its clause, and the capacity outside the
        jurisdiction (``outside_jurisdiction_*``).
    """
    cap = er.cap
    types = list(cap.params["equipment_types"]) if cap else ["coke_oven"]
    fld = str(cap.params["field"]) if cap else "capacity_10kt_per_year"
    sub = result[result["equipment_type"].isin(types)].copy()
    blank = pd.Series("", index=sub.index, dtype=object)
    # a table without a city or status column (units of firms not placed) counts as unknown
    sub["city"], away = place_names(sub)
    sub["against_cap"] = np.where(away, "no", "yes")
    value = pd.to_numeric(sub[fld] if fld in sub else pd.Series(np.nan, sub.index), errors="coerce")
    status = sub.get("status", blank).fillna("").astype(str).replace({"": "status_unknown"})
    group = sub.get("capacity_counted_on", blank).fillna("").astype(str)
    if (grouped := group != "").any():  # a total written once for several units
        key = sub["firm_id"].astype(str) + "\x00" + group  # unit numbers are per firm
        mixed = status[grouped].groupby(key[grouped]).transform("nunique") > 1
        status[mixed[mixed].index] = "status_unknown"  # units differing: whose status?
    cols = ["operating", "idle", "closed", "planned", "status_unknown"]
    keys = [sub["against_cap"], sub["city"]]
    table = (
        pd.DataFrame({"against_cap": keys[0], "city": keys[1], "status": status})
        .assign(v=value.fillna(0.0))
        .pivot_table(
            index=["against_cap", "city"],
            columns="status",
            values="v",
            aggfunc="sum",
            fill_value=0.0,
        )
        .reindex(columns=cols, fill_value=0.0)
    )
    table["units"] = sub.groupby(keys).size()
    without = value.isna() & ~grouped  # a group's units are counted on its first
    table["units_without_capacity"] = without.groupby(keys).sum()
    table[cols] = table[cols].round(4)
    table = (
        table.reset_index()
        .sort_values(["against_cap", "city"], ascending=[False, True], kind="stable")
        .reset_index(drop=True)
    )
    table = table[["city", "against_cap", *cols, "units", "units_without_capacity"]]
    return table, _capacity_totals(table, cap, int(grouped.sum()))


def _capacity_totals(table: pd.DataFrame, cap: Rule | None, grouped: int) -> dict[str, Any]:
    """The totals of a :func:`coking_capacity` table against the cap (万吨/年): the rows
    ``against_cap`` ``yes`` only; the others' capacity, units and provinces apart.
    ``grouped``: the units sharing a capacity written once for their group."""
    inside, outside = table[table["against_cap"] == "yes"], table[table["against_cap"] == "no"]
    total_op, total_idle = float(inside["operating"].sum()), float(inside["idle"].sum())
    limit = float(cap.params["cap"]) if cap else float("nan")
    both = total_op + total_idle
    return {
        "operating_10kt": round(total_op, 4),
        "idle_10kt": round(total_idle, 4),
        "operating_and_idle_10kt": round(both, 4),
        "planned_10kt": round(float(inside["planned"].sum()), 4),
        "cap_10kt": limit,
        "operating_share_of_cap": round(total_op / limit, 6) if cap else None,
        "operating_and_idle_share_of_cap": round(both / limit, 6) if cap else None,
        "operating_within_cap": bool(total_op <= limit) if cap else None,
        "operating_and_idle_within_cap": bool(both <= limit) if cap else None,
        "units_without_capacity": int(inside["units_without_capacity"].sum()),
        "units_in_capacity_groups": grouped,
        "outside_jurisdiction_units": int(outside["units"].sum()),
        "outside_jurisdiction_operating_10kt": round(float(outside["operating"].sum()), 4),
        "outside_jurisdiction_idle_10kt": round(float(outside["idle"].sum()), 4),
        "outside_jurisdiction_provinces": outside["city"].tolist(),
        "rule": cap.id if cap else "",
        "clause": cap.clause if cap else "",
    }


def place_names(units: pd.DataFrame) -> tuple[pd.Series, np.ndarray]:
    """Where each unit is counted: its city (``(unknown)`` where none is given), or for a
    unit outside the jurisdiction (``in_jurisdiction`` ``no``) its ``province`` (``(province
    unknown)``: no name for it); and which units are outside."""
    blank = pd.Series("", index=units.index, dtype=object)
    city = units.get("city", blank).fillna("").astype(str).replace("", "(unknown)")
    away = (units.get("in_jurisdiction", blank).fillna("").astype(str) == "no").to_numpy()
    province = units.get("province", blank).fillna("").astype(str)
    return city.where(~away, province.replace("", "(province unknown)")), away


def summary_by_city_type(result: pd.DataFrame) -> pd.DataFrame:
    """Units by city (a unit outside the jurisdiction by its province: :func:`place_names`),
    equipment type and finding (the XLSX summary sheet)."""
    t = result.assign(city=place_names(result)[0])
    s = t.groupby(["city", "equipment_type", "finding"]).size().unstack("finding", fill_value=0)
    s = s.reindex(columns=list(FINDINGS), fill_value=0)
    s["new_capacity"] = (
        t.assign(n=t["new_capacity"] == "yes").groupby(["city", "equipment_type"])["n"].sum()
    )
    return s.reset_index()
