"""``site_check.json`` keeps the notes of reading the projects file (``input.findings``):
the rejected rows with their reasons and the blank cells a value given for every project
filled, the same messages the summary prints."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from sxzones.cli import cli

#: Row 3 has no coordinates (rejected); row 4's 建设性质 is blank (filled by --kind 扩建).
PROJECTS = (
    "项目编号,行业,建设性质,经度,纬度\n"
    "A1,焦化,扩建,112.484,38.06\n"
    "A2,焦化,扩建,,\n"
    "A3,焦化,,112.50,38.07\n"
)


def test_rejected_row_and_filled_blank_in_the_json(tmp_path: Path) -> None:
    src = tmp_path / "p.csv"
    src.write_text(PROJECTS, encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli,
        ["check", "--projects", str(src), "--crs", "cgcs2000", "--kind", "扩建", "--out", str(out)],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "site_check.json").read_text(encoding="utf-8"))
    head = doc["input"]
    assert list(head)[:3] == ["rows", "checked", "rejected"]  # the counts first, as before
    assert (head["rows"], head["checked"], head["rejected"]) == (3, 2, 1)
    by_code = {f["code"]: f for f in head["findings"]}
    rejected = by_code["empty_geometry"]
    assert rejected == {
        "kind": "rejected",
        "code": "empty_geometry",
        "message": "coordinates missing or not numbers",
        "rows": [3],
        "word": "row",
        "field": "经度/纬度",
        "fix": "fill in the coordinates or remove the row",
    }
    filled = by_code["kind_given_blank"]
    assert filled == {
        "kind": "note",
        "code": "kind_given_blank",
        "message": "the kind 扩建 expansion given for every project (--kind, a recipe's kind or "
        "the page's 项目类型) fills 1 blank 建设性质 cell: checked as 扩建 expansion; the other "
        "2 row(s) give it themselves",
        "rows": [4],
        "word": "row",
        "field": "建设性质",
        "fix": "where such a project's kind is not 扩建 expansion, fill in its 建设性质",
    }
    for f in (rejected, filled):  # the same messages as the summary printed
        assert f"{f['kind']}: {f['message']} [field {f['field']}]" in res.output
    assert [k for k in doc][-1] == "projects"
    assert len(doc["projects"]) == 2
