"""``site_check.json`` written column by column (:mod:`sxzones.runs.site_json`): the bytes
``json.dumps(..., ensure_ascii=False, indent=2)`` writes for the findings of
:meth:`SiteCheckResult.details`, a NaN among them written ``null``."""

from __future__ import annotations

import hashlib
import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from sxzones.analyses.site_check import SiteCheckResult, check_sites
from sxzones.layers import load_catalog
from sxzones.outputs import _DIGESTS, _identity, _sha256, write_json
from sxzones.rules import load_rules
from sxzones.runs import site_json
from sxzones.runs.site_check import site_layers
from sxzones.runs.site_json import (
    column_texts,
    encode,
    float_texts,
    string_texts,
    write_check_json,
)

from .conftest import CATALOG, WORK
from .test_check_fast import _batch

RULES = load_rules()


@pytest.fixture(scope="module")
def lay():
    return site_layers(load_catalog(CATALOG))


def _no_nan(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


DOC = {"generated_by": "test", "input": {"rows": 3, "nan": float("nan")}, "projects": []}


def _same_bytes(result: SiteCheckResult, tmp_path) -> bytes:
    """The writer's bytes, checked against ``write_json`` of the details (NaN: null)."""
    fast = write_check_json(DOC, result, tmp_path / "fast.json").read_bytes()
    # the digest kept for the manifest (hashed while written) is the file's
    assert _identity(tmp_path / "fast.json") in _DIGESTS
    assert _sha256(tmp_path / "fast.json") == hashlib.sha256(fast).hexdigest()
    ref = {**DOC, "projects": _no_nan(result.details())}
    slow = write_json(ref, tmp_path / "slow.json", overwrite=True).read_bytes()
    assert fast == slow
    return fast


# ---- numbers ------------------------------------------------------------------------------


def _reference(v: float) -> str:
    return repr(round(v, 2)) if math.isfinite(v) else "null"


@settings(max_examples=400, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=40))
def test_float_texts_are_repr_of_round_2(values):
    assert float_texts(np.array(values)).to_pylist() == [_reference(v) for v in values]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-(10**15), 10**15), min_size=1, max_size=40))
def test_float_texts_of_whole_centimetres(cents):
    """Values at whole centimetres (as the check rounds areas and distances), up to 1e13 m
    and beyond: the fast path and Python agree."""
    values = np.round(np.array(cents, dtype=np.float64) / 100.0, 2)
    assert float_texts(values).to_pylist() == [_reference(v) for v in values.tolist()]


def test_float_texts_known_answers():
    values = [0.0, -0.0, 0.004, -0.004, 0.005, 0.015, 2.675, 100.0, 42096.81, 1e13, 1e16,
              1.5e-7, 123456789012.34, -3.1, float("nan"), float("inf"), -float("inf")]  # fmt: skip
    got = float_texts(np.array(values)).to_pylist()
    assert got == [_reference(v) for v in values]
    assert got[:4] == ["0.0", "-0.0", "0.0", "-0.0"] and got[7:9] == ["100.0", "42096.81"]
    assert got[-3:] == ["null"] * 3


# ---- values and columns -------------------------------------------------------------------

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)


@settings(max_examples=400, deadline=None)
@given(_SCALARS)
def test_encode_is_json_dumps(value):
    try:
        str(value).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no writer can write it as UTF-8
        return
    assert encode(value) == json.dumps(value, ensure_ascii=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=20))
def test_string_texts_are_json_dumps(values):
    """Texts of any characters (quotes, backslashes, control characters, line separators)
    quoted by Arrow, or escaped through Python: as json.dumps writes them."""
    try:
        arr = pa.array(values, pa.large_string())
    except (pa.ArrowInvalid, UnicodeEncodeError):  # a lone surrogate: no UTF-8 for it
        return
    assert string_texts(arr).to_pylist() == [json.dumps(v, ensure_ascii=False) for v in values]


def test_encode_non_finite_and_numpy():
    assert [encode(v) for v in (float("nan"), np.float64("inf"), np.int64(7), np.bool_(1))] == [
        "null",
        "null",
        "7",
        "true",
    ]


