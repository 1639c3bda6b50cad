"""The firm screen on a Dask cluster gives the local engine's results: same rows in the same
order, same zones, nearest areas, rules, and distances (to the centimetre: here, equal)."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from click.testing import CliRunner

from sxzones.analyses.firm_zones import screen_firms
from sxzones.cli import cli
from sxzones.layers import load_catalog
from sxzones.rules import load_rules

from .conftest import CATALOG, WORK

distributed = pytest.importorskip("distributed")
pytest.importorskip("dask_geopandas")

from sxzones.dask_engine import dask_client, screen_firms_dask  # noqa: E402

FIRMS = [
    "firms",
    "--firms",
    "firms",
    "--builtup",
    "builtup_demonstration",
    "--catalog",
    str(CATALOG),
]


@pytest.fixture(scope="module")
def cluster():
    """Two workers, threads in this process (starting processes is slow here)."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as c:
        yield c


def test_dask_screen_equals_local(cluster):
    cat = load_catalog(CATALOG)
    firms, _ = cat.load("firms")
    builtup, _ = cat.load("builtup_demonstration")
    admin, _ = cat.load("admin")
    rules = load_rules()
    local = screen_firms(firms, builtup, rules, admin=admin)
    with dask_client(cluster.scheduler_address) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        remote = screen_firms_dask(firms, builtup, rules, client=client, admin=admin, partitions=5)
    assert len(remote) == len(local) == len(firms) > 100
    assert remote.index.equals(local.index)
    pd.testing.assert_frame_equal(
        pd.DataFrame(remote.drop(columns="geometry")), pd.DataFrame(local.drop(columns="geometry"))
    )
    assert remote.geometry.equals(local.geometry) and remote.crs == local.crs
    assert remote.attrs["distance_m"] == local.attrs["distance_m"]
    assert set(remote["zone"]) >= {"inside", "within_20km"}


def test_partitions_send_back_only_what_the_screen_added_or_changed():
    """A partition returns the screen's own columns; the firms' columns come from the
    caller's table, and a column the screen changed in one partition only is taken from
    that partition for its rows."""
    from sxzones.dask_engine import _join_firm_parts, _screen_part, firm_partitions

    cat = load_catalog(CATALOG)
    firms, _ = cat.load("firms")
    builtup, _ = cat.load("builtup_demonstration")
    rules = load_rules()
    local = screen_firms(firms, builtup, rules)
    parts = firm_partitions(firms, 3)
    screened = [_screen_part(firms.iloc[p], builtup, None, rules, None) for p in parts]
    assert "zone" in screened[0] and "firm_id" not in screened[0] and "geometry" not in screened[0]
    screened[1]["name"] = (firms["name"].iloc[parts[1]] + "*").to_numpy()
    joined = _join_firm_parts(screened, parts, local.iloc[:0], firms)
    expect = local["name"].copy()
    expect.iloc[parts[1]] = expect.iloc[parts[1]] + "*"
    assert joined["name"].equals(expect) and (joined["name"] != local["name"]).sum() > 10
    pd.testing.assert_frame_equal(
        pd.DataFrame(joined.drop(columns=["name", "geometry"])),
        pd.DataFrame(local.drop(columns=["name", "geometry"])),
    )


def test_partitions_go_out_a_few_at_a_time(cluster):
    """25 partitions, 3 in flight: a partition is sent only while fewer than 3 others are
    unfinished, so a worker never holds all of them; the results come back in order and
    every partition and result is released."""
    from sxzones.dask_engine import _stream

    tasks: list = []
    early: list[int] = []
    with dask_client(cluster.scheduler_address) as client:

        def send(i):
            if sum(not t.done() for t in tasks) > 2:
                early.append(i)
            data = client.scatter(i, hash=False)
            tasks.append(client.submit(lambda x: x * x, data, pure=False))
            return tasks[-1], data

        results = _stream(client, 25, send, 3)
        tasks.clear()
        for _ in range(100):  # releases reach the client's event loop a moment later
            if not client.futures:
                break
            time.sleep(0.05)
        assert not client.futures
    assert results == [i * i for i in range(25)]
    assert early == []


