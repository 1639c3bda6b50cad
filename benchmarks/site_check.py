"""Benchmark: the site check as users run it, against the usual geopandas overlay recipe and
the plain STRtree recipe, at 1k, 10k and 100k parcels; and one cold single-project check.

Each contender runs in its own process (start-up, imports and reading the layers included),
the order reversed every other round, at least three rounds; min / median / max, peak memory
and load average printed; results checked equal (verdicts of the CLI and the API; the units
each parcel overlaps and the overlap areas against the recipes, which are planar).

* ``sxzones check --projects parcels.gpkg --reports none`` (the CLI; no printable report per
  project in a batch) and ``sxzones check --project "lon,lat"`` (one project, cold);
* sxzones' Python API (``check_sites``, CSV) in a script;
* geopandas ``overlay(how="intersection")`` with the control units + ``sjoin`` with the red
  lines and the zones (planar areas, no distances, no rules);
* shapely ``STRtree.query(predicate="intersects")`` + ``intersection`` where a parcel is not
  wholly inside a unit.

Then, per size, the measure of the issue that set the target (4x the overlay recipe):
``check_sites`` against the overlay recipe's analysis on the parcels in memory, in one warm
process (layers and sxzones' compiled kernels loaded, both sides run once before timing),
five interleaved rounds (``site_contenders.py warm_pair``).

    python benchmarks/site_check.py [--parcels 1000,10000,100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import compare, run_once, save

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "_data"


def make_parcels(n: int, admin: gpd.GeoDataFrame, seed: int = 11) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    province = admin[admin["level"] == "province"].geometry.iloc[0]
    minx, miny, maxx, maxy = province.bounds
    xy = rng.uniform([minx, miny], [maxx, maxy], size=(n * 3, 2))
    xy = xy[shapely.contains_xy(province, xy[:, 0], xy[:, 1])][:n]
    w = rng.uniform(100, 800, len(xy))
    h = rng.uniform(100, 800, len(xy))
    geoms = shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + w, xy[:, 1] + h)
    inds = np.array(["steel", "coking", "cement", "chemical", "pv", "wind", "coal_power"])
    return gpd.GeoDataFrame(
        {
            "project_id": [f"P{i:05d}" for i in range(len(xy))],
            "industry": inds[rng.integers(0, len(inds), len(xy))],
            "kind": "new",
        },
        geometry=geoms,
        crs=admin.crs,
    )


def layer_paths() -> dict[str, str]:
    """The files of the catalogue layers the site check uses, for the recipes."""
    from sxzones.layers import load_catalog

    cat = load_catalog()
    return {
        r: str(cat.entry(cat.layer_of_role(r)).path) for r in ("control_units", "redline", "zones")
    }


def contenders(parcels: Path, out: Path) -> dict[str, list[str]]:
    py = sys.executable
    cli = [py, "-m", "sxzones.cli", "check", "--projects", str(parcels), "--reports", "none"]
    other = [py, str(HERE / "site_contenders.py")]
    lay = [f"{k}={v}" for k, v in layer_paths().items()]
    return {
        "sxzones check CLI (--reports none)": [*cli, "--out", str(out / "cli"), "--overwrite"],
        "sxzones API check_sites (csv)": [*other, "sx_api", str(parcels), str(out / "api")],
        "geopandas overlay + 2 sjoin": [*other, "gp_overlay", str(parcels), str(out / "gp"), *lay],
        "shapely STRtree + intersection": [
            *other,
            "shp_tree",
            str(parcels),
            str(out / "shp"),
            *lay,
        ],
    }


def warm_pair(parcels: Path, out: Path, check: dict[str, object]) -> dict[str, object]:
    """The measure of the issue that set the site check's target: ``check_sites`` against the
    overlay recipe's analysis in one warm process (``site_contenders.py warm_pair``), its
    interleaved rounds printed with the ratio of the medians; its verdicts checked equal to
    the CLI's."""
    import json
    import statistics

    lay = [f"{k}={v}" for k, v in layer_paths().items()]
    cmd = [sys.executable, str(HERE / "site_contenders.py"), "warm_pair", str(parcels)]
    _, peak, text = run_once([*cmd, str(out / "warm"), *lay], cwd=str(ROOT))
    res = json.loads(text.strip().splitlines()[-1])
    assert res["verdicts"] == check["verdicts"], "warm check_sites and the CLI differ"
    sx, gp = (statistics.median(res["warm"][k]) for k in ("sxzones", "overlay"))
    print(
        f"  in one warm process, {len(res['warm']['sxzones'])} rounds interleaved (layers and "
        f"compiled kernels loaded): check_sites median {sx:.3f} s "
        f"(min {min(res['warm']['sxzones']):.3f}), overlay + 2 sjoin {gp:.3f} s "
        f"(min {min(res['warm']['overlay']):.3f}): ratio {gp / sx:.2f}x; peak {peak:.0f} MB"
    )
    return {**res, "ratio": gp / sx, "peak_mb": peak}


