"""The firm screen on a Dask cluster gives the local engine's results: same rows in the same
order, same zones, nearest areas, rules, and distances (to the centimetre: here, equal)."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from sxzones.analyses.firm_zones import screen_firms
from sxzones.cli import cli
from sxzones.layers import load_catalog
from sxzones.rules import load_rules

from .conftest import CATALOG

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
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
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
