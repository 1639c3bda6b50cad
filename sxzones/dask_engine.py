"""The firm screen, the site check and the siting screen on a Dask cluster
(``--engine dask [--scheduler ADDRESS]``), with the local engine's results.

**Firm screen.** The firms are cut into spatially compact partitions (contiguous runs of the
Hilbert order of their points, about 200,000 firms each); the built-up areas and the admin
layer (small) are sent once to every worker, and each partition is screened by
:func:`sxzones.analyses.firm_zones.screen_firms`, the function the local engine runs. A
firm's result depends only on the firm and the areas, so rows, zones, distances and nearest
areas are the local engine's; the rows come back in the input order.

Memory: a partition is sent to a worker only when a slot is free (two per worker), and each
result is fetched as soon as it is done and released on the worker, so a worker holds at
most two partitions, their results and the broadcast layers: bounded by the partition size,
not by the number of firms. (dask-geopandas' ``from_geopandas`` would put every partition
into the task graph at once, which the scheduler then holds.) The calling process holds the
input and the result: the run reads and validates the firm table there (validation spans
the table: duplicate ids, row numbers in rejects) and writes the outputs from it, so its
memory grows with the number of firms (see ``benchmarks/scale.py``).

**Site check.** Projects in contiguous partitions, each checked by
:func:`sxzones.analyses.site_check.check_sites` against the layers sent to every worker,
joined in the projects' order.

**Siting screen.** Candidates in spatially compact tiles (Hilbert order, about 100 each);
every task opens the raster files itself, by path (workers need the files at the same
paths), and runs :func:`sxzones.analyses.siting.screen_sites` on its tile with the
exclusion layers sent once to every worker. :func:`join_site_tiles` puts the rows and the
side layers back in the input order and computes the totals over the union again.

Without ``scheduler`` a local cluster is started (one worker per core, threads in this
process when ``processes`` is false); with one, the work goes to that running
``dask.distributed`` scheduler, whose workers need sxzones installed (the same version).
Dask, distributed and dask-geopandas are the optional extra ``sxzones[dask]``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from sxzones.analyses.firm_zones import screen_firms
from sxzones.errors import SxzonesError

if TYPE_CHECKING:
    from sxzones.analyses.site_check import SiteCheckResult, SiteLayers
    from sxzones.analyses.siting import Exclusion, SitingResult
    from sxzones.rules import RuleSet

__all__ = [
    "check_sites_dask",
    "dask_client",
    "join_site_tiles",
    "screen_firms_dask",
    "screen_sites_dask",
    "site_tiles",
]


@contextmanager
def dask_client(
    scheduler: str | None = None, *, workers: int | None = None, processes: bool = True
) -> Iterator[Any]:
    """A ``distributed.Client`` on ``scheduler``, or on a local cluster started (and closed)
    here with ``workers`` workers of one thread each (default: one per core)."""
    try:
        import distributed
    except ImportError:
        raise SxzonesError(
            "--engine dask needs Dask: pip install 'sxzones[dask]' (dask, distributed, "
            "dask-geopandas)"
        ) from None
    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise SxzonesError(
                f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc}). Fix: check "
                "the address (tcp://host:8786) and that the scheduler runs"
            ) from exc
        with client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    with (
        distributed.LocalCluster(
            n_workers=n, threads_per_worker=1, processes=processes, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _screen_part(
    part: gpd.GeoDataFrame, builtup: Any, admin: Any, rules: Any, distance_m: float | None
) -> pd.DataFrame:
    """A partition's screen, less the firms' own columns that come back unchanged (the
    caller has them): only what the screen added or changed travels back."""
    res = screen_firms(part, builtup, rules, distance_m=distance_m, admin=admin, threads=1)
    keep = [
        c
        for c in res.columns
        if c not in part.columns
        or res[c].dtype != part[c].dtype
        or not res[c].reset_index(drop=True).equals(part[c].reset_index(drop=True))
    ]
    return pd.DataFrame({c: res[c].to_numpy() if c == res.geometry.name else res[c] for c in keep})


def screen_firms_dask(
    firms: gpd.GeoDataFrame,
    builtup: gpd.GeoDataFrame,
    rules: RuleSet,
    *,
    client: Any,
    distance_m: float | None = None,
    admin: gpd.GeoDataFrame | None = None,
    partitions: int | None = None,
) -> gpd.GeoDataFrame:
    """:func:`~sxzones.analyses.firm_zones.screen_firms` on the cluster of ``client``.

    Parameters
    ----------
    firms, builtup, rules, distance_m, admin
        As for ``screen_firms`` (firms and areas in the same projected working CRS, metres).
    client : distributed.Client
        From :func:`dask_client`.
    partitions : int, optional
        Partitions of the firms (default: about 200,000 firms each, at least one per worker).

    Returns
    -------
    GeoDataFrame
        What ``screen_firms`` returns for ``firms``, rows in the input order.
    """
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    k = partitions or max(n_workers, -(-len(firms) // 200_000))
    parts = firm_partitions(firms, k)
    meta = screen_firms(firms.iloc[:1], builtup, rules, distance_m=distance_m, admin=admin)
    meta = meta.iloc[:0]
    # the small layers go once to every worker; each task gets a reference to them
    areas = client.scatter(builtup, broadcast=True)
    zones = client.scatter(admin, broadcast=True) if admin is not None else None

    def send(i: int) -> Any:  # a partition goes to a worker only when a slot is free
        data = client.scatter(firms.iloc[parts[i]], hash=False)
        fut = client.submit(_screen_part, data, areas, zones, rules, distance_m, pure=False)
        return fut, data

    screened = _stream(client, len(parts), send, 2 * n_workers)
    return _join_firm_parts(screened, parts, meta, firms)


def firm_partitions(firms: gpd.GeoDataFrame, k: int) -> list[npt.NDArray[np.int64]]:
    """``k`` spatially compact partitions of the firms: contiguous runs of the Hilbert order
    of their points (row positions; one partition: every row in order)."""
    k = max(1, min(k, len(firms)))
    if k == 1:
        return [np.arange(len(firms), dtype=np.int64)]
    order = np.argsort(firms.geometry.hilbert_distance().to_numpy(), kind="stable")
    return list(np.array_split(order.astype(np.int64), k))


def _stream(client: Any, n: int, send: Any, in_flight: int) -> list[Any]:
    """Run tasks ``send(0) .. send(n - 1)`` (each returns its future and the futures it
    holds), at most ``in_flight`` at once; each result is fetched as it is done and its
    futures released, so a worker holds only the partitions in flight, whatever ``n``."""
    from distributed import wait

    results: list[Any] = [None] * n
    pending: dict[Any, tuple[int, Any]] = {}
    nxt = 0
    while nxt < n or pending:
        while nxt < n and len(pending) < in_flight:
            fut, data = send(nxt)
            pending[fut] = (nxt, data)
            nxt += 1
        done = wait(list(pending), return_when="FIRST_COMPLETED").done
        for fut in sorted(done, key=lambda f: pending[f][0]):
            i, data = pending.pop(fut)
            results[i] = fut.result()
            fut.release()
            data.release()
    return results


def _join_firm_parts(
    screened: list[pd.DataFrame],
    parts: list[npt.NDArray[np.int64]],
    meta: gpd.GeoDataFrame,
    firms: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    """The partitions' columns beside the firms' own, rows in the input order, columns in
    the local engine's order, categories as it makes them (fixed sets kept; sets built
    from the values present: sorted)."""
    back = np.argsort(np.concatenate(parts), kind="stable")
    result = firms.copy(deep=False)  # the firms' columns are shared, not copied
    for col in meta.columns:
        have = [c for c in screened if col in c]
        if not have:
            continue
        if isinstance(meta[col].dtype, pd.CategoricalDtype):
            _common_categories(have, col, meta[col].cat.categories)
        if len(have) == len(screened):
            values = pd.concat([c[col] for c in screened], ignore_index=True).take(back)
            result[col] = values.set_axis(firms.index)
        else:  # changed in some partitions only: those rows from them
            full = result[col].copy()
            for c, rows in zip(screened, parts, strict=True):
                if col in c:
                    full.iloc[rows] = c[col].to_numpy()
            result[col] = full
        for c in have:
            del c[col]  # the partitions' copy goes once it is joined
    result = result[list(meta.columns)]
    result.attrs = dict(meta.attrs)
    return gpd.GeoDataFrame(result, geometry=meta.geometry.name, crs=firms.crs)


def _common_categories(frames: list[pd.DataFrame], col: str, fixed: pd.Index) -> None:
    """One category set for ``col`` in every frame: ``fixed`` when the frames' sets, united
    in the order of appearance, are it; otherwise the sorted values."""
    cats = pd.Index(
        pd.unique(np.concatenate([f[col].cat.categories.to_numpy(object) for f in frames]))
    )
    if not cats.equals(fixed):
        cats = pd.Index(np.unique(cats.astype(str)))
    for f in frames:
        f[col] = f[col].cat.set_categories(cats)


def _check_part(
    projects: gpd.GeoDataFrame, frames: dict[str, Any], sources: dict[str, Any], rules: Any
) -> Any:
    from sxzones.analyses.site_check import SiteLayers, check_sites

    res = check_sites(projects, SiteLayers(frames, sources), rules, threads=1)
    return res.table, res.pairs  # not the layers: their indexes stay on the worker


def check_sites_dask(
    projects: gpd.GeoDataFrame,
    layers: SiteLayers,
    rules: RuleSet,
    *,
    client: Any,
    partitions: int | None = None,
) -> SiteCheckResult:
    """:func:`~sxzones.analyses.site_check.check_sites` on the cluster of ``client``: the
    projects in contiguous partitions, the layers sent once to every worker, the partitions'
    tables and pairs joined in the projects' order (as ``check_sites`` joins its threads').

    Parameters
    ----------
    projects, layers, rules
        As for ``check_sites`` (the layers' projected working CRS, metres).
    client : distributed.Client
        From :func:`dask_client`.
    partitions : int, optional
        Default: about 20,000 projects each, at least one per worker.
    """

    from sxzones.analyses.site_check import SiteCheckResult, join_chunk_results

    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    k = partitions or max(n_workers, -(-len(projects) // 20_000))
    chunks = [c for c in np.array_split(np.arange(len(projects)), max(1, k)) if len(c)]
    frames = client.scatter(layers.frames, broadcast=True)
    futures = [
        client.submit(
            _check_part, projects.iloc[c[0] : c[-1] + 1], frames, layers.sources, rules, pure=False
        )
        for c in chunks
    ]
    parts = [SiteCheckResult(t, p, layers, rules) for t, p in client.gather(futures)]
    return join_chunk_results(parts, chunks, projects.crs, layers, rules)


#: A raster criterion the tasks open themselves: (file, kind, threshold, name), as
#: :func:`sxzones.runs.siting` lists ``--dem`` and ``--resource``.
RasterSpec = tuple[Path | str, str, float, str]


def _site_tile(
    tile: gpd.GeoDataFrame,
    exclusions: list[Exclusion],
    rules: RuleSet,
    specs: list[RasterSpec],
    kw: dict[str, Any],
) -> SitingResult:
    """One tile's screen on a worker: the worker opens the rasters by path (it needs the
    files at the same paths) and closes them when the tile is done."""
    import rasterio
    import rasterio.errors

    from sxzones.analyses.siting import RasterCriterion, screen_sites

    with ExitStack() as stack:
        rasters = []
        for path, kind, threshold, name in specs:
            try:
                ds = stack.enter_context(rasterio.open(path))
            except rasterio.errors.RasterioIOError as exc:
                raise SxzonesError(
                    f"{path}: cannot open as a raster on a Dask worker ({exc}). Fix: every "
                    "worker needs the raster files at the same paths as this machine"
                ) from None
            rasters.append(RasterCriterion(ds, kind, threshold, name))
        return screen_sites(tile, exclusions, rules, rasters=rasters, threads=1, **kw)


def site_tiles(candidates: gpd.GeoDataFrame, k: int) -> list[npt.NDArray[np.int64]]:
    """``k`` spatially compact tiles of the candidates: contiguous runs of the Hilbert order
    of their bounding boxes' centres, each tile's positions in the input order."""
    k = max(1, min(k, len(candidates)))
    if k == 1:
        return [np.arange(len(candidates), dtype=np.int64)]
    order = np.argsort(candidates.geometry.hilbert_distance().to_numpy(), kind="stable")
    return [np.sort(t) for t in np.array_split(order.astype(np.int64), k)]


def screen_sites_dask(
    candidates: gpd.GeoDataFrame,
    exclusions: Sequence[Exclusion],
    rules: RuleSet,
    rasters: Sequence[RasterSpec] = (),
    *,
    client: Any,
    tiles: int | None = None,
    **kw: Any,
) -> SitingResult:
    """:func:`~sxzones.analyses.siting.screen_sites` on the cluster of ``client``, tile by
    tile.

    Parameters
    ----------
    candidates, exclusions, rules
        As for ``screen_sites`` (candidates in the projected working CRS, metres).
    rasters : sequence of (path, kind, threshold, name)
        The raster criteria as files: every task opens them itself (workers need the files
        at the same paths).
    client : distributed.Client
        From :func:`dask_client`.
    tiles : int, optional
        Number of tiles (default: about 100 candidates each, at least two per worker).
    **kw
        ``tech``, ``grid``, ``admin``, ``not_assessed``, ``as_of_year`` of ``screen_sites``.

    Returns
    -------
    SitingResult
        One row per candidate in the input order, as ``screen_sites`` returns it (see
        :func:`join_site_tiles` for the one difference a resource raster can make).
    """
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    parts_of = site_tiles(candidates, tiles or max(2 * n_workers, -(-len(candidates) // 100)))
    # the layers go once to every worker (one object each); the tasks get references
    ex, rl, kws = client.scatter([list(exclusions), rules, kw], broadcast=True)
    futures = [
        client.submit(
            _site_tile,
            # each candidate's id is its position while on the cluster (ids may repeat)
            candidates.iloc[t].assign(site_id=t.astype(str)),
            ex,
            rl,
            [(str(p), k, float(v), n) for p, k, v, n in rasters],
            kws,
            pure=False,
        )
        for t in parts_of
    ]
    parts = client.gather(futures)
    return join_site_tiles(parts, parts_of, candidates, list(rasters))


def _by_candidate(
    frames: Sequence[gpd.GeoDataFrame], ids: npt.NDArray[np.object_], first: Sequence[str] = ()
) -> tuple[gpd.GeoDataFrame, npt.NDArray[np.int64]]:
    """The tiles' side frames (removed pieces, turbines, land not assessed) as one, in the
    local engine's order: by ``raster`` in the order of ``first`` (when given), then by
    candidate, each candidate's rows as its tile wrote them; the real ids back. Also each
    row's candidate position."""
    f = pd.concat(frames, ignore_index=True)
    pos = f["site_id"].astype(np.int64).to_numpy()
    rank = np.zeros(len(f), np.int64)
    if first:
        rank += f["raster"].map({r: i for i, r in enumerate(first)}).to_numpy(np.int64)
    order = np.lexsort((pos, rank))
    f = f.iloc[order]
    f.index = pd.RangeIndex(len(f))
    f["site_id"] = ids[pos[order]]
    return f, pos[order]


