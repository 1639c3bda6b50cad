"""Shared fixtures: the working CRS and small files with known answers, written by the tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from pyproj import CRS

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "layers" / "catalog.toml"
WORK = CRS.from_epsg(4546)


def pytest_configure(config: pytest.Config) -> None:
    """The tests' layer cache is their own (not the user's), removed after the session. The
    tests read the XLSX outputs with calamine, the engine sxzones reads spreadsheets with
    (pandas warns that its default will change to it once calamine is installed)."""
    import pandas as pd

    pd.set_option("io.excel.xlsx.reader", "calamine")
    if "SXZONES_CACHE" not in os.environ:
        os.environ["SXZONES_CACHE"] = tempfile.mkdtemp(prefix="sxzones-test-cache-")
        config._sxzones_cache = os.environ["SXZONES_CACHE"]  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = getattr(config, "_sxzones_cache", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("SXZONES_CACHE", None)


@pytest.fixture
def work_crs() -> CRS:
    return WORK


JZD_TWO_PARCELS = """[属性描述]
坐标系=2000国家大地坐标系
几度分带=3
投影类型=高斯克吕格
计量单位=米
带号=38
精度=0.001
[地块坐标]
10,0.9600,P-001,甲地块,面,,工业用地,,@
J1,1,4192000.000,38512000.000
J2,1,4192000.000,38512100.000
J3,1,4192100.000,38512100.000
J4,1,4192100.000,38512000.000
J1,1,4192000.000,38512000.000
J5,2,4192040.000,38512040.000
J6,2,4192040.000,38512060.000
J7,2,4192060.000,38512060.000
J8,2,4192060.000,38512040.000
J5,2,4192040.000,38512040.000
4,2.0000,P-002,乙地块,面,,光伏用地,,@
K1,1,4193000.000,38513000.000
K2,1,4193000.000,38513200.000
K3,1,4193100.000,38513200.000
K4,1,4193100.000,38513000.000
"""


@pytest.fixture
def jzd_file(tmp_path: Path) -> Path:
    """A GBK 界址点 file, zone 38 with zone-prefixed Y: parcel P-001 is a 100 m square with a
    20 m square hole (9,600 m² in the source CRS), P-002 a 200 m x 100 m rectangle (unclosed
    ring, 20,000 m²)."""
    p = tmp_path / "parcels.txt"
    p.write_bytes(JZD_TWO_PARCELS.encode("gbk"))
    return p