def test_cli_engine_dask_on_a_scheduler_by_address(cluster, tmp_path):
    base = ["firms", "--firms", "firms", "--builtup", "builtup_demonstration"]
    base += ["--catalog", str(CATALOG)]
    local = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    address = cluster.scheduler_address
    res = CliRunner().invoke(
        cli,
        [*base, "--out", str(tmp_path / "dask"), "--engine", "dask", "--scheduler", address],
    )
    assert res.exit_code == 0, res.output
    for name in ("firm_zones.csv", "firm_zones.xlsx", "firm_zones.gpkg", "rejects.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()


def test_scheduler_needs_engine_dask(tmp_path):
    res = CliRunner().invoke(
        cli,
        [*FIRMS, "--out", str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:1"],
    )
    assert res.exit_code == 2
    assert "--scheduler is for --engine dask" in res.output


def test_recipe_keys_engine_and_scheduler(cluster, tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        'analysis = "firms"\n'
        f'catalog = "{CATALOG.as_posix()}"\n'
        f'out = "{(tmp_path / "o").as_posix()}"\n'
        '[inputs]\nfirms = "firms"\nbuiltup = "builtup_demonstration"\n'
        f'[options]\nformats = "csv"\nengine = "dask"\nscheduler = "{cluster.scheduler_address}"\n',
        encoding="utf-8",
    )
    res = CliRunner().invoke(cli, ["run", str(recipe)])
    assert res.exit_code == 0, res.output
    local = CliRunner().invoke(cli, [*FIRMS, "--format", "csv", "--out", str(tmp_path / "l")])
    assert local.exit_code == 0, local.output
    a, b = tmp_path / "o" / "firm_zones.csv", tmp_path / "l" / "firm_zones.csv"
    assert a.read_bytes() == b.read_bytes()


def _parcels(n: int, seed: int = 5):
    """Boxes of 100-800 m scattered over the province, several industries (working CRS)."""
    import geopandas as gpd
    import numpy as np
    import shapely

    admin, _ = load_catalog(CATALOG).load("admin")
    province = admin[admin["level"] == "province"].geometry.iloc[0]
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = province.bounds
    xy = rng.uniform([minx, miny], [maxx, maxy], size=(n * 3, 2))
    xy = xy[shapely.contains_xy(province, xy[:, 0], xy[:, 1])][:n]
    size = rng.uniform(100, 800, (len(xy), 2))
    inds = np.array(["steel", "coking", "cement", "pv", "wind"])
    return gpd.GeoDataFrame(
        {"project_id": [f"P{i:04d}" for i in range(len(xy))],
         "industry": inds[rng.integers(0, len(inds), len(xy))], "kind": "new"},
        geometry=shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + size[:, 0], xy[:, 1] + size[:, 1]),
        crs=admin.crs,
    )  # fmt: skip


def test_dask_site_check_equals_local(cluster):
    from sxzones.analyses.site_check import check_sites
    from sxzones.dask_engine import check_sites_dask
    from sxzones.runs.site_check import site_layers

    layers = site_layers(load_catalog(CATALOG))
    rules = load_rules()
    projects = _parcels(300)
    local = check_sites(projects, layers, rules)
    with dask_client(cluster.scheduler_address) as client:
        remote = check_sites_dask(projects, layers, rules, client=client, partitions=4)
    pd.testing.assert_frame_equal(
        pd.DataFrame(remote.table.drop(columns="geometry")),
        pd.DataFrame(local.table.drop(columns="geometry")),
    )
    assert set(local.table["verdict"]) >= {"clear", "conflict"}
    assert remote.pairs.keys() == local.pairs.keys()
    for role in local.pairs:
        pd.testing.assert_frame_equal(remote.pairs[role], local.pairs[role])
    assert remote.details() == local.details()


def test_cli_check_engine_dask(cluster, tmp_path):
    path = tmp_path / "parcels.gpkg"
    _parcels(60).to_file(path, layer="parcels", driver="GPKG")
    base = ["check", "--projects", str(path), "--catalog", str(CATALOG), "--reports", "flagged"]
    local = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "l")])
    assert local.exit_code == 0, local.output
    address = cluster.scheduler_address
    res = CliRunner().invoke(
        cli, [*base, "--out", str(tmp_path / "d"), "--engine", "dask", "--scheduler", address]
    )
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in (tmp_path / "l").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "d").iterdir())
    assert any(n.startswith("report-") for n in names)
    for name in names:
        if name != "manifest.json":
            assert (tmp_path / "d" / name).read_bytes() == (tmp_path / "l" / name).read_bytes()


