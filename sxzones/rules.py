"""Policy rules as data: loaded from TOML, validated, each with its clause.

A rules file has a ``[document]`` table and ``[[rules]]``; every rule has an ``id``, a
``kind`` (what analysis uses it and which parameters it takes), the ``clause`` it implements
(``晋环发〔2023〕1号 (十三)``), and short Chinese and English text. A file with a missing clause,
an unknown key or a bad parameter is refused with every problem named.

>>> rs = load_rules()
>>> rs.get("deep_treatment_20km").distance_m
20000.0
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sxzones._util import bundled_path
from sxzones.errors import RulesError
from sxzones.vocab import Vocabulary, load_vocabularies

__all__ = ["DEFAULT_RULES", "Rule", "RuleSet", "Vocabulary", "bundled_rules", "load_rules"]

#: The bundled Shanxi rules (package data when installed, ``analyses/rules/`` in a checkout).
DEFAULT_RULES = bundled_path("analyses", "rules", "shanxi-2023.toml")

_TOP = {"document", "rules", "vocabularies"}
_COMMON = {"id", "kind", "clause", "zh", "en", "also_cites"}
_ACTION = {"action", "action_zh", "action_en", "deadline"}
#: Parameters each kind of rule takes (beyond the common keys), and which are required.
KINDS: dict[str, tuple[set[str], set[str]]] = {
    "firm_inside_builtup": ({"industries"} | _ACTION, {"industries", "action"}),
    "firm_within_distance": (
        {"industries", "distance_m"} | _ACTION,
        {"industries", "distance_m", "action"},
    ),
    "site_overlap": (
        {"layer_role", "where", "industries", "project_kinds", "verdict"} | _ACTION,
        {"layer_role", "industries", "verdict"},
    ),
    "site_within_distance": (
        {"layer_role", "distance_m", "industries", "project_kinds", "verdict"} | _ACTION,
        {"layer_role", "distance_m", "industries", "verdict"},
    ),
    # Siting (十五): the candidate kinds, exclusions with setbacks per technology, terrain
    # classes and slope limits, capacity, and the score. Checked further in _check_siting.
    "siting_candidates": ({"candidate_kinds", "labels", "techs"}, {"candidate_kinds", "techs"}),
    "siting_exclusion": (
        {"reason", "layer_role", "where", "setback_m", "techs", "label_zh", "label_en", "basis"},
        {"reason", "layer_role", "setback_m", "techs"},
    ),
    "siting_terrain": (
        {"classes", "max_slope_deg", "basis"},
        {"classes", "max_slope_deg"},
    ),
    "siting_capacity": (
        {"tech", "density_mw_per_km2", "turbine_mw", "spacing_m", "min_area_m2", "basis"},
        {"tech", "min_area_m2"},
    ),
    "siting_score": (
        {
            "weights",
            "grid_distance_full_m",
            "status_scores",
            "landfill_full_years",
            "as_of_year",
            "basis",
        },
        {"weights", "status_scores"},
    ),
    # Equipment screen (四, 附表 1; 五): vocabularies, phase-out conditions, the coking cap and
    # the ban on new capacity. Checked further by sxzones.analyses.phaseout.
    "equipment_vocabulary": (
        {
            "types",
            "products",
            "furnace_forms",
            "sinter_types",
            "statuses",
            "yes_no",
            "headers",
            "plausible",
            "retype",
        },
        {"types", "statuses", "yes_no"},
    ),
    "equipment_phaseout": (
        {"equipment_types", "when", "basis"} | _ACTION,
        {"equipment_types", "when", "action"},
    ),
    "capacity_cap": (
        {"equipment_types", "field", "cap", "unit", "basis"},
        {"equipment_types", "field", "cap", "unit"},
    ),
    "new_capacity_ban": (
        {"categories", "except_products", "after", "basis"},
        {"categories", "after"},
    ),
}
#: Technologies of the siting screen.
TECHS = ("pv", "wind")
#: Site-check verdicts, in order of severity. ``unassessed`` (an industry or kind the
#: vocabulary does not know) stands outside this order: it is never ``clear``.
VERDICTS = ("clear", "conditional", "conflict")
UNASSESSED = "unassessed"
#: The project kinds of the bundled rules (the rules file's vocabulary is authoritative).
PROJECT_KINDS = (
    "new",
    "reconstruction",
    "expansion",
    "reconstruction_expansion",
    "relocation",
    "capacity_replacement",
)


@dataclass(frozen=True)
class Rule:
    """One rule. ``params`` keeps every parameter; common ones have attributes."""

    id: str
    kind: str
    clause: str
    zh: str
    en: str
    also_cites: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    distance_m: float | None = None
    action: str = ""
    action_zh: str = ""
    action_en: str = ""
    deadline: dt.date | None = None
    layer_role: str = ""
    where: dict[str, str] = field(default_factory=dict)
    project_kinds: tuple[str, ...] = ()
    verdict: str = ""
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    def for_tech(self, key: str, tech: str, default: float = 0.0) -> float:
        """A parameter written as one number or per technology (``{pv = .., wind = ..}``)."""
        v = self.params.get(key, default)
        return float(v.get(tech, default) if isinstance(v, dict) else v)

    @property
    def clauses(self) -> str:
        """The clause and any further citations, joined for tables."""
        return "; ".join((self.clause, *self.also_cites))

    def asks(self) -> str:
        """What the rule asks, in one bilingual phrase (e.g. for a table cell)."""
        due = f"，{self.deadline:%Y-%m-%d} 前" if self.deadline else ""
        due_en = f" due {self.deadline:%Y-%m-%d}" if self.deadline else ""
        return f"{self.action_zh}{due} / {self.action_en}{due_en}"


@dataclass(frozen=True)
class RuleSet:
    """A loaded rules file: the document, the rules, and the vocabularies they are written in.

    ``industries``, ``project_kinds`` and ``candidate_kinds`` turn what users write (``钢铁``,
    ``2521``, ``新建``, ``废弃矿山`` ...) into the identifiers the rules use.
    """

    path: Path
    document: dict[str, Any]
    rules: tuple[Rule, ...]
    vocabularies: dict[str, Vocabulary] = field(default_factory=dict, compare=False)

    def _vocabulary(self, name: str) -> Vocabulary:
        """A vocabulary of this file; a RuleSet built by hand without them gets the bundled."""
        found = self.vocabularies.get(name)
        return found if found is not None else bundled_rules().vocabularies[name]

    @property
    def industries(self) -> Vocabulary:
        return self._vocabulary("industries")

    @property
    def project_kinds(self) -> Vocabulary:
        return self._vocabulary("project_kinds")

    @property
    def candidate_kinds(self) -> Vocabulary:
        return self._vocabulary("candidate_kinds")

    @property
    def jurisdiction(self) -> tuple[str, str, str] | None:
        """Where the rules apply: (adcode prefix, name in Chinese, in English), from the
        document's ``jurisdiction`` table (``{ adcode_prefix = "14", zh = "山西省", en =
        "Shanxi" }``); None when the file names none."""
        j = self.document.get("jurisdiction")
        if not isinstance(j, dict):
            return None
        return str(j["adcode_prefix"]), str(j["zh"]), str(j["en"])

    def outside(self, adcodes: Iterable[object]) -> npt.NDArray[np.bool_]:
        """Per administrative code, whether it lies outside :attr:`jurisdiction` (a blank
        code, a place outside every county, is not judged: False; so is every code when the
        file names no jurisdiction). Callers pass distinct codes (a layer's counties, a
        column's categories), not a string per row."""
        codes = [str(c) for c in adcodes]
        j = self.jurisdiction
        if j is None:
            return np.zeros(len(codes), dtype=bool)
        return np.array([c != "" and not c.startswith(j[0]) for c in codes], dtype=bool)

    def get(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise RulesError(f"{self.path}: no rule {rule_id!r}; rules: {[r.id for r in self.rules]}")

    def of_kind(self, *kinds: str) -> list[Rule]:
        return [r for r in self.rules if r.kind in kinds]

    def with_slope_limit(self, tech: str, degrees: float) -> RuleSet:
        """These rules with the slope limit of ``tech`` (``max_slope_deg`` of the terrain
        rule) set to ``degrees``: ``sxzones sites --max-slope`` and the planner page."""
        terrain = self.of_kind("siting_terrain")
        if not terrain:
            raise RulesError(f"{self.path}: no siting_terrain rule holds a slope limit to change")
        old = terrain[0]
        limits = {t: old.for_tech("max_slope_deg", t) for t in TECHS}
        params = {**old.params, "max_slope_deg": limits | {tech: float(degrees)}}
        new = dataclasses.replace(old, params=params)
        rules = tuple(new if r is old else r for r in self.rules)
        return dataclasses.replace(self, rules=rules)


def _check_jurisdiction(j: Any) -> list[str]:
    """Problems of the document's ``jurisdiction`` table (none when it is absent)."""
    if j is None:
        return []
    fix = 'write it as jurisdiction = { adcode_prefix = "14", zh = "山西省", en = "Shanxi" }'
    if not isinstance(j, dict) or set(j) != {"adcode_prefix", "zh", "en"}:
        return [f"[document] jurisdiction: {fix}"]
    prefix = j["adcode_prefix"]
    if not (isinstance(prefix, str) and prefix.isdigit() and len(prefix) in (2, 4, 6)):
        return [f"[document] jurisdiction: adcode_prefix {prefix!r} is not 2, 4 or 6 digits; {fix}"]
    return []


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Load and validate a rules file (default: the bundled Shanxi 2023 rules).

    Raises
    ------
    RulesError
        Listing every problem, each with the rule's position and id.
    """
    p = Path(path) if path else DEFAULT_RULES
    if not p.exists():
        raise RulesError(f"{p}: no such rules file")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8-sig"))  # a BOM (Notepad) too
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{p}: not valid TOML ({exc})") from exc
    problems: list[str] = []
    if extra := sorted(set(data) - _TOP):
        problems.append(f"unknown top-level key(s) {extra}; allowed: {sorted(_TOP)}")
    problems += _check_jurisdiction(data.get("document", {}).get("jurisdiction"))
    raw_rules = data.get("rules", [])
    if not raw_rules:
        problems.append("no [[rules]]")
    if "vocabularies" in data or p.resolve() == DEFAULT_RULES.resolve():
        vocabs, vproblems = load_vocabularies(data.get("vocabularies"), raw_rules)
        problems += vproblems
    else:  # a rules file without vocabularies is written in the bundled ones
        vocabs = bundled_rules().vocabularies
    rules: list[Rule] = []
    seen: set[str] = set()
    for n, raw in enumerate(raw_rules, start=1):
        where = f"rule {n} ({raw.get('id', 'no id')})"
        bad = _check_rule(raw, where, vocabs)
        if bad is None and raw["id"] in seen:
            bad = [f"{where}: duplicate id {raw['id']!r}"]
        if bad is None:
            seen.add(raw["id"])
            rules.append(_make_rule(raw, vocabs))
        else:
            problems += bad
    if problems:
        raise RulesError(f"{p}:\n  " + "\n  ".join(problems))
    return RuleSet(p, dict(data.get("document", {})), tuple(rules), vocabs)


@functools.lru_cache(maxsize=1)
def bundled_rules() -> RuleSet:
    """The bundled rules, loaded once (their vocabularies serve files that have none)."""
    return load_rules()


def _check_rule(raw: dict[str, Any], where: str, vocabs: dict[str, Vocabulary]) -> list[str] | None:
    """The problems of one rule, or None when it is fine."""
    kind = raw.get("kind")
    if kind not in KINDS:
        return [f"{where}: kind {kind!r} is not one of {sorted(KINDS)}"]
    out: list[str] = []
    allowed, required = KINDS[kind]
    if extra := sorted(set(raw) - _COMMON - allowed):
        out.append(
            f"{where}: unknown key(s) {extra}; allowed for {kind}: {sorted(_COMMON | allowed)}"
        )
    missing = sorted(({"id", "clause", "zh", "en"} | required) - set(raw))
    if missing:
        return [*out, f"{where}: missing {missing}"]
    if not str(raw["clause"]).strip():
        out.append(f"{where}: clause is empty; cite it as 晋环发〔2023〕1号 (十三)")
    dist = raw.get("distance_m")
    inds = raw.get("industries", [])
    if dist is not None and (not isinstance(dist, int | float) or dist <= 0):
        out.append(f"{where}: distance_m must be a positive number of metres, not {dist!r}")
    elif not isinstance(inds, list) or not all(isinstance(i, str) for i in inds):
        out.append(f"{where}: industries must be a list of identifiers or GB/T 4754 codes")
    elif raw.get("verdict") is not None and raw["verdict"] not in VERDICTS[1:]:
        out.append(f"{where}: verdict must be conflict or conditional, not {raw['verdict']!r}")
    elif raw.get("deadline") is not None and not isinstance(raw["deadline"], dt.date):
        out.append(f"{where}: deadline must be a date (2024-12-31), not {raw['deadline']!r}")
    elif kind.startswith("siting_") and (bad := _check_siting(kind, raw)):
        out += [f"{where}: {b}" for b in bad]
    else:
        for key, vocab in (
            ("industries", "industries"),
            ("project_kinds", "project_kinds"),
            ("candidate_kinds", "candidate_kinds"),
        ):
            unknown = [v for v in raw.get(key, []) if vocabs[vocab].resolve(v) is None]
            if unknown:
                out.append(
                    f"{where}: {key} {unknown} unknown; known: {vocabs[vocab].ids()} "
                    f"(add them under [vocabularies.{vocab}])"
                )
    return out or None


def _make_rule(raw: dict[str, Any], vocabs: dict[str, Vocabulary]) -> Rule:
    """A checked rule, its industries and kinds resolved to identifiers (a GB/T 4754 code
    stands for its industry; an industry covers its children)."""
    dist = raw.get("distance_m")
    return Rule(
        id=raw["id"],
        kind=raw["kind"],
        clause=raw["clause"],
        zh=raw["zh"],
        en=raw["en"],
        also_cites=tuple(raw.get("also_cites", [])),
        industries=vocabs["industries"].expand(raw.get("industries", [])),
        distance_m=float(dist) if dist is not None else None,
        action=raw.get("action", ""),
        action_zh=raw.get("action_zh", ""),
        action_en=raw.get("action_en", ""),
        deadline=raw.get("deadline"),
        layer_role=raw.get("layer_role", ""),
        where={str(k): str(v) for k, v in raw.get("where", {}).items()},
        project_kinds=vocabs["project_kinds"].expand(raw.get("project_kinds", [])),
        verdict=raw.get("verdict", ""),
        params=dict(raw),
    )


def _per_tech(value: Any, what: str) -> list[str]:
    """A ``{pv = .., wind = ..}`` table of non-negative numbers (or one number for both)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [] if value >= 0 else [f"{what} must not be negative"]
    if not isinstance(value, dict):
        return [f"{what} must be a number or a table {{pv = .., wind = ..}}"]
    bad = sorted(set(value) - set(TECHS))
    out = [f"{what}: unknown technology {bad}; technologies: {list(TECHS)}"] if bad else []
    for k, v in value.items():
        if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
            out.append(f"{what}.{k} must be a non-negative number, not {v!r}")
    return out


def _check_siting(kind: str, raw: dict[str, Any]) -> list[str]:
    """Problems with a siting rule's parameters (empty when it is fine)."""
    out: list[str] = []
    techs = raw.get("techs", [raw.get("tech")] if "tech" in raw else [])
    if bad := sorted(set(map(str, techs)) - set(TECHS)):
        out.append(f"technology {bad} unknown; technologies: {list(TECHS)}")
    if kind == "siting_exclusion":
        out += _per_tech(raw["setback_m"], "setback_m")
    elif kind == "siting_terrain":
        out += _per_tech(raw["max_slope_deg"], "max_slope_deg")
        classes = raw["classes"]
        if not isinstance(classes, list) or not classes:
            out.append("classes must be a list of {name = .., max_deg = ..}")
        else:
            tops = [c.get("max_deg") for c in classes[:-1]]
            if any(not isinstance(t, int | float) for t in tops) or tops != sorted(tops):
                out.append("classes need increasing max_deg (the last class has none)")
    elif kind == "siting_capacity":
        if raw["tech"] == "pv" and not raw.get("density_mw_per_km2", 0) > 0:
            out.append("a pv capacity rule needs density_mw_per_km2 > 0")
        if raw["tech"] == "wind" and not (
            raw.get("turbine_mw", 0) > 0 and raw.get("spacing_m", 0) > 0
        ):
            out.append("a wind capacity rule needs turbine_mw > 0 and spacing_m > 0")
    elif kind == "siting_score":
        w = raw["weights"]
        known = {"resource", "slope", "grid", "status"}
        if (
            not isinstance(w, dict)
            or set(w) - known
            or not all(isinstance(v, int | float) and v >= 0 for v in w.values())
        ):
            out.append(f"weights must be non-negative numbers for {sorted(known)}")
    return out
