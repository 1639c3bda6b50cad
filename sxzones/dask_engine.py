"""The firm screen and the site check on a Dask cluster (``--engine dask [--scheduler ADDRESS]``).

The firms are split into spatially compact partitions (dask-geopandas, Hilbert order), the
built-up areas and the admin layer (small) are sent once to every worker, and each partition
is screened by :func:`sxzones.analyses.firm_zones.screen_firms`, the same function the local
engine runs. A firm's result depends only on the firm and the areas, so the rows, zones,
distances and nearest areas are those of the local engine; the rows come back in the input's
order. The site check runs the same way: projects in contiguous partitions, each checked by
:func:`sxzones.analyses.site_check.check_sites` against the layers sent to every worker.

Without ``scheduler`` a local cluster is started (one worker per core, threads in this
process when ``processes`` is false); with one, the work goes to that running
``dask.distributed`` scheduler, whose workers need sxzones installed (the same version).
Dask, distributed and dask-geopandas are the optional extra ``sxzones[dask]``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np

from sxzones.analyses.firm_zones import screen_firms
from sxzones.errors import SxzonesError

if TYPE_CHECKING:
    from sxzones.analyses.site_check import SiteCheckResult, SiteLayers
    from sxzones.rules import RuleSet

__all__ = ["check_sites_dask", "dask_client", "screen_firms_dask"]

_ROW = "__sxzones_row"


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
            n_workers=n, threads_per_worker=1, processes=processes, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _screen_part(
    part: gpd.GeoDataFrame, builtup: Any, admin: Any, rules: Any, distance_m: float | None
) -> Any:
    return screen_firms(part, builtup, rules, distance_m=distance_m, admin=admin, threads=1)


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
    import dask
    import dask_geopandas

    # text columns stay as screen_firms makes them (no conversion to Arrow strings)
    with dask.config.set({"dataframe.convert-string": False}):
        return _screen(firms, builtup, rules, client, distance_m, admin, partitions, dask_geopandas)


def _screen(
    firms: gpd.GeoDataFrame,
    builtup: gpd.GeoDataFrame,
    rules: RuleSet,
    client: Any,
    distance_m: float | None,
    admin: gpd.GeoDataFrame | None,
    partitions: int | None,
    dask_geopandas: Any,
) -> gpd.GeoDataFrame:
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    k = partitions or max(n_workers, -(-len(firms) // 200_000))
    k = max(1, min(k, len(firms)))
    frame = firms.assign(**{_ROW: np.arange(len(firms), dtype=np.int64)})
    meta = _screen_part(frame.iloc[:1], builtup, admin, rules, distance_m).iloc[:0]
    if k > 1:  # spatially compact partitions: contiguous runs of the Hilbert order
        order = np.argsort(frame.geometry.hilbert_distance().to_numpy(), kind="stable")
        frame = frame.iloc[order]
    parts = dask_geopandas.from_geopandas(frame, npartitions=k, sort=False)
    # the small layers go once to every worker; each task gets a reference to them
    areas = client.scatter(builtup, broadcast=True)
    zones = client.scatter(admin, broadcast=True) if admin is not None else None
    screened = parts.map_partitions(_screen_part, areas, zones, rules, distance_m, meta=meta)
    result = client.compute(screened).result()
    result = result.sort_values(_ROW, kind="stable")
    result.index = firms.index
    result = result.drop(columns=_ROW)
    for col in result.columns:  # categories as the local engine orders them
        cats = getattr(getattr(result[col], "cat", None), "categories", None)
        if cats is not None and not cats.equals(meta[col].cat.categories):
            # built from the values present (categorical_take: sorted); the partitions'
            # sets were united in the order of appearance
            result[col] = result[col].cat.reorder_categories(np.unique(cats.astype(str)))
    result.attrs = dict(meta.attrs)
    return gpd.GeoDataFrame(result, geometry=meta.geometry.name, crs=firms.crs)


def _check_part(
    projects: gpd.GeoDataFrame, frames: dict[str, Any], sources: dict[str, Any], rules: Any
) -> Any:
    from sxzones.analyses.site_check import SiteLayers, check_sites

    return check_sites(projects, SiteLayers(frames, sources), rules, threads=1)


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

    from sxzones.analyses.site_check import join_chunk_results

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
    parts = client.gather(futures)
    return join_chunk_results(parts, chunks, projects.crs, layers, rules)
