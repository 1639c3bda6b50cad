"""Static figures: rendered with a CJK font (a missing glyph warns, and warnings are errors
here), not blank, and the same bytes twice."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from PIL import Image

from sxzones.cli import cli
from sxzones.maps.static import cjk_font


def test_a_cjk_font_is_installed():
    assert "CJK" in cjk_font() or "Hei" in cjk_font() or "SC" in cjk_font()


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    out = tmp_path_factory.mktemp("fig")
    for k in ("a", "b"):
        res = CliRunner().invoke(
            cli,
            [
                "firms",
                "--firms",
                "firms",
                "--builtup",
                "builtup_demonstration",
                "--format",
                "csv",
                "--out",
                str(out / k),
                "--figure",
                str(out / f"{k}.png"),
            ],
        )
        assert res.exit_code == 0, res.output
    return out


def test_figure_png_and_pdf_written_and_not_blank(figures):
    img = Image.open(io.BytesIO((figures / "a.png").read_bytes())).convert("RGB")
    assert img.size == (1200, 1350)
    colours = img.getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50
    assert (figures / "a.pdf").read_bytes().startswith(b"%PDF")


def test_figures_are_deterministic(figures):
    assert (figures / "a.png").read_bytes() == (figures / "b.png").read_bytes()
    assert (figures / "a.pdf").read_bytes() == (figures / "b.pdf").read_bytes()


@pytest.mark.parametrize(
    "args",
    [
        ["sites", "--candidates", "candidates_demonstration", "--tech", "wind"],
        [
            "check",
            "--projects",
            "analyses/examples/projects_demonstration.csv",
            "--crs",
            "wgs84",
        ],
    ],
    ids=["siting", "site-check"],
)
def test_siting_and_site_check_figures(tmp_path, args, monkeypatch):
    from .conftest import ROOT

    monkeypatch.chdir(ROOT)
    pngs = []
    for k in ("a", "b"):
        res = CliRunner().invoke(
            cli, [*args, "--out", str(tmp_path / k), "--figure", str(tmp_path / f"{k}.png")]
        )
        assert res.exit_code == 0, res.output
        pngs.append((tmp_path / f"{k}.png").read_bytes())
    img = Image.open(io.BytesIO(pngs[0])).convert("RGB")
    colours = img.getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")
    assert pngs[0] == pngs[1]
