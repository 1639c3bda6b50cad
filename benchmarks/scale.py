"""Benchmark: the firm screen at scale, in one process against a local Dask cluster.

    python benchmarks/scale.py [--firms 10000000] [--areas 3000] [--workers 2] [--rounds 1]

Each side runs in its own process: ``screen_firms`` in-process, and ``--engine dask``'s
``screen_firms_dask`` on a local cluster of ``--workers`` worker processes (one thread each,
partitions of about 200,000 firms). Printed: seconds, the calling process's peak memory, and
each worker's peak memory (bounded by the partition size and the broadcast layers, not by
the number of firms); the two results are checked equal (zones, nearest areas, distances).
Inputs are made as in ``benchmarks/firm_zones.py`` (cached in benchmarks/_data/).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from firm_zones import DATA, ROOT, make_areas, make_firms
from harness import compare


def _load(firms: Path, areas: Path):
    from sxzones.layers import load_catalog
    from sxzones.rules import load_rules
    from sxzones.runs import load_input

    cat = load_catalog()
    f, _ = load_input(str(firms), "firms", cat, crs="wgs84")
    b, _ = load_input(str(areas), "builtup", cat)
    return f, b, load_rules()


def child(mode: str, firms: Path, areas: Path, out: Path, workers: int) -> None:
    from sxzones.analyses.firm_zones import screen_firms

    f, b, rules = _load(firms, areas)
    t = time.perf_counter()
    per_worker: dict[str, float] = {}
    if mode == "local":
        res = screen_firms(f, b, rules)
    else:
        from sxzones.dask_engine import dask_client, screen_firms_dask

        with dask_client(workers=workers) as client:
            res = screen_firms_dask(f, b, rules, client=client)
            rss = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            per_worker = {k: round(v / 1024) for k, v in rss.items()}
    seconds = time.perf_counter() - t
    res[["zone", "distance_m", "nearest_area_id"]].astype(str).to_csv(out, index=False)
    peak = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps({"screen_s": round(seconds, 2), "peak_mb": peak, "workers_mb": per_worker}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firms", type=int, default=10_000_000)
    ap.add_argument("--areas", type=int, default=3000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--child", choices=["local", "dask"])
    ap.add_argument("--paths", nargs=3, type=Path)
    a = ap.parse_args()
    if a.child:
        child(a.child, *a.paths, a.workers)
        return 0
    firms, areas = make_firms(a.firms), make_areas(a.areas)
    me = [sys.executable, __file__, "--workers", str(a.workers), "--child"]
    outs = {m: DATA / f"scale_{a.firms}_{m}.csv" for m in ("local", "dask")}
    t = compare(
        {
            "in-process screen_firms": [*me, "local", "--paths", str(firms), str(areas), str(outs["local"])],
            f"local cluster, {a.workers} workers": [*me, "dask", "--paths", str(firms), str(areas), str(outs["dask"])],
        },
        a.rounds,
        cwd=str(ROOT),
    )  # fmt: skip
    same = outs["local"].read_bytes() == outs["dask"].read_bytes()
    print(f"{a.firms:,} firms, {a.areas:,} built-up areas; results equal: {same}")
    for timing in t.values():
        print("  " + timing.line() + "  " + timing.stdout.strip())
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
