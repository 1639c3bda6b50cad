"""Layer roles, their canonical fields, and provenance (the catalogue's ``role``, ``fields``
and ``provenance`` keys: see ``layers/catalog.toml`` and the README, "Bundled data")."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["DBF_NAME_BYTES", "ROLES", "Provenance", "Role", "dbf_cut_forms"]


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
    id_from_row : bool
        When the id field is absent, the row (or feature) number is the id.
    one_of : tuple of str
        At least one of these fields must be present (e.g. an industry as text or as a
        GB/T 4754 code).
    """

    name: str
    geometry: frozenset[str]
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    id_field: str | None = None
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    description: str = ""
    id_from_row: bool = False
    one_of: tuple[str, ...] = ()


UNIT_TYPES = ("priority_protection", "key_control", "general_control")
BUILTUP_KINDS = ("city", "county_town")
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
            ("unit_code", "unit_type"),
            ("unit_name", "adcode", *ADMISSION_FIELDS),
            "unit_code",
            {"unit_type": UNIT_TYPES},
            "三线一单 environmental control units (环境管控单元)",
        ),
        Role(
            "redline",
            _POLY,
            (),
            ("redline_id", "name", "category"),
            "redline_id",
            {},
            "ecological protection red lines (生态保护红线)",
            id_from_row=True,
        ),
        Role(
            "builtup",
            _POLY,
            (),
            ("area_id", "name", "kind", "adcode"),
            "area_id",
            {"kind": BUILTUP_KINDS},
            "urban and county-town built-up areas (城市/县城建成区)",
            id_from_row=True,
        ),
        Role(
            "firms",
            frozenset({"point", "polygon"}),
            (),
            (
                "firm_id",
                "name",
                "industry",
                "industry_code",
                "status",
                "capacity",
                "capacity_unit",
                "city",
                "county",
                "owner",
                "name_en",
            ),
            "firm_id",
            {},
            "firms (point locations or site polygons)",
            id_from_row=True,
            one_of=("industry", "industry_code"),
        ),
        Role(
            "candidates",
            _POLY,
            ("site_id", "kind"),
            ("name", "status", "settled", "closure_year", "former_industry"),
            "site_id",
            {"kind": CANDIDATE_KINDS},
            "candidate lands for PV and wind (clause 十五)",
            id_from_row=True,
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
            (),
            ("project_id", "name", "industry", "industry_code", "kind"),
            "project_id",
            {},
            "proposed projects for a site check",
            id_from_row=True,
        ),
        Role(
            "equipment",
            # geometry optional: read as a table (sxzones.layers.equipment), units are placed
            # at their firm; a GIS file of units holds points
            frozenset({"point"}),
            ("unit_id", "firm_id", "equipment_type"),
            (
                "chamber_height_m",
                "volume_m3",
                "capacity_t",
                "capacity_10kt_per_year",
                "product",
                "furnace_form",
                "sinter_type",
                "ultra_low_emission",
                "status",
                "commissioned",
                "city",
                "firm_name",
            ),
            "unit_id",
            {},
            "production units of firms (焦炉, 高炉, 转炉 ...), a table, for the phase-out screen",
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


_ADCODE = ("XZQDM", "XZQHDM", "行政区划代码", "行政区代码", "区划代码")
_NAME = ("名称", "MC")
#: A GB/T 4754 code column as permits and statistics write it (国民经济行业代码: the standard's
#: own name). A column whose name holds 行业 and 代码 and is not read is named in a note.
_INDUSTRY_CODE = (
    "行业代码",
    "行业类别代码",
    "国民经济行业代码",
    "国民经济行业分类代码",
    "行业分类代码",
    "所属行业代码",
    "HYDM",
)
#: Field names agencies write, per role: canonical field -> usual source names (the official
#: Chinese names and their pinyin initials, e.g. HJGKDYBM = 环境管控单元编码). Used only where
#: unambiguous: the canonical field is absent, no mapping names it, and exactly one of these
#: names is present (compared after NFKC and case folding).
FIELD_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "control_units": {
        "unit_code": ("HJGKDYBM", "GKDYBM", "DYBM", "环境管控单元编码", "管控单元编码", "单元编码"),
        "unit_name": ("HJGKDYMC", "GKDYMC", "DYMC", "环境管控单元名称", "管控单元名称", "单元名称"),
        "unit_type": (
            "GKDYFL",
            "HJGKDYFL",
            "GKDYLX",
            "DYFL",
            "DYLX",
            "管控单元分类",
            "环境管控单元分类",
            "管控单元类别",
            "管控单元类型",
            "单元分类",
            "单元类别",
            "单元类型",
        ),
        "adcode": _ADCODE,
        # the Chinese names as written, and cut to a shapefile's 10 bytes (GBK: 5 characters),
        # as every GIS writes them: the provincial shapefiles arrive so
        "admission_spatial": ("KJBJYS", "空间布局约束", "空间布局约"),
        "admission_emission": ("WRWPFGK", "污染物排放管控", "污染物排放"),
        "admission_risk": ("HJFXFK", "环境风险防控", "环境风险防"),
        "admission_resource": (
            "ZYKFXLYQ",
            "ZYLYXLYQ",
            "资源开发效率要求",
            "资源利用效率要求",
            "资源开发效",
            "资源利用效",
        ),
    },
    "redline": {
        "redline_id": ("HXBH", "HXBM", "红线编号", "红线编码", "编号", "BH"),
        "name": ("HXMC", "红线名称", *_NAME),
        "category": ("HXLX", "红线类型", "类型", "LX"),
    },
    "builtup": {
        "area_id": ("编号", "编码", "BH", "BM"),
        "name": ("建成区名称", *_NAME),
        "kind": ("建成区类型", "类型", "LX"),
        "adcode": _ADCODE,
    },
    "firms": {
        "firm_id": ("统一社会信用代码", "社会信用代码", "信用代码", "TYSHXYDM", "企业编号"),
        "name": ("企业名称", "单位名称", "排污单位名称", "QYMC", "DWMC"),
        "industry": ("行业", "行业类别", "所属行业", "行业名称", "HYLB", "HYMC"),
        "industry_code": _INDUSTRY_CODE,
    },
    "projects": {
        "project_id": ("项目编号", "项目代码", "XMBH", "XMDM", "parcel_id"),
        "name": ("项目名称", "XMMC"),
        "industry": ("行业", "行业类别", "所属行业", "行业名称", "HYLB"),
        "industry_code": _INDUSTRY_CODE,
        "kind": ("建设性质", "项目性质", "建设类型", "项目建设性质", "项目类型", "JSXZ"),
    },
    "candidates": {
        "site_id": ("地块编号", "编号", "DKBH", "BH", "parcel_id"),
        "kind": ("地块类型", "类型", "DKLX", "LX"),
        "name": ("地块名称", "DKMC", *_NAME),
        "settled": ("是否稳沉", "稳沉", "稳沉状态", "是否稳定", "SFWC"),
        "closure_year": ("封场年份", "封场时间", "封场年度", "闭库年份", "关闭年份", "FCNF"),
    },
    "admin": {
        "adcode": _ADCODE,
        "name": ("XZQMC", "行政区名称", *_NAME),
        "level": ("级别", "层级", "JB"),
    },
}

