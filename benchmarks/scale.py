"""Benchmark: the firm screen at scale, in one process against a local Dask cluster.

    python benchmarks/scale.py [--firms 10000000] [--areas 3000] [--workers 2] [--rounds 1]
                               [--cap 12000000000] [--only local|dask]

Each side is its own process, timed whole (start-up, reading and validating the firm table,
the screen): ``screen_firms`` in that process, and ``--engine dask``'s ``screen_firms_dask``
on a local cluster of ``--workers`` worker processes (one thread each, partitions of about
200,000 firms, two in flight per worker). Printed per side: wall seconds, load and screen
seconds, the peak memory of the calling process and of each worker (max RSS), and a digest
of every firm's zone, distance and nearest area; the two digests must be equal.

Memory safety: every process of a side runs under an address-space cap (``--cap`` bytes,
``prlimit --as``; the workers inherit it), so a side that needs more fails with a
MemoryError instead of taking the machine; the failure is printed as the side's result and
the other side still runs. Inputs are made as in ``benchmarks/firm_zones.py`` (cached in
benchmarks/_data/).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from firm_zones import ROOT, make_areas, make_firms
from harness import run_once

COLUMNS = ["zone", "distance_m", "nearest_area_id"]


def _maxrss_mb() -> int:
    """This process's peak resident memory in MB: VmHWM where Linux gives it (the peak of
    this program's own memory: ru_maxrss would keep, across exec, the memory of the process
    a worker was forked from, the caller holding the firm table), else ru_maxrss."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def child(mode: str, firms: Path, areas: Path, workers: int) -> None:
    """One side: load, screen, print a JSON line of times, peaks and the results' digest."""
    import pandas as pd

    from sxzones.analyses.firm_zones import screen_firms
    from sxzones.layers import load_catalog
    from sxzones.rules import load_rules
    from sxzones.runs import load_input

    t0 = time.perf_counter()
    cat = load_catalog()
    f, _ = load_input(str(firms), "firms", cat, crs="wgs84")
    b, _ = load_input(str(areas), "builtup", cat)
    rules = load_rules()
    t1 = time.perf_counter()
    per_worker: list[int] = []
    if mode == "local":
        res = screen_firms(f, b, rules)
    else:
        from sxzones.dask_engine import dask_client, screen_firms_dask

        with dask_client(workers=workers) as client:
            res = screen_firms_dask(f, b, rules, client=client)
            rss = client.run(_maxrss_mb)
            per_worker = [rss[k] for k in sorted(rss)]
    t2 = time.perf_counter()
    # row by row hashes of the values (categories by value, not by code), in the rows' order
    digest = hashlib.sha256(pd.util.hash_pandas_object(res[COLUMNS], index=False).to_numpy())
    doc = {
        "rows": len(res),
        "load_s": round(t1 - t0, 1),
        "screen_s": round(t2 - t1, 1),
        "client_mb": _maxrss_mb(),
        "workers_mb": per_worker,
        "digest": digest.hexdigest()[:16],
    }
    print(json.dumps(doc))


def _side(cmd: list[str], cap: int) -> dict[str, object]:
    """Run one side under the address-space cap: its figures, or why it failed."""
    capped = ["prlimit", f"--as={cap}", *cmd] if cap and shutil.which("prlimit") else cmd
    load = os.getloadavg()[0]
    try:
        seconds, _, out = run_once(capped, cwd=str(ROOT))
        doc = json.loads(out)
    except RuntimeError as exc:  # "CMD failed (STATUS):" and the end of its standard error
        head, _, err = str(exc).partition("\n")
        status = head.rsplit("(", 1)[-1].rstrip("):")
        lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
        # a crash (negative status): the Python frame it happened in, from faulthandler
        where = [ln for ln in lines if ln.startswith("File ")][:1]
        last = where or lines[-1:]
        why = last[0][:200] if last else "no message (killed by a signal when negative)"
        return {"failed": f"exit status {status}: {why}", "load": round(load, 2)}
    # client_mb: the calling process's own max RSS (os.wait4 would give the largest of it
    # and the workers it started)
    return {"wall_s": round(seconds, 1), "load": round(load, 2)} | doc


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--firms", type=int, default=10_000_000)
    ap.add_argument("--areas", type=int, default=3000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--cap", type=int, default=12_000_000_000, help="bytes; 0: no cap")
    ap.add_argument("--only", choices=["local", "dask"])
    ap.add_argument("--child", choices=["local", "dask"])
    ap.add_argument("--paths", nargs=2, type=Path)
    a = ap.parse_args()
    if a.child:
        child(a.child, *a.paths, a.workers)
        return 0
    firms, areas = make_firms(a.firms), make_areas(a.areas)
    me = [
        sys.executable,
        "-X",
        "faulthandler",
        __file__,
        "--workers",
        str(a.workers),
        "--paths",
        str(firms),
        str(areas),
    ]
    sides = {
        "in-process screen_firms": [*me, "--child", "local"],
        f"local cluster, {a.workers} workers": [*me, "--child", "dask"],
    }
    if a.only:
        sides = {k: v for k, v in sides.items() if v[-1] == a.only}
    print(f"{a.firms:,} firms, {a.areas:,} built-up areas; cap {a.cap / 1e9:g} GB per process")
    digests = set()
    for r in range(a.rounds):
        for name in list(sides) if r % 2 == 0 else list(sides)[::-1]:
            got = _side(sides[name], a.cap)
            print(f"  {name:<28} {json.dumps(got)}", flush=True)
            if "digest" in got:
                digests.add(got["digest"])
    same = len(digests) <= 1
    print(f"results equal: {same if len(digests) else 'no side finished'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