def _unknown_land(
    land: gpd.GeoDataFrame, pos: npt.NDArray[np.int64], names: Sequence[str], n: int
) -> dict[str, npt.NDArray[np.object_]]:
    """Per raster, each candidate's eligible land the raster did not assess (empty: none)."""
    per = {name: np.full(n, shapely.Polygon(), dtype=object) for name in names}
    geoms = land.geometry.to_numpy()
    for name in names:
        rows = np.flatnonzero(land["raster"].to_numpy() == name)
        per[name][pos[rows]] = geoms[rows]
    return per


def _rescore(
    sites: pd.DataFrame, parts: Sequence[SitingResult], rasters: Sequence[tuple[str, float, str]]
) -> None:
    """``score_resource`` and ``score`` over all candidates: the resource component is scaled
    by the best mean of all candidates (a tile's own best where it holds that candidate)."""
    res = [(thr, name) for kind, thr, name in rasters if kind != "slope"]
    if not res or len(parts) < 2 or "score_resource" not in sites:
        return
    thr, name = res[0]
    m = sites[f"{name}_mean"].to_numpy(np.float64)
    best = np.nanmax(m) if np.isfinite(m).any() else np.nan
    holds = [
        bool(np.isfinite(p.sites[f"{name}_mean"]).any())
        and np.nanmax(p.sites[f"{name}_mean"].to_numpy(np.float64)) == best
        for p in parts
    ]
    keep = np.zeros(len(sites), dtype=bool)  # rows of tiles that hold the best candidate
    for p, h in zip(parts, holds, strict=True):
        if h:
            keep[p.sites["site_id"].astype(np.int64).to_numpy()] = True
    comp = np.clip((m - thr) / (best - thr), 0, 1) if best > thr else np.where(np.isnan(m), m, 1.0)
    weights = parts[0].meta["score_weights"]
    num, den = np.zeros(len(m)), np.zeros(len(m))
    for k, w in weights.items():
        c = comp if k == "resource" else sites[f"score_{k}"].to_numpy(np.float64)
        ok = ~np.isnan(c)
        num[ok] += w * c[ok]
        den[ok] += w
    score = np.where(
        (den > 0) & sites["eligible"].to_numpy(bool),
        np.round(100 * num / np.where(den > 0, den, 1), 1),
        np.nan,
    )
    sites["score_resource"] = np.where(keep, sites["score_resource"], np.round(comp, 3))
    sites["score"] = np.where(keep, sites["score"], score)


