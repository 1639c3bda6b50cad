"""The firm screen on a Dask cluster (``--engine dask [--scheduler ADDRESS]``).

The firms are split into spatially compact partitions (dask-geopandas, Hilbert order), the
built-up areas and the admin layer (small) are sent once to every worker, and each partition
is screened by :func:`sxzones.analyses.firm_zones.screen_firms`, the same function the local
engine runs. A firm's result depends only on the firm and the areas, so the rows, zones,
distances and nearest areas are those of the local engine; the rows come back in the input's
order.

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
    from sxzones.rules import RuleSet

__all__ = ["dask_client", "screen_firms_dask"]

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