def test_cli_check_engine_dask_on_worker_processes(processes, tmp_path):
    """On worker processes (what a cluster has) the results travel back pickled: the site
    check's layer indexes, which hold a lock, crashed that; the tables and pairs come back,
    the same files as the local engine's."""
    import pickle

    from sxzones.analyses.nearest import TargetIndex

    path = tmp_path / "parcels.gpkg"
    _parcels(40).to_file(path, layer="parcels", driver="GPKG")
    base = ["check", "--projects", str(path), "--catalog", str(CATALOG), "--reports", "none"]
    local = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "l")])
    assert local.exit_code == 0, local.output
    address = processes.scheduler_address
    res = CliRunner().invoke(
        cli, [*base, "--out", str(tmp_path / "d"), "--engine", "dask", "--scheduler", address]
    )
    assert res.exit_code == 0, res.output
    for name in ("site_check.csv", "site_check.json"):
        assert (tmp_path / "d" / name).read_bytes() == (tmp_path / "l" / name).read_bytes()
    index = TargetIndex(_parcels(3).geometry.to_numpy())
    _ = index.prepared  # built on use, and the lock that guards it
    copy = pickle.loads(pickle.dumps(index))
    assert copy.tree.query(copy.geoms[0]).tolist() == index.tree.query(index.geoms[0]).tolist()


def _raster(path, z, x0: float, y0: float, res: float):
    """A GeoTIFF of ``z`` (float32, nodata -9999) in the working CRS, top-left (x0, y0)."""
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(
        path, "w", driver="GTiff", width=z.shape[1], height=z.shape[0], count=1,
        dtype="float32", crs=WORK, transform=from_origin(x0, y0, res, res), nodata=-9999.0,
    ) as ds:  # fmt: skip
        ds.write(z.astype("float32"), 1)
    return path


@pytest.fixture(scope="module")
def demo_rasters(tmp_path_factory):
    """A DEM with hills (slopes 0-37 degrees) and an irradiance raster (1250-1650, minimum
    1400 fails the south-west) over the demo candidates, 300 m cells; their northern 40 km
    hold no data (land not assessed)."""
    import numpy as np

    d = tmp_path_factory.mktemp("rasters")
    x0, y0, res = 450_000.0, 4_460_000.0, 300.0
    x = x0 + (np.arange(1000) + 0.5) * res
    y = y0 - (np.arange(2000) + 0.5) * res
    xx, yy = np.meshgrid(x, y)
    z = 1000 + 1500 * np.sin(xx / 2000.0) * np.cos(yy / 2500.0)
    ghi = 1250 + 400 * ((xx - x0) / 3e5 + (yy - 3.86e6) / 6e5) / 2
    for a in (z, ghi):
        a[yy > 4_420_000] = -9999.0
    return _raster(d / "dem.tif", z, x0, y0, res), _raster(d / "ghi.tif", ghi, x0, y0, res)


