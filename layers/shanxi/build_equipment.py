"""The demonstration equipment table (``equipment_demonstration.csv``), derived by rule.

Called by ``build.py``. The firms are real (GEM GIST 2025-03 steel plants, GEM GCPT 2024-07
coal-power units); the units of the steel plants and all their sizes are **invented by the
rules below** so that ``sxzones phaseout`` runs on Shanxi out of the box. They are not
official and must never be used for decisions. No public list of coking plants exists
(FACTS.md), so coke ovens are derived for the integrated steel plants only.

Rules (steel plants inside Shanxi; plant status operating -> units operating, retired ->
closed; announced plants have no units):
    blast furnaces: operating BF capacity in n = ceil(capacity / 2.0 Mt/a) furnaces (at least
    one), volume = capacity per furnace / 875 t per m³ and year, rounded to 10 m³; mothballed
    BF capacity as one more furnace of that size, idle.
    converters: operating BOF capacity in n = ceil(capacity / 2.5 Mt/a) converters, nominal
    size = capacity per converter / 12 000 t per t of size and year, rounded to 5 t.
    electric arc furnaces: one per plant with EAF capacity.
    sinter machines: one belt (带式) machine per plant with BF capacity.
    coke ovens: plants with iron capacity get 0.38 t of coke per t of iron, in batteries of at
    most 100 万吨/年; chamber height 4.3 m when the plant-id's last digit is even, else 6.0 m;
    4.3 m batteries are recorded short of ultra-low emission (否), 6.0 m ones as meeting it.
    commissioned: the plant's start date (or year).
Coal-power units (GCPT): every unit inside Shanxi with status operating (在产), mothballed
(停产) or retired (已关停); start year as commissioned; units not yet built are left out.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

NOTE = "demonstration: derived by rule by layers/shanxi/build_equipment.py, not official"
STATUS_ZH = {"operating": "在产", "mothballed": "停产", "retired": "已关停"}
HEADERS = {
    "unit_id": "设备编号",
    "firm_id": "企业代码",
    "firm_name": "企业名称",
    "equipment_type": "设备类型",
    "chamber_height_m": "炭化室高度（米）",
    "volume_m3": "有效容积（立方米）",
    "capacity_t": "公称容量（吨）",
    "capacity_10kt_per_year": "产能（万吨/年）",
    "sinter_type": "烧结机型式",
    "ultra_low_emission": "超低排放",
    "status": "状态",
    "commissioned": "投产时间",
    "capacity_mw": "装机容量（兆瓦）",
    "note": "数据说明",
}


def _num(v: object) -> float:
    x = pd.to_numeric(v, errors="coerce")
    return 0.0 if pd.isna(x) else float(x)


def _steel_units(p: pd.Series) -> list[dict[str, object]]:
    """The invented units of one steel plant (rules in the module docstring)."""
    status = STATUS_ZH.get(str(p["plant-status"]))
    if status is None:
        return []
    base = {
        "firm_id": p["plant-id"],
        "firm_name": p["plant-name-(other-language)"],
        "status": status,
        "commissioned": str(p["start-date"]).replace("unknown", ""),
    }
    units: list[dict[str, object]] = []

    def add(kind: str, **kw: object) -> None:
        units.append({**base, "unit_id": f"{p['plant-id']}-{kind}{len(units) + 1}", **kw})

    bf = _num(p["operating-nominal-bf-capacity-(ttpa)"]) * 1000.0
    n = max(1, math.ceil(bf / 2.0e6)) if bf else 0
    for _ in range(n):
        add("BF", equipment_type="高炉", volume_m3=round(bf / n / 875.0, -1))
    idle_bf = _num(p["mothballed-nominal-bf-capacity-(ttpa)"]) * 1000.0
    if idle_bf:
        add("BF", equipment_type="高炉", volume_m3=round(idle_bf / 875.0, -1), status="停产")
    bof = _num(p["operating-nominal-bof-steel-capacity-(ttpa)"]) * 1000.0
    n = max(1, math.ceil(bof / 2.5e6)) if bof else 0
    for _ in range(n):
        add("BOF", equipment_type="转炉", capacity_t=5 * round(bof / n / 12000.0 / 5))
    if _num(p["operating-nominal-eaf-steel-capacity-(ttpa)"]):
        add("EAF", equipment_type="电弧炉")
    if bf:
        add("SM", equipment_type="烧结机", sinter_type="带式")
    coke = 0.38 * _num(p["operating-nominal-iron-capacity-(ttpa)"]) / 10.0  # 万吨/年
    n = math.ceil(coke / 100.0)
    height = 4.3 if int(str(p["plant-id"])[-1]) % 2 == 0 else 6.0
    for _ in range(n):
        add(
            "CO",
            equipment_type="焦炉",
            chamber_height_m=height,
            capacity_10kt_per_year=round(coke / n, 1),
            ultra_low_emission="否" if height == 4.3 else "是",
        )
    return units


def build_equipment(raw: Path) -> pd.DataFrame:
    """The demonstration equipment table, with Chinese headers, from the raw GEM files."""
    steel = pd.read_csv(raw / "gem_steel_plants" / "gist_2025-03_shanxi_plants.csv")
    rows = [
        u for _, p in steel[steel["in_shanxi"].astype(bool)].iterrows() for u in _steel_units(p)
    ]
    coal = pd.read_csv(raw / "gem_coal_plants" / "gcpt_2024-07_shanxi_units.csv")
    coal = coal[coal["in_shanxi"].astype(bool) & coal["Status"].isin(list(STATUS_ZH))]
    for _, u in coal.iterrows():
        year = _num(u["Start year"])
        rows.append(
            {
                "unit_id": u["GEM unit/phase ID"],
                "firm_id": u["GEM location ID"],
                "firm_name": u["Plant name (local)"]
                if pd.notna(u["Plant name (local)"])
                else u["Plant name"],
                "equipment_type": "燃煤机组",
                "status": STATUS_ZH[u["Status"]],
                "commissioned": str(int(year)) if year else "",
                "capacity_mw": _num(u["Capacity (MW)"]),
            }
        )
    table = pd.DataFrame(rows, columns=[c for c in HEADERS if c != "note"])
    table["note"] = NOTE
    table = table.sort_values("unit_id", kind="stable").reset_index(drop=True)
    return table.rename(columns=HEADERS)