def check_equal(out: Path) -> dict[str, object]:
    """Verdicts of the CLI and the API equal; units and areas against the planar recipes."""
    import pandas as pd

    cli = pd.read_csv(out / "cli" / "site_check.csv", encoding="utf-8-sig", dtype=str)
    api = pd.read_csv(out / "api" / "site_check.csv", encoding="utf-8-sig", dtype=str)
    assert cli["verdict"].tolist() == api["verdict"].tolist(), "CLI and API verdicts differ"
    assert cli["unit_overlap_m2"].tolist() == api["unit_overlap_m2"].tolist()
    pairs = cli[["project_id", "unit_codes", "unit_overlap_m2"]].fillna("")
    sx = {}
    for pid, codes, areas in pairs.itertuples(index=False):
        for c, a in zip(
            codes.split(";") if codes else [], areas.split(";") if areas else [], strict=True
        ):
            sx[(pid, c)] = float(a)
    verdicts = {str(k): int(v) for k, v in cli["verdict"].value_counts().items()}
    res: dict[str, object] = {"projects": len(cli), "verdicts": verdicts}
    # the CLI's site_check.json holds the same verdicts (counted in its text: parsing 200 MB
    # of JSON would take longer than the run)
    text = (out / "cli" / "site_check.json").read_bytes()
    for verdict, count in verdicts.items():
        found = text.count(f'\n      "verdict": "{verdict}",\n'.encode())
        assert found == count, f"site_check.json has {found} {verdict}, the CSV {count}"
    assert text.count(b'\n      "project_id": ') == len(cli), "site_check.json: project count"
    for name in ("gp", "shp"):
        rec = pd.read_csv(out / name / "overlaps.csv", dtype={"project_id": str, "unit_code": str})
        rec = rec[rec["overlap_m2"] > 0.01]
        theirs = {
            (p, c): a
            for p, c, a in rec[["project_id", "unit_code", "overlap_m2"]].itertuples(index=False)
        }
        common = sorted(set(sx) & set(theirs))
        rel = np.array([abs(sx[k] - theirs[k]) / max(sx[k], 1.0) for k in common])
        res[name] = {
            "pairs_only_sxzones": len(set(sx) - set(theirs)),
            "pairs_only_recipe": len(set(theirs) - set(sx)),
            "max_relative_area_difference_planar": float(rel.max(initial=0.0)),
        }
    return res


def main() -> int:
    from sxzones.layers import load

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parcels", default="1000,10000,100000", help="comma-separated sizes")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    DATA.mkdir(exist_ok=True)
    admin = load("admin")
    doc: dict[str, object] = {"rounds": a.rounds, "sizes": {}}
    one = [sys.executable, "-m", "sxzones.cli", "check", "--project", "112.55,37.87", "--crs"]
    one += ["wgs84", "--industry", "pv", "--out", str(DATA / "out_check_one"), "--overwrite"]
    t1 = compare({"sxzones check one project (cold)": one}, max(a.rounds, 5), cwd=str(ROOT))
    print("one project: " + t1["sxzones check one project (cold)"].line())
    doc["one_project"] = t1["sxzones check one project (cold)"].__dict__
    for n in (int(v) for v in a.parcels.split(",")):
        path = DATA / f"parcels_{n}_seed11.gpkg"
        if not path.exists():
            make_parcels(n, admin).to_file(path, layer="parcels", driver="GPKG")
        out = DATA / f"out_check_{n}"
        t = compare(contenders(path, out), a.rounds, cwd=str(ROOT))
        check = check_equal(out)
        print(f"\n{n:,} parcels, {a.rounds} rounds, order alternated")
        for timing in t.values():
            print("  " + timing.line())
        med = {k: v.stats()[1] for k, v in t.items()}
        sx = med["sxzones check CLI (--reports none)"]
        print(
            f"  ratios (medians): overlay / sxzones CLI {med['geopandas overlay + 2 sjoin'] / sx:.2f}x; "
            f"STRtree / sxzones CLI {med['shapely STRtree + intersection'] / sx:.2f}x"
        )
        print(f"  results: {check}")
        warm = warm_pair(path, out, check)
        doc["sizes"][str(n)] = {  # type: ignore[index]
            "timings": {k: v.__dict__ for k, v in t.items()},
            "check": check,
            "warm": warm,
        }
    save(DATA / "site_check_results.json", doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