@pytest.mark.parametrize(
    "series",
    [
        pd.Series(["a", None, "中文", "a", '"q"\n'], dtype="str"),
        pd.Series(["a", None, "中文", "a", float("nan")], dtype=object),
        pd.Series([1, "1", None, 2.5, True], dtype=object),
        pd.Categorical(["x", None, "y", "x"], categories=["y", "x"]),
        pd.Series([1.004, np.nan, 2.0, -0.0]),
        pd.Series([1, 2, 3]),
    ],
)
@pytest.mark.parametrize("rounded", [True, False])
def test_column_texts_equal_each_value_encoded(series, rounded):
    s = pd.Series(series)
    texts = column_texts(s, rounded)
    plain = site_json.plain if rounded else (lambda v: v)
    want = [encode(plain(v)) for v in s.tolist()]
    if s.dtype == np.float64 and not rounded:
        want = [encode(v) for v in s.tolist()]
    assert texts.rows(0, len(s)).to_pylist() == want
    assert texts.rows(1, 3).to_pylist() == want[1:3]


# ---- the document -------------------------------------------------------------------------


def test_batch_json_equals_json_dumps_of_the_details(lay, tmp_path, monkeypatch):
    """1,500 varied projects (points and parcels, in and out of Shanxi, unknown industries
    and kinds, repaired geometries, Chinese ids), in blocks of 7 and in one: the same bytes
    as the details through the standard library."""
    result = check_sites(_batch(1500), lay, RULES, threads=1)
    one = _same_bytes(result, tmp_path)
    monkeypatch.setattr(site_json, "BLOCK", 7)
    assert write_check_json(DOC, result, tmp_path / "b.json").read_bytes() == one
    doc = json.loads(one)
    assert len(doc["projects"]) == 1500 and math.isnan(doc["input"]["nan"])  # as before
    assert {p["verdict"] for p in doc["projects"]} >= {"conflict", "clear", "unassessed"}


def test_threaded_check_json_equals_json_dumps(lay, tmp_path, monkeypatch):
    """A check run in worker threads (its pairs and columns joined from chunks)."""
    from sxzones.analyses import nearest

    monkeypatch.setattr(nearest, "CHUNK", 100)
    monkeypatch.setattr("sxzones.analyses.site_check.CHUNK", 100)
    result = check_sites(_batch(900, seed=3), lay, RULES, threads=3)
    _same_bytes(result, tmp_path)


def test_json_of_projects_touching_nothing_and_without_optional_columns(lay, tmp_path):
    """Projects far outside every layer (no pairs at all), layers without admin and zones
    (no city, county or zone), the pairs of a role out of project order, a NaN name."""
    far = gpd.GeoDataFrame(
        {"project_id": ["far-1", "far-2"], "industry": ["steel", "pv"]},
        geometry=[shapely.Point(0, 0), shapely.box(10, 10, 500, 500)],
        crs=WORK,
    )
    frames = {k: v for k, v in lay.frames.items() if k not in ("admin", "zones")}
    result = check_sites(far, frames, RULES, threads=1)
    assert not any(len(p) for p in result.pairs.values())
    text = _same_bytes(result, tmp_path).decode("utf-8")
    assert '"control_units": [],\n      "redline": [],' in text
    near = check_sites(_batch(300, seed=5), lay, RULES, threads=1)
    cu = near.pairs["control_units"]
    near.pairs["control_units"] = cu.iloc[::-1].reset_index(drop=True)  # found in reverse
    bu = near.table["nearest_builtup"].astype(object)
    near.table["nearest_builtup"] = bu.where(np.arange(len(bu)) % 7 != 0, np.nan)
    _same_bytes(near, tmp_path)


def test_json_of_no_projects(tmp_path):
    empty = SiteCheckResult(
        gpd.GeoDataFrame({"project_id": []}, geometry=[], crs=WORK), {}, None, RULES
    )  # type: ignore[arg-type]
    text = write_check_json(DOC, empty, tmp_path / "e.json").read_text("utf-8")
    assert (
        text
        == json.dumps(
            {**DOC, "input": {"rows": 3, "nan": float("nan")}}, ensure_ascii=False, indent=2
        )
        + "\n"
    )