@pytest.fixture(scope="module")
def processes():
    """Two worker processes: the siting tasks run rasterio, whose warnings.catch_warnings
    is not thread-safe (two tile tasks in threads of one process race on the filters)."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as c:
        yield c


SITES = ["sites", "--candidates", "candidates_demonstration", "--catalog", str(CATALOG)]


@pytest.mark.parametrize("tech", ["pv", "wind"])
def test_cli_sites_engine_dask_writes_the_local_bytes(processes, demo_rasters, tmp_path, tech):
    """The demo candidates on DEM tiles over a two-worker cluster: every output file (the
    sites with areas per reason, capacities, turbines, land not assessed, totals) is the
    local engine's, byte for byte."""
    dem, _ = demo_rasters
    base = [*SITES, "--tech", tech, "--dem", str(dem), "--exclude", "water:300m"]
    local = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "l")])
    assert local.exit_code == 0, local.output
    address = processes.scheduler_address
    res = CliRunner().invoke(
        cli, [*base, "--out", str(tmp_path / "d"), "--engine", "dask", "--scheduler", address]
    )
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in (tmp_path / "l").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "d").iterdir())
    for name in names:
        if name != "manifest.json":  # it holds the run's options (engine, scheduler)
            assert (tmp_path / "d" / name).read_bytes() == (tmp_path / "l" / name).read_bytes()
    table = pd.read_csv(tmp_path / "d" / "eligible_sites.csv", encoding="utf-8-sig")
    # the known answers the comparison stands on: slope removed land, some land not assessed
    assert len(table) == 91 and table["removed_slope_m2"].sum() > 1e6
    assert table["unknown_m2"].sum() > 1e5 and table["eligible"].sum() > 10
    assert "not assessed by the rasters" in res.output


def test_dask_sites_tiles_join_in_input_order(processes, demo_rasters):
    """screen_sites_dask with a resource raster, ten tiles, and repeated ids: rows, areas per
    reason, capacities, removed pieces and totals are the local engine's; the resource score
    (scaled by the best candidate of all tiles) within one unit of its last digit."""
    import numpy as np
    import rasterio

    from sxzones.analyses.siting import RasterCriterion, screen_sites
    from sxzones.dask_engine import screen_sites_dask, site_tiles
    from sxzones.runs.siting import build_exclusions

    cat = load_catalog(CATALOG)
    rules = load_rules()
    cand, _ = cat.load("candidates_demonstration")
    cand = cand.assign(site_id=[f"C{i % 60}" for i in range(len(cand))])  # ids repeat
    excl, missing, _ = build_exclusions(cat, rules, "pv", [])
    admin, _ = cat.load("admin")
    specs = [(demo_rasters[0], "slope", 0.0, "slope"), (demo_rasters[1], "minimum", 1400.0, "ghi")]
    tiles = site_tiles(cand, 10)
    assert sorted(np.concatenate(tiles).tolist()) == list(range(len(cand)))
    assert not all((np.diff(t) == 1).all() for t in tiles)  # not contiguous runs of rows
    kw = {"tech": "pv", "admin": admin, "not_assessed": missing}
    with rasterio.open(specs[0][0]) as d, rasterio.open(specs[1][0]) as g:
        rs = [
            RasterCriterion(d, "slope", 0.0, "slope"),
            RasterCriterion(g, "minimum", 1400.0, "ghi"),
        ]
        local = screen_sites(cand, excl, rules, rasters=rs, **kw)
    with dask_client(processes.scheduler_address) as client:
        remote = screen_sites_dask(cand, excl, rules, specs, client=client, tiles=10, **kw)
    scores = ["score_resource", "score"]
    pd.testing.assert_frame_equal(
        pd.DataFrame(remote.sites.drop(columns=["geometry", *scores])),
        pd.DataFrame(local.sites.drop(columns=["geometry", *scores])),
    )
    assert remote.sites.geometry.geom_equals_exact(local.sites.geometry, 0).all()
    for col, unit in (("score_resource", 0.001), ("score", 0.1)):
        diff = (remote.sites[col] - local.sites[col]).abs().fillna(0)
        assert (diff <= unit + 1e-9).all(), col
    assert local.sites["score_resource"].between(0.01, 0.99).sum() > 10
    assert local.sites["removed_ghi_m2"].sum() > 1e6
    for side in ("removed", "turbines", "unassessed"):
        a, b = getattr(remote, side), getattr(local, side)
        # text columns: object in the workers, pandas' string dtype here, where importing
        # dask.dataframe turned pandas' string inference on (the written files are equal)
        pd.testing.assert_frame_equal(
            pd.DataFrame(a.drop(columns="geometry")),
            pd.DataFrame(b.drop(columns="geometry")),
            check_dtype=False,
        )
        assert a.geometry.geom_equals_exact(b.geometry, 0).all()
    assert remote.meta == local.meta
    assert remote.summary["not_assessed_km2"] > 0