#: The bytes a dBase (.dbf) field name holds: a shapefile's names longer than this are cut.
DBF_NAME_BYTES = 10
#: The encodings a shapefile's names are cut in: GBK cuts 统一社会信用代码 to 统一社会信 (5
#: characters); UTF-8 to 统一社 and 1 byte of 会, which the reader drops (3 characters).
_DBF_NAME_CODECS = ("gbk", "utf-8")


def dbf_cut_forms(name: str) -> tuple[str, ...]:
    """The forms ``name`` takes as a shapefile's field name, cut to a .dbf's 10 bytes by the
    GIS that wrote it (in GBK and in UTF-8, a character cut in two dropped); empty when the
    name fits.

    >>> dbf_cut_forms("统一社会信用代码")
    ('统一社会信', '统一社')
    >>> dbf_cut_forms("industry_code"), dbf_cut_forms("行业")
    (('industry_c',), ())
    """
    out: dict[str, None] = {}
    for codec in _DBF_NAME_CODECS:
        try:
            raw = name.encode(codec)
        except UnicodeEncodeError:
            continue
        if len(raw) > DBF_NAME_BYTES:
            out[raw[:DBF_NAME_BYTES].decode(codec, "ignore")] = None
    return tuple(out)


#: Values agencies write for enumerated fields, per role and field: canonical value ->
#: usual words. Candidate kinds come from the rules' vocabulary (see ``validate``).
VALUE_WORDS: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "control_units": {
        "unit_type": {
            # 1 / 2 / 3: the class codes of the national coding rules, as in the unit codes
            "priority_protection": (
                "优先保护单元",
                "优先保护",
                "优先保护类",
                "优先保护区",
                "优先",
                "1",
                "01",
            ),
            "key_control": (
                "重点管控单元",
                "重点管控",
                "重点管控类",
                "重点管控区",
                "重点",
                "2",
                "02",
            ),
            "general_control": (
                "一般管控单元",
                "一般管控",
                "一般管控类",
                "一般管控区",
                "一般",
                "3",
                "03",
            ),
        }
    },
    "builtup": {
        "kind": {
            "city": (
                "城市",
                "城区",
                "市区",
                "城市建成区",
                "中心城区",
                "中心城区建成区",
                "城区建成区",
            ),
            "county_town": ("县城", "县城建成区", "county town"),
        }
    },
    "admin": {
        "level": {
            "province": ("省", "省级", "自治区", "直辖市"),
            "city": ("市", "地级市", "市级", "地级", "地区", "自治州", "盟"),
            # a city's districts (市辖区) are county-level units, as are 县级市, 自治县 and 旗
            "county": ("县", "区", "县级", "县级市", "县区", "市辖区", "自治县", "旗", "自治旗"),
        }
    },
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