def join_site_tiles(
    parts: Sequence[SitingResult],
    tiles: Sequence[npt.NDArray[np.int64]],
    candidates: gpd.GeoDataFrame,
    rasters: Sequence[RasterSpec],
) -> SitingResult:
    """One :class:`~sxzones.analyses.siting.SitingResult` from the tiles' (``tiles``: each
    tile's candidate positions; the tiles' site ids are those positions).

    A candidate's row depends only on the candidate and the layers, so rows, areas per
    reason, eligible land, capacity and turbines are the local engine's; the totals over
    the union of the candidates (overlapping pairs, land not assessed) are computed again
    over all of them, from the joined land. One column depends on every candidate: the
    resource score is scaled by the best candidate's mean, which a tile only knows for its
    own candidates; tiles without the best one get ``score_resource`` and ``score`` again
    from the written means (0.001 units), so with a resource raster these two may differ
    from the local engine's in their last digit.
    """
    from sxzones.analyses.siting import SitingResult, joined_layout, late_warnings
    from sxzones.analyses.siting_totals import union_totals
    from sxzones.geodesy import ellipsoidal_area

    n = len(candidates)
    ids = candidates["site_id"].astype(str).to_numpy()
    back = np.argsort(np.concatenate(tiles), kind="stable")  # stacked row of each candidate
    reasons, columns, checks = joined_layout(parts)  # a reason only some tiles met: 0 in others
    sites = pd.concat([p.sites for p in parts], ignore_index=True).iloc[back]
    sites[[c for c in columns if c.startswith("removed_")]] = sites[
        [c for c in columns if c.startswith("removed_")]
    ].fillna(0.0)
    sites = sites[columns]
    sites.index = pd.RangeIndex(n)
    sites["site_id"] = ids
    _rescore(sites, parts, [(k, float(v), name) for _, k, v, name in rasters])
    crs = sites.crs
    meta = dict(parts[0].meta) | {"reasons": reasons, "raster_checks": checks}
    tech, cap = meta["tech"], meta["capacity"]
    removed, _ = _by_candidate([p.removed for p in parts], ids)
    turbines, at = _by_candidate([p.turbines for p in parts], ids)
    names = [name for *_, name in rasters]
    land, land_at = _by_candidate(
        [p.unassessed for p in parts if p.unassessed is not None], ids, names
    )
    eligible = sites.geometry.to_numpy()
    if tech == "pv":
        capacity = ellipsoidal_area(eligible, crs) / 1e6 * float(cap["density_mw_per_km2"])
        spots: list[npt.NDArray[np.float64]] = []
    else:
        count = np.bincount(at, minlength=n)
        xy = shapely.get_coordinates(turbines.geometry.to_numpy())
        spots = np.split(xy, np.cumsum(count)[:-1]) if n else []
        capacity = count.astype(np.float64) * float(cap["turbine_mw"])
    per = _unknown_land(land, land_at, names, n)
    union = (
        np.asarray(shapely.union_all(np.column_stack(list(per.values())), axis=1), dtype=object)
        if per
        else np.full(n, shapely.Polygon(), dtype=object)
    )
    labels = {r["raster"]: r["source"] for r in meta["totals"]["not_assessed_by_raster"]}
    meta["totals"] = union_totals(
        ids,
        cands_geoms=candidates.geometry.to_numpy(),
        eligible_geoms=eligible,
        capacity=capacity,
        turbines=spots,
        unknown=per,
        unknown_all=union,
        labels=labels,
        tech=tech,
        cap=cap,
        crs=crs,
    )
    meta["totals"]["warnings"] += late_warnings(sites, meta)
    return SitingResult(sites, removed, turbines, meta, land)