def test_dask_sites_joins_the_warnings_and_reasons_some_tiles_met(
    processes, demo_rasters, tmp_path
):
    """A landfill not yet closed in one tile only, a DEM whose -9999 cells are not declared,
    and a resource minimum some tiles' cells never reach: the joined tables (a not_closed
    column that tile alone made), reasons and warnings are the local engine's."""
    import numpy as np
    import rasterio

    from sxzones.analyses.siting import RasterCriterion, screen_sites
    from sxzones.dask_engine import screen_sites_dask

    with rasterio.open(demo_rasters[0]) as src:
        prof, z = src.profile | {"nodata": None}, src.read(1)
    dem = tmp_path / "dem_undeclared.tif"
    with rasterio.open(dem, "w", **prof) as dst:
        dst.write(z, 1)
    cat = load_catalog(CATALOG)
    rules = load_rules()
    cand, _ = cat.load("candidates_demonstration")
    cand = cand.assign(kind=np.where(np.arange(len(cand)) < 2, "closed_landfill", cand["kind"]),
                       closure_year=[2030, 2019] + [None] * (len(cand) - 2))  # fmt: skip
    specs = [(dem, "slope", 0.0, "slope"), (demo_rasters[1], "minimum", 1400.0, "ghi")]
    admin, _ = cat.load("admin")
    kw = {"tech": "pv", "admin": admin}
    with rasterio.open(specs[0][0]) as d, rasterio.open(specs[1][0]) as g:
        rs = [RasterCriterion(d, "slope", 0.0, "slope"),
              RasterCriterion(g, "minimum", 1400.0, "ghi")]  # fmt: skip
        local = screen_sites(cand, [], rules, rasters=rs, **kw)
    with dask_client(processes.scheduler_address) as client:
        remote = screen_sites_dask(cand, [], rules, specs, client=client, tiles=10, **kw)
    scores = ["score_resource", "score"]
    pd.testing.assert_frame_equal(
        pd.DataFrame(remote.sites.drop(columns=["geometry", *scores])),
        pd.DataFrame(local.sites.drop(columns=["geometry", *scores])),
    )
    assert local.meta["reasons"][0] == "not_closed"
    assert local.sites["main_reason"].iat[0] == "not_closed"
    warnings = local.meta["totals"]["warnings"]
    assert any("declares no nodata" in w for w in warnings)
    assert any("closed landfill(s) (" in w for w in warnings)
    assert remote.meta == local.meta


def test_sites_scheduler_needs_engine_dask_and_recipe_key(processes, tmp_path):
    res = CliRunner().invoke(
        cli,
        [*SITES, "--tech", "pv", "--out", str(tmp_path / "o"), "--scheduler", "tcp://1.2.3.4:1"],
    )
    assert res.exit_code == 2
    assert "--scheduler is for --engine dask" in res.output
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        f'analysis = "sites"\ncatalog = "{CATALOG.as_posix()}"\nout = "{(tmp_path / "r").as_posix()}"\n'
        '[inputs]\ncandidates = "candidates_demonstration"\n'
        f'[options]\ntech = "wind"\nengine = "dask"\nscheduler = "{processes.scheduler_address}"\n',
        encoding="utf-8",
    )
    res = CliRunner().invoke(cli, ["run", str(recipe)])
    assert res.exit_code == 0, res.output
    local = CliRunner().invoke(cli, [*SITES, "--tech", "wind", "--out", str(tmp_path / "l")])
    assert local.exit_code == 0, local.output
    for name in ("eligible_sites.csv", "eligible_sites.gpkg", "siting.json"):
        assert (tmp_path / "r" / name).read_bytes() == (tmp_path / "l" / name).read_bytes()
