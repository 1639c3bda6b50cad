"""Layer roles, their canonical fields, and provenance (the catalogue's ``role``, ``fields``
and ``provenance`` keys: see ``layers/catalog.toml`` and the README, "Bundled data")."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["ROLES", "Provenance", "Role"]


@dataclass(frozen=True)
class Role:
    """What a layer of this role must hold.

    Attributes
    ----------
    name : str
        Role identifier (``builtup``, ``firms``, ...).
    geometry : frozenset of {"point", "line", "polygon"}
        Accepted geometry families; multi-parts count as their family.
    required : tuple of str
        Canonical fields every feature must have (the id field first, when there is one).
    optional : tuple of str
        Canonical fields that analyses use when present.
    id_field : str or None
        The field that identifies a feature; must be unique. None: the source row number is
        the id.
    choices : dict
        Allowed values of enumerated fields.
    """

    name: str
    geometry: frozenset[str]
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    id_field: str | None = None
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    description: str = ""


UNIT_TYPES = ("priority_protection", "key_control", "general_control")
CANDIDATE_KINDS = ("abandoned_mine", "subsidence", "closed_landfill", "contaminated_plot")
ADMISSION_FIELDS = (
    "admission_spatial",
    "admission_emission",
    "admission_risk",
    "admission_resource",
)

_POLY = frozenset({"polygon"})
ROLES: dict[str, Role] = {
    r.name: r
    for r in [
        Role(
            "admin",
            _POLY,
            ("adcode", "name", "level"),
            ("parent_adcode",),
            "adcode",
            {"level": ("province", "city", "county")},
            "administrative boundaries (province, prefecture cities, counties)",
        ),
        Role(
            "control_units",
            _POLY,
            ("unit_code", "unit_name", "unit_type", "adcode"),
            ADMISSION_FIELDS,
            "unit_code",
            {"unit_type": UNIT_TYPES},
            "三线一单 environmental control units (环境管控单元)",
        ),
        Role(
            "redline",
            _POLY,
            ("redline_id", "name", "category"),
            (),
            "redline_id",
            {},
            "ecological protection red lines (生态保护红线)",
        ),
        Role(
            "builtup",
            _POLY,
            ("area_id", "name", "kind", "adcode"),
            (),
            "area_id",
            {"kind": ("city", "county_town")},
            "urban and county-town built-up areas (城市/县城建成区)",
        ),
        Role(
            "firms",
            frozenset({"point", "polygon"}),
            ("firm_id", "name", "industry"),
            ("status", "capacity", "capacity_unit", "city", "county", "owner", "name_en"),
            "firm_id",
            {},
            "firms (point locations or site polygons)",
        ),
        Role(
            "candidates",
            _POLY,
            ("site_id", "kind"),
            ("name", "status", "settled", "closure_year", "former_industry"),
            "site_id",
            {"kind": CANDIDATE_KINDS},
            "candidate lands for PV and wind (clause 十五)",
        ),
        Role(
            "exclusions",
            frozenset({"polygon", "line", "point"}),
            ("reason",),
            ("setback_m", "name"),
            None,
            {},
            "areas (or lines) excluded from siting",
        ),
        Role(
            "protected_areas",
            _POLY,
            (),
            ("name", "category"),
            None,
            {},
            "protected areas: nature reserves, national and forest parks, scenic areas (自然保护地)",
        ),
        Role(
            "farmland",
            _POLY,
            (),
            ("name",),
            None,
            {},
            "permanent basic farmland (永久基本农田)",
        ),
        Role(
            "grassland",
            _POLY,
            (),
            ("name",),
            None,
            {},
            "basic grassland (基本草原)",
        ),
        Role(
            "water",
            frozenset({"polygon", "line"}),
            (),
            ("name",),
            None,
            {},
            "rivers, lakes and reservoirs (水域); lines are river centre lines",
        ),
        Role(
            "grid",
            frozenset({"point", "line"}),
            (),
            ("name", "voltage_kv"),
            None,
            {},
            "power grid: substations (points) or lines, for the siting score",
        ),
        Role(
            "zones",
            _POLY,
            ("zone_id", "name"),
            ("rule_ref",),
            "zone_id",
            {},
            "areas that rules refer to, e.g. the Taiyuan region (clause 五)",
        ),
        Role(
            "projects",
            frozenset({"point", "polygon"}),
            ("project_id",),
            ("name", "industry", "kind"),
            "project_id",
            {},
            "proposed projects for a site check",
        ),
        Role(
            "context",
            frozenset({"point", "line", "polygon"}),
            (),
            (),
            None,
            {},
            "context layers for maps (rivers, places, mines)",
        ),
    ]
}


@dataclass(frozen=True)
class Provenance:
    """Where a layer comes from. ``status`` says whether it is an official layer, real public
    data, or a demonstration layer derived by a script (never to be taken as official)."""

    source: str
    licence: str
    version: str
    status: Literal["official", "public", "demonstration"]
    attribution: str = ""
    date: str = ""
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
