"""A large batch's worker clones share the counties' cell grid (plain arrays) instead of
each building it again, and place counties as the grid they would have built."""

from __future__ import annotations

import numpy as np

from sxzones.analyses.nearest import CellGrid
from sxzones.layers import load_catalog
from sxzones.runs.site_check import site_layers


def test_clones_share_the_parents_county_grid_and_it_equals_their_own():
    layers = site_layers(load_catalog())
    clones = layers.workers(2)
    layers.share_county_grid(clones)
    grid = layers.county_grid()
    assert isinstance(grid, CellGrid)
    assert all(c.index("counties").cell_grid() is grid for c in clones)
    own = CellGrid.of(type(layers)(layers.frames, layers.sources).index("counties"))
    assert own is not None
    assert (own.x0, own.y0, own.size) == (grid.x0, grid.y0, grid.size)
    assert np.array_equal(own.cells, grid.cells)
